/*
 * cli/cli.h - the subcommands of the sluice executable and their shared helpers.
 * Each subcommand is int cmd_<name>(int argc, char **argv): argv[0] is the
 * subcommand name; it returns the exit code (0 ok, 1 the work failed, 2 usage
 * or configuration error). --help prints usage on stdout and returns 0; errors
 * go to stderr as "sluice <cmd>: message".
 */
#ifndef SL_CLI_H
#define SL_CLI_H

#include "runtime/err.h"

#define SL_EXIT_OK 0
#define SL_EXIT_FAIL 1
#define SL_EXIT_USAGE 2

int cmd_catalog(int argc, char **argv);
int cmd_embedded(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_cp(int argc, char **argv);
int cmd_crawl(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_load(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_jobs(int argc, char **argv);
int cmd_runs(int argc, char **argv);
int cmd_start(int argc, char **argv);
int cmd_stop(int argc, char **argv);
int cmd_logs(int argc, char **argv);

/* Set by the global --json flag (before the subcommand); subcommands also take
 * their own --json. */
extern int cli_json;

/* Prints "sluice <cmd>: <message>" on stderr and returns the exit code for err. */
int cli_fail(const char *cmd, const struct sl_err *err);
/* Prints "sluice <cmd>: <printf message>" and a hint to --help; returns 2. */
int cli_usage_error(const char *cmd, const char *fmt, ...) SL_PRINTF(2, 3);

#endif
