/*
 * tests/crawler/test_json.c - the JSON classifier (crawler/json.c): layouts,
 * value types and merging of spec/crawler.md §8, cases T22-T26 and T44 of
 * §14, malformed records, maps, the depth limit, JSONPath selection, and the
 * real files of ../shared/data (cars.json, flights-20k.json, earthquakes.json).
 */
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crawler/classify.h"
#include "crawler/ctype.h"
#include "crawler/json.h"
#include "runtime/alloc.h"
#include "runtime/buf.h"
#include "runtime/err.h"
#include "tests/test.h"

/* ---- Helpers ---- */

static struct sl_crawl_opts defaults(void)
{
    struct sl_crawl_opts o;
    sl_crawl_opts_default(&o);
    return o;
}

/* Classifies s (NUL-terminated) into r, which the caller cleans up. */
static int classify_n(const char *s, size_t n, bool at_eof, const struct sl_crawl_opts *o,
                      struct sl_cls_result *r)
{
    struct sl_err e = { 0 };
    sl_cls_result_init(r);
    int rc = sl_json_classify(s, n, at_eof, o, r, &e);
    if (rc != SL_OK)
        printf("#   sl_json_classify: %d: %s\n", rc, e.msg);
    return rc;
}

static int classify(const char *s, bool at_eof, const struct sl_crawl_opts *o,
                    struct sl_cls_result *r)
{
    return classify_n(s, strlen(s), at_eof, o, r);
}

static const struct sl_ccolumn *col(const struct sl_cls_result *r, const char *name)
{
    for (size_t i = 0; i < r->schema.n_cols; i++)
        if (strcmp(r->schema.cols[i].name, name) == 0)
            return &r->schema.cols[i];
    return NULL;
}

/* The Hive type of column name, "(none)" when absent; valid until the next call. */
static const char *type_of(const struct sl_cls_result *r, const char *name)
{
    static char buf[8192];
    const struct sl_ccolumn *c = col(r, name);
    if (!c)
        return "(none)";
    char *s = sl_ctype_to_string(c->type);
    snprintf(buf, sizeof buf, "%s", s ? s : "(oom)");
    sl_free(s);
    return buf;
}

static const char *param(const struct sl_cls_result *r, const char *key)
{
    json_t *v = r->format_params ? json_object_get(r->format_params, key) : NULL;
    return v ? json_string_value(v) : NULL;
}

static const struct sl_cwarning *warning(const struct sl_cls_result *r, const char *code)
{
    for (size_t i = 0; i < r->n_warnings; i++)
        if (strcmp(r->warnings[i].code, code) == 0)
            return &r->warnings[i];
    return NULL;
}

/* Column names joined with ",", for order checks; valid until the next call. */
static const char *names(const struct sl_cls_result *r)
{
    static char buf[4096];
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < r->schema.n_cols && n < sizeof buf; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s", i ? "," : "",
                              r->schema.cols[i].name);
    return buf;
}

static bool near(double a, double b)
{
    return a - b < 1e-9 && b - a < 1e-9;
}

/* ---- §14 cases ---- */

TEST(t22_lines_merge)
{
    const char *s = "{\"id\":1,\"name\":\"a\",\"tags\":[\"x\"]}\n"
                    "{\"id\":2,\"name\":null,\"extra\":{\"k\":1.5}}\n"
                    "{\"id\":3.5,\"tags\":[]}\n";
    struct sl_crawl_opts o = defaults();
    struct sl_cls_result r;
    CHECK(classify(s, true, &o, &r) == SL_OK);
    CHECK_STR(r.classification, "json");
    CHECK(near(r.certainty, 1.0));
    CHECK_STR(param(&r, "sluice.json.layout"), "lines");
    CHECK(param(&r, "sluice.json_path") == NULL);
    CHECK_STR(names(&r), "id,name,tags,extra");
    CHECK_STR(type_of(&r, "id"), "double");
    CHECK_STR(type_of(&r, "name"), "string");
    CHECK_STR(type_of(&r, "tags"), "array<string>");
    CHECK_STR(type_of(&r, "extra"), "struct<k:double>");
    CHECK(r.n_records == 3 && r.records_exact && !r.truncated);
    CHECK(r.decoded_bytes == (int64_t)strlen(s));
    CHECK(near(r.avg_record_bytes, (double)strlen(s) / 3));
    CHECK(r.n_warnings == 0);
    const struct sl_ccolumn *name = col(&r, "name");
    CHECK(name && name->n_values == 1 && name->n_nulls == 2);
    CHECK(col(&r, "id") && col(&r, "id")->n_values == 3 && col(&r, "id")->n_nulls == 0);
    sl_cls_result_cleanup(&r);
}

TEST(t23_array_nested_struct)
{
    const char *s = "[{\"a\":1,\"b\":{\"c\":\"2024-01-01\"}},{\"a\":2,\"b\":{\"c\":\"2024-02-01\","
                    "\"d\":true}}]";
    struct sl_crawl_opts o = defaults();
    struct sl_cls_result r;
    CHECK(classify(s, true, &o, &r) == SL_OK);
    CHECK_STR(r.classification, "json");
    CHECK(near(r.certainty, 1.0));
    CHECK_STR(param(&r, "sluice.json.layout"), "array");
    CHECK_STR(names(&r), "a,b");
    CHECK_STR(type_of(&r, "a"), "bigint");
    CHECK_STR(type_of(&r, "b"), "struct<c:date,d:boolean>");
    CHECK(r.n_records == 2 && r.records_exact);
    sl_cls_result_cleanup(&r);
}

TEST(t24_conflicts_to_string)
{
    struct sl_crawl_opts o = defaults();
    struct sl_cls_result r;
    CHECK(classify("{\"v\":1}\n{\"v\":\"one\"}\n{\"v\":{\"x\":1}}\n{\"v\":[1,2]}\n", true, &o, &r) ==
          SL_OK);
    CHECK_STR(r.classification, "json");
    CHECK_STR(type_of(&r, "v"), "string");
    CHECK(r.n_records == 4);
    sl_cls_result_cleanup(&r);

    /* struct or array after a scalar, and the other way round */
    CHECK(classify("{\"v\":[1]}\n{\"v\":{\"a\":1}}\n", true, &o, &r) == SL_OK);
    CHECK_STR(type_of(&r, "v"), "string");
    sl_cls_result_cleanup(&r);
    CHECK(classify("{\"v\":1}\n{\"v\":2.5}\n{\"v\":null}\n", true, &o, &r) == SL_OK);
    CHECK_STR(type_of(&r, "v"), "double");
    sl_cls_result_cleanup(&r);
}

