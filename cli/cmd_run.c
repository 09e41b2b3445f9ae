/*
 * cli/cmd_run.c - `sluice run SCRIPT.lua`: reads the script's job{} header,
 * merges its args with --arg, prepares the run folder
 * ($SLUICE_HOME/runs/<run id>/, with a private spill/ folder for the run's
 * duration) and hands everything to the engine (runtime/exec.h), with the
 * crawler's inference for schemaless sources (cli/infer.c), a progress line on
 * a terminal, SIGINT/SIGTERM as a stop request, and a summary (or one JSON
 * object) at the end. Planning, execution and publishing are the engine's.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/infer.h"
#include "runtime/alloc.h"
#include "runtime/exec.h"
#include "runtime/job_header.h"
#include "runtime/log.h"

#define RUN_SCRIPT_MAX         ((size_t)16 << 20) /* bytes: a job script is code, not data */
#define RUN_MEMORY_DEFAULT_MIB 1024               /* MiB: shuffles and group tables, then spill */
#define RUN_MEMORY_MAX_MIB     (1LL << 24)        /* MiB: 16 TiB, far past any machine */
#define RUN_PARTITIONS_MAX     65536              /* as mapreduce{partitions} */
#define RUN_ID_MAX             128                /* bytes: "jr_" + 64 hex + "_attempt_<n>" fits */
#define RUN_FILES_SHOWN        5                  /* published files listed by the summary */
#define RUN_BAR_CELLS          10

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sluice run SCRIPT.lua [options]\n"
            "\n"
            "Runs a job script: reads its job{...} header, plans main(ctx) and executes the\n"
            "plan on a pool of worker threads. Outputs are published (with _SUCCESS) only\n"
            "when the whole run succeeds. See docs/lua-api.md for the script API.\n"
            "\n"
            "  -a, --arg KEY=VALUE   set ctx.args.KEY (repeatable; overrides job{args=...})\n"
            "  -w, --workers N       worker threads, 1 to %d (default: the online CPUs)\n"
            "  -m, --memory MIB      memory for shuffles and group tables, in MiB; past it\n"
            "                        they spill to disk (default %d; 0 = unlimited)\n"
            "      --partitions N    shuffle partitions where the plan names none (default %d)\n"
            "      --run-id ID       the run's id, [A-Za-z0-9_-]{1,128} (default: $SLUICE_RUN_ID,\n"
            "                        else jr_ and 16 random hex digits)\n"
            "      --errors URI      where rejected rows go (JSON Lines), a path or an s3://\n"
            "                        object (default: the run folder's errors.jsonl)\n"
            "      --job-name NAME   the job's name for its bookmark and summary (default: the\n"
            "                        job{} header's name; `sluice serve` passes the Glue job's)\n"
            "      --bookmark        use the job's bookmark even if job{} does not declare it\n"
            "      --no-bookmark     read every object even if the job declares bookmark = true\n"
            "      --reset-bookmark  forget the job's bookmark before reading\n"
            "      --json            print the result as one JSON object on stdout\n"
            "  -h, --help            print this help\n"
            "\n"
            "The run folder is $SLUICE_HOME/runs/<run id>/ ($SLUICE_HOME defaults to ./.sluice);\n"
            "its spill/ folder holds spill files while the run lasts. A progress line is shown\n"
            "on a terminal. SIGINT or SIGTERM stops the run (state STOPPED; nothing published).\n"
            "print() and sluice.log() lines of the script are logged on stderr (level info).\n"
            "\n"
            "Exit codes: 0 the run succeeded; 1 the run failed: a syntax or runtime error in\n"
            "the script, bad rows past max_errors, a store error, a timeout or a stop;\n"
            "2 usage or configuration: bad options, an unreadable script, a bad job{} header,\n"
            "a plan that is invalid as a whole (no write, no main).\n",
            SL_EXEC_WORKERS_MAX, RUN_MEMORY_DEFAULT_MIB, SL_EXEC_PARTITIONS_DEFAULT);
}

