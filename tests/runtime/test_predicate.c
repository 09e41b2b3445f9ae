/*
 * tests/runtime/test_predicate.c - push_down_predicate (runtime/predicate.c):
 * a table of predicates x partition values with the expected verdict (typing,
 * NULLs and three-valued logic, IN, BETWEEN, LIKE, precedence, quoting), the
 * error messages with their positions, the limits, allocation failures and
 * evaluation from several threads.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/alloc.h"
#include "runtime/predicate.h"
#include "tests/test.h"

/* The keys of the table tests: dt date, hour int, region string, flag
 * boolean, price decimal, s string. */
enum { N_KEYS = 6 };
static const char *const keys[N_KEYS] = { "dt", "hour", "region", "flag", "price", "s" };
static const char *const types[N_KEYS] = { "date",    "int",           "string",
                                           "boolean", "decimal(10,2)", NULL };

#define NUL NULL
#define BASE "2024-05-01", "10", "eu-west", "true", "9.50", "10"

struct verdict {
    const char *pred;
    const char *values[N_KEYS];
    bool want;
};

static const struct verdict verdicts[] = {
    /* comparisons, quoting, case */
    { "dt = '2024-05-01'", { BASE }, true },
    { "dt == \"2024-05-01\"", { BASE }, true },
    { "dt <> '2024-05-01'", { BASE }, false },
    { "dt != '2024-05-02'", { BASE }, true },
    { "DT = '2024-05-01'", { BASE }, true },
    { "`Dt` = '2024-05-01'", { BASE }, true },
    { "'2024-05-01' = dt", { BASE }, true },
    { "dt > '2024-04-30'", { BASE }, true },
    { "dt >= '2024-05-01'", { BASE }, true },
    { "dt < '2024-05-01'", { BASE }, false },
    { "dt <= '2024-05-01'", { BASE }, true },
    { "dt>'2024-04-30'AND(hour=10)", { BASE }, true },
    { "\n\tdt\r\n=\t'2024-05-01' ", { BASE }, true },
    { "region = 'it''s'", { "d", "1", "it's", "true", "1", "x" }, true },
    { "region = \"it's\"", { "d", "1", "it's", "true", "1", "x" }, true },
    { "region = \"say \"\"hi\"\"\"", { "d", "1", "say \"hi\"", "true", "1", "x" }, true },
    { "region = 'a\\b'", { "d", "1", "a\\b", "true", "1", "x" }, true },
    { "region = ''", { "d", "1", "", "true", "1", "x" }, true },
    { "region = 'é'", { "d", "1", "é", "true", "1", "x" }, true },
    /* numeric keys compare as numbers, string keys as text */
    { "hour > 9", { BASE }, true },
    { "hour > '9'", { BASE }, true },
    { "s > '9'", { BASE }, false },
    { "s > 9", { BASE }, true },
    { "hour = 10.0", { BASE }, true },
    { "hour = '010'", { BASE }, true },
    { "hour = 1e1", { BASE }, true },
    { "hour = 100E-1", { BASE }, true },
    { "hour = +10", { BASE }, true },
    { "hour = 'ten'", { BASE }, false },
    { "NOT hour = 'ten'", { BASE }, false },
    { "hour > 1", { "d", "x", "r", "true", "1", "x" }, false },
    { "NOT hour > 1", { "d", "x", "r", "true", "1", "x" }, false },
    { "hour > 1 OR TRUE", { "d", "x", "r", "true", "1", "x" }, true },
    { "hour < -4", { "d", "-5", "r", "true", "1", "x" }, true },
    { "hour > - 6", { "d", "-5", "r", "true", "1", "x" }, true },
    { "hour = 0", { "d", "-0.0", "r", "true", "1", "x" }, true },
    { "hour = 0", { "d", " 0 ", "r", "true", "1", "x" }, true },
    { "hour > 123456789012345678901234567889",
      { "d", "123456789012345678901234567890", "r", "true", "1", "x" },
      true },
    { "hour < 123456789012345678901234567891",
      { "d", "123456789012345678901234567890", "r", "true", "1", "x" },
      true },
    { "hour = 9007199254740993", { "d", "9007199254740992", "r", "true", "1", "x" }, false },
    { "price = 9.5", { BASE }, true },
    { "price > 9.499", { BASE }, true },
    { "price < -1", { BASE }, false },
    { "price >= .95e1", { BASE }, true },
    { "price > 0.0000001", { "d", "1", "r", "true", "1e-6", "x" }, true },
    { "price < 1e-400", { "d", "1", "r", "true", "1e-401", "x" }, true },
    { "price > 1e1000000", { "d", "1", "r", "true", "2e1000000", "x" }, true },
    { "dt > 20240101", { BASE }, false }, /* a date is not a number */
    { "1 = 1", { BASE }, true },
    { "'a' < 'b'", { BASE }, true },
    { "1 < 'x'", { BASE }, false },
    /* booleans */
    { "flag", { BASE }, true },
    { "NOT flag", { BASE }, false },
    { "flag = true", { BASE }, true },
    { "flag = 'TRUE'", { BASE }, true },
    { "flag = FALSE", { BASE }, false },
    { "flag > false", { BASE }, true },
    { "flag", { "d", "1", "r", "False", "1", "x" }, false },
    { "NOT flag", { "d", "1", "r", "False", "1", "x" }, true },
    { "flag", { "d", "1", "r", "yes", "1", "x" }, false },
    { "NOT flag", { "d", "1", "r", "yes", "1", "x" }, false },
    { "TRUE", { BASE }, true },
    { "false", { BASE }, false },
    { "NULL", { BASE }, false },
    { "NOT NULL", { BASE }, false },
    /* NULL and three-valued logic */
    { "dt = '2024-05-01'", { NUL, "10", "r", "true", "1", "x" }, false },
    { "dt <> '2024-05-01'", { NUL, "10", "r", "true", "1", "x" }, false },
    { "NOT dt = 'x'", { NUL, "10", "r", "true", "1", "x" }, false },
    { "dt IS NULL", { NUL, "10", "r", "true", "1", "x" }, true },
    { "dt IS NOT NULL", { NUL, "10", "r", "true", "1", "x" }, false },
    { "dt is not null", { BASE }, true },
    { "dt IS NULL", { "__HIVE_DEFAULT_PARTITION__", "10", "r", "true", "1", "x" }, true },
    { "dt = '__HIVE_DEFAULT_PARTITION__'",
      { "__HIVE_DEFAULT_PARTITION__", "10", "r", "true", "1", "x" },
      false },
    { "dt = NULL", { NUL, "10", "r", "true", "1", "x" }, false },
    { "NOT dt = NULL", { BASE }, false },
    { "NULL IS NULL", { BASE }, true },
    { "dt IS NULL OR hour = 10", { NUL, "10", "r", "true", "1", "x" }, true },
    { "dt = 'x' OR hour = 10", { NUL, "10", "r", "true", "1", "x" }, true },
    { "dt = 'x' AND hour = 11", { NUL, "10", "r", "true", "1", "x" }, false },
    { "NOT (dt = 'x' AND hour = 11)", { NUL, "10", "r", "true", "1", "x" }, true },
    { "NOT (dt = 'x' AND hour = 10)", { NUL, "10", "r", "true", "1", "x" }, false },
    { "NOT (dt = 'x' OR hour = 11)", { NUL, "10", "r", "true", "1", "x" }, false },
    { "NOT (dt = 'x' OR hour = 10)", { NUL, "10", "r", "true", "1", "x" }, false },
    /* IN */
    { "region IN ('eu-west', 'us-east')", { BASE }, true },
    { "region NOT IN ('eu-west')", { BASE }, false },
    { "region in ('x')", { BASE }, false },
    { "hour IN (9, 10)", { BASE }, true },
    { "hour IN ('9', '10.0')", { BASE }, true },
    { "s IN ('10.0')", { BASE }, false },
    { "s IN (1, 10.0)", { BASE }, true },
    { "region IN ('eu-west', NULL)", { BASE }, true },
    { "region IN ('x', NULL)", { BASE }, false },
    { "NOT region IN ('x', NULL)", { BASE }, false },
    { "region NOT IN ('x', NULL)", { BASE }, false },
    { "region NOT IN ('x', 'y')", { BASE }, true },
    { "dt NOT IN ('a')", { NUL, "10", "r", "true", "1", "x" }, false },
    { "dt IN ('a')", { NUL, "10", "r", "true", "1", "x" }, false },
    { "'eu-west' IN (region, dt)", { BASE }, true },
    /* BETWEEN */
    { "dt BETWEEN '2024-05-01' AND '2024-05-31'", { BASE }, true },
    { "dt NOT BETWEEN '2024-05-02' AND '2024-05-31'", { BASE }, true },
    { "hour BETWEEN 1 AND 9", { BASE }, false },
    { "hour between 10 and 10", { BASE }, true },
    { "hour BETWEEN 9 AND 11", { BASE }, true },
    { "s BETWEEN '1' AND '2'", { BASE }, true }, /* "10" as text */
    { "hour BETWEEN '1' AND '2'", { BASE }, false },
    { "hour BETWEEN 1 AND 20 AND region = 'eu-west'", { BASE }, true },
    { "hour BETWEEN 1 AND 20 AND region = 'x'", { BASE }, false },
    { "hour BETWEEN NULL AND 5", { BASE }, false },
    { "NOT hour BETWEEN NULL AND 5", { BASE }, true },
    { "NOT hour BETWEEN NULL AND 50", { BASE }, false },
    /* LIKE */
    { "region LIKE 'eu-%'", { BASE }, true },
    { "region LIKE 'eu_west'", { BASE }, true },
    { "region LIKE 'EU%'", { BASE }, false },
    { "region NOT LIKE '%east'", { BASE }, true },
    { "region LIKE '%'", { BASE }, true },
    { "region LIKE ''", { BASE }, false },
    { "region LIKE 'eu-west'", { BASE }, true },
    { "region LIKE 'eu-wes'", { BASE }, false },
    { "region LIKE '%-%-%'", { BASE }, false },
    { "region LIKE '%e%t'", { BASE }, true },
    { "region LIKE '%%we%%'", { BASE }, true },
    { "region LIKE '_u%'", { BASE }, true },
    { "region LIKE '_______'", { BASE }, true },
    { "region LIKE '________'", { BASE }, false },
    { "region LIKE '%a%b%c%'", { "d", "1", "xaxxbxxxc", "true", "1", "x" }, true },
    { "region LIKE '%a%b%c'", { "d", "1", "xaxxbxxxcx", "true", "1", "x" }, false },
    { "region LIKE 'a\\_b\\%c'", { "d", "1", "a_b%c", "true", "1", "x" }, true },
    { "region LIKE 'a\\_b\\%c'", { "d", "1", "axb%c", "true", "1", "x" }, false },
    { "region LIKE 'a%\\%c'", { "d", "1", "a_b%c", "true", "1", "x" }, true },
    { "region LIKE 'a\\\\b'", { "d", "1", "a\\b", "true", "1", "x" }, true },
    { "region LIKE 'it''%'", { "d", "1", "it's", "true", "1", "x" }, true },
    { "region LIKE '_-x'", { "d", "1", "é-x", "true", "1", "x" }, true },
    { "region LIKE '%_'", { "d", "1", "é", "true", "1", "x" }, true },
    { "region LIKE '__'", { "d", "1", "é", "true", "1", "x" }, false },
    { "region LIKE '%'", { "d", "1", NUL, "true", "1", "x" }, false },
    { "region NOT LIKE '%'", { "d", "1", NUL, "true", "1", "x" }, false },
    { "hour LIKE '1%'", { BASE }, true },
    /* precedence: NOT > AND > OR */
    { "region = 'x' OR hour = 10 AND dt = '2024-05-01'", { BASE }, true },
    { "region = 'x' OR hour = 10 AND dt = 'nope'", { BASE }, false },
    { "(region = 'x' OR hour = 10) AND dt = 'nope'", { BASE }, false },
    { "hour = 10 OR region = 'x' AND dt = 'nope'", { BASE }, true },
    { "NOT region = 'x' AND hour = 10", { BASE }, true },
    { "NOT region = 'eu-west' OR hour = 10", { BASE }, true },
    { "NOT (region = 'eu-west' AND hour = 11)", { BASE }, true },
    { "NOT NOT hour = 10", { BASE }, true },
    { "hour = 10 and DT = '2024-05-01' Or region = 'x'", { BASE }, true },
    { "((((hour = 10))))", { BASE }, true },
    { "(hour = 9 OR (hour = 10 AND (region LIKE 'eu%' OR flag)))", { BASE }, true },
    /* nothing at all */
    { "", { BASE }, true },
    { "  \t\n ", { BASE }, true },
};

