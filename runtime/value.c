/*
 * runtime/value.c - typed values, row schemas, text conversions, ordering,
 * hashing and the key/row byte encodings (see value.h).
 * Text recognisers follow spec/crawler.md §7.2 exactly, so a value reads back
 * as the crawler typed it. Nothing here allocates per value except into the
 * caller's arena (strings) or, for doubles longer than 255 bytes of text, one
 * short-lived heap copy. Numbers are formatted and parsed with the C library,
 * which assumes the process keeps the "C" LC_NUMERIC locale.
 */
#include "value.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

#define QUOTE_MAX       40 /* bytes of offending text quoted in messages */
#define DAY_US          INT64_C(86400000000)
#define DAYS_MIN        INT64_C(-719162) /* 0001-01-01 */
#define DAYS_MAX        INT64_C(2932896) /* 9999-12-31 */
#define SCALAR_TEXT_MAX 64               /* longest to_text of a non-string value, with room */

/* ---- Types and schemas ---- */

static int ieq_prefix(const char *s, size_t len, const char *word)
{
    size_t wl = strlen(word);
    if (len < wl)
        return 0;
    for (size_t i = 0; i < wl; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != word[i])
            return 0;
    }
    return 1;
}

/* s[0..len) equals word, ASCII case-insensitively. */
static int ieq(const char *s, size_t len, const char *word)
{
    return len == strlen(word) && ieq_prefix(s, len, word);
}

enum sl_vtype sl_vtype_from_catalog(const char *hive_type)
{
    if (!hive_type)
        return SL_V_STRING;
    const char *p = hive_type;
    size_t len = strlen(p);
    while (len && (*p == ' ' || *p == '\t')) {
        p++;
        len--;
    }
    while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
        len--;
    static const struct {
        const char *name;
        enum sl_vtype t;
    } exact[] = {
        {"bigint", SL_V_INT},    {"int", SL_V_INT},       {"integer", SL_V_INT},
        {"smallint", SL_V_INT},  {"tinyint", SL_V_INT},   {"double", SL_V_DOUBLE},
        {"float", SL_V_DOUBLE},  {"real", SL_V_DOUBLE},   {"decimal", SL_V_DOUBLE},
        {"boolean", SL_V_BOOL},  {"string", SL_V_STRING}, {"varchar", SL_V_STRING},
        {"char", SL_V_STRING},   {"date", SL_V_DATE},     {"timestamp", SL_V_TIMESTAMP},
        {"binary", SL_V_BINARY},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(exact); i++)
        if (ieq(p, len, exact[i].name))
            return exact[i].t;
    /* Parameterised forms: decimal(p,s), varchar(n), char(n). */
    static const struct {
        const char *prefix;
        enum sl_vtype t;
    } param[] = {
        {"decimal(", SL_V_DOUBLE}, {"varchar(", SL_V_STRING}, {"char(", SL_V_STRING},
        {"array<", SL_V_JSON},     {"map<", SL_V_JSON},       {"struct<", SL_V_JSON},
        {"uniontype<", SL_V_JSON},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(param); i++)
        if (ieq_prefix(p, len, param[i].prefix))
            return param[i].t;
    return SL_V_STRING;
}

const char *sl_vtype_name(enum sl_vtype t)
{
    static const char *const names[] = {
        "null", "boolean", "bigint", "double", "string", "date", "timestamp", "binary", "json",
    };
    if ((unsigned)t < SL_ARRAY_LEN(names))
        return names[t];
    return "unknown";
}

struct sl_rschema *sl_rschema_new(size_t n_cols)
{
    struct sl_rschema *s = sl_calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->n_cols = n_cols;
    s->names = sl_calloc(n_cols, sizeof *s->names);
    s->types = sl_calloc(n_cols, sizeof *s->types);
    s->name_lens = sl_calloc(n_cols ? n_cols : 1, sizeof *s->name_lens);
    if (!s->names || !s->types || !s->name_lens) {
        sl_rschema_free(s);
        return NULL;
    }
    for (size_t i = 0; i < n_cols; i++)
        s->types[i] = SL_V_NULL;
    return s;
}

void sl_rschema_free(struct sl_rschema *s)
{
    if (!s)
        return;
    if (s->names)
        for (size_t i = 0; i < s->n_cols; i++)
            sl_free(s->names[i]);
    sl_free(s->names);
    sl_free(s->types);
    sl_free(s->name_lens);
    sl_free(s);
}

