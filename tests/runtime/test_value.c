/*
 * tests/runtime/test_value.c - typed values: the crawler's recognisers
 * (spec/crawler.md §7.2), canonical text, casts, ordering and hashing, and the
 * key/row encodings. Random cases use a fixed-seed xorshift generator.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* Parses text as t; returns the rc and fills *v. */
static int rd(enum sl_vtype t, const char *text, struct sl_value *v, struct sl_err *e)
{
    return sl_value_from_text(t, text, strlen(text), &A, v, e);
}

static int64_t rd_i(enum sl_vtype t, const char *text, int *rc)
{
    struct sl_value v = {0};
    struct sl_err e = {0};
    *rc = rd(t, text, &v, &e);
    return v.i;
}

/* Canonical text of v in a static buffer. */
static const char *txt(const struct sl_value *v)
{
    static char out[600];
    struct sl_buf b;
    struct sl_err e = {0};
    sl_buf_init(&b, 0);
    if (sl_value_to_text(v, &b, &e) != SL_OK)
        snprintf(out, sizeof out, "<error: %s>", e.msg);
    else
        snprintf(out, sizeof out, "%.*s", (int)b.len, b.data ? b.data : "");
    sl_buf_cleanup(&b);
    return out;
}

static const char *canon(enum sl_vtype t, const char *text)
{
    struct sl_value v;
    struct sl_err e = {0};
    if (rd(t, text, &v, &e) != SL_OK)
        return "<parse error>";
    return txt(&v);
}

TEST(catalog_types)
{
    CHECK(sl_vtype_from_catalog("bigint") == SL_V_INT);
    CHECK(sl_vtype_from_catalog("int") == SL_V_INT);
    CHECK(sl_vtype_from_catalog("smallint") == SL_V_INT);
    CHECK(sl_vtype_from_catalog("tinyint") == SL_V_INT);
    CHECK(sl_vtype_from_catalog("double") == SL_V_DOUBLE);
    CHECK(sl_vtype_from_catalog("float") == SL_V_DOUBLE);
    CHECK(sl_vtype_from_catalog("decimal(10,2)") == SL_V_DOUBLE);
    CHECK(sl_vtype_from_catalog("decimal") == SL_V_DOUBLE);
    CHECK(sl_vtype_from_catalog("boolean") == SL_V_BOOL);
    CHECK(sl_vtype_from_catalog("string") == SL_V_STRING);
    CHECK(sl_vtype_from_catalog("varchar(20)") == SL_V_STRING);
    CHECK(sl_vtype_from_catalog("char(2)") == SL_V_STRING);
    CHECK(sl_vtype_from_catalog("date") == SL_V_DATE);
    CHECK(sl_vtype_from_catalog("timestamp") == SL_V_TIMESTAMP);
    CHECK(sl_vtype_from_catalog("binary") == SL_V_BINARY);
    CHECK(sl_vtype_from_catalog("array<string>") == SL_V_JSON);
    CHECK(sl_vtype_from_catalog("map<string,bigint>") == SL_V_JSON);
    CHECK(sl_vtype_from_catalog("struct<a:int,b:array<int>>") == SL_V_JSON);
    CHECK(sl_vtype_from_catalog("BIGINT") == SL_V_INT);
    CHECK(sl_vtype_from_catalog("geometry") == SL_V_STRING);
    CHECK(sl_vtype_from_catalog("") == SL_V_STRING);
    CHECK(sl_vtype_from_catalog("dates") == SL_V_STRING);
    CHECK_STR(sl_vtype_name(SL_V_INT), "bigint");
    CHECK_STR(sl_vtype_name(SL_V_JSON), "json");
    CHECK_STR(sl_vtype_name(SL_V_NULL), "null");
    CHECK_STR(sl_vtype_name((enum sl_vtype)99), "unknown");
}

TEST(rschema)
{
    struct sl_err e = {0};
    struct sl_rschema *s = sl_rschema_new(3);
    CHECK(s != NULL);
    if (!s)
        return;
    CHECK(s->types[2] == SL_V_NULL);
    CHECK_OK(sl_rschema_set(s, 0, "id", SL_V_INT, &e), &e);
    CHECK_OK(sl_rschema_set(s, 1, "name", SL_V_STRING, &e), &e);
    CHECK_OK(sl_rschema_set(s, 1, "nom", SL_V_STRING, &e), &e); /* replaces */
    CHECK(sl_rschema_set(s, 3, "x", SL_V_INT, &e) == SL_ECONFIG);
    CHECK(sl_rschema_find(s, "nom", 3) == 1);
    CHECK(sl_rschema_find(s, "idx", 2) == 0);
    CHECK(sl_rschema_find(s, "name", 4) == -1);
    CHECK(sl_rschema_find(s, "i", 1) == -1);
    sl_rschema_free(s);
    sl_rschema_free(NULL);
}

