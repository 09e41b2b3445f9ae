/*
 * tests/runtime/test_catalog_bookmark.c - job bookmarks (catalog_bookmark.c)
 * against a real PostgreSQL: the server of SLUICE_CATALOG (skipped when
 * unset). The tests use one fresh database (sl_bm_<pid>), migrated from
 * scratch, and drop it at the end.
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
        snprintf(db_name, sizeof db_name, "sl_bm_%ld", (long)getpid());
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

static long history_rows(const char *job)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM \"sluice\".\"job_bookmark_history\" WHERE \"job_name\" = '%s'",
             job);
    return pg_test_query_long(db_ci, sql);
}

/* The bookmark's state, or "(none)" / "(error)" (static buffer). */
static const char *state_of(struct sl_catalog *c, const char *job, int *version)
{
    static char buf[1024];
    struct sl_catalog_bookmark *b = NULL;
    struct sl_err err = { 0 };
    int rc = sl_catalog_bookmark_get(c, job, &b, &err);

    if (version)
        *version = rc == SL_OK ? b->version : 0;
    snprintf(buf, sizeof buf, "%s",
             rc == SL_OK ? b->state : rc == SL_ENOTFOUND ? "(none)" : "(error)");
    sl_catalog_bookmark_free(b);
    return buf;
}

#define SKIP_WITHOUT_PG(c)                                                                         \
    do {                                                                                           \
        if (!(c))                                                                                  \
            SKIP("SLUICE_CATALOG is not set or unusable");                                         \
    } while (0)

/* ---- Tests ---- */

TEST(migration_2_creates_the_bookmark_tables)
{
    struct sl_catalog *c = catalog();
    struct sl_err err = { 0 };
    int version = 0;

    SKIP_WITHOUT_PG(c);
    CHECK(sl_catalog_schema_latest() >= 2);
    CHECK_OK(sl_catalog_schema_version(c, &version, &err), &err);
    CHECK(version == sl_catalog_schema_latest());
    CHECK(pg_test_query_long(db_ci, "SELECT count(*) FROM \"sluice\".\"schema_migrations\""
                     " WHERE \"version\" = 2 AND \"name\" = 'job_bookmarks'") == 1);
    CHECK(pg_test_query_long(db_ci, "SELECT count(*) FROM pg_tables WHERE schemaname = 'sluice'"
                     " AND tablename IN ('job_bookmark', 'job_bookmark_history')") == 2);
}

TEST(get_without_a_bookmark_is_not_found)
{
    struct sl_catalog *c = catalog();
    struct sl_catalog_bookmark *b = (struct sl_catalog_bookmark *)1;
    struct sl_err err = { 0 };

    SKIP_WITHOUT_PG(c);
    CHECK(sl_catalog_bookmark_get(c, "never-ran", &b, &err) == SL_ENOTFOUND);
    CHECK(b == NULL);
    CHECK_STR(err.msg, "no bookmark for job \"never-ran\"");
}

TEST(commit_and_get_round_trip)
{
    struct sl_catalog *c = catalog();
    struct sl_catalog_bookmark *b = NULL;
    struct sl_err err = { 0 };
    int v = -1;

    SKIP_WITHOUT_PG(c);
    CHECK_OK(sl_catalog_bookmark_commit(
                 c, "Nightly.etl-1", "jr_1", 0,
                 "{\"sources\":{\"s1\":{\"a.csv\":{\"etag\":\"e1\",\"size\":10}}}}", &v, &err),
             &err);
    CHECK(v == 1);
    CHECK_OK(sl_catalog_bookmark_get(c, "Nightly.etl-1", &b, &err), &err);
    if (b) {
        CHECK_STR(b->job_name, "Nightly.etl-1");
        CHECK(b->version == 1 && b->run == 1 && b->attempt == 0);
        CHECK_STR(b->run_id, "jr_1");
        CHECK(b->previous_run_id == NULL);
        /* jsonb's normal form */
        CHECK_STR(b->state,
                  "{\"sources\": {\"s1\": {\"a.csv\": {\"etag\": \"e1\", \"size\": 10}}}}");
        int64_t now_ms = (int64_t)time(NULL) * 1000;
        CHECKF(b->updated_ms > now_ms - 600000 && b->updated_ms < now_ms + 600000, "%lld",
               (long long)b->updated_ms);
    }
    sl_catalog_bookmark_free(b);
    b = NULL;

    CHECK_OK(sl_catalog_bookmark_commit(c, "Nightly.etl-1", "jr_2", 1, "[1, 2]", &v, &err), &err);
    CHECK(v == 2);
    CHECK_OK(sl_catalog_bookmark_commit(c, "Nightly.etl-1", "jr_3", 2, "{}", NULL, &err), &err);
    CHECK_OK(sl_catalog_bookmark_get(c, "Nightly.etl-1", &b, &err), &err);
    if (b) {
        CHECK(b->version == 3 && b->run == 3);
        CHECK_STR(b->run_id, "jr_3");
        CHECK_STR(b->previous_run_id, "jr_2");
        CHECK_STR(b->state, "{}");
    }
    sl_catalog_bookmark_free(b);
    CHECK(history_rows("Nightly.etl-1") == 3);
    /* names are case-sensitive */
    CHECK(sl_catalog_bookmark_get(c, "nightly.etl-1", &b, &err) == SL_ENOTFOUND);
}

