/*
 * fit.h — "does this model fit, and how fast will it run?" from the GGUF header alone, plus
 * the machine probe, hardware profiles, the Hugging Face hub client and the local model
 * store used by `hearth fit`, `hearth pull`, `hearth list` and `hearth rm`.  Internal to
 * libhearth; the store name resolver is public (hearth_resolve_model in hearth.h).
 *
 * Memory model (what a loaded model keeps resident):
 *   file bytes (header + weights, mmap'd and all touched)
 *   + KV cache:  sum over layers of cells(l) * kv_heads(l) * (head_k + head_v) * elem size,
 *                cells(l) = ctx * parallel, or min(ctx, window) * parallel on sliding-window layers
 *   + compute buffers (activations of one micro-batch, attention scores) + logits
 *   + tokenizer tables + a fixed process overhead.
 * Decode speed: bandwidth * efficiency / bytes read per token (weights read once per token,
 * the token embedding only one row unless it is tied to the output; for mixture-of-experts
 * only the active experts' share of the expert tensors; plus the KV cache read).
 */
#ifndef HEARTH_FIT_H
#define HEARTH_FIT_H

#include "hearth.h"
#include "core/threadpool.h"
#include "gguf/gguf.h"
#include "tensor/type.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FIT_MAX_LAYERS 1024

/* ---- model shape from the header --------------------------------------------------- */
typedef struct fit_model {
    char     arch[64];
    char     name[256];
    uint64_t file_bytes;       /* all parts, header included */
    uint64_t n_params;
    int64_t  n_layer, n_embd, n_ff, n_head, n_vocab, n_ctx_train;
    int64_t  head_k, head_v;   /* per-head key/value sizes (key_length/value_length) */
    int64_t  n_swa;            /* sliding window (0 = none) */
    int64_t  n_expert, n_expert_used;
    int32_t  kv_heads[FIT_MAX_LAYERS]; /* per layer; 0 = the layer has no KV cache */
    bool     swa[FIT_MAX_LAYERS];      /* layer uses the sliding window */
    uint64_t weight_bytes;             /* sum of tensor bytes */
    uint64_t type_bytes[HEARTH_TYPE_COUNT];
    uint64_t type_count[HEARTH_TYPE_COUNT];
    uint64_t layer_bytes[FIT_MAX_LAYERS];
    uint64_t other_bytes;              /* tensors outside blk.N (embeddings, output, norms) */
    uint64_t embd_bytes;               /* token_embd.weight */
    bool     tied_output;              /* no output.weight: token_embd serves as the output */
    uint64_t expert_bytes;             /* tensors of experts (*_exps) */
    uint64_t read_bytes;               /* weight bytes read per decoded token */
    uint32_t n_split;                  /* parts of a split file */
    /* what a decoded token runs (for the kernel-rate speed model) */
    uint64_t mm_bytes[HEARTH_TYPE_COUNT];     /* matrices of the layers (2-D+), all experts */
    uint64_t mm_exp_bytes[HEARTH_TYPE_COUNT]; /* of which expert tensors (*_exps) */
    uint64_t mm_read[HEARTH_TYPE_COUNT];      /* layer matrix bytes read per token (active experts) */
    int64_t  n_mm_tensors, n_exp_tensors;     /* layer matrices, of which expert tensors */
    int64_t  n_matmul;                        /* matmuls per token: layers and the output */
    int32_t  embd_type, output_type;          /* -1: absent */
    uint64_t output_bytes;                    /* output.weight */
    int32_t  out_type;                        /* the output matrix (token_embd when tied) */
    uint64_t out_bytes;
} fit_model;

/* Fills *m from an opened file (one part).  Unknown or missing keys fall back to values
 * derived from tensor shapes; returns HEARTH_ERR_FORMAT when no layer count can be found. */
hearth_status fit_model_from_gguf(const gguf_file *g, fit_model *m, char *err, size_t err_size);

/* Adds the tensors of another part of a split model to *m (call before fit_model_finish). */
void fit_model_add_tensors(const gguf_file *g, fit_model *m);

/* Derives read_bytes and the tied flag after all parts are added. */
void fit_model_finish(fit_model *m);

/* Opens a local model (following split parts `-0000k-of-0000N.gguf` next to it) and fills *m. */
hearth_status fit_model_load(const char *path, fit_model *m, char *err, size_t err_size);

