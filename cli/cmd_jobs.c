/*
 * cli/cmd_jobs.c - the job run commands of the sluice executable: `sluice jobs`
 * (job definitions with their latest run), `sluice runs JOB` (a job's runs,
 * newest first), `sluice start JOB` (queues a run), `sluice stop RUN_ID` and
 * `sluice logs RUN_ID`. They talk to the catalog directly, not to the HTTP API:
 * a run queued here is executed by the dispatcher of whichever `sluice serve`
 * shares the catalog (scheduler/dispatch.c). Output is aligned text or (--json)
 * the AWS Glue API's shapes (Job, JobRun), as `aws glue get-jobs` and
 * `get-job-runs` print them. The run queue itself is runtime/catalog_run.c; the
 * HTTP operations are scheduler/api_jobs.c and scheduler/api_runs.c.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "runtime/alloc.h"
#include "runtime/catalog.h"
#include "runtime/catalog_json.h"
#include "runtime/catalog_run.h"
#include "scheduler/api.h"

#define POLL_MIN_MS    200   /* first wait between polls of a run */
#define POLL_MAX_MS    1000  /* longest wait: a run's state is cheap to read */
#define QUEUED_HINT_MS 15000 /* ms a run may sit unclaimed before --wait says why */
#define INT_OPTION_MAX 2147483647LL

/* ---- Help ---- */

static void usage_jobs(FILE *f)
{
    fprintf(f, "usage: sluice jobs [--json]\n"
               "\n"
               "Lists the jobs of the catalog: name, where the definition comes from (api:\n"
               "CreateJob/UpdateJob, or file:PATH from `sluice serve --jobs`), schedule,\n"
               "MaxConcurrentRuns, Timeout (minutes), MaxRetries, and the state and start\n"
               "time of each job's latest run.\n"
               "\n"
               "Options:\n"
               "  --json      print {\"Jobs\": [...]} in the AWS Glue Job shape (as GetJobs)\n"
               "  -h, --help  print this help\n"
               "\n"
               "The catalog is SLUICE_CATALOG (a libpq connection string or URI), or the\n"
               "embedded PostgreSQL under $SLUICE_HOME (default ./.sluice) when it is unset.\n"
               "Exit codes: 0 ok, 1 failed, 2 usage or configuration error.\n");
}

static void usage_runs(FILE *f)
{
    fprintf(f, "usage: sluice runs JOB [--limit N] [--json]\n"
               "\n"
               "Lists the runs of JOB, newest first: run id, attempt (0, then 1.. for\n"
               "retries), state, start time (when it was queued), duration (time spent\n"
               "RUNNING), the trigger that started it and the error of a failed run.\n"
               "\n"
               "Options:\n"
               "  -n, --limit N  only the newest N runs (default: all)\n"
               "  --json         print {\"JobRuns\": [...]} in the AWS Glue JobRun shape\n"
               "                 (as GetJobRuns)\n"
               "  -h, --help     print this help\n"
               "\n"
               "Exit codes: 0 ok, 1 no such job or failed, 2 usage or configuration error.\n");
}

