/* kgemm_avx2.c — Q4_K and Q6_K: the single-row dot products and multi-row kernels for
 * decode (several weight rows against one activation row), built from one per-block code.
 *
 * Decode runs 4 weight rows at a time: the activation block's bsums pair sums are formed once
 * for the 4 rows, the 4 rows' integer sums are reduced together, and the next row group is
 * prefetched.  Scales and mins are unpacked with 32-bit masks and broadcast by byte shuffles.
 *
 * Float orders (those of the reference engine, see dispatch.c's batch kernels):
 * - Q4_K vec_dot (the reference's repacked GEMV): per super-block the exact integer sums,
 *   acc = fma(isum, d*dy, acc), mins = fma(imin, dmin*dy, mins); result acc - mins.  The 4-row
 *   kernel does the same with the rows in 4 float lanes.
 * - Q6_K vec_dot: the exact integer sums of a block in 8 int32 lanes (lane l: bytes 4l..4l+3
 *   of each 32-byte group, minus 32 x the scaled bsums of groups 2l, 2l+1), then one FMA per
 *   block into 8 float lanes; _tiled: per block acc = fma(d * isum, dy, acc).
 * The multi-row kernels give every row the bits of vec_dot (test_isa_rows). */
#include "kernels/kernels_impl.h"
#include "kernels/x86/avx2_util.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>

#define INLINE static inline __attribute__((always_inline))

/* Shuffle control that broadcasts int16 lane k (0..7) of each 128-bit half. */
INLINE __m256i bcast16_ctrl(int k) { return _mm256_set1_epi16((short)(((2 * k + 1) << 8) | (2 * k))); }

/* Shuffle control: int16 lane a in the low half, lane b in the high half. */
INLINE __m256i pair16_ctrl(int a, int b) {
    return _mm256_set_m128i(_mm_set1_epi16((short)(((2 * b + 1) << 8) | (2 * b))),
                            _mm_set1_epi16((short)(((2 * a + 1) << 8) | (2 * a))));
}

/* The 8 six-bit scales (bytes 0..7) and 8 mins (bytes 8..15) of a Q4_K/Q5_K block. */
INLINE __m128i k4_scales_mins(const uint8_t *q) {
    uint32_t u[3];
    memcpy(u, q, 12);
    const uint32_t m6 = 0x3f3f3f3f, m4 = 0x0f0f0f0f, m2 = 0x03030303;
    const uint32_t sc_lo = u[0] & m6;
    const uint32_t sc_hi = (u[2] & m4) | (((u[0] >> 6) & m2) << 4);
    const uint32_t mn_lo = u[1] & m6;
    const uint32_t mn_hi = ((u[2] >> 4) & m4) | (((u[1] >> 6) & m2) << 4);
    return _mm_setr_epi32((int)sc_lo, (int)sc_hi, (int)mn_lo, (int)mn_hi);
}

/* Integer part of one Q4_K block against one Q8_K block: the 8 lane sums of the scaled
 * products, and (in *mins4) the 4 int32 partial sums of mins * pair sums of bsums (bpair:
 * the 8 sums bsums[2j] + bsums[2j+1] as int16). */
INLINE __m256i q4k_block(const block_q4_K *x, const int8_t *q8, __m128i bpair, __m128i *mins4) {
    const __m128i sm  = k4_scales_mins(x->scales);
    *mins4            = _mm_madd_epi16(_mm_cvtepu8_epi16(_mm_srli_si128(sm, 8)), bpair);
    const __m256i s16 = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(sm));
    const __m256i m4  = _mm256_set1_epi8(0x0F);
    __m256i       sumi = _mm256_setzero_si256();
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) {
        const __m256i q4 = _mm256_loadu_si256((const __m256i *)(x->qs + 32 * j));
        const __m256i lo = _mm256_and_si256(q4, m4);
        const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q4, 4), m4);
        const __m256i pl = _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)(q8 + 64 * j)));
        const __m256i ph = _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(q8 + 64 * j + 32)));
        sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(pl, _mm256_shuffle_epi8(s16, bcast16_ctrl(2 * j))));
        sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(ph, _mm256_shuffle_epi8(s16, bcast16_ctrl(2 * j + 1))));
    }
    return sumi;
}

/* R (1..4) Q4_K rows against one Q8_K row: s[r] = dot(row r, a), rows ws bytes apart. */
INLINE void q4k_rows(const int R, int64_t nb, float *s, const uint8_t *w, size_t ws, const block_q8_K *y) {
    __m128 acc = _mm_setzero_ps(), mins = _mm_setzero_ps(); /* lane r: row r */
    for (int64_t i = 0; i < nb; i++) {
        const __m128i bp = avx2_bsums_pairs(y[i].bsums);
        const __m128  dy = _mm_set1_ps(y[i].d);
        __m256i       si[4];
        __m128i       mi[4];
        uint16_t      dh[4] = { 0, 0, 0, 0 }, mh[4] = { 0, 0, 0, 0 };
#pragma GCC unroll 4
        for (int r = 0; r < 4; r++) {
            if (r >= R) {
                si[r] = _mm256_setzero_si256();
                mi[r] = _mm_setzero_si128();
                continue;
            }
            const block_q4_K *x = (const block_q4_K *)(w + (size_t)r * ws) + i;
            if (R > 1) {
                const char *p = (const char *)x + (size_t)R * ws;
                _mm_prefetch(p, _MM_HINT_T0);
                _mm_prefetch(p + 64, _MM_HINT_T0);
                _mm_prefetch(p + 128, _MM_HINT_T0);
            }
            si[r] = q4k_block(x, y[i].qs, bp, &mi[r]);
            dh[r] = x->d;
            mh[r] = x->dmin;
        }
        const __m128 isum = _mm_cvtepi32_ps(avx2_hsum4_epi32(si[0], si[1], si[2], si[3]));
        const __m128 imin = _mm_cvtepi32_ps(_mm_hadd_epi32(_mm_hadd_epi32(mi[0], mi[1]), _mm_hadd_epi32(mi[2], mi[3])));
        const __m128 d    = _mm_cvtph_ps(_mm_loadl_epi64((const __m128i *)dh));
        const __m128 dm   = _mm_cvtph_ps(_mm_loadl_epi64((const __m128i *)mh));
        acc  = _mm_fmadd_ps(isum, _mm_mul_ps(d, dy), acc);
        mins = _mm_fmadd_ps(imin, _mm_mul_ps(dm, dy), mins);
    }
    _Alignas(16) float out[4];
    _mm_store_ps(out, _mm_sub_ps(acc, mins));
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) s[r] = out[r];
}

