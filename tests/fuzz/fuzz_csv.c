/*
 * tests/fuzz/fuzz_csv.c - libFuzzer target for the delimited-text classifier
 * (crawler/csv.c). Each input is classified as a whole object and as a cut
 * head window with the default options, then split into a cut head and a tail
 * window with tight limits (few dialect and sample rows, a decimal comma,
 * thousands separators, a date order, decimals). Bad input must never be an
 * error, and every result must be self-consistent: types render and parse
 * back, the header evidence re-applies both ways and reconciles with itself.
 * Built by tests/fuzz/run.sh; tests/fuzz/replay.c replays the corpus without
 * libFuzzer.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crawler/classify.h"
#include "crawler/csv.h"
#include "crawler/ctype.h"
#include "runtime/alloc.h"

static void fail(const char *what, const struct sl_err *e)
{
    fprintf(stderr, "fuzz_csv: %s: %s\n", what, e ? e->msg : "");
    abort();
}

static int cmp_names(const void *a, const void *b)
{
    return strcasecmp(*(const char *const *)a, *(const char *const *)b);
}

static void check_schema(const struct sl_cschema *s)
{
    struct sl_err e = {0};
    const char **names = calloc(s->n_cols + 1, sizeof *names);
    if (!names)
        fail("out of memory", NULL);
    for (size_t i = 0; i < s->n_cols; i++)
        names[i] = s->cols[i].name ? s->cols[i].name : "";
    qsort(names, s->n_cols, sizeof *names, cmp_names);
    for (size_t i = 1; i < s->n_cols; i++)
        if (strcasecmp(names[i - 1], names[i]) == 0)
            fail("duplicate column name", NULL);
    free(names);
    for (size_t i = 0; i < s->n_cols; i++) {
        const struct sl_ccolumn *c = &s->cols[i];
        if (!c->name || !c->name[0] || !c->type)
            fail("column without name or type", NULL);
        char *t = sl_ctype_to_string(c->type);
        if (!t)
            fail("render failed", NULL);
        struct sl_ctype *back = sl_ctype_parse(t, &e);
        if (!back)
            fail("rendered type does not parse", &e);
        sl_ctype_free(back);
        sl_free(t);
    }
}

static void check_evidence(const struct sl_cls_result *r)
{
    struct sl_err e = {0};
    const json_t *ev = r->header_evidence;
    if (!json_is_object(ev))
        fail("csv result without header evidence", NULL);
    for (int present = 0; present < 2; present++) {
        struct sl_cschema s = {0};
        json_t *fp = json_deep_copy(r->format_params);
        if (sl_csv_header_apply(ev, present, &s, fp, &e) != SL_OK)
            fail("header evidence does not apply", &e);
        if (s.n_cols != r->schema.n_cols)
            fail("alternative has another column count", NULL);
        check_schema(&s);
        sl_cschema_cleanup(&s);
        json_decref(fp);
    }
    const json_t *evs[] = {ev, ev, ev};
    struct sl_csv_header_vote v[3];
    bool table;
    if (sl_csv_reconcile_headers(evs, 3, &table, v, &e) != SL_OK)
        fail("reconcile failed", &e);
    bool own = strcmp(json_string_value(json_object_get(ev, "decision")), "PRESENT") == 0;
    if (table != own || v[1].changed || v[2].ambiguous)
        fail("identical files disagree", NULL);
}

static void check_one(const uint8_t *data, size_t size, bool at_eof, const char *tail,
                      size_t tail_len, const struct sl_crawl_opts *o)
{
    struct sl_cls_result r;
    struct sl_err e = {0};

    sl_cls_result_init(&r);
    if (sl_csv_classify((const char *)data, size, at_eof, tail, tail_len, "fuzz.csv", o, &r, &e) !=
        SL_OK)
        fail("sl_csv_classify failed on data", &e);
    if (!(r.certainty >= 0.0 && r.certainty <= 1.0))
        fail("certainty out of range", NULL);
    if (r.classification[0] == '\0') {
        if (r.certainty != 0.0 || r.schema.n_cols != 0 || !r.reason[0] || r.header_evidence)
            fail("unknown result with certainty, columns, evidence or no reason", NULL);
    } else {
        if (strcmp(r.classification, "csv") != 0 || r.certainty <= 0.0 || r.schema.n_cols == 0)
            fail("bad classification", NULL);
        static const char *const keys[] = {
            "delimiter",
            "quoteChar",
            "escapeChar",
            "skip.header.line.count",
            "areColumnsQuoted",
            "sluice.csv.newline",
            "sluice.csv.comment",
            "sluice.csv.trailing_delimiter",
            "sluice.encoding",
            "sluice.csv.trim",
            "sluice.null_tokens",
            "sluice.csv.header",
            "sluice.header_decision",
        };
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
            if (!json_is_string(json_object_get(r.format_params, keys[i])))
                fail("missing format parameter", NULL);
        if (r.n_records < 0 || r.avg_record_bytes < 0 ||
            r.decoded_bytes != (int64_t)(size + (tail ? tail_len : 0)) ||
            r.records_exact == r.truncated || (r.records_exact && !at_eof))
            fail("inconsistent counts", NULL);
        check_schema(&r.schema);
        check_evidence(&r);
        char *key = sl_csv_compat_key(r.format_params);
        if (!key || strncmp(key, "csv|", 4) != 0)
            fail("compat key", NULL);
        sl_free(key);
    }
    sl_cls_result_cleanup(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sl_crawl_opts o;

    sl_crawl_opts_default(&o);
    check_one(data, size, true, NULL, 0, &o);
    check_one(data, size, false, NULL, 0, &o);

    /* a cut head and a tail window, with tight limits and other options */
    size_t half = size / 2;
    o.dialect_rows = 8;
    o.sample_rows = 16;
    o.csv_infer_decimal = size % 3 == 0;
    o.csv_decimal_separator = size % 5 == 0 ? ',' : '.';
    o.csv_thousands_separator = size % 7 == 0 ? (o.csv_decimal_separator == ',' ? '.' : ',') : 0;
    o.csv_date_order = (int)(size % 3);
    o.csv_allow_single_column = size % 2 == 0;
    o.csv_header = size % 11 == 0 ? 1 : size % 13 == 0 ? -1 : 0;
    check_one(data, half, false, (const char *)data + half, size - half, &o);
    return 0;
}
