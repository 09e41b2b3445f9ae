/*
 * crawler/crawl.c - a crawler run end to end (see crawl.h). Phases:
 *   1. list each include path (LIST only; a listing carries key, ETag, size,
 *      last-modified, so no HEAD is ever sent) and apply exclusions/skip rules;
 *   2. diff against the manifest (crawl_object): unchanged objects reuse their
 *      cached classification; new and changed ones are sampled by a pool of
 *      threads, each with its own store connection;
 *   3. group all current objects into tables and partitions (group.c);
 *   4. write tables, partitions, manifest changes and the run report in one
 *      transaction holding the crawler's advisory lock.
 * An unchanged prefix therefore costs only its LIST requests, and no catalog
 * row but the crawl_run's is written (table/partition puts skip equal rows).
 */
#include "crawler/crawl.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crawler/csv.h"
#include "crawler/glob.h"
#include "crawler/json.h"
#include "crawler/sample.h"
#include "runtime/alloc.h"
#include "runtime/buf.h"
#include "runtime/hash.h"
#include "runtime/store.h"

#define SL_INFERENCE_VERSION 1 /* bump when §6-§9 behaviour changes: re-samples everything */
#define MANIFEST_PAGE 10000

/* ---- Config ---- */

void sl_crawl_config_init(struct sl_crawl_config *c)
{
    memset(c, 0, sizeof *c);
    sl_crawl_opts_default(&c->opts);
    sl_group_opts_default(&c->gopts);
    c->update_behavior = SL_CRAWL_UPDATE_IN_DATABASE;
    c->delete_behavior = SL_CRAWL_DELETE_LOG;
    c->max_concurrency = 8;
    c->ignore_hidden = true;
}

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sl_free(v[i]);
    sl_free(v);
}

void sl_crawl_config_cleanup(struct sl_crawl_config *c)
{
    sl_free(c->name);
    sl_free(c->database);
    free_strv(c->targets, c->n_targets);
    free_strv(c->exclusions, c->n_exclusions);
    sl_free(c->table_prefix);
    memset(c, 0, sizeof *c);
}

static const char *const update_names[] = { "UPDATE_IN_DATABASE", "MERGE_NEW_COLUMNS", "LOG" };
static const char *const delete_names[] = { "LOG", "DEPRECATE_IN_DATABASE",
                                            "DELETE_FROM_DATABASE" };

static json_t *strv_json(char **v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

/* The options that decide how an object is classified (config_hash input). */
static json_t *classify_opts_json(const struct sl_crawl_opts *o)
{
    json_t *nulls = json_array();
    for (const char *const *t = o->null_tokens; t && *t; t++)
        json_array_append_new(nulls, json_string(*t));
    return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:i,s:b,s:i,s:i,s:i,s:b,s:o,s:b,s:I,s:i,s:s?,s:f}",
                     "sample_initial_bytes", (json_int_t)o->sample_initial_bytes,
                     "sample_max_bytes", (json_int_t)o->sample_max_bytes,
                     "sample_max_decoded_bytes", (json_int_t)o->sample_max_decoded_bytes,
                     "sample_rows", (json_int_t)o->sample_rows, "dialect_rows",
                     (json_int_t)o->dialect_rows, "tail_sample_bytes",
                     (json_int_t)o->tail_sample_bytes, "csv_header", o->csv_header,
                     "csv_allow_single_column", o->csv_allow_single_column,
                     "csv_decimal_separator", o->csv_decimal_separator,
                     "csv_thousands_separator", o->csv_thousands_separator, "csv_date_order",
                     o->csv_date_order, "csv_infer_decimal", o->csv_infer_decimal, "null_tokens",
                     nulls, "json_infer_temporal", o->json_infer_temporal,
                     "json_map_key_threshold", (json_int_t)o->json_map_key_threshold,
                     "json_max_depth", o->json_max_depth, "json_path", o->json_path,
                     "min_certainty", o->min_certainty);
}

json_t *sl_crawl_config_to_json(const struct sl_crawl_config *c)
{
    json_t *targets = json_array();
    for (size_t i = 0; i < c->n_targets; i++)
        json_array_append_new(targets, json_pack("{s:s,s:o}", "path", c->targets[i],
                                                 "exclusions",
                                                 strv_json(c->exclusions, c->n_exclusions)));
    json_t *j = json_pack("{s:s?,s:s,s:s,s:o,s:s,s:s,s:i,s:i,s:b,s:b,s:I,s:i,s:f,s:f,s:i,s:b}",
                     "name", c->name, "database", c->database, "table_prefix",
                     c->table_prefix ? c->table_prefix : "", "targets", targets,
                     "update_behavior", update_names[c->update_behavior], "delete_behavior",
                     delete_names[c->delete_behavior], "max_tables", c->max_tables,
                     "max_concurrency", c->max_concurrency, "ignore_hidden", c->ignore_hidden,
                     "allow_empty_listing_deletes", c->allow_empty_listing_deletes,
                     "sample_initial_bytes", (json_int_t)c->opts.sample_initial_bytes,
                     "table_depth", c->gopts.table_depth, "similarity_threshold",
                     c->gopts.similarity_threshold, "partition_majority",
                     c->gopts.partition_majority, "max_clusters", c->gopts.max_clusters,
                     "single_schema", c->gopts.single_schema);
    json_object_set_new(j, "recrawl", json_string(c->recrawl == SL_CRAWL_NEW_FOLDERS_ONLY
                                                      ? "CRAWL_NEW_FOLDERS_ONLY"
                                                      : "CRAWL_EVERYTHING"));
    json_object_set_new(j, "sample_max_bytes", json_integer((json_int_t)c->opts.sample_max_bytes));
    json_object_set_new(j, "tail_sample_bytes",
                        json_integer((json_int_t)c->opts.tail_sample_bytes));
    return j;
}

static int pick_name(const char *s, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(s, names[i]) == 0)
            return (int)i;
    }
    return -1;
}

static char **strv_from_json(const json_t *a, size_t *n)
{
    size_t i;
    json_t *v;
    *n = 0;
    if (!json_is_array(a))
        return NULL;
    char **out = sl_calloc(json_array_size(a) + 1, sizeof *out);
    if (!out)
        return NULL;
    json_array_foreach(a, i, v)
    {
        if (json_is_string(v))
            out[(*n)++] = sl_strdup(json_string_value(v));
    }
    return out;
}

int sl_crawl_config_from_json(struct sl_crawl_config *c, const json_t *j, struct sl_err *err)
{
    const char *s;
    json_t *v;
    if (!json_is_object(j))
        return sl_err_set(err, SL_ECONFIG, "crawler config is not a JSON object");
    if ((s = json_string_value(json_object_get(j, "name"))))
        c->name = sl_strdup(s);
    if (!(s = json_string_value(json_object_get(j, "database"))))
        return sl_err_set(err, SL_ECONFIG, "crawler config: no \"database\"");
    c->database = sl_strdup(s);
    if ((s = json_string_value(json_object_get(j, "table_prefix"))))
        c->table_prefix = sl_strdup(s);
    json_t *targets = json_object_get(j, "targets");
    if (!json_is_array(targets) || json_array_size(targets) == 0)
        return sl_err_set(err, SL_ECONFIG, "crawler config: no \"targets\"");
    c->targets = sl_calloc(json_array_size(targets), sizeof *c->targets);
    size_t i;
    json_array_foreach(targets, i, v)
    {
        if (!(s = json_string_value(json_object_get(v, "path"))))
            return sl_err_set(err, SL_ECONFIG, "crawler config: target %zu has no \"path\"", i);
        c->targets[c->n_targets++] = sl_strdup(s);
        if (i == 0)
            c->exclusions = strv_from_json(json_object_get(v, "exclusions"), &c->n_exclusions);
    }
    if ((s = json_string_value(json_object_get(j, "update_behavior")))) {
        int k = pick_name(s, update_names, SL_ARRAY_LEN(update_names));
        if (k < 0)
            return sl_err_set(err, SL_ECONFIG, "crawler config: unknown update_behavior \"%s\"", s);
        c->update_behavior = (enum sl_crawl_update)k;
    }
    if ((s = json_string_value(json_object_get(j, "delete_behavior")))) {
        int k = pick_name(s, delete_names, SL_ARRAY_LEN(delete_names));
        if (k < 0)
            return sl_err_set(err, SL_ECONFIG, "crawler config: unknown delete_behavior \"%s\"", s);
        c->delete_behavior = (enum sl_crawl_delete)k;
    }
    if ((v = json_object_get(j, "max_tables")) && json_is_integer(v))
        c->max_tables = (int)json_integer_value(v);
    if ((v = json_object_get(j, "max_concurrency")) && json_is_integer(v))
        c->max_concurrency = (int)json_integer_value(v);
    if ((v = json_object_get(j, "ignore_hidden")) && json_is_boolean(v))
        c->ignore_hidden = json_is_true(v);
    if ((v = json_object_get(j, "allow_empty_listing_deletes")) && json_is_boolean(v))
        c->allow_empty_listing_deletes = json_is_true(v);
    if ((v = json_object_get(j, "sample_initial_bytes")) && json_is_integer(v))
        c->opts.sample_initial_bytes = (size_t)json_integer_value(v);
    if ((s = json_string_value(json_object_get(j, "recrawl")))) {
        if (strcmp(s, "CRAWL_NEW_FOLDERS_ONLY") == 0)
            c->recrawl = SL_CRAWL_NEW_FOLDERS_ONLY;
        else if (strcmp(s, "CRAWL_EVERYTHING") == 0)
            c->recrawl = SL_CRAWL_EVERYTHING;
        else
            return sl_err_set(err, SL_ECONFIG, "crawler config: unknown recrawl \"%s\"", s);
    }
    if ((v = json_object_get(j, "sample_max_bytes")) && json_is_integer(v))
        c->opts.sample_max_bytes = (size_t)json_integer_value(v);
    if ((v = json_object_get(j, "tail_sample_bytes")) && json_is_integer(v))
        c->opts.tail_sample_bytes = (size_t)json_integer_value(v);
    if ((v = json_object_get(j, "table_depth")) && json_is_integer(v))
        c->gopts.table_depth = (int)json_integer_value(v);
    if ((v = json_object_get(j, "similarity_threshold")) && json_is_number(v))
        c->gopts.similarity_threshold = json_number_value(v);
    if ((v = json_object_get(j, "partition_majority")) && json_is_number(v))
        c->gopts.partition_majority = json_number_value(v);
    if ((v = json_object_get(j, "max_clusters")) && json_is_integer(v))
        c->gopts.max_clusters = (int)json_integer_value(v);
    if ((v = json_object_get(j, "single_schema")) && json_is_boolean(v))
        c->gopts.single_schema = json_is_true(v);
    return SL_OK;
}

