/* dot_avx2.c — AVX2+FMA dot products for the float types (F32, F16, BF16): results differ from
 * the scalar reference only in the order the products are summed. */
#include "kernels/kernels_impl.h"
#include "kernels/x86/avx2_util.h"

#include "core/core.h"

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

/* Prefill (2 or more tokens): a GEMM whose every (row, token) keeps vec_dot_f16's 4 sums.
 * Sum k of vec_dot_f16 only ever sees elements 32j+8k .. 32j+8k+7, in the order of j, so the
 * k loop runs as 4 phases, phase k adding those elements into one register per (row, token);
 * the 4 phase sums are kept between column blocks and combined at the end exactly as
 * vec_dot_f16 combines its accumulators (8-element tail into sum 0, then
 * ((s0 + s1) + (s2 + s3)), then the scalar tail), so the bits are the same.
 * Matmul uses it for lone tokens (through f16_rows) and, for prompts, only where the reference
 * keeps vec_dot's order for them (rows not a multiple of 4 or columns not of 8; elsewhere
 * hearth_avx2_gemm_f16_tb below).
 * The register tile is 4 rows x 3 tokens: 12 sums, and per 8 columns 4 weight and 3 activation
 * conversions for 12 FMAs.  Tokens go in groups of F16_NG;
 * within a group, 4 rows at a time run over the columns in blocks of F16_KC.  The 4 rows'
 * block is first copied phase by phase (8 KiB, one 64-byte line per step), so it stays in L1
 * for all the group's token tiles and their 4 phases: read in place, rows 4 or 16 KiB apart
 * fall into the same L1 sets as each other and as the activation rows, and were evicted
 * between tiles.  The next block of weights (or the next 4 rows' first) is prefetched a part
 * per token tile.  f16_quad keeps its sums on the stack: 4 x F16_NG x 4 x 32 bytes (64 KiB)
 * beside the 8 KiB copy.  pp128 on the 1B-shape F16 model: see the commits that brought this. */
#define F16_KC 1024
#define F16_NG 128

/* Phase sums acc[t][r] of R rows x T tokens (R <= 4, T <= 3) over nj steps of `step` elements
 * (first: from zero): row r's 8 weights of the first step at x + r * ws bytes, token t's
 * activations at y + t * as bytes. */
static inline __attribute__((always_inline)) void f16_tile(const int R, const int T, int64_t nj, int64_t step,
                                                           const uint16_t *x, size_t ws, const uint8_t *y, size_t as,
                                                           __m256 (*acc)[4], int first) {
    const uint16_t *xr[4], *yt[3];
    __m256          c[4][3];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
        xr[r] = (const uint16_t *)((const uint8_t *)x + (size_t)r * ws);
#pragma GCC unroll 3
        for (int t = 0; t < T; t++) c[r][t] = first ? _mm256_setzero_ps() : acc[t][r];
    }
#pragma GCC unroll 3
    for (int t = 0; t < T; t++) yt[t] = (const uint16_t *)(y + (size_t)t * as);
    for (int64_t j = 0, i = 0; j < nj; j++, i += step) {
        __m256 a[3];
#pragma GCC unroll 3
        for (int t = 0; t < T; t++) a[t] = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(yt[t] + i)));
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            const __m256 wv = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(xr[r] + i)));
#pragma GCC unroll 3
            for (int t = 0; t < T; t++) c[r][t] = _mm256_fmadd_ps(wv, a[t], c[r][t]);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
#pragma GCC unroll 3
        for (int t = 0; t < T; t++) acc[t][r] = c[r][t];
}

/* f16_tile for R rows (1..4) and T tokens (1..3) known only at run time. */
static void f16_tile_rt(int R, int T, int64_t nj, int64_t step, const uint16_t *x, size_t ws, const uint8_t *y,
                        size_t as, __m256 (*acc)[4], int first) {
    switch (R * 4 + T) {
    case 4 * 4 + 3: f16_tile(4, 3, nj, step, x, ws, y, as, acc, first); break;
    case 4 * 4 + 2: f16_tile(4, 2, nj, step, x, ws, y, as, acc, first); break;
    case 4 * 4 + 1: f16_tile(4, 1, nj, step, x, ws, y, as, acc, first); break;
    case 3 * 4 + 3: f16_tile(3, 3, nj, step, x, ws, y, as, acc, first); break;
    case 3 * 4 + 2: f16_tile(3, 2, nj, step, x, ws, y, as, acc, first); break;
    case 3 * 4 + 1: f16_tile(3, 1, nj, step, x, ws, y, as, acc, first); break;
    case 2 * 4 + 3: f16_tile(2, 3, nj, step, x, ws, y, as, acc, first); break;
    case 2 * 4 + 2: f16_tile(2, 2, nj, step, x, ws, y, as, acc, first); break;
    case 2 * 4 + 1: f16_tile(2, 1, nj, step, x, ws, y, as, acc, first); break;
    case 1 * 4 + 3: f16_tile(1, 3, nj, step, x, ws, y, as, acc, first); break;
    case 1 * 4 + 2: f16_tile(1, 2, nj, step, x, ws, y, as, acc, first); break;
    default: f16_tile(1, 1, nj, step, x, ws, y, as, acc, first); break;
    }
}

