/*
 * runtime/catalog_crawl.c - the crawler's state in the catalog (§12.1):
 * crawler definitions, crawl runs, per-file schemas, the object manifest and
 * the folder list. What a crawl does with them lives in crawler/; this file
 * only stores and reads rows. Manifest and folder rows travel in batches as
 * JSON row sets (one statement per batch).
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "catalog.h"
#include "catalog_internal.h"
#include "catalog_sql.h"

/* Rows per manifest statement. */
#define SL_CATALOG_OBJECT_BATCH 1000
/* Class of the crawler advisory locks (two-int4 form): "slcr" in ASCII. */
#define SL_CATALOG_CRAWLER_LOCK_CLASS "1936483186"

/* ---- Crawlers ---- */

void sl_catalog_crawler_list_free(struct sl_catalog_crawler *crs, size_t n_crawlers)
{
    for (size_t i = 0; crs && i < n_crawlers; i++) {
        sl_free(crs[i].name);
        sl_free(crs[i].config);
        sl_free(crs[i].config_hash);
    }
    sl_free(crs);
}

void sl_catalog_crawler_free(struct sl_catalog_crawler *cr)
{
    sl_catalog_crawler_list_free(cr, cr ? 1 : 0);
}

static int crawler_from_row(struct sl_catalog_crawler *cr, const PGresult *r, int row,
                            struct sl_err *err)
{
    cr->created_ms = sl_catalog_get_i64(r, row, 3);
    cr->updated_ms = sl_catalog_get_i64(r, row, 4);
    if (sl_catalog_get_str(r, row, 0, &cr->name, err) != SL_OK ||
        sl_catalog_get_str(r, row, 1, &cr->config, err) != SL_OK ||
        sl_catalog_get_str(r, row, 2, &cr->config_hash, err) != SL_OK)
        return err->code;
    return SL_OK;
}

int sl_catalog_crawler_put(struct sl_catalog *c, const char *name, const char *config,
                           const char *config_hash, struct sl_err *err)
{
    json_t *cfg = NULL;
    char *canon = NULL;
    char hash[65];

    if (!name || !*name) {
        sl_err_set(err, SL_ECONFIG, "crawler name is empty");
        goto fail;
    }
    if (sl_catalog_json_parse_object("crawler config", config, &cfg, err) != SL_OK)
        goto fail;
    if (!config_hash) {
        canon = json_dumps(cfg, JSON_COMPACT | JSON_SORT_KEYS);
        if (!canon) {
            sl_err_set(err, SL_ENOMEM, "out of memory");
            goto fail;
        }
        sl_sha256_hex(canon, strlen(canon), hash);
        config_hash = hash;
    }
    const char *args[] = { name, config, config_hash };
    if (sl_catalog_exec(c->pg, SL_CATALOG_SQL_CRAWLER_PUT, 3, args, err) != SL_OK)
        goto fail;
    free(canon); /* jansson's allocator */
    json_decref(cfg);
    return SL_OK;
fail:
    free(canon);
    json_decref(cfg);
    return sl_err_prefix(err, "put crawler \"%s\"", name ? name : "");
}

int sl_catalog_crawler_get(struct sl_catalog *c, const char *name,
                           struct sl_catalog_crawler **out, struct sl_err *err)
{
    struct sl_catalog_crawler *cr = NULL;
    const char *args[] = { name };
    PGresult *r = sl_catalog_query(c->pg, SL_CATALOG_SQL_CRAWLER_GET, 1, args, err);

    *out = NULL;
    if (!r)
        goto fail;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return sl_err_set(err, SL_ENOTFOUND, "crawler \"%s\" not found", name);
    }
    cr = sl_calloc(1, sizeof *cr);
    if (!cr) {
        sl_err_set(err, SL_ENOMEM, "out of memory");
        goto fail;
    }
    if (crawler_from_row(cr, r, 0, err) != SL_OK)
        goto fail;
    PQclear(r);
    *out = cr;
    return SL_OK;
fail:
    PQclear(r);
    sl_catalog_crawler_free(cr);
    return sl_err_prefix(err, "get crawler \"%s\"", name ? name : "");
}

