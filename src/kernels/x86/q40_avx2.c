/* q40_avx2.c — Q4_0 weights times Q8_0 activations (AVX2): vec_dot, the tile kernel of plain
 * rows (decode, batched decode, prefill) and the tile kernel of rows interleaved at load time.
 *
 * Float order, the same in every path and tile shape: for a (row, token) pair
 *     acc = 0;  for each block b in order:  acc = fma((float)isum_b, dx_b * dy_b, acc)
 * where isum_b = sum_i (q_i - 8) a_i is the block's exact integer dot product and dx_b * dy_b
 * the float product of the row's and the token's scales: one scale step per block and row, as
 * in llama.cpp's repacked Q4_0 GEMM/GEMV (not the 8-lane order of its vec_dot).  isum_b is exact
 * however it is summed, so a tile may form it as suits its layout and a (row, token) pair gets
 * the same bits in every tile: prefill, decode and batched decode agree, with or without the
 * load-time interleave.
 *
 * The 8-row tiles put row r in int32 lane r: 4 bytes of each of 8 rows per 32-byte vector,
 * nibbles split, so one maddubs against a token's 4 activation bytes (broadcast) works on 8
 * rows and a row's sum ends in its own lane: per block and token 8 maddubs, 7 adds, one madd
 * and one scale step for 8 rows, no horizontal sums.  They differ in where the interleaved
 * rows come from:
 *  - x8 (q40_x8_tile): rows interleaved once at load (hearth_repack_q4_0_x8), read as one
 *    linear stream; the activation terms come with the activation rows (once per matmul).
 *  - panel (q40_panel_tile): plain rows, from Q40_PANEL_MIN_TOKENS tokens: groups of 8 rows
 *    interleaved into a panel once per call.
 *  - direct (q40_direct8): plain rows, 1..3 tokens: 8 rows interleaved in registers per block.
 *  - small (q40_small): up to 4 plain rows x 4 tokens for row tails and vec_dot: the 4 rows'
 *    vectors of int16 pair sums folded by a horizontal-add tree into one of the 4 rows' sums.
 * The quants' offset 8: they are taken unsigned (0..15) and 8 x the sum of the token's block
 * quants (a "term", with the block's scale as a float) is subtracted. */
#include "kernels/kernels_impl.h"
#include "kernels/x86/avx2_util.h"

#define INLINE static inline __attribute__((always_inline))

/* Blocks of token terms kept on the stack by the small tiles (8192 columns); longer rows are
 * done a chunk at a time, the accumulators carried over (the same operations in the same
 * order). */
#define Q40_CHUNK_NB 256

/* Fewer tokens than this: the small tiles (building the panels costs more than they save). */
#define Q40_PANEL_MIN_TOKENS 4

/* 16 bytes of nibbles -> 32 bytes (low nibbles in bytes 0..15, high in 16..31), one load. */
INLINE __m256i q40_nibbles(const uint8_t *p) {
    const __m256i b = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)p));
    return _mm256_and_si256(_mm256_srlv_epi32(b, _mm256_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4)), _mm256_set1_epi8(0x0F));
}

/* Terms of blocks [i0, i0 + n) of C tokens, [block - i0][token] (stride C): the block's scale as
 * a float and 8 x the sum of its quants. */
