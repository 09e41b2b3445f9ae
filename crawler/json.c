/*
 * crawler/json.c - the JSON classifier (spec/crawler.md §8; see json.h).
 * A small hand-written scanner walks the byte window once, without building a
 * value tree: each record's type is built as a struct sl_ctype tree and, only
 * when the record turned out complete, merged in place into the column types.
 * The lattice and its join are ctype.c's; column-name normalisation is
 * schema.c's. The catalog reader that later parses these files is elsewhere.
 */
#include "crawler/json.h"

#include <stdint.h>
#include <string.h>

#include "crawler/infer.h"
#include "runtime/alloc.h"
#include "runtime/hash.h"
#include "runtime/buf.h"

/*
 * How it works. The window is scanned by recursive descent with three kinds
 * of outcome per value: complete, cut (the window ended inside the value) and
 * bad (a syntax error, invalid UTF-8, a raw control character). Cut is only
 * possible when !at_eof; at the end of the object an unfinished value is bad.
 *
 * Recursion is bounded: containers nested deeper than json_max_depth (counted
 * from the record, the record itself being depth 1) get type string and are
 * validated by skip_value(), which is iterative with an explicit stack. The
 * JSONPath walker adds at most MAX_SEGS frames.
 *
 * Types: scalars use the static types below (no allocation per value);
 * objects and arrays build owned sl_ctype trees. merge_take() joins a value's
 * type into an accumulator in place (struct fields in first-seen order, array
 * elements, map values), and calls sl_ctype_join() for everything else, so
 * the rules of §7.1 live in one place. A struct that shows more than
 * json_map_key_threshold distinct keys becomes map<string,V>; the record
 * itself is not a struct but a set of columns, so it never becomes a map.
 * A nested key longer than FIELD_NAME_MAX bytes also makes its object a map:
 * such keys are data, and the type string must stay readable by ctype.c.
 *
 * Lines / concatenated: after a bad value the scan resumes at the next line
 * that starts with '{' at or after the line holding the error, so each byte is
 * re-scanned at most about twice and hostile input stays linear.
 */

#define MAX_SEGS 32             /* JSONPath segments; deeper paths are a config error */
#define MAX_DEPTH_CAP 64        /* ctype.c parses types nested at most 64 deep */
#define MAP_THRESHOLD_CAP 4096  /* field lookups are linear: keep objects small */
#define FIELD_NAME_MAX 255      /* Glue's column-name limit: a longer key is data, not a name */
#define MALFORMED_MAX 0.01      /* §8.1: up to 1% of records may fail to parse */
#define CERT_DOCUMENT 0.6       /* §5: a single document */
#define SCRATCH_MAX ((size_t)1 << 30)

enum pst { P_OK = 0, P_CUT, P_BAD, P_STOP, P_NOMEM };

/* ---- Static scalar types (never freed) ---- */

static const struct sl_ctype T_NULL = { .kind = SL_CT_NULL };
static const struct sl_ctype T_BOOL = { .kind = SL_CT_BOOLEAN };
static const struct sl_ctype T_BIGINT = { .kind = SL_CT_BIGINT };
static const struct sl_ctype T_DOUBLE = { .kind = SL_CT_DOUBLE };
static const struct sl_ctype T_STRING = { .kind = SL_CT_STRING };
static const struct sl_ctype T_DATE = { .kind = SL_CT_DATE };
static const struct sl_ctype T_TS_NAIVE = { .kind = SL_CT_TIMESTAMP, .tz = SL_CT_TZ_NAIVE };
static const struct sl_ctype T_TS_ZONED = { .kind = SL_CT_TIMESTAMP, .tz = SL_CT_TZ_EXPLICIT };
#define DEC(p) { .kind = SL_CT_DECIMAL, .precision = (p), .scale = 0 }
static const struct sl_ctype T_DEC[39] = {
    [19] = DEC(19), [20] = DEC(20), [21] = DEC(21), [22] = DEC(22), [23] = DEC(23),
    [24] = DEC(24), [25] = DEC(25), [26] = DEC(26), [27] = DEC(27), [28] = DEC(28),
    [29] = DEC(29), [30] = DEC(30), [31] = DEC(31), [32] = DEC(32), [33] = DEC(33),
    [34] = DEC(34), [35] = DEC(35), [36] = DEC(36), [37] = DEC(37), [38] = DEC(38),
};
#undef DEC

/* A value's type: t is either own (heap, owned by whoever holds the tval) or
 * one of the static types above (own == NULL). */
struct tval {
    const struct sl_ctype *t;
    struct sl_ctype *own;
};

static struct tval tv_static(const struct sl_ctype *t)
{
    struct tval v = { t, NULL };
    return v;
}

static struct tval tv_own(struct sl_ctype *t)
{
    struct tval v = { t, t };
    return v;
}

/* ---- Scanner state ---- */

struct jseg {
    bool wild;     /* [*] or .* */
    char *name;    /* owned; NUL-free */
    size_t len;
};

/* One top-level column (source key, joined type). */
struct jcol {
    char *src;              /* owned; decoded key */
    size_t src_len;
    struct sl_ctype *type;  /* owned; NULL while only nulls were seen */
    int64_t n_values;       /* records with a non-null value */
    int64_t last_rec;       /* record id that last counted in n_values */
};

/* A field of the record being parsed; merged into the columns on success. */
struct jpend {
    size_t key_off, key_len; /* in jctx.pkeys */
    struct tval v;
};

struct jctx {
    const char *base, *p, *end;
    bool at_eof;
    int max_depth;
    size_t map_threshold;
    bool temporal;
    struct sl_infer_cfg infer; /* date/timestamp recognition */
    size_t sample_rows;
    struct sl_err *err;

    struct sl_buf key;   /* scratch: the last decoded key */
    struct sl_buf stack; /* skip_value(): open brackets */

    struct jcol *cols;
    size_t n_cols, cap_cols;
    size_t *slots;       /* open addressing: column index + 1, 0 = empty */
    size_t n_slots;      /* power of two */

    struct jpend *pend;
    size_t n_pend, cap_pend;
    struct sl_buf pkeys;

    struct sl_ctype *value_type; /* join of the non-object records */
    int64_t n_obj, n_nonobj, n_value_values;
    int64_t n_good;      /* complete records used */
    int64_t n_malformed;
    const char *rec_end; /* end of the last complete record */

    const struct jseg *segs;
    size_t n_segs;
    bool use_path;
    bool matched;        /* the path reached its end in the current top-level value */
};

static enum pst end_status(const struct jctx *c)
{
    return c->at_eof ? P_BAD : P_CUT;
}

