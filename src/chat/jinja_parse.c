/* jinja_parse.c — tokens to an AST, following jinja2's grammar and operator precedence:
 *   expr    := or ('if' or ('else' expr)?)*
 *   or      := and ('or' and)*          and := not ('and' not)*      not := 'not' not | compare
 *   compare := math1 (('=='|'!='|'<'|'<='|'>'|'>='|'in'|'not' 'in') math1)*
 *   math1   := concat (('+'|'-') concat)*      concat := math2 ('~' math2)*
 *   math2   := pow (('*'|'/'|'//'|'%') pow)*   pow := unary ('**' unary)*
 *   unary   := ('-'|'+') unary | primary postfix* (filters and tests: '|' name args?, 'is' ...)
 * Recursion is bounded by lim.max_depth, so deeply nested input is an error, not a crash. */
#include "chat/jinja.h"

#include <stdio.h>
#include <string.h>

static jj_tok *cur(jj_ctx *c) { return &c->toks[c->pos]; }
static jj_tok *peek(jj_ctx *c, size_t k) {
    size_t i = c->pos + k;
    return &c->toks[i < c->n_toks ? i : c->n_toks - 1];
}
static void adv(jj_ctx *c) { if (c->pos + 1 < c->n_toks) c->pos++; }

static bool tok_is(jj_tok *t, jj_tok_kind k, const char *text) {
    return t->kind == k && (!text || !strcmp(t->text, text));
}
static bool is_op(jj_ctx *c, const char *op) { return tok_is(cur(c), TK_OP, op); }
static bool is_name(jj_ctx *c, const char *nm) { return tok_is(cur(c), TK_NAME, nm); }
static bool skip_op(jj_ctx *c, const char *op) { if (is_op(c, op)) { adv(c); return true; } return false; }
static bool skip_name(jj_ctx *c, const char *nm) { if (is_name(c, nm)) { adv(c); return true; } return false; }

static bool fail_tok(jj_ctx *c, const char *what) {
    jj_tok *t = cur(c);
    const char *got = t->kind == TK_EOF ? "end of template" : t->kind == TK_BLOCK_END ? "end of statement block"
                    : t->kind == TK_VAR_END ? "end of print statement" : t->text;
    return jj_fail(c, "line %d: expected %s, got '%.40s'", t->line, what, got);
}

static bool expect_op(jj_ctx *c, const char *op) {
    if (skip_op(c, op)) return true;
    char what[16];
    snprintf(what, sizeof what, "'%s'", op);
    return fail_tok(c, what);
}

static jj_node *node(jj_ctx *c, jj_node_kind kind) {
    jj_node *n = jj_alloc(c, sizeof *n);
    if (n) {
        n->kind = (uint8_t)kind;
        n->line = cur(c)->line;
    }
    return n;
}

/* A growable array of node pointers (or name pointers) in the arena. */
typedef struct vec {
    void  **p;
    size_t  n, cap;
} vec;

static bool vpush(jj_ctx *c, vec *v, void *x) {
    if (v->n == v->cap) {
        size_t ncap = v->cap ? v->cap * 2 : 4;
        void **np = jj_alloc(c, ncap * sizeof *np);
        if (!np) return false;
        if (v->n) memcpy(np, v->p, v->n * sizeof *np);
        v->p   = np;
        v->cap = ncap;
    }
    v->p[v->n++] = x;
    return true;
}

static bool enter(jj_ctx *c) {
    if (++c->parse_depth > c->lim.max_depth)
        return jj_fail(c, "line %d: template nested too deeply", cur(c)->line);
    return true;
}
static void leave(jj_ctx *c) { c->parse_depth--; }

static jj_node *parse_expr(jj_ctx *c, bool with_cond);
static jj_node *parse_or(jj_ctx *c);
static jj_node *parse_unary(jj_ctx *c, bool with_filter);

