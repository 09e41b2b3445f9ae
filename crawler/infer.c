/*
 * crawler/infer.c - recognisers for text values and the per-column
 * accumulator of spec/crawler.md §7.2-§7.3 (see infer.h). The guiding rule is
 * "no silent data damage": anything a reader could not turn back into the
 * exact source text (leading zeros, '+', separators, guessed day/month order)
 * stays a string.
 */
#include "crawler/infer.h"

#include <stdio.h>
#include <string.h>

#define MAX_DECIMAL_DIGITS 38 /* Hive/Glue decimal limit; longer integers are strings */

/* ---- Configuration ---- */

int sl_infer_cfg_init(struct sl_infer_cfg *cfg, const struct sl_crawl_opts *opts, char delimiter,
                      struct sl_err *err)
{
    struct sl_crawl_opts defaults;
    if (!opts) {
        sl_crawl_opts_default(&defaults);
        opts = &defaults;
    }
    memset(cfg, 0, sizeof *cfg);
    cfg->tokens = opts->null_tokens;
    for (size_t i = 0; opts->null_tokens && opts->null_tokens[i]; i++) {
        if (i >= SL_INFER_MAX_TOKENS)
            return sl_err_set(err, SL_ECONFIG, "null_tokens: at most %d tokens",
                              SL_INFER_MAX_TOKENS);
        cfg->token_len[i] = strlen(opts->null_tokens[i]);
        cfg->n_tokens = i + 1;
    }
    /* the options as configured must make sense; the data never makes them fail */
    cfg->decimal_sep = opts->csv_decimal_separator ? opts->csv_decimal_separator : '.';
    if (cfg->decimal_sep != '.' && cfg->decimal_sep != ',')
        return sl_err_set(err, SL_ECONFIG, "csv.decimal_separator must be \".\" or \",\"");
    cfg->thousands_sep = opts->csv_thousands_separator;
    if (cfg->thousands_sep && (cfg->thousands_sep == cfg->decimal_sep ||
                               (cfg->thousands_sep >= '0' && cfg->thousands_sep <= '9')))
        return sl_err_set(err, SL_ECONFIG,
                          "csv.thousands_separator must differ from the decimal separator");
    if (cfg->decimal_sep == ',' && delimiter == ',') {
        cfg->decimal_sep = '.'; /* §7.2: a comma decimal needs another delimiter */
        if (cfg->thousands_sep == '.')
            cfg->thousands_sep = 0; /* "1.234" would be ambiguous; no grouping then */
    }
    cfg->date_order = opts->csv_date_order;
    cfg->infer_decimal = opts->csv_infer_decimal;
    return SL_OK;
}

/* ---- Helpers ---- */

