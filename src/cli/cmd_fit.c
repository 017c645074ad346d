/* cmd_fit.c — `hearth fit MODEL`: memory and speed before loading, from the GGUF header. */
#include "cli/cli.h"

#include "fit/fit.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static void fit_usage(FILE *f) {
    fprintf(f,
            "usage: hearth fit MODEL [options]\n"
            "  MODEL: a .gguf file, a store name (owner/repo:QUANT), hf://owner/repo/file.gguf (reads only\n"
            "         the header) or hf://owner/repo (picks the best quantization that fits)\n"
            "  --ctx N            context per sequence (default 4096, capped at the training context)\n"
            "  --parallel N       sequences (default 1)\n"
            "  --kv-type T        f16 (default), q8_0 or f32\n"
            "  --threads N        threads for the probes and the estimate (default: as the engine)\n"
            "  --gen N            decode speed while generating N tokens from an empty context\n"
            "                     (default 128, as `hearth bench -n 128`)\n"
            "  --hw NAME          predict for a named hardware profile (--list-hw lists them)\n"
            "  --ram GB --vram GB --bandwidth GB/s --gpu-bandwidth GB/s   describe other hardware\n"
            "  --efficiency F     fraction of bandwidth decode reaches (bandwidth model, default %.2f; with\n"
            "                     this machine's kernel rates it scales the memory floor, default 1)\n"
            "  --reprobe          measure the bandwidth and the kernel rates again instead of using the\n"
            "                     cached values (kernel rates are cached per build, ~1.5 s to measure)\n"
            "  --layers           print bytes per layer\n"
            "  --json             machine-readable output\n",
            FIT_DECODE_EFF_CPU);
}

static void hb(uint64_t n, char *buf, size_t size) {
    if (n >= (1ull << 30)) snprintf(buf, size, "%.2f GiB", n / 1073741824.0);
    else if (n >= (1ull << 20)) snprintf(buf, size, "%.1f MiB", n / 1048576.0);
    else if (n >= (1ull << 10)) snprintf(buf, size, "%.1f KiB", n / 1024.0);
    else snprintf(buf, size, "%" PRIu64 " B", n);
}

static const char *kv_name(hearth_type t) { return t == HEARTH_TYPE_F32 ? "f32" : t == HEARTH_TYPE_Q8_0 ? "q8_0" : "f16"; }

static void cache_dir(char *out, size_t size) {
    const char *x = getenv("XDG_CACHE_HOME"), *h = getenv("HOME");
    if (x && x[0]) snprintf(out, size, "%s/hearth", x);
    else snprintf(out, size, "%s/.cache/hearth", h && h[0] ? h : "/tmp");
}

/* The weight type a quantization tag is named after ("Q4_K_M" -> Q4_K), or -1. */
static int quant_main_type(const char *tag) {
    char base[32];
    snprintf(base, sizeof base, "%.31s", tag);
    size_t n = strlen(base);
    if (n > 2 && base[n - 2] == '_' && strchr("SML", base[n - 1])) base[n - 2] = '\0'; /* _S/_M/_L */
    for (int t = 0; t < HEARTH_TYPE_COUNT; t++)
        if (hearth_type_get((uint32_t)t) && !strcasecmp(hearth_type_name((uint32_t)t), base)) return t;
    return -1;
}

/* A candidate of another size with the same shape: weights scaled to `file_bytes`; the
 * matrices of the layers are taken to be of the type its quantization tag names (when it
 * names one) for the kernel-rate speed model. */
