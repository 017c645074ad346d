/*
 * ollama.c — Ollama's API: /api/chat and /api/generate (NDJSON streaming, on by default as in
 * Ollama), /api/tags, /api/show, /api/ps, /api/version, /api/embed (and the older
 * /api/embeddings).  Errors are Ollama's {"error": "..."}.
 */
#include "server/server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void tagged_name(const server *srv, char *buf, size_t size) {
    if (strchr(srv->model.name, ':')) snprintf(buf, size, "%s", srv->model.name);
    else snprintf(buf, size, "%s:latest", srv->model.name);
}

static cJSON *details_obj(const server *srv) {
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "parent_model", "");
    cJSON_AddStringToObject(d, "format", "gguf");
    cJSON_AddStringToObject(d, "family", srv->model.arch);
    cJSON_AddItemToArray(cJSON_AddArrayToObject(d, "families"), cJSON_CreateString(srv->model.arch));
    cJSON_AddStringToObject(d, "parameter_size", srv->model.param_size);
    cJSON_AddStringToObject(d, "quantization_level", srv->model.quant);
    return d;
}

static void time_str(int64_t t, char *buf, size_t size) {
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void ollama_tags(server *srv, http_reply *r) {
    char name[300], mod[40];
    tagged_name(srv, name, sizeof name);
    time_str(srv->model.mtime, mod, sizeof mod);
    cJSON *root = cJSON_CreateObject(), *models = cJSON_AddArrayToObject(root, "models"), *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "name", name);
    cJSON_AddStringToObject(m, "model", name);
    cJSON_AddStringToObject(m, "modified_at", mod);
    cJSON_AddNumberToObject(m, "size", (double)srv->model.size);
    cJSON_AddStringToObject(m, "digest", srv->model.digest + 7);
    cJSON_AddItemToObject(m, "details", details_obj(srv));
    cJSON_AddItemToArray(models, m);
    api_json(r, 200, root);
}

void ollama_ps(server *srv, http_reply *r) {
    char name[300], exp[40];
    tagged_name(srv, name, sizeof name);
    time_str(api_now() + 365 * 24 * 3600, exp, sizeof exp);
    cJSON *root = cJSON_CreateObject(), *models = cJSON_AddArrayToObject(root, "models"), *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "name", name);
    cJSON_AddStringToObject(m, "model", name);
    cJSON_AddNumberToObject(m, "size", (double)srv->model.size);
    cJSON_AddStringToObject(m, "digest", srv->model.digest + 7);
    cJSON_AddItemToObject(m, "details", details_obj(srv));
    cJSON_AddStringToObject(m, "expires_at", exp);
    cJSON_AddNumberToObject(m, "size_vram", 0);
    cJSON_AddItemToArray(models, m);
    api_json(r, 200, root);
}

void ollama_version(server *srv, http_reply *r) {
    (void)srv;
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "version", HEARTH_VERSION);
    api_json(r, 200, root);
}

/* The `model` (or older `name`) field; false after a 400/404 reply. */
static bool check_model(server *srv, const cJSON *req, http_reply *r, bool required) {
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(req, "model");
    if (!m || cJSON_IsNull(m)) m = cJSON_GetObjectItemCaseSensitive(req, "name");
    if (!m || cJSON_IsNull(m)) {
        if (!required) return true;
        api_error_ollama(r, 400, "model is required");
        return false;
    }
    if (!cJSON_IsString(m)) {
        api_error_ollama(r, 400, "invalid value for 'model': expected a string");
        return false;
    }
    if (!srv_model_matches(&srv->model, m->valuestring)) {
        api_error_ollama(r, 404, "model '%s' not found", m->valuestring);
        return false;
    }
    return true;
}

