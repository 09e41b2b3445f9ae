/*
 * runtime/catalog_run.c - job runs and the run queue (runtime/catalog_run.h;
 * catalog migration 4). The SQL is here, one macro per statement; times are
 * read as epoch ms, values always sent as $n text parameters. clock_timestamp()
 * (not now()) stamps rows, so times inside one transaction still differ.
 */
#include <errno.h>
#include <jansson.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "catalog_internal.h"
#include "catalog_run.h"
#include "catalog_trigger.h"
#include "log.h"
#include "utf8.h"
#include "catalog_sql.h"

#define RUN_NON_TERMINAL "('STARTING', 'RUNNING', 'STOPPING', 'WAITING')"
#define RUN_RETRY_CAP_MS (3600 * 1000LL) /* the longest backoff before a retry */

/* The columns of a struct sl_run, in run_from_row() order. */
#define RUN_COLS                                                                                   \
    "\"seq\", \"id\", \"kind\", \"job_name\", \"attempt\", \"previous_run_id\",\n"                 \
    " \"trigger_name\", \"state\", \"arguments\"::text, \"effective_arguments\"::text,\n"          \
    " \"script_location\", \"error_message\", \"predecessors\"::text, \"extra\"::text,\n"          \
    " \"timeout_minutes\", \"max_retries\", \"number_of_workers\",\n"                              \
    " " SL_CATALOG_SQL_MS("\"started_on\"") ", " SL_CATALOG_SQL_MS("\"last_modified_on\"") ",\n"   \
    " " SL_CATALOG_SQL_MS("\"running_on\"") ", " SL_CATALOG_SQL_MS("\"completed_on\"") ",\n"       \
    " \"owner\", \"pid\", \"stop_requested\""

/* $1 job -> default args, non-overridable args, max concurrent, timeout,
 * retries, workers, script location (the job row locked until commit) */
#define SQL_JOB_LOCK                                                                               \
    "SELECT \"default_arguments\"::text, \"non_overridable_arguments\"::text,\n"                   \
    " \"max_concurrent_runs\", COALESCE(\"timeout_minutes\", 2880), \"max_retries\",\n"            \
    " \"number_of_workers\", \"command\"->>'ScriptLocation', \"command\"->>'Name'\n"               \
    "FROM \"sluice\".\"job\" WHERE \"name\" = $1 FOR UPDATE"
/* $1 crawler -> one row when it exists (locked until commit) */
#define SQL_CRAWLER_LOCK "SELECT 1 FROM \"sluice\".\"crawler\" WHERE \"name\" = $1 FOR UPDATE"
/* $1 key -> id */
#define SQL_BY_KEY "SELECT \"id\" FROM \"sluice\".\"job_run\" WHERE \"idempotency_key\" = $1"
/* $1 kind, $2 job -> count of non-terminal runs */
#define SQL_ACTIVE_COUNT                                                                           \
    "SELECT count(*) FROM \"sluice\".\"job_run\"\n"                                                \
    " WHERE \"kind\" = $1 AND \"job_name\" = $2 AND \"state\" IN " RUN_NON_TERMINAL
/* $1 base id -> the highest attempt among the base run and its retries */
#define SQL_MAX_ATTEMPT                                                                            \
    "SELECT max(\"attempt\") FROM \"sluice\".\"job_run\"\n"                                        \
    " WHERE \"id\" = $1 OR \"id\" LIKE replace($1, '_', '\\_') || '\\_attempt\\_%'"
#define SQL_INSERT                                                                                 \
    "INSERT INTO \"sluice\".\"job_run\" (\"id\", \"kind\", \"job_name\", \"attempt\",\n"           \
    " \"previous_run_id\", \"trigger_name\", \"arguments\", \"effective_arguments\",\n"            \
    " \"script_location\", \"timeout_minutes\", \"max_retries\", \"number_of_workers\",\n"         \
    " \"extra\", \"predecessors\", \"idempotency_key\")\n"                                         \
    "VALUES ($1, $2, $3, $4::int, $5, $6, $7::jsonb, $8::jsonb, $9, $10::int, $11::int,\n"         \
    " $12::int, $13::jsonb, $14::jsonb, $15)"
#define SQL_NOTIFY "SELECT pg_notify('" SL_RUN_NOTIFY_CHANNEL "', $1)"
/* $1 kind, $2 job (NULL: any), $3 id -> RUN_COLS */
#define SQL_GET                                                                                    \
    "SELECT " RUN_COLS " FROM \"sluice\".\"job_run\"\n"                                            \
    " WHERE \"id\" = $3 AND \"kind\" = $1 AND ($2::text IS NULL OR \"job_name\" = $2::text)"
/* $1 kind, $2 job (NULL: all), $3 before seq (NULL: newest), $4 limit (NULL: all) */
#define SQL_LIST                                                                                   \
    "SELECT " RUN_COLS " FROM \"sluice\".\"job_run\"\n"                                            \
    " WHERE \"kind\" = $1 AND ($2::text IS NULL OR \"job_name\" = $2::text)\n"                     \
    " AND ($3::int8 IS NULL OR \"seq\" < $3::int8) ORDER BY \"seq\" DESC LIMIT $4::int8"
/* $1 kind, $2 job, $3 terminal only ('t'/'f') -> RUN_COLS of the newest */
#define SQL_LATEST                                                                                 \
    "SELECT " RUN_COLS " FROM \"sluice\".\"job_run\"\n"                                            \
    " WHERE \"kind\" = $1 AND \"job_name\" = $2\n"                                                 \
    " AND (NOT $3::bool OR \"state\" NOT IN " RUN_NON_TERMINAL ")\n"                               \
    " ORDER BY (CASE WHEN $3::bool THEN \"completed_on\" END) DESC NULLS LAST, \"seq\" DESC\n"     \
    " LIMIT 1"
/* $1 kind, $2 job (NULL: any), $3 id -> state now (no row: not found or terminal) */
#define SQL_STOP                                                                                   \
    "UPDATE \"sluice\".\"job_run\" SET\n"                                                          \
    " \"state\" = CASE WHEN \"owner\" IS NULL THEN 'STOPPED' ELSE 'STOPPING' END,\n"               \
    " \"completed_on\" = CASE WHEN \"owner\" IS NULL THEN clock_timestamp() END,\n"                \
    " \"error_message\" = CASE WHEN \"owner\" IS NULL THEN 'stopped before it started'\n"          \
    "   ELSE \"error_message\" END,\n"                                                             \
    " \"stop_requested\" = true, \"last_modified_on\" = clock_timestamp()\n"                       \
    " WHERE \"id\" = $3 AND \"kind\" = $1 AND ($2::text IS NULL OR \"job_name\" = $2::text)\n"     \
    " AND \"state\" IN " RUN_NON_TERMINAL " RETURNING \"state\", " RUN_COLS
/* $1 kind, $2 job, $3 id -> state */
#define SQL_STATE                                                                                  \
    "SELECT \"state\" FROM \"sluice\".\"job_run\"\n"                                               \
    " WHERE \"id\" = $3 AND \"kind\" = $1 AND ($2::text IS NULL OR \"job_name\" = $2::text)"
