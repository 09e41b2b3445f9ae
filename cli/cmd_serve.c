/*
 * cli/cmd_serve.c - `sluice serve`: the AWS Glue-compatible HTTP API over the
 * catalog, until SIGINT or SIGTERM. The server is scheduler/http.c; API keys
 * come from SLUICE_API_KEYS (scheduler/keys.h). With --jobs DIR, every Lua file
 * in DIR is registered as a Glue job from its job{} header (runtime/job_header.h)
 * before the server starts; files are read once (no reload on change yet).
 */
#include <errno.h>
#include <getopt.h>
#include <glob.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "runtime/alloc.h"
#include "runtime/catalog.h"
#include "runtime/job_header.h"
#include "runtime/log.h"
#include "scheduler/http.h"
#include "scheduler/keys.h"

#define CMD "serve"
#define JOB_SCRIPT_MAX ((size_t)16 << 20) /* bytes: a job script, as `sluice run` allows */

/* ---- Jobs from a folder (--jobs) ---- */

/* Reads path into *out (owned: sl_free, NUL-terminated). */
static int read_file(const char *path, char **out, size_t *len, struct sl_err *err)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t got = 0, cap = 0;

    *out = NULL;
    if (!f)
        return sl_err_sys(err, SL_ECONFIG, errno, "cannot read \"%s\"", path);
    for (;;) {
        if (got + 4096 + 1 > cap) {
            size_t ncap = cap ? cap * 2 : 16384;
            char *nb = ncap <= JOB_SCRIPT_MAX + 4096 ? sl_realloc(buf, ncap) : NULL;
            if (!nb) {
                sl_err_set(err, ncap > JOB_SCRIPT_MAX ? SL_ECONFIG : SL_ENOMEM,
                           "cannot read \"%s\": larger than %zu MiB or out of memory", path,
                           JOB_SCRIPT_MAX >> 20);
                goto fail;
            }
            buf = nb;
            cap = ncap;
        }
        size_t n = fread(buf + got, 1, cap - got - 1, f);
        got += n;
        if (n == 0) {
            if (ferror(f)) {
                sl_err_set(err, SL_ECONFIG, "cannot read \"%s\": read error", path);
                goto fail;
            }
            break;
        }
    }
    fclose(f);
    buf[got] = '\0';
    *out = buf;
    *len = got;
    return SL_OK;
fail:
    fclose(f);
    sl_free(buf);
    return err->code;
}

/* j (zeroed by the caller; sl_catalog_job_cleanup afterwards) from header h
 * of the script at abs: args -> DefaultArguments "--key", max_concurrency ->
 * MaxConcurrentRuns, timeout -> Timeout minutes (rounded up), retries ->
 * MaxRetries, ScriptLocation = abs, source "file:<abs>". */
static int job_from_header(const struct sl_job_header *h, const char *abs,
                           struct sl_catalog_job *j, struct sl_err *err)
{
    json_t *args = json_object();
    json_t *cmd = json_pack("{s:s,s:s}", "Name", "glueetl", "ScriptLocation", abs);
    char key[SL_JOB_NAME_MAX + 8];
    char *text;
    int bad = !args || !cmd;

    for (size_t i = 0; !bad && i < h->n_args; i++) {
        snprintf(key, sizeof key, "--%s", h->args[i].key);
        bad |= json_object_set_new(args, key, json_string(h->args[i].value)) != 0;
    }
    if (!bad) {
        text = json_dumps(cmd, JSON_COMPACT);
        j->command = text ? sl_strdup(text) : NULL;
        free(text); /* jansson's allocator */
        text = json_dumps(args, JSON_COMPACT);
        j->default_arguments = text ? sl_strdup(text) : NULL;
        free(text);
    }
    json_decref(args);
    json_decref(cmd);
    size_t src_len = strlen(abs) + 6;
    j->source = sl_alloc(src_len);
    if (j->source)
        snprintf(j->source, src_len, "file:%s", abs);
    j->name = sl_strdup(h->name);
    j->schedule = h->schedule ? sl_strdup(h->schedule) : NULL;
    j->max_concurrent_runs = h->max_concurrency;
    j->max_retries = h->retries;
    j->timeout_minutes = h->timeout_ms ? (int)((h->timeout_ms + 59999) / 60000) : 0;
    if (bad || !j->command || !j->default_arguments || !j->source || !j->name ||
        (h->schedule && !j->schedule))
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    return SL_OK;
}

/* Registers one script; SL_OK when registered or knowingly skipped. A job of
 * the same name defined through the API (source "api") is kept. */
