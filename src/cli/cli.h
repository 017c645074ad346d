/* cli.h — the hearth program's subcommands.  Each cmd_* gets argv from the subcommand
 * name on (argv[0] is e.g. "info") and returns the process exit status. */
#ifndef HEARTH_CLI_H
#define HEARTH_CLI_H

int cmd_info(int argc, char **argv);

#endif /* HEARTH_CLI_H */
