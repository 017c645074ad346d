/*
 * hearth.h — the one public header of libhearth.
 *
 * hearth runs open-weight language models (GGUF files) on the machine it is on.
 * This header is the contract: every function is documented here.
 *
 * Conventions, uniform across the library:
 *  - Functions that can fail return a hearth_status; HEARTH_OK is 0.  When they take an
 *    `err` buffer (char *err, size_t err_size) a human-readable message is written there
 *    (always NUL-terminated when err_size > 0; err may be NULL).
 *  - Whoever calls *_open / *_load / *_create owns the object and releases it with the
 *    matching *_free; every *_free accepts NULL.
 *  - Functions that fill a caller buffer return the length they needed, as snprintf does.
 *  - The library never calls exit() and never aborts on bad input.
 *
 * Compiles alone as C11 and as C++.
 */
#ifndef HEARTH_H
#define HEARTH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status codes (append-only) ---------------------------------------------------- */
typedef enum hearth_status {
    HEARTH_OK = 0,
    HEARTH_ERR_IO,          /* a file could not be opened, read or mapped */
    HEARTH_ERR_FORMAT,      /* malformed input: a corrupt model file, bad JSON, ... */
    HEARTH_ERR_UNSUPPORTED, /* well-formed, but a feature this build does not have */
    HEARTH_ERR_NOMEM,       /* an allocation failed */
    HEARTH_ERR_ARG,         /* an invalid argument from the caller */
    HEARTH_ERR_RANGE,       /* a value out of range: too long a prompt, too small a buffer */
    HEARTH_ERR_LIMIT,       /* a safety limit was hit (recursion, output size, iterations) */
    HEARTH_ERR_NOT_FOUND,   /* a key, file or name that does not exist */
    HEARTH_STATUS_COUNT
} hearth_status;

/* A static English name for a status ("ok", "format error", ...). Never NULL. */
const char *hearth_status_str(hearth_status status);

/* The library version, e.g. "0.1.0". */
const char *hearth_version(void);

/* ---- logging ----------------------------------------------------------------------- */
typedef enum hearth_log_level {
    HEARTH_LOG_ERROR = 0,
    HEARTH_LOG_WARN,
    HEARTH_LOG_INFO,
    HEARTH_LOG_DEBUG,
    HEARTH_LOG_LEVEL_COUNT
} hearth_log_level;

/* Messages at or below `level` go to stderr (default HEARTH_LOG_WARN). */
void hearth_log_set_level(hearth_log_level level);

/* ---- model files (GGUF) ------------------------------------------------------------ */

/* An opened GGUF file: its header parsed and validated, its data mapped (not read). */
typedef struct hearth_gguf hearth_gguf;

/* Opens and validates the GGUF file at `path`.  On success *out owns the mapping; release it
 * with hearth_gguf_free.  On failure *out is NULL and `err` names the problem and its byte
 * offset.  Costs about as much as reading the header, whatever the file size. */
hearth_status hearth_gguf_open(const char *path, hearth_gguf **out, char *err, size_t err_size);

/* Releases an opened file.  Accepts NULL. */
void hearth_gguf_free(hearth_gguf *gguf);

/* Counts of metadata key/value pairs and tensors. */
int64_t hearth_gguf_n_kv(const hearth_gguf *gguf);
int64_t hearth_gguf_n_tensors(const hearth_gguf *gguf);

/* The architecture (`general.architecture`), or "" when absent. Owned by the file. */
const char *hearth_gguf_arch(const hearth_gguf *gguf);

/* ---- tokenizer (src/tokenizer/) ------------------------------------------------------ */
/* A model's vocabulary, from the `tokenizer.ggml.*` metadata of a GGUF file (a vocab-only
 * file works): byte-level BPE ("gpt2"), SentencePiece BPE ("llama") or WordPiece ("bert").
 * Token ids equal llama.cpp's for the same file.  A vocabulary is immutable once opened and
 * may be used from several threads at once. */
typedef struct hearth_vocab hearth_vocab;

/* Opens the vocabulary of the GGUF file at `path`.  An unknown tokenizer model or
 * pre-tokenizer (`tokenizer.ggml.pre`) is HEARTH_ERR_UNSUPPORTED naming it.  Release with
 * hearth_vocab_free. */
hearth_status hearth_vocab_open(const char *path, hearth_vocab **out, char *err, size_t err_size);
void          hearth_vocab_free(hearth_vocab *vocab); /* accepts NULL */

