/* test_fit.c — KV-cache arithmetic per architecture against hand-computed values, weight
 * accounting, largest context, the header-length scanner, store names. */
#include "tap.h"

#include "fit/fit.h"
#include "gguf/gguf_write.h"

#include <stdlib.h>

/* A model image: `arch` with n_layer layers, n_embd, heads, kv heads (scalar), and optional
 * key/value lengths and sliding window; one small F32 tensor per layer. */
typedef struct spec {
    const char *arch;
    uint32_t    n_layer, n_embd, n_head, n_head_kv;
    uint32_t    key_len, val_len, window, pattern;
    uint32_t    n_expert, n_expert_used;
    const int32_t *kv_arr; /* per-layer kv heads, or NULL */
} spec;

static hearth_buf image;

static gguf_file *build(const spec *s) {
    gguf_writer w;
    gguf_writer_init(&w);
    char k[128];
    gguf_write_str(&w, "general.architecture", s->arch);
#define KEY(suffix) (snprintf(k, sizeof k, "%s.%s", s->arch, suffix), k)
    gguf_write_u32(&w, KEY("block_count"), s->n_layer);
    gguf_write_u32(&w, KEY("embedding_length"), s->n_embd);
    gguf_write_u32(&w, KEY("feed_forward_length"), 4 * s->n_embd);
    gguf_write_u32(&w, KEY("context_length"), 32768);
    gguf_write_u32(&w, KEY("attention.head_count"), s->n_head);
    if (s->kv_arr) gguf_write_arr(&w, KEY("attention.head_count_kv"), GGUF_VT_INT32, s->kv_arr, s->n_layer);
    else gguf_write_u32(&w, KEY("attention.head_count_kv"), s->n_head_kv);
    if (s->key_len) gguf_write_u32(&w, KEY("attention.key_length"), s->key_len);
    if (s->val_len) gguf_write_u32(&w, KEY("attention.value_length"), s->val_len);
    if (s->window) gguf_write_u32(&w, KEY("attention.sliding_window"), s->window);
    if (s->pattern) gguf_write_u32(&w, KEY("attention.sliding_window_pattern"), s->pattern);
    if (s->n_expert) {
        gguf_write_u32(&w, KEY("expert_count"), s->n_expert);
        gguf_write_u32(&w, KEY("expert_used_count"), s->n_expert_used);
    }
#undef KEY
    int64_t ne[3] = { 32, 4, 1 };
    gguf_write_tensor(&w, "token_embd.weight", HEARTH_TYPE_F32, 2, ne, NULL); /* 512 B */
    for (uint32_t il = 0; il < s->n_layer; il++) {
        char name[64];
        snprintf(name, sizeof name, "blk.%u.attn_q.weight", il);
        gguf_write_tensor(&w, name, HEARTH_TYPE_F32, 2, ne, NULL); /* 512 B */
        if (s->n_expert) {
            int64_t ne3[3] = { 32, 4, s->n_expert };
            snprintf(name, sizeof name, "blk.%u.ffn_up_exps.weight", il);
            gguf_write_tensor(&w, name, HEARTH_TYPE_F32, 3, ne3, NULL); /* 512 B per expert */
        }
    }
    hearth_buf_free(&image);
    if (!gguf_writer_finish(&w, &image)) return NULL;
    gguf_writer_free(&w);
    gguf_file *g = NULL;
    char err[256];
    if (gguf_open_memory(image.data, image.len, &g, err, sizeof err)) {
        fprintf(stderr, "  open: %s\n", err);
        return NULL;
    }
    return g;
}

static bool model_of(const spec *s, fit_model *m) {
    gguf_file *g = build(s);
    if (!g) return false;
    char err[256];
    bool ok = fit_model_from_gguf(g, m, err, sizeof err) == HEARTH_OK;
    if (!ok) fprintf(stderr, "  model: %s\n", err);
    fit_model_finish(m);
    gguf_free(g);
    return ok;
}

static fit_model M;

