/*
 * wpm.c — WordPiece (tokenizer.ggml.model = "bert"), as the reference does it.
 *
 * Pre-processing: each code point is replaced by the first code point of its NFD
 * decomposition (dropping accents) and lower-cased; whitespace separates words; control
 * characters, NUL and U+FFFD are dropped; punctuation, ASCII symbols and CJK ideographs
 * become one-character words.  Each word, prefixed with U+2581 (the GGUF vocabulary marks
 * word starts that way), is cut greedily into the longest vocabulary entries; a word that
 * cannot be cut completely becomes the unknown token.  Character classes come from PCRE2.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/tok_internal.h"

#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

enum { WPM_OTHER, WPM_SPACE, WPM_CONTROL, WPM_SPLIT };

static bool is_cjk(uint32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
           (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

typedef struct wpm_classifier {
    pcre2_code       *re;
    pcre2_match_data *md;
} wpm_classifier;

static int classify(wpm_classifier *k, uint32_t cpt) {
    if (cpt < 0x80) {
        if (cpt == ' ' || (cpt >= 9 && cpt <= 13)) return WPM_SPACE;
        if (cpt < 0x20 || cpt == 0x7F) return WPM_CONTROL;
        if ((cpt >= '0' && cpt <= '9') || ((cpt | 0x20) >= 'a' && (cpt | 0x20) <= 'z')) return WPM_OTHER;
        return WPM_SPLIT; /* ASCII punctuation and symbols */
    }
    if (is_cjk(cpt)) return WPM_SPLIT;
    char buf[4];
    size_t n = tok_utf8_encode(cpt, buf);
    int rc = pcre2_match(k->re, (PCRE2_SPTR)buf, n, 0, PCRE2_ANCHORED | PCRE2_NO_UTF_CHECK, k->md, NULL);
    if (rc < 2) return WPM_OTHER;
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(k->md);
    for (int g = 1; g < rc; g++)
        if (ov[2 * g] != PCRE2_UNSET) return g == 1 ? WPM_SPACE : g == 2 ? WPM_CONTROL : WPM_SPLIT;
    return WPM_OTHER;
}

/* Greedy longest match of one word (already prefixed with U+2581). */
static bool encode_word(const tokenizer *t, const char *w, size_t n, tok_ids *out) {
    size_t mark = out->len;
    for (size_t i = 0; i < n;) {
        size_t j = HEARTH_MIN(n, i + t->max_token_len);
        int32_t id = TOK_NULL;
        for (; j > i; j--) {
            if (j < n && (((uint8_t)w[j]) & 0xC0) == 0x80) continue; /* whole characters only */
            if ((id = tokenizer_find(t, w + i, j - i)) >= 0) break;
        }
        if (id < 0) {
            out->len = mark;
            break;
        }
        if (!tok_ids_push(out, id)) return false;
        i = j;
    }
    if (out->len == mark && t->unk >= 0) return tok_ids_push(out, t->unk);
    return true;
}

bool tok_wpm_encode(const tokenizer *t, const char *text, size_t len, tok_ids *out) {
    wpm_classifier k = { 0 };
    int ec;
    PCRE2_SIZE eo;
    k.re = pcre2_compile((PCRE2_SPTR) "(\\s)|(\\p{C})|(\\p{P}|(?=[\\x00-\\x7e])\\p{S})", PCRE2_ZERO_TERMINATED,
                         PCRE2_UTF | PCRE2_UCP, &ec, &eo, NULL);
    if (!k.re) return false;
    k.md = pcre2_match_data_create_from_pattern(k.re, NULL);
    size_t n_cp;
    uint32_t *cp = tok_utf8_decode(text, len, &n_cp);
    hearth_buf word = { 0 };
    bool ok = k.md && cp && hearth_buf_appends(&word, "\xe2\x96\x81");
    for (size_t i = 0; ok && i <= n_cp; i++) {
        int cls = WPM_SPACE;
        uint32_t c = 0;
        if (i < n_cp) {
            c = tok_unicode_nfd_first(cp[i]);
            cls = classify(&k, c);
            if (cls != WPM_SPACE && (c == 0 || c == 0xFFFD || cls == WPM_CONTROL)) continue;
            c = tok_unicode_lower(c);
        }
        if (cls == WPM_OTHER) {
            char buf[4];
            ok = hearth_buf_append(&word, buf, tok_utf8_encode(c, buf));
            continue;
        }
        if (word.len > 3) ok = encode_word(t, word.data, word.len, out);
        word.len = 3;
        if (ok && cls == WPM_SPLIT) {
            char buf[4];
            ok = hearth_buf_append(&word, buf, tok_utf8_encode(c, buf)) && encode_word(t, word.data, word.len, out);
            word.len = 3;
        }
    }
    hearth_buf_free(&word);
    free(cp);
    pcre2_match_data_free(k.md);
    pcre2_code_free(k.re);
    return ok;
}