static void q40_terms(int C, int64_t i0, int64_t n, const uint8_t *a, size_t as, float *dy, int32_t *off) {
    for (int64_t k = 0; k < n; k++)
        for (int c = 0; c < C; c++) {
            const uint8_t *pa = a + (size_t)c * as + (size_t)(i0 + k) * sizeof(block_q8_0);
            dy[k * C + c]     = avx2_half(load16(pa));
            /* the signed bytes' sum: sad of the bytes offset by 128, less 32 x 128 */
            const __m256i y = _mm256_loadu_si256((const __m256i *)(pa + 2));
            const __m256i s = _mm256_sad_epu8(_mm256_xor_si256(y, _mm256_set1_epi8((char)0x80)), _mm256_setzero_si256());
            __m128i       t = _mm_add_epi64(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
            t               = _mm_add_epi64(t, _mm_unpackhi_epi64(t, t));
            off[k * C + c]  = 8 * (_mm_cvtsi128_si32(t) - 32 * 128);
        }
}

/* Weight rows read ahead by the 4-row small tile (it streams rows from memory in decode): the
 * lines of the tile PF_ROWS rows later, at the same offset in one linear stream. */
#define PF_ROWS 4

/* R (1..4) rows x C (1..4) tokens over blocks [i0, i0 + n) with their terms (dy, off as
 * q40_terms' for i0): acc[c] holds token c's sums of the rows in lanes 0..R-1 (the others are
 * not used), carried in and out. */
INLINE void q40_small(const int R, const int C, int64_t i0, int64_t n, const uint8_t *w, size_t ws,
                      const uint8_t *a, size_t as, const float *dy, const int32_t *off, __m128 *acc_io) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m128        acc[4];
#pragma GCC unroll 4
    for (int c = 0; c < C; c++) acc[c] = acc_io[c];
    for (int64_t k = 0; k < n; k++) {
        const int64_t  i  = i0 + k;
        const uint8_t *pw = w + (size_t)i * sizeof(block_q4_0);
        if (R == 4) {
            const char *pf = (const char *)w + (size_t)PF_ROWS * ws + (size_t)i * R * sizeof(block_q4_0);
            for (size_t o = 0; o < R * sizeof(block_q4_0); o += 64) _mm_prefetch(pf + o, _MM_HINT_T0);
        }
        uint64_t hx = 0; /* the rows' fp16 scales (lanes >= R: 0) */
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) hx |= (uint64_t)load16(pw + (size_t)r * ws) << (16 * r);
        const __m128 dx = _mm_cvtph_ps(_mm_cvtsi64_si128((long long)hx));
        __m256i      q[4];
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) q[r] = q40_nibbles(pw + (size_t)r * ws + 2);
#pragma GCC unroll 4
        for (int c = 0; c < C; c++) {
            const __m256i y = _mm256_loadu_si256((const __m256i *)(a + (size_t)c * as + (size_t)i * sizeof(block_q8_0) + 2));
            __m256i       m[4];
#pragma GCC unroll 4
            for (int r = 0; r < 4; r++) m[r] = r < R ? _mm256_maddubs_epi16(q[r], y) : _mm256_setzero_si256();
            /* int16 pair sums (|x| <= 2 x 15 x 127) added pairwise twice (<= 8 x 15 x 127: no
             * overflow): lanes [row 0 x2, row 1 x2, row 2 x2, row 3 x2] per 128-bit half; widened
             * and the halves added: the 4 rows' sums */
            const __m256i h  = _mm256_madd_epi16(
                _mm256_hadd_epi16(_mm256_hadd_epi16(m[0], m[1]), _mm256_hadd_epi16(m[2], m[3])), ones);
            __m128i       s4 = _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
            s4               = _mm_sub_epi32(s4, _mm_set1_epi32(off[k * C + c]));
            acc[c] = _mm_fmadd_ps(_mm_cvtepi32_ps(s4), _mm_mul_ps(dx, _mm_set1_ps(dy[k * C + c])), acc[c]);
        }
    }
#pragma GCC unroll 4
    for (int c = 0; c < C; c++) acc_io[c] = acc[c];
}

static void q40_small_any(int R, int C, int64_t i0, int64_t n, const uint8_t *w, size_t ws, const uint8_t *a,
                          size_t as, const float *dy, const int32_t *off, __m128 *acc) {
#define Q40_SMALL(RR, CC)                                                                                   \
    case (RR) * 8 + (CC): q40_small(RR, CC, i0, n, w, ws, a, as, dy, off, acc); break;
    switch (R * 8 + C) {
        Q40_SMALL(1, 1) Q40_SMALL(1, 2) Q40_SMALL(1, 3) Q40_SMALL(1, 4)
        Q40_SMALL(2, 1) Q40_SMALL(2, 2) Q40_SMALL(2, 3) Q40_SMALL(2, 4)
        Q40_SMALL(3, 1) Q40_SMALL(3, 2) Q40_SMALL(3, 3) Q40_SMALL(3, 4)
        Q40_SMALL(4, 1) Q40_SMALL(4, 2) Q40_SMALL(4, 3) Q40_SMALL(4, 4)
    default: break;
    }
#undef Q40_SMALL
}

