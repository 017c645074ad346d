/* store.c — the local model store: names, listing, removal, manifests, name resolution. */
#include "fit/fit.h"

#include "core/core.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

hearth_status store_root(char *out, size_t out_size, char *err, size_t err_size) {
    const char *env = getenv("HEARTH_MODELS");
    int n;
    if (env && env[0]) n = snprintf(out, out_size, "%s", env);
    else {
        const char *home = getenv("HOME");
        if (!home || !home[0]) return hearth_err(err, err_size, HEARTH_ERR_ARG, "store: neither HEARTH_MODELS nor HOME is set");
        n = snprintf(out, out_size, "%s/.cache/hearth/models", home);
    }
    if (n < 0 || (size_t)n >= out_size) return hearth_err(err, err_size, HEARTH_ERR_RANGE, "store: path too long");
    return HEARTH_OK;
}

void store_quant_of(const char *file, char *out, size_t out_size) {
    /* longest tags first so Q4_K_M wins over Q4_K */
    static const char *tags[] = {
        "IQ2_XXS", "IQ3_XXS", "Q4_0_4_4", "Q4_0_4_8", "Q4_0_8_8", "IQ1_S", "IQ1_M", "IQ2_XS", "IQ2_S", "IQ2_M",
        "IQ3_XS", "IQ3_S", "IQ3_M", "IQ4_NL", "IQ4_XS", "Q2_K_S", "Q3_K_S", "Q3_K_M", "Q3_K_L", "Q4_K_S", "Q4_K_M",
        "Q5_K_S", "Q5_K_M", "Q3_K_XL", "Q4_K_XL", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q8_K", "Q4_0", "Q4_1",
        "Q5_0", "Q5_1", "Q8_0", "TQ1_0", "TQ2_0", "MXFP4", "BF16", "F16", "F32",
    };
    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;
    out[0] = '\0';
    size_t best = 0;
    for (size_t i = 0; i < HEARTH_ARRAY_LEN(tags); i++) {
        size_t tl = strlen(tags[i]);
        for (const char *p = base; *p; p++) {
            if (strncasecmp(p, tags[i], tl) != 0) continue;
            /* a whole token: not preceded or followed by an alphanumeric */
            bool l = p == base || !isalnum((unsigned char)p[-1]);
            bool r = !isalnum((unsigned char)p[tl]);
            if (l && r && tl > best) {
                best = tl;
                snprintf(out, out_size, "%s", tags[i]);
            }
        }
    }
}

bool store_split_of(const char *file, uint32_t *part, uint32_t *count) {
    /* ...-00001-of-00003.gguf */
    size_t n = strlen(file), sl = strlen("-00001-of-00003.gguf");
    if (n < sl) return false;
    const char *s = file + n - sl;
    if (s[0] != '-' || strncmp(s + 6, "-of-", 4) != 0 || strcmp(s + 15, ".gguf") != 0) return false;
    for (int i = 1; i < 6; i++)
        if (!isdigit((unsigned char)s[i]) || !isdigit((unsigned char)s[i + 9])) return false;
    *part  = (uint32_t)strtoul(s + 1, NULL, 10);
    *count = (uint32_t)strtoul(s + 10, NULL, 10);
    return *part >= 1 && *count >= 1 && *part <= *count;
}

