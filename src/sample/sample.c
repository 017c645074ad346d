/*
 * sample.c — the sampler chain (see sample.h).  Buffers are allocated once at creation:
 * candidates (n_vocab), penalty counts (n_vocab) and the last-n ring.
 */
#include "sample/sample.h"

#include "core/core.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct cand {
    float   logit;
    int32_t id;
} cand;

struct sampler {
    hearth_sampler_params p;
    int64_t  n_vocab;
    cand    *c;        /* (n_vocab) working candidates */
    int32_t *count;    /* (n_vocab) occurrences in the penalty window */
    int32_t *ring;     /* (last_n) recent tokens */
    int32_t  last_n, ring_len, ring_head;
    uint64_t rng[4];   /* xoshiro256** state */
};

void hearth_sampler_params_default(hearth_sampler_params *p) {
    memset(p, 0, sizeof *p);
    p->temp = 0.8f;
    p->top_k = 40;
    p->top_p = 0.95f;
    p->min_p = 0.05f;
    p->repeat_penalty = 1.0f;
    p->repeat_last_n = 64;
    p->seed = 0xFFFFFFFFu;
}

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rng_next(uint64_t *s) {
    const uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]; s[2] ^= t; s[3] = rotl(s[3], 45);
    return r;
}

/* Uniform in [0, 1). */
static double rng_uniform(uint64_t *s) { return (double)(rng_next(s) >> 11) * (1.0 / 9007199254740992.0); }

sampler *sampler_create(const hearth_sampler_params *p, int64_t n_vocab) {
    if (n_vocab < 1) return NULL;
    sampler *s = hearth_calloc(1, sizeof *s);
    if (!s) return NULL;
    s->p = *p;
    s->n_vocab = n_vocab;
    s->last_n = p->repeat_last_n < 0 ? 65536 : p->repeat_last_n;
    s->c = hearth_malloc_array((size_t)n_vocab, sizeof *s->c);
    s->count = hearth_calloc((size_t)n_vocab, sizeof *s->count);
    s->ring = hearth_malloc_array((size_t)(s->last_n > 0 ? s->last_n : 1), sizeof *s->ring);
    if (!s->c || !s->count || !s->ring) {
        sampler_free(s);
        return NULL;
    }
    sampler_reset(s);
    return s;
}

void sampler_free(sampler *s) {
    if (!s) return;
    free(s->c);
    free(s->count);
    free(s->ring);
    free(s);
}

void sampler_reset(sampler *s) {
    memset(s->count, 0, (size_t)s->n_vocab * sizeof *s->count);
    s->ring_len = s->ring_head = 0;
    uint64_t x = s->p.seed;
    for (int i = 0; i < 4; i++) s->rng[i] = splitmix64(&x);
}

void sampler_accept(sampler *s, int32_t token) {
    if (s->last_n <= 0 || token < 0 || token >= s->n_vocab) return;
    if (s->ring_len == s->last_n) { /* evict the oldest */
        s->count[s->ring[s->ring_head]]--;
        s->ring[s->ring_head] = token;
        s->ring_head = (s->ring_head + 1) % s->last_n;
    } else {
        s->ring[(s->ring_head + s->ring_len) % s->last_n] = token;
        s->ring_len++;
    }
    s->count[token]++;
}

static int cand_desc(const void *a, const void *b) {
    const cand *x = a, *y = b;
    if (x->logit != y->logit) return x->logit < y->logit ? 1 : -1;
    return x->id - y->id;
}

/* Min-heap on logit, used to keep the k largest candidates. */
static void heap_down(cand *h, int64_t n, int64_t i) {
    for (;;) {
        int64_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && h[l].logit < h[m].logit) m = l;
        if (r < n && h[r].logit < h[m].logit) m = r;
        if (m == i) return;
        cand t = h[i]; h[i] = h[m]; h[m] = t;
        i = m;
    }
}

