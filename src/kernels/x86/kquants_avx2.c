/* kquants_avx2.c — AVX2+FMA dot products of the K-quants (Q2_K..Q6_K) with Q8_K activations.
 * Each block's integer dot products are exact (unsigned quants times signed activations with
 * maddubs, per-group scales with madd); offsets (Q3_K's -4, Q6_K's -32) and mins are applied
 * through the activations' per-16 sums (bsums).  Only the order of the float accumulation
 * differs from the scalar reference. */
#include "kernels/kernels_impl.h"
#include "kernels/x86/avx2_util.h"

#include <math.h>

/* Q5_K's and Q3_K's scales are unpacked in registers, four at a time from 32-bit words (before:
 * byte by byte through a small array read back as a vector; vec_dot per super-block, 2048
 * columns, in cache: Q5_K 26.2 -> 18.5 ns, Q3_K 31.2 -> 23.1 ns; Q6_K's is 8.6). */

/* 16 int16 lanes: lanes 0..7 = a, lanes 8..15 = b (the scales of two groups of 16). */
static inline __m256i scale_pair(int a, int b) {
    return _mm256_set_m128i(_mm_set1_epi16((short)b), _mm_set1_epi16((short)a));
}

/* dup: 8 int16 scales, the same in both 128-bit halves.  16 int16 lanes: lanes 0..7 = scale a,
 * 8..15 = scale b (the scales of two groups of 16); one shuffle. */
static inline __m256i scale_pair_v(__m256i dup, const int a, const int b) {
    return _mm256_shuffle_epi8(dup, _mm256_set_m128i(_mm_set1_epi16((short)(2 * b | (2 * b + 1) << 8)),
                                                     _mm_set1_epi16((short)(2 * a | (2 * a + 1) << 8))));
}

/* The 16 int8 scales of sc as int16, 8 at a time in both halves: d[0] scales 0..7, d[1] 8..15. */
static inline void scales_dup(__m128i sc, const int is_signed, __m256i d[2]) {
    const __m128i hi = _mm_unpackhi_epi64(sc, sc);
    d[0] = _mm256_broadcastsi128_si256(is_signed ? _mm_cvtepi8_epi16(sc) : _mm_cvtepu8_epi16(sc));
    d[1] = _mm256_broadcastsi128_si256(is_signed ? _mm_cvtepi8_epi16(hi) : _mm_cvtepu8_epi16(hi));
}

/* sum_g bsums[g] * c[g] over the 16 groups, c given as 16 int8 (signed) in a register. */
static inline int bsums_dot16(const int16_t *bsums, __m128i c) {
    const __m256i b = _mm256_loadu_si256((const __m256i *)bsums);
    return avx2_hsum_epi32(_mm256_madd_epi16(b, _mm256_cvtepi8_epi16(c)));
}

/* The reference's tiled K-quant matmul (8 or more tokens, see hearth_kernels_batch) per
 * super-block: the exact integer sums s1 (scales x quants x activations) and s2 (mins x bsums),
 * res = fma(-dmin, s2, d * s1) (d * s1 alone without mins), acc = fma(res, d(a), acc). */
static inline float tiled_step(float acc, float d, float dmin, int s1, int s2, float dy) {
    return fmaf(fmaf(-dmin, (float)s2, d * (float)s1), dy, acc);
}