void sl_crawl_config_hash(const struct sl_crawl_config *c, char out[65])
{
    json_t *j = classify_opts_json(&c->opts);
    json_object_set_new(j, "ignore_hidden", json_boolean(c->ignore_hidden));
    json_object_set_new(j, "exclusions", strv_json(c->exclusions, c->n_exclusions));
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    sl_sha256_hex(s ? s : "", s ? strlen(s) : 0, out);
    free(s);
    json_decref(j);
}

/* ---- One object of a run ---- */

struct cobj {
    char *key;               /* owned; store key */
    const char *rel;         /* into key: relative to the include path */
    char etag[72];
    char storage_class[24];  /* from the listing; "" when unknown */
    int64_t size, mtime_ms;
    const char *status;      /* static: ok unknown unsupported error excluded skipped_* */
    int change;              /* 0 unchanged, 1 new, 2 changed, 3 only last-modified moved */
    bool sampled_now;
    char classification[16];
    char compression[16];
    char *compat_key;        /* owned */
    char *reason;            /* owned; unknown/error reason */
    double certainty;
    struct sl_cschema schema;
    json_t *format_params;   /* owned */
    json_t *header_evidence; /* owned */
    int64_t record_estimate;
    bool record_exact;
    double avg_record_bytes, decoded_ratio;
    char schema_hash[65];
    int64_t first_seen_run;
};

static void cobj_cleanup(struct cobj *o)
{
    sl_free(o->key);
    sl_free(o->compat_key);
    sl_free(o->reason);
    sl_cschema_cleanup(&o->schema);
    json_decref(o->format_params);
    json_decref(o->header_evidence);
}

/* ---- Per-file schema JSON (crawl_schema rows) ---- */

static const char *tz_name(enum sl_ct_tz tz)
{
    return tz == SL_CT_TZ_EXPLICIT ? "explicit" : tz == SL_CT_TZ_NAIVE ? "naive" : NULL;
}

static json_t *schema_to_json(const struct sl_cschema *s)
{
    json_t *cols = json_array();
    for (size_t i = 0; i < s->n_cols; i++) {
        const struct sl_ccolumn *c = &s->cols[i];
        char *type = sl_ctype_to_string(c->type);
        json_t *jc = json_pack("{s:s,s:s}", "name", c->name, "type", type ? type : "string");
        sl_free(type);
        if (c->source_name)
            json_object_set_new(jc, "source_name", json_string(c->source_name));
        if (!c->type || c->type->kind == SL_CT_NULL)
            json_object_set_new(jc, "placeholder", json_true());
        if (c->type && c->type->kind == SL_CT_TIMESTAMP && tz_name(c->type->tz))
            json_object_set_new(jc, "tz", json_string(tz_name(c->type->tz)));
        if (c->type && (c->type->kind == SL_CT_DATE || c->type->kind == SL_CT_TIMESTAMP) &&
            c->type->non_iso)
            json_object_set_new(jc, "non_iso", json_true());
        if (c->format)
            json_object_set_new(jc, "format", json_string(c->format));
        if (c->ambiguous_date)
            json_object_set_new(jc, "ambiguous_date", json_true());
        json_array_append_new(cols, jc);
    }
    return json_pack("{s:o}", "columns", cols);
}

static int schema_from_json(const char *text, struct sl_cschema *s, struct sl_err *err)
{
    json_error_t jerr;
    json_t *j = json_loads(text, 0, &jerr);
    json_t *cols = j ? json_object_get(j, "columns") : NULL;
    size_t i;
    json_t *c;
    int rc = SL_OK;
    if (!json_is_array(cols)) {
        json_decref(j);
        return sl_err_set(err, SL_EPARSE, "cached schema is not valid: %s", jerr.text);
    }
    json_array_foreach(cols, i, c)
    {
        const char *name = json_string_value(json_object_get(c, "name"));
        const char *type = json_string_value(json_object_get(c, "type"));
        const char *src = json_string_value(json_object_get(c, "source_name"));
        struct sl_ctype *t = NULL;
        if (!name || !type) {
            rc = sl_err_set(err, SL_EPARSE, "cached schema: column %zu incomplete", i);
            break;
        }
        if (json_is_true(json_object_get(c, "placeholder")))
            t = sl_ctype_new(SL_CT_NULL);
        else if (!(t = sl_ctype_parse(type, err))) {
            rc = err->code ? err->code : SL_ENOMEM;
            break;
        }
        const char *tz = json_string_value(json_object_get(c, "tz"));
        if (tz && t->kind == SL_CT_TIMESTAMP)
            t->tz = strcmp(tz, "explicit") == 0 ? SL_CT_TZ_EXPLICIT : SL_CT_TZ_NAIVE;
        if (json_is_true(json_object_get(c, "non_iso")))
            t->non_iso = true;
        if ((rc = sl_cschema_add_take(s, name, src, t, err)) != SL_OK)
            break;
        const char *fmt = json_string_value(json_object_get(c, "format"));
        if (fmt)
            s->cols[s->n_cols - 1].format = sl_strdup(fmt);
        s->cols[s->n_cols - 1].ambiguous_date = json_is_true(json_object_get(c, "ambiguous_date"));
    }
    json_decref(j);
    return rc;
}

/* ---- Run state ---- */

struct target {
    char *uri;               /* owned; include path as given, normalised */
    char *base_uri;          /* owned; URI of the prefix ("s3://b/p/", "file:///d/") */
    char *prefix;            /* owned; store key prefix ("" or ends in '/'; or one object) */
    bool single_object;
    struct sl_store *st;
    struct cobj *objs;       /* owned; sorted by key */
    size_t n_objs, cap;
    char **deleted;          /* owned; manifest keys no longer listed */
    size_t n_deleted;
    bool listing_empty_guard;
};

struct run {
    struct sl_catalog *cat;
    const struct sl_crawl_config *cfg;
    enum sl_crawl_update update_behavior; /* cfg's, or LOG in CRAWL_NEW_FOLDERS_ONLY */
    enum sl_crawl_delete delete_behavior;
    bool new_folders_only;                /* this run walks only unknown folders (§12.3) */
    const char *crawler;
    char config_hash[65];
    int64_t run_id;
    struct target *targets;
    size_t n_targets;
    struct sl_store_stats stats; /* guarded by lock while workers run */
    pthread_mutex_t lock;
    json_t *warnings, *skipped, *tables;
    struct sl_glob **globs;      /* owned; compiled exclusions */
    struct sl_crawl_progress prog;
    sl_crawl_progress_fn progress;
    void *ud;
    _Atomic uint64_t n_sampled;
    /* counters */
    uint64_t objects_listed, objects_new, objects_changed, objects_unchanged, objects_deleted,
        objects_skipped, objects_unknown, objects_error, objects_ok;
    uint64_t tables_created, tables_updated, tables_unchanged, versions_created,
        partitions_added, partitions_updated, partitions_removed, tables_removed;
};

static void warn(struct run *r, const char *code, const char *subject, const char *fmt, ...)
    SL_PRINTF(4, 5);

static void warn(struct run *r, const char *code, const char *subject, const char *fmt, ...)
{
    char detail[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    json_array_append_new(r->warnings, json_pack("{s:s,s:s,s:s}", "code", code, "subject",
                                                 subject ? subject : "", "detail", detail));
}

static void add_stats(struct run *r, const struct sl_store *st)
{
    struct sl_store_stats s;
    sl_store_get_stats(st, &s);
    pthread_mutex_lock(&r->lock);
    r->stats.list_requests += s.list_requests;
    r->stats.head_requests += s.head_requests;
    r->stats.get_requests += s.get_requests;
    r->stats.bytes_read += s.bytes_read;
    r->stats.retries += s.retries;
    pthread_mutex_unlock(&r->lock);
}

static void report_progress(struct run *r, const char *phase)
{
    if (!r->progress)
        return;
    r->prog.phase = phase;
    r->prog.objects_sampled = atomic_load(&r->n_sampled);
    r->prog.bytes_read = r->stats.bytes_read;
    r->progress(r->ud, &r->prog);
}

/* ---- Listing ---- */

static int collect_obj(void *ud, const struct sl_obj_info *info)
{
    struct target *t = ud;
    if (t->n_objs == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 256;
        struct cobj *p = sl_realloc(t->objs, cap * sizeof *p);
        if (!p)
            return SL_ENOMEM;
        t->objs = p;
        t->cap = cap;
    }
    struct cobj *o = &t->objs[t->n_objs];
    memset(o, 0, sizeof *o);
    if (!(o->key = sl_strdup(info->key)))
        return SL_ENOMEM;
    snprintf(o->etag, sizeof o->etag, "%s", info->etag);
    snprintf(o->storage_class, sizeof o->storage_class, "%s", info->storage_class);
    o->size = info->size;
    o->mtime_ms = info->mtime_ms;
    o->status = "ok";
    t->n_objs++;
    return SL_OK;
}

static int cmp_cobj(const void *a, const void *b)
{
    return strcmp(((const struct cobj *)a)->key, ((const struct cobj *)b)->key);
}

/* ---- Folders (§12.1 crawl_folder) and CRAWL_NEW_FOLDERS_ONLY (§12.3) ---- */

struct folder {
    char *prefix; /* owned; relative to the include path, "" or ends in '/' */
    bool has_direct_files;
};

static int cmp_folder(const void *a, const void *b)
{
    return strcmp(((const struct folder *)a)->prefix, ((const struct folder *)b)->prefix);
}

static void folders_free(struct folder *f, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sl_free(f[i].prefix);
    sl_free(f);
}

/* Every folder of the listed objects (the include path itself is ""), sorted,
 * with whether objects sit directly in it. */
static int folders_of(const struct target *t, struct folder **out, size_t *n_out,
                      struct sl_err *err)
{
    struct folder *f = NULL;
    size_t n = 0, cap = 0;
    for (size_t i = 0; i < t->n_objs; i++) {
        const char *rel = t->objs[i].rel;
        const char *last = strrchr(rel, '/');
        size_t end = 0;
        for (;;) {
            const char *slash = strchr(rel + end, '/');
            size_t plen = end;
            if (n == cap) {
                cap = cap ? cap * 2 : 64;
                struct folder *p = sl_realloc(f, cap * sizeof *p);
                if (!p)
                    goto oom;
                f = p;
            }
            if (!(f[n].prefix = sl_strndup(rel, plen)))
                goto oom;
            f[n].has_direct_files = (last ? (size_t)(last - rel) + 1 : 0) == plen;
            n++;
            if (!slash)
                break;
            end = (size_t)(slash - rel) + 1;
        }
    }
    if (n)
        qsort(f, n, sizeof *f, cmp_folder);
    /* merge duplicates */
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        if (w && strcmp(f[w - 1].prefix, f[i].prefix) == 0) {
            f[w - 1].has_direct_files |= f[i].has_direct_files;
            sl_free(f[i].prefix);
            continue;
        }
        f[w++] = f[i];
    }
    *out = f;
    *n_out = w;
    return SL_OK;
oom:
    folders_free(f, n);
    return sl_err_set(err, SL_ENOMEM, "out of memory");
}

