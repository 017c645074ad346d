/* dot_avx2.c — AVX2+FMA dot products for the float types (F32, F16, BF16): results differ from
 * the scalar reference only in the order the products are summed. */
#include "kernels/kernels_impl.h"
#include "kernels/x86/avx2_util.h"

void hearth_avx2_vec_dot_f32(int64_t n, float *s, const void *w, const void *a) {
    const float *x = w, *y = a;
    __m256       acc[4] = { _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps() };
    int64_t      i      = 0;
    for (; i + 32 <= n; i += 32)
        for (int k = 0; k < 4; k++)
            acc[k] = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8 * k), _mm256_loadu_ps(y + i + 8 * k), acc[k]);
    for (; i + 8 <= n; i += 8) acc[0] = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), acc[0]);
    float sum = avx2_hsum_ps(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
    for (; i < n; i++) sum += x[i] * y[i];
    *s = sum;
}

void hearth_avx2_vec_dot_f16(int64_t n, float *s, const void *w, const void *a) {
    const uint16_t *x = w, *y = a;
    __m256          acc[4] = { _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps() };
    int64_t         i      = 0;
#define LDH(p) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p)))
    for (; i + 32 <= n; i += 32)
        for (int k = 0; k < 4; k++) acc[k] = _mm256_fmadd_ps(LDH(x + i + 8 * k), LDH(y + i + 8 * k), acc[k]);
    for (; i + 8 <= n; i += 8) acc[0] = _mm256_fmadd_ps(LDH(x + i), LDH(y + i), acc[0]);
#undef LDH
    float sum = avx2_hsum_ps(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
    for (; i < n; i++) sum += avx2_half(x[i]) * avx2_half(y[i]);
    *s = sum;
}

/* F16 rows times F16 activation rows, each (row, token) summed exactly as
 * hearth_avx2_vec_dot_f16 does (4 accumulators over 32-element steps, the 8-element tail into
 * the first, the scalar tail last), so the bits are the same.  The activations are widened
 * to F32 once per column chunk and reused for up to F16_ROWS weight rows, instead of once per
 * row: per 32 weights a row then costs 4 conversions instead of 8.
 * One token (f16_rows) takes chunks of F16_CHUNK1 columns, whole rows up to 8192 columns, so
 * the rows are read front to back, one after the other: a tile's rows are adjacent in memory,
 * and chunks of 1024 columns (2 KiB runs of each of 16 rows in turn) kept the hardware
 * prefetcher from following them (8192 x 2048 GEMV, CPU time, 1 thread: 10 -> 17 GB/s).
 * Past F16_SEQ_MAX columns the widened activations (32 KiB at 8192) no longer stay in L1
 * beside the streamed weights, and reading them back from L2 for every row is what limits:
 * there 4 rows run together, each weight vector's activation loaded once for the 4 (4096 x
 * 8192 GEMV: 9-11 -> 15-17 GB/s; at 2048 columns 4 rows together are slower, 14-16 GB/s). */
#define F16_CHUNK   1024
#define F16_CHUNK1  8192
#define F16_SEQ_MAX 4096
#define F16_ROWS    16
static void f16_rows(int64_t n, float *s, const uint16_t *w, size_t ws, int64_t nr, const uint16_t *y) {
    _Alignas(32) float yf[F16_CHUNK1];
    __m256             acc[F16_ROWS][4];
    const int64_t      n32 = n & ~(int64_t)31;
    for (int64_t r = 0; r < nr; r++)
        for (int k = 0; k < 4; k++) acc[r][k] = _mm256_setzero_ps();
    for (int64_t c0 = 0; c0 < n32; c0 += F16_CHUNK1) {
        const int64_t len = n32 - c0 < F16_CHUNK1 ? n32 - c0 : F16_CHUNK1;
        for (int64_t i = 0; i < len; i += 8)
            _mm256_store_ps(yf + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(y + c0 + i))));
        int64_t r = 0;
        if (len > F16_SEQ_MAX)
            for (; r + 4 <= nr; r += 4) {
                const uint16_t *x[4];
                __m256          c[4][4];
#pragma GCC unroll 4
                for (int g = 0; g < 4; g++) {
                    x[g] = (const uint16_t *)((const uint8_t *)w + (size_t)(r + g) * ws) + c0;
#pragma GCC unroll 4
                    for (int k = 0; k < 4; k++) c[g][k] = acc[r + g][k];
                }
                for (int64_t i = 0; i < len; i += 32) {
#pragma GCC unroll 4
                    for (int k = 0; k < 4; k++) {
                        const __m256 yv = _mm256_load_ps(yf + i + 8 * k);
#pragma GCC unroll 4
                        for (int g = 0; g < 4; g++)
                            c[g][k] = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x[g] + i + 8 * k))),
                                                      yv, c[g][k]);
                    }
                }