TEST(bigint_recogniser)
{
    int rc;
    CHECK(rd_i(SL_V_INT, "0", &rc) == 0 && rc == SL_OK);
    CHECK(rd_i(SL_V_INT, "-0", &rc) == 0 && rc == SL_OK);
    CHECK(rd_i(SL_V_INT, "42", &rc) == 42 && rc == SL_OK);
    CHECK(rd_i(SL_V_INT, "  -17\t", &rc) == -17 && rc == SL_OK);
    CHECK(rd_i(SL_V_INT, "9223372036854775807", &rc) == INT64_MAX && rc == SL_OK);
    CHECK(rd_i(SL_V_INT, "-9223372036854775808", &rc) == INT64_MIN && rc == SL_OK);
    const char *bad[] = {"007", "00501", "-007", "+44", "1,234", "0x1F", "0b101", "1_000",
                         "12%", "$3.50", "1.0",  "1e5", "1 000", "-",    "--1",   "1-",
                         "abc", "12a",   "00",   "-00", "NaN",   "٣"};
    for (size_t i = 0; i < SL_ARRAY_LEN(bad); i++) {
        rd_i(SL_V_INT, bad[i], &rc);
        CHECKF(rc == SL_EPARSE, "\"%s\" gave %d", bad[i], rc);
    }
    struct sl_value v;
    struct sl_err e = {0};
    CHECK(rd(SL_V_INT, "9223372036854775808", &v, &e) == SL_EPARSE);
    CHECK_STR(e.msg, "out of range for bigint: \"9223372036854775808\"");
    CHECK(rd(SL_V_INT, "-9223372036854775809", &v, &e) == SL_EPARSE);
    CHECK(strstr(e.msg, "out of range") != NULL);
    CHECK(rd(SL_V_INT, "99999999999999999999999x", &v, &e) == SL_EPARSE);
    CHECK(strstr(e.msg, "not a bigint") != NULL);
    CHECK(rd(SL_V_INT, "12a", &v, &e) == SL_EPARSE);
    CHECK_STR(e.msg, "not a bigint: \"12a\"");
    /* Long offending text is truncated in the message. */
    char longtxt[200];
    memset(longtxt, 'z', sizeof longtxt - 1);
    longtxt[sizeof longtxt - 1] = '\0';
    CHECK(rd(SL_V_INT, longtxt, &v, &e) == SL_EPARSE);
    CHECK(strlen(e.msg) < 70 && strstr(e.msg, "...") != NULL);
    /* Empty and blank text is NULL. */
    CHECK(rd(SL_V_INT, "", &v, &e) == SL_OK && v.type == SL_V_NULL);
    CHECK(rd(SL_V_INT, " \t ", &v, &e) == SL_OK && v.type == SL_V_NULL);
}

TEST(double_recogniser)
{
    struct sl_value v;
    struct sl_err e = {0};
    struct {
        const char *text;
        double want;
    } good[] = {
        {"2.5", 2.5},
        {".5", 0.5},
        {"5.", 5.0},
        {"1e5", 1e5},
        {"-1.2E-3", -1.2e-3},
        {"0", 0.0},
        {"-0", -0.0},
        {"42", 42.0},
        {"0.25", 0.25},
        {"1E+2", 100.0},
        {"-.5", -0.5},
        {"0e0", 0.0},
        {"123456789012345678901234567890", 1.2345678901234568e29},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(good); i++) {
        int rc = rd(SL_V_DOUBLE, good[i].text, &v, &e);
        CHECKF(rc == SL_OK && v.type == SL_V_DOUBLE && v.d == good[i].want, "\"%s\": %s",
               good[i].text, e.msg);
    }
    CHECK(rd(SL_V_DOUBLE, "-0", &v, &e) == SL_OK && signbit(v.d));
    const char *specials[] = {"NaN",       "nan", "NAN",  "Infinity", "infinity",
                              "-Infinity", "inf", "-inf", "INF",      "-INFINITY"};
    for (size_t i = 0; i < SL_ARRAY_LEN(specials); i++) {
        int rc = rd(SL_V_DOUBLE, specials[i], &v, &e);
        CHECKF(rc == SL_OK && !isfinite(v.d), "\"%s\"", specials[i]);
    }
    CHECK(rd(SL_V_DOUBLE, "-inf", &v, &e) == SL_OK && isinf(v.d) && v.d < 0);
    const char *bad[] = {"01.5", "00.5",    "-01.5",   "+1.5", "1,234", "1.2.3", "0x1F", "1e",
                         "1e+",  ".",       "-.",      "e5",   "1.5f",  "$3.50", "12%",  "+inf",
                         "-nan", "infinit", "1_000.0", "1 .5", "0x1p3", "1d"};
    for (size_t i = 0; i < SL_ARRAY_LEN(bad); i++) {
        int rc = rd(SL_V_DOUBLE, bad[i], &v, &e);
        CHECKF(rc == SL_EPARSE, "\"%s\" gave %d", bad[i], rc);
    }
    CHECK(rd(SL_V_DOUBLE, "01.5", &v, &e) == SL_EPARSE);
    CHECK_STR(e.msg, "not a double: \"01.5\"");
    CHECK(rd(SL_V_DOUBLE, "1e999", &v, &e) == SL_EPARSE);
    CHECK(strstr(e.msg, "out of range for double") != NULL);
    CHECK(rd(SL_V_DOUBLE, "1e-999", &v, &e) == SL_OK && v.d == 0.0);
    /* A long number still parses (heap path). */
    char lng[600];
    lng[0] = '0';
    lng[1] = '.';
    memset(lng + 2, '3', sizeof lng - 3);
    lng[sizeof lng - 1] = '\0';
    CHECK(rd(SL_V_DOUBLE, lng, &v, &e) == SL_OK && fabs(v.d - 1.0 / 3) < 1e-15);
}