int sl_rschema_set(struct sl_rschema *s, size_t i, const char *name, enum sl_vtype type,
                   struct sl_err *err)
{
    if (i >= s->n_cols)
        return sl_err_set(err, SL_ECONFIG, "set column %zu: schema has %zu columns", i, s->n_cols);
    if ((unsigned)type > SL_V_JSON)
        return sl_err_set(err, SL_ECONFIG, "set column %zu: unknown type %d", i, (int)type);
    char *copy = sl_strdup(name ? name : "");
    if (!copy)
        return sl_err_set(err, SL_ENOMEM, "set column %zu: out of memory", i);
    size_t len = strlen(copy);
    if (len > UINT32_MAX) {
        sl_free(copy);
        return sl_err_set(err, SL_ECONFIG, "set column %zu: name too long", i);
    }
    sl_free(s->names[i]);
    s->names[i] = copy;
    s->name_lens[i] = (uint32_t)len;
    s->types[i] = type;
    return SL_OK;
}

int sl_rschema_find(const struct sl_rschema *s, const char *name, size_t len)
{
    for (size_t i = 0; i < s->n_cols; i++) {
        const char *n = s->names[i];
        if (n && s->name_lens[i] == len && memcmp(n, name, len) == 0)
            return i > (size_t)INT32_MAX ? -1 : (int)i;
    }
    return -1;
}

/* ---- Dates ---- */

/* Howard Hinnant's days_from_civil / civil_from_days (proleptic Gregorian). */
int64_t sl_date_to_days(int y, int m, int d)
{
    int64_t yy = (int64_t)y - (m <= 2);
    int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
    int64_t yoe = yy - era * 400;
    int64_t mp = (m + 9) % 12;
    int64_t doy = (153 * mp + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void sl_days_to_date(int64_t days, int *y, int *m, int *d)
{
    /* Clamp so the year fits an int: about +-1.9 billion years. */
    const int64_t lim = INT64_C(700000000000);
    if (days > lim)
        days = lim;
    if (days < -lim)
        days = -lim;
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t dd = doy - (153 * mp + 2) / 5 + 1;
    int64_t mm = mp < 10 ? mp + 3 : mp - 9;
    *y = (int)(yy + (mm <= 2));
    *m = (int)mm;
    *d = (int)dd;
}

static int days_in_month(int y, int m)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return dm[m - 1];
}

/* ---- Messages ---- */

/* Writes text as a quoted, printable, truncated excerpt into q (>= 2*QUOTE_MAX+8). */
static const char *quote(const char *p, size_t len, char *q, size_t qlen)
{
    size_t o = 0;
    q[o++] = '"';
    for (size_t i = 0; i < len && i < QUOTE_MAX && o + 6 < qlen; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '"' || c == '\\') {
            q[o++] = '\\';
            q[o++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            q[o++] = '?';
        } else {
            q[o++] = (char)c;
        }
    }
    q[o++] = '"';
    if (len > QUOTE_MAX && o + 4 < qlen) {
        memcpy(q + o, "...", 3);
        o += 3;
    }
    q[o] = '\0';
    return q;
}

static int parse_fail(struct sl_err *err, const char *what, const char *p, size_t len)
{
    char q[2 * QUOTE_MAX + 16];
    return sl_err_set(err, SL_EPARSE, "%s: %s", what, quote(p, len, q, sizeof q));
}

/* ---- Recognisers ---- */

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int parse_int(const char *p, size_t len, int64_t *out, struct sl_err *err)
{
    size_t i = 0;
    int neg = 0;
    if (i < len && p[i] == '-') {
        neg = 1;
        i++;
    }
    if (i >= len || !is_digit(p[i]))
        return parse_fail(err, "not a bigint", p, len);
    if (p[i] == '0' && i + 1 < len)
        return parse_fail(err, "not a bigint", p, len);
    uint64_t v = 0;
    const uint64_t lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    int range = 0;
    for (; i < len; i++) {
        if (!is_digit(p[i]))
            return parse_fail(err, "not a bigint", p, len);
        unsigned dgt = (unsigned)(p[i] - '0');
        if (v > (lim - dgt) / 10)
            range = 1; /* keep scanning: "99999999999999999999x" is not a bigint */
        else
            v = v * 10 + dgt;
    }
    if (range)
        return parse_fail(err, "out of range for bigint", p, len);
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return SL_OK;
}

/* The double grammar of §7.2 (without the special tokens). */
static int double_syntax_ok(const char *p, size_t len)
{
    size_t i = 0;
    if (i < len && p[i] == '-')
        i++;
    size_t int_start = i;
    while (i < len && is_digit(p[i]))
        i++;
    size_t n_int = i - int_start;
    if (n_int > 1 && p[int_start] == '0')
        return 0;
    size_t n_frac = 0;
    if (i < len && p[i] == '.') {
        i++;
        size_t fs = i;
        while (i < len && is_digit(p[i]))
            i++;
        n_frac = i - fs;
    }
    if (n_int + n_frac == 0)
        return 0;
    if (i < len && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        if (i < len && (p[i] == '+' || p[i] == '-'))
            i++;
        size_t es = i;
        while (i < len && is_digit(p[i]))
            i++;
        if (i == es)
            return 0;
    }
    return i == len;
}

static int parse_double(const char *p, size_t len, double *out, struct sl_err *err)
{
    const char *q = p;
    size_t ql = len;
    int neg = 0;
    if (ql && q[0] == '-') {
        neg = 1;
        q++;
        ql--;
    }
    if (ieq(q, ql, "infinity") || ieq(q, ql, "inf")) {
        *out = neg ? -INFINITY : INFINITY;
        return SL_OK;
    }
    if (!neg && ieq(q, ql, "nan")) {
        *out = NAN;
        return SL_OK;
    }
    if (!double_syntax_ok(p, len))
        return parse_fail(err, "not a double", p, len);
    char stack[256];
    char *tmp = stack;
    if (len >= sizeof stack) {
        tmp = sl_alloc(len + 1);
        if (!tmp)
            return sl_err_set(err, SL_ENOMEM, "read double: out of memory");
    }
    memcpy(tmp, p, len);
    tmp[len] = '\0';
    errno = 0;
    char *end = NULL;
    double d = strtod(tmp, &end);
    int range = errno == ERANGE && isinf(d);
    int ok = end == tmp + len;
    if (tmp != stack)
        sl_free(tmp);
    if (!ok)
        return parse_fail(err, "not a double", p, len);
    if (range)
        return parse_fail(err, "out of range for double", p, len);
    *out = d;
    return SL_OK;
}

static int parse_bool(const char *p, size_t len, int64_t *out, struct sl_err *err)
{
    if (ieq(p, len, "true") || ieq(p, len, "t") || ieq(p, len, "yes")) {
        *out = 1;
        return SL_OK;
    }
    if (ieq(p, len, "false") || ieq(p, len, "f") || ieq(p, len, "no")) {
        *out = 0;
        return SL_OK;
    }
    return parse_fail(err, "not a boolean", p, len);
}

/* n digits at p as a number, or -1. */
static int digits(const char *p, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(p[i]))
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    return v;
}