static void usage_start(FILE *f)
{
    fprintf(f,
            "usage: sluice start JOB [--arg KEY=VALUE]... [--timeout MINUTES] [--workers N]\n"
            "                    [--wait] [--json]\n"
            "\n"
            "Queues a run of JOB in the catalog (as Glue StartJobRun) and prints its id.\n"
            "The run is executed by a running `sluice serve` that shares the catalog; with\n"
            "no server running it stays STARTING until one starts. The job's\n"
            "MaxConcurrentRuns is enforced: a job already running that many times is\n"
            "refused (ConcurrentRunsExceeded).\n"
            "\n"
            "Options:\n"
            "  -a, --arg KEY=VALUE   a run argument \"--KEY\": \"VALUE\", seen by the script as\n"
            "                        ctx.args.KEY; overrides the job's DefaultArguments of\n"
            "                        that key (repeatable; NonOverridableArguments cannot\n"
            "                        be changed)\n"
            "  -t, --timeout MINUTES the run's timeout (default: the job's Timeout, else 2880)\n"
            "  -w, --workers N       worker threads of the run (default: the job's\n"
            "                        NumberOfWorkers, else the server's choice)\n"
            "      --wait            wait until the run ends, printing its log as it grows,\n"
            "                        then its final state; Ctrl-C stops waiting, not the run\n"
            "                        (use `sluice stop`)\n"
            "      --json            print {\"JobRunId\": ...}; with --wait {\"JobRun\": {...}}\n"
            "                        at the end (the log then goes to stderr)\n"
            "  -h, --help            print this help\n"
            "\n"
            "Exit codes: 0 queued (with --wait: the run SUCCEEDED); 1 no such job, too many\n"
            "concurrent runs, or (with --wait) the run did not succeed; 2 usage or\n"
            "configuration error, including arguments that change NonOverridableArguments.\n");
}

static void usage_stop(FILE *f)
{
    fprintf(f, "usage: sluice stop RUN_ID [--job JOB]\n"
               "\n"
               "Asks a run to stop (as Glue BatchStopJobRun): a run still queued becomes\n"
               "STOPPED at once; a running one becomes STOPPING, and the `sluice serve` that\n"
               "executes it stops the script, after which it is STOPPED. Prints the state.\n"
               "\n"
               "Options:\n"
               "  -j, --job JOB  only a run of JOB\n"
               "  -h, --help     print this help\n"
               "\n"
               "Exit codes: 0 stop requested; 1 no such run, or the run has already ended;\n"
               "2 usage or configuration error.\n");
}

static void usage_logs(FILE *f)
{
    fprintf(f, "usage: sluice logs RUN_ID [--follow]\n"
               "\n"
               "Prints the log a run's script wrote (its stderr: print() and sluice.log()\n"
               "lines, progress and errors), as captured by the `sluice serve` that ran it.\n"
               "Logs are capped in size; when the oldest part was dropped a note says so on\n"
               "stderr.\n"
               "\n"
               "Options:\n"
               "  -f, --follow  keep printing what is appended until the run ends\n"
               "  -h, --help    print this help\n"
               "\n"
               "Exit codes: 0 ok, 1 no such run or failed, 2 usage or configuration error.\n");
}

/* ---- Small helpers ---- */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

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

