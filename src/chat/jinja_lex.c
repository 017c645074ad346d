/* jinja_lex.c — template text to tokens, reproducing jinja2's lexer with trim_blocks and
 * lstrip_blocks on (Hugging Face's settings) and keep_trailing_newline off:
 *   - newlines (\r\n, \r, \n) are normalized to \n and one trailing newline is dropped;
 *   - `{%-`/`{#-`/`{{-` strip all whitespace before the tag, `-%}`/`-#}`/`-}}` all after;
 *   - trim_blocks: one newline right after `%}` or `#}` is dropped (not after `}}`), unless `+%}`;
 *   - lstrip_blocks: spaces and tabs from the start of a line up to `{%` or `{#` are dropped,
 *     unless `{%+`;
 *   - `{% raw %}...{% endraw %}` is literal text; comments produce nothing. */
#include "chat/jinja.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

typedef struct lexer {
    jj_ctx     *c;
    const char *s;
    size_t      n, pos;
    int         line;
    size_t      cap;
} lexer;

/* Python's str.isspace() / regex \s over ASCII (the unit and record separators included). */
static bool is_ws(char ch) {
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v' ||
           (ch >= 0x1c && ch <= 0x1f);
}

static int count_nl(const char *s, size_t n) {
    int k = 0;
    for (size_t i = 0; i < n; i++) k += s[i] == '\n';
    return k;
}

static bool push(lexer *L, jj_tok_kind kind, const char *text, size_t len) {
    jj_ctx *c = L->c;
    if (c->n_toks == L->cap) {
        size_t ncap = L->cap ? L->cap * 2 : 64;
        jj_tok *t = jj_alloc(c, ncap * sizeof *t);
        if (!t) return false;
        if (c->n_toks) memcpy(t, c->toks, c->n_toks * sizeof *t);
        c->toks = t;
        L->cap  = ncap;
    }
    jj_tok *t = &c->toks[c->n_toks++];
    memset(t, 0, sizeof *t);
    t->kind = kind;
    t->line = L->line;
    char *p = jj_alloc(c, len + 1);
    if (!p) return false;
    if (len) memcpy(p, text, len);
    t->text = p;
    t->len  = len;
    return true;
}

/* Emits template text before a tag, applying `{%-` (rstrip) or lstrip_blocks. */
static bool emit_text(lexer *L, const char *text, size_t len, char sign, bool lstrip_ok,
                      bool line_starting) {
    if (sign == '-') {
        while (len && is_ws(text[len - 1])) len--;
    } else if (sign != '+' && lstrip_ok) {
        size_t l_pos = len;
        while (l_pos && text[l_pos - 1] != '\n') l_pos--;
        if ((l_pos > 0 || line_starting) && l_pos < len) {
            bool all_ws = true;
            for (size_t i = l_pos; i < len; i++)
                if (!is_ws(text[i])) { all_ws = false; break; }
            if (all_ws) len = l_pos;
        }
    }
    if (len && !push(L, TK_DATA, text, len)) return false;
    return true;
}

/* After a block or comment end: trim_blocks (one \n) or `-` (all whitespace).  Returns
 * whether the consumed end ended with a newline (jinja2's line_starting). */
static bool after_end(lexer *L, char sign, bool trim) {
    bool nl = false;
    if (sign == '-') {
        while (L->pos < L->n && is_ws(L->s[L->pos])) {
            nl = L->s[L->pos] == '\n';
            L->line += L->s[L->pos] == '\n';
            L->pos++;
        }
    } else if (sign != '+' && trim && L->pos < L->n && L->s[L->pos] == '\n') {
        L->pos++;
        L->line++;
        nl = true;
    }
    return nl;
}

