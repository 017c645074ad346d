/* kquants_avx512.c — AVX-512 dot products of the K-quants (Q2_K..Q6_K) with Q8_K activations,
 * each with the bits of its AVX2 twin (kquants_avx2.c; Q4_K and Q6_K in kgemm_avx2.c).
 *
 * Every AVX2 K-quant kernel sums its 8 chunks of 32 quants (32 bytes of q8 each) into the same
 * 8 int32 lanes (lane l: bytes 4l..4l+3 of each chunk, through maddubs and a madd with the
 * chunk's int16 scales).  Here two chunks share one 512-bit register (chunk pairs whose q8 bytes
 * are contiguous, so one 64-byte load), with the AVX2 scales of each chunk in its half; the two
 * 256-bit halves are added at the end, which gives every AVX2 lane its integer.  The madd runs
 * as VPDPWSSD under VNNI (same pair grouping, same sums); VPDPBUSD's grouping of 4 bytes would
 * not apply the per-16 scales, so it is not used here.  Scales, mins and the float steps are
 * AVX2's, in its order.  At the end, the multi-row kernels of Q4_K and Q6_K (decode). */
#include "kernels/kernels_impl.h"
#include "kernels/x86/avx2_util.h"
#include "kernels/x86/avx512_util.h"

#include <stddef.h>

/* forced: no helper may be left out of line passing 512-bit vectors (the EMU build has no AVX-512 ABI) */
#define INLINE static inline __attribute__((always_inline))

/* acc + madd(p, s): int16 pairs times int16 scales, summed by pairs into int32 lanes. */
INLINE __m512i madd_acc(__m512i acc, __m512i p, __m512i s) {
#ifdef HEARTH_AVX512_VNNI
    return _mm512_dpwssd_epi32(acc, p, s);
#else
    return _mm512_add_epi32(acc, _mm512_madd_epi16(p, s));
#endif
}

/* The 8 int32 lanes of an AVX2 accumulator: the two halves of a 512-bit one added. */
INLINE __m256i fold_halves(__m512i v) { return _mm256_add_epi32(avx512_lo_si(v), avx512_hi_si(v)); }

/* 32 bytes, in both 256-bit halves. */
INLINE __m512i bcast32(const void *p) { return _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)p)); }

/* 16-bit shift counts (variable shifts): a in the low 256 bits, b in the high 256 bits. */
INLINE __m512i counts16(int a, int b) {
    return avx512_join(_mm256_set1_epi16((short)a), _mm256_set1_epi16((short)b));
}

/* Byte-shuffle control: int16 word a of each 128-bit lane into the low 256 bits, word b into
 * the high 256 bits. */
INLINE __m512i words2_ctrl(int a, int b) {
    return avx512_join(_mm256_set1_epi16((short)(((2 * a + 1) << 8) | (2 * a))),
                       _mm256_set1_epi16((short)(((2 * b + 1) << 8) | (2 * b))));
}

/* Byte-shuffle control: int16 word b + m into 128-bit lane m (m < 4). */
INLINE __m512i words4_ctrl(int b) {
    const int w0 = ((2 * b + 1) << 8) | (2 * b), w1 = w0 + 0x202, w2 = w0 + 0x404, w3 = w0 + 0x606;
    return _mm512_set_epi32(w3 << 16 | w3, w3 << 16 | w3, w3 << 16 | w3, w3 << 16 | w3, w2 << 16 | w2, w2 << 16 | w2,
                            w2 << 16 | w2, w2 << 16 | w2, w1 << 16 | w1, w1 << 16 | w1, w1 << 16 | w1, w1 << 16 | w1,
                            w0 << 16 | w0, w0 << 16 | w0, w0 << 16 | w0, w0 << 16 | w0);
}

/* The scales of the 16 groups of 16 (16 int16 in s16) for the 4 chunk pairs: pair p gets the
 * scale of group 4p + m in its 128-bit lane m (the AVX2 scale pairs of chunks 2p and 2p+1). */
