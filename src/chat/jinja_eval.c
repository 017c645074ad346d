/* jinja_eval.c — runs a parsed template: statements, expressions, scopes, macros, loops,
 * Python arithmetic and comparisons, attribute and item access as jinja2's immutable sandbox
 * does them.  Every node visited is a step (lim.max_steps), every loop pass an iteration
 * (lim.max_loop_iters), and nesting of evaluation is bounded (lim.max_depth). */
#include "chat/jinja.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define EVAL_DEPTH_FACTOR 5 /* C-stack nesting allowed per unit of lim.max_depth */

static bool exec_body(jj_ctx *c, jj_node **list, size_t n);

static bool enter(jj_ctx *c) {
    if (!jj_step(c)) return false;
    if (++c->depth > c->lim.max_depth * EVAL_DEPTH_FACTOR)
        return jj_fail(c, "template recursion or nesting too deep (limit %d)", c->lim.max_depth);
    return true;
}

static bool fail_undef(jj_ctx *c, jj_val v) {
    if (v.u.name) return jj_fail(c, "'%.80s' is undefined", v.u.name);
    return jj_fail(c, "undefined value used");
}

/* ---- scopes ------------------------------------------------------------------------- */

static bool scope_push(jj_ctx *c, jj_scope *parent) {
    jj_scope *s = jj_alloc(c, sizeof *s);
    jj_val d;
    if (!s || !jj_dict_new(c, &d)) return false;
    s->parent = parent;
    s->vars   = d.u.d;
    c->scope  = s;
    return true;
}

static jj_val lookup(jj_ctx *c, const char *name) {
    for (jj_scope *s = c->scope; s; s = s->parent) {
        jj_val *v = jj_dict_gets(s->vars, name);
        if (v) return *v;
    }
    int fn = jj_global_fn(name);
    if (fn >= 0) {
        jj_val v = { .t = JT_FUNC };
        v.u.fn = fn;
        return v;
    }
    return jj_undef(name);
}

static bool assign(jj_ctx *c, const char *name, jj_val v) {
    return jj_dict_sets(c, c->scope->vars, name, v);
}

/* Binds for/set targets: one name, or unpacking of a sequence into several. */
static bool bind_targets(jj_ctx *c, const char **names, size_t nn, jj_val v) {
    if (nn == 1) return assign(c, names[0], v);
    jj_list *l;
    if (!jj_iterate(c, v, &l)) return false;
    if (l->n != nn)
        return jj_fail(c, l->n > nn ? "too many values to unpack (expected %zu)"
                                    : "not enough values to unpack (expected %zu)", nn);
    for (size_t i = 0; i < nn; i++)
        if (!assign(c, names[i], l->items[i])) return false;
    return true;
}

/* ---- output capture ----------------------------------------------------------------- */

static bool capture(jj_ctx *c, jj_node **list, size_t n, jj_val *out) {
    hearth_buf buf = { 0 }, *saved = c->out;
    c->out = &buf;
    bool ok = exec_body(c, list, n);
    c->out = saved;
    ok = ok && jj_str_new(c, buf.data ? buf.data : "", buf.len, out);
    hearth_buf_free(&buf);
    return ok;
}

/* ---- access ------------------------------------------------------------------------- */

jj_val jj_loop_attr(jj_loop *lp, const char *name);
jj_val jj_loop_attr(jj_loop *lp, const char *name) {
    size_t n = lp->items->n, i = lp->idx;
    if (!strcmp(name, "index")) return jj_int((int64_t)i + 1);
    if (!strcmp(name, "index0")) return jj_int((int64_t)i);
    if (!strcmp(name, "revindex")) return jj_int((int64_t)(n - i));
    if (!strcmp(name, "revindex0")) return jj_int((int64_t)(n - i - 1));
    if (!strcmp(name, "first")) return jj_bool(i == 0);
    if (!strcmp(name, "last")) return jj_bool(i + 1 == n);
    if (!strcmp(name, "length")) return jj_int((int64_t)n);
    if (!strcmp(name, "depth")) return jj_int(1);
    if (!strcmp(name, "depth0")) return jj_int(0);
    if (!strcmp(name, "previtem")) return i > 0 ? lp->items->items[i - 1] : jj_undef("previtem");
    if (!strcmp(name, "nextitem")) return i + 1 < n ? lp->items->items[i + 1] : jj_undef("nextitem");
    return jj_undef(name);
}

static bool method_val(jj_ctx *c, jj_val obj, const char *name, jj_val *out) {
    jj_method *m = jj_alloc(c, sizeof *m);
    if (!m) return false;
    m->self   = obj;
    m->name   = name;
    out->t    = JT_METHOD;
    out->u.meth = m;
    return true;
}

