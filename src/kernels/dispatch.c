/* dispatch.c — the kernel tables, one per ISA, and the choice of the active one: made once,
 * on first use, from cpuid (__builtin_cpu_supports): the best of avx512vnni, avx512, avx2, ref
 * that the CPU runs.  HEARTH_KERNELS=ref|avx2|avx512|avx512vnni overrides it (a forced ISA the
 * CPU lacks falls back to ref with a warning).
 * The AVX-512 tables are the AVX2 table with AVX-512 dot products that return the AVX2 bits
 * (x86/avx512_util.h), so their tile and batch kernels are AVX2's; the Q4_K / Q6_K multi-row
 * kernels (decode) are AVX-512 ones with the same bits.
 * HEARTH_AVX512_EMU (make EMU512=1): the AVX-512 kernels are SIMDe emulations and are offered
 * wherever AVX2 runs, for tests. */
#include "kernels/kernels_impl.h"

#include "core/core.h"

#if defined(__x86_64__)
#define HEARTH_HAVE_AVX2_KERNELS 1
#endif

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum { ISA_REF, ISA_AVX2, ISA_AVX512, ISA_AVX512VNNI, ISA_COUNT };
static const char *const isa_names[ISA_COUNT] = { "ref", "avx2", "avx512", "avx512vnni" };

/* The table whose tile / multi-row / batch kernels an ISA uses (same bits, see above). */
static int base_isa(int isa) { return isa == ISA_AVX512 || isa == ISA_AVX512VNNI ? ISA_AVX2 : isa; }

#define ROW(T, VT, TF, FF, VD) [HEARTH_TYPE_##T] = { HEARTH_TYPE_##VT, TF, FF, VD }

static const hearth_type_kernels ref_table[HEARTH_TYPE_COUNT] = {
    ROW(F32, F32, hearth_ref_to_float_f32, hearth_ref_from_float_f32, hearth_ref_vec_dot_f32),
    ROW(F16, F16, hearth_ref_to_float_f16, hearth_ref_from_float_f16, hearth_ref_vec_dot_f16),
    ROW(BF16, BF16, hearth_ref_to_float_bf16, hearth_ref_from_float_bf16, hearth_ref_vec_dot_bf16),
    ROW(Q4_0, Q8_0, hearth_ref_to_float_q4_0, NULL, hearth_ref_vec_dot_q4_0),
    ROW(Q4_1, Q8_1, hearth_ref_to_float_q4_1, NULL, hearth_ref_vec_dot_q4_1),
    ROW(Q5_0, Q8_0, hearth_ref_to_float_q5_0, NULL, hearth_ref_vec_dot_q5_0),
    ROW(Q5_1, Q8_1, hearth_ref_to_float_q5_1, NULL, hearth_ref_vec_dot_q5_1),
    ROW(Q8_0, Q8_0, hearth_ref_to_float_q8_0, hearth_ref_from_float_q8_0, hearth_ref_vec_dot_q8_0),
    ROW(Q8_1, Q8_1, hearth_ref_to_float_q8_1, hearth_ref_from_float_q8_1, NULL),
    ROW(Q2_K, Q8_K, hearth_ref_to_float_q2_K, NULL, hearth_ref_vec_dot_q2_K),
    ROW(Q3_K, Q8_K, hearth_ref_to_float_q3_K, NULL, hearth_ref_vec_dot_q3_K),
    ROW(Q4_K, Q8_K, hearth_ref_to_float_q4_K, NULL, hearth_ref_vec_dot_q4_K),
    ROW(Q5_K, Q8_K, hearth_ref_to_float_q5_K, NULL, hearth_ref_vec_dot_q5_K),
    ROW(Q6_K, Q8_K, hearth_ref_to_float_q6_K, NULL, hearth_ref_vec_dot_q6_K),
    ROW(Q8_K, Q8_K, hearth_ref_to_float_q8_K, hearth_ref_from_float_q8_K, NULL),
};

static hearth_type_kernels tables[ISA_COUNT][HEARTH_TYPE_COUNT];
static pthread_once_t      tables_once = PTHREAD_ONCE_INIT;
static int                 active_isa  = ISA_REF;

