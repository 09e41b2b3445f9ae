/*
 * tests/runtime/test_agg.c - partial aggregation states (runtime/agg.c): each
 * kind with NULLs and all-NULL groups, integer overflow, order independence of
 * double sums and of first/last, exact count_distinct across merged partials,
 * the encoding (round trips, combiner, hostile bytes) and allocation failure.
 * Random cases use a fixed-seed xorshift generator.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/agg.h"
#include "runtime/alloc.h"
#include "runtime/arena.h"
#include "runtime/buf.h"
#include "runtime/err.h"
#include "runtime/value.h"
#include "tests/test.h"

static struct sl_arena A;

static uint64_t rng_state = UINT64_C(0x243f6a8885a308d3);

static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

static void shuffle_idx(size_t *v, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(rnd() % i);
        size_t t = v[i - 1];
        v[i - 1] = v[j];
        v[j] = t;
    }
}

static struct sl_value vnull(void)
{
    return (struct sl_value){.type = SL_V_NULL};
}

static struct sl_value vint(int64_t i)
{
    return (struct sl_value){.type = SL_V_INT, .i = i};
}

static struct sl_value vdbl(double d)
{
    return (struct sl_value){.type = SL_V_DOUBLE, .d = d};
}

static struct sl_value vstr(const char *s)
{
    return (struct sl_value){.type = SL_V_STRING, .len = (uint32_t)strlen(s), .s = s};
}

static struct sl_value vtyped(enum sl_vtype t, int64_t i)
{
    return (struct sl_value){.type = (uint8_t)t, .i = i};
}

/* A state of n specs on the heap, initialised. */
static struct sl_agg_state *st_new(const struct sl_agg_spec *sp, size_t n)
{
    struct sl_agg_state *s = malloc(sl_agg_state_size(n) ? sl_agg_state_size(n) : 1);
    sl_agg_init(sp, n, s);
    return s;
}

static void st_free(const struct sl_agg_spec *sp, size_t n, struct sl_agg_state *s)
{
    if (!s)
        return;
    sl_agg_cleanup(sp, n, s);
    free(s);
}

static int val_same(const struct sl_value *a, const struct sl_value *b)
{
    if (a->type != b->type)
        return 0;
    if (a->type == SL_V_DOUBLE)
        return memcmp(&a->d, &b->d, sizeof a->d) == 0 || (isnan(a->d) && isnan(b->d));
    return sl_value_eq(a, b);
}

/* ---- names, checks, types ---- */

TEST(names_and_checks)
{
    for (int k = SL_AGG_COUNT; k <= SL_AGG_LAST; k++)
        CHECK(sl_agg_parse(sl_agg_name((enum sl_agg_kind)k)) == k);
    CHECK(sl_agg_parse("median") == -1);
    CHECK_STR(sl_agg_name(SL_AGG_COUNT_DISTINCT), "count_distinct");

    struct sl_err e = {0};
    struct sl_agg_spec ok[] = {{SL_AGG_COUNT, -1, SL_V_NULL},
                               {SL_AGG_SUM, 0, SL_V_INT},
                               {SL_AGG_AVG, 1, SL_V_DOUBLE},
                               {SL_AGG_MIN, 2, SL_V_STRING}};
    CHECK_OK(sl_agg_check(ok, 4, 3, &e), &e);
    struct sl_agg_spec bad1[] = {{SL_AGG_SUM, 2, SL_V_STRING}};
    CHECK(sl_agg_check(bad1, 1, 3, &e) == SL_ECONFIG);
    CHECK(strstr(e.msg, "sum of string") != NULL);
    struct sl_agg_spec bad2[] = {{SL_AGG_MIN, -1, SL_V_INT}};
    CHECK(sl_agg_check(bad2, 1, 3, &e) == SL_ECONFIG);
    struct sl_agg_spec bad3[] = {{SL_AGG_MAX, 3, SL_V_INT}};
    CHECK(sl_agg_check(bad3, 1, 3, &e) == SL_ECONFIG);
    struct sl_agg_spec bad4[] = {{(enum sl_agg_kind)42, 0, SL_V_INT}};
    CHECK(sl_agg_check(bad4, 1, 3, &e) == SL_ECONFIG);
    struct sl_agg_spec bad5[] = {{SL_AGG_AVG, 0, SL_V_DATE}};
    CHECK(sl_agg_check(bad5, 1, 3, &e) == SL_ECONFIG);

    struct sl_agg_spec t = {SL_AGG_SUM, 0, SL_V_INT};
    CHECK(sl_agg_out_type(&t) == SL_V_INT);
    t.in_type = SL_V_DOUBLE;
    CHECK(sl_agg_out_type(&t) == SL_V_DOUBLE);
    t = (struct sl_agg_spec){SL_AGG_AVG, 0, SL_V_INT};
    CHECK(sl_agg_out_type(&t) == SL_V_DOUBLE);
    t = (struct sl_agg_spec){SL_AGG_COUNT_DISTINCT, 0, SL_V_STRING};
    CHECK(sl_agg_out_type(&t) == SL_V_INT);
    t = (struct sl_agg_spec){SL_AGG_LAST, 0, SL_V_DATE};
    CHECK(sl_agg_out_type(&t) == SL_V_DATE);
    CHECK(sl_agg_state_size(3) == 96);
}

/* ---- each kind, with NULLs ---- */

/* columns: 0 int, 1 double, 2 string */
static const struct sl_agg_spec ALL[] = {
    {SL_AGG_COUNT, -1, SL_V_NULL},           /* 0 */
    {SL_AGG_COUNT, 0, SL_V_INT},             /* 1 */
    {SL_AGG_COUNT_DISTINCT, 2, SL_V_STRING}, /* 2 */
    {SL_AGG_SUM, 0, SL_V_INT},               /* 3 */
    {SL_AGG_SUM, 1, SL_V_DOUBLE},            /* 4 */
    {SL_AGG_MIN, 2, SL_V_STRING},            /* 5 */
    {SL_AGG_MAX, 0, SL_V_INT},               /* 6 */
    {SL_AGG_AVG, 0, SL_V_INT},               /* 7 */
    {SL_AGG_AVG, 1, SL_V_DOUBLE},            /* 8 */
    {SL_AGG_FIRST, 2, SL_V_STRING},          /* 9 */
    {SL_AGG_LAST, 1, SL_V_DOUBLE},           /* 10 */
    {SL_AGG_COUNT_DISTINCT, 0, SL_V_INT},    /* 11 */
    {SL_AGG_MAX, 2, SL_V_STRING},            /* 12 */
    {SL_AGG_LAST, 2, SL_V_STRING},           /* 13 */
};
#define N_ALL SL_ARRAY_LEN(ALL)

