/*
 * runtime/catalog_run.h - job runs and the run queue in the catalog (Glue
 * JobRun, spec/aws-api.md §3.6; catalog migration 4, table sluice.job_run).
 *
 * A run row is also its queue entry: StartJobRun (or a trigger, or `sluice
 * start`) inserts it STARTING with no owner; a dispatcher (scheduler/
 * dispatch.c, in any `sluice serve` process sharing the catalog) claims it
 * with FOR UPDATE SKIP LOCKED, records itself as owner with a lease, runs the
 * child, renews the lease while the child lives and finishes the row. A run
 * whose owner stops renewing (server killed) is recovered by any server once
 * the lease has expired, or at once by a restarted server on the same host
 * whose previous process is gone.
 *
 * Runs of kind SL_RUN_CRAWLER are crawls started through the API: job_name is
 * then the crawler's name and the child is `sluice crawl --name NAME`.
 *
 * Every function takes the catalog's connection (not thread-safe: one struct
 * sl_catalog per thread) and runs inside the caller's transaction when one is
 * open (sl_catalog_begin), else in its own.
 */
#ifndef SL_CATALOG_RUN_H
#define SL_CATALOG_RUN_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/catalog.h"
#include "runtime/err.h"

#define SL_RUN_ID_MAX          128  /* bytes of a run id: [A-Za-z0-9_-] */
#define SL_RUN_TIMEOUT_DEFAULT 2880 /* minutes: Glue's default job Timeout */
#define SL_RUN_NOTIFY_CHANNEL  "sluice_runs" /* NOTIFY sent when a run is queued or stopped */

enum sl_run_state {
    SL_RUN_STARTING = 0, /* queued, or claimed and spawning the child */
    SL_RUN_RUNNING,
    SL_RUN_STOPPING,
    SL_RUN_STOPPED,
    SL_RUN_SUCCEEDED,
    SL_RUN_FAILED,
    SL_RUN_TIMEOUT,
    SL_RUN_ERROR,
    SL_RUN_WAITING,
};
#define SL_RUN_N_STATES 9

/* "STARTING" ... (static storage); sl_run_state_parse: SL_OK or SL_ECONFIG. */
const char *sl_run_state_name(enum sl_run_state s);
int sl_run_state_parse(const char *name, enum sl_run_state *out);
/* 1 for STOPPED, SUCCEEDED, FAILED, TIMEOUT, ERROR. */
int sl_run_state_terminal(enum sl_run_state s);

enum sl_run_kind {
    SL_RUN_JOB = 0,
    SL_RUN_CRAWLER = 1,
};

/* One run, as stored. Strings owned; JSON members are compact JSON texts. */
struct sl_run {
    int64_t seq;                 /* queue order; runs list newest (largest) first */
    char *id;
    enum sl_run_kind kind;
    char *job_name;              /* the job (or crawler) */
    int attempt;                 /* 0, then 1.. for retries */
    char *previous_run_id;       /* NULL */
    char *trigger_name;          /* NULL */
    enum sl_run_state state;
    char *arguments;             /* JSON object: the run's own arguments as supplied */
    char *effective_arguments;   /* JSON object: defaults + run + non-overridable */
    char *script_location;       /* NULL for crawler runs */
    char *error_message;         /* NULL */
    char *predecessors;          /* JSON array of {"JobName","RunId"} */
    char *extra;                 /* JSON object: echoed members (WorkerType, MaxCapacity...) */
    int timeout_minutes;         /* effective */
    int max_retries;             /* of the job when the run was queued */
    int number_of_workers;       /* 0 = not set */
    int64_t started_ms;          /* epoch ms: queued */
    int64_t modified_ms;
    int64_t running_ms;          /* 0 until RUNNING */
    int64_t completed_ms;        /* 0 until terminal */
    char *owner;                 /* NULL while queued */
    int pid;                     /* child pid, 0 when none */
    int stop_requested;
};

void sl_run_cleanup(struct sl_run *r);
void sl_run_free(struct sl_run *r);
void sl_run_list_free(struct sl_run *runs, size_t n_runs);

