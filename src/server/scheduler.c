/*
 * scheduler.c — continuous batching for `hearth serve`.
 *
 * N slots share one loaded model.  One thread runs steps; each step gathers, for every active
 * slot, either its next token (decode) or the next chunk of its prompt (prefill), and hands all
 * of them to ONE call of the batched-decode backend.  Prompts are prefilled in chunks between
 * decode steps so running streams keep flowing; several waiting prompts share a pass only when
 * the measured cost of passes says that brings first tokens sooner (pass_model), otherwise they
 * go one per pass in arrival order.  Requests beyond the slots wait in a bounded
 * FIFO.  A cancelled job (its client went away) leaves its slot at the start of the next step.
 * Each slot remembers the tokens in its KV cache; a new prompt goes to the free slot sharing
 * the longest prefix with it, and only the rest is prefilled (prompt cache).
 *
 * Locking: s->mu guards the queue and slot ownership; each job's own mutex guards its output,
 * which the HTTP thread takes with sched_job_take.  Engine contexts are touched only by the
 * scheduler thread.
 */
#include "server/server.h"

#include "sample/sample.h"

#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- backend: one multi-sequence hearth_ctx, one forward pass per step ------------------- */

/* Slot i is KV-cache sequence i of one context: the slots share its thread pool and work
 * buffers, and a step's tokens of every slot go through the model in one pass (the weights
 * are read once per step, not once per slot). */
struct sched_backend {
    hearth_ctx         *ctx;
    int                 n;
    int32_t             n_ctx, n_batch, n_vocab;
    hearth_batch_token *batch;  /* (n_batch) */
    float              *lbuf;   /* (n, n_vocab) logits kept when a step needs several passes */
};

/* Tokens per pass: a full prompt chunk beside every slot's decode token, and at least 512 so
 * that prompts arriving together can be prefilled in one pass. */
#define SCHED_CHUNK 128

/* The longest a first pass waits for requests still being read (sched_expect). */
#define SCHED_GATHER_MS 20

hearth_status sched_backend_create(hearth_model *hm, int n_slots, int n_ctx, int n_threads, sched_backend **out,
                                   char *err, size_t err_size) {
    *out = NULL;
    sched_backend *be = hearth_calloc(1, sizeof *be);
    if (!be) return hearth_err(err, err_size, HEARTH_ERR_NOMEM, "out of memory");
    be->n = n_slots;
    hearth_ctx_params p;
    hearth_ctx_params_default(&p);
    p.n_ctx = n_ctx;
    p.n_threads = n_threads;
    p.n_seq = n_slots;
    p.n_batch = HEARTH_MAX(512, n_slots + SCHED_CHUNK);
    hearth_status st = hearth_ctx_create(hm, &p, &be->ctx, err, err_size);
    if (st != HEARTH_OK) {
        free(be);
        return st;
    }
    be->n_ctx = hearth_ctx_n_ctx(be->ctx);
    be->n_batch = hearth_ctx_n_batch(be->ctx);
    be->n_vocab = hearth_model_n_vocab(hm);
    be->batch = hearth_malloc_array((size_t)be->n_batch, sizeof *be->batch);
    be->lbuf = hearth_malloc_array((size_t)n_slots * (size_t)be->n_vocab, sizeof *be->lbuf);
    if (!be->batch || !be->lbuf) {
        sched_backend_free(be);
        return hearth_err(err, err_size, HEARTH_ERR_NOMEM, "out of memory");
    }
    *out = be;
    return HEARTH_OK;
}

void sched_backend_free(sched_backend *be) {
    if (!be) return;
    hearth_ctx_free(be->ctx);
    free(be->batch);
    free(be->lbuf);
    free(be);
}

int32_t sched_backend_n_ctx(const sched_backend *be) { return be->n_ctx; }
int32_t sched_backend_n_batch(const sched_backend *be) { return be->n_batch; }
int32_t sched_backend_n_past(const sched_backend *be, int slot) { return hearth_seq_n_past(be->ctx, slot); }

int32_t sched_backend_keep(sched_backend *be, int slot, int32_t n_keep) {
    return hearth_seq_truncate(be->ctx, slot, n_keep);
}

/* One pass over items[0..n): each item's tokens continue its slot's sequence; the last token
 * of each gets logits.  keep: copy the logits out (another pass follows in this step). */