/* One Q4_K row against one Q8_K row, the bits of q4k_rows(1, ...) with less work per block:
 * the block's integer sum and min sum are reduced together (both exact, so the order does not
 * matter) and its d and dmin converted in one step; lane 0 holds acc, lane 1 mins, and each
 * takes the same float operations as in q4k_rows. */
INLINE float q4k_row1(int64_t nb, const block_q4_K *x, const block_q8_K *y) {
    __m128 am = _mm_setzero_ps(); /* lane 0: acc, lane 1: mins */
    for (int64_t i = 0; i < nb; i++) {
        __m128i       mi;
        const __m256i si = q4k_block(&x[i], y[i].qs, avx2_bsums_pairs(y[i].bsums), &mi);
        const __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(si), _mm256_extracti128_si256(si, 1));
        const __m128i t  = _mm_hadd_epi32(_mm_hadd_epi32(s4, mi), _mm_setzero_si128()); /* isum, imin */
        uint32_t      dd;
        memcpy(&dd, &x[i].d, sizeof dd); /* d, dmin */
        const __m128 dm = _mm_mul_ps(_mm_cvtph_ps(_mm_cvtsi32_si128((int)dd)), _mm_set1_ps(y[i].d));
        am              = _mm_fmadd_ps(_mm_cvtepi32_ps(t), dm, am);
    }
    return _mm_cvtss_f32(_mm_sub_ss(am, _mm_movehdup_ps(am)));
}

/* The 128 6-bit quants of half h of a Q6_K block (ql: its 64 low-nibble bytes, qh: its 32
 * high-bit bytes) as 4 vectors of unsigned bytes 0..63. */
INLINE void q6k_unpack_half(const uint8_t *ql, const uint8_t *qhp, __m256i q[4]) {
    const __m256i m4 = _mm256_set1_epi8(0x0F), m30 = _mm256_set1_epi8(0x30);
    const __m256i qh = _mm256_loadu_si256((const __m256i *)qhp);
    const __m256i l0 = _mm256_loadu_si256((const __m256i *)ql);
    const __m256i l1 = _mm256_loadu_si256((const __m256i *)(ql + 32));
    q[0] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), m30));
    q[1] = _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 2), m30));
    q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_and_si256(qh, m30));
    q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4), _mm256_and_si256(_mm256_srli_epi16(qh, 2), m30));
}

/* Integer part of one Q6_K block against one Q8_K block: the 8 lane sums of the scaled
 * products, minus 32 times the scaled bsums per lane (lane l: groups 2l and 2l+1). */
INLINE __m256i q6k_block(const block_q6_K *x, const block_q8_K *y) {
    const __m128i sc8  = _mm_loadu_si128((const __m128i *)x->scales);
    const __m256i sc16 = _mm256_cvtepi8_epi16(sc8);
    const __m256i corr = _mm256_slli_epi32(_mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)y->bsums), sc16), 5);
    __m256i       sumi = _mm256_setzero_si256();
#pragma GCC unroll 2
    for (int h = 0; h < 2; h++) {
        /* the scales of groups 8h..8h+7 as int16 in both halves */
        const __m256i  s = _mm256_broadcastsi128_si256(h ? _mm256_extracti128_si256(sc16, 1) : _mm256_castsi256_si128(sc16));
        const uint8_t *ql = x->ql + 64 * h;
        const int8_t  *q8 = y->qs + 128 * h;
        __m256i        q[4];
        q6k_unpack_half(ql, x->qh + 32 * h, q);
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) {
            const __m256i p = _mm256_maddubs_epi16(q[j], _mm256_loadu_si256((const __m256i *)(q8 + 32 * j)));
            sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p, _mm256_shuffle_epi8(s, pair16_ctrl(2 * j, 2 * j + 1))));
        }
    }
    return _mm256_sub_epi32(sumi, corr);
}

/* Decode reads a Q6_K row after the other, one linear stream: the lines this many bytes ahead are
 * fetched with each super-block (GEMV of 64 x 2048 x 2048 from memory, 1 / 2 threads: 17.1 /
 * 10.4 ms without, 13.4 / 9.1 with 4 KiB; 1 and 2 KiB less, 8 KiB no better). */
#define Q6_PF 4096
/* R (1..4) Q6_K rows against one Q8_K row. */
INLINE void q6k_rows(const int R, int64_t nb, float *s, const uint8_t *w, size_t ws, const block_q8_K *y) {
    __m256 acc[4];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) acc[r] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            const block_q6_K *x = (const block_q6_K *)(w + (size_t)r * ws) + i;
            /* 4 rows: the same block R rows on; 1 row: Q6_PF bytes on in the stream */
            const char *p = (const char *)x + (R > 1 ? (size_t)R * ws : (size_t)Q6_PF);
            _mm_prefetch(p, _MM_HINT_T0);
            _mm_prefetch(p + 64, _MM_HINT_T0);
            _mm_prefetch(p + 128, _MM_HINT_T0);
            _mm_prefetch(p + 192, _MM_HINT_T0);
            const __m256i sumi = q6k_block(x, &y[i]);
            acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(avx2_half(x->d) * y[i].d), _mm256_cvtepi32_ps(sumi), acc[r]);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) s[r] = avx2_hsum_ps(acc[r]);
}

void hearth_avx2_vec_dot_q4_K(int64_t n, float *s, const void *w, const void *a) {
    q4k_rows(1, n / HEARTH_QK_K, s, w, 0, a);
}

void hearth_avx2_vec_dot_q6_K(int64_t n, float *s, const void *w, const void *a) {
    q6k_rows(1, n / HEARTH_QK_K, s, w, 0, a);
}

void hearth_avx2_vec_dot_q6_K_tiled(int64_t n, float *s, const void *w, const void *a) {
    const block_q6_K *x   = w;
    const block_q8_K *y   = a;
    float             acc = 0;
    for (int64_t i = 0; i < n / HEARTH_QK_K; i++)
        acc = fmaf(avx2_half(x[i].d) * (float)avx2_hsum_epi32(q6k_block(&x[i], &y[i])), y[i].d, acc);
    *s = acc;
}

/* Q4_K, one weight row against four activation rows, in the float order of the reference's
 * repacked Q4_K GEMM (which it uses for groups of four rows on AVX2): the exact integer sums
 * of each 64-value pair of sub-blocks are fused into the accumulators one at a time, scales
 * and mins apart (acc = fma(isum, d*dy, acc), mins = fma(imin, dmin*dy, mins), per token).
 * The four tokens run in the 4 lanes of one float vector: their integer sums are reduced
 * together, and the min sums of the four sub-block pairs come from one madd per token.  Not
 * the order of the one-row kernel: matmul uses it only for rows of one sequence (see
 * hearth_kernels_batch). */