TEST(verdict_table)
{
    struct sl_err err = { 0 };

    for (size_t i = 0; i < SL_ARRAY_LEN(verdicts); i++) {
        const struct verdict *v = &verdicts[i];
        struct sl_pred *p = NULL;
        int rc = sl_pred_parse(v->pred, keys, types, N_KEYS, &p, &err);
        CHECKF(rc == SL_OK, "[%zu] %s: %s", i, v->pred, err.msg);
        if (rc != SL_OK)
            continue;
        bool got = sl_pred_eval(p, v->values);
        CHECKF(got == v->want, "[%zu] %s on (%s, %s, %s, %s, %s, %s): %d", i, v->pred,
               v->values[0] ? v->values[0] : "NULL", v->values[1] ? v->values[1] : "NULL",
               v->values[2] ? v->values[2] : "NULL", v->values[3] ? v->values[3] : "NULL",
               v->values[4] ? v->values[4] : "NULL", v->values[5] ? v->values[5] : "NULL", got);
        sl_pred_free(p);
    }
    printf("#   %zu verdicts\n", SL_ARRAY_LEN(verdicts));
}

TEST(null_text_and_missing_types)
{
    struct sl_err err = { 0 };
    struct sl_pred *p = NULL;
    const char *const k2[] = { "dt", "hour" };
    const char *const v2[] = { "2024", "10" };

    CHECK_OK(sl_pred_parse(NULL, NULL, NULL, 0, &p, &err), &err);
    CHECK(sl_pred_eval(p, NULL));
    sl_pred_free(p);
    sl_pred_free(NULL);
    CHECK(sl_pred_eval(NULL, NULL)); /* no predicate: everything passes */

    /* types NULL: every key is a string, so '10' < '9' */
    CHECK_OK(sl_pred_parse("hour < '9'", k2, NULL, 2, &p, &err), &err);
    CHECK(sl_pred_eval(p, v2));
    sl_pred_free(p);
    /* ... unless compared with an unquoted number */
    CHECK_OK(sl_pred_parse("hour < 9", k2, NULL, 2, &p, &err), &err);
    CHECK(!sl_pred_eval(p, v2));
    sl_pred_free(p);
    /* values NULL: every key is NULL */
    CHECK_OK(sl_pred_parse("dt IS NULL AND hour IS NULL", k2, NULL, 2, &p, &err), &err);
    CHECK(sl_pred_eval(p, NULL));
    sl_pred_free(p);
    /* type names: case, spaces, parameters */
    const char *const t2[] = { " BIGINT", "Decimal( 10 , 2 )" };
    CHECK_OK(sl_pred_parse("dt > '9' AND hour > '9'", k2, t2, 2, &p, &err), &err);
    CHECK(sl_pred_eval(p, v2));
    sl_pred_free(p);
}

