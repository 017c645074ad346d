/*
 * test_engine_batch.c — hearth_decode_batch (several KV-cache sequences in one forward pass)
 * against single-sequence hearth_decode: every sequence must get bit-for-bit the logits it
 * gets alone, whether its prompt is prefilled alone or beside other prompts, whether its
 * decode step shares the pass with other sequences' decode steps or with prompt chunks, at
 * different positions per sequence.  Also: per-sequence truncate/clear (the server's prompt
 * cache), hearth_decode on a multi-sequence context, and errors that leave every sequence as
 * it was.
 *
 * Needs a real model: $HEARTH_TEST_MODEL, else SmolLM2 (and Gemma 3 when present, for the
 * K-quant and multi-row kernels) in $HEARTH_MODELS (default ~/.cache/hearth/models).  Without
 * one every test is skipped.
 */
#include "tap.h"

#include "hearth.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_SEQ   4
#define N_STEPS 6
#define MAX_TOK 96

static hearth_model *g_model;
static int32_t       g_nv;

static const char *PROMPTS[N_SEQ] = {
    "The capital of France is",
    "Once upon a time, in a small village by the sea, there lived an old fisherman who",
    "1, 2, 3, 4,",
    "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n",
};

/* What one sequence does alone: its prompt, the greedy tokens after it, and the logits of the
 * prompt's last token and of each decoded token (N_STEPS + 1 rows). */
typedef struct seq_ref {
    int32_t toks[MAX_TOK + N_STEPS + 1];
    int32_t n_prompt;
    float  *logits;  /* (N_STEPS + 1, n_vocab) */
    float  *chunked; /* the same with the prompt prefilled in chunks of CHUNK tokens */
} seq_ref;

/* Prompt chunk of the staggered test.  A sequence's bits depend on how its own tokens are cut
 * into passes (the reference engine's float order for Q4_K / Q6_K weights depends on the
 * number of tokens per matmul), never on the other sequences that share a pass. */
#define CHUNK 16

static seq_ref g_ref[N_SEQ];

static int32_t argmax(const float *x, int32_t n) {
    int32_t b = 0;
    for (int32_t i = 1; i < n; i++)
        if (x[i] > x[b]) b = i;
    return b;
}

static double max_abs_diff(const float *a, const float *b, int32_t n) {
    double d = 0;
    for (int32_t i = 0; i < n; i++) d = fmax(d, fabs((double)a[i] - b[i]));
    return d;
}

/* Equal bit for bit; on a mismatch, says how far off. */
static int same_logits(const float *got, const float *want, const char *what, int seq, int step) {
    if (!memcmp(got, want, (size_t)g_nv * sizeof *got)) return 1;
    printf("# %s: seq %d step %d differs, max |diff| %.3g\n", what, seq, step, max_abs_diff(got, want, g_nv));
    return 0;
}

static hearth_ctx *make_ctx(int32_t n_seq, int32_t n_batch) {
    hearth_ctx_params cp;
    hearth_ctx_params_default(&cp);
    cp.n_ctx = 256;
    cp.n_batch = n_batch;
    cp.n_threads = 2;
    cp.n_seq = n_seq;
    hearth_ctx *c = NULL;
    char err[256];
    if (hearth_ctx_create(g_model, &cp, &c, err, sizeof err) != HEARTH_OK) printf("# context: %s\n", err);
    return c;
}

/* The references: each prompt alone on a single-sequence context, prefilled in one call, then
 * N_STEPS greedy tokens one at a time. */