int sl_catalog_crawler_list(struct sl_catalog *c, struct sl_catalog_crawler **out,
                            size_t *n_out, struct sl_err *err)
{
    struct sl_catalog_crawler *crs = NULL;
    size_t n = 0;
    PGresult *r = sl_catalog_query(c->pg, SL_CATALOG_SQL_CRAWLER_LIST, 0, NULL, err);

    *out = NULL;
    *n_out = 0;
    if (!r)
        goto fail;
    crs = sl_calloc((size_t)PQntuples(r) + 1, sizeof *crs);
    if (!crs) {
        sl_err_set(err, SL_ENOMEM, "out of memory");
        goto fail;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        n++;
        if (crawler_from_row(&crs[i], r, i, err) != SL_OK)
            goto fail;
    }
    PQclear(r);
    *out = crs;
    *n_out = n;
    return SL_OK;
fail:
    PQclear(r);
    sl_catalog_crawler_list_free(crs, n);
    return sl_err_prefix(err, "list crawlers");
}

int sl_catalog_crawler_delete(struct sl_catalog *c, const char *name, struct sl_err *err)
{
    const char *args[] = { name };
    PGresult *r = sl_catalog_query(c->pg, SL_CATALOG_SQL_CRAWLER_DELETE, 1, args, err);

    if (!r)
        return sl_err_prefix(err, "delete crawler \"%s\"", name ? name : "");
    if (PQntuples(r) == 0) {
        PQclear(r);
        return sl_err_set(err, SL_ENOTFOUND, "delete crawler: crawler \"%s\" not found", name);
    }
    PQclear(r);
    return SL_OK;
}

int sl_catalog_crawler_lock(struct sl_catalog *c, const char *name, struct sl_err *err)
{
    const char *args[] = { SL_CATALOG_CRAWLER_LOCK_CLASS, name };

    if (PQtransactionStatus(c->pg) != PQTRANS_INTRANS)
        return sl_err_set(err, SL_EINTERNAL,
                          "lock crawler \"%s\": needs an open catalog transaction", name);
    if (sl_catalog_exec(c->pg, SL_CATALOG_SQL_CRAWLER_LOCK, 2, args, err) != SL_OK)
        return sl_err_prefix(err, "lock crawler \"%s\"", name);
    return SL_OK;
}

/* ---- Crawl runs ---- */

static const char *const run_status_names[] = { "running", "succeeded", "failed", "cancelled" };

const char *sl_catalog_run_status_name(enum sl_catalog_run_status s)
{
    return (unsigned)s < SL_ARRAY_LEN(run_status_names) ? run_status_names[s] : "failed";
}

static enum sl_catalog_run_status run_status_parse(const char *s)
{
    for (size_t i = 0; i < SL_ARRAY_LEN(run_status_names); i++) {
        if (strcmp(run_status_names[i], s) == 0)
            return (enum sl_catalog_run_status)i;
    }
    return SL_CATALOG_RUN_FAILED;
}

void sl_catalog_crawl_run_list_free(struct sl_catalog_crawl_run *runs, size_t n_runs)
{
    for (size_t i = 0; runs && i < n_runs; i++) {
        sl_free(runs[i].crawler);
        sl_free(runs[i].mode);
        sl_free(runs[i].counters);
        sl_free(runs[i].report);
    }
    sl_free(runs);
}

void sl_catalog_crawl_run_free(struct sl_catalog_crawl_run *r)
{
    sl_catalog_crawl_run_list_free(r, r ? 1 : 0);
}

static int run_from_row(struct sl_catalog_crawl_run *run, const PGresult *r, int row,
                        struct sl_err *err)
{
    run->id = sl_catalog_get_i64(r, row, 0);
    run->status = run_status_parse(PQgetvalue(r, row, 3));
    run->started_ms = sl_catalog_get_i64(r, row, 4);
    run->finished_ms = sl_catalog_get_i64(r, row, 5);
    if (sl_catalog_get_str(r, row, 1, &run->crawler, err) != SL_OK ||
        sl_catalog_get_str(r, row, 2, &run->mode, err) != SL_OK ||
        sl_catalog_get_str(r, row, 6, &run->counters, err) != SL_OK ||
        sl_catalog_get_str(r, row, 7, &run->report, err) != SL_OK)
        return err->code;
    return SL_OK;
}

