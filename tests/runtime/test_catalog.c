/*
 * tests/runtime/test_catalog.c - the catalog against a real PostgreSQL: the
 * server of SLUICE_CATALOG (skipped when unset). Every database these tests use
 * is created fresh here (sl_test_<pid>_<n>), so migrations run from scratch,
 * and dropped at the end. Pure parts (type widening, schema hash) run always.
 */
#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/alloc.h"
#include "runtime/catalog.h"
#include "tests/test.h"
#include "tests/pg_test.h"

/* ---- Fresh databases ---- */

static char created_dbs[16][64];
static int n_created;

/* Creates a fresh database and returns a connection string for it (owned). */
static char *fresh_db(void)
{
    char sql[128];
    char *ci;

    if ((size_t)n_created >= SL_ARRAY_LEN(created_dbs))
        return NULL;
    snprintf(created_dbs[n_created], sizeof created_dbs[0], "sl_test_%ld_%d", (long)getpid(),
             n_created);
    snprintf(sql, sizeof sql, "CREATE DATABASE \"%.63s\"", created_dbs[n_created]);
    if (!pg_test_exec(getenv("SLUICE_CATALOG"), sql))
        return NULL;
    ci = pg_test_conninfo_for(getenv("SLUICE_CATALOG"), created_dbs[n_created]);
    n_created++;
    return ci;
}

static void drop_dbs(void)
{
    for (int i = 0; i < n_created; i++) {
        char sql[160];
        snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS \"%.63s\" WITH (FORCE)",
                 created_dbs[i]);
        pg_test_exec(getenv("SLUICE_CATALOG"), sql);
    }
}

/* The shared database of the model tests, migrated once. */
static char *model_ci;
static struct sl_catalog *model;

static struct sl_catalog *model_catalog(void)
{
    struct sl_err err = { 0 };

    if (!model && pg_test_have()) {
        model_ci = fresh_db();
        if (model_ci)
            model = sl_catalog_open_conninfo(model_ci, &err);
        if (!model)
            printf("#   open model catalog: %s\n", err.msg);
    }
    return model;
}

/* ---- Pure: widening and hashing ---- */

TEST(type_widening_follows_the_lattice)
{
    CHECK(sl_catalog_type_widens("int", "bigint"));
    CHECK(sl_catalog_type_widens("tinyint", "smallint"));
    CHECK(!sl_catalog_type_widens("bigint", "int"));
    CHECK(sl_catalog_type_widens("bigint", "double"));
    CHECK(sl_catalog_type_widens("float", "double"));
    CHECK(!sl_catalog_type_widens("double", "float"));
    CHECK(sl_catalog_type_widens("bigint", "decimal(21,2)"));
    CHECK(!sl_catalog_type_widens("bigint", "decimal(10,2)"));
    CHECK(sl_catalog_type_widens("decimal(10,2)", "decimal(12,4)"));
    CHECK(!sl_catalog_type_widens("decimal(10,2)", "decimal(10,4)"));
    CHECK(sl_catalog_type_widens("decimal(10,2)", "double"));
    CHECK(sl_catalog_type_widens("date", "timestamp"));
    CHECK(!sl_catalog_type_widens("timestamp", "date"));
    CHECK(sl_catalog_type_widens("boolean", "string"));
    CHECK(sl_catalog_type_widens("struct<a:bigint>", "string"));
    CHECK(!sl_catalog_type_widens("string", "bigint"));
    CHECK(!sl_catalog_type_widens("boolean", "bigint"));
    CHECK(!sl_catalog_type_widens("bigint", "bigint"));
    CHECK(sl_catalog_type_widens("array<int>", "array<bigint>"));
    CHECK(!sl_catalog_type_widens("array<bigint>", "array<int>"));
    CHECK(sl_catalog_type_widens("map<string,int>", "map<string,double>"));
    CHECK(sl_catalog_type_widens("struct<a:bigint,b:string>", "struct<a:double,b:string,c:int>"));
    CHECK(!sl_catalog_type_widens("struct<a:bigint,b:string>", "struct<a:bigint>"));
    CHECK(sl_catalog_type_widens("struct<a:struct<x:int>>", "struct<a:struct<x:bigint,y:int>>"));
    CHECK(!sl_catalog_type_widens("struct<A:int>", "struct<a:bigint>"));
}

static void build_table(struct sl_catalog_table *t, const char *db, const char *name)
{
    struct sl_err err = { 0 };

    sl_catalog_table_init(t);
    t->database = sl_strdup(db);
    t->name = sl_strdup(name);
    t->location = sl_strdup("s3://lake/raw/clicks/");
    t->classification = sl_strdup("csv");
    CHECK_OK(sl_catalog_table_add_column(t, "a", "bigint", "the id", &err), &err);
    CHECK_OK(sl_catalog_table_add_column(t, "b", "string", NULL, &err), &err);
    CHECK_OK(sl_catalog_table_add_partition_key(t, "dt", "string", &err), &err);
    CHECK_OK(sl_catalog_params_set(&t->params, "delimiter", ",", &err), &err);
    CHECK_OK(sl_catalog_params_set(&t->params, "skip.header.line.count", "1", &err), &err);
    CHECK_OK(sl_catalog_params_set(&t->params, "recordCount", "10", &err), &err);
}

TEST(schema_hash_is_canonical_sha256)
{
    struct sl_catalog_table t;
    struct sl_err err = { 0 };
    char h1[65], h2[65];

    build_table(&t, "lake", "clicks");
    CHECK_OK(sl_catalog_schema_hash(&t, h1, &err), &err);
    /* sha256 of [[["a","bigint"],["b","string"]],[["dt","string"]],
     * {"classification":"csv","delimiter":",","encoding":null,"escape":null,
     *  "header":"1","quote":null}] computed independently */
    CHECK_STR(h1, "2b774ab5ec178df0e6324b4002e7ec8dc712da966847b09f2b3701bfee6ff3ed");
    /* comments, stats and non-format parameters are not part of it */
    sl_free(t.columns[1].comment);
    t.columns[1].comment = sl_strdup("text");
    t.columns[0].stats = sl_strdup("{\"nulls\": 0}");
    CHECK_OK(sl_catalog_params_set(&t.params, "recordCount", "99", &err), &err);
    CHECK_OK(sl_catalog_schema_hash(&t, h2, &err), &err);
    CHECK_STR(h1, h2);
    /* a format parameter is */
    CHECK_OK(sl_catalog_params_set(&t.params, "delimiter", "|", &err), &err);
    CHECK_OK(sl_catalog_schema_hash(&t, h2, &err), &err);
    CHECK(strcmp(h1, h2) != 0);
    sl_catalog_table_cleanup(&t);
}

TEST(change_kind_names_round_trip)
{
    for (unsigned bit = 1; bit <= SL_CATALOG_CHANGE_COLUMNS_REORDERED; bit <<= 1) {
        const char *name = sl_catalog_change_name(bit);
        CHECK(name != NULL);
        CHECK(sl_catalog_change_parse(name) == bit);
    }
    CHECK_STR(sl_catalog_change_name(SL_CATALOG_CHANGE_TYPE_WIDENED), "type_widened");
    CHECK(sl_catalog_change_name(1u << 20) == NULL);
}

/* ---- Connection and migrations ---- */

TEST(open_without_server_names_target_not_password)
{
    struct sl_err err = { 0 };
    struct sl_catalog *c =
        sl_catalog_open_conninfo("host=127.0.0.1 port=1 user=u password=hunter2 dbname=x", &err);

    CHECK(c == NULL);
    CHECK(err.code == SL_ETRANSIENT);
    CHECK(strstr(err.msg, "could not connect to catalog") != NULL);
    CHECK(strstr(err.msg, "port=1") != NULL);
    CHECK(strstr(err.msg, "hunter2") == NULL);
    c = sl_catalog_open_conninfo("host=127.0.0.1 port=1 password=hunter2 nonsense", &err);
    CHECK(c == NULL);
    CHECK(err.code == SL_ECONFIG);
    CHECK(strstr(err.msg, "hunter2") == NULL);
}

