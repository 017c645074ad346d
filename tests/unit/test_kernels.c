/* test_kernels.c — the compute kernels: fp16/bf16 conversions, reference dequantization and
 * dot products against each other, every ISA's kernels against the scalar reference (normalized
 * MSE, NaN/Inf), matmul against a naive dequantize + float dot, the thread pool, and
 * dequantization against the gguf Python package (tests/golden/kernels/, made by
 * scripts/make-golden-kernels.py). */
#include "tap.h"

#include "core/core.h"
#include "core/threadpool.h"
#include "kernels/kernels.h"
#include "kernels/kernels_impl.h"
#include "tensor/blocks.h"
#include "tensor/type.h"

#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- helpers ------------------------------------------------------------------------- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint32_t rng_u32(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 11);
}
static float rng_unit(void) { return (float)(rng_u32() & 0xFFFFFF) / (float)0x1000000 * 2.0f - 1.0f; }

static const hearth_type weight_types[] = {
    HEARTH_TYPE_F32,  HEARTH_TYPE_F16,  HEARTH_TYPE_BF16, HEARTH_TYPE_Q4_0, HEARTH_TYPE_Q4_1,
    HEARTH_TYPE_Q5_0, HEARTH_TYPE_Q5_1, HEARTH_TYPE_Q8_0, HEARTH_TYPE_Q2_K, HEARTH_TYPE_Q3_K,
    HEARTH_TYPE_Q4_K, HEARTH_TYPE_Q5_K, HEARTH_TYPE_Q6_K,
};

/* Byte offsets of the fp16 scale fields of one block of a quantized type (-1 terminated). */
static const int *half_fields(hearth_type t) {
    static const int q4_0[] = { 0, -1 }, q4_1[] = { 0, 2, -1 }, q2k[] = { 80, 82, -1 }, q3k[] = { 108, -1 },
                     q4k[] = { 0, 2, -1 }, q6k[] = { 208, -1 }, none[] = { -1 };
    switch (t) {
    case HEARTH_TYPE_Q4_0: case HEARTH_TYPE_Q5_0: case HEARTH_TYPE_Q8_0: return q4_0;
    case HEARTH_TYPE_Q4_1: case HEARTH_TYPE_Q5_1: return q4_1;
    case HEARTH_TYPE_Q2_K: return q2k;
    case HEARTH_TYPE_Q3_K: return q3k;
    case HEARTH_TYPE_Q4_K: case HEARTH_TYPE_Q5_K: return q4k;
    case HEARTH_TYPE_Q6_K: return q6k;
    default: return none;
    }
}

/* Random weights of type t for n elements: random bytes with finite, moderate fp16 scales
 * (K-quant super-scales small so that the dequantized values are O(1)). */
static void random_weights(hearth_type t, void *dst, int64_t n) {
    const hearth_type_traits *tr = hearth_type_get(t);
    size_t                    bytes = hearth_type_row_size(t, n);
    uint8_t                  *p = dst;
    if (t == HEARTH_TYPE_F32) {
        for (int64_t i = 0; i < n; i++) ((float *)dst)[i] = rng_unit();
        return;
    }
    if (t == HEARTH_TYPE_F16 || t == HEARTH_TYPE_BF16) {
        for (int64_t i = 0; i < n; i++)
            ((uint16_t *)dst)[i] = t == HEARTH_TYPE_F16 ? hearth_fp32_to_fp16(rng_unit()) : hearth_fp32_to_bf16(rng_unit());
        return;
    }
    for (size_t i = 0; i < bytes; i++) p[i] = (uint8_t)rng_u32();
    const float scale = tr->block_size == 256 ? 0.01f : 0.1f;
    for (int64_t b = 0; b < n / tr->block_size; b++) {
        const int *f = half_fields(t);
        for (; *f >= 0; f++) {
            uint16_t h = hearth_fp32_to_fp16(rng_unit() * scale);
            memcpy(p + (size_t)b * tr->type_size + (size_t)*f, &h, 2);
        }
    }
}

