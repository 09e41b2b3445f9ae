/*
 * tests/runtime/test_catalog_job.c - job definitions (catalog_job.c) against a
 * real PostgreSQL: the server of SLUICE_CATALOG (skipped when unset). The tests
 * use one fresh database (sl_job_<pid>), migrated from scratch, and drop it at
 * the end.
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/alloc.h"
#include "runtime/catalog.h"
#include "tests/test.h"
#include "tests/pg_test.h"

/* ---- The test database ---- */

static char db_name[64];
static char *db_ci;               /* owned */
static struct sl_catalog *cat;    /* on db_ci */

/* The migrated test catalog, created on first use; NULL without a server. */
static struct sl_catalog *catalog(void)
{
    struct sl_err err = { 0 };
    char sql[128];

    if (cat || !pg_test_have())
        return cat;
    if (!db_ci) {
        snprintf(db_name, sizeof db_name, "sl_job_%ld", (long)getpid());
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

/* A job with the given name and script (fields borrowed: not to be cleaned). */
static struct sl_catalog_job job_of(const char *name, const char *command)
{
    struct sl_catalog_job j = { 0 };
    j.name = (char *)name;
    j.command = (char *)command;
    return j;
}

#define NEED_CATALOG(c)                                                                            \
    struct sl_catalog *c = catalog();                                                              \
    if (!c)                                                                                        \
    SKIP("needs PostgreSQL (SLUICE_CATALOG)")

/* ---- Tests ---- */

TEST(migration_3_creates_the_job_table)
{
    NEED_CATALOG(c);
    int version = 0;
    struct sl_err err = { 0 };
    CHECK_OK(sl_catalog_schema_version(c, &version, &err), &err);
    CHECK(version >= 3);
    CHECK(pg_test_query_long(db_ci, "SELECT count(*) FROM pg_tables WHERE schemaname = 'sluice' AND "
                     "tablename = 'job'") == 1);
}

TEST(put_and_get_round_trip)
{
    NEED_CATALOG(c);
    struct sl_err err = { 0 };
    struct sl_catalog_job j = job_of("etl.Nightly-1", "{\"Name\":\"glueetl\",\"ScriptLocation\":\"/x.lua\"}");
    struct sl_catalog_job *got = NULL;

    j.description = "nightly";
    j.role = "arn:aws:iam::000000000000:role/glue";
    j.default_arguments = "{\"--input\": \"s3://lake/raw/\"}";
    j.max_concurrent_runs = 2;
    j.timeout_minutes = 60;
    j.max_retries = 1;
    j.glue_version = "3.0";
    j.worker_type = "G.1X";
    j.number_of_workers = 4;
    j.schedule = "cron(0 2 * * ? *)";
    j.extra = "{\"LogUri\":\"s3://logs/\"}";
    j.source = "file:/jobs/x.lua";
    CHECK_OK(sl_catalog_job_put(c, &j, &err), &err);
    CHECK_OK(sl_catalog_job_get(c, "etl.Nightly-1", &got, &err), &err);
    if (got) {
        CHECK_STR(got->name, "etl.Nightly-1");
        CHECK_STR(got->description, "nightly");
        CHECK_STR(got->role, "arn:aws:iam::000000000000:role/glue");
        CHECK(strstr(got->command, "\"ScriptLocation\": \"/x.lua\"") != NULL);
        CHECK_STR(got->default_arguments, "{\"--input\": \"s3://lake/raw/\"}");
        CHECK_STR(got->non_overridable_arguments, "{}");
        CHECK(got->max_concurrent_runs == 2 && got->timeout_minutes == 60);
        CHECK(got->max_retries == 1 && got->number_of_workers == 4);
        CHECK_STR(got->glue_version, "3.0");
        CHECK_STR(got->worker_type, "G.1X");
        CHECK_STR(got->schedule, "cron(0 2 * * ? *)");
        CHECK_STR(got->extra, "{\"LogUri\": \"s3://logs/\"}");
        CHECK_STR(got->source, "file:/jobs/x.lua");
        CHECK(got->created_ms > 0 && got->created_ms == got->modified_ms);
    }
    sl_catalog_job_free(got);
    /* defaults */
    struct sl_catalog_job d = job_of("defaults", "{\"ScriptLocation\":\"/d.lua\"}");
    CHECK_OK(sl_catalog_job_put(c, &d, &err), &err);
    got = NULL;
    CHECK_OK(sl_catalog_job_get(c, "defaults", &got, &err), &err);
    if (got) {
        CHECK(got->max_concurrent_runs == 1 && got->timeout_minutes == 0);
        CHECK(got->max_retries == 0 && got->number_of_workers == 0);
        CHECK(got->role == NULL && got->schedule == NULL);
        CHECK_STR(got->source, "api");
        CHECK_STR(got->default_arguments, "{}");
    }
    sl_catalog_job_free(got);
}

TEST(put_twice_is_eexist_and_get_missing_is_not_found)
{
    NEED_CATALOG(c);
    struct sl_err err = { 0 };
    struct sl_catalog_job j = job_of("twice", "{\"ScriptLocation\":\"/t.lua\"}");
    struct sl_catalog_job *got = NULL;

    CHECK_OK(sl_catalog_job_put(c, &j, &err), &err);
    CHECK(sl_catalog_job_put(c, &j, &err) == SL_EEXIST);
    CHECK(strstr(err.msg, "already exists") != NULL);
    CHECK(sl_catalog_job_get(c, "nope", &got, &err) == SL_ENOTFOUND && got == NULL);
    CHECK(strstr(err.msg, "job \"nope\" not found") != NULL);
}

TEST(bad_input_is_a_config_error)
{
    NEED_CATALOG(c);
    struct sl_err err = { 0 };
    struct sl_catalog_job j;
    struct sl_catalog_job *got = NULL;

    j = job_of("bad name", "{\"ScriptLocation\":\"/x.lua\"}");
    CHECK(sl_catalog_job_put(c, &j, &err) == SL_ECONFIG);
    j = job_of("", "{\"ScriptLocation\":\"/x.lua\"}");
    CHECK(sl_catalog_job_put(c, &j, &err) == SL_ECONFIG);
    j = job_of("noscript", "{\"Name\":\"glueetl\"}");
    CHECK(sl_catalog_job_put(c, &j, &err) == SL_ECONFIG);
    CHECK(strstr(err.msg, "ScriptLocation") != NULL);
    j = job_of("noscript", NULL);
    CHECK(sl_catalog_job_put(c, &j, &err) == SL_ECONFIG);
    j = job_of("badjson", "{\"ScriptLocation\":");
    CHECK(sl_catalog_job_put(c, &j, &err) == SL_ECONFIG);
    j = job_of("badargs", "{\"ScriptLocation\":\"/x.lua\"}");
    j.default_arguments = "{\"--n\": 5}";
    CHECK(sl_catalog_job_put(c, &j, &err) == SL_ECONFIG);
    j.default_arguments = "[1]";
    CHECK(sl_catalog_job_put(c, &j, &err) == SL_ECONFIG);
    j.default_arguments = NULL;
    j.source = "elsewhere";
    CHECK(sl_catalog_job_put(c, &j, &err) == SL_ECONFIG);
    j.source = NULL;
    j.max_retries = -1;
    CHECK(sl_catalog_job_put(c, &j, &err) == SL_ECONFIG);
    CHECK(sl_catalog_job_get(c, "badargs", &got, &err) == SL_ENOTFOUND);
    CHECK(sl_catalog_job_get(c, "a\nb", &got, &err) == SL_ECONFIG);
}

TEST(update_replaces_the_definition)
{
    NEED_CATALOG(c);
    struct sl_err err = { 0 };
    struct sl_catalog_job j = job_of("upd", "{\"ScriptLocation\":\"/1.lua\"}");
    struct sl_catalog_job *before = NULL, *got = NULL;

    j.description = "first";
    j.max_retries = 3;
    j.default_arguments = "{\"--a\":\"1\"}";
    CHECK_OK(sl_catalog_job_put(c, &j, &err), &err);
    CHECK_OK(sl_catalog_job_get(c, "upd", &before, &err), &err);
    usleep(20000);
    struct sl_catalog_job u = job_of("upd", "{\"ScriptLocation\":\"/2.lua\"}");
    u.timeout_minutes = 5;
    CHECK_OK(sl_catalog_job_update(c, &u, &err), &err);
    CHECK_OK(sl_catalog_job_get(c, "upd", &got, &err), &err);
    if (got && before) {
        CHECK(strstr(got->command, "/2.lua") != NULL);
        CHECK(got->description == NULL && got->max_retries == 0 && got->timeout_minutes == 5);
        CHECK_STR(got->default_arguments, "{}");
        CHECK(got->created_ms == before->created_ms);
        CHECK(got->modified_ms > before->modified_ms);
    }
    sl_catalog_job_free(before);
    sl_catalog_job_free(got);
    u.name = "upd-missing";
    CHECK(sl_catalog_job_update(c, &u, &err) == SL_ENOTFOUND);
}

TEST(list_pages_by_name)
{
    NEED_CATALOG(c);
    struct sl_err err = { 0 };
    const char *names[] = { "page_b", "page_a", "page_C", "page_c" };
    struct sl_catalog_job *jobs = NULL;
    size_t n = 0;
    char seen[256] = "";

    for (size_t i = 0; i < 4; i++) {
        struct sl_catalog_job j = job_of(names[i], "{\"ScriptLocation\":\"/p.lua\"}");
        CHECK_OK(sl_catalog_job_put(c, &j, &err), &err);
    }
    /* walk in pages of 2 from "page" ("page_C" < "page_a": byte order) */
    char after[64] = "page";
    for (int guard = 0; guard < 10; guard++) {
        CHECK_OK(sl_catalog_job_list(c, after, 2, &jobs, &n, &err), &err);
        for (size_t i = 0; i < n; i++)
            if (strncmp(jobs[i].name, "page_", 5) == 0) {
                strncat(seen, jobs[i].name, sizeof seen - strlen(seen) - 2);
                strncat(seen, ",", sizeof seen - strlen(seen) - 1);
            }
        if (n > 0)
            snprintf(after, sizeof after, "%s", jobs[n - 1].name);
        sl_catalog_job_list_free(jobs, n);
        if (n < 2 || strncmp(after, "page_", 5) != 0)
            break;
    }
    CHECK_STR(seen, "page_C,page_a,page_b,page_c,");
    CHECK_OK(sl_catalog_job_list(c, NULL, 0, &jobs, &n, &err), &err);
    CHECK(n >= 4);
    sl_catalog_job_list_free(jobs, n);
}

TEST(delete_removes_the_job_and_its_bookmark)
{
    NEED_CATALOG(c);
    struct sl_err err = { 0 };
    struct sl_catalog_job j = job_of("del", "{\"ScriptLocation\":\"/x.lua\"}");
    struct sl_catalog_bookmark *b = NULL;
    struct sl_catalog_job *got = NULL;
    int deleted = -1;

    CHECK_OK(sl_catalog_job_put(c, &j, &err), &err);
    CHECK_OK(sl_catalog_bookmark_commit(c, "del", "jr_1", 0, "{\"s\":1}", NULL, &err), &err);
    CHECK_OK(sl_catalog_job_delete(c, "del", &deleted, &err), &err);
    CHECK(deleted == 1);
    CHECK(sl_catalog_job_get(c, "del", &got, &err) == SL_ENOTFOUND);
    CHECK(sl_catalog_bookmark_get(c, "del", &b, &err) == SL_ENOTFOUND);
    /* idempotent; a bookmark without a job goes too */
    CHECK_OK(sl_catalog_bookmark_commit(c, "del", "jr_2", 0, "{}", NULL, &err), &err);
    CHECK_OK(sl_catalog_job_delete(c, "del", &deleted, &err), &err);
    CHECK(deleted == 0);
    CHECK(sl_catalog_bookmark_get(c, "del", &b, &err) == SL_ENOTFOUND);
    CHECK(sl_catalog_job_delete(c, "bad name", &deleted, &err) == SL_ECONFIG);
}

TEST(delete_inside_a_user_transaction_rolls_back)
{
    NEED_CATALOG(c);
    struct sl_err err = { 0 };
    struct sl_catalog_job j = job_of("txjob", "{\"ScriptLocation\":\"/x.lua\"}");
    struct sl_catalog_job *got = NULL;

    CHECK_OK(sl_catalog_job_put(c, &j, &err), &err);
    CHECK_OK(sl_catalog_begin(c, &err), &err);
    CHECK_OK(sl_catalog_job_delete(c, "txjob", NULL, &err), &err);
    CHECK(sl_catalog_job_put(c, &j, &err) == SL_OK); /* gone inside the transaction */
    CHECK(sl_catalog_job_put(c, &j, &err) == SL_EEXIST);
    sl_catalog_rollback(c);
    CHECK_OK(sl_catalog_job_get(c, "txjob", &got, &err), &err);
    sl_catalog_job_free(got);
}

int main(void)
{
    RUN(migration_3_creates_the_job_table);
    RUN(put_and_get_round_trip);
    RUN(put_twice_is_eexist_and_get_missing_is_not_found);
    RUN(bad_input_is_a_config_error);
    RUN(update_replaces_the_definition);
    RUN(list_pages_by_name);
    RUN(delete_removes_the_job_and_its_bookmark);
    RUN(delete_inside_a_user_transaction_rolls_back);
    sl_catalog_free(cat);
    sl_free(db_ci);
    drop_db();
    TEST_EXIT();
}
