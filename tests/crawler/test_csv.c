/*
 * tests/crawler/test_csv.c - crawler/csv.c: every delimited-text case of
 * spec/crawler.md §14 (T1-T21, T27, T44, T46), encodings, dialect corner
 * cases, header reconciliation, and the real files of ../shared/data
 * (SLUICE_SHARED_DATA), checked against SHA256SUMS before use.
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crawler/csv.h"
#include "runtime/alloc.h"
#include "runtime/buf.h"
#include "tests/test.h"

/* ---- Helpers ---- */

struct run {
    struct sl_cls_result r;
    struct sl_err e;
    int rc;
};

static void run_opts(struct run *x, const char *data, size_t len, bool at_eof, const char *tail,
                     size_t tail_len, const char *name, const struct sl_crawl_opts *o)
{
    memset(&x->e, 0, sizeof x->e);
    sl_cls_result_init(&x->r);
    x->rc = sl_csv_classify(data, len, at_eof, tail, tail_len, name, o, &x->r, &x->e);
    if (x->rc)
        fprintf(stdout, "#   classify: %s\n", x->e.msg);
}

static void run_str(struct run *x, const char *s)
{
    run_opts(x, s, strlen(s), true, NULL, 0, "t.csv", NULL);
}

static void done(struct run *x)
{
    sl_cls_result_cleanup(&x->r);
}

static const char *param(const struct run *x, const char *key)
{
    const char *s = json_string_value(json_object_get(x->r.format_params, key));
    return s ? s : "(missing)";
}

/* "name:type" of every column, comma-separated; placeholders show as "null". */
static char *cols(const struct run *x)
{
    struct sl_buf b;
    sl_buf_init(&b, 0);
    for (size_t i = 0; i < x->r.schema.n_cols; i++) {
        const struct sl_ccolumn *c = &x->r.schema.cols[i];
        char *t = c->type->kind == SL_CT_NULL ? sl_strdup("null") : sl_ctype_to_string(c->type);
        sl_buf_printf(&b, NULL, "%s%s:%s", i ? "," : "", c->name, t);
        sl_free(t);
    }
    char *s = sl_buf_take(&b, NULL);
    return s;
}

#define CHECK_COLS(x, want)                                                                        \
    do {                                                                                           \
        char *t_c = cols(x);                                                                       \
        CHECK_STR(t_c, want);                                                                      \
        sl_free(t_c);                                                                              \
    } while (0)

#define CHECK_CSV(x, cert)                                                                         \
    do {                                                                                           \
        CHECK((x)->rc == SL_OK);                                                                   \
        CHECK_STR((x)->r.classification, "csv");                                                   \
        CHECKF((x)->r.certainty > (cert)-1e-9 && (x)->r.certainty < (cert) + 1e-9,                 \
               "certainty %g, want %g", (x)->r.certainty, (double)(cert));                         \
    } while (0)

static bool has_warning(const struct run *x, const char *code)
{
    for (size_t i = 0; i < x->r.n_warnings; i++)
        if (strcmp(x->r.warnings[i].code, code) == 0)
            return true;
    return false;
}

static const struct sl_ccolumn *col(const struct run *x, size_t j)
{
    static const struct sl_ccolumn none = {0};
    return j < x->r.schema.n_cols ? &x->r.schema.cols[j] : &none;
}

static const char *evidence_str(const struct run *x, const char *key)
{
    const char *s = json_string_value(json_object_get(x->r.header_evidence, key));
    return s ? s : "(missing)";
}

/* ---- §14 cases ---- */

TEST(t01_header_and_types)
{
    struct run x;
    run_str(&x, "id,name,amount,signup\n1,Ann,10.5,2024-01-03\n2,Bob,7,2024-02-11\n");
    CHECK_CSV(&x, 1.0);
    CHECK_STR(param(&x, "delimiter"), ",");
    CHECK_STR(param(&x, "skip.header.line.count"), "1");
    CHECK_STR(param(&x, "sluice.csv.header"), "PRESENT");
    CHECK_STR(param(&x, "sluice.header_decision"), "typed");
    CHECK_STR(param(&x, "sluice.csv.trim"), "true");
    CHECK_STR(param(&x, "sluice.encoding"), "UTF-8");
    CHECK_STR(param(&x, "sluice.csv.newline"), "\n");
    CHECK_STR(param(&x, "areColumnsQuoted"), "false");
    CHECK_COLS(&x, "id:bigint,name:string,amount:double,signup:date");
    CHECK(x.r.n_records == 2 && x.r.records_exact && !x.r.truncated);
    CHECK_STR(evidence_str(&x, "decision"), "PRESENT");
    CHECK_STR(evidence_str(&x, "rule"), "typed");
    done(&x);
}

TEST(t02_leading_zeros_stay_strings)
{
    struct run x;
    run_str(&x, "zip,city\n00501,Holtsville\n10001,New York\n02134,Boston\n");
    CHECK_CSV(&x, 1.0);
    CHECK_COLS(&x, "zip:string,city:string");
    CHECK_STR(param(&x, "sluice.csv.header"), "PRESENT");
    CHECK_STR(param(&x, "sluice.header_decision"), "names");
    done(&x);
}

TEST(t03_all_string_header_by_names)
{
    struct run x;
    run_str(&x, "first_name,last_name,country\nAda,Lovelace,UK\nAlan,Turing,UK\n");
    CHECK_CSV(&x, 1.0);
    CHECK_COLS(&x, "first_name:string,last_name:string,country:string");
    CHECK_STR(param(&x, "sluice.header_decision"), "names");
    CHECK_STR(param(&x, "skip.header.line.count"), "1");
    done(&x);
}

TEST(t04_typed_counter_evidence)
{
    struct run x;
    run_str(&x, "1,2024-01-01,3.5\n2,2024-01-02,4.0\n");
    CHECK_CSV(&x, 1.0);
    CHECK_STR(param(&x, "sluice.csv.header"), "ABSENT");
    CHECK_STR(param(&x, "sluice.header_decision"), "typed");
    CHECK_STR(param(&x, "skip.header.line.count"), "0");
    CHECK_COLS(&x, "col0:bigint,col1:date,col2:double");
    CHECK(x.r.n_records == 2);
    done(&x);
}

TEST(t05_recurring_values_mean_no_header)
{
    struct run x;
    run_str(&x, "red,apple\nred,cherry\ngreen,apple\n");
    CHECK_CSV(&x, 1.0);
    CHECK_STR(param(&x, "sluice.csv.header"), "ABSENT");
    CHECK_STR(param(&x, "sluice.header_decision"), "names");
    CHECK_COLS(&x, "col0:string,col1:string");
    CHECK(x.r.n_records == 3);
    done(&x);
}

TEST(t06_tab_beats_inconsistent_comma)
{
    struct run x;
    run_str(&x, "id\tcomment\n1\tfoo, bar\n2\tbaz, qux, quux\n");
    CHECK_CSV(&x, 1.0);
    CHECK_STR(param(&x, "delimiter"), "\t");
    CHECK_COLS(&x, "id:bigint,comment:string");
    done(&x);
}