TEST(t25_names_and_big_integers)
{
    struct sl_crawl_opts o = defaults();
    struct sl_cls_result r;
    CHECK(classify("{\"Id\":12345678901234567890,\"id\":1}\n{\"Id\":1,\"id\":2}\n", true, &o, &r) ==
          SL_OK);
    CHECK_STR(r.classification, "json");
    CHECK_STR(names(&r), "id,id_2");
    CHECK_STR(type_of(&r, "id"), "decimal(20,0)");
    CHECK_STR(type_of(&r, "id_2"), "bigint");
    CHECK_STR(col(&r, "id") ? col(&r, "id")->source_name : NULL, "Id");
    CHECK_STR(col(&r, "id_2") ? col(&r, "id_2")->source_name : NULL, "id");
    char *paths = sl_json_paths_param(&r.schema);
    CHECK_STR(paths, "Id,id");
    sl_free(paths);
    sl_cls_result_cleanup(&r);
}

TEST(t26_document_and_json_path)
{
    const char *s = "{\n \"data\": [ {\"a\":1}, {\"a\":2} ]\n}";
    struct sl_crawl_opts o = defaults();
    struct sl_cls_result r;
    CHECK(classify(s, true, &o, &r) == SL_OK);
    CHECK_STR(r.classification, "json");
    CHECK(near(r.certainty, 0.6));
    CHECK_STR(param(&r, "sluice.json.layout"), "document");
    CHECK(r.n_records == 1 && r.records_exact);
    CHECK_STR(names(&r), "data");
    CHECK_STR(type_of(&r, "data"), "array<struct<a:bigint>>");
    const struct sl_cwarning *w = warning(&r, "JSON_PATH_PROPOSED");
    CHECK(w && strstr(w->detail, "\"$.data[*]\"") != NULL);
    sl_cls_result_cleanup(&r);

    o.json_path = "$.data[*]";
    CHECK(classify(s, true, &o, &r) == SL_OK);
    CHECK_STR(r.classification, "json");
    CHECK(near(r.certainty, 1.0));
    CHECK_STR(param(&r, "sluice.json.layout"), "document");
    CHECK_STR(param(&r, "sluice.json_path"), "$.data[*]");
    CHECK(r.n_records == 2 && r.records_exact);
    CHECK_STR(names(&r), "a");
    CHECK_STR(type_of(&r, "a"), "bigint");
    CHECK(warning(&r, "JSON_PATH_PROPOSED") == NULL);
    sl_cls_result_cleanup(&r);

    /* the other spellings of the subset select the same records */
    const char *same[] = { "$['data'][*]", "$[\"data\"][*]", "$.data.*" };
    for (size_t i = 0; i < SL_ARRAY_LEN(same); i++) {
        o.json_path = same[i];
        CHECK(classify(s, true, &o, &r) == SL_OK);
        CHECKF(r.n_records == 2 && strcmp(type_of(&r, "a"), "bigint") == 0, "%s", same[i]);
        sl_cls_result_cleanup(&r);
    }
}

/* Builds a JSON Lines text of at least n bytes: {"i":<k>,"s":"row <k>","f":<k>.5}. */
static char *make_lines(size_t n, size_t *len_out, int64_t *n_lines)
{
    struct sl_buf b;
    struct sl_err e;
    sl_buf_init(&b, 0);
    int64_t k = 0;
    while (b.len < n) {
        sl_buf_printf(&b, &e, "{\"i\":%lld,\"s\":\"row %lld\",\"f\":%lld.5}\n", (long long)k,
                      (long long)k, (long long)k);
        k++;
    }
    *n_lines = k;
    return sl_buf_take(&b, len_out);
}

TEST(t44_lines_cut_mid_line)
{
    size_t len;
    int64_t n_lines;
    char *s = make_lines((size_t)1 << 21, &len, &n_lines);
    size_t w = (size_t)1 << 20;
    /* the window must end inside a line */
    CHECK(s[w - 1] != '\n');
    size_t complete = 0;
    for (size_t i = 0; i < w; i++)
        complete += s[i] == '\n';

    struct sl_crawl_opts o = defaults();
    o.sample_rows = (size_t)1 << 20; /* every line of the window */
    struct sl_cls_result r;
    CHECK(classify_n(s, w, false, &o, &r) == SL_OK);
    CHECK_STR(r.classification, "json");
    CHECK(r.certainty == 1.0);
    CHECK(warning(&r, "MALFORMED_RECORDS") == NULL);
    CHECK_STR(param(&r, "sluice.json.layout"), "lines");
    CHECK(r.n_records == (int64_t)complete);
    CHECK(r.truncated && !r.records_exact);
    CHECK(r.decoded_bytes == (int64_t)w);
    CHECK(r.avg_record_bytes > 30 && r.avg_record_bytes < 60);
    CHECK_STR(type_of(&r, "i"), "bigint");
    CHECK_STR(type_of(&r, "s"), "string");
    CHECK_STR(type_of(&r, "f"), "double");
    sl_cls_result_cleanup(&r);

    /* the same bytes as a whole (truncated) file: the cut line is malformed */
    CHECK(classify_n(s, w, true, &o, &r) == SL_OK);
    CHECK_STR(r.classification, "json");
    const struct sl_cwarning *mw = warning(&r, "MALFORMED_RECORDS");
    CHECK(mw && strncmp(mw->detail, "1 of ", 5) == 0);
    CHECK(r.certainty < 1.0 && r.certainty > 0.99);
    sl_cls_result_cleanup(&r);

    /* with the default sample_rows: 20000 records, stopped before the cut */
    o = defaults();
    CHECK(complete > 20000);
    CHECK(classify_n(s, w, false, &o, &r) == SL_OK);
    CHECK(r.n_records == 20000 && r.truncated && r.certainty == 1.0);
    CHECK(warning(&r, "MALFORMED_RECORDS") == NULL);
    sl_cls_result_cleanup(&r);

    /* sample_rows caps the records used */
    o.sample_rows = 100;
    CHECK(classify_n(s, len, true, &o, &r) == SL_OK);
    CHECK(r.n_records == 100 && r.truncated && !r.records_exact);
    CHECK(r.certainty == 1.0);
    CHECK(r.decoded_bytes > 0 && (size_t)r.decoded_bytes < len);
    sl_cls_result_cleanup(&r);
    sl_free(s);
}

/* ---- Malformed records ---- */

