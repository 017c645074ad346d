/*
 * openai.c — OpenAI's API: /v1/chat/completions, /v1/completions (both streaming as SSE
 * ending in `data: [DONE]`), /v1/models, /v1/models/{id}, /v1/embeddings.  Response and chunk
 * shapes follow OpenAI's; unknown request fields are ignored.
 */
#include "server/server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OAI_MAX_N 16

/* ---- models ------------------------------------------------------------------------------ */

static cJSON *model_obj(const server *srv) {
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "id", srv->model.name);
    cJSON_AddStringToObject(m, "object", "model");
    cJSON_AddNumberToObject(m, "created", (double)(srv->model.mtime ? srv->model.mtime : srv->started));
    cJSON_AddStringToObject(m, "owned_by", "hearth");
    return m;
}

void openai_models(server *srv, http_reply *r) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "object", "list");
    cJSON_AddItemToArray(cJSON_AddArrayToObject(root, "data"), model_obj(srv));
    api_json(r, 200, root);
}

void openai_model(server *srv, const char *id, http_reply *r) {
    if (!*id || !srv_model_matches(&srv->model, id)) {
        api_error(r, 404, "invalid_request_error", "model", "model_not_found", "The model '%s' does not exist", id);
        return;
    }
    api_json(r, 200, model_obj(srv));
}

/* ---- requests ------------------------------------------------------------------------------ */

typedef enum oai_kind { OAI_CHAT, OAI_COMPLETION } oai_kind;

typedef struct oai_req {
    oai_kind     kind;
    sched_params p;
    int          n;
    bool         stream, include_usage;
    tok_ids      prompt;
    hearth_buf   prompt_text;
} oai_req;

static bool check_model(server *srv, const cJSON *req, http_reply *r) {
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(req, "model");
    if (!m || cJSON_IsNull(m)) return true;
    if (!cJSON_IsString(m)) {
        api_error(r, 400, "invalid_request_error", "model", "invalid_type", "'model' must be a string");
        return false;
    }
    if (!srv_model_matches(&srv->model, m->valuestring)) {
        api_error(r, 404, "invalid_request_error", "model", "model_not_found",
                  "The model '%s' does not exist (this server serves '%s')", m->valuestring, srv->model.name);
        return false;
    }
    return true;
}

/* The sampling and output fields both endpoints share. */
static bool parse_common(server *srv, const cJSON *req, oai_req *o, http_reply *r) {
    hearth_sampler_params *sp = &o->p.sp;
    hearth_sampler_params_default(sp);
    sp->seed = api_random_seed();
    o->p.n_predict = -1;
    o->n = 1;
    double temp = sp->temp, top_p = sp->top_p, min_p = sp->min_p, rp = sp->repeat_penalty;
    double pp = sp->presence_penalty, fp = sp->frequency_penalty;
    int64_t top_k = sp->top_k, seed = -1, max_tokens = -1, mct = -1, n = 1, top_lp = 0, rln = sp->repeat_last_n;
    bool usage = false;
    if (!check_model(srv, req, r)) return false;
    if (!api_get_num(req, "temperature", 0, 2, &temp, r, false) || !api_get_num(req, "top_p", 0, 1, &top_p, r, false) ||
        !api_get_num(req, "min_p", 0, 1, &min_p, r, false) ||
        !api_get_num(req, "repeat_penalty", 0, 10, &rp, r, false) ||
        !api_get_num(req, "presence_penalty", -2, 2, &pp, r, false) ||
        !api_get_num(req, "frequency_penalty", -2, 2, &fp, r, false) ||
        !api_get_int(req, "top_k", 0, 1e9, &top_k, r, false) ||
        !api_get_int(req, "repeat_last_n", -1, 1e9, &rln, r, false) ||
        !api_get_int(req, "seed", -9.2e18, 9.2e18, &seed, r, false) ||
        !api_get_int(req, "max_tokens", 0, 1e9, &max_tokens, r, false) ||
        !api_get_int(req, "max_completion_tokens", 0, 1e9, &mct, r, false) ||
        !api_get_int(req, "n", 1, OAI_MAX_N, &n, r, false) || !api_get_bool(req, "stream", &o->stream, r, false) ||
        !api_get_stop(req, "stop", &o->p, r, false) || !api_get_bool(req, "ignore_eos", &o->p.ignore_eos, r, false))
        return false;
    const cJSON *so = cJSON_GetObjectItemCaseSensitive(req, "stream_options");
    if (so && !cJSON_IsNull(so)) {
        if (!cJSON_IsObject(so)) {
            api_error(r, 400, "invalid_request_error", "stream_options", "invalid_type",
                      "'stream_options' must be an object");
            return false;
        }
        if (!api_get_bool(so, "include_usage", &usage, r, false)) return false;
    }
    const cJSON *user = cJSON_GetObjectItemCaseSensitive(req, "user");
    if (user && !cJSON_IsNull(user) && !cJSON_IsString(user)) {
        api_error(r, 400, "invalid_request_error", "user", "invalid_type", "'user' must be a string");
        return false;
    }
    if (o->kind == OAI_CHAT) {
        bool lp = false;
        if (!api_get_bool(req, "logprobs", &lp, r, false) ||
            !api_get_int(req, "top_logprobs", 0, SCHED_MAX_TOP_LP, &top_lp, r, false))
            return false;
        o->p.logprobs = lp;
    } else {
        const cJSON *lp = cJSON_GetObjectItemCaseSensitive(req, "logprobs");
        if (lp && !cJSON_IsNull(lp)) {
            if (!api_get_int(req, "logprobs", 0, 5, &top_lp, r, false)) return false;
            o->p.logprobs = true;
        }
    }
    sp->temp = (float)temp;
    sp->top_p = (float)top_p;
    sp->min_p = (float)min_p;
    sp->repeat_penalty = (float)rp;
    sp->presence_penalty = (float)pp;
    sp->frequency_penalty = (float)fp;
    sp->top_k = (int32_t)top_k;
    sp->repeat_last_n = (int32_t)rln;
    if (seed >= 0) sp->seed = (uint64_t)seed;
    if (mct >= 0) max_tokens = mct;
    o->p.n_predict = max_tokens > INT32_MAX ? INT32_MAX : (int32_t)max_tokens;
    o->p.top_logprobs = (int)top_lp;
    o->n = (int)n;
    o->include_usage = o->stream && usage;
    return true;
}