static double dot_d(const float *a, const float *b, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

static int all_finite(const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

/* sum (a-b)^2 / sum b^2 */
static double nmse(const float *a, const float *b, int64_t n) {
    double e = 0, r = 0;
    for (int64_t i = 0; i < n; i++) {
        e += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        r += (double)b[i] * b[i];
    }
    return r > 0 ? e / r : e;
}

/* ---- conversions ------------------------------------------------------------------------- */

static void test_fp16_roundtrip(void) {
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = hearth_fp16_to_fp32((uint16_t)h);
        if (isnan(f)) continue;
        if (hearth_fp32_to_fp16(f) != h) bad++;
    }
    CHECKF(bad == 0, "%d halves do not round-trip", bad);
    CHECK(hearth_fp16_to_fp32(0x3c00) == 1.0f);
    CHECK(hearth_fp16_to_fp32(0x7bff) == 65504.0f);
    CHECK(hearth_fp16_to_fp32(0x0001) == 0x1p-24f);
    CHECK(hearth_fp32_to_fp16(65520.0f) == 0x7c00);
    CHECK(hearth_fp32_to_fp16(65519.0f) == 0x7bff);
    CHECK(hearth_fp32_to_fp16(0x1p-25f) == 0);
    CHECK(hearth_fp32_to_fp16(0x1.8p-25f) == 1);
    CHECK(hearth_fp32_to_fp16(-0.0f) == 0x8000);
    CHECK((hearth_fp32_to_fp16(NAN) & 0x7c00) == 0x7c00 && (hearth_fp32_to_fp16(NAN) & 0x3ff));
}

/* fp32 -> fp16 against the compiler's own conversion (round to nearest even) on random bits. */
static void test_fp16_vs_compiler(void) {
#if defined(__FLT16_MAX__)
    int bad = 0;
    for (int i = 0; i < 2000000; i++) {
        uint32_t u = rng_u32() ^ (rng_u32() << 21);
        float    f;
        memcpy(&f, &u, 4);
        if (isnan(f)) continue;
        _Float16 h = (_Float16)f;
        uint16_t hb;
        memcpy(&hb, &h, 2);
        if (hb != hearth_fp32_to_fp16(f)) bad++;
    }
    CHECKF(bad == 0, "%d mismatches", bad);
#endif
}

static void test_bf16(void) {
    CHECK(hearth_fp32_to_bf16(1.0f) == 0x3f80);
    CHECK(hearth_bf16_to_fp32(0x3f80) == 1.0f);
    CHECK(hearth_fp32_to_bf16(1.00390625f) == 0x3f80);  /* tie -> even */
    CHECK(hearth_fp32_to_bf16(1.01171875f) == 0x3f82);  /* tie -> even (up) */
    CHECK((hearth_fp32_to_bf16(NAN) & 0x7f80) == 0x7f80 && (hearth_fp32_to_bf16(NAN) & 0x7f));
}

/* ---- reference: quantizers and dot products ---------------------------------------------- */

static void test_ref_quantizers(void) {
    const int64_t n = 1024;
    float        *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    uint8_t      *q = malloc(hearth_type_row_size(HEARTH_TYPE_F32, n));
    for (int64_t i = 0; i < n; i++) x[i] = rng_unit() * 3.0f;
    static const hearth_type acts[] = { HEARTH_TYPE_Q8_0, HEARTH_TYPE_Q8_1, HEARTH_TYPE_Q8_K, HEARTH_TYPE_F16,
                                        HEARTH_TYPE_BF16, HEARTH_TYPE_F32 };
    static const double      tol[] = { 1e-4, 1e-4, 1e-4, 1e-6, 1e-4, 0 };
    for (size_t i = 0; i < HEARTH_ARRAY_LEN(acts); i++) {
        const hearth_type_kernels *k = hearth_kernels_ref(acts[i]);
        REQUIRE(k && k->from_float && k->to_float);
        k->from_float(x, q, n);
        k->to_float(q, y, n);
        double e = nmse(y, x, n);
        CHECKF(e <= tol[i], "%s nmse %g", hearth_type_name(acts[i]), e);
    }
    /* Q8_K bsums and Q8_1 s are consistent with the quants */
    hearth_kernels_ref(HEARTH_TYPE_Q8_K)->from_float(x, q, n);
    const block_q8_K *bk = (const block_q8_K *)q;
    for (int g = 0; g < 16; g++) {
        int s = 0;
        for (int l = 0; l < 16; l++) s += bk[1].qs[g * 16 + l];
        CHECK(s == bk[1].bsums[g]);
    }
    /* an all-zero block quantizes to zeros */
    memset(x, 0, 256 * sizeof *x);
    hearth_kernels_ref(HEARTH_TYPE_Q8_K)->from_float(x, q, 256);
    CHECK(bk[0].d == 0 && bk[0].qs[5] == 0 && bk[0].bsums[3] == 0);
    free(x);
    free(y);
    free(q);
}

/* vec_dot(w, quant(a)) equals the float dot of dequant(w) and dequant(quant(a)) up to float
 * rounding: ties each reference dot product to the reference dequantization. */
static void test_ref_dot_matches_dequant(void) {
    const int64_t n = 512;
    float        *a = malloc(n * sizeof *a), *wf = malloc(n * sizeof *wf), *af = malloc(n * sizeof *af);
    uint8_t      *w = malloc(hearth_type_row_size(HEARTH_TYPE_F32, n)), *aq = malloc(hearth_type_row_size(HEARTH_TYPE_F32, n));
    for (size_t ti = 0; ti < HEARTH_ARRAY_LEN(weight_types); ti++) {
        hearth_type                t  = weight_types[ti];
        const hearth_type_kernels *k  = hearth_kernels_ref(t);
        REQUIRE(k && k->vec_dot && k->to_float);
        const hearth_type_kernels *ka = hearth_kernels_ref(k->vec_dot_type);
        REQUIRE(ka && ka->from_float && ka->to_float);
        for (int rep = 0; rep < 20; rep++) {
            random_weights(t, w, n);
            for (int64_t i = 0; i < n; i++) a[i] = rng_unit();
            ka->from_float(a, aq, n);
            k->to_float(w, wf, n);
            ka->to_float(aq, af, n);
            float  s;
            k->vec_dot(n, &s, w, aq);
            double want = dot_d(wf, af, n);
            double mag  = sqrt(dot_d(wf, wf, n) * dot_d(af, af, n)) + 1e-30;
            CHECKF(fabs(s - want) <= 1e-5 * mag, "%s rep %d: %g vs %g", hearth_type_name(t), rep, s, want);
        }
    }
    free(a);
    free(wf);
    free(af);
    free(w);
    free(aq);
}


/* ---- every ISA against the reference ------------------------------------------------------ */

static const char *const fast_isas[] = { "avx2", "avx512", "avx512vnni" };

/* The AVX-512 tables promise the AVX2 bits (x86/avx512_util.h): every type's vec_dot of
 * avx512 and avx512vnni against avx2's on the same bytes, over awkward lengths, with weights
 * and activations from tiny to large, bit for bit.  On a CPU without AVX-512 this runs in the
 * EMU512 build (SIMDe), which make test builds and runs. */
static void test_avx512_same_bits(void) {
    const int64_t max_n = 256 * 41;
    uint8_t      *w = malloc(max_n * 4), *aq = malloc(max_n * 4);
    float        *a = malloc(max_n * sizeof *a);
    int           ran = 0;
    for (size_t ii = 1; ii < HEARTH_ARRAY_LEN(fast_isas); ii++) {
        if (!hearth_kernels_cpu_has(fast_isas[ii]) || !hearth_kernels_cpu_has("avx2")) {
            printf("# %s: not on this CPU, skipped\n", fast_isas[ii]);
            continue;
        }
        for (size_t ti = 0; ti < HEARTH_ARRAY_LEN(weight_types); ti++) {
            hearth_type                t  = weight_types[ti];
            const hearth_type_kernels *k2 = hearth_kernels_table("avx2", t);
            const hearth_type_kernels *k5 = hearth_kernels_table(fast_isas[ii], t);
            REQUIRE(k2 && k5 && k5->vec_dot && k5->vec_dot_type == k2->vec_dot_type);
            const int64_t bs = hearth_type_get(t)->block_size;
            static const int64_t mult_q[] = { 1, 2, 3, 4, 5, 7, 8, 9, 17, 41 },
                                 mult_f[] = { 1, 7, 8, 15, 16, 17, 31, 32, 33, 48, 63, 64, 65, 100, 257, 4096 };
            const int64_t *mult = bs == 1 ? mult_f : mult_q;
            size_t         nm   = bs == 1 ? HEARTH_ARRAY_LEN(mult_f) : HEARTH_ARRAY_LEN(mult_q);
            int            bad  = 0, trials = 0;
            for (size_t mi = 0; mi < nm; mi++) {
                const int64_t n = bs * mult[mi];
                for (int rep = 0; rep < 6; rep++) {
                    random_weights(t, w, n);
                    const float scale = rep == 0 ? 1000.0f : rep == 1 ? 1e-3f : 1.0f;
                    for (int64_t i = 0; i < n; i++) a[i] = rng_unit() * scale;
                    hearth_kernels_ref(k2->vec_dot_type)->from_float(a, aq, n);
                    float s2, s5;
                    k2->vec_dot(n, &s2, w, aq);
                    k5->vec_dot(n, &s5, w, aq);
                    if (memcmp(&s2, &s5, sizeof s2) != 0) {
                        if (bad < 3)
                            printf("# %s %s n=%lld rep %d: %.9g vs avx2 %.9g\n", fast_isas[ii], hearth_type_name(t),
                                   (long long)n, rep, s5, s2);
                        bad++;
                    }
                    trials++;
                }
            }
            CHECKF(bad == 0, "%s vec_dot %s: %d of %d differ from avx2", fast_isas[ii], hearth_type_name(t), bad,
                   trials);
            ran++;
        }
    }
    printf("# %d AVX-512 kernels compared bit for bit with AVX2\n", ran);
    free(w);
    free(aq);
    free(a);
}

/* vec_dot of each ISA vs ref on the same bytes, over awkward lengths: normalized MSE over all
 * trials, and every result finite. */
static void test_isa_vec_dot(void) {
    const int64_t max_n = 256 * 33;
    uint8_t      *w = malloc(max_n * 4), *aq = malloc(max_n * 4);
    float        *a = malloc(max_n * sizeof *a);
    for (size_t ii = 0; ii < HEARTH_ARRAY_LEN(fast_isas); ii++) {
        if (!hearth_kernels_cpu_has(fast_isas[ii])) {
            printf("# %s: not on this CPU, skipped\n", fast_isas[ii]);
            continue;
        }
        for (size_t ti = 0; ti < HEARTH_ARRAY_LEN(weight_types); ti++) {
            hearth_type                t  = weight_types[ti];
            const hearth_type_kernels *kr = hearth_kernels_ref(t);
            const hearth_type_kernels *kf = hearth_kernels_table(fast_isas[ii], t);
            REQUIRE(kr && kf && kf->vec_dot);
            const int64_t bs       = hearth_type_get(t)->block_size == 1 ? 1 : hearth_type_get(t)->block_size;
            static const int64_t mult_q[] = { 1, 2, 3, 7, 33 }, mult_f[] = { 1, 7, 8, 13, 31, 32, 100, 257, 4096 };
            const int64_t *mult = bs == 1 ? mult_f : mult_q;
            size_t         nm   = bs == 1 ? HEARTH_ARRAY_LEN(mult_f) : HEARTH_ARRAY_LEN(mult_q);
            double         err = 0, ref = 0;
            int            finite = 1;
            for (size_t mi = 0; mi < nm; mi++) {
                const int64_t n = bs * mult[mi];
                for (int rep = 0; rep < 8; rep++) {
                    random_weights(t, w, n);
                    for (int64_t i = 0; i < n; i++) a[i] = rng_unit() * (rep == 0 ? 100.0f : 1.0f);
                    hearth_kernels_ref(kr->vec_dot_type)->from_float(a, aq, n);
                    float sr, sf;
                    kr->vec_dot(n, &sr, w, aq);
                    kf->vec_dot(n, &sf, w, aq);
                    if (!isfinite(sf)) finite = 0;
                    err += ((double)sf - sr) * ((double)sf - sr);
                    ref += (double)sr * sr;
                }
            }
            const double e = err / (ref > 0 ? ref : 1);
            printf("# %s vec_dot %-5s nmse %.3g\n", fast_isas[ii], hearth_type_name(t), e);
            CHECKF(finite && e < 1e-10, "%s %s: nmse %g finite %d", fast_isas[ii], hearth_type_name(t), e, finite);
        }
    }
    free(w);
    free(aq);
    free(a);
}


/* The 4-row kernels give the same bits as the single-row kernel of their ISA. */
static void test_isa_vec_dot4(void) {
    static const hearth_type types[] = { HEARTH_TYPE_Q4_0, HEARTH_TYPE_Q8_0, HEARTH_TYPE_Q4_K, HEARTH_TYPE_Q6_K };
    const int64_t            max_n   = 256 * 7;
    uint8_t                 *w = malloc(max_n * 4), *aq = malloc(max_n * 4 * 4);
    float                   *a = malloc(max_n * sizeof *a);
    for (size_t ii = 0; ii < HEARTH_ARRAY_LEN(fast_isas); ii++) {
        if (!hearth_kernels_cpu_has(fast_isas[ii])) continue;
        for (size_t ti = 0; ti < HEARTH_ARRAY_LEN(types); ti++) {
            hearth_type        t  = types[ti];
            hearth_vec_dot4_fn d4 = hearth_kernels_vec_dot4_isa(fast_isas[ii], t);
            const hearth_type_kernels *kf = hearth_kernels_table(fast_isas[ii], t);
            if (!d4) continue;
            const int64_t bs = hearth_type_get(t)->block_size;
            for (int64_t m = 1; m <= 7; m += 3) {
                const int64_t n   = bs * m;
                const size_t  row = hearth_type_row_size(kf->vec_dot_type, n) + 8; /* odd stride */
                random_weights(t, w, n);
                for (int k = 0; k < 4; k++) {
                    for (int64_t i = 0; i < n; i++) a[i] = rng_unit();
                    hearth_kernels_ref(kf->vec_dot_type)->from_float(a, aq + k * row, n);
                }
                float s4[8], s1;
                d4(n, s4, 2, w, aq, row);
                for (int k = 0; k < 4; k++) {
                    kf->vec_dot(n, &s1, w, aq + k * row);
                    CHECKF(s1 == s4[2 * k], "%s %s n=%lld row %d: %g vs %g", fast_isas[ii], hearth_type_name(t),
                           (long long)n, k, s4[2 * k], s1);
                }
            }
        }
    }
    free(w);
    free(aq);
    free(a);
}

/* Scalar models of the reference engine's batch float orders (the specification of the
 * *_gemm / *_tiled kernels): exact integer sums, then float steps in the stated order.
 * Q4_K repacked GEMM (groups of 4 rows): per 64 values, acc += isum * (d(w) d(a)) and
 * mins += imin * (dmin(w) d(a)) as separate FMAs; GEMV (one row): the same per super-block. */
static float model_q4_K(int64_t n, const void *w, const void *a, int per64) {
    const block_q4_K *x = w;
    const block_q8_K *y = a;
    float acc = 0, mins = 0;
    for (int64_t i = 0; i < n / HEARTH_QK_K; i++) {
        const float dx = hearth_fp16_to_fp32(x[i].d) * y[i].d, dm = hearth_fp16_to_fp32(x[i].dmin) * y[i].d;
        int bsum = 0, bmin = 0;
        for (int j = 0; j < 4; j++) {
            uint8_t sl, ml, sh, mh;
            hearth_get_scale_min_k4(2 * j, x[i].scales, &sl, &ml);
            hearth_get_scale_min_k4(2 * j + 1, x[i].scales, &sh, &mh);
            int lo = 0, hi = 0;
            for (int l = 0; l < 32; l++) {
                lo += (x[i].qs[32 * j + l] & 0xF) * y[i].qs[64 * j + l];
                hi += (x[i].qs[32 * j + l] >> 4) * y[i].qs[64 * j + 32 + l];
            }
            const int isum = sl * lo + sh * hi;
            const int imin = ml * (y[i].bsums[4 * j] + y[i].bsums[4 * j + 1]) +
                             mh * (y[i].bsums[4 * j + 2] + y[i].bsums[4 * j + 3]);
            if (per64) {
                acc  = fmaf((float)isum, dx, acc);
                mins = fmaf((float)imin, dm, mins);
            } else {
                bsum += isum;
                bmin += imin;
            }
        }
        if (!per64) {
            acc  = fmaf((float)bsum, dx, acc);
            mins = fmaf((float)bmin, dm, mins);
        }
    }
    return acc - mins;
}

/* Q6_K tiled matmul (8 or more rows): per super-block acc = fma(d(w) * isum, d(a), acc). */
static float model_q6_K_tiled(int64_t n, const void *w, const void *a) {
    const block_q6_K *x = w;
    const block_q8_K *y = a;
    float acc = 0;
    for (int64_t i = 0; i < n / HEARTH_QK_K; i++) {
        int isum = 0;
        for (int h = 0; h < 2; h++)
            for (int l = 0; l < 32; l++) {
                const uint8_t *ql = x[i].ql + 64 * h, *qh = x[i].qh + 32 * h;
                const int q[4] = { (ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4), (ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4),
                                   (ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4), (ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4) };
                for (int k = 0; k < 4; k++) {
                    const int v = 128 * h + 32 * k + l;
                    isum += x[i].scales[v / 16] * (q[k] - 32) * y[i].qs[v];
                }
            }
        acc = fmaf(hearth_fp16_to_fp32(x[i].d) * (float)isum, y[i].d, acc);
    }
    return acc;
}

/* The batch kernels (hearth_kernels_batch) follow the scalar models above bit for bit, and are
 * chosen at the reference's thresholds: Q4_K's GEMM from 4 rows, Q6_K's tiled order from 8. */
static void test_isa_batch_order(void) {
    const int64_t max_n = 256 * 7;
    uint8_t      *w = malloc(max_n * 2), *aq = malloc(max_n * 4 * 2);
    float        *a = malloc(max_n * sizeof *a);
    for (size_t ii = 0; ii < HEARTH_ARRAY_LEN(fast_isas); ii++) {
        if (!hearth_kernels_cpu_has(fast_isas[ii])) continue;
        const hearth_type types[] = { HEARTH_TYPE_Q4_K, HEARTH_TYPE_Q6_K };
        for (size_t ti = 0; ti < HEARTH_ARRAY_LEN(types); ti++) {
            const hearth_type          t  = types[ti];
            const hearth_type_kernels *kf = hearth_kernels_table(fast_isas[ii], t);
            hearth_vec_dot_fn  d_small = kf->vec_dot, d_big = kf->vec_dot;
            hearth_vec_dot4_fn d4_small = NULL, d4_big = NULL;
            hearth_kernels_batch_isa(fast_isas[ii], t, t == HEARTH_TYPE_Q4_K ? 3 : 7, &d_small, &d4_small);
            hearth_kernels_batch_isa(fast_isas[ii], t, 8, &d_big, &d4_big);
            CHECKF(d_small == kf->vec_dot && d4_small == NULL, "%s: no batch kernel below the threshold",
                   hearth_type_name(t));
            REQUIRE(d4_big != NULL);
            for (int64_t m = 1; m <= 7; m += 3) {
                const int64_t n   = 256 * m;
                const size_t  row = hearth_type_row_size(HEARTH_TYPE_Q8_K, n) + 8;
                random_weights(t, w, n);
                for (int k = 0; k < 4; k++) {
                    for (int64_t i = 0; i < n; i++) a[i] = rng_unit() * (k + 1);
                    hearth_kernels_ref(HEARTH_TYPE_Q8_K)->from_float(a, aq + k * row, n);
                }
                float s4[8], s1;
                d4_big(n, s4, 2, w, aq, row);
                for (int k = 0; k < 4; k++) {
                    const void *ak = aq + k * row;
                    const float want = t == HEARTH_TYPE_Q4_K ? model_q4_K(n, w, ak, 1) : model_q6_K_tiled(n, w, ak);
                    d_big(n, &s1, w, ak);
                    CHECKF(s4[2 * k] == want, "%s batch dot4 n=%lld row %d: %.9g vs model %.9g", hearth_type_name(t),
                           (long long)n, k, s4[2 * k], want);
                    if (t == HEARTH_TYPE_Q6_K)
                        CHECKF(s1 == want, "Q6_K tiled dot n=%lld: %.9g vs model %.9g", (long long)n, s1, want);
                    else {
                        kf->vec_dot(n, &s1, w, ak);
                        CHECKF(s1 == model_q4_K(n, w, ak, 0), "Q4_K vec_dot n=%lld: %.9g vs GEMV model %.9g",
                               (long long)n, s1, model_q4_K(n, w, ak, 0));
                    }
                }
            }
        }
    }
    free(w);
    free(aq);
    free(a);
}

/* The reference's tiled matmul for Q5_K, Q3_K and Q2_K (8 or more tokens), modelled from the
 * decoded weights: a block's integer products come from the reference to_float with d = 1 and
 * dmin = 0 (scale x quant, exact small integers), s1 = sum of those x the activation quants,
 * s2 = sum of the mins x the bsums; acc = fma(fma(-dmin, s2, d * s1), d(a), acc). */
static float model_tiled_k(hearth_type t, int64_t n, const void *w, const void *a) {
    const size_t       bs = hearth_type_row_size(t, HEARTH_QK_K);
    const block_q8_K  *y  = a;
    float              acc = 0, v[HEARTH_QK_K];
    uint8_t            blk[256];
    const hearth_half  one = hearth_fp32_to_fp16(1.0f), zero = hearth_fp32_to_fp16(0.0f);
    for (int64_t i = 0; i < n / HEARTH_QK_K; i++) {
        const uint8_t *src = (const uint8_t *)w + (size_t)i * bs;
        memcpy(blk, src, bs);
        float d = 0, dmin = 0;
        int   s2 = 0;
        if (t == HEARTH_TYPE_Q2_K) {
            block_q2_K *b = (block_q2_K *)blk;
            d = hearth_fp16_to_fp32(b->d), dmin = hearth_fp16_to_fp32(b->dmin);
            for (int g = 0; g < 16; g++) s2 += (b->scales[g] >> 4) * y[i].bsums[g];
            b->d = one, b->dmin = zero;
        } else if (t == HEARTH_TYPE_Q5_K) {
            block_q5_K *b = (block_q5_K *)blk;
            d = hearth_fp16_to_fp32(b->d), dmin = hearth_fp16_to_fp32(b->dmin);
            for (int j = 0; j < 8; j++) {
                uint8_t sc, m;
                hearth_get_scale_min_k4(j, b->scales, &sc, &m);
                s2 += m * (y[i].bsums[2 * j] + y[i].bsums[2 * j + 1]);
            }
            b->d = one, b->dmin = zero;
        } else {
            block_q3_K *b = (block_q3_K *)blk;
            d = hearth_fp16_to_fp32(b->d);
            b->d = one;
        }
        hearth_kernels_ref(t)->to_float(blk, v, HEARTH_QK_K);
        int s1 = 0;
        for (int k = 0; k < HEARTH_QK_K; k++) s1 += (int)v[k] * y[i].qs[k];
        acc = fmaf(fmaf(-dmin, (float)s2, d * (float)s1), y[i].d, acc);
    }
    return acc;
}

static void test_isa_tiled_k(void) {
    const int64_t max_n = 256 * 7;
    uint8_t      *w = malloc(max_n * 2), *aq = malloc(max_n * 2);
    float        *a = malloc(max_n * sizeof *a);
    int           checked = 0;
    for (size_t ii = 0; ii < HEARTH_ARRAY_LEN(fast_isas); ii++) {
        if (!hearth_kernels_cpu_has(fast_isas[ii])) continue;
        const hearth_type types[] = { HEARTH_TYPE_Q5_K, HEARTH_TYPE_Q3_K, HEARTH_TYPE_Q2_K };
        for (size_t ti = 0; ti < HEARTH_ARRAY_LEN(types); ti++) {
            const hearth_type          t  = types[ti];
            const hearth_type_kernels *kf = hearth_kernels_table(fast_isas[ii], t);
            hearth_vec_dot_fn          d_small = kf->vec_dot, d_big = kf->vec_dot;
            hearth_vec_dot4_fn         d4 = NULL;
            hearth_kernels_batch_isa(fast_isas[ii], t, HEARTH_TILED_MIN_ROWS - 1, &d_small, &d4);
            hearth_kernels_batch_isa(fast_isas[ii], t, HEARTH_TILED_MIN_ROWS, &d_big, &d4);
            CHECKF(d_small == kf->vec_dot, "%s: no tiled order below the threshold", hearth_type_name(t));
            CHECKF(d_big != kf->vec_dot && d4 == NULL, "%s: the tiled order from the threshold", hearth_type_name(t));
            int bad = 0;
            for (int64_t m = 1; m <= 7; m += 2)
                for (int rep = 0; rep < 4; rep++) {
                    const int64_t n = 256 * m;
                    random_weights(t, w, n);
                    for (int64_t i = 0; i < n; i++) a[i] = rng_unit() * (rep + 1);
                    hearth_kernels_ref(HEARTH_TYPE_Q8_K)->from_float(a, aq, n);
                    float       s1;
                    const float want = model_tiled_k(t, n, w, aq);
                    d_big(n, &s1, w, aq);
                    checked++;
                    if (memcmp(&s1, &want, sizeof s1) && bad++ < 3)
                        printf("# %s %s tiled n=%lld: %.9g vs model %.9g\n", fast_isas[ii], hearth_type_name(t),
                               (long long)n, s1, want);
                }
            CHECKF(bad == 0, "%s %s tiled: %d mismatches", fast_isas[ii], hearth_type_name(t), bad);
        }
    }
    printf("# %d tiled K-quant dot products checked\n", checked);
    free(w);
    free(aq);
    free(a);
}

/* The batch tiles (hearth_kernels_batch_tile) give every (row, token) the bits of the batch
 * 4-row kernel, for row counts around the panel width (8) and token counts below and above the
 * panel threshold, and a row too long for the panel. */
static void test_isa_batch_tile(void) {
    enum { MAX_R = 17, MAX_C = 20 };
    static const int     shapes[][2] = { { 8, 16 }, { 17, 20 }, { 3, 16 }, { 11, 4 }, { 9, 8 }, { 16, 16 } };
    static const int64_t ms[]        = { 1, 3, 7, 65 };
    const int64_t        max_n       = 256 * 65;
    uint8_t             *w = malloc((hearth_type_row_size(HEARTH_TYPE_Q6_K, max_n) + 4) * MAX_R);
    uint8_t             *aq = malloc((hearth_type_row_size(HEARTH_TYPE_Q8_K, max_n) + 8) * MAX_C);
    float               *a = malloc(max_n * sizeof *a), s[(MAX_R + 3) * MAX_C], s4[8];
    int                  tested = 0;
    for (size_t ii = 0; ii < HEARTH_ARRAY_LEN(fast_isas); ii++) {
        if (!hearth_kernels_cpu_has(fast_isas[ii])) continue;
        const hearth_type types[] = { HEARTH_TYPE_Q4_K, HEARTH_TYPE_Q6_K };
        for (size_t ti = 0; ti < HEARTH_ARRAY_LEN(types); ti++) {
            const hearth_type          t  = types[ti];
            const hearth_type_kernels *kf = hearth_kernels_table(fast_isas[ii], t);
            hearth_vec_dot_fn          d  = kf->vec_dot;
            hearth_vec_dot4_fn         d4 = hearth_kernels_vec_dot4_isa(fast_isas[ii], t);
            hearth_kernels_batch_isa(fast_isas[ii], t, 16, &d, &d4);
            const hearth_gemm_fn g = hearth_kernels_batch_tile_isa(fast_isas[ii], t, 16);
            CHECK(hearth_kernels_batch_tile_isa(fast_isas[ii], t, 3) == NULL);
            if (!g) continue;
            REQUIRE(d4 != NULL);
            tested++;
            int bad = 0;
            for (size_t mi = 0; mi < HEARTH_ARRAY_LEN(ms); mi++) {
                const int64_t n    = 256 * ms[mi];
                const size_t  wrow = hearth_type_row_size(t, n) + 4; /* odd strides */
                const size_t  arow = hearth_type_row_size(HEARTH_TYPE_Q8_K, n) + 8;
                for (int64_t r = 0; r < MAX_R; r++) random_weights(t, w + r * wrow, n);
                for (int64_t c = 0; c < MAX_C; c++) {
                    for (int64_t i = 0; i < n; i++) a[i] = rng_unit() * (c % 5 == 0 ? 50.0f : 1.0f);
                    hearth_kernels_ref(HEARTH_TYPE_Q8_K)->from_float(a, aq + c * arow, n);
                }
                for (size_t si = 0; si < HEARTH_ARRAY_LEN(shapes); si++) {
                    const int    nr = shapes[si][0], nc = shapes[si][1];
                    const size_t ss = (size_t)nr + 3;
                    g(n, s, ss, w, wrow, nr, aq, arow, nc);
                    for (int c = 0; c < nc; c += 4)
                        for (int r = 0; r < nr; r++) {
                            d4(n, s4, 2, w + r * wrow, aq + c * arow, arow);
                            for (int k = 0; k < 4; k++)
                                if (s4[2 * k] != s[(c + k) * ss + r] && bad++ < 3)
                                    printf("# %s %s n=%lld %dx%d (%d,%d): %.9g vs %.9g\n", fast_isas[ii],
                                           hearth_type_name(t), (long long)n, nr, nc, r, c + k, s[(c + k) * ss + r],
                                           s4[2 * k]);
                        }
                }
            }
            CHECKF(bad == 0, "%s batch tile %s: %d mismatches", fast_isas[ii], hearth_type_name(t), bad);
        }
    }
    printf("# %d batch tiles checked\n", tested);
    free(w);
    free(aq);
    free(a);
}

typedef hearth_gemm_fn (*multi_getter)(const char *isa, hearth_type type);

/* Every (row, token) of a multi-row / multi-token kernel (from get) gives the same bits as the
 * single-row kernel of its ISA, for each of the nr x nc shapes (row and token tails included).
 * Returns the number of kernels checked. */
static int check_multi(const char *what, multi_getter get, const int (*shapes)[2], size_t n_shapes) {
    enum { MAX_R = 19, MAX_C = 21 };
    const int64_t max_n = 256 * 5;
    uint8_t      *w = malloc(max_n * 4 * MAX_R), *aq = malloc((max_n * 4 + 8) * MAX_C);
    float        *a = malloc(max_n * sizeof *a), s[(MAX_R + 3) * MAX_C];
    int           tested = 0;
    for (size_t ii = 0; ii < HEARTH_ARRAY_LEN(fast_isas); ii++) {
        if (!hearth_kernels_cpu_has(fast_isas[ii])) continue;
        for (size_t ti = 0; ti < HEARTH_ARRAY_LEN(weight_types); ti++) {
            hearth_type                t  = weight_types[ti];
            hearth_gemm_fn             g  = get(fast_isas[ii], t);
            const hearth_type_kernels *kf = hearth_kernels_table(fast_isas[ii], t);
            if (!g) continue;
            tested++;
            const int64_t bs  = hearth_type_get(t)->block_size == 1 ? 32 : hearth_type_get(t)->block_size;
            int           bad = 0;
            for (int64_t m = 1; m <= 5; m++) { /* odd and even block counts */
                const int64_t n    = bs * m;
                const size_t  wrow = hearth_type_row_size(t, n) + 4; /* odd strides */
                const size_t  arow = hearth_type_row_size(kf->vec_dot_type, n) + 8;
                for (int64_t r = 0; r < MAX_R; r++) random_weights(t, w + r * wrow, n);
                for (int64_t c = 0; c < MAX_C; c++) {
                    for (int64_t i = 0; i < n; i++) a[i] = rng_unit() * (c == 0 ? 50.0f : 1.0f);
                    hearth_kernels_ref(kf->vec_dot_type)->from_float(a, aq + c * arow, n);
                }
                for (size_t si = 0; si < n_shapes; si++) {
                    const int    nr = shapes[si][0], nc = shapes[si][1];
                    const size_t ss = (size_t)nr + 3;
                    g(n, s, ss, w, wrow, nr, aq, arow, nc);
                    for (int c = 0; c < nc; c++)
                        for (int r = 0; r < nr; r++) {
                            float s1;
                            kf->vec_dot(n, &s1, w + r * wrow, aq + c * arow);
                            if (s1 != s[c * ss + r] && bad++ < 3)
                                printf("# %s %s n=%lld %dx%d (%d,%d): %g vs %g\n", fast_isas[ii], hearth_type_name(t),
                                       (long long)n, nr, nc, r, c, s[c * ss + r], s1);
                        }
                }
            }
            CHECKF(bad == 0, "%s %s %s: %d mismatches", fast_isas[ii], what, hearth_type_name(t), bad);
        }
    }
    free(w);
    free(aq);
    free(a);
    return tested;
}

/* The tile kernels, for every tile shape. */
static void test_isa_gemm(void) {
    /* 19 x 21: the prefill tiles of 8 and 4 tokens (16 and more tokens) over 16 + 3 rows */
    static const int shapes[][2] = { { 1, 1 }, { 4, 1 }, { 5, 1 }, { 2, 4 }, { 3, 4 }, { 11, 9 }, { 7, 5 },
                                     { 6, 2 }, { 7, 3 }, { 3, 6 }, { 5, 8 }, { 3, 13 }, { 19, 21 } };
    check_multi("gemm", hearth_kernels_gemm_isa, shapes, HEARTH_ARRAY_LEN(shapes));
}

/* Q4_0 weights interleaved 8 rows at a time (hearth_repack_q4_0_x8) through each ISA's x8 tile
 * kernel give every (row, token) the bits of that ISA's vec_dot on the plain rows: row counts
 * with and without a tail past the last group of 8, 1..21 tokens (groups of 4 and every tail),
 * odd and even block counts, past the small tiles' stack chunk (8192), the largest row the
 * layout takes. */
static void test_isa_gemm_x8(void) {
    static const int shapes[][2] = { { 8, 1 }, { 9, 1 }, { 16, 3 }, { 19, 4 }, { 24, 5 }, { 15, 21 }, { 8, 2 } };
    static const int64_t ns[] = { 32, 64, 96, 160, 8192 + 96, HEARTH_X8_MAX_COLS };
    enum { MAX_R = 24, MAX_C = 21 };
    const hearth_type  t    = HEARTH_TYPE_Q4_0;
    const int64_t      maxn = HEARTH_X8_MAX_COLS;
    const size_t       maxw = hearth_type_row_size(t, maxn) * MAX_R;
    uint8_t           *w = malloc(maxw), *wx = malloc(maxw), *aq = malloc(HEARTH_X8_ROW_BYTES(maxn) * MAX_C);
    float             *a = malloc(maxn * sizeof *a), s[MAX_R * MAX_C];
    int                tested = 0;
    for (size_t ii = 0; ii < HEARTH_ARRAY_LEN(fast_isas); ii++) {
        if (!hearth_kernels_cpu_has(fast_isas[ii])) continue;
        hearth_gemm_fn             g  = hearth_kernels_gemm_x8_isa(fast_isas[ii], t);
        const hearth_type_kernels *kf = hearth_kernels_table(fast_isas[ii], t);
        if (!g) continue;
        tested++;
        int bad = 0;
        for (size_t ni = 0; ni < HEARTH_ARRAY_LEN(ns); ni++) {
            const int64_t n    = ns[ni];
            const size_t  wrow = hearth_type_row_size(t, n), arow = HEARTH_X8_ROW_BYTES(n);
            for (int64_t r = 0; r < MAX_R; r++) random_weights(t, w + r * wrow, n);
            for (int64_t c = 0; c < MAX_C; c++) { /* each Q8_0 row followed by its terms */
                for (int64_t i = 0; i < n; i++) a[i] = rng_unit() * (c == 0 ? 50.0f : 1.0f);
                hearth_kernels_ref(HEARTH_TYPE_Q8_0)->from_float(a, aq + c * arow, n);
                hearth_q4_0_x8_terms(aq + c * arow, n, aq + c * arow + HEARTH_X8_TERMS_AT(n));
            }
            for (size_t si = 0; si < HEARTH_ARRAY_LEN(shapes); si++) {
                const int nr = shapes[si][0], nc = shapes[si][1];
                if (n > 8192 && nc > 4) continue; /* the long rows: the group and token tails suffice */
                hearth_repack_q4_0_x8(w, wx, nr, n);
                g(n, s, (size_t)nr, wx, wrow, nr, aq, arow, nc);
                for (int c = 0; c < nc; c++)
                    for (int r = 0; r < nr; r++) {
                        float s1;
                        kf->vec_dot(n, &s1, w + r * wrow, aq + c * arow);
                        if (s1 != s[c * nr + r] && bad++ < 3)
                            printf("# %s x8 n=%lld %dx%d (%d,%d): %g vs %g\n", fast_isas[ii], (long long)n, nr, nc, r, c,
                                   s[c * nr + r], s1);
                    }
            }
        }
        CHECKF(bad == 0, "%s gemm_x8 Q4_0: %d mismatches", fast_isas[ii], bad);
    }
    printf("# %d x8 kernels checked\n", tested);
    free(w);
    free(wx);
    free(aq);
    free(a);
}

/* Q4_K weights interleaved 8 rows at a time (hearth_repack_q4_K_x8) through each ISA's x8
 * kernels: rows_x8 gives every (row, token) the bits of that ISA's vec_dot on the plain rows,
 * tile4_x8 those of its 4-token GEMM kernel (runs of 4+ tokens); row counts with and without a
 * tail past the last group of 8, 1..13 tokens, 1..128 super-blocks.  hearth_x8_row gives the
 * plain rows back (Q4_0 and Q4_K). */
static void test_isa_x8_q4_K(void) {
    static const int shapes[][2] = { { 8, 1 }, { 9, 3 }, { 16, 4 }, { 19, 8 }, { 24, 13 }, { 15, 2 } };
    static const int64_t ns[] = { 256, 512, 1536, 2048 + 256, HEARTH_X8_MAX_COLS };
    enum { MAX_R = 24, MAX_C = 13 };
    const hearth_type t = HEARTH_TYPE_Q4_K;
    const int64_t     maxn = HEARTH_X8_MAX_COLS;
    const size_t      maxw = hearth_type_row_size(t, maxn) * MAX_R, maxa = hearth_type_row_size(HEARTH_TYPE_Q8_K, maxn);
    uint8_t          *w = malloc(maxw), *wx = malloc(maxw), *aq = malloc(maxa * MAX_C), *row = malloc(maxw / MAX_R);
    float            *a = malloc(maxn * sizeof *a), s[MAX_R * MAX_C], s4[4 * MAX_R];
    int               tested = 0, bad_rows = 0;
    for (size_t ii = 0; ii < HEARTH_ARRAY_LEN(fast_isas); ii++) {
        if (!hearth_kernels_cpu_has(fast_isas[ii])) continue;
        hearth_gemm_fn             g1 = hearth_kernels_rows_x8_isa(fast_isas[ii], t);
        hearth_gemm_fn             g4 = hearth_kernels_tile4_x8_isa(fast_isas[ii], t);
        const hearth_type_kernels *kf = hearth_kernels_table(fast_isas[ii], t);
        hearth_vec_dot_fn          d1 = kf->vec_dot;
        hearth_vec_dot4_fn         d4 = NULL;
        hearth_kernels_batch_isa(fast_isas[ii], t, 4, &d1, &d4);
        if (!g1 || !g4 || !d4) continue;
        tested++;
        int bad = 0;
        for (size_t ni = 0; ni < HEARTH_ARRAY_LEN(ns); ni++) {
            const int64_t n = ns[ni];
            const size_t  wrow = hearth_type_row_size(t, n), arow = hearth_type_row_size(HEARTH_TYPE_Q8_K, n);
            for (int64_t r = 0; r < MAX_R; r++) random_weights(t, w + r * wrow, n);
            for (int64_t c = 0; c < MAX_C; c++) {
                for (int64_t i = 0; i < n; i++) a[i] = rng_unit() * (c == 0 ? 50.0f : 1.0f);
                hearth_kernels_ref(HEARTH_TYPE_Q8_K)->from_float(a, aq + c * arow, n);
            }
            for (size_t si = 0; si < HEARTH_ARRAY_LEN(shapes); si++) {
                const int nr = shapes[si][0], nc = shapes[si][1];
                if (n > 4096 && nc > 4) continue;
                hearth_repack_q4_K_x8(w, wx, nr, n);
                const hearth_mat M = { .type = t, .rows = nr, .cols = n, .row_bytes = wrow, .data = wx, .x8 = true };
                for (int r = 0; r < nr && ii == 0; r++)
                    bad_rows += memcmp(hearth_x8_row(&M, r, row), w + r * wrow, wrow) != 0;
                g1(n, s, (size_t)nr, wx, wrow, nr, aq, arow, nc);
                for (int c = 0; c < nc; c++)
                    for (int r = 0; r < nr; r++) {
                        float s1;
                        kf->vec_dot(n, &s1, w + r * wrow, aq + c * arow);
                        if (s1 != s[c * nr + r] && bad++ < 3)
                            printf("# %s rows_x8 n=%lld %dx%d (%d,%d): %g vs %g\n", fast_isas[ii], (long long)n, nr, nc,
                                   r, c, s[c * nr + r], s1);
                    }
                const int n4 = nc / 4 * 4;
                if (n4 == 0) continue;
                g4(n, s, (size_t)nr, wx, wrow, nr, aq, arow, n4);
                for (int c = 0; c < n4; c += 4)
                    for (int r = 0; r < nr; r++) {
                        d4(n, s4, 1, w + r * wrow, aq + c * arow, arow);
                        for (int k = 0; k < 4; k++)
                            if (s4[k] != s[(c + k) * nr + r] && bad++ < 3)
                                printf("# %s tile4_x8 n=%lld %dx%d (%d,%d): %g vs %g\n", fast_isas[ii], (long long)n, nr,
                                       nc, r, c + k, s[(c + k) * nr + r], s4[k]);
                    }
            }
        }
        CHECKF(bad == 0, "%s x8 Q4_K: %d mismatches", fast_isas[ii], bad);
    }
    /* Q4_0 rows taken out of the interleaved layout */
    {
        const int64_t n = 96, nr = 19;
        const size_t  wrow = hearth_type_row_size(HEARTH_TYPE_Q4_0, n);
        for (int r = 0; r < nr; r++) random_weights(HEARTH_TYPE_Q4_0, w + r * wrow, n);
        hearth_repack_q4_0_x8(w, wx, nr, n);
        const hearth_mat M = { .type = HEARTH_TYPE_Q4_0, .rows = nr, .cols = n, .row_bytes = wrow, .data = wx, .x8 = true };
        for (int r = 0; r < nr; r++) bad_rows += memcmp(hearth_x8_row(&M, r, row), w + r * wrow, wrow) != 0;
    }
    CHECKF(bad_rows == 0, "hearth_x8_row: %d rows differ from the plain ones", bad_rows);
    printf("# %d Q4_K x8 kernel sets checked\n", tested);
    free(w);
    free(wx);
    free(aq);
    free(row);
    free(a);
}

/* The F16 tile kernel of each ISA against its vec_dot, bit for bit, at lengths with 8-element
 * and scalar tails (n % 32 >= 8 and not), several column blocks of the prefill kernel (past
 * 1024 and 2048) and past its single-token 4-row threshold (4096), row counts with and without
 * a 4-row tail, token counts with a 3-token tail and past one token group (48). */
static void test_isa_gemm_f16(void) {
    static const int64_t ns[]     = { 1, 7, 8, 31, 33, 40, 61, 72, 1000, 1064, 2048 + 40, 4096 + 57 };
    static const int     shapes[][2] = { { 1, 2 }, { 4, 3 }, { 5, 7 }, { 16, 8 }, { 3, 50 }, { 9, 1 } };
    enum { MAX_R = 16, MAX_C = 50, MAX_N = 4096 + 57 };
    const size_t ws = MAX_N * 2 + 6, as = MAX_N * 2 + 10; /* odd strides */
    uint8_t     *w = malloc(ws * MAX_R), *a = malloc(as * MAX_C);
    float       *s = malloc(sizeof(float) * (MAX_R + 3) * MAX_C);
    for (size_t ii = 0; ii < HEARTH_ARRAY_LEN(fast_isas); ii++) {
        if (!hearth_kernels_cpu_has(fast_isas[ii])) continue;
        hearth_gemm_fn             g  = hearth_kernels_gemm_isa(fast_isas[ii], HEARTH_TYPE_F16);
        const hearth_type_kernels *kf = hearth_kernels_table(fast_isas[ii], HEARTH_TYPE_F16);
        if (!g) continue;
        int bad = 0, checked = 0;
        for (size_t ni = 0; ni < HEARTH_ARRAY_LEN(ns); ni++) {
            const int64_t n = ns[ni];
            for (int r = 0; r < MAX_R; r++)
                for (int64_t i = 0; i < n; i++) ((uint16_t *)(w + r * ws))[i] = hearth_fp32_to_fp16(rng_unit());
            for (int c = 0; c < MAX_C; c++)
                for (int64_t i = 0; i < n; i++)
                    ((uint16_t *)(a + c * as))[i] = hearth_fp32_to_fp16(rng_unit() * (c == 0 ? 50.0f : 1.0f));
            for (size_t si = 0; si < HEARTH_ARRAY_LEN(shapes); si++) {
                const int    nr = shapes[si][0], nc = shapes[si][1];
                const size_t ss = (size_t)nr + 3;
                g(n, s, ss, w, ws, nr, a, as, nc);
                for (int c = 0; c < nc; c++)
                    for (int r = 0; r < nr; r++) {
                        float s1;
                        kf->vec_dot(n, &s1, w + r * ws, a + c * as);
                        checked++;
                        if (memcmp(&s1, &s[c * ss + r], sizeof s1) && bad++ < 3)
                            printf("# %s F16 gemm n=%lld %dx%d (%d,%d): %g vs %g\n", fast_isas[ii], (long long)n, nr,
                                   nc, r, c, s[c * ss + r], s1);
                    }
            }
        }
        CHECKF(bad == 0, "%s F16 gemm: %d of %d mismatches", fast_isas[ii], bad, checked);
    }
    free(w);
    free(a);
    free(s);
}

/* The reference's prompt-GEMM order for F16, F32 and BF16 (hearth_kernels_multi), written out
 * scalar: per (row, token) 8 lane sums, lane l = fmaf(w[8i+l], a[8i+l], lane l) for i in
 * order, then ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)). */
static float tb_value(hearth_type t, const uint8_t *row, int64_t i) {
    if (t == HEARTH_TYPE_F16) return hearth_fp16_to_fp32(((const uint16_t *)row)[i]);
    if (t == HEARTH_TYPE_BF16) return hearth_bf16_to_fp32(((const uint16_t *)row)[i]);
    return ((const float *)row)[i];
}

static void tb_store(hearth_type t, uint8_t *row, int64_t i, float v) {
    if (t == HEARTH_TYPE_F16) ((uint16_t *)row)[i] = hearth_fp32_to_fp16(v);
    else if (t == HEARTH_TYPE_BF16) ((uint16_t *)row)[i] = hearth_fp32_to_bf16(v);
    else ((float *)row)[i] = v;
}

static float tb_order_dot(hearth_type t, int64_t n, const uint8_t *w, const uint8_t *a) {
    float l[8] = { 0 };
    for (int64_t i = 0; i < n; i += 8)
        for (int k = 0; k < 8; k++) {
            l[k] = fmaf(tb_value(t, w, i + k), tb_value(t, a, i + k), l[k]);
        }
    return ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7]));
}