/* $1 kind, $2 job: queued runs stop, claimed ones are asked to */
#define SQL_FORGET_QUEUED                                                                          \
    "UPDATE \"sluice\".\"job_run\" SET \"state\" = 'STOPPED', \"stop_requested\" = true,\n"        \
    " \"completed_on\" = clock_timestamp(), \"last_modified_on\" = clock_timestamp(),\n"           \
    " \"error_message\" = 'stopped: the job was deleted'\n"                                        \
    " WHERE \"kind\" = $1 AND \"job_name\" = $2 AND \"owner\" IS NULL\n"                           \
    " AND \"state\" IN " RUN_NON_TERMINAL
#define SQL_FORGET_CLAIMED                                                                         \
    "UPDATE \"sluice\".\"job_run\" SET \"state\" = 'STOPPING', \"stop_requested\" = true,\n"       \
    " \"last_modified_on\" = clock_timestamp()\n"                                                  \
    " WHERE \"kind\" = $1 AND \"job_name\" = $2 AND \"owner\" IS NOT NULL\n"                       \
    " AND \"state\" IN " RUN_NON_TERMINAL
#define SQL_FORGET_DONE                                                                            \
    "DELETE FROM \"sluice\".\"job_run\" WHERE \"kind\" = $1 AND \"job_name\" = $2\n"               \
    " AND \"state\" NOT IN " RUN_NON_TERMINAL
/* $1 id, $2 offset, $3 max -> exists, text, total, truncated. Offsets count
 * characters from the log's first one ever appended: the dropped ones too. */
#define SQL_LOG_READ                                                                               \
    "SELECT r.\"id\", substr(COALESCE(l.\"log\", ''),\n"                                        \
    "   greatest($2::int8 - COALESCE(l.\"dropped\", 0), 0)::int + 1, $3::int),\n"                \
    " COALESCE(l.\"dropped\", 0) + length(COALESCE(l.\"log\", '')), COALESCE(l.\"truncated\", false),\n" \
    " greatest(COALESCE(l.\"dropped\", 0), $2::int8)\n"                                           \
    "FROM \"sluice\".\"job_run\" r LEFT JOIN \"sluice\".\"job_run_log\" l ON l.\"run_id\" = r.\"id\"\n" \
    " WHERE r.\"id\" = $1"
/* $1 id, $2 text, $3 bytes, $4 cap (chars) */
#define SQL_LOG_APPEND                                                                             \
    "INSERT INTO \"sluice\".\"job_run_log\" AS l (\"run_id\", \"log\", \"bytes\", \"dropped\",\n"   \
    " \"truncated\")\n"                                                                            \
    "VALUES ($1, right($2, $4::int), $3::int8, greatest(length($2) - $4::int, 0),\n"              \
    " length($2) > $4::int)\n"                                                                    \
    "ON CONFLICT (\"run_id\") DO UPDATE SET\n"                                                     \
    " \"log\" = right(l.\"log\" || $2, $4::int), \"bytes\" = l.\"bytes\" + $3::int8,\n"            \
    " \"dropped\" = l.\"dropped\" + greatest(length(l.\"log\") + length($2) - $4::int, 0),\n"      \
    " \"truncated\" = l.\"truncated\" OR length(l.\"log\") + length($2) > $4::int"
#define SQL_COUNTS "SELECT \"state\", count(*) FROM \"sluice\".\"job_run\" GROUP BY \"state\""
#define SQL_QUEUED                                                                                 \
    "SELECT count(*) FROM \"sluice\".\"job_run\" WHERE \"state\" = 'STARTING' AND \"owner\" IS NULL"
/* $1 owner, $2 lease seconds, $3 max -> RUN_COLS of the claimed runs */
#define SQL_CLAIM                                                                                  \
    "UPDATE \"sluice\".\"job_run\" SET \"owner\" = $1,\n"                                          \
    " \"lease_until\" = clock_timestamp() + make_interval(secs => $2::int),\n"                     \
    " \"last_modified_on\" = clock_timestamp()\n"                                                  \
    " WHERE \"id\" IN (SELECT \"id\" FROM \"sluice\".\"job_run\"\n"                                \
    "   WHERE \"state\" = 'STARTING' AND \"owner\" IS NULL AND \"not_before\" <= clock_timestamp()\n" \
    "   ORDER BY \"seq\" LIMIT $3::int8 FOR UPDATE SKIP LOCKED)\n"                                  \
    " RETURNING " RUN_COLS
/* $1 id, $2 owner, $3 pid -> stop_requested */
#define SQL_SET_RUNNING                                                                            \
    "UPDATE \"sluice\".\"job_run\" SET \"pid\" = $3::int,\n"                                       \
    " \"state\" = CASE WHEN \"stop_requested\" THEN 'STOPPING' ELSE 'RUNNING' END,\n"              \
    " \"running_on\" = clock_timestamp(), \"last_modified_on\" = clock_timestamp()\n"              \
    " WHERE \"id\" = $1 AND \"owner\" = $2 AND \"state\" IN ('STARTING', 'STOPPING')\n"            \
    " RETURNING \"stop_requested\""
/* $1 owner, $2 lease seconds -> id, stop_requested */
#define SQL_RENEW                                                                                  \
    "UPDATE \"sluice\".\"job_run\"\n"                                                              \
    " SET \"lease_until\" = clock_timestamp() + make_interval(secs => $2::int)\n"                  \
    " WHERE \"owner\" = $1 AND \"state\" IN " RUN_NON_TERMINAL                                     \
    " RETURNING \"id\", \"stop_requested\""
/* $1 id, $2 owner (NULL: any), $3 state, $4 message -> RUN_COLS */
#define SQL_FINISH                                                                                 \
    "UPDATE \"sluice\".\"job_run\" SET \"state\" = $3, \"error_message\" = $4,\n"                  \
    " \"completed_on\" = clock_timestamp(), \"last_modified_on\" = clock_timestamp(),\n"           \
    " \"lease_until\" = NULL\n"                                                                    \
    " WHERE \"id\" = $1 AND ($2::text IS NULL OR \"owner\" = $2::text)\n"                          \
    " AND \"state\" IN " RUN_NON_TERMINAL " RETURNING " RUN_COLS
/* $1 failed run id, $2 new id, $3 delay ms */
#define SQL_RETRY                                                                                  \
    "INSERT INTO \"sluice\".\"job_run\" (\"id\", \"kind\", \"job_name\", \"attempt\",\n"           \
    " \"previous_run_id\", \"trigger_name\", \"arguments\", \"effective_arguments\",\n"            \
    " \"script_location\", \"timeout_minutes\", \"max_retries\", \"number_of_workers\",\n"         \
    " \"extra\", \"predecessors\", \"not_before\")\n"                                              \
    "SELECT $2, \"kind\", \"job_name\", \"attempt\" + 1, \"id\", \"trigger_name\", \"arguments\",\n" \
    " \"effective_arguments\", \"script_location\", \"timeout_minutes\", \"max_retries\",\n"       \
    " \"number_of_workers\", \"extra\", \"predecessors\",\n"                                       \
    " clock_timestamp() + $3::int8 * interval '1 millisecond'\n"                                   \
    "FROM \"sluice\".\"job_run\" WHERE \"id\" = $1"
