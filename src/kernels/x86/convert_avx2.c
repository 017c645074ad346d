/* convert_avx2.c — AVX2/F16C conversions: fp16 rows, Q4_0/Q8_0 dequantization, and the
 * activation quantizers.  Q8_0/Q8_1 follow llama.cpp's x86 SIMD quantizer (id = 127/amax,
 * round half to even), which is what llama.cpp runs on these CPUs; the scalar reference
 * follows its _ref quantizer (1/d, round half away from zero): the two can differ by one in
 * a quant at exact ties.  Q8_K is bit-identical to the reference (llama.cpp uses its _ref
 * quantizer on x86 too).  Tails fall back to the scalar code. */
#include "kernels/kernels_impl.h"
#include "kernels/x86/avx2_util.h"

void hearth_avx2_to_float_f16(const void *vx, float *y, int64_t n) {
    const uint16_t *x = vx;
    int64_t         i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i))));
    for (; i < n; i++) y[i] = avx2_half(x[i]);
}

void hearth_avx2_from_float_f16(const float *x, void *vy, int64_t n) {
    uint16_t *y = vy;
    int64_t   i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(y + i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++) y[i] = hearth_fp32_to_fp16(x[i]);
}

void hearth_avx2_to_float_q4_0(const void *vx, float *y, int64_t n) {
    const block_q4_0 *x   = vx;
    const __m256i     off = _mm256_set1_epi8(8);
    for (int64_t i = 0; i < n / HEARTH_QK4_0; i++, y += HEARTH_QK4_0) {
        const __m256  d = _mm256_set1_ps(avx2_half(x[i].d));
        const __m256i q = _mm256_sub_epi8(avx2_nibbles32(x[i].qs), off);
        for (int k = 0; k < 4; k++) {
            const __m128i b = _mm_loadl_epi64((const __m128i *)((const int8_t *)&q + 8 * k));
            _mm256_storeu_ps(y + 8 * k, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b)), d));
        }
    }
}

void hearth_avx2_to_float_q8_0(const void *vx, float *y, int64_t n) {
    const block_q8_0 *x = vx;
    for (int64_t i = 0; i < n / HEARTH_QK8_0; i++, y += HEARTH_QK8_0) {
        const __m256 d = _mm256_set1_ps(avx2_half(x[i].d));
        for (int k = 0; k < 4; k++) {
            const __m128i b = _mm_loadl_epi64((const __m128i *)(x[i].qs + 8 * k));
            _mm256_storeu_ps(y + 8 * k, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b)), d));
        }
    }
}

static inline float hmax_ps(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m        = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m        = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

/* 32 floats times `mul`, rounded half to even, saturated to int8, stored in order; returns
 * the four int32 vectors' sum (for Q8_1's s). */
static inline __m256i round_store32(const __m256 v[4], __m256 mul, int8_t *out) {
    __m256i i[4];
    for (int k = 0; k < 4; k++)
        i[k] = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v[k], mul), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    const __m256i sum = _mm256_add_epi32(_mm256_add_epi32(i[0], i[1]), _mm256_add_epi32(i[2], i[3]));
    __m256i       p   = _mm256_packs_epi16(_mm256_packs_epi32(i[0], i[1]), _mm256_packs_epi32(i[2], i[3]));
    p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256((__m256i *)out, p);
    return sum;
}

static inline float load_absmax32(const float *x, __m256 v[4]) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256       m    = _mm256_setzero_ps();
    for (int k = 0; k < 4; k++) {
        v[k] = _mm256_loadu_ps(x + 8 * k);
        m    = _mm256_max_ps(m, _mm256_andnot_ps(sign, v[k]));
    }
    return hmax_ps(m);
}

void hearth_avx2_from_float_q8_0(const float *x, void *vy, int64_t n) {
    block_q8_0 *y = vy;
    for (int64_t i = 0; i < n / HEARTH_QK8_0; i++, x += HEARTH_QK8_0) {
        __m256      v[4];
        const float amax = load_absmax32(x, v);
        const float d    = amax / 127.f;
        const float id   = amax != 0.0f ? 127.f / amax : 0.0f;
        y[i].d           = (uint16_t)_cvtss_sh(d, 0);
        round_store32(v, _mm256_set1_ps(id), y[i].qs);
    }
}

void hearth_avx2_from_float_q8_1(const float *x, void *vy, int64_t n) {
    block_q8_1 *y = vy;
    for (int64_t i = 0; i < n / HEARTH_QK8_1; i++, x += HEARTH_QK8_1) {
        __m256      v[4];
        const float amax = load_absmax32(x, v);
        const float d    = amax / 127.f;
        const float id   = amax != 0.0f ? 127.f / amax : 0.0f;
        y[i].d           = (uint16_t)_cvtss_sh(d, 0);
        const int sum    = avx2_hsum_epi32(round_store32(v, _mm256_set1_ps(id), y[i].qs));
        y[i].s           = (uint16_t)_cvtss_sh(d * (float)sum, 0);
    }
}

void hearth_avx2_from_float_q8_K(const float *x, void *vy, int64_t n) {
    block_q8_K  *y    = vy;
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int64_t i = 0; i < n / HEARTH_QK_K; i++, x += HEARTH_QK_K) {
        __m256 m = _mm256_setzero_ps();
        for (int k = 0; k < HEARTH_QK_K; k += 8) m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + k)));
        const float amax = hmax_ps(m);
        if (!(amax > 0.0f)) {
            /* all zero (or NaN): the reference path decides */
            hearth_ref_from_float_q8_K(x, &y[i], HEARTH_QK_K);
            continue;
        }
        /* the first element of largest magnitude gives the sign, as in the reference */
        const __m256 am  = _mm256_set1_ps(amax);
        float        max = 0;
        for (int k = 0; k < HEARTH_QK_K; k += 8) {
            const int hit = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(x + k)), am, _CMP_EQ_OQ));
            if (hit) {
                max = x[k + __builtin_ctz((unsigned)hit)];
                break;
            }
        }
        const float  iscale = -127.f / max;
        const __m256 mul    = _mm256_set1_ps(iscale);
        for (int k = 0; k < HEARTH_QK_K; k += 32) {
            __m256 v[4];
            for (int j = 0; j < 4; j++) v[j] = _mm256_loadu_ps(x + k + 8 * j);
            round_store32(v, mul, y[i].qs + k);
        }
        /* +128 cannot happen: min(127, v) in the reference; packs saturate to 127 the same way */
        for (int g = 0; g < HEARTH_QK_K / 16; g++) {
            int s = 0;
            for (int l = 0; l < 16; l++) s += y[i].qs[16 * g + l];
            y[i].bsums[g] = (int16_t)s;
        }
        y[i].d = 1 / iscale;
    }
}
