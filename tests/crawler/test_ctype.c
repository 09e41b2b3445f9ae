/*
 * tests/crawler/test_ctype.c - crawler/ctype.c: the §7.1 join table, Hive type
 * strings (render, parse, back-quoting), equality and copies.
 */
#include <stdio.h>
#include <string.h>

#include "crawler/ctype.h"
#include "runtime/alloc.h"
#include "tests/test.h"

/* join(parse(a), parse(b)) rendered; both orders must agree. */
static char *join_str(const char *a, const char *b)
{
    struct sl_err e = {0};
    struct sl_ctype *ta = sl_ctype_parse(a, &e), *tb = sl_ctype_parse(b, &e);
    if (!ta || !tb) {
        sl_ctype_free(ta);
        sl_ctype_free(tb);
        return sl_strdup("<parse error>");
    }
    struct sl_ctype *j1 = sl_ctype_join(ta, tb), *j2 = sl_ctype_join(tb, ta);
    char *s1 = sl_ctype_to_string(j1), *s2 = sl_ctype_to_string(j2);
    char *r = s1;
    /* struct unions keep first-seen order, so only compare the kinds there */
    if (!strstr(s1, "struct") && strcmp(s1, s2) != 0) {
        fprintf(stdout, "#   join not symmetric: %s / %s\n", s1, s2);
        r = sl_strdup("<asymmetric>");
        sl_free(s1);
    }
    sl_free(s2);
    sl_ctype_free(ta);
    sl_ctype_free(tb);
    sl_ctype_free(j1);
    sl_ctype_free(j2);
    return r;
}

#define CHECK_JOIN(a, b, want)                                                                     \
    do {                                                                                           \
        char *t_j = join_str(a, b);                                                                \
        CHECK_STR(t_j, want);                                                                      \
        sl_free(t_j);                                                                              \
    } while (0)

static struct sl_ctype *mk(enum sl_ct_kind k)
{
    return sl_ctype_new(k);
}

TEST(join_null_is_bottom)
{
    struct sl_ctype *n = mk(SL_CT_NULL), *b = mk(SL_CT_BIGINT);
    struct sl_ctype *j = sl_ctype_join(n, b);
    CHECK(j && j->kind == SL_CT_BIGINT);
    sl_ctype_free(j);
    j = sl_ctype_join(b, n);
    CHECK(j && j->kind == SL_CT_BIGINT);
    sl_ctype_free(j);
    j = sl_ctype_join(n, n);
    CHECK(j && j->kind == SL_CT_NULL);
    char *s = sl_ctype_to_string(j); /* a placeholder renders as string */
    CHECK_STR(s, "string");
    sl_free(s);
    sl_ctype_free(j);
    j = sl_ctype_join(NULL, b); /* a missing type is the bottom too */
    CHECK(j && j->kind == SL_CT_BIGINT);
    sl_ctype_free(j);
    sl_ctype_free(n);
    sl_ctype_free(b);
}

TEST(join_integers_widen)
{
    CHECK_JOIN("tinyint", "smallint", "smallint");
    CHECK_JOIN("tinyint", "int", "int");
    CHECK_JOIN("smallint", "bigint", "bigint");
    CHECK_JOIN("int", "bigint", "bigint");
    CHECK_JOIN("bigint", "bigint", "bigint");
}

TEST(join_decimals)
{
    CHECK_JOIN("bigint", "decimal(10,2)", "decimal(21,2)");
    CHECK_JOIN("bigint", "decimal(19,0)", "decimal(19,0)");
    CHECK_JOIN("bigint", "decimal(25,0)", "decimal(25,0)");
    CHECK_JOIN("bigint", "decimal(38,20)", "double"); /* 19 + 20 > 38 */
    CHECK_JOIN("decimal(5,2)", "decimal(10,4)", "decimal(10,4)");
    CHECK_JOIN("decimal(5,2)", "decimal(4,3)", "decimal(6,3)");
    CHECK_JOIN("decimal(38,0)", "decimal(38,38)", "double");
    CHECK_JOIN("int", "decimal(5,2)", "decimal(12,2)");
    CHECK_JOIN("tinyint", "decimal(2,1)", "decimal(4,1)");
}

TEST(join_floats)
{
    CHECK_JOIN("bigint", "double", "double");
    CHECK_JOIN("int", "float", "double");
    CHECK_JOIN("decimal(10,2)", "double", "double");
    CHECK_JOIN("float", "double", "double");
    CHECK_JOIN("float", "float", "float");
    CHECK_JOIN("double", "double", "double");
}