static int register_job(struct sl_catalog *c, const char *path, struct sl_err *err)
{
    char abs[PATH_MAX];
    char *src = NULL;
    size_t len = 0;
    struct sl_job_header h = {0};
    struct sl_catalog_job j = {0};
    struct sl_catalog_job *old = NULL;
    int rc;

    if (!realpath(path, abs)) {
        rc = sl_err_sys(err, SL_ECONFIG, errno, "cannot resolve \"%s\"", path);
        goto done;
    }
    if ((rc = read_file(path, &src, &len, err)) != SL_OK ||
        (rc = sl_job_header_read(path, src, len, &h, err)) != SL_OK ||
        (rc = job_from_header(&h, abs, &j, err)) != SL_OK)
        goto done;
    rc = sl_catalog_job_put(c, &j, err);
    if (rc == SL_EEXIST) {
        if ((rc = sl_catalog_job_get(c, j.name, &old, err)) != SL_OK)
            goto done;
        if (old->source && strcmp(old->source, "api") == 0) {
            sl_log(SL_LOG_WARN, "[serve] %s: job \"%s\" is defined through the API; kept, file "
                   "not registered", path, j.name);
            goto done;
        }
        rc = sl_catalog_job_update(c, &j, err);
    }
    if (rc == SL_OK)
        sl_log(SL_LOG_INFO, "[serve] job \"%s\" registered from %s", j.name, abs);
done:
    sl_catalog_job_free(old);
    sl_catalog_job_cleanup(&j);
    sl_job_header_cleanup(&h);
    sl_free(src);
    return rc;
}

/* Registers every .lua file of dir (in name order). A file that fails is logged
 * with its position and skipped; only a missing folder or an unreachable
 * catalog fail the command. */
static int register_jobs(const char *dir, struct sl_err *err)
{
    char pattern[PATH_MAX];
    glob_t g = {0};
    size_t n_ok = 0, n_bad = 0;

    if (snprintf(pattern, sizeof pattern, "%s/*.lua", dir) >= (int)sizeof pattern)
        return sl_err_set(err, SL_ECONFIG, "--jobs \"%.64s...\": path too long", dir);
    int grc = glob(pattern, GLOB_ERR, NULL, &g);
    if (grc != 0 && grc != GLOB_NOMATCH) {
        globfree(&g);
        return sl_err_set(err, SL_ECONFIG, "--jobs \"%s\": cannot read the folder", dir);
    }
    if (grc == GLOB_NOMATCH) {
        globfree(&g);
        if (access(dir, R_OK | X_OK) != 0)
            return sl_err_sys(err, SL_ECONFIG, errno, "--jobs \"%s\"", dir);
        sl_log(SL_LOG_WARN, "[serve] --jobs %s: no *.lua files", dir);
        return SL_OK;
    }
    struct sl_catalog *c = sl_catalog_open(err);
    if (!c) {
        globfree(&g);
        return sl_err_prefix(err, "--jobs: open catalog");
    }
    for (size_t i = 0; i < g.gl_pathc; i++) {
        struct sl_err ferr = {0};
        if (register_job(c, g.gl_pathv[i], &ferr) == SL_OK) {
            n_ok++;
            continue;
        }
        n_bad++;
        /* header errors already start with "path:line:" */
        if (strncmp(ferr.msg, g.gl_pathv[i], strlen(g.gl_pathv[i])) == 0)
            sl_log(SL_LOG_ERROR, "[serve] job file skipped: %s", ferr.msg);
        else
            sl_log(SL_LOG_ERROR, "[serve] job file skipped: %s: %s", g.gl_pathv[i], ferr.msg);
    }
    sl_log(SL_LOG_INFO, "[serve] --jobs %s: %zu job%s registered, %zu skipped", dir, n_ok,
           n_ok == 1 ? "" : "s", n_bad);
    sl_catalog_free(c);
    globfree(&g);
    return SL_OK;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: sluice serve [--listen HOST:PORT] [--auth sigv4|none] [--jobs DIR]\n"
               "\n"
               "Serves the AWS Glue API (JSON 1.1, POST / with X-Amz-Target) over the\n"
               "catalog, so the AWS CLI and SDKs can use it with\n"
               "--endpoint-url http://HOST:PORT. Implemented: GetDatabases, GetDatabase,\n"
               "CreateDatabase, GetTables, GetTable, GetPartitions, CreateJob, GetJob,\n"
               "GetJobs, UpdateJob, DeleteJob, GetJobBookmark, ResetJobBookmark. Also\n"
               "GET /healthz and\n"
               "GET /metrics (Prometheus text).\n"
               "\n"
               "Options:\n"
               "  -l, --listen HOST:PORT  address to listen on (default " SL_HTTP_DEFAULT ";\n"
               "                          [::1]:PORT for IPv6)\n"
               "  -a, --auth MODE         sigv4 (default): every request must be signed with\n"
               "                          a key of SLUICE_API_KEYS=KEYID:SECRET[,...];\n"
               "                          none: accept unsigned requests (loopback only)\n"
               "  -j, --jobs DIR          register every DIR/*.lua as a job from its job{}\n"
               "                          header at startup (a file with a bad header is\n"
               "                          logged and skipped; files are not re-read yet)\n"
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
        {"jobs", required_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *listen = SL_HTTP_DEFAULT;
    const char *auth = "sigv4";
    const char *jobs_dir = NULL;
    char host[SL_HTTP_HOST_MAX];
    struct sl_http_opts opts = {0};
    struct sl_err err = {0};
    struct sl_keys *keys = NULL;
    struct sl_http *h = NULL;
    sigset_t stop_set;
    int c, sig = 0, rc;

    optind = 1;
    while ((c = getopt_long(argc, argv, "l:a:j:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'l': listen = optarg; break;
        case 'a': auth = optarg; break;
        case 'j': jobs_dir = optarg; break;
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

    if (jobs_dir && register_jobs(jobs_dir, &err) != SL_OK) {
        rc = cli_fail(CMD, &err);
        goto done;
    }
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
