/*
 * tests/runtime/test_catalog_trigger.c - triggers in the catalog
 * (catalog_trigger.c) against a real PostgreSQL: the server of SLUICE_CATALOG
 * (skipped when unset). Rows, listing by dependent job, state changes and
 * schedule states, ON_DEMAND starts (all or none), schedule fires (once per
 * fire time, also from two connections at once) and the evaluation of
 * CONDITIONAL triggers when a run ends (ANY, AND with new waves, crawl
 * states, actions that cannot start). Runs are ended with plain SQL so the
 * tests do not depend on the dispatcher. One fresh database (sl_trig_<pid>),
 * dropped at the end.
 */
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "runtime/alloc.h"
#include "runtime/catalog.h"
#include "runtime/catalog_run.h"
#include "runtime/catalog_trigger.h"
#include "tests/test.h"
#include "tests/pg_test.h"

/* ---- The test database ---- */

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
        snprintf(db_name, sizeof db_name, "sl_trig_%ld", (long)getpid());
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

static void drop_db(void)
{
    char sql[160];

    if (!db_name[0])
        return;
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS \"%s\" WITH (FORCE)", db_name);
    pg_test_exec(getenv("SLUICE_CATALOG"), sql);
}

#define NEED_CATALOG(c)                                                                            \
    struct sl_catalog *c = catalog();                                                              \
    if (!c)                                                                                        \
    SKIP("needs PostgreSQL (SLUICE_CATALOG)")

/* ---- Helpers ---- */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void make_job(struct sl_catalog *c, const char *name, int max_conc, const char *schedule)
{
    struct sl_catalog_job j = {0};
    struct sl_err err = {0};
    j.name = (char *)name;
    j.command = (char *)"{\"ScriptLocation\":\"/nowhere/x.lua\"}";
    j.max_concurrent_runs = max_conc;
    j.schedule = (char *)schedule;
    CHECK_OK(sl_catalog_job_put(c, &j, &err), &err);
}

static void make_trigger(struct sl_catalog *c, const char *name, enum sl_trigger_type type,
                         enum sl_trigger_state state, const char *schedule, const char *predicate,
                         const char *actions)
{
    struct sl_catalog_trigger t = {0};
    struct sl_err err = {0};
    t.name = (char *)name;
    t.type = type;
    t.state = state;
    t.schedule = (char *)schedule;
    t.predicate = (char *)predicate;
    t.actions = (char *)actions;
    CHECK_OK(sl_catalog_trigger_create(c, &t, now_ms(), &err), &err);
}

static long count(const char *fmt, const char *arg)
{
    char sql[512];
    snprintf(sql, sizeof sql, fmt, arg);
    return pg_test_query_long(db_ci, sql);
}

/* First value of a query as text (owned: sl_free), NULL when none. */
static char *query_text(const char *sql)
{
    PGconn *pg = PQconnectdb(db_ci);
    char *out = NULL;
    PGresult *r = PQexec(pg, sql);
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
        out = sl_strdup(PQgetvalue(r, 0, 0));
    else if (PQresultStatus(r) != PGRES_TUPLES_OK)
        printf("#   %s: %s", sql, PQerrorMessage(pg));
    PQclear(r);
    PQfinish(pg);
    return out;
}

/* Queues a run of job (kind) and ends it in state (SQL, no dispatcher);
 * returns the finished run (owned: sl_run_free). */
static struct sl_run *finished_run(struct sl_catalog *c, enum sl_run_kind kind, const char *job,
                                   const char *state)
{
    struct sl_run_request rq = {0};
    char id[SL_RUN_ID_MAX + 1], sql[512];
    struct sl_err err = {0};
    struct sl_run *r = NULL;

    rq.kind = kind;
    rq.job_name = job;
    if (sl_catalog_run_start(c, &rq, id, NULL, &err) != SL_OK) {
        printf("#   start %s: %s\n", job, err.msg);
        return NULL;
    }
    snprintf(sql, sizeof sql,
             "UPDATE sluice.job_run SET state = '%s', completed_on = clock_timestamp() "
             "WHERE id = '%s'",
             state, id);
    if (!pg_test_exec(db_ci, sql))
        return NULL;
    if (sl_catalog_run_get(c, kind, job, id, &r, &err) != SL_OK)
        printf("#   get run: %s\n", err.msg);
    return r;
}