/* Replaces the non-NULL functions of `over` in table t. */
static void table_override(hearth_type_kernels *t, hearth_type type, hearth_to_float_fn tf,
                           hearth_from_float_fn ff, hearth_vec_dot_fn vd) {
    if (tf) t[type].to_float = tf;
    if (ff) t[type].from_float = ff;
    if (vd) t[type].vec_dot = vd;
}

static void build_avx2(hearth_type_kernels *t) {
    memcpy(t, ref_table, sizeof ref_table);
#ifdef HEARTH_HAVE_AVX2_KERNELS
    table_override(t, HEARTH_TYPE_F32, NULL, NULL, hearth_avx2_vec_dot_f32);
    table_override(t, HEARTH_TYPE_F16, hearth_avx2_to_float_f16, hearth_avx2_from_float_f16, hearth_avx2_vec_dot_f16);
    table_override(t, HEARTH_TYPE_BF16, NULL, NULL, hearth_avx2_vec_dot_bf16);
    table_override(t, HEARTH_TYPE_Q4_0, hearth_avx2_to_float_q4_0, NULL, hearth_avx2_vec_dot_q4_0);
    table_override(t, HEARTH_TYPE_Q4_1, NULL, NULL, hearth_avx2_vec_dot_q4_1);
    table_override(t, HEARTH_TYPE_Q5_0, NULL, NULL, hearth_avx2_vec_dot_q5_0);
    table_override(t, HEARTH_TYPE_Q5_1, NULL, NULL, hearth_avx2_vec_dot_q5_1);
    table_override(t, HEARTH_TYPE_Q8_0, hearth_avx2_to_float_q8_0, hearth_avx2_from_float_q8_0, hearth_avx2_vec_dot_q8_0);
    table_override(t, HEARTH_TYPE_Q8_1, NULL, hearth_avx2_from_float_q8_1, NULL);
    table_override(t, HEARTH_TYPE_Q2_K, NULL, NULL, hearth_avx2_vec_dot_q2_K);
    table_override(t, HEARTH_TYPE_Q3_K, NULL, NULL, hearth_avx2_vec_dot_q3_K);
    table_override(t, HEARTH_TYPE_Q4_K, NULL, NULL, hearth_avx2_vec_dot_q4_K);
    table_override(t, HEARTH_TYPE_Q5_K, NULL, NULL, hearth_avx2_vec_dot_q5_K);
    table_override(t, HEARTH_TYPE_Q6_K, NULL, NULL, hearth_avx2_vec_dot_q6_K);
    table_override(t, HEARTH_TYPE_Q8_K, NULL, hearth_avx2_from_float_q8_K, NULL);
#else
    (void)table_override;
#endif
}

/* The AVX2 table with the AVX-512 dot products (vnni: the integer ones with VPDPBUSD). */
static void build_avx512(hearth_type_kernels *t, int vnni) {
    build_avx2(t);
#ifdef HEARTH_HAVE_AVX2_KERNELS
    table_override(t, HEARTH_TYPE_F32, NULL, NULL, hearth_avx512_vec_dot_f32);
    table_override(t, HEARTH_TYPE_F16, NULL, NULL, hearth_avx512_vec_dot_f16);
    table_override(t, HEARTH_TYPE_BF16, NULL, NULL, hearth_avx512_vec_dot_bf16);
#define INT_KERNEL(T, fn) table_override(t, HEARTH_TYPE_##T, NULL, NULL, vnni ? hearth_avx512vnni_##fn : hearth_avx512_##fn)
    /* 32-element block types (Q4_0 keeps AVX2's: its own float order, q40_avx2.c): */
    INT_KERNEL(Q4_1, vec_dot_q4_1);
    INT_KERNEL(Q5_0, vec_dot_q5_0);
    INT_KERNEL(Q5_1, vec_dot_q5_1);
    INT_KERNEL(Q8_0, vec_dot_q8_0);
    /* K-quants: */
    INT_KERNEL(Q4_K, vec_dot_q4_K);
    INT_KERNEL(Q6_K, vec_dot_q6_K);
    INT_KERNEL(Q5_K, vec_dot_q5_K);
    INT_KERNEL(Q3_K, vec_dot_q3_K);
    INT_KERNEL(Q2_K, vec_dot_q2_K);
#undef INT_KERNEL
#else
    (void)vnni;
#endif
}