static hearth_status backend_pass(sched_backend *be, sched_item *items, int n, bool keep, char *err,
                                  size_t err_size) {
    int32_t nb = 0;
    for (int i = 0; i < n; i++) {
        const sched_item *it = &items[i];
        int32_t pos = hearth_seq_n_past(be->ctx, it->slot);
        for (int32_t k = 0; k < it->n_tokens; k++)
            be->batch[nb++] = (hearth_batch_token){ it->tokens[k], it->slot, pos + k, k == it->n_tokens - 1 };
    }
    const float *lg = NULL;
    hearth_status st = hearth_decode_batch(be->ctx, be->batch, nb, &lg, NULL, err, err_size);
    for (int i = 0; i < n; i++) {
        sched_item *it = &items[i];
        it->st = st;
        it->logits = NULL;
        if (st != HEARTH_OK) continue;
        const float *row = lg + (size_t)i * (size_t)be->n_vocab;
        if (keep) {
            float *dst = be->lbuf + (size_t)it->slot * (size_t)be->n_vocab;
            memcpy(dst, row, (size_t)be->n_vocab * sizeof *dst);
            row = dst;
        }
        it->logits = row;
    }
    return st;
}

/* Runs every item of a step in as few passes as n_batch allows (one, as the scheduler sizes
 * its steps).  An item never spans passes.  When a pass fails, its items are retried one by
 * one so that one bad item cannot fail the others. */
void sched_backend_decode(sched_backend *be, sched_item *items, int n_items) {
    char err[256];
    int32_t total = 0;
    for (int i = 0; i < n_items; i++) total += items[i].n_tokens;
    const bool several = total > be->n_batch;
    for (int i0 = 0, i1; i0 < n_items; i0 = i1) {
        int32_t nb = 0;
        for (i1 = i0; i1 < n_items && (i1 == i0 || nb + items[i1].n_tokens <= be->n_batch); i1++)
            nb += items[i1].n_tokens;
        if (nb > be->n_batch) { /* a single item larger than a pass: refused */
            items[i0].st = HEARTH_ERR_ARG;
            items[i0].logits = NULL;
            continue;
        }
        if (backend_pass(be, items + i0, i1 - i0, several, err, sizeof err) != HEARTH_OK && i1 - i0 > 1)
            for (int i = i0; i < i1; i++) backend_pass(be, items + i, 1, several, err, sizeof err);
    }
}

/* ---- jobs ------------------------------------------------------------------------------- */

struct sched_job {
    atomic_int      refs;
    atomic_bool     cancel;
    pthread_mutex_t mu;
    pthread_cond_t  cv;
    int32_t        *prompt;
    int32_t         n_prompt;
    sched_params    p;
    /* output not yet taken, guarded by mu */
    hearth_buf      text;
    sched_lp       *lps;
    size_t          n_lps, cap_lps;
    sched_finish    finish;
    int32_t         n_gen, n_cached;
    double          t_prompt, t_gen;
    char            error[256];
    /* scheduler side */
    double          t_submit, t_admit, t_first, t_last;
    sched_job      *next;
};

void sched_params_free(sched_params *p) {
    for (int i = 0; i < p->n_stop; i++) free(p->stop[i]);
    p->n_stop = 0;
}

void sched_out_free(sched_out *o) {
    hearth_buf_free(&o->text);
    free(o->lps);
    memset(o, 0, sizeof *o);
}

sched_job *sched_job_create(const int32_t *prompt, int32_t n, sched_params *p) {
    sched_job *j = hearth_calloc(1, sizeof *j);
    if (!j) return NULL;
    j->prompt = hearth_malloc_array((size_t)(n > 0 ? n : 1), sizeof *j->prompt);
    if (!j->prompt) {
        free(j);
        return NULL;
    }
    if (n > 0) memcpy(j->prompt, prompt, (size_t)n * sizeof *prompt);
    j->n_prompt = n;
    j->p = *p;
    memset(p, 0, sizeof *p);
    atomic_init(&j->refs, 1);
    atomic_init(&j->cancel, false);
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv, NULL);
    return j;
}

static void job_unref(sched_job *j) {
    if (atomic_fetch_sub(&j->refs, 1) != 1) return;
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv);
    sched_params_free(&j->p);
    hearth_buf_free(&j->text);
    free(j->lps);
    free(j->prompt);
    free(j);
}

void sched_job_cancel(sched_job *j) {
    if (j) atomic_store(&j->cancel, true);
}

void sched_job_release(sched_job *j) {
    if (!j) return;
    sched_job_cancel(j);
    job_unref(j);
}

