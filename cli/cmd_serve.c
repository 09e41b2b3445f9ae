/*
 * cli/cmd_serve.c - `sluice serve`: the AWS Glue-compatible HTTP API over the
 * catalog (scheduler/http.c), the run dispatcher (scheduler/dispatch.c) and the
 * schedule thread (scheduler/sched.c), until SIGINT or SIGTERM. Settings come
 * from the command line, then --config FILE ("key = value" lines), then
 * defaults; API keys from SLUICE_API_KEYS and the config's api_keys. With
 * --jobs DIR, every Lua file in DIR is registered as a Glue job from its job{}
 * header (runtime/job_header.h) before the server starts, and a watcher thread
 * re-registers a file when it changes and deletes the job of a removed file.
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
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "runtime/alloc.h"
#include "runtime/catalog.h"
#include "runtime/job_header.h"
#include "runtime/log.h"
#include "scheduler/cron.h"
#include "scheduler/dispatch.h"
#include "scheduler/http.h"
#include "scheduler/sched.h"
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
    if (h.schedule) { /* a schedule the scheduler could not use is refused here */
        struct sl_cron *cron = NULL;
        struct sl_err cerr = {0};
        if (sl_cron_parse(h.schedule, &cron, &cerr) != SL_OK) {
            rc = sl_err_set(err, SL_ECONFIG, "%s: job{} schedule \"%s\": %s", path, h.schedule,
                            cerr.msg);
            goto done;
        }
        sl_cron_free(cron);
    }
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

/* ---- Watching --jobs for changes ---- */

#define WATCH_MS 2000 /* how often the folder is looked at */

struct watched {
    char *path;  /* as globbed */
    char *abs;   /* resolved when first seen */
    struct timespec mtime;
    off_t size;
    int seen;    /* in the latest listing */
};

struct watcher {
    char *dir;
    const char *catalog; /* borrowed */
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int stop;            /* guarded by lock */
    struct watched *files;
    size_t n_files;
};

static struct watched *watched_find(struct watcher *w, const char *path)
{
    for (size_t i = 0; i < w->n_files; i++)
        if (strcmp(w->files[i].path, path) == 0)
            return &w->files[i];
    return NULL;
}

/* Deletes the job registered from file abs (source "file:<abs>"), if any. */
static void forget_file_job(struct sl_catalog *c, const char *abs)
{
    struct sl_catalog_job *jobs = NULL;
    size_t n = 0;
    struct sl_err err = {0};

    if (sl_catalog_job_list(c, NULL, 0, &jobs, &n, &err) != SL_OK) {
        sl_log(SL_LOG_ERROR, "[serve] jobs: %s", err.msg);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const char *src = jobs[i].source;
        if (src && strncmp(src, "file:", 5) == 0 && strcmp(src + 5, abs) == 0) {
            if (sl_catalog_job_delete(c, jobs[i].name, NULL, &err) == SL_OK)
                sl_log(SL_LOG_INFO, "[serve] %s removed: job \"%s\" deleted", abs, jobs[i].name);
            else
                sl_log(SL_LOG_ERROR, "[serve] %s removed: %s", abs, err.msg);
        }
    }
    sl_catalog_job_list_free(jobs, n);
}

/* One look at the folder: (re)registers new and changed files, forgets
 * removed ones. register_now = 0 only records the state (startup). */
static void watch_once(struct watcher *w, struct sl_catalog *c, int register_now)
{
    char pattern[PATH_MAX];
    glob_t g = {0};

    snprintf(pattern, sizeof pattern, "%s/*.lua", w->dir);
    int grc = glob(pattern, 0, NULL, &g);
    for (size_t i = 0; i < w->n_files; i++)
        w->files[i].seen = 0;
    for (size_t i = 0; grc == 0 && i < g.gl_pathc; i++) {
        struct stat st;
        const char *path = g.gl_pathv[i];
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        struct watched *f = watched_find(w, path);
        if (!f) {
            struct watched *nf = sl_realloc(w->files, (w->n_files + 1) * sizeof *nf);
            char abs[PATH_MAX];
            if (!nf)
                break;
            w->files = nf;
            f = &w->files[w->n_files];
            memset(f, 0, sizeof *f);
            f->path = sl_strdup(path);
            f->abs = sl_strdup(realpath(path, abs) ? abs : path);
            if (!f->path || !f->abs) {
                sl_free(f->path);
                sl_free(f->abs);
                break;
            }
            w->n_files++;
        } else if (f->mtime.tv_sec == st.st_mtim.tv_sec && f->mtime.tv_nsec == st.st_mtim.tv_nsec &&
                   f->size == st.st_size) {
            f->seen = 1;
            continue;
        }
        f->seen = 1;
        f->mtime = st.st_mtim;
        f->size = st.st_size;
        if (!register_now)
            continue;
        struct sl_err err = {0};
        if (register_job(c, path, &err) != SL_OK) {
            if (strncmp(err.msg, path, strlen(path)) == 0)
                sl_log(SL_LOG_ERROR, "[serve] job file changed but not registered: %s", err.msg);
            else
                sl_log(SL_LOG_ERROR, "[serve] job file changed but not registered: %s: %s", path,
                       err.msg);
        }
    }
    globfree(&g);
    for (size_t i = 0; i < w->n_files;) {
        if (w->files[i].seen) {
            i++;
            continue;
        }
        if (register_now)
            forget_file_job(c, w->files[i].abs);
        sl_free(w->files[i].path);
        sl_free(w->files[i].abs);
        w->files[i] = w->files[--w->n_files];
    }
}

