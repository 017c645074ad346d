/*
 * tokenize.c — text to token ids: special tokens are cut out of the text first (longest
 * token text first, each at every place it occurs), then each remaining fragment goes to the
 * vocabulary's encoder; BOS/EOS are added when asked.
 */
#include "tokenizer/tok_internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* A fragment: raw text [off, off + len) when id < 0, else the special token id. */
typedef struct frag {
    size_t  off, len;
    int32_t id;
} frag;

typedef struct frag_list {
    frag  *v;
    size_t n, cap;
} frag_list;

static bool frag_push(frag_list *l, size_t off, size_t len, int32_t id) {
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 16;
        frag *nv = realloc(l->v, ncap * sizeof *nv);
        if (!nv) return false;
        l->v = nv;
        l->cap = ncap;
    }
    l->v[l->n++] = (frag){ off, len, id };
    return true;
}

/* True when every byte pair of s occurs somewhere in the text (a cheap, exact pre-filter:
 * a token that fails it cannot occur). */
static bool pairs_present(const uint64_t *seen, const char *s, size_t n) {
    for (size_t i = 0; i + 1 < n; i++) {
        uint32_t k = ((uint32_t)(uint8_t)s[i] << 8) | (uint8_t)s[i + 1];
        if (!(seen[k >> 6] >> (k & 63) & 1)) return false;
    }
    return true;
}

/* Splits one raw fragment around every occurrence of special token `id`, into `out`. */
static bool split_frag(const tokenizer *t, const char *text, frag f, int32_t id, frag_list *out) {
    const tok_entry *e = &t->tokens[id];
    size_t off = f.off, len = f.len;
    while (len >= e->len) {
        const char *hit = memmem(text + off, len, e->text, e->len);
        if (!hit) break;
        size_t m = (size_t)(hit - text);
        size_t left_len = m - off;
        if (e->lstrip)
            while (left_len > 0 && isspace((unsigned char)text[off + left_len - 1])) left_len--;
        if (left_len && !frag_push(out, off, left_len, -1)) return false;
        if (!frag_push(out, 0, 0, id)) return false;
        size_t roff = m + e->len, rlen = off + len - roff;
        if (e->rstrip)
            while (rlen > 0 && isspace((unsigned char)text[roff])) { roff++; rlen--; }
        off = roff;
        len = rlen;
    }
    return len == 0 || frag_push(out, off, len, -1);
}

static hearth_status partition(const tokenizer *t, const char *text, size_t len, bool parse_special, frag_list *fl) {
    if (len && !frag_push(fl, 0, len, -1)) return HEARTH_ERR_NOMEM;
    if (!len || !t->n_special) return HEARTH_OK;
    uint64_t *seen = calloc(65536 / 64, sizeof *seen);
    if (!seen) return HEARTH_ERR_NOMEM;
    uint64_t first[4] = { 0 };
    for (size_t i = 0; i < len; i++) {
        uint8_t c = (uint8_t)text[i];
        first[c >> 6] |= 1ull << (c & 63);
        if (i + 1 < len) {
            uint32_t k = ((uint32_t)c << 8) | (uint8_t)text[i + 1];
            seen[k >> 6] |= 1ull << (k & 63);
        }
    }
    frag_list tmp = { 0 };
    hearth_status st = HEARTH_OK;
    for (int32_t s = 0; s < t->n_special && st == HEARTH_OK; s++) {
        int32_t id = t->special[s];
        const tok_entry *e = &t->tokens[id];
        if (!parse_special && (e->type == TOK_TYPE_CONTROL || e->type == TOK_TYPE_UNKNOWN)) continue;
        if (e->len > len) continue;
        uint8_t c0 = (uint8_t)e->text[0];
        if (!(first[c0 >> 6] >> (c0 & 63) & 1) || !pairs_present(seen, e->text, e->len)) continue;
        tmp.n = 0;
        for (size_t i = 0; i < fl->n && st == HEARTH_OK; i++) {
            if (fl->v[i].id >= 0) {
                if (!frag_push(&tmp, 0, 0, fl->v[i].id)) st = HEARTH_ERR_NOMEM;
            } else if (!split_frag(t, text, fl->v[i], id, &tmp)) {
                st = HEARTH_ERR_NOMEM;
            }
        }
        frag_list sw = *fl;
        *fl = tmp;
        tmp = sw;
    }
    free(tmp.v);
    free(seen);
    return st;
}

hearth_status tokenizer_tokenize(const tokenizer *t, const char *text, size_t len, bool add_special,
                                 bool parse_special, tok_ids *out, char *err, size_t err_size) {
    if (!t || !out || (!text && len)) return hearth_err(err, err_size, HEARTH_ERR_ARG, "tokenize: NULL argument");
    if (len > (size_t)INT32_MAX) return hearth_err(err, err_size, HEARTH_ERR_RANGE, "tokenize: text longer than 2 GiB");
    frag_list fl = { 0 };
    hearth_status st = partition(t, text, len, parse_special, &fl);
    hearth_buf esc = { 0 };
    bool ok = st == HEARTH_OK;
    if (ok && add_special && t->add_bos) ok = tok_ids_push(out, t->bos);
    bool prev_special = true; /* SentencePiece: a space prefix goes on the first fragment */
    for (size_t i = 0; ok && i < fl.n; i++) {
        frag f = fl.v[i];
        if (f.id >= 0) {
            ok = tok_ids_push(out, f.id);
            prev_special = true;
            continue;
        }
        switch (t->model) {
        case TOK_MODEL_BPE:
            ok = tok_bpe_encode(t, text + f.off, f.len, out);
            break;
        case TOK_MODEL_SPM:
            esc.len = 0;
            if (t->add_space_prefix && prev_special) ok = hearth_buf_append(&esc, "\xe2\x96\x81", 3);
            for (size_t k = 0; ok && k < f.len; k++) {
                char c = text[f.off + k];
                ok = c == ' ' ? hearth_buf_append(&esc, "\xe2\x96\x81", 3) : hearth_buf_append(&esc, &c, 1);
            }
            ok = ok && tok_spm_encode(t, esc.data, esc.len, out);
            break;
        case TOK_MODEL_WPM:
            ok = tok_wpm_encode(t, text + f.off, f.len, out);
            break;
        default:
            break;
        }
        prev_special = false;
    }
    if (ok && add_special && t->add_eos) ok = tok_ids_push(out, t->eos);
    free(fl.v);
    hearth_buf_free(&esc);
    if (!ok) return hearth_err(err, err_size, HEARTH_ERR_NOMEM, "tokenize: out of memory");
    return HEARTH_OK;
}