static void test_isa_gemm_multi(void) {
    static const int64_t     ns[]     = { 8, 16, 40, 64, 1000, 2048 + 40, 4096 + 56 };
    static const int         shapes[][2] = { { 1, 2 }, { 4, 3 }, { 5, 7 }, { 16, 8 }, { 3, 50 }, { 9, 2 }, { 8, 26 } };
    static const hearth_type types[]  = { HEARTH_TYPE_F16, HEARTH_TYPE_F32, HEARTH_TYPE_BF16 };
    enum { MAX_R = 16, MAX_C = 50, MAX_N = 4096 + 56 };
    const size_t ws = MAX_N * 4 + 12, as = MAX_N * 4 + 20; /* strides off the 32-byte grid */
    uint8_t     *w = malloc(ws * MAX_R), *a = malloc(as * MAX_C);
    float       *s = malloc(sizeof(float) * (MAX_R + 3) * MAX_C);
    int          kernels = 0;
    for (size_t ii = 0; ii < HEARTH_ARRAY_LEN(fast_isas); ii++) {
        if (!hearth_kernels_cpu_has(fast_isas[ii])) continue;
        for (size_t ti = 0; ti < HEARTH_ARRAY_LEN(types); ti++) {
            const hearth_type t = types[ti];
            hearth_gemm_fn    g = hearth_kernels_multi_isa(fast_isas[ii], t);
            if (!g) continue;
            kernels++;
            int bad = 0, checked = 0;
            for (size_t ni = 0; ni < HEARTH_ARRAY_LEN(ns); ni++) {
                const int64_t n = ns[ni];
                for (int r = 0; r < MAX_R; r++)
                    for (int64_t i = 0; i < n; i++) tb_store(t, w + r * ws, i, rng_unit());
                for (int c = 0; c < MAX_C; c++)
                    for (int64_t i = 0; i < n; i++) tb_store(t, a + c * as, i, rng_unit() * (c == 0 ? 50.0f : 1.0f));
                for (size_t si = 0; si < HEARTH_ARRAY_LEN(shapes); si++) {
                    const int    nr = shapes[si][0], nc = shapes[si][1];
                    const size_t ss = (size_t)nr + 3;
                    g(n, s, ss, w, ws, nr, a, as, nc);
                    for (int c = 0; c < nc; c++)
                        for (int r = 0; r < nr; r++) {
                            const float s1 = tb_order_dot(t, n, w + r * ws, a + c * as);
                            checked++;
                            if (memcmp(&s1, &s[c * ss + r], sizeof s1) && bad++ < 3)
                                printf("# %s %s multi n=%lld %dx%d (%d,%d): %g vs %g\n", fast_isas[ii],
                                       hearth_type_name(t), (long long)n, nr, nc, r, c, s[c * ss + r], s1);
                        }
                }
            }
            CHECKF(bad == 0, "%s %s multi: %d of %d mismatches", fast_isas[ii], hearth_type_name(t), bad, checked);
        }
    }
    printf("# %d multi-token kernels checked\n", kernels);
    free(w);
    free(a);
    free(s);
}

