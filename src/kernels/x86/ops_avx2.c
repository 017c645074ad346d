/* ops_avx2.c — AVX2/F16C versions of the F16 operations of ops.c (the KV cache side of
 * attention).  Conversions are exact (F16C rounds to nearest even, as ops.c does); the
 * axpy does the same multiply-then-add per element as ops.c; the dot product sums in the
 * order of the reference engine's AVX2 F16 dot (four 8-lane FMA accumulators over steps of
 * 32, reduced pairwise, the tail in double), where ops.c sums one element at a time. */
#include "kernels/kernels_impl.h"
#include "kernels/x86/avx2_util.h"

#include <math.h>

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

/* 8 x 8 blocks: 8 rows of 8 halves converted, transposed in registers, stored as 8 columns. */
void hearth_avx2_ops_f16_to_f32_cols(const uint16_t *x, int64_t x_stride, int64_t n_rows, int64_t d, float *y,
                                     int64_t ld) {
    int64_t j = 0;
    for (; j + 8 <= n_rows; j += 8) {
        int64_t c = 0;
        for (; c + 8 <= d; c += 8) {
            __m256 r[8];
#pragma GCC unroll 8
            for (int k = 0; k < 8; k++) r[k] = LDH(x + (j + k) * x_stride + c);
            const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
            const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
            const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
            const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
            const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
            const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
            const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
            const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
            float *o = y + c * ld + j;
            _mm256_storeu_ps(o + 0 * ld, _mm256_permute2f128_ps(u0, u4, 0x20));
            _mm256_storeu_ps(o + 1 * ld, _mm256_permute2f128_ps(u1, u5, 0x20));
            _mm256_storeu_ps(o + 2 * ld, _mm256_permute2f128_ps(u2, u6, 0x20));
            _mm256_storeu_ps(o + 3 * ld, _mm256_permute2f128_ps(u3, u7, 0x20));
            _mm256_storeu_ps(o + 4 * ld, _mm256_permute2f128_ps(u0, u4, 0x31));
            _mm256_storeu_ps(o + 5 * ld, _mm256_permute2f128_ps(u1, u5, 0x31));
            _mm256_storeu_ps(o + 6 * ld, _mm256_permute2f128_ps(u2, u6, 0x31));
            _mm256_storeu_ps(o + 7 * ld, _mm256_permute2f128_ps(u3, u7, 0x31));
        }
        for (; c < d; c++)
            for (int k = 0; k < 8; k++) y[c * ld + j + k] = avx2_half(x[(j + k) * x_stride + c]);
    }
    for (; j < n_rows; j++)
        for (int64_t c = 0; c < d; c++) y[c * ld + j] = avx2_half(x[j * x_stride + c]);
}

/* gelu(x) * b as ops.c's gelu1: 0 for x <= -10, x for x >= 10, else the table's F16 value at
 * x's F16 bits (F16C's rounding is ops.c's f16_encode); 8 lookups by one gather. */
void hearth_avx2_ops_gelu_mul(float *a, const float *b, int64_t n, const uint16_t *table) {
    const __m256 lo = _mm256_set1_ps(-10.0f), hi = _mm256_set1_ps(10.0f);
    int64_t      i  = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256  x = _mm256_loadu_ps(a + i);
        const __m256i h = _mm256_cvtepu16_epi32(_mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT));
        /* table[h] in the low half of each 32-bit lane */
        const __m256i g   = _mm256_and_si256(_mm256_i32gather_epi32((const int *)table, h, 2), _mm256_set1_epi32(0xffff));
        const __m128i g16 = _mm_packus_epi32(_mm256_castsi256_si128(g), _mm256_extracti128_si256(g, 1));
        __m256 y = _mm256_cvtph_ps(g16);
        y        = _mm256_blendv_ps(y, x, _mm256_cmp_ps(x, hi, _CMP_GE_OQ));
        y        = _mm256_andnot_ps(_mm256_cmp_ps(x, lo, _CMP_LE_OQ), y);
        _mm256_storeu_ps(a + i, _mm256_mul_ps(y, _mm256_loadu_ps(b + i)));
    }
    for (; i < n; i++) {
        const float x = a[i];
        const uint16_t h = (uint16_t)_cvtss_sh(x, _MM_FROUND_TO_NEAREST_INT);
        a[i]             = (x <= -10.0f ? 0.0f : x >= 10.0f ? x : avx2_half(table[h])) * b[i];
    }
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