#pragma GCC unroll 4
                for (int g = 0; g < 4; g++)
#pragma GCC unroll 4
                    for (int k = 0; k < 4; k++) acc[r + g][k] = c[g][k];
            }
        for (; r < nr; r++) {
            const uint16_t *x  = (const uint16_t *)((const uint8_t *)w + (size_t)r * ws) + c0;
            __m256          a0 = acc[r][0], a1 = acc[r][1], a2 = acc[r][2], a3 = acc[r][3];
            for (int64_t i = 0; i < len; i += 32) {
                a0 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i))), _mm256_load_ps(yf + i), a0);
                a1 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i + 8))), _mm256_load_ps(yf + i + 8), a1);
                a2 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i + 16))), _mm256_load_ps(yf + i + 16), a2);
                a3 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i + 24))), _mm256_load_ps(yf + i + 24), a3);
            }
            acc[r][0] = a0;
            acc[r][1] = a1;
            acc[r][2] = a2;
            acc[r][3] = a3;
        }
    }
    for (int64_t r = 0; r < nr; r++) {
        const uint16_t *x = (const uint16_t *)((const uint8_t *)w + (size_t)r * ws);
        int64_t         i = n32;
        for (; i + 8 <= n; i += 8)
            acc[r][0] = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i))),
                                        _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(y + i))), acc[r][0]);
        float sum = avx2_hsum_ps(_mm256_add_ps(_mm256_add_ps(acc[r][0], acc[r][1]), _mm256_add_ps(acc[r][2], acc[r][3])));
        for (; i < n; i++) sum += avx2_half(x[i]) * avx2_half(y[i]);
        s[r] = sum;
    }
}

/* T (2 or 3) tokens against up to F16_ROWS rows (prefill): each weight vector is widened once
 * and used for the T tokens; every (row, token) keeps its own 4 accumulators in the order of
 * vec_dot_f16, so the bits are those of f16_rows / vec_dot_f16. */
static inline __attribute__((always_inline)) void f16_rows_tok(const int T, int64_t n, float *s, size_t ss,
                                                               const uint16_t *w, size_t ws, int64_t nr,
                                                               const uint8_t *a, size_t as) {
    _Alignas(32) float yf[3][F16_CHUNK];
    __m256             acc[F16_ROWS][3][4];
    const int64_t      n32 = n & ~(int64_t)31;
    for (int64_t r = 0; r < nr; r++)
        for (int t = 0; t < T; t++)
            for (int k = 0; k < 4; k++) acc[r][t][k] = _mm256_setzero_ps();
    for (int64_t c0 = 0; c0 < n32; c0 += F16_CHUNK) {
        const int64_t len = n32 - c0 < F16_CHUNK ? n32 - c0 : F16_CHUNK;
        for (int t = 0; t < T; t++) {
            const uint16_t *y = (const uint16_t *)(a + (size_t)t * as);
            for (int64_t i = 0; i < len; i += 8)
                _mm256_store_ps(yf[t] + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(y + c0 + i))));
        }
        for (int64_t r = 0; r < nr; r++) {
            const uint16_t *x = (const uint16_t *)((const uint8_t *)w + (size_t)r * ws) + c0;
            __m256          c[3][4];
#pragma GCC unroll 3
            for (int t = 0; t < T; t++)
#pragma GCC unroll 4
                for (int k = 0; k < 4; k++) c[t][k] = acc[r][t][k];
            for (int64_t i = 0; i < len; i += 32) {
#pragma GCC unroll 4
                for (int k = 0; k < 4; k++) {
                    const __m256 wv = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i + 8 * k)));