TEST(join_temporal)
{
    struct sl_ctype *d = mk(SL_CT_DATE), *ts = mk(SL_CT_TIMESTAMP);
    ts->tz = SL_CT_TZ_NAIVE;
    struct sl_ctype *j = sl_ctype_join(d, ts);
    CHECK(j && j->kind == SL_CT_TIMESTAMP && j->tz == SL_CT_TZ_NAIVE);
    sl_ctype_free(j);
    d->non_iso = true; /* %d/%m/%Y with a timestamp: no common reading */
    j = sl_ctype_join(d, ts);
    CHECK(j && j->kind == SL_CT_STRING);
    CHECK(sl_ctype_join_falls_to_string(d, ts));
    sl_ctype_free(j);
    d->non_iso = false;
    ts->non_iso = true;
    j = sl_ctype_join(ts, d);
    CHECK(j && j->kind == SL_CT_STRING);
    sl_ctype_free(j);

    struct sl_ctype *tz = mk(SL_CT_TIMESTAMP);
    tz->tz = SL_CT_TZ_EXPLICIT;
    ts->non_iso = false;
    j = sl_ctype_join(ts, tz); /* naive with offsets */
    CHECK(j && j->kind == SL_CT_STRING);
    sl_ctype_free(j);
    j = sl_ctype_join(tz, tz);
    CHECK(j && j->kind == SL_CT_TIMESTAMP && j->tz == SL_CT_TZ_EXPLICIT);
    sl_ctype_free(j);
    struct sl_ctype *unk = mk(SL_CT_TIMESTAMP); /* e.g. Parquet INT96: no flavour */
    j = sl_ctype_join(unk, tz);
    CHECK(j && j->kind == SL_CT_TIMESTAMP && j->tz == SL_CT_TZ_EXPLICIT);
    sl_ctype_free(j);
    j = sl_ctype_join(d, d);
    CHECK(j && j->kind == SL_CT_DATE);
    sl_ctype_free(j);
    sl_ctype_free(unk);
    sl_ctype_free(tz);
    sl_ctype_free(d);
    sl_ctype_free(ts);
}

TEST(join_everything_else_is_string)
{
    CHECK_JOIN("boolean", "bigint", "string");
    CHECK_JOIN("boolean", "boolean", "boolean");
    CHECK_JOIN("bigint", "date", "string");
    CHECK_JOIN("double", "timestamp", "string");
    CHECK_JOIN("struct<a:bigint>", "bigint", "string");
    CHECK_JOIN("array<bigint>", "string", "string");
    CHECK_JOIN("binary", "string", "string");
    CHECK_JOIN("binary", "bigint", "string");
    CHECK_JOIN("binary", "binary", "binary");
    CHECK_JOIN("array<bigint>", "map<string,bigint>", "string");
    CHECK_JOIN("string", "string", "string");
}

TEST(join_nested)
{
    CHECK_JOIN("array<bigint>", "array<double>", "array<double>");
    CHECK_JOIN("array<bigint>", "array<string>", "array<string>");
    CHECK_JOIN("array<array<int>>", "array<array<bigint>>", "array<array<bigint>>");
    CHECK_JOIN("map<string,bigint>", "map<string,double>", "map<string,double>");
    CHECK_JOIN("struct<a:bigint,b:string>", "struct<b:string,c:date>",
               "struct<a:bigint,b:string,c:date>");
    CHECK_JOIN("struct<a:bigint>", "struct<a:double>", "struct<a:double>");
    CHECK_JOIN("struct<a:bigint>", "struct<a:boolean>", "struct<a:string>");
    CHECK_JOIN("struct<a:bigint,b:double>", "map<string,bigint>", "map<string,double>");
    CHECK_JOIN("struct<a:bigint,b:date>", "map<string,bigint>", "map<string,string>");
    CHECK_JOIN("array<struct<x:int>>", "array<struct<y:string>>", "array<struct<x:int,y:string>>");
}

TEST(join_struct_keeps_first_seen_order)
{
    char *s = join_str("struct<b:int,a:int>", "struct<c:int,a:bigint>");
    CHECK_STR(s, "struct<b:int,a:bigint,c:int>");
    sl_free(s);
}

TEST(falls_to_string)
{
    struct sl_err e = {0};
    struct sl_ctype *a = sl_ctype_parse("bigint", &e), *b = sl_ctype_parse("boolean", &e);
    struct sl_ctype *s = sl_ctype_parse("string", &e), *d = sl_ctype_parse("double", &e);
    struct sl_ctype *n = mk(SL_CT_NULL);
    CHECK(sl_ctype_join_falls_to_string(a, b));
    CHECK(!sl_ctype_join_falls_to_string(a, d));
    CHECK(!sl_ctype_join_falls_to_string(a, s)); /* already a string */
    CHECK(!sl_ctype_join_falls_to_string(n, b));
    sl_ctype_free(a);
    sl_ctype_free(b);
    sl_ctype_free(s);
    sl_ctype_free(d);
    sl_ctype_free(n);
}