/* The multi-row (decode) kernels, for row counts with and without a tail. */
static void test_isa_rows(void) {
    static const int shapes[][2] = { { 1, 1 }, { 4, 1 }, { 5, 1 }, { 11, 3 }, { 3, 2 } };
    printf("# %d multi-row kernels checked\n", check_multi("rows", hearth_kernels_rows_isa, shapes, HEARTH_ARRAY_LEN(shapes)));
}

/* from_float and to_float of each ISA vs ref. */
static void test_isa_convert(void) {
    const int64_t n = 256 * 5;
    float        *x = malloc(n * sizeof *x), *yr = malloc(n * sizeof *yr), *yf = malloc(n * sizeof *yf);
    uint8_t      *qr = malloc(n * 4), *qf = malloc(n * 4);
    static const hearth_type acts[] = { HEARTH_TYPE_Q8_0, HEARTH_TYPE_Q8_1, HEARTH_TYPE_Q8_K, HEARTH_TYPE_F16,
                                        HEARTH_TYPE_BF16, HEARTH_TYPE_F32 };
    for (size_t ii = 0; ii < HEARTH_ARRAY_LEN(fast_isas); ii++) {
        if (!hearth_kernels_cpu_has(fast_isas[ii])) continue;
        for (size_t ai = 0; ai < HEARTH_ARRAY_LEN(acts); ai++) {
            hearth_type                t  = acts[ai];
            const hearth_type_kernels *kr = hearth_kernels_ref(t), *kf = hearth_kernels_table(fast_isas[ii], t);
            REQUIRE(kr && kf && kf->from_float && kf->to_float);
            for (int rep = 0; rep < 20; rep++) {
                for (int64_t i = 0; i < n; i++) x[i] = rng_unit() * (float)(1 + rep * 7);
                if (rep == 1) memset(x, 0, 256 * sizeof *x); /* an all-zero block */
                if (rep == 2) for (int64_t i = 0; i < n; i++) x[i] = (float)((int)(rng_u32() % 255) - 127); /* ties */
                kr->from_float(x, qr, n);
                kf->from_float(x, qf, n);
                kr->to_float(qr, yr, n);
                kf->to_float(qf, yf, n);
                const double e = nmse(yf, yr, n);
                if (t == HEARTH_TYPE_Q8_K || t == HEARTH_TYPE_F16 || t == HEARTH_TYPE_BF16 || t == HEARTH_TYPE_F32)
                    CHECKF(memcmp(qr, qf, hearth_type_row_size(t, n)) == 0, "%s %s rep %d: bytes differ", fast_isas[ii],
                           hearth_type_name(t), rep);
                CHECKF(e < 1e-6 && all_finite(yf, n), "%s %s rep %d: nmse %g", fast_isas[ii], hearth_type_name(t), rep, e);
            }
        }
        /* weight dequantization: identical */
        for (size_t ti = 0; ti < HEARTH_ARRAY_LEN(weight_types); ti++) {
            hearth_type t = weight_types[ti];
            random_weights(t, qr, n);
            hearth_kernels_ref(t)->to_float(qr, yr, n);
            hearth_kernels_table(fast_isas[ii], t)->to_float(qr, yf, n);
            CHECKF(memcmp(yr, yf, n * sizeof(float)) == 0, "%s to_float %s differs", fast_isas[ii], hearth_type_name(t));
        }
    }
    free(x); free(yr); free(yf); free(qr); free(qf);
}


