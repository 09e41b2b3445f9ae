/*
 * runtime/catalog_job.c - job definitions in the catalog (Glue Job,
 * spec/aws-api.md §3.5): create, replace, get, list by name and delete. The
 * table is created by migration 3 (catalog_migrations.h). What the JSON
 * members mean (arguments, the script location) is the scheduler's business;
 * here they are checked to be JSON objects and stored as jsonb. Deleting a job
 * also deletes its bookmark (catalog_bookmark.c) in the same transaction.
 */
#include <jansson.h>
#include <string.h>

#include "alloc.h"
#include "catalog.h"
#include "catalog_internal.h"
#include "catalog_run.h"
#include "catalog_sql.h"

#define SL_CATALOG_JOB_NAME_MAX 255 /* Glue's limit; checked again by the table */

/* ---- Checks ---- */

/* ^[A-Za-z0-9_.-]{1,255}$, the rule of the bookmark table */
static int check_name(const char *name, struct sl_err *err)
{
    size_t n = 0;

    if (!name || !*name)
        return sl_err_set(err, SL_ECONFIG, "job name is empty");
    for (const unsigned char *p = (const unsigned char *)name; *p; p++, n++) {
        if (n == SL_CATALOG_JOB_NAME_MAX)
            return sl_err_set(err, SL_ECONFIG, "job name \"%.32s...\" is longer than %d bytes",
                              name, SL_CATALOG_JOB_NAME_MAX);
        int ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                 (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' || *p == '-';
        if (!ok)
            return sl_err_set(err, SL_ECONFIG,
                              "invalid job name \"%.64s\": only letters, digits, '_', '.' and "
                              "'-' are allowed",
                              name);
    }
    return SL_OK;
}

/* text (may be NULL) must be a JSON object; with strings_only, of strings. */
static int check_object(const char *what, const char *text, int strings_only, json_t **out,
                        struct sl_err *err)
{
    json_t *o = NULL;
    const char *k;
    json_t *v;

    *out = NULL;
    if (!text)
        return SL_OK;
    if (sl_catalog_json_parse_object(what, text, &o, err) != SL_OK)
        return err->code;
    if (strings_only)
        json_object_foreach(o, k, v)
        {
            if (!json_is_string(v)) { /* k lives in o: message first, then free */
                sl_err_set(err, SL_ECONFIG, "%s: value of \"%.64s\" is not a string", what, k);
                json_decref(o);
                return SL_ECONFIG;
            }
        }
    *out = o;
    return SL_OK;
}

static int check_job(const struct sl_catalog_job *j, struct sl_err *err)
{
    json_t *cmd = NULL, *o = NULL;
    int rc = SL_OK;

    if (check_name(j->name, err) != SL_OK)
        return err->code;
    if (!j->command)
        return sl_err_set(err, SL_ECONFIG, "no command given");
    if (check_object("command", j->command, 0, &cmd, err) != SL_OK)
        return err->code;
    const json_t *loc = json_object_get(cmd, "ScriptLocation");
    if (!json_is_string(loc) || json_string_length(loc) == 0)
        rc = sl_err_set(err, SL_ECONFIG, "command has no ScriptLocation");
    json_decref(cmd);
    if (rc != SL_OK)
        return rc;
    if (check_object("default arguments", j->default_arguments, 1, &o, err) != SL_OK)
        return err->code;
    json_decref(o);
    if (check_object("non-overridable arguments", j->non_overridable_arguments, 1, &o, err) !=
        SL_OK)
        return err->code;
    json_decref(o);
    if (check_object("extra members", j->extra, 0, &o, err) != SL_OK)
        return err->code;
    json_decref(o);
    if (j->max_concurrent_runs < 0 || j->timeout_minutes < 0 || j->max_retries < 0 ||
        j->number_of_workers < 0)
        return sl_err_set(err, SL_ECONFIG, "a count or timeout is negative");
    if (j->source && strcmp(j->source, "api") != 0 &&
        (strncmp(j->source, "file:", 5) != 0 || !j->source[5]))
        return sl_err_set(err, SL_ECONFIG, "source \"%.64s\" is neither \"api\" nor \"file:PATH\"",
                          j->source);
    return SL_OK;
}

/* ---- Put and update ---- */

/* Runs INSERT or UPDATE with the 15 parameters of j -> 1 row, 0 rows, or NULL. */
static PGresult *write_job(struct sl_catalog *c, const char *sql, const struct sl_catalog_job *j,
                           struct sl_err *err)
{
    char conc[24], timeout[24], retries[24], workers[24];
    const char *args[] = {
        j->name,
        j->description,
        j->role,
        j->command,
        j->default_arguments ? j->default_arguments : "{}",
        j->non_overridable_arguments ? j->non_overridable_arguments : "{}",
        sl_catalog_i64_str(j->max_concurrent_runs ? j->max_concurrent_runs : 1, conc),
        j->timeout_minutes ? sl_catalog_i64_str(j->timeout_minutes, timeout) : NULL,
        sl_catalog_i64_str(j->max_retries, retries),
        j->glue_version,
        j->worker_type,
        j->number_of_workers ? sl_catalog_i64_str(j->number_of_workers, workers) : NULL,
        j->schedule,
        j->extra ? j->extra : "{}",
        j->source ? j->source : "api",
    };
    return sl_catalog_query_guarded(c, sql, 15, args, err);
}

int sl_catalog_job_put(struct sl_catalog *c, const struct sl_catalog_job *j, struct sl_err *err)
{
    PGresult *r = NULL;

    if (check_job(j, err) != SL_OK)
        goto fail;
    r = write_job(c, SL_CATALOG_SQL_JOB_INSERT, j, err);
    if (!r)
        goto fail;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return sl_err_set(err, SL_EEXIST, "job \"%s\" already exists", j->name);
    }
    PQclear(r);
    return SL_OK;
fail:
    PQclear(r);
    return sl_err_prefix(err, "create job \"%s\"", j->name ? j->name : "");
}