static void round_trip(const char *in, const char *want)
{
    struct sl_err e = {0};
    struct sl_ctype *t = sl_ctype_parse(in, &e);
    CHECKF(t != NULL, "parse \"%s\": %s", in, e.msg);
    if (!t)
        return;
    char *s = sl_ctype_to_string(t);
    CHECK_STR(s, want);
    struct sl_ctype *t2 = sl_ctype_parse(s, &e);
    CHECK(t2 && sl_ctype_equal(t, t2));
    struct sl_ctype *c = sl_ctype_copy(t);
    CHECK(c && sl_ctype_equal(t, c));
    sl_ctype_free(c);
    sl_ctype_free(t2);
    sl_free(s);
    sl_ctype_free(t);
}

TEST(render_parse_round_trips)
{
    static const char *const same[] = {
        "boolean",
        "tinyint",
        "smallint",
        "int",
        "bigint",
        "float",
        "double",
        "date",
        "timestamp",
        "string",
        "binary",
        "decimal(19,0)",
        "decimal(38,10)",
        "array<string>",
        "map<string,double>",
        "array<map<string,array<bigint>>>",
        "struct<a:bigint,b:struct<c:date,d:array<boolean>>>",
        "struct<>",
        "struct<`b c`:string,`1x`:int,_ok:date,`a``b`:double,`é`:string>",
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(same); i++)
        round_trip(same[i], same[i]);
    round_trip("  ARRAY < INT > ", "array<int>");
    round_trip("integer", "int");
    round_trip("varchar(20)", "string");
    round_trip("decimal", "decimal(10,0)");
    round_trip("decimal(7)", "decimal(7,0)");
    round_trip("struct<a b : int>", "struct<`a b`:int>");
    round_trip("map<int, struct<x:string>>", "map<int,struct<x:string>>");
}

TEST(render_back_quotes_field_names)
{
    struct sl_err e = {0};
    struct sl_ctype *st = mk(SL_CT_STRUCT);
    CHECK_OK(sl_ctype_struct_add_take(st, "plain_Name1", mk(SL_CT_BIGINT), &e), &e);
    CHECK_OK(sl_ctype_struct_add_take(st, "with space", mk(SL_CT_STRING), &e), &e);
    CHECK_OK(sl_ctype_struct_add_take(st, "9lives", mk(SL_CT_DATE), &e), &e);
    CHECK_OK(sl_ctype_struct_add_take(st, "tick`in", mk(SL_CT_NULL), &e), &e);
    CHECK_OK(sl_ctype_struct_add_take(st, "a:b,c<d>", mk(SL_CT_DOUBLE), &e), &e);
    char *s = sl_ctype_to_string(st);
    CHECK_STR(s, "struct<plain_Name1:bigint,`with space`:string,`9lives`:date,`tick``in`:string,"
                 "`a:b,c<d>`:double>");
    struct sl_ctype *back = sl_ctype_parse(s, &e);
    CHECK(back && back->n_fields == 5);
    if (back && back->n_fields == 5) {
        CHECK_STR(back->fields[3].name, "tick`in");
        CHECK_STR(back->fields[4].name, "a:b,c<d>");
    }
    sl_ctype_free(back);
    sl_free(s);

    struct sl_ctype *dup = sl_ctype_copy(st);
    CHECK(sl_ctype_equal(st, dup));
    CHECK_OK(sl_ctype_struct_add_take(dup, "more", mk(SL_CT_INT), &e), &e);
    CHECK(!sl_ctype_equal(st, dup));
    sl_ctype_free(dup);
    sl_ctype_free(st);

    struct sl_ctype *notst = mk(SL_CT_BIGINT); /* adding to a non-struct takes the type anyway */
    CHECK(sl_ctype_struct_add_take(notst, "x", mk(SL_CT_INT), &e) == SL_EINTERNAL);
    sl_ctype_free(notst);
}

TEST(render_into_buffer)
{
    struct sl_err e = {0};
    struct sl_buf b;
    sl_buf_init(&b, 0);
    struct sl_ctype *t = sl_ctype_map_take(mk(SL_CT_STRING), sl_ctype_decimal(12, 3));
    CHECK_OK(sl_buf_puts(&b, "type=", &e), &e);
    CHECK_OK(sl_ctype_render(t, &b, &e), &e);
    CHECK_STR(b.data, "type=map<string,decimal(12,3)>");
    sl_buf_cleanup(&b);
    sl_buf_init(&b, 8); /* the buffer ceiling is reported, not overrun */
    CHECK(sl_ctype_render(t, &b, &e) == SL_ELIMIT);
    sl_buf_cleanup(&b);
    sl_ctype_free(t);
}

