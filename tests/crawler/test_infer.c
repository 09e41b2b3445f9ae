/*
 * tests/crawler/test_infer.c - crawler/infer.c: the value recognisers of
 * spec/crawler.md §7.2 with every trap, null tokens (§7.3), column
 * accumulation, and the header predicate sl_infer_parses_as().
 */
#include <string.h>

#include "crawler/infer.h"
#include "runtime/alloc.h"
#include "tests/test.h"

static struct sl_infer_cfg cfg_with(const struct sl_crawl_opts *o, char delim)
{
    struct sl_infer_cfg c;
    struct sl_err e = {0};
    if (sl_infer_cfg_init(&c, o, delim, &e) != SL_OK)
        fprintf(stdout, "#   cfg: %s\n", e.msg);
    return c;
}

static struct sl_infer_cfg dflt(void)
{
    return cfg_with(NULL, ',');
}

static enum sl_infer_class cls(const struct sl_infer_cfg *c, const char *s)
{
    return sl_infer_classify(c, s, strlen(s), NULL);
}

#define CHECK_CLS(c, s, want)                                                                      \
    CHECKF(cls(c, s) == (want), "\"%s\": class %d, want %d", s, (int)cls(c, s), (int)(want))

/* Column type of the given values (NULL-terminated) rendered, with format. */
static char *col_type(const struct sl_infer_cfg *c, const char *const *vals, char *fmt,
                      bool *ambiguous)
{
    struct sl_infer_col col;
    struct sl_infer_result r;
    struct sl_err e = {0};
    sl_infer_col_init(&col, c);
    for (size_t i = 0; vals[i]; i++)
        sl_infer_col_add(&col, vals[i], strlen(vals[i]), false);
    if (sl_infer_col_result(&col, &r, &e) != SL_OK)
        return NULL;
    char *s = sl_ctype_to_string(r.type);
    if (r.type->kind == SL_CT_TIMESTAMP) {
        char *s2 = sl_asprintf("%s/%s", s, r.type->tz == SL_CT_TZ_EXPLICIT ? "explicit" : "naive");
        sl_free(s);
        s = s2;
    }
    if (r.type->kind == SL_CT_NULL) {
        sl_free(s);
        s = sl_strdup("null");
    }
    if (fmt)
        memcpy(fmt, r.format, sizeof r.format);
    if (ambiguous)
        *ambiguous = r.ambiguous_date;
    sl_infer_result_cleanup(&r);
    return s;
}

#define CHECK_COL(c, want, ...)                                                                    \
    do {                                                                                           \
        const char *const t_v[] = {__VA_ARGS__, NULL};                                             \
        char *t_t = col_type(c, t_v, NULL, NULL);                                                  \
        CHECK_STR(t_t, want);                                                                      \
        sl_free(t_t);                                                                              \
    } while (0)

TEST(bigints)
{
    struct sl_infer_cfg c = dflt();
    CHECK_CLS(&c, "0", SL_INFER_BIGINT);
    CHECK_CLS(&c, "-0", SL_INFER_BIGINT);
    CHECK_CLS(&c, "42", SL_INFER_BIGINT);
    CHECK_CLS(&c, "-42", SL_INFER_BIGINT);
    CHECK_CLS(&c, "  17\t", SL_INFER_BIGINT); /* trimmed */
    CHECK_CLS(&c, "9223372036854775807", SL_INFER_BIGINT);
    CHECK_CLS(&c, "-9223372036854775808", SL_INFER_BIGINT);
    CHECK_CLS(&c, "9223372036854775808", SL_INFER_BIGDEC);
    CHECK_CLS(&c, "-9223372036854775809", SL_INFER_BIGDEC);
    CHECK_CLS(&c, "12345678901234567890123456789012345678", SL_INFER_BIGDEC);  /* 38 digits */
    CHECK_CLS(&c, "123456789012345678901234567890123456789", SL_INFER_STRING); /* 39 */
    CHECK_CLS(&c, "20240103", SL_INFER_BIGINT);   /* YYYYMMDD is a number */
    CHECK_CLS(&c, "1704103200", SL_INFER_BIGINT); /* epochs are numbers, never timestamps */
}

