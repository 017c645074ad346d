/* cmd_perplexity.c — `hearth perplexity -m MODEL -f TEXT [-c 512]`, computed the way the
 * reference's llama-perplexity does: the text is tokenized once (with BOS if the model adds
 * one), cut into non-overlapping chunks of n_ctx tokens; each chunk is evaluated from an
 * empty cache with its first token replaced by BOS (when the model uses one), and only the
 * second half of each chunk is scored.  Prints `PPL = <value> +/- <error>` last. */
#include "cli/cli.h"

#include "core/core.h"
#include "hearth.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void ppl_usage(FILE *f) {
    fprintf(f, "usage: hearth perplexity -m MODEL -f TEXT [-c 512] [-t THREADS] [-b BATCH] [--chunks N]\n");
}

/* -log softmax(logits)[target], in double. */
static double nll_of(const float *logits, int64_t n_vocab, int32_t target) {
    float mx = logits[0];
    for (int64_t i = 1; i < n_vocab; i++) mx = logits[i] > mx ? logits[i] : mx;
    double sum = 0.0;
    for (int64_t i = 0; i < n_vocab; i++) sum += exp((double)logits[i] - mx);
    return -((double)logits[target] - mx - log(sum));
}

int cmd_perplexity(int argc, char **argv) {
    const char *model_path = NULL, *text_path = NULL;
    long n_ctx = 512, n_threads = 0, n_batch = 0, max_chunks = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        long *target = NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            ppl_usage(stdout);
            return 0;
        }
        if ((!strcmp(a, "-m") || !strcmp(a, "--model")) && val) { model_path = val; i++; continue; }
        if ((!strcmp(a, "-f") || !strcmp(a, "--file")) && val) { text_path = val; i++; continue; }
        if (!strcmp(a, "-c") || !strcmp(a, "--ctx-size")) target = &n_ctx;
        else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) target = &n_threads;
        else if (!strcmp(a, "-b") || !strcmp(a, "--batch-size")) target = &n_batch;
        else if (!strcmp(a, "--chunks")) target = &max_chunks;
        if (!target || !val || !cli_parse_long(val, target == &max_chunks ? -1 : 1, 1 << 24, target)) {
            fprintf(stderr, "hearth perplexity: bad option '%s'\n", a);
            ppl_usage(stderr);
            return 2;
        }
        i++;
    }
    if (!model_path || !text_path || n_ctx < 4) {
        ppl_usage(stderr);
        return 2;
    }
    size_t text_len = 0;
    char *text = cli_read_file(text_path, &text_len);
    if (!text) {
        fprintf(stderr, "hearth perplexity: cannot read '%s': %s\n", text_path, strerror(errno));
        return 1;
    }
    char err[512];
    int rc = 1;
    hearth_model *model = NULL;
    hearth_ctx *ctx = NULL;
    int32_t *toks = NULL;
    char resolved[4096];
    if (!cli_model_path("perplexity", model_path, resolved, sizeof resolved)) goto out;
    if (hearth_model_load(resolved, &model, err, sizeof err) != HEARTH_OK) {
        fprintf(stderr, "hearth perplexity: %s\n", err);
        goto out;
    }
    int64_t n_tok = hearth_model_tokenize(model, text, text_len, 1, 0, NULL, 0);
    if (n_tok < 0 || !(toks = malloc((size_t)(n_tok > 0 ? n_tok : 1) * sizeof *toks))) {
        fprintf(stderr, "hearth perplexity: tokenization failed\n");
        goto out;
    }
    hearth_model_tokenize(model, text, text_len, 1, 0, toks, n_tok);
    if (n_tok < 2 * n_ctx) {
        fprintf(stderr, "hearth perplexity: need at least %ld tokens (2 * n_ctx), the text has %lld\n", 2 * n_ctx,
                (long long)n_tok);
        goto out;
    }
    hearth_ctx_params cp;
    hearth_ctx_params_default(&cp);
    cp.n_ctx = (int32_t)n_ctx;
    cp.n_threads = (int32_t)n_threads;
    cp.n_batch = (int32_t)(n_batch ? n_batch : (n_ctx < 128 ? n_ctx : 128));
    cp.logits_all = 1;
    if (hearth_ctx_create(model, &cp, &ctx, err, sizeof err) != HEARTH_OK) {
        fprintf(stderr, "hearth perplexity: %s\n", err);
        goto out;
    }
    const int64_t n_vocab = hearth_model_n_vocab(model), nb = hearth_ctx_n_batch(ctx);
    const int32_t bos = hearth_model_add_bos(model);
    int64_t n_chunk = n_tok / n_ctx;
    if (max_chunks >= 0 && max_chunks < n_chunk) n_chunk = max_chunks;
    const int64_t first = n_ctx / 2;
    fprintf(stderr, "perplexity: %lld tokens, %lld chunks of %ld, batch %lld\n", (long long)n_tok,
            (long long)n_chunk, n_ctx, (long long)nb);
    double nll = 0.0, nll2 = 0.0, t0 = hearth_time_s();
    int64_t count = 0;
    int32_t *chunk = malloc((size_t)n_ctx * sizeof *chunk);
    hearth_batch_token *bt = malloc((size_t)nb * sizeof *bt);
    if (!chunk || !bt) {
        free(chunk);
        free(bt);
        goto out;
    }
    for (int64_t c = 0; c < n_chunk; c++) {
        memcpy(chunk, toks + c * n_ctx, (size_t)n_ctx * sizeof *chunk);
        if (bos >= 0) chunk[0] = bos;
        hearth_ctx_clear(ctx);
        for (int64_t b = 0; b < n_ctx; b += nb) {
            int32_t n = (int32_t)(n_ctx - b < nb ? n_ctx - b : nb);
            /* logits only for the scored positions: the output matrix (the largest of a
             * big-vocabulary model) is not applied to the others */
            for (int32_t j = 0; j < n; j++)
                bt[j] = (hearth_batch_token){ chunk[b + j], 0, (int32_t)(b + j), b + j >= first && b + j < n_ctx - 1 };
            const float *logits;
            int32_t n_lg = 0;
            if (hearth_decode_batch(ctx, bt, n, &logits, &n_lg, err, sizeof err) != HEARTH_OK) {
                fprintf(stderr, "hearth perplexity: %s\n", err);
                free(chunk);
                free(bt);
                goto out;
            }
            for (int64_t j = 0, row = 0; j < n; j++) {
                int64_t pos = b + j;
                if (pos < first || pos >= n_ctx - 1) continue;
                double v = nll_of(logits + row++ * n_vocab, n_vocab, toks[c * n_ctx + pos + 1]);
                nll += v;
                nll2 += v * v;
                count++;
            }
        }
        fprintf(stderr, "[%lld] %.4f\n", (long long)(c + 1), exp(nll / (double)count));
    }
    free(chunk);
    free(bt);
    double mean = nll / (double)count, var = nll2 / (double)count - mean * mean;
    double ppl = exp(mean);
    double errv = var > 0 && count > 1 ? sqrt(var / (double)(count - 1)) * ppl : 0.0;
    fprintf(stderr, "%.2f s\n", hearth_time_s() - t0);
    printf("PPL = %.4f +/- %.5f\n", ppl, errv);
    rc = 0;
out:
    free(toks);
    free(text);
    hearth_ctx_free(ctx);
    hearth_model_free(model);
    return rc;
}