sched_finish sched_job_take(sched_job *j, sched_out *out, int timeout_ms) {
    pthread_mutex_lock(&j->mu);
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    while (j->text.len == 0 && j->n_lps == 0 && j->finish == SCHED_RUNNING)
        if (pthread_cond_timedwait(&j->cv, &j->mu, &dl) == ETIMEDOUT) break;
    bool ok = true;
    if (j->text.len) ok = hearth_buf_append(&out->text, j->text.data, j->text.len);
    j->text.len = 0;
    if (j->n_lps) {
        if (out->n_lps + j->n_lps > out->cap_lps) {
            size_t cap = (out->n_lps + j->n_lps) * 2;
            sched_lp *p = realloc(out->lps, cap * sizeof *p);
            if (p) {
                out->lps = p;
                out->cap_lps = cap;
            }
        }
        if (out->n_lps + j->n_lps <= out->cap_lps) {
            memcpy(out->lps + out->n_lps, j->lps, j->n_lps * sizeof *j->lps);
            out->n_lps += j->n_lps;
        }
        j->n_lps = 0;
    }
    out->finish = j->finish;
    out->n_prompt = j->n_prompt;
    out->n_cached = j->n_cached;
    out->n_gen = j->n_gen;
    out->t_prompt_s = j->t_prompt;
    out->t_gen_s = j->t_gen;
    snprintf(out->error, sizeof out->error, "%s", j->error);
    if (!ok && out->finish == SCHED_RUNNING) {
        out->finish = SCHED_FINISH_ERROR;
        snprintf(out->error, sizeof out->error, "out of memory");
    }
    pthread_mutex_unlock(&j->mu);
    return out->finish;
}

/* ---- slots and the step loop ------------------------------------------------------------ */

typedef struct slot {
    sched_job *job;
    int32_t   *cache;     /* tokens of this slot's sequence (n_ctx): the first n_cache in its KV cache */
    int32_t    n_cache;
    int32_t    n_canon;   /* the first n_canon were computed in prefill runs of HEARTH_STABLE_RUN+ tokens */
    int32_t    n_known;   /* tokens in cache[] (>= n_cache while idle: the rest await canon_pass) */
    int32_t    n_done;    /* prompt tokens in the cache */
    bool       prefill;
    int32_t    last;      /* sampled, not yet decoded */
    int32_t    n_gen, n_limit;
    sampler   *smp;
    tok_stream ts;
    hearth_buf pending;   /* generated text held back (a stop string may be starting) */
    uint64_t   order;     /* admission order, for fair prefill */
} slot;

/* Pass time against tokens in the pass, t = a + b n, fitted over recent passes (weights decay
 * by PASS_DECAY a pass): a is what a pass costs whatever it carries (reading the weights,
 * per-pass overheads), b what each token adds. */
#define PASS_DECAY 0.97
typedef struct pass_model {
    double w, sn, snn, st, snt;
} pass_model;

static void pass_model_add(pass_model *pm, double n, double t) {
    pm->w   = pm->w * PASS_DECAY + 1.0;
    pm->sn  = pm->sn * PASS_DECAY + n;
    pm->snn = pm->snn * PASS_DECAY + n * n;
    pm->st  = pm->st * PASS_DECAY + t;
    pm->snt = pm->snt * PASS_DECAY + n * t;
}

/* The fit t = a + b n (b > 0); false while the history cannot tell (too few passes, or all
 * of about the same size). */
static bool pass_model_fit(const pass_model *pm, double *a, double *b) {
    if (pm->w < 4.0) return false;
    const double mn = pm->sn / pm->w, mt = pm->st / pm->w;
    const double vn = pm->snn / pm->w - mn * mn, cv = pm->snt / pm->w - mn * mt;
    if (vn < 1.0 || cv <= 0.0) return false;
    *b = cv / vn;
    *a = mt - *b * mn;
    return true;
}

/* a / b: the fixed cost of a pass in tokens' worth, or -1 while the history cannot tell. */
static double pass_model_fixed_tokens(const pass_model *pm) {
    double a, b;
    if (!pass_model_fit(pm, &a, &b)) return -1.0;
    return a > 0.0 ? a / b : 0.0;
}

/* Tokens a pass can carry in about `sec` seconds (0 while the history cannot tell). */
static int32_t pass_model_tokens(const pass_model *pm, double sec) {
    double a, b;
    if (!pass_model_fit(pm, &a, &b)) return 0;
    const double n = (sec - HEARTH_MAX(a, 0.0)) / b;
    return n <= 0.0 ? 0 : n >= 4096.0 ? 4096 : (int32_t)n;
}

struct sched {
    const srv_model *m;
    sched_backend   *be;
    int              n_slots, max_queue;
    int32_t          n_ctx, chunk;
    slot            *slots;
    sched_item      *items;
    pthread_mutex_t  mu;
    pthread_cond_t   cv;
    sched_job       *q_head, *q_tail;
    int              n_queued, n_active;
    int              n_expect;  /* generation requests being read, not yet submitted */
    pass_model       pm;        /* scheduler thread only */
    bool             quit;
    uint64_t         n_admitted;
    pthread_t        thread;
    bool             started;
};