void hearth_avx2_vec_dot4_q4_K_gemm(int64_t n, float *s, size_t s_stride, const void *w, const void *a,
                                    size_t a_stride) {
    const block_q4_K *x  = w;
    const int64_t     nb = n / HEARTH_QK_K;
    const __m256i     m4 = _mm256_set1_epi8(0x0F);
    __m128            acc = _mm_setzero_ps(), mins = _mm_setzero_ps(); /* lane k: token k */
    for (int64_t i = 0; i < nb; i++) {
        const block_q8_K *y[4];
        __m128i           mk[4];
        const __m128i     sm   = k4_scales_mins(x[i].scales);
        const __m256i     s16  = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(sm));
        const __m128i     mn16 = _mm_cvtepu8_epi16(_mm_srli_si128(sm, 8));
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++) {
            y[k]  = (const block_q8_K *)((const uint8_t *)a + (size_t)k * a_stride) + i;
            mk[k] = _mm_madd_epi16(avx2_bsums_pairs(y[k]->bsums), mn16); /* lane j: min sum of pair j */
        }
        /* transpose: tj[j] lane k = mk[k] lane j */
        const __m128i t0 = _mm_unpacklo_epi32(mk[0], mk[1]), t1 = _mm_unpacklo_epi32(mk[2], mk[3]);
        const __m128i t2 = _mm_unpackhi_epi32(mk[0], mk[1]), t3 = _mm_unpackhi_epi32(mk[2], mk[3]);
        const __m128i tj[4] = { _mm_unpacklo_epi64(t0, t1), _mm_unpackhi_epi64(t0, t1), _mm_unpacklo_epi64(t2, t3),
                                _mm_unpackhi_epi64(t2, t3) };
        const __m128  dy  = _mm_setr_ps(y[0]->d, y[1]->d, y[2]->d, y[3]->d);
        const __m128  dxy = _mm_mul_ps(_mm_set1_ps(avx2_half(x[i].d)), dy);
        const __m128  dmy = _mm_mul_ps(_mm_set1_ps(avx2_half(x[i].dmin)), dy);
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) {
            const __m256i q4 = _mm256_loadu_si256((const __m256i *)(x[i].qs + 32 * j));
            const __m256i lo = _mm256_and_si256(q4, m4);
            const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q4, 4), m4);
            const __m256i sl = _mm256_shuffle_epi8(s16, bcast16_ctrl(2 * j));
            const __m256i sh = _mm256_shuffle_epi8(s16, bcast16_ctrl(2 * j + 1));
            __m256i       v[4];
#pragma GCC unroll 4
            for (int k = 0; k < 4; k++) {
                const int8_t *q8 = y[k]->qs + 64 * j;
                const __m256i pl = _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)q8));
                const __m256i ph = _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(q8 + 32)));
                v[k]             = _mm256_add_epi32(_mm256_madd_epi16(pl, sl), _mm256_madd_epi16(ph, sh));
            }
            acc  = _mm_fmadd_ps(_mm_cvtepi32_ps(avx2_hsum4_epi32(v[0], v[1], v[2], v[3])), dxy, acc);
            mins = _mm_fmadd_ps(_mm_cvtepi32_ps(tj[j]), dmy, mins);
        }
    }
    _Alignas(16) float out[4];
    _mm_store_ps(out, _mm_sub_ps(acc, mins));
    for (int k = 0; k < 4; k++) s[(size_t)k * s_stride] = out[k];
}

/* One Q6_K row against four Q8_K rows in the float order of hearth_avx2_vec_dot_q6_K_tiled
 * (the reference's tiled K-quant matmul: per super-block acc = fma(d * isum, dy, acc)), the
 * same bits as four calls of it: the weight block unpacked once, the four tokens' integer
 * sums reduced together and their float steps done in the 4 lanes of one vector. */
void hearth_avx2_vec_dot4_q6_K_tiled(int64_t n, float *s, size_t s_stride, const void *w, const void *a,
                                     size_t a_stride) {
    const block_q6_K *x  = w;
    const int64_t     nb = n / HEARTH_QK_K;
    __m128            acc = _mm_setzero_ps(); /* lane k: token k */
    for (int64_t i = 0; i < nb; i++) {
        const block_q8_K *y[4];
        __m256i           sumi[4];
        const __m256i     sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)x[i].scales));
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++) {
            y[k]    = (const block_q8_K *)((const uint8_t *)a + (size_t)k * a_stride) + i;
            sumi[k] = _mm256_sub_epi32(_mm256_setzero_si256(),
                                       _mm256_slli_epi32(_mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)y[k]->bsums), sc16), 5));
        }
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++) {
            const __m256i  sh = _mm256_broadcastsi128_si256(h ? _mm256_extracti128_si256(sc16, 1) : _mm256_castsi256_si128(sc16));
            const uint8_t *ql = x[i].ql + 64 * h;
            __m256i        q[4];
            q6k_unpack_half(ql, x[i].qh + 32 * h, q);
#pragma GCC unroll 4
            for (int j = 0; j < 4; j++) {
                const __m256i sp = _mm256_shuffle_epi8(sh, pair16_ctrl(2 * j, 2 * j + 1));
#pragma GCC unroll 4
                for (int k = 0; k < 4; k++) {
                    const int8_t *q8 = y[k]->qs + 128 * h + 32 * j;
                    const __m256i p  = _mm256_maddubs_epi16(q[j], _mm256_loadu_si256((const __m256i *)q8));
                    sumi[k]          = _mm256_add_epi32(sumi[k], _mm256_madd_epi16(p, sp));
                }
            }
        }
        const __m128 isum = _mm_cvtepi32_ps(avx2_hsum4_epi32(sumi[0], sumi[1], sumi[2], sumi[3]));
        const __m128 dy   = _mm_setr_ps(y[0]->d, y[1]->d, y[2]->d, y[3]->d);
        acc = _mm_fmadd_ps(_mm_mul_ps(_mm_set1_ps(avx2_half(x[i].d)), isum), dy, acc);
    }
    _Alignas(16) float out[4];
    _mm_store_ps(out, acc);
    for (int k = 0; k < 4; k++) s[(size_t)k * s_stride] = out[k];
}

/* Multi-row kernels (see kernels_impl.h): every token against the rows.  The first token reads
 * the rows one after the other, front to back: the rows are adjacent, so that is one sequential
 * stream, which the hardware prefetcher follows; 4 rows at a time (4 interleaved streams, even
 * with the next group prefetched) read memory at about half the rate (GEMV of 32768 x 2048 and
 * 8192 x 8192, CPU time, 1 thread: Q6_K 7-8.5 -> 13-16 GB/s, Q4_K 6-8 -> 9-10 GB/s).  The
 * other tokens find the rows in cache and take them 4 at a time, sharing the activation work. */
