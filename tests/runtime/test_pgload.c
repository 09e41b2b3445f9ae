/*
 * tests/runtime/test_pgload.c - bulk loads into PostgreSQL (pgload*.c)
 * against the real server of SLUICE_CATALOG (the database tests skip when it
 * is unset): every mode, value round trips, bad rows, schema checks, quoted
 * identifiers, a load killed mid-way, concurrent merges, the in_publish hook;
 * plus target parsing and the Redshift SQL text, which run always. The tests use one fresh
 * database (sl_pgload_<pid>) and drop it, and a role they create and drop.
 * SLUICE_CATALOG is pointed at the test database, so targets without a URI
 * (conninfo "") land there too.
 */
#include <libpq-fe.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runtime/alloc.h"
#include "runtime/batch.h"
#include "runtime/pgload.h"
#include "tests/test.h"
#include "tests/pg_test.h"

/* ---- The test database ---- */

static char db_name[64];
static char role_name[64];
static char *admin_ci; /* owned: the original SLUICE_CATALOG */
static char *db_ci;    /* owned: the test database */

/* The test database, created on first use; 0 without a server. */
static int have_db(void)
{
    static int tried, ok;
    char sql[256];

    if (tried)
        return ok;
    tried = 1;
    const char *ci = getenv("SLUICE_CATALOG");
    if (!ci || !*ci)
        return 0;
    admin_ci = sl_strdup(ci);
    snprintf(db_name, sizeof db_name, "sl_pgload_%ld", (long)getpid());
    snprintf(role_name, sizeof role_name, "sl_pgload_reader_%ld", (long)getpid());
    snprintf(sql, sizeof sql, "CREATE DATABASE \"%s\"", db_name);
    if (!pg_test_exec(admin_ci, sql))
        return 0;
    snprintf(sql, sizeof sql, "CREATE ROLE \"%s\" NOLOGIN", role_name);
    pg_test_exec(admin_ci, sql);
    db_ci = pg_test_conninfo_for(admin_ci, db_name);
    if (!db_ci)
        return 0;
    setenv("SLUICE_CATALOG", db_ci, 1);
    ok = 1;
    return ok;
}

static void drop_db(void)
{
    char sql[256];
    if (!db_name[0] || !admin_ci)
        return;
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS \"%s\" WITH (FORCE)", db_name);
    pg_test_exec(admin_ci, sql);
    snprintf(sql, sizeof sql, "DROP ROLE IF EXISTS \"%s\"", role_name);
    pg_test_exec(admin_ci, sql);
}

static int sql(const char *text)
{
    return pg_test_exec(db_ci, text);
}

/* All rows of a query as text: fields joined by '|', rows by '\n', NULL as
 * "<null>"; "<error>" on failure. Static buffer. */
static const char *q(const char *text)
{
    static char buf[1 << 16];
    PGconn *pg = PQconnectdb(db_ci);
    size_t o = 0;

    buf[0] = '\0';
    if (PQstatus(pg) != CONNECTION_OK) {
        PQfinish(pg);
        return "<error>";
    }
    PGresult *s = PQexec(pg, "SET TimeZone = 'UTC'");
    PQclear(s);
    PGresult *r = PQexec(pg, text);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        printf("#   %s: %s", text, PQerrorMessage(pg));
        snprintf(buf, sizeof buf, "<error>");
    } else {
        for (int i = 0; i < PQntuples(r); i++) {
            for (int k = 0; k < PQnfields(r); k++) {
                const char *v = PQgetisnull(r, i, k) ? "<null>" : PQgetvalue(r, i, k);
                o += (size_t)snprintf(buf + o, sizeof buf - o, "%s%s", k ? "|" : "", v);
                if (o >= sizeof buf)
                    o = sizeof buf - 1;
            }
            if (i + 1 < PQntuples(r))
                o += (size_t)snprintf(buf + o, sizeof buf - o, "\n");
            if (o >= sizeof buf)
                o = sizeof buf - 1;
        }
    }
    PQclear(r);
    PQfinish(pg);
    return buf;
}

static long ql(const char *text)
{
    const char *v = q(text);
    return strcmp(v, "<error>") == 0 ? -1 : strtol(v, NULL, 10);
}

#define SKIP_WITHOUT_PG()                                                                          \
    do {                                                                                           \
        if (!have_db())                                                                            \
            SKIP("SLUICE_CATALOG is not set or unusable");                                         \
    } while (0)

/* ---- Rows ---- */

/* "a:int,b:string": names and engine types (owned: sl_rschema_free). */
static struct sl_rschema *mkschema(const char *spec)
{
    char tmp[512];
    char *names[32];
    enum sl_vtype types[32];
    size_t n = 0;

    snprintf(tmp, sizeof tmp, "%s", spec);
    for (char *save = NULL, *tok = strtok_r(tmp, ",", &save); tok && n < 32;
         tok = strtok_r(NULL, ",", &save)) {
        char *colon = strrchr(tok, ':');
        *colon = '\0';
        const char *ty = colon + 1;
        names[n] = tok;
        types[n] = strcmp(ty, "int") == 0      ? SL_V_INT
                   : strcmp(ty, "double") == 0 ? SL_V_DOUBLE
                   : strcmp(ty, "bool") == 0   ? SL_V_BOOL
                   : strcmp(ty, "date") == 0   ? SL_V_DATE
                   : strcmp(ty, "ts") == 0     ? SL_V_TIMESTAMP
                   : strcmp(ty, "binary") == 0 ? SL_V_BINARY
                   : strcmp(ty, "json") == 0   ? SL_V_JSON
                   : strcmp(ty, "null") == 0   ? SL_V_NULL
                                               : SL_V_STRING;
        n++;
    }
    struct sl_rschema *s = sl_rschema_new(n);
    struct sl_err err = {0};
    for (size_t i = 0; i < n; i++)
        sl_rschema_set(s, i, names[i], types[i], &err);
    return s;
}

static struct sl_value vint(int64_t i)
{
    struct sl_value v = {.type = SL_V_INT};
    v.i = i;
    return v;
}

static struct sl_value vdbl(double d)
{
    struct sl_value v = {.type = SL_V_DOUBLE};
    v.d = d;
    return v;
}

static struct sl_value vbool(int b)
{
    struct sl_value v = {.type = SL_V_BOOL};
    v.i = b;
    return v;
}

static struct sl_value vtyped(enum sl_vtype t, int64_t i)
{
    struct sl_value v = {.type = (uint8_t)t};
    v.i = i;
    return v;
}

static struct sl_value vnull(void)
{
    struct sl_value v = {.type = SL_V_NULL};
    return v;
}

/* Text values are copied into the batch's arena. */
static struct sl_value vbytes(struct sl_batch *b, enum sl_vtype t, const char *p, size_t len)
{
    struct sl_value v = {.type = (uint8_t)t};
    char *d = sl_arena_alloc(&b->arena, len ? len : 1);
    memcpy(d, p, len);
    v.s = d;
    v.len = (uint32_t)len;
    return v;
}

static struct sl_value vstr(struct sl_batch *b, const char *s)
{
    return vbytes(b, SL_V_STRING, s, strlen(s));
}

static struct sl_value *row(struct sl_batch *b)
{
    return sl_batch_add_row(b, NULL);
}

struct badlog {
    int n;
    uint32_t rows[64];
    int cols[64];
    char reasons[64][400];
    int stop_at; /* return SL_ECANCELLED on this call (1-based); 0 never */
};

static int on_bad(void *ud, uint32_t r, int column, const char *reason)
{
    struct badlog *bl = ud;
    if (bl->n < 64) {
        bl->rows[bl->n] = r;
        bl->cols[bl->n] = column;
        snprintf(bl->reasons[bl->n], sizeof bl->reasons[0], "%s", reason);
    }
    bl->n++;
    return bl->stop_at && bl->n == bl->stop_at ? SL_ECANCELLED : SL_OK;
}

static struct sl_pgload_target tgt(const char *schema, const char *table)
{
    struct sl_pgload_target t = {SL_PGLOAD_POSTGRES, (char *)"", (char *)schema, (char *)table};
    return t;
}

/* begin + one stream per batch + commit + publish + free. */
static int load(const char *schema, const char *table, const struct sl_pgload_opts *o,
                const struct sl_rschema *rs, struct sl_batch **batches, const uint64_t **orders,
                size_t n_batches, struct badlog *bl, uint64_t *n_rows, struct sl_err *err)
{
    struct sl_pgload_target t = tgt(schema, table);
    struct sl_pgload *l = NULL;
    int rc = sl_pgload_begin(&t, o, rs, &l, err);
    for (size_t i = 0; rc == SL_OK && i < n_batches; i++) {
        struct sl_pgload_stream *s = NULL;
        rc = sl_pgload_stream_open(l, &s, err);
        if (rc != SL_OK)
            break;
        rc = sl_pgload_stream_write(s, batches[i], orders ? orders[i] : NULL, bl ? on_bad : NULL,
                                    bl, NULL, err);
        if (rc != SL_OK) {
            sl_pgload_stream_abort(s);
            break;
        }
        rc = sl_pgload_stream_commit(s, err);
    }
    if (rc == SL_OK)
        rc = sl_pgload_publish(l, n_rows, err);
    sl_pgload_free(l);
    return rc;
}

static long n_staging(const char *schema)
{
    char text[512];
    snprintf(text, sizeof text,
             "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
             " WHERE n.nspname = '%s' AND c.relname LIKE '\\_sluice\\_stage\\_%%'",
             schema);
    return ql(text);
}

/* ---- Target parsing (no server) ---- */

static void check_parse(const char *uri, int ok, const char *conninfo, const char *schema,
                        const char *table, const char *msg_part)
{
    struct sl_pgload_target t;
    struct sl_err err = {0};
    int rc = sl_pgload_target_parse(uri, &t, &err);
    if (ok) {
        CHECKF(rc == SL_OK, "%s: %s", uri, err.msg);
        if (rc == SL_OK) {
            CHECK_STR(t.conninfo, conninfo);
            CHECK_STR(t.schema, schema);
            CHECK_STR(t.table, table);
        }
    } else {
        CHECKF(rc == SL_ECONFIG, "%s: rc %d", uri, rc);
        CHECKF(strstr(err.msg, msg_part) != NULL, "%s: \"%s\" lacks \"%s\"", uri, err.msg,
               msg_part);
    }
    sl_pgload_target_cleanup(&t);
}

