/*
 * tests/scheduler/test_sched.c - the schedule thread (scheduler/sched.c):
 * the catch-up plan (none / latest / all, the cap) as a pure function, and
 * whole ticks at chosen times against a real PostgreSQL (SLUICE_CATALOG;
 * those tests are skipped when unset) in a fresh database sl_sched_<pid>:
 * first sight initialises the schedule state, due fires start runs once,
 * each policy fires what it should, a bad schedule is skipped, and the
 * thread starts and stops promptly.
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "runtime/alloc.h"
#include "runtime/catalog.h"
#include "runtime/catalog_trigger.h"
#include "runtime/log.h"
#include "scheduler/cron.h"
#include "scheduler/sched.h"
#include "tests/test.h"
#include "tests/pg_test.h"

#define T0  1767225600000LL /* 2026-01-01T00:00:00Z */
#define MIN 60000LL

/* ---- Plan ---- */

static struct sl_cron *cron_of(const char *text)
{
    struct sl_cron *c = NULL;
    struct sl_err err = {0};
    CHECK_OK(sl_cron_parse(text, &c, &err), &err);
    return c;
}

TEST(plan_policies)
{
    struct sl_cron *c = cron_of("* * * * *");
    int64_t fires[SL_SCHED_CATCH_UP_MAX];
    size_t n = 99, missed = 99;
    struct sl_err err = {0};

    if (!c)
        return;
    /* (T0, T0 + 10:30]: ten fire times */
    CHECK_OK(sl_sched_plan(c, NULL, T0, T0 + 10 * MIN + 30000, SL_SCHED_CATCH_UP_LATEST, 1000,
                           fires, &n, &missed, &err),
             &err);
    CHECK(n == 1 && missed == 9 && fires[0] == T0 + 10 * MIN);
    CHECK_OK(sl_sched_plan(c, NULL, T0, T0 + 10 * MIN + 30000, SL_SCHED_CATCH_UP_ALL, 1000, fires,
                           &n, &missed, &err),
             &err);
    CHECK(n == 10 && missed == 0 && fires[0] == T0 + MIN && fires[9] == T0 + 10 * MIN);
    /* none: 30 s late is older than two ticks */
    CHECK_OK(sl_sched_plan(c, NULL, T0, T0 + 10 * MIN + 30000, SL_SCHED_CATCH_UP_NONE, 1000,
                           fires, &n, &missed, &err),
             &err);
    CHECK(n == 0 && missed == 10);
    CHECK_OK(sl_sched_plan(c, NULL, T0, T0 + 10 * MIN + 1500, SL_SCHED_CATCH_UP_NONE, 1000, fires,
                           &n, &missed, &err),
             &err);
    CHECK(n == 1 && missed == 9 && fires[0] == T0 + 10 * MIN);
    /* a longer tick widens "none" */
    CHECK_OK(sl_sched_plan(c, NULL, T0, T0 + 10 * MIN + 30000, SL_SCHED_CATCH_UP_NONE, 20000,
                           fires, &n, &missed, &err),
             &err);
    CHECK(n == 1 && missed == 9);
    /* an exact fire time is inside the window's end, not its start */
    CHECK_OK(sl_sched_plan(c, NULL, T0, T0 + MIN, SL_SCHED_CATCH_UP_NONE, 1000, fires, &n,
                           &missed, &err),
             &err);
    CHECK(n == 1 && missed == 0 && fires[0] == T0 + MIN);
    CHECK_OK(sl_sched_plan(c, NULL, T0 + MIN, T0 + MIN + 59999, SL_SCHED_CATCH_UP_ALL, 1000,
                           fires, &n, &missed, &err),
             &err);
    CHECK(n == 0 && missed == 0);
    /* all: capped at the most recent SL_SCHED_CATCH_UP_MAX */
    CHECK_OK(sl_sched_plan(c, NULL, T0, T0 + 1500 * MIN, SL_SCHED_CATCH_UP_ALL, 1000, fires, &n,
                           &missed, &err),
             &err);
    CHECK(n == SL_SCHED_CATCH_UP_MAX && missed == 500);
    CHECK(fires[0] == T0 + 501 * MIN && fires[n - 1] == T0 + 1500 * MIN);
    int ascending = 1;
    for (size_t i = 1; i < n; i++)
        ascending &= fires[i] == fires[i - 1] + MIN;
    CHECK(ascending);
    CHECK_OK(sl_sched_plan(c, NULL, T0, T0 + 1500 * MIN, SL_SCHED_CATCH_UP_LATEST, 1000, fires,
                           &n, &missed, &err),
             &err);
    CHECK(n == 1 && missed == 1499 && fires[0] == T0 + 1500 * MIN);
    sl_cron_free(c);
}