TEST(migrations_are_idempotent)
{
    struct sl_err err = { 0 };
    char *ci;
    struct sl_catalog *c;
    int version = 0, applied = -1;

    if (!pg_test_have())
        SKIP("SLUICE_CATALOG is not set");
    ci = fresh_db();
    CHECK(ci != NULL);
    if (!ci)
        return;
    c = sl_catalog_open_conninfo(ci, &err);
    CHECK(c != NULL);
    if (!c) {
        printf("#   %s\n", err.msg);
        sl_free(ci);
        return;
    }
    CHECK_OK(sl_catalog_schema_version(c, &version, &err), &err);
    CHECK(version == sl_catalog_schema_latest());
    long n1 = pg_test_query_long(ci, "SELECT count(*) FROM \"sluice\".\"schema_migrations\"");
    long t1 = pg_test_query_long(ci, "SELECT floor(extract(epoch FROM max(\"applied_at\")) * 1e6)::int8 "
                             "FROM \"sluice\".\"schema_migrations\"");
    CHECK(n1 == sl_catalog_schema_latest());
    /* again, on the same connection and with a new one */
    CHECK_OK(sl_catalog_migrate(sl_catalog_peek_conn(c), &applied, &err), &err);
    CHECK(applied == 0);
    sl_catalog_free(c);
    c = sl_catalog_open_conninfo(ci, &err);
    CHECK(c != NULL);
    sl_catalog_free(c);
    CHECK(pg_test_query_long(ci, "SELECT count(*) FROM \"sluice\".\"schema_migrations\"") == n1);
    CHECK(pg_test_query_long(ci, "SELECT floor(extract(epoch FROM max(\"applied_at\")) * 1e6)::int8 "
                         "FROM \"sluice\".\"schema_migrations\"") == t1);
    CHECK(pg_test_query_long(ci, "SELECT count(*) FROM pg_tables WHERE schemaname = 'sluice'") == 19);
    sl_free(ci);
}

TEST(concurrent_first_open_migrates_once)
{
    enum { N_CHILDREN = 4 };
    pid_t pids[N_CHILDREN];
    char *ci;

    if (!pg_test_have())
        SKIP("SLUICE_CATALOG is not set");
    ci = fresh_db();
    CHECK(ci != NULL);
    if (!ci)
        return;
    fflush(stdout);
    for (int i = 0; i < N_CHILDREN; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            struct sl_err err = { 0 };
            struct sl_catalog *c = sl_catalog_open_conninfo(ci, &err);
            if (!c)
                printf("#   child %d: %s\n", i, err.msg);
            fflush(stdout);
            sl_catalog_free(c);
            _exit(c ? 0 : 1);
        }
    }
    for (int i = 0; i < N_CHILDREN; i++) {
        int ws = 0;
        CHECK(pids[i] > 0 && waitpid(pids[i], &ws, 0) == pids[i]);
        CHECK(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
    }
    CHECK(pg_test_query_long(ci, "SELECT count(*) FROM \"sluice\".\"schema_migrations\"") ==
          sl_catalog_schema_latest());
    CHECK(pg_test_query_long(ci, "SELECT count(DISTINCT \"version\") "
                         "FROM \"sluice\".\"schema_migrations\"") == sl_catalog_schema_latest());
    sl_free(ci);
}

TEST(newer_catalog_is_a_clear_config_error)
{
    struct sl_err err = { 0 };
    struct sl_catalog *c;
    char sql[200];
    char *ci;

    if (!pg_test_have())
        SKIP("SLUICE_CATALOG is not set");
    ci = fresh_db();
    CHECK(ci != NULL);
    if (!ci)
        return;
    c = sl_catalog_open_conninfo(ci, &err);
    CHECK(c != NULL);
    sl_catalog_free(c);
    snprintf(sql, sizeof sql,
             "INSERT INTO \"sluice\".\"schema_migrations\" (\"version\", \"name\") "
             "VALUES (%d, 'x')",
             sl_catalog_schema_latest() + 41);
    CHECK(pg_test_exec(ci, sql));
    c = sl_catalog_open_conninfo(ci, &err);
    CHECK(c == NULL);
    sl_catalog_free(c);
    CHECK(err.code == SL_ECONFIG);
    snprintf(sql, sizeof sql,
             "catalog schema version %d is newer than this sluice (%d); upgrade sluice",
             sl_catalog_schema_latest() + 41, sl_catalog_schema_latest());
    CHECKF(strstr(err.msg, sql) != NULL, "%s", err.msg);
    sl_free(ci);
}

/* ---- Databases ---- */

TEST(databases_round_trip)
{
    struct sl_catalog *c = model_catalog();
    struct sl_err err = { 0 };
    struct sl_catalog_database d, *got = NULL, *list = NULL;
    size_t n = 0;
    int created = -1;
    char long_name[300];

    if (!c)
        SKIP("SLUICE_CATALOG is not set or unusable");
    memset(&d, 0, sizeof d);
    d.name = "Sales_DB";
    d.description = "sales data";
    d.location_uri = "s3://lake/sales/";
    sl_catalog_params_init(&d.params);
    CHECK_OK(sl_catalog_params_set(&d.params, "owner_team", "bi", &err), &err);
    CHECK_OK(sl_catalog_database_create(c, &d, &err), &err);
    CHECK(sl_catalog_database_create(c, &d, &err) == SL_EEXIST);
    CHECK(strstr(err.msg, "\"sales_db\" already exists") != NULL);
    CHECK_OK(sl_catalog_database_get(c, "SALES_DB", &got, &err), &err);
    if (got) {
        CHECK_STR(got->name, "sales_db");
        CHECK_STR(got->description, "sales data");
        CHECK_STR(got->location_uri, "s3://lake/sales/");
        CHECK_STR(sl_catalog_params_get(&got->params, "owner_team"), "bi");
        CHECK(got->created_ms > 1600000000000LL && got->updated_ms >= got->created_ms);
        CHECK(got->id > 0);
    }
    sl_catalog_database_free(got);
    sl_catalog_params_cleanup(&d.params);

    CHECK_OK(sl_catalog_database_ensure(c, "sales_db", &created, &err), &err);
    CHECK(created == 0);
    CHECK_OK(sl_catalog_database_ensure(c, "Alpha", &created, &err), &err);
    CHECK(created == 1);
    CHECK_OK(sl_catalog_database_ensure(c, "zeta", NULL, &err), &err);

    /* validation */
    CHECK(sl_catalog_database_ensure(c, "bad-name", NULL, &err) == SL_ECONFIG);
    CHECK(strstr(err.msg, "\"bad-name\"") != NULL);
    CHECK(sl_catalog_database_ensure(c, "", NULL, &err) == SL_ECONFIG);
    memset(long_name, 'a', 256);
    long_name[256] = '\0';
    CHECK(sl_catalog_database_ensure(c, long_name, NULL, &err) == SL_ECONFIG);
    long_name[255] = '\0';
    CHECK_OK(sl_catalog_database_ensure(c, long_name, NULL, &err), &err);
    CHECK_OK(sl_catalog_database_delete(c, long_name, &err), &err);

    /* sorted, paged */
    CHECK_OK(sl_catalog_database_list(c, NULL, 0, &list, &n, &err), &err);
    CHECK(n >= 3);
    for (size_t i = 1; i < n; i++)
        CHECK(strcmp(list[i - 1].name, list[i].name) < 0);
    sl_catalog_database_list_free(list, n);
    CHECK_OK(sl_catalog_database_list(c, "alpha", 1, &list, &n, &err), &err);
    CHECK(n == 1);
    if (n == 1)
        CHECK(strcmp(list[0].name, "alpha") > 0);
    sl_catalog_database_list_free(list, n);

    CHECK(sl_catalog_database_get(c, "nope", &got, &err) == SL_ENOTFOUND);
    CHECK(got == NULL);
    CHECK(strstr(err.msg, "database \"nope\" not found") != NULL);
    CHECK_OK(sl_catalog_database_delete(c, "zeta", &err), &err);
    CHECK(sl_catalog_database_delete(c, "zeta", &err) == SL_ENOTFOUND);
}

/* ---- Tables ---- */

static struct sl_catalog_column *col_named(struct sl_catalog_table *t, const char *name)
{
    for (size_t i = 0; i < t->n_columns; i++) {
        if (strcmp(t->columns[i].name, name) == 0)
            return &t->columns[i];
    }
    return NULL;
}