/* ---- Small helpers ---- */

/* Digits only (no sign, no spaces), within [min, max]. */
static int parse_num(const char *s, long long min, long long max, long long *out)
{
    long long v = 0;
    if (!*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        if (v > (LLONG_MAX - (*s - '0')) / 10)
            return -1;
        v = v * 10 + (*s - '0');
    }
    if (v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static bool run_id_valid(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > RUN_ID_MAX)
        return false;
    for (; *id; id++) {
        char c = *id;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* "jr_" + 16 lowercase hex digits from the OpenSSL CSPRNG. */
static int random_run_id(char *out, size_t len, struct sl_err *err)
{
    unsigned char b[8];
    if (RAND_bytes(b, sizeof b) != 1)
        return sl_err_set(err, SL_EINTERNAL, "cannot make a run id: no random bytes");
    snprintf(out, len, "jr_%02x%02x%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5],
             b[6], b[7]);
    return SL_OK;
}

/* Reads a whole local file (at most RUN_SCRIPT_MAX bytes). *out owned (sl_free),
 * NUL-terminated. SL_ECONFIG: a missing or unreadable script is a usage error. */
static int read_script(const char *path, char **out, size_t *len, struct sl_err *err)
{
    struct stat stb;
    char *buf = NULL;
    size_t got = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return sl_err_sys(err, SL_ECONFIG, errno, "cannot read \"%s\"", path);
    if (fstat(fd, &stb) != 0) {
        sl_err_sys(err, SL_ECONFIG, errno, "cannot read \"%s\"", path);
        goto fail;
    }
    if (!S_ISREG(stb.st_mode)) {
        sl_err_set(err, SL_ECONFIG, "cannot read \"%s\": not a regular file", path);
        goto fail;
    }
    if ((uint64_t)stb.st_size > RUN_SCRIPT_MAX) {
        sl_err_set(err, SL_ECONFIG, "cannot read \"%s\": larger than %zu MiB", path,
                   RUN_SCRIPT_MAX >> 20);
        goto fail;
    }
    if (!(buf = sl_alloc((size_t)stb.st_size + 1))) {
        sl_err_set(err, SL_ENOMEM, "out of memory");
        goto fail;
    }
    while (got < (size_t)stb.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)stb.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            sl_err_sys(err, SL_ECONFIG, errno, "cannot read \"%s\"", path);
            goto fail;
        }
        if (n == 0)
            break; /* shrank meanwhile: take what is there */
        got += (size_t)n;
    }
    close(fd);
    buf[got] = '\0';
    *out = buf;
    *len = got;
    return SL_OK;
fail:
    close(fd);
    sl_free(buf);
    return err->code;
}

/* mkdir -p: the missing parents with 0755, path itself with mode. */
static int mkdir_p(const char *path, mode_t mode, struct sl_err *err)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return sl_err_set(err, SL_ECONFIG, "cannot create \"%s\": path too long", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return sl_err_sys(err, SL_ECONFIG, errno, "cannot create \"%s\"", buf);
        *p = '/';
    }
    if (mkdir(buf, mode) != 0 && errno != EEXIST)
        return sl_err_sys(err, SL_ECONFIG, errno, "cannot create \"%s\"", buf);
    return SL_OK;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path); /* best effort: what cannot go stays; nothing else can be done */
    return 0;
}