static void feed_small(struct sl_agg_state *s, struct sl_err *e)
{
    char buf[16];
    struct sl_value rows[6][3] = {
        {vint(5), vdbl(1.5), vstr("pear")}, {vnull(), vdbl(2.5), vnull()},
        {vint(-2), vnull(), vstr("apple")}, {vint(5), vdbl(-1.0), vstr("zebra")},
        {vnull(), vnull(), vnull()},        {vint(10), vdbl(4.0), vstr("apple")},
    };
    for (size_t r = 0; r < 6; r++) {
        /* strings from a scratch buffer that is overwritten after each row, as a
         * recycled batch would be: the state must have copied what it keeps */
        struct sl_value row[3] = {rows[r][0], rows[r][1], rows[r][2]};
        if (row[2].type == SL_V_STRING) {
            memcpy(buf, row[2].s, row[2].len);
            row[2].s = buf;
        }
        CHECK_OK(sl_agg_update(ALL, N_ALL, s, row, (uint64_t)r, e), e);
        memset(buf, 'X', sizeof buf);
    }
}

TEST(each_kind_small)
{
    struct sl_err e = {0};
    struct sl_agg_state *s = st_new(ALL, N_ALL);
    struct sl_value out[N_ALL];
    feed_small(s, &e);
    CHECK_OK(sl_agg_finish(ALL, N_ALL, s, out, &A, &e), &e);
    CHECK(out[0].type == SL_V_INT && out[0].i == 6);
    CHECK(out[1].type == SL_V_INT && out[1].i == 4);
    CHECK(out[2].type == SL_V_INT && out[2].i == 3); /* pear apple zebra */
    CHECK(out[3].type == SL_V_INT && out[3].i == 18);
    CHECK(out[4].type == SL_V_DOUBLE && out[4].d == 7.0);
    CHECK(out[5].type == SL_V_STRING && out[5].len == 5 && memcmp(out[5].s, "apple", 5) == 0);
    CHECK(out[6].type == SL_V_INT && out[6].i == 10);
    CHECK(out[7].type == SL_V_DOUBLE && out[7].d == 4.5);
    CHECK(out[8].type == SL_V_DOUBLE && out[8].d == 1.75);
    CHECK(out[9].type == SL_V_STRING && out[9].len == 4 && memcmp(out[9].s, "pear", 4) == 0);
    CHECK(out[10].type == SL_V_DOUBLE && out[10].d == 4.0);
    CHECK(out[11].type == SL_V_INT && out[11].i == 3); /* 5 -2 10 */
    CHECK(out[12].type == SL_V_STRING && out[12].len == 5 && memcmp(out[12].s, "zebra", 5) == 0);
    CHECK(out[13].type == SL_V_STRING && out[13].len == 5 && memcmp(out[13].s, "apple", 5) == 0);
    CHECK(sl_agg_state_bytes(ALL, N_ALL, s) > sl_agg_state_size(N_ALL));
    st_free(ALL, N_ALL, s);
}

TEST(all_null_and_empty_groups)
{
    struct sl_err e = {0};
    struct sl_value out[N_ALL];
    /* an empty group: count() is 0, everything else 0 or NULL */
    struct sl_agg_state *s = st_new(ALL, N_ALL);
    CHECK_OK(sl_agg_finish(ALL, N_ALL, s, out, &A, &e), &e);
    CHECK(out[0].type == SL_V_INT && out[0].i == 0);
    CHECK(out[1].type == SL_V_INT && out[1].i == 0);
    CHECK(out[2].type == SL_V_INT && out[2].i == 0);
    for (size_t i = 3; i <= 10; i++)
        CHECKF(out[i].type == SL_V_NULL, "agg %zu", i);
    CHECK(sl_agg_state_bytes(ALL, N_ALL, s) == sl_agg_state_size(N_ALL));
    /* three all-NULL rows */
    struct sl_value row[3] = {vnull(), vnull(), vnull()};
    for (int r = 0; r < 3; r++)
        CHECK_OK(sl_agg_update(ALL, N_ALL, s, row, (uint64_t)r, &e), &e);
    CHECK_OK(sl_agg_finish(ALL, N_ALL, s, out, &A, &e), &e);
    CHECK(out[0].type == SL_V_INT && out[0].i == 3);
    CHECK(out[1].type == SL_V_INT && out[1].i == 0);
    CHECK(out[2].type == SL_V_INT && out[2].i == 0);
    CHECK(out[11].type == SL_V_INT && out[11].i == 0);
    for (size_t i = 3; i <= 10; i++)
        CHECKF(out[i].type == SL_V_NULL, "agg %zu", i);
    /* cleanup twice is a no-op, the state is reusable */
    sl_agg_cleanup(ALL, N_ALL, s);
    sl_agg_cleanup(ALL, N_ALL, s);
    feed_small(s, &e);
    CHECK_OK(sl_agg_finish(ALL, N_ALL, s, out, &A, &e), &e);
    CHECK(out[0].i == 6);
    st_free(ALL, N_ALL, s);
}

TEST(type_mismatch_is_a_row_error)
{
    struct sl_err e = {0};
    struct sl_agg_spec sp[] = {{SL_AGG_COUNT, -1, SL_V_NULL}, {SL_AGG_SUM, 0, SL_V_INT}};
    struct sl_agg_state *s = st_new(sp, 2);
    struct sl_value row[1] = {vstr("12")};
    CHECK(sl_agg_update(sp, 2, s, row, 0, &e) == SL_EPARSE);
    CHECK(strstr(e.msg, "value is string, expected bigint") != NULL);
    row[0] = vint(12);
    CHECK_OK(sl_agg_update(sp, 2, s, row, 1, &e), &e);
    struct sl_value out[2];
    CHECK_OK(sl_agg_finish(sp, 2, s, out, &A, &e), &e);
    CHECK(out[0].i == 1 && out[1].i == 12); /* the rejected row was not counted */
    st_free(sp, 2, s);
}

/* ---- integer sums ---- */

