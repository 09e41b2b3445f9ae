/*
 * runtime/catalog_table.c - catalog tables: building them in memory, put
 * (create or update, with versions when the schema changes), get, list,
 * delete, state and version history. The schema hash and the diff a version
 * records are computed in catalog_schema.c; partitions are in
 * catalog_partition.c.
 */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "catalog.h"
#include "catalog_internal.h"
#include "catalog_sql.h"

/* ---- In memory ---- */

void sl_catalog_column_cleanup(struct sl_catalog_column *col)
{
    sl_free(col->name);
    sl_free(col->type);
    sl_free(col->comment);
    sl_free(col->stats);
    sl_catalog_params_cleanup(&col->params);
    memset(col, 0, sizeof *col);
}

static void columns_free(struct sl_catalog_column *cols, size_t n)
{
    for (size_t i = 0; cols && i < n; i++)
        sl_catalog_column_cleanup(&cols[i]);
    sl_free(cols);
}

void sl_catalog_table_init(struct sl_catalog_table *t)
{
    memset(t, 0, sizeof *t);
}

void sl_catalog_table_cleanup(struct sl_catalog_table *t)
{
    if (!t)
        return;
    sl_free(t->database);
    sl_free(t->name);
    sl_free(t->location);
    sl_free(t->table_type);
    sl_free(t->classification);
    sl_free(t->schema_hash);
    sl_free(t->created_by_crawler);
    sl_catalog_params_cleanup(&t->params);
    columns_free(t->columns, t->n_columns);
    columns_free(t->partition_keys, t->n_partition_keys);
    memset(t, 0, sizeof *t);
}

void sl_catalog_table_free(struct sl_catalog_table *t)
{
    sl_catalog_table_cleanup(t);
    sl_free(t);
}

void sl_catalog_table_list_free(struct sl_catalog_table *tables, size_t n_tables)
{
    for (size_t i = 0; tables && i < n_tables; i++)
        sl_catalog_table_cleanup(&tables[i]);
    sl_free(tables);
}

static int push_column(struct sl_catalog_column **arr, size_t *n, const char *name,
                       const char *type, const char *comment, struct sl_err *err)
{
    struct sl_catalog_column *a = sl_realloc(*arr, (*n + 1) * sizeof *a);
    struct sl_catalog_column *col;

    if (!a)
        return sl_err_set(err, SL_ENOMEM, "add column: out of memory");
    *arr = a;
    col = &a[*n];
    memset(col, 0, sizeof *col);
    col->name = sl_strdup(name ? name : "");
    col->type = sl_strdup(type ? type : "");
    col->comment = comment ? sl_strdup(comment) : NULL;
    if (!col->name || !col->type || (comment && !col->comment)) {
        sl_catalog_column_cleanup(col);
        return sl_err_set(err, SL_ENOMEM, "add column: out of memory");
    }
    (*n)++;
    return SL_OK;
}

int sl_catalog_table_add_column(struct sl_catalog_table *t, const char *name, const char *type,
                                const char *comment, struct sl_err *err)
{
    return push_column(&t->columns, &t->n_columns, name, type, comment, err);
}

int sl_catalog_table_add_partition_key(struct sl_catalog_table *t, const char *name,
                                       const char *type, struct sl_err *err)
{
    return push_column(&t->partition_keys, &t->n_partition_keys, name, type, NULL, err);
}

int sl_catalog_column_append_row(struct sl_catalog_column **arr, size_t *n, const PGresult *r,
                                 int row, const int cols[5], struct sl_err *err)
{
    struct sl_catalog_column *col;

    if (push_column(arr, n, PQgetvalue(r, row, cols[0]), PQgetvalue(r, row, cols[1]), NULL,
                    err) != SL_OK)
        return err->code;
    col = &(*arr)[*n - 1];
    if (sl_catalog_get_str(r, row, cols[2], &col->comment, err) != SL_OK ||
        sl_catalog_get_params(r, row, cols[3], &col->params, err) != SL_OK ||
        sl_catalog_get_str(r, row, cols[4], &col->stats, err) != SL_OK)
        return err->code;
    return SL_OK;
}

/* ---- Lookups ---- */

