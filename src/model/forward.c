/*
 * forward.c — the decoder forward pass shared by llama, qwen2, qwen3 and gemma3, over an
 * F16 KV cache.  One function, read top to bottom; the architecture table (model.c) switches
 * the few steps that differ.  All buffers are sized at state creation: no allocation per token.
 *
 * A state holds the KV caches of n_seq sequences.  One pass can carry tokens of several
 * sequences (continuous batching in the server): the matmuls see all of them as rows of one
 * activation matrix, so the weights are read once per pass; RoPE, the cache writes and the
 * attention follow each token's own (sequence, position).  Every operation is per row, so a
 * token gets the same arithmetic whatever else shares its batch.
 */
#include "kernels/ops.h"
#include "model/model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct model_state {
    int64_t n_ctx, n_batch, n_seq, n_layer;
    bool    logits_all;
    int64_t n_out_max; /* logits rows */
    hearth_threadpool *pool;
    int     n_threads;
    /* activations, (n_batch, width) row-major */
    float *x;       /* (B, n_embd) residual stream */
    float *xn;      /* (B, n_embd) normed input of a sub-block */
    float *q;       /* (B, n_head*head_dim) */
    float *k;       /* (B, n_head_kv*head_dim) */
    float *v;       /* (B, n_head_kv*head_dim) */
    float *att;     /* (B, n_head*head_dim) attention output */
    float *tmp;     /* (B, n_embd) sub-block output */
    float *gate;    /* (B, n_ff) */
    float *up;      /* (B, n_ff) */
    float *logits;  /* (n_out_max, n_vocab) */
    float *rope_g;  /* (B, n_rot) cos/sin for global layers */
    float *rope_l;  /* (B, n_rot) cos/sin for sliding-window layers */
    float *att_scratch; /* (n_threads, n_ctx + head_dim) scores and accumulator per thread */
    void  *mm_scratch;  /* activations converted for the matmul */
    /* prompt attention in tiles (attn_tile): per thread tile_floats of scratch; a tile holds
     * up to tile_q tokens of each query head of one KV head against up to tile_cells cells (0:
     * no tiles), its scores in tile_s floats (fewer tokens when the cells are many); per layer
     * the blocks of tokens that go through tiles */
    float   *att_tile;
    size_t   tile_floats, tile_s;
    int64_t  tile_cells, tile_q;
    int64_t *att_blk;   /* (2 B) first token and token count of each block */
    uint8_t *att_tiled; /* (B) token attended in a tile */
    /* the batch being run: per token its sequence and position; rows that get logits */
    int32_t *b_seq, *b_pos; /* (B) */
    int64_t *seg_len;       /* (B) runs of consecutive tokens of one sequence, for the matmuls */
    int64_t *b_out;         /* (n_out_max) token indices */
    /* KV cache, F16, per sequence and layer (cells[il], n_head_kv*head_dim) each: a global layer
     * holds n_ctx cells (cell = position); a sliding-window layer min(n_ctx, n_swa + n_batch)
     * cells used as a ring (cell = position % cells), enough for the window of every token of
     * a batch, as the reference's iSWA cache */
    uint16_t *k_cache, *v_cache;
    int64_t  *cells;     /* (n_layer) */
    size_t   *layer_off; /* (n_layer) elements from a sequence's start to the layer's cell 0 */
    size_t    seq_elems; /* elements per sequence */
    int64_t   n_swa;     /* window of the ring layers (0: none) */
    int64_t  *lo_valid;  /* (n_seq) lowest position whose K/V every ring still holds */
    size_t    kv_bytes;
};

/* attention scratch per thread beyond the scores: q rounded to F16 (hd), 32 lanes of V sums (32 hd) */
#define ATT_EXTRA(hd) ((size_t)(hd) * 33)

/* Query rows per attention tile (tokens x query heads of one KV head); the scores a tile holds
 * (ATT_TILE_QUERIES rows of up to ATT_TILE_SPAN cells: past that span a tile takes fewer
 * tokens); the floats of its F32 copy of one head's K or V rows, which bound the cells a tile
 * covers (hd x cells; longer spans go token by token): 32768 cells of a 64-wide head, 16384 of
 * a 128-wide one. */
#define ATT_TILE_QUERIES   128
#define ATT_TILE_SPAN      4096
#define ATT_TILE_KV_FLOATS ((int64_t)1 << 21)

static size_t max_sz(size_t a, size_t b) { return a > b ? a : b; }

