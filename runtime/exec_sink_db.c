/*
 * runtime/exec_sink_db.c - write{} to a database (issue 5): the executor's
 * side of runtime/pgload.h. The load begins when the first rows reach the
 * write (their columns are checked against the target before any row moves);
 * every task streams its rows with COPY into the staging table on its own
 * connection and commits them at the task's end; when the whole run has
 * succeeded, xsink_publish makes them visible in one transaction; a failed
 * run drops the staging table and leaves the target as it was. When the
 * write is the run's bookmark_write (exec.c), that transaction also commits
 * the job bookmark (pgload's in_publish hook), so both happen or neither.
 *
 * redshift:// targets are written as gzip'd CSV files under
 * <stage>/<run_id>/ by the file sink (exec_sink.c), then a Redshift manifest
 * (manifest.json) and the load SQL (load.sql) are written next to them, and,
 * unless write{execute = false}, the SQL runs on the target connection.
 */
#include "exec_sink_db.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "alloc.h"

struct xsinkdb {
    struct sl_pgload_target target;
    struct sl_pgload_opts po;
    char **keys;                /* owned: merge keys */
    size_t n_keys;
    pthread_mutex_t mu;
    struct sl_pgload *load;     /* begun by the first batch */
    const struct sl_rschema *schema; /* the rows' columns the load began with */
    bool failed_begin;
    struct sl_err begin_err;
    uint64_t rows_published;
};

/* Per worker: the current task's stream. */
struct xsinkdb_local {
    struct sl_pgload_stream *stream;
    uint64_t sent;
    uint64_t *order;            /* owned: per row of a batch */
    size_t cap_order;
};

static const char *opt(const struct sl_plan_node *pn, const char *key)
{
    for (size_t i = 0; i < pn->n_options; i++)
        if (strcmp(pn->options[i].key, key) == 0)
            return pn->options[i].value;
    return NULL;
}

/* pgload's in_publish hook of the run's bookmark_write: the job bookmark
 * commits in the publish transaction, on the load's connection. */
static int commit_bookmark(void *ud, PGconn *pg, struct sl_err *err)
{
    return xsource_bookmark_commit_in(ud, pg, err);
}

int xsinkdb_begin(struct xrun *r, int node, struct xsinkdb **out, struct sl_err *err)
{
    const struct sl_plan_node *pn = &r->plan->nodes[node];
    struct xsinkdb *d = sl_calloc(1, sizeof *d);
    *out = d;
    if (!d)
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    pthread_mutex_init(&d->mu, NULL);
    int rc = sl_pgload_target_parse(pn->uri, &d->target, err);
    if (rc != SL_OK)
        return sl_err_prefix(err, "write (line %d)", pn->line), rc;
    const char *mode = opt(pn, "mode");
    d->po.mode = !mode || strcmp(mode, "append") == 0 ? SL_PGLOAD_APPEND
               : strcmp(mode, "overwrite") == 0        ? SL_PGLOAD_OVERWRITE
                                                       : SL_PGLOAD_MERGE;
    const char *v;
    d->po.create = (v = opt(pn, "create")) && strcmp(v, "true") == 0;
    d->po.add_columns = (v = opt(pn, "add_columns")) && strcmp(v, "true") == 0;
    d->po.run_id = r->o->plan.run_id ? r->o->plan.run_id : "run";
    d->po.job = r->o->plan.job;
    d->po.stage_uri = opt(pn, "stage");
    d->po.iam_role = opt(pn, "iam_role");
    if (node == r->bookmark_write) {
        d->po.in_publish = commit_bookmark;
        d->po.in_publish_ud = r;
    }
    if ((v = opt(pn, "keys"))) {
        for (const char *p = v; p;) {
            const char *nl = strchr(p, '\n');
            size_t len = nl ? (size_t)(nl - p) : strlen(p);
            char **k = sl_realloc(d->keys, (d->n_keys + 1) * sizeof *k);
            if (!k)
                return sl_err_set(err, SL_ENOMEM, "out of memory");
            d->keys = k;
            if (!(d->keys[d->n_keys] = sl_strndup(p, len)))
                return sl_err_set(err, SL_ENOMEM, "out of memory");
            d->n_keys++;
            p = nl ? nl + 1 : NULL;
        }
        d->po.keys = (const char *const *)d->keys;
        d->po.n_keys = d->n_keys;
    }
    return SL_OK;
}