INLINE void scales16_pairs(__m256i s16, __m512i s[4]) {
    const __m512i lo = _mm512_broadcast_i32x4(_mm256_castsi256_si128(s16));
    const __m512i hi = _mm512_broadcast_i32x4(_mm256_extracti128_si256(s16, 1));
    const __m512i c0 = words4_ctrl(0), c4 = words4_ctrl(4);
    s[0] = _mm512_shuffle_epi8(lo, c0);
    s[1] = _mm512_shuffle_epi8(lo, c4);
    s[2] = _mm512_shuffle_epi8(hi, c0);
    s[3] = _mm512_shuffle_epi8(hi, c4);
}

/* ternary-logic truth tables (a, b, c = 0xF0, 0xCC, 0xAA) */
#define TL_A_OR_B_AND_C 0xF8 /* a | (b & c) */
#define TL_A_AND_C_OR_B 0xEC /* (a & c) | b */

/* The 8 six-bit scales (bytes 0..7) and 8 mins (bytes 8..15) of a Q4_K/Q5_K block, from its
 * first 16 bytes v (d, dmin, then the 12 packed bytes u0 u1 u2 as int32 lanes 1..3):
 * scales u0 & 0x3f.., (u2 & 0x0f..) | (bits 6-7 of u0 at 4-5), mins likewise from u1 and u2 >> 4. */
INLINE __m128i k4_scales_mins(__m128i v) {
    const __m128i a  = _mm_srlv_epi32(_mm_shuffle_epi32(v, _MM_SHUFFLE(3, 2, 3, 1)), _mm_setr_epi32(0, 0, 0, 4));
    const __m128i lo = _mm_and_si128(a, _mm_setr_epi32(0x3f3f3f3f, 0x0f0f0f0f, 0x3f3f3f3f, 0x0f0f0f0f));
    const __m128i b  = _mm_srli_epi32(_mm_shuffle_epi32(v, _MM_SHUFFLE(2, 2, 1, 1)), 2);
    return _mm_or_si128(lo, _mm_and_si128(b, _mm_setr_epi32(0, 0x30303030, 0, 0x30303030)));
}

/* sum_j mins[j] * (bsums[2j] + bsums[2j+1]) as 8 int32 lanes (mins: bytes 8..15 of sm). */
INLINE __m256i k4_mins_dot(__m128i sm, const int16_t *bsums) {
    const __m128i mn = _mm_srli_si128(sm, 8);
    const __m256i m2 = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(mn, mn));
    return _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)bsums), m2);
}

/* Per-pair scales of a Q4_K/Q5_K block (chunk 2j in the low half, 2j+1 in the high half). */
INLINE void k4_scale_pairs(__m128i sm, __m512i s[4]) {
    const __m512i s16 = _mm512_broadcast_i32x4(_mm_cvtepu8_epi16(sm));
    s[0] = _mm512_shuffle_epi8(s16, words2_ctrl(0, 1));
    s[1] = _mm512_shuffle_epi8(s16, words2_ctrl(2, 3));
    s[2] = _mm512_shuffle_epi8(s16, words2_ctrl(4, 5));
    s[3] = _mm512_shuffle_epi8(s16, words2_ctrl(6, 7));
}

/* ---- Q4_K: the AVX2 kernel keeps per block only the total of its integer sums and of its
 * mins; each is converted and fused in lane 0 (acc = fma(isum, d*dy, acc), likewise mins). */
