/* jinja_value.c — the value type of the template interpreter: allocation under a memory
 * limit, containers, Python truthiness/equality/ordering, str()/repr(), json.dumps. */
#include "chat/jinja.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Records the first failure message; always returns false. */
bool jj_fail(jj_ctx *c, const char *fmt, ...) {
    if (c->failed) return false;
    c->failed = true;
    if (c->err && c->err_size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err, c->err_size, fmt, ap);
        va_end(ap);
    }
    return false;
}

/* Zeroed memory from the render's arena, counted against lim.max_memory. */
void *jj_alloc(jj_ctx *c, size_t size) {
    if (c->failed) return NULL;
    if (size > c->lim.max_memory || c->mem_used > c->lim.max_memory - size) {
        jj_fail(c, "template memory limit exceeded (%zu bytes)", c->lim.max_memory);
        return NULL;
    }
    void *p = hearth_arena_alloc(&c->arena, size);
    if (!p) {
        jj_fail(c, "out of memory");
        return NULL;
    }
    c->mem_used += size + 16;
    return p;
}

/* One evaluation step, against lim.max_steps. */
bool jj_step(jj_ctx *c) {
    if (c->failed) return false;
    if (++c->steps > c->lim.max_steps)
        return jj_fail(c, "template evaluation step limit exceeded (%llu steps)",
                       (unsigned long long)c->lim.max_steps);
    return true;
}

jj_val jj_undef(const char *name) { jj_val v = { .t = JT_UNDEF }; v.u.name = name; return v; }
jj_val jj_none(void) { jj_val v = { .t = JT_NONE }; return v; }
jj_val jj_bool(bool b) { jj_val v = { .t = JT_BOOL }; v.u.b = b; return v; }
jj_val jj_int(int64_t i) { jj_val v = { .t = JT_INT }; v.u.i = i; return v; }
jj_val jj_float(double f) { jj_val v = { .t = JT_FLOAT }; v.u.f = f; return v; }

bool jj_str_new(jj_ctx *c, const char *s, size_t n, jj_val *out) {
    return jj_str_cat(c, s, n, NULL, 0, out);
}

bool jj_str_cat(jj_ctx *c, const char *a, size_t an, const char *b, size_t bn, jj_val *out) {
    if (an > SIZE_MAX / 2 || bn > SIZE_MAX / 2 - an - sizeof(jj_str) - 1)
        return jj_fail(c, "string too long");
    jj_str *s = jj_alloc(c, sizeof(jj_str) + an + bn + 1);
    if (!s) return false;
    if (an) memcpy(s->s, a, an);
    if (bn) memcpy(s->s + an, b, bn);
    s->len     = an + bn;
    s->s[an + bn] = '\0';
    out->safe  = 0;
    out->t     = JT_STR;
    out->u.s   = s;
    return true;
}

bool jj_list_new(jj_ctx *c, size_t cap, jj_val *out) {
    jj_list *l = jj_alloc(c, sizeof *l);
    if (!l) return false;
    if (cap) {
        if (cap > SIZE_MAX / sizeof(jj_val)) return jj_fail(c, "list too long");
        l->items = jj_alloc(c, cap * sizeof(jj_val));
        if (!l->items) return false;
        l->cap = cap;
    }
    out->t   = JT_LIST;
    out->u.l = l;
    return true;
}

/* Grows an array of jj_val to hold at least `need` items (arena memory: the old block is
 * simply abandoned, and counted). */
static bool grow(jj_ctx *c, jj_val **items, size_t *cap, size_t n, size_t need) {
    if (need <= *cap) return true;
    size_t ncap = *cap ? *cap * 2 : 4;
    if (ncap < need) ncap = need;
    if (ncap > SIZE_MAX / sizeof(jj_val)) return jj_fail(c, "container too large");
    jj_val *p = jj_alloc(c, ncap * sizeof(jj_val));
    if (!p) return false;
    if (n) memcpy(p, *items, n * sizeof(jj_val));
    *items = p;
    *cap   = ncap;
    return true;
}

bool jj_list_push(jj_ctx *c, jj_list *l, jj_val v) {
    if (!grow(c, &l->items, &l->cap, l->n, l->n + 1)) return false;
    l->items[l->n++] = v;
    return true;
}