int32_t hearth_vocab_n_tokens(const hearth_vocab *vocab);
int32_t hearth_vocab_bos(const hearth_vocab *vocab); /* -1 when none */
int32_t hearth_vocab_eos(const hearth_vocab *vocab); /* -1 when none */
int32_t hearth_vocab_eot(const hearth_vocab *vocab); /* end of turn (<|im_end|>, ...); -1 when none */
/* Nonzero for a token that ends generation (eos, eot, and the model's other end markers). */
int     hearth_vocab_is_eog(const hearth_vocab *vocab, int32_t token);

/* hearth_tokenize flags */
#define HEARTH_TOKENIZE_ADD_SPECIAL   1u /* add BOS/EOS as the vocabulary asks */
#define HEARTH_TOKENIZE_PARSE_SPECIAL 2u /* control tokens written in the text (e.g.
                                            "<|im_start|>") become those tokens; without it
                                            they are ordinary text */

/* Tokenizes text[0..len) (any bytes; invalid UTF-8 is handled as llama.cpp does) into
 * tokens[0..cap).  Returns the number of tokens the text needs: when that is more than cap,
 * nothing is guaranteed about tokens[] and the call can be repeated with a larger buffer
 * (tokens may be NULL with cap 0).  Returns -1 on a NULL argument or allocation failure. */
int64_t hearth_tokenize(const hearth_vocab *vocab, const char *text, size_t len, unsigned flags, int32_t *tokens,
                        size_t cap);

/* The bytes of one token into buf (NUL-terminated when size > 0).  Returns the length needed
 * (as snprintf); -1 for an invalid id.  Control tokens give "" unless `special` is nonzero. */
int64_t hearth_token_to_piece(const hearth_vocab *vocab, int32_t token, int special, char *buf, size_t size);

/* hearth_detokenize flags */
#define HEARTH_DETOKENIZE_REMOVE_SPECIAL  1u /* drop a leading BOS / trailing EOS added by
                                                HEARTH_TOKENIZE_ADD_SPECIAL */
#define HEARTH_DETOKENIZE_UNPARSE_SPECIAL 2u /* render control tokens as their text */

/* The text of tokens[0..n) into buf (NUL-terminated when size > 0): the exact bytes, so that
 * detokenizing the tokens of a text gives the text back (no clean-up of spaces).  Invalid ids
 * are skipped.  Returns the length needed (as snprintf), -1 on allocation failure. */
int64_t hearth_detokenize(const hearth_vocab *vocab, const int32_t *tokens, size_t n, unsigned flags, char *buf,
                          size_t size);

/* ---- model store (src/fit/) ---------------------------------------------------------- */

/* Turns what a user typed where a model is expected (-m) into a file path: an existing file
 * is returned as is; otherwise a store name (`owner/repo:QUANT`, `owner/repo` with one model,
 * `hf://owner/repo/file.gguf`, or a file name with or without `.gguf`) is looked up in the
 * store ($HEARTH_MODELS, default ~/.cache/hearth/models) and its "last used" time updated.
 * Writes the path into out (out_size bytes).  HEARTH_ERR_NOT_FOUND when nothing matches,
 * HEARTH_ERR_ARG when the name is ambiguous. */
hearth_status hearth_resolve_model(const char *name_or_path, char *out, size_t out_size, char *err, size_t err_size);

/* ---- inference engine: models, contexts, generation ----------------------------------- */
/* Supported architectures: llama, qwen2, qwen3, gemma3.  Weights stay in the file mapping. */

typedef struct hearth_model hearth_model;
typedef struct hearth_ctx   hearth_ctx;

/* Loads a GGUF model: hyperparameters, tokenizer, weight views (nothing is dequantized).
 * An unsupported architecture or tensor type, a missing or mis-shaped tensor gives an error
 * naming it.  Release with hearth_model_free. */
hearth_status hearth_model_load(const char *path, hearth_model **out, char *err, size_t err_size);
void          hearth_model_free(hearth_model *model); /* accepts NULL; free contexts first */

int32_t     hearth_model_n_vocab(const hearth_model *model);
int32_t     hearth_model_n_ctx_train(const hearth_model *model);
const char *hearth_model_arch(const hearth_model *model); /* "llama", "gemma3", ... */
uint64_t    hearth_model_file_size(const hearth_model *model);

typedef struct hearth_ctx_params {
    int32_t n_ctx;      /* context (KV cache) length; 0: min(training context, 4096) */
    int32_t n_batch;    /* tokens per forward pass in prefill; 0: 256 */
    int32_t n_threads;  /* 0: physical cores */
    int32_t logits_all; /* nonzero: hearth_decode returns logits for every token of a batch */
    int32_t n_seq;      /* KV-cache sequences (hearth_decode_batch), each n_ctx long; 0: 1 */
} hearth_ctx_params;

void hearth_ctx_params_default(hearth_ctx_params *params);

