/*
 * runtime/catalog_schema.c - what makes a table version (spec/crawler.md §11.3):
 * the canonical format object, the schema hash, the §7.1 widening test between
 * two Hive type names, and the diff between the current and the proposed
 * schema that a new version records. Pure functions, no database access; the
 * table code that uses them is catalog_table.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "catalog.h"
#include "catalog_internal.h"

/* ---- Change kinds ---- */

static const char *const change_names[] = {
    "created",      "columns_added",       "columns_removed",        "type_widened",
    "type_changed", "placeholder_resolved", "partition_keys_changed", "format_changed",
    "columns_reordered",
};

const char *sl_catalog_change_name(unsigned bit)
{
    for (size_t i = 0; i < SL_ARRAY_LEN(change_names); i++) {
        if (bit == (1u << i))
            return change_names[i];
    }
    return NULL;
}

unsigned sl_catalog_change_parse(const char *name)
{
    for (size_t i = 0; name && i < SL_ARRAY_LEN(change_names); i++) {
        if (strcmp(change_names[i], name) == 0)
            return 1u << i;
    }
    return 0;
}

/* ---- Format and hash ---- */

/* The format parameters of §11.3 and the table parameter each comes from. */
static const struct {
    const char *key;   /* in the format object */
    const char *param; /* Glue / sluice table parameter */
} format_keys[] = {
    { "delimiter", "delimiter" },           { "encoding", "sluice.encoding" },
    { "escape", "escapeChar" },             { "header", "skip.header.line.count" },
    { "quote", "quoteChar" },
};

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

json_t *sl_catalog_format_json(const struct sl_catalog_table *t)
{
    json_t *f = json_object();

    if (!f || json_object_set_new(f, "classification", str_or_null(t->classification)) != 0)
        goto fail;
    for (size_t i = 0; i < SL_ARRAY_LEN(format_keys); i++) {
        const char *v = sl_catalog_params_get(&t->params, format_keys[i].param);
        if (json_object_set_new(f, format_keys[i].key, str_or_null(v)) != 0)
            goto fail;
    }
    return f;
fail:
    json_decref(f);
    return NULL;
}