bool jj_getattr(jj_ctx *c, jj_val obj, const char *name, jj_val *out) {
    switch (obj.t) {
    case JT_UNDEF: return fail_undef(c, obj);
    case JT_DICT: {
        if (jj_has_method(obj, name)) return method_val(c, obj, name, out);
        jj_val *v = jj_dict_gets(obj.u.d, name);
        *out = v ? *v : jj_undef(name);
        return true;
    }
    case JT_NS: {
        jj_val *v = jj_dict_gets(obj.u.d, name);
        *out = v ? *v : jj_undef(name);
        return true;
    }
    case JT_LOOP:
        if (!strcmp(name, "cycle")) return method_val(c, obj, name, out);
        *out = jj_loop_attr(obj.u.loop, name);
        return true;
    default:
        if (jj_has_method(obj, name)) return method_val(c, obj, name, out);
        *out = jj_undef(name);
        return true;
    }
}

/* Python index normalization: -1 is the last; out of range gives false. */
static bool norm_index(int64_t i, size_t n, size_t *out) {
    if (i < 0) i += (int64_t)n;
    if (i < 0 || (uint64_t)i >= n) return false;
    *out = (size_t)i;
    return true;
}

bool jj_getitem(jj_ctx *c, jj_val obj, jj_val key, jj_val *out) {
    size_t idx;
    switch (obj.t) {
    case JT_UNDEF: return fail_undef(c, obj);
    case JT_DICT: case JT_NS: {
        jj_val *v = jj_dict_get(obj.u.d, key);
        if (v) { *out = *v; return true; }
        break;
    }
    case JT_LIST:
        if (obj.u.l->gen) break;
        if (key.t == JT_INT || key.t == JT_BOOL) {
            int64_t i = key.t == JT_INT ? key.u.i : key.u.b;
            if (norm_index(i, obj.u.l->n, &idx)) { *out = obj.u.l->items[idx]; return true; }
            *out = jj_undef(NULL);
            return true;
        }
        break;
    case JT_STR:
        if (key.t == JT_INT || key.t == JT_BOOL) {
            int64_t i = key.t == JT_INT ? key.u.i : key.u.b;
            size_t ncp = jj_utf8_len(obj.u.s->s, obj.u.s->len);
            if (norm_index(i, ncp, &idx)) {
                size_t a = jj_utf8_offset(obj.u.s->s, obj.u.s->len, idx);
                size_t b = jj_utf8_offset(obj.u.s->s, obj.u.s->len, idx + 1);
                return jj_str_new(c, obj.u.s->s + a, b - a, out);
            }
            *out = jj_undef(NULL);
            return true;
        }
        break;
    default: break;
    }
    if (key.t == JT_STR) {
        if (obj.t == JT_LOOP) { *out = jj_loop_attr(obj.u.loop, key.u.s->s); return true; }
        if (obj.t != JT_NS && jj_has_method(obj, key.u.s->s)) return method_val(c, obj, key.u.s->s, out);
        *out = jj_undef(key.u.s->s);
        return true;
    }
    *out = jj_undef(NULL);
    return true;
}

bool jj_iterate(jj_ctx *c, jj_val v, jj_list **out) {
    jj_val l;
    switch (v.t) {
    case JT_LIST: *out = v.u.l; return true;
    case JT_UNDEF:
        if (!jj_list_new(c, 0, &l)) return false;
        *out = l.u.l;
        return true;
    case JT_DICT:
        if (!jj_list_new(c, v.u.d->n, &l)) return false;
        for (size_t i = 0; i < v.u.d->n; i++) l.u.l->items[i] = v.u.d->keys[i];
        l.u.l->n = v.u.d->n;
        *out = l.u.l;
        return true;
    case JT_STR: {
        const char *s = v.u.s->s;
        size_t n = v.u.s->len;
        if (!jj_list_new(c, jj_utf8_len(s, n), &l)) return false;
        for (size_t i = 0; i < n;) {
            size_t j = i + 1;
            while (j < n && ((unsigned char)s[j] & 0xC0) == 0x80) j++;
            jj_val ch;
            if (!jj_str_new(c, s + i, j - i, &ch) || !jj_list_push(c, l.u.l, ch)) return false;
            i = j;
        }
        *out = l.u.l;
        return true;
    }
    default:
        return jj_fail(c, "'%s' object is not iterable", jj_type_name(v));
    }
}

