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

/* ---- corpus helpers ----------------------------------------------------------------- */

/* Decodes one corpus line (\n \t \r \\ \xNN escapes) into out. */
static void unescape(const char *s, size_t n, hearth_buf *out) {
    out->len = 0;
    hearth_buf_append(out, "", 0);
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\\' && i + 1 < n) {
            char e = s[i + 1];
            if (e == 'n') c = '\n';
            else if (e == 't') c = '\t';
            else if (e == 'r') c = '\r';
            else if (e == '\\') c = '\\';
            else if (e == 'x' && i + 3 < n) {
                char hx[3] = { s[i + 2], s[i + 3], 0 };
                c = (char)strtol(hx, NULL, 16);
                i += 2;
            }
            i++;
        }
        hearth_buf_append(out, &c, 1);
    }
}

typedef struct corpus {
    hearth_buf *items;
    int         n;
} corpus;

static corpus load_corpus(void) {
    corpus c = { 0 };
    size_t len;
    char *txt = read_file(GOLDEN_DIR "/corpus.txt", &len);
    if (!txt) return c;
    for (char *p = txt; *p;) {
        char *eol = strchr(p, '\n');
        if (!eol) break;
        c.items = realloc(c.items, (size_t)(c.n + 1) * sizeof *c.items);
        memset(&c.items[c.n], 0, sizeof c.items[c.n]);
        unescape(p, (size_t)(eol - p), &c.items[c.n]);
        c.n++;
        p = eol + 1;
    }
    free(txt);
    return c;
}

static void free_corpus(corpus *c) {
    for (int i = 0; i < c->n; i++) hearth_buf_free(&c->items[i]);
    free(c->items);
}

static bool valid_utf8(const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        unsigned c = p[i];
        size_t k = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (!k || i + k > n) return false;
        uint32_t v = k == 1 ? c : k == 2 ? (c & 0x1F) : k == 3 ? (c & 0x0F) : (c & 0x07);
        for (size_t j = 1; j < k; j++) {
            if ((p[i + j] & 0xC0) != 0x80) return false;
            v = (v << 6) | (p[i + j] & 0x3F);
        }
        if ((k == 2 && v < 0x80) || (k == 3 && v < 0x800) || (k == 4 && (v < 0x10000 || v > 0x10FFFF)) ||
            (v >= 0xD800 && v <= 0xDFFF))
            return false;
        i += k;
    }
    return true;
}

/* The path of a real model: $env, else `scripts/fetch-model name`; NULL when unavailable. */
static char *model_path(const char *env, const char *name) {
    static char buf[2][1024], names[2][64];
    static int n_known;
    for (int i = 0; i < n_known; i++)
        if (!strcmp(names[i], name)) return buf[i][0] ? buf[i] : NULL;
    if (n_known == 2) n_known = 0;
    snprintf(names[n_known], sizeof names[0], "%s", name);
    char *out = buf[n_known++];
    out[0] = 0;
    const char *e = getenv(env);
    if (e && *e) {
        snprintf(out, 1024, "%s", e);
        return out;
    }
    char cmd[256];
    snprintf(cmd, sizeof cmd, "scripts/fetch-model %s 2>/dev/null | tail -n 1", name);
    FILE *p = popen(cmd, "r");
    if (!p) return NULL;
    out[0] = 0;
    if (!fgets(out, 1024, p)) out[0] = 0;
    int rc = pclose(p);
    out[strcspn(out, "\n")] = 0;
    FILE *f = rc == 0 && out[0] ? fopen(out, "rb") : NULL;
    if (!f) {
        out[0] = 0;
        return NULL;
    }
    fclose(f);
    return out;
}

