/*
 * runtime/plan.h - the job plan: the DAG of datasets that a script's
 * main(ctx) describes (issue 4). Pure C data, no Lua: lua_sluice.c builds it,
 * the executor (next) runs it, `--json`/explain print it.
 *
 * Layout: nodes live in one array in creation order; a node's inputs are
 * always earlier indexes, so the array is already a topological order and an
 * executor can walk it front to back. WRITE nodes are the sinks; a node that
 * no WRITE depends on is dead (built but never run). Lua functions appear as
 * function slots (struct sl_plan_fn): slot k is the k-th function main(ctx)
 * handed to sluice, in every lua_State that ran the same script, so a worker
 * finds the function of a node by its slot (lua_sluice.h).
 *
 * Column tracking: a node knows its output column names when they follow
 * from a declared schema (from_path{schema=...}) through select, drop,
 * rename, apply_mapping, group_by:agg, join, ...; then unknown column names
 * are planning errors. After map/flat_map/mapreduce or a catalog source the
 * names are unknown at planning time and the executor checks them.
 *
 * Lifetime and threads: a plan is built by one thread, then frozen
 * (sl_plan_freeze) before any worker starts and shared read-only: every
 * function taking a const plan is safe from any number of threads. Owned by
 * whoever built it; sl_plan_free().
 */
#ifndef SL_PLAN_H
#define SL_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agg.h"
#include "err.h"

#define SL_PLAN_MAX_NODES      10000 /* nodes per plan: a script loop gone wrong */
#define SL_PLAN_MAX_PARTITIONS 65536 /* mapreduce{partitions}: files per shuffle */

enum sl_plan_kind {
    SL_PLAN_SOURCE_PATH,    /* uri, format, options, schema */
    SL_PLAN_SOURCE_CATALOG, /* database, table, predicate */
    SL_PLAN_FILTER,         /* input, fn */
    SL_PLAN_MAP,            /* input, fn */
    SL_PLAN_FLAT_MAP,       /* input, fn */
    SL_PLAN_SELECT,         /* input, columns */
    SL_PLAN_DROP,           /* input, columns */
    SL_PLAN_RENAME,         /* input, pairs (from, to) */
    SL_PLAN_APPLY_MAPPING,  /* input, mappings */
    SL_PLAN_GROUP_AGG,      /* input, columns (keys), aggs */
    SL_PLAN_JOIN,           /* input (left), right, how, pairs (left key, right key) */
    SL_PLAN_DISTINCT,       /* input, columns (none = all columns) */
    SL_PLAN_UNION,          /* input, right (the other) */
    SL_PLAN_SORT,           /* input, sort_keys */
    SL_PLAN_LIMIT,          /* input, limit */
    SL_PLAN_MAPREDUCE,      /* input, fn (map), combine, reduce, partitions, columns (key, value) */
    SL_PLAN_WRITE,          /* input, uri (to), format, compression, columns (partition keys) */
};
#define SL_PLAN_KIND_COUNT (SL_PLAN_WRITE + 1)

enum sl_plan_join_how { SL_PLAN_JOIN_INNER, SL_PLAN_JOIN_LEFT };

/* A Lua function of the plan. slot -1 = none (an absent combine). */
struct sl_plan_fn {
    int slot;             /* position of creation in main(ctx), from 0 */
    int line;             /* line where the function was defined; 0 for C functions */
    uint64_t fingerprint; /* hash of its captured upvalue values at freeze time */
};

struct sl_plan_kv {
    char *key;   /* owned */
    char *value; /* owned */
};

struct sl_plan_mapping {
    char *source; /* owned: input column */
    char *target; /* owned: output column */
    char *type;   /* owned: catalog type name as written ("bigint", "decimal(10,2)") */
};

struct sl_plan_agg {
    char *name; /* owned: output column */
    enum sl_agg_kind kind;
    char *column; /* owned: input column; NULL for count() of rows */
};

struct sl_plan_sort_key {
    char *column; /* owned */
    bool desc;
};

struct sl_plan_node {
    enum sl_plan_kind kind;
    int line;  /* script line of the call that made the node; 0 unknown (not compared) */
    int input; /* earlier node index; -1 for sources */
    int right; /* JOIN right side / UNION other: earlier node index; else -1 */