/* Python slice semantics (negative indices and steps) over n items. */
static bool slice_indices(jj_ctx *c, jj_val vs, jj_val ve, jj_val vst, size_t n, int64_t *start,
                          int64_t *stop, int64_t *step) {
    int64_t len = (int64_t)n;
    *step = 1;
    if (vst.t != JT_NONE && vst.t != JT_UNDEF) {
        if (vst.t != JT_INT) return jj_fail(c, "slice indices must be integers or None");
        *step = vst.u.i;
        if (*step == 0) return jj_fail(c, "slice step cannot be zero");
    }
    int64_t lo = *step < 0 ? -1 : 0, hi = *step < 0 ? len - 1 : len;
    jj_val b[2] = { vs, ve };
    int64_t *o[2] = { start, stop };
    for (int k = 0; k < 2; k++) {
        if (b[k].t == JT_NONE || b[k].t == JT_UNDEF) {
            *o[k] = (k == 0) == (*step > 0) ? lo : hi;
            continue;
        }
        if (b[k].t != JT_INT && b[k].t != JT_BOOL) return jj_fail(c, "slice indices must be integers or None");
        int64_t x = b[k].t == JT_INT ? b[k].u.i : b[k].u.b;
        if (x < 0) {
            x = x < -len ? lo : x + len;
            if (x < lo) x = lo;
        } else if (x > hi) {
            x = hi;
        }
        *o[k] = x;
    }
    return true;
}

static bool do_slice(jj_ctx *c, jj_val obj, jj_val vs, jj_val ve, jj_val vst, jj_val *out) {
    int64_t start, stop, step;
    if (obj.t == JT_UNDEF) return fail_undef(c, obj);
    if (obj.t == JT_LIST) {
        jj_list *l = obj.u.l;
        if (!slice_indices(c, vs, ve, vst, l->n, &start, &stop, &step) || !jj_list_new(c, 0, out)) return false;
        out->u.l->tuple = l->tuple;
        for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step)
            if (!jj_list_push(c, out->u.l, l->items[i])) return false;
        return true;
    }
    if (obj.t == JT_STR) {
        jj_list *chars;
        if (!jj_iterate(c, obj, &chars)) return false;
        if (!slice_indices(c, vs, ve, vst, chars->n, &start, &stop, &step)) return false;
        hearth_buf b = { 0 };
        bool ok = true;
        for (int64_t i = start; ok && (step > 0 ? i < stop : i > stop); i += step)
            ok = jj_buf_add(c, &b, chars->items[i].u.s->s, chars->items[i].u.s->len);
        ok = ok && jj_str_new(c, b.data ? b.data : "", b.len, out);
        hearth_buf_free(&b);
        return ok;
    }
    return jj_fail(c, "'%s' object is not subscriptable", jj_type_name(obj));
}

/* ---- operators ---------------------------------------------------------------------- */

static bool is_intlike(jj_val v) { return v.t == JT_INT || v.t == JT_BOOL; }
static int64_t ival(jj_val v) { return v.t == JT_INT ? v.u.i : v.u.b; }

static bool op_type_error(jj_ctx *c, const char *op, jj_val a, jj_val b) {
    if (a.t == JT_UNDEF) return fail_undef(c, a);
    if (b.t == JT_UNDEF) return fail_undef(c, b);
    if (!strcmp(op, "+") && a.t == JT_STR)
        return jj_fail(c, "can only concatenate str (not \"%s\") to str", jj_type_name(b));
    return jj_fail(c, "unsupported operand type(s) for %s: '%s' and '%s'", op, jj_type_name(a), jj_type_name(b));
}

static bool repeat(jj_ctx *c, jj_val seq, int64_t times, jj_val *out) {
    if (times < 0) times = 0;
    /* an empty operand repeats to an empty result however large the count */
    if ((seq.t == JT_STR && seq.u.s->len == 0) || (seq.t == JT_LIST && seq.u.l->n == 0)) times = 0;
    if (seq.t == JT_STR) {
        size_t n = seq.u.s->len;
        if (n && (uint64_t)times > c->lim.max_output / n) return jj_fail(c, "template output limit exceeded (string repeat)");
        hearth_buf b = { 0 };
        bool ok = true;
        for (int64_t i = 0; ok && i < times; i++) ok = jj_buf_add(c, &b, seq.u.s->s, n);
        ok = ok && jj_str_new(c, b.data ? b.data : "", b.len, out);
        hearth_buf_free(&b);
        return ok;
    }
    jj_list *l = seq.u.l;
    if (l->n && (uint64_t)times > c->lim.max_loop_iters / l->n) return jj_fail(c, "list repeat too large");
    if (!jj_list_new(c, 0, out)) return false;
    out->u.l->tuple = l->tuple;
    for (int64_t i = 0; i < times; i++)
        for (size_t k = 0; k < l->n; k++)
            if (!jj_list_push(c, out->u.l, l->items[k])) return false;
    return true;
}

static bool py_mod(jj_ctx *c, jj_val a, jj_val b, jj_val *out);

