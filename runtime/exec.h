/*
 * runtime/exec.h - runs a job script's plan (issue 4): the engine behind
 * `sluice run`. The script is planned once (lua_sluice.h), then executed as
 * stages on a pool of worker threads, each with its own sandboxed lua_State
 * that ran the same main(ctx) (its plan is checked against the planner's).
 *
 * Stages. Every WRITE and every wide node (group_agg, distinct, join, sort,
 * limit, mapreduce) consumes its input(s) in one stage whose tasks are the
 * input's producers: source splits (one per object, byte ranges for large
 * uncompressed line formats) or the partitions of an earlier wide node's
 * shuffle. Narrow nodes (filter, map, flat_map, select, drop, rename,
 * apply_mapping, union) run inside the tasks, batch by batch. Stages run one
 * after another, in plan order; the tasks of a stage run on all workers.
 *
 * Rows carry an order (task << 32 | row within the task) so results do not
 * depend on the number of workers: first/last, distinct, limit and the output
 * of sort are defined by it.
 *
 * Outputs. Files are written under run-unique names
 * (part-<run_id>-<task>-<n>.<ext>) and published when the run succeeds by
 * `_manifests/<run_id>-<node>.json` plus `_SUCCESS` (the same JSON: run id, files,
 * rows) at the write's root; a failed or cancelled run deletes the files it
 * wrote. sluice's readers skip files whose names start with '_' or '.', and
 * files named as sluice names its outputs (part-<id>-<5 digits>-<3 digits>.*)
 * that no manifest under the source root lists: a killed run's files stay
 * invisible even where no run ever published.
 *
 * Bookmarks. With opts->bookmark the job's bookmark (catalog.h) is read at
 * the start and advanced when the run succeeds: after every output is
 * published, in a catalog transaction of its own (at least once: a failure
 * between the two leaves the outputs published and the bookmark behind, so
 * the next run reads those objects again). When the plan's only write loads
 * a PostgreSQL table in the catalog's own database (postgres:SCHEMA.TABLE, or
 * a URI equal to SLUICE_CATALOG), the bookmark commits inside that write's
 * publish transaction instead: rows and bookmark together or neither
 * (exactly once; res->bookmark_exactly_once).
 *
 * Bad rows (a value that does not convert, a malformed record, a Lua error in
 * a row function) go to the run's error output (JSON Lines: node, object,
 * line, column, reason, raw text) and are counted per node; past max_errors
 * the run fails. Lua errors in main(), a memory cap hit, a timeout or stop
 * request fail the run at once: every worker stops.
 *
 * Threads: sl_exec_run blocks the calling thread (the coordinator) until the
 * run ends; it starts and joins the workers itself. opts->stop may be set from
 * any thread (or a signal handler) to cancel.
 */
#ifndef SL_EXEC_H
#define SL_EXEC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "catalog.h"
#include "err.h"
#include "lua_sluice.h"
#include "store.h"

#define SL_EXEC_WORKERS_MAX 256
#define SL_EXEC_PARTITIONS_DEFAULT 16 /* shuffle partitions when the plan names none */
#define SL_EXEC_SPLIT_BYTES ((int64_t)64 << 20) /* byte-range split size of large text objects */

/* Types a schemaless from_path source. Called on the coordinator thread, once
 * per source, with the first object (by key order) the source will read.
 * Fills t->classification ("csv", "json"), t->columns (names and catalog
 * types) and t->params (Glue serde parameters: "delimiter", "quoteChar",
 * "escapeChar", "skip.header.line.count", "sluice.json.layout", ...), as the
 * crawler would for that object. format is the script's format ("csv", "tsv",
 * "json", "jsonl"). The cli wires this to the crawler (runtime/ cannot depend
 * on crawler/). */
typedef int (*sl_exec_infer_fn)(void *ud, struct sl_store *st, const struct sl_obj_info *obj,
                                const char *format, struct sl_catalog_table *t,
                                struct sl_err *err);

/* Progress, about five times a second on the coordinator thread, and once at
 * the end. Borrowed for the call. */
