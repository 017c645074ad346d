/* jinja_filters.c — jinja2's filters as chat templates use them, with Hugging Face's tojson
 * (json.dumps with ensure_ascii=False, indent, separators, sort_keys; no HTML escaping). */
#include "chat/jinja.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXP 8

static const char *const filter_names[] = {
    "length", "count", "trim", "upper", "lower", "title", "capitalize", "replace", "join", "first",
    "last", "list", "map", "select", "reject", "selectattr", "rejectattr", "tojson", "string", "int",
    "float", "default", "d", "items", "dictsort", "unique", "round", "abs", "safe", "indent", "batch",
    "sum", "min", "max", "reverse", "sort", "escape", "e", "wordcount", NULL,
};

bool jj_filter_exists(const char *name) {
    for (size_t i = 0; filter_names[i]; i++)
        if (!strcmp(filter_names[i], name)) return true;
    return false;
}

/* jinja2's make_attrgetter: "a.b.0" looked up part by part with subscript semantics. */
static bool attr_path(jj_ctx *c, jj_val v, jj_val attr, jj_val *out) {
    if (attr.t != JT_STR) return jj_getitem(c, v, attr, out);
    const char *s = attr.u.s->s;
    size_t n = attr.u.s->len, i = 0;
    *out = v;
    for (;;) {
        size_t e = i;
        while (e < n && s[e] != '.') e++;
        jj_val key;
        bool digits = e > i;
        for (size_t k = i; k < e; k++) digits = digits && s[k] >= '0' && s[k] <= '9';
        if (digits) key = jj_int(strtoll(s + i, NULL, 10));
        else if (!jj_str_new(c, s + i, e - i, &key)) return false;
        if (!jj_getitem(c, *out, key, out)) return false;
        if (e >= n) return true;
        i = e + 1;
    }
}

static bool to_s(jj_ctx *c, jj_val v, jj_val *out) { return jj_str_of(c, v, out); }

static bool list_copy(jj_ctx *c, jj_list *l, jj_val *out) {
    if (!jj_list_new(c, l->n, out)) return false;
    if (l->n) memcpy(out->u.l->items, l->items, l->n * sizeof(jj_val));
    out->u.l->n = l->n;
    return true;
}

/* Sort key context: optional attribute path, lowercasing of strings. */
typedef struct sort_opts {
    jj_val attr;
    bool   has_attr, case_sensitive, reverse;
    int    pick; /* dictsort: 0 key, 1 value, -1 none */
} sort_opts;

static bool sort_key(jj_ctx *c, jj_val v, const sort_opts *o, jj_val *out) {
    if (o->pick >= 0) v = v.u.l->items[o->pick];
    if (o->has_attr && !attr_path(c, v, o->attr, &v)) return false;
    if (v.t == JT_STR && !o->case_sensitive) return jj_str_case(c, v.u.s, 'l', out);
    *out = v;
    return true;
}

static bool sort_cmp(jj_ctx *c, jj_val a, jj_val b, void *ud, int *res) {
    const sort_opts *o = ud;
    jj_val ka, kb;
    if (!sort_key(c, a, o, &ka) || !sort_key(c, b, o, &kb) || !jj_cmp(c, ka, kb, res)) return false;
    if (o->reverse) *res = -*res;
    return true;
}

bool jj_html_escape(jj_ctx *c, jj_val v, jj_val *out) {
    jj_val s;
    if (!to_s(c, v, &s)) return false;
    hearth_buf b = { 0 };
    bool ok = true;
    for (size_t i = 0; ok && i < s.u.s->len; i++) {
        char ch = s.u.s->s[i];
        const char *r = ch == '&' ? "&amp;" : ch == '<' ? "&lt;" : ch == '>' ? "&gt;" : ch == '"' ? "&#34;" : ch == '\'' ? "&#39;" : NULL;
        ok = r ? jj_buf_add(c, &b, r, strlen(r)) : jj_buf_add(c, &b, &ch, 1);
    }
    ok = ok && jj_str_new(c, b.data ? b.data : "", b.len, out);
    hearth_buf_free(&b);
    if (ok) out->safe = 1;
    return ok;
}