/* "2024-11-26T11:46:11Z" (UTC) or "-" for 0. */
static const char *fmt_time(int64_t ms, char *buf, size_t buf_len)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;

    if (ms <= 0 || !gmtime_r(&s, &tm) || strftime(buf, buf_len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        return "-";
    return buf;
}

/* "850ms", "12s", "3m04s", "2h05m"; "-" for a negative duration. */
static const char *fmt_duration(int64_t ms, char *buf, size_t buf_len)
{
    if (ms < 0)
        return "-";
    int64_t s = ms / 1000;
    if (ms < 1000)
        snprintf(buf, buf_len, "%" PRId64 "ms", ms);
    else if (s < 60)
        snprintf(buf, buf_len, "%" PRId64 "s", s);
    else if (s < 3600)
        snprintf(buf, buf_len, "%" PRId64 "m%02" PRId64 "s", s / 60, s % 60);
    else
        snprintf(buf, buf_len, "%" PRId64 "h%02" PRId64 "m", s / 3600, (s / 60) % 60);
    return buf;
}

/* How long run r has been (or was) RUNNING, in ms; -1 when it never ran. */
static int64_t run_exec_ms(const struct sl_run *r)
{
    if (r->running_ms <= 0)
        return -1;
    int64_t end = r->completed_ms > 0 ? r->completed_ms : now_ms();
    return end > r->running_ms ? end - r->running_ms : 0;
}

/* ---- Glue shapes ---- */

/* Both are the API's own, so `sluice jobs --json` and `aws glue get-jobs`
 * print the same members: the Job is sl_api_job_json (scheduler/api.h), the
 * JobRun sl_run_json (runtime/catalog_run.h). */

static int print_json(const char *cmd, json_t *doc)
{
    char *text = doc ? sl_catalog_json_dump(doc, 1) : NULL;

    json_decref(doc);
    if (!text) {
        fprintf(stderr, "sluice %s: out of memory\n", cmd);
        return SL_EXIT_FAIL;
    }
    printf("%s\n", text);
    sl_free(text);
    return SL_EXIT_OK;
}

/* {"<key>": [shape of each]} (owned), NULL on OOM. */
static json_t *list_doc(const char *key, size_t n, json_t *(*item)(const void *, size_t),
                        const void *items)
{
    json_t *list = json_array();

    for (size_t i = 0; list && i < n; i++) {
        if (json_array_append_new(list, item(items, i)) != 0) {
            json_decref(list);
            list = NULL;
        }
    }
    return list ? json_pack("{s:o}", key, list) : NULL;
}

static json_t *job_item(const void *jobs, size_t i)
{
    return sl_api_job_json(&((const struct sl_catalog_job *)jobs)[i]);
}

static json_t *run_item(const void *runs, size_t i)
{
    return sl_run_json(&((const struct sl_run *)runs)[i], 0);
}

/* ---- Option parsing shared by the commands ---- */

/* The usual ending of a getopt loop: a missing value or an unknown option. */
static int bad_option(const char *cmd, int opt, char **argv)
{
    if (opt == ':')
        return cli_usage_error(cmd, "option \"%s\" needs a value", argv[optind - 1]);
    return cli_usage_error(cmd, "unknown option \"%s\"", argv[optind - 1]);
}

/* Exactly one positional argument (what), or a usage error. */
static int one_arg(const char *cmd, const char *what, int argc, char **argv, const char **out)
{
    if (optind >= argc)
        return cli_usage_error(cmd, "which %s?", what);
    if (optind + 1 != argc)
        return cli_usage_error(cmd, "unexpected argument \"%s\"", argv[optind + 1]);
    if (!argv[optind][0])
        return cli_usage_error(cmd, "%s is empty", what);
    *out = argv[optind];
    return SL_EXIT_OK;
}

/* ---- sluice jobs ---- */

int cmd_jobs(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'J'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *cmd = "jobs";
    struct sl_catalog_job *jobs = NULL;
    struct sl_catalog *c = NULL;
    struct sl_err err = {0};
    struct cli_grid g = {.n_cols = 8};
    size_t n = 0;
    int json = cli_json;
    int opt, rc;

    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (opt) {
        case 'J': json = 1; break;
        case 'h': usage_jobs(stdout); return SL_EXIT_OK;
        default: return bad_option(cmd, opt, argv);
        }
    }
    if (optind < argc)
        return cli_usage_error(cmd, "unexpected argument \"%s\"", argv[optind]);

    c = sl_catalog_open(&err);
    if (!c)
        return cli_fail(cmd, &err);
    if (sl_catalog_job_list(c, NULL, 0, &jobs, &n, &err) != SL_OK) {
        rc = cli_fail(cmd, &err);
        goto done;
    }
    if (json) {
        rc = print_json(cmd, list_doc("Jobs", n, job_item, jobs));
        goto done;
    }
    const char *head[] = {"NAME",    "SOURCE",  "SCHEDULE", "CONCURRENCY",
                          "TIMEOUT", "RETRIES", "LAST RUN", "STARTED"};
    for (size_t i = 0; i < SL_ARRAY_LEN(head); i++)
        cli_grid_add(&g, head[i]);
    for (size_t i = 0; i < n; i++) {
        const struct sl_catalog_job *j = &jobs[i];
        struct sl_run *last = NULL;
        char tb[40], to[32];

        if (sl_catalog_run_latest(c, SL_RUN_JOB, j->name, 0, &last, &err) != SL_OK) {
            rc = cli_fail(cmd, &err);
            goto done;
        }
        snprintf(to, sizeof to, "%dm",
                 j->timeout_minutes ? j->timeout_minutes : SL_RUN_TIMEOUT_DEFAULT);
        cli_grid_add(&g, j->name);
        cli_grid_add(&g, j->source ? j->source : "api");
        cli_grid_add(&g, j->schedule);
        cli_grid_addf(&g, "%lld", (long long)j->max_concurrent_runs);
        cli_grid_add(&g, to);
        cli_grid_addf(&g, "%lld", (long long)j->max_retries);
        cli_grid_add(&g, last ? sl_run_state_name(last->state) : NULL);
        cli_grid_add(&g, last ? fmt_time(last->started_ms, tb, sizeof tb) : NULL);
        sl_run_free(last);
    }
    rc = cli_grid_print(&g, cmd, "");
done:
    cli_grid_free(&g);
    sl_catalog_job_list_free(jobs, n);
    sl_catalog_free(c);
    return rc;
}

