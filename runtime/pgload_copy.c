/*
 * runtime/pgload_copy.c - COPY streams of a load: each stream owns a
 * connection running COPY staging (cols) FROM STDIN (FORMAT text), turns
 * batch rows into COPY text lines and sends them in chunks of about
 * PGL_CHUNK bytes. Every value is checked against its target column first
 * (ranges, precision, lengths, encodings, JSON validity, ...): a value that
 * would make COPY fail makes its row a bad row instead, so the server never
 * rejects data we sent and one bad value cannot take a stream's good rows
 * with it. The load itself (begin, publish) is in pgload.c.
 *
 * Hot path: no allocation and no printf per value; integers, dates and
 * timestamps are formatted by hand, strings are escaped and UTF-8 checked in
 * one pass (8 bytes at a time while they are plain ASCII).
 *
 * COPY text format: fields separated by tabs, rows end with a newline, NULL
 * is \N, and backslash, tab, newline and carriage return inside a value are
 * written \\ \t \n \r. bytea goes as \\x<hex> (its own \x input form with the
 * backslash escaped).
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "arena.h"
#include "log.h"
#include "pgload_internal.h"
#include "pgload_sql.h"
#include "utf8.h"

#define PGL_CHUNK    ((size_t)256 << 10) /* bytes per PQputCopyData: big enough to amortise calls */
#define PGL_ROW_MAX  ((size_t)1 << 30)   /* bytes: the server refuses longer COPY lines */
#define QUOTE_MAX    40                  /* bytes of a bad value quoted in reasons */
#define DAY_US       INT64_C(86400000000)
#define DAYS_MIN     INT64_C(-719162) /* 0001-01-01 */
#define DAYS_MAX     INT64_C(2932896) /* 9999-12-31 */
#define NUM_EXP_MAX  1000             /* PostgreSQL's limit on a numeric's exponent */
#define NUM_INT_MAX  131072           /* digits before the point of an unconstrained numeric */
#define NUM_FRAC_MAX 16383            /* digits after it */
#define SLACK        64               /* bytes always free after a value (see reserve) */

enum { PV_OK = 0, PV_BAD = 1 }; /* put_value results; negative: enum sl_code */

struct sl_pgload_stream {
    struct sl_pgload *l;   /* borrowed: outlives the stream */
    PGconn *pg;            /* owned: in COPY IN mode while the stream is open */
    char *buf;             /* owned: COPY text not yet sent */
    size_t len, cap;       /* bytes */
    size_t row_start;      /* offset in buf of the row being written */
    uint64_t next_seq;     /* load order when the caller gives none */
    uint64_t n_sent;       /* rows in this COPY */
    bool broken;           /* a send failed: only abort is left */
    int64_t date_days;     /* cache of the last date formatted ... */
    char date_text[12];    /* ... as YYYY-MM-DD */
    char reason[384];      /* the current bad row's reason */
    struct sl_arena arena; /* for sl_value_from_text (never used by the types we parse) */
};

/* ---- Small helpers ---- */

static const char DIGITS2[] = "00010203040506070809101112131415161718192021222324252627282930313233"
                              "34353637383940414243444546474849505152535455565758596061626364656667"
                              "68697071727374757677787980818283848586878889909192939495969798"
                              "99";

/* Writes v in decimal at o; returns the bytes written (at most 20). */
static size_t fmt_int(char *o, int64_t v)
{
    char tmp[24];
    char *e = tmp + sizeof tmp, *p = e;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    while (u >= 100) {
        unsigned d = (unsigned)(u % 100) * 2;
        u /= 100;
        p -= 2;
        p[0] = DIGITS2[d];
        p[1] = DIGITS2[d + 1];
    }
    if (u >= 10) {
        unsigned d = (unsigned)u * 2;
        p -= 2;
        p[0] = DIGITS2[d];
        p[1] = DIGITS2[d + 1];
    } else {
        *--p = (char)('0' + u);
    }
    if (v < 0)
        *--p = '-';
    memcpy(o, p, (size_t)(e - p));
    return (size_t)(e - p);
}

static inline void put2(char *o, int v)
{
    o[0] = DIGITS2[v * 2];
    o[1] = DIGITS2[v * 2 + 1];
}

/* The shortest text that reads back as d (as value.c writes doubles), with
 * PostgreSQL's spellings of the special values. At most 32 bytes. */