/* Compares a model's tokens over the corpus with a golden file (one line per string). */
static void check_golden(const char *env, const char *name, const char *golden, bool special) {
    char *mp = model_path(env, name);
    if (!mp) {
        printf("# %s: model not available, skipped\n", name);
        return;
    }
    size_t glen;
    char *g = read_file(golden, &glen);
    if (!g) {
        printf("# %s: no golden file (scripts/make-golden-tokenizer.py), skipped\n", golden);
        return;
    }
    tokenizer *t = load_tok(mp);
    corpus c = load_corpus();
    REQUIRE(t && c.n >= 200);
    int bad = 0, n = 0, skipped = 0;
    char *p = g;
    for (int i = 0; i < c.n && *p; i++) {
        char *eol = strchr(p, '\n');
        if (!eol) break;
        *eol = 0;
        if (!strcmp(p, "ERROR")) {
            skipped++;
            p = eol + 1;
            continue;
        }
        tok_ids ids = { 0 };
        tokenizer_tokenize(t, c.items[i].data, c.items[i].len, false, special, &ids, NULL, 0);
        hearth_buf got = { 0 };
        hearth_buf_append(&got, "", 0);
        for (size_t k = 0; k < ids.len; k++) hearth_buf_printf(&got, k ? " %d" : "%d", ids.data[k]);
        if (strcmp(got.data, p)) {
            if (bad < 5) fprintf(stderr, "  %s line %d:\n    want: %s\n    got:  %s\n", golden, i + 1, p, got.data);
            bad++;
        }
        n++;
        hearth_buf_free(&got);
        tok_ids_free(&ids);
        p = eol + 1;
    }
    printf("# %s: %d strings compared, %d skipped (reference error), %d mismatches\n", golden, n, skipped, bad);
    CHECK(n + skipped == c.n);
    CHECK(bad == 0);
    free_corpus(&c);
    free(g);
    tokenizer_free(t);
}

static void test_golden_smollm2(void) {
    check_golden("HEARTH_SMOLLM2", "smollm2-135m", GOLDEN_DIR "/smollm2.txt", false);
    check_golden("HEARTH_SMOLLM2", "smollm2-135m", GOLDEN_DIR "/smollm2.special.txt", true);
}

static void test_golden_gemma3(void) {
    check_golden("HEARTH_GEMMA3", "gemma3-270m", GOLDEN_DIR "/gemma3.txt", false);
    check_golden("HEARTH_GEMMA3", "gemma3-270m", GOLDEN_DIR "/gemma3.special.txt", true);
}

/* detokenize(tokenize(s)) == s on byte-level BPE vocabularies, and streaming detokenization
 * concatenates to the same bytes (on every vocabulary). */
static void round_trip(tokenizer *t, const corpus *c, bool expect_exact, const char *name) {
    int bad_rt = 0, bad_stream = 0, n_rt = 0;
    for (int i = 0; i < c->n; i++) {
        const hearth_buf *s = &c->items[i];
        tok_ids ids = { 0 };
        tokenizer_tokenize(t, s->data, s->len, false, false, &ids, NULL, 0);
        hearth_buf whole = { 0 }, streamed = { 0 };
        tokenizer_detokenize(t, ids.data, ids.len, false, false, &whole);
        tok_stream st;
        tok_stream_init(&st, t, false);
        for (size_t k = 0; k < ids.len; k++) {
            size_t before = streamed.len;
            tok_stream_push(&st, ids.data[k], &streamed);
            /* what came out so far never ends inside a character of valid input */
            if (valid_utf8(s->data, s->len) && !valid_utf8(streamed.data + before, streamed.len - before)) bad_stream++;
        }
        tok_stream_flush(&st, &streamed);
        if (streamed.len != whole.len || memcmp(streamed.data, whole.data, whole.len)) bad_stream++;
        if (expect_exact && valid_utf8(s->data, s->len)) {
            n_rt++;
            if (whole.len != s->len || memcmp(whole.data, s->data, s->len)) {
                if (bad_rt < 3) fprintf(stderr, "  %s round trip %d: '%s' -> '%s'\n", name, i + 1, s->data, whole.data);
                bad_rt++;
            }
        }
        hearth_buf_free(&whole);
        hearth_buf_free(&streamed);
        tok_ids_free(&ids);
    }
    printf("# %s: %d round trips, %d failed; streaming mismatches %d\n", name, n_rt, bad_rt, bad_stream);
    CHECK(bad_rt == 0);
    CHECK(bad_stream == 0);
}

