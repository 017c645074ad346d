/*
 * jinja.h — internals of the sandboxed Jinja2-subset interpreter behind chat templates.
 *
 * Pipeline: jj_lex (template text -> tokens, with jinja2's whitespace control under
 * trim_blocks and lstrip_blocks) -> jj_parse (tokens -> AST) -> jj_render (AST + variables ->
 * text).  Everything a render allocates (tokens, AST, values) lives in one arena owned by the
 * jj_ctx and counted against a memory limit; it is released at once by jj_ctx_free.
 *
 * Values follow Python/jinja2 semantics closely enough that real chat templates render
 * byte-for-byte as Hugging Face renders them: Python str()/repr() of numbers and containers,
 * jinja2's default Undefined (prints empty, iterates empty, is false, fails on attribute
 * access, arithmetic and calls), immutable-sandbox attribute rules.
 *
 * Every failure (syntax, runtime, a limit) sets one message in ctx->err and makes the
 * function return false; the caller stops at the first false.
 */
#ifndef HEARTH_CHAT_JINJA_H
#define HEARTH_CHAT_JINJA_H

#include "chat/chat.h"
#include "core/core.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- values ------------------------------------------------------------------------- */

typedef enum jj_type {
    JT_UNDEF,  /* jinja2 Undefined; u.name is the missing name for messages (may be NULL) */
    JT_NONE,
    JT_BOOL,
    JT_INT,
    JT_FLOAT,
    JT_STR,
    JT_LIST,   /* also tuples (l->tuple) */
    JT_DICT,
    JT_NS,     /* namespace(): a dict whose attributes `set` may assign */
    JT_FUNC,   /* a global function or test/filter reference: u.fn is a jj_builtin id */
    JT_MACRO,
    JT_LOOP,   /* the `loop` variable of a for loop */
    JT_METHOD, /* a bound method: u.meth */
} jj_type;

typedef struct jj_str {
    size_t len;
    char   s[]; /* len bytes + NUL */
} jj_str;

typedef struct jj_val jj_val;
typedef struct jj_list jj_list;
typedef struct jj_dict jj_dict;
typedef struct jj_macro jj_macro;
typedef struct jj_loop jj_loop;
typedef struct jj_method jj_method;

struct jj_val {
    uint8_t t;    /* jj_type */
    uint8_t safe; /* JT_STR: a markupsafe.Markup (from |safe or |escape): `+` escapes the other side */
    union {
        bool          b;
        int64_t       i;
        double        f;
        jj_str       *s;
        jj_list      *l;
        jj_dict      *d;
        int           fn;
        jj_macro     *m;
        jj_loop      *loop;
        jj_method    *meth;
        const char   *name;
    } u;
};

struct jj_list {
    size_t  n, cap;
    jj_val *items;
    bool    tuple;
    bool    gen;   /* a Python generator (map, select, ...): no len(), not JSON, always true */
};

/* Insertion-ordered; keys compared with Python equality. */
struct jj_dict {
    size_t  n, cap;
    jj_val *keys;
    jj_val *vals;
};

struct jj_method {
    jj_val      self;
    const char *name;
};

/* ---- tokens ------------------------------------------------------------------------- */

typedef enum jj_tok_kind {
    TK_EOF,
    TK_DATA,        /* literal template text (already whitespace-controlled) */
    TK_VAR_BEGIN,   /* {{ */
    TK_VAR_END,     /* }} */
    TK_BLOCK_BEGIN, /* {% */
    TK_BLOCK_END,   /* %} */
    TK_NAME,
    TK_STRING,      /* text holds the unescaped value */
    TK_INT,
    TK_FLOAT,
    TK_OP,          /* text holds the operator, e.g. "**" */
} jj_tok_kind;

typedef struct jj_tok {
    jj_tok_kind kind;
    int         line;
    const char *text; /* NUL-terminated, arena */
    size_t      len;
    int64_t     ival;
    double      fval;
} jj_tok;

/* ---- AST ---------------------------------------------------------------------------- */

typedef enum jj_node_kind {
    /* statements */
    N_TEXT, N_EMIT, N_IF, N_FOR, N_SET, N_SET_BLOCK, N_MACRO, N_CALL_BLOCK, N_FILTER_BLOCK,
    N_BREAK, N_CONTINUE, N_BODY,
    /* expressions */
    N_LIT, N_NAME, N_LIST, N_TUPLE, N_DICT, N_GETATTR, N_GETITEM, N_SLICE, N_CALL, N_FILTER,
    N_TEST, N_BINOP, N_UNARY, N_COMPARE, N_AND, N_OR, N_NOT, N_COND,
} jj_node_kind;