int sl_catalog_table_lookup(struct sl_catalog *c, const char *db, const char *table,
                            int64_t *table_id, int *version, size_t *n_keys, struct sl_err *err)
{
    const char *args[] = { db, table };
    PGresult *r = sl_catalog_query(c->pg, SL_CATALOG_SQL_TABLE_LOOKUP, 2, args, err);

    if (!r)
        return err->code;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return sl_err_set(err, SL_ENOTFOUND, "database \"%s\" not found", db);
    }
    if (PQgetisnull(r, 0, 1)) {
        PQclear(r);
        return sl_err_set(err, SL_ENOTFOUND, "table \"%s.%s\" not found", db, table);
    }
    if (table_id)
        *table_id = sl_catalog_get_i64(r, 0, 1);
    if (version)
        *version = (int)sl_catalog_get_i64(r, 0, 2);
    if (n_keys)
        *n_keys = (size_t)sl_catalog_get_i64(r, 0, 3);
    PQclear(r);
    return SL_OK;
}

/* ---- Put ---- */

/* Checks names and types, and that no name is used twice. */
static int validate_columns(const struct sl_catalog_table *t, struct sl_err *err)
{
    size_t n = t->n_columns + t->n_partition_keys;

    for (size_t i = 0; i < n; i++) {
        const struct sl_catalog_column *a =
            i < t->n_columns ? &t->columns[i] : &t->partition_keys[i - t->n_columns];
        if (!a->name || !a->name[0])
            return sl_err_set(err, SL_ECONFIG, "column %zu has no name", i + 1);
        if (!a->type || !a->type[0])
            return sl_err_set(err, SL_ECONFIG, "column \"%s\" has no type", a->name);
        for (size_t j = 0; j < i; j++) {
            const struct sl_catalog_column *b =
                j < t->n_columns ? &t->columns[j] : &t->partition_keys[j - t->n_columns];
            if (strcmp(a->name, b->name) == 0)
                return sl_err_set(err, SL_ECONFIG, "column \"%s\" appears twice", a->name);
        }
    }
    return SL_OK;
}

/* JSON array of {pk, ord, name, type, comment, parameters, stats} for the
 * COLUMNS_INSERT / COLUMNS_UPDATE statements (owned text: sl_free). */
static int columns_json_text(const struct sl_catalog_table *t, char **out, struct sl_err *err)
{
    json_t *arr = json_array();

    *out = NULL;
    if (!arr)
        goto oom;
    for (int pk = 0; pk <= 1; pk++) {
        const struct sl_catalog_column *cols = pk ? t->partition_keys : t->columns;
        size_t n = pk ? t->n_partition_keys : t->n_columns;
        for (size_t i = 0; i < n; i++) {
            json_t *stats = json_null();
            if (cols[i].stats) {
                json_error_t jerr;
                stats = json_loads(cols[i].stats, JSON_DECODE_ANY, &jerr);
                if (!stats) {
                    json_decref(arr);
                    return sl_err_set(err, SL_ECONFIG, "stats of column \"%s\": %s",
                                      cols[i].name, jerr.text);
                }
            }
            json_t *o = json_pack("{sbsIssssso*sosO}", "pk", pk, "ord", (json_int_t)(i + 1),
                                  "name", cols[i].name, "type", cols[i].type, "comment",
                                  cols[i].comment ? json_string(cols[i].comment) : NULL,
                                  "parameters", sl_catalog_params_to_json(&cols[i].params),
                                  "stats", stats);
            json_decref(stats);
            if (!o || json_array_append_new(arr, o) != 0)
                goto oom;
        }
    }
    *out = sl_catalog_json_take_text(arr);
    if (!*out)
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    return SL_OK;
oom:
    json_decref(arr);
    return sl_err_set(err, SL_ENOMEM, "out of memory");
}

/* What put sends: normalised names and the JSON texts of parameters, format
 * and columns. */
struct put_ctx {
    char db[SL_CATALOG_DB_NAME_MAX + 1];
    char name[SL_CATALOG_TABLE_NAME_MAX + 1];
    char hash[65];
    const char *table_type;
    const char *state;
    const char *reason;
    char run_id[24];
    const char *run_id_arg; /* run_id or NULL */
    json_t *format;         /* owned */
    char *format_text;      /* owned */
    char *params_text;      /* owned */
    char *columns_text;     /* owned */
};

static void put_ctx_cleanup(struct put_ctx *p)
{
    json_decref(p->format);
    sl_free(p->format_text);
    sl_free(p->params_text);
    sl_free(p->columns_text);
}