static void trim(const char **p, size_t *len)
{
    const char *s = *p;
    size_t n = *len;
    while (n && (s[0] == ' ' || s[0] == '\t')) {
        s++;
        n--;
    }
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    *p = s;
    *len = n;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Case-insensitive equality with a lowercase literal. */
static bool ieq(const char *p, size_t len, const char *lit)
{
    size_t n = strlen(lit);
    if (n != len)
        return false;
    for (size_t i = 0; i < n; i++)
        if (lower(p[i]) != lit[i])
            return false;
    return true;
}

static int find_token(const struct sl_infer_cfg *cfg, const char *p, size_t len)
{
    for (size_t i = 0; i < cfg->n_tokens; i++)
        if (cfg->token_len[i] == len && memcmp(cfg->tokens[i], p, len) == 0)
            return (int)i;
    return -1;
}

int sl_infer_null_token(const struct sl_infer_cfg *cfg, const char *p, size_t len)
{
    trim(&p, &len);
    return find_token(cfg, p, len);
}

/* ---- Numbers ---- */

static uint8_t cap255(size_t n)
{
    return n > 255 ? 255 : (uint8_t)n;
}

/* Integer digits d[0..n) (no sign, no leading zero unless "0") within int64? */
static bool fits_int64(const char *d, size_t n, bool neg)
{
    static const char max_pos[] = "9223372036854775807";
    static const char max_neg[] = "9223372036854775808";
    if (n < 19)
        return true;
    if (n > 19)
        return false;
    return memcmp(d, neg ? max_neg : max_pos, 19) <= 0;
}

/* §7.2 bigint / double / decimal and the never-numeric traps. Returns
 * SL_INFER_STRING when p is not a number. The digits of a thousands-grouped
 * integer are copied into 'digits' to check the int64 range. */
static enum sl_infer_class classify_number(const struct sl_infer_cfg *cfg, const char *p,
                                           size_t len, struct sl_infer_value *v)
{
    size_t i = 0;
    bool neg = false;
    char digits[48];
    size_t n_digits = 0;

    if (len && p[0] == '-') {
        neg = true;
        i = 1;
    }
    size_t int_start = i;
    while (i < len && is_digit(p[i])) {
        if (n_digits < sizeof digits)
            digits[n_digits] = p[i];
        n_digits++;
        i++;
    }
    /* thousands groups: 1-3 digits, then groups of exactly 3 */
    if (cfg->thousands_sep && i < len && p[i] == cfg->thousands_sep && n_digits >= 1 &&
        n_digits <= 3) {
        while (i < len && p[i] == cfg->thousands_sep) {
            if (i + 4 > len || !is_digit(p[i + 1]) || !is_digit(p[i + 2]) || !is_digit(p[i + 3]))
                return SL_INFER_STRING;
            for (int k = 1; k <= 3; k++) {
                if (n_digits < sizeof digits)
                    digits[n_digits] = p[i + k];
                n_digits++;
            }
            i += 4;
        }
        if (i < len && is_digit(p[i]))
            return SL_INFER_STRING; /* a group of 4 or more */
    }
    size_t int_digits = n_digits;
    /* a zero followed by another digit is not a number (007, 00501, 01.5) */
    if (int_digits > 1 && p[int_start] == '0')
        return SL_INFER_STRING;

    bool point = false;
    size_t frac = 0;
    if (i < len && p[i] == cfg->decimal_sep) {
        point = true;
        i++;
        while (i < len && is_digit(p[i])) {
            frac++;
            i++;
        }
    }
    if (int_digits == 0 && frac == 0)
        return SL_INFER_STRING;
    bool exponent = false;
    if (i < len && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        if (i < len && (p[i] == '+' || p[i] == '-'))
            i++;
        size_t e_start = i;
        while (i < len && is_digit(p[i]))
            i++;
        if (i == e_start)
            return SL_INFER_STRING;
        exponent = true;
    }
    if (i != len)
        return SL_INFER_STRING;
    if (v) {
        v->int_digits = cap255(int_digits);
        v->frac_digits = cap255(frac);
        v->exponent = exponent;
    }
    if (point || exponent)
        return SL_INFER_DOUBLE;
    if (fits_int64(digits, int_digits, neg))
        return SL_INFER_BIGINT;
    if (int_digits <= MAX_DECIMAL_DIGITS)
        return SL_INFER_BIGDEC;
    return SL_INFER_STRING;
}

static bool is_naninf(const char *p, size_t len)
{
    return ieq(p, len, "nan") || ieq(p, len, "infinity") || ieq(p, len, "-infinity") ||
           ieq(p, len, "inf") || ieq(p, len, "-inf");
}

static bool is_boolean(const char *p, size_t len)
{
    return ieq(p, len, "true") || ieq(p, len, "false") || ieq(p, len, "t") || ieq(p, len, "f") ||
           ieq(p, len, "yes") || ieq(p, len, "no");
}

/* ---- Dates and timestamps ---- */

static bool leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static bool valid_date(int y, int m, int d)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1 || y > 9999 || m < 1 || m > 12 || d < 1)
        return false;
    int n = mdays[m - 1] + (m == 2 && leap(y));
    return d <= n;
}

