/*
 * tests/runtime/test_fmt.c - the file formats (runtime/fmt*.c) and codecs
 * (runtime/codec.c) against the local store in a temp folder: CSV and JSON
 * round trips (plain, gzip, zstd), the §6.2 parsing rules on crawler-style
 * files, bad rows, ragged rows, byte-range splits, aborted writers and
 * ../shared/data/seattle-weather.csv.
 */
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/alloc.h"
#include "runtime/batch.h"
#include "runtime/codec.h"
#include "runtime/fmt.h"
#include "runtime/store.h"
#include "tests/test.h"

static struct sl_store *st;
static char *root;    /* key of the temp folder */
static char tmpdir[64];

static char *k(const char *rel)
{
    static char buf[8][512];
    static int i;
    i = (i + 1) % 8;
    snprintf(buf[i], sizeof buf[i], "%s/%s", root, rel);
    return buf[i];
}

static struct sl_rschema *schema(const char *spec) /* "name:type,name:type" */
{
    char tmp[512];
    size_t n = 1;
    snprintf(tmp, sizeof tmp, "%s", spec);
    for (char *p = tmp; *p; p++)
        n += *p == ',';
    struct sl_rschema *s = sl_rschema_new(n);
    struct sl_err err;
    char *save = NULL, *tok = strtok_r(tmp, ",", &save);
    for (size_t i = 0; tok; i++, tok = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(tok, ':');
        *colon = '\0';
        const char *t = colon + 1;
        enum sl_vtype vt = !strcmp(t, "string") ? SL_V_STRING : !strcmp(t, "bigint") ? SL_V_INT
                         : !strcmp(t, "double") ? SL_V_DOUBLE : !strcmp(t, "date") ? SL_V_DATE
                         : !strcmp(t, "timestamp") ? SL_V_TIMESTAMP
                         : !strcmp(t, "boolean") ? SL_V_BOOL : SL_V_JSON;
        sl_rschema_set(s, i, tok, vt, &err);
    }
    return s;
}

struct bad {
    int n;
    int64_t line[16];
    int col[16];
    char reason[16][128];
    char raw[16][128];
};

static int on_bad(void *ud, const char *object, int64_t line, int column, const char *reason,
                  const char *raw, size_t raw_len)
{
    struct bad *b = ud;
    (void)object;
    if (b->n < 16) {
        b->line[b->n] = line;
        b->col[b->n] = column;
        snprintf(b->reason[b->n], sizeof b->reason[0], "%s", reason);
        snprintf(b->raw[b->n], sizeof b->raw[0], "%.*s", (int)raw_len, raw);
    }
    b->n++;
    return 0;
}

/* Reads the whole object into b (which must be large enough); returns rows or <0. */
static int read_all(const struct sl_fmt_ops *ops, const char *key, const struct sl_fmt_opts *o,
                    struct sl_batch *b, struct sl_err *err)
{
    struct sl_fmt_reader *r;
    int rc = ops->reader_open(st, key, o, b->schema, &r, err), total = 0;
    if (rc != SL_OK)
        return rc;
    while ((rc = ops->next_batch(r, b, err)) > 0)
        total += rc;
    ops->reader_close(r);
    return rc < 0 ? rc : total;
}

static void put(const char *key, const char *text)
{
    struct sl_err err;
    CHECK_OK(sl_store_put(st, key, text, strlen(text), &err), &err);
}

static struct sl_value *cell(struct sl_batch *b, uint32_t row, size_t col)
{
    return &sl_batch_row(b, row)[col];
}

static int is_str(const struct sl_value *v, const char *s)
{
    return v->type == SL_V_STRING && v->len == strlen(s) && memcmp(v->s, s, v->len) == 0;
}

/* ---- round trips ---- */

static const char *awkward[] = {
    "plain", "comma, inside", "quote \" inside", "\"starts with quote", "line\nbreak",
    "crlf\r\nbreak", "tab\there", "back\\slash", "\\N", "", "ünïcødé ✓ 日本", "  padded  ",
    "lone\rcr", "ends with backslash\\", "#not a comment",
};

