/*
 * crawler/group.h - grouping classified objects into tables and partitions
 * (spec/crawler.md §10): Hive anchoring, similarity grouping of value-like
 * folders, partition keys and values, table names, column union and order.
 * Pure in-memory work on the manifest: no I/O, deterministic (keys in
 * byte-wise order).
 */
#ifndef SL_GROUP_H
#define SL_GROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crawler/classify.h"
#include "runtime/err.h"

/* One object of an include path, as the manifest knows it. */
struct sl_gobject {
    const char *key;            /* borrowed; relative to the include path, no leading '/' */
    int64_t size;               /* bytes */
    const char *classification; /* borrowed; "csv" "json" "parquet" "avro" */
    const char *compat_key;     /* borrowed; §10.1: "parquet", "json", "csv|,|\"|\"|UTF-8" ... */
    const char *compression;    /* borrowed; "none" "gzip" "bzip2" "xz" "zstd" */
    const struct sl_cschema *schema; /* borrowed; the object's own inferred schema */
    const json_t *format_params;     /* borrowed; the object's format parameters */
    const json_t *header_evidence;   /* borrowed or NULL (csv) */
    int64_t record_estimate;    /* records in the object (exact or estimated) */
    double avg_record_bytes;    /* decoded bytes per record */
};

struct sl_group_opts {
    int table_depth;             /* -1: none (AUTO); d >= 0: table roots at depth d */
    bool single_schema;          /* grouping = SINGLE_SCHEMA */
    double similarity_threshold; /* 0.7 */
    double partition_majority;   /* 0.7 */
    int max_clusters;            /* 5 */
    const char *table_prefix;    /* "" */
    const char *root_name;       /* last segment of the include path (or the bucket name); "" */
    const char *location_base;   /* NULL or the include path URI ("s3://b/sales/"): the name
                                    suffix hashes SHA-256(location_base + table prefix) */
};

void sl_group_opts_default(struct sl_group_opts *o);

struct sl_gpartition {
    char **values;        /* owned; one per partition key; NULL entry = Hive NULL */
    char *prefix;         /* owned; folder key relative to the include path, ends in '/' */
    size_t *objects;      /* owned; indexes into the input objects */
    size_t n_objects;
    int64_t n_bytes, n_records;
    bool recursive;       /* holds objects deeper than the partition levels */
    bool outlier;         /* PARTITION_SCHEMA_OUTLIER */
    json_t *params;       /* owned; recordCount, averageRecordSize, objectCount, sizeKey
                             (+ sluice.recursive=true when recursive), string values */
};

struct sl_gtable {
    char *name;           /* owned; normalised table name (§10.3 step 6, without the collision hash) */
    char *prefix;         /* owned; table root relative to the include path ("" or ends in '/') */
    char *classification; /* owned */
    char *grouping;       /* owned; "hive" "value_folders" "word_folders" "single_folder"
                             "table_depth" "single_schema" */
    struct sl_cschema schema;    /* merged data columns (partition keys excluded) */
    char **partition_keys;       /* owned; normalised names, type always string */
    size_t n_partition_keys;
    struct sl_gpartition *partitions; /* owned; sorted by values */
    size_t n_partitions;
    size_t *objects;             /* owned; every object of the table (indexes) */
    size_t n_objects;
    json_t *params;              /* owned; Glue + sluice table parameters (§11.2) computed from
                                    the objects: classification, compressionType (incl. mixed),
                                    delimiter..., objectCount, recordCount, averageRecordSize,
                                    sizeKey, typeOfData, columnsOrdered, sluice.grouping,
                                    sluice.recursive, skip.header.line.count ... */
    bool recursive;              /* sluice.recursive=false when files beside sub-tables */
    json_t *decision;            /* owned; for the crawl report (§13): {"grouping",
                                    "partition_levels", "clusters": [sizes, main first]
                                    (value folders, Hive outlier test), "header":
                                    "PRESENT"|"ABSENT" (csv, after reconciliation)} */
};

/* A report entry: code of §13, the key or prefix, a detail. */
struct sl_gwarning {
    char code[40];
    char *subject; /* owned; key or prefix */
    char *detail;  /* owned */
};

/* Objects left out of every table, with why ("INCOMPATIBLE_FILE", "STRAY_FILES"). */
struct sl_gresult {
    struct sl_gtable *tables;   /* owned; sorted by prefix */
    size_t n_tables;
    struct sl_gwarning *warnings; /* owned */
    size_t n_warnings;
    size_t *excluded;           /* owned; object indexes left out */
    size_t n_excluded;
};

/* Groups objects[0..n) (sorted by key, byte-wise) into tables. Returns SL_OK or
 * SL_ENOMEM; grouping itself never fails on data (odd layouts become warnings).
 * The input order does not matter (objects are sorted by key here); opts NULL
 * means the defaults. On failure *out is empty (nothing to clean up).
 *  - Objects without classification or compat_key (unknown, unsupported) are
 *    ignored: in no table, not excluded, no warning (the caller reports them).
 *  - Every excluded object has a warning whose subject is its key and whose
 *    code says why: STRAY_FILES, INCOMPATIBLE_FILE, or MIXED_PARTITION_NAMING
 *    when its folder gives the same partition values as an earlier one
 *    (k=a%20b beside k=a b, dt=1 beside 1).
 *  - Other warnings name a table or partition prefix: NESTED_TABLE_LOCATION,
 *    PARTITION_SCHEMA_OUTLIER, MIXED_PARTITION_NAMING,
 *    INCONSISTENT_PARTITION_DEPTH, PARTITION_KEY_COLLISION, NAME_COLLISION,
 *    COLUMNS_UNORDERED (§10.3 step 8's warning), HEADER_AMBIGUOUS (also on a
 *    file key). Warnings are sorted by subject, then code.
 *  - Table names: §10.3 step 6 (an empty root_name gives "root"); a name
 *    repeated within the result keeps its first table (by prefix) and the
 *    others get "_" + 8 hex of SHA-256(location_base + prefix); the database
 *    collision check is the caller's, and so is max_tables (step 7).
 *  - CSV tables: header decisions are reconciled with sl_csv_reconcile_headers
 *    and losers rebuilt with sl_csv_header_apply (crawler/csv.h).
 * Thread safety: no shared state; concurrent calls on separate results are fine. */
int sl_group_objects(const struct sl_gobject *objects, size_t n_objects,
                     const struct sl_group_opts *opts, struct sl_gresult *out,
                     struct sl_err *err);
void sl_gresult_cleanup(struct sl_gresult *r);

/* The overlap similarity of §10.2 between two schemas. */
double sl_group_similarity(const struct sl_cschema *a, const struct sl_cschema *b);

#endif