/* -> id, owner, state, lease expired of claimed non-terminal runs ($1 host) */
#define SQL_SUSPECTS                                                                               \
    "SELECT \"id\", \"owner\", \"state\", \"lease_until\" < clock_timestamp(),\n"                  \
    " to_char(\"lease_until\" AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')\n"             \
    " FROM \"sluice\".\"job_run\" WHERE \"owner\" IS NOT NULL AND \"state\" IN " RUN_NON_TERMINAL  \
    " AND (\"lease_until\" < clock_timestamp() OR split_part(\"owner\", '/', 1) = $1)"

/* ---- States ---- */

static const char *const state_names[SL_RUN_N_STATES] = {
    "STARTING", "RUNNING", "STOPPING", "STOPPED", "SUCCEEDED",
    "FAILED",   "TIMEOUT", "ERROR",    "WAITING",
};

const char *sl_run_state_name(enum sl_run_state s)
{
    return (unsigned)s < SL_RUN_N_STATES ? state_names[s] : "ERROR";
}

int sl_run_state_parse(const char *name, enum sl_run_state *out)
{
    for (int i = 0; name && i < SL_RUN_N_STATES; i++)
        if (strcmp(name, state_names[i]) == 0) {
            *out = (enum sl_run_state)i;
            return SL_OK;
        }
    return SL_ECONFIG;
}

int sl_run_state_terminal(enum sl_run_state s)
{
    return s == SL_RUN_STOPPED || s == SL_RUN_SUCCEEDED || s == SL_RUN_FAILED ||
           s == SL_RUN_TIMEOUT || s == SL_RUN_ERROR;
}

/* The kind as stored in job_run.kind, also the word messages use. */
static const char *kind_name(enum sl_run_kind k)
{
    return k == SL_RUN_CRAWLER ? "crawler" : "job";
}

/* ---- Rows ---- */

void sl_run_cleanup(struct sl_run *r)
{
    if (!r)
        return;
    sl_free(r->id);
    sl_free(r->job_name);
    sl_free(r->previous_run_id);
    sl_free(r->trigger_name);
    sl_free(r->arguments);
    sl_free(r->effective_arguments);
    sl_free(r->script_location);
    sl_free(r->error_message);
    sl_free(r->predecessors);
    sl_free(r->extra);
    sl_free(r->owner);
    memset(r, 0, sizeof *r);
}

void sl_run_free(struct sl_run *r)
{
    sl_run_cleanup(r);
    sl_free(r);
}

void sl_run_list_free(struct sl_run *runs, size_t n_runs)
{
    for (size_t i = 0; runs && i < n_runs; i++)
        sl_run_cleanup(&runs[i]);
    sl_free(runs);
}

/* Fills r from row of a RUN_COLS result starting at column c0. */
static int run_from_row(struct sl_run *r, const PGresult *res, int row, int c0,
                        struct sl_err *err)
{
    memset(r, 0, sizeof *r);
    r->seq = sl_catalog_get_i64(res, row, c0 + 0);
    r->kind = strcmp(PQgetvalue(res, row, c0 + 2), "crawler") == 0 ? SL_RUN_CRAWLER : SL_RUN_JOB;
    r->attempt = (int)sl_catalog_get_i64(res, row, c0 + 4);
    if (sl_run_state_parse(PQgetvalue(res, row, c0 + 7), &r->state) != SL_OK)
        r->state = SL_RUN_ERROR;
    r->timeout_minutes = (int)sl_catalog_get_i64(res, row, c0 + 14);
    r->max_retries = (int)sl_catalog_get_i64(res, row, c0 + 15);
    r->number_of_workers = (int)sl_catalog_get_i64(res, row, c0 + 16);
    r->started_ms = sl_catalog_get_i64(res, row, c0 + 17);
    r->modified_ms = sl_catalog_get_i64(res, row, c0 + 18);
    r->running_ms = sl_catalog_get_i64(res, row, c0 + 19);
    r->completed_ms = sl_catalog_get_i64(res, row, c0 + 20);
    r->pid = (int)sl_catalog_get_i64(res, row, c0 + 22);
    r->stop_requested = sl_catalog_get_bool(res, row, c0 + 23);
    if (sl_catalog_get_str(res, row, c0 + 1, &r->id, err) != SL_OK ||
        sl_catalog_get_str(res, row, c0 + 3, &r->job_name, err) != SL_OK ||
        sl_catalog_get_str(res, row, c0 + 5, &r->previous_run_id, err) != SL_OK ||
        sl_catalog_get_str(res, row, c0 + 6, &r->trigger_name, err) != SL_OK ||
        sl_catalog_get_str(res, row, c0 + 8, &r->arguments, err) != SL_OK ||
        sl_catalog_get_str(res, row, c0 + 9, &r->effective_arguments, err) != SL_OK ||
        sl_catalog_get_str(res, row, c0 + 10, &r->script_location, err) != SL_OK ||
        sl_catalog_get_str(res, row, c0 + 11, &r->error_message, err) != SL_OK ||
        sl_catalog_get_str(res, row, c0 + 12, &r->predecessors, err) != SL_OK ||
        sl_catalog_get_str(res, row, c0 + 13, &r->extra, err) != SL_OK ||
        sl_catalog_get_str(res, row, c0 + 21, &r->owner, err) != SL_OK) {
        sl_run_cleanup(r);
        return err->code;
    }
    return SL_OK;
}

/* *out = every row of res (RUN_COLS from column c0) as an owned array. */
static int runs_from_result(const PGresult *res, int c0, struct sl_run **out, size_t *n_out,
                            struct sl_err *err)
{
    size_t n = (size_t)PQntuples(res);
    struct sl_run *runs = n ? sl_calloc(n, sizeof *runs) : NULL;

    *out = NULL;
    *n_out = 0;
    if (n && !runs)
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        if (run_from_row(&runs[i], res, (int)i, c0, err) != SL_OK) {
            sl_run_list_free(runs, i);
            return err->code;
        }
    *out = runs;
    *n_out = n;
    return SL_OK;
}

/* ---- Ids ---- */

static int random_hex(char *out, size_t n_bytes, struct sl_err *err)
{
    unsigned char b[32];
    static const char hex[] = "0123456789abcdef";

    if (n_bytes > sizeof b || RAND_bytes(b, (int)n_bytes) != 1)
        return sl_err_set(err, SL_EINTERNAL, "cannot make an id: no random bytes");
    for (size_t i = 0; i < n_bytes; i++) {
        out[2 * i] = hex[b[i] >> 4];
        out[2 * i + 1] = hex[b[i] & 15];
    }
    out[2 * n_bytes] = '\0';
    return SL_OK;
}