/* Reads min..max digits at p[*i]; the value or -1. */
static int read_digits(const char *p, size_t len, size_t *i, int min, int max)
{
    int n = 0, v = 0;
    while (*i < len && n < max && is_digit(p[*i])) {
        v = v * 10 + (p[*i] - '0');
        (*i)++;
        n++;
    }
    if (n < min || (*i < len && is_digit(p[*i])))
        return -1;
    return v;
}

/* Reads exactly n digits at p[*i]; the value or -1. */
static int read_exact(const char *p, size_t len, size_t *i, int n)
{
    int v = 0;
    for (int k = 0; k < n; k++) {
        if (*i >= len || !is_digit(p[*i]))
            return -1;
        v = v * 10 + (p[*i] - '0');
        (*i)++;
    }
    return v;
}

/* Parses the date at the start of p; returns the patterns it fits (0 if none)
 * and sets *end to the index after it. */
static uint16_t parse_date(const char *p, size_t len, size_t *end)
{
    size_t i = 0;
    int a = read_digits(p, len, &i, 1, 4);
    if (a < 0 || i >= len)
        return 0;
    char sep = p[i];
    if (sep != '-' && sep != '/' && sep != '.')
        return 0;
    if (i == 4) { /* year first */
        bool iso = sep == '-';
        i++;
        int m = read_digits(p, len, &i, iso ? 2 : 1, 2);
        if (m < 0 || i >= len || p[i] != sep)
            return 0;
        i++;
        int d = read_digits(p, len, &i, iso ? 2 : 1, 2);
        if (d < 0 || !valid_date(a, m, d))
            return 0;
        *end = i;
        return sep == '-'   ? SL_INFER_DATE_ISO
               : sep == '/' ? SL_INFER_DATE_YMD_SLASH
                            : SL_INFER_DATE_YMD_DOT;
    }
    if (i > 2)
        return 0;
    i++;
    int b = read_digits(p, len, &i, 1, 2);
    if (b < 0 || i >= len || p[i] != sep)
        return 0;
    i++;
    size_t ystart = i;
    int y = read_digits(p, len, &i, 4, 4);
    if (y < 0 || i - ystart != 4) /* two-digit years are never inferred */
        return 0;
    uint16_t mask = 0;
    if (valid_date(y, b, a)) /* day first */
        mask |= sep == '/'   ? SL_INFER_DATE_DMY_SLASH
                : sep == '-' ? SL_INFER_DATE_DMY_DASH
                             : SL_INFER_DATE_DMY_DOT;
    if (valid_date(y, a, b)) /* month first */
        mask |= sep == '/'   ? SL_INFER_DATE_MDY_SLASH
                : sep == '-' ? SL_INFER_DATE_MDY_DASH
                             : SL_INFER_DATE_MDY_DOT;
    *end = i;
    return mask;
}

/* After a date: 'T' or ' ', HH:MM[:SS[.f{1,9}]], [ AM| PM] (non-ISO dates),
 * [Z | +HH | +HHMM | +HH:MM]. Returns false when the rest is not a time. */