#pragma GCC unroll 3
                    for (int t = 0; t < T; t++) c[t][k] = _mm256_fmadd_ps(wv, _mm256_load_ps(yf[t] + i + 8 * k), c[t][k]);
                }
            }
#pragma GCC unroll 3
            for (int t = 0; t < T; t++)
#pragma GCC unroll 4
                for (int k = 0; k < 4; k++) acc[r][t][k] = c[t][k];
        }
    }
    for (int64_t r = 0; r < nr; r++) {
        const uint16_t *x = (const uint16_t *)((const uint8_t *)w + (size_t)r * ws);
        for (int t = 0; t < T; t++) {
            const uint16_t *y = (const uint16_t *)(a + (size_t)t * as);
            int64_t         i = n32;
            for (; i + 8 <= n; i += 8)
                acc[r][t][0] = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i))),
                                               _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(y + i))), acc[r][t][0]);
            float sum = avx2_hsum_ps(_mm256_add_ps(_mm256_add_ps(acc[r][t][0], acc[r][t][1]),
                                                   _mm256_add_ps(acc[r][t][2], acc[r][t][3])));
            for (; i < n; i++) sum += avx2_half(x[i]) * avx2_half(y[i]);
            s[(size_t)t * ss + r] = sum;
        }
    }
}

/* Tile kernel of F16 (see kernels_impl.h): tokens in groups of 3 (then 2, 1) against the rows
 * in groups of F16_ROWS. */
void hearth_avx2_gemm_f16(int64_t n, float *s, size_t ss, const void *w, size_t ws, int64_t nr, const void *a,
                          size_t as, int64_t nc) {
    const uint8_t *A = a;
    for (int64_t r = 0; r < nr; r += F16_ROWS) {
        const int64_t   rn = nr - r < F16_ROWS ? nr - r : F16_ROWS;
        const uint16_t *wr = (const uint16_t *)((const uint8_t *)w + (size_t)r * ws);
        int64_t         c  = 0;
        for (; c + 3 <= nc; c += 3) f16_rows_tok(3, n, s + c * ss + r, ss, wr, ws, rn, A + (size_t)c * as, as);
        if (nc - c == 2) f16_rows_tok(2, n, s + c * ss + r, ss, wr, ws, rn, A + (size_t)c * as, as);
        else if (nc - c == 1) f16_rows(n, s + c * ss + r, wr, ws, rn, (const uint16_t *)(A + (size_t)c * as));
    }
}

static inline __m256 bf16x8(const uint16_t *p) {
    const __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}

void hearth_avx2_vec_dot_bf16(int64_t n, float *s, const void *w, const void *a) {
    const uint16_t *x = w, *y = a;
    __m256          acc[4] = { _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps() };
    int64_t         i      = 0;
    for (; i + 32 <= n; i += 32)
        for (int k = 0; k < 4; k++) acc[k] = _mm256_fmadd_ps(bf16x8(x + i + 8 * k), bf16x8(y + i + 8 * k), acc[k]);
    for (; i + 8 <= n; i += 8) acc[0] = _mm256_fmadd_ps(bf16x8(x + i), bf16x8(y + i), acc[0]);
    float sum = avx2_hsum_ps(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
    for (; i < n; i++) sum += hearth_bf16_to_fp32(x[i]) * hearth_bf16_to_fp32(y[i]);
    *s = sum;
}

/* The 32-element block types (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0) are in gemm_avx2.c: their single-row
 * dot product is the 1 x 1 tile of the multi-row kernel. */
