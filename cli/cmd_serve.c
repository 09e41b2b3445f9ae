/*
 * cli/cmd_serve.c - `sluice serve`: the AWS Glue-compatible HTTP API over the
 * catalog, until SIGINT or SIGTERM. The server is scheduler/http.c; API keys
 * come from SLUICE_API_KEYS (scheduler/keys.h).
 */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "runtime/log.h"
#include "scheduler/http.h"
#include "scheduler/keys.h"

#define CMD "serve"

static void usage(FILE *f)
{
    fprintf(f, "usage: sluice serve [--listen HOST:PORT] [--auth sigv4|none]\n"
               "\n"
               "Serves the AWS Glue API (JSON 1.1, POST / with X-Amz-Target) over the\n"
               "catalog, so the AWS CLI and SDKs can use it with\n"
               "--endpoint-url http://HOST:PORT. Implemented: GetDatabases, GetDatabase,\n"
               "CreateDatabase, GetTables, GetTable, GetPartitions. Also GET /healthz and\n"
               "GET /metrics (Prometheus text).\n"
               "\n"
               "Options:\n"
               "  -l, --listen HOST:PORT  address to listen on (default " SL_HTTP_DEFAULT ";\n"
               "                          [::1]:PORT for IPv6)\n"
               "  -a, --auth MODE         sigv4 (default): every request must be signed with\n"
               "                          a key of SLUICE_API_KEYS=KEYID:SECRET[,...];\n"
               "                          none: accept unsigned requests (loopback only)\n"
               "  -h, --help              print this help\n"
               "\n"
               "The catalog is SLUICE_CATALOG (a libpq connection string or URI), or the\n"
               "embedded PostgreSQL under $SLUICE_HOME when it is unset. Stops cleanly on\n"
               "SIGINT or SIGTERM. Exit codes: 0 stopped, 1 failed, 2 usage or configuration.\n");
}

int cmd_serve(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"auth", required_argument, NULL, 'a'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *listen = SL_HTTP_DEFAULT;
    const char *auth = "sigv4";
    char host[SL_HTTP_HOST_MAX];
    struct sl_http_opts opts = {0};
    struct sl_err err = {0};
    struct sl_keys *keys = NULL;
    struct sl_http *h = NULL;
    sigset_t stop_set;
    int c, sig = 0, rc;

    optind = 1;
    while ((c = getopt_long(argc, argv, "l:a:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'l': listen = optarg; break;
        case 'a': auth = optarg; break;
        case 'h': usage(stdout); return SL_EXIT_OK;
        default: return cli_usage_error(CMD, "bad option");
        }
    }
    if (optind < argc)
        return cli_usage_error(CMD, "unexpected argument \"%s\"", argv[optind]);
    if (strcmp(auth, "sigv4") == 0)
        opts.auth_none = 0;
    else if (strcmp(auth, "none") == 0)
        opts.auth_none = 1;
    else
        return cli_usage_error(CMD, "--auth must be sigv4 or none, not \"%s\"", auth);
    if (sl_http_parse_listen(listen, host, &opts.port, &err) != SL_OK)
        return cli_fail(CMD, &err);
    opts.host = host;

    if (!opts.auth_none) {
        keys = sl_keys_new();
        if (!keys) {
            sl_err_set(&err, SL_ENOMEM, "out of memory");
            return cli_fail(CMD, &err);
        }
        if (sl_keys_load_env(keys, &err) != SL_OK) {
            rc = cli_fail(CMD, &err);
            goto done;
        }
        opts.keys = keys;
    }

    /* Block the stop signals before any thread starts, so every thread inherits
     * the mask and only sigwait() below receives them. */
    sigemptyset(&stop_set);
    sigaddset(&stop_set, SIGINT);
    sigaddset(&stop_set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_set, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (sl_http_start(&opts, &h, &err) != SL_OK) {
        rc = cli_fail(CMD, &err);
        goto done;
    }
    if (opts.auth_none)
        sl_log(SL_LOG_WARN, "[serve] --auth none: requests are not authenticated (loopback only)");
    sl_log(SL_LOG_INFO, "[serve] listening on %s%s%s:%u (auth %s, %zu key%s)",
           strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "",
           (unsigned)sl_http_port(h), auth, keys ? sl_keys_count(keys) : (size_t)0,
           keys && sl_keys_count(keys) == 1 ? "" : "s");
    sigwait(&stop_set, &sig);
    sl_log(SL_LOG_INFO, "[serve] %s received, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
    sl_http_stop(h);
    sl_log(SL_LOG_INFO, "[serve] stopped");
    rc = SL_EXIT_OK;
done:
    sl_keys_free(keys);
    return rc;
}
