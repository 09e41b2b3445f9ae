/*
 * runtime/pgload.h - all-or-nothing bulk loads into PostgreSQL, and the
 * Redshift dialect (issue 5). A load moves rows into a staging table with
 * COPY ... FROM STDIN over several connections at once (one stream per
 * worker), then one short transaction publishes them into the target:
 *
 *   append     INSERT INTO target SELECT ... FROM staging; into a target that
 *              is empty at begin and still empty at publish, and that nothing
 *              depends on, the staging table is swapped in as for overwrite
 *              (the data is written once; the publish takes ACCESS EXCLUSIVE)
 *   overwrite  when nothing depends on the target (no views, rules, foreign
 *              keys pointing at it, triggers, policies, inheritance or
 *              partitions, publications, identity or generated columns, own
 *              tablespace, row security; and this role may drop it): the
 *              staging table, built with every target column (type, collation,
 *              NOT NULL, default), gets the target's constraints, indexes,
 *              storage options, comments, grants (table and column), owner and
 *              owned sequences, then replaces it (DROP + RENAME, the old
 *              constraint and index names restored). Else, or when anything in
 *              that fails, TRUNCATE target (DELETE when foreign keys point at
 *              it) + INSERT from staging
 *   merge      DELETE FROM target USING staging WHERE keys match; INSERT the
 *              staging rows (the last row per key by load order, chosen with
 *              ROW_NUMBER() so the same SQL runs on Redshift), all under
 *              LOCK TABLE target IN SHARE ROW EXCLUSIVE MODE so concurrent
 *              merges into one table serialise and stay correct. A key with a
 *              NULL never matches (as in SQL): such rows are all inserted, and
 *              inserted again by a rerun
 *   new table  (create = true and the target is missing) the staging table is
 *              built as a regular table and renamed into place: the data is
 *              written once (merge: the target is created and the last row per
 *              key inserted)
 *
 * Whatever happens before publish commits (an error, a lost connection,
 * kill -9), the target is exactly as before. Staging tables live in the
 * target's schema, named "_sluice_stage_<run_id>_<n>_<key>": the run id
 * reduced to [A-Za-z0-9_-] and shortened to keep the name within 63 bytes,
 * n unique per load in this process, key the 16 hex digits of the run's lock
 * key (the first 8 bytes of SHA-256("sluice_stage:" + run_id)). The loading
 * session holds pg_advisory_lock_shared(key) for the whole load (shared: the
 * loads of one run must not block each other), and every sl_pgload_begin
 * first drops staging tables whose key it can lock exclusively (their process
 * is gone). Identifiers are always quoted ("a""b"); values travel only as
 * COPY data or parameters. Append and overwrite stage into UNLOGGED tables,
 * swaps and new tables into regular ones.
 *
 * Values are checked against the target column's type before they are sent:
 * integer ranges (a double only when whole), real's range, numeric precision
 * and scale (more fractional digits are rounded by PostgreSQL and pass; more
 * digits before the point than p - s do not), varchar(n)/char(n) length in
 * characters (excess spaces are trimmed by PostgreSQL and pass), text that is
 * not UTF-8 or holds a NUL byte, dates and timestamps within years 1-9999
 * (strings parsed as the engine parses them: ISO dates, timestamps with an
 * optional zone, which is converted to UTC), booleans (true/false, t/f,
 * yes/no, y/n, on/off, 1/0 as text), JSON validity for json/jsonb (jansson;
 * "\u0000" only for json; numbers beyond a double's range count as invalid),
 * uuid syntax, NULL into a NOT NULL column. A value that does not fit makes
 * its row a bad row (reported through the callback with column and reason)
 * and the row is not sent, so COPY itself never fails on data and rows that
 * pass are never lost because of rows that did not. Types the checks do not
 * know (enums, arrays, domains over domains, intervals, ...) get the value's
 * text form unchecked: a value the server refuses there fails the stream's
 * COPY (and with it the stream). Table constraints (CHECK, UNIQUE, foreign
 * keys) are the server's: a violation fails the publish, which changes
 * nothing.
 *
 * Type mapping for created tables and added columns (engine type -> column):
 * bigint -> bigint, double -> double precision, boolean -> boolean, string ->
 * text, date -> date, timestamp -> timestamp with time zone, binary -> bytea,
 * json -> jsonb, untyped (all NULL) -> text (Redshift: varchar(65535) for text
 * and json, varbyte for binary, timestamptz).
 *
 * Rows' columns are matched to the target's by name: exactly, else ignoring
 * ASCII case when that names one target column no rows' column names exactly.
 *
 * Threads: sl_pgload_begin/publish/abort/free on one thread at a time (the
 * coordinator); each stream belongs to one thread at a time; any number of
 * streams of one load may run at once on different threads. Every stream
 * must be committed or aborted before publish and before free.
 */
#ifndef SL_PGLOAD_H
#define SL_PGLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "batch.h"
#include "err.h"
#include "value.h"