/* `(` args `)`: positional into n->list, keyword into names/list2. Current token is '('. */
static bool parse_call_args(jj_ctx *c, jj_node *n) {
    vec pos = { 0 }, kwn = { 0 }, kwv = { 0 };
    if (!expect_op(c, "(")) return false;
    while (!is_op(c, ")")) {
        if (pos.n + kwn.n && !expect_op(c, ",")) return false;
        if (is_op(c, ")")) break;
        if (cur(c)->kind == TK_NAME && tok_is(peek(c, 1), TK_OP, "=")) {
            const char *nm = cur(c)->text;
            adv(c);
            adv(c);
            jj_node *v = parse_expr(c, true);
            if (!v || !vpush(c, &kwn, (void *)nm) || !vpush(c, &kwv, v)) return false;
        } else {
            if (is_op(c, "*") || is_op(c, "**")) return fail_tok(c, "an argument (*args is not supported)");
            if (kwn.n) return jj_fail(c, "line %d: positional argument after keyword argument", cur(c)->line);
            jj_node *v = parse_expr(c, true);
            if (!v || !vpush(c, &pos, v)) return false;
        }
    }
    adv(c);
    n->list  = (jj_node **)pos.p;
    n->n     = pos.n;
    n->names = (const char **)kwn.p;
    n->nn    = kwn.n;
    n->list2 = (jj_node **)kwv.p;
    n->n2    = kwv.n;
    return true;
}

/* `name` or `name.name` (filter and test names are simple names). */
static const char *parse_ident(jj_ctx *c) {
    if (cur(c)->kind != TK_NAME) { fail_tok(c, "a name"); return NULL; }
    const char *nm = cur(c)->text;
    adv(c);
    return nm;
}

static jj_node *parse_filter(jj_ctx *c, jj_node *in) {
    jj_node *f = node(c, N_FILTER);
    if (!f) return NULL;
    f->a = in;
    if (!(f->name = parse_ident(c))) return NULL;
    if (is_op(c, "(") && !parse_call_args(c, f)) return NULL;
    return f;
}

static bool starts_primary(jj_ctx *c) {
    jj_tok *t = cur(c);
    if (t->kind == TK_STRING || t->kind == TK_INT || t->kind == TK_FLOAT) return true;
    if (t->kind == TK_NAME) return strcmp(t->text, "else") && strcmp(t->text, "or") && strcmp(t->text, "and");
    return tok_is(t, TK_OP, "(") || tok_is(t, TK_OP, "[") || tok_is(t, TK_OP, "{");
}

static jj_node *parse_primary(jj_ctx *c);
static jj_node *parse_postfix(jj_ctx *c, jj_node *n);

static jj_node *parse_test(jj_ctx *c, jj_node *in) {
    jj_node *t = node(c, N_TEST);
    if (!t) return NULL;
    t->a = in;
    if (skip_name(c, "not")) t->op = 1;
    if (!(t->name = parse_ident(c))) return NULL;
    if (is_op(c, "(")) {
        if (!parse_call_args(c, t)) return NULL;
    } else if (starts_primary(c)) {
        if (is_name(c, "is")) { fail_tok(c, "a test argument"); return NULL; }
        jj_node *arg = parse_primary(c);
        if (!arg || !(arg = parse_postfix(c, arg))) return NULL;
        t->list = jj_alloc(c, sizeof(jj_node *));
        if (!t->list) return NULL;
        t->list[0] = arg;
        t->n       = 1;
    }
    return t;
}

/* Subscript contents after '[': an expression or a slice a:b:c. */
static jj_node *parse_subscript(jj_ctx *c, jj_node *obj) {
    jj_node *parts[3] = { 0 };
    bool slice = false;
    for (int k = 0; k < 3; k++) {
        if (!is_op(c, ":") && !is_op(c, "]")) {
            if (!(parts[k] = parse_expr(c, true))) return NULL;
        }
        if (k < 2 && skip_op(c, ":")) { slice = true; continue; }
        break;
    }
    if (!expect_op(c, "]")) return NULL;
    if (!slice) {
        if (!parts[0]) { fail_tok(c, "a subscript"); return NULL; }
        jj_node *n = node(c, N_GETITEM);
        if (!n) return NULL;
        n->a = obj;
        n->b = parts[0];
        return n;
    }
    jj_node *n = node(c, N_SLICE);
    if (!n) return NULL;
    n->a = obj;
    n->b = parts[0];
    n->c = parts[1];
    n->d = parts[2];
    return n;
}

