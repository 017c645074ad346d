/* probe.c — how fast the engine's own kernels run on this machine, for `hearth fit`.
 *
 * The decode speed of a CPU engine is bounded by the memory (every weight is read once per
 * token) and by the kernels (unpacking quantized blocks and the dot products).  Which bound
 * wins depends on the weight type, the ISA and the build, so the probe times the real
 * hearth_matmul on a matrix of each weight type that does not fit in the caches (one token:
 * decode; FIT_PROBE_BATCH tokens: prefill), plus the fixed costs of a token that do not
 * scale with the weights: one small matmul (the thread pool's dispatch and the activation
 * conversion), attention over an F16 KV cache, and the element-wise vector operations.
 * Every figure is wall-clock time under whatever else the machine is doing, as `hearth
 * bench` measures it.  The whole probe takes about 1.5 s. */
#include "fit/fit.h"

#include "core/core.h"
#include "core/threadpool.h"
#include "kernels/kernels.h"
#include "kernels/ops.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PROBE_GEMV_BYTES (32u << 20) /* four times the largest L3 of a small machine */
#define PROBE_GEMM_BYTES (4u << 20)
#define PROBE_COLS       2048
#define PROBE_GEMV_S     0.050
#define PROBE_GEMM_S     0.030
#define PROBE_CALLS_S    0.200
#define PROBE_CALL_BYTES (128 << 10)
/* attention probe: an F16 cache of PROBE_ATT_LAYERS layers, each (positions, kv heads * hd) */
#define PROBE_ATT_HEADS    8
#define PROBE_ATT_KV_HEADS 4
#define PROBE_ATT_HD       64
#define PROBE_ATT_POS      2048
#define PROBE_ATT_LAYERS   4

/* Bytes whose every 16-bit and 32-bit word is a normal float of modest size (high nibble 3),
 * so that scales and F16/BF16/F32 weights never hit denormal or NaN slow paths. */
static void probe_fill(uint8_t *p, size_t n, uint64_t seed) {
    uint64_t x = seed | 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (uint8_t)(0x30 | (x & 0x0F));
    }
}

bool fit_probe_type_supported(hearth_type type) {
    const hearth_type_traits *tt = hearth_type_get((uint32_t)type);
    const hearth_type_kernels *k = hearth_kernels_get(type);
    if (!tt || !k || !k->vec_dot) return false;
    if (k->vec_dot_type == HEARTH_TYPE_F32) return true;
    const hearth_type_kernels *ak = hearth_kernels_get(k->vec_dot_type);
    return ak && ak->from_float;
}

double fit_probe_matmul(hearth_threadpool *pool, hearth_type type, int64_t cols, const void *w, size_t w_bytes,
                        int64_t n_tok, double seconds) {
    size_t row = hearth_type_row_size(type, cols);
    if (!row || n_tok < 1 || !fit_probe_type_supported(type)) return 0;
    hearth_mat W = { .type = type, .rows = (int64_t)(w_bytes / row), .cols = cols, .row_bytes = row, .data = w };
    if (W.rows < 1) return 0;
    /* Q4_0 is timed in the layout a model gets at load (model.c repack_weights); the probe's
     * bytes are random, so they need no interleaving to be read as it */
    W.x8      = hearth_repack_x8_ok(&W);
    size_t ss = hearth_matmul_scratch_size(&W, n_tok);
    float *x = hearth_malloc_array((size_t)(n_tok * cols), sizeof *x);
    float *y = hearth_malloc_array((size_t)(n_tok * W.rows), sizeof *y);
    void *scratch = malloc(ss ? ss : 1);
    double rate = 0;
    if (x && y && scratch && ss != SIZE_MAX) {
        for (int64_t i = 0; i < n_tok * cols; i++) x[i] = (float)((i * 7919) % 1000) * 1e-3f - 0.5f;
        /* no untimed warm-up call: the probe's buffer is faulted in when it is filled, and
         * on a busy machine a call of a large matrix is long */
        double t0 = hearth_time_s(), dt;
        int64_t calls = 0;
        do {
            hearth_matmul(pool, &W, x, y, n_tok, scratch);
            calls++;
            dt = hearth_time_s() - t0;
        } while (dt < seconds);
        rate = (double)W.rows * (double)row * (double)n_tok * (double)calls / dt;
    }
    free(x);
    free(y);
    free(scratch);
    return rate;
}

