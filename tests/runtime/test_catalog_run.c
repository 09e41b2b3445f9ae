/*
 * tests/runtime/test_catalog_run.c - job runs and the run queue
 * (catalog_run.c) against a real PostgreSQL: the server of SLUICE_CATALOG
 * (skipped when unset), in a fresh database (sl_run_<pid>) dropped at the
 * end. Start (arguments merged, non-overridable keys, MaxConcurrentRuns,
 * idempotency keys, reruns), claim by two owners, running, stop, finish with
 * retries and backoff, recovery of runs whose server is gone, capped logs
 * read by offset, counts, forget.
 */
#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/alloc.h"
#include "runtime/catalog.h"
#include "runtime/catalog_run.h"
#include "tests/pg_test.h"
#include "tests/test.h"

static char db_name[64];
static char *db_ci;            /* owned */
static struct sl_catalog *cat; /* on db_ci */

static struct sl_catalog *catalog(void)
{
    struct sl_err err = { 0 };
    char sql[128];

    if (cat || !pg_test_have())
        return cat;
    if (!db_ci) {
        snprintf(db_name, sizeof db_name, "sl_run_%ld", (long)getpid());
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

/* Creates job name with MaxConcurrentRuns conc and MaxRetries retries. */
static void make_job(struct sl_catalog *c, const char *name, int conc, int retries)
{
    struct sl_err err = { 0 };
    struct sl_catalog_job j = { 0 };
    j.name = (char *)name;
    j.command = (char *)"{\"ScriptLocation\":\"/jobs/x.lua\"}";
    j.default_arguments = (char *)"{\"--in\":\"a\",\"--mode\":\"full\"}";
    j.non_overridable_arguments = (char *)"{\"--env\":\"prod\"}";
    j.max_concurrent_runs = conc;
    j.max_retries = retries;
    j.timeout_minutes = 5;
    CHECK_OK(sl_catalog_job_put(c, &j, &err), &err);
}

TEST(start_merges_arguments_and_checks_limits)
{
    NEED_CATALOG(c);
    struct sl_err err = { 0 };
    char id[SL_RUN_ID_MAX + 1], id2[SL_RUN_ID_MAX + 1];
    struct sl_run *r = NULL;
    int created = 0;

    make_job(c, "j1", 1, 0);
    struct sl_run_request rq = { .job_name = "j1", .arguments = "{\"--in\":\"b\"}" };
    CHECK_OK(sl_catalog_run_start(c, &rq, id, &created, &err), &err);
    CHECK(created == 1 && strncmp(id, "jr_", 3) == 0 && strlen(id) == 67);
    CHECK_OK(sl_catalog_run_get(c, SL_RUN_JOB, "j1", id, &r, &err), &err);
    if (r) {
        CHECK(r->state == SL_RUN_STARTING && r->attempt == 0 && r->timeout_minutes == 5);
        CHECK_STR(r->arguments, "{\"--in\": \"b\"}");
        CHECK_STR(r->effective_arguments, "{\"--in\": \"b\", \"--env\": \"prod\", \"--mode\": \"full\"}");
        CHECK_STR(r->script_location, "/jobs/x.lua");
    }
    sl_run_free(r);
    /* MaxConcurrentRuns 1: a second start is refused while the first lives */
    CHECK(sl_catalog_run_start(c, &rq, id2, NULL, &err) == SL_ELIMIT);
    CHECK(strstr(err.msg, "MaxConcurrentRuns is 1") != NULL);
    /* a run may not change a non-overridable argument (same value is fine) */
    make_job(c, "j1b", 5, 0);
    struct sl_run_request bad = { .job_name = "j1b", .arguments = "{\"--env\":\"dev\"}" };
    CHECK(sl_catalog_run_start(c, &bad, id2, NULL, &err) == SL_ECONFIG);
    struct sl_run_request same = { .job_name = "j1b", .arguments = "{\"--env\":\"prod\"}" };
    CHECK_OK(sl_catalog_run_start(c, &same, id2, NULL, &err), &err);
    struct sl_run_request notstr = { .job_name = "j1b", .arguments = "{\"--n\":1}" };
    CHECK(sl_catalog_run_start(c, &notstr, id2, NULL, &err) == SL_ECONFIG);
    struct sl_run_request nojob = { .job_name = "nope" };
    CHECK(sl_catalog_run_start(c, &nojob, id2, NULL, &err) == SL_ENOTFOUND);
}

TEST(idempotency_key_starts_one_run)
{
    NEED_CATALOG(c);
    struct sl_err err = { 0 };
    char a[SL_RUN_ID_MAX + 1], b[SL_RUN_ID_MAX + 1];
    int ca = 0, cb = 0;

    make_job(c, "j2", 10, 0);
    struct sl_run_request rq = { .job_name = "j2", .idempotency_key = "sched:t:1700000000:0",
                                 .trigger_name = "t" };
    CHECK_OK(sl_catalog_run_start(c, &rq, a, &ca, &err), &err);
    CHECK_OK(sl_catalog_run_start(c, &rq, b, &cb, &err), &err);
    CHECK(ca == 1 && cb == 0);
    CHECK_STR(a, b);
    CHECK(pg_test_query_long(db_ci, "SELECT count(*) FROM sluice.job_run WHERE job_name = 'j2'") == 1);
}

TEST(claim_is_exclusive_between_owners)
{
    NEED_CATALOG(c);
    struct sl_err err = { 0 };
    struct sl_catalog *c2 = sl_catalog_open_conninfo(db_ci, &err);
    char id[SL_RUN_ID_MAX + 1];
    struct sl_run *mine = NULL, *theirs = NULL, *more = NULL;
    size_t n1 = 0, n2 = 0, n3 = 0;

    CHECK(c2 != NULL);
    if (!c2)
        return;
    pg_test_exec(db_ci, "UPDATE sluice.job_run SET state = 'STOPPED'"); /* earlier tests' runs */
    make_job(c, "j3", 10, 0);
    struct sl_run_request rq = { .job_name = "j3" };
    for (int i = 0; i < 5; i++)
        CHECK_OK(sl_catalog_run_start(c, &rq, id, NULL, &err), &err);
    CHECK_OK(sl_catalog_run_claim(c, "hostA/1/aa", 30, 3, &mine, &n1, &err), &err);
    CHECK_OK(sl_catalog_run_claim(c2, "hostB/2/bb", 30, 10, &theirs, &n2, &err), &err);
    CHECK_OK(sl_catalog_run_claim(c, "hostA/1/aa", 30, 10, &more, &n3, &err), &err);
    CHECK(n1 == 3 && n2 == 2 && n3 == 0);
    for (size_t i = 0; i < n1; i++)
        for (size_t k = 0; k < n2; k++)
            CHECK(strcmp(mine[i].id, theirs[k].id) != 0);
    if (n1 == 3)
        CHECK(mine[0].seq < mine[1].seq && mine[1].seq < mine[2].seq); /* oldest first */
    /* only the owner can mark it running or finish it */
    int stop = 0;
    if (n2) {
        CHECK(sl_catalog_run_set_running(c, theirs[0].id, "hostA/1/aa", 42, &stop, &err) ==
              SL_ENOTFOUND);
        CHECK_OK(sl_catalog_run_set_running(c2, theirs[0].id, "hostB/2/bb", 42, &stop, &err), &err);
        CHECK(stop == 0);
        CHECK(sl_catalog_run_finish(c, theirs[0].id, "hostA/1/aa", SL_RUN_SUCCEEDED, NULL, 0, NULL,
                                    NULL, &err) == SL_ENOTFOUND);
        CHECK_OK(sl_catalog_run_finish(c2, theirs[0].id, "hostB/2/bb", SL_RUN_SUCCEEDED, NULL, 0,
                                       NULL, NULL, &err), &err);
    }
    sl_run_list_free(mine, n1);
    sl_run_list_free(theirs, n2);
    sl_run_list_free(more, n3);
    sl_catalog_free(c2);
}

TEST(stop_queued_claimed_and_finished)
{
    NEED_CATALOG(c);
    struct sl_err err = { 0 };
    char q[SL_RUN_ID_MAX + 1], k[SL_RUN_ID_MAX + 1];
    enum sl_run_state after;
    struct sl_run *claimed = NULL;
    size_t n = 0;
    char **stop_ids = NULL;
    size_t n_stop = 0;

    pg_test_exec(db_ci, "UPDATE sluice.job_run SET state = 'STOPPED'");
    make_job(c, "j4", 10, 0);
    struct sl_run_request rq = { .job_name = "j4" };
    CHECK_OK(sl_catalog_run_start(c, &rq, q, NULL, &err), &err);
    CHECK_OK(sl_catalog_run_stop(c, SL_RUN_JOB, "j4", q, &after, &err), &err);
    CHECK(after == SL_RUN_STOPPED); /* never claimed: stopped at once */
    CHECK(sl_catalog_run_stop(c, SL_RUN_JOB, "j4", q, &after, &err) == SL_ECONFIG);
    CHECK(strstr(err.msg, "already STOPPED") != NULL);
    CHECK(sl_catalog_run_stop(c, SL_RUN_JOB, NULL, "jr_nope", &after, &err) == SL_ENOTFOUND);
    CHECK(strstr(err.msg, "run \"jr_nope\" not found") != NULL);
    CHECK_OK(sl_catalog_run_start(c, &rq, k, NULL, &err), &err);
    CHECK_OK(sl_catalog_run_claim(c, "h/7/x", 30, 1, &claimed, &n, &err), &err);
    CHECK(n == 1);
    CHECK_OK(sl_catalog_run_stop(c, SL_RUN_JOB, "j4", k, &after, &err), &err);
    CHECK(after == SL_RUN_STOPPING);
    CHECK_OK(sl_catalog_run_renew(c, "h/7/x", 30, &stop_ids, &n_stop, &err), &err);
    CHECK(n_stop == 1 && stop_ids && strcmp(stop_ids[0], k) == 0);
    for (size_t i = 0; i < n_stop; i++)
        sl_free(stop_ids[i]);
    sl_free(stop_ids);
    CHECK_OK(sl_catalog_run_finish(c, k, "h/7/x", SL_RUN_STOPPED, "stopped", 0, NULL, NULL, &err),
             &err);
    sl_run_list_free(claimed, n);
}

TEST(failed_run_is_retried_with_backoff)
{
    NEED_CATALOG(c);
    struct sl_err err = { 0 };
    char id[SL_RUN_ID_MAX + 1], retry[SL_RUN_ID_MAX + 1], again[SL_RUN_ID_MAX + 1];
    struct sl_run *claimed = NULL, *done = NULL, *r = NULL;
    size_t n = 0;

    pg_test_exec(db_ci, "UPDATE sluice.job_run SET state = 'STOPPED'");
    make_job(c, "j5", 1, 1);
    struct sl_run_request rq = { .job_name = "j5", .arguments = "{\"--in\":\"z\"}" };
    CHECK_OK(sl_catalog_run_start(c, &rq, id, NULL, &err), &err);
    CHECK_OK(sl_catalog_run_claim(c, "h/8/y", 30, 1, &claimed, &n, &err), &err);
    CHECK_OK(sl_catalog_run_finish(c, id, "h/8/y", SL_RUN_FAILED, "boom", 60000, retry, &done,
                                   &err), &err);
    char want[SL_RUN_ID_MAX + 16];
    snprintf(want, sizeof want, "%s_attempt_1", id);
    CHECK_STR(retry, want);
    CHECK(done && done->state == SL_RUN_FAILED && done->completed_ms > 0);
    CHECK_STR(done ? done->error_message : NULL, "boom");
    CHECK_OK(sl_catalog_run_get(c, SL_RUN_JOB, "j5", retry, &r, &err), &err);
    if (r) {
        CHECK(r->attempt == 1 && r->state == SL_RUN_STARTING);
        CHECK_STR(r->previous_run_id, id);
        CHECK_STR(r->arguments, "{\"--in\": \"z\"}");
    }
    /* not claimable before its backoff has passed */
    sl_run_list_free(claimed, n);
    claimed = NULL;
    CHECK_OK(sl_catalog_run_claim(c, "h/8/y", 30, 5, &claimed, &n, &err), &err);
    CHECK(n == 0);
    char sql[640];
    snprintf(sql, sizeof sql,
             "SELECT (extract(epoch FROM a.not_before - b.done) * 1000)::int8 FROM "
             "sluice.job_run a, (SELECT completed_on AS done FROM sluice.job_run WHERE id = '%s') b "
             "WHERE a.id = '%s'", id, retry);
    long delay = pg_test_query_long(db_ci, sql);
    CHECK(delay >= 59000 && delay <= 61000);
    /* attempt 1 of MaxRetries 1 failing: no third run */
    pg_test_exec(db_ci, "UPDATE sluice.job_run SET not_before = clock_timestamp()");
    sl_run_list_free(claimed, n);
    claimed = NULL;
    CHECK_OK(sl_catalog_run_claim(c, "h/8/y", 30, 5, &claimed, &n, &err), &err);
    CHECK(n == 1);
    CHECK_OK(sl_catalog_run_finish(c, retry, "h/8/y", SL_RUN_FAILED, "boom", 0, again, NULL, &err),
             &err);
    CHECK(again[0] == '\0');
    /* StartJobRun with JobRunId: the next free attempt, the old arguments */
    struct sl_run_request rerun = { .job_name = "j5", .retry_of = id };
    CHECK_OK(sl_catalog_run_start(c, &rerun, again, NULL, &err), &err);
    snprintf(want, sizeof want, "%s_attempt_2", id);
    CHECK_STR(again, want);
    sl_run_free(r);
    sl_run_free(done);
    sl_run_list_free(claimed, n);
}

static int never_alive(int pid)
{
    (void)pid;
    return 0;
}

TEST(recover_finds_runs_of_dead_servers)
{
    NEED_CATALOG(c);
    struct sl_err err = { 0 };
    char id[SL_RUN_ID_MAX + 1], id2[SL_RUN_ID_MAX + 1];
    struct sl_run *claimed = NULL, *r = NULL;
    size_t n = 0, nrec = 0;

    pg_test_exec(db_ci, "UPDATE sluice.job_run SET state = 'STOPPED'");
    make_job(c, "j6", 10, 0);
    struct sl_run_request rq = { .job_name = "j6" };
    CHECK_OK(sl_catalog_run_start(c, &rq, id, NULL, &err), &err);
    CHECK_OK(sl_catalog_run_start(c, &rq, id2, NULL, &err), &err);
    CHECK_OK(sl_catalog_run_claim(c, "thishost/999999/aa", 60, 1, &claimed, &n, &err), &err);
    sl_run_list_free(claimed, n);
    CHECK_OK(sl_catalog_run_claim(c, "otherhost/5/bb", 60, 1, &claimed, &n, &err), &err);
    sl_run_list_free(claimed, n);
    /* leases still valid: only the dead process of this host is recovered */
    CHECK_OK(sl_catalog_run_recover(c, "thishost", never_alive, 0, &nrec, &err), &err);
    CHECK(nrec == 1);
    CHECK_OK(sl_catalog_run_get(c, SL_RUN_JOB, "j6", id, &r, &err), &err);
    CHECK(r && r->state == SL_RUN_FAILED && strstr(r->error_message, "run lost") != NULL);
    sl_run_free(r);
    r = NULL;
    CHECK_OK(sl_catalog_run_get(c, SL_RUN_JOB, "j6", id2, &r, &err), &err);
    CHECK(r && r->state == SL_RUN_STARTING); /* the other host's run, lease valid */
    sl_run_free(r);
    r = NULL;
    /* its lease expires: any server finishes it */
    pg_test_exec(db_ci, "UPDATE sluice.job_run SET lease_until = clock_timestamp() - interval '1 s'"
                        " WHERE owner LIKE 'otherhost/%'");
    CHECK_OK(sl_catalog_run_recover(c, "thishost", NULL, 0, &nrec, &err), &err);
    CHECK(nrec == 1);
    CHECK_OK(sl_catalog_run_get(c, SL_RUN_JOB, "j6", id2, &r, &err), &err);
    CHECK(r && r->state == SL_RUN_FAILED && strstr(r->error_message, "lease") != NULL);
    sl_run_free(r);
}

TEST(logs_are_capped_and_read_by_offset)
{
    NEED_CATALOG(c);
    struct sl_err err = { 0 };
    char id[SL_RUN_ID_MAX + 1];
    char *text = NULL;
    size_t len = 0;
    int64_t start = 0, total = 0;
    int trunc = 0;

    make_job(c, "j7", 10, 0);
    struct sl_run_request rq = { .job_name = "j7" };
    CHECK_OK(sl_catalog_run_start(c, &rq, id, NULL, &err), &err);
    CHECK_OK(sl_catalog_run_log_read(c, id, 0, 0, &text, &len, &start, &total, &trunc, &err), &err);
    CHECK(len == 0 && total == 0 && !trunc);
    sl_free(text);
    CHECK_OK(sl_catalog_run_log_append(c, id, "line one\n", 9, 20, &err), &err);
    /* invalid UTF-8 and NUL become '?' */
    CHECK_OK(sl_catalog_run_log_append(c, id, "b\xff\0d\n", 5, 20, &err), &err);
    CHECK_OK(sl_catalog_run_log_read(c, id, 0, 0, &text, &len, &start, &total, &trunc, &err), &err);
    CHECK_STR(text, "line one\nb??d\n");
    CHECK(total == 14 && start == 0 && !trunc);
    sl_free(text);
    CHECK_OK(sl_catalog_run_log_read(c, id, 9, 3, &text, &len, &start, &total, &trunc, &err), &err);
    CHECK_STR(text, "b??");
    sl_free(text);
    /* past the cap of 20: the oldest characters go, offsets keep counting */
    CHECK_OK(sl_catalog_run_log_append(c, id, "third line\n", 11, 20, &err), &err);
    CHECK_OK(sl_catalog_run_log_read(c, id, 0, 0, &text, &len, &start, &total, &trunc, &err), &err);
    CHECK(total == 25 && start == 5 && trunc);
    CHECK_STR(text, "one\nb??d\nthird line\n");
    sl_free(text);
    CHECK_OK(sl_catalog_run_log_read(c, id, 14, 0, &text, &len, &start, &total, &trunc, &err), &err);
    CHECK_STR(text, "third line\n");
    CHECK(start == 14);
    sl_free(text);
    CHECK(sl_catalog_run_log_read(c, "jr_nope", 0, 0, &text, &len, &start, &total, &trunc, &err) ==
          SL_ENOTFOUND);
}

TEST(logs_take_only_what_postgresql_accepts_as_utf8)
{
    NEED_CATALOG(c);
    struct sl_err err = { 0 };
    char id[SL_RUN_ID_MAX + 1];
    char *text = NULL;
    size_t len = 0;
    int64_t start = 0, total = 0;
    int trunc = 0;
    /* a surrogate, an overlong form, past U+10FFFF, then valid é and € */
    static const char bad[] = "\xed\xa0\x80|\xe0\x80\x80|\xf4\x90\x80\x80|\xc3\xa9\xe2\x82\xac\n";

    make_job(c, "j9", 10, 0);
    struct sl_run_request rq = { .job_name = "j9" };
    CHECK_OK(sl_catalog_run_start(c, &rq, id, NULL, &err), &err);
    CHECK_OK(sl_catalog_run_log_append(c, id, bad, sizeof bad - 1, 1000, &err), &err);
    CHECK_OK(sl_catalog_run_log_read(c, id, 0, 0, &text, &len, &start, &total, &trunc, &err), &err);
    CHECK_STR(text, "???|???|????|\xc3\xa9\xe2\x82\xac\n");
    sl_free(text);
}

TEST(counts_list_and_forget)
{
    NEED_CATALOG(c);
    struct sl_err err = { 0 };
    int64_t by_state[SL_RUN_N_STATES], queued = 0;
    char id[SL_RUN_ID_MAX + 1];
    struct sl_run *runs = NULL;
    size_t n = 0;

    make_job(c, "j8", 10, 0);
    struct sl_run_request rq = { .job_name = "j8" };
    for (int i = 0; i < 3; i++)
        CHECK_OK(sl_catalog_run_start(c, &rq, id, NULL, &err), &err);
    CHECK_OK(sl_catalog_run_counts(c, by_state, &queued, &err), &err);
    CHECK(queued >= 3 && by_state[SL_RUN_STARTING] >= 3);
    CHECK_OK(sl_catalog_run_list(c, SL_RUN_JOB, "j8", 0, 2, &runs, &n, &err), &err);
    CHECK(n == 2 && runs[0].seq > runs[1].seq);
    CHECK_STR(runs[0].id, id); /* newest first */
    int64_t before = n == 2 ? runs[1].seq : 0;
    sl_run_list_free(runs, n);
    CHECK_OK(sl_catalog_run_list(c, SL_RUN_JOB, "j8", before, 0, &runs, &n, &err), &err);
    CHECK(n == 1);
    sl_run_list_free(runs, n);
    /* DeleteJob: queued runs stop, history goes */
    CHECK_OK(sl_catalog_job_delete(c, "j8", NULL, &err), &err);
    CHECK(pg_test_query_long(db_ci, "SELECT count(*) FROM sluice.job_run WHERE job_name = 'j8'") ==
          0);
    CHECK(strcmp(sl_run_state_name(SL_RUN_TIMEOUT), "TIMEOUT") == 0);
    enum sl_run_state s;
    CHECK(sl_run_state_parse("WAITING", &s) == SL_OK && s == SL_RUN_WAITING);
    CHECK(sl_run_state_parse("EXPIRED", &s) == SL_ECONFIG);
}

int main(void)
{
    RUN(start_merges_arguments_and_checks_limits);
    RUN(idempotency_key_starts_one_run);
    RUN(claim_is_exclusive_between_owners);
    RUN(stop_queued_claimed_and_finished);
    RUN(failed_run_is_retried_with_backoff);
    RUN(recover_finds_runs_of_dead_servers);
    RUN(logs_are_capped_and_read_by_offset);
    RUN(logs_take_only_what_postgresql_accepts_as_utf8);
    RUN(counts_list_and_forget);
    sl_catalog_free(cat);
    sl_free(db_ci);
    if (db_name[0]) {
        char sql[160];
        snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS \"%s\" WITH (FORCE)", db_name);
        pg_test_exec(getenv("SLUICE_CATALOG"), sql);
    }
    TEST_EXIT();
}
