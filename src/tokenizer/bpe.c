/*
 * bpe.c — byte-level BPE (tokenizer.ggml.model = "gpt2").
 *
 * Each pre-token word is mapped byte by byte to the GPT-2 "byte-to-unicode" characters; the
 * characters start as one symbol each, and the adjacent pair with the lowest merge rank is
 * merged until no pair has a rank (ties: the leftmost pair).  A priority queue of candidate
 * pairs keeps this O(n log n) per word, so a long run of one character class stays cheap.
 */
#include "tokenizer/tok_internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct bpe_sym {
    int32_t  prev, next;
    uint32_t off, n; /* bytes of the encoded word; n == 0 once merged away */
} bpe_sym;

typedef struct bpe_pair {
    int32_t  left, right;
    uint32_t rank;
    uint32_t size; /* left.n + right.n when the pair was made */
} bpe_pair;

typedef struct bpe_heap {
    bpe_pair *v;
    size_t    n, cap;
} bpe_heap;

static bool pair_less(const bpe_pair *x, const bpe_pair *y) {
    return x->rank < y->rank || (x->rank == y->rank && x->left < y->left);
}

static bool heap_push(bpe_heap *h, bpe_pair p) {
    if (h->n == h->cap) {
        size_t ncap = h->cap ? h->cap * 2 : 64;
        bpe_pair *nv = realloc(h->v, ncap * sizeof *nv);
        if (!nv) return false;
        h->v = nv;
        h->cap = ncap;
    }
    size_t i = h->n++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!pair_less(&p, &h->v[parent])) break;
        h->v[i] = h->v[parent];
        i = parent;
    }
    h->v[i] = p;
    return true;
}

static bpe_pair heap_pop(bpe_heap *h) {
    bpe_pair top = h->v[0], last = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && pair_less(&h->v[c + 1], &h->v[c])) c++;
        if (!pair_less(&h->v[c], &last)) break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (h->n) h->v[i] = last;
    return top;
}

/* The rank of merging "l r", or UINT32_MAX when there is no such merge. */
static uint32_t merge_rank(const tokenizer *t, const char *l, size_t ln, const char *r, size_t rn) {
    uint64_t h = tok_merge_hash(l, ln, r, rn);
    size_t n = ln + 1 + rn;
    for (uint64_t i = h & t->merge_map.mask;; i = (i + 1) & t->merge_map.mask) {
        uint32_t slot = t->merge_map.slots[i];
        if (!slot) return UINT32_MAX;
        const char *m = t->merge_text[slot - 1];
        if (t->merge_len[slot - 1] == n && memcmp(m, l, ln) == 0 && m[ln] == ' ' && memcmp(m + ln + 1, r, rn) == 0)
            return slot - 1;
    }
}

typedef struct bpe_session {
    char     *enc; /* the byte-level encoded word */
    size_t    enc_cap;
    bpe_sym  *sym;
    size_t    sym_cap;
    bpe_heap  heap;
    char      map[256][2];
    uint8_t   map_len[256];
} bpe_session;

static void try_pair(const tokenizer *t, bpe_session *s, int32_t left, int32_t right, bool *ok) {
    if (left < 0 || right < 0) return;
    const bpe_sym *l = &s->sym[left], *r = &s->sym[right];
    uint32_t rank = merge_rank(t, s->enc + l->off, l->n, s->enc + r->off, r->n);
    if (rank == UINT32_MAX) return;
    bpe_pair p = { left, right, rank, l->n + r->n };
    if (!heap_push(&s->heap, p)) *ok = false;
}