static void job_publish(sched_job *j, const char *text, size_t len, const sched_lp *lp, sched_finish fin,
                        const char *error) {
    pthread_mutex_lock(&j->mu);
    if (len) hearth_buf_append(&j->text, text, len);
    if (lp) {
        if (j->n_lps == j->cap_lps) {
            size_t cap = j->cap_lps ? j->cap_lps * 2 : 16;
            sched_lp *p = realloc(j->lps, cap * sizeof *p);
            if (p) {
                j->lps = p;
                j->cap_lps = cap;
            }
        }
        if (j->n_lps < j->cap_lps) j->lps[j->n_lps++] = *lp;
    }
    if (fin != SCHED_RUNNING) {
        j->finish = fin;
        if (error) snprintf(j->error, sizeof j->error, "%s", error);
    }
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
}

static void slot_release(sched *s, slot *sl, sched_finish fin, const char *error) {
    sched_job *j = sl->job;
    double now = hearth_time_s();
    pthread_mutex_lock(&j->mu);
    j->n_gen = sl->n_gen;
    if (j->t_first > 0) j->t_gen = now - j->t_first;
    pthread_mutex_unlock(&j->mu);
    if (fin != SCHED_FINISH_CANCELLED && fin != SCHED_FINISH_ERROR) metrics_tokens(j->n_prompt - j->n_cached, sl->n_gen);
    job_publish(j, NULL, 0, NULL, fin, error);
    sampler_free(sl->smp);
    sl->smp = NULL;
    hearth_buf_free(&sl->pending);
    sl->job = NULL;
    job_unref(j);
    pthread_mutex_lock(&s->mu);
    s->n_active--;
    pthread_mutex_unlock(&s->mu);
}

/* Longest suffix of text[0..n) that is a proper prefix of some stop string. */
static size_t stop_holdback(const sched_params *p, const char *text, size_t n) {
    size_t hold = 0;
    for (int i = 0; i < p->n_stop; i++) {
        size_t sl = strlen(p->stop[i]);
        for (size_t k = HEARTH_MIN(sl - 1, n); k > hold; k--)
            if (!memcmp(text + n - k, p->stop[i], k)) {
                hold = k;
                break;
            }
    }
    return hold;
}

/* Releases what of the slot's pending text is safe; true when a stop string ended the text. */
static bool slot_flush_text(slot *sl, bool final, const sched_lp *lp) {
    const sched_params *p = &sl->job->p;
    size_t n = sl->pending.len, cut = n;
    bool stopped = false;
    for (int i = 0; i < p->n_stop; i++) {
        const char *hit = memmem(sl->pending.data ? sl->pending.data : "", n, p->stop[i], strlen(p->stop[i]));
        if (hit && (size_t)(hit - sl->pending.data) < cut) {
            cut = (size_t)(hit - sl->pending.data);
            stopped = true;
        }
    }
    size_t release = stopped || final ? cut : n - stop_holdback(p, sl->pending.data, n);
    job_publish(sl->job, sl->pending.data, release, lp, SCHED_RUNNING, NULL);
    if (stopped) {
        sl->pending.len = 0;
    } else {
        memmove(sl->pending.data, sl->pending.data + release, n - release);
        sl->pending.len = n - release;
        if (sl->pending.data) sl->pending.data[sl->pending.len] = 0;
    }
    return stopped;
}

/* Log-softmax of the logits: the chosen token's log-prob and the top-k alternatives. */
static void compute_lp(const float *logits, int32_t n_vocab, int32_t id, int k, sched_lp *lp) {
    float mx = -INFINITY;
    for (int32_t i = 0; i < n_vocab; i++)
        if (logits[i] > mx) mx = logits[i];
    double sum = 0;
    for (int32_t i = 0; i < n_vocab; i++) sum += exp((double)(logits[i] - mx));
    float lse = mx + (float)log(sum);
    lp->id = id;
    lp->logprob = logits[id] - lse;
    lp->n_top = 0;
    for (int32_t i = 0; i < n_vocab; i++) {
        float v = logits[i];
        int pos = lp->n_top;
        while (pos > 0 && (lp->top_lp[pos - 1] < v - lse)) pos--;
        if (pos >= k) continue;
        int last = lp->n_top < k ? lp->n_top : k - 1;
        for (int q = last; q > pos; q--) {
            lp->top_lp[q] = lp->top_lp[q - 1];
            lp->top_id[q] = lp->top_id[q - 1];
        }
        lp->top_lp[pos] = v - lse;
        lp->top_id[pos] = i;
        if (lp->n_top < k) lp->n_top++;
    }
}