/* The id a retry number attempt of run id gets: the base id (id without its
 * "_attempt_<n>" suffix) + "_attempt_<attempt>". */
static int retry_id_of(const char *id, int attempt, char out[SL_RUN_ID_MAX + 1],
                       struct sl_err *err)
{
    const char *suffix = strstr(id, "_attempt_");
    size_t base = suffix ? (size_t)(suffix - id) : strlen(id);
    int n = snprintf(out, SL_RUN_ID_MAX + 1, "%.*s_attempt_%d", (int)base, id, attempt);
    if (n < 0 || n > SL_RUN_ID_MAX)
        return sl_err_set(err, SL_ECONFIG, "run id \"%.64s...\" is too long to retry", id);
    return SL_OK;
}

int sl_run_owner_make(char out[128], struct sl_err *err)
{
    char host[65] = {0}, rnd[17];

    if (gethostname(host, sizeof host - 1) != 0)
        return sl_err_sys(err, SL_EIO, errno, "gethostname");
    for (char *p = host; *p; p++)
        if (*p == '/')
            *p = '_';
    if (random_hex(rnd, 8, err) != SL_OK)
        return err->code;
    snprintf(out, 128, "%s/%ld/%s", host, (long)getpid(), rnd);
    return SL_OK;
}

int sl_run_owner_parse(const char *owner, char host[65], int *pid)
{
    const char *a = owner ? strchr(owner, '/') : NULL;
    const char *b = a ? strchr(a + 1, '/') : NULL;
    char *end;

    if (!a || !b || a == owner || (size_t)(a - owner) > 64)
        return SL_ECONFIG;
    long v = strtol(a + 1, &end, 10);
    if (end != b || v <= 0 || v > 0x7fffffffL)
        return SL_ECONFIG;
    memcpy(host, owner, (size_t)(a - owner));
    host[a - owner] = '\0';
    *pid = (int)v;
    return SL_OK;
}

/* ---- Start ---- */

/* The job's (or crawler's) settings a new run takes. */
struct job_settings {
    json_t *defaults;     /* owned */
    json_t *fixed;        /* owned: NonOverridableArguments */
    int max_concurrent;
    int timeout_minutes;
    int max_retries;
    int workers;
    char *script;         /* owned; NULL for crawlers */
};

static void settings_cleanup(struct job_settings *s)
{
    json_decref(s->defaults);
    json_decref(s->fixed);
    sl_free(s->script);
}

/* Locks the job or crawler row and reads its settings: SL_ENOTFOUND. */
static int lock_job(struct sl_catalog *c, const struct sl_run_request *rq, struct job_settings *s,
                    struct sl_err *err)
{
    const char *args[] = { rq->job_name };
    PGresult *r;

    memset(s, 0, sizeof *s);
    if (rq->kind == SL_RUN_CRAWLER) {
        if (!(r = sl_catalog_query(c->pg, SQL_CRAWLER_LOCK, 1, args, err)))
            return err->code;
        int found = PQntuples(r) > 0;
        PQclear(r);
        if (!found)
            return sl_err_set(err, SL_ENOTFOUND, "crawler \"%s\" not found", rq->job_name);
        s->defaults = json_object();
        s->fixed = json_object();
        s->max_concurrent = 1;
        s->timeout_minutes = SL_RUN_TIMEOUT_DEFAULT;
        if (!s->defaults || !s->fixed)
            return sl_err_set(err, SL_ENOMEM, "out of memory");
        return SL_OK;
    }
    if (!(r = sl_catalog_query(c->pg, SQL_JOB_LOCK, 1, args, err)))
        return err->code;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return sl_err_set(err, SL_ENOTFOUND, "job \"%s\" not found", rq->job_name);
    }
    s->defaults = json_loads(PQgetvalue(r, 0, 0), 0, NULL);
    s->fixed = json_loads(PQgetvalue(r, 0, 1), 0, NULL);
    s->max_concurrent = (int)sl_catalog_get_i64(r, 0, 2);
    s->timeout_minutes = (int)sl_catalog_get_i64(r, 0, 3);
    s->max_retries = (int)sl_catalog_get_i64(r, 0, 4);
    s->workers = (int)sl_catalog_get_i64(r, 0, 5);
    int rc = sl_catalog_get_str(r, 0, 6, &s->script, err);
    int gluestreaming = !PQgetisnull(r, 0, 7) && strcmp(PQgetvalue(r, 0, 7), "gluestreaming") == 0;
    PQclear(r);
    if (rc != SL_OK)
        return rc;
    if (!s->defaults || !s->fixed || !json_is_object(s->defaults) || !json_is_object(s->fixed))
        return sl_err_set(err, SL_ENOMEM, "out of memory reading job \"%s\"", rq->job_name);
    if (gluestreaming)
        s->timeout_minutes = 0x7fffffff / 60; /* Glue: streaming jobs have no timeout */
    return SL_OK;
}

/* Checks that args is a JSON object of strings: SL_ECONFIG naming what. */
static int check_string_map(const char *what, const json_t *args, struct sl_err *err)
{
    const char *k;
    json_t *v;

    if (!json_is_object(args))
        return sl_err_set(err, SL_ECONFIG, "%s must be a JSON object", what);
    json_object_foreach((json_t *)args, k, v) {
        if (!json_is_string(v))
            return sl_err_set(err, SL_ECONFIG, "%s \"%.64s\" must be a string", what, k);
    }
    return SL_OK;
}

/* *out = defaults, overridden per key by run, then fixed on top (a run key
 * that would change a fixed one: SL_ECONFIG). Owned: json_decref. */
static int merge_arguments(const json_t *defaults, const json_t *run, const json_t *fixed,
                           json_t **out, struct sl_err *err)
{
    const char *k;
    json_t *v;
    json_t *m = json_deep_copy(defaults);

    *out = NULL;
    if (!m)
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    json_object_foreach((json_t *)run, k, v) {
        json_t *f = json_object_get(fixed, k);
        if (f && !json_equal(f, v)) {
            json_decref(m);
            return sl_err_set(err, SL_ECONFIG,
                              "argument \"%.64s\" is in NonOverridableArguments and cannot be "
                              "changed by a run", k);
        }
        if (json_object_set(m, k, v) != 0)
            goto oom;
    }
    if (json_object_update(m, (json_t *)fixed) != 0)
        goto oom;
    *out = m;
    return SL_OK;
oom:
    json_decref(m);
    return sl_err_set(err, SL_ENOMEM, "out of memory");
}

/* Reads the run retry_of of the job (it must have failed): its id base, next
 * attempt and arguments (when the request gives none). */
static int load_retry_of(struct sl_catalog *c, const struct sl_run_request *rq,
                         char id[SL_RUN_ID_MAX + 1], int *attempt, json_t **args,
                         struct sl_err *err)
{
    struct sl_run *prev = NULL;
    PGresult *r = NULL;
    char base[SL_RUN_ID_MAX + 1];
    int rc;

