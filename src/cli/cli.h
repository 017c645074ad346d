/* cli.h — the hearth program's subcommands.  Each cmd_* gets argv from the subcommand
 * name on (argv[0] is e.g. "info") and returns the process exit status. */
#ifndef HEARTH_CLI_H
#define HEARTH_CLI_H

int cmd_info(int argc, char **argv);
int cmd_fit(int argc, char **argv);  /* cmd_fit.c */
int cmd_pull(int argc, char **argv); /* cmd_pull.c */
int cmd_list(int argc, char **argv); /* cmd_list.c */
int cmd_rm(int argc, char **argv);   /* cmd_list.c */

#endif /* HEARTH_CLI_H */
int cmd_tokenize(int argc, char **argv);   /* cmd_tokenize.c */
int cmd_detokenize(int argc, char **argv); /* cmd_tokenize.c */
