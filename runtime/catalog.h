/*
 * runtime/catalog.h - the sluice Data Catalog: databases, tables, columns,
 * partitions and table versions, plus the crawler's state (crawlers, crawl runs,
 * the object manifest), stored in PostgreSQL schema "sluice" (spec/crawler.md
 * §11-§12). A struct sl_catalog owns one libpq connection; opening it applies the
 * schema migrations (catalog_migrate.c). Glue JSON shapes of these objects are in
 * catalog_json.h, the embedded default cluster in pgembed.h, the SQL text in
 * catalog_sql.h.
 *
 * Conventions for every function below:
 * - int functions return SL_OK or a negative enum sl_code and fill err;
 *   SL_ENOTFOUND names the missing object, SL_EEXIST a taken name, SL_ECONFIG a
 *   bad name or argument, SL_ETRANSIENT a lost connection or a conflict worth a
 *   retry.
 * - Database and table names are matched and stored lowercased ("Clicks" finds
 *   "clicks", as in Glue); they must then match ^[a-z0-9_]{1,255}$ (databases)
 *   and ^[a-z0-9_]{1,128}$ (tables).
 * - Times are epoch milliseconds (UTC); 0 means "not set".
 * - Lists are sorted (names byte-wise, partition values element-wise byte-wise)
 *   and paged with an exclusive "after" key and a limit (0 = no limit). A page
 *   shorter than the limit is the last one; to learn whether more remain, ask for
 *   limit + 1.
 * - Each function runs in its own transaction, or, when the caller opened one
 *   with sl_catalog_begin(), inside a savepoint of the caller's transaction, so
 *   a crawler can write a whole run atomically. A function that fails inside
 *   the caller's transaction undoes only its own work; the transaction stays
 *   usable (unless the connection itself was lost).
 * - A struct sl_catalog is not thread-safe: one per thread (libpq rule).
 * - Returned objects are owned by the caller and freed with the matching
 *   _free / _list_free function (all accept NULL).
 */
#ifndef SL_CATALOG_H
#define SL_CATALOG_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct sl_catalog; /* opaque; owns its PGconn */

/* ---- Connection ---- */

/* Opens the catalog named by SLUICE_CATALOG (a libpq connection string or URI;
 * libpq's PG* variables fill what it leaves out, so "postgresql://" means "PG*
 * variables only"). When SLUICE_CATALOG is unset or empty, uses the embedded
 * default cluster under $SLUICE_HOME (pgembed.h), creating and starting it on
 * first use. Sets application_name=sluice (unless the connection string names
 * one), applies pending migrations and returns the handle (owned:
 * sl_catalog_free), or NULL with err filled: SL_ECONFIG for a bad connection
 * string or a catalog newer than this binary, SL_ETRANSIENT when the server
 * cannot be reached. Error messages never contain a password. */
struct sl_catalog *sl_catalog_open(struct sl_err *err);

/* Same, with an explicit libpq connection string or URI (NULL or "" = libpq
 * defaults and PG* variables; no embedded default). */
struct sl_catalog *sl_catalog_open_conninfo(const char *conninfo, struct sl_err *err);

/* Closes the connection (rolling back an open transaction) and frees c. */
void sl_catalog_free(struct sl_catalog *c);

/* The connection, for modules that run their own SQL (jobs, queue): borrowed,
 * valid until sl_catalog_free(). Leave it idle or in the transaction state in
 * which you found it. */
PGconn *sl_catalog_peek_conn(struct sl_catalog *c);

/* Caller-managed transaction around several catalog calls: begin fails with
 * SL_EINTERNAL when one is already open. rollback never fails. */
int sl_catalog_begin(struct sl_catalog *c, struct sl_err *err);
int sl_catalog_commit(struct sl_catalog *c, struct sl_err *err);
void sl_catalog_rollback(struct sl_catalog *c);

/* ---- Migrations (catalog_migrate.c) ---- */

/* Applies the migrations this binary knows and pg lacks, in one transaction under
 * pg_advisory_xact_lock(SL_CATALOG_MIGRATE_LOCK): idempotent, and safe when
 * several processes start at once. A catalog recording a version newer than
 * sl_catalog_schema_latest() gives SL_ECONFIG. *applied (may be NULL) gets the
 * number of migrations applied now. pg must be idle (not in a transaction). */
int sl_catalog_migrate(PGconn *pg, int *applied, struct sl_err *err);

