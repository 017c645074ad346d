/*
 * server.h — internals of `hearth serve`: an OpenAI- and Ollama-compatible HTTP server.
 *
 *   http.c       libmicrohttpd glue: routing, API key, CORS, body limits, access log, SSE/NDJSON
 *   srv_model.c  the loaded model: engine handle, tokenizer, chat template, metadata
 *   scheduler.c  slots, bounded queue, continuous batching over a batched-decode interface
 *   openai.c     /v1/chat/completions, /v1/completions, /v1/models, /v1/embeddings
 *   ollama.c     /api/chat, /api/generate, /api/tags, /api/show, /api/ps, /api/version, /api/embed
 *   api_util.c   what both API faces share: JSON field checks, sampling options, errors
 *   metrics.c    Prometheus counters and histograms
 *   chat_page.c  the embedded chat page served at /
 *
 * Threads: libmicrohttpd runs one thread per connection; handlers block on their jobs.  One
 * scheduler thread owns every engine context and runs all generation.  Internal to libhearth.
 */
#ifndef HEARTH_SERVER_H
#define HEARTH_SERVER_H

#include "hearth.h"
#include "core/core.h"
#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- configuration ---------------------------------------------------------------------- */

typedef struct server_config {
    const char *model_path;  /* resolved GGUF path */
    const char *host;        /* default "127.0.0.1" */
    int         port;        /* default 8080; 0: any free port (printed on stderr) */
    int         parallel;    /* slots, default 4 */
    int         queue;       /* waiting requests beyond the slots, default 64 */
    int         n_ctx;       /* context per slot; 0: min(training context, 4096) */
    int         n_threads;   /* 0: physical cores */
    const char *api_key;     /* NULL: no key required */
    const char *cors;        /* allowed Origin ("*" for any); NULL: no CORS headers */
    const char *alias;       /* model name shown to clients; NULL: file name without .gguf */
    bool        log_prompts; /* put prompts into the access log */
    size_t      max_body;    /* request body limit in bytes; default 8 MiB */
} server_config;

void server_config_default(server_config *cfg);

/* Starts listening, loads the model (GET /health answers 503 until it is loaded), then serves
 * until SIGINT/SIGTERM.  Returns 0 on a clean shutdown, nonzero with a message in err. */
int server_run(const server_config *cfg, char *err, size_t err_size);

/* ---- the loaded model ------------------------------------------------------------------- */

typedef struct srv_model {
    hearth_model *hm;
    gguf_file    *g;          /* a second read-only view of the file, for metadata */
    tokenizer    *tok;
    char         *tmpl;       /* tokenizer.chat_template, or NULL (ChatML is used) */
    char          name[256];  /* what clients call it */
    char          path[4096];
    char          arch[64];
    char          quant[32];  /* e.g. "Q4_1", from the most common weight type */
    char          digest[72]; /* "sha256:<hex of path+size>" (stable id, not the file hash) */
    char          param_size[32];
    char          bos_text[64], eos_text[64];
    int64_t       n_embd;
    int64_t       n_params;
    int64_t       mtime;      /* file modification time, Unix seconds */
    uint64_t      size;
} srv_model;

hearth_status srv_model_load(srv_model *m, const char *path, const char *alias, char *err, size_t err_size);
void          srv_model_free(srv_model *m);

/* True when a client's `model` string names this model: its name, the file name (with or
 * without .gguf), the path, each optionally with ":latest".  NULL or "" also match. */
bool srv_model_matches(const srv_model *m, const char *name);

/* One chat message (borrowed strings). */
typedef struct srv_msg {
    const char *role;
    const char *content;
} srv_msg;

/* Renders messages with the model's chat template (ChatML when it has none) and a generation
 * prompt for the assistant.  Appends to out. */
hearth_status srv_model_render(const srv_model *m, const srv_msg *msgs, size_t n, hearth_buf *out, char *err,
                               size_t err_size);