TEST(target_parse_cases)
{
    check_parse("postgres:analytics.page_views", 1, "", "analytics", "page_views", NULL);
    check_parse("postgres:page_views", 1, "", "public", "page_views", NULL);
    check_parse("postgresql:S.T", 1, "", "s", "t", NULL);
    check_parse("POSTGRES:x", 1, "", "public", "x", NULL);
    check_parse("postgres:\"My Schema\".\"Sales.2024\"", 1, "", "My Schema", "Sales.2024", NULL);
    check_parse("postgres:\"a\"\"b\".c", 1, "", "a\"b", "c", NULL);
    check_parse("postgres:\"select\"", 1, "", "public", "select", NULL);
    check_parse("postgres:ünïcode.Täble", 1, "", "ünïcode", "täble", NULL);
    check_parse("postgres://u@db.example:5433/warehouse?sslmode=disable#mart.orders", 1,
                "postgres://u@db.example:5433/warehouse?sslmode=disable", "mart", "orders", NULL);
    check_parse("postgresql:///sluice#t", 1, "postgresql:///sluice", "public", "t", NULL);
    check_parse("redshift://admin@cluster.example:5439/dev#public.events", 1,
                "postgresql://admin@cluster.example:5439/dev", "public", "events", NULL);
    check_parse("postgres://h/db#\"Odd #name\".t", 1, "postgres://h/db", "Odd #name", "t", NULL);

    check_parse("postgres:", 0, NULL, NULL, NULL, "empty table name");
    check_parse("postgres:s.", 0, NULL, NULL, NULL, "empty table name");
    check_parse("postgres:.t", 0, NULL, NULL, NULL, "empty schema name");
    check_parse("postgres:\"\"", 0, NULL, NULL, NULL, "empty table name");
    check_parse("postgres:a.b.c", 0, NULL, NULL, NULL, "expected SCHEMA.TABLE");
    check_parse("postgres:\"abc", 0, NULL, NULL, NULL, "unterminated");
    check_parse("postgres:\"a\"x", 0, NULL, NULL, NULL, "unexpected text");
    check_parse("postgres:public.t; DROP TABLE x", 0, NULL, NULL, NULL, "not a plain table name");
    check_parse("postgres:my table", 0, NULL, NULL, NULL, "double-quote");
    check_parse("postgres:\"a\tb\"", 0, NULL, NULL, NULL, "control character");
    check_parse("postgres:a\nb", 0, NULL, NULL, NULL, "control character");
    check_parse("postgres:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0,
                NULL, NULL, NULL, "longer than 63 bytes");
    check_parse("postgres:\"\xff\xfe\"", 0, NULL, NULL, NULL, "not valid UTF-8");
    check_parse("postgres://h/db", 0, NULL, NULL, NULL, "expected #SCHEMA.TABLE");
    check_parse("postgres://h/db#", 0, NULL, NULL, NULL, "empty table name");
    check_parse("postgres://h:notaport/db?bogus=1#t", 0, NULL, NULL, NULL,
                "invalid connection URI");
    check_parse("redshift:public.t", 0, NULL, NULL, NULL, "needs a connection URI");
    check_parse("s3://bucket/x", 0, NULL, NULL, NULL, "not a database target");
    check_parse("mysql:t", 0, NULL, NULL, NULL, "not a database target");

    /* a password in a bad URI never reaches the message */
    struct sl_pgload_target t;
    struct sl_err err = {0};
    CHECK(sl_pgload_target_parse("postgres://u:hunter2@h/db?nope=1#t", &t, &err) == SL_ECONFIG);
    CHECK(strstr(err.msg, "hunter2") == NULL);
    sl_pgload_target_cleanup(&t);
    sl_pgload_target_cleanup(&t); /* twice is fine */
}

TEST(is_target)
{
    CHECK(sl_pgload_is_target("postgres:t"));
    CHECK(sl_pgload_is_target("postgresql://h/db#t"));
    CHECK(sl_pgload_is_target("redshift://h/db#t"));
    CHECK(!sl_pgload_is_target("s3://b/k"));
    CHECK(!sl_pgload_is_target("/tmp/x"));
    CHECK(!sl_pgload_is_target("post"));
    CHECK(!sl_pgload_is_target(NULL));
}

/* ---- Redshift SQL (no server) ---- */

static char *rs_sql(enum sl_pgload_mode mode, bool create, const char *const *keys, size_t n_keys,
                    int *rc_out, struct sl_err *err)
{
    struct sl_pgload_target t = {SL_PGLOAD_REDSHIFT, (char *)"postgresql://h/dev", (char *)"mart",
                                 (char *)"Page Views"};
    struct sl_rschema *rs = mkschema("dt:date,page:string,views:int");
    struct sl_pgload_opts o = {.mode = mode,
                               .keys = keys,
                               .n_keys = n_keys,
                               .create = create,
                               .run_id = "jr_0123456789abcdef",
                               .iam_role = "arn:aws:iam::123456789012:role/Loader"};
    char *out = NULL;
    *rc_out = sl_pgload_redshift_sql(&t, &o, rs, "s3://lake/stage/jr_0123/manifest", &out, err);
    sl_rschema_free(rs);
    return out;
}

TEST(redshift_sql_golden)
{
    struct sl_err err = {0};
    int rc;
    char *s;
    const char *keys[] = {"dt", "page"};
    /* the staging name carries the lock key of run jr_0123456789abcdef */
    char hex_line[128];

    s = rs_sql(SL_PGLOAD_APPEND, false, NULL, 0, &rc, &err);
    CHECK_OK(rc, &err);
    /* pick the staging name out of the first statement */
    const char *st = s ? strstr(s, "\"_sluice_stage_") : NULL;
    CHECK(st != NULL);
    size_t st_len = st ? strcspn(st + 1, "\"") + 2 : 0;
    snprintf(hex_line, sizeof hex_line, "%.*s", (int)st_len, st ? st : "");
    CHECK(strncmp(hex_line, "\"_sluice_stage_jr_0123456789abcdef_1_", 37) == 0);
    CHECK(st_len == 37 + 16 + 1);
    char expect[4096];
    snprintf(expect, sizeof expect,
             "CREATE TEMP TABLE %s (LIKE \"mart\".\"Page Views\");\n"
             "COPY %s (\"dt\", \"page\", \"views\") FROM 's3://lake/stage/jr_0123/manifest'"
             " IAM_ROLE 'arn:aws:iam::123456789012:role/Loader'"
             " MANIFEST GZIP CSV IGNOREHEADER 1 TIMEFORMAT 'auto';\n"
             "BEGIN;\n"
             "INSERT INTO \"mart\".\"Page Views\" (\"dt\", \"page\", \"views\")"
             " SELECT \"dt\", \"page\", \"views\" FROM %s;\n"
             "END;\n"
             "DROP TABLE %s;\n",
             hex_line, hex_line, hex_line, hex_line);
    CHECK_STR(s, expect);
    sl_free(s);

    s = rs_sql(SL_PGLOAD_OVERWRITE, true, NULL, 0, &rc, &err);
    CHECK_OK(rc, &err);
    snprintf(expect, sizeof expect,
             "CREATE TABLE IF NOT EXISTS \"mart\".\"Page Views\" (\"dt\" date,"
             " \"page\" varchar(65535), \"views\" bigint);\n"
             "CREATE TEMP TABLE %s (LIKE \"mart\".\"Page Views\");\n"
             "COPY %s (\"dt\", \"page\", \"views\") FROM 's3://lake/stage/jr_0123/manifest'"
             " IAM_ROLE 'arn:aws:iam::123456789012:role/Loader'"
             " MANIFEST GZIP CSV IGNOREHEADER 1 TIMEFORMAT 'auto';\n"
             "BEGIN;\n"
             "DELETE FROM \"mart\".\"Page Views\";\n"
             "INSERT INTO \"mart\".\"Page Views\" (\"dt\", \"page\", \"views\")"
             " SELECT \"dt\", \"page\", \"views\" FROM %s;\n"
             "END;\n"
             "DROP TABLE %s;\n",
             hex_line, hex_line, hex_line, hex_line);
    CHECK_STR(s, expect);
    sl_free(s);

    s = rs_sql(SL_PGLOAD_MERGE, false, keys, 2, &rc, &err);
    CHECK_OK(rc, &err);
    snprintf(expect, sizeof expect,
             "CREATE TEMP TABLE %s (LIKE \"mart\".\"Page Views\");\n"
             "ALTER TABLE %s ADD COLUMN \"_sluice_seq\" BIGINT;\n"
             "COPY %s (\"dt\", \"page\", \"views\", \"_sluice_seq\")"
             " FROM 's3://lake/stage/jr_0123/manifest'"
             " IAM_ROLE 'arn:aws:iam::123456789012:role/Loader'"
             " MANIFEST GZIP CSV IGNOREHEADER 1 TIMEFORMAT 'auto';\n"
             "BEGIN;\n"
             "LOCK \"mart\".\"Page Views\";\n"
             "DELETE FROM \"mart\".\"Page Views\" USING %s WHERE \"Page Views\".\"dt\" = %s.\"dt\""
             " AND \"Page Views\".\"page\" = %s.\"page\";\n"
             "INSERT INTO \"mart\".\"Page Views\" (\"dt\", \"page\", \"views\")"
             " SELECT \"dt\", \"page\", \"views\" FROM (SELECT \"dt\", \"page\", \"views\","
             " ROW_NUMBER() OVER (PARTITION BY \"dt\", \"page\" ORDER BY \"_sluice_seq\" DESC)"
             " AS \"_sluice_rn\" FROM %s) AS \"_sluice_last\" WHERE \"_sluice_rn\" = 1"
             " OR \"dt\" IS NULL OR \"page\" IS NULL;\n"
             "END;\n"
             "DROP TABLE %s;\n",
             hex_line, hex_line, hex_line, hex_line, hex_line, hex_line, hex_line, hex_line);
    CHECK_STR(s, expect);
    sl_free(s);
}

TEST(redshift_sql_refusals_and_credentials)
{
    struct sl_err err = {0};
    int rc;
    char *s;

    s = rs_sql(SL_PGLOAD_MERGE, false, NULL, 0, &rc, &err);
    CHECK(rc == SL_ECONFIG && s == NULL);
    CHECK(strstr(err.msg, "merge needs keys") != NULL);

    const char *bad_key[] = {"nope"};
    s = rs_sql(SL_PGLOAD_MERGE, false, bad_key, 1, &rc, &err);
    CHECK(rc == SL_ECONFIG && strstr(err.msg, "\"nope\"") != NULL);

    /* credentials from the environment when there is no role */
    struct sl_pgload_target t = {SL_PGLOAD_REDSHIFT, (char *)"postgresql://h/dev", (char *)"public",
                                 (char *)"t"};
    struct sl_rschema *rs = mkschema("a:int");
    struct sl_pgload_opts o = {.mode = SL_PGLOAD_APPEND, .run_id = "r1"};
    char *saved[3];
    const char *vars[3] = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"};
    for (int i = 0; i < 3; i++) {
        const char *v = getenv(vars[i]);
        saved[i] = v ? sl_strdup(v) : NULL;
    }
    setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "wJalr'XUtnFEMI", 1);
    setenv("AWS_SESSION_TOKEN", "tok", 1);
    rc = sl_pgload_redshift_sql(&t, &o, rs, "s3://b/m", &s, &err);
    CHECK_OK(rc, &err);
    CHECK(s && strstr(s, " CREDENTIALS 'aws_access_key_id=AKIDEXAMPLE;"
                         "aws_secret_access_key=wJalr''XUtnFEMI;token=tok' MANIFEST") != NULL);
    sl_free(s);
    rc = sl_pgload_redshift_sql(&t, &o, rs, "s3://b/it's\\here", &s, &err);
    CHECK(rc == SL_ECONFIG && strstr(err.msg, "backslash") != NULL);
    o.add_columns = true;
    rc = sl_pgload_redshift_sql(&t, &o, rs, "s3://b/m", &s, &err);
    CHECK(rc == SL_ECONFIG && strstr(err.msg, "add_columns") != NULL);
    for (int i = 0; i < 3; i++) {
        if (saved[i])
            setenv(vars[i], saved[i], 1);
        else
            unsetenv(vars[i]);
        sl_free(saved[i]);
    }
    sl_rschema_free(rs);
}

/* ---- Modes ---- */

