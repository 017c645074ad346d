/* gemm_avx2.c — tiles of several weight rows times several activation rows for the 32-element
 * block types Q4_1, Q5_0, Q5_1 and Q8_0 (Q4_0 has its own order: q40_avx2.c).  Each weight block is unpacked once per tile and
 * each activation block loaded once per tile, so a tile of R rows x C tokens does R unpacks, C
 * loads and R*C integer dot products per block instead of R*C of each.  Decode uses 4 rows x 1
 * token (four independent accumulator chains), prefill 2 rows x 4 tokens.
 *
 * Bit-exactness: every (row, token) pair goes through exactly the same float operations in the
 * same order whatever the tile shape (the single-row vec_dot of these types is the 1 x 1 tile),
 * so prefill, decode and batched decode give the same bits. */
#include "kernels/kernels_impl.h"
#include "kernels/x86/avx2_util.h"

#define INLINE static inline __attribute__((always_inline))

#define SIGNED(k)  (!HAS_MIN(k))

/* 16 bytes of nibbles -> 32 bytes as avx2_nibbles32 would (low nibbles in bytes 0..15, high in 16..31),
 * from one 128-bit broadcast load: the upper half's dwords are shifted right by 4, so each of its
 * bytes gets its own high nibble in the low 4 bits. */
INLINE __m256i nibbles32(const uint8_t *p) {
    const __m256i b = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)p));
    return _mm256_and_si256(_mm256_srlv_epi32(b, _mm256_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4)), _mm256_set1_epi8(0x0F));
}

/* The fp16 at p, p + st, p + 2 st, p + 3 st (the first n; 0 after) as 4 floats: gathered in a
 * general register and converted with one vcvtph2ps (vpinsrw is slow). */
INLINE __m128 half4_at(const uint8_t *p, size_t st, const int n) {
    uint16_t h[4] = { 0, 0, 0, 0 };
    memcpy(&h[0], p, 2);
    if (n > 1) memcpy(&h[1], p + st, 2);
    if (n > 2) memcpy(&h[2], p + 2 * st, 2);
    if (n > 3) memcpy(&h[3], p + 3 * st, 2);
    const uint64_t v = (uint64_t)h[0] | (uint64_t)h[1] << 16 | (uint64_t)h[2] << 32 | (uint64_t)h[3] << 48;
    return _mm_cvtph_ps(_mm_cvtsi64_si128((long long)v));
}

/* Weight rows read ahead by the tiles that stream rows from memory (decode, small batches): one
 * 4-row tile.  16 rows (18-35 KiB ahead at 2048 columns) ran ahead of the 32 KiB L1: the
 * probe's Q8_0 GEMV read 13 GB/s with 16, 22-27 with 4. */
#define PF_ROWS 4

/* Prefetch for a tile of R rows at block i: the tile's rows lie back to back, so the lines it
 * will read PF_ROWS rows later are at the same offset in one linear stream, R * wb bytes further
 * per block; the lines of those bytes are fetched (one stream that crosses pages in order instead
 * of R short ones). */
INLINE void prefetch_ahead(const uint8_t *w, size_t ws, int64_t i, const int R, const size_t wb) {
    const char *pf = (const char *)w + (size_t)PF_ROWS * ws + (size_t)i * R * wb;
    for (size_t o = 0; o < R * wb; o += 64) _mm_prefetch(pf + o, _MM_HINT_T0);
}

/* The 32 quants of weight block p as bytes: signed for Q5_0/Q8_0 (value), unsigned for
 * Q4_1/Q5_1. */
INLINE __m256i unpack_w(const int kind, const uint8_t *p) {
    switch (kind) {
    case K_Q4_1: return nibbles32(((const block_q4_1 *)p)->qs);
    case K_Q5_0: {
        const block_q5_0 *b = (const block_q5_0 *)p;
        return _mm256_or_si256(nibbles32(b->qs), _mm256_andnot_si256(avx2_bits32(b->qh), _mm256_set1_epi8((char)0xF0)));
    }
    case K_Q5_1: {
        const block_q5_1 *b = (const block_q5_1 *)p;
        return _mm256_or_si256(nibbles32(b->qs), _mm256_and_si256(avx2_bits32(b->qh), _mm256_set1_epi8(0x10)));
    }
    default: return _mm256_loadu_si256((const __m256i *)((const block_q8_0 *)p)->qs);
    }
}

