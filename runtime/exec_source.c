/*
 * runtime/exec_source.c - sources of a run: listing (from_path prefixes and
 * catalog tables, with partition pruning by push_down_predicate before any
 * object is read), the objects a reader must skip (names starting with '_'
 * or '.', part files of runs no manifest published, objects the job's
 * bookmark has seen), typing (declared schema, catalog columns, or the
 * injected inference for schemaless from_path), splits (one per object, byte
 * ranges for large uncompressed line formats), reading a split into batches,
 * and the job bookmark (catalog.h) read at the start and committed at the end
 * (inside the publish transaction of a run's only write when that loads into
 * the catalog's database, else after publishing).
 *
 * Hive-style folders (key=value/) below a from_path root become string
 * columns after the file's columns; catalog partition keys carry their
 * catalog types.
 */
#include "exec_internal.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "hash.h"
#include "predicate.h"

#define SPLIT_MIN ((int64_t)8 << 20)

void xsource_cleanup(struct xsource *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_objects; i++) {
        sl_free(s->objects[i].key);
        sl_free(s->objects[i].uri);
        size_t np = s->schema_n_parts + s->schema_n_parts_catalog;
        for (size_t k = 0; s->objects[i].part_values && k < np; k++)
            sl_free(s->objects[i].part_values[k]);
        sl_free(s->objects[i].part_values);
    }
    sl_free(s->objects);
    sl_free(s->splits);
    sl_free(s->root_uri);
    sl_free(s->source_id);
    sl_free(s->null_token);
    for (size_t k = 0; k < s->schema_n_parts; k++)
        sl_free(s->part_names[k]);
    sl_free(s->part_names);
}

/* ---- Listing ---- */

struct listing {
    struct xsource *src;
    struct sl_store *st;
    const char *root_key;      /* objects' keys start with it */
    size_t root_len;
    json_t *committed;         /* object: key -> true, from manifests */
    bool have_manifests;
    char **manifests;          /* keys of the manifests (_manifests folder) */
    size_t n_manifests, cap_manifests;
    struct xobject *objs;
    size_t n, cap;
    const char *const *part_values; /* catalog: values of the partition being listed */
    size_t n_parts;
    struct sl_err *err;
};

static bool hidden(const char *rel)
{
    for (const char *p = rel; *p;) {
        if (*p == '_' || *p == '.')
            return true;
        const char *slash = strchr(p, '/');
        if (!slash)
            break;
        p = slash + 1;
    }
    return false;
}

static int add_object(struct listing *l, const struct sl_obj_info *o)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        struct xobject *v = sl_realloc(l->objs, cap * sizeof *v);
        if (!v)
            return sl_err_set(l->err, SL_ENOMEM, "out of memory");
        l->objs = v;
        l->cap = cap;
    }
    struct xobject *x = &l->objs[l->n];
    memset(x, 0, sizeof *x);
    x->key = sl_strdup(o->key);
    x->uri = sl_store_uri(l->st, o->key);
    x->size = o->size;
    snprintf(x->etag, sizeof x->etag, "%s", o->etag);
    if (!x->key || !x->uri) {
        sl_free(x->key);
        sl_free(x->uri);
        return sl_err_set(l->err, SL_ENOMEM, "out of memory");
    }
    if (l->part_values) {
        x->part_values = sl_calloc(l->n_parts + 1, sizeof *x->part_values);
        for (size_t k = 0; x->part_values && k < l->n_parts; k++)
            x->part_values[k] = l->part_values[k] ? sl_strdup(l->part_values[k]) : NULL;
    }
    l->n++;
    return SL_OK;
}

static int on_list(void *ud, const struct sl_obj_info *o)
{
    struct listing *l = ud;
    const char *rel = o->key + (strncmp(o->key, l->root_key, l->root_len) == 0 ? l->root_len : 0);
    if (o->is_prefix)
        return SL_OK;
    const char *m = strstr(rel, "_manifests/");
    if (m && (m == rel || m[-1] == '/') && strlen(m) > 16 &&
        strcmp(o->key + strlen(o->key) - 5, ".json") == 0) {
        if (l->n_manifests == l->cap_manifests) {
            size_t cap = l->cap_manifests ? l->cap_manifests * 2 : 8;
            char **v = sl_realloc(l->manifests, cap * sizeof *v);
            if (!v)
                return sl_err_set(l->err, SL_ENOMEM, "out of memory");
            l->manifests = v;
            l->cap_manifests = cap;
        }
        l->manifests[l->n_manifests] = sl_strdup(o->key);
        if (!l->manifests[l->n_manifests])
            return sl_err_set(l->err, SL_ENOMEM, "out of memory");
        l->n_manifests++;
        return SL_OK;
    }
    if (hidden(rel))
        return SL_OK;
    return add_object(l, o);
}

static int collect_body(void *ud, const void *data, size_t len)
{
    struct sl_err e = {0};
    return sl_buf_append(ud, data, len, &e);
}

