/*
 * tests/crawler/test_schema.c - crawler/schema.c: option defaults (§2),
 * column-name normalisation and de-duplication (§6.5), schemas, classifier
 * results and warnings.
 */
#include <string.h>

#include "crawler/classify.h"
#include "runtime/alloc.h"
#include "tests/test.h"

TEST(defaults)
{
    struct sl_crawl_opts o;
    sl_crawl_opts_default(&o);
    CHECK(o.sample_initial_bytes == 1048576 && o.sample_max_bytes == 16777216);
    CHECK(o.sample_max_decoded_bytes == 67108864 && o.sample_rows == 20000);
    CHECK(o.dialect_rows == 2048 && o.tail_sample_bytes == 262144);
    CHECK(o.csv_header == 0 && !o.csv_allow_single_column && o.csv_decimal_separator == '.');
    CHECK(o.csv_thousands_separator == 0 && o.csv_date_order == 0 && !o.csv_infer_decimal);
    CHECK(o.json_infer_temporal && o.json_map_key_threshold == 200 && o.json_max_depth == 32);
    CHECK(o.json_path == NULL && o.min_certainty == 0.5);
    static const char *const want[] = {"",    "NULL", "null", "Null", "NA", "N/A",
                                       "n/a", "#N/A", "\\N",  "None", "nil"};
    size_t n = 0;
    while (o.null_tokens[n])
        n++;
    CHECK(n == SL_ARRAY_LEN(want));
    for (size_t i = 0; i < n && i < SL_ARRAY_LEN(want); i++)
        CHECK_STR(o.null_tokens[i], want[i]);
}

static void norm(const char *in, size_t j, const char *want)
{
    char *s = sl_colname_normalise(in, strlen(in), j);
    CHECK_STR(s, want);
    sl_free(s);
}

TEST(normalise_names)
{
    norm("id", 0, "id");
    norm("  Order ID\t", 0, "order_id");
    norm("Amount (EUR)", 0, "amount_eur");
    norm("a  -  b", 0, "a_b");
    norm("a _ b", 0, "a___b");
    norm("__private__", 0, "private");
    norm("", 3, "col3");
    norm("%%%", 7, "col7");
    norm("2nd place", 0, "_2nd_place");
    norm("ÄÖÜ name", 0, "name");
    norm("ÄÖÜ", 2, "col2");
    norm("CamelCase", 0, "camelcase");
    norm("\xEF\xBB\xBFid", 0, "id");

    char long_in[400];
    memset(long_in, 'x', sizeof long_in - 1);
    long_in[sizeof long_in - 1] = '\0';
    char *s = sl_colname_normalise(long_in, strlen(long_in), 0);
    CHECK(s && strlen(s) == 255);
    sl_free(s);
    long_in[0] = '9';
    s = sl_colname_normalise(long_in, strlen(long_in), 0);
    CHECK(s && strlen(s) == 255 && s[0] == '_' && s[1] == '9');
    sl_free(s);
}

static struct sl_cschema schema_of(const char *const *names)
{
    struct sl_cschema s = {0};
    struct sl_err e = {0};
    for (size_t i = 0; names[i]; i++)
        CHECK_OK(sl_cschema_add_take(&s, names[i], NULL, sl_ctype_new(SL_CT_STRING), &e), &e);
    return s;
}

TEST(dedupe_names)
{
    struct sl_err e = {0};
    const char *const names[] = {"id", "Id", "name", "ID", "id_2", NULL};
    struct sl_cschema s = schema_of(names);
    CHECK_OK(sl_cschema_dedupe_names(&s, &e), &e);
    CHECK_STR(s.cols[0].name, "id");
    CHECK_STR(s.cols[1].name, "Id_3"); /* id_2 is taken by a later column */
    CHECK_STR(s.cols[1].source_name, "Id");
    CHECK_STR(s.cols[2].name, "name");
    CHECK_STR(s.cols[3].name, "ID_4");
    CHECK_STR(s.cols[4].name, "id_2");
    CHECK(s.cols[0].source_name == NULL && s.cols[4].source_name == NULL);

    struct sl_cschema c;
    CHECK_OK(sl_cschema_copy(&c, &s, &e), &e);
    CHECK(c.n_cols == 5 && strcmp(c.cols[3].source_name, "ID") == 0);
    CHECK(c.cols[3].type != s.cols[3].type && c.cols[3].type->kind == SL_CT_STRING);
    sl_cschema_cleanup(&c);
    sl_cschema_cleanup(&s);
    sl_cschema_cleanup(&s); /* twice is harmless */
}

TEST(add_keeps_source_only_when_different)
{
    struct sl_cschema s = {0};
    struct sl_err e = {0};
    CHECK_OK(sl_cschema_add_take(&s, "a", "a", NULL, &e), &e);
    CHECK_OK(sl_cschema_add_take(&s, "b", "B", sl_ctype_new(SL_CT_BIGINT), &e), &e);
    CHECK(s.cols[0].source_name == NULL && s.cols[0].type == NULL);
    CHECK_STR(s.cols[1].source_name, "B");
    struct sl_ctype *t = sl_ctype_new(SL_CT_BIGINT);
    sl_alloc_fail_reset(1); /* the type is taken even on failure (ASan sees no leak) */
    CHECK(sl_cschema_add_take(&s, "c", NULL, t, &e) == SL_ENOMEM);
    sl_alloc_fail_reset(0);
    CHECK(s.n_cols == 2);
    sl_cschema_cleanup(&s);
}

TEST(results_and_warnings)
{
    struct sl_cls_result r;
    sl_cls_result_init(&r);
    CHECK(json_is_object(r.format_params) && r.header_evidence == NULL);
    CHECK(r.classification[0] == '\0' && r.certainty == 0);
    for (int i = 0; i < SL_CLS_MAX_WARNINGS + 4; i++)
        sl_cls_warn(&r, "AMBIGUOUS_DATE", "column \"c%d\"", i);
    CHECK(r.n_warnings == SL_CLS_MAX_WARNINGS);
    CHECK_STR(r.warnings[3].detail, "column \"c3\"");
    sl_cls_warn(&r, "X", "y"); /* still dropped */
    CHECK(r.n_warnings == SL_CLS_MAX_WARNINGS);
    sl_cls_result_cleanup(&r);
    sl_cls_result_cleanup(&r);
}

int main(void)
{
    t_suite = "schema/";
    RUN(defaults);
    RUN(normalise_names);
    RUN(dedupe_names);
    RUN(add_keeps_source_only_when_different);
    RUN(results_and_warnings);
    TEST_EXIT();
}