void ollama_show(server *srv, const char *body, size_t len, http_reply *r) {
    cJSON *req = api_parse_body(body, len, r, true);
    if (!req) return;
    if (!check_model(srv, req, r, true)) goto done;
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "license", "");
    cJSON_AddStringToObject(root, "modelfile", "");
    cJSON_AddStringToObject(root, "parameters", "");
    cJSON_AddStringToObject(root, "template", srv->model.tmpl ? srv->model.tmpl : "");
    cJSON_AddItemToObject(root, "details", details_obj(srv));
    cJSON *mi = cJSON_AddObjectToObject(root, "model_info");
    cJSON_AddStringToObject(mi, "general.architecture", srv->model.arch);
    cJSON_AddNumberToObject(mi, "general.parameter_count", (double)srv->model.n_params);
    char key[128];
    snprintf(key, sizeof key, "%s.context_length", srv->model.arch);
    cJSON_AddNumberToObject(mi, key, hearth_model_n_ctx_train(srv->model.hm));
    snprintf(key, sizeof key, "%s.embedding_length", srv->model.arch);
    cJSON_AddNumberToObject(mi, key, (double)srv->model.n_embd);
    cJSON_AddNumberToObject(mi, "tokenizer.ggml.vocab_size", hearth_model_n_vocab(srv->model.hm));
    cJSON *caps = cJSON_AddArrayToObject(root, "capabilities");
    cJSON_AddItemToArray(caps, cJSON_CreateString("completion"));
    cJSON_AddItemToArray(caps, cJSON_CreateString("embedding"));
    char mod[40];
    time_str(srv->model.mtime, mod, sizeof mod);
    cJSON_AddStringToObject(root, "modified_at", mod);
    api_json(r, 200, root);
done:
    cJSON_Delete(req);
}

/* ---- generation ----------------------------------------------------------------------------- */

typedef struct ol_req {
    sched_params p;
    bool         stream;
    bool         chat;
    tok_ids      prompt;
    hearth_buf   prompt_text;
} ol_req;

static bool parse_options(const cJSON *req, ol_req *o, http_reply *r) {
    hearth_sampler_params *sp = &o->p.sp;
    hearth_sampler_params_default(sp);
    sp->seed = api_random_seed();
    o->p.n_predict = -1;
    o->stream = true;
    if (!api_get_bool(req, "stream", &o->stream, r, true)) return false;
    const cJSON *opt = cJSON_GetObjectItemCaseSensitive(req, "options");
    if (!opt || cJSON_IsNull(opt)) return true;
    if (!cJSON_IsObject(opt)) {
        api_error_ollama(r, 400, "invalid value for 'options': expected an object");
        return false;
    }
    double temp = sp->temp, top_p = sp->top_p, min_p = sp->min_p, rp = sp->repeat_penalty;
    double pp = sp->presence_penalty, fp = sp->frequency_penalty;
    int64_t top_k = sp->top_k, seed = -1, num_predict = -1, num_ctx = 0, rln = sp->repeat_last_n;
    if (!api_get_num(opt, "temperature", 0, 100, &temp, r, true) || !api_get_num(opt, "top_p", 0, 1, &top_p, r, true) ||
        !api_get_num(opt, "min_p", 0, 1, &min_p, r, true) ||
        !api_get_num(opt, "repeat_penalty", 0, 100, &rp, r, true) ||
        !api_get_num(opt, "presence_penalty", -100, 100, &pp, r, true) ||
        !api_get_num(opt, "frequency_penalty", -100, 100, &fp, r, true) ||
        !api_get_int(opt, "top_k", 0, 1e9, &top_k, r, true) ||
        !api_get_int(opt, "repeat_last_n", -1, 1e9, &rln, r, true) ||
        !api_get_int(opt, "seed", -9.2e18, 9.2e18, &seed, r, true) ||
        !api_get_int(opt, "num_predict", -2, 1e9, &num_predict, r, true) ||
        !api_get_int(opt, "num_ctx", 0, 1e9, &num_ctx, r, true) || !api_get_stop(opt, "stop", &o->p, r, true))
        return false;
    sp->temp = (float)temp;
    sp->top_p = (float)top_p;
    sp->min_p = (float)min_p;
    sp->repeat_penalty = (float)rp;
    sp->presence_penalty = (float)pp;
    sp->frequency_penalty = (float)fp;
    sp->top_k = (int32_t)top_k;
    sp->repeat_last_n = (int32_t)rln;
    if (seed >= 0) sp->seed = (uint64_t)seed;
    o->p.n_predict = num_predict < 0 ? -1 : (int32_t)HEARTH_MIN(num_predict, INT32_MAX);
    /* num_ctx: accepted; each slot's context is fixed when the server starts (-c) */
    return true;
}