static void *watch_main(void *arg)
{
    struct watcher *w = arg;
    struct sl_catalog *c = NULL;
    struct sl_err err = {0};

    pthread_mutex_lock(&w->lock);
    while (!w->stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += WATCH_MS / 1000;
        pthread_cond_timedwait(&w->cond, &w->lock, &until);
        if (w->stop)
            break;
        pthread_mutex_unlock(&w->lock);
        if (c && PQstatus(sl_catalog_peek_conn(c)) != CONNECTION_OK) {
            sl_catalog_free(c);
            c = NULL;
        }
        if (!c)
            c = w->catalog ? sl_catalog_open_conninfo(w->catalog, &err) : sl_catalog_open(&err);
        if (c)
            watch_once(w, c, 1);
        else
            sl_log(SL_LOG_ERROR, "[serve] --jobs watcher: %s", err.msg);
        pthread_mutex_lock(&w->lock);
    }
    pthread_mutex_unlock(&w->lock);
    sl_catalog_free(c);
    return NULL;
}

static void watcher_free(struct watcher *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n_files; i++) {
        sl_free(w->files[i].path);
        sl_free(w->files[i].abs);
    }
    sl_free(w->files);
    sl_free(w->dir);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->cond);
    sl_free(w);
}

static struct watcher *watcher_start(const char *dir, const char *catalog)
{
    struct watcher *w = sl_calloc(1, sizeof *w);

    if (!w)
        return NULL;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    w->catalog = catalog;
    if (!(w->dir = sl_strdup(dir))) {
        watcher_free(w);
        return NULL;
    }
    watch_once(w, NULL, 0); /* what startup registration saw */
    if (pthread_create(&w->thread, NULL, watch_main, w) != 0) {
        watcher_free(w);
        return NULL;
    }
    return w;
}

static void watcher_stop(struct watcher *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->stop = 1;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    watcher_free(w);
}

/* ---- Settings ---- */

struct settings {
    const char *listen, *auth, *jobs, *timezone, *catch_up, *work_dir;
    long long max_runs, lease_s, grace_s, retry_delay_s, log_cap_kib, minute_s, max_workers;
    int no_dispatch;
    char *api_keys;      /* owned: from the config file */
    char *conf_text;     /* owned: the config file's text (values point into it) */
};

static int parse_num(const char *what, const char *v, long long lo, long long hi, long long *out,
                     struct sl_err *err)
{
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || end == v || *end || n < lo || n > hi)
        return sl_err_set(err, SL_ECONFIG, "%s must be a whole number from %lld to %lld, not "
                          "\"%s\"", what, lo, hi, v);
    *out = n;
    return SL_OK;
}

/* Reads "key = value" lines (# comments, blank lines) of path into s for the
 * keys the command line did not set (set[] marks those). */
