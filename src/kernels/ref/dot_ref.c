/* dot_ref.c — scalar reference dot products: one weight row of type T against one activation
 * row of T's vec_dot_type.  Integer sums per block are exact; the float arithmetic (which
 * products are formed, in which order they are accumulated) follows llama.cpp's generic
 * (scalar) kernels, so that this reference gives the same results as llama.cpp built without
 * SIMD.  n is a multiple of the block size. */
#include "kernels/kernels_impl.h"

#include <string.h>

#define FP16(h) hearth_fp16_to_fp32(h)

/* F32/F16/BF16 accumulate in double, as ggml's scalar vec_dot does. */
void hearth_ref_vec_dot_f32(int64_t n, float *s, const void *w, const void *a) {
    const float *x = w, *y = a;
    double       sum = 0.0;
    for (int64_t i = 0; i < n; i++) sum += (double)(x[i] * y[i]);
    *s = (float)sum;
}

void hearth_ref_vec_dot_f16(int64_t n, float *s, const void *w, const void *a) {
    const uint16_t *x = w, *y = a;
    double          sum = 0.0;
    for (int64_t i = 0; i < n; i++) sum += (double)(hearth_fp16_to_fp32(x[i]) * hearth_fp16_to_fp32(y[i]));
    *s = (float)sum;
}

void hearth_ref_vec_dot_bf16(int64_t n, float *s, const void *w, const void *a) {
    const uint16_t *x = w, *y = a;
    double          sum = 0.0;
    for (int64_t i = 0; i < n; i++) sum += (double)(hearth_bf16_to_fp32(x[i]) * hearth_bf16_to_fp32(y[i]));
    *s = (float)sum;
}

void hearth_ref_vec_dot_q4_0(int64_t n, float *s, const void *w, const void *a) {
    const block_q4_0 *x = w;
    const block_q8_0 *y = a;
    float             sumf = 0;
    for (int64_t ib = 0; ib < n / HEARTH_QK8_0; ib++) {
        int sumi0 = 0, sumi1 = 0;
        for (int j = 0; j < 16; j++) {
            const int v0 = (x[ib].qs[j] & 0x0F) - 8;
            const int v1 = (x[ib].qs[j] >> 4) - 8;
            sumi0 += v0 * y[ib].qs[j];
            sumi1 += v1 * y[ib].qs[j + 16];
        }
        const int sumi = sumi0 + sumi1;
        sumf += (float)sumi * FP16(x[ib].d) * FP16(y[ib].d);
    }
    *s = sumf;
}

void hearth_ref_vec_dot_q4_1(int64_t n, float *s, const void *w, const void *a) {
    const block_q4_1 *x = w;
    const block_q8_1 *y = a;
    float             sumf = 0;
    for (int64_t ib = 0; ib < n / HEARTH_QK8_1; ib++) {
        int sumi0 = 0, sumi1 = 0;
        for (int j = 0; j < 16; j++) {
            sumi0 += (x[ib].qs[j] & 0x0F) * y[ib].qs[j];
            sumi1 += (x[ib].qs[j] >> 4) * y[ib].qs[j + 16];
        }
        const int sumi = sumi0 + sumi1;
        sumf += (FP16(x[ib].d) * FP16(y[ib].d)) * (float)sumi + FP16(x[ib].m) * FP16(y[ib].s);
    }
    *s = sumf;
}

void hearth_ref_vec_dot_q5_0(int64_t n, float *s, const void *w, const void *a) {
    const block_q5_0 *x = w;
    const block_q8_0 *y = a;
    float             sumf = 0;
    for (int64_t ib = 0; ib < n / HEARTH_QK8_0; ib++) {
        uint32_t qh;
        memcpy(&qh, x[ib].qh, sizeof qh);
        int sumi0 = 0, sumi1 = 0;
        for (int j = 0; j < 16; j++) {
            const int xh0 = (int)((qh >> j) << 4) & 0x10;
            const int xh1 = (int)(qh >> (j + 12)) & 0x10;
            const int x0  = ((x[ib].qs[j] & 0x0F) | xh0) - 16;
            const int x1  = ((x[ib].qs[j] >> 4) | xh1) - 16;
            sumi0 += x0 * y[ib].qs[j];
            sumi1 += x1 * y[ib].qs[j + 16];
        }
        const int sumi = sumi0 + sumi1;
        sumf += (FP16(x[ib].d) * FP16(y[ib].d)) * (float)sumi;
    }
    *s = sumf;
}