/* What StartJobRun (or a trigger action, or `sluice start`) asks for. */
struct sl_run_request {
    enum sl_run_kind kind;
    const char *job_name;        /* a job (SL_RUN_JOB) or a crawler (SL_RUN_CRAWLER) */
    const char *arguments;       /* JSON object of strings ("--key": "value"); NULL = {} */
    const char *retry_of;        /* StartJobRun JobRunId: a FAILED/TIMEOUT/ERROR run of the
                                  * job to re-run (its arguments unless new ones are given) */
    int timeout_minutes;         /* 0: the job's Timeout, else 2880 */
    int number_of_workers;       /* 0: the job's NumberOfWorkers */
    const char *extra;           /* JSON object of members only echoed; NULL = {} */
    const char *trigger_name;    /* NULL */
    const char *predecessors;    /* JSON array of {"JobName","RunId"}; NULL = [] */
    const char *idempotency_key; /* NULL = none; a key already used starts nothing */
};

/* Queues a run (state STARTING) and NOTIFYs SL_RUN_NOTIFY_CHANNEL. out_id gets
 * its id ("jr_" + 64 hex; "<retry_of base>_attempt_<n>" for a retry). Checks,
 * under a row lock on the job so concurrent starts count right: the job
 * exists (SL_ENOTFOUND), its non-terminal runs are fewer than
 * MaxConcurrentRuns (crawlers: 1) (SL_ELIMIT "... MaxConcurrentRuns ..."),
 * arguments is an object of strings that changes no NonOverridableArguments
 * key (SL_ECONFIG). With an idempotency_key that was used before nothing is
 * queued: SL_OK, *created = 0 and out_id = that run's id. *created (may be
 * NULL) = 1 when a run was queued. */
int sl_catalog_run_start(struct sl_catalog *c, const struct sl_run_request *rq,
                         char out_id[SL_RUN_ID_MAX + 1], int *created, struct sl_err *err);

/* *out = run id of job_name (NULL: of any job or crawler of that kind);
 * SL_ENOTFOUND "run \"x\" of job \"y\" not found". Owned: sl_run_free. */
int sl_catalog_run_get(struct sl_catalog *c, enum sl_run_kind kind, const char *job_name,
                       const char *id, struct sl_run **out, struct sl_err *err);

/* The runs of job_name (NULL: all of that kind) newest first, those with seq <
 * before_seq (0: from the newest), at most limit (0 = all). Owned:
 * sl_run_list_free. */
int sl_catalog_run_list(struct sl_catalog *c, enum sl_run_kind kind, const char *job_name,
                        int64_t before_seq, size_t limit, struct sl_run **out, size_t *n_out,
                        struct sl_err *err);

/* *out = the newest run of job_name (terminal_only: the newest terminal one),
 * NULL (SL_OK) when there is none. For crawler states and conditional
 * triggers. */
int sl_catalog_run_latest(struct sl_catalog *c, enum sl_run_kind kind, const char *job_name,
                          int terminal_only, struct sl_run **out, struct sl_err *err);

/* Asks run id of job_name to stop: a queued run (no owner) becomes STOPPED at
 * once; a claimed one STOPPING with stop_requested, and its owner's dispatcher
 * signals the child. SL_ENOTFOUND when there is no such run; SL_ECONFIG "run
 * ... is already SUCCEEDED" when it is terminal. *after (may be NULL) = the
 * state now. */
int sl_catalog_run_stop(struct sl_catalog *c, enum sl_run_kind kind, const char *job_name,
                        const char *id, enum sl_run_state *after, struct sl_err *err);

/* DeleteJob / DeleteCrawler: removes every finished run of job_name with its
 * log; runs still queued become STOPPED and running ones STOPPING (their
 * owners stop them; those rows go with the next delete). */
int sl_catalog_run_forget(struct sl_catalog *c, enum sl_run_kind kind, const char *job_name,
                          struct sl_err *err);

/* The captured log of run id from character offset on, at most max
 * characters (0 = all): *text (owned: sl_free, NUL-terminated, *len bytes of
 * UTF-8). Offsets count characters from the first one the run ever logged:
 * logs are capped, the oldest part past the cap is dropped (*truncated = 1),
 * so the text begins at *start (may be NULL) = max(offset, characters
 * dropped); *total = characters logged so far, dropped ones included (the
 * offset to read on from after reading to the end). SL_ENOTFOUND when the
 * run does not exist. A run with no output yet has an empty log. */
int sl_catalog_run_log_read(struct sl_catalog *c, const char *id, int64_t offset, size_t max,
                            char **text, size_t *len, int64_t *start, int64_t *total,
                            int *truncated, struct sl_err *err);