TEST(int_sum_overflow)
{
    struct sl_err e = {0};
    struct sl_agg_spec sp[] = {{SL_AGG_SUM, 0, SL_V_INT}, {SL_AGG_AVG, 0, SL_V_INT}};
    struct sl_value out[2];
    struct sl_agg_state *s = st_new(sp, 2);
    struct sl_value row[1] = {vint(INT64_MAX)};
    CHECK_OK(sl_agg_update(sp, 2, s, row, 0, &e), &e);
    row[0] = vint(1);
    CHECK_OK(sl_agg_update(sp, 2, s, row, 1, &e), &e);
    CHECK(sl_agg_finish(sp, 2, s, out, &A, &e) == SL_EPARSE);
    CHECK(strstr(e.msg, "sum overflows bigint") != NULL);
    /* the decision is on the exact total: +max +1 -5 fits, in any order */
    row[0] = vint(-5);
    CHECK_OK(sl_agg_update(sp, 2, s, row, 2, &e), &e);
    CHECK_OK(sl_agg_finish(sp, 2, s, out, &A, &e), &e);
    CHECK(out[0].type == SL_V_INT && out[0].i == INT64_MAX - 4);
    CHECK(out[1].type == SL_V_DOUBLE && out[1].d == (double)(INT64_MAX - 4) / 3);
    st_free(sp, 2, s);

    /* negative side, via merged partials */
    struct sl_agg_state *a = st_new(sp, 2), *b = st_new(sp, 2);
    row[0] = vint(INT64_MIN);
    CHECK_OK(sl_agg_update(sp, 2, a, row, 0, &e), &e);
    row[0] = vint(-1);
    CHECK_OK(sl_agg_update(sp, 2, b, row, 1, &e), &e);
    CHECK_OK(sl_agg_merge(sp, 2, a, b, &e), &e);
    CHECK(sl_agg_finish(sp, 2, a, out, &A, &e) == SL_EPARSE);
    struct sl_buf buf;
    sl_buf_init(&buf, 0);
    CHECK_OK(sl_agg_encode(sp, 2, a, &buf, &e), &e); /* a partial over int64 still travels */
    struct sl_agg_state *c = st_new(sp, 2);
    CHECK_OK(sl_agg_decode(sp, 2, buf.data, buf.len, c, &e), &e);
    row[0] = vint(2);
    CHECK_OK(sl_agg_update(sp, 2, c, row, 2, &e), &e);
    CHECK_OK(sl_agg_finish(sp, 2, c, out, &A, &e), &e);
    CHECK(out[0].type == SL_V_INT && out[0].i == INT64_MIN + 1);
    sl_buf_cleanup(&buf);
    st_free(sp, 2, a);
    st_free(sp, 2, b);
    st_free(sp, 2, c);
}

/* ---- order independence ---- */

#define N_RANDOM 100000
#define N_PARTS  7

/* Sums vals in one pass and as N_PARTS partials (rows dealt at random) merged
 * in a random order, some through encode/decode; returns the merged result of
 * the spec list (sum, avg) in out_merged, the one-pass result in out_one. */
static void sum_both_ways(const struct sl_agg_spec *sp, const struct sl_value *vals, size_t n,
                          struct sl_value *out_one, struct sl_value *out_merged)
{
    struct sl_err e = {0};
    struct sl_agg_state *one = st_new(sp, 2);
    struct sl_agg_state *parts[N_PARTS];
    for (size_t p = 0; p < N_PARTS; p++)
        parts[p] = st_new(sp, 2);
    for (size_t i = 0; i < n; i++) {
        CHECK_OK(sl_agg_update(sp, 2, one, &vals[i], i, &e), &e);
        CHECK_OK(sl_agg_update(sp, 2, parts[rnd() % N_PARTS], &vals[i], i, &e), &e);
    }
    size_t order[N_PARTS];
    for (size_t p = 0; p < N_PARTS; p++)
        order[p] = p;
    shuffle_idx(order, N_PARTS);
    struct sl_agg_state *acc = st_new(sp, 2);
    struct sl_buf b;
    sl_buf_init(&b, 0);
    for (size_t p = 0; p < N_PARTS; p++) {
        if (p % 2) { /* half of them travel as bytes */
            struct sl_agg_state *d = st_new(sp, 2);
            sl_buf_reset(&b);
            CHECK_OK(sl_agg_encode(sp, 2, parts[order[p]], &b, &e), &e);
            sl_agg_cleanup(sp, 2, d);
            CHECK_OK(sl_agg_decode(sp, 2, b.data, b.len, d, &e), &e);
            CHECK_OK(sl_agg_merge(sp, 2, acc, d, &e), &e);
            st_free(sp, 2, d);
        } else {
            CHECK_OK(sl_agg_merge(sp, 2, acc, parts[order[p]], &e), &e);
        }
    }
    CHECK_OK(sl_agg_finish(sp, 2, one, out_one, &A, &e), &e);
    CHECK_OK(sl_agg_finish(sp, 2, acc, out_merged, &A, &e), &e);
    sl_buf_cleanup(&b);
    st_free(sp, 2, acc);
    st_free(sp, 2, one);
    for (size_t p = 0; p < N_PARTS; p++)
        st_free(sp, 2, parts[p]);
}

static double rnd_unit(void)
{
    return (double)(rnd() >> 11) / 9007199254740992.0;
}