TEST(t07_semicolon_and_decimal_comma)
{
    struct run x;
    const char *s = "id;price\n1;3,50\n2;4,25\n";
    run_str(&x, s);
    CHECK_CSV(&x, 1.0);
    CHECK_STR(param(&x, "delimiter"), ";");
    CHECK_COLS(&x, "id:bigint,price:string");
    done(&x);

    struct sl_crawl_opts o;
    sl_crawl_opts_default(&o);
    o.csv_decimal_separator = ',';
    run_opts(&x, s, strlen(s), true, NULL, 0, "t.csv", &o);
    CHECK_CSV(&x, 1.0);
    CHECK_STR(param(&x, "delimiter"), ";");
    CHECK_COLS(&x, "id:bigint,price:double");
    done(&x);
}

TEST(t08_quoted_delimiters_and_newlines)
{
    struct run x;
    run_str(&x, "id|note\n1|\"a|b\"\n2|\"line1\nline2\"\n");
    CHECK_CSV(&x, 1.0);
    CHECK_STR(param(&x, "delimiter"), "|");
    CHECK_STR(param(&x, "quoteChar"), "\"");
    CHECK_STR(param(&x, "escapeChar"), "\"");
    CHECK_STR(param(&x, "areColumnsQuoted"), "true");
    CHECK(x.r.n_records == 2);
    CHECK_COLS(&x, "id:bigint,note:string");
    done(&x);
}

TEST(t09_bom_and_crlf)
{
    struct run x;
    run_str(&x, "\xEF\xBB\xBF"
                "a,b\r\n1,2\r\n3,4\r\n");
    CHECK_CSV(&x, 1.0);
    CHECK_COLS(&x, "a:bigint,b:bigint");
    CHECK(col(&x, 0)->source_name == NULL); /* "a", not "\uFEFFa" */
    CHECK_STR(param(&x, "sluice.csv.newline"), "\r\n");
    CHECK_STR(param(&x, "sluice.encoding"), "UTF-8");
    done(&x);
}

TEST(t10_comment_lines)
{
    struct run x;
    run_str(&x, "# export 2024-05-01\n# src: crm\nid,score\n1,0.5\n2,0.75\n");
    CHECK_CSV(&x, 1.0);
    CHECK_STR(param(&x, "sluice.csv.comment"), "#");
    CHECK_STR(param(&x, "skip.header.line.count"), "3");
    CHECK_COLS(&x, "id:bigint,score:double");
    done(&x);
}

TEST(t11_preamble)
{
    struct run x;
    run_str(&x, "Report title\n\nid,v\n1,2\n3,4\n");
    CHECK_CSV(&x, 1.0);
    CHECK_STR(param(&x, "skip.header.line.count"), "3");
    CHECK_STR(param(&x, "sluice.csv.comment"), "");
    CHECK_COLS(&x, "id:bigint,v:bigint");
    CHECK(x.r.n_records == 2);
    done(&x);
}

TEST(t12_trailing_delimiter)
{
    struct run x;
    run_str(&x, "a,b,\n1,2,\n3,4,\n");
    CHECK_CSV(&x, 1.0);
    CHECK_STR(param(&x, "sluice.csv.trailing_delimiter"), "true");
    CHECK_COLS(&x, "a:bigint,b:bigint");
    done(&x);
}

TEST(t13_booleans_never_zero_one)
{
    struct run x;
    run_str(&x, "id,active,flag,bit\n1,true,yes,1\n2,false,no,0\n3,TRUE,No,1\n");
    CHECK_CSV(&x, 1.0);
    CHECK_COLS(&x, "id:bigint,active:boolean,flag:boolean,bit:bigint");
    done(&x);
}

TEST(t14_numeric_traps)
{
    struct run x;
    run_str(&x, "a,b,c,d,e,f,g\n1e5,NaN,-0,\"1,234\",12%,0x1F,+44\n"
                "2.5,1.5,3,\"2,345\",5%,0x20,+33\n");
    CHECK_CSV(&x, 1.0);
    CHECK_COLS(&x, "a:double,b:double,c:bigint,d:string,e:string,f:string,g:string");
    CHECK_STR(param(&x, "areColumnsQuoted"), "true");
    done(&x);
}

TEST(t15_int64_overflow)
{
    struct run x;
    run_str(&x, "n,id\n1,9223372036854775807\n2,9223372036854775808\n");
    CHECK_CSV(&x, 1.0);
    CHECK_STR(param(&x, "sluice.csv.header"), "PRESENT");
    CHECK_COLS(&x, "n:bigint,id:decimal(19,0)");
    done(&x);
    run_str(&x, "n,id\n1,9223372036854775807\n2,1234567890123456789012345678901234567890\n");
    CHECK_CSV(&x, 1.0);
    CHECK_COLS(&x, "n:bigint,id:string");
    done(&x);
}

TEST(t16_day_month_order)
{
    struct run x;
    run_str(&x, "d1,d2,d3\n03/04/2024,13/04/2024,2024-04-03\n05/06/2024,01/12/2024,2024-12-01\n");
    CHECK_CSV(&x, 1.0);
    CHECK_COLS(&x, "d1:string,d2:date,d3:date");
    CHECK(col(&x, 0)->ambiguous_date);
    CHECK(col(&x, 1)->format && strcmp(col(&x, 1)->format, "%d/%m/%Y") == 0);
    CHECK(col(&x, 1)->type->non_iso);
    CHECK(col(&x, 2)->format == NULL && !col(&x, 2)->type->non_iso);
    CHECK(has_warning(&x, "AMBIGUOUS_DATE"));
    done(&x);
}

TEST(t17_timestamp_zones)
{
    struct run x;
    run_str(&x, "t1,t2,t3\n2024-01-01T10:00:00Z,2024-01-01 10:00:00,1704103200\n"
                "2024-01-02T11:30:00.123+02:00,2024-01-02 11:30:00.5,1704189000\n");
    CHECK_CSV(&x, 1.0);
    CHECK_COLS(&x, "t1:timestamp,t2:timestamp,t3:bigint");
    CHECK(col(&x, 0)->type->tz == SL_CT_TZ_EXPLICIT);
    CHECK(col(&x, 1)->type->tz == SL_CT_TZ_NAIVE);
    done(&x);
}

TEST(t18_date_joins_timestamp)
{
    struct run x;
    run_str(&x, "k,when\n1,2024-01-01\n2,2024-01-01 08:00:00\n");
    CHECK_CSV(&x, 1.0);
    CHECK_STR(param(&x, "sluice.csv.header"), "PRESENT");
    CHECK_COLS(&x, "k:bigint,when:timestamp");
    done(&x);
}

TEST(t19_null_tokens_in_typed_columns_only)
{
    struct run x;
    run_str(&x, "id,score,country\n1,NA,NA\n2,3.5,DE\n3,\\N,\n");
    CHECK_CSV(&x, 1.0);
    CHECK_COLS(&x, "id:bigint,score:double,country:string");
    CHECK_STR(param(&x, "sluice.null_tokens"), "[\"NA\",\"\\\\N\"]");
    CHECK(col(&x, 1)->n_values == 1 && col(&x, 1)->n_nulls == 2);
    done(&x);
}