/* For /metrics: by_state[s] = runs in state s (all kinds), *queued = STARTING
 * runs no server has claimed yet. */
int sl_catalog_run_counts(struct sl_catalog *c, int64_t by_state[SL_RUN_N_STATES],
                          int64_t *queued, struct sl_err *err);

/* The Glue JobRun object of r (spec §3.6; owned: json_decref), NULL on OOM:
 * Id, Attempt, PreviousRunId, TriggerName, JobName, StartedOn,
 * LastModifiedOn, CompletedOn (terminal only), JobRunState, Arguments,
 * ErrorMessage, ExecutionTime (s), Timeout, NumberOfWorkers, the echoed
 * members, and PredecessorRuns when with_predecessors. Times are epoch
 * seconds as JSON numbers (what the AWS CLI parses). */
json_t *sl_run_json(const struct sl_run *r, int with_predecessors);

/* ---- The dispatcher's side (scheduler/dispatch.c) ---- */

/* Claims at most max queued runs whose not_before has passed, oldest first
 * (FOR UPDATE SKIP LOCKED: two servers never claim the same run): owner and
 * lease_until = now + lease_s are set, state stays STARTING. Owned:
 * sl_run_list_free. */
int sl_catalog_run_claim(struct sl_catalog *c, const char *owner, int lease_s, size_t max,
                         struct sl_run **out, size_t *n_out, struct sl_err *err);

/* STARTING -> RUNNING with the child's pid; a run asked to stop meanwhile
 * stays STOPPING (*stop = 1: signal the child now). SL_ENOTFOUND when the run
 * is no longer owned by owner. */
int sl_catalog_run_set_running(struct sl_catalog *c, const char *id, const char *owner, int pid,
                               int *stop, struct sl_err *err);

/* Renews the lease of every non-terminal run owned by owner; *stop_ids gets the
 * ids of those asked to stop (owned: each and the array sl_free). */
int sl_catalog_run_renew(struct sl_catalog *c, const char *owner, int lease_s, char ***stop_ids,
                         size_t *n_stop, struct sl_err *err);

/* Ends run id (owned by owner; NULL = any owner: recovery) in terminal state
 * with error_message (may be NULL), in one transaction with: a FAILED run with
 * attempts left (attempt < max_retries) queues its retry (attempt + 1,
 * previous_run_id = id, not before now + retry_delay_ms * 2^attempt, capped at
 * one hour), whose id goes to retry_id ("" when none); then the conditional
 * triggers watching it are evaluated (runtime/catalog_trigger.h). *done (may
 * be NULL) = the finished run (owned: sl_run_free). SL_ENOTFOUND when the run
 * is not owned by owner or already terminal. */
int sl_catalog_run_finish(struct sl_catalog *c, const char *id, const char *owner,
                          enum sl_run_state state, const char *error_message,
                          int64_t retry_delay_ms, char retry_id[SL_RUN_ID_MAX + 1],
                          struct sl_run **done, struct sl_err *err);

/* Finds runs lost by their server: non-terminal, claimed, and either their
 * lease expired, or their owner names this host (host) and a process that is
 * not alive (is_alive(pid) == 0; NULL: lease only). Each is finished FAILED
 * ("run lost: ...") through sl_catalog_run_finish (so retries and triggers
 * apply); a STOPPING one becomes STOPPED. *n_recovered (may be NULL) gets the
 * count. */
int sl_catalog_run_recover(struct sl_catalog *c, const char *host, int (*is_alive)(int pid),
                           int64_t retry_delay_ms, size_t *n_recovered, struct sl_err *err);

/* Appends len bytes to run id's log; when the stored log would pass cap bytes
 * the oldest bytes are dropped (at a line start when one is near). */
int sl_catalog_run_log_append(struct sl_catalog *c, const char *id, const char *data, size_t len,
                              size_t cap, struct sl_err *err);

/* The owner string of a dispatcher: "<host>/<pid>/<16 hex random>" (host is
 * gethostname, cut at 64 bytes). SL_OK or SL_EIO. */
int sl_run_owner_make(char out[128], struct sl_err *err);
/* Splits an owner string into its host (NUL-terminated, up to 64 bytes) and
 * pid; SL_ECONFIG when it is not one of ours. */
int sl_run_owner_parse(const char *owner, char host[65], int *pid);

#endif