/* The newest schema version this binary knows. */
int sl_catalog_schema_latest(void);

/* The version recorded in the catalog (0 for an empty database). */
int sl_catalog_schema_version(struct sl_catalog *c, int *version, struct sl_err *err);

/* ---- Parameters: ordered string key/value lists (Glue "Parameters") ---- */

struct sl_catalog_param {
    char *key;   /* owned */
    char *value; /* owned */
};

struct sl_catalog_params {
    struct sl_catalog_param *items; /* owned; in insertion order (sorted by key when read back) */
    size_t n_items;
    size_t cap; /* allocated items */
};

void sl_catalog_params_init(struct sl_catalog_params *p);
void sl_catalog_params_cleanup(struct sl_catalog_params *p);
/* Replaces the value of key, or appends key at the end. SL_ENOMEM. */
int sl_catalog_params_set(struct sl_catalog_params *p, const char *key, const char *value,
                          struct sl_err *err);
/* The value of key, or NULL: borrowed, valid until p changes. */
const char *sl_catalog_params_get(const struct sl_catalog_params *p, const char *key);
/* Removes key; returns 1 when it was there, else 0. */
int sl_catalog_params_unset(struct sl_catalog_params *p, const char *key);
/* dst = a deep copy of src (dst must be initialised; its old items are freed). */
int sl_catalog_params_copy(struct sl_catalog_params *dst, const struct sl_catalog_params *src,
                           struct sl_err *err);

/* ---- Databases ---- */

struct sl_catalog_database {
    int64_t id;
    char *name;         /* lowercased */
    char *description;  /* NULL when none */
    char *location_uri; /* NULL when none */
    struct sl_catalog_params params;
    int64_t created_ms; /* epoch ms */
    int64_t updated_ms; /* epoch ms */
};

void sl_catalog_database_free(struct sl_catalog_database *d);
void sl_catalog_database_list_free(struct sl_catalog_database *dbs, size_t n_dbs);

/* Creates d->name (lowercased; description, location_uri and params are
 * optional; id and times are ignored). SL_EEXIST when the name is taken,
 * SL_ECONFIG when it is not a valid name. */
int sl_catalog_database_create(struct sl_catalog *c, const struct sl_catalog_database *d,
                               struct sl_err *err);
/* Creates database name unless it exists; *created (may be NULL) says which. */
int sl_catalog_database_ensure(struct sl_catalog *c, const char *name, int *created,
                               struct sl_err *err);
/* *out = the database (owned: sl_catalog_database_free); SL_ENOTFOUND. */
int sl_catalog_database_get(struct sl_catalog *c, const char *name,
                            struct sl_catalog_database **out, struct sl_err *err);
/* *out = up to limit databases with names after 'after' (NULL: from the start),
 * sorted by name (owned: sl_catalog_database_list_free(*out, *n_out)). */
int sl_catalog_database_list(struct sl_catalog *c, const char *after, size_t limit,
                             struct sl_catalog_database **out, size_t *n_out,
                             struct sl_err *err);
/* Deletes the database with its tables, versions, columns and partitions.
 * SL_ENOTFOUND. */
int sl_catalog_database_delete(struct sl_catalog *c, const char *name, struct sl_err *err);

/* ---- Tables ---- */

enum sl_catalog_state {
    SL_CATALOG_ACTIVE = 0,
    SL_CATALOG_DEPRECATED = 1, /* data gone; kept by DEPRECATE_IN_DATABASE (§11.4) */
};

/* "active" / "deprecated" (static storage). */
const char *sl_catalog_state_name(enum sl_catalog_state s);

struct sl_catalog_column {
    char *name;    /* owned */
    char *type;    /* owned; Hive type name: bigint, string, decimal(10,2), array<...> */
    char *comment; /* owned; NULL when none */
    struct sl_catalog_params params; /* source_name, format, tz, placeholder, pinned */
    char *stats;   /* owned JSON text (§7.4) or NULL; not part of the schema */
};

