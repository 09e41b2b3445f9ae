/*
 * tests/runtime/test_catalog_json.c - catalog structs to AWS Glue JSON
 * (runtime/catalog_json.c): shapes, key order, SerdeInfo choice per
 * classification, timestamps as epoch-second numbers. Pure: structs are built
 * in memory, no database.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "runtime/alloc.h"
#include "runtime/catalog.h"
#include "runtime/catalog_json.h"
#include "tests/test.h"

#define T_CREATED 1732621571123LL /* 2024-11-26T11:46:11.123Z */
#define T_UPDATED 1732621600000LL

static void make_table(struct sl_catalog_table *t, const char *classification)
{
    struct sl_err err = { 0 };

    sl_catalog_table_init(t);
    t->database = sl_strdup("lake");
    t->name = sl_strdup("raw_clicks");
    t->location = sl_strdup("s3://lake/raw/clicks/");
    t->classification = sl_strdup(classification);
    t->current_version = 1;
    t->created_ms = T_CREATED;
    t->updated_ms = T_UPDATED;
    t->created_by_crawler = sl_strdup("raw-crawler");
    CHECK_OK(sl_catalog_table_add_column(t, "user_id", "bigint", "who", &err), &err);
    CHECK_OK(sl_catalog_table_add_column(t, "url", "string", NULL, &err), &err);
    CHECK_OK(sl_catalog_table_add_partition_key(t, "year", "string", &err), &err);
    CHECK_OK(sl_catalog_table_add_partition_key(t, "month", "string", &err), &err);
    CHECK_OK(sl_catalog_params_set(&t->params, "classification", classification, &err), &err);
    CHECK_OK(sl_catalog_params_set(&t->params, "compressionType", "none", &err), &err);
    CHECK_OK(sl_catalog_params_set(&t->params, "typeOfData", "file", &err), &err);
    CHECK_OK(sl_catalog_params_set(&t->params, "recordCount", "100", &err), &err);
}