/* Creates a context on `model` (which must outlive it): KV cache, work buffers and the thread
 * pool are allocated here, once.  params may be NULL for defaults. */
hearth_status hearth_ctx_create(hearth_model *model, const hearth_ctx_params *params, hearth_ctx **out,
                                char *err, size_t err_size);
void          hearth_ctx_free(hearth_ctx *ctx); /* accepts NULL */
int32_t       hearth_ctx_n_ctx(const hearth_ctx *ctx);
int32_t       hearth_ctx_n_batch(const hearth_ctx *ctx);
int32_t       hearth_ctx_n_past(const hearth_ctx *ctx);   /* tokens now in the KV cache */
void          hearth_ctx_clear(hearth_ctx *ctx);          /* empties the KV cache */

/* Runs n_tokens (1..n_batch) through the model after the tokens already in the cache and
 * appends them to it.  *logits (may be NULL) receives n_vocab floats per token when the
 * context has logits_all, else for the last token only; valid until the next call. */
hearth_status hearth_decode(hearth_ctx *ctx, const int32_t *tokens, int32_t n_tokens, const float **logits,
                            char *err, size_t err_size);

typedef struct hearth_sampler_params {
    float    temp;              /* <= 0: greedy.  default 0.8 */
    int32_t  top_k;             /* <= 0: off.     default 40 */
    float    top_p;             /* >= 1: off.     default 0.95 */
    float    min_p;             /* <= 0: off.     default 0.05 */
    float    repeat_penalty;    /* 1: off.        default 1.0 */
    float    presence_penalty;  /* 0: off */
    float    frequency_penalty; /* 0: off */
    int32_t  repeat_last_n;     /* penalty window; default 64; -1: whole context */
    uint64_t seed;              /* RNG seed; default 0xFFFFFFFF-style fixed value */
} hearth_sampler_params;

void hearth_sampler_params_default(hearth_sampler_params *params);

/* Called for each generated token with its text piece (may be empty: bytes of an incomplete
 * UTF-8 character are held back until it completes).  A final call with token -1 carries
 * bytes still held at the end.  Return nonzero to stop generation. */
typedef int (*hearth_token_cb)(void *user, int32_t token, const char *piece, size_t piece_len);

typedef struct hearth_timings {
    double  load_s;        /* model load (hearth_model_load) */
    double  prompt_s;      /* prefill of the last generation */
    double  gen_s;         /* token-by-token decode of the last generation */
    int32_t n_prompt;
    int32_t n_gen;
} hearth_timings;

/* Clears the cache, prefills the prompt tokens, then samples up to n_predict tokens (stopping
 * early at an end-of-generation token or when cb returns nonzero), calling cb for each.  The
 * generated ids are also written to out_tokens (may be NULL; room for n_predict).  A prompt
 * plus n_predict that does not fit the context is HEARTH_ERR_RANGE.  *n_out (may be NULL)
 * receives the count generated. */
hearth_status hearth_generate_tokens(hearth_ctx *ctx, const int32_t *prompt, int32_t n_prompt, int32_t n_predict,
                                     const hearth_sampler_params *sp, hearth_token_cb cb, void *user,
                                     int32_t *out_tokens, int32_t *n_out, char *err, size_t err_size);

/* As hearth_generate_tokens, with the prompt as text tokenized by the model's tokenizer
 * (special tokens parsed, BOS added when the model asks for it). */
hearth_status hearth_generate(hearth_ctx *ctx, const char *prompt, int32_t n_predict, const hearth_sampler_params *sp,
                              hearth_token_cb cb, void *user, int32_t *n_out, char *err, size_t err_size);

/* Tokenizes text[0..len) with the model's vocabulary into out[0..cap) (add_special: BOS/EOS as
 * the model asks; parse_special: control tokens written in the text become those tokens).
 * Returns the number of tokens needed (as snprintf; out may be NULL with cap 0), or -1 when
 * the model has no vocabulary or memory runs out. */
int64_t hearth_model_tokenize(const hearth_model *model, const char *text, size_t len, int add_special,
                              int parse_special, int32_t *out, int64_t cap);

/* The BOS id the tokenizer adds with add_special, or -1 when it adds none. */
int32_t hearth_model_add_bos(const hearth_model *model);

/* Timings of the model load and of the last generation on this context. */
void hearth_ctx_timings(const hearth_ctx *ctx, hearth_timings *out);

/* ---- engine additions for the server (prompt cache, embeddings) ----------------------- */

/* Keeps the first n tokens of the context's KV cache and forgets the rest (n >= n_past, or
 * n < 0 taken as 0: see the return).  The next hearth_decode continues at position n.
 * Returns the number of tokens now in the cache: 0 when the model's sliding-window layers
 * (which keep only their window plus one batch) no longer hold what position n needs. */
