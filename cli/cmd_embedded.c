/*
 * cli/cmd_embedded.c - `sluice embedded status|start|stop`: manage the embedded
 * default catalog (a private PostgreSQL cluster under $SLUICE_HOME, see
 * runtime/pgembed.h). sl_catalog_open() starts it on its own when needed; this
 * command is for looking at it and for stopping it.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "runtime/alloc.h"
#include "runtime/catalog_json.h"
#include "runtime/pgembed.h"

#define CMD "embedded"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sluice embedded status|start|stop [--json]\n"
            "\n"
            "The embedded catalog is a private PostgreSQL cluster under $SLUICE_HOME\n"
            "(default ./.sluice): data in pg/data, a Unix socket in pg/sock (no TCP),\n"
            "server log in pg/log. sluice creates and starts it on first use when\n"
            "SLUICE_CATALOG is unset.\n"
            "\n"
            "  status   show whether it exists and runs, and where it lives\n"
            "  start    create it if needed and start it\n"
            "  stop     stop it (pg_ctl stop -m fast); the data stays\n"
            "\n"
            "Options:\n"
            "  --json      print the status as a JSON object\n"
            "  -h, --help  print this help\n"
            "\n"
            "Environment: SLUICE_HOME, SLUICE_PG_BINDIR (PostgreSQL server programs;\n"
            "default /usr/lib/postgresql/15/bin or `pg_config --bindir`).\n");
}

static int print_status(struct sl_pgembed *pe, enum sl_pgembed_state st, int json)
{
    const char *catalog = getenv("SLUICE_CATALOG");
    int overridden = catalog && *catalog;

    if (json) {
        json_t *o = json_pack("{ssssssssssssssss}", "state", sl_pgembed_state_name(st), "home",
                              sl_pgembed_peek_home(pe), "data_dir", sl_pgembed_peek_data_dir(pe),
                              "socket_dir", sl_pgembed_peek_sock_dir(pe), "log",
                              sl_pgembed_peek_log(pe), "conninfo", sl_pgembed_peek_conninfo(pe),
                              "note", sl_pgembed_peek_note(pe), "in_use",
                              overridden ? "no: SLUICE_CATALOG is set" : "yes");
        char *text = sl_catalog_json_dump(o, 1);
        json_decref(o);
        if (!text) {
            fprintf(stderr, "sluice %s: out of memory\n", CMD);
            return SL_EXIT_FAIL;
        }
        printf("%s\n", text);
        sl_free(text);
        return SL_EXIT_OK;
    }
    printf("state     %s\n", sl_pgembed_state_name(st));
    printf("home      %s\n", sl_pgembed_peek_home(pe));
    printf("data      %s\n", sl_pgembed_peek_data_dir(pe));
    printf("socket    %s\n", sl_pgembed_peek_sock_dir(pe));
    printf("log       %s\n", sl_pgembed_peek_log(pe));
    printf("conninfo  %s\n", sl_pgembed_peek_conninfo(pe));
    if (sl_pgembed_peek_note(pe)[0])
        printf("note      %s\n", sl_pgembed_peek_note(pe));
    if (overridden)
        printf("note      SLUICE_CATALOG is set, so sluice uses that catalog, not this one\n");
    return SL_EXIT_OK;
}

/* On a failed start or stop: the error, then the end of the server log. */
static int fail_with_log(struct sl_pgembed *pe, const struct sl_err *err)
{
    char tail[4096];
    int rc = cli_fail(CMD, err);

    sl_pgembed_log_tail(pe, 20, tail, sizeof tail);
    if (tail[0])
        fprintf(stderr, "---- last lines of %s ----\n%s\n----\n", sl_pgembed_peek_log(pe), tail);
    return rc;
}

int cmd_embedded(int argc, char **argv)
{
    static const struct option opts[] = {
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int json = cli_json;
    int opt;
    struct sl_err err = { 0 };
    struct sl_pgembed *pe = NULL;
    enum sl_pgembed_state st = SL_PGEMBED_NONE;
    int rc = SL_EXIT_OK;

    opterr = 0;
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case 'j': json = 1; break;
        case 'h': usage(stdout); return SL_EXIT_OK;
        default: return cli_usage_error(CMD, "unknown option \"%s\"", argv[optind - 1]);
        }
    }
    if (argc - optind != 1)
        return cli_usage_error(CMD, "expected one of status, start, stop");
    const char *sub = argv[optind];
    if (strcmp(sub, "status") != 0 && strcmp(sub, "start") != 0 && strcmp(sub, "stop") != 0)
        return cli_usage_error(CMD, "unknown subcommand \"%s\"", sub);

    pe = sl_pgembed_new(&err);
    if (!pe)
        return cli_fail(CMD, &err);
    if (strcmp(sub, "start") == 0) {
        if (sl_pgembed_start(pe, &err) != SL_OK) {
            rc = fail_with_log(pe, &err);
            goto done;
        }
        if (sl_pgembed_status(pe, &st, &err) != SL_OK) {
            rc = cli_fail(CMD, &err);
            goto done;
        }
        rc = print_status(pe, st, json);
    } else if (strcmp(sub, "stop") == 0) {
        int was_running = 0;
        if (sl_pgembed_stop(pe, &was_running, &err) != SL_OK) {
            rc = fail_with_log(pe, &err);
            goto done;
        }
        if (json)
            printf("{\n  \"stopped\": %s\n}\n", was_running ? "true" : "false");
        else
            printf("%s\n", was_running ? "embedded catalog stopped"
                                        : "embedded catalog was not running");
    } else {
        if (sl_pgembed_status(pe, &st, &err) != SL_OK) {
            rc = cli_fail(CMD, &err);
            goto done;
        }
        rc = print_status(pe, st, json);
    }
done:
    sl_pgembed_free(pe);
    return rc;
}