TEST(never_numeric_traps)
{
    struct sl_infer_cfg c = dflt();
    static const char *const traps[] = {
        "007",      "00501", "-007",  "00",    "+44",   "+1",        "1,234", "12%", "$3.50",
        "3.50 EUR", "0x1F",  "0b101", "1_000", "1 000", "01.5",      "00.5",  "-",   ".",
        "-.",       "1e",    "e5",    "1e+",   "1.2.3", "--1",       "1-",    "½",   "١٢",
        "1.5f",     "5L",    "0.5.",  "+inf",  "+NaN",  "Infinityx", "1e5e5",
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(traps); i++)
        CHECK_CLS(&c, traps[i], SL_INFER_STRING);
}

TEST(doubles)
{
    struct sl_infer_cfg c = dflt();
    static const char *const ok[] = {
        "2.5",     ".5",
        "5.",      "1e5",
        "-1.2E-3", "0.0",
        "-0.5",    "-.5",
        "1E+05",   "0e0",
        "3.14159", "1.7976931348623157e308",
        "1e999",   "123456789012345678901234567890123456789.5",
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(ok); i++)
        CHECK_CLS(&c, ok[i], SL_INFER_DOUBLE);
    static const char *const naninf[] = {"NaN", "nan",  "NAN", "Infinity", "-Infinity",
                                         "inf", "-inf", "INF", "-INFINITY"};
    for (size_t i = 0; i < SL_ARRAY_LEN(naninf); i++)
        CHECK_CLS(&c, naninf[i], SL_INFER_NANINF);
    /* NaN and Infinity fit a double column but never make one */
    CHECK_COL(&c, "string", "NaN", "Infinity", "-inf");
    CHECK_COL(&c, "double", "NaN", "1.5");
    CHECK_COL(&c, "double", "inf", "3");
    CHECK_COL(&c, "double", "1e5", "2"); /* 1e5 is a double, never a bigint */
    CHECK_COL(&c, "bigint", "1", "-0", "3");
}

TEST(big_integers_become_decimal)
{
    struct sl_infer_cfg c = dflt();
    CHECK_COL(&c, "decimal(19,0)", "1", "9223372036854775808");
    CHECK_COL(&c, "decimal(20,0)", "12345678901234567890");
    CHECK_COL(&c, "decimal(38,0)", "1", "12345678901234567890123456789012345678");
    CHECK_COL(&c, "string", "1", "1234567890123456789012345678901234567890"); /* 40 digits */
    CHECK_COL(&c, "double", "1.5", "12345678901234567890");
}

TEST(decimal_opt_in)
{
    struct sl_crawl_opts o;
    sl_crawl_opts_default(&o);
    o.csv_infer_decimal = true;
    struct sl_infer_cfg c = cfg_with(&o, ',');
    CHECK_COL(&c, "decimal(4,2)", "1.25", "10.5");
    CHECK_COL(&c, "decimal(5,2)", "1.25", "100");
    CHECK_COL(&c, "decimal(1,1)", ".5");
    CHECK_COL(&c, "double", "1.25", "1e3"); /* exponents are not fixed-point */
    CHECK_COL(&c, "double", "1.25", "NaN");
    CHECK_COL(&c, "bigint", "1", "2");
    CHECK_COL(&c, "double", "1.5", "12345678901234567890.123456789012345678901"); /* p > 38 */
}