static char *lines_with_bad(int n_good, int n_bad)
{
    struct sl_buf b;
    struct sl_err e;
    sl_buf_init(&b, 0);
    int n = n_good + n_bad;
    for (int i = 0; i < n; i++) {
        if (i % 50 == 7 && n_bad-- > 0)
            sl_buf_printf(&b, &e, "{\"a\":%d,\"b\":\"x\"\n", i); /* missing } */
        else
            sl_buf_printf(&b, &e, "{\"a\":%d,\"b\":\"x\"}\n", i);
    }
    return sl_buf_take(&b, NULL);
}

TEST(malformed_above_one_percent)
{
    char *s = lines_with_bad(98, 2); /* 2% */
    struct sl_crawl_opts o = defaults();
    struct sl_cls_result r;
    CHECK(classify(s, true, &o, &r) == SL_OK);
    CHECK_STR(r.classification, "");
    CHECK(r.certainty == 0.0);
    CHECK_STR(r.reason, "json_malformed");
    const struct sl_cwarning *w = warning(&r, "MALFORMED_RECORDS");
    CHECK(w && strncmp(w->detail, "2 of 100", 8) == 0);
    sl_cls_result_cleanup(&r);
    sl_free(s);
}

TEST(malformed_below_one_percent)
{
    char *s = lines_with_bad(299, 1);
    struct sl_crawl_opts o = defaults();
    struct sl_cls_result r;
    CHECK(classify(s, true, &o, &r) == SL_OK);
    CHECK_STR(r.classification, "json");
    CHECK(near(r.certainty, 1.0 - 1.0 / 300));
    CHECK(r.n_records == 299);
    const struct sl_cwarning *w = warning(&r, "MALFORMED_RECORDS");
    CHECK(w && strncmp(w->detail, "1 of 300", 8) == 0);
    CHECK_STR(param(&r, "sluice.json.layout"), "lines");
    CHECK_STR(type_of(&r, "a"), "bigint");
    sl_cls_result_cleanup(&r);
    sl_free(s);
}

TEST(invalid_utf8_and_control_characters_are_malformed)
{
    struct sl_crawl_opts o = defaults();
    struct sl_cls_result r;
    CHECK(classify("{\"a\":\"ok\"}\n{\"a\":\"caf\xe9\"}\n", true, &o, &r) == SL_OK);
    CHECK_STR(r.reason, "json_malformed");
    sl_cls_result_cleanup(&r);
    CHECK(classify("{\"a\":\"ok\"}\n{\"a\":\"tab\there\"}\n", true, &o, &r) == SL_OK);
    CHECK_STR(r.reason, "json_malformed");
    sl_cls_result_cleanup(&r);
    /* overlong encoding, surrogate half in UTF-8 */
    CHECK(classify("{\"a\":\"\xc0\xaf\"}\n{\"a\":\"\xed\xa0\x80\"}\n", true, &o, &r) == SL_OK);
    CHECK_STR(r.classification, "");
    sl_cls_result_cleanup(&r);
    /* valid multi-byte text and escapes are fine */
    CHECK(classify("{\"caf\xc3\xa9\":\"\xf0\x9f\x98\x80\",\"e\":\"\\u00e9\\ud83d\\ude00\\n\"}\n"
                   "{\"caf\xc3\xa9\":\"x\",\"e\":\"y\"}\n",
                   true, &o, &r) == SL_OK);
    CHECK_STR(r.classification, "json");
    CHECK_STR(names(&r), "caf,e");
    CHECK_STR(col(&r, "caf") ? col(&r, "caf")->source_name : NULL, "caf\xc3\xa9");
    sl_cls_result_cleanup(&r);
}

/* ---- Layouts ---- */

TEST(concatenated_pretty_printed)
{
    const char *s = "{\n  \"a\": 1,\n  \"b\": \"x\"\n}\n{\n  \"a\": 2,\n  \"b\": \"y\"\n}\n";
    struct sl_crawl_opts o = defaults();
    struct sl_cls_result r;
    CHECK(classify(s, true, &o, &r) == SL_OK);
    CHECK_STR(param(&r, "sluice.json.layout"), "concatenated");
    CHECK(r.certainty == 1.0 && r.n_records == 2);
    sl_cls_result_cleanup(&r);
    /* two values on one line, no separator at all */
    CHECK(classify("{\"a\":1}{\"a\":2}", true, &o, &r) == SL_OK);
    CHECK_STR(param(&r, "sluice.json.layout"), "concatenated");
    CHECK(r.n_records == 2);
    sl_cls_result_cleanup(&r);
}

TEST(one_value_then_cut_is_lines)
{
    struct sl_crawl_opts o = defaults();
    struct sl_cls_result r;
    CHECK(classify("{\"a\":1}\n{\"a\":", false, &o, &r) == SL_OK);
    CHECK_STR(r.classification, "json");
    CHECK(r.certainty == 1.0);
    CHECK_STR(param(&r, "sluice.json.layout"), "lines");
    CHECK(r.n_records == 1 && r.truncated);
    sl_cls_result_cleanup(&r);
    /* one complete value and nothing else before the window ends: unknown yet */
    CHECK(classify("{\"a\":1}\n", false, &o, &r) == SL_OK);
    CHECK_STR(r.classification, "");
    CHECK_STR(r.reason, "json_incomplete");
    sl_cls_result_cleanup(&r);
}

TEST(incomplete_and_not_json)
{
    struct sl_crawl_opts o = defaults();
    struct sl_cls_result r;
    CHECK(classify("{\"a\":[1,2,", false, &o, &r) == SL_OK);
    CHECK_STR(r.classification, "");
    CHECK_STR(r.reason, "json_incomplete");
    CHECK(r.n_records == 0);
    sl_cls_result_cleanup(&r);
    CHECK(classify("[{\"a\":1", false, &o, &r) == SL_OK);
    CHECK_STR(r.reason, "json_incomplete");
    sl_cls_result_cleanup(&r);

    const char *no[] = { "",         "   \n",       "a,b\n1,2\n",        "\"just a string\"",
                         "42\n43\n", "[INFO] hello\n", "{\"a\":1,}",      "{\"a\":1}\nnot json\n",
                         "{a:1}\n",  "[1,2",        "{\"a\":1",          "[2024-01-01] log line\n" };
    for (size_t i = 0; i < SL_ARRAY_LEN(no); i++) {
        CHECK(classify(no[i], true, &o, &r) == SL_OK);
        CHECKF(r.classification[0] == '\0' && r.certainty == 0.0, "input %zu: %s %f", i,
               r.classification, r.certainty);
        sl_cls_result_cleanup(&r);
    }
}

