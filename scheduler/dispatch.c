/*
 * scheduler/dispatch.c - the run dispatcher (see dispatch.h): claim, spawn,
 * watch, finish. One thread, one catalog connection, a poll() loop over the
 * connection's socket (NOTIFY wakes it), a wake pipe and the children's
 * output pipes. Children get SIGKILL when the server dies (PR_SET_PDEATHSIG),
 * so a server killed with -9 leaves no run executing unseen: its runs are
 * found by the lease check and finished FAILED (or retried).
 */
#include "scheduler/dispatch.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runtime/alloc.h"
#include "runtime/catalog.h"
#include "runtime/catalog_run.h"
#include "runtime/log.h"
#include "runtime/store.h"
#include "runtime/store_copy.h"

#define TICK_MS           1000   /* leases, stops, timeouts, log flushes */
#define RECOVER_EVERY_MS  5000   /* lost-run check */
#define LOG_FLUSH_BYTES   65536  /* flush a child's pending output past this */
#define ERROR_LINE_MAX    1024   /* bytes of an ErrorMessage taken from the child */
#define N_BUCKETS         10

static const double bucket_s[N_BUCKETS] = {1, 5, 15, 30, 60, 300, 900, 1800, 3600, 14400};

struct child {
    char id[SL_RUN_ID_MAX + 1];
    char job[256];
    enum sl_run_kind kind;
    pid_t pid;               /* 0 once reaped */
    int status;              /* wait status once reaped */
    int fd;                  /* output pipe, -1 once at EOF */
    int pidfd;               /* readable when the child exits; -1 when none */
    char *pending;           /* output not yet stored */
    size_t n_pending, cap_pending;
    char last_error[ERROR_LINE_MAX]; /* last "sluice CMD: ..." line */
    char partial[ERROR_LINE_MAX];    /* the current unfinished line (for last_error) */
    size_t n_partial;
    int64_t start_ms;        /* monotonic */
    int64_t deadline_ms;     /* monotonic; timeout */
    int timeout_minutes;
    int stop_requested;
    int timed_out;
    int64_t term_ms;         /* when SIGTERM was sent; 0 none */
    int killed;
    char *script_tmp;        /* a fetched script to remove; owned */
};