static size_t fmt_double(char *o, double d)
{
    if (isnan(d)) {
        memcpy(o, "NaN", 3);
        return 3;
    }
    if (isinf(d)) {
        memcpy(o, d < 0 ? "-Infinity" : "Infinity", d < 0 ? 9 : 8);
        return d < 0 ? 9 : 8;
    }
    if (d == 0) {
        if (signbit(d)) {
            memcpy(o, "-0", 2);
            return 2;
        }
        o[0] = '0';
        return 1;
    }
    if (d == floor(d) && fabs(d) < 1e15)
        return fmt_int(o, (int64_t)d);
    char tmp[40];
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(tmp, sizeof tmp, "%.*g", prec, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
    memcpy(o, tmp, (size_t)n);
    return (size_t)n;
}

/* A printable excerpt of p[0..len) in double quotes, for reasons. */
static const char *excerpt(const char *p, size_t len, char *q, size_t q_len)
{
    size_t o = 0;
    q[o++] = '"';
    for (size_t i = 0; i < len && i < QUOTE_MAX && o + 6 < q_len; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '"' || c == '\\') {
            q[o++] = '\\';
            q[o++] = (char)c;
        } else {
            q[o++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
        }
    }
    q[o++] = '"';
    if (len > QUOTE_MAX && o + 4 < q_len) {
        memcpy(q + o, "...", 3);
        o += 3;
    }
    q[o] = '\0';
    return q;
}

static int bad(struct sl_pgload_stream *s, const struct pgl_col *c, const char *fmt, ...)
    SL_PRINTF(3, 4);
static int bad(struct sl_pgload_stream *s, const struct pgl_col *c, const char *fmt, ...)
{
    va_list ap;
    int n = snprintf(s->reason, sizeof s->reason, "column \"%s\" is %s: ", c->name, c->type_name);
    if (n < 0 || (size_t)n >= sizeof s->reason)
        n = 0;
    va_start(ap, fmt);
    vsnprintf(s->reason + n, sizeof s->reason - (size_t)n, fmt, ap);
    va_end(ap);
    return PV_BAD;
}

static const char *vtype_article(enum sl_vtype t)
{
    switch (t) {
    case SL_V_BOOL: return "a boolean";
    case SL_V_INT: return "a bigint";
    case SL_V_DOUBLE: return "a double";
    case SL_V_STRING: return "a string";
    case SL_V_DATE: return "a date";
    case SL_V_TIMESTAMP: return "a timestamp";
    case SL_V_BINARY: return "a binary value";
    case SL_V_JSON: return "a JSON value";
    default: return "a value";
    }
}

static int mismatch(struct sl_pgload_stream *s, const struct pgl_col *c, const struct sl_value *v)
{
    return bad(s, c, "%s cannot go into it", vtype_article(v->type));
}

/* Room for n more bytes in the row being written, plus SLACK: so the
 * separators, the merge order and the newline after a value need no check. */
static int reserve(struct sl_pgload_stream *s, const struct pgl_col *c, size_t n)
{
    if (s->len - s->row_start + n > PGL_ROW_MAX)
        return bad(s, c, "the row is larger than 1 GiB");
    if (s->len + n + SLACK <= s->cap)
        return PV_OK;
    size_t cap = s->cap * 2;
    if (cap < s->len + n + SLACK)
        cap = s->len + n + SLACK;
    char *p = sl_realloc(s->buf, cap);
    if (!p)
        return SL_ENOMEM;
    s->buf = p;
    s->cap = cap;
    return PV_OK;
}

/* ---- UTF-8 ---- */

bool pgl_utf8_valid(const char *p, size_t len)
{
    const unsigned char *u = (const unsigned char *)p, *end = u + len;
    while (u < end) {
        if (*u == 0)
            return false;
        if (*u < 0x80) {
            u++;
            continue;
        }
        size_t n = sl_utf8_seq(u, end);
        if (!n)
            return false;
        u += n;
    }
    return true;
}

/* ---- Text values ---- */

#define ONES  UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

/* Does the 8-byte word hold only bytes 0x20..0x7f other than '\\'? */
static inline bool plain8(uint64_t w)
{
    uint64_t x = w ^ (ONES * '\\');
    uint64_t ctl = (w - ONES * 0x20) & ~w; /* some byte < 0x20 (or >= 0x80) */
    uint64_t bsl = (x - ONES) & ~x;        /* some byte == '\\' */
    return ((w | ctl | bsl) & HIGHS) == 0;
}

/* Appends p[0..len) escaped for COPY text, checking UTF-8, NUL bytes and the
 * column's character limit (varchar(n), char(n): longer is allowed only when
 * the excess is spaces, which PostgreSQL trims). */
static int put_text(struct sl_pgload_stream *s, const struct pgl_col *c, const char *p, size_t len)
{
    if (len > PGL_ROW_MAX)
        return bad(s, c, "a value of %zu bytes is larger than 1 GiB", len);
    int rc = reserve(s, c, 2 * len);
    if (rc != PV_OK)
        return rc;
    const unsigned char *u = (const unsigned char *)p, *end = u + len;
    char *o = s->buf + s->len;
    size_t n_cont = 0; /* UTF-8 continuation bytes: len - n_cont characters */

    while (u < end) {
        if (end - u >= 8) {
            uint64_t w;
            memcpy(&w, u, 8);
            if (plain8(w)) {
                memcpy(o, u, 8);
                o += 8;
                u += 8;
                continue;
            }
        }
        unsigned ch = *u;
        if (ch >= 0x80) {
            size_t n = sl_utf8_seq(u, end);
            if (!n)
                return bad(s, c, "the value is not valid UTF-8 (byte %zu)",
                           (size_t)(u - (const unsigned char *)p) + 1);
            memcpy(o, u, n);
            o += n;
            u += n;
            n_cont += n - 1;
            continue;
        }
        switch (ch) {
        case '\\':
            *o++ = '\\';
            *o++ = '\\';
            break;
        case '\n':
            *o++ = '\\';
            *o++ = 'n';
            break;
        case '\r':
            *o++ = '\\';
            *o++ = 'r';
            break;
        case '\t':
            *o++ = '\\';
            *o++ = 't';
            break;
        case 0: return bad(s, c, "the value holds a NUL byte");
        default: *o++ = (char)ch;
        }
        u++;
    }
    if (c->max_chars >= 0 && len - n_cont > (size_t)c->max_chars) {
        /* find where character max_chars + 1 starts; the rest must be spaces */
        size_t i = 0, n_chars = 0;
        for (; i < len; i++) {
            if (((unsigned char)p[i] & 0xc0) != 0x80 && n_chars++ == (size_t)c->max_chars)
                break;
        }
        for (; i < len; i++) {
            if (p[i] != ' ')
                return bad(s, c, "%zu characters is longer than %d", len - n_cont,
                           (int)c->max_chars);
        }
    }
    s->len = (size_t)(o - s->buf);
    return PV_OK;
}

/* Appends ASCII text that needs no escaping (numbers, dates), checking the
 * column's character limit. */
static int put_ascii(struct sl_pgload_stream *s, const struct pgl_col *c, const char *p, size_t len)
{
    if (c->max_chars >= 0 && len > (size_t)c->max_chars)
        return bad(s, c, "%.*s is longer than %d characters", (int)len, p, (int)c->max_chars);
    int rc = reserve(s, c, len);
    if (rc != PV_OK)
        return rc;
    memcpy(s->buf + s->len, p, len);
    s->len += len;
    return PV_OK;
}

static int put_bytea(struct sl_pgload_stream *s, const struct pgl_col *c, const char *p, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    if (len > PGL_ROW_MAX / 2)
        return bad(s, c, "a value of %zu bytes is larger than 512 MiB", len);
    int rc = reserve(s, c, 3 + 2 * len);
    if (rc != PV_OK)
        return rc;
    char *o = s->buf + s->len;
    *o++ = '\\';
    *o++ = '\\';
    *o++ = 'x';
    for (size_t i = 0; i < len; i++) {
        unsigned char b = (unsigned char)p[i];
        *o++ = hex[b >> 4];
        *o++ = hex[b & 15];
    }
    s->len = (size_t)(o - s->buf);
    return PV_OK;
}

/* ---- Dates and times ---- */

/* YYYY-MM-DD of days (within years 1-9999) at o; 10 bytes. */
static void fmt_date(struct sl_pgload_stream *s, char *o, int64_t days)
{
    if (days != s->date_days || s->date_text[0] == '\0') {
        int y, m, d;
        sl_days_to_date(days, &y, &m, &d);
        put2(s->date_text, y / 100);
        put2(s->date_text + 2, y % 100);
        s->date_text[4] = '-';
        put2(s->date_text + 5, m);
        s->date_text[7] = '-';
        put2(s->date_text + 8, d);
        s->date_days = days;
    }
    memcpy(o, s->date_text, 10);
}

/* "YYYY-MM-DD HH:MM:SS[.ffffff]" (sep ' ') or with 'T', then zone: "+00",
 * "Z" or nothing. Returns the length, 0 when out of years 1-9999. */
static size_t fmt_ts(struct sl_pgload_stream *s, char *o, int64_t us, char sep, const char *zone)
{
    int64_t days = us / DAY_US, rem = us % DAY_US;
    if (rem < 0) {
        rem += DAY_US;
        days--;
    }
    if (days < DAYS_MIN || days > DAYS_MAX)
        return 0;
    fmt_date(s, o, days);
    int64_t secs = rem / 1000000, frac = rem % 1000000;
    size_t n = 10;
    o[n++] = sep;
    put2(o + n, (int)(secs / 3600));
    o[n + 2] = ':';
    put2(o + n + 3, (int)(secs / 60 % 60));
    o[n + 5] = ':';
    put2(o + n + 6, (int)(secs % 60));
    n += 8;
    if (frac) {
        o[n++] = '.';
        put2(o + n, (int)(frac / 10000));
        put2(o + n + 2, (int)(frac / 100 % 100));
        put2(o + n + 4, (int)(frac % 100));
        n += 6;
    }
    for (; *zone; zone++)
        o[n++] = *zone;
    return n;
}

/* ---- Parsers of PostgreSQL's input forms ---- */

static inline bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static void trim(const char **p, size_t *len)
{
    while (*len && is_space(**p)) {
        (*p)++;
        (*len)--;
    }
    while (*len && is_space((*p)[*len - 1]))
        (*len)--;
}

/* int8in: [space][+-]digits[space]. 1 ok, 0 syntax, -1 out of range. */
static int parse_pg_int(const char *p, size_t len, int64_t *out)
{
    trim(&p, &len);
    size_t i = 0;
    bool neg = false;
    if (i < len && (p[i] == '+' || p[i] == '-'))
        neg = p[i++] == '-';
    if (i >= len)
        return 0;
    uint64_t v = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    bool range = false;
    for (; i < len; i++) {
        if (p[i] < '0' || p[i] > '9')
            return 0;
        unsigned d = (unsigned)(p[i] - '0');
        if (v > (lim - d) / 10)
            range = true;
        else
            v = v * 10 + d;
    }
    if (range)
        return -1;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 1;
}

static bool ieq(const char *p, size_t len, const char *word)
{
    size_t n = strlen(word);
    if (len != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c + 32);
        if (c != word[i])
            return false;
    }
    return true;
}