int sl_catalog_crawl_run_start(struct sl_catalog *c, const char *crawler, const char *mode,
                               int64_t *run_id, struct sl_err *err)
{
    const char *args[] = { crawler, mode ? mode : "CRAWL_EVERYTHING" };
    PGresult *r = sl_catalog_query_guarded(c, SL_CATALOG_SQL_RUN_START, 2, args, err);

    *run_id = 0;
    if (!r) {
        if (err->code == SL_ENOTFOUND)
            sl_err_set(err, SL_ENOTFOUND, "crawler \"%s\" not found", crawler);
        return sl_err_prefix(err, "start crawl run");
    }
    *run_id = sl_catalog_get_i64(r, 0, 0);
    PQclear(r);
    return SL_OK;
}

int sl_catalog_crawl_run_finish(struct sl_catalog *c, int64_t run_id,
                                enum sl_catalog_run_status status, const char *counters,
                                const char *report, struct sl_err *err)
{
    char id[24];
    PGresult *r;

    if (status == SL_CATALOG_RUN_RUNNING)
        return sl_err_set(err, SL_ECONFIG, "finish crawl run %lld: status must be final",
                          (long long)run_id);
    const char *args[] = { sl_catalog_i64_str(run_id, id), sl_catalog_run_status_name(status),
                           counters, report };
    r = sl_catalog_query_guarded(c, SL_CATALOG_SQL_RUN_FINISH, 4, args, err);
    if (!r)
        return sl_err_prefix(err, "finish crawl run %lld", (long long)run_id);
    if (PQntuples(r) == 0) {
        PQclear(r);
        return sl_err_set(err, SL_ENOTFOUND, "finish crawl run: run %lld not found",
                          (long long)run_id);
    }
    PQclear(r);
    return SL_OK;
}

int sl_catalog_crawl_run_get(struct sl_catalog *c, int64_t run_id,
                             struct sl_catalog_crawl_run **out, struct sl_err *err)
{
    char id[24];
    struct sl_catalog_crawl_run *run = NULL;
    const char *args[] = { sl_catalog_i64_str(run_id, id) };
    PGresult *r = sl_catalog_query(c->pg, SL_CATALOG_SQL_RUN_GET, 1, args, err);

    *out = NULL;
    if (!r)
        goto fail;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return sl_err_set(err, SL_ENOTFOUND, "crawl run %lld not found", (long long)run_id);
    }
    run = sl_calloc(1, sizeof *run);
    if (!run) {
        sl_err_set(err, SL_ENOMEM, "out of memory");
        goto fail;
    }
    if (run_from_row(run, r, 0, err) != SL_OK)
        goto fail;
    PQclear(r);
    *out = run;
    return SL_OK;
fail:
    PQclear(r);
    sl_catalog_crawl_run_free(run);
    return sl_err_prefix(err, "get crawl run %lld", (long long)run_id);
}

int sl_catalog_crawl_run_list(struct sl_catalog *c, const char *crawler, size_t limit,
                              struct sl_catalog_crawl_run **out, size_t *n_out,
                              struct sl_err *err)
{
    char lim[24];
    struct sl_catalog_crawl_run *runs = NULL;
    size_t n = 0;
    const char *args[] = { crawler, limit ? sl_catalog_i64_str((int64_t)limit, lim) : NULL };
    PGresult *r = sl_catalog_query(c->pg, SL_CATALOG_SQL_RUN_LIST, 2, args, err);

    *out = NULL;
    *n_out = 0;
    if (!r)
        goto fail;
    runs = sl_calloc((size_t)PQntuples(r) + 1, sizeof *runs);
    if (!runs) {
        sl_err_set(err, SL_ENOMEM, "out of memory");
        goto fail;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        n++;
        if (run_from_row(&runs[i], r, i, err) != SL_OK)
            goto fail;
    }
    PQclear(r);
    *out = runs;
    *n_out = n;
    return SL_OK;
fail:
    PQclear(r);
    sl_catalog_crawl_run_list_free(runs, n);
    return sl_err_prefix(err, "list crawl runs of \"%s\"", crawler ? crawler : "");
}

