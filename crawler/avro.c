/*
 * crawler/avro.c - the Avro object-container classifier (see avro.h).
 * The container framing (magic, metadata map, sync, block headers) is read
 * here, since libavro only reads containers from a FILE and we hold a
 * possibly cut window in memory. The schema is resolved by libavro
 * (avro_schema_from_json_length: names, namespaces, references, validity);
 * libavro 1.11 drops logicalType attributes, so the schema's JSON (jansson) is
 * walked alongside its libavro tree to read them.
 */
#include "crawler/avro.h"

#include <avro.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "runtime/alloc.h"

/* JSON nesting accepted in avro.schema before libavro sees it (its parser
 * recurses without a limit); a record level costs up to 4 JSON levels
 * (union, object, fields array, field), so this admits SL_AVRO_MAX_DEPTH
 * type levels. */
#define AVRO_MAX_JSON_DEPTH (4 * SL_AVRO_MAX_DEPTH)

/* ---- Container framing ---- */

struct rd {
    const unsigned char *p;
    size_t len, pos;
    bool shortage; /* ran out of bytes (as opposed to bad bytes) */
    size_t want;   /* when shortage: bytes known to be needed, if more than len */
};

/* Avro long: zigzag varint of at most 10 bytes. -1 on shortage or overflow. */
static int rd_long(struct rd *r, int64_t *v)
{
    uint64_t x = 0;

    for (int shift = 0; shift < 64; shift += 7) {
        if (r->pos >= r->len) {
            r->shortage = true;
            return -1;
        }
        unsigned char b = r->p[r->pos++];
        if (shift == 63 && (b & 0x7e))
            return -1;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = (int64_t)(x >> 1) ^ -(int64_t)(x & 1);
            return 0;
        }
    }
    return -1;
}

/* Avro bytes/string: a long length, then the bytes (borrowed). */
static int rd_bytes(struct rd *r, const unsigned char **s, size_t *n)
{
    int64_t len;

    if (rd_long(r, &len) != 0 || len < 0)
        return -1;
    if ((uint64_t)len > r->len - r->pos) {
        r->shortage = true;
        if ((uint64_t)len <= SIZE_MAX - r->pos)
            r->want = r->pos + (size_t)len;
        return -1;
    }
    *s = r->p + r->pos;
    *n = (size_t)len;
    r->pos += (size_t)len;
    return 0;
}

static bool key_is(const unsigned char *k, size_t n, const char *s)
{
    return n == strlen(s) && memcmp(k, s, n) == 0;
}

struct header {
    const unsigned char *schema, *codec; /* borrowed; NULL when absent */
    size_t schema_len, codec_len;
    const unsigned char *sync; /* 16 bytes */
    size_t len;                /* header bytes */
};

/* Reads magic, metadata map and sync. -1 with r->shortage when the window
 * ends inside the header; -1 without it when the bytes are malformed. */
static int read_header(struct rd *r, struct header *h, const char **why)
{
    r->pos = 4;
    for (;;) {
        int64_t count, block_bytes;
        if (rd_long(r, &count) != 0) {
            *why = "bad metadata block count";
            return -1;
        }
        if (count == 0)
            break;
        if (count < 0) {
            if (count == INT64_MIN) {
                *why = "bad metadata block count";
                return -1;
            }
            count = -count; /* followed by the block's byte size */
            if (rd_long(r, &block_bytes) != 0 || block_bytes < 0) {
                *why = "bad metadata block size";
                return -1;
            }
        }
        for (int64_t i = 0; i < count; i++) {
            const unsigned char *k, *v;
            size_t kn, vn;
            if (rd_bytes(r, &k, &kn) != 0 || rd_bytes(r, &v, &vn) != 0) {
                *why = "bad metadata entry";
                return -1;
            }
            if (key_is(k, kn, "avro.schema")) {
                h->schema = v;
                h->schema_len = vn;
            } else if (key_is(k, kn, "avro.codec")) {
                h->codec = v;
                h->codec_len = vn;
            }
        }
    }
    if (r->len - r->pos < 16) {
        r->shortage = true;
        r->want = r->pos + 16;
        *why = "truncated sync marker";
        return -1;
    }
    h->sync = r->p + r->pos;
    r->pos += 16;
    h->len = r->pos;
    return 0;
}