/* ---- sluice runs ---- */

int cmd_runs(int argc, char **argv)
{
    static const struct option opts[] = {
        {"limit", required_argument, NULL, 'n'},
        {"json", no_argument, NULL, 'J'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *cmd = "runs";
    const char *name = NULL;
    struct sl_catalog_job *job = NULL;
    struct sl_run *runs = NULL;
    struct sl_catalog *c = NULL;
    struct sl_err err = {0};
    struct cli_grid g = {.n_cols = 7};
    size_t n = 0;
    long long limit = 0;
    int json = cli_json;
    int opt, rc;

    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":n:h", opts, NULL)) != -1) {
        switch (opt) {
        case 'n':
            if (parse_num(optarg, 1, INT_OPTION_MAX, &limit) != 0)
                return cli_usage_error(cmd, "--limit wants a number from 1, not \"%s\"", optarg);
            break;
        case 'J': json = 1; break;
        case 'h': usage_runs(stdout); return SL_EXIT_OK;
        default: return bad_option(cmd, opt, argv);
        }
    }
    if ((rc = one_arg(cmd, "job", argc, argv, &name)) != SL_EXIT_OK)
        return rc;

    c = sl_catalog_open(&err);
    if (!c)
        return cli_fail(cmd, &err);
    /* GetJobRuns answers EntityNotFound for an unknown job, not an empty list */
    if (sl_catalog_job_get(c, name, &job, &err) != SL_OK ||
        sl_catalog_run_list(c, SL_RUN_JOB, name, 0, (size_t)limit, &runs, &n, &err) != SL_OK) {
        rc = cli_fail(cmd, &err);
        goto done;
    }
    if (json) {
        rc = print_json(cmd, list_doc("JobRuns", n, run_item, runs));
        goto done;
    }
    const char *head[] = {"ID", "ATTEMPT", "STATE", "STARTED", "DURATION", "TRIGGER", "ERROR"};
    for (size_t i = 0; i < SL_ARRAY_LEN(head); i++)
        cli_grid_add(&g, head[i]);
    for (size_t i = 0; i < n; i++) {
        const struct sl_run *r = &runs[i];
        char tb[40], db[32];
        cli_grid_add(&g, r->id);
        cli_grid_addf(&g, "%lld", (long long)r->attempt);
        cli_grid_add(&g, sl_run_state_name(r->state));
        cli_grid_add(&g, fmt_time(r->started_ms, tb, sizeof tb));
        cli_grid_add(&g, fmt_duration(run_exec_ms(r), db, sizeof db));
        cli_grid_add(&g, r->trigger_name);
        cli_grid_add(&g, r->error_message);
    }
    rc = cli_grid_print(&g, cmd, "");
done:
    cli_grid_free(&g);
    sl_run_list_free(runs, n);
    sl_catalog_job_free(job);
    sl_catalog_free(c);
    return rc;
}

/* ---- Run logs ---- */