TEST(thousands_and_decimal_separators)
{
    struct sl_crawl_opts o;
    sl_crawl_opts_default(&o);
    o.csv_thousands_separator = ',';
    struct sl_infer_cfg c = cfg_with(&o, ';');
    CHECK_CLS(&c, "1,234,567", SL_INFER_BIGINT);
    CHECK_CLS(&c, "-1,234", SL_INFER_BIGINT);
    CHECK_CLS(&c, "12,345.5", SL_INFER_DOUBLE);
    CHECK_CLS(&c, "1234", SL_INFER_BIGINT);
    CHECK_CLS(&c, "1,23", SL_INFER_STRING);
    CHECK_CLS(&c, "1,2345", SL_INFER_STRING);
    CHECK_CLS(&c, "1234,567", SL_INFER_STRING); /* first group at most 3 digits */
    CHECK_CLS(&c, "0,123", SL_INFER_STRING);
    CHECK_CLS(&c, "1,", SL_INFER_STRING);

    sl_crawl_opts_default(&o);
    o.csv_decimal_separator = ',';
    c = cfg_with(&o, ';');
    CHECK_CLS(&c, "3,50", SL_INFER_DOUBLE);
    CHECK_CLS(&c, "3.50", SL_INFER_STRING);
    c = cfg_with(&o, ','); /* a comma delimiter keeps the '.' decimal */
    CHECK_CLS(&c, "3,50", SL_INFER_STRING);
    CHECK_CLS(&c, "3.50", SL_INFER_DOUBLE);

    struct sl_err e = {0};
    o.csv_decimal_separator = ',';
    o.csv_thousands_separator = ',';
    CHECK(sl_infer_cfg_init(&c, &o, ';', &e) == SL_ECONFIG);

    /* European options on a comma-delimited file: '.' decimals, no grouping
     * (found by fuzz_csv: valid options must never fail on data) */
    o.csv_thousands_separator = '.';
    CHECK_OK(sl_infer_cfg_init(&c, &o, ',', &e), &e);
    CHECK(c.decimal_sep == '.' && c.thousands_sep == 0);
    CHECK_CLS(&c, "1.234", SL_INFER_DOUBLE);
    CHECK_OK(sl_infer_cfg_init(&c, &o, ';', &e), &e);
    CHECK(c.decimal_sep == ',' && c.thousands_sep == '.');
    CHECK_CLS(&c, "1.234,5", SL_INFER_DOUBLE);

    /* a thousands comma on a comma-delimited file still reads quoted groups */
    sl_crawl_opts_default(&o);
    o.csv_thousands_separator = ',';
    CHECK_OK(sl_infer_cfg_init(&c, &o, ',', &e), &e);
    CHECK_CLS(&c, "1,234,567", SL_INFER_BIGINT);
}

TEST(booleans)
{
    struct sl_infer_cfg c = dflt();
    static const char *const yes[] = {"true", "FALSE", "True", "t", "F", "yes", "No", "YES"};
    for (size_t i = 0; i < SL_ARRAY_LEN(yes); i++)
        CHECK_CLS(&c, yes[i], SL_INFER_BOOLEAN);
    static const char *const no[] = {"y", "n", "on", "off", "Y", "N", "tru", "yess"};
    for (size_t i = 0; i < SL_ARRAY_LEN(no); i++)
        CHECK_CLS(&c, no[i], SL_INFER_STRING);
    CHECK_COL(&c, "bigint", "0", "1", "1"); /* a 0/1 column is bigint */
    CHECK_COL(&c, "boolean", "true", "no", "T");
    CHECK_COL(&c, "string", "true", "1");
}