/* float8in/float4in through strtod/strtof on a NUL-terminated copy; 1 ok, 0
 * syntax, -1 out of range (overflow, or underflow to zero). */
static int parse_pg_float(const char *p, size_t len, bool single, double *out)
{
    char stack[128];
    char *tmp = stack;
    trim(&p, &len);
    if (len == 0)
        return 0;
    if (len >= sizeof stack) {
        if (len > 4096)
            return 0; /* no float needs that many bytes; keeps the copy bounded */
        tmp = sl_alloc(len + 1);
        if (!tmp)
            return 0;
    }
    memcpy(tmp, p, len);
    tmp[len] = '\0';
    char *end = NULL;
    errno = 0;
    double d = single ? (double)strtof(tmp, &end) : strtod(tmp, &end);
    int e = errno;
    bool ok = end == tmp + len && memchr(tmp, '\0', len) == NULL;
    if (tmp != stack)
        sl_free(tmp);
    if (!ok)
        return 0;
    if (e == ERANGE && (d == 0 || isinf(d)))
        return -1;
    *out = d;
    return 1;
}

/* Numeric input: [space][+-]digits[.digits][(e|E)[+-]digits][space], at
 * least one digit; or NaN, [+-]Infinity, [+-]inf. */
struct num {
    int special;    /* 0 number, 1 NaN, 2 +Infinity, 3 -Infinity */
    const char *ip; /* integer digits */
    size_t ni;
    const char *fp; /* fraction digits */
    size_t nf;
    long exp;
};

