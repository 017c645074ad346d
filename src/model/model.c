/*
 * model.c — architecture table, hyperparameters from GGUF metadata, weight views.
 *
 * Nothing is dequantized or copied at load: every weight is a view into the mapping.  Each
 * tensor is checked for presence, shape and a supported type, and a failure names it.
 */
#include "model/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const model_arch_info arch_table[MODEL_ARCH_COUNT] = {
    [MODEL_ARCH_LLAMA]  = { .name = "llama" },
    [MODEL_ARCH_QWEN2]  = { .name = "qwen2", .rope_neox = true, .qkv_bias = true },
    [MODEL_ARCH_QWEN3]  = { .name = "qwen3", .rope_neox = true, .qk_norm = true },
    [MODEL_ARCH_GEMMA3] = { .name = "gemma3", .rope_neox = true, .qk_norm = true, .post_norms = true,
                            .gelu = true, .embd_scale = true, .q_prescale = true },
};

/* ---- metadata helpers ----------------------------------------------------------------- */

typedef struct loader {
    const gguf_file *g;
    const char      *arch;
    char            *err;
    size_t           err_size;
    hearth_status    st;       /* status of the first failure */
} loader;

#define LFAIL(L, status, ...) ((L)->st = hearth_err((L)->err, (L)->err_size, (status), __VA_ARGS__))

static const gguf_value *arch_kv(loader *L, const char *suffix) {
    char key[256];
    snprintf(key, sizeof key, "%s.%s", L->arch, suffix);
    return gguf_find(L->g, key);
}

/* An integer hyperparameter; a per-layer array must be uniform.  Returns false with a message
 * when required and absent, malformed, or out of [lo, hi]. */
static bool hp_int(loader *L, const char *suffix, bool required, int64_t def, int64_t lo, int64_t hi,
                   int64_t *out) {
    const gguf_value *v = arch_kv(L, suffix);
    int64_t x = def;
    if (!v) {
        if (required) {
            LFAIL(L, HEARTH_ERR_FORMAT, "model: missing metadata key '%s.%s'", L->arch, suffix);
            return false;
        }
    } else if (v->type == GGUF_VT_ARRAY && gguf_vtype_size(v->v.arr.elem) && v->v.arr.n > 0) {
        x = gguf_arr_i64(&v->v.arr, 0);
        for (uint64_t i = 1; i < v->v.arr.n; i++) {
            if (gguf_arr_i64(&v->v.arr, i) != x) {
                LFAIL(L, HEARTH_ERR_UNSUPPORTED,
                           "model: per-layer values of '%s.%s' differ (not supported)", L->arch, suffix);
                return false;
            }
        }
    } else if (!gguf_value_i64(v, &x)) {
        LFAIL(L, HEARTH_ERR_FORMAT, "model: metadata key '%s.%s' is not an integer", L->arch,
                   suffix);
        return false;
    }
    if (x < lo || x > hi) {
        LFAIL(L, HEARTH_ERR_FORMAT, "model: '%s.%s' = %lld is out of range [%lld, %lld]",
                   L->arch, suffix, (long long)x, (long long)lo, (long long)hi);
        return false;
    }
    *out = x;
    return true;
}

static bool hp_float(loader *L, const char *suffix, bool required, double def, float *out) {
    const gguf_value *v = arch_kv(L, suffix);
    double x = def;
    if (!v) {
        if (required) {
            LFAIL(L, HEARTH_ERR_FORMAT, "model: missing metadata key '%s.%s'", L->arch, suffix);
            return false;
        }
    } else if (!gguf_value_f64(v, &x) || !isfinite(x)) {
        LFAIL(L, HEARTH_ERR_FORMAT, "model: metadata key '%s.%s' is not a finite number",
                   L->arch, suffix);
        return false;
    }
    *out = (float)x;
    return true;
}

/* ---- tensor views ----------------------------------------------------------------------- */