/* ---- against the gguf Python package (tests/golden/kernels) -------------------------------- */

static void *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *p = malloc(n > 0 ? (size_t)n : 1);
    if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
        free(p);
        p = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return p;
}

/* Block size and bytes per block of every type hearth knows, as gguf-py states them.  One
 * known exception: gguf-py lists Q8_1 as 40 bytes (an old float d, s layout); ggml's
 * block_q8_1 is 36 (fp16 d, s), and Q8_1 only ever exists as an activation, never in a file. */
static void test_golden_sizes(void) {
    FILE *f = fopen("tests/golden/kernels/sizes.txt", "r");
    REQUIRE(f);
    char line[256], name[64];
    int  id, checked = 0;
    long bs, ts;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || sscanf(line, "%63s %d %ld %ld", name, &id, &bs, &ts) != 4) continue;
        if (id >= HEARTH_TYPE_COUNT) {
            printf("# gguf-py type %s (%d) is not in hearth's table\n", name, id);
            continue;
        }
        const hearth_type_traits *t = hearth_type_get((uint32_t)id);
        CHECKF(t != NULL, "%s (%d) missing", name, id);
        if (!t) continue;
        CHECK_STR(t->name, name);
        CHECKF(t->block_size == bs, "%s block size %lld vs %ld", name, (long long)t->block_size, bs);
        if (id == HEARTH_TYPE_Q8_1) CHECK(t->type_size == sizeof(block_q8_1) && ts == 40);
        else CHECKF((long)t->type_size == ts, "%s type size %zu vs %ld", name, t->type_size, ts);
        checked++;
    }
    fclose(f);
    CHECK(checked >= 30);
}