int hearth_kernels_cpu_has(const char *isa) {
    if (!strcmp(isa, "ref")) return 1;
#if (defined(__x86_64__) || defined(__i386__)) && defined(HEARTH_HAVE_AVX2_KERNELS)
    __builtin_cpu_init();
    unsigned a, b, c, d; /* F16C is CPUID.1:ECX bit 29 (clang has no "f16c" feature name) */
    const int f16c = __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29));
    const int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && f16c;
    if (!strcmp(isa, "avx2")) return avx2;
#ifdef HEARTH_AVX512_EMU
    if (!strcmp(isa, "avx512") || !strcmp(isa, "avx512vnni")) return avx2;
#else
    /* __builtin_cpu_supports also checks that the OS saves the AVX-512 state (XCR0). */
    const int avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                       __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
    if (!strcmp(isa, "avx512")) return avx512;
    if (!strcmp(isa, "avx512vnni")) return avx512 && __builtin_cpu_supports("avx512vnni");
#endif
#endif
    return 0;
}

static void tables_init(void) {
    memcpy(tables[ISA_REF], ref_table, sizeof ref_table);
    build_avx2(tables[ISA_AVX2]);
    build_avx512(tables[ISA_AVX512], 0);
    build_avx512(tables[ISA_AVX512VNNI], 1);
    active_isa = ISA_REF;
    for (int i = ISA_COUNT - 1; i > ISA_REF && active_isa == ISA_REF; i--)
        if (hearth_kernels_cpu_has(isa_names[i])) active_isa = i;
    const char *force = getenv("HEARTH_KERNELS");
    if (force && *force) {
        int found = -1;
        for (int i = 0; i < ISA_COUNT; i++)
            if (!strcmp(force, isa_names[i])) found = i;
        if (found < 0)
            HEARTH_LOG_W("HEARTH_KERNELS=%s is not a known kernel set (ref, avx2, avx512, avx512vnni); using %s", force,
                         isa_names[active_isa]);
        else if (!hearth_kernels_cpu_has(isa_names[found])) {
            HEARTH_LOG_W("HEARTH_KERNELS=%s: this CPU or build lacks it; using ref", force);
            active_isa = ISA_REF;
        } else
            active_isa = found;
    }
}

static const hearth_type_kernels *table_entry(int isa, hearth_type type) {
    if ((unsigned)type >= HEARTH_TYPE_COUNT) return NULL;
    const hearth_type_kernels *k = &tables[isa][type];
    return (k->to_float || k->vec_dot || k->from_float) ? k : NULL;
}

const hearth_type_kernels *hearth_kernels_get(hearth_type type) {
    pthread_once(&tables_once, tables_init);
    return table_entry(active_isa, type);
}

const hearth_type_kernels *hearth_kernels_ref(hearth_type type) {
    pthread_once(&tables_once, tables_init);
    return table_entry(ISA_REF, type);
}

const hearth_type_kernels *hearth_kernels_table(const char *isa, hearth_type type) {
    pthread_once(&tables_once, tables_init);
    for (int i = 0; i < ISA_COUNT; i++)
        if (!strcmp(isa, isa_names[i])) return table_entry(i, type);
    return NULL;
}

static hearth_vec_dot4_fn vec_dot4_of(int isa, hearth_type type) {
    isa = base_isa(isa);
#ifdef HEARTH_HAVE_AVX2_KERNELS
    if (isa == ISA_AVX2) {
        switch (type) {
        case HEARTH_TYPE_Q4_0: return hearth_avx2_vec_dot4_q4_0;
        case HEARTH_TYPE_Q8_0: return hearth_avx2_vec_dot4_q8_0;
        case HEARTH_TYPE_Q4_K: return hearth_avx2_vec_dot4_q4_K;
        case HEARTH_TYPE_Q6_K: return hearth_avx2_vec_dot4_q6_K;
        default: return NULL;
        }
    }
#endif
    (void)isa;
    (void)type;
    return NULL;
}