static int put_prepare(struct put_ctx *p, const struct sl_catalog_table *t,
                       const struct sl_catalog_put_opts *opts, struct sl_err *err)
{
    struct sl_catalog_params params;

    if (sl_catalog_names_norm(t->database, t->name, p->db, p->name, err) != SL_OK)
        return err->code;
    if (!t->location)
        return sl_err_set(err, SL_ECONFIG, "table has no location");
    if (!t->classification || !t->classification[0])
        return sl_err_set(err, SL_ECONFIG, "table has no classification");
    if (validate_columns(t, err) != SL_OK)
        return err->code;
    if (sl_catalog_schema_hash(t, p->hash, err) != SL_OK)
        return err->code;
    p->table_type = t->table_type && t->table_type[0] ? t->table_type : "EXTERNAL_TABLE";
    p->state = sl_catalog_state_name(t->state);
    p->run_id_arg = NULL;
    if (opts && opts->crawl_run_id > 0)
        p->run_id_arg = sl_catalog_i64_str(opts->crawl_run_id, p->run_id);
    p->reason = opts && opts->reason ? opts->reason : p->run_id_arg ? "crawler" : "user";
    p->format = sl_catalog_format_json(t);
    p->format_text = p->format ? json_dumps(p->format, JSON_COMPACT) : NULL;
    if (p->format_text) {
        /* move from jansson's allocator to ours */
        char *ours = sl_strdup(p->format_text);
        free(p->format_text);
        p->format_text = ours;
    }
    if (!p->format_text)
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    sl_catalog_params_init(&params);
    if (sl_catalog_params_copy(&params, &t->params, err) != SL_OK ||
        sl_catalog_params_set(&params, "classification", t->classification, err) != SL_OK ||
        sl_catalog_params_set(&params, "sluice.schema_hash", p->hash, err) != SL_OK) {
        sl_catalog_params_cleanup(&params);
        return err->code;
    }
    p->params_text = sl_catalog_json_take_text(sl_catalog_params_to_json(&params));
    sl_catalog_params_cleanup(&params);
    if (!p->params_text)
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    return columns_json_text(t, &p->columns_text, err);
}

/* Inserts version 'version' with its columns. */
static int insert_version(struct sl_catalog *c, struct put_ctx *p, const char *table_id,
                          int version, const json_t *change, unsigned kinds, struct sl_err *err)
{
    char ver[24];
    struct sl_buf kinds_lit;
    char *change_text = NULL;
    int rc;

    sl_buf_init(&kinds_lit, 0);
    change_text = sl_catalog_json_take_text(json_incref((json_t *)change));
    if (!change_text) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = sl_catalog_change_kinds_literal(kinds, &kinds_lit, err)) != SL_OK)
        goto done;
    sl_catalog_i64_str(version, ver);
    const char *vargs[] = { table_id,         ver,         p->hash,     p->format_text,
                            kinds_lit.data,   change_text, p->run_id_arg };
    if ((rc = sl_catalog_exec(c->pg, SL_CATALOG_SQL_VERSION_INSERT, 7, vargs, err)) != SL_OK)
        goto done;
    const char *cargs[] = { table_id, ver, p->columns_text };
    rc = sl_catalog_exec(c->pg, SL_CATALOG_SQL_COLUMNS_INSERT, 3, cargs, err);
done:
    sl_buf_cleanup(&kinds_lit);
    sl_free(change_text);
    return rc;
}

/* Reads the columns of a version for the diff. */
static int read_version_columns(struct sl_catalog *c, const char *table_id, int version,
                                struct sl_catalog_table *old, struct sl_err *err)
{
    char ver[24];
    const char *args[] = { table_id, sl_catalog_i64_str(version, ver) };
    PGresult *r = sl_catalog_query(c->pg, SL_CATALOG_SQL_COLUMNS_OF_VERSION, 2, args, err);

    if (!r)
        return err->code;
    for (int i = 0; i < PQntuples(r); i++) {
        int pk = sl_catalog_get_bool(r, i, 0);
        struct sl_catalog_column **arr = pk ? &old->partition_keys : &old->columns;
        size_t *n = pk ? &old->n_partition_keys : &old->n_columns;
        if (push_column(arr, n, PQgetvalue(r, i, 1), PQgetvalue(r, i, 2), NULL, err) != SL_OK ||
            sl_catalog_get_params(r, i, 3, &(*arr)[*n - 1].params, err) != SL_OK) {
            PQclear(r);
            return err->code;
        }
    }
    PQclear(r);
    return SL_OK;
}