/* YYYY?MM?DD with ? one of - / . (the same twice) at the start of p; 10 bytes.
 * Returns 1 and *days when valid, 0 when not a date, -1 when a date that does
 * not exist or is out of range. */
static int scan_date(const char *p, size_t len, int64_t *days)
{
    if (len < 10)
        return 0;
    char sep = p[4];
    if ((sep != '-' && sep != '/' && sep != '.') || p[7] != sep)
        return 0;
    int y = digits(p, 4), m = digits(p + 5, 2), d = digits(p + 8, 2);
    if (y < 0 || m < 0 || d < 0)
        return 0;
    if (y < 1 || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
        return -1;
    *days = sl_date_to_days(y, m, d);
    return 1;
}

static int parse_date(const char *p, size_t len, int64_t *out, struct sl_err *err)
{
    int64_t days = 0;
    int r = len == 10 ? scan_date(p, len, &days) : 0;
    if (r == 0)
        return parse_fail(err, "not a date", p, len);
    if (r < 0)
        return parse_fail(err, "date out of range", p, len);
    *out = days;
    return SL_OK;
}

static int parse_timestamp(const char *p, size_t len, int64_t *out, struct sl_err *err)
{
    int64_t days = 0;
    int r = scan_date(p, len, &days);
    if (r == 0)
        return parse_fail(err, "not a timestamp", p, len);
    if (r < 0)
        return parse_fail(err, "timestamp out of range", p, len);
    if (len == 10) { /* a date in a timestamp column (§7.1: date joins timestamp) */
        *out = days * DAY_US;
        return SL_OK;
    }
    size_t i = 10;
    if (p[i] != 'T' && p[i] != ' ')
        return parse_fail(err, "not a timestamp", p, len);
    i++;
    if (len - i < 5 || p[i + 2] != ':')
        return parse_fail(err, "not a timestamp", p, len);
    int hh = digits(p + i, 2), mi = digits(p + i + 3, 2), ss = 0;
    if (hh < 0 || mi < 0)
        return parse_fail(err, "not a timestamp", p, len);
    i += 5;
    int64_t frac_us = 0;
    if (i < len && p[i] == ':') {
        if (len - i < 3 || (ss = digits(p + i + 1, 2)) < 0)
            return parse_fail(err, "not a timestamp", p, len);
        i += 3;
        if (i < len && p[i] == '.') {
            i++;
            size_t fs = i;
            while (i < len && is_digit(p[i]))
                i++;
            size_t nf = i - fs;
            if (nf < 1 || nf > 9)
                return parse_fail(err, "not a timestamp", p, len);
            for (size_t k = 0; k < 6; k++)
                frac_us = frac_us * 10 + (k < nf ? p[fs + k] - '0' : 0);
        }
    }
    int64_t off_s = 0;
    if (i < len) {
        if (p[i] == 'Z' && i + 1 == len) {
            i++;
        } else if (p[i] == '+' || p[i] == '-') {
            int sign = p[i] == '-' ? -1 : 1;
            size_t rest = len - i - 1;
            const char *z = p + i + 1;
            int oh = -1, om = 0;
            if (rest == 2) {
                oh = digits(z, 2);
            } else if (rest == 4) {
                oh = digits(z, 2);
                om = digits(z + 2, 2);
            } else if (rest == 5 && z[2] == ':') {
                oh = digits(z, 2);
                om = digits(z + 3, 2);
            }
            if (oh < 0 || om < 0)
                return parse_fail(err, "not a timestamp", p, len);
            if (oh > 23 || om > 59)
                return parse_fail(err, "timestamp zone out of range", p, len);
            off_s = sign * (int64_t)(oh * 3600 + om * 60);
            i = len;
        } else {
            return parse_fail(err, "not a timestamp", p, len);
        }
    }
    if (hh > 23 || mi > 59 || ss > 59)
        return parse_fail(err, "timestamp out of range", p, len);
    int64_t us = days * DAY_US + ((int64_t)hh * 3600 + mi * 60 + ss - off_s) * 1000000 + frac_us;
    if (us < DAYS_MIN * DAY_US || us >= (DAYS_MAX + 1) * DAY_US)
        return parse_fail(err, "timestamp out of range", p, len);
    *out = us;
    return SL_OK;
}

static int copy_text(enum sl_vtype t, const char *p, size_t len, struct sl_arena *arena,
                     struct sl_value *out, struct sl_err *err)
{
    if (len > UINT32_MAX)
        return sl_err_set(err, SL_ELIMIT, "%s of %zu bytes: too long", sl_vtype_name(t), len);
    const char *s = "";
    if (len) {
        char *d = sl_arena_alloc(arena, len);
        if (!d)
            return sl_err_set(err, SL_ENOMEM, "copy %s of %zu bytes: out of memory",
                              sl_vtype_name(t), len);
        memcpy(d, p, len);
        s = d;
    }
    out->type = (uint8_t)t;
    out->len = (uint32_t)len;
    out->s = s;
    return SL_OK;
}

int sl_value_from_text(enum sl_vtype t, const char *p, size_t len, struct sl_arena *arena,
                       struct sl_value *out, struct sl_err *err)
{
    struct sl_value v = {.type = SL_V_NULL};
    int rc = SL_OK;

    /* Text types keep their bytes; typed values are trimmed first. */
    if (t == SL_V_STRING || t == SL_V_BINARY || t == SL_V_JSON) {
        if (len == 0 && t != SL_V_STRING) {
            *out = v;
            return SL_OK;
        }
        return copy_text(t, p, len, arena, out, err);
    }
    while (len && (*p == ' ' || *p == '\t')) {
        p++;
        len--;
    }
    while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
        len--;
    if (len == 0) {
        *out = v;
        return SL_OK;
    }
    switch (t) {
    case SL_V_NULL: return parse_fail(err, "not a null", p, len);
    case SL_V_BOOL: rc = parse_bool(p, len, &v.i, err); break;
    case SL_V_INT: rc = parse_int(p, len, &v.i, err); break;
    case SL_V_DOUBLE: rc = parse_double(p, len, &v.d, err); break;
    case SL_V_DATE: rc = parse_date(p, len, &v.i, err); break;
    case SL_V_TIMESTAMP: rc = parse_timestamp(p, len, &v.i, err); break;
    default: return sl_err_set(err, SL_ECONFIG, "read value: unknown type %d", (int)t);
    }
    if (rc != SL_OK)
        return rc;
    v.type = (uint8_t)t;
    *out = v;
    return SL_OK;
}

/* ---- Text output ---- */

static int format_double(double d, char *buf, size_t cap)
{
    if (isnan(d))
        return snprintf(buf, cap, "NaN");
    if (isinf(d))
        return snprintf(buf, cap, d < 0 ? "-Infinity" : "Infinity");
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(buf, cap, "%.*g", prec, d);
        if (strtod(buf, NULL) == d && signbit(strtod(buf, NULL)) == signbit(d))
            break;
    }
    return n;
}