#define DEFINE_ROWS(name, rows_fn)                                                                          \
    void hearth_avx2_rows_##name(int64_t n, float *s, size_t ss, const void *w, size_t ws, int64_t nr,      \
                                 const void *a, size_t as, int64_t nc) {                                    \
        const uint8_t *W = w, *A = a;                                                                       \
        const int64_t  nb = n / HEARTH_QK_K;                                                                \
        for (int64_t c = 0; c < nc; c++) {                                                                  \
            const block_q8_K *y = (const block_q8_K *)(A + c * as);                                         \
            int64_t           r = 0;                                                                        \
            if (c > 0)                                                                                      \
                for (; r + 4 <= nr; r += 4) rows_fn(4, nb, s + c * ss + r, W + r * ws, ws, y);              \
            for (; r < nr; r++) rows_fn(1, nb, s + c * ss + r, W + r * ws, ws, y);                          \
        }                                                                                                   \
    }

/* One Q4_K row: q4k_row1 (the bits of q4k_rows(1, ...)). */
INLINE void q4k_rows_or_1(const int R, int64_t nb, float *s, const uint8_t *w, size_t ws, const block_q8_K *y) {
    if (R == 1) *s = q4k_row1(nb, (const block_q4_K *)w, y);
    else q4k_rows(R, nb, s, w, ws, y);
}

DEFINE_ROWS(q4_K, q4k_rows_or_1)
DEFINE_ROWS(q6_K, q6k_rows)

/* Q4_K batch tiles: hearth_avx2_vec_dot4_q4_K_gemm's float steps for 8 weight rows at once.
 *
 * vec_dot4_q4_K_gemm multiplies each 32-value sub-block with maddubs and then madd (scale)
 * and add per (row, token), and reduces 8 int32 lanes to one sum per (row, token, 64 values):
 * two multiplies per maddubs's 32 products.  Here 8 rows are interleaved first, 4 bytes (8
 * nibbles) per row at a time, into a panel: one 32-byte vector holds 4 values of each of the
 * 8 rows, a token's 4 activations are broadcast to every row, and maddubs gives int16 lanes
 * that belong to one row each.  The 8 products of a sub-block's 32 values add up in int16
 * (|sum| <= 8 * 2 * 15 * 128 = 30720), and one madd by the rows' scales then leaves each
 * row's exact integer sum in its own int32 lane: no horizontal reduction, about one multiply
 * per maddubs.  The float steps are then those of vec_dot4_q4_K_gemm with rows in the 8
 * lanes: per token and 64 values acc = fma(isum, d*dy, acc), mins = fma(imin, dmin*dy, mins).
 * A call builds the panels of all its rows (8 x 8 dword transposes), then runs each group of
 * 4 tokens against them. */
typedef struct {
    uint8_t qs[32][32]; /* [dword d of the block's qs][4 r + b]: byte 4d + b of row r */
    int16_t sc[8][16];  /* [sub-block][2 r, 2 r + 1]: row r's scale */
    int16_t mn[4][16];  /* [pair j][2 r + h]: row r's min of sub-block 2 j + h */
    float   d[8], dmin[8];
} q4k_panel_block;

/* Fewer tokens: building the panels costs more than they save (16 rows x 2048 columns, thread
 * CPU time against vec_dot4: Q4_K 1.0x at 4 tokens, 1.4x at 8; Q6_K 1.0x at 12, 1.1x at 16). */
#define Q4K_PANEL_MIN_TOKENS 8
#define Q6K_PANEL_MIN_TOKENS 16

/* Each thread's panel memory: grown on demand, freed when the thread ends. */
typedef struct {
    size_t cap;
    void  *p;
} panel_mem;
static pthread_key_t  panel_key;
static pthread_once_t panel_once = PTHREAD_ONCE_INIT;
static int            panel_key_ok;

static void panel_mem_free(void *arg) {
    panel_mem *m = arg;
    free(m->p);
    free(m);
}

static void panel_key_init(void) { panel_key_ok = pthread_key_create(&panel_key, panel_mem_free) == 0; }

void *hearth_avx2_panel_buffer(size_t bytes) {
    pthread_once(&panel_once, panel_key_init);
    if (!panel_key_ok) return NULL;
    panel_mem *m = pthread_getspecific(panel_key);
    if (!m) {
        if (!(m = calloc(1, sizeof *m))) return NULL;
        if (pthread_setspecific(panel_key, m)) {
            free(m);
            return NULL;
        }
    }
    if (m->cap < bytes) {
        const size_t cap = (bytes + 4095) & ~(size_t)4095;
        void        *p   = aligned_alloc(64, cap);
        if (!p) return NULL;
        free(m->p);
        m->p   = p;
        m->cap = cap;
    }
    return m->p;
}

/* In place: v[c] lane r = v[r] lane c (8 x 8 dwords). */
INLINE void transpose8_epi32(__m256i v[8]) {
    __m256i t[8], u[8];
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) {
        t[2 * i]     = _mm256_unpacklo_epi32(v[2 * i], v[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_epi32(v[2 * i], v[2 * i + 1]);
    }
#pragma GCC unroll 2
    for (int i = 0; i < 2; i++) { /* rows 4i..4i+3: u[4i + c] holds column c (low half) and c + 4 */
        u[4 * i]     = _mm256_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
        u[4 * i + 1] = _mm256_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
        u[4 * i + 2] = _mm256_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
        u[4 * i + 3] = _mm256_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
    }
#pragma GCC unroll 4
    for (int c = 0; c < 4; c++) {
        v[c]     = _mm256_permute2x128_si256(u[c], u[4 + c], 0x20);
        v[c + 4] = _mm256_permute2x128_si256(u[c], u[4 + c], 0x31);
    }
}

static void q4k_panel_build(q4k_panel_block *p, int64_t nb, const uint8_t *w, size_t ws) {
    for (int64_t i = 0; i < nb; i++) {
        const block_q4_K *x[8];
        __m256i           sc[8], mn[8];
        for (int r = 0; r < 8; r++) {
            x[r]             = (const block_q4_K *)(w + (size_t)r * ws) + i;
            const __m128i sm = k4_scales_mins(x[r]->scales);
            const __m256i s32 = _mm256_cvtepu8_epi32(sm); /* dword s: scale s twice */
            sc[r]            = _mm256_or_si256(s32, _mm256_slli_epi32(s32, 16));
            mn[r]            = _mm256_cvtepu8_epi16(_mm_srli_si128(sm, 8)); /* dword j: mins 2j, 2j + 1; 4..7 zero */
            p[i].d[r]        = avx2_half(x[r]->d);
            p[i].dmin[r]     = avx2_half(x[r]->dmin);
        }
        for (int t = 0; t < 4; t++) { /* qs bytes 32t..32t+31 of the 8 rows */
            __m256i q[8];
            for (int r = 0; r < 8; r++) q[r] = _mm256_loadu_si256((const __m256i *)(x[r]->qs + 32 * t));
            transpose8_epi32(q);
            for (int c = 0; c < 8; c++) _mm256_store_si256((__m256i *)p[i].qs[8 * t + c], q[c]);
        }
        transpose8_epi32(sc);
        transpose8_epi32(mn);
        for (int s = 0; s < 8; s++) _mm256_store_si256((__m256i *)p[i].sc[s], sc[s]);
        for (int j = 0; j < 4; j++) _mm256_store_si256((__m256i *)p[i].mn[j], mn[j]);
    }
}

/* The 4 bytes at p broadcast to the 8 dwords. */
INLINE __m256i bcast4(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, sizeof v);
    return _mm256_set1_epi32(v);
}

