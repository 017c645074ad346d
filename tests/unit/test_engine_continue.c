/*
 * test_engine_continue.c — hearth_generate_continue: prefilling only the tail of a prompt
 * after a kept cache prefix gives the same next-token logits as prefilling the whole prompt,
 * n_keep is clamped, timings count only the prefilled tokens, and the cache afterwards holds
 * the prompt and all but the last generated token.
 *
 * Needs a real model: $HEARTH_TEST_MODEL, else SmolLM2 in $HEARTH_MODELS (default
 * ~/.cache/hearth/models, where scripts/fetch-model puts it).  Without it every test is skipped.
 */
#include "tap.h"

#include "hearth.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static hearth_model *g_model;
static hearth_ctx   *g_ctx;

static const char *PART1 = "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
                           "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n";
static const char *PART2 = "Paris.<|im_end|>\n<|im_start|>user\nAnd of Germany?<|im_end|>\n<|im_start|>assistant\n";

static int32_t tokenize(const char *text, int32_t *out, int32_t cap) {
    int64_t n = hearth_model_tokenize(g_model, text, strlen(text), 0, 1, out, cap);
    return n < 0 || n > cap ? -1 : (int32_t)n;
}

/* Relative max-abs difference between two logit rows. */
static double rel_diff(const float *a, const float *b, int32_t n) {
    double d = 0, m = 0;
    for (int32_t i = 0; i < n; i++) {
        d = fmax(d, fabs((double)a[i] - b[i]));
        m = fmax(m, fabs((double)b[i]));
    }
    return m > 0 ? d / m : d;
}

static int count_cb(void *user, int32_t token, const char *piece, size_t len) {
    (void)token;
    (void)piece;
    (void)len;
    (*(int *)user)++;
    return 0;
}

static void test_tail_prefill_matches_full(void) {
    int32_t a[256], b[256];
    int32_t na = tokenize(PART1, a, 256), nb = tokenize(PART2, b, 256);
    REQUIRE(na > 5 && nb > 5 && na + nb + 1 <= 256);
    int32_t full[256];
    memcpy(full, a, (size_t)na * sizeof *a);
    memcpy(full + na, b, (size_t)nb * sizeof *b);
    int32_t n = na + nb;
    full[n] = 42; /* one more token, decoded by hand, whose logits we compare */
    const int32_t nv = hearth_model_n_vocab(g_model);
    char err[256];
    hearth_sampler_params sp;
    hearth_sampler_params_default(&sp);
    sp.temp = 0;

    /* reference: the whole prompt and the extra token in one batch */
    hearth_ctx_clear(g_ctx);
    const float *lg = NULL;
    REQUIRE(hearth_decode(g_ctx, full, n + 1, &lg, err, sizeof err) == HEARTH_OK);
    float *ref = malloc((size_t)nv * sizeof *ref);
    REQUIRE(ref);
    memcpy(ref, lg, (size_t)nv * sizeof *ref);

    /* the first part, then a continuation that keeps it and prefills only the second */
    hearth_ctx_clear(g_ctx);
    int32_t n_out = -1;
    CHECK(hearth_generate_tokens(g_ctx, a, na, 0, &sp, NULL, NULL, NULL, &n_out, err, sizeof err) == HEARTH_OK);
    CHECK(hearth_ctx_n_past(g_ctx) == na);
    CHECK(hearth_generate_continue(g_ctx, full, n, na, 0, &sp, NULL, NULL, NULL, &n_out, err, sizeof err) ==
          HEARTH_OK);
    CHECK(n_out == 0);
    CHECK(hearth_ctx_n_past(g_ctx) == n);
    hearth_timings t;
    hearth_ctx_timings(g_ctx, &t);
    CHECKF(t.n_prompt == nb, "%d prefilled, want %d", t.n_prompt, nb);
    REQUIRE(hearth_decode(g_ctx, full + n, 1, &lg, err, sizeof err) == HEARTH_OK);
    double d = rel_diff(lg, ref, nv);
    CHECKF(d < 2e-2, "relative difference %g", d);

    /* a stale tail in the cache is dropped: keep only part 1, with part 2 already there */
    CHECK(hearth_generate_continue(g_ctx, full, n, na, 0, &sp, NULL, NULL, NULL, NULL, err, sizeof err) == HEARTH_OK);
    CHECK(hearth_ctx_n_past(g_ctx) == n);
    REQUIRE(hearth_decode(g_ctx, full + n, 1, &lg, err, sizeof err) == HEARTH_OK);
    d = rel_diff(lg, ref, nv);
    CHECKF(d < 2e-2, "relative difference %g after re-prefilling over a stale tail", d);
    free(ref);
}