/* What the complete data blocks of the window hold. */
struct blocks {
    int64_t records, bytes;
    size_t end;     /* offset after the last complete block */
    bool malformed; /* a block header or sync did not check out */
};

static void scan_blocks(const unsigned char *p, size_t len, const struct header *h,
                        struct blocks *b)
{
    struct rd r = {p, len, h->len, false, 0};

    b->records = b->bytes = 0;
    b->end = h->len;
    b->malformed = false;
    while (r.pos < len) {
        size_t start = r.pos;
        int64_t count, size;
        if (rd_long(&r, &count) != 0 || rd_long(&r, &size) != 0) {
            b->malformed = !r.shortage;
            return;
        }
        if (count < 0 || size < 0) {
            b->malformed = true;
            return;
        }
        if ((uint64_t)size > len - r.pos || len - r.pos - (size_t)size < 16)
            return; /* the window ends inside this block */
        r.pos += (size_t)size;
        if (memcmp(p + r.pos, h->sync, 16) != 0) {
            b->malformed = true;
            return;
        }
        r.pos += 16;
        if (count > INT64_MAX - b->records) {
            b->malformed = true;
            return;
        }
        b->records += count;
        b->bytes += (int64_t)(r.pos - start);
        b->end = r.pos;
    }
}

/* ---- Schema to catalog types ---- */

struct amap {
    json_t *named; /* full name -> the JSON that defined it (borrowed refs) */
    avro_schema_t stack[SL_AVRO_MAX_DEPTH + 1]; /* records being expanded */
    int n_stack;
    struct sl_cls_result *res; /* for warnings */
    struct sl_err *err;
};

static int json_depth(const json_t *j, int depth)
{
    int max = depth;

    if (depth > AVRO_MAX_JSON_DEPTH)
        return depth;
    if (json_is_object(j)) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)j, k, v)
        {
            int d = json_depth(v, depth + 1);
            if (d > max)
                max = d;
            if (max > AVRO_MAX_JSON_DEPTH)
                break;
        }
    } else if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v)
        {
            int d = json_depth(v, depth + 1);
            if (d > max)
                max = d;
            if (max > AVRO_MAX_JSON_DEPTH)
                break;
        }
    }
    return max;
}

static int oom(struct amap *m)
{
    return sl_err_set(m->err, SL_ENOMEM, "out of memory mapping the avro schema");
}

/*
 * libavro 1.11 leaks the schemas it built so far when a named type is
 * defined twice ("Cannot save record schema"), so a hostile header would leak
 * on every crawl: such schemas are refused here first. Full names follow the
 * Avro specification (a dotted name is full; else the "namespace" attribute;
 * else the enclosing named type's namespace), visiting schema positions only
 * (fields' types, items, values, union members), not defaults or metadata.
 */
static int check_names(const json_t *j, const char *ns, json_t *seen, int depth, struct sl_err *err)
{
    if (depth > AVRO_MAX_JSON_DEPTH)
        return sl_err_set(err, SL_EPARSE, "avro schema: JSON nested deeper than %d",
                          AVRO_MAX_JSON_DEPTH);
    if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v)
        {
            if (check_names(v, ns, seen, depth + 1, err) != SL_OK)
                return SL_EPARSE;
        }
        return SL_OK;
    }
    if (!json_is_object(j))
        return SL_OK;
    json_t *type = json_object_get(j, "type");
    const char *kw = json_string_value(type);
    if (!kw)
        return check_names(type, ns, seen, depth + 1, err);
    const char *name = json_string_value(json_object_get(j, "name"));
    char *full = NULL;
    const char *inner_ns = ns;
    if (name && (!strcmp(kw, "record") || !strcmp(kw, "error") || !strcmp(kw, "enum") ||
                 !strcmp(kw, "fixed"))) {
        const char *own = json_string_value(json_object_get(j, "namespace"));
        if (strchr(name, '.'))
            full = sl_strdup(name);
        else if (own ? *own : ns && *ns)
            full = sl_asprintf("%s.%s", own ? own : ns, name);
        else
            full = sl_strdup(name);
        if (!full)
            return sl_err_set(err, SL_ENOMEM, "out of memory");
        if (json_object_get(seen, full)) {
            sl_err_set(err, SL_EPARSE, "avro schema: type \"%.200s\" is defined twice", full);
            sl_free(full);
            return SL_EPARSE;
        }
        json_object_set_new(seen, full, json_true());
        char *dot = strrchr(full, '.');
        if (dot)
            *dot = '\0';
        inner_ns = dot ? full : "";
    }
    int rc = SL_OK;
    if (!strcmp(kw, "record") || !strcmp(kw, "error")) {
        size_t i;
        json_t *f;
        json_array_foreach(json_object_get(j, "fields"), i, f)
        {
            if ((rc = check_names(json_object_get(f, "type"), inner_ns, seen, depth + 1, err)) !=
                SL_OK)
                break;
        }
    } else if (!strcmp(kw, "array")) {
        rc = check_names(json_object_get(j, "items"), inner_ns, seen, depth + 1, err);
    } else if (!strcmp(kw, "map")) {
        rc = check_names(json_object_get(j, "values"), inner_ns, seen, depth + 1, err);
    }
    sl_free(full);
    return rc;
}