static int hexval(char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

size_t jj_utf8_put(char *o, uint32_t cp) {
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xC0 | cp >> 6); o[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12); o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18); o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* A string literal at L->pos (a quote): Python unicode-escape rules. */
static bool lex_string(lexer *L) {
    char q = L->s[L->pos];
    size_t i = L->pos + 1;
    while (i < L->n && L->s[i] != q) i += L->s[i] == '\\' ? 2 : 1;
    if (i >= L->n) return jj_fail(L->c, "line %d: unexpected end of string literal", L->line);
    const char *s = L->s + L->pos + 1;
    size_t n = i - L->pos - 1;
    char *o = jj_alloc(L->c, n + 1);
    if (!o) return false;
    size_t k = 0;
    for (size_t j = 0; j < n; j++) {
        if (s[j] != '\\' || j + 1 >= n) { o[k++] = s[j]; continue; }
        char e = s[++j];
        switch (e) {
        case 'n': o[k++] = '\n'; break;
        case 't': o[k++] = '\t'; break;
        case 'r': o[k++] = '\r'; break;
        case 'a': o[k++] = '\a'; break;
        case 'b': o[k++] = '\b'; break;
        case 'f': o[k++] = '\f'; break;
        case 'v': o[k++] = '\v'; break;
        case '\\': o[k++] = '\\'; break;
        case '\'': o[k++] = '\''; break;
        case '"': o[k++] = '"'; break;
        case '\n': break;
        case 'x': case 'u': case 'U': {
            int want = e == 'x' ? 2 : e == 'u' ? 4 : 8;
            uint32_t cp = 0;
            if (j + (size_t)want >= n)
                return jj_fail(L->c, "line %d: truncated \\%c escape", L->line, e);
            for (int d = 1; d <= want; d++) {
                int h = hexval(s[j + (size_t)d]);
                if (h < 0) return jj_fail(L->c, "line %d: bad \\%c escape", L->line, e);
                cp = cp * 16 + (uint32_t)h;
            }
            if (cp > 0x10FFFF) return jj_fail(L->c, "line %d: escape out of range", L->line);
            j += (size_t)want;
            k += jj_utf8_put(o + k, cp); /* never longer than the escape itself */
            break;
        }
        default:
            if (e >= '0' && e <= '7') {
                uint32_t cp = (uint32_t)(e - '0');
                for (int d = 0; d < 2 && j + 1 < n && s[j + 1] >= '0' && s[j + 1] <= '7'; d++)
                    cp = cp * 8 + (uint32_t)(s[++j] - '0');
                k += jj_utf8_put(o + k, cp);
            } else {
                o[k++] = '\\';
                o[k++] = e;
            }
        }
    }
    o[k] = '\0';
    if (!push(L, TK_STRING, o, k)) return false;
    L->line += count_nl(L->s + L->pos, i + 1 - L->pos);
    L->pos = i + 1;
    return true;
}

static bool digits_us(const char *s, size_t n, size_t *i) {
    /* (\d+_)*\d+ */
    size_t j = *i;
    if (j >= n || !isdigit((unsigned char)s[j])) return false;
    while (j < n && isdigit((unsigned char)s[j])) {
        j++;
        if (j + 1 < n && s[j] == '_' && isdigit((unsigned char)s[j + 1])) j++;
    }
    *i = j;
    return true;
}

static bool lex_number(lexer *L) {
    const char *s = L->s;
    size_t i = L->pos, n = L->n;
    digits_us(s, n, &i);
    bool is_float = false;
    size_t j = i;
    if (j + 1 < n && s[j] == '.' && isdigit((unsigned char)s[j + 1])) {
        j++;
        digits_us(s, n, &j);
        is_float = true;
        i = j;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        size_t k = i + 1;
        if (k < n && (s[k] == '+' || s[k] == '-')) k++;
        if (digits_us(s, n, &k)) { i = k; is_float = true; }
    }
    char buf[128];
    size_t len = 0;
    for (size_t k = L->pos; k < i && len < sizeof buf - 1; k++)
        if (s[k] != '_') buf[len++] = s[k];
    buf[len] = '\0';
    if (!push(L, is_float ? TK_FLOAT : TK_INT, buf, len)) return false;
    jj_tok *t = &L->c->toks[L->c->n_toks - 1];
    if (is_float) t->fval = strtod(buf, NULL);
    else {
        char *end;
        unsigned long long v = strtoull(buf, &end, 10);
        if (len > 18 && (v > (unsigned long long)INT64_MAX || len > 19))
            return jj_fail(L->c, "line %d: integer literal too large", L->line);
        t->ival = (int64_t)v;
    }
    L->pos = i;
    return true;
}