enum sl_pgload_dialect { SL_PGLOAD_POSTGRES, SL_PGLOAD_REDSHIFT };
enum sl_pgload_mode { SL_PGLOAD_APPEND, SL_PGLOAD_OVERWRITE, SL_PGLOAD_MERGE };

/* A write target, parsed from
 *   postgres:SCHEMA.TABLE            the catalog's database (SLUICE_CATALOG, or
 *                                     the embedded one), schema default "public"
 *   postgres:TABLE                   (postgresql: is the same)
 *   postgres://USER@HOST:PORT/DB?...#SCHEMA.TABLE   a libpq URI, then the table
 *   postgresql://...#SCHEMA.TABLE
 *   redshift://USER@HOST:PORT/DB?...#SCHEMA.TABLE   (Redshift dialect; conninfo
 *                                     becomes the postgresql:// form of the URI)
 * Names may be double-quoted to keep case or hold dots/spaces:
 * postgres:"My Schema"."Sales.2024", with "" for a quote. Unquoted names are
 * lowercased, as SQL does, and may hold only letters, digits, _, $ and
 * non-ASCII bytes (so "postgres:t; DROP TABLE x" is refused, not guessed at).
 * Names are 1 to 63 bytes of UTF-8 without control characters; the fragment
 * is not percent-decoded. The scheme is matched ignoring case. */
struct sl_pgload_target {
    enum sl_pgload_dialect dialect;
    char *conninfo; /* owned; "" = the catalog's database */
    char *schema;   /* owned */
    char *table;    /* owned */
};

/* SL_ECONFIG with a message naming the problem ("postgres target: empty table
 * name", "... a NUL or control character in a name"; never the URI's
 * password); on failure *out holds nothing to clean up. */
int sl_pgload_target_parse(const char *uri, struct sl_pgload_target *out, struct sl_err *err);
void sl_pgload_target_cleanup(struct sl_pgload_target *t);
/* Is uri a database target (postgres:, postgresql:, redshift:)? */
bool sl_pgload_is_target(const char *uri);
/* Does t load into the catalog's own database (where the catalog schema
 * "sluice", with job bookmarks, lives)? True for a PostgreSQL target with
 * conninfo "" (postgres:SCHEMA.TABLE: SLUICE_CATALOG, or the embedded cluster
 * the catalog also uses) and for one whose connection URI is exactly the
 * text of SLUICE_CATALOG (when set and not empty). Any other spelling of the
 * same database counts as another database. Reads the environment. */
bool sl_pgload_target_is_catalog(const struct sl_pgload_target *t);

struct sl_pgload_opts {
    enum sl_pgload_mode mode;
    const char *const *keys;   /* merge: key columns (required for merge) */
    size_t n_keys;
    bool create;               /* create the target when it is missing */
    bool add_columns;          /* add columns the target lacks (nullable) */
    const char *run_id;        /* required: staging names and the advisory lock */
    const char *job;           /* application_name detail; may be NULL */
    /* Redshift: where the staging files go (s3://bucket/prefix/) and how
     * Redshift reads them: iam_role (ARN) or the access keys of the AWS
     * configuration (aws_config.h) written as CREDENTIALS. */
    const char *stage_uri;
    const char *iam_role;
    /* Optional: called by sl_pgload_publish inside the publish transaction,
     * after the rows are in the target and the staging table is dropped,
     * just before COMMIT, on the load's coordinator connection (borrowed for
     * the call: run statements on it, never end the transaction). SL_OK
     * lets the publish commit; anything else (with err filled) rolls the
     * whole publish back, target unchanged, and publish returns that error.
     * Lets the caller commit its own bookkeeping (the job bookmark) in the
     * same transaction as the rows. Copied by sl_pgload_begin. */
    int (*in_publish)(void *ud, PGconn *pg, struct sl_err *err);
    void *in_publish_ud;
};

struct sl_pgload;
struct sl_pgload_stream;

/* Connects (the catalog's database when conninfo is "": SLUICE_CATALOG when
 * set and not empty, else the embedded cluster, started if needed; the
 * session's application_name is "sluice load <job>"), takes the run's lock,
 * drops stale staging tables, introspects the target and checks the rows'
 * columns (schema: the names and engine types of the rows that will be
 * written) against it before any row moves:
 *   - target missing: SL_ECONFIG "target public.t does not exist (write{create = true} creates it)"
 *     unless create;
 *   - a column of the rows that the target lacks: SL_ECONFIG naming it unless
 *     add_columns (then ALTER TABLE ... ADD COLUMN in the publish transaction);
 *   - a column whose engine type cannot go into the target type (e.g. a
 *     boolean into a date column): SL_ECONFIG naming both types;
 *   - merge without keys, or keys that are not columns: SL_ECONFIG;
 *   - a generated or GENERATED ALWAYS identity column among the rows', or a
 *     NOT NULL column without a default that the rows lack: SL_ECONFIG;
 *   - the target is a view (not a table), its schema is missing (create),
 *     the dialect is Redshift (use sl_pgload_redshift_sql), no run id, no
 *     columns, a column name twice, "_sluice_seq"/"_sluice_rn" in a merge:
 *     SL_ECONFIG.
 * Target columns the rows lack get their defaults (NULL). Creates the
 * staging table. *out owned: sl_pgload_free. SL_ETRANSIENT when the server
 * cannot be reached; server errors map by SQLSTATE (42501 SL_EACCESS, ...). */
