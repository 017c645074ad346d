/*
 * vocab.c — loading the vocabulary from GGUF metadata, lookups, and the text side of the
 * tokenizer: token to piece, detokenization, streaming detokenization.
 */
#include "tokenizer/tok_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- small helpers ------------------------------------------------------------------ */

bool tok_ids_push(tok_ids *v, int32_t id) {
    if (v->len == v->cap) {
        size_t ncap = v->cap ? v->cap * 2 : 64;
        int32_t *nd = realloc(v->data, ncap * sizeof *nd);
        if (!nd) return false;
        v->data = nd;
        v->cap  = ncap;
    }
    v->data[v->len++] = id;
    return true;
}

void tok_ids_free(tok_ids *v) {
    if (!v) return;
    free(v->data);
    v->data = NULL;
    v->len = v->cap = 0;
}

uint64_t tok_hash_bytes(uint64_t h, const void *p, size_t n) {
    const uint8_t *s = p;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) { /* 8 bytes a step, then byte-wise FNV for the tail */
        uint64_t x;
        memcpy(&x, s + i, 8);
        h = (h ^ x) * 0x100000001b3ull;
        h ^= h >> 32;
    }
    for (; i < n; i++) {
        h ^= s[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* Mixes the FNV state so that the low bits used as a slot index are well spread. */
static inline uint64_t tok_hash_final(uint64_t h) {
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 32;
    return h;
}

bool tok_map_init(tok_map *m, uint32_t n_items) {
    uint64_t cap = 16;
    while (cap < (uint64_t)n_items * 2) cap <<= 1;
    m->slots = calloc(cap, sizeof *m->slots);
    m->mask  = cap - 1;
    return m->slots != NULL;
}

void tok_map_free(tok_map *m) {
    free(m->slots);
    m->slots = NULL;
}

size_t tok_utf8_encode(uint32_t cpt, char *out) {
    uint8_t *o = (uint8_t *)out;
    if (cpt < 0x80) { o[0] = (uint8_t)cpt; return 1; }
    if (cpt < 0x800) {
        o[0] = (uint8_t)(0xC0 | (cpt >> 6));
        o[1] = (uint8_t)(0x80 | (cpt & 0x3F));
        return 2;
    }
    if (cpt < 0x10000) {
        o[0] = (uint8_t)(0xE0 | (cpt >> 12));
        o[1] = (uint8_t)(0x80 | ((cpt >> 6) & 0x3F));
        o[2] = (uint8_t)(0x80 | (cpt & 0x3F));
        return 3;
    }
    if (cpt > 0x10FFFF) cpt = 0xFFFD;
    if (cpt < 0x10000) return tok_utf8_encode(cpt, out);
    o[0] = (uint8_t)(0xF0 | (cpt >> 18));
    o[1] = (uint8_t)(0x80 | ((cpt >> 12) & 0x3F));
    o[2] = (uint8_t)(0x80 | ((cpt >> 6) & 0x3F));
    o[3] = (uint8_t)(0x80 | (cpt & 0x3F));
    return 4;
}

uint32_t *tok_utf8_decode(const char *text, size_t len, size_t *n_out) {
    const uint8_t *s = (const uint8_t *)text;
    uint32_t *cp = hearth_malloc_array(len ? len : 1, sizeof *cp);
    if (!cp) return NULL;
    size_t n = 0, i = 0;
    while (i < len) {
        uint8_t c = s[i];
        size_t  k = 0;
        uint32_t v = 0;
        if (c < 0x80) { cp[n++] = c; i++; continue; }
        if ((c & 0xE0) == 0xC0) { k = 2; v = c & 0x1F; }
        else if ((c & 0xF0) == 0xE0) { k = 3; v = c & 0x0F; }
        else if ((c & 0xF8) == 0xF0) { k = 4; v = c & 0x07; }
        bool ok = k != 0 && i + k <= len;
        for (size_t j = 1; ok && j < k; j++) {
            if ((s[i + j] & 0xC0) != 0x80) ok = false;
            else v = (v << 6) | (s[i + j] & 0x3F);
        }
        if (!ok) { cp[n++] = 0xFFFD; i++; continue; }
        cp[n++] = v;
        i += k;
    }
    *n_out = n;
    return cp;
}

/* ---- lookups ------------------------------------------------------------------------ */

int32_t tokenizer_find(const tokenizer *t, const char *s, size_t n) {
    uint64_t h = tok_hash_final(tok_hash_bytes(TOK_HASH_SEED, s, n));
    for (uint64_t i = h & t->token_map.mask;; i = (i + 1) & t->token_map.mask) {
        uint32_t slot = t->token_map.slots[i];
        if (!slot) return TOK_NULL;
        const tok_entry *e = &t->tokens[slot - 1];
        if (e->len == n && memcmp(e->text, s, n) == 0) return (int32_t)(slot - 1);
    }
}

static void token_map_put(tokenizer *t, int32_t id) {
    const tok_entry *e = &t->tokens[id];
    uint64_t h = tok_hash_final(tok_hash_bytes(TOK_HASH_SEED, e->text, e->len));
    for (uint64_t i = h & t->token_map.mask;; i = (i + 1) & t->token_map.mask) {
        uint32_t slot = t->token_map.slots[i];
        if (!slot) { t->token_map.slots[i] = (uint32_t)id + 1; return; }
        const tok_entry *o = &t->tokens[slot - 1];
        if (o->len == e->len && memcmp(o->text, e->text, e->len) == 0) {
            t->token_map.slots[i] = (uint32_t)id + 1; /* the last duplicate wins */
            return;
        }
    }
}

uint64_t tok_merge_hash(const char *l, size_t ln, const char *r, size_t rn) {
    uint64_t h = tok_hash_bytes(TOK_HASH_SEED, l, ln);
    h = tok_hash_bytes(h, " ", 1);
    return tok_hash_final(tok_hash_bytes(h, r, rn));
}

static void merge_map_put(tokenizer *t, uint32_t rank) {
    const char *s = t->merge_text[rank];
    uint32_t    n = t->merge_len[rank];
    const char *sp = n > 1 ? memchr(s + 1, ' ', n - 1) : NULL; /* split at the first space after byte 0 */
    size_t ln = sp ? (size_t)(sp - s) : n;
    uint64_t h = sp ? tok_merge_hash(s, ln, sp + 1, n - ln - 1) : tok_hash_final(tok_hash_bytes(TOK_HASH_SEED, s, n));
    for (uint64_t i = h & t->merge_map.mask;; i = (i + 1) & t->merge_map.mask) {
        uint32_t slot = t->merge_map.slots[i];
        if (!slot) { t->merge_map.slots[i] = rank + 1; return; }
        if (t->merge_len[slot - 1] == n && memcmp(t->merge_text[slot - 1], s, n) == 0) return;
    }
}

tok_model   tokenizer_model(const tokenizer *t) { return t->model; }
const char *tokenizer_pre_name(const tokenizer *t) { return t->pre; }
int32_t     tokenizer_n_vocab(const tokenizer *t) { return t->n_vocab; }
int32_t     tokenizer_bos(const tokenizer *t) { return t->bos; }
int32_t     tokenizer_eos(const tokenizer *t) { return t->eos; }
int32_t     tokenizer_eot(const tokenizer *t) { return t->eot; }
bool        tokenizer_add_bos(const tokenizer *t) { return t->add_bos; }
bool        tokenizer_add_eos(const tokenizer *t) { return t->add_eos; }

bool tokenizer_is_eog(const tokenizer *t, int32_t id) {
    if (id < 0) return false;
    for (int32_t i = 0; i < t->n_eog; i++)
        if (t->eog[i] == id) return true;
    return false;
}

tok_type tokenizer_token_type(const tokenizer *t, int32_t id) {
    if (id < 0 || id >= t->n_vocab) return TOK_TYPE_UNDEFINED;
    return (tok_type)t->tokens[id].type;
}

const char *tokenizer_token_text(const tokenizer *t, int32_t id, size_t *len) {
    if (id < 0 || id >= t->n_vocab) return NULL;
    if (len) *len = t->tokens[id].len;
    return t->tokens[id].text;
}

/* ---- loading ------------------------------------------------------------------------ */

/* An optional token-id key; ids out of range are ignored (left at the default). */
static void read_id(const gguf_file *g, const char *key, int32_t n_vocab, int32_t *id) {
    int64_t v;
    const gguf_value *val = gguf_find(g, key);
    if (!val || !gguf_value_i64(val, &v)) return;
    if (v >= 0 && v < n_vocab) *id = (int32_t)v;
    else if (v < 0) *id = TOK_NULL;
}

static int cmp_special(const void *a, const void *b, void *ctx) {
    const tokenizer *t = ctx;
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    if (t->tokens[x].len != t->tokens[y].len) return t->tokens[x].len > t->tokens[y].len ? -1 : 1;
    return x < y ? -1 : x > y;
}

static bool add_eog(tokenizer *t, int32_t id) {
    if (id < 0 || tokenizer_is_eog(t, id)) return true;
    int32_t *n = realloc(t->eog, (size_t)(t->n_eog + 1) * sizeof *n);
    if (!n) return false;
    t->eog = n;
    t->eog[t->n_eog++] = id;
    return true;
}

static bool str_contains_ci(const char *hay, const char *needle) {
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] && (hay[i] | 0x20) == (needle[i] | 0x20)) i++;
        if (i == n) return true;
    }
    return false;
}