hearth_status model_state_create(const model *m, int64_t n_ctx, int64_t n_batch, int64_t n_seq, bool logits_all,
                                 int n_threads, model_state **out, char *err, size_t err_size) {
    const model_hparams *hp = &m->hp;
    *out = NULL;
    if (n_ctx < 1 || n_ctx > ((int64_t)1 << 24))
        return hearth_err(err, err_size, HEARTH_ERR_ARG, "context size %lld out of range", (long long)n_ctx);
    if (n_batch < 1 || n_batch > 65536)
        return hearth_err(err, err_size, HEARTH_ERR_ARG, "batch size %lld out of range", (long long)n_batch);
    if (n_seq < 1 || n_seq > 4096)
        return hearth_err(err, err_size, HEARTH_ERR_ARG, "sequence count %lld out of range", (long long)n_seq);
    if (n_threads < 1 || n_threads > 1024)
        return hearth_err(err, err_size, HEARTH_ERR_ARG, "thread count %d out of range", n_threads);
    model_state *s = hearth_calloc(1, sizeof *s);
    if (!s) return hearth_err(err, err_size, HEARTH_ERR_NOMEM, "out of memory");
    s->n_ctx = n_ctx;
    s->n_batch = n_batch;
    s->logits_all = logits_all;
    s->n_seq = n_seq;
    s->n_layer = hp->n_layer;
    s->n_out_max = logits_all ? n_batch : n_seq;
    s->n_threads = n_threads;
    const size_t B = (size_t)n_batch, E = (size_t)hp->n_embd, Dq = (size_t)(hp->n_head * hp->head_dim_k),
                 Dkv = (size_t)(hp->n_head_kv * hp->head_dim_k), F = (size_t)hp->n_ff, V = (size_t)hp->n_vocab;
    s->cells     = hearth_malloc_array((size_t)hp->n_layer, sizeof(int64_t));
    s->layer_off = hearth_malloc_array((size_t)hp->n_layer, sizeof(size_t));
    s->lo_valid  = hearth_calloc((size_t)n_seq, sizeof(int64_t));
    if (!s->cells || !s->layer_off || !s->lo_valid) {
        model_state_free(s);
        return hearth_err(err, err_size, HEARTH_ERR_NOMEM, "out of memory");
    }
    const int64_t swa_cells = hp->n_swa > 0 && hp->n_swa + n_batch < n_ctx ? hp->n_swa + n_batch : n_ctx;
    uint64_t seq_cells = 0;
    for (int64_t il = 0; il < hp->n_layer; il++) {
        s->cells[il]     = hp->swa_layer[il] ? swa_cells : n_ctx;
        s->layer_off[il] = (size_t)seq_cells * Dkv;
        seq_cells += (uint64_t)s->cells[il];
        if (hp->swa_layer[il]) s->n_swa = hp->n_swa;
    }
    uint64_t kv_elems;
    if (!hearth_mul_u64(seq_cells * (uint64_t)n_seq, Dkv, &kv_elems) || kv_elems > ((uint64_t)1 << 40)) {
        model_state_free(s);
        return hearth_err(err, err_size, HEARTH_ERR_RANGE, "KV cache too large for context %lld", (long long)n_ctx);
    }
    s->seq_elems = (size_t)seq_cells * Dkv;
    s->kv_bytes  = (size_t)kv_elems * 2 * sizeof(uint16_t);
    s->x      = hearth_malloc_array(B * E, sizeof(float));
    s->xn     = hearth_malloc_array(B * E, sizeof(float));
    s->q      = hearth_malloc_array(B * Dq, sizeof(float));
    s->k      = hearth_malloc_array(B * Dkv, sizeof(float));
    s->v      = hearth_malloc_array(B * Dkv, sizeof(float));
    s->att    = hearth_malloc_array(B * Dq, sizeof(float));
    s->tmp    = hearth_malloc_array(B * E, sizeof(float));
    s->gate   = hearth_malloc_array(B * F, sizeof(float));
    s->up     = hearth_malloc_array(B * F, sizeof(float));
    s->logits = hearth_malloc_array((size_t)s->n_out_max * V, sizeof(float));
    s->b_seq  = hearth_malloc_array(B, sizeof(int32_t));
    s->b_pos  = hearth_malloc_array(B, sizeof(int32_t));
    s->seg_len = hearth_malloc_array(B, sizeof(int64_t));
    s->b_out  = hearth_malloc_array((size_t)s->n_out_max, sizeof(int64_t));
    s->rope_g = hearth_malloc_array(B * (size_t)hp->n_rot, sizeof(float));
    s->rope_l = hearth_malloc_array(B * (size_t)hp->n_rot, sizeof(float));
    s->att_scratch = hearth_malloc_array((size_t)n_threads * ((size_t)n_ctx + ATT_EXTRA(hp->head_dim_v)), sizeof(float));
    s->att_blk     = hearth_malloc_array(2 * B, sizeof(int64_t));
    s->att_tiled   = hearth_calloc(B, 1);
    /* HEARTH_ATT_TILES=0: every token through the per-token attention (the same bits; for
     * comparisons and tests) */
    const char *tiles_env = getenv("HEARTH_ATT_TILES");
    if (n_batch >= 2 && hp->head_dim_k % 8 == 0 && hp->head_dim_k == hp->head_dim_v &&
        !(tiles_env && !strcmp(tiles_env, "0"))) {
        const int64_t hd = hp->head_dim_k, group = hp->n_head / hp->n_head_kv;
        s->tile_cells  = HEARTH_MIN((n_ctx + 7) & ~(int64_t)7,
                                    HEARTH_MAX((int64_t)ATT_TILE_SPAN, ATT_TILE_KV_FLOATS / hd & ~(int64_t)7));
        s->tile_q      = HEARTH_MAX((int64_t)1, (int64_t)ATT_TILE_QUERIES / group);
        s->tile_s      = (size_t)(group * s->tile_q) * (size_t)HEARTH_MIN(s->tile_cells, (int64_t)ATT_TILE_SPAN);
        s->tile_floats = (size_t)(group * s->tile_q * hd) + s->tile_s + (size_t)hd * (size_t)s->tile_cells;
        s->att_tile    = hearth_malloc_array((size_t)n_threads * s->tile_floats, sizeof(float));
        if (!s->att_tile) s->tile_cells = 0;
    }
    s->k_cache = hearth_malloc_array((size_t)kv_elems, sizeof(uint16_t));
    s->v_cache = hearth_malloc_array((size_t)kv_elems, sizeof(uint16_t));
    size_t mm = hearth_matmul_scratch_size(&m->output, n_batch);
    for (int64_t il = 0; il < hp->n_layer; il++) {
        const model_layer *ly = &m->layers[il];
        const hearth_mat *ws[] = { &ly->wq, &ly->wk, &ly->wv, &ly->wo, &ly->w_gate, &ly->w_up, &ly->w_down };
        for (size_t i = 0; i < HEARTH_ARRAY_LEN(ws); i++) mm = max_sz(mm, hearth_matmul_scratch_size(ws[i], n_batch));
    }
    s->mm_scratch = malloc(mm ? mm : 1);
    s->pool = n_threads > 1 ? hearth_threadpool_create(n_threads) : NULL;
    if (!s->x || !s->xn || !s->q || !s->k || !s->v || !s->att || !s->tmp || !s->gate || !s->up || !s->logits ||
        !s->rope_g || !s->rope_l || !s->att_scratch || !s->k_cache || !s->v_cache || !s->mm_scratch ||
        !s->b_seq || !s->b_pos || !s->b_out || !s->seg_len || !s->att_blk || !s->att_tiled ||
        (n_threads > 1 && !s->pool)) {
        model_state_free(s);
        return hearth_err(err, err_size, HEARTH_ERR_NOMEM, "out of memory for a context of %lld tokens",
                          (long long)n_ctx);
    }
    *out = s;
    return HEARTH_OK;
}