/* fp16 scale (d) and min (m) fields: the first two halves of every block of these kinds. */
INLINE float half_at(const uint8_t *p, int idx) {
    uint16_t h;
    memcpy(&h, p + 2 * idx, 2);
    return avx2_half(h);
}

/* Two adjacent fp16 fields (d, m of a weight block; d, s of a Q8_1 block) as floats in lanes 0, 1. */
INLINE __m128 half2_at(const uint8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm_cvtph_ps(_mm_cvtsi32_si128(v));
}

/* One token (decode) against R rows of a kind with mins: per block, [dx, mx] * [dy, sy] gives
 * the scale product and the mins term of a (row, token) pair in one multiply.  The float
 * operations per pair are those of tile32's general path (dx * dy, mx * sy, each a plain
 * multiply; the mins summed in block order), so the results are the same bits. */
INLINE void tile32_min_1(const int kind, const int R, int64_t nb, float *s, const uint8_t *w, size_t ws,
                         const uint8_t *a) {
    const size_t  wb   = WBYTES(kind);
    const __m256i ones = _mm256_set1_epi16(1);
    __m256        acc[4];
    __m128        summ[4]; /* lane 1: the mins term */
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
        acc[r]  = _mm256_setzero_ps();
        summ[r] = _mm_setzero_ps();
    }
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *pa = a + (size_t)i * sizeof(block_q8_1);
        const __m128   dy = half2_at(pa);
        const __m256i  y  = _mm256_loadu_si256((const __m256i *)(pa + 4));
        if (R > 1) prefetch_ahead(w, ws, i, R, wb);
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            const uint8_t *p  = w + (size_t)r * ws + (size_t)i * wb;
            const __m128   dm = _mm_mul_ps(half2_at(p), dy);
            summ[r]           = _mm_add_ps(summ[r], dm);
            const __m256   pf = _mm256_cvtepi32_ps(_mm256_madd_epi16(_mm256_maddubs_epi16(unpack_w(kind, p), y), ones));
            acc[r]            = _mm256_fmadd_ps(_mm256_broadcastss_ps(dm), pf, acc[r]);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) s[r] = avx2_hsum_ps(acc[r]) + _mm_cvtss_f32(_mm_movehdup_ps(summ[r]));
}

/* One token (decode) against R rows of a kind without mins.  Q5_0 takes its quants unsigned
 * (0..31) and subtracts the offset 16 times the activation's 4-byte sums per lane, formed once
 * per block for the R rows: the same int32 lanes as the sign trick of
 * tile32, with fewer operations per row.  The float operations per pair are those of tile32
 * (dx * dy, then one FMA per block into 8 lanes), so the results are the same bits. */
INLINE void tile32_signed_1(const int kind, const int R, int64_t nb, float *s, const uint8_t *w, size_t ws,
                            const uint8_t *a) {
    const size_t  wb   = WBYTES(kind);
    const __m256i ones = _mm256_set1_epi16(1);
    __m256        acc[4];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) acc[r] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *pa = a + (size_t)i * sizeof(block_q8_0);
        const uint8_t *pw = w + (size_t)i * wb;
        const __m256i  y  = _mm256_loadu_si256((const __m256i *)(pa + 2));
        __m256i        yoff = _mm256_setzero_si256();
        if (kind == K_Q5_0) yoff = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(16), y), ones);
        if (R > 1) prefetch_ahead(w, ws, i, R, wb);
        /* dx * dy of the R rows in one multiply (the same float products as one per row) */
        _Alignas(16) float d[4];
        _mm_store_ps(d, _mm_mul_ps(half4_at(pw, ws, R), _mm_set1_ps(half_at(pa, 0))));
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            const uint8_t *p = pw + (size_t)r * ws;
            __m256i lanes;
            if (kind == K_Q5_0) {
                const block_q5_0 *b = (const block_q5_0 *)p;
                const __m256i     q = _mm256_or_si256(nibbles32(b->qs),
                                                      _mm256_and_si256(avx2_bits32(b->qh), _mm256_set1_epi8(0x10)));
                lanes = _mm256_sub_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(q, y), ones), yoff);
            } else {
                const __m256i q = unpack_w(kind, p);
                lanes = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(q, q), _mm256_sign_epi8(y, q)), ones);
            }
            acc[r] = _mm256_fmadd_ps(_mm256_broadcast_ss(&d[r]), _mm256_cvtepi32_ps(lanes), acc[r]);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) s[r] = avx2_hsum_ps(acc[r]);
}

