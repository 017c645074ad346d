/*
 * ops.c — float operations of the forward pass (see ops.h).  Plain C, vectorizable.
 *
 * Two details follow the reference engine (llama.cpp's CPU backend) so that our logits
 * match it closely: RMS norms accumulate in double, and GELU goes through a table indexed
 * by the f16 value of its input (the reference computes GELU that way, |x| < 10).
 */
#include "kernels/ops.h"

#include "kernels/kernels_impl.h"

#include "core/core.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

/* ---- f16 <-> f32 ---------------------------------------------------------------------- */

static float    f16_table[1 << 16];  /* f16 bits -> f32 */
/* f16 bits of x -> f16 bits of gelu(x); 2 entries of padding for a 32-bit gather of the last */
static uint16_t gelu_table[(1 << 16) + 2];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;
static int            use_avx2;    /* the active kernel table is avx2: F16C versions of the f16 ops */

static float f16_decode(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: normalize */
            int e = -1;
            do { e++; man <<= 1; } while (!(man & 0x400));
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ff) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* Round to nearest even, overflow to infinity, NaN kept quiet. */
static uint16_t f16_encode(float f) {
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint32_t sign = (x >> 16) & 0x8000, ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) return (uint16_t)(sign | 0x7c00 | (ax > 0x7f800000u ? 0x200 : 0));
    if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00); /* rounds to >= 65520: inf */
    if (ax < 0x38800000u) {                                   /* result subnormal or zero */
        if (ax < 0x33000000u) return (uint16_t)sign;          /* < half the smallest subnormal */
        uint32_t e = ax >> 23, m = (ax & 0x7fffff) | 0x800000;
        uint32_t shift = 126 - e;                             /* 14 + (113 - e) - 1 */
        uint32_t q = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (q & 1))) q++;
        return (uint16_t)(sign | q);
    }
    uint32_t r = ax + 0xfff + ((ax >> 13) & 1); /* round to nearest even on bit 13 */
    return (uint16_t)(sign | ((r - 0x38000000u) >> 13));
}

static float gelu_exact(float x) {
    const float c = 0.79788456080286535588f; /* sqrt(2/pi) */
    /* the reference's build contracts 1 + a*x*x into one FMA */
    return 0.5f * x * (1.0f + tanhf(c * x * fmaf(0.044715f * x, x, 1.0f)));
}

static void tables_init(void) {
#if defined(__x86_64__)
    use_avx2 = strcmp(hearth_kernels_isa(), "ref") != 0; /* every x86 table has AVX2 */
#endif
    for (uint32_t i = 0; i < (1u << 16); i++) {
        f16_table[i]  = f16_decode((uint16_t)i);
        gelu_table[i] = f16_encode(gelu_exact(f16_table[i]));
    }
}

static inline void tables_ready(void) { pthread_once(&tables_once, tables_init); }

void ops_set_simd(bool on) {
    tables_ready();
#if defined(__x86_64__)
    use_avx2 = on && strcmp(hearth_kernels_isa(), "ref") != 0;
#else
    (void)on;
#endif
}

void ops_f32_to_f16(const float *x, uint16_t *y, int64_t n) {
    tables_ready();
#if defined(__x86_64__)
    if (use_avx2) {
        hearth_avx2_ops_f32_to_f16(x, y, n);
        return;
    }
#endif
    for (int64_t i = 0; i < n; i++) y[i] = f16_encode(x[i]);
}

void ops_f16_to_f32(const uint16_t *x, float *y, int64_t n) {
    tables_ready();
#if defined(__x86_64__)
    if (use_avx2) {
        hearth_avx2_ops_f16_to_f32(x, y, n);
        return;
    }
#endif
    for (int64_t i = 0; i < n; i++) y[i] = f16_table[x[i]];
}

void ops_f16_to_f32_cols(const uint16_t *x, int64_t x_stride, int64_t n_rows, int64_t d, float *y, int64_t ld) {
    tables_ready();
#if defined(__x86_64__)
    if (use_avx2) {
        hearth_avx2_ops_f16_to_f32_cols(x, x_stride, n_rows, d, y, ld);
        return;
    }
#endif
    for (int64_t j = 0; j < n_rows; j++)
        for (int64_t c = 0; c < d; c++) y[c * ld + j] = f16_table[x[j * x_stride + c]];
}