static bool encode_word(const tokenizer *t, bpe_session *s, const char *w, size_t wn, tok_ids *out) {
    if (wn * 2 > s->enc_cap) {
        size_t ncap = wn * 2 + 64;
        char *ne = realloc(s->enc, ncap);
        if (!ne) return false;
        s->enc = ne;
        s->enc_cap = ncap;
    }
    if (wn > s->sym_cap) {
        size_t ncap = wn + 64;
        bpe_sym *ns = realloc(s->sym, ncap * sizeof *ns);
        if (!ns) return false;
        s->sym = ns;
        s->sym_cap = ncap;
    }
    size_t m = 0;
    for (size_t i = 0; i < wn; i++) {
        uint8_t c = (uint8_t)w[i];
        s->sym[i].prev = (int32_t)i - 1;
        s->sym[i].next = i + 1 < wn ? (int32_t)i + 1 : -1;
        s->sym[i].off  = (uint32_t)m;
        s->sym[i].n    = s->map_len[c];
        memcpy(s->enc + m, s->map[c], s->map_len[c]);
        m += s->map_len[c];
    }
    if (t->ignore_merges) { /* a word that is itself a token is not merged */
        int32_t id = tokenizer_find(t, s->enc, m);
        if (id >= 0) return tok_ids_push(out, id);
    }
    bool ok = true;
    s->heap.n = 0;
    for (size_t i = 1; i < wn; i++) try_pair(t, s, (int32_t)i - 1, (int32_t)i, &ok);
    while (ok && s->heap.n) {
        bpe_pair p = heap_pop(&s->heap);
        bpe_sym *l = &s->sym[p.left], *r = &s->sym[p.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != p.size || l->next != p.right) continue;
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0) s->sym[r->next].prev = p.left;
        try_pair(t, s, l->prev, p.left, &ok);
        try_pair(t, s, p.left, l->next, &ok);
    }
    if (!ok) return false;
    for (int32_t i = 0; i != -1 && wn; i = s->sym[i].next) {
        const bpe_sym *y = &s->sym[i];
        int32_t id = tokenizer_find(t, s->enc + y->off, y->n);
        if (id >= 0) {
            if (!tok_ids_push(out, id)) return false;
            continue;
        }
        /* not in the vocabulary: its single bytes, where those are tokens (as the reference) */
        for (uint32_t k = 0; k < y->n; k++) {
            id = tokenizer_find(t, s->enc + y->off + k, 1);
            if (id >= 0 && !tok_ids_push(out, id)) return false;
        }
    }
    return true;
}

bool tok_bpe_encode(const tokenizer *t, const char *text, size_t len, tok_ids *out) {
    tok_words w;
    if (!tok_pretok_split(t, text, len, &w)) return false;
    bpe_session s;
    memset(&s, 0, sizeof s);
    for (int b = 0; b < 256; b++) {
        uint32_t cpt;
        if ((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE) {
            cpt = (uint32_t)b;
        } else {
            int k = 0;
            for (int c = 0; c < b; c++)
                if (!((c >= 0x21 && c <= 0x7E) || (c >= 0xA1 && c <= 0xAC) || c >= 0xAE)) k++;
            cpt = 256u + (uint32_t)k;
        }
        char tmp[4];
        s.map_len[b] = (uint8_t)tok_utf8_encode(cpt, tmp);
        memcpy(s.map[b], tmp, s.map_len[b]);
    }
    /* A per-call cache of words already encoded: text repeats its words, and a word always
     * gives the same ids.  Slots hold entry + 1; entries point into w.text and `cached`. */
    typedef struct cache_entry { uint32_t word, wlen, first, n; } cache_entry;
    size_t cap = 1024;
    while (cap < w.n * 2 && cap < (1u << 22)) cap <<= 1;
    uint32_t *slots = calloc(cap, sizeof *slots);
    cache_entry *ent = hearth_malloc_array(cap / 2 + 1, sizeof *ent);
    tok_ids cached = { 0 };
    size_t n_ent = 0;
    bool ok = slots && ent;
    for (size_t i = 0; i < w.n && ok; i++) {
        const char *word = w.text + w.start[i];
        uint32_t wl = w.len[i];
        if (wl > 64 || n_ent >= cap / 2) {
            ok = encode_word(t, &s, word, wl, out);
            continue;
        }
        uint64_t h = tok_hash_bytes(TOK_HASH_SEED, word, wl);
        h ^= h >> 29;
        size_t k = (size_t)(h & (cap - 1));
        for (; slots[k]; k = (k + 1) & (cap - 1)) {
            const cache_entry *e = &ent[slots[k] - 1];
            if (e->wlen == wl && memcmp(w.text + e->word, word, wl) == 0) break;
        }
        if (slots[k]) {
            const cache_entry *e = &ent[slots[k] - 1];
            for (uint32_t j = 0; j < e->n && ok; j++) ok = tok_ids_push(out, cached.data[e->first + j]);
            continue;
        }
        size_t before = out->len;
        ok = encode_word(t, &s, word, wl, out);
        cache_entry e = { w.start[i], wl, (uint32_t)cached.len, (uint32_t)(out->len - before) };
        for (size_t j = before; j < out->len && ok; j++) ok = tok_ids_push(&cached, out->data[j]);
        ent[n_ent] = e;
        slots[k] = (uint32_t)++n_ent;
    }
    free(slots);
    free(ent);
    tok_ids_free(&cached);
    free(s.enc);
    free(s.sym);
    free(s.heap.v);
    tok_words_free(&w);
    return ok;
}