/* ---- Errors ---- */

struct bad {
    const char *pred;
    const char *msg; /* after "push_down_predicate: " */
};

static const struct bad bads[] = {
    { "hour=1 AND dtt='x'", "col 12: unknown column \"dtt\" (partition keys: dt, hour)" },
    { "`d t` = 'x'", "col 1: unknown column \"d t\" (partition keys: dt, hour)" },
    { "'é' = dtt", "col 7: unknown column \"dtt\" (partition keys: dt, hour)" },
    { "dt =", "col 5: expected a value after '='" },
    { "dt = AND", "col 6: expected a value after '=', found \"AND\"" },
    { "dt <> ", "col 7: expected a value after '<>'" },
    { "dt = 'x", "col 6: unterminated quoted string" },
    { "dt = \"x''", "col 6: unterminated quoted string" },
    { "`dt = 'x'", "col 1: unterminated `quoted` name" },
    { "(dt = 'x'", "col 10: expected ')' to close the '(' at col 1" },
    { "dt = 'x')", "col 9: expected AND, OR or the end of the predicate, found ')'" },
    { "hour = 5 dt = 'x'", "col 10: expected AND, OR or the end of the predicate, found \"dt\"" },
    { "dt=2024-01-01", "col 8: expected AND, OR or the end of the predicate, found '-'" },
    { "dt IN ()", "col 8: expected a value in the IN list, found ')'" },
    { "dt IN 'a'", "col 7: expected '(' after IN, found 'a'" },
    { "dt IN ('a' 'b')", "col 12: expected ',' or ')' in the IN list, found 'b'" },
    { "dt IN ('a',)", "col 12: expected a value after ',', found ')'" },
    { "dt IN ('a'", "col 11: expected ',' or ')' in the IN list" },
    { "dt IS 5", "col 7: expected NULL or NOT NULL after IS, found 5" },
    { "dt IS NOT", "col 10: expected NULL or NOT NULL after IS" },
    { "dt NOT = 'x'", "col 8: expected IN, BETWEEN or LIKE after NOT, found '='" },
    { "dt BETWEEN 'a' OR 'b'", "col 16: expected AND after BETWEEN's lower bound, found \"OR\"" },
    { "dt BETWEEN 'a' AND", "col 19: expected a value after BETWEEN ... AND" },
    { "dt LIKE x", "col 9: expected a quoted pattern after LIKE, found \"x\"" },
    { "dt LIKE 'a\\b'",
      "col 11: bad escape in LIKE pattern: '\\' must be followed by '%', '_' or '\\'" },
    { "dt LIKE 'ab\\'",
      "col 12: bad escape in LIKE pattern: '\\' must be followed by '%', '_' or '\\'" },
    { "dt", "col 3: expected a comparison after \"dt\"" },
    { "dt 'x'", "col 4: expected a comparison after \"dt\", found 'x'" },
    { "'x'", "col 4: expected a comparison after 'x'" },
    { "-5", "col 3: expected a comparison after -5" },
    { "- 5 ", "col 5: expected a comparison after - 5" },
    { "`dt`  dt", "col 7: expected a comparison after `dt`, found \"dt\"" },
    { "dt = 1x", "col 6: invalid number \"1x\"" },
    { "dt = 1.2.3", "col 6: invalid number \"1.2.3\"" },
    { "dt = 'x' & hour = 1", "col 10: unexpected character '&'" },
    { "dt = 'x' || hour = 1", "col 10: unexpected character '|'" },
    { "dté = 'x'", "col 3: unexpected byte 0xc3" },
    { "to_date(dt) = '2024'", "col 1: functions are not supported (\"to_date\")" },
    { "- dt = 1", "col 3: expected a number after '-', found \"dt\"" },
    { "AND dt = 'x'", "col 1: expected a condition, found \"AND\"" },
    { "dt = 'x' AND", "col 13: expected a condition" },
    { "dt = 'x' AND OR", "col 14: expected a condition, found \"OR\"" },
    { "()", "col 2: expected a condition, found ')'" },
    { "NOT", "col 4: expected a condition" },
    { "in = 'x'", "col 1: expected a condition, found \"in\"" },
};

