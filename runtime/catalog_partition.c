/*
 * runtime/catalog_partition.c - partitions of catalog tables: batched
 * add-or-update keyed by values, get, sorted paged list, delete and state.
 * Partitions inherit the table's schema (§11.3 INHERIT_FROM_TABLE): a row holds
 * values, location, parameters and the schema hash of its own objects, never
 * columns. Tables are in catalog_table.c.
 */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "catalog.h"
#include "catalog_internal.h"
#include "catalog_sql.h"

/* Rows per upsert statement: keeps one JSON parameter well under a few MB. */
#define SL_CATALOG_PART_BATCH 1000

/* ---- In memory ---- */

void sl_catalog_partition_init(struct sl_catalog_partition *p)
{
    memset(p, 0, sizeof *p);
}

void sl_catalog_partition_cleanup(struct sl_catalog_partition *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n_values; i++)
        sl_free(p->values[i]);
    sl_free(p->values);
    sl_free(p->location);
    sl_free(p->schema_hash);
    sl_catalog_params_cleanup(&p->params);
    memset(p, 0, sizeof *p);
}

void sl_catalog_partition_free(struct sl_catalog_partition *p)
{
    sl_catalog_partition_cleanup(p);
    sl_free(p);
}

void sl_catalog_partition_list_free(struct sl_catalog_partition *parts, size_t n_parts)
{
    for (size_t i = 0; parts && i < n_parts; i++)
        sl_catalog_partition_cleanup(&parts[i]);
    sl_free(parts);
}

int sl_catalog_partition_add_value(struct sl_catalog_partition *p, const char *value,
                                   struct sl_err *err)
{
    char **v = sl_realloc(p->values, (p->n_values + 1) * sizeof *v);

    if (!v)
        return sl_err_set(err, SL_ENOMEM, "add partition value: out of memory");
    p->values = v;
    v[p->n_values] = sl_strdup(value ? value : "");
    if (!v[p->n_values])
        return sl_err_set(err, SL_ENOMEM, "add partition value: out of memory");
    p->n_values++;
    return SL_OK;
}

/* ---- Helpers ---- */

/* "(2024, 06)" for messages. */
static void values_text(const char *const *values, size_t n, char *out, size_t out_len)
{
    size_t o = 0;

    out[0] = '\0';
    for (size_t i = 0; i < n && o + 1 < out_len; i++) {
        int w = snprintf(out + o, out_len - o, "%s%s", i ? ", " : "(", values[i]);
        if (w < 0)
            break;
        o += (size_t)w;
    }
    if (o + 1 < out_len)
        snprintf(out + o, out_len - o, "%s", n ? ")" : "()");
}

static int values_check(const char *const *values, size_t n_values, size_t n_keys,
                        struct sl_err *err)
{
    char vt[200];

    if (n_keys == 0)
        return sl_err_set(err, SL_ECONFIG, "the table has no partition keys");
    if (n_values != n_keys) {
        values_text(values, n_values, vt, sizeof vt);
        return sl_err_set(err, SL_ECONFIG, "partition %s has %zu values, the table %zu keys", vt,
                          n_values, n_keys);
    }
    return SL_OK;
}

/* Fills p from a row of SL_CATALOG_SQL_PART_COLS. */
static int partition_from_row(struct sl_catalog_partition *p, const PGresult *r, int row,
                              struct sl_err *err)
{
    json_t *vals = json_loads(PQgetvalue(r, row, 1), 0, NULL);
    size_t i;
    json_t *v;

    p->id = sl_catalog_get_i64(r, row, 0);
    p->checked_against_version = (int)sl_catalog_get_i64(r, row, 5);
    p->state = strcmp(PQgetvalue(r, row, 6), "deprecated") == 0 ? SL_CATALOG_DEPRECATED
                                                                : SL_CATALOG_ACTIVE;
    p->created_ms = sl_catalog_get_i64(r, row, 7);
    p->updated_ms = sl_catalog_get_i64(r, row, 8);
    p->deprecated_ms = sl_catalog_get_i64(r, row, 9);
    if (!json_is_array(vals)) {
        json_decref(vals);
        return sl_err_set(err, SL_ENOMEM, "read partition values: out of memory");
    }
    json_array_foreach(vals, i, v)
    {
        if (sl_catalog_partition_add_value(p, json_string_value(v), err) != SL_OK) {
            json_decref(vals);
            return err->code;
        }
    }
    json_decref(vals);
    if (sl_catalog_get_str(r, row, 2, &p->location, err) != SL_OK ||
        sl_catalog_get_params(r, row, 3, &p->params, err) != SL_OK ||
        sl_catalog_get_str(r, row, 4, &p->schema_hash, err) != SL_OK)
        return err->code;
    return SL_OK;
}