/* Special tokens, end-of-generation ids, byte tokens and per-model fix-ups. */
static hearth_status finish_load(tokenizer *t, const gguf_file *g, char *err, size_t err_size) {
    /* end of turn / generation, by key and by the usual texts */
    static const char *const eot_texts[] = {
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<EOT>", "_<EOT>",
        ("<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>"), "<end_of_utterance>",
    };
    if (t->eot == TOK_NULL) {
        for (size_t k = 0; k < HEARTH_ARRAY_LEN(eot_texts) && t->eot == TOK_NULL; k++) {
            int32_t id = tokenizer_find(t, eot_texts[k], strlen(eot_texts[k]));
            if (id >= 0 && t->tokens[id].type == TOK_TYPE_CONTROL) t->eot = id;
        }
    }
    static const char *const eog_texts[] = {
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<end_of_turn>", "<|endoftext|>",
        "<|eom_id|>", "<EOT>", "_<EOT>", "<|end_of_text|>", "<end_of_utterance>", "</s>",
        "<|repo_name|>", "<repo_name>", "<reponame>", /* fill-in-the-middle "repository" marker */
    };
    if (!add_eog(t, t->eos) || !add_eog(t, t->eot) || !add_eog(t, t->eom))
        return hearth_err(err, err_size, HEARTH_ERR_NOMEM, "tokenizer: out of memory");
    for (size_t k = 0; k < HEARTH_ARRAY_LEN(eog_texts); k++) {
        int32_t id = tokenizer_find(t, eog_texts[k], strlen(eog_texts[k]));
        if (id < 0) continue;
        /* as the reference: an end marker is a control token whatever the file says */
        t->tokens[id].type = TOK_TYPE_CONTROL;
        if (!add_eog(t, id)) return hearth_err(err, err_size, HEARTH_ERR_NOMEM, "tokenizer: out of memory");
    }

    /* the special-token list, longest first */
    t->special = hearth_malloc_array((size_t)t->n_vocab, sizeof *t->special);
    if (!t->special) return hearth_err(err, err_size, HEARTH_ERR_NOMEM, "tokenizer: out of memory");
    for (int32_t i = 0; i < t->n_vocab; i++) {
        uint8_t ty = t->tokens[i].type;
        if ((ty == TOK_TYPE_CONTROL || ty == TOK_TYPE_USER_DEFINED || ty == TOK_TYPE_UNKNOWN) && t->tokens[i].len)
            t->special[t->n_special++] = i;
    }
    qsort_r(t->special, (size_t)t->n_special, sizeof *t->special, cmp_special, t);

    /* Phi-3 vocabularies strip the whitespace after their special tokens (as the reference) */
    gguf_str name;
    char name_buf[256] = "";
    if (gguf_get_str(g, "general.name", &name)) gguf_str_copy(name, name_buf, sizeof name_buf);
    if (str_contains_ci(name_buf, "phi-3") || str_contains_ci(name_buf, "phi3")) {
        for (int32_t i = 0; i < t->n_special; i++) t->tokens[t->special[i]].rstrip = 1;
        int32_t id = tokenizer_find(t, "</s>", 4);
        if (id >= 0) t->tokens[id].rstrip = 1;
        static const char *const keep[] = { "<unk>", "<s>", "<|endoftext|>" };
        for (size_t k = 0; k < HEARTH_ARRAY_LEN(keep); k++) {
            id = tokenizer_find(t, keep[k], strlen(keep[k]));
            if (id >= 0) t->tokens[id].rstrip = 0;
        }
    }

    /* byte tokens */
    for (int b = 0; b < 256; b++) {
        char buf[8];
        size_t n;
        if (t->model == TOK_MODEL_SPM) {
            static const char hex[] = "0123456789ABCDEF";
            memcpy(buf, "<0x", 3);
            buf[3] = hex[b >> 4];
            buf[4] = hex[b & 15];
            buf[5] = '>';
            n = 6;
            t->byte_token[b] = tokenizer_find(t, buf, n);
            if (t->byte_token[b] < 0) {
                buf[0] = (char)b;
                t->byte_token[b] = tokenizer_find(t, buf, 1);
            }
            if (t->byte_token[b] < 0) t->byte_token[b] = t->unk;
        } else if (t->model == TOK_MODEL_BPE) {
            /* GPT-2 byte-to-unicode: printable bytes map to themselves, the rest to 256+ */
            uint32_t cpt;
            if ((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE)) {
                cpt = (uint32_t)b;
            } else {
                int k = 0;
                for (int c = 0; c < b; c++)
                    if (!((c >= 0x21 && c <= 0x7E) || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE))) k++;
                cpt = 256u + (uint32_t)k;
            }
            n = tok_utf8_encode(cpt, buf);
            t->byte_token[b] = tokenizer_find(t, buf, n);
        } else {
            t->byte_token[b] = TOK_NULL;
        }
    }
    return HEARTH_OK;
}

