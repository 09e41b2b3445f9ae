/*
 * runtime/catalog_json.c - catalog structs to AWS Glue JSON (see
 * catalog_json.h). Builds jansson objects key by key so that the key order is
 * the Glue model's; no catalog access here.
 */
#include "catalog_json.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"

#define TEXT_INPUT "org.apache.hadoop.mapred.TextInputFormat"
#define TEXT_OUTPUT "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
#define LAZY_SERDE "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
#define OPENCSV_SERDE "org.apache.hadoop.hive.serde2.OpenCSVSerde"
#define JSON_SERDE "org.openx.data.jsonserde.JsonSerDe"
#define PARQUET_INPUT "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
#define PARQUET_OUTPUT "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
#define PARQUET_SERDE "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
#define AVRO_INPUT "org.apache.hadoop.hive.ql.io.avro.AvroContainerInputFormat"
#define AVRO_OUTPUT "org.apache.hadoop.hive.ql.io.avro.AvroContainerOutputFormat"
#define AVRO_SERDE "org.apache.hadoop.hive.serde2.avro.AvroSerDe"
#define ORC_INPUT "org.apache.hadoop.hive.ql.io.orc.OrcInputFormat"
#define ORC_OUTPUT "org.apache.hadoop.hive.ql.io.orc.OrcOutputFormat"
#define ORC_SERDE "org.apache.hadoop.hive.ql.io.orc.OrcSerde"

/* Sets key to value (stolen); returns -1 when value is NULL or the set fails,
 * so a chain of calls can be or'ed together. */
static int put(json_t *o, const char *key, json_t *value)
{
    if (!value)
        return -1;
    return json_object_set_new(o, key, value) == 0 ? 0 : -1;
}

static int put_str(json_t *o, const char *key, const char *value)
{
    return put(o, key, json_string(value ? value : ""));
}

/* Epoch milliseconds as epoch seconds (a number with up to 3 decimals). */
static json_t *epoch_seconds(int64_t ms)
{
    return json_real((double)ms / 1000.0);
}