TEST(dates)
{
    struct sl_infer_cfg c = dflt();
    struct sl_infer_value v;
    CHECK(sl_infer_classify(&c, "2024-01-03", 10, &v) == SL_INFER_DATE &&
          v.date_mask == SL_INFER_DATE_ISO);
    CHECK(sl_infer_classify(&c, "2024/01/03", 10, &v) == SL_INFER_DATE &&
          v.date_mask == SL_INFER_DATE_YMD_SLASH);
    CHECK(sl_infer_classify(&c, "2024.01.03", 10, &v) == SL_INFER_DATE &&
          v.date_mask == SL_INFER_DATE_YMD_DOT);
    CHECK(sl_infer_classify(&c, "03/04/2024", 10, &v) == SL_INFER_DATE &&
          v.date_mask == (SL_INFER_DATE_DMY_SLASH | SL_INFER_DATE_MDY_SLASH));
    CHECK(sl_infer_classify(&c, "13/04/2024", 10, &v) == SL_INFER_DATE &&
          v.date_mask == SL_INFER_DATE_DMY_SLASH);
    CHECK(sl_infer_classify(&c, "04/13/2024", 10, &v) == SL_INFER_DATE &&
          v.date_mask == SL_INFER_DATE_MDY_SLASH);
    CHECK(sl_infer_classify(&c, "3-4-2024", 8, &v) == SL_INFER_DATE &&
          v.date_mask == (SL_INFER_DATE_DMY_DASH | SL_INFER_DATE_MDY_DASH));
    CHECK(sl_infer_classify(&c, "25.12.2024", 10, &v) == SL_INFER_DATE &&
          v.date_mask == SL_INFER_DATE_DMY_DOT);
    CHECK_CLS(&c, "2024-02-29", SL_INFER_DATE);
    CHECK_CLS(&c, "2000-02-29", SL_INFER_DATE);
    static const char *const no[] = {
        "2023-02-29",  "1900-02-29",     "2024-13-01",  "2024-04-31", "2024-00-10", "0000-01-01",
        "24-01-03",    "03/04/24",       "2024-1-3",    "31/04/2024", "02/30/2024", "13/13/2024",
        "Jan 3 2024",  "3 January 2024", "2024-01-03x", "2024-01/03", "03/04-2024", "123/04/2024",
        "2024--01-03", "10:30:00",       "10:30",
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(no); i++)
        CHECK_CLS(&c, no[i], SL_INFER_STRING);
}

TEST(date_columns_resolve_order)
{
    struct sl_infer_cfg c = dflt();
    char fmt[48];
    bool amb;
    const char *const dmy[] = {"03/04/2024", "13/04/2024", "01/12/2024", NULL};
    char *t = col_type(&c, dmy, fmt, &amb);
    CHECK_STR(t, "date");
    CHECK_STR(fmt, "%d/%m/%Y");
    CHECK(!amb);
    sl_free(t);
    const char *const mdy[] = {"03/04/2024", "04/13/2024", NULL};
    t = col_type(&c, mdy, fmt, &amb);
    CHECK_STR(t, "date");
    CHECK_STR(fmt, "%m/%d/%Y");
    sl_free(t);
    const char *const ambig[] = {"03/04/2024", "05/06/2024", NULL};
    t = col_type(&c, ambig, fmt, &amb);
    CHECK_STR(t, "string");
    CHECK(amb);
    sl_free(t);
    const char *const both[] = {"13/04/2024", "04/13/2024", NULL}; /* both orders: string */
    t = col_type(&c, both, fmt, &amb);
    CHECK_STR(t, "string");
    CHECK(!amb);
    sl_free(t);
    const char *const seps[] = {"03/04/2024", "13-04-2024", NULL}; /* one separator per column */
    t = col_type(&c, seps, fmt, &amb);
    CHECK_STR(t, "string");
    sl_free(t);
    const char *const iso[] = {"2024-01-03", "2024-12-31", NULL};
    t = col_type(&c, iso, fmt, &amb);
    CHECK_STR(t, "date");
    CHECK_STR(fmt, ""); /* ISO needs no pattern */
    sl_free(t);
    const char *const mixed_family[] = {"2024-01-03", "2024/01/04", NULL};
    t = col_type(&c, mixed_family, fmt, &amb);
    CHECK_STR(t, "string");
    sl_free(t);

    struct sl_crawl_opts o;
    sl_crawl_opts_default(&o);
    o.csv_date_order = 1; /* DMY */
    struct sl_infer_cfg cd = cfg_with(&o, ',');
    t = col_type(&cd, ambig, fmt, &amb);
    CHECK_STR(t, "date");
    CHECK_STR(fmt, "%d/%m/%Y");
    CHECK(!amb);
    sl_free(t);
    o.csv_date_order = 2; /* MDY */
    cd = cfg_with(&o, ',');
    t = col_type(&cd, ambig, fmt, &amb);
    CHECK_STR(fmt, "%m/%d/%Y");
    sl_free(t);
    t = col_type(&cd, dmy, fmt, &amb); /* evidence beats the configured order */
    CHECK_STR(fmt, "%d/%m/%Y");
    sl_free(t);
}

