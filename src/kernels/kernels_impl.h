/*
 * kernels_impl.h — what the kernel files share inside src/kernels/: the reference kernels
 * (kernels/ref/, the specification) and the per-ISA kernels (kernels/x86/), by name, so that
 * dispatch.c can build its tables and the tests can call one ISA directly.
 * Conventions: n is the element count (a multiple of the block size of the types involved);
 * vec_dot(n, s, w, a) writes one float to *s.
 */
#ifndef HEARTH_KERNELS_IMPL_H
#define HEARTH_KERNELS_IMPL_H

#include "kernels/kernels.h"
#include "tensor/blocks.h"

#include <string.h>

/* ---- kernels/ref: dequantize (to_float) ---------------------------------------------- */
void hearth_ref_to_float_f32(const void *x, float *y, int64_t n);
void hearth_ref_to_float_f16(const void *x, float *y, int64_t n);
void hearth_ref_to_float_bf16(const void *x, float *y, int64_t n);
void hearth_ref_to_float_q4_0(const void *x, float *y, int64_t n);
void hearth_ref_to_float_q4_1(const void *x, float *y, int64_t n);
void hearth_ref_to_float_q5_0(const void *x, float *y, int64_t n);
void hearth_ref_to_float_q5_1(const void *x, float *y, int64_t n);
void hearth_ref_to_float_q8_0(const void *x, float *y, int64_t n);
void hearth_ref_to_float_q8_1(const void *x, float *y, int64_t n);
void hearth_ref_to_float_q2_K(const void *x, float *y, int64_t n);
void hearth_ref_to_float_q3_K(const void *x, float *y, int64_t n);
void hearth_ref_to_float_q4_K(const void *x, float *y, int64_t n);
void hearth_ref_to_float_q5_K(const void *x, float *y, int64_t n);
void hearth_ref_to_float_q6_K(const void *x, float *y, int64_t n);
void hearth_ref_to_float_q8_K(const void *x, float *y, int64_t n);

/* ---- kernels/ref: quantize activations (from_float), rounding as llama.cpp's _ref ----- */
void hearth_ref_from_float_f32(const float *x, void *y, int64_t n);
void hearth_ref_from_float_f16(const float *x, void *y, int64_t n);
void hearth_ref_from_float_bf16(const float *x, void *y, int64_t n);
void hearth_ref_from_float_q8_0(const float *x, void *y, int64_t n);
void hearth_ref_from_float_q8_1(const float *x, void *y, int64_t n);
void hearth_ref_from_float_q8_K(const float *x, void *y, int64_t n);

/* ---- kernels/ref: dot products (weight type x its vec_dot_type) ---------------------- */
void hearth_ref_vec_dot_f32(int64_t n, float *s, const void *w, const void *a);
void hearth_ref_vec_dot_f16(int64_t n, float *s, const void *w, const void *a);
void hearth_ref_vec_dot_bf16(int64_t n, float *s, const void *w, const void *a);
void hearth_ref_vec_dot_q4_0(int64_t n, float *s, const void *w, const void *a);
void hearth_ref_vec_dot_q4_1(int64_t n, float *s, const void *w, const void *a);
void hearth_ref_vec_dot_q5_0(int64_t n, float *s, const void *w, const void *a);
void hearth_ref_vec_dot_q5_1(int64_t n, float *s, const void *w, const void *a);
void hearth_ref_vec_dot_q8_0(int64_t n, float *s, const void *w, const void *a);
void hearth_ref_vec_dot_q2_K(int64_t n, float *s, const void *w, const void *a);
void hearth_ref_vec_dot_q3_K(int64_t n, float *s, const void *w, const void *a);
void hearth_ref_vec_dot_q4_K(int64_t n, float *s, const void *w, const void *a);
void hearth_ref_vec_dot_q5_K(int64_t n, float *s, const void *w, const void *a);
void hearth_ref_vec_dot_q6_K(int64_t n, float *s, const void *w, const void *a);