/* The table exists and is locked (row r of TABLE_LOCK): update it in place or
 * add a version. */
static int put_existing(struct sl_catalog *c, struct put_ctx *p, const struct sl_catalog_table *t,
                        PGresult *lock, struct sl_catalog_put_result *res, struct sl_err *err)
{
    const char *table_id = PQgetvalue(lock, 0, 0);
    int version = (int)sl_catalog_get_i64(lock, 0, 1);
    const char *old_hash = PQgetvalue(lock, 0, 2);
    struct sl_catalog_table old;
    json_t *old_format = NULL;
    json_t *change = NULL;
    unsigned kinds = 0;
    char ver[24];
    PGresult *r = NULL;
    int rc;

    sl_catalog_table_init(&old);
    res->table_id = sl_catalog_get_i64(lock, 0, 0);
    if (strcmp(old_hash, p->hash) != 0) {
        json_error_t jerr;
        old_format = json_loads(PQgetvalue(lock, 0, 3), 0, &jerr);
        if (!old_format) {
            rc = sl_err_set(err, SL_EINTERNAL, "stored format is not JSON: %s", jerr.text);
            goto done;
        }
        if ((rc = read_version_columns(c, table_id, version, &old, err)) != SL_OK ||
            (rc = sl_catalog_schema_diff(old.columns, old.n_columns, old.partition_keys,
                                         old.n_partition_keys, old_format, t, p->format,
                                         p->reason, &change, &kinds, err)) != SL_OK ||
            (rc = insert_version(c, p, table_id, version + 1, change, kinds, err)) != SL_OK)
            goto done;
        version++;
        res->new_version = 1;
        res->updated = 1;
        res->change_kinds = kinds;
    }
    sl_catalog_i64_str(version, ver);
    const char *uargs[] = { table_id,       t->location, p->table_type, t->classification,
                            p->params_text, p->state,    ver };
    r = sl_catalog_query(c->pg, SL_CATALOG_SQL_TABLE_UPDATE, 7, uargs, err);
    if (!r) {
        rc = err->code;
        goto done;
    }
    int table_changed = PQntuples(r) > 0;
    PQclear(r);
    r = NULL;
    if (!res->new_version) {
        /* same schema: comments, column parameters and stats in place */
        const char *cargs[] = { table_id, ver, p->columns_text };
        r = sl_catalog_query(c->pg, SL_CATALOG_SQL_COLUMNS_UPDATE, 3, cargs, err);
        if (!r) {
            rc = err->code;
            goto done;
        }
        int cols_changed = PQntuples(r) > 0;
        PQclear(r);
        r = NULL;
        if (cols_changed && !table_changed) {
            const char *targs[] = { table_id };
            if ((rc = sl_catalog_exec(c->pg, SL_CATALOG_SQL_TABLE_TOUCH, 1, targs, err)) != SL_OK)
                goto done;
        }
        res->updated = table_changed || cols_changed;
    }
    res->version = version;
    rc = SL_OK;
done:
    PQclear(r);
    json_decref(old_format);
    json_decref(change);
    sl_catalog_table_cleanup(&old);
    return rc;
}

static int put_new(struct sl_catalog *c, struct put_ctx *p, const struct sl_catalog_table *t,
                   const char *table_id, struct sl_catalog_put_result *res, struct sl_err *err)
{
    json_t *change = NULL;
    unsigned kinds = 0;
    int rc;

    if ((rc = sl_catalog_schema_diff(NULL, 0, NULL, 0, NULL, t, p->format, p->reason, &change,
                                     &kinds, err)) != SL_OK)
        return rc;
    rc = insert_version(c, p, table_id, 1, change, kinds, err);
    json_decref(change);
    if (rc != SL_OK)
        return rc;
    res->table_id = strtoll(table_id, NULL, 10);
    res->version = 1;
    res->created = 1;
    res->new_version = 1;
    res->updated = 1;
    res->change_kinds = kinds;
    return SL_OK;
}

