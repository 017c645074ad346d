/* cmd_pull.c — `hearth pull hf://owner/repo/file.gguf | owner/repo:QUANT`: verified downloads into the store. */
#include "cli/cli.h"

#include "fit/fit.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static void pull_usage(FILE *f) {
    fprintf(f, "usage: hearth pull hf://owner/repo/file.gguf | owner/repo:QUANT | owner/repo/file.gguf\n"
               "  downloads into the store ($HEARTH_MODELS, default ~/.cache/hearth/models), resuming a\n"
               "  partial download, verifying the SHA-256 the hub publishes.  HF_ENDPOINT overrides the\n"
               "  hub's address; HF_TOKEN is sent for gated repositories.\n");
}

static int mkdirs(const char *dir) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", dir);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return -1;
            *p = '/';
        }
    return mkdir(tmp, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

int cmd_pull(int argc, char **argv) {
    const char *spec = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) { pull_usage(stdout); return 0; }
        if (argv[i][0] == '-') { fprintf(stderr, "hearth pull: unknown option %s\n", argv[i]); return 2; }
        if (spec) { fprintf(stderr, "hearth pull: one model at a time\n"); return 2; }
        spec = argv[i];
    }
    if (!spec) { pull_usage(stderr); return 2; }
    /* past a file size limit (ulimit -f) a write fails with EFBIG and is reported, instead of
     * the default SIGXFSZ killing the process mid-download */
    signal(SIGXFSZ, SIG_IGN);

    /* owner/repo + (file | quant) */
    char repo[512] = "", file[1024] = "", quant[64] = "";
    const char *s = !strncmp(spec, "hf://", 5) ? spec + 5 : spec;
    const char *sl = strchr(s, '/');
    const char *colon = strrchr(s, ':');
    const char *sl2 = sl ? strchr(sl + 1, '/') : NULL;
    if (!sl) { fprintf(stderr, "hearth pull: '%s' is not owner/repo:QUANT or hf://owner/repo/file.gguf\n", spec); return 2; }
    if (sl2) {
        snprintf(repo, sizeof repo, "%.*s", (int)(sl2 - s), s);
        snprintf(file, sizeof file, "%s", sl2 + 1);
    } else if (colon && colon > sl) {
        snprintf(repo, sizeof repo, "%.*s", (int)(colon - s), s);
        snprintf(quant, sizeof quant, "%s", colon + 1);
    } else {
        snprintf(repo, sizeof repo, "%s", s);
    }

    char err[1024];
    hub_listing l;
    hearth_status st = hub_list(repo, &l, err, sizeof err);
    if (st) {
        fprintf(stderr, "hearth pull: %s\n", err);
        return 1;
    }
    /* the files to fetch: the named one, or the one of the quantization (all split parts) */
    const hub_file *first = NULL;
    size_t n_match = 0;
    for (size_t i = 0; i < l.n; i++) {
        const char *f = l.files[i].path;
        size_t fl = strlen(f);
        uint32_t part, count;
        if (file[0]) {
            if (!strcmp(f, file)) first = &l.files[i], n_match = 1;
            continue;
        }
        if (fl < 5 || strcmp(f + fl - 5, ".gguf") || strstr(f, "mmproj")) continue;
        if (store_split_of(f, &part, &count) && part != 1) continue;
        char q[32];
        store_quant_of(f, q, sizeof q);
        if (quant[0] ? !strcasecmp(q, quant) : true) {
            if (!first || strcmp(first->path, f)) n_match++;
            first = &l.files[i];
        }
    }
    if (!first || n_match != 1) {
        if (file[0]) fprintf(stderr, "hearth pull: %s has no file %s\n", repo, file);
        else if (!n_match) fprintf(stderr, "hearth pull: %s has no %s%s.gguf file\n", repo, quant, quant[0] ? " " : "");
        else fprintf(stderr, "hearth pull: %s has %zu matching .gguf files; name one (owner/repo:QUANT or hf://owner/repo/file.gguf):\n", repo, n_match);
        for (size_t i = 0; i < l.n; i++) {
            size_t fl = strlen(l.files[i].path);
            if (fl > 5 && !strcmp(l.files[i].path + fl - 5, ".gguf")) fprintf(stderr, "  %s\n", l.files[i].path);
        }
        hub_listing_free(&l);
        return 1;
    }
    char root[4096], dir[4800];
    if (store_root(root, sizeof root, err, sizeof err)) {
        fprintf(stderr, "hearth pull: %s\n", err);
        hub_listing_free(&l);
        return 1;
    }
    snprintf(dir, sizeof dir, "%s/store/%s", root, repo);
    const char *fbase = strrchr(first->path, '/');
    if (fbase) snprintf(dir + strlen(dir), sizeof dir - strlen(dir), "/%.*s", (int)(fbase - first->path), first->path);
    if (mkdirs(dir) != 0) {
        fprintf(stderr, "hearth pull: cannot create %s: %s\n", dir, strerror(errno));
        hub_listing_free(&l);
        return 1;
    }
    uint32_t part, count = 1;
    if (!store_split_of(first->path, &part, &count)) count = 1;
    bool tty = isatty(2);
    int rc = 0;
    char dest0[6000] = "";
    for (uint32_t k = 1; k <= count && !rc; k++) {
        char want[1024];
        snprintf(want, sizeof want, "%s", first->path);
        if (count > 1) {
            char num[8];
            snprintf(num, sizeof num, "%05u", k);
            memcpy(want + strlen(want) - 19, num, 5);
        }
        const hub_file *hf = NULL;
        for (size_t i = 0; i < l.n; i++)
            if (!strcmp(l.files[i].path, want)) hf = &l.files[i];
        if (!hf) {
            fprintf(stderr, "hearth pull: %s lists no part %s\n", repo, want);
            rc = 1;
            break;
        }
        const char *b = strrchr(hf->path, '/');
        char dest[6000];
        snprintf(dest, sizeof dest, "%s/%s", dir, b ? b + 1 : hf->path);
        if (k == 1) snprintf(dest0, sizeof dest0, "%s", dest);
        struct stat sb;
        if (stat(dest, &sb) == 0 && (uint64_t)sb.st_size == hf->size) {
            fprintf(stderr, "%s: already in the store\n", hf->path);
            continue;
        }
        st = hub_download(repo, hf->path, hf->size, hf->sha256, dest, tty, err, sizeof err);
        if (st) {
            fprintf(stderr, "hearth pull: %s\n", err);
            rc = 1;
        } else {
            fprintf(stderr, "%s: verified (sha256 ok)\n", hf->path);
        }
    }
    if (!rc) {
        char q[32];
        store_quant_of(first->path, q, sizeof q);
        printf("%s%s%s\n%s\n", repo, q[0] ? ":" : "/", q[0] ? q : first->path, dest0);
    }
    hub_listing_free(&l);
    return rc;
}