bool jj_dict_new(jj_ctx *c, jj_val *out) {
    jj_dict *d = jj_alloc(c, sizeof *d);
    if (!d) return false;
    out->t   = JT_DICT;
    out->u.d = d;
    return true;
}

/* Keys are compared as Python does for hashable scalars; str keys are the common case. */
static bool key_eq(jj_val a, jj_val b) {
    if (a.t == JT_STR && b.t == JT_STR)
        return a.u.s->len == b.u.s->len && !memcmp(a.u.s->s, b.u.s->s, a.u.s->len);
    if (jj_is_num(a) && jj_is_num(b)) return jj_num(a) == jj_num(b);
    if (a.t == JT_NONE && b.t == JT_NONE) return true;
    return false;
}

jj_val *jj_dict_get(jj_dict *d, jj_val k) {
    for (size_t i = 0; i < d->n; i++)
        if (key_eq(d->keys[i], k)) return &d->vals[i];
    return NULL;
}

jj_val *jj_dict_gets(jj_dict *d, const char *k) {
    size_t n = strlen(k);
    for (size_t i = 0; i < d->n; i++)
        if (d->keys[i].t == JT_STR && d->keys[i].u.s->len == n && !memcmp(d->keys[i].u.s->s, k, n))
            return &d->vals[i];
    return NULL;
}

bool jj_dict_set(jj_ctx *c, jj_dict *d, jj_val k, jj_val v) {
    if (k.t != JT_STR && k.t != JT_INT && k.t != JT_FLOAT && k.t != JT_BOOL && k.t != JT_NONE &&
        !(k.t == JT_LIST && k.u.l->tuple))
        return jj_fail(c, "unhashable type: '%s'", jj_type_name(k));
    jj_val *slot = jj_dict_get(d, k);
    if (slot) {
        *slot = v;
        return true;
    }
    size_t kc = d->cap, vc = d->cap;
    if (!grow(c, &d->keys, &kc, d->n, d->n + 1) || !grow(c, &d->vals, &vc, d->n, d->n + 1))
        return false;
    d->cap          = kc < vc ? kc : vc;
    d->keys[d->n]   = k;
    d->vals[d->n++] = v;
    return true;
}

bool jj_dict_sets(jj_ctx *c, jj_dict *d, const char *k, jj_val v) {
    jj_val key;
    return jj_str_new(c, k, strlen(k), &key) && jj_dict_set(c, d, key, v);
}

bool jj_truthy(jj_val v) {
    switch (v.t) {
    case JT_UNDEF: case JT_NONE: return false;
    case JT_BOOL: return v.u.b;
    case JT_INT: return v.u.i != 0;
    case JT_FLOAT: return v.u.f != 0.0;
    case JT_STR: return v.u.s->len != 0;
    case JT_LIST: return v.u.l->gen || v.u.l->n != 0;
    case JT_DICT: return v.u.d->n != 0;
    default: return true;
    }
}

const char *jj_type_name(jj_val v) {
    switch (v.t) {
    case JT_UNDEF: return "Undefined";
    case JT_NONE: return "NoneType";
    case JT_BOOL: return "bool";
    case JT_INT: return "int";
    case JT_FLOAT: return "float";
    case JT_STR: return "str";
    case JT_LIST: return v.u.l->gen ? "generator" : v.u.l->tuple ? "tuple" : "list";
    case JT_DICT: return "dict";
    case JT_NS: return "Namespace";
    case JT_FUNC: return "function";
    case JT_MACRO: return "Macro";
    case JT_LOOP: return "LoopContext";
    case JT_METHOD: return "method";
    }
    return "object";
}

bool jj_is_num(jj_val v) { return v.t == JT_INT || v.t == JT_FLOAT || v.t == JT_BOOL; }

double jj_num(jj_val v) {
    if (v.t == JT_INT) return (double)v.u.i;
    if (v.t == JT_FLOAT) return v.u.f;
    if (v.t == JT_BOOL) return v.u.b ? 1.0 : 0.0;
    return 0.0;
}