/* s[c * ss + r] = dot(weight row r, activation row c) for r < R, c < C (C <= 4), over nb blocks.
 * Per block, the scale products of all pairs come from one multiply per row: for kinds with
 * mins [dx, mx] x 4 times [dy0, sy0, dy1, sy1, ...] (the odd lanes are the mins terms, summed
 * per row in a vector), otherwise dx times [dy0, dy1, ...]; they go through a small buffer so
 * each pair broadcasts its scale with a load. */
INLINE void tile32(const int kind, const int R, const int C, int64_t nb, float *s, size_t ss, const uint8_t *w,
                   size_t ws, const uint8_t *a, size_t as) {
    if (HAS_MIN(kind) && C == 1) {
        tile32_min_1(kind, R, nb, s, w, ws, a);
        return;
    }
    if (C == 1) {
        tile32_signed_1(kind, R, nb, s, w, ws, a);
        return;
    }
    const size_t  wb   = WBYTES(kind);
    const size_t  ab   = HAS_MIN(kind) ? sizeof(block_q8_1) : sizeof(block_q8_0);
    const size_t  yo   = HAS_MIN(kind) ? 4 : 2; /* offset of the quants in an activation block */
    const __m256i ones = _mm256_set1_epi16(1);
    __m256        acc[4][4];
    __m256        summ[4]; /* lane 2c + 1: the mins term of token c */
    __m256        dd[4]; /* the scale products of row r (see below) */
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
        summ[r] = _mm256_setzero_ps();
#pragma GCC unroll 4
        for (int c = 0; c < C; c++) acc[r][c] = _mm256_setzero_ps();
    }
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *pa = a + (size_t)i * ab;
        __m256         dsy;
        __m128         dyv;
        if (HAS_MIN(kind)) {
            __m128i t = _mm_cvtsi32_si128(load32(pa));
            if (C > 1) t = _mm_insert_epi32(t, load32(pa + as), 1);
            if (C > 2) t = _mm_insert_epi32(t, load32(pa + 2 * as), 2);
            if (C > 3) t = _mm_insert_epi32(t, load32(pa + 3 * as), 3);
            dsy = _mm256_cvtph_ps(t);
            (void)dyv;
        } else {
            dyv = half4_at(pa, as, C);
            (void)dsy;
        }
        __m256i q[4], aq[4];
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            const uint8_t *p = w + (size_t)r * ws + (size_t)i * wb;
            if (C == 1 && R > 1) _mm_prefetch((const char *)(p + (size_t)R * ws), _MM_HINT_T0);
            q[r]             = unpack_w(kind, p);
            if (SIGNED(kind)) aq[r] = _mm256_sign_epi8(q[r], q[r]);
            if (HAS_MIN(kind)) {
                const __m128 xm = _mm_cvtph_ps(_mm_cvtsi32_si128(load32(p)));
                const __m256 pr = _mm256_mul_ps(_mm256_castpd_ps(_mm256_broadcastsd_pd(_mm_castps_pd(xm))), dsy);
                summ[r]         = _mm256_add_ps(summ[r], pr);
                dd[r]           = pr; /* dx * dy_c in lane 2c */
            } else {
                const __m128 pr = _mm_mul_ps(_mm_set1_ps(half_at(p, 0)), dyv);
                dd[r]           = _mm256_set_m128(pr, pr); /* dx * dy_c in lanes c, c + 4 */
            }
        }