TEST(table_create_and_get)
{
    struct sl_catalog *c = model_catalog();
    struct sl_err err = { 0 };
    struct sl_catalog_table t, *got = NULL;
    struct sl_catalog_put_result res;
    char hash[65];

    if (!c)
        SKIP("SLUICE_CATALOG is not set or unusable");
    CHECK_OK(sl_catalog_database_ensure(c, "web", NULL, &err), &err);
    build_table(&t, "Web", "Clicks");
    t.created_by_crawler = sl_strdup("web_crawler");
    CHECK_OK(sl_catalog_params_set(&t.columns[0].params, "source_name", "A", &err), &err);
    t.columns[0].stats = sl_strdup("{\"nulls\": 0, \"max\": 7}");
    CHECK_OK(sl_catalog_table_put(c, &t, NULL, &res, &err), &err);
    CHECK(res.created == 1 && res.new_version == 1 && res.updated == 1);
    CHECK(res.version == 1);
    CHECK(res.change_kinds == SL_CATALOG_CHANGE_CREATED);
    CHECK_OK(sl_catalog_schema_hash(&t, hash, &err), &err);
    CHECK_STR(res.schema_hash, hash);

    CHECK_OK(sl_catalog_table_get(c, "WEB", "CLICKS", &got, &err), &err);
    if (got) {
        CHECK(got->id == res.table_id);
        CHECK_STR(got->database, "web");
        CHECK_STR(got->name, "clicks");
        CHECK_STR(got->location, "s3://lake/raw/clicks/");
        CHECK_STR(got->classification, "csv");
        CHECK_STR(got->table_type, "EXTERNAL_TABLE");
        CHECK_STR(got->created_by_crawler, "web_crawler");
        CHECK_STR(got->schema_hash, hash);
        CHECK(got->current_version == 1);
        CHECK(got->state == SL_CATALOG_ACTIVE && got->deprecated_ms == 0);
        CHECK(got->n_columns == 2 && got->n_partition_keys == 1 && got->n_partitions == 0);
        if (got->n_columns == 2 && got->n_partition_keys == 1) {
            CHECK_STR(got->columns[0].name, "a");
            CHECK_STR(got->columns[0].type, "bigint");
            CHECK_STR(got->columns[0].comment, "the id");
            CHECK_STR(sl_catalog_params_get(&got->columns[0].params, "source_name"), "A");
            CHECK(got->columns[0].stats && strstr(got->columns[0].stats, "\"max\": 7"));
            CHECK_STR(got->columns[1].name, "b");
            CHECK(got->columns[1].comment == NULL && got->columns[1].stats == NULL);
            CHECK_STR(got->partition_keys[0].name, "dt");
            CHECK_STR(got->partition_keys[0].type, "string");
        }
        CHECK_STR(sl_catalog_params_get(&got->params, "classification"), "csv");
        CHECK_STR(sl_catalog_params_get(&got->params, "delimiter"), ",");
        CHECK_STR(sl_catalog_params_get(&got->params, "sluice.schema_hash"), hash);
        /* read back sorted by key */
        for (size_t i = 1; i < got->params.n_items; i++)
            CHECK(strcmp(got->params.items[i - 1].key, got->params.items[i].key) < 0);
        CHECK(got->created_ms > 0 && got->updated_ms >= got->created_ms);
    }
    sl_catalog_table_free(got);

    CHECK(sl_catalog_table_get(c, "web", "nope", &got, &err) == SL_ENOTFOUND);
    CHECK(strstr(err.msg, "table \"web.nope\" not found") != NULL);
    CHECK(sl_catalog_table_get(c, "nodb", "clicks", &got, &err) == SL_ENOTFOUND);
    CHECK(strstr(err.msg, "database \"nodb\" not found") != NULL);
    CHECK(sl_catalog_table_get(c, "web", "bad.name", &got, &err) == SL_ECONFIG);

    /* validation */
    sl_free(t.columns[1].name);
    t.columns[1].name = sl_strdup("a");
    CHECK(sl_catalog_table_put(c, &t, NULL, NULL, &err) == SL_ECONFIG);
    CHECK(strstr(err.msg, "column \"a\" appears twice") != NULL);
    sl_catalog_table_cleanup(&t);
    build_table(&t, "nodb", "x");
    CHECK(sl_catalog_table_put(c, &t, NULL, NULL, &err) == SL_ENOTFOUND);
    sl_catalog_table_cleanup(&t);
}

TEST(table_parameters_change_in_place)
{
    struct sl_catalog *c = model_catalog();
    struct sl_err err = { 0 };
    struct sl_catalog_table t, *got = NULL;
    struct sl_catalog_table_version *v = NULL;
    struct sl_catalog_put_result res;
    size_t n = 0;

    if (!c)
        SKIP("SLUICE_CATALOG is not set or unusable");
    CHECK_OK(sl_catalog_database_ensure(c, "stats", NULL, &err), &err);
    build_table(&t, "stats", "t1");
    CHECK_OK(sl_catalog_table_put(c, &t, NULL, &res, &err), &err);
    /* same again: nothing written */
    CHECK_OK(sl_catalog_table_put(c, &t, NULL, &res, &err), &err);
    CHECK(res.created == 0 && res.new_version == 0 && res.updated == 0 && res.version == 1);
    /* statistics: in place, no version */
    CHECK_OK(sl_catalog_params_set(&t.params, "recordCount", "12345", &err), &err);
    CHECK_OK(sl_catalog_table_put(c, &t, NULL, &res, &err), &err);
    CHECK(res.new_version == 0 && res.updated == 1 && res.version == 1 && res.change_kinds == 0);
    /* comments, column parameters and stats: in place */
    t.columns[1].comment = sl_strdup("free text");
    t.columns[1].stats = sl_strdup("{\"max_length\": 12}");
    CHECK_OK(sl_catalog_table_put(c, &t, NULL, &res, &err), &err);
    CHECK(res.new_version == 0 && res.updated == 1);
    CHECK_OK(sl_catalog_table_get(c, "stats", "t1", &got, &err), &err);
    if (got) {
        CHECK_STR(sl_catalog_params_get(&got->params, "recordCount"), "12345");
        CHECK(got->current_version == 1);
        CHECK_STR(col_named(got, "b") ? col_named(got, "b")->comment : NULL, "free text");
    }
    sl_catalog_table_free(got);
    CHECK_OK(sl_catalog_table_list_versions(c, "stats", "t1", &v, &n, &err), &err);
    CHECK(n == 1);
    if (n == 1) {
        CHECK(v[0].version == 1 && v[0].change_kinds == SL_CATALOG_CHANGE_CREATED);
        CHECK(v[0].change && strstr(v[0].change, "\"reason\": \"user\""));
        CHECK(v[0].n_columns == 2 && v[0].n_partition_keys == 1);
    }
    sl_catalog_table_version_list_free(v, n);
    sl_catalog_table_cleanup(&t);
}