static bool eq_depth(jj_ctx *c, jj_val a, jj_val b, bool *res, int depth) {
    if (depth > c->lim.max_depth) return jj_fail(c, "data nested too deeply");
    *res = false;
    if (jj_is_num(a) && jj_is_num(b)) {
        if (a.t != JT_FLOAT && b.t != JT_FLOAT)
            *res = (a.t == JT_INT ? a.u.i : (int64_t)a.u.b) == (b.t == JT_INT ? b.u.i : (int64_t)b.u.b);
        else *res = jj_num(a) == jj_num(b);
        return true;
    }
    if (a.t != b.t) return true;
    switch (a.t) {
    case JT_UNDEF: case JT_NONE: *res = true; return true;
    case JT_STR: *res = key_eq(a, b); return true;
    case JT_LIST:
        if (a.u.l->n != b.u.l->n || a.u.l->tuple != b.u.l->tuple) return true;
        for (size_t i = 0; i < a.u.l->n; i++) {
            bool e;
            if (!eq_depth(c, a.u.l->items[i], b.u.l->items[i], &e, depth + 1)) return false;
            if (!e) return true;
        }
        *res = true;
        return true;
    case JT_DICT:
        if (a.u.d->n != b.u.d->n) return true;
        for (size_t i = 0; i < a.u.d->n; i++) {
            jj_val *o = jj_dict_get(b.u.d, a.u.d->keys[i]);
            bool e;
            if (!o) return true;
            if (!eq_depth(c, a.u.d->vals[i], *o, &e, depth + 1)) return false;
            if (!e) return true;
        }
        *res = true;
        return true;
    case JT_FUNC: *res = a.u.fn == b.u.fn; return true;
    default: *res = a.u.l == b.u.l; return true; /* identity */
    }
}

bool jj_eq(jj_ctx *c, jj_val a, jj_val b, bool *res) { return eq_depth(c, a, b, res, 0); }

static bool cmp_depth(jj_ctx *c, jj_val a, jj_val b, int *res, int depth) {
    if (depth > c->lim.max_depth) return jj_fail(c, "data nested too deeply");
    if (a.t == JT_UNDEF || b.t == JT_UNDEF) {
        const char *nm = a.t == JT_UNDEF ? a.u.name : b.u.name;
        return jj_fail(c, "'%s' is undefined", nm ? nm : "value");
    }
    if (jj_is_num(a) && jj_is_num(b)) {
        if (a.t != JT_FLOAT && b.t != JT_FLOAT) {
            int64_t x = a.t == JT_INT ? a.u.i : a.u.b, y = b.t == JT_INT ? b.u.i : b.u.b;
            *res = x < y ? -1 : x > y;
        } else {
            double x = jj_num(a), y = jj_num(b);
            *res = x < y ? -1 : x > y;
        }
        return true;
    }
    if (a.t == JT_STR && b.t == JT_STR) {
        size_t n = HEARTH_MIN(a.u.s->len, b.u.s->len);
        int r = memcmp(a.u.s->s, b.u.s->s, n);
        *res = r < 0 ? -1 : r > 0 ? 1 : a.u.s->len < b.u.s->len ? -1 : a.u.s->len > b.u.s->len;
        return true;
    }
    if (a.t == JT_LIST && b.t == JT_LIST && a.u.l->tuple == b.u.l->tuple) {
        size_t n = HEARTH_MIN(a.u.l->n, b.u.l->n);
        for (size_t i = 0; i < n; i++) {
            bool e;
            if (!eq_depth(c, a.u.l->items[i], b.u.l->items[i], &e, depth + 1)) return false;
            if (!e) return cmp_depth(c, a.u.l->items[i], b.u.l->items[i], res, depth + 1);
        }
        *res = a.u.l->n < b.u.l->n ? -1 : a.u.l->n > b.u.l->n;
        return true;
    }
    return jj_fail(c, "'<' not supported between instances of '%s' and '%s'", jj_type_name(a),
                   jj_type_name(b));
}

bool jj_cmp(jj_ctx *c, jj_val a, jj_val b, int *res) { return cmp_depth(c, a, b, res, 0); }

bool jj_buf_add(jj_ctx *c, hearth_buf *b, const char *s, size_t n) {
    if (c->failed) return false;
    if (n > c->lim.max_output || b->len > c->lim.max_output - n)
        return jj_fail(c, "template output limit exceeded (%zu bytes)", c->lim.max_output);
    if (!hearth_buf_append(b, s, n)) return jj_fail(c, "out of memory");
    return true;
}

