/* convert_ref.c — scalar reference: fp16/bf16 conversions, dequantization (to_float) of every
 * supported type, and quantization (from_float) of the activation types.  This file is the
 * specification the fast kernels are tested against; rounding follows llama.cpp's *_ref
 * quantizers so activations quantize to the same bytes. */
#include "kernels/kernels_impl.h"

#include <math.h>
#include <string.h>

static inline uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float f32_from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

float hearth_fp16_to_fp32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t e    = (h >> 10) & 0x1f;
    uint32_t m    = h & 0x3ff;
    if (e == 0) {
        float v = (float)m * 0x1p-24f; /* zero or subnormal: exact */
        return sign ? -v : v;
    }
    if (e == 31) return f32_from_bits(sign | 0x7f800000u | (m << 13));
    return f32_from_bits(sign | ((e + 112) << 23) | (m << 13));
}

uint16_t hearth_fp32_to_fp16(float f) {
    uint32_t x    = f32_bits(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    x &= 0x7fffffffu;
    if (x >= 0x7f800000u) return sign | (x > 0x7f800000u ? 0x7e00 : 0x7c00); /* NaN, Inf */
    if (x >= 0x477ff000u) return sign | 0x7c00;    /* rounds to >= 65520: overflow to Inf */
    if (x < 0x38800000u) {                          /* below 2^-14: half subnormal or zero */
        if (x <= 0x33000000u) return sign;          /* <= 2^-25 rounds (ties even) to 0 */
        uint32_t e     = x >> 23;
        uint32_t m     = (x & 0x7fffffu) | 0x800000u; /* value = m * 2^(e-150) */
        uint32_t shift = 126 - e;                      /* in units of 2^-24: m >> shift */
        uint32_t r     = m >> shift;
        uint32_t rem   = m & ((1u << shift) - 1);
        uint32_t half  = 1u << (shift - 1);
        if (rem > half || (rem == half && (r & 1))) r++;
        return sign | (uint16_t)r;
    }
    uint32_t h   = (x - 0x38000000u) >> 13;
    uint32_t rem = x & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1))) h++;
    return sign | (uint16_t)h;
}

float hearth_bf16_to_fp32(uint16_t h) { return f32_from_bits((uint32_t)h << 16); }

uint16_t hearth_fp32_to_bf16(float f) {
    uint32_t u = f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 64); /* quiet NaN */
    return (uint16_t)((u + (0x7fffu + ((u >> 16) & 1))) >> 16);
}

#define FP16(h) hearth_fp16_to_fp32(h)

/* ---- to_float ------------------------------------------------------------------------ */

void hearth_ref_to_float_f32(const void *x, float *y, int64_t n) { memcpy(y, x, (size_t)n * sizeof(float)); }

void hearth_ref_to_float_f16(const void *x, float *y, int64_t n) {
    const uint16_t *h = x;
    for (int64_t i = 0; i < n; i++) y[i] = hearth_fp16_to_fp32(h[i]);
}

void hearth_ref_to_float_bf16(const void *x, float *y, int64_t n) {
    const uint16_t *h = x;
    for (int64_t i = 0; i < n; i++) y[i] = hearth_bf16_to_fp32(h[i]);
}

void hearth_ref_to_float_q4_0(const void *vx, float *y, int64_t n) {
    const block_q4_0 *x = vx;
    for (int64_t i = 0; i < n / HEARTH_QK4_0; i++, y += HEARTH_QK4_0) {
        const float d = FP16(x[i].d);
        for (int j = 0; j < HEARTH_QK4_0 / 2; j++) {
            y[j]      = (float)((x[i].qs[j] & 0x0F) - 8) * d;
            y[j + 16] = (float)((x[i].qs[j] >> 4) - 8) * d;
        }
    }
}

void hearth_ref_to_float_q4_1(const void *vx, float *y, int64_t n) {
    const block_q4_1 *x = vx;
    for (int64_t i = 0; i < n / HEARTH_QK4_1; i++, y += HEARTH_QK4_1) {
        const float d = FP16(x[i].d), m = FP16(x[i].m);
        for (int j = 0; j < HEARTH_QK4_1 / 2; j++) {
            y[j]      = (float)(x[i].qs[j] & 0x0F) * d + m;
            y[j + 16] = (float)(x[i].qs[j] >> 4) * d + m;
        }
    }
}