/* Finds `name`; checks it has exactly the shape (ne0, ne1) (ne1 = 1 for a vector).  A missing
 * optional tensor gives NULL and true. */
static bool find_tensor(loader *L, const char *name, int64_t ne0, int64_t ne1, bool required,
                        const gguf_tensor **out) {
    const gguf_tensor *t = gguf_find_tensor(L->g, name);
    *out = NULL;
    if (!t) {
        if (required) LFAIL(L, HEARTH_ERR_FORMAT, "model: missing tensor '%s'", name);
        return !required;
    }
    if (t->ne[0] != ne0 || t->ne[1] != ne1 || t->ne[2] != 1 || t->ne[3] != 1) {
        LFAIL(L, HEARTH_ERR_FORMAT,
                   "model: tensor '%s' has shape [%lld, %lld, %lld, %lld], expected [%lld, %lld]", name,
                   (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2], (long long)t->ne[3],
                   (long long)ne0, (long long)ne1);
        return false;
    }
    *out = t;
    return true;
}

/* A float vector of n elements (norm weights, biases): must be F32. */
static bool get_vec(loader *L, const char *name, int64_t n, bool required, const float **out) {
    const gguf_tensor *t;
    *out = NULL;
    if (!find_tensor(L, name, n, 1, required, &t)) return false;
    if (!t) return true;
    if (t->type != HEARTH_TYPE_F32) {
        LFAIL(L, HEARTH_ERR_UNSUPPORTED, "model: tensor '%s' has type %s, expected F32", name,
                   hearth_type_name(t->type));
        return false;
    }
    if (((uintptr_t)t->data & 3) != 0) {
        LFAIL(L, HEARTH_ERR_FORMAT, "model: tensor '%s' is not 4-byte aligned", name);
        return false;
    }
    *out = (const float *)t->data;
    return true;
}

/* A weight matrix of `rows` x `cols` (GGUF shape [cols, rows]) usable by the matmul. */
static bool get_mat(loader *L, const char *name, int64_t rows, int64_t cols, bool required, hearth_mat *out) {
    const gguf_tensor *t;
    memset(out, 0, sizeof *out);
    if (!find_tensor(L, name, cols, rows, required, &t)) return false;
    if (!t) return true;
    const hearth_type_kernels *k = hearth_kernels_get(t->type);
    if (!k || !k->vec_dot || !k->to_float) {
        LFAIL(L, HEARTH_ERR_UNSUPPORTED, "model: tensor '%s' has unsupported type %s", name,
                   hearth_type_name(t->type));
        return false;
    }
    size_t row_bytes = hearth_type_row_size(t->type, cols);
    if (row_bytes == 0) {
        LFAIL(L, HEARTH_ERR_FORMAT, "model: tensor '%s': %lld columns do not fit type %s", name,
                   (long long)cols, hearth_type_name(t->type));
        return false;
    }
    out->type      = t->type;
    out->rows      = rows;
    out->cols      = cols;
    out->row_bytes = row_bytes;
    out->data      = t->data;
    return true;
}

/* ---- weights interleaved for the kernels --------------------------------------------------- */

/* *v (n floats, or NULL) copied into memory the model owns (m->repacked has room). */
static hearth_status own_vec(model *m, const float **v, int64_t n) {
    if (!*v) return HEARTH_OK;
    float *c = hearth_malloc_array((size_t)n, sizeof *c);
    if (!c) return HEARTH_ERR_NOMEM;
    memcpy(c, *v, (size_t)n * sizeof *c);
    m->repacked[m->n_repacked++] = c;
    *v                           = c;
    return HEARTH_OK;
}

/* Interleaves every matmul weight the kernels want so (hearth_repack_x8_ok: Q4_0, Q4_K) into memory
 * of its own and drops the mapped pages it was read from.  Token embeddings of their own stay
 * as they are (rows are looked up); when the output matrix shares them, both use the copy and
 * a looked-up row is taken out of it (hearth_x8_row): looking rows up in the mapping
 * brought most of its pages back (whole page-cache folios are mapped at a fault), 150 MB of
 * the 1B model's 141 MiB table for a 512-token prompt.  HEARTH_REPACK=0 turns this off (the results are the same bits either way). */
