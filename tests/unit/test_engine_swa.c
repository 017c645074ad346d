/*
 * test_engine_swa.c — the sliding-window layers' KV cache as a ring of n_swa + n_batch cells
 * (Gemma 3: 512-token window on 5 of every 6 layers): a context whose rings wrap around gives
 * bit for bit the logits of a context whose window layers hold every position; a truncation
 * keeps what the rings still hold and otherwise starts the sequence again from 0; a rewrite the
 * rings cannot serve is an error that leaves the sequence as it was.
 *
 * Needs Gemma 3 ($HEARTH_MODELS, default ~/.cache/hearth/models); skipped without it.
 */
#include "tap.h"

#include "hearth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_TOK 640 /* 10 chunks of CHUNK: past the 512 + 64 ring cells */
#define CHUNK 64

static hearth_model *g_model;
static int32_t       g_nv;
static int32_t       g_toks[N_TOK];

static hearth_ctx *make_ctx(int32_t n_batch) {
    hearth_ctx_params cp;
    hearth_ctx_params_default(&cp);
    cp.n_ctx = 768;
    cp.n_batch = n_batch;
    cp.n_threads = 2;
    hearth_ctx *c = NULL;
    char err[256];
    if (hearth_ctx_create(g_model, &cp, &c, err, sizeof err) != HEARTH_OK) printf("# context: %s\n", err);
    return c;
}

/* Decodes g_toks[from..to) in chunks of CHUNK; *last gets the last token's logits. */
static int decode_range(hearth_ctx *c, int32_t from, int32_t to, float *last) {
    char err[256];
    const float *lg = NULL;
    for (int32_t i = from; i < to; i += CHUNK) {
        const int32_t m = to - i < CHUNK ? to - i : CHUNK;
        if (hearth_decode(c, g_toks + i, m, &lg, err, sizeof err) != HEARTH_OK) {
            printf("# decode at %d: %s\n", i, err);
            return 0;
        }
    }
    memcpy(last, lg, (size_t)g_nv * sizeof *last);
    return 1;
}

static void test_ring_matches_full_cache(void) {
    hearth_ctx *ring = make_ctx(CHUNK); /* window layers: 512 + 64 cells */
    hearth_ctx *full = make_ctx(768);   /* window layers: all 768 positions */
    float      *a = malloc((size_t)g_nv * sizeof *a), *b = malloc((size_t)g_nv * sizeof *b);
    REQUIRE(ring && full && a && b);
    char err[256];
    const float *lg = NULL;
    int same = 1;
    for (int32_t i = 0; i < N_TOK; i += CHUNK) {
        REQUIRE(decode_range(ring, i, i + CHUNK, a));
        REQUIRE(decode_range(full, i, i + CHUNK, b));
        if (memcmp(a, b, (size_t)g_nv * sizeof *a)) {
            printf("# chunk ending at %d differs\n", i + CHUNK);
            same = 0;
        }
    }
    CHECK(same);
    /* keep 600 of 640: the ring holds positions 64.., and position 600 sees 89.. */
    CHECK(hearth_ctx_truncate(ring, 600) == 600);
    CHECK(hearth_ctx_truncate(full, 600) == 600);
    REQUIRE(decode_range(ring, 600, N_TOK, a));
    REQUIRE(decode_range(full, 600, N_TOK, b));
    CHECK(!memcmp(a, b, (size_t)g_nv * sizeof *a));
    /* a rewrite at 550 needs position 39, gone from the ring: an error, nothing changed */
    hearth_batch_token t = { g_toks[550], 0, 550, 1 };
    CHECK(hearth_decode_batch(ring, &t, 1, &lg, NULL, err, sizeof err) != HEARTH_OK);
    CHECKF(strstr(err, "sliding window") != NULL, "error: %s", err);
    CHECK(hearth_ctx_n_past(ring) == N_TOK);
    CHECK(hearth_decode_batch(full, &t, 1, &lg, NULL, err, sizeof err) == HEARTH_OK);
    /* the same as a truncation: it starts the sequence again from 0, which then works */
    CHECK(hearth_ctx_truncate(ring, 550) == 0);
    CHECK(hearth_ctx_n_past(ring) == 0);
    hearth_ctx_clear(full);
    REQUIRE(decode_range(ring, 0, 3 * CHUNK, a));
    REQUIRE(decode_range(full, 0, 3 * CHUNK, b));
    CHECK(!memcmp(a, b, (size_t)g_nv * sizeof *a));
    free(a);
    free(b);
    hearth_ctx_free(ring);
    hearth_ctx_free(full);
}

int main(void) {
    char        path[4096];
    const char *dir = getenv("HEARTH_MODELS"), *home = getenv("HOME");
    if (dir && *dir) snprintf(path, sizeof path, "%s/gemma-3-270m-q4_k_m.gguf", dir);
    else snprintf(path, sizeof path, "%s/.cache/hearth/models/gemma-3-270m-q4_k_m.gguf", home ? home : ".");
    char err[512];
    if (hearth_model_load(path, &g_model, err, sizeof err) != HEARTH_OK) {
        printf("# skip: %s\n", err);
        return tap_done();
    }
    g_nv = hearth_model_n_vocab(g_model);
    uint32_t x = 12345;
    for (int i = 0; i < N_TOK; i++) {
        x = x * 1103515245u + 12345u;
        g_toks[i] = 2 + (int32_t)((x >> 8) % 20000);
    }
    RUN(test_ring_matches_full_cache);
    hearth_model_free(g_model);
    return tap_done();
}