TEST(bool_recogniser)
{
    int rc;
    const char *yes[] = {"true", "TRUE", "True", "t", "T", "yes", "YES", " yes "};
    const char *no[] = {"false", "FALSE", "f", "F", "no", "No"};
    const char *bad[] = {"0", "1", "y", "n", "on", "off", "tru", "yess", "truex"};
    for (size_t i = 0; i < SL_ARRAY_LEN(yes); i++)
        CHECKF(rd_i(SL_V_BOOL, yes[i], &rc) == 1 && rc == SL_OK, "%s", yes[i]);
    for (size_t i = 0; i < SL_ARRAY_LEN(no); i++)
        CHECKF(rd_i(SL_V_BOOL, no[i], &rc) == 0 && rc == SL_OK, "%s", no[i]);
    for (size_t i = 0; i < SL_ARRAY_LEN(bad); i++) {
        rd_i(SL_V_BOOL, bad[i], &rc);
        CHECKF(rc == SL_EPARSE, "%s", bad[i]);
    }
}

TEST(date_recogniser)
{
    int rc;
    CHECK(rd_i(SL_V_DATE, "1970-01-01", &rc) == 0 && rc == SL_OK);
    CHECK(rd_i(SL_V_DATE, "1970-01-02", &rc) == 1 && rc == SL_OK);
    CHECK(rd_i(SL_V_DATE, "1969-12-31", &rc) == -1 && rc == SL_OK);
    CHECK(rd_i(SL_V_DATE, "2000-03-01", &rc) == 11017 && rc == SL_OK);
    CHECK(rd_i(SL_V_DATE, "2024/02/29", &rc) == rd_i(SL_V_DATE, "2024-02-29", &rc));
    CHECK(rd_i(SL_V_DATE, "2024.02.29", &rc) == 19782 && rc == SL_OK);
    CHECK(rd_i(SL_V_DATE, "2000-02-29", &rc) == 11016 && rc == SL_OK);
    CHECK(rd_i(SL_V_DATE, "0001-01-01", &rc) == -719162 && rc == SL_OK);
    CHECK(rd_i(SL_V_DATE, "9999-12-31", &rc) == 2932896 && rc == SL_OK);
    CHECK_STR(canon(SL_V_DATE, "2024/02/29"), "2024-02-29");
    CHECK_STR(canon(SL_V_DATE, "0001-01-01"), "0001-01-01");
    CHECK_STR(canon(SL_V_DATE, "9999-12-31"), "9999-12-31");
    const char *bad[] = {"2023-02-29",       "1900-02-29",  "2023-04-31", "2023-13-01",
                         "2023-00-10",       "2023-01-00",  "2023-01-32", "0000-01-01",
                         "2023-1-5",         "23-01-05",    "2023/01-05", "2023-01/05",
                         "20230105",         "2023-01-05x", "2023_01_05", "01/05/2023",
                         "2023-01-05T00:00", "Jan 5 2023",  "+202-01-05"};
    for (size_t i = 0; i < SL_ARRAY_LEN(bad); i++) {
        rd_i(SL_V_DATE, bad[i], &rc);
        CHECKF(rc == SL_EPARSE, "%s", bad[i]);
    }
    struct sl_value v;
    struct sl_err e = {0};
    CHECK(rd(SL_V_DATE, "2023-02-29", &v, &e) == SL_EPARSE);
    CHECK_STR(e.msg, "date out of range: \"2023-02-29\"");
    /* Every day of 1600..2500 round-trips through the helpers. */
    int64_t expect = sl_date_to_days(1600, 1, 1);
    int ok = 1;
    for (int y = 1600; y <= 2500 && ok; y++)
        for (int m = 1; m <= 12 && ok; m++) {
            int dim = (m == 2) ? (((y % 4 == 0 && y % 100 != 0) || y % 400 == 0) ? 29 : 28)
                      : (m == 4 || m == 6 || m == 9 || m == 11) ? 30
                                                                : 31;
            for (int d = 1; d <= dim; d++) {
                int yy, mm, dd;
                if (sl_date_to_days(y, m, d) != expect)
                    ok = 0;
                sl_days_to_date(expect, &yy, &mm, &dd);
                if (yy != y || mm != m || dd != d)
                    ok = 0;
                expect++;
            }
        }
    CHECK(ok);
    int y, m, d;
    sl_days_to_date(INT64_MAX, &y, &m, &d); /* clamps, no overflow */
    sl_days_to_date(INT64_MIN, &y, &m, &d);
}

