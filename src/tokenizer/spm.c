/*
 * spm.c — SentencePiece-style BPE (tokenizer.ggml.model = "llama").
 *
 * Spaces are written as U+2581; the text is cut into UTF-8 characters (a malformed byte is a
 * character of its own); the adjacent pair whose concatenation is a token with the highest
 * score is merged, repeatedly (ties: the leftmost pair).  A final symbol that is not a token
 * falls back to its bytes as <0xXX> tokens.
 */
#include "tokenizer/tok_internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct spm_sym {
    int32_t  prev, next;
    uint32_t off, n;
} spm_sym;

typedef struct spm_pair {
    int32_t  left, right;
    float    score;
    uint32_t size;
} spm_pair;

typedef struct spm_heap {
    spm_pair *v;
    size_t    n, cap;
} spm_heap;

static bool pair_better(const spm_pair *x, const spm_pair *y) {
    return x->score > y->score || (x->score == y->score && x->left < y->left);
}

static bool heap_push(spm_heap *h, spm_pair p) {
    if (h->n == h->cap) {
        size_t ncap = h->cap ? h->cap * 2 : 64;
        spm_pair *nv = realloc(h->v, ncap * sizeof *nv);
        if (!nv) return false;
        h->v = nv;
        h->cap = ncap;
    }
    size_t i = h->n++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!pair_better(&p, &h->v[parent])) break;
        h->v[i] = h->v[parent];
        i = parent;
    }
    h->v[i] = p;
    return true;
}

static spm_pair heap_pop(spm_heap *h) {
    spm_pair top = h->v[0], last = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && pair_better(&h->v[c + 1], &h->v[c])) c++;
        if (!pair_better(&h->v[c], &last)) break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (h->n) h->v[i] = last;
    return top;
}

static void try_pair(const tokenizer *t, const char *text, spm_sym *sym, spm_heap *h, int32_t left, int32_t right,
                     bool *ok) {
    if (left < 0 || right < 0) return;
    int32_t id = tokenizer_find(t, text + sym[left].off, sym[left].n + sym[right].n);
    if (id < 0) return;
    spm_pair p = { left, right, t->tokens[id].score, sym[left].n + sym[right].n };
    if (!heap_push(h, p)) *ok = false;
}

bool tok_spm_encode(const tokenizer *t, const char *text, size_t len, tok_ids *out) {
    if (len == 0) return true;
    spm_sym *sym = hearth_malloc_array(len, sizeof *sym);
    spm_heap h = { 0 };
    if (!sym) return false;
    int32_t n = 0;
    for (size_t off = 0; off < len; n++) {
        size_t k = HEARTH_MIN(tok_utf8_len((uint8_t)text[off]), len - off);
        sym[n].off  = (uint32_t)off;
        sym[n].n    = (uint32_t)k;
        sym[n].prev = n - 1;
        off += k;
        sym[n].next = off == len ? -1 : n + 1;
    }
    bool ok = true;
    for (int32_t i = 1; i < n; i++) try_pair(t, text, sym, &h, i - 1, i, &ok);
    while (ok && h.n) {
        spm_pair p = heap_pop(&h);
        spm_sym *l = &sym[p.left], *r = &sym[p.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != p.size) continue;
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0) sym[r->next].prev = p.left;
        try_pair(t, text, sym, &h, l->prev, p.left, &ok);
        try_pair(t, text, sym, &h, p.left, l->next, &ok);
    }
    for (int32_t i = 0; ok && i != -1; i = sym[i].next) {
        int32_t id = tokenizer_find(t, text + sym[i].off, sym[i].n);
        if (id >= 0) {
            ok = tok_ids_push(out, id);
            continue;
        }
        for (uint32_t k = 0; ok && k < sym[i].n; k++) {
            int32_t b = t->byte_token[(uint8_t)text[sym[i].off + k]];
            if (b >= 0) ok = tok_ids_push(out, b);
        }
    }
    free(sym);
    free(h.v);
    return ok;
}
