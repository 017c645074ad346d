/*
 * kernels.h — the compute kernels the forward pass uses.  Internal to libhearth.
 *
 * Per weight type, a function table (chosen once at start-up from cpuid; HEARTH_KERNELS=ref
 * forces the scalar reference):
 *   to_float    dequantize n elements (n a multiple of the block size)
 *   from_float  quantize n floats into this type (used for activations: Q8_0, Q8_1, Q8_K,
 *               F16, BF16, F32)
 *   vec_dot     dot product of one weight row of type T with one activation row already
 *               converted to vec_dot_type (as llama.cpp pairs them: Q4_0/Q5_0/Q8_0 with Q8_0,
 *               Q4_1/Q5_1 with Q8_1, K-quants with Q8_K, F16 with F16, BF16 with BF16, F32 with F32)
 * Every fast kernel has the scalar reference in kernels/ref/ as its specification and fallback.
 */
#ifndef HEARTH_KERNELS_H
#define HEARTH_KERNELS_H

#include "core/threadpool.h"
#include "tensor/type.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef void (*hearth_to_float_fn)(const void *x, float *y, int64_t n);
typedef void (*hearth_from_float_fn)(const float *x, void *y, int64_t n);
typedef void (*hearth_vec_dot_fn)(int64_t n, float *s, const void *w, const void *a);

typedef struct hearth_type_kernels {
    hearth_type          vec_dot_type; /* the activation type vec_dot expects */
    hearth_to_float_fn   to_float;     /* NULL when unsupported */
    hearth_from_float_fn from_float;   /* NULL when this type is never an activation/target */
    hearth_vec_dot_fn    vec_dot;      /* NULL when unsupported as a weight */
} hearth_type_kernels;

/* The kernels of a type in the active table (ref, avx2, avx512), or NULL if the type has
 * none.  The table is chosen on first use; thread-safe. */
const hearth_type_kernels *hearth_kernels_get(hearth_type type);

/* The scalar reference table, whatever the CPU (tests compare fast paths against it). */
const hearth_type_kernels *hearth_kernels_ref(hearth_type type);

/* Name of the active table: "ref", "avx2", "avx512", "avx512vnni". */
const char *hearth_kernels_isa(void);

/* A weight matrix: `rows` rows of `cols` elements of `type`, rows `row_bytes` apart. */
typedef struct hearth_mat {
    hearth_type type;
    int64_t     rows;      /* output features */
    int64_t     cols;      /* input features */
    size_t      row_bytes;
    const void *data;
    bool        x8;        /* rows interleaved in groups of 8 (hearth_repack_x8) */
} hearth_mat;

/* Q4_0 and Q4_K weights for the matmul can be interleaved once at load time, 8 rows at a time
 * (the layouts the active kernels read as one stream; rows past the last group of 8 stay as
 * they are), when hearth_repack_x8_ok: one of those types, dense rows, at least 8 rows, at
 * most HEARTH_X8_MAX_COLS columns, and kernels for it in the active table.  The results are
 * bit for bit those of the plain layout.  hearth_repack_x8 writes rows x cols of src (plain)
 * into dst (as many bytes); the caller then points W->data at dst and sets W->x8. */
#define HEARTH_X8_MAX_COLS 32768 /* a looked-up embedding row of this many is taken out on the stack */
bool hearth_repack_x8_ok(const hearth_mat *W);
void hearth_repack_x8(hearth_type type, const void *src, void *dst, int64_t rows, int64_t cols);
void hearth_repack_q4_0_x8(const void *src, void *dst, int64_t rows, int64_t cols);
void hearth_repack_q4_K_x8(const void *src, void *dst, int64_t rows, int64_t cols);
/* Row r of an interleaved W in the plain layout: in out (row_bytes of room), or in place for a
 * row past the last group of 8; returns where it is. */
const void *hearth_x8_row(const hearth_mat *W, int64_t r, void *out);

/* Y[t][r] = dot(W row r, X[t]) for t < n_tok, r < W->rows.
 * X: (n_tok, W->cols) floats, Y: (n_tok, W->rows) floats, both row-major and dense.
 * `scratch` holds the activations converted to vec_dot_type: at least
 * hearth_matmul_scratch_size(W, n_tok) bytes.  Rows of W are split across the pool's threads
 * (pool may be NULL: single-threaded).  Returns without allocating.
 * hearth_matmul rounds as the reference engine does for a batch of n_tok tokens (for some
 * types its float order depends on the batch size: Q4_K in groups of 4, Q6_K from 8 tokens).
 * hearth_matmul_segs splits the tokens into n_seg consecutive runs of seg_len[i] tokens
 * (summing to n_tok), each rounded as that run alone would be: the runs of different
 * sequences in one batch get the bits each sequence gets on its own, with the weights still
 * read once for all of them. */
/* hearth_matmul_multi: several matrices of one input (Q/K/V, gate/up): Y[i] = X W[i]^T for
 * i < n_w, with X converted once and one pass of the pool for all; the bits of n_w
 * hearth_matmul_segs calls.  scratch: the largest hearth_matmul_scratch_size of the W[i]. */
size_t hearth_matmul_scratch_size(const hearth_mat *W, int64_t n_tok);
void   hearth_matmul(hearth_threadpool *pool, const hearth_mat *W, const float *X, float *Y, int64_t n_tok,
                     void *scratch);
void   hearth_matmul_segs(hearth_threadpool *pool, const hearth_mat *W, const float *X, float *Y, int64_t n_tok,
                          void *scratch, const int64_t *seg_len, int64_t n_seg);
void   hearth_matmul_multi(hearth_threadpool *pool, const hearth_mat *const *W, float *const *Y, int n_w,
                           const float *X, int64_t n_tok, void *scratch, const int64_t *seg_len, int64_t n_seg);

/* fp16 / bf16 conversions (IEEE half, round to nearest even; bf16 round to nearest even). */
float    hearth_fp16_to_fp32(uint16_t h);
uint16_t hearth_fp32_to_fp16(float f);
float    hearth_bf16_to_fp32(uint16_t h);
uint16_t hearth_fp32_to_bf16(float f);

#endif /* HEARTH_KERNELS_H */