static void scale_model(const fit_model *src, uint64_t file_bytes, const char *file, fit_model *dst) {
    *dst = *src;
    char tag[32];
    store_quant_of(file, tag, sizeof tag);
    int qt = quant_main_type(tag);
    double hdr = (double)(src->file_bytes - src->weight_bytes);
    double k = src->weight_bytes ? ((double)file_bytes - hdr) / (double)src->weight_bytes : 1.0;
    if (k < 0) k = 0;
    dst->file_bytes = file_bytes;
    dst->weight_bytes = (uint64_t)((double)src->weight_bytes * k);
    dst->read_bytes = (uint64_t)((double)src->read_bytes * k);
    dst->other_bytes = (uint64_t)((double)src->other_bytes * k);
    dst->embd_bytes = (uint64_t)((double)src->embd_bytes * k);
    for (int64_t i = 0; i < src->n_layer; i++) dst->layer_bytes[i] = (uint64_t)((double)src->layer_bytes[i] * k);
    uint64_t mm = 0;
    for (int t = 0; t < HEARTH_TYPE_COUNT; t++) {
        dst->mm_read[t] = (uint64_t)((double)src->mm_read[t] * k);
        mm += dst->mm_read[t];
    }
    if (qt >= 0) {
        memset(dst->mm_read, 0, sizeof dst->mm_read);
        dst->mm_read[qt] = mm;
    }
    dst->out_bytes = (uint64_t)((double)src->out_bytes * k);
}

static void print_machine(const char *label, const fit_machine *mc) {
    char r[32], a[32], v[32];
    hb(mc->ram_bytes, r, sizeof r);
    hb(mc->avail_bytes, a, sizeof a);
    printf("%-10s %s: %s RAM (%s available), %d cores%s%s%s, %.1f GB/s", label, mc->name, r, a, mc->cores,
           mc->features[0] ? " (" : "", mc->features, mc->features[0] ? ")" : "", mc->bandwidth / 1e9);
    if (mc->unified) printf(" unified");
    if (mc->vram_bytes) {
        hb(mc->vram_bytes, v, sizeof v);
        printf("; GPU %s at %.0f GB/s", v, mc->gpu_bandwidth / 1e9);
    }
    printf("\n");
}

/* Probe age in words ("3 min ago"). */
static void age_text(double then, char *out, size_t size) {
    double d = (double)time(NULL) - then;
    if (then <= 0) snprintf(out, size, "at an unknown time");
    else if (d < 120) snprintf(out, size, "%.0f s ago", d < 0 ? 0 : d);
    else if (d < 7200) snprintf(out, size, "%.0f min ago", d / 60);
    else if (d < 172800) snprintf(out, size, "%.0f h ago", d / 3600);
    else snprintf(out, size, "%.0f days ago", d / 86400);
}

static void print_speed(const char *label, const fit_speed *s, const fit_estimate *e, const fit_params *p,
                        const fit_machine *mc, bool here) {
    char t[32];
    hb(e->total_bytes, t, sizeof t);
    printf("%-10s %s (ctx %" PRId64 ": %s); largest context that fits: %" PRId64 "\n", label,
           s->fits ? "fits" : "does NOT fit", p->n_ctx, t, s->max_ctx);
    if (s->gpu_layers >= 0 && s->gpu_layers < s->n_layer)
        printf("%-10s %" PRId64 " of %" PRId64 " layers on the GPU\n", "", s->gpu_layers, s->n_layer);
    printf("%-10s decode ~%.1f tok/s generating %d tokens (~%.1f at the end of the context), prompt ~%.0f tok/s\n",
           "", s->decode_tps, p->n_gen, s->decode_tps_ctx, s->prefill_tps);
    if (s->measured) {
        const fit_rates *r = &mc->rates;
        double tot = 1.0 / s->decode_tps;
        printf("%-10s per token %.2f ms: weights %.2f ms (%.0f%% of it memory-bound), %" PRId64
               " pool jobs x %.1f us = %.2f ms, attention %.2f ms (%.2f ms at ctx %" PRId64 "), vector ops %.2f ms\n",
               "", tot * 1e3, s->t_weights * 1e3, s->t_weights > 0 ? 100 * s->t_mem_bound / s->t_weights : 0,
               s->n_calls, r->call_s * 1e6, s->t_calls * 1e3, s->t_attn * 1e3, s->t_attn_ctx * 1e3, p->n_ctx,
               s->t_vec * 1e3);
        for (int ty = 0; ty < HEARTH_TYPE_COUNT; ty++) {
            const fit_part *pt = &s->part[ty];
            if (!pt->bytes) continue;
            char b[32];
            hb(pt->bytes, b, sizeof b);
            printf("%-10s   %-5s %10s  kernel %6.2f GB/s, memory %6.1f GB/s -> %7.2f ms  %s\n", "",
                   hearth_type_name((uint32_t)ty), b, r->gemv[ty] / 1e9, mc->bandwidth / 1e9, pt->seconds * 1e3,
                   !pt->kernel_s ? "no kernel for this type" : pt->memory_bound ? "memory-bound" : "compute-bound");
        }
        char age[48];
        age_text(r->measured_at, age, sizeof age);
        printf("%-10s kernel rates of this build (%s, %s, %d threads) measured %s", "", r->version, r->isa,
               r->threads, age);
        if (r->loadavg >= 0) printf(" at load %.1f", r->loadavg);
        printf("; --reprobe measures again\n");
    } else if (!here) {
        printf("%-10s bandwidth model: bandwidth x efficiency / bytes per token (memory-bound); the engine's\n"
               "%-10s kernel rates were measured on this machine only and are not applied here\n", "", "");
    } else {
        printf("%-10s bandwidth model (the kernel probe did not run): bandwidth x efficiency / bytes per token\n", "");
    }
}

