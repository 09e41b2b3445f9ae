/*
 * cli/cli.h - the subcommands of the sluice executable and their shared helpers.
 * Each subcommand is int cmd_<name>(int argc, char **argv): argv[0] is the
 * subcommand name; it returns the exit code (0 ok, 1 the work failed, 2 usage
 * or configuration error). --help prints usage on stdout and returns 0; errors
 * go to stderr as "sluice <cmd>: message".
 */
#ifndef SL_CLI_H
#define SL_CLI_H

#include <stddef.h>

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

/* ---- Text tables (cli/grid.c) ---- */

/* A text table filled row by row, n_cols cells per row: struct cli_grid g =
 * {.n_cols = 3}; then cli_grid_add() each cell, cli_grid_print(), and always
 * cli_grid_free(). */
struct cli_grid {
    size_t n_cols;
    size_t n_cells;
    char **cells; /* owned: each a copy with control characters escaped */
    int oom;      /* a cell could not be copied: later adds are ignored */
};

/* Appends a copy of cell ("-" for NULL or empty), with control characters
 * written as C escapes (\n, \t, \x01) so a value stays on its row. On OOM
 * sets g->oom. */
void cli_grid_add(struct cli_grid *g, const char *cell);
/* Appends the cell printf(fmt, v), fmt one integer conversion ("%lld"). */
void cli_grid_addf(struct cli_grid *g, const char *fmt, long long v);
/* Prints the table on stdout, each row after indent, each column but the last
 * padded to its widest cell plus two spaces. When g->oom prints "sluice <cmd>:
 * out of memory" on stderr instead and returns SL_EXIT_FAIL; else SL_EXIT_OK. */
int cli_grid_print(const struct cli_grid *g, const char *cmd, const char *indent);
/* Frees the cells (not g itself). */
void cli_grid_free(struct cli_grid *g);

#endif
