/*
 * model.h — a loaded model (hyperparameters + read-only weight views into the GGUF mapping)
 * and its forward pass over a KV cache.  Internal to libhearth; the public face is the
 * engine section of hearth.h.
 *
 * Shapes follow GGUF/ggml order in comments: (rows, cols) of a hearth_mat means `rows` output
 * features of `cols` inputs each.
 */
#ifndef HEARTH_MODEL_H
#define HEARTH_MODEL_H

#include "core/core.h"
#include "core/threadpool.h"
#include "gguf/gguf.h"
#include "kernels/kernels.h"

#include <stdbool.h>
#include <stdint.h>

#define MODEL_MAX_LAYERS 512

typedef enum model_arch {
    MODEL_ARCH_LLAMA = 0,
    MODEL_ARCH_QWEN2,
    MODEL_ARCH_QWEN3,
    MODEL_ARCH_GEMMA3,
    MODEL_ARCH_COUNT
} model_arch;

/* What differs between architectures that share the decoder-block code. */
typedef struct model_arch_info {
    const char *name;       /* general.architecture */
    bool        rope_neox;  /* rotate pairs (i, i+d/2) rather than (2i, 2i+1) */
    bool        qkv_bias;   /* attn_{q,k,v}.bias present */
    bool        qk_norm;    /* per-head RMS norm of Q and K before RoPE */
    bool        post_norms; /* gemma: post_attention_norm and post_ffw_norm */
    bool        gelu;       /* FFN activation: GELU(tanh) instead of SiLU */
    bool        embd_scale; /* input embeddings scaled by sqrt(n_embd) */
    bool        q_prescale; /* Q multiplied by attn_scale after RoPE (gemma) instead of K·Q */
} model_arch_info;

typedef struct model_hparams {
    int64_t n_vocab;
    int64_t n_ctx_train;
    int64_t n_embd;
    int64_t n_layer;
    int64_t n_ff;
    int64_t n_head;
    int64_t n_head_kv;
    int64_t head_dim_k;     /* attention.key_length, default n_embd / n_head */
    int64_t head_dim_v;     /* attention.value_length */
    int64_t n_rot;          /* rope.dimension_count, default head_dim_k */
    float   norm_eps;
    float   rope_base;      /* global layers */
    float   rope_freq_scale;
    float   rope_base_swa;  /* sliding-window layers (gemma3: 10000) */
    float   attn_scale;     /* multiplies Q·K */
    int64_t n_swa;          /* sliding window, 0: none */
    bool    swa_layer[MODEL_MAX_LAYERS];
    float   final_softcap;  /* 0: none */
} model_hparams;

/* One decoder block.  NULL for weights an architecture does not have. */
typedef struct model_layer {
    const float *attn_norm;      /* (n_embd) */
    hearth_mat   wq;             /* (n_head*head_dim_k, n_embd) */
    hearth_mat   wk;             /* (n_head_kv*head_dim_k, n_embd) */
    hearth_mat   wv;             /* (n_head_kv*head_dim_v, n_embd) */
    hearth_mat   wo;             /* (n_embd, n_head*head_dim_v) */
    const float *bq, *bk, *bv;   /* qwen2 biases */
    const float *q_norm, *k_norm;/* (head_dim_k) */
    const float *post_attn_norm; /* (n_embd) gemma */
    const float *ffn_norm;       /* (n_embd) */
    hearth_mat   w_gate;         /* (n_ff, n_embd) */
    hearth_mat   w_up;           /* (n_ff, n_embd) */
    hearth_mat   w_down;         /* (n_embd, n_ff) */
    const float *post_ffn_norm;  /* (n_embd) gemma */
} model_layer;