static const char *const ops2[] = { "**", "//", "==", "!=", ">=", "<=" };
static const char ops1[] = "+-/*%~[](){}><=.:|,;";

/* Tokens inside {{ }} or {% %} up to the matching end at bracket depth 0. */
static bool lex_tag(lexer *L, bool block, bool *line_starting) {
    char   stack[256];
    size_t depth = 0;
    for (;;) {
        while (L->pos < L->n && is_ws(L->s[L->pos])) {
            L->line += L->s[L->pos] == '\n';
            L->pos++;
        }
        if (L->pos >= L->n)
            return jj_fail(L->c, "line %d: unexpected end of template inside a tag", L->line);
        const char *p = L->s + L->pos;
        size_t rem = L->n - L->pos;
        if (depth == 0) {
            char sign = 0;
            size_t skip = 0;
            if (block) {
                if (rem >= 3 && (p[0] == '-' || p[0] == '+') && p[1] == '%' && p[2] == '}') { sign = p[0]; skip = 3; }
                else if (rem >= 2 && p[0] == '%' && p[1] == '}') skip = 2;
            } else {
                if (rem >= 3 && p[0] == '-' && p[1] == '}' && p[2] == '}') { sign = '-'; skip = 3; }
                else if (rem >= 2 && p[0] == '}' && p[1] == '}') skip = 2;
            }
            if (skip) {
                if (!push(L, block ? TK_BLOCK_END : TK_VAR_END, p, skip)) return false;
                L->pos += skip;
                *line_starting = after_end(L, sign, block);
                return true;
            }
        }
        unsigned char ch = (unsigned char)*p;
        if (ch == '\'' || ch == '"') {
            if (!lex_string(L)) return false;
        } else if (isdigit(ch)) {
            if (!lex_number(L)) return false;
        } else if (isalpha(ch) || ch == '_') {
            size_t k = 1;
            while (k < rem && (isalnum((unsigned char)p[k]) || p[k] == '_')) k++;
            if (!push(L, TK_NAME, p, k)) return false;
            L->pos += k;
        } else {
            size_t k = 0;
            for (size_t o = 0; o < HEARTH_ARRAY_LEN(ops2); o++)
                if (rem >= 2 && p[0] == ops2[o][0] && p[1] == ops2[o][1]) { k = 2; break; }
            if (!k && ch && strchr(ops1, ch)) k = 1;
            if (!k) return jj_fail(L->c, "line %d: unexpected character '%c' in tag", L->line,
                                   ch >= 0x20 && ch < 0x7f ? ch : '?');
            if (k == 1 && (ch == '(' || ch == '[' || ch == '{')) {
                if (depth == sizeof stack) return jj_fail(L->c, "line %d: brackets nested too deeply", L->line);
                stack[depth++] = ch == '(' ? ')' : ch == '[' ? ']' : '}';
            } else if (k == 1 && (ch == ')' || ch == ']' || ch == '}')) {
                if (!depth) return jj_fail(L->c, "line %d: unexpected '%c'", L->line, ch);
                if (stack[--depth] != (char)ch)
                    return jj_fail(L->c, "line %d: unexpected '%c', expected '%c'", L->line, ch, stack[depth]);
            }
            if (!push(L, TK_OP, p, k)) return false;
            L->pos += k;
        }
    }
}

/* Matches `{%[-+]?\s*NAME\s*` then an end (`-%}`, `+%}`, `%}`) at s; returns the length up to
 * and including the end (0 if no match) and the signs. */