/* ---- the reference engine's orders (ops.h, "exactly as the reference engine computes"):
 * lane for lane the same operations as the scalar *_ref functions of ops.c, so the same bits. */

/* hsum8 of ops.c: (0+4, 1+5, 2+6, 3+7), then (a0 + a2) + (a1 + a3). */
static inline float hsum8_v(__m256 v) {
    const __m128 a = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    const __m128 b = _mm_add_ps(a, _mm_movehl_ps(a, a));
    return _mm_cvtss_f32(_mm_add_ss(b, _mm_movehdup_ps(b)));
}

/* ops_expf_ref on 8 lanes. */
static inline __m256 expf_ref_v(__m256 x) {
    const __m256  r = _mm256_set1_ps(0x1.8p23f);
    const __m256  z = _mm256_fmadd_ps(x, _mm256_set1_ps(0x1.715476p+0f), r);
    const __m256  n = _mm256_sub_ps(z, r);
    const __m256  b = _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.7f7d1cp-20f), _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.62e4p-1f), x));
    const __m256i e = _mm256_slli_epi32(_mm256_castps_si256(z), 23);
    const __m256  k = _mm256_castsi256_ps(_mm256_add_epi32(e, _mm256_castps_si256(_mm256_set1_ps(1.0f))));
    const __m256  u = _mm256_mul_ps(b, b);
    const __m256  j = _mm256_fmadd_ps(
        _mm256_fmadd_ps(_mm256_fmadd_ps(_mm256_set1_ps(0x1.0e4020p-7f), b, _mm256_set1_ps(0x1.573e2ep-5f)), u,
                        _mm256_fmadd_ps(_mm256_set1_ps(0x1.555e66p-3f), b, _mm256_set1_ps(0x1.fffdb6p-2f))),
        u, _mm256_mul_ps(_mm256_set1_ps(0x1.ffffecp-1f), b));
    const __m256 an  = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), n);
    const __m256 big = _mm256_cmp_ps(an, _mm256_set1_ps(126.0f), _CMP_GT_OQ);
    const __m256 fast = _mm256_fmadd_ps(j, k, k);
    if (!_mm256_movemask_ps(big)) return fast;
    const __m256i g   = _mm256_and_si256(_mm256_castps_si256(_mm256_cmp_ps(n, _mm256_setzero_ps(), _CMP_LE_OQ)),
                                         _mm256_set1_epi32((int)0x82000000u));
    const __m256  s1  = _mm256_castsi256_ps(_mm256_add_epi32(g, _mm256_set1_epi32(0x7f000000)));
    const __m256  s2  = _mm256_castsi256_ps(_mm256_sub_epi32(e, g));
    const __m256  huge = _mm256_cmp_ps(an, _mm256_set1_ps(192.0f), _CMP_GT_OQ);
    const __m256  slow = _mm256_blendv_ps(_mm256_mul_ps(_mm256_fmadd_ps(s2, j, s2), s1), _mm256_mul_ps(s1, s1), huge);
    return _mm256_blendv_ps(fast, slow, big);
}

float hearth_avx2_ops_dot_f16_ref(const float *a, const uint16_t *b, int64_t n, int lanes) {
    if (lanes != 8) return hearth_avx2_ops_dot_f16(a, b, n); /* 32 lanes: that order already */
    __m256        acc = _mm256_setzero_ps();
    const int64_t np  = n & ~(int64_t)7;
    for (int64_t i = 0; i < np; i += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), LDH(b + i), acc);
    double s = (double)hsum8_v(acc);
    for (int64_t i = np; i < n; i++) s += (double)(a[i] * avx2_half(b[i]));
    return (float)s;
}

