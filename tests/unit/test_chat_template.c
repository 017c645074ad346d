/* test_chat_template.c — the chat-template engine: one case per feature, with the expected
 * text (or the fact that jinja2 raised) produced by Python jinja2 in
 * scripts/make-golden-templates.py (tests/golden/templates/unit_cases.json); then the
 * hard limits against hostile templates, and chat_apply_template with the default ChatML. */
#include "tap.h"

#include "chat/chat.h"

#include <cjson/cJSON.h>
#include <stdlib.h>

#define NOW 1721995200 /* HEARTH_TEMPLATE_NOW of the golden script */

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) { free(buf); buf = NULL; }
    if (buf) buf[n] = '\0';
    fclose(f);
    return buf;
}

static hearth_status render(const char *tmpl, const char *ctx, const chat_limits *lim, hearth_buf *out,
                            char *err, size_t err_size) {
    chat_limits l;
    if (lim) l = *lim;
    else chat_limits_default(&l);
    l.has_now = true;
    l.now     = NOW;
    return chat_render_json(tmpl, strlen(tmpl), ctx, &l, out, err, err_size);
}

static void test_jinja2_cases(void) {
    char *text = slurp("tests/golden/templates/unit_cases.json");
    REQUIRE(text != NULL);
    cJSON *cases = cJSON_Parse(text);
    free(text);
    REQUIRE(cJSON_IsArray(cases));
    int n = 0;
    for (cJSON *c = cases->child; c; c = c->next, n++) {
        const char *name = cJSON_GetObjectItem(c, "name")->valuestring;
        const char *tmpl = cJSON_GetObjectItem(c, "template")->valuestring;
        char *ctx = cJSON_PrintUnformatted(cJSON_GetObjectItem(c, "context"));
        cJSON *exp = cJSON_GetObjectItem(c, "expected");
        hearth_buf out = { 0 };
        char err[512];
        hearth_status st = render(tmpl, ctx, NULL, &out, err, sizeof err);
        if (exp) {
            CHECKF(st == HEARTH_OK, "%s: error %s", name, err);
            if (st == HEARTH_OK)
                CHECKF(out.len == strlen(exp->valuestring) && !memcmp(out.data ? out.data : "", exp->valuestring, out.len),
                       "%s:\n   got [%.*s]\n  want [%s]", name, (int)out.len, out.data ? out.data : "", exp->valuestring);
        } else {
            CHECKF(st != HEARTH_OK, "%s: jinja2 raised (%s) but hearth rendered [%.*s]", name,
                   cJSON_GetObjectItem(c, "error")->valuestring, (int)out.len, out.data ? out.data : "");
            CHECKF(st != HEARTH_OK && err[0], "%s: no error message", name);
        }
        hearth_buf_free(&out);
        free(ctx);
    }
    CHECK(n >= 60);
    cJSON_Delete(cases);
}

static void expect_limit(const char *tmpl, const chat_limits *lim, const char *what) {
    hearth_buf out = { 0 };
    char err[512] = "";
    hearth_status st = render(tmpl, "{}", lim, &out, err, sizeof err);
    CHECKF(st == HEARTH_ERR_LIMIT, "%s: status %d (%s)", what, st, err);
    CHECKF(err[0] != '\0', "%s: no message", what);
    hearth_buf_free(&out);
}

static void test_limits(void) {
    chat_limits lim;
    chat_limits_default(&lim);
    lim.max_loop_iters = 10000;
    lim.max_steps      = 200000;
    lim.max_output     = 1 << 16;
    lim.max_memory     = 8 << 20;
    lim.max_depth      = 50;
    expect_limit("{% for i in range(100000) %}{% endfor %}", &lim, "range too large");
    expect_limit("{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}", &lim, "nested loops");
    expect_limit("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", &lim, "endless recursion");
    expect_limit("{% macro f(n) %}{{ f(n + 1) }}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", &lim, "exponential recursion");
    expect_limit("{% for i in range(5000) %}xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx{% endfor %}", &lim, "output size");
    expect_limit("{{ 'x' * 100000000 }}", &lim, "string repeat");
    expect_limit("{% set ns = namespace(s='xxxxxxxxxxxxxxxx') %}{% for i in range(9000) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}", &lim, "string doubling");
    expect_limit("{% set ns = namespace(l=[1]) %}{% for i in range(9000) %}{% set ns.l = [ns.l] %}{% endfor %}{{ ns.l }}", &lim, "deep data repr");
    expect_limit("{% set ns = namespace(l=[1]) %}{% for i in range(9000) %}{% set ns.l = [ns.l] %}{% endfor %}{{ ns.l|tojson }}", &lim, "deep data tojson");
    /* deep nesting in the source */
    char deep[4096];
    size_t k = 0;
    k += (size_t)snprintf(deep + k, sizeof deep - k, "{{ ");
    for (int i = 0; i < 1000; i++) deep[k++] = '(';
    deep[k++] = '1';
    for (int i = 0; i < 1000; i++) deep[k++] = ')';
    snprintf(deep + k, sizeof deep - k, " }}");
    expect_limit(deep, &lim, "nested parentheses");
    char deep2[8192] = "";
    for (int i = 0; i < 300; i++) strcat(deep2, "{% if true %}");
    expect_limit(deep2, &lim, "nested statements");
    /* a long but legitimate left-deep expression stays within limits or fails cleanly */
    char chain[20000] = "{{ 1";
    for (int i = 0; i < 3000; i++) strcat(chain, "+1");
    strcat(chain, " }}");
    hearth_buf out = { 0 };
    char err[256];
    hearth_status st = render(chain, "{}", &lim, &out, err, sizeof err);
    CHECK(st == HEARTH_OK || st == HEARTH_ERR_LIMIT);
    hearth_buf_free(&out);
}

static void test_errors(void) {
    hearth_buf out = { 0 };
    char err[256];
    CHECK(render("{{ x }}", "not json", NULL, &out, err, sizeof err) == HEARTH_ERR_FORMAT);
    CHECK(render("{{ x }}", "[1]", NULL, &out, err, sizeof err) == HEARTH_ERR_FORMAT);
    CHECK(render("{{ raise_exception('no way') }}", "{}", NULL, &out, err, sizeof err) == HEARTH_ERR_FORMAT);
    CHECK_STR(err, "no way");
    CHECK(render("{% include 'x' %}", "{}", NULL, &out, err, sizeof err) == HEARTH_ERR_FORMAT);
    CHECK(render("{{ 'a' ", "{}", NULL, &out, err, sizeof err) == HEARTH_ERR_FORMAT);
    CHECK(out.len == 0);
    hearth_buf_free(&out);
}

static void test_apply_default(void) {
    chat_message msgs[] = { { "system", "Be brief." }, { "user", "Hi ünïcode" } };
    hearth_buf out = { 0 };
    char err[256];
    REQUIRE(chat_apply_template(NULL, msgs, 2, true, "<s>", "</s>", &out, err, sizeof err) == HEARTH_OK);
    CHECK_STR(out.data, "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi ünïcode<|im_end|>\n"
                        "<|im_start|>assistant\n");
    hearth_buf_free(&out);
    REQUIRE(chat_apply_template("{{ bos_token }}{{ messages|length }}{{ tools is none }}{{ eos_token }}", msgs, 2,
                                false, "<s>", "</s>", &out, err, sizeof err) == HEARTH_OK);
    CHECK_STR(out.data, "<s>2True</s>");
    hearth_buf_free(&out);
}

int main(void) {
    RUN(test_jinja2_cases);
    RUN(test_limits);
    RUN(test_errors);
    RUN(test_apply_default);
    return tap_done();
}
