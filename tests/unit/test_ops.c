/* test_ops.c — the float ops of the forward pass against direct formulas. */
#include "kernels/kernels.h"
#include "kernels/ops.h"
#include "tap.h"

#include <stdlib.h>
#include <string.h>

static float frand(unsigned *s) {
    *s = *s * 1664525u + 1013904223u;
    return ((*s >> 8) / 16777216.0f) * 2.0f - 1.0f;
}

static void test_f16_matches_kernels(void) {
    unsigned s = 1;
    for (int i = 0; i < 100000; i++) {
        float x = frand(&s) * (i % 3 == 0 ? 70000.0f : i % 3 == 1 ? 1.0f : 1e-5f);
        uint16_t h;
        ops_f32_to_f16(&x, &h, 1);
        CHECKF(h == hearth_fp32_to_fp16(x), "x=%g: %04x vs %04x", x, h, hearth_fp32_to_fp16(x));
        float back;
        ops_f16_to_f32(&h, &back, 1);
        uint32_t a, b;
        float ref = hearth_fp16_to_fp32(h);
        memcpy(&a, &back, 4);
        memcpy(&b, &ref, 4);
        CHECK(a == b);
        if (tap_cur_failed > 5) return;
    }
}

static void test_rmsnorm(void) {
    float x[7] = { 1, -2, 3, -4, 5, -6, 7 }, w[7] = { 1, 1, 1, 1, 1, 1, 2 }, y[7];
    ops_rmsnorm(y, x, w, 7, 1e-6f);
    double ms = (1 + 4 + 9 + 16 + 25 + 36 + 49) / 7.0;
    for (int i = 0; i < 7; i++) CHECK(fabs(y[i] - x[i] * w[i] / sqrt(ms + 1e-6)) < 1e-5);
}

static void test_softmax(void) {
    float x[5] = { 1000, 1001, 999, -INFINITY, 1000.5f };
    ops_softmax(x, 5);
    float s = 0;
    for (int i = 0; i < 5; i++) s += x[i];
    CHECK(fabsf(s - 1.0f) < 1e-6f);
    CHECK(x[3] == 0.0f);
    CHECK(x[1] > x[4] && x[4] > x[0] && x[0] > x[2]);
}

static void test_rope_norm_and_neox(void) {
    const int hd = 8;
    float a[8], b[8], cs[8];
    for (int i = 0; i < hd; i++) a[i] = b[i] = (float)(i + 1);
    ops_rope r = { .n_rot = 8, .neox = false, .base = 10000.0f, .freq_scale = 1.0f };
    ops_rope_cache(&r, 3, cs);
    ops_rope_apply(&r, a, 1, hd, cs);
    for (int i = 0; i < 4; i++) { /* adjacent pairs */
        double th = 3.0 * pow(10000.0, -2.0 * i / 8.0);
        double x0 = 2 * i + 1, x1 = 2 * i + 2;
        CHECK(fabs(a[2 * i] - (x0 * cos(th) - x1 * sin(th))) < 1e-4);
        CHECK(fabs(a[2 * i + 1] - (x0 * sin(th) + x1 * cos(th))) < 1e-4);
    }
    r.neox = true;
    ops_rope_apply(&r, b, 1, hd, cs);
    for (int i = 0; i < 4; i++) { /* pairs (i, i + 4) */
        double th = 3.0 * pow(10000.0, -2.0 * i / 8.0);
        double x0 = i + 1, x1 = i + 5;
        CHECK(fabs(b[i] - (x0 * cos(th) - x1 * sin(th))) < 1e-4);
        CHECK(fabs(b[i + 4] - (x0 * sin(th) + x1 * cos(th))) < 1e-4);
    }
    /* frequency factors divide the angle */
    float ff[4] = { 1, 2, 4, 8 }, cs2[8];
    r.freq_factors = ff;
    ops_rope_cache(&r, 3, cs2);
    for (int i = 0; i < 4; i++) {
        double th = 3.0 * pow(10000.0, -2.0 * i / 8.0) / ff[i];
        CHECK(fabs(cs2[2 * i] - cos(th)) < 1e-5 && fabs(cs2[2 * i + 1] - sin(th)) < 1e-5);
    }
}