static inline __attribute__((always_inline)) void q2k_dot(int64_t n, float *s, const void *w, const void *a,
                                                          const int tiled) {
    const block_q2_K *x  = w;
    const block_q8_K *y  = a;
    const int64_t     nb = n / HEARTH_QK_K;
    const __m256i     m3 = _mm256_set1_epi8(3);
    __m256            acc = _mm256_setzero_ps();
    float             mins = 0, tacc = 0;
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *sc = x[i].scales;
        int8_t         mn[16];
        for (int g = 0; g < 16; g++) mn[g] = (int8_t)(sc[g] >> 4);
        const float dall = y[i].d * avx2_half(x[i].d);
        const float dmin = y[i].d * avx2_half(x[i].dmin);
        const int   imin = bsums_dot16(y[i].bsums, _mm_loadu_si128((const __m128i *)mn));
        if (!tiled) mins += dmin * (float)imin;
        __m256i        sumi = _mm256_setzero_si256();
        const int8_t  *q8   = y[i].qs;
        for (int k = 0; k < 2; k++) {
            const __m256i q2 = _mm256_loadu_si256((const __m256i *)(x[i].qs + 32 * k));
            for (int j = 0; j < 4; j++) {
                const __m256i q  = _mm256_and_si256(_mm256_srli_epi16(q2, 2 * j), m3);
                const __m256i p  = _mm256_maddubs_epi16(q, _mm256_loadu_si256((const __m256i *)q8));
                const int     is = 8 * k + 2 * j;
                sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p, scale_pair(sc[is] & 0xF, sc[is + 1] & 0xF)));
                q8 += 32;
            }
        }
        if (tiled) tacc = tiled_step(tacc, avx2_half(x[i].d), avx2_half(x[i].dmin), avx2_hsum_epi32(sumi), imin, y[i].d);
        else acc = _mm256_fmadd_ps(_mm256_set1_ps(dall), _mm256_cvtepi32_ps(sumi), acc);
    }
    *s = tiled ? tacc : avx2_hsum_ps(acc) - mins;
}

void hearth_avx2_vec_dot_q2_K(int64_t n, float *s, const void *w, const void *a) { q2k_dot(n, s, w, a, 0); }
void hearth_avx2_vec_dot_q2_K_tiled(int64_t n, float *s, const void *w, const void *a) { q2k_dot(n, s, w, a, 1); }

/* hearth_q3_K_scales in a register (bytes 0..15: the 16 scales, biased by 32). */
static inline __m128i q3k_scales_v(const uint8_t *packed) {
    const uint32_t kmask1 = 0x03030303, kmask2 = 0x0f0f0f0f;
    uint32_t       a[3];
    memcpy(a, packed, 12);
    return _mm_set_epi32((int)(((a[1] >> 4) & kmask2) | (((a[2] >> 6) & kmask1) << 4)),
                         (int)(((a[0] >> 4) & kmask2) | (((a[2] >> 4) & kmask1) << 4)),
                         (int)((a[1] & kmask2) | (((a[2] >> 2) & kmask1) << 4)),
                         (int)((a[0] & kmask2) | ((a[2] & kmask1) << 4)));
}

static inline __attribute__((always_inline)) void q3k_dot(int64_t n, float *s, const void *w, const void *a,
                                                          const int tiled) {
    const block_q3_K *x  = w;
    const block_q8_K *y  = a;
    const int64_t     nb = n / HEARTH_QK_K;
    const __m256i     m3 = _mm256_set1_epi8(3), m1 = _mm256_set1_epi8(1);
    __m256            acc  = _mm256_setzero_ps();
    float             tacc = 0;
    for (int64_t i = 0; i < nb; i++) {
        const __m128i sc = _mm_sub_epi8(q3k_scales_v(x[i].scales), _mm_set1_epi8(32));
        __m256i       sd[2];
        scales_dup(sc, 1, sd);
        /* (q - 4) * q8 summed = q * q8 summed - 4 * bsums */
        const int      corr = 4 * bsums_dot16(y[i].bsums, sc);
        const __m256i  hm   = _mm256_loadu_si256((const __m256i *)x[i].hmask);
        __m256i        sumi = _mm256_setzero_si256();
        const int8_t  *q8   = y[i].qs;
        for (int k = 0; k < 2; k++) {
            const __m256i q3 = _mm256_loadu_si256((const __m256i *)(x[i].qs + 32 * k));
            for (int j = 0; j < 4; j++) {
                const __m256i lo = _mm256_and_si256(_mm256_srli_epi16(q3, 2 * j), m3);
                const __m256i hb = _mm256_and_si256(_mm256_srli_epi16(hm, 4 * k + j), m1);
                const __m256i q  = _mm256_or_si256(lo, _mm256_slli_epi16(hb, 2));
                const __m256i p  = _mm256_maddubs_epi16(q, _mm256_loadu_si256((const __m256i *)q8));
                sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p, scale_pair_v(sd[k], 2 * j, 2 * j + 1)));
                q8 += 32;
            }
        }
        const float d = avx2_half(x[i].d) * y[i].d;
        sumi          = _mm256_sub_epi32(sumi, _mm256_setr_epi32(corr, 0, 0, 0, 0, 0, 0, 0));
        if (tiled) tacc = fmaf(avx2_half(x[i].d) * (float)avx2_hsum_epi32(sumi), y[i].d, tacc);
        else acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    *s = tiled ? tacc : avx2_hsum_ps(acc);
}