hearth_status fit_sha256_file(const char *path, char out[65], char *err, size_t err_size) {
    FILE *f = fopen(path, "rb");
    if (!f) return hearth_err(err, err_size, HEARTH_ERR_IO, "%s: %s", path, strerror(errno));
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char *buf = malloc(1 << 20);
    hearth_status st = HEARTH_OK;
    if (!ctx || !buf || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
        st = hearth_err(err, err_size, HEARTH_ERR_NOMEM, "sha256: cannot initialise");
        goto done;
    }
    size_t n;
    while ((n = fread(buf, 1, 1 << 20, f)) > 0) EVP_DigestUpdate(ctx, buf, n);
    if (ferror(f)) {
        st = hearth_err(err, err_size, HEARTH_ERR_IO, "%s: read error", path);
        goto done;
    }
    unsigned char md[32];
    unsigned int ml = 0;
    EVP_DigestFinal_ex(ctx, md, &ml);
    for (int i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", md[i]);
done:
    EVP_MD_CTX_free(ctx);
    free(buf);
    fclose(f);
    return st;
}

hearth_status store_write_manifest(const char *gguf_path, const char *repo, const char *file, const char *sha256,
                                   uint64_t size, char *err, size_t err_size) {
    cJSON *j = cJSON_CreateObject();
    if (!j) return hearth_err(err, err_size, HEARTH_ERR_NOMEM, "store: out of memory");
    cJSON_AddStringToObject(j, "repo", repo);
    cJSON_AddStringToObject(j, "file", file);
    cJSON_AddStringToObject(j, "sha256", sha256);
    cJSON_AddNumberToObject(j, "size", (double)size);
    cJSON_AddNumberToObject(j, "pulled", (double)time(NULL));
    char *s = cJSON_Print(j);
    cJSON_Delete(j);
    if (!s) return hearth_err(err, err_size, HEARTH_ERR_NOMEM, "store: out of memory");
    char path[4200];
    snprintf(path, sizeof path, "%s.json", gguf_path);
    FILE *f = fopen(path, "wb");
    hearth_status st = HEARTH_OK;
    if (!f) st = hearth_err(err, err_size, HEARTH_ERR_IO, "%s: %s", path, strerror(errno));
    else {
        bool ok = fputs(s, f) >= 0;
        if (fclose(f) != 0 || !ok) st = hearth_err(err, err_size, HEARTH_ERR_IO, "%s: write failed", path);
    }
    free(s);
    return st;
}

/* ---- listing ------------------------------------------------------------------------ */
typedef struct entry_vec {
    store_entry *v;
    size_t       n, cap;
} entry_vec;

static bool ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

static bool push(entry_vec *ev, const char *name, const char *path) {
    if (ev->n == ev->cap) {
        size_t cap = ev->cap ? ev->cap * 2 : 16;
        store_entry *v = realloc(ev->v, cap * sizeof *v);
        if (!v) return false;
        ev->v = v;
        ev->cap = cap;
    }
    store_entry *e = &ev->v[ev->n++];
    memset(e, 0, sizeof *e);
    snprintf(e->name, sizeof e->name, "%s", name);
    snprintf(e->path, sizeof e->path, "%s", path);
    struct stat st;
    if (stat(path, &st) == 0) e->size = (uint64_t)st.st_size;
    uint32_t part, count;
    if (store_split_of(path, &part, &count) && count > 1) {
        char p[4096];
        for (uint32_t k = 2; k <= count; k++) {
            snprintf(p, sizeof p, "%s", path);
            char num[8];
            snprintf(num, sizeof num, "%05u", k);
            memcpy(p + strlen(p) - strlen("-00001-of-00003.gguf") + 1, num, 5);
            if (stat(p, &st) == 0) e->size += (uint64_t)st.st_size;
        }
    }
    char mp[4200];
    snprintf(mp, sizeof mp, "%s.json", path);
    if (stat(mp, &st) == 0) e->last_used = (double)st.st_mtime;
    else if (stat(path, &st) == 0) e->last_used = (double)st.st_atime;
    return true;
}

/* a .gguf worth listing: not a later split part */
static bool is_model_file(const char *name) {
    uint32_t part, count;
    if (!ends_with(name, ".gguf")) return false;
    return !store_split_of(name, &part, &count) || part == 1;
}

static hearth_status scan_dir(const char *dir, const char *prefix, int depth, entry_vec *ev) {
    DIR *d = opendir(dir);
    if (!d) return HEARTH_OK;
    struct dirent *de;
    hearth_status st = HEARTH_OK;
    while ((de = readdir(d)) && !st) {
        if (de->d_name[0] == '.') continue;
        char path[4096];
        if (snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >= (int)sizeof path) continue;
        struct stat sb;
        if (stat(path, &sb) != 0) continue;
        if (S_ISDIR(sb.st_mode) && depth < 2) {
            char pre[600];
            snprintf(pre, sizeof pre, "%s%s%s", prefix, prefix[0] ? "/" : "", de->d_name);
            st = scan_dir(path, pre, depth + 1, ev);
        } else if (S_ISREG(sb.st_mode) && is_model_file(de->d_name)) {
            char name[700], q[32];
            store_quant_of(de->d_name, q, sizeof q);
            if (depth == 2 && q[0]) snprintf(name, sizeof name, "%s:%s", prefix, q);
            else if (depth == 2) snprintf(name, sizeof name, "%s/%s", prefix, de->d_name);
            else snprintf(name, sizeof name, "%s", de->d_name);
            if (!push(ev, name, path)) st = HEARTH_ERR_NOMEM;
        }
    }
    closedir(d);
    return st;
}

static int cmp_entry(const void *a, const void *b) {
    return strcmp(((const store_entry *)a)->name, ((const store_entry *)b)->name);
}

hearth_status store_list(store_entry **out, size_t *n, char *err, size_t err_size) {
    *out = NULL;
    *n = 0;
    char root[4096], dir[4200];
    hearth_status st = store_root(root, sizeof root, err, err_size);
    if (st) return st;
    entry_vec ev = { 0 };
    snprintf(dir, sizeof dir, "%s/store", root);
    st = scan_dir(dir, "", 0, &ev);
    /* plain files that other tools (scripts/fetch-model) keep in the root */
    DIR *d = st ? NULL : opendir(root);
    struct dirent *de;
    while (d && (de = readdir(d)) && !st) {
        if (de->d_name[0] == '.' || !is_model_file(de->d_name)) continue;
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", root, de->d_name);
        struct stat sb;
        if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && !push(&ev, de->d_name, path)) st = HEARTH_ERR_NOMEM;
    }
    if (d) closedir(d);
    if (st) {
        free(ev.v);
        return hearth_err(err, err_size, st, "store: out of memory");
    }
    if (ev.n) qsort(ev.v, ev.n, sizeof *ev.v, cmp_entry);
    *out = ev.v;
    *n = ev.n;
    return HEARTH_OK;
}