TEST(bom_and_whitespace)
{
    struct sl_crawl_opts o = defaults();
    struct sl_cls_result r;
    CHECK(classify("\xEF\xBB\xBF \r\n [ {\"a\":true} , {\"a\":false} ] \n", true, &o, &r) == SL_OK);
    CHECK_STR(r.classification, "json");
    CHECK_STR(type_of(&r, "a"), "boolean");
    CHECK(r.n_records == 2 && r.certainty == 1.0);
    sl_cls_result_cleanup(&r);
}

TEST(empty_array_and_empty_object)
{
    struct sl_crawl_opts o = defaults();
    struct sl_cls_result r;
    CHECK(classify("[]", true, &o, &r) == SL_OK);
    CHECK_STR(r.classification, "json");
    CHECK(near(r.certainty, 0.6));
    CHECK(r.n_records == 0 && r.schema.n_cols == 0);
    sl_cls_result_cleanup(&r);
    CHECK(classify("{}\n", true, &o, &r) == SL_OK);
    CHECK_STR(param(&r, "sluice.json.layout"), "document");
    CHECK(r.n_records == 1 && r.schema.n_cols == 0);
    sl_cls_result_cleanup(&r);
}

TEST(array_data_after_close_is_malformed)
{
    struct sl_crawl_opts o = defaults();
    struct sl_cls_result r;
    CHECK(classify("[1,2]\n[3]\n", true, &o, &r) == SL_OK);
    CHECK_STR(r.reason, "json_malformed");
    CHECK(warning(&r, "MALFORMED_RECORDS") != NULL);
    sl_cls_result_cleanup(&r);
}

/* ---- Values ---- */

TEST(scalar_array_gives_value_column)
{
    struct sl_crawl_opts o = defaults();
    struct sl_cls_result r;
    CHECK(classify("[1, 2, 3.5, null]", true, &o, &r) == SL_OK);
    CHECK_STR(r.classification, "json");
    CHECK_STR(names(&r), "value");
    CHECK_STR(type_of(&r, "value"), "double");
    CHECK(r.n_records == 4);
    CHECK(col(&r, "value")->n_values == 3 && col(&r, "value")->n_nulls == 1);
    sl_cls_result_cleanup(&r);
    CHECK(classify("[[1],[2,3],[]]", true, &o, &r) == SL_OK);
    CHECK_STR(type_of(&r, "value"), "array<bigint>");
    sl_cls_result_cleanup(&r);
    CHECK(classify("[\"a\", \"2024-01-01\"]", true, &o, &r) == SL_OK);
    CHECK_STR(type_of(&r, "value"), "string");
    sl_cls_result_cleanup(&r);
    /* objects and scalars mixed: the scalars are malformed records */
    CHECK(classify("[{\"a\":1},{\"a\":2},3]", true, &o, &r) == SL_OK);
    CHECK_STR(r.reason, "json_malformed");
    sl_cls_result_cleanup(&r);
}

TEST(numbers)
{
    struct sl_crawl_opts o = defaults();
    struct sl_cls_result r;
    CHECK(classify("{\"max\":9223372036854775807,\"min\":-9223372036854775808,"
                   "\"over\":9223372036854775808,\"d38\":12345678901234567890123456789012345678,"
                   "\"d39\":123456789012345678901234567890123456789,\"f\":1.0,\"e\":1e5,"
                   "\"neg0\":-0,\"str\":\"42\",\"lz\":\"00123\",\"x\":-1.5E-3}\n{}\n",
                   true, &o, &r) == SL_OK);
    CHECK_STR(type_of(&r, "max"), "bigint");
    CHECK_STR(type_of(&r, "min"), "bigint");
    CHECK_STR(type_of(&r, "over"), "decimal(19,0)");
    CHECK_STR(type_of(&r, "d38"), "decimal(38,0)");
    CHECK_STR(type_of(&r, "d39"), "double");
    CHECK_STR(type_of(&r, "f"), "double");
    CHECK_STR(type_of(&r, "e"), "double");
    CHECK_STR(type_of(&r, "neg0"), "bigint");
    CHECK_STR(type_of(&r, "str"), "string");
    CHECK_STR(type_of(&r, "lz"), "string");
    CHECK_STR(type_of(&r, "x"), "double");
    sl_cls_result_cleanup(&r);
    /* JSON number grammar: leading zeros, bare dots and '+' are malformed */
    const char *bad[] = { "{\"a\":01}\n{\"a\":1}\n", "{\"a\":.5}\n{\"a\":1}\n",
                          "{\"a\":1.}\n{\"a\":1}\n", "{\"a\":+1}\n{\"a\":1}\n",
                          "{\"a\":1e}\n{\"a\":1}\n", "{\"a\":NaN}\n{\"a\":1}\n" };
    for (size_t i = 0; i < SL_ARRAY_LEN(bad); i++) {
        CHECK(classify(bad[i], true, &o, &r) == SL_OK);
        CHECKF(strcmp(r.reason, "json_malformed") == 0, "input %zu: %s", i, r.reason);
        sl_cls_result_cleanup(&r);
    }
}

TEST(temporal_strings)
{
    struct sl_crawl_opts o = defaults();
    struct sl_cls_result r;
    const char *s =
        "{\"d\":\"2024-02-29\",\"tz\":\"2024-01-01T10:00:00Z\",\"naive\":\"2024-01-01 10:00:00.5\","
        "\"off\":\"2024-01-02T11:30+02:00\",\"mixed\":\"2024-01-01\",\"slash\":\"2024/01/01\","
        "\"bad\":\"2023-02-29\",\"zmix\":\"2024-01-01T10:00:00Z\",\"t\":\"10:30:00\"}\n"
        "{\"d\":\"2000-12-31\",\"tz\":\"2024-01-01T10:00:00.123456789-0530\","
        "\"naive\":\"2024-01-01T10:00\",\"off\":\"2024-01-02 11:30:01+02\","
        "\"mixed\":\"2024-01-01T08:00:00\",\"zmix\":\"2024-01-01T10:00:00\"}\n";
    CHECK(classify(s, true, &o, &r) == SL_OK);
    CHECK_STR(type_of(&r, "d"), "date");
    CHECK_STR(type_of(&r, "tz"), "timestamp");
    CHECK(col(&r, "tz") && col(&r, "tz")->type->tz == SL_CT_TZ_EXPLICIT);
    CHECK_STR(type_of(&r, "naive"), "timestamp");
    CHECK(col(&r, "naive") && col(&r, "naive")->type->tz == SL_CT_TZ_NAIVE);
    CHECK_STR(type_of(&r, "off"), "timestamp");
    CHECK_STR(type_of(&r, "mixed"), "timestamp"); /* date with timestamp, both ISO */
    CHECK_STR(type_of(&r, "slash"), "string");    /* §8.2: ISO forms only */
    CHECK_STR(type_of(&r, "bad"), "string");      /* no such day */
    CHECK_STR(type_of(&r, "zmix"), "string");     /* zoned with naive */
    CHECK_STR(type_of(&r, "t"), "string");        /* time of day alone */
    sl_cls_result_cleanup(&r);

    o.json_infer_temporal = false;
    CHECK(classify(s, true, &o, &r) == SL_OK);
    CHECK_STR(type_of(&r, "d"), "string");
    CHECK_STR(type_of(&r, "tz"), "string");
    sl_cls_result_cleanup(&r);
}