#pragma GCC unroll 4
        for (int c = 0; c < C; c++) {
            const __m256i y = _mm256_loadu_si256((const __m256i *)(pa + (size_t)c * as + yo));
#pragma GCC unroll 4
            for (int r = 0; r < R; r++) {
                __m256i p16;
                if (SIGNED(kind)) p16 = _mm256_maddubs_epi16(aq[r], _mm256_sign_epi8(y, q[r]));
                else p16 = _mm256_maddubs_epi16(q[r], y);
                const __m256 pf = _mm256_cvtepi32_ps(_mm256_madd_epi16(p16, ones));
                /* the pair's scale broadcast from the register (not stored and loaded back:
                 * the loads would wait for the store) */
                __m256 dv;
                if (HAS_MIN(kind)) dv = _mm256_permutevar8x32_ps(dd[r], _mm256_set1_epi32(2 * c));
                else if (c == 0) dv = _mm256_permute_ps(dd[r], 0x00);
                else if (c == 1) dv = _mm256_permute_ps(dd[r], 0x55);
                else if (c == 2) dv = _mm256_permute_ps(dd[r], 0xAA);
                else dv = _mm256_permute_ps(dd[r], 0xFF);
                acc[r][c] = _mm256_fmadd_ps(dv, pf, acc[r][c]);
            }
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
        _Alignas(32) float m[8];
        _mm256_store_ps(m, summ[r]);
#pragma GCC unroll 4
        for (int c = 0; c < C; c++) {
            float v = avx2_hsum_ps(acc[r][c]);
            if (HAS_MIN(kind)) v += m[2 * c + 1];
            s[(size_t)c * ss + r] = v;
        }
    }
}

/* Q8_0 against 4 or more tokens, Q5_0 against 8 or more (batched decode, prefill; rows of at
 * most P8_MAX_NB blocks): 1 row x C (4..8) tokens, per weight block only the integer dot products
 * and one FMA per (row, token) pair in the inner loop.  The pairs' scale products dx * dy (the
 * float multiplies of tile32) are formed for all blocks of a row before its loop and broadcast
 * from memory (a load, no shuffle); the rows' dx are converted once per P8_ROWS rows, the
 * tokens' dy and quants (copied to aligned slots, 8 per block, dy 0 past C) once per group of
 * tokens and P8_ROWS rows.  Past 64 blocks the copied quants of 8 tokens (32 KiB) no longer stay
 * in L1 and tile32 is faster. */
#define P8_ROWS    16
#define P8_MAX_NB  64
#define P8_MIN_TOK(kind) ((kind) == K_Q5_0 ? 8 : 4) /* fewer: tile32 (measured) */

/* dx[i * P8_ROWS + r]: the scale of block i of row r (r < nr <= P8_ROWS) as a float. */
INLINE void p8_row_scales(const int kind, int64_t nb, const uint8_t *w, size_t ws, int64_t nr, float *dx) {
    for (int64_t r = 0; r < nr; r++)
        for (int64_t i = 0; i < nb; i++)
            dx[i * P8_ROWS + r] = avx2_half(load16(w + (size_t)r * ws + (size_t)i * WBYTES(kind)));
}

/* For C tokens: dy[i * 8 + c], the scale of block i of token c as a float (0 for c >= C), and
 * yq[i * 8 + c] its quants. */
INLINE void p8_token_terms(const int C, int64_t nb, const uint8_t *a, size_t as, __m256i *yq, float *dy) {
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *pa = a + (size_t)i * sizeof(block_q8_0);
#pragma GCC unroll 8
        for (int c = 0; c < 8; c++) {
            dy[i * 8 + c] = c < C ? avx2_half(load16(pa + (size_t)c * as)) : 0.0f;
            if (c < C) yq[i * 8 + c] = _mm256_loadu_si256((const __m256i *)(pa + (size_t)c * as + 2));
        }
    }
}

/* One row x C tokens of Q8_0 or Q5_0; dx as p8_row_scales' (offset to the row), sc a buffer of
 * nb * 8 floats.  Integer lanes as tile32's sign trick, the float operations of each pair as
 * tile32's (dx * dy, one FMA per block into 8 lanes, the same hsum): the same bits. */
