/*
 * scheduler/cron.c - cron expressions (Glue's 6-field cron(...) and 5-field
 * Unix cron): the parser, the fire-time search on local wall-clock time, and
 * a small reader for the system tz database (TZif files plus their POSIX TZ
 * footer rule). The accepted syntax and the DST rules are in cron.h; trigger
 * state, catch-up and the run queue are elsewhere in scheduler/.
 */
#include "cron.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/alloc.h"
#include "runtime/value.h" /* sl_date_to_days, sl_days_to_date */

enum dialect {
    DIALECT_GLUE, /* cron(Minutes Hours Day-of-month Month Day-of-week Year) */
    DIALECT_UNIX, /* m h dom mon dow */
};

#define GLUE_YEAR_MIN 1970
#define GLUE_YEAR_MAX 2199 /* spec §3.9 */
#define EVAL_YEAR_MAX 9999 /* search and dates stop at 9999-12-31 */
#define UNIX_HORIZON  400  /* years: the Gregorian calendar repeats after 400 */

struct sl_cron {
    enum dialect dialect;
    uint64_t minutes;        /* bit m, 0-59 */
    uint32_t hours;          /* bit h, 0-23 */
    uint32_t dom;            /* bit d, 1-31: plain days */
    uint32_t dom_w;          /* bit n, 1-31: nW */
    bool dom_last, dom_lw;   /* L, LW */
    uint16_t months;         /* bit m, 1-12 */
    uint8_t dow;             /* bit w, 0-6 (0 = Sunday): plain weekdays */
    uint8_t dow_last;        /* bit w: wL, the last one of the month */
    uint8_t dow_nth[6];      /* dow_nth[k] bit w: w#k, k 1-5 */
    bool dom_none, dow_none; /* "?" (Glue form) */
    bool dom_star, dow_star; /* 5-field form: the field starts with "*" */
    int year_min, year_max;  /* Glue form: smallest and largest year listed */
    uint64_t years[4];       /* Glue form: bit y - GLUE_YEAR_MIN */
};

/* ---- Small helpers ---- */

static bool is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

static char upper(char ch)
{
    return ch >= 'a' && ch <= 'z' ? (char)(ch - 'a' + 'A') : ch;
}

static bool is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f';
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static bool is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int y, int m)
{
    static const int n[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : n[m - 1];
}

/* 0 = Sunday; 1970-01-01 was a Thursday. */
static int weekday_of_days(int64_t days)
{
    return (int)(((days % 7) + 11) % 7);
}

static int year_of(int64_t t_s)
{
    int y, m, d;
    sl_days_to_date(floor_div(t_s, 86400), &y, &m, &d);
    return y;
}

/* "2026-03-08T07:00:00Z", for messages. */
static void fmt_iso(char *buf, size_t buf_len, int64_t ms)
{
    int64_t s = floor_div(ms, 1000);
    int64_t days = floor_div(s, 86400);
    int64_t sec = s - days * 86400;
    int y, m, d;
    sl_days_to_date(days, &y, &m, &d);
    snprintf(buf, buf_len, "%04d-%02d-%02dT%02d:%02d:%02dZ", y, m, d, (int)(sec / 3600),
             (int)(sec / 60 % 60), (int)(sec % 60));
}

/* Copies user text for a message: at most 40 bytes, non-printable bytes and
 * quotes escaped, "..." when cut. */
static void show(char *buf, size_t buf_len, const char *s, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        char tmp[8];
        if (i == 40) {
            snprintf(tmp, sizeof tmp, "...");
        } else if (ch < 0x20 || ch >= 0x7f || ch == '"' || ch == '\\') {
            snprintf(tmp, sizeof tmp, "\\x%02x", ch);
        } else {
            tmp[0] = (char)ch;
            tmp[1] = '\0';
        }
        size_t tl = strlen(tmp);
        if (o + tl + 1 > buf_len)
            break;
        memcpy(buf + o, tmp, tl);
        o += tl;
        if (i == 40)
            break;
    }
    buf[o] = '\0';
}

/* ---- Parser ---- */

enum field_kind { F_MINUTES, F_HOURS, F_DOM, F_MONTH, F_DOW, F_YEAR };

struct field {
    enum field_kind kind;
    const char *name; /* in messages */
    int min, max;
    const char *const *names; /* 3-letter names, or NULL */
    int names_base;           /* value of names[0] */
};