static int format_days(int64_t days, char *buf, size_t cap)
{
    int y, m, d;
    sl_days_to_date(days, &y, &m, &d);
    return snprintf(buf, cap, "%04d-%02d-%02d", y, m, d);
}

/* The text of a non-text value into buf (SCALAR_TEXT_MAX bytes); its length,
 * or -1 for a date or timestamp outside years 0001-9999. */
static int format_scalar(const struct sl_value *v, char *buf)
{
    switch (v->type) {
    case SL_V_NULL: buf[0] = '\0'; return 0;
    case SL_V_BOOL: return snprintf(buf, SCALAR_TEXT_MAX, "%s", v->i ? "true" : "false");
    case SL_V_INT: return snprintf(buf, SCALAR_TEXT_MAX, "%" PRId64, v->i);
    case SL_V_DOUBLE: return format_double(v->d, buf, SCALAR_TEXT_MAX);
    case SL_V_DATE:
        if (v->i < DAYS_MIN || v->i > DAYS_MAX)
            return -1;
        return format_days(v->i, buf, SCALAR_TEXT_MAX);
    case SL_V_TIMESTAMP: {
        int64_t days = v->i / DAY_US, us = v->i % DAY_US;
        if (us < 0) {
            us += DAY_US;
            days--;
        }
        if (days < DAYS_MIN || days > DAYS_MAX)
            return -1;
        int n = format_days(days, buf, SCALAR_TEXT_MAX);
        int64_t secs = us / 1000000, frac = us % 1000000;
        n += snprintf(buf + n, (size_t)(SCALAR_TEXT_MAX - n), "T%02d:%02d:%02d", (int)(secs / 3600),
                      (int)(secs / 60 % 60), (int)(secs % 60));
        if (frac)
            n += snprintf(buf + n, (size_t)(SCALAR_TEXT_MAX - n), ".%06d", (int)frac);
        n += snprintf(buf + n, (size_t)(SCALAR_TEXT_MAX - n), "Z");
        return n;
    }
    default: return -1;
    }
}

