/*
 * crawler/infer.h - type inference for text values (spec/crawler.md §7.2-§7.3):
 * recognisers for one value (null tokens, boolean, bigint, decimal, double,
 * date, timestamp) and a per-column accumulator that joins them into a column
 * type. The lattice and its join live in crawler/ctype.h; delimited-text
 * parsing lives in crawler/csv.c. JSON strings use the same date/timestamp
 * recognisers through sl_infer_classify().
 *
 * Nothing here allocates per value: a column accumulator is a plain struct
 * (copyable by assignment), and only sl_infer_col_result() builds a type.
 * Thread safety: the functions share nothing; a cfg may be read by several
 * threads at once.
 */
#ifndef SL_INFER_H
#define SL_INFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crawler/classify.h"
#include "crawler/ctype.h"
#include "runtime/err.h"

#define SL_INFER_MAX_TOKENS 64 /* null tokens tracked per column in a uint64_t bitmask */

/* Inference settings derived from struct sl_crawl_opts. */
struct sl_infer_cfg {
    const char *const *tokens;             /* borrowed null tokens (opts->null_tokens) */
    size_t token_len[SL_INFER_MAX_TOKENS]; /* bytes */
    size_t n_tokens;
    char decimal_sep;   /* '.' ; ',' only when the delimiter is not ',' */
    char thousands_sep; /* 0 = none: "1,234" is a string */
    int date_order;     /* 0 none, 1 DMY, 2 MDY: resolves all-ambiguous date columns */
    bool infer_decimal; /* fixed-point values give decimal(p,s) instead of double */
};

/* Fills cfg from opts (NULL = the §2 defaults). delimiter is the dialect's
 * delimiter ('\0' if none): decimal_separator ',' applies only when the
 * delimiter is not ','. SL_ECONFIG when there are more than
 * SL_INFER_MAX_TOKENS null tokens or the separators collide. cfg borrows
 * opts->null_tokens: keep them alive while cfg is used. */
int sl_infer_cfg_init(struct sl_infer_cfg *cfg, const struct sl_crawl_opts *opts, char delimiter,
                      struct sl_err *err);

/* What one value is. Every value is exactly one of these. */
enum sl_infer_class {
    SL_INFER_NULL,      /* one of the null tokens (after trimming) */
    SL_INFER_STRING,    /* nothing else */
    SL_INFER_BOOLEAN,   /* true/false, t/f, yes/no in any case (never 0/1, y/n, on/off) */
    SL_INFER_BIGINT,    /* -?(0|[1-9][0-9]*) within int64 */
    SL_INFER_BIGDEC,    /* such an integer outside int64 with at most 38 digits: decimal(d,0) */
    SL_INFER_DOUBLE,    /* a number with a decimal separator and/or an exponent */
    SL_INFER_NANINF,    /* NaN, Infinity, -Infinity, inf, -inf: fit doubles, never make one */
    SL_INFER_DATE,      /* a calendar date in one of the date patterns below */
    SL_INFER_TIMESTAMP, /* a date, 'T' or ' ', HH:MM[:SS[.f]], [AM/PM], [zone] */
};

/* Date patterns (bits of sl_infer_value.date_mask). Year-first patterns are
 * unambiguous; a day/month-first value sets the DMY bit, the MDY bit or both. */
enum {
    SL_INFER_DATE_ISO = 1 << 0,       /* %Y-%m-%d: the ISO-8601 family */
    SL_INFER_DATE_YMD_SLASH = 1 << 1, /* %Y/%m/%d */
    SL_INFER_DATE_YMD_DOT = 1 << 2,   /* %Y.%m.%d */
    SL_INFER_DATE_DMY_SLASH = 1 << 3, /* %d/%m/%Y */
    SL_INFER_DATE_MDY_SLASH = 1 << 4, /* %m/%d/%Y */
    SL_INFER_DATE_DMY_DASH = 1 << 5,  /* %d-%m-%Y */
    SL_INFER_DATE_MDY_DASH = 1 << 6,  /* %m-%d-%Y */
    SL_INFER_DATE_DMY_DOT = 1 << 7,   /* %d.%m.%Y */
    SL_INFER_DATE_MDY_DOT = 1 << 8,   /* %m.%d.%Y */
    SL_INFER_DATE_ALL = (1 << 9) - 1,
};

/* Timestamp details (bits of sl_infer_value.ts_flags). */
enum {
    SL_INFER_TS_ZONED = 1 << 0,    /* Z, +HH, +HHMM or +HH:MM */
    SL_INFER_TS_AMPM = 1 << 1,     /* " AM"/" PM" (non-ISO dates only) */
    SL_INFER_TS_SECONDS = 1 << 2,  /* :SS present */
    SL_INFER_TS_FRACTION = 1 << 3, /* .f{1,9} present */
    SL_INFER_TS_T = 1 << 4,        /* 'T' between date and time (else one space) */
};