    if ((rc = sl_catalog_run_get(c, rq->kind, rq->job_name, rq->retry_of, &prev, err)) != SL_OK)
        return rc;
    if (prev->state != SL_RUN_FAILED && prev->state != SL_RUN_TIMEOUT &&
        prev->state != SL_RUN_ERROR) {
        sl_err_set(err, SL_ECONFIG, "run \"%s\" is %s: only a FAILED, TIMEOUT or ERROR run can be "
                   "run again", prev->id, sl_run_state_name(prev->state));
        goto fail;
    }
    const char *suffix = strstr(prev->id, "_attempt_");
    snprintf(base, sizeof base, "%.*s", suffix ? (int)(suffix - prev->id) : (int)strlen(prev->id),
             prev->id);
    const char *qargs[] = { base };
    if (!(r = sl_catalog_query(c->pg, SQL_MAX_ATTEMPT, 1, qargs, err)))
        goto fail;
    *attempt = (int)sl_catalog_get_i64(r, 0, 0) + 1;
    PQclear(r);
    if (retry_id_of(prev->id, *attempt, id, err) != SL_OK)
        goto fail;
    if (!rq->arguments) {
        *args = json_loads(prev->arguments ? prev->arguments : "{}", 0, NULL);
        if (!*args) {
            sl_err_set(err, SL_ENOMEM, "out of memory");
            goto fail;
        }
    }
    sl_run_free(prev);
    return SL_OK;
fail:
    sl_run_free(prev);
    return err->code;
}

static char *dump_compact(const json_t *j)
{
    char *t = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    char *s = t ? sl_strdup(t) : NULL;
    free(t); /* jansson's allocator */
    return s;
}

int sl_catalog_run_start(struct sl_catalog *c, const struct sl_run_request *rq,
                         char out_id[SL_RUN_ID_MAX + 1], int *created, struct sl_err *err)
{
    struct job_settings s = {0};
    json_t *run_args = NULL, *merged = NULL;
    char *run_text = NULL, *merged_text = NULL;
    PGresult *r = NULL;
    int own = 0, in_tx = 0, attempt = 0;
    char id[SL_RUN_ID_MAX + 1], a_attempt[24], a_timeout[24], a_retries[24], a_workers[24];

    out_id[0] = '\0';
    if (created)
        *created = 0;
    if (!rq->job_name || !*rq->job_name) {
        sl_err_set(err, SL_ECONFIG, "no %s name", kind_name(rq->kind));
        goto fail;
    }
    if (rq->arguments) {
        run_args = json_loads(rq->arguments, 0, NULL);
        if (!run_args) {
            sl_err_set(err, SL_ECONFIG, "Arguments are not JSON");
            goto fail;
        }
        if (check_string_map("argument", run_args, err) != SL_OK)
            goto fail;
    }
    if (sl_catalog_tx_begin(c, &own, err) != SL_OK)
        goto fail;
    in_tx = 1;
    if (lock_job(c, rq, &s, err) != SL_OK)
        goto fail;
    if (rq->idempotency_key) {
        const char *args[] = { rq->idempotency_key };
        if (!(r = sl_catalog_query(c->pg, SQL_BY_KEY, 1, args, err)))
            goto fail;
        if (PQntuples(r) > 0) {
            snprintf(out_id, SL_RUN_ID_MAX + 1, "%s", PQgetvalue(r, 0, 0));
            PQclear(r);
            r = NULL;
            in_tx = 0;
            if (sl_catalog_tx_commit(c, own, err) != SL_OK)
                goto fail;
            settings_cleanup(&s);
            json_decref(run_args);
            return SL_OK;
        }
        PQclear(r);
        r = NULL;
    }
    const char *cargs[] = { kind_name(rq->kind), rq->job_name };
    if (!(r = sl_catalog_query(c->pg, SQL_ACTIVE_COUNT, 2, cargs, err)))
        goto fail;
    int64_t active = sl_catalog_get_i64(r, 0, 0);
    PQclear(r);
    r = NULL;
    if (active >= s.max_concurrent) {
        if (rq->kind == SL_RUN_CRAWLER)
            sl_err_set(err, SL_ELIMIT, "crawler \"%s\" is already running", rq->job_name);
        else
            sl_err_set(err, SL_ELIMIT, "job \"%s\" has %lld run%s in progress and "
                       "MaxConcurrentRuns is %d", rq->job_name, (long long)active,
                       active == 1 ? "" : "s", s.max_concurrent);
        goto fail;
    }
    if (rq->retry_of) {
        if (load_retry_of(c, rq, id, &attempt, run_args ? NULL : &run_args, err) != SL_OK)
            goto fail;
    } else {
        memcpy(id, "jr_", 3);
        if (random_hex(id + 3, 32, err) != SL_OK)
            goto fail;
    }
    if (!run_args && !(run_args = json_object())) {
        sl_err_set(err, SL_ENOMEM, "out of memory");
        goto fail;
    }
    if (merge_arguments(s.defaults, run_args, s.fixed, &merged, err) != SL_OK)
        goto fail;
    if (!(run_text = dump_compact(run_args)) || !(merged_text = dump_compact(merged))) {
        sl_err_set(err, SL_ENOMEM, "out of memory");
        goto fail;
    }
    int timeout = rq->timeout_minutes > 0 ? rq->timeout_minutes : s.timeout_minutes;
    int workers = rq->number_of_workers > 0 ? rq->number_of_workers : s.workers;
    const char *iargs[] = {
        id,
        kind_name(rq->kind),
        rq->job_name,
        sl_catalog_i64_str(attempt, a_attempt),
        rq->retry_of,
        rq->trigger_name,
        run_text,
        merged_text,
        s.script,
        sl_catalog_i64_str(timeout > 0 ? timeout : SL_RUN_TIMEOUT_DEFAULT, a_timeout),
        sl_catalog_i64_str(s.max_retries, a_retries),
        workers > 0 ? sl_catalog_i64_str(workers, a_workers) : NULL,
        rq->extra ? rq->extra : "{}",
        rq->predecessors ? rq->predecessors : "[]",
        rq->idempotency_key,
    };
    if (!(r = sl_catalog_query_guarded(c, SQL_INSERT, 15, iargs, err)))
        goto fail;
    PQclear(r);
    const char *nargs[] = { id };
    if (!(r = sl_catalog_query(c->pg, SQL_NOTIFY, 1, nargs, err)))
        goto fail;
    PQclear(r);
    r = NULL;
    in_tx = 0;
    if (sl_catalog_tx_commit(c, own, err) != SL_OK)
        goto fail;
    snprintf(out_id, SL_RUN_ID_MAX + 1, "%s", id);
    if (created)
        *created = 1;
    settings_cleanup(&s);
    json_decref(run_args);
    json_decref(merged);
    sl_free(run_text);
    sl_free(merged_text);
    return SL_OK;
fail:
    PQclear(r);
    if (in_tx)
        sl_catalog_tx_rollback(c, own);
    settings_cleanup(&s);
    json_decref(run_args);
    json_decref(merged);
    sl_free(run_text);
    sl_free(merged_text);
    return sl_err_prefix(err, "start a run of %s \"%s\"", kind_name(rq->kind),
                         rq->job_name ? rq->job_name : "");
}

