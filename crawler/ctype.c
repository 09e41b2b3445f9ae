/*
 * crawler/ctype.c - the inferred-type lattice of spec/crawler.md §7.1: tree
 * construction, the join, Hive type strings and their parser. Which text
 * values have which type is decided in crawler/infer.c; this file only
 * combines and spells types.
 */
#include "crawler/ctype.h"

#include <ctype.h>
#include <string.h>

#include "runtime/alloc.h"

#define MAX_DECIMAL_PRECISION 38 /* Hive, Spark and Glue cap decimals at 38 digits */
#define MAX_PARSE_DEPTH       64 /* nesting the parser accepts: recursion stays bounded */

/* ---- Construction ---- */

struct sl_ctype *sl_ctype_new(enum sl_ct_kind kind)
{
    struct sl_ctype *t = sl_calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->kind = kind;
    if (kind == SL_CT_DECIMAL) {
        t->precision = 10; /* Hive's default for a bare "decimal" */
        t->scale = 0;
    }
    return t;
}

struct sl_ctype *sl_ctype_decimal(int precision, int scale)
{
    struct sl_ctype *t = sl_ctype_new(SL_CT_DECIMAL);
    if (!t)
        return NULL;
    t->precision = precision;
    t->scale = scale;
    return t;
}

struct sl_ctype *sl_ctype_array_take(struct sl_ctype *elem)
{
    struct sl_ctype *t = sl_ctype_new(SL_CT_ARRAY);
    if (!t) {
        sl_ctype_free(elem);
        return NULL;
    }
    t->elem = elem;
    return t;
}

struct sl_ctype *sl_ctype_map_take(struct sl_ctype *key, struct sl_ctype *val)
{
    struct sl_ctype *t = sl_ctype_new(SL_CT_MAP);
    if (!t) {
        sl_ctype_free(key);
        sl_ctype_free(val);
        return NULL;
    }
    t->key = key;
    t->elem = val;
    return t;
}

int sl_ctype_struct_add_take(struct sl_ctype *st, const char *name, struct sl_ctype *type,
                             struct sl_err *err)
{
    char *copy = NULL;

    if (!st || st->kind != SL_CT_STRUCT) {
        sl_ctype_free(type);
        return sl_err_set(err, SL_EINTERNAL, "add field \"%s\": not a struct type", name);
    }
    copy = sl_strdup(name);
    if (!copy)
        goto fail;
    struct sl_ct_field *f = sl_realloc(st->fields, (st->n_fields + 1) * sizeof *f);
    if (!f)
        goto fail;
    st->fields = f;
    f[st->n_fields].name = copy;
    f[st->n_fields].type = type;
    st->n_fields++;
    return SL_OK;
fail:
    sl_free(copy);
    sl_ctype_free(type);
    return sl_err_set(err, SL_ENOMEM, "add field \"%s\": out of memory", name);
}

void sl_ctype_free(struct sl_ctype *t)
{
    if (!t)
        return;
    sl_ctype_free(t->key);
    sl_ctype_free(t->elem);
    for (size_t i = 0; i < t->n_fields; i++) {
        sl_free(t->fields[i].name);
        sl_ctype_free(t->fields[i].type);
    }
    sl_free(t->fields);
    sl_free(t);
}

struct sl_ctype *sl_ctype_copy(const struct sl_ctype *t)
{
    if (!t)
        return NULL;
    struct sl_ctype *c = sl_ctype_new(t->kind);
    if (!c)
        return NULL;
    c->precision = t->precision;
    c->scale = t->scale;
    c->tz = t->tz;
    c->non_iso = t->non_iso;
    if (t->key && !(c->key = sl_ctype_copy(t->key)))
        goto fail;
    if (t->elem && !(c->elem = sl_ctype_copy(t->elem)))
        goto fail;
    if (t->n_fields) {
        c->fields = sl_calloc(t->n_fields, sizeof *c->fields);
        if (!c->fields)
            goto fail;
        for (size_t i = 0; i < t->n_fields; i++) {
            c->n_fields = i + 1; /* so a failure frees what is there */
            c->fields[i].name = sl_strdup(t->fields[i].name);
            if (!c->fields[i].name)
                goto fail;
            if (t->fields[i].type && !(c->fields[i].type = sl_ctype_copy(t->fields[i].type)))
                goto fail;
        }
    }
    return c;
fail:
    sl_ctype_free(c);
    return NULL;
}

