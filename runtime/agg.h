/*
 * runtime/agg.h - built-in aggregations of group_by(...):agg{...} (issue 4),
 * computed in C as partial states so the map side can combine before the
 * shuffle and the reduce side merges partials: init → update (per row) →
 * merge (two partials) → finish (the output values). Partials serialise to
 * bytes for the shuffle and spill files. Grouping itself (the hash table of
 * groups, the memory budget) is the engine's; this module is one group's state.
 *
 * State layout and lifetime. The state of one group for a list of n specs is a
 * fixed block of sl_agg_state_size(n) bytes that the caller provides (in its
 * group table, an arena, or on the stack; 8-byte aligned) plus out-of-line
 * bytes that the state owns (heap, sl_alloc): the copied string of
 * min/max/first/last over string/binary/json columns, and the hash set of
 * count_distinct. The fixed block may live in an arena, but the arena must not
 * be reset before sl_agg_cleanup() has freed the out-of-line bytes. Nothing in
 * a state points into input batches, so a row's batch may be recycled right
 * after sl_agg_update() returns. sl_agg_state_bytes() reports fixed plus
 * out-of-line bytes so the engine can charge them to its memory budget.
 *
 * Memory per group: 32 bytes per spec, plus for a string min/max/first/last
 * the capacity of its copy (grows by doubling, so at most 2x the longest value
 * kept), plus for count_distinct a 48-byte set header, 32 to 64 bytes of
 * hash table per distinct value (16-byte entries, load factor 1/4 to 1/2) and
 * the value's key encoding (sl_key_encode: 9 bytes for numbers, dates and
 * timestamps, length + 3 for strings; the pool grows by doubling, so up to 2x
 * that). The set grows with the number of distinct values and is bounded only
 * by the per-group ceiling SL_AGG_DISTINCT_MAX (SL_ELIMIT past it).
 *
 * Hot path: sl_agg_update allocates only when a string copy or a distinct set
 * must grow (amortised by doubling), never per row otherwise.
 *
 * Threads: a state belongs to one thread at a time; specs are read-only and may
 * be shared. The functions keep no global state.
 */
#ifndef SL_AGG_H
#define SL_AGG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "buf.h"
#include "err.h"
#include "value.h"

enum sl_agg_kind {
    SL_AGG_COUNT,          /* count() of rows, or count(col) of non-NULL values */
    SL_AGG_COUNT_DISTINCT, /* count_distinct(col): exact, NULLs not counted */
    SL_AGG_SUM, /* sum(col): bigint sum of integers (overflow → error), double otherwise */
    SL_AGG_MIN, /* min(col) by sl_value_cmp, NULLs ignored */
    SL_AGG_MAX,
    SL_AGG_AVG,   /* avg(col): double */
    SL_AGG_FIRST, /* first(col): the non-NULL value with the smallest order */
    SL_AGG_LAST,  /* last(col): the non-NULL value with the largest order */
};

/* "count", "count_distinct", ... and back (-1 when unknown). */
const char *sl_agg_name(enum sl_agg_kind k);
int sl_agg_parse(const char *name);

/* Most bytes of key encodings one count_distinct group may hold (SL_ELIMIT
 * past it): offsets in the set are 32-bit, and 1 GiB for one group means the
 * job needs a different plan anyway. */
#define SL_AGG_DISTINCT_MAX ((size_t)1 << 30)

/* Current version of the partial encoding (first byte of sl_agg_encode). */
#define SL_AGG_ENCODING_VERSION 1u

/* One aggregation of a group. */
struct sl_agg_spec {
    enum sl_agg_kind kind;
    int col;               /* input column; -1 only for count() of rows */
    enum sl_vtype in_type; /* the column's type (ignored for count() of rows) */
};

/* A spec list, as one pointer: the combiner's ud. Borrowed, read-only. */
struct sl_agg_specs {
    const struct sl_agg_spec *specs;
    size_t n_specs;
};

/* One group's state: an opaque block of sl_agg_state_size() bytes. */
struct sl_agg_state;

/* Validates a spec list against a row of n_cols columns: known kinds, col in
 * range (-1 only for count), sum/avg over bigint or double, no NULL-typed
 * input. SL_ECONFIG naming the spec ("agg 2: sum of string"). Every other
 * function assumes a list that passed this check. */
int sl_agg_check(const struct sl_agg_spec *specs, size_t n_specs, size_t n_cols,
                 struct sl_err *err);

/* Output type: count/count_distinct → INT; sum → INT for INT input, else
 * DOUBLE; avg → DOUBLE; min/max/first/last → the input type. */
enum sl_vtype sl_agg_out_type(const struct sl_agg_spec *spec);