/* Ends every non-terminal run of job (so MaxConcurrentRuns does not bite). */
static void end_runs(const char *job)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "UPDATE sluice.job_run SET state = 'STOPPED', completed_on = clock_timestamp() "
             "WHERE job_name = '%s' AND completed_on IS NULL",
             job);
    pg_test_exec(db_ci, sql);
}

/* ---- Rows ---- */

TEST(create_get_list_delete)
{
    NEED_CATALOG(c);
    struct sl_err err = {0};
    struct sl_catalog_trigger *t = NULL, *ts = NULL;
    size_t n = 0;
    int deleted = -1;

    make_job(c, "rj1", 1, NULL);
    make_job(c, "rj2", 1, NULL);
    make_trigger(c, "r_a", SL_TRIGGER_ON_DEMAND, SL_TRIGGER_CREATED, NULL, NULL,
                 "[{\"JobName\":\"rj1\",\"Arguments\":{\"--x\":\"1\"}}]");
    make_trigger(c, "r_b", SL_TRIGGER_SCHEDULED, SL_TRIGGER_CREATED, "cron(0 2 * * ? *)", NULL,
                 "[{\"JobName\":\"rj2\"}]");
    make_trigger(c, "r_c", SL_TRIGGER_CONDITIONAL, SL_TRIGGER_ACTIVATED, NULL,
                 "{\"Conditions\":[{\"LogicalOperator\":\"EQUALS\",\"JobName\":\"rj1\","
                 "\"State\":\"SUCCEEDED\"}]}",
                 "[{\"JobName\":\"rj2\"},{\"JobName\":\"rj1\"}]");

    CHECK_OK(sl_catalog_trigger_get(c, "r_b", &t, &err), &err);
    if (t) {
        CHECK_STR(t->name, "r_b");
        CHECK(t->type == SL_TRIGGER_SCHEDULED);
        CHECK(t->state == SL_TRIGGER_CREATED);
        CHECK_STR(t->schedule, "cron(0 2 * * ? *)");
        CHECK(t->predicate == NULL);
        CHECK_STR(t->actions, "[{\"JobName\": \"rj2\"}]");
        CHECK(t->created_ms > 0 && t->last_fired_ms == 0);
    }
    sl_catalog_trigger_free(t);

    struct sl_catalog_trigger dup = {0};
    dup.name = (char *)"r_a";
    dup.actions = (char *)"[]";
    CHECK(sl_catalog_trigger_create(c, &dup, now_ms(), &err) == SL_EEXIST);
    dup.name = (char *)"bad name";
    CHECK(sl_catalog_trigger_create(c, &dup, now_ms(), &err) == SL_ECONFIG);
    dup.name = (char *)"r_x";
    dup.actions = (char *)"{\"JobName\":\"rj1\"}";
    CHECK(sl_catalog_trigger_create(c, &dup, now_ms(), &err) == SL_ECONFIG);
    CHECK(sl_catalog_trigger_get(c, "r_nope", &t, &err) == SL_ENOTFOUND && t == NULL);

    CHECK_OK(sl_catalog_trigger_list(c, NULL, NULL, 0, &ts, &n, &err), &err);
    CHECK(n == 3 && ts && strcmp(ts[0].name, "r_a") == 0 && strcmp(ts[2].name, "r_c") == 0);
    sl_catalog_trigger_list_free(ts, n);
    CHECK_OK(sl_catalog_trigger_list(c, "r_a", NULL, 1, &ts, &n, &err), &err);
    CHECK(n == 1 && strcmp(ts[0].name, "r_b") == 0);
    sl_catalog_trigger_list_free(ts, n);
    CHECK_OK(sl_catalog_trigger_list(c, NULL, "rj1", 0, &ts, &n, &err), &err);
    CHECK(n == 2 && strcmp(ts[0].name, "r_a") == 0 && strcmp(ts[1].name, "r_c") == 0);
    sl_catalog_trigger_list_free(ts, n);
    CHECK_OK(sl_catalog_trigger_list(c, NULL, "nobody", 0, &ts, &n, &err), &err);
    CHECK(n == 0);
    sl_catalog_trigger_list_free(ts, n);

    CHECK_OK(sl_catalog_trigger_delete(c, "r_a", &deleted, &err), &err);
    CHECK(deleted == 1);
    CHECK_OK(sl_catalog_trigger_delete(c, "r_a", &deleted, &err), &err);
    CHECK(deleted == 0);
    sl_catalog_trigger_delete(c, "r_b", NULL, &err);
    sl_catalog_trigger_delete(c, "r_c", NULL, &err);
}

