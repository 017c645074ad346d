/*
 * sample.h — the sampler chain, in the reference engine's (llama.cpp's) order and semantics:
 *   penalties (repeat / frequency / presence over the last-n tokens) -> top-k -> top-p ->
 *   min-p -> temperature -> draw from the softmax with a seeded RNG.
 * temperature <= 0 is greedy (the most likely token after penalties).  The same seed and
 * inputs give the same tokens.  Internal to libhearth.
 */
#ifndef HEARTH_SAMPLE_H
#define HEARTH_SAMPLE_H

#include "hearth.h"

#include <stdint.h>

typedef struct sampler sampler;

/* Creates a sampler for n_vocab tokens with params p (copied); NULL when out of memory. */
sampler *sampler_create(const hearth_sampler_params *p, int64_t n_vocab);
void     sampler_free(sampler *s);
/* Forgets the token history (penalties) and reseeds the RNG. */
void     sampler_reset(sampler *s);
/* Records a token (prompt or generated) in the penalty window. */
void     sampler_accept(sampler *s, int32_t token);
/* Picks the next token from n_vocab logits (not modified). */
int32_t  sampler_sample(sampler *s, const float *logits);

#endif /* HEARTH_SAMPLE_H */