void K512(vec_dot_q4_K)(int64_t n, float *s, const void *w, const void *a) {
    const block_q4_K *x  = w;
    const block_q8_K *y  = a;
    const int64_t     nb = n / HEARTH_QK_K;
    const __m512i     m4 = _mm512_set1_epi8(0x0F), c04 = counts16(0, 4);
    __m128            acc = _mm_setzero_ps(); /* lane 0: sums, lane 1: mins */
    for (int64_t i = 0; i < nb; i++) {
        const __m128i v16 = _mm_loadu_si128((const __m128i *)&x[i]); /* d, dmin, scales */
        const __m128i sm  = k4_scales_mins(v16);
        __m512i       sc[4];
        k4_scale_pairs(sm, sc);
        const int8_t *q8   = y[i].qs;
        __m512i       sumi = _mm512_setzero_si512();
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) {
            /* low nibbles of qs[32j..] (chunk 2j) and high nibbles (chunk 2j+1) */
            const __m512i q = _mm512_and_si512(_mm512_srlv_epi16(bcast32(x[i].qs + 32 * j), c04), m4);
            const __m512i p = _mm512_maddubs_epi16(q, _mm512_loadu_si512(q8 + 64 * j));
            sumi            = madd_acc(sumi, p, sc[j]);
        }
        /* [sums total, mins total] in int32 lanes 0 and 1 */
        const __m256i t  = _mm256_hadd_epi32(fold_halves(sumi), k4_mins_dot(sm, y[i].bsums));
        const __m128i u  = _mm_add_epi32(_mm256_castsi256_si128(t), _mm256_extracti128_si256(t, 1));
        const __m128i v  = _mm_hadd_epi32(u, u);
        const __m128  d  = _mm_cvtph_ps(_mm_and_si128(v16, _mm_setr_epi32(-1, 0, 0, 0))); /* d, dmin, 0, 0 */
        acc            = _mm_fmadd_ps(_mm_cvtepi32_ps(v), _mm_mul_ps(d, _mm_set1_ps(y[i].d)), acc);
    }
    *s = _mm_cvtss_f32(_mm_sub_ss(acc, _mm_shuffle_ps(acc, acc, 1)));
}

/* ---- Q6_K: AVX2 lane sums minus 32 x the scaled bsums (lane l: groups 2l, 2l+1), one FMA
 * per block into 8 float lanes. */
void K512(vec_dot_q6_K)(int64_t n, float *s, const void *w, const void *a) {
    const block_q6_K *x  = w;
    const block_q8_K *y  = a;
    const int64_t     nb = n / HEARTH_QK_K;
    const __m512i     m4 = _mm512_set1_epi8(0x0F), m30 = _mm512_set1_epi8(0x30);
    const __m512i     c42 = counts16(4, 2), c02 = counts16(0, 2);
    __m256            acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)x[i].scales));
        const __m256i corr = _mm256_slli_epi32(_mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)y[i].bsums), sc16), 5);
        __m512i       sc[4];
        scales16_pairs(sc16, sc);
        __m512i sumi = _mm512_setzero_si512();
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++) {
            const __m512i l  = _mm512_loadu_si512(x[i].ql + 64 * h); /* ql[0..31] | ql[32..63] */
            const __m512i qh = bcast32(x[i].qh + 32 * h);
            /* chunks 4h, 4h+1: low nibbles | qh bits 0-1, 2-3 at bits 4-5 */
            const __m512i h01 = _mm512_and_si512(_mm512_sllv_epi16(qh, c42), m30);
            const __m512i q01 = _mm512_ternarylogic_epi32(l, h01, m4, TL_A_AND_C_OR_B);
            /* chunks 4h+2, 4h+3: high nibbles | qh bits 4-5, 6-7 */
            const __m512i h23 = _mm512_and_si512(_mm512_srlv_epi16(qh, c02), m30);
            const __m512i q23 = _mm512_ternarylogic_epi32(_mm512_srli_epi16(l, 4), h23, m4, TL_A_AND_C_OR_B);
            const int8_t *q8  = y[i].qs + 128 * h;
            sumi = madd_acc(sumi, _mm512_maddubs_epi16(q01, _mm512_loadu_si512(q8)), sc[2 * h]);
            sumi = madd_acc(sumi, _mm512_maddubs_epi16(q23, _mm512_loadu_si512(q8 + 64)), sc[2 * h + 1]);
        }
        const __m256i isum = _mm256_sub_epi32(fold_halves(sumi), corr);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(avx2_half(x[i].d) * y[i].d), _mm256_cvtepi32_ps(isum), acc);
    }
    *s = avx2_hsum_ps(acc);
}

/* ---- Q5_K: Q4_K's nibbles with a fifth bit from qh (bit c of qh[b] for chunk c); the mins go
 * through AVX2's scalar float sum. */
