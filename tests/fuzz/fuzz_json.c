/*
 * tests/fuzz/fuzz_json.c - libFuzzer target for the JSON classifier
 * (crawler/json.c). Each input is classified as a whole object and as a cut
 * head window, with the default options, then once more with tight limits
 * (depth 3, map threshold 2, a JSONPath) to reach those paths. Bad input must
 * never be an error, and every result must be self-consistent. Built by
 * tests/fuzz/run.sh; tests/fuzz/replay.c replays the corpus without libFuzzer.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crawler/classify.h"
#include "crawler/ctype.h"
#include "crawler/json.h"
#include "runtime/alloc.h"

static void fail(const char *what, const struct sl_err *e)
{
    fprintf(stderr, "fuzz_json: %s: %s\n", what, e ? e->msg : "");
    abort();
}

static void check_one(const uint8_t *data, size_t size, bool at_eof, const struct sl_crawl_opts *o)
{
    struct sl_cls_result r;
    struct sl_err e = { 0 };

    sl_cls_result_init(&r);
    if (sl_json_classify((const char *)data, size, at_eof, o, &r, &e) != SL_OK)
        fail("sl_json_classify failed on data", &e);
    if (!(r.certainty >= 0.0 && r.certainty <= 1.0))
        fail("certainty out of range", NULL);
    if (r.classification[0] == '\0') {
        if (r.certainty != 0.0 || r.schema.n_cols != 0 || !r.reason[0])
            fail("unknown result with certainty, columns or no reason", NULL);
    } else {
        if (strcmp(r.classification, "json") != 0 || r.certainty <= 0.0)
            fail("bad classification", NULL);
        json_t *layout = json_object_get(r.format_params, "sluice.json.layout");
        if (!json_is_string(layout))
            fail("no layout", NULL);
        if (r.n_records < 0 || r.avg_record_bytes < 0 || r.decoded_bytes > (int64_t)size ||
            r.records_exact == r.truncated)
            fail("inconsistent counts", NULL);
        for (size_t i = 0; i < r.schema.n_cols; i++) {
            const struct sl_ccolumn *c = &r.schema.cols[i];
            if (!c->name || !c->name[0] || !c->type)
                fail("column without name or type", NULL);
            char *t = sl_ctype_to_string(c->type);
            if (!t)
                fail("render failed", NULL);
            /* what we render, the catalog must be able to read back */
            struct sl_ctype *back = sl_ctype_parse(t, &e);
            if (!back)
                fail("rendered type does not parse", &e);
            sl_ctype_free(back);
            sl_free(t);
        }
        char *paths = sl_json_paths_param(&r.schema);
        if (!paths)
            fail("paths param", NULL);
        sl_free(paths);
    }
    sl_cls_result_cleanup(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sl_crawl_opts o;

    sl_crawl_opts_default(&o);
    check_one(data, size, true, &o);
    check_one(data, size, false, &o);

    o.json_max_depth = 3;
    o.json_map_key_threshold = 2;
    o.sample_rows = 50;
    o.json_path = size && data[0] == '[' ? "$[*]" : "$.*[*]";
    check_one(data, size, size % 2 == 0, &o);
    return 0;
}