TEST(errors_name_the_position)
{
    const char *const k2[] = { "dt", "hour" };
    const char *const t2[] = { "string", "int" };
    struct sl_err err = { 0 };
    char want[600];

    for (size_t i = 0; i < SL_ARRAY_LEN(bads); i++) {
        struct sl_pred *p = (struct sl_pred *)&err; /* must become NULL */
        int rc = sl_pred_parse(bads[i].pred, k2, t2, 2, &p, &err);
        snprintf(want, sizeof want, "push_down_predicate: %s", bads[i].msg);
        CHECKF(rc == SL_EPARSE && p == NULL, "[%zu] %s: rc %d", i, bads[i].pred, rc);
        CHECKF(strcmp(err.msg, want) == 0, "[%zu] %s:\n#     got  %s\n#     want %s", i,
               bads[i].pred, err.msg, want);
        if (rc == SL_OK)
            sl_pred_free(p);
    }

    /* a table without partition keys */
    struct sl_pred *p = NULL;
    CHECK(sl_pred_parse("dt = 'x'", NULL, NULL, 0, &p, &err) == SL_EPARSE);
    CHECK_STR(err.msg, "push_down_predicate: col 1: unknown column \"dt\""
                       " (the table has no partition keys)");
    /* a key named like a keyword needs backticks */
    const char *const kw[] = { "in" };
    const char *const kwv[] = { "x" };
    CHECK_OK(sl_pred_parse("`IN` = 'x'", kw, NULL, 1, &p, &err), &err);
    CHECK(sl_pred_eval(p, kwv));
    sl_pred_free(p);
    /* long names and tokens are cut in messages */
    CHECK(sl_pred_parse("a_very_long_column_name_that_goes_on_and_on = 1", k2, t2, 2, &p, &err) ==
          SL_EPARSE);
    CHECK_STR(err.msg, "push_down_predicate: col 1: unknown column "
                       "\"a_very_long_column_name_that_goe...\" (partition keys: dt, hour)");
}