TEST(double_sum_order_independent)
{
    struct sl_agg_spec sp[] = {{SL_AGG_SUM, 0, SL_V_DOUBLE}, {SL_AGG_AVG, 0, SL_V_DOUBLE}};
    struct sl_value *vals = malloc(N_RANDOM * sizeof *vals);
    /* wide magnitudes and both signs: the hard case for naive summation */
    for (size_t i = 0; i < N_RANDOM; i++) {
        double m = (rnd_unit() - 0.5) * pow(10.0, (double)(rnd() % 13) - 4);
        vals[i] = (i % 97 == 0) ? vnull() : vdbl(m);
    }
    for (int trial = 0; trial < 5; trial++) {
        struct sl_value one[2], merged[2];
        sum_both_ways(sp, vals, N_RANDOM, one, merged);
        for (int k = 0; k < 2; k++) {
            double rel = fabs(one[k].d - merged[k].d) / fmax(fabs(one[k].d), 1e-300);
            CHECKF(rel <= 1e-9, "trial %d agg %d: %.17g vs %.17g", trial, k, one[k].d, merged[k].d);
        }
    }
    /* heavy cancellation: pairs of +-1e15-scale values (shuffled apart) around
     * small ones; naive summation loses ~1e-5 of the small total here */
    for (size_t i = 0; i < N_RANDOM; i += 2) {
        double big = (rnd_unit() + 0.5) * 1e15;
        vals[i] = vdbl(big);
        vals[i + 1] = vdbl(-big + rnd_unit());
    }
    for (size_t i = N_RANDOM; i > 1; i--) {
        size_t j = (size_t)(rnd() % i);
        struct sl_value t = vals[i - 1];
        vals[i - 1] = vals[j];
        vals[j] = t;
    }
    for (int trial = 0; trial < 3; trial++) {
        struct sl_value one[2], merged[2];
        sum_both_ways(sp, vals, N_RANDOM, one, merged);
        double rel = fabs(one[0].d - merged[0].d) / fabs(one[0].d);
        CHECKF(rel <= 1e-9, "cancel trial %d: %.17g vs %.17g", trial, one[0].d, merged[0].d);
    }
    /* integral doubles: exactly equal */
    for (size_t i = 0; i < N_RANDOM; i++)
        vals[i] = vdbl((double)(int64_t)(rnd() % 2000001) - 1000000.0);
    for (int trial = 0; trial < 3; trial++) {
        struct sl_value one[2], merged[2];
        sum_both_ways(sp, vals, N_RANDOM, one, merged);
        CHECK(one[0].d == merged[0].d && one[1].d == merged[1].d);
    }
    /* bigint: exactly equal (and avg too: the exact sum is divided once) */
    struct sl_agg_spec ip[] = {{SL_AGG_SUM, 0, SL_V_INT}, {SL_AGG_AVG, 0, SL_V_INT}};
    for (size_t i = 0; i < N_RANDOM; i++)
        vals[i] = vint((int64_t)(rnd() >> 20) - (INT64_C(1) << 43));
    struct sl_value one[2], merged[2];
    sum_both_ways(ip, vals, N_RANDOM, one, merged);
    CHECK(one[0].type == SL_V_INT && one[0].i == merged[0].i);
    CHECK(memcmp(&one[1].d, &merged[1].d, sizeof(double)) == 0);
    free(vals);
}

TEST(double_sum_specials)
{
    struct sl_err e = {0};
    struct sl_agg_spec sp[] = {{SL_AGG_SUM, 0, SL_V_DOUBLE}};
    struct sl_value out[1];
    struct sl_agg_state *s = st_new(sp, 1);
    /* compensation: 1 + 1e100 - 1e100 is 1, not 0 */
    double xs[] = {1.0, 1e100, 1.0, -1e100};
    for (size_t i = 0; i < 4; i++)
        CHECK_OK(
            sl_agg_update(sp, 1, s, &(struct sl_value){.type = SL_V_DOUBLE, .d = xs[i]}, i, &e),
            &e);
    CHECK_OK(sl_agg_finish(sp, 1, s, out, &A, &e), &e);
    CHECK(out[0].d == 2.0);
    struct sl_value inf = vdbl(INFINITY);
    CHECK_OK(sl_agg_update(sp, 1, s, &inf, 9, &e), &e);
    CHECK_OK(sl_agg_finish(sp, 1, s, out, &A, &e), &e);
    CHECK(isinf(out[0].d) && out[0].d > 0);
    inf.d = -INFINITY;
    CHECK_OK(sl_agg_update(sp, 1, s, &inf, 10, &e), &e);
    CHECK_OK(sl_agg_finish(sp, 1, s, out, &A, &e), &e);
    CHECK(isnan(out[0].d));
    st_free(sp, 1, s);
}

/* ---- min/max on strings, dates, timestamps ---- */

TEST(min_max_types)
{
    struct sl_err e = {0};
    struct sl_agg_spec sp[] = {
        {SL_AGG_MIN, 0, SL_V_STRING},    {SL_AGG_MAX, 0, SL_V_STRING},
        {SL_AGG_MIN, 1, SL_V_DATE},      {SL_AGG_MAX, 1, SL_V_DATE},
        {SL_AGG_MIN, 2, SL_V_TIMESTAMP}, {SL_AGG_MAX, 2, SL_V_TIMESTAMP},
        {SL_AGG_MIN, 3, SL_V_DOUBLE},    {SL_AGG_MAX, 3, SL_V_DOUBLE},
    };
    const size_t n = SL_ARRAY_LEN(sp);
    static const char nul_str[] = {'a', 'b', '\0', 'c'};
    struct sl_value strs[] = {vstr("banana"),
                              vstr(""),
                              vstr("cherry pie, long enough to grow"),
                              {.type = SL_V_STRING, .len = 4, .s = nul_str},
                              vstr("ab")};
    int64_t days[] = {sl_date_to_days(2024, 2, 29), sl_date_to_days(1969, 12, 31),
                      sl_date_to_days(2030, 1, 1), sl_date_to_days(1, 1, 1),
                      sl_date_to_days(9999, 12, 31)};
    int64_t us[] = {0, -1, INT64_C(1700000000000000), INT64_C(-62135596800000000), 5};
    double ds[] = {0.5, -0.0, NAN, -3.25, 1e300};
    struct sl_agg_state *s = st_new(sp, n);
    for (size_t r = 0; r < 5; r++) {
        struct sl_value row[4] = {strs[r], vtyped(SL_V_DATE, days[r]),
                                  vtyped(SL_V_TIMESTAMP, us[r]), vdbl(ds[r])};
        CHECK_OK(sl_agg_update(sp, n, s, row, r, &e), &e);
        struct sl_value nulls[4] = {vnull(), vnull(), vnull(), vnull()};
        CHECK_OK(sl_agg_update(sp, n, s, nulls, 100 + r, &e), &e);
    }
    struct sl_value out[8];
    CHECK_OK(sl_agg_finish(sp, n, s, out, &A, &e), &e);
    CHECK(out[0].type == SL_V_STRING && out[0].len == 0);
    CHECK(out[1].type == SL_V_STRING && out[1].len == 31 && memcmp(out[1].s, "cherry", 6) == 0);
    CHECK(out[2].type == SL_V_DATE && out[2].i == sl_date_to_days(1, 1, 1));
    CHECK(out[3].type == SL_V_DATE && out[3].i == sl_date_to_days(9999, 12, 31));
    CHECK(out[4].type == SL_V_TIMESTAMP && out[4].i == INT64_C(-62135596800000000));
    CHECK(out[5].type == SL_V_TIMESTAMP && out[5].i == INT64_C(1700000000000000));
    CHECK(out[6].type == SL_V_DOUBLE && out[6].d == -3.25);
    CHECK(out[7].type == SL_V_DOUBLE && isnan(out[7].d)); /* NaN sorts last */

    /* "ab" < "ab\0c" < "banana": embedded NUL kept through encode/decode */
    struct sl_agg_spec sp2[] = {{SL_AGG_MIN, 0, SL_V_STRING}};
    struct sl_agg_state *t = st_new(sp2, 1);
    struct sl_value r1[1] = {strs[3]};
    CHECK_OK(sl_agg_update(sp2, 1, t, r1, 0, &e), &e);
    r1[0] = strs[0];
    CHECK_OK(sl_agg_update(sp2, 1, t, r1, 1, &e), &e);
    struct sl_buf b;
    sl_buf_init(&b, 0);
    CHECK_OK(sl_agg_encode(sp2, 1, t, &b, &e), &e);
    struct sl_agg_state *u = st_new(sp2, 1);
    CHECK_OK(sl_agg_decode(sp2, 1, b.data, b.len, u, &e), &e);
    CHECK_OK(sl_agg_finish(sp2, 1, u, out, &A, &e), &e);
    CHECK(out[0].len == 4 && memcmp(out[0].s, nul_str, 4) == 0);
    sl_buf_cleanup(&b);
    st_free(sp2, 1, t);
    st_free(sp2, 1, u);
    st_free(sp, n, s);
}