static bool is_ws(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

static void skip_ws(struct jctx *c)
{
    while (c->p < c->end && is_ws(*c->p))
        c->p++;
}

/* ---- Strings ---- */

/* Length of the valid UTF-8 sequence at s (first byte >= 0x80), 0 when
 * invalid, -1 when the window ends inside an otherwise valid prefix. */
static int utf8_seq(const unsigned char *s, const unsigned char *end)
{
    unsigned char b = s[0];
    int n;
    unsigned char lo = 0x80, hi = 0xBF;

    if (b >= 0xC2 && b <= 0xDF) {
        n = 2;
    } else if (b >= 0xE0 && b <= 0xEF) {
        n = 3;
        if (b == 0xE0)
            lo = 0xA0;
        else if (b == 0xED)
            hi = 0x9F; /* no UTF-16 surrogates */
    } else if (b >= 0xF0 && b <= 0xF4) {
        n = 4;
        if (b == 0xF0)
            lo = 0x90;
        else if (b == 0xF4)
            hi = 0x8F;
    } else {
        return 0;
    }
    for (int i = 1; i < n; i++) {
        if (s + i >= end)
            return -1;
        unsigned char cb = s[i];
        if (i == 1 ? (cb < lo || cb > hi) : (cb < 0x80 || cb > 0xBF))
            return 0;
    }
    return n;
}

/* Scans the string at c->p (on the opening quote). On P_OK, [*s, *e) is the
 * raw content and c->p is past the closing quote. */
static enum pst scan_string(struct jctx *c, const char **s, const char **e, bool *has_esc)
{
    const unsigned char *p = (const unsigned char *)c->p + 1;
    const unsigned char *end = (const unsigned char *)c->end;

    *has_esc = false;
    *s = (const char *)p;
    for (;;) {
        while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
            p++;
        if (p >= end) {
            c->p = (const char *)p;
            return end_status(c);
        }
        if (*p == '"') {
            *e = (const char *)p;
            c->p = (const char *)p + 1;
            return P_OK;
        }
        if (*p == '\\') {
            *has_esc = true;
            if (p + 1 >= end) {
                c->p = (const char *)p;
                return end_status(c);
            }
            unsigned char x = p[1];
            if (x == 'u') {
                for (int i = 0; i < 4; i++) {
                    if (p + 2 + i >= end) {
                        c->p = (const char *)p;
                        return end_status(c);
                    }
                    if (sl_hex_digit((unsigned char)p[2 + i]) < 0) {
                        c->p = (const char *)p;
                        return P_BAD;
                    }
                }
                p += 6;
            } else if (x == '"' || x == '\\' || x == '/' || x == 'b' || x == 'f' || x == 'n' ||
                       x == 'r' || x == 't') {
                p += 2;
            } else {
                c->p = (const char *)p;
                return P_BAD;
            }
            continue;
        }
        if (*p < 0x20) {
            c->p = (const char *)p;
            return P_BAD; /* raw control character */
        }
        int n = utf8_seq(p, end);
        if (n <= 0) {
            c->p = (const char *)p;
            return n < 0 ? end_status(c) : P_BAD;
        }
        p += n;
    }
}

static int put_utf8(struct sl_buf *b, unsigned cp, struct sl_err *err)
{
    char u[4];
    size_t n;

    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return sl_buf_append(b, u, n, err);
}

static unsigned hex4(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    return (unsigned)(sl_hex_digit(u[0]) << 12 | sl_hex_digit(u[1]) << 8 | sl_hex_digit(u[2]) << 4 |
                      sl_hex_digit(u[3]));
}

/* Decodes validated string content [s, e) into b (appended). U+0000 and lone
 * surrogates become U+FFFD: names must be C strings. */
static int decode_string(const char *s, const char *e, bool has_esc, struct sl_buf *b,
                         struct sl_err *err)
{
    if (!has_esc)
        return sl_buf_append(b, s, (size_t)(e - s), err);
    while (s < e) {
        const char *q = s;
        while (q < e && *q != '\\')
            q++;
        if (q > s && sl_buf_append(b, s, (size_t)(q - s), err) != SL_OK)
            return err->code;
        if (q >= e)
            break;
        char x = q[1];
        int rc = SL_OK;
        s = q + 2;
        switch (x) {
        case 'b': rc = sl_buf_putc(b, '\b', err); break;
        case 'f': rc = sl_buf_putc(b, '\f', err); break;
        case 'n': rc = sl_buf_putc(b, '\n', err); break;
        case 'r': rc = sl_buf_putc(b, '\r', err); break;
        case 't': rc = sl_buf_putc(b, '\t', err); break;
        case 'u': {
            unsigned cp = hex4(q + 2);
            s = q + 6;
            if (cp >= 0xD800 && cp <= 0xDBFF && e - s >= 6 && s[0] == '\\' && s[1] == 'u') {
                unsigned lo = hex4(s + 2);
                if (lo >= 0xDC00 && lo <= 0xDFFF) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    s += 6;
                }
            }
            if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF))
                cp = 0xFFFD;
            rc = put_utf8(b, cp, err);
            break;
        }
        default: rc = sl_buf_putc(b, x, err); break; /* " \ / */
        }
        if (rc != SL_OK)
            return rc;
    }
    return SL_OK;
}

/* Scans the key at c->p into c->key (replaced). */
static enum pst scan_key(struct jctx *c)
{
    const char *s, *e;
    bool esc;

    if (c->p >= c->end)
        return end_status(c);
    if (*c->p != '"')
        return P_BAD;
    enum pst st = scan_string(c, &s, &e, &esc);
    if (st != P_OK)
        return st;
    sl_buf_reset(&c->key);
    if (decode_string(s, e, esc, &c->key, c->err) != SL_OK)
        return P_NOMEM;
    if (sl_buf_reserve(&c->key, 1, c->err) != SL_OK) /* data is non-NULL, even for "" */
        return P_NOMEM;
    c->key.data[c->key.len] = '\0';
    return P_OK;
}

/* Scans a key at c->p without decoding it. */
static enum pst skip_key(struct jctx *c)
{
    const char *s, *e;
    bool esc;

    if (c->p >= c->end)
        return end_status(c);
    if (*c->p != '"')
        return P_BAD;
    return scan_string(c, &s, &e, &esc);
}

/* ---- ISO dates and timestamps (§7.2, ISO forms only) ---- */

/* infer.c's recogniser, restricted to the ISO-8601 family (§8.2): the static
 * type for a date or timestamp string, or NULL. A string with blanks around
 * it stays a string (the recogniser would trim them). */
static const struct sl_ctype *iso_temporal(const struct sl_infer_cfg *cfg, const char *s, size_t n)
{
    struct sl_infer_value v;

    if (n < 10 || n > 48 || s[0] < '0' || s[0] > '9' || s[4] != '-' || s[n - 1] == ' ' ||
        s[n - 1] == '\t')
        return NULL;
    switch (sl_infer_classify(cfg, s, n, &v)) {
    case SL_INFER_DATE:
        return v.date_mask == SL_INFER_DATE_ISO ? &T_DATE : NULL;
    case SL_INFER_TIMESTAMP:
        if (v.date_mask != SL_INFER_DATE_ISO)
            return NULL;
        return v.ts_flags & SL_INFER_TS_ZONED ? &T_TS_ZONED : &T_TS_NAIVE;
    default:
        return NULL;
    }
}