/* ---- Limits ---- */

static char *repeat_wrap(const char *open, int n, const char *mid, const char *close)
{
    size_t len = strlen(open) * (size_t)n + strlen(mid) + strlen(close) * (size_t)n + 1;
    char *s = malloc(len), *o = s;
    for (int i = 0; i < n; i++)
        o = stpcpy(o, open);
    o = stpcpy(o, mid);
    for (int i = 0; i < n; i++)
        o = stpcpy(o, close);
    return s;
}

TEST(limits_are_parse_errors)
{
    const char *const k2[] = { "dt", "hour" };
    const char *const t2[] = { "string", "int" };
    const char *const v2[] = { "x", "10" };
    struct sl_err err = { 0 };
    struct sl_pred *p = NULL;
    char *s;

    /* nesting: 100 levels parse, 101 do not */
    s = repeat_wrap("(", SL_PRED_MAX_DEPTH, "dt = 'x'", ")");
    CHECK_OK(sl_pred_parse(s, k2, t2, 2, &p, &err), &err);
    CHECK(sl_pred_eval(p, v2));
    sl_pred_free(p);
    free(s);
    s = repeat_wrap("(", SL_PRED_MAX_DEPTH + 1, "dt = 'x'", ")");
    CHECK(sl_pred_parse(s, k2, t2, 2, &p, &err) == SL_EPARSE && p == NULL);
    CHECK_STR(err.msg, "push_down_predicate: col 101: nesting deeper than 100 levels");
    free(s);
    s = repeat_wrap("NOT ", SL_PRED_MAX_DEPTH, "dt = 'x'", "");
    CHECK_OK(sl_pred_parse(s, k2, t2, 2, &p, &err), &err);
    CHECK(sl_pred_eval(p, v2)); /* an even number of NOTs */
    sl_pred_free(p);
    free(s);
    s = repeat_wrap("NOT (", SL_PRED_MAX_DEPTH, "dt = 'x'", ")");
    CHECK(sl_pred_parse(s, k2, t2, 2, &p, &err) == SL_EPARSE);
    CHECK(strstr(err.msg, "nesting deeper than 100 levels") != NULL);
    free(s);
    /* a million parentheses: an error, not a stack overflow */
    s = repeat_wrap("(", 1000000, "", "");
    CHECK(sl_pred_parse(s, k2, t2, 2, &p, &err) == SL_EPARSE);
    free(s);

    /* length: 65536 bytes parse, 65537 do not */
    s = malloc(SL_PRED_MAX_TEXT + 2);
    memset(s, ' ', SL_PRED_MAX_TEXT + 1);
    memcpy(s, "dt = 'x'", 8);
    s[SL_PRED_MAX_TEXT] = '\0';
    CHECK_OK(sl_pred_parse(s, k2, t2, 2, &p, &err), &err);
    sl_pred_free(p);
    s[SL_PRED_MAX_TEXT] = ' ';
    s[SL_PRED_MAX_TEXT + 1] = '\0';
    CHECK(sl_pred_parse(s, k2, t2, 2, &p, &err) == SL_EPARSE);
    CHECK_STR(err.msg, "push_down_predicate: longer than 65536 bytes");
    free(s);

    /* long flat chains are one node each: no depth limit, no deep recursion */
    size_t n_terms = SL_PRED_MAX_TEXT / 16;
    s = malloc(n_terms * 16 + 1);
    s[0] = '\0';
    size_t o = 0;
    for (size_t i = 0; i < n_terms; i++)
        o += (size_t)snprintf(s + o, 17, "%shour = 10", i ? " AND " : "");
    CHECK_OK(sl_pred_parse(s, k2, t2, 2, &p, &err), &err);
    CHECK(sl_pred_eval(p, v2));
    sl_pred_free(p);
    o = (size_t)snprintf(s, 16, "hour IN (");
    for (size_t i = 0; o + 8 < n_terms * 16; i++)
        o += (size_t)snprintf(s + o, 8, "%s%zu", i ? "," : "", i % 100000);
    snprintf(s + o, 2, ")");
    CHECK_OK(sl_pred_parse(s, k2, t2, 2, &p, &err), &err);
    CHECK(sl_pred_eval(p, v2));
    sl_pred_free(p);
    free(s);

    /* a long LIKE pattern against a long value stays polynomial */
    s = malloc(SL_PRED_MAX_TEXT);
    o = (size_t)snprintf(s, 32, "dt LIKE '");
    while (o < 20000)
        o += (size_t)snprintf(s + o, 3, "%%a");
    snprintf(s + o, 4, "%%b'");
    char *val = malloc(4001);
    memset(val, 'a', 4000);
    val[4000] = '\0';
    const char *vv[] = { val, "1" };
    CHECK_OK(sl_pred_parse(s, k2, t2, 2, &p, &err), &err);
    CHECK(!sl_pred_eval(p, vv));
    sl_pred_free(p);
    free(val);
    free(s);
}