static bool parse_chat(server *srv, const cJSON *req, oai_req *o, http_reply *r) {
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(req, "messages"), *m;
    if (!cJSON_IsArray(msgs) || cJSON_GetArraySize(msgs) == 0) {
        api_error(r, 400, "invalid_request_error", "messages", "invalid_type",
                  "'messages' must be a non-empty array of messages");
        return false;
    }
    int n = cJSON_GetArraySize(msgs);
    srv_msg *list = hearth_calloc((size_t)n, sizeof *list);
    hearth_buf *texts = hearth_calloc((size_t)n, sizeof *texts);
    bool ok = list && texts;
    int i = 0;
    if (ok) cJSON_ArrayForEach(m, msgs) {
            const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
            const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
            if (!cJSON_IsObject(m) || !cJSON_IsString(role) || !api_message_text(content, &texts[i])) {
                api_error(r, 400, "invalid_request_error", "messages", "invalid_type",
                          "messages[%d] must have a string 'role' and a 'content' string or array of text parts", i);
                ok = false;
                break;
            }
            list[i].role = role->valuestring;
            list[i].content = texts[i].data ? texts[i].data : "";
            i++;
        }
    char err[256];
    if (ok && srv_model_render(&srv->model, list, (size_t)n, &o->prompt_text, err, sizeof err) != HEARTH_OK) {
        api_error(r, 400, "invalid_request_error", "messages", "template_error", "chat template: %s", err);
        ok = false;
    }
    if (texts)
        for (int k = 0; k < n; k++) hearth_buf_free(&texts[k]);
    free(texts);
    free(list);
    if (!ok) return false;
    if (srv_model_tokenize(&srv->model, o->prompt_text.data ? o->prompt_text.data : "", o->prompt_text.len, true,
                           &o->prompt, err, sizeof err) != HEARTH_OK) {
        api_error(r, 500, "server_error", NULL, NULL, "%s", err);
        return false;
    }
    return true;
}