TEST(placeholder_and_empty_key)
{
    struct sl_crawl_opts o = defaults();
    struct sl_cls_result r;
    CHECK(classify("{\"a\":1,\"n\":null,\"\":true,\"A b\":2}\n{\"a\":2,\"n\":null}\n", true, &o,
                   &r) == SL_OK);
    CHECK_STR(names(&r), "a,n,col2,a_b");
    const struct sl_ccolumn *n = col(&r, "n");
    CHECK(n && n->type->kind == SL_CT_NULL && n->n_values == 0 && n->n_nulls == 2);
    CHECK_STR(type_of(&r, "n"), "string");
    CHECK_STR(col(&r, "col2") ? col(&r, "col2")->source_name : NULL, "");
    CHECK_STR(col(&r, "a_b") ? col(&r, "a_b")->source_name : NULL, "A b");
    CHECK(col(&r, "a") && col(&r, "a")->source_name == NULL);
    char *paths = sl_json_paths_param(&r.schema);
    CHECK_STR(paths, "a,n,,A b");
    sl_free(paths);
    sl_cls_result_cleanup(&r);
}

TEST(struct_fields_keep_source_spelling_and_order)
{
    struct sl_crawl_opts o = defaults();
    struct sl_cls_result r;
    CHECK(classify("{\"s\":{\"Zeta\":1,\"a b\":\"x\",\"n\":null}}\n{\"s\":{\"new\":[],\"Zeta\":2}}\n",
                   true, &o, &r) == SL_OK);
    CHECK_STR(type_of(&r, "s"), "struct<Zeta:bigint,`a b`:string,n:string,new:array<string>>");
    const struct sl_ccolumn *s = col(&r, "s");
    /* null and empty-array placeholders stay unresolved inside the type */
    CHECK(s && s->type->n_fields == 4 && s->type->fields[2].type->kind == SL_CT_NULL &&
          s->type->fields[3].type->elem->kind == SL_CT_NULL);
    sl_cls_result_cleanup(&r);
}

TEST(map_key_threshold)
{
    struct sl_crawl_opts o = defaults();
    o.json_map_key_threshold = 3;
    struct sl_cls_result r;
    /* 4 distinct keys across the sample -> map; 3 -> struct */
    CHECK(classify("{\"m\":{\"k1\":1,\"k2\":2},\"s\":{\"a\":1,\"b\":2},\"t1\":1,\"t2\":2}\n"
                   "{\"m\":{\"k3\":3.5,\"k4\":null},\"s\":{\"c\":\"x\"},\"t3\":3,\"t4\":4}\n",
                   true, &o, &r) == SL_OK);
    CHECK_STR(type_of(&r, "m"), "map<string,double>");
    CHECK_STR(type_of(&r, "s"), "struct<a:bigint,b:bigint,c:string>");
    CHECK_STR(names(&r), "m,s,t1,t2,t3,t4"); /* the record itself never becomes a map */
    sl_cls_result_cleanup(&r);

    /* one object with many keys, inside an array, and a map joined with a struct */
    CHECK(classify("{\"v\":[{\"a\":1,\"b\":2,\"c\":3,\"d\":4}]}\n{\"v\":[{\"a\":{\"x\":1}}]}\n",
                   true, &o, &r) == SL_OK);
    CHECK_STR(type_of(&r, "v"), "array<map<string,string>>");
    sl_cls_result_cleanup(&r);

    /* default threshold: an ID-keyed dictionary of 250 entries */
    o = defaults();
    struct sl_buf b;
    struct sl_err e;
    sl_buf_init(&b, 0);
    /* a key longer than any column name is data: its object becomes a map */
    sl_buf_puts(&b, "{\"s\":{\"short\":1,\"", &e);
    for (int i = 0; i < 300; i++)
        sl_buf_putc(&b, 'k', &e);
    sl_buf_puts(&b, "\":2}}\n{\"s\":{\"x\":3}}\n", &e);
    CHECK(classify(b.data, true, &o, &r) == SL_OK);
    CHECK_STR(type_of(&r, "s"), "map<string,bigint>");
    sl_cls_result_cleanup(&r);
    sl_buf_reset(&b);
    sl_buf_puts(&b, "{\"users\":{", &e);
    for (int i = 0; i < 250; i++)
        sl_buf_printf(&b, &e, "%s\"u%d\":{\"name\":\"n\",\"age\":%d}", i ? "," : "", i, i);
    sl_buf_puts(&b, "}}\n{\"users\":{}}\n", &e);
    CHECK(classify(b.data, true, &o, &r) == SL_OK);
    CHECK_STR(type_of(&r, "users"), "map<string,struct<name:string,age:bigint>>");
    sl_cls_result_cleanup(&r);
    sl_buf_cleanup(&b);
}

TEST(depth_limit)
{
    struct sl_crawl_opts o = defaults();
    o.json_max_depth = 3;
    struct sl_cls_result r;
    CHECK(classify("{\"a\":{\"b\":{\"c\":{\"d\":1}}},\"l\":[[[1]]],\"x\":1}\n{\"x\":2}\n", true, &o,
                   &r) == SL_OK);
    CHECK_STR(type_of(&r, "a"), "struct<b:struct<c:string>>");
    CHECK_STR(type_of(&r, "l"), "array<array<string>>");
    CHECK_STR(type_of(&r, "x"), "bigint");
    sl_cls_result_cleanup(&r);

    /* hostile nesting: 200000 levels, closed and unclosed */
    o = defaults();
    size_t depth = 200000;
    struct sl_buf b;
    struct sl_err e;
    sl_buf_init(&b, 0);
    sl_buf_puts(&b, "{\"deep\":", &e);
    for (size_t i = 0; i < depth; i++)
        sl_buf_puts(&b, i % 2 ? "[" : "{\"k\":", &e);
    sl_buf_puts(&b, "1", &e);
    for (size_t i = depth; i-- > 0;)
        sl_buf_puts(&b, i % 2 ? "]" : "}", &e);
    sl_buf_puts(&b, ",\"ok\":true}\n{\"ok\":false}\n", &e);
    CHECK(classify(b.data, true, &o, &r) == SL_OK);
    CHECK_STR(r.classification, "json");
    CHECK_STR(type_of(&r, "ok"), "boolean");
    const char *t = type_of(&r, "deep");
    CHECKF(strncmp(t, "struct<k:array<struct<k:", 24) == 0 && strstr(t, "string") != NULL, "%s", t);
    sl_cls_result_cleanup(&r);

    sl_buf_reset(&b);
    for (size_t i = 0; i < depth; i++)
        sl_buf_puts(&b, "[", &e);
    CHECK(classify(b.data, true, &o, &r) == SL_OK);
    CHECK_STR(r.classification, "");
    sl_cls_result_cleanup(&r);
    CHECK(classify(b.data, false, &o, &r) == SL_OK);
    CHECK_STR(r.reason, "json_incomplete");
    sl_cls_result_cleanup(&r);
    sl_buf_cleanup(&b);
}