void K512(vec_dot_q5_K)(int64_t n, float *s, const void *w, const void *a) {
    const block_q5_K *x  = w;
    const block_q8_K *y  = a;
    const int64_t     nb = n / HEARTH_QK_K;
    const __m512i     m4 = _mm512_set1_epi8(0x0F), m10 = _mm512_set1_epi8(0x10);
    const __m512i     c04 = counts16(0, 4), c01 = counts16(0, 1);
    __m256            acc  = _mm256_setzero_ps();
    float             mins = 0;
    for (int64_t i = 0; i < nb; i++) {
        const __m128i sm = k4_scales_mins(_mm_loadu_si128((const __m128i *)&x[i]));
        mins += avx2_half(x[i].dmin) * y[i].d * (float)avx2_hsum_epi32(k4_mins_dot(sm, y[i].bsums));
        __m512i sc[4];
        k4_scale_pairs(sm, sc);
        /* qh in the low half, qh >> 1 in the high half: bit 2j of each byte is the fifth bit of
         * chunk 2j (low half) and 2j+1 (high half); hb[j] moves it to bit 4 */
        const __m512i qh2   = _mm512_srlv_epi16(bcast32(x[i].qh), c01);
        const __m512i hb[4] = { _mm512_slli_epi16(qh2, 4), _mm512_slli_epi16(qh2, 2), qh2, _mm512_srli_epi16(qh2, 2) };
        const int8_t *q8    = y[i].qs;
        __m512i       sumi  = _mm512_setzero_si512();
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) {
            const __m512i nib = _mm512_and_si512(_mm512_srlv_epi16(bcast32(x[i].qs + 32 * j), c04), m4);
            const __m512i q   = _mm512_ternarylogic_epi32(nib, hb[j], m10, TL_A_OR_B_AND_C);
            sumi              = madd_acc(sumi, _mm512_maddubs_epi16(q, _mm512_loadu_si512(q8 + 64 * j)), sc[j]);
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(avx2_half(x[i].d) * y[i].d), _mm256_cvtepi32_ps(fold_halves(sumi)), acc);
    }
    *s = avx2_hsum_ps(acc) - mins;
}

/* hearth_q3_K_scales minus 32, as 16 int8: from the 16 bytes that end with the 12 packed ones
 * (a0 a1 a2 in int32 lanes 1..3; the first 4 are quants, not read past the block): scale word k
 * = ((a0, a1, a0 >> 4, a1 >> 4)[k] & 0x0f..) | (((a2 >> 2k) & 0x03..) << 4). */
INLINE __m128i q3k_scales(const block_q3_K *x) {
    const __m128i v = _mm_loadu_si128((const __m128i *)((const uint8_t *)x + offsetof(block_q3_K, scales) - 4));
    const __m128i a = _mm_srlv_epi32(_mm_shuffle_epi32(v, _MM_SHUFFLE(2, 1, 2, 1)), _mm_setr_epi32(0, 0, 4, 4));
    const __m128i t = _mm_srlv_epi32(_mm_shuffle_epi32(v, _MM_SHUFFLE(3, 3, 3, 3)), _mm_setr_epi32(0, 2, 4, 6));
    const __m128i s = _mm_or_si128(_mm_and_si128(a, _mm_set1_epi8(0x0F)), _mm_slli_epi32(_mm_and_si128(t, _mm_set1_epi8(3)), 4));
    return _mm_sub_epi8(s, _mm_set1_epi8(32));
}

/* ---- Q3_K: 2-bit quants (chunk c = 4k+j: bits 2j of qs[32k..]) with bit c of hmask at bit 2;
 * the -4 offset through the bsums, subtracted from lane 0 as AVX2 does. */