/* Keeps the k best of c[0..n) sorted descending in c[0..k); returns k. */
static int64_t top_k(cand *c, int64_t n, int64_t k) {
    if (k >= n) {
        qsort(c, (size_t)n, sizeof *c, cand_desc);
        return n;
    }
    for (int64_t i = k / 2 - 1; i >= 0; i--) heap_down(c, k, i);
    for (int64_t i = k; i < n; i++) {
        if (c[i].logit > c[0].logit) {
            c[0] = c[i];
            heap_down(c, k, 0);
        }
    }
    qsort(c, (size_t)k, sizeof *c, cand_desc);
    return k;
}

int32_t sampler_sample(sampler *s, const float *logits) {
    const hearth_sampler_params *p = &s->p;
    cand *c = s->c;
    int64_t n = s->n_vocab;
    const bool penalize = s->last_n > 0 && s->ring_len > 0 &&
                          (p->repeat_penalty != 1.0f || p->frequency_penalty != 0.0f || p->presence_penalty != 0.0f);
    /* greedy with nothing to penalize: the maximum of the logits (lowest id on ties), no copy */
    if (p->temp <= 0.0f && !penalize) {
        int64_t best = 0;
        for (int64_t i = 1; i < n; i++)
            if (logits[i] > logits[best]) best = i;
        return (int32_t)best;
    }
    for (int64_t i = 0; i < n; i++) {
        c[i].logit = logits[i];
        c[i].id = (int32_t)i;
    }
    /* 1. penalties over the last-n window */
    if (penalize) {
        for (int32_t j = 0; j < s->ring_len; j++) {
            int32_t t = s->ring[(s->ring_head + j) % s->last_n];
            int32_t cnt = s->count[t];
            if (cnt <= 0 || c[t].id != t) continue; /* already done (a repeat in the ring) */
            float l = c[t].logit;
            l = l <= 0.0f ? l * p->repeat_penalty : l / p->repeat_penalty;
            l -= (float)cnt * p->frequency_penalty + p->presence_penalty;
            c[t].logit = l;
            c[t].id = -1 - t; /* mark as done */
        }
        for (int32_t j = 0; j < s->ring_len; j++) {
            int32_t t = s->ring[(s->ring_head + j) % s->last_n];
            c[t].id = t;
        }
    }
    /* greedy: the maximum after penalties (lowest id on ties) */
    if (p->temp <= 0.0f) {
        int64_t best = 0;
        for (int64_t i = 1; i < n; i++)
            if (c[i].logit > c[best].logit) best = i;
        return c[best].id;
    }
    /* 2. top-k (sorted descending from here on) */
    n = top_k(c, n, p->top_k > 0 ? p->top_k : n);
    /* 3. top-p: the smallest prefix whose probability reaches p */
    if (p->top_p < 1.0f) {
        double sum = 0.0, cum = 0.0;
        for (int64_t i = 0; i < n; i++) sum += exp((double)c[i].logit - c[0].logit);
        for (int64_t i = 0; i < n; i++) {
            cum += exp((double)c[i].logit - c[0].logit) / sum;
            if (cum >= p->top_p) {
                n = i + 1;
                break;
            }
        }
    }
    /* 4. min-p: drop tokens below min_p times the best probability */
    if (p->min_p > 0.0f) {
        const float thr = c[0].logit + logf(p->min_p);
        int64_t keep = 1;
        while (keep < n && c[keep].logit >= thr) keep++;
        n = keep;
    }
    /* 5. temperature, 6. draw */
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) sum += exp(((double)c[i].logit - c[0].logit) / p->temp);
    double r = rng_uniform(s->rng) * sum, cum = 0.0;
    for (int64_t i = 0; i < n; i++) {
        cum += exp(((double)c[i].logit - c[0].logit) / p->temp);
        if (r < cum) return c[i].id;
    }
    return c[n - 1].id;
}