static void test_activations(void) {
    unsigned s = 7;
    for (int i = 0; i < 2000; i++) {
        float x = frand(&s) * 12.0f, g = x, si = x, one = 1.0f;
        ops_gelu_mul(&g, &one, 1);
        ops_silu_mul(&si, &one, 1);
        double ge = 0.5 * x * (1 + tanh(0.7978845608 * (x + 0.044715 * x * x * x)));
        CHECKF(fabs(g - ge) <= 2e-3 * fabs(ge) + 1e-4, "gelu(%g) = %g vs %g", x, g, ge);
        CHECK(fabs(si - x / (1 + exp(-x))) < 1e-5 * (1 + fabs(x)));
    }
    float c[3] = { 100.0f, -100.0f, 1.0f };
    ops_softcap(c, 30.0f, 3);
    CHECK(c[0] < 30.0f && c[0] > 29.0f && c[1] > -30.0f && fabsf(c[2] - 30.0f * tanhf(1.0f / 30.0f)) < 1e-6f);
}

static void test_dot_axpy_f16(void) {
    float a[37], b[37], y[37];
    uint16_t h[37];
    unsigned s = 3;
    for (int i = 0; i < 37; i++) { a[i] = frand(&s); b[i] = frand(&s); y[i] = 0.5f; }
    ops_f32_to_f16(b, h, 37);
    double ref = 0;
    for (int i = 0; i < 37; i++) ref += a[i] * hearth_fp16_to_fp32(h[i]);
    CHECK(fabs(ops_dot_f16(a, h, 37) - ref) < 1e-5);
    ops_axpy_f16(y, 2.0f, h, 37);
    for (int i = 0; i < 37; i++) CHECK(fabsf(y[i] - (0.5f + 2.0f * hearth_fp16_to_fp32(h[i]))) < 1e-6f);
}

/* The array forms (vector paths where the CPU has them) against the one-value conversions of
 * kernels.h, bit for bit, over sizes with and without tails and values from subnormal to inf;
 * axpy bit for bit against its per-element formula; dot against a double sum. */
static void test_f16_arrays(void) {
    enum { N = 1000 };
    static float    x[N], r[N], y[N], y2[N];
    static uint16_t h[N];
    unsigned        s = 7;
    for (int i = 0; i < N; i++)
        x[i] = frand(&s) * (i % 4 == 0 ? 80000.0f : i % 4 == 1 ? 1.0f : i % 4 == 2 ? 1e-6f : 100.0f);
    x[5] = INFINITY;
    x[6] = -0.0f;
    for (int n = 1; n <= N; n += n < 70 ? 1 : 97) {
        ops_f32_to_f16(x, h, n);
        ops_round_f16(x, r, n);
        ops_f16_to_f32(h, y, n);
        int bad = 0;
        for (int i = 0; i < n; i++) {
            const uint16_t e = hearth_fp32_to_fp16(x[i]);
            const float    f = hearth_fp16_to_fp32(e);
            if (h[i] != e || memcmp(&r[i], &f, 4) || memcmp(&y[i], &f, 4)) bad++;
        }
        CHECKF(bad == 0, "n=%d: %d conversions differ", n, bad);
        for (int i = 0; i < n; i++) {
            y[i]  = frand(&s);
            y2[i] = y[i] + 0.375f * hearth_fp16_to_fp32(h[i] & 0x3fff);
            h[i] &= 0x3fff; /* finite */
        }
        ops_axpy_f16(y, 0.375f, h, n);
        CHECKF(memcmp(y, y2, (size_t)n * 4) == 0, "axpy n=%d", n);
        double ref = 0, mag = 0;
        for (int i = 0; i < n; i++) {
            ref += (double)y2[i] * hearth_fp16_to_fp32(h[i]);
            mag += fabs((double)y2[i] * hearth_fp16_to_fp32(h[i]));
        }
        CHECKF(fabs(ops_dot_f16(y2, h, n) - ref) <= 1e-6 * mag + 1e-30, "dot n=%d", n);
        if (tap_cur_failed > 5) return;
    }
}