bool sl_ctype_equal(const struct sl_ctype *a, const struct sl_ctype *b)
{
    if (a == b)
        return true;
    if (!a || !b || a->kind != b->kind)
        return false;
    switch (a->kind) {
    case SL_CT_DECIMAL: return a->precision == b->precision && a->scale == b->scale;
    case SL_CT_DATE: return a->non_iso == b->non_iso;
    case SL_CT_TIMESTAMP: return a->tz == b->tz && a->non_iso == b->non_iso;
    case SL_CT_ARRAY: return sl_ctype_equal(a->elem, b->elem);
    case SL_CT_MAP: return sl_ctype_equal(a->key, b->key) && sl_ctype_equal(a->elem, b->elem);
    case SL_CT_STRUCT:
        if (a->n_fields != b->n_fields)
            return false;
        for (size_t i = 0; i < a->n_fields; i++) {
            if (strcmp(a->fields[i].name, b->fields[i].name) != 0 ||
                !sl_ctype_equal(a->fields[i].type, b->fields[i].type))
                return false;
        }
        return true;
    default: return true;
    }
}

/* ---- Join (§7.1) ---- */

static bool is_integer(enum sl_ct_kind k)
{
    return k == SL_CT_TINYINT || k == SL_CT_SMALLINT || k == SL_CT_INT || k == SL_CT_BIGINT;
}

static bool is_float(enum sl_ct_kind k)
{
    return k == SL_CT_FLOAT || k == SL_CT_DOUBLE;
}

/* Decimal digits an integer type needs: joined with a decimal, an integer
 * behaves as decimal(d,0). The spec fixes bigint at 19; the narrower widths
 * follow the same idea (127, 32767, 2147483647). */
static int integer_digits(enum sl_ct_kind k)
{
    switch (k) {
    case SL_CT_TINYINT: return 3;
    case SL_CT_SMALLINT: return 5;
    case SL_CT_INT: return 10;
    default: return 19;
    }
}

static bool is_temporal(enum sl_ct_kind k)
{
    return k == SL_CT_DATE || k == SL_CT_TIMESTAMP;
}

/* Kind of join(a, b) for non-NULL inputs, and for decimals the result's
 * precision and scale (precision 0 with kind DOUBLE when it overflowed). The
 * nested kinds only report their own kind here; join() recurses. */