TEST(stale_expected_version_changes_nothing)
{
    struct sl_catalog *c = catalog();
    struct sl_err err = { 0 };
    int v = -1;

    SKIP_WITHOUT_PG(c);
    CHECK_OK(sl_catalog_bookmark_commit(c, "cas", "jr_1", 0, "{\"n\": 1}", NULL, &err), &err);
    CHECK_OK(sl_catalog_bookmark_commit(c, "cas", "jr_2", 1, "{\"n\": 2}", NULL, &err), &err);

    CHECK(sl_catalog_bookmark_commit(c, "cas", "jr_3", 1, "{\"n\": 3}", &v, &err) ==
          SL_ECHANGED);
    CHECK(v == 0);
    CHECKF(strstr(err.msg, "commit bookmark of job \"cas\": the bookmark is at version 2, not 1") ==
               err.msg,
           "%s", err.msg);
    CHECK(sl_catalog_bookmark_commit(c, "cas", "jr_3", 0, "{\"n\": 3}", &v, &err) ==
          SL_ECHANGED);
    CHECK(sl_catalog_bookmark_commit(c, "cas", "jr_3", 7, "{\"n\": 3}", &v, &err) ==
          SL_ECHANGED);
    CHECK(sl_catalog_bookmark_commit(c, "cas-missing", "jr_3", 4, "{}", &v, &err) ==
          SL_ECHANGED);
    CHECKF(strstr(err.msg, "gone") != NULL, "%s", err.msg);
    CHECK(sl_catalog_bookmark_get(c, "cas-missing", &(struct sl_catalog_bookmark *){ NULL },
                                  &err) == SL_ENOTFOUND);

    int version = 0;
    CHECK_STR(state_of(c, "cas", &version), "{\"n\": 2}");
    CHECK(version == 2);
    CHECK(history_rows("cas") == 2);
}