/* llama, SmolLM2-135M shape: 30 layers, 3 KV heads of 64: per cell 3*64*2 (k+v) * 2 B = 768 B */
static void test_kv_llama(void) {
    spec s = { .arch = "llama", .n_layer = 30, .n_embd = 576, .n_head = 9, .n_head_kv = 3 };
    REQUIRE(model_of(&s, &M));
    CHECK(M.head_k == 64 && M.head_v == 64);
    CHECK(fit_kv_bytes(&M, 4096, 0, 1, HEARTH_TYPE_F16) == 94371840ull); /* 30 * 4096 * 768 */
    CHECK(fit_kv_bytes(&M, 512, 0, 1, HEARTH_TYPE_F16) == 11796480ull);  /* 30 * 512 * 768 */
    CHECK(fit_kv_bytes(&M, 512, 0, 1, HEARTH_TYPE_F32) == 23592960ull);
    CHECK(fit_kv_bytes(&M, 1024, 0, 4, HEARTH_TYPE_F16) == 94371840ull); /* 4 sequences of 1024 */
}

/* gemma3 (270M shape): 18 layers, 1 KV head, key/value length 256, window 512; layers 5, 11
 * and 17 are global.  ctx 4096: 3 * 4096 * 1024 B + 15 * 512 * 1024 B. */
static void test_kv_gemma3(void) {
    spec s = { .arch = "gemma3", .n_layer = 18, .n_embd = 640, .n_head = 4, .n_head_kv = 1, .key_len = 256,
               .val_len = 256, .window = 512 };
    REQUIRE(model_of(&s, &M));
    CHECK(M.head_k == 256 && M.head_v == 256 && M.n_swa == 512);
    int nswa = 0;
    for (int i = 0; i < 18; i++) nswa += M.swa[i];
    CHECK(nswa == 15 && !M.swa[5] && !M.swa[11] && !M.swa[17] && M.swa[0] && M.swa[16]);
    CHECK(fit_kv_bytes(&M, 4096, 0, 1, HEARTH_TYPE_F16) == 20447232ull);
    CHECK(fit_kv_bytes(&M, 512, 0, 1, HEARTH_TYPE_F16) == 9437184ull);  /* 18 * 512 * 1024 */
    CHECK(fit_kv_bytes(&M, 256, 0, 1, HEARTH_TYPE_F16) == 4718592ull);  /* below the window: all 256 */
    CHECK(fit_kv_layer_bytes(&M, 0, 4096, 0, 1, HEARTH_TYPE_F16) == 524288ull);
    CHECK(fit_kv_layer_bytes(&M, 5, 4096, 0, 1, HEARTH_TYPE_F16) == 4194304ull);
    /* the engine's ring: window + one batch of 256 */
    CHECK(fit_kv_bytes(&M, 4096, 256, 1, HEARTH_TYPE_F16) == 24379392ull); /* 3*4096*1024 + 15*768*1024 */
    CHECK(fit_kv_bytes(&M, 512, 256, 1, HEARTH_TYPE_F16) == 9437184ull);   /* below window + batch: all 512 */
}

/* gemma2: even layers use the window.  4 layers, 4 KV heads of 128 (1024/8), window 4096,
 * ctx 8192: 2 * 4096 * 2048 + 2 * 8192 * 2048. */
static void test_kv_gemma2(void) {
    spec s = { .arch = "gemma2", .n_layer = 4, .n_embd = 1024, .n_head = 8, .n_head_kv = 4, .window = 4096 };
    REQUIRE(model_of(&s, &M));
    CHECK(M.swa[0] && !M.swa[1] && M.swa[2] && !M.swa[3]);
    CHECK(fit_kv_bytes(&M, 8192, 0, 1, HEARTH_TYPE_F16) == 50331648ull);
}

/* different key and value head sizes (MLA-style): 16 KV heads, k 192, v 128, 2 layers,
 * ctx 1000: 2 * 1000 * 16 * (192 + 128) * 2 B */
static void test_kv_kv_lengths(void) {
    spec s = { .arch = "deepseek2", .n_layer = 2, .n_embd = 2048, .n_head = 16, .n_head_kv = 16, .key_len = 192,
               .val_len = 128 };
    REQUIRE(model_of(&s, &M));
    CHECK(fit_kv_bytes(&M, 1000, 0, 1, HEARTH_TYPE_F16) == 20480000ull);
}