static bool parse_completion(server *srv, const cJSON *req, oai_req *o, http_reply *r) {
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(req, "prompt");
    char err[256];
    if (cJSON_IsArray(p) && cJSON_GetArraySize(p) == 1 && cJSON_IsString(cJSON_GetArrayItem(p, 0)))
        p = cJSON_GetArrayItem(p, 0);
    if (cJSON_IsString(p)) {
        hearth_buf_appends(&o->prompt_text, p->valuestring);
        if (srv_model_tokenize(&srv->model, p->valuestring, strlen(p->valuestring), true, &o->prompt, err,
                               sizeof err) != HEARTH_OK) {
            api_error(r, 500, "server_error", NULL, NULL, "%s", err);
            return false;
        }
        return true;
    }
    if (cJSON_IsArray(p) && cJSON_GetArraySize(p) > 0) {
        const cJSON *e;
        int32_t n_vocab = hearth_model_n_vocab(srv->model.hm);
        cJSON_ArrayForEach(e, p) {
            if (!cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble >= n_vocab) {
                api_error(r, 400, "invalid_request_error", "prompt", "invalid_type",
                          "'prompt' must be a string, an array of one string, or an array of token ids");
                return false;
            }
            tok_ids_push(&o->prompt, (int32_t)e->valuedouble);
        }
        return true;
    }
    api_error(r, 400, "invalid_request_error", "prompt", "invalid_type",
              "'prompt' must be a string, an array of one string, or an array of token ids");
    return false;
}

/* ---- responses ------------------------------------------------------------------------------ */

static const char *finish_str(sched_finish f) {
    return f == SCHED_FINISH_LENGTH ? "length" : "stop";
}

static cJSON *bytes_arr(const char *s, size_t n) {
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber((unsigned char)s[i]));
    return a;
}

static size_t piece_of(const tokenizer *t, int32_t id, char *buf, size_t size) {
    int64_t n = tokenizer_token_to_piece(t, id, buf, size, 0, false);
    if (n < 0 || (size_t)n >= size) {
        buf[0] = 0;
        return 0;
    }
    return (size_t)n;
}

/* Chat logprobs: {"content": [{"token","logprob","bytes","top_logprobs":[...]}]} */
static cJSON *chat_logprobs(const tokenizer *t, const sched_lp *lps, size_t n) {
    cJSON *root = cJSON_CreateObject(), *content = cJSON_AddArrayToObject(root, "content");
    char buf[256];
    for (size_t i = 0; i < n; i++) {
        cJSON *e = cJSON_CreateObject();
        size_t len = piece_of(t, lps[i].id, buf, sizeof buf);
        api_add_text(e, "token", buf, len);
        cJSON_AddNumberToObject(e, "logprob", lps[i].logprob);
        cJSON_AddItemToObject(e, "bytes", bytes_arr(buf, len));
        cJSON *top = cJSON_AddArrayToObject(e, "top_logprobs");
        for (int k = 0; k < lps[i].n_top; k++) {
            cJSON *o = cJSON_CreateObject();
            size_t l2 = piece_of(t, lps[i].top_id[k], buf, sizeof buf);
            api_add_text(o, "token", buf, l2);
            cJSON_AddNumberToObject(o, "logprob", lps[i].top_lp[k]);
            cJSON_AddItemToObject(o, "bytes", bytes_arr(buf, l2));
            cJSON_AddItemToArray(top, o);
        }
        cJSON_AddItemToArray(content, e);
    }
    return root;
}

/* Legacy completion logprobs: {"tokens","token_logprobs","top_logprobs":[{tok: lp}],"text_offset"} */
static cJSON *completion_logprobs(const tokenizer *t, const sched_lp *lps, size_t n, size_t *offset) {
    cJSON *root = cJSON_CreateObject();
    cJSON *toks = cJSON_AddArrayToObject(root, "tokens"), *tlp = cJSON_AddArrayToObject(root, "token_logprobs");
    cJSON *top = cJSON_AddArrayToObject(root, "top_logprobs"), *off = cJSON_AddArrayToObject(root, "text_offset");
    char buf[256];
    for (size_t i = 0; i < n; i++) {
        size_t len = piece_of(t, lps[i].id, buf, sizeof buf);
        cJSON_AddItemToArray(toks, api_text(buf, len));
        cJSON_AddItemToArray(tlp, cJSON_CreateNumber(lps[i].logprob));
        cJSON_AddItemToArray(off, cJSON_CreateNumber((double)*offset));
        *offset += len;
        cJSON *o = cJSON_CreateObject();
        for (int k = 0; k < lps[i].n_top; k++) {
            size_t l2 = piece_of(t, lps[i].top_id[k], buf, sizeof buf);
            cJSON *s = api_text(buf, l2);
            if (!cJSON_GetObjectItemCaseSensitive(o, s->valuestring))
                cJSON_AddNumberToObject(o, s->valuestring, lps[i].top_lp[k]);
            cJSON_Delete(s);
        }
        cJSON_AddItemToArray(top, o);
    }
    return root;
}