/* The fixed cost of one thread-pool job: runs of matmuls of PROBE_CALL_BYTES each (a small
 * layer's matrix, each from a different place in memory as in a forward pass).  On a busy
 * machine a preempted worker holds up every job, so the runs are spread over the whole probe
 * (slices between the other measurements) to sample how the scheduler treats the threads
 * rather than one quiet or busy moment.  The slices add up calls and time in *acc. */
typedef struct call_acc {
    double  t;
    int64_t calls;
} call_acc;

static void probe_calls_slice(hearth_threadpool *pool, const uint8_t *buf, size_t buf_bytes, double seconds,
                              call_acc *acc) {
    const int64_t cols = 1024;
    const size_t row = hearth_type_row_size(HEARTH_TYPE_Q8_0, cols);
    const int64_t rows = PROBE_CALL_BYTES / (int64_t)row;
    const size_t mat = (size_t)rows * row, n_mat = buf_bytes / mat;
    float x[1024 + PROBE_CALL_BYTES / 1024];
    uint8_t scratch[1024 + 64];
    if (n_mat == 0 || hearth_type_row_size(HEARTH_TYPE_Q8_0, cols) > sizeof scratch ||
        (size_t)(cols + rows) > HEARTH_ARRAY_LEN(x))
        return;
    for (int64_t i = 0; i < cols; i++) x[i] = (float)(i % 31) * 0.03f - 0.4f;
    double t0 = hearth_time_s(), dt;
    do {
        hearth_mat W = { .type = HEARTH_TYPE_Q8_0, .rows = rows, .cols = cols, .row_bytes = row,
                         .data = buf + (size_t)(acc->calls % (int64_t)n_mat) * mat };
        hearth_matmul(pool, &W, x, x + cols, 1, scratch);
        acc->calls++;
        dt = hearth_time_s() - t0;
    } while (dt < seconds);
    acc->t += dt;
}

/* Seconds per job beyond its weight time at the measured rate `q8_rate`; at least 0.1 us. */
static double probe_calls_result(const call_acc *acc, double q8_rate) {
    const size_t row = hearth_type_row_size(HEARTH_TYPE_Q8_0, 1024);
    const double mat = (double)(PROBE_CALL_BYTES / (int64_t)row) * (double)row;
    double per = acc->calls > 0 && q8_rate > 0 ? acc->t / (double)acc->calls - mat / q8_rate : 0;
    return per > 1e-7 ? per : 1e-7;
}

/* ---- attention, mirroring the forward pass: items (token, head) over the pool ------------ */
typedef struct probe_att {
    const uint16_t *kc, *vc; /* (pos, kv heads * hd) */
    float          *scratch; /* per thread: pos scores + hd */
    float          *q, *out; /* (heads * hd) */
    int64_t         n_pos;
} probe_att;

static void probe_att_task(void *arg, int ith, int nth) {
    const probe_att *a = arg;
    const int64_t hd = PROBE_ATT_HD, dkv = PROBE_ATT_KV_HEADS * hd, group = PROBE_ATT_HEADS / PROBE_ATT_KV_HEADS;
    float *scores = a->scratch + (size_t)ith * (size_t)(a->n_pos + hd), *q = scores + a->n_pos;
    for (int64_t h = ith; h < PROBE_ATT_HEADS; h += nth) {
        const int64_t kvh = h / group;
        ops_round_f16(a->q + h * hd, q, hd);
        for (int64_t j = 0; j < a->n_pos; j++) scores[j] = ops_dot_f16(q, a->kc + j * dkv + kvh * hd, hd) * 0.125f;
        ops_softmax(scores, a->n_pos);
        ops_round_f16(scores, scores, a->n_pos);
        float *out = a->out + h * hd;
        memset(out, 0, (size_t)hd * sizeof(float));
        for (int64_t j = 0; j < a->n_pos; j++) ops_axpy_f16(out, scores[j], a->vc + j * dkv + kvh * hd, hd);
    }
}