static bool parse_chat(server *srv, const cJSON *req, ol_req *o, http_reply *r) {
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(req, "messages"), *m;
    if (!cJSON_IsArray(msgs)) {
        api_error_ollama(r, 400, "invalid value for 'messages': expected an array");
        return false;
    }
    int n = cJSON_GetArraySize(msgs), i = 0;
    srv_msg *list = hearth_calloc((size_t)(n ? n : 1), sizeof *list);
    if (!list) {
        api_error_ollama(r, 500, "out of memory");
        return false;
    }
    bool ok = true;
    cJSON_ArrayForEach(m, msgs) {
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
        if (!cJSON_IsObject(m) || !cJSON_IsString(role) || (content && !cJSON_IsNull(content) && !cJSON_IsString(content))) {
            api_error_ollama(r, 400, "messages[%d] must have a string 'role' and 'content'", i);
            ok = false;
            break;
        }
        list[i].role = role->valuestring;
        list[i].content = cJSON_IsString(content) ? content->valuestring : "";
        i++;
    }
    char err[256];
    if (ok && srv_model_render(&srv->model, list, (size_t)n, &o->prompt_text, err, sizeof err) != HEARTH_OK) {
        api_error_ollama(r, 400, "chat template: %s", err);
        ok = false;
    }
    free(list);
    return ok;
}

static bool parse_generate(server *srv, const cJSON *req, ol_req *o, http_reply *r, bool *empty) {
    const cJSON *prompt = cJSON_GetObjectItemCaseSensitive(req, "prompt");
    const cJSON *system = cJSON_GetObjectItemCaseSensitive(req, "system");
    bool raw = false;
    if ((prompt && !cJSON_IsNull(prompt) && !cJSON_IsString(prompt)) ||
        (system && !cJSON_IsNull(system) && !cJSON_IsString(system))) {
        api_error_ollama(r, 400, "invalid value for 'prompt' or 'system': expected a string");
        return false;
    }
    if (!api_get_bool(req, "raw", &raw, r, true)) return false;
    const char *p = cJSON_IsString(prompt) ? prompt->valuestring : "";
    if (!*p) {
        *empty = true; /* Ollama: an empty prompt just loads the model */
        return true;
    }
    if (raw) return hearth_buf_appends(&o->prompt_text, p);
    srv_msg msgs[2];
    size_t n = 0;
    if (cJSON_IsString(system) && *system->valuestring) msgs[n++] = (srv_msg){ "system", system->valuestring };
    msgs[n++] = (srv_msg){ "user", p };
    char err[256];
    if (srv_model_render(&srv->model, msgs, n, &o->prompt_text, err, sizeof err) != HEARTH_OK) {
        api_error_ollama(r, 400, "chat template: %s", err);
        return false;
    }
    return true;
}

bool ollama_check_fields(server *srv, const char *body, size_t len, http_reply *r) {
    cJSON *req = api_parse_body(body, len, r, true);
    if (!req) return false;
    ol_req o = { 0 };
    bool ok = check_model(srv, req, r, false) && parse_options(req, &o, r);
    sched_params_free(&o.p);
    cJSON_Delete(req);
    return ok;
}

typedef struct ol_stream {
    server    *srv;
    bool       chat;
    sched_job *job;
    sched_out  out;
    double     t0;
    bool       finished;
    http_reply *reply;
} ol_stream;

static void ndjson(hearth_buf *out, cJSON *j) {
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    if (!s) return;
    hearth_buf_appends(out, s);
    hearth_buf_appends(out, "\n");
    free(s);
}

static cJSON *ol_obj(const server *srv, bool chat, const char *text, size_t len) {
    char now[64], name[300];
    api_time_rfc3339(now, sizeof now);
    tagged_name(srv, name, sizeof name);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "model", name);
    cJSON_AddStringToObject(o, "created_at", now);
    if (chat) {
        cJSON *m = cJSON_AddObjectToObject(o, "message");
        cJSON_AddStringToObject(m, "role", "assistant");
        api_add_text(m, "content", text, len);
    } else {
        api_add_text(o, "response", text, len);
    }
    return o;
}