/* OpenAI's usage; cached_tokens: prompt tokens reused from the slot's prompt cache (of the
 * first choice: the prompt is counted once). */
static cJSON *usage_obj(int64_t n_prompt, int64_t n_gen, int64_t n_cached) {
    cJSON *u = cJSON_CreateObject();
    cJSON_AddNumberToObject(u, "prompt_tokens", (double)n_prompt);
    cJSON_AddNumberToObject(u, "completion_tokens", (double)n_gen);
    cJSON_AddNumberToObject(u, "total_tokens", (double)(n_prompt + n_gen));
    cJSON_AddNumberToObject(cJSON_AddObjectToObject(u, "prompt_tokens_details"), "cached_tokens", (double)n_cached);
    return u;
}

static cJSON *envelope(const server *srv, const char *id, const char *object, int64_t created) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "id", id);
    cJSON_AddStringToObject(root, "object", object);
    cJSON_AddNumberToObject(root, "created", (double)created);
    cJSON_AddStringToObject(root, "model", srv->model.name);
    cJSON_AddStringToObject(root, "system_fingerprint", "hearth-" HEARTH_VERSION);
    return root;
}

/* ---- streaming ------------------------------------------------------------------------------ */

typedef struct oai_stream {
    server    *srv;
    oai_kind   kind;
    int        n;
    sched_job *jobs[OAI_MAX_N];
    sched_out  outs[OAI_MAX_N];
    bool       done[OAI_MAX_N];
    bool       role_sent[OAI_MAX_N];
    size_t     text_off[OAI_MAX_N];
    bool       logprobs, include_usage, finished;
    char       id[64];
    int64_t    created;
    int64_t   *n_gen_log; /* the reply's counter, for the access log */
    http_reply *reply;
} oai_stream;

static void sse_json(hearth_buf *out, cJSON *j) {
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    if (!s) return;
    hearth_buf_appends(out, "data: ");
    hearth_buf_appends(out, s);
    hearth_buf_appends(out, "\n\n");
    free(s);
}

/* One chunk for choice i from what was just taken (text, log-probs, maybe the finish). */
static void stream_chunk(oai_stream *st, int i, const char *text, size_t len, const sched_lp *lps, size_t n_lps,
                         const char *finish, hearth_buf *out) {
    const char *obj = st->kind == OAI_CHAT ? "chat.completion.chunk" : "text_completion";
    cJSON *root = envelope(st->srv, st->id, obj, st->created);
    cJSON *choices = cJSON_AddArrayToObject(root, "choices"), *c = cJSON_CreateObject();
    cJSON_AddNumberToObject(c, "index", i);
    const tokenizer *t = st->srv->model.tok;
    if (st->kind == OAI_CHAT) {
        cJSON *delta = cJSON_AddObjectToObject(c, "delta");
        if (!st->role_sent[i]) {
            cJSON_AddStringToObject(delta, "role", "assistant");
            st->role_sent[i] = true;
        }
        if (len || !finish) api_add_text(delta, "content", text, len);
        if (st->logprobs && n_lps) cJSON_AddItemToObject(c, "logprobs", chat_logprobs(t, lps, n_lps));
        else cJSON_AddNullToObject(c, "logprobs");
    } else {
        api_add_text(c, "text", text, len);
        if (st->logprobs && n_lps) cJSON_AddItemToObject(c, "logprobs", completion_logprobs(t, lps, n_lps, &st->text_off[i]));
        else cJSON_AddNullToObject(c, "logprobs");
    }
    if (finish) cJSON_AddStringToObject(c, "finish_reason", finish);
    else cJSON_AddNullToObject(c, "finish_reason");
    cJSON_AddItemToArray(choices, c);
    if (st->include_usage) cJSON_AddNullToObject(root, "usage");
    sse_json(out, root);
}