/* ---- Per-file schemas ---- */

int sl_catalog_crawl_schema_put(struct sl_catalog *c, const char *hash, const char *schema,
                                struct sl_err *err)
{
    const char *args[] = { hash, schema };

    if (!hash || !*hash || !schema)
        return sl_err_set(err, SL_ECONFIG, "put crawl schema: hash and schema are required");
    PGresult *r = sl_catalog_query_guarded(c, SL_CATALOG_SQL_SCHEMA_PUT, 2, args, err);
    if (!r)
        return sl_err_prefix(err, "put crawl schema %s", hash);
    PQclear(r);
    return SL_OK;
}

int sl_catalog_crawl_schema_get(struct sl_catalog *c, const char *hash, char **schema,
                                struct sl_err *err)
{
    const char *args[] = { hash };
    PGresult *r = sl_catalog_query(c->pg, SL_CATALOG_SQL_SCHEMA_GET, 1, args, err);
    int rc;

    *schema = NULL;
    if (!r)
        return sl_err_prefix(err, "get crawl schema %s", hash ? hash : "");
    if (PQntuples(r) == 0) {
        PQclear(r);
        return sl_err_set(err, SL_ENOTFOUND, "crawl schema %s not found", hash);
    }
    rc = sl_catalog_get_str(r, 0, 0, schema, err);
    PQclear(r);
    return rc;
}

/* ---- Object manifest ---- */

void sl_catalog_crawl_object_init(struct sl_catalog_crawl_object *o)
{
    memset(o, 0, sizeof *o);
    o->certainty = -1;
    o->record_estimate = -1;
    o->record_exact = -1;
    o->avg_record_bytes = -1;
    o->decoded_ratio = -1;
}

void sl_catalog_crawl_object_cleanup(struct sl_catalog_crawl_object *o)
{
    if (!o)
        return;
    sl_free(o->crawler);
    sl_free(o->include_path);
    sl_free(o->key);
    sl_free(o->etag);
    sl_free(o->storage_class);
    sl_free(o->status);
    sl_free(o->classification);
    sl_free(o->compression);
    sl_free(o->compat_key);
    sl_free(o->schema_hash);
    sl_free(o->format_params);
    sl_free(o->header_evidence);
    sl_free(o->config_hash);
    sl_catalog_crawl_object_init(o);
}

void sl_catalog_crawl_object_list_free(struct sl_catalog_crawl_object *objs, size_t n_objs)
{
    for (size_t i = 0; objs && i < n_objs; i++)
        sl_catalog_crawl_object_cleanup(&objs[i]);
    sl_free(objs);
}

/* Sets key to a string, or leaves it out (NULL in the row set). */
static int set_str(json_t *o, const char *key, const char *v)
{
    return v ? json_object_set_new(o, key, json_string(v)) : 0;
}

/* Sets key to the parsed JSON text v; SL_ECONFIG when it does not parse. */
static int set_json(json_t *o, const char *key, const char *v, const char *obj_key,
                    struct sl_err *err)
{
    json_error_t jerr;
    json_t *j;

    if (!v)
        return SL_OK;
    j = json_loads(v, JSON_DECODE_ANY, &jerr);
    if (!j)
        return sl_err_set(err, SL_ECONFIG, "%s of \"%s\" is not JSON: %s", key, obj_key,
                          jerr.text);
    if (json_object_set_new(o, key, j) != 0)
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    return SL_OK;
}