TEST(activation_resets_the_schedule_state)
{
    NEED_CATALOG(c);
    struct sl_err err = {0};
    enum sl_trigger_state before = SL_TRIGGER_DEACTIVATED;
    int64_t until = -1;

    make_job(c, "aj", 1, NULL);
    make_trigger(c, "a_s", SL_TRIGGER_SCHEDULED, SL_TRIGGER_CREATED, "cron(* * * * ? *)", NULL,
                 "[{\"JobName\":\"aj\"}]");
    CHECK_OK(sl_catalog_schedule_get(c, SL_SCHEDULE_TRIGGER, "a_s", &until, &err), &err);
    CHECK(until == 0); /* CREATED: no schedule state */
    CHECK_OK(sl_catalog_trigger_set_state(c, "a_s", SL_TRIGGER_ACTIVATED, 1700000000000LL,
                                          &before, &err),
             &err);
    CHECK(before == SL_TRIGGER_CREATED);
    CHECK_OK(sl_catalog_schedule_get(c, SL_SCHEDULE_TRIGGER, "a_s", &until, &err), &err);
    CHECK(until == 1700000000000LL);
    /* moving forward, never back */
    CHECK_OK(sl_catalog_schedule_advance(c, SL_SCHEDULE_TRIGGER, "a_s", 1700000600000LL, &err),
             &err);
    CHECK_OK(sl_catalog_schedule_advance(c, SL_SCHEDULE_TRIGGER, "a_s", 1700000300000LL, &err),
             &err);
    CHECK_OK(sl_catalog_schedule_get(c, SL_SCHEDULE_TRIGGER, "a_s", &until, &err), &err);
    CHECK(until == 1700000600000LL);
    /* activating an active trigger changes nothing */
    CHECK_OK(sl_catalog_trigger_set_state(c, "a_s", SL_TRIGGER_ACTIVATED, 1800000000000LL,
                                          &before, &err),
             &err);
    CHECK(before == SL_TRIGGER_ACTIVATED);
    CHECK_OK(sl_catalog_schedule_get(c, SL_SCHEDULE_TRIGGER, "a_s", &until, &err), &err);
    CHECK(until == 1700000600000LL);
    /* stop, start again: from the new now */
    CHECK_OK(sl_catalog_trigger_set_state(c, "a_s", SL_TRIGGER_DEACTIVATED, 0, NULL, &err), &err);
    CHECK_OK(sl_catalog_trigger_set_state(c, "a_s", SL_TRIGGER_ACTIVATED, 1800000000000LL, NULL,
                                          &err),
             &err);
    CHECK_OK(sl_catalog_schedule_get(c, SL_SCHEDULE_TRIGGER, "a_s", &until, &err), &err);
    CHECK(until == 1800000000000LL);
    CHECK(sl_catalog_trigger_set_state(c, "a_nope", SL_TRIGGER_ACTIVATED, 0, NULL, &err) ==
          SL_ENOTFOUND);
    /* delete takes the schedule state along */
    CHECK_OK(sl_catalog_trigger_delete(c, "a_s", NULL, &err), &err);
    CHECK(count("SELECT count(*) FROM sluice.schedule_state WHERE key = 'sched:%s'", "a_s") == 0);
}

/* ---- ON_DEMAND ---- */

