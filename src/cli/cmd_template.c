/* cmd_template.c — `hearth template render (--template FILE | -m MODEL) --context CONTEXT.json`
 * prints the rendered chat template exactly (no added newline); `hearth template show -m MODEL`
 * prints the model's template (or the default ChatML one when it has none).
 *
 * The context is a JSON object whose keys become template variables (messages, tools,
 * add_generation_prompt, bos_token, eos_token, ...).  With -m, bos_token and eos_token default
 * to the model's own special tokens when the context does not set them.  HEARTH_TEMPLATE_NOW
 * (Unix seconds) fixes the time strftime_now sees, in UTC, for reproducible output. */
#include "cli/cli.h"

#include "chat/chat.h"
#include "gguf/gguf.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void template_usage(FILE *f) {
    fprintf(f,
            "usage: hearth template render (--template FILE | -m MODEL) --context CONTEXT.json\n"
            "       hearth template show -m MODEL\n\n"
            "  --template FILE   a Jinja chat template file\n"
            "  -m, --model MODEL a GGUF model: its tokenizer.chat_template (ChatML when it has none)\n"
            "  --context FILE    JSON object of template variables ('-' reads standard input)\n\n"
            "HEARTH_TEMPLATE_NOW=SECONDS fixes the time strftime_now() sees (UTC).\n");
}

/* Reads a whole file ("-" = stdin) into a NUL-terminated malloc'd buffer. */
static char *read_all(const char *path, size_t *len) {
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n + 1 >= cap) {
            char *nb = cap < ((size_t)1 << 31) ? realloc(buf, cap * 2) : NULL;
            if (!nb) { free(buf); buf = NULL; break; }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) break;
    }
    if (buf && ferror(f)) { free(buf); buf = NULL; }
    if (f != stdin) fclose(f);
    if (buf) { buf[n] = '\0'; *len = n; }
    return buf;
}

/* The text of token `key_id` (e.g. tokenizer.ggml.bos_token_id) in a model's vocabulary. */
static bool model_token(const gguf_file *g, const char *key_id, char *out, size_t size) {
    uint64_t id;
    const gguf_array *toks = gguf_get_arr(g, "tokenizer.ggml.tokens");
    if (!gguf_get_u64(g, key_id, &id) || !toks || toks->elem != GGUF_VT_STRING || id >= toks->n) return false;
    if (toks->strs[id].len >= size) return false;
    gguf_str_copy(toks->strs[id], out, size);
    return true;
}

int cmd_template(int argc, char **argv) {
    const char *tmpl_path = NULL, *model_path = NULL, *ctx_path = NULL;
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        template_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "render") && strcmp(sub, "show")) {
        fprintf(stderr, "hearth template: unknown subcommand '%s'\n", sub);
        template_usage(stderr);
        return 2;
    }
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { template_usage(stdout); return 0; }
        if (i + 1 >= argc) { fprintf(stderr, "hearth template: %s needs a value\n", a); return 2; }
        if (!strcmp(a, "--template")) tmpl_path = argv[++i];
        else if (!strcmp(a, "-m") || !strcmp(a, "--model")) model_path = argv[++i];
        else if (!strcmp(a, "--context")) ctx_path = argv[++i];
        else { fprintf(stderr, "hearth template: unknown option '%s'\n", a); return 2; }
    }
    if (!tmpl_path == !model_path || (!strcmp(sub, "render") && !ctx_path)) {
        template_usage(stderr);
        return 2;
    }

    char err[512] = "";
    char *tmpl = NULL, *ctx_text = NULL;
    size_t tmpl_len = 0, ctx_len = 0;
    gguf_file *g = NULL;
    cJSON *ctx = NULL;
    int rc = 1;
    char bos[256], eos[256];
    bool have_bos = false, have_eos = false;

    char resolved[4096];
    if (model_path) {
        if (!cli_model_path("template", model_path, resolved, sizeof resolved)) goto done;
        model_path = resolved;
        if (gguf_open_file(model_path, &g, err, sizeof err) != HEARTH_OK) {
            fprintf(stderr, "hearth template: %s: %s\n", model_path, err);
            goto done;
        }
        gguf_str s;
        if (gguf_get_str(g, "tokenizer.chat_template", &s)) {
            tmpl = malloc(s.len + 1);
            if (!tmpl) goto oom;
            memcpy(tmpl, s.ptr, s.len);
            tmpl[s.len] = '\0';
            tmpl_len = s.len;
        } else {
            tmpl_len = strlen(chat_default_template);
            tmpl = malloc(tmpl_len + 1);
            if (!tmpl) goto oom;
            memcpy(tmpl, chat_default_template, tmpl_len + 1);
        }
        have_bos = model_token(g, "tokenizer.ggml.bos_token_id", bos, sizeof bos);
        have_eos = model_token(g, "tokenizer.ggml.eos_token_id", eos, sizeof eos);
    } else if (!(tmpl = read_all(tmpl_path, &tmpl_len))) {
        fprintf(stderr, "hearth template: cannot read %s\n", tmpl_path);
        goto done;
    }
    if (!strcmp(sub, "show")) {
        fwrite(tmpl, 1, tmpl_len, stdout);
        rc = 0;
        goto done;
    }

    if (!(ctx_text = read_all(ctx_path, &ctx_len))) {
        fprintf(stderr, "hearth template: cannot read %s\n", ctx_path);
        goto done;
    }
    ctx = cJSON_ParseWithLength(ctx_text, ctx_len);
    if (!ctx || !cJSON_IsObject(ctx)) {
        fprintf(stderr, "hearth template: %s: not a JSON object\n", ctx_path);
        goto done;
    }
    if (have_bos && !cJSON_GetObjectItemCaseSensitive(ctx, "bos_token")) cJSON_AddStringToObject(ctx, "bos_token", bos);
    if (have_eos && !cJSON_GetObjectItemCaseSensitive(ctx, "eos_token")) cJSON_AddStringToObject(ctx, "eos_token", eos);
    char *json = cJSON_PrintUnformatted(ctx);
    if (!json) goto oom;

    chat_limits lim;
    chat_limits_default(&lim);
    const char *now = getenv("HEARTH_TEMPLATE_NOW");
    if (now && *now) {
        char *end;
        long long t = strtoll(now, &end, 10);
        if (*end) {
            fprintf(stderr, "hearth template: HEARTH_TEMPLATE_NOW must be Unix seconds\n");
            free(json);
            goto done;
        }
        lim.has_now = true;
        lim.now     = t;
    }
    hearth_buf out = { 0 };
    hearth_status st = chat_render_json(tmpl, tmpl_len, json, &lim, &out, err, sizeof err);
    free(json);
    if (st != HEARTH_OK) {
        fprintf(stderr, "hearth template: %s\n", err);
        hearth_buf_free(&out);
        goto done;
    }
    if (out.len && fwrite(out.data, 1, out.len, stdout) != out.len) {
        hearth_buf_free(&out);
        goto done;
    }
    hearth_buf_free(&out);
    rc = fflush(stdout) == 0 ? 0 : 1;
    goto done;
oom:
    fprintf(stderr, "hearth template: out of memory\n");
done:
    cJSON_Delete(ctx);
    free(ctx_text);
    free(tmpl);
    gguf_free(g);
    return rc;
}