/* q8_0 cache: 8 KV heads of 128 = 1024 elements per cell and side = 32 blocks of 34 B */
static void test_kv_q8(void) {
    spec s = { .arch = "qwen2", .n_layer = 1, .n_embd = 4096, .n_head = 32, .n_head_kv = 8 };
    REQUIRE(model_of(&s, &M));
    CHECK(fit_kv_bytes(&M, 100, 0, 1, HEARTH_TYPE_Q8_0) == 217600ull);
    /* qwen2 writes a sliding_window but does not use it */
    spec s2 = s;
    s2.window = 64;
    REQUIRE(model_of(&s2, &M));
    CHECK(fit_kv_bytes(&M, 100, 0, 1, HEARTH_TYPE_Q8_0) == 217600ull);
}

/* per-layer KV heads (OpenELM-style array), f32: layers of 2, 4 and 0 heads of 64 */
static void test_kv_per_layer(void) {
    static const int32_t kv[3] = { 2, 4, 0 };
    spec s = { .arch = "openelm", .n_layer = 3, .n_embd = 512, .n_head = 8, .kv_arr = kv };
    REQUIRE(model_of(&s, &M));
    CHECK(M.kv_heads[0] == 2 && M.kv_heads[1] == 4 && M.kv_heads[2] == 0);
    CHECK(fit_kv_bytes(&M, 10, 0, 1, HEARTH_TYPE_F32) == 30720ull);
}

/* an explicit sliding_window_pattern key: every 3rd layer global */
static void test_kv_pattern_key(void) {
    spec s = { .arch = "newarch", .n_layer = 3, .n_embd = 256, .n_head = 4, .n_head_kv = 2, .window = 16, .pattern = 3 };
    REQUIRE(model_of(&s, &M));
    CHECK(M.swa[0] && M.swa[1] && !M.swa[2]);
    /* per cell 2*64*2*2 = 512 B: 16 + 16 + 100 cells */
    CHECK(fit_kv_bytes(&M, 100, 0, 1, HEARTH_TYPE_F16) == 512ull * 132);
}

/* weights: per layer, outside layers, tied output read in full; MoE reads only used experts */
static void test_weights_and_moe(void) {
    spec s = { .arch = "llama", .n_layer = 2, .n_embd = 64, .n_head = 1, .n_head_kv = 1 };
    REQUIRE(model_of(&s, &M));
    CHECK(M.weight_bytes == 3 * 512);
    CHECK(M.layer_bytes[0] == 512 && M.layer_bytes[1] == 512 && M.other_bytes == 512);
    CHECK(M.tied_output && M.read_bytes == 3 * 512);
    spec e = { .arch = "qwen3moe", .n_layer = 1, .n_embd = 64, .n_head = 1, .n_head_kv = 1, .n_expert = 8, .n_expert_used = 2 };
    REQUIRE(model_of(&e, &M));
    CHECK(M.expert_bytes == 8 * 512);
    CHECK(M.weight_bytes == 512 + 512 + 8 * 512);
    CHECK(M.read_bytes == 512 + 512 + 2 * 512);
}

/* what a decoded token runs: layer matrices by type, the output (tied: the embedding), and
 * the matmul count; MoE counts the used experts only */
static void test_token_accounting(void) {
    spec s = { .arch = "llama", .n_layer = 3, .n_embd = 64, .n_head = 1, .n_head_kv = 1 };
    REQUIRE(model_of(&s, &M));
    CHECK(M.mm_read[HEARTH_TYPE_F32] == 3 * 512 && M.n_mm_tensors == 3);
    CHECK(M.out_type == HEARTH_TYPE_F32 && M.out_bytes == 512 && M.n_matmul == 4);
    spec e = { .arch = "qwen3moe", .n_layer = 2, .n_embd = 64, .n_head = 1, .n_head_kv = 1, .n_expert = 8, .n_expert_used = 2 };
    REQUIRE(model_of(&e, &M));
    CHECK(M.mm_bytes[HEARTH_TYPE_F32] == 2 * (512 + 8 * 512));
    CHECK(M.mm_read[HEARTH_TYPE_F32] == 2 * (512 + 2 * 512));
    CHECK(M.n_exp_tensors == 2 && M.n_matmul == 2 * (1 + 2) + 1);
}