hearth_status tokenizer_load(const gguf_file *g, tokenizer **out, char *err, size_t err_size) {
    hearth_status st;
    if (!out || !g) return hearth_err(err, err_size, HEARTH_ERR_ARG, "tokenizer_load: NULL argument");
    *out = NULL;
    gguf_str model;
    if (!gguf_get_str(g, "tokenizer.ggml.model", &model))
        return hearth_err(err, err_size, HEARTH_ERR_NOT_FOUND, "tokenizer: no tokenizer.ggml.model in the file");
    tokenizer *t = calloc(1, sizeof *t);
    if (!t) return hearth_err(err, err_size, HEARTH_ERR_NOMEM, "tokenizer: out of memory");
    if (gguf_str_eq(model, "gpt2")) t->model = TOK_MODEL_BPE;
    else if (gguf_str_eq(model, "llama")) t->model = TOK_MODEL_SPM;
    else if (gguf_str_eq(model, "bert")) t->model = TOK_MODEL_WPM;
    else {
        char name[64];
        gguf_str_copy(model, name, sizeof name);
        st = hearth_err(err, err_size, HEARTH_ERR_UNSUPPORTED,
                        "tokenizer: unsupported tokenizer.ggml.model '%s' (supported: gpt2, llama, bert)", name);
        goto fail;
    }

    const gguf_array *toks = gguf_get_arr(g, "tokenizer.ggml.tokens");
    if (!toks || toks->elem != GGUF_VT_STRING || toks->n == 0 || toks->n > INT32_MAX / 2) {
        st = hearth_err(err, err_size, HEARTH_ERR_FORMAT, "tokenizer: tokenizer.ggml.tokens missing or not a string array");
        goto fail;
    }
    t->n_vocab = (int32_t)toks->n;
    const gguf_array *scores = gguf_get_arr(g, "tokenizer.ggml.scores");
    if (scores && (scores->n != toks->n || !gguf_vtype_size(scores->elem))) scores = NULL;
    const gguf_array *types = gguf_get_arr(g, "tokenizer.ggml.token_type");
    if (types && (types->n != toks->n || !gguf_vtype_size(types->elem))) types = NULL;
    const gguf_array *merges = gguf_get_arr(g, "tokenizer.ggml.merges");
    if (merges && merges->elem != GGUF_VT_STRING) merges = NULL;
    if (t->model == TOK_MODEL_BPE && !merges) {
        st = hearth_err(err, err_size, HEARTH_ERR_FORMAT, "tokenizer: a gpt2 vocabulary needs tokenizer.ggml.merges");
        goto fail;
    }
    if (merges && merges->n > UINT32_MAX / 4) {
        st = hearth_err(err, err_size, HEARTH_ERR_FORMAT, "tokenizer: too many merges");
        goto fail;
    }

    /* one blob for every string */
    uint64_t blob_size = 1;
    for (uint64_t i = 0; i < toks->n; i++)
        if (!hearth_add_u64(blob_size, toks->strs[i].len, &blob_size)) goto overflow;
    if (merges)
        for (uint64_t i = 0; i < merges->n; i++)
            if (!hearth_add_u64(blob_size, merges->strs[i].len, &blob_size)) goto overflow;
    if (blob_size > SIZE_MAX / 2) goto overflow;
    t->blob   = malloc((size_t)blob_size);
    t->tokens = calloc((size_t)t->n_vocab, sizeof *t->tokens);
    if (!t->blob || !t->tokens || !tok_map_init(&t->token_map, (uint32_t)t->n_vocab)) goto nomem;
    char *p = t->blob;
    for (int32_t i = 0; i < t->n_vocab; i++) {
        gguf_str s = toks->strs[i];
        if (s.len > UINT32_MAX / 2) goto overflow;
        memcpy(p, s.ptr, (size_t)s.len);
        t->tokens[i].text  = p;
        t->tokens[i].len   = (uint32_t)s.len;
        p += s.len;
        t->tokens[i].score = scores ? (float)gguf_arr_f64(scores, (uint64_t)i) : 0.0f;
        int64_t ty = types ? gguf_arr_i64(types, (uint64_t)i) : TOK_TYPE_NORMAL;
        t->tokens[i].type = (ty >= 0 && ty < TOK_TYPE_COUNT) ? (uint8_t)ty : TOK_TYPE_UNDEFINED;
        if (s.len > t->max_token_len) t->max_token_len = (uint32_t)s.len;
        token_map_put(t, i);
    }
    if (merges) {
        t->n_merges   = (uint32_t)merges->n;
        t->merge_text = hearth_malloc_array(t->n_merges ? t->n_merges : 1, sizeof *t->merge_text);
        t->merge_len  = hearth_malloc_array(t->n_merges ? t->n_merges : 1, sizeof *t->merge_len);
        if (!t->merge_text || !t->merge_len || !tok_map_init(&t->merge_map, t->n_merges)) goto nomem;
        for (uint32_t i = 0; i < t->n_merges; i++) {
            gguf_str s = merges->strs[i];
            memcpy(p, s.ptr, (size_t)s.len);
            t->merge_text[i] = p;
            t->merge_len[i]  = (uint32_t)s.len;
            p += s.len;
            merge_map_put(t, i);
        }
    }

    /* defaults, then the file's keys */
    t->bos = t->eos = t->eot = t->eom = t->unk = t->sep = t->pad = t->cls = TOK_NULL;
    gguf_str pre;
    if (gguf_get_str(g, "tokenizer.ggml.pre", &pre)) gguf_str_copy(pre, t->pre, sizeof t->pre);
    switch (t->model) {
    case TOK_MODEL_SPM:
        t->bos = 1; t->eos = 2; t->unk = 0;
        t->add_bos = true; t->add_space_prefix = true;
        t->pre[0] = 0;
        break;
    case TOK_MODEL_BPE:
        t->bos = 11; t->eos = 11;
        if (!t->pre[0]) snprintf(t->pre, sizeof t->pre, "default");
        break;
    case TOK_MODEL_WPM:
        t->unk = 100; t->sep = 102; t->pad = 0; t->cls = 101;
        t->add_bos = true; t->add_eos = true;
        t->pre[0] = 0;
        break;
    default:
        break;
    }
    if (t->bos >= t->n_vocab) t->bos = TOK_NULL;
    if (t->eos >= t->n_vocab) t->eos = TOK_NULL;
    if (t->unk >= t->n_vocab) t->unk = TOK_NULL;
    if (t->sep >= t->n_vocab) t->sep = TOK_NULL;
    if (t->cls >= t->n_vocab) t->cls = TOK_NULL;
    if (t->model == TOK_MODEL_BPE && (st = tok_pretok_init(t, err, err_size)) != HEARTH_OK) goto fail;
    read_id(g, "tokenizer.ggml.bos_token_id", t->n_vocab, &t->bos);
    read_id(g, "tokenizer.ggml.eos_token_id", t->n_vocab, &t->eos);
    read_id(g, "tokenizer.ggml.eot_token_id", t->n_vocab, &t->eot);
    read_id(g, "tokenizer.ggml.eom_token_id", t->n_vocab, &t->eom);
    read_id(g, "tokenizer.ggml.unknown_token_id", t->n_vocab, &t->unk);
    read_id(g, "tokenizer.ggml.seperator_token_id", t->n_vocab, &t->sep);
    read_id(g, "tokenizer.ggml.padding_token_id", t->n_vocab, &t->pad);
    read_id(g, "tokenizer.ggml.cls_token_id", t->n_vocab, &t->cls);
    if (t->model == TOK_MODEL_WPM) { t->bos = t->cls; t->eos = t->sep; }
    bool b;
    if (gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &b)) t->add_bos = b;
    if (gguf_get_bool(g, "tokenizer.ggml.add_eos_token", &b)) t->add_eos = b;
    if (gguf_get_bool(g, "tokenizer.ggml.add_space_prefix", &b)) t->add_space_prefix = b;
    if (t->add_bos && t->bos == TOK_NULL) t->add_bos = false;
    if (t->add_eos && t->eos == TOK_NULL) t->add_eos = false;

    if ((st = finish_load(t, g, err, err_size)) != HEARTH_OK) goto fail;
    *out = t;
    return HEARTH_OK;