TEST(bad_input_is_a_config_error)
{
    struct sl_catalog *c = catalog();
    struct sl_catalog_bookmark *b = NULL;
    struct sl_err err = { 0 };
    char long_name[300];
    int version = 0;

    SKIP_WITHOUT_PG(c);
    CHECK_OK(sl_catalog_bookmark_commit(c, "json", "jr_1", 0, "{\"ok\": true}", NULL, &err), &err);
    static const char *const bad[] = { "{not json", "", "{\"a\": }", "[1, 2", "nul",
                                       "{\"a\": \"\\u0000\"}" };
    for (size_t i = 0; i < SL_ARRAY_LEN(bad); i++) {
        int rc = sl_catalog_bookmark_commit(c, "json", "jr_2", 1, bad[i], NULL, &err);
        CHECKF(rc == SL_ECONFIG, "%s: %d %s", bad[i], rc, err.msg);
    }
    CHECKF(strstr(err.msg, "commit bookmark of job \"json\": state is not valid JSON") == err.msg,
           "%s", err.msg);
    CHECK(sl_catalog_bookmark_commit(c, "json-new", "jr_1", 0, "{oops}", NULL, &err) ==
          SL_ECONFIG);
    CHECK(sl_catalog_bookmark_get(c, "json-new", &b, &err) == SL_ENOTFOUND);
    CHECK_STR(state_of(c, "json", &version), "{\"ok\": true}");
    CHECK(version == 1);
    CHECK(history_rows("json") == 1);

    /* names, run ids and versions */
    memset(long_name, 'a', 256);
    long_name[256] = '\0';
    static const char *const bad_names[] = { "", "a/b", "sp ace", "quo\"te", "é" };
    for (size_t i = 0; i < SL_ARRAY_LEN(bad_names); i++) {
        CHECK(sl_catalog_bookmark_commit(c, bad_names[i], "jr_1", 0, "{}", NULL, &err) ==
              SL_ECONFIG);
        CHECK(sl_catalog_bookmark_get(c, bad_names[i], &b, &err) == SL_ECONFIG);
        CHECK(sl_catalog_bookmark_reset(c, bad_names[i], NULL, &err) == SL_ECONFIG);
        CHECK(sl_catalog_bookmark_delete(c, bad_names[i], &err) == SL_ECONFIG);
    }
    CHECK(sl_catalog_bookmark_commit(c, NULL, "jr_1", 0, "{}", NULL, &err) == SL_ECONFIG);
    CHECK(sl_catalog_bookmark_commit(c, long_name, "jr_1", 0, "{}", NULL, &err) == SL_ECONFIG);
    CHECKF(strstr(err.msg, "longer than 255 bytes") != NULL, "%s", err.msg);
    long_name[255] = '\0';
    CHECK_OK(sl_catalog_bookmark_commit(c, long_name, "jr_1", 0, "{}", NULL, &err), &err);
    CHECK(sl_catalog_bookmark_commit(c, "json", NULL, 1, "{}", NULL, &err) == SL_ECONFIG);
    CHECK(sl_catalog_bookmark_commit(c, "json", "", 1, "{}", NULL, &err) == SL_ECONFIG);
    CHECK(sl_catalog_bookmark_commit(c, "json", "jr_2", -1, "{}", NULL, &err) == SL_ECONFIG);
    CHECK(sl_catalog_bookmark_commit(c, "json", "jr_2", 1, NULL, NULL, &err) == SL_ECONFIG);
    CHECK(sl_catalog_bookmark_reset(c, "json", "", &err) == SL_ECONFIG);
    CHECK_STR(state_of(c, "json", &version), "{\"ok\": true}");
}

TEST(reset_empties_the_state)
{
    struct sl_catalog *c = catalog();
    struct sl_catalog_bookmark *b = NULL;
    struct sl_err err = { 0 };

    SKIP_WITHOUT_PG(c);
    CHECK_OK(sl_catalog_bookmark_commit(c, "rst", "jr_1", 0, "{\"k\": 1}", NULL, &err), &err);
    CHECK_OK(sl_catalog_bookmark_commit(c, "rst", "jr_2", 1, "{\"k\": 2}", NULL, &err), &err);
    CHECK_OK(sl_catalog_bookmark_reset(c, "rst", NULL, &err), &err);
    CHECK_OK(sl_catalog_bookmark_get(c, "rst", &b, &err), &err);
    if (b) {
        CHECK_STR(b->state, "{}");
        CHECK(b->version == 3);
        CHECK(b->run == 2); /* a reset is not a run */
        CHECK_STR(b->run_id, "jr_2");
        CHECK_STR(b->previous_run_id, "jr_1");
    }
    sl_catalog_bookmark_free(b);
    b = NULL;
    CHECK(history_rows("rst") == 3);
    /* a run that read version 2 before the reset cannot overwrite it */
    CHECK(sl_catalog_bookmark_commit(c, "rst", "jr_3", 2, "{\"k\": 3}", NULL, &err) ==
          SL_ECHANGED);
    CHECK_OK(sl_catalog_bookmark_commit(c, "rst", "jr_3", 3, "{\"k\": 3}", NULL, &err), &err);
    CHECK_OK(sl_catalog_bookmark_get(c, "rst", &b, &err), &err);
    if (b) {
        CHECK(b->version == 4 && b->run == 3);
        CHECK_STR(b->previous_run_id, "jr_2");
    }
    sl_catalog_bookmark_free(b);

    /* resetting nothing is fine and writes nothing */
    CHECK_OK(sl_catalog_bookmark_reset(c, "rst-none", NULL, &err), &err);
    CHECK_STR(state_of(c, "rst-none", NULL), "(none)");
    CHECK(history_rows("rst-none") == 0);
}