/* jinja2's title filter: words start after -, whitespace, (, {, [ or <. */
static bool jinja_title(jj_ctx *c, const jj_str *s, jj_val *out) {
    hearth_buf b = { 0 };
    bool at_start = true, ok = true;
    for (size_t i = 0; ok && i < s->len;) {
        size_t len;
        uint32_t cp = jj_utf8_next((const unsigned char *)s->s + i, s->len - i, &len);
        bool sep = cp == '-' || jj_cp_space(cp) || cp == '(' || cp == '{' || cp == '[' || cp == '<';
        uint32_t r = sep ? cp : at_start ? jj_cp_upper(cp) : jj_cp_lower(cp);
        at_start = sep;
        char enc[4];
        ok = (len == 1 && cp >= 0x80) ? jj_buf_add(c, &b, s->s + i, 1) : jj_buf_add(c, &b, enc, jj_utf8_put(enc, r));
        i += len;
    }
    ok = ok && jj_str_new(c, b.data ? b.data : "", b.len, out);
    hearth_buf_free(&b);
    return ok;
}

/* Python int(str) / float(str): surrounding whitespace and underscores between digits allowed. */
static bool parse_int(const jj_str *s, int64_t *out) {
    char buf[64];
    size_t n = 0, i = 0, e = s->len;
    while (i < e && jj_cp_space((unsigned char)s->s[i])) i++;
    while (e > i && jj_cp_space((unsigned char)s->s[e - 1])) e--;
    if (e - i == 0 || e - i >= sizeof buf) return false;
    for (size_t k = i; k < e; k++) {
        char ch = s->s[k];
        if (ch == '_' && k > i && k + 1 < e && s->s[k - 1] >= '0' && s->s[k - 1] <= '9' && s->s[k + 1] >= '0' && s->s[k + 1] <= '9') continue;
        if (!((ch >= '0' && ch <= '9') || ((ch == '+' || ch == '-') && k == i))) return false;
        buf[n++] = ch;
    }
    buf[n] = 0;
    if (n == 1 && (buf[0] == '+' || buf[0] == '-')) return false;
    char *end;
    errno = 0;
    long long v = strtoll(buf, &end, 10);
    if (*end || errno) return false;
    *out = v;
    return true;
}

static bool parse_float(const jj_str *s, double *out) {
    char buf[128];
    size_t i = 0, e = s->len;
    while (i < e && jj_cp_space((unsigned char)s->s[i])) i++;
    while (e > i && jj_cp_space((unsigned char)s->s[e - 1])) e--;
    if (e - i == 0 || e - i >= sizeof buf) return false;
    memcpy(buf, s->s + i, e - i);
    buf[e - i] = 0;
    for (size_t k = 0; buf[k]; k++)
        if (buf[k] == 'x' || buf[k] == 'X' || buf[k] == 'p' || buf[k] == 'P') return false; /* no hex floats */
    char *end;
    *out = strtod(buf, &end);
    return *end == 0;
}

/* Applies filter `name` to `in` (used by map). */
static bool select_common(jj_ctx *c, jj_val in, jj_val *args, size_t nargs, bool attr, bool keep, jj_val *out) {
    jj_list *l;
    if (!jj_truthy(in)) in = jj_undef(NULL); /* jinja2: `if value:` before iterating */
    if (!jj_iterate(c, in, &l) || !jj_list_new(c, 0, out)) return false;
    size_t a0 = attr ? 1 : 0;
    if (attr && nargs < 1) return jj_fail(c, "selectattr/rejectattr need an attribute name");
    const char *test = nargs > a0 ? (args[a0].t == JT_STR ? args[a0].u.s->s : NULL) : NULL;
    if (nargs > a0 && !test) return jj_fail(c, "test name must be a string");
    if (test && !jj_test_exists(test)) return jj_fail(c, "no test named '%s'", test);
    for (size_t i = 0; i < l->n; i++) {
        jj_val v = l->items[i];
        bool r;
        if (attr && !attr_path(c, v, args[0], &v)) return false;
        if (test) {
            if (!jj_apply_test(c, test, v, args + a0 + 1, nargs - a0 - 1, &r)) return false;
        } else {
            r = jj_truthy(v);
        }
        if (r == keep && !jj_list_push(c, out->u.l, l->items[i])) return false;
    }
    out->u.l->gen = true;
    return true;
}