struct sl_dispatch {
    struct sl_dispatch_opts o;   /* strings copied below */
    char *catalog, *exe, *jobs_dir, *work_dir;
    char owner[128];
    char host[65];
    pthread_t thread;
    int wake[2];
    atomic_int stopping;
    struct sl_catalog *cat;      /* owned by the thread */
    struct child *kids;          /* max_runs slots; pid 0 and fd -1 = free */
    size_t n_kids;
    pthread_mutex_t lock;        /* guards the metrics below */
    uint64_t finished[SL_RUN_N_STATES];
    uint64_t bucket[N_BUCKETS + 1];
    double dur_sum;
    uint64_t dur_count;
    unsigned running;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int pid_alive(int pid)
{
    return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

/* ---- Catalog connection ---- */

static int connect_catalog(struct sl_dispatch *d, struct sl_err *err)
{
    d->cat = d->catalog ? sl_catalog_open_conninfo(d->catalog, err) : sl_catalog_open(err);
    if (!d->cat)
        return err->code;
    PGresult *r = PQexec(sl_catalog_peek_conn(d->cat), "LISTEN \"" SL_RUN_NOTIFY_CHANNEL "\"");
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok) {
        sl_catalog_free(d->cat);
        d->cat = NULL;
        return sl_err_set(err, SL_ETRANSIENT, "LISTEN on the catalog failed");
    }
    return SL_OK;
}

/* 1 when the catalog connection is usable; reconnects when it broke. */
static int catalog_ok(struct sl_dispatch *d)
{
    struct sl_err err = {0};

    if (d->cat && PQstatus(sl_catalog_peek_conn(d->cat)) == CONNECTION_OK)
        return 1;
    if (d->cat) {
        sl_log(SL_LOG_WARN, "[dispatch] catalog connection lost; reconnecting");
        sl_catalog_free(d->cat);
        d->cat = NULL;
    }
    if (connect_catalog(d, &err) != SL_OK) {
        sl_log(SL_LOG_ERROR, "[dispatch] catalog: %s", err.msg);
        return 0;
    }
    return 1;
}

/* ---- Logs ---- */

static void store_pending(struct sl_dispatch *d, struct child *k, int all)
{
    size_t n = k->n_pending;
    struct sl_err err = {0};

    if (!all) { /* whole lines only, unless the buffer is large */
        while (n > 0 && k->pending[n - 1] != '\n')
            n--;
        if (n == 0 && k->n_pending < LOG_FLUSH_BYTES)
            return;
        if (n == 0)
            n = k->n_pending;
    }
    if (n == 0 || !d->cat)
        return;
    if (sl_catalog_run_log_append(d->cat, k->id, k->pending, n, d->o.log_cap, &err) != SL_OK) {
        sl_log(SL_LOG_WARN, "[dispatch] run %s: %s", k->id, err.msg);
        if (k->n_pending < 4 * LOG_FLUSH_BYTES)
            return; /* keep it for the next try */
    }
    memmove(k->pending, k->pending + n, k->n_pending - n);
    k->n_pending -= n;
}

/* Remembers the last error line the child printed: "sluice run: ..." (what
 * cli_fail writes) becomes the run's ErrorMessage. */
static void scan_line(struct child *k, const char *line, size_t len)
{
    static const char *const prefixes[] = {"sluice run: ", "sluice crawl: ", "sluice: "};

    for (size_t i = 0; i < SL_ARRAY_LEN(prefixes); i++) {
        size_t pl = strlen(prefixes[i]);
        if (len > pl && memcmp(line, prefixes[i], pl) == 0) {
            size_t m = len - pl < sizeof k->last_error - 1 ? len - pl : sizeof k->last_error - 1;
            memcpy(k->last_error, line + pl, m);
            k->last_error[m] = '\0';
            return;
        }
    }
}

static void take_output(struct child *k, const char *buf, size_t n)
{
    if (k->n_pending + n > k->cap_pending) {
        size_t cap = k->cap_pending ? k->cap_pending : 16384;
        while (cap < k->n_pending + n)
            cap *= 2;
        char *p = sl_realloc(k->pending, cap);
        if (p) {
            k->pending = p;
            k->cap_pending = cap;
        }
    }
    if (k->n_pending + n <= k->cap_pending) {
        memcpy(k->pending + k->n_pending, buf, n);
        k->n_pending += n;
    }
    for (size_t i = 0; i < n; i++) {
        if (buf[i] == '\n') {
            scan_line(k, k->partial, k->n_partial);
            k->n_partial = 0;
        } else if (k->n_partial < sizeof k->partial - 1) {
            k->partial[k->n_partial++] = buf[i];
        }
    }
}

static void drain_fd(struct child *k)
{
    char buf[16384];

    while (k->fd >= 0) {
        ssize_t n = read(k->fd, buf, sizeof buf);
        if (n > 0) {
            take_output(k, buf, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        close(k->fd); /* EOF or error */
        k->fd = -1;
    }
}

/* ---- Metrics ---- */

static void count_finished(struct sl_dispatch *d, enum sl_run_state st, double seconds)
{
    pthread_mutex_lock(&d->lock);
    d->finished[st]++;
    size_t b = 0;
    while (b < N_BUCKETS && seconds > bucket_s[b])
        b++;
    d->bucket[b]++;
    d->dur_sum += seconds;
    d->dur_count++;
    pthread_mutex_unlock(&d->lock);
}

void sl_dispatch_metrics(struct sl_dispatch *d, struct sl_buf *b)
{
    uint64_t finished[SL_RUN_N_STATES], bucket[N_BUCKETS + 1], count;
    double sum;
    unsigned running;

    if (!d)
        return;
    pthread_mutex_lock(&d->lock);
    memcpy(finished, d->finished, sizeof finished);
    memcpy(bucket, d->bucket, sizeof bucket);
    sum = d->dur_sum;
    count = d->dur_count;
    running = d->running;
    pthread_mutex_unlock(&d->lock);

    sl_buf_printf(b, NULL,
                  "# HELP sluice_dispatch_children Runs this server is executing now.\n"
                  "# TYPE sluice_dispatch_children gauge\n"
                  "sluice_dispatch_children %u\n"
                  "# HELP sluice_dispatch_runs_finished_total Runs this server finished, by "
                  "final state.\n"
                  "# TYPE sluice_dispatch_runs_finished_total counter\n",
                  running);
    for (int s = 0; s < SL_RUN_N_STATES; s++)
        if (sl_run_state_terminal((enum sl_run_state)s))
            sl_buf_printf(b, NULL, "sluice_dispatch_runs_finished_total{state=\"%s\"} %llu\n",
                          sl_run_state_name((enum sl_run_state)s), (unsigned long long)finished[s]);
    sl_buf_puts(b,
                "# HELP sluice_run_duration_seconds Wall time of the runs this server "
                "finished.\n"
                "# TYPE sluice_run_duration_seconds histogram\n",
                NULL);
    uint64_t cum = 0;
    for (int i = 0; i < N_BUCKETS; i++) {
        cum += bucket[i];
        sl_buf_printf(b, NULL, "sluice_run_duration_seconds_bucket{le=\"%g\"} %llu\n", bucket_s[i],
                      (unsigned long long)cum);
    }
    cum += bucket[N_BUCKETS];
    sl_buf_printf(b, NULL,
                  "sluice_run_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
                  "sluice_run_duration_seconds_sum %.3f\n"
                  "sluice_run_duration_seconds_count %llu\n",
                  (unsigned long long)cum, sum, (unsigned long long)count);
}

/* ---- Finishing ---- */

static void free_child(struct child *k)
{
    if (k->fd >= 0)
        close(k->fd);
    if (k->pidfd >= 0)
        close(k->pidfd);
    if (k->script_tmp) {
        unlink(k->script_tmp);
        sl_free(k->script_tmp);
    }
    sl_free(k->pending);
    memset(k, 0, sizeof *k);
    k->fd = -1;
    k->pidfd = -1;
}

static void finish_run(struct sl_dispatch *d, const char *id, const char *job,
                       enum sl_run_state st, const char *msg, double seconds)
{
    struct sl_err err = {0};
    char retry_id[SL_RUN_ID_MAX + 1] = "";

    if (!catalog_ok(d) ||
        sl_catalog_run_finish(d->cat, id, d->owner, st, msg, d->o.retry_delay_ms, retry_id, NULL,
                              &err) != SL_OK) {
        /* the lease lapses and any server's recovery finishes the run */
        sl_log(SL_LOG_ERROR, "[dispatch] run %s of %s ended %s but could not be recorded: %s", id,
               job, sl_run_state_name(st), d->cat ? err.msg : "no catalog");
        return;
    }
    count_finished(d, st, seconds);
    if (msg)
        sl_log(st == SL_RUN_SUCCEEDED ? SL_LOG_INFO : SL_LOG_WARN,
               "[dispatch] run %s of %s %s after %.1f s: %s", id, job, sl_run_state_name(st),
               seconds, msg);
    else
        sl_log(SL_LOG_INFO, "[dispatch] run %s of %s %s after %.1f s", id, job,
               sl_run_state_name(st), seconds);
    if (retry_id[0])
        sl_log(SL_LOG_INFO, "[dispatch] run %s of %s queued as retry of %s", retry_id, job, id);
}

/* The child exited (reaped, output at EOF): record its end. */
static void child_done(struct sl_dispatch *d, struct child *k)
{
    char msg[ERROR_LINE_MAX + 128];
    enum sl_run_state st;
    int status = k->status;
    double seconds = (double)(mono_ms() - k->start_ms) / 1000.0;

    if (k->n_partial) /* an unterminated last line */
        scan_line(k, k->partial, k->n_partial);
    if (catalog_ok(d))
        store_pending(d, k, 1);
    msg[0] = '\0';
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        st = SL_RUN_SUCCEEDED;
    } else if (k->timed_out) {
        st = SL_RUN_TIMEOUT;
        snprintf(msg, sizeof msg, "timed out after %d minute%s (Timeout)", k->timeout_minutes,
                 k->timeout_minutes == 1 ? "" : "s");
    } else if (k->stop_requested) {
        st = SL_RUN_STOPPED;
        snprintf(msg, sizeof msg, "stopped on request%s", k->killed ? " (killed after the grace "
                                                                      "period)" : "");
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
        st = SL_RUN_ERROR;
        snprintf(msg, sizeof msg, "could not start the run: %s",
                 k->last_error[0] ? k->last_error : "exec failed");
    } else if (WIFEXITED(status)) {
        st = SL_RUN_FAILED;
        if (k->last_error[0])
            snprintf(msg, sizeof msg, "%s", k->last_error);
        else
            snprintf(msg, sizeof msg, "exited with status %d", WEXITSTATUS(status));
    } else {
        st = SL_RUN_FAILED;
        int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
        snprintf(msg, sizeof msg, "killed by signal %d (%s)%s", sig, sigabbrev_np(sig) ?
                 sigabbrev_np(sig) : "?", sig == SIGKILL ? ": out of memory, or killed from "
                 "outside" : "");
    }
    finish_run(d, k->id, k->job, st, msg[0] ? msg : NULL, seconds);
    free_child(k);
    pthread_mutex_lock(&d->lock);
    d->running--;
    pthread_mutex_unlock(&d->lock);
}

/* ---- Spawning ---- */

/* Where the script of run is, as a local path: S3 scripts are fetched into
 * work_dir. *tmp (owned) is the fetched copy to remove afterwards. */
static int script_path(struct sl_dispatch *d, const struct sl_run *run, char *out, size_t out_len,
                       char **tmp, struct sl_err *err)
{
    const char *loc = run->script_location;

    *tmp = NULL;
    if (!loc || !*loc)
        return sl_err_set(err, SL_ECONFIG, "the job has no Command.ScriptLocation");
    if (strncmp(loc, "s3://", 5) == 0) {
        char *key = NULL, *dst_key = NULL;
        struct sl_store *src = sl_store_open(loc, &key, err);
        struct sl_store *dst = NULL;
        char path[PATH_MAX];
        if (!src)
            return sl_err_prefix(err, "cannot read script \"%s\"", loc);
        snprintf(path, sizeof path, "%s/scripts/%s.lua", d->work_dir, run->id);
        dst = sl_store_open(path, &dst_key, err);
        int rc = dst ? sl_store_copy(src, key, dst, dst_key, NULL, err) : err->code;
        sl_store_free(src);
        sl_store_free(dst);
        sl_free(key);
        sl_free(dst_key);
        if (rc != SL_OK)
            return sl_err_prefix(err, "cannot read script \"%s\"", loc);
        if (!(*tmp = sl_strdup(path)))
            return sl_err_set(err, SL_ENOMEM, "out of memory");
        snprintf(out, out_len, "%s", path);
        return SL_OK;
    }
    if (strncmp(loc, "file://", 7) == 0)
        loc += 7;
    if (loc[0] == '/' || !d->jobs_dir)
        snprintf(out, out_len, "%s", loc);
    else
        snprintf(out, out_len, "%s/%s", d->jobs_dir, loc);
    if (access(out, R_OK) != 0)
        return sl_err_sys(err, SL_ECONFIG, errno, "cannot read script \"%s\"",
                          run->script_location);
    return SL_OK;
}

extern char **environ;

struct argv_b {
    char **v;
    size_t n, cap;
    int oom;
};

static void argv_add(struct argv_b *a, char *s) /* takes s */
{
    if (!s || a->oom) {
        a->oom = 1;
        sl_free(s);
        return;
    }
    if (a->n + 2 > a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 32;
        char **v = sl_realloc(a->v, cap * sizeof *v);
        if (!v) {
            a->oom = 1;
            sl_free(s);
            return;
        }
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = s;
    a->v[a->n] = NULL;
}

static void argv_free(struct argv_b *a)
{
    for (size_t i = 0; i < a->n; i++)
        sl_free(a->v[i]);
    sl_free(a->v);
}

/* The child's command line for run. */
static int build_argv(struct sl_dispatch *d, const struct sl_run *run, const char *script,
                      struct argv_b *a, struct sl_err *err)
{
    argv_add(a, sl_strdup(d->exe));
    argv_add(a, sl_strdup("--log-level"));
    argv_add(a, sl_strdup("info"));
    if (run->kind == SL_RUN_CRAWLER) {
        argv_add(a, sl_strdup("crawl"));
        argv_add(a, sl_strdup("--name"));
        argv_add(a, sl_strdup(run->job_name));
        return a->oom ? sl_err_set(err, SL_ENOMEM, "out of memory") : SL_OK;
    }
    argv_add(a, sl_strdup("run"));
    argv_add(a, sl_strdup(script));
    argv_add(a, sl_strdup("--run-id"));
    argv_add(a, sl_strdup(run->id));
    argv_add(a, sl_strdup("--job-name"));
    argv_add(a, sl_strdup(run->job_name));
    unsigned workers = run->number_of_workers > 0 ? (unsigned)run->number_of_workers : 0;
    if (workers && d->o.max_workers && workers > d->o.max_workers)
        workers = d->o.max_workers;
    if (workers)
        argv_add(a, sl_asprintf("--workers=%u", workers));
    json_t *args = json_loads(run->effective_arguments ? run->effective_arguments : "{}", 0, NULL);
    const char *k;
    json_t *v;
    json_object_foreach(args, k, v) {
        const char *key = strncmp(k, "--", 2) == 0 ? k + 2 : k;
        const char *val = json_string_value(v);
        if (!val || !*key || strchr(key, '='))
            continue; /* not something a script can be given */
        if (strcmp(key, "job-bookmark-option") == 0) {
            if (strcmp(val, "job-bookmark-enable") == 0)
                argv_add(a, sl_strdup("--bookmark"));
            else if (strcmp(val, "job-bookmark-disable") == 0)
                argv_add(a, sl_strdup("--no-bookmark"));
            continue; /* job-bookmark-pause: the script's own setting applies */
        }
        argv_add(a, sl_asprintf("--arg=%s=%s", key, val));
    }
    json_decref(args);
    argv_add(a, sl_asprintf("--arg=JOB_NAME=%s", run->job_name));
    argv_add(a, sl_asprintf("--arg=JOB_RUN_ID=%s", run->id));
    argv_add(a, sl_asprintf("--arg=JOB_ID=%s", run->id));
    return a->oom ? sl_err_set(err, SL_ENOMEM, "out of memory") : SL_OK;
}

/* The children's environment: ours, with SLUICE_LOG_FORMAT=text so run logs
 * read as text lines. Owned array (sl_free); the strings are borrowed. */
static char **child_env(void)
{
    static char text_logs[] = "SLUICE_LOG_FORMAT=text";
    size_t n = 0;
    while (environ && environ[n])
        n++;
    char **env = sl_calloc(n + 2, sizeof *env);
    size_t o = 0;
    if (!env)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "SLUICE_LOG_FORMAT=", 18) != 0)
            env[o++] = environ[i];
    env[o++] = text_logs;
    env[o] = NULL;
    return env;
}

/* Starts the child of a claimed run into slot k; on failure the run is
 * finished (FAILED for a missing script, ERROR when sluice could not start). */
static void spawn(struct sl_dispatch *d, const struct sl_run *run, struct child *k)
{
    char script[PATH_MAX] = "";
    char *tmp = NULL;
    struct argv_b a = {0};
    struct sl_err err = {0};
    int p[2] = {-1, -1};
    int stop = 0;
    char **env = NULL;

    if (run->kind == SL_RUN_JOB && script_path(d, run, script, sizeof script, &tmp, &err) != SL_OK) {
        finish_run(d, run->id, run->job_name, SL_RUN_FAILED, err.msg, 0);
        return;
    }
    if (build_argv(d, run, script, &a, &err) != SL_OK)
        goto error;
    if (!(env = child_env())) {
        sl_err_set(&err, SL_ENOMEM, "out of memory");
        goto error;
    }
    if (pipe2(p, O_CLOEXEC) != 0) {
        sl_err_sys(&err, SL_EIO, errno, "pipe");
        goto error;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        sl_err_sys(&err, SL_EIO, errno, "fork");
        goto error;
    }
    if (pid == 0) { /* the child: async-signal-safe calls only */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        setpgid(0, 0);
        dup2(p[1], STDOUT_FILENO);
        dup2(p[1], STDERR_FILENO);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, STDIN_FILENO);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        execve(d->exe, a.v, env);
        static const char msg[] = "sluice: cannot execute the sluice binary\n";
        ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
        (void)w;
        _exit(127);
    }
    close(p[1]);
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    memset(k, 0, sizeof *k);
    snprintf(k->id, sizeof k->id, "%s", run->id);
    snprintf(k->job, sizeof k->job, "%s", run->job_name);
    k->kind = run->kind;
    k->pid = pid;
    k->fd = p[0];
    /* a pidfd wakes the loop the moment the child exits (Linux 5.3+); without
     * one, the loop looks every 100 ms */
    k->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (k->pidfd >= 0)
        fcntl(k->pidfd, F_SETFD, FD_CLOEXEC);
    k->start_ms = mono_ms();
    k->timeout_minutes = run->timeout_minutes;
    k->deadline_ms = k->start_ms + (int64_t)run->timeout_minutes * d->o.minute_s * 1000;
    k->script_tmp = tmp;
    sl_free(env);
    pthread_mutex_lock(&d->lock);
    d->running++;
    pthread_mutex_unlock(&d->lock);
    argv_free(&a);
    if (sl_catalog_run_set_running(d->cat, run->id, d->owner, (int)pid, &stop, &err) != SL_OK) {
        sl_log(SL_LOG_WARN, "[dispatch] run %s: %s; stopping its child", run->id, err.msg);
        stop = 1;
    }
    sl_log(SL_LOG_INFO, "[dispatch] run %s of %s %s started (pid %d)", run->id, run->job_name,
           run->kind == SL_RUN_CRAWLER ? "crawler" : "job", (int)pid);
    if (stop) {
        k->stop_requested = 1;
        k->term_ms = mono_ms();
        kill(pid, SIGTERM);
    }
    return;
error:
    if (p[0] >= 0)
        close(p[0]);
    if (p[1] >= 0)
        close(p[1]);
    argv_free(&a);
    sl_free(env);
    if (tmp) {
        unlink(tmp);
        sl_free(tmp);
    }
    finish_run(d, run->id, run->job_name, SL_RUN_ERROR, err.msg, 0);
}