/* Samples the next token from logits and publishes it.  False when the slot finished. */
static bool slot_sample(sched *s, slot *sl, const float *logits) {
    sched_job *j = sl->job;
    int32_t n_vocab = hearth_model_n_vocab(s->m->hm);
    int32_t id = sampler_sample(sl->smp, logits);
    sampler_accept(sl->smp, id);
    sl->n_gen++;
    double now = hearth_time_s();
    if (sl->n_gen == 1) {
        j->t_first = now;
        metrics_ttft(now - j->t_submit);
    } else {
        metrics_itl(now - j->t_last);
    }
    j->t_last = now;
    sched_lp lp, *plp = NULL;
    if (j->p.logprobs) {
        compute_lp(logits, n_vocab, id, j->p.top_logprobs, &lp);
        plp = &lp;
    }
    pthread_mutex_lock(&j->mu);
    j->n_gen = sl->n_gen;
    j->t_gen = now - j->t_first;
    pthread_mutex_unlock(&j->mu);
    bool eog = !j->p.ignore_eos && tokenizer_is_eog(s->m->tok, id);
    if (!eog) tok_stream_push(&sl->ts, id, &sl->pending);
    bool length = sl->n_gen >= sl->n_limit || sl->n_cache >= s->n_ctx;
    if (eog || length) tok_stream_flush(&sl->ts, &sl->pending);
    if (slot_flush_text(sl, eog || length, plp) || eog) {
        slot_release(s, sl, SCHED_FINISH_STOP, NULL);
        return false;
    }
    if (length) {
        slot_release(s, sl, SCHED_FINISH_LENGTH, NULL);
        return false;
    }
    sl->last = id;
    return true;
}

static int32_t common_prefix(const int32_t *a, int32_t na, const int32_t *b, int32_t nb) {
    int32_t i = 0;
    while (i < na && i < nb && a[i] == b[i]) i++;
    return i;
}

/* How many of a prompt's `rem` remaining tokens to prefill in a pass with room for `budget`:
 * all of them, or a piece that leaves at least HEARTH_STABLE_RUN and is at least that long
 * (0: none this pass).  rem is never below HEARTH_STABLE_RUN unless it is the whole prompt. */
static int32_t piece_len(int32_t rem, int32_t budget) {
    if (rem <= budget) return rem;
    int32_t n = HEARTH_MIN(budget, rem - HEARTH_STABLE_RUN);
    return n >= HEARTH_STABLE_RUN ? n : 0;
}

/* An idle slot whose cached tokens are not all from stable runs (a reply it generated, decoded
 * a token at a time): -1 when there is none.  Called with s->mu held. */
static int canon_todo(const sched *s) {
    for (int i = 0; i < s->n_slots; i++) {
        const slot *sl = &s->slots[i];
        if (!sl->job && sl->n_canon < sl->n_known && sl->n_known >= HEARTH_STABLE_RUN) return i;
    }
    return -1;
}

/* CLOCK_REALTIME `sec` seconds from now, for pthread_cond_timedwait. */
static struct timespec deadline_after(double sec) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    const long ns = (long)(sec * 1e9);
    t.tv_sec += ns / 1000000000L;
    t.tv_nsec += ns % 1000000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

/* While nothing else runs: prefills an idle slot's tokens past its stable prefix again, one
 * short pass at a time (a request arriving meanwhile waits for one pass at most), so that a
 * follow-up prompt (a chat's next turn, holding the reply) reuses them with a fresh server's
 * bits.  Passes are sized from the measured pass cost to about CANON_PASS_S. */
#define CANON_PASS_S 0.05
/* ... and not before the scheduler has been idle this long (a client's next request usually
 * comes at once, a person's next chat turn seconds later). */
#define CANON_IDLE_S 0.25
static void canon_pass(sched *s, int idx) {
    slot   *sl    = &s->slots[idx];
    int32_t start = HEARTH_MIN(sl->n_canon, sl->n_known - HEARTH_STABLE_RUN);
    start         = sched_backend_keep(s->be, idx, start);
    int32_t want  = pass_model_tokens(&s->pm, CANON_PASS_S);
    int32_t n     = piece_len(sl->n_known - start, HEARTH_MIN(HEARTH_MAX(want, 2 * HEARTH_STABLE_RUN), s->chunk));
    sched_item it = { .slot = idx, .tokens = sl->cache + start, .n_tokens = n };
    const double t0 = hearth_time_s();
    sched_backend_decode(s->be, &it, 1);
    pass_model_add(&s->pm, (double)n, hearth_time_s() - t0);
    const int32_t done = it.st == HEARTH_OK ? start + n : 0;
    if (it.st != HEARTH_OK) sched_backend_keep(s->be, idx, 0);
    pthread_mutex_lock(&s->mu);
    sl->n_cache = sl->n_canon = done;
    if (it.st != HEARTH_OK) sl->n_known = 0;
    pthread_mutex_unlock(&s->mu);
}