struct sl_catalog_table {
    int64_t id;               /* set by get and list */
    char *database;           /* lowercased on put */
    char *name;               /* lowercased on put */
    char *location;           /* folder URI ending in '/' */
    char *table_type;         /* NULL on put means "EXTERNAL_TABLE" */
    char *classification;     /* csv | json | parquet | avro | ... */
    struct sl_catalog_params params; /* Glue table parameters (§11.2) */
    struct sl_catalog_column *columns; /* owned; in order */
    size_t n_columns;
    struct sl_catalog_column *partition_keys; /* owned; in order */
    size_t n_partition_keys;
    int current_version;      /* 1, 2, ...; set by get and list */
    char *schema_hash;        /* 64 hex chars of the current version; set by get and list */
    enum sl_catalog_state state;
    char *created_by_crawler; /* NULL when made by a user */
    int64_t created_ms;       /* epoch ms */
    int64_t updated_ms;       /* epoch ms */
    int64_t deprecated_ms;    /* epoch ms; 0 while active */
    size_t n_partitions;      /* partitions in the catalog; set by get and list */
};

/* An empty table (all zero). */
void sl_catalog_table_init(struct sl_catalog_table *t);
/* Frees the members of t (for a table you built on the stack) and zeroes it. */
void sl_catalog_table_cleanup(struct sl_catalog_table *t);
void sl_catalog_table_free(struct sl_catalog_table *t);
void sl_catalog_table_list_free(struct sl_catalog_table *tables, size_t n_tables);
/* Appends a column (copies the strings; comment may be NULL). The columns array
 * moves: earlier column pointers become invalid. */
int sl_catalog_table_add_column(struct sl_catalog_table *t, const char *name, const char *type,
                                const char *comment, struct sl_err *err);
int sl_catalog_table_add_partition_key(struct sl_catalog_table *t, const char *name,
                                       const char *type, struct sl_err *err);

/* SHA-256 (64 lowercase hex chars + NUL into out) of the canonical JSON
 *   [[[name,type],...columns], [[name,type],...partition keys],
 *    {"classification","delimiter","encoding","escape","header","quote"}]
 * with the format values taken from t->classification and the parameters
 * delimiter, quoteChar, escapeChar, skip.header.line.count and sluice.encoding
 * (null when absent). Comments, column parameters and statistics are not part
 * of it (§11.3). SL_ENOMEM. */
int sl_catalog_schema_hash(const struct sl_catalog_table *t, char out[65], struct sl_err *err);

/* Bits of a version's change_kinds (§11.3); COLUMNS_REORDERED is a sluice
 * addition for a schema that differs only in column order. */
enum sl_catalog_change {
    SL_CATALOG_CHANGE_CREATED = 1 << 0,
    SL_CATALOG_CHANGE_COLUMNS_ADDED = 1 << 1,
    SL_CATALOG_CHANGE_COLUMNS_REMOVED = 1 << 2,
    SL_CATALOG_CHANGE_TYPE_WIDENED = 1 << 3,
    SL_CATALOG_CHANGE_TYPE_CHANGED = 1 << 4,
    SL_CATALOG_CHANGE_PLACEHOLDER_RESOLVED = 1 << 5,
    SL_CATALOG_CHANGE_PARTITION_KEYS_CHANGED = 1 << 6,
    SL_CATALOG_CHANGE_FORMAT_CHANGED = 1 << 7,
    SL_CATALOG_CHANGE_COLUMNS_REORDERED = 1 << 8,
};

/* "created", "columns_added", ... for one bit; NULL for an unknown bit. */
const char *sl_catalog_change_name(unsigned bit);
/* The bit for a name, 0 when unknown. */
unsigned sl_catalog_change_parse(const char *name);

/* Is a column of type 'from' readable as 'to' without loss (§7.1 lattice:
 * tinyint < smallint < int < bigint < decimal < double, float < double, date <
 * timestamp, anything < string, element-wise for array<>/map<>, field-wise for
 * struct<> with added fields)? 1 or 0; equal types give 0. */
int sl_catalog_type_widens(const char *from, const char *to);

struct sl_catalog_put_opts {
    int64_t crawl_run_id; /* recorded on a new version; 0 = none */
    const char *reason;   /* change.reason; NULL = "crawler" with a crawl run, else "user" */
};

struct sl_catalog_put_result {
    int64_t table_id;
    int version;             /* current version after the put */
    char schema_hash[65];    /* of that version */
    int created;             /* 1: the table was new (version 1) */
    int new_version;         /* 1: a version was added (created or schema changed) */
    int updated;             /* 1: some row was written (0: t equalled the catalog) */
    unsigned change_kinds;   /* SL_CATALOG_CHANGE_* bits of the new version, else 0 */
};