int sl_catalog_table_put(struct sl_catalog *c, const struct sl_catalog_table *t,
                         const struct sl_catalog_put_opts *opts,
                         struct sl_catalog_put_result *res, struct sl_err *err)
{
    struct put_ctx p;
    struct sl_catalog_put_result local;
    PGresult *r = NULL;
    char db_id[24];
    int own = 0, in_tx = 0;

    memset(&p, 0, sizeof p);
    if (!res)
        res = &local;
    memset(res, 0, sizeof *res);
    if (put_prepare(&p, t, opts, err) != SL_OK)
        goto fail;
    if (sl_catalog_tx_begin(c, &own, err) != SL_OK)
        goto fail;
    in_tx = 1;

    const char *dargs[] = { p.db };
    r = sl_catalog_query(c->pg, SL_CATALOG_SQL_DB_LOCK, 1, dargs, err);
    if (!r)
        goto fail;
    if (PQntuples(r) == 0) {
        sl_err_set(err, SL_ENOTFOUND, "database \"%s\" not found", p.db);
        goto fail;
    }
    snprintf(db_id, sizeof db_id, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);

    const char *largs[] = { db_id, p.name };
    for (int attempt = 0;; attempt++) {
        r = sl_catalog_query(c->pg, SL_CATALOG_SQL_TABLE_LOCK, 2, largs, err);
        if (!r)
            goto fail;
        if (PQntuples(r) > 0) {
            if (put_existing(c, &p, t, r, res, err) != SL_OK)
                goto fail;
            break;
        }
        PQclear(r);
        r = NULL;
        if (SL_NEVER(attempt > 0)) {
            sl_err_set(err, SL_EINTERNAL, "table vanished while being created");
            goto fail;
        }
        const char *iargs[] = { db_id,         p.name,        t->location,
                                p.table_type,  t->classification, p.params_text,
                                p.state,       t->created_by_crawler };
        r = sl_catalog_query(c->pg, SL_CATALOG_SQL_TABLE_INSERT, 8, iargs, err);
        if (!r)
            goto fail;
        if (PQntuples(r) > 0) {
            if (put_new(c, &p, t, PQgetvalue(r, 0, 0), res, err) != SL_OK)
                goto fail;
            break;
        }
        /* a concurrent put created it after our lookup and has committed (the
         * insert waited for it): lock and update that row */
        PQclear(r);
        r = NULL;
    }
    PQclear(r);
    r = NULL;
    in_tx = 0;
    if (sl_catalog_tx_commit(c, own, err) != SL_OK)
        goto fail;
    snprintf(res->schema_hash, sizeof res->schema_hash, "%s", p.hash);
    put_ctx_cleanup(&p);
    return SL_OK;
fail:
    PQclear(r);
    if (in_tx)
        sl_catalog_tx_rollback(c, own);
    put_ctx_cleanup(&p);
    memset(res, 0, sizeof *res);
    return sl_err_prefix(err, "put table \"%s.%s\"", t->database ? t->database : "",
                         t->name ? t->name : "");
}

/* ---- Get and list ---- */

/* Fills t from SL_CATALOG_SQL_TABLE_COLS starting at column b. */
static int table_from_row(struct sl_catalog_table *t, const PGresult *r, int row, int b,
                          struct sl_err *err)
{
    t->id = sl_catalog_get_i64(r, row, b + 0);
    t->current_version = (int)sl_catalog_get_i64(r, row, b + 7);
    t->state = strcmp(PQgetvalue(r, row, b + 9), "deprecated") == 0 ? SL_CATALOG_DEPRECATED
                                                                     : SL_CATALOG_ACTIVE;
    t->created_ms = sl_catalog_get_i64(r, row, b + 11);
    t->updated_ms = sl_catalog_get_i64(r, row, b + 12);
    t->deprecated_ms = sl_catalog_get_i64(r, row, b + 13);
    t->n_partitions = (size_t)sl_catalog_get_i64(r, row, b + 14);
    if (sl_catalog_get_str(r, row, b + 1, &t->database, err) != SL_OK ||
        sl_catalog_get_str(r, row, b + 2, &t->name, err) != SL_OK ||
        sl_catalog_get_str(r, row, b + 3, &t->location, err) != SL_OK ||
        sl_catalog_get_str(r, row, b + 4, &t->table_type, err) != SL_OK ||
        sl_catalog_get_str(r, row, b + 5, &t->classification, err) != SL_OK ||
        sl_catalog_get_params(r, row, b + 6, &t->params, err) != SL_OK ||
        sl_catalog_get_str(r, row, b + 8, &t->schema_hash, err) != SL_OK ||
        sl_catalog_get_str(r, row, b + 10, &t->created_by_crawler, err) != SL_OK)
        return err->code;
    return SL_OK;
}