static void build_refs(void) {
    hearth_ctx *c = make_ctx(1, 128);
    REQUIRE(c);
    char err[256];
    for (int s = 0; s < N_SEQ; s++) {
        seq_ref *r = &g_ref[s];
        int64_t n = hearth_model_tokenize(g_model, PROMPTS[s], strlen(PROMPTS[s]), 1, 1, r->toks, MAX_TOK);
        REQUIRE(n > 2 && n <= MAX_TOK);
        r->n_prompt = (int32_t)n;
        r->logits = malloc((size_t)(N_STEPS + 1) * (size_t)g_nv * sizeof(float));
        REQUIRE(r->logits);
        hearth_ctx_clear(c);
        const float *lg = NULL;
        REQUIRE(hearth_decode(c, r->toks, r->n_prompt, &lg, err, sizeof err) == HEARTH_OK);
        for (int k = 0; k <= N_STEPS; k++) {
            memcpy(r->logits + (size_t)k * g_nv, lg, (size_t)g_nv * sizeof(float));
            int32_t id = argmax(lg, g_nv);
            r->toks[r->n_prompt + k] = id;
            if (k < N_STEPS) REQUIRE(hearth_decode(c, &id, 1, &lg, err, sizeof err) == HEARTH_OK);
        }
        /* the same tokens, the prompt in chunks of CHUNK */
        r->chunked = malloc((size_t)(N_STEPS + 1) * (size_t)g_nv * sizeof(float));
        REQUIRE(r->chunked);
        hearth_ctx_clear(c);
        for (int32_t i = 0; i < r->n_prompt; i += CHUNK) {
            const int32_t m = r->n_prompt - i < CHUNK ? r->n_prompt - i : CHUNK;
            REQUIRE(hearth_decode(c, r->toks + i, m, &lg, err, sizeof err) == HEARTH_OK);
        }
        for (int k = 0; k <= N_STEPS; k++) {
            memcpy(r->chunked + (size_t)k * g_nv, lg, (size_t)g_nv * sizeof(float));
            if (k < N_STEPS) REQUIRE(hearth_decode(c, &r->toks[r->n_prompt + k], 1, &lg, err, sizeof err) == HEARTH_OK);
        }
    }
    hearth_ctx_free(c);
}

/* All prompts prefilled in ONE pass, then every decode step of all sequences in one pass. */
static void test_prefill_together_then_decode_together(void) {
    hearth_ctx *c = make_ctx(N_SEQ, 256);
    REQUIRE(c);
    hearth_batch_token b[256];
    int32_t n = 0;
    for (int s = 0; s < N_SEQ; s++)
        for (int32_t i = 0; i < g_ref[s].n_prompt; i++)
            b[n++] = (hearth_batch_token){ g_ref[s].toks[i], s, i, i == g_ref[s].n_prompt - 1 };
    char err[256];
    const float *lg = NULL;
    int32_t n_lg = 0;
    REQUIRE(hearth_decode_batch(c, b, n, &lg, &n_lg, err, sizeof err) == HEARTH_OK);
    CHECK(n_lg == N_SEQ);
    int ok = 1;
    for (int s = 0; s < N_SEQ; s++) {
        CHECK(hearth_seq_n_past(c, s) == g_ref[s].n_prompt);
        ok &= same_logits(lg + (size_t)s * g_nv, g_ref[s].logits, "prefill together", s, 0);
    }
    for (int k = 1; k <= N_STEPS; k++) {
        for (int s = 0; s < N_SEQ; s++) {
            const seq_ref *r = &g_ref[s];
            /* reverse order: rows come back in batch order, not sequence order */
            b[N_SEQ - 1 - s] = (hearth_batch_token){ r->toks[r->n_prompt + k - 1], s, r->n_prompt + k - 1, 1 };
        }
        REQUIRE(hearth_decode_batch(c, b, N_SEQ, &lg, &n_lg, err, sizeof err) == HEARTH_OK);
        for (int s = 0; s < N_SEQ; s++)
            ok &= same_logits(lg + (size_t)(N_SEQ - 1 - s) * g_nv, g_ref[s].logits + (size_t)k * g_nv,
                              "decode together", s, k);
    }
    CHECK(ok);
    hearth_ctx_free(c);
}

/* Staggered as the server runs them: sequence s starts at step s; a step carries the decode
 * tokens of the sequences already running plus a prompt chunk (at most CHUNK tokens) of the
 * ones still prefilling, so every pass mixes prefill and decode at different positions.  Each
 * sequence gets the logits it gets alone with its prompt in the same chunks. */