/* s[c * ss + r] for R rows from acc[c] (C tokens). */
static void q40_store(int R, int C, const __m128 *acc, float *s, size_t ss) {
    for (int c = 0; c < C; c++) {
        _Alignas(16) float v[4];
        _mm_store_ps(v, acc[c]);
        for (int r = 0; r < R; r++) s[(size_t)c * ss + r] = v[r];
    }
}

/* Rows [r0, nr) x tokens [c0, c0 + C) (C <= 4) with the small tiles; dy/off: the tokens' terms
 * of all nb blocks, or NULL (then formed here a chunk at a time). */
static void q40_small_rows(int64_t nb, float *s, size_t ss, const uint8_t *w, size_t ws, int64_t r0, int64_t nr,
                           const uint8_t *a, size_t as, int C, const float *dy, const int32_t *off) {
    float   cdy[4 * Q40_CHUNK_NB];
    int32_t coff[4 * Q40_CHUNK_NB];
    if (!dy && nb <= Q40_CHUNK_NB) {
        q40_terms(C, 0, nb, a, as, cdy, coff);
        dy  = cdy;
        off = coff;
    }
    for (int64_t r = r0; r < nr; r += 4) {
        const int R      = nr - r < 4 ? (int)(nr - r) : 4;
        __m128    acc[4] = { _mm_setzero_ps(), _mm_setzero_ps(), _mm_setzero_ps(), _mm_setzero_ps() };
        const uint8_t *W = w + (size_t)r * ws;
        if (dy) {
            q40_small_any(R, C, 0, nb, W, ws, a, as, dy, off, acc);
        } else {
            for (int64_t i0 = 0; i0 < nb; i0 += Q40_CHUNK_NB) {
                const int64_t n = nb - i0 < Q40_CHUNK_NB ? nb - i0 : Q40_CHUNK_NB;
                q40_terms(C, i0, n, a, as, cdy, coff);
                q40_small_any(R, C, i0, n, W, ws, a, as, cdy, coff, acc);
            }
        }
        q40_store(R, C, acc, s + r, ss);
    }
}

/* One block of 8 interleaved rows: q[k] (k < 4) the low nibbles of bytes 4k..4k+3 of each
 * row's quants (lane r: row r; the values 4k..4k+3), q[4 + k] their high nibbles (values
 * 16 + 4k..16 + 4k + 3), d the rows' scales.  q[j] pairs with the activation quants' dword j. */
typedef struct {
    __m256i q[8];
    __m256  d;
} q40_panel;

/* Block pw of 8 rows (stride ws) interleaved as a q40_panel's q[] and d. */
INLINE void q40_interleave(const uint8_t *pw, size_t ws, __m256i *q, __m256 *d) {
    const __m256i lo = _mm256_set1_epi8(0x0F);
    __m128i       x[8];
    uint64_t      h0 = 0, h1 = 0;
#pragma GCC unroll 8
    for (int r = 0; r < 8; r++) {
        x[r] = _mm_loadu_si128((const __m128i *)(pw + (size_t)r * ws + 2));
        if (r < 4) h0 |= (uint64_t)load16(pw + (size_t)r * ws) << (16 * r);
        else h1 |= (uint64_t)load16(pw + (size_t)r * ws) << (16 * (r - 4));
    }
    /* 8 x 4 dwords -> 4 x 8: rows r and r + 4 share a register, then a 4 x 4 transpose per lane */
    const __m256i a0 = _mm256_set_m128i(x[4], x[0]), a1 = _mm256_set_m128i(x[5], x[1]);
    const __m256i a2 = _mm256_set_m128i(x[6], x[2]), a3 = _mm256_set_m128i(x[7], x[3]);
    const __m256i u0 = _mm256_unpacklo_epi32(a0, a1), u1 = _mm256_unpackhi_epi32(a0, a1);
    const __m256i u2 = _mm256_unpacklo_epi32(a2, a3), u3 = _mm256_unpackhi_epi32(a2, a3);
    const __m256i v[4] = { _mm256_unpacklo_epi64(u0, u2), _mm256_unpackhi_epi64(u0, u2),
                           _mm256_unpacklo_epi64(u1, u3), _mm256_unpackhi_epi64(u1, u3) };
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) {
        q[k]     = _mm256_and_si256(v[k], lo);
        q[4 + k] = _mm256_and_si256(_mm256_srli_epi16(v[k], 4), lo);
    }
    *d = _mm256_cvtph_ps(_mm_unpacklo_epi64(_mm_cvtsi64_si128((long long)h0), _mm_cvtsi64_si128((long long)h1)));
}