/* Prefetches lines l0 .. l1-1 of rows of `lines` lines each (ws bytes apart, from w), row by
 * row. */
static inline void f16_prefetch(const uint8_t *w, size_t ws, int64_t lines, int64_t l0, int64_t l1) {
    const int64_t r = l0 / lines;
    int64_t       l = l0 - r * lines;
    const char   *p = (const char *)w + (size_t)r * ws + (size_t)l * 64;
    for (int64_t i = l0; i < l1; i++) {
        _mm_prefetch(p, _MM_HINT_T0);
        p += 64;
        if (++l == lines) {
            l = 0;
            p += ws - (size_t)lines * 64;
        }
    }
}

/* Rows 0 .. R-1 (R <= 4) of w against tokens 0 .. nt-1 (nt <= F16_NG) of a; the next block of
 * weights, after the last the first of nw (the next rows, maybe past the matrix: only
 * prefetched, which never faults), is prefetched along the way. */
static void f16_quad(int R, int64_t n, float *s, size_t ss, const uint16_t *w, size_t ws, const uint8_t *a,
                     size_t as, int nt, const uint16_t *nw) {
    __m256        acc[4][F16_NG][4]; /* (phase, token, row): a tile's 12 sums together */
    const int64_t n32 = n & ~(int64_t)31;
    _Alignas(64) uint16_t wp[4 * F16_KC]; /* (phase, step, row, 8) */
    if (n32 == 0)
        for (int k = 0; k < 4; k++)
            for (int r = 0; r < R; r++)
                for (int t = 0; t < nt; t++) acc[k][t][r] = _mm256_setzero_ps();
    for (int64_t c0 = 0; c0 < n32; c0 += F16_KC) {
        const int64_t nj = (n32 - c0 < F16_KC ? n32 - c0 : F16_KC) / 32;
        const int     tiles = (nt + 2) / 3;
        /* what to prefetch: the next block, or the next rows' first, `per` lines a tile */
        const int64_t  nc0 = c0 + F16_KC < n32 ? c0 + F16_KC : 0;
        const int64_t  pl = (n32 - nc0 < F16_KC ? n32 - nc0 : F16_KC) / 32, pt = (nc0 ? R : 4) * pl;
        const int64_t  per = (pt + tiles - 1) / tiles;
        const uint8_t *pw = (const uint8_t *)(nc0 ? w : nw) + (size_t)nc0 * 2;
        int           t  = 0;
        /* the block's weights, phase by phase (one line per step), when 2 or more tiles use them */
        const uint16_t *wb = w + c0;
        size_t          wbs = ws;
        int64_t         kofs = 8;
        if (tiles > 1) {
            /* stores in the order of the loads, 64 bytes a step for both (a store queue of
             * scattered addresses made loads wait on stores with the same low 12 bits) */
            __m128i *dst = (__m128i *)wp;
            for (int k = 0; k < 4; k++)
                for (int64_t j = 0; j < nj; j++, dst += 4)
                    for (int r = 0; r < R; r++)
                        _mm_store_si128(dst + r, _mm_loadu_si128((const __m128i *)((const uint8_t *)wb + (size_t)r * ws) + 4 * j + k));
            wb   = wp;
            wbs  = 16;
            kofs = nj * 32;
        }
        for (; t + 3 <= nt; t += 3) {
            f16_prefetch(pw, ws, pl, t / 3 * per, (t / 3 + 1) * per < pt ? (t / 3 + 1) * per : pt);
            for (int k = 0; k < 4; k++) {
                const uint16_t *x = wb + k * kofs;
                const uint8_t  *y = a + (size_t)t * as + (size_t)(c0 + 8 * k) * 2;
                if (R == 4) f16_tile(4, 3, nj, 32, x, wbs, y, as, acc[k] + t, c0 == 0);
                else f16_tile_rt(R, 3, nj, 32, x, wbs, y, as, acc[k] + t, c0 == 0);
            }
        }
        if (t < nt) {
            f16_prefetch(pw, ws, pl, t / 3 * per, (t / 3 + 1) * per < pt ? (t / 3 + 1) * per : pt);
            for (int k = 0; k < 4; k++)
                f16_tile_rt(R, nt - t, nj, 32, wb + k * kofs, wbs, a + (size_t)t * as + (size_t)(c0 + 8 * k) * 2, as,
                            acc[k] + t, c0 == 0);
        }
    }
    const int64_t n8 = n32 + ((n - n32) & ~(int64_t)7);
    if (n8 > n32)
        for (int t = 0; t < nt; t += 3)
            f16_tile_rt(R, nt - t < 3 ? nt - t : 3, (n8 - n32) / 8, 8, w + n32, ws, a + (size_t)t * as + (size_t)n32 * 2,
                        as, acc[0] + t, 0);
    for (int t = 0; t < nt; t++) {
        __m256 v[4];
        for (int r = 0; r < R; r++)
            v[r] = _mm256_add_ps(_mm256_add_ps(acc[0][t][r], acc[1][t][r]), _mm256_add_ps(acc[2][t][r], acc[3][t][r]));
        if (R == 4 && n8 == n) { /* avx2_hsum_ps of the 4 rows at once: (h0 + h2) + (h1 + h3) */
            __m128 h0 = _mm_add_ps(_mm256_castps256_ps128(v[0]), _mm256_extractf128_ps(v[0], 1));
            __m128 h1 = _mm_add_ps(_mm256_castps256_ps128(v[1]), _mm256_extractf128_ps(v[1], 1));
            __m128 h2 = _mm_add_ps(_mm256_castps256_ps128(v[2]), _mm256_extractf128_ps(v[2], 1));
            __m128 h3 = _mm_add_ps(_mm256_castps256_ps128(v[3]), _mm256_extractf128_ps(v[3], 1));
            _MM_TRANSPOSE4_PS(h0, h1, h2, h3);
            _mm_storeu_ps(s + (size_t)t * ss, _mm_add_ps(_mm_add_ps(h0, h2), _mm_add_ps(h1, h3)));
            continue;
        }
        const uint16_t *y = (const uint16_t *)(a + (size_t)t * as);
        for (int r = 0; r < R; r++) {
            const uint16_t *x   = (const uint16_t *)((const uint8_t *)w + (size_t)r * ws);
            float           sum = avx2_hsum_ps(v[r]);
            for (int64_t i = n8; i < n; i++) sum += avx2_half(x[i]) * avx2_half(y[i]);
            s[(size_t)t * ss + r] = sum;
        }
    }
}