TEST(parse_errors_carry_offsets)
{
    static const struct {
        const char *in;
        const char *where;
    } bad[] = {
        {"", "offset 0"},
        {"bigint x", "offset 7"},
        {"array<bigint", "offset 12"},
        {"map<string>", "offset 10"},
        {"struct<a bigint>", "offset 15"},
        {"struct<`a:int>", "unterminated"},
        {"decimal(39,0)", "decimal precision"},
        {"decimal(5,6)", "decimal precision"},
        {"arry<int>", "offset 0: unknown type"},
        {"struct<:int>", "expected a field name"},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(bad); i++) {
        struct sl_err e = {0};
        struct sl_ctype *t = sl_ctype_parse(bad[i].in, &e);
        CHECKF(t == NULL, "\"%s\" parsed", bad[i].in);
        sl_ctype_free(t);
        CHECK(e.code == SL_EPARSE);
        CHECKF(strstr(e.msg, bad[i].where) != NULL, "\"%s\": %s", bad[i].in, e.msg);
    }
}

TEST(parse_depth_is_bounded)
{
    char deep[2000];
    size_t n = 0;
    for (int i = 0; i < 300; i++)
        n += (size_t)snprintf(deep + n, sizeof deep - n, "array<");
    snprintf(deep + n, sizeof deep - n, "int");
    struct sl_err e = {0};
    struct sl_ctype *t = sl_ctype_parse(deep, &e);
    CHECK(t == NULL && e.code == SL_EPARSE && strstr(e.msg, "nested too deeply"));
}

TEST(equal_compares_parameters)
{
    struct sl_ctype *a = sl_ctype_decimal(10, 2), *b = sl_ctype_decimal(10, 3);
    CHECK(!sl_ctype_equal(a, b));
    b->scale = 2;
    CHECK(sl_ctype_equal(a, b));
    CHECK(sl_ctype_equal(NULL, NULL));
    CHECK(!sl_ctype_equal(a, NULL));
    struct sl_ctype *t1 = mk(SL_CT_TIMESTAMP), *t2 = mk(SL_CT_TIMESTAMP);
    t1->tz = SL_CT_TZ_NAIVE;
    t2->tz = SL_CT_TZ_EXPLICIT;
    CHECK(!sl_ctype_equal(t1, t2));
    sl_ctype_free(a);
    sl_ctype_free(b);
    sl_ctype_free(t1);
    sl_ctype_free(t2);
}

TEST(allocation_failures_are_clean)
{
    /* every allocation of a nested join and render fails in turn: NULL, no leak */
    struct sl_err e = {0};
    struct sl_ctype *a = sl_ctype_parse("struct<a:array<bigint>,b:map<string,int>>", &e);
    struct sl_ctype *b = sl_ctype_parse("struct<c:date,a:array<double>>", &e);
    int done = 0;
    for (long n = 1; n < 200 && !done; n++) {
        sl_alloc_fail_reset(n);
        struct sl_ctype *j = sl_ctype_join(a, b);
        char *s = j ? sl_ctype_to_string(j) : NULL;
        struct sl_ctype *p = s ? sl_ctype_parse(s, &e) : NULL;
        sl_alloc_fail_reset(0);
        if (p) {
            char *s2 = sl_ctype_to_string(p);
            CHECK_STR(s2, "struct<a:array<double>,b:map<string,int>,c:date>");
            sl_free(s2);
            done = 1;
        }
        sl_ctype_free(p);
        sl_free(s);
        sl_ctype_free(j);
    }
    CHECK(done);
    sl_ctype_free(a);
    sl_ctype_free(b);
}

int main(void)
{
    t_suite = "ctype/";
    RUN(join_null_is_bottom);
    RUN(join_integers_widen);
    RUN(join_decimals);
    RUN(join_floats);
    RUN(join_temporal);
    RUN(join_everything_else_is_string);
    RUN(join_nested);
    RUN(join_struct_keeps_first_seen_order);
    RUN(falls_to_string);
    RUN(render_parse_round_trips);
    RUN(render_back_quotes_field_names);
    RUN(render_into_buffer);
    RUN(parse_errors_carry_offsets);
    RUN(parse_depth_is_bounded);
    RUN(equal_compares_parameters);
    RUN(allocation_failures_are_clean);
    TEST_EXIT();
}