/* Reads every manifest found; a part file is published when one lists it. */
static int read_manifests(struct listing *l)
{
    for (size_t i = 0; i < l->n_manifests; i++) {
        struct sl_buf b;
        sl_buf_init(&b, (size_t)64 << 20);
        int rc = sl_store_get(l->st, l->manifests[i], 0, -1, collect_body, &b, l->err);
        if (rc != SL_OK) {
            sl_buf_cleanup(&b);
            return sl_err_prefix(l->err, "manifest %s", l->manifests[i]), rc;
        }
        json_error_t je;
        json_t *m = json_loadb(b.data ? b.data : "", b.len, 0, &je);
        sl_buf_cleanup(&b);
        if (!m) /* a manifest we cannot read publishes nothing */
            continue;
        /* the manifest's root: the folder holding _manifests/ */
        const char *mk = l->manifests[i];
        const char *at = strstr(mk, "_manifests/");
        while (at && strstr(at + 1, "_manifests/"))
            at = strstr(at + 1, "_manifests/");
        size_t root_len = at ? (size_t)(at - mk) : 0;
        json_t *files = json_object_get(m, "files"), *f;
        size_t idx;
        json_array_foreach(files, idx, f)
        {
            const char *path = json_string_value(json_object_get(f, "path"));
            if (!path)
                continue;
            char *key = sl_asprintf("%.*s%s", (int)root_len, mk, path);
            if (key)
                json_object_set_new(l->committed, key, json_true());
            sl_free(key);
        }
        json_decref(m);
        l->have_manifests = true;
    }
    return SL_OK;
}

static const char *base_name(const char *key)
{
    const char *s = strrchr(key, '/');
    return s ? s + 1 : key;
}

/* Named as sluice names its outputs: part-<id>-<5 digits>-<3 digits>.<ext> */
static bool sluice_part_name(const char *name)
{
    if (strncmp(name, "part-", 5) != 0)
        return false;
    const char *dot = strchr(name + 5, '.');
    size_t n = dot ? (size_t)(dot - name) : strlen(name);
    if (n < 5 + 1 + 1 + 5 + 1 + 3)
        return false;
    const char *t = name + n - 10; /* "-DDDDD-DDD" */
    if (t[0] != '-' || t[6] != '-')
        return false;
    for (int i = 1; i < 10; i++)
        if (i != 6 && (t[i] < '0' || t[i] > '9'))
            return false;
    return true;
}

/* Drops unpublished part files and objects the bookmark has seen. */
static void filter_objects(struct xrun *r, struct listing *l)
{
    struct xsource *src = l->src;
    json_t *seen = NULL;
    if (r->o->bookmark && r->bookmark_old)
        seen = json_object_get(json_object_get(r->bookmark_old, "sources"), src->source_id);
    size_t k = 0;
    for (size_t i = 0; i < l->n; i++) {
        struct xobject *o = &l->objs[i];
        bool skip = false;
        const char *bn = base_name(o->key);
        if ((l->have_manifests && strncmp(bn, "part-", 5) == 0) || sluice_part_name(bn))
            skip = !json_object_get(l->committed, o->key);
        json_t *e = seen ? json_object_get(seen, o->key) : NULL;
        if (e) {
            const char *etag = json_string_value(json_object_get(e, "etag"));
            json_int_t size = json_integer_value(json_object_get(e, "size"));
            if (etag && strcmp(etag, o->etag) == 0 && size == o->size)
                skip = true;
        }
        if (skip) {
            src->skipped++;
            sl_free(o->key);
            sl_free(o->uri);
            for (size_t p = 0; o->part_values && p < l->n_parts; p++)
                sl_free(o->part_values[p]);
            sl_free(o->part_values);
            continue;
        }
        l->objs[k++] = *o;
    }
    l->n = k;
}

static int list_prefix(struct listing *l, const char *prefix)
{
    return sl_store_list(l->st, prefix, NULL, on_list, l, l->err);
}

/* ---- Format options ---- */

static bool truthy(const char *v)
{
    return v && (strcmp(v, "true") == 0 || strcmp(v, "1") == 0 || strcmp(v, "TRUE") == 0 ||
                 strcmp(v, "True") == 0);
}

static const char *opt(const struct sl_plan_node *pn, const char *key)
{
    for (size_t i = 0; i < pn->n_options; i++)
        if (strcmp(pn->options[i].key, key) == 0)
            return pn->options[i].value;
    return NULL;
}

/* Table/inferred parameters (Glue names) into reader options. */
static void opts_from_params(struct xsource *s, const struct sl_catalog_params *p)
{
    const char *v;
    if ((v = sl_catalog_params_get(p, "delimiter")) && v[0])
        s->fopts.delimiter = v[0];
    if ((v = sl_catalog_params_get(p, "field.delim")) && v[0])
        s->fopts.delimiter = v[0];
    if ((v = sl_catalog_params_get(p, "quoteChar")))
        s->fopts.quote = v[0];
    if ((v = sl_catalog_params_get(p, "escapeChar")))
        s->fopts.escape = v[0] == '\\' ? SL_FMT_ESC_BACKSLASH
                        : v[0] == 0 || v[0] == s->fopts.quote ? SL_FMT_ESC_DOUBLED
                                                               : SL_FMT_ESC_NONE;
    if ((v = sl_catalog_params_get(p, "skip.header.line.count")))
        s->fopts.skip_lines = atoi(v);
    if ((v = sl_catalog_params_get(p, "sluice.csv.comment")))
        s->fopts.comment = v[0];
    if ((v = sl_catalog_params_get(p, "sluice.csv.trailing_delimiter")))
        s->fopts.trailing_delimiter = truthy(v);
    if ((v = sl_catalog_params_get(p, "sluice.csv.trim")))
        s->fopts.trim = truthy(v);
    if ((v = sl_catalog_params_get(p, "sluice.json.layout")))
        s->fopts.json_layout = strcmp(v, "array") == 0   ? SL_FMT_JSON_ARRAY
                             : strcmp(v, "lines") == 0 ? SL_FMT_JSON_LINES
                                                       : SL_FMT_JSON_AUTO;
}