/* "ns.Name" or "Name" for a named schema (record, enum, fixed); owned. */
static char *full_name(avro_schema_t s)
{
    const char *name = avro_schema_name(s);
    const char *ns = avro_schema_namespace(s);

    if (!name)
        name = "";
    if (ns && *ns)
        return sl_asprintf("%s.%s", ns, name);
    return sl_strdup(name);
}

static const char *logical_of(const json_t *j)
{
    return json_is_object(j) ? json_string_value(json_object_get(j, "logicalType")) : NULL;
}

static bool logical_is(const char *lt, const char *s)
{
    return lt && strcmp(lt, s) == 0;
}

static struct sl_ctype *ct_decimal_of(const json_t *j)
{
    json_t *p = json_object_get(j, "precision"), *s = json_object_get(j, "scale");

    if (!json_is_integer(p) || (s && !json_is_integer(s)))
        return NULL;
    json_int_t precision = json_integer_value(p), scale = s ? json_integer_value(s) : 0;
    /* an invalid decimal is ignored (Avro spec); beyond 38 digits Hive has none */
    if (precision < 1 || precision > 38 || scale < 0 || scale > precision)
        return NULL;
    return sl_ctype_decimal((int)precision, (int)scale);
}

static struct sl_ctype *ct_timestamp(enum sl_ct_tz tz)
{
    struct sl_ctype *t = sl_ctype_new(SL_CT_TIMESTAMP);
    if (t)
        t->tz = tz;
    return t;
}

static int map_type(struct amap *m, avro_schema_t s, const json_t *j, int depth,
                    struct sl_ctype **out);

static int map_record(struct amap *m, avro_schema_t s, const json_t *j, int depth,
                      struct sl_ctype **out)
{
    struct sl_ctype *st;
    const json_t *jf = json_object_get(j, "fields");
    size_t n = avro_schema_record_size(s);

    for (int i = 0; i < m->n_stack; i++) {
        if (m->stack[i] == s) {
            char *fn = full_name(s);
            sl_cls_warn(m->res, "RECURSIVE_TYPE",
                        "avro record \"%s\" contains itself; typed string", fn ? fn : "?");
            sl_free(fn);
            *out = sl_ctype_new(SL_CT_STRING);
            return *out ? SL_OK : oom(m);
        }
    }
    if (m->n_stack >= SL_AVRO_MAX_DEPTH)
        return sl_err_set(m->err, SL_EPARSE, "avro schema: records nested deeper than %d",
                          SL_AVRO_MAX_DEPTH);
    if (!(st = sl_ctype_new(SL_CT_STRUCT)))
        return oom(m);
    m->stack[m->n_stack++] = s;
    for (size_t i = 0; i < n; i++) {
        const char *name = avro_schema_record_field_name(s, (int)i);
        avro_schema_t fs = avro_schema_record_field_get_by_index(s, (int)i);
        const json_t *fj = json_array_get(jf, i);
        const json_t *ft = NULL;
        struct sl_ctype *ty = NULL;
        if (json_is_object(fj) && name && json_is_string(json_object_get(fj, "name")) &&
            strcmp(json_string_value(json_object_get(fj, "name")), name) == 0)
            ft = json_object_get(fj, "type");
        int rc = fs && name ? map_type(m, fs, ft, depth + 1, &ty)
                            : sl_err_set(m->err, SL_EPARSE, "avro schema: field %zu unreadable", i);
        if (rc == SL_OK)
            rc = sl_ctype_struct_add_take(st, name, ty, m->err);
        if (rc != SL_OK) {
            m->n_stack--;
            sl_ctype_free(st);
            return rc;
        }
    }
    m->n_stack--;
    *out = st;
    return SL_OK;
}