/* Where a reader of a run's log is. */
struct log_cursor {
    int64_t offset; /* how much of the log was printed, in sl_catalog_run_log_read's unit */
    int told_truncated;
};

/* Prints what run id's log holds past cur->offset to out and advances the
 * cursor to the log's end. The log is read whole from the offset (it is capped
 * by the server), and the new offset is the total the same query reported, so
 * the cursor never depends on how the text's length is counted. A log whose
 * oldest part was dropped is noted once on stderr. */
static int log_pump(struct sl_catalog *c, const char *cmd, const char *id, struct log_cursor *cur,
                    FILE *out, struct sl_err *err)
{
    char *text = NULL;
    size_t len = 0;
    int64_t total = 0;
    int truncated = 0;

    if (sl_catalog_run_log_read(c, id, cur->offset, 0, &text, &len, NULL, &total, &truncated, err) !=
        SL_OK)
        return err->code;
    if (truncated && !cur->told_truncated) {
        fprintf(stderr,
                "sluice %s: the oldest part of the log of run %s was dropped (logs are "
                "capped)\n",
                cmd, id);
        cur->told_truncated = 1;
    }
    if (len > 0) {
        fwrite(text, 1, len, out);
        fflush(out);
    }
    cur->offset = total;
    sl_free(text);
    return SL_OK;
}

/* *out = run id of any job, or else of any crawler (owned: sl_run_free). */
static int run_find(struct sl_catalog *c, const char *job, const char *id, struct sl_run **out,
                    struct sl_err *err)
{
    int rc = sl_catalog_run_get(c, SL_RUN_JOB, job, id, out, err);
    if (rc == SL_ENOTFOUND && !job) {
        struct sl_err err2 = {0};
        if (sl_catalog_run_get(c, SL_RUN_CRAWLER, NULL, id, out, &err2) == SL_OK) {
            sl_err_clear(err);
            return SL_OK;
        }
    }
    return rc;
}

/* Polls run id (of job, NULL: any) until it is terminal, printing its log to
 * log_out as it grows. *out = the finished run (owned: sl_run_free). */
static int follow_run(struct sl_catalog *c, const char *cmd, const char *job, const char *id,
                      FILE *log_out, struct sl_run **out, struct sl_err *err)
{
    struct log_cursor cur = {0};
    int64_t since = now_ms();
    int wait = POLL_MIN_MS;
    int hinted = 0;

    *out = NULL;
    for (;;) {
        struct sl_run *r = NULL;
        /* the state first: a run seen terminal has its whole log stored */
        if (run_find(c, job, id, &r, err) != SL_OK ||
            log_pump(c, cmd, id, &cur, log_out, err) != SL_OK) {
            sl_run_free(r);
            return err->code;
        }
        if (sl_run_state_terminal(r->state)) {
            *out = r;
            return SL_OK;
        }
        if (r->state == SL_RUN_STARTING && !r->owner && !hinted &&
            now_ms() - since > QUEUED_HINT_MS) {
            fprintf(stderr,
                    "sluice %s: run %s is still queued: is a `sluice serve` running on "
                    "this catalog?\n",
                    cmd, id);
            hinted = 1;
        }
        sl_run_free(r);
        sleep_ms(wait);
        wait = wait * 2 > POLL_MAX_MS ? POLL_MAX_MS : wait * 2;
    }
}

/* ---- sluice start ---- */

/* *text = the run arguments of --arg KEY=VALUE options as a compact JSON object
 * of "--KEY": "VALUE" (a key given with its dashes is kept as is; a later value
 * of a key wins); owned: free() (jansson's allocator). SL_ECONFIG for a key or
 * value that is not UTF-8 (JSON strings must be), SL_ENOMEM. */