/* Puts queued jobs into free slots (the one sharing the longest prefix).  Called with s->mu. */
static void admit(sched *s) {
    /* drop cancelled queued jobs first, so they do not hold queue places */
    sched_job **pp = &s->q_head, *prev = NULL;
    while (*pp) {
        sched_job *j = *pp;
        if (atomic_load(&j->cancel)) {
            *pp = j->next;
            if (s->q_tail == j) s->q_tail = prev;
            s->n_queued--;
            job_publish(j, NULL, 0, NULL, SCHED_FINISH_CANCELLED, "cancelled");
            job_unref(j);
            continue;
        }
        prev = j;
        pp = &j->next;
    }
    while (s->q_head && s->n_active < s->n_slots) {
        sched_job *j = s->q_head;
        int best = -1;
        int32_t best_lcp = -1;
        for (int i = 0; i < s->n_slots; i++) {
            if (s->slots[i].job) continue;
            int32_t l = common_prefix(s->slots[i].cache, s->slots[i].n_canon, j->prompt, j->n_prompt);
            if (l > best_lcp) {
                best_lcp = l;
                best = i;
            }
        }
        if (best < 0) break;
        s->q_head = j->next;
        if (!s->q_head) s->q_tail = NULL;
        s->n_queued--;
        j->next = NULL;
        slot *sl = &s->slots[best];
        sl->job = j;
        sl->order = s->n_admitted++;
        s->n_active++;
    }
}

/* Prepares a freshly admitted slot (outside s->mu). False when it finished at once. */
static bool slot_start(sched *s, int idx) {
    slot *sl = &s->slots[idx];
    sched_job *j = sl->job;
    j->t_admit = hearth_time_s();
    if (j->n_prompt < 1 || j->n_prompt >= s->n_ctx) {
        slot_release(s, sl, SCHED_FINISH_ERROR, "the prompt does not fit the context");
        return false;
    }
    /* Only a prefix computed in stable runs is reused, and at least HEARTH_STABLE_RUN prompt
     * tokens (or the whole prompt) are prefilled again, the last one for its logits: so every
     * prompt token gets the bits it gets on a fresh server (see HEARTH_STABLE_RUN). */
    int32_t keep = common_prefix(sl->cache, sl->n_canon, j->prompt, j->n_prompt);
    keep = HEARTH_MAX(0, HEARTH_MIN(keep, j->n_prompt - HEARTH_STABLE_RUN));
    keep = sched_backend_keep(s->be, idx, keep);
    sl->n_cache = sl->n_canon = sl->n_known = keep;
    sl->n_done = keep;
    j->n_cached = keep;
    sl->prefill = true;
    sl->n_gen = 0;
    int32_t room = s->n_ctx - j->n_prompt;
    sl->n_limit = j->p.n_predict < 0 ? room : HEARTH_MIN(j->p.n_predict, room);
    sl->pending = (hearth_buf){ 0 };
    tok_stream_init(&sl->ts, s->m->tok, false);
    sl->smp = sampler_create(&j->p.sp, hearth_model_n_vocab(s->m->hm));
    if (!sl->smp) {
        slot_release(s, sl, SCHED_FINISH_ERROR, "out of memory");
        return false;
    }
    for (int32_t i = 0; i < j->n_prompt; i++) sampler_accept(sl->smp, j->prompt[i]);
    if (sl->n_limit <= 0) {
        slot_release(s, sl, SCHED_FINISH_LENGTH, NULL);
        return false;
    }
    return true;
}