/* ---- kernels/x86: AVX2 + FMA + F16C (only called when the CPU has them) ----------------- */
void hearth_avx2_to_float_f16(const void *x, float *y, int64_t n);
void hearth_avx2_to_float_q4_0(const void *x, float *y, int64_t n);
void hearth_avx2_to_float_q8_0(const void *x, float *y, int64_t n);
void hearth_avx2_from_float_f16(const float *x, void *y, int64_t n);
void hearth_avx2_from_float_q8_0(const float *x, void *y, int64_t n);
void hearth_avx2_from_float_q8_1(const float *x, void *y, int64_t n);
void hearth_avx2_from_float_q8_K(const float *x, void *y, int64_t n);
void hearth_avx2_vec_dot_f32(int64_t n, float *s, const void *w, const void *a);
void hearth_avx2_vec_dot_f16(int64_t n, float *s, const void *w, const void *a);
void hearth_avx2_vec_dot_bf16(int64_t n, float *s, const void *w, const void *a);
void hearth_avx2_vec_dot_q4_0(int64_t n, float *s, const void *w, const void *a);
void hearth_avx2_vec_dot_q4_1(int64_t n, float *s, const void *w, const void *a);
void hearth_avx2_vec_dot_q5_0(int64_t n, float *s, const void *w, const void *a);
void hearth_avx2_vec_dot_q5_1(int64_t n, float *s, const void *w, const void *a);
void hearth_avx2_vec_dot_q8_0(int64_t n, float *s, const void *w, const void *a);
void hearth_avx2_vec_dot_q2_K(int64_t n, float *s, const void *w, const void *a);
void hearth_avx2_vec_dot_q3_K(int64_t n, float *s, const void *w, const void *a);
void hearth_avx2_vec_dot_q4_K(int64_t n, float *s, const void *w, const void *a);
void hearth_avx2_vec_dot_q5_K(int64_t n, float *s, const void *w, const void *a);
void hearth_avx2_vec_dot_q6_K(int64_t n, float *s, const void *w, const void *a);

/* ---- kernels/x86: AVX-512 F/BW/VL/DQ (hearth_avx512_*) and the same with VNNI
 * (hearth_avx512vnni_*, integer types only): each returns the bits of its AVX2 twin (see
 * x86/avx512_util.h), so the avx512 tables reuse the AVX2 tile and batch kernels. */
void hearth_avx512_vec_dot_f32(int64_t n, float *s, const void *w, const void *a);
void hearth_avx512_vec_dot_f16(int64_t n, float *s, const void *w, const void *a);
void hearth_avx512_vec_dot_bf16(int64_t n, float *s, const void *w, const void *a);
/* Tile kernels (hearth_gemm_fn, below) of the 32-element block types: decode (single tokens) in
 * AVX-512, groups of tokens through the AVX2 prefill tiles; the vec_dot bits. */
#define HEARTH_AVX512_GEMM_KERNELS(P)                                                                                  \
    void P##gemm_q4_1(int64_t n, float *s, size_t s_stride, const void *w, size_t w_stride, int64_t nr,             \
                      const void *a, size_t a_stride, int64_t nc);                                                   \
    void P##gemm_q5_0(int64_t n, float *s, size_t s_stride, const void *w, size_t w_stride, int64_t nr,             \
                      const void *a, size_t a_stride, int64_t nc);                                                   \
    void P##gemm_q5_1(int64_t n, float *s, size_t s_stride, const void *w, size_t w_stride, int64_t nr,             \
                      const void *a, size_t a_stride, int64_t nc);                                                   \
    void P##gemm_q8_0(int64_t n, float *s, size_t s_stride, const void *w, size_t w_stride, int64_t nr,             \
                      const void *a, size_t a_stride, int64_t nc);
HEARTH_AVX512_GEMM_KERNELS(hearth_avx512_)
HEARTH_AVX512_GEMM_KERNELS(hearth_avx512vnni_)
#undef HEARTH_AVX512_GEMM_KERNELS
#define HEARTH_AVX512_INT_KERNELS(P)                                                                                   \
    void P##vec_dot_q4_1(int64_t n, float *s, const void *w, const void *a);                                          \
    void P##vec_dot_q5_0(int64_t n, float *s, const void *w, const void *a);                                          \
    void P##vec_dot_q5_1(int64_t n, float *s, const void *w, const void *a);                                          \
    void P##vec_dot_q8_0(int64_t n, float *s, const void *w, const void *a);                                          \
    void P##vec_dot_q2_K(int64_t n, float *s, const void *w, const void *a);                                          \
    void P##vec_dot_q3_K(int64_t n, float *s, const void *w, const void *a);                                          \
    void P##vec_dot_q4_K(int64_t n, float *s, const void *w, const void *a);                                          \
    void P##vec_dot_q5_K(int64_t n, float *s, const void *w, const void *a);                                          \
    void P##vec_dot_q6_K(int64_t n, float *s, const void *w, const void *a);