static int cmp_values(const struct sl_catalog_partition *a, const struct sl_catalog_partition *b)
{
    for (size_t i = 0; i < a->n_values && i < b->n_values; i++) {
        int d = strcmp(a->values[i], b->values[i]);
        if (d)
            return d;
    }
    return (a->n_values > b->n_values) - (a->n_values < b->n_values);
}

/* Merge sort of idx[0..n) by the values of parts[idx[i]] (qsort has no
 * context argument in C11, and a static would be shared between threads). */
static void sort_idx(size_t *idx, size_t *tmp, size_t n, const struct sl_catalog_partition *parts)
{
    size_t half = n / 2, i = 0, j = half, k = 0;

    if (n < 2)
        return;
    sort_idx(idx, tmp, half, parts);
    sort_idx(idx + half, tmp, n - half, parts);
    while (i < half && j < n)
        tmp[k++] = cmp_values(&parts[idx[j]], &parts[idx[i]]) < 0 ? idx[j++] : idx[i++];
    while (i < half)
        tmp[k++] = idx[i++];
    while (j < n)
        tmp[k++] = idx[j++];
    memcpy(idx, tmp, n * sizeof *idx);
}

/* SL_ECONFIG when two partitions have the same values: one upsert statement
 * cannot touch a row twice, and the caller cannot have meant it. */
static int check_duplicates(const struct sl_catalog_partition *parts, size_t n, struct sl_err *err)
{
    size_t *idx;
    int rc = SL_OK;

    if (n < 2)
        return SL_OK;
    idx = sl_calloc(2 * n, sizeof *idx);
    if (!idx)
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    sort_idx(idx, idx + n, n, parts);
    for (size_t i = 1; i < n; i++) {
        if (cmp_values(&parts[idx[i - 1]], &parts[idx[i]]) == 0) {
            char vt[200];
            values_text((const char *const *)parts[idx[i]].values, parts[idx[i]].n_values, vt,
                        sizeof vt);
            rc = sl_err_set(err, SL_ECONFIG, "partition %s is given twice", vt);
            break;
        }
    }
    sl_free(idx);
    return rc;
}