static int arguments_text(char **kv, size_t n_kv, char **text, struct sl_err *err)
{
    json_t *o = json_object();
    int rc = o ? SL_OK : sl_err_set(err, SL_ENOMEM, "out of memory");

    *text = NULL;
    for (size_t i = 0; rc == SL_OK && i < n_kv; i++) {
        const char *eq = strchr(kv[i], '=');
        int klen = (int)(eq - kv[i]);
        char *key = kv[i][0] == '-' && kv[i][1] == '-' ? sl_strndup(kv[i], (size_t)klen)
                                                       : sl_asprintf("--%.*s", klen, kv[i]);
        json_t *v = json_string(eq + 1);
        if (!key)
            rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        else if (!v || json_object_set(o, key, v) != 0)
            rc = sl_err_set(err, SL_ECONFIG, "--arg \"%.*s\": not valid UTF-8", klen, kv[i]);
        json_decref(v);
        sl_free(key);
    }
    if (rc == SL_OK && !(*text = json_dumps(o, JSON_COMPACT)))
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
    json_decref(o);
    return rc;
}

int cmd_start(int argc, char **argv)
{
    static const struct option opts[] = {
        {"arg", required_argument, NULL, 'a'},
        {"timeout", required_argument, NULL, 't'},
        {"workers", required_argument, NULL, 'w'},
        {"wait", no_argument, NULL, 'W'},
        {"json", no_argument, NULL, 'J'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *cmd = "start";
    const char *name = NULL;
    char **kv = NULL;
    size_t n_kv = 0;
    char *args = NULL;
    long long timeout = 0, workers = 0;
    int json = cli_json, wait = 0;
    struct sl_catalog *c = NULL;
    struct sl_run *done_run = NULL;
    struct sl_err err = {0};
    char id[SL_RUN_ID_MAX + 1];
    int opt, rc = SL_EXIT_USAGE;

    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":a:t:w:h", opts, NULL)) != -1) {
        switch (opt) {
        case 'a': {
            const char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg || (eq == optarg + 2 && optarg[0] == '-' && optarg[1] == '-')) {
                rc = cli_usage_error(cmd, "--arg wants KEY=VALUE, not \"%s\"", optarg);
                goto done;
            }
            char **p = sl_realloc(kv, (n_kv + 1) * sizeof *p);
            if (!p) {
                sl_err_set(&err, SL_ENOMEM, "out of memory");
                rc = cli_fail(cmd, &err);
                goto done;
            }
            kv = p;
            kv[n_kv++] = optarg;
            break;
        }
        case 't':
            if (parse_num(optarg, 1, INT_OPTION_MAX, &timeout) != 0) {
                rc = cli_usage_error(cmd, "--timeout wants minutes from 1, not \"%s\"", optarg);
                goto done;
            }
            break;
        case 'w':
            if (parse_num(optarg, 1, INT_OPTION_MAX, &workers) != 0) {
                rc = cli_usage_error(cmd, "--workers wants a number from 1, not \"%s\"", optarg);
                goto done;
            }
            break;
        case 'W': wait = 1; break;
        case 'J': json = 1; break;
        case 'h':
            usage_start(stdout);
            rc = SL_EXIT_OK;
            goto done;
        default: rc = bad_option(cmd, opt, argv); goto done;
        }
    }
    if ((rc = one_arg(cmd, "job", argc, argv, &name)) != SL_EXIT_OK)
        goto done;
    if (arguments_text(kv, n_kv, &args, &err) != SL_OK) {
        rc = cli_fail(cmd, &err);
        goto done;
    }

    c = sl_catalog_open(&err);
    if (!c) {
        rc = cli_fail(cmd, &err);
        goto done;
    }
    struct sl_run_request rq = {
        .kind = SL_RUN_JOB,
        .job_name = name,
        .arguments = args,
        .timeout_minutes = (int)timeout,
        .number_of_workers = (int)workers,
    };
    /* SL_ELIMIT (MaxConcurrentRuns) and SL_ENOTFOUND exit 1, SL_ECONFIG 2 */
    if (sl_catalog_run_start(c, &rq, id, NULL, &err) != SL_OK) {
        rc = cli_fail(cmd, &err);
        goto done;
    }
    if (!wait) {
        if (json)
            rc = print_json(cmd, json_pack("{s:s}", "JobRunId", id));
        else
            rc = printf("%s\n", id) < 0 ? SL_EXIT_FAIL : SL_EXIT_OK;
        goto done;
    }

    if (!json) {
        printf("%s\n", id);
        fflush(stdout);
    }
    if (follow_run(c, cmd, name, id, json ? stderr : stdout, &done_run, &err) != SL_OK) {
        rc = cli_fail(cmd, &err);
        goto done;
    }
    rc = done_run->state == SL_RUN_SUCCEEDED ? SL_EXIT_OK : SL_EXIT_FAIL;
    if (json) {
        json_t *r = sl_run_json(done_run, 0);
        if (print_json(cmd, r ? json_pack("{s:o}", "JobRun", r) : NULL) != SL_EXIT_OK)
            rc = SL_EXIT_FAIL;
    } else {
        int64_t ran = run_exec_ms(done_run);
        char db[32];
        printf("run %s of job \"%s\": %s in %s%s%s\n", id, name, sl_run_state_name(done_run->state),
               fmt_duration(ran < 0 ? 0 : ran, db, sizeof db), done_run->error_message ? ": " : "",
               done_run->error_message ? done_run->error_message : "");
    }