/* ops_dot_f16_ref_rows: with 8 lanes and n a multiple of 8, four rows at a time (four
 * independent FMA chains instead of one; each row's chain, reduction and scaling as
 * hearth_avx2_ops_dot_f16_ref's). */
void hearth_avx2_ops_dot_f16_ref_rows(float *out, const float *a, const uint16_t *b, int64_t stride, int64_t ring,
                                      int64_t j0, int64_t n_rows, int64_t n, int lanes, float scale) {
#define ROW(i) (b + (ring ? (j0 + (i)) % ring : (i)) * stride)
    int64_t i = 0;
    if (lanes == 8 && n % 8 == 0)
        for (; i + 4 <= n_rows; i += 4) {
            const uint16_t *r0 = ROW(i), *r1 = ROW(i + 1), *r2 = ROW(i + 2), *r3 = ROW(i + 3);
            __m256          c0 = _mm256_setzero_ps(), c1 = c0, c2 = c0, c3 = c0;
            for (int64_t k = 0; k < n; k += 8) {
                const __m256 x = _mm256_loadu_ps(a + k);
                c0             = _mm256_fmadd_ps(x, LDH(r0 + k), c0);
                c1             = _mm256_fmadd_ps(x, LDH(r1 + k), c1);
                c2             = _mm256_fmadd_ps(x, LDH(r2 + k), c2);
                c3             = _mm256_fmadd_ps(x, LDH(r3 + k), c3);
            }
            out[i]     = (float)(double)hsum8_v(c0) * scale;
            out[i + 1] = (float)(double)hsum8_v(c1) * scale;
            out[i + 2] = (float)(double)hsum8_v(c2) * scale;
            out[i + 3] = (float)(double)hsum8_v(c3) * scale;
        }
    if (lanes == 32 && n % 32 == 0)
        for (; i + 2 <= n_rows; i += 2) { /* two rows, each as hearth_avx2_ops_dot_f16 (no tail) */
            const uint16_t *r0 = ROW(i), *r1 = ROW(i + 1);
            __m256          c0[4], c1[4];
            for (int k = 0; k < 4; k++) c0[k] = c1[k] = _mm256_setzero_ps();
            for (int64_t k = 0; k < n; k += 32)
#pragma GCC unroll 4
                for (int j = 0; j < 4; j++) {
                    const __m256 x = _mm256_loadu_ps(a + k + 8 * j);
                    c0[j]          = _mm256_fmadd_ps(LDH(r0 + k + 8 * j), x, c0[j]);
                    c1[j]          = _mm256_fmadd_ps(LDH(r1 + k + 8 * j), x, c1[j]);
                }
            const __m256 s0 = _mm256_add_ps(_mm256_add_ps(c0[0], c0[2]), _mm256_add_ps(c0[1], c0[3]));
            const __m256 s1 = _mm256_add_ps(_mm256_add_ps(c1[0], c1[2]), _mm256_add_ps(c1[1], c1[3]));
            /* the two rows' hadd steps side by side: lane 0 row i, lane 1 row i + 1 */
            const __m128 h = _mm_hadd_ps(_mm_add_ps(_mm256_castps256_ps128(s0), _mm256_extractf128_ps(s0, 1)),
                                         _mm_add_ps(_mm256_castps256_ps128(s1), _mm256_extractf128_ps(s1, 1)));
            const __m128 v = _mm_mul_ps(_mm_hadd_ps(h, h), _mm_set1_ps(scale));
            out[i]         = _mm_cvtss_f32(v);
            out[i + 1]     = _mm_cvtss_f32(_mm_movehdup_ps(v));
        }
    for (; i < n_rows; i++) out[i] = hearth_avx2_ops_dot_f16_ref(a, ROW(i), n, lanes) * scale;
#undef ROW
}

/* hsum8_v of 8 vectors at once: [hsum8_v(u[0]), ..., hsum8_v(u[7])], each sum in its order
 * (lo + hi lanes, then (0 + 2) and (1 + 3), then those two). */