static void test_staggered_chunks(void) {
    hearth_ctx *c = make_ctx(N_SEQ, 128);
    REQUIRE(c);
    int32_t done[N_SEQ] = { 0 }, gen[N_SEQ] = { 0 };
    char err[256];
    int ok = 1, steps = 0;
    for (;; steps++) {
        hearth_batch_token b[128];
        int32_t n = 0, who[N_SEQ], n_who = 0;
        for (int s = 0; s < N_SEQ && s <= steps; s++) {
            const seq_ref *r = &g_ref[s];
            if (done[s] < r->n_prompt) {
                int32_t m = r->n_prompt - done[s] < CHUNK ? r->n_prompt - done[s] : CHUNK;
                for (int32_t i = 0; i < m; i++)
                    b[n++] = (hearth_batch_token){ r->toks[done[s] + i], s, done[s] + i,
                                                   done[s] + i == r->n_prompt - 1 };
                done[s] += m;
                if (done[s] == r->n_prompt) who[n_who++] = s;
            } else if (gen[s] < N_STEPS) {
                gen[s]++;
                int32_t p = r->n_prompt + gen[s] - 1;
                b[n++] = (hearth_batch_token){ r->toks[p], s, p, 1 };
                who[n_who++] = s;
            }
        }
        if (n == 0) break;
        const float *lg = NULL;
        int32_t n_lg = 0;
        REQUIRE(hearth_decode_batch(c, b, n, &lg, &n_lg, err, sizeof err) == HEARTH_OK);
        REQUIRE(n_lg == n_who);
        for (int i = 0; i < n_who; i++) {
            int s = who[i];
            ok &= same_logits(lg + (size_t)i * g_nv, g_ref[s].chunked + (size_t)gen[s] * g_nv, "staggered", s,
                              gen[s]);
        }
    }
    CHECK(ok);
    CHECK(steps > N_STEPS);
    for (int s = 0; s < N_SEQ; s++) CHECK(hearth_seq_n_past(c, s) == g_ref[s].n_prompt + N_STEPS);
    hearth_ctx_free(c);
}

/* The prompt cache: truncating one sequence and decoding again from there gives the same
 * logits, and does not disturb the other sequences; clear empties one sequence. */
static void test_truncate_and_clear(void) {
    hearth_ctx *c = make_ctx(2, 128);
    REQUIRE(c);
    char err[256];
    const float *lg = NULL;
    int32_t n_lg = 0;
    hearth_batch_token b[128];
    for (int s = 0; s < 2; s++) {
        const seq_ref *r = &g_ref[s];
        for (int32_t i = 0; i < r->n_prompt; i++) b[i] = (hearth_batch_token){ r->toks[i], s, i, 0 };
        REQUIRE(hearth_decode_batch(c, b, r->n_prompt, &lg, &n_lg, err, sizeof err) == HEARTH_OK);
        CHECK(n_lg == 0);
    }
    const seq_ref *r = &g_ref[1];
    int32_t keep = r->n_prompt / 2;
    CHECK(hearth_seq_truncate(c, 1, keep) == keep);
    CHECK(hearth_seq_truncate(c, 1, keep + 5) == keep); /* never grows */
    CHECK(hearth_seq_n_past(c, 0) == g_ref[0].n_prompt);
    int32_t n = 0;
    for (int32_t i = keep; i < r->n_prompt; i++) b[n++] = (hearth_batch_token){ r->toks[i], 1, i, i == r->n_prompt - 1 };
    b[n++] = (hearth_batch_token){ g_ref[0].toks[g_ref[0].n_prompt], 0, g_ref[0].n_prompt, 1 };
    /* alone: the whole prompt, truncated to `keep`, the rest in one call */
    float *again = malloc((size_t)g_nv * sizeof *again);
    REQUIRE(again);
    {
        hearth_ctx *one = make_ctx(1, 128);
        REQUIRE(one);
        REQUIRE(hearth_decode(one, r->toks, r->n_prompt, &lg, err, sizeof err) == HEARTH_OK);
        CHECK(hearth_seq_truncate(one, 0, keep) == keep);
        REQUIRE(hearth_decode(one, r->toks + keep, r->n_prompt - keep, &lg, err, sizeof err) == HEARTH_OK);
        memcpy(again, lg, (size_t)g_nv * sizeof *again);
        hearth_ctx_free(one);
    }
    REQUIRE(hearth_decode_batch(c, b, n, &lg, &n_lg, err, sizeof err) == HEARTH_OK);
    REQUIRE(n_lg == 2);
    CHECK(same_logits(lg, again, "after truncate", 1, 0));
    free(again);
    CHECK(same_logits(lg + g_nv, g_ref[0].logits + g_nv, "beside a truncated sequence", 0, 1));
    /* a position below the cached count rewrites from there, as truncate: the last prompt
     * token decoded alone, compared with a single-sequence context that prefilled the rest and
     * then decoded that token alone (a lone token and a token inside a batch take the
     * reference's two attention paths, which round differently) */
    float *want = malloc((size_t)g_nv * sizeof *want);
    REQUIRE(want);
    hearth_ctx *one = make_ctx(1, 128);
    REQUIRE(one);
    REQUIRE(hearth_decode(one, r->toks, r->n_prompt - 1, NULL, err, sizeof err) == HEARTH_OK);
    REQUIRE(hearth_decode(one, r->toks + r->n_prompt - 1, 1, &lg, err, sizeof err) == HEARTH_OK);
    memcpy(want, lg, (size_t)g_nv * sizeof *want);
    hearth_ctx_free(one);
    b[0] = (hearth_batch_token){ r->toks[r->n_prompt - 1], 1, r->n_prompt - 1, 1 };
    REQUIRE(hearth_decode_batch(c, b, 1, &lg, &n_lg, err, sizeof err) == HEARTH_OK);
    CHECK(hearth_seq_n_past(c, 1) == r->n_prompt);
    CHECK(same_logits(lg, want, "rewrite", 1, 0));
    free(want);
    hearth_seq_clear(c, 1);
    CHECK(hearth_seq_n_past(c, 1) == 0);
    CHECK(hearth_seq_n_past(c, 0) == g_ref[0].n_prompt + 1);
    CHECK(hearth_seq_n_past(c, 2) == -1 && hearth_seq_truncate(c, -1, 0) == -1);
    hearth_seq_clear(c, 7); /* out of range: nothing */
    hearth_ctx_free(c);
}

