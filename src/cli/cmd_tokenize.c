/*
 * cmd_tokenize.c — `hearth tokenize` and `hearth detokenize`:
 *
 *   hearth tokenize -m MODEL [--ids | --pieces] [--no-special] [--parse-special] (-f FILE | TEXT...)
 *   hearth detokenize -m MODEL [--no-special] [-n] IDS...
 */
#include "cli/cli.h"

#include "hearth.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void tokenize_usage(FILE *f) {
    fprintf(f,
            "usage: hearth tokenize -m MODEL [--ids | --pieces] [--no-special] [--parse-special] (-f FILE | TEXT...)\n"
            "  Prints the tokens of TEXT (the arguments joined by spaces) or of FILE.\n"
            "  (default)        one token a line: id and its piece\n"
            "  --ids            one line of space-separated token ids\n"
            "  --pieces         one piece a line (escaped: \\n \\t \\\\ \\xNN)\n"
            "  --no-special     add no BOS/EOS\n"
            "  --parse-special  control tokens written in the text (e.g. <|im_start|>) become tokens\n");
}

static void detokenize_usage(FILE *f) {
    fprintf(f, "usage: hearth detokenize -m MODEL [--no-special] [-n] IDS...\n"
               "  Prints the text of the token ids (separated by spaces or commas).\n"
               "  --no-special   do not render control tokens (<|im_start|>, <bos>, ...)\n"
               "  -n             no newline after the text\n");
}

/* Opens the vocabulary of -m's argument (a path, or a name the model store resolves). */
static hearth_vocab *open_vocab(const char *model) {
    char path[4096], err[512];
    if (!cli_model_path("tokenize", model, path, sizeof path)) return NULL;
    hearth_vocab *v = NULL;
    if (hearth_vocab_open(path, &v, err, sizeof err) != HEARTH_OK) {
        fprintf(stderr, "hearth: %s\n", err);
        return NULL;
    }
    return v;
}

static char *read_all(const char *path, size_t *len) {
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) {
        fprintf(stderr, "hearth: cannot open %s: %s\n", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0, k;
    char *buf = malloc(cap);
    while (buf && (k = fread(buf + n, 1, cap - n, f)) > 0) {
        n += k;
        if (n == cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) { free(buf); buf = NULL; break; }
            buf = nb;
            cap *= 2;
        }
    }
    if (f != stdin) fclose(f);
    if (!buf) fprintf(stderr, "hearth: out of memory reading %s\n", path);
    *len = n;
    return buf;
}

static void print_escaped(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n') fputs("\\n", stdout);
        else if (c == '\t') fputs("\\t", stdout);
        else if (c == '\r') fputs("\\r", stdout);
        else if (c == '\\') fputs("\\\\", stdout);
        else if (c < 0x20 || c == 0x7F) printf("\\x%02x", c);
        else putchar(c);
    }
}