TEST(append_twice)
{
    struct sl_err err = {0};
    uint64_t n = 0;

    SKIP_WITHOUT_PG();
    CHECK(sql("CREATE TABLE ap (id bigint, name text, extra int DEFAULT 7)"));
    struct sl_rschema *rs = mkschema("id:int,name:string");
    struct sl_batch *b = sl_batch_new(rs, 0, 0);
    for (int i = 0; i < 3; i++) {
        struct sl_value *r = row(b);
        r[0] = vint(i);
        r[1] = vstr(b, i == 1 ? "one" : "x");
    }
    CHECK(sql("CREATE INDEX ap_id ON ap (id); GRANT SELECT ON ap TO PUBLIC"));
    long oid0 = ql("SELECT 'ap'::regclass::oid::int8");
    struct sl_pgload_opts o = {.mode = SL_PGLOAD_APPEND, .run_id = "ap1", .job = "appender"};
    CHECK_OK(load("public", "ap", &o, rs, &b, NULL, 1, NULL, &n, &err), &err);
    CHECK(n == 3);
    /* the target was empty: swapped in, with its index, default and grant */
    long oid1 = ql("SELECT 'ap'::regclass::oid::int8");
    CHECK(oid1 != oid0);
    CHECK_STR(q("SELECT indexname FROM pg_indexes WHERE tablename = 'ap'"), "ap_id");
    CHECK_STR(q("SELECT has_table_privilege('public', 'ap', 'SELECT')"), "t");
    o.run_id = "ap2";
    CHECK_OK(load("public", "ap", &o, rs, &b, NULL, 1, NULL, &n, &err), &err);
    CHECK(n == 3);
    CHECK(ql("SELECT 'ap'::regclass::oid::int8") == oid1); /* not empty: inserted */
    CHECK_STR(q("SELECT count(*), sum(id), count(*) FILTER (WHERE name = 'one'), min(extra)"
                " FROM ap"),
              "6|6|2|7");
    CHECK(n_staging("public") == 0);
    sl_batch_free(b);
    sl_rschema_free(rs);
}

TEST(overwrite_swaps_and_keeps_definition)
{
    struct sl_err err = {0};
    uint64_t n = 0;
    char text[1024];

    SKIP_WITHOUT_PG();
    CHECK(sql("CREATE TABLE ow (id int PRIMARY KEY, name varchar(20) NOT NULL,"
              " created date DEFAULT '2000-01-01', score numeric(6,2) CHECK (score >= 0))"));
    CHECK(sql("CREATE INDEX ow_name_idx ON ow (lower(name)) WHERE id > 0"));
    CHECK(sql("COMMENT ON TABLE ow IS 'scores'; COMMENT ON COLUMN ow.name IS 'who'"));
    snprintf(text, sizeof text, "GRANT SELECT, UPDATE ON ow TO \"%s\"", role_name);
    CHECK(sql(text));
    snprintf(text, sizeof text, "GRANT INSERT (score) ON ow TO \"%s\"", role_name);
    CHECK(sql(text));
    CHECK(sql("INSERT INTO ow VALUES (1, 'old', '1999-01-01', 1), (2, 'older', NULL, 2)"));
    long oid_before = ql("SELECT 'ow'::regclass::oid::int8");

    struct sl_rschema *rs = mkschema("id:int,name:string,score:double");
    struct sl_batch *b = sl_batch_new(rs, 0, 0);
    for (int i = 10; i < 13; i++) {
        struct sl_value *r = row(b);
        r[0] = vint(i);
        r[1] = vstr(b, "new");
        r[2] = vdbl(i + 0.25);
    }
    struct sl_pgload_opts o = {.mode = SL_PGLOAD_OVERWRITE, .run_id = "ow1"};
    CHECK_OK(load("public", "ow", &o, rs, &b, NULL, 1, NULL, &n, &err), &err);
    CHECK(n == 3);
    CHECK_STR(q("SELECT id, name, created, score FROM ow ORDER BY id"),
              "10|new|2000-01-01|10.25\n11|new|2000-01-01|11.25\n12|new|2000-01-01|12.25");
    CHECK(ql("SELECT 'ow'::regclass::oid::int8") != oid_before); /* swapped */
    CHECK_STR(q("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
                " WHERE conrelid = 'ow'::regclass ORDER BY conname"),
              "ow_pkey|PRIMARY KEY (id)\now_score_check|CHECK ((score >= (0)::numeric))");
    CHECK_STR(q("SELECT indexname FROM pg_indexes WHERE tablename = 'ow' ORDER BY 1"),
              "ow_name_idx\now_pkey");
    CHECK_STR(
        q("SELECT pg_get_indexdef('ow_name_idx'::regclass)"),
        "CREATE INDEX ow_name_idx ON public.ow USING btree (lower((name)::text)) WHERE (id > 0)");
    CHECK_STR(
        q("SELECT column_default, is_nullable FROM information_schema.columns"
          " WHERE table_name = 'ow' AND column_name IN ('created', 'name') ORDER BY column_name"),
        "'2000-01-01'::date|YES\n<null>|NO");
    snprintf(text, sizeof text,
             "SELECT has_table_privilege('%s', 'ow', 'SELECT'), has_table_privilege('%s', 'ow',"
             " 'UPDATE'), has_table_privilege('%s', 'ow', 'DELETE'),"
             " has_column_privilege('%s', 'ow', 'score', 'INSERT'),"
             " has_column_privilege('%s', 'ow', 'name', 'INSERT')",
             role_name, role_name, role_name, role_name, role_name);
    CHECK_STR(q(text), "t|t|f|t|f");
    CHECK_STR(
        q("SELECT obj_description('ow'::regclass, 'pg_class'), col_description('ow'::regclass, 2)"),
        "scores|who");
    CHECK_STR(q("SELECT relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user),"
                " relpersistence FROM pg_class WHERE relname = 'ow'"),
              "t|p");
    /* the primary key still works */
    CHECK_STR(q("WITH x AS (SELECT count(*) AS n FROM ow WHERE id = 10) SELECT n FROM x"), "1");
    CHECK(ql("SELECT count(*) FROM pg_index WHERE indrelid = 'ow'::regclass AND indisprimary"
             " AND indisunique AND indisvalid") == 1);
    CHECK(n_staging("public") == 0);
    CHECK(ql("SELECT count(*) FROM pg_class WHERE relname LIKE '\\_sluice%'") == 0);
    sl_batch_free(b);
    sl_rschema_free(rs);
}

TEST(overwrite_with_serial_and_unlogged_target)
{
    struct sl_err err = {0};
    uint64_t n = 0;

    SKIP_WITHOUT_PG();
    CHECK(sql("CREATE UNLOGGED TABLE ows (id serial PRIMARY KEY, v text)"));
    CHECK(sql("INSERT INTO ows (v) VALUES ('a'), ('b')"));
    struct sl_rschema *rs = mkschema("v:string");
    struct sl_batch *b = sl_batch_new(rs, 0, 0);
    row(b)[0] = vstr(b, "c");
    row(b)[0] = vstr(b, "d");
    struct sl_pgload_opts o = {.mode = SL_PGLOAD_OVERWRITE, .run_id = "ows1"};
    CHECK_OK(load("public", "ows", &o, rs, &b, NULL, 1, NULL, &n, &err), &err);
    CHECK_STR(q("SELECT id, v FROM ows ORDER BY id"), "3|c\n4|d");
    /* the sequence moved to the new table and still serves it */
    CHECK(sql("INSERT INTO ows (v) VALUES ('e')"));
    CHECK_STR(q("SELECT max(id) FROM ows"), "5");
    CHECK_STR(q("SELECT relpersistence FROM pg_class WHERE relname = 'ows'"), "u");
    CHECK_STR(q("SELECT pg_get_serial_sequence('ows', 'id')"), "public.ows_id_seq");
    sl_batch_free(b);
    sl_rschema_free(rs);
}

TEST(overwrite_with_dependent_view_truncates)
{
    struct sl_err err = {0};
    uint64_t n = 0;

    SKIP_WITHOUT_PG();
    CHECK(sql("CREATE TABLE owv (id int, v text)"));
    CHECK(sql("CREATE VIEW owv_view AS SELECT id * 2 AS twice, v FROM owv"));
    CHECK(sql("INSERT INTO owv VALUES (1, 'old')"));
    long oid_before = ql("SELECT 'owv'::regclass::oid::int8");
    struct sl_rschema *rs = mkschema("id:int,v:string");
    struct sl_batch *b = sl_batch_new(rs, 0, 0);
    struct sl_value *r = row(b);
    r[0] = vint(5);
    r[1] = vstr(b, "new");
    struct sl_pgload_opts o = {.mode = SL_PGLOAD_OVERWRITE, .run_id = "owv1"};
    CHECK_OK(load("public", "owv", &o, rs, &b, NULL, 1, NULL, &n, &err), &err);
    CHECK(n == 1);
    CHECK(ql("SELECT 'owv'::regclass::oid::int8") == oid_before);
    CHECK_STR(q("SELECT twice, v FROM owv_view"), "10|new");

    /* a foreign key pointing at the table: DELETE instead of TRUNCATE */
    CHECK(sql("CREATE TABLE owp (id int PRIMARY KEY); INSERT INTO owp VALUES (1), (2)"));
    CHECK(sql("CREATE TABLE owc (p int REFERENCES owp (id))"));
    struct sl_rschema *rs2 = mkschema("id:int");
    struct sl_batch *b2 = sl_batch_new(rs2, 0, 0);
    row(b2)[0] = vint(7);
    o.run_id = "owv2";
    CHECK_OK(load("public", "owp", &o, rs2, &b2, NULL, 1, NULL, &n, &err), &err);
    CHECK_STR(q("SELECT id FROM owp"), "7");
    /* ... and a referenced row makes the whole publish fail, leaving the target as it was */
    CHECK(sql("INSERT INTO owc VALUES (7)"));
    o.run_id = "owv3";
    CHECK(load("public", "owp", &o, rs2, &b2, NULL, 1, NULL, &n, &err) != SL_OK);
    CHECK(strstr(err.msg, "publish") != NULL);
    CHECK_STR(q("SELECT id FROM owp"), "7");
    CHECK(n_staging("public") == 0);
    sl_batch_free(b);
    sl_batch_free(b2);
    sl_rschema_free(rs);
    sl_rschema_free(rs2);
}

TEST(merge_picks_last_per_key)
{
    struct sl_err err = {0};
    uint64_t n = 0;

    SKIP_WITHOUT_PG();
    CHECK(sql("CREATE TABLE mg (k1 int, k2 text, v text, untouched int DEFAULT 1)"));
    CHECK(sql("INSERT INTO mg VALUES (1, 'a', 'old', 5), (2, 'b', 'keep', 5)"));
    struct sl_rschema *rs = mkschema("k1:int,k2:string,v:string");
    struct sl_batch *b = sl_batch_new(rs, 0, 0);
    const char *vals[] = {"first", "second", "third", "x"};
    int k1s[] = {1, 1, 1, 3};
    for (int i = 0; i < 4; i++) {
        struct sl_value *r = row(b);
        r[0] = vint(k1s[i]);
        r[1] = vstr(b, "a");
        r[2] = vstr(b, vals[i]);
    }
    struct sl_value *r = row(b); /* NULL keys never match: always inserted */
    r[0] = vnull();
    r[1] = vstr(b, "a");
    r[2] = vstr(b, "nullkey");
    /* explicit load order: row 1 ("second") is the last of key (1, 'a') */
    uint64_t order[] = {10, 30, 20, 5, 1};
    const uint64_t *orders[] = {order};
    const char *keys[] = {"k1", "k2"};
    struct sl_pgload_opts o = {.mode = SL_PGLOAD_MERGE, .keys = keys, .n_keys = 2, .run_id = "mg1"};
    CHECK_OK(load("public", "mg", &o, rs, &b, orders, 1, NULL, &n, &err), &err);
    CHECK(n == 3);
    CHECK_STR(q("SELECT k1, k2, v, untouched FROM mg ORDER BY k1 NULLS LAST"),
              "1|a|second|1\n2|b|keep|5\n3|a|x|1\n<null>|a|nullkey|1");

    /* arrival order when none is given: "third" is last */
    o.run_id = "mg2";
    CHECK_OK(load("public", "mg", &o, rs, &b, NULL, 1, NULL, &n, &err), &err);
    CHECK_STR(q("SELECT v FROM mg WHERE k1 = 1"), "third");
    CHECK(ql("SELECT count(*) FROM mg WHERE k1 IS NOT NULL") == 3);
    sl_batch_free(b);
    sl_rschema_free(rs);
}