void hearth_ref_to_float_q5_0(const void *vx, float *y, int64_t n) {
    const block_q5_0 *x = vx;
    for (int64_t i = 0; i < n / HEARTH_QK5_0; i++, y += HEARTH_QK5_0) {
        const float d = FP16(x[i].d);
        uint32_t    qh;
        memcpy(&qh, x[i].qh, sizeof qh);
        for (int j = 0; j < HEARTH_QK5_0 / 2; j++) {
            const int xh0 = (int)((qh >> j) << 4) & 0x10;
            const int xh1 = (int)(qh >> (j + 12)) & 0x10;
            y[j]      = (float)(((x[i].qs[j] & 0x0F) | xh0) - 16) * d;
            y[j + 16] = (float)(((x[i].qs[j] >> 4) | xh1) - 16) * d;
        }
    }
}

void hearth_ref_to_float_q5_1(const void *vx, float *y, int64_t n) {
    const block_q5_1 *x = vx;
    for (int64_t i = 0; i < n / HEARTH_QK5_1; i++, y += HEARTH_QK5_1) {
        const float d = FP16(x[i].d), m = FP16(x[i].m);
        uint32_t    qh;
        memcpy(&qh, x[i].qh, sizeof qh);
        for (int j = 0; j < HEARTH_QK5_1 / 2; j++) {
            const int xh0 = (int)((qh >> j) << 4) & 0x10;
            const int xh1 = (int)(qh >> (j + 12)) & 0x10;
            y[j]      = (float)((x[i].qs[j] & 0x0F) | xh0) * d + m;
            y[j + 16] = (float)((x[i].qs[j] >> 4) | xh1) * d + m;
        }
    }
}

void hearth_ref_to_float_q8_0(const void *vx, float *y, int64_t n) {
    const block_q8_0 *x = vx;
    for (int64_t i = 0; i < n / HEARTH_QK8_0; i++, y += HEARTH_QK8_0) {
        const float d = FP16(x[i].d);
        for (int j = 0; j < HEARTH_QK8_0; j++) y[j] = (float)x[i].qs[j] * d;
    }
}

void hearth_ref_to_float_q8_1(const void *vx, float *y, int64_t n) {
    const block_q8_1 *x = vx;
    for (int64_t i = 0; i < n / HEARTH_QK8_1; i++, y += HEARTH_QK8_1) {
        const float d = FP16(x[i].d);
        for (int j = 0; j < HEARTH_QK8_1; j++) y[j] = (float)x[i].qs[j] * d;
    }
}

void hearth_ref_to_float_q2_K(const void *vx, float *y, int64_t n) {
    const block_q2_K *x = vx;
    for (int64_t i = 0; i < n / HEARTH_QK_K; i++) {
        const float    d   = FP16(x[i].d);
        const float    min = FP16(x[i].dmin);
        const uint8_t *q   = x[i].qs;
        int            is  = 0;
        for (int k = 0; k < HEARTH_QK_K; k += 128) {
            int shift = 0;
            for (int j = 0; j < 4; j++) {
                uint8_t sc = x[i].scales[is++];
                float   dl = d * (float)(sc & 0xF), ml = min * (float)(sc >> 4);
                for (int l = 0; l < 16; l++) *y++ = dl * (float)((q[l] >> shift) & 3) - ml;
                sc = x[i].scales[is++];
                dl = d * (float)(sc & 0xF), ml = min * (float)(sc >> 4);
                for (int l = 0; l < 16; l++) *y++ = dl * (float)((q[l + 16] >> shift) & 3) - ml;
                shift += 2;
            }
            q += 32;
        }
    }
}