    /* SOURCE_PATH: uri, format; WRITE: uri (to), format, compression */
    char *uri, *format, *compression;
    struct sl_plan_kv *options; /* SOURCE_PATH, sorted by key */
    size_t n_options;
    struct sl_plan_kv *schema; /* SOURCE_PATH declared schema (name, catalog type), in order */
    size_t n_schema;
    /* SOURCE_CATALOG */
    char *database, *table, *predicate; /* predicate may be NULL */
    /* FILTER/MAP/FLAT_MAP: fn; MAPREDUCE: fn = map, combine (slot -1 = none), reduce */
    struct sl_plan_fn fn, combine, reduce;
    int partitions; /* MAPREDUCE; 0 = as many as the executor likes */
    /* SELECT/DROP/DISTINCT: columns; GROUP_AGG: keys; WRITE: partition keys;
     * MAPREDUCE: the two output columns (key, value) */
    char **columns;
    size_t n_columns;
    struct sl_plan_kv *pairs; /* RENAME (from, to) sorted by from; JOIN (left key, right key) */
    size_t n_pairs;
    enum sl_plan_join_how how;
    struct sl_plan_mapping *mappings;
    size_t n_mappings;
    struct sl_plan_agg *aggs; /* sorted by name */
    size_t n_aggs;
    struct sl_plan_sort_key *sort_keys;
    size_t n_sort_keys;
    int64_t limit;

    /* Output column names when known at planning time (see above). */
    bool out_known;
    char **out;
    size_t n_out;
};

struct sl_plan {
    struct sl_plan_node *nodes; /* owned; n_nodes in creation order */
    size_t n_nodes, cap_nodes;
    int n_fns; /* function slots used: 0..n_fns-1 */
    bool frozen;
};

/* "source_path", "filter", "group_agg", ... (static storage). */
const char *sl_plan_kind_name(enum sl_plan_kind k);

/* An empty plan. Owned: sl_plan_free(); NULL on OOM. */
struct sl_plan *sl_plan_new(void);
/* Frees the plan and every node. NULL is a no-op. */
void sl_plan_free(struct sl_plan *p);
/* Frees what a node owns and zeroes it (for nodes never added). */
void sl_plan_node_cleanup(struct sl_plan_node *n);

/* Checks *n against the plan built so far (inputs exist and are earlier,
 * required fields, names, agg kinds, known columns), computes its output
 * columns and appends it; *index gets its position. Takes n's contents in all
 * cases: on failure they are freed and n is zeroed. Errors: SL_ECONFIG with a
 * message naming what is wrong ("unknown column \"x\" (columns: a, b)"),
 * SL_ELIMIT past SL_PLAN_MAX_NODES, SL_ENOMEM. Refused once frozen. */
int sl_plan_add_take(struct sl_plan *p, struct sl_plan_node *n, int *index, struct sl_err *err);

/* Whole-plan check: every node as sl_plan_add_take checks it, function slots
 * below n_fns, and at least one WRITE. SL_ECONFIG "node 3 (select): ...". */
int sl_plan_validate(const struct sl_plan *p, struct sl_err *err);
/* Validates, then marks the plan read-only. */
int sl_plan_freeze(struct sl_plan *p, struct sl_err *err);

/* Structural equality: kinds, inputs, every parameter and function slot,
 * definition line and upvalue fingerprint (not the calling lines). When they
 * differ and why is not NULL, writes the first difference there, e.g.
 * "node 3: filter vs map" or "node 2: column 1 \"a\" vs \"b\"". */
bool sl_plan_equal(const struct sl_plan *a, const struct sl_plan *b, char *why, size_t why_len);
/* SL_OK when the worker built the planner's plan; else SL_ESCRIPT "main(ctx)
 * built a different plan in worker 2 (node 3: filter vs map): main must be
 * deterministic". */
int sl_plan_check_same(const struct sl_plan *planner, const struct sl_plan *worker, int worker_id,
                       struct sl_err *err);

/* JSON text of the plan (owned: sl_free; NULL on OOM): {"nodes":[{"id":0,
 * "kind":"source_catalog","line":3,...},...],"functions":N}. Keys in a fixed
 * order, compact, no "line" when 0; stable across runs (tests compare it). */
char *sl_plan_to_json(const struct sl_plan *p);

#endif