static void *sched_main(void *arg) {
    sched *s = arg;
    bool *fresh = hearth_calloc((size_t)s->n_slots, sizeof *fresh);
    int  *map = hearth_calloc((size_t)s->n_slots, sizeof *map);
    int  *order = hearth_calloc((size_t)s->n_slots, sizeof *order);
    if (!fresh || !map || !order) {
        free(fresh);
        free(map);
        free(order);
        return NULL;
    }
    double last_pass = 0.0; /* when the last step began */
    for (;;) {
        pthread_mutex_lock(&s->mu);
        /* Nothing running: requests that arrive together (several clients starting at once) are
         * gathered into one first pass, waiting while others are still being read (at most
         * SCHED_GATHER_MS; a lone request never waits). */
        const bool idle = s->n_active == 0;
        int canon = -1; /* nothing to run: the idle slot to bring to stable bits */
        struct timespec gather_until = { 0 };
        bool gathered = false;
        for (;;) {
            if (s->quit) break;
            for (int i = 0; i < s->n_slots; i++)
                if (!s->slots[i].job) fresh[i] = true;
            admit(s);
            if (s->n_active == 0) { /* nothing to run: canon passes once idle for a while */
                const int c = s->n_expect > 0 ? -1 : canon_todo(s);
                const double wait = last_pass + CANON_IDLE_S - hearth_time_s();
                if (c >= 0 && wait <= 0.0) {
                    canon = c;
                    break;
                }
                if (c < 0) pthread_cond_wait(&s->cv, &s->mu);
                else {
                    struct timespec until = deadline_after(wait);
                    pthread_cond_timedwait(&s->cv, &s->mu, &until);
                }
                continue;
            }
            if (!idle || gathered || s->n_expect <= 0 || s->n_active >= s->n_slots) break;
            if (gather_until.tv_sec == 0) gather_until = deadline_after(SCHED_GATHER_MS * 1e-3);
            if (pthread_cond_timedwait(&s->cv, &s->mu, &gather_until) == ETIMEDOUT) gathered = true;
        }
        bool quit = s->quit;
        pthread_mutex_unlock(&s->mu);
        if (quit) break;
        if (canon >= 0) {
            canon_pass(s, canon);
            continue;
        }
        last_pass = hearth_time_s();

        /* new arrivals, cancellations */
        bool any_decoding = false;
        for (int i = 0; i < s->n_slots; i++) {
            slot *sl = &s->slots[i];
            if (!sl->job) continue;
            if (fresh[i] && !slot_start(s, i)) continue;
            if (atomic_load(&sl->job->cancel)) {
                slot_release(s, sl, SCHED_FINISH_CANCELLED, "cancelled");
                continue;
            }
            if (!sl->prefill) any_decoding = true;
        }
        for (int i = 0; i < s->n_slots; i++) fresh[i] = false;

        /* one batch: every decoding slot's next token, plus prompt tokens within a budget, oldest
         * admission first: one chunk in all while streams are decoding (they wait for this step),
         * a whole pass while nothing decodes (prompts that arrive together share one pass) */
        int n_items = 0;
        for (int i = 0; i < s->n_slots; i++) {
            slot *sl = &s->slots[i];
            if (!sl->job || sl->prefill) continue;
            s->items[n_items] = (sched_item){ .slot = i, .tokens = &sl->last, .n_tokens = 1 };
            map[n_items++] = i;
        }
        int n_pre = 0;
        for (int i = 0; i < s->n_slots; i++) {
            if (!s->slots[i].job || !s->slots[i].prefill) continue;
            int k = n_pre++;
            for (; k > 0 && s->slots[order[k - 1]].order > s->slots[i].order; k--) order[k] = order[k - 1];
            order[k] = i;
        }
        /* A second prompt joins a pass only when that is worth it for time to first token: it
         * delays the k prompts already in the pass by its n tokens' work, and saves itself the
         * fixed cost of a pass of its own and the decode tokens riding along there.  Where
         * passes cost in proportion to their tokens (compute-bound, as small CPUs are), prompts
         * go one per pass in arrival order (the first answered after its own prefill, not after
         * everyone's); where a pass costs mostly its weight read, they share passes. */
        const double fixed = pass_model_fixed_tokens(&s->pm);
        const int n_dec = n_items;
        int32_t budget = any_decoding ? s->chunk : sched_backend_n_batch(s->be) - n_items;
        for (int k = 0; k < n_pre && budget > 0; k++) {
            slot *sl = &s->slots[order[k]];
            int32_t n = piece_len(sl->job->n_prompt - sl->n_done, budget);
            if (n <= 0) break;
            if (k > 0 && fixed >= 0.0 && (double)k * (double)n >= fixed + (double)n_dec) break;
            budget -= n;
            s->items[n_items] = (sched_item){ .slot = order[k], .tokens = sl->job->prompt + sl->n_done, .n_tokens = n };
            map[n_items++] = order[k];
        }
        if (n_items == 0) continue;
        int32_t n_tok = 0;
        for (int k = 0; k < n_items; k++) n_tok += s->items[k].n_tokens;
        const double t_pass = hearth_time_s();
        sched_backend_decode(s->be, s->items, n_items);
        pass_model_add(&s->pm, (double)n_tok, hearth_time_s() - t_pass);

        for (int k = 0; k < n_items; k++) {
            sched_item *it = &s->items[k];
            slot *sl = &s->slots[map[k]];
            if (!sl->job) continue;
            if (it->st != HEARTH_OK) {
                sl->n_cache = sl->n_canon = sl->n_known = 0;
                sched_backend_keep(s->be, map[k], 0);
                slot_release(s, sl, SCHED_FINISH_ERROR, hearth_status_str(it->st));
                continue;
            }
            memcpy(sl->cache + sl->n_cache, it->tokens, (size_t)it->n_tokens * sizeof(int32_t));
            if (sl->prefill && it->n_tokens >= HEARTH_STABLE_RUN && sl->n_canon == sl->n_cache)
                sl->n_canon += it->n_tokens;
            sl->n_cache += it->n_tokens;
            sl->n_known = sl->n_cache;
            if (sl->prefill) {
                sl->n_done += it->n_tokens;
                if (sl->n_done < sl->job->n_prompt) continue;
                sl->prefill = false;
                sched_job *j = sl->job;
                pthread_mutex_lock(&j->mu);
                j->t_prompt = hearth_time_s() - j->t_admit;
                pthread_mutex_unlock(&j->mu);
            }
            if (atomic_load(&sl->job->cancel)) {
                slot_release(s, sl, SCHED_FINISH_CANCELLED, "cancelled");
                continue;
            }
            slot_sample(s, sl, it->logits);
        }
    }
    /* shutting down: finish everything */
    for (int i = 0; i < s->n_slots; i++)
        if (s->slots[i].job) slot_release(s, &s->slots[i], SCHED_FINISH_CANCELLED, "server shutting down");
    pthread_mutex_lock(&s->mu);
    while (s->q_head) {
        sched_job *j = s->q_head;
        s->q_head = j->next;
        job_publish(j, NULL, 0, NULL, SCHED_FINISH_CANCELLED, "server shutting down");
        job_unref(j);
    }
    s->q_tail = NULL;
    s->n_queued = 0;
    pthread_mutex_unlock(&s->mu);
    free(fresh);
    free(map);
    free(order);
    return NULL;
}