done:
    sl_run_free(done_run);
    sl_catalog_free(c);
    free(args); /* jansson's allocator */
    sl_free(kv);
    return rc;
}

/* ---- sluice stop ---- */

int cmd_stop(int argc, char **argv)
{
    static const struct option opts[] = {
        {"job", required_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *cmd = "stop";
    const char *id = NULL, *job = NULL;
    struct sl_catalog *c;
    struct sl_err err = {0};
    enum sl_run_state after = SL_RUN_STOPPING;
    int opt, rc;

    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":j:h", opts, NULL)) != -1) {
        switch (opt) {
        case 'j': job = optarg; break;
        case 'h': usage_stop(stdout); return SL_EXIT_OK;
        default: return bad_option(cmd, opt, argv);
        }
    }
    if ((rc = one_arg(cmd, "run id", argc, argv, &id)) != SL_EXIT_OK)
        return rc;

    c = sl_catalog_open(&err);
    if (!c)
        return cli_fail(cmd, &err);
    if (sl_catalog_run_stop(c, SL_RUN_JOB, job, id, &after, &err) != SL_OK) {
        rc = cli_fail(cmd, &err);
        /* a run that already ended is a failed request, not a usage error */
        if (err.code == SL_ECONFIG)
            rc = SL_EXIT_FAIL;
    } else {
        printf("run %s: %s\n", id, sl_run_state_name(after));
        rc = SL_EXIT_OK;
    }
    sl_catalog_free(c);
    return rc;
}

/* ---- sluice logs ---- */

int cmd_logs(int argc, char **argv)
{
    static const struct option opts[] = {
        {"follow", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *cmd = "logs";
    const char *id = NULL;
    struct sl_catalog *c;
    struct sl_run *r = NULL;
    struct sl_err err = {0};
    int follow = 0;
    int opt, rc;

    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":fh", opts, NULL)) != -1) {
        switch (opt) {
        case 'f': follow = 1; break;
        case 'h': usage_logs(stdout); return SL_EXIT_OK;
        default: return bad_option(cmd, opt, argv);
        }
    }
    if ((rc = one_arg(cmd, "run id", argc, argv, &id)) != SL_EXIT_OK)
        return rc;

    c = sl_catalog_open(&err);
    if (!c)
        return cli_fail(cmd, &err);
    if (follow) {
        rc = follow_run(c, cmd, NULL, id, stdout, &r, &err);
    } else {
        struct log_cursor cur = {0};
        rc = log_pump(c, cmd, id, &cur, stdout, &err);
    }
    rc = rc == SL_OK ? SL_EXIT_OK : cli_fail(cmd, &err);
    sl_run_free(r);
    sl_catalog_free(c);
    return rc;
}