/* An empty asm that the compiler must assume changes *v: it keeps a running integer sum a
 * chain (left as it is, GCC reassociates the adds into a tree of all the products, spilling
 * most of them). */
INLINE void pin(__m256i *v) { __asm__("" : "+x"(*v)); }

/* 8 panel rows against 4 tokens: s[k * ss + r] for r < 8, k < 4. */
__attribute__((noinline)) static void q4k_panel_dot4(int64_t nb, const q4k_panel_block *p, float *s, size_t ss,
                                                     const uint8_t *a, size_t as) {
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    __m256        acc[4], mins[4];
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) acc[k] = mins[k] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const block_q8_K *y[4];
        __m256            dxy[4], dmy[4];
        _Alignas(16) int32_t bp[4][4]; /* [token][pair j]: bsums pair sums 2j, 2j+1 as int16 */
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++) {
            y[k] = (const block_q8_K *)(a + (size_t)k * as) + i;
            _mm_store_si128((__m128i *)bp[k], avx2_bsums_pairs(y[k]->bsums));
            const __m256 dy = _mm256_set1_ps(y[k]->d);
            dxy[k]          = _mm256_mul_ps(_mm256_load_ps(p[i].d), dy);
            dmy[k]          = _mm256_mul_ps(_mm256_load_ps(p[i].dmin), dy);
        }
        for (int j = 0; j < 4; j++) {
            /* low nibbles (sub-block 2j) into v, scaled into isum; then the high ones */
            __m256i isum[4], v[4];
#pragma GCC unroll 4
            for (int k = 0; k < 4; k++) v[k] = _mm256_setzero_si256();
#pragma GCC unroll 8
            for (int g = 0; g < 8; g++) {
                const __m256i wl = _mm256_and_si256(_mm256_load_si256((const __m256i *)p[i].qs[8 * j + g]), m4);
#pragma GCC unroll 4
                for (int k = 0; k < 4; k++) {
                    v[k] = _mm256_add_epi16(v[k], _mm256_maddubs_epi16(wl, bcast4(y[k]->qs + 64 * j + 4 * g)));
                    pin(&v[k]);
                }
            }
            const __m256i sl = _mm256_load_si256((const __m256i *)p[i].sc[2 * j]);
#pragma GCC unroll 4
            for (int k = 0; k < 4; k++) {
                isum[k] = _mm256_madd_epi16(v[k], sl);
                v[k]    = _mm256_setzero_si256();
            }
#pragma GCC unroll 8
            for (int g = 0; g < 8; g++) {
                const __m256i wh =
                    _mm256_and_si256(_mm256_srli_epi16(_mm256_load_si256((const __m256i *)p[i].qs[8 * j + g]), 4), m4);
#pragma GCC unroll 4
                for (int k = 0; k < 4; k++) {
                    v[k] = _mm256_add_epi16(v[k], _mm256_maddubs_epi16(wh, bcast4(y[k]->qs + 64 * j + 32 + 4 * g)));
                    pin(&v[k]);
                }
            }
            const __m256i sh = _mm256_load_si256((const __m256i *)p[i].sc[2 * j + 1]);
            const __m256i mn = _mm256_load_si256((const __m256i *)p[i].mn[j]);
#pragma GCC unroll 4
            for (int k = 0; k < 4; k++) {
                const __m256i is   = _mm256_add_epi32(isum[k], _mm256_madd_epi16(v[k], sh));
                const __m256i imin = _mm256_madd_epi16(mn, _mm256_set1_epi32(bp[k][j]));
                acc[k]  = _mm256_fmadd_ps(_mm256_cvtepi32_ps(is), dxy[k], acc[k]);
                mins[k] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(imin), dmy[k], mins[k]);
            }
        }
    }
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) _mm256_storeu_ps(s + (size_t)k * ss, _mm256_sub_ps(acc[k], mins[k]));
}

/* nr Q4_K rows against nc (a multiple of 4) Q8_K rows of one sequence, every (row, token) with
 * the bits of hearth_avx2_vec_dot4_q4_K_gemm: s[c * ss + r].  Groups of 8 rows go through a
 * panel when there are enough tokens to pay for it; the other rows through vec_dot4. */
void hearth_avx2_gemm4_q4_K(int64_t n, float *s, size_t ss, const void *w, size_t ws, int64_t nr, const void *a,
                            size_t as, int64_t nc) {
    const uint8_t *W = w, *A = a;
    const int64_t  nb = n / HEARTH_QK_K;
    int64_t        r  = 0;
    /* all the panels first, then each group of 4 tokens against them: its activations are
     * read from memory once for the nr rows */
    const int64_t np = nr / 8;
    q4k_panel_block *panel = np > 0 && nc >= Q4K_PANEL_MIN_TOKENS ? hearth_avx2_panel_buffer((size_t)(np * nb) * sizeof *panel) : NULL;
    if (panel) {
        for (int64_t p = 0; p < np; p++) q4k_panel_build(panel + p * nb, nb, W + (size_t)(8 * p) * ws, ws);
        for (int64_t c = 0; c + 4 <= nc; c += 4)
            for (int64_t p = 0; p < np; p++) q4k_panel_dot4(nb, panel + p * nb, s + c * ss + 8 * p, ss, A + c * as, as);
        r = 8 * np;
    }
    for (; r < nr; r++)
        for (int64_t c = 0; c + 4 <= nc; c += 4)
            hearth_avx2_vec_dot4_q4_K_gemm(n, s + c * ss + r, ss, W + (size_t)r * ws, A + c * as, as);
}

