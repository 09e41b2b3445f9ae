/*
 * crawler/ctype.h - inferred column types: the type lattice of
 * spec/crawler.md §7.1 as a small tree (scalars, decimal(p,s), array, map,
 * struct), its join, and Hive type strings ("struct<a:bigint,`b c`:string>").
 * Value recognition lives in crawler/infer.c; per-format classifiers build
 * these types, and grouping joins them across files.
 */
#ifndef SL_CTYPE_H
#define SL_CTYPE_H

#include <stdbool.h>
#include <stddef.h>

#include "runtime/buf.h"
#include "runtime/err.h"

/* Order matters only for readability; the join is defined in ctype.c. */
enum sl_ct_kind {
    SL_CT_NULL,      /* bottom: no non-null value seen */
    SL_CT_BOOLEAN,
    SL_CT_TINYINT,
    SL_CT_SMALLINT,
    SL_CT_INT,
    SL_CT_BIGINT,
    SL_CT_DECIMAL,   /* precision, scale */
    SL_CT_FLOAT,
    SL_CT_DOUBLE,
    SL_CT_DATE,
    SL_CT_TIMESTAMP,
    SL_CT_STRING,    /* top for scalars */
    SL_CT_BINARY,
    SL_CT_ARRAY,     /* elem */
    SL_CT_MAP,       /* key (always string from text/JSON), elem = value type */
    SL_CT_STRUCT,    /* fields */
};

/* Timestamp zone flavour (column parameter "tz"). */
enum sl_ct_tz { SL_CT_TZ_UNKNOWN = 0, SL_CT_TZ_NAIVE, SL_CT_TZ_EXPLICIT };

struct sl_ctype;

struct sl_ct_field {
    char *name;             /* owned; source spelling */
    struct sl_ctype *type;  /* owned */
};

struct sl_ctype {
    enum sl_ct_kind kind;
    int precision, scale;   /* SL_CT_DECIMAL */
    enum sl_ct_tz tz;       /* SL_CT_TIMESTAMP */
    bool non_iso;           /* SL_CT_DATE/TIMESTAMP from a non-ISO pattern (join rule §7.1) */
    struct sl_ctype *key;   /* SL_CT_MAP: owned */
    struct sl_ctype *elem;  /* SL_CT_ARRAY element / SL_CT_MAP value: owned */
    struct sl_ct_field *fields; /* SL_CT_STRUCT: owned array */
    size_t n_fields;
};

/* Constructors return owned trees (sl_ctype_free) or NULL on OOM. */
struct sl_ctype *sl_ctype_new(enum sl_ct_kind kind);
struct sl_ctype *sl_ctype_decimal(int precision, int scale);
struct sl_ctype *sl_ctype_array_take(struct sl_ctype *elem);             /* frees elem on OOM */
struct sl_ctype *sl_ctype_map_take(struct sl_ctype *key, struct sl_ctype *val);
/* Appends a field (struct only); takes type even on failure. */
int sl_ctype_struct_add_take(struct sl_ctype *st, const char *name, struct sl_ctype *type,
                             struct sl_err *err);
struct sl_ctype *sl_ctype_copy(const struct sl_ctype *t);
void sl_ctype_free(struct sl_ctype *t);
bool sl_ctype_equal(const struct sl_ctype *a, const struct sl_ctype *b);

/* The join of §7.1 (a new tree; NULL only on OOM). struct+struct is the field
 * union in first-seen order (a's fields, then b's new ones); struct+map gives a
 * map; anything unrelated gives string. */
struct sl_ctype *sl_ctype_join(const struct sl_ctype *a, const struct sl_ctype *b);
/* True when join(a, b) is string although neither is (a conflict; §10.2). */
bool sl_ctype_join_falls_to_string(const struct sl_ctype *a, const struct sl_ctype *b);

/* Appends the Hive type name: "bigint", "decimal(19,0)", "array<string>",
 * "map<string,double>", "struct<a:bigint,`b c`:string>". SL_CT_NULL renders as
 * "string" (a placeholder). Field names are back-quoted unless they match
 * [A-Za-z_][A-Za-z0-9_]*. */
int sl_ctype_render(const struct sl_ctype *t, struct sl_buf *out, struct sl_err *err);
/* Same, as an owned C string (sl_free); NULL on OOM. */
char *sl_ctype_to_string(const struct sl_ctype *t);
/* Parses a Hive type name back (used for catalog columns); SL_EPARSE with the
 * offset on bad input. */
struct sl_ctype *sl_ctype_parse(const char *s, struct sl_err *err);

#endif