struct id_index {
    int64_t id;
    size_t idx;
};

static int cmp_id_index(const void *a, const void *b)
{
    const struct id_index *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Loads the current columns and partition keys of tables[0..n). */
static int load_columns(struct sl_catalog *c, struct sl_catalog_table *tables, size_t n,
                        struct sl_err *err)
{
    static const int cols[5] = { 2, 3, 4, 5, 6 };
    struct sl_buf ids;
    struct id_index *index = NULL;
    PGresult *r = NULL;
    int rc = SL_OK;

    if (n == 0)
        return SL_OK;
    sl_buf_init(&ids, 0);
    index = sl_calloc(n, sizeof *index);
    if (!index) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = sl_buf_putc(&ids, '{', err)) != SL_OK)
        goto done;
    for (size_t i = 0; i < n; i++) {
        index[i].id = tables[i].id;
        index[i].idx = i;
        if ((rc = sl_buf_printf(&ids, err, "%s%lld", i ? "," : "", (long long)tables[i].id)) !=
            SL_OK)
            goto done;
    }
    if ((rc = sl_buf_putc(&ids, '}', err)) != SL_OK)
        goto done;
    qsort(index, n, sizeof *index, cmp_id_index);
    const char *args[] = { ids.data };
    r = sl_catalog_query(c->pg, SL_CATALOG_SQL_TABLE_COLUMNS, 1, args, err);
    if (!r) {
        rc = err->code;
        goto done;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        struct id_index key = { sl_catalog_get_i64(r, i, 0), 0 };
        struct id_index *hit = bsearch(&key, index, n, sizeof *index, cmp_id_index);
        if (SL_NEVER(!hit)) {
            rc = sl_err_set(err, SL_EINTERNAL, "column of an unknown table");
            goto done;
        }
        struct sl_catalog_table *t = &tables[hit->idx];
        int pk = sl_catalog_get_bool(r, i, 1);
        if ((rc = sl_catalog_column_append_row(pk ? &t->partition_keys : &t->columns,
                                               pk ? &t->n_partition_keys : &t->n_columns, r, i,
                                               cols, err)) != SL_OK)
            goto done;
    }
done:
    PQclear(r);
    sl_free(index);
    sl_buf_cleanup(&ids);
    return rc;
}

int sl_catalog_table_get(struct sl_catalog *c, const char *database, const char *name,
                         struct sl_catalog_table **out, struct sl_err *err)
{
    char db[SL_CATALOG_DB_NAME_MAX + 1];
    char tn[SL_CATALOG_TABLE_NAME_MAX + 1];
    struct sl_catalog_table *t = NULL;
    PGresult *r = NULL;

    *out = NULL;
    if (sl_catalog_names_norm(database, name, db, tn, err) != SL_OK)
        goto fail;
    const char *args[] = { db, tn };
    r = sl_catalog_query(c->pg, SL_CATALOG_SQL_TABLE_GET, 2, args, err);
    if (!r)
        goto fail;
    if (PQntuples(r) == 0 || PQgetisnull(r, 0, 1)) {
        if (PQntuples(r) == 0)
            sl_err_set(err, SL_ENOTFOUND, "database \"%s\" not found", db);
        else
            sl_err_set(err, SL_ENOTFOUND, "table \"%s.%s\" not found", db, tn);
        PQclear(r);
        return err->code;
    }
    t = sl_calloc(1, sizeof *t);
    if (!t) {
        sl_err_set(err, SL_ENOMEM, "out of memory");
        goto fail;
    }
    if (table_from_row(t, r, 0, 1, err) != SL_OK || load_columns(c, t, 1, err) != SL_OK)
        goto fail;
    PQclear(r);
    *out = t;
    return SL_OK;
fail:
    PQclear(r);
    sl_catalog_table_free(t);
    return sl_err_prefix(err, "get table \"%s.%s\"", database ? database : "", name ? name : "");
}