/* Records the folders of a full listing when they differ from the stored ones. */
static int write_folders(struct run *r, struct target *t, struct sl_err *err)
{
    struct folder *f = NULL;
    size_t n = 0;
    struct sl_catalog_crawl_folder *have = NULL;
    size_t n_have = 0;
    int rc;

    if (t->single_object || t->listing_empty_guard)
        return SL_OK;
    if ((rc = folders_of(t, &f, &n, err)) != SL_OK)
        return rc;
    if ((rc = sl_catalog_crawl_folder_list(r->cat, r->crawler, t->uri, &have, &n_have, err)))
        goto out;
    struct sl_catalog_crawl_folder *rows = sl_calloc(n + 1, sizeof *rows);
    size_t n_rows = 0;
    if (!rows) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        bool same = false;
        for (size_t j = 0; j < n_have && !same; j++) /* n is small: folders, not objects */
            same = strcmp(have[j].prefix, f[i].prefix) == 0 &&
                   have[j].has_direct_files == (int)f[i].has_direct_files;
        if (same)
            continue;
        rows[n_rows].crawler = (char *)r->crawler;
        rows[n_rows].include_path = t->uri;
        rows[n_rows].prefix = f[i].prefix;
        rows[n_rows].has_direct_files = f[i].has_direct_files;
        rows[n_rows].first_seen_run = r->run_id;
        n_rows++;
    }
    if (n_rows)
        rc = sl_catalog_crawl_folder_put(r->cat, rows, n_rows, err);
    sl_free(rows);
out:
    sl_catalog_crawl_folder_list_free(have, n_have);
    folders_free(f, n);
    return rc;
}

static bool folder_excluded(const struct run *r, const char *rel_prefix)
{
    for (size_t i = 0; i < r->cfg->n_exclusions; i++) {
        if (sl_glob_covers_folder(r->globs[i], rel_prefix))
            return true;
    }
    return false;
}

struct walk_ctx {
    struct target *t;
    char ***children;  /* common prefixes found (rel) */
    size_t *n_children;
    size_t prefix_len;
};

static int walk_collect(void *ud, const struct sl_obj_info *info)
{
    struct walk_ctx *w = ud;
    if (!info->is_prefix)
        return SL_OK; /* files of known folders are not looked at (§12.3) */
    char **p = sl_realloc(*w->children, (*w->n_children + 1) * sizeof *p);
    if (!p)
        return SL_ENOMEM;
    *w->children = p;
    if (!(p[*w->n_children] = sl_strdup(info->key + w->prefix_len)))
        return SL_ENOMEM;
    (*w->n_children)++;
    return SL_OK;
}

/* CRAWL_NEW_FOLDERS_ONLY (§12.3): the object set is the manifest plus every
 * object of folders the last crawls never saw. Known folders with files of
 * their own are not listed; other known folders are listed with a delimiter
 * only to find new child folders; unknown folders are listed recursively. */
static int walk_new_folders(struct run *r, struct target *t, struct sl_err *err)
{
    struct sl_catalog_crawl_folder *known = NULL;
    size_t n_known = 0;
    char **queue = NULL;
    size_t n_queue = 0, head = 0;
    int rc;
    size_t plen = strlen(t->prefix);

    if ((rc = sl_catalog_crawl_folder_list(r->cat, r->crawler, t->uri, &known, &n_known, err)))
        return rc;
    /* the manifest's objects stand in for a listing of the known folders */
    const char *after = NULL;
    char *after_buf = NULL;
    for (;;) {
        struct sl_catalog_crawl_object *page = NULL;
        size_t n = 0;
        rc = sl_catalog_crawl_object_list(r->cat, r->crawler, t->uri, after, MANIFEST_PAGE,
                                          &page, &n, err);
        if (rc != SL_OK)
            goto out;
        for (size_t i = 0; i < n && rc == SL_OK; i++) {
            char *key = sl_asprintf("%s%s", t->prefix, page[i].key);
            struct sl_obj_info info = { .key = key, .size = page[i].object_len,
                                        .mtime_ms = page[i].last_modified_ms };
            snprintf(info.etag, sizeof info.etag, "%s", page[i].etag);
            if (page[i].storage_class)
                snprintf(info.storage_class, sizeof info.storage_class, "%s",
                         page[i].storage_class);
            rc = key ? collect_obj(t, &info) : SL_ENOMEM;
            sl_free(key);
        }
        sl_free(after_buf);
        after_buf = n ? sl_strdup(page[n - 1].key) : NULL;
        after = after_buf;
        sl_catalog_crawl_object_list_free(page, n);
        if (rc != SL_OK) {
            if (err->code == SL_OK)
                sl_err_set(err, SL_ENOMEM, "out of memory");
            goto out;
        }
        if (n < MANIFEST_PAGE)
            break;
    }
    sl_free(after_buf);

    if (!(queue = sl_calloc(1, sizeof *queue)) || !(queue[0] = sl_strdup(""))) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto out;
    }
    n_queue = 1;
    while (head < n_queue && rc == SL_OK) {
        const char *rel = queue[head++];
        if (!rel)
            continue; /* excluded before it was listed */
        const struct sl_catalog_crawl_folder *k = NULL;
        for (size_t i = 0; i < n_known && !k; i++) {
            if (strcmp(known[i].prefix, rel) == 0)
                k = &known[i];
        }
        char *full = sl_asprintf("%s%s", t->prefix, rel);
        if (!full) {
            rc = sl_err_set(err, SL_ENOMEM, "out of memory");
            break;
        }
        if (k && k->has_direct_files) {
            /* known, with files of its own: not listed */
        } else if (k) {
            struct walk_ctx w = { t, &queue, &n_queue, plen };
            rc = sl_store_list(t->st, full, "/", walk_collect, &w, err);
            if (rc == SL_ENOMEM && err->code == SL_OK)
                sl_err_set(err, SL_ENOMEM, "out of memory");
            /* children that an exclusion covers are dropped before any LIST */
            for (size_t i = head; i < n_queue; i++) {
                if (queue[i] && folder_excluded(r, queue[i])) {
                    sl_free(queue[i]);
                    queue[i] = NULL;
                }
            }
        } else if (!folder_excluded(r, rel)) {
            rc = sl_store_list(t->st, full, NULL, collect_obj, t, err);
            if (rc == SL_ENOMEM && err->code == SL_OK)
                sl_err_set(err, SL_ENOMEM, "out of memory");
        }
        sl_free(full);
    }
    if (rc != SL_OK)
        goto out;
    /* one object may now be there twice (manifest and a new folder): keep one */
    if (t->n_objs > 1) {
        qsort(t->objs, t->n_objs, sizeof *t->objs, cmp_cobj);
        size_t w = 1;
        for (size_t i = 1; i < t->n_objs; i++) {
            if (strcmp(t->objs[w - 1].key, t->objs[i].key) == 0) {
                cobj_cleanup(&t->objs[i]);
                continue;
            }
            t->objs[w++] = t->objs[i];
        }
        t->n_objs = w;
    }
out:
    for (size_t i = 0; i < n_queue; i++)
        sl_free(queue[i]);
    sl_free(queue);
    sl_catalog_crawl_folder_list_free(known, n_known);
    return rc;
}

/* Opens the include path's store and lists it. A path without a trailing '/'
 * names one object when that exact key exists, else a folder. */
static int list_target(struct run *r, struct target *t, const char *uri, struct sl_err *err)
{
    char *key = NULL;
    int rc;

    if (!(t->uri = sl_strdup(uri)))
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    if (!(t->st = sl_store_open(uri, &key, err)))
        return err->code;
    size_t klen = strlen(key);
    if (klen && key[klen - 1] != '/') {
        struct target probe = { 0 };
        rc = sl_store_list(t->st, key, NULL, collect_obj, &probe, err);
        bool exact = false;
        for (size_t i = 0; rc == SL_OK && i < probe.n_objs; i++)
            exact |= strcmp(probe.objs[i].key, key) == 0;
        if (rc == SL_OK && exact) {
            t->single_object = true;
            for (size_t i = 0; i < probe.n_objs; i++) {
                if (strcmp(probe.objs[i].key, key) == 0 && t->n_objs == 0) {
                    t->objs = sl_calloc(1, sizeof *t->objs);
                    t->objs[0] = probe.objs[i];
                    t->n_objs = t->cap = 1;
                } else {
                    cobj_cleanup(&probe.objs[i]);
                }
            }
            sl_free(probe.objs);
            const char *slash = strrchr(key, '/');
            t->prefix = sl_strndup(key, slash ? (size_t)(slash - key) + 1 : 0);
        } else {
            for (size_t i = 0; i < probe.n_objs; i++)
                cobj_cleanup(&probe.objs[i]);
            sl_free(probe.objs);
            if (rc != SL_OK)
                goto out;
            t->prefix = sl_asprintf("%s/", key);
        }
    } else {
        t->prefix = sl_strdup(key);
    }
    if (!t->prefix) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto out;
    }
    char *pu = sl_store_uri(t->st, t->prefix);
    if (pu && strcmp(sl_store_scheme(t->st), "file") == 0) {
        t->base_uri = sl_asprintf("file://%s", pu);
        sl_free(pu);
    } else {
        t->base_uri = pu;
    }
    if (!t->single_object && r->new_folders_only) {
        rc = walk_new_folders(r, t, err);
        if (rc != SL_OK)
            goto out;
    } else if (!t->single_object) {
        rc = sl_store_list(t->st, t->prefix, NULL, collect_obj, t, err);
        if (rc == SL_ENOMEM && err->code == SL_OK)
            sl_err_set(err, SL_ENOMEM, "out of memory listing \"%s\"", uri);
        if (rc != SL_OK)
            goto out;
    }
    size_t plen = strlen(t->prefix);
    for (size_t i = 0; i < t->n_objs; i++)
        t->objs[i].rel = t->objs[i].key + plen;
    r->objects_listed += t->n_objs;
    r->prog.objects_listed = r->objects_listed;
    rc = SL_OK;