/* The single-sequence API on a multi-sequence context works on sequence 0 as before. */
static void test_single_api_on_multi_ctx(void) {
    hearth_ctx *c = make_ctx(3, 128);
    REQUIRE(c);
    CHECK(hearth_ctx_n_seq(c) == 3);
    char err[256];
    const seq_ref *r = &g_ref[2];
    const float *lg = NULL;
    REQUIRE(hearth_decode(c, r->toks, r->n_prompt, &lg, err, sizeof err) == HEARTH_OK);
    CHECK(same_logits(lg, r->logits, "hearth_decode on seq 0", 0, 0));
    CHECK(hearth_ctx_n_past(c) == r->n_prompt);
    CHECK(hearth_seq_n_past(c, 0) == r->n_prompt && hearth_seq_n_past(c, 1) == 0);
    hearth_ctx_free(c);
}

/* Bad batches are refused and leave every sequence as it was. */
static void test_errors(void) {
    hearth_ctx *c = make_ctx(2, 8);
    REQUIRE(c);
    char err[256];
    const float *lg = NULL;
    hearth_batch_token b[9] = { { 1, 0, 0, 1 }, { 2, 1, 0, 1 } };
    REQUIRE(hearth_decode_batch(c, b, 2, &lg, NULL, err, sizeof err) == HEARTH_OK);
    hearth_batch_token bad[][2] = {
        { { 3, 0, 1, 1 }, { 4, 2, 0, 1 } },         /* sequence out of range */
        { { 3, 0, 1, 1 }, { 4, 1, 2, 1 } },         /* a gap in sequence 1 */
        { { 3, 0, 1, 1 }, { -1, 1, 1, 1 } },        /* bad token */
        { { 3, 0, 1, 1 }, { g_nv, 1, 1, 1 } },      /* bad token */
        { { 3, -1, 1, 1 }, { 4, 1, 1, 1 } },        /* negative sequence */
        { { 3, 0, -1, 1 }, { 4, 1, 1, 1 } },        /* negative position */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECKF(hearth_decode_batch(c, bad[i], 2, &lg, NULL, err, sizeof err) != HEARTH_OK, "bad batch %zu", i);
        CHECK(hearth_seq_n_past(c, 0) == 1 && hearth_seq_n_past(c, 1) == 1);
    }
    /* more tokens than n_batch; more logits rows than sequences */
    for (int i = 0; i < 9; i++) b[i] = (hearth_batch_token){ 5, 0, 1 + i, 1 };
    CHECK(hearth_decode_batch(c, b, 9, &lg, NULL, err, sizeof err) != HEARTH_OK);
    CHECK(hearth_decode_batch(c, b, 3, &lg, NULL, err, sizeof err) != HEARTH_OK);
    CHECK(hearth_decode_batch(c, b, 0, &lg, NULL, err, sizeof err) != HEARTH_OK);
    CHECK(hearth_decode_batch(c, NULL, 1, &lg, NULL, err, sizeof err) != HEARTH_OK);
    CHECK(hearth_seq_n_past(c, 0) == 1 && hearth_seq_n_past(c, 1) == 1);
    /* a negative sequence count */
    hearth_ctx_params cp;
    hearth_ctx_params_default(&cp);
    cp.n_seq = -1;
    hearth_ctx *c2 = NULL;
    CHECK(hearth_ctx_create(g_model, &cp, &c2, err, sizeof err) != HEARTH_OK && !c2);
    hearth_ctx_free(c);
}