/* Several non-null union members: the widest numeric type when all are plain
 * int/long/float/double (int+long -> bigint; with a float or double -> double
 * unless all are float); else struct<member0:..,member1:..>, numbered over
 * the non-null members as Spark does. Takes the members. */
static int union_of(struct amap *m, struct sl_ctype **mem, size_t n, struct sl_ctype **out)
{
    bool numeric = true, all_float = true, any_fp = false, any_long = false;

    for (size_t i = 0; i < n; i++) {
        enum sl_ct_kind k = mem[i]->kind;
        numeric = numeric &&
                  (k == SL_CT_INT || k == SL_CT_BIGINT || k == SL_CT_FLOAT || k == SL_CT_DOUBLE);
        all_float = all_float && k == SL_CT_FLOAT;
        any_fp = any_fp || k == SL_CT_FLOAT || k == SL_CT_DOUBLE;
        any_long = any_long || k == SL_CT_BIGINT;
    }
    if (numeric) {
        /* int + float is double: a float cannot hold every int exactly */
        enum sl_ct_kind k = all_float  ? SL_CT_FLOAT
                            : any_fp   ? SL_CT_DOUBLE
                            : any_long ? SL_CT_BIGINT
                                       : SL_CT_INT;
        for (size_t i = 0; i < n; i++)
            sl_ctype_free(mem[i]);
        *out = sl_ctype_new(k);
        return *out ? SL_OK : oom(m);
    }
    struct sl_ctype *st = sl_ctype_new(SL_CT_STRUCT);
    int rc = st ? SL_OK : oom(m);
    for (size_t i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof name, "member%zu", i);
        if (rc == SL_OK)
            rc = sl_ctype_struct_add_take(st, name, mem[i], m->err);
        else
            sl_ctype_free(mem[i]);
    }
    if (rc != SL_OK) {
        sl_ctype_free(st);
        return rc;
    }
    *out = st;
    return SL_OK;
}

static int map_union(struct amap *m, avro_schema_t s, const json_t *j, int depth,
                     struct sl_ctype **out)
{
    size_t n = avro_schema_union_size(s), k = 0;
    struct sl_ctype **mem = n ? sl_calloc(n, sizeof *mem) : NULL;
    int rc = SL_OK;

    if (n && !mem)
        return oom(m);
    for (size_t i = 0; i < n && rc == SL_OK; i++) {
        avro_schema_t b = avro_schema_union_branch(s, (int)i);
        if (!b) {
            rc = sl_err_set(m->err, SL_EPARSE, "avro schema: union branch %zu unreadable", i);
            break;
        }
        if (is_avro_null(b))
            continue;
        rc = map_type(m, b, json_is_array(j) ? json_array_get(j, i) : NULL, depth + 1, &mem[k]);
        if (rc == SL_OK)
            k++;
    }
    if (rc == SL_OK) {
        if (k == 0) {
            *out = sl_ctype_new(SL_CT_NULL);
            rc = *out ? SL_OK : oom(m);
        } else if (k == 1) {
            *out = mem[0]; /* [null, T] -> T, nullable */
        } else {
            rc = union_of(m, mem, k, out);
        }
    } else {
        for (size_t i = 0; i < k; i++)
            sl_ctype_free(mem[i]);
    }
    sl_free(mem);
    return rc;
}

/* The §9 Avro column: s is libavro's node, j the JSON that wrote it (NULL
 * when unknown: then no logical type is seen). */
static int map_type(struct amap *m, avro_schema_t s, const json_t *j, int depth,
                    struct sl_ctype **out)
{
    struct sl_ctype *t = NULL;