void hearth_avx2_vec_dot_q3_K(int64_t n, float *s, const void *w, const void *a) { q3k_dot(n, s, w, a, 0); }
void hearth_avx2_vec_dot_q3_K_tiled(int64_t n, float *s, const void *w, const void *a) { q3k_dot(n, s, w, a, 1); }

/* The 8 scales (bytes 0..7) and 8 mins (bytes 8..15) of a Q4_K/Q5_K block in a register
 * (hearth_get_scale_min_k4 for j = 0..7, four at a time). */
static inline __m128i k4_scales_v(const uint8_t *packed) {
    const uint32_t m1 = 0x3f3f3f3f, m2 = 0x0f0f0f0f, m3 = 0x03030303;
    uint32_t       u[3];
    memcpy(u, packed, 12);
    return _mm_set_epi32((int)(((u[2] >> 4) & m2) | (((u[1] >> 6) & m3) << 4)), (int)(u[1] & m1),
                         (int)((u[2] & m2) | (((u[0] >> 6) & m3) << 4)), (int)(u[0] & m1));
}

static inline __attribute__((always_inline)) void q5k_dot(int64_t n, float *s, const void *w, const void *a,
                                                          const int tiled) {
    const block_q5_K *x  = w;
    const block_q8_K *y  = a;
    const int64_t     nb = n / HEARTH_QK_K;
    const __m256i     m4 = _mm256_set1_epi8(0x0F), m1 = _mm256_set1_epi8(1);
    __m256            acc  = _mm256_setzero_ps();
    float             mins = 0, tacc = 0;
    for (int64_t i = 0; i < nb; i++) {
        const __m128i smv  = k4_scales_v(x[i].scales);
        const __m128i mn8  = _mm_unpackhi_epi64(smv, smv);
        const int     imin = bsums_dot16(y[i].bsums, _mm_unpacklo_epi8(mn8, mn8)); /* one min per two groups of 16 */
        const __m256i sc16 = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(smv)); /* scale j in lanes j, 8 + j */
        if (!tiled) mins += avx2_half(x[i].dmin) * y[i].d * (float)imin;
        const __m256i qh   = _mm256_loadu_si256((const __m256i *)x[i].qh);
        __m256i       sumi = _mm256_setzero_si256();
        const int8_t *q8   = y[i].qs;
        for (int j = 0; j < 4; j++) {
            const __m256i q4 = _mm256_loadu_si256((const __m256i *)(x[i].qs + 32 * j));
            const __m256i hl = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * j), m1), 4);
            const __m256i hh = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * j + 1), m1), 4);
            const __m256i lo = _mm256_or_si256(_mm256_and_si256(q4, m4), hl);
            const __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q4, 4), m4), hh);
            const __m256i pl = _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)q8));
            const __m256i ph = _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(q8 + 32)));
            sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(pl, scale_pair_v(sc16, 2 * j, 2 * j)));
            sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(ph, scale_pair_v(sc16, 2 * j + 1, 2 * j + 1)));
            q8 += 64;
        }
        if (tiled) tacc = tiled_step(tacc, avx2_half(x[i].d), avx2_half(x[i].dmin), avx2_hsum_epi32(sumi), imin, y[i].d);
        else acc = _mm256_fmadd_ps(_mm256_set1_ps(avx2_half(x[i].d) * y[i].d), _mm256_cvtepi32_ps(sumi), acc);
    }
    *s = tiled ? tacc : avx2_hsum_ps(acc) - mins;
}

void hearth_avx2_vec_dot_q5_K(int64_t n, float *s, const void *w, const void *a) { q5k_dot(n, s, w, a, 0); }
void hearth_avx2_vec_dot_q5_K_tiled(int64_t n, float *s, const void *w, const void *a) { q5k_dot(n, s, w, a, 1); }

/* Q4_K and Q6_K are in kgemm_avx2.c: their single-row dot products are the 1-row case of
 * the multi-row kernels. */
