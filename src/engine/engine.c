/*
 * engine.c — the layer the CLI and the server share (hearth.h, engine section): a model
 * (weights + tokenizer), a context (KV cache, buffers, thread pool), prefill/decode and the
 * generation loop with a streaming callback and timings.
 */
#include "core/core.h"
#include "model/model.h"
#include "sample/sample.h"
#include "tokenizer/tokenizer.h"

#include <stdlib.h>
#include <string.h>

struct hearth_model {
    model     *m;
    tokenizer *tok;      /* NULL when the file has no vocabulary */
    double     load_s;
    int32_t    eos;      /* from metadata, used when there is no tokenizer */
};

struct hearth_ctx {
    hearth_model   *hm;
    model_state    *st;
    int32_t         n_seq;
    int32_t        *past;    /* (n_seq) tokens in each sequence's KV cache; hearth_decode uses 0 */
    int32_t        *next;    /* (n_seq) scratch of hearth_decode_batch */
    int32_t        *b_tok, *b_seq, *b_pos; /* (n_batch) the batch split into columns */
    uint8_t        *b_out;
    int64_t         n_hidden; /* rows of the last hearth_decode_batch; -1 after hearth_decode */
    int32_t         n_ctx, n_batch;
    bool            logits_all;
    hearth_timings  t;
};

hearth_status hearth_model_load(const char *path, hearth_model **out, char *err, size_t err_size) {
    *out = NULL;
    double t0 = hearth_time_s();
    hearth_model *hm = hearth_calloc(1, sizeof *hm);
    if (!hm) return hearth_err(err, err_size, HEARTH_ERR_NOMEM, "out of memory");
    hearth_status st = model_load(path, &hm->m, err, err_size);
    if (st != HEARTH_OK) {
        free(hm);
        return st;
    }
    hm->eos = -1;
    uint32_t eos;
    if (gguf_get_u32(hm->m->gguf, "tokenizer.ggml.eos_token_id", &eos)) hm->eos = (int32_t)eos;
    if (gguf_find(hm->m->gguf, "tokenizer.ggml.tokens")) {
        st = tokenizer_load(hm->m->gguf, &hm->tok, err, err_size);
        if (st != HEARTH_OK) {
            hearth_model_free(hm);
            return st;
        }
    }
    hm->load_s = hearth_time_s() - t0;
    *out = hm;
    return HEARTH_OK;
}

void hearth_model_free(hearth_model *hm) {
    if (!hm) return;
    tokenizer_free(hm->tok);
    model_free(hm->m);
    free(hm);
}

int32_t     hearth_model_n_vocab(const hearth_model *hm) { return (int32_t)hm->m->hp.n_vocab; }
int32_t     hearth_model_n_ctx_train(const hearth_model *hm) {
    return hm->m->hp.n_ctx_train > INT32_MAX ? INT32_MAX : (int32_t)hm->m->hp.n_ctx_train;
}
const char *hearth_model_arch(const hearth_model *hm) { return hm->m->info->name; }
uint64_t    hearth_model_file_size(const hearth_model *hm) { return gguf_file_size(hm->m->gguf); }

void hearth_ctx_params_default(hearth_ctx_params *p) {
    memset(p, 0, sizeof *p);
}