static size_t match_tag_word(const char *s, size_t n, const char *word, char *open_sign, char *close_sign) {
    size_t i = 2, wl = strlen(word);
    if (n < 2 || s[0] != '{' || s[1] != '%') return 0;
    *open_sign = 0;
    if (i < n && (s[i] == '-' || s[i] == '+')) *open_sign = s[i++];
    while (i < n && is_ws(s[i])) i++;
    if (n - i < wl || memcmp(s + i, word, wl)) return 0;
    i += wl;
    while (i < n && is_ws(s[i])) i++;
    *close_sign = 0;
    if (i + 3 <= n && (s[i] == '-' || s[i] == '+') && s[i + 1] == '%' && s[i + 2] == '}') {
        *close_sign = s[i];
        return i + 3;
    }
    if (i + 2 <= n && s[i] == '%' && s[i + 1] == '}') return i + 2;
    return 0;
}

bool jj_lex(jj_ctx *c, const char *src, size_t len) {
    /* Normalize newlines and drop one trailing newline. */
    char *s = jj_alloc(c, len + 1);
    if (!s) return false;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (src[i] == '\r') {
            s[n++] = '\n';
            if (i + 1 < len && src[i + 1] == '\n') i++;
        } else {
            s[n++] = src[i];
        }
    }
    if (n && s[n - 1] == '\n') n--;
    s[n] = '\0';

    lexer L = { .c = c, .s = s, .n = n, .pos = 0, .line = 1 };
    c->toks   = NULL;
    c->n_toks = 0;
    bool line_starting = true;
    while (L.pos < n) {
        /* the next `{{`, `{%` or `{#` */
        size_t t = L.pos;
        while (t + 1 < n && !(s[t] == '{' && (s[t + 1] == '{' || s[t + 1] == '%' || s[t + 1] == '#'))) t++;
        if (t + 1 >= n) {
            if (!push(&L, TK_DATA, s + L.pos, n - L.pos)) return false;
            break;
        }
        const char *text = s + L.pos;
        size_t tlen = t - L.pos;
        char kind = s[t + 1];
        char sign = t + 2 < n && (s[t + 2] == '-' || s[t + 2] == '+') ? s[t + 2] : 0;
        char osign, csign;
        size_t raw_len = kind == '%' ? match_tag_word(s + t, n - t, "raw", &osign, &csign) : 0;
        if (!emit_text(&L, text, tlen, sign, kind != '{', line_starting)) return false;
        L.line += count_nl(text, tlen);
        L.pos = t + 2 + (sign ? 1 : 0);
        if (raw_len) {
            L.pos = t + raw_len;
            bool nl = false;
            if (csign == '-') nl = after_end(&L, '-', false);
            else nl = s[L.pos - 1] == '\n';
            /* find {% endraw %} */
            size_t r = L.pos, end_len = 0;
            for (; r + 1 < n; r++)
                if (s[r] == '{' && s[r + 1] == '%' &&
                    (end_len = match_tag_word(s + r, n - r, "endraw", &osign, &csign)))
                    break;
            if (!end_len) return jj_fail(c, "line %d: missing end of raw directive", L.line);
            if (!emit_text(&L, s + L.pos, r - L.pos, osign, true, nl)) return false;
            L.line += count_nl(s + L.pos, r - L.pos);
            L.pos = r + end_len;
            line_starting = after_end(&L, csign, true) || s[L.pos - 1] == '\n';
            continue;
        }
        if (kind == '#') {
            size_t e = L.pos;
            while (e + 1 < n && !(s[e] == '#' && s[e + 1] == '}')) e++;
            if (e + 1 >= n) return jj_fail(c, "line %d: missing end of comment tag", L.line);
            char esign = e > L.pos && (s[e - 1] == '-' || s[e - 1] == '+') ? s[e - 1] : 0;
            L.line += count_nl(s + L.pos, e - L.pos);
            L.pos = e + 2;
            line_starting = after_end(&L, esign, true);
            continue;
        }
        bool block = kind == '%';
        if (!push(&L, block ? TK_BLOCK_BEGIN : TK_VAR_BEGIN, s + t, 2)) return false;
        if (!lex_tag(&L, block, &line_starting)) return false;
    }
    return push(&L, TK_EOF, "", 0);
}