static int is_text_type(unsigned t)
{
    return t == SL_V_STRING || t == SL_V_BINARY || t == SL_V_JSON;
}

int sl_value_to_text(const struct sl_value *v, struct sl_buf *out, struct sl_err *err)
{
    if (is_text_type(v->type))
        return v->len ? sl_buf_append(out, v->s, v->len, err) : SL_OK;
    if (v->type > SL_V_JSON)
        return sl_err_set(err, SL_EINTERNAL, "write value: unknown type %d", (int)v->type);
    char buf[SCALAR_TEXT_MAX];
    int n = format_scalar(v, buf);
    if (n < 0)
        return sl_err_set(err, SL_EPARSE, "write %s: out of range (years 0001-9999)",
                          sl_vtype_name(v->type));
    return n ? sl_buf_append(out, buf, (size_t)n, err) : SL_OK;
}

/* ---- Casts ---- */

static int cast_fail(struct sl_err *err, const struct sl_value *v, enum sl_vtype t, const char *why)
{
    char buf[SCALAR_TEXT_MAX];
    int n = is_text_type(v->type) ? -1 : format_scalar(v, buf);
    if (n < 0)
        return sl_err_set(err, SL_EPARSE, "cannot cast %s to %s: %s", sl_vtype_name(v->type),
                          sl_vtype_name(t), why);
    return sl_err_set(err, SL_EPARSE, "cannot cast %s %s to %s: %s", sl_vtype_name(v->type), buf,
                      sl_vtype_name(t), why);
}

int sl_value_cast(const struct sl_value *v, enum sl_vtype t, struct sl_arena *arena,
                  struct sl_value *out, struct sl_err *err)
{
    struct sl_value r = {.type = (uint8_t)t};
    unsigned from = v->type;

