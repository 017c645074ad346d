/* jinja_builtins.c — globals (range, namespace, dict, raise_exception, strftime_now), tests
 * (`is defined`, ...), str/dict methods, and the argument binding and text helpers the
 * filters share.  Only pure functions of their arguments: no file, environment or process
 * access (strftime_now reads the clock unless lim.has_now fixes the time). */
#include "chat/jinja.h"

#include <locale.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <wctype.h>

/* ---- argument binding --------------------------------------------------------------- */

bool jj_bind(jj_ctx *c, const char *fname, const char *const *params, size_t np, jj_val *args,
             size_t nargs, const char **kwn, jj_val *kwv, size_t nkw, jj_val *out, bool *has) {
    for (size_t i = 0; i < np; i++) has[i] = false;
    if (nargs > np) return jj_fail(c, "%s() takes at most %zu argument(s) (%zu given)", fname, np, nargs);
    for (size_t i = 0; i < nargs; i++) { out[i] = args[i]; has[i] = true; }
    for (size_t k = 0; k < nkw; k++) {
        size_t p = 0;
        while (p < np && strcmp(params[p], kwn[k])) p++;
        if (p == np) return jj_fail(c, "%s() got an unexpected keyword argument '%s'", fname, kwn[k]);
        if (has[p]) return jj_fail(c, "%s() got multiple values for argument '%s'", fname, kwn[k]);
        out[p] = kwv[k];
        has[p] = true;
    }
    return true;
}

/* ---- Unicode case and space --------------------------------------------------------- */

static locale_t       utf8_loc;
static pthread_once_t utf8_once = PTHREAD_ONCE_INIT;
static void           utf8_init(void) {
    utf8_loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
}

uint32_t jj_cp_upper(uint32_t cp) {
    if (cp < 0x80) return cp >= 'a' && cp <= 'z' ? cp - 32 : cp;
    pthread_once(&utf8_once, utf8_init);
    return utf8_loc ? (uint32_t)towupper_l((wint_t)cp, utf8_loc) : cp;
}

uint32_t jj_cp_lower(uint32_t cp) {
    if (cp < 0x80) return cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
    pthread_once(&utf8_once, utf8_init);
    return utf8_loc ? (uint32_t)towlower_l((wint_t)cp, utf8_loc) : cp;
}

/* Python's "cased" character, approximately: it has an upper or a lower case form. */
bool jj_cp_cased(uint32_t cp) {
    if (cp < 0x80) return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z');
    return jj_cp_upper(cp) != cp || jj_cp_lower(cp) != cp;
}

