/* cmd_run.c — `hearth run -m MODEL -p PROMPT ...`: one-shot generation.  Only the generated
 * text goes to stdout; load time and tokens/s go to stderr. */
#include "cli/cli.h"

#include "hearth.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void run_usage(FILE *f) {
    fprintf(f,
            "usage: hearth run -m MODEL (-p PROMPT | -f FILE) [options]\n"
            "  -m, --model PATH        GGUF model file\n"
            "  -p, --prompt TEXT       prompt text\n"
            "  -f, --file PATH         read the prompt from a file\n"
            "  -n, --n-predict N       tokens to generate (default 128)\n"
            "  -c, --ctx-size N        context length (default min(training context, 4096))\n"
            "  -t, --threads N         threads (default: physical cores)\n"
            "  -b, --batch-size N      prompt tokens per forward pass (default 256)\n"
            "      --temp T            temperature (default 0.8; 0 = greedy)\n"
            "      --top-k K           (default 40; 0 = off)\n"
            "      --top-p P           (default 0.95; 1 = off)\n"
            "      --min-p P           (default 0.05; 0 = off)\n"
            "      --repeat-penalty R  (default 1.0 = off)\n"
            "      --repeat-last-n N   penalty window (default 64)\n"
            "      --presence-penalty P, --frequency-penalty P\n"
            "      --seed S            RNG seed\n"
            "      --chat              wrap the prompt as one user message (ChatML)\n"
            "      --tokens            -p is a list of token ids (\"1,2,3\"); print generated ids\n"
            "      --logits FILE       with --tokens: write the logits of every prompt position to FILE\n"
            "                          as float32 (n_prompt x n_vocab) and generate nothing\n");
}

/* Parses a whole decimal number; false on junk or overflow. */
bool cli_parse_long(const char *s, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return false;
    *out = v;
    return true;
}

bool cli_parse_float(const char *s, float *out) {
    char *end;
    errno = 0;
    float v = strtof(s, &end);
    if (errno || end == s || *end) return false;
    *out = v;
    return true;
}

int cli_parse_sampling(const char *opt, const char *val, hearth_sampler_params *sp) {
    static const struct { const char *name; size_t off; } floats[] = {
        { "--temp", offsetof(hearth_sampler_params, temp) },
        { "--top-p", offsetof(hearth_sampler_params, top_p) },
        { "--min-p", offsetof(hearth_sampler_params, min_p) },
        { "--repeat-penalty", offsetof(hearth_sampler_params, repeat_penalty) },
        { "--presence-penalty", offsetof(hearth_sampler_params, presence_penalty) },
        { "--frequency-penalty", offsetof(hearth_sampler_params, frequency_penalty) },
    };
    long v;
    for (size_t k = 0; k < sizeof floats / sizeof floats[0]; k++)
        if (!strcmp(opt, floats[k].name))
            return val && cli_parse_float(val, (float *)((char *)sp + floats[k].off)) ? 1 : -1;
    if (!strcmp(opt, "--top-k")) {
        if (!val || !cli_parse_long(val, -1, 1 << 30, &v)) return -1;
        sp->top_k = (int32_t)v;
        return 1;
    }
    if (!strcmp(opt, "--repeat-last-n")) {
        if (!val || !cli_parse_long(val, -1, 1 << 20, &v)) return -1;
        sp->repeat_last_n = (int32_t)v;
        return 1;
    }
    if (!strcmp(opt, "--seed")) {
        char *end;
        if (!val) return -1;
        errno = 0;
        unsigned long long seed = strtoull(val, &end, 10);
        if (errno || end == val || *end) return -1;
        sp->seed = seed;
        return 1;
    }
    return 0;
}

char *cli_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (n < cap) break;
        char *nb = cap < ((size_t)1 << 31) ? realloc(buf, cap * 2 + 1) : NULL;
        if (!nb) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    if (buf && ferror(f)) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = 0;
        if (len) *len = n;
    }
    return buf;
}