static hearth_gemm_fn gemm_of(int isa, hearth_type type) {
#ifdef HEARTH_HAVE_AVX2_KERNELS
    /* AVX-512 decode tiles for the 32-element block types (the AVX2 bits); F16 keeps AVX2's */
    if (isa == ISA_AVX512 || isa == ISA_AVX512VNNI) {
        const int vnni = isa == ISA_AVX512VNNI;
        switch (type) {
        case HEARTH_TYPE_Q4_1: return vnni ? hearth_avx512vnni_gemm_q4_1 : hearth_avx512_gemm_q4_1;
        case HEARTH_TYPE_Q5_0: return vnni ? hearth_avx512vnni_gemm_q5_0 : hearth_avx512_gemm_q5_0;
        case HEARTH_TYPE_Q5_1: return vnni ? hearth_avx512vnni_gemm_q5_1 : hearth_avx512_gemm_q5_1;
        case HEARTH_TYPE_Q8_0: return vnni ? hearth_avx512vnni_gemm_q8_0 : hearth_avx512_gemm_q8_0;
        default: break;
        }
    }
#endif
    isa = base_isa(isa);
#ifdef HEARTH_HAVE_AVX2_KERNELS
    if (isa == ISA_AVX2) {
        switch (type) {
        case HEARTH_TYPE_Q4_0: return hearth_avx2_gemm_q4_0;
        case HEARTH_TYPE_Q4_1: return hearth_avx2_gemm_q4_1;
        case HEARTH_TYPE_Q5_0: return hearth_avx2_gemm_q5_0;
        case HEARTH_TYPE_Q5_1: return hearth_avx2_gemm_q5_1;
        case HEARTH_TYPE_Q8_0: return hearth_avx2_gemm_q8_0;
        case HEARTH_TYPE_F16: return hearth_avx2_gemm_f16;
        default: return NULL;
        }
    }
#endif
    (void)isa;
    (void)type;
    return NULL;
}

static hearth_gemm_fn rows_of(int isa, hearth_type type) {
#ifdef HEARTH_HAVE_AVX2_KERNELS
    /* AVX-512 multi-row kernels where there are (the AVX2 bits), else AVX2's */
    if (isa == ISA_AVX512 || isa == ISA_AVX512VNNI) {
        const int vnni = isa == ISA_AVX512VNNI;
        switch (type) {
        case HEARTH_TYPE_Q4_K: return vnni ? hearth_avx512vnni_rows_q4_K : hearth_avx512_rows_q4_K;
        case HEARTH_TYPE_Q6_K: return vnni ? hearth_avx512vnni_rows_q6_K : hearth_avx512_rows_q6_K;
        default: break;
        }
    }
#endif
    isa = base_isa(isa);
#ifdef HEARTH_HAVE_AVX2_KERNELS
    if (isa == ISA_AVX2) {
        switch (type) {
        case HEARTH_TYPE_Q4_K: return hearth_avx2_rows_q4_K;
        case HEARTH_TYPE_Q6_K: return hearth_avx2_rows_q6_K;
        default: return NULL;
        }
    }
#endif
    (void)isa;
    (void)type;
    return NULL;
}

hearth_gemm_fn hearth_kernels_rows(hearth_type type) {
    pthread_once(&tables_once, tables_init);
    return rows_of(active_isa, type);
}

hearth_gemm_fn hearth_kernels_rows_isa(const char *isa, hearth_type type) {
    for (int i = 0; i < ISA_COUNT; i++)
        if (!strcmp(isa, isa_names[i])) return rows_of(i, type);
    return NULL;
}

hearth_gemm_fn hearth_kernels_gemm(hearth_type type) {
    pthread_once(&tables_once, tables_init);
    return gemm_of(active_isa, type);
}