TEST(t20_placeholder_then_resolved)
{
    struct run a, b;
    run_str(&a, "id,notes\n1,\n2,\n");
    CHECK_CSV(&a, 1.0);
    CHECK_COLS(&a, "id:bigint,notes:null");
    CHECK(col(&a, 1)->type->kind == SL_CT_NULL);
    run_str(&b, "id,notes\n3,5\n4,7\n");
    CHECK_COLS(&b, "id:bigint,notes:bigint");
    /* the table join resolves the placeholder */
    struct sl_ctype *j = sl_ctype_join(col(&a, 1)->type, col(&b, 1)->type);
    CHECK(j && j->kind == SL_CT_BIGINT);
    sl_ctype_free(j);
    done(&a);
    done(&b);
}

TEST(t21_header_only)
{
    struct run x;
    run_str(&x, "id,name\n");
    CHECK_CSV(&x, 0.6);
    CHECK_COLS(&x, "id:null,name:null");
    CHECK(x.r.n_records == 0 && x.r.records_exact);
    CHECK_STR(param(&x, "skip.header.line.count"), "1");
    done(&x);
    run_str(&x, "id,name"); /* no final newline */
    CHECK_CSV(&x, 0.6);
    CHECK_COLS(&x, "id:null,name:null");
    CHECK_STR(param(&x, "skip.header.line.count"), "1");
    done(&x);
    run_str(&x, "id,name\n1,Ann\n"); /* one data row */
    CHECK_CSV(&x, 0.6);
    CHECK_COLS(&x, "id:bigint,name:string");
    done(&x);
}

TEST(t27_no_extension_and_record_size)
{
    /* T27's gzip layer is crawler/decode.c's; the classifier sees the decoded
     * bytes of a key without an extension */
    struct run x;
    const char *s = "id,name,amount,signup\n1,Ann,10.5,2024-01-03\n2,Bob,7,2024-02-11\n";
    run_opts(&x, s, strlen(s), true, NULL, 0, "export.dat", NULL);
    CHECK_CSV(&x, 1.0);
    CHECK_COLS(&x, "id:bigint,name:string,amount:double,signup:date");
    CHECK(x.r.decoded_bytes == (int64_t)strlen(s));
    CHECK(x.r.avg_record_bytes > 20.49 && x.r.avg_record_bytes < 20.51); /* (22 + 19) / 2 */
    done(&x);
}

TEST(t44_cut_json_lines_lose_to_json)
{
    struct sl_buf b;
    sl_buf_init(&b, 0);
    for (int i = 0; i < 200; i++)
        sl_buf_printf(&b, NULL, "{\"id\":%d,\"name\":\"n%d\"}\n", i, i);
    sl_buf_puts(&b, "{\"id\":200,\"na", NULL); /* the window ends mid-line */
    struct run x;
    run_opts(&x, b.data, b.len, false, NULL, 0, "x.jsonl", NULL);
    CHECK(x.rc == SL_OK);
    CHECKF(x.r.certainty <= 0.5, "certainty %g", x.r.certainty); /* JSON's 1.0 wins */
    done(&x);
    sl_buf_cleanup(&b);
}

/* A sorted export: the head holds numeric codes, only the tail holds A17. */
static void t46_data(struct sl_buf *head, struct sl_buf *tail, bool misaligned)
{
    sl_buf_init(head, 0);
    sl_buf_init(tail, 0);
    sl_buf_puts(head, "id,code,amount\n", NULL);
    for (int i = 1; i <= 5000; i++)
        sl_buf_printf(head, NULL, "%d,%d,%d.%02d\n", i, 1000 + i, i % 97, i % 100);
    sl_buf_puts(head, "5001,60", NULL);  /* cut */
    sl_buf_puts(tail, "5,2.50\n", NULL); /* the end of a record cut by the range */
    for (int i = 900000; i < 900100; i++)
        sl_buf_printf(tail, NULL, "%d,%d,%d.5\n", i, 90000 + i % 7, i % 13);
    sl_buf_puts(tail, misaligned ? "900100,A17\n" : "900100,A17,1.0\n", NULL);
}

TEST(t46_tail_window_makes_code_string)
{
    struct sl_buf head, tail;
    struct run x;
    t46_data(&head, &tail, false);
    run_opts(&x, head.data, head.len, false, NULL, 0, "big.csv", NULL);
    CHECK_CSV(&x, 1.0);
    CHECK_COLS(&x, "id:bigint,code:bigint,amount:double");
    CHECK(x.r.n_records == 5000 && !x.r.records_exact && x.r.truncated);
    done(&x);

    run_opts(&x, head.data, head.len, false, tail.data, tail.len, "big.csv", NULL);
    CHECK_CSV(&x, 1.0);
    CHECK_COLS(&x, "id:bigint,code:string,amount:double");
    CHECK(x.r.n_records == 5000); /* tail records type columns, never count */
    CHECK(x.r.decoded_bytes == (int64_t)(head.len + tail.len));
    done(&x);
    sl_buf_cleanup(&head);
    sl_buf_cleanup(&tail);

    /* a tail record with another field count discards the whole tail */
    t46_data(&head, &tail, true);
    run_opts(&x, head.data, head.len, false, tail.data, tail.len, "big.csv", NULL);
    CHECK_COLS(&x, "id:bigint,code:bigint,amount:double");
    done(&x);
    sl_buf_cleanup(&head);
    sl_buf_cleanup(&tail);
}

/* ---- Encodings (§6.1) ---- */

static size_t to_utf16(const char *s, char *out, bool le)
{
    size_t n = 0;
    out[n++] = le ? (char)0xFF : (char)0xFE;
    out[n++] = le ? (char)0xFE : (char)0xFF;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        unsigned cp = *p++;
        if (cp >= 0xC0) { /* two-byte UTF-8 is enough for the test text */
            cp = ((cp & 0x1F) << 6) | (*p++ & 0x3F);
        }
        out[n++] = (char)(le ? cp & 0xFF : cp >> 8);
        out[n++] = (char)(le ? cp >> 8 : cp & 0xFF);
    }
    return n;
}

TEST(utf16_both_byte_orders)
{
    char buf[512];
    const char *s = "id,näme\n1,Zoë\n2,Ann\n";
    for (int le = 0; le < 2; le++) {
        struct run x;
        size_t n = to_utf16(s, buf, le);
        run_opts(&x, buf, n, true, NULL, 0, "u.csv", NULL);
        CHECK_CSV(&x, 1.0);
        CHECK_STR(param(&x, "sluice.encoding"), le ? "UTF-16LE" : "UTF-16BE");
        CHECK_COLS(&x, "id:bigint,n_me:string");
        CHECK(col(&x, 1)->source_name && strcmp(col(&x, 1)->source_name, "näme") == 0);
        done(&x);
    }
}