TEST(huge_string)
{
    struct sl_crawl_opts o = defaults();
    struct sl_cls_result r;
    struct sl_buf b;
    struct sl_err e;
    sl_buf_init(&b, 0);
    sl_buf_puts(&b, "{\"big\":\"", &e);
    for (int i = 0; i < (1 << 16); i++)
        sl_buf_puts(&b, "abcdefgh\\\"\\u00e9-", &e);
    sl_buf_puts(&b, "\"}\n{\"big\":\"x\"}\n", &e);
    CHECK(classify(b.data, true, &o, &r) == SL_OK);
    CHECK_STR(type_of(&r, "big"), "string");
    CHECK(r.n_records == 2);
    sl_cls_result_cleanup(&r);
    sl_buf_cleanup(&b);
}

TEST(json_path_selection)
{
    struct sl_crawl_opts o = defaults();
    struct sl_cls_result r;
    /* per top-level value in lines */
    o.json_path = "$.payload";
    CHECK(classify("{\"payload\":{\"a\":1},\"meta\":{\"z\":1}}\n{\"payload\":{\"a\":2,\"b\":\"x\"}}\n",
                   true, &o, &r) == SL_OK);
    CHECK_STR(r.classification, "json");
    CHECK_STR(param(&r, "sluice.json.layout"), "lines");
    CHECK_STR(names(&r), "a,b");
    CHECK(r.n_records == 2 && r.certainty == 1.0);
    sl_cls_result_cleanup(&r);

    /* array files and $[*] */
    o.json_path = "$[*]";
    CHECK(classify("[{\"a\":1},{\"a\":2}]", true, &o, &r) == SL_OK);
    CHECK_STR(param(&r, "sluice.json.layout"), "array");
    CHECK(r.n_records == 2 && r.certainty == 1.0);
    CHECK_STR(type_of(&r, "a"), "bigint");
    sl_cls_result_cleanup(&r);

    /* records deeper down, wildcard over object members, names needing quotes */
    o.json_path = "$['the data'].*.rows[*]";
    CHECK(classify("{\"the data\":{\"p1\":{\"rows\":[{\"x\":1}]},\"p2\":{\"rows\":[{\"x\":2.5}]}}}",
                   true, &o, &r) == SL_OK);
    CHECK(r.n_records == 2);
    CHECK_STR(type_of(&r, "x"), "double");
    sl_cls_result_cleanup(&r);

    /* nothing selected */
    o.json_path = "$.nope[*]";
    CHECK(classify("{\"data\":[{\"a\":1}]}", true, &o, &r) == SL_OK);
    CHECK_STR(r.classification, "");
    CHECK_STR(r.reason, "json_path_no_match");
    sl_cls_result_cleanup(&r);

    /* an empty array of records is a match without records */
    o.json_path = "$.data[*]";
    CHECK(classify("{\"data\":[]}", true, &o, &r) == SL_OK);
    CHECK_STR(r.classification, "json");
    CHECK(r.n_records == 0 && near(r.certainty, 0.6));
    sl_cls_result_cleanup(&r);

    /* a cut document still yields its complete records */
    CHECK(classify("{\"data\":[{\"a\":1},{\"a\":2},{\"a\":", false, &o, &r) == SL_OK);
    CHECK_STR(r.classification, "json");
    CHECK_STR(param(&r, "sluice.json.layout"), "document");
    CHECK(r.n_records == 2 && r.truncated && r.certainty == 1.0);
    sl_cls_result_cleanup(&r);

    /* sample_rows stops the walk */
    o.sample_rows = 1;
    CHECK(classify("{\"data\":[{\"a\":1},{\"a\":\"x\"}]}", true, &o, &r) == SL_OK);
    CHECK(r.n_records == 1 && r.truncated);
    CHECK_STR(type_of(&r, "a"), "bigint");
    sl_cls_result_cleanup(&r);

    /* unsupported syntax is a configuration error */
    const char *bad[] = { "data", "$[0]", "$..a", "$.", "$['a'", "$.a[?(@.x)]" };
    o = defaults();
    for (size_t i = 0; i < SL_ARRAY_LEN(bad); i++) {
        struct sl_err e = { 0 };
        o.json_path = bad[i];
        sl_cls_result_init(&r);
        CHECKF(sl_json_classify("{}", 2, true, &o, &r, &e) == SL_ECONFIG, "%s", bad[i]);
        CHECK(strstr(e.msg, "json_path") != NULL);
        sl_cls_result_cleanup(&r);
    }
}

TEST(duplicate_keys_and_key_escapes)
{
    struct sl_crawl_opts o = defaults();
    struct sl_cls_result r;
    CHECK(classify("{\"a\":1,\"a\":\"x\",\"s\":{\"k\":1,\"k\":2.5},\"\\u0041\\n\":1,\"z\\u0000\":2}\n"
                   "{\"a\":2}\n",
                   true, &o, &r) == SL_OK);
    CHECK_STR(names(&r), "a,s,a_2,z");
    CHECK_STR(type_of(&r, "a"), "string");
    CHECK_STR(type_of(&r, "s"), "struct<k:double>");
    CHECK_STR(col(&r, "a_2") ? col(&r, "a_2")->source_name : NULL, "A\n");
    CHECK_STR(col(&r, "z") ? col(&r, "z")->source_name : NULL, "z\xef\xbf\xbd");
    sl_cls_result_cleanup(&r);
}

