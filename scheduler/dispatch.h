/*
 * scheduler/dispatch.h - the run dispatcher of `sluice serve`: one thread that
 * claims queued runs from the catalog (runtime/catalog_run.h, FOR UPDATE SKIP
 * LOCKED, so several servers share one queue), executes each as a child
 * process (`sluice run SCRIPT` for a job, `sluice crawl --name NAME` for a
 * crawler), captures the child's output into the run's log, renews the leases
 * of its runs, enforces Timeout (SIGTERM, then SIGKILL), carries out stop
 * requests (BatchStopJobRun: SIGTERM, SIGKILL after the grace period), and
 * finishes each run (SUCCEEDED / FAILED with the child's error / TIMEOUT /
 * STOPPED / ERROR), which queues retries and fires conditional triggers.
 * It also recovers runs lost by servers that died (lease expired, or a dead
 * process of this host).
 *
 * Threads: the dispatcher thread owns its catalog connection (LISTENing on
 * SL_RUN_NOTIFY_CHANNEL, so a queued run is claimed within milliseconds) and
 * every child. sl_dispatch_metrics() may be called from any thread.
 */
#ifndef SL_DISPATCH_H
#define SL_DISPATCH_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/buf.h"
#include "runtime/err.h"

struct sl_dispatch_opts {
    const char *catalog;    /* libpq connection string; NULL: sl_catalog_open() rules */
    const char *exe;        /* the sluice binary the children run (absolute path) */
    const char *jobs_dir;   /* relative ScriptLocations resolve here; NULL: the cwd */
    const char *work_dir;   /* scripts fetched from S3 go under it (created) */
    unsigned max_runs;      /* children at once on this server; 0: 4 */
    unsigned max_workers;   /* cap on a run's NumberOfWorkers; 0: the online CPUs */
    int lease_s;            /* lease of a claimed run; 0: 30 */
    int poll_ms;            /* longest wait between queue checks; 0: 1000 */
    int stop_grace_s;       /* SIGTERM to SIGKILL; 0: 10 */
    int64_t retry_delay_ms; /* first retry backoff (doubles per attempt); <0: 10000 */
    size_t log_cap;         /* characters of a run's log kept; 0: 1 MiB */
    int minute_s;           /* seconds per Timeout minute; 0: 60 (tests shorten it) */
};

struct sl_dispatch; /* opaque */

/* Opens the catalog connection, recovers runs lost by a previous process of
 * this host, and starts the thread. *out owned: sl_dispatch_stop. */
int sl_dispatch_start(const struct sl_dispatch_opts *opts, struct sl_dispatch **out,
                      struct sl_err *err);

/* Stops claiming, asks every child to stop (SIGTERM, SIGKILL after the grace
 * period), finishes their runs FAILED ("interrupted: the server stopped";
 * retried under MaxRetries by any server), joins the thread and frees d.
 * NULL is a no-op. */
void sl_dispatch_stop(struct sl_dispatch *d);

/* Appends the dispatcher's Prometheus metrics (children running, runs
 * finished by state, run duration histogram) to b. */
void sl_dispatch_metrics(struct sl_dispatch *d, struct sl_buf *b);

#endif