overflow:
    st = hearth_err(err, err_size, HEARTH_ERR_FORMAT, "tokenizer: vocabulary sizes overflow");
    goto fail;
nomem:
    st = hearth_err(err, err_size, HEARTH_ERR_NOMEM, "tokenizer: out of memory");
fail:
    tokenizer_free(t);
    return st;
}

void tokenizer_free(tokenizer *t) {
    if (!t) return;
    tok_pretok_free(t);
    tok_map_free(&t->token_map);
    tok_map_free(&t->merge_map);
    free(t->merge_text);
    free(t->merge_len);
    free(t->tokens);
    free(t->blob);
    free(t->special);
    free(t->eog);
    free(t);
}

/* ---- token to piece, detokenize ----------------------------------------------------- */

/* GPT-2 byte-level: the byte a code point of the byte-to-unicode map stands for, or -1. */
static int bpe_cpt_to_byte(uint32_t cpt) {
    if ((cpt >= 0x21 && cpt <= 0x7E) || (cpt >= 0xA1 && cpt <= 0xAC) || (cpt >= 0xAE && cpt <= 0xFF)) return (int)cpt;
    if (cpt < 256 || cpt >= 256 + 68) return -1;
    int k = (int)(cpt - 256);
    for (int c = 0; c < 256; c++) {
        if ((c >= 0x21 && c <= 0x7E) || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE)) continue;
        if (k-- == 0) return c;
    }
    return -1;
}