void K512(vec_dot_q3_K)(int64_t n, float *s, const void *w, const void *a) {
    const block_q3_K *x  = w;
    const block_q8_K *y  = a;
    const int64_t     nb = n / HEARTH_QK_K;
    const __m512i     m3 = _mm512_set1_epi8(3), m04 = _mm512_set1_epi8(4);
    const __m512i     c02 = counts16(0, 2), c01 = counts16(0, 1);
    __m256            acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const __m256i s16 = _mm256_cvtepi8_epi16(q3k_scales(&x[i]));
        /* (q - 4) * q8 summed = q * q8 summed - 4 * bsums */
        const int corr = 4 * avx2_hsum_epi32(_mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)y[i].bsums), s16));
        __m512i   sc[4];
        scales16_pairs(s16, sc);
        /* hmask in the low half, hmask >> 1 in the high half: bit c (c even) of each byte is the
         * high bit of chunk c (low half) and c+1 (high half) */
        const __m512i hm2   = _mm512_srlv_epi16(bcast32(x[i].hmask), c01);
        const __m512i hb[4] = { _mm512_slli_epi16(hm2, 2), hm2, _mm512_srli_epi16(hm2, 2), _mm512_srli_epi16(hm2, 4) };
        __m512i       sumi  = _mm512_setzero_si512();
#pragma GCC unroll 2
        for (int k = 0; k < 2; k++) {
            /* qs in the low half, qs >> 2 in the high half: chunks 4k, 4k+1 in bits 0-1, 4k+2, 4k+3 in bits 4-5 */
            const __m512i v  = _mm512_srlv_epi16(bcast32(x[i].qs + 32 * k), c02);
            const __m512i qa = _mm512_ternarylogic_epi32(_mm512_and_si512(v, m3), hb[2 * k], m04, TL_A_OR_B_AND_C);
            const __m512i qb = _mm512_ternarylogic_epi32(_mm512_and_si512(_mm512_srli_epi16(v, 4), m3), hb[2 * k + 1], m04,
                                                         TL_A_OR_B_AND_C);
            const int8_t *q8 = y[i].qs + 128 * k;
            sumi = madd_acc(sumi, _mm512_maddubs_epi16(qa, _mm512_loadu_si512(q8)), sc[2 * k]);
            sumi = madd_acc(sumi, _mm512_maddubs_epi16(qb, _mm512_loadu_si512(q8 + 64)), sc[2 * k + 1]);
        }
        const float   d    = avx2_half(x[i].d) * y[i].d;
        const __m256i isum = _mm256_sub_epi32(fold_halves(sumi), _mm256_setr_epi32(corr, 0, 0, 0, 0, 0, 0, 0));
        acc                = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(isum), acc);
    }
    *s = avx2_hsum_ps(acc);
}

/* ---- Q2_K: 2-bit quants with 4-bit scales (low nibbles) and mins (high nibbles); the mins
 * go through AVX2's scalar float sum. */
void K512(vec_dot_q2_K)(int64_t n, float *s, const void *w, const void *a) {
    const block_q2_K *x  = w;
    const block_q8_K *y  = a;
    const int64_t     nb = n / HEARTH_QK_K;
    const __m512i     m3 = _mm512_set1_epi8(3), c02 = counts16(0, 2);
    const __m128i     l4 = _mm_set1_epi8(0x0F);
    __m256            acc  = _mm256_setzero_ps();
    float             mins = 0;
    for (int64_t i = 0; i < nb; i++) {
        const __m128i sc8  = _mm_loadu_si128((const __m128i *)x[i].scales);
        const __m256i mn16 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(sc8, 4), l4));
        const float   dall = y[i].d * avx2_half(x[i].d);
        const float   dmin = y[i].d * avx2_half(x[i].dmin);
        mins += dmin * (float)avx2_hsum_epi32(_mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)y[i].bsums), mn16));
        __m512i sc[4];
        scales16_pairs(_mm256_cvtepu8_epi16(_mm_and_si128(sc8, l4)), sc);
        __m512i sumi = _mm512_setzero_si512();