static enum sl_ct_kind join_kind(const struct sl_ctype *a, const struct sl_ctype *b, int *prec,
                                 int *scale)
{
    enum sl_ct_kind ka = a->kind, kb = b->kind;

    if (ka == SL_CT_NULL)
        return kb;
    if (kb == SL_CT_NULL)
        return ka;
    if (ka == SL_CT_STRING || kb == SL_CT_STRING)
        return SL_CT_STRING;
    if (is_integer(ka) && is_integer(kb))
        return ka > kb ? ka : kb; /* enum order is tinyint < smallint < int < bigint */
    if ((is_integer(ka) || ka == SL_CT_DECIMAL) && (is_integer(kb) || kb == SL_CT_DECIMAL)) {
        int p1 = ka == SL_CT_DECIMAL ? a->precision : integer_digits(ka);
        int s1 = ka == SL_CT_DECIMAL ? a->scale : 0;
        int p2 = kb == SL_CT_DECIMAL ? b->precision : integer_digits(kb);
        int s2 = kb == SL_CT_DECIMAL ? b->scale : 0;
        int ip = p1 - s1 > p2 - s2 ? p1 - s1 : p2 - s2;
        int s = s1 > s2 ? s1 : s2;
        if (ip + s > MAX_DECIMAL_PRECISION)
            return SL_CT_DOUBLE;
        *prec = ip + s;
        *scale = s;
        return SL_CT_DECIMAL;
    }
    if ((is_integer(ka) || ka == SL_CT_DECIMAL || is_float(ka)) &&
        (is_integer(kb) || kb == SL_CT_DECIMAL || is_float(kb))) {
        if (ka == SL_CT_FLOAT && kb == SL_CT_FLOAT)
            return SL_CT_FLOAT;
        return SL_CT_DOUBLE;
    }
    if (is_temporal(ka) && is_temporal(kb)) {
        if (ka == SL_CT_DATE && kb == SL_CT_DATE)
            return SL_CT_DATE;
        if (ka == SL_CT_TIMESTAMP && kb == SL_CT_TIMESTAMP) {
            if (a->tz != SL_CT_TZ_UNKNOWN && b->tz != SL_CT_TZ_UNKNOWN && a->tz != b->tz)
                return SL_CT_STRING; /* offsets with naive: no common reading */
            return SL_CT_TIMESTAMP;
        }
        /* date with timestamp: only when both come from the ISO-8601 family */
        return a->non_iso || b->non_iso ? SL_CT_STRING : SL_CT_TIMESTAMP;
    }
    if (ka == kb && (ka == SL_CT_BOOLEAN || ka == SL_CT_BINARY || ka == SL_CT_ARRAY ||
                     ka == SL_CT_MAP || ka == SL_CT_STRUCT))
        return ka;
    if ((ka == SL_CT_STRUCT && kb == SL_CT_MAP) || (ka == SL_CT_MAP && kb == SL_CT_STRUCT))
        return SL_CT_MAP;
    return SL_CT_STRING;
}

bool sl_ctype_join_falls_to_string(const struct sl_ctype *a, const struct sl_ctype *b)
{
    int p = 0, s = 0;
    if (!a || !b || a->kind == SL_CT_STRING || b->kind == SL_CT_STRING)
        return false;
    return join_kind(a, b, &p, &s) == SL_CT_STRING;
}

static int find_field(const struct sl_ctype *st, const char *name)
{
    for (size_t i = 0; i < st->n_fields; i++)
        if (strcmp(st->fields[i].name, name) == 0)
            return (int)i;
    return -1;
}

/* Joins every field type of st into *acc (replacing it); false on OOM. */
static bool join_fields_into(struct sl_ctype **acc, const struct sl_ctype *st)
{
    for (size_t i = 0; i < st->n_fields; i++) {
        struct sl_ctype *j = sl_ctype_join(*acc, st->fields[i].type);
        if (!j)
            return false;
        sl_ctype_free(*acc);
        *acc = j;
    }
    return true;
}

static struct sl_ctype *join_struct_map(const struct sl_ctype *st, const struct sl_ctype *map)
{
    struct sl_ctype *key = NULL, *val = NULL, *null_t = NULL;

    null_t = sl_ctype_new(SL_CT_STRING);
    if (!null_t)
        goto fail;
    key = sl_ctype_join(map->key ? map->key : null_t, null_t); /* struct names are strings */
    val = map->elem ? sl_ctype_copy(map->elem) : sl_ctype_new(SL_CT_NULL);
    if (!key || !val || !join_fields_into(&val, st))
        goto fail;
    sl_ctype_free(null_t);
    return sl_ctype_map_take(key, val);
fail:
    sl_ctype_free(null_t);
    sl_ctype_free(key);
    sl_ctype_free(val);
    return NULL;
}