HEARTH_AVX512_INT_KERNELS(hearth_avx512_)
HEARTH_AVX512_INT_KERNELS(hearth_avx512vnni_)
#undef HEARTH_AVX512_INT_KERNELS
/* Multi-row kernels (hearth_gemm_fn, below) of Q4_K and Q6_K: the bits of the AVX2 ones. */
#define HEARTH_AVX512_ROWS_KERNELS(P)                                                                                  \
    void P##rows_q4_K(int64_t n, float *s, size_t s_stride, const void *w, size_t w_stride, int64_t nr,             \
                      const void *a, size_t a_stride, int64_t nc);                                                   \
    void P##rows_q6_K(int64_t n, float *s, size_t s_stride, const void *w, size_t w_stride, int64_t nr,             \
                      const void *a, size_t a_stride, int64_t nc);
HEARTH_AVX512_ROWS_KERNELS(hearth_avx512_)
HEARTH_AVX512_ROWS_KERNELS(hearth_avx512vnni_)
#undef HEARTH_AVX512_ROWS_KERNELS

/* The F16 operations of ops.c (see ops.h), chosen by ops.c when the active table is avx2. */
void  hearth_avx2_ops_f32_to_f16(const float *x, uint16_t *y, int64_t n);
void  hearth_avx2_ops_f16_to_f32(const uint16_t *x, float *y, int64_t n);
void  hearth_avx2_ops_round_f16(const float *x, float *y, int64_t n);
float hearth_avx2_ops_dot_f16(const float *a, const uint16_t *b, int64_t n);
void  hearth_avx2_ops_axpy_f16(float *y, float s, const uint16_t *x, int64_t n);
/* The reference-order ops of ops.h (ops_*_ref), same bits; silu_mul_ref8 does only the first
 * n & ~7 values (the caller does the scalar tail); rope_apply is ops_rope_apply's loop. */
float hearth_avx2_ops_dot_f16_ref(const float *a, const uint16_t *b, int64_t n, int lanes);
void  hearth_avx2_ops_kq_ref8(float *s, int64_t ss, const float *k, int64_t n0, const float *q, int64_t nq, int64_t d,
                              float scale);
void  hearth_avx2_ops_f16_to_f32_cols(const uint16_t *x, int64_t x_stride, int64_t n_rows, int64_t d, float *y,
                                      int64_t ld);
void  hearth_avx2_ops_dot_f16_ref_rows(float *out, const float *a, const uint16_t *b, int64_t stride, int64_t ring,
                                       int64_t j0, int64_t n_rows, int64_t n, int lanes, float scale);
float hearth_avx2_ops_softmax_ref(float *x, int64_t n, int64_t j0);
void  hearth_avx2_ops_wsum_f16_ref(float *out, const float *p, const uint16_t *v, int64_t v_stride, int64_t ring, int64_t j0,
                                   int64_t n, int64_t d, int lanes, float *acc);
/* ops_gelu_mul through the f16-indexed table (table: (1 << 16) + 2 entries, the last two
 * padding for a 32-bit gather) */
void  hearth_avx2_ops_gelu_mul(float *a, const float *b, int64_t n, const uint16_t *table);
void  hearth_avx2_ops_silu_mul_ref8(float *a, const float *b, int64_t n);
void  hearth_avx2_ops_rope_apply(int n_rot, int neox, float *x, int n_heads, int head_dim, const float *cs);

/* Several activation rows per weight row (prefill): s[k * s_stride] = dot(w, row k of a) for
 * k < 4, activation rows a_stride bytes apart.  Same arithmetic as the type's vec_dot. */
typedef void (*hearth_vec_dot4_fn)(int64_t n, float *s, size_t s_stride, const void *w, const void *a, size_t a_stride);
void hearth_avx2_vec_dot4_q4_0(int64_t n, float *s, size_t s_stride, const void *w, const void *a, size_t a_stride);
void hearth_avx2_vec_dot4_q8_0(int64_t n, float *s, size_t s_stride, const void *w, const void *a, size_t a_stride);
void hearth_avx2_vec_dot4_q6_K(int64_t n, float *s, size_t s_stride, const void *w, const void *a, size_t a_stride);
void hearth_avx2_vec_dot4_q4_K(int64_t n, float *s, size_t s_stride, const void *w, const void *a, size_t a_stride);