/* Creates or updates table t->database.t->name in one transaction (the database
 * must exist: SL_ENOTFOUND). The stored parameters are t->params plus
 * "classification" and "sluice.schema_hash". When the schema hash differs from
 * the current version's (or the table is new), inserts version n+1 with all its
 * columns and a change diff (§11.3: added, removed, widened, changed,
 * placeholder_resolved, partition_keys, format, reason) and moves
 * current_version; otherwise updates location, parameters, state and column
 * comments/parameters/stats in place without a version, and writes nothing at
 * all when nothing differs. Column names must be unique and non-empty
 * (SL_ECONFIG). opts and res may be NULL. Concurrent puts of one table are
 * serialised by a row lock. */
int sl_catalog_table_put(struct sl_catalog *c, const struct sl_catalog_table *t,
                         const struct sl_catalog_put_opts *opts,
                         struct sl_catalog_put_result *res, struct sl_err *err);
/* *out = the table with its current columns and partition keys (owned:
 * sl_catalog_table_free). SL_ENOTFOUND names the database or the table. */
int sl_catalog_table_get(struct sl_catalog *c, const char *database, const char *name,
                         struct sl_catalog_table **out, struct sl_err *err);
/* *out = the tables of database (SL_ENOTFOUND when it is missing) whose names
 * match 'expression' (NULL: all), an anchored POSIX ERE matched case-
 * insensitively ("sales_.*"; a bad expression is SL_ECONFIG), sorted by name,
 * after 'after', at most limit (owned: sl_catalog_table_list_free). */
int sl_catalog_table_list(struct sl_catalog *c, const char *database, const char *expression,
                          const char *after, size_t limit, struct sl_catalog_table **out,
                          size_t *n_out, struct sl_err *err);
/* Deletes the table with its versions, columns and partitions. SL_ENOTFOUND. */
int sl_catalog_table_delete(struct sl_catalog *c, const char *database, const char *name,
                            struct sl_err *err);
/* Marks the table active or deprecated (deprecated_at, parameter
 * sluice.deprecated_reason = reason when given; reactivating removes both). No
 * version is created. SL_ENOTFOUND. */
int sl_catalog_table_set_state(struct sl_catalog *c, const char *database, const char *name,
                               enum sl_catalog_state state, const char *reason,
                               struct sl_err *err);

struct sl_catalog_table_version {
    int version;
    char *schema_hash;
    char *format;             /* JSON text: {"classification", "delimiter", ...} */
    unsigned change_kinds;    /* SL_CATALOG_CHANGE_* bits */
    char *change;             /* JSON text of the diff (§11.3) */
    int64_t crawl_run_id;     /* 0 = none */
    int64_t created_ms;       /* epoch ms */
    struct sl_catalog_column *columns;
    size_t n_columns;
    struct sl_catalog_column *partition_keys;
    size_t n_partition_keys;
};

void sl_catalog_table_version_list_free(struct sl_catalog_table_version *v, size_t n_versions);
/* *out = every version of the table, oldest first, with its columns (owned:
 * sl_catalog_table_version_list_free). SL_ENOTFOUND. */
int sl_catalog_table_list_versions(struct sl_catalog *c, const char *database, const char *name,
                                   struct sl_catalog_table_version **out, size_t *n_out,
                                   struct sl_err *err);

/* ---- Partitions ---- */

struct sl_catalog_partition {
    int64_t id;                  /* set by get and list */
    char **values;               /* owned; one per partition key, in key order */
    size_t n_values;
    char *location;              /* folder URI ending in '/' */
    struct sl_catalog_params params; /* recordCount, objectCount, sizeKey, ... */
    char *schema_hash;           /* of the partition's own objects; NULL when unknown */
    int checked_against_version; /* table version it was checked against; 0 = none */
    enum sl_catalog_state state;
    int64_t created_ms;          /* epoch ms */
    int64_t updated_ms;          /* epoch ms */
    int64_t deprecated_ms;       /* epoch ms; 0 while active */
};

void sl_catalog_partition_init(struct sl_catalog_partition *p);
void sl_catalog_partition_cleanup(struct sl_catalog_partition *p);
void sl_catalog_partition_free(struct sl_catalog_partition *p);
void sl_catalog_partition_list_free(struct sl_catalog_partition *parts, size_t n_parts);
/* Appends a value (copied). */
int sl_catalog_partition_add_value(struct sl_catalog_partition *p, const char *value,
                                   struct sl_err *err);

