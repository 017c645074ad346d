/* api.c — the public hearth_vocab functions of hearth.h over the internal tokenizer. */
#include "tokenizer/tokenizer.h"

#include <stdlib.h>
#include <string.h>

struct hearth_vocab {
    tokenizer *tok;
};

hearth_status hearth_vocab_open(const char *path, hearth_vocab **out, char *err, size_t err_size) {
    if (!out) return hearth_err(err, err_size, HEARTH_ERR_ARG, "hearth_vocab_open: NULL argument");
    *out = NULL;
    if (!path) return hearth_err(err, err_size, HEARTH_ERR_ARG, "hearth_vocab_open: NULL argument");
    gguf_file *g = NULL;
    hearth_status st = gguf_open_file(path, &g, err, err_size);
    if (st != HEARTH_OK) return st;
    hearth_vocab *v = calloc(1, sizeof *v);
    if (!v) {
        gguf_free(g);
        return hearth_err(err, err_size, HEARTH_ERR_NOMEM, "hearth_vocab_open: out of memory");
    }
    st = tokenizer_load(g, &v->tok, err, err_size);
    gguf_free(g);
    if (st != HEARTH_OK) {
        free(v);
        return st;
    }
    *out = v;
    return HEARTH_OK;
}

void hearth_vocab_free(hearth_vocab *vocab) {
    if (!vocab) return;
    tokenizer_free(vocab->tok);
    free(vocab);
}

int32_t hearth_vocab_n_tokens(const hearth_vocab *vocab) { return vocab ? tokenizer_n_vocab(vocab->tok) : 0; }
int32_t hearth_vocab_bos(const hearth_vocab *vocab) { return vocab ? tokenizer_bos(vocab->tok) : -1; }
int32_t hearth_vocab_eos(const hearth_vocab *vocab) { return vocab ? tokenizer_eos(vocab->tok) : -1; }
int32_t hearth_vocab_eot(const hearth_vocab *vocab) { return vocab ? tokenizer_eot(vocab->tok) : -1; }
int hearth_vocab_is_eog(const hearth_vocab *vocab, int32_t token) {
    return vocab && tokenizer_is_eog(vocab->tok, token);
}

int64_t hearth_tokenize(const hearth_vocab *vocab, const char *text, size_t len, unsigned flags, int32_t *tokens,
                        size_t cap) {
    if (!vocab || (!text && len) || (!tokens && cap)) return -1;
    tok_ids ids = { 0 };
    if (tokenizer_tokenize(vocab->tok, text ? text : "", len, flags & HEARTH_TOKENIZE_ADD_SPECIAL,
                           flags & HEARTH_TOKENIZE_PARSE_SPECIAL, &ids, NULL, 0) != HEARTH_OK) {
        tok_ids_free(&ids);
        return -1;
    }
    if (ids.len <= cap && ids.len) memcpy(tokens, ids.data, ids.len * sizeof *tokens);
    int64_t n = (int64_t)ids.len;
    tok_ids_free(&ids);
    return n;
}

int64_t hearth_token_to_piece(const hearth_vocab *vocab, int32_t token, int special, char *buf, size_t size) {
    if (!vocab || (!buf && size)) return -1;
    return tokenizer_token_to_piece(vocab->tok, token, buf, size, 0, special != 0);
}

int64_t hearth_detokenize(const hearth_vocab *vocab, const int32_t *tokens, size_t n, unsigned flags, char *buf,
                          size_t size) {
    if (!vocab || (!tokens && n) || (!buf && size)) return -1;
    hearth_buf out = { 0 };
    if (!tokenizer_detokenize(vocab->tok, tokens, n, flags & HEARTH_DETOKENIZE_REMOVE_SPECIAL,
                              flags & HEARTH_DETOKENIZE_UNPARSE_SPECIAL, &out)) {
        hearth_buf_free(&out);
        return -1;
    }
    if (size) {
        size_t k = HEARTH_MIN(out.len, size - 1);
        if (k) memcpy(buf, out.data, k);
        buf[k] = 0;
    }
    int64_t len = (int64_t)out.len;
    hearth_buf_free(&out);
    return len;
}
