/* fit.c — model shape from a GGUF header, memory estimate, largest context, speed. */
#include "fit/fit.h"

#include "core/core.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- header -> shape ----------------------------------------------------------------- */

static bool arch_key(const gguf_file *g, const char *arch, const char *suffix, const gguf_value **out) {
    char key[256];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    *out = gguf_find(g, key);
    return *out != NULL;
}

/* `{arch}.{suffix}` as an integer (an array gives element il, or its maximum when il < 0). */
static int64_t arch_int(const gguf_file *g, const char *arch, const char *suffix, int64_t il, int64_t dflt) {
    const gguf_value *v;
    int64_t x;
    if (!arch_key(g, arch, suffix, &v)) return dflt;
    if (v->type == GGUF_VT_ARRAY) {
        const gguf_array *a = &v->v.arr;
        if (!gguf_vtype_size(a->elem) || a->elem == GGUF_VT_FLOAT32 || a->elem == GGUF_VT_FLOAT64 || a->n == 0)
            return dflt;
        if (il >= 0) return (uint64_t)il < a->n ? gguf_arr_i64(a, (uint64_t)il) : dflt;
        int64_t m = INT64_MIN;
        for (uint64_t i = 0; i < a->n; i++) m = HEARTH_MAX(m, gguf_arr_i64(a, i));
        return m;
    }
    return gguf_value_i64(v, &x) ? x : dflt;
}

/* Layer index of a tensor named "blk.N.*", or -1. */
static int64_t tensor_layer(const char *name) {
    if (strncmp(name, "blk.", 4) != 0 || !isdigit((unsigned char)name[4])) return -1;
    char *end;
    errno = 0;
    long long il = strtoll(name + 4, &end, 10);
    if (errno || *end != '.' || il < 0 || il >= FIT_MAX_LAYERS) return -1;
    return (int64_t)il;
}

bool fit_arch_layer_is_swa(const char *arch, int64_t il, int64_t n_layer) {
    (void)n_layer;
    /* every n-th layer (the last of each group) is global, the others use the window */
    static const struct { const char *arch; int pattern; } tab[] = {
        { "gemma2", 2 }, { "gemma3", 6 }, { "gemma3n", 5 }, { "cohere2", 4 }, { "gpt-oss", 2 },
    };
    for (size_t i = 0; i < HEARTH_ARRAY_LEN(tab); i++)
        if (!strcmp(arch, tab[i].arch)) return il % tab[i].pattern < tab[i].pattern - 1;
    return false;
}

void fit_model_add_tensors(const gguf_file *g, fit_model *m) {
    for (int64_t i = 0; i < gguf_n_tensors(g); i++) {
        const gguf_tensor *t = gguf_tensor_at(g, i);
        m->n_params += t->n_elements;
        m->weight_bytes += t->n_bytes;
        m->type_bytes[t->type] += t->n_bytes;
        m->type_count[t->type]++;
        int64_t il = tensor_layer(t->name);
        if (il >= 0) m->layer_bytes[il] += t->n_bytes;
        else m->other_bytes += t->n_bytes;
        if (!strcmp(t->name, "token_embd.weight")) {
            m->embd_bytes = t->n_bytes;
            m->embd_type = (int32_t)t->type;
            if (m->n_vocab <= 0) m->n_vocab = t->ne[1];
            if (m->n_embd <= 0) m->n_embd = t->ne[0];
        }
        if (!strcmp(t->name, "output.weight")) {
            m->tied_output = false;
            m->output_type = (int32_t)t->type;
            m->output_bytes += t->n_bytes;
        }
        bool exps = strstr(t->name, "_exps") != NULL;
        if (exps) m->expert_bytes += t->n_bytes;
        /* a matrix of a layer is one matmul per token (norm vectors and biases are not) */
        if (il >= 0 && t->n_dims >= 2 && t->ne[1] > 1) {
            m->mm_bytes[t->type] += t->n_bytes;
            m->n_mm_tensors++;
            if (exps) {
                m->mm_exp_bytes[t->type] += t->n_bytes;
                m->n_exp_tensors++;
            }
        }
    }
    m->file_bytes += gguf_file_size(g);
}