static void test_golden_dequant(void) {
    for (size_t ti = 0; ti < HEARTH_ARRAY_LEN(weight_types); ti++) {
        hearth_type t = weight_types[ti];
        char        path[256];
        size_t      nb, nf;
        snprintf(path, sizeof path, "tests/golden/kernels/%s.blocks", hearth_type_name(t));
        uint8_t *blocks = read_file(path, &nb);
        snprintf(path, sizeof path, "tests/golden/kernels/%s.f32", hearth_type_name(t));
        float *want = read_file(path, &nf);
        CHECKF(blocks && want, "%s: golden files missing (run from the repository root)", hearth_type_name(t));
        if (!blocks || !want) {
            free(blocks);
            free(want);
            continue;
        }
        const int64_t n = (int64_t)(nf / sizeof(float));
        CHECK(hearth_type_row_size(t, n) == nb);
        float *got = malloc(nf);
        const char *isas[] = { "ref", "avx2" };
        for (size_t ii = 0; ii < HEARTH_ARRAY_LEN(isas); ii++) {
            if (!hearth_kernels_cpu_has(isas[ii])) continue;
            hearth_kernels_table(isas[ii], t)->to_float(blocks, got, n);
            int64_t bad = 0, exact = 0;
            for (int64_t i = 0; i < n; i++) {
                if (got[i] == want[i]) exact++;
                if (!(fabsf(got[i] - want[i]) <= 1e-6f * fabsf(want[i]) + 1e-30f)) bad++;
            }
            CHECKF(bad == 0, "%s %s: %lld of %lld values differ from gguf-py", isas[ii], hearth_type_name(t),
                   (long long)bad, (long long)n);
            if (exact != n)
                printf("# %s %s: %lld of %lld bit-identical to gguf-py\n", isas[ii], hearth_type_name(t),
                       (long long)exact, (long long)n);
        }
        free(got);
        free(blocks);
        free(want);
    }
}