TEST(windows_1252_fallback)
{
    struct run x;
    run_str(&x, "name,city,n\nJos\xE9,Z\xFCrich,1\nAnn,\x80uro,2\n");
    CHECK_CSV(&x, 1.0);
    CHECK_STR(param(&x, "sluice.encoding"), "Windows-1252");
    CHECK(has_warning(&x, "ENCODING_FALLBACK"));
    CHECK_COLS(&x, "name:string,city:string,n:bigint");
    char *key = sl_csv_compat_key(x.r.format_params);
    CHECK_STR(key, "csv|,|\"|\"|Windows-1252");
    sl_free(key);
    done(&x);

    /* a multi-byte character cut by the window end is not invalid UTF-8 */
    const char *s = "name,n\nZo\xC3\xAB,1\nAnn,2\nZo\xC3";
    run_opts(&x, s, strlen(s), false, NULL, 0, "t.csv", NULL);
    CHECK_STR(param(&x, "sluice.encoding"), "UTF-8");
    CHECK(!has_warning(&x, "ENCODING_FALLBACK"));
    done(&x);
}

TEST(nul_means_binary)
{
    struct run x;
    const char s[] = "id,name\n1,a\0b\n2,c\n";
    run_opts(&x, s, sizeof s - 1, true, NULL, 0, "t.csv", NULL);
    CHECK(x.rc == SL_OK && x.r.certainty == 0);
    CHECK_STR(x.r.classification, "");
    CHECK_STR(x.r.reason, "binary");
    CHECK(json_object_size(x.r.format_params) == 0);
    done(&x);

    /* past the first 4 KiB a NUL is data */
    struct sl_buf b;
    sl_buf_init(&b, 0);
    sl_buf_puts(&b, "id,name\n", NULL);
    for (int i = 0; i < 400; i++)
        sl_buf_printf(&b, NULL, "%d,name%d\n", i, i);
    sl_buf_append(&b, "401,x\0y\n", 8, NULL);
    run_opts(&x, b.data, b.len, true, NULL, 0, "t.csv", NULL);
    CHECK_CSV(&x, 1.0);
    CHECK_COLS(&x, "id:bigint,name:string");
    done(&x);
    sl_buf_cleanup(&b);
}

/* ---- Not delimited text ---- */

TEST(not_delimited_text)
{
    struct run x;
    static const struct {
        const char *in;
        bool at_eof;
        const char *reason;
    } cases[] = {
        {"", true, "empty"},
        {"\n\n\r\n", true, "empty"},
        {"# only\n# comments\n", true, "empty"},
        {"It was the best of times, it was the worst of times.\nIt was the age of wisdom.\n"
         "It was the epoch of belief, it was the epoch of incredulity, it was the season.\n",
         true, "no_consistent_dialect"},
        {"id\n1\n2\n3\n", true, "no_consistent_dialect"},     /* one column: not by default */
        {"a,b\n1,2\n3,4,5\n", true, "no_consistent_dialect"}, /* an overflow record */
        {"id,name\n1,Ann", false, "need_more_data"},
        {"id,na", false, "need_more_data"},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        run_opts(&x, cases[i].in, strlen(cases[i].in), cases[i].at_eof, NULL, 0, "t.csv", NULL);
        CHECK(x.rc == SL_OK);
        CHECKF(strcmp(x.r.reason, cases[i].reason) == 0 && x.r.certainty == 0 &&
                   x.r.classification[0] == '\0',
               "case %zu: reason \"%s\" certainty %g", i, x.r.reason, x.r.certainty);
        CHECK(x.r.schema.n_cols == 0 && x.r.header_evidence == NULL);
        done(&x);
    }
    /* NULL data is an empty object */
    run_opts(&x, NULL, 0, true, NULL, 0, NULL, NULL);
    CHECK(x.rc == SL_OK && strcmp(x.r.reason, "empty") == 0);
    done(&x);
}

TEST(single_column_when_allowed)
{
    struct sl_crawl_opts o;
    sl_crawl_opts_default(&o);
    o.csv_allow_single_column = true;
    struct run x;
    const char *s = "id\n1\n2\n3\n";
    run_opts(&x, s, strlen(s), true, NULL, 0, "t.csv", &o);
    CHECK_CSV(&x, 1.0);
    CHECK_COLS(&x, "id:bigint");
    done(&x);
}

/* ---- Dialects (§6.2-§6.3) ---- */

TEST(backslash_escape)
{
    struct run x;
    run_str(&x, "id,txt\n1,\"a \\\"q\\\" b\"\n2,\"c\\\\d\"\n3,plain\n");
    CHECK_CSV(&x, 1.0);
    CHECK_STR(param(&x, "quoteChar"), "\"");
    CHECK_STR(param(&x, "escapeChar"), "\\");
    done(&x);
}

TEST(doubled_quotes_beat_backslash)
{
    struct run x;
    run_str(&x, "id,txt\n1,\"say \"\"hi\"\"\"\n2,\"x\"\n");
    CHECK_CSV(&x, 1.0);
    CHECK_STR(param(&x, "escapeChar"), "\"");
    done(&x);
}

TEST(single_quotes)
{
    struct run x;
    run_str(&x, "id,name\n1,'Smith, J'\n2,'Doe, A'\n3,Bob's\n");
    CHECK_CSV(&x, 1.0);
    CHECK_STR(param(&x, "quoteChar"), "'");
    CHECK_STR(param(&x, "escapeChar"), "'");
    CHECK_COLS(&x, "id:bigint,name:string");
    done(&x);
}

TEST(no_quote_when_quotes_break_records)
{
    /* a field starting with a quote that closes mid-field fails the quote
     * candidates, and the plain reading is consistent */
    struct run x;
    run_str(&x, "id,size\n1,\"12\" pipe\n2,3 ft\n");
    CHECK_CSV(&x, 1.0);
    CHECK_STR(param(&x, "quoteChar"), "");
    CHECK_STR(param(&x, "escapeChar"), "");
    done(&x);
}

TEST(carriage_return_newlines)
{
    struct run x;
    run_str(&x, "a,b\r1,2\r3,4\r");
    CHECK_CSV(&x, 1.0);
    CHECK_STR(param(&x, "sluice.csv.newline"), "\r");
    CHECK_COLS(&x, "a:bigint,b:bigint");
    CHECK(x.r.n_records == 2);
    done(&x);
    /* with "\n" newlines a lone '\r' is data */
    run_str(&x, "a,b\n1,x\ry\n3,z\n");
    CHECK_STR(param(&x, "sluice.csv.newline"), "\n");
    CHECK(x.r.n_records == 2);
    done(&x);
}

TEST(name_hints_break_ties)
{
    const char *s = "a,b\tc\n1,2\t3\n4,5\t6\n";
    struct run x;
    run_opts(&x, s, strlen(s), true, NULL, 0, "x.csv", NULL);
    CHECK_STR(param(&x, "delimiter"), ",");
    done(&x);
    run_opts(&x, s, strlen(s), true, NULL, 0, "dir/x.TSV", NULL);
    CHECK_STR(param(&x, "delimiter"), "\t");
    done(&x);
    run_opts(&x, s, strlen(s), true, NULL, 0, "x.tab.gz", NULL);
    CHECK_STR(param(&x, "delimiter"), "\t");
    done(&x);
    const char *p = "a,b|c\n1,2|3\n4,5|6\n";
    run_opts(&x, p, strlen(p), true, NULL, 0, "x.psv", NULL);
    CHECK_STR(param(&x, "delimiter"), "|");
    done(&x);
}