TEST(table_schema_change_makes_a_version)
{
    struct sl_catalog *c = model_catalog();
    struct sl_err err = { 0 };
    struct sl_catalog_table t, *got = NULL;
    struct sl_catalog_table_version *v = NULL;
    struct sl_catalog_put_result res;
    struct sl_catalog_put_opts opts = { .crawl_run_id = 0, .reason = NULL };
    size_t n = 0;

    if (!c)
        SKIP("SLUICE_CATALOG is not set or unusable");
    CHECK_OK(sl_catalog_database_ensure(c, "evo", NULL, &err), &err);
    sl_catalog_table_init(&t);
    t.database = sl_strdup("evo");
    t.name = sl_strdup("events");
    t.location = sl_strdup("s3://lake/events/");
    t.classification = sl_strdup("json");
    CHECK_OK(sl_catalog_table_add_column(&t, "id", "int", NULL, &err), &err);
    CHECK_OK(sl_catalog_table_add_column(&t, "flag", "string", NULL, &err), &err);
    CHECK_OK(sl_catalog_table_add_column(&t, "note", "string", NULL, &err), &err);
    CHECK_OK(sl_catalog_table_add_column(&t, "old", "string", NULL, &err), &err);
    CHECK_OK(sl_catalog_table_add_column(&t, "hole", "string", NULL, &err), &err);
    CHECK_OK(sl_catalog_params_set(&t.columns[4].params, "placeholder", "true", &err), &err);
    CHECK_OK(sl_catalog_table_put(c, &t, NULL, &res, &err), &err);
    CHECK(res.version == 1);

    /* v2: id int->bigint (widened), flag string->boolean (changed), old removed,
     * extra added, hole resolved to double */
    sl_catalog_table_cleanup(&t);
    sl_catalog_table_init(&t);
    t.database = sl_strdup("evo");
    t.name = sl_strdup("events");
    t.location = sl_strdup("s3://lake/events/");
    t.classification = sl_strdup("json");
    CHECK_OK(sl_catalog_table_add_column(&t, "id", "bigint", NULL, &err), &err);
    CHECK_OK(sl_catalog_table_add_column(&t, "flag", "boolean", NULL, &err), &err);
    CHECK_OK(sl_catalog_table_add_column(&t, "note", "string", NULL, &err), &err);
    CHECK_OK(sl_catalog_table_add_column(&t, "hole", "double", NULL, &err), &err);
    CHECK_OK(sl_catalog_table_add_column(&t, "extra", "string", NULL, &err), &err);
    opts.crawl_run_id = 0;
    opts.reason = "test";
    CHECK_OK(sl_catalog_table_put(c, &t, &opts, &res, &err), &err);
    CHECK(res.created == 0 && res.new_version == 1 && res.version == 2);
    CHECKF(res.change_kinds ==
               (SL_CATALOG_CHANGE_COLUMNS_ADDED | SL_CATALOG_CHANGE_COLUMNS_REMOVED |
                SL_CATALOG_CHANGE_TYPE_WIDENED | SL_CATALOG_CHANGE_TYPE_CHANGED |
                SL_CATALOG_CHANGE_PLACEHOLDER_RESOLVED),
           "kinds %#x", res.change_kinds);

    /* v3: partition keys and the format change */
    CHECK_OK(sl_catalog_table_add_partition_key(&t, "year", "string", &err), &err);
    CHECK_OK(sl_catalog_params_set(&t.params, "sluice.encoding", "utf-16le", &err), &err);
    CHECK_OK(sl_catalog_table_put(c, &t, NULL, &res, &err), &err);
    CHECK(res.version == 3);
    CHECK(res.change_kinds ==
          (SL_CATALOG_CHANGE_PARTITION_KEYS_CHANGED | SL_CATALOG_CHANGE_FORMAT_CHANGED));

    /* v4: only the order changes */
    struct sl_catalog_column tmp = t.columns[0];
    t.columns[0] = t.columns[1];
    t.columns[1] = tmp;
    CHECK_OK(sl_catalog_table_put(c, &t, NULL, &res, &err), &err);
    CHECK(res.version == 4 && res.change_kinds == SL_CATALOG_CHANGE_COLUMNS_REORDERED);

    CHECK_OK(sl_catalog_table_get(c, "evo", "events", &got, &err), &err);
    if (got) {
        CHECK(got->current_version == 4 && got->n_columns == 5 && got->n_partition_keys == 1);
        CHECK_STR(got->columns[0].name, "flag");
        CHECK_STR(got->schema_hash, res.schema_hash);
    }
    sl_catalog_table_free(got);

    CHECK_OK(sl_catalog_table_list_versions(c, "evo", "events", &v, &n, &err), &err);
    CHECK(n == 4);
    if (n == 4) {
        CHECK(v[0].version == 1 && v[0].n_columns == 5);
        CHECK_STR(v[0].columns[0].type, "int");
        CHECK(v[1].version == 2);
        json_t *ch = json_loads(v[1].change, 0, NULL);
        CHECK(ch != NULL);
        json_t *w = json_array_get(json_object_get(ch, "widened"), 0);
        CHECK_STR(json_string_value(json_object_get(w, "name")), "id");
        CHECK_STR(json_string_value(json_object_get(w, "from")), "int");
        CHECK_STR(json_string_value(json_object_get(w, "to")), "bigint");
        CHECK(json_array_size(json_object_get(ch, "widened")) == 1);
        json_t *chg = json_array_get(json_object_get(ch, "changed"), 0);
        CHECK_STR(json_string_value(json_object_get(chg, "name")), "flag");
        CHECK_STR(json_string_value(json_object_get(chg, "to")), "boolean");
        json_t *rm = json_array_get(json_object_get(ch, "removed"), 0);
        CHECK_STR(json_string_value(json_object_get(rm, "name")), "old");
        json_t *ad = json_array_get(json_object_get(ch, "added"), 0);
        CHECK_STR(json_string_value(json_object_get(ad, "name")), "extra");
        CHECK_STR(json_string_value(json_object_get(ad, "type")), "string");
        json_t *pr = json_array_get(json_object_get(ch, "placeholder_resolved"), 0);
        CHECK_STR(json_string_value(json_object_get(pr, "name")), "hole");
        CHECK_STR(json_string_value(json_object_get(pr, "to")), "double");
        CHECK(json_object_get(ch, "format") == NULL);
        CHECK(json_object_get(ch, "partition_keys") == NULL);
        json_decref(ch);
        CHECK(strstr(v[1].change, "\"reason\": \"test\"") != NULL);
        CHECK(strstr(v[2].change, "\"partition_keys\"") != NULL);
        CHECK(strstr(v[2].change, "\"utf-16le\"") != NULL);
        CHECK(strstr(v[2].format, "\"encoding\": \"utf-16le\"") != NULL);
        CHECK(v[2].n_partition_keys == 1 && v[1].n_partition_keys == 0);
        CHECK(strcmp(v[0].schema_hash, v[1].schema_hash) != 0);
    }
    sl_catalog_table_version_list_free(v, n);
    sl_catalog_table_cleanup(&t);
}

TEST(table_concurrent_create_makes_one_version)
{
    enum { N_CHILDREN = 3 };
    struct sl_catalog *c = model_catalog();
    struct sl_err err = { 0 };
    struct sl_catalog_table_version *v = NULL;
    pid_t pids[N_CHILDREN];
    size_t n = 0;

    if (!c)
        SKIP("SLUICE_CATALOG is not set or unusable");
    CHECK_OK(sl_catalog_database_ensure(c, "race", NULL, &err), &err);
    fflush(stdout);
    for (int i = 0; i < N_CHILDREN; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            struct sl_err cerr = { 0 };
            struct sl_catalog_table t;
            struct sl_catalog *cc = sl_catalog_open_conninfo(model_ci, &cerr);
            int ok = 0;
            build_table(&t, "race", "same");
            ok = cc && sl_catalog_table_put(cc, &t, NULL, NULL, &cerr) == SL_OK;
            if (!ok)
                printf("#   child %d: %s\n", i, cerr.msg);
            fflush(stdout);
            sl_catalog_table_cleanup(&t);
            sl_catalog_free(cc);
            _exit(ok ? 0 : 1);
        }
    }
    for (int i = 0; i < N_CHILDREN; i++) {
        int ws = 0;
        CHECK(pids[i] > 0 && waitpid(pids[i], &ws, 0) == pids[i]);
        CHECK(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
    }
    CHECK_OK(sl_catalog_table_list_versions(c, "race", "same", &v, &n, &err), &err);
    CHECK(n == 1);
    sl_catalog_table_version_list_free(v, n);
}