/* The script's options win over the table's or the inferred ones. */
static int opts_from_script(struct xsource *s, const struct sl_plan_node *pn, bool *multiline,
                            struct sl_err *err)
{
    const char *v;
    if ((v = opt(pn, "delimiter"))) {
        if (strlen(v) != 1)
            return sl_err_set(err, SL_ECONFIG, "from_path: delimiter must be one character");
        s->fopts.delimiter = v[0];
    }
    if ((v = opt(pn, "quote")))
        s->fopts.quote = v[0];
    if ((v = opt(pn, "escape"))) {
        if (strcmp(v, "doubled") == 0)
            s->fopts.escape = SL_FMT_ESC_DOUBLED;
        else if (strcmp(v, "backslash") == 0)
            s->fopts.escape = SL_FMT_ESC_BACKSLASH;
        else if (strcmp(v, "none") == 0)
            s->fopts.escape = SL_FMT_ESC_NONE;
        else
            return sl_err_set(err, SL_ECONFIG,
                              "from_path: escape must be \"doubled\", \"backslash\" or \"none\"");
    }
    if ((v = opt(pn, "comment")))
        s->fopts.comment = v[0];
    if ((v = opt(pn, "header")))
        s->fopts.skip_lines = truthy(v) ? 1 : 0;
    if ((v = opt(pn, "skip_lines")))
        s->fopts.skip_lines = atoi(v);
    if ((v = opt(pn, "trim")))
        s->fopts.trim = truthy(v);
    if ((v = opt(pn, "trailing_delimiter")))
        s->fopts.trailing_delimiter = truthy(v);
    if ((v = opt(pn, "null_value"))) {
        s->null_token = sl_strdup(v);
        if (!s->null_token)
            return sl_err_set(err, SL_ENOMEM, "out of memory");
        s->null_tokens[0] = s->null_token;
        s->null_tokens[1] = NULL;
        s->fopts.null_tokens = s->null_tokens;
    }
    if ((v = opt(pn, "json_layout")))
        s->fopts.json_layout = strcmp(v, "array") == 0   ? SL_FMT_JSON_ARRAY
                             : strcmp(v, "lines") == 0 ? SL_FMT_JSON_LINES
                                                       : SL_FMT_JSON_AUTO;
    if ((v = opt(pn, "multiline")))
        *multiline = truthy(v);
    return SL_OK;
}

static bool compressed_name(const char *key)
{
    static const char *const ext[] = {".gz", ".gzip", ".bz2", ".xz", ".zst", ".zstd",
                                      ".zip", ".snappy", ".lz4", ".z", NULL};
    size_t len = strlen(key);
    for (const char *const *e = ext; *e; e++) {
        size_t n = strlen(*e);
        if (len > n && strcasecmp(key + len - n, *e) == 0)
            return true;
    }
    return false;
}

/* ---- Partition folders of from_path ---- */

/* A folder's value decoded as the crawler decodes it; NULL for Hive's NULL. */
static char *unescape(const char *p, size_t len)
{
    char *out = sl_hive_unescape(p, len);
    if (out && strcmp(out, "__HIVE_DEFAULT_PARTITION__") == 0) {
        sl_free(out);
        return NULL;
    }
    return out;
}

/* Partition column names from the first object's folders; each object's values. */
static int hive_folders(struct xsource *s, const char *root_key, struct sl_err *err)
{
    size_t rl = strlen(root_key);
    if (s->n_objects == 0)
        return SL_OK;
    const char *rel = s->objects[0].key + rl;
    for (const char *p = rel;;) { /* names */
        const char *slash = strchr(p, '/');
        if (!slash)
            break;
        const char *eq = memchr(p, '=', (size_t)(slash - p));
        if (!eq || eq == p)
            break;
        char **v = sl_realloc(s->part_names, (s->schema_n_parts + 1) * sizeof *v);
        if (!v)
            return sl_err_set(err, SL_ENOMEM, "out of memory");
        s->part_names = v;
        s->part_names[s->schema_n_parts] = sl_strndup(p, (size_t)(eq - p));
        if (!s->part_names[s->schema_n_parts])
            return sl_err_set(err, SL_ENOMEM, "out of memory");
        s->schema_n_parts++;
        p = slash + 1;
    }
    for (size_t i = 0; s->schema_n_parts && i < s->n_objects; i++) {
        struct xobject *o = &s->objects[i];
        o->part_values = sl_calloc(s->schema_n_parts, sizeof *o->part_values);
        if (!o->part_values)
            return sl_err_set(err, SL_ENOMEM, "out of memory");
        for (const char *p = o->key + rl;;) {
            const char *slash = strchr(p, '/');
            if (!slash)
                break;
            const char *eq = memchr(p, '=', (size_t)(slash - p));
            if (eq) {
                for (size_t k = 0; k < s->schema_n_parts; k++)
                    if (strlen(s->part_names[k]) == (size_t)(eq - p) &&
                        memcmp(s->part_names[k], p, (size_t)(eq - p)) == 0 && !o->part_values[k])
                        o->part_values[k] = unescape(eq + 1, (size_t)(slash - eq - 1));
            }
            p = slash + 1;
        }
    }
    return SL_OK;
}

