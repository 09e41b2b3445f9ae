/*
 * runtime/shuffle.h - hash shuffle of opaque (key, value) records into R partitions,
 * with an optional map-side combiner and a memory budget past which partitions
 * spill as sorted runs (runtime/spill.h) that are merged k-way at the end.
 * Serialising rows and typed keys into order-preserving bytes happens above us
 * (engine); this layer only sees bytes and orders keys by memcmp.
 *
 * Life cycle: sl_shuffle_new -> sl_shuffle_add (from any number of mapper threads)
 * -> sl_shuffle_finish (once, after every add has returned) -> sl_shuffle_partition_iter
 * per partition -> sl_shuffle_free.
 *
 * Memory accounting: the budget counts every byte the shuffle holds for records:
 * the record blocks (allocated capacity; 8 bytes of framing per record; blocks start
 * at 4 KiB and double up to min(1 MiB, budget/16) per partition, a larger record
 * gets a block of its own size) and each partition's record index (16 bytes per
 * slot: a pointer plus merge-sort scratch; it grows by at most budget/256 bytes at
 * a time). The check runs after each add, so one add overshoots by at most one
 * block plus one index step (~7% of the budget, or the record itself if larger).
 * Data being spilled stays counted until its run is written but does not count
 * towards the trigger, so two threads do not both spill for the same excess; with
 * T adding threads the peak can therefore approach 2 x budget while runs are
 * written (no back-pressure yet). Not counted (fixed overhead): ~100 bytes per
 * partition; one 64 KiB writer block per spilling thread; per merge, one
 * SL_SPILL_BLOCK_LEN (64 KiB) read buffer per run, and at most merge_fan_in runs
 * (default 64, i.e. 4 MiB) are open per partition being merged or iterated; the
 * key and combiner buffers of an iteration (one record each). Records larger than
 * 64 KiB enlarge those buffers to their size (ceiling SL_SPILL_RECORD_MAX).
 *
 * Threads: sl_shuffle_add is safe from many threads at once. Each partition has its
 * own mutex, held only to append or to detach the partition's buffers; sorting and
 * writing a spill run happen outside any lock, by the thread whose add pushed
 * the total over budget. Spill policy: that thread detaches and spills the largest
 * partition (not necessarily its own), repeating while still over budget; largest
 * first gives the fewest, longest runs. Counters are _Atomic. sl_shuffle_finish and free: one
 * thread, after every add. sl_shuffle_partition_iter: distinct partitions may be
 * iterated by different threads at once; one partition by one thread at a time.
 * Lock order: a thread holds at most one partition lock, never across I/O.
 */
#ifndef SL_SHUFFLE_H
#define SL_SHUFFLE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

/* runs merged at once: 64 x 64 KiB = 4 MiB of read buffers, and 64 open files */
#define SL_SHUFFLE_FAN_IN_DEFAULT 64u
#define SL_SHUFFLE_PARTITIONS_MAX 65536u /* ceiling on R: per-partition state is fixed overhead */

/* Map-side combiner: writes the combination of v1 and v2 (both for key) into out,
 * which arrives empty with a ceiling of SL_SPILL_RECORD_MAX. v1 is the earlier
 * value (arrival order within a thread), so non-commutative combiners still see a
 * deterministic order. SL_OK or a negative code, which fails the shuffle. Called
 * from mapper threads (while spilling) and iterating threads: must be thread-safe. */
typedef int (*sl_shuffle_combine_fn)(void *ud, const void *key, size_t klen, const void *v1,
                                     size_t l1, const void *v2, size_t l2, struct sl_buf *out);

struct sl_shuffle_opts {
    uint32_t n_partitions;         /* R, 1..SL_SHUFFLE_PARTITIONS_MAX */
    size_t memory_budget;          /* bytes of record buffers; 0 = unlimited */
    const char *spill_dir;         /* directory for run files (copied); required if budgeted */
    uint64_t hash_seed;            /* partitioning seed; 0 is plain FNV-1a + finaliser */
    sl_shuffle_combine_fn combine; /* NULL: no combining */
    void *combine_ud;
    size_t merge_fan_in; /* runs merged per pass, >= 2; 0 = SL_SHUFFLE_FAN_IN_DEFAULT */
};