TEST(ctrl_a_delimiter)
{
    struct run x;
    run_str(&x, "1\x01"
                "abc\x01"
                "2024-01-01\n2\x01"
                "def\x01"
                "2024-01-02\n");
    CHECK_CSV(&x, 1.0);
    CHECK_STR(param(&x, "delimiter"), "\x01");
    CHECK_COLS(&x, "col0:bigint,col1:string,col2:date");
    done(&x);
}

TEST(ragged_records_are_padded)
{
    struct sl_buf b;
    sl_buf_init(&b, 0);
    sl_buf_puts(&b, "a,b,c\n", NULL);
    for (int i = 0; i < 40; i++)
        sl_buf_printf(&b, NULL, "%d,%d,%d\n", i, i, i);
    sl_buf_puts(&b, "7,8\n", NULL);
    struct run x;
    run_opts(&x, b.data, b.len, true, NULL, 0, "t.csv", NULL);
    CHECK(x.r.certainty > 0.97 && x.r.certainty < 0.98); /* 41 of 42 */
    CHECK_COLS(&x, "a:bigint,b:bigint,c:bigint");
    CHECK(col(&x, 2)->n_nulls == 1);
    done(&x);
    sl_buf_cleanup(&b);
}

TEST(hash_lines_that_fit_are_data)
{
    struct run x;
    run_str(&x, "#id,val\n1,2\n3,4\n");
    CHECK_CSV(&x, 1.0);
    CHECK_STR(param(&x, "sluice.csv.comment"), "");
    CHECK_COLS(&x, "id:bigint,val:bigint");
    CHECK(col(&x, 0)->source_name && strcmp(col(&x, 0)->source_name, "#id") == 0);
    done(&x);
}

TEST(cut_window_drops_last_record)
{
    struct run x;
    const char *s = "a,b\n1,2\n3,4\n5,6";
    run_opts(&x, s, strlen(s), false, NULL, 0, "t.csv", NULL);
    CHECK_CSV(&x, 1.0);
    CHECK(x.r.n_records == 2 && !x.r.records_exact && x.r.truncated);
    done(&x);
    run_opts(&x, s, strlen(s), true, NULL, 0, "t.csv", NULL);
    CHECK(x.r.n_records == 3 && x.r.records_exact);
    done(&x);
    /* a quote left open by the cut is not a failure */
    const char *q = "a,b\n1,\"x\"\n2,\"multi\nline";
    run_opts(&x, q, strlen(q), false, NULL, 0, "t.csv", NULL);
    CHECK_CSV(&x, 1.0);
    CHECK_STR(param(&x, "quoteChar"), "\"");
    CHECK(x.r.n_records == 1);
    done(&x);
    /* at EOF it is, and the unquoted reading is inconsistent */
    run_opts(&x, q, strlen(q), true, NULL, 0, "t.csv", NULL);
    CHECK(x.rc == SL_OK && x.r.classification[0] == '\0');
    CHECK_STR(x.r.reason, "no_consistent_dialect");
    done(&x);
}

TEST(apostrophe_at_cut_end_does_not_win)
{
    /* a field opening with ' near the start would swallow the rest of a cut
     * window under quote '; the dialect that reads the whole window wins */
    struct sl_buf b;
    sl_buf_init(&b, 0);
    sl_buf_puts(&b, "id,word\n1,'tis\n", NULL);
    for (int i = 2; i < 300; i++)
        sl_buf_printf(&b, NULL, "%d,w%d\n", i, i);
    sl_buf_puts(&b, "300,w", NULL);
    struct run x;
    run_opts(&x, b.data, b.len, false, NULL, 0, "t.csv", NULL);
    CHECK_CSV(&x, 1.0);
    CHECK_STR(param(&x, "quoteChar"), "\"");
    CHECK(x.r.n_records == 299);
    done(&x);
    sl_buf_cleanup(&b);
}

TEST(records_over_1mib_fail)
{
    struct sl_buf b;
    sl_buf_init(&b, 0);
    sl_buf_puts(&b, "id,blob\n1,\"", NULL);
    for (int i = 0; i < (1 << 20) / 8 + 16; i++)
        sl_buf_puts(&b, "abcdefgh", NULL);
    sl_buf_puts(&b, "\"\n2,x\n", NULL);
    struct run x;
    run_opts(&x, b.data, b.len, true, NULL, 0, "t.csv", NULL);
    CHECK(x.rc == SL_OK);
    CHECK_STR(x.r.classification, "");
    done(&x);
    sl_buf_cleanup(&b);
}

TEST(huge_unquoted_field_fails)
{
    struct sl_buf b;
    sl_buf_init(&b, 0);
    sl_buf_puts(&b, "id,blob\n1,x\n2,", NULL);
    for (int i = 0; i < (2 << 20) / 8; i++)
        sl_buf_puts(&b, "abcdefgh", NULL);
    sl_buf_puts(&b, "\n3,y\n", NULL);
    struct run x;
    run_opts(&x, b.data, b.len, true, NULL, 0, "t.csv", NULL);
    CHECK(x.rc == SL_OK);
    CHECK_STR(x.r.classification, "");
    done(&x);
    sl_buf_cleanup(&b);
}

TEST(json_looking_records_halve_certainty)
{
    struct run x;
    run_str(&x, "[1,2]\n[3,4]\n[5,6]\n");
    CHECK_CSV(&x, 0.5);
    done(&x);
}

TEST(malformed_records_after_dialect_sample)
{
    struct sl_crawl_opts o;
    sl_crawl_opts_default(&o);
    o.dialect_rows = 4;
    const char *s = "a,b\n1,2\n3,4\n5,6\n7,8,9\n10,11\n";
    struct run x;
    run_opts(&x, s, strlen(s), true, NULL, 0, "t.csv", &o);
    CHECK_CSV(&x, 1.0);
    CHECK(has_warning(&x, "MALFORMED_RECORDS"));
    CHECK(x.r.n_records == 5);
    done(&x);
    /* a record that fails to parse stops the count: not exact though at EOF */
    const char *t = "a,b\n1,2\n3,4\n5,6\n7,\"8\"x\n10,11\n";
    run_opts(&x, t, strlen(t), true, NULL, 0, "t.csv", &o);
    CHECK_CSV(&x, 1.0);
    CHECK(has_warning(&x, "MALFORMED_RECORDS"));
    CHECK(x.r.n_records == 3 && !x.r.records_exact && x.r.truncated);
    done(&x);
}

TEST(sample_rows_limit_inference)
{
    struct sl_crawl_opts o;
    sl_crawl_opts_default(&o);
    o.sample_rows = 3;
    const char *s = "a,b\n1,x\n2,y\n3,z\nfour,w\n";
    struct run x;
    run_opts(&x, s, strlen(s), true, NULL, 0, "t.csv", &o);
    CHECK_COLS(&x, "a:bigint,b:string");
    CHECK(x.r.n_records == 4 && x.r.records_exact); /* counting goes on */
    done(&x);
}