static cJSON *machine_json(const fit_machine *mc) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "name", mc->name);
    cJSON_AddNumberToObject(j, "ram_bytes", (double)mc->ram_bytes);
    cJSON_AddNumberToObject(j, "available_bytes", (double)mc->avail_bytes);
    cJSON_AddNumberToObject(j, "cores", mc->cores);
    cJSON_AddStringToObject(j, "features", mc->features);
    cJSON_AddNumberToObject(j, "bandwidth", mc->bandwidth);
    cJSON_AddNumberToObject(j, "vram_bytes", (double)mc->vram_bytes);
    cJSON_AddNumberToObject(j, "gpu_bandwidth", mc->gpu_bandwidth);
    cJSON_AddBoolToObject(j, "unified", mc->unified);
    const fit_rates *r = &mc->rates;
    if (r->valid) {
        /* kernel rates of this build on this machine */
        cJSON *k = cJSON_AddObjectToObject(j, "kernel_rates");
        cJSON_AddStringToObject(k, "isa", r->isa);
        cJSON_AddStringToObject(k, "version", r->version);
        cJSON_AddNumberToObject(k, "threads", r->threads);
        cJSON *gv = cJSON_AddObjectToObject(k, "gemv_bytes_per_s"), *gm = cJSON_AddObjectToObject(k, "gemm_bytes_per_s");
        for (int t = 0; t < HEARTH_TYPE_COUNT; t++)
            if (r->gemv[t] > 0) {
                cJSON_AddNumberToObject(gv, hearth_type_name((uint32_t)t), r->gemv[t]);
                cJSON_AddNumberToObject(gm, hearth_type_name((uint32_t)t), r->gemm[t]);
            }
        cJSON_AddNumberToObject(k, "gemm_tokens", FIT_PROBE_BATCH);
        cJSON_AddNumberToObject(k, "pool_job_s", r->call_s);
        cJSON_AddNumberToObject(k, "attention_cells_per_s", r->attn);
        cJSON_AddNumberToObject(k, "prompt_attention_cells_per_s", r->attn_prompt);
        cJSON_AddNumberToObject(k, "vector_floats_per_s", r->vec);
        cJSON_AddNumberToObject(k, "probe_s", r->probe_s);
        cJSON_AddNumberToObject(k, "measured_at", r->measured_at);
        cJSON_AddNumberToObject(k, "loadavg", r->loadavg);
    }
    return j;
}