TEST(table_list_filters_sorts_and_pages)
{
    struct sl_catalog *c = model_catalog();
    struct sl_err err = { 0 };
    struct sl_catalog_table *list = NULL;
    size_t n = 0;
    const char *names[] = { "sales_2024", "orders", "sales_2023", "Sales_eu", "returns" };

    if (!c)
        SKIP("SLUICE_CATALOG is not set or unusable");
    CHECK_OK(sl_catalog_database_ensure(c, "shop", NULL, &err), &err);
    for (size_t i = 0; i < SL_ARRAY_LEN(names); i++) {
        struct sl_catalog_table t;
        build_table(&t, "shop", names[i]);
        CHECK_OK(sl_catalog_table_put(c, &t, NULL, NULL, &err), &err);
        sl_catalog_table_cleanup(&t);
    }
    CHECK_OK(sl_catalog_table_list(c, "shop", NULL, NULL, 0, &list, &n, &err), &err);
    CHECK(n == 5);
    if (n == 5) {
        CHECK_STR(list[0].name, "orders");
        CHECK_STR(list[4].name, "sales_eu");
        CHECK(list[0].n_columns == 2 && list[0].n_partition_keys == 1);
        CHECK_STR(list[0].columns[1].name, "b");
    }
    sl_catalog_table_list_free(list, n);
    /* anchored, case-insensitive ERE */
    CHECK_OK(sl_catalog_table_list(c, "shop", "Sales_20[0-9]+", NULL, 0, &list, &n, &err), &err);
    CHECK(n == 2);
    sl_catalog_table_list_free(list, n);
    CHECK_OK(sl_catalog_table_list(c, "shop", "sales", NULL, 0, &list, &n, &err), &err);
    CHECK(n == 0);
    sl_catalog_table_list_free(list, n);
    CHECK_OK(sl_catalog_table_list(c, "shop", "orders|returns", NULL, 0, &list, &n, &err), &err);
    CHECK(n == 2);
    sl_catalog_table_list_free(list, n);
    /* paging */
    CHECK_OK(sl_catalog_table_list(c, "shop", NULL, "returns", 2, &list, &n, &err), &err);
    CHECK(n == 2);
    if (n == 2) {
        CHECK_STR(list[0].name, "sales_2023");
        CHECK_STR(list[1].name, "sales_2024");
    }
    sl_catalog_table_list_free(list, n);
    CHECK(sl_catalog_table_list(c, "shop", "[a", NULL, 0, &list, &n, &err) == SL_ECONFIG);
    CHECK(strstr(err.msg, "invalid regular expression") != NULL);
    CHECK(sl_catalog_table_list(c, "nodb", NULL, NULL, 0, &list, &n, &err) == SL_ENOTFOUND);
}

/* ---- Partitions ---- */

static void make_part(struct sl_catalog_partition *p, const char *dt, const char *records)
{
    struct sl_err err = { 0 };
    char loc[200];

    sl_catalog_partition_init(p);
    CHECK_OK(sl_catalog_partition_add_value(p, dt, &err), &err);
    snprintf(loc, sizeof loc, "s3://lake/raw/clicks/dt=%s/", dt);
    p->location = sl_strdup(loc);
    CHECK_OK(sl_catalog_params_set(&p->params, "recordCount", records, &err), &err);
    CHECK_OK(sl_catalog_params_set(&p->params, "objectCount", "1", &err), &err);
}

TEST(partitions_round_trip)
{
    struct sl_catalog *c = model_catalog();
    struct sl_err err = { 0 };
    struct sl_catalog_table t, *got_t = NULL;
    struct sl_catalog_partition parts[3], *list = NULL, *got = NULL;
    size_t n = 0, added = 0, updated = 0;
    const char *key_b[] = { "2024-01-02" };
    const char *key_x[] = { "1999-01-01" };
    const char *two[] = { "a", "b" };

    if (!c)
        SKIP("SLUICE_CATALOG is not set or unusable");
    CHECK_OK(sl_catalog_database_ensure(c, "parts", NULL, &err), &err);
    build_table(&t, "parts", "clicks");
    CHECK_OK(sl_catalog_table_put(c, &t, NULL, NULL, &err), &err);
    make_part(&parts[0], "2024-01-03", "30");
    make_part(&parts[1], "2024-01-01", "10");
    make_part(&parts[2], "2024-01-02", "20");
    parts[2].schema_hash = sl_strdup("abc");
    parts[2].checked_against_version = 1;
    CHECK_OK(sl_catalog_partition_put(c, "parts", "clicks", parts, 3, &added, &updated, &err),
             &err);
    CHECK(added == 3 && updated == 0);
    /* same again: nothing changes; then one changes */
    CHECK_OK(sl_catalog_partition_put(c, "parts", "clicks", parts, 3, &added, &updated, &err),
             &err);
    CHECK(added == 0 && updated == 0);
    CHECK_OK(sl_catalog_params_set(&parts[0].params, "recordCount", "31", &err), &err);
    CHECK_OK(sl_catalog_partition_put(c, "parts", "clicks", parts, 3, &added, &updated, &err),
             &err);
    CHECK(added == 0 && updated == 1);

    CHECK_OK(sl_catalog_partition_list(c, "Parts", "Clicks", NULL, 0, 0, &list, &n, &err), &err);
    CHECK(n == 3);
    if (n == 3) {
        CHECK_STR(list[0].values[0], "2024-01-01");
        CHECK_STR(list[1].values[0], "2024-01-02");
        CHECK_STR(list[2].values[0], "2024-01-03");
        CHECK_STR(list[2].location, "s3://lake/raw/clicks/dt=2024-01-03/");
        CHECK_STR(sl_catalog_params_get(&list[2].params, "recordCount"), "31");
        CHECK_STR(list[1].schema_hash, "abc");
        CHECK(list[1].checked_against_version == 1 && list[0].checked_against_version == 0);
        CHECK(list[0].created_ms > 0 && list[0].state == SL_CATALOG_ACTIVE);
    }
    sl_catalog_partition_list_free(list, n);
    CHECK_OK(sl_catalog_partition_list(c, "parts", "clicks", key_b, 1, 5, &list, &n, &err), &err);
    CHECK(n == 1);
    if (n == 1)
        CHECK_STR(list[0].values[0], "2024-01-03");
    sl_catalog_partition_list_free(list, n);

    CHECK_OK(sl_catalog_partition_get(c, "parts", "clicks", key_b, 1, &got, &err), &err);
    if (got)
        CHECK_STR(sl_catalog_params_get(&got->params, "recordCount"), "20");
    sl_catalog_partition_free(got);
    CHECK(sl_catalog_partition_get(c, "parts", "clicks", key_x, 1, &got, &err) == SL_ENOTFOUND);
    CHECK(strstr(err.msg, "(1999-01-01)") != NULL);
    CHECK(sl_catalog_partition_get(c, "parts", "clicks", two, 2, &got, &err) == SL_ECONFIG);

    /* wrong value count, duplicates */
    CHECK_OK(sl_catalog_partition_add_value(&parts[1], "extra", &err), &err);
    CHECK(sl_catalog_partition_put(c, "parts", "clicks", parts, 3, NULL, NULL, &err) ==
          SL_ECONFIG);
    CHECK(strstr(err.msg, "has 2 values, the table 1 keys") != NULL);
    sl_catalog_partition_cleanup(&parts[1]);
    make_part(&parts[1], "2024-01-03", "1");
    CHECK(sl_catalog_partition_put(c, "parts", "clicks", parts, 3, NULL, NULL, &err) ==
          SL_ECONFIG);
    CHECK(strstr(err.msg, "(2024-01-03) is given twice") != NULL);

    /* state */
    CHECK_OK(sl_catalog_partition_set_state(c, "parts", "clicks", key_b, 1, SL_CATALOG_DEPRECATED,
                                            "objects gone", &err),
             &err);
    CHECK_OK(sl_catalog_partition_get(c, "parts", "clicks", key_b, 1, &got, &err), &err);
    if (got) {
        CHECK(got->state == SL_CATALOG_DEPRECATED && got->deprecated_ms > 0);
        CHECK_STR(sl_catalog_params_get(&got->params, "sluice.deprecated_reason"), "objects gone");
    }
    sl_catalog_partition_free(got);
    CHECK_OK(sl_catalog_partition_set_state(c, "parts", "clicks", key_b, 1, SL_CATALOG_ACTIVE,
                                            NULL, &err),
             &err);
    CHECK_OK(sl_catalog_partition_get(c, "parts", "clicks", key_b, 1, &got, &err), &err);
    if (got) {
        CHECK(got->state == SL_CATALOG_ACTIVE && got->deprecated_ms == 0);
        CHECK(sl_catalog_params_get(&got->params, "sluice.deprecated_reason") == NULL);
    }
    sl_catalog_partition_free(got);

    CHECK_OK(sl_catalog_table_get(c, "parts", "clicks", &got_t, &err), &err);
    if (got_t)
        CHECK(got_t->n_partitions == 3);
    sl_catalog_table_free(got_t);

    CHECK_OK(sl_catalog_partition_delete(c, "parts", "clicks", key_b, 1, &err), &err);
    CHECK(sl_catalog_partition_delete(c, "parts", "clicks", key_b, 1, &err) == SL_ENOTFOUND);
    CHECK(sl_catalog_partition_get(c, "parts", "clicks", key_b, 1, &got, &err) == SL_ENOTFOUND);
    for (int i = 0; i < 3; i++)
        sl_catalog_partition_cleanup(&parts[i]);
    sl_catalog_table_cleanup(&t);
}