/* ---- Reads ---- */

int sl_catalog_run_get(struct sl_catalog *c, enum sl_run_kind kind, const char *job_name,
                       const char *id, struct sl_run **out, struct sl_err *err)
{
    const char *args[] = { kind_name(kind), job_name, id };
    struct sl_run *run = NULL;
    PGresult *r;

    *out = NULL;
    if (!(r = sl_catalog_query(c->pg, SQL_GET, 3, args, err)))
        return err->code;
    if (PQntuples(r) == 0) {
        PQclear(r);
        if (job_name)
            return sl_err_set(err, SL_ENOTFOUND, "run \"%s\" of %s \"%s\" not found", id,
                              kind_name(kind), job_name);
        return sl_err_set(err, SL_ENOTFOUND, "run \"%s\" not found", id);
    }
    if (!(run = sl_calloc(1, sizeof *run))) {
        PQclear(r);
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    int rc = run_from_row(run, r, 0, 0, err);
    PQclear(r);
    if (rc != SL_OK) {
        sl_free(run);
        return rc;
    }
    *out = run;
    return SL_OK;
}

int sl_catalog_run_list(struct sl_catalog *c, enum sl_run_kind kind, const char *job_name,
                        int64_t before_seq, size_t limit, struct sl_run **out, size_t *n_out,
                        struct sl_err *err)
{
    char before[24], lim[24];
    const char *args[] = {
        kind_name(kind),
        job_name,
        before_seq > 0 ? sl_catalog_i64_str(before_seq, before) : NULL,
        limit ? sl_catalog_i64_str((int64_t)limit, lim) : NULL,
    };
    PGresult *r = sl_catalog_query(c->pg, SQL_LIST, 4, args, err);

    *out = NULL;
    *n_out = 0;
    if (!r)
        return err->code;
    int rc = runs_from_result(r, 0, out, n_out, err);
    PQclear(r);
    return rc;
}

int sl_catalog_run_latest(struct sl_catalog *c, enum sl_run_kind kind, const char *job_name,
                          int terminal_only, struct sl_run **out, struct sl_err *err)
{
    const char *args[] = { kind_name(kind), job_name, terminal_only ? "t" : "f" };
    struct sl_run *runs = NULL;
    size_t n = 0;
    PGresult *r = sl_catalog_query(c->pg, SQL_LATEST, 3, args, err);

    *out = NULL;
    if (!r)
        return err->code;
    int rc = runs_from_result(r, 0, &runs, &n, err);
    PQclear(r);
    if (rc == SL_OK && n == 1)
        *out = runs; /* an array of one is a single owned run */
    return rc;
}

/* Evaluates the conditional triggers watching the run that just ended, inside
 * the transaction that ends it. The evaluation runs in its own savepoint and
 * logs what it cannot do: a trigger problem never undoes the run's end. */
static void trigger_hook(struct sl_catalog *c, const struct sl_run *done)
{
    struct sl_err terr = {0};

    if (sl_catalog_trigger_on_run_done(c, done, &terr) != SL_OK)
        sl_log(SL_LOG_ERROR, "[run %s] conditional triggers: %s", done->id, terr.msg);
}

/* ---- Stop and forget ---- */

int sl_catalog_run_stop(struct sl_catalog *c, enum sl_run_kind kind, const char *job_name,
                        const char *id, enum sl_run_state *after, struct sl_err *err)
{
    const char *args[] = { kind_name(kind), job_name, id };
    struct sl_run done = {0};
    PGresult *r = NULL;
    int own = 0, in_tx = 0;

    if (sl_catalog_tx_begin(c, &own, err) != SL_OK)
        goto fail;
    in_tx = 1;
    if (!(r = sl_catalog_query(c->pg, SQL_STOP, 3, args, err)))
        goto fail;
    if (PQntuples(r) == 0) {
        PQclear(r);
        if (!(r = sl_catalog_query(c->pg, SQL_STATE, 3, args, err)))
            goto fail;
        if (PQntuples(r) == 0)
            job_name ? sl_err_set(err, SL_ENOTFOUND, "run \"%s\" of %s \"%s\" not found", id,
                                  kind_name(kind), job_name)
                     : sl_err_set(err, SL_ENOTFOUND, "run \"%s\" not found", id);
        else
            sl_err_set(err, SL_ECONFIG, "run \"%s\" is already %s", id, PQgetvalue(r, 0, 0));
        goto fail;
    }
    enum sl_run_state st = SL_RUN_STOPPING;
    sl_run_state_parse(PQgetvalue(r, 0, 0), &st);
    if (st == SL_RUN_STOPPED) { /* never started: finished here, so triggers see it */
        if (run_from_row(&done, r, 0, 1, err) != SL_OK)
            goto fail;
        trigger_hook(c, &done);
    }
    PQclear(r);
    const char *nargs[] = { id };
    if (!(r = sl_catalog_query(c->pg, SQL_NOTIFY, 1, nargs, err)))
        goto fail;
    PQclear(r);
    r = NULL;
    in_tx = 0;
    if (sl_catalog_tx_commit(c, own, err) != SL_OK)
        goto fail;
    sl_run_cleanup(&done);
    if (after)
        *after = st;
    return SL_OK;
fail:
    PQclear(r);
    sl_run_cleanup(&done);
    if (in_tx)
        sl_catalog_tx_rollback(c, own);
    return sl_err_prefix(err, "stop run \"%s\"", id ? id : "");
}

int sl_catalog_run_forget(struct sl_catalog *c, enum sl_run_kind kind, const char *job_name,
                          struct sl_err *err)
{
    const char *args[] = { kind_name(kind), job_name };
    int own = 0;

    if (sl_catalog_tx_begin(c, &own, err) != SL_OK)
        goto fail;
    if (sl_catalog_exec(c->pg, SQL_FORGET_QUEUED, 2, args, err) != SL_OK ||
        sl_catalog_exec(c->pg, SQL_FORGET_CLAIMED, 2, args, err) != SL_OK ||
        sl_catalog_exec(c->pg, SQL_FORGET_DONE, 2, args, err) != SL_OK) {
        sl_catalog_tx_rollback(c, own);
        goto fail;
    }
    if (sl_catalog_tx_commit(c, own, err) != SL_OK)
        goto fail;
    return SL_OK;
fail:
    return sl_err_prefix(err, "forget the runs of %s \"%s\"", kind_name(kind), job_name);
}

/* ---- Logs ---- */

int sl_catalog_run_log_read(struct sl_catalog *c, const char *id, int64_t offset, size_t max,
                            char **text, size_t *len, int64_t *start, int64_t *total,
                            int *truncated, struct sl_err *err)
{
    char off[24], lim[24];
    const char *args[] = {
        id,
        sl_catalog_i64_str(offset < 0 ? 0 : offset, off),
        sl_catalog_i64_str(max ? (int64_t)max : INT32_MAX, lim),
    };
    PGresult *r = sl_catalog_query(c->pg, SQL_LOG_READ, 3, args, err);

    *text = NULL;
    *len = 0;
    if (!r)
        return err->code;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return sl_err_set(err, SL_ENOTFOUND, "run \"%s\" not found", id);
    }
    int rc = sl_catalog_get_str(r, 0, 1, text, err);
    if (rc == SL_OK) {
        *len = strlen(*text);
        if (total)
            *total = sl_catalog_get_i64(r, 0, 2);
        if (truncated)
            *truncated = sl_catalog_get_bool(r, 0, 3);
        if (start)
            *start = sl_catalog_get_i64(r, 0, 4);
    }
    PQclear(r);
    return rc;
}