void model_state_free(model_state *s) {
    if (!s) return;
    hearth_threadpool_free(s->pool);
    free(s->x); free(s->xn); free(s->q); free(s->k); free(s->v); free(s->att); free(s->tmp);
    free(s->gate); free(s->up); free(s->logits); free(s->rope_g); free(s->rope_l); free(s->att_scratch);
    free(s->att_tile); free(s->att_blk); free(s->att_tiled);
    free(s->mm_scratch); free(s->k_cache); free(s->v_cache);
    free(s->b_seq); free(s->b_pos); free(s->b_out); free(s->seg_len);
    free(s->cells); free(s->layer_off); free(s->lo_valid);
    free(s);
}

int64_t model_state_n_ctx(const model_state *s) { return s->n_ctx; }
int64_t model_state_n_batch(const model_state *s) { return s->n_batch; }
int64_t model_state_n_seq(const model_state *s) { return s->n_seq; }
int64_t model_state_n_out_max(const model_state *s) { return s->n_out_max; }
size_t  model_state_kv_bytes(const model_state *s) { return s->kv_bytes; }
hearth_threadpool *model_state_pool(model_state *s) { return s->pool; }
const float *model_state_hidden(const model_state *s) { return s->xn; }

/* Cell 0 of the cache rows of sequence `seq`, layer `il`: (cells[il], Dkv) F16 values. */
static uint16_t *kv_layer(const model_state *s, uint16_t *cache, int64_t seq, int64_t il) {
    return cache + (size_t)seq * s->seq_elems + s->layer_off[il];
}

int64_t model_state_seq_keep(const model_state *s, int64_t seq, int64_t n) {
    if (n <= 0 || seq < 0 || seq >= s->n_seq) return 0;
    const int64_t need = n - s->n_swa + 1 > 0 ? n - s->n_swa + 1 : 0; /* oldest position the next token sees */
    return s->n_swa == 0 || need >= s->lo_valid[seq] ? n : 0;
}

/* Before a pass: every sequence's first token in the batch (at p, its tokens being consecutive)
 * must find positions max(0, p - n_swa + 1) .. p - 1 still in the rings. */
static hearth_status check_windows(model_state *s, int64_t n, char *err, size_t err_size) {
    if (s->n_swa == 0) return HEARTH_OK;
    for (int64_t t = 0; t < n; t++) {
        bool first = true;
        for (int64_t u = 0; u < t && first; u++) first = s->b_seq[u] != s->b_seq[t];
        if (!first) continue;
        const int64_t p = s->b_pos[t];
        if (p > 0 && model_state_seq_keep(s, s->b_seq[t], p) != p)
            return hearth_err(err, err_size, HEARTH_ERR_RANGE,
                              "position %lld of sequence %d: its sliding window (%lld tokens) is no longer cached; "
                              "decode the sequence again from 0",
                              (long long)p, s->b_seq[t], (long long)s->n_swa);
    }
    return HEARTH_OK;
}