static bool oai_fill(void *state, hearth_buf *out) {
    oai_stream *st = state;
    if (st->finished) return false;
    for (;;) {
        bool any = false, all_done = true;
        for (int i = 0; i < st->n; i++) {
            if (st->done[i]) continue;
            all_done = false;
            sched_out *o = &st->outs[i];
            o->text.len = 0;
            o->n_lps = 0;
            sched_finish f = sched_job_take(st->jobs[i], o, st->n == 1 ? 1000 : (any ? 0 : 20));
            if (f == SCHED_FINISH_ERROR || f == SCHED_FINISH_CANCELLED) {
                cJSON *e = cJSON_CreateObject(), *eo = cJSON_AddObjectToObject(e, "error");
                cJSON_AddStringToObject(eo, "message", o->error[0] ? o->error : "generation failed");
                cJSON_AddStringToObject(eo, "type", "server_error");
                cJSON_AddNullToObject(eo, "param");
                cJSON_AddNullToObject(eo, "code");
                sse_json(out, e);
                hearth_buf_appends(out, "data: [DONE]\n\n");
                st->finished = true;
                return false;
            }
            bool fin = f != SCHED_RUNNING;
            if (o->text.len || o->n_lps || !st->role_sent[i] || fin) {
                /* the first chunk of a chat carries the role with empty content, as OpenAI's does */
                if (st->kind == OAI_CHAT && !st->role_sent[i] && o->text.len) stream_chunk(st, i, "", 0, NULL, 0, NULL, out);
                if (o->text.len || o->n_lps || (st->kind == OAI_CHAT && !st->role_sent[i]))
                    stream_chunk(st, i, o->text.data, o->text.len, o->lps, o->n_lps, NULL, out);
                if (fin) {
                    stream_chunk(st, i, "", 0, NULL, 0, finish_str(f), out);
                    st->done[i] = true;
                }
                any = true;
            }
        }
        int64_t gen = 0;
        for (int i = 0; i < st->n; i++) gen += st->outs[i].n_gen;
        *st->n_gen_log = gen;
        st->reply->n_prompt = st->outs[0].n_prompt;
        if (all_done) break;
        bool now_done = true;
        for (int i = 0; i < st->n; i++) now_done = now_done && st->done[i];
        if (now_done) break;
        if (any) return true;
    }
    if (st->include_usage) {
        cJSON *root = envelope(st->srv, st->id, st->kind == OAI_CHAT ? "chat.completion.chunk" : "text_completion",
                               st->created);
        cJSON_AddArrayToObject(root, "choices");
        int64_t gen = 0;
        for (int i = 0; i < st->n; i++) gen += st->outs[i].n_gen;
        cJSON_AddItemToObject(root, "usage", usage_obj(st->outs[0].n_prompt, gen, st->outs[0].n_cached));
        sse_json(out, root);
    }
    hearth_buf_appends(out, "data: [DONE]\n\n");
    st->finished = true;
    return false;
}

static void oai_stream_free(void *state) {
    oai_stream *st = state;
    for (int i = 0; i < st->n; i++) {
        sched_job_release(st->jobs[i]);
        sched_out_free(&st->outs[i]);
    }
    free(st);
}

bool openai_check_fields(server *srv, const char *body, size_t len, bool chat, http_reply *r) {
    cJSON *req = api_parse_body(body, len, r, false);
    if (!req) return false;
    oai_req o = { .kind = chat ? OAI_CHAT : OAI_COMPLETION };
    bool ok = parse_common(srv, req, &o, r);
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(req, "messages"), *m;
    if (ok && chat && cJSON_IsArray(msgs)) cJSON_ArrayForEach(m, msgs) {
            hearth_buf text = { 0 };
            api_message_text(cJSON_GetObjectItemCaseSensitive(m, "content"), &text);
            cJSON_Delete(api_text(text.data, text.len));
            hearth_buf_free(&text);
        }
    sched_params_free(&o.p);
    cJSON_Delete(req);
    return ok;
}

/* ---- the two generation endpoints ------------------------------------------------------------- */

