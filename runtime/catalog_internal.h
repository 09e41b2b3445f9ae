/*
 * runtime/catalog_internal.h - what the catalog's files (catalog.c,
 * catalog_table.c, catalog_partition.c, catalog_crawl.c, catalog_schema.c,
 * catalog_migrate.c) share and nobody else uses: the handle's layout, query and
 * transaction helpers, result readers, name checks and literal builders.
 */
#ifndef SL_CATALOG_INTERNAL_H
#define SL_CATALOG_INTERNAL_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdint.h>

#include "buf.h"
#include "catalog.h"
#include "hash.h"

struct sl_catalog {
    PGconn *pg;     /* owned */
    int user_tx;    /* 1 while a sl_catalog_begin() transaction is open */
};

#define SL_CATALOG_DB_NAME_MAX 255
#define SL_CATALOG_TABLE_NAME_MAX 128

/* ---- Queries ---- */

/* Runs sql with n text parameters (NULL entries are SQL NULL). Returns the
 * result (owned: PQclear) when it is TUPLES_OK or COMMAND_OK; otherwise NULL
 * with err set from the SQLSTATE: 23505 SL_EEXIST, 23503 SL_ENOTFOUND, other
 * 22/23 classes SL_ECONFIG, 42501 SL_EACCESS, 08/40/53/57/58 classes and a
 * lost connection SL_ETRANSIENT, other 42 classes SL_EINTERNAL, else SL_EIO. */
PGresult *sl_catalog_query(PGconn *pg, const char *sql, int n, const char *const *params,
                           struct sl_err *err);
/* sl_catalog_query for statements whose rows are not needed. */
int sl_catalog_exec(PGconn *pg, const char *sql, int n, const char *const *params,
                    struct sl_err *err);

/* sl_catalog_query for statements that can fail on the caller's input (bad
 * JSON text, an unknown referenced row): inside the caller's transaction it
 * runs in a savepoint, so a failure leaves that transaction usable. */
PGresult *sl_catalog_query_guarded(struct sl_catalog *c, const char *sql, int n,
                                   const char *const *params, struct sl_err *err);

/* ---- Transactions: BEGIN, or a savepoint inside the caller's transaction ---- */

/* *own = 1 when this call opened the transaction. */
int sl_catalog_tx_begin(struct sl_catalog *c, int *own, struct sl_err *err);
int sl_catalog_tx_commit(struct sl_catalog *c, int own, struct sl_err *err);
void sl_catalog_tx_rollback(struct sl_catalog *c, int own);

/* ---- Result readers (all SL_OK or SL_ENOMEM) ---- */

/* *out = a copy of the value, NULL for SQL NULL. */
int sl_catalog_get_str(const PGresult *r, int row, int col, char **out, struct sl_err *err);
/* The value as int64; 0 for SQL NULL. */
int64_t sl_catalog_get_i64(const PGresult *r, int row, int col);
/* 1 for "t", else 0. */
int sl_catalog_get_bool(const PGresult *r, int row, int col);
/* Parses a JSON object text column into p (sorted by key); NULL -> empty. */
int sl_catalog_get_params(const PGresult *r, int row, int col, struct sl_catalog_params *p,
                          struct sl_err *err);

/* ---- Names and literals ---- */

/* Lowercases name into out (max + 1 bytes) and checks ^[a-z0-9_]{1,max}$;
 * SL_ECONFIG names 'what' ("database", "table") otherwise. */
int sl_catalog_name_norm(const char *what, const char *name, size_t max, char *out,
                         struct sl_err *err);
/* Lowercases database and table names; SL_ECONFIG for bad ones. */
int sl_catalog_names_norm(const char *database, const char *table,
                          char db_out[SL_CATALOG_DB_NAME_MAX + 1],
                          char table_out[SL_CATALOG_TABLE_NAME_MAX + 1], struct sl_err *err);
/* Appends a PostgreSQL text[] literal of the strings: {"a","b\"c"}. */
int sl_catalog_text_array(struct sl_buf *b, const char *const *items, size_t n_items,
                          struct sl_err *err);
/* Formats v into buf (at least 24 bytes) and returns buf. */
const char *sl_catalog_i64_str(int64_t v, char *buf);

/* ---- JSON helpers ---- */

/* A JSON object with the parameters in order (owned: json_decref); NULL on OOM. */
json_t *sl_catalog_params_to_json(const struct sl_catalog_params *p);
/* Compact JSON text (owned: sl_free) of j, which this call consumes (decref);
 * NULL on OOM (also when j is NULL). */
char *sl_catalog_json_take_text(json_t *j);
/* Parses a JSON text that must be an object into *out (owned: json_decref):
 * SL_ECONFIG naming 'what' when it is not JSON or not an object. */
int sl_catalog_json_parse_object(const char *what, const char *text, json_t **out,
                                 struct sl_err *err);

/* ---- Schema versions (catalog_schema.c) ---- */

/* {"classification","delimiter","encoding","escape","header","quote"} of t,
 * null for absent parameters (owned: json_decref); NULL on OOM. */
json_t *sl_catalog_format_json(const struct sl_catalog_table *t);
/* The §11.3 change object between the old columns/keys/format and t (the
 * proposed schema, whose format object is new_format), and its change kinds.
 * old_format NULL means a new table: the change lists every column as added
 * and kinds is SL_CATALOG_CHANGE_CREATED. *change is owned (json_decref). */
int sl_catalog_schema_diff(const struct sl_catalog_column *old_cols, size_t n_old,
                           const struct sl_catalog_column *old_keys, size_t n_old_keys,
                           const json_t *old_format, const struct sl_catalog_table *t,
                           const json_t *new_format, const char *reason, json_t **change,
                           unsigned *kinds, struct sl_err *err);
/* Appends the text[] literal of the kinds' names. */
int sl_catalog_change_kinds_literal(unsigned kinds, struct sl_buf *b, struct sl_err *err);

/* ---- Shared by the table code ---- */

/* Finds a table by normalised names: *table_id, *version (current) and *n_keys
 * (its partition keys; any of the three may be NULL). SL_ENOTFOUND names the
 * missing database or table. */
int sl_catalog_table_lookup(struct sl_catalog *c, const char *db, const char *table,
                            int64_t *table_id, int *version, size_t *n_keys, struct sl_err *err);

void sl_catalog_column_cleanup(struct sl_catalog_column *col);
/* Appends a column read from a result row (name, type, comment, parameters,
 * stats at cols[0..4]) to *arr / *n. */
int sl_catalog_column_append_row(struct sl_catalog_column **arr, size_t *n, const PGresult *r,
                                 int row, const int cols[5], struct sl_err *err);

#endif