static hearth_status repack_weights(model *m, char *err, size_t err_size) {
    const char *env = getenv("HEARTH_REPACK");
    if (env && !strcmp(env, "0")) return HEARTH_OK;
    const int64_t nl   = m->hp.n_layer;
    const int     nmax = (int)(7 * nl + 1);
    hearth_mat  **all  = hearth_malloc_array((size_t)nmax, sizeof *all);
    m->repacked        = hearth_calloc((size_t)nmax + (size_t)(9 * nl + 2), sizeof *m->repacked);
    if (!all || !m->repacked) {
        free(all);
        return hearth_err(err, err_size, HEARTH_ERR_NOMEM, "model: out of memory");
    }
    int n = 0;
    for (int64_t il = 0; il < nl; il++) {
        model_layer *ly = &m->layers[il];
        hearth_mat  *ws[] = { &ly->wq, &ly->wk, &ly->wv, &ly->wo, &ly->w_gate, &ly->w_up, &ly->w_down };
        for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++) all[n++] = ws[i];
    }
    all[n++] = &m->output;
    hearth_status st = HEARTH_OK;
    for (int i = 0; i < n && st == HEARTH_OK; i++) {
        hearth_mat *W = all[i];
        if (!W->data || !hearth_repack_x8_ok(W)) continue;
        const size_t bytes = (size_t)W->rows * W->row_bytes;
        void        *dst   = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
        if (!dst) {
            st = hearth_err(err, err_size, HEARTH_ERR_NOMEM, "model: out of memory interleaving weights");
            break;
        }
        /* a slice at a time, its mapped pages dropped after it, so that the copy does not add
         * to the peak resident size */
        const int64_t slice = HEARTH_MAX((int64_t)((8u << 20) / W->row_bytes) / 8 * 8, (int64_t)8);
        for (int64_t r0 = 0; r0 < W->rows; r0 += slice) {
            const int64_t  nr  = HEARTH_MIN(slice, W->rows - r0);
            const uint8_t *src = (const uint8_t *)W->data + (size_t)r0 * W->row_bytes;
            hearth_repack_x8(W->type, src, (uint8_t *)dst + (size_t)r0 * W->row_bytes, nr, W->cols);
            gguf_release(m->gguf, src, (size_t)nr * W->row_bytes);
        }
        m->repacked[m->n_repacked++] = dst;
        if (W != &m->tok_embd && W->data == m->tok_embd.data) { /* tied: the embeddings read the copy too */
            m->tok_embd.data = dst;
            m->tok_embd.x8   = true;
        }
        W->data = dst;
        W->x8   = true;
    }
    /* The F32 vectors (norms, biases) are copied too, and then all the tensor data dropped once
     * more: a fault maps a whole page-cache folio, so looking up one small vector in the mapping
     * brought back the copied weights around it (1B Q4_0, 512-token prefill: 59 MB of mapped
     * file resident beside the copies, before this).  Weights not copied (other types) are read
     * from the file again on first use. */
    if (m->n_repacked > 0 && st == HEARTH_OK) {
        const model_hparams *hp = &m->hp;
        const int64_t        E = hp->n_embd, Dq = hp->n_head * hp->head_dim_k, Dkv = hp->n_head_kv * hp->head_dim_k;
        for (int64_t il = 0; il < nl && st == HEARTH_OK; il++) {
            model_layer *ly = &m->layers[il];
            st = own_vec(m, &ly->attn_norm, E);
            if (st == HEARTH_OK) st = own_vec(m, &ly->bq, Dq);
            if (st == HEARTH_OK) st = own_vec(m, &ly->bk, Dkv);
            if (st == HEARTH_OK) st = own_vec(m, &ly->bv, Dkv);
            if (st == HEARTH_OK) st = own_vec(m, &ly->q_norm, hp->head_dim_k);
            if (st == HEARTH_OK) st = own_vec(m, &ly->k_norm, hp->head_dim_k);
            if (st == HEARTH_OK) st = own_vec(m, &ly->post_attn_norm, E);
            if (st == HEARTH_OK) st = own_vec(m, &ly->ffn_norm, E);
            if (st == HEARTH_OK) st = own_vec(m, &ly->post_ffn_norm, E);
        }
        if (st == HEARTH_OK) st = own_vec(m, &m->out_norm, E);
        if (st == HEARTH_OK) st = own_vec(m, &m->rope_freqs, hp->n_rot / 2);
        if (st != HEARTH_OK) hearth_err(err, err_size, st, "model: out of memory");
        const uint64_t off = gguf_data_offset(m->gguf);
        gguf_release(m->gguf, gguf_base(m->gguf) + off, (size_t)(gguf_file_size(m->gguf) - off));
    }
    free(all);
    return st;
}