/* Kernels in the float order the reference engine uses for a batch of rows (not that of the
 * type's vec_dot): its repacked Q4_K GEMM for groups of four rows, and its tiled K-quant
 * matmul at 8 or more rows: Q6_K (one row / four rows), Q5_K, Q3_K, Q2_K (one row). */
void hearth_avx2_vec_dot4_q4_K_gemm(int64_t n, float *s, size_t s_stride, const void *w, const void *a,
                                    size_t a_stride);
void hearth_avx2_vec_dot_q6_K_tiled(int64_t n, float *s, const void *w, const void *a);
void hearth_avx2_vec_dot_q5_K_tiled(int64_t n, float *s, const void *w, const void *a);
void hearth_avx2_vec_dot_q3_K_tiled(int64_t n, float *s, const void *w, const void *a);
void hearth_avx2_vec_dot_q2_K_tiled(int64_t n, float *s, const void *w, const void *a);
void hearth_avx2_vec_dot4_q6_K_tiled(int64_t n, float *s, size_t s_stride, const void *w, const void *a,
                                     size_t a_stride);

/* A tile of weight rows times activation rows (prefill and decode): for r < nr, c < nc,
 * s[c * s_stride + r] = dot(weight row r, activation row c), weight rows w_stride bytes apart,
 * activation rows (in vec_dot_type) a_stride bytes apart.  Any nr, nc >= 1.  Every (r, c)
 * gets the same bits as the type's vec_dot of the same ISA. */
typedef void (*hearth_gemm_fn)(int64_t n, float *s, size_t s_stride, const void *w, size_t w_stride, int64_t nr,
                               const void *a, size_t a_stride, int64_t nc);
void hearth_avx2_gemm_q4_0(int64_t n, float *s, size_t s_stride, const void *w, size_t w_stride, int64_t nr,
                           const void *a, size_t a_stride, int64_t nc);
void hearth_avx2_gemm_q4_1(int64_t n, float *s, size_t s_stride, const void *w, size_t w_stride, int64_t nr,
                           const void *a, size_t a_stride, int64_t nc);
void hearth_avx2_gemm_q5_0(int64_t n, float *s, size_t s_stride, const void *w, size_t w_stride, int64_t nr,
                           const void *a, size_t a_stride, int64_t nc);
void hearth_avx2_gemm_q5_1(int64_t n, float *s, size_t s_stride, const void *w, size_t w_stride, int64_t nr,
                           const void *a, size_t a_stride, int64_t nc);
void hearth_avx2_gemm_q8_0(int64_t n, float *s, size_t s_stride, const void *w, size_t w_stride, int64_t nr,
                           const void *a, size_t a_stride, int64_t nc);
void hearth_avx2_gemm_f16(int64_t n, float *s, size_t s_stride, const void *w, size_t w_stride, int64_t nr,
                          const void *a, size_t a_stride, int64_t nc);
/* F16, F32 and BF16 in the reference's prompt-GEMM order (n a multiple of 8), for runs of 2+
 * tokens: see hearth_kernels_multi. */
void hearth_avx2_gemm_f16_tb(int64_t n, float *s, size_t s_stride, const void *w, size_t w_stride, int64_t nr,
                             const void *a, size_t a_stride, int64_t nc);
void hearth_avx2_gemm_f32_tb(int64_t n, float *s, size_t s_stride, const void *w, size_t w_stride, int64_t nr,
                             const void *a, size_t a_stride, int64_t nc);
void hearth_avx2_gemm_bf16_tb(int64_t n, float *s, size_t s_stride, const void *w, size_t w_stride, int64_t nr,
                              const void *a, size_t a_stride, int64_t nc);

/* Multi-row kernels (decode): the tile signature, but each (row, token) gets exactly the bits
 * of the type's vec_dot, whatever the batch (so matmul may use them wherever it would call
 * vec_dot row by row, also for types whose batch order differs, see hearth_kernels_batch). */