/* Finds the entry a name designates: an exact store name, owner/repo (when it has one
 * model), hf://owner/repo/file, or a file name (with or without .gguf). */
static hearth_status store_find(const char *name, store_entry *found, char *err, size_t err_size) {
    store_entry *v;
    size_t n;
    hearth_status st = store_list(&v, &n, err, err_size);
    if (st) return st;
    const char *q = name;
    if (!strncmp(q, "hf://", 5)) q += 5;
    size_t hits = 0, ql = strlen(q);
    const store_entry *hit = NULL;
    for (int pass = 0; pass < 4 && !hits; pass++)
        for (size_t i = 0; i < n; i++) {
            const store_entry *e = &v[i];
            const char *base = strrchr(e->path, '/');
            base = base ? base + 1 : e->path;
            bool m = false;
            if (pass == 0) m = !strcasecmp(e->name, q);
            else if (pass == 1) {
                /* owner/repo/file.gguf: the path under store/ */
                size_t pl = strlen(e->path);
                m = pl > ql && e->path[pl - ql - 1] == '/' && !strcmp(e->path + pl - ql, q);
            } else if (pass == 2) {
                m = !strcmp(base, q) || (strlen(base) == ql + 5 && !strncmp(base, q, ql) && ends_with(base, ".gguf"));
            } else {
                /* owner/repo with one model */
                m = !strncasecmp(e->name, q, ql) && (e->name[ql] == ':' || e->name[ql] == '/');
            }
            if (m) {
                if (!hit || strcmp(hit->path, e->path)) hits++;
                hit = e;
            }
        }
    if (hits == 1) *found = *hit;
    free(v);
    if (hits == 0) return hearth_err(err, err_size, HEARTH_ERR_NOT_FOUND, "no model named '%s' (not a file, and not in the store; see `hearth list`)", name);
    if (hits > 1) return hearth_err(err, err_size, HEARTH_ERR_ARG, "'%s' names several models in the store; give owner/repo:QUANT", name);
    return HEARTH_OK;
}

hearth_status hearth_resolve_model(const char *name_or_path, char *out, size_t out_size, char *err, size_t err_size) {
    if (!name_or_path || !name_or_path[0]) return hearth_err(err, err_size, HEARTH_ERR_ARG, "empty model name");
    struct stat sb;
    if (stat(name_or_path, &sb) == 0 && S_ISREG(sb.st_mode)) {
        int n = snprintf(out, out_size, "%s", name_or_path);
        return n >= 0 && (size_t)n < out_size ? HEARTH_OK : hearth_err(err, err_size, HEARTH_ERR_RANGE, "path too long");
    }
    store_entry e;
    hearth_status st = store_find(name_or_path, &e, err, err_size);
    if (st) return st;
    int n = snprintf(out, out_size, "%s", e.path);
    if (n < 0 || (size_t)n >= out_size) return hearth_err(err, err_size, HEARTH_ERR_RANGE, "path too long");
    /* "last used" is the manifest's modification time */
    char mp[4200];
    snprintf(mp, sizeof mp, "%s.json", e.path);
    utime(mp, NULL);
    return HEARTH_OK;
}

hearth_status store_remove(const char *name, char *err, size_t err_size) {
    char root[4096];
    hearth_status st = store_root(root, sizeof root, err, err_size);
    if (st) return st;
    store_entry e;
    st = store_find(name, &e, err, err_size);
    if (st) return st;
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/store/", root);
    if (strncmp(e.path, dir, strlen(dir)) != 0)
        return hearth_err(err, err_size, HEARTH_ERR_ARG, "'%s' is not a pulled model (%s); remove the file yourself", name, e.path);
    uint32_t part, count = 1;
    if (!store_split_of(e.path, &part, &count)) count = 1;
    char p[4400];
    for (uint32_t k = 1; k <= count; k++) {
        snprintf(p, sizeof p, "%s", e.path);
        if (count > 1) {
            char num[8];
            snprintf(num, sizeof num, "%05u", k);
            memcpy(p + strlen(p) - strlen("-00001-of-00003.gguf") + 1, num, 5);
        }
        if (unlink(p) != 0 && errno != ENOENT)
            return hearth_err(err, err_size, HEARTH_ERR_IO, "%s: %s", p, strerror(errno));
        char mp[4500];
        snprintf(mp, sizeof mp, "%s.json", p);
        unlink(mp);
        snprintf(mp, sizeof mp, "%s.part", p);
        unlink(mp);
    }
    /* drop empty owner/repo directories */
    char d[4400];
    snprintf(d, sizeof d, "%s", e.path);
    for (int i = 0; i < 2; i++) {
        char *s = strrchr(d, '/');
        if (!s) break;
        *s = '\0';
        if (rmdir(d) != 0) break;
    }
    return HEARTH_OK;
}