static inline __m256 hsum8x8_v(const __m256 u[8]) {
    __m256 w[4];
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) /* [u_k lo + hi | u_k+4 lo + hi] */
        w[k] = _mm256_add_ps(_mm256_permute2f128_ps(u[k], u[k + 4], 0x20), _mm256_permute2f128_ps(u[k], u[k + 4], 0x31));
    const __m256 x0 = _mm256_add_ps(_mm256_shuffle_ps(w[0], w[1], 0x44), _mm256_shuffle_ps(w[0], w[1], 0xEE));
    const __m256 x1 = _mm256_add_ps(_mm256_shuffle_ps(w[2], w[3], 0x44), _mm256_shuffle_ps(w[2], w[3], 0xEE));
    return _mm256_hadd_ps(x0, x1);
}

/* ops_kq_ref8: blocks of 4 K rows (in L1) against the queries that see them, two at a time
 * (4 x 2 sums: per 8 columns 6 loads for 8 FMAs), the 8 sums reduced together. */
void hearth_avx2_ops_kq_ref8(float *s, int64_t ss, const float *k, int64_t n0, const float *q, int64_t nq, int64_t d,
                             float scale) {
    const __m256 vs = _mm256_set1_ps(scale);
    for (int64_t r = 0; r < n0 + nq - 1; r += 4) {
        const float *kr = k + r * d;
        for (int64_t t = r + 1 - n0 > 0 ? r + 1 - n0 : 0; t < nq; t += 2) {
            const bool   two = t + 1 < nq;
            const float *q0 = q + t * d, *q1 = two ? q0 + d : q0;
            __m256       a[8];
#pragma GCC unroll 8
            for (int l = 0; l < 8; l++) a[l] = _mm256_setzero_ps();
            for (int64_t i = 0; i < d; i += 8) {
                const __m256 x0 = _mm256_loadu_ps(q0 + i), x1 = _mm256_loadu_ps(q1 + i);
#pragma GCC unroll 4
                for (int l = 0; l < 4; l++) {
                    const __m256 w = _mm256_loadu_ps(kr + l * d + i);
                    a[l]           = _mm256_fmadd_ps(w, x0, a[l]);
                    a[4 + l]       = _mm256_fmadd_ps(w, x1, a[4 + l]);
                }
            }
            const __m256 v = _mm256_mul_ps(hsum8x8_v(a), vs); /* [t: rows r..r+3 | t + 1: rows r..r+3] */
            _mm_storeu_ps(s + t * ss + r, _mm256_castps256_ps128(v));
            if (two) _mm_storeu_ps(s + (t + 1) * ss + r, _mm256_extractf128_ps(v, 1));
        }
    }
}

float hearth_avx2_ops_softmax_ref(float *x, int64_t n, int64_t j0) {
    __m256 mv = _mm256_set1_ps(-INFINITY);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) mv = _mm256_max_ps(_mm256_loadu_ps(x + i), mv);
    float m8[8], mx = -INFINITY;
    _mm256_storeu_ps(m8, mv);
    for (int l = 0; l < 8; l++) mx = m8[l] > mx ? m8[l] : mx;
    for (; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    const __m256 vmx = _mm256_set1_ps(mx);
    double       sum = 0.0;
    for (i = 0; i < n;) {
        /* one block of 8 cells aligned on the absolute cell index; cells outside contribute 0 */
        const int64_t c0 = (j0 + i) & ~(int64_t)7, k0 = c0 - j0; /* x index of lane 0 */
        if (k0 >= 0 && k0 + 8 <= n) {
            const __m256 ev = expf_ref_v(_mm256_sub_ps(_mm256_loadu_ps(x + k0), vmx));
            _mm256_storeu_ps(x + k0, ev);
            sum += (double)hsum8_v(ev);
        } else {
            float blk[8];
            for (int l = 0; l < 8; l++) {
                const int64_t k = k0 + l;
                blk[l]          = k >= i && k < n ? x[k] - mx : -INFINITY;
            }
            __m256 ev = expf_ref_v(_mm256_loadu_ps(blk));
            _mm256_storeu_ps(blk, ev);
            for (int l = 0; l < 8; l++) {
                const int64_t k = k0 + l;
                if (k >= i && k < n) x[k] = blk[l];
                else blk[l] = 0.0f;
            }
            sum += (double)hsum8_v(_mm256_loadu_ps(blk));
        }
        i = k0 + 8;
    }
    const __m256 inv = _mm256_set1_ps((float)(1.0 / sum));
    for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), inv));
    for (; i < n; i++) x[i] *= (float)(1.0 / sum);
    return (float)sum;
}