TEST(reset_to_a_run_rewinds)
{
    struct sl_catalog *c = catalog();
    struct sl_catalog_bookmark *b = NULL;
    struct sl_err err = { 0 };
    int version = 0;

    SKIP_WITHOUT_PG(c);
    CHECK_OK(sl_catalog_bookmark_commit(c, "rew", "jr_a", 0, "{\"at\": \"a\"}", NULL, &err), &err);
    CHECK_OK(sl_catalog_bookmark_commit(c, "rew", "jr_b", 1, "{\"at\": \"b\"}", NULL, &err), &err);
    CHECK_OK(sl_catalog_bookmark_commit(c, "rew", "jr_c", 2, "{\"at\": \"c\"}", NULL, &err), &err);
    CHECK_OK(sl_catalog_bookmark_reset(c, "rew", "jr_b", &err), &err);
    CHECK_OK(sl_catalog_bookmark_get(c, "rew", &b, &err), &err);
    if (b) {
        CHECK_STR(b->state, "{\"at\": \"b\"}");
        CHECK(b->version == 4 && b->run == 3);
        CHECK_STR(b->run_id, "jr_c");
    }
    sl_catalog_bookmark_free(b);
    b = NULL;

    /* the history survives resets: back to {} and then to run a */
    CHECK_OK(sl_catalog_bookmark_reset(c, "rew", NULL, &err), &err);
    CHECK_OK(sl_catalog_bookmark_reset(c, "rew", "jr_a", &err), &err);
    CHECK_STR(state_of(c, "rew", &version), "{\"at\": \"a\"}");
    CHECK(version == 6);
    /* a run that committed twice rewinds to its newest state */
    CHECK_OK(sl_catalog_bookmark_commit(c, "rew", "jr_c", 6, "{\"at\": \"c2\"}", NULL, &err),
             &err);
    CHECK_OK(sl_catalog_bookmark_commit(c, "rew", "jr_d", 7, "{\"at\": \"d\"}", NULL, &err), &err);
    CHECK_OK(sl_catalog_bookmark_reset(c, "rew", "jr_c", &err), &err);
    CHECK_STR(state_of(c, "rew", &version), "{\"at\": \"c2\"}");
    CHECK(version == 9);
    CHECK(history_rows("rew") == 9);

    /* unknown runs and jobs */
    CHECK(sl_catalog_bookmark_reset(c, "rew", "jr_nope", &err) == SL_ENOTFOUND);
    CHECK_STR(err.msg, "reset bookmark of job \"rew\": run \"jr_nope\" never committed one");
    CHECK(sl_catalog_bookmark_reset(c, "rew-none", "jr_a", &err) == SL_ENOTFOUND);
    CHECK_STR(err.msg, "reset bookmark of job \"rew-none\": the job has no bookmark");
    CHECK_STR(state_of(c, "rew", &version), "{\"at\": \"c2\"}");
    CHECK(version == 9);
}

TEST(delete_removes_bookmark_and_history)
{
    struct sl_catalog *c = catalog();
    struct sl_err err = { 0 };
    int v = 0;

    SKIP_WITHOUT_PG(c);
    CHECK_OK(sl_catalog_bookmark_commit(c, "del", "jr_1", 0, "{\"x\": 1}", NULL, &err), &err);
    CHECK_OK(sl_catalog_bookmark_commit(c, "del", "jr_2", 1, "{\"x\": 2}", NULL, &err), &err);
    CHECK_OK(sl_catalog_bookmark_commit(c, "del-other", "jr_1", 0, "{}", NULL, &err), &err);
    CHECK_OK(sl_catalog_bookmark_delete(c, "del", &err), &err);
    CHECK_STR(state_of(c, "del", NULL), "(none)");
    CHECK(history_rows("del") == 0);
    CHECK(history_rows("del-other") == 1);
    CHECK_OK(sl_catalog_bookmark_delete(c, "del", &err), &err); /* idempotent, as DeleteJob */
    CHECK(sl_catalog_bookmark_reset(c, "del", "jr_1", &err) == SL_ENOTFOUND);
    /* a run that read version 2 before the delete loses */
    CHECK(sl_catalog_bookmark_commit(c, "del", "jr_3", 2, "{}", NULL, &err) == SL_ECHANGED);
    /* a new life starts at version 1 */
    CHECK_OK(sl_catalog_bookmark_commit(c, "del", "jr_3", 0, "{\"x\": 3}", &v, &err), &err);
    CHECK(v == 1);
    CHECK(history_rows("del") == 1);
}

