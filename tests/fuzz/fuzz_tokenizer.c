/*
 * fuzz_tokenizer.c — libFuzzer harness over tokenize / detokenize / streaming detokenization.
 *
 * Input: byte 0 picks the vocabulary (byte-level BPE gpt-2, qwen-style llama-bpe when built,
 * SentencePiece llama-spm, WordPiece bert-bge, byte-level refact), byte 1 the flags
 * (add_special, parse_special, unparse_special), the rest is the text.  The vocabularies are
 * the vocab-only files of ../shared/testdata/vocab (or $HEARTH_FUZZ_VOCAB_DIR), loaded once;
 * when absent the harness does nothing.  Besides memory errors, it traps on a broken
 * invariant: streaming output must equal the whole detokenization, and on the gpt-2
 * vocabulary valid UTF-8 text must come back exactly.
 */
#include "tokenizer/tokenizer.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const names[] = { "gpt-2", "llama-spm", "bert-bge", "refact" };
#define N_VOCAB (sizeof names / sizeof names[0])
static tokenizer *vocabs[N_VOCAB];
static int loaded;

static void load_all(void) {
    loaded = 1;
    const char *dir = getenv("HEARTH_FUZZ_VOCAB_DIR");
    if (!dir) dir = "../shared/testdata/vocab";
    for (size_t i = 0; i < N_VOCAB; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/ggml-vocab-%s.gguf", dir, names[i]);
        gguf_file *g = NULL;
        if (gguf_open_file(path, &g, NULL, 0) != HEARTH_OK) continue;
        tokenizer_load(g, &vocabs[i], NULL, 0);
        gguf_free(g);
    }
}

static int valid_utf8(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n;) {
        unsigned c = p[i];
        size_t k = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (!k || i + k > n) return 0;
        uint32_t v = k == 1 ? c : k == 2 ? (c & 0x1F) : k == 3 ? (c & 0x0F) : (c & 0x07);
        for (size_t j = 1; j < k; j++) {
            if ((p[i + j] & 0xC0) != 0x80) return 0;
            v = (v << 6) | (p[i + j] & 0x3F);
        }
        if ((k == 2 && v < 0x80) || (k == 3 && v < 0x800) || (k == 4 && (v < 0x10000 || v > 0x10FFFF)) ||
            (v >= 0xD800 && v <= 0xDFFF))
            return 0;
        i += k;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!loaded) load_all();
    if (size < 2 || size > 1 << 16) return 0;
    size_t which = data[0] % N_VOCAB;
    tokenizer *t = vocabs[which];
    if (!t) return 0;
    unsigned flags = data[1];
    const char *text = (const char *)data + 2;
    size_t len = size - 2;
    tok_ids ids = { 0 };
    if (tokenizer_tokenize(t, text, len, flags & 1, flags & 2, &ids, NULL, 0) != HEARTH_OK) {
        tok_ids_free(&ids);
        return 0;
    }
    for (size_t i = 0; i < ids.len; i++)
        if (ids.data[i] < 0 || ids.data[i] >= tokenizer_n_vocab(t)) __builtin_trap();
    int unparse = (flags & 4) != 0;
    hearth_buf whole = { 0 }, streamed = { 0 };
    tokenizer_detokenize(t, ids.data, ids.len, false, unparse, &whole);
    tok_stream st;
    tok_stream_init(&st, t, unparse);
    for (size_t i = 0; i < ids.len; i++) tok_stream_push(&st, ids.data[i], &streamed);
    tok_stream_flush(&st, &streamed);
    if (whole.len != streamed.len || (whole.len && memcmp(whole.data, streamed.data, whole.len))) __builtin_trap();
    /* byte-level BPE without special parsing gives the text back exactly — on gpt-2, whose
     * vocabulary holds all 256 byte tokens; refact's lacks some (e.g. the one for 0xF1), and
     * such bytes are dropped, as llama.cpp drops them (llama-tokenize: F1 B8 B8 B8 -> 3 ids) */
    if (which == 0 && !(flags & 3) && valid_utf8((const uint8_t *)text, len) &&
        (whole.len != len || (len && memcmp(whole.data, text, len))))
        __builtin_trap();
    /* token_to_piece and arbitrary ids never crash */
    char piece[64];
    for (size_t i = 0; i + 4 <= len && i < 64; i += 4) {
        int32_t id;
        memcpy(&id, text + i, 4);
        tokenizer_token_to_piece(t, id, piece, sizeof piece, (int)(flags >> 4) & 3, flags & 8);
        int32_t bad_ids[2] = { id, id ^ 0x7fff };
        tokenizer_detokenize(t, bad_ids, 2, true, true, &whole);
    }
    hearth_buf_free(&whole);
    hearth_buf_free(&streamed);
    tok_ids_free(&ids);
    return 0;
}