TEST(out_of_memory_is_clean)
{
    const char *s = "{\"id\":1,\"s\":{\"a\":[1,2],\"b\":{\"c\":\"2024-01-01\"}},\"t\":\"x\"}\n"
                    "{\"id\":2.5,\"s\":{\"a\":[],\"d\":null},\"u\":[{\"k\":1}]}\n";
    struct sl_crawl_opts o = defaults();
    int ok = 0;
    for (long n = 1; n < 2000 && !ok; n++) {
        struct sl_cls_result r;
        struct sl_err e = { 0 };
        sl_cls_result_init(&r);
        sl_alloc_fail_reset(n);
        int rc = sl_json_classify(s, strlen(s), true, &o, &r, &e);
        sl_alloc_fail_reset(0);
        if (rc == SL_OK)
            ok = strcmp(r.classification, "json") == 0 && r.schema.n_cols == 4;
        else
            CHECKF(rc == SL_ENOMEM, "step %ld: %d %s", n, rc, e.msg);
        sl_cls_result_cleanup(&r);
    }
    CHECK(ok);
}

/* Inputs the fuzzer found (tests/fuzz/corpus/json/crash-*). */
TEST(fuzz_regressions)
{
    struct sl_crawl_opts o = defaults();
    struct sl_cls_result r;
    struct sl_err e = { 0 };
    /* an empty nested field name as the very first key: renders and parses back */
    CHECK(classify("[{\"b\":{\"\":\"2025-01-01\"}}]", true, &o, &r) == SL_OK);
    CHECK_STR(type_of(&r, "b"), "struct<``:date>");
    const struct sl_ccolumn *b = col(&r, "b");
    struct sl_ctype *back = b ? sl_ctype_parse(type_of(&r, "b"), &e) : NULL;
    CHECKF(back && sl_ctype_equal(back, b->type), "%s", e.msg);
    sl_ctype_free(back);
    sl_cls_result_cleanup(&r);

    /* a JSONPath match in the value that sample_rows stopped still counts */
    o.json_path = "$.*[*]";
    o.sample_rows = 1;
    CHECK(classify("{\"x\":1}\n{\"d\":[{\"a\":1},{\"a\":2}]}\n", true, &o, &r) == SL_OK);
    CHECK_STR(r.classification, "json");
    CHECK(near(r.certainty, 0.5)); /* the path matched in 1 of 2 top-level values */
    CHECK(r.n_records == 1 && r.truncated);
    sl_cls_result_cleanup(&r);
}

/* ---- Real files (../shared/data) ---- */

static const char *data_dir(void)
{
    const char *d = getenv("SLUICE_SHARED_DATA");
    return d && *d ? d : "../shared/data";
}

/* Reads dir/name after checking its SHA-256 against SHA256SUMS. Returns owned
 * bytes, or NULL with *why set (missing -> skip, mismatch -> failure). */