/* rm -r, not following symbolic links. */
static void remove_tree(const char *path)
{
    struct stat stb;
    if (lstat(path, &stb) == 0)
        nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- Stop requests ---- */

static _Atomic bool stop_requested; /* set by the signal handler only */

static void on_stop_signal(int sig)
{
    (void)sig;
    atomic_store(&stop_requested, true); /* lock-free: async-signal-safe */
}

/* ---- The terminal: progress line and script log lines ---- */

struct term {
    pthread_mutex_t lock; /* guards the members below and stderr lines of this run */
    const char *job;      /* borrowed: the job name */
    bool show_bar;        /* stderr is a terminal and no --json */
    bool bar_shown;       /* a progress line is on screen now */
    int cols;             /* terminal width */
    int stage;            /* stage whose first report came at stage_t0 */
    double stage_t0;      /* s: elapsed_s at that report */
};

static void bar_clear_locked(struct term *t)
{
    if (t->bar_shown) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
        t->bar_shown = false;
    }
}

/* print() and sluice.log() of the script, from any worker thread. */
static void log_line(void *ud, const char *line, size_t line_len)
{
    struct term *t = ud;
    pthread_mutex_lock(&t->lock);
    bar_clear_locked(t); /* the next progress report draws it again */
    sl_log(SL_LOG_INFO, "[job:%s] %.*s", t->job, (int)(line_len > INT_MAX ? INT_MAX : line_len),
           line);
    pthread_mutex_unlock(&t->lock);
}

static const char *human_count(uint64_t n, char *buf, size_t len)
{
    static const char units[] = "kMGTPE";
    double v = (double)n;
    int u = -1;
    if (n < 1000) {
        snprintf(buf, len, "%" PRIu64, n);
        return buf;
    }
    while (v >= 1000 && u < 5) {
        v /= 1000;
        u++;
    }
    snprintf(buf, len, v < 10 ? "%.1f%c" : "%.0f%c", v, units[u]);
    return buf;
}

static const char *human_bytes(uint64_t n, char *buf, size_t len)
{
    static const char *const units[] = {"kB", "MB", "GB", "TB", "PB", "EB"};
    double v = (double)n;
    int u = -1;
    if (n < 1000) {
        snprintf(buf, len, "%" PRIu64 " B", n);
        return buf;
    }
    while (v >= 1000 && u < 5) {
        v /= 1000;
        u++;
    }
    snprintf(buf, len, v < 10 ? "%.1f %s" : "%.0f %s", v, units[u]);
    return buf;
}

static const char *human_duration(double s, char *buf, size_t len)
{
    long long n = s < 0 ? 0 : s > 1e9 ? 1000000000LL : (long long)(s + 0.5);
    if (n < 60)
        snprintf(buf, len, "%llds", n);
    else if (n < 3600)
        snprintf(buf, len, "%lldm%02llds", n / 60, n % 60);
    else
        snprintf(buf, len, "%lldh%02lldm", n / 3600, n / 60 % 60);
    return buf;
}

/* "[stage 2/3 group_agg] ███████░░░ 14/20 tasks  1.2M rows  105 MB  ETA 3s". The
 * ETA is the current stage's: its elapsed time per task done, times the tasks
 * left (later stages are unknown, so they are not guessed). */