/* Bytes of V rows per chunk of cells in wsum8_cols / wsum32_cols: a chunk's rows stay in L1
 * while every block of 8 columns goes over them (one pass per column block over all the cells
 * read each cache line of V from L2 once per column block: 20% of a 512-token prompt of
 * Gemma-3-270M, 256 columns). */
#define WSUM_CHUNK_BYTES 8192

static inline int64_t wsum_chunk(int64_t d, int64_t align) {
    const int64_t ch = (WSUM_CHUNK_BYTES / (2 * d)) & ~(align - 1);
    return ch > align ? ch : align;
}

/* For the blocks of 8 cells k = k0, k0 + step, ... below ke (k0 aligned on 8): a[l] += p[j] *
 * V[j][c..c+7] for the cell j = k + l - j0 of each block that lies in [0, n), in cell order
 * (the FMAs of lane l of wsum_f16_ref's general loop). */
static inline __attribute__((always_inline)) void wsum_blocks8(__m256 a[8], const float *p, const uint16_t *v,
                                                               int64_t v_stride, int64_t ring, int64_t j0, int64_t n,
                                                               int64_t c, int64_t k0, int64_t ke, int64_t step) {
    for (int64_t k = k0; k < ke; k += step) {
        const int64_t r0   = ring ? k % ring : k - j0; /* row of cell k (may lie before j0) */
        const bool    full = k >= j0 && k + 8 <= j0 + n && (!ring || r0 + 8 <= ring);
#pragma GCC unroll 8
        for (int l = 0; l < 8; l++) {
            const int64_t j = k + l - j0;
            if (!full && (j < 0 || j >= n)) continue;
            const uint16_t *row = v + (full ? r0 + l : ring ? (j0 + j) % ring : j) * v_stride + c;
            a[l] = _mm256_fmadd_ps(_mm256_set1_ps(p[j]), LDH(row), a[l]);
        }
    }
}

/* wsum_f16_ref with 8 lanes, d a multiple of 8: the cells in chunks (aligned on the absolute
 * cell index, as the lanes are); per chunk, 8 columns at a time, the 8 lanes' accumulators in
 * registers over the chunk's cells (each element gets the same FMAs in the same order as in
 * the lane rows of the general loop below, without a load and a store per FMA), carried in acc
 * between chunks; then the same reduction. */
static void wsum8_cols(float *out, const float *p, const uint16_t *v, int64_t v_stride, int64_t ring, int64_t j0,
                       int64_t n, int64_t d, float *acc) {
    /* b0: the first cell of the first aligned block */
    const int64_t b0 = j0 & ~(int64_t)7, end = j0 + n, ch = wsum_chunk(d, 8);
    for (int64_t cs = b0; cs < end; cs += ch) {
        const int64_t ce = cs + ch < end ? cs + ch : end;
        for (int64_t c = 0; c < d; c += 8) {
            __m256 a[8];
#pragma GCC unroll 8
            for (int l = 0; l < 8; l++) a[l] = cs == b0 ? _mm256_setzero_ps() : _mm256_loadu_ps(acc + l * d + c);
            wsum_blocks8(a, p, v, v_stride, ring, j0, n, c, cs, ce, 8);
            if (ce < end) {
#pragma GCC unroll 8
                for (int l = 0; l < 8; l++) _mm256_storeu_ps(acc + l * d + c, a[l]);
                continue;
            }
            const __m256 t0 = _mm256_add_ps(a[0], a[4]), t1 = _mm256_add_ps(a[1], a[5]);
            const __m256 t2 = _mm256_add_ps(a[2], a[6]), t3 = _mm256_add_ps(a[3], a[7]);
            _mm256_storeu_ps(out + c, _mm256_add_ps(_mm256_add_ps(t0, t2), _mm256_add_ps(t1, t3)));
        }
    }
}