static void test_round_trip(void) {
    corpus c = load_corpus();
    REQUIRE(c.n >= 200);
    /* (falcon is left out of the exact check: its vocabulary lacks the tokens of some control
     * bytes, so those cannot come back; streaming is still checked on it below) */
    static const char *const byte_level[] = { "gpt-2", "mpt", "refact", "deepseek-coder", "falcon" };
    for (size_t i = 0; i < sizeof byte_level / sizeof *byte_level; i++) {
        char path[256];
        snprintf(path, sizeof path, VOCAB_DIR "/ggml-vocab-%s.gguf", byte_level[i]);
        tokenizer *t = load_tok(path);
        CHECK(t != NULL);
        if (t) round_trip(t, &c, strcmp(byte_level[i], "falcon") != 0, byte_level[i]);
        tokenizer_free(t);
    }
    char *mp = model_path("HEARTH_SMOLLM2", "smollm2-135m");
    if (mp) {
        tokenizer *t = load_tok(mp);
        CHECK(t != NULL);
        if (t) round_trip(t, &c, true, "smollm2");
        tokenizer_free(t);
    }
    /* SentencePiece: streaming must still equal the whole detokenization */
    tokenizer *t = load_tok(VOCAB_DIR "/ggml-vocab-llama-spm.gguf");
    CHECK(t != NULL);
    if (t) round_trip(t, &c, false, "llama-spm");
    tokenizer_free(t);
    free_corpus(&c);
}

/* SentencePiece's leading space: added on tokenize, removed on detokenize. */
static void test_spm_space(void) {
    tokenizer *t = load_tok(VOCAB_DIR "/ggml-vocab-llama-spm.gguf");
    REQUIRE(t != NULL);
    tok_ids ids = { 0 };
    CHECK(tokenizer_tokenize(t, "Hello world", 11, true, false, &ids, NULL, 0) == HEARTH_OK);
    REQUIRE(ids.len >= 2);
    CHECK(ids.data[0] == tokenizer_bos(t));
    hearth_buf out = { 0 };
    tokenizer_detokenize(t, ids.data + 1, ids.len - 1, false, false, &out);
    CHECK_STR(out.data, "Hello world");
    out.len = 0;
    /* byte fallback: a character the vocabulary lacks comes back exactly */
    tok_ids_free(&ids);
    const char *s = "\xf0\x9f\xa6\x99 \xe1\x9a\xa0";
    CHECK(tokenizer_tokenize(t, s, strlen(s), false, false, &ids, NULL, 0) == HEARTH_OK);
    tokenizer_detokenize(t, ids.data, ids.len, false, false, &out);
    CHECK_STR(out.data, s);
    hearth_buf_free(&out);
    tok_ids_free(&ids);
    tokenizer_free(t);
}

/* Control tokens are matched only when asked; the API reports sizes as snprintf does. */
static void test_special_and_api(void) {
    char *mp = model_path("HEARTH_SMOLLM2", "smollm2-135m");
    if (!mp) {
        printf("# smollm2 not available, skipped\n");
        return;
    }
    hearth_vocab *v = NULL;
    char err[256];
    REQUIRE(hearth_vocab_open(mp, &v, err, sizeof err) == HEARTH_OK);
    const char *s = "<|im_start|>user\nhi<|im_end|>";
    int32_t ids[64];
    int64_t n_plain = hearth_tokenize(v, s, strlen(s), 0, ids, 64);
    int64_t n_spec = hearth_tokenize(v, s, strlen(s), HEARTH_TOKENIZE_PARSE_SPECIAL, ids, 64);
    CHECK(n_plain > n_spec);
    REQUIRE(n_spec >= 3);
    CHECK(ids[0] == 1);          /* <|im_start|> */
    CHECK(ids[n_spec - 1] == 2); /* <|im_end|> */
    CHECK(hearth_vocab_is_eog(v, 2));
    CHECK(hearth_vocab_eot(v) == 2);
    CHECK(!hearth_vocab_is_eog(v, ids[1]));
    /* too small a buffer: the count needed */
    CHECK(hearth_tokenize(v, s, strlen(s), HEARTH_TOKENIZE_PARSE_SPECIAL, ids, 1) == n_spec);
    CHECK(hearth_tokenize(v, s, strlen(s), HEARTH_TOKENIZE_PARSE_SPECIAL, NULL, 0) == n_spec);
    hearth_tokenize(v, s, strlen(s), HEARTH_TOKENIZE_PARSE_SPECIAL, ids, 64);
    char buf[128];
    CHECK(hearth_detokenize(v, ids, (size_t)n_spec, HEARTH_DETOKENIZE_UNPARSE_SPECIAL, buf, sizeof buf) == (int64_t)strlen(s));
    CHECK_STR(buf, s);
    CHECK(hearth_detokenize(v, ids, (size_t)n_spec, 0, buf, sizeof buf) == 7);
    CHECK_STR(buf, "user\nhi");
    CHECK(hearth_detokenize(v, ids, (size_t)n_spec, HEARTH_DETOKENIZE_UNPARSE_SPECIAL, buf, 5) == (int64_t)strlen(s));
    CHECK_STR(buf, "<|im");
    CHECK(hearth_token_to_piece(v, 1, 1, buf, sizeof buf) == 12);
    CHECK_STR(buf, "<|im_start|>");
    CHECK(hearth_token_to_piece(v, 1, 0, buf, sizeof buf) == 0);
    CHECK(hearth_token_to_piece(v, -5, 1, buf, sizeof buf) == -1);
    CHECK(hearth_token_to_piece(v, hearth_vocab_n_tokens(v), 1, buf, sizeof buf) == -1);
    CHECK(hearth_vocab_n_tokens(v) == 49152);
    hearth_vocab_free(v);
    hearth_vocab_free(NULL);
}