TEST(timestamp_recogniser)
{
    int rc;
    const int64_t H = INT64_C(3600000000);
    CHECK(rd_i(SL_V_TIMESTAMP, "1970-01-01T00:00:00Z", &rc) == 0 && rc == SL_OK);
    CHECK(rd_i(SL_V_TIMESTAMP, "1970-01-01 01:00", &rc) == H && rc == SL_OK);
    CHECK(rd_i(SL_V_TIMESTAMP, "1970-01-01T01:00", &rc) == H && rc == SL_OK);
    CHECK(rd_i(SL_V_TIMESTAMP, "1970-01-01", &rc) == 0 && rc == SL_OK); /* date joins ts */
    CHECK(rd_i(SL_V_TIMESTAMP, "1970-01-01T00:00:01.5", &rc) == 1500000 && rc == SL_OK);
    CHECK(rd_i(SL_V_TIMESTAMP, "1970-01-01T00:00:00.123456789", &rc) == 123456);
    CHECK(rd_i(SL_V_TIMESTAMP, "1970-01-01T00:00:00.000001", &rc) == 1);
    CHECK(rd_i(SL_V_TIMESTAMP, "1970-01-01T02:00+02", &rc) == 0 && rc == SL_OK);
    CHECK(rd_i(SL_V_TIMESTAMP, "1970-01-01T02:30+0230", &rc) == 0 && rc == SL_OK);
    CHECK(rd_i(SL_V_TIMESTAMP, "1970-01-01T02:30:00+02:30", &rc) == 0 && rc == SL_OK);
    CHECK(rd_i(SL_V_TIMESTAMP, "1969-12-31T22:00:00-02:00", &rc) == 0 && rc == SL_OK);
    /* Conversion to UTC across a day (and year) boundary. */
    CHECK_STR(canon(SL_V_TIMESTAMP, "2023-12-31T23:30:00-01:00"), "2024-01-01T00:30:00Z");
    CHECK_STR(canon(SL_V_TIMESTAMP, "2024-03-01 00:15+05:30"), "2024-02-29T18:45:00Z");
    CHECK_STR(canon(SL_V_TIMESTAMP, "2024-03-01 00:15:07.25"), "2024-03-01T00:15:07.250000Z");
    CHECK_STR(canon(SL_V_TIMESTAMP, "2024/03/01 00:15:07.0000009"), "2024-03-01T00:15:07Z");
    CHECK_STR(canon(SL_V_TIMESTAMP, "1969-12-31T23:59:59.999999Z"), "1969-12-31T23:59:59.999999Z");
    CHECK_STR(canon(SL_V_TIMESTAMP, "0001-01-01T00:00:00Z"), "0001-01-01T00:00:00Z");
    CHECK_STR(canon(SL_V_TIMESTAMP, "9999-12-31T23:59:59.999999Z"), "9999-12-31T23:59:59.999999Z");
    const char *bad[] = {
        "1970-01-01T24:00",    "1970-01-01T23:60",       "1970-01-01T10:00:60",
        "1970-01-01T10",       "1970-01-01T10:0",        "1970-01-01  10:00",
        "1970-01-01t10:00",    "1970-01-01T10:00:00.",   "1970-01-01T10:00:00.1234567890",
        "1970-01-01T10:00+2",  "1970-01-01T10:00+020",   "1970-01-01T10:00+02:3",
        "1970-01-01T10:00 Z",  "1970-01-01T10:00ZZ",     "1970-01-01T10:00+24",
        "1970-01-01T10.00",    "2023-02-29T10:00",       "10:30:00",
        "1970-01-01T10:00 PM", "0001-01-01T00:00+01:00", "9999-12-31T23:00-01:00",
        "1700000000",          "1970-01-01T10:00:00.5Z1"};
    for (size_t i = 0; i < SL_ARRAY_LEN(bad); i++) {
        rd_i(SL_V_TIMESTAMP, bad[i], &rc);
        CHECKF(rc == SL_EPARSE, "%s", bad[i]);
    }
}

TEST(text_types_and_nulls)
{
    struct sl_value v;
    struct sl_err e = {0};
    CHECK(rd(SL_V_STRING, "", &v, &e) == SL_OK && v.type == SL_V_STRING && v.len == 0);
    CHECK(rd(SL_V_STRING, " a b ", &v, &e) == SL_OK && v.len == 5); /* not trimmed */
    CHECK(rd(SL_V_JSON, "", &v, &e) == SL_OK && v.type == SL_V_NULL);
    CHECK(rd(SL_V_BINARY, "", &v, &e) == SL_OK && v.type == SL_V_NULL);
    CHECK(rd(SL_V_DOUBLE, "", &v, &e) == SL_OK && v.type == SL_V_NULL);
    CHECK(rd(SL_V_DATE, "  ", &v, &e) == SL_OK && v.type == SL_V_NULL);
    char src[] = "{\"a\":[1,2]}";
    CHECK(rd(SL_V_JSON, src, &v, &e) == SL_OK && v.type == SL_V_JSON);
    src[0] = 'X'; /* the value owns a copy */
    CHECK(v.len == 11 && memcmp(v.s, "{\"a\":[1,2]}", 11) == 0);
    CHECK(sl_value_from_text(SL_V_BINARY, "a\0b", 3, &A, &v, &e) == SL_OK && v.len == 3 &&
          v.s[1] == '\0');
    CHECK_STR(canon(SL_V_BOOL, "YES"), "true");
    CHECK_STR(canon(SL_V_BOOL, "f"), "false");
    CHECK_STR(canon(SL_V_INT, "-0"), "0");
    struct sl_value n = {.type = SL_V_NULL};
    CHECK_STR(txt(&n), "");
}

TEST(double_text)
{
    CHECK_STR(canon(SL_V_DOUBLE, "0.1"), "0.1");
    CHECK_STR(canon(SL_V_DOUBLE, "2.5"), "2.5");
    CHECK_STR(canon(SL_V_DOUBLE, "5."), "5");
    CHECK_STR(canon(SL_V_DOUBLE, "1e5"), "100000");
    CHECK_STR(canon(SL_V_DOUBLE, "-0"), "-0");
    CHECK_STR(canon(SL_V_DOUBLE, "nan"), "NaN");
    CHECK_STR(canon(SL_V_DOUBLE, "inf"), "Infinity");
    CHECK_STR(canon(SL_V_DOUBLE, "-INF"), "-Infinity");
    CHECK_STR(canon(SL_V_DOUBLE, "1e300"), "1e+300");
    struct sl_value v = {.type = SL_V_DOUBLE, .d = 0.1 + 0.2};
    CHECK_STR(txt(&v), "0.30000000000000004");
    v.d = 1.0 / 3;
    CHECK_STR(txt(&v), "0.3333333333333333");
    v.d = 5e-324;
    CHECK_STR(txt(&v), "4.94065645841247e-324"); /* %.15g already reads back */
    v.d = 1.7976931348623157e308;
    CHECK_STR(txt(&v), "1.7976931348623157e+308");
}