static void progress(void *ud, const struct sl_exec_progress *p)
{
    struct term *t = ud;
    char label[64], rows[16], bytes[16], eta[48], dur[32], tail[160], bar[RUN_BAR_CELLS * 3 + 1];
    char kind[24];
    size_t o = 0;

    pthread_mutex_lock(&t->lock);
    if (p->stage != t->stage) {
        t->stage = p->stage;
        t->stage_t0 = p->elapsed_s;
    }
    /* the engine names a stage "node 4 group_agg (line 12)": show the kind */
    const char *name = p->stage_name ? p->stage_name : "";
    if (sscanf(name, "node %*d %23s", kind) == 1)
        name = kind;
    snprintf(label, sizeof label, "%s", name);

    int filled = p->tasks_total ? (int)(p->tasks_done * RUN_BAR_CELLS / p->tasks_total) : 0;
    if (filled > RUN_BAR_CELLS)
        filled = RUN_BAR_CELLS;
    for (int i = 0; i < RUN_BAR_CELLS; i++) {
        const char *cell = i < filled ? "\xe2\x96\x88" : "\xe2\x96\x91"; /* U+2588, U+2591 */
        memcpy(bar + o, cell, 3);
        o += 3;
    }
    bar[o] = '\0';

    double stage_s = p->elapsed_s - t->stage_t0;
    if (p->tasks_done > 0 && p->tasks_done < p->tasks_total && stage_s > 0)
        snprintf(eta, sizeof eta, "ETA %s",
                 human_duration(stage_s / (double)p->tasks_done *
                                    (double)(p->tasks_total - p->tasks_done),
                                dur, sizeof dur));
    else if (p->tasks_total && p->tasks_done >= p->tasks_total)
        snprintf(eta, sizeof eta, "ETA 0s");
    else
        snprintf(eta, sizeof eta, "ETA --");
    snprintf(tail, sizeof tail, "%" PRIu64 "/%" PRIu64 " tasks  %s rows  %s  %s", p->tasks_done,
             p->tasks_total, human_count(p->rows_read, rows, sizeof rows),
             human_bytes(p->bytes_read, bytes, sizeof bytes), eta);

    /* one line only, or '\r' cannot redraw it: shorten the label to fit */
    char head[32];
    int head_len = snprintf(head, sizeof head, "[stage %d/%d ", p->stage, p->n_stages);
    int fixed = head_len + 2 + RUN_BAR_CELLS + 1 + (int)strlen(tail);
    int room = t->cols - 1 - fixed;
    if (room < 0)
        room = 0;
    if ((int)strlen(label) > room)
        label[room] = '\0';
    fprintf(stderr, "\r%s%s] %s %s\033[K", head, label, bar, tail);
    fflush(stderr);
    t->bar_shown = true;
    pthread_mutex_unlock(&t->lock);
}

/* ---- Results ---- */

static const char *state_of(int rc)
{
    if (rc == SL_OK)
        return "SUCCEEDED";
    if (rc == SL_ECANCELLED && atomic_load(&stop_requested))
        return "STOPPED";
    return "FAILED";
}

static void print_summary(const char *run_id, const char *job, const char *state,
                          const struct sl_exec_result *r, const char *error_out)
{
    char b1[16], b2[16];
    printf("run %s of job \"%s\": %s in %.1f s\n", run_id, job, state, r->seconds);
    printf("rows: %" PRIu64 " read (%s), %" PRIu64 " written, %" PRIu64 " rejected\n", r->rows_read,
           human_bytes(r->bytes_read, b1, sizeof b1), r->rows_written, r->rows_rejected);
    if (r->spill_bytes || r->peak_shuffle_mem)
        printf("shuffle: %s peak in memory, %s spilled\n",
               human_bytes(r->peak_shuffle_mem, b1, sizeof b1),
               human_bytes(r->spill_bytes, b2, sizeof b2));
    if (r->bookmark_advanced)
        printf("bookmark advanced\n");
    if (r->n_files) {
        printf("published %zu file%s:\n", r->n_files, r->n_files == 1 ? "" : "s");
        for (size_t i = 0; i < r->n_files && i < RUN_FILES_SHOWN; i++)
            printf("  %s\n", r->files[i]);
        if (r->n_files > RUN_FILES_SHOWN)
            printf("  ... and %zu more (see --json)\n", r->n_files - RUN_FILES_SHOWN);
    }
    if (r->n_nodes) {
        printf("%4s  %-14s %5s %12s %12s %9s %10s %8s\n", "node", "kind", "line", "rows in",
               "rows out", "rejected", "spill", "seconds");
        for (size_t i = 0; i < r->n_nodes; i++) {
            const struct sl_exec_node_stats *n = &r->nodes[i];
            printf("%4d  %-14s %5d %12" PRIu64 " %12" PRIu64 " %9" PRIu64 " %10s %8.2f\n", n->node,
                   n->kind, n->line, n->rows_in, n->rows_out, n->rows_rejected,
                   n->spill_bytes ? human_bytes(n->spill_bytes, b1, sizeof b1) : "-", n->seconds);
        }
    }
    if (r->rows_rejected)
        printf("rejected rows: %s\n", error_out ? error_out : "not kept");
}