/* ---- Prepare ---- */

static int make_schema(struct xrun *r, struct xsource *s, const char *const *names,
                       const enum sl_vtype *types, size_t n_file, const char *const *pnames,
                       const enum sl_vtype *ptypes, size_t n_parts, struct sl_err *err)
{
    const char **nm = sl_calloc(n_file + n_parts + 1, sizeof *nm);
    enum sl_vtype *ty = sl_calloc(n_file + n_parts + 1, sizeof *ty);
    int rc = SL_OK;
    if (!nm || !ty) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n_file; i++) {
        nm[i] = names[i];
        ty[i] = types[i];
    }
    size_t n = n_file;
    for (size_t k = 0; k < n_parts; k++) {
        bool dup = false;
        for (size_t i = 0; i < n_file; i++)
            dup |= strcmp(names[i], pnames[k]) == 0;
        if (dup) {
            rc = sl_err_set(err, SL_ECONFIG,
                            "partition folder \"%s=...\" has the name of a column in the files",
                            pnames[k]);
            goto out;
        }
        nm[n] = pnames[k];
        ty[n++] = ptypes ? ptypes[k] : SL_V_STRING;
    }
    s->file_schema = xschema_intern(r, nm, ty, n_file);
    s->schema = xschema_intern(r, nm, ty, n);
    s->n_file_cols = n_file;
    if (!s->schema || !s->file_schema)
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
out:
    sl_free(nm);
    sl_free(ty);
    return rc;
}

static int schema_from_columns(struct xrun *r, struct xsource *s,
                               const struct sl_catalog_column *cols, size_t n,
                               const struct sl_catalog_column *pcols, size_t np,
                               struct sl_err *err)
{
    const char **names = sl_calloc(n + 1, sizeof *names);
    enum sl_vtype *types = sl_calloc(n + 1, sizeof *types);
    const char **pn = sl_calloc(np + s->schema_n_parts + 1, sizeof *pn);
    enum sl_vtype *pt = sl_calloc(np + s->schema_n_parts + 1, sizeof *pt);
    int rc;
    if (!names || !types || !pn || !pt) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
    } else {
        for (size_t i = 0; i < n; i++) {
            names[i] = cols[i].name;
            types[i] = sl_vtype_from_catalog(cols[i].type);
        }
        size_t k = 0;
        for (size_t i = 0; i < np; i++) {
            pn[k] = pcols[i].name;
            pt[k++] = sl_vtype_from_catalog(pcols[i].type);
        }
        for (size_t i = 0; i < s->schema_n_parts; i++) {
            pn[k] = s->part_names[i];
            pt[k++] = SL_V_STRING;
        }
        rc = make_schema(r, s, names, types, n, pn, pt, k, err);
    }
    sl_free(names);
    sl_free(types);
    sl_free(pn);
    sl_free(pt);
    return rc;
}

struct head_scan {
    char quote;
    bool in_quotes, found;
};

static int scan_head(void *ud, const void *data, size_t len)
{
    struct head_scan *h = ud;
    const char *p = data;
    for (size_t i = 0; i < len && !h->found; i++) {
        if (p[i] == h->quote)
            h->in_quotes = !h->in_quotes; /* a doubled quote toggles twice */
        else if (h->in_quotes && (p[i] == '\n' || p[i] == '\r'))
            h->found = true;
    }
    return SL_OK;
}

/* Does the first MiB of a CSV object hold a quoted line break? Then byte-range
 * splits could start inside a field, and the object is read as one split. */
static bool quoted_breaks(struct sl_store *st, const char *key, char quote)
{
    struct head_scan h = {.quote = quote};
    struct sl_err e = {0};
    if (!quote || !st)
        return false;
    if (sl_store_get(st, key, 0, (int64_t)1 << 20, scan_head, &h, &e) != SL_OK)
        return true; /* unknown: do not split */
    return h.found;
}

