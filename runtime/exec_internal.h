/*
 * runtime/exec_internal.h - shared by exec*.c only: the run, its stages,
 * pipes and tasks, the per-worker state, and the entry points of each part:
 * exec_source.c (listing, splits, readers, bookmarks), exec_ops.c (narrow
 * operators and Lua row functions), exec_wide.c (shuffle-backed nodes),
 * exec_sink.c (file writes, manifests). exec.c is the coordinator and the
 * worker pool.
 *
 * Data flow inside a task is push-based and synchronous: a producer fills a
 * batch and calls xpush(), which runs the pipe's narrow operators in turn and
 * hands the result to the consumer before returning. So a batch derived from
 * another (a projection sharing its strings) never outlives its parent.
 * Batches come from the worker's pool and are never freed while the worker's
 * lua_State lives (stale Row handles look at their batch's generation).
 *
 * Schemas of batches may differ within one dataset (columns added by Lua
 * functions are typed by their values); they are interned in the run's
 * registry and live until the run ends. A consumer fixes its input schema
 * from the first batch that reaches it and casts later batches to it
 * (xnormalize).
 */
#ifndef SL_EXEC_INTERNAL_H
#define SL_EXEC_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#include <jansson.h>
#include <libpq-fe.h>
#include <lua.h>

#include "agg.h"
#include "batch.h"
#include "buf.h"
#include "exec.h"
#include "fmt.h"
#include "plan.h"
#include "shuffle.h"

struct xrun;
struct xworker;

/* ---- Interned schemas ---- */

struct xschemas {
    pthread_mutex_t mu;
    struct sl_rschema **v; /* owned */
    size_t n, cap;
};
/* The registry's schema equal to (names, types), added when new. NULL on OOM. */
const struct sl_rschema *xschema_intern(struct xrun *r, const char *const *names,
                                        const enum sl_vtype *types, size_t n);

/* ---- Sources ---- */

struct xobject {
    char *key;    /* owned: store key */
    char *uri;    /* owned: full URI, for messages and origins */
    char etag[72];
    int64_t size;
    char **part_values; /* owned: values of the source's partition columns (NULL = SQL NULL) */
};

struct xsplit {
    size_t object;     /* index in the source's objects */
    int64_t start, end; /* byte range; -1 end = whole object */
};

struct xsource {
    int node;
    bool listed;
    char *root_uri;                /* owned */
    char *source_id;               /* owned: bookmark key ("path:s3://b/p/", "catalog:db.t") */
    struct xobject *objects;       /* owned */
    size_t n_objects;
    struct xsplit *splits;         /* owned */
    size_t n_splits;
    uint64_t skipped;              /* objects the bookmark or a manifest skipped */
    uint64_t skipped_partitions;   /* catalog partitions the predicate pruned */
    char **part_names;             /* owned: from_path Hive folder names */
    size_t schema_n_parts;         /* entries of part_names */
    size_t schema_n_parts_catalog; /* catalog partition keys */
    const struct sl_fmt_ops *ops;
    struct sl_fmt_opts fopts;      /* strings borrowed from below */
    char *null_token;              /* owned */
    const char *null_tokens[2];
    const struct sl_rschema *schema;   /* interned: file columns, then partition columns */
    size_t n_file_cols;            /* first columns the reader fills */
    const struct sl_rschema *file_schema; /* interned: file columns only */
};

/* Lists the source of node (once per run), fills its splits. Coordinator only. */
int xsource_prepare(struct xrun *r, int node, struct sl_err *err);
/* Runs split s of a source as a task: reads batches and pushes them. */
int xsource_run_split(struct xworker *w, struct xsource *src, size_t s, struct sl_err *err);
/* Reads the job's bookmark (and resets it first when asked). Coordinator. */
int xsource_bookmark_load(struct xrun *r, struct sl_err *err);
/* Commits the bookmark state after this run (what was read before plus every
 * object the run's sources listed) on the catalog connection, in its own
 * transaction: after the outputs are published (at least once). */
int xsource_bookmark_commit(struct xrun *r, struct sl_err *err);
/* The same state, committed on pg inside the caller's open transaction (the
 * publish transaction of r->bookmark_write, through the load's in_publish
 * hook: exactly once); sets r->bookmark_in_publish on success, which
 * xsinkdb_publish clears again when that transaction then fails. Coordinator. */
int xsource_bookmark_commit_in(struct xrun *r, PGconn *pg, struct sl_err *err);
void xsource_cleanup(struct xsource *s);

/* ---- Pipes, stages, tasks ---- */

/* A producer, the narrow nodes after it, and the consumer it feeds. */
struct xpipe {
    int producer;      /* a source or wide node */
    int *ops;          /* owned: narrow node indexes, in order */
    size_t n_ops;
    int consumer;      /* a wide node or a write */
    int side;          /* join: 0 left, 1 right */
    uint64_t first_task, n_tasks;
};

