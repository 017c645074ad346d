/* main.c — `hearth <subcommand> ...`: dispatch to one file per subcommand. */
#include "cli/cli.h"

#include "hearth.h"

#include <stdio.h>
#include <string.h>

typedef struct subcommand {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} subcommand;

static const subcommand subcommands[] = {
    { "info", cmd_info, "describe a GGUF model file: architecture, sizes, tensor types" },
    { "run", cmd_run, "generate text from a prompt (one shot)" },
    { "chat", cmd_chat, "interactive chat with a model, using its own chat template" },
    { "perplexity", cmd_perplexity, "perplexity of a model on a text file, as llama-perplexity" },
    { "bench", cmd_bench, "prompt and generation speed in tokens/s, as llama-bench" },
    { "fit", cmd_fit, "will a model fit in memory, and how fast will it run (from its header)" },
    { "pull", cmd_pull, "download a model from a Hugging Face hub into the store, verified" },
    { "list", cmd_list, "models in the store" },
    { "rm", cmd_rm, "remove a model from the store" },
    { "tokenize", cmd_tokenize, "the token ids of a text with a model's vocabulary" },
    { "detokenize", cmd_detokenize, "the text of token ids with a model's vocabulary" },
    { "template", cmd_template, "render a chat template (a file or a model's own) over a JSON context" },
    { "serve", cmd_serve, "OpenAI- and Ollama-compatible HTTP server (streaming, many users, metrics)" },
};

static void usage(FILE *f) {
    fprintf(f, "hearth %s — run open-weight language models on your own machine\n\n", hearth_version());
    fprintf(f, "usage: hearth <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++)
        fprintf(f, "  %-12s %s\n", subcommands[i].name, subcommands[i].summary);
    fprintf(f, "\n`hearth <command> --help` shows a command's options.\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        printf("hearth %s\n", hearth_version());
        return 0;
    }
    for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++)
        if (!strcmp(argv[1], subcommands[i].name)) return subcommands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "hearth: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