typedef struct jj_node jj_node;
struct jj_node {
    uint8_t      kind;
    int          line;
    int          op;      /* N_BINOP/N_UNARY operator char code; N_TEST: 1 when negated */
    jj_val       lit;     /* N_LIT, N_TEXT */
    const char  *name;    /* N_NAME, N_GETATTR, N_FILTER, N_TEST, N_SET_BLOCK, N_MACRO */
    jj_node     *a, *b, *c, *d;
    jj_node    **list;  size_t n;   /* body / args / items / compare operands */
    jj_node    **list2; size_t n2;  /* else body / kwarg values / dict values */
    const char **names; size_t nn;  /* kwarg names / macro params / for targets / compare ops */
};

/* ---- interpreter state ---------------------------------------------------------------- */

typedef struct jj_scope jj_scope;
struct jj_scope {
    jj_scope *parent;
    jj_dict  *vars;
};

typedef struct jj_ctx {
    hearth_arena arena;
    size_t       mem_used;
    chat_limits  lim;
    char        *err;
    size_t       err_size;
    bool         failed;

    /* lexer/parser */
    jj_tok      *toks;
    size_t       n_toks, pos;
    int          parse_depth;

    /* evaluator */
    hearth_buf  *out;       /* where output goes (swapped while capturing) */
    jj_scope    *root;      /* template-level variables */
    uint64_t     steps, iters;
    int          depth;
    int          control;   /* 0, or JJ_BREAK / JJ_CONTINUE while unwinding a loop body */
    jj_val       caller;    /* the `caller` of the macro being run, or undefined */
    jj_scope    *scope;     /* innermost variable scope */
    jj_val       block_input; /* input of a `filter` block / `set` block filter chain */
    int          loop_depth;  /* for loops being run (break/continue need one) */
} jj_ctx;

#define JJ_BREAK    1
#define JJ_CONTINUE 2

struct jj_macro {
    const char  *name;
    jj_node     *def;    /* N_MACRO (or N_CALL_BLOCK for a caller) */
    jj_val       caller; /* the caller captured for call blocks */
    jj_scope    *scope;  /* for call-block callers: the scope of the call site */
};

struct jj_loop {
    jj_list *items;
    size_t   idx;
};

/* ---- core helpers (jinja_value.c) ----------------------------------------------------- */