/* The 32-lane reduction of wsum_f16_ref for 8 columns, lane l in s[l]: (l, 16 + l) and
 * (8 + l, 24 + l) summed, then t_k = s_k + s_{k+4}, then (t0 + t1) + (t2 + t3). */
static inline __m256 reduce32_v(const __m256 *a) {
    __m256 s[8];
#pragma GCC unroll 8
    for (int l = 0; l < 8; l++)
        s[l] = _mm256_add_ps(_mm256_add_ps(a[l], a[16 + l]), _mm256_add_ps(a[8 + l], a[24 + l]));
    const __m256 t0 = _mm256_add_ps(s[0], s[4]), t1 = _mm256_add_ps(s[1], s[5]);
    const __m256 t2 = _mm256_add_ps(s[2], s[6]), t3 = _mm256_add_ps(s[3], s[7]);
    return _mm256_add_ps(_mm256_add_ps(t0, t1), _mm256_add_ps(t2, t3));
}

/* wsum_f16_ref with 32 lanes (one token of a sequence), d a multiple of 8: the cells in chunks
 * (wsum_chunk, aligned on the absolute cell index, as the lanes are); per chunk and block of
 * 8 columns, the lanes 8 at a time in registers (each lane gets the same FMAs in the same
 * order as in the general loop, without a load and a store per FMA), carried in acc between
 * chunks; then the same reduction.  A single chunk (short contexts) reduces straight from the
 * registers, without acc. */
static void wsum32_cols(float *out, const float *p, const uint16_t *v, int64_t v_stride, int64_t ring, int64_t j0,
                        int64_t n, int64_t d, float *acc) {
    const int64_t b0 = j0 & ~(int64_t)31, end = j0 + n, ch = wsum_chunk(d, 32);
    const bool    single = end - b0 <= ch;
    for (int64_t cs = b0; cs < end; cs += ch) {
        const int64_t ce = cs + ch < end ? cs + ch : end;
        for (int64_t c = 0; c < d; c += 8) {
            __m256 buf[32];
            for (int g = 0; g < 4; g++) {
                __m256 a[8];
#pragma GCC unroll 8
                for (int l = 0; l < 8; l++)
                    a[l] = cs == b0 ? _mm256_setzero_ps() : _mm256_loadu_ps(acc + (8 * g + l) * d + c);
                wsum_blocks8(a, p, v, v_stride, ring, j0, n, c, cs + 8 * g, ce, 32);
#pragma GCC unroll 8
                for (int l = 0; l < 8; l++) {
                    if (single) buf[8 * g + l] = a[l];
                    else _mm256_storeu_ps(acc + (8 * g + l) * d + c, a[l]);
                }
            }
            if (single) _mm256_storeu_ps(out + c, reduce32_v(buf));
        }
    }
    if (single) return;
    for (int64_t c = 0; c < d; c += 8) {
        __m256 buf[32];
#pragma GCC unroll 8
        for (int l = 0; l < 32; l++) buf[l] = _mm256_loadu_ps(acc + l * d + c);
        _mm256_storeu_ps(out + c, reduce32_v(buf));
    }
}