static void speed_json(cJSON *j, const fit_speed *s) {
    cJSON_AddBoolToObject(j, "fits", s->fits);
    cJSON_AddNumberToObject(j, "max_ctx", (double)s->max_ctx);
    cJSON_AddNumberToObject(j, "decode_tps", s->decode_tps);
    cJSON_AddNumberToObject(j, "prefill_tps", s->prefill_tps);
    cJSON_AddNumberToObject(j, "gpu_layers", (double)s->gpu_layers);
    cJSON_AddNumberToObject(j, "decode_tps_ctx", s->decode_tps_ctx);
    cJSON_AddStringToObject(j, "speed_model", s->measured ? "kernel rates" : "bandwidth");
    /* seconds per decoded token, by part */
    cJSON *d = cJSON_AddObjectToObject(j, "decode_breakdown");
    cJSON_AddNumberToObject(d, "weights_s", s->t_weights);
    cJSON_AddNumberToObject(d, "memory_bound_s", s->t_mem_bound);
    cJSON_AddNumberToObject(d, "compute_bound_s", s->t_weights - s->t_mem_bound);
    cJSON_AddNumberToObject(d, "pool_jobs", (double)s->n_calls);
    cJSON_AddNumberToObject(d, "pool_jobs_s", s->t_calls);
    cJSON_AddNumberToObject(d, "attention_s", s->t_attn);
    cJSON_AddNumberToObject(d, "attention_ctx_s", s->t_attn_ctx);
    cJSON_AddNumberToObject(d, "vector_s", s->t_vec);
    cJSON *ty = cJSON_AddObjectToObject(d, "types");
    for (int t = 0; t < HEARTH_TYPE_COUNT; t++) {
        const fit_part *pt = &s->part[t];
        if (!pt->bytes) continue;
        cJSON *o = cJSON_AddObjectToObject(ty, hearth_type_name((uint32_t)t));
        cJSON_AddNumberToObject(o, "bytes", (double)pt->bytes);
        cJSON_AddNumberToObject(o, "memory_s", pt->mem_s);
        cJSON_AddNumberToObject(o, "kernel_s", pt->kernel_s);
        cJSON_AddNumberToObject(o, "seconds", pt->seconds);
        cJSON_AddStringToObject(o, "bound", pt->memory_bound ? "memory" : "compute");
    }
}

/* parse "hf://owner/repo[/file.gguf]" into repo and file ("" for none) */
static bool parse_hf(const char *s, char *repo, size_t rs, char *file, size_t fs) {
    if (strncmp(s, "hf://", 5) != 0) return false;
    s += 5;
    const char *sl = strchr(s, '/');
    if (!sl) return false;
    const char *sl2 = strchr(sl + 1, '/');
    if (!sl2) {
        snprintf(repo, rs, "%s", s);
        file[0] = '\0';
    } else {
        snprintf(repo, rs, "%.*s", (int)(sl2 - s), s);
        snprintf(file, fs, "%s", sl2 + 1);
    }
    return true;
}