/* After a pass: the rings now hold, per sequence, the cells of its newest positions. */
static void note_windows(model_state *s, int64_t n) {
    if (s->n_swa == 0) return;
    int64_t cap = s->n_ctx;
    for (int64_t il = 0; il < s->n_layer; il++) cap = s->cells[il] < cap ? s->cells[il] : cap;
    for (int64_t t = 0; t < n; t++) {
        const int64_t seq = s->b_seq[t], lo = s->b_pos[t] + 1 - cap;
        if (s->b_pos[t] == 0 && s->lo_valid[seq] > 0) { /* a sequence begun again from 0 */
            bool restart = true;
            for (int64_t u = 0; u < t && restart; u++) restart = s->b_seq[u] != seq;
            if (restart) s->lo_valid[seq] = 0;
        }
        if (lo > s->lo_valid[seq]) s->lo_valid[seq] = lo;
    }
}

/* ---- attention over the cache, split across threads by (token, head) ---------------------- */

typedef struct attn_job {
    const model_hparams *hp;
    model_state         *s;
    int64_t              il;          /* layer */
    int64_t              n_tok, window; /* window 0: full causal */
    float                kq_scale;      /* applied to K·Q (1 when Q was pre-scaled) */
    int64_t              n_blk;         /* blocks of s->att_blk */
} attn_job;

/* The lowest position a token at pos attends to. */
static int64_t attn_lo(int64_t pos, int64_t window) { return window > 0 && pos - window + 1 > 0 ? pos - window + 1 : 0; }

/* Splits runs of 2+ tokens of one sequence at consecutive positions into blocks of up to
 * tile_q tokens for attn_tile (fewer where their scores would not fit in tile_s floats), where
 * the block's cells fit a tile and the cells its tokens attend fit a ring once; marks their
 * tokens.  Returns the number of blocks. */
static int64_t attn_blocks(model_state *s, int64_t il, int64_t n, int64_t window, int64_t group) {
    memset(s->att_tiled, 0, (size_t)n);
    if (s->tile_cells == 0 || !ops_gemm_ref8_available()) return 0;
    const int64_t cap = s->cells[il];
    int64_t       nb  = 0;
    for (int64_t t0 = 0, t1; t0 < n; t0 = t1) {
        for (t1 = t0 + 1; t1 < n && s->b_seq[t1] == s->b_seq[t0] && s->b_pos[t1] == s->b_pos[t1 - 1] + 1; t1++) {}
        if (t1 - t0 < 2) continue;
        for (int64_t t = t0, m; t < t1; t += m) {
            m = HEARTH_MIN(s->tile_q, t1 - t);
            const int64_t b0 = attn_lo(s->b_pos[t], window) & ~(int64_t)7;
            const int64_t rows = (int64_t)(s->tile_s / (size_t)(((s->b_pos[t] + m + 7) & ~(int64_t)7) - b0));
            m = HEARTH_MAX((int64_t)1, HEARTH_MIN(m, rows / group));
            const int64_t e = s->b_pos[t] + m;
            if (((e + 7) & ~(int64_t)7) - b0 > s->tile_cells || e - attn_lo(s->b_pos[t], window) > cap ||
                (size_t)(group * m) * (size_t)(((e + 7) & ~(int64_t)7) - b0) > s->tile_s)
                continue;
            s->att_blk[2 * nb]     = t;
            s->att_blk[2 * nb + 1] = m;
            nb++;
            memset(s->att_tiled + t, 1, (size_t)m);
        }
    }
    return nb;
}

/* Attention of nq tokens from t0 (one sequence, consecutive positions) for the query heads of
 * KV head kvh, as matrix products over the cells b0..e-1 (b0 the first token's lowest cell
 * rounded down to 8, e one past the last token's): the K rows converted to F32 once, K·Q of
 * every query against the cells up to its own (ops_kq_ref8), then per row the softmax and F16
 * rounding over the token's own cells and zeros on the others, then V·P per head as a GEMM over
 * V transposed to F32 (zeros outside the cells attended), each group of tokens only over the
 * cells up to its last token's.  Per (token, head) these are the per-token path's operations
 * in its order (8 lanes, its sums; the cells with p = 0 add nothing): the same bits, with each
 * K and V row converted once per tile instead of once per query. */