static bool binop(jj_ctx *c, int op, jj_val a, jj_val b, jj_val *out) {
    char ops[3] = { (char)op, 0, 0 };
    if (op == 'F') strcpy(ops, "//");
    if (op == 'P') strcpy(ops, "**");
    if (op == '~') {
        hearth_buf buf = { 0 };
        bool ok = jj_to_str(c, a, &buf) && jj_to_str(c, b, &buf) &&
                  jj_str_new(c, buf.data ? buf.data : "", buf.len, out);
        hearth_buf_free(&buf);
        return ok;
    }
    if (op == '+' && a.t == JT_STR && b.t == JT_STR) {
        bool safe = a.safe || b.safe; /* Markup + str escapes the str */
        if (safe && !a.safe && !jj_html_escape(c, a, &a)) return false;
        if (safe && !b.safe && !jj_html_escape(c, b, &b)) return false;
        if (!jj_str_cat(c, a.u.s->s, a.u.s->len, b.u.s->s, b.u.s->len, out)) return false;
        out->safe = safe;
        return true;
    }
    if (op == '+' && a.t == JT_LIST && b.t == JT_LIST && a.u.l->tuple == b.u.l->tuple && !a.u.l->gen && !b.u.l->gen) {
        if (!jj_list_new(c, a.u.l->n + b.u.l->n, out)) return false;
        memcpy(out->u.l->items, a.u.l->items, a.u.l->n * sizeof(jj_val));
        memcpy(out->u.l->items + a.u.l->n, b.u.l->items, b.u.l->n * sizeof(jj_val));
        out->u.l->n     = a.u.l->n + b.u.l->n;
        out->u.l->tuple = a.u.l->tuple;
        return true;
    }
    if (op == '*' && (a.t == JT_STR || a.t == JT_LIST) && is_intlike(b)) return repeat(c, a, ival(b), out);
    if (op == '*' && (b.t == JT_STR || b.t == JT_LIST) && is_intlike(a)) return repeat(c, b, ival(a), out);
    if (op == '%' && a.t == JT_STR) return py_mod(c, a, b, out);
    if (!jj_is_num(a) || !jj_is_num(b)) return op_type_error(c, ops, a, b);
    if (is_intlike(a) && is_intlike(b)) {
        int64_t x = ival(a), y = ival(b), r;
        switch (op) {
        case '+': if (__builtin_add_overflow(x, y, &r)) goto overflow; *out = jj_int(r); return true;
        case '-': if (__builtin_sub_overflow(x, y, &r)) goto overflow; *out = jj_int(r); return true;
        case '*': if (__builtin_mul_overflow(x, y, &r)) goto overflow; *out = jj_int(r); return true;
        case '/':
            if (y == 0) return jj_fail(c, "division by zero");
            *out = jj_float((double)x / (double)y);
            return true;
        case 'F': case '%':
            if (y == 0) return jj_fail(c, "integer division or modulo by zero");
            if (x == INT64_MIN && y == -1) goto overflow;
            r = x / y;
            if ((x % y != 0) && ((x < 0) != (y < 0))) r--;
            *out = jj_int(op == 'F' ? r : x - r * y);
            return true;
        case 'P':
            if (y >= 0) {
                int64_t acc = 1;
                if (x == 0) acc = y == 0;
                else if (x == 1) acc = 1;
                else if (x == -1) acc = y % 2 ? -1 : 1;
                else
                    for (int64_t k = 0; k < y; k++)
                        if (__builtin_mul_overflow(acc, x, &acc)) goto overflow;
                *out = jj_int(acc);
                return true;
            }
            *out = jj_float(pow((double)x, (double)y));
            return true;
        }
    }
    double x = jj_num(a), y = jj_num(b), r = 0;
    switch (op) {
    case '+': r = x + y; break;
    case '-': r = x - y; break;
    case '*': r = x * y; break;
    case '/': if (y == 0) return jj_fail(c, "float division by zero"); r = x / y; break;
    case 'F': if (y == 0) return jj_fail(c, "float floor division by zero"); r = floor(x / y); break;
    case '%':
        if (y == 0) return jj_fail(c, "float modulo");
        r = fmod(x, y);
        if (r != 0 && ((r < 0) != (y < 0))) r += y;
        break;
    case 'P': r = pow(x, y); break;
    default: return jj_fail(c, "bad operator");
    }
    *out = jj_float(r);
    return true;
overflow:
    return jj_fail(c, "integer overflow in '%s'", ops);
}