/* [[name, type], ...] */
static json_t *pairs_json(const struct sl_catalog_column *cols, size_t n_cols)
{
    json_t *a = json_array();

    for (size_t i = 0; a && i < n_cols; i++) {
        json_t *pair = json_pack("[ss]", cols[i].name ? cols[i].name : "",
                                 cols[i].type ? cols[i].type : "");
        if (json_array_append_new(a, pair) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

int sl_catalog_schema_hash(const struct sl_catalog_table *t, char out[65], struct sl_err *err)
{
    json_t *doc = json_pack("[ooo]", pairs_json(t->columns, t->n_columns),
                            pairs_json(t->partition_keys, t->n_partition_keys),
                            sl_catalog_format_json(t));
    char *text;

    if (!doc)
        return sl_err_set(err, SL_ENOMEM, "schema hash: out of memory");
    /* canonical: compact, object keys sorted, UTF-8 as is */
    text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(doc);
    if (!text)
        return sl_err_set(err, SL_ENOMEM, "schema hash: out of memory");
    sl_sha256_hex(text, strlen(text), out);
    free(text); /* jansson's allocator */
    return SL_OK;
}

/* ---- Type widening (§7.1) ---- */

/* 1..4 for tinyint..bigint, 0 for other types. */
static int int_rank(const char *t)
{
    if (strcmp(t, "tinyint") == 0)
        return 1;
    if (strcmp(t, "smallint") == 0)
        return 2;
    if (strcmp(t, "int") == 0 || strcmp(t, "integer") == 0)
        return 3;
    if (strcmp(t, "bigint") == 0)
        return 4;
    return 0;
}

/* Decimal digits an integer type of this rank needs. */
static int int_digits(int rank)
{
    static const int digits[] = { 0, 3, 5, 10, 19 };
    return digits[rank];
}

/* Parses decimal(p,s) / decimal(p) / decimal; 1 when t is a decimal. */
static int parse_decimal(const char *t, int *p, int *s)
{
    char tail;

    if (strncmp(t, "decimal", 7) != 0)
        return 0;
    if (t[7] == '\0') {
        *p = 10; /* Hive's default */
        *s = 0;
        return 1;
    }
    *s = 0;
    if (sscanf(t + 7, " ( %d , %d )%c", p, s, &tail) == 2)
        return 1;
    *s = 0;
    return sscanf(t + 7, " ( %d )%c", p, &tail) == 1;
}

/* If t is "<prefix><...>", copies the inside into buf; 1 on success. */
static int inner_of(const char *t, const char *prefix, char *buf, size_t buf_len)
{
    size_t n = strlen(prefix);
    size_t len = strlen(t);

    if (strncmp(t, prefix, n) != 0 || t[n] != '<' || len < n + 2 || t[len - 1] != '>')
        return 0;
    if (len - n - 2 >= buf_len)
        return 0;
    memcpy(buf, t + n + 1, len - n - 2);
    buf[len - n - 2] = '\0';
    return 1;
}

/* Splits s at top-level commas (outside <> and `quotes`) in place; returns the
 * number of parts (at most max). */
static size_t split_top(char *s, char **parts, size_t max)
{
    size_t n = 0;
    int depth = 0;
    int quoted = 0;

    if (!*s)
        return 0;
    parts[n++] = s;
    for (char *p = s; *p; p++) {
        if (*p == '`')
            quoted = !quoted;
        else if (quoted)
            continue;
        else if (*p == '<' || *p == '(')
            depth++;
        else if (*p == '>' || *p == ')')
            depth--;
        else if (*p == ',' && depth == 0) {
            *p = '\0';
            if (n == max)
                return n;
            parts[n++] = p + 1;
        }
    }
    return n;
}

/* Splits "name:type" at the first top-level colon; NULL when there is none. */
static char *split_field(char *f)
{
    int quoted = 0;

    for (char *p = f; *p; p++) {
        if (*p == '`')
            quoted = !quoted;
        else if (*p == ':' && !quoted) {
            *p = '\0';
            return p + 1;
        }
    }
    return NULL;
}

static int widens_or_equal(const char *from, const char *to, int depth);

/* struct<a:T,...> to struct<a:U,...,b:V>: every field of 'from' is in 'to'
 * (by name) with an equal or wider type. */
static int struct_widens(const char *from_in, const char *to_in, int depth)
{
    enum { MAX_FIELDS = 512 };
    char *from = sl_strdup(from_in);
    char *to = sl_strdup(to_in);
    char **fp = sl_calloc(MAX_FIELDS, sizeof *fp);
    char **tp = sl_calloc(MAX_FIELDS, sizeof *tp);
    int ok = 0;

    if (!from || !to || !fp || !tp)
        goto done;
    size_t nf = split_top(from, fp, MAX_FIELDS);
    size_t nt = split_top(to, tp, MAX_FIELDS);
    char *tt[MAX_FIELDS];
    for (size_t j = 0; j < nt; j++) {
        tt[j] = split_field(tp[j]);
        if (!tt[j])
            goto done;
    }
    ok = 1;
    for (size_t i = 0; ok && i < nf; i++) {
        char *ftype = split_field(fp[i]);
        int found = 0;
        if (!ftype) {
            ok = 0;
            break;
        }
        for (size_t j = 0; j < nt && !found; j++) {
            if (strcmp(fp[i], tp[j]) == 0) {
                found = 1;
                ok = widens_or_equal(ftype, tt[j], depth + 1);
            }
        }
        if (!found)
            ok = 0;
    }
done:
    sl_free(from);
    sl_free(to);
    sl_free(fp);
    sl_free(tp);
    return ok;
}

static int widens(const char *from, const char *to, int depth)
{
    int rf, rt, p1, s1, p2, s2;
    char a[4096], b[4096];

    if (depth > 16 || strcmp(from, to) == 0)
        return 0;
    if (strcmp(to, "string") == 0)
        return 1; /* the top: any value can be read as its text */
    rf = int_rank(from);
    rt = int_rank(to);
    if (rf && rt)
        return rf < rt;
    if (rf && parse_decimal(to, &p2, &s2))
        return p2 - s2 >= int_digits(rf);
    if (parse_decimal(from, &p1, &s1) && parse_decimal(to, &p2, &s2))
        return s2 >= s1 && p2 - s2 >= p1 - s1;
    if (strcmp(to, "double") == 0)
        return rf || parse_decimal(from, &p1, &s1) || strcmp(from, "float") == 0;
    if (strcmp(from, "date") == 0 && strcmp(to, "timestamp") == 0)
        return 1;
    if (inner_of(from, "array", a, sizeof a) && inner_of(to, "array", b, sizeof b))
        return widens(a, b, depth + 1);
    if (inner_of(from, "map", a, sizeof a) && inner_of(to, "map", b, sizeof b)) {
        char *ka[2], *kb[2];
        if (split_top(a, ka, 2) != 2 || split_top(b, kb, 2) != 2 || strcmp(ka[0], kb[0]) != 0)
            return 0;
        return widens(ka[1], kb[1], depth + 1);
    }
    if (inner_of(from, "struct", a, sizeof a) && inner_of(to, "struct", b, sizeof b))
        return struct_widens(a, b, depth + 1);
    return 0;
}

static int widens_or_equal(const char *from, const char *to, int depth)
{
    return strcmp(from, to) == 0 || widens(from, to, depth);
}

int sl_catalog_type_widens(const char *from, const char *to)
{
    /* type names are compared as written: catalog types are lowercase Hive
     * names (§7.1), and struct field names inside them keep their case */
    if (!from || !to)
        return 0;
    return widens(from, to, 0);
}

/* ---- Diff ---- */

static const struct sl_catalog_column *find_col(const struct sl_catalog_column *cols, size_t n,
                                                const char *name, size_t *idx)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(cols[i].name, name) == 0) {
            if (idx)
                *idx = i;
            return &cols[i];
        }
    }
    return NULL;
}