hearth_status fit_model_from_gguf(const gguf_file *g, fit_model *m, char *err, size_t err_size) {
    memset(m, 0, sizeof *m);
    gguf_str s;
    if (gguf_get_str(g, "general.architecture", &s)) gguf_str_copy(s, m->arch, sizeof m->arch);
    if (gguf_get_str(g, "general.name", &s)) gguf_str_copy(s, m->name, sizeof m->name);
    const char *a = m->arch;
    m->tied_output = true;
    m->embd_type = m->output_type = -1;
    m->n_layer = arch_int(g, a, "block_count", -1, -1);
    if (m->n_layer <= 0 || m->n_layer > FIT_MAX_LAYERS)
        return hearth_err(err, err_size, HEARTH_ERR_FORMAT, "fit: no usable %s.block_count (found %lld)",
                          a[0] ? a : "<arch>", (long long)m->n_layer);
    m->n_embd      = arch_int(g, a, "embedding_length", -1, 0);
    m->n_ff        = arch_int(g, a, "feed_forward_length", -1, 0);
    m->n_head      = arch_int(g, a, "attention.head_count", -1, 0);
    m->n_ctx_train = arch_int(g, a, "context_length", -1, 0);
    const gguf_array *tokens = gguf_get_arr(g, "tokenizer.ggml.tokens");
    m->n_vocab = tokens ? (int64_t)tokens->n : arch_int(g, a, "vocab_size", -1, 0);
    int64_t hd = m->n_head > 0 ? m->n_embd / m->n_head : 0;
    m->head_k = arch_int(g, a, "attention.key_length", -1, hd);
    m->head_v = arch_int(g, a, "attention.value_length", -1, m->head_k);
    m->n_swa  = HEARTH_MAX(0, arch_int(g, a, "attention.sliding_window", -1, 0));
    m->n_expert      = HEARTH_MAX(0, arch_int(g, a, "expert_count", -1, 0));
    m->n_expert_used = HEARTH_MAX(0, arch_int(g, a, "expert_used_count", -1, 0));

    /* explicit pattern: an int n (every n-th layer global) or a per-layer bool array */
    const gguf_value *pat = NULL;
    arch_key(g, a, "attention.sliding_window_pattern", &pat);
    for (int64_t il = 0; il < m->n_layer; il++) {
        int64_t nh = arch_int(g, a, "attention.head_count", il, m->n_head);
        m->kv_heads[il] = (int32_t)HEARTH_MAX(0, HEARTH_MIN(arch_int(g, a, "attention.head_count_kv", il, nh), INT32_MAX));
        bool swa = fit_arch_layer_is_swa(a, il, m->n_layer);
        uint64_t n;
        if (pat && pat->type == GGUF_VT_ARRAY && pat->v.arr.elem == GGUF_VT_BOOL)
            swa = (uint64_t)il < pat->v.arr.n && pat->v.arr.data[il] != 0;
        else if (pat && gguf_value_u64(pat, &n) && n > 0)
            swa = (uint64_t)il % n < n - 1;
        m->swa[il] = m->n_swa > 0 && swa;
    }
    fit_model_add_tensors(g, m);
    return HEARTH_OK;
}

void fit_model_finish(fit_model *m) {
    uint64_t rb = m->weight_bytes;
    /* the embedding is a lookup (one row per token) unless it is also the output matrix */
    if (!m->tied_output && m->n_vocab > 0) rb -= m->embd_bytes - m->embd_bytes / (uint64_t)m->n_vocab;
    if (m->n_expert > 0 && m->n_expert_used > 0 && m->n_expert_used < m->n_expert)
        rb -= m->expert_bytes - m->expert_bytes / (uint64_t)m->n_expert * (uint64_t)m->n_expert_used;
    m->read_bytes = rb;
    /* per type: only the active experts' share of the expert matrices is read */
    bool moe = m->n_expert > 0 && m->n_expert_used > 0 && m->n_expert_used < m->n_expert;
    for (int t = 0; t < HEARTH_TYPE_COUNT; t++) {
        uint64_t skip = moe ? m->mm_exp_bytes[t] - m->mm_exp_bytes[t] / (uint64_t)m->n_expert * (uint64_t)m->n_expert_used : 0;
        m->mm_read[t] = m->mm_bytes[t] - skip;
    }
    m->n_matmul = m->n_mm_tensors - m->n_exp_tensors + m->n_exp_tensors * (moe ? m->n_expert_used : 1);
    m->out_type  = m->tied_output ? m->embd_type : m->output_type;
    m->out_bytes = m->tied_output ? m->embd_bytes : m->output_bytes;
    if (m->out_type >= 0) m->n_matmul++;
}