out:
    if (rc != SL_OK)
        sl_err_prefix(err, "list \"%s\"", uri);
    sl_free(key);
    return rc;
}

/* ---- Manifest diff ---- */

static int cmp_manifest_key(const void *a, const void *b)
{
    return strcmp(((const struct sl_catalog_crawl_object *)a)->key,
                  ((const struct sl_catalog_crawl_object *)b)->key);
}

/* Loads a cached manifest row into o (classification, schema, params). */
static int load_cached(struct run *r, struct cobj *o, const struct sl_catalog_crawl_object *m,
                       struct sl_err *err)
{
    o->status = strcmp(m->status, "ok") == 0            ? "ok"
                : strcmp(m->status, "unknown") == 0     ? "unknown"
                : strcmp(m->status, "unsupported") == 0 ? "unsupported"
                : strcmp(m->status, "excluded") == 0    ? "excluded"
                                                        : NULL;
    if (!o->status)
        return SL_ENOTFOUND; /* errors and skips are re-evaluated */
    o->first_seen_run = m->first_seen_run;
    if (m->classification)
        snprintf(o->classification, sizeof o->classification, "%s", m->classification);
    snprintf(o->compression, sizeof o->compression, "%s", m->compression ? m->compression : "none");
    o->compat_key = m->compat_key ? sl_strdup(m->compat_key) : NULL;
    o->certainty = m->certainty;
    o->record_estimate = m->record_estimate > 0 ? m->record_estimate : 0;
    o->record_exact = m->record_exact == 1;
    o->avg_record_bytes = m->avg_record_bytes > 0 ? m->avg_record_bytes : 0;
    o->decoded_ratio = m->decoded_ratio > 0 ? m->decoded_ratio : 1;
    if (m->format_params)
        o->format_params = json_loads(m->format_params, 0, NULL);
    if (m->header_evidence)
        o->header_evidence = json_loads(m->header_evidence, 0, NULL);
    if (m->schema_hash && strcmp(o->status, "ok") == 0) {
        char *text = NULL;
        int rc = sl_catalog_crawl_schema_get(r->cat, m->schema_hash, &text, err);
        if (rc == SL_OK)
            rc = schema_from_json(text, &o->schema, err);
        sl_free(text);
        if (rc != SL_OK)
            return rc;
        snprintf(o->schema_hash, sizeof o->schema_hash, "%s", m->schema_hash);
    }
    return SL_OK;
}

static const char *skip_status(const struct run *r, const struct cobj *o)
{
    const struct sl_crawl_config *cfg = r->cfg;
    for (size_t i = 0; i < cfg->n_exclusions; i++) {
        if (sl_glob_matches(r->globs[i], o->rel))
            return "excluded";
    }
    return sl_crawl_skip_status(o->rel, o->size, o->storage_class[0] ? o->storage_class : NULL,
                                cfg->ignore_hidden);
}

static int diff_target(struct run *r, struct target *t, struct sl_err *err)
{
    struct sl_catalog_crawl_object *all = NULL;
    size_t n_all = 0;
    int rc = SL_OK;

    /* whole manifest of this include path, page by page */
    for (;;) {
        struct sl_catalog_crawl_object *page = NULL;
        size_t n = 0;
        rc = sl_catalog_crawl_object_list(r->cat, r->crawler, t->uri,
                                          n_all ? all[n_all - 1].key : NULL, MANIFEST_PAGE, &page,
                                          &n, err);
        if (rc != SL_OK)
            goto out;
        if (n == 0) {
            sl_catalog_crawl_object_list_free(page, 0);
            break;
        }
        {
            struct sl_catalog_crawl_object *p = sl_realloc(all, (n_all + n) * sizeof *p);
            if (!p) {
                sl_catalog_crawl_object_list_free(page, n);
                rc = sl_err_set(err, SL_ENOMEM, "out of memory");
                goto out;
            }
            all = p;
            memcpy(all + n_all, page, n * sizeof *page);
            n_all += n;
            sl_free(page); /* the rows moved into 'all' */
        }
        if (n < MANIFEST_PAGE)
            break;
    }
    if (n_all)
        qsort(all, n_all, sizeof *all, cmp_manifest_key);

    /* merge walk: both sorted by key */
    size_t mi = 0;
    for (size_t i = 0; i < t->n_objs; i++) {
        struct cobj *o = &t->objs[i];
        while (mi < n_all && strcmp(all[mi].key, o->rel) < 0) {
            t->deleted = sl_realloc(t->deleted, (t->n_deleted + 1) * sizeof *t->deleted);
            t->deleted[t->n_deleted++] = sl_strdup(all[mi].key);
            mi++;
        }
        const struct sl_catalog_crawl_object *m =
            mi < n_all && strcmp(all[mi].key, o->rel) == 0 ? &all[mi++] : NULL;
        const char *skip = skip_status(r, o);
        bool same = m && strcmp(m->etag, o->etag) == 0 && m->object_len == o->size &&
                    m->inference_version == SL_INFERENCE_VERSION &&
                    strcmp(m->config_hash, r->config_hash) == 0;
        if (skip) {
            o->status = skip;
            o->change = same ? 0 : m ? 2 : 1;
            if (m)
                o->first_seen_run = m->first_seen_run;
            r->objects_skipped++;
            json_array_append_new(r->skipped, json_pack("{s:s,s:s}", "key", o->rel, "status", skip));
            continue;
        }
        if (same && load_cached(r, o, m, err) == SL_OK) {
            o->change = m->last_modified_ms != o->mtime_ms ? 3 : 0;
            r->objects_unchanged++;
            continue;
        }
        if (err->code == SL_EPARSE || err->code == SL_ENOTFOUND)
            sl_err_clear(err); /* a bad cache row: sample again */
        else if (err->code != SL_OK) {
            rc = err->code;
            goto out;
        }
        /* new or changed: drop whatever load_cached may have filled */
        sl_cschema_cleanup(&o->schema);
        json_decref(o->format_params);
        json_decref(o->header_evidence);
        o->format_params = o->header_evidence = NULL;
        sl_free(o->compat_key);
        o->compat_key = NULL;
        o->schema_hash[0] = '\0';
        o->status = "ok";
        o->change = m ? 2 : 1;
        if (m)
            o->first_seen_run = m->first_seen_run;
        if (m)
            r->objects_changed++;
        else
            r->objects_new++;
        o->sampled_now = true;
    }
    for (; mi < n_all; mi++) {
        t->deleted = sl_realloc(t->deleted, (t->n_deleted + 1) * sizeof *t->deleted);
        t->deleted[t->n_deleted++] = sl_strdup(all[mi].key);
    }
    if (t->n_objs == 0 && t->n_deleted > 0 && !r->cfg->allow_empty_listing_deletes) {
        t->listing_empty_guard = true;
        warn(r, "EMPTY_LISTING_GUARD", t->uri,
             "the include path lists no objects while the manifest holds %zu; nothing is "
             "treated as deleted",
             t->n_deleted);
        free_strv(t->deleted, t->n_deleted);
        t->deleted = NULL;
        t->n_deleted = 0;
    }
    r->objects_deleted += t->n_deleted;
out:
    sl_catalog_crawl_object_list_free(all, n_all);
    return rc;
}

/* ---- Sampling pool ---- */

struct pool {
    struct run *r;
    struct target *t;
    struct cobj **todo; /* borrowed */
    size_t n_todo;
    _Atomic size_t next;
    _Atomic int failed_hard; /* a store could not be opened */
};

static void finish_sampled(struct cobj *o, struct sl_cls_result *res,
                           const struct sl_sample_info *info)
{
    snprintf(o->compression, sizeof o->compression, "%s", info->compression);
    o->decoded_ratio = info->decoded_ratio;
    if (!res->classification[0]) {
        o->status = "unknown";
        o->reason = sl_strdup(res->reason[0] ? res->reason : "unrecognised format");
        return;
    }
    snprintf(o->classification, sizeof o->classification, "%s", res->classification);
    if (res->unsupported) {
        o->status = "unsupported";
        o->reason = sl_strdup(res->reason[0] ? res->reason : "unsupported format");
        return;
    }
    o->status = "ok";
    o->certainty = res->certainty;
    o->schema = res->schema;
    memset(&res->schema, 0, sizeof res->schema);
    o->format_params = res->format_params;
    res->format_params = NULL;
    if (!o->format_params)
        o->format_params = json_object();
    o->header_evidence = res->header_evidence;
    res->header_evidence = NULL;
    o->record_estimate = info->record_estimate;
    o->record_exact = info->record_exact;
    o->avg_record_bytes = res->avg_record_bytes;
    if (strcmp(o->classification, "csv") == 0)
        o->compat_key = sl_csv_compat_key(o->format_params);
    else
        o->compat_key = sl_strdup(o->classification);
}

struct relist {
    const char *key;
    struct sl_obj_info found;
    bool ok;
};

static int relist_fn(void *ud, const struct sl_obj_info *info)
{
    struct relist *rl = ud;
    if (!info->is_prefix && strcmp(info->key, rl->key) == 0) {
        rl->found = *info;
        rl->ok = true;
    }
    return SL_OK;
}

/* Lists one object again (prefix = its key) and takes its new ETag, size and
 * time. SL_ENOTFOUND when it is gone. */
static int relist_one(struct sl_store *st, struct cobj *o, struct sl_err *err)
{
    struct relist rl = { .key = o->key };
    int rc = sl_store_list(st, o->key, NULL, relist_fn, &rl, err);
    if (rc != SL_OK)
        return rc;
    if (!rl.ok)
        return sl_err_set(err, SL_ENOTFOUND, "\"%s\": deleted while crawled", o->key);
    snprintf(o->etag, sizeof o->etag, "%s", rl.found.etag);
    o->size = rl.found.size;
    o->mtime_ms = rl.found.mtime_ms;
    return SL_OK;
}