#pragma GCC unroll 2
        for (int k = 0; k < 2; k++) {
            /* qs in the low half, qs >> 2 in the high half: chunks 4k, 4k+1 in bits 0-1, 4k+2, 4k+3 in bits 4-5 */
            const __m512i v  = _mm512_srlv_epi16(bcast32(x[i].qs + 32 * k), c02);
            const int8_t *q8 = y[i].qs + 128 * k;
            sumi = madd_acc(sumi, _mm512_maddubs_epi16(_mm512_and_si512(v, m3), _mm512_loadu_si512(q8)), sc[2 * k]);
            sumi = madd_acc(sumi, _mm512_maddubs_epi16(_mm512_and_si512(_mm512_srli_epi16(v, 4), m3), _mm512_loadu_si512(q8 + 64)),
                            sc[2 * k + 1]);
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(dall), _mm256_cvtepi32_ps(fold_halves(sumi)), acc);
    }
    *s = avx2_hsum_ps(acc) - mins;
}

/* ---- Multi-row kernels (decode): K512(rows_q4_K), K512(rows_q6_K), the hearth_gemm_fn of
 * hearth_avx2_rows_q4_K / _q6_K: 4 weight rows at a time against each token, the activation
 * block loaded once for the 4 rows, each row's integer work that of its vec_dot above, and the
 * rows' float steps in the lanes of one vector (independent chains), in vec_dot's order. */

/* R (1..4) Q4_K rows (ws bytes apart) against one Q8_K row: s[r] = vec_dot_q4_K(row r, a).
 * Only each row's integer total counts (vec_dot reduces its lanes), so the quants are taken 64
 * bytes at a time: qs[64k..64k+63] holds chunks 4k, 4k+2 in its low nibbles and 4k+1, 4k+3 in
 * its high nibbles, and the activation chunks are paired to match once for the R rows.
 * Per block, row r's integer total and min sum go to int32 lanes 2r and 2r+1 and are fused as
 * in vec_dot (acc = fma(isum, d*dy, acc), likewise the mins, d and dmin as fp16 pairs). */
INLINE void q4k_rows(const int R, int64_t nb, float *s, const uint8_t *w, size_t ws, const block_q8_K *y) {
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    __m256        acc = _mm256_setzero_ps(); /* lane 2r: row r's sums, lane 2r+1: its mins */
    for (int64_t i = 0; i < nb; i++) {
        const __m128i bp = avx2_bsums_pairs(y[i].bsums);
        __m512i       q8[4]; /* chunks (4k, 4k+2) in q8[2k], (4k+1, 4k+3) in q8[2k+1] */
#pragma GCC unroll 2
        for (int k = 0; k < 2; k++) {
            const __m512i z0 = _mm512_loadu_si512(y[i].qs + 128 * k), z1 = _mm512_loadu_si512(y[i].qs + 128 * k + 64);
            q8[2 * k]        = _mm512_shuffle_i32x4(z0, z1, 0x44);
            q8[2 * k + 1]    = _mm512_shuffle_i32x4(z0, z1, 0xEE);
        }
        __m256i si[4];
        __m128i mi[4], hd[4];
#pragma GCC unroll 4
        for (int r = 0; r < 4; r++) {
            if (r >= R) {
                si[r] = _mm256_setzero_si256();
                mi[r] = hd[r] = _mm_setzero_si128();
                continue;
            }
            const block_q4_K *x = (const block_q4_K *)(w + (size_t)r * ws) + i;
            if (R > 1) {
                const char *p = (const char *)x + (size_t)R * ws;
                _mm_prefetch(p, _MM_HINT_T0);
                _mm_prefetch(p + 64, _MM_HINT_T0);
                _mm_prefetch(p + 128, _MM_HINT_T0);
            }
            hd[r]            = _mm_loadu_si128((const __m128i *)x); /* d, dmin, scales */
            const __m128i sm = k4_scales_mins(hd[r]);
            mi[r]            = _mm_madd_epi16(_mm_cvtepu8_epi16(_mm_srli_si128(sm, 8)), bp);
            const __m512i s16  = _mm512_broadcast_i32x4(_mm_cvtepu8_epi16(sm));
            __m512i       sumi = _mm512_setzero_si512();
#pragma GCC unroll 2
            for (int k = 0; k < 2; k++) {
                const __m512i l  = _mm512_loadu_si512(x->qs + 64 * k);
                const __m512i lo = _mm512_and_si512(l, m4), hi = _mm512_and_si512(_mm512_srli_epi16(l, 4), m4);
                sumi = madd_acc(sumi, _mm512_maddubs_epi16(lo, q8[2 * k]), _mm512_shuffle_epi8(s16, words2_ctrl(4 * k, 4 * k + 2)));
                sumi = madd_acc(sumi, _mm512_maddubs_epi16(hi, q8[2 * k + 1]),
                                _mm512_shuffle_epi8(s16, words2_ctrl(4 * k + 1, 4 * k + 3)));
            }
            si[r] = fold_halves(sumi);
        }
        const __m128i S  = avx2_hsum4_epi32(si[0], si[1], si[2], si[3]);
        const __m128i M  = _mm_hadd_epi32(_mm_hadd_epi32(mi[0], mi[1]), _mm_hadd_epi32(mi[2], mi[3]));
        const __m256i SM = _mm256_set_m128i(_mm_unpackhi_epi32(S, M), _mm_unpacklo_epi32(S, M));
        /* d, dmin of row r (int32 lane 0 of its first 16 bytes) as fp16 pair r */
        const __m128i dd = _mm_unpacklo_epi64(_mm_unpacklo_epi32(hd[0], hd[1]), _mm_unpacklo_epi32(hd[2], hd[3]));
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(SM), _mm256_mul_ps(_mm256_cvtph_ps(dd), _mm256_set1_ps(y[i].d)), acc);
    }
    _Alignas(32) float out[8];
    _mm256_store_ps(out, _mm256_sub_ps(acc, _mm256_movehdup_ps(acc)));
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) s[r] = out[2 * r];
}