static json_t *params_json(const struct sl_catalog_params *p)
{
    json_t *o = json_object();

    for (size_t i = 0; o && p && i < p->n_items; i++) {
        if (put_str(o, p->items[i].key, p->items[i].value) != 0) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

/* The table's parameters, with "classification" added when missing. */
static json_t *table_params_json(const struct sl_catalog_table *t)
{
    json_t *o = params_json(&t->params);

    if (o && t->classification && !json_object_get(o, "classification") &&
        put_str(o, "classification", t->classification) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *column_json(const struct sl_catalog_column *c)
{
    json_t *o = json_object();
    int bad = !o;

    if (o) {
        bad |= put_str(o, "Name", c->name);
        bad |= put_str(o, "Type", c->type);
        if (c->comment)
            bad |= put_str(o, "Comment", c->comment);
        if (c->params.n_items)
            bad |= put(o, "Parameters", params_json(&c->params));
    }
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *columns_json(const struct sl_catalog_column *cols, size_t n)
{
    json_t *a = json_array();

    for (size_t i = 0; a && i < n; i++) {
        json_t *c = column_json(&cols[i]);
        if (!c || json_array_append_new(a, c) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

/* ---- Formats and SerDe (§3.2) ---- */

static int is_true(const char *v)
{
    return v && strcmp(v, "true") == 0;
}

json_t *sl_catalog_json_formats_choose(const struct sl_catalog_table *t,
                                       struct sl_catalog_json_formats *f)
{
    const char *cls = t->classification ? t->classification : "";
    const struct sl_catalog_params *p = &t->params;
    json_t *sp = json_object();

    if (!sp)
        return NULL;
    f->input_format = TEXT_INPUT;
    f->output_format = TEXT_OUTPUT;
    f->serde_library = LAZY_SERDE;
    if (strcmp(cls, "csv") == 0) {
        const char *delim = sl_catalog_params_get(p, "delimiter");
        const char *custom = sl_catalog_params_get(p, "customSerde");
        delim = delim ? delim : ",";
        if (is_true(sl_catalog_params_get(p, "areColumnsQuoted")) ||
            (custom && strcmp(custom, "OpenCSVSerDe") == 0)) {
            const char *quote = sl_catalog_params_get(p, "quoteChar");
            const char *escape = sl_catalog_params_get(p, "escapeChar");
            f->serde_library = OPENCSV_SERDE;
            if (put_str(sp, "separatorChar", delim) != 0 ||
                put_str(sp, "quoteChar", quote ? quote : "\"") != 0 ||
                (escape && put_str(sp, "escapeChar", escape) != 0))
                goto fail;
        } else if (put_str(sp, "field.delim", delim) != 0) {
            goto fail;
        }
    } else if (strcmp(cls, "json") == 0) {
        struct sl_buf paths;
        int rc = SL_OK;
        sl_buf_init(&paths, 0);
        for (size_t i = 0; rc == SL_OK && i < t->n_columns; i++) {
            if (i)
                rc = sl_buf_putc(&paths, ',', NULL);
            if (rc == SL_OK)
                rc = sl_buf_puts(&paths, t->columns[i].name ? t->columns[i].name : "", NULL);
        }
        f->serde_library = JSON_SERDE;
        rc = rc == SL_OK ? put_str(sp, "paths", paths.data ? paths.data : "") : -1;
        sl_buf_cleanup(&paths);
        if (rc != 0)
            goto fail;
    } else if (strcmp(cls, "parquet") == 0) {
        f->input_format = PARQUET_INPUT;
        f->output_format = PARQUET_OUTPUT;
        f->serde_library = PARQUET_SERDE;
        if (put_str(sp, "serialization.format", "1") != 0)
            goto fail;
    } else if (strcmp(cls, "avro") == 0) {
        f->input_format = AVRO_INPUT;
        f->output_format = AVRO_OUTPUT;
        f->serde_library = AVRO_SERDE;
    } else if (strcmp(cls, "orc") == 0) {
        f->input_format = ORC_INPUT;
        f->output_format = ORC_OUTPUT;
        f->serde_library = ORC_SERDE;
    }
    return sp;
fail:
    json_decref(sp);
    return NULL;
}

/* StorageDescriptor for t, at location, with parameters 'params' (stolen). */
static json_t *storage_json(const struct sl_catalog_table *t, const char *location,
                            json_t *params, int exclude_columns)
{
    struct sl_catalog_json_formats f;
    json_t *sp = sl_catalog_json_formats_choose(t, &f);
    json_t *sd = json_object();
    json_t *serde = json_object();
    int bad = !sp || !sd || !serde || !params;

    if (!bad) {
        bad |= put_str(serde, "SerializationLibrary", f.serde_library);
        bad |= put(serde, "Parameters", sp);
        sp = NULL;
        if (!exclude_columns)
            bad |= put(sd, "Columns", columns_json(t->columns, t->n_columns));
        bad |= put_str(sd, "Location", location);
        bad |= put_str(sd, "InputFormat", f.input_format);
        bad |= put_str(sd, "OutputFormat", f.output_format);
        bad |= put(sd, "Compressed", json_false());
        bad |= put(sd, "NumberOfBuckets", json_integer(-1));
        bad |= put(sd, "SerdeInfo", serde);
        serde = NULL;
        bad |= put(sd, "BucketColumns", json_array());
        bad |= put(sd, "SortColumns", json_array());
        bad |= put(sd, "Parameters", params);
        params = NULL;
        bad |= put(sd, "StoredAsSubDirectories", json_false());
    }
    json_decref(sp);
    json_decref(serde);
    json_decref(params);
    if (bad) {
        json_decref(sd);
        return NULL;
    }
    return sd;
}

/* ---- Objects ---- */

json_t *sl_catalog_json_database_new(const struct sl_catalog_database *d)
{
    json_t *o = json_object();
    int bad = !o;

    if (o) {
        bad |= put_str(o, "Name", d->name);
        if (d->description)
            bad |= put_str(o, "Description", d->description);
        if (d->location_uri)
            bad |= put_str(o, "LocationUri", d->location_uri);
        bad |= put(o, "Parameters", params_json(&d->params));
        if (d->created_ms)
            bad |= put(o, "CreateTime", epoch_seconds(d->created_ms));
        /* what Glue reports for a database made without Lake Formation */
        bad |= put(o, "CreateTableDefaultPermissions",
                   json_pack("[{s{ss}s[s]}]", "Principal", "DataLakePrincipalIdentifier",
                             "IAM_ALLOWED_PRINCIPALS", "Permissions", "ALL"));
        bad |= put_str(o, "CatalogId", SL_CATALOG_JSON_ACCOUNT);
    }
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *sl_catalog_json_table_new(const struct sl_catalog_table *t)
{
    json_t *o = json_object();
    char ver[24];
    int bad = !o;

    if (o) {
        snprintf(ver, sizeof ver, "%d", t->current_version > 0 ? t->current_version - 1 : 0);
        bad |= put_str(o, "Name", t->name);
        bad |= put_str(o, "DatabaseName", t->database);
        bad |= put_str(o, "Owner", "owner");
        if (t->created_ms)
            bad |= put(o, "CreateTime", epoch_seconds(t->created_ms));
        if (t->updated_ms)
            bad |= put(o, "UpdateTime", epoch_seconds(t->updated_ms));
        bad |= put(o, "Retention", json_integer(0));
        bad |= put(o, "StorageDescriptor",
                   storage_json(t, t->location, table_params_json(t), 0));
        bad |= put(o, "PartitionKeys", columns_json(t->partition_keys, t->n_partition_keys));
        bad |= put_str(o, "TableType", t->table_type ? t->table_type : "EXTERNAL_TABLE");
        bad |= put(o, "Parameters", table_params_json(t));
        if (t->created_by_crawler)
            bad |= put_str(o, "CreatedBy", t->created_by_crawler);
        bad |= put(o, "IsRegisteredWithLakeFormation", json_false());
        bad |= put_str(o, "CatalogId", SL_CATALOG_JSON_ACCOUNT);
        bad |= put_str(o, "VersionId", ver);
    }
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *sl_catalog_json_partition_new(const struct sl_catalog_table *t,
                                      const struct sl_catalog_partition *p, int exclude_columns)
{
    json_t *o = json_object();
    json_t *values = json_array();
    json_t *sd_params = table_params_json(t);
    int bad = !o || !values || !sd_params;

    for (size_t i = 0; !bad && i < p->n_values; i++)
        bad |= json_array_append_new(values, json_string(p->values[i])) != 0;
    for (size_t i = 0; !bad && i < p->params.n_items; i++)
        bad |= put_str(sd_params, p->params.items[i].key, p->params.items[i].value);
    if (!bad) {
        bad |= put(o, "Values", values);
        values = NULL;
        bad |= put_str(o, "DatabaseName", t->database);
        bad |= put_str(o, "TableName", t->name);
        if (p->created_ms)
            bad |= put(o, "CreationTime", epoch_seconds(p->created_ms));
        bad |= put(o, "StorageDescriptor", storage_json(t, p->location, sd_params,
                                                        exclude_columns));
        sd_params = NULL;
        bad |= put(o, "Parameters", params_json(&p->params));
        bad |= put_str(o, "CatalogId", SL_CATALOG_JSON_ACCOUNT);
    }
    json_decref(values);
    json_decref(sd_params);
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* ---- Responses ---- */

/* {key: value}; value is stolen, also on failure. */
static json_t *wrap(const char *key, json_t *value)
{
    json_t *o;

    if (!value)
        return NULL;
    o = json_object();
    if (json_object_set_new(o, key, value) != 0) { /* frees value, even when o is NULL */
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *sl_catalog_json_get_database_new(const struct sl_catalog_database *d)
{
    return wrap("Database", sl_catalog_json_database_new(d));
}

json_t *sl_catalog_json_database_list_new(const struct sl_catalog_database *dbs, size_t n_dbs)
{
    json_t *a = json_array();

    for (size_t i = 0; a && i < n_dbs; i++) {
        json_t *d = sl_catalog_json_database_new(&dbs[i]);
        if (!d || json_array_append_new(a, d) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return wrap("DatabaseList", a);
}

json_t *sl_catalog_json_get_table_new(const struct sl_catalog_table *t)
{
    return wrap("Table", sl_catalog_json_table_new(t));
}

json_t *sl_catalog_json_table_list_new(const struct sl_catalog_table *tables, size_t n_tables)
{
    json_t *a = json_array();

    for (size_t i = 0; a && i < n_tables; i++) {
        json_t *t = sl_catalog_json_table_new(&tables[i]);
        if (!t || json_array_append_new(a, t) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return wrap("TableList", a);
}

json_t *sl_catalog_json_partition_list_new(const struct sl_catalog_table *t,
                                           const struct sl_catalog_partition *parts,
                                           size_t n_parts, int exclude_columns)
{
    json_t *a = json_array();

    for (size_t i = 0; a && i < n_parts; i++) {
        json_t *p = sl_catalog_json_partition_new(t, &parts[i], exclude_columns);
        if (!p || json_array_append_new(a, p) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return wrap("Partitions", a);
}

char *sl_catalog_json_dump(const json_t *doc, int pretty)
{
    size_t flags = JSON_REAL_PRECISION(15) | (pretty ? JSON_INDENT(2) : JSON_COMPACT);
    char *s = doc ? json_dumps(doc, flags) : NULL;
    char *out;

    if (!s)
        return NULL;
    out = sl_strdup(s);
    free(s); /* jansson's allocator */
    return out;
}