static struct sl_ctype *join_structs(const struct sl_ctype *a, const struct sl_ctype *b)
{
    struct sl_ctype *r = sl_ctype_new(SL_CT_STRUCT);
    if (!r)
        return NULL;
    for (size_t i = 0; i < a->n_fields; i++) {
        int jb = find_field(b, a->fields[i].name);
        struct sl_ctype *t = jb >= 0 ? sl_ctype_join(a->fields[i].type, b->fields[jb].type)
                                     : sl_ctype_copy(a->fields[i].type);
        if (!t || sl_ctype_struct_add_take(r, a->fields[i].name, t, NULL) != SL_OK)
            goto fail;
    }
    for (size_t i = 0; i < b->n_fields; i++) {
        if (find_field(a, b->fields[i].name) >= 0)
            continue;
        struct sl_ctype *t = sl_ctype_copy(b->fields[i].type);
        if (!t || sl_ctype_struct_add_take(r, b->fields[i].name, t, NULL) != SL_OK)
            goto fail;
    }
    return r;
fail:
    sl_ctype_free(r);
    return NULL;
}

/* A NULL child pointer (a malformed tree) is treated as the bottom type. */
static const struct sl_ctype null_type = {.kind = SL_CT_NULL};

static const struct sl_ctype *or_null(const struct sl_ctype *t)
{
    return t ? t : &null_type;
}

struct sl_ctype *sl_ctype_join(const struct sl_ctype *a, const struct sl_ctype *b)
{
    int prec = 0, scale = 0;
    a = or_null(a);
    b = or_null(b);
    if (a->kind == SL_CT_NULL)
        return sl_ctype_copy(b);
    if (b->kind == SL_CT_NULL)
        return sl_ctype_copy(a);

    enum sl_ct_kind k = join_kind(a, b, &prec, &scale);
    switch (k) {
    case SL_CT_DECIMAL: return sl_ctype_decimal(prec, scale);
    case SL_CT_DATE: {
        struct sl_ctype *t = sl_ctype_new(SL_CT_DATE);
        if (t)
            t->non_iso = a->non_iso || b->non_iso;
        return t;
    }
    case SL_CT_TIMESTAMP: {
        struct sl_ctype *t = sl_ctype_new(SL_CT_TIMESTAMP);
        if (!t)
            return NULL;
        t->non_iso = a->non_iso || b->non_iso;
        /* the zone flavour of whichever side knows it (join_kind refused a conflict) */
        if (a->kind == SL_CT_TIMESTAMP && a->tz != SL_CT_TZ_UNKNOWN)
            t->tz = a->tz;
        else if (b->kind == SL_CT_TIMESTAMP)
            t->tz = b->tz;
        return t;
    }
    case SL_CT_ARRAY: {
        struct sl_ctype *e = sl_ctype_join(or_null(a->elem), or_null(b->elem));
        return e ? sl_ctype_array_take(e) : NULL;
    }
    case SL_CT_MAP: {
        if (a->kind == SL_CT_STRUCT)
            return join_struct_map(a, b);
        if (b->kind == SL_CT_STRUCT)
            return join_struct_map(b, a);
        struct sl_ctype *key = sl_ctype_join(or_null(a->key), or_null(b->key));
        struct sl_ctype *val = sl_ctype_join(or_null(a->elem), or_null(b->elem));
        if (!key || !val) {
            sl_ctype_free(key);
            sl_ctype_free(val);
            return NULL;
        }
        return sl_ctype_map_take(key, val);
    }
    case SL_CT_STRUCT: return join_structs(a, b);
    default: return sl_ctype_new(k);
    }
}

/* ---- Rendering ---- */

static const char *scalar_name(enum sl_ct_kind k)
{
    switch (k) {
    case SL_CT_BOOLEAN: return "boolean";
    case SL_CT_TINYINT: return "tinyint";
    case SL_CT_SMALLINT: return "smallint";
    case SL_CT_INT: return "int";
    case SL_CT_BIGINT: return "bigint";
    case SL_CT_FLOAT: return "float";
    case SL_CT_DOUBLE: return "double";
    case SL_CT_DATE: return "date";
    case SL_CT_TIMESTAMP: return "timestamp";
    case SL_CT_BINARY: return "binary";
    case SL_CT_NULL: /* a placeholder column is a string in the catalog */
    case SL_CT_STRING:
    default: return "string";
    }
}