static jj_node *parse_postfix(jj_ctx *c, jj_node *n) {
    for (;;) {
        if (skip_op(c, ".")) {
            jj_tok *t = cur(c);
            if (t->kind == TK_NAME) {
                jj_node *g = node(c, N_GETATTR);
                if (!g) return NULL;
                g->a = n;
                g->name = t->text;
                adv(c);
                n = g;
            } else if (t->kind == TK_INT) {
                jj_node *g = node(c, N_GETITEM), *k = node(c, N_LIT);
                if (!g || !k) return NULL;
                k->lit = jj_int(t->ival);
                g->a = n;
                g->b = k;
                adv(c);
                n = g;
            } else {
                fail_tok(c, "an attribute name");
                return NULL;
            }
        } else if (skip_op(c, "[")) {
            if (!(n = parse_subscript(c, n))) return NULL;
        } else if (is_op(c, "(")) {
            jj_node *call = node(c, N_CALL);
            if (!call) return NULL;
            call->a = n;
            if (!parse_call_args(c, call)) return NULL;
            n = call;
        } else {
            return n;
        }
    }
}

static jj_node *parse_filter_expr(jj_ctx *c, jj_node *n) {
    for (;;) {
        if (skip_op(c, "|")) {
            if (!(n = parse_filter(c, n))) return NULL;
            if (!(n = parse_postfix(c, n))) return NULL;
        } else if (skip_name(c, "is")) {
            if (!(n = parse_test(c, n))) return NULL;
        } else if (is_op(c, "(")) {
            if (!(n = parse_postfix(c, n))) return NULL;
        } else {
            return n;
        }
    }
}

/* (a, b) / [a, b] / {k: v}: items until the closer. */
static jj_node *parse_seq(jj_ctx *c, jj_node_kind kind, const char *close) {
    jj_node *n = node(c, kind);
    vec items = { 0 }, vals = { 0 };
    if (!n) return NULL;
    while (!is_op(c, close)) {
        if (items.n && !expect_op(c, ",")) return NULL;
        if (is_op(c, close)) break;
        jj_node *e = parse_expr(c, true);
        if (!e || !vpush(c, &items, e)) return NULL;
        if (kind == N_DICT) {
            if (!expect_op(c, ":")) return NULL;
            jj_node *v = parse_expr(c, true);
            if (!v || !vpush(c, &vals, v)) return NULL;
        }
    }
    adv(c);
    n->list  = (jj_node **)items.p;
    n->n     = items.n;
    n->list2 = (jj_node **)vals.p;
    n->n2    = vals.n;
    return n;
}

static jj_node *parse_primary(jj_ctx *c) {
    if (!enter(c)) return NULL;
    jj_tok *t = cur(c);
    jj_node *n = NULL;
    if (t->kind == TK_NAME) {
        n = node(c, N_LIT);
        if (!n) goto out;
        if (!strcmp(t->text, "true") || !strcmp(t->text, "True")) n->lit = jj_bool(true);
        else if (!strcmp(t->text, "false") || !strcmp(t->text, "False")) n->lit = jj_bool(false);
        else if (!strcmp(t->text, "none") || !strcmp(t->text, "None")) n->lit = jj_none();
        else {
            n->kind = N_NAME;
            n->name = t->text;
        }
        adv(c);
    } else if (t->kind == TK_STRING) {
        /* adjacent string literals concatenate */
        hearth_buf b = { 0 };
        while (cur(c)->kind == TK_STRING) {
            if (!jj_buf_add(c, &b, cur(c)->text, cur(c)->len)) { hearth_buf_free(&b); goto out; }
            adv(c);
        }
        n = node(c, N_LIT);
        if (n && !jj_str_new(c, b.data ? b.data : "", b.len, &n->lit)) n = NULL;
        hearth_buf_free(&b);
    } else if (t->kind == TK_INT || t->kind == TK_FLOAT) {
        n = node(c, N_LIT);
        if (!n) goto out;
        n->lit = t->kind == TK_INT ? jj_int(t->ival) : jj_float(t->fval);
        adv(c);
    } else if (skip_op(c, "(")) {
        if (skip_op(c, ")")) {
            n = node(c, N_TUPLE);
            goto out;
        }
        jj_node *e = parse_expr(c, true);
        if (!e) goto out;
        if (is_op(c, ",")) {
            jj_node *tup = node(c, N_TUPLE);
            vec items = { 0 };
            if (!tup || !vpush(c, &items, e)) goto out;
            while (skip_op(c, ",")) {
                if (is_op(c, ")")) break;
                jj_node *x = parse_expr(c, true);
                if (!x || !vpush(c, &items, x)) goto out;
            }
            tup->list = (jj_node **)items.p;
            tup->n    = items.n;
            e = tup;
        }
        if (!expect_op(c, ")")) goto out;
        n = e;
    } else if (skip_op(c, "[")) {
        n = parse_seq(c, N_LIST, "]");
    } else if (skip_op(c, "{")) {
        n = parse_seq(c, N_DICT, "}");
    } else {
        fail_tok(c, "an expression");
    }
out:
    leave(c);
    return c->failed ? NULL : n;
}