/* A JSON string of s; bytes that are not UTF-8 (data quoted in a message)
 * become '?' rather than losing the whole result. */
static json_t *jstr(const char *s)
{
    json_t *j = json_string(s);
    if (j)
        return j;
    char *copy = sl_strdup(s);
    if (!copy)
        return NULL;
    for (char *p = copy; *p; p++) {
        if ((unsigned char)*p >= 0x80)
            *p = '?';
    }
    j = json_string(copy);
    sl_free(copy);
    return j;
}

static json_t *result_json(const char *run_id, const char *job, const char *state, int rc,
                           const struct sl_err *err, const struct sl_exec_result *r,
                           const char *error_out)
{
    char clean[sizeof err->msg];
    json_t *files = json_array();
    json_t *nodes = json_array();
    for (size_t i = 0; i < r->n_files; i++)
        json_array_append_new(files, jstr(r->files[i]));
    for (size_t i = 0; i < r->n_nodes; i++) {
        const struct sl_exec_node_stats *n = &r->nodes[i];
        json_array_append_new(
            nodes,
            json_pack("{s:i,s:s,s:i,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:f}", "node", n->node, "kind",
                      n->kind, "line", n->line, "rows_in", (json_int_t)n->rows_in, "rows_out",
                      (json_int_t)n->rows_out, "rows_rejected", (json_int_t)n->rows_rejected,
                      "bytes_in", (json_int_t)n->bytes_in, "spill_bytes",
                      (json_int_t)n->spill_bytes, "objects", (json_int_t)n->objects,
                      "skipped_objects", (json_int_t)n->skipped_objects, "seconds", n->seconds));
    }
    return json_pack("{s:o,s:o,s:s,s:o,s:f,s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:o,s:b,s:b,s:o}", "run_id",
                     jstr(run_id), "job", jstr(job), "state", state, "error",
                     rc == SL_OK ? json_null() : jstr(sl_redact(err->msg, clean, sizeof clean)),
                     "seconds", r->seconds, "rows_read", (json_int_t)r->rows_read, "bytes_read",
                     (json_int_t)r->bytes_read, "rows_written", (json_int_t)r->rows_written,
                     "rows_rejected", (json_int_t)r->rows_rejected, "spill_bytes",
                     (json_int_t)r->spill_bytes, "peak_shuffle_mem",
                     (json_int_t)r->peak_shuffle_mem, "files", files, "error_output",
                     error_out && r->rows_rejected ? jstr(error_out) : json_null(),
                     "bookmark_advanced", (int)r->bookmark_advanced, "bookmark_exactly_once",
                     (int)r->bookmark_exactly_once, "nodes", nodes);
}

/* ---- Arguments ---- */

static int cmp_arg(const void *a, const void *b)
{
    return strcmp(((const struct sl_plan_arg *)a)->key, ((const struct sl_plan_arg *)b)->key);
}

/* args = the header's defaults, then each --arg KEY=VALUE in order (a later one
 * wins), sorted by key. Keys are borrowed from h or owned by *keys (sl_free
 * each, then the array); values from h or argv. */
static int merge_args(const struct sl_job_header *h, char **cli, size_t n_cli,
                      struct sl_plan_arg **out, size_t *n_out, char ***keys, struct sl_err *err)
{
    struct sl_plan_arg *a = sl_calloc(h->n_args + n_cli + 1, sizeof *a);
    char **k = sl_calloc(n_cli + 1, sizeof *k);
    size_t n = 0;