TEST(on_demand_starts_all_or_none)
{
    NEED_CATALOG(c);
    struct sl_err err = {0};
    char *runs = NULL;

    make_job(c, "oj1", 5, NULL);
    make_job(c, "oj2", 1, NULL);
    make_trigger(c, "o_t", SL_TRIGGER_ON_DEMAND, SL_TRIGGER_CREATED, NULL, NULL,
                 "[{\"JobName\":\"oj1\",\"Arguments\":{\"--day\":\"mon\"},\"Timeout\":7},"
                 "{\"JobName\":\"oj2\"}]");
    CHECK_OK(sl_catalog_trigger_start_now(c, "o_t", &runs, &err), &err);
    CHECK(runs && strstr(runs, "\"RunId\":\"jr_"));
    sl_free(runs);
    CHECK(count("SELECT count(*) FROM sluice.job_run WHERE trigger_name = '%s'", "o_t") == 2);
    CHECK(count("SELECT count(*) FROM sluice.job_run WHERE job_name = 'oj1' AND trigger_name = "
                "'%s' AND arguments->>'--day' = 'mon' AND timeout_minutes = 7",
                "o_t") == 1);
    /* oj2 is at its limit: nothing starts, oj1 included */
    CHECK(sl_catalog_trigger_start_now(c, "o_t", &runs, &err) == SL_ELIMIT);
    CHECKF(strstr(err.msg, "oj2") != NULL, "%s", err.msg);
    CHECK(runs == NULL);
    CHECK(count("SELECT count(*) FROM sluice.job_run WHERE trigger_name = '%s'", "o_t") == 2);
    end_runs("oj2");
    CHECK_OK(sl_catalog_trigger_start_now(c, "o_t", NULL, &err), &err);
    CHECK(count("SELECT count(*) FROM sluice.job_run WHERE trigger_name = '%s'", "o_t") == 4);
    /* only ON_DEMAND triggers start this way */
    make_trigger(c, "o_s", SL_TRIGGER_SCHEDULED, SL_TRIGGER_CREATED, "cron(0 1 * * ? *)", NULL,
                 "[{\"JobName\":\"oj1\"}]");
    CHECK(sl_catalog_trigger_start_now(c, "o_s", NULL, &err) == SL_ECONFIG);
    CHECK(sl_catalog_trigger_start_now(c, "o_nope", NULL, &err) == SL_ENOTFOUND);
    end_runs("oj1");
    end_runs("oj2");
}

/* ---- Schedule fires ---- */

TEST(schedule_fire_once_per_time)
{
    NEED_CATALOG(c);
    struct sl_err err = {0};
    int fired = -1;
    char *runs = NULL;
    int64_t t0 = 1767225600000LL; /* 2026-01-01T00:00:00Z */
    int64_t until = 0;

    make_job(c, "sj", 10, NULL);
    make_trigger(c, "s_t", SL_TRIGGER_SCHEDULED, SL_TRIGGER_ACTIVATED, "cron(* * * * ? *)", NULL,
                 "[{\"JobName\":\"sj\",\"Arguments\":{\"--k\":\"v\"}}]");
    CHECK_OK(sl_catalog_schedule_fire(c, SL_SCHEDULE_TRIGGER, "s_t", t0, &fired, &runs, &err),
             &err);
    CHECK(fired == 1 && runs && strstr(runs, "\"JobName\":\"sj\""));
    sl_free(runs);
    CHECK(count("SELECT count(*) FROM sluice.trigger_fire WHERE key = '%s'",
                "sched:s_t:1767225600") == 1);
    CHECK(count("SELECT count(*) FROM sluice.job_run WHERE idempotency_key = '%s'",
                "sched:s_t:1767225600:0") == 1);
    CHECK(count("SELECT count(*) FROM sluice.job_run WHERE trigger_name = '%s'", "s_t") == 1);
    CHECK_OK(sl_catalog_schedule_get(c, SL_SCHEDULE_TRIGGER, "s_t", &until, &err), &err);
    CHECK(until >= t0);
    /* the same fire time again: nothing */
    CHECK_OK(sl_catalog_schedule_fire(c, SL_SCHEDULE_TRIGGER, "s_t", t0, &fired, &runs, &err),
             &err);
    CHECK(fired == 0 && runs == NULL);
    CHECK(count("SELECT count(*) FROM sluice.job_run WHERE trigger_name = '%s'", "s_t") == 1);
    /* the next minute: a second run */
    CHECK_OK(sl_catalog_schedule_fire(c, SL_SCHEDULE_TRIGGER, "s_t", t0 + 60000, &fired, NULL,
                                      &err),
             &err);
    CHECK(fired == 1);
    CHECK(count("SELECT count(*) FROM sluice.job_run WHERE trigger_name = '%s'", "s_t") == 2);
    struct sl_catalog_trigger *t = NULL;
    CHECK_OK(sl_catalog_trigger_get(c, "s_t", &t, &err), &err);
    CHECK(t && t->last_fired_ms > 0);
    sl_catalog_trigger_free(t);
    /* a stopped trigger does not fire */
    CHECK_OK(sl_catalog_trigger_set_state(c, "s_t", SL_TRIGGER_DEACTIVATED, 0, NULL, &err), &err);
    CHECK_OK(sl_catalog_schedule_fire(c, SL_SCHEDULE_TRIGGER, "s_t", t0 + 120000, &fired, NULL,
                                      &err),
             &err);
    CHECK(fired == 0);
    CHECK(count("SELECT count(*) FROM sluice.job_run WHERE trigger_name = '%s'", "s_t") == 2);
    /* an action whose job is at its limit is recorded, not an error */
    make_job(c, "sj1", 1, NULL);
    make_trigger(c, "s_l", SL_TRIGGER_SCHEDULED, SL_TRIGGER_ACTIVATED, "cron(* * * * ? *)", NULL,
                 "[{\"JobName\":\"sj1\"},{\"JobName\":\"sj\"}]");
    CHECK_OK(sl_catalog_schedule_fire(c, SL_SCHEDULE_TRIGGER, "s_l", t0, &fired, NULL, &err),
             &err);
    CHECK_OK(sl_catalog_schedule_fire(c, SL_SCHEDULE_TRIGGER, "s_l", t0 + 60000, &fired, &runs,
                                      &err),
             &err);
    CHECK(fired == 1 && runs && strstr(runs, "\"Error\":") && strstr(runs, "\"RunId\":"));
    sl_free(runs);
    CHECK(count("SELECT count(*) FROM sluice.job_run WHERE trigger_name = '%s'", "s_l") == 3);
    end_runs("sj");
    end_runs("sj1");
}

