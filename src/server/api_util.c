/*
 * api_util.c — what the OpenAI and Ollama faces share: error bodies in each API's shape,
 * typed field readers that answer 400 naming the field, job submission (503 when the queue
 * is full), ids and timestamps, /tokenize and /detokenize.
 */
#include "server/server.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

void api_json(http_reply *r, int status, cJSON *j) {
    r->status = status;
    r->body.len = 0;
    char *s = j ? cJSON_PrintUnformatted(j) : NULL;
    if (s) {
        hearth_buf_appends(&r->body, s);
        free(s);
    } else {
        r->status = 500;
        hearth_buf_appends(&r->body, "{\"error\":{\"message\":\"out of memory\",\"type\":\"server_error\","
                                     "\"param\":null,\"code\":null}}");
    }
    cJSON_Delete(j);
    r->content_type = "application/json";
}

void api_error(http_reply *r, int status, const char *type, const char *param, const char *code, const char *fmt,
               ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cJSON *root = cJSON_CreateObject(), *e = cJSON_AddObjectToObject(root, "error");
    cJSON_AddStringToObject(e, "message", msg);
    cJSON_AddStringToObject(e, "type", type);
    if (param) cJSON_AddStringToObject(e, "param", param);
    else cJSON_AddNullToObject(e, "param");
    if (code) cJSON_AddStringToObject(e, "code", code);
    else cJSON_AddNullToObject(e, "code");
    api_json(r, status, root);
}

void api_error_ollama(http_reply *r, int status, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "error", msg);
    api_json(r, status, root);
}

static void bad_field(http_reply *r, bool ollama, const char *key, const char *what) {
    if (ollama) api_error_ollama(r, 400, "invalid value for '%s': %s", key, what);
    else api_error(r, 400, "invalid_request_error", key, "invalid_type", "Invalid value for '%s': %s", key, what);
}

cJSON *api_parse_body(const char *body, size_t len, http_reply *r, bool ollama) {
    const char *end = NULL;
    cJSON *j = body && len ? cJSON_ParseWithLengthOpts(body, len, &end, 0) : NULL;
    if (!j || !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        if (ollama) api_error_ollama(r, 400, "invalid JSON in the request body");
        else
            api_error(r, 400, "invalid_request_error", NULL, "invalid_json",
                      "The request body is not a valid JSON object.");
        return NULL;
    }
    return j;
}

bool api_get_num(const cJSON *obj, const char *key, double lo, double hi, double *out, http_reply *r, bool ollama) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v)) return true;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) {
        bad_field(r, ollama, key, "expected a number");
        return false;
    }
    if (v->valuedouble < lo || v->valuedouble > hi) {
        char what[128];
        snprintf(what, sizeof what, "must be between %g and %g", lo, hi);
        bad_field(r, ollama, key, what);
        return false;
    }
    *out = v->valuedouble;
    return true;
}

bool api_get_int(const cJSON *obj, const char *key, double lo, double hi, int64_t *out, http_reply *r, bool ollama) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v)) return true;
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || !isfinite(v->valuedouble)) {
        bad_field(r, ollama, key, "expected an integer");
        return false;
    }
    if (v->valuedouble < lo || v->valuedouble > hi) {
        char what[128];
        snprintf(what, sizeof what, "must be between %.0f and %.0f", lo, hi);
        bad_field(r, ollama, key, what);
        return false;
    }
    *out = (int64_t)v->valuedouble;
    return true;
}

bool api_get_bool(const cJSON *obj, const char *key, bool *out, http_reply *r, bool ollama) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v)) return true;
    if (!cJSON_IsBool(v)) {
        bad_field(r, ollama, key, "expected a boolean");
        return false;
    }
    *out = cJSON_IsTrue(v);
    return true;
}

static bool add_stop(sched_params *p, const char *s) {
    if (!*s) return true; /* an empty stop string stops nothing */
    if (p->n_stop >= SCHED_MAX_STOP) return false;
    if (!(p->stop[p->n_stop] = strdup(s))) return false;
    p->n_stop++;
    return true;
}

bool api_get_stop(const cJSON *obj, const char *key, sched_params *p, http_reply *r, bool ollama) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v)) return true;
    if (cJSON_IsString(v)) {
        if (add_stop(p, v->valuestring)) return true;
    } else if (cJSON_IsArray(v)) {
        const cJSON *e;
        bool ok = true;
        cJSON_ArrayForEach(e, v) ok = ok && cJSON_IsString(e) && add_stop(p, e->valuestring);
        if (ok) return true;
    }
    bad_field(r, ollama, key, "expected a string or an array of up to 8 strings");
    return false;
}