static char *read_checked(const char *name, size_t *len, const char **why)
{
    char path[1024], line[512], want[65] = "";
    snprintf(path, sizeof path, "%s/SHA256SUMS", data_dir());
    FILE *f = fopen(path, "r");
    if (!f) {
        *why = "absent";
        return NULL;
    }
    while (fgets(line, sizeof line, f)) {
        char hex[65], fn[256];
        if (sscanf(line, "%64s %255s", hex, fn) == 2 && strcmp(fn, name) == 0)
            memcpy(want, hex, sizeof want);
    }
    fclose(f);
    snprintf(path, sizeof path, "%s/%s", data_dir(), name);
    if (!(f = fopen(path, "rb"))) {
        *why = "absent";
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    size_t got = buf ? fread(buf, 1, (size_t)n, f) : 0;
    fclose(f);
    if (!buf || got != (size_t)n) {
        free(buf);
        *why = "unreadable";
        return NULL;
    }
    buf[n] = '\0';
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned md_len = 0;
    char hex[2 * EVP_MAX_MD_SIZE + 1];
    if (!EVP_Digest(buf, (size_t)n, md, &md_len, EVP_sha256(), NULL)) {
        free(buf);
        *why = "sha256 failed";
        return NULL;
    }
    for (unsigned i = 0; i < md_len; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    if (strcmp(hex, want) != 0) {
        free(buf);
        *why = "SHA-256 differs from SHA256SUMS";
        return NULL;
    }
    *len = (size_t)n;
    return buf;
}

#define HEAD_WINDOW ((size_t)1 << 20)

/* Loads a data file or returns from the test (skip when absent). */
#define LOAD(var, len, name)                                                                       \
    const char *var##_why = NULL;                                                                  \
    char *var = read_checked(name, &len, &var##_why);                                              \
    if (!var) {                                                                                    \
        if (strcmp(var##_why, "absent") == 0)                                                      \
            SKIP("%s not found under %s", name, data_dir());                                       \
        CHECKF(0, "%s: %s", name, var##_why);                                                      \
        return;                                                                                    \
    }

TEST(real_cars_json)
{
    size_t len = 0;
    LOAD(s, len, "cars.json");
    struct sl_crawl_opts o = defaults();
    struct sl_cls_result r;
    size_t w = len < HEAD_WINDOW ? len : HEAD_WINDOW;
    CHECK(classify_n(s, w, w == len, &o, &r) == SL_OK);
    CHECK_STR(r.classification, "json");
    CHECK(r.certainty == 1.0);
    CHECK_STR(param(&r, "sluice.json.layout"), "array");
    CHECK(r.n_records == 406 && r.records_exact && !r.truncated);
    CHECK_STR(names(&r), "name,miles_per_gallon,cylinders,displacement,horsepower,weight_in_lbs,"
                         "acceleration,year,origin");
    CHECK_STR(type_of(&r, "name"), "string");
    CHECK_STR(type_of(&r, "miles_per_gallon"), "double"); /* 18, 31.5 and null */
    CHECK_STR(type_of(&r, "cylinders"), "bigint");
    CHECK_STR(type_of(&r, "displacement"), "double");
    CHECK_STR(type_of(&r, "horsepower"), "bigint");       /* ints and nulls */
    CHECK_STR(type_of(&r, "weight_in_lbs"), "bigint");
    CHECK_STR(type_of(&r, "acceleration"), "double");
    CHECK_STR(type_of(&r, "year"), "date");               /* "1970-01-01" */
    CHECK_STR(type_of(&r, "origin"), "string");
    CHECK_STR(col(&r, "miles_per_gallon") ? col(&r, "miles_per_gallon")->source_name : NULL,
              "Miles_per_Gallon");
    const struct sl_ccolumn *mpg = col(&r, "miles_per_gallon");
    CHECK(mpg && mpg->n_values + mpg->n_nulls == 406 && mpg->n_nulls > 0);
    char *paths = sl_json_paths_param(&r.schema);
    CHECK_STR(paths, "Name,Miles_per_Gallon,Cylinders,Displacement,Horsepower,Weight_in_lbs,"
                     "Acceleration,Year,Origin");
    sl_free(paths);
    sl_cls_result_cleanup(&r);
    free(s);
}

static void check_flights(const struct sl_cls_result *r)
{
    CHECK_STR(r->classification, "json");
    CHECK(r->certainty == 1.0);
    CHECK_STR(param(r, "sluice.json.layout"), "array");
    CHECK_STR(names(r), "date,delay,distance,origin,destination");
    CHECK_STR(type_of(r, "date"), "string"); /* "2001/01/01 00:47" is not ISO */
    CHECK_STR(type_of(r, "delay"), "bigint");
    CHECK_STR(type_of(r, "distance"), "bigint");
    CHECK_STR(type_of(r, "origin"), "string");
    CHECK_STR(type_of(r, "destination"), "string");
    CHECK(r->n_warnings == 0);
}

TEST(real_flights_20k_json)
{
    size_t len = 0;
    LOAD(s, len, "flights-20k.json");
    struct sl_crawl_opts o = defaults();
    struct sl_cls_result r;
    CHECK(len > HEAD_WINDOW);
    CHECK(classify_n(s, HEAD_WINDOW, false, &o, &r) == SL_OK);
    check_flights(&r);
    CHECK(r.n_records == 11749 && r.truncated && !r.records_exact); /* complete elements only */
    CHECK(r.avg_record_bytes > 80 && r.avg_record_bytes < 100);
    sl_cls_result_cleanup(&r);

    CHECK(classify_n(s, len, true, &o, &r) == SL_OK);
    check_flights(&r);
    CHECK(r.n_records == 20000 && r.records_exact && !r.truncated);
    sl_cls_result_cleanup(&r);
    free(s);
}

#define EQ_PROPERTIES                                                                              \
    "struct<mag:double,place:string,time:bigint,updated:bigint,tz:bigint,url:string,"             \
    "detail:string,felt:bigint,cdi:double,mmi:double,alert:string,status:string,tsunami:bigint,"  \
    "sig:bigint,net:string,code:string,ids:string,sources:string,types:string,nst:bigint,"        \
    "dmin:double,rms:double,gap:double,magType:string,type:string,title:string>"
#define EQ_FEATURE                                                                                 \
    "struct<type:string,properties:" EQ_PROPERTIES                                                 \
    ",geometry:struct<type:string,coordinates:array<double>>,id:string>"

TEST(real_earthquakes_json)
{
    size_t len = 0;
    LOAD(s, len, "earthquakes.json");
    struct sl_crawl_opts o = defaults();
    struct sl_cls_result r;

    /* the 1 MiB head window cuts the only value: ask for more (§4) */
    CHECK(len > HEAD_WINDOW);
    CHECK(classify_n(s, HEAD_WINDOW, false, &o, &r) == SL_OK);
    CHECK_STR(r.classification, "");
    CHECK_STR(r.reason, "json_incomplete");
    CHECK(r.n_records == 0);
    sl_cls_result_cleanup(&r);

    /* the whole file */
    CHECK(classify_n(s, len, true, &o, &r) == SL_OK);
    CHECK_STR(r.classification, "json");
    CHECK(near(r.certainty, 0.6));
    CHECK_STR(param(&r, "sluice.json.layout"), "document");
    CHECK(r.n_records == 1 && r.records_exact);
    CHECK_STR(names(&r), "type,metadata,features,bbox");
    CHECK_STR(type_of(&r, "type"), "string");
    CHECK_STR(type_of(&r, "metadata"), "struct<generated:bigint,url:string,title:string,"
                                       "status:bigint,api:string,count:bigint>");
    CHECK_STR(type_of(&r, "features"), "array<" EQ_FEATURE ">");
    CHECK_STR(type_of(&r, "bbox"), "array<double>");
    const struct sl_cwarning *w = warning(&r, "JSON_PATH_PROPOSED");
    CHECK(w && strstr(w->detail, "\"$.features[*]\"") != NULL);
    sl_cls_result_cleanup(&r);

    /* the proposed path, on the head window and on the whole file */
    o.json_path = "$.features[*]";
    CHECK(classify_n(s, HEAD_WINDOW, false, &o, &r) == SL_OK);
    CHECK_STR(r.classification, "json");
    CHECK(r.certainty == 1.0);
    CHECK_STR(param(&r, "sluice.json.layout"), "document");
    CHECK(r.n_records == 1467 && r.truncated);
    CHECK_STR(names(&r), "type,properties,geometry,id");
    CHECK_STR(type_of(&r, "properties"), EQ_PROPERTIES);
    sl_cls_result_cleanup(&r);
    CHECK(classify_n(s, len, true, &o, &r) == SL_OK);
    CHECK(r.n_records == 1707 && r.records_exact && r.certainty == 1.0);
    CHECK_STR(type_of(&r, "geometry"), "struct<type:string,coordinates:array<double>>");
    CHECK_STR(type_of(&r, "properties"), EQ_PROPERTIES);
    sl_cls_result_cleanup(&r);
    free(s);
}

int main(void)
{
    t_suite = "json/";
    RUN(t22_lines_merge);
    RUN(t23_array_nested_struct);
    RUN(t24_conflicts_to_string);
    RUN(t25_names_and_big_integers);
    RUN(t26_document_and_json_path);
    RUN(t44_lines_cut_mid_line);
    RUN(malformed_above_one_percent);
    RUN(malformed_below_one_percent);
    RUN(invalid_utf8_and_control_characters_are_malformed);
    RUN(concatenated_pretty_printed);
    RUN(one_value_then_cut_is_lines);
    RUN(incomplete_and_not_json);
    RUN(bom_and_whitespace);
    RUN(empty_array_and_empty_object);
    RUN(array_data_after_close_is_malformed);
    RUN(scalar_array_gives_value_column);
    RUN(numbers);
    RUN(temporal_strings);
    RUN(placeholder_and_empty_key);
    RUN(struct_fields_keep_source_spelling_and_order);
    RUN(map_key_threshold);
    RUN(depth_limit);
    RUN(huge_string);
    RUN(json_path_selection);
    RUN(duplicate_keys_and_key_escapes);
    RUN(out_of_memory_is_clean);
    RUN(fuzz_regressions);
    RUN(real_cars_json);
    RUN(real_flights_20k_json);
    RUN(real_earthquakes_json);
    TEST_EXIT();
}