/* printf-style `str % args` for %s %r %d %i %f %x %%. */
static bool py_mod(jj_ctx *c, jj_val a, jj_val b, jj_val *out) {
    jj_list *args;
    jj_val one;
    if (b.t == JT_LIST && b.u.l->tuple) args = b.u.l;
    else {
        if (!jj_list_new(c, 1, &one)) return false;
        one.u.l->items[0] = b;
        one.u.l->n = 1;
        args = one.u.l;
    }
    hearth_buf buf = { 0 };
    size_t k = 0;
    bool ok = true;
    const char *s = a.u.s->s;
    for (size_t i = 0; ok && i < a.u.s->len; i++) {
        if (s[i] != '%') { ok = jj_buf_add(c, &buf, s + i, 1); continue; }
        char f = ++i < a.u.s->len ? s[i] : 0;
        if (f == '%') { ok = jj_buf_add(c, &buf, "%", 1); continue; }
        if (k >= args->n) { ok = jj_fail(c, "not enough arguments for format string"); break; }
        jj_val v = args->items[k++];
        char tmp[64];
        if (f == 's') ok = jj_to_str(c, v, &buf);
        else if (f == 'r') ok = jj_repr(c, v, &buf, 0);
        else if ((f == 'd' || f == 'i' || f == 'x') && jj_is_num(v)) {
            snprintf(tmp, sizeof tmp, f == 'x' ? "%llx" : "%lld", (long long)(v.t == JT_FLOAT ? (int64_t)v.u.f : ival(v)));
            ok = jj_buf_add(c, &buf, tmp, strlen(tmp));
        } else if (f == 'f' && jj_is_num(v)) {
            snprintf(tmp, sizeof tmp, "%f", jj_num(v));
            ok = jj_buf_add(c, &buf, tmp, strlen(tmp));
        } else ok = jj_fail(c, "unsupported format character in '%%' formatting");
    }
    if (ok && k < args->n) ok = jj_fail(c, "not all arguments converted during string formatting");
    ok = ok && jj_str_new(c, buf.data ? buf.data : "", buf.len, out);
    hearth_buf_free(&buf);
    return ok;
}

static bool contains(jj_ctx *c, jj_val needle, jj_val hay, bool *res) {
    *res = false;
    switch (hay.t) {
    case JT_UNDEF: return true;
    case JT_STR:
        if (needle.t != JT_STR)
            return jj_fail(c, "'in <string>' requires string as left operand, not %s", jj_type_name(needle));
        if (needle.u.s->len == 0) { *res = true; return true; }
        *res = memmem(hay.u.s->s, hay.u.s->len, needle.u.s->s, needle.u.s->len) != NULL;
        return true;
    case JT_LIST:
        for (size_t i = 0; i < hay.u.l->n; i++) {
            if (!jj_eq(c, needle, hay.u.l->items[i], res)) return false;
            if (*res) return true;
        }
        return true;
    case JT_DICT: case JT_NS:
        *res = jj_dict_get(hay.u.d, needle) != NULL;
        return true;
    default:
        return jj_fail(c, "argument of type '%s' is not iterable", jj_type_name(hay));
    }
}

static bool compare(jj_ctx *c, const char *op, jj_val a, jj_val b, bool *res) {
    if (!strcmp(op, "==") || !strcmp(op, "!=")) {
        if (!jj_eq(c, a, b, res)) return false;
        if (op[0] == '!') *res = !*res;
        return true;
    }
    if (!strcmp(op, "in") || !strcmp(op, "notin")) {
        if (!contains(c, a, b, res)) return false;
        if (op[0] == 'n') *res = !*res;
        return true;
    }
    int r;
    if (!jj_cmp(c, a, b, &r)) {
        if (strcmp(op, "<")) { /* name the operator Python would */
            c->failed = false;
            if (a.t == JT_UNDEF) return fail_undef(c, a);
            if (b.t == JT_UNDEF) return fail_undef(c, b);
            return jj_fail(c, "'%s' not supported between instances of '%s' and '%s'", op, jj_type_name(a), jj_type_name(b));
        }
        return false;
    }
    *res = !strcmp(op, "<") ? r < 0 : !strcmp(op, "<=") ? r <= 0 : !strcmp(op, ">") ? r > 0 : r >= 0;
    return true;
}

/* ---- calls -------------------------------------------------------------------------- */

static bool eval_args(jj_ctx *c, jj_node *n, jj_val **args, jj_val **kw) {
    *args = n->n ? jj_alloc(c, n->n * sizeof(jj_val)) : NULL;
    *kw   = n->n2 ? jj_alloc(c, n->n2 * sizeof(jj_val)) : NULL;
    if ((n->n && !*args) || (n->n2 && !*kw)) return false;
    for (size_t i = 0; i < n->n; i++)
        if (!jj_eval(c, n->list[i], &(*args)[i])) return false;
    for (size_t i = 0; i < n->n2; i++)
        if (!jj_eval(c, n->list2[i], &(*kw)[i])) return false;
    return true;
}