/* ---- count_distinct ---- */

TEST(count_distinct_merged_partials)
{
    struct sl_err e = {0};
    struct sl_agg_spec sp[] = {{SL_AGG_COUNT_DISTINCT, 0, SL_V_INT},
                               {SL_AGG_COUNT_DISTINCT, 1, SL_V_STRING},
                               {SL_AGG_COUNT_DISTINCT, 2, SL_V_DOUBLE}};
    struct sl_agg_state *p[3];
    for (int k = 0; k < 3; k++)
        p[k] = st_new(sp, 3);
    /* partial k holds ints [500k, 500k + 1000) and strings "s<i % 700>" of them:
     * ints 0..1999 overall, strings s0..s699 */
    char txt[32];
    for (int k = 0; k < 3; k++) {
        for (int64_t i = 500 * k; i < 500 * k + 1000; i++) {
            int len = snprintf(txt, sizeof txt, "s%d", (int)(i % 700));
            struct sl_value row[3] = {
                vint(i), {.type = SL_V_STRING, .len = (uint32_t)len, .s = txt}, vnull()};
            if (i % 3 == 0)
                row[1] = vnull();
            CHECK_OK(sl_agg_update(sp, 3, p[k], row, (uint64_t)i, &e), &e);
        }
    }
    /* doubles: -0 and 0 are one value, every NaN is one value */
    double ds[] = {0.0, -0.0, NAN, -NAN, 1.5, 1.5};
    for (size_t i = 0; i < SL_ARRAY_LEN(ds); i++) {
        struct sl_value row[3] = {vnull(), vnull(), vdbl(ds[i])};
        CHECK_OK(sl_agg_update(sp, 3, p[i % 3], row, 9000 + i, &e), &e);
    }
    struct sl_value out[3];
    CHECK_OK(sl_agg_finish(sp, 3, p[0], out, &A, &e), &e);
    CHECK(out[0].i == 1000);
    size_t before = sl_agg_state_bytes(sp, 3, p[0]);
    CHECK(before > sl_agg_state_size(3) + 1000 * 9);
    /* merge (1 into 2) into 0 and (0 into 1) through the combiner: same answer */
    struct sl_buf b0, b1, b2, bc;
    sl_buf_init(&b0, 0);
    sl_buf_init(&b1, 0);
    sl_buf_init(&b2, 0);
    sl_buf_init(&bc, 0);
    CHECK_OK(sl_agg_encode(sp, 3, p[0], &b0, &e), &e);
    CHECK_OK(sl_agg_encode(sp, 3, p[1], &b1, &e), &e);
    CHECK_OK(sl_agg_encode(sp, 3, p[2], &b2, &e), &e);
    CHECK_OK(sl_agg_merge(sp, 3, p[2], p[1], &e), &e);
    CHECK_OK(sl_agg_merge(sp, 3, p[0], p[2], &e), &e);
    CHECK_OK(sl_agg_finish(sp, 3, p[0], out, &A, &e), &e);
    CHECK(out[0].type == SL_V_INT && out[0].i == 2000);
    CHECK(out[1].type == SL_V_INT && out[1].i == 700);
    CHECK(out[2].type == SL_V_INT && out[2].i == 3);
    CHECK(sl_agg_state_bytes(sp, 3, p[0]) > before);

    struct sl_agg_specs list = {sp, 3};
    struct sl_buf t;
    sl_buf_init(&t, 0);
    CHECK_OK(sl_agg_combine_encoded(&list, b0.data, b0.len, b1.data, b1.len, &t, &e), &e);
    CHECK_OK(sl_agg_combine_encoded(&list, b2.data, b2.len, t.data, t.len, &bc, &e), &e);
    struct sl_buf direct;
    sl_buf_init(&direct, 0);
    CHECK_OK(sl_agg_encode(sp, 3, p[0], &direct, &e), &e);
    CHECK(bc.len == direct.len && memcmp(bc.data, direct.data, bc.len) == 0);
    sl_buf_cleanup(&direct);
    sl_buf_cleanup(&t);
    sl_buf_cleanup(&b0);
    sl_buf_cleanup(&b1);
    sl_buf_cleanup(&b2);
    sl_buf_cleanup(&bc);
    for (int k = 0; k < 3; k++)
        st_free(sp, 3, p[k]);
}

TEST(count_distinct_many)
{
    /* 200,000 distinct ints in one group, each added twice */
    struct sl_err e = {0};
    struct sl_agg_spec sp[] = {{SL_AGG_COUNT_DISTINCT, 0, SL_V_INT}};
    struct sl_agg_state *s = st_new(sp, 1);
    for (int pass = 0; pass < 2; pass++)
        for (int64_t i = 0; i < 200000; i++) {
            struct sl_value v = vint(i * 7919);
            CHECK_OK(sl_agg_update(sp, 1, s, &v, (uint64_t)i, &e), &e);
        }
    struct sl_value out[1];
    CHECK_OK(sl_agg_finish(sp, 1, s, out, &A, &e), &e);
    CHECK(out[0].i == 200000);
    size_t bytes = sl_agg_state_bytes(sp, 1, s);
    CHECKF(bytes > 200000 * 9 && bytes < 200000 * 64, "%zu bytes", bytes);
    st_free(sp, 1, s);
}