static bool parse_num(const char *p, size_t len, struct num *n)
{
    memset(n, 0, sizeof *n);
    trim(&p, &len);
    size_t i = 0;
    bool neg = false;
    if (i < len && (p[i] == '+' || p[i] == '-'))
        neg = p[i++] == '-';
    if (ieq(p + i, len - i, "infinity") || ieq(p + i, len - i, "inf")) {
        n->special = neg ? 3 : 2;
        return true;
    }
    if (i == 0 && ieq(p, len, "nan")) {
        n->special = 1;
        return true;
    }
    n->ip = p + i;
    while (i < len && p[i] >= '0' && p[i] <= '9')
        i++;
    n->ni = (size_t)(p + i - n->ip);
    if (i < len && p[i] == '.') {
        i++;
        n->fp = p + i;
        while (i < len && p[i] >= '0' && p[i] <= '9')
            i++;
        n->nf = (size_t)(p + i - n->fp);
    }
    if (n->ni + n->nf == 0)
        return false;
    if (i < len && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        bool eneg = false;
        if (i < len && (p[i] == '+' || p[i] == '-'))
            eneg = p[i++] == '-';
        size_t start = i;
        long e = 0;
        while (i < len && p[i] >= '0' && p[i] <= '9') {
            if (e <= NUM_EXP_MAX)
                e = e * 10 + (p[i] - '0');
            i++;
        }
        if (i == start || e > NUM_EXP_MAX)
            return false;
        n->exp = eneg ? -e : e;
    }
    return i == len;
}

static inline char num_digit(const struct num *n, size_t k)
{
    if (k < n->ni)
        return n->ip[k];
    k -= n->ni;
    return k < n->nf ? n->fp[k] : '0';
}

/* Does n fit numeric(prec, scale) (prec < 0: unconstrained)? Rounds to scale
 * as PostgreSQL does (half away from zero), then compares the position of the
 * first significant digit with prec - scale: digits before the point, or,
 * below 1, minus the zeros right after it (so numeric(2,3) takes 0.099 but
 * not 0.1). A value that rounds to zero always fits. */
static bool num_fits(const struct num *n, int prec, int scale)
{
    size_t total = n->ni + n->nf, z = 0;
    while (z < total && num_digit(n, z) == '0')
        z++;
    if (z == total)
        return true;                   /* zero */
    long point = (long)n->ni + n->exp; /* the point sits before digit 'point' */
    long int_digits = point - (long)z;
    if (prec < 0) {
        long frac = (long)n->nf - n->exp;
        return int_digits <= NUM_INT_MAX && frac <= NUM_FRAC_MAX;
    }
    long kept = point + scale - (long)z; /* significant digits kept after rounding */
    long digits;
    if (kept < 0)
        return true; /* rounds to zero */
    if (kept == 0) {
        if (num_digit(n, z) < '5')
            return true;
        digits = 1 - scale; /* rounds up to 10^-scale */
    } else {
        bool carry = z + (size_t)kept < total && num_digit(n, z + (size_t)kept) >= '5';
        for (long k = 0; carry && k < kept; k++) {
            if (num_digit(n, z + (size_t)k) != '9')
                carry = false;
        }
        digits = int_digits + (carry ? 1 : 0);
    }
    return digits <= (long)prec - scale;
}

/* uuid_in: 32 hex digits, optionally in braces, with an optional '-' after
 * any group of 4. */
static bool parse_uuid(const char *p, size_t len)
{
    size_t i = 0;
    bool braces = false;
    if (len && p[0] == '{') {
        braces = true;
        i++;
    }
    for (int b = 0; b < 16; b++) {
        for (int k = 0; k < 2; k++, i++) {
            if (i >= len)
                return false;
            char c = p[i];
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
                return false;
        }
        if (i < len && p[i] == '-' && (b % 2) == 1 && b < 15)
            i++;
    }
    if (braces) {
        if (i >= len || p[i] != '}')
            return false;
        i++;
    }
    return i == len;
}