TEST(inside_a_user_transaction)
{
    struct sl_catalog *c = catalog();
    struct sl_err err = { 0 };
    int version = 0;

    SKIP_WITHOUT_PG(c);
    CHECK_OK(sl_catalog_bookmark_commit(c, "utx", "jr_1", 0, "{\"v\": 1}", NULL, &err), &err);
    CHECK_OK(sl_catalog_begin(c, &err), &err);
    /* failures undo only themselves: the transaction stays usable */
    CHECK(sl_catalog_bookmark_commit(c, "utx", "jr_2", 5, "{}", NULL, &err) == SL_ECHANGED);
    CHECK(sl_catalog_bookmark_commit(c, "utx", "jr_2", 1, "{bad", NULL, &err) == SL_ECONFIG);
    CHECK(sl_catalog_bookmark_reset(c, "utx", "jr_9", &err) == SL_ENOTFOUND);
    CHECK_OK(sl_catalog_bookmark_commit(c, "utx", "jr_2", 1, "{\"v\": 2}", NULL, &err), &err);
    CHECK_STR(state_of(c, "utx", &version), "{\"v\": 2}");
    sl_catalog_rollback(c);
    CHECK_STR(state_of(c, "utx", &version), "{\"v\": 1}");
    CHECK(version == 1);

    CHECK_OK(sl_catalog_begin(c, &err), &err);
    CHECK_OK(sl_catalog_bookmark_commit(c, "utx", "jr_2", 1, "{\"v\": 2}", NULL, &err), &err);
    CHECK_OK(sl_catalog_bookmark_reset(c, "utx", NULL, &err), &err);
    CHECK_OK(sl_catalog_commit(c, &err), &err);
    CHECK_STR(state_of(c, "utx", &version), "{}");
    CHECK(version == 3);
    CHECK(history_rows("utx") == 3);
}

/* ---- Committing on the caller's connection, in the caller's transaction ---- */

