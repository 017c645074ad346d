/*
 * fuzz_http_json.c — libFuzzer harness over the server's request-body handling: JSON parsing,
 * every field check of the OpenAI and Ollama generation endpoints (types, ranges, stop lists,
 * message content parts), the UTF-8 sanitizer of outgoing strings, and /tokenize and
 * /detokenize over a real vocabulary (the vocab-only gpt-2 file of ../shared/testdata/vocab,
 * or $HEARTH_FUZZ_VOCAB_DIR; skipped when absent).  No model weights are needed.
 *
 * Input: byte 0 picks the endpoint, the rest is the request body.  Besides memory errors it
 * traps when a reply is not a JSON object, or an error reply lacks its status or shape.
 */
#include "server/server.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static server srv;
static int    loaded;

static void load(void) {
    loaded = 1;
    snprintf(srv.model.name, sizeof srv.model.name, "fuzz-model");
    snprintf(srv.model.path, sizeof srv.model.path, "/nonexistent/fuzz-model.gguf");
    const char *dir = getenv("HEARTH_FUZZ_VOCAB_DIR");
    if (!dir) dir = "../shared/testdata/vocab";
    char path[1024];
    snprintf(path, sizeof path, "%s/ggml-vocab-gpt-2.gguf", dir);
    if (gguf_open_file(path, &srv.model.g, NULL, 0) == HEARTH_OK) tokenizer_load(srv.model.g, &srv.model.tok, NULL, 0);
}

static void check_reply(const http_reply *r, bool ok, bool ollama) {
    if (ok && r->status == 0) return; /* validation passed: no reply written */
    if (r->status < 200 || r->status > 599) __builtin_trap();
    cJSON *j = cJSON_ParseWithLength(r->body.data ? r->body.data : "", r->body.len);
    if (!j || !cJSON_IsObject(j)) __builtin_trap();
    if (!ok) {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
        if (ollama ? !cJSON_IsString(e)
                   : !(cJSON_IsObject(e) && cJSON_IsString(cJSON_GetObjectItemCaseSensitive(e, "message")) &&
                       cJSON_IsString(cJSON_GetObjectItemCaseSensitive(e, "type"))))
            __builtin_trap();
        if (r->status < 400) __builtin_trap();
    }
    cJSON_Delete(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!loaded) load();
    if (size < 1) return 0;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    http_reply r = { 0 };
    bool ok;
    switch (data[0] % 6) {
    case 0: ok = openai_check_fields(&srv, body, len, true, &r); check_reply(&r, ok, false); break;
    case 1: ok = openai_check_fields(&srv, body, len, false, &r); check_reply(&r, ok, false); break;
    case 2: ok = ollama_check_fields(&srv, body, len, &r); check_reply(&r, ok, true); break;
    case 3:
        if (!srv.model.tok) break;
        api_tokenize(&srv, body, len, &r);
        check_reply(&r, r.status == 200, false);
        break;
    case 4:
        if (!srv.model.tok) break;
        api_detokenize(&srv, body, len, &r);
        check_reply(&r, r.status == 200, false);
        break;
    default: {
        /* the sanitizer: output must be valid JSON text that parses back */
        cJSON *s = api_text(body, len);
        char *p = s ? cJSON_PrintUnformatted(s) : NULL;
        cJSON *back = p ? cJSON_Parse(p) : NULL;
        if (s && (!p || !back)) __builtin_trap();
        cJSON_Delete(back);
        free(p);
        cJSON_Delete(s);
    }
    }
    hearth_buf_free(&r.body);
    return 0;
}