/* ---- Memory and threads ---- */

TEST(allocation_failures_are_clean)
{
    const char *pred = "(dt BETWEEN '2024-01-01' AND '2024-12-31' OR dt IS NULL) AND "
                       "hour IN (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18) "
                       "AND NOT region LIKE 'test-%' AND `flag` AND price > -1.5 AND s = 'x'";
    const char *const v[N_KEYS] = { "2024-05-01", "10", "eu", "true", "1", "x" };
    struct sl_err err = { 0 };
    int done = 0;

    for (long nth = 1; nth < 200 && !done; nth++) {
        struct sl_pred *p = NULL;
        sl_alloc_fail_reset(nth);
        int rc = sl_pred_parse(pred, keys, types, N_KEYS, &p, &err);
        sl_alloc_fail_reset(0);
        if (rc == SL_OK) {
            CHECK(sl_pred_eval(p, v));
            sl_pred_free(p);
            done = 1;
        } else {
            CHECKF(rc == SL_ENOMEM && p == NULL, "step %ld: %d %s", nth, rc, err.msg);
            CHECK_STR(err.msg, "push_down_predicate: out of memory");
        }
    }
    CHECK(done);
}

struct eval_job {
    const struct sl_pred *p;
    long n_true;
};

static void *eval_many(void *arg)
{
    struct eval_job *j = arg;
    char hour[16];
    const char *v[N_KEYS] = { "2024-05-01", hour, "eu-west", "true", "1", "x" };

    for (int i = 0; i < 20000; i++) {
        snprintf(hour, sizeof hour, "%d", i % 24);
        v[0] = i % 7 == 0 ? NULL : "2024-05-01";
        j->n_true += sl_pred_eval(j->p, v);
    }
    return NULL;
}