static void random_value(struct sl_value *v, int allow_text)
{
    static char pool[1 << 16];
    static size_t pool_off;
    unsigned t = (unsigned)(rnd() % (allow_text ? 9 : 7));
    memset(v, 0, sizeof *v);
    v->type = (uint8_t)t;
    switch (t) {
    case SL_V_NULL: break;
    case SL_V_BOOL: v->i = (int64_t)(rnd() & 1); break;
    case SL_V_INT:
        switch (rnd() % 4) {
        case 0: v->i = (int64_t)(rnd() % 5) - 2; break;
        case 1:
            v->i = rnd() & 1 ? INT64_MAX - (int64_t)(rnd() % 3) : INT64_MIN + (int64_t)(rnd() % 3);
            break;
        default: v->i = (int64_t)rnd() >> (rnd() % 64);
        }
        break;
    case SL_V_DOUBLE: {
        uint64_t u = rnd();
        switch (rnd() % 6) {
        case 0: v->d = (double)((int64_t)(rnd() % 2001) - 1000) / 8; break;
        case 1: {
            static const double sp[] = {0.0, -0.0, 1.0 / 0.0, -1.0 / 0.0, 0.1, 5e-324, 1e308};
            v->d = sp[rnd() % SL_ARRAY_LEN(sp)];
            break;
        }
        case 2: v->d = NAN; break;
        default:
            memcpy(&v->d, &u, sizeof v->d);
            if (isnan(v->d))
                v->d = NAN;
        }
        break;
    }
    case SL_V_DATE: v->i = -719162 + (int64_t)(rnd() % (2932896 + 719162 + 1)); break;
    case SL_V_TIMESTAMP: {
        int64_t days = -719162 + (int64_t)(rnd() % (2932896 + 719162 + 1));
        int64_t us = (int64_t)(rnd() % UINT64_C(86400000000));
        if (rnd() & 1)
            us -= us % 1000000;
        v->i = days * INT64_C(86400000000) + us;
        break;
    }
    default: {
        size_t n = rnd() % 6;
        if (pool_off + n > sizeof pool)
            pool_off = 0;
        for (size_t k = 0; k < n; k++) {
            static const char alpha[] = {0, 1, 'a', 'b', (char)0xff, (char)0xfe, ' '};
            pool[pool_off + k] = alpha[rnd() % sizeof alpha];
        }
        v->s = pool + pool_off;
        v->len = (uint32_t)n;
        pool_off += n;
    }
    }
}

TEST(text_round_trip_random)
{
    struct sl_buf b;
    struct sl_err e = {0};
    sl_buf_init(&b, 0);
    int fails = 0, doubles_exact = 0;
    for (int k = 0; k < 20000; k++) {
        struct sl_value v, w;
        random_value(&v, 1);
        if (v.type == SL_V_NULL || ((v.type == SL_V_BINARY || v.type == SL_V_JSON) && !v.len))
            continue;
        sl_buf_reset(&b);
        if (sl_value_to_text(&v, &b, &e) != SL_OK ||
            sl_value_from_text((enum sl_vtype)v.type, b.data ? b.data : "", b.len, &A, &w, &e) !=
                SL_OK) {
            if (fails++ < 5)
                printf("#   type %d: %s\n", v.type, e.msg);
            continue;
        }
        if (v.type == SL_V_DOUBLE && !isnan(v.d)) {
            /* bit-exact, including -0 */
            if (memcmp(&v.d, &w.d, sizeof v.d) != 0) {
                if (fails++ < 5)
                    printf("#   double %.17g -> \"%s\" -> %.17g\n", v.d, b.data, w.d);
            } else {
                doubles_exact++;
            }
        } else if (!sl_value_eq(&v, &w) || w.type != v.type) {
            if (fails++ < 5)
                printf("#   type %d -> \"%s\" differs\n", v.type, b.data);
        }
        if (k % 4096 == 0)
            sl_arena_reset(&A);
    }
    CHECK(fails == 0);
    CHECK(doubles_exact > 1000);
    sl_buf_cleanup(&b);
}

