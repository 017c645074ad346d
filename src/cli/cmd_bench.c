/* cmd_bench.c — `hearth bench -m MODEL [-p 512] [-n 128] [-d 0] [-t THREADS] [-r REPS] [--json]`:
 * prompt processing (pp: n_prompt tokens in batches) and generation (tg: n_gen tokens one at a
 * time) in tokens/s, from an empty cache or, with -d, after n_depth tokens already in it (a
 * long conversation or document: filled before every run, untimed), mean and standard
 * deviation over repetitions after a warm-up run (the whole prompt for pp, one token for tg;
 * none with --no-warmup), as llama-bench measures them.  --json prints llama-bench's keys. */
#include "cli/cli.h"

#include "core/core.h"
#include "core/threadpool.h"
#include "hearth.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void bench_usage(FILE *f) {
    fprintf(f, "usage: hearth bench -m MODEL [-p 512] [-n 128] [-d 0] [-t THREADS] [-r 5] [-b 256] [--no-warmup] [--json]\n"
               "  -d, --n-depth N   tokens in the cache before each test (filled untimed), as llama-bench -d\n");
}

/* One timed run: n_prompt prefill tokens (if > 0) or n_gen single-token decodes, after n_depth
 * tokens prefilled untimed. */
static double bench_once(hearth_ctx *ctx, const int32_t *toks, int64_t n_depth, int64_t n_prompt, int64_t n_gen,
                         char *err, size_t err_size) {
    hearth_ctx_clear(ctx);
    const int64_t nb = hearth_ctx_n_batch(ctx);
    for (int64_t i = 0; i < n_depth; i += nb) {
        int32_t n = (int32_t)(n_depth - i < nb ? n_depth - i : nb);
        if (hearth_decode(ctx, toks + i, n, NULL, err, err_size) != HEARTH_OK) return -1.0;
    }
    toks += n_depth;
    double t0 = hearth_time_s();
    for (int64_t i = 0; i < n_prompt; i += nb) {
        int32_t n = (int32_t)(n_prompt - i < nb ? n_prompt - i : nb);
        if (hearth_decode(ctx, toks + i, n, NULL, err, err_size) != HEARTH_OK) return -1.0;
    }
    for (int64_t i = 0; i < n_gen; i++)
        if (hearth_decode(ctx, toks + i, 1, NULL, err, err_size) != HEARTH_OK) return -1.0;
    return hearth_time_s() - t0;
}