hearth_status fit_model_load(const char *path, fit_model *m, char *err, size_t err_size) {
    gguf_file *g = NULL;
    hearth_status st = gguf_open_file(path, &g, err, err_size);
    if (st) return st;
    st = fit_model_from_gguf(g, m, err, err_size);
    uint64_t count = 0;
    gguf_get_u64(g, "split.count", &count);
    gguf_free(g);
    if (st) return st;
    m->n_split = 1;
    uint32_t part, cnt;
    if (count > 1 && store_split_of(path, &part, &cnt) && part == 1 && cnt == count) {
        /* the other parts sit next to the first: X-00001-of-0000N.gguf -> X-0000k-of-0000N.gguf */
        size_t len = strlen(path);
        char *p = malloc(len + 1);
        if (!p) return hearth_err(err, err_size, HEARTH_ERR_NOMEM, "fit: out of memory");
        for (uint32_t k = 2; k <= cnt; k++) {
            memcpy(p, path, len + 1);
            char num[8];
            snprintf(num, sizeof num, "%05u", k);
            memcpy(p + len - strlen("-00001-of-00003.gguf") + 1, num, 5);
            st = gguf_open_file(p, &g, err, err_size);
            if (st) break;
            fit_model_add_tensors(g, m);
            gguf_free(g);
            m->n_split++;
        }
        free(p);
        if (st) return st;
    }
    fit_model_finish(m);
    return HEARTH_OK;
}

/* ---- memory ------------------------------------------------------------------------- */

void fit_params_default(fit_params *p) {
    p->n_ctx      = 4096;
    p->n_parallel = 1;
    p->kv_type    = HEARTH_TYPE_F16;
    p->n_batch    = 256;
    p->n_threads  = 0;
    p->n_gen      = 128; /* llama-bench's tg128 */
}

/* bytes of `n` elements of the KV type */
static uint64_t kv_row(hearth_type t, int64_t n) {
    const hearth_type_traits *tt = hearth_type_get(t);
    if (!tt || n <= 0) return 0;
    uint64_t blocks = ((uint64_t)n + (uint64_t)tt->block_size - 1) / (uint64_t)tt->block_size;
    return blocks * tt->type_size;
}

uint64_t fit_kv_layer_bytes(const fit_model *m, int64_t il, int64_t n_ctx, int64_t n_batch, int32_t n_parallel,
                            hearth_type kv_type) {
    if (il < 0 || il >= m->n_layer || n_ctx <= 0) return 0;
    int64_t cells = m->swa[il] ? HEARTH_MIN(n_ctx, m->n_swa + HEARTH_MAX(0, n_batch)) : n_ctx;
    uint64_t per_cell = kv_row(kv_type, (int64_t)m->kv_heads[il] * m->head_k) + kv_row(kv_type, (int64_t)m->kv_heads[il] * m->head_v);
    return per_cell * (uint64_t)cells * (uint64_t)HEARTH_MAX(1, n_parallel);
}

uint64_t fit_kv_bytes(const fit_model *m, int64_t n_ctx, int64_t n_batch, int32_t n_parallel, hearth_type kv_type) {
    uint64_t sum = 0;
    for (int64_t il = 0; il < m->n_layer; il++) sum += fit_kv_layer_bytes(m, il, n_ctx, n_batch, n_parallel, kv_type);
    return sum;
}