static int load_config(const char *path, struct settings *s, const unsigned char *set,
                       struct sl_err *err)
{
    size_t len = 0;
    if (read_file(path, &s->conf_text, &len, err) != SL_OK)
        return sl_err_prefix(err, "--config");
    char *save = NULL;
    int line_no = 0;
    for (char *line = strtok_r(s->conf_text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        line_no++;
        while (*line == ' ' || *line == '\t')
            line++;
        if (!*line || *line == '#')
            continue;
        char *eq = strchr(line, '=');
        if (!eq)
            return sl_err_set(err, SL_ECONFIG, "%s:%d: expected key = value", path, line_no);
        char *k_end = eq;
        while (k_end > line && (k_end[-1] == ' ' || k_end[-1] == '\t'))
            k_end--;
        *k_end = '\0';
        char *v = eq + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        size_t vl = strlen(v);
        while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t' || v[vl - 1] == '\r'))
            v[--vl] = '\0';
        if (vl >= 2 && v[0] == '"' && v[vl - 1] == '"') {
            v[vl - 1] = '\0';
            v++;
        }
        struct sl_err nerr = {0};
        int rc = SL_OK;
        if (strcmp(line, "listen") == 0) {
            if (!set['l'])
                s->listen = v;
        } else if (strcmp(line, "auth") == 0) {
            if (!set['a'])
                s->auth = v;
        } else if (strcmp(line, "jobs") == 0) {
            if (!set['j'])
                s->jobs = v;
        } else if (strcmp(line, "timezone") == 0) {
            if (!set['z'])
                s->timezone = v;
        } else if (strcmp(line, "catch_up") == 0) {
            if (!set['c'])
                s->catch_up = v;
        } else if (strcmp(line, "work_dir") == 0) {
            s->work_dir = v;
        } else if (strcmp(line, "api_keys") == 0) {
            s->api_keys = v;
        } else if (strcmp(line, "max_runs") == 0) {
            if (!set['r'])
                rc = parse_num("max_runs", v, 1, 1024, &s->max_runs, &nerr);
        } else if (strcmp(line, "max_workers") == 0) {
            rc = parse_num("max_workers", v, 1, 256, &s->max_workers, &nerr);
        } else if (strcmp(line, "lease_seconds") == 0) {
            rc = parse_num("lease_seconds", v, 2, 3600, &s->lease_s, &nerr);
        } else if (strcmp(line, "stop_grace_seconds") == 0) {
            rc = parse_num("stop_grace_seconds", v, 1, 3600, &s->grace_s, &nerr);
        } else if (strcmp(line, "retry_delay_seconds") == 0) {
            rc = parse_num("retry_delay_seconds", v, 0, 3600, &s->retry_delay_s, &nerr);
        } else if (strcmp(line, "log_cap_kib") == 0) {
            rc = parse_num("log_cap_kib", v, 1, 1 << 20, &s->log_cap_kib, &nerr);
        } else if (strcmp(line, "timeout_minute_seconds") == 0) {
            rc = parse_num("timeout_minute_seconds", v, 1, 60, &s->minute_s, &nerr);
        } else if (strcmp(line, "dispatch") == 0) {
            if (strcmp(v, "on") != 0 && strcmp(v, "off") != 0)
                return sl_err_set(err, SL_ECONFIG, "%s:%d: dispatch must be on or off", path,
                                  line_no);
            s->no_dispatch = strcmp(v, "off") == 0;
        } else {
            return sl_err_set(err, SL_ECONFIG, "%s:%d: unknown setting \"%s\"", path, line_no,
                              line);
        }
        if (rc != SL_OK)
            return sl_err_set(err, SL_ECONFIG, "%s:%d: %s", path, line_no, nerr.msg);
    }
    return SL_OK;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: sluice serve [--listen HOST:PORT] [--auth sigv4|none] [--jobs DIR]\n"
               "                    [--config FILE] [--max-runs N] [--timezone ZONE]\n"
               "                    [--catch-up none|latest|all] [--no-dispatch]\n"
               "\n"
               "Serves the AWS Glue API (JSON 1.1, POST / with X-Amz-Target) over the\n"
               "catalog, so the AWS CLI and SDKs can use it with --endpoint-url\n"
               "http://HOST:PORT (operations: docs/api.md), executes queued runs as child\n"
               "processes, and fires scheduled and conditional triggers. Several servers\n"
               "on one catalog share the run queue. Also GET /healthz and GET /metrics\n"
               "(Prometheus text).\n"
               "\n"
               "Options:\n"
               "  -l, --listen HOST:PORT  address to listen on (default " SL_HTTP_DEFAULT ";\n"
               "                          [::1]:PORT for IPv6)\n"
               "  -a, --auth MODE         sigv4 (default): every request must be signed with\n"
               "                          a key of SLUICE_API_KEYS=KEYID:SECRET[,...] or the\n"
               "                          config's api_keys; none: accept unsigned requests\n"
               "                          (loopback only)\n"
               "  -j, --jobs DIR          register every DIR/*.lua as a job from its job{}\n"
               "                          header, and again when a file changes (a file with a\n"
               "                          bad header is logged and skipped; a removed file's\n"
               "                          job is deleted)\n"
               "  -c, --config FILE       settings as \"key = value\" lines: listen, auth, jobs,\n"
               "                          api_keys, max_runs, max_workers, timezone, catch_up,\n"
               "                          work_dir, dispatch (on|off), lease_seconds,\n"
               "                          stop_grace_seconds, retry_delay_seconds, log_cap_kib\n"
               "                          (docs/operations.md); options given here win\n"
               "  -r, --max-runs N        runs this server executes at once (default 4)\n"
               "  -z, --timezone ZONE     IANA zone for schedules (default UTC)\n"
               "      --catch-up POLICY   schedule fires missed while no server ran: none,\n"
               "                          latest (default: run the most recent one) or all\n"
               "      --no-dispatch       serve the API only; execute no runs here\n"
               "  -h, --help              print this help\n"
               "\n"
               "The catalog is SLUICE_CATALOG (a libpq connection string or URI), or the\n"
               "embedded PostgreSQL under $SLUICE_HOME when it is unset. Run logs, fetched\n"
               "scripts and run folders live under $SLUICE_HOME (default ./.sluice). Stops\n"
               "cleanly on SIGINT or SIGTERM: runs in progress are stopped and recorded\n"
               "FAILED (retried under MaxRetries). Exit codes: 0 stopped, 1 failed, 2 usage\n"
               "or configuration.\n");
}