static jj_node *parse_unary(jj_ctx *c, bool with_filter) {
    if (!enter(c)) return NULL;
    jj_node *n = NULL;
    if (is_op(c, "-") || is_op(c, "+")) {
        n = node(c, N_UNARY);
        if (!n) goto out;
        n->op = cur(c)->text[0];
        adv(c);
        if (!(n->a = parse_unary(c, false))) { n = NULL; goto out; }
    } else {
        n = parse_primary(c);
    }
    if (n) n = parse_postfix(c, n);
    if (n && with_filter) n = parse_filter_expr(c, n);
out:
    leave(c);
    return c->failed ? NULL : n;
}

static jj_node *binop(jj_ctx *c, int op, jj_node *a, jj_node *b) {
    jj_node *n = node(c, N_BINOP);
    if (!n || !a || !b) return NULL;
    n->op = op;
    n->a  = a;
    n->b  = b;
    return n;
}

static jj_node *parse_pow(jj_ctx *c) {
    jj_node *n = parse_unary(c, true);
    while (n && skip_op(c, "**")) n = binop(c, 'P', n, parse_unary(c, true));
    return n;
}

static jj_node *parse_math2(jj_ctx *c) {
    jj_node *n = parse_pow(c);
    for (;;) {
        if (!n) return NULL;
        int op = is_op(c, "*") ? '*' : is_op(c, "/") ? '/' : is_op(c, "//") ? 'F' : is_op(c, "%") ? '%' : 0;
        if (!op) return n;
        adv(c);
        n = binop(c, op, n, parse_pow(c));
    }
}

static jj_node *parse_concat(jj_ctx *c) {
    jj_node *n = parse_math2(c);
    while (n && skip_op(c, "~")) n = binop(c, '~', n, parse_math2(c));
    return n;
}

static jj_node *parse_math1(jj_ctx *c) {
    jj_node *n = parse_concat(c);
    for (;;) {
        if (!n) return NULL;
        int op = is_op(c, "+") ? '+' : is_op(c, "-") ? '-' : 0;
        if (!op) return n;
        adv(c);
        n = binop(c, op, n, parse_concat(c));
    }
}

static jj_node *parse_compare(jj_ctx *c) {
    jj_node *first = parse_math1(c);
    vec ops = { 0 }, rhs = { 0 };
    if (!first) return NULL;
    for (;;) {
        const char *op = NULL;
        jj_tok *t = cur(c);
        if (t->kind == TK_OP && (!strcmp(t->text, "==") || !strcmp(t->text, "!=") || !strcmp(t->text, "<") ||
                                 !strcmp(t->text, "<=") || !strcmp(t->text, ">") || !strcmp(t->text, ">="))) {
            op = t->text;
            adv(c);
        } else if (is_name(c, "in")) {
            op = "in";
            adv(c);
        } else if (is_name(c, "not") && tok_is(peek(c, 1), TK_NAME, "in")) {
            op = "notin";
            adv(c);
            adv(c);
        } else {
            break;
        }
        jj_node *r = parse_math1(c);
        if (!r || !vpush(c, &ops, (void *)op) || !vpush(c, &rhs, r)) return NULL;
    }
    if (!ops.n) return first;
    jj_node *n = node(c, N_COMPARE);
    if (!n) return NULL;
    n->a     = first;
    n->list  = (jj_node **)rhs.p;
    n->n     = rhs.n;
    n->names = (const char **)ops.p;
    n->nn    = ops.n;
    return n;
}

static jj_node *parse_not(jj_ctx *c) {
    if (is_name(c, "not")) {
        if (!enter(c)) return NULL;
        jj_node *n = node(c, N_NOT);
        adv(c);
        if (n && !(n->a = parse_not(c))) n = NULL;
        leave(c);
        return n;
    }
    return parse_compare(c);
}