/* Sliding-window layer pattern of an architecture: true when layer il uses the window. */
bool fit_arch_layer_is_swa(const char *arch, int64_t il, int64_t n_layer);

/* ---- estimates ----------------------------------------------------------------------- */
typedef struct fit_params {
    int64_t     n_ctx;      /* context per sequence */
    int32_t     n_parallel; /* sequences */
    hearth_type kv_type;    /* F16, F32 or Q8_0 */
    int32_t     n_batch;    /* micro-batch for prefill buffers */
    int32_t     n_threads;
    int32_t     n_gen;      /* decode_tps: generating this many tokens from an empty context */
} fit_params;

void fit_params_default(fit_params *p);

typedef struct fit_estimate {
    uint64_t weights_bytes;  /* tensor bytes */
    uint64_t file_bytes;
    uint64_t kv_bytes;
    uint64_t compute_bytes;  /* activations + attention scores */
    uint64_t logits_bytes;
    uint64_t overhead_bytes; /* process, tokenizer tables */
    uint64_t total_bytes;    /* predicted resident set */
    uint64_t read_per_token; /* bytes read per decoded token (weights + KV) */
} fit_estimate;

/* KV-cache bytes for `n_ctx` cells per sequence (see the model above); a sliding-window layer
 * holds min(n_ctx, n_swa + n_batch) cells, the engine's ring (window plus one batch). */
uint64_t fit_kv_bytes(const fit_model *m, int64_t n_ctx, int64_t n_batch, int32_t n_parallel, hearth_type kv_type);

/* KV-cache bytes of one layer. */
uint64_t fit_kv_layer_bytes(const fit_model *m, int64_t il, int64_t n_ctx, int64_t n_batch, int32_t n_parallel,
                            hearth_type kv_type);

void fit_estimate_memory(const fit_model *m, const fit_params *p, fit_estimate *e);

/* The largest context (a multiple of 256, at most the training context) whose total fits in
 * `budget` bytes; 0 when not even 256 fits. */
int64_t fit_max_ctx(const fit_model *m, const fit_params *p, uint64_t budget);

/* ---- kernel rates of this machine (probe.c) ------------------------------------------ */
#define FIT_PROBE_BATCH 128 /* tokens of the prefill matmul the probe times */

typedef struct fit_rates {
    bool    valid;
    char    isa[16];                  /* hearth_kernels_isa() when measured */
    char    version[32];              /* hearth_version() when measured */
    int32_t threads;
    double  gemv[HEARTH_TYPE_COUNT];  /* weight bytes/s of a one-token matmul from RAM; 0: unsupported */
    double  gemm[HEARTH_TYPE_COUNT];  /* weight bytes x tokens/s of a FIT_PROBE_BATCH-token matmul */
    double  call_s;                   /* seconds of one small matmul: dispatch + activation conversion */
    double  attn;                     /* attention cells/s: (head x position x head size), K and V */
    double  attn_prompt;              /* the same for a prompt's tiles (0: none; then attn) */
    double  vec;                      /* element-wise floats/s (norm, activation, add), one thread */
    double  probe_s;                  /* how long the probe ran */
    double  measured_at;              /* unix seconds */
    double  loadavg;                  /* 1-minute load average when measured (-1: unknown) */
} fit_rates;

/* Whether the active kernel table has a matmul for weights of `type`. */
bool fit_probe_type_supported(hearth_type type);

/* Times hearth_matmul of `n_tok` tokens against the matrix of `type` with `cols` columns
 * laid over `w` (as many whole rows as fit in w_bytes; touched before) for about `seconds`,
 * at least one call; returns weight bytes x tokens per second, 0 when the type is unsupported. */
double fit_probe_matmul(hearth_threadpool *pool, hearth_type type, int64_t cols, const void *w, size_t w_bytes,
                        int64_t n_tok, double seconds);

/* Measures every rate of *r with `threads` threads (0: the engine's default) in about 1.5 s. */
hearth_status fit_rates_probe(fit_rates *r, int32_t threads, char *err, size_t err_size);

/* The rates of this build on this machine from `cache_dir`/kernels-*.json (the key holds the
 * host name, thread count, library version, kernel table and the running binary's identity,
 * so a rebuilt engine is measured again), probing and caching them when absent or `reprobe`.
 * cache_dir may be NULL (always probes). */