/* ---- matmul ----------------------------------------------------------------------------- */

static void check_matmul(hearth_threadpool *pool, hearth_type t, int64_t rows, int64_t cols, int64_t n_tok) {
    size_t   rb = hearth_type_row_size(t, cols);
    uint8_t *w  = malloc(rb * rows);
    float   *x = malloc(sizeof(float) * cols * n_tok), *y = malloc(sizeof(float) * rows * n_tok);
    float   *wf = malloc(sizeof(float) * cols), *xq = malloc(sizeof(float) * cols * n_tok);
    random_weights(t, w, rows * cols);
    for (int64_t i = 0; i < cols * n_tok; i++) x[i] = rng_unit();
    hearth_mat W       = { .type = t, .rows = rows, .cols = cols, .row_bytes = rb, .data = w };
    size_t     ss      = hearth_matmul_scratch_size(&W, n_tok);
    void      *scratch = malloc(ss ? ss : 1);
    hearth_matmul(pool, &W, x, y, n_tok, scratch);
    /* naive: dequantize W, and the activations through their vec_dot_type */
    const hearth_type_kernels *k  = hearth_kernels_get(t);
    const hearth_type_kernels *ka = hearth_kernels_ref(k->vec_dot_type);
    void                      *aq = malloc(hearth_type_row_size(k->vec_dot_type, cols));
    for (int64_t tk = 0; tk < n_tok; tk++) {
        ka->from_float(x + tk * cols, aq, cols);
        ka->to_float(aq, xq + tk * cols, cols);
    }
    double max_err = 0;
    int    finite  = all_finite(y, rows * n_tok);
    for (int64_t r = 0; r < rows; r++) {
        hearth_kernels_ref(t)->to_float(w + r * rb, wf, cols);
        for (int64_t tk = 0; tk < n_tok; tk++) {
            double want = dot_d(wf, xq + tk * cols, cols);
            double mag  = sqrt(dot_d(wf, wf, cols) * dot_d(xq + tk * cols, xq + tk * cols, cols)) + 1e-30;
            double e    = fabs(y[tk * rows + r] - want) / mag;
            if (e > max_err) max_err = e;
        }
    }
    CHECKF(finite && max_err < 1e-3, "%s %lldx%lld n_tok=%lld threads=%d: max rel err %g", hearth_type_name(t),
           (long long)rows, (long long)cols, (long long)n_tok, hearth_threadpool_size(pool), max_err);
    free(w); free(x); free(y); free(wf); free(xq); free(scratch); free(aq);
}