void hearth_ref_to_float_q3_K(const void *vx, float *y, int64_t n) {
    const block_q3_K *x = vx;
    for (int64_t i = 0; i < n / HEARTH_QK_K; i++) {
        const float    d_all = FP16(x[i].d);
        const uint8_t *q     = x[i].qs;
        const uint8_t *hm    = x[i].hmask;
        uint8_t        m     = 1;
        int8_t         scales[16];
        hearth_q3_K_scales(x[i].scales, scales);
        int is = 0;
        for (int k = 0; k < HEARTH_QK_K; k += 128) {
            int shift = 0;
            for (int j = 0; j < 4; j++) {
                float dl = d_all * (float)(scales[is++] - 32);
                for (int l = 0; l < 16; l++)
                    *y++ = dl * (float)(((q[l] >> shift) & 3) - ((hm[l] & m) ? 0 : 4));
                dl = d_all * (float)(scales[is++] - 32);
                for (int l = 0; l < 16; l++)
                    *y++ = dl * (float)(((q[l + 16] >> shift) & 3) - ((hm[l + 16] & m) ? 0 : 4));
                shift += 2;
                m <<= 1;
            }
            q += 32;
        }
    }
}

void hearth_ref_to_float_q4_K(const void *vx, float *y, int64_t n) {
    const block_q4_K *x = vx;
    for (int64_t i = 0; i < n / HEARTH_QK_K; i++) {
        const uint8_t *q   = x[i].qs;
        const float    d   = FP16(x[i].d);
        const float    min = FP16(x[i].dmin);
        int            is  = 0;
        uint8_t        sc, m;
        for (int j = 0; j < HEARTH_QK_K; j += 64) {
            hearth_get_scale_min_k4(is + 0, x[i].scales, &sc, &m);
            const float d1 = d * sc, m1 = min * m;
            hearth_get_scale_min_k4(is + 1, x[i].scales, &sc, &m);
            const float d2 = d * sc, m2 = min * m;
            for (int l = 0; l < 32; l++) *y++ = d1 * (float)(q[l] & 0xF) - m1;
            for (int l = 0; l < 32; l++) *y++ = d2 * (float)(q[l] >> 4) - m2;
            q += 32;
            is += 2;
        }
    }
}