/* ---- Numbers and literals ---- */

/* §8.2: integers are bigint within int64, decimal(d,0) up to 38 digits,
 * else double; anything with '.' or an exponent is double. */
static enum pst scan_number(struct jctx *c, const struct sl_ctype **t)
{
    const char *p = c->p, *end = c->end;
    bool neg = false, is_int = true;

    if (*p == '-') {
        neg = true;
        p++;
    }
    const char *ds = p;
    if (p >= end)
        goto cut;
    if (*p == '0') {
        p++;
    } else if (*p >= '1' && *p <= '9') {
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    } else {
        c->p = p;
        return P_BAD;
    }
    size_t n_digits = (size_t)(p - ds);
    if (p < end && *p == '.') {
        is_int = false;
        p++;
        const char *f = p;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
        if (p == f) {
            if (p >= end)
                goto cut;
            c->p = p;
            return P_BAD;
        }
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        is_int = false;
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        const char *x = p;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
        if (p == x) {
            if (p >= end)
                goto cut;
            c->p = p;
            return P_BAD;
        }
    }
    if (p >= end && !c->at_eof)
        goto cut; /* more digits may follow */
    c->p = p;
    if (!is_int) {
        *t = &T_DOUBLE;
    } else if (n_digits < 19 ||
               (n_digits == 19 &&
                memcmp(ds, neg ? "9223372036854775808" : "9223372036854775807", 19) <= 0)) {
        *t = &T_BIGINT;
    } else if (n_digits <= 38) {
        *t = &T_DEC[n_digits];
    } else {
        *t = &T_DOUBLE;
    }
    return P_OK;
cut:
    c->p = p;
    return end_status(c);
}

static enum pst scan_literal(struct jctx *c, const char *word, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (c->p + i >= c->end) {
            c->p += i;
            return end_status(c);
        }
        if (c->p[i] != word[i]) {
            c->p += i;
            return P_BAD;
        }
    }
    c->p += n;
    return P_OK;
}

static enum pst scan_scalar(struct jctx *c, const struct sl_ctype **t)
{
    const char *s, *e;
    bool esc;
    enum pst st;

    switch (*c->p) {
    case '"':
        st = scan_string(c, &s, &e, &esc);
        if (st == P_OK) {
            const struct sl_ctype *tt = NULL;
            if (c->temporal && !esc)
                tt = iso_temporal(&c->infer, s, (size_t)(e - s));
            *t = tt ? tt : &T_STRING;
        }
        return st;
    case 't':
        *t = &T_BOOL;
        return scan_literal(c, "true", 4);
    case 'f':
        *t = &T_BOOL;
        return scan_literal(c, "false", 5);
    case 'n':
        *t = &T_NULL;
        return scan_literal(c, "null", 4);
    default:
        if (*c->p == '-' || (*c->p >= '0' && *c->p <= '9'))
            return scan_number(c, t);
        return P_BAD;
    }
}

/* ---- Skipping (iterative, any depth) ---- */

/* Validates and skips one value at c->p without building its type. */
static enum pst skip_value(struct jctx *c)
{
    struct sl_buf *stk = &c->stack;
    const struct sl_ctype *t;
    enum pst st;

    sl_buf_reset(stk);
    for (;;) {
        /* a value */
        skip_ws(c);
        if (c->p >= c->end)
            return end_status(c);
        char ch = *c->p;
        if (ch == '{' || ch == '[') {
            if (sl_buf_putc(stk, ch, c->err) != SL_OK)
                return c->err->code == SL_ELIMIT ? P_BAD : P_NOMEM;
            c->p++;
            skip_ws(c);
            if (c->p >= c->end)
                return end_status(c);
            if (*c->p == (ch == '{' ? '}' : ']')) {
                c->p++;
                stk->len--;
            } else if (ch == '{') {
                if ((st = skip_key(c)) != P_OK)
                    return st;
                skip_ws(c);
                if (c->p >= c->end)
                    return end_status(c);
                if (*c->p != ':')
                    return P_BAD;
                c->p++;
                continue;
            } else {
                continue;
            }
        } else if ((st = scan_scalar(c, &t)) != P_OK) {
            return st;
        }
        /* after a value: close containers or go on to the next member */
        for (;;) {
            if (stk->len == 0)
                return P_OK;
            char open = stk->data[stk->len - 1];
            skip_ws(c);
            if (c->p >= c->end)
                return end_status(c);
            if (*c->p == ',') {
                c->p++;
                if (open == '{') {
                    skip_ws(c);
                    if ((st = skip_key(c)) != P_OK)
                        return st;
                    skip_ws(c);
                    if (c->p >= c->end)
                        return end_status(c);
                    if (*c->p != ':')
                        return P_BAD;
                    c->p++;
                }
                break;
            }
            if (*c->p != (open == '{' ? '}' : ']'))
                return P_BAD;
            c->p++;
            stk->len--;
        }
    }
}

/* ---- Merging types in place ---- */

static int merge_take(struct jctx *c, struct sl_ctype **acc, struct tval v);

/* The child tval of v: stolen from v.own (left NULL there) or borrowed. */
static struct tval child_of(struct sl_ctype **slot_in_own, const struct sl_ctype *borrowed)
{
    if (slot_in_own) {
        struct sl_ctype *t = *slot_in_own;
        *slot_in_own = NULL;
        return t ? tv_own(t) : tv_static(&T_NULL);
    }
    return tv_static(borrowed ? borrowed : &T_NULL);
}

/* Replaces the struct *acc by map<string, join of its field types>. */
static int struct_to_map(struct jctx *c, struct sl_ctype **acc)
{
    struct sl_ctype *st = *acc, *val = NULL;

    for (size_t i = 0; i < st->n_fields; i++) {
        if (merge_take(c, &val, child_of(&st->fields[i].type, NULL)) != SL_OK) {
            sl_ctype_free(val);
            return SL_ENOMEM;
        }
    }
    if (!val && !(val = sl_ctype_new(SL_CT_NULL)))
        return SL_ENOMEM;
    struct sl_ctype *key = sl_ctype_new(SL_CT_STRING);
    if (!key) {
        sl_ctype_free(val);
        return SL_ENOMEM;
    }
    struct sl_ctype *m = sl_ctype_map_take(key, val);
    if (!m)
        return SL_ENOMEM;
    sl_ctype_free(st);
    *acc = m;
    return SL_OK;
}

static size_t find_field(const struct sl_ctype *st, const char *name, size_t hint)
{
    if (hint < st->n_fields && strcmp(st->fields[hint].name, name) == 0)
        return hint;
    for (size_t i = 0; i < st->n_fields; i++)
        if (strcmp(st->fields[i].name, name) == 0)
            return i;
    return SIZE_MAX;
}

