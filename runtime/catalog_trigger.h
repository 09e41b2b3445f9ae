/*
 * runtime/catalog_trigger.h - Glue triggers in the catalog (spec/aws-api.md
 * §3.8; migration 4: sluice.trigger, sluice.trigger_fire,
 * sluice.schedule_state): trigger rows, the evaluation of CONDITIONAL
 * triggers when a run ends, and the fires of schedules (SCHEDULED triggers and
 * job{} header schedules), each started exactly once even with several
 * servers sharing the catalog. Validation of API requests and cron text is the
 * scheduler's (scheduler/api_triggers.c, scheduler/cron.h); the schedule
 * thread that decides *when* a schedule fires is scheduler/sched.c. Runs are
 * queued through runtime/catalog_run.h.
 *
 * Conventions are those of runtime/catalog.h: int functions return SL_OK or a
 * negative enum sl_code and fill err; each runs in its own transaction, or in
 * a savepoint of the caller's; returned objects are owned by the caller.
 *
 * Fire keys (sluice.trigger_fire.key, also the prefix of the runs'
 * idempotency keys "<fire key>:<action index>"):
 *   cond:<trigger>:<run id>     a CONDITIONAL trigger fired by that run
 *   sched:<trigger>:<epoch s>   a SCHEDULED trigger's fire time
 *   job:<job>:<epoch s>         a job{} header schedule's fire time
 * Schedule keys (sluice.schedule_state.key): sched:<trigger>, job:<job>.
 */
#ifndef SL_CATALOG_TRIGGER_H
#define SL_CATALOG_TRIGGER_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/catalog.h"
#include "runtime/catalog_run.h"
#include "runtime/err.h"

#define SL_TRIGGER_NAME_MAX 255 /* Glue NameString; the table allows ^[A-Za-z0-9_.-]{1,255}$ */
#define SL_SCHEDULE_KEY_MAX (SL_TRIGGER_NAME_MAX + 8) /* "sched:" + name, NUL included */

enum sl_trigger_type {
    SL_TRIGGER_SCHEDULED = 0,
    SL_TRIGGER_CONDITIONAL = 1,
    SL_TRIGGER_ON_DEMAND = 2,
};

enum sl_trigger_state {
    SL_TRIGGER_CREATED = 0,
    SL_TRIGGER_ACTIVATED = 1,
    SL_TRIGGER_DEACTIVATED = 2,
};

/* "SCHEDULED" ... / "CREATED" ... (static storage); the parsers return SL_OK
 * or SL_ECONFIG for a name that is not one of ours. */
const char *sl_trigger_type_name(enum sl_trigger_type t);
int sl_trigger_type_parse(const char *name, enum sl_trigger_type *out);
const char *sl_trigger_state_name(enum sl_trigger_state s);
int sl_trigger_state_parse(const char *name, enum sl_trigger_state *out);

/* A trigger as stored. JSON members are compact JSON texts in Glue's shapes;
 * the catalog checks their JSON types only (an array of action objects, a
 * predicate object), not their meaning. */
struct sl_catalog_trigger {
    char *name;               /* owned; ^[A-Za-z0-9_.-]{1,255}$ */
    enum sl_trigger_type type;
    enum sl_trigger_state state;
    char *description;        /* owned; NULL when none */
    char *schedule;           /* owned; "cron(...)" of a SCHEDULED trigger, else NULL */
    char *predicate;          /* owned JSON object (Glue Predicate) of a CONDITIONAL one, else NULL */
    char *actions;            /* owned JSON array of Glue Action objects (JobName or
                               * CrawlerName, Arguments, Timeout, ...) */
    char *extra;              /* owned JSON object of other stored members; NULL = {} */
    int64_t last_fired_ms;    /* epoch ms; 0 = never; output only */
    int64_t created_ms;       /* epoch ms; output only */
    int64_t modified_ms;      /* epoch ms; output only */
};