/* boolin, restricted: true/false, t/f, yes/no, y/n, on/off, 1/0. */
static int parse_pg_bool(const char *p, size_t len)
{
    static const char *const yes[] = {"t", "true", "y", "yes", "on", "1"};
    static const char *const no[] = {"f", "false", "n", "no", "off", "0"};
    trim(&p, &len);
    for (size_t i = 0; i < SL_ARRAY_LEN(yes); i++) {
        if (ieq(p, len, yes[i]))
            return 1;
        if (ieq(p, len, no[i]))
            return 0;
    }
    return -1;
}

/* ---- One value ---- */

static int put_int_checked(struct sl_pgload_stream *s, const struct pgl_col *c, int64_t x)
{
    char tmp[24];
    if ((c->kind == PGL_INT2 && (x < -32768 || x > 32767)) ||
        (c->kind == PGL_INT4 && (x < INT32_MIN || x > INT32_MAX)))
        return bad(s, c, "%" PRId64 " is out of range", x);
    size_t n = fmt_int(tmp, x);
    return put_ascii(s, c, tmp, n);
}

static int put_integer(struct sl_pgload_stream *s, const struct pgl_col *c,
                       const struct sl_value *v)
{
    char q[2 * QUOTE_MAX + 16];
    int64_t x;
    switch (v->type) {
    case SL_V_INT: x = v->i; break;
    case SL_V_DOUBLE:
        if (!isfinite(v->d) || v->d != floor(v->d)) {
            char tmp[40];
            size_t n = fmt_double(tmp, v->d);
            return bad(s, c, "%.*s is not a whole number", (int)n, tmp);
        }
        if (!(v->d >= -9223372036854775808.0 && v->d < 9223372036854775808.0)) {
            char tmp[40];
            size_t n = fmt_double(tmp, v->d);
            return bad(s, c, "%.*s is out of range", (int)n, tmp);
        }
        x = (int64_t)v->d;
        break;
    case SL_V_STRING: {
        int r = parse_pg_int(v->s, v->len, &x);
        if (r == 0)
            return bad(s, c, "%s is not an integer", excerpt(v->s, v->len, q, sizeof q));
        if (r < 0)
            return bad(s, c, "%s is out of range", excerpt(v->s, v->len, q, sizeof q));
        break;
    }
    default: return mismatch(s, c, v);
    }
    return put_int_checked(s, c, x);
}

static int put_float(struct sl_pgload_stream *s, const struct pgl_col *c, const struct sl_value *v)
{
    char q[2 * QUOTE_MAX + 16], tmp[40];
    double d;
    size_t n;
    switch (v->type) {
    case SL_V_INT: n = fmt_int(tmp, v->i); break;
    case SL_V_DOUBLE: n = fmt_double(tmp, v->d); break;
    case SL_V_STRING: {
        int r = parse_pg_float(v->s, v->len, false, &d);
        if (r == 0)
            return bad(s, c, "%s is not a number", excerpt(v->s, v->len, q, sizeof q));
        if (r < 0)
            return bad(s, c, "%s is out of range", excerpt(v->s, v->len, q, sizeof q));
        n = fmt_double(tmp, d);
        break;
    }
    default: return mismatch(s, c, v);
    }
    if (c->kind == PGL_FLOAT4 && parse_pg_float(tmp, n, true, &d) != 1)
        return bad(s, c, "%.*s is out of range", (int)n, tmp);
    return put_ascii(s, c, tmp, n);
}

static int put_numeric(struct sl_pgload_stream *s, const struct pgl_col *c,
                       const struct sl_value *v)
{
    char q[2 * QUOTE_MAX + 16], tmp[40];
    const char *p = tmp;
    size_t n;
    struct num num;
    switch (v->type) {
    case SL_V_INT: n = fmt_int(tmp, v->i); break;
    case SL_V_DOUBLE: n = fmt_double(tmp, v->d); break;
    case SL_V_STRING:
        p = v->s;
        n = v->len;
        trim(&p, &n);
        break;
    default: return mismatch(s, c, v);
    }
    if (!parse_num(p, n, &num))
        return bad(s, c, "%s is not a number", excerpt(p, n, q, sizeof q));
    if (num.special == 1)
        return put_ascii(s, c, "NaN", 3);
    if (num.special) {
        if (c->num_prec >= 0 || s->l->server_version < 140000)
            return bad(s, c, "%s is not allowed", num.special == 2 ? "Infinity" : "-Infinity");
        return num.special == 2 ? put_ascii(s, c, "Infinity", 8) : put_ascii(s, c, "-Infinity", 9);
    }
    if (!num_fits(&num, c->num_prec, c->num_scale)) {
        if (c->num_prec < 0)
            return bad(s, c, "%s is out of range", excerpt(p, n, q, sizeof q));
        return bad(s, c, "%s has more than %d digits before the decimal point",
                   excerpt(p, n, q, sizeof q), (int)(c->num_prec - c->num_scale));
    }
    return put_ascii(s, c, p, n);
}

static int put_date_value(struct sl_pgload_stream *s, const struct pgl_col *c, int64_t days)
{
    if (days < DAYS_MIN || days > DAYS_MAX)
        return bad(s, c, "the date is out of range (years 1 to 9999)");
    int rc = reserve(s, c, 10);
    if (rc != PV_OK)
        return rc;
    fmt_date(s, s->buf + s->len, days);
    s->len += 10;
    return PV_OK;
}