/* Adds field name (if new) to the struct and merges v into it; converts the
 * struct to a map past the threshold. *hint: where the next field likely is. */
static int struct_put(struct jctx *c, struct sl_ctype **acc, const char *name, struct tval v,
                      size_t *hint)
{
    struct sl_ctype *st = *acc;

    if (st->kind == SL_CT_MAP)
        return merge_take(c, &st->elem, v);
    size_t j = find_field(st, name, *hint);
    if (j != SIZE_MAX) {
        *hint = j + 1;
        return merge_take(c, &st->fields[j].type, v);
    }
    struct sl_ctype *t = v.own ? v.own : sl_ctype_copy(v.t);
    if (!t || sl_ctype_struct_add_take(st, name, t, c->err) != SL_OK)
        return SL_ENOMEM;
    *hint = st->n_fields;
    if (st->n_fields > c->map_threshold)
        return struct_to_map(c, acc);
    return SL_OK;
}

/* Joins v into *acc (which may be NULL: nothing seen yet); always consumes
 * v.own. In place for struct, array and map; sl_ctype_join() otherwise. */
static int merge_take(struct jctx *c, struct sl_ctype **acc, struct tval v)
{
    struct sl_ctype *a = *acc;
    int rc = SL_OK;

    if (v.t->kind == SL_CT_NULL)
        goto done;
    if (!a || a->kind == SL_CT_NULL) {
        struct sl_ctype *n = v.own ? v.own : sl_ctype_copy(v.t);
        if (!n)
            return SL_ENOMEM;
        sl_ctype_free(a);
        *acc = n;
        return SL_OK;
    }
    enum sl_ct_kind ak = a->kind, vk = v.t->kind;
    if (ak == SL_CT_STRING)
        goto done; /* the top: string joined with anything stays string (§7.1) */
    if (ak == SL_CT_STRUCT && vk == SL_CT_MAP) {
        if ((rc = struct_to_map(c, acc)) != SL_OK)
            goto done;
        a = *acc;
        ak = SL_CT_MAP;
    }
    if (ak == SL_CT_STRUCT && vk == SL_CT_STRUCT) {
        size_t hint = 0;
        for (size_t i = 0; i < v.t->n_fields && rc == SL_OK; i++) {
            struct tval f = child_of(v.own ? &v.own->fields[i].type : NULL, v.t->fields[i].type);
            rc = struct_put(c, acc, v.t->fields[i].name, f, &hint);
        }
    } else if (ak == SL_CT_MAP && vk == SL_CT_STRUCT) {
        for (size_t i = 0; i < v.t->n_fields && rc == SL_OK; i++)
            rc = merge_take(c, &a->elem,
                            child_of(v.own ? &v.own->fields[i].type : NULL, v.t->fields[i].type));
    } else if ((ak == SL_CT_ARRAY && vk == SL_CT_ARRAY) || (ak == SL_CT_MAP && vk == SL_CT_MAP)) {
        rc = merge_take(c, &a->elem, child_of(v.own ? &v.own->elem : NULL, v.t->elem));
    } else if (!sl_ctype_equal(a, v.t)) {
        struct sl_ctype *j = sl_ctype_join(a, v.t);
        if (!j) {
            rc = SL_ENOMEM;
            goto done;
        }
        sl_ctype_free(a);
        *acc = j;
    }
done:
    sl_ctype_free(v.own);
    return rc;
}

/* ---- Values ---- */

static enum pst parse_value(struct jctx *c, int depth, struct tval *out);

static enum pst parse_object(struct jctx *c, int depth, struct tval *out)
{
    struct sl_ctype *st = sl_ctype_new(SL_CT_STRUCT);
    enum pst s = P_OK;
    size_t hint = 0;

    if (!st)
        return P_NOMEM;
    c->p++;
    skip_ws(c);
    if (c->p >= c->end) {
        s = end_status(c);
        goto fail;
    }
    if (*c->p == '}') {
        c->p++;
        *out = tv_own(st);
        return P_OK;
    }
    for (;;) {
        skip_ws(c);
        if ((s = scan_key(c)) != P_OK)
            goto fail;
        skip_ws(c);
        if (c->p >= c->end) {
            s = end_status(c);
            goto fail;
        }
        if (*c->p != ':') {
            s = P_BAD;
            goto fail;
        }
        c->p++;
        if (st->kind == SL_CT_STRUCT && c->key.len > FIELD_NAME_MAX &&
            struct_to_map(c, &st) != SL_OK) {
            s = P_NOMEM;
            goto fail;
        }
        /* the key scratch is reused below: create the field first */
        size_t j = SIZE_MAX;
        if (st->kind == SL_CT_STRUCT) {
            j = find_field(st, c->key.data, hint);
            if (j == SIZE_MAX) {
                struct sl_ctype *nt = sl_ctype_new(SL_CT_NULL);
                if (!nt || sl_ctype_struct_add_take(st, c->key.data, nt, c->err) != SL_OK) {
                    s = P_NOMEM;
                    goto fail;
                }
                j = st->n_fields - 1;
            }
            hint = j + 1;
        }
        struct tval v;
        if ((s = parse_value(c, depth + 1, &v)) != P_OK)
            goto fail;
        struct sl_ctype **slot = st->kind == SL_CT_STRUCT ? &st->fields[j].type : &st->elem;
        if (merge_take(c, slot, v) != SL_OK) {
            s = P_NOMEM;
            goto fail;
        }
        if (st->kind == SL_CT_STRUCT && st->n_fields > c->map_threshold &&
            struct_to_map(c, &st) != SL_OK) {
            s = P_NOMEM;
            goto fail;
        }
        skip_ws(c);
        if (c->p >= c->end) {
            s = end_status(c);
            goto fail;
        }
        if (*c->p == ',') {
            c->p++;
            continue;
        }
        if (*c->p != '}') {
            s = P_BAD;
            goto fail;
        }
        c->p++;
        *out = tv_own(st);
        return P_OK;
    }
fail:
    sl_ctype_free(st);
    return s;
}

static enum pst parse_array(struct jctx *c, int depth, struct tval *out)
{
    struct sl_ctype *elem = NULL;
    enum pst s = P_OK;

    c->p++;
    skip_ws(c);
    if (c->p >= c->end) {
        s = end_status(c);
        goto fail;
    }
    if (*c->p != ']') {
        for (;;) {
            struct tval v;
            if ((s = parse_value(c, depth + 1, &v)) != P_OK)
                goto fail;
            if (merge_take(c, &elem, v) != SL_OK) {
                s = P_NOMEM;
                goto fail;
            }
            skip_ws(c);
            if (c->p >= c->end) {
                s = end_status(c);
                goto fail;
            }
            if (*c->p == ',') {
                c->p++;
                continue;
            }
            if (*c->p != ']') {
                s = P_BAD;
                goto fail;
            }
            break;
        }
    }
    c->p++;
    if (!elem && !(elem = sl_ctype_new(SL_CT_NULL)))
        return P_NOMEM;
    struct sl_ctype *a = sl_ctype_array_take(elem);
    if (!a)
        return P_NOMEM;
    *out = tv_own(a);
    return P_OK;
fail:
    sl_ctype_free(elem);
    return s;
}