/* Runs sql on pg; 1 when it succeeded. */
static int pg_ok(PGconn *pg, const char *sql)
{
    PGresult *r = PQexec(pg, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;

    if (!ok)
        printf("#   %s: %s", sql, PQerrorMessage(pg));
    PQclear(r);
    return ok;
}

/* The use it was made for: a load's publish transaction writes the target
 * and commits the bookmark; both become visible at COMMIT, or neither. */
TEST(commit_conn_goes_with_the_callers_transaction)
{
    struct sl_catalog *c = catalog();
    struct sl_catalog_bookmark *b = NULL;
    struct sl_err err = { 0 };
    PGconn *pg = NULL;
    int v = -1, version = 0;

    SKIP_WITHOUT_PG(c);
    pg = PQconnectdb(db_ci);
    CHECKF(PQstatus(pg) == CONNECTION_OK, "%s", PQerrorMessage(pg));
    if (PQstatus(pg) != CONNECTION_OK)
        goto done;
    CHECK(pg_ok(pg, "CREATE TABLE \"public\".\"conn_target\" (\"x\" int)"));
    CHECK_OK(sl_catalog_bookmark_commit(c, "conn", "jr_1", 0, "{\"v\": 1}", NULL, &err), &err);

    /* rolled back with the caller's transaction */
    CHECK(pg_ok(pg, "BEGIN"));
    CHECK(pg_ok(pg, "INSERT INTO \"public\".\"conn_target\" VALUES (1)"));
    CHECK_OK(sl_catalog_bookmark_commit_conn(pg, "conn", "jr_2", 1, "{\"v\": 2}", &v, &err),
             &err);
    CHECK(v == 2);
    CHECK(PQtransactionStatus(pg) == PQTRANS_INTRANS); /* no COMMIT of its own */
    CHECK_STR(state_of(c, "conn", &version), "{\"v\": 1}"); /* not visible yet */
    CHECK(pg_ok(pg, "ROLLBACK"));
    CHECK_STR(state_of(c, "conn", &version), "{\"v\": 1}");
    CHECK(version == 1);
    CHECK(history_rows("conn") == 1);
    CHECK(pg_test_query_long(db_ci, "SELECT count(*) FROM \"public\".\"conn_target\"") == 0);

    /* committed with it */
    CHECK(pg_ok(pg, "BEGIN"));
    CHECK(pg_ok(pg, "INSERT INTO \"public\".\"conn_target\" VALUES (1)"));
    CHECK_OK(sl_catalog_bookmark_commit_conn(pg, "conn", "jr_2", 1, "{\"v\": 2}", &v, &err),
             &err);
    CHECK(pg_ok(pg, "COMMIT"));
    CHECK_OK(sl_catalog_bookmark_get(c, "conn", &b, &err), &err);
    if (b) {
        CHECK_STR(b->state, "{\"v\": 2}");
        CHECK(b->version == 2 && b->run == 2);
        CHECK_STR(b->run_id, "jr_2");
        CHECK_STR(b->previous_run_id, "jr_1");
    }
    sl_catalog_bookmark_free(b);
    CHECK(history_rows("conn") == 2);
    CHECK(pg_test_query_long(db_ci, "SELECT count(*) FROM \"public\".\"conn_target\"") == 1);

    /* a first commit (no bookmark yet) works the same way */
    CHECK(pg_ok(pg, "BEGIN"));
    CHECK_OK(sl_catalog_bookmark_commit_conn(pg, "conn-new", "jr_1", 0, "{}", &v, &err), &err);
    CHECK(v == 1);
    CHECK(pg_ok(pg, "ROLLBACK"));
    CHECK_STR(state_of(c, "conn-new", NULL), "(none)");
    CHECK(pg_ok(pg, "BEGIN"));
    CHECK_OK(sl_catalog_bookmark_commit_conn(pg, "conn-new", "jr_1", 0, "{}", &v, &err), &err);
    CHECK(pg_ok(pg, "COMMIT"));
    CHECK_STR(state_of(c, "conn-new", &version), "{}");
    CHECK(version == 1);
done:
    PQfinish(pg);
}

TEST(commit_conn_failures_leave_the_transaction_usable)
{
    struct sl_catalog *c = catalog();
    struct sl_err err = { 0 };
    PGconn *pg = NULL;
    int v = -1, version = 0;

    SKIP_WITHOUT_PG(c);
    pg = PQconnectdb(db_ci);
    CHECKF(PQstatus(pg) == CONNECTION_OK, "%s", PQerrorMessage(pg));
    if (PQstatus(pg) != CONNECTION_OK)
        goto done;
    CHECK_OK(sl_catalog_bookmark_commit(c, "cfail", "jr_1", 0, "{\"n\": 1}", NULL, &err), &err);
    CHECK_OK(sl_catalog_bookmark_commit(c, "cfail", "jr_2", 1, "{\"n\": 2}", NULL, &err), &err);

    /* outside a transaction: refused, nothing written */
    CHECK(sl_catalog_bookmark_commit_conn(pg, "cfail", "jr_3", 2, "{}", &v, &err) ==
          SL_EINTERNAL);
    CHECK(v == 0);
    CHECKF(strstr(err.msg, "commit bookmark of job \"cfail\": ") == err.msg, "%s", err.msg);
    CHECK(sl_catalog_bookmark_commit_conn(NULL, "cfail", "jr_3", 2, "{}", &v, &err) ==
          SL_EINTERNAL);

    CHECK(pg_ok(pg, "BEGIN"));
    CHECK(sl_catalog_bookmark_commit_conn(pg, "cfail", "jr_3", 1, "{\"n\": 3}", &v, &err) ==
          SL_ECHANGED);
    CHECK(v == 0);
    CHECKF(strstr(err.msg, "commit bookmark of job \"cfail\": the bookmark is at version 2, "
                           "not 1") == err.msg,
           "%s", err.msg);
    CHECK(sl_catalog_bookmark_commit_conn(pg, "cfail-gone", "jr_3", 4, "{}", &v, &err) ==
          SL_ECHANGED);
    CHECK(sl_catalog_bookmark_commit_conn(pg, "cfail", "jr_3", 2, "{bad", &v, &err) ==
          SL_ECONFIG);
    CHECK(sl_catalog_bookmark_commit_conn(pg, "bad name", "jr_3", 2, "{}", &v, &err) ==
          SL_ECONFIG);
    CHECK(PQtransactionStatus(pg) == PQTRANS_INTRANS);
    CHECK_OK(sl_catalog_bookmark_commit_conn(pg, "cfail", "jr_3", 2, "{\"n\": 3}", &v, &err),
             &err);
    CHECK(v == 3);
    CHECK(pg_ok(pg, "COMMIT"));
    CHECK_STR(state_of(c, "cfail", &version), "{\"n\": 3}");
    CHECK(version == 3);
    CHECK(history_rows("cfail") == 3);

    /* a transaction that already failed is refused */
    CHECK(pg_ok(pg, "BEGIN"));
    PQclear(PQexec(pg, "SELECT 1/0"));
    CHECK(sl_catalog_bookmark_commit_conn(pg, "cfail", "jr_4", 3, "{}", &v, &err) ==
          SL_EINTERNAL);
    CHECK(pg_ok(pg, "ROLLBACK"));
    CHECK_STR(state_of(c, "cfail", &version), "{\"n\": 3}");
done:
    PQfinish(pg);
}

/* A database without the catalog schema has no bookmarks to commit. */
TEST(commit_conn_needs_the_catalog_schema)
{
    struct sl_catalog *c = catalog();
    struct sl_err err = { 0 };
    char bare[96], sql[160];
    char *ci = NULL;
    PGconn *pg = NULL;

    SKIP_WITHOUT_PG(c);
    snprintf(bare, sizeof bare, "%s_bare", db_name);
    snprintf(sql, sizeof sql, "CREATE DATABASE \"%s\"", bare);
    CHECK(pg_test_exec(getenv("SLUICE_CATALOG"), sql));
    ci = pg_test_conninfo_for(getenv("SLUICE_CATALOG"), bare);
    pg = ci ? PQconnectdb(ci) : NULL;
    CHECKF(pg && PQstatus(pg) == CONNECTION_OK, "%s", pg ? PQerrorMessage(pg) : "no conninfo");
    if (pg && PQstatus(pg) == CONNECTION_OK) {
        CHECK(pg_ok(pg, "BEGIN"));
        CHECK(sl_catalog_bookmark_commit_conn(pg, "bare", "jr_1", 0, "{}", NULL, &err) ==
              SL_ECONFIG);
        CHECKF(strstr(err.msg, "no catalog schema \"sluice\"") != NULL, "%s", err.msg);
        CHECK(PQtransactionStatus(pg) == PQTRANS_INTRANS);
        CHECK(pg_ok(pg, "ROLLBACK"));
    }
    PQfinish(pg);
    sl_free(ci);
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS \"%s\" WITH (FORCE)", bare);
    CHECK(pg_test_exec(getenv("SLUICE_CATALOG"), sql));
}