/* ---- Header (§6.4-§6.5) ---- */

TEST(forced_header)
{
    struct sl_crawl_opts o;
    sl_crawl_opts_default(&o);
    o.csv_header = -1;
    const char *s = "id,name\n1,Ann\n2,Bob\n";
    struct run x;
    run_opts(&x, s, strlen(s), true, NULL, 0, "t.csv", &o);
    CHECK_STR(param(&x, "sluice.header_decision"), "forced");
    CHECK_STR(param(&x, "sluice.csv.header"), "ABSENT");
    CHECK_COLS(&x, "col0:string,col1:string");
    CHECK(x.r.n_records == 3);
    done(&x);
    o.csv_header = 1;
    const char *t = "1,2\n3,4\n";
    run_opts(&x, t, strlen(t), true, NULL, 0, "t.csv", &o);
    CHECK_STR(param(&x, "sluice.csv.header"), "PRESENT");
    CHECK_COLS(&x, "_1:bigint,_2:bigint");
    done(&x);
}

TEST(column_names_normalised_and_deduped)
{
    struct run x;
    run_str(&x, " Order ID ,Id,id,ID,\"Amount (€)\",,2nd,x\n1,2,3,4,5,6,7,8\n");
    CHECK_CSV(&x, 0.6);
    CHECK_COLS(&x, "order_id:bigint,id:bigint,id_2:bigint,id_3:bigint,amount:bigint,"
                   "col5:bigint,_2nd:bigint,x:bigint");
    CHECK(col(&x, 0)->source_name && strcmp(col(&x, 0)->source_name, "Order ID") == 0);
    CHECK(col(&x, 2)->source_name && strcmp(col(&x, 2)->source_name, "id") == 0);
    CHECK(col(&x, 3)->source_name && strcmp(col(&x, 3)->source_name, "ID") == 0);
    CHECK(col(&x, 4)->source_name && strcmp(col(&x, 4)->source_name, "Amount (€)") == 0);
    CHECK(col(&x, 7)->source_name == NULL);
    done(&x);
}

TEST(header_names_must_be_plausible)
{
    struct run x;
    /* all strings, but one R0 cell is a date: not a header */
    run_str(&x, "2024-01-01,x\nb,y\nc,z\n");
    CHECK_STR(param(&x, "sluice.csv.header"), "ABSENT");
    CHECK_COLS(&x, "col0:string,col1:string");
    done(&x);
    /* duplicate R0 cells */
    run_str(&x, "name,Name\nb,y\nc,z\n");
    CHECK_STR(param(&x, "sluice.csv.header"), "ABSENT");
    done(&x);
    /* a single record of plausible names is a header */
    run_str(&x, "alpha,beta\n");
    CHECK_STR(param(&x, "sluice.csv.header"), "PRESENT");
    done(&x);
    run_str(&x, "alpha,42\n");
    CHECK_STR(param(&x, "sluice.csv.header"), "ABSENT");
    CHECK_COLS(&x, "col0:string,col1:bigint");
    done(&x);
}

TEST(evidence_holds_both_outcomes)
{
    struct run x;
    run_str(&x, "id,name\n1,Ann\n2,Bob\n");
    json_t *ev = x.r.header_evidence;
    CHECK(json_is_object(ev));
    CHECK(json_integer_value(json_object_get(json_object_get(ev, "present"), "skip")) == 1);
    CHECK(json_integer_value(json_object_get(json_object_get(ev, "absent"), "skip")) == 0);
    const json_t *p0 = json_array_get(json_object_get(ev, "parses"), 0);
    CHECK(json_is_true(json_object_get(p0, "typed")) &&
          json_is_false(json_object_get(p0, "parses")));
    CHECK_STR(json_string_value(json_array_get(json_object_get(ev, "r0"), 1)), "name");

    /* re-apply the other decision from the evidence alone */
    struct sl_cschema s = {0};
    struct sl_err e = {0};
    json_t *fp = json_deep_copy(x.r.format_params);
    CHECK_OK(sl_csv_header_apply(ev, false, &s, fp, &e), &e);
    CHECK(s.n_cols == 2);
    if (s.n_cols == 2) {
        CHECK_STR(s.cols[0].name, "col0");
        CHECK(s.cols[0].type->kind == SL_CT_STRING); /* "id" joined the numbers */
    }
    CHECK_STR(json_string_value(json_object_get(fp, "skip.header.line.count")), "0");
    CHECK_STR(json_string_value(json_object_get(fp, "sluice.csv.header")), "ABSENT");
    CHECK_STR(json_string_value(json_object_get(fp, "sluice.header_decision")), "reconciled");
    CHECK_OK(sl_csv_header_apply(ev, true, &s, fp, &e), &e);
    CHECK(s.n_cols == 2 && s.cols[0].type->kind == SL_CT_BIGINT);
    CHECK_STR(json_string_value(json_object_get(fp, "sluice.header_decision")), "typed");
    sl_cschema_cleanup(&s);
    json_decref(fp);
    done(&x);

    /* timestamps keep their zone flavour and formats through the evidence */
    run_str(&x, "when,d\n13/04/2024 10:00,2024-01-01T10:00Z\n14/04/2024 11:00,2024-01-02T10:00Z\n");
    CHECK_OK(sl_csv_header_apply(x.r.header_evidence, true, &s, NULL, &e), &e);
    CHECK(s.n_cols == 2);
    if (s.n_cols == 2) {
        CHECK(s.cols[0].type->kind == SL_CT_TIMESTAMP && s.cols[0].type->non_iso);
        CHECK(s.cols[0].format && strcmp(s.cols[0].format, "%d/%m/%Y %H:%M") == 0);
        CHECK(s.cols[1].type->tz == SL_CT_TZ_EXPLICIT);
    }
    sl_cschema_cleanup(&s);
    done(&x);

    json_t *bad = json_pack("{s:s}", "decision", "PRESENT");
    CHECK(sl_csv_header_apply(bad, true, &s, NULL, &e) == SL_EPARSE);
    json_decref(bad);
}

/* ---- Reconciliation (§6.4 step 6) ---- */

static json_t *ev(const char *decision, const char *rule, const char *c0, const char *c1)
{
    return json_pack("{s:s, s:s, s:[s,s]}", "decision", decision, "rule", rule, "r0", c0, c1);
}

static void reconcile(json_t **evs, size_t n, bool *table, struct sl_csv_header_vote *v)
{
    struct sl_err e = {0};
    CHECK_OK(sl_csv_reconcile_headers((const json_t *const *)evs, n, table, v, &e), &e);
    for (size_t i = 0; i < n; i++)
        json_decref(evs[i]);
}

TEST(reconcile_typed_outvotes_names)
{
    json_t *evs[] = {ev("PRESENT", "typed", "id", "name"), ev("ABSENT", "names", "a", "b"),
                     ev("ABSENT", "names", "c", "d")};
    struct sl_csv_header_vote v[3];
    bool table;
    reconcile(evs, 3, &table, v);
    CHECK(table);
    CHECK(v[0].present && !v[0].changed && strcmp(v[0].rule, "typed") == 0);
    CHECK(v[1].present && v[1].changed && !v[1].ambiguous && strcmp(v[1].rule, "typed_vote") == 0);
    CHECK(v[2].present && v[2].changed && !v[2].ambiguous);
}

