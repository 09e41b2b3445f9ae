/*
 * runtime/catalog_bookmark.c - job bookmarks in the catalog (Glue
 * JobBookmarkEntry, spec/aws-api.md §3.7): get, commit, reset (to "{}" or
 * back to the state a run committed) and delete, with one history row per
 * version. What a state means (the objects seen per source) is the engine's
 * business: here it is opaque JSON text that PostgreSQL validates as jsonb.
 * The tables are created by migration 2 (catalog_migrations.h).
 *
 * A commit is a compare-and-set on the version. With a bookmark row, UPDATE
 * ... WHERE version = expected takes the row lock; a concurrent commit waits
 * for that lock and then, under READ COMMITTED, re-checks its WHERE against the
 * committed row, finds the new version and updates nothing. Without a row,
 * INSERT ... ON CONFLICT DO NOTHING makes a second inserter wait for the first
 * and then insert nothing. Either way the loser gets SL_ECHANGED and has
 * written nothing. Resets take the same row lock, so they serialise with
 * commits, and a run that read the bookmark before a reset cannot overwrite it.
 *
 * The same commit also runs on a connection the caller owns, inside the
 * caller's open transaction (sl_catalog_bookmark_commit_conn): the executor
 * uses it to advance a bookmark in the transaction that publishes a load into
 * the catalog's own database, so the two commit together or not at all.
 */
#include <stdbool.h>
#include <string.h>

#include "alloc.h"
#include "catalog.h"
#include "catalog_internal.h"
#include "catalog_sql.h"

#define SL_CATALOG_JOB_NAME_MAX 255 /* Glue's limit; checked again by the table */
#define SL_CATALOG_RUN_ID_MAX 255   /* "jr_" + 64 hex + "_attempt_<n>" fits easily */

/* ---- Checks ---- */

static int is_job_char(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '_' || ch == '.' || ch == '-';
}

/* ^[A-Za-z0-9_.-]{1,255}$ */
static int check_job(const char *job, struct sl_err *err)
{
    size_t n = 0;

    if (!job || !*job)
        return sl_err_set(err, SL_ECONFIG, "job name is empty");
    for (const char *p = job; *p; p++, n++) {
        if (n == SL_CATALOG_JOB_NAME_MAX)
            return sl_err_set(err, SL_ECONFIG, "job name \"%.32s...\" is longer than %d bytes",
                              job, SL_CATALOG_JOB_NAME_MAX);
        if (!is_job_char((unsigned char)*p))
            return sl_err_set(err, SL_ECONFIG,
                              "invalid job name \"%.64s\": only letters, digits, '_', '.' and "
                              "'-' are allowed",
                              job);
    }
    return SL_OK;
}

static int check_run_id(const char *run_id, struct sl_err *err)
{
    if (!run_id || !*run_id)
        return sl_err_set(err, SL_ECONFIG, "run id is empty");
    if (strnlen(run_id, SL_CATALOG_RUN_ID_MAX + 1) > SL_CATALOG_RUN_ID_MAX)
        return sl_err_set(err, SL_ECONFIG, "run id \"%.32s...\" is longer than %d bytes", run_id,
                          SL_CATALOG_RUN_ID_MAX);
    return SL_OK;
}

/* ---- Get ---- */

void sl_catalog_bookmark_free(struct sl_catalog_bookmark *b)
{
    if (!b)
        return;
    sl_free(b->job_name);
    sl_free(b->run_id);
    sl_free(b->previous_run_id);
    sl_free(b->state);
    sl_free(b);
}

/* Fills b from a row of SL_CATALOG_SQL_BOOKMARK_COLS. */
static int bookmark_from_row(struct sl_catalog_bookmark *b, const PGresult *r, int row,
                             struct sl_err *err)
{
    b->version = (int)sl_catalog_get_i64(r, row, 1);
    b->run = (int)sl_catalog_get_i64(r, row, 2);
    b->attempt = (int)sl_catalog_get_i64(r, row, 3);
    b->updated_ms = sl_catalog_get_i64(r, row, 7);
    if (sl_catalog_get_str(r, row, 0, &b->job_name, err) != SL_OK ||
        sl_catalog_get_str(r, row, 4, &b->run_id, err) != SL_OK ||
        sl_catalog_get_str(r, row, 5, &b->previous_run_id, err) != SL_OK ||
        sl_catalog_get_str(r, row, 6, &b->state, err) != SL_OK)
        return err->code;
    return SL_OK;
}

int sl_catalog_bookmark_get(struct sl_catalog *c, const char *job,
                            struct sl_catalog_bookmark **out, struct sl_err *err)
{
    struct sl_catalog_bookmark *b = NULL;
    PGresult *r = NULL;