/* ---- Concurrency: each thread has its own catalog connection ---- */

enum { N_RACERS = 6 };

struct racer {
    pthread_barrier_t *start;
    struct sl_catalog *c;
    const char *job;
    int expected;
    char run_id[32];
    int rc;
    char msg[512];
};

static void *race(void *arg)
{
    struct racer *r = arg;
    struct sl_err err = { 0 };
    char state[64];

    snprintf(state, sizeof state, "{\"winner\": \"%s\"}", r->run_id);
    pthread_barrier_wait(r->start);
    r->rc = sl_catalog_bookmark_commit(r->c, r->job, r->run_id, r->expected, state, NULL, &err);
    snprintf(r->msg, sizeof r->msg, "%s", err.msg);
    return NULL;
}

/* Runs N_RACERS commits of job with the same expected version at once;
 * returns the index of the single winner, or -1. */
static int run_race(struct sl_catalog **cs, const char *job, int expected)
{
    pthread_barrier_t start;
    pthread_t th[N_RACERS];
    struct racer rs[N_RACERS];
    int winner = -1, n_ok = 0;

    pthread_barrier_init(&start, NULL, N_RACERS);
    for (int i = 0; i < N_RACERS; i++) {
        rs[i] = (struct racer){ .start = &start, .c = cs[i], .job = job, .expected = expected };
        snprintf(rs[i].run_id, sizeof rs[i].run_id, "jr_%d_%d", expected, i);
        pthread_create(&th[i], NULL, race, &rs[i]);
    }
    for (int i = 0; i < N_RACERS; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&start);
    for (int i = 0; i < N_RACERS; i++) {
        if (rs[i].rc == SL_OK) {
            n_ok++;
            winner = i;
        } else {
            CHECKF(rs[i].rc == SL_ECHANGED, "racer %d: %d %s", i, rs[i].rc, rs[i].msg);
        }
    }
    CHECKF(n_ok == 1, "%d winners", n_ok);
    return n_ok == 1 ? winner : -1;
}

TEST(concurrent_commits_one_wins)
{
    struct sl_catalog *c = catalog();
    struct sl_catalog *cs[N_RACERS] = { 0 };
    struct sl_catalog_bookmark *b = NULL;
    struct sl_err err = { 0 };

    SKIP_WITHOUT_PG(c);
    for (int i = 0; i < N_RACERS; i++) {
        cs[i] = sl_catalog_open_conninfo(db_ci, &err);
        CHECKF(cs[i] != NULL, "%s", err.msg);
        if (!cs[i])
            goto done;
    }
    /* first commit (insert path), then two more (update path) */
    for (int round = 0; round < 3; round++) {
        int w = run_race(cs, "race", round);
        if (w < 0)
            break;
        char want[64];
        snprintf(want, sizeof want, "jr_%d_%d", round, w);
        CHECK_OK(sl_catalog_bookmark_get(c, "race", &b, &err), &err);
        if (b) {
            CHECK(b->version == round + 1 && b->run == round + 1);
            CHECK_STR(b->run_id, want);
        }
        sl_catalog_bookmark_free(b);
        b = NULL;
    }
    CHECK(history_rows("race") == 3);
done:
    for (int i = 0; i < N_RACERS; i++)
        sl_catalog_free(cs[i]);
}