static jj_node *parse_and(jj_ctx *c) {
    jj_node *n = parse_not(c);
    while (n && skip_name(c, "and")) {
        jj_node *a = node(c, N_AND);
        if (!a) return NULL;
        a->a = n;
        if (!(a->b = parse_not(c))) return NULL;
        n = a;
    }
    return n;
}

static jj_node *parse_or(jj_ctx *c) {
    jj_node *n = parse_and(c);
    while (n && skip_name(c, "or")) {
        jj_node *o = node(c, N_OR);
        if (!o) return NULL;
        o->a = n;
        if (!(o->b = parse_and(c))) return NULL;
        n = o;
    }
    return n;
}

static jj_node *parse_expr(jj_ctx *c, bool with_cond) {
    if (!enter(c)) return NULL;
    jj_node *n = parse_or(c);
    while (n && with_cond && skip_name(c, "if")) {
        jj_node *ce = node(c, N_COND);
        if (!ce) { n = NULL; break; }
        ce->b = n;
        if (!(ce->a = parse_or(c))) { n = NULL; break; }
        if (skip_name(c, "else") && !(ce->c = parse_expr(c, true))) { n = NULL; break; }
        n = ce;
    }
    leave(c);
    return c->failed ? NULL : n;
}

/* An expression or an unparenthesized tuple `a, b` (for `set` values and `for` iterables). */
static jj_node *parse_tuple(jj_ctx *c, bool with_cond) {
    jj_node *e = parse_expr(c, with_cond);
    if (!e || !is_op(c, ",")) return e;
    jj_node *tup = node(c, N_TUPLE);
    vec items = { 0 };
    if (!tup || !vpush(c, &items, e)) return NULL;
    while (skip_op(c, ",")) {
        if (cur(c)->kind == TK_BLOCK_END || cur(c)->kind == TK_VAR_END) break;
        jj_node *x = parse_expr(c, with_cond);
        if (!x || !vpush(c, &items, x)) return NULL;
    }
    tup->list = (jj_node **)items.p;
    tup->n    = items.n;
    return tup;
}

/* ---- statements ------------------------------------------------------------------------ */

static bool parse_body(jj_ctx *c, const char *const *ends, vec *out);

static bool expect_block_end(jj_ctx *c) {
    if (cur(c)->kind == TK_BLOCK_END) { adv(c); return true; }
    return fail_tok(c, "end of statement block");
}

/* `{% endX %}` for the name the body stopped at. */
static bool end_tag(jj_ctx *c, const char *name) {
    if (!skip_name(c, name)) return fail_tok(c, name);
    if (cur(c)->kind == TK_NAME && strcmp(name, "endmacro") == 0) adv(c); /* {% endmacro name %} */
    return expect_block_end(c);
}

static bool body_into(jj_ctx *c, const char *const *ends, jj_node ***list, size_t *n) {
    vec v = { 0 };
    if (!parse_body(c, ends, &v)) return false;
    *list = (jj_node **)v.p;
    *n    = v.n;
    return true;
}

/* Target names of for/set: `a` or `a, b` or `(a, b)`; returns count. */
static bool parse_targets(jj_ctx *c, jj_node *n) {
    vec names = { 0 };
    bool paren = skip_op(c, "(");
    do {
        if (paren && is_op(c, ")")) break;
        const char *nm = parse_ident(c);
        if (!nm || !vpush(c, &names, (void *)nm)) return false;
    } while (skip_op(c, ","));
    if (paren && !expect_op(c, ")")) return false;
    n->names = (const char **)names.p;
    n->nn    = names.n;
    return true;
}

static jj_node *parse_if(jj_ctx *c) {
    static const char *const ends[] = { "elif", "else", "endif", NULL };
    jj_node *n = node(c, N_IF);
    if (!n || !(n->a = parse_tuple(c, true)) || !expect_block_end(c)) return NULL;
    if (!body_into(c, ends, &n->list, &n->n)) return NULL;
    if (skip_name(c, "elif")) {
        jj_node *e = parse_if(c);
        if (!e) return NULL;
        n->list2 = jj_alloc(c, sizeof(jj_node *));
        if (!n->list2) return NULL;
        n->list2[0] = e;
        n->n2       = 1;
        return n; /* the nested if consumed endif */
    }
    if (skip_name(c, "else")) {
        static const char *const ends2[] = { "endif", NULL };
        if (!expect_block_end(c) || !body_into(c, ends2, &n->list2, &n->n2)) return NULL;
    }
    return end_tag(c, "endif") ? n : NULL;
}