void hearth_avx2_rows_q4_K(int64_t n, float *s, size_t s_stride, const void *w, size_t w_stride, int64_t nr,
                           const void *a, size_t a_stride, int64_t nc);
void hearth_avx2_rows_q6_K(int64_t n, float *s, size_t s_stride, const void *w, size_t w_stride, int64_t nr,
                           const void *a, size_t a_stride, int64_t nc);
hearth_gemm_fn hearth_kernels_rows(hearth_type type);
hearth_gemm_fn hearth_kernels_rows_isa(const char *isa, hearth_type type);

/* The tile kernel of a type in the active table or of a named ISA (NULL: none; use vec_dot4
 * or vec_dot). */
hearth_gemm_fn hearth_kernels_gemm(hearth_type type);
hearth_gemm_fn hearth_kernels_gemm_isa(const char *isa, hearth_type type);

/* The kernel for runs of 2 or more tokens of a type whose reference sums those in another
 * order than a lone token's (NULL: none; then the tile kernel or vec_dot serve all runs):
 * F16, F32 and BF16 on AVX2, used where the reference uses it (rows a multiple of 4, columns of 8).
 * Lone tokens then go through the tile kernel, which gives vec_dot's bits. */
hearth_gemm_fn hearth_kernels_multi(hearth_type type);
hearth_gemm_fn hearth_kernels_multi_isa(const char *isa, hearth_type type);

/* The tile kernel of weights interleaved 8 rows at a time (hearth_repack_q4_0_x8; w at the
 * start of a group, w_stride the plain row size), active table or a named ISA; NULL: none
 * (then no weights are interleaved).  The bits of the type's vec_dot.  Each activation row
 * is HEARTH_X8_ROW_BYTES(n) bytes: the Q8_0 row, then at HEARTH_X8_TERMS_AT(n) its terms from
 * hearth_q4_0_x8_terms (per block the scale as a float, then per block 8 x the quants' sum as
 * int32), formed once per matmul instead of once per call. */
#define HEARTH_X8_TERMS_AT(n)  (((size_t)(n) / 32 * 34 + 3) & ~(size_t)3)
#define HEARTH_X8_ROW_BYTES(n) (HEARTH_X8_TERMS_AT(n) + (size_t)(n) / 32 * 8)
void hearth_q4_0_x8_terms(const void *aq, int64_t n, void *terms);
void hearth_avx2_gemm_q4_0_x8(int64_t n, float *s, size_t s_stride, const void *w, size_t w_stride, int64_t nr,
                              const void *a, size_t a_stride, int64_t nc);
hearth_gemm_fn hearth_kernels_gemm_x8(hearth_type type);
hearth_gemm_fn hearth_kernels_gemm_x8_isa(const char *isa, hearth_type type);

/* Q4_K interleaved 8 rows at a time (hearth_repack_q4_K_x8): per group of 8 rows and
 * super-block one block_q4_Kx8, the bytes of the 8 rows' blocks rearranged so that a 32-byte
 * load holds the same 4 bytes of each row (row r in dword lane r).  The activations are plain
 * Q8_K rows.  rows_x8: every (row, token) with the bits of vec_dot_q4_K (decode, runs of 1-3
 * tokens); tile4_x8: with those of vec_dot4_q4_K_gemm (runs of 4+ tokens, nc a multiple of 4).
 * Rows past the last group of 8 are plain. */
typedef struct {
    hearth_half d[8], dmin[8];
    uint32_t    sc[3][8]; /* [k][r]: bytes 4k..4k+3 of row r's packed scales */
    uint8_t     qs[32][32]; /* [dword c of the qs][4 r + b]: byte 4c + b of row r's qs */
} block_q4_Kx8;
void hearth_avx2_rows_q4_K_x8(int64_t n, float *s, size_t s_stride, const void *w, size_t w_stride, int64_t nr,
                              const void *a, size_t a_stride, int64_t nc);
void hearth_avx2_gemm4_q4_K_x8(int64_t n, float *s, size_t s_stride, const void *w, size_t w_stride, int64_t nr,
                               const void *a, size_t a_stride, int64_t nc);
hearth_gemm_fn hearth_kernels_rows_x8(hearth_type type);
hearth_gemm_fn hearth_kernels_rows_x8_isa(const char *isa, hearth_type type);
hearth_gemm_fn hearth_kernels_tile4_x8(hearth_type type);
hearth_gemm_fn hearth_kernels_tile4_x8_isa(const char *isa, hearth_type type);