bool jj_cp_space(uint32_t cp) {
    return cp == ' ' || (cp >= 0x09 && cp <= 0x0d) || (cp >= 0x1c && cp <= 0x1f) || cp == 0x85 ||
           cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 ||
           cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

/* Maps each code point of s through `mode`: 'u' upper, 'l' lower, 't' Python str.title(),
 * 'c' capitalize (first upper, rest lower). */
bool jj_str_case(jj_ctx *c, const jj_str *s, char mode, jj_val *out) {
    hearth_buf b = { 0 };
    bool prev_cased = false, first = true, ok = true;
    for (size_t i = 0; ok && i < s->len;) {
        size_t len;
        uint32_t cp = jj_utf8_next((const unsigned char *)s->s + i, s->len - i, &len), r = cp;
        if (mode == 'u') r = jj_cp_upper(cp);
        else if (mode == 'l') r = jj_cp_lower(cp);
        else if (mode == 'c') r = first ? jj_cp_upper(cp) : jj_cp_lower(cp);
        else {
            bool cased = jj_cp_cased(cp);
            r = cased ? (prev_cased ? jj_cp_lower(cp) : jj_cp_upper(cp)) : cp;
            prev_cased = cased;
        }
        first = false;
        char enc[4];
        if (len == 1 && cp >= 0x80) ok = jj_buf_add(c, &b, s->s + i, 1); /* stray byte kept */
        else ok = jj_buf_add(c, &b, enc, jj_utf8_put(enc, r));
        i += len;
    }
    ok = ok && jj_str_new(c, b.data ? b.data : "", b.len, out);
    hearth_buf_free(&b);
    return ok;
}

/* Python str.strip/lstrip/rstrip: which = 'b'oth, 'l', 'r'; chars NULL = whitespace. */
bool jj_str_strip(jj_ctx *c, const jj_str *s, const jj_str *chars, char which, jj_val *out) {
    size_t a = 0, e = s->len;
    const unsigned char *p = (const unsigned char *)s->s;
    while (which != 'r' && a < e) {
        size_t len;
        uint32_t cp = jj_utf8_next(p + a, e - a, &len);
        bool strip = chars ? memmem(chars->s, chars->len, s->s + a, len) != NULL : jj_cp_space(cp);
        if (!strip) break;
        a += len;
    }
    while (which != 'l' && e > a) {
        size_t st = e - 1;
        while (st > a && (p[st] & 0xC0) == 0x80) st--;
        size_t len;
        uint32_t cp = jj_utf8_next(p + st, e - st, &len);
        if (st + len != e) { st = e - 1; cp = p[st]; len = 1; }
        bool strip = chars ? memmem(chars->s, chars->len, s->s + st, len) != NULL : jj_cp_space(cp);
        if (!strip) break;
        e = st;
    }
    return jj_str_new(c, s->s + a, e - a, out);
}

/* Python str.replace(old, new, count) (count < 0: all). */
bool jj_str_replace(jj_ctx *c, const jj_str *s, const jj_str *old, const jj_str *new_, int64_t count, jj_val *out) {
    hearth_buf b = { 0 };
    bool ok = true;
    if (old->len == 0) { /* inserts `new` between every character and at both ends */
        size_t i = 0;
        int64_t k = 0;
        while (ok && i <= s->len) {
            if (count < 0 || k < count) { ok = jj_buf_add(c, &b, new_->s, new_->len); k++; }
            if (i == s->len) break;
            size_t j = i + 1;
            while (j < s->len && ((unsigned char)s->s[j] & 0xC0) == 0x80) j++;
            ok = ok && jj_buf_add(c, &b, s->s + i, j - i);
            i = j;
        }
    } else {
        size_t i = 0;
        int64_t k = 0;
        while (ok && i < s->len) {
            const char *hit = (count < 0 || k < count) ? memmem(s->s + i, s->len - i, old->s, old->len) : NULL;
            if (!hit) { ok = jj_buf_add(c, &b, s->s + i, s->len - i); break; }
            size_t at = (size_t)(hit - s->s);
            ok = jj_buf_add(c, &b, s->s + i, at - i) && jj_buf_add(c, &b, new_->s, new_->len) && jj_step(c);
            i = at + old->len;
            k++;
        }
    }
    ok = ok && jj_str_new(c, b.data ? b.data : "", b.len, out);
    hearth_buf_free(&b);
    return ok;
}

/* ---- globals ------------------------------------------------------------------------ */

static const char *const global_names[JJ_FN_COUNT] = {
    [JJ_FN_RANGE] = "range", [JJ_FN_NAMESPACE] = "namespace", [JJ_FN_DICT] = "dict",
    [JJ_FN_RAISE] = "raise_exception", [JJ_FN_STRFTIME] = "strftime_now", [JJ_FN_LIST] = "list",
};

int jj_global_fn(const char *name) {
    for (int i = 0; i < JJ_FN_COUNT; i++)
        if (global_names[i] && !strcmp(global_names[i], name)) return i;
    return -1;
}

static bool fn_range(jj_ctx *c, jj_val *args, size_t nargs, jj_val *out) {
    int64_t a = 0, b = 0, st = 1;
    if (nargs < 1 || nargs > 3) return jj_fail(c, "range expected 1 to 3 arguments, got %zu", nargs);
    for (size_t i = 0; i < nargs; i++)
        if (args[i].t != JT_INT && args[i].t != JT_BOOL)
            return jj_fail(c, "'%s' object cannot be interpreted as an integer", jj_type_name(args[i]));
#define IV(v) ((v).t == JT_INT ? (v).u.i : (int64_t)(v).u.b)
    if (nargs == 1) b = IV(args[0]);
    else { a = IV(args[0]); b = IV(args[1]); }
    if (nargs == 3) st = IV(args[2]);
#undef IV
    if (st == 0) return jj_fail(c, "range() arg 3 must not be zero");
    uint64_t n = 0;
    if (st > 0 && b > a) n = ((uint64_t)b - (uint64_t)a + (uint64_t)st - 1) / (uint64_t)st;
    if (st < 0 && a > b) n = ((uint64_t)a - (uint64_t)b + (uint64_t)(-(st + 1)) + 1) / ((uint64_t)(-(st + 1)) + 1);
    if (n > c->lim.max_loop_iters) return jj_fail(c, "range() too large for the template limits (%llu items)", (unsigned long long)n);
    if (!jj_list_new(c, (size_t)n, out)) return false;
    for (uint64_t i = 0; i < n; i++) out->u.l->items[i] = jj_int(a + (int64_t)i * st);
    out->u.l->n = (size_t)n;
    return true;
}

static bool kwargs_into(jj_ctx *c, jj_dict *d, jj_val *args, size_t nargs, const char **kwn, jj_val *kwv, size_t nkw) {
    if (nargs > 1) return jj_fail(c, "expected at most 1 positional argument");
    if (nargs == 1) {
        if (args[0].t != JT_DICT && args[0].t != JT_NS) return jj_fail(c, "expected a mapping argument");
        for (size_t i = 0; i < args[0].u.d->n; i++)
            if (!jj_dict_set(c, d, args[0].u.d->keys[i], args[0].u.d->vals[i])) return false;
    }
    for (size_t k = 0; k < nkw; k++)
        if (!jj_dict_sets(c, d, kwn[k], kwv[k])) return false;
    return true;
}

bool jj_call_builtin(jj_ctx *c, int fn, jj_val *args, size_t nargs, const char **kwn, jj_val *kwv,
                     size_t nkw, jj_val *out) {
    switch (fn) {
    case JJ_FN_RANGE:
        if (nkw) return jj_fail(c, "range() takes no keyword arguments");
        return fn_range(c, args, nargs, out);
    case JJ_FN_NAMESPACE: case JJ_FN_DICT:
        if (!jj_dict_new(c, out) || !kwargs_into(c, out->u.d, args, nargs, kwn, kwv, nkw)) return false;
        if (fn == JJ_FN_NAMESPACE) out->t = JT_NS;
        return true;
    case JJ_FN_LIST: {
        jj_list *l;
        if (nargs == 0) return jj_list_new(c, 0, out);
        if (!jj_iterate(c, args[0], &l) || !jj_list_new(c, l->n, out)) return false;
        memcpy(out->u.l->items, l->items, l->n * sizeof(jj_val));
        out->u.l->n = l->n;
        return true;
    }
    case JJ_FN_RAISE: {
        hearth_buf b = { 0 };
        if (nargs && !jj_to_str(c, args[0], &b)) { hearth_buf_free(&b); return false; }
        jj_fail(c, "%s", b.data ? b.data : "");
        hearth_buf_free(&b);
        return false;
    }
    case JJ_FN_STRFTIME: {
        if (nargs != 1 || args[0].t != JT_STR) return jj_fail(c, "strftime_now() expects one string argument");
        if (args[0].u.s->len > 256) return jj_fail(c, "strftime_now() format too long");
        struct tm tm;
        time_t t = c->lim.has_now ? (time_t)c->lim.now : time(NULL);
        if (c->lim.has_now) gmtime_r(&t, &tm);
        else localtime_r(&t, &tm);
        char buf[1024];
        size_t n = args[0].u.s->len ? strftime(buf, sizeof buf, args[0].u.s->s, &tm) : 0;
        return jj_str_new(c, buf, n, out);
    }
    }
    return jj_fail(c, "internal error: unknown builtin %d", fn);
}

/* ---- tests -------------------------------------------------------------------------- */

static const char *const test_names[] = {
    "defined", "undefined", "none", "string", "number", "integer", "float", "mapping", "iterable",
    "sequence", "boolean", "true", "false", "equalto", "eq", "==", "ne", "!=", "lt", "<", "le",
    "<=", "gt", ">", "ge", ">=", "odd", "even", "divisibleby", "in", "callable", "lower", "upper",
    "sameas", "greaterthan", "lessthan", "filter", "test", NULL,
};

bool jj_test_exists(const char *name) {
    for (size_t i = 0; test_names[i]; i++)
        if (!strcmp(test_names[i], name)) return true;
    return false;
}

bool jj_apply_test(jj_ctx *c, const char *name, jj_val v, jj_val *args, size_t nargs, bool *res) {
    jj_val a = nargs ? args[0] : jj_undef(NULL);
    if (!strcmp(name, "defined")) *res = v.t != JT_UNDEF;
    else if (!strcmp(name, "undefined")) *res = v.t == JT_UNDEF;
    else if (!strcmp(name, "none")) *res = v.t == JT_NONE;
    else if (!strcmp(name, "string")) *res = v.t == JT_STR;
    else if (!strcmp(name, "number")) *res = jj_is_num(v);
    else if (!strcmp(name, "integer")) *res = v.t == JT_INT;
    else if (!strcmp(name, "float")) *res = v.t == JT_FLOAT;
    else if (!strcmp(name, "mapping")) *res = v.t == JT_DICT;
    else if (!strcmp(name, "iterable")) *res = v.t == JT_STR || v.t == JT_LIST || v.t == JT_DICT || v.t == JT_UNDEF;
    else if (!strcmp(name, "sequence")) *res = v.t == JT_STR || v.t == JT_LIST || v.t == JT_DICT || v.t == JT_UNDEF;
    else if (!strcmp(name, "boolean")) *res = v.t == JT_BOOL;
    else if (!strcmp(name, "true")) *res = v.t == JT_BOOL && v.u.b;
    else if (!strcmp(name, "false")) *res = v.t == JT_BOOL && !v.u.b;
    else if (!strcmp(name, "callable")) *res = v.t == JT_FUNC || v.t == JT_MACRO || v.t == JT_METHOD;
    else if (!strcmp(name, "filter")) *res = v.t == JT_STR && jj_filter_exists(v.u.s->s);
    else if (!strcmp(name, "test")) *res = v.t == JT_STR && jj_test_exists(v.u.s->s);
    else if (!strcmp(name, "lower") || !strcmp(name, "upper")) {
        jj_val conv;
        if (v.t != JT_STR) return jj_fail(c, "test '%s' needs a string", name);
        if (!jj_str_case(c, v.u.s, name[0] == 'l' ? 'l' : 'u', &conv)) return false;
        *res = !strcmp(conv.u.s->s, v.u.s->s);
    } else if (!strcmp(name, "odd") || !strcmp(name, "even") || !strcmp(name, "divisibleby")) {
        if (v.t == JT_UNDEF) return jj_fail(c, "'%s' is undefined", v.u.name ? v.u.name : "value");
        if (!jj_is_num(v)) return jj_fail(c, "test '%s' needs a number, got %s", name, jj_type_name(v));
        if (name[0] == 'd') {
            if (!jj_is_num(a)) return jj_fail(c, "divisibleby needs a number");
            if (jj_num(a) == 0) return jj_fail(c, "integer division or modulo by zero");
            if (v.t == JT_FLOAT || a.t == JT_FLOAT) *res = __builtin_fmod(jj_num(v), jj_num(a)) == 0;
            else *res = (v.t == JT_INT ? v.u.i : v.u.b) % (a.t == JT_INT ? a.u.i : a.u.b) == 0;
        } else {
            int64_t x = v.t == JT_FLOAT ? (int64_t)v.u.f : v.t == JT_INT ? v.u.i : v.u.b;
            if (v.t == JT_FLOAT && v.u.f != (double)x) *res = name[0] == 'o' ? false : false;
            else *res = ((x % 2) != 0) == (name[0] == 'o');
        }
    } else if (!strcmp(name, "sameas")) {
        if (!jj_eq(c, v, a, res)) return false;
        if (v.t != a.t) *res = false;
    } else if (!strcmp(name, "in")) {
        jj_list *l;
        if (a.t == JT_STR) {
            if (v.t != JT_STR) return jj_fail(c, "'in <string>' requires string as left operand");
            *res = memmem(a.u.s->s, a.u.s->len, v.u.s->s, v.u.s->len) != NULL || v.u.s->len == 0;
            return true;
        }
        if (a.t == JT_DICT) { *res = jj_dict_get(a.u.d, v) != NULL; return true; }
        if (!jj_iterate(c, a, &l)) return false;
        *res = false;
        for (size_t i = 0; i < l->n && !*res; i++)
            if (!jj_eq(c, v, l->items[i], res)) return false;
    } else {
        /* comparisons */
        if (!nargs) return jj_fail(c, "test '%s' needs an argument", name);
        if (!strcmp(name, "equalto") || !strcmp(name, "eq") || !strcmp(name, "==")) return jj_eq(c, v, a, res);
        if (!strcmp(name, "ne") || !strcmp(name, "!=")) {
            if (!jj_eq(c, v, a, res)) return false;
            *res = !*res;
            return true;
        }
        int r;
        if (!jj_cmp(c, v, a, &r)) return false;
        if (!strcmp(name, "lt") || !strcmp(name, "<") || !strcmp(name, "lessthan")) *res = r < 0;
        else if (!strcmp(name, "le") || !strcmp(name, "<=")) *res = r <= 0;
        else if (!strcmp(name, "gt") || !strcmp(name, ">") || !strcmp(name, "greaterthan")) *res = r > 0;
        else *res = r >= 0;
    }
    return true;
}

/* ---- methods ------------------------------------------------------------------------ */

static const char *const str_methods[] = {
    "strip", "lstrip", "rstrip", "split", "rsplit", "startswith", "endswith", "upper", "lower",
    "title", "capitalize", "replace", "format", "join", "find", "count", "isdigit", "isalpha",
    "isalnum", "isspace", "islower", "isupper", "splitlines", NULL,
};
static const char *const dict_methods[] = { "items", "keys", "values", "get", NULL };

static bool in_names(const char *const *names, const char *name) {
    for (size_t i = 0; names[i]; i++)
        if (!strcmp(names[i], name)) return true;
    return false;
}

bool jj_has_method(jj_val obj, const char *name) {
    if (obj.t == JT_STR) return in_names(str_methods, name);
    if (obj.t == JT_DICT) return in_names(dict_methods, name);
    return false;
}

/* Python str.split(sep=None, maxsplit=-1). */
static bool str_split(jj_ctx *c, const jj_str *s, const jj_val *sep, int64_t maxsplit, jj_val *out) {
    if (!jj_list_new(c, 0, out)) return false;
    jj_val piece;
    const char *p = s->s;
    size_t n = s->len, i = 0;
    int64_t splits = 0;
    if (!sep || sep->t == JT_NONE) {
        for (;;) {
            while (i < n) {
                size_t len;
                if (!jj_cp_space(jj_utf8_next((const unsigned char *)p + i, n - i, &len))) break;
                i += len;
            }
            if (i >= n) return true;
            if (maxsplit >= 0 && splits >= maxsplit) {
                size_t e = n; /* the rest, with trailing whitespace stripped */
                jj_str tmpv = { 0 };
                (void)tmpv;
                while (e > i && jj_cp_space((unsigned char)p[e - 1])) e--;
                return jj_str_new(c, p + i, e - i, &piece) && jj_list_push(c, out->u.l, piece);
            }
            size_t st = i;
            while (i < n) {
                size_t len;
                if (jj_cp_space(jj_utf8_next((const unsigned char *)p + i, n - i, &len))) break;
                i += len;
            }
            if (!jj_str_new(c, p + st, i - st, &piece) || !jj_list_push(c, out->u.l, piece) || !jj_step(c)) return false;
            splits++;
        }
    }
    if (sep->t != JT_STR) return jj_fail(c, "must be str or None, not %s", jj_type_name(*sep));
    if (sep->u.s->len == 0) return jj_fail(c, "empty separator");
    for (;;) {
        const char *hit = (maxsplit < 0 || splits < maxsplit) ? memmem(p + i, n - i, sep->u.s->s, sep->u.s->len) : NULL;
        size_t e = hit ? (size_t)(hit - p) : n;
        if (!jj_str_new(c, p + i, e - i, &piece) || !jj_list_push(c, out->u.l, piece) || !jj_step(c)) return false;
        if (!hit) return true;
        i = e + sep->u.s->len;
        splits++;
    }
}

/* Python str.format with {} / {0} / {name} fields (no format specs). */
static bool str_format(jj_ctx *c, const jj_str *s, jj_val *args, size_t nargs, const char **kwn, jj_val *kwv,
                       size_t nkw, jj_val *out) {
    hearth_buf b = { 0 };
    size_t auto_idx = 0;
    bool ok = true;
    for (size_t i = 0; ok && i < s->len; i++) {
        char ch = s->s[i];
        if (ch == '}' ) {
            if (i + 1 < s->len && s->s[i + 1] == '}') i++;
            else { ok = jj_fail(c, "Single '}' encountered in format string"); break; }
            ok = jj_buf_add(c, &b, "}", 1);
            continue;
        }
        if (ch != '{') { ok = jj_buf_add(c, &b, &ch, 1); continue; }
        if (i + 1 < s->len && s->s[i + 1] == '{') { i++; ok = jj_buf_add(c, &b, "{", 1); continue; }
        const char *close = memchr(s->s + i, '}', s->len - i);
        if (!close) { ok = jj_fail(c, "Single '{' encountered in format string"); break; }
        size_t fl = (size_t)(close - (s->s + i + 1));
        char field[64];
        if (fl >= sizeof field) { ok = jj_fail(c, "format field too long"); break; }
        memcpy(field, s->s + i + 1, fl);
        field[fl] = 0;
        if (strchr(field, ':') || strchr(field, '!') || strchr(field, '.') || strchr(field, '[')) {
            ok = jj_fail(c, "format specs are not supported in str.format");
            break;
        }
        jj_val v = jj_undef(NULL);
        bool found = false;
        if (fl == 0 || (field[0] >= '0' && field[0] <= '9')) {
            size_t idx = fl == 0 ? auto_idx++ : (size_t)strtoul(field, NULL, 10);
            if (idx < nargs) { v = args[idx]; found = true; }
            else { ok = jj_fail(c, "Replacement index %zu out of range for positional args tuple", idx); break; }
        } else {
            for (size_t k = 0; k < nkw; k++)
                if (!strcmp(kwn[k], field)) { v = kwv[k]; found = true; }
            if (!found) { ok = jj_fail(c, "KeyError: '%s'", field); break; }
        }
        ok = jj_to_str(c, v, &b);
        i += fl + 1;
    }
    ok = ok && jj_str_new(c, b.data ? b.data : "", b.len, out);
    hearth_buf_free(&b);
    return ok;
}

static bool str_pred(const jj_str *s, char kind) {
    if (s->len == 0) return false;
    bool any_cased = false;
    for (size_t i = 0; i < s->len;) {
        size_t len;
        uint32_t cp = jj_utf8_next((const unsigned char *)s->s + i, s->len - i, &len);
        i += len;
        switch (kind) {
        case 'd': if (!(cp >= '0' && cp <= '9')) return false; break;
        case 'a': if (!jj_cp_cased(cp) && cp < 0x80) return false; break;
        case 'n': if (!jj_cp_cased(cp) && !(cp >= '0' && cp <= '9') && cp < 0x80) return false; break;
        case 's': if (!jj_cp_space(cp)) return false; break;
        case 'l': if (jj_cp_cased(cp)) { any_cased = true; if (jj_cp_lower(cp) != cp) return false; } break;
        case 'u': if (jj_cp_cased(cp)) { any_cased = true; if (jj_cp_upper(cp) != cp) return false; } break;
        }
    }
    return kind == 'l' || kind == 'u' ? any_cased : true;
}

static bool affix(jj_ctx *c, const jj_str *s, jj_val a, bool start, bool *res) {
    *res = false;
    if (a.t == JT_LIST && a.u.l->tuple) {
        for (size_t i = 0; i < a.u.l->n && !*res; i++)
            if (!affix(c, s, a.u.l->items[i], start, res)) return false;
        return true;
    }
    if (a.t != JT_STR)
        return jj_fail(c, "%s first arg must be str or a tuple of str, not %s", start ? "startswith" : "endswith", jj_type_name(a));
    size_t n = a.u.s->len;
    *res = n <= s->len && !memcmp(start ? s->s : s->s + s->len - n, a.u.s->s, n);
    return true;
}

static bool call_str_method(jj_ctx *c, const jj_str *s, const char *name, jj_val *args, size_t nargs,
                            const char **kwn, jj_val *kwv, size_t nkw, jj_val *out) {
    jj_val p[3];
    bool has[3];
    if (!strcmp(name, "format")) return str_format(c, s, args, nargs, kwn, kwv, nkw, out);
    if (!strcmp(name, "strip") || !strcmp(name, "lstrip") || !strcmp(name, "rstrip")) {
        static const char *const pn[] = { "chars" };
        if (!jj_bind(c, name, pn, 1, args, nargs, kwn, kwv, nkw, p, has)) return false;
        const jj_str *chars = has[0] && p[0].t == JT_STR ? p[0].u.s : NULL;
        if (has[0] && p[0].t != JT_STR && p[0].t != JT_NONE) return jj_fail(c, "%s arg must be None or str", name);
        return jj_str_strip(c, s, chars, name[0] == 's' ? 'b' : name[0], out);
    }
    if (!strcmp(name, "split") || !strcmp(name, "rsplit")) {
        static const char *const pn[] = { "sep", "maxsplit" };
        if (!jj_bind(c, name, pn, 2, args, nargs, kwn, kwv, nkw, p, has)) return false;
        int64_t maxs = has[1] && p[1].t == JT_INT ? p[1].u.i : -1;
        if (name[0] == 'r' && maxs >= 0) return jj_fail(c, "rsplit with maxsplit is not supported");
        return str_split(c, s, has[0] ? &p[0] : NULL, maxs, out);
    }
    if (!strcmp(name, "startswith") || !strcmp(name, "endswith")) {
        bool r;
        if (nargs != 1) return jj_fail(c, "%s() takes exactly one argument", name);
        if (!affix(c, s, args[0], name[0] == 's', &r)) return false;
        *out = jj_bool(r);
        return true;
    }
    if (!strcmp(name, "upper") || !strcmp(name, "lower") || !strcmp(name, "title") || !strcmp(name, "capitalize"))
        return jj_str_case(c, s, name[0] == 'u' ? 'u' : name[0] == 'l' ? 'l' : name[0] == 't' ? 't' : 'c', out);
    if (!strcmp(name, "replace")) {
        static const char *const pn[] = { "old", "new", "count" };
        if (!jj_bind(c, name, pn, 3, args, nargs, kwn, kwv, nkw, p, has)) return false;
        if (!has[0] || !has[1] || p[0].t != JT_STR || p[1].t != JT_STR) return jj_fail(c, "replace() needs two strings");
        return jj_str_replace(c, s, p[0].u.s, p[1].u.s, has[2] && p[2].t == JT_INT ? p[2].u.i : -1, out);
    }
    if (!strcmp(name, "join")) {
        jj_list *l;
        if (nargs != 1) return jj_fail(c, "join() takes exactly one argument");
        if (!jj_iterate(c, args[0], &l)) return false;
        hearth_buf b = { 0 };
        bool ok = true;
        for (size_t i = 0; ok && i < l->n; i++) {
            if (l->items[i].t != JT_STR) { ok = jj_fail(c, "sequence item %zu: expected str instance, %s found", i, jj_type_name(l->items[i])); break; }
            ok = (!i || jj_buf_add(c, &b, s->s, s->len)) && jj_buf_add(c, &b, l->items[i].u.s->s, l->items[i].u.s->len);
        }
        ok = ok && jj_str_new(c, b.data ? b.data : "", b.len, out);
        hearth_buf_free(&b);
        return ok;
    }
    if (!strcmp(name, "find") || !strcmp(name, "count")) {
        if (nargs != 1 || args[0].t != JT_STR) return jj_fail(c, "%s() needs one string argument", name);
        const jj_str *sub = args[0].u.s;
        if (name[0] == 'f') {
            const char *hit = memmem(s->s, s->len, sub->s, sub->len);
            *out = jj_int(hit ? (int64_t)jj_utf8_len(s->s, (size_t)(hit - s->s)) : -1);
            return true;
        }
        if (sub->len == 0) { *out = jj_int((int64_t)jj_utf8_len(s->s, s->len) + 1); return true; }
        int64_t k = 0;
        for (const char *q = s->s; (q = memmem(q, s->len - (size_t)(q - s->s), sub->s, sub->len)); q += sub->len) k++;
        *out = jj_int(k);
        return true;
    }
    if (!strcmp(name, "splitlines")) {
        if (!jj_list_new(c, 0, out)) return false;
        size_t i = 0;
        while (i < s->len) {
            size_t e = i;
            while (e < s->len && s->s[e] != '\n' && s->s[e] != '\r') e++;
            jj_val line;
            if (!jj_str_new(c, s->s + i, e - i, &line) || !jj_list_push(c, out->u.l, line)) return false;
            if (e < s->len && s->s[e] == '\r' && e + 1 < s->len && s->s[e + 1] == '\n') e++;
            i = e + 1;
        }
        return true;
    }
    if (!strncmp(name, "is", 2)) {
        char kind = !strcmp(name, "isdigit") ? 'd' : !strcmp(name, "isalpha") ? 'a' : !strcmp(name, "isalnum") ? 'n'
                  : !strcmp(name, "isspace") ? 's' : !strcmp(name, "islower") ? 'l' : 'u';
        *out = jj_bool(str_pred(s, kind));
        return true;
    }
    return jj_fail(c, "str.%s is not supported", name);
}

bool jj_call_method(jj_ctx *c, jj_method *m, jj_val *args, size_t nargs, const char **kwn, jj_val *kwv,
                    size_t nkw, jj_val *out) {
    jj_val self = m->self;
    if (self.t == JT_STR) return call_str_method(c, self.u.s, m->name, args, nargs, kwn, kwv, nkw, out);
    if (self.t == JT_LOOP) { /* loop.cycle(a, b, ...) */
        if (!nargs) return jj_fail(c, "no items for cycling given");
        *out = args[self.u.loop->idx % nargs];
        return true;
    }
    if (self.t == JT_DICT) {
        jj_dict *d = self.u.d;
        if (!strcmp(m->name, "get")) {
            static const char *const pn[] = { "key", "default" };
            jj_val p[2];
            bool has[2];
            if (!jj_bind(c, "get", pn, 2, args, nargs, kwn, kwv, nkw, p, has)) return false;
            if (!has[0]) return jj_fail(c, "get expected at least 1 argument, got 0");
            jj_val *v = jj_dict_get(d, p[0]);
            *out = v ? *v : has[1] ? p[1] : jj_none();
            return true;
        }
        if (nargs || nkw) return jj_fail(c, "dict.%s() takes no arguments", m->name);
        if (!jj_list_new(c, d->n, out)) return false;
        for (size_t i = 0; i < d->n; i++) {
            if (m->name[0] == 'k') out->u.l->items[i] = d->keys[i];
            else if (m->name[0] == 'v') out->u.l->items[i] = d->vals[i];
            else {
                jj_val pair;
                if (!jj_list_new(c, 2, &pair)) return false;
                pair.u.l->items[0] = d->keys[i];
                pair.u.l->items[1] = d->vals[i];
                pair.u.l->n = 2;
                pair.u.l->tuple = true;
                out->u.l->items[i] = pair;
            }
        }
        out->u.l->n = d->n;
        return true;
    }
    return jj_fail(c, "'%s' object has no callable attribute '%s'", jj_type_name(self), m->name);
}