/* Appends the piece of a token to out (lstrip: leading spaces to drop). */
static bool piece_append(const tokenizer *t, int32_t id, int lstrip, bool special, hearth_buf *out) {
    if (id < 0 || id >= t->n_vocab) return true;
    const tok_entry *e = &t->tokens[id];
    const char *s = e->text;
    size_t n = e->len;
    char tmp[512];
    hearth_buf big = { 0 };
    bool ok = true;
    switch (e->type) {
    case TOK_TYPE_CONTROL:
    case TOK_TYPE_UNKNOWN:
        if (!special) return true;
        break;
    case TOK_TYPE_USER_DEFINED:
        break;
    case TOK_TYPE_NORMAL:
        if (t->model == TOK_MODEL_BPE) {
            /* decode the byte-level characters (a non-byte character is kept as UTF-8) */
            size_t nc;
            uint32_t *cp = tok_utf8_decode(s, n, &nc);
            if (!cp || !hearth_buf_reserve(&big, nc * 4 + 4)) { free(cp); hearth_buf_free(&big); return false; }
            size_t m = 0;
            for (size_t k = 0; k < nc; k++) {
                int b = bpe_cpt_to_byte(cp[k]);
                if (b >= 0) big.data[m++] = (char)b;
                else m += tok_utf8_encode(cp[k], big.data + m);
            }
            free(cp);
            s = big.data;
            n = m;
        } else {
            /* SentencePiece / WordPiece: U+2581 is a space */
            char *dst = n <= sizeof tmp ? tmp : NULL;
            if (!dst) {
                if (!hearth_buf_reserve(&big, n)) return false;
                dst = big.data;
            }
            size_t m = 0;
            for (size_t i = 0; i < n;) {
                if (i + 3 <= n && memcmp(s + i, "\xe2\x96\x81", 3) == 0) { dst[m++] = ' '; i += 3; }
                else dst[m++] = s[i++];
            }
            s = dst;
            n = m;
        }
        break;
    case TOK_TYPE_BYTE:
        if (t->model != TOK_MODEL_BPE && n == 6 && memcmp(s, "<0x", 3) == 0) {
            tmp[0] = (char)strtol((char[]){ s[3], s[4], 0 }, NULL, 16);
            s = tmp;
            n = 1;
        } else {
            return true;
        }
        break;
    default:
        return true;
    }
    while (lstrip > 0 && n && *s == ' ') { s++; n--; lstrip--; }
    ok = hearth_buf_append(out, s, n);
    hearth_buf_free(&big);
    return ok;
}