/* Tokenizes text as prompts are (BOS as the model asks, special tokens parsed). */
hearth_status srv_model_tokenize(const srv_model *m, const char *text, size_t len, bool add_special, tok_ids *out,
                                 char *err, size_t err_size);

/* ---- scheduler -------------------------------------------------------------------------- */

#define SCHED_MAX_STOP     8
#define SCHED_MAX_TOP_LP   20

typedef struct sched_params {
    int32_t               n_predict;   /* < 0: until the context is full */
    hearth_sampler_params sp;
    char                 *stop[SCHED_MAX_STOP]; /* owned (malloc'd) stop strings */
    int                   n_stop;
    bool                  logprobs;
    int                   top_logprobs; /* 0..SCHED_MAX_TOP_LP */
    bool                  ignore_eos;   /* llama.cpp's extension: generate through end-of-generation tokens */
} sched_params;

void sched_params_free(sched_params *p);

typedef enum sched_finish {
    SCHED_RUNNING = 0,
    SCHED_FINISH_STOP,    /* end-of-generation token or a stop string */
    SCHED_FINISH_LENGTH,  /* n_predict or the context reached */
    SCHED_FINISH_ERROR,
    SCHED_FINISH_CANCELLED
} sched_finish;

/* The log-probability of one generated token, with the most likely alternatives. */
typedef struct sched_lp {
    int32_t id;
    float   logprob;
    int     n_top;
    int32_t top_id[SCHED_MAX_TOP_LP];
    float   top_lp[SCHED_MAX_TOP_LP];
} sched_lp;

typedef struct sched_job sched_job;
typedef struct sched     sched;

/* What a waiting HTTP thread takes out of a job at once. */
typedef struct sched_out {
    hearth_buf   text;      /* new text since the last take (appended) */
    sched_lp    *lps;       /* new log-probs (appended), n_lps of them */
    size_t       n_lps, cap_lps;
    sched_finish finish;    /* SCHED_RUNNING while more may come */
    int32_t      n_prompt;  /* prompt tokens */
    int32_t      n_cached;  /* of which came from the slot's prompt cache */
    int32_t      n_gen;     /* tokens generated so far */
    double       t_prompt_s, t_gen_s; /* prefill and decode time */
    char         error[256];
} sched_out;

void sched_out_free(sched_out *o);

/* A batched-decode backend: one call runs every item (one slot each) through the model in
 * one forward pass over a multi-sequence hearth_ctx (slot i is KV-cache sequence i), so the
 * weights are read once per step whatever the number of slots. */
typedef struct sched_item {
    int            slot;
    const int32_t *tokens;
    int32_t        n_tokens;
    const float   *logits;   /* out: the last token's logits (n_vocab), valid until the next decode */
    hearth_status  st;       /* out */
} sched_item;

typedef struct sched_backend sched_backend;
hearth_status sched_backend_create(hearth_model *hm, int n_slots, int n_ctx, int n_threads, sched_backend **out,
                                   char *err, size_t err_size);
void          sched_backend_free(sched_backend *be);
int32_t       sched_backend_n_ctx(const sched_backend *be);
int32_t       sched_backend_n_batch(const sched_backend *be); /* tokens one pass can carry */
int32_t       sched_backend_n_past(const sched_backend *be, int slot);
/* Keeps the first n_keep cached tokens of a slot; returns how many are kept (may be fewer). */
int32_t       sched_backend_keep(sched_backend *be, int slot, int32_t n_keep);
/* Runs every item (tokens continuing its slot's cache; logits of its last token); each gets
 * its own status.  Logits stay valid until the next call. */
void          sched_backend_decode(sched_backend *be, sched_item *items, int n_items);

/* Creates the scheduler and starts its thread.  The backend and model are borrowed. */
hearth_status sched_create(const srv_model *m, sched_backend *be, int n_slots, int max_queue, sched **out, char *err,
                           size_t err_size);
