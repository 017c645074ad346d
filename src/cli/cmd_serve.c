/* cmd_serve.c — `hearth serve -m MODEL ...`: the OpenAI- and Ollama-compatible HTTP server
 * (src/server/).  Binds 127.0.0.1 unless told otherwise; runs until SIGINT/SIGTERM. */
#include "cli/cli.h"

#include "hearth.h"
#include "server/server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void serve_usage(FILE *f) {
    fprintf(f,
            "usage: hearth serve -m MODEL [options]\n"
            "  -m, --model PATH|NAME   GGUF model file, or a name in the model store\n"
            "      --host ADDR         address to bind (default 127.0.0.1: this machine only)\n"
            "      --port N            TCP port (default 8080; 0 = any free port)\n"
            "  -np, --parallel N       slots: requests generated at once (default 4)\n"
            "      --queue N           requests that may wait for a slot (default 64); beyond: 503\n"
            "  -c, --ctx-size N        context length per slot (default min(training context, 4096))\n"
            "  -t, --threads N         threads per forward pass (default: physical cores)\n"
            "      --api-key KEY       require 'Authorization: Bearer KEY' (GET /health and / stay open)\n"
            "      --api-key-file F    read the key from the first line of a file\n"
            "      --cors ORIGIN       allow browser requests from ORIGIN ('*' for any)\n"
            "      --alias NAME        the model name clients see (default: file name without .gguf)\n"
            "      --max-body BYTES    request body limit (default 8388608); larger: 413\n"
            "      --log-prompts       include prompts in the access log (off: not logged)\n"
            "endpoints: /v1/chat/completions /v1/completions /v1/models /v1/embeddings\n"
            "           /api/chat /api/generate /api/tags /api/show /api/ps /api/version /api/embed\n"
            "           /health /metrics /tokenize /detokenize, and a chat page at /\n");
}

int cmd_serve(int argc, char **argv) {
    server_config cfg;
    server_config_default(&cfg);
    const char *model = NULL, *key_file = NULL;
    char *key_buf = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        long n;
#define NEED_ARG                                                         \
    do {                                                                 \
        if (!v) {                                                        \
            fprintf(stderr, "hearth serve: %s needs a value\n", a);      \
            return 2;                                                    \
        }                                                                \
        i++;                                                             \
    } while (0)
#define NUM_ARG(lo, hi, dst)                                                      \
    do {                                                                          \
        NEED_ARG;                                                                 \
        if (!cli_parse_long(v, lo, hi, &n)) {                                     \
            fprintf(stderr, "hearth serve: bad value for %s: '%s'\n", a, v);      \
            return 2;                                                             \
        }                                                                         \
        dst = (int)n;                                                             \
    } while (0)
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            serve_usage(stdout);
            return 0;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            NEED_ARG;
            model = v;
        } else if (!strcmp(a, "--host")) {
            NEED_ARG;
            cfg.host = v;
        } else if (!strcmp(a, "--port")) {
            NUM_ARG(0, 65535, cfg.port);
        } else if (!strcmp(a, "-np") || !strcmp(a, "--parallel")) {
            NUM_ARG(1, 256, cfg.parallel);
        } else if (!strcmp(a, "--queue")) {
            NUM_ARG(0, 100000, cfg.queue);
        } else if (!strcmp(a, "-c") || !strcmp(a, "--ctx-size")) {
            NUM_ARG(0, 1 << 24, cfg.n_ctx);
        } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            NUM_ARG(0, 1024, cfg.n_threads);
        } else if (!strcmp(a, "--api-key")) {
            NEED_ARG;
            cfg.api_key = v;
        } else if (!strcmp(a, "--api-key-file")) {
            NEED_ARG;
            key_file = v;
        } else if (!strcmp(a, "--cors")) {
            NEED_ARG;
            cfg.cors = v;
        } else if (!strcmp(a, "--alias")) {
            NEED_ARG;
            cfg.alias = v;
        } else if (!strcmp(a, "--max-body")) {
            int mb = 0;
            NUM_ARG(1, 1 << 30, mb);
            cfg.max_body = (size_t)mb;
        } else if (!strcmp(a, "--log-prompts")) {
            cfg.log_prompts = true;
        } else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
            hearth_log_set_level(HEARTH_LOG_DEBUG);
        } else {
            fprintf(stderr, "hearth serve: unknown option '%s'\n", a);
            serve_usage(stderr);
            return 2;
        }
#undef NUM_ARG
#undef NEED_ARG
    }
    if (!model) {
        fprintf(stderr, "hearth serve: -m MODEL is required\n");
        serve_usage(stderr);
        return 2;
    }
    if (key_file) {
        size_t len = 0;
        key_buf = cli_read_file(key_file, &len);
        if (!key_buf) {
            fprintf(stderr, "hearth serve: cannot read the API key file '%s'\n", key_file);
            return 1;
        }
        key_buf[strcspn(key_buf, "\r\n")] = 0;
        if (!*key_buf) {
            fprintf(stderr, "hearth serve: the API key file '%s' is empty\n", key_file);
            free(key_buf);
            return 1;
        }
        cfg.api_key = key_buf;
    }
    char path[4096], err[512];
    if (!cli_model_path("serve", model, path, sizeof path)) {
        free(key_buf);
        return 1;
    }
    cfg.model_path = path;
    int rc = server_run(&cfg, err, sizeof err);
    if (rc) fprintf(stderr, "hearth serve: %s\n", err);
    free(key_buf);
    return rc;
}