#define ATT_TILE_VP_TOKENS 24
static void attn_tile(const attn_job *J, float *scr, int64_t t0, int64_t nq, int64_t kvh) {
    const model_hparams *hp = J->hp;
    model_state         *s  = J->s;
    const int64_t hd = hp->head_dim_k, Dq = hp->n_head * hd, Dkv = hp->n_head_kv * hd;
    const int64_t group = hp->n_head / hp->n_head_kv;
    const int64_t p0 = s->b_pos[t0], e = p0 + nq, lo0 = attn_lo(p0, J->window);
    const int64_t b0 = lo0 & ~(int64_t)7, nc = ((e + 7) & ~(int64_t)7) - b0, ld = nc;
    const int64_t cap = s->cells[J->il]; /* cell of position j: j % cap (a ring may wrap in the span) */
    const uint16_t *kc = kv_layer(s, s->k_cache, s->b_seq[t0], J->il) + kvh * hd;
    const uint16_t *vc = kv_layer(s, s->v_cache, s->b_seq[t0], J->il) + kvh * hd;
    float *Q  = scr;                                     /* (group * nq, hd) queries rounded to F16 */
    float *S  = Q + (size_t)(group * s->tile_q * hd);    /* (group * nq, ld) scores, then p */
    float *KV = S + s->tile_s;                           /* K rows (nc, hd), then V^T (hd, nc) */
    for (int64_t g = 0; g < group; g++)
        for (int64_t i = 0; i < nq; i++)
            ops_round_f16(s->q + (t0 + i) * Dq + (kvh * group + g) * hd, Q + (g * nq + i) * hd, hd);
    /* (the up to 7 cells below lo0 may hold a later position of a ring: their scores are
     * dropped) */
    for (int64_t j = 0; j < e - b0; j++) ops_f16_to_f32(kc + (size_t)((b0 + j) % cap) * (size_t)Dkv, KV + j * hd, hd);
    memset(KV + (e - b0) * hd, 0, (size_t)(nc - (e - b0)) * (size_t)hd * sizeof(float));
    for (int64_t g = 0; g < group; g++)
        ops_kq_ref8(S + g * nq * ld, ld, KV, p0 + 1 - b0, Q + g * nq * hd, nq, hd, J->kq_scale);
    for (int64_t g = 0; g < group; g++)
        for (int64_t i = 0; i < nq; i++) {
            float        *row = S + (g * nq + i) * ld;
            const int64_t pos = p0 + i, lo = attn_lo(pos, J->window), n = pos - lo + 1;
            float        *x   = row + (lo - b0);
            ops_softmax_ref(x, n, lo);
            ops_round_f16(x, x, n);
            memset(row, 0, (size_t)(lo - b0) * sizeof(float));
            memset(x + n, 0, (size_t)(nc - (lo - b0) - n) * sizeof(float));
        }
    const int64_t r0 = lo0 % cap, n1 = HEARTH_MIN(e - lo0, cap - r0); /* the cells attended, in 1 or 2 runs of rows */
    ops_f16_to_f32_cols(vc + (size_t)r0 * (size_t)Dkv, Dkv, n1, hd, KV + (lo0 - b0), nc);
    if (n1 < e - lo0) ops_f16_to_f32_cols(vc, Dkv, e - lo0 - n1, hd, KV + (lo0 - b0) + n1, nc);
    for (int64_t c = 0; c < hd; c++) {
        memset(KV + c * nc, 0, (size_t)(lo0 - b0) * sizeof(float));
        memset(KV + c * nc + (e - b0), 0, (size_t)(nc - (e - b0)) * sizeof(float));
    }
    for (int64_t g = 0; g < group; g++)
        for (int64_t i = 0; i < nq; i += ATT_TILE_VP_TOKENS) {
            const int64_t m = HEARTH_MIN((int64_t)ATT_TILE_VP_TOKENS, nq - i);
            const int64_t n = ((p0 + i + m + 7) & ~(int64_t)7) - b0; /* cells up to the last token's */
            ops_gemm_ref8(n, s->att + (t0 + i) * Dq + (kvh * group + g) * hd, (size_t)Dq, KV, (size_t)nc * 4, hd,
                          S + (g * nq + i) * ld, (size_t)ld * 4, m);
        }
}

/* Token t (of sequence b_seq[t], at position b_pos[t]) attends to positions lo..pos of its
 * own sequence's cache. */
static void attn_task(void *arg, int ith, int nth) {
    const attn_job *J = arg;
    const model_hparams *hp = J->hp;
    model_state *s = J->s;
    const int64_t hd = hp->head_dim_k, Dq = hp->n_head * hd, Dkv = hp->n_head_kv * hd;
    const int64_t group = hp->n_head / hp->n_head_kv;
    float *scores = s->att_scratch + (size_t)ith * (size_t)(s->n_ctx + ATT_EXTRA(hp->head_dim_v));
    float *q      = scores + s->n_ctx;   /* (hd) */
    for (int64_t item = ith; item < J->n_blk * hp->n_head_kv; item += nth) {
        const int64_t *b = s->att_blk + 2 * (item / hp->n_head_kv);
        attn_tile(J, s->att_tile + (size_t)ith * s->tile_floats, b[0], b[1], item % hp->n_head_kv);
    }
    for (int64_t item = ith; item < J->n_tok * hp->n_head; item += nth) {
        const int64_t t = item / hp->n_head, h = item % hp->n_head, kvh = h / group;
        if (s->att_tiled[t]) continue;
        const int64_t pos = s->b_pos[t];
        const int64_t lo  = attn_lo(pos, J->window);
        const uint16_t *kc = kv_layer(s, s->k_cache, s->b_seq[t], J->il);
        const uint16_t *vc = kv_layer(s, s->v_cache, s->b_seq[t], J->il);
        const int64_t   cap = s->cells[J->il]; /* cell of position j: j % cap */
        /* As the reference computes it (K·Q and V·P as F16 matrix products, Q and the
         * probabilities rounded to F16): with its 8-lane GEMM for several tokens of a sequence,
         * its one-token dot otherwise (so a sequence decoded beside others gets the logits it
         * gets alone), its exp, and its sums over cells aligned from cell 0. */
        int64_t n_same = 0; /* the reference's path depends on the tokens of this sequence in the batch */
        for (int64_t u = 0; u < J->n_tok && n_same < 2; u++) n_same += s->b_seq[u] == s->b_seq[t];
        const int lanes = n_same > 1 ? 8 : 32;
        /* cells lo..pos in consecutive rows from lo % cap unless they wrap a ring: then the
         * kernels find each cell's row themselves (a division per row or block of 8 rows, which
         * cost more than the row's dot product itself) */
        const int64_t r0 = lo % cap, ring = r0 + (pos - lo + 1) <= cap ? 0 : cap;
        const size_t  off = ring ? 0 : (size_t)r0 * (size_t)Dkv;
        ops_round_f16(s->q + t * Dq + h * hd, q, hd);
        ops_dot_f16_ref_rows(scores, q, kc + off + kvh * hd, Dkv, ring, lo, pos - lo + 1, hd, lanes, J->kq_scale);
        ops_softmax_ref(scores, pos - lo + 1, lo);
        ops_round_f16(scores, scores, pos - lo + 1);
        float *out = s->att + t * Dq + h * hd;
        ops_wsum_f16_ref(out, scores, vc + off + kvh * hd, Dkv, ring, lo, pos - lo + 1, hd, lanes, q + hd);
    }
}

