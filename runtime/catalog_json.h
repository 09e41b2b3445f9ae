/*
 * runtime/catalog_json.h - catalog objects in the AWS Glue API's JSON shapes
 * (spec/aws-api.md §1.7, §3.1-§3.3): Database, Table (with StorageDescriptor,
 * SerdeInfo chosen from classification and parameters per §3.2), Partition,
 * and the GetDatabase(s) / GetTable(s) / GetPartitions response wrappers.
 * `sluice catalog --json` and the HTTP API both print these, so the same
 * parsers work on either. Pure functions of the structs in catalog.h: no
 * database access.
 *
 * Keys come in the order of the Glue service model. Timestamps are numbers of
 * epoch seconds with up to 3 decimals: print documents with
 * sl_catalog_json_dump(), which fixes the number format. VersionId is the
 * catalog version - 1 as a string (Glue starts at "0"); CatalogId is
 * SL_CATALOG_JSON_ACCOUNT; Owner "owner"; Retention 0. Table.Parameters and
 * StorageDescriptor.Parameters are equal; a partition's StorageDescriptor
 * carries the table's parameters overlaid with the partition's own, and
 * Partition.Parameters the partition's own.
 *
 * Every _new function returns a new reference (owned: json_decref), or NULL
 * when out of memory.
 */
#ifndef SL_CATALOG_JSON_H
#define SL_CATALOG_JSON_H

#include <jansson.h>

#include "catalog.h"

#define SL_CATALOG_JSON_ACCOUNT "000000000000" /* Glue CatalogId: the account id */

/* The Glue objects. */
json_t *sl_catalog_json_database_new(const struct sl_catalog_database *d);
json_t *sl_catalog_json_table_new(const struct sl_catalog_table *t);
/* exclude_columns: GetPartitions' ExcludeColumnSchema (no StorageDescriptor.Columns). */
json_t *sl_catalog_json_partition_new(const struct sl_catalog_table *t,
                                      const struct sl_catalog_partition *p, int exclude_columns);

/* Response documents: {"Database": {...}}, {"DatabaseList": [...]},
 * {"Table": {...}}, {"TableList": [...]}, {"Partitions": [...]}. Callers add
 * NextToken themselves. */
json_t *sl_catalog_json_get_database_new(const struct sl_catalog_database *d);
json_t *sl_catalog_json_database_list_new(const struct sl_catalog_database *dbs, size_t n_dbs);
json_t *sl_catalog_json_get_table_new(const struct sl_catalog_table *t);
json_t *sl_catalog_json_table_list_new(const struct sl_catalog_table *tables, size_t n_tables);
json_t *sl_catalog_json_partition_list_new(const struct sl_catalog_table *t,
                                           const struct sl_catalog_partition *parts,
                                           size_t n_parts, int exclude_columns);

/* The Hadoop formats and SerDe of §3.2 for a table (borrowed static strings,
 * serde parameters as a new JSON object). */
struct sl_catalog_json_formats {
    const char *input_format;
    const char *output_format;
    const char *serde_library;
};
json_t *sl_catalog_json_formats_choose(const struct sl_catalog_table *t,
                                       struct sl_catalog_json_formats *f);

/* Text of a document (owned: sl_free), 2-space indented when pretty, else
 * compact, keys in insertion order, reals with 15 significant digits (epoch
 * seconds keep their milliseconds exactly). NULL on OOM. */
char *sl_catalog_json_dump(const json_t *doc, int pretty);

#endif