/* A prompt longer than a tile's score span (ATT_TILE_SPAN, 4096 cells: past it the tiles take
 * fewer tokens, down to the K/V copy's limit): prefilled in passes of LONG_BATCH tokens with
 * the prompt attention tiles and with every token through the per-token attention
 * (HEARTH_ATT_TILES=0), the last token's logits of every pass equal bit for bit. */
#define LONG_PROMPT 4400
#define LONG_BATCH  512
static void test_long_prompt_tiles(void) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    /* 2 x 4400 tokens per model take most of the 600 s a unit test gets under the sanitizers
     * (the per-token half is slow there); the plain build runs it */
    printf("# skip: long prompt under a sanitizer\n");
    return;
#endif
    hearth_ctx *c[2] = { NULL, NULL };
    char        err[256];
    for (int k = 0; k < 2; k++) {
        hearth_ctx_params cp;
        hearth_ctx_params_default(&cp);
        cp.n_ctx     = LONG_PROMPT + 16;
        cp.n_batch   = LONG_BATCH;
        cp.n_threads = 2;
        if (k == 1) setenv("HEARTH_ATT_TILES", "0", 1);
        hearth_status st = hearth_ctx_create(g_model, &cp, &c[k], err, sizeof err);
        unsetenv("HEARTH_ATT_TILES");
        if (st != HEARTH_OK) printf("# context: %s\n", err);
        REQUIRE(st == HEARTH_OK);
    }
    int32_t *toks = malloc(LONG_PROMPT * sizeof *toks);
    float   *want = malloc((size_t)g_nv * sizeof *want);
    REQUIRE(toks && want);
    uint32_t x = 12345;
    for (int i = 0; i < LONG_PROMPT; i++) {
        x = x * 1664525u + 1013904223u;
        toks[i] = 100 + (int32_t)((x >> 8) % (uint32_t)(g_nv - 200));
    }
    int ok = 1, passes = 0;
    for (int32_t i = 0; i < LONG_PROMPT && ok; i += LONG_BATCH, passes++) {
        const int32_t m = LONG_PROMPT - i < LONG_BATCH ? LONG_PROMPT - i : LONG_BATCH;
        const float *lg = NULL;
        ok = hearth_decode(c[1], toks + i, m, &lg, err, sizeof err) == HEARTH_OK;
        if (ok) memcpy(want, lg, (size_t)g_nv * sizeof *want);
        ok = ok && hearth_decode(c[0], toks + i, m, &lg, err, sizeof err) == HEARTH_OK;
        ok = ok && same_logits(lg, want, "long prompt, tiles vs per token", 0, passes);
    }
    CHECK(ok);
    CHECK(passes == (LONG_PROMPT + LONG_BATCH - 1) / LONG_BATCH);
    free(toks);
    free(want);
    hearth_ctx_free(c[0]);
    hearth_ctx_free(c[1]);
}

static void run_model(const char *path) {
    char err[512];
    if (hearth_model_load(path, &g_model, err, sizeof err) != HEARTH_OK) {
        printf("# skip %s (%s)\n", path, err);
        return;
    }
    printf("# model %s\n", path);
    g_nv = hearth_model_n_vocab(g_model);
    RUN(build_refs);
    RUN(test_prefill_together_then_decode_together);
    RUN(test_staggered_chunks);
    RUN(test_truncate_and_clear);
    RUN(test_single_api_on_multi_ctx);
    RUN(test_errors);
    RUN(test_long_prompt_tiles);
    for (int s = 0; s < N_SEQ; s++) {
        free(g_ref[s].logits);
        free(g_ref[s].chunked);
        g_ref[s].logits = g_ref[s].chunked = NULL;
    }
    hearth_model_free(g_model);
    g_model = NULL;
}

int main(void) {
    char path[4096];
    const char *env = getenv("HEARTH_TEST_MODEL");
    if (env && *env) {
        run_model(env);
        return tap_done();
    }
    const char *dir = getenv("HEARTH_MODELS"), *home = getenv("HOME");
    char base[4000];
    if (dir && *dir) snprintf(base, sizeof base, "%s", dir);
    else snprintf(base, sizeof base, "%s/.cache/hearth/models", home ? home : ".");
    snprintf(path, sizeof path, "%s/SmolLM2-135M-Instruct.Q4_1.gguf", base);
    run_model(path);
    snprintf(path, sizeof path, "%s/gemma-3-270m-q4_k_m.gguf", base);
    run_model(path);
    return tap_done();
}