TEST(cast_matrix)
{
    struct sl_err e = {0};
    struct sl_value o;
    struct sl_value vi = {.type = SL_V_INT, .i = 42};
    struct sl_value vd = {.type = SL_V_DOUBLE, .d = -2.75};
    struct sl_value vb = {.type = SL_V_BOOL, .i = 1};
    struct sl_value vdt = {.type = SL_V_DATE, .i = 19782};
    struct sl_value vts = {.type = SL_V_TIMESTAMP, .i = INT64_C(19782) * 86400000000 + 1};
    struct sl_value vs = {.type = SL_V_STRING, .s = " 17 ", .len = 4};
    struct sl_value vn = {.type = SL_V_NULL};

    CHECK(sl_value_cast(&vi, SL_V_DOUBLE, &A, &o, &e) == SL_OK && o.d == 42.0);
    CHECK(sl_value_cast(&vd, SL_V_INT, &A, &o, &e) == SL_OK && o.i == -2); /* truncates */
    CHECK(sl_value_cast(&vb, SL_V_INT, &A, &o, &e) == SL_OK && o.i == 1);
    CHECK(sl_value_cast(&vi, SL_V_BOOL, &A, &o, &e) == SL_OK && o.i == 1);
    CHECK(sl_value_cast(&vb, SL_V_DOUBLE, &A, &o, &e) == SL_OK && o.d == 1.0);
    CHECK(sl_value_cast(&vts, SL_V_DATE, &A, &o, &e) == SL_OK && o.i == 19782);
    struct sl_value neg_ts = {.type = SL_V_TIMESTAMP, .i = -1};
    CHECK(sl_value_cast(&neg_ts, SL_V_DATE, &A, &o, &e) == SL_OK && o.i == -1);
    CHECK(sl_value_cast(&vdt, SL_V_TIMESTAMP, &A, &o, &e) == SL_OK &&
          o.i == INT64_C(19782) * 86400000000);
    CHECK(sl_value_cast(&vs, SL_V_INT, &A, &o, &e) == SL_OK && o.type == SL_V_INT && o.i == 17);
    CHECK(sl_value_cast(&vs, SL_V_STRING, &A, &o, &e) == SL_OK && o.len == 4 && o.s != vs.s);
    CHECK(sl_value_cast(&vn, SL_V_INT, &A, &o, &e) == SL_OK && o.type == SL_V_NULL);
    CHECK(sl_value_cast(&vi, SL_V_STRING, &A, &o, &e) == SL_OK && o.len == 2 &&
          memcmp(o.s, "42", 2) == 0);
    CHECK(sl_value_cast(&vts, SL_V_STRING, &A, &o, &e) == SL_OK &&
          o.len == strlen("2024-02-29T00:00:00.000001Z"));
    CHECK(sl_value_cast(&vi, SL_V_JSON, &A, &o, &e) == SL_OK && o.type == SL_V_JSON);
    CHECK(sl_value_cast(&vdt, SL_V_JSON, &A, &o, &e) == SL_EPARSE);
    struct sl_value sdate = {.type = SL_V_STRING, .s = "2024-02-30", .len = 10};
    CHECK(sl_value_cast(&sdate, SL_V_DATE, &A, &o, &e) == SL_EPARSE);
    CHECK_STR(e.msg, "cannot cast string to date: date out of range: \"2024-02-30\"");
    struct sl_value big = {.type = SL_V_DOUBLE, .d = 1e19};
    CHECK(sl_value_cast(&big, SL_V_INT, &A, &o, &e) == SL_EPARSE);
    CHECK(strstr(e.msg, "out of range for bigint") != NULL);
    struct sl_value nan = {.type = SL_V_DOUBLE, .d = NAN};
    CHECK(sl_value_cast(&nan, SL_V_INT, &A, &o, &e) == SL_EPARSE);
    CHECK(sl_value_cast(&nan, SL_V_BOOL, &A, &o, &e) == SL_EPARSE);
    struct sl_value m63 = {.type = SL_V_DOUBLE, .d = -9223372036854775808.0};
    CHECK(sl_value_cast(&m63, SL_V_INT, &A, &o, &e) == SL_OK && o.i == INT64_MIN);
    CHECK(sl_value_cast(&vi, SL_V_DATE, &A, &o, &e) == SL_EPARSE);
    CHECK(sl_value_cast(&vdt, SL_V_INT, &A, &o, &e) == SL_EPARSE);
    CHECK(sl_value_cast(&vb, SL_V_TIMESTAMP, &A, &o, &e) == SL_EPARSE);
    struct sl_value far = {.type = SL_V_DATE, .i = 10000000};
    CHECK(sl_value_cast(&far, SL_V_TIMESTAMP, &A, &o, &e) == SL_EPARSE);
    CHECK(sl_value_cast(&far, SL_V_STRING, &A, &o, &e) == SL_EPARSE);
    /* Every pair either converts or fails with SL_EPARSE; same type is identity. */
    struct sl_value all[] = {vn, vb, vi, vd, vs, vdt, vts, vs, vs};
    all[7].type = SL_V_BINARY;
    all[8].type = SL_V_JSON;
    for (int f = 0; f < 9; f++)
        for (int t = 0; t < 9; t++) {
            int rc = sl_value_cast(&all[f], (enum sl_vtype)t, &A, &o, &e);
            CHECKF(rc == SL_OK || rc == SL_EPARSE, "%d->%d rc %d", f, t, rc);
            if (rc == SL_OK)
                CHECKF(o.type == t || o.type == SL_V_NULL, "%d->%d gave %d", f, t, o.type);
            if (f == t)
                CHECKF(rc == SL_OK && sl_value_eq(&o, &all[f]), "%d identity", f);
        }
}