TEST(plan_in_a_zone)
{
    struct sl_cron *c = cron_of("cron(30 2 * * ? *)");
    struct sl_cron_zone *z = NULL;
    struct sl_err err = {0};
    int64_t fires[SL_SCHED_CATCH_UP_MAX];
    size_t n = 0, missed = 0;

    if (sl_cron_zone_load("America/New_York", &z, &err) != SL_OK) {
        sl_cron_free(c);
        SKIP("no tz database: %s", err.msg);
    }
    /* 2026-03-07 00:00Z .. 2026-03-10 00:00Z: 02:30 EST (07:30Z) on the 7th,
     * the gap on the 8th fires at 03:00 EDT (07:00Z), 02:30 EDT (06:30Z) on the 9th */
    int64_t from = 1772841600000LL;
    CHECK_OK(sl_sched_plan(c, z, from, from + 3 * 24 * 60 * MIN, SL_SCHED_CATCH_UP_ALL, 1000,
                           fires, &n, &missed, &err),
             &err);
    CHECK(n == 3);
    if (n == 3) {
        CHECK(fires[0] == from + (7 * 60 + 30) * MIN);
        CHECK(fires[1] == from + (24 * 60 + 7 * 60) * MIN);
        CHECK(fires[2] == from + (48 * 60 + 6 * 60 + 30) * MIN);
    }
    sl_cron_zone_free(z);
    sl_cron_free(c);
}

TEST(catch_up_names)
{
    int v = -1;
    CHECK(sl_sched_catch_up_parse("none", &v) == SL_OK && v == SL_SCHED_CATCH_UP_NONE);
    CHECK(sl_sched_catch_up_parse("latest", &v) == SL_OK && v == SL_SCHED_CATCH_UP_LATEST);
    CHECK(sl_sched_catch_up_parse("all", &v) == SL_OK && v == SL_SCHED_CATCH_UP_ALL);
    CHECK(sl_sched_catch_up_parse("some", &v) == SL_ECONFIG);
    CHECK_STR(sl_sched_catch_up_name(SL_SCHED_CATCH_UP_LATEST), "latest");
}

/* ---- Ticks against the catalog ---- */

static char db_name[64];
static char *db_ci;            /* owned */
static struct sl_catalog *cat; /* on db_ci */

static struct sl_catalog *catalog(void)
{
    struct sl_err err = {0};
    char sql[128];

    if (cat || !pg_test_have())
        return cat;
    if (!db_ci) {
        snprintf(db_name, sizeof db_name, "sl_sched_%ld", (long)getpid());
        snprintf(sql, sizeof sql, "CREATE DATABASE \"%s\"", db_name);
        if (!pg_test_exec(getenv("SLUICE_CATALOG"), sql))
            return NULL;
        db_ci = pg_test_conninfo_for(getenv("SLUICE_CATALOG"), db_name);
    }
    if (db_ci)
        cat = sl_catalog_open_conninfo(db_ci, &err);
    if (!cat)
        printf("#   open test catalog: %s\n", err.msg);
    return cat;
}

#define NEED_CATALOG(c)                                                                            \
    struct sl_catalog *c = catalog();                                                              \
    if (!c)                                                                                        \
    SKIP("needs PostgreSQL (SLUICE_CATALOG)")

static void make_job(struct sl_catalog *c, const char *name, const char *schedule)
{
    struct sl_catalog_job j = {0};
    struct sl_err err = {0};
    j.name = (char *)name;
    j.command = (char *)"{\"ScriptLocation\":\"/nowhere/x.lua\"}";
    j.max_concurrent_runs = 10000;
    j.schedule = (char *)schedule;
    CHECK_OK(sl_catalog_job_put(c, &j, &err), &err);
}

static void make_trigger(struct sl_catalog *c, const char *name, const char *schedule,
                         const char *job, int64_t now)
{
    struct sl_catalog_trigger t = {0};
    struct sl_err err = {0};
    char actions[256];
    snprintf(actions, sizeof actions, "[{\"JobName\":\"%s\"}]", job);
    t.name = (char *)name;
    t.type = SL_TRIGGER_SCHEDULED;
    t.state = SL_TRIGGER_ACTIVATED;
    t.schedule = (char *)schedule;
    t.actions = actions;
    CHECK_OK(sl_catalog_trigger_create(c, &t, now, &err), &err);
}