static bool plain_identifier(const char *s)
{
    if (!(isalpha((unsigned char)*s) || *s == '_'))
        return false;
    for (s++; *s; s++)
        if (!(isalnum((unsigned char)*s) || *s == '_'))
            return false;
    return true;
}

static int render(const struct sl_ctype *t, struct sl_buf *out, struct sl_err *err, int depth)
{
    int rc;
    if (depth > MAX_PARSE_DEPTH * 4)
        return sl_err_set(err, SL_ELIMIT, "render type: nested too deeply");
    t = or_null(t);
    switch (t->kind) {
    case SL_CT_DECIMAL: return sl_buf_printf(out, err, "decimal(%d,%d)", t->precision, t->scale);
    case SL_CT_ARRAY:
        if ((rc = sl_buf_puts(out, "array<", err)) || (rc = render(t->elem, out, err, depth + 1)))
            return rc;
        return sl_buf_putc(out, '>', err);
    case SL_CT_MAP:
        if ((rc = sl_buf_puts(out, "map<", err)) || (rc = render(t->key, out, err, depth + 1)) ||
            (rc = sl_buf_putc(out, ',', err)) || (rc = render(t->elem, out, err, depth + 1)))
            return rc;
        return sl_buf_putc(out, '>', err);
    case SL_CT_STRUCT:
        if ((rc = sl_buf_puts(out, "struct<", err)))
            return rc;
        for (size_t i = 0; i < t->n_fields; i++) {
            const char *name = t->fields[i].name ? t->fields[i].name : "";
            if (i && (rc = sl_buf_putc(out, ',', err)))
                return rc;
            if (plain_identifier(name)) {
                rc = sl_buf_puts(out, name, err);
            } else {
                /* back-quoted; a back-quote inside is doubled, as Hive writes it */
                rc = sl_buf_putc(out, '`', err);
                for (const char *c = name; !rc && *c; c++)
                    rc = *c == '`' ? sl_buf_puts(out, "``", err) : sl_buf_putc(out, *c, err);
                if (!rc)
                    rc = sl_buf_putc(out, '`', err);
            }
            if (rc || (rc = sl_buf_putc(out, ':', err)) ||
                (rc = render(t->fields[i].type, out, err, depth + 1)))
                return rc;
        }
        return sl_buf_putc(out, '>', err);
    default: return sl_buf_puts(out, scalar_name(t->kind), err);
    }
}

int sl_ctype_render(const struct sl_ctype *t, struct sl_buf *out, struct sl_err *err)
{
    return render(t, out, err, 0);
}

char *sl_ctype_to_string(const struct sl_ctype *t)
{
    struct sl_buf b;
    sl_buf_init(&b, 0);
    if (render(t, &b, NULL, 0) != SL_OK) {
        sl_buf_cleanup(&b);
        return NULL;
    }
    return sl_buf_take(&b, NULL);
}

/* ---- Parsing ---- */

struct tparser {
    const char *s;
    size_t pos;
    struct sl_err *err;
};

static void skip_ws(struct tparser *p)
{
    while (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' || p->s[p->pos] == '\n' ||
           p->s[p->pos] == '\r')
        p->pos++;
}

static int perr(struct tparser *p, const char *what)
{
    return sl_err_set(p->err, SL_EPARSE, "parse type \"%.200s\": offset %zu: %s", p->s, p->pos,
                      what);
}

static bool expect(struct tparser *p, char c)
{
    skip_ws(p);
    if (p->s[p->pos] != c)
        return false;
    p->pos++;
    return true;
}