static bool parse_time(const char *p, size_t len, size_t i, bool iso, uint8_t *flags)
{
    uint8_t f = 0;
    if (i >= len || (p[i] != 'T' && p[i] != ' '))
        return false;
    if (p[i] == 'T')
        f |= SL_INFER_TS_T;
    i++;
    int hh = read_digits(p, len, &i, iso ? 2 : 1, 2);
    if (hh < 0 || hh > 23 || i >= len || p[i] != ':')
        return false;
    i++;
    int mm = read_digits(p, len, &i, 2, 2);
    if (mm < 0 || mm > 59)
        return false;
    if (i < len && p[i] == ':') {
        i++;
        int ss = read_digits(p, len, &i, 2, 2);
        if (ss < 0 || ss > 59)
            return false;
        f |= SL_INFER_TS_SECONDS;
        if (i < len && p[i] == '.') {
            i++;
            size_t start = i;
            while (i < len && is_digit(p[i]))
                i++;
            if (i == start || i - start > 9)
                return false;
            f |= SL_INFER_TS_FRACTION;
        }
    }
    if (!iso && i + 3 <= len && p[i] == ' ' && (lower(p[i + 1]) == 'a' || lower(p[i + 1]) == 'p') &&
        lower(p[i + 2]) == 'm') {
        if (hh < 1 || hh > 12)
            return false;
        f |= SL_INFER_TS_AMPM;
        i += 3;
    }
    if (i < len) {
        if (p[i] == 'Z' || p[i] == 'z') {
            i++;
        } else if (p[i] == '+' || p[i] == '-') {
            i++;
            int zh = read_exact(p, len, &i, 2);
            if (zh < 0 || zh > 23)
                return false;
            if (i < len) {
                if (p[i] == ':')
                    i++;
                int zm = read_exact(p, len, &i, 2);
                if (zm < 0 || zm > 59)
                    return false;
            }
        } else {
            return false;
        }
        f |= SL_INFER_TS_ZONED;
    }
    if (i != len)
        return false;
    *flags = f;
    return true;
}

static enum sl_infer_class classify_temporal(const char *p, size_t len, struct sl_infer_value *v)
{
    size_t end = 0;
    uint16_t mask = parse_date(p, len, &end);
    if (!mask)
        return SL_INFER_STRING;
    if (end == len) {
        if (v)
            v->date_mask = mask;
        return SL_INFER_DATE;
    }
    uint8_t flags = 0;
    if (!parse_time(p, len, end, mask == SL_INFER_DATE_ISO, &flags))
        return SL_INFER_STRING;
    if (v) {
        v->date_mask = mask;
        v->ts_flags = flags;
    }
    return SL_INFER_TIMESTAMP;
}

const char *sl_infer_date_format(unsigned bit)
{
    switch (bit) {
    case SL_INFER_DATE_ISO: return "%Y-%m-%d";
    case SL_INFER_DATE_YMD_SLASH: return "%Y/%m/%d";
    case SL_INFER_DATE_YMD_DOT: return "%Y.%m.%d";
    case SL_INFER_DATE_DMY_SLASH: return "%d/%m/%Y";
    case SL_INFER_DATE_MDY_SLASH: return "%m/%d/%Y";
    case SL_INFER_DATE_DMY_DASH: return "%d-%m-%Y";
    case SL_INFER_DATE_MDY_DASH: return "%m-%d-%Y";
    case SL_INFER_DATE_DMY_DOT: return "%d.%m.%Y";
    case SL_INFER_DATE_MDY_DOT: return "%m.%d.%Y";
    default: return "";
    }
}

/* ---- One value ---- */

enum sl_infer_class sl_infer_classify(const struct sl_infer_cfg *cfg, const char *p, size_t len,
                                      struct sl_infer_value *v)
{
    struct sl_infer_value tmp;
    if (!v)
        v = &tmp;
    memset(v, 0, sizeof *v);
    v->null_token = -1;
    trim(&p, &len);

    int tok = find_token(cfg, p, len);
    if (tok >= 0) {
        v->null_token = tok;
        return v->cls = SL_INFER_NULL;
    }
    if (len == 0)
        return v->cls = SL_INFER_STRING;
    char c = p[0];
    if (is_digit(c) || c == '-' || c == cfg->decimal_sep) {
        enum sl_infer_class k = classify_number(cfg, p, len, v);
        if (k != SL_INFER_STRING)
            return v->cls = k;
        if (c == '-' && is_naninf(p, len))
            return v->cls = SL_INFER_NANINF;
        if (is_digit(c))
            return v->cls = classify_temporal(p, len, v);
        return v->cls = SL_INFER_STRING;
    }
    if (len <= 9) { /* "infinity" is the longest word */
        if (is_boolean(p, len))
            return v->cls = SL_INFER_BOOLEAN;
        if (is_naninf(p, len))
            return v->cls = SL_INFER_NANINF;
    }
    return v->cls = SL_INFER_STRING;
}