static void test_max_ctx(void) {
    spec s = { .arch = "llama", .n_layer = 30, .n_embd = 576, .n_head = 9, .n_head_kv = 3 };
    REQUIRE(model_of(&s, &M));
    fit_params p;
    fit_params_default(&p);
    fit_estimate e, e2;
    p.n_ctx = 2048;
    fit_estimate_memory(&M, &p, &e);
    CHECK(e.kv_bytes == 30ull * 2048 * 768);
    CHECK(e.total_bytes == e.file_bytes + e.kv_bytes + e.compute_bytes + e.logits_bytes + e.overhead_bytes);
    CHECK(fit_max_ctx(&M, &p, e.total_bytes) == 2048);
    CHECK(fit_max_ctx(&M, &p, e.total_bytes - 1) == 1792);
    CHECK(fit_max_ctx(&M, &p, 1000) == 0);
    CHECK(fit_max_ctx(&M, &p, UINT64_MAX / 4) == 32768);
    p.n_ctx = 4096;
    fit_estimate_memory(&M, &p, &e2);
    CHECK(e2.total_bytes > e.total_bytes);
}

static void test_predict(void) {
    spec s = { .arch = "llama", .n_layer = 30, .n_embd = 576, .n_head = 9, .n_head_kv = 3 };
    REQUIRE(model_of(&s, &M));
    fit_params p;
    fit_params_default(&p);
    fit_machine mc = { .ram_bytes = 1ull << 34, .avail_bytes = 1ull << 34, .bandwidth = 10e9, .flops = 1e11, .cores = 2 };
    fit_speed sp;
    fit_predict(&M, &p, &mc, 0.5, &sp);
    CHECK(sp.fits);
    CHECKF(fabs(sp.decode_tps - 10e9 * 0.5 / (double)M.read_bytes) < 1e-6 * sp.decode_tps, "%f", sp.decode_tps);
    /* a GPU big enough for everything: all layers offloaded */
    mc.vram_bytes = 1ull << 34;
    mc.gpu_bandwidth = 1e12;
    mc.gpu_flops = 1e13;
    fit_predict(&M, &p, &mc, 0.5, &sp);
    CHECK(sp.gpu_layers == 30);
    /* a GPU too small for the reserve: none */
    mc.vram_bytes = 1ull << 20;
    fit_predict(&M, &p, &mc, 0.5, &sp);
    CHECK(sp.gpu_layers == 0);
    CHECK(fit_hw_find("rtx-4090") && fit_hw_find("m4-max") && fit_hw_find("h200") && fit_hw_count() >= 6);
    CHECK(!fit_hw_find("m4-max")->rates.valid);
}

/* The kernel-rate model by hand: 30 layers of one 512 B F32 matrix plus the tied 512 B output
 * at 1 MB/s; 61 pool jobs (31 matmuls, 30 attentions) of 100 us; attention at position 64
 * over 9 heads of 64; element-wise work at 1e9 floats/s. */