/* Adds or updates n_parts partitions of the table in one transaction, keyed by
 * their values (each must have one value per partition key: SL_ECONFIG; the
 * same values twice: SL_ECONFIG). An existing partition gets the given
 * location, parameters (replaced as a whole), schema_hash,
 * checked_against_version and state; unchanged rows are not written.
 * *n_added / *n_updated (may be NULL) count what changed. */
int sl_catalog_partition_put(struct sl_catalog *c, const char *database, const char *table,
                             const struct sl_catalog_partition *parts, size_t n_parts,
                             size_t *n_added, size_t *n_updated, struct sl_err *err);
/* *out = the partition with these values (owned: sl_catalog_partition_free).
 * SL_ENOTFOUND. */
int sl_catalog_partition_get(struct sl_catalog *c, const char *database, const char *table,
                             const char *const *values, size_t n_values,
                             struct sl_catalog_partition **out, struct sl_err *err);
/* *out = partitions sorted by values (element-wise, byte-wise), after the
 * values 'after' (NULL/0: from the start), at most limit (owned:
 * sl_catalog_partition_list_free). */
int sl_catalog_partition_list(struct sl_catalog *c, const char *database, const char *table,
                              const char *const *after, size_t n_after, size_t limit,
                              struct sl_catalog_partition **out, size_t *n_out,
                              struct sl_err *err);
/* Deletes one partition. SL_ENOTFOUND. */
int sl_catalog_partition_delete(struct sl_catalog *c, const char *database, const char *table,
                                const char *const *values, size_t n_values, struct sl_err *err);
/* As sl_catalog_table_set_state, for one partition. */
int sl_catalog_partition_set_state(struct sl_catalog *c, const char *database, const char *table,
                                   const char *const *values, size_t n_values,
                                   enum sl_catalog_state state, const char *reason,
                                   struct sl_err *err);

/* ---- Crawlers and crawl runs (§12.1) ---- */

struct sl_catalog_crawler {
    char *name;        /* as given (crawler names keep their case) */
    char *config;      /* JSON text (§2) */
    char *config_hash; /* 64 hex chars */
    int64_t created_ms;
    int64_t updated_ms;
};

void sl_catalog_crawler_free(struct sl_catalog_crawler *cr);
void sl_catalog_crawler_list_free(struct sl_catalog_crawler *crs, size_t n_crawlers);
/* Creates or replaces crawler name with config (a JSON object text: SL_ECONFIG
 * when it is not). config_hash NULL = SHA-256 of the canonical config JSON. */
int sl_catalog_crawler_put(struct sl_catalog *c, const char *name, const char *config,
                           const char *config_hash, struct sl_err *err);
int sl_catalog_crawler_get(struct sl_catalog *c, const char *name,
                           struct sl_catalog_crawler **out, struct sl_err *err);
/* All crawlers, sorted by name. */
int sl_catalog_crawler_list(struct sl_catalog *c, struct sl_catalog_crawler **out,
                            size_t *n_out, struct sl_err *err);
/* Deletes the crawler with its runs, objects and folders (not its tables).
 * SL_ENOTFOUND. */
int sl_catalog_crawler_delete(struct sl_catalog *c, const char *name, struct sl_err *err);
/* Takes the crawler's transaction-scoped advisory lock (§1 step 6): call inside
 * sl_catalog_begin(); it is released at commit or rollback. Blocks while another
 * transaction holds it. */
int sl_catalog_crawler_lock(struct sl_catalog *c, const char *name, struct sl_err *err);

enum sl_catalog_run_status {
    SL_CATALOG_RUN_RUNNING = 0,
    SL_CATALOG_RUN_SUCCEEDED = 1,
    SL_CATALOG_RUN_FAILED = 2,
    SL_CATALOG_RUN_CANCELLED = 3,
};

/* "running", "succeeded", "failed", "cancelled" (static storage). */
const char *sl_catalog_run_status_name(enum sl_catalog_run_status s);

struct sl_catalog_crawl_run {
    int64_t id;
    char *crawler;
    char *mode;      /* CRAWL_EVERYTHING | CRAWL_NEW_FOLDERS_ONLY */
    enum sl_catalog_run_status status;
    int64_t started_ms;
    int64_t finished_ms; /* 0 while running */
    char *counters;  /* JSON text or NULL */
    char *report;    /* JSON text or NULL (§13) */
};