void fit_estimate_memory(const fit_model *m, const fit_params *p, fit_estimate *e) {
    memset(e, 0, sizeof *e);
    int32_t np = HEARTH_MAX(1, p->n_parallel);
    int64_t nb = HEARTH_MIN((int64_t)HEARTH_MAX(1, p->n_batch), p->n_ctx * np);
    int64_t n_q = m->n_head * m->head_k, n_kv = 0;
    for (int64_t il = 0; il < m->n_layer; il++) n_kv = HEARTH_MAX(n_kv, (int64_t)m->kv_heads[il] * m->head_k);
    e->weights_bytes = m->weight_bytes;
    e->file_bytes    = m->file_bytes;
    e->kv_bytes      = fit_kv_bytes(m, p->n_ctx, HEARTH_MIN((int64_t)HEARTH_MAX(1, p->n_batch), p->n_ctx), np, p->kv_type);
    /* activations of one micro-batch in f32 (residual, norm, q, k, v, attention out, a
     * scratch row, two FFN branches, rope tables), the 8-bit quantized copy of the widest
     * input, and per thread one row of attention scores over the context */
    int64_t n_rot = m->head_k;
    uint64_t act_per_tok = 4ull * (uint64_t)(3 * m->n_embd + 2 * n_q + 2 * n_kv + 2 * m->n_ff + 2 * n_rot) +
                           (uint64_t)HEARTH_MAX(m->n_embd, m->n_ff) * 34 / 32;
    uint64_t threads = (uint64_t)(p->n_threads > 0 ? p->n_threads : 2);
    uint64_t scores = 4ull * threads * (uint64_t)(p->n_ctx + m->head_v);
    /* and the prompt attention tiles (forward.c): per thread the queries of up to 128 query
     * rows, their scores over up to 4096 cells (fewer rows over more), and one head's K or V as
     * F32 over the context, up to 2^21 floats (at least 4096 cells); the batch's blocks */
    int64_t kv_min = m->n_head;
    for (int64_t il = 0; il < m->n_layer; il++)
        if (m->kv_heads[il] > 0) kv_min = HEARTH_MIN(kv_min, (int64_t)m->kv_heads[il]);
    if (nb >= 2 && m->head_k % 8 == 0 && m->head_k == m->head_v && kv_min > 0) {
        const int64_t cells = HEARTH_MIN((p->n_ctx + 7) / 8 * 8, HEARTH_MAX((int64_t)4096, ((int64_t)1 << 21) / m->head_k & ~(int64_t)7));
        const int64_t group = m->n_head / kv_min, tq = HEARTH_MAX((int64_t)1, 128 / group);
        scores += 4ull * threads *
                  (uint64_t)(group * tq * (m->head_k + HEARTH_MIN(cells, (int64_t)4096)) + m->head_k * cells);
    }
    act_per_tok += 17;
    e->compute_bytes = act_per_tok * (uint64_t)nb + scores;
    e->logits_bytes  = 4ull * (uint64_t)HEARTH_MAX(0, m->n_vocab) * (uint64_t)np;
    /* process (binary, libc, libraries, thread stacks) and the tokenizer's tables */
    e->overhead_bytes = 8ull << 20;
    e->overhead_bytes += 64ull * (uint64_t)HEARTH_MAX(0, m->n_vocab);
    e->total_bytes = e->file_bytes + e->kv_bytes + e->compute_bytes + e->logits_bytes + e->overhead_bytes;
    e->read_per_token = m->read_bytes;
}

int64_t fit_max_ctx(const fit_model *m, const fit_params *p, uint64_t budget) {
    int64_t hi = m->n_ctx_train > 0 ? m->n_ctx_train : 131072, lo = 0;
    fit_params q = *p;
    fit_estimate e;
    /* binary search over multiples of 256: the total grows with the context */
    int64_t a = 0, b = hi / 256;
    while (a < b) {
        int64_t mid = (a + b + 1) / 2;
        q.n_ctx = mid * 256;
        fit_estimate_memory(m, &q, &e);
        if (e.total_bytes <= budget) a = mid;
        else b = mid - 1;
    }
    lo = a * 256;
    if (lo == 0) return 0;
    /* the training context itself when it is not a multiple of 256 and fits */
    q.n_ctx = hi;
    fit_estimate_memory(m, &q, &e);
    return e.total_bytes <= budget ? hi : lo;
}

/* ---- speed ----------------------------------------------------------------------------- */

/* Attention cells (head x position x head size, K and V) of a token at position `pos`. */
static double attn_cells(const fit_model *m, int64_t pos) {
    double cells = 0;
    for (int64_t il = 0; il < m->n_layer; il++) {
        if (m->kv_heads[il] <= 0) continue;
        int64_t n = pos + 1;
        if (m->swa[il] && m->n_swa > 0 && n > m->n_swa) n = m->n_swa;
        cells += (double)m->n_head * (double)n * 0.5 * (double)(m->head_k + m->head_v);
    }
    return cells;
}

/* Element-wise floats per token: per layer two to four norms, residual adds, the gated
 * activation, RoPE on Q and K, the F16 conversion of K and V. */
static double vec_elems(const fit_model *m) {
    int64_t kv = 0;
    for (int64_t il = 0; il < m->n_layer; il++) kv = HEARTH_MAX(kv, (int64_t)m->kv_heads[il]);
    double per_layer = 6.0 * (double)m->n_embd + (double)m->n_ff +
                       2.0 * (double)(m->n_head * m->head_k + kv * (m->head_k + m->head_v));
    return per_layer * (double)m->n_layer + (double)m->n_embd;
}