int sl_pgload_begin(const struct sl_pgload_target *t, const struct sl_pgload_opts *o,
                    const struct sl_rschema *schema, struct sl_pgload **out, struct sl_err *err);

/* A COPY stream into the staging table, on its own connection (same
 * connection string and application name; synchronous_commit off, since the
 * publish commit makes everything durable). Owned by the caller until
 * commit/abort (which free it). Thread-safe against other streams. */
int sl_pgload_stream_open(struct sl_pgload *l, struct sl_pgload_stream **out, struct sl_err *err);

/* Called for each row that does not fit the target: row is its index in the
 * batch, column its 1-based position in the batch's schema (0 = the row as a
 * whole), reason e.g. "column \"n\" is integer: 3000000000 is out of range".
 * reason is borrowed for the call. Return SL_OK to go on; anything else
 * stops the write with that code (a positive value as SL_ECANCELLED). */
typedef int (*sl_pgload_bad_fn)(void *ud, uint32_t row, int column, const char *reason);

/* Sends the rows of b (its schema's column names must be the begin schema's,
 * in the same order; each cell is sent by its own type, NULL as NULL). order,
 * when not NULL, gives each row's load order (merge keeps the last row per
 * key); else rows count in arrival order within the stream (ties between
 * streams are broken arbitrarily). *n_sent (may be NULL) gets the rows
 * accepted by this call, also when it fails. Without a callback (bad NULL) a
 * bad row fails the write with SL_EPARSE. Rows go out in chunks of about
 * 256 KiB; a row's COPY text is limited to 1 GiB. */
int sl_pgload_stream_write(struct sl_pgload_stream *s, const struct sl_batch *b,
                           const uint64_t *order, sl_pgload_bad_fn bad, void *bad_ud,
                           uint64_t *n_sent, struct sl_err *err);

/* Ends the COPY and commits the stream's rows into the staging table; frees s
 * whatever the result. A failed commit after rows were sent makes the load
 * unpublishable (its rows would be missing), as does an abort after rows. */
int sl_pgload_stream_commit(struct sl_pgload_stream *s, struct sl_err *err);
/* Rolls the stream back and frees it. NULL is a no-op. */
void sl_pgload_stream_abort(struct sl_pgload_stream *s);

/* Publishes every committed stream in one transaction (see the header
 * comment), drops the staging table and runs opts->in_publish, if any, last
 * before COMMIT. *n_rows (may be NULL) gets the rows that went in (merge:
 * inserted, including replacements). After publish the load can only be
 * freed. SL_ECONFIG when streams are still open or one lost rows; when the
 * transaction fails (the hook's failure included) it is rolled back, the
 * target is as before and the staging table stays (publish may be retried,
 * or aborted). */
int sl_pgload_publish(struct sl_pgload *l, uint64_t *n_rows, struct sl_err *err);

/* Drops the staging table (after a failure); waits at most 5 s for a lock on
 * it (an open stream holds one: what stays is dropped by a later begin once
 * this load is freed). Safe to call more than once; the load can then only be
 * freed. */
void sl_pgload_abort(struct sl_pgload *l);
/* Aborts unless published, closes the connections, frees. NULL is a no-op. */
void sl_pgload_free(struct sl_pgload *l);

/* ---- Redshift (SQL text only; Redshift cannot run here) ---- */

/* The statements a Redshift load runs, in order, for a staging manifest at
 * manifest_uri: CREATE TEMP TABLE staging (LIKE target), COPY staging FROM
 * 'manifest' MANIFEST GZIP CSV IGNOREHEADER 1 TIMEFORMAT 'auto' with
 * IAM_ROLE or CREDENTIALS, then the publish SQL of the mode (BEGIN ... END).
 * Written to *sql (owned, sl_free), each statement ended by ";\n". Golden
 * tests pin the text. Details: create = true puts CREATE TABLE IF NOT EXISTS
 * target (mapped types) first; merge adds "_sluice_seq" BIGINT to the
 * staging table (the files' last column, the load order), takes LOCK target
 * and runs the same DELETE ... USING / ROW_NUMBER() INSERT as PostgreSQL;
 * overwrite is DELETE FROM target + INSERT (Redshift's TRUNCATE commits);
 * the script ends with DROP TABLE staging. Without iam_role the AWS
 * configuration's keys are written as CREDENTIALS: the text then holds
 * secrets and must not be logged. SL_ECONFIG for add_columns (the target's
 * columns are unknown here), missing keys, a manifest URI or role with a
 * backslash or control character, or no credentials at all. */
int sl_pgload_redshift_sql(const struct sl_pgload_target *t, const struct sl_pgload_opts *o,
                           const struct sl_rschema *schema, const char *manifest_uri,
                           char **sql, struct sl_err *err);

#endif
