/*
 * http.c — the HTTP face of `hearth serve` on libmicrohttpd: one thread per connection,
 * routing, API key, CORS, request-body limits (413), health while loading (503), streamed
 * responses (SSE / NDJSON pulled from the scheduler), one JSON access-log line per request
 * on stderr, Prometheus metrics.  The server's life: listen, load, serve, stop on a signal.
 */
#include "server/server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

void server_config_default(server_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->host = "127.0.0.1";
    cfg->port = 8080;
    cfg->parallel = 4;
    cfg->queue = 64;
    cfg->max_body = 8u << 20;
}

/* ---- per-request state ------------------------------------------------------------------ */

typedef struct conn_state {
    server     *srv;
    hearth_buf  body;
    bool        too_large;
    bool        queued;       /* a response was queued */
    http_reply  reply;
    double      t0;
    char        method[16];
    char        path[256];
    char        endpoint[48]; /* route name for metrics */
    char        remote[64];
} conn_state;

typedef struct stream_ctx {
    http_reply *reply;       /* lives in the conn_state until the request completes */
    bool      (*fill)(void *state, hearth_buf *out);
    void      (*free_state)(void *state);
    void       *state;
    hearth_buf  pending;
    size_t      off;
    bool        ended;
} stream_ctx;

void http_expect_done(http_reply *r) {
    if (!r->expected) return;
    sched_expect(r->expected, -1);
    r->expected = NULL;
}

/* Paths whose requests end in sched_submit (counted by sched_expect while they are read). */
static bool is_generation_path(const char *path) {
    static const char *const paths[] = { "/v1/chat/completions", "/chat/completions", "/v1/completions",
                                         "/completions", "/api/chat", "/api/generate" };
    for (size_t i = 0; i < HEARTH_ARRAY_LEN(paths); i++)
        if (!strcmp(path, paths[i])) return true;
    return false;
}

bool http_client_gone(void *conn) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci) return false;
    struct pollfd p = { .fd = ci->connect_fd, .events = POLLIN | POLLRDHUP };
    if (poll(&p, 1, 0) <= 0) return false;
    if (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) return true;
    if (p.revents & POLLIN) {
        char c;
        ssize_t n = recv(ci->connect_fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
        return n == 0;
    }
    return false;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
    stream_ctx *sc = cls;
    (void)pos;
    while (sc->off >= sc->pending.len) {
        if (sc->ended) return MHD_CONTENT_READER_END_OF_STREAM;
        sc->pending.len = 0;
        sc->off = 0;
        sc->ended = !sc->fill(sc->state, &sc->pending);
    }
    size_t n = HEARTH_MIN(max, sc->pending.len - sc->off);
    memcpy(buf, sc->pending.data + sc->off, n);
    sc->off += n;
    return (ssize_t)n;
}

static void stream_free(void *cls) {
    stream_ctx *sc = cls;
    if (sc->free_state) sc->free_state(sc->state); /* cancels unfinished jobs: frees their slots */
    hearth_buf_free(&sc->pending);
    free(sc);
}

/* ---- responses ---------------------------------------------------------------------------- */

static void add_cors(const server *srv, struct MHD_Connection *c, struct MHD_Response *resp) {
    const char *allow = srv->cfg.cors;
    if (!allow) return;
    const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
    if (strcmp(allow, "*") && !(origin && !strcmp(origin, allow))) return;
    MHD_add_response_header(resp, "Access-Control-Allow-Origin", allow);
    MHD_add_response_header(resp, "Vary", "Origin");
    MHD_add_response_header(resp, "Access-Control-Allow-Methods", "GET, POST, OPTIONS");
    MHD_add_response_header(resp, "Access-Control-Allow-Headers", "Authorization, Content-Type, X-API-Key");
    MHD_add_response_header(resp, "Access-Control-Max-Age", "600");
}

