/*
 * cli/main.c - main() and subcommand dispatch for the sluice executable.
 * Global options come before the subcommand; everything else is the
 * subcommand's business (cli/cmd_*.c).
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "runtime/log.h"

#ifndef SL_VERSION
#define SL_VERSION "0.0.0"
#endif
#ifndef SL_GIT_REV
#define SL_GIT_REV "unknown"
#endif

int cli_json;

struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
};

static const struct command commands[] = {
    { "crawl", cmd_crawl, "classify and catalog the data under S3 prefixes or local folders" },
    { "run", cmd_run, "run a job script (SCRIPT.lua) and publish its outputs" },
    { "load", cmd_load, "load CSV/JSON files into a PostgreSQL table, all or nothing" },
    { "catalog", cmd_catalog, "show databases, tables and partitions of the catalog" },
    { "serve", cmd_serve, "serve the AWS Glue API, execute queued runs, fire triggers" },
    { "jobs", cmd_jobs, "list the jobs and their latest runs" },
    { "runs", cmd_runs, "list the runs of a job, newest first" },
    { "start", cmd_start, "queue a run of a job (a sluice serve executes it)" },
    { "stop", cmd_stop, "stop a queued or running run" },
    { "logs", cmd_logs, "print the captured log of a run" },
    { "ls", cmd_ls, "list objects under a local path or s3:// prefix" },
    { "cp", cmd_cp, "copy objects between local paths and S3" },
    { "embedded", cmd_embedded, "start, stop or show the embedded PostgreSQL catalog" },
};

int cli_fail(const char *cmd, const struct sl_err *err)
{
    char clean[sizeof err->msg];
    fprintf(stderr, "sluice %s: %s\n", cmd, sl_redact(err->msg, clean, sizeof clean));
    return sl_err_exit_code(err);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "sluice %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'sluice %s --help'.\n", cmd);
    return SL_EXIT_USAGE;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sluice [--json] [--log-level LEVEL] COMMAND [ARGS...]\n"
            "\n"
            "sluice crawls object storage into a PostgreSQL catalog and runs ETL jobs.\n"
            "\n"
            "Commands:\n");
    for (size_t i = 0; i < SL_ARRAY_LEN(commands); i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f,
            "\n"
            "Options:\n"
            "  --json             log JSON lines and print JSON results\n"
            "  --log-level LEVEL  error, warn, info (default), debug or trace\n"
            "  --version          print the version and exit\n"
            "  --help             print this help and exit\n"
            "\n"
            "Run 'sluice COMMAND --help' for a command's options.\n"
            "Configuration: SLUICE_CATALOG (libpq connection string; unset = embedded\n"
            "catalog under $SLUICE_HOME, default ./.sluice), AWS_* variables and ~/.aws\n"
            "files for S3. Exit codes: 0 ok, 1 the work failed, 2 usage or configuration.\n");
}

int main(int argc, char **argv)
{
    int log_level = -1;
    int i = 1;

    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return SL_EXIT_OK;
        } else if (strcmp(a, "--version") == 0 || strcmp(a, "-V") == 0) {
            printf("sluice %s (%s)\n", SL_VERSION, SL_GIT_REV);
            return SL_EXIT_OK;
        } else if (strcmp(a, "--json") == 0) {
            cli_json = 1;
        } else if (strcmp(a, "--log-level") == 0 && i + 1 < argc) {
            log_level = sl_log_level_parse(argv[++i]);
            if (log_level < 0)
                return cli_usage_error("", "unknown log level \"%s\"", argv[i]);
        } else {
            fprintf(stderr, "sluice: unknown option \"%s\"\nTry 'sluice --help'.\n", a);
            return SL_EXIT_USAGE;
        }
    }
    /* SLUICE_LOG_FORMAT=text|json fixes the log format where stderr is not a
     * terminal: the dispatcher of `sluice serve` asks its children for text */
    const char *log_fmt = getenv("SLUICE_LOG_FORMAT");
    enum sl_log_format fmt = SL_LOG_AUTO;
    if (log_fmt && strcmp(log_fmt, "text") == 0)
        fmt = SL_LOG_TEXT;
    else if (log_fmt && strcmp(log_fmt, "json") == 0)
        fmt = SL_LOG_JSON;
    sl_log_init(cli_json ? SL_LOG_JSON : fmt, log_level);
    if (i >= argc) {
        usage(stderr);
        return SL_EXIT_USAGE;
    }
    if (strcmp(argv[i], "help") == 0) {
        if (i + 1 >= argc) {
            usage(stdout);
            return SL_EXIT_OK;
        }
        /* "sluice help cp" == "sluice cp --help" */
        char *hargv[] = { argv[i + 1], "--help", NULL };
        for (size_t c = 0; c < SL_ARRAY_LEN(commands); c++) {
            if (strcmp(commands[c].name, argv[i + 1]) == 0)
                return commands[c].fn(2, hargv);
        }
    }
    for (size_t c = 0; c < SL_ARRAY_LEN(commands); c++) {
        if (strcmp(commands[c].name, argv[i]) == 0) {
            optind = 1;
            return commands[c].fn(argc - i, argv + i);
        }
    }
    fprintf(stderr, "sluice: unknown command \"%s\"\nTry 'sluice --help'.\n", argv[i]);
    return SL_EXIT_USAGE;
}