TEST(partitions_many_in_one_call)
{
    enum { N = 2500 };
    struct sl_catalog *c = model_catalog();
    struct sl_err err = { 0 };
    struct sl_catalog_table t;
    struct sl_catalog_partition *parts;
    struct sl_catalog_partition *list = NULL;
    size_t n = 0, added = 0;

    if (!c)
        SKIP("SLUICE_CATALOG is not set or unusable");
    CHECK_OK(sl_catalog_database_ensure(c, "bulk", NULL, &err), &err);
    build_table(&t, "bulk", "t");
    CHECK_OK(sl_catalog_table_put(c, &t, NULL, NULL, &err), &err);
    parts = sl_calloc(N, sizeof *parts);
    for (int i = 0; i < N; i++) {
        char v[32];
        snprintf(v, sizeof v, "v%05d", N - i);
        make_part(&parts[i], v, "1");
    }
    CHECK_OK(sl_catalog_partition_put(c, "bulk", "t", parts, N, &added, NULL, &err), &err);
    CHECK(added == N);
    CHECK_OK(sl_catalog_partition_list(c, "bulk", "t", NULL, 0, 0, &list, &n, &err), &err);
    CHECK(n == N);
    if (n == N) {
        CHECK_STR(list[0].values[0], "v00001");
        CHECK_STR(list[N - 1].values[0], "v02500");
    }
    sl_catalog_partition_list_free(list, n);
    sl_catalog_partition_list_free(parts, N);
    sl_catalog_table_cleanup(&t);
}

TEST(deletes_cascade)
{
    struct sl_catalog *c = model_catalog();
    struct sl_err err = { 0 };
    struct sl_catalog_table t, *got = NULL;
    struct sl_catalog_partition p;
    struct sl_catalog_database *db = NULL;
    char sql[300];

    if (!c)
        SKIP("SLUICE_CATALOG is not set or unusable");
    CHECK_OK(sl_catalog_database_ensure(c, "gone", NULL, &err), &err);
    build_table(&t, "gone", "t1");
    CHECK_OK(sl_catalog_table_put(c, &t, NULL, NULL, &err), &err);
    sl_free(t.name);
    t.name = sl_strdup("t2");
    CHECK_OK(sl_catalog_table_put(c, &t, NULL, NULL, &err), &err);
    make_part(&p, "x", "1");
    CHECK_OK(sl_catalog_partition_put(c, "gone", "t1", &p, 1, NULL, NULL, &err), &err);
    CHECK_OK(sl_catalog_partition_put(c, "gone", "t2", &p, 1, NULL, NULL, &err), &err);

    CHECK_OK(sl_catalog_table_delete(c, "gone", "T1", &err), &err);
    CHECK(sl_catalog_table_get(c, "gone", "t1", &got, &err) == SL_ENOTFOUND);
    CHECK(sl_catalog_table_delete(c, "gone", "t1", &err) == SL_ENOTFOUND);
    snprintf(sql, sizeof sql,
             "SELECT (SELECT count(*) FROM \"sluice\".\"catalog_partition\") * 1000 + "
             "(SELECT count(*) FROM \"sluice\".\"catalog_table_version\" v JOIN "
             "\"sluice\".\"catalog_table\" t ON t.\"id\" = v.\"table_id\" "
             "JOIN \"sluice\".\"catalog_database\" d ON d.\"id\" = t.\"database_id\" "
             "WHERE d.\"name\" = 'gone')");
    long before = pg_test_query_long(model_ci, sql);
    CHECK(before % 1000 == 1); /* t2's version */
    CHECK_OK(sl_catalog_database_delete(c, "gone", &err), &err);
    CHECK(sl_catalog_database_get(c, "gone", &db, &err) == SL_ENOTFOUND);
    CHECK(pg_test_query_long(model_ci, sql) == before - 1000 - 1); /* t2's partition and version */
    CHECK(pg_test_query_long(model_ci, "SELECT count(*) FROM \"sluice\".\"catalog_column\" c "
                               "LEFT JOIN \"sluice\".\"catalog_table\" t ON t.\"id\" = "
                               "c.\"table_id\" WHERE t.\"id\" IS NULL") == 0);
    sl_catalog_partition_cleanup(&p);
    sl_catalog_table_cleanup(&t);
}

TEST(table_state_and_user_transactions)
{
    struct sl_catalog *c = model_catalog();
    struct sl_err err = { 0 };
    struct sl_catalog_table t, *got = NULL;

    if (!c)
        SKIP("SLUICE_CATALOG is not set or unusable");
    CHECK_OK(sl_catalog_database_ensure(c, "txdb", NULL, &err), &err);
    build_table(&t, "txdb", "kept");
    CHECK_OK(sl_catalog_table_put(c, &t, NULL, NULL, &err), &err);
    CHECK_OK(sl_catalog_table_set_state(c, "txdb", "kept", SL_CATALOG_DEPRECATED, "gone", &err),
             &err);
    CHECK_OK(sl_catalog_table_get(c, "txdb", "kept", &got, &err), &err);
    if (got) {
        CHECK(got->state == SL_CATALOG_DEPRECATED && got->deprecated_ms > 0);
        CHECK_STR(sl_catalog_params_get(&got->params, "sluice.deprecated_reason"), "gone");
        CHECK(got->current_version == 1);
    }
    sl_catalog_table_free(got);

    /* a rolled-back transaction leaves nothing, even after inner savepoints */
    CHECK_OK(sl_catalog_begin(c, &err), &err);
    CHECK(sl_catalog_begin(c, &err) == SL_EINTERNAL);
    sl_free(t.name);
    t.name = sl_strdup("ghost");
    CHECK_OK(sl_catalog_table_put(c, &t, NULL, NULL, &err), &err);
    CHECK(sl_catalog_table_put(c, &t, NULL, NULL, &err) == SL_OK);
    CHECK(sl_catalog_database_ensure(c, "bad name", NULL, &err) == SL_ECONFIG);
    /* failed statements do not spoil the caller's transaction */
    CHECK(sl_catalog_table_list(c, "txdb", "[a", NULL, 0, &got, &(size_t){ 0 }, &err) ==
          SL_ECONFIG);
    CHECK(sl_catalog_crawl_run_start(c, "nobody", NULL, &(int64_t){ 0 }, &err) == SL_ENOTFOUND);
    CHECK(sl_catalog_crawl_schema_put(c, "h", "{not json", &err) == SL_ECONFIG);
    CHECK_OK(sl_catalog_crawler_put(c, "txc", "{}", NULL, &err), &err);
    CHECK_OK(sl_catalog_crawler_lock(c, "txc", &err), &err);
    sl_catalog_rollback(c);
    CHECK(sl_catalog_table_get(c, "txdb", "ghost", &got, &err) == SL_ENOTFOUND);
    CHECK(sl_catalog_crawler_lock(c, "txc", &err) == SL_EINTERNAL);

    CHECK_OK(sl_catalog_begin(c, &err), &err);
    CHECK_OK(sl_catalog_table_put(c, &t, NULL, NULL, &err), &err);
    CHECK_OK(sl_catalog_commit(c, &err), &err);
    CHECK_OK(sl_catalog_table_get(c, "txdb", "ghost", &got, &err), &err);
    sl_catalog_table_free(got);
    sl_catalog_table_cleanup(&t);
}

/* ---- Crawl state ---- */

