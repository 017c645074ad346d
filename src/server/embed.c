/*
 * embed.c — embeddings for /v1/embeddings and /api/embed.
 *
 * Pooling: the text is tokenized as a prompt (BOS as the model asks), run through the model
 * on a dedicated context, and the final hidden states (after the output norm, before the
 * output projection: the vectors the logits are computed from) of ALL its tokens are
 * averaged (mean pooling), then scaled to unit L2 norm.  The vector has n_embd entries.
 * One embedding runs at a time; it shares the CPU with the generation slots.
 */
#include "server/server.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

hearth_status srv_embed(server *srv, const char *text, size_t len, float *out, int32_t *n_tokens, char *err,
                        size_t err_size) {
    tok_ids ids = { 0 };
    *n_tokens = 0;
    hearth_status st = srv_model_tokenize(&srv->model, text, len, true, &ids, err, err_size);
    if (st != HEARTH_OK) {
        tok_ids_free(&ids);
        return st;
    }
    if (ids.len == 0) {
        tok_ids_free(&ids);
        return hearth_err(err, err_size, HEARTH_ERR_ARG, "empty input");
    }
    pthread_mutex_lock(srv->embd_mu);
    if (!srv->embd_ctx) {
        hearth_ctx_params p;
        hearth_ctx_params_default(&p);
        p.n_ctx = sched_backend_n_ctx(srv->be);
        p.n_threads = srv->cfg.n_threads;
        p.logits_all = 1;
        st = hearth_ctx_create(srv->model.hm, &p, &srv->embd_ctx, err, err_size);
    }
    hearth_ctx *c = srv->embd_ctx;
    int32_t n_embd = 0;
    double *sum = NULL;
    if (st == HEARTH_OK && (int64_t)ids.len > hearth_ctx_n_ctx(c))
        st = hearth_err(err, err_size, HEARTH_ERR_RANGE, "the input has %zu tokens; the context holds %d", ids.len,
                        hearth_ctx_n_ctx(c));
    if (st == HEARTH_OK) {
        hearth_ctx_clear(c);
        hearth_ctx_hidden(c, &n_embd);
        if (n_embd != srv->model.n_embd || !(sum = calloc((size_t)n_embd, sizeof *sum)))
            st = hearth_err(err, err_size, HEARTH_ERR_NOMEM, "out of memory");
    }
    int32_t nb = st == HEARTH_OK ? hearth_ctx_n_batch(c) : 0;
    for (size_t i = 0; st == HEARTH_OK && i < ids.len; i += (size_t)nb) {
        int32_t n = (int32_t)HEARTH_MIN((size_t)nb, ids.len - i);
        st = hearth_decode(c, ids.data + i, n, NULL, err, err_size);
        const float *h = st == HEARTH_OK ? hearth_ctx_hidden(c, NULL) : NULL;
        for (int32_t r = 0; h && r < n; r++)
            for (int32_t k = 0; k < n_embd; k++) sum[k] += h[(size_t)r * (size_t)n_embd + (size_t)k];
    }
    if (st == HEARTH_OK) {
        double norm = 0;
        for (int32_t k = 0; k < n_embd; k++) {
            sum[k] /= (double)ids.len;
            norm += sum[k] * sum[k];
        }
        norm = sqrt(norm);
        for (int32_t k = 0; k < n_embd; k++) out[k] = (float)(norm > 0 ? sum[k] / norm : 0);
        *n_tokens = (int32_t)ids.len;
    }
    if (c) hearth_ctx_clear(c);
    pthread_mutex_unlock(srv->embd_mu);
    free(sum);
    tok_ids_free(&ids);
    return st;
}