typedef struct model {
    gguf_file             *gguf;     /* owns the mapping every view points into */
    model_arch             arch;
    const model_arch_info *info;
    model_hparams          hp;
    hearth_mat             tok_embd; /* (n_vocab, n_embd) */
    const float           *out_norm; /* (n_embd) */
    hearth_mat             output;   /* (n_vocab, n_embd); tok_embd when tied */
    const float           *rope_freqs; /* (n_rot/2) llama3 frequency factors, or NULL */
    model_layer           *layers;   /* n_layer */
    char                   name[256];
    void                 **repacked; /* weights interleaved at load (model_load), owned */
    int                    n_repacked;
} model;

/* Loads the model at `path`: reads hyperparameters, validates every tensor's presence, shape
 * and type, and points views into the mapping; the only weights copied are the matmul weights
 * the kernels want interleaved (hearth_repack_x8_ok; HEARTH_REPACK=0: none), whose
 * mapped pages are then dropped.  On failure
 * returns a status and a message naming the architecture, tensor or key at fault. */
hearth_status model_load(const char *path, model **out, char *err, size_t err_size);
void          model_free(model *m);

/* ---- KV cache and forward pass ---------------------------------------------------------- */

/* Per-context state: F16 KV caches for n_seq sequences (n_ctx positions each) and every work
 * buffer, sized once for n_batch tokens per forward pass.  One thread pool serves all
 * sequences. */
typedef struct model_state model_state;

hearth_status model_state_create(const model *m, int64_t n_ctx, int64_t n_batch, int64_t n_seq, bool logits_all,
                                 int n_threads, model_state **out, char *err, size_t err_size);
void          model_state_free(model_state *s);
int64_t       model_state_n_ctx(const model_state *s);
int64_t       model_state_n_batch(const model_state *s);
int64_t       model_state_n_seq(const model_state *s);
/* Logits rows one forward pass can return: n_batch with logits_all, else max(1, n_seq). */
int64_t       model_state_n_out_max(const model_state *s);
size_t        model_state_kv_bytes(const model_state *s);
/* How many of a sequence's first n cached positions it can keep (a truncation to n): n, or 0
 * when a sliding-window layer's ring no longer holds the window the next position needs. */
int64_t       model_state_seq_keep(const model_state *s, int64_t seq, int64_t n);
hearth_threadpool *model_state_pool(model_state *s);
/* The output-normed hidden states the last forward pass computed logits from, one row per
 * logits row: (n_out, n_embd), valid until the next call. */
const float  *model_state_hidden(const model_state *s);

/* Runs n (<= n_batch) tokens of sequence 0 at positions pos0..pos0+n-1 (the cache must hold
 * positions 0..pos0-1 from earlier calls; pos0+n <= n_ctx).  Computes logits for every token
 * when the state was created with logits_all (else for the last one only); *logits receives
 * (n or 1, n_vocab) floats, valid until the next call.  Token ids are checked. */
hearth_status model_forward(const model *m, model_state *s, const int32_t *tokens, int64_t n, int64_t pos0,
                            const float **logits, char *err, size_t err_size);

/* A batch over several sequences: token t goes to sequence seq[t] at position pos[t].  Each
 * token attends to positions 0..pos[t] of its own sequence's cache only; the caller vouches
 * that positions below pos[t] were written before (by earlier calls or earlier tokens of this
 * batch).  out[t] nonzero asks for token t's logits; rows come back in batch order. */
typedef struct model_batch {
    const int32_t *tokens; /* (n) */
    const int32_t *seq;    /* (n) in [0, n_seq) */
    const int32_t *pos;    /* (n) in [0, n_ctx) */
    const uint8_t *out;    /* (n) */
    int64_t        n;      /* 1..n_batch */
} model_batch;

/* Runs a multi-sequence batch: one pass over the weights for all of its tokens.  At most
 * model_state_n_out_max rows of logits; *n_out receives how many were computed.  Token ids,
 * sequences, positions and the output count are checked before anything is written. */
hearth_status model_forward_batch(const model *m, model_state *s, const model_batch *b, const float **logits,
                                  int64_t *n_out, char *err, size_t err_size);

#endif /* HEARTH_MODEL_H */