/* Q6_K batch tiles: hearth_avx2_vec_dot4_q6_K_tiled's float steps for 8 weight rows at once,
 * with the panel scheme of the Q4_K tiles above.  The panel holds the 6-bit quants unpacked
 * (bytes 0..63), 4 of each row per 32-byte vector.  A product pair of maddubs is at most
 * 2 * 63 * 128 = 16128, so two of them add up in int16 before the madd by the rows' scales
 * (of 16 values each); the -32 offset is taken off once per block through the activations'
 * bsums (corr lane r: sum over the 16 groups of scale * bsums).  Per block and token, rows in
 * the 8 float lanes: acc = fma(d * isum, dy, acc). */
typedef struct {
    uint8_t q[64][32];  /* [dword d of the block's 256 values][4 r + b]: value 4d + b of row r */
    int16_t sc[16][16]; /* [group of 16][2 r, 2 r + 1]: row r's scale */
    int16_t sp[8][16];  /* [pair p][2 r + h]: row r's scale of group 2 p + h */
    float   d[8];
} q6k_panel_block;


static void q6k_panel_build(q6k_panel_block *p, int64_t nb, const uint8_t *w, size_t ws) {
    for (int64_t i = 0; i < nb; i++) {
        _Alignas(32) uint8_t v[8][256]; /* [row][value]: the quants unpacked */
        __m256i              sc[2][8], sp[8];
        for (int r = 0; r < 8; r++) {
            const block_q6_K *x = (const block_q6_K *)(w + (size_t)r * ws) + i;
            for (int h = 0; h < 2; h++) {
                __m256i q[4];
                q6k_unpack_half(x->ql + 64 * h, x->qh + 32 * h, q);
                for (int k = 0; k < 4; k++) _mm256_store_si256((__m256i *)(v[r] + 128 * h + 32 * k), q[k]);
            }
            const __m128i s8 = _mm_loadu_si128((const __m128i *)x->scales);
            sp[r]            = _mm256_cvtepi8_epi16(s8); /* dword g: scales 2g, 2g + 1 */
            for (int h = 0; h < 2; h++) {                /* dword g: scale 8h + g twice */
                const __m256i s32 = _mm256_cvtepi8_epi32(h ? _mm_srli_si128(s8, 8) : s8);
                sc[h][r] = _mm256_or_si256(_mm256_and_si256(s32, _mm256_set1_epi32(0xFFFF)), _mm256_slli_epi32(s32, 16));
            }
            p[i].d[r] = avx2_half(x->d);
        }
        for (int t = 0; t < 8; t++) { /* values 32t..32t+31 of the 8 rows */
            __m256i q[8];
            for (int r = 0; r < 8; r++) q[r] = _mm256_load_si256((const __m256i *)(v[r] + 32 * t));
            transpose8_epi32(q);
            for (int c = 0; c < 8; c++) _mm256_store_si256((__m256i *)p[i].q[8 * t + c], q[c]);
        }
        for (int h = 0; h < 2; h++) {
            transpose8_epi32(sc[h]);
            for (int g = 0; g < 8; g++) _mm256_store_si256((__m256i *)p[i].sc[8 * h + g], sc[h][g]);
        }
        transpose8_epi32(sp);
        for (int g = 0; g < 8; g++) _mm256_store_si256((__m256i *)p[i].sp[g], sp[g]);
    }
}

/* 8 panel rows against 4 tokens: s[k * ss + r] for r < 8, k < 4. */
__attribute__((noinline)) static void q6k_panel_dot4(int64_t nb, const q6k_panel_block *p, float *s, size_t ss, const uint8_t *a, size_t as) {
    __m256 acc[4];
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) acc[k] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const block_q8_K *y[4];
        __m256i           isum[4], corr[4];
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++) {
            y[k]    = (const block_q8_K *)(a + (size_t)k * as) + i;
            isum[k] = corr[k] = _mm256_setzero_si256();
        }
#pragma GCC unroll 2
        for (int g = 0; g < 16; g++) {
            const __m256i w0 = _mm256_load_si256((const __m256i *)p[i].q[4 * g]);
            const __m256i w1 = _mm256_load_si256((const __m256i *)p[i].q[4 * g + 1]);
            const __m256i w2 = _mm256_load_si256((const __m256i *)p[i].q[4 * g + 2]);
            const __m256i w3 = _mm256_load_si256((const __m256i *)p[i].q[4 * g + 3]);
            const __m256i sc = _mm256_load_si256((const __m256i *)p[i].sc[g]);
#pragma GCC unroll 4
            for (int k = 0; k < 4; k++) {
                const int8_t *q8 = y[k]->qs + 16 * g;
                const __m256i pa = _mm256_add_epi16(_mm256_maddubs_epi16(w0, bcast4(q8)), _mm256_maddubs_epi16(w1, bcast4(q8 + 4)));
                const __m256i pb = _mm256_add_epi16(_mm256_maddubs_epi16(w2, bcast4(q8 + 8)), _mm256_maddubs_epi16(w3, bcast4(q8 + 12)));
                isum[k] = _mm256_add_epi32(isum[k], _mm256_add_epi32(_mm256_madd_epi16(pa, sc), _mm256_madd_epi16(pb, sc)));
                pin(&isum[k]);
            }
        }
#pragma GCC unroll 8
        for (int g = 0; g < 8; g++) {
            const __m256i sp = _mm256_load_si256((const __m256i *)p[i].sp[g]);
#pragma GCC unroll 4
            for (int k = 0; k < 4; k++) {
                int32_t b;
                memcpy(&b, y[k]->bsums + 2 * g, sizeof b);
                corr[k] = _mm256_add_epi32(corr[k], _mm256_madd_epi16(sp, _mm256_set1_epi32(b)));
                pin(&corr[k]);
            }
        }
        const __m256 d8 = _mm256_loadu_ps(p[i].d);
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++) {
            const __m256i is = _mm256_sub_epi32(isum[k], _mm256_slli_epi32(corr[k], 5));
            acc[k] = _mm256_fmadd_ps(_mm256_mul_ps(d8, _mm256_cvtepi32_ps(is)), _mm256_set1_ps(y[k]->d), acc[k]);
        }
    }
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) _mm256_storeu_ps(s + (size_t)k * ss, acc[k]);
}

/* nr Q6_K rows against nc (a multiple of 4) Q8_K rows, every (row, token) with the bits of
 * hearth_avx2_vec_dot4_q6_K_tiled: s[c * ss + r].  Groups of 8 rows through a panel when
 * there are enough tokens to pay for it; the other rows through vec_dot4_q6_K_tiled. */
