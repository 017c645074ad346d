/* machine.c — this machine (RAM, cores, CPU features, read bandwidth) and named hardware profiles. */
#include "fit/fit.h"

#include "core/core.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#include <cjson/cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define GB 1000000000.0
#define GIB (1ull << 30)

/* ---- profiles ---------------------------------------------------------------------- */
typedef struct hw_profile {
    fit_machine m;
    const char *desc;
} hw_profile;

/* RAM/VRAM sizes are the marketed ones; bandwidths the vendors' figures; FLOP/s are
 * sustained figures for quantized matrix products (not peaks). */
static const hw_profile profiles[] = {
    { { .name = "m4-max", .ram_bytes = 128 * GIB, .avail_bytes = 96 * GIB, .bandwidth = 410 * GB, .unified = true,
        .cores = 16, .flops = 1.0e12, .gpu_flops = 12e12, .features = "neon dotprod" },
      "Apple M4 Max, 128 GB unified memory, ~410 GB/s" },
    { { .name = "m5", .ram_bytes = 32 * GIB, .avail_bytes = 24 * GIB, .bandwidth = 153 * GB, .unified = true,
        .cores = 10, .flops = 0.5e12, .gpu_flops = 4e12, .features = "neon dotprod" },
      "Apple M5, 32 GB unified memory, ~153 GB/s" },
    { { .name = "ddr5-desktop", .ram_bytes = 64 * GIB, .avail_bytes = 60 * GIB, .bandwidth = 102 * GB, .cores = 8,
        .flops = 0.5e12, .features = "avx2 fma f16c" },
      "desktop, dual-channel DDR5-6400, 64 GB, ~102 GB/s" },
    { { .name = "ddr4-laptop", .ram_bytes = 16 * GIB, .avail_bytes = 13 * GIB, .bandwidth = 51 * GB, .cores = 4,
        .flops = 0.15e12, .features = "avx2 fma f16c" },
      "laptop, dual-channel DDR4-3200, 16 GB, ~51 GB/s" },
    { { .name = "gtx-1080ti", .ram_bytes = 32 * GIB, .avail_bytes = 29 * GIB, .bandwidth = 40 * GB, .cores = 8,
        .flops = 0.3e12, .vram_bytes = 11 * GIB, .gpu_bandwidth = 484 * GB, .gpu_flops = 6e12,
        .features = "avx2 fma f16c" },
      "NVIDIA GTX 1080 Ti, 11 GB at ~484 GB/s, with a DDR4 host (32 GB)" },
    { { .name = "rtx-3090", .ram_bytes = 64 * GIB, .avail_bytes = 60 * GIB, .bandwidth = 60 * GB, .cores = 12,
        .flops = 0.4e12, .vram_bytes = 24 * GIB, .gpu_bandwidth = 936 * GB, .gpu_flops = 35e12,
        .features = "avx2 fma f16c" },
      "NVIDIA RTX 3090, 24 GB at ~936 GB/s, with a DDR4 host (64 GB)" },
    { { .name = "rtx-4090", .ram_bytes = 64 * GIB, .avail_bytes = 60 * GIB, .bandwidth = 90 * GB, .cores = 16,
        .flops = 0.6e12, .vram_bytes = 24 * GIB, .gpu_bandwidth = 1008 * GB, .gpu_flops = 80e12,
        .features = "avx2 fma f16c" },
      "NVIDIA RTX 4090, 24 GB at ~1 TB/s, with a DDR5 host (64 GB)" },
    { { .name = "h100", .ram_bytes = 512 * GIB, .avail_bytes = 480 * GIB, .bandwidth = 300 * GB, .cores = 64,
        .flops = 2e12, .vram_bytes = 80 * GIB, .gpu_bandwidth = 3350 * GB, .gpu_flops = 400e12,
        .features = "avx512f avx512vnni" },
      "NVIDIA H100 SXM, 80 GB at ~3.35 TB/s, server host (512 GB)" },
    { { .name = "h200", .ram_bytes = 1024 * GIB, .avail_bytes = 960 * GIB, .bandwidth = 300 * GB, .cores = 64,
        .flops = 2e12, .vram_bytes = 141 * GIB, .gpu_bandwidth = 4800 * GB, .gpu_flops = 400e12,
        .features = "avx512f avx512vnni" },
      "NVIDIA H200, 141 GB at ~4.8 TB/s, server host (1 TB)" },
    { { .name = "rpi5", .ram_bytes = 8 * GIB, .avail_bytes = 7 * GIB, .bandwidth = 17 * GB, .cores = 4,
        .flops = 0.03e12, .features = "neon dotprod" },
      "Raspberry Pi 5, 8 GB LPDDR4X, ~17 GB/s" },
};

