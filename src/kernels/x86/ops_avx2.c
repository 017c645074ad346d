/* ops_avx2.c — AVX2/F16C versions of the F16 operations of ops.c (the KV cache side of
 * attention).  Conversions are exact (F16C rounds to nearest even, as ops.c does); the
 * axpy does the same multiply-then-add per element as ops.c; the dot product sums in the
 * order of the reference engine's AVX2 F16 dot (four 8-lane FMA accumulators over steps of
 * 32, reduced pairwise, the tail in double), where ops.c sums one element at a time. */
#include "kernels/kernels_impl.h"
#include "kernels/x86/avx2_util.h"

#define LDH(p) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p)))

void hearth_avx2_ops_f32_to_f16(const float *x, uint16_t *y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(y + i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++) y[i] = (uint16_t)_cvtss_sh(x[i], _MM_FROUND_TO_NEAREST_INT);
}

void hearth_avx2_ops_f16_to_f32(const uint16_t *x, float *y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, LDH(x + i));
    for (; i < n; i++) y[i] = avx2_half(x[i]);
}

void hearth_avx2_ops_round_f16(const float *x, float *y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT)));
    for (; i < n; i++) y[i] = avx2_half((uint16_t)_cvtss_sh(x[i], _MM_FROUND_TO_NEAREST_INT));
}

float hearth_avx2_ops_dot_f16(const float *a, const uint16_t *b, int64_t n) {
    __m256        acc[4] = { _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps() };
    const int64_t np     = n & ~(int64_t)31;
    for (int64_t i = 0; i < np; i += 32)
        for (int k = 0; k < 4; k++) acc[k] = _mm256_fmadd_ps(LDH(b + i + 8 * k), _mm256_loadu_ps(a + i + 8 * k), acc[k]);
    acc[0]          = _mm256_add_ps(acc[0], acc[2]);
    acc[1]          = _mm256_add_ps(acc[1], acc[3]);
    acc[0]          = _mm256_add_ps(acc[0], acc[1]);
    const __m128 t0 = _mm_add_ps(_mm256_castps256_ps128(acc[0]), _mm256_extractf128_ps(acc[0], 1));
    const __m128 t1 = _mm_hadd_ps(t0, t0);
    double       s  = (double)_mm_cvtss_f32(_mm_hadd_ps(t1, t1));
    for (int64_t i = np; i < n; i++) s += (double)(a[i] * avx2_half(b[i]));
    return (float)s;
}

void hearth_avx2_ops_axpy_f16(float *y, float s, const uint16_t *x, int64_t n) {
    const __m256 vs = _mm256_set1_ps(s);
    int64_t      i  = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(y + i), _mm256_mul_ps(vs, LDH(x + i))));
    for (; i < n; i++) y[i] += s * avx2_half(x[i]);
}
