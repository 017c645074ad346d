/*
 * metrics.c — counters and histograms for GET /metrics (Prometheus text format 0.0.4).
 * Process-wide, guarded by one mutex; cheap enough to update once per token.
 */
#include "server/server.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define METRICS_MAX_SERIES 96

static const double ttft_bounds[] = { 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60 };
static const double itl_bounds[] = { 0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 5 };
#define N_BUCKETS HEARTH_ARRAY_LEN(ttft_bounds)

typedef struct histogram {
    uint64_t counts[N_BUCKETS + 1]; /* last: +Inf */
    double   sum;
    uint64_t n;
} histogram;

typedef struct series {
    char     endpoint[48];
    int      status;
    uint64_t n;
} series;

static struct {
    pthread_mutex_t mu;
    series          req[METRICS_MAX_SERIES];
    int             n_req;
    uint64_t        prompt_tokens, gen_tokens;
    histogram       ttft, itl;
} M = { .mu = PTHREAD_MUTEX_INITIALIZER };

void metrics_init(void) {
    pthread_mutex_lock(&M.mu);
    M.n_req = 0;
    M.prompt_tokens = M.gen_tokens = 0;
    memset(&M.ttft, 0, sizeof M.ttft);
    memset(&M.itl, 0, sizeof M.itl);
    pthread_mutex_unlock(&M.mu);
}

void metrics_request(const char *endpoint, int status) {
    pthread_mutex_lock(&M.mu);
    int i;
    for (i = 0; i < M.n_req; i++)
        if (M.req[i].status == status && !strcmp(M.req[i].endpoint, endpoint)) break;
    if (i == M.n_req && M.n_req < METRICS_MAX_SERIES) {
        snprintf(M.req[i].endpoint, sizeof M.req[i].endpoint, "%s", endpoint);
        M.req[i].status = status;
        M.req[i].n = 0;
        M.n_req++;
    }
    if (i < M.n_req) M.req[i].n++;
    pthread_mutex_unlock(&M.mu);
}

void metrics_tokens(int64_t n_prompt, int64_t n_gen) {
    pthread_mutex_lock(&M.mu);
    if (n_prompt > 0) M.prompt_tokens += (uint64_t)n_prompt;
    if (n_gen > 0) M.gen_tokens += (uint64_t)n_gen;
    pthread_mutex_unlock(&M.mu);
}

static void observe(histogram *h, const double *bounds, double v) {
    pthread_mutex_lock(&M.mu);
    size_t b = 0;
    while (b < N_BUCKETS && v > bounds[b]) b++;
    h->counts[b]++;
    h->sum += v;
    h->n++;
    pthread_mutex_unlock(&M.mu);
}

void metrics_ttft(double s) { observe(&M.ttft, ttft_bounds, s); }
void metrics_itl(double s) { observe(&M.itl, itl_bounds, s); }

static void render_hist(hearth_buf *out, const char *name, const char *help, const histogram *h,
                        const double *bounds) {
    hearth_buf_printf(out, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    uint64_t cum = 0;
    for (size_t b = 0; b < N_BUCKETS; b++) {
        cum += h->counts[b];
        hearth_buf_printf(out, "%s_bucket{le=\"%g\"} %llu\n", name, bounds[b], (unsigned long long)cum);
    }
    cum += h->counts[N_BUCKETS];
    hearth_buf_printf(out, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)cum);
    hearth_buf_printf(out, "%s_sum %.6f\n%s_count %llu\n", name, h->sum, name, (unsigned long long)h->n);
}

void metrics_render(hearth_buf *out, sched *s) {
    int active = 0, queued = 0;
    int64_t kv_used = 0, kv_total = 0;
    if (s) sched_stats(s, &active, &queued, &kv_used, &kv_total);
    pthread_mutex_lock(&M.mu);
    hearth_buf_appends(out, "# HELP hearth_requests_total HTTP requests by endpoint and status.\n"
                            "# TYPE hearth_requests_total counter\n");
    for (int i = 0; i < M.n_req; i++)
        hearth_buf_printf(out, "hearth_requests_total{endpoint=\"%s\",status=\"%d\"} %llu\n", M.req[i].endpoint,
                          M.req[i].status, (unsigned long long)M.req[i].n);
    hearth_buf_printf(out,
                      "# HELP hearth_prompt_tokens_total Prompt tokens processed (prompt-cache hits excluded).\n"
                      "# TYPE hearth_prompt_tokens_total counter\nhearth_prompt_tokens_total %llu\n"
                      "# HELP hearth_generated_tokens_total Tokens generated.\n"
                      "# TYPE hearth_generated_tokens_total counter\nhearth_generated_tokens_total %llu\n",
                      (unsigned long long)M.prompt_tokens, (unsigned long long)M.gen_tokens);
    render_hist(out, "hearth_time_to_first_token_seconds", "Time from request to first generated token.", &M.ttft,
                ttft_bounds);
    render_hist(out, "hearth_inter_token_latency_seconds", "Time between consecutive tokens of a stream.", &M.itl,
                itl_bounds);
    pthread_mutex_unlock(&M.mu);
    hearth_buf_printf(out,
                      "# HELP hearth_requests_active Requests holding a slot.\n# TYPE hearth_requests_active gauge\n"
                      "hearth_requests_active %d\n"
                      "# HELP hearth_requests_queued Requests waiting for a slot.\n# TYPE hearth_requests_queued gauge\n"
                      "hearth_requests_queued %d\n"
                      "# HELP hearth_kv_cache_used_tokens Tokens held in the KV caches of all slots.\n"
                      "# TYPE hearth_kv_cache_used_tokens gauge\nhearth_kv_cache_used_tokens %lld\n"
                      "# HELP hearth_kv_cache_capacity_tokens KV-cache capacity of all slots.\n"
                      "# TYPE hearth_kv_cache_capacity_tokens gauge\nhearth_kv_cache_capacity_tokens %lld\n"
                      "# HELP hearth_kv_cache_usage_ratio Used over capacity.\n"
                      "# TYPE hearth_kv_cache_usage_ratio gauge\nhearth_kv_cache_usage_ratio %.6f\n",
                      active, queued, (long long)kv_used, (long long)kv_total,
                      kv_total ? (double)kv_used / (double)kv_total : 0.0);
}
