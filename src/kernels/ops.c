/*
 * ops.c — float operations of the forward pass (see ops.h).  Plain C, vectorizable.
 *
 * Two details follow the reference engine (llama.cpp's CPU backend) so that our logits
 * match it closely: RMS norms accumulate in double, and GELU goes through a table indexed
 * by the f16 value of its input (the reference computes GELU that way, |x| < 10).
 */
#include "kernels/ops.h"

#include "kernels/kernels_impl.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

/* ---- f16 <-> f32 ---------------------------------------------------------------------- */

static float    f16_table[1 << 16];  /* f16 bits -> f32 */
static uint16_t gelu_table[1 << 16]; /* f16 bits of x -> f16 bits of gelu(x) */
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
    return 0.5f * x * (1.0f + tanhf(c * x * (1.0f + 0.044715f * x * x)));
}

static void tables_init(void) {
#if defined(__x86_64__)
    use_avx2 = strcmp(hearth_kernels_isa(), "avx2") == 0;
#endif
    for (uint32_t i = 0; i < (1u << 16); i++) {
        f16_table[i]  = f16_decode((uint16_t)i);
        gelu_table[i] = f16_encode(gelu_exact(f16_table[i]));
    }
}

static inline void tables_ready(void) { pthread_once(&tables_once, tables_init); }

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
    for (int64_t i = 0; i < n; i++) sum += (double)x[i] * (double)x[i];
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
    float theta = (float)pos * r->freq_scale;
    for (int i = 0; i < r->n_rot / 2; i++) {
        float t = r->freq_factors ? theta / r->freq_factors[i] : theta;
        cs[2 * i]     = cosf(t);
        cs[2 * i + 1] = sinf(t);
        theta *= theta_scale;
    }
}

void ops_rope_apply(const ops_rope *r, float *x, int n_heads, int head_dim, const float *cs) {
    const int half = r->n_rot / 2;
    for (int h = 0; h < n_heads; h++) {
        float *v = x + (int64_t)h * head_dim;
        if (r->neox) {
            for (int i = 0; i < half; i++) {
                const float c = cs[2 * i], s = cs[2 * i + 1], a = v[i], b = v[i + half];
                v[i]        = a * c - b * s;
                v[i + half] = a * s + b * c;
            }
        } else {
            for (int i = 0; i < half; i++) {
                const float c = cs[2 * i], s = cs[2 * i + 1], a = v[2 * i], b = v[2 * i + 1];
                v[2 * i]     = a * c - b * s;
                v[2 * i + 1] = a * s + b * c;
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
