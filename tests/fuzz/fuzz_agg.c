/*
 * tests/fuzz/fuzz_agg.c - the partial aggregation decoder (runtime/agg.c).
 * Arbitrary bytes go to sl_agg_decode for a fixed spec list covering every
 * kind and input type. Whatever decodes must encode, decode again and encode
 * to the same bytes, finish, and combine with itself (merge: SL_OK, or
 * SL_EPARSE when crafted counts or sums overflow). Anything else than SL_OK or
 * SL_EPARSE from the decoder aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/agg.h"
#include "runtime/arena.h"
#include "runtime/buf.h"
#include "runtime/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct sl_agg_spec SPECS[] = {
    {SL_AGG_COUNT, -1, SL_V_NULL},
    {SL_AGG_COUNT, 1, SL_V_STRING},
    {SL_AGG_COUNT_DISTINCT, 0, SL_V_INT},
    {SL_AGG_COUNT_DISTINCT, 1, SL_V_STRING},
    {SL_AGG_COUNT_DISTINCT, 2, SL_V_DOUBLE},
    {SL_AGG_COUNT_DISTINCT, 3, SL_V_BOOL},
    {SL_AGG_SUM, 0, SL_V_INT},
    {SL_AGG_SUM, 2, SL_V_DOUBLE},
    {SL_AGG_AVG, 0, SL_V_INT},
    {SL_AGG_AVG, 2, SL_V_DOUBLE},
    {SL_AGG_MIN, 1, SL_V_STRING},
    {SL_AGG_MAX, 4, SL_V_TIMESTAMP},
    {SL_AGG_MIN, 3, SL_V_BOOL},
    {SL_AGG_MAX, 2, SL_V_DOUBLE},
    {SL_AGG_FIRST, 5, SL_V_BINARY},
    {SL_AGG_LAST, 6, SL_V_DATE},
    {SL_AGG_FIRST, 1, SL_V_STRING},
    {SL_AGG_LAST, 7, SL_V_JSON},
};
#define N_SPECS (sizeof SPECS / sizeof SPECS[0])

/* _Alignas: the state block must be 8-byte aligned */
static _Alignas(16) unsigned char st1[N_SPECS * 32], st2[N_SPECS * 32];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sl_err e = {0};
    struct sl_agg_state *s1 = (struct sl_agg_state *)(void *)st1;
    struct sl_agg_state *s2 = (struct sl_agg_state *)(void *)st2;
    if (sl_agg_state_size(N_SPECS) > sizeof st1)
        abort();
    /* a private copy, so ASan catches reads past size */
    uint8_t *copy = malloc(size ? size : 1);
    if (size)
        memcpy(copy, data, size);
    int rc = sl_agg_decode(SPECS, N_SPECS, copy, size, s1, &e);
    free(copy);
    if (rc != SL_OK) {
        if (rc != SL_EPARSE)
            abort();
        return 0;
    }
    struct sl_buf b1, b2, b3;
    struct sl_arena a;
    struct sl_value out[N_SPECS];
    sl_buf_init(&b1, 0);
    sl_buf_init(&b2, 0);
    sl_buf_init(&b3, 0);
    sl_arena_init(&a, 0);
    if (sl_agg_encode(SPECS, N_SPECS, s1, &b1, &e) != SL_OK)
        abort();
    if (sl_agg_decode(SPECS, N_SPECS, b1.data, b1.len, s2, &e) != SL_OK)
        abort();
    if (sl_agg_encode(SPECS, N_SPECS, s2, &b2, &e) != SL_OK)
        abort();
    if (b1.len != b2.len || memcmp(b1.data, b2.data, b1.len) != 0)
        abort();
    rc = sl_agg_finish(SPECS, N_SPECS, s2, out, &a, &e);
    if (rc != SL_OK && rc != SL_EPARSE) /* EPARSE: a crafted sum over int64 */
        abort();
    struct sl_agg_specs list = {SPECS, N_SPECS};
    rc = sl_agg_combine_encoded(&list, b1.data, b1.len, b2.data, b2.len, &b3, &e);
    if (rc != SL_OK && rc != SL_EPARSE)
        abort();
    sl_agg_cleanup(SPECS, N_SPECS, s1);
    sl_agg_cleanup(SPECS, N_SPECS, s2);
    sl_buf_cleanup(&b1);
    sl_buf_cleanup(&b2);
    sl_buf_cleanup(&b3);
    sl_arena_cleanup(&a);
    return 0;
}