    if ((unsigned)t > SL_V_JSON || from > SL_V_JSON)
        return sl_err_set(err, SL_EINTERNAL, "cast: unknown type");
    if (from == SL_V_NULL || t == SL_V_NULL) {
        *out = (struct sl_value){.type = SL_V_NULL};
        return SL_OK;
    }
    if (is_text_type(from)) {
        if (is_text_type(t))
            return copy_text(t, v->s, v->len, arena, out, err);
        int rc = sl_value_from_text(t, v->s, v->len, arena, out, err);
        if (rc != SL_OK)
            sl_err_prefix(err, "cannot cast %s to %s", sl_vtype_name(from), sl_vtype_name(t));
        return rc;
    }
    if (from == (unsigned)t) {
        *out = *v;
        return SL_OK;
    }
    if (is_text_type(t)) {
        char buf[SCALAR_TEXT_MAX];
        int no_json =
            from == SL_V_DATE || from == SL_V_TIMESTAMP || (from == SL_V_DOUBLE && !isfinite(v->d));
        if (t == SL_V_JSON && no_json)
            return cast_fail(err, v, t, "no json form");
        int n = format_scalar(v, buf);
        if (n < 0)
            return cast_fail(err, v, t, "out of range (years 0001-9999)");
        return copy_text(t, buf, (size_t)n, arena, out, err);
    }
    switch (t) {
    case SL_V_BOOL:
        if (from == SL_V_INT)
            r.i = v->i != 0;
        else if (from == SL_V_DOUBLE && !isnan(v->d))
            r.i = v->d != 0;
        else
            return cast_fail(err, v, t, "not convertible");
        break;
    case SL_V_INT:
        if (from == SL_V_BOOL) {
            r.i = v->i;
        } else if (from == SL_V_DOUBLE) {
            /* Truncates toward zero, as Spark's cast does. */
            if (!(v->d >= -9223372036854775808.0 && v->d < 9223372036854775808.0))
                return cast_fail(err, v, t, "out of range for bigint");
            r.i = (int64_t)v->d;
        } else {
            return cast_fail(err, v, t, "not convertible");
        }
        break;
    case SL_V_DOUBLE:
        if (from == SL_V_INT || from == SL_V_BOOL)
            r.d = (double)v->i;
        else
            return cast_fail(err, v, t, "not convertible");
        break;
    case SL_V_DATE:
        if (from != SL_V_TIMESTAMP)
            return cast_fail(err, v, t, "not convertible");
        r.i = v->i / DAY_US - (v->i % DAY_US < 0);
        break;
    case SL_V_TIMESTAMP:
        if (from != SL_V_DATE)
            return cast_fail(err, v, t, "not convertible");
        if (v->i < DAYS_MIN || v->i > DAYS_MAX)
            return cast_fail(err, v, t, "out of range (years 0001-9999)");
        r.i = v->i * DAY_US;
        break;
    default: return cast_fail(err, v, t, "not convertible");
    }
    *out = r;
    return SL_OK;
}

/* ---- Order, equality, hash ---- */

int sl_value_cmp(const struct sl_value *a, const struct sl_value *b)
{
    if (a->type != b->type)
        return a->type < b->type ? -1 : 1;
    switch (a->type) {
    case SL_V_NULL: return 0;
    case SL_V_DOUBLE: {
        int an = isnan(a->d), bn = isnan(b->d);
        if (an || bn)
            return an - bn;
        return (a->d > b->d) - (a->d < b->d);
    }
    case SL_V_STRING:
    case SL_V_BINARY:
    case SL_V_JSON: {
        uint32_t n = a->len < b->len ? a->len : b->len;
        int c = n ? memcmp(a->s, b->s, n) : 0;
        if (c)
            return c < 0 ? -1 : 1;
        return (a->len > b->len) - (a->len < b->len);
    }
    default: return (a->i > b->i) - (a->i < b->i);
    }
}

bool sl_value_eq(const struct sl_value *a, const struct sl_value *b)
{
    return sl_value_cmp(a, b) == 0;
}

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= UINT64_C(0xbf58476d1ce4e5b9);
    x ^= x >> 27;
    x *= UINT64_C(0x94d049bb133111eb);
    x ^= x >> 31;
    return x;
}

static uint64_t double_bits(double d)
{
    uint64_t u;
    if (d == 0)
        d = 0; /* -0 -> +0 */
    memcpy(&u, &d, sizeof u);
    if (isnan(d))
        u = UINT64_C(0x7ff8000000000000);
    return u;
}

uint64_t sl_value_hash(const struct sl_value *v, uint64_t seed)
{
    uint64_t h = mix64(seed ^ (UINT64_C(0x9e3779b97f4a7c15) * (v->type + 1)));
    switch (v->type) {
    case SL_V_NULL: return h;
    case SL_V_DOUBLE: return mix64(h ^ double_bits(v->d));
    case SL_V_STRING:
    case SL_V_BINARY:
    case SL_V_JSON: {
        const unsigned char *p = (const unsigned char *)v->s;
        size_t n = v->len;
        h ^= n;
        while (n >= 8) {
            uint64_t w;
            memcpy(&w, p, 8);
            h = mix64(h ^ w);
            p += 8;
            n -= 8;
        }
        uint64_t w = 0;
        for (size_t k = 0; k < n; k++)
            w |= (uint64_t)p[k] << (8 * k);
        return mix64(h ^ w ^ 0xff);
    }
    default: return mix64(h ^ (uint64_t)v->i);
    }
}

/* ---- Key encoding (order-preserving) ---- */

static void put_be64(unsigned char *p, uint64_t u)
{
    for (int k = 7; k >= 0; k--) {
        p[k] = (unsigned char)u;
        u >>= 8;
    }
}

static uint64_t get_be64(const unsigned char *p)
{
    uint64_t u = 0;
    for (int k = 0; k < 8; k++)
        u = u << 8 | p[k];
    return u;
}