static enum MHD_Result send_reply(conn_state *cs, struct MHD_Connection *c) {
    http_reply *r = &cs->reply;
    struct MHD_Response *resp;
    if (r->stream) {
        stream_ctx *sc = hearth_calloc(1, sizeof *sc);
        if (!sc) {
            r->free_state(r->state);
            r->stream = false;
            api_error(r, 500, "server_error", NULL, NULL, "out of memory");
            return send_reply(cs, c);
        }
        sc->reply = r;
        sc->fill = r->fill;
        sc->free_state = r->free_state;
        sc->state = r->state;
        r->state = NULL;
        resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, stream_read, sc, stream_free);
        if (!resp) {
            stream_free(sc);
            return MHD_NO;
        }
        MHD_add_response_header(resp, "Cache-Control", "no-cache");
        MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    } else {
        resp = MHD_create_response_from_buffer(r->body.len, r->body.data ? r->body.data : (void *)"",
                                               MHD_RESPMEM_MUST_COPY);
        if (!resp) return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", r->content_type ? r->content_type : "application/json");
    if (r->retry_after > 0) {
        char v[16];
        snprintf(v, sizeof v, "%d", r->retry_after);
        MHD_add_response_header(resp, "Retry-After", v);
    }
    if (r->status == 401) MHD_add_response_header(resp, "WWW-Authenticate", "Bearer");
    add_cors(cs->srv, c, resp);
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    cs->queued = true;
    return ret;
}

/* ---- routing ------------------------------------------------------------------------------ */

static bool key_ok(const server *srv, struct MHD_Connection *c) {
    const char *want = srv->cfg.api_key;
    if (!want || !*want) return true;
    const char *got = NULL;
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (auth && !strncasecmp(auth, "Bearer ", 7)) {
        got = auth + 7;
        while (*got == ' ') got++;
    } else {
        got = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-API-Key");
    }
    if (!got) return false;
    size_t a = strlen(want), b = strlen(got);
    unsigned diff = (unsigned)(a ^ b);
    for (size_t i = 0; i < a; i++) diff |= (unsigned)(want[i] ^ (i < b ? got[i] : 0));
    return diff == 0;
}

typedef enum route_method { R_GET, R_POST } route_method;

typedef struct route {
    route_method method;
    const char  *path;   /* exact, or a prefix ending in '/' with prefix = true */
    bool         prefix;
    const char  *name;   /* endpoint label for metrics */
    int          kind;
} route;

enum {
    K_MODELS, K_MODEL, K_CHAT, K_COMPLETIONS, K_EMBEDDINGS, K_OL_CHAT, K_OL_GENERATE, K_OL_TAGS, K_OL_SHOW,
    K_OL_PS, K_OL_VERSION, K_OL_EMBED, K_TOKENIZE, K_DETOKENIZE, K_METRICS
};

static const route routes[] = {
    { R_GET, "/v1/models", false, "/v1/models", K_MODELS },
    { R_GET, "/models", false, "/v1/models", K_MODELS },
    { R_GET, "/v1/models/", true, "/v1/models/{id}", K_MODEL },
    { R_POST, "/v1/chat/completions", false, "/v1/chat/completions", K_CHAT },
    { R_POST, "/chat/completions", false, "/v1/chat/completions", K_CHAT },
    { R_POST, "/v1/completions", false, "/v1/completions", K_COMPLETIONS },
    { R_POST, "/completions", false, "/v1/completions", K_COMPLETIONS },
    { R_POST, "/v1/embeddings", false, "/v1/embeddings", K_EMBEDDINGS },
    { R_POST, "/embeddings", false, "/v1/embeddings", K_EMBEDDINGS },
    { R_POST, "/api/chat", false, "/api/chat", K_OL_CHAT },
    { R_POST, "/api/generate", false, "/api/generate", K_OL_GENERATE },
    { R_GET, "/api/tags", false, "/api/tags", K_OL_TAGS },
    { R_POST, "/api/show", false, "/api/show", K_OL_SHOW },
    { R_GET, "/api/ps", false, "/api/ps", K_OL_PS },
    { R_GET, "/api/version", false, "/api/version", K_OL_VERSION },
    { R_POST, "/api/embed", false, "/api/embed", K_OL_EMBED },
    { R_POST, "/api/embeddings", false, "/api/embeddings", K_OL_EMBED },
    { R_POST, "/tokenize", false, "/tokenize", K_TOKENIZE },
    { R_POST, "/detokenize", false, "/detokenize", K_DETOKENIZE },
    { R_GET, "/metrics", false, "/metrics", K_METRICS },
};