static void fill_awkward(struct sl_batch *b)
{
    static const int64_t ints[] = {0, INT64_MAX, INT64_MIN, -1, 42};
    const double dbls[] = {0.1, NAN, INFINITY, -INFINITY, 1e300, -0.0, 3.0, 2.5e-310};
    struct sl_err err;
    for (size_t i = 0; i < SL_ARRAY_LEN(awkward) + 1; i++) {
        struct sl_value *row = sl_batch_add_row(b, NULL);
        if (i < SL_ARRAY_LEN(awkward))
            sl_value_from_text(SL_V_STRING, awkward[i], strlen(awkward[i]), &b->arena, &row[0], &err);
        /* last row: all NULL */
        if (i == SL_ARRAY_LEN(awkward))
            continue;
        row[1].type = SL_V_INT;
        row[1].i = ints[i % 5];
        row[2].type = SL_V_DOUBLE;
        row[2].d = dbls[i % 8];
        row[3].type = SL_V_DATE;
        row[3].i = (int64_t)i * 3000 - 20000;
        row[4].type = SL_V_TIMESTAMP;
        row[4].i = (int64_t)i * 123456789012345 - 900000000000000;
        row[5].type = SL_V_BOOL;
        row[5].i = i & 1;
        if (i % 3 == 0) /* sprinkle NULLs */
            row[(i / 3) % 6].type = SL_V_NULL;
    }
}

static void check_same(struct sl_batch *a, struct sl_batch *b)
{
    CHECKF(a->n_rows == b->n_rows, "%u vs %u rows", a->n_rows, b->n_rows);
    for (uint32_t i = 0; i < a->n_rows && i < b->n_rows; i++)
        for (size_t j = 0; j < a->schema->n_cols; j++)
            CHECKF(sl_value_eq(cell(a, i, j), cell(b, i, j)), "row %u col %zu (types %d %d)", i,
                   j, cell(a, i, j)->type, cell(b, i, j)->type);
}

static void roundtrip(const struct sl_fmt_ops *ops, enum sl_compression codec, const char *name)
{
    struct sl_err err;
    struct sl_rschema *s = schema("s:string,i:bigint,d:double,dt:date,ts:timestamp,b:boolean");
    struct sl_batch *in = sl_batch_new(s, 64, 0), *out = sl_batch_new(s, 64, 0);
    struct sl_fmt_writer *w;
    struct sl_fmt_opts o;

    sl_fmt_opts_init(&o);
    fill_awkward(in);
    CHECK_OK(ops->writer_open(st, k(name), s, codec, &o, &w, &err), &err);
    CHECK_OK(ops->write_batch(w, in, &err), &err);
    CHECK_OK(ops->writer_finish(w, &err), &err);

    unsigned char head[8] = {0};
    struct { unsigned char *h; size_t n; } hd = {head, 0};
    (void)hd;
    struct sl_decoder *d = sl_decoder_open(st, k(name), 0, 8, 1, &err);
    CHECK(d != NULL);
    if (d) {
        CHECKF(sl_decoder_codec(d) == codec, "codec %s", sl_codec_label(sl_decoder_codec(d)));
        sl_decoder_free(d);
    }
    o.skip_lines = ops == &sl_fmt_csv_ops ? 1 : 0;
    int n = read_all(ops, k(name), &o, out, &err);
    CHECKF(n == (int)in->n_rows, "%d rows: %s", n, err.msg);
    check_same(in, out);
    sl_batch_free(in);
    sl_batch_free(out);
    sl_rschema_free(s);
}

static int magic_fn(void *ud, const void *p, size_t n)
{
    unsigned char *m = ud;
    memcpy(m, p, n < 4 ? n : 4);
    return 1; /* stop */
}

TEST(csv_roundtrip) { roundtrip(&sl_fmt_csv_ops, SL_COMPRESSION_NONE, "rt.csv"); }
TEST(csv_roundtrip_gzip)
{
    struct sl_err err;
    unsigned char m[4] = {0};
    roundtrip(&sl_fmt_csv_ops, SL_COMPRESSION_GZIP, "rt.csv.gz");
    sl_store_get(st, k("rt.csv.gz"), 0, 4, magic_fn, m, &err);
    CHECK(m[0] == 0x1f && m[1] == 0x8b);
}
TEST(csv_roundtrip_zstd)
{
    struct sl_err err;
    unsigned char m[4] = {0};
    roundtrip(&sl_fmt_csv_ops, SL_COMPRESSION_ZSTD, "rt.csv.zst");
    sl_store_get(st, k("rt.csv.zst"), 0, 4, magic_fn, m, &err);
    CHECK(m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd);
}
TEST(jsonl_roundtrip) { roundtrip(&sl_fmt_jsonl_ops, SL_COMPRESSION_NONE, "rt.jsonl"); }
TEST(jsonl_roundtrip_gzip) { roundtrip(&sl_fmt_jsonl_ops, SL_COMPRESSION_GZIP, "rt.jsonl.gz"); }