int sl_key_encode(const struct sl_value *values, size_t n, struct sl_buf *out, struct sl_err *err)
{
    for (size_t i = 0; i < n; i++) {
        const struct sl_value *v = &values[i];
        unsigned char tmp[9];
        size_t tl = 1;
        int rc;
        tmp[0] = v->type;
        switch (v->type) {
        case SL_V_NULL: break;
        case SL_V_BOOL:
            tmp[1] = v->i != 0;
            tl = 2;
            break;
        case SL_V_INT:
        case SL_V_DATE:
        case SL_V_TIMESTAMP:
            put_be64(tmp + 1, (uint64_t)v->i ^ (UINT64_C(1) << 63));
            tl = 9;
            break;
        case SL_V_DOUBLE: {
            uint64_t u = double_bits(v->d);
            u = (u >> 63) ? ~u : u ^ (UINT64_C(1) << 63);
            put_be64(tmp + 1, u);
            tl = 9;
            break;
        }
        case SL_V_STRING:
        case SL_V_BINARY:
        case SL_V_JSON: {
            if ((rc = sl_buf_append(out, tmp, 1, err)) != SL_OK)
                return rc;
            const char *s = v->s;
            uint32_t left = v->len;
            while (left) {
                const char *z = memchr(s, 0, left);
                size_t run = z ? (size_t)(z - s) : left;
                if (run && (rc = sl_buf_append(out, s, run, err)) != SL_OK)
                    return rc;
                if (!z)
                    break;
                if ((rc = sl_buf_append(out, "\0\xff", 2, err)) != SL_OK)
                    return rc;
                s += run + 1;
                left -= (uint32_t)(run + 1);
            }
            tmp[0] = 0;
            tmp[1] = 0;
            if ((rc = sl_buf_append(out, tmp, 2, err)) != SL_OK)
                return rc;
            continue;
        }
        default: return sl_err_set(err, SL_EINTERNAL, "encode key: unknown type %d", (int)v->type);
        }
        if ((rc = sl_buf_append(out, tmp, tl, err)) != SL_OK)
            return rc;
    }
    return SL_OK;
}

static int trunc_fail(struct sl_err *err, const char *what, size_t i)
{
    return sl_err_set(err, SL_EPARSE, "%s: value %zu: truncated or malformed", what, i);
}

int sl_key_decode(const void *p, size_t len, size_t n, struct sl_arena *arena,
                  struct sl_value *values, struct sl_err *err)
{
    const unsigned char *b = p;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        struct sl_value v = {.type = SL_V_NULL};
        if (o >= len)
            return trunc_fail(err, "decode key", i);
        unsigned tag = b[o++];
        v.type = (uint8_t)tag;
        switch (tag) {
        case SL_V_NULL: break;
        case SL_V_BOOL:
            if (o >= len || b[o] > 1)
                return trunc_fail(err, "decode key", i);
            v.i = b[o++];
            break;
        case SL_V_INT:
        case SL_V_DATE:
        case SL_V_TIMESTAMP:
            if (len - o < 8)
                return trunc_fail(err, "decode key", i);
            v.i = (int64_t)(get_be64(b + o) ^ (UINT64_C(1) << 63));
            o += 8;
            break;
        case SL_V_DOUBLE: {
            if (len - o < 8)
                return trunc_fail(err, "decode key", i);
            uint64_t u = get_be64(b + o);
            u = (u >> 63) ? u ^ (UINT64_C(1) << 63) : ~u;
            memcpy(&v.d, &u, sizeof v.d);
            o += 8;
            break;
        }
        case SL_V_STRING:
        case SL_V_BINARY:
        case SL_V_JSON: {
            /* First pass: find the terminator and the decoded length. */
            size_t k = o, n_out = 0;
            for (;;) {
                const unsigned char *z = k < len ? memchr(b + k, 0, len - k) : NULL;
                if (!z || (size_t)(z - b) + 1 >= len)
                    return trunc_fail(err, "decode key", i);
                size_t zi = (size_t)(z - b);
                n_out += zi - k;
                if (b[zi + 1] == 0x00) {
                    k = zi + 2;
                    break;
                }
                if (b[zi + 1] != 0xff)
                    return trunc_fail(err, "decode key", i);
                n_out++;
                k = zi + 2;
            }
            if (n_out > UINT32_MAX)
                return sl_err_set(err, SL_EPARSE, "decode key: value %zu: too long", i);
            char *d = NULL;
            if (n_out) {
                d = sl_arena_alloc(arena, n_out);
                if (!d)
                    return sl_err_set(err, SL_ENOMEM, "decode key: out of memory");
            }
            size_t w = 0;
            for (size_t r = o; r < k - 2; r++) {
                d[w++] = (char)b[r];
                if (b[r] == 0)
                    r++; /* skip the 0xff escape */
            }
            v.s = d ? d : "";
            v.len = (uint32_t)n_out;
            o = k;
            break;
        }
        default: return sl_err_set(err, SL_EPARSE, "decode key: value %zu: unknown tag %u", i, tag);
        }
        values[i] = v;
    }
    return SL_OK;
}

