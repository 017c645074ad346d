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
/* y[i] = f32(f16(x[i])): rounds to F16 precision (x and y may alias). */
void ops_round_f16(const float *x, float *y, int64_t n);
/* sum_i a[i] * f16(b[i]) and y[i] += s * f16(x[i]). */
float ops_dot_f16(const float *a, const uint16_t *b, int64_t n);
void  ops_axpy_f16(float *y, float s, const uint16_t *x, int64_t n);

#endif /* HEARTH_OPS_H */