bool sl_infer_is_typed_value(const struct sl_infer_cfg *cfg, const char *p, size_t len)
{
    enum sl_infer_class k = sl_infer_classify(cfg, p, len, NULL);
    return k != SL_INFER_STRING && k != SL_INFER_NULL;
}

/* ---- Columns ---- */

#define CLS(k) (1u << (k))
#define NUMERIC_CLASSES                                                                            \
    (CLS(SL_INFER_BIGINT) | CLS(SL_INFER_BIGDEC) | CLS(SL_INFER_DOUBLE) | CLS(SL_INFER_NANINF))
#define TEMPORAL_CLASSES (CLS(SL_INFER_DATE) | CLS(SL_INFER_TIMESTAMP))

void sl_infer_col_init(struct sl_infer_col *col, const struct sl_infer_cfg *cfg)
{
    memset(col, 0, sizeof *col);
    col->cfg = cfg;
    col->date_mask = SL_INFER_DATE_ALL;
    col->ts_and = 0xff;
}

void sl_infer_col_add_null(struct sl_infer_col *col)
{
    col->n_nulls++;
}

void sl_infer_col_add(struct sl_infer_col *col, const char *p, size_t len, bool quoted)
{
    struct sl_infer_value v;

    trim(&p, &len);
    if (len == 0 && quoted) { /* "" : NULL in typed columns, empty in string ones */
        col->n_nulls++;
        return;
    }
    enum sl_infer_class k = sl_infer_classify(col->cfg, p, len, &v);
    if (k == SL_INFER_NULL) {
        col->n_nulls++;
        col->tokens_seen |= (uint64_t)1 << v.null_token;
        return;
    }
    col->n_values++;
    col->classes |= CLS(k);
    switch (k) {
    case SL_INFER_BIGINT:
    case SL_INFER_BIGDEC:
    case SL_INFER_DOUBLE:
        if (v.int_digits > col->max_int_digits)
            col->max_int_digits = v.int_digits;
        if (v.frac_digits > col->max_frac_digits)
            col->max_frac_digits = v.frac_digits;
        if (k == SL_INFER_BIGDEC && v.int_digits > col->max_big_digits)
            col->max_big_digits = v.int_digits;
        col->any_exponent |= v.exponent;
        break;
    case SL_INFER_DATE:
        col->date_mask &= v.date_mask;
        col->n_dates++;
        break;
    case SL_INFER_TIMESTAMP:
        col->date_mask &= v.date_mask;
        col->ts_or |= v.ts_flags;
        col->ts_and &= v.ts_flags;
        col->n_timestamps++;
        if (v.ts_flags & SL_INFER_TS_ZONED)
            col->n_zoned++;
        break;
    default: break;
    }
}

static int popcount16(unsigned m)
{
    int n = 0;
    for (; m; m &= m - 1)
        n++;
    return n;
}

/* The decided column type, without allocating. */
struct decision {
    enum sl_ct_kind kind;
    int precision, scale;
    enum sl_ct_tz tz;
    bool non_iso;
    unsigned date_bit; /* the single date pattern of a temporal column */
    bool ambiguous_date;
};

/* Picks the column's one date pattern from the AND of its values' patterns:
 * 0 when none is left, or when day/month order stays open (and not configured). */
static unsigned resolve_date(const struct sl_infer_col *col, bool *ambiguous)
{
    unsigned m = col->date_mask;
    *ambiguous = false;
    if (m == 0)
        return 0;
    if (popcount16(m) == 1)
        return m;
    /* two bits: the DMY and MDY readings of one separator (every value ambiguous) */
    unsigned dmy = m & (SL_INFER_DATE_DMY_SLASH | SL_INFER_DATE_DMY_DASH | SL_INFER_DATE_DMY_DOT);
    unsigned mdy = m & (SL_INFER_DATE_MDY_SLASH | SL_INFER_DATE_MDY_DASH | SL_INFER_DATE_MDY_DOT);
    if (popcount16(dmy) == 1 && popcount16(mdy) == 1) {
        if (col->cfg->date_order == 1)
            return dmy;
        if (col->cfg->date_order == 2)
            return mdy;
        *ambiguous = true;
    }
    return 0;
}