void hearth_ref_vec_dot_q5_1(int64_t n, float *s, const void *w, const void *a) {
    const block_q5_1 *x = w;
    const block_q8_1 *y = a;
    float             sumf = 0;
    for (int64_t ib = 0; ib < n / HEARTH_QK8_1; ib++) {
        uint32_t qh;
        memcpy(&qh, x[ib].qh, sizeof qh);
        int sumi0 = 0, sumi1 = 0;
        for (int j = 0; j < 16; j++) {
            const int xh0 = (int)((qh >> j) << 4) & 0x10;
            const int xh1 = (int)(qh >> (j + 12)) & 0x10;
            sumi0 += ((x[ib].qs[j] & 0x0F) | xh0) * y[ib].qs[j];
            sumi1 += ((x[ib].qs[j] >> 4) | xh1) * y[ib].qs[j + 16];
        }
        const int sumi = sumi0 + sumi1;
        sumf += (FP16(x[ib].d) * FP16(y[ib].d)) * (float)sumi + FP16(x[ib].m) * FP16(y[ib].s);
    }
    *s = sumf;
}

void hearth_ref_vec_dot_q8_0(int64_t n, float *s, const void *w, const void *a) {
    const block_q8_0 *x = w;
    const block_q8_0 *y = a;
    float             sumf = 0;
    for (int64_t ib = 0; ib < n / HEARTH_QK8_0; ib++) {
        int sumi = 0;
        for (int j = 0; j < HEARTH_QK8_0; j++) sumi += x[ib].qs[j] * y[ib].qs[j];
        sumf += (float)sumi * (FP16(x[ib].d) * FP16(y[ib].d));
    }
    *s = sumf;
}

void hearth_ref_vec_dot_q2_K(int64_t n, float *s, const void *w, const void *a) {
    const block_q2_K *x = w;
    const block_q8_K *y = a;
    float             sumf = 0;
    for (int64_t i = 0; i < n / HEARTH_QK_K; i++) {
        const uint8_t *q2 = x[i].qs;
        const int8_t  *q8 = y[i].qs;
        const uint8_t *sc = x[i].scales;
        int            summs = 0;
        for (int j = 0; j < 16; j++) summs += y[i].bsums[j] * (sc[j] >> 4);
        const float dall = y[i].d * FP16(x[i].d);
        const float dmin = y[i].d * FP16(x[i].dmin);
        int         isum = 0, is = 0;
        for (int k = 0; k < HEARTH_QK_K / 128; k++) {
            int shift = 0;
            for (int j = 0; j < 4; j++) {
                int d = sc[is++] & 0xF, isuml = 0;
                for (int l = 0; l < 16; l++) isuml += q8[l] * ((q2[l] >> shift) & 3);
                isum += d * isuml;
                d     = sc[is++] & 0xF;
                isuml = 0;
                for (int l = 16; l < 32; l++) isuml += q8[l] * ((q2[l] >> shift) & 3);
                isum += d * isuml;
                shift += 2;
                q8 += 32;
            }
            q2 += 32;
        }
        sumf += dall * (float)isum - dmin * (float)summs;
    }
    *s = sumf;
}

/* The K-quant kernels below expand a block to int8 values, then accumulate scale * q * q8
 * into 8 int32 lanes and those into 8 float lanes, summed at the end (llama.cpp's layout). */

void hearth_ref_vec_dot_q3_K(int64_t n, float *s, const void *w, const void *a) {
    const block_q3_K *x = w;
    const block_q8_K *y = a;
    int8_t            aux8[HEARTH_QK_K];
    int32_t           aux32[8];
    int8_t            scales[16];
    float             sums[8] = { 0 };
    for (int64_t i = 0; i < n / HEARTH_QK_K; i++) {
        const uint8_t *q3 = x[i].qs;
        const uint8_t *hm = x[i].hmask;
        const int8_t  *q8 = y[i].qs;
        int8_t        *p  = aux8;
        uint8_t        m  = 1;
        for (int j = 0; j < HEARTH_QK_K; j += 128) {
            for (int shift = 0; shift < 8; shift += 2) {
                for (int l = 0; l < 32; l++) p[l] = (int8_t)(((q3[l] >> shift) & 3) - (hm[l] & m ? 0 : 4));
                p += 32;
                m <<= 1;
            }
            q3 += 32;
        }
        hearth_q3_K_scales(x[i].scales, scales);
        memset(aux32, 0, sizeof aux32);
        p = aux8;
        for (int j = 0; j < HEARTH_QK_K / 16; j++) {
            for (int h = 0; h < 2; h++) {
                for (int l = 0; l < 8; l++) aux32[l] += (scales[j] - 32) * (q8[l] * p[l]);
                q8 += 8;
                p += 8;
            }
        }
        const float d = FP16(x[i].d) * y[i].d;
        for (int l = 0; l < 8; l++) sums[l] += d * (float)aux32[l];
    }
    float sumf = 0;
    for (int l = 0; l < 8; l++) sumf += sums[l];
    *s = sumf;
}