/* One statement's worth of partitions as the JSON array PART_UPSERT reads. */
static char *batch_json(const struct sl_catalog_partition *parts, size_t n)
{
    json_t *arr = json_array();

    for (size_t i = 0; arr && i < n; i++) {
        const struct sl_catalog_partition *p = &parts[i];
        json_t *vals = json_array();
        for (size_t v = 0; vals && v < p->n_values; v++) {
            if (json_array_append_new(vals, json_string(p->values[v])) != 0) {
                json_decref(vals);
                vals = NULL;
            }
        }
        json_t *o = json_pack("{sosssoso*so*ss}", "values", vals, "location", p->location,
                              "parameters", sl_catalog_params_to_json(&p->params), "schema_hash",
                              p->schema_hash ? json_string(p->schema_hash) : NULL, "checked",
                              p->checked_against_version > 0
                                  ? json_integer(p->checked_against_version)
                                  : NULL,
                              "state", sl_catalog_state_name(p->state));
        if (!o || json_array_append_new(arr, o) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return sl_catalog_json_take_text(arr);
}

int sl_catalog_partition_put(struct sl_catalog *c, const char *database, const char *table,
                             const struct sl_catalog_partition *parts, size_t n_parts,
                             size_t *n_added, size_t *n_updated, struct sl_err *err)
{
    char db[SL_CATALOG_DB_NAME_MAX + 1];
    char tn[SL_CATALOG_TABLE_NAME_MAX + 1];
    char id[24];
    int64_t table_id = 0;
    size_t n_keys = 0, added = 0, updated = 0;
    char *json = NULL;
    PGresult *r = NULL;
    int own = 0, in_tx = 0;

    if (n_added)
        *n_added = 0;
    if (n_updated)
        *n_updated = 0;
    if (sl_catalog_names_norm(database, table, db, tn, err) != SL_OK)
        goto fail;
    if (n_parts == 0)
        return SL_OK;
    if (sl_catalog_tx_begin(c, &own, err) != SL_OK)
        goto fail;
    in_tx = 1;
    if (sl_catalog_table_lookup(c, db, tn, &table_id, NULL, &n_keys, err) != SL_OK)
        goto fail;
    for (size_t i = 0; i < n_parts; i++) {
        if (values_check((const char *const *)parts[i].values, parts[i].n_values, n_keys, err) !=
            SL_OK)
            goto fail;
        if (!parts[i].location) {
            char vt[200];
            values_text((const char *const *)parts[i].values, parts[i].n_values, vt, sizeof vt);
            sl_err_set(err, SL_ECONFIG, "partition %s has no location", vt);
            goto fail;
        }
    }
    if (check_duplicates(parts, n_parts, err) != SL_OK)
        goto fail;
    sl_catalog_i64_str(table_id, id);
    for (size_t at = 0; at < n_parts; at += SL_CATALOG_PART_BATCH) {
        size_t n = n_parts - at < SL_CATALOG_PART_BATCH ? n_parts - at : SL_CATALOG_PART_BATCH;
        json = batch_json(parts + at, n);
        if (!json) {
            sl_err_set(err, SL_ENOMEM, "out of memory");
            goto fail;
        }
        const char *args[] = { id, json };
        r = sl_catalog_query(c->pg, SL_CATALOG_SQL_PART_UPSERT, 2, args, err);
        if (!r)
            goto fail;
        for (int i = 0; i < PQntuples(r); i++) {
            if (sl_catalog_get_bool(r, i, 0))
                added++;
            else
                updated++;
        }
        PQclear(r);
        r = NULL;
        sl_free(json);
        json = NULL;
    }
    in_tx = 0;
    if (sl_catalog_tx_commit(c, own, err) != SL_OK)
        goto fail;
    if (n_added)
        *n_added = added;
    if (n_updated)
        *n_updated = updated;
    return SL_OK;
fail:
    PQclear(r);
    sl_free(json);
    if (in_tx)
        sl_catalog_tx_rollback(c, own);
    return sl_err_prefix(err, "put partitions of \"%s.%s\"", database ? database : "",
                         table ? table : "");
}

/* Looks the table up and turns values into a text[] literal in lit. */
static int locate(struct sl_catalog *c, const char *database, const char *table,
                  const char *const *values, size_t n_values, char *id, struct sl_buf *lit,
                  char *vt, size_t vt_len, struct sl_err *err)
{
    char db[SL_CATALOG_DB_NAME_MAX + 1];
    char tn[SL_CATALOG_TABLE_NAME_MAX + 1];
    int64_t table_id = 0;
    size_t n_keys = 0;

    values_text(values, n_values, vt, vt_len);
    if (sl_catalog_names_norm(database, table, db, tn, err) != SL_OK ||
        sl_catalog_table_lookup(c, db, tn, &table_id, NULL, &n_keys, err) != SL_OK ||
        values_check(values, n_values, n_keys, err) != SL_OK ||
        sl_catalog_text_array(lit, values, n_values, err) != SL_OK)
        return err->code;
    sl_catalog_i64_str(table_id, id);
    return SL_OK;
}

int sl_catalog_partition_get(struct sl_catalog *c, const char *database, const char *table,
                             const char *const *values, size_t n_values,
                             struct sl_catalog_partition **out, struct sl_err *err)
{
    char id[24];
    char vt[200];
    struct sl_buf lit;
    struct sl_catalog_partition *p = NULL;
    PGresult *r = NULL;

    *out = NULL;
    sl_buf_init(&lit, 0);
    if (locate(c, database, table, values, n_values, id, &lit, vt, sizeof vt, err) != SL_OK)
        goto fail;
    const char *args[] = { id, lit.data };
    r = sl_catalog_query(c->pg, SL_CATALOG_SQL_PART_GET, 2, args, err);
    if (!r)
        goto fail;
    if (PQntuples(r) == 0) {
        sl_err_set(err, SL_ENOTFOUND, "not found");
        goto fail;
    }
    p = sl_calloc(1, sizeof *p);
    if (!p) {
        sl_err_set(err, SL_ENOMEM, "out of memory");
        goto fail;
    }
    if (partition_from_row(p, r, 0, err) != SL_OK)
        goto fail;
    PQclear(r);
    sl_buf_cleanup(&lit);
    *out = p;
    return SL_OK;
fail:
    PQclear(r);
    sl_buf_cleanup(&lit);
    sl_catalog_partition_free(p);
    return sl_err_prefix(err, "get partition %s of \"%s.%s\"", vt, database ? database : "",
                         table ? table : "");
}

int sl_catalog_partition_list(struct sl_catalog *c, const char *database, const char *table,
                              const char *const *after, size_t n_after, size_t limit,
                              struct sl_catalog_partition **out, size_t *n_out,
                              struct sl_err *err)
{
    char db[SL_CATALOG_DB_NAME_MAX + 1];
    char tn[SL_CATALOG_TABLE_NAME_MAX + 1];
    char id[24];
    char lim[24];
    int64_t table_id = 0;
    struct sl_buf lit;
    struct sl_catalog_partition *parts = NULL;
    size_t n = 0;
    PGresult *r = NULL;

    *out = NULL;
    *n_out = 0;
    sl_buf_init(&lit, 0);
    if (sl_catalog_names_norm(database, table, db, tn, err) != SL_OK ||
        sl_catalog_table_lookup(c, db, tn, &table_id, NULL, NULL, err) != SL_OK)
        goto fail;
    if (after && n_after && sl_catalog_text_array(&lit, after, n_after, err) != SL_OK)
        goto fail;
    const char *args[] = { sl_catalog_i64_str(table_id, id), lit.data,
                           limit ? sl_catalog_i64_str((int64_t)limit, lim) : NULL };
    r = sl_catalog_query(c->pg, SL_CATALOG_SQL_PART_LIST, 3, args, err);
    if (!r)
        goto fail;
    parts = sl_calloc((size_t)PQntuples(r) + 1, sizeof *parts);
    if (!parts) {
        sl_err_set(err, SL_ENOMEM, "out of memory");
        goto fail;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        n++;
        if (partition_from_row(&parts[i], r, i, err) != SL_OK)
            goto fail;
    }
    PQclear(r);
    sl_buf_cleanup(&lit);
    *out = parts;
    *n_out = n;
    return SL_OK;
fail:
    PQclear(r);
    sl_buf_cleanup(&lit);
    sl_catalog_partition_list_free(parts, n);
    return sl_err_prefix(err, "list partitions of \"%s.%s\"", database ? database : "",
                         table ? table : "");
}

int sl_catalog_partition_delete(struct sl_catalog *c, const char *database, const char *table,
                                const char *const *values, size_t n_values, struct sl_err *err)
{
    char id[24];
    char vt[200];
    struct sl_buf lit;
    PGresult *r = NULL;

    sl_buf_init(&lit, 0);
    if (locate(c, database, table, values, n_values, id, &lit, vt, sizeof vt, err) != SL_OK)
        goto fail;
    const char *args[] = { id, lit.data };
    r = sl_catalog_query(c->pg, SL_CATALOG_SQL_PART_DELETE, 2, args, err);
    if (!r)
        goto fail;
    if (PQntuples(r) == 0) {
        sl_err_set(err, SL_ENOTFOUND, "not found");
        goto fail;
    }
    PQclear(r);
    sl_buf_cleanup(&lit);
    return SL_OK;
fail:
    PQclear(r);
    sl_buf_cleanup(&lit);
    return sl_err_prefix(err, "delete partition %s of \"%s.%s\"", vt, database ? database : "",
                         table ? table : "");
}

int sl_catalog_partition_set_state(struct sl_catalog *c, const char *database, const char *table,
                                   const char *const *values, size_t n_values,
                                   enum sl_catalog_state state, const char *reason,
                                   struct sl_err *err)
{
    char id[24];
    char vt[200];
    struct sl_buf lit;
    PGresult *r = NULL;

    sl_buf_init(&lit, 0);
    if (locate(c, database, table, values, n_values, id, &lit, vt, sizeof vt, err) != SL_OK)
        goto fail;
    const char *args[] = { id, lit.data, sl_catalog_state_name(state), reason };
    r = sl_catalog_query(c->pg, SL_CATALOG_SQL_PART_SET_STATE, 4, args, err);
    if (!r)
        goto fail;
    if (PQntuples(r) == 0) {
        sl_err_set(err, SL_ENOTFOUND, "not found");
        goto fail;
    }
    PQclear(r);
    sl_buf_cleanup(&lit);
    return SL_OK;
fail:
    PQclear(r);
    sl_buf_cleanup(&lit);
    return sl_err_prefix(err, "set state of partition %s of \"%s.%s\"", vt,
                         database ? database : "", table ? table : "");
}