/* Stops the thread: running and queued jobs end as cancelled, later submits are refused.
 * Accepts NULL; idempotent. */
void          sched_stop(sched *s);
void          sched_free(sched *s); /* stops if needed and frees; accepts NULL */

/* Creates a job for prompt[0..n) (copied); takes ownership of *p (cleared). NULL on OOM. */
sched_job *sched_job_create(const int32_t *prompt, int32_t n, sched_params *p);
/* Queues a job.  0: accepted; -1: the queue is full (the job is untouched). */
int        sched_submit(sched *s, sched_job *job);
/* Waits until the job has something new or has finished (at most timeout_ms), moves what is
 * new into *out and returns out->finish. */
sched_finish sched_job_take(sched_job *job, sched_out *out, int timeout_ms);
/* Asks the scheduler to stop the job (a client went away); it frees its slot within a step. */
void       sched_job_cancel(sched_job *job);
/* Drops the caller's reference (cancels it first if still running). Accepts NULL. */
void       sched_job_release(sched_job *job);
/* Generation requests being read or parsed that have not reached sched_submit yet (+1 when
 * one arrives, -1 once it is submitted or answered).  While nothing is running, the scheduler
 * waits for these (a few milliseconds, never more than SCHED_GATHER_MS) so that prompts which
 * arrive together are prefilled in one pass instead of one after the other. */
void       sched_expect(sched *s, int delta);
/* Gauges for /metrics and /api/ps: busy slots, queued jobs, KV-cache tokens used and total. */
void       sched_stats(sched *s, int *active, int *queued, int64_t *kv_used, int64_t *kv_total);

/* ---- metrics ---------------------------------------------------------------------------- */

void metrics_init(void);
void metrics_request(const char *endpoint, int status);
void metrics_tokens(int64_t n_prompt, int64_t n_gen);
void metrics_ttft(double seconds);
void metrics_itl(double seconds);
/* Prometheus text exposition of everything, with the scheduler's gauges. */
void metrics_render(hearth_buf *out, sched *s);

/* ---- API plumbing shared by openai.c, ollama.c and http.c ------------------------------- */

typedef struct server server;

/* What a handler answers: a whole body, or a stream filled on demand. */
typedef struct http_reply {
    int         status;
    hearth_buf  body;
    const char *content_type;   /* static; default application/json */
    int         retry_after;    /* > 0: a Retry-After header */
    /* streaming: fill appends the next bytes to out, blocking until there are some;
     * returns false when the stream is over (out may still hold final bytes). */
    bool        stream;
    bool      (*fill)(void *state, hearth_buf *out);
    void      (*free_state)(void *state);
    void       *state;
    /* for the access log */
    int64_t     n_prompt, n_gen;
    char       *log_prompt;     /* malloc'd, only with --log-prompts */
    void       *conn;           /* the connection, for http_client_gone */
    sched      *expected;       /* counted in sched_expect until submitted or answered */
} http_reply;

/* True when the client of a connection has closed it (checked without blocking). */
bool http_client_gone(void *conn);
/* The request of r has reached the scheduler or was answered: it stops holding the scheduler's
 * first pass back (see sched_expect).  Idempotent. */
void http_expect_done(http_reply *r);

typedef struct server {
    server_config cfg;
    srv_model     model;
    sched_backend *be;
    sched        *sched;
    volatile int  ready;        /* the model is loaded */
    int64_t       started;      /* Unix seconds */
    pthread_mutex_t *embd_mu;   /* one embedding at a time */
    hearth_ctx   *embd_ctx;     /* created on first use */
} server;

/* Error bodies.  OpenAI: {"error":{"message","type","param","code"}}; Ollama: {"error": msg}. */
void api_error(http_reply *r, int status, const char *type, const char *param, const char *code,
               const char *fmt, ...) __attribute__((format(printf, 6, 7)));