TEST(reconcile_same_r0_then_majority)
{
    json_t *evs[] = {ev("PRESENT", "names", "a", "b"), ev("ABSENT", "names", "a", "b"),
                     ev("ABSENT", "names", "x", "y"), ev("ABSENT", "names", "z", "w")};
    struct sl_csv_header_vote v[4];
    bool table;
    reconcile(evs, 4, &table, v);
    CHECK(table); /* 2 against 2 after same_r0: the first file's decision */
    CHECK(v[1].present && v[1].changed && !v[1].ambiguous && strcmp(v[1].rule, "same_r0") == 0);
    CHECK(v[2].present && v[2].ambiguous && strcmp(v[2].rule, "majority") == 0);
    CHECK(v[3].present && v[3].ambiguous);
    CHECK(!v[0].changed && !v[0].ambiguous);
}

TEST(reconcile_majority_among_typed)
{
    json_t *evs[] = {ev("ABSENT", "typed", "1", "2"), ev("PRESENT", "typed", "a", "b"),
                     ev("PRESENT", "typed", "a", "b")};
    struct sl_csv_header_vote v[3];
    bool table;
    reconcile(evs, 3, &table, v);
    CHECK(table);
    CHECK(v[0].present && v[0].changed && v[0].ambiguous);
    CHECK(!v[1].changed && !v[2].changed);
}

TEST(reconcile_forced_and_agreeing)
{
    json_t *evs[] = {ev("ABSENT", "forced", "a", "b"), ev("ABSENT", "forced", "c", "d")};
    struct sl_csv_header_vote v[2];
    bool table = true;
    reconcile(evs, 2, &table, v);
    CHECK(!table && !v[0].changed && !v[1].changed && strcmp(v[1].rule, "forced") == 0);

    json_t *one[] = {ev("ABSENT", "names", "red", "apple")};
    reconcile(one, 1, &table, v);
    CHECK(!table && !v[0].changed && !v[0].ambiguous);

    struct sl_err e = {0};
    CHECK_OK(sl_csv_reconcile_headers(NULL, 0, &table, v, &e), &e);
    CHECK(!table);
    json_t *bad = json_pack("{s:s}", "decision", "MAYBE");
    const json_t *bads[] = {bad};
    CHECK(sl_csv_reconcile_headers(bads, 1, &table, v, &e) == SL_EPARSE);
    CHECK(strstr(e.msg, "file 0") != NULL);
    json_decref(bad);
}

TEST(reconcile_real_evidence)
{
    /* F5: an all-string file whose R0 repeats in its data, beside typed files */
    struct run a, b;
    run_str(&a, "code,label\n1,x\n2,y\n");
    run_str(&b, "code,label\ncode,z\nA,label\n");
    CHECK_STR(param(&b, "sluice.csv.header"), "ABSENT");
    const json_t *evs[] = {a.r.header_evidence, b.r.header_evidence};
    struct sl_csv_header_vote v[2];
    bool table;
    struct sl_err e = {0};
    CHECK_OK(sl_csv_reconcile_headers(evs, 2, &table, v, &e), &e);
    CHECK(table && v[1].changed && strcmp(v[1].rule, "typed_vote") == 0);
    struct sl_cschema s = {0};
    CHECK_OK(sl_csv_header_apply(b.r.header_evidence, v[1].present, &s, b.r.format_params, &e), &e);
    CHECK(s.n_cols == 2 && strcmp(s.cols[0].name, "code") == 0);
    CHECK_STR(param(&b, "skip.header.line.count"), "1");
    sl_cschema_cleanup(&s);
    done(&a);
    done(&b);
}

TEST(compat_key)
{
    struct run x;
    run_str(&x, "a\tb\n1\t2\n");
    char *k = sl_csv_compat_key(x.r.format_params);
    CHECK_STR(k, "csv|\t|\"|\"|UTF-8");
    sl_free(k);
    done(&x);
    run_str(&x, "id,size\n1,\"12\" pipe\n2,3 ft\n");
    k = sl_csv_compat_key(x.r.format_params);
    CHECK_STR(k, "csv|,|||UTF-8");
    sl_free(k);
    done(&x);
}

TEST(allocation_failures_are_clean)
{
    const char *s = "id,name,when\n1,Ann,2024-01-01\n2,\"B\"\"ob\",2024-01-02\n";
    int ok = 0;
    for (long n = 1; n < 400 && !ok; n++) {
        struct sl_cls_result r;
        struct sl_err e = {0};
        sl_cls_result_init(&r);
        sl_alloc_fail_reset(n);
        int rc = sl_csv_classify(s, strlen(s), true, NULL, 0, "t.csv", NULL, &r, &e);
        sl_alloc_fail_reset(0);
        CHECKF(rc == SL_OK || rc == SL_ENOMEM, "step %ld: rc %d", n, rc);
        if (rc == SL_ENOMEM)
            CHECK(r.schema.n_cols == 0 && r.header_evidence == NULL);
        if (rc == SL_OK && strcmp(r.classification, "csv") == 0 && r.schema.n_cols == 3)
            ok = 1;
        sl_cls_result_cleanup(&r);
    }
    CHECK(ok);
}

/* ---- Real files (../shared/data) ---- */

static const char *data_dir(void)
{
    const char *d = getenv("SLUICE_SHARED_DATA");
    return d && *d ? d : "../shared/data";
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct sl_buf b;
    sl_buf_init(&b, 0);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        sl_buf_append(&b, chunk, n, NULL);
    fclose(f);
    return sl_buf_take(&b, len);
}