/* Runs `task` over the pool for about `seconds`, its K and V (*kc, *vc) cycling through
 * PROBE_ATT_LAYERS layers of `layer` bytes each in buf (K then V), as the forward pass reads a
 * different layer's cache each time; returns the calls made and their time in *dt. */
static int64_t probe_att_run(hearth_threadpool *pool, hearth_task_fn task, void *arg, const uint16_t **kc,
                             const uint16_t **vc, const uint8_t *buf, size_t layer, double seconds, double *dt) {
    int64_t calls = 0;
    double  t0    = hearth_time_s();
    do {
        const uint8_t *l = buf + (size_t)(calls % PROBE_ATT_LAYERS) * 2 * layer;
        *kc              = (const uint16_t *)l;
        *vc              = (const uint16_t *)(l + layer);
        hearth_threadpool_run(pool, task, arg);
        calls++;
        *dt = hearth_time_s() - t0;
    } while (*dt < seconds);
    return calls;
}

/* Attention cells (head x position x head size, K and V both read) per second. */
static double probe_attention(hearth_threadpool *pool, int nth, const uint8_t *buf, size_t buf_bytes,
                              double seconds) {
    const size_t layer = (size_t)PROBE_ATT_POS * PROBE_ATT_KV_HEADS * PROBE_ATT_HD * sizeof(uint16_t);
    if (buf_bytes < 2 * layer * PROBE_ATT_LAYERS) return 0;
    float *scratch = hearth_malloc_array((size_t)nth * (PROBE_ATT_POS + PROBE_ATT_HD), sizeof(float));
    float *q = hearth_calloc(2 * PROBE_ATT_HEADS * PROBE_ATT_HD, sizeof(float));
    double rate = 0;
    if (scratch && q) {
        for (int i = 0; i < PROBE_ATT_HEADS * PROBE_ATT_HD; i++) q[i] = (float)(i % 17) * 0.01f;
        probe_att a = { .scratch = scratch, .q = q, .out = q + PROBE_ATT_HEADS * PROBE_ATT_HD, .n_pos = PROBE_ATT_POS };
        double        dt;
        const int64_t calls = probe_att_run(pool, probe_att_task, &a, &a.kc, &a.vc, buf, layer, seconds, &dt);
        rate = (double)calls * PROBE_ATT_HEADS * PROBE_ATT_POS * PROBE_ATT_HD / dt;
    }
    free(scratch);
    free(q);
    return rate;
}

/* ---- prompt attention, mirroring the forward pass's tiles (model/forward.c attn_tile) ------
 * A prompt's tokens go through attention in tiles: the tokens of a run x the query heads of one
 * KV head, K·Q and V·P as matrix products over F32 copies of the K and V rows.  One tile here:
 * PROBE_PP_TOKENS tokens from position PROBE_PP_POS (the middle of a FIT_PREFILL_LEN prompt),
 * items (tile, KV head) over the pool; the same operations in the same order as attn_tile. */
#define PROBE_PP_TOKENS (128 / (PROBE_ATT_HEADS / PROBE_ATT_KV_HEADS))
#define PROBE_PP_POS    (FIT_PREFILL_LEN / 2 - PROBE_PP_TOKENS)
#define PROBE_PP_TILES  2
#define PROBE_PP_CELLS  (((PROBE_PP_POS + PROBE_PP_TILES * PROBE_PP_TOKENS) + 7) & ~7)

typedef struct probe_pp {
    const uint16_t *kc, *vc; /* (pos, kv heads * hd) */
    float          *scratch; /* per thread: probe_pp_floats() */
    const float    *q;       /* (tokens, heads * hd) */
    float          *out;     /* (tokens, heads * hd) */
} probe_pp;