static const char *const month_names[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                          "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
static const char *const day_names[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

static const struct field glue_fields[6] = {
    {F_MINUTES, "minutes", 0, 59, NULL, 0},
    {F_HOURS, "hours", 0, 23, NULL, 0},
    {F_DOM, "day-of-month", 1, 31, NULL, 0},
    {F_MONTH, "month", 1, 12, month_names, 1},
    {F_DOW, "day-of-week", 1, 7, day_names, 1}, /* 1 = SUN */
    {F_YEAR, "year", GLUE_YEAR_MIN, GLUE_YEAR_MAX, NULL, 0},
};

static const struct field unix_fields[5] = {
    {F_MINUTES, "minute", 0, 59, NULL, 0},      /* m */
    {F_HOURS, "hour", 0, 23, NULL, 0},          /* h */
    {F_DOM, "day-of-month", 1, 31, NULL, 0},    /* dom */
    {F_MONTH, "month", 1, 12, month_names, 1},  /* mon */
    {F_DOW, "day-of-week", 0, 7, day_names, 0}, /* dow: 0 and 7 = SUN */
};

/* What one field's text parsed to; values not yet mapped to weekdays. */
struct set {
    uint64_t bits[4];  /* bit v - field min */
    uint32_t w_days;   /* day-of-month nW: bit n */
    uint8_t last_vals; /* day-of-week vL: bit v */
    uint8_t nth[6];    /* day-of-week v#k: nth[k] bit v */
    bool last, lw;     /* day-of-month L, LW */
    bool none;         /* "?" */
    bool star;         /* the text starts with "*" */
};

struct parser {
    enum dialect dialect;
    bool glue_only;
    int no; /* field number, 1-based */
    const struct field *f;
    struct sl_err *err;
};

static int field_err(const struct parser *p, const char *fmt, ...) SL_PRINTF(2, 3);

static int field_err(const struct parser *p, const char *fmt, ...)
{
    char why[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    return sl_err_set(p->err, SL_EPARSE, "cron: field %d (%s): %s", p->no, p->f->name, why);
}

static void set_bit(struct set *s, int i)
{
    s->bits[i >> 6] |= UINT64_C(1) << (i & 63);
}

static bool has_bit(const struct set *s, int i)
{
    return (s->bits[i >> 6] >> (i & 63)) & 1;
}

/* Reads a decimal number at s[*i] (saturating at 999999); false when none. */
static bool read_number(const char *s, size_t len, size_t *i, int *v)
{
    size_t j = *i;
    long x = 0;
    while (j < len && is_digit(s[j])) {
        if (x < 999999)
            x = x * 10 + (s[j] - '0');
        j++;
    }
    if (j == *i)
        return false;
    *v = (int)(x > 999999 ? 999999 : x);
    *i = j;
    return true;
}

/* Reads a number or, in fields with names, a 3-letter name (any case). */
static bool read_value(const struct field *f, const char *s, size_t len, size_t *i, int *v)
{
    if (read_number(s, len, i, v))
        return true;
    if (!f->names || *i + 3 > len)
        return false;
    int n_names = f->kind == F_MONTH ? 12 : 7;
    for (int k = 0; k < n_names; k++) {
        const char *name = f->names[k];
        if (upper(s[*i]) == name[0] && upper(s[*i + 1]) == name[1] && upper(s[*i + 2]) == name[2]) {
            *v = f->names_base + k;
            *i += 3;
            return true;
        }
    }
    return false;
}

/* v was read from text[0..len): the message shows the text as written. */
static int check_range(const struct parser *p, int v, const char *text, size_t len)
{
    char shown[200];
    if (v >= p->f->min && v <= p->f->max)
        return SL_OK;
    show(shown, sizeof shown, text, len);
    return field_err(p, "%s is out of range %d-%d", shown, p->f->min, p->f->max);
}

/* The L/W/# forms exist only in the Glue form. */
static int need_glue(const struct parser *p, const char *what)
{
    if (p->dialect == DIALECT_UNIX)
        return field_err(p, "\"%s\" needs the 6-field cron(...) form", what);
    return SL_OK;
}

/* One list element: *, *, n, a-b, a/s, a-b/s (s = step), and the specials
 * L, LW, nW (day-of-month), L, nL, n#k (day-of-week). */
static int parse_element(const struct parser *p, const char *s, size_t len, struct set *out)
{
    const struct field *f = p->f;
    char tok[200];
    size_t i = 0;
    int lo, hi, step = 1, rc;

    show(tok, sizeof tok, s, len);
    if (len == 0)
        return field_err(p, "empty list element");
    if (s[0] == '?')
        return field_err(p, "\"?\" must be the whole field");
    if (f->kind == F_DOM && upper(s[0]) == 'L') {
        if ((rc = need_glue(p, "L")) != SL_OK)
            return rc;
        if (len == 1) {
            out->last = true;
            return SL_OK;
        }
        if (len == 2 && upper(s[1]) == 'W') {
            out->lw = true;
            return SL_OK;
        }
        if (s[1] == '-')
            return field_err(p, "\"%s\": L-n (days before the last) is not supported", tok);
        return field_err(p, "unexpected \"%s\"", tok);
    }
    if (f->kind == F_DOW && len == 1 && upper(s[0]) == 'L') {
        if ((rc = need_glue(p, "L")) != SL_OK)
            return rc;
        set_bit(out, 7 - f->min); /* L alone: the last day of the week, SAT */
        return SL_OK;
    }
    if (s[0] == '*') {
        lo = f->min;
        hi = f->max;
        i = 1;
        if (i < len && s[i] != '/')
            return field_err(p, "unexpected \"%s\"", tok);
    } else {
        if (!read_value(f, s, len, &i, &lo))
            return field_err(p, "unexpected \"%s\"", tok);
        if ((rc = check_range(p, lo, s, i)) != SL_OK)
            return rc;
        hi = lo;
        char next = i < len ? upper(s[i]) : '\0';
        if (next == '-') {
            size_t at = ++i;
            if (!read_value(f, s, len, &i, &hi))
                return field_err(p, "\"%s\": the range has no end", tok);
            if ((rc = check_range(p, hi, s + at, i - at)) != SL_OK)
                return rc;
            if (hi < lo)
                return field_err(p, "\"%s\": the range goes backwards", tok);
        } else if (next == '/') {
            hi = f->max; /* a/s: from a to the end of the field */
        } else if (next == 'W' && f->kind == F_DOM && i + 1 == len) {
            if ((rc = need_glue(p, "W")) != SL_OK)
                return rc;
            out->w_days |= 1u << lo;
            return SL_OK;
        } else if (next == 'L' && f->kind == F_DOW && i + 1 == len) {
            if ((rc = need_glue(p, "L")) != SL_OK)
                return rc;
            out->last_vals |= (uint8_t)(1u << lo);
            return SL_OK;
        } else if (next == '#' && f->kind == F_DOW) {
            int k;
            if ((rc = need_glue(p, "#")) != SL_OK)
                return rc;
            if (p->glue_only)
                return field_err(p, "\"%s\": \"#\" is not part of Glue's cron syntax", tok);
            i++;
            if (!read_number(s, len, &i, &k) || i != len)
                return field_err(p, "\"%s\": \"#\" needs a week number 1-5", tok);
            if (k < 1 || k > 5)
                return field_err(p, "\"%s\": week %d is out of range 1-5", tok, k);
            out->nth[k] |= (uint8_t)(1u << lo);
            return SL_OK;
        }
    }
    if (i < len && s[i] == '/') {
        i++;
        if (!read_number(s, len, &i, &step))
            return field_err(p, "\"%s\": \"/\" needs a step", tok);
        if (step < 1 || step > f->max)
            return field_err(p, "step %d is out of range 1-%d", step, f->max);
    }
    if (i != len)
        return field_err(p, "unexpected \"%s\"", tok);
    for (int v = lo; v <= hi; v += step)
        set_bit(out, v - f->min);
    return SL_OK;
}

static int parse_field(const struct parser *p, const char *s, size_t len, struct set *out)
{
    memset(out, 0, sizeof *out);
    if (len == 1 && s[0] == '?') {
        if (p->f->kind != F_DOM && p->f->kind != F_DOW)
            return field_err(p, "\"?\" is only allowed in day-of-month and day-of-week");
        int rc = need_glue(p, "?");
        if (rc != SL_OK)
            return rc;
        out->none = true;
        return SL_OK;
    }
    out->star = s[0] == '*';
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && s[i] != ',')
            continue;
        int rc = parse_element(p, s + start, i - start, out);
        if (rc != SL_OK)
            return rc;
        start = i + 1;
    }
    return SL_OK;
}

/* Weekday bit (0 = Sunday) of a day-of-week value in dialect d. */
static int dow_weekday(enum dialect d, int v)
{
    return d == DIALECT_GLUE ? v - 1 : v % 7;
}

static void build(struct sl_cron *c, const struct set sets[6])
{
    const struct field *fields = c->dialect == DIALECT_GLUE ? glue_fields : unix_fields;

    c->minutes = sets[0].bits[0] & ((UINT64_C(1) << 60) - 1);
    c->hours = (uint32_t)(sets[1].bits[0] & ((1u << 24) - 1));
    for (int d = 1; d <= 31; d++)
        if (has_bit(&sets[2], d - 1))
            c->dom |= 1u << d;
    c->dom_w = sets[2].w_days;
    c->dom_last = sets[2].last;
    c->dom_lw = sets[2].lw;
    c->dom_none = sets[2].none;
    c->dom_star = sets[2].star;
    for (int m = 1; m <= 12; m++)
        if (has_bit(&sets[3], m - 1))
            c->months |= (uint16_t)(1u << m);
    for (int v = fields[4].min; v <= fields[4].max; v++) {
        uint8_t w = (uint8_t)(1u << dow_weekday(c->dialect, v));
        if (has_bit(&sets[4], v - fields[4].min))
            c->dow |= w;
        if (sets[4].last_vals & (1u << v))
            c->dow_last |= w;
        for (int k = 1; k <= 5; k++)
            if (sets[4].nth[k] & (1u << v))
                c->dow_nth[k] |= w;
    }
    c->dow_none = sets[4].none;
    c->dow_star = sets[4].star;
    if (c->dialect == DIALECT_GLUE) {
        memcpy(c->years, sets[5].bits, sizeof c->years);
        c->year_min = GLUE_YEAR_MAX + 1;
        c->year_max = GLUE_YEAR_MIN - 1;
        for (int y = GLUE_YEAR_MIN; y <= GLUE_YEAR_MAX; y++)
            if (has_bit(&sets[5], y - GLUE_YEAR_MIN)) {
                if (y < c->year_min)
                    c->year_min = y;
                c->year_max = y;
            }
    }
}

static int parse(const char *text, bool glue_only, struct sl_cron **out, struct sl_err *err)
{
    const char *s = text;
    size_t len;
    bool wrapped = false;

    *out = NULL;
    if (!s)
        return sl_err_set(err, SL_EPARSE, "cron: no expression");
    len = strnlen(s, SL_CRON_TEXT_MAX + 1);
    if (len > SL_CRON_TEXT_MAX)
        return sl_err_set(err, SL_EPARSE, "cron: expression longer than %d bytes",
                          SL_CRON_TEXT_MAX);
    while (len > 0 && is_space(*s)) {
        s++;
        len--;
    }
    while (len > 0 && is_space(s[len - 1]))
        len--;
    if (len == 0)
        return sl_err_set(err, SL_EPARSE, "cron: empty expression");
    if (len >= 5 && memcmp(s, "rate(", 5) == 0)
        return sl_err_set(err, SL_EPARSE,
                          "cron: rate(...) expressions are not supported, only cron(...)");
    if (len >= 5 && memcmp(s, "cron(", 5) == 0) {
        if (s[len - 1] != ')')
            return sl_err_set(err, SL_EPARSE, "cron: missing \")\" at the end");
        wrapped = true;
        s += 5;
        len -= 6;
    } else if (glue_only) {
        return sl_err_set(err, SL_EPARSE,
                          "cron: expected cron(Minutes Hours Day-of-month Month Day-of-week Year)");
    }

    const char *tok[6];
    size_t tok_len[6], n_tok = 0;
    for (size_t i = 0; i < len;) {
        if (s[i] == ' ' || s[i] == '\t') {
            i++;
            continue;
        }
        size_t j = i;
        while (j < len && s[j] != ' ' && s[j] != '\t')
            j++;
        if (n_tok < 6) {
            tok[n_tok] = s + i;
            tok_len[n_tok] = j - i;
        }
        n_tok++;
        i = j;
    }
    enum dialect dialect;
    if (n_tok == 6) {
        dialect = DIALECT_GLUE;
    } else if (n_tok == 5 && !wrapped && !glue_only) {
        dialect = DIALECT_UNIX;
    } else if (wrapped || glue_only) {
        return sl_err_set(err, SL_EPARSE,
                          "cron: expected 6 fields (minutes hours day-of-month month "
                          "day-of-week year), got %zu",
                          n_tok);
    } else {
        return sl_err_set(err, SL_EPARSE,
                          "cron: expected 5 fields (minute hour day-of-month month day-of-week) "
                          "or 6 (minutes hours day-of-month month day-of-week year), got %zu",
                          n_tok);
    }

    struct set sets[6];
    struct parser p = {dialect, glue_only, 0, NULL, err};
    memset(sets, 0, sizeof sets);
    for (size_t k = 0; k < n_tok; k++) {
        p.no = (int)k + 1;
        p.f = dialect == DIALECT_GLUE ? &glue_fields[k] : &unix_fields[k];
        int rc = parse_field(&p, tok[k], tok_len[k], &sets[k]);
        if (rc != SL_OK)
            return rc;
    }
    if (dialect == DIALECT_GLUE && sets[2].none == sets[4].none)
        return sl_err_set(err, SL_EPARSE,
                          sets[2].none
                              ? "cron: day-of-month (field 3) and day-of-week (field 5) cannot "
                                "both be \"?\""
                              : "cron: one of day-of-month (field 3) and day-of-week (field 5) "
                                "must be \"?\"");

    struct sl_cron *c = sl_calloc(1, sizeof *c);
    if (!c)
        return sl_err_set(err, SL_ENOMEM, "cron: out of memory");
    c->dialect = dialect;
    build(c, sets);
    *out = c;
    return SL_OK;
}

int sl_cron_parse(const char *text, struct sl_cron **out, struct sl_err *err)
{
    return parse(text, false, out, err);
}

int sl_cron_parse_glue(const char *text, struct sl_cron **out, struct sl_err *err)
{
    return parse(text, true, out, err);
}

void sl_cron_free(struct sl_cron *c)
{
    sl_free(c);
}

/* ---- Matching on local civil time ---- */

/* Days of month m of year y (bit d) on which the expression fires. */
static uint32_t day_mask(const struct sl_cron *c, int y, int m)
{
    int md = month_days(y, m);
    uint32_t valid = ((1u << md) - 1) << 1;
    int wd1 = weekday_of_days(sl_date_to_days(y, m, 1));
    uint32_t dm = 0, wm = 0;

    if (!c->dom_none) {
        dm = c->dom & valid;
        if (c->dom_last)
            dm |= 1u << md;
        if (c->dom_lw) {
            int wd = (wd1 + md - 1) % 7;
            dm |= 1u << (md - (wd == 6 ? 1 : wd == 0 ? 2 : 0));
        }
        for (int n = 1; n <= md; n++) {
            if (!(c->dom_w >> n & 1))
                continue;
            /* nearest Monday-Friday, staying inside the month */
            int wd = (wd1 + n - 1) % 7, d = n;
            if (wd == 6)
                d = n == 1 ? 3 : n - 1;
            else if (wd == 0)
                d = n == md ? n - 2 : n + 1;
            dm |= 1u << d;
        }
    }
    if (!c->dow_none) {
        for (int d = 1; d <= md; d++) {
            int wd = (wd1 + d - 1) % 7;
            if ((c->dow >> wd & 1) || ((c->dow_last >> wd & 1) && d + 7 > md) ||
                (c->dow_nth[(d - 1) / 7 + 1] >> wd & 1))
                wm |= 1u << d;
        }
    }
    if (c->dialect == DIALECT_GLUE)
        return c->dom_none ? wm : dm;
    /* Unix cron: both restricted -> either; otherwise the restricted one */
    if (c->dom_star || c->dow_star)
        return dm & wm;
    return dm | wm;
}

static int next_bit32(uint32_t bits, int from)
{
    if (from > 31)
        return -1;
    bits >>= from;
    return bits ? from + __builtin_ctz(bits) : -1;
}

static int next_bit64(uint64_t bits, int from)
{
    if (from > 63)
        return -1;
    bits >>= from;
    return bits ? from + __builtin_ctzll(bits) : -1;
}

static bool year_ok(const struct sl_cron *c, int y)
{
    if (c->dialect == DIALECT_UNIX)
        return true;
    if (y < GLUE_YEAR_MIN || y > GLUE_YEAR_MAX)
        return false;
    int b = y - GLUE_YEAR_MIN;
    return (c->years[b >> 6] >> (b & 63)) & 1;
}

struct civil {
    int y, mo, d, h, mi;
};

static void civil_next_year(struct civil *t, int y)
{
    *t = (struct civil){y, 1, 1, 0, 0};
}

/* Moves *t to the first local minute at or after it that the expression
 * matches, field by field from the year down; each step only moves forward,
 * and fields past their end (month 13, day 32, hour 24, minute 60) carry
 * into the next larger one. False past year_max. */
static bool next_match(const struct sl_cron *c, struct civil *t, int year_max)
{
    for (;;) {
        if (t->y > year_max)
            return false;
        if (!year_ok(c, t->y)) {
            civil_next_year(t, t->y < c->year_min ? c->year_min : t->y + 1);
            continue;
        }
        int m = next_bit32(c->months, t->mo);
        if (m < 0) {
            civil_next_year(t, t->y + 1);
            continue;
        }
        if (m != t->mo)
            *t = (struct civil){t->y, m, 1, 0, 0};
        int d = next_bit32(day_mask(c, t->y, t->mo), t->d);
        if (d < 0) {
            *t = (struct civil){t->y, t->mo + 1, 1, 0, 0};
            continue;
        }
        if (d != t->d)
            *t = (struct civil){t->y, t->mo, d, 0, 0};
        int h = next_bit32(c->hours, t->h);
        if (h < 0) {
            *t = (struct civil){t->y, t->mo, t->d + 1, 0, 0};
            continue;
        }
        if (h != t->h)
            *t = (struct civil){t->y, t->mo, t->d, h, 0};
        int mi = next_bit64(c->minutes, t->mi);
        if (mi < 0) {
            *t = (struct civil){t->y, t->mo, t->d, t->h + 1, 0};
            continue;
        }
        t->mi = mi;
        return true;
    }
}

/* ---- Time zones ---- */

/* A POSIX TZ rule date: Jn (1-365, Feb 29 never counted), n (0-365) or
 * Mm.w.d, plus the local time of day of the change. */
struct rule_date {
    char kind; /* 'J', 'N' or 'M' */
    int a, b, c;
    int32_t secs; /* local time of day; may be negative or past 24h */
};

struct sl_cron_zone {
    int64_t *trans; /* UTC seconds, strictly ascending; owned */
    int32_t *offs;  /* UTC offset in effect from trans[i] on; owned */
    size_t n_trans;
    int32_t off0;  /* before trans[0] (RFC 8536: time type 0) */
    bool has_rule; /* the footer rule holds from the last transition on */
    bool has_dst;
    int32_t std_off, dst_off; /* seconds east of UTC */
    struct rule_date start, end;
};

#define ZONE_OFF_MAX  93600              /* seconds: |UTC offset| accepted, 26h (RFC 8536 §3.2) */
#define ZONE_TIME_LIM (INT64_C(1) << 59) /* |transition time| accepted */
#define ZONE_WINDOW   ZONE_OFF_MAX       /* instants that can show a local time lie this close */
#define ZONE_NEAR_MAX 16                 /* transitions looked at around one local time */

/* Local day (days since the epoch) of rule date r in year y. */
static int64_t rule_day(const struct rule_date *r, int y)
{
    int64_t jan1 = sl_date_to_days(y, 1, 1);
    if (r->kind == 'J')
        return jan1 + r->a - 1 + (is_leap(y) && r->a >= 60);
    if (r->kind == 'N')
        return jan1 + r->a;
    int wd1 = weekday_of_days(sl_date_to_days(y, r->a, 1));
    int d = 1 + (r->c - wd1 + 7) % 7 + 7 * (r->b - 1);
    while (d > month_days(y, r->a))
        d -= 7;
    return sl_date_to_days(y, r->a, d);
}

/* UTC instant of rule date r in year y; the rule's time is in the local time
 * in effect before the change. */
static int64_t rule_utc(const struct rule_date *r, int y, int32_t off_before)
{
    return rule_day(r, y) * 86400 + r->secs - off_before;
}

static int32_t rule_utoff(const struct sl_cron_zone *z, int64_t t)
{
    if (!z->has_dst)
        return z->std_off;
    int y = year_of(t + z->std_off);
    int64_t best = INT64_MIN;
    int32_t off = z->std_off;
    /* The latest change at or before t wins; on a tie the start of DST does
     * (a rule ending DST where the next year's begins is all-year DST). */
    for (int yy = y - 1; yy <= y + 1; yy++) {
        int64_t e = rule_utc(&z->end, yy, z->dst_off);
        int64_t s = rule_utc(&z->start, yy, z->std_off);
        if (e <= t && e > best) {
            best = e;
            off = z->std_off;
        }
        if (s <= t && s >= best) {
            best = s;
            off = z->dst_off;
        }
    }
    return off;
}

int32_t sl_cron_zone_utoff(const struct sl_cron_zone *z, int64_t t)
{
    if (!z)
        return 0;
    size_t n = z->n_trans;
    if (n == 0)
        return z->has_rule ? rule_utoff(z, t) : z->off0;
    if (t < z->trans[0])
        return z->off0;
    if (t >= z->trans[n - 1])
        return z->has_rule ? rule_utoff(z, t) : z->offs[n - 1];
    size_t lo = 0, hi = n - 1; /* trans[lo] <= t < trans[hi] */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (z->trans[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    return z->offs[lo];
}

static void insert_sorted(int64_t *ts, size_t *n, size_t cap, int64_t t)
{
    size_t i = *n;
    for (size_t k = 0; k < *n; k++)
        if (ts[k] == t)
            return;
    if (*n == cap)
        return;
    while (i > 0 && ts[i - 1] > t) {
        ts[i] = ts[i - 1];
        i--;
    }
    ts[i] = t;
    (*n)++;
}

/* Offset changes in (lo, hi], ascending, at most cap of them. */
static size_t zone_changes(const struct sl_cron_zone *z, int64_t lo, int64_t hi, int64_t *ts,
                           size_t cap)
{
    size_t n = 0, a = 0, b = z->n_trans;
    while (a < b) { /* first transition after lo */
        size_t mid = a + (b - a) / 2;
        if (z->trans[mid] <= lo)
            a = mid + 1;
        else
            b = mid;
    }
    for (size_t i = a; i < z->n_trans && z->trans[i] <= hi; i++)
        insert_sorted(ts, &n, cap, z->trans[i]);
    if (z->has_rule && z->has_dst) {
        int64_t last = z->n_trans ? z->trans[z->n_trans - 1] : INT64_MIN;
        for (int y = year_of(lo) - 1; y <= year_of(hi) + 1; y++) {
            int64_t e = rule_utc(&z->end, y, z->dst_off);
            int64_t s = rule_utc(&z->start, y, z->std_off);
            if (e > lo && e <= hi && e > last)
                insert_sorted(ts, &n, cap, e);
            if (s > lo && s <= hi && s > last)
                insert_sorted(ts, &n, cap, s);
        }
    }
    return n;
}

/* The instant (UTC seconds) at which local time L (seconds, local clock
 * read as if it were UTC) fires: its first occurrence when the clock shows
 * it once or twice; the end of the gap when the clock skips it. The result
 * never decreases as L grows, and lies within ZONE_WINDOW of L. */
static int64_t local_to_utc(const struct sl_cron_zone *z, int64_t L)
{
    if (!z)
        return L;
    int64_t lo = L - ZONE_WINDOW, hi = L + ZONE_WINDOW;
    int64_t ts[ZONE_NEAR_MAX];
    size_t n = zone_changes(z, lo, hi, ts, ZONE_NEAR_MAX);
    int32_t offs[ZONE_NEAR_MAX + 1];
    offs[0] = sl_cron_zone_utoff(z, lo);
    for (size_t i = 0; i < n; i++)
        offs[i + 1] = sl_cron_zone_utoff(z, ts[i]);
    bool found = false;
    int64_t best = 0;
    for (size_t i = 0; i <= n; i++) {
        int64_t t = L - offs[i];
        if (sl_cron_zone_utoff(z, t) == offs[i] && (!found || t < best)) {
            best = t;
            found = true;
        }
    }
    if (found)
        return best;
    for (size_t i = 0; i < n; i++) /* a gap: the change that jumps over L */
        if (ts[i] + sl_cron_zone_utoff(z, ts[i] - 1) <= L && L < ts[i] + offs[i + 1])
            return ts[i];
    return L - offs[0]; /* inconsistent zone data: any nearby instant */
}

/* ---- POSIX TZ rule (the TZif footer) ---- */

/* [+-]hh[:mm[:ss]] with hh up to max_h; seconds, sign as written. */
static bool tz_hms(const char **sp, int max_h, int32_t *out)
{
    const char *s = *sp;
    int sign = 1, part[3] = {0, 0, 0};
    if (*s == '+' || *s == '-')
        sign = *s++ == '-' ? -1 : 1;
    for (int k = 0; k < 3; k++) {
        if (k > 0) {
            if (*s != ':')
                break;
            s++;
        }
        if (!is_digit(*s))
            return false;
        int v = 0, digits = 0;
        while (is_digit(*s) && digits < 3) {
            v = v * 10 + (*s++ - '0');
            digits++;
        }
        if (is_digit(*s) || (k > 0 && v > 59) || (k == 0 && v > max_h))
            return false;
        part[k] = v;
    }
    *out = sign * (part[0] * 3600 + part[1] * 60 + part[2]);
    *sp = s;
    return true;
}

static bool tz_name(const char **sp)
{
    const char *s = *sp;
    size_t n = 0;
    if (*s == '<') {
        s++;
        while ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || is_digit(*s) || *s == '+' ||
               *s == '-') {
            s++;
            n++;
        }
        if (*s != '>' || n < 3)
            return false;
        *sp = s + 1;
        return true;
    }
    while ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z')) {
        s++;
        n++;
    }
    if (n < 3)
        return false;
    *sp = s;
    return true;
}

static bool tz_int(const char **sp, int lo, int hi, int *v)
{
    const char *s = *sp;
    int x = 0, digits = 0;
    while (is_digit(*s) && digits < 4) {
        x = x * 10 + (*s++ - '0');
        digits++;
    }
    if (digits == 0 || is_digit(*s) || x < lo || x > hi)
        return false;
    *v = x;
    *sp = s;
    return true;
}

static bool tz_date(const char **sp, struct rule_date *r)
{
    const char *s = *sp;
    memset(r, 0, sizeof *r);
    if (*s == 'J') {
        s++;
        r->kind = 'J';
        if (!tz_int(&s, 1, 365, &r->a))
            return false;
    } else if (*s == 'M') {
        s++;
        r->kind = 'M';
        if (!tz_int(&s, 1, 12, &r->a) || *s++ != '.' || !tz_int(&s, 1, 5, &r->b) || *s++ != '.' ||
            !tz_int(&s, 0, 6, &r->c))
            return false;
    } else {
        r->kind = 'N';
        if (!tz_int(&s, 0, 365, &r->a))
            return false;
    }
    r->secs = 2 * 3600;
    if (*s == '/') {
        s++;
        if (!tz_hms(&s, 167, &r->secs)) /* RFC 8536 §3.3.1 allows -167..167 hours */
            return false;
    }
    *sp = s;
    return true;
}

/* std offset [dst [offset] [,start[/time],end[/time]]]; "" means no rule. */
static bool tz_rule_parse(struct sl_cron_zone *z, const char *s)
{
    int32_t v;
    if (*s == '\0')
        return true;
    if (!tz_name(&s) || !tz_hms(&s, 24, &v))
        return false;
    z->std_off = -v; /* POSIX offsets count west */
    z->dst_off = z->std_off + 3600;
    z->has_rule = true;
    if (*s == '\0')
        return true;
    if (!tz_name(&s))
        return false;
    z->has_dst = true;
    if (*s != ',' && *s != '\0') {
        if (!tz_hms(&s, 24, &v))
            return false;
        z->dst_off = -v;
    }
    if (*s == '\0') { /* no dates: the US rule, as POSIX implementations default */
        z->start = (struct rule_date){'M', 3, 2, 0, 7200};
        z->end = (struct rule_date){'M', 11, 1, 0, 7200};
        return true;
    }
    if (*s++ != ',' || !tz_date(&s, &z->start) || *s++ != ',' || !tz_date(&s, &z->end))
        return false;
    return *s == '\0';
}

/* ---- TZif (RFC 8536) ---- */

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64s(const uint8_t *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

struct tzif_counts {
    uint64_t isut, isstd, leap, time, type, chars;
};

static void tzif_counts(const uint8_t *h, struct tzif_counts *k)
{
    k->isut = be32(h + 20);
    k->isstd = be32(h + 24);
    k->leap = be32(h + 28);
    k->time = be32(h + 32);
    k->type = be32(h + 36);
    k->chars = be32(h + 40);
}

static uint64_t tzif_block_len(const struct tzif_counts *k, unsigned tsize)
{
    return k->time * tsize + k->time + k->type * 6 + k->chars + k->leap * (tsize + 4) + k->isstd +
           k->isut;
}

static int zone_err(struct sl_err *err, const char *why)
{
    return sl_err_set(err, SL_ECONFIG, "malformed TZif data: %s", why);
}

void sl_cron_zone_free(struct sl_cron_zone *z)
{
    if (!z)
        return;
    sl_free(z->trans);
    sl_free(z->offs);
    sl_free(z);
}

int sl_cron_zone_parse(const void *data, size_t data_len, struct sl_cron_zone **out,
                       struct sl_err *err)
{
    const uint8_t *p = data;
    struct tzif_counts k;
    const uint8_t *blk;
    unsigned tsize = 4;
    uint64_t len = data_len, blk_len;
    const char *footer = NULL;
    size_t footer_len = 0;

    *out = NULL;
    if (len < 44 || memcmp(p, "TZif", 4) != 0)
        return zone_err(err, "no TZif header");
    tzif_counts(p, &k);
    blk_len = tzif_block_len(&k, 4);
    if (blk_len > len - 44)
        return zone_err(err, "truncated");
    blk = p + 44;
    if (p[4] >= '2') { /* skip the 32-bit data to the 64-bit header */
        const uint8_t *h2 = blk + blk_len;
        uint64_t rest = len - 44 - blk_len;
        if (rest < 44 || memcmp(h2, "TZif", 4) != 0)
            return zone_err(err, "no second header");
        tzif_counts(h2, &k);
        tsize = 8;
        blk_len = tzif_block_len(&k, 8);
        if (blk_len > rest - 44)
            return zone_err(err, "truncated");
        blk = h2 + 44;
        const char *f = (const char *)(blk + blk_len);
        size_t f_len = (size_t)(rest - 44 - blk_len);
        if (f_len < 2 || f[0] != '\n')
            return zone_err(err, "no footer");
        const char *nl = memchr(f + 1, '\n', f_len - 1);
        if (!nl)
            return zone_err(err, "unterminated footer");
        footer = f + 1;
        footer_len = (size_t)(nl - footer);
    }
    if (k.type == 0 || k.type > 256)
        return zone_err(err, "bad number of time types");
    if ((k.isut != 0 && k.isut != k.type) || (k.isstd != 0 && k.isstd != k.type))
        return zone_err(err, "bad indicator counts");
    if (k.leap != 0)
        return sl_err_set(err, SL_ECONFIG,
                          "zones with leap seconds (\"right/\") are not supported");

    const uint8_t *times = blk, *idx = blk + k.time * tsize, *types = idx + k.time;
    int32_t type_off[256];
    for (uint64_t i = 0; i < k.type; i++) {
        int32_t off = (int32_t)be32(types + 6 * i);
        if (off < -ZONE_OFF_MAX || off > ZONE_OFF_MAX)
            return zone_err(err, "UTC offset out of range");
        if (types[6 * i + 4] > 1 || (k.chars && types[6 * i + 5] >= k.chars))
            return zone_err(err, "bad time type");
        type_off[i] = off;
    }

    struct sl_cron_zone *z = sl_calloc(1, sizeof *z);
    if (!z)
        goto nomem;
    z->off0 = type_off[0];
    if (k.time > 0) {
        z->trans = sl_calloc((size_t)k.time, sizeof *z->trans);
        z->offs = sl_calloc((size_t)k.time, sizeof *z->offs);
        if (!z->trans || !z->offs)
            goto nomem;
    }
    for (uint64_t i = 0; i < k.time; i++) {
        int64_t t = tsize == 8 ? be64s(times + 8 * i) : (int64_t)(int32_t)be32(times + 4 * i);
        if (t < -ZONE_TIME_LIM || t > ZONE_TIME_LIM || (i > 0 && t <= z->trans[i - 1])) {
            sl_cron_zone_free(z);
            return zone_err(err, "transition times out of order or range");
        }
        if (idx[i] >= k.type) {
            sl_cron_zone_free(z);
            return zone_err(err, "bad time type index");
        }
        z->trans[i] = t;
        z->offs[i] = type_off[idx[i]];
    }
    z->n_trans = (size_t)k.time;
    if (footer) {
        char rule[128];
        if (footer_len >= sizeof rule || memchr(footer, '\0', footer_len)) {
            sl_cron_zone_free(z);
            return zone_err(err, "bad TZ rule in the footer");
        }
        memcpy(rule, footer, footer_len);
        rule[footer_len] = '\0';
        if (!tz_rule_parse(z, rule)) {
            char shown[200];
            show(shown, sizeof shown, footer, footer_len);
            sl_cron_zone_free(z);
            return sl_err_set(err, SL_ECONFIG, "malformed TZif data: bad TZ rule \"%s\"", shown);
        }
    }
    *out = z;
    return SL_OK;
nomem:
    sl_cron_zone_free(z);
    return sl_err_set(err, SL_ENOMEM, "time zone: out of memory");
}

static bool zone_name_ok(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > 255 || name[0] == '/')
        return false;
    for (size_t i = 0; i < len; i++) {
        char ch = name[i];
        bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || is_digit(ch) ||
                  ch == '/' || ch == '_' || ch == '+' || ch == '-' || ch == '.';
        if (!ok)
            return false;
        /* no ".", ".." or hidden components, no empty ones */
        if ((i == 0 || name[i - 1] == '/') && (ch == '.' || ch == '/'))
            return false;
    }
    return name[len - 1] != '/';
}

int sl_cron_zone_load(const char *name, struct sl_cron_zone **out, struct sl_err *err)
{
    char shown[300], path[4096];
    uint8_t *buf = NULL;
    int fd = -1, rc;
    struct stat st;

    *out = NULL;
    if (!name || strcmp(name, "UTC") == 0)
        return SL_OK;
    show(shown, sizeof shown, name, strlen(name));
    if (!zone_name_ok(name))
        return sl_err_set(err, SL_ECONFIG, "time zone \"%s\": not a zone name", shown);
    const char *dir = getenv("TZDIR");
    if (!dir || !*dir)
        dir = "/usr/share/zoneinfo";
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path)
        return sl_err_set(err, SL_ECONFIG, "time zone \"%s\": path too long", shown);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT || e == ENOTDIR)
            return sl_err_set(err, SL_ECONFIG, "unknown time zone \"%s\"", shown);
        return sl_err_sys(err, SL_EIO, e, "time zone \"%s\": cannot open %s", shown, path);
    }
    if (fstat(fd, &st) != 0) {
        rc = sl_err_sys(err, SL_EIO, errno, "time zone \"%s\": cannot stat %s", shown, path);
        goto done;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = sl_err_set(err, SL_ECONFIG, "unknown time zone \"%s\"", shown);
        goto done;
    }
    if (st.st_size > (off_t)SL_CRON_ZONE_FILE_MAX) {
        rc = sl_err_set(err, SL_ECONFIG, "time zone \"%s\": %s is larger than %u bytes", shown,
                        path, SL_CRON_ZONE_FILE_MAX);
        goto done;
    }
    size_t want = (size_t)st.st_size, got = 0;
    buf = sl_alloc(want ? want : 1);
    if (!buf) {
        rc = sl_err_set(err, SL_ENOMEM, "time zone \"%s\": out of memory", shown);
        goto done;
    }
    while (got < want) {
        ssize_t r = read(fd, buf + got, want - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = sl_err_sys(err, SL_EIO, errno, "time zone \"%s\": cannot read %s", shown, path);
            goto done;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    rc = sl_cron_zone_parse(buf, got, out, err);
    if (rc != SL_OK)
        sl_err_prefix(err, "time zone \"%s\" (%s)", shown, path);
done:
    sl_free(buf);
    close(fd);
    return rc;
}

/* ---- Fire times ---- */

/*
 * The search works on local wall-clock minutes. local_to_utc() maps each
 * local minute to the instant it fires at (first occurrence; end of a gap),
 * and that map never decreases. The wall clock at after_ms itself fires at
 * or before after_ms under that map, and so does every earlier local time.
 * So: start at the local minute containing after_ms, walk the matching local
 * minutes upwards, and the first one whose instant is after after_ms is the
 * answer. Only minutes inside a repeated hour (or a gap collapsing onto an
 * instant already used) are passed over, and since the instant of local time
 * L lies within ZONE_WINDOW of L the walk ends within about two days of
 * local time past after_ms even on inconsistent zone data.
 */

/* 0001-01-01T00:00 and 10000-01-01T00:00 as seconds */
#define LOCAL_MIN INT64_C(-62135596800)
#define LOCAL_END INT64_C(253402300800)

static int next_in_zone(const struct sl_cron *c, int64_t after_ms, const struct sl_cron_zone *z,
                        int64_t *next_ms)
{
    int64_t floor_ms = (LOCAL_MIN - 2 * 86400) * 1000;
    if (after_ms < floor_ms) /* nothing fires before year 1: same answer */
        after_ms = floor_ms;
    int64_t after_s = floor_div(after_ms, 1000);
    if (after_s >= LOCAL_END)
        return SL_ENOTFOUND;
    int64_t local = after_s + sl_cron_zone_utoff(z, after_s);
    struct civil t = {1, 1, 1, 0, 0};
    if (local >= LOCAL_END)
        return SL_ENOTFOUND;
    if (local >= LOCAL_MIN) {
        int64_t days = floor_div(local, 86400), sec = local - days * 86400;
        sl_days_to_date(days, &t.y, &t.mo, &t.d);
        t.h = (int)(sec / 3600);
        t.mi = (int)(sec / 60 % 60);
    }
    int year_max;
    if (c->dialect == DIALECT_GLUE)
        year_max = c->year_max;
    else
        year_max = t.y > EVAL_YEAR_MAX - UNIX_HORIZON ? EVAL_YEAR_MAX : t.y + UNIX_HORIZON;
    for (;;) {
        if (!next_match(c, &t, year_max))
            return SL_ENOTFOUND;
        int64_t L = sl_date_to_days(t.y, t.mo, t.d) * 86400 + t.h * 3600 + t.mi * 60;
        int64_t f = local_to_utc(z, L);
        if (f >= LOCAL_END)
            return SL_ENOTFOUND;
        if (f * 1000 > after_ms) {
            *next_ms = f * 1000;
            return SL_OK;
        }
        t.mi++;
    }
}

int sl_cron_next_in_zone(const struct sl_cron *c, int64_t after_ms, const struct sl_cron_zone *z,
                         int64_t *next_ms, struct sl_err *err)
{
    int rc = next_in_zone(c, after_ms, z, next_ms);
    if (rc == SL_ENOTFOUND) {
        char when[40];
        fmt_iso(when, sizeof when, after_ms);
        return sl_err_set(err, SL_ENOTFOUND, "cron: never fires after %s", when);
    }
    return rc;
}

int sl_cron_between_in_zone(const struct sl_cron *c, int64_t from_ms, int64_t to_ms,
                            const struct sl_cron_zone *z, int64_t *out, size_t max, size_t *n,
                            struct sl_err *err)
{
    int64_t cur = from_ms, f;
    *n = 0;
    while (cur < to_ms) {
        int rc = next_in_zone(c, cur, z, &f);
        if (rc == SL_ENOTFOUND || (rc == SL_OK && f > to_ms))
            break;
        if (rc != SL_OK)
            return rc;
        if (*n == max) {
            char a[40], b[40];
            fmt_iso(a, sizeof a, from_ms);
            fmt_iso(b, sizeof b, to_ms);
            return sl_err_set(err, SL_ELIMIT, "cron: more than %zu fire times in (%s, %s]", max, a,
                              b);
        }
        out[(*n)++] = f;
        cur = f;
    }
    return SL_OK;
}

int sl_cron_next(const struct sl_cron *c, int64_t after_ms, const char *tz, int64_t *next_ms,
                 struct sl_err *err)
{
    struct sl_cron_zone *z = NULL;
    int rc = sl_cron_zone_load(tz, &z, err);
    if (rc == SL_OK)
        rc = sl_cron_next_in_zone(c, after_ms, z, next_ms, err);
    sl_cron_zone_free(z);
    return rc;
}

int sl_cron_between(const struct sl_cron *c, int64_t from_ms, int64_t to_ms, const char *tz,
                    int64_t *out, size_t max, size_t *n, struct sl_err *err)
{
    struct sl_cron_zone *z = NULL;
    int rc = sl_cron_zone_load(tz, &z, err);
    *n = 0;
    if (rc == SL_OK)
        rc = sl_cron_between_in_zone(c, from_ms, to_ms, z, out, max, n, err);
    sl_cron_zone_free(z);
    return rc;
}