/* Reads [A-Za-z_][A-Za-z0-9_ ]* keywords (lowercased into kw, truncated). */
static size_t read_word(struct tparser *p, char *kw, size_t cap)
{
    size_t n = 0;
    skip_ws(p);
    while (isalnum((unsigned char)p->s[p->pos]) || p->s[p->pos] == '_') {
        if (n + 1 < cap)
            kw[n] = (char)tolower((unsigned char)p->s[p->pos]);
        n++;
        p->pos++;
    }
    kw[n < cap ? n : cap - 1] = '\0';
    return n;
}

static bool read_int(struct tparser *p, int *v)
{
    skip_ws(p);
    if (!isdigit((unsigned char)p->s[p->pos]))
        return false;
    long n = 0;
    while (isdigit((unsigned char)p->s[p->pos])) {
        if (n < 100000)
            n = n * 10 + (p->s[p->pos] - '0');
        p->pos++;
    }
    *v = (int)n;
    return true;
}

static struct sl_ctype *parse_type(struct tparser *p, int depth);

/* A struct field name: back-quoted (`` is a literal back-quote) or a bare run
 * up to ':'; owned. */
static char *parse_field_name(struct tparser *p)
{
    struct sl_buf b;
    sl_buf_init(&b, 1 << 16);
    skip_ws(p);
    if (p->s[p->pos] == '`') {
        p->pos++;
        for (;;) {
            char c = p->s[p->pos];
            if (c == '\0') {
                perr(p, "unterminated back-quoted name");
                goto fail;
            }
            if (c == '`') {
                if (p->s[p->pos + 1] != '`')
                    break;
                p->pos++;
            }
            if (sl_buf_putc(&b, c, p->err) != SL_OK)
                goto fail;
            p->pos++;
        }
        p->pos++;
    } else {
        size_t start = p->pos;
        while (p->s[p->pos] && !strchr(":,<>`", p->s[p->pos]))
            p->pos++;
        size_t end = p->pos;
        while (end > start && (p->s[end - 1] == ' ' || p->s[end - 1] == '\t'))
            end--;
        if (end == start) {
            perr(p, "expected a field name");
            goto fail;
        }
        if (sl_buf_append(&b, p->s + start, end - start, p->err) != SL_OK)
            goto fail;
    }
    char *name = sl_buf_take(&b, NULL);
    if (!name)
        sl_err_set(p->err, SL_ENOMEM, "parse type: out of memory");
    return name;
fail:
    sl_buf_cleanup(&b);
    return NULL;
}

static struct sl_ctype *parse_struct(struct tparser *p, int depth)
{
    struct sl_ctype *st = sl_ctype_new(SL_CT_STRUCT);
    char *name = NULL;
    if (!st) {
        sl_err_set(p->err, SL_ENOMEM, "parse type: out of memory");
        return NULL;
    }
    if (!expect(p, '<')) {
        perr(p, "expected '<'");
        goto fail;
    }
    if (expect(p, '>'))
        return st;
    for (;;) {
        name = parse_field_name(p);
        if (!name)
            goto fail;
        if (!expect(p, ':')) {
            perr(p, "expected ':'");
            goto fail;
        }
        struct sl_ctype *ft = parse_type(p, depth + 1);
        if (!ft || sl_ctype_struct_add_take(st, name, ft, p->err) != SL_OK)
            goto fail;
        sl_free(name);
        name = NULL;
        if (expect(p, '>'))
            return st;
        if (!expect(p, ',')) {
            perr(p, "expected ',' or '>'");
            goto fail;
        }
    }
fail:
    sl_free(name);
    sl_ctype_free(st);
    return NULL;
}

static struct sl_ctype *parse_type(struct tparser *p, int depth)
{
    char kw[32];
    struct sl_ctype *t = NULL, *a = NULL, *b = NULL;