/* Bytes of the fixed state block for n_specs specs (32 per spec). */
size_t sl_agg_state_size(size_t n_specs);

/* Makes state (sl_agg_state_size bytes, 8-byte aligned) the empty state. */
void sl_agg_init(const struct sl_agg_spec *specs, size_t n_specs, struct sl_agg_state *state);

/* Frees the out-of-line bytes and leaves state empty (as after sl_agg_init),
 * so a second cleanup is a no-op. */
void sl_agg_cleanup(const struct sl_agg_spec *specs, size_t n_specs, struct sl_agg_state *state);

/* Fixed plus out-of-line bytes held by state (allocated capacities; malloc's
 * own overhead not counted). */
size_t sl_agg_state_bytes(const struct sl_agg_spec *specs, size_t n_specs,
                          const struct sl_agg_state *state);

/* Adds one row (values indexed by spec col; borrowed, copied where kept).
 * order is the row's sequence number, (split << 32 | row in split): first and
 * last keep the value of the smallest and largest order, so results do not
 * depend on the number of workers or the merge order. SL_EPARSE when a
 * non-NULL value is not of the spec's in_type ("agg 1: value is string,
 * expected bigint"): checked before any spec takes the row, so the state is
 * unchanged and the row can go to the error output. SL_ENOMEM, SL_ELIMIT
 * (distinct set ceiling): the state stays valid, but specs before the failing
 * one have taken the row (the run fails anyway). */
int sl_agg_update(const struct sl_agg_spec *specs, size_t n_specs, struct sl_agg_state *state,
                  const struct sl_value *row, uint64_t order, struct sl_err *err);

/* Merges src into dst (src unchanged; both made for the same specs). Commutative
 * and associative up to double rounding of sum/avg over doubles (compensated,
 * ~1 ulp). SL_ENOMEM, SL_ELIMIT, SL_EPARSE when counts overflow 64 bits or an
 * integer sum 128 bits (only reachable with crafted partials). */
int sl_agg_merge(const struct sl_agg_spec *specs, size_t n_specs, struct sl_agg_state *dst,
                 const struct sl_agg_state *src, struct sl_err *err);

/* Writes the n_specs output values of state to out (state unchanged). Strings
 * are copied into arena (values valid until it is reset). A sum, avg, min,
 * max, first or last that saw no non-NULL value is NULL. SL_EPARSE "sum
 * overflows bigint" when an integer sum does not fit int64 (checked here, on
 * the exact 128-bit total, so the outcome does not depend on the order rows
 * were added); SL_ENOMEM when the arena refuses. */
int sl_agg_finish(const struct sl_agg_spec *specs, size_t n_specs, const struct sl_agg_state *state,
                  struct sl_value *out, struct sl_arena *arena, struct sl_err *err);

/* Appends the partial state to out: version byte, spec count, then per spec
 * its kind and payload (varints, fixed 8-byte doubles; count_distinct as its
 * key encodings sorted ascending, so equal sets encode to equal bytes). */
int sl_agg_encode(const struct sl_agg_spec *specs, size_t n_specs, const struct sl_agg_state *state,
                  struct sl_buf *out, struct sl_err *err);

/* Decodes p[0..len) made by sl_agg_encode for the same specs into state
 * (sl_agg_state_size bytes, need not be initialised). On success the state
 * owns its bytes (sl_agg_cleanup); on failure it holds nothing. Never reads
 * past len. SL_EPARSE on an unknown version, a spec list that does not match,
 * truncated, trailing or malformed bytes; SL_ENOMEM, SL_ELIMIT. */
int sl_agg_decode(const struct sl_agg_spec *specs, size_t n_specs, const void *p, size_t len,
                  struct sl_agg_state *state, struct sl_err *err);

/* Writes merge(decode(v1), decode(v2)) encoded to out (appended): the shuffle
 * combiner of partials. Allocates two temporary states (on the stack up to 16
 * specs) plus their out-of-line bytes, freed before returning. */
int sl_agg_combine_encoded(const struct sl_agg_specs *specs, const void *v1, size_t l1,
                           const void *v2, size_t l2, struct sl_buf *out, struct sl_err *err);

/* sl_shuffle_combine_fn for the shuffle (runtime/shuffle.h): ud is a
 * const struct sl_agg_specs * that outlives the shuffle; the key is ignored.
 * Returns sl_agg_combine_encoded's code (the message is lost: the shuffle's
 * combiner has no error argument). Thread-safe. */
int sl_agg_shuffle_combine(void *ud, const void *key, size_t klen, const void *v1, size_t l1,
                           const void *v2, size_t l2, struct sl_buf *out);

#endif