/* ---- The loop ---- */

static struct child *find_child(struct sl_dispatch *d, const char *id)
{
    for (size_t i = 0; i < d->n_kids; i++)
        if ((d->kids[i].pid || d->kids[i].fd >= 0) && strcmp(d->kids[i].id, id) == 0)
            return &d->kids[i];
    return NULL;
}

static size_t n_busy(const struct sl_dispatch *d)
{
    size_t n = 0;
    for (size_t i = 0; i < d->n_kids; i++)
        n += d->kids[i].pid != 0 || d->kids[i].fd >= 0;
    return n;
}

static void claim(struct sl_dispatch *d, int *more)
{
    struct sl_run *runs = NULL;
    size_t n = 0, free_slots = d->n_kids - n_busy(d);
    struct sl_err err = {0};

    *more = 0;
    if (free_slots == 0 || atomic_load(&d->stopping) || !catalog_ok(d))
        return;
    if (sl_catalog_run_claim(d->cat, d->owner, d->o.lease_s, free_slots, &runs, &n, &err) != SL_OK) {
        sl_log(SL_LOG_ERROR, "[dispatch] %s", err.msg);
        return;
    }
    for (size_t i = 0, slot = 0; i < n; i++) {
        while (d->kids[slot].pid != 0 || d->kids[slot].fd >= 0)
            slot++;
        spawn(d, &runs[i], &d->kids[slot]);
    }
    *more = n == free_slots;
    sl_run_list_free(runs, n);
}