hearth_status hearth_ctx_create(hearth_model *hm, const hearth_ctx_params *params, hearth_ctx **out, char *err,
                                size_t err_size) {
    *out = NULL;
    hearth_ctx_params p;
    if (params) p = *params;
    else hearth_ctx_params_default(&p);
    if (p.n_ctx < 0 || p.n_batch < 0 || p.n_threads < 0 || p.n_seq < 0)
        return hearth_err(err, err_size, HEARTH_ERR_ARG, "negative context, batch, thread or sequence count");
    int64_t n_ctx = p.n_ctx ? p.n_ctx : HEARTH_MIN(hm->m->hp.n_ctx_train, 4096);
    int64_t n_batch = p.n_batch ? p.n_batch : 256;
    if (n_batch > n_ctx) n_batch = n_ctx;
    int n_threads = p.n_threads ? p.n_threads : hearth_physical_cores();
    int32_t n_seq = p.n_seq ? p.n_seq : 1;
    hearth_ctx *c = hearth_calloc(1, sizeof *c);
    if (!c) return hearth_err(err, err_size, HEARTH_ERR_NOMEM, "out of memory");
    hearth_status st = model_state_create(hm->m, n_ctx, n_batch, n_seq, p.logits_all != 0, n_threads, &c->st, err,
                                          err_size);
    if (st != HEARTH_OK) {
        free(c);
        return st;
    }
    c->n_seq = n_seq;
    c->past = hearth_calloc((size_t)n_seq, sizeof *c->past);
    c->next = hearth_calloc((size_t)n_seq, sizeof *c->next);
    c->b_tok = hearth_malloc_array((size_t)n_batch, sizeof *c->b_tok);
    c->b_seq = hearth_malloc_array((size_t)n_batch, sizeof *c->b_seq);
    c->b_pos = hearth_malloc_array((size_t)n_batch, sizeof *c->b_pos);
    c->b_out = hearth_malloc_array((size_t)n_batch, sizeof *c->b_out);
    c->n_hidden = -1;
    if (!c->past || !c->next || !c->b_tok || !c->b_seq || !c->b_pos || !c->b_out) {
        hearth_ctx_free(c);
        return hearth_err(err, err_size, HEARTH_ERR_NOMEM, "out of memory");
    }
    c->hm = hm;
    c->n_ctx = (int32_t)n_ctx;
    c->n_batch = (int32_t)n_batch;
    c->logits_all = p.logits_all != 0;
    c->t.load_s = hm->load_s;
    *out = c;
    return HEARTH_OK;
}

void hearth_ctx_free(hearth_ctx *c) {
    if (!c) return;
    model_state_free(c->st);
    free(c->past);
    free(c->next);
    free(c->b_tok);
    free(c->b_seq);
    free(c->b_pos);
    free(c->b_out);
    free(c);
}

int32_t hearth_ctx_n_ctx(const hearth_ctx *c) { return c->n_ctx; }
int32_t hearth_ctx_n_batch(const hearth_ctx *c) { return c->n_batch; }
int32_t hearth_ctx_n_past(const hearth_ctx *c) { return c->past[0]; }
void    hearth_ctx_clear(hearth_ctx *c) { c->past[0] = 0; }

hearth_status hearth_decode(hearth_ctx *c, const int32_t *tokens, int32_t n, const float **logits, char *err,
                            size_t err_size) {
    const float *lg = NULL;
    if (!tokens || n < 1) return hearth_err(err, err_size, HEARTH_ERR_ARG, "decode: no tokens");
    hearth_status st = model_forward(c->hm->m, c->st, tokens, n, c->past[0], &lg, err, err_size);
    if (st != HEARTH_OK) return st;
    c->past[0] += n;
    c->n_hidden = -1;
    if (logits) *logits = lg;
    return HEARTH_OK;
}

void hearth_ctx_timings(const hearth_ctx *c, hearth_timings *out) { *out = c->t; }

static bool is_eog(const hearth_model *hm, int32_t id) {
    if (hm->tok) return tokenizer_is_eog(hm->tok, id);
    return id == hm->eos;
}

