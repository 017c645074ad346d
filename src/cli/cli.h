/* cli.h — the hearth program's subcommands.  Each cmd_* gets argv from the subcommand
 * name on (argv[0] is e.g. "info") and returns the process exit status. */
#ifndef HEARTH_CLI_H
#define HEARTH_CLI_H

int cmd_info(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_perplexity(int argc, char **argv);
int cmd_bench(int argc, char **argv);

/* Shared option helpers (cmd_run.c): whole-number and float parsing, false on junk; a whole
 * file read into a NUL-terminated malloc'd buffer (NULL on failure, errno set). */
#include <stdbool.h>
#include <stddef.h>
bool  cli_parse_long(const char *s, long lo, long hi, long *out);
bool  cli_parse_float(const char *s, float *out);
char *cli_read_file(const char *path, size_t *len);
/* The sampling options run and chat share (--temp --top-k --top-p --min-p --repeat-penalty
 * --repeat-last-n --presence-penalty --frequency-penalty --seed): 0 when `opt` is not one of
 * them, 1 when `val` was parsed into sp, -1 when `val` is missing or invalid. */
struct hearth_sampler_params;
int   cli_parse_sampling(const char *opt, const char *val, struct hearth_sampler_params *sp);
/* The file a -m argument names (cmd_list.c): a path as is, or a model-store name
 * (hearth_resolve_model) written into out.  On failure prints "hearth CMD: why" on stderr
 * (a missing file: the system's reason plus that the store has no such name) and returns false. */
bool  cli_model_path(const char *cmd, const char *arg, char *out, size_t size);
int cmd_fit(int argc, char **argv);  /* cmd_fit.c */
int cmd_pull(int argc, char **argv); /* cmd_pull.c */
int cmd_list(int argc, char **argv); /* cmd_list.c */
int cmd_rm(int argc, char **argv);   /* cmd_list.c */
int cmd_serve(int argc, char **argv); /* cmd_serve.c */
int cmd_tokenize(int argc, char **argv);   /* cmd_tokenize.c */
int cmd_detokenize(int argc, char **argv); /* cmd_tokenize.c */
int cmd_template(int argc, char **argv);   /* cmd_template.c */
int cmd_chat(int argc, char **argv);       /* cmd_chat.c */

#endif /* HEARTH_CLI_H */