void sl_catalog_crawl_run_free(struct sl_catalog_crawl_run *r);
void sl_catalog_crawl_run_list_free(struct sl_catalog_crawl_run *runs, size_t n_runs);
/* Inserts a 'running' run of crawler (which must exist: SL_ENOTFOUND) started
 * now; *run_id gets its id. */
int sl_catalog_crawl_run_start(struct sl_catalog *c, const char *crawler, const char *mode,
                               int64_t *run_id, struct sl_err *err);
/* Sets the final status (not RUNNING: SL_ECONFIG), finished_at = now, and the
 * counters and report JSON (either may be NULL). SL_ENOTFOUND. */
int sl_catalog_crawl_run_finish(struct sl_catalog *c, int64_t run_id,
                                enum sl_catalog_run_status status, const char *counters,
                                const char *report, struct sl_err *err);
int sl_catalog_crawl_run_get(struct sl_catalog *c, int64_t run_id,
                             struct sl_catalog_crawl_run **out, struct sl_err *err);
/* The newest runs of crawler first, at most limit (0 = all). */
int sl_catalog_crawl_run_list(struct sl_catalog *c, const char *crawler, size_t limit,
                              struct sl_catalog_crawl_run **out, size_t *n_out,
                              struct sl_err *err);

/* ---- Crawl state: per-file schemas, object manifest, folders (§12.1) ---- */

/* Stores schema (JSON text) under hash unless it is there already. */
int sl_catalog_crawl_schema_put(struct sl_catalog *c, const char *hash, const char *schema,
                                struct sl_err *err);
/* *schema = the JSON text stored under hash (owned: sl_free). SL_ENOTFOUND. */
int sl_catalog_crawl_schema_get(struct sl_catalog *c, const char *hash, char **schema,
                                struct sl_err *err);

/* One manifest row. Numeric columns that may be SQL NULL use -1 for NULL. */
struct sl_catalog_crawl_object {
    char *crawler;
    char *include_path;
    char *key;
    char *etag;
    int64_t object_len;        /* bytes */
    int64_t last_modified_ms;  /* epoch ms */
    char *storage_class;       /* NULL when unknown */
    char *status;              /* ok | unknown | unsupported | error | excluded | skipped_* */
    char *classification;      /* NULL */
    char *compression;         /* NULL */
    char *compat_key;          /* NULL */
    double certainty;          /* 0..1; -1 = NULL */
    char *schema_hash;         /* NULL, else a crawl_schema hash */
    char *format_params;       /* JSON text or NULL */
    char *header_evidence;     /* JSON text or NULL */
    int64_t record_estimate;   /* -1 = NULL */
    int record_exact;          /* 1, 0, -1 = NULL */
    double avg_record_bytes;   /* -1 = NULL */
    double decoded_ratio;      /* -1 = NULL */
    int sampled;               /* 0 or 1 */
    int inference_version;
    char *config_hash;
    int64_t first_seen_run;    /* 0 = NULL */
    int64_t last_sampled_run;  /* 0 = NULL */
};

/* A row with every nullable field NULL (-1 / NULL) and the rest zero. */
void sl_catalog_crawl_object_init(struct sl_catalog_crawl_object *o);
void sl_catalog_crawl_object_cleanup(struct sl_catalog_crawl_object *o);
void sl_catalog_crawl_object_list_free(struct sl_catalog_crawl_object *objs, size_t n_objs);
/* Inserts or replaces n_objs manifest rows in one transaction (their crawler
 * must exist: SL_ENOTFOUND; their schema_hash must be stored). */
int sl_catalog_crawl_object_put(struct sl_catalog *c, const struct sl_catalog_crawl_object *objs,
                                size_t n_objs, struct sl_err *err);
/* *out = the rows of (crawler, include_path) sorted by key byte-wise, after
 * after_key (NULL: from the start), at most limit (owned:
 * sl_catalog_crawl_object_list_free). */
int sl_catalog_crawl_object_list(struct sl_catalog *c, const char *crawler,
                                 const char *include_path, const char *after_key, size_t limit,
                                 struct sl_catalog_crawl_object **out, size_t *n_out,
                                 struct sl_err *err);
/* Deletes the rows of these keys (missing keys are ignored); *n_deleted may be
 * NULL. */
int sl_catalog_crawl_object_delete(struct sl_catalog *c, const char *crawler,
                                   const char *include_path, const char *const *keys,
                                   size_t n_keys, size_t *n_deleted, struct sl_err *err);