    *out = NULL;
    if (depth > SL_AVRO_MAX_DEPTH)
        return sl_err_set(m->err, SL_EPARSE, "avro schema: nesting deeper than %d",
                          SL_AVRO_MAX_DEPTH);
    while (s && is_avro_link(s)) {
        s = avro_schema_link_target(s);
        j = NULL;
    }
    if (!s)
        return sl_err_set(m->err, SL_EPARSE, "avro schema: unresolved reference");
    /* {"type": {...}} and {"type": [...]} wrap a schema in a schema */
    while (json_is_object(j) && !json_is_string(json_object_get(j, "type")) &&
           json_object_get(j, "type"))
        j = json_object_get(j, "type");

    /* a named type used by name: its definition carries the logical type */
    bool named = is_avro_record(s) || is_avro_enum(s) || is_avro_fixed(s);
    char *fn = named ? full_name(s) : NULL;
    if (named && !fn)
        return oom(m);
    if (named) {
        const char *kw = json_string_value(json_object_get(j, "type"));
        if (kw && (!strcmp(kw, "record") || !strcmp(kw, "error") || !strcmp(kw, "enum") ||
                   !strcmp(kw, "fixed")))
            json_object_set(m->named, fn, (json_t *)j); /* the definition */
        else
            j = json_object_get(m->named, fn); /* a use by name */
        sl_free(fn);
    }
    const char *lt = logical_of(j);

    switch (avro_typeof(s)) {
    case AVRO_STRING:
        t = sl_ctype_new(SL_CT_STRING); /* uuid included */
        break;
    case AVRO_BYTES:
    case AVRO_FIXED:
        if (!logical_is(lt, "decimal") || !(t = ct_decimal_of(j)))
            t = sl_ctype_new(SL_CT_BINARY);
        break;
    case AVRO_INT32:
        t = sl_ctype_new(logical_is(lt, "date")          ? SL_CT_DATE
                         : logical_is(lt, "time-millis") ? SL_CT_STRING
                                                         : SL_CT_INT);
        break;
    case AVRO_INT64:
        if (logical_is(lt, "timestamp-millis") || logical_is(lt, "timestamp-micros") ||
            logical_is(lt, "timestamp-nanos"))
            t = ct_timestamp(SL_CT_TZ_EXPLICIT);
        else if (logical_is(lt, "local-timestamp-millis") ||
                 logical_is(lt, "local-timestamp-micros") ||
                 logical_is(lt, "local-timestamp-nanos"))
            t = ct_timestamp(SL_CT_TZ_NAIVE);
        else
            t = sl_ctype_new(logical_is(lt, "time-micros") ? SL_CT_STRING : SL_CT_BIGINT);
        break;
    case AVRO_FLOAT: t = sl_ctype_new(SL_CT_FLOAT); break;
    case AVRO_DOUBLE: t = sl_ctype_new(SL_CT_DOUBLE); break;
    case AVRO_BOOLEAN: t = sl_ctype_new(SL_CT_BOOLEAN); break;
    case AVRO_NULL: t = sl_ctype_new(SL_CT_NULL); break;
    case AVRO_ENUM: t = sl_ctype_new(SL_CT_STRING); break;
    case AVRO_RECORD: return map_record(m, s, j, depth, out);
    case AVRO_UNION: return map_union(m, s, j, depth, out);
    case AVRO_ARRAY: {
        struct sl_ctype *e = NULL;
        avro_schema_t items = avro_schema_array_items(s);
        int rc = items ? map_type(m, items, json_object_get(j, "items"), depth + 1, &e)
                       : sl_err_set(m->err, SL_EPARSE, "avro schema: array without items");
        if (rc != SL_OK)
            return rc;
        if (!(*out = sl_ctype_array_take(e)))
            return oom(m);
        return SL_OK;
    }
    case AVRO_MAP: {
        struct sl_ctype *k = NULL, *v = NULL;
        avro_schema_t values = avro_schema_map_values(s);
        int rc = values ? map_type(m, values, json_object_get(j, "values"), depth + 1, &v)
                        : sl_err_set(m->err, SL_EPARSE, "avro schema: map without values");
        if (rc != SL_OK)
            return rc;
        if (!(k = sl_ctype_new(SL_CT_STRING))) {
            sl_ctype_free(v);
            return oom(m);
        }
        if (!(*out = sl_ctype_map_take(k, v)))
            return oom(m);
        return SL_OK;
    }
    default:
        return sl_err_set(m->err, SL_EPARSE, "avro schema: unknown type %d", (int)avro_typeof(s));
    }
    if (!t)
        return oom(m);
    *out = t;
    return SL_OK;
}