TEST(crawlers_and_runs)
{
    struct sl_catalog *c = model_catalog();
    struct sl_err err = { 0 };
    struct sl_catalog_crawler *cr = NULL, *crs = NULL;
    struct sl_catalog_crawl_run *run = NULL, *runs = NULL;
    int64_t id1 = 0, id2 = 0;
    size_t n = 0;
    char hash[65];

    if (!c)
        SKIP("SLUICE_CATALOG is not set or unusable");
    CHECK_OK(sl_catalog_crawler_put(c, "Sales_Crawler", "{\"database\": \"lake\", \"a\": 1}",
                                    NULL, &err),
             &err);
    CHECK_OK(sl_catalog_crawler_get(c, "Sales_Crawler", &cr, &err), &err);
    if (cr) {
        CHECK_STR(cr->name, "Sales_Crawler");
        CHECK(strstr(cr->config, "\"database\": \"lake\"") != NULL);
        CHECK(strlen(cr->config_hash) == 64);
        snprintf(hash, sizeof hash, "%s", cr->config_hash);
    }
    sl_catalog_crawler_free(cr);
    /* same config, other key order: same hash */
    CHECK_OK(sl_catalog_crawler_put(c, "Sales_Crawler", "{\"a\": 1, \"database\": \"lake\"}",
                                    NULL, &err),
             &err);
    CHECK_OK(sl_catalog_crawler_get(c, "Sales_Crawler", &cr, &err), &err);
    if (cr)
        CHECK_STR(cr->config_hash, hash);
    sl_catalog_crawler_free(cr);
    CHECK_OK(sl_catalog_crawler_put(c, "other", "{}", "cafe", &err), &err);
    CHECK(sl_catalog_crawler_put(c, "bad", "[1]", NULL, &err) == SL_ECONFIG);
    CHECK(sl_catalog_crawler_put(c, "bad", "{", NULL, &err) == SL_ECONFIG);
    CHECK(sl_catalog_crawler_get(c, "sales_crawler", &cr, &err) == SL_ENOTFOUND);
    CHECK_OK(sl_catalog_crawler_list(c, &crs, &n, &err), &err);
    CHECK(n >= 2);
    sl_catalog_crawler_list_free(crs, n);

    CHECK(sl_catalog_crawl_run_start(c, "nobody", "CRAWL_EVERYTHING", &id1, &err) ==
          SL_ENOTFOUND);
    CHECK(strstr(err.msg, "crawler \"nobody\" not found") != NULL);
    CHECK_OK(sl_catalog_crawl_run_start(c, "Sales_Crawler", "CRAWL_EVERYTHING", &id1, &err), &err);
    CHECK_OK(sl_catalog_crawl_run_start(c, "Sales_Crawler", NULL, &id2, &err), &err);
    CHECK(id2 > id1 && id1 > 0);
    CHECK(sl_catalog_crawl_run_finish(c, id1, SL_CATALOG_RUN_RUNNING, NULL, NULL, &err) ==
          SL_ECONFIG);
    CHECK_OK(sl_catalog_crawl_run_finish(c, id1, SL_CATALOG_RUN_SUCCEEDED, "{\"list\": 3}",
                                         "{\"tables\": []}", &err),
             &err);
    CHECK(sl_catalog_crawl_run_finish(c, 999999, SL_CATALOG_RUN_FAILED, NULL, NULL, &err) ==
          SL_ENOTFOUND);
    CHECK_OK(sl_catalog_crawl_run_get(c, id1, &run, &err), &err);
    if (run) {
        CHECK(run->status == SL_CATALOG_RUN_SUCCEEDED);
        CHECK_STR(run->mode, "CRAWL_EVERYTHING");
        CHECK(run->finished_ms >= run->started_ms && run->started_ms > 0);
        CHECK(run->counters && strstr(run->counters, "\"list\": 3"));
        CHECK(run->report && strstr(run->report, "tables"));
    }
    sl_catalog_crawl_run_free(run);
    CHECK_OK(sl_catalog_crawl_run_list(c, "Sales_Crawler", 0, &runs, &n, &err), &err);
    CHECK(n == 2);
    if (n == 2) {
        CHECK(runs[0].id == id2 && runs[0].status == SL_CATALOG_RUN_RUNNING);
        CHECK(runs[0].finished_ms == 0 && runs[0].counters == NULL);
    }
    sl_catalog_crawl_run_list_free(runs, n);
    CHECK_STR(sl_catalog_run_status_name(SL_CATALOG_RUN_CANCELLED), "cancelled");
}