int sl_catalog_table_list(struct sl_catalog *c, const char *database, const char *expression,
                          const char *after, size_t limit, struct sl_catalog_table **out,
                          size_t *n_out, struct sl_err *err)
{
    char db[SL_CATALOG_DB_NAME_MAX + 1];
    char db_id[24];
    char lim[24];
    struct sl_catalog_table *tables = NULL;
    size_t n = 0;
    PGresult *r = NULL;
    int own = 0, guarded = 0, rc = SL_OK;

    *out = NULL;
    *n_out = 0;
    if (sl_catalog_name_norm("database", database, SL_CATALOG_DB_NAME_MAX, db, err) != SL_OK)
        goto fail;
    const char *dargs[] = { db };
    r = sl_catalog_query(c->pg, SL_CATALOG_SQL_DB_ID, 1, dargs, err);
    if (!r)
        goto fail;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return sl_err_set(err, SL_ENOTFOUND, "list tables: database \"%s\" not found", db);
    }
    snprintf(db_id, sizeof db_id, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    const char *args[] = { db_id, expression && *expression ? expression : NULL, after,
                           limit ? sl_catalog_i64_str((int64_t)limit, lim) : NULL };
    /* a bad expression fails the statement: inside the caller's transaction,
     * a savepoint keeps that transaction usable */
    if (args[1] && PQtransactionStatus(c->pg) == PQTRANS_INTRANS) {
        if (sl_catalog_tx_begin(c, &own, err) != SL_OK)
            goto fail;
        guarded = 1;
    }
    r = sl_catalog_query(c->pg, SL_CATALOG_SQL_TABLE_LIST, 4, args, err);
    if (guarded) {
        guarded = 0;
        if (r)
            rc = sl_catalog_tx_commit(c, own, err);
        else
            sl_catalog_tx_rollback(c, own);
    }
    if (!r || rc != SL_OK)
        goto fail;
    tables = sl_calloc((size_t)PQntuples(r) + 1, sizeof *tables);
    if (!tables) {
        sl_err_set(err, SL_ENOMEM, "out of memory");
        goto fail;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        n++;
        if (table_from_row(&tables[i], r, i, 1, err) != SL_OK)
            goto fail;
    }
    PQclear(r);
    r = NULL;
    if (load_columns(c, tables, n, err) != SL_OK)
        goto fail;
    *out = tables;
    *n_out = n;
    return SL_OK;
fail:
    PQclear(r);
    sl_catalog_table_list_free(tables, n);
    if (err->code == SL_ECONFIG && expression)
        return sl_err_prefix(err, "list tables of \"%s\" matching \"%s\"", db, expression);
    return sl_err_prefix(err, "list tables of \"%s\"", database ? database : "");
}

/* ---- Delete and state ---- */

int sl_catalog_table_delete(struct sl_catalog *c, const char *database, const char *name,
                            struct sl_err *err)
{
    char db[SL_CATALOG_DB_NAME_MAX + 1];
    char tn[SL_CATALOG_TABLE_NAME_MAX + 1];
    char id[24];
    int64_t table_id = 0;

    if (sl_catalog_names_norm(database, name, db, tn, err) != SL_OK ||
        sl_catalog_table_lookup(c, db, tn, &table_id, NULL, NULL, err) != SL_OK)
        goto fail;
    const char *args[] = { sl_catalog_i64_str(table_id, id) };
    if (sl_catalog_exec(c->pg, SL_CATALOG_SQL_TABLE_DELETE, 1, args, err) != SL_OK)
        goto fail;
    return SL_OK;
fail:
    return sl_err_prefix(err, "delete table \"%s.%s\"", database ? database : "",
                         name ? name : "");
}

int sl_catalog_table_set_state(struct sl_catalog *c, const char *database, const char *name,
                               enum sl_catalog_state state, const char *reason,
                               struct sl_err *err)
{
    char db[SL_CATALOG_DB_NAME_MAX + 1];
    char tn[SL_CATALOG_TABLE_NAME_MAX + 1];
    char id[24];
    int64_t table_id = 0;