/* Shared tail of Q4_K and Q5_K: aux8 holds the 256 unsigned quants of block i. */
static void k4_accumulate(const uint8_t *packed_scales, const int8_t *aux8, const block_q8_K *y,
                          hearth_half xd, hearth_half xdmin, float sums[8], float *sumf) {
    uint8_t sc[8], mn[8];
    for (int j = 0; j < 8; j++) hearth_get_scale_min_k4(j, packed_scales, &sc[j], &mn[j]);
    int sumi = 0;
    for (int j = 0; j < HEARTH_QK_K / 16; j++) sumi += y->bsums[j] * mn[j / 2];
    int32_t       aux32[8] = { 0 };
    const int8_t *q8       = y->qs;
    const int8_t *p        = aux8;
    for (int j = 0; j < HEARTH_QK_K / 32; j++) {
        const int32_t scale = sc[j];
        for (int h = 0; h < 4; h++) {
            for (int l = 0; l < 8; l++) aux32[l] += scale * (q8[l] * p[l]);
            q8 += 8;
            p += 8;
        }
    }
    const float d = FP16(xd) * y->d;
    for (int l = 0; l < 8; l++) sums[l] += d * (float)aux32[l];
    const float dmin = FP16(xdmin) * y->d;
    *sumf -= dmin * (float)sumi;
}

void hearth_ref_vec_dot_q4_K(int64_t n, float *s, const void *w, const void *a) {
    const block_q4_K *x = w;
    const block_q8_K *y = a;
    int8_t            aux8[HEARTH_QK_K];
    float             sums[8] = { 0 };
    float             sumf    = 0;
    for (int64_t i = 0; i < n / HEARTH_QK_K; i++) {
        const uint8_t *q4 = x[i].qs;
        int8_t        *p  = aux8;
        for (int j = 0; j < HEARTH_QK_K / 64; j++) {
            for (int l = 0; l < 32; l++) p[l] = (int8_t)(q4[l] & 0xF);
            p += 32;
            for (int l = 0; l < 32; l++) p[l] = (int8_t)(q4[l] >> 4);
            p += 32;
            q4 += 32;
        }
        k4_accumulate(x[i].scales, aux8, &y[i], x[i].d, x[i].dmin, sums, &sumf);
    }
    for (int l = 0; l < 8; l++) sumf += sums[l];
    *s = sumf;
}

void hearth_ref_vec_dot_q5_K(int64_t n, float *s, const void *w, const void *a) {
    const block_q5_K *x = w;
    const block_q8_K *y = a;
    int8_t            aux8[HEARTH_QK_K];
    float             sums[8] = { 0 };
    float             sumf    = 0;
    for (int64_t i = 0; i < n / HEARTH_QK_K; i++) {
        const uint8_t *q4 = x[i].qs;
        const uint8_t *hm = x[i].qh;
        int8_t        *p  = aux8;
        uint8_t        m  = 1;
        for (int j = 0; j < HEARTH_QK_K / 64; j++) {
            for (int l = 0; l < 32; l++) p[l] = (int8_t)((q4[l] & 0xF) + (hm[l] & m ? 16 : 0));
            p += 32;
            m <<= 1;
            for (int l = 0; l < 32; l++) p[l] = (int8_t)((q4[l] >> 4) + (hm[l] & m ? 16 : 0));
            p += 32;
            m <<= 1;
            q4 += 32;
        }
        k4_accumulate(x[i].scales, aux8, &y[i], x[i].d, x[i].dmin, sums, &sumf);
    }
    for (int l = 0; l < 8; l++) sumf += sums[l];
    *s = sumf;
}

void hearth_ref_vec_dot_q6_K(int64_t n, float *s, const void *w, const void *a) {
    const block_q6_K *x = w;
    const block_q8_K *y = a;
    int8_t            aux8[HEARTH_QK_K];
    float             sums[8] = { 0 };
    for (int64_t i = 0; i < n / HEARTH_QK_K; i++) {
        const uint8_t *q4 = x[i].ql;
        const uint8_t *qh = x[i].qh;
        const int8_t  *q8 = y[i].qs;
        int8_t        *p  = aux8;
        for (int j = 0; j < HEARTH_QK_K; j += 128) {
            for (int l = 0; l < 32; l++) {
                p[l + 0]  = (int8_t)(((q4[l + 0] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32);
                p[l + 32] = (int8_t)(((q4[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32);
                p[l + 64] = (int8_t)(((q4[l + 0] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
                p[l + 96] = (int8_t)(((q4[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
            }
            p += 128;
            q4 += 64;
            qh += 32;
        }
        int32_t aux32[8] = { 0 };
        p                = aux8;
        for (int j = 0; j < HEARTH_QK_K / 16; j++) {
            const int scale = x[i].scales[j];
            for (int h = 0; h < 2; h++) {
                for (int l = 0; l < 8; l++) aux32[l] += scale * (q8[l] * p[l]);
                q8 += 8;
                p += 8;
            }
        }
        const float d = FP16(x[i].d) * y[i].d;
        for (int l = 0; l < 8; l++) sums[l] += d * (float)aux32[l];
    }
    float sumf = 0;
    for (int l = 0; l < 8; l++) sumf += sums[l];
    *s = sumf;
}