/* ---- hyperparameters ---------------------------------------------------------------------- */

static bool load_hparams(loader *L, model *m) {
    model_hparams *hp = &m->hp;
    const int64_t BIG = (int64_t)1 << 24;
    if (!hp_int(L, "block_count", true, 0, 1, MODEL_MAX_LAYERS, &hp->n_layer)) return false;
    if (!hp_int(L, "embedding_length", true, 0, 1, BIG, &hp->n_embd)) return false;
    if (!hp_int(L, "feed_forward_length", true, 0, 1, BIG, &hp->n_ff)) return false;
    if (!hp_int(L, "attention.head_count", true, 0, 1, 4096, &hp->n_head)) return false;
    if (!hp_int(L, "attention.head_count_kv", false, hp->n_head, 1, hp->n_head, &hp->n_head_kv)) return false;
    if (hp->n_head % hp->n_head_kv != 0)
        return LFAIL(L, HEARTH_ERR_FORMAT, "model: %lld heads not a multiple of %lld KV heads",
                          (long long)hp->n_head, (long long)hp->n_head_kv), false;
    if (!hp_int(L, "context_length", false, 4096, 1, (int64_t)1 << 30, &hp->n_ctx_train)) return false;
    int64_t hd = hp->n_embd % hp->n_head == 0 ? hp->n_embd / hp->n_head : 0;
    if (!hp_int(L, "attention.key_length", hd == 0, hd, 2, 65536, &hp->head_dim_k)) return false;
    if (!hp_int(L, "attention.value_length", false, hp->head_dim_k, 1, 65536, &hp->head_dim_v)) return false;
    if (!hp_int(L, "rope.dimension_count", false, hp->head_dim_k, 2, hp->head_dim_k, &hp->n_rot)) return false;
    if (hp->n_rot % 2)
        return LFAIL(L, HEARTH_ERR_FORMAT, "model: odd rope.dimension_count %lld",
                          (long long)hp->n_rot), false;
    if (!hp_float(L, "attention.layer_norm_rms_epsilon", true, 0, &hp->norm_eps)) return false;
    if (!hp_float(L, "rope.freq_base", false, 10000.0, &hp->rope_base)) return false;
    hp->rope_freq_scale = 1.0f;
    gguf_str st;
    char key[256], type[32] = "";
    snprintf(key, sizeof key, "%s.rope.scaling.type", L->arch);
    if (gguf_get_str(L->g, key, &st)) gguf_str_copy(st, type, sizeof type);
    float factor = 0.0f;
    if (!hp_float(L, "rope.scaling.factor", false, 0.0, &factor)) return false;
    if (type[0] && strcmp(type, "none") && strcmp(type, "linear"))
        return LFAIL(L, HEARTH_ERR_UNSUPPORTED, "model: rope scaling type '%s' is not supported",
                          type), false;
    if (!strcmp(type, "linear") && factor > 0.0f) hp->rope_freq_scale = 1.0f / factor;
    hp->rope_base_swa = hp->rope_base;
    hp->attn_scale    = 1.0f / sqrtf((float)hp->head_dim_k);
    if (!hp_float(L, "final_logit_softcapping", false, 0.0, &hp->final_softcap)) return false;

    if (m->arch == MODEL_ARCH_GEMMA3) {
        /* Gemma 3: every 6th layer is global, the others use a sliding window and RoPE base 10k
         * (the reference engine's rule); 27B scales queries by n_embd/n_head. */
        if (!hp_int(L, "attention.sliding_window", false, 0, 0, (int64_t)1 << 30, &hp->n_swa)) return false;
        hp->rope_base_swa = 10000.0f;
        for (int64_t il = 0; il < hp->n_layer; il++) hp->swa_layer[il] = hp->n_swa > 0 && (il % 6) < 5;
        if (hp->n_layer == 62) hp->attn_scale = 1.0f / sqrtf((float)hp->n_embd / (float)hp->n_head);
    }
    if (hp->head_dim_v != hp->head_dim_k)
        return LFAIL(L, HEARTH_ERR_UNSUPPORTED, "model: key_length %lld != value_length %lld",
                          (long long)hp->head_dim_k, (long long)hp->head_dim_v), false;
    return true;
}

