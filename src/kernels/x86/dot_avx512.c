/* dot_avx512.c — AVX-512 dot products for the float types (F32, F16, BF16), each with the bits
 * of its AVX2 twin in dot_avx2.c: AVX2's four 8-lane accumulators are kept as two 16-lane ones
 * (accumulators 0|1 and 2|3), so every lane sees the same products in the same order with half
 * the instructions; the tails and the final sum are AVX2's.  No integer products here, so no
 * VNNI twin: the avx512vnni table uses these. */
#include "kernels/kernels_impl.h"
#include "kernels/x86/avx2_util.h"
#include "kernels/x86/avx512_util.h"

/* The AVX2 kernels' epilogue: 8-element steps into accumulator 0, the four summed pairwise,
 * then the scalar tail (the caller's, in its own element type). */
#define AVX512_FLOAT_DOT(NAME, ELEM, LOAD16, LOAD8, SCALAR)                                                            \
    void K512(NAME)(int64_t n, float *s, const void *w, const void *a) {                                               \
        const ELEM *x = w, *y = a;                                                                                     \
        __m512      a01 = _mm512_setzero_ps(), a23 = _mm512_setzero_ps();                                            \
        int64_t     i   = 0;                                                                                           \
        for (; i + 32 <= n; i += 32) {                                                                                 \
            a01 = _mm512_fmadd_ps(LOAD16(x + i), LOAD16(y + i), a01);                                                  \
            a23 = _mm512_fmadd_ps(LOAD16(x + i + 16), LOAD16(y + i + 16), a23);                                        \
        }                                                                                                              \
        __m256 acc0 = avx512_lo_ps(a01);                                                                               \
        for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(LOAD8(x + i), LOAD8(y + i), acc0);                           \
        float sum = avx2_hsum_ps(_mm256_add_ps(_mm256_add_ps(acc0, avx512_hi_ps(a01)),                                 \
                                               _mm256_add_ps(avx512_lo_ps(a23), avx512_hi_ps(a23))));                  \
        for (; i < n; i++) sum += SCALAR(x[i]) * SCALAR(y[i]);                                                         \
        *s = sum;                                                                                                      \
    }

#define F32_16(p)   _mm512_loadu_ps(p)
#define F32_8(p)    _mm256_loadu_ps(p)
#define F32_1(v)    (v)
AVX512_FLOAT_DOT(vec_dot_f32, float, F32_16, F32_8, F32_1)

#define F16_16(p) _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(p)))
#define F16_8(p)  _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p)))
AVX512_FLOAT_DOT(vec_dot_f16, uint16_t, F16_16, F16_8, avx2_half)

static inline __m512 bf16x16(const uint16_t *p) {
    const __m512i v = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)p));
    return _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
}
static inline __m256 bf16x8_(const uint16_t *p) {
    const __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}
AVX512_FLOAT_DOT(vec_dot_bf16, uint16_t, bf16x16, bf16x8_, hearth_bf16_to_fp32)