bool api_message_text(const cJSON *content, hearth_buf *out) {
    if (!content || cJSON_IsNull(content)) return true;
    if (cJSON_IsString(content)) return hearth_buf_appends(out, content->valuestring);
    if (!cJSON_IsArray(content)) return false;
    const cJSON *part;
    cJSON_ArrayForEach(part, content) {
        if (cJSON_IsString(part)) {
            if (!hearth_buf_appends(out, part->valuestring)) return false;
            continue;
        }
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(part, "type");
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(part, "text");
        if (!cJSON_IsObject(part) || !cJSON_IsString(type)) return false;
        if (strcmp(type->valuestring, "text")) continue; /* images etc.: not supported, ignored */
        if (!cJSON_IsString(text) || !hearth_buf_appends(out, text->valuestring)) return false;
    }
    return true;
}

bool api_submit(server *srv, const tok_ids *prompt, const sched_params *p, int n, sched_job **jobs, http_reply *r,
                bool ollama) {
    int32_t n_ctx = sched_backend_n_ctx(srv->be);
    if (prompt->len < 1 || (int64_t)prompt->len >= n_ctx) {
        if (ollama)
            api_error_ollama(r, 400, "the prompt has %zu tokens; the context holds %d", prompt->len, n_ctx);
        else
            api_error(r, 400, "invalid_request_error", "messages", "context_length_exceeded",
                      "This model's maximum context length is %d tokens; the prompt has %zu tokens.", n_ctx,
                      prompt->len);
        return false;
    }
    for (int i = 0; i < n; i++) jobs[i] = NULL;
    for (int i = 0; i < n; i++) {
        sched_params c = *p;
        c.n_stop = 0;
        for (int k = 0; k < p->n_stop; k++)
            if ((c.stop[k] = strdup(p->stop[k]))) c.n_stop++;
        c.sp.seed = p->sp.seed + (uint64_t)i;
        jobs[i] = sched_job_create(prompt->data, (int32_t)prompt->len, &c);
        sched_params_free(&c);
        if (!jobs[i] || sched_submit(srv->sched, jobs[i]) != 0) {
            for (int k = 0; k <= i; k++) {
                sched_job_release(jobs[k]);
                jobs[k] = NULL;
            }
            r->retry_after = 1;
            if (ollama) api_error_ollama(r, 503, "server busy: the request queue is full, retry later");
            else
                api_error(r, 503, "server_error", NULL, "server_busy",
                          "The server is busy (the request queue is full); retry later.");
            http_expect_done(r);
            return false;
        }
    }
    http_expect_done(r); /* after the last submit: the scheduler may start its pass now */
    return true;
}

void api_make_id(char *buf, size_t size, const char *prefix) {
    static uint64_t counter;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    uint64_t x = ((uint64_t)tv.tv_sec * 1000003u) ^ ((uint64_t)tv.tv_usec << 20) ^
                 (__atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED) * 0x9E3779B97F4A7C15ull);
    x ^= x >> 31;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 29;
    snprintf(buf, size, "%s%016llx", prefix, (unsigned long long)x);
}

int64_t api_now(void) { return (int64_t)time(NULL); }

void api_time_rfc3339(char *buf, size_t size) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char base[32];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, size, "%s.%09ldZ", base, ts.tv_nsec);
}

/* POST /tokenize {"content": str, "add_special": bool, "with_pieces": bool} -> {"tokens": [...]}
 * (llama.cpp server's shape; with_pieces gives [{"id", "piece"}]). */