bool ops_gemm_ref8_available(void) { return hearth_kernels_multi(HEARTH_TYPE_F32) != NULL; }

void ops_gemm_ref8(int64_t n, float *s, size_t ss, const void *w, size_t ws, int64_t nr, const void *a, size_t as,
                   int64_t nc) {
    const hearth_gemm_fn k = hearth_kernels_multi(HEARTH_TYPE_F32);
    HEARTH_ASSERT(k && n % 8 == 0);
    k(n, s, ss, w, ws, nr, a, as, nc);
}

void ops_round_f16(const float *x, float *y, int64_t n) {
    tables_ready();
#if defined(__x86_64__)
    if (use_avx2) {
        hearth_avx2_ops_round_f16(x, y, n);
        return;
    }
#endif
    for (int64_t i = 0; i < n; i++) y[i] = f16_table[f16_encode(x[i])];
}

float ops_dot_f16(const float *a, const uint16_t *b, int64_t n) {
    tables_ready();
#if defined(__x86_64__)
    if (use_avx2) return hearth_avx2_ops_dot_f16(a, b, n);
#endif
    float s = 0.0f;
    for (int64_t i = 0; i < n; i++) s += a[i] * f16_table[b[i]];
    return s;
}

void ops_axpy_f16(float *y, float s, const uint16_t *x, int64_t n) {
    tables_ready();
#if defined(__x86_64__)
    if (use_avx2) {
        hearth_avx2_ops_axpy_f16(y, s, x, n);
        return;
    }
#endif
    for (int64_t i = 0; i < n; i++) y[i] += s * f16_table[x[i]];
}

/* ---- norms ---------------------------------------------------------------------------- */

void ops_rmsnorm(float *y, const float *x, const float *w, int64_t n, float eps) {
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) sum += (double)(x[i] * x[i]); /* float square, double sum */
    const float scale = 1.0f / sqrtf((float)(sum / (double)n) + eps);
    if (w) {
        for (int64_t i = 0; i < n; i++) y[i] = x[i] * scale * w[i];
    } else {
        for (int64_t i = 0; i < n; i++) y[i] = x[i] * scale;
    }
}

/* ---- rotary embeddings ---------------------------------------------------------------- */

void ops_rope_cache(const ops_rope *r, int64_t pos, float *cs) {
    const float theta_scale = powf(r->base, -2.0f / (float)r->n_rot);
    float theta = (float)pos;
    for (int i = 0; i < r->n_rot / 2; i++) {
        const float t = r->freq_scale * (r->freq_factors ? theta / r->freq_factors[i] : theta);
        cs[2 * i]     = cosf(t);
        cs[2 * i + 1] = sinf(t);
        theta *= theta_scale;
    }
}

void ops_rope_apply(const ops_rope *r, float *x, int n_heads, int head_dim, const float *cs) {
#if defined(__x86_64__)
    tables_ready();
    if (use_avx2) {
        hearth_avx2_ops_rope_apply(r->n_rot, r->neox, x, n_heads, head_dim, cs);
        return;
    }
#endif
    const int half = r->n_rot / 2;
    for (int h = 0; h < n_heads; h++) {
        float *v = x + (int64_t)h * head_dim;
        if (r->neox) {
            for (int i = 0; i < half; i++) {
                const float c = cs[2 * i], s = cs[2 * i + 1], a = v[i], b = v[i + half];
                v[i]        = fmaf(a, c, -(b * s));
                v[i + half] = fmaf(a, s, b * c);
            }
        } else {
            for (int i = 0; i < half; i++) {
                const float c = cs[2 * i], s = cs[2 * i + 1], a = v[2 * i], b = v[2 * i + 1];
                v[2 * i]     = fmaf(a, c, -(b * s));
                v[2 * i + 1] = fmaf(a, s, b * c);
            }
        }
    }
}

/* ---- softmax, activations, elementwise ---------------------------------------------------- */

float ops_softmax(float *x, int64_t n) {
    float mx = -INFINITY;
    for (int64_t i = 0; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) {
        x[i] = expf(x[i] - mx);
        sum += x[i];
    }
    const float inv = sum > 0.0 ? (float)(1.0 / sum) : 0.0f;
    for (int64_t i = 0; i < n; i++) x[i] *= inv;
    return (float)sum;
}