void sl_catalog_trigger_cleanup(struct sl_catalog_trigger *t);
void sl_catalog_trigger_free(struct sl_catalog_trigger *t);
void sl_catalog_trigger_list_free(struct sl_catalog_trigger *ts, size_t n_triggers);

/* Creates trigger t (times ignored): SL_EEXIST when the name is taken,
 * SL_ECONFIG for a bad name or JSON member. A SCHEDULED trigger created
 * ACTIVATED gets its schedule state set to now_ms in the same transaction (no
 * fire at or before creation). */
int sl_catalog_trigger_create(struct sl_catalog *c, const struct sl_catalog_trigger *t,
                              int64_t now_ms, struct sl_err *err);
/* *out = the trigger (owned: sl_catalog_trigger_free); SL_ENOTFOUND
 * "trigger \"x\" not found". */
int sl_catalog_trigger_get(struct sl_catalog *c, const char *name,
                           struct sl_catalog_trigger **out, struct sl_err *err);
/* *out = triggers named after 'after' (NULL: from the first), by name, at
 * most limit (0 = all); with dependent_job (not NULL) only those with an
 * action that starts that job. Owned: sl_catalog_trigger_list_free. */
int sl_catalog_trigger_list(struct sl_catalog *c, const char *after, const char *dependent_job,
                            size_t limit, struct sl_catalog_trigger **out, size_t *n_out,
                            struct sl_err *err);
/* Sets the state of trigger name. Moving a trigger to ACTIVATED from another
 * state resets its schedule state to now_ms (a SCHEDULED trigger fires
 * nothing from before its activation); setting the state it has already
 * changes nothing. *before (may be NULL) = the state it had. SL_ENOTFOUND. */
int sl_catalog_trigger_set_state(struct sl_catalog *c, const char *name,
                                 enum sl_trigger_state state, int64_t now_ms,
                                 enum sl_trigger_state *before, struct sl_err *err);
/* Deletes trigger name with its schedule state and fire records. A missing
 * trigger is not an error (Glue DeleteTrigger is idempotent); *deleted (may
 * be NULL) = 1 when it existed. Runs it started stay. */
int sl_catalog_trigger_delete(struct sl_catalog *c, const char *name, int *deleted,
                              struct sl_err *err);

/* StartTrigger of an ON_DEMAND trigger: starts every action now, in one
 * transaction (all or none), with trigger_name = name and no idempotency
 * key, and records last_fired_on. SL_ENOTFOUND when the trigger or an
 * action's job/crawler does not exist, SL_ELIMIT when a job is at its
 * MaxConcurrentRuns, SL_ECONFIG when the trigger is not ON_DEMAND. *runs
 * (may be NULL) = JSON array text of {"JobName"|"CrawlerName", "RunId"} per
 * action (owned: sl_free). */
int sl_catalog_trigger_start_now(struct sl_catalog *c, const char *name, char **runs,
                                 struct sl_err *err);

/* Called by sl_catalog_run_finish() inside the transaction that ends run
 * done (done->state terminal). Evaluates every ACTIVATED CONDITIONAL trigger
 * with a condition on done's job (kind job: JobName + State) or crawler (kind
 * crawler: CrawlerName + CrawlState; run states SUCCEEDED, FAILED/TIMEOUT,
 * STOPPED, ERROR read as crawl states SUCCEEDED, FAILED, CANCELLED, ERROR):
 *   - a condition holds when the latest terminal run of its job/crawler
 *     (sl_catalog_run_latest) is in the named state;
 *   - Logical ANY (or a single condition): fires when the condition on done's
 *     job/crawler holds;
 *   - Logical AND: fires when every condition holds and at least one of the
 *     satisfying runs completed after the trigger last fired.
 * A fire inserts trigger_fire "cond:<trigger>:<run id>" (run id = the latest
 * terminal run of done's job/crawler; a key already there means this wave
 * fired before: nothing happens) and starts every action (idempotency key
 * "<fire key>:<index>", trigger_name, PredecessorRuns = the satisfying job
 * runs). An action that cannot start (job deleted, ConcurrentRunsExceeded) is
 * logged (warn) and recorded in the fire's runs, never failing the caller's
 * transaction. Trigger rows are locked in name order while evaluated, so two
 * runs ending at once see each other. Any other failure rolls back only this
 * function's work (a savepoint) and is returned. */