static void tick(struct sl_dispatch *d, int64_t now, int64_t *last_recover)
{
    char **stop_ids = NULL;
    size_t n_stop = 0;
    struct sl_err err = {0};

    if (catalog_ok(d)) {
        if (sl_catalog_run_renew(d->cat, d->owner, d->o.lease_s, &stop_ids, &n_stop, &err) != SL_OK)
            sl_log(SL_LOG_ERROR, "[dispatch] %s", err.msg);
        for (size_t i = 0; i < n_stop; i++) {
            struct child *k = find_child(d, stop_ids[i]);
            if (k && k->pid && !k->stop_requested) {
                k->stop_requested = 1;
                k->term_ms = now;
                sl_log(SL_LOG_INFO, "[dispatch] run %s: stop requested; SIGTERM to pid %d", k->id,
                       (int)k->pid);
                kill(k->pid, SIGTERM);
            }
            sl_free(stop_ids[i]);
        }
        sl_free(stop_ids);
    }
    for (size_t i = 0; i < d->n_kids; i++) {
        struct child *k = &d->kids[i];
        if (!k->pid)
            continue;
        if (!k->timed_out && !k->stop_requested && now >= k->deadline_ms) {
            k->timed_out = 1;
            k->term_ms = now;
            sl_log(SL_LOG_WARN, "[dispatch] run %s: Timeout of %d minute%s reached; SIGTERM to "
                   "pid %d", k->id, k->timeout_minutes, k->timeout_minutes == 1 ? "" : "s",
                   (int)k->pid);
            kill(k->pid, SIGTERM);
        }
        if (k->term_ms && !k->killed && now - k->term_ms >= (int64_t)d->o.stop_grace_s * 1000) {
            k->killed = 1;
            sl_log(SL_LOG_WARN, "[dispatch] run %s: still running %d s after SIGTERM; SIGKILL",
                   k->id, d->o.stop_grace_s);
            kill(-k->pid, SIGKILL);
            kill(k->pid, SIGKILL);
        }
        if (d->cat)
            store_pending(d, k, 0);
    }
    if (now - *last_recover >= RECOVER_EVERY_MS && d->cat) {
        size_t n = 0;
        *last_recover = now;
        if (sl_catalog_run_recover(d->cat, d->host, pid_alive, d->o.retry_delay_ms, &n, &err) !=
            SL_OK)
            sl_log(SL_LOG_ERROR, "[dispatch] %s", err.msg);
        else if (n)
            sl_log(SL_LOG_WARN, "[dispatch] %zu lost run%s finished (their server is gone)", n,
                   n == 1 ? "" : "s");
    }
}

