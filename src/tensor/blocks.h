/*
 * blocks.h — the on-disk layouts of the quantized block types, byte for byte as GGML stores
 * them in GGUF files (and, for the activation types Q8_0/Q8_1/Q8_K, as its CPU kernels lay
 * them out).  Sizes are pinned by static_assert against the type table in type.c.
 * fp16 fields are raw IEEE half bits (uint16_t); convert with hearth_fp16_to_fp32.
 */
#ifndef HEARTH_TENSOR_BLOCKS_H
#define HEARTH_TENSOR_BLOCKS_H

#include <assert.h>
#include <stdint.h>

#define HEARTH_QK4_0 32
#define HEARTH_QK4_1 32
#define HEARTH_QK5_0 32
#define HEARTH_QK5_1 32
#define HEARTH_QK8_0 32
#define HEARTH_QK8_1 32
#define HEARTH_QK_K  256
#define HEARTH_K_SCALE_SIZE 12

typedef uint16_t hearth_half;

/* x = d * (q - 8), q in 0..15; element j in the low nibble of qs[j], j+16 in the high. */
typedef struct {
    hearth_half d;
    uint8_t     qs[HEARTH_QK4_0 / 2];
} block_q4_0;

/* x = d * q + m */
typedef struct {
    hearth_half d;
    hearth_half m;
    uint8_t     qs[HEARTH_QK4_1 / 2];
} block_q4_1;

/* x = d * (q - 16), q 5 bits: low 4 as Q4_0, bit 4 of element j in bit j of qh. */
typedef struct {
    hearth_half d;
    uint8_t     qh[4];
    uint8_t     qs[HEARTH_QK5_0 / 2];
} block_q5_0;

/* x = d * q + m */
typedef struct {
    hearth_half d;
    hearth_half m;
    uint8_t     qh[4];
    uint8_t     qs[HEARTH_QK5_1 / 2];
} block_q5_1;

/* x = d * q */
typedef struct {
    hearth_half d;
    int8_t      qs[HEARTH_QK8_0];
} block_q8_0;

/* activations for Q4_1/Q5_1: x = d * q; s = d * sum(q) */
typedef struct {
    hearth_half d;
    hearth_half s;
    int8_t      qs[HEARTH_QK8_1];
} block_q8_1;

/* 16 groups of 16: x = d * (scales & 15) * q - dmin * (scales >> 4), q 2 bits */
typedef struct {
    uint8_t     scales[HEARTH_QK_K / 16];
    uint8_t     qs[HEARTH_QK_K / 4];
    hearth_half d;
    hearth_half dmin;
} block_q2_K;

/* 16 groups of 16: x = d * (scale6 - 32) * (q3 - 4 * !hbit) */
typedef struct {
    uint8_t     hmask[HEARTH_QK_K / 8];
    uint8_t     qs[HEARTH_QK_K / 4];
    uint8_t     scales[12];
    hearth_half d;
} block_q3_K;

/* 8 groups of 32: x = d * sc6 * q - dmin * m6 */
typedef struct {
    hearth_half d;
    hearth_half dmin;
    uint8_t     scales[HEARTH_K_SCALE_SIZE];
    uint8_t     qs[HEARTH_QK_K / 2];
} block_q4_K;

/* 8 groups of 32: x = d * sc6 * q5 - dmin * m6 */
typedef struct {
    hearth_half d;
    hearth_half dmin;
    uint8_t     scales[HEARTH_K_SCALE_SIZE];
    uint8_t     qh[HEARTH_QK_K / 8];
    uint8_t     qs[HEARTH_QK_K / 2];
} block_q5_K;

/* 16 groups of 16: x = d * scales * (q6 - 32) */
typedef struct {
    uint8_t     ql[HEARTH_QK_K / 2];
    uint8_t     qh[HEARTH_QK_K / 4];
    int8_t      scales[HEARTH_QK_K / 16];
    hearth_half d;
} block_q6_K;

/* activations for the K-quants: x = d * q; bsums[j] = sum of q over group j of 16 */
typedef struct {
    float   d;
    int8_t  qs[HEARTH_QK_K];
    int16_t bsums[HEARTH_QK_K / 16];
} block_q8_K;

static_assert(sizeof(block_q4_0) == 18, "block_q4_0 size");
static_assert(sizeof(block_q4_1) == 20, "block_q4_1 size");
static_assert(sizeof(block_q5_0) == 22, "block_q5_0 size");
static_assert(sizeof(block_q5_1) == 24, "block_q5_1 size");
static_assert(sizeof(block_q8_0) == 34, "block_q8_0 size");
static_assert(sizeof(block_q8_1) == 36, "block_q8_1 size");
static_assert(sizeof(block_q2_K) == 84, "block_q2_K size");
static_assert(sizeof(block_q3_K) == 110, "block_q3_K size");
static_assert(sizeof(block_q4_K) == 144, "block_q4_K size");
static_assert(sizeof(block_q5_K) == 176, "block_q5_K size");
static_assert(sizeof(block_q6_K) == 210, "block_q6_K size");
static_assert(sizeof(block_q8_K) == 292, "block_q8_K size");

#endif /* HEARTH_TENSOR_BLOCKS_H */