static bool add_s(jj_ctx *c, hearth_buf *b, const char *s) { return jj_buf_add(c, b, s, strlen(s)); }

/* Python repr(float): the shortest digits that round-trip, positional for exponents in
 * [-4, 16), else d.ddde+XX. */
void jj_fmt_float(double f, char *buf, size_t size) {
    if (isnan(f)) { snprintf(buf, size, "nan"); return; }
    if (isinf(f)) { snprintf(buf, size, f < 0 ? "-inf" : "inf"); return; }
    char tmp[64];
    int  prec;
    for (prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, f);
        if (strtod(tmp, NULL) == f) break;
    }
    /* tmp = [-]d[.ddd]e[+-]XX */
    const char *p = tmp;
    bool neg = *p == '-';
    if (neg) p++;
    char digits[32];
    size_t nd = 0;
    for (; *p && *p != 'e'; p++)
        if (*p != '.') digits[nd++] = *p;
    int exp = atoi(p + 1);
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    digits[nd] = '\0';
    char out[64];
    size_t o = 0;
    if (neg) out[o++] = '-';
    if (exp >= -4 && exp < 16) {
        if (exp < 0) {
            out[o++] = '0';
            out[o++] = '.';
            for (int i = 0; i < -exp - 1; i++) out[o++] = '0';
            for (size_t i = 0; i < nd; i++) out[o++] = digits[i];
        } else {
            for (int i = 0; i <= exp; i++) out[o++] = (size_t)i < nd ? digits[i] : '0';
            out[o++] = '.';
            if ((size_t)exp + 1 < nd)
                for (size_t i = (size_t)exp + 1; i < nd; i++) out[o++] = digits[i];
            else out[o++] = '0';
        }
        out[o] = '\0';
    } else {
        out[o++] = digits[0];
        if (nd > 1) {
            out[o++] = '.';
            for (size_t i = 1; i < nd; i++) out[o++] = digits[i];
        }
        snprintf(out + o, sizeof out - o, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    }
    snprintf(buf, size, "%s", out);
}

size_t jj_utf8_len(const char *s, size_t n) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80) k++;
    return k;
}

size_t jj_utf8_offset(const char *s, size_t n, size_t cp) {
    size_t k = 0, i = 0;
    for (; i < n; i++) {
        if (((unsigned char)s[i] & 0xC0) != 0x80) {
            if (k == cp) return i;
            k++;
        }
    }
    return n;
}

/* Decodes one UTF-8 sequence (lenient: a stray byte is its own code point). */
uint32_t jj_utf8_next(const unsigned char *s, size_t n, size_t *len) {
    uint32_t c = s[0];
    size_t need = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : 0;
    if (need == 0 || need >= n) { *len = 1; return c; }
    c &= 0x3F >> need;
    for (size_t i = 1; i <= need; i++) {
        if ((s[i] & 0xC0) != 0x80) { *len = 1; return s[0]; }
        c = (c << 6) | (s[i] & 0x3F);
    }
    *len = need + 1;
    return c;
}

/* Python's str.isprintable for the code points a repr escapes (approximate beyond Latin-1). */
static bool cp_printable(uint32_t cp) {
    if (cp < 0x20 || cp == 0x7F) return false;
    if (cp >= 0x80 && cp <= 0xA0) return false;
    if (cp == 0xAD) return false;
    if ((cp >= 0x2000 && cp <= 0x200F) || (cp >= 0x2028 && cp <= 0x202F) ||
        (cp >= 0x205F && cp <= 0x206F) || cp == 0x3000 || cp == 0xFEFF || cp == 0x1680)
        return false;
    if (cp >= 0xD800 && cp <= 0xDFFF) return false;
    return true;
}