struct sl_shuffle_stats {
    uint64_t n_records_in;   /* sl_shuffle_add calls that succeeded */
    uint64_t bytes_in;       /* key + value bytes added */
    uint64_t n_spill_runs;   /* runs written from memory */
    uint64_t spill_bytes;    /* bytes written to run files, merge passes included */
    uint64_t n_merge_passes; /* intermediate merges (more runs than the fan-in) */
    uint64_t peak_mem;       /* bytes: highest accounted memory */
};

struct sl_shuffle;

/* Values of one key during sl_shuffle_partition_iter. */
struct sl_shuffle_values;

/* Called once per distinct key, in key order. key borrowed for the call. Pull the
 * values with sl_shuffle_values_next (unread values are skipped on return). Return
 * SL_OK, or a negative code to stop the iteration with that error. */
typedef int (*sl_shuffle_group_fn)(void *ud, const void *key, size_t klen,
                                   struct sl_shuffle_values *vals, struct sl_err *err);

/* Seeded 64-bit hash of key bytes: FNV-1a then a murmur3 finaliser. The same on
 * every run and machine. Thread-safe. */
uint64_t sl_shuffle_hash(uint64_t seed, const void *key, size_t klen);

/* *out owned: sl_shuffle_free. SL_ECONFIG for bad options; SL_ENOMEM. */
int sl_shuffle_new(const struct sl_shuffle_opts *opts, struct sl_shuffle **out, struct sl_err *err);
/* Frees everything and unlinks every run file (NULL is a no-op). */
void sl_shuffle_free(struct sl_shuffle *sh);

/* Partition of a key: sl_shuffle_hash(seed, key) % R. Thread-safe. */
uint32_t sl_shuffle_partition_of(const struct sl_shuffle *sh, const void *key, size_t klen);

/* Copies the record into its partition; may spill (see the header comment).
 * SL_ELIMIT when key + value exceed SL_SPILL_RECORD_MAX; SL_EIO/SL_ENOMEM when a
 * spill fails. After any failure the shuffle is failed: later adds and finish
 * return SL_EIO ("an earlier add failed"). Thread-safe. */
int sl_shuffle_add(struct sl_shuffle *sh, const void *key, size_t klen, const void *val,
                   size_t vlen, struct sl_err *err);

/* Ends the add phase. Call once, after every sl_shuffle_add has returned. */
int sl_shuffle_finish(struct sl_shuffle *sh, struct sl_err *err);

/* Delivers partition p grouped by key in key order, merging its in-memory records
 * with its runs (in passes of merge_fan_in when it has more runs). Without a
 * combiner every value of a key arrives, in arrival order within one adding thread
 * (order across threads unspecified); with one, a key has a single combined value.
 * May be called again for the same partition. Errors: SL_EPARSE for a damaged run
 * (file and offset in the message), SL_EIO, the callback's or combiner's code. */
int sl_shuffle_partition_iter(struct sl_shuffle *sh, uint32_t p, sl_shuffle_group_fn cb, void *ud,
                              struct sl_err *err);

/* Next value of the current key: 1 and (*val, *vlen) borrowed until the next
 * call or the callback's return, 0 when the key has no more values, <0 error. */
int sl_shuffle_values_next(struct sl_shuffle_values *vs, const void **val, size_t *vlen,
                           struct sl_err *err);

/* A consistent-enough snapshot of the counters (each read atomically). */
void sl_shuffle_get_stats(const struct sl_shuffle *sh, struct sl_shuffle_stats *out);

/* Number of run files partition p holds now (tests, diagnostics). After finish only. */
size_t sl_shuffle_partition_runs(const struct sl_shuffle *sh, uint32_t p);

#endif