struct xstage {
    int consumer;
    struct xpipe *pipes; /* owned */
    size_t n_pipes;
    uint64_t n_tasks;
    /* tasks claimed and finished: kept per stage, so a worker that picks up
     * a stage just as it ends moves that stage's counter, never the next
     * stage's (a shared counter lost the next stage's first task to it) */
    _Atomic uint64_t next_task, tasks_done;
    char name[96];
};

/* ---- Per-node run state ---- */

/* A consumer's fixed input schema (set by the first batch). */
struct xinput {
    pthread_mutex_t mu;
    const struct sl_rschema *_Atomic schema;
};

struct xwide; /* exec_wide.c */
struct xsink; /* exec_sink.c */

struct xnode {
    const struct sl_plan_node *pn;
    struct xinput in[2];       /* consumers: input schemas (join: left, right) */
    struct xwide *wide;        /* wide nodes */
    struct xsink *sink;        /* writes */
    struct xsource *src;       /* sources */
    int readers;               /* pipes still to read this node's output (wide nodes) */
    /* stats */
    _Atomic uint64_t rows_in, rows_out, rows_rejected, bytes_in, objects, skipped;
    double seconds;
};

/* ---- The run ---- */

struct xrun {
    const struct sl_exec_opts *o;
    const struct sl_plan *plan;   /* the planner's; borrowed from planner state */
    struct xnode *nodes;          /* owned; one per plan node */
    struct xstage *stages;        /* owned */
    size_t n_stages;
    struct xschemas schemas;
    int workers;
    uint32_t partitions;
    size_t local_budget;          /* bytes of map-side tables per worker before a flush */

    /* failure and stop */
    _Atomic bool stop;            /* handed to every lua_State */
    _Atomic bool failed;
    pthread_mutex_t err_mu;
    struct sl_err first_err;
    char *first_traceback;        /* owned */

    /* bad rows */
    pthread_mutex_t bad_mu;
    FILE *bad_file;               /* in spill_dir */
    char *bad_path;               /* owned */
    _Atomic uint64_t rows_rejected;
    _Atomic uint64_t rows_rejected_own; /* of them, charged to writes with their own max_errors */
    _Atomic uint64_t rows_read, bytes_read, rows_written;
    char first_bad[512];

    /* bookmarks */
    struct sl_catalog *catalog;   /* opened when needed; coordinator only */
    json_t *bookmark_old;         /* owned: state read at the start ({} when none) */
    int bookmark_version;
    int bookmark_write;       /* the write whose publish transaction commits the
                                 bookmark (the only write, into the catalog's
                                 database); -1: commit after publishing */
    bool bookmark_in_publish; /* that publish committed it */

    /* stage control */
    pthread_mutex_t mu;
    pthread_cond_t cv_work, cv_done;
    int stage_gen;                /* bumped when a stage starts; -1 = quit */
    bool quit;
    struct xstage *cur;
    int workers_busy;
    int workers_ready;            /* workers that built their state */
    uint64_t start_ms;
};

/* Records the run's first error (later ones are dropped) and stops everyone. */
void xrun_fail(struct xrun *r, const struct sl_err *e);
/* True once the run failed or was stopped. */
static inline bool xrun_stopped(struct xrun *r)
{
    return atomic_load_explicit(&r->stop, memory_order_relaxed);
}
/* A bad row: counted on node and written to the error output. SL_OK to go on,
 * SL_EPARSE when max_errors is exceeded (the run is then failed). */
int xrun_bad_row(struct xrun *r, int node, const char *object, int64_t line, int column,
                 const char *reason, const char *raw, size_t raw_len, struct sl_err *err);

/* ---- Workers ---- */

#define XPOOL_MAX 64

struct xstore_slot {
    char *root;                   /* owned: "s3://bucket" or "file" */
    struct sl_store *st;          /* owned */
};

struct xworker {
    struct xrun *r;
    int id;
    pthread_t thread;
    struct sl_plan_state *ps;     /* owned */
    lua_State *L;
    /* batch pool: never freed while ps lives */
    struct sl_batch *all[XPOOL_MAX]; /* owned */
    size_t cells_cap[XPOOL_MAX];     /* values each batch's cells array holds */
    size_t n_all;
    size_t free_list[XPOOL_MAX];     /* indexes into all */
    size_t n_free;
    struct xstore_slot stores[8];
    size_t n_stores;
    struct sl_buf kbuf, vbuf, tbuf; /* scratch */
    struct sl_arena scratch;
    /* task context */
    const struct xpipe *pipe;
    uint64_t task;                /* task id within the stage */
    uint64_t row_seq;             /* rows the consumer saw in this task */
    void *consumer_state;         /* the consumer's per-task state */
    void **nstate;                /* owned: per plan node, the operator's worker state */
    int emit_ref;                 /* registry ref of the mapreduce emit function */
    void *emit_ctx;
    struct sl_err emit_err;
};