static void ol_final(const server *srv, cJSON *o, const sched_out *so, double t0) {
    cJSON_AddBoolToObject(o, "done", true);
    cJSON_AddStringToObject(o, "done_reason", so->finish == SCHED_FINISH_LENGTH ? "length" : "stop");
    double total = hearth_time_s() - t0;
    cJSON_AddNumberToObject(o, "total_duration", (double)(int64_t)(total * 1e9));
    cJSON_AddNumberToObject(o, "load_duration", 0);
    cJSON_AddNumberToObject(o, "prompt_eval_count", so->n_prompt);
    cJSON_AddNumberToObject(o, "prompt_eval_duration", (double)(int64_t)(so->t_prompt_s * 1e9));
    cJSON_AddNumberToObject(o, "eval_count", so->n_gen);
    cJSON_AddNumberToObject(o, "eval_duration", (double)(int64_t)(so->t_gen_s * 1e9));
    (void)srv;
}

static bool ol_fill(void *state, hearth_buf *out) {
    ol_stream *st = state;
    if (st->finished) return false;
    for (;;) {
        st->out.text.len = 0;
        sched_finish f = sched_job_take(st->job, &st->out, 1000);
        st->reply->n_gen = st->out.n_gen;
        if (f == SCHED_FINISH_ERROR || f == SCHED_FINISH_CANCELLED) {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "error", st->out.error[0] ? st->out.error : "generation failed");
            ndjson(out, e);
            st->finished = true;
            return false;
        }
        if (st->out.text.len) {
            cJSON *o = ol_obj(st->srv, st->chat, st->out.text.data, st->out.text.len);
            cJSON_AddBoolToObject(o, "done", false);
            ndjson(out, o);
        }
        if (f != SCHED_RUNNING) {
            cJSON *o = ol_obj(st->srv, st->chat, "", 0);
            ol_final(st->srv, o, &st->out, st->t0);
            ndjson(out, o);
            st->finished = true;
            return false;
        }
        if (out->len) return true;
    }
}

static void ol_stream_free(void *state) {
    ol_stream *st = state;
    sched_job_release(st->job);
    sched_out_free(&st->out);
    free(st);
}

static void generate(server *srv, bool chat, const char *body, size_t len, http_reply *r) {
    cJSON *req = api_parse_body(body, len, r, true);
    if (!req) return;
    double t0 = hearth_time_s();
    ol_req o = { .chat = chat };
    sched_job *job = NULL;
    bool empty = false;
    if (!check_model(srv, req, r, true) || !parse_options(req, &o, r) ||
        !(chat ? parse_chat(srv, req, &o, r) : parse_generate(srv, req, &o, r, &empty)))
        goto done;
    if (empty || (chat && o.prompt_text.len == 0)) {
        cJSON *res = ol_obj(srv, chat, "", 0);
        cJSON_AddBoolToObject(res, "done", true);
        cJSON_AddStringToObject(res, "done_reason", "load");
        if (o.stream) {
            r->status = 200;
            ndjson(&r->body, res);
            r->content_type = "application/x-ndjson";
        } else {
            api_json(r, 200, res);
        }
        goto done;
    }
    char err[256];
    if (srv_model_tokenize(&srv->model, o.prompt_text.data, o.prompt_text.len, true, &o.prompt, err, sizeof err) !=
        HEARTH_OK) {
        api_error_ollama(r, 500, "%s", err);
        goto done;
    }
    r->n_prompt = (int64_t)o.prompt.len;
    if (srv->cfg.log_prompts) r->log_prompt = strdup(o.prompt_text.data);
    if (!api_submit(srv, &o.prompt, &o.p, 1, &job, r, true)) goto done;
    if (o.stream) {
        ol_stream *st = hearth_calloc(1, sizeof *st);
        if (!st) {
            sched_job_release(job);
            api_error_ollama(r, 500, "out of memory");
            goto done;
        }
        st->srv = srv;
        st->chat = chat;
        st->job = job;
        st->t0 = t0;
        st->reply = r;
        r->status = 200;
        r->stream = true;
        r->content_type = "application/x-ndjson";
        r->fill = ol_fill;
        r->free_state = ol_stream_free;
        r->state = st;
        goto done;
    }
    sched_out so = { 0 };
    if (!api_wait_all(r, &job, 1, &so)) {
        api_error_ollama(r, 499, "client closed the connection");
    } else if (so.finish == SCHED_FINISH_ERROR || so.finish == SCHED_FINISH_CANCELLED) {
        api_error_ollama(r, 500, "generation failed: %s", so.error);
    } else {
        cJSON *res = ol_obj(srv, chat, so.text.data, so.text.len);
        ol_final(srv, res, &so, t0);
        r->n_gen = so.n_gen;
        api_json(r, 200, res);
    }
    sched_out_free(&so);
    sched_job_release(job);
done:
    sched_params_free(&o.p);
    tok_ids_free(&o.prompt);
    hearth_buf_free(&o.prompt_text);
    cJSON_Delete(req);
}