/* The load begins with the first batch's columns (once, under the lock). */
static int ensure_load(struct xrun *r, int node, struct xsinkdb *d,
                       const struct sl_rschema *schema, struct sl_err *err)
{
    int rc = SL_OK;
    pthread_mutex_lock(&d->mu);
    if (d->failed_begin) {
        *err = d->begin_err;
        rc = err->code;
    } else if (!d->load) {
        rc = sl_pgload_begin(&d->target, &d->po, schema, &d->load, err);
        if (rc == SL_OK) {
            d->schema = schema;
        } else {
            sl_err_prefix(err, "write (line %d) to %s.%s", r->plan->nodes[node].line,
                          d->target.schema, d->target.table);
            d->failed_begin = true;
            d->begin_err = *err;
        }
    }
    pthread_mutex_unlock(&d->mu);
    return rc;
}

struct bad_ctx {
    struct xworker *w;
    int node;
    const struct sl_batch *b;
};

static int on_bad(void *ud, uint32_t row, int column, const char *reason)
{
    struct bad_ctx *c = ud;
    struct sl_err e = {0};
    const struct sl_row_origin *o = &c->b->origins[row];
    return xrun_bad_row(c->w->r, c->node, o->object, o->line, column, reason, NULL, 0, &e);
}

int xsinkdb_consume(struct xworker *w, int node, struct xsinkdb *d, struct sl_batch *b,
                    struct sl_err *err)
{
    int rc = ensure_load(w->r, node, d, b->schema, err);
    if (rc != SL_OK)
        return rc;
    struct xsinkdb_local *l = w->nstate[node];
    if (!l && !(l = w->nstate[node] = sl_calloc(1, sizeof *l)))
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    if (!l->stream && (rc = sl_pgload_stream_open(d->load, &l->stream, err)) != SL_OK)
        return rc;
    if (l->cap_order < b->n_rows) {
        uint64_t *o = sl_realloc(l->order, b->n_rows * sizeof *o);
        if (!o)
            return sl_err_set(err, SL_ENOMEM, "out of memory");
        l->order = o;
        l->cap_order = b->n_rows;
    }
    for (uint32_t i = 0; i < b->n_rows; i++)
        l->order[i] = w->task << 32 | (w->row_seq++ & 0xffffffffu);
    struct bad_ctx bc = {w, node, b};
    uint64_t sent = 0;
    rc = sl_pgload_stream_write(l->stream, b, l->order, on_bad, &bc, &sent, err);
    l->sent += sent;
    return rc;
}

int xsinkdb_task_end(struct xworker *w, int node, bool ok, struct sl_err *err)
{
    struct xsinkdb_local *l = w->nstate[node];
    int rc = SL_OK;
    if (!l || !l->stream)
        return SL_OK;
    if (ok) {
        rc = sl_pgload_stream_commit(l->stream, err);
        if (rc == SL_OK) {
            atomic_fetch_add(&w->r->rows_written, l->sent);
            atomic_fetch_add(&w->r->nodes[node].rows_out, l->sent);
        }
    } else {
        sl_pgload_stream_abort(l->stream);
    }
    l->stream = NULL;
    l->sent = 0;
    return rc;
}

void xsinkdb_worker_free(struct xworker *w, int node)
{
    struct xsinkdb_local *l = w->nstate[node];
    if (!l)
        return;
    sl_pgload_stream_abort(l->stream);
    sl_free(l->order);
    sl_free(l);
    w->nstate[node] = NULL;
}