static int object_json(json_t *arr, const struct sl_catalog_crawl_object *ob, struct sl_err *err)
{
    json_t *o = json_pack("{sssssssssIsIsssbsi}", "crawler", ob->crawler ? ob->crawler : "",
                          "include_path", ob->include_path ? ob->include_path : "", "key",
                          ob->key ? ob->key : "", "etag", ob->etag ? ob->etag : "", "size",
                          (json_int_t)ob->object_len, "last_modified_ms",
                          (json_int_t)ob->last_modified_ms, "status",
                          ob->status ? ob->status : "ok", "sampled", ob->sampled ? 1 : 0,
                          "inference_version", ob->inference_version);
    int bad = !o;

    if (o) {
        bad |= set_str(o, "storage_class", ob->storage_class);
        bad |= set_str(o, "classification", ob->classification);
        bad |= set_str(o, "compression", ob->compression);
        bad |= set_str(o, "compat_key", ob->compat_key);
        bad |= set_str(o, "schema_hash", ob->schema_hash);
        bad |= set_str(o, "config_hash", ob->config_hash ? ob->config_hash : "");
        if (ob->certainty >= 0)
            bad |= json_object_set_new(o, "certainty", json_real(ob->certainty));
        if (ob->record_estimate >= 0)
            bad |= json_object_set_new(o, "record_estimate",
                                       json_integer((json_int_t)ob->record_estimate));
        if (ob->record_exact >= 0)
            bad |= json_object_set_new(o, "record_exact", json_boolean(ob->record_exact));
        if (ob->avg_record_bytes >= 0)
            bad |= json_object_set_new(o, "avg_record_bytes", json_real(ob->avg_record_bytes));
        if (ob->decoded_ratio >= 0)
            bad |= json_object_set_new(o, "decoded_ratio", json_real(ob->decoded_ratio));
        if (ob->first_seen_run > 0)
            bad |= json_object_set_new(o, "first_seen_run",
                                       json_integer((json_int_t)ob->first_seen_run));
        if (ob->last_sampled_run > 0)
            bad |= json_object_set_new(o, "last_sampled_run",
                                       json_integer((json_int_t)ob->last_sampled_run));
    }
    if (bad) {
        json_decref(o);
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    if (set_json(o, "format_params", ob->format_params, ob->key, err) != SL_OK ||
        set_json(o, "header_evidence", ob->header_evidence, ob->key, err) != SL_OK) {
        json_decref(o);
        return err->code;
    }
    if (json_array_append_new(arr, o) != 0)
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    return SL_OK;
}

int sl_catalog_crawl_object_put(struct sl_catalog *c, const struct sl_catalog_crawl_object *objs,
                                size_t n_objs, struct sl_err *err)
{
    char *text = NULL;
    json_t *arr = NULL;
    int own = 0, in_tx = 0;

    if (n_objs == 0)
        return SL_OK;
    for (size_t i = 0; i < n_objs; i++) {
        if (!objs[i].crawler || !objs[i].include_path || !objs[i].key || !objs[i].etag) {
            sl_err_set(err, SL_ECONFIG, "object %zu lacks crawler, include_path, key or etag", i);
            goto fail;
        }
    }
    if (sl_catalog_tx_begin(c, &own, err) != SL_OK)
        goto fail;
    in_tx = 1;
    for (size_t at = 0; at < n_objs; at += SL_CATALOG_OBJECT_BATCH) {
        size_t n = n_objs - at < SL_CATALOG_OBJECT_BATCH ? n_objs - at : SL_CATALOG_OBJECT_BATCH;
        arr = json_array();
        if (!arr) {
            sl_err_set(err, SL_ENOMEM, "out of memory");
            goto fail;
        }
        for (size_t i = 0; i < n; i++) {
            if (object_json(arr, &objs[at + i], err) != SL_OK)
                goto fail;
        }
        text = sl_catalog_json_take_text(arr);
        arr = NULL;
        if (!text) {
            sl_err_set(err, SL_ENOMEM, "out of memory");
            goto fail;
        }
        const char *args[] = { text };
        if (sl_catalog_exec(c->pg, SL_CATALOG_SQL_OBJECT_PUT, 1, args, err) != SL_OK) {
            if (err->code == SL_ENOTFOUND)
                sl_err_prefix(err, "unknown crawler or schema hash");
            goto fail;
        }
        sl_free(text);
        text = NULL;
    }
    in_tx = 0;
    if (sl_catalog_tx_commit(c, own, err) != SL_OK)
        goto fail;
    return SL_OK;
fail:
    json_decref(arr);
    sl_free(text);
    if (in_tx)
        sl_catalog_tx_rollback(c, own);
    return sl_err_prefix(err, "put %zu manifest rows", n_objs);
}

static double get_real(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? -1 : strtod(PQgetvalue(r, row, col), NULL);
}

static int object_from_row(struct sl_catalog_crawl_object *o, const PGresult *r, int row,
                           struct sl_err *err)
{
    static const struct {
        int col;
        size_t off;
    } strs[] = {
        { 0, offsetof(struct sl_catalog_crawl_object, crawler) },
        { 1, offsetof(struct sl_catalog_crawl_object, include_path) },
        { 2, offsetof(struct sl_catalog_crawl_object, key) },
        { 3, offsetof(struct sl_catalog_crawl_object, etag) },
        { 6, offsetof(struct sl_catalog_crawl_object, storage_class) },
        { 7, offsetof(struct sl_catalog_crawl_object, status) },
        { 8, offsetof(struct sl_catalog_crawl_object, classification) },
        { 9, offsetof(struct sl_catalog_crawl_object, compression) },
        { 10, offsetof(struct sl_catalog_crawl_object, compat_key) },
        { 12, offsetof(struct sl_catalog_crawl_object, schema_hash) },
        { 13, offsetof(struct sl_catalog_crawl_object, format_params) },
        { 14, offsetof(struct sl_catalog_crawl_object, header_evidence) },
        { 21, offsetof(struct sl_catalog_crawl_object, config_hash) },
    };

    sl_catalog_crawl_object_init(o);
    o->object_len = sl_catalog_get_i64(r, row, 4);
    o->last_modified_ms = sl_catalog_get_i64(r, row, 5);
    o->certainty = get_real(r, row, 11);
    o->record_estimate = PQgetisnull(r, row, 15) ? -1 : sl_catalog_get_i64(r, row, 15);
    o->record_exact = PQgetisnull(r, row, 16) ? -1 : sl_catalog_get_bool(r, row, 16);
    o->avg_record_bytes = get_real(r, row, 17);
    o->decoded_ratio = get_real(r, row, 18);
    o->sampled = sl_catalog_get_bool(r, row, 19);
    o->inference_version = (int)sl_catalog_get_i64(r, row, 20);
    o->first_seen_run = sl_catalog_get_i64(r, row, 22);
    o->last_sampled_run = sl_catalog_get_i64(r, row, 23);
    for (size_t i = 0; i < SL_ARRAY_LEN(strs); i++) {
        char **field = (char **)((char *)o + strs[i].off);
        if (sl_catalog_get_str(r, row, strs[i].col, field, err) != SL_OK)
            return err->code;
    }
    return SL_OK;
}

int sl_catalog_crawl_object_list(struct sl_catalog *c, const char *crawler,
                                 const char *include_path, const char *after_key, size_t limit,
                                 struct sl_catalog_crawl_object **out, size_t *n_out,
                                 struct sl_err *err)
{
    char lim[24];
    struct sl_catalog_crawl_object *objs = NULL;
    size_t n = 0;
    const char *args[] = { crawler, include_path, after_key,
                           limit ? sl_catalog_i64_str((int64_t)limit, lim) : NULL };
    PGresult *r = sl_catalog_query(c->pg, SL_CATALOG_SQL_OBJECT_LIST, 4, args, err);

    *out = NULL;
    *n_out = 0;
    if (!r)
        goto fail;
    objs = sl_calloc((size_t)PQntuples(r) + 1, sizeof *objs);
    if (!objs) {
        sl_err_set(err, SL_ENOMEM, "out of memory");
        goto fail;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        n++;
        if (object_from_row(&objs[i], r, i, err) != SL_OK)
            goto fail;
    }
    PQclear(r);
    *out = objs;
    *n_out = n;
    return SL_OK;
fail:
    PQclear(r);
    sl_catalog_crawl_object_list_free(objs, n);
    return sl_err_prefix(err, "list manifest of \"%s\" at \"%s\"", crawler ? crawler : "",
                         include_path ? include_path : "");
}

int sl_catalog_crawl_object_delete(struct sl_catalog *c, const char *crawler,
                                   const char *include_path, const char *const *keys,
                                   size_t n_keys, size_t *n_deleted, struct sl_err *err)
{
    struct sl_buf lit;
    PGresult *r = NULL;

    if (n_deleted)
        *n_deleted = 0;
    if (n_keys == 0)
        return SL_OK;
    sl_buf_init(&lit, 0);
    if (sl_catalog_text_array(&lit, keys, n_keys, err) != SL_OK)
        goto fail;
    const char *args[] = { crawler, include_path, lit.data };
    r = sl_catalog_query(c->pg, SL_CATALOG_SQL_OBJECT_DELETE, 3, args, err);
    if (!r)
        goto fail;
    if (n_deleted)
        *n_deleted = (size_t)strtoull(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    sl_buf_cleanup(&lit);
    return SL_OK;
fail:
    sl_buf_cleanup(&lit);
    return sl_err_prefix(err, "delete manifest rows of \"%s\"", crawler ? crawler : "");
}

/* ---- Folders ---- */

void sl_catalog_crawl_folder_list_free(struct sl_catalog_crawl_folder *f, size_t n_folders)
{
    for (size_t i = 0; f && i < n_folders; i++) {
        sl_free(f[i].crawler);
        sl_free(f[i].include_path);
        sl_free(f[i].prefix);
    }
    sl_free(f);
}

int sl_catalog_crawl_folder_put(struct sl_catalog *c, const struct sl_catalog_crawl_folder *f,
                                size_t n_folders, struct sl_err *err)
{
    json_t *arr = json_array();
    char *text = NULL;

    if (!arr)
        goto oom;
    for (size_t i = 0; i < n_folders; i++) {
        if (!f[i].crawler || !f[i].include_path || !f[i].prefix) {
            json_decref(arr);
            return sl_err_set(err, SL_ECONFIG,
                              "put crawl folders: folder %zu lacks crawler, path or prefix", i);
        }
        json_t *o = json_pack("{sssssssbso*}", "crawler", f[i].crawler, "include_path",
                              f[i].include_path, "prefix", f[i].prefix, "has_direct_files",
                              f[i].has_direct_files ? 1 : 0, "first_seen_run",
                              f[i].first_seen_run > 0
                                  ? json_integer((json_int_t)f[i].first_seen_run)
                                  : NULL);
        if (!o || json_array_append_new(arr, o) != 0)
            goto oom;
    }
    text = sl_catalog_json_take_text(arr);
    if (!text)
        return sl_err_set(err, SL_ENOMEM, "put crawl folders: out of memory");
    const char *args[] = { text };
    PGresult *r = sl_catalog_query_guarded(c, SL_CATALOG_SQL_FOLDER_PUT, 1, args, err);
    sl_free(text);
    if (!r)
        return sl_err_prefix(err, "put crawl folders");
    PQclear(r);
    return SL_OK;
oom:
    json_decref(arr);
    return sl_err_set(err, SL_ENOMEM, "put crawl folders: out of memory");
}

int sl_catalog_crawl_folder_list(struct sl_catalog *c, const char *crawler,
                                 const char *include_path, struct sl_catalog_crawl_folder **out,
                                 size_t *n_out, struct sl_err *err)
{
    struct sl_catalog_crawl_folder *f = NULL;
    size_t n = 0;
    const char *args[] = { crawler, include_path };
    PGresult *r = sl_catalog_query(c->pg, SL_CATALOG_SQL_FOLDER_LIST, 2, args, err);

    *out = NULL;
    *n_out = 0;
    if (!r)
        goto fail;
    f = sl_calloc((size_t)PQntuples(r) + 1, sizeof *f);
    if (!f) {
        sl_err_set(err, SL_ENOMEM, "out of memory");
        goto fail;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        n++;
        f[i].has_direct_files = sl_catalog_get_bool(r, i, 3);
        f[i].first_seen_run = sl_catalog_get_i64(r, i, 4);
        if (sl_catalog_get_str(r, i, 0, &f[i].crawler, err) != SL_OK ||
            sl_catalog_get_str(r, i, 1, &f[i].include_path, err) != SL_OK ||
            sl_catalog_get_str(r, i, 2, &f[i].prefix, err) != SL_OK)
            goto fail;
    }
    PQclear(r);
    *out = f;
    *n_out = n;
    return SL_OK;
fail:
    PQclear(r);
    sl_catalog_crawl_folder_list_free(f, n);
    return sl_err_prefix(err, "list crawl folders of \"%s\"", crawler ? crawler : "");
}