void hearth_avx2_ops_wsum_f16_ref(float *out, const float *p, const uint16_t *v, int64_t v_stride, int64_t ring,
                                  int64_t j0, int64_t n, int64_t d, int lanes, float *acc) {
    if (lanes == 8 && d % 8 == 0) {
        wsum8_cols(out, p, v, v_stride, ring, j0, n, d, acc);
        return;
    }
    if (lanes == 32 && d % 8 == 0) {
        wsum32_cols(out, p, v, v_stride, ring, j0, n, d, acc);
        return;
    }
    memset(acc, 0, (size_t)lanes * (size_t)d * sizeof(float));
    const int64_t d8 = d & ~(int64_t)7;
    for (int64_t j = 0; j < n; j++) {
        float          *a   = acc + ((j0 + j) % lanes) * d;
        const uint16_t *row = v + (ring ? (j0 + j) % ring : j) * v_stride;
        const __m256    pj  = _mm256_set1_ps(p[j]);
        int64_t         c   = 0;
        for (; c < d8; c += 8) _mm256_storeu_ps(a + c, _mm256_fmadd_ps(pj, LDH(row + c), _mm256_loadu_ps(a + c)));
        for (; c < d; c++) a[c] = _mm_cvtss_f32(_mm_fmadd_ss(_mm_set_ss(p[j]), _mm_set_ss(avx2_half(row[c])), _mm_set_ss(a[c])));
    }
#define L(l) _mm256_loadu_ps(acc + (l) * d + c)
    int64_t c = 0;
    for (; c < d8; c += 8) {
        __m256 s[8];
        if (lanes == 8) {
            for (int l = 0; l < 8; l++) s[l] = L(l);
        } else {
            for (int l = 0; l < 8; l++) s[l] = _mm256_add_ps(_mm256_add_ps(L(l), L(16 + l)), _mm256_add_ps(L(8 + l), L(24 + l)));
        }
        const __m256 t0 = _mm256_add_ps(s[0], s[4]), t1 = _mm256_add_ps(s[1], s[5]);
        const __m256 t2 = _mm256_add_ps(s[2], s[6]), t3 = _mm256_add_ps(s[3], s[7]);
        /* hsum8: (a0 + a2) + (a1 + a3); reduce32: (t0 + t1) + (t2 + t3) */
        const __m256 r = lanes == 8 ? _mm256_add_ps(_mm256_add_ps(t0, t2), _mm256_add_ps(t1, t3))
                                    : _mm256_add_ps(_mm256_add_ps(t0, t1), _mm256_add_ps(t2, t3));
        _mm256_storeu_ps(out + c, r);
    }
#undef L
    for (; c < d; c++) {
        float s[8];
        for (int l = 0; l < 8; l++)
            s[l] = lanes == 8 ? acc[l * d + c]
                              : (acc[l * d + c] + acc[(16 + l) * d + c]) + (acc[(8 + l) * d + c] + acc[(24 + l) * d + c]);
        const float t0 = s[0] + s[4], t1 = s[1] + s[5], t2 = s[2] + s[6], t3 = s[3] + s[7];
        out[c]         = lanes == 8 ? (t0 + t2) + (t1 + t3) : (t0 + t1) + (t2 + t3);
    }
}

void hearth_avx2_ops_silu_mul_ref8(float *a, const float *b, int64_t n) {
    const __m256 one = _mm256_set1_ps(1.0f), neg = _mm256_set1_ps(-0.0f);
    for (int64_t i = 0; i + 8 <= n; i += 8) {
        const __m256 x = _mm256_loadu_ps(a + i);
        const __m256 e = expf_ref_v(_mm256_xor_ps(x, neg));
        _mm256_storeu_ps(a + i, _mm256_mul_ps(_mm256_div_ps(x, _mm256_add_ps(one, e)), _mm256_loadu_ps(b + i)));
    }
}

void hearth_avx2_ops_rope_apply(int n_rot, int neox, float *x, int n_heads, int head_dim, const float *cs) {
    const int half = n_rot / 2;
    for (int h = 0; h < n_heads; h++) {
        float *v = x + (int64_t)h * head_dim;
        for (int i = 0; i < half; i++) {
            const int   i0 = neox ? i : 2 * i, i1 = neox ? i + half : 2 * i + 1;
            const float c = cs[2 * i], s = cs[2 * i + 1], a = v[i0], b = v[i1];
            v[i0] = _mm_cvtss_f32(_mm_fmadd_ss(_mm_set_ss(a), _mm_set_ss(c), _mm_set_ss(-(b * s))));
            v[i1] = _mm_cvtss_f32(_mm_fmadd_ss(_mm_set_ss(a), _mm_set_ss(s), _mm_set_ss(b * c)));
        }
    }
}