/* ---- CSV reading rules ---- */

TEST(csv_crawler_file)
{
    struct sl_err err;
    struct sl_rschema *s = schema("id:bigint,score:double,country:string,day:date");
    struct sl_batch *b = sl_batch_new(s, 64, 0);
    struct sl_fmt_opts o;
    static const char *const nulls[] = {"NA", "\\N", NULL};

    put(k("crawl.csv"), "\xef\xbb\xbf# exported\r\nid,score,country,day\r\n"
                        "1,NA,NA,2024-01-02\r\n\r\n2,3.5,\"DE, \"\"x\"\"\",\r\n"
                        "# mid comment\r\n3,\\N,,\"2024-02-29\"\r\n4,\"\",\"\",NA\r\n"
                        "5,1,\"multi\r\nline\",2024-03-01");
    sl_fmt_opts_init(&o);
    o.skip_lines = 2;
    o.comment = '#';
    o.null_tokens = nulls;
    int n = read_all(&sl_fmt_csv_ops, k("crawl.csv"), &o, b, &err);
    CHECKF(n == 5, "%d: %s", n, err.msg);
    if (n == 5) {
        CHECK(cell(b, 0, 0)->i == 1 && cell(b, 0, 1)->type == SL_V_NULL);
        CHECK(is_str(cell(b, 0, 2), "NA")); /* Namibia survives */
        CHECK(cell(b, 0, 3)->type == SL_V_DATE && cell(b, 0, 3)->i == sl_date_to_days(2024, 1, 2));
        CHECK(is_str(cell(b, 1, 2), "DE, \"x\""));
        CHECK(cell(b, 1, 3)->type == SL_V_NULL);
        CHECK(cell(b, 2, 1)->type == SL_V_NULL && cell(b, 2, 2)->type == SL_V_NULL);
        CHECK(cell(b, 3, 1)->type == SL_V_NULL && is_str(cell(b, 3, 2), ""));
        CHECK(cell(b, 3, 3)->type == SL_V_NULL);
        CHECK(is_str(cell(b, 4, 2), "multi\r\nline"));
        CHECK(b->origins[0].line == 3 && b->origins[1].line == 5 && b->origins[2].line == 7);
        CHECK(b->origins[4].line == 9);
    }
    sl_batch_free(b);
    sl_rschema_free(s);
}

TEST(csv_bad_rows)
{
    struct sl_err err;
    struct sl_rschema *s = schema("id:bigint,name:string,when:date");
    struct sl_batch *b = sl_batch_new(s, 64, 0);
    struct sl_fmt_opts o;
    struct bad bad = {0};

    put(k("bad.csv"), "id,name,when\n1,a,2024-01-01\n2x,b,2024-01-01\n3,c,2024-13-01\n"
                      "4,d,2024-01-04,extra\n5,\"e\"x,2024-01-05\n6,f\n7,\"g\n");
    sl_fmt_opts_init(&o);
    o.skip_lines = 1;
    o.bad_row = on_bad;
    o.bad_row_ud = &bad;
    int n = read_all(&sl_fmt_csv_ops, k("bad.csv"), &o, b, &err);
    CHECKF(n == 2, "%d rows: %s", n, err.msg);
    CHECK(cell(b, 0, 0)->i == 1 && cell(b, 1, 0)->i == 6);
    CHECK(cell(b, 1, 2)->type == SL_V_NULL); /* ragged: padded */
    CHECKF(bad.n == 5, "%d bad", bad.n);
    if (bad.n == 5) {
        CHECK(bad.line[0] == 3 && bad.col[0] == 1 && strstr(bad.reason[0], "2x"));
        CHECK_STR(bad.raw[0], "2x,b,2024-01-01");
        CHECK(bad.line[1] == 4 && bad.col[1] == 3);
        CHECK(bad.line[2] == 5 && bad.col[2] == 4 && strstr(bad.reason[2], "too many fields"));
        CHECK(bad.line[3] == 6 && bad.col[3] == 2 && strstr(bad.reason[3], "closing quote"));
        CHECK(bad.line[4] == 8 && strstr(bad.reason[4], "unterminated"));
    }
    /* without a callback the first bad row fails the read with its position */
    sl_batch_reset(b);
    o.bad_row = NULL;
    n = read_all(&sl_fmt_csv_ops, k("bad.csv"), &o, b, &err);
    CHECK(n == SL_EPARSE && strstr(err.msg, "bad.csv:3:1"));
    sl_batch_free(b);
    sl_rschema_free(s);
}