TEST(merge_is_idempotent)
{
    struct sl_err err = {0};
    uint64_t n = 0;

    SKIP_WITHOUT_PG();
    CHECK(sql("CREATE TABLE mi (dt date, page text, views bigint, PRIMARY KEY (dt, page))"));
    struct sl_rschema *rs = mkschema("dt:date,page:string,views:int");
    struct sl_batch *b = sl_batch_new(rs, 0, 0);
    for (int i = 0; i < 50; i++) {
        struct sl_value *r = row(b);
        r[0] = vtyped(SL_V_DATE, 19800 + i % 5);
        char page[16];
        snprintf(page, sizeof page, "/p%d", i % 10);
        r[1] = vstr(b, page);
        r[2] = vint(i);
    }
    const char *keys[] = {"dt", "page"};
    struct sl_pgload_opts o = {.mode = SL_PGLOAD_MERGE, .keys = keys, .n_keys = 2, .run_id = "mi1"};
    CHECK_OK(load("public", "mi", &o, rs, &b, NULL, 1, NULL, &n, &err), &err);
    CHECK(n == 10);
    char first[4096];
    snprintf(first, sizeof first, "%s", q("SELECT * FROM mi ORDER BY 1, 2"));
    o.run_id = "mi2";
    CHECK_OK(load("public", "mi", &o, rs, &b, NULL, 1, NULL, &n, &err), &err);
    CHECK(n == 10);
    CHECK_STR(q("SELECT * FROM mi ORDER BY 1, 2"), first);
    CHECK_STR(q("SELECT views FROM mi WHERE dt = '2024-03-18' AND page = '/p0'"), "40");
    sl_batch_free(b);
    sl_rschema_free(rs);
}

TEST(new_table_with_mapped_types)
{
    struct sl_err err = {0};
    uint64_t n = 0;

    SKIP_WITHOUT_PG();
    struct sl_rschema *rs =
        mkschema("i:int,d:double,b:bool,s:string,dt:date,ts:ts,bin:binary,j:json,nul:null");
    struct sl_batch *b = sl_batch_new(rs, 0, 0);
    struct sl_value *r = row(b);
    r[0] = vint(1);
    r[1] = vdbl(2.5);
    r[2] = vbool(1);
    r[3] = vstr(b, "s");
    r[4] = vtyped(SL_V_DATE, 0);
    r[5] = vtyped(SL_V_TIMESTAMP, 1000000);
    r[6] = vbytes(b, SL_V_BINARY, "\x01\x02", 2);
    r[7] = vbytes(b, SL_V_JSON, "{\"a\":1}", 7);
    r[8] = vnull();
    struct sl_pgload_opts o = {.mode = SL_PGLOAD_APPEND, .run_id = "nt1"};
    struct sl_pgload_target t = tgt("public", "newt");
    struct sl_pgload *l = NULL;
    CHECK(sl_pgload_begin(&t, &o, rs, &l, &err) == SL_ECONFIG);
    CHECK_STR(err.msg, "load into public.newt: target public.newt does not exist"
                       " (write{create = true} creates it)");
    o.create = true;
    CHECK_OK(load("public", "newt", &o, rs, &b, NULL, 1, NULL, &n, &err), &err);
    CHECK(n == 1);
    CHECK_STR(q("SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', '"
                " ORDER BY attnum) FROM pg_attribute WHERE attrelid = 'newt'::regclass"
                " AND attnum > 0"),
              "i bigint, d double precision, b boolean, s text, dt date,"
              " ts timestamp with time zone, bin bytea, j jsonb, nul text");
    CHECK_STR(q("SELECT relpersistence FROM pg_class WHERE relname = 'newt'"), "p");
    CHECK_STR(q("SELECT * FROM newt"),
              "1|2.5|t|s|1970-01-01|1970-01-01 00:00:01+00|\\x0102|{\"a\": 1}|<null>");
    /* merge into a missing table: created, last row per key */
    struct sl_rschema *rs2 = mkschema("k:int,v:string");
    struct sl_batch *b2 = sl_batch_new(rs2, 0, 0);
    for (int i = 0; i < 4; i++) {
        struct sl_value *rr = row(b2);
        rr[0] = vint(i % 2);
        rr[1] = vstr(b2, i < 2 ? "early" : "late");
    }
    const char *keys[] = {"k"};
    struct sl_pgload_opts om = {
        .mode = SL_PGLOAD_MERGE, .keys = keys, .n_keys = 1, .create = true, .run_id = "nt2"};
    CHECK_OK(load("public", "newm", &om, rs2, &b2, NULL, 1, NULL, &n, &err), &err);
    CHECK(n == 2);
    CHECK_STR(q("SELECT k, v FROM newm ORDER BY k"), "0|late\n1|late");
    CHECK(n_staging("public") == 0);
    sl_batch_free(b);
    sl_batch_free(b2);
    sl_rschema_free(rs);
    sl_rschema_free(rs2);
}

TEST(add_columns)
{
    struct sl_err err = {0};
    uint64_t n = 0;

    SKIP_WITHOUT_PG();
    CHECK(sql("CREATE TABLE ac (id int)"));
    struct sl_rschema *rs = mkschema("id:int,Extra Col:string,when:ts");
    struct sl_batch *b = sl_batch_new(rs, 0, 0);
    struct sl_value *r = row(b);
    r[0] = vint(1);
    r[1] = vstr(b, "e");
    r[2] = vtyped(SL_V_TIMESTAMP, 0);
    struct sl_pgload_opts o = {.mode = SL_PGLOAD_APPEND, .run_id = "ac1"};
    CHECK(load("public", "ac", &o, rs, &b, NULL, 1, NULL, &n, &err) == SL_ECONFIG);
    CHECK(strstr(err.msg, "column \"Extra Col\" is not in target public.ac"
                          " (write{add_columns = true} adds it)") != NULL);
    o.add_columns = true;
    CHECK_OK(load("public", "ac", &o, rs, &b, NULL, 1, NULL, &n, &err), &err);
    CHECK_STR(q("SELECT id, \"Extra Col\", \"when\" FROM ac"), "1|e|1970-01-01 00:00:00+00");
    CHECK_STR(q("SELECT format_type(atttypid, atttypmod) FROM pg_attribute"
                " WHERE attrelid = 'ac'::regclass AND attname = 'when'"),
              "timestamp with time zone");
    /* the rows' names match the target's ignoring case when unambiguous */
    struct sl_rschema *rs2 = mkschema("ID:int");
    struct sl_batch *b2 = sl_batch_new(rs2, 0, 0);
    row(b2)[0] = vint(2);
    o.add_columns = false;
    o.run_id = "ac2";
    CHECK_OK(load("public", "ac", &o, rs2, &b2, NULL, 1, NULL, &n, &err), &err);
    CHECK_STR(q("SELECT count(*) FROM ac WHERE id = 2"), "1");
    sl_batch_free(b);
    sl_batch_free(b2);
    sl_rschema_free(rs);
    sl_rschema_free(rs2);
}

/* ---- Values ---- */