void hearth_ref_to_float_q5_K(const void *vx, float *y, int64_t n) {
    const block_q5_K *x = vx;
    for (int64_t i = 0; i < n / HEARTH_QK_K; i++) {
        const uint8_t *ql  = x[i].qs;
        const uint8_t *qh  = x[i].qh;
        const float    d   = FP16(x[i].d);
        const float    min = FP16(x[i].dmin);
        int            is  = 0;
        uint8_t        sc, m;
        uint8_t        u1 = 1, u2 = 2;
        for (int j = 0; j < HEARTH_QK_K; j += 64) {
            hearth_get_scale_min_k4(is + 0, x[i].scales, &sc, &m);
            const float d1 = d * sc, m1 = min * m;
            hearth_get_scale_min_k4(is + 1, x[i].scales, &sc, &m);
            const float d2 = d * sc, m2 = min * m;
            for (int l = 0; l < 32; l++) *y++ = d1 * (float)((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
            for (int l = 0; l < 32; l++) *y++ = d2 * (float)((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
            ql += 32;
            is += 2;
            u1 <<= 2;
            u2 <<= 2;
        }
    }
}

void hearth_ref_to_float_q6_K(const void *vx, float *y, int64_t n) {
    const block_q6_K *x = vx;
    for (int64_t i = 0; i < n / HEARTH_QK_K; i++) {
        const float    d  = FP16(x[i].d);
        const uint8_t *ql = x[i].ql;
        const uint8_t *qh = x[i].qh;
        const int8_t  *sc = x[i].scales;
        for (int k = 0; k < HEARTH_QK_K; k += 128) {
            for (int l = 0; l < 32; l++) {
                const int is = l / 16;
                const int q1 = (int8_t)((ql[l + 0] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                const int q2 = (int8_t)((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                const int q3 = (int8_t)((ql[l + 0] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                const int q4 = (int8_t)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[l + 0]  = d * (float)sc[is + 0] * (float)q1;
                y[l + 32] = d * (float)sc[is + 2] * (float)q2;
                y[l + 64] = d * (float)sc[is + 4] * (float)q3;
                y[l + 96] = d * (float)sc[is + 6] * (float)q4;
            }
            y += 128;
            ql += 64;
            qh += 32;
            sc += 8;
        }
    }
}

void hearth_ref_to_float_q8_K(const void *vx, float *y, int64_t n) {
    const block_q8_K *x = vx;
    for (int64_t i = 0; i < n / HEARTH_QK_K; i++)
        for (int j = 0; j < HEARTH_QK_K; j++) *y++ = x[i].d * (float)x[i].qs[j];
}

/* ---- from_float (activations) --------------------------------------------------------- */

void hearth_ref_from_float_f32(const float *x, void *y, int64_t n) { memcpy(y, x, (size_t)n * sizeof(float)); }

void hearth_ref_from_float_f16(const float *x, void *vy, int64_t n) {
    uint16_t *y = vy;
    for (int64_t i = 0; i < n; i++) y[i] = hearth_fp32_to_fp16(x[i]);
}

void hearth_ref_from_float_bf16(const float *x, void *vy, int64_t n) {
    uint16_t *y = vy;
    for (int64_t i = 0; i < n; i++) y[i] = hearth_fp32_to_bf16(x[i]);
}

/* d = max|x| / 127, q = roundf(x / d) (half away from zero), as quantize_row_q8_0_ref. */
void hearth_ref_from_float_q8_0(const float *x, void *vy, int64_t n) {
    block_q8_0 *y = vy;
    for (int64_t i = 0; i < n / HEARTH_QK8_0; i++, x += HEARTH_QK8_0) {
        float amax = 0.0f;
        for (int j = 0; j < HEARTH_QK8_0; j++) amax = fmaxf(amax, fabsf(x[j]));
        const float d  = amax / 127.0f;
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = hearth_fp32_to_fp16(d);
        for (int j = 0; j < HEARTH_QK8_0; j++) y[i].qs[j] = (int8_t)roundf(x[j] * id);
    }
}

/* As Q8_0, plus s = d * sum(q) (quantize_row_q8_1_ref). */
void hearth_ref_from_float_q8_1(const float *x, void *vy, int64_t n) {
    block_q8_1 *y = vy;
    for (int64_t i = 0; i < n / HEARTH_QK8_1; i++, x += HEARTH_QK8_1) {
        float amax = 0.0f;
        for (int j = 0; j < HEARTH_QK8_1; j++) amax = fmaxf(amax, fabsf(x[j]));
        const float d   = amax / 127.0f;
        const float id  = d ? 1.0f / d : 0.0f;
        int         sum = 0;
        y[i].d = hearth_fp32_to_fp16(d);
        for (int j = 0; j < HEARTH_QK8_1 / 2; j++) {
            y[i].qs[j]      = (int8_t)roundf(x[j] * id);
            y[i].qs[j + 16] = (int8_t)roundf(x[j + 16] * id);
            sum += y[i].qs[j] + y[i].qs[j + 16];
        }
        y[i].s = hearth_fp32_to_fp16((float)sum * d);
    }
}

/* Scale from the element of largest magnitude (its sign kept): iscale = -127/max,
 * q = min(127, nearest_int(iscale * x)), d = 1/iscale; bsums per group of 16
 * (quantize_row_q8_K_ref).  An all-zero block gets d = 0, q = 0, bsums = 0. */
void hearth_ref_from_float_q8_K(const float *x, void *vy, int64_t n) {
    block_q8_K *y = vy;
    for (int64_t i = 0; i < n / HEARTH_QK_K; i++, x += HEARTH_QK_K) {
        float max = 0, amax = 0;
        for (int j = 0; j < HEARTH_QK_K; j++) {
            const float ax = fabsf(x[j]);
            if (ax > amax) {
                amax = ax;
                max  = x[j];
            }
        }
        if (!amax) {
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        const float iscale = -127.f / max;
        for (int j = 0; j < HEARTH_QK_K; j++) {
            const int v = hearth_nearest_int(iscale * x[j]);
            y[i].qs[j]  = (int8_t)(v < 127 ? v : 127);
        }
        for (int j = 0; j < HEARTH_QK_K / 16; j++) {
            int sum = 0;
            for (int l = 0; l < 16; l++) sum += y[i].qs[j * 16 + l];
            y[i].bsums[j] = (int16_t)sum;
        }
        y[i].d = 1 / iscale;
    }
}