static void not_found(http_reply *r, const char *path, bool ollama) {
    if (ollama) api_error_ollama(r, 404, "404 page not found");
    else api_error(r, 404, "invalid_request_error", NULL, "not_found", "Unknown path: %s", path);
}

static void dispatch(conn_state *cs, struct MHD_Connection *c) {
    server *srv = cs->srv;
    http_reply *r = &cs->reply;
    const char *path = cs->path;
    bool ollama = !strncmp(path, "/api/", 5);
    bool get = !strcmp(cs->method, "GET") || !strcmp(cs->method, "HEAD");
    bool post = !strcmp(cs->method, "POST");
    snprintf(cs->endpoint, sizeof cs->endpoint, "other");

    if (!strcmp(cs->method, "OPTIONS")) { /* CORS preflight: open */
        snprintf(cs->endpoint, sizeof cs->endpoint, "OPTIONS");
        r->status = 204;
        return;
    }
    if (get && (!strcmp(path, "/") || !strcmp(path, "/index.html"))) {
        snprintf(cs->endpoint, sizeof cs->endpoint, "/");
        r->status = 200;
        hearth_buf_appends(&r->body, server_chat_page);
        r->content_type = "text/html; charset=utf-8";
        return;
    }
    if (!strcmp(path, "/health") || !strcmp(path, "/v1/health")) {
        snprintf(cs->endpoint, sizeof cs->endpoint, "/health");
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "status", srv->ready ? "ok" : "loading model");
        if (!srv->ready) r->retry_after = 1;
        api_json(r, srv->ready ? 200 : 503, j);
        return;
    }
    if (cs->too_large) {
        snprintf(cs->endpoint, sizeof cs->endpoint, "too_large");
        if (ollama) api_error_ollama(r, 413, "request body too large (limit %zu bytes)", srv->cfg.max_body);
        else
            api_error(r, 413, "invalid_request_error", NULL, "request_too_large",
                      "The request body is larger than the limit of %zu bytes.", srv->cfg.max_body);
        return;
    }
    const route *rt = NULL;
    bool path_known = false;
    for (size_t i = 0; i < HEARTH_ARRAY_LEN(routes); i++) {
        const route *x = &routes[i];
        bool match = x->prefix ? !strncmp(path, x->path, strlen(x->path)) && path[strlen(x->path)]
                               : !strcmp(path, x->path);
        if (!match) continue;
        path_known = true;
        if ((x->method == R_GET && get) || (x->method == R_POST && post)) {
            rt = x;
            break;
        }
    }
    if (!key_ok(srv, c)) {
        snprintf(cs->endpoint, sizeof cs->endpoint, "%s", rt ? rt->name : "unauthorized");
        if (ollama) api_error_ollama(r, 401, "unauthorized: missing or wrong API key");
        else
            api_error(r, 401, "invalid_request_error", NULL, "invalid_api_key",
                      "Incorrect or missing API key. Send it as 'Authorization: Bearer <key>'.");
        return;
    }
    if (!rt) {
        if (path_known) {
            if (ollama) api_error_ollama(r, 405, "method %s not allowed", cs->method);
            else api_error(r, 405, "invalid_request_error", NULL, "method_not_allowed", "Method %s not allowed on %s",
                           cs->method, path);
        } else {
            not_found(r, path, ollama);
        }
        return;
    }
    snprintf(cs->endpoint, sizeof cs->endpoint, "%s", rt->name);
    if (!srv->ready) {
        r->retry_after = 1;
        if (ollama) api_error_ollama(r, 503, "the model is still loading");
        else api_error(r, 503, "server_error", NULL, "model_loading", "The model is still loading; retry shortly.");
        return;
    }
    const char *b = cs->body.data;
    size_t n = cs->body.len;
    switch (rt->kind) {
    case K_MODELS: openai_models(srv, r); break;
    case K_MODEL: openai_model(srv, path + strlen(rt->path), r); break;
    case K_CHAT: openai_chat(srv, b, n, r); break;
    case K_COMPLETIONS: openai_completions(srv, b, n, r); break;
    case K_EMBEDDINGS: openai_embeddings(srv, b, n, r); break;
    case K_OL_CHAT: ollama_chat(srv, b, n, r); break;
    case K_OL_GENERATE: ollama_generate(srv, b, n, r); break;
    case K_OL_TAGS: ollama_tags(srv, r); break;
    case K_OL_SHOW: ollama_show(srv, b, n, r); break;
    case K_OL_PS: ollama_ps(srv, r); break;
    case K_OL_VERSION: ollama_version(srv, r); break;
    case K_OL_EMBED: ollama_embed(srv, b, n, r); break;
    case K_TOKENIZE: api_tokenize(srv, b, n, r); break;
    case K_DETOKENIZE: api_detokenize(srv, b, n, r); break;
    case K_METRICS:
        r->status = 200;
        metrics_render(&r->body, srv->sched);
        r->content_type = "text/plain; version=0.0.4; charset=utf-8";
        break;
    default: not_found(r, path, ollama);
    }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_size, void **con_cls) {
    server *srv = cls;
    (void)version;
    conn_state *cs = *con_cls;
    if (!cs) {
        cs = hearth_calloc(1, sizeof *cs);
        if (!cs) return MHD_NO;
        cs->srv = srv;
        cs->t0 = hearth_time_s();
        cs->reply.conn = c;
        snprintf(cs->method, sizeof cs->method, "%s", method);
        snprintf(cs->path, sizeof cs->path, "%s", url);
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        if (ci && ci->client_addr) {
            const struct sockaddr *sa = ci->client_addr;
            if (sa->sa_family == AF_INET)
                inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, cs->remote, sizeof cs->remote);
            else if (sa->sa_family == AF_INET6)
                inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, cs->remote, sizeof cs->remote);
        }
        *con_cls = cs;
        /* a declared body over the limit is refused before it is read */
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > srv->cfg.max_body) {
            cs->too_large = true;
            dispatch(cs, c);
            return send_reply(cs, c);
        }
        if (__atomic_load_n(&srv->ready, __ATOMIC_ACQUIRE) && !strcmp(method, "POST") && is_generation_path(url)) {
            cs->reply.expected = srv->sched;
            sched_expect(srv->sched, +1);
        }
        return MHD_YES;
    }
    if (cs->queued) {
        *upload_size = 0; /* discard the rest of a refused body */
        return MHD_YES;
    }
    if (*upload_size) {
        if (!cs->too_large && cs->body.len + *upload_size <= srv->cfg.max_body) {
            if (!hearth_buf_append(&cs->body, upload_data, *upload_size)) cs->too_large = true;
        } else {
            cs->too_large = true;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    dispatch(cs, c);
    http_expect_done(&cs->reply); /* answered without reaching the scheduler */
    if (!cs->reply.status) cs->reply.status = 500;
    return send_reply(cs, c);
}

static void json_escape_into(hearth_buf *b, const char *s) {
    cJSON *j = api_text(s, strlen(s));
    char *p = j ? cJSON_PrintUnformatted(j) : NULL;
    hearth_buf_appends(b, p ? p : "\"\"");
    free(p);
    cJSON_Delete(j);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
    (void)cls;
    (void)c;
    conn_state *cs = *con_cls;
    if (!cs) return;
    *con_cls = NULL;
    http_reply *r = &cs->reply;
    http_expect_done(r); /* the client went away before its body was read */
    metrics_request(cs->endpoint[0] ? cs->endpoint : "other", r->status);
    /* the access log: one JSON object per line */
    char ts[64];
    api_time_rfc3339(ts, sizeof ts);
    hearth_buf line = { 0 };
    static const char *terms[] = { "ok", "error", "timeout", "shutdown", "read_error", "client_abort" };
    hearth_buf_printf(&line,
                      "{\"time\":\"%s\",\"remote\":\"%s\",\"method\":\"%s\",\"path\":", ts, cs->remote, cs->method);
    json_escape_into(&line, cs->path);
    hearth_buf_printf(&line,
                      ",\"status\":%d,\"duration_ms\":%.1f,\"stream\":%s,\"prompt_tokens\":%lld,"
                      "\"completion_tokens\":%lld,\"termination\":\"%s\"",
                      r->status, (hearth_time_s() - cs->t0) * 1e3, r->stream ? "true" : "false",
                      (long long)r->n_prompt, (long long)r->n_gen,
                      (unsigned)toe < HEARTH_ARRAY_LEN(terms) ? terms[toe] : "other");
    if (cs->srv->cfg.log_prompts && r->log_prompt) {
        hearth_buf_appends(&line, ",\"prompt\":");
        json_escape_into(&line, r->log_prompt);
    }
    hearth_buf_appends(&line, "}\n");
    fwrite(line.data, 1, line.len, stderr);
    fflush(stderr);
    hearth_buf_free(&line);
    if (r->state && r->free_state) r->free_state(r->state); /* a stream that was never handed over */
    hearth_buf_free(&r->body);
    free(r->log_prompt);
    hearth_buf_free(&cs->body);
    free(cs);
}

/* ---- the server's life -------------------------------------------------------------------- */

int server_run(const server_config *cfg, char *err, size_t err_size) {
    server *srv = hearth_calloc(1, sizeof *srv);
    pthread_mutex_t embd_mu = PTHREAD_MUTEX_INITIALIZER;
    if (!srv) return hearth_err(err, err_size, HEARTH_ERR_NOMEM, "out of memory"), 1;
    srv->cfg = *cfg;
    srv->embd_mu = &embd_mu;
    srv->started = api_now();
    metrics_init();

    /* signals: handled by sigwait in this thread only */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE }, *ai = NULL;
    char port[16];
    snprintf(port, sizeof port, "%d", cfg->port);
    int rc = getaddrinfo(cfg->host, port, &hints, &ai);
    if (rc != 0 || !ai) {
        hearth_err(err, err_size, HEARTH_ERR_ARG, "cannot resolve host '%s': %s", cfg->host, gai_strerror(rc));
        free(srv);
        return 1;
    }
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;
    if (ai->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, (uint16_t)cfg->port, NULL, NULL, on_request, srv, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)64 * 1024,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)600, MHD_OPTION_CONNECTION_LIMIT, (unsigned)512, MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!d) {
        hearth_err(err, err_size, HEARTH_ERR_IO, "cannot listen on %s:%d (in use, or not an address of this machine)",
                   cfg->host, cfg->port);
        free(srv);
        return 1;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    int bound = di ? di->port : cfg->port;
    fprintf(stderr, "hearth serve: listening on http://%s:%d (loading %s)\n", cfg->host, bound, cfg->model_path);
    fflush(stderr);

    int ret = 0;
    hearth_status st = srv_model_load(&srv->model, cfg->model_path, cfg->alias, err, err_size);
    if (st == HEARTH_OK)
        st = sched_backend_create(srv->model.hm, cfg->parallel, cfg->n_ctx, cfg->n_threads, &srv->be, err, err_size);
    if (st == HEARTH_OK) st = sched_create(&srv->model, srv->be, cfg->parallel, cfg->queue, &srv->sched, err, err_size);
    if (st != HEARTH_OK) {
        ret = 1;
    } else {
        __atomic_store_n(&srv->ready, 1, __ATOMIC_RELEASE);
        fprintf(stderr, "hearth serve: model '%s' ready: %d slots of %d tokens, queue %d%s\n", srv->model.name,
                cfg->parallel, sched_backend_n_ctx(srv->be), cfg->queue, cfg->api_key ? ", API key required" : "");
        fflush(stderr);
        int sig = 0;
        sigwait(&set, &sig);
        fprintf(stderr, "hearth serve: signal %d, shutting down\n", sig);
    }
    MHD_quiesce_daemon(d);
    sched_stop(srv->sched);   /* running and queued jobs end: blocked handlers return */
    MHD_stop_daemon(d);       /* joins the connection threads */
    sched_free(srv->sched);
    hearth_ctx_free(srv->embd_ctx);
    sched_backend_free(srv->be);
    srv_model_free(&srv->model);
    free(srv);
    return ret;
}