static size_t probe_pp_floats(void) {
    const size_t group = PROBE_ATT_HEADS / PROBE_ATT_KV_HEADS, nq = PROBE_PP_TOKENS;
    return group * nq * (PROBE_ATT_HD + PROBE_PP_CELLS) + (size_t)PROBE_PP_CELLS * PROBE_ATT_HD;
}

static void probe_pp_tile(const probe_pp *a, float *scr, int64_t tile, int64_t kvh) {
    const int64_t hd = PROBE_ATT_HD, group = PROBE_ATT_HEADS / PROBE_ATT_KV_HEADS, nq = PROBE_PP_TOKENS;
    const int64_t Dq = PROBE_ATT_HEADS * hd, Dkv = PROBE_ATT_KV_HEADS * hd, ld = PROBE_PP_CELLS;
    const int64_t t0 = tile * nq, p0 = PROBE_PP_POS + t0, e = p0 + nq, nc = (e + 7) & ~(int64_t)7;
    float *Q = scr, *S = Q + group * nq * hd, *KV = S + group * nq * ld;
    for (int64_t g = 0; g < group; g++)
        for (int64_t i = 0; i < nq; i++)
            ops_round_f16(a->q + (t0 + i) * Dq + (kvh * group + g) * hd, Q + (g * nq + i) * hd, hd);
    for (int64_t j = 0; j < e; j++) ops_f16_to_f32(a->kc + j * Dkv + kvh * hd, KV + j * hd, hd);
    memset(KV + e * hd, 0, (size_t)(nc - e) * (size_t)hd * sizeof(float));
    for (int64_t g = 0; g < group; g++) ops_kq_ref8(S + g * nq * ld, ld, KV, p0 + 1, Q + g * nq * hd, nq, hd, 0.125f);
    for (int64_t g = 0; g < group; g++)
        for (int64_t i = 0; i < nq; i++) {
            float        *row = S + (g * nq + i) * ld;
            const int64_t n   = p0 + i + 1;
            ops_softmax_ref(row, n, 0);
            ops_round_f16(row, row, n);
            memset(row + n, 0, (size_t)(nc - n) * sizeof(float));
        }
    ops_f16_to_f32_cols(a->vc + kvh * hd, Dkv, e, hd, KV, nc);
    for (int64_t c = 0; c < hd; c++) memset(KV + c * nc + e, 0, (size_t)(nc - e) * sizeof(float));
    for (int64_t g = 0; g < group; g++)
        for (int64_t i = 0; i < nq; i += 24) {
            const int64_t m = HEARTH_MIN((int64_t)24, nq - i), n = (p0 + i + m + 7) & ~(int64_t)7;
            ops_gemm_ref8(n, a->out + (t0 + i) * Dq + (kvh * group + g) * hd, (size_t)Dq, KV, (size_t)nc * 4, hd,
                          S + (g * nq + i) * ld, (size_t)ld * 4, m);
        }
}

static void probe_pp_task(void *arg, int ith, int nth) {
    const probe_pp *a = arg;
    for (int64_t item = ith; item < PROBE_PP_TILES * PROBE_ATT_KV_HEADS; item += nth)
        probe_pp_tile(a, a->scratch + (size_t)ith * probe_pp_floats(), item / PROBE_ATT_KV_HEADS,
                      item % PROBE_ATT_KV_HEADS);
}

/* Attention cells per second of a prompt's tiles, in attn's units (head x position x head
 * size, K and V): each token counts the positions up to its own.  0 where the tiles do not run
 * (no vector kernel for them): a prompt then goes token by token, at attn's rate. */