TEST(csv_dialects)
{
    struct sl_err err;
    struct sl_rschema *s = schema("a:string,b:bigint,c:string");
    struct sl_batch *b = sl_batch_new(s, 64, 0);
    struct sl_fmt_opts o;

    /* tab, single quote, backslash escape, CR line ends, ragged, trailing blank lines */
    put(k("d.tsv"), "'x\\'y'\t1\t'back\\\\slash'\r'a\"b'\t2\rq\r\r");
    sl_fmt_opts_init(&o);
    o.delimiter = '\t';
    o.quote = '\'';
    o.escape = SL_FMT_ESC_BACKSLASH;
    int n = read_all(&sl_fmt_csv_ops, k("d.tsv"), &o, b, &err);
    CHECKF(n == 3, "%d: %s", n, err.msg);
    if (n == 3) {
        CHECK(is_str(cell(b, 0, 0), "x'y") && cell(b, 0, 1)->i == 1);
        CHECK(is_str(cell(b, 0, 2), "back\\slash"));
        CHECK(is_str(cell(b, 1, 0), "a\"b") && cell(b, 1, 2)->type == SL_V_NULL);
        CHECK(is_str(cell(b, 2, 0), "q") && cell(b, 2, 1)->type == SL_V_NULL);
        CHECK(b->origins[2].line == 3);
    }
    /* match by name: file columns in another order, one unknown, one missing */
    sl_batch_reset(b);
    put(k("byname.csv"), "C,Extra,A \n1,x,2\n");
    sl_fmt_opts_init(&o);
    o.skip_lines = 1;
    o.match_by_name = true;
    n = read_all(&sl_fmt_csv_ops, k("byname.csv"), &o, b, &err);
    CHECKF(n == 1, "%d: %s", n, err.msg);
    if (n == 1)
        CHECK(is_str(cell(b, 0, 0), "2") && cell(b, 0, 1)->type == SL_V_NULL &&
              is_str(cell(b, 0, 2), "1"));
    /* a quote in the middle of an unquoted field is literal; escapes mean nothing outside quotes */
    sl_batch_reset(b);
    put(k("lit.csv"), "ab\"c,5,x\\\"y\n");
    sl_fmt_opts_init(&o);
    n = read_all(&sl_fmt_csv_ops, k("lit.csv"), &o, b, &err);
    CHECK(n == 1 && is_str(cell(b, 0, 0), "ab\"c") && is_str(cell(b, 0, 2), "x\\\"y"));
    sl_batch_free(b);
    sl_rschema_free(s);
}

/* ---- JSON ---- */