static int make_splits(struct xrun *r, struct xsource *s, bool splittable, bool check_quotes,
                       struct sl_store *st, struct sl_err *err)
{
    int64_t total = 0;
    for (size_t i = 0; i < s->n_objects; i++)
        total += s->objects[i].size;
    int64_t split = total / (r->workers * 4);
    if (split < SPLIT_MIN)
        split = SPLIT_MIN;
    if (split > SL_EXEC_SPLIT_BYTES)
        split = SL_EXEC_SPLIT_BYTES;
    size_t cap = s->n_objects + 1;
    for (size_t i = 0; splittable && i < s->n_objects; i++)
        cap += (size_t)(s->objects[i].size / split) + 1;
    s->splits = sl_calloc(cap, sizeof *s->splits);
    if (!s->splits)
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    for (size_t i = 0; i < s->n_objects; i++) {
        int64_t size = s->objects[i].size;
        if (!splittable || size <= split + split / 2 || compressed_name(s->objects[i].key) ||
            (check_quotes && quoted_breaks(st, s->objects[i].key, s->fopts.quote))) {
            s->splits[s->n_splits++] = (struct xsplit){i, 0, -1};
            continue;
        }
        for (int64_t at = 0; at < size; at += split) {
            int64_t end = at + split >= size || size - (at + split) < split / 2 ? -1 : at + split;
            s->splits[s->n_splits++] = (struct xsplit){i, at, end};
            if (end < 0)
                break;
        }
    }
    return SL_OK;
}