/* Thread-pool jobs of a layer besides its matmuls: attention (layers with a KV cache). */
static int64_t attn_layers(const fit_model *m) {
    int64_t n = 0;
    for (int64_t il = 0; il < m->n_layer; il++) n += m->kv_heads[il] > 0;
    return n;
}

/* CPU speed from the kernel rates measured here (see fit.h).  `eff` scales the bandwidth of
 * the memory floor; the kernel rates were timed from RAM and include the memory already. */
static void predict_measured(const fit_model *m, const fit_params *p, const fit_machine *mc, double eff,
                             fit_speed *s) {
    const fit_rates *r = &mc->rates;
    const double bw = mc->bandwidth * eff;
    const int64_t n_att = attn_layers(m);
    s->measured = true;
    /* decode: every matrix once per token at one-token (GEMV) rates */
    for (int t = 0; t < HEARTH_TYPE_COUNT; t++) {
        fit_part *pt = &s->part[t];
        pt->bytes = m->mm_read[t] + (t == m->out_type ? m->out_bytes : 0);
        if (!pt->bytes) continue;
        pt->mem_s        = bw > 0 ? (double)pt->bytes / bw : 0;
        pt->kernel_s     = r->gemv[t] > 0 ? (double)pt->bytes / r->gemv[t] : 0;
        pt->seconds      = HEARTH_MAX(pt->mem_s, pt->kernel_s);
        pt->memory_bound = pt->mem_s >= FIT_MEM_BOUND * pt->kernel_s;
        s->t_weights += pt->seconds;
        if (pt->memory_bound) s->t_mem_bound += pt->seconds;
    }
    s->n_calls    = m->n_matmul + n_att;
    s->t_calls    = (double)s->n_calls * r->call_s;
    s->t_attn     = attn_cells(m, HEARTH_MIN((int64_t)HEARTH_MAX(0, p->n_gen) / 2, p->n_ctx - 1)) / r->attn;
    s->t_attn_ctx = attn_cells(m, p->n_ctx - 1) / r->attn;
    s->t_vec      = vec_elems(m) / r->vec;
    double fixed  = s->t_weights + s->t_calls + s->t_vec;
    s->decode_tps     = 1.0 / (fixed + s->t_attn);
    s->decode_tps_ctx = 1.0 / (fixed + s->t_attn_ctx);

    /* prefill of min(ctx, FIT_PREFILL_LEN) tokens in batches of n_batch: the layer matrices
     * at multi-token rates (each read once per batch), the output for the last token of a
     * batch only; per layer and batch two pool jobs per matmul (activation conversion,
     * product; an upper bound: matrices with one input share both), one for attention and,
     * from STAGE_POOL_TOKENS tokens, one per element-wise stage, whose work is then split
     * across the threads; attention at the average position through the prompt tiles */
    int64_t len = HEARTH_MIN(p->n_ctx, (int64_t)FIT_PREFILL_LEN);
    double nb = (double)HEARTH_MAX(1, HEARTH_MIN((int64_t)HEARTH_MAX(1, p->n_batch), len));
    const bool pooled = nb >= FIT_STAGE_POOL_TOKENS;
    double tp = 0;
    for (int t = 0; t < HEARTH_TYPE_COUNT; t++) {
        if (!m->mm_read[t]) continue;
        double b = (double)m->mm_read[t];
        double k = r->gemm[t] > 0 ? b / r->gemm[t] : 0;
        tp += HEARTH_MAX(k, bw > 0 ? b / bw / nb : 0);
    }
    if (m->out_type >= 0 && r->gemv[m->out_type] > 0) tp += (double)m->out_bytes / r->gemv[m->out_type] / nb;
    int64_t layer_mm = m->n_matmul - (m->out_type >= 0);
    int64_t jobs = 2 * layer_mm + 1 + n_att + (pooled ? FIT_STAGES * m->n_layer : 0); /* + the output's */
    tp += (double)jobs * r->call_s / nb;
    tp += attn_cells(m, len / 2) / (r->attn_prompt > 0 ? r->attn_prompt : r->attn);
    tp += pooled ? s->t_vec / HEARTH_MAX(1, r->threads) : s->t_vec;
    s->prefill_tps = tp > 0 ? 1.0 / tp : 0;
}