void hearth_avx2_gemm4_q6_K(int64_t n, float *s, size_t ss, const void *w, size_t ws, int64_t nr, const void *a,
                            size_t as, int64_t nc) {
    const uint8_t *W = w, *A = a;
    const int64_t  nb = n / HEARTH_QK_K;
    int64_t        r  = 0;
    /* all the panels first, then each group of 4 tokens against them: its activations are
     * read from memory once for the nr rows */
    const int64_t np = nr / 8;
    q6k_panel_block *panel = np > 0 && nc >= Q6K_PANEL_MIN_TOKENS ? hearth_avx2_panel_buffer((size_t)(np * nb) * sizeof *panel) : NULL;
    if (panel) {
        for (int64_t p = 0; p < np; p++) q6k_panel_build(panel + p * nb, nb, W + (size_t)(8 * p) * ws, ws);
        for (int64_t c = 0; c + 4 <= nc; c += 4)
            for (int64_t p = 0; p < np; p++) q6k_panel_dot4(nb, panel + p * nb, s + c * ss + 8 * p, ss, A + c * as, as);
        r = 8 * np;
    }
    for (; r < nr; r++)
        for (int64_t c = 0; c + 4 <= nc; c += 4)
            hearth_avx2_vec_dot4_q6_K_tiled(n, s + c * ss + r, ss, W + (size_t)r * ws, A + c * as, as);
}

/* ---- Q4_K interleaved at load time (block_q4_Kx8, hearth_repack_q4_K_x8) ----------------------
 * A group of 8 rows is one stream of block_q4_Kx8: per super-block the 8 rows' d and dmin, their
 * packed scales as three dword vectors (row r in lane r) and their quants 4 bytes of each row
 * per 32-byte vector: the rows' sums build up in the 8 lanes without horizontal adds (9
 * multiplies per 256 products instead of 16), and the float steps are those of the plain
 * kernels lane by lane (decode: acc = fma(isum, d*dy, acc) per super-block; runs of 4+ tokens:
 * the GEMM panel, copied out of the stream instead of transposed). */

/* Control for _mm256_shuffle_epi8: in each dword lane q, int16 (byte 4q + b0), int16 (byte 4q +
 * b1), zero-extended (bytes with the top bit set read as zero). */
INLINE __m256i dw_bytes_ctrl(int b0, int b1) {
    const __m256i base = _mm256_setr_epi32(0, 0x04040404, 0x08080808, 0x0c0c0c0c, 0, 0x04040404, 0x08080808, 0x0c0c0c0c);
    return _mm256_add_epi8(base, _mm256_set1_epi32((int)(0x80008000u | (uint32_t)b0 | ((uint32_t)b1 << 16))));
}

/* The 8 rows' six-bit scales (lo: sub-blocks 0-3, hi: 4-7) and mins, byte s of dword lane r
 * (as k4_scales_mins, for 8 rows at once). */
INLINE void k4x8_scales_mins(const block_q4_Kx8 *x, __m256i *sc_lo, __m256i *sc_hi, __m256i *mn_lo, __m256i *mn_hi) {
    const __m256i u0 = _mm256_loadu_si256((const __m256i *)x->sc[0]);
    const __m256i u1 = _mm256_loadu_si256((const __m256i *)x->sc[1]);
    const __m256i u2 = _mm256_loadu_si256((const __m256i *)x->sc[2]);
    const __m256i m6 = _mm256_set1_epi8(0x3f), m4 = _mm256_set1_epi8(0x0f), m2 = _mm256_set1_epi8(0x03);
    *sc_lo = _mm256_and_si256(u0, m6);
    *sc_hi = _mm256_or_si256(_mm256_and_si256(u2, m4), _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(u0, 6), m2), 4));
    *mn_lo = _mm256_and_si256(u1, m6);
    *mn_hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi32(u2, 4), m4),
                             _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(u1, 6), m2), 4));
}

/* Scale of sub-block sb as int16 pairs per row: lanes 2r, 2r + 1. */
INLINE __m256i k4x8_scale(__m256i sc_lo, __m256i sc_hi, int sb) {
    return _mm256_shuffle_epi8(sb < 4 ? sc_lo : sc_hi, dw_bytes_ctrl(sb & 3, sb & 3));
}

/* Mins of sub-blocks 2j, 2j + 1 as int16 lanes 2r, 2r + 1. */
INLINE __m256i k4x8_minpair(__m256i mn_lo, __m256i mn_hi, int j) {
    return _mm256_shuffle_epi8(j < 2 ? mn_lo : mn_hi, dw_bytes_ctrl((2 * j) & 3, (2 * j + 1) & 3));
}

/* Decode prefetches a group's stream this many bytes ahead (GEMV of 64 x 2048 x 2048 from memory,
 * 1 / 2 threads: 10.2 / 6.7 ms without, 9.0 / 6.1 with 4 KiB; 2 and 8 KiB about the same). */
#define Q4X8_PF 4096
/* 8 interleaved rows against T (1, 2) Q8_K rows (as bytes apart): s[k * ss + r], r < 8, each
 * with the bits of vec_dot_q4_K; two tokens share the weight loads and the scale unpacking. */
INLINE void q4k_x8_dot(const int T, int64_t nb, const block_q4_Kx8 *x, const uint8_t *a, size_t as, float *s, size_t ss) {
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    __m256        acc[2], mins[2]; /* lane r: row r */
    for (int k = 0; k < T; k++) acc[k] = mins[k] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        {
            const char *p = (const char *)&x[i] + Q4X8_PF;
            for (size_t o = 0; o < sizeof x[i]; o += 64) _mm_prefetch(p + o, _MM_HINT_T0);
        }
        const block_q8_K *y[2];
        __m256i           sc_lo, sc_hi, mn_lo, mn_hi, isum[2];
        k4x8_scales_mins(&x[i], &sc_lo, &sc_hi, &mn_lo, &mn_hi);
        const __m256i mp[4] = { k4x8_minpair(mn_lo, mn_hi, 0), k4x8_minpair(mn_lo, mn_hi, 1), k4x8_minpair(mn_lo, mn_hi, 2),
                                k4x8_minpair(mn_lo, mn_hi, 3) };
        const __m256 d  = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)x[i].d));
        const __m256 dm = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)x[i].dmin));
        __m256i imin[2];
        for (int k = 0; k < T; k++) {
            y[k]    = (const block_q8_K *)(a + (size_t)k * as) + i;
            isum[k] = _mm256_setzero_si256();
            const __m128i bp = avx2_bsums_pairs(y[k]->bsums); /* dword j: pair sums of sub-blocks 2j, 2j + 1 */
            imin[k] = _mm256_madd_epi16(mp[0], _mm256_broadcastd_epi32(bp));
            imin[k] = _mm256_add_epi32(imin[k], _mm256_madd_epi16(mp[1], _mm256_broadcastd_epi32(_mm_shuffle_epi32(bp, 0x55))));
            imin[k] = _mm256_add_epi32(imin[k], _mm256_madd_epi16(mp[2], _mm256_broadcastd_epi32(_mm_shuffle_epi32(bp, 0xaa))));
            imin[k] = _mm256_add_epi32(imin[k], _mm256_madd_epi16(mp[3], _mm256_broadcastd_epi32(_mm_shuffle_epi32(bp, 0xff))));
        }