INLINE void p8_tile(const int kind, const int C, int64_t nb, float *s, size_t ss, const uint8_t *w, size_t ws,
                    const __m256i *yq, const float *dy, const float *dx, float *sc) {
    const size_t wb = WBYTES(kind);
    for (int64_t i = 0; i < nb; i++)
        _mm256_store_ps(sc + i * 8, _mm256_mul_ps(_mm256_broadcast_ss(dx + i * P8_ROWS), _mm256_load_ps(dy + i * 8)));
    const __m256i ones = _mm256_set1_epi16(1);
    __m256        acc[8];
#pragma GCC unroll 8
    for (int c = 0; c < C; c++) acc[c] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        prefetch_ahead(w, ws, i, 1, wb);
        const __m256i q  = unpack_w(kind, w + (size_t)i * wb);
        const __m256i aq = _mm256_sign_epi8(q, q);
#pragma GCC unroll 8
        for (int c = 0; c < C; c++) {
            const __m256i lanes = _mm256_madd_epi16(_mm256_maddubs_epi16(aq, _mm256_sign_epi8(yq[i * 8 + c], q)), ones);
            acc[c] = _mm256_fmadd_ps(_mm256_broadcast_ss(sc + i * 8 + c), _mm256_cvtepi32_ps(lanes), acc[c]);
        }
    }
#pragma GCC unroll 8
    for (int c = 0; c < C; c++) s[(size_t)c * ss] = avx2_hsum_ps(acc[c]);
}

INLINE void p8_rows(const int kind, const int C, int64_t nb, float *s, size_t ss, const uint8_t *W, size_t ws,
                    int64_t rn, const __m256i *yq, const float *dy, const float *dx, float *sc) {
    for (int64_t r = 0; r < rn; r++) p8_tile(kind, C, nb, s + r, ss, W + (size_t)r * ws, ws, yq, dy, dx + r, sc);
}

/* Tokens in groups of 8, a rest of 9 to 15 as two groups (the first of 5 to 8), a last group of
 * 4 to 7 as it is, against nr rows of Q8_0 / Q5_0 (nb <= P8_MAX_NB), P8_ROWS rows at a time;
 * returns the tokens done (a rest below P8_MIN_TOK is left to tile32). */
INLINE int64_t p8_gemm(const int kind, int64_t nb, float *s, size_t ss, const uint8_t *w, size_t ws, int64_t nr,
                       const uint8_t *a, size_t as, int64_t nc) {
    __m256i            yq[8 * P8_MAX_NB];
    _Alignas(32) float dy[8 * P8_MAX_NB];
    _Alignas(32) float dx[P8_ROWS * P8_MAX_NB];
    _Alignas(32) float sc[8 * P8_MAX_NB];
    int64_t            c = 0;
    for (int64_t r0 = 0; r0 < nr; r0 += P8_ROWS) {
        const int64_t  rn = nr - r0 < P8_ROWS ? nr - r0 : P8_ROWS;
        const uint8_t *W  = w + (size_t)r0 * ws;
        p8_row_scales(kind, nb, W, ws, rn, dx);
        for (c = 0; nc - c >= P8_MIN_TOK(kind);) {
            const int64_t rest = nc - c;
            const int     C    = rest >= 16 || rest == 8 ? 8 : rest > 8 ? (int)(rest - rest / 2) : (int)rest;
            float        *S    = s + (size_t)c * ss + r0;
            p8_token_terms(C, nb, a + (size_t)c * as, as, yq, dy);
            switch (C) {
            case 8: p8_rows(kind, 8, nb, S, ss, W, ws, rn, yq, dy, dx, sc); break;
            case 7: p8_rows(kind, 7, nb, S, ss, W, ws, rn, yq, dy, dx, sc); break;
            case 6: p8_rows(kind, 6, nb, S, ss, W, ws, rn, yq, dy, dx, sc); break;
            case 5: p8_rows(kind, 5, nb, S, ss, W, ws, rn, yq, dy, dx, sc); break;
            default: p8_rows(kind, 4, nb, S, ss, W, ws, rn, yq, dy, dx, sc); break;
            }
            c += C;
        }
    }
    return c;
}