static void decide(const struct sl_infer_col *col, struct decision *d)
{
    uint32_t k = col->classes;
    memset(d, 0, sizeof *d);
    d->kind = SL_CT_STRING;
    if (col->n_values == 0) {
        d->kind = SL_CT_NULL;
        return;
    }
    if (k & CLS(SL_INFER_STRING))
        return;
    if (k == CLS(SL_INFER_BOOLEAN)) {
        d->kind = SL_CT_BOOLEAN;
        return;
    }
    if ((k & ~NUMERIC_CLASSES) == 0) {
        if (k == CLS(SL_INFER_NANINF))
            return; /* NaN/Infinity alone never make a double column */
        if (k & (CLS(SL_INFER_DOUBLE) | CLS(SL_INFER_NANINF))) {
            int s = col->max_frac_digits;
            int p = col->max_int_digits + s;
            if (col->cfg->infer_decimal && !(k & CLS(SL_INFER_NANINF)) && !col->any_exponent &&
                p <= MAX_DECIMAL_DIGITS) {
                d->kind = SL_CT_DECIMAL;
                d->precision = p < 1 ? 1 : p;
                d->scale = s;
            } else {
                d->kind = SL_CT_DOUBLE;
            }
            return;
        }
        if (k & CLS(SL_INFER_BIGDEC)) {
            /* bigint joined with decimal(d,0) is decimal(max(d,19),0) (§7.1) */
            int p = col->max_big_digits;
            if ((k & CLS(SL_INFER_BIGINT)) && p < 19)
                p = 19;
            d->kind = SL_CT_DECIMAL;
            d->precision = p;
            d->scale = 0;
            return;
        }
        d->kind = SL_CT_BIGINT;
        return;
    }
    if ((k & ~TEMPORAL_CLASSES) == 0) {
        unsigned bit = resolve_date(col, &d->ambiguous_date);
        if (!bit)
            return;
        d->date_bit = bit;
        d->non_iso = bit != SL_INFER_DATE_ISO;
        if (!(k & CLS(SL_INFER_TIMESTAMP))) {
            d->kind = SL_CT_DATE;
            return;
        }
        /* a date counts as a naive value; offsets with naive values are a string */
        int64_t naive = col->n_timestamps - col->n_zoned + col->n_dates;
        if (col->n_zoned && naive)
            return;
        if ((col->ts_or & SL_INFER_TS_AMPM) && !(col->ts_and & SL_INFER_TS_AMPM))
            return; /* 12- and 24-hour clocks mixed: no single pattern */
        if (col->n_dates && d->non_iso)
            return; /* date with timestamp only in the ISO family (§7.1) */
        d->kind = SL_CT_TIMESTAMP;
        d->tz = col->n_zoned ? SL_CT_TZ_EXPLICIT : SL_CT_TZ_NAIVE;
        return;
    }
}

bool sl_infer_col_is_typed(const struct sl_infer_col *col)
{
    struct decision d;
    decide(col, &d);
    return d.kind != SL_CT_STRING && d.kind != SL_CT_NULL;
}

/* The pattern readers need for a non-ISO column: the date part, and for
 * timestamps the clock as the values showed it (seconds and fraction are
 * listed when any value had them; readers treat them as optional). */
static void build_format(const struct sl_infer_col *col, const struct decision *d, char *out,
                         size_t cap)
{
    out[0] = '\0';
    if (!d->non_iso || (d->kind != SL_CT_DATE && d->kind != SL_CT_TIMESTAMP))
        return;
    const char *date = sl_infer_date_format(d->date_bit);
    if (d->kind == SL_CT_DATE) {
        snprintf(out, cap, "%s", date);
        return;
    }
    bool ampm = col->ts_and & SL_INFER_TS_AMPM;
    snprintf(out, cap, "%s%c%s%s%s%s%s", date, (col->ts_and & SL_INFER_TS_T) ? 'T' : ' ',
             ampm ? "%I:%M" : "%H:%M", (col->ts_or & SL_INFER_TS_SECONDS) ? ":%S" : "",
             (col->ts_or & SL_INFER_TS_FRACTION) ? ".%f" : "", ampm ? " %p" : "",
             d->tz == SL_CT_TZ_EXPLICIT ? "%z" : "");
}