TEST(crawl_objects_schemas_and_folders)
{
    struct sl_catalog *c = model_catalog();
    struct sl_err err = { 0 };
    struct sl_catalog_crawl_object objs[3], *list = NULL;
    struct sl_catalog_crawl_folder folders[2], *fl = NULL;
    struct sl_catalog_crawl_run *runs = NULL;
    char *schema = NULL;
    size_t n = 0, n_deleted = 0;
    const char *keys[] = { "a/1.csv", "b/3.csv", "missing" };
    const char *path = "s3://lake/raw/";

    if (!c)
        SKIP("SLUICE_CATALOG is not set or unusable");
    CHECK_OK(sl_catalog_crawler_put(c, "objc", "{}", NULL, &err), &err);
    CHECK_OK(sl_catalog_crawl_schema_put(c, "h1", "{\"columns\": [[\"a\", \"bigint\"]]}", &err),
             &err);
    CHECK_OK(sl_catalog_crawl_schema_put(c, "h1", "{\"other\": 1}", &err), &err);
    CHECK_OK(sl_catalog_crawl_schema_get(c, "h1", &schema, &err), &err);
    CHECK(schema && strstr(schema, "\"columns\""));
    sl_free(schema);
    CHECK(sl_catalog_crawl_schema_get(c, "nope", &schema, &err) == SL_ENOTFOUND);

    for (int i = 0; i < 3; i++) {
        sl_catalog_crawl_object_init(&objs[i]);
        objs[i].crawler = sl_strdup("objc");
        objs[i].include_path = sl_strdup(path);
        objs[i].etag = sl_strdup("\"e1\"");
        objs[i].status = sl_strdup("ok");
        objs[i].config_hash = sl_strdup("cfg");
        objs[i].inference_version = 1;
        objs[i].object_len = 100 + i;
        objs[i].last_modified_ms = 1700000000123LL + i;
    }
    objs[0].key = sl_strdup("b/3.csv");
    objs[1].key = sl_strdup("a/1.csv");
    objs[2].key = sl_strdup("a/2.csv");
    objs[1].classification = sl_strdup("csv");
    objs[1].schema_hash = sl_strdup("h1");
    objs[1].certainty = 0.75;
    objs[1].record_estimate = 42;
    objs[1].record_exact = 1;
    objs[1].avg_record_bytes = 12.5;
    objs[1].decoded_ratio = 1.0;
    objs[1].sampled = 1;
    objs[1].format_params = sl_strdup("{\"delimiter\": \",\"}");
    objs[1].header_evidence = sl_strdup("{\"decision\": \"header\"}");
    objs[1].first_seen_run = 7;
    objs[1].last_sampled_run = 8;
    objs[1].storage_class = sl_strdup("STANDARD");
    CHECK_OK(sl_catalog_crawl_object_put(c, objs, 3, &err), &err);

    CHECK_OK(sl_catalog_crawl_object_list(c, "objc", path, NULL, 0, &list, &n, &err), &err);
    CHECK(n == 3);
    if (n == 3) {
        CHECK_STR(list[0].key, "a/1.csv");
        CHECK_STR(list[1].key, "a/2.csv");
        CHECK_STR(list[2].key, "b/3.csv");
        CHECK(list[0].last_modified_ms == 1700000000124LL);
        CHECK(list[0].object_len == 101);
        CHECK_STR(list[0].classification, "csv");
        CHECK_STR(list[0].schema_hash, "h1");
        CHECK_STR(list[0].storage_class, "STANDARD");
        CHECK(list[0].certainty > 0.74 && list[0].certainty < 0.76);
        CHECK(list[0].record_estimate == 42 && list[0].record_exact == 1);
        CHECK(list[0].avg_record_bytes == 12.5 && list[0].sampled == 1);
        CHECK(list[0].first_seen_run == 7 && list[0].last_sampled_run == 8);
        CHECK(list[0].format_params && strstr(list[0].format_params, "delimiter"));
        CHECK(list[1].certainty == -1 && list[1].record_estimate == -1);
        CHECK(list[1].record_exact == -1 && list[1].avg_record_bytes == -1);
        CHECK(list[1].schema_hash == NULL && list[1].first_seen_run == 0);
        CHECK(list[1].sampled == 0 && list[1].inference_version == 1);
    }
    sl_catalog_crawl_object_list_free(list, n);
    CHECK_OK(sl_catalog_crawl_object_list(c, "objc", path, "a/1.csv", 1, &list, &n, &err), &err);
    CHECK(n == 1);
    if (n == 1)
        CHECK_STR(list[0].key, "a/2.csv");
    sl_catalog_crawl_object_list_free(list, n);

    /* replace one row */
    sl_free(objs[0].etag);
    objs[0].etag = sl_strdup("\"e2\"");
    CHECK_OK(sl_catalog_crawl_object_put(c, &objs[0], 1, &err), &err);
    CHECK_OK(sl_catalog_crawl_object_list(c, "objc", path, "a/2.csv", 0, &list, &n, &err), &err);
    if (n == 1)
        CHECK_STR(list[0].etag, "\"e2\"");
    sl_catalog_crawl_object_list_free(list, n);

    /* an unknown schema hash is refused */
    sl_free(objs[2].schema_hash);
    objs[2].schema_hash = sl_strdup("unknown");
    CHECK(sl_catalog_crawl_object_put(c, &objs[2], 1, &err) == SL_ENOTFOUND);

    CHECK_OK(sl_catalog_crawl_object_delete(c, "objc", path, keys, 3, &n_deleted, &err), &err);
    CHECK(n_deleted == 2);
    CHECK_OK(sl_catalog_crawl_object_list(c, "objc", path, NULL, 0, &list, &n, &err), &err);
    CHECK(n == 1);
    sl_catalog_crawl_object_list_free(list, n);

    memset(folders, 0, sizeof folders);
    folders[0].crawler = "objc";
    folders[0].include_path = (char *)path;
    folders[0].prefix = "b/";
    folders[0].has_direct_files = 1;
    folders[0].first_seen_run = 3;
    folders[1] = folders[0];
    folders[1].prefix = "a/";
    folders[1].has_direct_files = 0;
    folders[1].first_seen_run = 0;
    CHECK_OK(sl_catalog_crawl_folder_put(c, folders, 2, &err), &err);
    CHECK_OK(sl_catalog_crawl_folder_list(c, "objc", path, &fl, &n, &err), &err);
    CHECK(n == 2);
    if (n == 2) {
        CHECK_STR(fl[0].prefix, "a/");
        CHECK(fl[0].has_direct_files == 0 && fl[0].first_seen_run == 0);
        CHECK(fl[1].has_direct_files == 1 && fl[1].first_seen_run == 3);
    }
    sl_catalog_crawl_folder_list_free(fl, n);

    /* deleting the crawler takes its runs, objects and folders along */
    int64_t run_id = 0;
    CHECK_OK(sl_catalog_crawl_run_start(c, "objc", NULL, &run_id, &err), &err);
    CHECK_OK(sl_catalog_crawler_delete(c, "objc", &err), &err);
    CHECK(sl_catalog_crawler_delete(c, "objc", &err) == SL_ENOTFOUND);
    CHECK_OK(sl_catalog_crawl_object_list(c, "objc", path, NULL, 0, &list, &n, &err), &err);
    CHECK(n == 0);
    sl_catalog_crawl_object_list_free(list, n);
    CHECK_OK(sl_catalog_crawl_folder_list(c, "objc", path, &fl, &n, &err), &err);
    CHECK(n == 0);
    sl_catalog_crawl_folder_list_free(fl, n);
    CHECK_OK(sl_catalog_crawl_run_list(c, "objc", 0, &runs, &n, &err), &err);
    CHECK(n == 0);
    sl_catalog_crawl_run_list_free(runs, n);
    for (int i = 0; i < 3; i++)
        sl_catalog_crawl_object_cleanup(&objs[i]);
}

/* Steps the failing allocation N up (SL_TEST_FAIL_ALLOC style) until the call
 * succeeds: every step must end in a clean SL_ENOMEM (ASan checks the leaks). */
#define STEP_ALLOC_FAILURES(call, on_ok)                                                           \
    do {                                                                                           \
        int t_done = 0;                                                                            \
        for (long nth = 1; nth < 2000 && !t_done; nth++) {                                         \
            sl_alloc_fail_reset(nth);                                                              \
            int t_rc = (call);                                                                     \
            sl_alloc_fail_reset(0);                                                                \
            if (t_rc == SL_OK) {                                                                   \
                on_ok;                                                                             \
                t_done = 1;                                                                        \
            } else {                                                                               \
                CHECKF(t_rc == SL_ENOMEM, "step %ld: %d %s", nth, t_rc, err.msg);                 \
            }                                                                                      \
        }                                                                                          \
        CHECK(t_done);                                                                             \
    } while (0)

TEST(allocation_failures_are_clean)
{
    struct sl_catalog *c = model_catalog();
    struct sl_err err = { 0 };
    struct sl_catalog_table t, *got = NULL, *tables = NULL;
    struct sl_catalog_partition p, *parts = NULL;
    struct sl_catalog_table_version *v = NULL;
    struct sl_catalog_database *dbs = NULL;
    size_t n = 0;

    if (!c)
        SKIP("SLUICE_CATALOG is not set or unusable");
    CHECK_OK(sl_catalog_database_ensure(c, "oom", NULL, &err), &err);
    build_table(&t, "oom", "t");
    STEP_ALLOC_FAILURES(sl_catalog_table_put(c, &t, NULL, NULL, &err), (void)0);
    CHECK_OK(sl_catalog_table_add_column(&t, "c", "double", NULL, &err), &err);
    STEP_ALLOC_FAILURES(sl_catalog_table_put(c, &t, NULL, NULL, &err), (void)0);
    make_part(&p, "2024", "5");
    STEP_ALLOC_FAILURES(sl_catalog_partition_put(c, "oom", "t", &p, 1, NULL, NULL, &err), (void)0);
    STEP_ALLOC_FAILURES(sl_catalog_table_get(c, "oom", "t", &got, &err),
                        sl_catalog_table_free(got));
    STEP_ALLOC_FAILURES(sl_catalog_table_list(c, "oom", NULL, NULL, 0, &tables, &n, &err),
                        sl_catalog_table_list_free(tables, n));
    STEP_ALLOC_FAILURES(sl_catalog_table_list_versions(c, "oom", "t", &v, &n, &err),
                        sl_catalog_table_version_list_free(v, n));
    STEP_ALLOC_FAILURES(sl_catalog_partition_list(c, "oom", "t", NULL, 0, 0, &parts, &n, &err),
                        sl_catalog_partition_list_free(parts, n));
    STEP_ALLOC_FAILURES(sl_catalog_database_list(c, NULL, 0, &dbs, &n, &err),
                        sl_catalog_database_list_free(dbs, n));
    sl_catalog_partition_cleanup(&p);
    sl_catalog_table_cleanup(&t);
}

int main(void)
{
    RUN(type_widening_follows_the_lattice);
    RUN(schema_hash_is_canonical_sha256);
    RUN(change_kind_names_round_trip);
    RUN(open_without_server_names_target_not_password);
    RUN(migrations_are_idempotent);
    RUN(concurrent_first_open_migrates_once);
    RUN(newer_catalog_is_a_clear_config_error);
    RUN(databases_round_trip);
    RUN(table_create_and_get);
    RUN(table_parameters_change_in_place);
    RUN(table_schema_change_makes_a_version);
    RUN(table_concurrent_create_makes_one_version);
    RUN(table_list_filters_sorts_and_pages);
    RUN(partitions_round_trip);
    RUN(partitions_many_in_one_call);
    RUN(deletes_cascade);
    RUN(table_state_and_user_transactions);
    RUN(crawlers_and_runs);
    RUN(crawl_objects_schemas_and_folders);
    RUN(allocation_failures_are_clean);
    sl_catalog_free(model);
    sl_free(model_ci);
    drop_dbs();
    TEST_EXIT();
}