static jj_node *parse_for(jj_ctx *c) {
    static const char *const ends[] = { "else", "endfor", NULL };
    jj_node *n = node(c, N_FOR);
    if (!n || !parse_targets(c, n)) return NULL;
    if (!skip_name(c, "in")) { fail_tok(c, "'in'"); return NULL; }
    if (!(n->a = parse_tuple(c, false))) return NULL;
    if (skip_name(c, "if") && !(n->b = parse_expr(c, true))) return NULL;
    if (is_name(c, "recursive")) { jj_fail(c, "line %d: recursive loops are not supported", cur(c)->line); return NULL; }
    if (!expect_block_end(c) || !body_into(c, ends, &n->list, &n->n)) return NULL;
    if (skip_name(c, "else")) {
        static const char *const ends2[] = { "endfor", NULL };
        if (!expect_block_end(c) || !body_into(c, ends2, &n->list2, &n->n2)) return NULL;
    }
    return end_tag(c, "endfor") ? n : NULL;
}

/* A chain of filters applied to a body: `upper | replace('a', 'b')` with a NULL input. */
static jj_node *parse_filter_chain(jj_ctx *c) {
    jj_node *f = parse_filter(c, NULL);
    while (f && skip_op(c, "|")) f = parse_filter(c, f);
    return f;
}

static jj_node *parse_set(jj_ctx *c) {
    jj_node *n = node(c, N_SET);
    if (!n) return NULL;
    if (cur(c)->kind == TK_NAME && tok_is(peek(c, 1), TK_OP, ".")) {
        /* namespace attribute: set ns.attr = value */
        jj_node *t = node(c, N_GETATTR), *o = node(c, N_NAME);
        if (!t || !o) return NULL;
        o->name = cur(c)->text;
        adv(c);
        adv(c);
        t->a = o;
        if (!(t->name = parse_ident(c))) return NULL;
        n->a = t;
    } else if (!parse_targets(c, n)) {
        return NULL;
    }
    if (skip_op(c, "=")) {
        if (!(n->b = parse_tuple(c, true)) || !expect_block_end(c)) return NULL;
        return n;
    }
    /* block set */
    static const char *const ends[] = { "endset", NULL };
    if (n->a || n->nn != 1) { fail_tok(c, "'='"); return NULL; }
    n->kind = N_SET_BLOCK;
    n->name = n->names[0];
    if (skip_op(c, "|") && !(n->a = parse_filter_chain(c))) return NULL;
    if (!expect_block_end(c) || !body_into(c, ends, &n->list, &n->n)) return NULL;
    return end_tag(c, "endset") ? n : NULL;
}

/* Macro signature `(a, b=default)`: names in n->names, defaults (or NULL) in n->list2. */
static bool parse_signature(jj_ctx *c, jj_node *n) {
    vec names = { 0 }, defs = { 0 };
    if (!expect_op(c, "(")) return false;
    while (!is_op(c, ")")) {
        if (names.n && !expect_op(c, ",")) return false;
        if (is_op(c, ")")) break;
        const char *nm = parse_ident(c);
        jj_node *d = NULL;
        if (!nm) return false;
        if (skip_op(c, "=") && !(d = parse_expr(c, true))) return false;
        if (!vpush(c, &names, (void *)nm) || !vpush(c, &defs, d)) return false;
    }
    adv(c);
    n->names = (const char **)names.p;
    n->nn    = names.n;
    n->list2 = (jj_node **)defs.p;
    n->n2    = defs.n;
    return true;
}

static jj_node *parse_macro(jj_ctx *c) {
    static const char *const ends[] = { "endmacro", NULL };
    jj_node *n = node(c, N_MACRO);
    if (!n || !(n->name = parse_ident(c)) || !parse_signature(c, n) || !expect_block_end(c)) return NULL;
    if (!body_into(c, ends, &n->list, &n->n)) return NULL;
    return end_tag(c, "endmacro") ? n : NULL;
}

