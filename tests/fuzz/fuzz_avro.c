/*
 * tests/fuzz/fuzz_avro.c - libFuzzer target for the Avro header classifier
 * (crawler/avro.c, schema resolution by libavro). Each input is tried as a
 * head window (at EOF and cut), and as the avro.schema JSON of a synthesized
 * container header followed by the input again as "blocks", so that
 * mutations reach the schema mapping without having to keep the framing
 * valid. Never a crash; a verdict must be self-consistent. Built by
 * tests/fuzz/run.sh; tests/fuzz/replay.c replays corpus/avro/.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crawler/avro.h"
#include "crawler/classify.h"
#include "crawler/ctype.h"
#include "runtime/alloc.h"
#include "runtime/buf.h"

static void fail(const char *what, const struct sl_err *e)
{
    fprintf(stderr, "fuzz_avro: %s: %s\n", what, e ? e->msg : "");
    abort();
}

static void check_one(const uint8_t *data, size_t size, bool at_eof)
{
    struct sl_cls_result r;
    struct sl_err e = {0};
    size_t need = 12345;

    sl_cls_result_init(&r);
    int rc = sl_avro_classify(data, size, at_eof, &need, &r, &e);
    if (rc == SL_ELIMIT) {
        if (at_eof || (need != 0 && need <= size) || need > SL_AVRO_HEAD_MAX)
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
    } else if (r.classification[0] == '\0') {
        if (r.certainty != 0.0 || r.schema.n_cols || !r.reason[0])
            fail("unknown verdict with certainty, columns or no reason", NULL);
    } else {
        if (strcmp(r.classification, "avro") != 0 || r.certainty != 1.0 || r.n_records < 0 ||
            r.avg_record_bytes < 0 || r.decoded_bytes > (int64_t)size ||
            r.records_exact == r.truncated || (r.records_exact && !at_eof))
            fail("inconsistent avro verdict", NULL);
        if (!json_is_string(json_object_get(r.format_params, "sluice.codec")))
            fail("format params", NULL);
        for (size_t i = 0; i < r.schema.n_cols; i++) {
            const struct sl_ccolumn *c = &r.schema.cols[i];
            if (!c->name || !c->name[0] || !c->type)
                fail("column without name or type", NULL);
            char *t = sl_ctype_to_string(c->type);
            if (!t)
                fail("render failed", NULL);
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

static void put_long(struct sl_buf *b, int64_t v)
{
    struct sl_err e;
    uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    while (u >= 0x80) {
        sl_buf_putc(b, (char)((u & 0x7f) | 0x80), &e);
        u >>= 7;
    }
    sl_buf_putc(b, (char)u, &e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sl_buf b;
    struct sl_err e;

    check_one(data, size, true);
    check_one(data, size, false);

    /* the input as the schema JSON (up to the first NUL byte), anything after
     * the NUL as the data blocks */
    const uint8_t *nul = memchr(data, 0, size);
    size_t slen = nul ? (size_t)(nul - data) : size;
    sl_buf_init(&b, 0);
    sl_buf_append(&b, "Obj\x01", 4, &e);
    put_long(&b, 2);
    put_long(&b, 11);
    sl_buf_append(&b, "avro.schema", 11, &e);
    put_long(&b, (int64_t)slen);
    sl_buf_append(&b, data, slen, &e);
    put_long(&b, 10);
    sl_buf_append(&b, "avro.codec", 10, &e);
    put_long(&b, 7);
    sl_buf_append(&b, "deflate", 7, &e);
    put_long(&b, 0);
    sl_buf_append(&b, "0123456789abcdef", 16, &e);
    if (nul)
        sl_buf_append(&b, nul + 1, size - slen - 1, &e);
    if (b.data) {
        check_one((const uint8_t *)b.data, b.len, true);
        check_one((const uint8_t *)b.data, b.len / 2, false);
    }
    sl_buf_cleanup(&b);
    return 0;
}