int sl_catalog_trigger_on_run_done(struct sl_catalog *c, const struct sl_run *done,
                                   struct sl_err *err);

/* ---- Schedules (the schedule thread, scheduler/sched.c) ---- */

enum sl_schedule_kind {
    SL_SCHEDULE_TRIGGER = 0, /* an ACTIVATED SCHEDULED trigger: key "sched:<name>" */
    SL_SCHEDULE_JOB = 1,     /* a job with a job{} header schedule: key "job:<name>" */
    SL_SCHEDULE_CRAWLER = 2, /* a crawler created with a Schedule (CreateCrawler): key
                              * "crawl:<name>"; the schedule is its config's
                              * glue.Schedule */
};

/* One schedule to evaluate. */
struct sl_schedule {
    enum sl_schedule_kind kind;
    char *name;               /* owned; the trigger or the job */
    char *schedule;           /* owned; cron text (Glue form or 5-field) */
    int64_t checked_until_ms; /* epoch ms fires are handled up to; 0 = no state yet */
};

void sl_schedule_list_free(struct sl_schedule *s, size_t n_schedules);
/* "sched:<name>", "job:<name>" or "crawl:<name>" into out; SL_ECONFIG when name is too long. */
int sl_schedule_key(enum sl_schedule_kind kind, const char *name, char out[SL_SCHEDULE_KEY_MAX],
                    struct sl_err *err);

/* *out = every ACTIVATED SCHEDULED trigger, every job whose schedule is set
 * and every crawler with a Schedule, with its schedule state (triggers first,
 * then jobs, then crawlers, each by name).
 * Owned: sl_schedule_list_free. */
int sl_catalog_schedule_list(struct sl_catalog *c, struct sl_schedule **out, size_t *n_out,
                             struct sl_err *err);
/* Records now_ms as the schedule state of (kind, name) unless it has one
 * (first sight of a schedule: nothing before it fires). */
int sl_catalog_schedule_init(struct sl_catalog *c, enum sl_schedule_kind kind, const char *name,
                             int64_t now_ms, struct sl_err *err);
/* Moves the schedule state of (kind, name) forward to until_ms (never back);
 * creates it when absent. */
int sl_catalog_schedule_advance(struct sl_catalog *c, enum sl_schedule_kind kind,
                                const char *name, int64_t until_ms, struct sl_err *err);
/* *checked_until_ms = the schedule state (0 when none). */
int sl_catalog_schedule_get(struct sl_catalog *c, enum sl_schedule_kind kind, const char *name,
                            int64_t *checked_until_ms, struct sl_err *err);

/* Fires schedule (kind, name) for fire time fire_ms, in one transaction:
 * inserts trigger_fire "<schedule key>:<fire_ms / 1000>" (ON CONFLICT DO
 * NOTHING) and only when it was inserted starts the actions (a trigger's
 * actions, read now; a job's own run) with idempotency keys "<fire
 * key>:<index>" (trigger_name = the trigger, none for a job), records the
 * runs on the fire row and last_fired_on on the trigger; in every case the
 * schedule state moves forward to fire_ms. So two servers firing the same
 * fire time at once start its runs exactly once. A trigger that is no longer
 * ACTIVATED SCHEDULED, or a job that no longer has a schedule, is not fired.
 * *fired (may be NULL) = 1 when this call fired. *runs (may be NULL) = JSON
 * array text of what each action did: {"JobName"|"CrawlerName", "RunId"} or
 * {"JobName"|"CrawlerName", "Error": message} (owned: sl_free; NULL when not
 * fired). An action that cannot start is recorded there, not an error. */
int sl_catalog_schedule_fire(struct sl_catalog *c, enum sl_schedule_kind kind, const char *name,
                             int64_t fire_ms, int *fired, char **runs, struct sl_err *err);

#endif