static bool f_tojson(jj_ctx *c, jj_val in, jj_val *p, bool *has, jj_val *out) {
    /* params: ensure_ascii, indent, separators, sort_keys */
    char ind[64];
    const char *indent = NULL, *isep = ", ", *ksep = ": ";
    hearth_buf b = { 0 };
    if (has[1] && p[1].t != JT_NONE) {
        if (p[1].t == JT_INT) {
            int64_t k = p[1].u.i < 0 ? 0 : p[1].u.i > 32 ? 32 : p[1].u.i;
            memset(ind, ' ', (size_t)k);
            ind[k] = 0;
        } else if (p[1].t == JT_STR && p[1].u.s->len < sizeof ind) {
            memcpy(ind, p[1].u.s->s, p[1].u.s->len + 1);
        } else {
            return jj_fail(c, "tojson: unsupported indent");
        }
        indent = ind;
        isep   = ",";
    }
    if (has[2] && p[2].t != JT_NONE) {
        if (p[2].t != JT_LIST || p[2].u.l->n != 2 || p[2].u.l->items[0].t != JT_STR || p[2].u.l->items[1].t != JT_STR)
            return jj_fail(c, "tojson: separators must be a pair of strings");
        isep = p[2].u.l->items[0].u.s->s;
        ksep = p[2].u.l->items[1].u.s->s;
    }
    if (has[0] && jj_truthy(p[0])) return jj_fail(c, "tojson: ensure_ascii=True is not supported");
    bool ok = jj_to_json(c, in, &b, indent, isep, ksep, has[3] && jj_truthy(p[3]), 0) &&
              jj_str_new(c, b.data ? b.data : "", b.len, out);
    hearth_buf_free(&b);
    return ok;
}

static bool f_indent(jj_ctx *c, jj_val in, jj_val *p, bool *has, jj_val *out) {
    jj_val s, ind;
    if (!to_s(c, in, &s)) return false;
    if (has[0] && p[0].t == JT_STR) ind = p[0];
    else {
        int64_t w = has[0] ? (p[0].t == JT_INT ? p[0].u.i : -1) : 4;
        if (w < 0 || w > 256) return jj_fail(c, "indent: bad width");
        char sp[257];
        memset(sp, ' ', (size_t)w);
        if (!jj_str_new(c, sp, (size_t)w, &ind)) return false;
    }
    bool first = has[1] && jj_truthy(p[1]), blank = has[2] && jj_truthy(p[2]);
    /* jinja2: lines = (s + "\n").splitlines(); first line as is, later non-blank lines
     * (all lines with blank=True) indented; `first` indents the first line too. */
    hearth_buf b = { 0 };
    bool ok = true;
    const char *t = s.u.s->s;
    size_t n = s.u.s->len, i = 0, line_no = 0;
    if (first) ok = jj_buf_add(c, &b, ind.u.s->s, ind.u.s->len);
    for (;;) {
        size_t e = i;
        while (e < n && t[e] != '\n' && t[e] != '\r') e++;
        /* the piece t[i..e) is a line (the appended newline closes the last one) */
        if (ok && line_no > 0) {
            ok = jj_buf_add(c, &b, "\n", 1);
            if (ok && (blank || e > i)) ok = jj_buf_add(c, &b, ind.u.s->s, ind.u.s->len);
        }
        ok = ok && jj_buf_add(c, &b, t + i, e - i);
        line_no++;
        if (!ok || e >= n) break;
        if (t[e] == '\r' && e + 1 < n && t[e + 1] == '\n') e++;
        i = e + 1;
        if (i >= n) { /* s ended with a newline: the appended one makes one more empty line */
            ok = jj_buf_add(c, &b, "\n", 1) && (!blank || jj_buf_add(c, &b, ind.u.s->s, ind.u.s->len));
            break;
        }
    }
    ok = ok && jj_str_new(c, b.data ? b.data : "", b.len, out);
    hearth_buf_free(&b);
    return ok;
}