int sl_infer_col_result(const struct sl_infer_col *col, struct sl_infer_result *r,
                        struct sl_err *err)
{
    struct decision d;
    memset(r, 0, sizeof *r);
    decide(col, &d);
    r->type =
        d.kind == SL_CT_DECIMAL ? sl_ctype_decimal(d.precision, d.scale) : sl_ctype_new(d.kind);
    if (!r->type)
        return sl_err_set(err, SL_ENOMEM, "column type: out of memory");
    r->type->tz = d.tz;
    r->type->non_iso = d.non_iso;
    build_format(col, &d, r->format, sizeof r->format);
    r->ambiguous_date = d.ambiguous_date;
    r->n_values = col->n_values;
    r->n_nulls = col->n_nulls;
    r->tokens_seen = col->tokens_seen;
    return SL_OK;
}

void sl_infer_result_cleanup(struct sl_infer_result *r)
{
    sl_ctype_free(r->type);
    r->type = NULL;
}

/* ---- Header test ---- */

/* The date pattern bit a column format names ("" = ISO). */
static unsigned format_bit(const char *format)
{
    if (!format || !*format)
        return SL_INFER_DATE_ISO;
    for (unsigned bit = 1; bit & SL_INFER_DATE_ALL; bit <<= 1) {
        const char *f = sl_infer_date_format(bit);
        if (strncmp(format, f, strlen(f)) == 0)
            return bit;
    }
    return 0;
}

bool sl_infer_parses_as(const struct sl_infer_cfg *cfg, const char *p, size_t len,
                        const struct sl_ctype *type, const char *format)
{
    struct sl_infer_value v;
    enum sl_infer_class k = sl_infer_classify(cfg, p, len, &v);

    if (k == SL_INFER_NULL)
        return false;
    switch (type ? type->kind : SL_CT_STRING) {
    case SL_CT_NULL:
    case SL_CT_STRING: return true;
    case SL_CT_BOOLEAN: return k == SL_INFER_BOOLEAN;
    case SL_CT_TINYINT:
    case SL_CT_SMALLINT:
    case SL_CT_INT:
    case SL_CT_BIGINT:
    case SL_CT_DECIMAL:
    case SL_CT_FLOAT:
    case SL_CT_DOUBLE:
        return k == SL_INFER_BIGINT || k == SL_INFER_BIGDEC || k == SL_INFER_DOUBLE ||
               k == SL_INFER_NANINF;
    case SL_CT_DATE: {
        unsigned bit = format_bit(format);
        if (k == SL_INFER_DATE)
            return (v.date_mask & bit) != 0;
        /* an ISO timestamp in an ISO date column joins to timestamp */
        return k == SL_INFER_TIMESTAMP && bit == SL_INFER_DATE_ISO && (v.date_mask & bit) &&
               !(v.ts_flags & SL_INFER_TS_ZONED);
    }
    case SL_CT_TIMESTAMP: {
        unsigned bit = format_bit(format);
        if (k == SL_INFER_DATE)
            return bit == SL_INFER_DATE_ISO && (v.date_mask & bit) && type->tz != SL_CT_TZ_EXPLICIT;
        if (k != SL_INFER_TIMESTAMP || !(v.date_mask & bit))
            return false;
        bool zoned = v.ts_flags & SL_INFER_TS_ZONED;
        if (type->tz == SL_CT_TZ_EXPLICIT)
            return zoned;
        if (type->tz == SL_CT_TZ_NAIVE)
            return !zoned;
        return true;
    }
    default: return false;
    }
}