void api_tokenize(server *srv, const char *body, size_t len, http_reply *r) {
    cJSON *req = api_parse_body(body, len, r, false);
    if (!req) return;
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(req, "content");
    bool add_special = false, with_pieces = false;
    if (!cJSON_IsString(content)) {
        api_error(r, 400, "invalid_request_error", "content", "invalid_type", "'content' must be a string");
        goto done;
    }
    if (!api_get_bool(req, "add_special", &add_special, r, false) ||
        !api_get_bool(req, "with_pieces", &with_pieces, r, false))
        goto done;
    tok_ids ids = { 0 };
    char err[256];
    if (srv_model_tokenize(&srv->model, content->valuestring, strlen(content->valuestring), add_special, &ids, err,
                           sizeof err) != HEARTH_OK) {
        api_error(r, 500, "server_error", NULL, NULL, "%s", err);
        tok_ids_free(&ids);
        goto done;
    }
    cJSON *out = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(out, "tokens");
    for (size_t i = 0; i < ids.len; i++) {
        if (!with_pieces) {
            cJSON_AddItemToArray(arr, cJSON_CreateNumber(ids.data[i]));
            continue;
        }
        char piece[256];
        int64_t n = tokenizer_token_to_piece(srv->model.tok, ids.data[i], piece, sizeof piece, 0, true);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "id", ids.data[i]);
        cJSON_AddStringToObject(o, "piece", n >= 0 && n < (int64_t)sizeof piece ? piece : "");
        cJSON_AddItemToArray(arr, o);
    }
    r->n_prompt = (int64_t)ids.len;
    tok_ids_free(&ids);
    api_json(r, 200, out);
done:
    cJSON_Delete(req);
}

/* POST /detokenize {"tokens": [ids]} -> {"content": str} */
void api_detokenize(server *srv, const char *body, size_t len, http_reply *r) {
    cJSON *req = api_parse_body(body, len, r, false);
    if (!req) return;
    const cJSON *toks = cJSON_GetObjectItemCaseSensitive(req, "tokens"), *e;
    int32_t n_vocab = tokenizer_n_vocab(srv->model.tok);
    tok_ids ids = { 0 };
    bool ok = cJSON_IsArray(toks);
    if (ok) cJSON_ArrayForEach(e, toks) {
            if (!cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble >= n_vocab ||
                e->valuedouble != floor(e->valuedouble) || !tok_ids_push(&ids, (int32_t)e->valuedouble)) {
                ok = false;
                break;
            }
        }
    if (!ok) {
        api_error(r, 400, "invalid_request_error", "tokens", "invalid_type",
                  "'tokens' must be an array of token ids below %d", n_vocab);
    } else {
        hearth_buf text = { 0 };
        tokenizer_detokenize(srv->model.tok, ids.data, ids.len, false, true, &text);
        cJSON *out = cJSON_CreateObject();
        cJSON_AddStringToObject(out, "content", text.data ? text.data : "");
        hearth_buf_free(&text);
        api_json(r, 200, out);
    }
    tok_ids_free(&ids);
    cJSON_Delete(req);
}

bool api_wait_all(http_reply *r, sched_job **jobs, int n, sched_out *outs) {
    for (int i = 0; i < n; i++) {
        while (sched_job_take(jobs[i], &outs[i], 200) == SCHED_RUNNING) {
            if (r->conn && http_client_gone(r->conn)) {
                for (int k = 0; k < n; k++) sched_job_cancel(jobs[k]);
                return false;
            }
        }
    }
    return true;
}

/* Length of a valid UTF-8 sequence at s[0..n), or 0 when it is not one. */
static size_t utf8_seq(const unsigned char *s, size_t n) {
    unsigned c = s[0];
    size_t len;
    uint32_t cp;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) len = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF) len = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4) len = 4, cp = c & 0x07;
    else return 0;
    if (len > n) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return len;
}

cJSON *api_text(const char *s, size_t len) {
    hearth_buf b = { 0 };
    const unsigned char *u = (const unsigned char *)(s ? s : "");
    bool ok = hearth_buf_reserve(&b, len + 1);
    for (size_t i = 0; ok && i < len;) {
        size_t k = u[i] ? utf8_seq(u + i, len - i) : 0;
        if (k) {
            ok = hearth_buf_append(&b, u + i, k);
            i += k;
        } else {
            ok = hearth_buf_append(&b, "\xEF\xBF\xBD", 3);
            i++;
        }
    }
    cJSON *j = cJSON_CreateString(ok && b.len ? b.data : "");
    hearth_buf_free(&b);
    return j;
}

cJSON *api_add_text(cJSON *obj, const char *key, const char *s, size_t len) {
    cJSON *j = api_text(s, len);
    cJSON_AddItemToObject(obj, key, j);
    return j;
}

uint64_t api_random_seed(void) {
    static uint64_t counter;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^
                 (__atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED) * 0x9E3779B97F4A7C15ull);
    x ^= x >> 33;
    x *= 0xFF51AFD7ED558CCDull;
    x ^= x >> 33;
    return x & 0xFFFFFFFFull;
}