static void *sample_worker(void *arg)
{
    struct pool *p = arg;
    struct sl_err err = { 0 };
    struct sl_store *st = sl_store_open(p->t->uri, NULL, &err);
    for (;;) {
        size_t i = atomic_fetch_add(&p->next, 1);
        if (i >= p->n_todo)
            break;
        struct cobj *o = p->todo[i];
        if (!st) { /* every object this worker takes fails the same way */
            atomic_store(&p->failed_hard, 1);
            o->status = "error";
            o->reason = sl_strdup(err.msg);
            atomic_fetch_add(&p->r->n_sampled, 1);
            continue;
        }
        struct sl_cls_result res;
        struct sl_sample_info info;
        sl_cls_result_init(&res);
        sl_err_clear(&err);
        int src = sl_sample_object(st, o->key, o->etag, o->rel, o->size, &p->r->cfg->opts, &res,
                                   &info, &err);
        if (src == SL_ECHANGED && relist_one(st, o, &err) == SL_OK) {
            /* §4: replaced after the LIST: list it once more and sample again */
            sl_cls_result_cleanup(&res);
            sl_cls_result_init(&res);
            sl_err_clear(&err);
            src = sl_sample_object(st, o->key, o->etag, o->rel, o->size, &p->r->cfg->opts, &res,
                                   &info, &err);
        }
        if (src == SL_OK) {
            finish_sampled(o, &res, &info);
        } else {
            o->status = "error";
            o->reason = sl_strdup(err.msg);
        }
        sl_cls_result_cleanup(&res);
        atomic_fetch_add(&p->r->n_sampled, 1);
    }
    if (st) {
        add_stats(p->r, st);
        sl_store_free(st);
    }
    return NULL;
}

static int sample_target(struct run *r, struct target *t, struct sl_err *err)
{
    struct pool p = { .r = r, .t = t };
    pthread_t th[64];
    size_t n_th = 0;

    p.todo = sl_calloc(t->n_objs + 1, sizeof *p.todo);
    if (!p.todo)
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    for (size_t i = 0; i < t->n_objs; i++) {
        if (t->objs[i].sampled_now)
            p.todo[p.n_todo++] = &t->objs[i];
    }
    r->prog.objects_to_sample += p.n_todo;
    size_t want = (size_t)(r->cfg->max_concurrency > 0 ? r->cfg->max_concurrency : 1);
    if (want > SL_ARRAY_LEN(th))
        want = SL_ARRAY_LEN(th);
    if (want > p.n_todo)
        want = p.n_todo;
    for (size_t i = 0; i < want; i++) {
        if (pthread_create(&th[n_th], NULL, sample_worker, &p) == 0)
            n_th++;
    }
    if (p.n_todo && n_th == 0) {
        sl_free(p.todo);
        return sl_err_set(err, SL_ENOMEM, "cannot start sampling threads");
    }
    /* progress while the workers run */
    while (atomic_load(&p.next) < p.n_todo) {
        report_progress(r, "sampling");
        struct timespec ts = { 0, 200 * 1000000L };
        nanosleep(&ts, NULL);
    }
    for (size_t i = 0; i < n_th; i++)
        pthread_join(th[i], NULL);
    report_progress(r, "sampling");
    sl_free(p.todo);
    if (atomic_load(&p.failed_hard))
        return sl_err_set(err, SL_ECONFIG, "cannot open \"%s\" for sampling", t->uri);
    return SL_OK;
}

/* ---- Writing the catalog ---- */

static int params_from_json(struct sl_catalog_params *p, const json_t *j, struct sl_err *err)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)j, k, v)
    {
        char num[64];
        const char *s = json_string_value(v);
        if (!s && json_is_integer(v)) {
            snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
            s = num;
        } else if (!s && json_is_real(v)) {
            snprintf(num, sizeof num, "%.17g", json_real_value(v));
            s = num;
        } else if (!s && json_is_boolean(v)) {
            s = json_is_true(v) ? "true" : "false";
        }
        if (s && sl_catalog_params_set(p, k, s, err) != SL_OK)
            return err->code;
    }
    return SL_OK;
}

static int add_catalog_column(struct sl_catalog_table *ct, const struct sl_ccolumn *c,
                              struct sl_err *err)
{
    char *type = sl_ctype_to_string(c->type);
    if (!type)
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    int rc = sl_catalog_table_add_column(ct, c->name, type, c->source_name, err);
    sl_free(type);
    if (rc != SL_OK)
        return rc;
    struct sl_catalog_params *p = &ct->columns[ct->n_columns - 1].params;
    if (c->source_name && (rc = sl_catalog_params_set(p, "source_name", c->source_name, err)))
        return rc;
    if (c->format && (rc = sl_catalog_params_set(p, "format", c->format, err)))
        return rc;
    if (!c->type || c->type->kind == SL_CT_NULL)
        rc = sl_catalog_params_set(p, "placeholder", "true", err);
    else if (c->type->kind == SL_CT_TIMESTAMP && tz_name(c->type->tz))
        rc = sl_catalog_params_set(p, "tz", tz_name(c->type->tz), err);
    return rc;
}

static int find_column(const struct sl_catalog_table *t, const char *name)
{
    for (size_t i = 0; i < t->n_columns; i++) {
        if (strcmp(t->columns[i].name, name) == 0)
            return (int)i;
    }
    return -1;
}

/* Applies MERGE_NEW_COLUMNS / LOG to ct against the table in the catalog. */
static int apply_update_policy(struct run *r, struct sl_catalog_table *ct,
                               const struct sl_catalog_table *old, struct sl_err *err)
{
    char h_new[65], h_old[65];
    if (r->update_behavior == SL_CRAWL_UPDATE_IN_DATABASE)
        return SL_OK;
    if (sl_catalog_schema_hash(ct, h_new, err) || sl_catalog_schema_hash(old, h_old, err))
        return err->code;
    if (strcmp(h_new, h_old) == 0)
        return SL_OK;
    struct sl_catalog_table keep;
    sl_catalog_table_init(&keep);
    int rc = SL_OK;
    /* start from the catalog's columns and keys */
    for (size_t i = 0; rc == SL_OK && i < old->n_columns; i++) {
        const struct sl_catalog_column *oc = &old->columns[i];
        const char *type = oc->type;
        int j = find_column(ct, oc->name);
        bool placeholder = sl_catalog_params_get(&oc->params, "placeholder") != NULL;
        if (r->update_behavior == SL_CRAWL_MERGE_NEW_COLUMNS && j >= 0 &&
            strcmp(ct->columns[j].type, oc->type) != 0) {
            if (placeholder && !sl_catalog_params_get(&ct->columns[j].params, "placeholder"))
                type = ct->columns[j].type; /* a placeholder is resolved, not changed */
            else
                warn(r, "TYPE_CONFLICT", ct->name, "column \"%s\" stays %s; the data now reads %s",
                     oc->name, oc->type, ct->columns[j].type);
        }
        rc = sl_catalog_table_add_column(&keep, oc->name, type, oc->comment, err);
        if (rc == SL_OK)
            rc = sl_catalog_params_copy(&keep.columns[keep.n_columns - 1].params,
                                        type == oc->type ? &oc->params : &ct->columns[j].params,
                                        err);
    }
    if (r->update_behavior == SL_CRAWL_MERGE_NEW_COLUMNS) {
        for (size_t i = 0; rc == SL_OK && i < ct->n_columns; i++) {
            if (find_column(old, ct->columns[i].name) >= 0)
                continue;
            rc = sl_catalog_table_add_column(&keep, ct->columns[i].name, ct->columns[i].type,
                                             ct->columns[i].comment, err);
            if (rc == SL_OK)
                rc = sl_catalog_params_copy(&keep.columns[keep.n_columns - 1].params,
                                            &ct->columns[i].params, err);
        }
    } else {
        warn(r, "SCHEMA_CHANGE_LOGGED", ct->name,
             "the data's schema differs from the catalog's; update_behavior LOG keeps the "
             "catalog's columns");
    }
    for (size_t i = 0; rc == SL_OK && i < old->n_partition_keys; i++)
        rc = sl_catalog_table_add_partition_key(&keep, old->partition_keys[i].name,
                                                old->partition_keys[i].type, err);
    if (rc == SL_OK) {
        /* swap the column sets */
        struct sl_catalog_column *cols = ct->columns, *keys = ct->partition_keys;
        size_t n_cols = ct->n_columns, n_keys = ct->n_partition_keys;
        ct->columns = keep.columns;
        ct->n_columns = keep.n_columns;
        ct->partition_keys = keep.partition_keys;
        ct->n_partition_keys = keep.n_partition_keys;
        keep.columns = cols;
        keep.n_columns = n_cols;
        keep.partition_keys = keys;
        keep.n_partition_keys = n_keys;
    }
    sl_catalog_table_cleanup(&keep);
    return rc;
}

static void name_with_hash(char *out, size_t len, const char *name, const char *location)
{
    char h[65];
    sl_sha256_hex(location, strlen(location), h);
    snprintf(out, len, "%.110s_%.8s", name, h);
}

static json_t *change_kinds_json(unsigned kinds)
{
    json_t *a = json_array();
    for (unsigned bit = 1; bit && bit <= (1u << 15); bit <<= 1) {
        if ((kinds & bit) && sl_catalog_change_name(bit))
            json_array_append_new(a, json_string(sl_catalog_change_name(bit)));
    }
    return a;
}

/* The catalog name for a table at location: its own name, unless another
 * table of the database (not at this location) has it already. */
static int resolve_name(struct run *r, const char *name, const char *location, char *out,
                        size_t out_len, struct sl_catalog_table **existing, struct sl_err *err)
{
    *existing = NULL;
    snprintf(out, out_len, "%s", name);
    for (int attempt = 0; attempt < 2; attempt++) {
        struct sl_catalog_table *t = NULL;
        int rc = sl_catalog_table_get(r->cat, r->cfg->database, out, &t, err);
        if (rc == SL_ENOTFOUND) {
            sl_err_clear(err);
            return SL_OK;
        }
        if (rc != SL_OK)
            return rc;
        if (strcmp(t->location, location) == 0) {
            *existing = t;
            return SL_OK;
        }
        sl_catalog_table_free(t);
        if (attempt == 0) {
            warn(r, "NAME_COLLISION", location, "table \"%s\" exists at another location", name);
            name_with_hash(out, out_len, name, location);
        }
    }
    return sl_err_set(err, SL_EEXIST, "table names \"%s\" and \"%s\" are both taken", name, out);
}

