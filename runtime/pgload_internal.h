/*
 * runtime/pgload_internal.h - what the pgload*.c files share: the load and
 * its columns (pgload.c builds them in sl_pgload_begin and freezes them), the
 * COPY streams and value encoding (pgload_copy.c), and the SQL text builders
 * shared by the PostgreSQL publish and the Redshift generator (pgload_sql.c).
 * Not a public header: callers use pgload.h.
 */
#ifndef SL_PGLOAD_INTERNAL_H
#define SL_PGLOAD_INTERNAL_H

#include <libpq-fe.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "pgload.h"

#define PGL_NAME_MAX  63 /* bytes: PostgreSQL truncates longer identifiers */
#define PGL_STAGE_PFX "_sluice_stage_"
#define PGL_SEQ_COL   "_sluice_seq" /* merge: the load order of each staging row */
#define PGL_RN_COL    "_sluice_rn"  /* merge: ROW_NUMBER() per key, 1 = last */
#define PGL_KEY_HEX   16            /* hex digits of the lock key in staging names */

/* What the target column is, as far as value checks go. */
enum pgl_kind {
    PGL_OTHER = 0, /* a type we do not know: the text form goes through unchecked */
    PGL_BOOL,
    PGL_INT2,
    PGL_INT4,
    PGL_INT8,
    PGL_FLOAT4,
    PGL_FLOAT8,
    PGL_NUMERIC,
    PGL_TEXT, /* text, varchar(n), char(n) */
    PGL_DATE,
    PGL_TS, /* timestamp without time zone */
    PGL_TSTZ,
    PGL_JSON,
    PGL_JSONB,
    PGL_UUID,
    PGL_BYTEA,
};

/* One column of the rows, matched to its target column. */
struct pgl_col {
    char *name;      /* owned: the rows' name */
    char *qname;     /* owned: the target column's name, quoted */
    char *type_name; /* owned: the target type as format_type spells it, or the mapped type */
    char *ddl_type;  /* owned: type_name plus the target column's COLLATE clause, if any */
    enum sl_vtype vtype;
    enum pgl_kind kind;
    int32_t max_chars; /* varchar(n)/char(n): n; else -1 */
    int32_t num_prec;  /* numeric(p,s): p; -1 when unconstrained */
    int32_t num_scale; /* numeric(p,s): s (may be negative) */
    bool not_null;     /* the target refuses NULL here */
    bool is_new;       /* added by add_columns (or a new table): mapped type */
};

struct sl_pgload {
    /* frozen by sl_pgload_begin; read by streams on any thread */
    char *conninfo;       /* owned: resolved (never "") */
    char *app_name;       /* owned: "sluice load <job>" */
    char *q_target;       /* owned: "schema"."table" */
    char *q_stage;        /* owned: "schema"."_sluice_stage_..." */
    char *q_schema;       /* owned: "schema" */
    char *q_table;        /* owned: "table" */
    char *schema;         /* owned */
    char *table;          /* owned */
    char *stage;          /* owned: the staging table's name */
    char *copy_sql;       /* owned: COPY staging (cols) FROM STDIN */
    char *suffix;         /* owned: "<n>_<keyhex>" for temporary names */
    struct pgl_col *cols; /* owned: n_cols */
    size_t n_cols;
    size_t *keys; /* owned: merge key columns as indexes into cols */
    size_t n_keys;
    enum sl_pgload_mode mode;
    int64_t lock_key;
    int server_version; /* PQserverVersion */
    bool target_exists;
    bool swap; /* overwrite by swapping the staging table in */
    uint32_t target_oid;
    char *col_sig; /* owned: the target's columns at begin (swap check) */
    int (*in_publish)(void *ud, PGconn *pg, struct sl_err *err); /* opts->in_publish */
    void *in_publish_ud;

    /* coordinator only */
    PGconn *pg; /* owned: holds the advisory lock */
    bool stage_made, published, dropped;

    /* shared with streams */
    atomic_int n_open;                /* streams open */
    atomic_bool stream_failed;        /* a stream lost rows (failed commit, abort after rows) */
    atomic_uint_fast64_t n_committed; /* rows committed into staging */
};

/* ---- pgload.c ---- */

/* Connects to conninfo (resolved) with the load's application name; quiet
 * notices, client_encoding UTF8. NULL with err. */
PGconn *pgl_connect(const char *conninfo, const char *app_name, struct sl_err *err);
/* Runs sql with text parameters; on failure fills err ("<what>: <server message>
 * (SQLSTATE x)") with a code from the SQLSTATE and returns NULL. */
PGresult *pgl_query(PGconn *pg, const char *what, const char *sql, int n, const char *const *params,
                    struct sl_err *err);
int pgl_exec(PGconn *pg, const char *what, const char *sql, int n, const char *const *params,
             struct sl_err *err);

/* ---- pgload_copy.c ---- */

/* Whether p[0..len) is valid UTF-8 as PostgreSQL checks it (no overlong forms,
 * no surrogates, nothing past U+10FFFF); NUL bytes count as invalid. */
bool pgl_utf8_valid(const char *p, size_t len);

/* ---- pgload_sql.c: SQL text shared by both dialects ---- */

/* Appends name as a quoted identifier ("a""b"). */
int pgl_put_ident(struct sl_buf *b, const char *name, struct sl_err *err);
/* Owned quoted identifier; NULL on OOM. */
char *pgl_quote_ident(const char *name);
/* Appends a single-quoted literal (quotes doubled). */
int pgl_put_literal(struct sl_buf *b, const char *s, struct sl_err *err);
/* Appends the column list "a", "b" of the rows (+ "_sluice_seq" when seq). */
int pgl_put_cols(struct sl_buf *b, const struct pgl_col *cols, size_t n_cols, bool seq,
                 struct sl_err *err);
/* The engine type's column type for created tables and added columns. */
const char *pgl_mapped_type(enum sl_vtype t, enum sl_pgload_dialect d);
/* The publish statements of append and merge (no LOCK, no BEGIN/COMMIT), each
 * appended to b followed by ";\n". Text both PostgreSQL and Redshift run. */
int pgl_put_insert(struct sl_buf *b, const char *q_target, const char *q_stage,
                   const struct pgl_col *cols, size_t n_cols, struct sl_err *err);
int pgl_put_merge(struct sl_buf *b, const char *q_target, const char *q_stage,
                  const char *target_rel, const char *stage_rel, const struct pgl_col *cols,
                  size_t n_cols, const size_t *keys, size_t n_keys, struct sl_err *err);
/* The lock key of a run id (first 8 bytes of SHA-256("sluice_stage:" + run_id),
 * big-endian), and its 16 lower-case hex digits into hex. SL_ENOMEM only. */
int pgl_lock_key(const char *run_id, int64_t *key, char hex[PGL_KEY_HEX + 1]);
/* The staging table name for run_id and n (<= 63 bytes) into out. */
void pgl_stage_name(const char *run_id, unsigned long n, const char *hex, char *out,
                    size_t out_len);
/* The lock key a staging table name carries; false when name is not one. */
bool pgl_stage_key(const char *name, int64_t *key);

#endif