TEST(job_schedule_fires_the_job)
{
    NEED_CATALOG(c);
    struct sl_err err = {0};
    struct sl_schedule *list = NULL;
    size_t n = 0;
    int fired = -1;

    make_job(c, "hj", 3, "*/5 * * * *");
    CHECK_OK(sl_catalog_schedule_list(c, &list, &n, &err), &err);
    int seen = 0;
    for (size_t i = 0; i < n; i++)
        if (list[i].kind == SL_SCHEDULE_JOB && strcmp(list[i].name, "hj") == 0) {
            seen = 1;
            CHECK_STR(list[i].schedule, "*/5 * * * *");
            CHECK(list[i].checked_until_ms == 0);
        }
    CHECK(seen);
    sl_schedule_list_free(list, n);
    CHECK_OK(sl_catalog_schedule_init(c, SL_SCHEDULE_JOB, "hj", 1767225600000LL, &err), &err);
    CHECK_OK(sl_catalog_schedule_init(c, SL_SCHEDULE_JOB, "hj", 1867225600000LL, &err), &err);
    CHECK_OK(sl_catalog_schedule_list(c, &list, &n, &err), &err);
    for (size_t i = 0; i < n; i++)
        if (list[i].kind == SL_SCHEDULE_JOB && strcmp(list[i].name, "hj") == 0)
            CHECK(list[i].checked_until_ms == 1767225600000LL); /* init keeps the first */
    sl_schedule_list_free(list, n);
    CHECK_OK(sl_catalog_schedule_fire(c, SL_SCHEDULE_JOB, "hj", 1767225900000LL, &fired, NULL,
                                      &err),
             &err);
    CHECK(fired == 1);
    CHECK(count("SELECT count(*) FROM sluice.job_run WHERE job_name = '%s' AND trigger_name IS "
                "NULL AND idempotency_key = 'job:hj:1767225900:0'",
                "hj") == 1);
    /* a job without a schedule is not fired */
    make_job(c, "hj0", 3, NULL);
    CHECK_OK(sl_catalog_schedule_fire(c, SL_SCHEDULE_JOB, "hj0", 1767225900000LL, &fired, NULL,
                                      &err),
             &err);
    CHECK(fired == 0);
    end_runs("hj");
}

