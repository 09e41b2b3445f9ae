/*
 * tests/runtime/test_batch.c - batches: full by rows, full by bytes, reset
 * (generation bump, arena reuse), origins.
 */
#include <stdint.h>
#include <string.h>

#include "runtime/batch.h"
#include "runtime/err.h"
#include "runtime/value.h"
#include "tests/test.h"

static struct sl_rschema *schema2(void)
{
    struct sl_err e = {0};
    struct sl_rschema *s = sl_rschema_new(2);
    if (!s || sl_rschema_set(s, 0, "id", SL_V_INT, &e) != SL_OK ||
        sl_rschema_set(s, 1, "name", SL_V_STRING, &e) != SL_OK) {
        sl_rschema_free(s);
        return NULL;
    }
    return s;
}

TEST(fill_to_cap_rows)
{
    struct sl_rschema *s = schema2();
    struct sl_batch *b = s ? sl_batch_new(s, 10, 0) : NULL;
    CHECK(b != NULL);
    if (!b) {
        sl_rschema_free(s);
        return;
    }
    CHECK(b->cap_rows == 10 && b->max_bytes == SL_BATCH_BYTES_DEFAULT && b->n_rows == 0);
    CHECK(!sl_batch_is_full(b));
    for (int r = 0; r < 10; r++) {
        struct sl_value *row = sl_batch_add_row(b, NULL);
        CHECK(row != NULL);
        if (!row)
            break;
        CHECK(row[0].type == SL_V_NULL && row[1].type == SL_V_NULL);
        row[0] = (struct sl_value){.type = SL_V_INT, .i = r};
    }
    CHECK(b->n_rows == 10);
    CHECK(sl_batch_is_full(b));
    CHECK(sl_batch_add_row(b, NULL) == NULL);
    CHECK(b->n_rows == 10);
    for (uint32_t r = 0; r < 10; r++)
        CHECK(sl_batch_row(b, r)[0].i == (int64_t)r);
    sl_batch_free(b);
    sl_rschema_free(s);
}

TEST(default_cap)
{
    struct sl_rschema *s = schema2();
    struct sl_batch *b = s ? sl_batch_new(s, 0, 0) : NULL;
    CHECK(b != NULL && b->cap_rows == SL_BATCH_ROWS_DEFAULT);
    sl_batch_free(b);
    sl_batch_free(NULL);
    CHECK(sl_batch_new(NULL, 4, 0) == NULL);
    sl_rschema_free(s);
}

TEST(fill_by_bytes)
{
    struct sl_err e = {0};
    struct sl_rschema *s = schema2();
    struct sl_batch *b = s ? sl_batch_new(s, 1000, 4096) : NULL;
    CHECK(b != NULL);
    if (!b) {
        sl_rschema_free(s);
        return;
    }
    char text[300];
    memset(text, 'x', sizeof text);
    uint32_t rows = 0;
    struct sl_value *row;
    while ((row = sl_batch_add_row(b, NULL)) != NULL) {
        CHECK_OK(sl_value_from_text(SL_V_STRING, text, sizeof text, &b->arena, &row[1], &e), &e);
        rows++;
        if (rows > 100)
            break;
    }
    CHECK(rows > 5 && rows < 30); /* 4096 / ~304 bytes */
    CHECK(sl_batch_is_full(b));
    CHECK(b->arena.used >= 4096);
    CHECK(b->n_rows == rows);
    /* Every string written stays intact. */
    for (uint32_t r = 0; r < b->n_rows; r++)
        CHECK(sl_batch_row(b, r)[1].len == sizeof text &&
              memcmp(sl_batch_row(b, r)[1].s, text, sizeof text) == 0);
    sl_batch_free(b);
    sl_rschema_free(s);
}

TEST(reset_bumps_gen_and_reuses)
{
    struct sl_err e = {0};
    struct sl_rschema *s = schema2();
    struct sl_batch *b = s ? sl_batch_new(s, 4, 1 << 20) : NULL;
    CHECK(b != NULL);
    if (!b) {
        sl_rschema_free(s);
        return;
    }
    uint32_t gen0 = b->gen;
    struct sl_value *cells0 = b->cells;
    struct sl_value *row = sl_batch_add_row(b, NULL);
    CHECK_OK(sl_value_from_text(SL_V_STRING, "hello", 5, &b->arena, &row[1], &e), &e);
    const char *first = row[1].s;
    while (sl_batch_add_row(b, NULL))
        ;
    CHECK(sl_batch_is_full(b));
    sl_batch_reset(b);
    CHECK(b->gen == gen0 + 1 && b->n_rows == 0 && b->arena.used == 0);
    CHECK(!sl_batch_is_full(b));
    row = sl_batch_add_row(b, NULL);
    CHECK(row == cells0);                                        /* same cells */
    CHECK(row[0].type == SL_V_NULL && row[1].type == SL_V_NULL); /* cleared */
    CHECK_OK(sl_value_from_text(SL_V_STRING, "world", 5, &b->arena, &row[1], &e), &e);
    CHECK(row[1].s == first); /* arena block reused */
    sl_batch_reset(b);
    CHECK(b->gen == gen0 + 2);
    sl_batch_free(b);
    sl_rschema_free(s);
}

TEST(origins_kept)
{
    struct sl_rschema *s = schema2();
    struct sl_batch *b = s ? sl_batch_new(s, 8, 0) : NULL;
    CHECK(b != NULL);
    if (!b) {
        sl_rschema_free(s);
        return;
    }
    const char *obj = "s3://lake/orders.csv";
    for (int64_t l = 1; l <= 8; l++) {
        struct sl_row_origin o = {obj, l * 10};
        CHECK(sl_batch_add_row(b, l == 5 ? NULL : &o) != NULL);
    }
    for (uint32_t r = 0; r < 8; r++) {
        if (r == 4) {
            CHECK(b->origins[r].object == NULL && b->origins[r].line == 0);
        } else {
            CHECK(b->origins[r].object == obj && b->origins[r].line == (int64_t)(r + 1) * 10);
        }
    }
    sl_batch_free(b);
    sl_rschema_free(s);
}

TEST(zero_columns)
{
    struct sl_rschema *s = sl_rschema_new(0);
    struct sl_batch *b = s ? sl_batch_new(s, 3, 0) : NULL;
    CHECK(b != NULL);
    if (b) {
        CHECK(sl_batch_add_row(b, NULL) != NULL);
        CHECK(b->n_rows == 1);
    }
    sl_batch_free(b);
    sl_rschema_free(s);
}

int main(void)
{
    t_suite = "batch/";
    RUN(fill_to_cap_rows);
    RUN(default_cap);
    RUN(fill_by_bytes);
    RUN(reset_bumps_gen_and_reuses);
    RUN(origins_kept);
    RUN(zero_columns);
    TEST_EXIT();
}