/* hf://owner/repo: every quantization in the listing, the best (largest) one that fits. */
static int fit_repo(const char *repo, const fit_params *p, const fit_machine *target, double eff, bool json) {
    char err[512];
    hub_listing l;
    if (hub_list(repo, &l, err, sizeof err)) {
        fprintf(stderr, "hearth fit: %s\n", err);
        return 1;
    }
    /* candidates: single files and first parts, sizes summed over parts */
    size_t nc = 0;
    hub_file *c = calloc(l.n ? l.n : 1, sizeof *c);
    for (size_t i = 0; c && i < l.n; i++) {
        const char *f = l.files[i].path;
        size_t fl = strlen(f);
        uint32_t part, count;
        if (fl < 5 || strcmp(f + fl - 5, ".gguf") || strstr(f, "mmproj")) continue;
        if (store_split_of(f, &part, &count) && part != 1) continue;
        c[nc] = l.files[i];
        if (store_split_of(f, &part, &count))
            for (size_t k = 0; k < l.n; k++) {
                uint32_t p2, c2;
                if (k != i && store_split_of(l.files[k].path, &p2, &c2) && c2 == count &&
                    strlen(l.files[k].path) == fl && !strncmp(l.files[k].path, f, fl - 20))
                    c[nc].size += l.files[k].size;
            }
        nc++;
    }
    if (!nc) {
        fprintf(stderr, "hearth fit: %s has no .gguf files\n", repo);
        free(c);
        hub_listing_free(&l);
        return 1;
    }
    size_t smallest = 0;
    for (size_t i = 1; i < nc; i++)
        if (c[i].size < c[smallest].size) smallest = i;
    hub_header h;
    fit_model base;
    if (hub_read_header(repo, c[smallest].path, &h, err, sizeof err) || fit_model_from_gguf(h.g, &base, err, sizeof err)) {
        fprintf(stderr, "hearth fit: %s\n", err);
        hub_header_free(&h);
        free(c);
        hub_listing_free(&l);
        return 1;
    }
    hub_header_free(&h);
    fit_model_finish(&base);
    fit_model *m = malloc(sizeof *m);
    long best = -1;
    cJSON *arr = json ? cJSON_CreateArray() : NULL;
    if (!json) printf("%-56s %10s %6s %9s %10s\n", "file", "size", "fits", "max ctx", "decode");
    for (size_t i = 0; m && i < nc; i++) {
        scale_model(&base, c[i].size, c[i].path, m);
        fit_speed s;
        fit_estimate e;
        fit_predict(m, p, target, eff, &s);
        fit_estimate_memory(m, p, &e);
        if (s.fits && (best < 0 || c[i].size > c[best].size)) best = (long)i;
        char sz[32];
        hb(c[i].size, sz, sizeof sz);
        if (json) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "file", c[i].path);
            cJSON_AddNumberToObject(o, "size", (double)c[i].size);
            cJSON_AddNumberToObject(o, "total_bytes", (double)e.total_bytes);
            speed_json(o, &s);
            cJSON_AddItemToArray(arr, o);
        } else {
            printf("%-56s %10s %6s %9" PRId64 " %6.1f t/s\n", c[i].path, sz, s.fits ? "yes" : "no", s.max_ctx, s.decode_tps);
        }
    }
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "repo", repo);
        cJSON_AddItemToObject(o, "candidates", arr);
        cJSON_AddStringToObject(o, "best", best >= 0 ? c[best].path : "");
        char *s = cJSON_Print(o);
        if (s) puts(s);
        free(s);
        cJSON_Delete(o);
    } else if (best >= 0) {
        printf("best that fits: %s (hearth pull hf://%s/%s)\n", c[best].path, repo, c[best].path);
    } else {
        printf("none of the quantizations fits\n");
    }
    free(m);
    free(c);
    hub_listing_free(&l);
    return 0;
}