int64_t tokenizer_token_to_piece(const tokenizer *t, int32_t id, char *buf, size_t size, int lstrip, bool special) {
    if (id < 0 || id >= t->n_vocab) {
        if (buf && size) buf[0] = 0;
        return -1;
    }
    hearth_buf b = { 0 };
    if (!piece_append(t, id, lstrip, special, &b)) { hearth_buf_free(&b); return -1; }
    if (buf && size) {
        size_t k = HEARTH_MIN(b.len, size - 1);
        if (k) memcpy(buf, b.data, k);
        buf[k] = 0;
    }
    int64_t n = (int64_t)b.len;
    hearth_buf_free(&b);
    return n;
}

bool tokenizer_detokenize(const tokenizer *t, const int32_t *ids, size_t n, bool remove_special,
                          bool unparse_special, hearth_buf *out) {
    bool remove_space = t->add_space_prefix;
    if (remove_special && t->add_bos && n > 0 && ids[0] == t->bos) {
        remove_space = false;
        ids++;
        n--;
    }
    if (remove_special && t->add_eos && n > 0 && ids[n - 1] == t->eos) n--;
    if (!hearth_buf_reserve(out, 0)) return false;
    for (size_t i = 0; i < n; i++) {
        if (!piece_append(t, ids[i], remove_space ? 1 : 0, unparse_special, out)) return false;
        remove_space = false;
    }
    return true;
}