static int prepare_path(struct xrun *r, struct xsource *s, const struct sl_plan_node *pn,
                        struct listing *l, struct sl_err *err)
{
    char *key = NULL;
    int rc;
    l->st = sl_store_open(pn->uri, &key, err);
    if (!l->st)
        return sl_err_prefix(err, "from_path %s", pn->uri), err->code;
    s->root_uri = sl_strdup(pn->uri);
    s->source_id = sl_asprintf("path:%s", pn->uri);
    if (!s->root_uri || !s->source_id) {
        sl_free(key);
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    size_t klen = strlen(key);
    struct sl_obj_info info = {0};
    if (klen && key[klen - 1] != '/' && sl_store_head(l->st, key, &info, err) == SL_OK) {
        info.key = key;
        l->root_key = "";
        rc = add_object(l, &info);
        info.key = NULL;
        if (rc == SL_OK) { /* the root is the object's folder */
            char *slash = strrchr(key, '/');
            if (slash)
                slash[1] = 0;
            else
                key[0] = 0;
        }
    } else {
        char *dir = klen && key[klen - 1] != '/' ? sl_asprintf("%s/", key) : sl_strdup(key);
        if (!dir) {
            sl_free(key);
            return sl_err_set(err, SL_ENOMEM, "out of memory");
        }
        sl_free(key);
        key = dir;
        l->root_key = key;
        l->root_len = strlen(key);
        rc = list_prefix(l, key);
        if (rc == SL_OK)
            rc = read_manifests(l);
    }
    if (rc == SL_OK)
        filter_objects(r, l);
    s->objects = l->objs;
    s->n_objects = l->n;
    l->objs = NULL;
    l->n = 0;
    if (rc == SL_OK)
        rc = hive_folders(s, key, err);
    if (rc != SL_OK) {
        sl_free(key);
        return sl_err_prefix(err, "from_path %s", pn->uri), rc;
    }

    const char *fmt = pn->format ? pn->format : "csv";
    s->ops = sl_fmt_find(fmt);
    if (!s->ops) {
        sl_free(key);
        return sl_err_set(err, SL_ECONFIG, "from_path: unknown format \"%s\"", fmt);
    }
    sl_fmt_opts_init(&s->fopts);
    if (strcmp(fmt, "tsv") == 0)
        s->fopts.delimiter = '\t';
    if (strcmp(fmt, "jsonl") == 0 || strcmp(fmt, "ndjson") == 0)
        s->fopts.json_layout = SL_FMT_JSON_LINES;
    if (pn->n_schema > 0) {
        const char **names = sl_calloc(pn->n_schema, sizeof *names);
        enum sl_vtype *types = sl_calloc(pn->n_schema, sizeof *types);
        rc = names && types ? SL_OK : sl_err_set(err, SL_ENOMEM, "out of memory");
        for (size_t i = 0; rc == SL_OK && i < pn->n_schema; i++) {
            names[i] = pn->schema[i].key;
            types[i] = sl_vtype_from_catalog(pn->schema[i].value);
        }
        if (rc == SL_OK)
            rc = make_schema(r, s, names, types, pn->n_schema,
                             (const char *const *)s->part_names, NULL, s->schema_n_parts, err);
        sl_free(names);
        sl_free(types);
    } else if (s->n_objects > 0) {
        if (!r->o->infer) {
            sl_free(key);
            return sl_err_set(err, SL_ECONFIG, "from_path %s: no schema given and no inference",
                              pn->uri);
        }
        struct sl_catalog_table t;
        sl_catalog_table_init(&t);
        struct sl_obj_info oi = {.key = s->objects[0].key, .size = s->objects[0].size};
        snprintf(oi.etag, sizeof oi.etag, "%s", s->objects[0].etag);
        rc = r->o->infer(r->o->infer_ud, l->st, &oi, fmt, &t, err);
        if (rc == SL_OK) {
            opts_from_params(s, &t.params);
            rc = schema_from_columns(r, s, t.columns, t.n_columns, NULL, 0, err);
        } else {
            sl_err_prefix(err, "from_path %s: typing %s", pn->uri, s->objects[0].uri);
        }
        sl_catalog_table_cleanup(&t);
    } else {
        /* nothing to read: any schema does */
        rc = make_schema(r, s, NULL, NULL, 0, NULL, NULL, 0, err);
    }
    sl_free(key);
    return rc;
}

static int open_catalog(struct xrun *r, struct sl_err *err)
{
    if (r->catalog)
        return SL_OK;
    r->catalog = sl_catalog_open(err);
    return r->catalog ? SL_OK : err->code;
}

static int prepare_catalog(struct xrun *r, struct xsource *s, const struct sl_plan_node *pn,
                           struct listing *l, struct sl_err *err)
{
    struct sl_catalog_table *t = NULL;
    struct sl_pred *pred = NULL;
    int rc = open_catalog(r, err);
    if (rc == SL_OK)
        rc = sl_catalog_table_get(r->catalog, pn->database, pn->table, &t, err);
    if (rc != SL_OK)
        return sl_err_prefix(err, "from_catalog %s.%s", pn->database, pn->table), rc;
    s->root_uri = sl_strdup(t->location ? t->location : "");
    s->source_id = sl_asprintf("catalog:%s.%s", t->database, t->name);
    const char *cls = t->classification ? t->classification : "";
    const char *fmt = strcmp(cls, "csv") == 0 ? "csv" : strcmp(cls, "json") == 0 ? "json" : NULL;
    if (!s->root_uri || !s->source_id)
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
    else if (!fmt)
        rc = sl_err_set(err, SL_ECONFIG,
                        "the table is %s; sluice reads csv and json tables for now",
                        cls[0] ? cls : "of unknown classification");
    if (rc == SL_OK) {
        s->ops = sl_fmt_find(fmt);
        sl_fmt_opts_init(&s->fopts);
        opts_from_params(s, &t->params);
        l->st = sl_store_open(s->root_uri, NULL, err);
        if (!l->st)
            rc = err->code;
    }
    if (rc == SL_OK)
        rc = schema_from_columns(r, s, t->columns, t->n_columns, t->partition_keys,
                                 t->n_partition_keys, err);
    size_t np = t ? t->n_partition_keys : 0;
    if (rc == SL_OK && np > 0) {
        const char **keys = sl_calloc(np, sizeof *keys);
        const char **types = sl_calloc(np, sizeof *types);
        rc = keys && types ? SL_OK : sl_err_set(err, SL_ENOMEM, "out of memory");
        for (size_t i = 0; rc == SL_OK && i < np; i++) {
            keys[i] = t->partition_keys[i].name;
            types[i] = t->partition_keys[i].type;
        }
        if (rc == SL_OK)
            rc = sl_pred_parse(pn->predicate, keys, types, np, &pred, err);
        sl_free(keys);
        sl_free(types);
        /* every partition, page by page; pruned before listing any object */
        char **after = NULL;
        size_t n_after = 0;
        while (rc == SL_OK) {
            struct sl_catalog_partition *parts = NULL;
            size_t n_parts = 0;
            rc = sl_catalog_partition_list(r->catalog, pn->database, pn->table,
                                           (const char *const *)after, n_after, 1000, &parts,
                                           &n_parts, err);
            if (rc != SL_OK)
                break;
            for (size_t i = 0; rc == SL_OK && i < n_parts; i++) {
                struct sl_catalog_partition *p = &parts[i];
                if (!sl_pred_eval(pred, (const char *const *)p->values)) {
                    s->skipped_partitions++;
                    continue;
                }
                const char *loc = p->location ? p->location : "";
                struct sl_uri u;
                if ((rc = sl_uri_parse(loc, &u, err)) != SL_OK)
                    break;
                l->root_key = u.key;
                l->root_len = strlen(u.key);
                l->part_values = (const char *const *)p->values;
                l->n_parts = p->n_values;
                rc = list_prefix(l, u.key);
                sl_uri_cleanup(&u);
                l->part_values = NULL;
            }
            for (size_t i = 0; i < n_after; i++)
                sl_free(after[i]);
            sl_free(after);
            after = NULL;
            n_after = 0;
            if (rc == SL_OK && n_parts == 1000) {
                struct sl_catalog_partition *last = &parts[n_parts - 1];
                after = sl_calloc(last->n_values + 1, sizeof *after);
                for (size_t k = 0; after && k < last->n_values; k++)
                    after[k] = sl_strdup(last->values[k]);
                n_after = last->n_values;
            }
            sl_catalog_partition_list_free(parts, n_parts);
            if (n_parts < 1000)
                break;
        }
        for (size_t i = 0; i < n_after; i++)
            sl_free(after[i]);
        sl_free(after);
    } else if (rc == SL_OK) {
        struct sl_uri u;
        rc = sl_uri_parse(s->root_uri, &u, err);
        if (rc == SL_OK) {
            size_t kl = strlen(u.key);
            struct sl_obj_info info = {0};
            if (kl && u.key[kl - 1] != '/' && sl_store_head(l->st, u.key, &info, err) == SL_OK) {
                info.key = u.key;
                rc = add_object(l, &info);
            } else {
                l->root_key = u.key;
                l->root_len = kl;
                rc = list_prefix(l, u.key);
            }
            sl_uri_cleanup(&u);
        }
    }
    if (rc == SL_OK)
        rc = read_manifests(l);
    if (rc == SL_OK) {
        l->n_parts = np;
        filter_objects(r, l);
    }
    s->schema_n_parts_catalog = np;
    s->objects = l->objs;
    s->n_objects = l->n;
    l->objs = NULL;
    l->n = 0;
    sl_pred_free(pred);
    sl_catalog_table_free(t);
    if (rc != SL_OK)
        sl_err_prefix(err, "from_catalog %s.%s", pn->database, pn->table);
    return rc;
}

int xsource_prepare(struct xrun *r, int node, struct sl_err *err)
{
    const struct sl_plan_node *pn = &r->plan->nodes[node];
    struct xnode *xn = &r->nodes[node];
    if (xn->src)
        return SL_OK;
    struct xsource *s = sl_calloc(1, sizeof *s);
    if (!s)
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    xn->src = s;
    s->node = node;
    struct listing l = {.src = s, .err = err, .committed = json_object()};
    if (!l.committed)
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    bool multiline = false;
    const char *ml = NULL;
    for (size_t i = 0; i < pn->n_options; i++)
        if (strcmp(pn->options[i].key, "multiline") == 0)
            ml = pn->options[i].value;
    int rc = pn->kind == SL_PLAN_SOURCE_PATH ? prepare_path(r, s, pn, &l, err)
                                             : prepare_catalog(r, s, pn, &l, err);
    if (rc == SL_OK)
        rc = opts_from_script(s, pn, &multiline, err);
    bool line_format = strcmp(s->ops ? s->ops->name : "", "csv") == 0 ||
                       s->fopts.json_layout == SL_FMT_JSON_LINES;
    /* CSV without an explicit multiline = false: look for quoted line breaks first */
    bool is_csv = strcmp(s->ops ? s->ops->name : "", "csv") == 0;
    if (rc == SL_OK)
        rc = make_splits(r, s, line_format && !multiline, is_csv && !ml, l.st, err);
    if (rc == SL_OK && strcmp(s->ops->name, "csv") == 0 && !multiline)
        s->fopts.no_quoted_newlines = true;
    s->listed = true;
    atomic_store(&xn->skipped, s->skipped);
    for (size_t i = 0; i < l.n; i++) {
        sl_free(l.objs[i].key);
        sl_free(l.objs[i].uri);
    }
    sl_free(l.objs);
    for (size_t i = 0; i < l.n_manifests; i++)
        sl_free(l.manifests[i]);
    sl_free(l.manifests);
    json_decref(l.committed);
    sl_store_free(l.st);
    return rc;
}

/* ---- Reading a split ---- */

struct bad_ud {
    struct xrun *r;
    int node;
};

static int on_bad_row(void *ud, const char *object, int64_t line, int column, const char *reason,
                      const char *raw, size_t raw_len)
{
    struct bad_ud *b = ud;
    struct sl_err e = {0};
    return xrun_bad_row(b->r, b->node, object, line, column, reason, raw, raw_len, &e);
}

int xsource_run_split(struct xworker *w, struct xsource *src, size_t si, struct sl_err *err)
{
    struct xrun *r = w->r;
    const struct xsplit *sp = &src->splits[si];
    const struct xobject *o = &src->objects[sp->object];
    char *key = NULL;
    struct sl_store *st = xworker_store(w, o->uri, &key, err);
    if (!st)
        return err->code;
    struct sl_store_stats s0, s1;
    sl_store_get_stats(st, &s0);
    struct sl_fmt_opts fo = src->fopts;
    struct bad_ud bud = {r, src->node};
    fo.range_start = sp->start;
    fo.range_end = sp->end;
    if (sp->start > 0)
        fo.skip_lines = 0;
    fo.object = o->uri;
    fo.bad_row = on_bad_row;
    fo.bad_row_ud = &bud;
    struct sl_fmt_reader *rd = NULL;
    size_t n_parts = src->schema->n_cols - src->n_file_cols;
    int rc = src->ops->reader_open(st, key, &fo, n_parts ? src->schema : src->file_schema, &rd,
                                   err);
    sl_free(key);
    if (rc != SL_OK)
        return sl_err_prefix(err, "%s", o->uri), rc;
    for (;;) {
        struct sl_batch *b = xbatch_get(w, n_parts ? src->schema : src->file_schema);
        if (!b) {
            rc = sl_err_set(err, SL_ENOMEM, "out of memory");
            break;
        }
        int n = sl_fmt_next_batch(rd, b, err);
        if (n <= 0) {
            xbatch_put(w, b);
            rc = n < 0 ? n : SL_OK;
            if (n < 0 && !xrun_stopped(r))
                sl_err_prefix(err, "%s", o->uri);
            break;
        }
        for (size_t k = 0; k < n_parts; k++) {
            const char *v = o->part_values ? o->part_values[k] : NULL;
            size_t col = src->n_file_cols + k;
            for (uint32_t i = 0; i < b->n_rows && rc == SL_OK; i++) {
                struct sl_value *cell = &sl_batch_row(b, i)[col];
                if (!v) {
                    cell->type = SL_V_NULL;
                } else if (src->schema->types[col] == SL_V_STRING) {
                    cell->type = SL_V_STRING;
                    cell->s = v;
                    cell->len = (uint32_t)strlen(v);
                } else {
                    struct sl_err e = {0};
                    if (sl_value_from_text(src->schema->types[col], v, strlen(v), &b->arena, cell,
                                           &e) != SL_OK)
                        cell->type = SL_V_NULL;
                }
            }
        }
        atomic_fetch_add(&r->rows_read, (uint64_t)n);
        atomic_fetch_add(&r->nodes[src->node].rows_in, (uint64_t)n);
        atomic_fetch_add(&r->nodes[src->node].rows_out, (uint64_t)n);
        rc = xpush(w, 0, b, err);
        xbatch_put(w, b);
        if (rc != SL_OK)
            break;
    }
    sl_fmt_reader_close(rd);
    sl_store_get_stats(st, &s1);
    atomic_fetch_add(&r->bytes_read, s1.bytes_read - s0.bytes_read);
    atomic_fetch_add(&r->nodes[src->node].bytes_in, s1.bytes_read - s0.bytes_read);
    if (sp->start == 0)
        atomic_fetch_add(&r->nodes[src->node].objects, 1);
    return rc;
}

/* ---- Bookmarks ---- */

int xsource_bookmark_load(struct xrun *r, struct sl_err *err)
{
    const char *job = r->o->plan.job;
    if (!job || !job[0])
        return sl_err_set(err, SL_ECONFIG, "bookmarks need a job name (job{name=...})");
    int rc = open_catalog(r, err);
    if (rc != SL_OK)
        return sl_err_prefix(err, "bookmark"), rc;
    if (r->o->reset_bookmark && (rc = sl_catalog_bookmark_reset(r->catalog, job, NULL, err)) != SL_OK)
        return sl_err_prefix(err, "reset bookmark"), rc;
    struct sl_catalog_bookmark *b = NULL;
    rc = sl_catalog_bookmark_get(r->catalog, job, &b, err);
    if (rc == SL_ENOTFOUND) {
        r->bookmark_version = 0;
        r->bookmark_old = json_object();
        return r->bookmark_old ? SL_OK : sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    if (rc != SL_OK)
        return sl_err_prefix(err, "bookmark"), rc;
    json_error_t je;
    r->bookmark_version = b->version;
    r->bookmark_old = json_loads(b->state, 0, &je);
    sl_catalog_bookmark_free(b);
    if (!json_is_object(r->bookmark_old)) {
        json_decref(r->bookmark_old);
        r->bookmark_old = json_object();
    }
    return SL_OK;
}

/* The bookmark state after this run as compact JSON text (owned: free()):
 * the state read at the start plus every object the sources listed. NULL on
 * OOM. */
static char *bookmark_state_text(struct xrun *r)
{
    json_t *state = r->bookmark_old ? json_deep_copy(r->bookmark_old) : json_object();
    if (!state)
        return NULL;
    json_t *sources = json_object_get(state, "sources");
    if (!json_is_object(sources)) {
        sources = json_object();
        json_object_set_new(state, "sources", sources);
    }
    for (size_t i = 0; i < r->plan->n_nodes; i++) {
        struct xsource *s = r->nodes[i].src;
        if (!s || !s->listed)
            continue;
        json_t *seen = json_object_get(sources, s->source_id);
        if (!json_is_object(seen)) {
            seen = json_object();
            json_object_set_new(sources, s->source_id, seen);
        }
        for (size_t k = 0; k < s->n_objects; k++) {
            json_t *e = json_object();
            json_object_set_new(e, "etag", json_string(s->objects[k].etag));
            json_object_set_new(e, "size", json_integer(s->objects[k].size));
            json_object_set_new(seen, s->objects[k].key, e);
        }
    }
    char *text = json_dumps(state, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(state);
    return text;
}

int xsource_bookmark_commit(struct xrun *r, struct sl_err *err)
{
    char *text = bookmark_state_text(r);
    if (!text)
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    int rc = open_catalog(r, err);
    if (rc == SL_OK)
        rc = sl_catalog_bookmark_commit(r->catalog, r->o->plan.job,
                                        r->o->plan.run_id ? r->o->plan.run_id : "run",
                                        r->bookmark_version, text, NULL, err);
    free(text);
    if (rc == SL_ECHANGED)
        sl_err_set(err, SL_ECHANGED,
                   "bookmark of job \"%s\" changed during the run (another run committed); "
                   "this run's output is published but its bookmark did not advance",
                   r->o->plan.job);
    return rc;
}

int xsource_bookmark_commit_in(struct xrun *r, PGconn *pg, struct sl_err *err)
{
    char *text = bookmark_state_text(r);
    if (!text)
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    int rc = sl_catalog_bookmark_commit_conn(pg, r->o->plan.job,
                                             r->o->plan.run_id ? r->o->plan.run_id : "run",
                                             r->bookmark_version, text, NULL, err);
    free(text);
    if (rc == SL_ECHANGED)
        sl_err_set(err, SL_ECHANGED,
                   "bookmark of job \"%s\" changed during the run (another run committed); "
                   "nothing was published and the bookmark did not advance",
                   r->o->plan.job);
    if (rc == SL_OK)
        r->bookmark_in_publish = true;
    return rc;
}
