/*
 * tests/fuzz/fuzz_parquet.c - libFuzzer target for the Parquet footer
 * classifier (crawler/parquet.c). Each input is tried three ways: as the tail
 * window of a larger object (the suffix GET), as a whole object, and as the
 * Thrift bytes of a FileMetaData wrapped in PAR1 + length + PAR1, so that
 * mutations reach the decoder without first having to grow a valid trailer.
 * Bad input must give SL_EPARSE / SL_ELIMIT / a certainty-0 verdict, never a
 * crash, and a decoded footer must be self-consistent. Built by
 * tests/fuzz/run.sh; tests/fuzz/replay.c replays corpus/parquet/.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crawler/classify.h"
#include "crawler/ctype.h"
#include "crawler/parquet.h"
#include "runtime/alloc.h"

static void fail(const char *what, const struct sl_err *e)
{
    fprintf(stderr, "fuzz_parquet: %s: %s\n", what, e ? e->msg : "");
    abort();
}

static void check_one(const uint8_t *tail, size_t tail_len, int64_t object_size,
                      const uint8_t *head4)
{
    struct sl_cls_result r;
    struct sl_err e = {0};
    size_t need = 12345;

    sl_cls_result_init(&r);
    int rc = sl_parquet_classify_tail(tail, tail_len, object_size, head4, &need, &r, &e);
    if (rc == SL_ELIMIT) {
        if (need != 0 && (need <= tail_len || (int64_t)need > object_size))
            fail("SL_ELIMIT with a useless need", &e);
    } else if (need != 0) {
        fail("need set without SL_ELIMIT", &e);
    }
    if (rc != SL_OK && rc != SL_EPARSE && rc != SL_ELIMIT)
        fail("unexpected code", &e);
    if (rc != SL_OK) {
        if (r.classification[0] || r.schema.n_cols || json_object_size(r.format_params) ||
            r.n_warnings)
            fail("result written on failure", &e);
        if (!e.msg[0])
            fail("failure without a message", &e);
    } else if (r.classification[0] == '\0') {
        if (r.certainty != 0.0 || r.schema.n_cols || !r.reason[0])
            fail("unknown verdict with certainty, columns or no reason", NULL);
    } else if (r.unsupported) {
        if (strcmp(r.reason, "parquet_encrypted_footer") != 0)
            fail("unsupported without reason", NULL);
    } else {
        if (strcmp(r.classification, "parquet") != 0 || r.certainty != 1.0 || !r.records_exact ||
            r.n_records < 0 || r.avg_record_bytes < 0 || r.truncated)
            fail("inconsistent parquet verdict", NULL);
        if (!json_is_string(json_object_get(r.format_params, "sluice.codec")) ||
            !json_is_string(json_object_get(r.format_params, "compressionType")))
            fail("format params", NULL);
        for (size_t i = 0; i < r.schema.n_cols; i++) {
            const struct sl_ccolumn *c = &r.schema.cols[i];
            if (!c->name || !c->name[0] || !c->type)
                fail("column without name or type", NULL);
            char *t = sl_ctype_to_string(c->type);
            if (!t)
                fail("render failed", NULL);
            /* what we render, the catalog must be able to read back */
            struct sl_ctype *back = sl_ctype_parse(t, &e);
            if (!back) {
                fprintf(stderr, "type: %s\n", t);
                fail("rendered type does not parse", &e);
            }
            sl_ctype_free(back);
            sl_free(t);
        }
    }
    sl_cls_result_cleanup(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* the suffix window of a bigger object whose head was not read */
    check_one(data, size, (int64_t)size + 4096, NULL);
    /* the whole object */
    check_one(data, size, (int64_t)size, size >= 4 ? data : (const uint8_t *)"PAR1");

    /* the input as the footer's Thrift bytes */
    uint8_t *o = malloc(size + 12);
    if (!o)
        return 0;
    memcpy(o, "PAR1", 4);
    if (size)
        memcpy(o + 4, data, size);
    for (int i = 0; i < 4; i++)
        o[4 + size + (size_t)i] = (uint8_t)((uint32_t)size >> (8 * i));
    memcpy(o + size + 8, "PAR1", 4);
    check_one(o, size + 12, (int64_t)size + 12, o);
    /* the same with a tail one byte short of the footer: SL_ELIMIT asks for it */
    if (size > 0)
        check_one(o + 5, size + 7, (int64_t)size + 12, NULL);
    free(o);
    return 0;
}
