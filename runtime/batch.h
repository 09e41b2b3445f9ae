/*
 * runtime/batch.h - a batch of rows: the unit that moves between readers,
 * operators, the shuffle and writers. Rows are row-major arrays of struct
 * sl_value; every string lives in the batch's arena and is released at once
 * by sl_batch_reset(), which also bumps the generation so stale row handles
 * (Lua "sluice.Row" userdata) can tell they outlived their batch. A batch
 * flushes at batch_rows or batch_bytes, whichever comes first.
 */
#ifndef SL_BATCH_H
#define SL_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "err.h"
#include "value.h"

#define SL_BATCH_ROWS_DEFAULT 4096
#define SL_BATCH_BYTES_DEFAULT ((size_t)4 << 20) /* 4 MiB of arena per batch */

/* Where a row came from, for error output ("orders.csv:1832:7"). */
struct sl_row_origin {
    const char *object; /* borrowed: the split's object URI */
    int64_t line;       /* 1-based physical line (text formats), 0 when unknown */
};

struct sl_batch {
    const struct sl_rschema *schema; /* borrowed; frozen */
    struct sl_value *cells;          /* owned; cap_rows * n_cols */
    struct sl_row_origin *origins;   /* owned; one per row */
    uint32_t n_rows, cap_rows;
    uint32_t gen;                    /* bumped by every reset */
    size_t max_bytes;                /* arena bytes before the batch counts as full */
    struct sl_arena arena;
};

/* Owned (sl_batch_free); NULL on OOM. cap_rows 0 = default. */
struct sl_batch *sl_batch_new(const struct sl_rschema *schema, uint32_t cap_rows,
                              size_t max_bytes);
void sl_batch_free(struct sl_batch *b);
void sl_batch_reset(struct sl_batch *b);
/* Appends an all-NULL row and returns its cells (n_cols values), valid until
 * the next reset; NULL when the batch is full (rows or bytes). */
struct sl_value *sl_batch_add_row(struct sl_batch *b, const struct sl_row_origin *origin);
/* True when no row or byte room is left. */
int sl_batch_is_full(const struct sl_batch *b);
static inline struct sl_value *sl_batch_row(struct sl_batch *b, uint32_t i)
{
    return &b->cells[(size_t)i * b->schema->n_cols];
}

#endif