    *out = NULL;
    if (check_job(job, err) != SL_OK)
        goto fail;
    const char *args[] = { job };
    r = sl_catalog_query(c->pg, SL_CATALOG_SQL_BOOKMARK_GET, 1, args, err);
    if (!r)
        goto fail;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return sl_err_set(err, SL_ENOTFOUND, "no bookmark for job \"%s\"", job);
    }
    b = sl_calloc(1, sizeof *b);
    if (!b) {
        sl_err_set(err, SL_ENOMEM, "out of memory");
        goto fail;
    }
    if (bookmark_from_row(b, r, 0, err) != SL_OK)
        goto fail;
    PQclear(r);
    *out = b;
    return SL_OK;
fail:
    PQclear(r);
    sl_catalog_bookmark_free(b);
    return sl_err_prefix(err, "get bookmark of job \"%s\"", job ? job : "");
}

/* ---- Commit ---- */

/* The compare-and-set found another version: says which (inside the
 * transaction, so the answer is what the failed statement saw or newer). */
static int changed(PGconn *pg, const char *job, int expected, struct sl_err *err)
{
    const char *args[] = { job };
    PGresult *r = sl_catalog_query(pg, SL_CATALOG_SQL_BOOKMARK_VERSION, 1, args, err);

    if (!r)
        return err->code;
    if (PQntuples(r) == 0)
        sl_err_set(err, SL_ECHANGED,
                   "the bookmark is gone, not at version %d (deleted by another session)",
                   expected);
    else
        sl_err_set(err, SL_ECHANGED,
                   "the bookmark is at version %d, not %d (another run committed or reset it)",
                   (int)sl_catalog_get_i64(r, 0, 0), expected);
    PQclear(r);
    return SL_ECHANGED;
}

/* Is the bookmark table in pg's database? SL_ECONFIG when it is not. */
static int check_bookmark_table(PGconn *pg, struct sl_err *err)
{
    PGresult *r = sl_catalog_query(pg, SL_CATALOG_SQL_BOOKMARK_TABLE_EXISTS, 0, NULL, err);

    if (!r)
        return err->code;
    int found = sl_catalog_get_bool(r, 0, 0);
    PQclear(r);
    if (!found)
        return sl_err_set(err, SL_ECONFIG,
                          "this database has no catalog schema \"sluice\" (bookmarks live in "
                          "the catalog's database)");
    return SL_OK;
}

/* The compare-and-set of both commit functions, on c's connection: in a
 * transaction of its own when none is open, else in a savepoint of the open
 * one (sl_catalog_tx_begin), so a failure undoes only its own work. When
 * conn_only, c is a borrowed view of the caller's connection, which must be
 * inside a transaction and hold the catalog's tables. */
static int commit_on(struct sl_catalog *c, bool conn_only, const char *job, const char *run_id,
                     int expected_version, const char *state_json, int *new_version,
                     struct sl_err *err)
{
    char expected[24];
    PGresult *r = NULL;
    int own = 0, in_tx = 0;
    int version;

    if (new_version)
        *new_version = 0;
    if (check_job(job, err) != SL_OK || check_run_id(run_id, err) != SL_OK)
        goto fail;
    if (expected_version < 0) {
        sl_err_set(err, SL_ECONFIG, "expected version %d is negative", expected_version);
        goto fail;
    }
    if (!state_json) {
        sl_err_set(err, SL_ECONFIG, "no state given");
        goto fail;
    }
    if (conn_only) {
        if (PQtransactionStatus(c->pg) != PQTRANS_INTRANS) {
            sl_err_set(err, SL_EINTERNAL, "the connection is not inside a usable transaction");
            goto fail;
        }
        if (check_bookmark_table(c->pg, err) != SL_OK)
            goto fail;
    }
    if (sl_catalog_tx_begin(c, &own, err) != SL_OK)
        goto fail;
    in_tx = 1;
    const char *args[] = { job, run_id, state_json,
                           sl_catalog_i64_str(expected_version, expected) };
    if (expected_version == 0)
        r = sl_catalog_query(c->pg, SL_CATALOG_SQL_BOOKMARK_INSERT, 3, args, err);
    else
        r = sl_catalog_query(c->pg, SL_CATALOG_SQL_BOOKMARK_UPDATE, 4, args, err);
    if (!r) {
        /* the name is checked above: a data error here is the jsonb cast */
        if (err->code == SL_ECONFIG)
            sl_err_prefix(err, "state is not valid JSON");
        goto fail;
    }
    if (PQntuples(r) == 0) {
        changed(c->pg, job, expected_version, err);
        goto fail;
    }
    version = (int)sl_catalog_get_i64(r, 0, 0);
    PQclear(r);
    r = NULL;
    const char *hargs[] = { job, run_id };
    if (sl_catalog_exec(c->pg, SL_CATALOG_SQL_BOOKMARK_HISTORY_ADD, 2, hargs, err) != SL_OK)
        goto fail;
    in_tx = 0;
    if (sl_catalog_tx_commit(c, own, err) != SL_OK)
        goto fail;
    if (new_version)
        *new_version = version;
    return SL_OK;
fail:
    PQclear(r);
    if (in_tx)
        sl_catalog_tx_rollback(c, own);
    return sl_err_prefix(err, "commit bookmark of job \"%s\"", job ? job : "");
}