static int write_table(struct run *r, struct target *t, const struct sl_gtable *gt,
                       struct sl_err *err)
{
    struct sl_catalog_table ct;
    struct sl_catalog_table *old = NULL;
    struct sl_catalog_partition *parts = NULL;
    char name[160];
    char *location = NULL;
    int rc;

    sl_catalog_table_init(&ct);
    location = t->single_object ? sl_strdup(t->uri) : sl_asprintf("%s%s", t->base_uri, gt->prefix);
    if (!location) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = resolve_name(r, gt->name, location, name, sizeof name, &old, err)) != SL_OK)
        goto out;
    ct.database = sl_strdup(r->cfg->database);
    ct.name = sl_strdup(name);
    ct.location = sl_strdup(location);
    ct.classification = sl_strdup(gt->classification);
    ct.created_by_crawler = sl_strdup(r->crawler);
    if (!ct.database || !ct.name || !ct.location || !ct.classification || !ct.created_by_crawler) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = params_from_json(&ct.params, gt->params, err)) != SL_OK)
        goto out;
    char iv[16];
    snprintf(iv, sizeof iv, "%d", SL_INFERENCE_VERSION);
    if ((rc = sl_catalog_params_set(&ct.params, "UPDATED_BY_CRAWLER", r->crawler, err)) ||
        (rc = sl_catalog_params_set(&ct.params, "CrawlerSchemaSerializerVersion", "1.0", err)) ||
        (rc = sl_catalog_params_set(&ct.params, "CrawlerSchemaDeserializerVersion", "1.0", err)) ||
        (rc = sl_catalog_params_set(&ct.params, "typeOfData", "file", err)) ||
        (rc = sl_catalog_params_set(&ct.params, "sluice.inference_version", iv, err)))
        goto out;
    if (t->single_object &&
        (rc = sl_catalog_params_set(&ct.params, "sluice.single_object", "true", err)))
        goto out;
    if (r->cfg->n_exclusions) {
        json_t *ex = strv_json(r->cfg->exclusions, r->cfg->n_exclusions);
        char *s = json_dumps(ex, JSON_COMPACT);
        json_decref(ex);
        rc = s ? sl_catalog_params_set(&ct.params, "sluice.exclusions", s, err)
               : sl_err_set(err, SL_ENOMEM, "out of memory");
        free(s);
        if (rc)
            goto out;
    }
    if (strcmp(gt->classification, "json") == 0) {
        char *paths = sl_json_paths_param(&gt->schema);
        if (paths)
            rc = sl_catalog_params_set(&ct.params, "paths", paths, err);
        sl_free(paths);
        if (rc)
            goto out;
    }
    for (size_t i = 0; i < gt->schema.n_cols; i++) {
        if ((rc = add_catalog_column(&ct, &gt->schema.cols[i], err)) != SL_OK)
            goto out;
    }
    for (size_t i = 0; i < gt->n_partition_keys; i++) {
        if ((rc = sl_catalog_table_add_partition_key(&ct, gt->partition_keys[i], "string", err)))
            goto out;
    }
    if (old && (rc = apply_update_policy(r, &ct, old, err)) != SL_OK)
        goto out;
    if (old && old->state == SL_CATALOG_DEPRECATED)
        ct.state = SL_CATALOG_ACTIVE; /* data is back */

    struct sl_catalog_put_opts po = { .crawl_run_id = r->run_id, .reason = "crawler" };
    struct sl_catalog_put_result res = { 0 };
    if ((rc = sl_catalog_table_put(r->cat, &ct, &po, &res, err)) != SL_OK)
        goto out;
    if (res.created)
        r->tables_created++;
    else if (res.updated)
        r->tables_updated++;
    else
        r->tables_unchanged++;
    if (res.new_version)
        r->versions_created++;
    if (res.new_version && !res.created) {
        json_t *kinds = change_kinds_json(res.change_kinds);
        char *ks = json_dumps(kinds, JSON_COMPACT);
        warn(r, "SCHEMA_CHANGED", name, "version %d: %s", res.version, ks ? ks : "");
        free(ks);
        json_decref(kinds);
    }

    /* partitions */
    size_t n_added = 0, n_updated = 0;
    if (gt->n_partitions) {
        parts = sl_calloc(gt->n_partitions, sizeof *parts);
        if (!parts) {
            rc = sl_err_set(err, SL_ENOMEM, "out of memory");
            goto out;
        }
        for (size_t i = 0; i < gt->n_partitions; i++) {
            const struct sl_gpartition *gp = &gt->partitions[i];
            struct sl_catalog_partition *p = &parts[i];
            char num[32];
            sl_catalog_partition_init(p);
            for (size_t k = 0; rc == SL_OK && k < gt->n_partition_keys; k++)
                rc = sl_catalog_partition_add_value(p, gp->values[k] ? gp->values[k] : "", err);
            if (rc)
                goto out;
            p->location = sl_asprintf("%s%s", t->base_uri, gp->prefix);
            if (!p->location) {
                rc = sl_err_set(err, SL_ENOMEM, "out of memory");
                goto out;
            }
            snprintf(num, sizeof num, "%zu", gp->n_objects);
            rc = sl_catalog_params_set(&p->params, "objectCount", num, err);
            snprintf(num, sizeof num, "%lld", (long long)gp->n_records);
            if (rc == SL_OK)
                rc = sl_catalog_params_set(&p->params, "recordCount", num, err);
            snprintf(num, sizeof num, "%lld", (long long)gp->n_bytes);
            if (rc == SL_OK)
                rc = sl_catalog_params_set(&p->params, "sizeKey", num, err);
            if (rc == SL_OK && gp->recursive)
                rc = sl_catalog_params_set(&p->params, "sluice.recursive", "true", err);
            if (rc)
                goto out;
            p->checked_against_version = res.version;
        }
        rc = sl_catalog_partition_put(r->cat, r->cfg->database, name, parts, gt->n_partitions,
                                      &n_added, &n_updated, err);
        if (rc)
            goto out;
        r->partitions_added += n_added;
        r->partitions_updated += n_updated;
    }

    /* partitions in the catalog whose objects are all gone (§11.4) */
    if (old && !t->listing_empty_guard && gt->n_partition_keys) {
        struct sl_catalog_partition *have = NULL;
        size_t n_have = 0;
        rc = sl_catalog_partition_list(r->cat, r->cfg->database, name, NULL, 0, 0, &have,
                                       &n_have, err);
        if (rc)
            goto out;
        for (size_t i = 0; rc == SL_OK && i < n_have; i++) {
            bool present = false;
            for (size_t j = 0; !present && j < gt->n_partitions; j++) {
                bool eq = have[i].n_values == gt->n_partition_keys;
                for (size_t k = 0; eq && k < have[i].n_values; k++) {
                    const char *v = gt->partitions[j].values[k];
                    eq = strcmp(have[i].values[k], v ? v : "") == 0;
                }
                present = eq;
            }
            if (present || (have[i].state == SL_CATALOG_DEPRECATED &&
                            r->delete_behavior == SL_CRAWL_DEPRECATE_IN_DATABASE))
                continue;
            const char *const *vals = (const char *const *)have[i].values;
            if (r->delete_behavior == SL_CRAWL_DELETE_FROM_DATABASE) {
                rc = sl_catalog_partition_delete(r->cat, r->cfg->database, name, vals,
                                                 have[i].n_values, err);
                r->partitions_removed++;
            } else if (r->delete_behavior == SL_CRAWL_DEPRECATE_IN_DATABASE) {
                rc = sl_catalog_partition_set_state(r->cat, r->cfg->database, name, vals,
                                                    have[i].n_values, SL_CATALOG_DEPRECATED,
                                                    "no data objects left", err);
                r->partitions_removed++;
            } else {
                warn(r, "PARTITION_DATA_GONE", have[i].location,
                     "no objects left; kept (delete_behavior LOG)");
            }
        }
        sl_catalog_partition_list_free(have, n_have);
        if (rc)
            goto out;
    }

    json_t *jt = json_pack("{s:s,s:s,s:s,s:s,s:b,s:b,s:i,s:o,s:I,s:I,s:I,s:I}", "name", name,
                           "location", location, "classification", gt->classification,
                           "grouping", gt->grouping ? gt->grouping : "", "created",
                           res.created != 0, "new_version", res.new_version != 0, "version",
                           res.version, "change_kinds", change_kinds_json(res.change_kinds),
                           "columns", (json_int_t)ct.n_columns, "partitions",
                           (json_int_t)gt->n_partitions, "partitions_added", (json_int_t)n_added,
                           "objects", (json_int_t)gt->n_objects);
    json_array_append_new(r->tables, jt);
    r->prog.tables++;
    rc = SL_OK;
out:
    if (rc != SL_OK)
        sl_err_prefix(err, "write table \"%s\"", gt->name);
    if (parts) {
        for (size_t i = 0; i < gt->n_partitions; i++)
            sl_catalog_partition_cleanup(&parts[i]);
        sl_free(parts);
    }
    sl_catalog_table_free(old);
    sl_catalog_table_cleanup(&ct);
    sl_free(location);
    return rc;
}

/* ---- Grouping and the manifest ---- */

static int manifest_row(struct run *r, struct target *t, struct cobj *o,
                        struct sl_catalog_crawl_object *m, struct sl_err *err)
{
    sl_catalog_crawl_object_init(m);
    m->crawler = (char *)r->crawler;
    m->include_path = t->uri;
    m->key = (char *)o->rel;
    m->etag = o->etag;
    m->object_len = o->size;
    m->last_modified_ms = o->mtime_ms;
    m->status = (char *)o->status;
    m->storage_class = o->storage_class[0] ? o->storage_class : NULL;
    m->sampled = o->sampled_now;
    m->inference_version = SL_INFERENCE_VERSION;
    m->config_hash = r->config_hash;
    m->first_seen_run = o->first_seen_run ? o->first_seen_run : r->run_id;
    m->last_sampled_run = o->sampled_now ? r->run_id : 0;
    if (o->classification[0])
        m->classification = o->classification;
    if (o->compression[0])
        m->compression = o->compression;
    m->compat_key = o->compat_key;
    if (strcmp(o->status, "ok") == 0) {
        m->certainty = o->certainty;
        m->record_estimate = o->record_estimate;
        m->record_exact = o->record_exact;
        m->avg_record_bytes = o->avg_record_bytes;
        m->decoded_ratio = o->decoded_ratio;
        if (!o->schema_hash[0]) {
            json_t *js = schema_to_json(&o->schema);
            char *text = json_dumps(js, JSON_COMPACT | JSON_SORT_KEYS);
            json_decref(js);
            if (!text)
                return sl_err_set(err, SL_ENOMEM, "out of memory");
            sl_sha256_hex(text, strlen(text), o->schema_hash);
            int rc = sl_catalog_crawl_schema_put(r->cat, o->schema_hash, text, err);
            free(text);
            if (rc)
                return rc;
        }
        m->schema_hash = o->schema_hash;
        /* json_dumps results are freed by the caller through these two */
        m->format_params = o->format_params ? json_dumps(o->format_params, JSON_COMPACT) : NULL;
        m->header_evidence =
            o->header_evidence ? json_dumps(o->header_evidence, JSON_COMPACT) : NULL;
    }
    return SL_OK;
}