static double probe_attention_prompt(hearth_threadpool *pool, int nth, const uint8_t *buf, size_t buf_bytes,
                                     double seconds) {
    const size_t layer = (size_t)PROBE_PP_CELLS * PROBE_ATT_KV_HEADS * PROBE_ATT_HD * sizeof(uint16_t);
    if (!ops_gemm_ref8_available() || buf_bytes < 2 * layer * PROBE_ATT_LAYERS) return 0;
    const int64_t n_tok = PROBE_PP_TILES * PROBE_PP_TOKENS, Dq = PROBE_ATT_HEADS * PROBE_ATT_HD;
    float *scratch = hearth_malloc_array((size_t)nth * probe_pp_floats(), sizeof(float));
    float *q = hearth_calloc(2 * (size_t)(n_tok * Dq), sizeof(float));
    double rate = 0;
    if (scratch && q) {
        for (int64_t i = 0; i < n_tok * Dq; i++) q[i] = (float)(i % 17) * 0.01f;
        probe_pp a = { .scratch = scratch, .q = q, .out = q + n_tok * Dq };
        double        dt;
        const int64_t calls = probe_att_run(pool, probe_pp_task, &a, &a.kc, &a.vc, buf, layer, seconds, &dt);
        double cells = 0; /* per call: every token's positions x heads x head size */
        for (int64_t t = 0; t < n_tok; t++) cells += (double)(PROBE_PP_POS + t + 1);
        rate = (double)calls * cells * PROBE_ATT_HEADS * PROBE_ATT_HD / dt;
    }
    free(scratch);
    free(q);
    return rate;
}

/* Element-wise work of a layer (norms, activation, residual adds) in floats per second,
 * on one thread as the forward pass runs it. */
static double probe_vector(double seconds) {
    const int64_t n = 4096;
    float *a = hearth_malloc_array(3 * (size_t)n, sizeof *a);
    double rate = 0;
    if (a) {
        float *b = a + n, *c = b + n;
        for (int64_t i = 0; i < 3 * n; i++) a[i] = (float)(i % 101) * 0.01f - 0.5f;
        int64_t calls = 0;
        double t0 = hearth_time_s(), dt;
        do {
            ops_rmsnorm(c, a, b, n, 1e-6f);
            ops_silu_mul(c, b, n);
            ops_add(a, c, n);
            calls++;
            dt = hearth_time_s() - t0;
        } while (dt < seconds);
        rate = (double)calls * 3.0 * (double)n / dt;
    }
    free(a);
    return rate;
}

