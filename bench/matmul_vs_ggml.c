/* matmul_vs_ggml.c — one weight shape through hearth_matmul and through the reference's own
 * matrix multiply (ggml's mul_mat, the library llama.cpp runs on) in one process, on the same
 * weights and activations, alternately: best-of-R milliseconds of L such matmuls (distinct
 * weights, so that L x the matrix is read from memory as in a model), GFLOP/s, the ratio, and
 * the largest difference between the two outputs (0: the same bits).  Separates a kernel's
 * speed from everything else a model run does.  Built and run by bench/matmul-vs-ggml.sh.
 * usage: matmul_vs_ggml TYPE ROWS COLS TOKENS LAYERS THREADS [REPS]   (TYPE: F16, Q8_0, ...) */
#include "ggml-cpu.h"
#include "ggml.h"

#include "core/threadpool.h"
#include "kernels/kernels.h"
#include "tensor/type.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc < 7) {
        fprintf(stderr, "usage: %s TYPE ROWS COLS TOKENS LAYERS THREADS [REPS]\n", argv[0]);
        return 2;
    }
    const int rows = atoi(argv[2]), cols = atoi(argv[3]), n = atoi(argv[4]), L = atoi(argv[5]), nth = atoi(argv[6]);
    const int reps = argc > 7 ? atoi(argv[7]) : 5;
    hearth_type ht = HEARTH_TYPE_COUNT;
    for (uint32_t i = 0; i < HEARTH_TYPE_COUNT; i++)
        if (!strcasecmp(hearth_type_name(i), argv[1])) ht = i;
    enum ggml_type gt = GGML_TYPE_COUNT;
    for (int i = 0; i < GGML_TYPE_COUNT; i++)
        if (ggml_type_name(i) && !strcasecmp(ggml_type_name(i), argv[1])) gt = i;
    if (ht == HEARTH_TYPE_COUNT || gt == GGML_TYPE_COUNT || rows < 1 || cols < 1 || n < 1 || L < 1 || nth < 1) {
        fprintf(stderr, "matmul_vs_ggml: bad arguments\n");
        return 2;
    }
    const size_t rb = hearth_type_row_size(ht, cols);
    struct ggml_init_params ip = { .mem_size = (size_t)L * rb * (size_t)rows + (size_t)cols * (size_t)n * 4 +
                                               (size_t)L * (size_t)rows * (size_t)n * 4 + ((size_t)64 << 20) };
    struct ggml_context *ctx = ggml_init(ip);
    struct ggml_tensor  *x   = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, cols, n);
    float               *X   = x->data;
    srand(1);
    for (int64_t i = 0; i < (int64_t)cols * n; i++) X[i] = (float)rand() / (float)RAND_MAX * 2.0f - 1.0f;
    struct ggml_cgraph *gf = ggml_new_graph(ctx);
    hearth_mat         *W  = calloc((size_t)L, sizeof *W);
    float             **Y  = calloc((size_t)L, sizeof *Y);
    for (int l = 0; l < L; l++) {
        struct ggml_tensor *w = ggml_new_tensor_2d(ctx, gt, cols, rows);
        uint8_t            *d = w->data;
        /* bytes with bits 2, 6 and 7 clear: finite F16 scales and values of moderate size */
        for (size_t i = 0; i < rb * (size_t)rows; i++) d[i] = (uint8_t)(rand() & 0x3B);
        W[l] = (hearth_mat){ .type = ht, .rows = rows, .cols = cols, .row_bytes = rb, .data = d };
        if (hearth_repack_x8_ok(&W[l])) { /* as hearth's loader does */
            void *c = aligned_alloc(64, (rb * (size_t)rows + 63) & ~(size_t)63);
            hearth_repack_x8(ht, d, c, rows, cols);
            W[l].data = c;
            W[l].x8   = true;
        }
        ggml_build_forward_expand(gf, ggml_mul_mat(ctx, w, x));
        Y[l] = malloc(sizeof(float) * (size_t)rows * (size_t)n);
    }
    struct ggml_threadpool_params tp    = ggml_threadpool_params_default(nth);
    struct ggml_threadpool       *gpool = ggml_threadpool_new(&tp);
    struct ggml_cplan             cp    = ggml_graph_plan(gf, nth, gpool);
    cp.work_data                        = malloc(cp.work_size + 64);
    hearth_threadpool *pool             = hearth_threadpool_create(nth);
    void              *scratch          = malloc(hearth_matmul_scratch_size(&W[0], n) + 64);
    double             bg = 1e30, bh = 1e30;
    for (int r = 0; r < reps; r++) { /* each engine's idle threads paused or asleep while the other runs */
        ggml_threadpool_resume(gpool);
        double t0 = now_s();
        ggml_graph_compute(gf, &cp);
        double t1 = now_s();
        ggml_threadpool_pause(gpool);
        if (t1 - t0 < bg) bg = t1 - t0;
        usleep(100000);
        t0 = now_s();
        for (int l = 0; l < L; l++) hearth_matmul(pool, &W[l], X, Y[l], n, scratch);
        t1 = now_s();
        if (t1 - t0 < bh) bh = t1 - t0;
        usleep(100000);
    }
    double diff = 0.0, mag = 0.0;
    for (int l = 0; l < L; l++) {
        const float *yg = ggml_graph_node(gf, l)->data;
        for (int64_t i = 0; i < (int64_t)rows * n; i++) {
            const double d = yg[i] - Y[l][i];
            diff           = d < 0 ? (-d > diff ? -d : diff) : (d > diff ? d : diff);
            mag            = yg[i] < 0 ? (-yg[i] > mag ? -yg[i] : mag) : (yg[i] > mag ? yg[i] : mag);
        }
    }
    const double flop = 2.0 * rows * cols * (double)n * L;
    printf("| %s | %d x %d | %d | %d | %.2f | %.2f | %.1f | %.1f | %.3f | %.2g |\n", argv[1], rows, cols, n, nth, bh * 1e3,
           bg * 1e3, flop / bh * 1e-9, flop / bg * 1e-9, bg / bh, mag > 0 ? diff / mag : diff);
    hearth_threadpool_free(pool);
    ggml_threadpool_free(gpool);
    ggml_free(ctx);
    return 0;
}