/* Reaps the children that exited; returns how many (their slots are free). */
static size_t reap(struct sl_dispatch *d)
{
    size_t n_reaped = 0;

    for (size_t i = 0; i < d->n_kids; i++) {
        struct child *k = &d->kids[i];
        int status;
        if (!k->pid)
            continue;
        pid_t r = waitpid(k->pid, &status, WNOHANG);
        if (r == k->pid) {
            k->status = status;
            k->pid = 0;
            drain_fd(k);
            if (k->fd >= 0) { /* a grandchild holds the pipe: stop reading it */
                close(k->fd);
                k->fd = -1;
            }
            child_done(d, k);
            n_reaped++;
        }
    }
    return n_reaped;
}

static void *dispatch_main(void *arg)
{
    struct sl_dispatch *d = arg;
    struct pollfd *pfd = sl_calloc(2 * d->n_kids + 2, sizeof *pfd);
    int64_t next_tick = 0, last_recover = mono_ms();
    int want_claim = 1;

    if (!pfd) {
        sl_log(SL_LOG_ERROR, "[dispatch] out of memory: no runs will be executed");
        return NULL;
    }
    while (!atomic_load(&d->stopping)) {
        int64_t now = mono_ms();
        if (now >= next_tick) {
            tick(d, now, &last_recover);
            next_tick = now + TICK_MS;
            want_claim = 1;
        }
        if (want_claim)
            claim(d, &want_claim);
        size_t n = 0;
        pfd[n++] = (struct pollfd){.fd = d->wake[0], .events = POLLIN};
        int pg_fd = d->cat ? PQsocket(sl_catalog_peek_conn(d->cat)) : -1;
        if (pg_fd >= 0)
            pfd[n++] = (struct pollfd){.fd = pg_fd, .events = POLLIN};
        int no_pidfd = 0;
        for (size_t i = 0; i < d->n_kids; i++) {
            if (d->kids[i].fd >= 0)
                pfd[n++] = (struct pollfd){.fd = d->kids[i].fd, .events = POLLIN};
            if (d->kids[i].pid && d->kids[i].pidfd >= 0)
                pfd[n++] = (struct pollfd){.fd = d->kids[i].pidfd, .events = POLLIN};
            else if (d->kids[i].pid)
                no_pidfd = 1;
        }
        int64_t wait = next_tick - mono_ms();
        if (wait > d->o.poll_ms)
            wait = d->o.poll_ms;
        if (no_pidfd && wait > 100)
            wait = 100; /* no pidfd: look for exited children now and then */
        if (poll(pfd, n, wait < 0 ? 0 : (int)wait) < 0 && errno != EINTR)
            sl_log(SL_LOG_ERROR, "[dispatch] poll failed");
        if (pfd[0].revents) {
            char buf[64];
            while (read(d->wake[0], buf, sizeof buf) > 0) {
            }
        }
        if (pg_fd >= 0 && d->cat && pfd[1].revents) {
            PGconn *pg = sl_catalog_peek_conn(d->cat);
            PGnotify *nt;
            int notified = 0;
            if (PQconsumeInput(pg))
                while ((nt = PQnotifies(pg)) != NULL) {
                    notified = 1;
                    PQfreemem(nt);
                }
            if (notified) {
                want_claim = 1;
                if (n_busy(d)) /* maybe a stop request for one of ours: look now */
                    next_tick = 0;
            }
        }
        for (size_t i = 0; i < d->n_kids; i++)
            if (d->kids[i].fd >= 0)
                drain_fd(&d->kids[i]);
        if (reap(d))
            want_claim = 1; /* free slots: take the next queued runs now */
    }
    /* stopping: the children are asked to stop, then killed */
    int64_t t0 = mono_ms();
    for (size_t i = 0; i < d->n_kids; i++)
        if (d->kids[i].pid)
            kill(d->kids[i].pid, SIGTERM);
    while (n_busy(d)) {
        for (size_t i = 0; i < d->n_kids; i++) {
            struct child *k = &d->kids[i];
            drain_fd(k);
            if (k->pid && mono_ms() - t0 >= (int64_t)d->o.stop_grace_s * 1000 && !k->killed) {
                k->killed = 1;
                kill(-k->pid, SIGKILL);
                kill(k->pid, SIGKILL);
            }
            int status;
            if (k->pid && waitpid(k->pid, &status, WNOHANG) == k->pid) {
                k->pid = 0;
                drain_fd(k);
                if (catalog_ok(d))
                    store_pending(d, k, 1);
                double seconds = (double)(mono_ms() - k->start_ms) / 1000.0;
                if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                    finish_run(d, k->id, k->job, SL_RUN_SUCCEEDED, NULL, seconds);
                else
                    finish_run(d, k->id, k->job, SL_RUN_FAILED,
                               "interrupted: the server running it stopped", seconds);
                free_child(k);
                pthread_mutex_lock(&d->lock);
                d->running--;
                pthread_mutex_unlock(&d->lock);
            } else if (!k->pid && k->fd >= 0) {
                close(k->fd);
                k->fd = -1;
            }
        }
        struct timespec ts = {0, 20 * 1000000};
        nanosleep(&ts, NULL);
    }
    sl_free(pfd);
    return NULL;
}