hearth_status fit_rates_probe(fit_rates *r, int32_t threads, char *err, size_t err_size) {
    memset(r, 0, sizeof *r);
    double t_start = hearth_time_s();
    if (threads <= 0) threads = hearth_physical_cores();
    r->threads = threads;
    snprintf(r->isa, sizeof r->isa, "%s", hearth_kernels_isa());
    snprintf(r->version, sizeof r->version, "%s", hearth_version());
    hearth_threadpool *pool = threads > 1 ? hearth_threadpool_create(threads) : NULL;
    uint8_t *buf = malloc(PROBE_GEMV_BYTES);
    if (!buf || (threads > 1 && !pool)) {
        free(buf);
        hearth_threadpool_free(pool);
        return hearth_err(err, err_size, HEARTH_ERR_NOMEM, "fit: no memory for the kernel probe");
    }
    probe_fill(buf, PROBE_GEMV_BYTES, 0x9E3779B97F4A7C15ull);
    int n_types = 0;
    for (int t = 0; t < HEARTH_TYPE_COUNT; t++) n_types += fit_probe_type_supported((hearth_type)t);
    call_acc calls = { 0 };
    probe_calls_slice(pool, buf, PROBE_GEMV_BYTES, PROBE_CALLS_S / 4, &calls);
    for (int t = 0; t < HEARTH_TYPE_COUNT; t++) {
        if (!fit_probe_type_supported((hearth_type)t)) continue;
        probe_calls_slice(pool, buf, PROBE_GEMV_BYTES, PROBE_CALLS_S * 3 / 4 / HEARTH_MAX(1, n_types), &calls);
        r->gemv[t] = fit_probe_matmul(pool, (hearth_type)t, PROBE_COLS, buf, PROBE_GEMV_BYTES, 1, PROBE_GEMV_S);
        /* prefill: FIT_PROBE_BATCH tokens against a 4 MiB matrix (each weight tile is used
         * for every token, so it runs from the caches), a different part of the buffer for
         * each type so that it starts cold as in a model */
        size_t off = (size_t)t * PROBE_GEMM_BYTES % (PROBE_GEMV_BYTES - PROBE_GEMM_BYTES);
        r->gemm[t] = fit_probe_matmul(pool, (hearth_type)t, PROBE_COLS, buf + off, PROBE_GEMM_BYTES, FIT_PROBE_BATCH,
                                      PROBE_GEMM_S);
    }
    r->call_s = probe_calls_result(&calls, r->gemv[HEARTH_TYPE_Q8_0]);
    r->attn = probe_attention(pool, threads, buf, PROBE_GEMV_BYTES, 0.040);
    r->attn_prompt = probe_attention_prompt(pool, threads, buf, PROBE_GEMV_BYTES, 0.030);
    r->vec  = probe_vector(0.010);
    /* a timing of zero gives an infinite rate, which JSON cannot carry (the cache would never
     * read back): keep every figure finite */
    for (int t = 0; t < HEARTH_TYPE_COUNT; t++) {
        if (!isfinite(r->gemv[t])) r->gemv[t] = r->gemv[t] > 0 ? 1e15 : 0;
        if (!isfinite(r->gemm[t])) r->gemm[t] = r->gemm[t] > 0 ? 1e15 : 0;
    }
    if (!isfinite(r->call_s)) r->call_s = 1e-9;
    if (!isfinite(r->attn)) r->attn = 1e15;
    if (!isfinite(r->attn_prompt)) r->attn_prompt = 1e15;
    if (!isfinite(r->vec)) r->vec = 1e15;
    free(buf);
    hearth_threadpool_free(pool);
    r->probe_s = hearth_time_s() - t_start;
    r->measured_at = (double)time(NULL);
    r->loadavg = -1;
    double la[1];
    if (getloadavg(la, 1) == 1) r->loadavg = la[0];
    if (r->gemv[HEARTH_TYPE_Q8_0] <= 0 || r->attn <= 0 || r->vec <= 0)
        return hearth_err(err, err_size, HEARTH_ERR_IO, "fit: the kernel probe could not time the kernels");
    r->valid = true;
    return HEARTH_OK;
}

/* ---- the cache: one file per machine, thread count and build ---------------------------- */

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const uint8_t *c = p;
    for (size_t i = 0; i < n; i++) h = (h ^ c[i]) * 1099511628211ull;
    return h;
}

/* Identity of this build: version, kernel table and the running binary's size and mtime
 * (a rebuilt engine gets new rates even when its version string did not change). */
static uint64_t build_key(int32_t threads) {
    uint64_t h = 1469598103934665603ull;
    char host[64] = "host", exe[4096];
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    h = fnv(h, host, strlen(host));
    h = fnv(h, hearth_version(), strlen(hearth_version()));
    h = fnv(h, hearth_kernels_isa(), strlen(hearth_kernels_isa()));
    h = fnv(h, &threads, sizeof threads);
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    struct stat st;
    if (n > 0) {
        exe[n] = '\0';
        h = fnv(h, exe, (size_t)n);
        if (stat(exe, &st) == 0) {
            int64_t id[3] = { (int64_t)st.st_size, (int64_t)st.st_mtim.tv_sec, (int64_t)st.st_mtim.tv_nsec };
            h = fnv(h, id, sizeof id);
        }
    }
    return h;
}

