/* chat.c — the chat-template API: limits, the default ChatML template, rendering a template
 * over a JSON context or a list of messages. */
#include "chat/chat.h"

#include "chat/jinja.h"

#include <cjson/cJSON.h>
#include <string.h>

const char chat_default_template[] =
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

void chat_limits_default(chat_limits *lim) {
    memset(lim, 0, sizeof *lim);
    lim->max_output     = 16u << 20;
    lim->max_memory     = 512u << 20;
    lim->max_depth      = 200;
    lim->max_loop_iters = 1000000;
    lim->max_steps      = 50000000;
}

/* Lex, parse and render `tmpl` with the variables in `vars_json` (a cJSON object). */
static hearth_status render(const char *tmpl, size_t tmpl_len, const cJSON *vars_json, const chat_limits *lim,
                            hearth_buf *out, char *err, size_t err_size) {
    jj_ctx c;
    memset(&c, 0, sizeof c);
    if (lim) c.lim = *lim;
    else chat_limits_default(&c.lim);
    if (c.lim.max_depth < 1) c.lim.max_depth = 1;
    c.err      = err;
    c.err_size = err_size;
    if (err && err_size) err[0] = '\0';

    hearth_buf text = { 0 };
    jj_node *root = NULL;
    jj_val vars = jj_none();
    bool ok = jj_lex(&c, tmpl, tmpl_len) && jj_parse(&c, &root);
    if (ok) {
        ok = jj_from_cjson(&c, vars_json, &vars, 0);
        if (ok && vars.t != JT_DICT) ok = jj_fail(&c, "the template context must be a JSON object");
    }
    ok = ok && jj_render(&c, root, vars.u.d, &text);
    hearth_status st = HEARTH_OK;
    if (!ok) {
        if (!c.failed) jj_fail(&c, "template error");
        st = err && (strstr(err, "limit exceeded") || strstr(err, "too deep") || strstr(err, "too deeply") ||
                     strstr(err, "too large"))
                 ? HEARTH_ERR_LIMIT
                 : HEARTH_ERR_FORMAT;
        if (err && strstr(err, "out of memory")) st = HEARTH_ERR_NOMEM;
    } else if (text.len && !hearth_buf_append(out, text.data, text.len)) {
        st = hearth_err(err, err_size, HEARTH_ERR_NOMEM, "out of memory");
    }
    hearth_buf_free(&text);
    hearth_arena_free(&c.arena);
    return st;
}

hearth_status chat_render_json(const char *tmpl, size_t tmpl_len, const char *context_json,
                               const chat_limits *lim, hearth_buf *out, char *err, size_t err_size) {
    if (!tmpl || !out) return hearth_err(err, err_size, HEARTH_ERR_ARG, "chat_render_json: NULL argument");
    cJSON *ctx = cJSON_Parse(context_json ? context_json : "{}");
    if (!ctx) return hearth_err(err, err_size, HEARTH_ERR_FORMAT, "the template context is not valid JSON");
    if (!cJSON_IsObject(ctx)) {
        cJSON_Delete(ctx);
        return hearth_err(err, err_size, HEARTH_ERR_FORMAT, "the template context must be a JSON object");
    }
    hearth_status st = render(tmpl, tmpl_len, ctx, lim, out, err, err_size);
    cJSON_Delete(ctx);
    return st;
}

hearth_status chat_apply_template(const char *tmpl, const chat_message *msgs, size_t n_msgs,
                                  bool add_generation_prompt, const char *bos_token,
                                  const char *eos_token, hearth_buf *out, char *err, size_t err_size) {
    if (!out || (n_msgs && !msgs)) return hearth_err(err, err_size, HEARTH_ERR_ARG, "chat_apply_template: NULL argument");
    if (!tmpl) tmpl = chat_default_template;
    cJSON *ctx = cJSON_CreateObject(), *arr = cJSON_CreateArray();
    bool ok = ctx && arr && cJSON_AddItemToObject(ctx, "messages", arr);
    if (!ok) cJSON_Delete(arr);
    for (size_t i = 0; ok && i < n_msgs; i++) {
        cJSON *m = cJSON_CreateObject();
        ok = m && cJSON_AddItemToArray(arr, m) && cJSON_AddStringToObject(m, "role", msgs[i].role ? msgs[i].role : "") &&
             cJSON_AddStringToObject(m, "content", msgs[i].content ? msgs[i].content : "");
    }
    ok = ok && cJSON_AddBoolToObject(ctx, "add_generation_prompt", add_generation_prompt) &&
         cJSON_AddStringToObject(ctx, "bos_token", bos_token ? bos_token : "") &&
         cJSON_AddStringToObject(ctx, "eos_token", eos_token ? eos_token : "") && cJSON_AddNullToObject(ctx, "tools");
    hearth_status st = ok ? render(tmpl, strlen(tmpl), ctx, NULL, out, err, err_size)
                          : hearth_err(err, err_size, HEARTH_ERR_NOMEM, "out of memory");
    cJSON_Delete(ctx);
    return st;
}