struct sl_exec_progress {
    int stage, n_stages;        /* 1-based stage now running */
    const char *stage_name;     /* "node 4 group_agg (line 12)" */
    uint64_t tasks_done, tasks_total; /* of the current stage */
    uint64_t rows_read, bytes_read;   /* source rows and stored bytes read so far (run) */
    uint64_t rows_written;            /* rows written by sinks so far (run) */
    uint64_t rows_rejected;
    double elapsed_s;
};

struct sl_exec_opts {
    const char *chunkname;      /* script name in messages ("jobs/x.lua") */
    const char *src;            /* script text */
    size_t src_len;
    struct sl_plan_args plan;   /* job, run_id, args, now, memory_cap (per state),
                                   timeout_ms (the run's, counted from sl_exec_run),
                                   stop, log_fn: as for main(ctx) */
    int workers;                /* 1..SL_EXEC_WORKERS_MAX; 0 = 1 */
    size_t memory_budget;       /* bytes for shuffles and group tables; 0 = unlimited */
    const char *spill_dir;      /* existing private directory for spill files; required */
    int partitions;             /* shuffle partitions; 0 = SL_EXEC_PARTITIONS_DEFAULT */
    double max_errors;          /* as job_header: 0 none, >= 1 a count, (0,1) a fraction
                                   of the rows read */
    const char *error_uri;      /* where rejected rows go (local path or s3://...
                                   object); NULL = not kept (still counted) */
    bool bookmark;              /* read only objects the job's bookmark has not seen */
    bool reset_bookmark;        /* forget the bookmark first (with or without bookmark) */
    sl_exec_infer_fn infer;     /* required for schemaless from_path */
    void *infer_ud;
    void (*progress)(void *ud, const struct sl_exec_progress *p);
    void *progress_ud;
};

void sl_exec_opts_init(struct sl_exec_opts *o);

/* Per plan node, for the summary. */
struct sl_exec_node_stats {
    int node;                   /* plan index */
    char kind[24];              /* sl_plan_kind_name */
    int line;
    uint64_t rows_in;           /* rows that reached the node (sources: records read) */
    uint64_t rows_out;          /* rows it passed on (writes: rows written) */
    uint64_t rows_rejected;     /* bad rows charged to the node */
    uint64_t bytes_in;          /* sources: stored bytes read; writes: bytes uploaded */
    uint64_t spill_bytes;       /* wide nodes: bytes their shuffle wrote to disk */
    uint64_t objects;           /* sources: objects read; writes: files written */
    uint64_t skipped_objects;   /* sources: objects the bookmark or a manifest skipped */
    double seconds;             /* wall time of the stage that consumed into this node
                                   (wide nodes and writes); 0 for narrow nodes */
};

struct sl_exec_result {
    struct sl_exec_node_stats *nodes; /* owned; one per plan node */
    size_t n_nodes;
    char *plan_json;            /* owned; sl_plan_to_json of the planner's plan */
    char **files;               /* owned; URIs of the published files */
    size_t n_files;
    uint64_t rows_read, bytes_read, rows_written, rows_rejected;
    uint64_t spill_bytes, peak_shuffle_mem;
    double seconds;
    bool bookmark_advanced;     /* the job's bookmark was committed */
    bool bookmark_exactly_once; /* ... inside the publish transaction of the run's only
                                   write (a PostgreSQL table in the catalog's database):
                                   rows and bookmark committed together. false: it
                                   committed after publishing (at least once), or no
                                   row reached that write (nothing was published) */
};

void sl_exec_result_cleanup(struct sl_exec_result *r);

/* Plans and runs the script. Fills *res in all cases (stats so far on
 * failure). SL_OK when every write was published; otherwise the first error:
 * SL_EPARSE/SL_ESCRIPT/SL_ECONFIG from planning (with the script location),
 * SL_ESCRIPT for a Lua error outside row functions, SL_EPARSE "too many bad
 * rows (12 of 1000 > max_errors 10); see <error_uri>", store/catalog errors,
 * SL_ENOMEM (a Lua state hit its cap), SL_ECANCELLED (stop or timeout). */
int sl_exec_run(const struct sl_exec_opts *opts, struct sl_exec_result *res, struct sl_err *err);

#endif