static void q40_build(int64_t nb, const uint8_t *w, size_t ws, q40_panel *p) {
    for (int64_t i = 0; i < nb; i++) {
        __m256i q[8];
        q40_interleave(w + (size_t)i * sizeof(block_q4_0), ws, q, &p[i].d);
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++) _mm256_store_si256(&p[i].q[j], q[j]);
    }
}

/* The 8 rows' sums of one token's block pa (its quants) against interleaved quants q: int32
 * lane r = row r, less the token's offset term. */
INLINE __m256i q40_isum8(const __m256i *q, const uint8_t *pa, int32_t off) {
    __m256i s16 = _mm256_maddubs_epi16(q[0], _mm256_set1_epi32(load32(pa)));
#pragma GCC unroll 8
    for (int j = 1; j < 8; j++) s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(q[j], _mm256_set1_epi32(load32(pa + 4 * j))));
    /* |16-bit sums| <= 8 x 2 x 15 x 127 = 30480: no overflow */
    return _mm256_sub_epi32(_mm256_madd_epi16(s16, _mm256_set1_epi16(1)), _mm256_set1_epi32(off));
}

/* The scale step of one block and token for 8 interleaved rows: acc + isum * (d * dy). */
INLINE __m256 q40_step8(const __m256i *q, __m256 d, const uint8_t *pa, int32_t off, float dy, __m256 acc) {
    return _mm256_fmadd_ps(_mm256_cvtepi32_ps(q40_isum8(q, pa, off)), _mm256_mul_ps(d, _mm256_set1_ps(dy)), acc);
}

/* Decode and small batches: 8 rows x C (1..3) tokens straight from the rows, interleaved in
 * registers block by block; dy/off as q40_terms' for the C tokens. */
INLINE void q40_direct8(const int C, int64_t nb, float *s, size_t ss, const uint8_t *w, size_t ws, const uint8_t *a,
                        size_t as, const float *dy, const int32_t *off) {
    __m256 acc[3];
#pragma GCC unroll 3
    for (int c = 0; c < C; c++) acc[c] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *pw = w + (size_t)i * sizeof(block_q4_0);
        {   /* the next 8 rows' lines as one linear stream, 8 blocks' worth a step (per-row
             * prefetches a few blocks ahead measured 1.4-1.9x slower from memory) */
            const char *pf = (const char *)w + (size_t)8 * ws + (size_t)i * 8 * sizeof(block_q4_0);
            for (size_t o = 0; o < 8 * sizeof(block_q4_0); o += 64) _mm_prefetch(pf + o, _MM_HINT_T0);
        }
        __m256i q[8];
        __m256  d;
        q40_interleave(pw, ws, q, &d);
#pragma GCC unroll 3
        for (int c = 0; c < C; c++) {
            acc[c] = q40_step8(q, d, a + (size_t)c * as + (size_t)i * sizeof(block_q8_0) + 2, off[i * C + c], dy[i * C + c],
                               acc[c]);
        }
    }
#pragma GCC unroll 3
    for (int c = 0; c < C; c++) _mm256_storeu_ps(s + (size_t)c * ss, acc[c]);
}

/* One panel (8 rows) x C (1..4) tokens over nb blocks; s[c * ss + r]. */
INLINE void q40_panel_tile(const int C, int64_t nb, const q40_panel *p, const uint8_t *a, size_t as,
                           const float *dy, const int32_t *off, float *s, size_t ss) {
    __m256 acc[4];
#pragma GCC unroll 4
    for (int c = 0; c < C; c++) acc[c] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        __m256i q[8];
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++) q[j] = _mm256_load_si256(&p[i].q[j]);
        const __m256 d = p[i].d;
#pragma GCC unroll 4
        for (int c = 0; c < C; c++) {
            acc[c] = q40_step8(q, d, a + (size_t)c * as + (size_t)i * sizeof(block_q8_0) + 2, off[i * C + c], dy[i * C + c],
                               acc[c]);
        }
    }
#pragma GCC unroll 4
    for (int c = 0; c < C; c++) _mm256_storeu_ps(s + (size_t)c * ss, acc[c]);
}