static bool call_macro(jj_ctx *c, jj_macro *m, jj_val *args, size_t nargs, const char **kwnames,
                       jj_val *kwvals, size_t nkw, jj_val caller, jj_val *out) {
    jj_node *def = m->def;
    const char *mname = m->name ? m->name : "caller";
    if (nargs > def->nn)
        return jj_fail(c, "macro '%s' takes not more than %zu argument(s)", mname, def->nn);
    jj_scope *saved_scope = c->scope;
    jj_val saved_caller = c->caller;
    int saved_loops = c->loop_depth;
    if (!scope_push(c, m->def->kind == N_MACRO ? c->root : m->scope)) return false;
    bool ok = true;
    for (size_t k = 0; ok && k < nkw; k++) {
        size_t p = 0;
        while (p < def->nn && strcmp(def->names[p], kwnames[k])) p++;
        if (p == def->nn) ok = jj_fail(c, "macro '%s' takes no keyword argument '%s'", mname, kwnames[k]);
        else if (p < nargs) ok = jj_fail(c, "macro '%s' got multiple values for argument '%s'", mname, kwnames[k]);
    }
    if (ok && m->name && m->def->kind == N_MACRO) {
        jj_val self = { .t = JT_MACRO };
        self.u.m = m;
        ok = assign(c, m->name, self);
    }
    for (size_t p = 0; ok && p < def->nn; p++) {
        jj_val v = jj_undef(def->names[p]);
        bool set = false;
        if (p < nargs) { v = args[p]; set = true; }
        for (size_t k = 0; !set && k < nkw; k++)
            if (!strcmp(def->names[p], kwnames[k])) { v = kwvals[k]; set = true; }
        if (!set && p < def->n2 && def->list2[p]) ok = jj_eval(c, def->list2[p], &v);
        ok = ok && assign(c, def->names[p], v);
    }
    if (ok && caller.t == JT_MACRO) ok = assign(c, "caller", caller);
    c->loop_depth = 0;
    c->caller = caller;
    ok = ok && capture(c, def->list, def->n, out);
    c->control    = 0;
    c->loop_depth = saved_loops;
    c->caller     = saved_caller;
    c->scope      = saved_scope;
    return ok;
}

bool jj_call_value(jj_ctx *c, jj_val fn, jj_val *args, size_t nargs, const char **kwnames,
                   jj_val *kwvals, size_t nkw, jj_val *out) {
    switch (fn.t) {
    case JT_FUNC: return jj_call_builtin(c, fn.u.fn, args, nargs, kwnames, kwvals, nkw, out);
    case JT_MACRO: return call_macro(c, fn.u.m, args, nargs, kwnames, kwvals, nkw, fn.u.m->caller, out);
    case JT_METHOD:
        if (!jj_call_method(c, fn.u.meth, args, nargs, kwnames, kwvals, nkw, out)) return false;
        if (fn.u.meth->self.t == JT_STR && fn.u.meth->self.safe && out->t == JT_STR) out->safe = 1;
        return true;
    case JT_UNDEF: return fail_undef(c, fn);
    default: return jj_fail(c, "'%s' object is not callable", jj_type_name(fn));
    }
}

/* ---- expressions -------------------------------------------------------------------- */

static bool eval_filter(jj_ctx *c, jj_node *n, jj_val *out) {
    jj_val in, *args, *kw;
    if (n->a) {
        if (!jj_eval(c, n->a, &in)) return false;
    } else {
        in = c->block_input;
    }
    if (!jj_filter_exists(n->name)) return jj_fail(c, "line %d: no filter named '%s'", n->line, n->name);
    if (!eval_args(c, n, &args, &kw)) return false;
    if (!jj_apply_filter(c, n->name, in, args, n->n, n->names, kw, n->n2, out)) return false;
    static const char *const keep_safe[] = { "upper", "lower", "trim", "replace", "capitalize", "title", "indent", NULL };
    if (in.t == JT_STR && in.safe && out->t == JT_STR)
        for (size_t i = 0; keep_safe[i]; i++)
            if (!strcmp(keep_safe[i], n->name)) out->safe = 1;
    return true;
}