static void test_predict_measured(void) {
    spec s = { .arch = "llama", .n_layer = 30, .n_embd = 576, .n_head = 9, .n_head_kv = 3 };
    REQUIRE(model_of(&s, &M));
    fit_params p;
    fit_params_default(&p);
    fit_machine mc = { .ram_bytes = 1ull << 34, .avail_bytes = 1ull << 34, .bandwidth = 10e9, .cores = 2 };
    mc.rates.valid = true;
    mc.rates.gemv[HEARTH_TYPE_F32] = 1e6;
    mc.rates.gemm[HEARTH_TYPE_F32] = 4e6;
    mc.rates.call_s = 1e-4;
    mc.rates.attn = 1e9;
    mc.rates.vec = 1e9;
    fit_speed sp;
    fit_predict(&M, &p, &mc, 0, &sp);
    CHECK(sp.measured && sp.n_calls == 61);
    double w = 31 * 512 / 1e6, calls = 61 * 1e-4, att = 30.0 * 9 * 65 * 64 / 1e9;
    double vec = (30.0 * (6 * 576 + 4 * 576 + 2 * (9 * 64 + 3 * 128)) + 576) / 1e9;
    CHECKF(fabs(sp.t_weights - w) < 1e-12 && fabs(sp.t_calls - calls) < 1e-12, "%g %g", sp.t_weights, sp.t_calls);
    CHECKF(fabs(sp.t_attn - att) < 1e-12 && fabs(sp.t_vec - vec) < 1e-12, "%g %g", sp.t_attn, sp.t_vec);
    CHECKF(fabs(sp.decode_tps - 1.0 / (w + calls + att + vec)) < 1e-9 * sp.decode_tps, "%f", sp.decode_tps);
    CHECK(!sp.part[HEARTH_TYPE_F32].memory_bound && sp.t_mem_bound == 0);
    /* the end of a 4096 context: attention over 4096 positions */
    CHECKF(fabs(sp.t_attn_ctx - 30.0 * 9 * 4096 * 64 / 1e9) < 1e-12, "%g", sp.t_attn_ctx);
    CHECK(sp.decode_tps_ctx < sp.decode_tps);
    /* prefill of 512 tokens in batches of 256: matrices at the multi-token rate, the output
     * once per batch, 2 jobs per layer matmul + output + attention + 4 stages per layer per
     * batch, attention at 256 at the per-token rate (no prompt-tile rate measured), the
     * element-wise work split across the threads (1 here: none measured) */
    double pp = 30 * 512 / 4e6 + 512 / 1e6 / 256 + (2 * 30 + 1 + 30 + 4 * 30) * 1e-4 / 256 + 30.0 * 9 * 257 * 64 / 1e9 + vec;
    CHECKF(fabs(sp.prefill_tps - 1.0 / pp) < 1e-9 * sp.prefill_tps, "%f vs %f", sp.prefill_tps, 1.0 / pp);
    /* with the prompt tiles' rate and 2 threads: attention at that rate, half the vector time */
    mc.rates.attn_prompt = 4e9;
    mc.rates.threads     = 2;
    fit_predict(&M, &p, &mc, 0, &sp);
    pp = 30 * 512 / 4e6 + 512 / 1e6 / 256 + (2 * 30 + 1 + 30 + 4 * 30) * 1e-4 / 256 + 30.0 * 9 * 257 * 64 / 4e9 + vec / 2;
    CHECKF(fabs(sp.prefill_tps - 1.0 / pp) < 1e-9 * sp.prefill_tps, "%f vs %f", sp.prefill_tps, 1.0 / pp);
    CHECKF(fabs(sp.t_attn - att) < 1e-12, "%g", sp.t_attn); /* decode keeps the per-token rate */
    /* memory slower than the kernel: the memory time counts, the type is memory-bound */
    mc.bandwidth = 1e6;
    fit_predict(&M, &p, &mc, 0.5, &sp);
    CHECK(sp.part[HEARTH_TYPE_F32].memory_bound);
    CHECKF(fabs(sp.t_weights - 31 * 512 / 5e5) < 1e-12, "%g", sp.t_weights);
    CHECK(sp.t_mem_bound == sp.t_weights);
}

/* The probe times the real kernels: a positive rate for Q8_0, none for a type without a
 * kernel; the rates of this build are cached and read back. */