static bool repr_str(jj_ctx *c, const jj_str *s, hearth_buf *b) {
    bool has_sq = memchr(s->s, '\'', s->len) != NULL, has_dq = memchr(s->s, '"', s->len) != NULL;
    char q = has_sq && !has_dq ? '"' : '\'';
    if (!jj_buf_add(c, b, &q, 1)) return false;
    const unsigned char *p = (const unsigned char *)s->s;
    size_t n = s->len;
    for (size_t i = 0; i < n;) {
        size_t len;
        uint32_t cp = jj_utf8_next(p + i, n - i, &len);
        char esc[16];
        const char *e = NULL;
        if (cp == (uint32_t)q || cp == '\\') { esc[0] = '\\'; esc[1] = (char)cp; esc[2] = 0; e = esc; }
        else if (cp == '\n') e = "\\n";
        else if (cp == '\r') e = "\\r";
        else if (cp == '\t') e = "\\t";
        else if (!cp_printable(cp)) {
            if (cp < 0x100) snprintf(esc, sizeof esc, "\\x%02x", cp);
            else snprintf(esc, sizeof esc, "\\u%04x", cp);
            e = esc;
        }
        if (e ? !add_s(c, b, e) : !jj_buf_add(c, b, (const char *)p + i, len)) return false;
        i += len;
    }
    return jj_buf_add(c, b, &q, 1);
}

bool jj_repr(jj_ctx *c, jj_val v, hearth_buf *b, int depth) {
    if (depth > c->lim.max_depth) return jj_fail(c, "data nested too deeply");
    switch (v.t) {
    case JT_STR: return repr_str(c, v.u.s, b);
    case JT_LIST: {
        jj_list *l = v.u.l;
        if (l->gen) return add_s(c, b, "<generator object>");
        if (!add_s(c, b, l->tuple ? "(" : "[")) return false;
        for (size_t i = 0; i < l->n; i++) {
            if (i && !add_s(c, b, ", ")) return false;
            if (!jj_repr(c, l->items[i], b, depth + 1)) return false;
        }
        if (l->tuple && l->n == 1 && !add_s(c, b, ",")) return false;
        return add_s(c, b, l->tuple ? ")" : "]");
    }
    case JT_DICT: {
        jj_dict *d = v.u.d;
        if (!add_s(c, b, "{")) return false;
        for (size_t i = 0; i < d->n; i++) {
            if (i && !add_s(c, b, ", ")) return false;
            if (!jj_repr(c, d->keys[i], b, depth + 1) || !add_s(c, b, ": ") ||
                !jj_repr(c, d->vals[i], b, depth + 1))
                return false;
        }
        return add_s(c, b, "}");
    }
    default: return jj_to_str(c, v, b);
    }
}

bool jj_to_str(jj_ctx *c, jj_val v, hearth_buf *b) {
    char tmp[64];
    switch (v.t) {
    case JT_UNDEF: return true;
    case JT_NONE: return add_s(c, b, "None");
    case JT_BOOL: return add_s(c, b, v.u.b ? "True" : "False");
    case JT_INT: snprintf(tmp, sizeof tmp, "%lld", (long long)v.u.i); return add_s(c, b, tmp);
    case JT_FLOAT: jj_fmt_float(v.u.f, tmp, sizeof tmp); return add_s(c, b, tmp);
    case JT_STR: return jj_buf_add(c, b, v.u.s->s, v.u.s->len);
    case JT_LIST: case JT_DICT: return jj_repr(c, v, b, 0);
    case JT_NS: {
        if (!add_s(c, b, "<Namespace ")) return false;
        jj_val d = { .t = JT_DICT };
        d.u.d = v.u.d;
        return jj_repr(c, d, b, 0) && add_s(c, b, ">");
    }
    case JT_MACRO:
        snprintf(tmp, sizeof tmp, "<Macro '%.40s'>", v.u.m->name ? v.u.m->name : "caller");
        return add_s(c, b, tmp);
    case JT_LOOP: return add_s(c, b, "<LoopContext>");
    case JT_FUNC: return add_s(c, b, "<function>");
    case JT_METHOD: return add_s(c, b, "<built-in method>");
    }
    return true;
}

bool jj_str_of(jj_ctx *c, jj_val v, jj_val *out) {
    if (v.t == JT_STR) { *out = v; return true; }
    hearth_buf b = { 0 };
    bool ok = jj_to_str(c, v, &b) && jj_str_new(c, b.data ? b.data : "", b.len, out);
    hearth_buf_free(&b);
    return ok;
}

