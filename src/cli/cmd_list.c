/* cmd_list.c — `hearth list` (models in the store) and `hearth rm NAME`. */
#include "cli/cli.h"

#include "fit/fit.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

bool cli_model_path(const char *cmd, const char *arg, char *out, size_t size) {
    char err[1024];
    hearth_status st = hearth_resolve_model(arg, out, size, err, sizeof err);
    if (st == HEARTH_OK) return true;
    if (st == HEARTH_ERR_NOT_FOUND) {
        struct stat sb;
        if (stat(arg, &sb) == 0) {
            /* there, but not a regular file (a directory, a device): the loader says what is wrong */
            int n = snprintf(out, size, "%s", arg);
            if (n >= 0 && (size_t)n < size) return true;
        } else {
            fprintf(stderr, "hearth %s: %s: %s, and no model of that name in the store (see `hearth list`)\n", cmd, arg,
                    strerror(errno));
            return false;
        }
    }
    fprintf(stderr, "hearth %s: %s\n", cmd, err);
    return false;
}

static void lhb(uint64_t n, char *buf, size_t size) {
    if (n >= (1ull << 30)) snprintf(buf, size, "%.2f GiB", n / 1073741824.0);
    else if (n >= (1ull << 20)) snprintf(buf, size, "%.1f MiB", n / 1048576.0);
    else snprintf(buf, size, "%.1f KiB", n / 1024.0);
}

static void ago(double t, char *buf, size_t size) {
    if (t <= 0) { snprintf(buf, size, "never"); return; }
    double d = difftime(time(NULL), (time_t)t);
    if (d < 120) snprintf(buf, size, "just now");
    else if (d < 7200) snprintf(buf, size, "%.0f minutes ago", d / 60);
    else if (d < 172800) snprintf(buf, size, "%.0f hours ago", d / 3600);
    else snprintf(buf, size, "%.0f days ago", d / 86400);
}

int cmd_list(int argc, char **argv) {
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) json = true;
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: hearth list [--json]   models in the store ($HEARTH_MODELS)\n");
            return 0;
        } else {
            fprintf(stderr, "hearth list: unknown argument %s\n", argv[i]);
            return 2;
        }
    }
    char err[1024];
    store_entry *v;
    size_t n;
    if (store_list(&v, &n, err, sizeof err)) {
        fprintf(stderr, "hearth list: %s\n", err);
        return 1;
    }
    cJSON *arr = json ? cJSON_CreateArray() : NULL;
    if (!json) printf("%-48s %10s %-10s %10s %-8s %s\n", "NAME", "SIZE", "ARCH", "PARAMS", "QUANT", "LAST USED");
    fit_model *m = malloc(sizeof *m);
    for (size_t i = 0; m && i < n; i++) {
        char q[32], sz[32], when[32], params[32] = "?", arch[64] = "?";
        store_quant_of(v[i].path, q, sizeof q);
        char e2[256];
        if (fit_model_load(v[i].path, m, e2, sizeof e2) == HEARTH_OK) {
            snprintf(arch, sizeof arch, "%s", m->arch);
            if (m->n_params >= 1000000000ull) snprintf(params, sizeof params, "%.1fB", m->n_params / 1e9);
            else snprintf(params, sizeof params, "%.0fM", m->n_params / 1e6);
            if (!q[0]) {
                /* the dominant weight type */
                int best = 0;
                for (int t = 1; t < HEARTH_TYPE_COUNT; t++)
                    if (m->type_bytes[t] > m->type_bytes[best]) best = t;
                snprintf(q, sizeof q, "%s", hearth_type_name((uint32_t)best));
            }
        }
        lhb(v[i].size, sz, sizeof sz);
        ago(v[i].last_used, when, sizeof when);
        if (json) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "name", v[i].name);
            cJSON_AddStringToObject(o, "path", v[i].path);
            cJSON_AddNumberToObject(o, "size", (double)v[i].size);
            cJSON_AddStringToObject(o, "arch", arch);
            cJSON_AddNumberToObject(o, "n_params", strcmp(params, "?") ? (double)m->n_params : 0);
            cJSON_AddStringToObject(o, "quant", q);
            cJSON_AddNumberToObject(o, "last_used", v[i].last_used);
            cJSON_AddItemToArray(arr, o);
        } else {
            printf("%-48s %10s %-10s %10s %-8s %s\n", v[i].name, sz, arch, params, q[0] ? q : "-", when);
        }
    }
    if (json) {
        char *s = cJSON_Print(arr);
        if (s) puts(s);
        free(s);
        cJSON_Delete(arr);
    }
    free(m);
    free(v);
    return 0;
}

int cmd_rm(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        fprintf(argc < 2 ? stderr : stdout, "usage: hearth rm NAME...   remove pulled models from the store\n");
        return argc < 2 ? 2 : 0;
    }
    int rc = 0;
    char err[1024];
    for (int i = 1; i < argc; i++) {
        if (store_remove(argv[i], err, sizeof err)) {
            fprintf(stderr, "hearth rm: %s\n", err);
            rc = 1;
        } else {
            printf("removed %s\n", argv[i]);
        }
    }
    return rc;
}