typedef struct run_out {
    int  tokens_mode;
    int  n;
} run_out;

static int on_token(void *user, int32_t token, const char *piece, size_t len) {
    run_out *o = user;
    if (o->tokens_mode) {
        if (token >= 0) printf("%s%d", o->n++ ? " " : "", token);
    } else {
        fwrite(piece, 1, len, stdout);
    }
    fflush(stdout);
    return 0;
}

/* Writes the logits of every position of ids[0..n) to path as float32; returns the exit status. */
static int dump_logits(hearth_ctx *ctx, const hearth_model *model, const int32_t *ids, int32_t n, const char *path) {
    char err[512];
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "hearth run: cannot write '%s': %s\n", path, strerror(errno));
        return 1;
    }
    const int32_t nb = hearth_ctx_n_batch(ctx), nv = hearth_model_n_vocab(model);
    for (int32_t i = 0; i < n; i += nb) {
        int32_t k = n - i < nb ? n - i : nb;
        const float *lg;
        if (hearth_decode(ctx, ids + i, k, &lg, err, sizeof err) != HEARTH_OK) {
            fprintf(stderr, "hearth run: %s\n", err);
            fclose(f);
            return 1;
        }
        if (fwrite(lg, sizeof(float) * (size_t)nv, (size_t)k, f) != (size_t)k) {
            fclose(f);
            return 1;
        }
    }
    return fclose(f) == 0 ? 0 : 1;
}

int cmd_run(int argc, char **argv) {
    const char *model_path = NULL, *prompt = NULL, *prompt_file = NULL;
    long n_predict = 128, n_ctx = 0, n_threads = 0, n_batch = 0;
    int r;
    int chat = 0, tokens_mode = 0;
    const char *logits_path = NULL;
    hearth_sampler_params sp;
    hearth_sampler_params_default(&sp);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
#define NEED_VAL()                                                                 \
    do {                                                                           \
        if (!val) {                                                                \
            fprintf(stderr, "hearth run: %s needs a value\n", a);                  \
            return 2;                                                              \
        }                                                                          \
        i++;                                                                       \
    } while (0)
#define BAD_VAL()                                                                  \
    do {                                                                           \
        fprintf(stderr, "hearth run: invalid value '%s' for %s\n", val, a);        \
        return 2;                                                                  \
    } while (0)
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            run_usage(stdout);
            return 0;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            NEED_VAL(); model_path = val;
        } else if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) {
            NEED_VAL(); prompt = val;
        } else if (!strcmp(a, "-f") || !strcmp(a, "--file")) {
            NEED_VAL(); prompt_file = val;
        } else if (!strcmp(a, "-n") || !strcmp(a, "--n-predict")) {
            NEED_VAL(); if (!cli_parse_long(val, 0, 1 << 24, &n_predict)) BAD_VAL();
        } else if (!strcmp(a, "-c") || !strcmp(a, "--ctx-size")) {
            NEED_VAL(); if (!cli_parse_long(val, 0, 1 << 24, &n_ctx)) BAD_VAL();
        } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            NEED_VAL(); if (!cli_parse_long(val, 1, 1024, &n_threads)) BAD_VAL();
        } else if (!strcmp(a, "-b") || !strcmp(a, "--batch-size")) {
            NEED_VAL(); if (!cli_parse_long(val, 1, 65536, &n_batch)) BAD_VAL();
        } else if ((r = cli_parse_sampling(a, val, &sp)) != 0) {
            NEED_VAL(); if (r < 0) BAD_VAL();
        } else if (!strcmp(a, "--chat")) {
            chat = 1;
        } else if (!strcmp(a, "--logits")) {
            NEED_VAL(); logits_path = val;
        } else if (!strcmp(a, "--tokens")) {
            tokens_mode = 1;
        } else {
            fprintf(stderr, "hearth run: unknown option '%s'\n", a);
            run_usage(stderr);
            return 2;
        }