static void q40_panel_any(int C, int64_t nb, const q40_panel *p, const uint8_t *a, size_t as, const float *dy,
                          const int32_t *off, float *s, size_t ss) {
    switch (C) {
    case 1: q40_panel_tile(1, nb, p, a, as, dy, off, s, ss); break;
    case 2: q40_panel_tile(2, nb, p, a, as, dy, off, s, ss); break;
    case 3: q40_panel_tile(3, nb, p, a, as, dy, off, s, ss); break;
    default: q40_panel_tile(4, nb, p, a, as, dy, off, s, ss); break;
    }
}

/* The whole nr x nc block with panels for its groups of 8 rows (the rest with small tiles);
 * false when there is no memory for the panels (nothing done). */
static bool q40_gemm_panels(int64_t nb, float *s, size_t ss, const uint8_t *w, size_t ws, int64_t nr,
                            const uint8_t *a, size_t as, int64_t nc) {
    const int64_t np    = nr / 8;
    const size_t  pbyte = (size_t)(np * nb) * sizeof(q40_panel);
    uint8_t      *buf   = hearth_avx2_panel_buffer(pbyte + (size_t)nb * 4 * (sizeof(float) + sizeof(int32_t)));
    if (!buf) return false;
    q40_panel *panel = (q40_panel *)buf;
    float     *dy    = (float *)(buf + pbyte);
    int32_t   *off   = (int32_t *)(dy + nb * 4);
    for (int64_t g = 0; g < np; g++) q40_build(nb, w + (size_t)g * 8 * ws, ws, panel + g * nb);
    for (int64_t c = 0; c < nc; c += 4) {
        const int      C = nc - c < 4 ? (int)(nc - c) : 4;
        const uint8_t *A = a + (size_t)c * as;
        q40_terms(C, 0, nb, A, as, dy, off);
        for (int64_t g = 0; g < np; g++) q40_panel_any(C, nb, panel + g * nb, A, as, dy, off, s + (size_t)c * ss + g * 8, ss);
        if (np * 8 < nr) q40_small_rows(nb, s + (size_t)c * ss, ss, w, ws, np * 8, nr, A, as, C, dy, off);
    }
    return true;
}

void hearth_avx2_gemm_q4_0(int64_t n, float *s, size_t ss, const void *w, size_t ws, int64_t nr, const void *a,
                           size_t as, int64_t nc) {
    const int64_t nb = n / 32;
    if (nc >= Q40_PANEL_MIN_TOKENS && nr >= 8 && q40_gemm_panels(nb, s, ss, w, ws, nr, a, as, nc)) return;
    /* groups of up to 3 tokens: 8-row tiles straight from the rows, the rest small tiles */
    float   dy[3 * Q40_CHUNK_NB];
    int32_t off[3 * Q40_CHUNK_NB];
    for (int64_t c = 0; c < nc; c += 3) {
        const int      C = nc - c < 3 ? (int)(nc - c) : 3;
        const uint8_t *A = (const uint8_t *)a + (size_t)c * as;
        float         *S = s + (size_t)c * ss;
        int64_t        r = 0;
        if (nr >= 8 && nb <= Q40_CHUNK_NB) {
            q40_terms(C, 0, nb, A, as, dy, off);
            for (; r + 8 <= nr; r += 8) {
                const uint8_t *W = (const uint8_t *)w + (size_t)r * ws;
                switch (C) {
                case 1: q40_direct8(1, nb, S + r, ss, W, ws, A, as, dy, off); break;
                case 2: q40_direct8(2, nb, S + r, ss, W, ws, A, as, dy, off); break;
                default: q40_direct8(3, nb, S + r, ss, W, ws, A, as, dy, off); break;
                }
            }
            if (r < nr) q40_small_rows(nb, S, ss, w, ws, r, nr, A, as, C, dy, off);
        } else {
            q40_small_rows(nb, S, ss, w, ws, 0, nr, A, as, C, NULL, NULL);
        }
    }
}

/* ---- weights interleaved at load time (hearth_repack_q4_0_x8) -------------------------------
 * A group of 8 rows is stored block by block, 144 bytes a block: the 8 rows' scales (fp16),
 * then 4 x 32 bytes, the k-th holding bytes 4k..4k+3 of each row's quants (row r at 4r): the
 * panel layout before the nibble split, so the group reads as one linear stream and its
 * interleave costs nothing at run time.  Rows past the last whole group follow as they are. */

