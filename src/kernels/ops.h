/*
 * ops.h — the float operations of the forward pass (everything except the quantized matmul):
 * norms, rotary embeddings, softmax, activations, f16 conversion for the KV cache.
 * Plain C written so the compiler can vectorize it.  Internal to libhearth.
 *
 * All functions work in place or on caller buffers and never allocate.
 */
#ifndef HEARTH_OPS_H
#define HEARTH_OPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* y[i] = x[i] / sqrt(mean(x^2) + eps) * w[i]  (w NULL: no weight).  x and y may alias.
 * The mean is accumulated in double, as the reference engine does. */
void ops_rmsnorm(float *y, const float *x, const float *w, int64_t n, float eps);

/* Rotary position embedding of one head vector x (head_dim floats), in place, over its
 * first n_rot elements.  neox: pairs (i, i + n_rot/2); otherwise adjacent pairs (2i, 2i+1).
 * theta_i = pos * freq_scale * base^(-2i/n_rot) / (freq_factors ? freq_factors[i] : 1). */
typedef struct ops_rope {
    int          n_rot;
    bool         neox;
    float        base;
    float        freq_scale;
    const float *freq_factors; /* n_rot/2 values or NULL (llama3 scaling: rope_freqs.weight) */
} ops_rope;

/* Fills cs[2*i] = cos(theta_i), cs[2*i+1] = sin(theta_i) for i < n_rot/2 at position pos. */
void ops_rope_cache(const ops_rope *r, int64_t pos, float *cs);
/* Rotates n_heads consecutive head vectors (head_dim apart) using a cache from ops_rope_cache. */
void ops_rope_apply(const ops_rope *r, float *x, int n_heads, int head_dim, const float *cs);

/* In-place softmax over n values; returns the sum of exponentials before normalization. */
float ops_softmax(float *x, int64_t n);

/* Activations, in place over n values. */
void ops_silu(float *x, int64_t n);
void ops_gelu(float *x, int64_t n);                       /* tanh approximation */
/* a[i] = act(a[i]) * b[i]: the gated FFN combine (act = silu or gelu). */
void ops_silu_mul(float *a, const float *b, int64_t n);
void ops_gelu_mul(float *a, const float *b, int64_t n);

void  ops_add(float *y, const float *x, int64_t n);      /* y += x */
void  ops_scale(float *x, float s, int64_t n);           /* x *= s */
void  ops_softcap(float *x, float cap, int64_t n);       /* x = cap * tanh(x / cap) */
float ops_dot(const float *a, const float *b, int64_t n);

/* f16 <-> f32 over arrays (table-driven decode; round-to-nearest-even encode). */
void ops_f32_to_f16(const float *x, uint16_t *y, int64_t n);
void ops_f16_to_f32(const uint16_t *x, float *y, int64_t n);
/* Transposed: y[c * ld + j] = f32(x[j * x_stride + c]) for j < n_rows, c < d. */
void ops_f16_to_f32_cols(const uint16_t *x, int64_t x_stride, int64_t n_rows, int64_t d, float *y, int64_t ld);
/* y[i] = f32(f16(x[i])): rounds to F16 precision (x and y may alias). */
void ops_round_f16(const float *x, float *y, int64_t n);
/* sum_i a[i] * f16(b[i]) and y[i] += s * f16(x[i]). */
float ops_dot_f16(const float *a, const uint16_t *b, int64_t n);
void  ops_axpy_f16(float *y, float s, const uint16_t *x, int64_t n);

/* ---- exactly as the reference engine (llama.cpp, AVX2 CPU path) computes --------------------
 * lanes = 8: its prompt-batch F16 GEMM (8 FMA lanes, then a horizontal sum);
 * lanes = 32: its one-token F16 dot (4 x 8 FMA lanes, its reduction; a tail beyond a multiple
 * of 32 summed in double). */
float ops_expf_ref(float x); /* its vector exp (not correctly rounded) */
/* sum_i a[i] * f16(b[i]), a already holding F16 values. */
float ops_dot_f16_ref(const float *a, const uint16_t *b, int64_t n, int lanes);
/* out[i] = ops_dot_f16_ref(a, row i, n, lanes) * scale for i < n_rows (the same bits), row i =
 * b + ((j0 + i) % ring) * stride (ring > 0) or b + i * stride (ring 0). */
void ops_dot_f16_ref_rows(float *out, const float *a, const uint16_t *b, int64_t stride, int64_t ring, int64_t j0,
                          int64_t n_rows, int64_t n, int lanes, float scale);
/* The reference's prompt GEMM over F32 rows: s[t * ss + r] = sum_i w_r[i] * a_t[i] with 8 FMA
 * lanes (element i in lane i % 8), then a horizontal sum, for r < nr and t < nc; w_r = w + r *
 * ws bytes, a_t = a + t * as bytes, n a multiple of 8.  Per (r, t) the bits of ops_dot_f16_ref
 * with 8 lanes.  Only where ops_gemm_ref8_available() (a vector kernel; the kernel table is not
 * "ref"). */
bool ops_gemm_ref8_available(void);
void ops_gemm_ref8(int64_t n, float *s, size_t ss, const void *w, size_t ws, int64_t nr, const void *a,
                   size_t as, int64_t nc);
/* Causal K·Q over F32 rows of d values (d a multiple of 8): s[t * ss + r] = scale *
 * (8-lane dot of k row r and q row t, then a horizontal sum: ops_dot_f16_ref's bits with 8
 * lanes) for t < nq and r < n0 + t; rows up to the next multiple of 8 may be written too (k
 * holds that many rows, of stride d; q rows of stride d). */
void ops_kq_ref8(float *s, int64_t ss, const float *k, int64_t n0, const float *q, int64_t nq, int64_t d, float scale);
/* Softmax over the n cells j0..j0+n-1 of a row the reference pads with -inf: exp sums in
 * blocks of 8 aligned on the absolute cell index.  Returns the sum. */
float ops_softmax_ref(float *x, int64_t n, int64_t j0);
/* out[c] = sum_j p[j] * f16(row_j[c]) for c < d, j < n, with cell j0+j in lane
 * (j0+j) % lanes; acc: lanes*d floats of scratch.  The padded row length must be a multiple
 * of lanes (the reference's KV length is a multiple of 256).  ring 0: row_j = v + j*v_stride;
 * ring > 0: v is row 0 of a ring of `ring` rows and row_j = v + ((j0+j) % ring)*v_stride
 * (a sliding-window cache; the sums are the same as over the same rows laid out in a line). */
void ops_wsum_f16_ref(float *out, const float *p, const uint16_t *v, int64_t v_stride, int64_t ring, int64_t j0,
                      int64_t n, int64_t d, int lanes, float *acc);
/* a[i] = silu(a[i]) * b[i] over one row, with the reference's vector exp on the first n & ~7. */
void ops_silu_mul_ref(float *a, const float *b, int64_t n);

/* Tests: false makes the ops take their scalar code even where SIMD versions exist (which give
 * the same bits, except ops_dot_f16, whose order differs); true restores the CPU's choice. */
void ops_set_simd(bool on);

#endif /* HEARTH_OPS_H */