int sl_catalog_job_update(struct sl_catalog *c, const struct sl_catalog_job *j,
                          struct sl_err *err)
{
    PGresult *r = NULL;

    if (check_job(j, err) != SL_OK)
        goto fail;
    r = write_job(c, SL_CATALOG_SQL_JOB_UPDATE, j, err);
    if (!r)
        goto fail;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return sl_err_set(err, SL_ENOTFOUND, "job \"%s\" not found", j->name);
    }
    PQclear(r);
    return SL_OK;
fail:
    PQclear(r);
    return sl_err_prefix(err, "update job \"%s\"", j->name ? j->name : "");
}

/* ---- Get and list ---- */

void sl_catalog_job_cleanup(struct sl_catalog_job *j)
{
    if (!j)
        return;
    sl_free(j->name);
    sl_free(j->description);
    sl_free(j->role);
    sl_free(j->command);
    sl_free(j->default_arguments);
    sl_free(j->non_overridable_arguments);
    sl_free(j->glue_version);
    sl_free(j->worker_type);
    sl_free(j->schedule);
    sl_free(j->extra);
    sl_free(j->source);
    memset(j, 0, sizeof *j);
}

void sl_catalog_job_free(struct sl_catalog_job *j)
{
    sl_catalog_job_cleanup(j);
    sl_free(j);
}

void sl_catalog_job_list_free(struct sl_catalog_job *jobs, size_t n_jobs)
{
    for (size_t i = 0; jobs && i < n_jobs; i++)
        sl_catalog_job_cleanup(&jobs[i]);
    sl_free(jobs);
}

/* Fills j from a row of SL_CATALOG_SQL_JOB_COLS. */
static int job_from_row(struct sl_catalog_job *j, const PGresult *r, int row, struct sl_err *err)
{
    j->max_concurrent_runs = (int)sl_catalog_get_i64(r, row, 6);
    j->timeout_minutes = (int)sl_catalog_get_i64(r, row, 7);
    j->max_retries = (int)sl_catalog_get_i64(r, row, 8);
    j->number_of_workers = (int)sl_catalog_get_i64(r, row, 11);
    j->created_ms = sl_catalog_get_i64(r, row, 15);
    j->modified_ms = sl_catalog_get_i64(r, row, 16);
    if (sl_catalog_get_str(r, row, 0, &j->name, err) != SL_OK ||
        sl_catalog_get_str(r, row, 1, &j->description, err) != SL_OK ||
        sl_catalog_get_str(r, row, 2, &j->role, err) != SL_OK ||
        sl_catalog_get_str(r, row, 3, &j->command, err) != SL_OK ||
        sl_catalog_get_str(r, row, 4, &j->default_arguments, err) != SL_OK ||
        sl_catalog_get_str(r, row, 5, &j->non_overridable_arguments, err) != SL_OK ||
        sl_catalog_get_str(r, row, 9, &j->glue_version, err) != SL_OK ||
        sl_catalog_get_str(r, row, 10, &j->worker_type, err) != SL_OK ||
        sl_catalog_get_str(r, row, 12, &j->schedule, err) != SL_OK ||
        sl_catalog_get_str(r, row, 13, &j->extra, err) != SL_OK ||
        sl_catalog_get_str(r, row, 14, &j->source, err) != SL_OK)
        return err->code;
    return SL_OK;
}