hearth_status fit_rates_get(fit_rates *r, int32_t threads, const char *cache_dir, bool reprobe, char *err,
                            size_t err_size);

/* ---- machines and hardware profiles -------------------------------------------------- */
typedef struct fit_machine {
    char     name[96];
    uint64_t ram_bytes;        /* total RAM (or unified memory) */
    uint64_t avail_bytes;      /* available now (this machine) or = ram_bytes (profiles) */
    double   bandwidth;        /* CPU/unified memory read bandwidth, bytes/s */
    uint64_t vram_bytes;       /* discrete GPU memory; 0 = none */
    double   gpu_bandwidth;    /* bytes/s */
    double   flops;            /* sustained CPU/GPU FLOP/s for prefill */
    double   gpu_flops;
    int32_t  cores;
    int32_t  threads;          /* threads used by the bandwidth probe */
    bool     unified;          /* GPU shares the RAM (Apple) */
    char     features[128];    /* "avx2 fma f16c" */
    fit_rates rates;           /* kernel rates measured here (rates.valid false: bandwidth model) */
} fit_machine;

/* Probes this machine: /proc/meminfo, cores, CPU features, read bandwidth (a ~0.5 s probe
 * with `threads` threads, 0 = all cores), cached in `cache_dir`/machine-*.json, and the
 * kernel rates of this build (fit_rates_get, ~1.5 s, cached per build) unless `reprobe`.
 * cache_dir may be NULL (no cache).  A failed kernel probe leaves rates.valid false. */
hearth_status fit_machine_probe(fit_machine *mc, int32_t threads, const char *cache_dir, bool reprobe, char *err,
                                size_t err_size);

/* Measures read bandwidth in bytes/s over `bytes` with `threads` threads for about `seconds`. */
double fit_bandwidth_probe(size_t bytes, int32_t threads, double seconds);

/* Named hardware profiles. */
int32_t            fit_hw_count(void);
const fit_machine *fit_hw_at(int32_t i);
const fit_machine *fit_hw_find(const char *name);
const char        *fit_hw_desc(int32_t i);

/* Speed estimates.  Efficiency factors are the fraction of bandwidth / peak FLOPs reached. */
#define FIT_DECODE_EFF_CPU 0.60
#define FIT_DECODE_EFF_GPU 0.75
/* A weight type counts as memory-bound when reading it at bandwidth x efficiency takes at
 * least this fraction of its kernel time (a faster kernel would gain little). */
#define FIT_MEM_BOUND 0.75

/* Prompt length prefill_tps is predicted for (at most the context): pp512. */
#define FIT_PREFILL_LEN 512
/* The forward pass's element-wise stages per layer, and the batch from which they run over
 * the pool (model/forward.c STAGE_POOL_MIN_TOKENS). */
#define FIT_STAGES            4
#define FIT_STAGE_POOL_TOKENS 8

/* Weight bytes of one type read per decoded token and how long they take. */
typedef struct fit_part {
    uint64_t bytes;
    double   mem_s;        /* bytes / (bandwidth x efficiency) */
    double   kernel_s;     /* bytes / measured kernel rate (0: no rate) */
    double   seconds;      /* max(mem_s, kernel_s) */
    bool     memory_bound; /* mem_s >= kernel_s */
} fit_part;

typedef struct fit_speed {
    double  decode_tps;     /* generating n_gen tokens from an empty context (as bench tg) */
    double  decode_tps_ctx; /* at the end of a full context */
    double  prefill_tps;    /* a prompt of min(ctx, FIT_PREFILL_LEN) tokens */
    int64_t gpu_layers;   /* layers offloaded to a discrete GPU (-1: no GPU) */
    int64_t n_layer;
    bool    fits;         /* everything fits in RAM (+VRAM) */
    int64_t max_ctx;
    /* breakdown of a decoded token (CPU without a discrete GPU) */
    bool     measured;                 /* from this machine's kernel rates (else bandwidth only) */
    fit_part part[HEARTH_TYPE_COUNT];  /* weights by type, the output matrix included */
    double   t_weights;                /* sum of part[].seconds */
    double   t_mem_bound;              /* of which in memory-bound types */
    double   t_calls;                  /* n_calls x the per-call overhead */
    int64_t  n_calls;                  /* thread-pool jobs per token: matmuls + attention per layer */
    double   t_attn, t_attn_ctx;       /* attention at position n_gen/2 / at the end of the context */
    double   t_vec;                    /* element-wise work */
} fit_speed;