static bool eval_inner(jj_ctx *c, jj_node *n, jj_val *out) {
    jj_val a, b, *args, *kw;
    bool r;
    switch (n->kind) {
    case N_LIT: *out = n->lit; return true;
    case N_NAME: *out = lookup(c, n->name); return true;
    case N_LIST: case N_TUPLE:
        if (!jj_list_new(c, n->n, out)) return false;
        out->u.l->tuple = n->kind == N_TUPLE;
        for (size_t i = 0; i < n->n; i++)
            if (!jj_eval(c, n->list[i], &out->u.l->items[i])) return false;
        out->u.l->n = n->n;
        return true;
    case N_DICT:
        if (!jj_dict_new(c, out)) return false;
        for (size_t i = 0; i < n->n; i++)
            if (!jj_eval(c, n->list[i], &a) || !jj_eval(c, n->list2[i], &b) || !jj_dict_set(c, out->u.d, a, b))
                return false;
        return true;
    case N_GETATTR: return jj_eval(c, n->a, &a) && jj_getattr(c, a, n->name, out);
    case N_GETITEM: return jj_eval(c, n->a, &a) && jj_eval(c, n->b, &b) && jj_getitem(c, a, b, out);
    case N_SLICE: {
        jj_val s = jj_none(), e = jj_none(), st = jj_none();
        if (!jj_eval(c, n->a, &a)) return false;
        if ((n->b && !jj_eval(c, n->b, &s)) || (n->c && !jj_eval(c, n->c, &e)) || (n->d && !jj_eval(c, n->d, &st)))
            return false;
        return do_slice(c, a, s, e, st, out);
    }
    case N_CALL:
        if (!jj_eval(c, n->a, &a) || !eval_args(c, n, &args, &kw)) return false;
        return jj_call_value(c, a, args, n->n, n->names, kw, n->n2, out);
    case N_FILTER: return eval_filter(c, n, out);
    case N_TEST:
        if (!jj_test_exists(n->name)) return jj_fail(c, "line %d: no test named '%s'", n->line, n->name);
        if (!jj_eval(c, n->a, &a) || !eval_args(c, n, &args, &kw)) return false;
        if (!jj_apply_test(c, n->name, a, args, n->n, &r)) return false;
        *out = jj_bool(n->op ? !r : r);
        return true;
    case N_BINOP: return jj_eval(c, n->a, &a) && jj_eval(c, n->b, &b) && binop(c, n->op, a, b, out);
    case N_UNARY:
        if (!jj_eval(c, n->a, &a)) return false;
        if (a.t == JT_UNDEF) return fail_undef(c, a);
        if (!jj_is_num(a)) return jj_fail(c, "bad operand type for unary %c: '%s'", n->op, jj_type_name(a));
        if (n->op == '+') *out = a.t == JT_BOOL ? jj_int(a.u.b) : a;
        else if (a.t == JT_FLOAT) *out = jj_float(-a.u.f);
        else if (ival(a) == INT64_MIN) return jj_fail(c, "integer overflow in unary -");
        else *out = jj_int(-ival(a));
        return true;
    case N_COMPARE:
        if (!jj_eval(c, n->a, &a)) return false;
        for (size_t i = 0; i < n->n; i++) {
            if (!jj_eval(c, n->list[i], &b) || !compare(c, n->names[i], a, b, &r)) return false;
            if (!r) { *out = jj_bool(false); return true; }
            a = b;
        }
        *out = jj_bool(true);
        return true;
    case N_AND:
        if (!jj_eval(c, n->a, &a)) return false;
        if (!jj_truthy(a)) { *out = a; return true; }
        return jj_eval(c, n->b, out);
    case N_OR:
        if (!jj_eval(c, n->a, &a)) return false;
        if (jj_truthy(a)) { *out = a; return true; }
        return jj_eval(c, n->b, out);
    case N_NOT:
        if (!jj_eval(c, n->a, &a)) return false;
        *out = jj_bool(!jj_truthy(a));
        return true;
    case N_COND:
        if (!jj_eval(c, n->a, &a)) return false;
        if (jj_truthy(a)) return jj_eval(c, n->b, out);
        if (n->c) return jj_eval(c, n->c, out);
        *out = jj_undef(NULL);
        return true;
    default:
        return jj_fail(c, "internal error: node %d is not an expression", n->kind);
    }
}

bool jj_eval(jj_ctx *c, jj_node *n, jj_val *out) {
    if (!enter(c)) return false;
    bool ok = eval_inner(c, n, out);
    c->depth--;
    return ok && !c->failed;
}

/* ---- statements --------------------------------------------------------------------- */

static bool exec_for(jj_ctx *c, jj_node *n) {
    jj_val seq;
    jj_list *items;
    if (!jj_eval(c, n->a, &seq) || !jj_iterate(c, seq, &items)) return false;
    jj_scope *saved = c->scope;
    bool ok = true;
    if (n->b) { /* loop filter: the loop sees only the items that pass */
        jj_val kept;
        if (!jj_list_new(c, 0, &kept)) return false;
        for (size_t i = 0; ok && i < items->n; i++) {
            jj_val cond;
            if (++c->iters > c->lim.max_loop_iters) { ok = jj_fail(c, "template loop iteration limit exceeded (%llu)", (unsigned long long)c->lim.max_loop_iters); break; }
            ok = scope_push(c, saved) && bind_targets(c, n->names, n->nn, items->items[i]) && jj_eval(c, n->b, &cond);
            if (ok && jj_truthy(cond)) ok = jj_list_push(c, kept.u.l, items->items[i]);
            c->scope = saved;
        }
        if (!ok) return false;
        items = kept.u.l;
    }
    if (items->n == 0) return exec_body(c, n->list2, n->n2);
    jj_loop *lp = jj_alloc(c, sizeof *lp);
    if (!lp) return false;
    lp->items = items;
    jj_val loopv = { .t = JT_LOOP };
    loopv.u.loop = lp;
    c->loop_depth++;
    for (size_t i = 0; ok && i < items->n; i++) {
        if (++c->iters > c->lim.max_loop_iters) {
            ok = jj_fail(c, "template loop iteration limit exceeded (%llu)", (unsigned long long)c->lim.max_loop_iters);
            break;
        }
        lp->idx = i;
        ok = scope_push(c, saved) && assign(c, "loop", loopv) && bind_targets(c, n->names, n->nn, items->items[i]) &&
             exec_body(c, n->list, n->n);
        c->scope = saved;
        int ctl = c->control;
        c->control = 0;
        if (ctl == JJ_BREAK) break;
    }
    c->loop_depth--;
    return ok;
}