static double json_num(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static bool rates_read(const char *path, fit_rates *r) {
    FILE *f = fopen(path, "rb");
    if (!f) return false;
    char buf[16384];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    cJSON *j = cJSON_Parse(buf);
    if (!j) return false;
    memset(r, 0, sizeof *r);
    const cJSON *isa = cJSON_GetObjectItemCaseSensitive(j, "isa"), *ver = cJSON_GetObjectItemCaseSensitive(j, "version");
    const cJSON *gv = cJSON_GetObjectItemCaseSensitive(j, "gemv"), *gm = cJSON_GetObjectItemCaseSensitive(j, "gemm");
    if (cJSON_IsString(isa)) snprintf(r->isa, sizeof r->isa, "%s", isa->valuestring);
    if (cJSON_IsString(ver)) snprintf(r->version, sizeof r->version, "%s", ver->valuestring);
    r->threads     = (int32_t)json_num(j, "threads");
    r->call_s      = json_num(j, "call_s");
    r->attn        = json_num(j, "attn");
    r->attn_prompt = HEARTH_MAX(0.0, json_num(j, "attn_prompt"));
    r->vec         = json_num(j, "vec");
    r->probe_s     = json_num(j, "probe_s");
    r->measured_at = json_num(j, "measured_at");
    r->loadavg     = json_num(j, "loadavg");
    for (int t = 0; t < HEARTH_TYPE_COUNT; t++) {
        if (!hearth_type_get((uint32_t)t)) continue;
        const char *name = hearth_type_name((uint32_t)t);
        r->gemv[t] = HEARTH_MAX(0.0, json_num(gv, name));
        r->gemm[t] = HEARTH_MAX(0.0, json_num(gm, name));
    }
    cJSON_Delete(j);
    r->valid = r->gemv[HEARTH_TYPE_Q8_0] > 0 && r->call_s > 0 && r->attn > 0 && r->vec > 0 &&
               !strcmp(r->isa, hearth_kernels_isa());
    return r->valid;
}

static void rates_write(const char *path, const fit_rates *r) {
    cJSON *j = cJSON_CreateObject();
    if (!j) return;
    cJSON_AddStringToObject(j, "isa", r->isa);
    cJSON_AddStringToObject(j, "version", r->version);
    cJSON_AddNumberToObject(j, "threads", r->threads);
    cJSON_AddNumberToObject(j, "call_s", r->call_s);
    cJSON_AddNumberToObject(j, "attn", r->attn);
    cJSON_AddNumberToObject(j, "attn_prompt", r->attn_prompt);
    cJSON_AddNumberToObject(j, "vec", r->vec);
    cJSON_AddNumberToObject(j, "probe_s", r->probe_s);
    cJSON_AddNumberToObject(j, "measured_at", r->measured_at);
    cJSON_AddNumberToObject(j, "loadavg", r->loadavg);
    cJSON *gv = cJSON_AddObjectToObject(j, "gemv"), *gm = cJSON_AddObjectToObject(j, "gemm");
    for (int t = 0; t < HEARTH_TYPE_COUNT; t++)
        if (r->gemv[t] > 0) {
            cJSON_AddNumberToObject(gv, hearth_type_name((uint32_t)t), r->gemv[t]);
            cJSON_AddNumberToObject(gm, hearth_type_name((uint32_t)t), r->gemm[t]);
        }
    char *s = cJSON_Print(j);
    cJSON_Delete(j);
    if (!s) return;
    char tmp[4600];
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (f) {
        bool ok = fputs(s, f) >= 0;
        ok = fclose(f) == 0 && ok;
        if (ok) rename(tmp, path);
        else remove(tmp);
    }
    free(s);
}

hearth_status fit_rates_get(fit_rates *r, int32_t threads, const char *cache_dir, bool reprobe, char *err,
                            size_t err_size) {
    if (threads <= 0) threads = hearth_physical_cores();
    char path[4400];
    if (cache_dir) {
        snprintf(path, sizeof path, "%s/kernels-%016llx.json", cache_dir, (unsigned long long)build_key(threads));
        if (!reprobe && rates_read(path, r)) return HEARTH_OK;
    }
    hearth_status st = fit_rates_probe(r, threads, err, err_size);
    if (st == HEARTH_OK && cache_dir) {
        mkdir(cache_dir, 0755); /* fit_machine_probe made its parents */
        rates_write(path, r);
    }
    return st;
}
