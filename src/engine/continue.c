/*
 * continue.c — generation that continues after the tokens already in the KV cache (hearth.h,
 * "engine additions for chat"): a multi-turn chat keeps its cache between turns and prefills
 * only the part of each new prompt the cache does not already hold.
 */
#include "core/core.h"
#include "engine/engine_internal.h"
#include "sample/sample.h"

#include <string.h>

hearth_status hearth_generate_continue(hearth_ctx *c, const int32_t *prompt, int32_t n_prompt, int32_t n_keep,
                                       int32_t n_predict, const hearth_sampler_params *sp, hearth_token_cb cb,
                                       void *user, int32_t *out_tokens, int32_t *n_out, char *err,
                                       size_t err_size) {
    engine_view v;
    engine_ctx_view(c, &v);
    if (n_out) *n_out = 0;
    if (n_prompt < 1 || !prompt) return hearth_err(err, err_size, HEARTH_ERR_ARG, "empty prompt");
    if (n_predict < 0) return hearth_err(err, err_size, HEARTH_ERR_ARG, "negative number of tokens to predict");
    const int32_t n_ctx = hearth_ctx_n_ctx(c), n_batch = hearth_ctx_n_batch(c);
    if ((int64_t)n_prompt + n_predict > n_ctx)
        return hearth_err(err, err_size, HEARTH_ERR_RANGE,
                          "the prompt (%d tokens) plus %d tokens to generate do not fit the context of %d tokens",
                          n_prompt, n_predict, n_ctx);

    /* keep what the caller vouches for, but decode at least the last prompt token for its logits */
    if (n_keep < 0) n_keep = 0;
    if (n_keep > n_prompt - 1) n_keep = n_prompt - 1;
    n_keep = hearth_ctx_truncate(c, n_keep);

    hearth_sampler_params dp;
    if (!sp) {
        hearth_sampler_params_default(&dp);
        sp = &dp;
    }
    sampler *smp = sampler_create(sp, v.n_vocab);
    if (!smp) return hearth_err(err, err_size, HEARTH_ERR_NOMEM, "out of memory for the sampler");
    hearth_status st = HEARTH_OK;
    hearth_buf piece = { 0 };
    tok_stream ts;
    if (v.tok) tok_stream_init(&ts, v.tok, false);
    v.t->n_prompt = n_prompt - n_keep;
    v.t->n_gen = 0;
    v.t->gen_s = 0;

    /* prefill the new part in batches; logits of the last row (one row per token with logits_all) */
    double t0 = hearth_time_s();
    const float *logits = NULL;
    for (int32_t i = n_keep; i < n_prompt; i += n_batch) {
        int32_t nb = HEARTH_MIN(n_batch, n_prompt - i);
        const float *lg = NULL;
        st = hearth_decode(c, prompt + i, nb, &lg, err, err_size);
        if (st != HEARTH_OK) goto done;
        logits = lg;
        if (v.logits_all) logits += (size_t)(nb - 1) * (size_t)v.n_vocab;
    }
    for (int32_t i = 0; i < n_prompt; i++) sampler_accept(smp, prompt[i]);
    v.t->prompt_s = hearth_time_s() - t0;

    /* then token by token, as hearth_generate_tokens */
    t0 = hearth_time_s();
    for (int32_t k = 0; k < n_predict; k++) {
        int32_t id = sampler_sample(smp, logits);
        sampler_accept(smp, id);
        if (out_tokens) out_tokens[k] = id;
        v.t->n_gen++;
        if (n_out) *n_out = v.t->n_gen;
        bool stop = v.tok ? tokenizer_is_eog(v.tok, id) : id == v.eos;
        if (cb) {
            piece.len = 0;
            if (piece.data) piece.data[0] = 0;
            if (v.tok && !stop) tok_stream_push(&ts, id, &piece);
            if (cb(user, id, piece.data ? piece.data : "", piece.len)) stop = true;
        }
        if (stop || k + 1 == n_predict) break;
        st = hearth_decode(c, &id, 1, &logits, err, err_size);
        if (st != HEARTH_OK) goto done;
    }
    if (cb && v.tok) {
        piece.len = 0;
        tok_stream_flush(&ts, &piece);
        if (piece.len) cb(user, -1, piece.data, piece.len);
    }
done:
    v.t->gen_s = hearth_time_s() - t0;
    hearth_buf_free(&piece);
    sampler_free(smp);
    return st;
}