/* ---- Start and stop ---- */

static int mkdir_p(const char *path)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, 0700) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    return mkdir(buf, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

static void dispatch_free(struct sl_dispatch *d)
{
    if (!d)
        return;
    for (size_t i = 0; d->kids && i < d->n_kids; i++)
        free_child(&d->kids[i]);
    sl_free(d->kids);
    if (d->wake[0] >= 0)
        close(d->wake[0]);
    if (d->wake[1] >= 0)
        close(d->wake[1]);
    sl_catalog_free(d->cat);
    sl_free(d->catalog);
    sl_free(d->exe);
    sl_free(d->jobs_dir);
    sl_free(d->work_dir);
    pthread_mutex_destroy(&d->lock);
    sl_free(d);
}

int sl_dispatch_start(const struct sl_dispatch_opts *opts, struct sl_dispatch **out,
                      struct sl_err *err)
{
    struct sl_dispatch *d = sl_calloc(1, sizeof *d);
    size_t n = 0;

    *out = NULL;
    if (!d)
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    d->wake[0] = d->wake[1] = -1;
    pthread_mutex_init(&d->lock, NULL);
    d->o = *opts;
    if (!d->o.max_runs)
        d->o.max_runs = 4;
    if (!d->o.lease_s)
        d->o.lease_s = 30;
    if (!d->o.poll_ms)
        d->o.poll_ms = 1000;
    if (!d->o.stop_grace_s)
        d->o.stop_grace_s = 10;
    if (d->o.retry_delay_ms < 0)
        d->o.retry_delay_ms = 10000;
    if (!d->o.log_cap)
        d->o.log_cap = (size_t)1 << 20;
    if (!d->o.minute_s)
        d->o.minute_s = 60;
    if (!d->o.max_workers) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        d->o.max_workers = c > 0 ? (unsigned)c : 1;
    }
    if ((opts->catalog && !(d->catalog = sl_strdup(opts->catalog))) ||
        !(d->exe = sl_strdup(opts->exe)) ||
        (opts->jobs_dir && !(d->jobs_dir = sl_strdup(opts->jobs_dir))) ||
        !(d->work_dir = sl_strdup(opts->work_dir)) ||
        !(d->kids = sl_calloc(d->o.max_runs, sizeof *d->kids))) {
        sl_err_set(err, SL_ENOMEM, "out of memory");
        goto fail;
    }
    d->n_kids = d->o.max_runs;
    for (size_t i = 0; i < d->n_kids; i++)
        d->kids[i].fd = d->kids[i].pidfd = -1;
    char scripts[PATH_MAX]; /* work_dir/scripts: creates work_dir too */
    snprintf(scripts, sizeof scripts, "%s/scripts", d->work_dir);
    if (mkdir_p(scripts) != 0) {
        sl_err_sys(err, SL_ECONFIG, errno, "cannot create \"%s\"", scripts);
        goto fail;
    }
    if (sl_run_owner_make(d->owner, err) != SL_OK)
        goto fail;
    int opid;
    if (sl_run_owner_parse(d->owner, d->host, &opid) != SL_OK) {
        sl_err_set(err, SL_EINTERNAL, "bad owner \"%s\"", d->owner);
        goto fail;
    }
    if (pipe2(d->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
        sl_err_sys(err, SL_EIO, errno, "pipe");
        goto fail;
    }
    if (connect_catalog(d, err) != SL_OK)
        goto fail;
    if (sl_catalog_run_recover(d->cat, d->host, pid_alive, d->o.retry_delay_ms, &n, err) != SL_OK)
        goto fail;
    if (n)
        sl_log(SL_LOG_WARN, "[dispatch] %zu run%s lost by an earlier server process finished", n,
               n == 1 ? "" : "s");
    int rc = pthread_create(&d->thread, NULL, dispatch_main, d);
    if (rc != 0) {
        sl_err_sys(err, SL_EIO, rc, "cannot start the dispatcher thread");
        goto fail;
    }
    sl_log(SL_LOG_INFO, "[dispatch] executing up to %u run%s at once as %s", d->o.max_runs,
           d->o.max_runs == 1 ? "" : "s", d->owner);
    *out = d;
    return SL_OK;
fail:
    dispatch_free(d);
    return sl_err_prefix(err, "dispatcher");
}

void sl_dispatch_stop(struct sl_dispatch *d)
{
    if (!d)
        return;
    atomic_store(&d->stopping, 1);
    ssize_t w = write(d->wake[1], "x", 1);
    (void)w;
    pthread_join(d->thread, NULL);
    dispatch_free(d);
}