/* ---- the forward pass -------------------------------------------------------------------- */

/* ---- the per-token steps between the matmuls, split across threads by token ----------------
 * Each stage does, for one token, every element-wise step between two matmuls (or the
 * attention); a prompt's tokens are split across the pool in one pass per stage, a few tokens
 * (decode) run on the caller.  Per token the same operations as in one loop: the same bits. */

enum {
    STAGE_ATTN_NORM, /* xn = norm(x) (the first layer) */
    STAGE_QKV,       /* biases, per-head Q/K norms, RoPE, Q's prescale, K and V into the cache */
    STAGE_POST_ATTN, /* post-attention norm, residual, FFN norm */
    STAGE_ACT,       /* gate = act(gate) * up */
    STAGE_POST_FFN,  /* post-FFN norm, residual, then the next layer's attention norm */
};

/* Tokens of a pass from which the stages use the pool. */
#define STAGE_POOL_MIN_TOKENS 8

typedef struct stage_job {
    const model       *m;
    model_state       *s;
    const model_layer *ly, *next; /* this layer; the next one (NULL: last) */
    int64_t            il, n;
    int                stage;
    const ops_rope    *rope;
} stage_job;

static void stage_token(const stage_job *J, int64_t t) {
    const model_hparams   *hp = &J->m->hp;
    const model_arch_info *ai = J->m->info;
    const model_layer     *ly = J->ly;
    model_state           *s  = J->s;
    const int64_t E = hp->n_embd, hd = hp->head_dim_k, Dq = hp->n_head * hd, Dkv = hp->n_head_kv * hd, F = hp->n_ff;
    const float   eps = hp->norm_eps;
    float *x = s->x + t * E, *xn = s->xn + t * E, *tmp = s->tmp + t * E;
    switch (J->stage) {
    case STAGE_ATTN_NORM: ops_rmsnorm(xn, x, ly->attn_norm, E, eps); break;
    case STAGE_QKV: {
        float *q = s->q + t * Dq, *k = s->k + t * Dkv, *v = s->v + t * Dkv;
        if (ly->bq) ops_add(q, ly->bq, Dq);
        if (ly->bk) ops_add(k, ly->bk, Dkv);
        if (ly->bv) ops_add(v, ly->bv, Dkv);
        if (ai->qk_norm) {
            for (int64_t h = 0; h < hp->n_head; h++) ops_rmsnorm(q + h * hd, q + h * hd, ly->q_norm, hd, eps);
            for (int64_t h = 0; h < hp->n_head_kv; h++) ops_rmsnorm(k + h * hd, k + h * hd, ly->k_norm, hd, eps);
        }
        const float *cs = (hp->swa_layer[J->il] ? s->rope_l : s->rope_g) + t * hp->n_rot;
        ops_rope_apply(J->rope, q, (int)hp->n_head, (int)hd, cs);
        ops_rope_apply(J->rope, k, (int)hp->n_head_kv, (int)hd, cs);
        if (ai->q_prescale) ops_scale(q, hp->attn_scale, Dq);
        const size_t cell = (size_t)(s->b_pos[t] % s->cells[J->il]) * (size_t)Dkv;
        ops_f32_to_f16(k, kv_layer(s, s->k_cache, s->b_seq[t], J->il) + cell, Dkv);
        ops_f32_to_f16(v, kv_layer(s, s->v_cache, s->b_seq[t], J->il) + cell, Dkv);
        break;
    }
    case STAGE_POST_ATTN:
        if (ly->post_attn_norm) ops_rmsnorm(tmp, tmp, ly->post_attn_norm, E, eps);
        ops_add(x, tmp, E);
        ops_rmsnorm(xn, x, ly->ffn_norm, E, eps);
        break;
    case STAGE_ACT:
        if (ai->gelu) ops_gelu_mul(s->gate + t * F, s->up + t * F, F);
        else ops_silu_mul_ref(s->gate + t * F, s->up + t * F, F);
        break;
    case STAGE_POST_FFN:
        if (ly->post_ffn_norm) ops_rmsnorm(tmp, tmp, ly->post_ffn_norm, E, eps);
        ops_add(x, tmp, E);
        if (J->next) ops_rmsnorm(xn, x, J->next->attn_norm, E, eps);
        break;
    }
}