bool jj_apply_filter(jj_ctx *c, const char *name, jj_val in, jj_val *args, size_t nargs, const char **kwn,
                     jj_val *kwv, size_t nkw, jj_val *out) {
    jj_val p[MAXP], s;
    bool has[MAXP];
    jj_list *l;
#define BIND(...)                                                                               \
    do {                                                                                        \
        static const char *const pn_[] = { __VA_ARGS__ };                                       \
        if (!jj_bind(c, name, pn_, HEARTH_ARRAY_LEN(pn_), args, nargs, kwn, kwv, nkw, p, has)) \
            return false;                                                                       \
    } while (0)
#define NOARGS() do { if (nargs || nkw) return jj_fail(c, "filter '%s' takes no arguments", name); } while (0)

    if (!strcmp(name, "length") || !strcmp(name, "count")) {
        NOARGS();
        switch (in.t) {
        case JT_UNDEF: *out = jj_int(0); return true;
        case JT_STR: *out = jj_int((int64_t)jj_utf8_len(in.u.s->s, in.u.s->len)); return true;
        case JT_LIST:
            if (in.u.l->gen) return jj_fail(c, "object of type 'generator' has no len()");
            *out = jj_int((int64_t)in.u.l->n);
            return true;
        case JT_DICT: *out = jj_int((int64_t)in.u.d->n); return true;
        default: return jj_fail(c, "object of type '%s' has no len()", jj_type_name(in));
        }
    }
    if (!strcmp(name, "safe")) {
        NOARGS();
        if (!to_s(c, in, out)) return false;
        out->safe = 1;
        return true;
    }
    if (!strcmp(name, "string")) { NOARGS(); return to_s(c, in, out); }
    if (!strcmp(name, "escape") || !strcmp(name, "e")) { NOARGS(); return jj_html_escape(c, in, out); }
    if (!strcmp(name, "upper") || !strcmp(name, "lower") || !strcmp(name, "capitalize") || !strcmp(name, "title")) {
        NOARGS();
        if (!to_s(c, in, &s)) return false;
        if (name[0] == 't') return jinja_title(c, s.u.s, out);
        return jj_str_case(c, s.u.s, name[0] == 'u' ? 'u' : name[0] == 'l' ? 'l' : 'c', out);
    }
    if (!strcmp(name, "trim")) {
        BIND("chars");
        if (!to_s(c, in, &s)) return false;
        if (has[0] && p[0].t != JT_STR && p[0].t != JT_NONE) return jj_fail(c, "trim: chars must be a string");
        return jj_str_strip(c, s.u.s, has[0] && p[0].t == JT_STR ? p[0].u.s : NULL, 'b', out);
    }
    if (!strcmp(name, "replace")) {
        BIND("old", "new", "count");
        if (!has[0] || !has[1]) return jj_fail(c, "replace needs two arguments");
        jj_val o, nw;
        if (!to_s(c, in, &s) || !to_s(c, p[0], &o) || !to_s(c, p[1], &nw)) return false;
        int64_t cnt = has[2] && p[2].t == JT_INT ? p[2].u.i : -1;
        return jj_str_replace(c, s.u.s, o.u.s, nw.u.s, cnt, out);
    }
    if (!strcmp(name, "join")) {
        BIND("d", "attribute");
        jj_val sep;
        if (!jj_iterate(c, in, &l)) return false;
        if (has[0]) { if (!to_s(c, p[0], &sep)) return false; }
        else if (!jj_str_new(c, "", 0, &sep)) return false;
        hearth_buf b = { 0 };
        bool ok = true;
        for (size_t i = 0; ok && i < l->n; i++) {
            jj_val v = l->items[i];
            if (has[1] && !attr_path(c, v, p[1], &v)) { ok = false; break; }
            ok = (!i || jj_buf_add(c, &b, sep.u.s->s, sep.u.s->len)) && jj_to_str(c, v, &b);
        }
        ok = ok && jj_str_new(c, b.data ? b.data : "", b.len, out);
        hearth_buf_free(&b);
        return ok;
    }
    if (!strcmp(name, "first") || !strcmp(name, "last")) {
        NOARGS();
        if (!jj_iterate(c, in, &l)) return false;
        if (name[0] == 'l' && in.t == JT_LIST && in.u.l->gen) return jj_fail(c, "'generator' object is not reversible");
        *out = l->n ? l->items[name[0] == 'f' ? 0 : l->n - 1] : jj_undef(NULL);
        return true;
    }
    if (!strcmp(name, "list")) { NOARGS(); return jj_iterate(c, in, &l) && list_copy(c, l, out); }
    if (!strcmp(name, "reverse")) {
        NOARGS();
        if (!jj_iterate(c, in, &l)) return false;
        if (in.t == JT_STR) {
            hearth_buf b = { 0 };
            bool ok = true;
            for (size_t i = l->n; ok && i > 0; i--) ok = jj_buf_add(c, &b, l->items[i - 1].u.s->s, l->items[i - 1].u.s->len);
            ok = ok && jj_str_new(c, b.data ? b.data : "", b.len, out);
            hearth_buf_free(&b);
            return ok;
        }
        if (!jj_list_new(c, l->n, out)) return false;
        for (size_t i = 0; i < l->n; i++) out->u.l->items[i] = l->items[l->n - 1 - i];
        out->u.l->n   = l->n;
        out->u.l->gen = true; /* a list_reverseiterator */
        return true;
    }
    if (!strcmp(name, "map")) {
        if (!jj_truthy(in)) in = jj_undef(NULL); /* jinja2: `if value:` before iterating */
        if (!jj_iterate(c, in, &l) || !jj_list_new(c, l->n, out)) return false;
        bool by_attr = nargs == 0;
        jj_val attr = jj_undef(NULL), dflt = jj_none();
        bool has_dflt = false;
        if (by_attr) {
            for (size_t k = 0; k < nkw; k++) {
                if (!strcmp(kwn[k], "attribute")) attr = kwv[k];
                else if (!strcmp(kwn[k], "default")) { dflt = kwv[k]; has_dflt = true; }
                else return jj_fail(c, "map: unexpected keyword argument '%s'", kwn[k]);
            }
            if (attr.t == JT_UNDEF) return jj_fail(c, "map requires a filter argument");
        } else if (args[0].t != JT_STR || !jj_filter_exists(args[0].u.s->s)) {
            return jj_fail(c, "map: no filter named '%s'", args[0].t == JT_STR ? args[0].u.s->s : "?");
        }
        for (size_t i = 0; i < l->n; i++) {
            jj_val v;
            if (by_attr) {
                if (!attr_path(c, l->items[i], attr, &v)) return false;
                if (v.t == JT_UNDEF && has_dflt) v = dflt;
            } else if (!jj_apply_filter(c, args[0].u.s->s, l->items[i], args + 1, nargs - 1, kwn, kwv, nkw, &v)) {
                return false;
            }
            out->u.l->items[i] = v;
        }
        out->u.l->n   = l->n;
        out->u.l->gen = true;
        return true;
    }
    if (!strcmp(name, "select") || !strcmp(name, "reject")) {
        if (nkw) return jj_fail(c, "%s: keyword arguments are not supported", name);
        return select_common(c, in, args, nargs, false, name[0] == 's', out);
    }
    if (!strcmp(name, "selectattr") || !strcmp(name, "rejectattr")) {
        if (nkw) return jj_fail(c, "%s: keyword arguments are not supported", name);
        return select_common(c, in, args, nargs, true, name[0] == 's', out);
    }
    if (!strcmp(name, "tojson")) {
        BIND("ensure_ascii", "indent", "separators", "sort_keys");
        return f_tojson(c, in, p, has, out);
    }
    if (!strcmp(name, "int")) {
        BIND("default", "base");
        jj_val dflt = has[0] ? p[0] : jj_int(0);
        int64_t iv;
        double fv;
        if (has[1] && !(p[1].t == JT_INT && p[1].u.i == 10)) return jj_fail(c, "int: only base 10 is supported");
        switch (in.t) {
        case JT_INT: *out = in; return true;
        case JT_BOOL: *out = jj_int(in.u.b); return true;
        case JT_FLOAT:
            if (!isfinite(in.u.f) || fabs(in.u.f) >= 9.2e18) return jj_fail(c, "cannot convert float %s to integer", isnan(in.u.f) ? "NaN" : "infinity");
            *out = jj_int((int64_t)in.u.f);
            return true;
        case JT_STR:
            if (parse_int(in.u.s, &iv)) { *out = jj_int(iv); return true; }
            if (parse_float(in.u.s, &fv)) {
                if (!isfinite(fv) || fabs(fv) >= 9.2e18) return jj_fail(c, "cannot convert float to integer");
                *out = jj_int((int64_t)fv);
                return true;
            }
            /* fallthrough */
        default: *out = dflt; return true;
        }
    }
    if (!strcmp(name, "float")) {
        BIND("default");
        double fv;
        if (jj_is_num(in)) { *out = jj_float(jj_num(in)); return true; }
        if (in.t == JT_STR && parse_float(in.u.s, &fv)) { *out = jj_float(fv); return true; }
        *out = has[0] ? p[0] : jj_float(0.0);
        return true;
    }
    if (!strcmp(name, "default") || !strcmp(name, "d")) {
        BIND("default_value", "boolean");
        bool use = in.t == JT_UNDEF || (has[1] && jj_truthy(p[1]) && !jj_truthy(in));
        if (!use) { *out = in; return true; }
        if (has[0]) { *out = p[0]; return true; }
        return jj_str_new(c, "", 0, out);
    }
    if (!strcmp(name, "items")) {
        NOARGS();
        if (in.t == JT_UNDEF) return jj_list_new(c, 0, out);
        if (in.t != JT_DICT) return jj_fail(c, "Can only get item pairs from a mapping.");
        jj_method m = { in, "items" };
        if (!jj_call_method(c, &m, NULL, 0, NULL, NULL, 0, out)) return false;
        out->u.l->gen = true;
        return true;
    }
    if (!strcmp(name, "dictsort")) {
        BIND("case_sensitive", "by", "reverse");
        if (in.t != JT_DICT) return jj_fail(c, "dictsort: expected a mapping, got %s", jj_type_name(in));
        jj_method m = { in, "items" };
        sort_opts o = { .case_sensitive = has[0] && jj_truthy(p[0]), .reverse = has[2] && jj_truthy(p[2]), .pick = 0 };
        if (has[1]) {
            if (p[1].t == JT_STR && !strcmp(p[1].u.s->s, "value")) o.pick = 1;
            else if (!(p[1].t == JT_STR && !strcmp(p[1].u.s->s, "key"))) return jj_fail(c, "You can only sort by either \"key\" or \"value\"");
        }
        return jj_call_method(c, &m, NULL, 0, NULL, NULL, 0, out) && jj_sort(c, out->u.l->items, out->u.l->n, sort_cmp, &o);
    }
    if (!strcmp(name, "sort")) {
        BIND("reverse", "case_sensitive", "attribute");
        sort_opts o = { .reverse = has[0] && jj_truthy(p[0]), .case_sensitive = has[1] && jj_truthy(p[1]),
                        .has_attr = has[2] && p[2].t != JT_NONE, .pick = -1 };
        if (o.has_attr) o.attr = p[2];
        return jj_iterate(c, in, &l) && list_copy(c, l, out) && jj_sort(c, out->u.l->items, out->u.l->n, sort_cmp, &o);
    }
    if (!strcmp(name, "unique") || !strcmp(name, "min") || !strcmp(name, "max")) {
        BIND("case_sensitive", "attribute");
        sort_opts o = { .case_sensitive = has[0] && jj_truthy(p[0]), .has_attr = has[1] && p[1].t != JT_NONE, .pick = -1 };
        if (o.has_attr) o.attr = p[1];
        if (!jj_iterate(c, in, &l)) return false;
        if (name[0] == 'u') {
            jj_val seen;
            if (!jj_list_new(c, 0, out) || !jj_list_new(c, 0, &seen)) return false;
            for (size_t i = 0; i < l->n; i++) {
                jj_val k;
                bool dup = false;
                if (!sort_key(c, l->items[i], &o, &k)) return false;
                for (size_t j = 0; j < seen.u.l->n && !dup; j++)
                    if (!jj_eq(c, k, seen.u.l->items[j], &dup)) return false;
                if (!dup && (!jj_list_push(c, seen.u.l, k) || !jj_list_push(c, out->u.l, l->items[i]))) return false;
            }
            out->u.l->gen = true;
            return true;
        }
        if (!l->n) { *out = jj_undef(NULL); return true; }
        size_t best = 0;
        for (size_t i = 1; i < l->n; i++) {
            int r;
            if (!sort_cmp(c, l->items[i], l->items[best], &o, &r)) return false;
            if (name[1] == 'i' ? r < 0 : r > 0) best = i;
        }
        *out = l->items[best];
        return true;
    }
    if (!strcmp(name, "round")) {
        BIND("precision", "method");
        int64_t prec = has[0] ? (p[0].t == JT_INT ? p[0].u.i : -1000) : 0;
        const char *method = has[1] && p[1].t == JT_STR ? p[1].u.s->s : "common";
        if (prec < 0 || prec > 20) return jj_fail(c, "round: unsupported precision");
        if (!jj_is_num(in)) return jj_fail(c, "round: expected a number, got %s", jj_type_name(in));
        double x = jj_num(in), scale = pow(10.0, (double)prec);
        if (!strcmp(method, "floor")) { *out = jj_float(floor(x * scale) / scale); return true; }
        if (!strcmp(method, "ceil")) { *out = jj_float(ceil(x * scale) / scale); return true; }
        if (strcmp(method, "common")) return jj_fail(c, "method must be 'common', 'ceil' or 'floor'");
        if (in.t != JT_FLOAT) { *out = jj_int(in.t == JT_INT ? in.u.i : in.u.b); return true; }
        if (!isfinite(x)) { *out = in; return true; }
        char buf[512];
        snprintf(buf, sizeof buf, "%.*f", (int)prec, x); /* correctly rounded, half to even */
        *out = jj_float(strtod(buf, NULL));
        return true;
    }
    if (!strcmp(name, "abs")) {
        NOARGS();
        if (in.t == JT_FLOAT) { *out = jj_float(fabs(in.u.f)); return true; }
        if (in.t == JT_INT || in.t == JT_BOOL) {
            int64_t v = in.t == JT_INT ? in.u.i : in.u.b;
            if (v == INT64_MIN) return jj_fail(c, "integer overflow in abs");
            *out = jj_int(v < 0 ? -v : v);
            return true;
        }
        return jj_fail(c, "bad operand type for abs(): '%s'", jj_type_name(in));
    }
    if (!strcmp(name, "indent")) {
        BIND("width", "first", "blank");
        return f_indent(c, in, p, has, out);
    }
    if (!strcmp(name, "batch")) {
        BIND("linecount", "fill_with");
        if (!has[0] || p[0].t != JT_INT || p[0].u.i <= 0) return jj_fail(c, "batch: linecount must be a positive integer");
        size_t k = (size_t)p[0].u.i;
        if (!jj_iterate(c, in, &l) || !jj_list_new(c, 0, out)) return false;
        for (size_t i = 0; i < l->n; i += k) {
            jj_val row;
            if (!jj_list_new(c, 0, &row)) return false;
            for (size_t j = i; j < i + k; j++) {
                if (j < l->n) { if (!jj_list_push(c, row.u.l, l->items[j])) return false; }
                else if (has[1] && p[1].t != JT_NONE) { if (!jj_list_push(c, row.u.l, p[1])) return false; }
            }
            if (!jj_list_push(c, out->u.l, row)) return false;
        }
        out->u.l->gen = true;
        return true;
    }
    if (!strcmp(name, "sum")) {
        BIND("attribute", "start");
        jj_val acc = has[1] ? p[1] : jj_int(0);
        if (!jj_iterate(c, in, &l)) return false;
        for (size_t i = 0; i < l->n; i++) {
            jj_val v = l->items[i];
            if (has[0] && !attr_path(c, v, p[0], &v)) return false;
            if (!jj_is_num(v) || !jj_is_num(acc)) return jj_fail(c, "unsupported operand type(s) for +: '%s' and '%s'", jj_type_name(acc), jj_type_name(v));
            if (acc.t == JT_FLOAT || v.t == JT_FLOAT) acc = jj_float(jj_num(acc) + jj_num(v));
            else {
                int64_t r;
                if (__builtin_add_overflow((int64_t)jj_num(acc), (int64_t)jj_num(v), &r)) return jj_fail(c, "integer overflow in sum");
                acc = jj_int(r);
            }
        }
        *out = acc;
        return true;
    }
    if (!strcmp(name, "wordcount")) {
        NOARGS();
        if (!to_s(c, in, &s)) return false;
        int64_t words = 0;
        bool inw = false;
        for (size_t i = 0; i < s.u.s->len; i++) {
            unsigned char ch = (unsigned char)s.u.s->s[i];
            bool w = ch >= 0x80 || ch == '_' || (ch >= '0' && ch <= '9') || ((ch | 32) >= 'a' && (ch | 32) <= 'z');
            if (w && !inw) words++;
            inw = w;
        }
        *out = jj_int(words);
        return true;
    }
    return jj_fail(c, "no filter named '%s'", name);
#undef BIND
#undef NOARGS
}