/* ---- load ------------------------------------------------------------------------------- */

static bool load_layer(loader *L, const model *m, int il, model_layer *ly) {
    const model_hparams *hp = &m->hp;
    const model_arch_info *ai = m->info;
    const int64_t E = hp->n_embd, Dq = hp->n_head * hp->head_dim_k, Dkv = hp->n_head_kv * hp->head_dim_k;
    char n[96];
#define NAME(s) (snprintf(n, sizeof n, "blk.%d.%s", il, (s)), n)
    if (!get_vec(L, NAME("attn_norm.weight"), E, true, &ly->attn_norm)) return false;
    if (!get_mat(L, NAME("attn_q.weight"), Dq, E, true, &ly->wq)) return false;
    if (!get_mat(L, NAME("attn_k.weight"), Dkv, E, true, &ly->wk)) return false;
    if (!get_mat(L, NAME("attn_v.weight"), Dkv, E, true, &ly->wv)) return false;
    if (!get_mat(L, NAME("attn_output.weight"), E, Dq, true, &ly->wo)) return false;
    if (!get_vec(L, NAME("attn_q.bias"), Dq, ai->qkv_bias, &ly->bq)) return false;
    if (!get_vec(L, NAME("attn_k.bias"), Dkv, ai->qkv_bias, &ly->bk)) return false;
    if (!get_vec(L, NAME("attn_v.bias"), Dkv, ai->qkv_bias, &ly->bv)) return false;
    if (ai->qk_norm) {
        if (!get_vec(L, NAME("attn_q_norm.weight"), hp->head_dim_k, true, &ly->q_norm)) return false;
        if (!get_vec(L, NAME("attn_k_norm.weight"), hp->head_dim_k, true, &ly->k_norm)) return false;
    }
    if (ai->post_norms) {
        if (!get_vec(L, NAME("post_attention_norm.weight"), E, true, &ly->post_attn_norm)) return false;
        if (!get_vec(L, NAME("post_ffw_norm.weight"), E, true, &ly->post_ffn_norm)) return false;
    }
    if (!get_vec(L, NAME("ffn_norm.weight"), E, true, &ly->ffn_norm)) return false;
    if (!get_mat(L, NAME("ffn_gate.weight"), hp->n_ff, E, true, &ly->w_gate)) return false;
    if (!get_mat(L, NAME("ffn_up.weight"), hp->n_ff, E, true, &ly->w_up)) return false;
    if (!get_mat(L, NAME("ffn_down.weight"), E, hp->n_ff, true, &ly->w_down)) return false;
#undef NAME
    return true;
}