TEST(crawler_schedule_fires_a_crawl)
{
    NEED_CATALOG(c);
    struct sl_err err = {0};
    struct sl_schedule *list = NULL;
    size_t n = 0;
    int fired = -1, seen = 0;

    CHECK_OK(sl_catalog_crawler_put(c, "Sched-Crawler",
                                    "{\"glue\":{\"Schedule\":\"cron(0/15 * * * ? *)\"}}", NULL,
                                    &err),
             &err);
    CHECK_OK(sl_catalog_crawler_put(c, "unsched", "{\"glue\":{}}", NULL, &err), &err);
    CHECK_OK(sl_catalog_schedule_list(c, &list, &n, &err), &err);
    for (size_t i = 0; i < n; i++) {
        if (list[i].kind == SL_SCHEDULE_CRAWLER && strcmp(list[i].name, "Sched-Crawler") == 0) {
            seen = 1;
            CHECK_STR(list[i].schedule, "cron(0/15 * * * ? *)");
        }
        CHECK(!(list[i].kind == SL_SCHEDULE_CRAWLER && strcmp(list[i].name, "unsched") == 0));
    }
    CHECK(seen);
    sl_schedule_list_free(list, n);
    CHECK_OK(sl_catalog_schedule_fire(c, SL_SCHEDULE_CRAWLER, "Sched-Crawler", 1767225600000LL,
                                      &fired, NULL, &err),
             &err);
    CHECK(fired == 1);
    CHECK(count("SELECT count(*) FROM sluice.job_run WHERE kind = 'crawler' AND job_name = '%s' "
                "AND idempotency_key = 'crawl:Sched-Crawler:1767225600:0'",
                "Sched-Crawler") == 1);
    /* the same fire again starts nothing */
    CHECK_OK(sl_catalog_schedule_fire(c, SL_SCHEDULE_CRAWLER, "Sched-Crawler", 1767225600000LL,
                                      &fired, NULL, &err),
             &err);
    CHECK(fired == 0);
    CHECK_OK(sl_catalog_schedule_fire(c, SL_SCHEDULE_CRAWLER, "unsched", 1767225600000LL, &fired,
                                      NULL, &err),
             &err);
    CHECK(fired == 0);
}

/* Two "servers": connections firing the same fire time at the same moment. */
struct racer {
    const char *name;
    int64_t fire_ms;
    int fired;
    int rc;
    pthread_barrier_t *go;
};

static void *race(void *arg)
{
    struct racer *r = arg;
    struct sl_err err = {0};
    struct sl_catalog *c = sl_catalog_open_conninfo(db_ci, &err);
    r->rc = -1;
    pthread_barrier_wait(r->go);
    if (c)
        r->rc = sl_catalog_schedule_fire(c, SL_SCHEDULE_TRIGGER, r->name, r->fire_ms, &r->fired,
                                         NULL, &err);
    if (r->rc != SL_OK)
        printf("#   racer: %s\n", err.msg);
    sl_catalog_free(c);
    return NULL;
}

TEST(two_servers_fire_once)
{
    NEED_CATALOG(c);
    enum { N = 4, ROUNDS = 5 };
    pthread_t th[N];
    struct racer rs[N];
    pthread_barrier_t go;

    make_job(c, "tj", 100, NULL);
    make_trigger(c, "t_race", SL_TRIGGER_SCHEDULED, SL_TRIGGER_ACTIVATED, "cron(* * * * ? *)",
                 NULL, "[{\"JobName\":\"tj\"},{\"JobName\":\"tj\"}]");
    for (int round = 0; round < ROUNDS; round++) {
        int n_fired = 0;
        pthread_barrier_init(&go, NULL, N);
        for (int i = 0; i < N; i++) {
            rs[i] = (struct racer){"t_race", 1767225600000LL + round * 60000LL, 0, 0, &go};
            pthread_create(&th[i], NULL, race, &rs[i]);
        }
        for (int i = 0; i < N; i++) {
            pthread_join(th[i], NULL);
            CHECK(rs[i].rc == SL_OK);
            n_fired += rs[i].fired;
        }
        pthread_barrier_destroy(&go);
        CHECKF(n_fired == 1, "round %d: %d fires", round, n_fired);
    }
    /* two actions per fire, one fire per round */
    CHECK(count("SELECT count(*) FROM sluice.job_run WHERE trigger_name = '%s'", "t_race") ==
          2 * ROUNDS);
    end_runs("tj");
}

/* ---- CONDITIONAL ---- */