static int write_manifest(struct run *r, struct target *t, struct sl_err *err)
{
    struct sl_catalog_crawl_object *rows = sl_calloc(t->n_objs + 1, sizeof *rows);
    size_t n = 0;
    int rc = SL_OK;
    if (!rows)
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    for (size_t i = 0; i < t->n_objs && rc == SL_OK; i++) {
        if (t->objs[i].change == 0)
            continue;
        rc = manifest_row(r, t, &t->objs[i], &rows[n], err);
        if (rc == SL_OK)
            n++;
    }
    if (rc == SL_OK && n)
        rc = sl_catalog_crawl_object_put(r->cat, rows, n, err);
    for (size_t i = 0; i < n; i++) {
        free(rows[i].format_params);
        free(rows[i].header_evidence);
    }
    sl_free(rows);
    if (rc == SL_OK && t->n_deleted)
        rc = sl_catalog_crawl_object_delete(r->cat, r->crawler, t->uri,
                                            (const char *const *)t->deleted, t->n_deleted, NULL,
                                            err);
    return rc;
}

static const char *uri_last_segment(const struct target *t, char *buf, size_t len)
{
    /* the include path's last folder name, or the bucket's */
    const char *u = t->base_uri;
    size_t n = strlen(u);
    while (n && u[n - 1] == '/')
        n--;
    size_t s = n;
    while (s && u[s - 1] != '/')
        s--;
    snprintf(buf, len, "%.*s", (int)(n - s), u + s);
    return buf;
}

/* Groups the target's readable objects and writes their tables. */
static int group_and_write(struct run *r, struct target *t, json_t *written,
                           struct sl_err *err)
{
    struct sl_gobject *g = sl_calloc(t->n_objs + 1, sizeof *g);
    size_t *map = sl_calloc(t->n_objs + 1, sizeof *map);
    size_t n = 0;
    struct sl_gresult gr;
    char root[256];
    int rc;

    memset(&gr, 0, sizeof gr);
    if (!g || !map) {
        sl_free(g);
        sl_free(map);
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < t->n_objs; i++) {
        struct cobj *o = &t->objs[i];
        if (strcmp(o->status, "ok") == 0)
            r->objects_ok++;
        else if (strcmp(o->status, "unknown") == 0 || strcmp(o->status, "unsupported") == 0)
            r->objects_unknown++;
        else if (strcmp(o->status, "error") == 0)
            r->objects_error++;
        if (strcmp(o->status, "ok") != 0) {
            if (o->reason || strcmp(o->status, "unknown") == 0)
                json_array_append_new(r->skipped,
                                      json_pack("{s:s,s:s,s:s}", "key", o->rel, "status",
                                                o->status, "reason", o->reason ? o->reason : ""));
            continue;
        }
        map[n] = i;
        g[n].key = t->single_object ? strrchr(o->key, '/') ? strrchr(o->key, '/') + 1 : o->key
                                    : o->rel;
        g[n].size = o->size;
        g[n].classification = o->classification;
        g[n].compat_key = o->compat_key ? o->compat_key : o->classification;
        g[n].compression = o->compression[0] ? o->compression : "none";
        g[n].schema = &o->schema;
        g[n].format_params = o->format_params;
        g[n].header_evidence = o->header_evidence;
        g[n].record_estimate = o->record_estimate;
        g[n].avg_record_bytes = o->avg_record_bytes;
        n++;
    }
    struct sl_group_opts go = r->cfg->gopts;
    go.table_prefix = r->cfg->table_prefix ? r->cfg->table_prefix : "";
    if (t->single_object) {
        /* a table named after the file's stem (§3) */
        const char *base = t->n_objs ? strrchr(t->objs[0].key, '/') : NULL;
        base = base ? base + 1 : t->n_objs ? t->objs[0].key : "object";
        const char *dot = strchr(base, '.');
        snprintf(root, sizeof root, "%.*s", (int)(dot ? (size_t)(dot - base) : strlen(base)), base);
        go.single_schema = true;
    } else {
        uri_last_segment(t, root, sizeof root);
    }
    go.root_name = root;
    go.location_base = t->base_uri;
    if ((rc = sl_group_objects(g, n, &go, &gr, err)) != SL_OK)
        goto out;
    for (size_t i = 0; i < gr.n_warnings; i++)
        warn(r, gr.warnings[i].code, gr.warnings[i].subject, "%s",
             gr.warnings[i].detail ? gr.warnings[i].detail : "");
    for (size_t i = 0; i < gr.n_excluded; i++) {
        struct cobj *o = &t->objs[map[gr.excluded[i]]];
        json_array_append_new(r->skipped, json_pack("{s:s,s:s,s:s}", "key", o->rel, "status",
                                                     "ok", "reason", "left out by grouping"));
    }
    if (r->cfg->max_tables > 0 && gr.n_tables > (size_t)r->cfg->max_tables) {
        warn(r, "TABLE_THRESHOLD_EXCEEDED", t->uri, "%zu tables found, max_tables is %d",
             gr.n_tables, r->cfg->max_tables);
        rc = sl_err_set(err, SL_ELIMIT, "%zu tables found under \"%s\", more than max_tables %d",
                        gr.n_tables, t->uri, r->cfg->max_tables);
        goto out;
    }
    report_progress(r, "writing");
    for (size_t i = 0; i < gr.n_tables; i++) {
        if ((rc = write_table(r, t, &gr.tables[i], err)) != SL_OK)
            goto out;
        json_t *last = json_array_get(r->tables, json_array_size(r->tables) - 1);
        json_array_append(written, json_object_get(last, "name"));
    }
out:
    sl_gresult_cleanup(&gr);
    sl_free(g);
    sl_free(map);
    return rc;
}

/* Tables this crawler made under the target that no longer have objects. */
static int handle_gone_tables(struct run *r, struct target *t, const json_t *written,
                              struct sl_err *err)
{
    struct sl_catalog_table *tabs = NULL;
    size_t n = 0;
    int rc;
    if (t->listing_empty_guard)
        return SL_OK;
    if ((rc = sl_catalog_table_list(r->cat, r->cfg->database, NULL, NULL, 0, &tabs, &n, err)))
        return rc;
    for (size_t i = 0; rc == SL_OK && i < n; i++) {
        const struct sl_catalog_table *ct = &tabs[i];
        if (!ct->created_by_crawler || strcmp(ct->created_by_crawler, r->crawler) != 0)
            continue;
        if (strncmp(ct->location, t->base_uri, strlen(t->base_uri)) != 0 &&
            strcmp(ct->location, t->uri) != 0)
            continue;
        bool present = false;
        size_t j;
        json_t *v;
        json_array_foreach(written, j, v) present |= strcmp(json_string_value(v), ct->name) == 0;
        if (present)
            continue;
        if (r->delete_behavior == SL_CRAWL_DELETE_FROM_DATABASE) {
            rc = sl_catalog_table_delete(r->cat, r->cfg->database, ct->name, err);
            r->tables_removed++;
        } else if (r->delete_behavior == SL_CRAWL_DEPRECATE_IN_DATABASE) {
            if (ct->state != SL_CATALOG_DEPRECATED) {
                rc = sl_catalog_table_set_state(r->cat, r->cfg->database, ct->name,
                                                SL_CATALOG_DEPRECATED, "no data objects left",
                                                err);
                r->tables_removed++;
            }
        } else {
            warn(r, "TABLE_DATA_GONE", ct->location, "table \"%s\" has no objects left; kept "
                 "(delete_behavior LOG)", ct->name);
        }
    }
    sl_catalog_table_list_free(tabs, n);
    return rc;
}

/* ---- The run ---- */

static json_t *counters_json(const struct run *r)
{
    json_t *c = json_object();
#define C(name, v) json_object_set_new(c, name, json_integer((json_int_t)(v)))
    C("list_requests", r->stats.list_requests);
    C("get_requests", r->stats.get_requests);
    C("head_requests", r->stats.head_requests);
    C("bytes_read", r->stats.bytes_read);
    C("retries", r->stats.retries);
    C("objects_listed", r->objects_listed);
    C("objects_new", r->objects_new);
    C("objects_changed", r->objects_changed);
    C("objects_unchanged", r->objects_unchanged);
    C("objects_deleted", r->objects_deleted);
    C("objects_sampled", atomic_load(&r->n_sampled));
    C("objects_ok", r->objects_ok);
    C("objects_skipped", r->objects_skipped);
    C("objects_unknown", r->objects_unknown);
    C("objects_error", r->objects_error);
    C("tables_created", r->tables_created);
    C("tables_updated", r->tables_updated);
    C("tables_unchanged", r->tables_unchanged);
    C("tables_removed", r->tables_removed);
    C("versions_created", r->versions_created);
    C("partitions_added", r->partitions_added);
    C("partitions_updated", r->partitions_updated);
    C("partitions_removed", r->partitions_removed);
#undef C
    return c;
}

static void targets_cleanup(struct run *r)
{
    for (size_t i = 0; i < r->n_targets; i++) {
        struct target *t = &r->targets[i];
        for (size_t j = 0; j < t->n_objs; j++)
            cobj_cleanup(&t->objs[j]);
        sl_free(t->objs);
        free_strv(t->deleted, t->n_deleted);
        if (t->st) {
            add_stats(r, t->st);
            sl_store_free(t->st);
            t->st = NULL;
        }
        sl_free(t->uri);
        sl_free(t->base_uri);
        sl_free(t->prefix);
    }
    sl_free(r->targets);
    r->targets = NULL;
}