/* The SIMD versions of the reference-order ops give the bits of their scalar code. */
static void test_ref_ops_simd_vs_scalar(void) {
    enum { N = 300, D = 72 };
    static float    x[N], xs[N], xv[N], p[N], out_s[D], out_v[D], out_r[D], acc[32 * D], g[N], gs[N], gv[N];
    static uint16_t kv[N * D], ring_kv[(N + 3) * D];
    unsigned        s = 11;
    for (int i = 0; i < N * D; i++) kv[i] = hearth_fp32_to_fp16(frand(&s));
    for (int i = 0; i < N; i++) {
        x[i] = frand(&s) * (i % 7 == 0 ? 200.0f : 8.0f);
        p[i] = frand(&s);
        g[i] = frand(&s);
    }
    x[3] = -150.0f; /* exp far below the normal range */
    int bad = 0;
    for (int n = 1; n <= N; n += n < 40 ? 1 : 37) {
        for (int64_t j0 = 0; j0 < 11; j0 += 5) {
            memcpy(xs, x, sizeof x);
            memcpy(xv, x, sizeof x);
            ops_set_simd(false);
            const float ss = ops_softmax_ref(xs, n, j0);
            ops_set_simd(true);
            const float sv = ops_softmax_ref(xv, n, j0);
            bad += memcmp(xs, xv, sizeof x) != 0 || memcmp(&ss, &sv, 4) != 0;
            for (int lanes = 8; lanes <= 32; lanes += 24) {
                for (int d = 8; d <= D; d += d == 8 ? 56 : 8) { /* 8, 64 (a multiple of 32), 72 (a tail) */
                    ops_set_simd(false);
                    ops_wsum_f16_ref(out_s, p, kv, D, 0, j0, n, d, lanes, acc);
                    const float ds = ops_dot_f16_ref(x, kv, n, lanes);
                    ops_set_simd(true);
                    ops_wsum_f16_ref(out_v, p, kv, D, 0, j0, n, d, lanes, acc);
                    const float dv = ops_dot_f16_ref(x, kv, n, lanes);
                    bad += memcmp(out_s, out_v, (size_t)d * 4) != 0 || memcmp(&ds, &dv, 4) != 0;
                    /* several rows of a ring at once: each row's bits as alone, scaled */
                    for (int simd = 0; simd < 2; simd++) {
                        float rows[N];
                        ops_set_simd(simd != 0);
                        const int64_t nr = n < 40 ? n : 40;
                        ops_dot_f16_ref_rows(rows, x, kv, D, 7, j0, nr, d, lanes, 0.125f);
                        for (int64_t i = 0; i < nr; i++) {
                            const float one = ops_dot_f16_ref(x, kv + ((j0 + i) % 7) * D, d, lanes) * 0.125f;
                            bad += memcmp(&rows[i], &one, 4) != 0;
                        }
                    }
                    /* the same rows in a ring of n + 3 rows, rotated: the same bits */
                    for (int simd = 0; simd < 2; simd++) {
                        const int64_t ring = n + 3;
                        for (int64_t j = 0; j < n; j++)
                            memcpy(ring_kv + ((j0 + j) % ring) * D, kv + j * D, (size_t)d * sizeof(uint16_t));
                        ops_set_simd(simd != 0);
                        ops_wsum_f16_ref(out_r, p, ring_kv, D, ring, j0, n, d, lanes, acc);
                        bad += memcmp(out_r, simd ? out_v : out_s, (size_t)d * 4) != 0;
                    }
                }
            }
        }
        memcpy(gs, x, sizeof x);
        memcpy(gv, x, sizeof x);
        ops_set_simd(false);
        ops_silu_mul_ref(gs, g, n);
        ops_set_simd(true);
        ops_silu_mul_ref(gv, g, n);
        bad += memcmp(gs, gv, sizeof gs) != 0;
        for (int i = 0; i < N; i++) gs[i] = gv[i] = x[i] * (i % 5 == 0 ? 1.5f : 0.1f); /* beyond +-10 too */
        gs[0] = gv[0] = 10.0f;
        gs[1] = gv[1] = -10.0f;
        ops_set_simd(false);
        ops_gelu_mul(gs, g, n);
        ops_set_simd(true);
        ops_gelu_mul(gv, g, n);
        bad += memcmp(gs, gv, sizeof gs) != 0;
        for (int neox = 0; neox < 2; neox++) {
            ops_rope r = { .n_rot = 32, .neox = neox, .base = 10000.0f, .freq_scale = 1.0f };
            float    cs[32];
            ops_rope_cache(&r, n, cs);
            memcpy(gs, x, sizeof x);
            memcpy(gv, x, sizeof x);
            ops_set_simd(false);
            ops_rope_apply(&r, gs, 4, 48, cs);
            ops_set_simd(true);
            ops_rope_apply(&r, gv, 4, 48, cs);
            bad += memcmp(gs, gv, sizeof gs) != 0;
        }
    }
    CHECKF(bad == 0, "%d mismatches", bad);
}