TEST(conditional_any_fires_once_per_run)
{
    NEED_CATALOG(c);
    struct sl_err err = {0};

    make_job(c, "ca", 5, NULL);
    make_job(c, "cb", 5, NULL);
    make_trigger(c, "c_any", SL_TRIGGER_CONDITIONAL, SL_TRIGGER_ACTIVATED, NULL,
                 "{\"Conditions\":[{\"LogicalOperator\":\"EQUALS\",\"JobName\":\"ca\","
                 "\"State\":\"SUCCEEDED\"}]}",
                 "[{\"JobName\":\"cb\",\"Arguments\":{\"--from\":\"ca\"}}]");
    struct sl_run *a1 = finished_run(c, SL_RUN_JOB, "ca", "SUCCEEDED");
    CHECK(a1 != NULL);
    if (!a1)
        return;
    CHECK_OK(sl_catalog_trigger_on_run_done(c, a1, &err), &err);
    CHECK(count("SELECT count(*) FROM sluice.job_run WHERE job_name = 'cb' AND trigger_name = "
                "'%s'",
                "c_any") == 1);
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT predecessors::text FROM sluice.job_run WHERE job_name = 'cb' AND "
             "idempotency_key = 'cond:c_any:%s:0'",
             a1->id);
    char *preds = query_text(sql);
    char want[256];
    snprintf(want, sizeof want, "[{\"RunId\": \"%s\", \"JobName\": \"ca\"}]", a1->id);
    CHECK_STR(preds, want);
    sl_free(preds);
    /* the same run again (a replayed finish): no second fire */
    CHECK_OK(sl_catalog_trigger_on_run_done(c, a1, &err), &err);
    CHECK(count("SELECT count(*) FROM sluice.job_run WHERE job_name = 'cb' AND trigger_name = "
                "'%s'",
                "c_any") == 1);
    sl_run_free(a1);
    /* a failed run does not satisfy SUCCEEDED */
    struct sl_run *a2 = finished_run(c, SL_RUN_JOB, "ca", "FAILED");
    CHECK_OK(sl_catalog_trigger_on_run_done(c, a2, &err), &err);
    sl_run_free(a2);
    CHECK(count("SELECT count(*) FROM sluice.job_run WHERE trigger_name = '%s'", "c_any") == 1);
    /* a new success fires again */
    struct sl_run *a3 = finished_run(c, SL_RUN_JOB, "ca", "SUCCEEDED");
    CHECK_OK(sl_catalog_trigger_on_run_done(c, a3, &err), &err);
    sl_run_free(a3);
    CHECK(count("SELECT count(*) FROM sluice.job_run WHERE trigger_name = '%s'", "c_any") == 2);
    /* deactivated: nothing */
    CHECK_OK(sl_catalog_trigger_set_state(c, "c_any", SL_TRIGGER_DEACTIVATED, 0, NULL, &err),
             &err);
    struct sl_run *a4 = finished_run(c, SL_RUN_JOB, "ca", "SUCCEEDED");
    CHECK_OK(sl_catalog_trigger_on_run_done(c, a4, &err), &err);
    sl_run_free(a4);
    CHECK(count("SELECT count(*) FROM sluice.job_run WHERE trigger_name = '%s'", "c_any") == 2);
    end_runs("cb");
}

TEST(conditional_and_fires_per_wave)
{
    NEED_CATALOG(c);
    struct sl_err err = {0};

    make_job(c, "wa", 5, NULL);
    make_job(c, "wb", 5, NULL);
    make_job(c, "wc", 50, NULL);
    make_trigger(c, "w_and", SL_TRIGGER_CONDITIONAL, SL_TRIGGER_ACTIVATED, NULL,
                 "{\"Logical\":\"AND\",\"Conditions\":["
                 "{\"LogicalOperator\":\"EQUALS\",\"JobName\":\"wa\",\"State\":\"SUCCEEDED\"},"
                 "{\"LogicalOperator\":\"EQUALS\",\"JobName\":\"wb\",\"State\":\"FAILED\"}]}",
                 "[{\"JobName\":\"wc\"}]");
    const char *q = "SELECT count(*) FROM sluice.job_run WHERE trigger_name = '%s'";
    struct sl_run *a = finished_run(c, SL_RUN_JOB, "wa", "SUCCEEDED");
    CHECK_OK(sl_catalog_trigger_on_run_done(c, a, &err), &err);
    CHECK(count(q, "w_and") == 0); /* wb has no run yet */
    struct sl_run *b = finished_run(c, SL_RUN_JOB, "wb", "FAILED");
    CHECK_OK(sl_catalog_trigger_on_run_done(c, b, &err), &err);
    CHECK(count(q, "w_and") == 1);
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT jsonb_array_length(predecessors) FROM sluice.job_run WHERE "
             "idempotency_key = 'cond:w_and:%s:0'",
             b->id);
    char *n_preds = query_text(sql);
    CHECK_STR(n_preds, "2");
    sl_free(n_preds);
    /* the same wave, evaluated for the other run: no second fire */
    CHECK_OK(sl_catalog_trigger_on_run_done(c, a, &err), &err);
    CHECK(count(q, "w_and") == 1);
    sl_run_free(a);
    sl_run_free(b);
    /* wa succeeds again: a new wave (wb's failure still holds) */
    usleep(2000);
    a = finished_run(c, SL_RUN_JOB, "wa", "SUCCEEDED");
    CHECK_OK(sl_catalog_trigger_on_run_done(c, a, &err), &err);
    CHECK(count(q, "w_and") == 2);
    sl_run_free(a);
    /* wb now succeeds: its condition no longer holds */
    b = finished_run(c, SL_RUN_JOB, "wb", "SUCCEEDED");
    CHECK_OK(sl_catalog_trigger_on_run_done(c, b, &err), &err);
    sl_run_free(b);
    a = finished_run(c, SL_RUN_JOB, "wa", "SUCCEEDED");
    CHECK_OK(sl_catalog_trigger_on_run_done(c, a, &err), &err);
    sl_run_free(a);
    CHECK(count(q, "w_and") == 2);
    end_runs("wc");
}