/* Copies data into a valid UTF-8 text without NUL, as PostgreSQL accepts it
 * (a byte that starts no valid sequence, or a NUL, becomes '?'). */
static char *utf8_clean(const char *data, size_t len)
{
    const unsigned char *u = (const unsigned char *)data, *end = u + len;
    char *out = sl_alloc(len + 1);
    size_t o = 0;

    if (!out)
        return NULL;
    while (u < end) {
        size_t n = *u == 0 ? 0 : *u < 0x80 ? 1 : sl_utf8_seq(u, end);
        if (n) {
            memcpy(out + o, u, n);
            o += n;
            u += n;
        } else {
            out[o++] = '?';
            u++;
        }
    }
    out[o] = '\0';
    return out;
}

int sl_catalog_run_log_append(struct sl_catalog *c, const char *id, const char *data, size_t len,
                              size_t cap, struct sl_err *err)
{
    char bytes[24], cap_s[24];
    char *text = utf8_clean(data, len);

    if (!text)
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    const char *args[] = {
        id,
        text,
        sl_catalog_i64_str((int64_t)len, bytes),
        sl_catalog_i64_str(cap > INT32_MAX ? INT32_MAX : (int64_t)cap, cap_s),
    };
    int rc = sl_catalog_exec(c->pg, SQL_LOG_APPEND, 4, args, err);
    sl_free(text);
    if (rc != SL_OK)
        return sl_err_prefix(err, "append to the log of run \"%s\"", id);
    return SL_OK;
}

/* ---- Metrics ---- */

int sl_catalog_run_counts(struct sl_catalog *c, int64_t by_state[SL_RUN_N_STATES],
                          int64_t *queued, struct sl_err *err)
{
    PGresult *r;

    memset(by_state, 0, SL_RUN_N_STATES * sizeof by_state[0]);
    *queued = 0;
    if (!(r = sl_catalog_query(c->pg, SQL_COUNTS, 0, NULL, err)))
        return err->code;
    for (int i = 0; i < PQntuples(r); i++) {
        enum sl_run_state s;
        if (sl_run_state_parse(PQgetvalue(r, i, 0), &s) == SL_OK)
            by_state[s] = sl_catalog_get_i64(r, i, 1);
    }
    PQclear(r);
    if (!(r = sl_catalog_query(c->pg, SQL_QUEUED, 0, NULL, err)))
        return err->code;
    *queued = sl_catalog_get_i64(r, 0, 0);
    PQclear(r);
    return SL_OK;
}

/* ---- Dispatcher ---- */

static int by_seq(const void *a, const void *b)
{
    int64_t x = ((const struct sl_run *)a)->seq, y = ((const struct sl_run *)b)->seq;
    return (x > y) - (x < y);
}

int sl_catalog_run_claim(struct sl_catalog *c, const char *owner, int lease_s, size_t max,
                         struct sl_run **out, size_t *n_out, struct sl_err *err)
{
    char lease[24], lim[24];
    const char *args[] = { owner, sl_catalog_i64_str(lease_s, lease),
                           sl_catalog_i64_str((int64_t)max, lim) };
    PGresult *r;

    *out = NULL;
    *n_out = 0;
    if (max == 0)
        return SL_OK;
    if (!(r = sl_catalog_query(c->pg, SQL_CLAIM, 3, args, err)))
        return sl_err_prefix(err, "claim queued runs");
    int rc = runs_from_result(r, 0, out, n_out, err);
    PQclear(r);
    if (rc == SL_OK && *n_out > 1) /* UPDATE ... RETURNING has no order: oldest first */
        qsort(*out, *n_out, sizeof **out, by_seq);
    return rc;
}

int sl_catalog_run_set_running(struct sl_catalog *c, const char *id, const char *owner, int pid,
                               int *stop, struct sl_err *err)
{
    char pid_s[24];
    const char *args[] = { id, owner, sl_catalog_i64_str(pid, pid_s) };
    PGresult *r = sl_catalog_query(c->pg, SQL_SET_RUNNING, 3, args, err);

    *stop = 0;
    if (!r)
        return sl_err_prefix(err, "mark run \"%s\" running", id);
    int found = PQntuples(r) > 0;
    if (found)
        *stop = sl_catalog_get_bool(r, 0, 0);
    PQclear(r);
    if (!found)
        return sl_err_set(err, SL_ENOTFOUND, "run \"%s\" is no longer ours", id);
    return SL_OK;
}

int sl_catalog_run_renew(struct sl_catalog *c, const char *owner, int lease_s, char ***stop_ids,
                         size_t *n_stop, struct sl_err *err)
{
    char lease[24];
    const char *args[] = { owner, sl_catalog_i64_str(lease_s, lease) };
    PGresult *r = sl_catalog_query(c->pg, SQL_RENEW, 2, args, err);
    char **ids = NULL;
    size_t n = 0;

    *stop_ids = NULL;
    *n_stop = 0;
    if (!r)
        return sl_err_prefix(err, "renew run leases");
    int rows = PQntuples(r);
    if (rows > 0 && !(ids = sl_calloc((size_t)rows, sizeof *ids)))
        goto oom;
    for (int i = 0; i < rows; i++) {
        if (!sl_catalog_get_bool(r, i, 1))
            continue;
        if (!(ids[n] = sl_strdup(PQgetvalue(r, i, 0))))
            goto oom;
        n++;
    }
    PQclear(r);
    *stop_ids = ids;
    *n_stop = n;
    return SL_OK;
oom:
    PQclear(r);
    for (size_t i = 0; i < n; i++)
        sl_free(ids[i]);
    sl_free(ids);
    return sl_err_set(err, SL_ENOMEM, "out of memory");
}

int sl_catalog_run_finish(struct sl_catalog *c, const char *id, const char *owner,
                          enum sl_run_state state, const char *error_message,
                          int64_t retry_delay_ms, char retry_id[SL_RUN_ID_MAX + 1],
                          struct sl_run **done, struct sl_err *err)
{
    struct sl_run *run = NULL;
    PGresult *r = NULL;
    int own = 0, in_tx = 0;
    char rid[SL_RUN_ID_MAX + 1] = "";

