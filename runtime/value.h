/*
 * runtime/value.h - typed values and row schemas of the engine (issue 4).
 * A value is 16 bytes: a type tag and a payload; strings point into the
 * owning batch's arena (never freed one by one). Nested JSON values (structs,
 * arrays, maps) travel as SL_V_JSON text. Conversions from text follow the
 * crawler's recognisers (spec/crawler.md §7.2) so data reads back as the
 * catalog typed it. Dates are days since 1970-01-01; timestamps are
 * microseconds since 1970-01-01T00:00:00Z (naive timestamps are taken as UTC).
 */
#ifndef SL_VALUE_H
#define SL_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "buf.h"
#include "err.h"

enum sl_vtype {
    SL_V_NULL = 0,
    SL_V_BOOL,      /* i: 0 or 1 */
    SL_V_INT,       /* i: int64 (bigint, int, smallint, tinyint) */
    SL_V_DOUBLE,    /* d (double, float, decimal read as double) */
    SL_V_STRING,    /* s: UTF-8 bytes, not NUL-terminated */
    SL_V_DATE,      /* i: days since the epoch */
    SL_V_TIMESTAMP, /* i: microseconds since the epoch, UTC */
    SL_V_BINARY,    /* s: raw bytes */
    SL_V_JSON,      /* s: JSON text of a struct, array or map */
};

struct sl_value {
    uint8_t type;    /* enum sl_vtype */
    uint32_t len;    /* SL_V_STRING/BINARY/JSON: bytes at s */
    union {
        int64_t i;
        double d;
        const char *s; /* borrowed: arena of the batch that holds the value */
    };
};

/* The column type names of the catalog ("bigint", "date", "struct<...>") as
 * engine types: integers SL_V_INT, float/double/decimal SL_V_DOUBLE, date,
 * timestamp, boolean, string, binary; anything nested SL_V_JSON. */
enum sl_vtype sl_vtype_from_catalog(const char *hive_type);
/* "null" "boolean" "bigint" "double" "string" "date" "timestamp" "binary" "json". */
const char *sl_vtype_name(enum sl_vtype t);

/* A row schema: ordered, named, typed columns. Immutable once a plan is
 * frozen; shared read-only by every worker. */
struct sl_rschema {
    size_t n_cols;
    char **names;          /* owned */
    enum sl_vtype *types;  /* owned */
    uint32_t *name_lens;   /* owned: strlen of each name (set by sl_rschema_set) */
};

struct sl_rschema *sl_rschema_new(size_t n_cols); /* names NULL, types NULL-typed; owned */
void sl_rschema_free(struct sl_rschema *s);
/* Copies name into column i. */
int sl_rschema_set(struct sl_rschema *s, size_t i, const char *name, enum sl_vtype type,
                   struct sl_err *err);
/* Column index by name (exact match), or -1. */
int sl_rschema_find(const struct sl_rschema *s, const char *name, size_t len);

/* ---- Conversions ---- */

/* Parses text as type t (after trimming ASCII spaces and tabs) into *out.
 * Strings and JSON are copied into arena. Returns SL_OK, or SL_EPARSE with a
 * reason ("not a bigint: \"12a\"", "date out of range") when the text does not
 * convert; an empty text gives NULL for every type but string. */
int sl_value_from_text(enum sl_vtype t, const char *p, size_t len, struct sl_arena *arena,
                       struct sl_value *out, struct sl_err *err);
/* Appends the canonical text form: integers in decimal, doubles with the
 * shortest form that reads back identically ("%.17g" trimmed), NaN/Infinity
 * as "NaN" "Infinity" "-Infinity", booleans "true"/"false", dates
 * "YYYY-MM-DD", timestamps "YYYY-MM-DDTHH:MM:SS[.ffffff]Z", strings/JSON raw,
 * NULL as nothing (callers decide how a NULL is written). */
int sl_value_to_text(const struct sl_value *v, struct sl_buf *out, struct sl_err *err);
/* Casts v to type t (apply_mapping): numbers between themselves, text to
 * anything through sl_value_from_text, anything to string via to_text.
 * SL_EPARSE with a reason when the value does not fit (overflow, bad text). */
int sl_value_cast(const struct sl_value *v, enum sl_vtype t, struct sl_arena *arena,
                  struct sl_value *out, struct sl_err *err);

/* Total order for sorting and grouping: NULL first, then by type, then by
 * value (strings byte-wise; doubles with -0 == 0 and NaN last). Returns <0, 0, >0. */
int sl_value_cmp(const struct sl_value *a, const struct sl_value *b);
/* Equality consistent with sl_value_cmp. */
bool sl_value_eq(const struct sl_value *a, const struct sl_value *b);
/* 64-bit hash consistent with sl_value_eq (1 and 1.0 are different types and
 * may hash differently). */
uint64_t sl_value_hash(const struct sl_value *v, uint64_t seed);

/* Days since the epoch for a proleptic Gregorian date, and back. */
int64_t sl_date_to_days(int y, int m, int d);
void sl_days_to_date(int64_t days, int *y, int *m, int *d);

/* ---- Row encodings for the shuffle and spill files ---- */

/* Appends an order-preserving encoding of values[0..n): memcmp on two
 * encodings orders them as sl_value_cmp does element by element (used as
 * shuffle/sort keys). */
int sl_key_encode(const struct sl_value *values, size_t n, struct sl_buf *out,
                  struct sl_err *err);
/* Decodes n values from an encoding made by sl_key_encode; strings are copied
 * into arena. SL_EPARSE on malformed input (never reads past len). */
int sl_key_decode(const void *p, size_t len, size_t n, struct sl_arena *arena,
                  struct sl_value *values, struct sl_err *err);
/* Compact (not order-preserving) row encoding for shuffle values. */
int sl_row_encode(const struct sl_value *values, size_t n, struct sl_buf *out,
                  struct sl_err *err);
int sl_row_decode(const void *p, size_t len, size_t n, struct sl_arena *arena,
                  struct sl_value *values, struct sl_err *err);

#endif