TEST(timestamps)
{
    struct sl_infer_cfg c = dflt();
    struct sl_infer_value v;
    static const char *const ok[] = {
        "2024-01-01T10:00:00Z",
        "2024-01-01 10:00:00",
        "2024-01-01T10:00",
        "2024-01-01 10:00:00.5",
        "2024-01-02T11:30:00.123+02:00",
        "2024-01-02T11:30:00.123456789-0530",
        "2024-01-02 11:30+02",
        "03/04/2024 10:00 PM",
        "13/04/2024 9:05",
        "04/13/2024 12:00:01 am",
        "2024/01/02 23:59:59",
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(ok); i++)
        CHECK_CLS(&c, ok[i], SL_INFER_TIMESTAMP);
    static const char *const no[] = {
        "2024-01-01T10:00:00.1234567890",
        "2024-01-01 25:00:00",
        "2024-01-01  10:00",
        "2024-01-01 10:00 PM",
        "03/04/2024 13:00 PM",
        "2024-01-01T10",
        "2024-01-01T10:0",
        "2024-01-01 10:60",
        "2024-01-01 10:00:61",
        "2024-01-01T10:00:00+2",
        "2024-01-01T10:00Z+01",
        "2024-01-01T10:00:00 UTC",
        "2024-01-01T",
        "2024-01-01 9:00",
        "2024-01-01T10:00:00+24:00",
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(no); i++)
        CHECK_CLS(&c, no[i], SL_INFER_STRING);
    CHECK(sl_infer_classify(&c, "2024-01-01T10:00:00Z", 20, &v) == SL_INFER_TIMESTAMP &&
          (v.ts_flags & SL_INFER_TS_ZONED) && (v.ts_flags & SL_INFER_TS_T));
}

TEST(timestamp_columns)
{
    struct sl_infer_cfg c = dflt();
    char fmt[48];
    CHECK_COL(&c, "timestamp/explicit", "2024-01-01T10:00:00Z", "2024-01-02T11:30:00.123+02:00");
    CHECK_COL(&c, "timestamp/naive", "2024-01-01 10:00:00", "2024-01-02 11:30:00.5");
    CHECK_COL(&c, "string", "2024-01-01T10:00:00Z", "2024-01-01 10:00:00"); /* mixed zones */
    CHECK_COL(&c, "timestamp/naive", "2024-01-01", "2024-01-01 08:00:00");  /* ISO date + ts */
    CHECK_COL(&c, "string", "2024-01-01", "2024-01-01T08:00:00Z");          /* a date is naive */
    CHECK_COL(&c, "string", "03/04/2024", "13/04/2024 10:00");              /* non-ISO date + ts */
    CHECK_COL(&c, "string", "03/04/2024 10:00 PM", "13/04/2024 22:00");     /* clocks mixed */
    const char *const dmy_ts[] = {"13/04/2024 10:00:05 PM", "03/04/2024 9:00 AM", NULL};
    char *t = col_type(&c, dmy_ts, fmt, NULL);
    CHECK_STR(t, "timestamp/naive");
    CHECK_STR(fmt, "%d/%m/%Y %I:%M:%S %p");
    sl_free(t);
    const char *const ymd_ts[] = {"2024/01/02T10:00:00.5+01:00", NULL};
    t = col_type(&c, ymd_ts, fmt, NULL);
    CHECK_STR(t, "timestamp/explicit");
    CHECK_STR(fmt, "%Y/%m/%dT%H:%M:%S.%f%z");
    sl_free(t);
}