TEST(cmp_eq_hash)
{
    struct sl_value a = {.type = SL_V_DOUBLE, .d = 0.0}, b = {.type = SL_V_DOUBLE, .d = -0.0};
    CHECK(sl_value_cmp(&a, &b) == 0 && sl_value_eq(&a, &b));
    CHECK(sl_value_hash(&a, 7) == sl_value_hash(&b, 7));
    struct sl_value n1 = {.type = SL_V_DOUBLE, .d = NAN}, n2 = {.type = SL_V_DOUBLE};
    uint64_t other_nan = UINT64_C(0xfff0000000000123);
    memcpy(&n2.d, &other_nan, sizeof n2.d);
    struct sl_value inf = {.type = SL_V_DOUBLE, .d = INFINITY};
    CHECK(sl_value_eq(&n1, &n2) && sl_value_hash(&n1, 1) == sl_value_hash(&n2, 1));
    CHECK(sl_value_cmp(&inf, &n1) < 0 && sl_value_cmp(&n1, &inf) > 0);
    struct sl_value nul = {.type = SL_V_NULL}, i = {.type = SL_V_INT, .i = INT64_MIN};
    CHECK(sl_value_cmp(&nul, &i) < 0 && sl_value_cmp(&i, &nul) > 0);
    struct sl_value s1 = {.type = SL_V_STRING, .s = "ab", .len = 2};
    struct sl_value s2 = {.type = SL_V_STRING, .s = "abc", .len = 3};
    struct sl_value s3 = {.type = SL_V_STRING, .s = "\xff", .len = 1};
    CHECK(sl_value_cmp(&s1, &s2) < 0 && sl_value_cmp(&s2, &s3) < 0);
    struct sl_value one_i = {.type = SL_V_INT, .i = 1}, one_d = {.type = SL_V_DOUBLE, .d = 1};
    CHECK(!sl_value_eq(&one_i, &one_d));
    /* Random pairs: cmp antisymmetric, eq iff cmp == 0, equal -> equal hashes. */
    int bad = 0;
    for (int k = 0; k < 20000; k++) {
        struct sl_value x, y;
        random_value(&x, 1);
        if (rnd() % 3 == 0)
            y = x;
        else
            random_value(&y, 1);
        int c1 = sl_value_cmp(&x, &y), c2 = sl_value_cmp(&y, &x);
        if ((c1 > 0) != (c2 < 0) || (c1 == 0) != (c2 == 0))
            bad++;
        if (sl_value_eq(&x, &y) != (c1 == 0))
            bad++;
        if (c1 == 0 && sl_value_hash(&x, 99) != sl_value_hash(&y, 99))
            bad++;
    }
    CHECK(bad == 0);
    CHECK(sl_value_hash(&s1, 1) != sl_value_hash(&s2, 1));
    CHECK(sl_value_hash(&s1, 1) != sl_value_hash(&s1, 2));
}

#define KEY_N     3
#define KEY_COUNT 2000

struct keyed {
    struct sl_value v[KEY_N];
    size_t off, len;
};

static struct sl_buf key_buf;

static int cmp_values(const void *pa, const void *pb)
{
    const struct keyed *a = pa, *b = pb;
    for (int k = 0; k < KEY_N; k++) {
        int c = sl_value_cmp(&a->v[k], &b->v[k]);
        if (c)
            return c;
    }
    return 0;
}

static int cmp_keys(const void *pa, const void *pb)
{
    const struct keyed *a = pa, *b = pb;
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(key_buf.data + a->off, key_buf.data + b->off, n);
    if (c)
        return c;
    return (a->len > b->len) - (a->len < b->len);
}

static int sgn(int x)
{
    return (x > 0) - (x < 0);
}

TEST(key_encoding_order)
{
    static struct keyed ks[KEY_COUNT];
    struct sl_err e = {0};
    sl_buf_init(&key_buf, 0);
    for (size_t r = 0; r < KEY_COUNT; r++) {
        for (int k = 0; k < KEY_N; k++) {
            /* Few types per column so that ties and cross-value order matter. */
            if (r > 0 && rnd() % 4 == 0)
                ks[r].v[k] = ks[rnd() % r].v[k];
            else
                random_value(&ks[r].v[k], 1);
        }
        ks[r].off = key_buf.len;
        CHECK_OK(sl_key_encode(ks[r].v, KEY_N, &key_buf, &e), &e);
        ks[r].len = key_buf.len - ks[r].off;
    }
    /* Pairwise: memcmp order == tuple order. */
    int bad = 0;
    for (size_t r = 0; r + 1 < KEY_COUNT; r++) {
        size_t q = (size_t)(rnd() % KEY_COUNT);
        if (sgn(cmp_keys(&ks[r], &ks[q])) != sgn(cmp_values(&ks[r], &ks[q])))
            bad++;
        if (sgn(cmp_keys(&ks[r], &ks[r + 1])) != sgn(cmp_values(&ks[r], &ks[r + 1])))
            bad++;
    }
    CHECK(bad == 0);
    /* Sort by key bytes; the result must be sorted by values too. */
    qsort(ks, KEY_COUNT, sizeof ks[0], cmp_keys);
    int unsorted = 0;
    for (size_t r = 0; r + 1 < KEY_COUNT; r++)
        if (cmp_values(&ks[r], &ks[r + 1]) > 0)
            unsorted++;
    CHECK(unsorted == 0);
    /* Decode each key back. */
    int dec_bad = 0;
    for (size_t r = 0; r < KEY_COUNT; r++) {
        struct sl_value out[KEY_N];
        if (sl_key_decode(key_buf.data + ks[r].off, ks[r].len, KEY_N, &A, out, &e) != SL_OK)
            dec_bad++;
        else
            for (int k = 0; k < KEY_N; k++)
                if (!sl_value_eq(&out[k], &ks[r].v[k]) || out[k].type != ks[r].v[k].type)
                    dec_bad++;
        /* Every proper prefix fails cleanly. */
        for (size_t cut = 0; cut < ks[r].len; cut++)
            if (sl_key_decode(key_buf.data + ks[r].off, cut, KEY_N, &A, out, &e) != SL_EPARSE)
                dec_bad++;
    }
    CHECK(dec_bad == 0);
    sl_buf_cleanup(&key_buf);
    sl_arena_reset(&A);
}

