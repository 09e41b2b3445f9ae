/*
 * crawler/classify.h - what a classifier says about one object's sample, and
 * the crawler options the classifiers read. Classifiers: csv.c (delimited
 * text), json.c, parquet.c, avro.c; decode.c undoes compression first;
 * classify.c runs the chain of spec/crawler.md §5 and picks the winner.
 */
#ifndef SL_CLASSIFY_H
#define SL_CLASSIFY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crawler/ctype.h"
#include "runtime/err.h"

/* Options of spec/crawler.md §2 that classification and inference read. */
struct sl_crawl_opts {
    size_t sample_initial_bytes;     /* 1 MiB */
    size_t sample_max_bytes;         /* 16 MiB raw */
    size_t sample_max_decoded_bytes; /* 64 MiB decoded (zip-bomb guard) */
    size_t sample_rows;              /* 20000 */
    size_t dialect_rows;             /* 2048 */
    size_t tail_sample_bytes;        /* 256 KiB */
    int csv_header;                  /* 0 AUTO, 1 PRESENT, -1 ABSENT */
    bool csv_allow_single_column;
    char csv_decimal_separator;      /* '.' */
    char csv_thousands_separator;    /* 0 = none */
    int csv_date_order;              /* 0 none, 1 DMY, 2 MDY */
    bool csv_infer_decimal;
    const char *const *null_tokens;  /* NULL-terminated; default list of §2 */
    bool json_infer_temporal;        /* true */
    size_t json_map_key_threshold;   /* 200 */
    int json_max_depth;              /* 32 */
    const char *json_path;           /* NULL = none; "$.data[*]" etc. */
    double min_certainty;            /* 0.5 */
};

/* Fills the defaults of §2. */
void sl_crawl_opts_default(struct sl_crawl_opts *o);

/* One inferred column. */
struct sl_ccolumn {
    char *name;            /* owned; normalised per §6.5 */
    char *source_name;     /* owned or NULL when equal to name */
    struct sl_ctype *type; /* owned; SL_CT_NULL while only nulls were seen */
    char *format;          /* owned or NULL; date pattern such as "%d/%m/%Y" */
    bool ambiguous_date;   /* every value was an ambiguous dd/mm vs mm/dd date */
    int64_t n_values;      /* sampled non-null values */
    int64_t n_nulls;       /* sampled null tokens / nulls */
};

struct sl_cschema {
    struct sl_ccolumn *cols; /* owned array */
    size_t n_cols;
};

void sl_cschema_cleanup(struct sl_cschema *s);
/* Appends a column (name normalised by the caller); takes type. */
int sl_cschema_add_take(struct sl_cschema *s, const char *name, const char *source_name,
                        struct sl_ctype *type, struct sl_err *err);
int sl_cschema_copy(struct sl_cschema *dst, const struct sl_cschema *src, struct sl_err *err);

/* A warning for the crawl report: code as in §13 ("AMBIGUOUS_DATE", ...). */
struct sl_cwarning {
    char code[40];
    char detail[256];
};

#define SL_CLS_MAX_WARNINGS 16

/* The verdict of one classifier (or of the chain) on one object. */
struct sl_cls_result {
    char classification[16]; /* "csv" "json" "parquet" "avro" "orc"; "" = unknown */
    double certainty;        /* [0,1] */
    char reason[128];        /* why unknown / unsupported, e.g. "zip_unsupported" */
    bool unsupported;        /* recognised but not supported (orc) */
    struct sl_cschema schema;
    json_t *format_params;   /* owned object: "delimiter", "quoteChar", "escapeChar",
                                "skip.header.line.count", "areColumnsQuoted",
                                "sluice.csv.newline", "sluice.json.layout", "sluice.codec",
                                "sluice.encoding", ... (Glue names, string values) */
    json_t *header_evidence; /* owned or NULL; csv: {"r0":[...], "decision":"PRESENT",
                                "rule":"typed"|"names"|"forced", "parses":[...]} */
    int64_t n_records;       /* records in the sample (exact count when records_exact) */
    bool records_exact;      /* the sample reached the end of the object */
    double avg_record_bytes; /* decoded bytes per record in the sample */
    int64_t decoded_bytes;   /* decoded bytes the sample covered */
    bool truncated;          /* the sample stopped before EOF */
    struct sl_cwarning warnings[SL_CLS_MAX_WARNINGS];
    size_t n_warnings;
};

/* Zeroes r; format_params starts as an empty object (NULL only when that
 * allocation failed), so classifiers add to it or replace it. */
void sl_cls_result_init(struct sl_cls_result *r);
/* Makes r a certain (1.0) verdict of classification for a format whose schema
 * is read, not inferred (parquet, avro): params are merged into
 * r->format_params and *schema moves into r->schema. On success params is
 * taken and *schema left empty; on SL_ENOMEM r is unchanged and both stay with
 * the caller. */
int sl_cls_result_accept(struct sl_cls_result *r, const char *classification, json_t *params,
                         struct sl_cschema *schema, struct sl_err *err);
void sl_cls_result_cleanup(struct sl_cls_result *r);
/* Adds a warning (silently drops past SL_CLS_MAX_WARNINGS). */
void sl_cls_warn(struct sl_cls_result *r, const char *code, const char *fmt, ...) SL_PRINTF(3, 4);

/* Column-name normalisation of §6.5 for one name (j = 0-based ordinal for the
 * "col<j>" fallback). Returns owned (sl_free). Duplicates are resolved by
 * sl_cschema_dedupe_names(). */
char *sl_colname_normalise(const char *src, size_t len, size_t j);
/* Appends _2, _3... to case-insensitive duplicates, in column order. */
int sl_cschema_dedupe_names(struct sl_cschema *s, struct sl_err *err);

#endif