struct sl_catalog_crawl_folder {
    char *crawler;
    char *include_path;
    char *prefix;
    int has_direct_files;   /* 0 or 1 */
    int64_t first_seen_run; /* 0 = NULL */
};

void sl_catalog_crawl_folder_list_free(struct sl_catalog_crawl_folder *f, size_t n_folders);
/* Inserts or replaces n_folders rows in one transaction. */
int sl_catalog_crawl_folder_put(struct sl_catalog *c, const struct sl_catalog_crawl_folder *f,
                                size_t n_folders, struct sl_err *err);
/* *out = the folders of (crawler, include_path) sorted by prefix. */
int sl_catalog_crawl_folder_list(struct sl_catalog *c, const char *crawler,
                                 const char *include_path, struct sl_catalog_crawl_folder **out,
                                 size_t *n_out, struct sl_err *err);

/* ---- Job bookmarks (catalog_bookmark.c; spec/aws-api.md §3.7) ---- */

/* A job's bookmark (Glue JobBookmarkEntry). Job names are kept as given (case
 * matters) and must match ^[A-Za-z0-9_.-]{1,255}$ (SL_ECONFIG otherwise). The
 * state is opaque JSON text to this layer (the engine stores e.g.
 * {"sources":{"<source id>":{"<key>":{"etag":"..","size":N}}}}); PostgreSQL
 * stores it as jsonb, so it reads back normalised (key order, spacing). Each
 * commit, reset and rewind adds version + 1 and a history row. */
struct sl_catalog_bookmark {
    char *job_name;        /* owned */
    int version;           /* 1, 2, ...: +1 per commit, reset and rewind */
    int run;               /* number of commits (committing runs) */
    int attempt;           /* Glue's Attempt; 0 (commits do not record one yet) */
    char *run_id;          /* owned; the last committing run; NULL when none */
    char *previous_run_id; /* owned; the committing run before it; NULL when none */
    char *state;           /* owned JSON text; "{}" after a reset */
    int64_t updated_ms;    /* epoch ms of the last change */
};

void sl_catalog_bookmark_free(struct sl_catalog_bookmark *b);
/* *out = the bookmark of job (owned: sl_catalog_bookmark_free); SL_ENOTFOUND
 * "no bookmark for job \"x\"" when none was committed. */
int sl_catalog_bookmark_get(struct sl_catalog *c, const char *job,
                            struct sl_catalog_bookmark **out, struct sl_err *err);
/* Commits state_json (JSON text) as the bookmark of job for run run_id (1..255
 * bytes): version + 1, run + 1, previous_run_id = the old run_id, run_id =
 * run_id, and a history row. expected_version is the version the caller read
 * (0 when it found no bookmark): a compare-and-set, so when the stored version
 * differs (another run committed, reset or deleted meanwhile) it returns
 * SL_ECHANGED and changes nothing; of concurrent commits with the same
 * expected version exactly one succeeds. SL_ECONFIG when state_json is not
 * valid JSON (as PostgreSQL's jsonb reads it) or an argument is bad.
 * *new_version (may be NULL) gets the committed version. */
int sl_catalog_bookmark_commit(struct sl_catalog *c, const char *job, const char *run_id,
                               int expected_version, const char *state_json, int *new_version,
                               struct sl_err *err);
/* The same commit (same checks, SQL, version rule and errors) on pg, a
 * connection the caller owns, inside the caller's open transaction: no BEGIN
 * or COMMIT of its own, only a savepoint, so the bookmark becomes visible when
 * (and only if) the caller commits, and a failure undoes only its own work
 * (the caller's transaction stays usable). The bookmark row stays locked
 * until the caller's transaction ends, so keep what follows short. pg's
 * database must hold the catalog schema "sluice" (it does when it is the
 * catalog's database): SL_ECONFIG otherwise. SL_EINTERNAL when pg is not
 * inside a transaction (or the transaction already failed). SL_ECHANGED on a
 * version conflict, as above. Not thread-safe against other users of pg. */
int sl_catalog_bookmark_commit_conn(PGconn *pg, const char *job, const char *run_id,
                                    int expected_version, const char *state_json, int *new_version,
                                    struct sl_err *err);