/* One value at c->p; containers deeper than max_depth become string. */
static enum pst parse_value(struct jctx *c, int depth, struct tval *out)
{
    skip_ws(c);
    if (c->p >= c->end)
        return end_status(c);
    char ch = *c->p;
    if (ch == '{' || ch == '[') {
        if (depth > c->max_depth) {
            *out = tv_static(&T_STRING);
            return skip_value(c);
        }
        return ch == '{' ? parse_object(c, depth, out) : parse_array(c, depth, out);
    }
    const struct sl_ctype *t = &T_NULL;
    enum pst s = scan_scalar(c, &t);
    if (s == P_OK)
        *out = tv_static(t);
    return s;
}

/* ---- Records and columns ---- */

static uint64_t hash_key(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

static size_t *col_slot(struct jctx *c, const char *k, size_t n)
{
    size_t mask = c->n_slots - 1;
    for (size_t i = (size_t)hash_key(k, n) & mask;; i = (i + 1) & mask) {
        size_t *s = &c->slots[i];
        if (*s == 0)
            return s;
        const struct jcol *col = &c->cols[*s - 1];
        if (col->src_len == n && memcmp(col->src, k, n) == 0)
            return s;
    }
}

/* The column for source key k (created in first-seen order); NULL on OOM. */
static struct jcol *col_get(struct jctx *c, const char *k, size_t n)
{
    if ((c->n_cols + 1) * 2 > c->n_slots) {
        size_t ns = c->n_slots ? c->n_slots * 2 : 64;
        size_t *slots = sl_calloc(ns, sizeof *slots);
        if (!slots)
            return NULL;
        sl_free(c->slots);
        c->slots = slots;
        c->n_slots = ns;
        for (size_t i = 0; i < c->n_cols; i++)
            *col_slot(c, c->cols[i].src, c->cols[i].src_len) = i + 1;
    }
    size_t *s = col_slot(c, k, n);
    if (*s)
        return &c->cols[*s - 1];
    if (c->n_cols == c->cap_cols) {
        size_t nc = c->cap_cols ? c->cap_cols * 2 : 16;
        struct jcol *cols = sl_realloc(c->cols, nc * sizeof *cols);
        if (!cols)
            return NULL;
        c->cols = cols;
        c->cap_cols = nc;
    }
    struct jcol *col = &c->cols[c->n_cols];
    memset(col, 0, sizeof *col);
    col->last_rec = -1;
    if (!(col->src = sl_strndup(k, n)))
        return NULL;
    col->src_len = n;
    *s = ++c->n_cols;
    return col;
}

static void pend_clear(struct jctx *c)
{
    for (size_t i = 0; i < c->n_pend; i++)
        sl_ctype_free(c->pend[i].v.own);
    c->n_pend = 0;
    sl_buf_reset(&c->pkeys);
}

/* Merges the pending fields of a complete object record into the columns. */
static enum pst commit_object(struct jctx *c)
{
    int64_t rec = c->n_obj;
    enum pst s = P_OK;
    size_t i;

    for (i = 0; i < c->n_pend; i++) {
        struct jpend *pe = &c->pend[i];
        struct jcol *col = col_get(c, c->pkeys.data + pe->key_off, pe->key_len);
        if (!col) {
            s = P_NOMEM;
            break;
        }
        bool non_null = pe->v.t->kind != SL_CT_NULL;
        struct tval v = pe->v;
        pe->v = tv_static(&T_NULL);
        if (merge_take(c, &col->type, v) != SL_OK) {
            s = P_NOMEM;
            break;
        }
        if (non_null && col->last_rec != rec) {
            col->n_values++;
            col->last_rec = rec;
        }
    }
    pend_clear(c);
    if (s == P_OK) {
        c->n_obj++;
        c->n_good++;
        c->rec_end = c->p;
    }
    return s;
}

/* An object record at c->p: its fields are kept pending until it is complete. */
static enum pst parse_object_record(struct jctx *c)
{
    enum pst s;

    pend_clear(c);
    c->p++;
    skip_ws(c);
    if (c->p >= c->end)
        return end_status(c);
    if (*c->p == '}') {
        c->p++;
        return commit_object(c);
    }
    for (;;) {
        skip_ws(c);
        if ((s = scan_key(c)) != P_OK)
            goto fail;
        skip_ws(c);
        if (c->p >= c->end) {
            s = end_status(c);
            goto fail;
        }
        if (*c->p != ':') {
            s = P_BAD;
            goto fail;
        }
        c->p++;
        if (c->n_pend == c->cap_pend) {
            size_t n = c->cap_pend ? c->cap_pend * 2 : 32;
            struct jpend *np = sl_realloc(c->pend, n * sizeof *np);
            if (!np) {
                s = P_NOMEM;
                goto fail;
            }
            c->pend = np;
            c->cap_pend = n;
        }
        struct jpend *pe = &c->pend[c->n_pend];
        pe->key_off = c->pkeys.len;
        pe->key_len = c->key.len;
        if (sl_buf_append(&c->pkeys, c->key.data, c->key.len, c->err) != SL_OK) {
            s = P_NOMEM;
            goto fail;
        }
        if ((s = parse_value(c, 2, &pe->v)) != P_OK)
            goto fail;
        c->n_pend++;
        skip_ws(c);
        if (c->p >= c->end) {
            s = end_status(c);
            goto fail;
        }
        if (*c->p == ',') {
            c->p++;
            continue;
        }
        if (*c->p != '}') {
            s = P_BAD;
            goto fail;
        }
        c->p++;
        return commit_object(c);
    }
fail:
    pend_clear(c);
    return s;
}

/* One record at c->p: an object gives columns, anything else joins into the
 * single "value" column (used when no record is an object). */
static enum pst parse_record(struct jctx *c)
{
    skip_ws(c);
    if (c->p >= c->end)
        return end_status(c);
    if (*c->p == '{')
        return parse_object_record(c);
    struct tval v;
    enum pst s = parse_value(c, 1, &v);
    if (s != P_OK)
        return s;
    if (v.t->kind != SL_CT_NULL)
        c->n_value_values++;
    if (merge_take(c, &c->value_type, v) != SL_OK)
        return P_NOMEM;
    c->n_nonobj++;
    c->n_good++;
    c->rec_end = c->p;
    return P_OK;
}

static bool full(const struct jctx *c)
{
    return (size_t)c->n_good >= c->sample_rows;
}

/* ---- JSONPath ---- */

static void segs_free(struct jseg *segs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sl_free(segs[i].name);
    sl_free(segs);
}

/* Parses the subset "$", ".name", ".*", "['name']" / ["name"] (with \' \" \\
 * escapes), "[*]". */
static int path_parse(const char *path, struct jseg **out, size_t *n_out, struct sl_err *err)
{
    struct jseg *segs = sl_calloc(MAX_SEGS, sizeof *segs);
    size_t n = 0;
    const char *p = path;
    const char *why = NULL;
    struct sl_buf name;

    sl_buf_init(&name, 0);
    if (!segs)
        return sl_err_set(err, SL_ENOMEM, "json_path: out of memory");
    if (*p++ != '$') {
        why = "must start with '$'";
        goto fail;
    }
    while (*p) {
        if (n == MAX_SEGS) {
            why = "too many segments";
            goto fail;
        }
        sl_buf_reset(&name);
        bool wild = false;
        if (p[0] == '.' && p[1] == '*') {
            wild = true;
            p += 2;
        } else if (p[0] == '.') {
            p++;
            const char *s = p;
            while (*p && *p != '.' && *p != '[')
                p++;
            if (p == s) {
                why = "empty member name";
                goto fail;
            }
            if (sl_buf_append(&name, s, (size_t)(p - s), err) != SL_OK)
                goto oom;
        } else if (p[0] == '[' && p[1] == '*' && p[2] == ']') {
            wild = true;
            p += 3;
        } else if (p[0] == '[' && (p[1] == '\'' || p[1] == '"')) {
            char q = p[1];
            p += 2;
            while (*p && *p != q) {
                if (*p == '\\' && p[1])
                    p++;
                if (sl_buf_putc(&name, *p++, err) != SL_OK)
                    goto oom;
            }
            if (p[0] != q || p[1] != ']') {
                why = "unterminated bracket name";
                goto fail;
            }
            p += 2;
        } else {
            why = "only $, .name, ['name'] and [*] are supported";
            goto fail;
        }
        segs[n].wild = wild;
        if (!wild) {
            segs[n].len = name.len;
            if (!(segs[n].name = sl_strndup(name.data ? name.data : "", name.len)))
                goto oom;
        }
        n++;
    }
    sl_buf_cleanup(&name);
    *out = segs;
    *n_out = n;
    return SL_OK;
oom:
    sl_buf_cleanup(&name);
    segs_free(segs, n);
    return sl_err_set(err, SL_ENOMEM, "json_path: out of memory");
fail:
    sl_buf_cleanup(&name);
    segs_free(segs, n);
    return sl_err_set(err, SL_ECONFIG, "json_path \"%s\": %s at offset %zu", path, why,
                      (size_t)(p - path));
}

/* Follows the path from segment si on the value at c->p; records are what
 * is left when the path ends. */
static enum pst walk(struct jctx *c, size_t si)
{
    enum pst s;

    if (si == c->n_segs) {
        c->matched = true;
        return parse_record(c);
    }
    const struct jseg *g = &c->segs[si];
    bool last = si + 1 == c->n_segs;
    skip_ws(c);
    if (c->p >= c->end)
        return end_status(c);
    char ch = *c->p;
    if (ch != '{' && !(ch == '[' && g->wild))
        return skip_value(c);
    char close = ch == '{' ? '}' : ']';
    if (g->wild && last)
        c->matched = true; /* even when empty: the records are there, just none */
    c->p++;
    skip_ws(c);
    if (c->p >= c->end)
        return end_status(c);
    if (*c->p == close) {
        c->p++;
        return P_OK;
    }
    for (;;) {
        bool take = true;
        skip_ws(c);
        if (ch == '{') {
            if ((s = scan_key(c)) != P_OK)
                return s;
            take = g->wild || (c->key.len == g->len && memcmp(c->key.data, g->name, g->len) == 0);
            skip_ws(c);
            if (c->p >= c->end)
                return end_status(c);
            if (*c->p != ':')
                return P_BAD;
            c->p++;
        }
        s = take ? walk(c, si + 1) : skip_value(c);
        if (s != P_OK)
            return s;
        if (full(c))
            return P_STOP;
        skip_ws(c);
        if (c->p >= c->end)
            return end_status(c);
        if (*c->p == ',') {
            c->p++;
            continue;
        }
        if (*c->p != close)
            return P_BAD;
        c->p++;
        return P_OK;
    }
}

/* ---- Layouts ---- */

struct scan_stats {
    const char *layout;
    bool incomplete;     /* no complete value and the window was cut */
    bool not_json;
    bool cut;            /* a value was cut at the end of the window */
    bool stopped;        /* sample_rows reached */
    int64_t n_tops;      /* complete top-level values */
    int64_t n_matched;   /* of which the path matched */
};

/* First line start at or after 'from' (and after 'after') whose first byte is
 * '{'; NULL when none. */
static const char *resync(const struct jctx *c, const char *after, const char *from)
{
    const char *p = from;
    while (p > c->base && p[-1] != '\n')
        p--;
    if (p <= after)
        p = after + 1;
    while (p < c->end) {
        if ((p == c->base || p[-1] == '\n') && *p == '{')
            return p;
        const char *nl = memchr(p, '\n', (size_t)(c->end - p));
        if (!nl)
            return NULL;
        p = nl + 1;
    }
    return NULL;
}

/* '[': records are the elements (or what the path selects in the array). */
static int scan_array(struct jctx *c, struct scan_stats *ss)
{
    enum pst s = P_OK;

    ss->layout = "array";
    if (c->use_path) {
        c->matched = false;
        s = walk(c, 0);
        if (s == P_OK || s == P_STOP) {
            ss->n_tops = 1;
            ss->n_matched = c->matched;
        }
    } else {
        c->p++;
        skip_ws(c);
        if (c->p < c->end && *c->p == ']') {
            c->p++;
        } else {
            for (;;) {
                if (full(c)) {
                    s = P_STOP;
                    break;
                }
                if ((s = parse_record(c)) != P_OK)
                    break;
                skip_ws(c);
                if (c->p >= c->end) {
                    s = end_status(c);
                    break;
                }
                if (*c->p == ',') {
                    c->p++;
                    continue;
                }
                if (*c->p != ']')
                    s = P_BAD;
                else
                    c->p++;
                break;
            }
        }
        if (s == P_OK)
            ss->n_tops = 1;
    }
    switch (s) {
    case P_OK:
        skip_ws(c);
        if (c->p < c->end) { /* data after the array */
            c->n_malformed++;
        }
        break;
    case P_STOP:
        ss->stopped = true;
        break;
    case P_CUT:
        ss->cut = true;
        break;
    case P_BAD: /* the rest of the array cannot be framed */
        c->n_malformed++;
        break;
    case P_NOMEM:
        return SL_ENOMEM;
    }
    if (c->n_good == 0 && c->n_malformed == 0 && ss->cut)
        ss->incomplete = true;
    else if (c->n_good == 0 && c->n_malformed > 0 && ss->n_tops == 0)
        ss->not_json = true;
    return SL_OK;
}

/* '{': one document, or JSON Lines / concatenated values. */
static int scan_objects(struct jctx *c, struct scan_stats *ss)
{
    const char *prev_end = NULL;
    bool multi_line = false, shared_line = false;
    int64_t n_started = 0;

    for (;;) {
        skip_ws(c);
        if (c->p >= c->end)
            break;
        if (full(c)) {
            ss->stopped = true;
            break;
        }
        const char *start = c->p;
        enum pst s;
        n_started++;
        c->matched = false;
        if (c->use_path) {
            s = walk(c, 0);
        } else if (*c->p == '{') {
            s = parse_record(c);
        } else { /* a top-level non-object: validate, then count as malformed */
            s = skip_value(c);
            if (s == P_OK) {
                c->n_malformed++;
                prev_end = c->p;
                continue;
            }
        }
        if (s == P_NOMEM)
            return SL_ENOMEM;
        if (s == P_OK || s == P_STOP) {
            ss->n_tops++; /* a value stopped by sample_rows counts: it gave records */
            ss->n_matched += c->matched;
            if (memchr(start, '\n', (size_t)(c->p - start)))
                multi_line = true;
            if (prev_end && !memchr(prev_end, '\n', (size_t)(start - prev_end)))
                shared_line = true;
            prev_end = c->p;
            if (s == P_STOP) {
                ss->stopped = true;
                break;
            }
            continue;
        }
        if (s == P_CUT) {
            ss->cut = true;
            if (memchr(start, '\n', (size_t)(c->end - start)))
                multi_line = true;
            break;
        }
        /* P_BAD */
        c->n_malformed++;
        prev_end = NULL;
        const char *next = resync(c, start, c->p < c->end ? c->p : c->end - 1);
        if (!next)
            break;
        c->p = next;
    }
    int64_t n_values = ss->n_tops + c->n_malformed;
    bool single = n_started == 1 && c->n_malformed == 0;
    if (single && ((ss->n_tops == 1 && c->at_eof) ||
                   (c->use_path && c->n_good > 0 && (ss->cut || ss->stopped)))) {
        ss->layout = "document";
    } else if (n_values == 0) {
        ss->incomplete = ss->cut;
        ss->not_json = !ss->cut;
    } else if (ss->n_tops == 0) {
        ss->not_json = true; /* nothing but malformed values */
    } else if (n_values == 1 && !ss->cut && !ss->stopped) {
        /* one complete value and nothing after it, but the object goes on:
         * a document with trailing bytes, or lines; more data will tell */
        ss->incomplete = true;
    } else {
        ss->layout = multi_line || shared_line ? "concatenated" : "lines";
    }
    return SL_OK;
}

/* ---- Result ---- */

static bool is_array_of_objects(const struct sl_ctype *t)
{
    return t && t->kind == SL_CT_ARRAY && t->elem &&
           (t->elem->kind == SL_CT_STRUCT || t->elem->kind == SL_CT_MAP);
}

/* Appends "$.name[*]" or "$['na\'me'][*]" for a top-level key. */
static int propose_path(const char *key, char *out, size_t cap)
{
    bool plain = (*key >= 'A' && *key <= 'Z') || (*key >= 'a' && *key <= 'z') || *key == '_';
    for (const char *k = key; plain && *k; k++)
        plain = (*k >= 'A' && *k <= 'Z') || (*k >= 'a' && *k <= 'z') || *k == '_' ||
                (*k >= '0' && *k <= '9');
    if (plain)
        return snprintf(out, cap, "$.%s[*]", key);
    size_t n = 0;
    n += (size_t)snprintf(out, cap, "$['");
    const char *k = key;
    for (; *k && n + 8 < cap; k++) {
        if (*k == '\'' || *k == '\\')
            out[n++] = '\\';
        out[n++] = *k;
    }
    if (*k || n + 6 >= cap)
        return -1; /* too long to propose */
    return (int)(n + (size_t)snprintf(out + n, cap - n, "'][*]"));
}

static int set_param(json_t *obj, const char *k, const char *v, struct sl_err *err)
{
    json_t *s = json_string(v);
    if (!s || json_object_set_new(obj, k, s) != 0)
        return sl_err_set(err, SL_ENOMEM, "json: out of memory");
    return SL_OK;
}

/* Moves the columns into out->schema: names normalised per §6.5. */
static int build_schema(struct jctx *c, struct sl_cls_result *out, struct sl_err *err)
{
    struct sl_cschema *s = &out->schema;

    if (c->n_obj == 0 && c->n_nonobj > 0) {
        struct sl_ctype *t = c->value_type ? c->value_type : sl_ctype_new(SL_CT_NULL);
        c->value_type = NULL;
        if (!t || sl_cschema_add_take(s, "value", NULL, t, err) != SL_OK)
            return sl_err_set(err, SL_ENOMEM, "json: out of memory");
        s->cols[s->n_cols - 1].n_values = c->n_value_values;
        s->cols[s->n_cols - 1].n_nulls = c->n_nonobj - c->n_value_values;
        return SL_OK;
    }
    for (size_t i = 0; i < c->n_cols; i++) {
        struct jcol *col = &c->cols[i];
        struct sl_ctype *t = col->type ? col->type : sl_ctype_new(SL_CT_NULL);
        col->type = NULL;
        char *name = sl_colname_normalise(col->src, col->src_len, i);
        if (!t || !name) {
            sl_ctype_free(t);
            sl_free(name);
            return sl_err_set(err, SL_ENOMEM, "json: out of memory");
        }
        int rc = sl_cschema_add_take(s, name, strcmp(name, col->src) ? col->src : NULL, t, err);
        sl_free(name);
        if (rc != SL_OK)
            return rc;
        s->cols[s->n_cols - 1].n_values = col->n_values;
        s->cols[s->n_cols - 1].n_nulls = c->n_obj - col->n_values;
    }
    if (sl_cschema_dedupe_names(s, err) != SL_OK)
        return err->code;
    /* §6.5: source_name whenever the final name differs from the key */
    for (size_t i = 0; i < s->n_cols; i++) {
        struct sl_ccolumn *col = &s->cols[i];
        const char *src = c->cols[i].src;
        if (strcmp(col->name, src) == 0) {
            sl_free(col->source_name);
            col->source_name = NULL;
        } else if (!col->source_name || strcmp(col->source_name, src) != 0) {
            char *d = sl_strdup(src);
            if (!d)
                return sl_err_set(err, SL_ENOMEM, "json: out of memory");
            sl_free(col->source_name);
            col->source_name = d;
        }
    }
    return SL_OK;
}

static void ctx_cleanup(struct jctx *c)
{
    sl_buf_cleanup(&c->key);
    sl_buf_cleanup(&c->stack);
    pend_clear(c);
    sl_buf_cleanup(&c->pkeys);
    sl_free(c->pend);
    for (size_t i = 0; i < c->n_cols; i++) {
        sl_free(c->cols[i].src);
        sl_ctype_free(c->cols[i].type);
    }
    sl_free(c->cols);
    sl_free(c->slots);
    sl_ctype_free(c->value_type);
}

int sl_json_classify(const char *data, size_t len, bool at_eof, const struct sl_crawl_opts *o,
                     struct sl_cls_result *out, struct sl_err *err)
{
    struct jctx c;
    struct scan_stats ss;
    struct jseg *segs = NULL;
    size_t n_segs = 0;
    int rc = SL_OK;

    memset(&c, 0, sizeof c);
    memset(&ss, 0, sizeof ss);
    if (o->json_path && (rc = path_parse(o->json_path, &segs, &n_segs, err)) != SL_OK)
        return rc;
    sl_buf_init(&c.key, SCRATCH_MAX);
    sl_buf_init(&c.stack, SCRATCH_MAX);
    sl_buf_init(&c.pkeys, SCRATCH_MAX);
    c.base = data;
    c.p = data;
    c.end = data + len;
    c.at_eof = at_eof;
    c.err = err;
    c.max_depth = o->json_max_depth < 1 ? 1 : o->json_max_depth > MAX_DEPTH_CAP ? MAX_DEPTH_CAP
                                                                                 : o->json_max_depth;
    c.map_threshold = o->json_map_key_threshold > MAP_THRESHOLD_CAP ? MAP_THRESHOLD_CAP
                                                                   : o->json_map_key_threshold;
    c.temporal = o->json_infer_temporal;
    /* only the date/timestamp recognisers are used: CSV settings cannot fail here */
    if (c.temporal && sl_infer_cfg_init(&c.infer, NULL, '\0', err) != SL_OK) {
        rc = err->code;
        goto out;
    }
    c.sample_rows = o->sample_rows ? o->sample_rows : SIZE_MAX;
    c.segs = segs;
    c.n_segs = n_segs;
    c.use_path = segs != NULL;

    if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0)
        c.p += 3;
    skip_ws(&c);
    if (c.p < c.end && *c.p == '[')
        rc = scan_array(&c, &ss);
    else if (c.p < c.end && *c.p == '{')
        rc = scan_objects(&c, &ss);
    else
        ss.not_json = true;
    if (rc != SL_OK) {
        sl_err_set(err, SL_ENOMEM, "json: out of memory");
        goto out;
    }

    /* non-object records beside object records are malformed (§8.1) */
    if (c.n_obj > 0 && c.n_nonobj > 0) {
        c.n_malformed += c.n_nonobj;
        c.n_good -= c.n_nonobj;
        c.n_nonobj = 0;
    }
    int64_t n_rec = c.n_good + c.n_malformed;
    double bad = n_rec ? (double)c.n_malformed / (double)n_rec : 0.0;
    if (c.n_malformed > 0)
        sl_cls_warn(out, "MALFORMED_RECORDS", "%lld of %lld records in the sample are not valid JSON",
                    (long long)c.n_malformed, (long long)n_rec);
    out->certainty = 0;
    out->classification[0] = '\0';
    if (ss.incomplete) {
        snprintf(out->reason, sizeof out->reason, "json_incomplete");
        out->truncated = true;
        goto out;
    }
    if (ss.not_json) {
        snprintf(out->reason, sizeof out->reason, "not json");
        goto out;
    }
    if (bad > MALFORMED_MAX) {
        snprintf(out->reason, sizeof out->reason, "json_malformed");
        goto out;
    }
    if (c.use_path && ss.n_matched == 0 && c.n_good == 0) {
        snprintf(out->reason, sizeof out->reason, "json_path_no_match");
        goto out;
    }

    double cert;
    if (strcmp(ss.layout, "document") == 0 && !c.use_path)
        cert = CERT_DOCUMENT;
    else if (c.n_good == 0)
        cert = CERT_DOCUMENT; /* valid, but nothing to learn from */
    else
        cert = 1.0 - bad;
    if (c.use_path && ss.n_tops > 0 && ss.n_matched < ss.n_tops)
        cert *= (double)ss.n_matched / (double)ss.n_tops;
    if (!(cert > 0.0)) {
        snprintf(out->reason, sizeof out->reason, "json_path_no_match");
        goto out;
    }

    if ((rc = build_schema(&c, out, err)) != SL_OK)
        goto out;
    if (!out->format_params && !(out->format_params = json_object())) {
        rc = sl_err_set(err, SL_ENOMEM, "json: out of memory");
        goto out;
    }
    if ((rc = set_param(out->format_params, "sluice.json.layout", ss.layout, err)) != SL_OK)
        goto out;
    if (c.use_path && (rc = set_param(out->format_params, "sluice.json_path", o->json_path,
                                      err)) != SL_OK)
        goto out;
    snprintf(out->classification, sizeof out->classification, "json");
    out->certainty = cert;
    out->n_records = c.n_good;
    out->truncated = !at_eof || ss.cut || ss.stopped;
    out->records_exact = !out->truncated;
    /* bytes per record: the whole window, or up to the last record used */
    size_t covered = len;
    if (ss.cut || ss.stopped)
        covered = c.rec_end ? (size_t)(c.rec_end - data) : 0;
    out->decoded_bytes = (int64_t)(ss.stopped ? covered : len);
    out->avg_record_bytes = n_rec ? (double)covered / (double)n_rec : 0.0;

    if (strcmp(ss.layout, "document") == 0 && !c.use_path) {
        const char *only = NULL;
        int n = 0;
        for (size_t i = 0; i < c.n_cols; i++) {
            if (is_array_of_objects(out->schema.cols[i].type)) {
                only = c.cols[i].src;
                n++;
            }
        }
        char path[160];
        if (n == 1 && propose_path(only, path, sizeof path) > 0)
            sl_cls_warn(out, "JSON_PATH_PROPOSED",
                        "the document holds one array of objects; json_path \"%s\" would "
                        "make its elements the records",
                        path);
    }
out:
    ctx_cleanup(&c);
    segs_free(segs, n_segs);
    return rc;
}

char *sl_json_paths_param(const struct sl_cschema *s)
{
    struct sl_buf b;
    struct sl_err e;

    sl_buf_init(&b, 0);
    for (size_t i = 0; i < s->n_cols; i++) {
        const struct sl_ccolumn *col = &s->cols[i];
        if ((i && sl_buf_putc(&b, ',', &e) != SL_OK) ||
            sl_buf_puts(&b, col->source_name ? col->source_name : col->name, &e) != SL_OK) {
            sl_buf_cleanup(&b);
            return NULL;
        }
    }
    if (!b.data && sl_buf_reserve(&b, 1, &e) != SL_OK)
        return NULL;
    b.data[b.len] = '\0';
    return sl_buf_take(&b, NULL);
}
