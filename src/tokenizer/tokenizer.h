/*
 * tokenizer.h — text <-> token ids from a GGUF vocabulary.  Internal to libhearth; the
 * inference engine uses this, applications use the hearth_vocab section of hearth.h.
 *
 * Three vocabulary types, chosen by `tokenizer.ggml.model`:
 *   gpt2   byte-level BPE with merges; the pre-tokenizer split regexes are chosen by
 *          `tokenizer.ggml.pre` and run through PCRE2 (UTF + Unicode properties)
 *   llama  SentencePiece-style BPE over scores, with byte fallback (<0xXX>) and the
 *          U+2581 "▁" space convention (Llama 2, Mistral, Phi-3, Gemma)
 *   bert   WordPiece (greedy longest match; lower-cased, accents stripped)
 *
 * The output is meant to equal llama.cpp's (which follows Hugging Face tokenizers).  Special
 * tokens: control tokens are matched in text only when the caller asks (parse_special); as in
 * the reference, user-defined tokens (type 4) are always matched because Hugging Face treats
 * them as part of the vocabulary's added tokens.
 *
 * A tokenizer is immutable after loading and may be used from many threads at once.  It
 * copies what it needs, so it does not keep the gguf_file alive.
 */
#ifndef HEARTH_TOKENIZER_H
#define HEARTH_TOKENIZER_H

#include "hearth.h"
#include "core/core.h"
#include "gguf/gguf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* tokenizer.ggml.model */
typedef enum tok_model {
    TOK_MODEL_BPE = 0, /* "gpt2" */
    TOK_MODEL_SPM,     /* "llama" */
    TOK_MODEL_WPM,     /* "bert" */
    TOK_MODEL_COUNT
} tok_model;

/* tokenizer.ggml.token_type values (GGUF convention) */
typedef enum tok_type {
    TOK_TYPE_UNDEFINED    = 0,
    TOK_TYPE_NORMAL       = 1,
    TOK_TYPE_UNKNOWN      = 2,
    TOK_TYPE_CONTROL      = 3,
    TOK_TYPE_USER_DEFINED = 4,
    TOK_TYPE_UNUSED       = 5,
    TOK_TYPE_BYTE         = 6,
    TOK_TYPE_COUNT
} tok_type;

#define TOK_NULL (-1) /* "no such token" */

typedef struct tokenizer tokenizer;

/* A growable array of token ids. */
typedef struct tok_ids {
    int32_t *data;
    size_t   len;
    size_t   cap;
} tok_ids;

bool tok_ids_push(tok_ids *v, int32_t id);
void tok_ids_free(tok_ids *v);

/* Loads the vocabulary from the `tokenizer.ggml.*` metadata of an opened GGUF file (a
 * vocab-only file with no tensors is fine).  On failure *out is NULL and err says why; an
 * unknown `tokenizer.ggml.pre` or model is HEARTH_ERR_UNSUPPORTED naming it. */
hearth_status tokenizer_load(const gguf_file *g, tokenizer **out, char *err, size_t err_size);
void          tokenizer_free(tokenizer *t);

tok_model   tokenizer_model(const tokenizer *t);
const char *tokenizer_pre_name(const tokenizer *t); /* e.g. "llama-bpe"; "" for spm/bert */
int32_t     tokenizer_n_vocab(const tokenizer *t);
int32_t     tokenizer_bos(const tokenizer *t);      /* TOK_NULL when the vocabulary has none */
int32_t     tokenizer_eos(const tokenizer *t);
int32_t     tokenizer_eot(const tokenizer *t);
bool        tokenizer_add_bos(const tokenizer *t);  /* what add_special adds */
bool        tokenizer_add_eos(const tokenizer *t);
/* True for every end-of-generation token: eos, eot, eom and the usual end markers found by
 * text (<|im_end|>, <end_of_turn>, <|eot_id|>, ...). */
bool        tokenizer_is_eog(const tokenizer *t, int32_t id);
tok_type    tokenizer_token_type(const tokenizer *t, int32_t id); /* UNDEFINED if out of range */
/* The raw vocabulary text of a token (not NUL-terminated), or NULL when out of range. */
const char *tokenizer_token_text(const tokenizer *t, int32_t id, size_t *len);
/* The id whose vocabulary text is exactly s[0..n), or TOK_NULL. */
int32_t     tokenizer_find(const tokenizer *t, const char *s, size_t n);

/* Appends the tokens of text[0..len) to *out.  add_special adds BOS/EOS as the vocabulary
 * asks (tokenizer_add_bos/eos); parse_special lets control tokens written in the text
 * (e.g. "<|im_start|>") become those tokens.  Any bytes are accepted, including invalid
 * UTF-8 (handled as the reference does).  Fails only on allocation failure. */
hearth_status tokenizer_tokenize(const tokenizer *t, const char *text, size_t len, bool add_special,
                                 bool parse_special, tok_ids *out, char *err, size_t err_size);

/* The bytes a token stands for, into buf (NUL-terminated when size > 0); returns the length
 * needed, as snprintf.  Control tokens give "" unless `special`.  lstrip removes up to that
 * many leading spaces (the SentencePiece leading-space rule).  -1 for an invalid id. */
int64_t tokenizer_token_to_piece(const tokenizer *t, int32_t id, char *buf, size_t size, int lstrip,
                                 bool special);

/* Appends the text of ids[0..n) to *out: exact bytes, no clean-up of spaces.  remove_special
 * drops a leading BOS / trailing EOS that add_special would have added; unparse_special
 * renders control tokens as their text.  Invalid ids are skipped.  False on allocation
 * failure. */
bool tokenizer_detokenize(const tokenizer *t, const int32_t *ids, size_t n, bool remove_special,
                          bool unparse_special, hearth_buf *out);

/* Streaming detokenization: feed tokens one at a time; bytes come out only when they form
 * complete UTF-8 characters (an incomplete sequence is held back until the next token
 * completes it, or until flush).  The concatenation of all output equals
 * tokenizer_detokenize(all ids, false, unparse_special). */
typedef struct tok_stream {
    const tokenizer *t;
    bool             unparse_special;
    bool             started;
    uint8_t          held[8];
    size_t           n_held;
} tok_stream;

void tok_stream_init(tok_stream *s, const tokenizer *t, bool unparse_special);
bool tok_stream_push(tok_stream *s, int32_t id, hearth_buf *out);
bool tok_stream_flush(tok_stream *s, hearth_buf *out);

#endif /* HEARTH_TOKENIZER_H */