hearth_status hearth_generate_tokens(hearth_ctx *c, const int32_t *prompt, int32_t n_prompt, int32_t n_predict,
                                     const hearth_sampler_params *sp, hearth_token_cb cb, void *user,
                                     int32_t *out_tokens, int32_t *n_out, char *err, size_t err_size) {
    hearth_model *hm = c->hm;
    if (n_out) *n_out = 0;
    if (n_prompt < 1 || !prompt) return hearth_err(err, err_size, HEARTH_ERR_ARG, "empty prompt");
    if (n_predict < 0) return hearth_err(err, err_size, HEARTH_ERR_ARG, "negative number of tokens to predict");
    if ((int64_t)n_prompt + n_predict > c->n_ctx)
        return hearth_err(err, err_size, HEARTH_ERR_RANGE,
                          "the prompt (%d tokens) plus %d tokens to generate do not fit the context of %d tokens "
                          "(use -c to enlarge it)",
                          n_prompt, n_predict, c->n_ctx);
    hearth_sampler_params dp;
    if (!sp) {
        hearth_sampler_params_default(&dp);
        sp = &dp;
    }
    sampler *smp = sampler_create(sp, hm->m->hp.n_vocab);
    if (!smp) return hearth_err(err, err_size, HEARTH_ERR_NOMEM, "out of memory for the sampler");
    hearth_status st = HEARTH_OK;
    hearth_buf piece = { 0 };
    tok_stream ts;
    if (hm->tok) tok_stream_init(&ts, hm->tok, false);
    c->past[0] = 0;
    c->t.n_prompt = n_prompt;
    c->t.n_gen = 0;
    c->t.gen_s = 0;

    /* prefill in batches of n_batch */
    double t0 = hearth_time_s();
    const float *logits = NULL;
    for (int32_t i = 0; i < n_prompt; i += c->n_batch) {
        int32_t nb = HEARTH_MIN(c->n_batch, n_prompt - i);
        st = hearth_decode(c, prompt + i, nb, &logits, err, err_size);
        if (st != HEARTH_OK) goto done;
        if (c->logits_all) logits += (size_t)(nb - 1) * (size_t)hm->m->hp.n_vocab; /* the last row */
    }
    for (int32_t i = 0; i < n_prompt; i++) sampler_accept(smp, prompt[i]);
    c->t.prompt_s = hearth_time_s() - t0;

    /* decode token by token */
    t0 = hearth_time_s();
    for (int32_t k = 0; k < n_predict; k++) {
        int32_t id = sampler_sample(smp, logits);
        sampler_accept(smp, id);
        if (out_tokens) out_tokens[k] = id;
        c->t.n_gen++;
        if (n_out) *n_out = c->t.n_gen;
        bool stop = is_eog(hm, id);
        if (cb) {
            piece.len = 0;
            if (piece.data) piece.data[0] = 0;
            if (hm->tok && !stop) tok_stream_push(&ts, id, &piece);
            if (cb(user, id, piece.data ? piece.data : "", piece.len)) stop = true;
        }
        if (stop || k + 1 == n_predict) break;
        st = hearth_decode(c, &id, 1, &logits, err, err_size);
        if (st != HEARTH_OK) goto done;
    }
    if (cb && hm->tok) {
        piece.len = 0;
        tok_stream_flush(&ts, &piece);
        if (piece.len) cb(user, -1, piece.data, piece.len);
    }
done:
    c->t.gen_s = hearth_time_s() - t0;
    hearth_buf_free(&piece);
    sampler_free(smp);
    return st;
}

hearth_status hearth_generate(hearth_ctx *c, const char *prompt, int32_t n_predict, const hearth_sampler_params *sp,
                              hearth_token_cb cb, void *user, int32_t *n_out, char *err, size_t err_size) {
    if (!c->hm->tok) return hearth_err(err, err_size, HEARTH_ERR_UNSUPPORTED, "the model file has no vocabulary");
    tok_ids ids = { 0 };
    hearth_status st = tokenizer_tokenize(c->hm->tok, prompt, strlen(prompt), true, true, &ids, err, err_size);
    if (st == HEARTH_OK)
        st = hearth_generate_tokens(c, ids.data, (int32_t)ids.len, n_predict, sp, cb, user, NULL, n_out, err,
                                    err_size);
    tok_ids_free(&ids);
    return st;
}

int64_t hearth_model_tokenize(const hearth_model *hm, const char *text, size_t len, int add_special, int parse_special,
                              int32_t *out, int64_t cap) {
    if (!hm->tok) return -1;
    tok_ids ids = { 0 };
    if (tokenizer_tokenize(hm->tok, text, len, add_special != 0, parse_special != 0, &ids, NULL, 0) != HEARTH_OK) {
        tok_ids_free(&ids);
        return -1;
    }
    int64_t n = (int64_t)ids.len;
    if (out && cap > 0) memcpy(out, ids.data, (size_t)HEARTH_MIN(n, cap) * sizeof *out);
    tok_ids_free(&ids);
    return n;
}

int32_t hearth_model_add_bos(const hearth_model *hm) {
    if (!hm->tok || !tokenizer_add_bos(hm->tok)) return -1;
    return tokenizer_bos(hm->tok);
}

/* ---- engine additions for the server (prompt cache, embeddings) ------------------------- */

int32_t hearth_ctx_truncate(hearth_ctx *c, int32_t n) {
    return hearth_seq_truncate(c, 0, n);
}