/* The prompt attention tiles' ops against the per-token ops they replace, bit for bit: K·Q
 * over F32 rows (ops_kq_ref8) against ops_dot_f16_ref with 8 lanes, and V·P as a GEMM over V
 * transposed (ops_f16_to_f32_cols, then ops_gemm_ref8 with p zero outside the cells) against
 * ops_wsum_f16_ref; with and without the vector kernels. */
static void test_attention_tiles(void) {
    enum { NC = 96, D = 72, NQ = 13 };
    static uint16_t kv[NC * D];
    static float    kf[NC * D], vt[D * NC], q[NQ * D], sc[NQ * NC], p[NC], out[D], ref[D], acc[32 * D];
    unsigned        s = 5;
    for (int i = 0; i < NC * D; i++) kv[i] = hearth_fp32_to_fp16(frand(&s) * 3.0f);
    for (int i = 0; i < NQ * D; i++) q[i] = hearth_fp16_to_fp32(hearth_fp32_to_fp16(frand(&s)));
    int bad = 0, n_kq = 0, n_vp = 0;
    for (int simd = 0; simd < 2; simd++) {
        ops_set_simd(simd != 0);
        for (int d = 8; d <= D; d = d == 8 ? 64 : d + 8) { /* 8, 64, 72 */
            for (int64_t j = 0; j < NC; j++) ops_f16_to_f32(kv + j * D, kf + j * d, d);
            for (int64_t n0 = 1; n0 + NQ - 1 <= NC - 8; n0 += 29) {
                for (int i = 0; i < NQ * NC; i++) sc[i] = -1.0f;
                ops_kq_ref8(sc, NC, kf, n0, q, NQ, d, 0.125f);
                for (int64_t t = 0; t < NQ; t++)
                    for (int64_t r = 0; r < n0 + t; r++, n_kq++) {
                        const float one = ops_dot_f16_ref(q + t * d, kv + r * D, d, 8) * 0.125f;
                        bad += memcmp(&sc[t * NC + r], &one, 4) != 0;
                    }
            }
            /* V transposed: each element once, exact */
            ops_f16_to_f32_cols(kv, D, NC - 3, d, vt, NC);
            for (int64_t j = 0; j < NC - 3; j++)
                for (int64_t c = 0; c < d; c++) bad += vt[c * NC + j] != hearth_fp16_to_fp32(kv[j * D + c]);
            if (!ops_gemm_ref8_available()) continue;
            for (int64_t j0 = 0; j0 < 20; j0 += 3)
                for (int64_t n = 1; j0 + n <= NC - 3; n += 11) {
                    const int64_t b0 = j0 & ~(int64_t)7, nc = ((j0 + n + 7) & ~(int64_t)7) - b0;
                    for (int64_t j = 0; j < nc; j++) p[j] = j + b0 >= j0 && j + b0 < j0 + n ? frand(&s) : 0.0f;
                    ops_gemm_ref8(nc, out, 1, vt + b0, (size_t)NC * 4, d, p, 0, 1);
                    ops_wsum_f16_ref(ref, p + (j0 - b0), kv + j0 * D, D, 0, j0, n, d, 8, acc);
                    bad += memcmp(out, ref, (size_t)d * 4) != 0;
                    n_vp++;
                }
        }
    }
    CHECKF(bad == 0 && n_kq > 0 && (n_vp > 0 || !ops_gemm_ref8_available()), "%d mismatches (%d K.Q, %d V.P)", bad,
           n_kq, n_vp);
}

int main(void) {
    RUN(test_f16_matches_kernels);
    RUN(test_rmsnorm);
    RUN(test_softmax);
    RUN(test_rope_norm_and_neox);
    RUN(test_activations);
    RUN(test_dot_axpy_f16);
    RUN(test_f16_arrays);
    RUN(test_ref_ops_simd_vs_scalar);
    RUN(test_attention_tiles);
    return tap_done();
}