static void stage_task(void *arg, int ith, int nth) {
    const stage_job *J = arg;
    for (int64_t t = J->n * ith / nth; t < J->n * (ith + 1) / nth; t++) stage_token(J, t);
}

static void stage_run(stage_job *J, int stage) {
    J->stage = stage;
    if (J->s->pool && J->n >= STAGE_POOL_MIN_TOKENS) hearth_threadpool_run(J->s->pool, stage_task, J);
    else stage_task(J, 0, 1);
}

/* Splits tokens idx[0..n) (NULL: 0..n) into runs of consecutive tokens of one sequence:
 * their lengths into s->seg_len; returns how many. */
static int64_t seq_runs(model_state *s, const int64_t *idx, int64_t n) {
    int64_t n_seg = 0;
    for (int64_t k = 0; k < n; k++) {
        const int32_t seq = s->b_seq[idx ? idx[k] : k];
        if (k == 0 || seq != s->b_seq[idx ? idx[k - 1] : k - 1]) s->seg_len[n_seg++] = 0;
        s->seg_len[n_seg - 1]++;
    }
    return n_seg;
}

/* The pass itself over tokens[0..n) with s->b_seq / s->b_pos filled and s->b_out[0..n_out)
 * naming the tokens that get logits (all checked by the callers). */
static void forward_core(const model *m, model_state *s, const int32_t *tokens, int64_t n, int64_t n_out) {
    const model_hparams *hp = &m->hp;
    const model_arch_info *ai = m->info;
    const int64_t E = hp->n_embd;
    hearth_threadpool *pool = s->pool;
    void *scr = s->mm_scratch;
    /* The reference's float order for some weight types depends on how many tokens share a
     * matmul: each run of tokens of one sequence is rounded as that sequence's batch alone
     * (as the attention below does), so a sequence gets the same bits beside others. */
    int64_t n_seg = seq_runs(s, NULL, n);
    /* 1. token embeddings (gemma: scaled by sqrt(n_embd)) */
    const hearth_type_kernels *ek = hearth_kernels_get(m->tok_embd.type);
    for (int64_t t = 0; t < n; t++) {
        const uint8_t *row = (const uint8_t *)m->tok_embd.data + (size_t)tokens[t] * m->tok_embd.row_bytes;
        _Alignas(64) uint8_t plain[HEARTH_X8_MAX_COLS / 32 * 18]; /* a row of interleaved embeddings */
        if (m->tok_embd.x8) row = hearth_x8_row(&m->tok_embd, tokens[t], plain);
        ek->to_float(row, s->x + t * E, E);
        if (ai->embd_scale) ops_scale(s->x + t * E, sqrtf((float)E), E);
    }

    /* 2. rotary tables for each token's position: global base, and the sliding-window base */
    ops_rope rg = { .n_rot = (int)hp->n_rot, .neox = ai->rope_neox, .base = hp->rope_base,
                    .freq_scale = hp->rope_freq_scale, .freq_factors = m->rope_freqs };
    ops_rope rl = { .n_rot = (int)hp->n_rot, .neox = ai->rope_neox, .base = hp->rope_base_swa, .freq_scale = 1.0f };
    for (int64_t t = 0; t < n; t++) {
        ops_rope_cache(&rg, s->b_pos[t], s->rope_g + t * hp->n_rot);
        if (hp->n_swa > 0) ops_rope_cache(&rl, s->b_pos[t], s->rope_l + t * hp->n_rot);
    }

    stage_job sj = { .m = m, .s = s, .ly = &m->layers[0], .n = n };
    stage_run(&sj, STAGE_ATTN_NORM);
    for (int64_t il = 0; il < hp->n_layer; il++) {
        const model_layer *ly = &m->layers[il];
        const bool swa = hp->swa_layer[il];
        sj.ly   = ly;
        sj.next = il + 1 < hp->n_layer ? &m->layers[il + 1] : NULL;
        sj.il   = il;
        sj.rope = swa ? &rl : &rg;

        /* 3. attention: (norm done) Q/K/V projections, then per token: biases, per-head Q/K
         *    norm, RoPE, and K and V appended to the token's sequence's cache */
        {
            const hearth_mat *w[3] = { &ly->wq, &ly->wk, &ly->wv };
            float *const      y[3] = { s->q, s->k, s->v };
            hearth_matmul_multi(pool, w, y, 3, s->xn, n, scr, s->seg_len, n_seg);
        }
        stage_run(&sj, STAGE_QKV);

        /* 4. attend over positions 0..pos of the token's own sequence (window on SWA layers) */
        attn_job job = { .hp = hp, .s = s, .il = il, .n_tok = n, .window = swa ? hp->n_swa : 0,
                         .kq_scale = ai->q_prescale ? 1.0f : hp->attn_scale };
        job.n_blk = attn_blocks(s, il, n, job.window, hp->n_head / hp->n_head_kv);
        hearth_threadpool_run(pool, attn_task, &job);

        /* 5. output projection, gemma's post-norm, residual */
        hearth_matmul_segs(pool, &ly->wo, s->att, s->tmp, n, scr, s->seg_len, n_seg);
        stage_run(&sj, STAGE_POST_ATTN);

        /* 6. gated feed-forward: down(act(gate(x)) * up(x)), post-norm, residual (and the next
         *    layer's attention norm) */
        {
            const hearth_mat *w[2] = { &ly->w_gate, &ly->w_up };
            float *const      y[2] = { s->gate, s->up };
            hearth_matmul_multi(pool, w, y, 2, s->xn, n, scr, s->seg_len, n_seg);
        }
        stage_run(&sj, STAGE_ACT);
        hearth_matmul_segs(pool, &ly->w_down, s->gate, s->tmp, n, scr, s->seg_len, n_seg);
        stage_run(&sj, STAGE_POST_FFN);
    }

    /* 7. final norm and output projection of the chosen tokens */
    for (int64_t k = 0; k < n_out; k++)
        ops_rmsnorm(s->xn + k * E, s->x + s->b_out[k] * E, m->out_norm, E, hp->norm_eps);
    if (n_out > 0) {
        n_seg = seq_runs(s, s->b_out, n_out);
        hearth_matmul_segs(pool, &m->output, s->xn, s->logits, n_out, scr, s->seg_len, n_seg);
    }
    if (hp->final_softcap > 0.0f) ops_softcap(s->logits, hp->final_softcap, n_out * hp->n_vocab);
}