    *out = a;
    *keys = k;
    *n_out = 0;
    if (!a || !k)
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    for (size_t i = 0; i < h->n_args; i++) {
        a[n].key = h->args[i].key;
        a[n++].value = h->args[i].value;
    }
    for (size_t i = 0; i < n_cli; i++) {
        const char *eq = strchr(cli[i], '=');
        if (!(k[i] = sl_strndup(cli[i], (size_t)(eq - cli[i]))))
            return sl_err_set(err, SL_ENOMEM, "out of memory");
        size_t j = 0;
        while (j < n && strcmp(a[j].key, k[i]) != 0)
            j++;
        a[j].key = k[i];
        a[j].value = eq + 1;
        if (j == n)
            n++;
    }
    qsort(a, n, sizeof *a, cmp_arg);
    *n_out = n;
    return SL_OK;
}

/* ---- The command ---- */

enum {
    OPT_RESET = 256,
    OPT_NO_BOOKMARK,
    OPT_BOOKMARK,
    OPT_JOB_NAME,
    OPT_JSON,
    OPT_RUN_ID,
    OPT_ERRORS,
    OPT_PARTITIONS,
};

int cmd_run(int argc, char **argv)
{
    static const struct option lopts[] = {
        {"arg", required_argument, NULL, 'a'},
        {"workers", required_argument, NULL, 'w'},
        {"memory", required_argument, NULL, 'm'},
        {"reset-bookmark", no_argument, NULL, OPT_RESET},
        {"no-bookmark", no_argument, NULL, OPT_NO_BOOKMARK},
        {"bookmark", no_argument, NULL, OPT_BOOKMARK},
        {"job-name", required_argument, NULL, OPT_JOB_NAME},
        {"json", no_argument, NULL, OPT_JSON},
        {"run-id", required_argument, NULL, OPT_RUN_ID},
        {"errors", required_argument, NULL, OPT_ERRORS},
        {"partitions", required_argument, NULL, OPT_PARTITIONS},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    struct sl_err err = {0};
    struct sl_job_header hdr = {0};
    struct sl_exec_opts opts;
    struct sl_exec_result res;
    struct term term = {.lock = PTHREAD_MUTEX_INITIALIZER};
    struct sigaction sa, old_int, old_term;
    char **cli_args = NULL, **arg_keys = NULL;
    struct sl_plan_arg *args = NULL;
    size_t n_cli_args = 0, n_args = 0;
    char *src = NULL, *run_dir = NULL, *spill_dir = NULL, *error_out = NULL;
    char run_id[RUN_ID_MAX + 1];
    const char *run_id_opt = NULL, *errors_opt = NULL, *job_name_opt = NULL;
    long long workers = 0, memory_mib = RUN_MEMORY_DEFAULT_MIB, partitions = 0;
    bool json = cli_json, reset_bookmark = false, no_bookmark = false, signals_set = false;
    bool force_bookmark = false;
    bool ran = false;
    size_t src_len = 0;
    int c, rc = SL_EXIT_USAGE;

    memset(&res, 0, sizeof res);
    while ((c = getopt_long(argc, argv, "a:w:m:h", lopts, NULL)) != -1) {
        switch (c) {
        case 'a': {
            const char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg) {
                rc = cli_usage_error("run", "--arg wants KEY=VALUE, not \"%s\"", optarg);
                goto out;
            }
            char **p = sl_realloc(cli_args, (n_cli_args + 1) * sizeof *p);
            if (!p) {
                sl_err_set(&err, SL_ENOMEM, "out of memory");
                rc = cli_fail("run", &err);
                goto out;
            }
            cli_args = p;
            cli_args[n_cli_args++] = optarg;
            break;
        }
        case 'w':
            if (parse_num(optarg, 1, SL_EXEC_WORKERS_MAX, &workers)) {
                rc = cli_usage_error("run", "--workers wants a number from 1 to %d, not \"%s\"",
                                     SL_EXEC_WORKERS_MAX, optarg);
                goto out;
            }
            break;
        case 'm':
            if (parse_num(optarg, 0, RUN_MEMORY_MAX_MIB, &memory_mib)) {
                rc = cli_usage_error("run",
                                     "--memory wants MiB, a number from 0 (unlimited) to "
                                     "%lld, not \"%s\"",
                                     RUN_MEMORY_MAX_MIB, optarg);
                goto out;
            }
            break;
        case OPT_PARTITIONS:
            if (parse_num(optarg, 1, RUN_PARTITIONS_MAX, &partitions)) {
                rc = cli_usage_error("run", "--partitions wants a number from 1 to %d, not \"%s\"",
                                     RUN_PARTITIONS_MAX, optarg);
                goto out;
            }
            break;
        case OPT_RESET: reset_bookmark = true; break;
        case OPT_NO_BOOKMARK: no_bookmark = true; break;
        case OPT_BOOKMARK: force_bookmark = true; break;
        case OPT_JOB_NAME: job_name_opt = optarg; break;
        case OPT_JSON: json = true; break;
        case OPT_RUN_ID: run_id_opt = optarg; break;
        case OPT_ERRORS:
            if (!*optarg) {
                rc = cli_usage_error("run", "--errors wants a path or an s3:// URI");
                goto out;
            }
            errors_opt = optarg;
            break;
        case 'h':
            usage(stdout);
            rc = SL_EXIT_OK;
            goto out;
        default: rc = cli_usage_error("run", "bad option"); goto out;
        }
    }
    if (optind >= argc) {
        rc = cli_usage_error("run", "expected a script (SCRIPT.lua)");
        goto out;
    }
    if (optind != argc - 1) {
        rc = cli_usage_error("run", "expected one script, got %d arguments", argc - optind);
        goto out;
    }
    const char *script = argv[optind];

    /* the run id */
    if (!run_id_opt) {
        const char *env = getenv("SLUICE_RUN_ID");
        run_id_opt = env && *env ? env : NULL;
    }
    if (run_id_opt) {
        if (!run_id_valid(run_id_opt)) {
            rc = cli_usage_error("run", "run id \"%s\" must be 1 to %d of A-Z a-z 0-9 _ -",
                                 run_id_opt, RUN_ID_MAX);
            goto out;
        }
        snprintf(run_id, sizeof run_id, "%s", run_id_opt);
    } else if (random_run_id(run_id, sizeof run_id, &err) != SL_OK) {
        rc = cli_fail("run", &err);
        goto out;
    }

    /* the script and its header */
    if (read_script(script, &src, &src_len, &err) != SL_OK) {
        rc = cli_fail("run", &err);
        goto out;
    }
    time_t now = time(NULL);
    struct sl_job_header_opts hopts = {.now = now};
    if (sl_job_header_read_opts(script, src, src_len, &hopts, &hdr, &err) != SL_OK) {
        rc = cli_fail("run", &err); /* a bad job{} is SL_ECONFIG (2), a syntax error 1 */
        goto out;
    }
    const char *job_name = job_name_opt ? job_name_opt : hdr.name;
    if (merge_args(&hdr, cli_args, n_cli_args, &args, &n_args, &arg_keys, &err) != SL_OK) {
        rc = cli_fail("run", &err);
        goto out;
    }
    if (workers == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        workers = n < 1 ? 1 : n > SL_EXEC_WORKERS_MAX ? SL_EXEC_WORKERS_MAX : n;
    }

    /* the run folder */
    const char *home = getenv("SLUICE_HOME"); /* resolved as runtime/pgembed.c does */
    home = home && *home ? home : ".sluice";
    if (!(run_dir = sl_asprintf("%s/runs/%s", home, run_id))) {
        sl_err_set(&err, SL_ENOMEM, "out of memory");
        rc = cli_fail("run", &err);
        goto out;
    }
    if (mkdir_p(run_dir, 0700, &err) != SL_OK) {
        rc = cli_fail("run", &err);
        goto out;
    }
    char abs_dir[PATH_MAX];
    if (realpath(run_dir, abs_dir)) { /* messages and the JSON name absolute paths */
        sl_free(run_dir);
        if (!(run_dir = sl_strdup(abs_dir))) {
            sl_err_set(&err, SL_ENOMEM, "out of memory");
            rc = cli_fail("run", &err);
            goto out;
        }
    }
    spill_dir = sl_asprintf("%s/spill", run_dir);
    error_out = errors_opt ? sl_strdup(errors_opt) : sl_asprintf("%s/errors.jsonl", run_dir);
    if (!spill_dir || !error_out) {
        sl_err_set(&err, SL_ENOMEM, "out of memory");
        rc = cli_fail("run", &err);
        goto out;
    }

    /* from here on spill/ exists and is removed at out:, whatever happens */
    atomic_store(&stop_requested, false);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    signals_set = true;
    remove_tree(spill_dir); /* a leftover of a killed run with the same id */
    if (mkdir(spill_dir, 0700) != 0) {
        sl_err_sys(&err, SL_ECONFIG, errno, "cannot create \"%s\"", spill_dir);
        rc = cli_fail("run", &err);
        goto out;
    }

    term.job = job_name;
    term.show_bar = !json && isatty(STDERR_FILENO);
    term.cols = 80;
    struct winsize ws;
    if (term.show_bar && ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        term.cols = ws.ws_col;

    sl_exec_opts_init(&opts);
    opts.chunkname = script;
    opts.src = src;
    opts.src_len = src_len;
    opts.plan.job = job_name;
    opts.plan.run_id = run_id;
    opts.plan.args = args;
    opts.plan.n_args = n_args;
    opts.plan.now = now;
    opts.plan.timeout_ms = hdr.timeout_ms;
    opts.plan.allow_files = hdr.allow_files;
    opts.plan.stop = &stop_requested;
    opts.plan.log_fn = log_line;
    opts.plan.log_ud = &term;
    opts.workers = (int)workers;
    opts.memory_budget = (size_t)memory_mib << 20;
    opts.spill_dir = spill_dir;
    opts.partitions = (int)partitions;
    opts.max_errors = hdr.max_errors;
    opts.error_uri = error_out;
    opts.bookmark = (hdr.bookmark || force_bookmark) && !no_bookmark;
    opts.reset_bookmark = reset_bookmark;
    opts.infer = cli_infer_schema;
    opts.infer_ud = NULL;
    opts.progress = term.show_bar ? progress : NULL;
    opts.progress_ud = &term;

    int xrc = sl_exec_run(&opts, &res, &err);
    ran = true;

    pthread_mutex_lock(&term.lock);
    bar_clear_locked(&term);
    pthread_mutex_unlock(&term.lock);
    const char *state = state_of(xrc);
    if (json) {
        json_t *j = result_json(run_id, job_name, state, xrc, &err, &res, error_out);
        if (j) {
            json_dumpf(j, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
            fputc('\n', stdout);
            json_decref(j);
        }
    } else if (xrc == SL_OK || res.n_nodes) { /* not when the script did not even plan */
        print_summary(run_id, job_name, state, &res, error_out);
    }
    fflush(stdout);
    rc = xrc == SL_OK ? SL_EXIT_OK : cli_fail("run", &err);
out:
    if (spill_dir && signals_set)
        remove_tree(spill_dir);
    if (signals_set) {
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
    }
    if (ran)
        sl_exec_result_cleanup(&res);
    for (size_t i = 0; arg_keys && i < n_cli_args; i++)
        sl_free(arg_keys[i]);
    sl_free(arg_keys);
    sl_free(args);
    sl_free(cli_args);
    sl_job_header_cleanup(&hdr);
    sl_free(src);
    sl_free(run_dir);
    sl_free(spill_dir);
    sl_free(error_out);
    return rc;
}