TEST(jsonl_read)
{
    struct sl_err err;
    struct sl_rschema *s = schema("id:bigint,name:string,tags:json,when:date,x:double");
    struct sl_batch *b = sl_batch_new(s, 64, 0);
    struct sl_fmt_opts o;
    struct bad bad = {0};

    put(k("a.jsonl"), "{\"id\":1,\"name\":\"a\",\"tags\":[\"x\",{\"k\":1.5}],\"when\":\"2024-01-01\"}\n"
                      "\n{\"id\":2.0,\"name\":7,\"extra\":{\"k\":1},\"x\":\"NaN\"}\r\n"
                      "{\"id\":2.5}\n{not json\n[1,2]\n{\"id\":\"3\"}\n{\"when\":5}\n"
                      "{\"id\":4,\"name\":{\"n\":[1,2]}}");
    sl_fmt_opts_init(&o);
    o.bad_row = on_bad;
    o.bad_row_ud = &bad;
    int n = read_all(&sl_fmt_jsonl_ops, k("a.jsonl"), &o, b, &err);
    CHECKF(n == 3, "%d: %s", n, err.msg);
    if (n == 3) {
        CHECK(cell(b, 0, 0)->i == 1 && is_str(cell(b, 0, 1), "a"));
        CHECK(cell(b, 0, 2)->type == SL_V_JSON && cell(b, 0, 2)->len == 15 &&
              memcmp(cell(b, 0, 2)->s, "[\"x\",{\"k\":1.5}]", 15) == 0);
        CHECK(cell(b, 0, 3)->i == sl_date_to_days(2024, 1, 1) && cell(b, 0, 4)->type == SL_V_NULL);
        CHECK(cell(b, 1, 0)->i == 2 && is_str(cell(b, 1, 1), "7") && isnan(cell(b, 1, 4)->d));
        CHECK(is_str(cell(b, 2, 1), "{\"n\":[1,2]}"));
        CHECK(b->origins[1].line == 3 && b->origins[2].line == 9);
    }
    CHECKF(bad.n == 5, "%d bad", bad.n);
    if (bad.n == 5) {
        CHECK(bad.line[0] == 4 && strstr(bad.reason[0], "bigint"));
        CHECK(bad.line[1] == 5 && strstr(bad.reason[1], "malformed"));
        CHECK(bad.line[2] == 6 && strstr(bad.reason[2], "not a JSON object"));
        CHECK(bad.line[3] == 7 && strstr(bad.reason[3], "got a JSON string"));
        CHECK(bad.line[4] == 8);
    }
    /* array layout, streamed element by element */
    sl_batch_reset(b);
    put(k("arr.json"), "  [ {\"id\":1,\"tags\":{\"a\":[1,\"]\"]}},\n {\"id\":2, \"name\":\"x,]\"} ,{\"id\":3}]\n");
    sl_fmt_opts_init(&o);
    n = read_all(&sl_fmt_jsonl_ops, k("arr.json"), &o, b, &err);
    CHECKF(n == 3, "%d: %s", n, err.msg);
    if (n == 3)
        CHECK(cell(b, 0, 0)->i == 1 && is_str(cell(b, 1, 1), "x,]") && cell(b, 2, 0)->i == 3 &&
              cell(b, 0, 2)->len == 13);
    sl_batch_free(b);
    sl_rschema_free(s);
}

TEST(jsonl_nested_roundtrip)
{
    struct sl_err err;
    struct sl_rschema *s = schema("id:bigint,j:json,d:double");
    struct sl_batch *in = sl_batch_new(s, 8, 0), *out = sl_batch_new(s, 8, 0);
    struct sl_fmt_writer *w;
    struct sl_fmt_opts o;
    const char *js[] = {"{\"a\":[1,2,{\"b\":null}],\"c\":\"x\\\"y\"}", "[]", "\"s\""};

    for (int i = 0; i < 3; i++) {
        struct sl_value *row = sl_batch_add_row(in, NULL);
        row[0].type = SL_V_INT;
        row[0].i = i;
        sl_value_from_text(SL_V_JSON, js[i], strlen(js[i]), &in->arena, &row[1], &err);
        row[2].type = SL_V_DOUBLE;
        row[2].d = i == 0 ? -INFINITY : 0.5;
    }
    sl_fmt_opts_init(&o);
    CHECK_OK(sl_fmt_jsonl_ops.writer_open(st, k("n.jsonl.zst"), s, SL_COMPRESSION_ZSTD, &o, &w, &err), &err);
    CHECK_OK(sl_fmt_write_batch(w, in, &err), &err);
    CHECK_OK(sl_fmt_writer_finish(w, &err), &err);
    int n = read_all(&sl_fmt_jsonl_ops, k("n.jsonl.zst"), &o, out, &err);
    CHECKF(n == 3, "%d: %s", n, err.msg);
    check_same(in, out);
    sl_batch_free(in);
    sl_batch_free(out);
    sl_rschema_free(s);
}

/* ---- splits, abort, batches ---- */