static void test_clamps_and_generation(void) {
    int32_t p[256];
    int32_t n = tokenize(PART1, p, 256);
    REQUIRE(n > 5);
    char err[256];
    hearth_sampler_params sp;
    hearth_sampler_params_default(&sp);
    sp.temp = 0;
    hearth_timings t;

    /* an empty cache: n_keep is clamped to n_past = 0 */
    hearth_ctx_clear(g_ctx);
    CHECK(hearth_generate_continue(g_ctx, p, n, 1000, 0, &sp, NULL, NULL, NULL, NULL, err, sizeof err) == HEARTH_OK);
    hearth_ctx_timings(g_ctx, &t);
    CHECK(t.n_prompt == n);
    /* the same prompt again: everything is kept but the last token, decoded for its logits */
    CHECK(hearth_generate_continue(g_ctx, p, n, n, 0, &sp, NULL, NULL, NULL, NULL, err, sizeof err) == HEARTH_OK);
    hearth_ctx_timings(g_ctx, &t);
    CHECK(t.n_prompt == 1);
    CHECK(hearth_ctx_n_past(g_ctx) == n);

    /* generation: the cache holds the prompt and all generated tokens but the last */
    int32_t gen[8], n_gen = 0;
    int calls = 0;
    CHECK(hearth_generate_continue(g_ctx, p, n, n, 8, &sp, count_cb, &calls, gen, &n_gen, err, sizeof err) ==
          HEARTH_OK);
    CHECK(n_gen >= 1 && n_gen <= 8);
    CHECK(calls >= n_gen);
    CHECK(hearth_ctx_n_past(g_ctx) == n + n_gen - 1);
    hearth_ctx_timings(g_ctx, &t);
    CHECK(t.n_gen == n_gen);
    /* greedy is reproducible through the kept cache */
    int32_t gen2[8], n_gen2 = 0;
    CHECK(hearth_generate_continue(g_ctx, p, n, n, 8, &sp, NULL, NULL, gen2, &n_gen2, err, sizeof err) == HEARTH_OK);
    CHECK(n_gen2 == n_gen && !memcmp(gen, gen2, (size_t)n_gen * sizeof *gen));

    /* errors */
    CHECK(hearth_generate_continue(g_ctx, p, 0, 0, 8, &sp, NULL, NULL, NULL, NULL, err, sizeof err) == HEARTH_ERR_ARG);
    CHECK(hearth_generate_continue(g_ctx, p, n, 0, -1, &sp, NULL, NULL, NULL, NULL, err, sizeof err) ==
          HEARTH_ERR_ARG);
    CHECK(hearth_generate_continue(g_ctx, p, n, 0, hearth_ctx_n_ctx(g_ctx), &sp, NULL, NULL, NULL, NULL, err,
                                   sizeof err) == HEARTH_ERR_RANGE);
}

int main(void) {
    char path[4096];
    const char *env = getenv("HEARTH_TEST_MODEL");
    if (env && *env) {
        snprintf(path, sizeof path, "%s", env);
    } else {
        const char *dir = getenv("HEARTH_MODELS"), *home = getenv("HOME");
        if (dir && *dir) snprintf(path, sizeof path, "%s/SmolLM2-135M-Instruct.Q4_1.gguf", dir);
        else snprintf(path, sizeof path, "%s/.cache/hearth/models/SmolLM2-135M-Instruct.Q4_1.gguf", home ? home : ".");
    }
    char err[512];
    if (hearth_model_load(path, &g_model, err, sizeof err) != HEARTH_OK) {
        printf("# skip: no model (%s)\n", err);
        return tap_done();
    }
    hearth_ctx_params cp;
    hearth_ctx_params_default(&cp);
    cp.n_ctx = 512;
    cp.n_threads = 2;
    if (hearth_ctx_create(g_model, &cp, &g_ctx, err, sizeof err) != HEARTH_OK) {
        fprintf(stderr, "context: %s\n", err);
        hearth_model_free(g_model);
        return 1;
    }
    RUN(test_tail_prefill_matches_full);
    RUN(test_clamps_and_generation);
    hearth_ctx_free(g_ctx);
    hearth_model_free(g_model);
    return tap_done();
}