TEST(null_tokens)
{
    struct sl_infer_cfg c = dflt();
    CHECK(sl_infer_null_token(&c, "", 0) == 0);
    CHECK(sl_infer_null_token(&c, " NA ", 4) == 4);
    CHECK(sl_infer_null_token(&c, "\\N", 2) == 8);
    CHECK(sl_infer_null_token(&c, "na", 2) == -1); /* exact match only */
    CHECK(sl_infer_null_token(&c, "NONE", 4) == -1);
    CHECK_CLS(&c, "NULL", SL_INFER_NULL);
    CHECK_CLS(&c, "#N/A", SL_INFER_NULL);

    struct sl_infer_col col;
    struct sl_infer_result r;
    struct sl_err e = {0};
    sl_infer_col_init(&col, &c);
    sl_infer_col_add(&col, "NA", 2, false);
    sl_infer_col_add(&col, "3.5", 3, false);
    sl_infer_col_add(&col, "\\N", 2, false);
    sl_infer_col_add(&col, "", 0, true); /* quoted "": NULL here, but no token */
    sl_infer_col_add_null(&col);         /* a ragged record */
    CHECK_OK(sl_infer_col_result(&col, &r, &e), &e);
    CHECK(r.type->kind == SL_CT_DOUBLE);
    CHECK(r.n_values == 1 && r.n_nulls == 4);
    CHECK(r.tokens_seen == ((1u << 4) | (1u << 8)));
    sl_infer_result_cleanup(&r);

    CHECK_COL(&c, "null", "", "NULL", "n/a");
    CHECK_COL(&c, "string", "NA", "DE"); /* Namibia stays a string */

    struct sl_crawl_opts o;
    sl_crawl_opts_default(&o);
    static const char *const none[] = {NULL};
    o.null_tokens = none;
    struct sl_infer_cfg c2 = cfg_with(&o, ',');
    CHECK_COL(&c2, "string", "1", ""); /* without tokens an empty field is a value */

    const char *many[SL_INFER_MAX_TOKENS + 2];
    for (size_t i = 0; i < SL_ARRAY_LEN(many) - 1; i++)
        many[i] = "x";
    many[SL_ARRAY_LEN(many) - 1] = NULL;
    o.null_tokens = many;
    CHECK(sl_infer_cfg_init(&c2, &o, ',', &e) == SL_ECONFIG);
}

TEST(mixed_columns_are_strings)
{
    struct sl_infer_cfg c = dflt();
    CHECK_COL(&c, "string", "1", "2024-01-01");
    CHECK_COL(&c, "string", "1", "x");
    CHECK_COL(&c, "string", "true", "2024-01-01");
    CHECK_COL(&c, "string", "00501", "10001");
    CHECK_COL(&c, "string", "1", "+44");
    CHECK_COL(&c, "double", "1", "2.5", "");
    CHECK_COL(&c, "null", "");
}

