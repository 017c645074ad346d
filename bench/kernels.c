/* bench/kernels.c — matmul throughput of the active kernel table (HEARTH_KERNELS=ref|avx2 to
 * pick one) on a ROWS x COLS weight matrix (default 8192 x 2048, the FFN-up shape of a 1B
 * model): GEMV (one token, decode) in GB/s of weights read, and GEMM (prefill, N_TOK tokens)
 * in tokens/s and GOP/s (2 * rows * cols * tokens per second).  Results are checked against the scalar reference before timing.
 *
 * Build and run (after `make`):
 *   cc -O2 -std=c11 -Iinclude -Isrc -D_GNU_SOURCE -pthread bench/kernels.c build/libhearth.a -lm \
 *      -o build/bench-kernels
 *   build/bench-kernels [threads] [types...]        e.g. build/bench-kernels 2 Q4_0 Q4_K Q8_0
 *   HEARTH_KERNELS=ref build/bench-kernels 1 Q4_0
 *   HEARTH_BENCH_CPUTIME=1 build/bench-kernels 1     (CPU time instead of wall time)
 */
#include "core/threadpool.h"
#include "kernels/kernels.h"
#include "tensor/type.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ROWS  8192
#define COLS  2048
#define N_TOK 64

/* Wall time, or with HEARTH_BENCH_CPUTIME=1 the process CPU time (all threads, spinning
 * included): steadier on a loaded machine when run with one thread. */
static double now(void) {
    static int      use_cpu = -1;
    struct timespec ts;
    if (use_cpu < 0) use_cpu = getenv("HEARTH_BENCH_CPUTIME") && atoi(getenv("HEARTH_BENCH_CPUTIME")) == 1;
    clock_gettime(use_cpu ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* median seconds of `reps` calls (after one warm-up) */
static double time_matmul(hearth_threadpool *pool, const hearth_mat *W, const float *X, float *Y, int64_t n_tok,
                          void *scratch, int reps) {
    double t[64];
    hearth_matmul(pool, W, X, Y, n_tok, scratch);
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        hearth_matmul(pool, W, X, Y, n_tok, scratch);
        t[r] = now() - t0;
    }
    qsort(t, (size_t)reps, sizeof t[0], cmp_d);
    return t[reps / 2];
}

static hearth_type type_by_name(const char *s) {
    for (uint32_t i = 0; i < HEARTH_TYPE_COUNT; i++)
        if (!strcmp(hearth_type_name(i), s)) return (hearth_type)i;
    return HEARTH_TYPE_COUNT;
}

int main(int argc, char **argv) {
    int                nth   = argc > 1 ? atoi(argv[1]) : hearth_physical_cores();
    static const char *def[] = { "Q4_0", "Q4_K", "Q8_0", "Q6_K", "F16" };
    const char *const *names = argc > 2 ? (const char *const *)argv + 2 : def;
    int                ntype = argc > 2 ? argc - 2 : (int)(sizeof def / sizeof def[0]);
    hearth_threadpool *pool  = hearth_threadpool_create(nth);
    if (!pool) return 1;
    float *X = malloc(sizeof(float) * COLS * N_TOK), *Y = malloc(sizeof(float) * ROWS * N_TOK);
    srand(1);
    for (int i = 0; i < COLS * N_TOK; i++) X[i] = (float)rand() / RAND_MAX * 2 - 1;
    printf("isa=%s threads=%d matrix=%dx%d\n", hearth_kernels_isa(), nth, ROWS, COLS);
    printf("%-5s %10s %10s %12s %12s\n", "type", "MiB", "gemv GB/s", "gemm tok/s", "gemm GOP/s");
    for (int ti = 0; ti < ntype; ti++) {
        hearth_type t = type_by_name(names[ti]);
        const hearth_type_kernels *k = t < HEARTH_TYPE_COUNT ? hearth_kernels_get(t) : NULL;
        if (!k || !k->vec_dot) {
            fprintf(stderr, "unsupported type %s\n", names[ti]);
            continue;
        }
        size_t   rb = hearth_type_row_size(t, COLS);
        uint8_t *w  = malloc(rb * ROWS);
        /* random bytes with bits 2 and 6 of every byte clear: no fp16/bf16 field can be
         * Inf/NaN (their exponent bits are never all set); speed does not depend on values */
        for (size_t i = 0; i < rb * ROWS; i++) w[i] = (uint8_t)(rand() & 0x3B); /* no Inf/NaN halves */
        hearth_mat W  = { .type = t, .rows = ROWS, .cols = COLS, .row_bytes = rb, .data = w };
        void      *sc = malloc(hearth_matmul_scratch_size(&W, N_TOK) + 1);

        /* verify a few rows against the scalar reference */
        const hearth_type_kernels *kr = hearth_kernels_ref(t), *ka = hearth_kernels_ref(kr->vec_dot_type);
        void                      *aq = malloc(hearth_type_row_size(kr->vec_dot_type, COLS) + 4 * COLS);
        hearth_matmul(pool, &W, X, Y, 1, sc);
        ka->from_float(X, aq, COLS);
        double max_rel = 0;
        for (int r = 0; r < ROWS; r += 997) {
            float s;
            kr->vec_dot(COLS, &s, w + (size_t)r * rb, aq);
            double rel = fabs(Y[r] - s) / (fabs(s) + 1e-3);
            if (rel > max_rel || isnan(Y[r])) max_rel = isnan(Y[r]) ? INFINITY : rel;
        }
        if (max_rel > 1e-2) {
            fprintf(stderr, "%s: results differ from the reference (max rel %g): not timing\n", names[ti], max_rel);
            return 1;
        }
        const double mib  = (double)(rb * ROWS) / (1 << 20);
        const double tv   = time_matmul(pool, &W, X, Y, 1, sc, 31);
        const double tm   = time_matmul(pool, &W, X, Y, N_TOK, sc, 5);
        printf("%-5s %10.2f %10.2f %12.1f %12.2f\n", names[ti], mib, (double)(rb * ROWS) / tv / 1e9, N_TOK / tm,
               2.0 * ROWS * COLS * N_TOK / tm / 1e9);
        free(w);
        free(sc);
        free(aq);
    }
    hearth_threadpool_free(pool);
    free(X);
    free(Y);
    return 0;
}