void fit_predict(const fit_model *m, const fit_params *p, const fit_machine *mc, double decode_eff, fit_speed *s) {
    memset(s, 0, sizeof *s);
    fit_estimate e;
    fit_estimate_memory(m, p, &e);
    s->n_layer    = m->n_layer;
    s->gpu_layers = -1;
    double eff_cpu = decode_eff > 0 ? decode_eff : FIT_DECODE_EFF_CPU;
    double active = (double)m->n_params;
    if (m->weight_bytes > 0) active *= (double)m->read_bytes / (double)m->weight_bytes;
    double flops_tok = 2.0 * active + 2.0 * (double)m->n_layer * (double)(m->n_head * (m->head_k + m->head_v)) * 256.0;
    double read = (double)m->read_bytes;

    if (mc->vram_bytes > 0 && !mc->unified) {
        /* offload whole layers from the last one down while they (and their KV) fit; keep a
         * reserve for the runtime and compute buffers; the output goes with the last layer */
        uint64_t reserve = (512ull << 20) + e.compute_bytes + e.logits_bytes;
        uint64_t budget = mc->vram_bytes > reserve ? mc->vram_bytes - reserve : 0;
        uint64_t used = 0, gpu_read = 0;
        uint64_t out_bytes = m->tied_output ? m->embd_bytes : m->other_bytes - m->embd_bytes;
        int64_t ngl = 0;
        if (out_bytes <= budget) {
            used = out_bytes;
            gpu_read = out_bytes;
            for (int64_t il = m->n_layer - 1; il >= 0; il--) {
                uint64_t lb = m->layer_bytes[il] + fit_kv_layer_bytes(m, il, p->n_ctx, HEARTH_MIN((int64_t)HEARTH_MAX(1, p->n_batch), p->n_ctx),
                                                                    p->n_parallel, p->kv_type);
                if (used + lb > budget) break;
                used += lb;
                gpu_read += m->layer_bytes[il];
                ngl++;
            }
        }
        if (ngl == 0) gpu_read = 0, used = 0;
        double moe = m->weight_bytes ? read / (double)m->weight_bytes : 1.0;
        double gread = (double)gpu_read * moe, cread = read > gread ? read - gread : 0;
        double t = gread / (mc->gpu_bandwidth * FIT_DECODE_EFF_GPU) + cread / (mc->bandwidth * eff_cpu);
        s->decode_tps = t > 0 ? 1.0 / t : 0;
        s->decode_tps_ctx = s->decode_tps;
        double frac = m->n_layer ? (double)ngl / (double)m->n_layer : 0;
        double tp = flops_tok * (frac / HEARTH_MAX(mc->gpu_flops, 1.0) + (1 - frac) / HEARTH_MAX(mc->flops, 1.0));
        s->prefill_tps = tp > 0 ? 1.0 / tp : 0;
        s->gpu_layers = ngl;
        uint64_t host = e.total_bytes > used ? e.total_bytes - used : 0;
        s->fits = host <= mc->avail_bytes;
        /* largest context: the host memory bounds it once layers are placed */
        s->max_ctx = fit_max_ctx(m, p, mc->avail_bytes + used);
        return;
    }
    s->fits = e.total_bytes <= mc->avail_bytes;
    s->max_ctx = fit_max_ctx(m, p, mc->avail_bytes);
    if (mc->unified) s->gpu_layers = m->n_layer;
    if (!mc->unified && mc->rates.valid) {
        predict_measured(m, p, mc, decode_eff > 0 ? decode_eff : 1.0, s);
        return;
    }
    /* bandwidth model: every weight byte read once per token at bandwidth x efficiency; at
     * the end of the context the KV cache is read as well */
    double bw = mc->bandwidth * (mc->unified ? FIT_DECODE_EFF_GPU : eff_cpu);
    s->decode_tps = read > 0 ? bw / read : 0;
    s->decode_tps_ctx = read > 0 ? bw / (read + (double)e.kv_bytes / HEARTH_MAX(1, p->n_parallel)) : 0;
    for (int t = 0; t < HEARTH_TYPE_COUNT; t++) {
        fit_part *pt = &s->part[t];
        pt->bytes = m->mm_read[t] + (t == m->out_type ? m->out_bytes : 0);
        if (!pt->bytes) continue;
        pt->mem_s = pt->seconds = bw > 0 ? (double)pt->bytes / bw : 0;
        pt->memory_bound = true;
        s->t_weights += pt->seconds;
        s->t_mem_bound += pt->seconds;
    }
    double fl = mc->unified ? mc->gpu_flops : mc->flops;
    s->prefill_tps = flops_tok > 0 ? fl / flops_tok : 0;
}