static void generate(server *srv, oai_kind kind, const char *body, size_t len, http_reply *r) {
    cJSON *req = api_parse_body(body, len, r, false);
    if (!req) return;
    oai_req o = { .kind = kind };
    sched_job *jobs[OAI_MAX_N] = { 0 };
    sched_out *outs = NULL;
    bool ok = parse_common(srv, req, &o, r) &&
              (kind == OAI_CHAT ? parse_chat(srv, req, &o, r) : parse_completion(srv, req, &o, r));
    if (!ok) goto done;
    r->n_prompt = (int64_t)o.prompt.len;
    if (srv->cfg.log_prompts && o.prompt_text.data) r->log_prompt = strdup(o.prompt_text.data);
    if (!api_submit(srv, &o.prompt, &o.p, o.n, jobs, r, false)) goto done;

    char id[64];
    api_make_id(id, sizeof id, kind == OAI_CHAT ? "chatcmpl-" : "cmpl-");
    int64_t created = api_now();
    if (o.stream) {
        oai_stream *st = hearth_calloc(1, sizeof *st);
        if (!st) {
            for (int i = 0; i < o.n; i++) sched_job_release(jobs[i]);
            api_error(r, 500, "server_error", NULL, NULL, "out of memory");
            goto done;
        }
        st->srv = srv;
        st->kind = kind;
        st->n = o.n;
        memcpy(st->jobs, jobs, sizeof jobs);
        st->logprobs = o.p.logprobs;
        st->include_usage = o.include_usage;
        snprintf(st->id, sizeof st->id, "%s", id);
        st->created = created;
        st->n_gen_log = &r->n_gen;
        for (int i = 0; i < o.n; i++) st->role_sent[i] = kind != OAI_CHAT;
        st->reply = r;
        r->status = 200;
        r->stream = true;
        r->content_type = "text/event-stream";
        r->fill = oai_fill;
        r->free_state = oai_stream_free;
        r->state = st;
        goto done;
    }

    outs = hearth_calloc((size_t)o.n, sizeof *outs);
    if (!outs || !api_wait_all(r, jobs, o.n, outs)) {
        if (!outs) api_error(r, 500, "server_error", NULL, NULL, "out of memory");
        else api_error(r, 499, "server_error", NULL, NULL, "client closed the connection");
        goto release;
    }
    int64_t gen = 0;
    for (int i = 0; i < o.n; i++) {
        if (outs[i].finish == SCHED_FINISH_ERROR || outs[i].finish == SCHED_FINISH_CANCELLED) {
            api_error(r, 500, "server_error", NULL, NULL, "generation failed: %s", outs[i].error);
            goto release;
        }
        gen += outs[i].n_gen;
    }
    cJSON *root = envelope(srv, id, kind == OAI_CHAT ? "chat.completion" : "text_completion", created);
    cJSON *choices = cJSON_AddArrayToObject(root, "choices");
    for (int i = 0; i < o.n; i++) {
        cJSON *c = cJSON_CreateObject();
        cJSON_AddNumberToObject(c, "index", i);
        const char *text = outs[i].text.data ? outs[i].text.data : "";
        if (kind == OAI_CHAT) {
            cJSON *msg = cJSON_AddObjectToObject(c, "message");
            cJSON_AddStringToObject(msg, "role", "assistant");
            api_add_text(msg, "content", text, outs[i].text.len);
            cJSON_AddNullToObject(msg, "refusal");
            if (o.p.logprobs) cJSON_AddItemToObject(c, "logprobs", chat_logprobs(srv->model.tok, outs[i].lps, outs[i].n_lps));
            else cJSON_AddNullToObject(c, "logprobs");
        } else {
            api_add_text(c, "text", text, outs[i].text.len);
            size_t off = 0;
            if (o.p.logprobs)
                cJSON_AddItemToObject(c, "logprobs", completion_logprobs(srv->model.tok, outs[i].lps, outs[i].n_lps, &off));
            else cJSON_AddNullToObject(c, "logprobs");
        }
        cJSON_AddStringToObject(c, "finish_reason", finish_str(outs[i].finish));
        cJSON_AddItemToArray(choices, c);
    }
    cJSON_AddItemToObject(root, "usage", usage_obj((int64_t)o.prompt.len, gen, outs[0].n_cached));
    r->n_gen = gen;
    api_json(r, 200, root);
release:
    for (int i = 0; i < o.n; i++) {
        sched_job_release(jobs[i]);
        if (outs) sched_out_free(&outs[i]);
    }
done:
    free(outs);
    sched_params_free(&o.p);
    tok_ids_free(&o.prompt);
    hearth_buf_free(&o.prompt_text);
    cJSON_Delete(req);
}

void openai_chat(server *srv, const char *body, size_t len, http_reply *r) { generate(srv, OAI_CHAT, body, len, r); }
void openai_completions(server *srv, const char *body, size_t len, http_reply *r) {
    generate(srv, OAI_COMPLETION, body, len, r);
}

/* ---- embeddings -------------------------------------------------------------------------------- */