/* One group (8 rows) x C (1..4) tokens over nb blocks; s[c * ss + r].  Each token's
 * activation row carries its terms (HEARTH_X8_TERMS_AT). */
INLINE void q40_x8_tile(const int C, int64_t nb, const uint8_t *g, const uint8_t *a, size_t as, float *s, size_t ss) {
    const __m256i  lo = _mm256_set1_epi8(0x0F);
    const size_t   qb = HEARTH_X8_TERMS_AT(nb * 32);
    const float   *dy[4];
    const int32_t *off[4];
    __m256         acc[4];
#pragma GCC unroll 4
    for (int c = 0; c < C; c++) {
        acc[c] = _mm256_setzero_ps();
        dy[c]  = (const float *)(a + (size_t)c * as + qb);
        off[c] = (const int32_t *)(dy[c] + nb);
    }
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *p = g + (size_t)i * 144;
        _mm_prefetch((const char *)p + 1024, _MM_HINT_T0);
        _mm_prefetch((const char *)p + 1024 + 64, _MM_HINT_T0);
        _mm_prefetch((const char *)p + 1024 + 128, _MM_HINT_T0);
        const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
        __m256i      q[8];
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++) {
            const __m256i v = _mm256_loadu_si256((const __m256i *)(p + 16 + 32 * k));
            q[k]            = _mm256_and_si256(v, lo);
            q[4 + k]        = _mm256_and_si256(_mm256_srli_epi16(v, 4), lo);
        }
#pragma GCC unroll 4
        for (int c = 0; c < C; c++) {
            acc[c] = q40_step8(q, d, a + (size_t)c * as + (size_t)i * sizeof(block_q8_0) + 2, off[c][i], dy[c][i], acc[c]);
        }
    }
#pragma GCC unroll 4
    for (int c = 0; c < C; c++) _mm256_storeu_ps(s + (size_t)c * ss, acc[c]);
}

/* The tile kernel of interleaved Q4_0 (see kernels_impl.h): groups of 8 rows, each against all
 * the tokens 4 at a time before the next (a group read from memory once, its other passes from
 * L1: batched decode of 5-8 streams reads the weights once), then the rows past them (plain)
 * through the small tiles. */
void hearth_avx2_gemm_q4_0_x8(int64_t n, float *s, size_t ss, const void *w, size_t ws, int64_t nr, const void *a,
                              size_t as, int64_t nc) {
    const int64_t nb = n / 32, np = nr / 8;
    for (int64_t g = 0; g < np; g++) {
        const uint8_t *G = (const uint8_t *)w + (size_t)g * 8 * ws;
        for (int64_t c = 0; c < nc; c += 4) {
            const uint8_t *A = (const uint8_t *)a + (size_t)c * as;
            float         *S = s + (size_t)c * ss + g * 8;
            switch (nc - c < 4 ? nc - c : 4) {
            case 1: q40_x8_tile(1, nb, G, A, as, S, ss); break;
            case 2: q40_x8_tile(2, nb, G, A, as, S, ss); break;
            case 3: q40_x8_tile(3, nb, G, A, as, S, ss); break;
            default: q40_x8_tile(4, nb, G, A, as, S, ss); break;
            }
        }
    }
    if (np * 8 < nr)
        for (int64_t c = 0; c < nc; c += 4)
            q40_small_rows(nb, s + (size_t)c * ss, ss, w, ws, np * 8, nr, (const uint8_t *)a + (size_t)c * as, as,
                           nc - c < 4 ? (int)(nc - c) : 4, NULL, NULL);
}

void hearth_avx2_vec_dot_q4_0(int64_t n, float *s, const void *w, const void *a) {
    q40_small_rows(n / 32, s, 0, w, 0, 0, 1, a, 0, 1, NULL, NULL);
}

void hearth_avx2_vec_dot4_q4_0(int64_t n, float *s, size_t s_stride, const void *w, const void *a, size_t a_stride) {
    q40_small_rows(n / 32, s, s_stride, w, 0, 0, 1, a, a_stride, 4, NULL, NULL);
}