    if (depth > MAX_PARSE_DEPTH) {
        perr(p, "nested too deeply");
        return NULL;
    }
    size_t at = (skip_ws(p), p->pos);
    size_t n = read_word(p, kw, sizeof kw);
    if (n == 0 || n >= sizeof kw) {
        p->pos = at;
        perr(p, "expected a type name");
        return NULL;
    }
    static const struct {
        const char *name;
        enum sl_ct_kind kind;
    } scalars[] = {
        {"boolean", SL_CT_BOOLEAN},   {"tinyint", SL_CT_TINYINT},
        {"smallint", SL_CT_SMALLINT}, {"int", SL_CT_INT},
        {"integer", SL_CT_INT},       {"bigint", SL_CT_BIGINT},
        {"float", SL_CT_FLOAT},       {"double", SL_CT_DOUBLE},
        {"date", SL_CT_DATE},         {"timestamp", SL_CT_TIMESTAMP},
        {"string", SL_CT_STRING},     {"binary", SL_CT_BINARY},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(scalars); i++) {
        if (strcmp(kw, scalars[i].name) == 0) {
            t = sl_ctype_new(scalars[i].kind);
            goto done;
        }
    }
    if (strcmp(kw, "varchar") == 0 || strcmp(kw, "char") == 0) {
        int len;
        if (!expect(p, '(') || !read_int(p, &len) || !expect(p, ')')) {
            perr(p, "expected a length in parentheses");
            return NULL;
        }
        t = sl_ctype_new(SL_CT_STRING);
        goto done;
    }
    if (strcmp(kw, "decimal") == 0) {
        int prec = 10, scale = 0;
        size_t save = p->pos;
        if (expect(p, '(')) {
            if (!read_int(p, &prec)) {
                perr(p, "expected a precision");
                return NULL;
            }
            if (expect(p, ',') && !read_int(p, &scale)) {
                perr(p, "expected a scale");
                return NULL;
            }
            if (!expect(p, ')')) {
                perr(p, "expected ')'");
                return NULL;
            }
        } else {
            p->pos = save;
        }
        if (prec < 1 || prec > MAX_DECIMAL_PRECISION || scale < 0 || scale > prec) {
            perr(p, "decimal precision must be 1-38 and scale 0-precision");
            return NULL;
        }
        t = sl_ctype_decimal(prec, scale);
        goto done;
    }
    if (strcmp(kw, "array") == 0) {
        if (!expect(p, '<')) {
            perr(p, "expected '<'");
            return NULL;
        }
        if (!(a = parse_type(p, depth + 1)))
            return NULL;
        if (!expect(p, '>')) {
            perr(p, "expected '>'");
            sl_ctype_free(a);
            return NULL;
        }
        t = sl_ctype_array_take(a);
        goto done;
    }
    if (strcmp(kw, "map") == 0) {
        if (!expect(p, '<')) {
            perr(p, "expected '<'");
            return NULL;
        }
        if (!(a = parse_type(p, depth + 1)))
            return NULL;
        if (!expect(p, ',')) {
            perr(p, "expected ','");
            sl_ctype_free(a);
            return NULL;
        }
        if (!(b = parse_type(p, depth + 1))) {
            sl_ctype_free(a);
            return NULL;
        }
        if (!expect(p, '>')) {
            perr(p, "expected '>'");
            sl_ctype_free(a);
            sl_ctype_free(b);
            return NULL;
        }
        t = sl_ctype_map_take(a, b);
        goto done;
    }
    if (strcmp(kw, "struct") == 0)
        return parse_struct(p, depth);
    p->pos = at;
    perr(p, "unknown type name");
    return NULL;
done:
    if (!t)
        sl_err_set(p->err, SL_ENOMEM, "parse type: out of memory");
    return t;
}

struct sl_ctype *sl_ctype_parse(const char *s, struct sl_err *err)
{
    struct tparser p = {.s = s ? s : "", .pos = 0, .err = err};
    struct sl_ctype *t = parse_type(&p, 0);
    if (!t)
        return NULL;
    skip_ws(&p);
    if (p.s[p.pos] != '\0') {
        perr(&p, "unexpected text after the type");
        sl_ctype_free(t);
        return NULL;
    }
    return t;
}