/* Kinds with mins (Q4_1, Q5_1), 2 to 8 tokens at a time (batched decode and prefill), one weight
 * row at a time: per block only the unpack of the row and, per token, the integer dot product
 * and one FMA whose scale is broadcast from memory.  The token terms (dy, sy of every block, 8
 * lanes, 0 past C) are converted once per call; the scale products dx * dy_c of a row's blocks
 * and its mins terms mx * sy_c (summed in block order, 8 lanes) come from one pass over the
 * row's block headers before its dot products.  The float operations of each pair are tile32's
 * (dx * dy and mx * sy plain multiplies, one FMA per block into 8 lanes, hsum, then the mins
 * sum added): the same bits. */
#define TM_MAX_NB 256

INLINE void tm_tokens(const int C, int64_t nb, const uint8_t *a, size_t as, float *dy, float *sy) {
    for (int64_t i = 0; i < nb; i++)
        for (int c = 0; c < 8; c++) {
            dy[i * 8 + c] = c < C ? avx2_half(load16(a + (size_t)c * as + (size_t)i * sizeof(block_q8_1))) : 0.0f;
            sy[i * 8 + c] = c < C ? avx2_half(load16(a + (size_t)c * as + (size_t)i * sizeof(block_q8_1) + 2)) : 0.0f;
        }
}

INLINE void tm_row(const int kind, const int C, int64_t nb, float *s, size_t ss, const uint8_t *w, size_t ws,
                   const uint8_t *a, size_t as, const float *dy, const float *sy, float *sc) {
    const size_t  wb   = WBYTES(kind);
    const __m256i ones = _mm256_set1_epi16(1);
    __m256        summ = _mm256_setzero_ps();
    for (size_t o = 0; o < (size_t)nb * wb; o += 64)
        _mm_prefetch((const char *)w + (size_t)PF_ROWS * ws + o, _MM_HINT_T0);
    for (int64_t i = 0; i < nb; i++) {
        const __m128 dm = half2_at(w + (size_t)i * wb);
        _mm256_store_ps(sc + i * 8, _mm256_mul_ps(_mm256_broadcastss_ps(dm), _mm256_load_ps(dy + i * 8)));
        const __m256 mx = _mm256_broadcastss_ps(_mm_movehdup_ps(dm));
        summ            = _mm256_add_ps(summ, _mm256_mul_ps(mx, _mm256_load_ps(sy + i * 8)));
    }
    __m256 acc[8];
#pragma GCC unroll 8
    for (int c = 0; c < C; c++) acc[c] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const __m256i  q  = unpack_w(kind, w + (size_t)i * wb);
        const uint8_t *pa = a + (size_t)i * sizeof(block_q8_1) + 4;
#pragma GCC unroll 8
        for (int c = 0; c < C; c++) {
            const __m256i y  = _mm256_loadu_si256((const __m256i *)(pa + (size_t)c * as));
            const __m256  pf = _mm256_cvtepi32_ps(_mm256_madd_epi16(_mm256_maddubs_epi16(q, y), ones));
            acc[c]           = _mm256_fmadd_ps(_mm256_broadcast_ss(sc + i * 8 + c), pf, acc[c]);
        }
    }
    _Alignas(32) float m[8];
    _mm256_store_ps(m, summ);
#pragma GCC unroll 8
    for (int c = 0; c < C; c++) s[(size_t)c * ss] = avx2_hsum_ps(acc[c]) + m[c];
}

INLINE void tm_rows(const int kind, const int C, int64_t nb, float *s, size_t ss, const uint8_t *w, size_t ws,
                    int64_t nr, const uint8_t *a, size_t as) {
    _Alignas(32) float dy[8 * TM_MAX_NB], sy[8 * TM_MAX_NB], sc[8 * TM_MAX_NB];
    tm_tokens(C, nb, a, as, dy, sy);
    for (int64_t r = 0; r < nr; r++) tm_row(kind, C, nb, s + r, ss, w + (size_t)r * ws, ws, a, as, dy, sy, sc);
}