TEST(parses_as)
{
    struct sl_infer_cfg c = dflt();
    struct sl_ctype *big = sl_ctype_new(SL_CT_BIGINT), *dbl = sl_ctype_new(SL_CT_DOUBLE);
    struct sl_ctype *bo = sl_ctype_new(SL_CT_BOOLEAN), *dt = sl_ctype_new(SL_CT_DATE);
    struct sl_ctype *ts = sl_ctype_new(SL_CT_TIMESTAMP), *str = sl_ctype_new(SL_CT_STRING);
    struct sl_ctype *dec = sl_ctype_decimal(19, 0);
    ts->tz = SL_CT_TZ_NAIVE;
    CHECK(!sl_infer_parses_as(&c, "id", 2, big, NULL));
    CHECK(sl_infer_parses_as(&c, "17", 2, big, NULL));
    CHECK(sl_infer_parses_as(&c, "1.5", 3, big, NULL)); /* a number is never a header */
    CHECK(sl_infer_parses_as(&c, "1e5", 3, dec, NULL));
    CHECK(sl_infer_parses_as(&c, "NaN", 3, dbl, NULL));
    CHECK(!sl_infer_parses_as(&c, "007", 3, big, NULL));
    CHECK(!sl_infer_parses_as(&c, "NA", 2, big, NULL)); /* tokens are the caller's test */
    CHECK(sl_infer_parses_as(&c, "yes", 3, bo, NULL));
    CHECK(!sl_infer_parses_as(&c, "1", 1, bo, NULL));
    CHECK(sl_infer_parses_as(&c, "2024-01-01", 10, dt, NULL));
    CHECK(sl_infer_parses_as(&c, "2024-01-01 10:00", 16, dt, ""));
    CHECK(!sl_infer_parses_as(&c, "2024-01-01", 10, dt, "%d/%m/%Y"));
    CHECK(sl_infer_parses_as(&c, "13/01/2024", 10, dt, "%d/%m/%Y"));
    CHECK(!sl_infer_parses_as(&c, "01/13/2024", 10, dt, "%d/%m/%Y"));
    CHECK(sl_infer_parses_as(&c, "2024-01-01", 10, ts, NULL));
    CHECK(sl_infer_parses_as(&c, "2024-01-01 10:00", 16, ts, NULL));
    CHECK(!sl_infer_parses_as(&c, "2024-01-01T10:00Z", 17, ts, NULL)); /* zone vs naive */
    ts->tz = SL_CT_TZ_EXPLICIT;
    CHECK(sl_infer_parses_as(&c, "2024-01-01T10:00Z", 17, ts, NULL));
    CHECK(!sl_infer_parses_as(&c, "2024-01-01", 10, ts, NULL));
    CHECK(sl_infer_parses_as(&c, "anything", 8, str, NULL));
    CHECK(sl_infer_is_typed_value(&c, "NaN", 3));
    CHECK(sl_infer_is_typed_value(&c, "no", 2));
    CHECK(!sl_infer_is_typed_value(&c, "name", 4));
    CHECK(!sl_infer_is_typed_value(&c, "", 0));
    sl_ctype_free(big);
    sl_ctype_free(dbl);
    sl_ctype_free(bo);
    sl_ctype_free(dt);
    sl_ctype_free(ts);
    sl_ctype_free(str);
    sl_ctype_free(dec);
}

TEST(accumulator_is_copyable)
{
    struct sl_infer_cfg c = dflt();
    struct sl_infer_col a, b;
    sl_infer_col_init(&a, &c);
    sl_infer_col_add(&a, "1", 1, false);
    sl_infer_col_add(&a, "2", 1, false);
    CHECK(sl_infer_col_is_typed(&a));
    b = a;
    sl_infer_col_add(&b, "id", 2, false);
    CHECK(sl_infer_col_is_typed(&a));
    CHECK(!sl_infer_col_is_typed(&b));
}

int main(void)
{
    t_suite = "infer/";
    RUN(bigints);
    RUN(never_numeric_traps);
    RUN(doubles);
    RUN(big_integers_become_decimal);
    RUN(decimal_opt_in);
    RUN(thousands_and_decimal_separators);
    RUN(booleans);
    RUN(dates);
    RUN(date_columns_resolve_order);
    RUN(timestamps);
    RUN(timestamp_columns);
    RUN(null_tokens);
    RUN(mixed_columns_are_strings);
    RUN(parses_as);
    RUN(accumulator_is_copyable);
    TEST_EXIT();
}