/* A batch from the pool with room for schema's columns. NULL on OOM. */
struct sl_batch *xbatch_get(struct xworker *w, const struct sl_rschema *schema);
void xbatch_put(struct xworker *w, struct sl_batch *b);
/* The worker's store for uri (opened once per root). Borrowed. */
struct sl_store *xworker_store(struct xworker *w, const char *uri, char **key_out,
                               struct sl_err *err);

/* Runs b through the pipe's operators from op position pos, then the consumer. */
int xpush(struct xworker *w, size_t pos, struct sl_batch *b, struct sl_err *err);
/* Narrow operator of node at pipe position pos (exec_ops.c). */
int xops_apply(struct xworker *w, size_t pos, struct sl_batch *b, struct sl_err *err);
/* Per-task state of the row builder used by map-like operators; released at task end. */
void xops_task_end(struct xworker *w);
/* Frees the worker's operator states (after its lua_State is closed). */
void xops_worker_free(struct xworker *w);

/* Casts b to the consumer's fixed input (side); *out is b itself or a pool batch
 * (the caller returns it with xbatch_put when it is not b). Rows that do not
 * fit go to the error output. */
int xnormalize(struct xworker *w, int node, int side, struct sl_batch *b, struct sl_batch **out,
               struct sl_err *err);

/* ---- Wide nodes (exec_wide.c) ---- */

bool xwide_is_wide(enum sl_plan_kind k);
/* Before the consuming stage (coordinator). */
int xwide_begin(struct xrun *r, int node, struct sl_err *err);
/* Consumer side, per task: batch in, and task end (flush local tables). */
int xwide_consume(struct xworker *w, int node, int side, struct sl_batch *b, struct sl_err *err);
int xwide_task_end(struct xworker *w, int node, int side, struct sl_err *err);
/* After the consuming stage: finish the shuffles (coordinator). */
int xwide_end(struct xrun *r, int node, struct sl_err *err);
/* Producer side: tasks of the node's output and running one. */
uint64_t xwide_n_tasks(struct xrun *r, int node);
int xwide_run_task(struct xworker *w, int node, uint64_t t, struct sl_err *err);
void xwide_free(struct xrun *r, int node);    /* the shuffles only (input consumed) */
void xwide_destroy(struct xrun *r, int node); /* everything (end of run) */
void xwide_stats(struct xrun *r, int node, uint64_t *spill, uint64_t *peak);
void xwide_worker_free(struct xworker *w);

/* ---- Writes (exec_sink.c) ---- */

int xsink_begin(struct xrun *r, int node, struct sl_err *err);
int xsink_consume(struct xworker *w, int node, struct sl_batch *b, struct sl_err *err);
int xsink_task_end(struct xworker *w, int node, bool ok, struct sl_err *err);
/* After every stage succeeded: manifests and _SUCCESS (coordinator). */
int xsink_publish(struct xrun *r, int node, struct sl_err *err);
/* After a failure: deletes the files the node wrote. */
void xsink_discard(struct xrun *r, int node);
void xsink_free(struct xrun *r, int node);
void xsink_worker_free(struct xworker *w);
/* Published file URIs of node, appended to res. */
int xsink_collect(struct xrun *r, int node, struct sl_exec_result *res);

/* ---- Lua row bridge (exec_ops.c) ---- */

/* The first line of a Lua error message into out (the traceback stays out). */
void xfirst_line(const char *msg, char *out, size_t cap);

/* Converts the Lua value at idx to a value (strings copied into arena). false
 * and sets *why for tables, functions and other kinds. */
bool xlua_to_value(lua_State *L, int idx, struct sl_arena *arena, struct sl_value *out,
                   const char **why);

/* Builds output batches from rows the Lua functions return (map, flat_map,
 * mapreduce reduce): a row's columns decide its batch's schema. */
struct xrowbuild {
    struct sl_batch *out;           /* current batch, NULL before the first row */
    const struct sl_rschema *schema;
    size_t next_pos;                /* where finished batches are pushed */
    /* the candidate's first n_base columns are base's, cell types included */
    const struct sl_rschema *base, *schema_base;
    size_t n_base;
    /* scratch for the candidate row */
    const char **names;
    enum sl_vtype *types;
    struct sl_value *vals;
    size_t n, cap;
};
/* Starts a candidate row of n columns. */
int xrb_begin(struct xworker *w, struct xrowbuild *rb, size_t n, struct sl_err *err);
/* Adds the candidate row (names/types/vals filled by the caller) to the
 * current batch, switching batch when its schema differs; origin may be NULL. */
int xrb_commit(struct xworker *w, struct xrowbuild *rb, const struct sl_row_origin *origin,
               struct sl_err *err);
/* Pushes the current batch, if any, and forgets it. */
int xrb_flush(struct xworker *w, struct xrowbuild *rb, struct sl_err *err);
void xrb_cleanup(struct xworker *w, struct xrowbuild *rb);

#endif
