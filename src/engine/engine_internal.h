/*
 * engine_internal.h — what the files of src/engine/ other than engine.c need to see of a
 * context: its model, tokenizer, vocabulary size and end-of-generation fallback, and its
 * timings record.  Internal to libhearth.
 */
#ifndef HEARTH_ENGINE_INTERNAL_H
#define HEARTH_ENGINE_INTERNAL_H

#include "hearth.h"
#include "tokenizer/tokenizer.h"

#include <stdbool.h>

typedef struct engine_view {
    hearth_model   *hm;
    tokenizer      *tok;     /* NULL when the file has no vocabulary */
    int32_t         n_vocab;
    int32_t         eos;     /* end of generation when there is no tokenizer; -1: none */
    bool            logits_all; /* hearth_decode returns one logits row per token */
    hearth_timings *t;       /* the context's timings, written by generation */
} engine_view;

/* Fills v with borrowed views into ctx (valid while ctx lives). */
void engine_ctx_view(hearth_ctx *ctx, engine_view *v);

#endif /* HEARTH_ENGINE_INTERNAL_H */