static jj_node *parse_call_block(jj_ctx *c) {
    static const char *const ends[] = { "endcall", NULL };
    jj_node *n = node(c, N_CALL_BLOCK);
    if (!n) return NULL;
    if (is_op(c, "(") && !parse_signature(c, n)) return NULL;
    if (!(n->a = parse_expr(c, true))) return NULL;
    if (n->a->kind != N_CALL) { jj_fail(c, "line %d: expected a call in a call block", n->line); return NULL; }
    if (!expect_block_end(c) || !body_into(c, ends, &n->list, &n->n)) return NULL;
    return end_tag(c, "endcall") ? n : NULL;
}

static jj_node *parse_statement(jj_ctx *c) {
    jj_tok *t = cur(c);
    if (t->kind != TK_NAME) { fail_tok(c, "a statement name"); return NULL; }
    const char *kw = t->text;
    adv(c);
    if (!strcmp(kw, "if")) return parse_if(c);
    if (!strcmp(kw, "for")) return parse_for(c);
    if (!strcmp(kw, "set")) return parse_set(c);
    if (!strcmp(kw, "macro")) return parse_macro(c);
    if (!strcmp(kw, "call")) return parse_call_block(c);
    if (!strcmp(kw, "filter")) {
        static const char *const ends[] = { "endfilter", NULL };
        jj_node *n = node(c, N_FILTER_BLOCK);
        if (!n || !(n->a = parse_filter_chain(c)) || !expect_block_end(c)) return NULL;
        if (!body_into(c, ends, &n->list, &n->n)) return NULL;
        return end_tag(c, "endfilter") ? n : NULL;
    }
    if (!strcmp(kw, "generation")) { /* transformers' AssistantTracker: renders its body */
        static const char *const ends[] = { "endgeneration", NULL };
        jj_node *n = node(c, N_BODY);
        if (!n || !expect_block_end(c) || !body_into(c, ends, &n->list, &n->n)) return NULL;
        return end_tag(c, "endgeneration") ? n : NULL;
    }
    if (!strcmp(kw, "break") || !strcmp(kw, "continue")) {
        jj_node *n = node(c, kw[0] == 'b' ? N_BREAK : N_CONTINUE);
        return n && expect_block_end(c) ? n : NULL;
    }
    jj_fail(c, "line %d: unknown or unsupported tag '%.40s'", t->line, kw);
    return NULL;
}

/* Statements until EOF (ends == NULL) or a block tag named in `ends` (left unconsumed, just
 * after its `{%`). */
static bool parse_body(jj_ctx *c, const char *const *ends, vec *out) {
    if (!enter(c)) return false;
    bool ok = false;
    for (;;) {
        jj_tok *t = cur(c);
        if (t->kind == TK_EOF) {
            if (ends) {
                size_t k = 0;
                while (ends[k + 1]) k++;
                jj_fail(c, "unexpected end of template: missing '{%% %s %%}'", ends[k]);
                goto out;
            }
            ok = true;
            goto out;
        }
        jj_node *n = NULL;
        if (t->kind == TK_DATA) {
            n = node(c, N_TEXT);
            if (!n || !jj_str_new(c, t->text, t->len, &n->lit)) goto out;
            adv(c);
        } else if (t->kind == TK_VAR_BEGIN) {
            adv(c);
            n = node(c, N_EMIT);
            if (!n || !(n->a = parse_tuple(c, true))) goto out;
            if (cur(c)->kind != TK_VAR_END) { fail_tok(c, "end of print statement"); goto out; }
            adv(c);
        } else if (t->kind == TK_BLOCK_BEGIN) {
            jj_tok *kw = peek(c, 1);
            if (kw->kind == TK_NAME && ends) {
                for (const char *const *e = ends; *e; e++)
                    if (!strcmp(kw->text, *e)) {
                        adv(c);
                        ok = true;
                        goto out;
                    }
            }
            adv(c);
            if (!(n = parse_statement(c))) goto out;
        } else {
            fail_tok(c, "template data or a tag");
            goto out;
        }
        if (!vpush(c, out, n)) goto out;
    }
out:
    leave(c);
    return ok && !c->failed;
}

bool jj_parse(jj_ctx *c, jj_node **out) {
    c->pos = 0;
    c->parse_depth = 0;
    jj_node *root = node(c, N_BODY);
    vec v = { 0 };
    if (!root || !parse_body(c, NULL, &v)) return false;
    root->list = (jj_node **)v.p;
    root->n    = v.n;
    *out = root;
    return true;
}
