/*
 * scheduler/sched.h - the schedule thread of `sluice serve`: every tick it
 * fires the SCHEDULED triggers that are ACTIVATED and the jobs whose job{}
 * header has a schedule, for the fire times that passed since their schedule
 * state (runtime/catalog_trigger.h), with a catch-up policy for fires missed
 * while no server ran. Cron evaluation is scheduler/cron.h; the fire itself
 * (exactly once across servers sharing a catalog) is
 * sl_catalog_schedule_fire(). CONDITIONAL triggers are not here: they fire
 * when a run ends (sl_catalog_trigger_on_run_done, from the run finish).
 *
 * Schedules are evaluated in the server's zone (--timezone; UTC when none),
 * Glue cron(...) and 5-field Unix cron alike. A schedule seen for the first
 * time (or a trigger just activated) starts from "now": nothing before it
 * fires.
 *
 * Catch-up, when more than one fire time passed since the schedule state
 * (the server was down, or a tick ran late):
 *   none    fire only the fire times within the last two ticks; skip older
 *   latest  fire the most recent one, skip the others (default)
 *   all     fire every one, at most SL_SCHED_CATCH_UP_MAX (the most recent)
 * Each fire is logged (info); skipped fires are logged (warn) with counts.
 */
#ifndef SL_SCHED_H
#define SL_SCHED_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/err.h"
#include "scheduler/cron.h"

#define SL_SCHED_TICK_MS      1000 /* default tick: fire times are whole minutes */
#define SL_SCHED_CATCH_UP_MAX 1000 /* fires of one schedule per tick under "all" */

enum sl_sched_catch_up {
    SL_SCHED_CATCH_UP_LATEST = 0, /* the default, so a zeroed opts gets it */
    SL_SCHED_CATCH_UP_NONE = 1,
    SL_SCHED_CATCH_UP_ALL = 2,
};

/* "none" | "latest" | "all" -> SL_OK, else SL_ECONFIG. */
int sl_sched_catch_up_parse(const char *name, int *out);
const char *sl_sched_catch_up_name(int catch_up); /* static storage */

struct sl_sched_opts {
    const char *catalog;  /* libpq conninfo; NULL = the sl_catalog_open() rules */
    const char *timezone; /* IANA zone; NULL or "UTC" = UTC */
    int catch_up;         /* enum sl_sched_catch_up */
    int tick_ms;          /* 0 = SL_SCHED_TICK_MS */
};

struct sl_sched; /* opaque */

/* Which fire times of cron in (from_ms, now_ms] (zone z, NULL = UTC) to fire
 * under catch_up with ticks of tick_ms: fires[0..*n_fire) ascending (the
 * caller's array of SL_SCHED_CATCH_UP_MAX), *n_missed = those skipped. Pure:
 * no catalog, no clock. SL_OK, or cron.h's errors. */
int sl_sched_plan(const struct sl_cron *cron, const struct sl_cron_zone *z, int64_t from_ms,
                  int64_t now_ms, int catch_up, int tick_ms, int64_t *fires, size_t *n_fire,
                  size_t *n_missed, struct sl_err *err);

/* A scheduler without its thread (owned: sl_sched_free): loads the zone
 * (SL_ECONFIG for an unknown one) and opens its own catalog connection. For
 * sl_sched_tick() in tests and by sl_sched_start(). */
int sl_sched_new(const struct sl_sched_opts *opts, struct sl_sched **out, struct sl_err *err);
/* One tick at now_ms (epoch ms): every schedule is evaluated and its due fires
 * fired. *n_fired (may be NULL) = fires this call started. A schedule with
 * bad cron text is logged once and skipped; other failures stop the tick and
 * are returned. Not thread-safe: one tick at a time per scheduler. */
int sl_sched_tick(struct sl_sched *s, int64_t now_ms, size_t *n_fired, struct sl_err *err);
void sl_sched_free(struct sl_sched *s); /* NULL is a no-op; the thread must be stopped */

/* sl_sched_new, then a thread that ticks every tick_ms until sl_sched_stop().
 * The catalog is opened before this returns (its errors are returned); later
 * connection losses are logged and the connection reopened on a later tick. */
int sl_sched_start(const struct sl_sched_opts *opts, struct sl_sched **out, struct sl_err *err);
/* Stops the thread (within one tick wait: it is woken at once), joins it and
 * frees s. NULL is a no-op. */
void sl_sched_stop(struct sl_sched *s);

#endif