static int put_ts_value(struct sl_pgload_stream *s, const struct pgl_col *c, int64_t us)
{
    int rc = reserve(s, c, 40);
    if (rc != PV_OK)
        return rc;
    size_t n = fmt_ts(s, s->buf + s->len, us, ' ', c->kind == PGL_TS ? "" : "+00");
    if (n == 0)
        return bad(s, c, "the timestamp is out of range (years 1 to 9999)");
    s->len += n;
    return PV_OK;
}

static int put_datetime(struct sl_pgload_stream *s, const struct pgl_col *c,
                        const struct sl_value *v)
{
    struct sl_value out;
    struct sl_err e = {0};
    bool date = c->kind == PGL_DATE;
    switch (v->type) {
    case SL_V_DATE:
        if (date)
            return put_date_value(s, c, v->i);
        if (v->i < DAYS_MIN || v->i > DAYS_MAX)
            return bad(s, c, "the date is out of range (years 1 to 9999)");
        return put_ts_value(s, c, v->i * DAY_US);
    case SL_V_TIMESTAMP:
        if (date)
            return mismatch(s, c, v);
        return put_ts_value(s, c, v->i);
    case SL_V_STRING:
        if (sl_value_from_text(date ? SL_V_DATE : SL_V_TIMESTAMP, v->s, v->len, &s->arena, &out,
                               &e) != SL_OK)
            return bad(s, c, "%s", e.msg);
        if (out.type == SL_V_NULL) {
            char q[2 * QUOTE_MAX + 16];
            return bad(s, c, "%s is not a %s", excerpt(v->s, v->len, q, sizeof q),
                       date ? "date" : "timestamp");
        }
        return date ? put_date_value(s, c, out.i) : put_ts_value(s, c, out.i);
    default: return mismatch(s, c, v);
    }
}

static int put_json(struct sl_pgload_stream *s, const struct pgl_col *c, const struct sl_value *v)
{
    char tmp[40];
    size_t n;
    switch (v->type) {
    case SL_V_STRING:
    case SL_V_JSON: {
        json_error_t je;
        size_t flags =
            JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL | (c->kind == PGL_JSON ? JSON_ALLOW_NUL : 0);
        json_t *j = json_loadb(v->s, v->len, flags, &je);
        if (!j)
            return bad(s, c, "invalid JSON: %s at byte %d", je.text, je.position + 1);
        json_decref(j);
        return put_text(s, c, v->s, v->len);
    }
    case SL_V_INT: n = fmt_int(tmp, v->i); break;
    case SL_V_DOUBLE:
        n = fmt_double(tmp, v->d);
        if (!isfinite(v->d))
            return bad(s, c, "%.*s is not a JSON number", (int)n, tmp);
        break;
    case SL_V_BOOL: return put_ascii(s, c, v->i ? "true" : "false", v->i ? 4 : 5);
    default: return mismatch(s, c, v);
    }
    return put_ascii(s, c, tmp, n);
}

/* The text form for text columns (as value.c writes values) and, with
 * pg_form, for types we do not know (the forms PostgreSQL reads best). */
static int put_as_text(struct sl_pgload_stream *s, const struct pgl_col *c,
                       const struct sl_value *v, bool pg_form)
{
    char tmp[48];
    size_t n;
    switch (v->type) {
    case SL_V_STRING:
    case SL_V_JSON: return put_text(s, c, v->s, v->len);
    case SL_V_BINARY:
        if (!pg_form)
            return mismatch(s, c, v);
        return put_bytea(s, c, v->s, v->len);
    case SL_V_BOOL: return put_ascii(s, c, v->i ? "true" : "false", v->i ? 4 : 5);
    case SL_V_INT: n = fmt_int(tmp, v->i); break;
    case SL_V_DOUBLE: n = fmt_double(tmp, v->d); break;
    case SL_V_DATE:
        if (v->i < DAYS_MIN || v->i > DAYS_MAX)
            return bad(s, c, "the date is out of range (years 1 to 9999)");
        fmt_date(s, tmp, v->i);
        n = 10;
        break;
    case SL_V_TIMESTAMP:
        n = pg_form ? fmt_ts(s, tmp, v->i, ' ', "+00") : fmt_ts(s, tmp, v->i, 'T', "Z");
        if (n == 0)
            return bad(s, c, "the timestamp is out of range (years 1 to 9999)");
        break;
    default: return mismatch(s, c, v);
    }
    return put_ascii(s, c, tmp, n);
}

/* Appends v's COPY text for column c: PV_OK, PV_BAD (s->reason says why) or
 * a negative sl_code (out of memory). */
