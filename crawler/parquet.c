/*
 * crawler/parquet.c - the Parquet footer classifier (see parquet.h).
 * A hand-written Thrift compact-protocol reader for FileMetaData (there is no
 * Debian package of a Parquet library for C), the schema-tree walk that
 * resolves LIST/MAP encodings, and the §9 mapping to catalog types. Only
 * what classification needs is kept; every other field is skipped by its
 * wire type. References: parquet-format's parquet.thrift and LogicalTypes.md
 * ("Nested Types", backward-compatibility rules), Thrift's compact protocol.
 */
#include "crawler/parquet.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "runtime/alloc.h"

/* ---- Thrift compact protocol ---- */

enum {
    CT_STOP = 0,
    CT_TRUE = 1, /* a bool field's value lives in its type nibble */
    CT_FALSE = 2,
    CT_BYTE = 3,
    CT_I16 = 4,
    CT_I32 = 5,
    CT_I64 = 6,
    CT_DOUBLE = 7,
    CT_BINARY = 8,
    CT_LIST = 9,
    CT_SET = 10,
    CT_MAP = 11,
    CT_STRUCT = 12,
};

/* A cursor over the footer bytes. base is the object offset of p[0], so
 * messages name a byte of the object. */
struct tc {
    const unsigned char *p;
    size_t len, pos;
    int64_t base;
    int depth; /* current struct/container nesting */
    struct sl_err *err;
};

static int bad(struct tc *r, const char *what)
{
    return sl_err_set(r->err, SL_EPARSE, "parquet footer: byte %lld: %s",
                      (long long)(r->base + (int64_t)r->pos), what);
}

static int rd_byte(struct tc *r, unsigned char *b)
{
    if (r->pos >= r->len)
        return bad(r, "truncated");
    *b = r->p[r->pos++];
    return SL_OK;
}

static int rd_varint(struct tc *r, uint64_t *v)
{
    uint64_t x = 0;

    for (int shift = 0; shift < 64; shift += 7) {
        unsigned char b = 0;
        if (rd_byte(r, &b) != SL_OK)
            return SL_EPARSE;
        if (shift == 63 && (b & 0x7e))
            return bad(r, "varint overflows 64 bits");
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return SL_OK;
        }
    }
    return bad(r, "varint longer than 10 bytes");
}