hearth_status sched_create(const srv_model *m, sched_backend *be, int n_slots, int max_queue, sched **out, char *err,
                           size_t err_size) {
    *out = NULL;
    sched *s = hearth_calloc(1, sizeof *s);
    if (!s) return hearth_err(err, err_size, HEARTH_ERR_NOMEM, "out of memory");
    s->m = m;
    s->be = be;
    s->n_slots = n_slots;
    s->max_queue = max_queue;
    s->n_ctx = sched_backend_n_ctx(be);
    s->chunk = SCHED_CHUNK;
    s->slots = hearth_calloc((size_t)n_slots, sizeof *s->slots);
    s->items = hearth_calloc((size_t)n_slots, sizeof *s->items);
    if (!s->slots || !s->items) goto nomem;
    for (int i = 0; i < n_slots; i++)
        if (!(s->slots[i].cache = hearth_malloc_array((size_t)s->n_ctx, sizeof(int32_t)))) goto nomem;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    if (pthread_create(&s->thread, NULL, sched_main, s) != 0) {
        sched_free(s);
        return hearth_err(err, err_size, HEARTH_ERR_NOMEM, "cannot start the scheduler thread");
    }
    s->started = true;
    *out = s;
    return HEARTH_OK;
nomem:
    if (s->slots)
        for (int i = 0; i < n_slots; i++) free(s->slots[i].cache);
    free(s->slots);
    free(s->items);
    free(s);
    return hearth_err(err, err_size, HEARTH_ERR_NOMEM, "out of memory");
}

void sched_stop(sched *s) {
    if (!s || !s->started) return;
    pthread_mutex_lock(&s->mu);
    s->quit = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    s->started = false;
}

void sched_free(sched *s) {
    if (!s) return;
    sched_stop(s);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    for (int i = 0; i < s->n_slots; i++) free(s->slots[i].cache);
    free(s->slots);
    free(s->items);
    free(s);
}

int sched_submit(sched *s, sched_job *j) {
    pthread_mutex_lock(&s->mu);
    if (s->quit || s->n_queued >= s->max_queue + (s->n_slots - s->n_active)) {
        pthread_mutex_unlock(&s->mu);
        return -1;
    }
    atomic_fetch_add(&j->refs, 1);
    j->t_submit = hearth_time_s();
    j->next = NULL;
    if (s->q_tail) s->q_tail->next = j;
    else s->q_head = j;
    s->q_tail = j;
    s->n_queued++;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return 0;
}

void sched_expect(sched *s, int delta) {
    pthread_mutex_lock(&s->mu);
    s->n_expect += delta;
    if (delta < 0) pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

void sched_stats(sched *s, int *active, int *queued, int64_t *kv_used, int64_t *kv_total) {
    pthread_mutex_lock(&s->mu);
    *active = s->n_active;
    *queued = s->n_queued;
    int64_t used = 0;
    for (int i = 0; i < s->n_slots; i++) used += s->slots[i].n_cache;
    *kv_used = used;
    *kv_total = (int64_t)s->n_ctx * s->n_slots;
    pthread_mutex_unlock(&s->mu);
}