bool  jj_fail(jj_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void *jj_alloc(jj_ctx *c, size_t size);
bool  jj_step(jj_ctx *c);

jj_val jj_undef(const char *name);
jj_val jj_none(void);
jj_val jj_bool(bool b);
jj_val jj_int(int64_t i);
jj_val jj_float(double f);
bool   jj_str_new(jj_ctx *c, const char *s, size_t n, jj_val *out);
bool   jj_str_cat(jj_ctx *c, const char *a, size_t an, const char *b, size_t bn, jj_val *out);
bool   jj_list_new(jj_ctx *c, size_t cap, jj_val *out);
bool   jj_list_push(jj_ctx *c, jj_list *l, jj_val v);
bool   jj_dict_new(jj_ctx *c, jj_val *out);
bool   jj_dict_set(jj_ctx *c, jj_dict *d, jj_val k, jj_val v);
bool   jj_dict_sets(jj_ctx *c, jj_dict *d, const char *k, jj_val v);
jj_val *jj_dict_get(jj_dict *d, jj_val k);
jj_val *jj_dict_gets(jj_dict *d, const char *k);

bool        jj_truthy(jj_val v);
const char *jj_type_name(jj_val v);
bool        jj_is_num(jj_val v);   /* int, float or bool */
double      jj_num(jj_val v);
/* Python ==; false with a failure only on excessive nesting. */
bool        jj_eq(jj_ctx *c, jj_val a, jj_val b, bool *res);
/* Python <, ==, > as -1/0/1; fails on types Python cannot order. */
bool        jj_cmp(jj_ctx *c, jj_val a, jj_val b, int *res);

/* Python str() and repr() appended to a buffer. */
bool jj_to_str(jj_ctx *c, jj_val v, hearth_buf *b);
bool jj_repr(jj_ctx *c, jj_val v, hearth_buf *b, int depth);
bool jj_str_of(jj_ctx *c, jj_val v, jj_val *out);  /* str(v) as a JT_STR */
void jj_fmt_float(double f, char *buf, size_t size); /* Python repr(float) */
/* json.dumps(v, ensure_ascii=False, indent, separators, sort_keys); indent NULL = none. */
bool jj_to_json(jj_ctx *c, jj_val v, hearth_buf *b, const char *indent, const char *item_sep,
                const char *key_sep, bool sort_keys, int depth);
/* A cJSON tree to a value. */
struct cJSON;
bool jj_from_cjson(jj_ctx *c, const struct cJSON *j, jj_val *out, int depth);

/* UTF-8 helpers: code points in s[0..n); byte offset of code point i. */
size_t jj_utf8_len(const char *s, size_t n);
size_t jj_utf8_offset(const char *s, size_t n, size_t cp);
/* Decodes one UTF-8 sequence leniently (a stray byte is its own code point). */
uint32_t jj_utf8_next(const unsigned char *s, size_t n, size_t *len);
size_t   jj_utf8_put(char *out, uint32_t cp); /* 1..4 bytes */
/* Appends to a buffer, failing with the output limit. */
bool jj_buf_add(jj_ctx *c, hearth_buf *b, const char *s, size_t n);

/* Stable merge sort with a comparison that may fail. */
typedef bool (*jj_cmp_fn)(jj_ctx *c, jj_val a, jj_val b, void *ud, int *res);
bool jj_sort(jj_ctx *c, jj_val *items, size_t n, jj_cmp_fn cmp, void *ud);

/* ---- lexer / parser ------------------------------------------------------------------- */

bool jj_lex(jj_ctx *c, const char *src, size_t len);
bool jj_parse(jj_ctx *c, jj_node **out);

/* ---- evaluator (jinja_eval.c) and builtins (jinja_builtins.c) ------------------------- */

bool jj_render(jj_ctx *c, jj_node *root, jj_dict *vars, hearth_buf *out);
bool jj_eval(jj_ctx *c, jj_node *n, jj_val *out);
/* Calls any callable value with evaluated arguments. */
bool jj_call_value(jj_ctx *c, jj_val fn, jj_val *args, size_t nargs, const char **kwnames,
                   jj_val *kwvals, size_t nkw, jj_val *out);
bool jj_getattr(jj_ctx *c, jj_val obj, const char *name, jj_val *out);
bool jj_getitem(jj_ctx *c, jj_val obj, jj_val key, jj_val *out);
/* Iterates a value as Python would (str: characters, dict: keys, undefined: nothing). */
bool jj_iterate(jj_ctx *c, jj_val v, jj_list **out);

/* Builtin ids for JT_FUNC values; filters and tests are looked up by name. */
enum {
    JJ_FN_RANGE, JJ_FN_NAMESPACE, JJ_FN_DICT, JJ_FN_RAISE, JJ_FN_STRFTIME, JJ_FN_LIST,
    JJ_FN_COUNT
};
int  jj_global_fn(const char *name); /* -1 if none */
bool jj_call_builtin(jj_ctx *c, int fn, jj_val *args, size_t nargs, const char **kwnames,
                     jj_val *kwvals, size_t nkw, jj_val *out);
bool jj_call_method(jj_ctx *c, jj_method *m, jj_val *args, size_t nargs, const char **kwnames,
                    jj_val *kwvals, size_t nkw, jj_val *out);
/* True when `name` is a method attribute of obj in the immutable sandbox. */
bool jj_has_method(jj_val obj, const char *name);
bool jj_apply_filter(jj_ctx *c, const char *name, jj_val in, jj_val *args, size_t nargs,
                     const char **kwnames, jj_val *kwvals, size_t nkw, jj_val *out);
bool jj_apply_test(jj_ctx *c, const char *name, jj_val in, jj_val *args, size_t nargs, bool *res);
bool jj_filter_exists(const char *name);
/* markupsafe.escape(str(v)): & < > ' " as entities; the result is safe. */
bool jj_html_escape(jj_ctx *c, jj_val v, jj_val *out);

/* Binds positional and keyword arguments to parameter names (np at most 8): out[i] and
 * has[i] for each parameter; fails on unknown or repeated names. */
bool jj_bind(jj_ctx *c, const char *fname, const char *const *params, size_t np, jj_val *args,
             size_t nargs, const char **kwn, jj_val *kwv, size_t nkw, jj_val *out, bool *has);
/* Unicode helpers (case mapping through the C.UTF-8 locale when available). */
uint32_t jj_cp_upper(uint32_t cp);
uint32_t jj_cp_lower(uint32_t cp);
bool     jj_cp_cased(uint32_t cp);
bool     jj_cp_space(uint32_t cp);
bool jj_str_case(jj_ctx *c, const jj_str *s, char mode, jj_val *out);
bool jj_str_strip(jj_ctx *c, const jj_str *s, const jj_str *chars, char which, jj_val *out);
bool jj_str_replace(jj_ctx *c, const jj_str *s, const jj_str *old, const jj_str *new_, int64_t count, jj_val *out);
bool jj_test_exists(const char *name);

#endif /* HEARTH_CHAT_JINJA_H */