/* run_id NULL: the state becomes "{}" (version + 1, history row); SL_OK and
 * nothing written when job has no bookmark (a reset of nothing is fine).
 * run_id given: rewinds the state to the one that run committed (its newest
 * history row), version + 1; SL_ENOTFOUND when job has no bookmark or that run
 * never committed one. run, run_id and previous_run_id stay as they are, so
 * the next commit still names the last committing run as its previous one. */
int sl_catalog_bookmark_reset(struct sl_catalog *c, const char *job, const char *run_id,
                              struct sl_err *err);
/* Removes the bookmark of job and its history (DeleteJob); SL_OK also when
 * there was none. */
int sl_catalog_bookmark_delete(struct sl_catalog *c, const char *job, struct sl_err *err);

/* ---- Jobs (catalog_job.c; spec/aws-api.md §3.5) ---- */

/* A job definition (Glue Job). Names follow the bookmark rule above
 * (^[A-Za-z0-9_.-]{1,255}$, case kept), so a job and its bookmark share a key.
 * JSON members are compact JSON object texts; PostgreSQL stores them as jsonb,
 * so they read back normalised (key order, spacing). On input NULL text means
 * "{}" and 0 means "not set" where a field says so. */
struct sl_catalog_job {
    char *name;                      /* owned */
    char *description;               /* owned; NULL when absent */
    char *role;                      /* owned; NULL when absent */
    char *command;                   /* owned JSON object; must hold a non-empty string
                                      * "ScriptLocation" (also "Name", "PythonVersion") */
    char *default_arguments;         /* owned JSON object of strings; NULL = {} */
    char *non_overridable_arguments; /* owned JSON object of strings; NULL = {} */
    int max_concurrent_runs;         /* >= 1; 0 on input = 1 (Glue's default) */
    int timeout_minutes;             /* >= 1; 0 = not set (Glue's 2880 applies) */
    int max_retries;                 /* >= 0 */
    char *glue_version;              /* owned; NULL when absent */
    char *worker_type;               /* owned; NULL when absent */
    int number_of_workers;           /* >= 1; 0 = not set */
    char *schedule;                  /* owned; cron text of a job{} header, NULL when none */
    char *extra;                     /* owned JSON object: other accepted Job members by their
                                      * Glue name (LogUri, Connections, ...); NULL = {} */
    char *source;                    /* owned; "api" or "file:<path>"; NULL on input = "api" */
    int64_t created_ms;              /* epoch ms; output only */
    int64_t modified_ms;             /* epoch ms; output only */
};

void sl_catalog_job_cleanup(struct sl_catalog_job *j);
void sl_catalog_job_free(struct sl_catalog_job *j);
void sl_catalog_job_list_free(struct sl_catalog_job *jobs, size_t n_jobs);
/* Creates job j (created_ms/modified_ms ignored): SL_EEXIST when the name is
 * taken, SL_ECONFIG for a bad name, a JSON member that is not an object, a
 * command without ScriptLocation or an out-of-range number. */
int sl_catalog_job_put(struct sl_catalog *c, const struct sl_catalog_job *j, struct sl_err *err);
/* Replaces the whole definition of job j->name (Glue UpdateJob: what j leaves
 * out resets to its default), created_on kept, last_modified_on = now.
 * SL_ENOTFOUND when there is no such job; other errors as put. */
int sl_catalog_job_update(struct sl_catalog *c, const struct sl_catalog_job *j,
                          struct sl_err *err);
/* *out = the job (owned: sl_catalog_job_free); SL_ENOTFOUND "job \"x\" not found". */
int sl_catalog_job_get(struct sl_catalog *c, const char *name, struct sl_catalog_job **out,
                       struct sl_err *err);
/* *out = jobs named after 'after' (NULL: from the first), by name, at most
 * limit (0 = all); owned: sl_catalog_job_list_free(*out, *n_out). */
int sl_catalog_job_list(struct sl_catalog *c, const char *after, size_t limit,
                        struct sl_catalog_job **out, size_t *n_out, struct sl_err *err);
/* Deletes the job, its bookmark (sl_catalog_bookmark_delete) and its finished
 * runs (sl_catalog_run_forget: runs in progress are stopped) in one
 * transaction. *deleted (may be NULL) = 1 when the job existed; a missing job
 * is not an error (Glue DeleteJob is idempotent) and its bookmark, if any, is
 * removed too. */
int sl_catalog_job_delete(struct sl_catalog *c, const char *name, int *deleted,
                          struct sl_err *err);

#endif
