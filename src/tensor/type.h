/*
 * type.h — the tensor type table: every GGML type id known today, with its name, block
 * size (elements per block) and bytes per block.  Ids match the GGUF file format and are
 * append-only; ids that GGML retired are present as holes (block_size 0) so that a file
 * naming one is rejected by name.
 */
#ifndef HEARTH_TENSOR_TYPE_H
#define HEARTH_TENSOR_TYPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum hearth_type {
    HEARTH_TYPE_F32     = 0,
    HEARTH_TYPE_F16     = 1,
    HEARTH_TYPE_Q4_0    = 2,
    HEARTH_TYPE_Q4_1    = 3,
    /* 4 (Q4_2) and 5 (Q4_3) were removed from GGML */
    HEARTH_TYPE_Q5_0    = 6,
    HEARTH_TYPE_Q5_1    = 7,
    HEARTH_TYPE_Q8_0    = 8,
    HEARTH_TYPE_Q8_1    = 9,
    HEARTH_TYPE_Q2_K    = 10,
    HEARTH_TYPE_Q3_K    = 11,
    HEARTH_TYPE_Q4_K    = 12,
    HEARTH_TYPE_Q5_K    = 13,
    HEARTH_TYPE_Q6_K    = 14,
    HEARTH_TYPE_Q8_K    = 15,
    HEARTH_TYPE_IQ2_XXS = 16,
    HEARTH_TYPE_IQ2_XS  = 17,
    HEARTH_TYPE_IQ3_XXS = 18,
    HEARTH_TYPE_IQ1_S   = 19,
    HEARTH_TYPE_IQ4_NL  = 20,
    HEARTH_TYPE_IQ3_S   = 21,
    HEARTH_TYPE_IQ2_S   = 22,
    HEARTH_TYPE_IQ4_XS  = 23,
    HEARTH_TYPE_I8      = 24,
    HEARTH_TYPE_I16     = 25,
    HEARTH_TYPE_I32     = 26,
    HEARTH_TYPE_I64     = 27,
    HEARTH_TYPE_F64     = 28,
    HEARTH_TYPE_IQ1_M   = 29,
    HEARTH_TYPE_BF16    = 30,
    /* 31..33 (Q4_0_4_4, Q4_0_4_8, Q4_0_8_8) were removed: repacking is done at load time */
    HEARTH_TYPE_TQ1_0   = 34,
    HEARTH_TYPE_TQ2_0   = 35,
    /* 36..38 (IQ4_NL_4_4, IQ4_NL_4_8, IQ4_NL_8_8) were removed */
    HEARTH_TYPE_MXFP4   = 39,
    HEARTH_TYPE_COUNT   = 40
} hearth_type;

typedef struct hearth_type_traits {
    const char *name;       /* "Q4_K"; NULL for a retired id */
    int64_t     block_size; /* elements per block; 0 for a retired id */
    size_t      type_size;  /* bytes per block */
    bool        quantized;
} hearth_type_traits;

/* Traits of a type id, or NULL when the id is out of range or retired. */
const hearth_type_traits *hearth_type_get(uint32_t type);

/* The name of a type id ("Q4_K"), or "unknown" / "retired(N)"-style text: never NULL. */
const char *hearth_type_name(uint32_t type);

/* Bytes of one row of `n` elements; 0 when n is not a multiple of the block size or the
 * type is unknown. */
size_t hearth_type_row_size(hearth_type type, int64_t n);

#endif /* HEARTH_TENSOR_TYPE_H */