/* ---- json.dumps ---------------------------------------------------------------------- */

static bool json_str(jj_ctx *c, const char *s, size_t n, hearth_buf *b) {
    if (!add_s(c, b, "\"")) return false;
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        const char *e = NULL;
        char esc[8];
        switch (ch) {
        case '"': e = "\\\""; break;
        case '\\': e = "\\\\"; break;
        case '\n': e = "\\n"; break;
        case '\r': e = "\\r"; break;
        case '\t': e = "\\t"; break;
        case '\b': e = "\\b"; break;
        case '\f': e = "\\f"; break;
        default:
            if (ch < 0x20) { snprintf(esc, sizeof esc, "\\u%04x", ch); e = esc; }
        }
        if (e) {
            if (!jj_buf_add(c, b, s + run, i - run) || !add_s(c, b, e)) return false;
            run = i + 1;
        }
    }
    return jj_buf_add(c, b, s + run, n - run) && add_s(c, b, "\"");
}

static bool json_newline(jj_ctx *c, hearth_buf *b, const char *indent, int level) {
    if (!add_s(c, b, "\n")) return false;
    for (int i = 0; i < level; i++)
        if (!add_s(c, b, indent)) return false;
    return true;
}

typedef struct json_opts {
    const char *indent, *item_sep, *key_sep;
    bool        sort_keys;
} json_opts;

static bool key_cmp(jj_ctx *c, jj_val a, jj_val b, void *ud, int *res) {
    (void)ud;
    return jj_cmp(c, a, b, res);
}

static bool json_val(jj_ctx *c, jj_val v, hearth_buf *b, const json_opts *o, int level, int depth) {
    char tmp[64];
    if (depth > c->lim.max_depth) return jj_fail(c, "data nested too deeply for tojson");
    switch (v.t) {
    case JT_NONE: return add_s(c, b, "null");
    case JT_BOOL: return add_s(c, b, v.u.b ? "true" : "false");
    case JT_INT: snprintf(tmp, sizeof tmp, "%lld", (long long)v.u.i); return add_s(c, b, tmp);
    case JT_FLOAT:
        if (isnan(v.u.f)) return add_s(c, b, "NaN");
        if (isinf(v.u.f)) return add_s(c, b, v.u.f < 0 ? "-Infinity" : "Infinity");
        jj_fmt_float(v.u.f, tmp, sizeof tmp);
        return add_s(c, b, tmp);
    case JT_STR: return json_str(c, v.u.s->s, v.u.s->len, b);
    case JT_LIST: {
        jj_list *l = v.u.l;
        if (l->gen) return jj_fail(c, "Object of type generator is not JSON serializable");
        if (l->n == 0) return add_s(c, b, "[]");
        if (!add_s(c, b, "[")) return false;
        for (size_t i = 0; i < l->n; i++) {
            if (i && !add_s(c, b, o->item_sep)) return false;
            if (o->indent && !json_newline(c, b, o->indent, level + 1)) return false;
            if (!json_val(c, l->items[i], b, o, level + 1, depth + 1)) return false;
        }
        if (o->indent && !json_newline(c, b, o->indent, level)) return false;
        return add_s(c, b, "]");
    }
    case JT_DICT: {
        jj_dict *d = v.u.d;
        if (d->n == 0) return add_s(c, b, "{}");
        size_t *order = jj_alloc(c, d->n * sizeof(size_t));
        if (!order) return false;
        for (size_t i = 0; i < d->n; i++) order[i] = i;
        if (o->sort_keys) {
            jj_val *ks = jj_alloc(c, d->n * sizeof(jj_val));
            if (!ks) return false;
            memcpy(ks, d->keys, d->n * sizeof(jj_val));
            if (!jj_sort(c, ks, d->n, key_cmp, NULL)) return false;
            for (size_t i = 0; i < d->n; i++)
                for (size_t j = 0; j < d->n; j++)
                    if (key_eq(ks[i], d->keys[j])) { order[i] = j; break; }
        }
        if (!add_s(c, b, "{")) return false;
        for (size_t k = 0; k < d->n; k++) {
            size_t i = order[k];
            if (k && !add_s(c, b, o->item_sep)) return false;
            if (o->indent && !json_newline(c, b, o->indent, level + 1)) return false;
            jj_val key = d->keys[i];
            if (key.t == JT_STR) {
                if (!json_str(c, key.u.s->s, key.u.s->len, b)) return false;
            } else if (key.t == JT_INT || key.t == JT_FLOAT || key.t == JT_BOOL || key.t == JT_NONE) {
                hearth_buf kb = { 0 };
                bool ok = json_val(c, key, &kb, o, 0, depth + 1) &&
                          json_str(c, kb.data ? kb.data : "", kb.len, b);
                hearth_buf_free(&kb);
                if (!ok) return false;
            } else {
                return jj_fail(c, "keys must be str, int, float, bool or None, not %s", jj_type_name(key));
            }
            if (!add_s(c, b, o->key_sep) || !json_val(c, d->vals[i], b, o, level + 1, depth + 1))
                return false;
        }
        if (o->indent && !json_newline(c, b, o->indent, level)) return false;
        return add_s(c, b, "}");
    }
    default:
        return jj_fail(c, "Object of type %s is not JSON serializable", jj_type_name(v));
    }
}