enum { OPT_CATCH_UP = 256, OPT_NO_DISPATCH };

static void dispatch_metrics(void *ud, struct sl_buf *b)
{
    sl_dispatch_metrics(ud, b);
}

int cmd_serve(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"auth", required_argument, NULL, 'a'},
        {"jobs", required_argument, NULL, 'j'},
        {"config", required_argument, NULL, 'c'},
        {"max-runs", required_argument, NULL, 'r'},
        {"timezone", required_argument, NULL, 'z'},
        {"catch-up", required_argument, NULL, OPT_CATCH_UP},
        {"no-dispatch", no_argument, NULL, OPT_NO_DISPATCH},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct settings st = {.listen = SL_HTTP_DEFAULT, .auth = "sigv4", .catch_up = "latest",
                          .max_runs = 4, .lease_s = 30, .grace_s = 10, .retry_delay_s = 10,
                          .log_cap_kib = 1024, .minute_s = 60};
    unsigned char set[256] = {0};
    const char *config = NULL;
    char host[SL_HTTP_HOST_MAX];
    char exe[PATH_MAX], work[PATH_MAX];
    struct sl_http_opts opts = {0};
    struct sl_dispatch_opts dopts = {0};
    struct sl_err err = {0};
    struct sl_keys *keys = NULL;
    struct sl_http *h = NULL;
    struct sl_dispatch *disp = NULL;
    struct sl_sched *sched = NULL;
    struct sl_sched_opts sopts = {0};
    struct watcher *watch = NULL;
    sigset_t stop_set;
    int c, sig = 0, rc;

    optind = 1;
    while ((c = getopt_long(argc, argv, "l:a:j:c:r:z:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'l': st.listen = optarg; set['l'] = 1; break;
        case 'a': st.auth = optarg; set['a'] = 1; break;
        case 'j': st.jobs = optarg; set['j'] = 1; break;
        case 'c': config = optarg; break;
        case 'r':
            if (parse_num("--max-runs", optarg, 1, 1024, &st.max_runs, &err) != SL_OK)
                return cli_usage_error(CMD, "%s", err.msg);
            set['r'] = 1;
            break;
        case 'z': st.timezone = optarg; set['z'] = 1; break;
        case OPT_CATCH_UP: st.catch_up = optarg; set['c'] = 1; break;
        case OPT_NO_DISPATCH: st.no_dispatch = 1; break;
        case 'h': usage(stdout); return SL_EXIT_OK;
        default: return cli_usage_error(CMD, "bad option");
        }
    }
    if (optind < argc)
        return cli_usage_error(CMD, "unexpected argument \"%s\"", argv[optind]);
    if (config && load_config(config, &st, set, &err) != SL_OK) {
        rc = cli_fail(CMD, &err);
        goto done;
    }
    if (strcmp(st.auth, "sigv4") == 0) {
        opts.auth_none = 0;
    } else if (strcmp(st.auth, "none") == 0) {
        opts.auth_none = 1;
    } else {
        rc = cli_usage_error(CMD, "--auth must be sigv4 or none, not \"%s\"", st.auth);
        goto done;
    }
    if (sl_sched_catch_up_parse(st.catch_up, &sopts.catch_up) != SL_OK) {
        rc = cli_usage_error(CMD, "--catch-up must be none, latest or all, not \"%s\"",
                             st.catch_up);
        goto done;
    }
    if (sl_http_parse_listen(st.listen, host, &opts.port, &err) != SL_OK) {
        rc = cli_fail(CMD, &err);
        goto done;
    }
    opts.host = host;

    if (!opts.auth_none) {
        keys = sl_keys_new();
        if (!keys) {
            sl_err_set(&err, SL_ENOMEM, "out of memory");
            rc = cli_fail(CMD, &err);
            goto done;
        }
        if (sl_keys_load_env(keys, &err) != SL_OK ||
            (st.api_keys && sl_keys_add_list(keys, st.api_keys, strlen(st.api_keys),
                                             "--config api_keys", &err) != SL_OK)) {
            rc = cli_fail(CMD, &err);
            goto done;
        }
        opts.keys = keys;
    }

    /* the children run this very binary */
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        sl_err_sys(&err, SL_ECONFIG, errno, "cannot find the sluice binary (/proc/self/exe)");
        rc = cli_fail(CMD, &err);
        goto done;
    }
    exe[n] = '\0';
    if (st.work_dir) {
        snprintf(work, sizeof work, "%s", st.work_dir);
    } else {
        const char *home = getenv("SLUICE_HOME");
        snprintf(work, sizeof work, "%s/server", home && *home ? home : ".sluice");
    }
    char jobs_abs[PATH_MAX];
    if (st.jobs && !realpath(st.jobs, jobs_abs)) {
        sl_err_sys(&err, SL_ECONFIG, errno, "--jobs \"%s\"", st.jobs);
        rc = cli_fail(CMD, &err);
        goto done;
    }

    /* Block the stop signals before any thread starts, so every thread inherits
     * the mask and only sigwait() below receives them. */
    sigemptyset(&stop_set);
    sigaddset(&stop_set, SIGINT);
    sigaddset(&stop_set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_set, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (st.jobs && register_jobs(st.jobs, &err) != SL_OK) {
        rc = cli_fail(CMD, &err);
        goto done;
    }
    if (!st.no_dispatch) {
        dopts.exe = exe;
        dopts.jobs_dir = st.jobs ? jobs_abs : NULL;
        dopts.work_dir = work;
        dopts.max_runs = (unsigned)st.max_runs;
        dopts.max_workers = (unsigned)st.max_workers;
        dopts.lease_s = (int)st.lease_s;
        dopts.stop_grace_s = (int)st.grace_s;
        dopts.retry_delay_ms = st.retry_delay_s * 1000;
        dopts.log_cap = (size_t)st.log_cap_kib << 10;
        dopts.minute_s = (int)st.minute_s;
        if (sl_dispatch_start(&dopts, &disp, &err) != SL_OK) {
            rc = cli_fail(CMD, &err);
            goto done;
        }
        opts.metrics_fn = dispatch_metrics;
        opts.metrics_ud = disp;
    }
    sopts.timezone = st.timezone;
    if (sl_sched_start(&sopts, &sched, &err) != SL_OK) {
        rc = cli_fail(CMD, &err);
        goto done;
    }
    if (sl_http_start(&opts, &h, &err) != SL_OK) {
        rc = cli_fail(CMD, &err);
        goto done;
    }
    if (st.jobs && !(watch = watcher_start(st.jobs, NULL)))
        sl_log(SL_LOG_WARN, "[serve] --jobs %s: cannot watch the folder for changes", st.jobs);
    if (opts.auth_none)
        sl_log(SL_LOG_WARN, "[serve] --auth none: requests are not authenticated (loopback only)");
    sl_log(SL_LOG_INFO, "[serve] listening on %s%s%s:%u (auth %s, %zu key%s)",
           strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "",
           (unsigned)sl_http_port(h), st.auth, keys ? sl_keys_count(keys) : (size_t)0,
           keys && sl_keys_count(keys) == 1 ? "" : "s");
    sigwait(&stop_set, &sig);
    sl_log(SL_LOG_INFO, "[serve] %s received, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
    rc = SL_EXIT_OK;
done:
    watcher_stop(watch);
    sl_sched_stop(sched);
    sl_http_stop(h);
    sl_dispatch_stop(disp);
    if (rc == SL_EXIT_OK)
        sl_log(SL_LOG_INFO, "[serve] stopped");
    sl_keys_free(keys);
    sl_free(st.conf_text);
    return rc;
}