static int add_column(struct sl_cschema *sc, const char *src, size_t j, struct sl_ctype *ty,
                      struct sl_err *err)
{
    char *name = sl_colname_normalise(src, strlen(src), j);

    if (!name) {
        sl_ctype_free(ty);
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    int rc = sl_cschema_add_take(sc, name, strcmp(name, src) != 0 ? src : NULL, ty, err);
    sl_free(name);
    return rc;
}

/* The columns of the writer's schema (JSON text of avro.schema). */
static int schema_columns(const unsigned char *text, size_t len, struct sl_cschema *sc,
                          struct sl_cls_result *res, struct sl_err *err)
{
    json_error_t jerr;
    avro_schema_t s = NULL;
    struct amap m = {NULL, {0}, 0, res, err};
    struct sl_ctype *ty = NULL;
    int rc = SL_OK;
    json_t *j = json_loadb((const char *)text, len, JSON_DECODE_ANY, &jerr);

    if (!j) {
        rc = sl_err_set(err, SL_EPARSE, "avro schema: not JSON at character %d: %s", jerr.position,
                        jerr.text);
        goto out;
    }
    /* libavro's schema parser recurses without a limit: measure first */
    if (json_depth(j, 0) > AVRO_MAX_JSON_DEPTH) {
        rc = sl_err_set(err, SL_EPARSE, "avro schema: JSON nested deeper than %d",
                        AVRO_MAX_JSON_DEPTH);
        goto out;
    }
    if (!(m.named = json_object())) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = check_names(j, "", m.named, 0, err)) != SL_OK)
        goto out;
    json_object_clear(m.named);
    if (avro_schema_from_json_length((const char *)text, len, &s) != 0 || !s) {
        const char *why = avro_strerror();
        rc = sl_err_set(err, SL_EPARSE, "avro schema: %s", why && *why ? why : "rejected");
        s = NULL;
        goto out;
    }
    avro_schema_t top = s;
    const json_t *jtop = j;
    while (top && is_avro_link(top))
        top = avro_schema_link_target(top);
    if (top && is_avro_record(top)) {
        /* columns are the record's fields; the record itself is on the stack
         * so that a field referring back to it is caught */
        const json_t *jf = json_object_get(json_is_object(jtop) ? jtop : NULL, "fields");
        char *fn = full_name(top);
        if (!fn) {
            rc = sl_err_set(err, SL_ENOMEM, "out of memory");
            goto out;
        }
        json_object_set(m.named, fn, (json_t *)jtop);
        sl_free(fn);
        m.stack[m.n_stack++] = top;
        size_t n = avro_schema_record_size(top);
        for (size_t i = 0; i < n && rc == SL_OK; i++) {
            const char *name = avro_schema_record_field_name(top, (int)i);
            avro_schema_t fs = avro_schema_record_field_get_by_index(top, (int)i);
            const json_t *fj = json_array_get(jf, i), *ft = NULL;
            if (!name || !fs) {
                rc = sl_err_set(err, SL_EPARSE, "avro schema: field %zu unreadable", i);
                break;
            }
            if (json_is_object(fj) && json_is_string(json_object_get(fj, "name")) &&
                strcmp(json_string_value(json_object_get(fj, "name")), name) == 0)
                ft = json_object_get(fj, "type");
            if ((rc = map_type(&m, fs, ft, 1, &ty)) == SL_OK)
                rc = add_column(sc, name, i, ty, err);
            ty = NULL;
        }
    } else if ((rc = map_type(&m, s, j, 1, &ty)) == SL_OK) {
        rc = add_column(sc, "col0", 0, ty, err);
    }
    if (rc == SL_OK)
        rc = sl_cschema_dedupe_names(sc, err);
out:
    json_decref(m.named);
    json_decref(j);
    if (s)
        avro_schema_decref(s);
    return rc;
}

/* ---- The classifier ---- */

static bool printable(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x21 || s[i] > 0x7e)
            return false;
    return true;
}