/* Tile kernel of F16 (see kernels_impl.h): one token through f16_rows (rows in groups of
 * F16_ROWS), more through f16_quad (tokens in groups of F16_NG, rows in groups of 4). */
void hearth_avx2_gemm_f16(int64_t n, float *s, size_t ss, const void *w, size_t ws, int64_t nr, const void *a,
                          size_t as, int64_t nc) {
    const uint8_t *A = a;
    if (nc == 1) {
        for (int64_t r = 0; r < nr; r += F16_ROWS)
            f16_rows(n, s + r, (const uint16_t *)((const uint8_t *)w + (size_t)r * ws), ws,
                     nr - r < F16_ROWS ? nr - r : F16_ROWS, (const uint16_t *)A);
        return;
    }
    for (int64_t c = 0; c < nc; c += F16_NG) {
        const int nt = nc - c < F16_NG ? (int)(nc - c) : F16_NG;
        for (int64_t r = 0; r < nr; r += 4)
            f16_quad(nr - r < 4 ? (int)(nr - r) : 4, n, s + c * ss + r, ss,
                     (const uint16_t *)((const uint8_t *)w + (size_t)r * ws), ws, A + (size_t)c * as, as, nt,
                     (const uint16_t *)((const uint8_t *)w + (size_t)(r + 4) * ws));
    }
}

/* F16 (F32, BF16) rows times 2 or more F16 (F32, BF16) activation rows in the order of the reference's
 * prompt GEMM (llama.cpp's tinyBLAS, which it runs from 2 tokens when the rows are a multiple
 * of 4 and the columns of 8): each (row, token) one 8-lane sum, s = fma(w[8i..], a[8i..], s) for i in
 * order, then avx2_hsum_ps (its hsum).  4 rows x 3 tokens a register tile, as there: 12 sums,
 * per 8 columns 4 + 3 conversions for 12 FMAs, with no phase split, so the FMA ports are
 * what limit (2048 x 2048 x 128: 93 GFLOP/s here against 74 for vec_dot_f16's order in
 * f16_quad, which needs 4 sums per (row, token)).  Tokens go in blocks of TB_TOKENS so
 * that a block's activations stay in L2 while the rows of the call go past. */