static int64_t unzigzag(uint64_t u)
{
    return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

static int rd_i64(struct tc *r, int64_t *v)
{
    uint64_t u;

    if (rd_varint(r, &u) != SL_OK)
        return SL_EPARSE;
    *v = unzigzag(u);
    return SL_OK;
}

static int rd_i32(struct tc *r, int32_t *v)
{
    int64_t x;

    if (rd_i64(r, &x) != SL_OK)
        return SL_EPARSE;
    if (x < INT32_MIN || x > INT32_MAX)
        return bad(r, "i32 out of range");
    *v = (int32_t)x;
    return SL_OK;
}

static int rd_binary(struct tc *r, const unsigned char **s, size_t *n)
{
    uint64_t len;

    if (rd_varint(r, &len) != SL_OK)
        return SL_EPARSE;
    if (len > r->len - r->pos)
        return bad(r, "string runs past the footer");
    *s = r->p + r->pos;
    *n = (size_t)len;
    r->pos += (size_t)len;
    return SL_OK;
}

/* Reads a field header; *type = CT_STOP at the end of a struct. Field ids are
 * deltas from *last_id unless the delta nibble is 0. */
static int rd_field(struct tc *r, int16_t *last_id, int *type, int16_t *id)
{
    unsigned char b = 0;

    if (rd_byte(r, &b) != SL_OK)
        return SL_EPARSE;
    *type = b & 0x0f;
    if (*type == CT_STOP)
        return SL_OK;
    if (*type > CT_STRUCT)
        return bad(r, "unknown field type");
    int delta = b >> 4;
    if (delta) {
        *id = (int16_t)(*last_id + delta);
    } else {
        int64_t x;
        if (rd_i64(r, &x) != SL_OK)
            return SL_EPARSE;
        if (x < INT16_MIN || x > INT16_MAX)
            return bad(r, "field id out of range");
        *id = (int16_t)x;
    }
    *last_id = *id;
    return SL_OK;
}

/* A list or set header. Every element takes at least one byte, so a count
 * above the bytes left is a lie we refuse before allocating anything. */
static int rd_list(struct tc *r, int *elem_type, size_t *n)
{
    unsigned char b = 0;
    uint64_t count;

    if (rd_byte(r, &b) != SL_OK)
        return SL_EPARSE;
    *elem_type = b & 0x0f;
    count = b >> 4;
    if (count == 15 && rd_varint(r, &count) != SL_OK)
        return SL_EPARSE;
    if (*elem_type == CT_STOP || *elem_type > CT_STRUCT)
        return bad(r, "unknown list element type");
    if (count > r->len - r->pos)
        return bad(r, "list longer than the footer");
    *n = (size_t)count;
    return SL_OK;
}

static int skip(struct tc *r, int type);

static int skip_struct(struct tc *r)
{
    int16_t last = 0, id = 0;
    int type = CT_STOP;

    if (++r->depth > SL_PARQUET_MAX_DEPTH)
        return bad(r, "nesting too deep");
    for (;;) {
        if (rd_field(r, &last, &type, &id) != SL_OK)
            return SL_EPARSE;
        if (type == CT_STOP)
            break;
        if (skip(r, type) != SL_OK)
            return SL_EPARSE;
    }
    r->depth--;
    return SL_OK;
}

/* Skips one value of a field type (in a struct a bool has no payload; as a
 * list element it is one byte: see skip_elem). */
static int skip(struct tc *r, int type)
{
    uint64_t u;
    unsigned char b = 0;

    switch (type) {
    case CT_TRUE:
    case CT_FALSE: return SL_OK;
    case CT_BYTE: return rd_byte(r, &b);
    case CT_I16:
    case CT_I32:
    case CT_I64: return rd_varint(r, &u);
    case CT_DOUBLE:
        if (r->len - r->pos < 8)
            return bad(r, "truncated double");
        r->pos += 8;
        return SL_OK;
    case CT_BINARY: {
        const unsigned char *s;
        size_t n;
        return rd_binary(r, &s, &n);
    }
    case CT_LIST:
    case CT_SET: {
        int et;
        size_t n;
        if (rd_list(r, &et, &n) != SL_OK)
            return SL_EPARSE;
        if (++r->depth > SL_PARQUET_MAX_DEPTH)
            return bad(r, "nesting too deep");
        for (size_t i = 0; i < n; i++) {
            int rc = (et == CT_TRUE || et == CT_FALSE) ? rd_byte(r, &b) : skip(r, et);
            if (rc != SL_OK)
                return SL_EPARSE;
        }
        r->depth--;
        return SL_OK;
    }
    case CT_MAP: {
        if (rd_varint(r, &u) != SL_OK)
            return SL_EPARSE;
        if (u == 0)
            return SL_OK;
        if (rd_byte(r, &b) != SL_OK)
            return SL_EPARSE;
        int kt = b >> 4, vt = b & 0x0f;
        if (kt == CT_STOP || kt > CT_STRUCT || vt == CT_STOP || vt > CT_STRUCT)
            return bad(r, "unknown map element type");
        if (u > (r->len - r->pos) / 2)
            return bad(r, "map longer than the footer");
        if (++r->depth > SL_PARQUET_MAX_DEPTH)
            return bad(r, "nesting too deep");
        for (uint64_t i = 0; i < u; i++) {
            int rc = (kt == CT_TRUE || kt == CT_FALSE) ? rd_byte(r, &b) : skip(r, kt);
            if (rc == SL_OK)
                rc = (vt == CT_TRUE || vt == CT_FALSE) ? rd_byte(r, &b) : skip(r, vt);
            if (rc != SL_OK)
                return SL_EPARSE;
        }
        r->depth--;
        return SL_OK;
    }
    case CT_STRUCT: return skip_struct(r);
    default: return bad(r, "unknown field type");
    }
}

/* Reads an i32 field of wire type 'type' (skipping it if the type is wrong,
 * as Thrift readers do); *have tells whether it was read. */
static int field_i32(struct tc *r, int type, int32_t *v, bool *have)
{
    if (type != CT_I32 && type != CT_I16 && type != CT_BYTE)
        return skip(r, type);
    if (type == CT_BYTE) {
        unsigned char b = 0;
        if (rd_byte(r, &b) != SL_OK)
            return SL_EPARSE;
        *v = (int8_t)b;
    } else if (rd_i32(r, v) != SL_OK) {
        return SL_EPARSE;
    }
    if (have)
        *have = true;
    return SL_OK;
}

static int field_i64(struct tc *r, int type, int64_t *v, bool *have)
{
    if (type != CT_I64 && type != CT_I32)
        return skip(r, type);
    if (rd_i64(r, v) != SL_OK)
        return SL_EPARSE;
    if (have)
        *have = true;
    return SL_OK;
}

/* ---- FileMetaData ---- */

enum { PT_BOOLEAN, PT_INT32, PT_INT64, PT_INT96, PT_FLOAT, PT_DOUBLE, PT_BYTE_ARRAY, PT_FIXED };
enum { REP_REQUIRED, REP_OPTIONAL, REP_REPEATED, REP_VECTOR };
enum {
    CV_UTF8 = 0,
    CV_MAP = 1,
    CV_MAP_KEY_VALUE = 2,
    CV_LIST = 3,
    CV_ENUM = 4,
    CV_DECIMAL = 5,
    CV_DATE = 6,
    CV_TIME_MILLIS = 7,
    CV_TIME_MICROS = 8,
    CV_TIMESTAMP_MILLIS = 9,
    CV_TIMESTAMP_MICROS = 10,
    CV_UINT_8 = 11,
    CV_UINT_16 = 12,
    CV_UINT_32 = 13,
    CV_UINT_64 = 14,
    CV_INT_8 = 15,
    CV_INT_16 = 16,
    CV_INT_32 = 17,
    CV_INT_64 = 18,
    CV_JSON = 19,
    CV_BSON = 20,
    CV_INTERVAL = 21,
};
/* LogicalType union members (field ids). */
enum {
    LT_NONE = 0,
    LT_STRING = 1,
    LT_MAP = 2,
    LT_LIST = 3,
    LT_ENUM = 4,
    LT_DECIMAL = 5,
    LT_DATE = 6,
    LT_TIME = 7,
    LT_TIMESTAMP = 8,
    LT_INTEGER = 10,
    LT_UNKNOWN = 11,
    LT_JSON = 12,
    LT_BSON = 13,
    LT_UUID = 14,
    LT_FLOAT16 = 15,
};

/* One SchemaElement; name borrowed from the footer bytes. -1 = absent. */
struct pq_elem {
    const unsigned char *name;
    size_t name_len;
    bool has_name;
    int32_t type, type_length, repetition, converted, scale, precision, field_id;
    int32_t num_children; /* -1: a leaf */
    int logical;          /* LT_* (0 none) */
    int32_t l_scale, l_precision, l_bit_width;
    bool l_utc, l_signed;
};

/* What the row groups add up to. */
struct pq_totals {
    int64_t rows, bytes;
    int codec; /* -2 none seen, -1 mixed, else CompressionCodec */
    bool have_row_groups;
};

static int read_decimal_type(struct tc *r, struct pq_elem *e)
{
    int16_t last = 0, id = 0;
    int type = CT_STOP;

    for (;;) {
        if (rd_field(r, &last, &type, &id) != SL_OK)
            return SL_EPARSE;
        if (type == CT_STOP)
            return SL_OK;
        int rc = id == 1   ? field_i32(r, type, &e->l_scale, NULL)
                 : id == 2 ? field_i32(r, type, &e->l_precision, NULL)
                           : skip(r, type);
        if (rc != SL_OK)
            return SL_EPARSE;
    }
}

/* TimestampType, TimeType (isAdjustedToUTC, unit) and IntType (bitWidth,
 * isSigned): field 1 and 2; the time unit itself does not change the type. */
static int read_pair_type(struct tc *r, struct pq_elem *e, bool is_int)
{
    int16_t last = 0, id = 0;
    int type = CT_STOP;

    for (;;) {
        if (rd_field(r, &last, &type, &id) != SL_OK)
            return SL_EPARSE;
        if (type == CT_STOP)
            return SL_OK;
        int rc = SL_OK;
        if (id == 1 && !is_int && (type == CT_TRUE || type == CT_FALSE))
            e->l_utc = type == CT_TRUE;
        else if (id == 1 && is_int)
            rc = field_i32(r, type, &e->l_bit_width, NULL);
        else if (id == 2 && is_int && (type == CT_TRUE || type == CT_FALSE))
            e->l_signed = type == CT_TRUE;
        else
            rc = skip(r, type);
        if (rc != SL_OK)
            return SL_EPARSE;
    }
}

static int read_logical(struct tc *r, struct pq_elem *e)
{
    int16_t last = 0, id = 0;
    int type = CT_STOP;

    if (++r->depth > SL_PARQUET_MAX_DEPTH)
        return bad(r, "nesting too deep");
    for (;;) {
        if (rd_field(r, &last, &type, &id) != SL_OK)
            return SL_EPARSE;
        if (type == CT_STOP)
            break;
        int rc;
        if (type != CT_STRUCT) {
            rc = skip(r, type);
        } else {
            /* a union: one member is set; the last one read wins */
            e->logical = id;
            e->l_utc = false;
            e->l_signed = true;
            e->l_bit_width = 0;
            e->l_scale = 0;
            e->l_precision = 0;
            if (id == LT_DECIMAL)
                rc = read_decimal_type(r, e);
            else if (id == LT_TIMESTAMP || id == LT_TIME)
                rc = read_pair_type(r, e, false);
            else if (id == LT_INTEGER)
                rc = read_pair_type(r, e, true);
            else
                rc = skip_struct(r);
        }
        if (rc != SL_OK)
            return SL_EPARSE;
    }
    r->depth--;
    return SL_OK;
}

static int read_schema_element(struct tc *r, struct pq_elem *e)
{
    int16_t last = 0, id = 0;
    int type = CT_STOP;

    memset(e, 0, sizeof *e);
    e->type = e->type_length = e->repetition = e->converted = e->field_id = -1;
    e->num_children = -1;
    if (++r->depth > SL_PARQUET_MAX_DEPTH)
        return bad(r, "nesting too deep");
    for (;;) {
        if (rd_field(r, &last, &type, &id) != SL_OK)
            return SL_EPARSE;
        if (type == CT_STOP)
            break;
        int rc;
        switch (id) {
        case 1: rc = field_i32(r, type, &e->type, NULL); break;
        case 2: rc = field_i32(r, type, &e->type_length, NULL); break;
        case 3: rc = field_i32(r, type, &e->repetition, NULL); break;
        case 4:
            if (type == CT_BINARY) {
                rc = rd_binary(r, &e->name, &e->name_len);
                e->has_name = rc == SL_OK;
            } else {
                rc = skip(r, type);
            }
            break;
        case 5:
            rc = field_i32(r, type, &e->num_children, NULL);
            if (rc == SL_OK && e->num_children < 0)
                return bad(r, "negative num_children");
            break;
        case 6: rc = field_i32(r, type, &e->converted, NULL); break;
        case 7: rc = field_i32(r, type, &e->scale, NULL); break;
        case 8: rc = field_i32(r, type, &e->precision, NULL); break;
        case 9: rc = field_i32(r, type, &e->field_id, NULL); break;
        case 10: rc = type == CT_STRUCT ? read_logical(r, e) : skip(r, type); break;
        default: rc = skip(r, type);
        }
        if (rc != SL_OK)
            return SL_EPARSE;
    }
    r->depth--;
    if (!e->has_name)
        return bad(r, "schema element without a name");
    return SL_OK;
}

/* ColumnMetaData: only codec (field 4) matters. */
static int read_column_meta(struct tc *r, struct pq_totals *t)
{
    int16_t last = 0, id = 0;
    int type = CT_STOP;

    if (++r->depth > SL_PARQUET_MAX_DEPTH)
        return bad(r, "nesting too deep");
    for (;;) {
        if (rd_field(r, &last, &type, &id) != SL_OK)
            return SL_EPARSE;
        if (type == CT_STOP)
            break;
        int32_t codec = -1;
        bool have = false;
        int rc = id == 4 ? field_i32(r, type, &codec, &have) : skip(r, type);
        if (rc != SL_OK)
            return SL_EPARSE;
        if (have) {
            if (codec < 0)
                return bad(r, "negative codec");
            if (t->codec == -2)
                t->codec = codec;
            else if (t->codec != codec)
                t->codec = -1;
        }
    }
    r->depth--;
    return SL_OK;
}

static int read_column_chunk(struct tc *r, struct pq_totals *t)
{
    int16_t last = 0, id = 0;
    int type = CT_STOP;

    if (++r->depth > SL_PARQUET_MAX_DEPTH)
        return bad(r, "nesting too deep");
    for (;;) {
        if (rd_field(r, &last, &type, &id) != SL_OK)
            return SL_EPARSE;
        if (type == CT_STOP)
            break;
        int rc = id == 3 && type == CT_STRUCT ? read_column_meta(r, t) : skip(r, type);
        if (rc != SL_OK)
            return SL_EPARSE;
    }
    r->depth--;
    return SL_OK;
}

static int read_row_group(struct tc *r, struct pq_totals *t)
{
    int16_t last = 0, id = 0;
    int type = CT_STOP;
    int64_t rows = 0, bytes = 0;

    if (++r->depth > SL_PARQUET_MAX_DEPTH)
        return bad(r, "nesting too deep");
    for (;;) {
        if (rd_field(r, &last, &type, &id) != SL_OK)
            return SL_EPARSE;
        if (type == CT_STOP)
            break;
        int rc;
        if (id == 1 && type == CT_LIST) {
            int et;
            size_t n;
            if (rd_list(r, &et, &n) != SL_OK)
                return SL_EPARSE;
            if (n && et != CT_STRUCT)
                return bad(r, "row group columns are not structs");
            rc = SL_OK;
            for (size_t i = 0; i < n && rc == SL_OK; i++)
                rc = read_column_chunk(r, t);
        } else if (id == 2) {
            rc = field_i64(r, type, &bytes, NULL);
        } else if (id == 3) {
            rc = field_i64(r, type, &rows, NULL);
        } else {
            rc = skip(r, type);
        }
        if (rc != SL_OK)
            return SL_EPARSE;
    }
    r->depth--;
    if (rows < 0 || bytes < 0)
        return bad(r, "negative row group size");
    if (rows > INT64_MAX - t->rows || bytes > INT64_MAX - t->bytes)
        return bad(r, "row group totals overflow");
    t->rows += rows;
    t->bytes += bytes;
    return SL_OK;
}

/* Decodes FileMetaData. *elems is owned by the caller (sl_free) even on error. */
static int read_file_meta(struct tc *r, struct pq_elem **elems, size_t *n_elems,
                          struct pq_totals *t, int64_t *num_rows)
{
    int16_t last = 0, id = 0;
    int type = CT_STOP;
    bool have_schema = false;

    for (;;) {
        if (rd_field(r, &last, &type, &id) != SL_OK)
            return SL_EPARSE;
        if (type == CT_STOP)
            break;
        int rc = SL_OK;
        if (id == 2 && type == CT_LIST && !have_schema) {
            int et;
            size_t n;
            if (rd_list(r, &et, &n) != SL_OK)
                return SL_EPARSE;
            if (et != CT_STRUCT)
                return bad(r, "schema elements are not structs");
            if (n > SL_PARQUET_MAX_SCHEMA)
                return bad(r, "more schema elements than the limit");
            if (n && !(*elems = sl_calloc(n, sizeof **elems)))
                return sl_err_set(r->err, SL_ENOMEM, "out of memory for %zu schema elements", n);
            for (size_t i = 0; i < n && rc == SL_OK; i++)
                rc = read_schema_element(r, &(*elems)[i]);
            *n_elems = n;
            have_schema = true;
        } else if (id == 3) {
            rc = field_i64(r, type, num_rows, NULL);
        } else if (id == 4 && type == CT_LIST) {
            int et;
            size_t n;
            if (rd_list(r, &et, &n) != SL_OK)
                return SL_EPARSE;
            if (n && et != CT_STRUCT)
                return bad(r, "row groups are not structs");
            t->have_row_groups = true;
            for (size_t i = 0; i < n && rc == SL_OK; i++)
                rc = read_row_group(r, t);
        } else {
            /* 1 version, 5 key_value_metadata, 6 created_by, 7 column_orders,
             * 8 encryption_algorithm, 9 footer_signing_key_metadata, ... */
            rc = skip(r, type);
        }
        if (rc != SL_OK)
            return rc;
    }
    if (!have_schema || *n_elems == 0)
        return bad(r, "footer without a schema");
    return SL_OK;
}

/* ---- Schema tree to catalog types ---- */

struct tree {
    const struct pq_elem *e;
    size_t n, next; /* next = the element to consume */
    struct sl_err *err;
};

static struct sl_ctype *ct_new(enum sl_ct_kind k)
{
    return sl_ctype_new(k);
}

static struct sl_ctype *ct_decimal(int32_t precision, int32_t scale)
{
    /* Hive decimals stop at 38 digits; anything else is not a usable decimal */
    if (precision < 1 || precision > 38 || scale < 0 || scale > precision)
        return ct_new(SL_CT_STRING);
    return sl_ctype_decimal(precision, scale);
}

static struct sl_ctype *ct_timestamp(enum sl_ct_tz tz)
{
    struct sl_ctype *t = ct_new(SL_CT_TIMESTAMP);
    if (t)
        t->tz = tz;
    return t;
}

static struct sl_ctype *ct_int(int bits, bool is_signed)
{
    if (is_signed)
        return ct_new(bits == 8    ? SL_CT_TINYINT
                      : bits == 16 ? SL_CT_SMALLINT
                      : bits == 32 ? SL_CT_INT
                                   : SL_CT_BIGINT);
    /* unsigned values need the next wider signed type */
    if (bits == 64)
        return sl_ctype_decimal(20, 0);
    return ct_new(bits == 8 ? SL_CT_SMALLINT : bits == 16 ? SL_CT_INT : SL_CT_BIGINT);
}

static struct sl_ctype *physical_type(const struct pq_elem *e)
{
    switch (e->type) {
    case PT_BOOLEAN: return ct_new(SL_CT_BOOLEAN);
    case PT_INT32: return ct_new(SL_CT_INT);
    case PT_INT64: return ct_new(SL_CT_BIGINT);
    case PT_INT96:
        /* legacy Impala/Spark/Hive timestamps; whether they are instants
         * depends on the writer, so the zone stays unknown */
        return ct_new(SL_CT_TIMESTAMP);
    case PT_FLOAT: return ct_new(SL_CT_FLOAT);
    case PT_DOUBLE: return ct_new(SL_CT_DOUBLE);
    default: return ct_new(SL_CT_BINARY);
    }
}

static bool is_int_physical(const struct pq_elem *e)
{
    return e->type == PT_INT32 || e->type == PT_INT64;
}

/* The §9 table for a primitive: LogicalType first, then ConvertedType, then
 * the physical type. An annotation that does not fit the physical type is
 * ignored rather than trusted. NULL only on OOM. */
static struct sl_ctype *leaf_type(const struct pq_elem *e)
{
    bool bytes = e->type == PT_BYTE_ARRAY || e->type == PT_FIXED;

    switch (e->logical) {
    case LT_STRING:
    case LT_ENUM:
    case LT_JSON:
        if (bytes)
            return ct_new(SL_CT_STRING);
        break;
    case LT_DECIMAL:
        if (bytes || is_int_physical(e))
            return ct_decimal(e->l_precision, e->l_scale);
        break;
    case LT_DATE:
        if (e->type == PT_INT32)
            return ct_new(SL_CT_DATE);
        break;
    case LT_TIME:
        if (is_int_physical(e))
            return ct_new(SL_CT_STRING);
        break;
    case LT_TIMESTAMP:
        if (e->type == PT_INT64)
            return ct_timestamp(e->l_utc ? SL_CT_TZ_EXPLICIT : SL_CT_TZ_NAIVE);
        break;
    case LT_INTEGER:
        if (is_int_physical(e) && (e->l_bit_width == 8 || e->l_bit_width == 16 ||
                                   e->l_bit_width == 32 || e->l_bit_width == 64))
            return ct_int(e->l_bit_width, e->l_signed);
        break;
    case LT_UUID:
        if (e->type == PT_FIXED)
            return ct_new(SL_CT_STRING);
        break;
    case LT_FLOAT16:
        if (e->type == PT_FIXED)
            return ct_new(SL_CT_FLOAT);
        break;
    case LT_UNKNOWN: return ct_new(SL_CT_NULL); /* only nulls stored */
    default: break; /* none, BSON, unknown future members: converted/physical */
    }
    switch (e->converted) {
    case CV_UTF8:
    case CV_ENUM:
    case CV_JSON:
        if (bytes)
            return ct_new(SL_CT_STRING);
        break;
    case CV_DECIMAL:
        if (bytes || is_int_physical(e))
            return ct_decimal(e->precision, e->scale < 0 ? 0 : e->scale);
        break;
    case CV_DATE:
        if (e->type == PT_INT32)
            return ct_new(SL_CT_DATE);
        break;
    case CV_TIME_MILLIS:
    case CV_TIME_MICROS:
        if (is_int_physical(e))
            return ct_new(SL_CT_STRING);
        break;
    case CV_TIMESTAMP_MILLIS:
    case CV_TIMESTAMP_MICROS:
        /* the converted types are UTC-normalised (LogicalTypes.md) */
        if (e->type == PT_INT64)
            return ct_timestamp(SL_CT_TZ_EXPLICIT);
        break;
    case CV_UINT_8:
    case CV_UINT_16:
    case CV_UINT_32:
    case CV_UINT_64:
    case CV_INT_8:
    case CV_INT_16:
    case CV_INT_32:
    case CV_INT_64: {
        static const int bits[] = {8, 16, 32, 64};
        bool is_signed = e->converted >= CV_INT_8;
        int b = bits[(e->converted - (is_signed ? CV_INT_8 : CV_UINT_8)) & 3];
        if (is_int_physical(e))
            return ct_int(b, is_signed);
        break;
    }
    case CV_INTERVAL:
        if (e->type == PT_FIXED)
            return ct_new(SL_CT_STRING);
        break;
    default: break;
    }
    return physical_type(e);
}

static bool is_group(const struct pq_elem *e)
{
    return e->num_children >= 0 && (e->num_children > 0 || e->type < 0);
}

static bool name_is(const struct pq_elem *e, const char *s)
{
    size_t n = strlen(s);
    return e->name_len == n && memcmp(e->name, s, n) == 0;
}

/* rep's name is parent's name + "_tuple" (backward-compatibility rule 3) */
static bool name_is_tuple_of(const struct pq_elem *rep, const struct pq_elem *parent)
{
    return rep->name_len == parent->name_len + 6 &&
           memcmp(rep->name, parent->name, parent->name_len) == 0 &&
           memcmp(rep->name + parent->name_len, "_tuple", 6) == 0;
}

static int node_type(struct tree *t, int depth, bool as_field, struct sl_ctype **out);

static int oom(struct tree *t)
{
    return sl_err_set(t->err, SL_ENOMEM, "out of memory building the parquet schema");
}

/* The fields of group g (already consumed), each consumed in turn. */
static int struct_type(struct tree *t, const struct pq_elem *g, int depth, struct sl_ctype **out)
{
    struct sl_ctype *st = ct_new(SL_CT_STRUCT);

    if (!st)
        return oom(t);
    for (int32_t i = 0; i < g->num_children; i++) {
        const struct pq_elem *c = &t->e[t->next];
        struct sl_ctype *ft = NULL;
        char *name = NULL;
        int rc = node_type(t, depth + 1, true, &ft);
        if (rc == SL_OK && !(name = sl_strndup((const char *)c->name, c->name_len))) {
            sl_ctype_free(ft);
            rc = oom(t);
        }
        if (rc == SL_OK)
            rc = sl_ctype_struct_add_take(st, name, ft, t->err);
        sl_free(name);
        if (rc != SL_OK) {
            sl_ctype_free(st);
            return rc;
        }
    }
    *out = st;
    return SL_OK;
}

/*
 * A LIST-annotated group g (consumed). LogicalTypes.md, "Lists": the group has
 * one repeated child. With three levels the child is a group of one field,
 * the element. Older writers used two levels, resolved by the backward-
 * compatibility rules: a repeated primitive is the element (1); a repeated
 * group of several fields is the element, a struct (2); a repeated group of
 * one field named "array" or "<list>_tuple" is the element too (3);
 * otherwise the repeated group's single field is the element (4).
 * Returns 1 (nothing consumed) when g is not shaped like a list.
 */
static int list_type(struct tree *t, const struct pq_elem *g, int depth, struct sl_ctype **out)
{
    struct sl_ctype *elem = NULL;
    int rc;

    if (g->num_children != 1 || t->next >= t->n)
        return 1;
    const struct pq_elem *rep = &t->e[t->next];
    if (rep->repetition != REP_REPEATED)
        return 1;
    if (!is_group(rep) || rep->num_children > 1 || rep->num_children == 0 ||
        name_is(rep, "array") || name_is_tuple_of(rep, g)) {
        rc = node_type(t, depth + 1, false, &elem); /* rules 1-3: rep is the element */
    } else {
        t->next++; /* rule 4: the three-level form */
        if (depth + 1 > SL_PARQUET_MAX_DEPTH)
            return sl_err_set(t->err, SL_EPARSE, "parquet schema: nesting deeper than %d",
                              SL_PARQUET_MAX_DEPTH);
        rc = node_type(t, depth + 2, true, &elem);
    }
    if (rc != SL_OK)
        return rc;
    if (!(*out = sl_ctype_array_take(elem)))
        return oom(t);
    return SL_OK;
}

/* A MAP or MAP_KEY_VALUE group g (consumed): one repeated group (key_value)
 * of a key and, usually, a value. Returns 1 (nothing consumed) otherwise. */
static int map_type(struct tree *t, const struct pq_elem *g, int depth, struct sl_ctype **out)
{
    struct sl_ctype *k = NULL, *v = NULL;
    int rc;

    if (g->num_children != 1 || t->next >= t->n)
        return 1;
    const struct pq_elem *kv = &t->e[t->next];
    if (kv->repetition != REP_REPEATED || !is_group(kv) || kv->num_children < 1 ||
        kv->num_children > 2)
        return 1;
    if (depth + 1 > SL_PARQUET_MAX_DEPTH)
        return sl_err_set(t->err, SL_EPARSE, "parquet schema: nesting deeper than %d",
                          SL_PARQUET_MAX_DEPTH);
    t->next++;
    if ((rc = node_type(t, depth + 2, false, &k)) != SL_OK)
        return rc;
    if (kv->num_children == 2) {
        rc = node_type(t, depth + 2, true, &v);
    } else if (!(v = ct_new(SL_CT_NULL))) { /* a key-only map (a set) */
        rc = oom(t);
    }
    if (rc != SL_OK) {
        sl_ctype_free(k);
        return rc;
    }
    if (!(*out = sl_ctype_map_take(k, v)))
        return oom(t);
    return SL_OK;
}

/*
 * Consumes element t->next and its subtree and returns its type. as_field:
 * the element is a field of a struct (or a column), so REPEATED wraps it in
 * an array (a bare repeated field); false when a LIST/MAP already accounts
 * for the repetition.
 */
static int node_type(struct tree *t, int depth, bool as_field, struct sl_ctype **out)
{
    struct sl_ctype *ty = NULL;
    int rc;

    *out = NULL;
    if (depth > SL_PARQUET_MAX_DEPTH)
        return sl_err_set(t->err, SL_EPARSE, "parquet schema: nesting deeper than %d",
                          SL_PARQUET_MAX_DEPTH);
    if (t->next >= t->n)
        return sl_err_set(t->err, SL_EPARSE,
                          "parquet schema: num_children promise more elements than the %zu "
                          "present",
                          t->n);
    const struct pq_elem *e = &t->e[t->next++];
    if (is_group(e)) {
        if ((size_t)e->num_children > t->n - t->next)
            return sl_err_set(t->err, SL_EPARSE,
                              "parquet schema: group \"%.*s\" has %d children, only %zu "
                              "elements follow",
                              (int)(e->name_len > 64 ? 64 : e->name_len), (const char *)e->name,
                              (int)e->num_children, t->n - t->next);
        rc = 1;
        if (e->logical == LT_LIST || (e->logical == LT_NONE && e->converted == CV_LIST))
            rc = list_type(t, e, depth, &ty);
        else if (e->logical == LT_MAP ||
                 (e->logical == LT_NONE &&
                  (e->converted == CV_MAP || e->converted == CV_MAP_KEY_VALUE)))
            rc = map_type(t, e, depth, &ty);
        if (rc == 1) /* not shaped as annotated (or no annotation): a struct */
            rc = struct_type(t, e, depth, &ty);
        if (rc != SL_OK)
            return rc;
    } else if (!(ty = leaf_type(e))) {
        return oom(t);
    }
    if (as_field && (e->repetition == REP_REPEATED || e->repetition == REP_VECTOR)) {
        if (!(ty = sl_ctype_array_take(ty)))
            return oom(t);
    }
    *out = ty;
    return SL_OK;
}

static int build_schema(const struct pq_elem *elems, size_t n, struct sl_cschema *s,
                        struct sl_err *err)
{
    struct tree t = {elems, n, 1, err};
    const struct pq_elem *root = &elems[0];
    int rc = SL_OK;

    if (root->num_children < 0 || (size_t)root->num_children > n - 1)
        return sl_err_set(err, SL_EPARSE, "parquet schema: root has %d children for %zu elements",
                          (int)root->num_children, n - 1);
    for (int32_t i = 0; i < root->num_children && rc == SL_OK; i++) {
        const struct pq_elem *c = &elems[t.next];
        struct sl_ctype *ty = NULL;
        char *name = NULL, *src = NULL;
        if ((rc = node_type(&t, 1, true, &ty)) != SL_OK)
            break;
        name = sl_colname_normalise((const char *)c->name, c->name_len, (size_t)i);
        src = sl_strndup((const char *)c->name, c->name_len);
        if (!name || !src) {
            sl_ctype_free(ty);
            rc = oom(&t);
        } else {
            rc = sl_cschema_add_take(s, name, strcmp(name, src) != 0 ? src : NULL, ty, err);
        }
        sl_free(name);
        sl_free(src);
    }
    if (rc == SL_OK && t.next != n)
        rc = sl_err_set(err, SL_EPARSE,
                        "parquet schema: %zu elements outside the tree of the root's children",
                        n - t.next);
    if (rc == SL_OK)
        rc = sl_cschema_dedupe_names(s, err);
    return rc;
}

/* ---- The classifier ---- */

static const char *codec_name(int codec)
{
    static const char *const names[] = {"uncompressed", "snappy", "gzip", "lzo",
                                        "brotli",       "lz4",    "zstd", "lz4_raw"};
    if (codec == -2)
        return "uncompressed"; /* no column chunk at all */
    if (codec == -1)
        return "mixed";
    if (codec >= 0 && (size_t)codec < SL_ARRAY_LEN(names))
        return names[codec];
    return "unknown";
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void not_parquet(struct sl_cls_result *out, const char *why)
{
    out->certainty = 0;
    out->classification[0] = '\0';
    snprintf(out->reason, sizeof out->reason, "%s", why);
}

int sl_parquet_classify_tail(const unsigned char *tail, size_t tail_len, int64_t object_size,
                             const unsigned char *head4, size_t *need, struct sl_cls_result *out,
                             struct sl_err *err)
{
    struct pq_elem *elems = NULL;
    size_t n_elems = 0;
    struct pq_totals tot = {0, 0, -2, false};
    int64_t num_rows = -1;
    struct sl_cschema schema = {NULL, 0};
    json_t *params = NULL;
    int rc;

    *need = 0;
    if (object_size < 0 || (uint64_t)tail_len > (uint64_t)object_size || (tail_len && !tail))
        return sl_err_set(err, SL_ECONFIG, "parquet: a tail of %zu bytes for an object of %lld",
                          tail_len, (long long)object_size);
    if (object_size < 12) {
        not_parquet(out, "too small for parquet");
        return SL_OK;
    }
    if (tail_len < 8) {
        *need = 8;
        return sl_err_set(err, SL_ELIMIT, "parquet: need the last 8 bytes, have %zu", tail_len);
    }
    const unsigned char *magic = tail + tail_len - 4;
    if (memcmp(magic, "PARE", 4) == 0 && (!head4 || memcmp(head4, "PARE", 4) == 0)) {
        snprintf(out->classification, sizeof out->classification, "parquet");
        out->certainty = 1.0;
        out->unsupported = true;
        snprintf(out->reason, sizeof out->reason, "parquet_encrypted_footer");
        return SL_OK;
    }
    if (memcmp(magic, "PAR1", 4) != 0 || (head4 && memcmp(head4, "PAR1", 4) != 0)) {
        not_parquet(out, "no PAR1 magic at both ends");
        return SL_OK;
    }
    uint64_t footer_len = le32(tail + tail_len - 8);
    if (footer_len + 12 > (uint64_t)object_size)
        return sl_err_set(err, SL_EPARSE,
                          "parquet footer: length %llu does not fit an object of %lld bytes",
                          (unsigned long long)footer_len, (long long)object_size);
    if (footer_len > SL_PARQUET_MAX_FOOTER)
        return sl_err_set(err, SL_ELIMIT, "parquet footer: %llu bytes exceed the %zu byte limit",
                          (unsigned long long)footer_len, SL_PARQUET_MAX_FOOTER);
    if (footer_len + 8 > tail_len) {
        *need = (size_t)footer_len + 8;
        return sl_err_set(err, SL_ELIMIT, "parquet footer: %llu bytes, the tail has %zu",
                          (unsigned long long)footer_len, tail_len - 8);
    }

    struct tc r = {tail + tail_len - 8 - footer_len,
                   (size_t)footer_len,
                   0,
                   object_size - 8 - (int64_t)footer_len,
                   0,
                   err};
    if ((rc = read_file_meta(&r, &elems, &n_elems, &tot, &num_rows)) != SL_OK)
        goto fail;
    if ((rc = build_schema(elems, n_elems, &schema, err)) != SL_OK)
        goto fail;

    int64_t rows = tot.have_row_groups ? tot.rows : (num_rows > 0 ? num_rows : 0);
    params = json_object();
    if (!params ||
        json_object_set_new(params, "sluice.codec", json_string(codec_name(tot.codec))) ||
        json_object_set_new(params, "compressionType", json_string("none"))) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto fail;
    }

    if ((rc = sl_cls_result_accept(out, "parquet", params, &schema, err)) != SL_OK)
        goto fail;
    params = NULL;
    out->n_records = rows;
    out->records_exact = true;
    out->avg_record_bytes = rows > 0 ? (double)tot.bytes / (double)rows : 0.0;
    out->decoded_bytes = (int64_t)footer_len + 8;
    out->truncated = false;
    sl_free(elems);
    return SL_OK;
fail:
    json_decref(params);
    sl_cschema_cleanup(&schema);
    sl_free(elems);
    return rc;
}