int cmd_fit(int argc, char **argv) {
    fit_params p;
    fit_params_default(&p);
    const char *model = NULL, *hw = NULL;
    bool json = false, list_hw = false, reprobe = false, layers = false, ctx_given = false;
    double ram = 0, vram = 0, bw = 0, gbw = 0, eff = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define NEEDV() do { if (!v) { fprintf(stderr, "hearth fit: %s needs a value\n", a); return 2; } i++; } while (0)
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { fit_usage(stdout); return 0; }
        else if (!strcmp(a, "--json")) json = true;
        else if (!strcmp(a, "--list-hw")) list_hw = true;
        else if (!strcmp(a, "--reprobe")) reprobe = true;
        else if (!strcmp(a, "--layers")) layers = true;
        else if (!strcmp(a, "--ctx") || !strcmp(a, "-c")) { NEEDV(); p.n_ctx = atoll(v); ctx_given = true; }
        else if (!strcmp(a, "--parallel") || !strcmp(a, "-np")) { NEEDV(); p.n_parallel = atoi(v); }
        else if (!strcmp(a, "--threads") || !strcmp(a, "-t")) { NEEDV(); p.n_threads = atoi(v); }
        else if (!strcmp(a, "--gen") || !strcmp(a, "-n")) { NEEDV(); p.n_gen = atoi(v); }
        else if (!strcmp(a, "--kv-type")) {
            NEEDV();
            if (!strcasecmp(v, "f16")) p.kv_type = HEARTH_TYPE_F16;
            else if (!strcasecmp(v, "q8_0")) p.kv_type = HEARTH_TYPE_Q8_0;
            else if (!strcasecmp(v, "f32")) p.kv_type = HEARTH_TYPE_F32;
            else { fprintf(stderr, "hearth fit: --kv-type must be f16, q8_0 or f32\n"); return 2; }
        }
        else if (!strcmp(a, "--hw")) { NEEDV(); hw = v; }
        else if (!strcmp(a, "--ram")) { NEEDV(); ram = atof(v); }
        else if (!strcmp(a, "--vram")) { NEEDV(); vram = atof(v); }
        else if (!strcmp(a, "--bandwidth")) { NEEDV(); bw = atof(v); }
        else if (!strcmp(a, "--gpu-bandwidth")) { NEEDV(); gbw = atof(v); }
        else if (!strcmp(a, "--efficiency")) { NEEDV(); eff = atof(v); }
        else if (a[0] == '-') { fprintf(stderr, "hearth fit: unknown option %s\n", a); fit_usage(stderr); return 2; }
        else if (!model) model = a;
        else { fprintf(stderr, "hearth fit: more than one model given\n"); return 2; }
#undef NEEDV
    }
    if (list_hw) {
        for (int32_t i = 0; i < fit_hw_count(); i++) printf("%-14s %s\n", fit_hw_at(i)->name, fit_hw_desc(i));
        return 0;
    }
    if (!model) { fit_usage(stderr); return 2; }
    if (p.n_ctx <= 0 || p.n_parallel <= 0 || p.n_threads < 0 || p.n_gen <= 0 || ram < 0 || vram < 0 || bw < 0 || gbw < 0 || eff < 0 || eff > 1) {
        fprintf(stderr, "hearth fit: --ctx, --parallel and --gen must be positive; sizes non-negative; --efficiency in (0, 1]\n");
        return 2;
    }
    char err[1024], cdir[4096];
    fit_machine here, other;
    cache_dir(cdir, sizeof cdir);
    if (fit_machine_probe(&here, p.n_threads, cdir, reprobe, err, sizeof err)) {
        fprintf(stderr, "hearth fit: %s\n", err);
        return 1;
    }
    if (!p.n_threads) p.n_threads = here.threads;
    bool have_other = hw || ram > 0 || vram > 0 || bw > 0;
    if (hw) {
        const fit_machine *pr = fit_hw_find(hw);
        if (!pr) { fprintf(stderr, "hearth fit: no hardware profile '%s' (see --list-hw)\n", hw); return 2; }
        other = *pr;
    } else if (have_other) {
        other = here;
        snprintf(other.name, sizeof other.name, "custom");
    }
    if (have_other) {
        if (ram > 0) other.ram_bytes = other.avail_bytes = (uint64_t)(ram * 1073741824.0);
        if (vram > 0) {
            other.vram_bytes = (uint64_t)(vram * 1073741824.0);
            if (other.gpu_bandwidth <= 0) other.gpu_bandwidth = 500e9;
            if (other.gpu_flops <= 0) other.gpu_flops = 20e12;
            other.unified = false;
        }
        if (bw > 0) other.bandwidth = bw * 1e9;
        if (gbw > 0) other.gpu_bandwidth = gbw * 1e9;
        /* the kernel rates are this machine's: other hardware gets the bandwidth model (only
         * a different amount of RAM keeps this machine's speed) */
        if (hw || bw > 0 || vram > 0) other.rates.valid = false;
    }

    char repo[512], file[1024], path[4096];
    fit_model *m = calloc(1, sizeof *m);
    if (!m) return 1;
    int rc = 0;
    if (parse_hf(model, repo, sizeof repo, file, sizeof file)) {
        if (!file[0]) {
            if (!ctx_given) p.n_ctx = 4096;
            rc = fit_repo(repo, &p, have_other ? &other : &here, eff, json);
            free(m);
            return rc;
        }
        hub_header h;
        if (hub_read_header(repo, file, &h, err, sizeof err) || fit_model_from_gguf(h.g, m, err, sizeof err)) {
            fprintf(stderr, "hearth fit: %s\n", err);
            hub_header_free(&h);
            free(m);
            return 1;
        }
        uint64_t cnt = 0;
        gguf_get_u64(h.g, "split.count", &cnt);
        hub_header_free(&h);
        m->n_split = 1;
        uint32_t part, count;
        if (cnt > 1 && store_split_of(file, &part, &count) && count == cnt) {
            for (uint32_t k = 2; k <= count; k++) {
                char pf[1024];
                snprintf(pf, sizeof pf, "%s", file);
                char num[8];
                snprintf(num, sizeof num, "%05u", k);
                memcpy(pf + strlen(pf) - 19, num, 5);
                if (hub_read_header(repo, pf, &h, err, sizeof err)) {
                    fprintf(stderr, "hearth fit: %s\n", err);
                    free(m);
                    return 1;
                }
                fit_model_add_tensors(h.g, m);
                hub_header_free(&h);
                m->n_split++;
            }
        }
        fit_model_finish(m);
    } else {
        if (hearth_resolve_model(model, path, sizeof path, err, sizeof err) || fit_model_load(path, m, err, sizeof err)) {
            fprintf(stderr, "hearth fit: %s\n", err);
            free(m);
            return 1;
        }
    }
    if (!ctx_given && m->n_ctx_train > 0 && m->n_ctx_train < p.n_ctx) p.n_ctx = m->n_ctx_train;

    fit_estimate e;
    fit_speed s_here, s_other;
    fit_estimate_memory(m, &p, &e);
    fit_predict(m, &p, &here, eff, &s_here);
    if (have_other) fit_predict(m, &p, &other, eff, &s_other);

    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "model", model);
        cJSON_AddStringToObject(o, "arch", m->arch);
        cJSON_AddStringToObject(o, "name", m->name);
        cJSON_AddNumberToObject(o, "n_params", (double)m->n_params);
        cJSON_AddNumberToObject(o, "n_layer", (double)m->n_layer);
        cJSON_AddNumberToObject(o, "ctx", (double)p.n_ctx);
        cJSON_AddNumberToObject(o, "parallel", p.n_parallel);
        cJSON_AddNumberToObject(o, "gen", p.n_gen);
        cJSON_AddNumberToObject(o, "threads", p.n_threads);
        cJSON_AddStringToObject(o, "kv_type", kv_name(p.kv_type));
        cJSON_AddNumberToObject(o, "file_bytes", (double)e.file_bytes);
        cJSON_AddNumberToObject(o, "weights_bytes", (double)e.weights_bytes);
        cJSON *bt = cJSON_AddObjectToObject(o, "weights_by_type");
        for (int t = 0; t < HEARTH_TYPE_COUNT; t++)
            if (m->type_count[t]) cJSON_AddNumberToObject(bt, hearth_type_name((uint32_t)t), (double)m->type_bytes[t]);
        cJSON *lb = cJSON_AddArrayToObject(o, "layer_bytes");
        for (int64_t i = 0; i < m->n_layer; i++) cJSON_AddItemToArray(lb, cJSON_CreateNumber((double)m->layer_bytes[i]));
        cJSON_AddNumberToObject(o, "kv_bytes", (double)e.kv_bytes);
        cJSON_AddNumberToObject(o, "compute_bytes", (double)e.compute_bytes);
        cJSON_AddNumberToObject(o, "logits_bytes", (double)e.logits_bytes);
        cJSON_AddNumberToObject(o, "overhead_bytes", (double)e.overhead_bytes);
        cJSON_AddNumberToObject(o, "total_bytes", (double)e.total_bytes);
        cJSON_AddNumberToObject(o, "read_bytes_per_token", (double)e.read_per_token);
        speed_json(o, &s_here);
        cJSON_AddItemToObject(o, "machine", machine_json(&here));
        if (have_other) {
            cJSON *ho = machine_json(&other);
            speed_json(ho, &s_other);
            cJSON_AddItemToObject(o, "hw", ho);
        }
        char *txt = cJSON_Print(o);
        if (txt) puts(txt);
        free(txt);
        cJSON_Delete(o);
        free(m);
        return 0;
    }

    char a[32], b[32], c2[32], d[32];
    printf("%-10s %s%s%s (%s), %.1f M parameters, %u part%s\n", "model", m->name[0] ? m->name : model,
           m->name[0] ? "" : "", "", m->arch, m->n_params / 1e6, m->n_split, m->n_split == 1 ? "" : "s");
    hb(e.weights_bytes, a, sizeof a);
    printf("%-10s %s:", "weights", a);
    for (int t = 0; t < HEARTH_TYPE_COUNT; t++)
        if (m->type_count[t]) {
            hb(m->type_bytes[t], b, sizeof b);
            printf(" %s %s;", hearth_type_name((uint32_t)t), b);
        }
    printf("\n");
    uint64_t lmin = UINT64_MAX, lmax = 0;
    for (int64_t i = 0; i < m->n_layer; i++) {
        if (m->layer_bytes[i] < lmin) lmin = m->layer_bytes[i];
        if (m->layer_bytes[i] > lmax) lmax = m->layer_bytes[i];
    }
    hb(lmin, a, sizeof a);
    hb(lmax, b, sizeof b);
    hb(m->other_bytes, c2, sizeof c2);
    printf("%-10s %" PRId64 " layers of %s%s%s; outside layers %s\n", "", m->n_layer, a, lmin == lmax ? "" : " to ",
           lmin == lmax ? "" : b, c2);
    if (layers)
        for (int64_t i = 0; i < m->n_layer; i++) {
            hb(m->layer_bytes[i], a, sizeof a);
            hb(fit_kv_layer_bytes(m, i, p.n_ctx, p.n_batch < p.n_ctx ? p.n_batch : p.n_ctx, p.n_parallel, p.kv_type), b,
               sizeof b);
            printf("%-10s blk.%-4" PRId64 " %10s  kv %10s%s\n", "", i, a, b, m->swa[i] ? "  (sliding window)" : "");
        }
    int64_t nswa = 0;
    for (int64_t i = 0; i < m->n_layer; i++) nswa += m->swa[i];
    hb(e.kv_bytes, a, sizeof a);
    printf("%-10s %s for ctx %" PRId64 " x %d seq, %s (k %" PRId64 " + v %" PRId64 " per head)", "KV cache", a, p.n_ctx,
           p.n_parallel, kv_name(p.kv_type), m->head_k, m->head_v);
    if (nswa) printf("; %" PRId64 " layers capped at the %" PRId64 "-token window", nswa, m->n_swa);
    printf("\n");
    hb(e.compute_bytes, a, sizeof a);
    hb(e.logits_bytes, b, sizeof b);
    hb(e.overhead_bytes, c2, sizeof c2);
    hb(e.total_bytes, d, sizeof d);
    printf("%-10s compute %s, logits %s, process and tokenizer %s\n", "buffers", a, b, c2);
    printf("%-10s %s resident\n", "total", d);
    print_machine("machine", &here);
    print_speed("here", &s_here, &e, &p, &here, true);
    if (have_other) {
        print_machine(hw ? hw : "custom", &other);
        print_speed("there", &s_other, &e, &p, &other, false);
    }
    free(m);
    return rc;
}