/* ---- first/last ---- */

TEST(first_last_deterministic)
{
    struct sl_err e = {0};
    struct sl_agg_spec sp[] = {{SL_AGG_FIRST, 0, SL_V_INT},
                               {SL_AGG_LAST, 0, SL_V_INT},
                               {SL_AGG_FIRST, 1, SL_V_STRING},
                               {SL_AGG_LAST, 1, SL_V_STRING}};
    /* rows of 3 splits x 50 rows; value = order; strings "r<order>"; some NULLs at both ends */
    enum { N = 150 };
    uint64_t orders[N];
    size_t idx[N];
    for (size_t i = 0; i < N; i++) {
        orders[i] = (uint64_t)(i / 50) << 32 | (i % 50);
        idx[i] = i;
    }
    for (int trial = 0; trial < 20; trial++) {
        shuffle_idx(idx, N);
        size_t n_parts = 1 + (size_t)(rnd() % 5);
        struct sl_agg_state *parts[5];
        for (size_t p = 0; p < n_parts; p++)
            parts[p] = st_new(sp, 4);
        char txt[32];
        for (size_t k = 0; k < N; k++) {
            size_t i = idx[k];
            int len = snprintf(txt, sizeof txt, "r%zu", i);
            struct sl_value row[2] = {vint((int64_t)orders[i]),
                                      {.type = SL_V_STRING, .len = (uint32_t)len, .s = txt}};
            if (i == 0 || i == N - 1) /* NULL rows are skipped, not taken as first/last */
                row[0] = row[1] = vnull();
            CHECK_OK(sl_agg_update(sp, 4, parts[rnd() % n_parts], row, orders[i], &e), &e);
        }
        size_t po[5];
        for (size_t p = 0; p < n_parts; p++)
            po[p] = p;
        shuffle_idx(po, n_parts);
        for (size_t p = 1; p < n_parts; p++)
            CHECK_OK(sl_agg_merge(sp, 4, parts[po[0]], parts[po[p]], &e), &e);
        struct sl_value out[4];
        CHECK_OK(sl_agg_finish(sp, 4, parts[po[0]], out, &A, &e), &e);
        CHECK(out[0].type == SL_V_INT && out[0].i == (int64_t)orders[1]);
        CHECK(out[1].type == SL_V_INT && out[1].i == (int64_t)orders[N - 2]);
        CHECK(out[2].len == 2 && memcmp(out[2].s, "r1", 2) == 0);
        CHECK(out[3].len == 4 && memcmp(out[3].s, "r148", 4) == 0);
        for (size_t p = 0; p < n_parts; p++)
            st_free(sp, 4, parts[p]);
    }
}

/* ---- encoding ---- */