int cmd_bench(int argc, char **argv) {
    const char *model_path = NULL;
    long n_prompt = 512, n_gen = 128, n_depth = 0, n_threads = 0, reps = 5, n_batch = 0;
    int json = 0, warmup = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        long *target = NULL;
        long lo = 0;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            bench_usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--json") || !strcmp(a, "-o") ) {
            if (!strcmp(a, "-o")) { if (!val || strcmp(val, "json")) goto bad; i++; }
            json = 1;
            continue;
        }
        if (!strcmp(a, "--no-warmup")) {
            warmup = 0;
            continue;
        }
        if ((!strcmp(a, "-m") || !strcmp(a, "--model")) && val) { model_path = val; i++; continue; }
        if (!strcmp(a, "-p") || !strcmp(a, "--n-prompt")) target = &n_prompt;
        else if (!strcmp(a, "-n") || !strcmp(a, "--n-gen")) target = &n_gen;
        else if (!strcmp(a, "-d") || !strcmp(a, "--n-depth")) target = &n_depth;
        else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) { target = &n_threads; lo = 1; }
        else if (!strcmp(a, "-r") || !strcmp(a, "--repetitions")) { target = &reps; lo = 1; }
        else if (!strcmp(a, "-b") || !strcmp(a, "--batch-size")) { target = &n_batch; lo = 1; }
        if (!target || !val || !cli_parse_long(val, lo, 1 << 20, target)) goto bad;
        i++;
    }
    if (!model_path) goto bad;

    char err[512];
    int rc = 1;
    hearth_model *model = NULL;
    hearth_ctx *ctx = NULL;
    int32_t *toks = NULL;
    char resolved[4096];
    if (!cli_model_path("bench", model_path, resolved, sizeof resolved)) goto out;
    model_path = resolved;
    if (hearth_model_load(model_path, &model, err, sizeof err) != HEARTH_OK) {
        fprintf(stderr, "hearth bench: %s\n", err);
        goto out;
    }
    hearth_ctx_params cp;
    hearth_ctx_params_default(&cp);
    long need = n_depth + (n_prompt > n_gen ? n_prompt : n_gen);
    if (need > hearth_model_n_ctx_train(model)) {
        fprintf(stderr, "hearth bench: depth + max(prompt, generation) = %ld tokens is more than the model's "
                        "training context (%d)\n", need, hearth_model_n_ctx_train(model));
        goto out;
    }
    cp.n_ctx = (int32_t)(need > 16 ? need : 16);
    cp.n_threads = (int32_t)n_threads;
    cp.n_batch = (int32_t)n_batch;
    if (hearth_ctx_create(model, &cp, &ctx, err, sizeof err) != HEARTH_OK) {
        fprintf(stderr, "hearth bench: %s\n", err);
        goto out;
    }
    toks = malloc((size_t)cp.n_ctx * sizeof *toks);
    if (!toks) goto out;
    /* deterministic pseudo-random tokens (the timing does not depend on them) */
    uint32_t x = 12345, nv = (uint32_t)hearth_model_n_vocab(model);
    for (int32_t i = 0; i < cp.n_ctx; i++) {
        x = x * 1664525u + 1013904223u;
        toks[i] = (int32_t)((x >> 8) % nv);
    }
    int threads = n_threads ? (int)n_threads : hearth_physical_cores();
    const char *base = strrchr(model_path, '/');
    base = base ? base + 1 : model_path;
    if (json) printf("[\n");
    else printf("| %-40s | %7s | %16s | %20s |\n", "model", "threads", "test", "t/s");
    int printed = 0;
    for (int test = 0; test < 2; test++) {
        long np = test == 0 ? n_prompt : 0, ng = test == 1 ? n_gen : 0;
        if (np == 0 && ng == 0) continue;
        if (warmup && bench_once(ctx, toks, n_depth, np, ng ? 1 : 0, err, sizeof err) < 0) { /* warm-up */
            fprintf(stderr, "hearth bench: %s\n", err);
            goto out;
        }
        double *ts = hearth_malloc_array((size_t)reps, sizeof *ts);
        if (!ts) goto out;
        double sum = 0.0, sum_ns = 0.0;
        for (long r = 0; r < reps; r++) {
            double s = bench_once(ctx, toks, n_depth, np, ng, err, sizeof err);
            if (s <= 0) {
                fprintf(stderr, "hearth bench: %s\n", s < 0 ? err : "timer failure");
                free(ts);
                goto out;
            }
            ts[r] = (double)(np + ng) / s;
            sum += ts[r];
            sum_ns += s * 1e9;
        }
        double avg = sum / (double)reps, var = 0.0;
        for (long r = 0; r < reps; r++) var += (ts[r] - avg) * (ts[r] - avg);
        double sd = reps > 1 ? sqrt(var / (double)(reps - 1)) : 0.0;
        if (json) {
            printf("%s  {\"model_filename\": \"%s\", \"model_type\": \"%s\", \"model_size\": %llu, "
                   "\"n_threads\": %d, \"n_batch\": %d, \"n_prompt\": %ld, \"n_gen\": %ld, \"n_depth\": %ld, "
                   "\"avg_ns\": %.0f, \"avg_ts\": %.6f, \"stddev_ts\": %.6f, \"samples_ts\": [",
                   printed ? ",\n" : "", base, hearth_model_arch(model),
                   (unsigned long long)hearth_model_file_size(model), threads, hearth_ctx_n_batch(ctx), np, ng, n_depth,
                   sum_ns / (double)reps, avg, sd);
            for (long r = 0; r < reps; r++) printf("%s%.6f", r ? ", " : "", ts[r]);
            printf("]}");
        } else {
            char name[48];
            int  k = snprintf(name, sizeof name, np ? "pp%ld" : "tg%ld", np ? np : ng);
            if (n_depth) snprintf(name + k, sizeof name - (size_t)k, " @ d%ld", n_depth);
            printf("| %-40.40s | %7d | %16s | %12.2f ± %5.2f |\n", base, threads, name, avg, sd);
        }
        fflush(stdout);
        printed++;
        free(ts);
    }
    if (json) printf("\n]\n");
    rc = 0;
out:
    free(toks);
    hearth_ctx_free(ctx);
    hearth_model_free(model);
    return rc;
bad:
    bench_usage(stderr);
    return 2;
}