const float *hearth_ctx_hidden(const hearth_ctx *c, int32_t *n_embd) {
    if (n_embd) *n_embd = (int32_t)c->hm->m->hp.n_embd;
    if (c->n_hidden >= 0) return c->n_hidden > 0 ? model_state_hidden(c->st) : NULL;
    return c->past[0] > 0 ? model_state_hidden(c->st) : NULL;
}

/* ---- engine additions for batched serving (several sequences in one context) ------------ */

int32_t hearth_ctx_n_seq(const hearth_ctx *c) { return c->n_seq; }

int32_t hearth_seq_n_past(const hearth_ctx *c, int32_t seq) {
    return seq >= 0 && seq < c->n_seq ? c->past[seq] : -1;
}

void hearth_seq_clear(hearth_ctx *c, int32_t seq) {
    if (seq >= 0 && seq < c->n_seq) c->past[seq] = 0;
}

int32_t hearth_seq_truncate(hearth_ctx *c, int32_t seq, int32_t n) {
    if (seq < 0 || seq >= c->n_seq) return -1;
    if (n < 0) n = 0;
    /* positions >= n are overwritten by the next decode; a sliding-window layer may no longer
     * hold the window position n needs, and then the sequence starts again from 0 */
    if (n < c->past[seq]) c->past[seq] = (int32_t)model_state_seq_keep(c->st, seq, n);
    return c->past[seq];
}

hearth_status hearth_decode_batch(hearth_ctx *c, const hearth_batch_token *batch, int32_t n, const float **logits,
                                  int32_t *n_logits, char *err, size_t err_size) {
    if (n_logits) *n_logits = 0;
    if (!batch || n < 1) return hearth_err(err, err_size, HEARTH_ERR_ARG, "decode: no tokens");
    if (n > c->n_batch)
        return hearth_err(err, err_size, HEARTH_ERR_ARG, "decode: batch of %d tokens (limit %d)", n, c->n_batch);
    /* each token continues its sequence (or rewrites a position already there) */
    memcpy(c->next, c->past, (size_t)c->n_seq * sizeof *c->next);
    for (int32_t i = 0; i < n; i++) {
        const hearth_batch_token *b = &batch[i];
        if (b->seq < 0 || b->seq >= c->n_seq)
            return hearth_err(err, err_size, HEARTH_ERR_ARG, "decode: sequence %d out of range [0, %d)", b->seq,
                              c->n_seq);
        if (b->pos < 0 || b->pos > c->next[b->seq])
            return hearth_err(err, err_size, HEARTH_ERR_ARG,
                              "decode: position %d of sequence %d does not follow its %d cached tokens", b->pos,
                              b->seq, c->next[b->seq]);
        if (b->pos >= c->n_ctx)
            return hearth_err(err, err_size, HEARTH_ERR_RANGE, "decode: position %d exceeds the context of %d tokens",
                              b->pos, c->n_ctx);
        c->next[b->seq] = b->pos + 1;
        c->b_tok[i] = b->token;
        c->b_seq[i] = b->seq;
        c->b_pos[i] = b->pos;
        c->b_out[i] = b->logits != 0;
    }
    model_batch mb = { .tokens = c->b_tok, .seq = c->b_seq, .pos = c->b_pos, .out = c->b_out, .n = n };
    const float *lg = NULL;
    int64_t n_out = 0;
    hearth_status st = model_forward_batch(c->hm->m, c->st, &mb, &lg, &n_out, err, err_size);
    if (st != HEARTH_OK) return st;
    memcpy(c->past, c->next, (size_t)c->n_seq * sizeof *c->past);
    c->n_hidden = n_out;
    if (logits) *logits = lg;
    if (n_logits) *n_logits = (int32_t)n_out;
    return HEARTH_OK;
}

/* ---- internal view for the other files of src/engine/ (engine_internal.h) ---------------- */

#include "engine/engine_internal.h"

void engine_ctx_view(hearth_ctx *c, engine_view *v) {
    v->hm = c->hm;
    v->tok = c->hm->tok;
    v->n_vocab = (int32_t)c->hm->m->hp.n_vocab;
    v->eos = c->hm->eos;
    v->logits_all = c->logits_all;
    v->t = &c->t;
}