int32_t fit_hw_count(void) { return (int32_t)HEARTH_ARRAY_LEN(profiles); }

const fit_machine *fit_hw_at(int32_t i) {
    return i >= 0 && i < fit_hw_count() ? &profiles[i].m : NULL;
}

const char *fit_hw_desc(int32_t i) { return i >= 0 && i < fit_hw_count() ? profiles[i].desc : ""; }

const fit_machine *fit_hw_find(const char *name) {
    for (int32_t i = 0; i < fit_hw_count(); i++)
        if (!strcasecmp(profiles[i].m.name, name)) return &profiles[i].m;
    return NULL;
}

/* ---- bandwidth probe ------------------------------------------------------------------ */
typedef struct probe_arg {
    const uint64_t *p;
    size_t          n;      /* words */
    double          until;
    uint64_t        bytes;  /* read */
    uint64_t        sink;
} probe_arg;

static void *probe_thread(void *arg) {
    probe_arg *a = arg;
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
    do {
        const uint64_t *p = a->p;
        for (size_t i = 0; i + 8 <= a->n; i += 8) {
            s0 += p[i]; s1 += p[i + 1]; s2 += p[i + 2]; s3 += p[i + 3];
            s4 += p[i + 4]; s5 += p[i + 5]; s6 += p[i + 6]; s7 += p[i + 7];
        }
        a->bytes += a->n * 8;
    } while (hearth_time_s() < a->until);
    a->sink = s0 ^ s1 ^ s2 ^ s3 ^ s4 ^ s5 ^ s6 ^ s7;
    return NULL;
}

double fit_bandwidth_probe(size_t bytes, int32_t threads, double seconds) {
    if (threads <= 0) threads = (int32_t)HEARTH_MAX(1, sysconf(_SC_NPROCESSORS_ONLN));
    size_t words = bytes / 8 / (size_t)threads / 8 * 8;
    uint64_t *buf = hearth_malloc_array(words * (size_t)threads, 8);
    probe_arg *args = hearth_calloc((size_t)threads, sizeof *args);
    pthread_t *tid = hearth_calloc((size_t)threads, sizeof *tid);
    double bw = 0;
    if (!buf || !args || !tid || words == 0) goto done;
    for (size_t i = 0; i < words * (size_t)threads; i++) buf[i] = i * 0x9E3779B97F4A7C15ull;
    /* one warm-up pass per thread, then the timed run */
    for (int pass = 0; pass < 2; pass++) {
        double t0 = hearth_time_s();
        double until = t0 + (pass == 0 ? 0.0 : seconds);
        int32_t started = 0;
        for (int32_t t = 0; t < threads; t++) {
            args[t] = (probe_arg){ .p = buf + (size_t)t * words, .n = words, .until = until };
            if (pthread_create(&tid[t], NULL, probe_thread, &args[t]) != 0) break;
            started++;
        }
        uint64_t total = 0;
        for (int32_t t = 0; t < started; t++) {
            pthread_join(tid[t], NULL);
            total += args[t].bytes;
        }
        double dt = hearth_time_s() - t0;
        if (pass == 1 && dt > 0 && started == threads) bw = (double)total / dt;
    }
done:
    free(buf);
    free(args);
    free(tid);
    return bw;
}

/* ---- this machine ----------------------------------------------------------------------- */

static uint64_t meminfo_kb(const char *key) {
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return 0;
    char line[256];
    uint64_t v = 0;
    size_t kl = strlen(key);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, key, kl) && line[kl] == ':') {
            v = strtoull(line + kl + 1, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

static void cpu_model(char *out, size_t size) {
    snprintf(out, size, "cpu");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "model name", 10)) {
            char *c = strchr(line, ':');
            if (c) {
                c++;
                while (*c == ' ') c++;
                c[strcspn(c, "\n")] = '\0';
                snprintf(out, size, "%s", c);
            }
            break;
        }
    fclose(f);
}

static void cpu_features(char *out, size_t size, double *per_core_flops) {
    out[0] = '\0';
    *per_core_flops = 10e9;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    hearth_buf b = { 0 };
    if (__builtin_cpu_supports("avx")) hearth_buf_appends(&b, "avx ");
    if (__builtin_cpu_supports("avx2")) hearth_buf_appends(&b, "avx2 "), *per_core_flops = 40e9;
    if (__builtin_cpu_supports("fma")) hearth_buf_appends(&b, "fma ");
    unsigned eax1, ebx1, ecx1, edx1; /* clang knows no "f16c" feature name: CPUID.1:ECX bit 29 */
    if (__get_cpuid(1, &eax1, &ebx1, &ecx1, &edx1) && (ecx1 & (1u << 29))) hearth_buf_appends(&b, "f16c ");
    if (__builtin_cpu_supports("avx512f")) hearth_buf_appends(&b, "avx512f "), *per_core_flops = 60e9;
    if (__builtin_cpu_supports("avx512bw")) hearth_buf_appends(&b, "avx512bw ");
    if (__builtin_cpu_supports("avx512vnni")) hearth_buf_appends(&b, "avx512vnni "), *per_core_flops = 80e9;
    if (b.len) b.data[--b.len] = '\0';
    snprintf(out, size, "%s", b.data ? b.data : "");
    hearth_buf_free(&b);
#elif defined(__aarch64__)
    snprintf(out, size, "neon");
    *per_core_flops = 30e9;
#endif
}