    if (retry_id)
        retry_id[0] = '\0';
    if (done)
        *done = NULL;
    if (!sl_run_state_terminal(state)) {
        sl_err_set(err, SL_EINTERNAL, "finish with state %s", sl_run_state_name(state));
        goto fail;
    }
    if (sl_catalog_tx_begin(c, &own, err) != SL_OK)
        goto fail;
    in_tx = 1;
    const char *args[] = { id, owner, sl_run_state_name(state), error_message };
    if (!(r = sl_catalog_query(c->pg, SQL_FINISH, 4, args, err)))
        goto fail;
    if (PQntuples(r) == 0) {
        sl_err_set(err, SL_ENOTFOUND, "run \"%s\" is not in progress%s", id,
                   owner ? " on this server" : "");
        goto fail;
    }
    if (!(run = sl_calloc(1, sizeof *run))) {
        sl_err_set(err, SL_ENOMEM, "out of memory");
        goto fail;
    }
    if (run_from_row(run, r, 0, 0, err) != SL_OK) {
        sl_free(run);
        run = NULL;
        goto fail;
    }
    PQclear(r);
    r = NULL;
    if (state == SL_RUN_FAILED && run->attempt < run->max_retries) {
        int64_t delay = retry_delay_ms < 0 ? 0 : retry_delay_ms;
        for (int i = 0; i < run->attempt && delay < RUN_RETRY_CAP_MS; i++)
            delay *= 2;
        if (delay > RUN_RETRY_CAP_MS)
            delay = RUN_RETRY_CAP_MS;
        char delay_s[24];
        if (retry_id_of(run->id, run->attempt + 1, rid, err) != SL_OK)
            goto fail;
        const char *rargs[] = { run->id, rid, sl_catalog_i64_str(delay, delay_s) };
        if (!(r = sl_catalog_query(c->pg, SQL_RETRY, 3, rargs, err)))
            goto fail;
        PQclear(r);
        const char *nargs[] = { rid };
        if (!(r = sl_catalog_query(c->pg, SQL_NOTIFY, 1, nargs, err)))
            goto fail;
        PQclear(r);
        r = NULL;
    }
    trigger_hook(c, run);
    in_tx = 0;
    if (sl_catalog_tx_commit(c, own, err) != SL_OK)
        goto fail;
    if (retry_id)
        memcpy(retry_id, rid, sizeof rid);
    if (done)
        *done = run;
    else
        sl_run_free(run);
    return SL_OK;
fail:
    PQclear(r);
    sl_run_free(run);
    if (in_tx)
        sl_catalog_tx_rollback(c, own);
    return sl_err_prefix(err, "finish run \"%s\"", id ? id : "");
}

int sl_catalog_run_recover(struct sl_catalog *c, const char *host, int (*is_alive)(int pid),
                           int64_t retry_delay_ms, size_t *n_recovered, struct sl_err *err)
{
    const char *args[] = { host ? host : "" };
    PGresult *r = sl_catalog_query(c->pg, SQL_SUSPECTS, 1, args, err);
    size_t n = 0;

    if (n_recovered)
        *n_recovered = 0;
    if (!r)
        return sl_err_prefix(err, "look for lost runs");
    for (int i = 0; i < PQntuples(r); i++) {
        const char *id = PQgetvalue(r, i, 0);
        const char *owner = PQgetvalue(r, i, 1);
        int expired = sl_catalog_get_bool(r, i, 3);
        char ohost[65], msg[512];
        int opid = 0;
        if (!expired) {
            /* only a dead process of this host may be declared gone early */
            if (!is_alive || sl_run_owner_parse(owner, ohost, &opid) != SL_OK || !host ||
                strcmp(ohost, host) != 0 || is_alive(opid))
                continue;
            snprintf(msg, sizeof msg, "run lost: its server (%s) is gone (process %d no longer "
                     "runs); the run did not finish", owner, opid);
        } else {
            snprintf(msg, sizeof msg, "run lost: its server (%s) stopped renewing its lease "
                     "(expired %s); the run did not finish", owner, PQgetvalue(r, i, 4));
        }
        enum sl_run_state st = strcmp(PQgetvalue(r, i, 2), "STOPPING") == 0 ? SL_RUN_STOPPED
                                                                             : SL_RUN_FAILED;
        struct sl_err ferr = {0};
        int rc = sl_catalog_run_finish(c, id, owner, st, msg, retry_delay_ms, NULL, NULL, &ferr);
        if (rc == SL_OK)
            n++;
        else if (rc != SL_ENOTFOUND) { /* another server got there first: fine */
            PQclear(r);
            *err = ferr;
            return err->code;
        }
    }
    PQclear(r);
    if (n_recovered)
        *n_recovered = n;
    return SL_OK;
}

/* ---- JSON ---- */

json_t *sl_run_json(const struct sl_run *r, int with_predecessors)
{
    json_t *o = json_object();
    int bad = !o;
    int64_t end_ms = r->completed_ms ? r->completed_ms : 0;
    if (!end_ms && r->running_ms && !sl_run_state_terminal(r->state)) { /* still running */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        end_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    }
    int64_t exec_s = r->running_ms && end_ms > r->running_ms ? (end_ms - r->running_ms) / 1000 : 0;

    if (bad)
        return NULL;
    bad |= json_object_set_new(o, "Id", json_string(r->id)) != 0;
    bad |= json_object_set_new(o, "Attempt", json_integer(r->attempt)) != 0;
    if (r->previous_run_id)
        bad |= json_object_set_new(o, "PreviousRunId", json_string(r->previous_run_id)) != 0;
    if (r->trigger_name)
        bad |= json_object_set_new(o, "TriggerName", json_string(r->trigger_name)) != 0;
    bad |= json_object_set_new(o, "JobName", json_string(r->job_name)) != 0;
    bad |= json_object_set_new(o, "StartedOn", json_real((double)r->started_ms / 1000.0)) != 0;
    bad |= json_object_set_new(o, "LastModifiedOn", json_real((double)r->modified_ms / 1000.0)) != 0;
    if (r->completed_ms)
        bad |= json_object_set_new(o, "CompletedOn", json_real((double)r->completed_ms / 1000.0)) !=
               0;
    bad |= json_object_set_new(o, "JobRunState", json_string(sl_run_state_name(r->state))) != 0;
    json_t *args = json_loads(r->arguments ? r->arguments : "{}", 0, NULL);
    bad |= !args || json_object_set_new(o, "Arguments", args) != 0;
    if (r->error_message)
        bad |= json_object_set_new(o, "ErrorMessage", json_string(r->error_message)) != 0;
    bad |= json_object_set_new(o, "ExecutionTime", json_integer(exec_s)) != 0;
    bad |= json_object_set_new(o, "Timeout", json_integer(r->timeout_minutes)) != 0;
    if (r->number_of_workers)
        bad |= json_object_set_new(o, "NumberOfWorkers", json_integer(r->number_of_workers)) != 0;
    json_t *extra = json_loads(r->extra ? r->extra : "{}", 0, NULL);
    if (extra && json_is_object(extra))
        bad |= json_object_update_missing(o, extra) != 0;
    json_decref(extra);
    if (with_predecessors) {
        json_t *p = json_loads(r->predecessors ? r->predecessors : "[]", 0, NULL);
        bad |= !p || json_object_set_new(o, "PredecessorRuns", p) != 0;
    }
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}