/* The next window: double (at least 64 KiB), or more when a length field
 * already says how far the header goes (plus 4 KiB for the rest of it: the
 * codec entry and the sync marker usually follow the schema); never above
 * SL_AVRO_HEAD_MAX unless want itself is. */
static size_t grow(size_t len, size_t want)
{
    size_t n = len < SL_AVRO_HEAD_INITIAL / 2 ? SL_AVRO_HEAD_INITIAL : len * 2;

    if (want > n)
        n = want + (want <= SL_AVRO_HEAD_MAX - 4096 ? 4096 : 0);
    return n > SL_AVRO_HEAD_MAX && want <= SL_AVRO_HEAD_MAX ? SL_AVRO_HEAD_MAX : n;
}

int sl_avro_classify(const unsigned char *head, size_t len, bool at_eof, size_t *need,
                     struct sl_cls_result *out, struct sl_err *err)
{
    struct rd r = {head, len, 0, false, 0};
    struct header h = {NULL, NULL, 0, 0, NULL, 0};
    struct blocks b;
    struct sl_cschema sc = {NULL, 0};
    json_t *params = NULL;
    const char *why = "";
    char codec[40] = "null";
    size_t n_warnings = out->n_warnings; /* restored on failure */
    int rc;

    *need = 0;
    if (len && !head)
        return sl_err_set(err, SL_ECONFIG, "avro: no bytes for a window of %zu", len);
    if (len < 4) {
        if (!at_eof && (len == 0 || memcmp(head, "Obj\x01", len) == 0)) {
            *need = grow(len, 4);
            return sl_err_set(err, SL_ELIMIT, "avro: %zu bytes are too few to tell", len);
        }
        out->certainty = 0;
        snprintf(out->reason, sizeof out->reason, "no Obj\\x01 magic");
        return SL_OK;
    }
    if (memcmp(head, "Obj\x01", 4) != 0) {
        out->certainty = 0;
        snprintf(out->reason, sizeof out->reason, "no Obj\\x01 magic");
        return SL_OK;
    }
    if (read_header(&r, &h, &why) != 0) {
        if (!r.shortage || at_eof)
            return sl_err_set(err, SL_EPARSE, "avro header: byte %zu: %s", r.pos,
                              r.shortage ? "truncated" : why);
        size_t want = grow(len, r.want > len ? r.want : len + 1);
        if (len >= SL_AVRO_HEAD_MAX || want > SL_AVRO_HEAD_MAX)
            return sl_err_set(err, SL_ELIMIT, "avro header: longer than %zu bytes",
                              SL_AVRO_HEAD_MAX);
        *need = want;
        return sl_err_set(err, SL_ELIMIT, "avro header: continues past byte %zu", len);
    }
    if (!h.schema)
        return sl_err_set(err, SL_EPARSE, "avro header: no avro.schema");
    if (h.codec) {
        if (h.codec_len && h.codec_len < sizeof codec && printable(h.codec, h.codec_len))
            snprintf(codec, sizeof codec, "%.*s", (int)h.codec_len, (const char *)h.codec);
        else
            snprintf(codec, sizeof codec, "unknown");
    }
    if ((rc = schema_columns(h.schema, h.schema_len, &sc, out, err)) != SL_OK)
        goto fail;

    scan_blocks(head, len, &h, &b);
    params = json_object();
    if (!params || json_object_set_new(params, "sluice.codec", json_string(codec)) ||
        json_object_set_new(params, "compressionType", json_string("none"))) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto fail;
    }
    if (b.malformed)
        sl_cls_warn(out, "MALFORMED_RECORDS", "avro data block at byte %zu does not check out",
                    b.end);

    if ((rc = sl_cls_result_accept(out, "avro", params, &sc, err)) != SL_OK)
        goto fail;
    params = NULL;
    out->n_records = b.records;
    out->records_exact = at_eof && !b.malformed && b.end == len;
    out->avg_record_bytes = b.records > 0 ? (double)b.bytes / (double)b.records : 0.0;
    out->decoded_bytes = (int64_t)b.end;
    out->truncated = !out->records_exact;
    return SL_OK;
fail:
    out->n_warnings = n_warnings;
    json_decref(params);
    sl_cschema_cleanup(&sc);
    return rc;
}