/* "crawl_<database>_<8 hex of the targets>" for crawls run without --name. */
static char *derived_name(const struct sl_crawl_config *cfg)
{
    struct sl_buf b;
    char h[65];
    sl_buf_init(&b, 0);
    for (size_t i = 0; i < cfg->n_targets; i++) {
        sl_buf_puts(&b, cfg->targets[i], NULL);
        sl_buf_putc(&b, '\n', NULL);
    }
    sl_sha256_hex(b.data ? b.data : "", b.len, h);
    sl_buf_cleanup(&b);
    return sl_asprintf("crawl_%s_%.8s", cfg->database, h);
}

int sl_crawl_run(struct sl_catalog *cat, const struct sl_crawl_config *cfg,
                 sl_crawl_progress_fn progress, void *ud, json_t **report, bool *readable,
                 struct sl_err *err)
{
    struct run r;
    char *name = NULL;
    int rc;
    bool in_tx = false;

    memset(&r, 0, sizeof r);
    *report = NULL;
    *readable = false;
    if (!cfg->database || !cfg->database[0] || cfg->n_targets == 0)
        return sl_err_set(err, SL_ECONFIG, "a crawl needs a database and at least one path");
    for (size_t i = 0; i < cfg->n_exclusions; i++) {
        if ((rc = sl_glob_check(cfg->exclusions[i], err)) != SL_OK)
            return sl_err_prefix(err, "exclusion \"%s\"", cfg->exclusions[i]);
    }
    pthread_mutex_init(&r.lock, NULL);
    r.globs = sl_calloc(cfg->n_exclusions + 1, sizeof *r.globs);
    for (size_t i = 0; r.globs && i < cfg->n_exclusions; i++) {
        if (!(r.globs[i] = sl_glob_new(cfg->exclusions[i], err))) {
            rc = err->code;
            goto out;
        }
    }
    if (!r.globs) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto out;
    }
    r.cat = cat;
    r.cfg = cfg;
    r.progress = progress;
    r.ud = ud;
    r.warnings = json_array();
    r.skipped = json_array();
    r.tables = json_array();
    name = cfg->name ? sl_strdup(cfg->name) : derived_name(cfg);
    if (!name) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto out;
    }
    r.crawler = name;
    sl_crawl_config_hash(cfg, r.config_hash);

    if (cfg->dry_run) {
        /* one transaction from the start, rolled back at the end: the report
         * shows what the run would change, and nothing stays written */
        if ((rc = sl_catalog_begin(cat, err)) != SL_OK)
            goto out;
        in_tx = true;
    }
    if ((rc = sl_catalog_database_ensure(cat, cfg->database, NULL, err)) != SL_OK)
        goto failed;
    /* store the definition only when it changed (a re-crawl writes nothing else) */
    json_t *cj = sl_crawl_config_to_json(cfg);
    json_object_set_new(cj, "name", json_string(name));
    struct sl_catalog_crawler *have = NULL;
    r.update_behavior = cfg->update_behavior;
    r.delete_behavior = cfg->delete_behavior;
    rc = sl_catalog_crawler_get(cat, name, &have, err);
    if (rc == SL_OK && have->config) {
        /* keep what the crawl does not own: the Glue members of a crawler
         * created through the API (Role, Schedule, ...) under "glue" */
        json_t *stored = json_loads(have->config, 0, NULL);
        json_t *glue = json_object_get(stored, "glue");
        if (glue)
            json_object_set(cj, "glue", glue);
        json_decref(stored);
    }
    char *ctext = json_dumps(cj, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(cj);
    if (rc == SL_OK && cfg->recrawl == SL_CRAWL_NEW_FOLDERS_ONLY) {
        /* §12.3: needs an earlier full crawl of the same targets and exclusions */
        json_t *old = have->config ? json_loads(have->config, 0, NULL) : NULL;
        json_t *now = sl_crawl_config_to_json(cfg);
        bool same = old && json_equal(json_object_get(old, "targets"),
                                      json_object_get(now, "targets"));
        json_decref(old);
        json_decref(now);
        if (!same) {
            sl_catalog_crawler_free(have);
            free(ctext);
            rc = sl_err_set(err, SL_ECONFIG,
                            "RECRAWL_CONFIG_CHANGED: crawler \"%s\" had other targets or "
                            "exclusions; run a full crawl (CRAWL_EVERYTHING) first",
                            name);
            goto out;
        }
        struct sl_catalog_crawl_run *runs = NULL;
        size_t n_runs = 0;
        if ((rc = sl_catalog_crawl_run_list(cat, name, 0, &runs, &n_runs, err)) != SL_OK) {
            sl_catalog_crawler_free(have);
            free(ctext);
            goto out;
        }
        for (size_t i = 0; i < n_runs && !r.new_folders_only; i++)
            r.new_folders_only = runs[i].status == SL_CATALOG_RUN_SUCCEEDED &&
                                 strcmp(runs[i].mode, "CRAWL_EVERYTHING") == 0;
        sl_catalog_crawl_run_list_free(runs, n_runs);
        if (r.new_folders_only) {
            /* new files in known folders, changes and deletions are not seen */
            r.update_behavior = SL_CRAWL_UPDATE_LOG;
            r.delete_behavior = SL_CRAWL_DELETE_LOG;
        }
    }
    if (rc == SL_ENOTFOUND || (rc == SL_OK && (!have->config || !ctext ||
                                               strcmp(have->config, ctext) != 0))) {
        rc = sl_catalog_crawler_put(cat, name, ctext ? ctext : "{}", NULL, err);
        /* the catalog may normalise the JSON text; compare it next time anyway */
    }
    sl_catalog_crawler_free(have);
    free(ctext);
    if (rc != SL_OK)
        goto out;
    if ((rc = sl_catalog_crawl_run_start(cat, name,
                                         r.new_folders_only ? "CRAWL_NEW_FOLDERS_ONLY"
                                                            : "CRAWL_EVERYTHING",
                                         &r.run_id, err)))
        goto out;
    if (cfg->recrawl == SL_CRAWL_NEW_FOLDERS_ONLY && !r.new_folders_only)
        warn(&r, "RECRAWL_FULL", name,
             "no earlier full crawl: this run lists everything (CRAWL_EVERYTHING)");

    r.targets = sl_calloc(cfg->n_targets, sizeof *r.targets);
    if (!r.targets) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto failed;
    }
    r.n_targets = cfg->n_targets;
    report_progress(&r, "listing");
    for (size_t i = 0; i < r.n_targets; i++) {
        if ((rc = list_target(&r, &r.targets[i], cfg->targets[i], err)) != SL_OK)
            goto failed;
        report_progress(&r, "listing");
        if ((rc = diff_target(&r, &r.targets[i], err)) != SL_OK)
            goto failed;
    }
    for (size_t i = 0; i < r.n_targets; i++) {
        if ((rc = sample_target(&r, &r.targets[i], err)) != SL_OK)
            goto failed;
    }

    /* one transaction for every catalog change of the run (§1 step 6) */
    report_progress(&r, "grouping");
    if (!in_tx) {
        if ((rc = sl_catalog_begin(cat, err)) != SL_OK)
            goto failed;
        in_tx = true;
    }
    if ((rc = sl_catalog_crawler_lock(cat, name, err)) != SL_OK)
        goto failed;
    for (size_t i = 0; i < r.n_targets; i++) {
        json_t *written = json_array();
        rc = group_and_write(&r, &r.targets[i], written, err);
        if (rc == SL_OK)
            rc = handle_gone_tables(&r, &r.targets[i], written, err);
        json_decref(written);
        if (rc == SL_OK)
            rc = write_manifest(&r, &r.targets[i], err);
        if (rc == SL_OK && !r.new_folders_only)
            rc = write_folders(&r, &r.targets[i], err);
        if (rc != SL_OK)
            goto failed;
    }
    targets_cleanup(&r); /* adds the listing stores' request counts */
    json_t *counters = counters_json(&r);
    char *ctr = json_dumps(counters, JSON_COMPACT);
    *report = json_pack("{s:s,s:I,s:s,s:o,s:O,s:O,s:O}", "crawler", name, "run_id",
                        (json_int_t)r.run_id, "status", cfg->dry_run ? "dry_run" : "succeeded",
                        "counters", counters,
                        "tables", r.tables, "warnings", r.warnings, "skipped", r.skipped);
    char *rep = json_dumps(*report, JSON_COMPACT);
    rc = sl_catalog_crawl_run_finish(cat, r.run_id, SL_CATALOG_RUN_SUCCEEDED, ctr, rep, err);
    free(ctr);
    free(rep);
    if (rc == SL_OK && cfg->dry_run)
        sl_catalog_rollback(cat);
    else if (rc == SL_OK)
        rc = sl_catalog_commit(cat, err);
    in_tx = false;
    if (rc != SL_OK) {
        sl_catalog_rollback(cat);
        json_decref(*report);
        *report = NULL;
        goto failed;
    }
    *readable = r.objects_error == 0 || r.objects_ok + r.objects_unknown > 0;
    goto out;

failed:
    if (in_tx)
        sl_catalog_rollback(cat);
    targets_cleanup(&r);
    if (r.run_id) {
        /* a failed run writes only its crawl_run row (§1) */
        struct sl_err ferr = { 0 };
        json_t *fcounters = counters_json(&r);
        char *fctr = json_dumps(fcounters, JSON_COMPACT);
        json_t *rj = json_pack("{s:s,s:I,s:s,s:s,s:O}", "crawler", name, "run_id",
                               (json_int_t)r.run_id, "status", "failed", "error", err->msg,
                               "warnings", r.warnings);
        char *frep = json_dumps(rj, JSON_COMPACT);
        sl_catalog_crawl_run_finish(cat, r.run_id, SL_CATALOG_RUN_FAILED, fctr, frep, &ferr);
        free(fctr);
        free(frep);
        *report = json_pack("{s:s,s:I,s:s,s:s,s:o,s:O}", "crawler", name, "run_id",
                            (json_int_t)r.run_id, "status", "failed", "error", err->msg,
                            "counters", fcounters, "warnings", r.warnings);
        json_decref(rj);
    }
out:
    if (r.targets)
        targets_cleanup(&r);
    json_decref(r.warnings);
    json_decref(r.skipped);
    json_decref(r.tables);
    pthread_mutex_destroy(&r.lock);
    for (size_t i = 0; r.globs && i < cfg->n_exclusions; i++)
        sl_glob_free(r.globs[i]);
    sl_free(r.globs);
    sl_free(name);
    return rc;
}