static inline float silu1(float x) { return x / (1.0f + expf(-x)); }

static inline float gelu1(float x) {
    if (x <= -10.0f) return 0.0f;
    if (x >= 10.0f) return x;
    return f16_table[gelu_table[f16_encode(x)]];
}

void ops_silu(float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] = silu1(x[i]);
}

void ops_gelu(float *x, int64_t n) {
    tables_ready();
    for (int64_t i = 0; i < n; i++) x[i] = gelu1(x[i]);
}

void ops_silu_mul(float *a, const float *b, int64_t n) {
    for (int64_t i = 0; i < n; i++) a[i] = silu1(a[i]) * b[i];
}

void ops_gelu_mul(float *a, const float *b, int64_t n) {
    tables_ready();
#if defined(__x86_64__)
    if (use_avx2) {
        hearth_avx2_ops_gelu_mul(a, b, n, gelu_table);
        return;
    }
#endif
    for (int64_t i = 0; i < n; i++) a[i] = gelu1(a[i]) * b[i];
}

void ops_add(float *y, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] += x[i];
}

void ops_scale(float *x, float s, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] *= s;
}

void ops_softcap(float *x, float cap, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] = cap * tanhf(x[i] / cap);
}

float ops_dot(const float *a, const float *b, int64_t n) {
    float s = 0.0f;
    for (int64_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

/* ---- the reference engine's summation orders and exp ----------------------------------------
 *
 * The model amplifies last-bit differences, so attention and SiLU reproduce exactly what the
 * reference's AVX2 CPU path computes: its polynomial exp, its FMA lanes, and its horizontal sums.
 * fmaf() is a single rounding, like the vector FMA instructions. */

static inline uint32_t f32_bits(float f) { uint32_t u; memcpy(&u, &f, sizeof u); return u; }
static inline float    bits_f32(uint32_t u) { float f; memcpy(&f, &u, sizeof f); return f; }

float ops_expf_ref(float x) {
    const float r = 0x1.8p23f;
    const float z = fmaf(x, 0x1.715476p+0f, r), n = z - r;
    const float b = fmaf(-n, 0x1.7f7d1cp-20f, fmaf(-n, 0x1.62e4p-1f, x));
    const uint32_t e = f32_bits(z) << 23;
    const float k = bits_f32(e + f32_bits(1.0f));
    const float u = b * b;
    const float j = fmaf(fmaf(fmaf(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u, fmaf(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)), u,
                         0x1.ffffecp-1f * b);
    if (!(fabsf(n) > 126.0f)) return fmaf(j, k, k);
    const uint32_t g = n <= 0.0f ? 0x82000000u : 0u;
    const float s1 = bits_f32(g + 0x7f000000u), s2 = bits_f32(e - g);
    if (fabsf(n) > 192.0f) return s1 * s1;
    return fmaf(s2, j, s2) * s1;
}

/* Horizontal sum of 8 lanes as the reference does it: (0+4, 1+5, 2+6, 3+7), then pairs. */
static inline float hsum8(const float *v) {
    const float a0 = v[0] + v[4], a1 = v[1] + v[5], a2 = v[2] + v[6], a3 = v[3] + v[7];
    return (a0 + a2) + (a1 + a3);
}

/* The reduction of ggml's 4 x 8-lane F16 dot accumulators. */
static inline float reduce32(const float *acc) {
    float s[8];
    for (int l = 0; l < 8; l++) s[l] = (acc[l] + acc[16 + l]) + (acc[8 + l] + acc[24 + l]);
    const float t0 = s[0] + s[4], t1 = s[1] + s[5], t2 = s[2] + s[6], t3 = s[3] + s[7];
    return (t0 + t1) + (t2 + t3);
}

float ops_dot_f16_ref(const float *a, const uint16_t *b, int64_t n, int lanes) {
    tables_ready();
#if defined(__x86_64__)
    if (use_avx2) return hearth_avx2_ops_dot_f16_ref(a, b, n, lanes);
#endif
    float acc[32] = { 0 };
    const int64_t np = n - n % lanes;
    for (int64_t i = 0; i < np; i++) acc[i % lanes] = fmaf(a[i], f16_table[b[i]], acc[i % lanes]);
    double sum = lanes == 8 ? hsum8(acc) : reduce32(acc);
    for (int64_t i = np; i < n; i++) sum += (double)(a[i] * f16_table[b[i]]);
    return (float)sum;
}

void ops_kq_ref8(float *s, int64_t ss, const float *k, int64_t n0, const float *q, int64_t nq, int64_t d, float scale) {
    tables_ready();
#if defined(__x86_64__)
    if (use_avx2) {
        hearth_avx2_ops_kq_ref8(s, ss, k, n0, q, nq, d, scale);
        return;
    }
#endif
    for (int64_t t = 0; t < nq; t++)
        for (int64_t r = 0; r < ((n0 + t + 7) & ~(int64_t)7); r++) {
            float acc[8] = { 0 };
            for (int64_t i = 0; i < d; i++) acc[i % 8] = fmaf(k[r * d + i], q[t * d + i], acc[i % 8]);
            s[t * ss + r] = hsum8(acc) * scale;
        }
}

void ops_dot_f16_ref_rows(float *out, const float *a, const uint16_t *b, int64_t stride, int64_t ring, int64_t j0,
                          int64_t n_rows, int64_t n, int lanes, float scale) {
    tables_ready();
#if defined(__x86_64__)
    if (use_avx2) {
        hearth_avx2_ops_dot_f16_ref_rows(out, a, b, stride, ring, j0, n_rows, n, lanes, scale);
        return;
    }
#endif
    for (int64_t i = 0; i < n_rows; i++)
        out[i] = ops_dot_f16_ref(a, b + (ring ? (j0 + i) % ring : i) * stride, n, lanes) * scale;
}

float ops_softmax_ref(float *x, int64_t n, int64_t j0) {
#if defined(__x86_64__)
    tables_ready();
    if (use_avx2) return hearth_avx2_ops_softmax_ref(x, n, j0);
#endif
    float mx = -INFINITY;
    for (int64_t i = 0; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    double sum = 0.0;
    float blk[8];
    for (int64_t i = 0; i < n;) {
        /* one aligned block of 8 cells; cells outside [j0, j0+n) contribute exp(-inf) = 0 */
        const int64_t c0 = (j0 + i) & ~(int64_t)7;
        for (int l = 0; l < 8; l++) {
            const int64_t k = c0 + l - j0;
            blk[l] = k >= i && k < n ? (x[k] = ops_expf_ref(x[k] - mx)) : 0.0f;
        }
        sum += (double)hsum8(blk);
        i = c0 + 8 - j0;
    }
    const float inv = (float)(1.0 / sum);
    for (int64_t i = 0; i < n; i++) x[i] *= inv;
    return (float)sum;
}

void ops_wsum_f16_ref(float *out, const float *p, const uint16_t *v, int64_t v_stride, int64_t ring, int64_t j0,
                      int64_t n, int64_t d, int lanes, float *acc) {
    tables_ready();
#if defined(__x86_64__)
    if (use_avx2) {
        hearth_avx2_ops_wsum_f16_ref(out, p, v, v_stride, ring, j0, n, d, lanes, acc);
        return;
    }
#endif
    memset(acc, 0, (size_t)lanes * (size_t)d * sizeof(float));
    for (int64_t j = 0; j < n; j++) {
        float *a = acc + ((j0 + j) % lanes) * d;
        const uint16_t *row = v + (ring ? (j0 + j) % ring : j) * v_stride;
        for (int64_t c = 0; c < d; c++) a[c] = fmaf(p[j], f16_table[row[c]], a[c]);
    }
    float col[32];
    for (int64_t c = 0; c < d; c++) {
        for (int l = 0; l < lanes; l++) col[l] = acc[l * d + c];
        out[c] = lanes == 8 ? hsum8(col) : reduce32(col);
    }
}

void ops_silu_mul_ref(float *a, const float *b, int64_t n) {
    const int64_t nv = n & ~(int64_t)7; /* the vector part; the scalar tail uses expf */
#if defined(__x86_64__)
    tables_ready();
    if (use_avx2) hearth_avx2_ops_silu_mul_ref8(a, b, nv);
    else
#endif
        for (int64_t i = 0; i < nv; i++) a[i] = a[i] / (1.0f + ops_expf_ref(-a[i])) * b[i];
    for (int64_t i = nv; i < n; i++) a[i] = silu1(a[i]) * b[i];
}