static void test_probe(void) {
    size_t n = 256 << 10;
    uint8_t *buf = malloc(n);
    REQUIRE(buf);
    for (size_t i = 0; i < n; i++) buf[i] = (uint8_t)(0x30 | (i * 7 % 16));
    CHECK(fit_probe_type_supported(HEARTH_TYPE_Q8_0) && fit_probe_type_supported(HEARTH_TYPE_Q4_K));
    CHECK(!fit_probe_type_supported(HEARTH_TYPE_Q8_K) && !fit_probe_type_supported(HEARTH_TYPE_I32));
    CHECK(fit_probe_matmul(NULL, HEARTH_TYPE_Q8_0, 256, buf, n, 1, 0.002) > 0);
    CHECK(fit_probe_matmul(NULL, HEARTH_TYPE_Q8_0, 256, buf, n, 4, 0.002) > 0);
    CHECK(fit_probe_matmul(NULL, HEARTH_TYPE_I32, 256, buf, n, 1, 0.002) == 0);
    free(buf);
    char dir[] = "/tmp/hearth-test-fit-XXXXXX", err[256];
    REQUIRE(mkdtemp(dir));
    fit_rates a, b;
    CHECKF(fit_rates_get(&a, 1, dir, false, err, sizeof err) == HEARTH_OK, "%s", err);
    CHECK(a.valid && a.threads == 1 && a.gemv[HEARTH_TYPE_Q8_0] > 0 && a.gemm[HEARTH_TYPE_Q4_K] > 0);
    CHECK(a.call_s > 0 && a.attn > 0 && a.vec > 0 && a.gemv[HEARTH_TYPE_Q8_K] == 0);
    /* about 1.5 s; the bound only catches a probe that runs away on a busy machine */
    CHECKF(a.probe_s < 10.0, "probe took %.2f s", a.probe_s);
    CHECK(fit_rates_get(&b, 1, dir, false, err, sizeof err) == HEARTH_OK);
    /* JSON keeps about 15 significant digits (cJSON), so the rate reads back to that precision */
    CHECKF(b.valid && fabs(b.gemv[HEARTH_TYPE_Q8_0] - a.gemv[HEARTH_TYPE_Q8_0]) <= 1e-12 * a.gemv[HEARTH_TYPE_Q8_0] &&
               b.measured_at == a.measured_at,
           "cache read back: valid %d, Q8_0 %.17g vs %.17g, at %.17g vs %.17g, call %g attn %g vec %g", b.valid,
           b.gemv[HEARTH_TYPE_Q8_0], a.gemv[HEARTH_TYPE_Q8_0], b.measured_at, a.measured_at, a.call_s, a.attn,
           a.vec);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

static void test_header_len(void) {
    spec s = { .arch = "llama", .n_layer = 3, .n_embd = 64, .n_head = 1, .n_head_kv = 1 };
    gguf_file *g = build(&s);
    REQUIRE(g);
    uint64_t hl;
    bool more;
    char err[128];
    CHECK(fit_gguf_header_len((const uint8_t *)image.data, image.len, &hl, &more, err, sizeof err) == HEARTH_OK);
    CHECK(!more && hl > 24 && hl <= gguf_data_offset(g) && gguf_data_offset(g) - hl < 32);
    for (uint64_t cut = 0; cut < hl; cut += 7) {
        uint64_t h2;
        CHECK(fit_gguf_header_len((const uint8_t *)image.data, cut, &h2, &more, err, sizeof err) == HEARTH_OK && more);
    }
    gguf_free(g);
    CHECK(fit_gguf_header_len((const uint8_t *)"GGUX\3\0\0\0", 8, &hl, &more, err, sizeof err) == HEARTH_ERR_FORMAT);
}

static void test_store_names(void) {
    char q[32];
    store_quant_of("SmolLM2-135M-Instruct.Q4_1.gguf", q, sizeof q);
    CHECK_STR(q, "Q4_1");
    store_quant_of("owner/gemma-3-270m-it-Q4_K_M.gguf", q, sizeof q);
    CHECK_STR(q, "Q4_K_M");
    store_quant_of("model-q8_0-00001-of-00002.gguf", q, sizeof q);
    CHECK_STR(q, "Q8_0");
    store_quant_of("plain.gguf", q, sizeof q);
    CHECK_STR(q, "");
    uint32_t part, count;
    CHECK(store_split_of("x/Model-Q4_0-00002-of-00003.gguf", &part, &count) && part == 2 && count == 3);
    CHECK(!store_split_of("Model-Q4_0.gguf", &part, &count));
    CHECK(!store_split_of("Model-00004-of-00003.gguf", &part, &count));
}

int main(void) {
    RUN(test_kv_llama);
    RUN(test_kv_gemma3);
    RUN(test_kv_gemma2);
    RUN(test_kv_kv_lengths);
    RUN(test_kv_q8);
    RUN(test_kv_per_layer);
    RUN(test_kv_pattern_key);
    RUN(test_weights_and_moe);
    RUN(test_max_ctx);
    RUN(test_token_accounting);
    RUN(test_predict);
    RUN(test_predict_measured);
    RUN(test_probe);
    RUN(test_header_len);
    RUN(test_store_names);
    hearth_buf_free(&image);
    return tap_done();
}