    if (sl_catalog_names_norm(database, name, db, tn, err) != SL_OK ||
        sl_catalog_table_lookup(c, db, tn, &table_id, NULL, NULL, err) != SL_OK)
        goto fail;
    const char *args[] = { sl_catalog_i64_str(table_id, id), sl_catalog_state_name(state),
                           reason };
    if (sl_catalog_exec(c->pg, SL_CATALOG_SQL_TABLE_SET_STATE, 3, args, err) != SL_OK)
        goto fail;
    return SL_OK;
fail:
    return sl_err_prefix(err, "set state of table \"%s.%s\"", database ? database : "",
                         name ? name : "");
}

/* ---- Versions ---- */

void sl_catalog_table_version_list_free(struct sl_catalog_table_version *v, size_t n_versions)
{
    for (size_t i = 0; v && i < n_versions; i++) {
        sl_free(v[i].schema_hash);
        sl_free(v[i].format);
        sl_free(v[i].change);
        columns_free(v[i].columns, v[i].n_columns);
        columns_free(v[i].partition_keys, v[i].n_partition_keys);
    }
    sl_free(v);
}

static unsigned kinds_from_json(const char *text)
{
    json_t *arr = json_loads(text ? text : "[]", 0, NULL);
    unsigned k = 0;
    size_t i;
    json_t *item;

    json_array_foreach(arr, i, item)
    {
        k |= sl_catalog_change_parse(json_string_value(item));
    }
    json_decref(arr);
    return k;
}

int sl_catalog_table_list_versions(struct sl_catalog *c, const char *database, const char *name,
                                   struct sl_catalog_table_version **out, size_t *n_out,
                                   struct sl_err *err)
{
    static const int cols[5] = { 2, 3, 4, 5, 6 };
    char db[SL_CATALOG_DB_NAME_MAX + 1];
    char tn[SL_CATALOG_TABLE_NAME_MAX + 1];
    char id[24];
    int64_t table_id = 0;
    struct sl_catalog_table_version *v = NULL;
    size_t n = 0;
    PGresult *r = NULL;

    *out = NULL;
    *n_out = 0;
    if (sl_catalog_names_norm(database, name, db, tn, err) != SL_OK ||
        sl_catalog_table_lookup(c, db, tn, &table_id, NULL, NULL, err) != SL_OK)
        goto fail;
    const char *args[] = { sl_catalog_i64_str(table_id, id) };
    r = sl_catalog_query(c->pg, SL_CATALOG_SQL_VERSIONS, 1, args, err);
    if (!r)
        goto fail;
    v = sl_calloc((size_t)PQntuples(r) + 1, sizeof *v);
    if (!v) {
        sl_err_set(err, SL_ENOMEM, "out of memory");
        goto fail;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        n++;
        v[i].version = (int)sl_catalog_get_i64(r, i, 0);
        v[i].change_kinds = kinds_from_json(PQgetvalue(r, i, 3));
        v[i].crawl_run_id = sl_catalog_get_i64(r, i, 5);
        v[i].created_ms = sl_catalog_get_i64(r, i, 6);
        if (sl_catalog_get_str(r, i, 1, &v[i].schema_hash, err) != SL_OK ||
            sl_catalog_get_str(r, i, 2, &v[i].format, err) != SL_OK ||
            sl_catalog_get_str(r, i, 4, &v[i].change, err) != SL_OK)
            goto fail;
    }
    PQclear(r);
    r = sl_catalog_query(c->pg, SL_CATALOG_SQL_VERSIONS_COLUMNS, 1, args, err);
    if (!r)
        goto fail;
    size_t at = 0;
    for (int i = 0; i < PQntuples(r); i++) {
        int ver = (int)sl_catalog_get_i64(r, i, 0);
        while (at < n && v[at].version < ver)
            at++;
        if (SL_NEVER(at >= n || v[at].version != ver)) {
            sl_err_set(err, SL_EINTERNAL, "column of an unknown version %d", ver);
            goto fail;
        }
        int pk = sl_catalog_get_bool(r, i, 1);
        if (sl_catalog_column_append_row(pk ? &v[at].partition_keys : &v[at].columns,
                                         pk ? &v[at].n_partition_keys : &v[at].n_columns, r, i,
                                         cols, err) != SL_OK)
            goto fail;
    }
    PQclear(r);
    *out = v;
    *n_out = n;
    return SL_OK;
fail:
    PQclear(r);
    sl_catalog_table_version_list_free(v, n);
    return sl_err_prefix(err, "list versions of table \"%s.%s\"", database ? database : "",
                         name ? name : "");
}
