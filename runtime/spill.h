/*
 * runtime/spill.h - sorted run files for the shuffle: write, read back, k-way merge.
 * A run is a temp file of (key, value) records in key order, written when the
 * shuffle's memory budget is exceeded (runtime/shuffle.c decides when and what).
 * Records are opaque bytes; the order is memcmp on keys (shorter key first on a
 * common prefix), which the engine's order-preserving key encoding relies on.
 *
 * File format (all integers little-endian), version 1:
 *   header  "SLSPILL\0" (8 bytes), u32 version, u32 reserved (0)
 *   block*  u32 payload_len, u32 n_records, u32 crc32(first 8 header bytes + payload),
 *           payload = n_records x (varint klen, varint vlen, key, value)
 *   end     a block with payload_len 0 whose n_records is the file's record total
 * A block holds ~SL_SPILL_BLOCK_LEN bytes, or one larger record. Any damage (bad
 * magic, checksum, length, truncation, missing end block) is SL_EPARSE naming the
 * file path and the byte offset of the damaged block.
 *
 * Threads: every object here is used by one thread at a time; distinct objects
 * (and readers of the same run) are independent. Nothing here logs.
 */
#ifndef SL_SPILL_H
#define SL_SPILL_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define SL_SPILL_BLOCK_LEN (64u << 10)  /* bytes: one read buffer per open run; amortises write()  \
                                         */
#define SL_SPILL_RECORD_MAX (64u << 20) /* bytes of key + value: ceiling of every record buffer */
#define SL_SPILL_VERSION    1u

/* One record; both pointers borrowed (see the function that filled it in). */
struct sl_spill_rec {
    const void *key;
    size_t klen; /* bytes */
    const void *val;
    size_t vlen; /* bytes */
};

struct sl_spill_writer;
struct sl_spill_run;
struct sl_spill_reader;
struct sl_spill_merge;

/* ---- Writing a run ---- */

/* Creates "<dir>/sluice-spill-XXXXXX" with mkstemp. *out owned: finish or abort.
 * SL_EIO (naming the directory) when the file cannot be created; SL_ENOMEM. */
int sl_spill_writer_new(const char *dir, struct sl_spill_writer **out, struct sl_err *err);
/* Appends one record; records must come in key order (not checked). Copies the
 * bytes. SL_ELIMIT past SL_SPILL_RECORD_MAX; SL_EIO with path and offset. */
int sl_spill_writer_add(struct sl_spill_writer *w, const void *key, size_t klen, const void *val,
                        size_t vlen, struct sl_err *err);
/* Bytes written to the file so far (header and flushed blocks). */
uint64_t sl_spill_writer_bytes(const struct sl_spill_writer *w);
/* Flushes, writes the end block and closes; *out is the run (owned:
 * sl_spill_run_free). Always frees w; on failure the file is unlinked. */
int sl_spill_writer_finish(struct sl_spill_writer *w, struct sl_spill_run **out,
                           struct sl_err *err);
/* Closes, unlinks and frees (NULL is a no-op). */
void sl_spill_writer_abort(struct sl_spill_writer *w);

/* ---- A finished run ---- */

/* Path of the run file: borrowed until sl_spill_run_free. */
const char *sl_spill_run_path(const struct sl_spill_run *r);
uint64_t sl_spill_run_bytes(const struct sl_spill_run *r);   /* file size */
uint64_t sl_spill_run_records(const struct sl_spill_run *r); /* records in the file */
/* Unlinks the file and frees (NULL is a no-op). Readers must be freed first. */
void sl_spill_run_free(struct sl_spill_run *r);

/* ---- Reading a run ---- */

/* Opens the run's file and checks its header. *out owned: sl_spill_reader_free.
 * Memory: one block buffer (SL_SPILL_BLOCK_LEN, more only for larger records). */
int sl_spill_reader_open(const struct sl_spill_run *run, struct sl_spill_reader **out,
                         struct sl_err *err);
/* 1 and *rec filled (borrowed until the next call or free), 0 at the end, or a
 * negative code: SL_EPARSE (damaged file: path and offset), SL_EIO. */
int sl_spill_reader_next(struct sl_spill_reader *r, struct sl_spill_rec *rec, struct sl_err *err);
void sl_spill_reader_free(struct sl_spill_reader *r);

/* ---- k-way merge ---- */

/* A sorted record stream: next returns 1 (rec filled, borrowed until its next
 * call), 0 at the end, or a negative code. Readers are one kind of source; the
 * shuffle adds its sorted in-memory buffers as another. */
struct sl_spill_src {
    int (*next)(void *ctx, struct sl_spill_rec *rec, struct sl_err *err);
    void *ctx;
};
/* A source reading r (borrowed; r must outlive the merge). */
struct sl_spill_src sl_spill_reader_src(struct sl_spill_reader *r);

/* Merges n_srcs sorted sources (copied; their contexts borrowed) with a binary
 * heap. *out owned: sl_spill_merge_free. */
int sl_spill_merge_new(const struct sl_spill_src *srcs, size_t n_srcs, struct sl_spill_merge **out,
                       struct sl_err *err);
/* Next record in key order; equal keys come in source-index order, and in each
 * source's own order, so the merge is stable. 1 and *rec (borrowed until the next
 * call) plus *src_idx (may be NULL), 0 at the end, or a source's error. */
int sl_spill_merge_next(struct sl_spill_merge *m, struct sl_spill_rec *rec, size_t *src_idx,
                        struct sl_err *err);
void sl_spill_merge_free(struct sl_spill_merge *m);

/* memcmp order: common prefix first, then the shorter key. <0, 0, >0. */
int sl_spill_key_cmp(const void *a, size_t alen, const void *b, size_t blen);
/* CRC-32 (IEEE 802.3, reflected 0xEDB88320); start with crc = 0. Thread-safe. */
uint32_t sl_spill_crc32(uint32_t crc, const void *p, size_t len);

#endif