/* Tokens in groups of 8 against nr rows, a rest of 9 to 15 as two groups (the first of 5 to 8), a
 * last group of 5 to 7 as it is; returns the tokens done (a rest of at most 4 is left to tile32:
 * with so few tokens per row the row pass costs more than it saves). */
INLINE int64_t tm_gemm(const int kind, int64_t nb, float *s, size_t ss, const uint8_t *w, size_t ws, int64_t nr,
                       const uint8_t *a, size_t as, int64_t nc) {
    int64_t c = 0;
    while (nc - c >= 5) {
        const int64_t  rest = nc - c;
        const int64_t  C    = rest >= 16 || rest == 8 ? 8 : rest > 8 ? rest - rest / 2 : rest;
        float         *S    = s + (size_t)c * ss;
        const uint8_t *A    = a + (size_t)c * as;
        switch (C) {
        case 8: tm_rows(kind, 8, nb, S, ss, w, ws, nr, A, as); break;
        case 7: tm_rows(kind, 7, nb, S, ss, w, ws, nr, A, as); break;
        case 6: tm_rows(kind, 6, nb, S, ss, w, ws, nr, A, as); break;
        default: tm_rows(kind, 5, nb, S, ss, w, ws, nr, A, as); break;
        }
        c += C;
    }
    return c;
}

/* Any nr x nc block, tiled 2 x 4 (prefill), 4 x 1 (token tails and decode), 1 x n (row tails). */
INLINE void gemm32(const int kind, int64_t n, float *s, size_t ss, const void *w, size_t ws, int64_t nr,
                   const void *a, size_t as, int64_t nc) {
    const int64_t  nb = n / 32;
    const uint8_t *W = w, *A = a;
    int64_t        c = 0;
    if ((kind == K_Q8_0 || kind == K_Q5_0) && nb <= P8_MAX_NB && nc >= P8_MIN_TOK(kind))
        c = p8_gemm(kind, nb, s, ss, W, ws, nr, A, as, nc);
    if (HAS_MIN(kind) && nb <= TM_MAX_NB) c = tm_gemm(kind, nb, s, ss, W, ws, nr, A, as, nc);
    for (; c + 4 <= nc; c += 4) {
        int64_t r = 0;
        for (; r + 2 <= nr; r += 2) tile32(kind, 2, 4, nb, s + c * ss + r, ss, W + r * ws, ws, A + c * as, as);
        for (; r < nr; r++) tile32(kind, 1, 4, nb, s + c * ss + r, ss, W + r * ws, ws, A + c * as, as);
    }
    for (; c < nc; c++) {
        int64_t r = 0;
        for (; r + 4 <= nr; r += 4) tile32(kind, 4, 1, nb, s + c * ss + r, ss, W + r * ws, ws, A + c * as, as);
        for (; r < nr; r++) tile32(kind, 1, 1, nb, s + c * ss + r, ss, W + r * ws, ws, A + c * as, as);
    }
}

#define DEFINE(name, kind)                                                                                  \
    void hearth_avx2_gemm_##name(int64_t n, float *s, size_t ss, const void *w, size_t ws, int64_t nr,      \
                                 const void *a, size_t as, int64_t nc) {                                    \
        gemm32(kind, n, s, ss, w, ws, nr, a, as, nc);                                                       \
    }                                                                                                       \
    void hearth_avx2_vec_dot_##name(int64_t n, float *s, const void *w, const void *a) {                    \
        tile32(kind, 1, 1, n / 32, s, 0, w, 0, a, 0);                                                       \
    }

void hearth_avx2_vec_dot4_q8_0(int64_t n, float *s, size_t s_stride, const void *w, const void *a, size_t a_stride) {
    gemm32(K_Q8_0, n, s, s_stride, w, 0, 1, a, a_stride, 4);
}

DEFINE(q4_1, K_Q4_1)
DEFINE(q5_0, K_Q5_0)
DEFINE(q5_1, K_Q5_1)
DEFINE(q8_0, K_Q8_0)