int xsinkdb_publish(struct xrun *r, int node, struct xsinkdb *d, struct sl_err *err)
{
    if (!d->load) /* no row reached the write: nothing to change */
        return SL_OK;
    uint64_t n = 0;
    int rc = sl_pgload_publish(d->load, &n, err);
    if (rc != SL_OK) {
        /* the hook may have run, but its work rolled back with the publish */
        if (node == r->bookmark_write)
            r->bookmark_in_publish = false;
        return sl_err_prefix(err, "write (line %d) to %s.%s", r->plan->nodes[node].line,
                             d->target.schema, d->target.table),
               rc;
    }
    d->rows_published = n;
    atomic_store(&r->nodes[node].objects, 1);
    return SL_OK;
}

void xsinkdb_discard(struct xrun *r, int node, struct xsinkdb *d)
{
    (void)r;
    (void)node;
    if (d && d->load)
        sl_pgload_abort(d->load);
}

void xsinkdb_free(struct xsinkdb *d)
{
    if (!d)
        return;
    sl_pgload_free(d->load);
    sl_pgload_target_cleanup(&d->target);
    for (size_t i = 0; i < d->n_keys; i++)
        sl_free(d->keys[i]);
    sl_free(d->keys);
    pthread_mutex_destroy(&d->mu);
    sl_free(d);
}

/* ---- Redshift ---- */

static int run_sql(const char *conninfo, const char *sql, struct sl_err *err)
{
    PGconn *pg = PQconnectdb(conninfo);
    int rc = SL_OK;
    if (PQstatus(pg) != CONNECTION_OK) {
        rc = sl_err_set(err, SL_ETRANSIENT, "connect: %s", PQerrorMessage(pg));
    } else {
        PGresult *res = PQexec(pg, sql);
        ExecStatusType st = PQresultStatus(res);
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
            rc = sl_err_set(err, SL_EIO, "load SQL: %s", PQresultErrorMessage(res));
        PQclear(res);
    }
    PQfinish(pg);
    return rc;
}

int xsinkdb_redshift_publish(struct xrun *r, int node, struct xsinkdb *d, const char *root_uri,
                             const char *const *file_uris, size_t n_files,
                             const struct sl_rschema *schema, struct sl_err *err)
{
    const struct sl_plan_node *pn = &r->plan->nodes[node];
    json_t *m = json_object(), *entries = json_array();
    if (!m || !entries) {
        json_decref(m);
        json_decref(entries);
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n_files; i++) {
        json_t *e = json_object();
        json_object_set_new(e, "url", json_string(file_uris[i]));
        json_object_set_new(e, "mandatory", json_true());
        json_array_append_new(entries, e);
    }
    json_object_set_new(m, "entries", entries);
    char *text = json_dumps(m, JSON_INDENT(1) | JSON_ENSURE_ASCII);
    json_decref(m);
    char *manifest_uri = sl_asprintf("%smanifest.json", root_uri);
    char *sql_uri = sl_asprintf("%sload.sql", root_uri);
    char *sql = NULL, *key = NULL;
    int rc = text && manifest_uri && sql_uri ? SL_OK : sl_err_set(err, SL_ENOMEM, "out of memory");
    struct sl_store *st = NULL;
    if (rc == SL_OK && !(st = sl_store_open(manifest_uri, &key, err)))
        rc = err->code;
    if (rc == SL_OK)
        rc = sl_store_put(st, key, text, strlen(text), err);
    if (rc == SL_OK)
        rc = sl_pgload_redshift_sql(&d->target, &d->po, schema, manifest_uri, &sql, err);
    if (rc == SL_OK) {
        sl_free(key);
        key = NULL;
        sl_store_free(st);
        st = sl_store_open(sql_uri, &key, err);
        rc = st ? sl_store_put(st, key, sql, strlen(sql), err) : err->code;
    }
    const char *exec = opt(pn, "execute");
    if (rc == SL_OK && !(exec && strcmp(exec, "false") == 0) && n_files > 0)
        rc = run_sql(d->target.conninfo, sql, err);
    if (rc != SL_OK)
        sl_err_prefix(err, "write (line %d) to redshift %s.%s", pn->line, d->target.schema,
                      d->target.table);
    free(text);
    sl_free(manifest_uri);
    sl_free(sql_uri);
    sl_free(sql);
    sl_free(key);
    sl_store_free(st);
    return rc;
}
