/* type.c — the type traits table (see type.h). Quantized block sizes come from the block structs in
 * tensor/blocks.h (static_asserts there pin them). */
#include "tensor/type.h"

#include "tensor/blocks.h"

#define QK_K 256

static const hearth_type_traits type_traits[HEARTH_TYPE_COUNT] = {
    [HEARTH_TYPE_F32]     = { "F32",     1,    4,                 false },
    [HEARTH_TYPE_F16]     = { "F16",     1,    2,                 false },
    [HEARTH_TYPE_Q4_0]    = { "Q4_0",    32,   sizeof(block_q4_0),            true  },
    [HEARTH_TYPE_Q4_1]    = { "Q4_1",    32,   sizeof(block_q4_1),        true  },
    [HEARTH_TYPE_Q5_0]    = { "Q5_0",    32,   sizeof(block_q5_0),        true  },
    [HEARTH_TYPE_Q5_1]    = { "Q5_1",    32,   sizeof(block_q5_1),    true  },
    [HEARTH_TYPE_Q8_0]    = { "Q8_0",    32,   sizeof(block_q8_0),            true  },
    [HEARTH_TYPE_Q8_1]    = { "Q8_1",    32,   sizeof(block_q8_1),        true  },
    [HEARTH_TYPE_Q2_K]    = { "Q2_K",    QK_K, sizeof(block_q2_K),   true  },
    [HEARTH_TYPE_Q3_K]    = { "Q3_K",    QK_K, sizeof(block_q3_K),  true  },
    [HEARTH_TYPE_Q4_K]    = { "Q4_K",    QK_K, sizeof(block_q4_K),  true  },
    [HEARTH_TYPE_Q5_K]    = { "Q5_K",    QK_K, sizeof(block_q5_K), true },
    [HEARTH_TYPE_Q6_K]    = { "Q6_K",    QK_K, sizeof(block_q6_K), true  },
    [HEARTH_TYPE_Q8_K]    = { "Q8_K",    QK_K, sizeof(block_q8_K),      true  },
    [HEARTH_TYPE_IQ2_XXS] = { "IQ2_XXS", QK_K, 2 + 64,            true  },
    [HEARTH_TYPE_IQ2_XS]  = { "IQ2_XS",  QK_K, 2 + 64 + 8,        true  },
    [HEARTH_TYPE_IQ3_XXS] = { "IQ3_XXS", QK_K, 2 + 96,            true  },
    [HEARTH_TYPE_IQ1_S]   = { "IQ1_S",   QK_K, 2 + 32 + 16,       true  },
    [HEARTH_TYPE_IQ4_NL]  = { "IQ4_NL",  32,   2 + 16,            true  },
    [HEARTH_TYPE_IQ3_S]   = { "IQ3_S",   QK_K, 2 + 64 + 8 + 32 + 4, true },
    [HEARTH_TYPE_IQ2_S]   = { "IQ2_S",   QK_K, 2 + 64 + 8 + 8,    true  },
    [HEARTH_TYPE_IQ4_XS]  = { "IQ4_XS",  QK_K, 2 + 2 + 4 + 128,   true  },
    [HEARTH_TYPE_I8]      = { "I8",      1,    1,                 false },
    [HEARTH_TYPE_I16]     = { "I16",     1,    2,                 false },
    [HEARTH_TYPE_I32]     = { "I32",     1,    4,                 false },
    [HEARTH_TYPE_I64]     = { "I64",     1,    8,                 false },
    [HEARTH_TYPE_F64]     = { "F64",     1,    8,                 false },
    [HEARTH_TYPE_IQ1_M]   = { "IQ1_M",   QK_K, 32 + 16 + 8,       true  },
    [HEARTH_TYPE_BF16]    = { "BF16",    1,    2,                 false },
    [HEARTH_TYPE_TQ1_0]   = { "TQ1_0",   QK_K, 48 + 4 + 2,        true  },
    [HEARTH_TYPE_TQ2_0]   = { "TQ2_0",   QK_K, 64 + 2,            true  },
    [HEARTH_TYPE_MXFP4]   = { "MXFP4",   32,   1 + 16,            true  },
};

const hearth_type_traits *hearth_type_get(uint32_t type) {
    if (type >= HEARTH_TYPE_COUNT || type_traits[type].name == NULL) return NULL;
    return &type_traits[type];
}

const char *hearth_type_name(uint32_t type) {
    const hearth_type_traits *t = hearth_type_get(type);
    if (t) return t->name;
    return type < HEARTH_TYPE_COUNT ? "retired" : "unknown";
}

size_t hearth_type_row_size(hearth_type type, int64_t n) {
    const hearth_type_traits *t = hearth_type_get((uint32_t)type);
    if (!t || n < 0 || n % t->block_size != 0) return 0;
    return (size_t)(n / t->block_size) * t->type_size;
}