bool jj_to_json(jj_ctx *c, jj_val v, hearth_buf *b, const char *indent, const char *item_sep,
                const char *key_sep, bool sort_keys, int depth) {
    json_opts o = { indent, item_sep, key_sep, sort_keys };
    return json_val(c, v, b, &o, 0, depth);
}

bool jj_from_cjson(jj_ctx *c, const cJSON *j, jj_val *out, int depth) {
    if (depth > 1000) return jj_fail(c, "context JSON nested too deeply");
    if (cJSON_IsNull(j)) { *out = jj_none(); return true; }
    if (cJSON_IsBool(j)) { *out = jj_bool(cJSON_IsTrue(j)); return true; }
    if (cJSON_IsNumber(j)) {
        double d = j->valuedouble;
        /* cJSON keeps no int/float distinction: integral values within int64 become ints. */
        if (d == floor(d) && fabs(d) < 9.2e18) *out = jj_int((int64_t)d);
        else *out = jj_float(d);
        return true;
    }
    if (cJSON_IsString(j)) return jj_str_new(c, j->valuestring, strlen(j->valuestring), out);
    if (cJSON_IsArray(j)) {
        if (!jj_list_new(c, 0, out)) return false;
        for (const cJSON *e = j->child; e; e = e->next) {
            jj_val v;
            if (!jj_from_cjson(c, e, &v, depth + 1) || !jj_list_push(c, out->u.l, v)) return false;
        }
        return true;
    }
    if (cJSON_IsObject(j)) {
        if (!jj_dict_new(c, out)) return false;
        for (const cJSON *e = j->child; e; e = e->next) {
            jj_val k, v;
            if (!jj_str_new(c, e->string ? e->string : "", e->string ? strlen(e->string) : 0, &k) ||
                !jj_from_cjson(c, e, &v, depth + 1) || !jj_dict_set(c, out->u.d, k, v))
                return false;
        }
        return true;
    }
    *out = jj_none();
    return true;
}

/* ---- sorting ------------------------------------------------------------------------- */

static bool merge_sort(jj_ctx *c, jj_val *a, jj_val *tmp, size_t n, jj_cmp_fn cmp, void *ud) {
    if (n < 2) return true;
    size_t h = n / 2;
    if (!merge_sort(c, a, tmp, h, cmp, ud) || !merge_sort(c, a + h, tmp, n - h, cmp, ud)) return false;
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n) {
        int r;
        if (!jj_step(c) || !cmp(c, a[j], a[i], ud, &r)) return false;
        tmp[k++] = r < 0 ? a[j++] : a[i++];
    }
    while (i < h) tmp[k++] = a[i++];
    while (j < n) tmp[k++] = a[j++];
    memcpy(a, tmp, n * sizeof *a);
    return true;
}

bool jj_sort(jj_ctx *c, jj_val *items, size_t n, jj_cmp_fn cmp, void *ud) {
    if (n < 2) return true;
    jj_val *tmp = jj_alloc(c, n * sizeof *tmp);
    return tmp && merge_sort(c, items, tmp, n, cmp, ud);
}