void tok_stream_init(tok_stream *s, const tokenizer *t, bool unparse_special) {
    memset(s, 0, sizeof *s);
    s->t = t;
    s->unparse_special = unparse_special;
}

/* Length of the longest prefix of p[0..n) that does not end inside an incomplete (but so
 * far valid) UTF-8 sequence. */
static size_t utf8_complete_prefix(const uint8_t *p, size_t n) {
    for (size_t back = 1; back <= 3 && back <= n; back++) {
        uint8_t c = p[n - back];
        if ((c & 0xC0) == 0x80) continue; /* continuation: keep looking for the lead */
        size_t need = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
        return need > back ? n - back : n;
    }
    return n;
}

bool tok_stream_push(tok_stream *s, int32_t id, hearth_buf *out) {
    hearth_buf piece = { 0 };
    bool ok = hearth_buf_append(&piece, s->held, s->n_held);
    int lstrip = (!s->started && s->t->add_space_prefix) ? 1 : 0;
    ok = ok && piece_append(s->t, id, lstrip, s->unparse_special, &piece);
    if (!ok) { hearth_buf_free(&piece); return false; }
    s->started = true;
    size_t keep = utf8_complete_prefix((const uint8_t *)piece.data, piece.len);
    ok = hearth_buf_append(out, piece.data, keep);
    s->n_held = piece.len - keep;
    HEARTH_ASSERT(s->n_held < sizeof s->held);
    if (s->n_held) memcpy(s->held, piece.data + keep, s->n_held);
    hearth_buf_free(&piece);
    return ok;
}

bool tok_stream_flush(tok_stream *s, hearth_buf *out) {
    bool ok = hearth_buf_append(out, s->held, s->n_held);
    s->n_held = 0;
    return ok;
}