struct blocked {
    struct sl_catalog *c;
    int rc;
};

static void *commit_v1(void *arg)
{
    struct blocked *bl = arg;
    struct sl_err err = { 0 };
    bl->rc = sl_catalog_bookmark_commit(bl->c, "blocked", "jr_late", 1, "{\"by\": \"late\"}",
                                        NULL, &err);
    return NULL;
}

/* A commit that waits on the row lock of an uncommitted one re-checks the
 * version once the lock is released, and loses. */
TEST(waiting_commit_sees_the_winner)
{
    struct sl_catalog *c = catalog();
    struct sl_err err = { 0 };
    struct blocked bl = { 0 };
    pthread_t th;
    int version = 0;

    SKIP_WITHOUT_PG(c);
    bl.c = sl_catalog_open_conninfo(db_ci, &err);
    CHECKF(bl.c != NULL, "%s", err.msg);
    if (!bl.c)
        return;
    CHECK_OK(sl_catalog_bookmark_commit(c, "blocked", "jr_0", 0, "{\"by\": \"first\"}", NULL,
                                        &err),
             &err);
    CHECK_OK(sl_catalog_begin(c, &err), &err);
    CHECK_OK(sl_catalog_bookmark_commit(c, "blocked", "jr_early", 1, "{\"by\": \"early\"}", NULL,
                                        &err),
             &err);
    pthread_create(&th, NULL, commit_v1, &bl);
    /* give the other commit time to reach the lock (the outcome is the same
     * if it has not: it then sees version 2 at once) */
    struct timespec ts = { 0, 200 * 1000 * 1000 };
    nanosleep(&ts, NULL);
    CHECK_OK(sl_catalog_commit(c, &err), &err);
    pthread_join(th, NULL);
    CHECK(bl.rc == SL_ECHANGED);
    CHECK_STR(state_of(c, "blocked", &version), "{\"by\": \"early\"}");
    CHECK(version == 2);
    sl_catalog_free(bl.c);
}

/* Steps the failing allocation up until the call succeeds: each step must end
 * in a clean SL_ENOMEM (ASan checks for leaks). */
TEST(allocation_failures_are_clean)
{
    struct sl_catalog *c = catalog();
    struct sl_catalog_bookmark *b = NULL;
    struct sl_err err = { 0 };
    int done = 0;

    SKIP_WITHOUT_PG(c);
    CHECK_OK(sl_catalog_bookmark_commit(c, "oom", "jr_1", 0, "{}", NULL, &err), &err);
    CHECK_OK(sl_catalog_bookmark_commit(c, "oom", "jr_2", 1, "{\"a\": 1}", NULL, &err), &err);
    for (long nth = 1; nth < 100 && !done; nth++) {
        sl_alloc_fail_reset(nth);
        int rc = sl_catalog_bookmark_get(c, "oom", &b, &err);
        sl_alloc_fail_reset(0);
        if (rc == SL_OK) {
            CHECK(b->version == 2);
            CHECK_STR(b->previous_run_id, "jr_1");
            sl_catalog_bookmark_free(b);
            done = 1;
        } else {
            CHECKF(rc == SL_ENOMEM && b == NULL, "step %ld: %d %s", nth, rc, err.msg);
        }
    }
    CHECK(done);
}

int main(void)
{
    RUN(migration_2_creates_the_bookmark_tables);
    RUN(get_without_a_bookmark_is_not_found);
    RUN(commit_and_get_round_trip);
    RUN(stale_expected_version_changes_nothing);
    RUN(bad_input_is_a_config_error);
    RUN(reset_empties_the_state);
    RUN(reset_to_a_run_rewinds);
    RUN(delete_removes_bookmark_and_history);
    RUN(inside_a_user_transaction);
    RUN(commit_conn_goes_with_the_callers_transaction);
    RUN(commit_conn_failures_leave_the_transaction_usable);
    RUN(commit_conn_needs_the_catalog_schema);
    RUN(concurrent_commits_one_wins);
    RUN(waiting_commit_sees_the_winner);
    RUN(allocation_failures_are_clean);
    sl_catalog_free(cat);
    sl_free(db_ci);
    drop_db();
    TEST_EXIT();
}