static int put_value(struct sl_pgload_stream *s, const struct pgl_col *c, const struct sl_value *v)
{
    char q[2 * QUOTE_MAX + 16];
    if (v->type == SL_V_NULL) {
        if (c->not_null) {
            snprintf(s->reason, sizeof s->reason,
                     "column \"%s\" is NOT NULL in the target: the value is null", c->name);
            return PV_BAD;
        }
        int rc = reserve(s, c, 2);
        if (rc != PV_OK)
            return rc;
        s->buf[s->len++] = '\\';
        s->buf[s->len++] = 'N';
        return PV_OK;
    }
    switch (c->kind) {
    case PGL_INT8:
        if (v->type == SL_V_INT) { /* the common case, without detours */
            int rc = reserve(s, c, 20);
            if (rc != PV_OK)
                return rc;
            s->len += fmt_int(s->buf + s->len, v->i);
            return PV_OK;
        }
        return put_integer(s, c, v);
    case PGL_INT2:
    case PGL_INT4: return put_integer(s, c, v);
    case PGL_FLOAT4:
    case PGL_FLOAT8: return put_float(s, c, v);
    case PGL_NUMERIC: return put_numeric(s, c, v);
    case PGL_BOOL:
        if (v->type == SL_V_BOOL)
            return put_ascii(s, c, v->i ? "t" : "f", 1);
        if (v->type == SL_V_STRING) {
            int b = parse_pg_bool(v->s, v->len);
            if (b < 0)
                return bad(s, c, "%s is not a boolean", excerpt(v->s, v->len, q, sizeof q));
            return put_ascii(s, c, b ? "t" : "f", 1);
        }
        return mismatch(s, c, v);
    case PGL_TEXT:
        if (v->type == SL_V_STRING)
            return put_text(s, c, v->s, v->len);
        return put_as_text(s, c, v, false);
    case PGL_DATE:
    case PGL_TS:
    case PGL_TSTZ:
        if (v->type == SL_V_TIMESTAMP && c->kind != PGL_DATE) { /* the common case */
            int rc = reserve(s, c, 40);
            if (rc != PV_OK)
                return rc;
            size_t n = fmt_ts(s, s->buf + s->len, v->i, ' ', c->kind == PGL_TS ? "" : "+00");
            if (n == 0)
                return bad(s, c, "the timestamp is out of range (years 1 to 9999)");
            s->len += n;
            return PV_OK;
        }
        return put_datetime(s, c, v);
    case PGL_JSON:
    case PGL_JSONB: return put_json(s, c, v);
    case PGL_UUID:
        if (v->type != SL_V_STRING)
            return mismatch(s, c, v);
        if (!parse_uuid(v->s, v->len))
            return bad(s, c, "%s is not a UUID", excerpt(v->s, v->len, q, sizeof q));
        return put_ascii(s, c, v->s, v->len);
    case PGL_BYTEA:
        if (v->type != SL_V_BINARY && v->type != SL_V_STRING)
            return mismatch(s, c, v);
        return put_bytea(s, c, v->s, v->len);
    case PGL_OTHER:
    default: return put_as_text(s, c, v, true);
    }
}

/* ---- Streams ---- */

static void one_line_result(PGconn *pg, PGresult *r, char *out, size_t out_len)
{
    const char *primary = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *ctx = r ? PQresultErrorField(r, PG_DIAG_CONTEXT) : NULL;
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    char tmp[600];
    if (primary)
        snprintf(tmp, sizeof tmp, "%s%s%s%s%s%s", primary, ctx ? " (" : "", ctx ? ctx : "",
                 ctx ? ")" : "", state ? " SQLSTATE " : "", state ? state : "");
    else
        snprintf(tmp, sizeof tmp, "%s", PQerrorMessage(pg));
    sl_redact_line(tmp, out, out_len);
}

int sl_pgload_stream_open(struct sl_pgload *l, struct sl_pgload_stream **out, struct sl_err *err)
{
    struct sl_pgload_stream *s = NULL;
    PGresult *r = NULL;
    char why[400];

    *out = NULL;
    if (l->published || l->dropped) {
        sl_err_set(err, SL_ECONFIG, "the load is already %s",
                   l->published ? "published" : "aborted");
        goto fail;
    }
    s = sl_calloc(1, sizeof *s);
    if (!s) {
        sl_err_set(err, SL_ENOMEM, "out of memory");
        goto fail;
    }
    s->l = l;
    s->date_days = INT64_MIN;
    sl_arena_init(&s->arena, 1 << 16);
    s->cap = PGL_CHUNK + (PGL_CHUNK >> 2);
    s->buf = sl_alloc(s->cap);
    if (!s->buf) {
        sl_err_set(err, SL_ENOMEM, "out of memory");
        goto fail;
    }
    s->pg = pgl_connect(l->conninfo, l->app_name, err);
    if (!s->pg)
        goto fail;
    r = PQexec(s->pg, SL_PGLOAD_SQL_ASYNC_COMMIT);
    PQclear(r);
    r = PQexec(s->pg, l->copy_sql);
    if (PQresultStatus(r) != PGRES_COPY_IN) {
        one_line_result(s->pg, r, why, sizeof why);
        sl_err_set(err, PQstatus(s->pg) == CONNECTION_OK ? SL_EIO : SL_ETRANSIENT,
                   "could not start COPY: %s", why);
        goto fail;
    }
    PQclear(r);
    atomic_fetch_add(&l->n_open, 1);
    *out = s;
    return SL_OK;
fail:
    PQclear(r);
    if (s) {
        PQfinish(s->pg);
        sl_arena_cleanup(&s->arena);
        sl_free(s->buf);
        sl_free(s);
    }
    return sl_err_prefix(err, "load into %s: open stream", l->q_target);
}

static int flush(struct sl_pgload_stream *s, struct sl_err *err)
{
    if (s->len == 0)
        return SL_OK;
    if (PQputCopyData(s->pg, s->buf, (int)s->len) != 1) {
        char why[400];
        s->broken = true;
        sl_redact_line(PQerrorMessage(s->pg), why, sizeof why);
        return sl_err_set(err, SL_ETRANSIENT, "could not send rows: %s", why);
    }
    s->len = 0;
    return SL_OK;
}