TEST(csv_splits)
{
    struct sl_err err;
    struct sl_buf text;
    struct sl_rschema *s = schema("id:bigint,payload:string");
    struct sl_batch *b = sl_batch_new(s, 1000, 0);
    int n_rows = 0;

    sl_buf_init(&text, 0);
    sl_buf_puts(&text, "id,payload\n", &err);
    while (text.len < (1 << 20)) {
        sl_buf_printf(&text, &err, "%d,%.*s\n", n_rows, n_rows % 37, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
        n_rows++;
    }
    CHECK_OK(sl_store_put(st, k("big.csv"), text.data, text.len, &err), &err);
    unsigned char *seen = calloc((size_t)n_rows, 1);
    int total = 0, dup = 0;
    int64_t size = (int64_t)text.len;
    for (int sp = 0; sp < 7; sp++) {
        struct sl_fmt_opts o;
        struct sl_fmt_reader *r;
        sl_fmt_opts_init(&o);
        o.skip_lines = 1;
        o.no_quoted_newlines = true;
        o.range_start = size * sp / 7;
        o.range_end = sp == 6 ? -1 : size * (sp + 1) / 7;
        if (sp == 3)
            o.range_start = o.range_start - o.range_start % 1 ; /* any offset works */
        CHECK_OK(sl_fmt_csv_ops.reader_open(st, k("big.csv"), &o, s, &r, &err), &err);
        int got;
        while ((got = sl_fmt_next_batch(r, b, &err)) > 0) {
            for (uint32_t i = 0; i < b->n_rows; i++) {
                int64_t id = cell(b, i, 0)->i;
                if (id >= 0 && id < n_rows) {
                    dup += seen[id];
                    seen[id] = 1;
                }
                CHECK(cell(b, i, 1)->len == (uint32_t)(id % 37));
            }
            total += (int)b->n_rows;
            sl_batch_reset(b);
        }
        CHECKF(got == 0, "%s", err.msg);
        sl_fmt_reader_close(r);
    }
    CHECKF(total == n_rows && dup == 0, "%d of %d rows, %d twice", total, n_rows, dup);
    /* ranges need the caller's promise and an uncompressed object */
    struct sl_fmt_opts o;
    struct sl_fmt_reader *r;
    sl_fmt_opts_init(&o);
    o.range_start = 10;
    CHECK(sl_fmt_csv_ops.reader_open(st, k("big.csv"), &o, s, &r, &err) == SL_ECONFIG);
    o.no_quoted_newlines = true;
    CHECK(sl_fmt_csv_ops.reader_open(st, k("rt.csv.gz"), &o, s, &r, &err) == SL_ECONFIG);
    free(seen);
    sl_buf_cleanup(&text);
    sl_batch_free(b);
    sl_rschema_free(s);
}

TEST(batch_boundaries)
{
    /* a small batch: next_batch stops when full and resumes at the next record */
    struct sl_err err;
    struct sl_rschema *s = schema("id:bigint,payload:string");
    struct sl_batch *b = sl_batch_new(s, 7, 0);
    struct sl_fmt_opts o;
    struct sl_fmt_reader *r;
    int calls = 0, total = 0, got;

    sl_fmt_opts_init(&o);
    o.skip_lines = 1;
    CHECK_OK(sl_fmt_csv_ops.reader_open(st, k("big.csv"), &o, s, &r, &err), &err);
    int64_t expect = 0;
    while ((got = sl_fmt_next_batch(r, b, &err)) > 0) {
        CHECK(got <= 7);
        for (uint32_t i = 0; i < b->n_rows; i++)
            if (cell(b, i, 0)->i != expect++)
                CHECK(0);
        total += got;
        calls++;
        sl_batch_reset(b);
    }
    CHECK(got == 0 && total > 20000 && calls == (total + 6) / 7);
    sl_fmt_reader_close(r);
    sl_batch_free(b);
    sl_rschema_free(s);
}

TEST(writer_abort)
{
    struct sl_err err;
    struct sl_rschema *s = schema("a:string");
    struct sl_batch *b = sl_batch_new(s, 8, 0);
    struct sl_fmt_writer *w;
    struct sl_obj_info info;

    for (size_t i = 0; i < SL_ARRAY_LEN(awkward) && i < 8; i++)
        sl_value_from_text(SL_V_STRING, awkward[i], strlen(awkward[i]), &b->arena,
                           sl_batch_add_row(b, NULL), &err);
    CHECK_OK(sl_fmt_csv_ops.writer_open(st, k("ab/x.csv.gz"), s, SL_COMPRESSION_GZIP, NULL, &w, &err), &err);
    CHECK_OK(sl_fmt_write_batch(w, b, &err), &err);
    sl_fmt_writer_abort(w);
    CHECK(sl_store_head(st, k("ab/x.csv.gz"), &info, &err) == SL_ENOTFOUND);
    char dir[600];
    snprintf(dir, sizeof dir, "%s/ab", tmpdir);
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL)
        n += de->d_name[0] != '.' || strncmp(de->d_name, ".sluice-tmp-", 12) == 0;
    if (d)
        closedir(d);
    CHECKF(n == 0, "%d files left", n);
    sl_batch_free(b);
    sl_rschema_free(s);
}