/* SHA-256 of data against the file's line in SHA256SUMS. */
static bool sha_ok(const char *name, const char *data, size_t len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/SHA256SUMS", data_dir());
    size_t n;
    char *sums = read_file(path, &n);
    if (!sums)
        return false;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    char hex[2 * EVP_MAX_MD_SIZE + 1];
    EVP_Digest(data, len, md, &md_len, EVP_sha256(), NULL);
    for (unsigned i = 0; i < md_len; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    bool ok = false;
    for (char *line = sums; line && *line;) {
        char *end = strchr(line, '\n');
        if (end)
            *end = '\0';
        char *sp = strstr(line, "  ");
        if (sp && strcmp(sp + 2, name) == 0)
            ok = (size_t)(sp - line) == 2 * md_len && strncmp(line, hex, 2 * md_len) == 0;
        line = end ? end + 1 : NULL;
    }
    sl_free(sums);
    return ok;
}

/* Loads a shared file (checked) and classifies its first 1 MiB; false = skip. */
static bool real_file(struct run *x, const char *name)
{
    char path[1024];
    size_t len;
    snprintf(path, sizeof path, "%s/%s", data_dir(), name);
    char *data = read_file(path, &len);
    if (!data)
        return false;
    CHECKF(sha_ok(name, data, len), "%s does not match SHA256SUMS", name);
    size_t head = len < ((size_t)1 << 20) ? len : (size_t)1 << 20;
    run_opts(x, data, head, head == len, NULL, 0, name, NULL);
    sl_free(data);
    return true;
}

TEST(real_airports)
{
    struct run x;
    if (!real_file(&x, "airports.csv"))
        SKIP("%s/airports.csv not found", data_dir());
    CHECK_CSV(&x, 1.0);
    CHECK_STR(param(&x, "delimiter"), ",");
    CHECK_STR(param(&x, "quoteChar"), "\"");
    CHECK_STR(param(&x, "escapeChar"), "\"");
    CHECK_STR(param(&x, "areColumnsQuoted"), "true");
    CHECK_STR(param(&x, "sluice.csv.header"), "PRESENT");
    CHECK_STR(param(&x, "sluice.header_decision"), "typed");
    CHECK_COLS(&x, "iata:string,name:string,city:string,state:string,country:string,"
                   "latitude:double,longitude:double");
    CHECK(x.r.n_records == 3376 && x.r.records_exact);
    done(&x);
}

TEST(real_seattle_weather)
{
    struct run x;
    if (!real_file(&x, "seattle-weather.csv"))
        SKIP("%s/seattle-weather.csv not found", data_dir());
    CHECK_CSV(&x, 1.0);
    CHECK_STR(param(&x, "delimiter"), ",");
    CHECK_STR(param(&x, "sluice.csv.header"), "PRESENT");
    CHECK_COLS(&x, "date:date,precipitation:double,temp_max:double,temp_min:double,"
                   "wind:double,weather:string");
    CHECK(x.r.n_records == 1461);
    done(&x);
}

TEST(real_la_riots)
{
    struct run x;
    if (!real_file(&x, "la-riots.csv"))
        SKIP("%s/la-riots.csv not found", data_dir());
    CHECK_CSV(&x, 1.0);
    CHECK_STR(param(&x, "delimiter"), ",");
    CHECK_STR(param(&x, "sluice.csv.header"), "PRESENT");
    CHECK_COLS(&x, "first_name:string,last_name:string,age:bigint,gender:string,race:string,"
                   "death_date:date,address:string,neighborhood:string,type:string,"
                   "longitude:double,latitude:double");
    CHECK(col(&x, 2)->n_nulls == 1); /* "John Doe #80" has no age */
    CHECK_STR(param(&x, "sluice.null_tokens"), "[\"\"]");
    CHECK(x.r.n_records == 63);
    done(&x);
}

TEST(real_co2_concentration)
{
    struct run x;
    if (!real_file(&x, "co2-concentration.csv"))
        SKIP("%s/co2-concentration.csv not found", data_dir());
    CHECK_CSV(&x, 1.0);
    CHECK_STR(param(&x, "delimiter"), ",");
    CHECK_STR(param(&x, "sluice.csv.header"), "PRESENT");
    CHECK_COLS(&x, "date:date,co2:double,adjusted_co2:double");
    CHECK(col(&x, 0)->source_name && strcmp(col(&x, 0)->source_name, "Date") == 0);
    CHECK(col(&x, 1)->source_name && strcmp(col(&x, 1)->source_name, "CO2") == 0);
    CHECK(col(&x, 2)->source_name && strcmp(col(&x, 2)->source_name, "adjusted CO2") == 0);
    CHECK(x.r.n_records == 741);
    done(&x);
}

TEST(real_unemployment_tsv)
{
    struct run x;
    if (!real_file(&x, "unemployment.tsv"))
        SKIP("%s/unemployment.tsv not found", data_dir());
    CHECK_CSV(&x, 1.0);
    CHECK_STR(param(&x, "delimiter"), "\t");
    CHECK_STR(param(&x, "sluice.csv.header"), "PRESENT");
    CHECK_COLS(&x, "id:bigint,rate:double"); /* ".097" is a double */
    CHECK(x.r.n_records == 3218);
    done(&x);
}

TEST(real_json_is_not_csv)
{
    struct run x;
    if (!real_file(&x, "cars.json"))
        SKIP("%s/cars.json not found", data_dir());
    CHECK(x.rc == SL_OK && x.r.certainty < 0.5);
    done(&x);
}

int main(void)
{
    t_suite = "csv/";
    RUN(t01_header_and_types);
    RUN(t02_leading_zeros_stay_strings);
    RUN(t03_all_string_header_by_names);
    RUN(t04_typed_counter_evidence);
    RUN(t05_recurring_values_mean_no_header);
    RUN(t06_tab_beats_inconsistent_comma);
    RUN(t07_semicolon_and_decimal_comma);
    RUN(t08_quoted_delimiters_and_newlines);
    RUN(t09_bom_and_crlf);
    RUN(t10_comment_lines);
    RUN(t11_preamble);
    RUN(t12_trailing_delimiter);
    RUN(t13_booleans_never_zero_one);
    RUN(t14_numeric_traps);
    RUN(t15_int64_overflow);
    RUN(t16_day_month_order);
    RUN(t17_timestamp_zones);
    RUN(t18_date_joins_timestamp);
    RUN(t19_null_tokens_in_typed_columns_only);
    RUN(t20_placeholder_then_resolved);
    RUN(t21_header_only);
    RUN(t27_no_extension_and_record_size);
    RUN(t44_cut_json_lines_lose_to_json);
    RUN(t46_tail_window_makes_code_string);
    RUN(utf16_both_byte_orders);
    RUN(windows_1252_fallback);
    RUN(nul_means_binary);
    RUN(not_delimited_text);
    RUN(single_column_when_allowed);
    RUN(backslash_escape);
    RUN(doubled_quotes_beat_backslash);
    RUN(single_quotes);
    RUN(no_quote_when_quotes_break_records);
    RUN(carriage_return_newlines);
    RUN(name_hints_break_ties);
    RUN(ctrl_a_delimiter);
    RUN(ragged_records_are_padded);
    RUN(hash_lines_that_fit_are_data);
    RUN(cut_window_drops_last_record);
    RUN(apostrophe_at_cut_end_does_not_win);
    RUN(records_over_1mib_fail);
    RUN(huge_unquoted_field_fails);
    RUN(json_looking_records_halve_certainty);
    RUN(malformed_records_after_dialect_sample);
    RUN(sample_rows_limit_inference);
    RUN(forced_header);
    RUN(column_names_normalised_and_deduped);
    RUN(header_names_must_be_plausible);
    RUN(evidence_holds_both_outcomes);
    RUN(reconcile_typed_outvotes_names);
    RUN(reconcile_same_r0_then_majority);
    RUN(reconcile_majority_among_typed);
    RUN(reconcile_forced_and_agreeing);
    RUN(reconcile_real_evidence);
    RUN(compat_key);
    RUN(allocation_failures_are_clean);
    RUN(real_airports);
    RUN(real_seattle_weather);
    RUN(real_la_riots);
    RUN(real_co2_concentration);
    RUN(real_unemployment_tsv);
    RUN(real_json_is_not_csv);
    TEST_EXIT();
}