/* A state over every kind and type, fed n random rows (with NULLs). */
static const struct sl_agg_spec WIDE[] = {
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
#define N_WIDE SL_ARRAY_LEN(WIDE)

static void feed_wide(struct sl_agg_state *s, size_t n_rows, uint64_t order0)
{
    struct sl_err e = {0};
    char txt[32], bin[8];
    static const char *const json[] = {"{\"a\":1}", "[1,2]", "{}"};
    for (size_t r = 0; r < n_rows; r++) {
        int len = snprintf(txt, sizeof txt, "v%u", (unsigned)(rnd() % 50));
        for (int k = 0; k < 8; k++)
            bin[k] = (char)(rnd() % 3); /* NULs in binary */
        struct sl_value row[8] = {
            vint((int64_t)(rnd() % 100) - 50),
            {.type = SL_V_STRING, .len = (uint32_t)len, .s = txt},
            vdbl(((double)(rnd() % 1000) - 500) / 8),
            vtyped(SL_V_BOOL, (int64_t)(rnd() % 2)),
            vtyped(SL_V_TIMESTAMP, (int64_t)(rnd() % 1000000) - 500000),
            {.type = SL_V_BINARY, .len = 8, .s = bin},
            vtyped(SL_V_DATE, (int64_t)(rnd() % 30000)),
            vstr(json[rnd() % 3]),
        };
        row[7].type = SL_V_JSON;
        for (int k = 0; k < 8; k++)
            if (rnd() % 5 == 0)
                row[k] = vnull();
        CHECK_OK(sl_agg_update(WIDE, N_WIDE, s, row, order0 + r, &e), &e);
    }
}

static void check_same_finish(const struct sl_agg_state *a, const struct sl_agg_state *b)
{
    struct sl_err e = {0};
    struct sl_value oa[N_WIDE], ob[N_WIDE];
    CHECK_OK(sl_agg_finish(WIDE, N_WIDE, a, oa, &A, &e), &e);
    CHECK_OK(sl_agg_finish(WIDE, N_WIDE, b, ob, &A, &e), &e);
    for (size_t i = 0; i < N_WIDE; i++)
        CHECKF(val_same(&oa[i], &ob[i]), "agg %zu", i);
}

TEST(encode_round_trip)
{
    struct sl_err e = {0};
    size_t sizes[] = {0, 1, 3, 500};
    for (size_t t = 0; t < SL_ARRAY_LEN(sizes); t++) {
        struct sl_agg_state *s = st_new(WIDE, N_WIDE);
        feed_wide(s, sizes[t], 0);
        struct sl_buf b1, b2;
        sl_buf_init(&b1, 0);
        sl_buf_init(&b2, 0);
        CHECK_OK(sl_agg_encode(WIDE, N_WIDE, s, &b1, &e), &e);
        CHECK((unsigned char)b1.data[0] == SL_AGG_ENCODING_VERSION);
        struct sl_agg_state *d = malloc(sl_agg_state_size(N_WIDE)); /* decode initialises */
        memset(d, 0xa5, sl_agg_state_size(N_WIDE));
        CHECK_OK(sl_agg_decode(WIDE, N_WIDE, b1.data, b1.len, d, &e), &e);
        CHECK_OK(sl_agg_encode(WIDE, N_WIDE, d, &b2, &e), &e);
        CHECK(b1.len == b2.len && memcmp(b1.data, b2.data, b1.len) == 0);
        check_same_finish(s, d);
        if (sizes[t] == 0)
            CHECKF(b1.len < 2 + 3 * N_WIDE, "empty state takes %zu bytes", b1.len);
        sl_buf_cleanup(&b1);
        sl_buf_cleanup(&b2);
        st_free(WIDE, N_WIDE, s);
        st_free(WIDE, N_WIDE, d);
    }
}

TEST(combiner_equals_merge)
{
    struct sl_err e = {0};
    struct sl_agg_state *a = st_new(WIDE, N_WIDE), *b = st_new(WIDE, N_WIDE);
    feed_wide(a, 300, 0);
    feed_wide(b, 300, UINT64_C(1) << 32);
    struct sl_buf ea, eb, comb, shuf, direct;
    sl_buf_init(&ea, 0);
    sl_buf_init(&eb, 0);
    sl_buf_init(&comb, 0);
    sl_buf_init(&shuf, 0);
    sl_buf_init(&direct, 0);
    CHECK_OK(sl_agg_encode(WIDE, N_WIDE, a, &ea, &e), &e);
    CHECK_OK(sl_agg_encode(WIDE, N_WIDE, b, &eb, &e), &e);
    struct sl_agg_specs list = {WIDE, N_WIDE}; /* 18 specs: the heap path */
    CHECK_OK(sl_agg_combine_encoded(&list, ea.data, ea.len, eb.data, eb.len, &comb, &e), &e);
    CHECK(sl_agg_shuffle_combine(&list, "k", 1, ea.data, ea.len, eb.data, eb.len, &shuf) == SL_OK);
    CHECK_OK(sl_agg_merge(WIDE, N_WIDE, a, b, &e), &e);
    CHECK_OK(sl_agg_encode(WIDE, N_WIDE, a, &direct, &e), &e);
    CHECK(comb.len == direct.len && memcmp(comb.data, direct.data, comb.len) == 0);
    CHECK(shuf.len == direct.len && memcmp(shuf.data, direct.data, shuf.len) == 0);
    /* merge is commutative: b+a encodes the same */
    struct sl_buf rev;
    sl_buf_init(&rev, 0);
    CHECK_OK(sl_agg_combine_encoded(&list, eb.data, eb.len, ea.data, ea.len, &rev, &e), &e);
    CHECK(rev.len == direct.len && memcmp(rev.data, direct.data, rev.len) == 0);
    /* small list: the stack path */
    struct sl_agg_specs small = {ALL, N_ALL};
    struct sl_agg_state *x = st_new(ALL, N_ALL);
    feed_small(x, &e);
    sl_buf_reset(&ea);
    sl_buf_reset(&comb);
    CHECK_OK(sl_agg_encode(ALL, N_ALL, x, &ea, &e), &e);
    CHECK_OK(sl_agg_combine_encoded(&small, ea.data, ea.len, ea.data, ea.len, &comb, &e), &e);
    struct sl_agg_state *y = st_new(ALL, N_ALL);
    CHECK_OK(sl_agg_decode(ALL, N_ALL, comb.data, comb.len, y, &e), &e);
    struct sl_value out[N_ALL];
    CHECK_OK(sl_agg_finish(ALL, N_ALL, y, out, &A, &e), &e);
    CHECK(out[0].i == 12 && out[2].i == 3 && out[3].i == 36 && out[7].d == 4.5);
    /* a bad input fails the combiner cleanly */
    sl_buf_reset(&comb);
    CHECK(sl_agg_combine_encoded(&small, ea.data, ea.len - 1, ea.data, ea.len, &comb, &e) ==
          SL_EPARSE);
    CHECK(sl_agg_shuffle_combine(&small, NULL, 0, "x", 1, ea.data, ea.len, &comb) == SL_EPARSE);
    st_free(ALL, N_ALL, x);
    st_free(ALL, N_ALL, y);
    sl_buf_cleanup(&rev);
    sl_buf_cleanup(&ea);
    sl_buf_cleanup(&eb);
    sl_buf_cleanup(&comb);
    sl_buf_cleanup(&shuf);
    sl_buf_cleanup(&direct);
    st_free(WIDE, N_WIDE, a);
    st_free(WIDE, N_WIDE, b);
}

TEST(decode_hostile_bytes)
{
    struct sl_err e = {0};
    struct sl_agg_state *s = st_new(WIDE, N_WIDE);
    feed_wide(s, 200, 0);
    struct sl_buf b;
    sl_buf_init(&b, 0);
    CHECK_OK(sl_agg_encode(WIDE, N_WIDE, s, &b, &e), &e);
    struct sl_agg_state *d = st_new(WIDE, N_WIDE);
    /* every proper prefix is malformed; copies on the heap so ASan sees overreads */
    for (size_t len = 0; len < b.len; len++) {
        char *p = malloc(len ? len : 1);
        memcpy(p, b.data, len);
        int rc = sl_agg_decode(WIDE, N_WIDE, p, len, d, &e);
        CHECKF(rc == SL_EPARSE, "prefix %zu: %d", len, rc);
        free(p);
    }
    CHECK(sl_agg_state_bytes(WIDE, N_WIDE, d) == sl_agg_state_size(N_WIDE)); /* holds nothing */
    /* trailing byte, wrong version, wrong spec count, another spec list */
    CHECK_OK(sl_buf_putc(&b, 0, &e), &e);
    CHECK(sl_agg_decode(WIDE, N_WIDE, b.data, b.len, d, &e) == SL_EPARSE);
    CHECK(strstr(e.msg, "trailing") != NULL);
    b.len--;
    b.data[0] = 2;
    CHECK(sl_agg_decode(WIDE, N_WIDE, b.data, b.len, d, &e) == SL_EPARSE);
    CHECK(strstr(e.msg, "version") != NULL);
    b.data[0] = 1;
    CHECK(sl_agg_decode(WIDE, N_WIDE - 1, b.data, b.len, d, &e) == SL_EPARSE);
    CHECK(sl_agg_decode(ALL, N_ALL, b.data, b.len, d, &e) == SL_EPARSE);
    /* random flips: any result but a crash; what decodes re-encodes and decodes */
    char *p = malloc(b.len);
    for (int trial = 0; trial < 20000; trial++) {
        memcpy(p, b.data, b.len);
        int flips = 1 + (int)(rnd() % 4);
        for (int f = 0; f < flips; f++)
            p[rnd() % b.len] ^= (char)(1u << (rnd() % 8));
        int rc = sl_agg_decode(WIDE, N_WIDE, p, b.len, d, &e);
        CHECK(rc == SL_OK || rc == SL_EPARSE);
        if (rc == SL_OK) {
            struct sl_buf r;
            sl_buf_init(&r, 0);
            CHECK_OK(sl_agg_encode(WIDE, N_WIDE, d, &r, &e), &e);
            struct sl_agg_state *d2 = st_new(WIDE, N_WIDE);
            CHECK_OK(sl_agg_decode(WIDE, N_WIDE, r.data, r.len, d2, &e), &e);
            st_free(WIDE, N_WIDE, d2);
            sl_buf_cleanup(&r);
            sl_agg_cleanup(WIDE, N_WIDE, d);
        }
    }
    free(p);
    /* garbage */
    for (int trial = 0; trial < 20000; trial++) {
        unsigned char g[64];
        size_t len = (size_t)(rnd() % sizeof g);
        for (size_t k = 0; k < len; k++)
            g[k] = (unsigned char)rnd();
        if (len)
            g[0] = trial % 2 ? 1 : g[0];
        int rc = sl_agg_decode(ALL, N_ALL, g, len, d, &e);
        CHECK(rc == SL_EPARSE || rc == SL_OK);
        if (rc == SL_OK)
            sl_agg_cleanup(ALL, N_ALL, d);
    }
    /* non-canonical count_distinct entries are refused: unsorted, duplicate, -0 */
    struct sl_agg_spec cd[] = {{SL_AGG_COUNT_DISTINCT, 0, SL_V_DOUBLE}};
    unsigned char dup[] = {
        1, 1, SL_AGG_COUNT_DISTINCT, 2,    9,    SL_V_DOUBLE, 0xbf, 0xf0, 0, 0, 0, 0, 0,
        0, 9, SL_V_DOUBLE,           0xbf, 0xf0, 0,           0,    0,    0, 0, 0};
    CHECK(sl_agg_decode(cd, 1, dup, sizeof dup, d, &e) == SL_EPARSE);
    dup[3] = 1;
    CHECK(sl_agg_decode(cd, 1, dup, 14, d, &e) == SL_OK); /* one entry: 1.0 */
    struct sl_value out[1];
    CHECK_OK(sl_agg_finish(cd, 1, d, out, &A, &e), &e);
    CHECK(out[0].i == 1);
    sl_agg_cleanup(cd, 1, d);
    unsigned char negzero[] = {
        1,    1,   SL_AGG_COUNT_DISTINCT, 1, 9, SL_V_DOUBLE, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff};
    CHECK(sl_agg_decode(cd, 1, negzero, sizeof negzero, d, &e) == SL_EPARSE);
    sl_buf_cleanup(&b);
    st_free(WIDE, N_WIDE, s);
    st_free(WIDE, N_WIDE, d);
}

/* ---- allocation failure ---- */

/* update, merge, encode, decode, combine, finish; SL_OK or SL_ENOMEM */
static int alloc_scenario(void)
{
    struct sl_err e = {0};
    struct sl_agg_state *a = st_new(WIDE, N_WIDE), *b = st_new(WIDE, N_WIDE),
                        *c = st_new(WIDE, N_WIDE);
    struct sl_buf ea, eb, comb;
    struct sl_value out[N_WIDE];
    struct sl_arena ar;
    struct sl_agg_specs list = {WIDE, N_WIDE};
    int rc;
    char txt[64];
    sl_buf_init(&ea, 0);
    sl_buf_init(&eb, 0);
    sl_buf_init(&comb, 0);
    sl_arena_init(&ar, 0);
    for (int r = 0; r < 40; r++) {
        int len = snprintf(txt, sizeof txt, "%0*d", 1 + r, r);
        struct sl_value row[8] = {vint(r),
                                  {.type = SL_V_STRING, .len = (uint32_t)len, .s = txt},
                                  vdbl(r),
                                  vtyped(SL_V_BOOL, r % 2),
                                  vtyped(SL_V_TIMESTAMP, r),
                                  {.type = SL_V_BINARY, .len = (uint32_t)len, .s = txt},
                                  vtyped(SL_V_DATE, r),
                                  {.type = SL_V_JSON, .len = 2, .s = "[]"}};
        if ((rc = sl_agg_update(WIDE, N_WIDE, r % 2 ? a : b, row, (uint64_t)r, &e)) != SL_OK)
            goto out;
    }
    if ((rc = sl_agg_encode(WIDE, N_WIDE, a, &ea, &e)) != SL_OK ||
        (rc = sl_agg_encode(WIDE, N_WIDE, b, &eb, &e)) != SL_OK ||
        (rc = sl_agg_combine_encoded(&list, ea.data, ea.len, eb.data, eb.len, &comb, &e)) !=
            SL_OK ||
        (rc = sl_agg_decode(WIDE, N_WIDE, comb.data, comb.len, c, &e)) != SL_OK ||
        (rc = sl_agg_merge(WIDE, N_WIDE, a, b, &e)) != SL_OK ||
        (rc = sl_agg_finish(WIDE, N_WIDE, c, out, &ar, &e)) != SL_OK)
        goto out;
    rc = out[2].i == 40 && out[0].i == 40 ? SL_OK : SL_EINTERNAL;
out:
    sl_buf_cleanup(&ea);
    sl_buf_cleanup(&eb);
    sl_buf_cleanup(&comb);
    sl_arena_cleanup(&ar);
    st_free(WIDE, N_WIDE, a);
    st_free(WIDE, N_WIDE, b);
    st_free(WIDE, N_WIDE, c);
    return rc;
}

TEST(allocation_failure)
{
    int done = 0;
    long nth;
    for (nth = 1; nth < 5000 && !done; nth++) {
        sl_alloc_fail_reset(nth);
        int rc = alloc_scenario();
        sl_alloc_fail_reset(0);
        CHECKF(rc == SL_OK || rc == SL_ENOMEM, "fail at %ld: %d", nth, rc);
        if (rc == SL_OK)
            done = 1;
    }
    CHECKF(done && nth > 10, "stopped at %ld", nth);
}

int main(void)
{
    sl_arena_init(&A, 0);
    RUN(names_and_checks);
    RUN(each_kind_small);
    RUN(all_null_and_empty_groups);
    RUN(type_mismatch_is_a_row_error);
    RUN(int_sum_overflow);
    RUN(double_sum_order_independent);
    RUN(double_sum_specials);
    RUN(min_max_types);
    RUN(count_distinct_merged_partials);
    RUN(count_distinct_many);
    RUN(first_last_deterministic);
    RUN(encode_round_trip);
    RUN(combiner_equals_merge);
    RUN(decode_hostile_bytes);
    RUN(allocation_failure);
    sl_arena_cleanup(&A);
    TEST_EXIT();
}