/* A vocabulary with a pre-tokenizer we do not know fails with a message naming it. */
static void test_errors(void) {
    gguf_writer w;
    gguf_writer_init(&w);
    const char *toks[] = { "a", "b", "ab" };
    const char *merges[] = { "a b" };
    gguf_write_str(&w, "tokenizer.ggml.model", "gpt2");
    gguf_write_str(&w, "tokenizer.ggml.pre", "no-such-pre");
    gguf_write_arr_str(&w, "tokenizer.ggml.tokens", toks, 3);
    gguf_write_arr_str(&w, "tokenizer.ggml.merges", merges, 1);
    hearth_buf img = { 0 };
    REQUIRE(gguf_writer_finish(&w, &img));
    gguf_file *g = NULL;
    char err[256];
    REQUIRE(gguf_open_memory(img.data, img.len, &g, err, sizeof err) == HEARTH_OK);
    tokenizer *t = NULL;
    CHECK(tokenizer_load(g, &t, err, sizeof err) == HEARTH_ERR_UNSUPPORTED);
    CHECK(t == NULL);
    CHECK(strstr(err, "no-such-pre") != NULL);
    gguf_free(g);
    hearth_buf_free(&img);
    gguf_writer_free(&w);

    /* a tiny valid vocabulary: merges apply, unknown bytes are dropped, not crashed on */
    gguf_writer_init(&w);
    gguf_write_str(&w, "tokenizer.ggml.model", "gpt2");
    gguf_write_str(&w, "tokenizer.ggml.pre", "gpt-2");
    gguf_write_arr_str(&w, "tokenizer.ggml.tokens", toks, 3);
    gguf_write_arr_str(&w, "tokenizer.ggml.merges", merges, 1);
    memset(&img, 0, sizeof img);
    REQUIRE(gguf_writer_finish(&w, &img));
    REQUIRE(gguf_open_memory(img.data, img.len, &g, err, sizeof err) == HEARTH_OK);
    CHECK(tokenizer_load(g, &t, err, sizeof err) == HEARTH_OK);
    gguf_free(g); /* the tokenizer keeps its own copy */
    if (t) {
        tok_ids ids = { 0 };
        CHECK(tokenizer_tokenize(t, "abz\xff", 4, true, true, &ids, NULL, 0) == HEARTH_OK);
        CHECK(ids.len == 1 && ids.data[0] == 2);
        tok_ids_free(&ids);
    }
    tokenizer_free(t);
    hearth_buf_free(&img);
    gguf_writer_free(&w);

    /* no tokenizer at all */
    gguf_writer_init(&w);
    gguf_write_str(&w, "general.architecture", "llama");
    memset(&img, 0, sizeof img);
    REQUIRE(gguf_writer_finish(&w, &img));
    REQUIRE(gguf_open_memory(img.data, img.len, &g, err, sizeof err) == HEARTH_OK);
    CHECK(tokenizer_load(g, &t, err, sizeof err) == HEARTH_ERR_NOT_FOUND);
    gguf_free(g);
    hearth_buf_free(&img);
    gguf_writer_free(&w);
    hearth_vocab *v = NULL;
    CHECK(hearth_vocab_open("/nonexistent/x.gguf", &v, err, sizeof err) != HEARTH_OK && v == NULL);
}

int main(void) {
    RUN(test_vocab_vectors);
    RUN(test_golden_smollm2);
    RUN(test_golden_gemma3);
    RUN(test_round_trip);
    RUN(test_spm_space);
    RUN(test_special_and_api);
    RUN(test_errors);
    return tap_done();
}