TEST(codec_bzip2_xz)
{
    /* objects made by the system tools decode through the same path */
    struct sl_err err;
    char cmd[1200];
    const char *tools[] = {"bzip2", "xz"};
    for (int t = 0; t < 2; t++) {
        snprintf(cmd, sizeof cmd, "printf 'a,b\\n1,2\\n3,4\\n' | %s -c > %s/t.%d 2>/dev/null",
                 tools[t], tmpdir, t);
        if (system(cmd) != 0)
            SKIP("%s not installed", tools[t]);
        struct sl_rschema *s = schema("a:bigint,b:bigint");
        struct sl_batch *b = sl_batch_new(s, 8, 0);
        struct sl_fmt_opts o;
        sl_fmt_opts_init(&o);
        o.skip_lines = 1;
        char rel[16];
        snprintf(rel, sizeof rel, "t.%d", t);
        int n = read_all(&sl_fmt_csv_ops, k(rel), &o, b, &err);
        CHECKF(n == 2 && cell(b, 1, 1)->i == 4, "%s: %d %s", tools[t], n, err.msg);
        sl_batch_free(b);
        sl_rschema_free(s);
    }
}

TEST(seattle_weather)
{
    struct sl_err err;
    const char *dir = getenv("SLUICE_SHARED_DATA");
    char path[1024];
    snprintf(path, sizeof path, "%s/seattle-weather.csv", dir ? dir : "../shared/data");
    if (access(path, R_OK) != 0)
        SKIP("no %s", path);
    char *key;
    struct sl_store *ws = sl_store_open(path, &key, &err);
    CHECK(ws != NULL);
    if (!ws)
        return;
    struct sl_rschema *s = schema("date:date,precipitation:double,temp_max:double,temp_min:double,"
                                  "wind:double,weather:string");
    struct sl_batch *b = sl_batch_new(s, 2000, 0);
    struct sl_fmt_opts o;
    struct sl_fmt_reader *r;
    sl_fmt_opts_init(&o);
    o.skip_lines = 1;
    CHECK_OK(sl_fmt_csv_ops.reader_open(ws, key, &o, s, &r, &err), &err);
    int n = sl_fmt_next_batch(r, b, &err);
    CHECKF(n == 1461, "%d rows: %s", n, err.msg);
    CHECK(sl_fmt_next_batch(r, b, &err) == 0);
    if (n > 0) {
        CHECK(cell(b, 0, 0)->i == sl_date_to_days(2012, 1, 1));
        CHECK(cell(b, 0, 1)->d == 0.0 && cell(b, 0, 2)->d == 12.8 && cell(b, 0, 3)->d == 5.0);
        CHECK(cell(b, 0, 4)->d == 4.7 && is_str(cell(b, 0, 5), "drizzle"));
        CHECK(b->origins[0].line == 2);
    }
    sl_fmt_reader_close(r);
    sl_batch_free(b);
    sl_rschema_free(s);
    sl_free(key);
    sl_store_free(ws);
}

int main(void)
{
    struct sl_err err;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sluice-fmt-XXXXXX");
    if (!mkdtemp(tmpdir))
        return 1;
    st = sl_store_open(tmpdir, &root, &err);
    if (!st) {
        printf("not ok - open store: %s\n", err.msg);
        return 1;
    }
    RUN(csv_roundtrip);
    RUN(csv_roundtrip_gzip);
    RUN(csv_roundtrip_zstd);
    RUN(jsonl_roundtrip);
    RUN(jsonl_roundtrip_gzip);
    RUN(csv_crawler_file);
    RUN(csv_bad_rows);
    RUN(csv_dialects);
    RUN(jsonl_read);
    RUN(jsonl_nested_roundtrip);
    RUN(csv_splits);
    RUN(batch_boundaries);
    RUN(writer_abort);
    RUN(codec_bzip2_xz);
    RUN(seattle_weather);
    sl_store_free(st);
    sl_free(root);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        return 1;
    return t_n_fail ? 1 : 0;
}