TEST(conditional_crawl_states_and_failed_actions)
{
    NEED_CATALOG(c);
    struct sl_err err = {0};

    CHECK_OK(sl_catalog_crawler_put(c, "kc", "{\"Targets\":{}}", NULL, &err), &err);
    make_job(c, "kj", 1, NULL);
    make_job(c, "kj2", 5, NULL);
    make_trigger(c, "k_t", SL_TRIGGER_CONDITIONAL, SL_TRIGGER_ACTIVATED, NULL,
                 "{\"Logical\":\"ANY\",\"Conditions\":["
                 "{\"LogicalOperator\":\"EQUALS\",\"CrawlerName\":\"kc\","
                 "\"CrawlState\":\"CANCELLED\"}]}",
                 "[{\"JobName\":\"kj\"},{\"JobName\":\"kj2\"}]");
    /* kj is at its limit: that action is skipped, the other starts, no error */
    struct sl_run_request rq = {0};
    char id[SL_RUN_ID_MAX + 1];
    rq.kind = SL_RUN_JOB;
    rq.job_name = "kj";
    CHECK_OK(sl_catalog_run_start(c, &rq, id, NULL, &err), &err);
    struct sl_run *k = finished_run(c, SL_RUN_CRAWLER, "kc", "STOPPED"); /* = CANCELLED */
    CHECK(k != NULL);
    if (!k)
        return;
    CHECK_OK(sl_catalog_begin(c, &err), &err);
    CHECK_OK(sl_catalog_trigger_on_run_done(c, k, &err), &err);
    CHECK_OK(sl_catalog_commit(c, &err), &err);
    CHECK(count("SELECT count(*) FROM sluice.job_run WHERE trigger_name = '%s'", "k_t") == 1);
    CHECK(count("SELECT count(*) FROM sluice.job_run WHERE job_name = 'kj2' AND trigger_name = "
                "'%s' AND predecessors = '[]'",
                "k_t") == 1);
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT runs->0->>'Error' FROM sluice.trigger_fire WHERE key = 'cond:k_t:%s'", k->id);
    char *why = query_text(sql);
    CHECKF(why && strstr(why, "MaxConcurrentRuns"), "%s", why ? why : "(none)");
    sl_free(why);
    sl_run_free(k);
    /* a crawl that SUCCEEDED does not satisfy CANCELLED */
    k = finished_run(c, SL_RUN_CRAWLER, "kc", "SUCCEEDED");
    CHECK_OK(sl_catalog_trigger_on_run_done(c, k, &err), &err);
    sl_run_free(k);
    CHECK(count("SELECT count(*) FROM sluice.job_run WHERE trigger_name = '%s'", "k_t") == 1);
    end_runs("kj");
    end_runs("kj2");
}

int main(void)
{
    RUN(create_get_list_delete);
    RUN(activation_resets_the_schedule_state);
    RUN(on_demand_starts_all_or_none);
    RUN(schedule_fire_once_per_time);
    RUN(job_schedule_fires_the_job);
    RUN(crawler_schedule_fires_a_crawl);
    RUN(two_servers_fire_once);
    RUN(conditional_any_fires_once_per_run);
    RUN(conditional_and_fires_per_wave);
    RUN(conditional_crawl_states_and_failed_actions);
    sl_catalog_free(cat);
    sl_free(db_ci);
    drop_db();
    TEST_EXIT();
}