#define TB_TOKENS 24
/* 8 values from element i of a row of F16 (K = 0), K (1) or BF16 (2), as floats */
static inline __attribute__((always_inline)) __m256 tb_load(const int K, const void *p, int64_t i) {
    if (K == 1) return _mm256_loadu_ps((const float *)p + i);
    const __m128i v = _mm_loadu_si128((const __m128i *)((const uint16_t *)p + i));
    if (K == 2) return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(v), 16));
    return _mm256_cvtph_ps(v);
}

static inline __attribute__((always_inline)) void tb_tile(const int K, const int R, const int T, int64_t n,
                                                          const uint8_t *w, size_t ws, const uint8_t *a, size_t as,
                                                          float *s, size_t ss) {
    __m256 c[4][3];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
#pragma GCC unroll 3
        for (int t = 0; t < T; t++) c[r][t] = _mm256_setzero_ps();
    for (int64_t i = 0; i < n; i += 8) {
        __m256 y[3];
#pragma GCC unroll 3
        for (int t = 0; t < T; t++) y[t] = tb_load(K, a + (size_t)t * as, i);
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            const __m256 x = tb_load(K, w + (size_t)r * ws, i);
#pragma GCC unroll 3
            for (int t = 0; t < T; t++) c[r][t] = _mm256_fmadd_ps(x, y[t], c[r][t]);
        }
    }
#pragma GCC unroll 3
    for (int t = 0; t < T; t++)
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) s[(size_t)t * ss + r] = avx2_hsum_ps(c[r][t]);
}

static inline __attribute__((always_inline)) void tb_gemm(const int K, int64_t n, float *s, size_t ss,
                                                          const uint8_t *W, size_t ws, int64_t nr, const uint8_t *A,
                                                          size_t as, int64_t nc) {
    HEARTH_ASSERT(n % 8 == 0);
    for (int64_t c0 = 0; c0 < nc; c0 += TB_TOKENS) {
        const int64_t c1 = nc - c0 < TB_TOKENS ? nc : c0 + TB_TOKENS;
        for (int64_t r = 0; r < nr; r += 4) {
            const int      R  = nr - r < 4 ? (int)(nr - r) : 4;
            const uint8_t *wr = W + (size_t)r * ws;
            for (int64_t t = c0; t < c1; t += 3) {
                const int      T  = c1 - t < 3 ? (int)(c1 - t) : 3;
                const uint8_t *at = A + (size_t)t * as;
                float         *st = s + (size_t)t * ss + r;
                switch (R * 4 + T) {
                case 4 * 4 + 3: tb_tile(K, 4, 3, n, wr, ws, at, as, st, ss); break;
                case 4 * 4 + 2: tb_tile(K, 4, 2, n, wr, ws, at, as, st, ss); break;
                case 4 * 4 + 1: tb_tile(K, 4, 1, n, wr, ws, at, as, st, ss); break;
                case 3 * 4 + 3: tb_tile(K, 3, 3, n, wr, ws, at, as, st, ss); break;
                case 3 * 4 + 2: tb_tile(K, 3, 2, n, wr, ws, at, as, st, ss); break;
                case 3 * 4 + 1: tb_tile(K, 3, 1, n, wr, ws, at, as, st, ss); break;
                case 2 * 4 + 3: tb_tile(K, 2, 3, n, wr, ws, at, as, st, ss); break;
                case 2 * 4 + 2: tb_tile(K, 2, 2, n, wr, ws, at, as, st, ss); break;
                case 2 * 4 + 1: tb_tile(K, 2, 1, n, wr, ws, at, as, st, ss); break;
                case 1 * 4 + 3: tb_tile(K, 1, 3, n, wr, ws, at, as, st, ss); break;
                case 1 * 4 + 2: tb_tile(K, 1, 2, n, wr, ws, at, as, st, ss); break;
                default: tb_tile(K, 1, 1, n, wr, ws, at, as, st, ss); break;
                }
            }
        }
    }
}

void hearth_avx2_gemm_f16_tb(int64_t n, float *s, size_t ss, const void *w, size_t ws, int64_t nr, const void *a,
                             size_t as, int64_t nc) {
    tb_gemm(0, n, s, ss, w, ws, nr, a, as, nc);
}

void hearth_avx2_gemm_f32_tb(int64_t n, float *s, size_t ss, const void *w, size_t ws, int64_t nr, const void *a,
                             size_t as, int64_t nc) {
    tb_gemm(1, n, s, ss, w, ws, nr, a, as, nc);
}

void hearth_avx2_gemm_bf16_tb(int64_t n, float *s, size_t ss, const void *w, size_t ws, int64_t nr, const void *a,
                              size_t as, int64_t nc) {
    tb_gemm(2, n, s, ss, w, ws, nr, a, as, nc);
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