void ollama_chat(server *srv, const char *body, size_t len, http_reply *r) { generate(srv, true, body, len, r); }
void ollama_generate(server *srv, const char *body, size_t len, http_reply *r) { generate(srv, false, body, len, r); }

/* POST /api/embed {"model", "input": str | [str]} -> {"model", "embeddings": [[...]], ...};
 * POST /api/embeddings {"model", "prompt": str} -> {"embedding": [...]} (the older form). */
void ollama_embed(server *srv, const char *body, size_t len, http_reply *r) {
    cJSON *req = api_parse_body(body, len, r, true);
    if (!req) return;
    double t0 = hearth_time_s();
    float *vec = NULL;
    cJSON *res = NULL;
    const cJSON *input = cJSON_GetObjectItemCaseSensitive(req, "input"), *e;
    const cJSON *prompt = cJSON_GetObjectItemCaseSensitive(req, "prompt");
    bool legacy = !input && cJSON_IsString(prompt);
    if (legacy) input = prompt;
    if (!check_model(srv, req, r, true)) goto done;
    bool ok = cJSON_IsString(input) || cJSON_IsArray(input);
    if (ok && cJSON_IsArray(input)) cJSON_ArrayForEach(e, input) ok = ok && cJSON_IsString(e);
    if (!ok) {
        api_error_ollama(r, 400, "invalid value for 'input': expected a string or an array of strings");
        goto done;
    }
    vec = hearth_malloc_array((size_t)(srv->model.n_embd > 0 ? srv->model.n_embd : 1), sizeof *vec);
    res = cJSON_CreateObject();
    char name[300];
    tagged_name(srv, name, sizeof name);
    cJSON_AddStringToObject(res, "model", name);
    cJSON *embs = legacy ? NULL : cJSON_AddArrayToObject(res, "embeddings");
    int64_t total = 0;
    const cJSON *one = cJSON_IsString(input) ? input : input->child;
    for (; one; one = cJSON_IsString(input) ? NULL : one->next) {
        char err[256];
        int32_t n_tok = 0;
        hearth_status st = vec ? srv_embed(srv, one->valuestring, strlen(one->valuestring), vec, &n_tok, err, sizeof err)
                               : hearth_err(err, sizeof err, HEARTH_ERR_NOMEM, "out of memory");
        if (st != HEARTH_OK) {
            api_error_ollama(r, st == HEARTH_ERR_RANGE || st == HEARTH_ERR_ARG ? 400 : 500, "%s", err);
            goto done;
        }
        total += n_tok;
        cJSON *arr = cJSON_CreateArray();
        for (int64_t k = 0; k < srv->model.n_embd; k++) cJSON_AddItemToArray(arr, cJSON_CreateNumber(vec[k]));
        if (legacy) cJSON_AddItemToObject(res, "embedding", arr);
        else cJSON_AddItemToArray(embs, arr);
    }
    cJSON_AddNumberToObject(res, "total_duration", (double)(int64_t)((hearth_time_s() - t0) * 1e9));
    cJSON_AddNumberToObject(res, "load_duration", 0);
    cJSON_AddNumberToObject(res, "prompt_eval_count", (double)total);
    r->n_prompt = total;
    api_json(r, 200, res);
    res = NULL;
done:
    cJSON_Delete(res);
    free(vec);
    cJSON_Delete(req);
}