/* The 512-bit integer sums of one Q6_K block of vec_dot_q6_K (before the halves are folded and
 * the bsums correction applied), q8: the activation block's 4 64-byte parts. */
INLINE __m512i q6k_sumi(const block_q6_K *x, __m256i sc16, const __m512i q8[4]) {
    const __m512i m4 = _mm512_set1_epi8(0x0F), m30 = _mm512_set1_epi8(0x30);
    const __m512i c42 = counts16(4, 2), c02 = counts16(0, 2);
    __m512i       sc[4];
    scales16_pairs(sc16, sc);
    __m512i sumi = _mm512_setzero_si512();
#pragma GCC unroll 2
    for (int h = 0; h < 2; h++) {
        const __m512i l   = _mm512_loadu_si512(x->ql + 64 * h);
        const __m512i qh  = bcast32(x->qh + 32 * h);
        const __m512i h01 = _mm512_and_si512(_mm512_sllv_epi16(qh, c42), m30);
        const __m512i q01 = _mm512_ternarylogic_epi32(l, h01, m4, TL_A_AND_C_OR_B);
        const __m512i h23 = _mm512_and_si512(_mm512_srlv_epi16(qh, c02), m30);
        const __m512i q23 = _mm512_ternarylogic_epi32(_mm512_srli_epi16(l, 4), h23, m4, TL_A_AND_C_OR_B);
        sumi = madd_acc(sumi, _mm512_maddubs_epi16(q01, q8[2 * h]), sc[2 * h]);
        sumi = madd_acc(sumi, _mm512_maddubs_epi16(q23, q8[2 * h + 1]), sc[2 * h + 1]);
    }
    return sumi;
}

/* R (1..4) Q6_K rows against one Q8_K row: rows 2p and 2p+1 share one 512-bit float
 * accumulator (vec_dot's 8 lanes of each in one half; for odd R the last row fills both). */
INLINE void q6k_rows(const int R, int64_t nb, float *s, const uint8_t *w, size_t ws, const block_q8_K *y) {
    const int P = (R + 1) / 2;
    __m512    acc[2];
#pragma GCC unroll 2
    for (int p = 0; p < P; p++) acc[p] = _mm512_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const __m512i bs = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)y[i].bsums));
        __m512i       q8[4];
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) q8[j] = _mm512_loadu_si512(y[i].qs + 64 * j);
        /* d * dy of the R rows in float lanes 0..R-1 (the fp16 d's converted together, exactly) */
        uint64_t dh = 0;
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) dh |= (uint64_t)((const block_q6_K *)(w + (size_t)r * ws) + i)->d << (16 * r);
        const __m128 d4 = _mm_mul_ps(_mm_cvtph_ps(_mm_cvtsi64_si128((long long)dh)), _mm_set1_ps(y[i].d));
        const __m512 dr = _mm512_castps128_ps512(d4);