struct sl_infer_value {
    enum sl_infer_class cls;
    int null_token;      /* index into cfg->tokens when cls is SL_INFER_NULL, else -1 */
    uint8_t int_digits;  /* numbers: digits before the decimal separator (capped at 255) */
    uint8_t frac_digits; /* numbers: digits after it (capped at 255) */
    bool exponent;       /* numbers: an exponent was present */
    uint16_t date_mask;  /* dates and timestamps: SL_INFER_DATE_* the value fits */
    uint8_t ts_flags;    /* timestamps: SL_INFER_TS_* */
};

/* Classifies one value after trimming ASCII space and tab. v may be NULL. */
enum sl_infer_class sl_infer_classify(const struct sl_infer_cfg *cfg, const char *p, size_t len,
                                      struct sl_infer_value *v);
/* Index of the null token p[0..len) equals after trimming, or -1. */
int sl_infer_null_token(const struct sl_infer_cfg *cfg, const char *p, size_t len);
/* True when the value is a number (NaN/Infinity included), boolean, date or
 * timestamp in any pattern: the "does not parse as" test of §6.4 step 4. */
bool sl_infer_is_typed_value(const struct sl_infer_cfg *cfg, const char *p, size_t len);
/* strftime-style pattern of one SL_INFER_DATE_* bit ("%d/%m/%Y"), "" otherwise. */
const char *sl_infer_date_format(unsigned bit);

/* Does the value fit a column of this type (§6.4 steps 2-3)? Null tokens give
 * false (callers test them separately). Numbers fit every numeric type (a
 * header test must never call a number "not a bigint" and drop a data row for
 * it); booleans fit boolean; a date or timestamp fits when its pattern is the
 * column's (format "" or NULL = ISO), a date fits a timestamp column and an
 * ISO timestamp a date column only where §7.1 would join them, and the zone
 * flavour must match a timestamp column's tz. Everything fits string. */
bool sl_infer_parses_as(const struct sl_infer_cfg *cfg, const char *p, size_t len,
                        const struct sl_ctype *type, const char *format);

/* One column's evidence so far. Plain data: copy it by assignment (the CSV
 * header test copies a column, adds R0 and compares). */
struct sl_infer_col {
    const struct sl_infer_cfg *cfg; /* borrowed */
    int64_t n_values;               /* non-null values that voted */
    int64_t n_nulls;                /* null tokens, quoted empties, missing fields */
    uint64_t tokens_seen;           /* bit i: cfg->tokens[i] was seen */
    uint32_t classes;               /* bit (1 << enum sl_infer_class) per class seen */
    int max_int_digits;             /* numbers: most integer digits (all numeric values) */
    int max_frac_digits;            /* numbers: most fraction digits */
    int max_big_digits;             /* SL_INFER_BIGDEC values: most digits */
    bool any_exponent;
    uint16_t date_mask;    /* AND of the date patterns of every date/timestamp value */
    uint8_t ts_or, ts_and; /* OR / AND of the timestamp flags (timestamps only) */
    int64_t n_dates, n_timestamps, n_zoned;
};

void sl_infer_col_init(struct sl_infer_col *col, const struct sl_infer_cfg *cfg);
/* Adds one field value. quoted: the field was quoted in the source, so an
 * empty value is a NULL that no null token produced (§7.3). */
void sl_infer_col_add(struct sl_infer_col *col, const char *p, size_t len, bool quoted);
/* Adds a missing value (a ragged record's absent field: readers pad NULL). */
void sl_infer_col_add_null(struct sl_infer_col *col);
/* True when the column's type so far is neither string nor null (no allocation). */
bool sl_infer_col_is_typed(const struct sl_infer_col *col);

struct sl_infer_result {
    struct sl_ctype *type; /* owned (sl_ctype_free); SL_CT_NULL when no value voted */
    char format[48];       /* "" or the pattern of a non-ISO date/timestamp column */
    bool ambiguous_date;   /* every value was an ambiguous day/month date: type is string */
    int64_t n_values, n_nulls;
    uint64_t tokens_seen; /* null tokens seen (meaningful for typed columns) */
};

/* The column's type. SL_ENOMEM only. r->type is owned by the caller. */
int sl_infer_col_result(const struct sl_infer_col *col, struct sl_infer_result *r,
                        struct sl_err *err);
void sl_infer_result_cleanup(struct sl_infer_result *r);

#endif