static bool exec_stmt(jj_ctx *c, jj_node *n) {
    jj_val v;
    switch (n->kind) {
    case N_TEXT: return jj_buf_add(c, c->out, n->lit.u.s->s, n->lit.u.s->len);
    case N_EMIT: return jj_eval(c, n->a, &v) && jj_to_str(c, v, c->out);
    case N_IF:
        if (!jj_eval(c, n->a, &v)) return false;
        return jj_truthy(v) ? exec_body(c, n->list, n->n) : exec_body(c, n->list2, n->n2);
    case N_FOR: return exec_for(c, n);
    case N_SET:
        if (!jj_eval(c, n->b, &v)) return false;
        if (n->a) { /* ns.attr = v */
            jj_val ns = lookup(c, n->a->a->name);
            if (ns.t != JT_NS) return jj_fail(c, "line %d: can only assign attributes of a namespace, '%s' is %s",
                                              n->line, n->a->a->name, jj_type_name(ns));
            return jj_dict_sets(c, ns.u.d, n->a->name, v);
        }
        return bind_targets(c, n->names, n->nn, v);
    case N_SET_BLOCK:
        if (!capture(c, n->list, n->n, &v)) return false;
        if (n->a) {
            jj_val saved = c->block_input;
            c->block_input = v;
            bool ok = jj_eval(c, n->a, &v);
            c->block_input = saved;
            if (!ok) return false;
        }
        return assign(c, n->name, v);
    case N_MACRO: {
        jj_macro *m = jj_alloc(c, sizeof *m);
        if (!m) return false;
        m->name   = n->name;
        m->def    = n;
        m->caller = jj_undef("caller");
        v.t = JT_MACRO;
        v.u.m = m;
        return assign(c, n->name, v);
    }
    case N_CALL_BLOCK: {
        jj_macro *cm = jj_alloc(c, sizeof *cm);
        jj_val fn, *args, *kw, callerv = { .t = JT_MACRO };
        if (!cm) return false;
        cm->def    = n;
        cm->caller = c->caller;
        cm->scope  = c->scope;
        callerv.u.m = cm;
        if (!jj_eval(c, n->a->a, &fn) || !eval_args(c, n->a, &args, &kw)) return false;
        if (fn.t != JT_MACRO) return jj_fail(c, "line %d: a call block needs a macro", n->line);
        return call_macro(c, fn.u.m, args, n->a->n, n->a->names, kw, n->a->n2, callerv, &v) &&
               jj_buf_add(c, c->out, v.u.s->s, v.u.s->len);
    }
    case N_FILTER_BLOCK: {
        jj_val body, saved = c->block_input;
        if (!capture(c, n->list, n->n, &body)) return false;
        c->block_input = body;
        bool ok = jj_eval(c, n->a, &v);
        c->block_input = saved;
        return ok && jj_to_str(c, v, c->out);
    }
    case N_BREAK: case N_CONTINUE:
        if (!c->loop_depth) return jj_fail(c, "line %d: '%s' outside of a loop", n->line, n->kind == N_BREAK ? "break" : "continue");
        c->control = n->kind == N_BREAK ? JJ_BREAK : JJ_CONTINUE;
        return true;
    case N_BODY: return exec_body(c, n->list, n->n);
    default: return jj_fail(c, "internal error: node %d is not a statement", n->kind);
    }
}

static bool exec_body(jj_ctx *c, jj_node **list, size_t n) {
    if (!enter(c)) return false;
    bool ok = true;
    for (size_t i = 0; ok && i < n && !c->control; i++) {
        ok = jj_step(c) && exec_stmt(c, list[i]);
    }
    c->depth--;
    return ok && !c->failed;
}

bool jj_render(jj_ctx *c, jj_node *root, jj_dict *vars, hearth_buf *out) {
    jj_scope *s = jj_alloc(c, sizeof *s);
    if (!s) return false;
    s->vars  = vars;
    c->root  = s;
    c->scope = s;
    c->out   = out;
    c->caller = jj_undef("caller");
    c->block_input = jj_undef(NULL);
    return exec_body(c, root->list, root->n);
}