int sl_catalog_job_get(struct sl_catalog *c, const char *name, struct sl_catalog_job **out,
                       struct sl_err *err)
{
    struct sl_catalog_job *j = NULL;
    PGresult *r = NULL;

    *out = NULL;
    if (check_name(name, err) != SL_OK)
        goto fail;
    const char *args[] = { name };
    r = sl_catalog_query(c->pg, SL_CATALOG_SQL_JOB_GET, 1, args, err);
    if (!r)
        goto fail;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return sl_err_set(err, SL_ENOTFOUND, "job \"%s\" not found", name);
    }
    j = sl_calloc(1, sizeof *j);
    if (!j) {
        sl_err_set(err, SL_ENOMEM, "out of memory");
        goto fail;
    }
    if (job_from_row(j, r, 0, err) != SL_OK)
        goto fail;
    PQclear(r);
    *out = j;
    return SL_OK;
fail:
    PQclear(r);
    sl_catalog_job_free(j);
    return sl_err_prefix(err, "get job \"%s\"", name ? name : "");
}

int sl_catalog_job_list(struct sl_catalog *c, const char *after, size_t limit,
                        struct sl_catalog_job **out, size_t *n_out, struct sl_err *err)
{
    struct sl_catalog_job *jobs = NULL;
    size_t n = 0;
    char lim[24];
    const char *args[] = { after, limit ? sl_catalog_i64_str((int64_t)limit, lim) : NULL };
    PGresult *r = sl_catalog_query(c->pg, SL_CATALOG_SQL_JOB_LIST, 2, args, err);

    *out = NULL;
    *n_out = 0;
    if (!r)
        goto fail;
    jobs = sl_calloc((size_t)PQntuples(r) + 1, sizeof *jobs);
    if (!jobs) {
        sl_err_set(err, SL_ENOMEM, "out of memory");
        goto fail;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        n++;
        if (job_from_row(&jobs[i], r, i, err) != SL_OK)
            goto fail;
    }
    PQclear(r);
    *out = jobs;
    *n_out = n;
    return SL_OK;
fail:
    PQclear(r);
    sl_catalog_job_list_free(jobs, n);
    return sl_err_prefix(err, "list jobs");
}

/* ---- Delete ---- */

int sl_catalog_job_delete(struct sl_catalog *c, const char *name, int *deleted,
                          struct sl_err *err)
{
    PGresult *r = NULL;
    int own = 0, in_tx = 0, found;

    if (deleted)
        *deleted = 0;
    if (check_name(name, err) != SL_OK)
        goto fail;
    if (sl_catalog_tx_begin(c, &own, err) != SL_OK)
        goto fail;
    in_tx = 1;
    const char *args[] = { name };
    r = sl_catalog_query(c->pg, SL_CATALOG_SQL_JOB_DELETE, 1, args, err);
    if (!r)
        goto fail;
    found = PQntuples(r) > 0;
    PQclear(r);
    r = NULL;
    if (sl_catalog_bookmark_delete(c, name, err) != SL_OK ||
        sl_catalog_run_forget(c, SL_RUN_JOB, name, err) != SL_OK)
        goto fail;
    in_tx = 0;
    if (sl_catalog_tx_commit(c, own, err) != SL_OK)
        goto fail;
    if (deleted)
        *deleted = found;
    return SL_OK;
fail:
    PQclear(r);
    if (in_tx)
        sl_catalog_tx_rollback(c, own);
    return sl_err_prefix(err, "delete job \"%s\"", name ? name : "");
}