TEST(one_predicate_many_threads)
{
    struct sl_err err = { 0 };
    struct sl_pred *p = NULL;
    struct eval_job jobs[4];
    pthread_t th[4];
    long want = 0;

    CHECK_OK(sl_pred_parse("hour BETWEEN 6 AND 17 AND dt IS NOT NULL AND region LIKE 'eu%'", keys,
                           types, N_KEYS, &p, &err),
             &err);
    if (!p)
        return;
    for (int i = 0; i < 20000; i++)
        want += (i % 24 >= 6 && i % 24 <= 17) && i % 7 != 0;
    for (int t = 0; t < 4; t++) {
        jobs[t] = (struct eval_job){ p, 0 };
        pthread_create(&th[t], NULL, eval_many, &jobs[t]);
    }
    for (int t = 0; t < 4; t++) {
        pthread_join(th[t], NULL);
        CHECKF(jobs[t].n_true == want, "thread %d: %ld, want %ld", t, jobs[t].n_true, want);
    }
    sl_pred_free(p);
}

int main(void)
{
    RUN(verdict_table);
    RUN(null_text_and_missing_types);
    RUN(errors_name_the_position);
    RUN(limits_are_parse_errors);
    RUN(allocation_failures_are_clean);
    RUN(one_predicate_many_threads);
    TEST_EXIT();
}