int sl_catalog_bookmark_commit(struct sl_catalog *c, const char *job, const char *run_id,
                               int expected_version, const char *state_json, int *new_version,
                               struct sl_err *err)
{
    return commit_on(c, false, job, run_id, expected_version, state_json, new_version, err);
}

int sl_catalog_bookmark_commit_conn(PGconn *pg, const char *job, const char *run_id,
                                    int expected_version, const char *state_json, int *new_version,
                                    struct sl_err *err)
{
    /* a view of the caller's connection for the shared helpers: borrowed, never freed */
    struct sl_catalog view = { .pg = pg, .user_tx = 0 };

    if (!pg) {
        if (new_version)
            *new_version = 0;
        sl_err_set(err, SL_EINTERNAL, "no connection");
        return sl_err_prefix(err, "commit bookmark of job \"%s\"", job ? job : "");
    }
    return commit_on(&view, true, job, run_id, expected_version, state_json, new_version, err);
}

/* ---- Reset and delete ---- */

int sl_catalog_bookmark_reset(struct sl_catalog *c, const char *job, const char *run_id,
                              struct sl_err *err)
{
    PGresult *r = NULL;
    int own = 0, in_tx = 0;

    if (check_job(job, err) != SL_OK || (run_id && check_run_id(run_id, err) != SL_OK))
        goto fail;
    if (sl_catalog_tx_begin(c, &own, err) != SL_OK)
        goto fail;
    in_tx = 1;
    const char *args[] = { job, run_id };
    if (!run_id) {
        r = sl_catalog_query(c->pg, SL_CATALOG_SQL_BOOKMARK_RESET, 1, args, err);
        if (!r)
            goto fail;
        if (PQntuples(r) == 0) {
            /* no bookmark: nothing to reset, nothing written */
            PQclear(r);
            in_tx = 0;
            if (sl_catalog_tx_commit(c, own, err) != SL_OK)
                goto fail;
            return SL_OK;
        }
    } else {
        /* lock first, so the rewind's snapshot sees every committed history row */
        r = sl_catalog_query(c->pg, SL_CATALOG_SQL_BOOKMARK_LOCK, 1, args, err);
        if (!r)
            goto fail;
        if (PQntuples(r) == 0) {
            sl_err_set(err, SL_ENOTFOUND, "the job has no bookmark");
            goto fail;
        }
        PQclear(r);
        r = sl_catalog_query(c->pg, SL_CATALOG_SQL_BOOKMARK_REWIND, 2, args, err);
        if (!r)
            goto fail;
        if (PQntuples(r) == 0) {
            sl_err_set(err, SL_ENOTFOUND, "run \"%s\" never committed one", run_id);
            goto fail;
        }
    }
    PQclear(r);
    r = NULL;
    const char *hargs[] = { job, NULL }; /* not a run's commit: no run id to rewind to */
    if (sl_catalog_exec(c->pg, SL_CATALOG_SQL_BOOKMARK_HISTORY_ADD, 2, hargs, err) != SL_OK)
        goto fail;
    in_tx = 0;
    if (sl_catalog_tx_commit(c, own, err) != SL_OK)
        goto fail;
    return SL_OK;
fail:
    PQclear(r);
    if (in_tx)
        sl_catalog_tx_rollback(c, own);
    return sl_err_prefix(err, "reset bookmark of job \"%s\"", job ? job : "");
}

int sl_catalog_bookmark_delete(struct sl_catalog *c, const char *job, struct sl_err *err)
{
    if (check_job(job, err) != SL_OK)
        return sl_err_prefix(err, "delete bookmark of job \"%s\"", job ? job : "");
    const char *args[] = { job };
    if (sl_catalog_exec(c->pg, SL_CATALOG_SQL_BOOKMARK_DELETE, 1, args, err) != SL_OK)
        return sl_err_prefix(err, "delete bookmark of job \"%s\"", job);
    return SL_OK;
}