hearth_gemm_fn hearth_kernels_gemm_isa(const char *isa, hearth_type type) {
    for (int i = 0; i < ISA_COUNT; i++)
        if (!strcmp(isa, isa_names[i])) return gemm_of(i, type);
    return NULL;
}

/* F16, F32 and BF16: runs of 2+ tokens in the reference's AVX2 prompt-GEMM order (its tinyBLAS), in
 * every table from AVX2 up (the AVX-512 tables promise the AVX2 bits). */
static hearth_gemm_fn multi_of(int isa, hearth_type type) {
#ifdef HEARTH_HAVE_AVX2_KERNELS
    if (isa != ISA_REF && type == HEARTH_TYPE_F16) return hearth_avx2_gemm_f16_tb;
    if (isa != ISA_REF && type == HEARTH_TYPE_F32) return hearth_avx2_gemm_f32_tb;
    if (isa != ISA_REF && type == HEARTH_TYPE_BF16) return hearth_avx2_gemm_bf16_tb;
#endif
    (void)isa;
    (void)type;
    return NULL;
}

hearth_gemm_fn hearth_kernels_multi(hearth_type type) {
    pthread_once(&tables_once, tables_init);
    return multi_of(active_isa, type);
}

hearth_gemm_fn hearth_kernels_multi_isa(const char *isa, hearth_type type) {
    for (int i = 0; i < ISA_COUNT; i++)
        if (!strcmp(isa, isa_names[i])) return multi_of(i, type);
    return NULL;
}

static hearth_gemm_fn gemm_x8_of(int isa, hearth_type type) {
#ifdef HEARTH_HAVE_AVX2_KERNELS
    /* every table from AVX2 up (the AVX-512 ones use AVX2's Q4_0 kernels) */
    if (isa != ISA_REF && type == HEARTH_TYPE_Q4_0) return hearth_avx2_gemm_q4_0_x8;
#endif
    (void)isa;
    (void)type;
    return NULL;
}

hearth_gemm_fn hearth_kernels_gemm_x8(hearth_type type) {
    pthread_once(&tables_once, tables_init);
    return gemm_x8_of(active_isa, type);
}

hearth_gemm_fn hearth_kernels_gemm_x8_isa(const char *isa, hearth_type type) {
    for (int i = 0; i < ISA_COUNT; i++)
        if (!strcmp(isa, isa_names[i])) return gemm_x8_of(i, type);
    return NULL;
}

/* Q4_K interleaved (block_q4_Kx8): AVX2 kernels in every table from AVX2 up, as for Q4_0. */
static hearth_gemm_fn x8_of(int isa, hearth_type type, bool tile4) {
#ifdef HEARTH_HAVE_AVX2_KERNELS
    if (isa != ISA_REF && type == HEARTH_TYPE_Q4_K) return tile4 ? hearth_avx2_gemm4_q4_K_x8 : hearth_avx2_rows_q4_K_x8;
#endif
    (void)isa;
    (void)type;
    (void)tile4;
    return NULL;
}

hearth_gemm_fn hearth_kernels_rows_x8(hearth_type type) {
    pthread_once(&tables_once, tables_init);
    return x8_of(active_isa, type, false);
}

hearth_gemm_fn hearth_kernels_tile4_x8(hearth_type type) {
    pthread_once(&tables_once, tables_init);
    return x8_of(active_isa, type, true);
}

hearth_gemm_fn hearth_kernels_rows_x8_isa(const char *isa, hearth_type type) {
    for (int i = 0; i < ISA_COUNT; i++)
        if (!strcmp(isa, isa_names[i])) return x8_of(i, type, false);
    return NULL;
}

hearth_gemm_fn hearth_kernels_tile4_x8_isa(const char *isa, hearth_type type) {
    for (int i = 0; i < ISA_COUNT; i++)
        if (!strcmp(isa, isa_names[i])) return x8_of(i, type, true);
    return NULL;
}

hearth_vec_dot4_fn hearth_kernels_vec_dot4(hearth_type type) {
    pthread_once(&tables_once, tables_init);
    return vec_dot4_of(active_isa, type);
}