int32_t hearth_ctx_truncate(hearth_ctx *ctx, int32_t n);

/* The final hidden states of the last hearth_decode on this context: after the output norm,
 * before the output projection, n_embd floats per row; one row per token of that batch when
 * the context has logits_all, else one row for its last token.  Valid until the next decode;
 * NULL before the first. *n_embd (may be NULL) receives the row width. */
const float *hearth_ctx_hidden(const hearth_ctx *ctx, int32_t *n_embd);

/* ---- engine additions for chat (multi-turn generation over a kept KV cache) ------------ */

/* As hearth_generate_tokens, but the cache is not cleared: the first n_keep tokens of the
 * cache are kept (the caller vouches that they are prompt[0..n_keep), e.g. the longest common
 * prefix of this prompt with the tokens it last put there) and only prompt[n_keep..n_prompt)
 * is prefilled.  n_keep is clamped to [0, min(n_past, n_prompt - 1)]: the last prompt token
 * is always decoded for its logits.  The sampler's penalty window sees the whole prompt.
 * Afterwards the cache holds the prompt and the generated tokens except the last one
 * (sampled, not decoded): hearth_ctx_n_past tells how many.  hearth_ctx_timings' n_prompt
 * and prompt_s count only the prefilled tokens. */
hearth_status hearth_generate_continue(hearth_ctx *ctx, const int32_t *prompt, int32_t n_prompt, int32_t n_keep,
                                       int32_t n_predict, const hearth_sampler_params *sp, hearth_token_cb cb,
                                       void *user, int32_t *out_tokens, int32_t *n_out, char *err,
                                       size_t err_size);

/* ---- engine additions for batched serving (several sequences in one context) ---------- */
/* A context created with n_seq > 1 holds one KV cache per sequence and shares its thread pool
 * and work buffers between them.  hearth_decode, hearth_ctx_n_past / _clear / _truncate and
 * the generate functions work on sequence 0.  hearth_decode_batch runs tokens of several
 * sequences in ONE forward pass (the weights are read once for all of them); each token
 * attends only to its own sequence.  Every step of the pass is per token, so a token gets the
 * same logits whatever else shares its batch. */

typedef struct hearth_batch_token {
    int32_t token;
    int32_t seq;    /* 0..n_seq-1 */
    int32_t pos;    /* position in its sequence: at most the tokens cached before it (a smaller
                       one rewrites the sequence from there, as hearth_seq_truncate) */
    int32_t logits; /* nonzero: return this token's logits */
} hearth_batch_token;

/* The per-token arithmetic of a pass follows the reference's, which depends on how many
 * consecutive tokens of one sequence share the pass (the "run"): a run of 1 token rounds as
 * a decode step, runs of 2-3 and 4-7 tokens as the reference's small batches.  Every run of at
 * least HEARTH_STABLE_RUN tokens gives each of its tokens the same bits, however long it is
 * and wherever it starts.  So a prompt split into pieces of at least this many tokens (or
 * prefilled whole) gets the same logits however it was split: the server keeps to that, so
 * that a request's output does not depend on what else was running or cached. */
#define HEARTH_STABLE_RUN 8

int32_t hearth_ctx_n_seq(const hearth_ctx *ctx);
/* Tokens in a sequence's cache; -1 for a sequence out of range. */
int32_t hearth_seq_n_past(const hearth_ctx *ctx, int32_t seq);
/* Empties one sequence's cache (out of range: nothing). */
void    hearth_seq_clear(hearth_ctx *ctx, int32_t seq);
/* As hearth_ctx_truncate, for one sequence: keeps its first n tokens; returns how many it now
 * holds, -1 for a sequence out of range. */
int32_t hearth_seq_truncate(hearth_ctx *ctx, int32_t seq, int32_t n);

/* Runs batch[0..n) (1 <= n <= n_batch) through the model in one pass.  Entries are taken in
 * order: each pos must be at most the number of tokens its sequence holds at that point (the
 * cache plus earlier entries of the batch), and below n_ctx.  Afterwards a sequence holds
 * the tokens up to its last entry's pos.  *logits (may be NULL) receives n_vocab floats per
 * entry that asked for them, in batch order; at most max(n_seq, 1) such entries, n_batch with
 * logits_all.  *n_logits (may be NULL) receives the row count.  Valid until the next decode.
 * On error nothing changes in any sequence. */
hearth_status hearth_decode_batch(hearth_ctx *ctx, const hearth_batch_token *batch, int32_t n, const float **logits,
                                  int32_t *n_logits, char *err, size_t err_size);

#ifdef __cplusplus
}
#endif
#endif /* HEARTH_H */
