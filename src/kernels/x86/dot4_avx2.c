/* dot4_avx2.c — one Q4_K weight row against four activation rows at once (prefill): each weight
 * block is loaded and unpacked once and used four times.  The arithmetic per row is exactly
 * that of the single-row kernel of the same type, so prefill and decode give the same bits. */
#include "kernels/kernels_impl.h"
#include "kernels/x86/avx2_util.h"

#include <math.h>

#define ACT(T, k, i) ((const T *)((const uint8_t *)a + (size_t)(k) * a_stride) + (i))

static inline int bsums_dot16(const int16_t *bsums, const int8_t *c) {
    const __m256i b = _mm256_loadu_si256((const __m256i *)bsums);
    const __m256i m = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)c));
    return avx2_hsum_epi32(_mm256_madd_epi16(b, m));
}

/* Q4_K, four activation rows, each in the float order of hearth_avx2_vec_dot_q4_K (the
 * reference's repacked GEMV): the same bits as four calls of it. */
void hearth_avx2_vec_dot4_q4_K(int64_t n, float *s, size_t s_stride, const void *w, const void *a, size_t a_stride) {
    const block_q4_K *x  = w;
    const int64_t     nb = n / HEARTH_QK_K;
    const __m256i     m4 = _mm256_set1_epi8(0x0F);
    float             acc[4] = { 0, 0, 0, 0 }, mins[4] = { 0, 0, 0, 0 };
    for (int64_t i = 0; i < nb; i++) {
        uint8_t sc[8];
        int8_t  mn[16];
        for (int j = 0; j < 8; j++) {
            uint8_t d, m;
            hearth_get_scale_min_k4(j, x[i].scales, &d, &m);
            sc[j]         = d;
            mn[2 * j]     = (int8_t)m;
            mn[2 * j + 1] = (int8_t)m;
        }
        const float dx = avx2_half(x[i].d), dmx = avx2_half(x[i].dmin);
        __m256i     sumi[4] = { _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(),
                                _mm256_setzero_si256() };
        for (int j = 0; j < 4; j++) {
            const __m256i q4  = _mm256_loadu_si256((const __m256i *)(x[i].qs + 32 * j));
            const __m256i lo  = _mm256_and_si256(q4, m4);
            const __m256i hi  = _mm256_and_si256(_mm256_srli_epi16(q4, 4), m4);
            const __m256i sl  = _mm256_set1_epi16(sc[2 * j]);
            const __m256i sh  = _mm256_set1_epi16(sc[2 * j + 1]);
            for (int k = 0; k < 4; k++) {
                const int8_t *q8 = ACT(block_q8_K, k, i)->qs + 64 * j;
                const __m256i pl = _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)q8));
                const __m256i ph = _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(q8 + 32)));
                sumi[k] = _mm256_add_epi32(sumi[k], _mm256_madd_epi16(pl, sl));
                sumi[k] = _mm256_add_epi32(sumi[k], _mm256_madd_epi16(ph, sh));
            }
        }
        for (int k = 0; k < 4; k++) {
            const block_q8_K *yb = ACT(block_q8_K, k, i);
            acc[k]  = fmaf((float)avx2_hsum_epi32(sumi[k]), dx * yb->d, acc[k]);
            mins[k] = fmaf((float)bsums_dot16(yb->bsums, mn), dmx * yb->d, mins[k]);
        }
    }
    for (int k = 0; k < 4; k++) s[k * s_stride] = acc[k] - mins[k];
}

/* The GEMM-order Q4_K kernel (hearth_avx2_vec_dot4_q4_K_gemm) is in kgemm_avx2.c. */

/* One Q6_K row against four Q8_K rows: the arithmetic of hearth_avx2_vec_dot_q6_K per row
 * (exact integer sums per block, then one FMA per block into 8 float lanes), with each
 * weight block unpacked once for the four. */
void hearth_avx2_vec_dot4_q6_K(int64_t n, float *s, size_t s_stride, const void *w, const void *a, size_t a_stride) {
    const block_q6_K *x  = w;
    const int64_t     nb = n / HEARTH_QK_K;
    const __m256i     m4 = _mm256_set1_epi8(0x0F), m3 = _mm256_set1_epi8(3);
    __m256            acc[4] = { _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps() };
    for (int64_t i = 0; i < nb; i++) {
        const int8_t *sc  = x[i].scales;
        const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)sc));
        __m256i       sumi[4];
        for (int k = 0; k < 4; k++)
            sumi[k] = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            const uint8_t *ql = x[i].ql + 64 * h;
            const __m256i  qh = _mm256_loadu_si256((const __m256i *)(x[i].qh + 32 * h));
            const __m256i  l0 = _mm256_loadu_si256((const __m256i *)ql);
            const __m256i  l1 = _mm256_loadu_si256((const __m256i *)(ql + 32));
            __m256i        q[4];
            q[0] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(qh, m3), 4));
            q[1] = _mm256_or_si256(_mm256_and_si256(l1, m4),
                                   _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), m3), 4));
            q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),
                                   _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), m3), 4));
            q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                   _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), m3), 4));
            for (int j = 0; j < 4; j++) {
                const int     is = 8 * h + 2 * j;
                const __m256i sp = _mm256_set_m128i(_mm_set1_epi16(sc[is + 1]), _mm_set1_epi16(sc[is]));
                for (int k = 0; k < 4; k++) {
                    const int8_t *q8 = ACT(block_q8_K, k, i)->qs + 128 * h + 32 * j;
                    const __m256i p  = _mm256_maddubs_epi16(q[j], _mm256_loadu_si256((const __m256i *)q8));
                    sumi[k]          = _mm256_add_epi32(sumi[k], _mm256_madd_epi16(p, sp));
                }
            }
        }
        const float dx = avx2_half(x[i].d);
        for (int k = 0; k < 4; k++) {
            const block_q8_K *yb   = ACT(block_q8_K, k, i);
            const __m256i     corr = _mm256_slli_epi32(_mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)yb->bsums), sc16), 5);
            acc[k] = _mm256_fmadd_ps(_mm256_set1_ps(dx * yb->d), _mm256_cvtepi32_ps(_mm256_sub_epi32(sumi[k], corr)), acc[k]);
        }
    }
    for (int k = 0; k < 4; k++) s[k * s_stride] = avx2_hsum_ps(acc[k]);
}

/* The tiled-order Q6_K kernel (hearth_avx2_vec_dot4_q6_K_tiled) is in kgemm_avx2.c. */