hearth_status model_load(const char *path, model **out, char *err, size_t err_size) {
    *out = NULL;
    model *m = hearth_calloc(1, sizeof *m);
    if (!m) return hearth_err(err, err_size, HEARTH_ERR_NOMEM, "model: out of memory");
    hearth_status st = gguf_open_file(path, &m->gguf, err, err_size);
    if (st != HEARTH_OK) {
        free(m);
        return st;
    }
    const gguf_file *g = m->gguf;
    char arch[64] = "";
    gguf_str s;
    if (!gguf_get_str(g, "general.architecture", &s)) {
        st = hearth_err(err, err_size, HEARTH_ERR_FORMAT, "model: no general.architecture in '%s'", path);
        goto fail;
    }
    gguf_str_copy(s, arch, sizeof arch);
    m->arch = MODEL_ARCH_COUNT;
    for (int a = 0; a < MODEL_ARCH_COUNT; a++)
        if (!strcmp(arch, arch_table[a].name)) m->arch = (model_arch)a;
    if (m->arch == MODEL_ARCH_COUNT) {
        st = hearth_err(err, err_size, HEARTH_ERR_UNSUPPORTED,
                        "model: architecture '%s' is not supported (supported: llama, qwen2, qwen3, gemma3)", arch);
        goto fail;
    }
    m->info = &arch_table[m->arch];
    if (gguf_get_str(g, "general.name", &s)) gguf_str_copy(s, m->name, sizeof m->name);

    loader L = { .g = g, .arch = arch, .err = err, .err_size = err_size, .st = HEARTH_ERR_FORMAT };
    if (!load_hparams(&L, m)) goto fail_keep;
    model_hparams *hp = &m->hp;

    const gguf_tensor *te = gguf_find_tensor(g, "token_embd.weight");
    if (!te) {
        st = hearth_err(err, err_size, HEARTH_ERR_FORMAT, "model: missing tensor 'token_embd.weight'");
        goto fail;
    }
    hp->n_vocab = te->ne[1];
    if (hp->n_vocab < 1 || hp->n_vocab > ((int64_t)1 << 31) - 1) {
        st = hearth_err(err, err_size, HEARTH_ERR_FORMAT, "model: bad vocabulary size %lld", (long long)hp->n_vocab);
        goto fail;
    }
    if (!get_mat(&L, "token_embd.weight", hp->n_vocab, hp->n_embd, true, &m->tok_embd)) goto fail_keep;
    if (!get_vec(&L, "output_norm.weight", hp->n_embd, true, &m->out_norm)) goto fail_keep;
    if (!get_mat(&L, "output.weight", hp->n_vocab, hp->n_embd, false, &m->output)) goto fail_keep;
    if (!m->output.data) m->output = m->tok_embd; /* tied embeddings */
    if (!get_vec(&L, "rope_freqs.weight", hp->n_rot / 2, false, &m->rope_freqs)) goto fail_keep;

    m->layers = hearth_calloc((size_t)hp->n_layer, sizeof *m->layers);
    if (!m->layers) {
        st = hearth_err(err, err_size, HEARTH_ERR_NOMEM, "model: out of memory");
        goto fail;
    }
    for (int il = 0; il < hp->n_layer; il++)
        if (!load_layer(&L, m, il, &m->layers[il])) goto fail_keep;
    if ((st = repack_weights(m, err, err_size)) != HEARTH_OK) goto fail;
    *out = m;
    return HEARTH_OK;

fail_keep: /* the message and status are in L */
    st = L.st;
fail:
    model_free(m);
    return st;
}

void model_free(model *m) {
    if (!m) return;
    for (int i = 0; i < m->n_repacked; i++) free(m->repacked[i]);
    free(m->repacked);
    free(m->layers);
    gguf_free(m->gguf);
    free(m);
}