static long runs_of(const char *job)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM sluice.job_run WHERE job_name = '%s'", job);
    return pg_test_query_long(db_ci, sql);
}

/* Removes every job, trigger and schedule state (ticks see them all). */
static void reset_db(void)
{
    pg_test_exec(db_ci, "DELETE FROM sluice.trigger; DELETE FROM sluice.schedule_state; "
                        "DELETE FROM sluice.trigger_fire; DELETE FROM sluice.job_run; "
                        "DELETE FROM sluice.job");
}

static struct sl_sched *sched_of(int catch_up)
{
    struct sl_sched_opts o = {0};
    struct sl_sched *s = NULL;
    struct sl_err err = {0};
    o.catalog = db_ci;
    o.catch_up = catch_up;
    CHECK_OK(sl_sched_new(&o, &s, &err), &err);
    return s;
}

TEST(tick_job_schedule_latest)
{
    NEED_CATALOG(c);
    struct sl_err err = {0};
    size_t fired = 99;

    reset_db();
    make_job(c, "tj_latest", "* * * * *");
    struct sl_sched *s = sched_of(SL_SCHED_CATCH_UP_LATEST);
    if (!s)
        return;
    /* first sight: state = now, nothing fires */
    CHECK_OK(sl_sched_tick(s, T0 + 500, &fired, &err), &err);
    CHECK(fired == 0 && runs_of("tj_latest") == 0);
    int64_t until = 0;
    CHECK_OK(sl_catalog_schedule_get(c, SL_SCHEDULE_JOB, "tj_latest", &until, &err), &err);
    CHECK(until == T0 + 500);
    /* ten minutes later: the latest of ten fires */
    CHECK_OK(sl_sched_tick(s, T0 + 10 * MIN + 700, &fired, &err), &err);
    CHECK(fired == 1 && runs_of("tj_latest") == 1);
    CHECK(pg_test_query_long(db_ci, "SELECT count(*) FROM sluice.job_run WHERE "
                                    "idempotency_key = 'job:tj_latest:1767226200:0'") == 1);
    /* the same moment again, and a second tick before the next minute: nothing */
    CHECK_OK(sl_sched_tick(s, T0 + 10 * MIN + 700, &fired, &err), &err);
    CHECK(fired == 0);
    CHECK_OK(sl_sched_tick(s, T0 + 10 * MIN + 1700, &fired, &err), &err);
    CHECK(fired == 0 && runs_of("tj_latest") == 1);
    /* the next minute, on time */
    CHECK_OK(sl_sched_tick(s, T0 + 11 * MIN + 300, &fired, &err), &err);
    CHECK(fired == 1 && runs_of("tj_latest") == 2);
    sl_sched_free(s);
}

TEST(tick_trigger_all_and_none)
{
    NEED_CATALOG(c);
    struct sl_err err = {0};
    size_t fired = 99;

    reset_db();
    make_job(c, "tj_all", NULL);
    make_trigger(c, "tt_all", "cron(* * * * ? *)", "tj_all", T0);
    struct sl_sched *s = sched_of(SL_SCHED_CATCH_UP_ALL);
    if (!s)
        return;
    CHECK_OK(sl_sched_tick(s, T0 + 5 * MIN + 500, &fired, &err), &err);
    CHECK(fired == 5 && runs_of("tj_all") == 5);
    CHECK(pg_test_query_long(db_ci, "SELECT count(*) FROM sluice.job_run WHERE "
                                    "trigger_name = 'tt_all'") == 5);
    sl_sched_free(s);

    reset_db();
    make_job(c, "tj_none", NULL);
    make_trigger(c, "tt_none", "cron(* * * * ? *)", "tj_none", T0);
    s = sched_of(SL_SCHED_CATCH_UP_NONE);
    if (!s)
        return;
    /* 30 s late: all five missed, and not reconsidered later */
    CHECK_OK(sl_sched_tick(s, T0 + 5 * MIN + 30000, &fired, &err), &err);
    CHECK(fired == 0 && runs_of("tj_none") == 0);
    CHECK_OK(sl_sched_tick(s, T0 + 6 * MIN + 800, &fired, &err), &err);
    CHECK(fired == 1 && runs_of("tj_none") == 1);
    /* a stopped trigger is not ticked; started again, it starts from then */
    CHECK_OK(sl_catalog_trigger_set_state(c, "tt_none", SL_TRIGGER_DEACTIVATED, 0, NULL, &err),
             &err);
    CHECK_OK(sl_sched_tick(s, T0 + 7 * MIN + 800, &fired, &err), &err);
    CHECK(fired == 0);
    CHECK_OK(sl_catalog_trigger_set_state(c, "tt_none", SL_TRIGGER_ACTIVATED, T0 + 9 * MIN + 100,
                                          NULL, &err),
             &err);
    CHECK_OK(sl_sched_tick(s, T0 + 9 * MIN + 900, &fired, &err), &err);
    CHECK(fired == 0);
    CHECK_OK(sl_sched_tick(s, T0 + 10 * MIN + 900, &fired, &err), &err);
    CHECK(fired == 1 && runs_of("tj_none") == 2);
    sl_sched_free(s);
}