/* The 4-row kernel of a type in the active table (NULL: use vec_dot row by row), or of a
 * named ISA. */
hearth_vec_dot4_fn hearth_kernels_vec_dot4(hearth_type type);
hearth_vec_dot4_fn hearth_kernels_vec_dot4_isa(const char *isa, hearth_type type);

/* The reference engine's kernels for a batch of n_tok activation rows of one sequence, where
 * their float order differs from that of vec_dot / vec_dot4: *dot and *dot4 are replaced
 * (NULL *dot4: rows one by one), else left as they are.  Active table, or a named ISA. */
#define HEARTH_TILED_MIN_ROWS 8 /* the reference's tiled K-quant matmul threshold */
void hearth_kernels_batch(hearth_type type, int64_t n_tok, hearth_vec_dot_fn *dot, hearth_vec_dot4_fn *dot4);
void hearth_kernels_batch_isa(const char *isa, hearth_type type, int64_t n_tok, hearth_vec_dot_fn *dot,
                              hearth_vec_dot4_fn *dot4);

/* Batch tiles: the bits of hearth_kernels_batch's *dot4 for n_tok rows of one sequence, for nr
 * weight rows against nc activation rows, nc a multiple of 4 (the hearth_gemm_fn signature;
 * the tokens nc & 3 past the last group of 4 are not touched).  NULL: none, use *dot4.  Active
 * table, or a named ISA. */
void           hearth_avx2_gemm4_q4_K(int64_t n, float *s, size_t s_stride, const void *w, size_t w_stride, int64_t nr,
                                      const void *a, size_t a_stride, int64_t nc);
void           hearth_avx2_gemm4_q6_K(int64_t n, float *s, size_t s_stride, const void *w, size_t w_stride, int64_t nr,
                                      const void *a, size_t a_stride, int64_t nc);
hearth_gemm_fn hearth_kernels_batch_tile(hearth_type type, int64_t n_tok);
hearth_gemm_fn hearth_kernels_batch_tile_isa(const char *isa, hearth_type type, int64_t n_tok);

/* The table of one ISA by name ("ref", "avx2", "avx512", "avx512vnni"), whatever the CPU: for tests and benchmarks
 * that compare ISAs.  NULL for an unknown name or an ISA this build lacks.  Calling into a
 * table the CPU cannot run is the caller's problem (check hearth_kernels_cpu_has first). */
const hearth_type_kernels *hearth_kernels_table(const char *isa, hearth_type type);
int hearth_kernels_cpu_has(const char *isa);

/* Round to nearest, ties to even, for |x| < 2^22 (llama.cpp's nearest_int). */
static inline int hearth_nearest_int(float fval) {
    float val = fval + 12582912.f;
    int   i;
    memcpy(&i, &val, sizeof i);
    return (i & 0x007fffff) - 0x00400000;
}

/* The 6-bit scale and min of group j (0..7) of a Q4_K/Q5_K block's 12 packed scale bytes. */
static inline void hearth_get_scale_min_k4(int j, const uint8_t *q, uint8_t *d, uint8_t *m) {
    if (j < 4) {
        *d = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *d = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4));
    }
}

/* The 16 signed 6-bit scales (biased by 32, not yet unbiased) of a Q3_K block's 12 bytes. */
static inline void hearth_q3_K_scales(const uint8_t *packed, int8_t out[16]) {
    const uint32_t kmask1 = 0x03030303, kmask2 = 0x0f0f0f0f;
    uint32_t aux[4];
    memcpy(aux, packed, 12);
    uint32_t tmp = aux[2];
    aux[2] = ((aux[0] >> 4) & kmask2) | (((tmp >> 4) & kmask1) << 4);
    aux[3] = ((aux[1] >> 4) & kmask2) | (((tmp >> 6) & kmask1) << 4);
    aux[0] = (aux[0] & kmask2) | (((tmp >> 0) & kmask1) << 4);
    aux[1] = (aux[1] & kmask2) | (((tmp >> 2) & kmask1) << 4);
    memcpy(out, aux, 16);
}

#endif /* HEARTH_KERNELS_IMPL_H */