static int is_placeholder(const struct sl_catalog_column *col)
{
    const char *v = sl_catalog_params_get(&col->params, "placeholder");
    return v && strcmp(v, "true") == 0;
}

static int append(json_t *arr, json_t *item)
{
    return item ? json_array_append_new(arr, item) : -1;
}

/* [{"name","type"}, ...] */
static json_t *cols_json(const struct sl_catalog_column *cols, size_t n)
{
    json_t *a = json_array();

    for (size_t i = 0; a && i < n; i++) {
        if (append(a, json_pack("{ssss}", "name", cols[i].name, "type", cols[i].type)) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static int same_pairs(const struct sl_catalog_column *a, size_t na,
                      const struct sl_catalog_column *b, size_t nb)
{
    if (na != nb)
        return 0;
    for (size_t i = 0; i < na; i++) {
        if (strcmp(a[i].name, b[i].name) != 0 || strcmp(a[i].type, b[i].type) != 0)
            return 0;
    }
    return 1;
}

int sl_catalog_schema_diff(const struct sl_catalog_column *old_cols, size_t n_old,
                           const struct sl_catalog_column *old_keys, size_t n_old_keys,
                           const json_t *old_format, const struct sl_catalog_table *t,
                           const json_t *new_format, const char *reason, json_t **change,
                           unsigned *kinds, struct sl_err *err)
{
    json_t *added = json_array(), *removed = json_array(), *widened = json_array();
    json_t *changed = json_array(), *resolved = json_array();
    json_t *ch = json_object();
    unsigned k = 0;
    size_t last_idx = 0;
    int reordered = 0;

    *change = NULL;
    *kinds = 0;
    if (!added || !removed || !widened || !changed || !resolved || !ch)
        goto oom;
    for (size_t i = 0; i < t->n_columns; i++) {
        const struct sl_catalog_column *nc = &t->columns[i];
        size_t idx = 0;
        const struct sl_catalog_column *oc = find_col(old_cols, n_old, nc->name, &idx);
        json_t *item;
        int rc = 0;
        if (!oc) {
            rc = append(added, json_pack("{ssss}", "name", nc->name, "type", nc->type));
        } else {
            if (idx < last_idx)
                reordered = 1;
            last_idx = idx;
            if (strcmp(oc->type, nc->type) != 0 || (is_placeholder(oc) && !is_placeholder(nc))) {
                item = json_pack("{ssssss}", "name", nc->name, "from", oc->type, "to", nc->type);
                if (is_placeholder(oc) && !is_placeholder(nc))
                    rc = append(resolved, item);
                else if (sl_catalog_type_widens(oc->type, nc->type))
                    rc = append(widened, item);
                else
                    rc = append(changed, item);
            }
        }
        if (rc != 0)
            goto oom;
    }
    for (size_t i = 0; i < n_old; i++) {
        if (!find_col(t->columns, t->n_columns, old_cols[i].name, NULL) &&
            append(removed, json_pack("{ssss}", "name", old_cols[i].name, "type",
                                      old_cols[i].type)) != 0)
            goto oom;
    }
    if (json_array_size(added))
        k |= SL_CATALOG_CHANGE_COLUMNS_ADDED;
    if (json_array_size(removed))
        k |= SL_CATALOG_CHANGE_COLUMNS_REMOVED;
    if (json_array_size(widened))
        k |= SL_CATALOG_CHANGE_TYPE_WIDENED;
    if (json_array_size(changed))
        k |= SL_CATALOG_CHANGE_TYPE_CHANGED;
    if (json_array_size(resolved))
        k |= SL_CATALOG_CHANGE_PLACEHOLDER_RESOLVED;
    if (reordered)
        k |= SL_CATALOG_CHANGE_COLUMNS_REORDERED;
    if (json_object_set_new(ch, "added", added) != 0 ||
        json_object_set_new(ch, "removed", removed) != 0 ||
        json_object_set_new(ch, "widened", widened) != 0 ||
        json_object_set_new(ch, "changed", changed) != 0 ||
        json_object_set_new(ch, "placeholder_resolved", resolved) != 0) {
        added = removed = widened = changed = resolved = NULL; /* set_new stole them */
        goto oom;
    }
    added = removed = widened = changed = resolved = NULL;
    if (!same_pairs(old_keys, n_old_keys, t->partition_keys, t->n_partition_keys)) {
        k |= SL_CATALOG_CHANGE_PARTITION_KEYS_CHANGED;
        if (json_object_set_new(ch, "partition_keys",
                                json_pack("{soso}", "from", cols_json(old_keys, n_old_keys), "to",
                                          cols_json(t->partition_keys, t->n_partition_keys))) !=
            0)
            goto oom;
    }
    if (!old_format || !json_equal((json_t *)old_format, (json_t *)new_format)) {
        k |= SL_CATALOG_CHANGE_FORMAT_CHANGED;
        if (json_object_set_new(ch, "format",
                                json_pack("{sOsO}", "from", old_format ? old_format : json_null(),
                                          "to", new_format)) != 0)
            goto oom;
    }
    if (json_object_set_new(ch, "reason", json_string(reason ? reason : "user")) != 0)
        goto oom;
    if (!old_format)
        k = SL_CATALOG_CHANGE_CREATED; /* a new table: the parts say what it holds */
    *change = ch;
    *kinds = k;
    return SL_OK;
oom:
    json_decref(added);
    json_decref(removed);
    json_decref(widened);
    json_decref(changed);
    json_decref(resolved);
    json_decref(ch);
    return sl_err_set(err, SL_ENOMEM, "schema diff: out of memory");
}

int sl_catalog_change_kinds_literal(unsigned kinds, struct sl_buf *b, struct sl_err *err)
{
    const char *names[SL_ARRAY_LEN(change_names)];
    size_t n = 0;

    for (size_t i = 0; i < SL_ARRAY_LEN(change_names); i++) {
        if (kinds & (1u << i))
            names[n++] = change_names[i];
    }
    return sl_catalog_text_array(b, names, n, err);
}