static hearth_status check_tokens(const model *m, const int32_t *tokens, int64_t n, char *err, size_t err_size) {
    for (int64_t t = 0; t < n; t++)
        if (tokens[t] < 0 || tokens[t] >= m->hp.n_vocab)
            return hearth_err(err, err_size, HEARTH_ERR_ARG, "token id %d out of range [0, %lld)", tokens[t],
                              (long long)m->hp.n_vocab);
    return HEARTH_OK;
}

hearth_status model_forward(const model *m, model_state *s, const int32_t *tokens, int64_t n, int64_t pos0,
                            const float **logits, char *err, size_t err_size) {
    if (n < 1 || n > s->n_batch)
        return hearth_err(err, err_size, HEARTH_ERR_ARG, "batch of %lld tokens (limit %lld)", (long long)n,
                          (long long)s->n_batch);
    if (pos0 < 0 || pos0 + n > s->n_ctx)
        return hearth_err(err, err_size, HEARTH_ERR_RANGE, "positions %lld..%lld exceed the context of %lld tokens",
                          (long long)pos0, (long long)(pos0 + n - 1), (long long)s->n_ctx);
    hearth_status st = check_tokens(m, tokens, n, err, err_size);
    if (st != HEARTH_OK) return st;
    for (int64_t t = 0; t < n; t++) {
        s->b_seq[t] = 0;
        s->b_pos[t] = (int32_t)(pos0 + t);
    }
    const int64_t first = s->logits_all ? 0 : n - 1, n_out = n - first;
    for (int64_t k = 0; k < n_out; k++) s->b_out[k] = first + k;
    st = check_windows(s, n, err, err_size);
    if (st != HEARTH_OK) return st;
    forward_core(m, s, tokens, n, n_out);
    note_windows(s, n);
    *logits = s->logits;
    return HEARTH_OK;
}

hearth_status model_forward_batch(const model *m, model_state *s, const model_batch *b, const float **logits,
                                  int64_t *n_out, char *err, size_t err_size) {
    const int64_t n = b->n;
    if (n < 1 || n > s->n_batch)
        return hearth_err(err, err_size, HEARTH_ERR_ARG, "batch of %lld tokens (limit %lld)", (long long)n,
                          (long long)s->n_batch);
    hearth_status st = check_tokens(m, b->tokens, n, err, err_size);
    if (st != HEARTH_OK) return st;
    int64_t k = 0;
    for (int64_t t = 0; t < n; t++) {
        if (b->seq[t] < 0 || b->seq[t] >= s->n_seq)
            return hearth_err(err, err_size, HEARTH_ERR_ARG, "sequence %d out of range [0, %lld)", b->seq[t],
                              (long long)s->n_seq);
        if (b->pos[t] < 0 || b->pos[t] >= s->n_ctx)
            return hearth_err(err, err_size, HEARTH_ERR_RANGE, "position %d exceeds the context of %lld tokens",
                              b->pos[t], (long long)s->n_ctx);
        if (b->out && b->out[t] && k++ >= s->n_out_max)
            return hearth_err(err, err_size, HEARTH_ERR_ARG, "more than %lld tokens ask for logits",
                              (long long)s->n_out_max);
    }
    k = 0;
    for (int64_t t = 0; t < n; t++) {
        s->b_seq[t] = b->seq[t];
        s->b_pos[t] = b->pos[t];
        if (b->out && b->out[t]) s->b_out[k++] = t;
    }
    st = check_windows(s, n, err, err_size);
    if (st != HEARTH_OK) return st;
    forward_core(m, s, b->tokens, n, k); /* k may be 0: the pass only fills the caches */
    note_windows(s, n);
    *logits = s->logits;
    if (n_out) *n_out = k;
    return HEARTH_OK;
}