/* Does b's schema name the load's columns in order? */
static bool same_columns(const struct sl_pgload *l, const struct sl_rschema *rs)
{
    if (!rs || rs->n_cols != l->n_cols)
        return false;
    for (size_t i = 0; i < l->n_cols; i++) {
        if (rs->names[i] != l->cols[i].name && strcmp(rs->names[i], l->cols[i].name) != 0)
            return false;
    }
    return true;
}

int sl_pgload_stream_write(struct sl_pgload_stream *s, const struct sl_batch *b,
                           const uint64_t *order, sl_pgload_bad_fn bad_fn, void *bad_ud,
                           uint64_t *n_sent, struct sl_err *err)
{
    struct sl_pgload *l = s->l;
    bool merge = l->mode == SL_PGLOAD_MERGE;
    size_t n_cols = l->n_cols;
    uint64_t n = 0;
    int rc = SL_OK;

    if (n_sent)
        *n_sent = 0;
    if (s->broken) {
        sl_err_set(err, SL_ECONFIG, "the stream failed before; abort it");
        goto fail;
    }
    if (!same_columns(l, b->schema)) {
        sl_err_set(err, SL_ECONFIG, "the batch's columns are not the load's");
        goto fail;
    }
    for (uint32_t r = 0; r < b->n_rows; r++) {
        const struct sl_value *cells = &b->cells[(size_t)r * n_cols];
        int bad_col = 0;
        s->row_start = s->len;
        for (size_t i = 0; i < n_cols; i++) {
            if (i)
                s->buf[s->len++] = '\t'; /* within SLACK */
            rc = put_value(s, &l->cols[i], &cells[i]);
            if (rc == PV_OK)
                continue;
            if (rc < 0)
                goto oom;
            bad_col = (int)i + 1;
            break;
        }
        if (bad_col) {
            s->len = s->row_start;
            if (!bad_fn) {
                sl_err_set(err, SL_EPARSE, "row %" PRIu32 ": %s", r, s->reason);
                goto fail;
            }
            rc = bad_fn(bad_ud, r, bad_col, s->reason);
            if (rc != SL_OK) {
                sl_err_set(err, rc < 0 ? rc : SL_ECANCELLED, "stopped at bad row %" PRIu32 ": %s",
                           r, s->reason);
                goto fail;
            }
            continue;
        }
        if (merge) {
            uint64_t seq = order ? order[r] : s->next_seq++;
            s->buf[s->len++] = '\t';
            /* uint64 order onto bigint, order kept: flip the top bit */
            s->len += fmt_int(s->buf + s->len, (int64_t)(seq ^ (UINT64_C(1) << 63)));
        }
        s->buf[s->len++] = '\n';
        n++;
        if (s->len >= PGL_CHUNK && flush(s, err) != SL_OK)
            goto fail;
    }
    s->n_sent += n;
    if (n_sent)
        *n_sent = n;
    return SL_OK;
oom:
    sl_err_set(err, SL_ENOMEM, "out of memory");
    s->len = s->row_start;
fail:
    /* rows already in the buffer (or sent) still count */
    s->n_sent += n;
    if (n_sent)
        *n_sent = n;
    return sl_err_prefix(err, "load into %s", l->q_target);
}

int sl_pgload_stream_commit(struct sl_pgload_stream *s, struct sl_err *err)
{
    struct sl_pgload *l = s->l;
    PGresult *r = NULL;
    char why[400];
    int rc = SL_OK;

    if (s->broken) {
        sl_err_set(err, SL_ETRANSIENT, "the stream failed before");
        rc = SL_ETRANSIENT;
        goto done;
    }
    if ((rc = flush(s, err)) != SL_OK)
        goto done;
    if (PQputCopyEnd(s->pg, NULL) != 1) {
        sl_redact_line(PQerrorMessage(s->pg), why, sizeof why);
        rc = sl_err_set(err, SL_ETRANSIENT, "could not end COPY: %s", why);
        goto done;
    }
    r = PQgetResult(s->pg);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        one_line_result(s->pg, r, why, sizeof why);
        rc = sl_err_set(err, PQstatus(s->pg) == CONNECTION_OK ? SL_EIO : SL_ETRANSIENT,
                        "COPY failed: %s", why);
        goto done;
    }
done:
    PQclear(r);
    while (s->pg && (r = PQgetResult(s->pg)) != NULL)
        PQclear(r);
    if (rc == SL_OK)
        atomic_fetch_add(&l->n_committed, s->n_sent);
    else if (s->n_sent > 0)
        atomic_store(&l->stream_failed, true);
    atomic_fetch_sub(&l->n_open, 1);
    PQfinish(s->pg);
    sl_arena_cleanup(&s->arena);
    sl_free(s->buf);
    sl_free(s);
    return rc == SL_OK ? SL_OK : sl_err_prefix(err, "load into %s: commit stream", l->q_target);
}

void sl_pgload_stream_abort(struct sl_pgload_stream *s)
{
    PGresult *r;
    if (!s)
        return;
    if (PQputCopyEnd(s->pg, "aborted by sluice") == 1) {
        while ((r = PQgetResult(s->pg)) != NULL)
            PQclear(r);
    }
    if (s->n_sent > 0)
        atomic_store(&s->l->stream_failed, true);
    atomic_fetch_sub(&s->l->n_open, 1);
    PQfinish(s->pg);
    sl_arena_cleanup(&s->arena);
    sl_free(s->buf);
    sl_free(s);
}