hearth_vec_dot4_fn hearth_kernels_vec_dot4_isa(const char *isa, hearth_type type) {
    for (int i = 0; i < ISA_COUNT; i++)
        if (!strcmp(isa, isa_names[i])) return vec_dot4_of(i, type);
    return NULL;
}

static void batch_of(int isa, hearth_type type, int64_t n_tok, hearth_vec_dot_fn *dot, hearth_vec_dot4_fn *dot4) {
    isa = base_isa(isa);
#ifdef HEARTH_HAVE_AVX2_KERNELS
    if (isa == ISA_AVX2) {
        switch (type) {
        case HEARTH_TYPE_Q4_K: /* repacked: GEMM for groups of 4 rows, GEMV (= vec_dot) for the rest */
            if (n_tok >= 4) *dot4 = hearth_avx2_vec_dot4_q4_K_gemm;
            break;
        case HEARTH_TYPE_Q6_K: /* tiled matmul from 8 rows, vec_dot below */
            if (n_tok >= HEARTH_TILED_MIN_ROWS) {
                *dot  = hearth_avx2_vec_dot_q6_K_tiled;
                *dot4 = hearth_avx2_vec_dot4_q6_K_tiled;
            }
            break;
        case HEARTH_TYPE_Q5_K: /* the same tiled matmul (no multi-row kernel of that order) */
        case HEARTH_TYPE_Q3_K:
        case HEARTH_TYPE_Q2_K:
            if (n_tok >= HEARTH_TILED_MIN_ROWS) {
                *dot  = type == HEARTH_TYPE_Q5_K   ? hearth_avx2_vec_dot_q5_K_tiled
                        : type == HEARTH_TYPE_Q3_K ? hearth_avx2_vec_dot_q3_K_tiled
                                                   : hearth_avx2_vec_dot_q2_K_tiled;
                *dot4 = NULL;
            }
            break;
        default: break;
        }
    }
#endif
    (void)isa;
    (void)type;
    (void)n_tok;
    (void)dot;
    (void)dot4;
}

void hearth_kernels_batch(hearth_type type, int64_t n_tok, hearth_vec_dot_fn *dot, hearth_vec_dot4_fn *dot4) {
    pthread_once(&tables_once, tables_init);
    batch_of(active_isa, type, n_tok, dot, dot4);
}

void hearth_kernels_batch_isa(const char *isa, hearth_type type, int64_t n_tok, hearth_vec_dot_fn *dot,
                              hearth_vec_dot4_fn *dot4) {
    for (int i = 0; i < ISA_COUNT; i++)
        if (!strcmp(isa, isa_names[i])) batch_of(i, type, n_tok, dot, dot4);
}

static hearth_gemm_fn batch_tile_of(int isa, hearth_type type, int64_t n_tok) {
    isa = base_isa(isa);
#ifdef HEARTH_HAVE_AVX2_KERNELS
    if (isa == ISA_AVX2 && type == HEARTH_TYPE_Q4_K && n_tok >= 4) return hearth_avx2_gemm4_q4_K;
    if (isa == ISA_AVX2 && type == HEARTH_TYPE_Q6_K && n_tok >= HEARTH_TILED_MIN_ROWS) return hearth_avx2_gemm4_q6_K;
#endif
    (void)isa;
    (void)type;
    (void)n_tok;
    return NULL;
}

hearth_gemm_fn hearth_kernels_batch_tile(hearth_type type, int64_t n_tok) {
    pthread_once(&tables_once, tables_init);
    return batch_tile_of(active_isa, type, n_tok);
}

hearth_gemm_fn hearth_kernels_batch_tile_isa(const char *isa, hearth_type type, int64_t n_tok) {
    for (int i = 0; i < ISA_COUNT; i++)
        if (!strcmp(isa, isa_names[i])) return batch_tile_of(i, type, n_tok);
    return NULL;
}

const char *hearth_kernels_isa(void) {
    pthread_once(&tables_once, tables_init);
    return isa_names[active_isa];
}