/* The floats as little-endian float32 bytes in base64 (encoding_format "base64"). */
static void base64_floats(const float *v, int64_t n, hearth_buf *out) {
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const uint8_t *b = (const uint8_t *)v; /* x86/ARM little-endian */
    size_t len = (size_t)n * sizeof(float);
    for (size_t i = 0; i < len; i += 3) {
        uint32_t x = (uint32_t)b[i] << 16;
        if (i + 1 < len) x |= (uint32_t)b[i + 1] << 8;
        if (i + 2 < len) x |= b[i + 2];
        char q[4] = { tbl[(x >> 18) & 63], tbl[(x >> 12) & 63], i + 1 < len ? tbl[(x >> 6) & 63] : '=',
                      i + 2 < len ? tbl[x & 63] : '=' };
        hearth_buf_append(out, q, 4);
    }
}

/* POST /v1/embeddings {"input": str | [str] | [ids] | [[ids]], "model", "encoding_format": "float"}.
 * Pooling: see srv_embed (mean of the final normed hidden states, L2-normalized). */
void openai_embeddings(server *srv, const char *body, size_t len, http_reply *r) {
    cJSON *req = api_parse_body(body, len, r, false);
    if (!req) return;
    const cJSON *input = cJSON_GetObjectItemCaseSensitive(req, "input"), *e;
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(req, "encoding_format");
    float *vec = NULL;
    cJSON *root = NULL;
    if (!check_model(srv, req, r)) goto done;
    bool b64 = false;
    if (fmt && !cJSON_IsNull(fmt)) {
        b64 = cJSON_IsString(fmt) && !strcmp(fmt->valuestring, "base64");
        if (!b64 && !(cJSON_IsString(fmt) && !strcmp(fmt->valuestring, "float"))) {
            api_error(r, 400, "invalid_request_error", "encoding_format", "invalid_value",
                      "encoding_format must be \"float\" or \"base64\"");
            goto done;
        }
    }
    bool ok = cJSON_IsString(input) || (cJSON_IsArray(input) && cJSON_GetArraySize(input) > 0);
    if (ok && cJSON_IsArray(input)) cJSON_ArrayForEach(e, input) ok = ok && cJSON_IsString(e);
    if (!ok) {
        api_error(r, 400, "invalid_request_error", "input", "invalid_type",
                  "'input' must be a string or a non-empty array of strings");
        goto done;
    }
    vec = hearth_malloc_array((size_t)(srv->model.n_embd > 0 ? srv->model.n_embd : 1), sizeof *vec);
    root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "object", "list");
    cJSON *data = cJSON_AddArrayToObject(root, "data");
    int64_t total = 0;
    int idx = 0;
    const cJSON *one = cJSON_IsString(input) ? input : input->child;
    for (; one; one = cJSON_IsString(input) ? NULL : one->next, idx++) {
        char err[256];
        int32_t n_tok = 0;
        hearth_status st = vec ? srv_embed(srv, one->valuestring, strlen(one->valuestring), vec, &n_tok, err, sizeof err)
                               : hearth_err(err, sizeof err, HEARTH_ERR_NOMEM, "out of memory");
        if (st != HEARTH_OK) {
            if (st == HEARTH_ERR_RANGE)
                api_error(r, 400, "invalid_request_error", "input", "context_length_exceeded", "%s", err);
            else api_error(r, 500, "server_error", NULL, NULL, "%s", err);
            goto done;
        }
        total += n_tok;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "object", "embedding");
        cJSON_AddNumberToObject(o, "index", idx);
        if (b64) {
            hearth_buf enc = { 0 };
            base64_floats(vec, srv->model.n_embd, &enc);
            cJSON_AddStringToObject(o, "embedding", enc.len ? enc.data : "");
            hearth_buf_free(&enc);
        } else {
            cJSON *arr = cJSON_AddArrayToObject(o, "embedding");
            for (int64_t k = 0; k < srv->model.n_embd; k++) cJSON_AddItemToArray(arr, cJSON_CreateNumber(vec[k]));
        }
        cJSON_AddItemToArray(data, o);
    }
    cJSON_AddStringToObject(root, "model", srv->model.name);
    cJSON *u = cJSON_AddObjectToObject(root, "usage");
    cJSON_AddNumberToObject(u, "prompt_tokens", (double)total);
    cJSON_AddNumberToObject(u, "total_tokens", (double)total);
    r->n_prompt = total;
    api_json(r, 200, root);
    root = NULL;
done:
    cJSON_Delete(root);
    free(vec);
    cJSON_Delete(req);
}