void api_error_ollama(http_reply *r, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Sets a JSON body (takes ownership of j and deletes it). */
void api_json(http_reply *r, int status, cJSON *j);

/* Parses a request body as a JSON object; on failure fills an error reply and returns NULL. */
cJSON *api_parse_body(const char *body, size_t len, http_reply *r, bool ollama);

/* Field readers: absent or null leaves *out and returns true; a wrong type or a value out of
 * [lo, hi] returns false after filling a 400 reply naming the field. */
bool api_get_num(const cJSON *obj, const char *key, double lo, double hi, double *out, http_reply *r, bool ollama);
bool api_get_int(const cJSON *obj, const char *key, double lo, double hi, int64_t *out, http_reply *r, bool ollama);
bool api_get_bool(const cJSON *obj, const char *key, bool *out, http_reply *r, bool ollama);
/* "stop": a string or an array of strings, into p->stop. */
bool api_get_stop(const cJSON *obj, const char *key, sched_params *p, http_reply *r, bool ollama);
/* A message's content: a string, or an array of {"type":"text","text":...} parts (joined). */
bool api_message_text(const cJSON *content, hearth_buf *out);

/* Submits one job per choice (n of them), seeds seed+i; fills 503 or 400 replies on failure. */
bool api_submit(server *srv, const tok_ids *prompt, const sched_params *p, int n, sched_job **jobs,
                http_reply *r, bool ollama);

/* Waits until all n jobs finish, collecting their output into outs[0..n) (zeroed by the
 * caller).  Cancels them and returns false when the client goes away meanwhile. */
bool api_wait_all(http_reply *r, sched_job **jobs, int n, sched_out *outs);

/* Adds a string member, replacing invalid UTF-8 with U+FFFD. */
cJSON *api_add_text(cJSON *obj, const char *key, const char *s, size_t len);
/* Creates a JSON string from bytes, as api_add_text. */
cJSON *api_text(const char *s, size_t len);

/* A seed for requests that give none (time and a counter mixed). */
uint64_t api_random_seed(void);

/* Unique ids ("chatcmpl-<hex>") and the current time. */
void    api_make_id(char *buf, size_t size, const char *prefix);
int64_t api_now(void);
/* RFC 3339 UTC time with nanoseconds, as Ollama writes it. */
void    api_time_rfc3339(char *buf, size_t size);

/* Handlers.  body may be NULL for GET. */
void openai_models(server *srv, http_reply *r);
void openai_model(server *srv, const char *id, http_reply *r);
void openai_chat(server *srv, const char *body, size_t len, http_reply *r);
void openai_completions(server *srv, const char *body, size_t len, http_reply *r);
void openai_embeddings(server *srv, const char *body, size_t len, http_reply *r);
void ollama_chat(server *srv, const char *body, size_t len, http_reply *r);
void ollama_generate(server *srv, const char *body, size_t len, http_reply *r);
void ollama_tags(server *srv, http_reply *r);
void ollama_show(server *srv, const char *body, size_t len, http_reply *r);
void ollama_ps(server *srv, http_reply *r);
void ollama_version(server *srv, http_reply *r);
void ollama_embed(server *srv, const char *body, size_t len, http_reply *r);
void api_tokenize(server *srv, const char *body, size_t len, http_reply *r);
void api_detokenize(server *srv, const char *body, size_t len, http_reply *r);

/* Validation alone (for the fuzz harness and tests): parses a body and checks its sampling
 * and output fields as the generation endpoints do, without the model.  False with an error
 * reply in r when the request would be refused. */
bool openai_check_fields(server *srv, const char *body, size_t len, bool chat, http_reply *r);
bool ollama_check_fields(server *srv, const char *body, size_t len, http_reply *r);

/* Mean-pooled, L2-normalized final hidden states of text (see embed.c); n_embd floats. */
hearth_status srv_embed(server *srv, const char *text, size_t len, float *out, int32_t *n_tokens, char *err,
                        size_t err_size);

/* The embedded chat page. */
extern const char server_chat_page[];

#endif /* HEARTH_SERVER_H */