#pragma GCC unroll 2
        for (int p = 0; p < P; p++) {
            const int         ra = 2 * p, rb = 2 * p + 1 < R ? 2 * p + 1 : 2 * p;
            const block_q6_K *xa = (const block_q6_K *)(w + (size_t)ra * ws) + i;
            const block_q6_K *xb = (const block_q6_K *)(w + (size_t)rb * ws) + i;
            if (R > 1) {
#pragma GCC unroll 2
                for (int k = 0; k < 2; k++) {
                    if (k == 1 && rb == ra) break;
                    const char *q = (const char *)(k ? xb : xa) + (size_t)R * ws;
                    _mm_prefetch(q, _MM_HINT_T0);
                    _mm_prefetch(q + 64, _MM_HINT_T0);
                    _mm_prefetch(q + 128, _MM_HINT_T0);
                    _mm_prefetch(q + 192, _MM_HINT_T0);
                }
            }
            const __m256i sa = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)xa->scales));
            const __m256i sb = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)xb->scales));
            const __m512i ua = q6k_sumi(xa, sa, q8), ub = q6k_sumi(xb, sb, q8);
            /* [fold(ua) | fold(ub)] minus the two rows' 32 x scaled bsums */
            const __m512i f    = _mm512_add_epi32(_mm512_shuffle_i32x4(ua, ub, 0x44), _mm512_shuffle_i32x4(ua, ub, 0xEE));
            const __m512i corr = _mm512_slli_epi32(_mm512_madd_epi16(bs, avx512_join(sa, sb)), 5);
            const __m512i ix   = avx512_join(_mm256_set1_epi32(ra), _mm256_set1_epi32(rb));
            const __m512  dd   = _mm512_permutexvar_ps(ix, dr); /* d*dy of row a | of row b */
            acc[p] = _mm512_fmadd_ps(dd, _mm512_cvtepi32_ps(_mm512_sub_epi32(f, corr)), acc[p]);
        }
    }
#pragma GCC unroll 2
    for (int p = 0; p < P; p++) {
        s[2 * p] = avx2_hsum_ps(avx512_lo_ps(acc[p]));
        if (2 * p + 1 < R) s[2 * p + 1] = avx2_hsum_ps(avx512_hi_ps(acc[p]));
    }
}

#define DEFINE_ROWS(name, rows_fn)                                                                                     \
    void K512(rows_##name)(int64_t n, float *s, size_t ss, const void *w, size_t ws, int64_t nr, const void *a,        \
                           size_t as, int64_t nc) {                                                                    \
        const uint8_t *W = w, *A = a;                                                                                  \
        const int64_t  nb = n / HEARTH_QK_K;                                                                           \
        for (int64_t c = 0; c < nc; c++) {                                                                             \
            const block_q8_K *y = (const block_q8_K *)(A + c * as);                                                    \
            int64_t           r = 0;                                                                                   \
            for (; r + 4 <= nr; r += 4) rows_fn(4, nb, s + c * ss + r, W + r * ws, ws, y);                             \
            switch (nr - r) {                                                                                          \
            case 3: rows_fn(3, nb, s + c * ss + r, W + r * ws, ws, y); break;                                          \
            case 2: rows_fn(2, nb, s + c * ss + r, W + r * ws, ws, y); break;                                          \
            case 1: rows_fn(1, nb, s + c * ss + r, W + r * ws, ws, y); break;                                          \
            default: break;                                                                                            \
            }                                                                                                          \
        }                                                                                                              \
    }

DEFINE_ROWS(q4_K, q4k_rows)
DEFINE_ROWS(q6_K, q6k_rows)