TEST(key_encoding_details)
{
    struct sl_buf b;
    struct sl_err e = {0};
    sl_buf_init(&b, 0);
    struct sl_value v[2] = {{.type = SL_V_STRING, .s = "a\0b", .len = 3}, {.type = SL_V_NULL}};
    CHECK_OK(sl_key_encode(v, 2, &b, &e), &e);
    CHECK(b.len == 1 + 4 + 2 + 1);
    CHECK(memcmp(b.data,
                 "\x04"
                 "a\0\xff"
                 "b\0\0"
                 "\0",
                 8) == 0);
    struct sl_value out[2];
    CHECK_OK(sl_key_decode(b.data, b.len, 2, &A, out, &e), &e);
    CHECK(out[0].len == 3 && memcmp(out[0].s, "a\0b", 3) == 0 && out[1].type == SL_V_NULL);
    /* Malformed inputs. */
    CHECK(sl_key_decode("\x04"
                        "a\0\x01",
                        4, 1, &A, out, &e) == SL_EPARSE);
    CHECK(sl_key_decode("\x09", 1, 1, &A, out, &e) == SL_EPARSE);
    CHECK(sl_key_decode("\x01\x02", 2, 1, &A, out, &e) == SL_EPARSE);
    CHECK(sl_key_decode("", 0, 0, &A, out, &e) == SL_OK);
    /* -0 and 0 encode alike; all NaNs encode alike. */
    struct sl_value z1 = {.type = SL_V_DOUBLE, .d = 0.0}, z2 = {.type = SL_V_DOUBLE, .d = -0.0};
    sl_buf_reset(&b);
    sl_key_encode(&z1, 1, &b, &e);
    sl_key_encode(&z2, 1, &b, &e);
    CHECK(b.len == 18 && memcmp(b.data, b.data + 9, 9) == 0);
    sl_buf_cleanup(&b);
}

TEST(row_codec)
{
    struct sl_buf b;
    struct sl_err e = {0};
    sl_buf_init(&b, 0);
    int bad = 0;
    for (int r = 0; r < 3000; r++) {
        struct sl_value in[4], out[4];
        size_t n = 1 + (size_t)(rnd() % 4);
        for (size_t k = 0; k < n; k++)
            random_value(&in[k], 1);
        sl_buf_reset(&b);
        CHECK_OK(sl_row_encode(in, n, &b, &e), &e);
        if (sl_row_decode(b.data, b.len, n, &A, out, &e) != SL_OK) {
            bad++;
            continue;
        }
        for (size_t k = 0; k < n; k++) {
            if (out[k].type != in[k].type || !sl_value_eq(&out[k], &in[k]))
                bad++;
            if (in[k].type == SL_V_DOUBLE && memcmp(&in[k].d, &out[k].d, 8) != 0)
                bad++; /* bit-exact, NaN payloads and -0 kept */
        }
        for (size_t cut = 0; cut < b.len; cut++)
            if (sl_row_decode(b.data, cut, n, &A, out, &e) != SL_EPARSE)
                bad++;
        if (r % 512 == 0)
            sl_arena_reset(&A);
    }
    CHECK(bad == 0);
    struct sl_value out[1];
    /* Over-long varint, length past the end, bad bool. */
    CHECK(sl_row_decode("\x02\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f", 11, 1, &A, out, &e) ==
          SL_EPARSE);
    CHECK(sl_row_decode("\x02\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 11, 1, &A, out, &e) ==
          SL_OK);
    CHECK(sl_row_decode("\x04\x05"
                        "ab",
                        4, 1, &A, out, &e) == SL_EPARSE);
    CHECK(sl_row_decode("\x01\x02", 2, 1, &A, out, &e) == SL_EPARSE);
    CHECK(sl_row_decode("\x0a", 1, 1, &A, out, &e) == SL_EPARSE);
    /* INT64 extremes. */
    struct sl_value ex[2] = {{.type = SL_V_INT, .i = INT64_MIN},
                             {.type = SL_V_INT, .i = INT64_MAX}};
    struct sl_value exo[2];
    sl_buf_reset(&b);
    sl_row_encode(ex, 2, &b, &e);
    CHECK(sl_row_decode(b.data, b.len, 2, &A, exo, &e) == SL_OK && exo[0].i == INT64_MIN &&
          exo[1].i == INT64_MAX);
    sl_buf_cleanup(&b);
    sl_arena_reset(&A);
}

int main(void)
{
    t_suite = "value/";
    sl_arena_init(&A, 0);
    RUN(catalog_types);
    RUN(rschema);
    RUN(bigint_recogniser);
    RUN(double_recogniser);
    RUN(bool_recogniser);
    RUN(date_recogniser);
    RUN(timestamp_recogniser);
    RUN(text_types_and_nulls);
    RUN(double_text);
    RUN(text_round_trip_random);
    RUN(cast_matrix);
    RUN(cmp_eq_hash);
    RUN(key_encoding_order);
    RUN(key_encoding_details);
    RUN(row_codec);
    sl_arena_cleanup(&A);
    TEST_EXIT();
}