static void test_matmul(void) {
    hearth_threadpool *pool = hearth_threadpool_create(3);
    REQUIRE(pool);
    for (size_t ti = 0; ti < HEARTH_ARRAY_LEN(weight_types); ti++) {
        hearth_type t = weight_types[ti];
        int64_t     bs = hearth_type_get(t)->block_size == 256 ? 256 : 32;
        check_matmul(NULL, t, 37, bs * 3, 1);
        check_matmul(pool, t, 37, bs * 3, 5);
        check_matmul(pool, t, 130, bs * 2, 1);
        check_matmul(pool, t, 1, bs, 3);
        check_matmul(pool, t, 45, bs * 2, 11); /* 4-row kernels plus a tail */
    }
    hearth_threadpool_free(pool);
}

/* ---- thread pool -------------------------------------------------------------------------- */

typedef struct tp_arg {
    atomic_int calls;
    atomic_int mask;
    int        nth_seen;
} tp_arg;

static void tp_task(void *p, int ith, int nth) {
    tp_arg *a = p;
    atomic_fetch_add(&a->calls, 1);
    atomic_fetch_or(&a->mask, 1 << ith);
    a->nth_seen = nth;
}

static void test_threadpool(void) {
    CHECK(hearth_physical_cores() >= 1);
    CHECK(hearth_threadpool_size(NULL) == 1);
    CHECK(hearth_threadpool_create(0) == NULL);
    hearth_threadpool_free(NULL);
    tp_arg a0 = { 0 };
    hearth_threadpool_run(NULL, tp_task, &a0);
    CHECK(a0.calls == 1 && a0.nth_seen == 1);
    for (int n = 1; n <= 4; n++) {
        hearth_threadpool *pool = hearth_threadpool_create(n);
        REQUIRE(pool);
        CHECK(hearth_threadpool_size(pool) == n);
        int ok = 1;
        for (int rep = 0; rep < 2000; rep++) {
            tp_arg a = { 0 };
            hearth_threadpool_run(pool, tp_task, &a);
            if (a.calls != n || a.mask != (1 << n) - 1 || a.nth_seen != n) ok = 0;
        }
        CHECKF(ok, "pool of %d", n);
        hearth_threadpool_free(pool);
    }
    /* a pool left idle long enough for its workers to sleep still wakes up */
    hearth_threadpool *pool = hearth_threadpool_create(2);
    REQUIRE(pool);
    struct timespec ts = { 0, 50 * 1000 * 1000 };
    nanosleep(&ts, NULL);
    tp_arg a = { 0 };
    hearth_threadpool_run(pool, tp_task, &a);
    CHECK(a.calls == 2);
    hearth_threadpool_free(pool);
}

static void test_dispatch(void) {
    const char *isa = hearth_kernels_isa();
    CHECK(!strcmp(isa, "ref") || !strcmp(isa, "avx2") || !strcmp(isa, "avx512") || !strcmp(isa, "avx512vnni"));
    CHECK(hearth_kernels_get(HEARTH_TYPE_IQ2_XXS) == NULL);
    CHECK(hearth_kernels_get((hearth_type)999) == NULL);
    for (size_t ti = 0; ti < HEARTH_ARRAY_LEN(weight_types); ti++) {
        const hearth_type_kernels *k = hearth_kernels_get(weight_types[ti]);
        CHECK(k && k->vec_dot && k->to_float);
        CHECK(k && hearth_kernels_get(k->vec_dot_type) && hearth_kernels_get(k->vec_dot_type)->from_float);
    }
}

int main(void) {
    RUN(test_fp16_roundtrip);
    RUN(test_fp16_vs_compiler);
    RUN(test_bf16);
    RUN(test_ref_quantizers);
    RUN(test_ref_dot_matches_dequant);
    RUN(test_isa_vec_dot);
    RUN(test_avx512_same_bits);
    RUN(test_isa_vec_dot4);
    RUN(test_isa_batch_order);
    RUN(test_isa_tiled_k);
    RUN(test_isa_batch_tile);
    RUN(test_isa_gemm);
    RUN(test_isa_gemm_x8);
    RUN(test_isa_x8_q4_K);
    RUN(test_isa_gemm_f16);
    RUN(test_isa_gemm_multi);
    RUN(test_isa_rows);
    RUN(test_isa_convert);
    RUN(test_golden_sizes);
    RUN(test_golden_dequant);
    RUN(test_matmul);
    RUN(test_threadpool);
    RUN(test_dispatch);
    return tap_done();
}