/* ---- Row encoding (compact) ---- */

static size_t put_varint(unsigned char *p, uint64_t u)
{
    size_t n = 0;
    while (u >= 0x80) {
        p[n++] = (unsigned char)(u | 0x80);
        u >>= 7;
    }
    p[n++] = (unsigned char)u;
    return n;
}

/* 0 on success; -1 when truncated or longer than 10 bytes. */
static int get_varint(const unsigned char *b, size_t len, size_t *o, uint64_t *out)
{
    uint64_t u = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*o >= len)
            return -1;
        unsigned char c = b[(*o)++];
        if (shift == 63 && c > 1)
            return -1;
        u |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *out = u;
            return 0;
        }
    }
    return -1;
}

int sl_row_encode(const struct sl_value *values, size_t n, struct sl_buf *out, struct sl_err *err)
{
    for (size_t i = 0; i < n; i++) {
        const struct sl_value *v = &values[i];
        unsigned char tmp[1 + 10];
        size_t tl = 1;
        int rc;
        tmp[0] = v->type;
        switch (v->type) {
        case SL_V_NULL: break;
        case SL_V_BOOL:
            tmp[1] = v->i != 0;
            tl = 2;
            break;
        case SL_V_INT:
        case SL_V_DATE:
        case SL_V_TIMESTAMP: {
            uint64_t zz = ((uint64_t)v->i << 1) ^ (uint64_t)(v->i >> 63);
            tl += put_varint(tmp + 1, zz);
            break;
        }
        case SL_V_DOUBLE: {
            uint64_t u;
            memcpy(&u, &v->d, sizeof u);
            for (int k = 0; k < 8; k++)
                tmp[1 + k] = (unsigned char)(u >> (8 * k));
            tl = 9;
            break;
        }
        case SL_V_STRING:
        case SL_V_BINARY:
        case SL_V_JSON:
            tl += put_varint(tmp + 1, v->len);
            if ((rc = sl_buf_append(out, tmp, tl, err)) != SL_OK)
                return rc;
            if (v->len && (rc = sl_buf_append(out, v->s, v->len, err)) != SL_OK)
                return rc;
            continue;
        default: return sl_err_set(err, SL_EINTERNAL, "encode row: unknown type %d", (int)v->type);
        }
        if ((rc = sl_buf_append(out, tmp, tl, err)) != SL_OK)
            return rc;
    }
    return SL_OK;
}

int sl_row_decode(const void *p, size_t len, size_t n, struct sl_arena *arena,
                  struct sl_value *values, struct sl_err *err)
{
    const unsigned char *b = p;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        struct sl_value v = {.type = SL_V_NULL};
        uint64_t u = 0;
        if (o >= len)
            return trunc_fail(err, "decode row", i);
        unsigned tag = b[o++];
        v.type = (uint8_t)tag;
        switch (tag) {
        case SL_V_NULL: break;
        case SL_V_BOOL:
            if (o >= len || b[o] > 1)
                return trunc_fail(err, "decode row", i);
            v.i = b[o++];
            break;
        case SL_V_INT:
        case SL_V_DATE:
        case SL_V_TIMESTAMP:
            if (get_varint(b, len, &o, &u) != 0)
                return trunc_fail(err, "decode row", i);
            v.i = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
            break;
        case SL_V_DOUBLE:
            if (len - o < 8)
                return trunc_fail(err, "decode row", i);
            for (int k = 7; k >= 0; k--)
                u = u << 8 | b[o + (size_t)k];
            memcpy(&v.d, &u, sizeof v.d);
            o += 8;
            break;
        case SL_V_STRING:
        case SL_V_BINARY:
        case SL_V_JSON:
            if (get_varint(b, len, &o, &u) != 0 || u > UINT32_MAX || u > len - o)
                return trunc_fail(err, "decode row", i);
            if (u) {
                char *d = sl_arena_alloc(arena, (size_t)u);
                if (!d)
                    return sl_err_set(err, SL_ENOMEM, "decode row: out of memory");
                memcpy(d, b + o, (size_t)u);
                v.s = d;
            } else {
                v.s = "";
            }
            v.len = (uint32_t)u;
            o += (size_t)u;
            break;
        default: return sl_err_set(err, SL_EPARSE, "decode row: value %zu: unknown tag %u", i, tag);
        }
        values[i] = v;
    }
    return SL_OK;
}
