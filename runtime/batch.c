/*
 * runtime/batch.c - a batch of rows (see batch.h).
 * The cells and origins arrays are allocated once for cap_rows rows; strings
 * go to the batch arena, which has no hard cap: max_bytes is the flush point
 * (a row being filled may run past it; the next add_row then refuses).
 */
#include "batch.h"

#include <string.h>

#include "alloc.h"

struct sl_batch *sl_batch_new(const struct sl_rschema *schema, uint32_t cap_rows, size_t max_bytes)
{
    if (!schema)
        return NULL;
    struct sl_batch *b = sl_calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->schema = schema;
    b->cap_rows = cap_rows ? cap_rows : SL_BATCH_ROWS_DEFAULT;
    b->max_bytes = max_bytes ? max_bytes : SL_BATCH_BYTES_DEFAULT;
    sl_arena_init(&b->arena, 0);
    size_t n_cols = schema->n_cols;
    b->cells = sl_calloc((size_t)b->cap_rows * (n_cols ? n_cols : 1), sizeof *b->cells);
    b->origins = sl_calloc(b->cap_rows, sizeof *b->origins);
    if (!b->cells || !b->origins || (n_cols && (size_t)b->cap_rows > SIZE_MAX / n_cols)) {
        sl_batch_free(b);
        return NULL;
    }
    return b;
}

void sl_batch_free(struct sl_batch *b)
{
    if (!b)
        return;
    sl_arena_cleanup(&b->arena);
    sl_free(b->cells);
    sl_free(b->origins);
    sl_free(b);
}

void sl_batch_reset(struct sl_batch *b)
{
    sl_arena_reset(&b->arena);
    b->n_rows = 0;
    b->gen++;
}

int sl_batch_is_full(const struct sl_batch *b)
{
    return b->n_rows >= b->cap_rows || b->arena.used >= b->max_bytes;
}

struct sl_value *sl_batch_add_row(struct sl_batch *b, const struct sl_row_origin *origin)
{
    if (sl_batch_is_full(b))
        return NULL;
    uint32_t r = b->n_rows++;
    struct sl_value *row = sl_batch_row(b, r);
    memset(row, 0, b->schema->n_cols * sizeof *row); /* SL_V_NULL is 0 */
    if (origin)
        b->origins[r] = *origin;
    else
        b->origins[r] = (struct sl_row_origin){NULL, 0};
    return row;
}