TEST(awkward_values_round_trip)
{
    struct sl_err err = {0};
    uint64_t n = 0;
    struct badlog bl = {0};

    SKIP_WITHOUT_PG();
    CHECK(sql("CREATE TABLE rt (id int PRIMARY KEY, s text, i bigint, d double precision,"
              " b boolean, dt date, ts timestamptz, tsn timestamp, bin bytea, j jsonb, n numeric,"
              " vc varchar(10), u uuid, r real, sm smallint, js json, ch char(3))"));
    struct sl_rschema *rs = mkschema("id:int,s:string,i:int,d:double,b:bool,dt:date,ts:ts,"
                                     "tsn:ts,bin:binary,j:json,n:string,vc:string,u:string,"
                                     "r:double,sm:int,js:string,ch:string");
    struct sl_batch *b = sl_batch_new(rs, 0, 0);
    const char *json_text = "{\"a\": [1, 2, \"x\\ty\"], \"\xc3\xa9\": null}";
    static const char *strs[] = {"tab\there",
                                 "nl\nx",
                                 "cr\rx",
                                 "back\\slash",
                                 "quote'\"q",
                                 "\\N",
                                 "",
                                 NULL,
                                 "h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x98\x80",
                                 "\\.",
                                 "a\\tb\x01\x7f",
                                 "end\\"};
    static const double dbls[] = {
        1.5,     -0.0, 1e300, 5e-324, NAN, INFINITY, -INFINITY, 0.1, 123456789012345678.0,
        -2.5e-7, 3,    1e15};
    static const int64_t ints[] = {INT64_MIN, INT64_MAX, 0, -1, 42, 1000000, 7, 8, 9, 10, 11, 12};
    static const int64_t tss[] = {
        0,     1704164645123456, -1,    253402300799999999, -62135596800000000, 1, 10, 100, 1000,
        10000, 100000,           999999};
    static const char *nums[] = {
        "12.340", "-0.5", "1e3", " 7 ", "NaN",       "123456789012345678901234567890.123",
        "0",      "+3",   ".5",  "5.",  "-Infinity", "1E-3"};
    for (int i = 0; i < 12; i++) {
        struct sl_value *r = row(b);
        r[0] = vint(i);
        r[1] = strs[i] ? vstr(b, strs[i]) : vnull();
        r[2] = vint(ints[i]);
        r[3] = vdbl(dbls[i]);
        r[4] = i % 3 == 2 ? vstr(b, i % 2 ? "yes" : "FALSE") : vbool(i % 2);
        r[5] = i == 3 ? vstr(b, "2024-02-29")
                      : vtyped(SL_V_DATE, i == 1   ? -719162
                                          : i == 2 ? 2932896
                                                   : i);
        r[6] = vtyped(SL_V_TIMESTAMP, tss[i]);
        r[7] = i == 4 ? vstr(b, "2024-05-01T10:00:00+02:00") : vtyped(SL_V_TIMESTAMP, tss[i]);
        r[8] = i == 5 ? vstr(b, "text") : vbytes(b, SL_V_BINARY, "\x00\xff\\\t", 4);
        r[9] = i == 6 ? vint(5) : vbytes(b, SL_V_JSON, json_text, strlen(json_text));
        r[10] = vstr(b, nums[i]);
        r[11] = vstr(b, i == 2 ? "abcdefghij   " : "\xc3\xa9t\xc3\xa9");
        r[12] = vstr(b, i == 1 ? "{A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11}"
                               : "a0eebc999c0b4ef8bb6d6bb9bd380a11");
        r[13] = vdbl(i == 1 ? 3.4e38 : 0.25);
        r[14] = vint(i == 1 ? -32768 : 32767);
        r[15] = vstr(b, "{\"k\": \"\\u0000\"}");
        r[16] = vstr(b, "ab");
    }
    struct sl_pgload_opts o = {.mode = SL_PGLOAD_APPEND, .run_id = "rt1"};
    CHECK_OK(load("public", "rt", &o, rs, &b, NULL, 1, &bl, &n, &err), &err);
    CHECK(n == 12);
    CHECKF(bl.n == 0, "%d bad rows, first: %s", bl.n, bl.reasons[0]);

    /* strings, byte for byte, with NULL apart from "" and "\N" */
    PGconn *pg = PQconnectdb(db_ci);
    PGresult *res = PQexec(pg, "SELECT s FROM rt ORDER BY id");
    CHECK(PQntuples(res) == 12);
    for (int i = 0; i < 12 && i < PQntuples(res); i++) {
        if (!strs[i]) {
            CHECKF(PQgetisnull(res, i, 0), "row %d should be NULL", i);
        } else {
            CHECKF(!PQgetisnull(res, i, 0) && strcmp(PQgetvalue(res, i, 0), strs[i]) == 0,
                   "row %d: \"%s\"", i, PQgetvalue(res, i, 0));
        }
    }
    PQclear(res);
    PQfinish(pg);
    CHECK_STR(q("SELECT i FROM rt WHERE id < 2 ORDER BY id"),
              "-9223372036854775808\n9223372036854775807");
    CHECK_STR(q("SELECT d FROM rt ORDER BY id"),
              "1.5\n-0\n1e+300\n5e-324\nNaN\nInfinity\n-Infinity\n0.1\n1.2345678901234568e+17\n"
              "-2.5e-07\n3\n1e+15");
    CHECK_STR(q("SELECT string_agg(b::text, ',' ORDER BY id) FROM rt"),
              "false,true,false,true,false,true,false,true,false,true,false,true");
    CHECK_STR(q("SELECT dt FROM rt WHERE id < 5 ORDER BY id"),
              "1970-01-01\n0001-01-01\n9999-12-31\n2024-02-29\n1970-01-05");
    CHECK_STR(q("SELECT ts, tsn FROM rt WHERE id IN (0, 1, 2, 3, 4, 5) ORDER BY id"),
              "1970-01-01 00:00:00+00|1970-01-01 00:00:00\n"
              "2024-01-02 03:04:05.123456+00|2024-01-02 03:04:05.123456\n"
              "1969-12-31 23:59:59.999999+00|1969-12-31 23:59:59.999999\n"
              "9999-12-31 23:59:59.999999+00|9999-12-31 23:59:59.999999\n"
              "0001-01-01 00:00:00+00|2024-05-01 08:00:00\n"
              "1970-01-01 00:00:00.000001+00|1970-01-01 00:00:00.000001");
    CHECK_STR(q("SELECT bin FROM rt WHERE id IN (4, 5) ORDER BY id"), "\\x00ff5c09\n\\x74657874");
    CHECK_STR(q("SELECT j FROM rt WHERE id IN (0, 6) ORDER BY id"),
              "{\"a\": [1, 2, \"x\\ty\"], \"\xc3\xa9\": null}\n5");
    CHECK_STR(
        q("SELECT string_agg(n::text, ',' ORDER BY id) FROM rt"),
        "12.340,-0.5,1000,7,NaN,123456789012345678901234567890.123,0,3,0.5,5,-Infinity,0.001");
    CHECK_STR(q("SELECT vc, length(vc) FROM rt WHERE id IN (0, 2) ORDER BY id"),
              "\xc3\xa9t\xc3\xa9|3\nabcdefghij|10");
    CHECK_STR(q("SELECT DISTINCT u FROM rt"), "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
    CHECK_STR(q("SELECT r, sm FROM rt WHERE id IN (0, 1) ORDER BY id"),
              "0.25|32767\n3.4e+38|-32768");
    CHECK_STR(q("SELECT js::text, ch FROM rt WHERE id = 0"), "{\"k\": \"\\u0000\"}|ab ");
    sl_batch_free(b);
    sl_rschema_free(rs);
}

/* For each type, strings either pass our checks and load as the server
 * stores them from text, or are bad rows exactly when the server refuses them. */
static void agree(int idx, const char *type, const char *const *vals, size_t n_vals)
{
    struct sl_err err = {0};
    struct badlog bl = {0};
    uint64_t n = 0;
    char text[512], table[32];

    snprintf(table, sizeof table, "agree_%d", idx);
    snprintf(text, sizeof text, "CREATE TABLE %s (id int, x %s)", table, type);
    CHECK(sql(text));
    struct sl_rschema *rs = mkschema("id:int,x:string");
    struct sl_batch *b = sl_batch_new(rs, 0, 0);
    for (size_t i = 0; i < n_vals; i++) {
        struct sl_value *r = row(b);
        r[0] = vint((int64_t)i);
        r[1] = vstr(b, vals[i]);
    }
    struct sl_pgload_opts o = {.mode = SL_PGLOAD_APPEND, .run_id = table};
    CHECK_OK(load("public", table, &o, rs, &b, NULL, 1, &bl, &n, &err), &err);
    PGconn *pg = PQconnectdb(db_ci);
    PGresult *set = PQexec(pg, "SET extra_float_digits = 1");
    PQclear(set);
    /* assignment, as COPY does it (an explicit cast would truncate varchar) */
    snprintf(text, sizeof text, "CREATE TABLE %s_chk (x %s)", table, type);
    CHECK(sql(text));
    snprintf(text, sizeof text, "INSERT INTO %s_chk VALUES ($1) RETURNING x::text", table);
    for (size_t i = 0; i < n_vals; i++) {
        bool ours = true;
        for (int k = 0; k < bl.n && k < 64; k++)
            ours = ours && bl.rows[k] != (uint32_t)i;
        const char *param[1] = {vals[i]};
        PGresult *r = PQexecParams(pg, text, 1, NULL, param, NULL, NULL, 0);
        bool server = PQresultStatus(r) == PGRES_TUPLES_OK;
        CHECKF(ours == server, "%s \"%s\": we %s, the server %s", type, vals[i],
               ours ? "accept" : "refuse", server ? "accepts" : "refuses");
        if (ours && server) {
            char sel[128];
            snprintf(sel, sizeof sel, "SELECT x::text FROM %s WHERE id = %zu", table, i);
            PGresult *got = PQexec(pg, sel);
            CHECKF(PQntuples(got) == 1 && strcmp(PQgetvalue(got, 0, 0), PQgetvalue(r, 0, 0)) == 0,
                   "%s \"%s\": stored \"%s\", the server stores \"%s\"", type, vals[i],
                   PQntuples(got) == 1 ? PQgetvalue(got, 0, 0) : "?", PQgetvalue(r, 0, 0));
            PQclear(got);
        }
        PQclear(r);
    }
    PQfinish(pg);
    sl_batch_free(b);
    sl_rschema_free(rs);
}

#define AGREE(idx, type, ...)                                                                      \
    do {                                                                                           \
        static const char *const v_[] = {__VA_ARGS__};                                             \
        agree(idx, type, v_, SL_ARRAY_LEN(v_));                                                    \
    } while (0)

TEST(checks_agree_with_the_server)
{
    SKIP_WITHOUT_PG();
    AGREE(1, "numeric(2,3)", "0.05", "0.5", "0.0995", "0.0994", "-0.099", "0", "0.00001", "1e-3",
          "NaN", "Infinity", "0.0004", "0.0005");
    AGREE(2, "numeric(3,-2)", "99949", "99950", "12345", "-99949", "0.4", "50", "49", "1e4",
          "123456");
    AGREE(3, "numeric(4,1)", "999.94", "999.95", "-999.9", "1234", "12.345", "1e2", " 7 ", "abc",
          "1e1001", "1.2.3", "+.5", "-.", ".", "5.", "1E+2", "-0.04", "9e-1000", "");
    AGREE(4, "numeric", "1e1000", "1e-1000", "Infinity", "-inf", "NaN", "nan", "  1  ", "+inf",
          "1e", "e1", "12345678901234567890.12345678901234567890");
    AGREE(5, "smallint", "32767", "32768", "-32768", "-32769", " 12 ", "+5", "1e3", "0x10", "12 3",
          "", " ", "-0", "+", "1.0");
    AGREE(6, "integer", "2147483647", "2147483648", "-2147483648", "007", "\t9\n");
    AGREE(7, "bigint", "9223372036854775807", "9223372036854775808", "-9223372036854775808",
          "-9223372036854775809", "99999999999999999999");
    AGREE(8, "real", "3.4e38", "3.5e38", "1e-46", "1e-40", "inf", "-Infinity", "NaN", "0x1p3", "1e",
          "  2.5  ", "0.1", "16777217", "-0");
    AGREE(9, "double precision", "1e308", "1e309", "1e-400", "4.9e-324", "nan", "+inf",
          "0.30000000000000004", "1.7976931348623157e308", "-1.5E-7", "infinity", "- 1");
    AGREE(10, "uuid", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "{a0eebc999c0b4ef8bb6d6bb9bd380a11}",
          "a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11", "a0eebc99-9c0b4ef8-bb6d6bb9-bd380a11",
          "a0eebc999c0b4ef8bb6d6bb9bd380a1", "{a0eebc999c0b4ef8bb6d6bb9bd380a11",
          " a0eebc999c0b4ef8bb6d6bb9bd380a11", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11-",
          "A0EEBC999C0B4EF8BB6D6BB9BD380A11", "a0eebc9-99c0b-4ef8-bb6d-6bb9bd380a11");
    AGREE(11, "varchar(3)", "abc", "abcd", "ab  ", "abc   ", "abcd ", "\xc3\xa9\xc3\xa9\xc3\xa9",
          "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", "",
          "\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80 ");
    AGREE(12, "char(2)", "ab", "abc", "a  ", "  ", "", "a");
    AGREE(13, "jsonb", "1", "[1,", "{\"a\":1}", "\"\\u0000\"", "nul", " [] ", "{\"a\":1,\"a\":2}",
          "\"\\ud800\"", "\"\\ud83d\\ude00\"", "-0", "1.5e3", "\"\t\"");
    AGREE(14, "json", "\"\\u0000\"", "[1,2]", "{", "true", " null ");
}

TEST(bad_values_become_bad_rows)
{
    struct sl_err err = {0};
    uint64_t n = 0, n_sent = 0;
    struct badlog bl = {0};

    SKIP_WITHOUT_PG();
    CHECK(sql("CREATE TABLE bv (id int NOT NULL, small int, amount numeric(5,2), s text,"
              " code varchar(4), doc jsonb, day date, flag boolean, u uuid, r real, f int2)"));
    struct sl_rschema *rs =
        mkschema("id:int,small:int,amount:string,s:string,code:string,doc:string,day:string,"
                 "flag:string,u:string,r:double,f:double");
    struct sl_batch *b = sl_batch_new(rs, 0, 0);
    /* row i breaks column bad[i] (0 = none) */
    enum { N = 16 };
    for (int i = 0; i < N; i++) {
        struct sl_value *r = row(b);
        r[0] = vint(i);
        r[1] = vint(i == 1 ? 3000000000LL : i);
        r[2] = vstr(b, i == 2 ? "abc" : i == 3 ? "1234.5" : i == 4 ? "999.995" : "999.994");
        r[3] = i == 5   ? vbytes(b, SL_V_STRING, "a\0b", 3)
               : i == 6 ? vstr(b, "\xc3\x28")
                        : vstr(b, "ok");
        r[4] = vstr(b, i == 7 ? "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                              : "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9");
        r[5] = vstr(b, i == 8 ? "{\"a\": }" : i == 9 ? "\"\\u0000\"" : "[1]");
        r[6] = vstr(b, i == 10 ? "2023-02-29" : "2023-02-28");
        r[7] = vstr(b, i == 11 ? "maybe" : "on");
        r[8] = vstr(b, i == 12 ? "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1"
                               : "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
        r[9] = vdbl(i == 13 ? 1e39 : 1.0);
        r[10] = vdbl(i == 14 ? 2.5 : 1.0);
        if (i == 15)
            r[0] = vnull();
    }
    int expect_col[N] = {0, 2, 3, 3, 3, 4, 4, 5, 6, 6, 7, 8, 9, 10, 11, 1};
    struct sl_pgload_opts o = {.mode = SL_PGLOAD_APPEND, .run_id = "bv1"};
    struct sl_pgload_target t = tgt("public", "bv");
    struct sl_pgload *l = NULL;
    struct sl_pgload_stream *s = NULL;
    CHECK_OK(sl_pgload_begin(&t, &o, rs, &l, &err), &err);
    CHECK_OK(sl_pgload_stream_open(l, &s, &err), &err);
    CHECK_OK(sl_pgload_stream_write(s, b, NULL, on_bad, &bl, &n_sent, &err), &err);
    CHECK(n_sent == 1);
    CHECK_OK(sl_pgload_stream_commit(s, &err), &err);
    CHECK_OK(sl_pgload_publish(l, &n, &err), &err);
    sl_pgload_free(l);
    CHECK(n == 1);
    CHECK(bl.n == N - 1);
    for (int i = 0; i < bl.n && i < N - 1; i++) {
        CHECKF(bl.rows[i] == (uint32_t)i + 1, "bad %d is row %u", i, bl.rows[i]);
        CHECKF(bl.cols[i] == expect_col[i + 1], "row %u: column %d, not %d (%s)", bl.rows[i],
               bl.cols[i], expect_col[i + 1], bl.reasons[i]);
    }
    CHECK_STR(bl.reasons[0], "column \"small\" is integer: 3000000000 is out of range");
    CHECK_STR(bl.reasons[1], "column \"amount\" is numeric(5,2): \"abc\" is not a number");
    CHECK_STR(bl.reasons[2],
              "column \"amount\" is numeric(5,2): \"1234.5\" has more than 3 digits before the"
              " decimal point");
    CHECK_STR(bl.reasons[4], "column \"s\" is text: the value holds a NUL byte");
    CHECK_STR(bl.reasons[5], "column \"s\" is text: the value is not valid UTF-8 (byte 1)");
    CHECK_STR(bl.reasons[6],
              "column \"code\" is character varying(4): 5 characters is longer than 4");
    CHECKF(strncmp(bl.reasons[7], "column \"doc\" is jsonb: invalid JSON: ", 37) == 0, "%s",
           bl.reasons[7]);
    CHECK_STR(bl.reasons[9], "column \"day\" is date: date out of range: \"2023-02-29\"");
    CHECK_STR(bl.reasons[10], "column \"flag\" is boolean: \"maybe\" is not a boolean");
    CHECK_STR(bl.reasons[12], "column \"r\" is real: 1e+39 is out of range");
    CHECK_STR(bl.reasons[13], "column \"f\" is smallint: 2.5 is not a whole number");
    CHECK_STR(bl.reasons[14], "column \"id\" is NOT NULL in the target: the value is null");
    CHECK_STR(q("SELECT id, small, amount, s, code, doc, day, flag, r, f FROM bv"),
              "0|0|999.99|ok|\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9|[1]|2023-02-28|t|1|1");

    /* without a callback a bad row is an error; a callback can stop the write */
    struct badlog stop = {.stop_at = 2};
    o.run_id = "bv2";
    CHECK_OK(sl_pgload_begin(&t, &o, rs, &l, &err), &err);
    CHECK_OK(sl_pgload_stream_open(l, &s, &err), &err);
    CHECK(sl_pgload_stream_write(s, b, NULL, NULL, NULL, &n_sent, &err) == SL_EPARSE);
    CHECK(strstr(err.msg, "row 1: column \"small\"") != NULL);
    CHECK(sl_pgload_stream_write(s, b, NULL, on_bad, &stop, &n_sent, &err) == SL_ECANCELLED);
    CHECK(stop.n == 2);
    sl_pgload_stream_abort(s);
    /* rows were sent by an aborted stream: publishing would lose them */
    CHECK(sl_pgload_publish(l, &n, &err) == SL_ECONFIG);
    CHECK(strstr(err.msg, "aborted") != NULL);
    sl_pgload_free(l);
    CHECK(ql("SELECT count(*) FROM bv") == 1);
    CHECK(n_staging("public") == 0);
    sl_batch_free(b);
    sl_rschema_free(rs);
}

TEST(schema_mismatch_fails_before_rows_move)
{
    struct sl_err err = {0};
    struct sl_pgload *l = NULL;

    SKIP_WITHOUT_PG();
    CHECK(sql("CREATE TABLE sm (id int, day date, gen int GENERATED ALWAYS AS (id * 2) STORED,"
              " must text NOT NULL)"));
    CHECK(sql("INSERT INTO sm (id, day, must) VALUES (1, '2020-01-01', 'x')"));
    struct sl_pgload_target t = tgt("public", "sm");
    struct sl_pgload_opts o = {.mode = SL_PGLOAD_APPEND, .run_id = "sm1"};

    struct sl_rschema *rs = mkschema("id:int,day:bool,must:string");
    CHECK(sl_pgload_begin(&t, &o, rs, &l, &err) == SL_ECONFIG && !l);
    CHECK_STR(err.msg, "load into public.sm: column \"day\" is boolean in the rows but date in"
                       " target public.sm: a boolean cannot go into date");
    sl_rschema_free(rs);

    rs = mkschema("id:int,gen:int,must:string");
    CHECK(sl_pgload_begin(&t, &o, rs, &l, &err) == SL_ECONFIG);
    CHECK(strstr(err.msg, "column \"gen\" of target public.sm is generated") != NULL);
    sl_rschema_free(rs);

    rs = mkschema("id:int");
    CHECK(sl_pgload_begin(&t, &o, rs, &l, &err) == SL_ECONFIG);
    CHECK(strstr(err.msg, "column \"must\" of target public.sm is NOT NULL without a default") !=
          NULL);
    sl_rschema_free(rs);

    rs = mkschema("id:int,must:string");
    o.mode = SL_PGLOAD_MERGE;
    CHECK(sl_pgload_begin(&t, &o, rs, &l, &err) == SL_ECONFIG);
    CHECK(strstr(err.msg, "merge needs keys") != NULL);
    const char *keys[] = {"nope"};
    o.keys = keys;
    o.n_keys = 1;
    CHECK(sl_pgload_begin(&t, &o, rs, &l, &err) == SL_ECONFIG);
    CHECK(strstr(err.msg, "merge key \"nope\" is not a column of the rows") != NULL);
    o.mode = SL_PGLOAD_APPEND;
    o.run_id = "";
    CHECK(sl_pgload_begin(&t, &o, rs, &l, &err) == SL_ECONFIG);
    sl_rschema_free(rs);

    rs = mkschema("id:int,must:string,_sluice_seq:int");
    o.run_id = "sm2";
    o.mode = SL_PGLOAD_MERGE;
    o.keys = (const char *const[]){"id"};
    CHECK(sl_pgload_begin(&t, &o, rs, &l, &err) == SL_ECONFIG);
    CHECK(strstr(err.msg, "reserved") != NULL);
    o.mode = SL_PGLOAD_APPEND;
    sl_rschema_free(rs);

    /* a view is not a table; a missing schema is named */
    CHECK(sql("CREATE VIEW smv AS SELECT 1 AS id"));
    rs = mkschema("id:int");
    t.table = (char *)"smv";
    CHECK(sl_pgload_begin(&t, &o, rs, &l, &err) == SL_ECONFIG);
    CHECK(strstr(err.msg, "is not a table") != NULL);
    t.schema = (char *)"no_such_schema";
    t.table = (char *)"x";
    o.create = true;
    CHECK(sl_pgload_begin(&t, &o, rs, &l, &err) == SL_ECONFIG);
    CHECK(strstr(err.msg, "schema \"no_such_schema\" does not exist") != NULL);
    sl_rschema_free(rs);

    /* a batch with other columns than begin's is refused */
    rs = mkschema("id:int,must:string");
    struct sl_rschema *other = mkschema("id:int,other:string");
    struct sl_batch *b = sl_batch_new(other, 0, 0);
    row(b)[0] = vint(1);
    t = tgt("public", "sm");
    o.create = false;
    struct sl_pgload_stream *s = NULL;
    CHECK_OK(sl_pgload_begin(&t, &o, rs, &l, &err), &err);
    CHECK_OK(sl_pgload_stream_open(l, &s, &err), &err);
    CHECK(sl_pgload_stream_write(s, b, NULL, NULL, NULL, NULL, &err) == SL_ECONFIG);
    sl_pgload_stream_abort(s);
    sl_pgload_free(l);
    sl_batch_free(b);
    sl_rschema_free(other);
    sl_rschema_free(rs);
    CHECK_STR(q("SELECT id, day, gen, must FROM sm"), "1|2020-01-01|2|x");
    CHECK(n_staging("public") == 0);
}

TEST(quoted_identifiers)
{
    struct sl_err err = {0};
    uint64_t n = 0;

    SKIP_WITHOUT_PG();
    CHECK(sql("CREATE SCHEMA \"My Schema\""));
    CHECK(sql("CREATE TABLE \"My Schema\".\"select\" (\"select\" int, \"My Col\" text,"
              " \"a\"\"b\" text, \"from\" date)"));
    struct sl_pgload_target t;
    CHECK_OK(sl_pgload_target_parse("postgres:\"My Schema\".\"select\"", &t, &err), &err);
    struct sl_rschema *rs = sl_rschema_new(4);
    sl_rschema_set(rs, 0, "select", SL_V_INT, &err);
    sl_rschema_set(rs, 1, "My Col", SL_V_STRING, &err);
    sl_rschema_set(rs, 2, "a\"b", SL_V_STRING, &err);
    sl_rschema_set(rs, 3, "from", SL_V_DATE, &err);
    struct sl_batch *b = sl_batch_new(rs, 0, 0);
    struct sl_value *r = row(b);
    r[0] = vint(1);
    r[1] = vstr(b, "c");
    r[2] = vstr(b, "q");
    r[3] = vtyped(SL_V_DATE, 1);
    const char *keys[] = {"select", "a\"b"};
    struct sl_pgload_opts o = {
        .mode = SL_PGLOAD_MERGE, .keys = keys, .n_keys = 2, .run_id = "q\"1 x", .job = "job \"q\""};
    for (int pass = 0; pass < 2; pass++) {
        struct sl_pgload *l = NULL;
        struct sl_pgload_stream *s = NULL;
        CHECK_OK(sl_pgload_begin(&t, &o, rs, &l, &err), &err);
        CHECK_OK(sl_pgload_stream_open(l, &s, &err), &err);
        CHECK_OK(sl_pgload_stream_write(s, b, NULL, NULL, NULL, NULL, &err), &err);
        CHECK_OK(sl_pgload_stream_commit(s, &err), &err);
        CHECK_OK(sl_pgload_publish(l, &n, &err), &err);
        sl_pgload_free(l);
        o.mode = SL_PGLOAD_OVERWRITE;
    }
    CHECK_STR(
        q("SELECT \"select\", \"My Col\", \"a\"\"b\", \"from\" FROM \"My Schema\".\"select\""),
        "1|c|q|1970-01-02");
    CHECK(n_staging("My Schema") == 0);
    sl_pgload_target_cleanup(&t);

    /* new tables keep the rows' names as they are */
    t = tgt("My Schema", "New \"T\"");
    struct sl_pgload_opts oc = {
        .mode = SL_PGLOAD_APPEND, .create = true, .add_columns = true, .run_id = "q2"};
    CHECK_OK(load("My Schema", "New \"T\"", &oc, rs, &b, NULL, 1, NULL, &n, &err), &err);
    CHECK_STR(q("SELECT \"a\"\"b\" FROM \"My Schema\".\"New \"\"T\"\"\""), "q");
    sl_batch_free(b);
    sl_rschema_free(rs);
}

TEST(injection_in_a_table_name_is_harmless)
{
    struct sl_err err = {0};
    struct sl_pgload_target t;
    uint64_t n = 0;

    SKIP_WITHOUT_PG();
    CHECK(sql("CREATE TABLE x (id int); INSERT INTO x VALUES (1)"));
    CHECK(sl_pgload_target_parse("postgres:public.t; DROP TABLE x", &t, &err) == SL_ECONFIG);
    CHECK_OK(sl_pgload_target_parse("postgres:\"t; DROP TABLE x; --\"", &t, &err), &err);
    CHECK_STR(t.table, "t; DROP TABLE x; --");
    struct sl_rschema *rs = sl_rschema_new(1);
    sl_rschema_set(rs, 0, "id\"); DROP TABLE x; --", SL_V_INT, &err);
    struct sl_batch *b = sl_batch_new(rs, 0, 0);
    row(b)[0] = vint(9);
    struct sl_pgload_opts o = {.mode = SL_PGLOAD_APPEND,
                               .create = true,
                               .run_id = "'; DROP TABLE x; --",
                               .job = "'); DROP TABLE x; --"};
    CHECK_OK(load(t.schema, t.table, &o, rs, &b, NULL, 1, NULL, &n, &err), &err);
    CHECK_STR(q("SELECT count(*) FROM x"), "1");
    CHECK_STR(q("SELECT \"id\"\"); DROP TABLE x; --\" FROM \"t; DROP TABLE x; --\""), "9");
    CHECK(ql("SELECT count(*) FROM pg_class WHERE relkind = 'r' AND relnamespace ="
             " 'public'::regnamespace AND relname = 't; DROP TABLE x; --'") == 1);
    sl_pgload_target_cleanup(&t);
    sl_batch_free(b);
    sl_rschema_free(rs);
}

/* ---- Failure and concurrency ---- */

TEST(killed_load_leaves_target_and_is_cleaned_up)
{
    struct sl_err err = {0};
    uint64_t n = 0;

    SKIP_WITHOUT_PG();
    CHECK(sql("CREATE SCHEMA crash; CREATE TABLE crash.t (id int, v text)"));
    CHECK(sql("INSERT INTO crash.t VALUES (1, 'before')"));
    struct sl_rschema *rs = mkschema("id:int,v:string");
    struct sl_batch *b = sl_batch_new(rs, 0, 0);
    for (int i = 0; i < 100; i++) {
        struct sl_value *r = row(b);
        r[0] = vint(i);
        r[1] = vstr(b, "during");
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        struct sl_pgload_target t = tgt("crash", "t");
        struct sl_pgload_opts o = {
            .mode = SL_PGLOAD_OVERWRITE, .run_id = "crashed-run", .job = "crashjob"};
        struct sl_pgload *l = NULL;
        struct sl_pgload_stream *s = NULL, *s2 = NULL;
        if (sl_pgload_begin(&t, &o, rs, &l, &err) != SL_OK ||
            sl_pgload_stream_open(l, &s, &err) != SL_OK ||
            sl_pgload_stream_write(s, b, NULL, NULL, NULL, NULL, &err) != SL_OK ||
            sl_pgload_stream_commit(s, &err) != SL_OK ||
            sl_pgload_stream_open(l, &s2, &err) != SL_OK ||
            sl_pgload_stream_write(s2, b, NULL, NULL, NULL, NULL, &err) != SL_OK)
            _exit(3);
        _exit(9); /* no cleanup: connections die with the process */
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == 9, "child status %d", status);
    CHECK_STR(q("SELECT id, v FROM crash.t"), "1|before");
    CHECK(n_staging("crash") == 1);
    /* wait until the server has noticed the sessions are gone */
    for (int i = 0; i < 100; i++) {
        char text[256];
        snprintf(text, sizeof text,
                 "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'sluice load"
                 " crashjob' AND datname = '%s'",
                 db_name);
        if (ql(text) == 0)
            break;
        usleep(50 * 1000);
    }
    /* a live load of another run in the same schema: its staging table survives */
    struct sl_pgload_target t = tgt("crash", "t");
    struct sl_pgload_opts live_o = {.mode = SL_PGLOAD_APPEND, .run_id = "live-run"};
    struct sl_pgload *live = NULL;
    CHECK_OK(sl_pgload_begin(&t, &live_o, rs, &live, &err), &err);
    CHECK(n_staging("crash") == 1); /* the crashed one is gone, the live one is there */
    struct sl_pgload_opts o = {.mode = SL_PGLOAD_APPEND, .run_id = "next-run"};
    CHECK_OK(load("crash", "t", &o, rs, &b, NULL, 1, NULL, &n, &err), &err);
    CHECK(n_staging("crash") == 1);
    CHECK(ql("SELECT count(*) FROM crash.t") == 101);
    sl_pgload_free(live);
    CHECK(n_staging("crash") == 0);
    sl_batch_free(b);
    sl_rschema_free(rs);
}

TEST(unreachable_server)
{
    struct sl_err err = {0};
    struct sl_pgload_target t = {SL_PGLOAD_POSTGRES,
                                 (char *)"host=127.0.0.1 port=1 password=hunter2 connect_timeout=2",
                                 (char *)"public", (char *)"t"};
    struct sl_rschema *rs = mkschema("id:int");
    struct sl_pgload_opts o = {.mode = SL_PGLOAD_APPEND, .run_id = "u1"};
    struct sl_pgload *l = NULL;
    CHECK(sl_pgload_begin(&t, &o, rs, &l, &err) == SL_ETRANSIENT);
    CHECK(l == NULL);
    CHECKF(strstr(err.msg, "load into public.t: could not connect (host=127.0.0.1 port=1") != NULL,
           "%s", err.msg);
    CHECK(strstr(err.msg, "hunter2") == NULL);
    t.dialect = SL_PGLOAD_REDSHIFT;
    CHECK(sl_pgload_begin(&t, &o, rs, &l, &err) == SL_ECONFIG);
    sl_rschema_free(rs);
}

TEST(loads_of_one_run_do_not_block_each_other)
{
    struct sl_err err = {0};
    SKIP_WITHOUT_PG();
    CHECK(sql("CREATE TABLE one_a (id int); CREATE TABLE one_b (id int)"));
    struct sl_rschema *rs = mkschema("id:int");
    struct sl_batch *b = sl_batch_new(rs, 0, 0);
    row(b)[0] = vint(1);
    struct sl_pgload_opts o = {.mode = SL_PGLOAD_APPEND, .run_id = "same-run"};
    struct sl_pgload_target ta = tgt("public", "one_a"), tb = tgt("public", "one_b");
    struct sl_pgload *la = NULL, *lb = NULL;
    struct sl_pgload_stream *sa = NULL, *sb = NULL;
    CHECK_OK(sl_pgload_begin(&ta, &o, rs, &la, &err), &err);
    CHECK_OK(sl_pgload_begin(&tb, &o, rs, &lb, &err), &err);
    CHECK(n_staging("public") == 2);
    CHECK_OK(sl_pgload_stream_open(la, &sa, &err), &err);
    CHECK_OK(sl_pgload_stream_open(lb, &sb, &err), &err);
    CHECK_OK(sl_pgload_stream_write(sa, b, NULL, NULL, NULL, NULL, &err), &err);
    CHECK_OK(sl_pgload_stream_write(sb, b, NULL, NULL, NULL, NULL, &err), &err);
    CHECK_OK(sl_pgload_stream_commit(sa, &err), &err);
    CHECK_OK(sl_pgload_stream_commit(sb, &err), &err);
    CHECK_OK(sl_pgload_publish(lb, NULL, &err), &err);
    /* abort: the staging table goes, the target stays */
    sl_pgload_abort(la);
    sl_pgload_abort(la);
    CHECK(sl_pgload_publish(la, NULL, &err) == SL_ECONFIG);
    sl_pgload_free(la);
    sl_pgload_free(lb);
    sl_pgload_free(NULL);
    sl_pgload_stream_abort(NULL);
    CHECK_STR(q("SELECT (SELECT count(*) FROM one_a), (SELECT count(*) FROM one_b)"), "0|1");
    CHECK(n_staging("public") == 0);
    sl_batch_free(b);
    sl_rschema_free(rs);
}

struct merger {
    int from, to;
    const char *val;
    const char *run_id;
    pthread_barrier_t *barrier;
    int rc;
    char msg[512];
    enum sl_pgload_mode mode;
    const char *table;
};

static void *merge_thread(void *arg)
{
    struct merger *m = arg;
    struct sl_err err = {0};
    struct sl_rschema *rs = mkschema("k:int,v:string");
    struct sl_batch *b1 = sl_batch_new(rs, 0, 0), *b2 = sl_batch_new(rs, 0, 0);
    for (int k = m->from; k <= m->to; k++) {
        struct sl_batch *b = k % 2 ? b1 : b2;
        struct sl_value *r = row(b);
        r[0] = vint(k);
        r[1] = vstr(b, m->val);
    }
    const char *keys[] = {"k"};
    struct sl_pgload_opts o = {.mode = m->mode, .keys = keys, .n_keys = 1, .run_id = m->run_id};
    struct sl_pgload_target t = tgt("public", m->table);
    struct sl_pgload *l = NULL;
    struct sl_pgload_stream *s1 = NULL, *s2 = NULL;
    int rc = sl_pgload_begin(&t, &o, rs, &l, &err);
    if (rc == SL_OK)
        rc = sl_pgload_stream_open(l, &s1, &err);
    if (rc == SL_OK)
        rc = sl_pgload_stream_open(l, &s2, &err);
    if (rc == SL_OK)
        rc = sl_pgload_stream_write(s1, b1, NULL, NULL, NULL, NULL, &err);
    if (rc == SL_OK)
        rc = sl_pgload_stream_write(s2, b2, NULL, NULL, NULL, NULL, &err);
    if (rc == SL_OK)
        rc = sl_pgload_stream_commit(s1, &err);
    else
        sl_pgload_stream_abort(s1);
    if (rc == SL_OK)
        rc = sl_pgload_stream_commit(s2, &err);
    else
        sl_pgload_stream_abort(s2);
    pthread_barrier_wait(m->barrier);
    if (rc == SL_OK)
        rc = sl_pgload_publish(l, NULL, &err);
    sl_pgload_free(l);
    m->rc = rc;
    snprintf(m->msg, sizeof m->msg, "%s", err.msg);
    sl_batch_free(b1);
    sl_batch_free(b2);
    sl_rschema_free(rs);
    return NULL;
}

TEST(concurrent_merges)
{
    SKIP_WITHOUT_PG();
    CHECK(sql("CREATE TABLE cm (k int, v text)"));
    CHECK(sql("INSERT INTO cm SELECT g, 'old' FROM generate_series(1, 1000, 3) g"));
    for (int round = 0; round < 3; round++) {
        pthread_barrier_t barrier;
        pthread_barrier_init(&barrier, NULL, 2);
        char ra[32], rb[32];
        snprintf(ra, sizeof ra, "cm-a-%d", round);
        snprintf(rb, sizeof rb, "cm-b-%d", round);
        struct merger a = {1, 600, "a", ra, &barrier, -1, "", SL_PGLOAD_MERGE, "cm"};
        struct merger b = {400, 1000, "b", rb, &barrier, -1, "", SL_PGLOAD_MERGE, "cm"};
        pthread_t ta, tb;
        pthread_create(&ta, NULL, merge_thread, &a);
        pthread_create(&tb, NULL, merge_thread, &b);
        pthread_join(ta, NULL);
        pthread_join(tb, NULL);
        pthread_barrier_destroy(&barrier);
        CHECKF(a.rc == SL_OK, "a: %s", a.msg);
        CHECKF(b.rc == SL_OK, "b: %s", b.msg);
        CHECK_STR(q("SELECT count(*), count(DISTINCT k), min(k), max(k) FROM cm"),
                  "1000|1000|1|1000");
        CHECK_STR(q("SELECT string_agg(DISTINCT v, ',') FROM cm WHERE k < 400"), "a");
        CHECK_STR(q("SELECT string_agg(DISTINCT v, ',') FROM cm WHERE k > 600"), "b");
        /* the overlap comes wholly from whichever merge published last */
        CHECK(ql("SELECT count(DISTINCT v) FROM cm WHERE k BETWEEN 400 AND 600") == 1);
    }
    CHECK(n_staging("public") == 0);
}

TEST(concurrent_overwrites)
{
    SKIP_WITHOUT_PG();
    CHECK(sql("CREATE TABLE co (k int PRIMARY KEY, v text NOT NULL DEFAULT 'd')"));
    CHECK(sql("CREATE INDEX co_v ON co (v); INSERT INTO co VALUES (1, 'old')"));
    for (int round = 0; round < 3; round++) {
        pthread_barrier_t barrier;
        pthread_barrier_init(&barrier, NULL, 2);
        char ra[32], rb[32];
        snprintf(ra, sizeof ra, "co-a-%d", round);
        snprintf(rb, sizeof rb, "co-b-%d", round);
        struct merger a = {1, 300, "a", ra, &barrier, -1, "", SL_PGLOAD_OVERWRITE, "co"};
        struct merger b = {200, 700, "b", rb, &barrier, -1, "", SL_PGLOAD_OVERWRITE, "co"};
        pthread_t ta, tb;
        pthread_create(&ta, NULL, merge_thread, &a);
        pthread_create(&tb, NULL, merge_thread, &b);
        pthread_join(ta, NULL);
        pthread_join(tb, NULL);
        pthread_barrier_destroy(&barrier);
        CHECKF(a.rc == SL_OK, "a: %s", a.msg);
        CHECKF(b.rc == SL_OK, "b: %s", b.msg);
        /* one load's rows, whole */
        const char *got = q("SELECT string_agg(DISTINCT v, ','), count(*), min(k), max(k) FROM co");
        CHECKF(strcmp(got, "a|300|1|300") == 0 || strcmp(got, "b|501|200|700") == 0, "%s", got);
        CHECK_STR(q("SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes"
                    " WHERE tablename = 'co'"),
                  "co_pkey,co_v");
    }
    CHECK(n_staging("public") == 0);
}

TEST(many_rows_over_two_streams)
{
    struct sl_err err = {0};
    uint64_t n = 0;
    enum { ROWS = 40000 };

    SKIP_WITHOUT_PG();
    CHECK(sql("CREATE TABLE big (ts timestamptz, a bigint, b bigint, s text, t text)"));
    struct sl_rschema *rs = mkschema("ts:ts,a:int,b:int,s:string,t:string");
    struct sl_batch *bs[2];
    for (int k = 0; k < 2; k++) {
        bs[k] = sl_batch_new(rs, ROWS, (size_t)64 << 20);
        for (int i = 0; i < ROWS; i++) {
            struct sl_value *r = row(bs[k]);
            char txt[64];
            r[0] = vtyped(SL_V_TIMESTAMP, 1700000000000000LL + (int64_t)i * 1000003);
            r[1] = vint((int64_t)k * ROWS + i);
            r[2] = vint(-(int64_t)i * 7919);
            snprintf(txt, sizeof txt, "row %d of stream %d \\ with\ttab", i, k);
            r[3] = vstr(bs[k], txt);
            r[4] = vstr(bs[k], "the quick brown fox jumps over the lazy dog");
        }
    }
    struct sl_pgload_opts o = {.mode = SL_PGLOAD_APPEND, .run_id = "big1"};
    CHECK_OK(load("public", "big", &o, rs, bs, NULL, 2, NULL, &n, &err), &err);
    CHECK(n == 2 * ROWS);
    char expect[256], longest[64];
    int64_t sum = 0;
    for (int i = 0; i < ROWS; i++)
        sum -= 2 * (int64_t)i * 7919;
    int max_len =
        snprintf(longest, sizeof longest, "row %d of stream %d \\ with\ttab", ROWS - 1, 1);
    snprintf(expect, sizeof expect, "%d|%d|%lld|2023-11-14 22:13:20+00|%d", 2 * ROWS, 2 * ROWS,
             (long long)sum, max_len);
    CHECK_STR(q("SELECT count(*), count(DISTINCT a), sum(b), min(ts), max(length(s))"
                " FROM big"),
              expect);
    CHECK_STR(q("SELECT s FROM big WHERE a = 40001"), "row 1 of stream 1 \\ with\ttab");
    sl_batch_free(bs[0]);
    sl_batch_free(bs[1]);
    sl_rschema_free(rs);
}

TEST(target_is_catalog)
{
    const char *env = getenv("SLUICE_CATALOG");
    char *saved = env ? sl_strdup(env) : NULL;
    struct sl_pgload_target t = {SL_PGLOAD_POSTGRES, (char *)"", (char *)"s", (char *)"t"};

    unsetenv("SLUICE_CATALOG");
    CHECK(sl_pgload_target_is_catalog(&t)); /* "" is the embedded catalog then */
    setenv("SLUICE_CATALOG", "postgres://u@h:5432/cat", 1);
    CHECK(sl_pgload_target_is_catalog(&t));
    t.conninfo = (char *)"postgres://u@h:5432/cat";
    CHECK(sl_pgload_target_is_catalog(&t));
    t.conninfo = (char *)"postgres://u@h:5432/other";
    CHECK(!sl_pgload_target_is_catalog(&t));
    t.conninfo = (char *)"postgres://u@h/cat"; /* another spelling counts as another database */
    CHECK(!sl_pgload_target_is_catalog(&t));
    unsetenv("SLUICE_CATALOG");
    t.conninfo = (char *)"postgres://u@h:5432/cat";
    CHECK(!sl_pgload_target_is_catalog(&t));
    setenv("SLUICE_CATALOG", "", 1);
    CHECK(!sl_pgload_target_is_catalog(&t));
    setenv("SLUICE_CATALOG", "postgresql://h/dev", 1);
    struct sl_pgload_target rs = {SL_PGLOAD_REDSHIFT, (char *)"postgresql://h/dev", (char *)"s",
                                  (char *)"t"};
    CHECK(!sl_pgload_target_is_catalog(&rs));
    CHECK(!sl_pgload_target_is_catalog(NULL));
    if (saved)
        setenv("SLUICE_CATALOG", saved, 1);
    else
        unsetenv("SLUICE_CATALOG");
    sl_free(saved);
}

/* ---- The in_publish hook ---- */

struct hook {
    int calls;
    long rows_seen; /* rows of the target the hook saw inside the transaction */
    int fail;       /* return SL_ECHANGED after writing */
};

static int in_publish(void *ud, PGconn *pg, struct sl_err *err)
{
    struct hook *h = ud;
    PGresult *r;

    h->calls++;
    r = PQexec(pg, "SELECT count(*) FROM hk");
    h->rows_seen =
        PQresultStatus(r) == PGRES_TUPLES_OK ? strtol(PQgetvalue(r, 0, 0), NULL, 10) : -1;
    PQclear(r);
    r = PQexec(pg, "INSERT INTO hk_side VALUES (1)");
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        PQclear(r);
        return sl_err_set(err, SL_EIO, "hook insert: %s", PQerrorMessage(pg));
    }
    PQclear(r);
    if (h->fail)
        return sl_err_set(err, SL_ECHANGED, "the hook says no");
    return SL_OK;
}

TEST(in_publish_hook_commits_with_the_rows)
{
    struct sl_err err = {0};
    struct hook h = {0};
    uint64_t n = 0;

    SKIP_WITHOUT_PG();
    CHECK(sql("CREATE TABLE hk (id bigint); CREATE TABLE hk_side (n int);"
              " INSERT INTO hk VALUES (100)"));
    struct sl_rschema *rs = mkschema("id:int");
    struct sl_batch *b = sl_batch_new(rs, 0, 0);
    for (int i = 1; i <= 3; i++)
        row(b)[0] = vint(i);
    struct sl_pgload_opts o = {.mode = SL_PGLOAD_APPEND,
                               .run_id = "hk1",
                               .job = "hooked",
                               .in_publish = in_publish,
                               .in_publish_ud = &h};

    /* success: the hook runs once, after the rows are in, and commits with them */
    CHECK_OK(load("public", "hk", &o, rs, &b, NULL, 1, NULL, &n, &err), &err);
    CHECK(n == 3);
    CHECK(h.calls == 1);
    CHECK(h.rows_seen == 4);
    CHECK_STR(q("SELECT count(*), sum(id) FROM hk"), "4|106");
    CHECK(ql("SELECT count(*) FROM hk_side") == 1);

    /* failure: everything the publish and the hook did rolls back */
    h = (struct hook){.fail = 1};
    o.run_id = "hk2";
    CHECK(load("public", "hk", &o, rs, &b, NULL, 1, NULL, &n, &err) == SL_ECHANGED);
    CHECK(h.calls == 1 && h.rows_seen == 7);
    CHECKF(strstr(err.msg, "load into public.hk: publish: the hook says no") == err.msg, "%s",
           err.msg);
    CHECK(n == 0);
    CHECK_STR(q("SELECT count(*), sum(id) FROM hk"), "4|106");
    CHECK(ql("SELECT count(*) FROM hk_side") == 1);
    CHECK(n_staging("public") == 0); /* dropped when the load was freed */

    /* into a new table (the staging table renamed into place) the same holds */
    h = (struct hook){.fail = 1};
    o.run_id = "hk3";
    o.create = true;
    CHECK(load("public", "hk_new", &o, rs, &b, NULL, 1, NULL, &n, &err) == SL_ECHANGED);
    CHECK(ql("SELECT count(*) FROM pg_tables WHERE tablename = 'hk_new'") == 0);
    CHECK(n_staging("public") == 0);
    sl_batch_free(b);
    sl_rschema_free(rs);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    RUN(target_parse_cases);
    RUN(is_target);
    RUN(target_is_catalog);
    RUN(redshift_sql_golden);
    RUN(redshift_sql_refusals_and_credentials);
    RUN(append_twice);
    RUN(overwrite_swaps_and_keeps_definition);
    RUN(overwrite_with_serial_and_unlogged_target);
    RUN(overwrite_with_dependent_view_truncates);
    RUN(merge_picks_last_per_key);
    RUN(merge_is_idempotent);
    RUN(new_table_with_mapped_types);
    RUN(add_columns);
    RUN(awkward_values_round_trip);
    RUN(bad_values_become_bad_rows);
    RUN(checks_agree_with_the_server);
    RUN(schema_mismatch_fails_before_rows_move);
    RUN(quoted_identifiers);
    RUN(injection_in_a_table_name_is_harmless);
    RUN(killed_load_leaves_target_and_is_cleaned_up);
    RUN(unreachable_server);
    RUN(loads_of_one_run_do_not_block_each_other);
    RUN(concurrent_merges);
    RUN(concurrent_overwrites);
    RUN(many_rows_over_two_streams);
    RUN(in_publish_hook_commits_with_the_rows);
    drop_db();
    sl_free(db_ci);
    sl_free(admin_ci);
    TEST_EXIT();
}