/* Speed and fit of model `m` with params `p` on machine `mc`.  With mc->rates.valid each
 * weight tensor of a decoded token takes max(bytes / (bandwidth x efficiency), bytes / the
 * kernel rate of its type), plus the pool jobs' fixed cost, attention over the cached
 * positions and element-wise work; prefill likewise from the multi-token kernel rates.
 * Without rates: bandwidth x efficiency / bytes per token.  `decode_eff` <= 0 uses the
 * default CPU efficiency. */
void fit_predict(const fit_model *m, const fit_params *p, const fit_machine *mc, double decode_eff, fit_speed *s);

/* ---- Hugging Face hub client (libcurl) ----------------------------------------------- */
typedef struct hub_file {
    char     path[512];
    uint64_t size;
    char     sha256[65];  /* "" when the listing gives none */
} hub_file;

typedef struct hub_listing {
    hub_file *files;
    size_t    n;
} hub_listing;

void hub_listing_free(hub_listing *l);

/* Base URL: $HF_ENDPOINT or https://huggingface.co (no trailing slash). */
const char *hub_endpoint(void);

/* Lists a repository's files (GET /api/models/{repo}/tree/main?recursive=true). */
hearth_status hub_list(const char *repo, hub_listing *out, char *err, size_t err_size);

/* Reads just the GGUF header of {repo}/{file} with range requests and opens it as a
 * gguf_file whose data section is absent (never touch tensor data).  *total gets the file
 * size.  Release with hub_header_free. */
typedef struct hub_header {
    gguf_file *g;
    void      *map;
    size_t     map_size;
    uint64_t   total;
} hub_header;
hearth_status hub_read_header(const char *repo, const char *file, hub_header *out, char *err, size_t err_size);
void          hub_header_free(hub_header *h);

/* Downloads {repo}/{file} to `dest` through `dest`.part (resuming it), checks the size and
 * SHA-256 (`sha256` hex or "" to ask the server's X-Linked-Etag), renames only when verified.
 * `progress` prints a bar (tty) or quiet lines. */
hearth_status hub_download(const char *repo, const char *file, uint64_t size, const char *sha256, const char *dest,
                           bool progress_tty, char *err, size_t err_size);

/* SHA-256 of a file as 64 hex digits. */
hearth_status fit_sha256_file(const char *path, char out[65], char *err, size_t err_size);

/* Bytes the GGUF header at the start of `buf` needs: 0 and *need_more set when `len` is too
 * short to tell; HEARTH_ERR_FORMAT when it is not a GGUF header. */
hearth_status fit_gguf_header_len(const uint8_t *buf, uint64_t len, uint64_t *hdr_len, bool *need_more, char *err,
                                  size_t err_size);

/* ---- model store ----------------------------------------------------------------------- */
/* Store root: $HEARTH_MODELS or ~/.cache/hearth/models; pulled models live under
 * <root>/store/<owner>/<repo>/<file>.gguf with <file>.gguf.json manifests beside them. */
hearth_status store_root(char *out, size_t out_size, char *err, size_t err_size);

/* The quantization tag in a file name ("Q4_K_M"), or "" ; written into out. */
void store_quant_of(const char *file, char *out, size_t out_size);

/* Split part "X-00001-of-00003.gguf": sets part/count, returns true. */
bool store_split_of(const char *file, uint32_t *part, uint32_t *count);

typedef struct store_entry {
    char     name[600];   /* owner/repo:QUANT or the file name */
    char     path[4096];
    uint64_t size;        /* all parts */
    double   last_used;   /* unix seconds, 0 = never */
} store_entry;

/* Every model in the store (pulled ones and plain .gguf files in the root). */
hearth_status store_list(store_entry **out, size_t *n, char *err, size_t err_size);

/* Removes a store model (all parts and manifests). */
hearth_status store_remove(const char *name, char *err, size_t err_size);

/* Writes the manifest of a pulled model. */
hearth_status store_write_manifest(const char *gguf_path, const char *repo, const char *file, const char *sha256,
                                   uint64_t size, char *err, size_t err_size);

#endif /* HEARTH_FIT_H */