int cmd_tokenize(int argc, char **argv) {
    const char *model = NULL, *file = NULL;
    int mode = 0; /* 0 table, 1 ids, 2 pieces */
    unsigned flags = HEARTH_TOKENIZE_ADD_SPECIAL;
    int first_text = argc;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { tokenize_usage(stdout); return 0; }
        else if ((!strcmp(a, "-m") || !strcmp(a, "--model")) && i + 1 < argc) model = argv[++i];
        else if (!strcmp(a, "-f") && i + 1 < argc) file = argv[++i];
        else if (!strcmp(a, "--ids")) mode = 1;
        else if (!strcmp(a, "--pieces")) mode = 2;
        else if (!strcmp(a, "--no-special")) flags &= ~HEARTH_TOKENIZE_ADD_SPECIAL;
        else if (!strcmp(a, "--parse-special")) flags |= HEARTH_TOKENIZE_PARSE_SPECIAL;
        else if (!strcmp(a, "--")) { first_text = i + 1; break; }
        else if (a[0] == '-' && a[1]) { fprintf(stderr, "hearth tokenize: unknown option '%s'\n", a); tokenize_usage(stderr); return 2; }
        else { first_text = i; break; }
    }
    if (!model || (!file && first_text >= argc) || (file && first_text < argc)) {
        tokenize_usage(stderr);
        return 2;
    }
    size_t len = 0;
    char *text;
    if (file) {
        text = read_all(file, &len);
        if (!text) return 1;
    } else {
        size_t cap = 1;
        for (int i = first_text; i < argc; i++) cap += strlen(argv[i]) + 1;
        text = malloc(cap);
        if (!text) return 1;
        for (int i = first_text; i < argc; i++) {
            size_t k = strlen(argv[i]);
            if (i > first_text) text[len++] = ' ';
            memcpy(text + len, argv[i], k);
            len += k;
        }
    }
    hearth_vocab *v = open_vocab(model);
    if (!v) { free(text); return 1; }
    int64_t n = hearth_tokenize(v, text, len, flags, NULL, 0);
    int32_t *ids = n > 0 ? malloc((size_t)n * sizeof *ids) : NULL;
    if (n < 0 || (n > 0 && (!ids || hearth_tokenize(v, text, len, flags, ids, (size_t)n) != n))) {
        fprintf(stderr, "hearth tokenize: out of memory\n");
        free(ids); free(text); hearth_vocab_free(v);
        return 1;
    }
    char piece[1024];
    for (int64_t i = 0; i < n; i++) {
        if (mode == 1) { printf(i ? " %d" : "%d", ids[i]); continue; }
        int64_t k = hearth_token_to_piece(v, ids[i], 1, piece, sizeof piece);
        if (k < 0) k = 0;
        if (k >= (int64_t)sizeof piece) k = sizeof piece - 1;
        if (mode == 0) printf("%6d -> '", ids[i]);
        print_escaped(piece, (size_t)k);
        fputs(mode == 0 ? "'\n" : "\n", stdout);
    }
    if (mode == 1) putchar('\n');
    free(ids);
    free(text);
    hearth_vocab_free(v);
    return 0;
}

int cmd_detokenize(int argc, char **argv) {
    const char *model = NULL;
    unsigned flags = HEARTH_DETOKENIZE_UNPARSE_SPECIAL;
    int newline = 1;
    size_t n = 0, cap = 0;
    int32_t *ids = NULL;
    int rc = 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { detokenize_usage(stdout); free(ids); return 0; }
        if ((!strcmp(a, "-m") || !strcmp(a, "--model")) && i + 1 < argc) { model = argv[++i]; continue; }
        if (!strcmp(a, "--no-special")) { flags &= ~HEARTH_DETOKENIZE_UNPARSE_SPECIAL; continue; }
        if (!strcmp(a, "-n")) { newline = 0; continue; }
        /* ids: numbers separated by spaces, commas or brackets */
        const char *p = a;
        while (*p) {
            while (*p == ' ' || *p == ',' || *p == '[' || *p == ']' || *p == '\n' || *p == '\t') p++;
            if (!*p) break;
            char *end;
            errno = 0;
            long x = strtol(p, &end, 10);
            if (end == p || errno || x < INT32_MIN || x > INT32_MAX) {
                fprintf(stderr, "hearth detokenize: not a token id: '%s'\n", a);
                goto out;
            }
            if (n == cap) {
                cap = cap ? cap * 2 : 64;
                int32_t *nv = realloc(ids, cap * sizeof *nv);
                if (!nv) { rc = 1; goto out; }
                ids = nv;
            }
            ids[n++] = (int32_t)x;
            p = end;
        }
    }
    if (!model) {
        detokenize_usage(stderr);
        goto out;
    }
    hearth_vocab *v = open_vocab(model);
    if (!v) { rc = 1; goto out; }
    int64_t len = hearth_detokenize(v, ids, n, flags, NULL, 0);
    char *text = len >= 0 ? malloc((size_t)len + 1) : NULL;
    if (!text) {
        fprintf(stderr, "hearth detokenize: out of memory\n");
        hearth_vocab_free(v);
        rc = 1;
        goto out;
    }
    hearth_detokenize(v, ids, n, flags, text, (size_t)len + 1);
    fwrite(text, 1, (size_t)len, stdout);
    if (newline) putchar('\n');
    free(text);
    hearth_vocab_free(v);
    rc = 0;
out:
    free(ids);
    return rc;
}