/* the cache file of this machine: host name + CPU model + RAM + threads identify it */
static void cache_path(const fit_machine *mc, const char *dir, char *out, size_t size) {
    char host[64] = "host";
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    uint64_t h = 1469598103934665603ull;
    const char *parts[] = { host, mc->name };
    for (size_t k = 0; k < 2; k++)
        for (const char *c = parts[k]; *c; c++) h = (h ^ (uint8_t)*c) * 1099511628211ull;
    h = (h ^ mc->ram_bytes) * 1099511628211ull;
    h = (h ^ (uint64_t)mc->threads) * 1099511628211ull;
    snprintf(out, size, "%s/machine-%016llx.json", dir, (unsigned long long)h);
}

static bool cache_read(const char *path, fit_machine *mc) {
    FILE *f = fopen(path, "rb");
    if (!f) return false;
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    cJSON *j = cJSON_Parse(buf);
    if (!j) return false;
    const cJSON *bw = cJSON_GetObjectItemCaseSensitive(j, "bandwidth");
    bool ok = cJSON_IsNumber(bw) && bw->valuedouble > 0;
    if (ok) mc->bandwidth = bw->valuedouble;
    cJSON_Delete(j);
    return ok;
}

static void mkdirs(const char *dir) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", dir);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(tmp, 0755);
            *p = '/';
        }
    mkdir(tmp, 0755);
}

static void cache_write(const char *dir, const char *path, const fit_machine *mc) {
    mkdirs(dir);
    cJSON *j = cJSON_CreateObject();
    if (!j) return;
    cJSON_AddStringToObject(j, "cpu", mc->name);
    cJSON_AddNumberToObject(j, "ram_bytes", (double)mc->ram_bytes);
    cJSON_AddNumberToObject(j, "threads", mc->threads);
    cJSON_AddNumberToObject(j, "bandwidth", mc->bandwidth);
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

hearth_status fit_machine_probe(fit_machine *mc, int32_t threads, const char *cache_dir, bool reprobe, char *err,
                                size_t err_size) {
    memset(mc, 0, sizeof *mc);
    cpu_model(mc->name, sizeof mc->name);
    mc->ram_bytes   = meminfo_kb("MemTotal") * 1024;
    mc->avail_bytes = meminfo_kb("MemAvailable") * 1024;
    if (!mc->ram_bytes) {
        long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
        if (pages > 0 && psz > 0) mc->ram_bytes = (uint64_t)pages * (uint64_t)psz;
    }
    if (!mc->avail_bytes) mc->avail_bytes = mc->ram_bytes;
    if (!mc->ram_bytes) return hearth_err(err, err_size, HEARTH_ERR_IO, "fit: cannot read the amount of RAM");
    long nc = sysconf(_SC_NPROCESSORS_ONLN);
    mc->cores   = (int32_t)(nc > 0 ? nc : 1);
    mc->threads = threads > 0 ? threads : mc->cores;
    double per_core;
    cpu_features(mc->features, sizeof mc->features, &per_core);
    mc->flops = per_core * mc->threads;
    char path[4400];
    if (cache_dir) cache_path(mc, cache_dir, path, sizeof path);
    if (!cache_dir || reprobe || !cache_read(path, mc)) {
        /* 256 MiB is far beyond any last-level cache of today, and small next to the RAM */
        size_t bytes = 256u << 20;
        if (mc->avail_bytes && bytes > mc->avail_bytes / 8) bytes = (size_t)(mc->avail_bytes / 8);
        mc->bandwidth = fit_bandwidth_probe(bytes, mc->threads, 0.5);
        if (mc->bandwidth <= 0)
            return hearth_err(err, err_size, HEARTH_ERR_NOMEM, "fit: the bandwidth probe could not run");
        if (cache_dir) cache_write(cache_dir, path, mc);
    }
    /* the engine's own kernels, with the thread count it will use; without them the speed
     * falls back to the bandwidth model */
    char rerr[256];
    if (fit_rates_get(&mc->rates, threads, cache_dir, reprobe, rerr, sizeof rerr) != HEARTH_OK)
        mc->rates.valid = false;
    return HEARTH_OK;
}