#pragma GCC unroll 4
        for (int t = 0; t < 4; t++) { /* qs bytes 32t..32t+31: sub-blocks 2t (low nibbles), 2t + 1 */
            __m256i vl[2], vh[2];
            for (int k = 0; k < T; k++) vl[k] = vh[k] = _mm256_setzero_si256();
#pragma GCC unroll 8
            for (int c = 0; c < 8; c++) {
                const __m256i q  = _mm256_loadu_si256((const __m256i *)x[i].qs[8 * t + c]);
                const __m256i ql = _mm256_and_si256(q, m4), qh = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
                for (int k = 0; k < T; k++) {
                    const int8_t *q8 = y[k]->qs + 64 * t + 4 * c;
                    vl[k] = _mm256_add_epi16(vl[k], _mm256_maddubs_epi16(ql, bcast4(q8)));
                    vh[k] = _mm256_add_epi16(vh[k], _mm256_maddubs_epi16(qh, bcast4(q8 + 32)));
                    pin(&vl[k]);
                    pin(&vh[k]);
                }
            }
            const __m256i sl = k4x8_scale(sc_lo, sc_hi, 2 * t), sh = k4x8_scale(sc_lo, sc_hi, 2 * t + 1);
            for (int k = 0; k < T; k++)
                isum[k] = _mm256_add_epi32(isum[k], _mm256_add_epi32(_mm256_madd_epi16(vl[k], sl), _mm256_madd_epi16(vh[k], sh)));
        }
        for (int k = 0; k < T; k++) {
            const __m256 dy = _mm256_set1_ps(y[k]->d);
            acc[k]  = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[k]), _mm256_mul_ps(d, dy), acc[k]);
            mins[k] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(imin[k]), _mm256_mul_ps(dm, dy), mins[k]);
        }
    }
    for (int k = 0; k < T; k++) _mm256_storeu_ps(s + (size_t)k * ss, _mm256_sub_ps(acc[k], mins[k]));
}

void hearth_avx2_rows_q4_K_x8(int64_t n, float *s, size_t ss, const void *w, size_t ws, int64_t nr, const void *a,
                              size_t as, int64_t nc) {
    const uint8_t *W = w, *A = a;
    const int64_t  nb = n / HEARTH_QK_K, ng = nr / 8;
    for (int64_t g = 0; g < ng; g++) {
        const block_q4_Kx8 *x = (const block_q4_Kx8 *)(W + (size_t)(8 * g) * ws);
        int64_t             c = 0;
        for (; c + 2 <= nc; c += 2) q4k_x8_dot(2, nb, x, A + (size_t)c * as, as, s + c * ss + 8 * g, ss);
        if (c < nc) q4k_x8_dot(1, nb, x, A + (size_t)c * as, as, s + c * ss + 8 * g, ss);
    }
    for (int64_t r = 8 * ng; r < nr; r++) /* past the last group: plain rows */
        for (int64_t c = 0; c < nc; c++) q4k_rows(1, nb, s + c * ss + r, W + (size_t)r * ws, 0, (const block_q8_K *)(A + (size_t)c * as));
}

/* The panel blocks of one group of 8 interleaved rows. */
static void q4k_panel_build_x8(q4k_panel_block *p, int64_t nb, const block_q4_Kx8 *x) {
    for (int64_t i = 0; i < nb; i++) {
        __m256i sc_lo, sc_hi, mn_lo, mn_hi;
        k4x8_scales_mins(&x[i], &sc_lo, &sc_hi, &mn_lo, &mn_hi);
        for (int sb = 0; sb < 8; sb++) _mm256_store_si256((__m256i *)p[i].sc[sb], k4x8_scale(sc_lo, sc_hi, sb));
        for (int j = 0; j < 4; j++) _mm256_store_si256((__m256i *)p[i].mn[j], k4x8_minpair(mn_lo, mn_hi, j));
        _mm256_store_ps(p[i].d, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)x[i].d)));
        _mm256_store_ps(p[i].dmin, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)x[i].dmin)));
        memcpy(p[i].qs, x[i].qs, sizeof p[i].qs);
    }
}

void hearth_avx2_gemm4_q4_K_x8(int64_t n, float *s, size_t ss, const void *w, size_t ws, int64_t nr, const void *a,
                               size_t as, int64_t nc) {
    const uint8_t *W = w, *A = a;
    const int64_t  nb = n / HEARTH_QK_K, np = nr / 8;
    q4k_panel_block *panel = np > 0 ? hearth_avx2_panel_buffer((size_t)(np * nb) * sizeof *panel) : NULL;
    if (panel) {
        for (int64_t p = 0; p < np; p++) q4k_panel_build_x8(panel + p * nb, nb, (const block_q4_Kx8 *)(W + (size_t)(8 * p) * ws));
        for (int64_t c = 0; c + 4 <= nc; c += 4)
            for (int64_t p = 0; p < np; p++) q4k_panel_dot4(nb, panel + p * nb, s + c * ss + 8 * p, ss, A + c * as, as);
    } else { /* no memory for the panels: each row taken out of its group (a row fits the stack) */
        _Alignas(64) block_q4_K row[HEARTH_X8_MAX_COLS / HEARTH_QK_K];
        const hearth_mat M = { .type = HEARTH_TYPE_Q4_K, .rows = 8 * np, .cols = n, .row_bytes = ws, .data = w, .x8 = true };
        for (int64_t r = 0; r < 8 * np; r++) {
            const void *x = hearth_x8_row(&M, r, row);
            for (int64_t c = 0; c + 4 <= nc; c += 4) hearth_avx2_vec_dot4_q4_K_gemm(n, s + c * ss + r, ss, x, A + c * as, as);
        }
    }
    for (int64_t r = 8 * np; r < nr; r++)
        for (int64_t c = 0; c + 4 <= nc; c += 4)
            hearth_avx2_vec_dot4_q4_K_gemm(n, s + c * ss + r, ss, W + (size_t)r * ws, A + c * as, as);
}