TEST(tick_two_schedulers_fire_once)
{
    NEED_CATALOG(c);
    struct sl_err err = {0};
    size_t f1 = 0, f2 = 0;

    reset_db();
    make_job(c, "tj_two", NULL);
    make_trigger(c, "tt_two", "cron(0/2 * * * ? *)", "tj_two", T0);
    struct sl_sched *a = sched_of(SL_SCHED_CATCH_UP_ALL);
    struct sl_sched *b = sched_of(SL_SCHED_CATCH_UP_ALL);
    if (!a || !b) {
        sl_sched_free(a);
        sl_sched_free(b);
        return;
    }
    CHECK_OK(sl_sched_tick(a, T0 + 10 * MIN + 100, &f1, &err), &err);
    CHECK_OK(sl_sched_tick(b, T0 + 10 * MIN + 200, &f2, &err), &err);
    CHECK(f1 == 5 && f2 == 0);
    CHECK(runs_of("tj_two") == 5);
    sl_sched_free(a);
    sl_sched_free(b);
}

TEST(tick_skips_a_bad_schedule)
{
    NEED_CATALOG(c);
    struct sl_err err = {0};
    size_t fired = 0;

    reset_db();
    make_job(c, "tj_bad", "every minute please");
    make_job(c, "tj_good", "*/2 * * * *");
    struct sl_sched *s = sched_of(SL_SCHED_CATCH_UP_LATEST);
    if (!s)
        return;
    CHECK_OK(sl_sched_tick(s, T0, &fired, &err), &err);
    CHECK_OK(sl_sched_tick(s, T0 + 2 * MIN + 100, &fired, &err), &err);
    CHECK(fired == 1 && runs_of("tj_good") == 1 && runs_of("tj_bad") == 0);
    CHECK_OK(sl_sched_tick(s, T0 + 4 * MIN + 100, &fired, &err), &err);
    CHECK(fired == 1 && runs_of("tj_good") == 2);
    sl_sched_free(s);
}

TEST(thread_starts_and_stops)
{
    NEED_CATALOG(c);
    struct sl_sched_opts o = {0};
    struct sl_sched *s = NULL;
    struct sl_err err = {0};

    (void)c;
    reset_db();
    o.catalog = db_ci;
    o.tick_ms = 60000; /* a stop must not wait for the tick */
    o.timezone = "UTC";
    CHECK_OK(sl_sched_start(&o, &s, &err), &err);
    usleep(50000);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    sl_sched_stop(s);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CHECK(t1.tv_sec - t0.tv_sec < 30); /* far below the tick */
    o.timezone = "Nowhere/Atlantis";
    CHECK(sl_sched_start(&o, &s, &err) == SL_ECONFIG && s == NULL);
    o.timezone = NULL;
    o.catch_up = 7;
    CHECK(sl_sched_start(&o, &s, &err) == SL_ECONFIG && s == NULL);
}

int main(void)
{
    sl_log_init(SL_LOG_AUTO, SL_LOG_ERROR); /* fires log at info: keep the output short */
    RUN(plan_policies);
    RUN(plan_in_a_zone);
    RUN(catch_up_names);
    RUN(tick_job_schedule_latest);
    RUN(tick_trigger_all_and_none);
    RUN(tick_two_schedulers_fire_once);
    RUN(tick_skips_a_bad_schedule);
    RUN(thread_starts_and_stops);
    sl_catalog_free(cat);
    sl_free(db_ci);
    if (db_name[0]) {
        char sql[160];
        snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS \"%s\" WITH (FORCE)", db_name);
        pg_test_exec(getenv("SLUICE_CATALOG"), sql);
    }
    TEST_EXIT();
}