static const char *str_at(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* The object's keys in order, comma-joined, into buf. */
static const char *key_order(json_t *o, char *buf, size_t len)
{
    const char *key;
    json_t *v;
    size_t n = 0;

    buf[0] = '\0';
    json_object_foreach(o, key, v)
    {
        n += (size_t)snprintf(buf + n, len > n ? len - n : 0, "%s%s", n ? "," : "", key);
    }
    return buf;
}

TEST(table_has_the_glue_shape)
{
    struct sl_catalog_table t;
    char keys[1024];

    make_table(&t, "csv");
    json_t *doc = sl_catalog_json_get_table_new(&t);
    json_t *o = json_object_get(doc, "Table");
    CHECK(o != NULL);
    CHECK_STR(key_order(o, keys, sizeof keys),
              "Name,DatabaseName,Owner,CreateTime,UpdateTime,Retention,StorageDescriptor,"
              "PartitionKeys,TableType,Parameters,CreatedBy,IsRegisteredWithLakeFormation,"
              "CatalogId,VersionId");
    CHECK_STR(str_at(o, "Name"), "raw_clicks");
    CHECK_STR(str_at(o, "DatabaseName"), "lake");
    CHECK_STR(str_at(o, "Owner"), "owner");
    CHECK_STR(str_at(o, "TableType"), "EXTERNAL_TABLE");
    CHECK_STR(str_at(o, "CatalogId"), "000000000000");
    CHECK_STR(str_at(o, "VersionId"), "0");
    CHECK_STR(str_at(o, "CreatedBy"), "raw-crawler");
    CHECK(json_is_false(json_object_get(o, "IsRegisteredWithLakeFormation")));
    CHECK(json_is_integer(json_object_get(o, "Retention")) &&
          json_integer_value(json_object_get(o, "Retention")) == 0);
    /* timestamps: numbers of epoch seconds */
    CHECK(json_is_real(json_object_get(o, "CreateTime")));
    CHECK(json_real_value(json_object_get(o, "CreateTime")) == 1732621571.123);
    CHECK(json_real_value(json_object_get(o, "UpdateTime")) == 1732621600.0);

    json_t *sd = json_object_get(o, "StorageDescriptor");
    CHECK_STR(key_order(sd, keys, sizeof keys),
              "Columns,Location,InputFormat,OutputFormat,Compressed,NumberOfBuckets,SerdeInfo,"
              "BucketColumns,SortColumns,Parameters,StoredAsSubDirectories");
    CHECK_STR(str_at(sd, "Location"), "s3://lake/raw/clicks/");
    CHECK(json_is_false(json_object_get(sd, "Compressed")));
    CHECK(json_integer_value(json_object_get(sd, "NumberOfBuckets")) == -1);
    CHECK(json_is_array(json_object_get(sd, "BucketColumns")) &&
          json_array_size(json_object_get(sd, "BucketColumns")) == 0);
    CHECK(json_array_size(json_object_get(sd, "SortColumns")) == 0);
    CHECK(json_is_false(json_object_get(sd, "StoredAsSubDirectories")));
    json_t *cols = json_object_get(sd, "Columns");
    CHECK(json_array_size(cols) == 2);
    CHECK_STR(key_order(json_array_get(cols, 0), keys, sizeof keys), "Name,Type,Comment");
    CHECK_STR(str_at(json_array_get(cols, 0), "Name"), "user_id");
    CHECK_STR(str_at(json_array_get(cols, 0), "Type"), "bigint");
    CHECK_STR(str_at(json_array_get(cols, 0), "Comment"), "who");
    CHECK_STR(key_order(json_array_get(cols, 1), keys, sizeof keys), "Name,Type");
    /* partition keys are not repeated in the columns */
    json_t *pk = json_object_get(o, "PartitionKeys");
    CHECK(json_array_size(pk) == 2);
    CHECK_STR(str_at(json_array_get(pk, 0), "Name"), "year");
    CHECK_STR(str_at(json_array_get(pk, 1), "Type"), "string");
    /* Table.Parameters == StorageDescriptor.Parameters */
    CHECK(json_equal(json_object_get(o, "Parameters"), json_object_get(sd, "Parameters")));
    CHECK_STR(str_at(json_object_get(o, "Parameters"), "recordCount"), "100");
    json_decref(doc);

    /* VersionId follows the catalog version (Glue counts from "0") */
    t.current_version = 3;
    doc = sl_catalog_json_table_new(&t);
    CHECK_STR(str_at(doc, "VersionId"), "2");
    json_decref(doc);
    sl_catalog_table_cleanup(&t);
}

TEST(classification_is_added_to_parameters)
{
    struct sl_catalog_table t;

    make_table(&t, "parquet");
    sl_catalog_params_unset(&t.params, "classification");
    json_t *o = sl_catalog_json_table_new(&t);
    CHECK_STR(str_at(json_object_get(o, "Parameters"), "classification"), "parquet");
    CHECK_STR(str_at(json_object_get(json_object_get(o, "StorageDescriptor"), "Parameters"),
                     "classification"),
              "parquet");
    json_decref(o);
    sl_catalog_table_cleanup(&t);
}

/* SerdeInfo and formats of a table of this classification and parameters. */
static json_t *sd_of(const char *classification, const char *k1, const char *v1, const char *k2,
                     const char *v2)
{
    struct sl_catalog_table t;
    struct sl_err err = { 0 };

    make_table(&t, classification);
    if (k1)
        CHECK_OK(sl_catalog_params_set(&t.params, k1, v1, &err), &err);
    if (k2)
        CHECK_OK(sl_catalog_params_set(&t.params, k2, v2, &err), &err);
    json_t *o = sl_catalog_json_table_new(&t);
    json_t *sd = json_incref(json_object_get(o, "StorageDescriptor"));
    json_decref(o);
    sl_catalog_table_cleanup(&t);
    return sd;
}

TEST(serde_for_csv_unquoted_and_quoted)
{
    json_t *sd = sd_of("csv", "delimiter", ",", "areColumnsQuoted", "false");
    json_t *serde = json_object_get(sd, "SerdeInfo");
    CHECK_STR(str_at(sd, "InputFormat"), "org.apache.hadoop.mapred.TextInputFormat");
    CHECK_STR(str_at(sd, "OutputFormat"),
              "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat");
    CHECK_STR(str_at(serde, "SerializationLibrary"),
              "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe");
    CHECK_STR(str_at(json_object_get(serde, "Parameters"), "field.delim"), ",");
    CHECK(json_object_size(json_object_get(serde, "Parameters")) == 1);
    json_decref(sd);

    sd = sd_of("csv", "delimiter", "\t", NULL, NULL);
    serde = json_object_get(sd, "SerdeInfo");
    CHECK_STR(str_at(json_object_get(serde, "Parameters"), "field.delim"), "\t");
    json_decref(sd);

    sd = sd_of("csv", "delimiter", "|", "areColumnsQuoted", "true");
    serde = json_object_get(sd, "SerdeInfo");
    CHECK_STR(str_at(serde, "SerializationLibrary"), "org.apache.hadoop.hive.serde2.OpenCSVSerde");
    CHECK_STR(str_at(json_object_get(serde, "Parameters"), "separatorChar"), "|");
    CHECK_STR(str_at(json_object_get(serde, "Parameters"), "quoteChar"), "\"");
    CHECK_STR(str_at(sd, "InputFormat"), "org.apache.hadoop.mapred.TextInputFormat");
    json_decref(sd);

    sd = sd_of("csv", "customSerde", "OpenCSVSerDe", "quoteChar", "'");
    serde = json_object_get(sd, "SerdeInfo");
    CHECK_STR(str_at(serde, "SerializationLibrary"), "org.apache.hadoop.hive.serde2.OpenCSVSerde");
    CHECK_STR(str_at(json_object_get(serde, "Parameters"), "separatorChar"), ",");
    CHECK_STR(str_at(json_object_get(serde, "Parameters"), "quoteChar"), "'");
    json_decref(sd);
}

TEST(serde_for_json_parquet_avro)
{
    json_t *sd = sd_of("json", NULL, NULL, NULL, NULL);
    json_t *serde = json_object_get(sd, "SerdeInfo");
    CHECK_STR(str_at(serde, "SerializationLibrary"), "org.openx.data.jsonserde.JsonSerDe");
    CHECK_STR(str_at(json_object_get(serde, "Parameters"), "paths"), "user_id,url");
    CHECK_STR(str_at(sd, "InputFormat"), "org.apache.hadoop.mapred.TextInputFormat");
    json_decref(sd);

    sd = sd_of("parquet", NULL, NULL, NULL, NULL);
    serde = json_object_get(sd, "SerdeInfo");
    CHECK_STR(str_at(sd, "InputFormat"),
              "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat");
    CHECK_STR(str_at(sd, "OutputFormat"),
              "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat");
    CHECK_STR(str_at(serde, "SerializationLibrary"),
              "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe");
    CHECK_STR(str_at(json_object_get(serde, "Parameters"), "serialization.format"), "1");
    json_decref(sd);

    sd = sd_of("avro", NULL, NULL, NULL, NULL);
    serde = json_object_get(sd, "SerdeInfo");
    CHECK_STR(str_at(serde, "SerializationLibrary"),
              "org.apache.hadoop.hive.serde2.avro.AvroSerDe");
    CHECK_STR(str_at(sd, "InputFormat"),
              "org.apache.hadoop.hive.ql.io.avro.AvroContainerInputFormat");
    json_decref(sd);
}

TEST(partition_has_the_glue_shape)
{
    struct sl_catalog_table t;
    struct sl_catalog_partition p;
    struct sl_err err = { 0 };
    char keys[512];

    make_table(&t, "csv");
    sl_catalog_partition_init(&p);
    CHECK_OK(sl_catalog_partition_add_value(&p, "2024", &err), &err);
    CHECK_OK(sl_catalog_partition_add_value(&p, "06", &err), &err);
    p.location = sl_strdup("s3://lake/raw/clicks/year=2024/month=06/");
    p.created_ms = T_CREATED;
    CHECK_OK(sl_catalog_params_set(&p.params, "recordCount", "7", &err), &err);
    CHECK_OK(sl_catalog_params_set(&p.params, "objectCount", "1", &err), &err);

    json_t *doc = sl_catalog_json_partition_list_new(&t, &p, 1, 0);
    json_t *o = json_array_get(json_object_get(doc, "Partitions"), 0);
    CHECK_STR(key_order(o, keys, sizeof keys),
              "Values,DatabaseName,TableName,CreationTime,StorageDescriptor,Parameters,CatalogId");
    CHECK(json_array_size(json_object_get(o, "Values")) == 2);
    CHECK_STR(json_string_value(json_array_get(json_object_get(o, "Values"), 1)), "06");
    CHECK_STR(str_at(o, "DatabaseName"), "lake");
    CHECK_STR(str_at(o, "TableName"), "raw_clicks");
    CHECK(json_real_value(json_object_get(o, "CreationTime")) == 1732621571.123);
    json_t *sd = json_object_get(o, "StorageDescriptor");
    CHECK_STR(str_at(sd, "Location"), "s3://lake/raw/clicks/year=2024/month=06/");
    CHECK(json_array_size(json_object_get(sd, "Columns")) == 2);
    /* the storage descriptor: table parameters overlaid with the partition's */
    CHECK_STR(str_at(json_object_get(sd, "Parameters"), "recordCount"), "7");
    CHECK_STR(str_at(json_object_get(sd, "Parameters"), "classification"), "csv");
    CHECK_STR(str_at(json_object_get(o, "Parameters"), "recordCount"), "7");
    CHECK(json_object_get(json_object_get(o, "Parameters"), "classification") == NULL);
    json_decref(doc);

    /* ExcludeColumnSchema */
    o = sl_catalog_json_partition_new(&t, &p, 1);
    CHECK(json_object_get(json_object_get(o, "StorageDescriptor"), "Columns") == NULL);
    json_decref(o);
    sl_catalog_partition_cleanup(&p);
    sl_catalog_table_cleanup(&t);
}

TEST(database_and_list_wrappers)
{
    struct sl_catalog_database d[2];
    struct sl_catalog_table t[2];
    struct sl_err err = { 0 };
    char keys[512];

    memset(d, 0, sizeof d);
    d[0].name = "lake";
    d[0].description = "the lake";
    d[0].location_uri = "s3://lake/";
    d[0].created_ms = T_CREATED;
    sl_catalog_params_init(&d[0].params);
    CHECK_OK(sl_catalog_params_set(&d[0].params, "team", "bi", &err), &err);
    d[1].name = "empty";
    sl_catalog_params_init(&d[1].params);

    json_t *doc = sl_catalog_json_get_database_new(&d[0]);
    json_t *o = json_object_get(doc, "Database");
    CHECK_STR(key_order(o, keys, sizeof keys),
              "Name,Description,LocationUri,Parameters,CreateTime,"
              "CreateTableDefaultPermissions,CatalogId");
    CHECK_STR(str_at(json_object_get(o, "Parameters"), "team"), "bi");
    CHECK(json_real_value(json_object_get(o, "CreateTime")) == 1732621571.123);
    json_decref(doc);

    doc = sl_catalog_json_database_list_new(d, 2);
    CHECK(json_array_size(json_object_get(doc, "DatabaseList")) == 2);
    o = json_array_get(json_object_get(doc, "DatabaseList"), 1);
    CHECK(json_object_get(o, "Description") == NULL && json_object_get(o, "CreateTime") == NULL);
    CHECK(json_is_object(json_object_get(o, "Parameters")));
    json_decref(doc);
    sl_catalog_params_cleanup(&d[0].params);

    make_table(&t[0], "csv");
    make_table(&t[1], "json");
    doc = sl_catalog_json_table_list_new(t, 2);
    CHECK_STR(key_order(doc, keys, sizeof keys), "TableList");
    CHECK(json_array_size(json_object_get(doc, "TableList")) == 2);
    json_decref(doc);
    doc = sl_catalog_json_table_list_new(t, 0);
    CHECK(json_is_array(json_object_get(doc, "TableList")));
    json_decref(doc);
    doc = sl_catalog_json_partition_list_new(&t[0], NULL, 0, 0);
    CHECK(json_array_size(json_object_get(doc, "Partitions")) == 0);
    json_decref(doc);
    sl_catalog_table_cleanup(&t[0]);
    sl_catalog_table_cleanup(&t[1]);
}

TEST(dump_keeps_milliseconds_and_indents)
{
    json_t *o = json_pack("{sfsfsf}", "a", 1732621571.123, "b", 1732621571.0, "c",
                          1700000000.001);
    char *compact = sl_catalog_json_dump(o, 0);
    char *pretty = sl_catalog_json_dump(o, 1);

    CHECK_STR(compact, "{\"a\":1732621571.123,\"b\":1732621571.0,\"c\":1700000000.001}");
    CHECK_STR(pretty, "{\n  \"a\": 1732621571.123,\n  \"b\": 1732621571.0,\n"
                      "  \"c\": 1700000000.001\n}");
    sl_free(compact);
    sl_free(pretty);
    json_decref(o);
    CHECK(sl_catalog_json_dump(NULL, 1) == NULL);

    struct sl_catalog_table t;
    make_table(&t, "csv");
    o = sl_catalog_json_get_table_new(&t);
    pretty = sl_catalog_json_dump(o, 1);
    CHECK(pretty && strncmp(pretty, "{\n  \"Table\": {\n    \"Name\": \"raw_clicks\",", 40) == 0);
    CHECK(pretty && strstr(pretty, "\"CreateTime\": 1732621571.123,") != NULL);
    sl_free(pretty);
    json_decref(o);
    sl_catalog_table_cleanup(&t);
}

int main(void)
{
    RUN(table_has_the_glue_shape);
    RUN(classification_is_added_to_parameters);
    RUN(serde_for_csv_unquoted_and_quoted);
    RUN(serde_for_json_parquet_avro);
    RUN(partition_has_the_glue_shape);
    RUN(database_and_list_wrappers);
    RUN(dump_keeps_milliseconds_and_indents);
    TEST_EXIT();
}