#undef NEED_VAL
#undef BAD_VAL
    }
    if (!model_path || (!prompt && !prompt_file)) {
        run_usage(stderr);
        return 2;
    }
    char *file_text = NULL;
    if (prompt_file) {
        file_text = cli_read_file(prompt_file, NULL);
        if (!file_text) {
            fprintf(stderr, "hearth run: cannot read '%s': %s\n", prompt_file, strerror(errno));
            return 1;
        }
        prompt = file_text;
    }
    char err[512] = "";
    int rc = 1;
    hearth_model *model = NULL;
    hearth_ctx *ctx = NULL;
    char *wrapped = NULL;
    int32_t *ids = NULL;
    char resolved[4096];
    if (!cli_model_path("run", model_path, resolved, sizeof resolved)) goto out;
    hearth_status st = hearth_model_load(resolved, &model, err, sizeof err);
    if (st != HEARTH_OK) {
        fprintf(stderr, "hearth run: %s\n", err);
        goto out;
    }
    hearth_ctx_params cp;
    hearth_ctx_params_default(&cp);
    cp.n_ctx = (int32_t)n_ctx;
    cp.n_threads = (int32_t)n_threads;
    cp.n_batch = (int32_t)n_batch;
    cp.logits_all = logits_path != NULL;
    st = hearth_ctx_create(model, &cp, &ctx, err, sizeof err);
    if (st != HEARTH_OK) {
        fprintf(stderr, "hearth run: %s\n", err);
        goto out;
    }
    if (chat && !tokens_mode) {
        /* ChatML until the chat-template engine lands */
        size_t n = strlen(prompt) + 128;
        wrapped = malloc(n);
        if (!wrapped) goto out;
        snprintf(wrapped, n, "<|im_start|>user\n%s<|im_end|>\n<|im_start|>assistant\n", prompt);
        prompt = wrapped;
    }
    run_out o = { .tokens_mode = tokens_mode };
    int32_t n_gen = 0;
    if (tokens_mode) {
        size_t cap = strlen(prompt) / 2 + 2, n = 0;
        ids = malloc(cap * sizeof *ids);
        if (!ids) goto out;
        for (const char *s = prompt; *s;) {
            char *end;
            long t = strtol(s, &end, 10);
            if (end == s || n == cap) {
                fprintf(stderr, "hearth run: --tokens: bad token list\n");
                goto out;
            }
            ids[n++] = (int32_t)t;
            s = end;
            while (*s == ',' || *s == ' ' || *s == '\n') s++;
        }
        if (logits_path) {
            rc = dump_logits(ctx, model, ids, (int32_t)n, logits_path);
            goto out;
        }
        st = hearth_generate_tokens(ctx, ids, (int32_t)n, (int32_t)n_predict, &sp, on_token, &o, NULL, &n_gen, err,
                                    sizeof err);
        if (st == HEARTH_OK) printf("\n");
    } else {
        st = hearth_generate(ctx, prompt, (int32_t)n_predict, &sp, on_token, &o, &n_gen, err, sizeof err);
    }
    if (st != HEARTH_OK) {
        fprintf(stderr, "hearth run: %s\n", err);
        goto out;
    }
    hearth_timings t;
    hearth_ctx_timings(ctx, &t);
    fprintf(stderr, "\n\nload: %.2f s\n", t.load_s);
    fprintf(stderr, "prompt: %d tokens in %.3f s (%.2f tokens/s)\n", t.n_prompt, t.prompt_s,
            t.prompt_s > 0 ? t.n_prompt / t.prompt_s : 0.0);
    fprintf(stderr, "generation: %d tokens in %.3f s (%.2f tokens/s)\n", t.n_gen, t.gen_s,
            t.gen_s > 0 ? t.n_gen / t.gen_s : 0.0);
    rc = 0;
out:
    free(ids);
    free(wrapped);
    free(file_text);
    hearth_ctx_free(ctx);
    hearth_model_free(model);
    return rc;
}
