/*
 * crawler/group.c - grouping classified objects into tables and partitions
 * (spec/crawler.md §10; contract in group.h). Pure in-memory work on the
 * manifest. Classification and inference are elsewhere (classify.c, csv.c,
 * json.c, ...); the catalog diff, the name collision against the database and
 * the max_tables threshold are crawl.c's.
 *
 * How it works:
 *   1. Sort the objects by key (byte-wise) and build the folder tree in one
 *      pass: keys under one folder are contiguous in sorted order, so every
 *      folder covers a range [obj_lo, obj_hi) of sorted positions, and folder
 *      nodes are created parents first (reverse creation order is post-order).
 *   2. Table roots: table_depth or SINGLE_SCHEMA (§10.3 step 1); otherwise
 *      Hive anchoring (step 2) and then decide() over the remaining folders
 *      in post-order (step 3), which registers a table root whenever a folder
 *      SPLITs (its UNIT children, and its own files as a non-recursive table).
 *   3. build_table() per root: stray and incompatible objects (§10.1), the
 *      partition depth (step 4), partition keys and values (step 5), header
 *      reconciliation (§6.4 step 6), outliers, the column union and order
 *      (step 8), key collisions, parameters (§11.2) and the name (step 6).
 * Everything is O(n log n) in the number of objects (the sort), plus
 * O(n * depth) for the tree and O(n * columns) for schema merges, which use a
 * hash index on column names.
 *
 * Determinism: keys are processed in byte-wise order; ties (majority keys,
 * largest cluster, header votes, format parameter votes) go to the earliest
 * key; name suffixes hash SHA-256 of the location, never randomness.
 */
#include "crawler/group.h"

#include <math.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crawler/csv.h"
#include "runtime/alloc.h"
#include "runtime/hash.h"

#define NONE32 UINT32_MAX
#define NPOS   SIZE_MAX
#define HIVE_MAX_CLUSTERS                                                                          \
    64                      /* outlier clustering of Hive partitions stops opening clusters        \
                               here: bounds the cost at 64 similarity tests per partition */
#define TABLE_NAME_MAX 128  /* catalog_table.name CHECK */
#define EPS            1e-9 /* "0.7 of 10 children" must accept 7 */

/* ---- Column-name index and merged schemas ---- */

/* Open addressing: slot = column index + 1, 0 = empty; load kept <= 1/2. */
struct nindex {
    uint32_t *slots; /* owned */
    size_t mask;     /* n_slots - 1 */
};

static uint64_t name_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

static long ix_find(const struct nindex *ix, const struct sl_cschema *s, const char *name)
{
    if (!ix->slots)
        return -1;
    for (size_t i = name_hash(name) & ix->mask;; i = (i + 1) & ix->mask) {
        uint32_t v = ix->slots[i];
        if (v == 0)
            return -1;
        if (strcmp(s->cols[v - 1].name, name) == 0)
            return (long)(v - 1);
    }
}

/* Indexes column col of s (s->n_cols already counts it). */
static int ix_add(struct nindex *ix, const struct sl_cschema *s, uint32_t col)
{
    size_t n_slots = ix->slots ? ix->mask + 1 : 0;
    if ((size_t)s->n_cols * 2 > n_slots) {
        size_t n = n_slots ? n_slots * 2 : 16;
        while (n < (size_t)s->n_cols * 2)
            n *= 2;
        uint32_t *slots = sl_calloc(n, sizeof *slots);
        if (!slots)
            return SL_ENOMEM;
        sl_free(ix->slots);
        ix->slots = slots;
        ix->mask = n - 1;
        for (uint32_t c = 0; c < s->n_cols; c++) {
            size_t i = name_hash(s->cols[c].name) & ix->mask;
            while (ix->slots[i])
                i = (i + 1) & ix->mask;
            ix->slots[i] = c + 1;
        }
        return SL_OK;
    }
    size_t i = name_hash(s->cols[col].name) & ix->mask;
    while (ix->slots[i])
        i = (i + 1) & ix->mask;
    ix->slots[i] = col + 1;
    return SL_OK;
}

/* A schema being merged: the union in first-seen order, same names joined. */
struct mschema {
    struct sl_cschema s;
    struct nindex ix;
};

static void ms_cleanup(struct mschema *m)
{
    if (!m)
        return;
    sl_cschema_cleanup(&m->s);
    sl_free(m->ix.slots);
    memset(m, 0, sizeof *m);
}

static bool is_stringish(const struct sl_ctype *t)
{
    return !t || t->kind == SL_CT_STRING || t->kind == SL_CT_NULL;
}

/* §10.2: equal names count when their types join without falling to string,
 * or when both are string (a placeholder null column counts as string). */
static bool types_match(const struct sl_ctype *a, const struct sl_ctype *b)
{
    bool as = a && a->kind == SL_CT_STRING, bs = b && b->kind == SL_CT_STRING;
    if (is_stringish(a) && is_stringish(b))
        return true;
    if (as || bs)
        return false;
    return !sl_ctype_join_falls_to_string(a, b);
}

/* Merges src into m (§7.1 join for shared names, new names appended). */
static int ms_merge(struct mschema *m, const struct sl_cschema *src, struct sl_err *err)
{
    for (size_t i = 0; i < src->n_cols; i++) {
        const struct sl_ccolumn *sc = &src->cols[i];
        long at = ix_find(&m->ix, &m->s, sc->name);
        if (at >= 0) {
            struct sl_ccolumn *dc = &m->s.cols[at];
            bool was_null = !dc->type || dc->type->kind == SL_CT_NULL;
            if (!dc->type || !sc->type || !sl_ctype_equal(dc->type, sc->type)) {
                struct sl_ctype *j = sl_ctype_join(dc->type, sc->type); /* equal: no change */
                if (!j)
                    goto oom;
                sl_ctype_free(dc->type);
                dc->type = j;
            }
            if (!dc->source_name && sc->source_name &&
                !(dc->source_name = sl_strdup(sc->source_name)))
                goto oom;
            if (sc->format && !dc->format && was_null) {
                if (!(dc->format = sl_strdup(sc->format)))
                    goto oom;
            } else if (dc->format && (!sc->format || strcmp(dc->format, sc->format) != 0) &&
                       !(sc->type == NULL || sc->type->kind == SL_CT_NULL)) {
                sl_free(dc->format); /* files disagree on the pattern: none holds */
                dc->format = NULL;
            }
            dc->ambiguous_date = dc->ambiguous_date || sc->ambiguous_date;
            dc->n_values += sc->n_values;
            dc->n_nulls += sc->n_nulls;
            continue;
        }
        struct sl_ctype *t = sc->type ? sl_ctype_copy(sc->type) : sl_ctype_new(SL_CT_NULL);
        if (!t)
            goto oom;
        if (sl_cschema_add_take(&m->s, sc->name, sc->source_name, t, err) != SL_OK)
            return SL_ENOMEM;
        struct sl_ccolumn *dc = &m->s.cols[m->s.n_cols - 1];
        if (sc->format && !(dc->format = sl_strdup(sc->format)))
            goto oom;
        dc->ambiguous_date = sc->ambiguous_date;
        dc->n_values = sc->n_values;
        dc->n_nulls = sc->n_nulls;
        if (ix_add(&m->ix, &m->s, (uint32_t)(m->s.n_cols - 1)) != SL_OK)
            goto oom;
    }
    return SL_OK;
oom:
    return sl_err_set(err, SL_ENOMEM, "merge schemas: out of memory");
}

static double sim_from(size_t matched, size_t n_a, size_t n_b)
{
    size_t lo = n_a < n_b ? n_a : n_b;
    if (lo == 0)
        return 1.0; /* an empty schema conflicts with nothing */
    return (double)matched / (double)lo;
}

static double ms_sim(const struct mschema *m, const struct sl_cschema *b)
{
    size_t matched = 0;
    for (size_t i = 0; i < b->n_cols; i++) {
        long at = ix_find(&m->ix, &m->s, b->cols[i].name);
        if (at >= 0 && types_match(m->s.cols[at].type, b->cols[i].type))
            matched++;
    }
    return sim_from(matched, m->s.n_cols, b->n_cols);
}

double sl_group_similarity(const struct sl_cschema *a, const struct sl_cschema *b)
{
    size_t matched = 0;
    for (size_t i = 0; i < b->n_cols; i++)
        for (size_t k = 0; k < a->n_cols; k++)
            if (strcmp(a->cols[k].name, b->cols[i].name) == 0) {
                if (types_match(a->cols[k].type, b->cols[i].type))
                    matched++;
                break;
            }
    return sim_from(matched, a->n_cols, b->n_cols);
}

/* ---- Greedy clustering (§10.3 step 3a; Hive outliers) ---- */

struct cluster {
    struct mschema m;
    size_t size;
};

struct clustering {
    struct cluster *c; /* owned */
    size_t n;
    size_t *assign; /* owned; cluster per item, NPOS = past the cluster cap */
    size_t main;    /* largest cluster, earliest on ties */
};

static void clustering_cleanup(struct clustering *cl)
{
    for (size_t i = 0; i < cl->n; i++)
        ms_cleanup(&cl->c[i].m);
    sl_free(cl->c);
    sl_free(cl->assign);
    memset(cl, 0, sizeof *cl);
}

/* Items join the first cluster whose merged schema they match with sim >=
 * threshold, in order. No more than cap clusters are opened: later misfits get
 * NPOS (they can only be minorities). *over tells whether a cap was hit. */
static int cluster_schemas(const struct sl_cschema *const *items, size_t n, double threshold,
                           size_t cap, struct clustering *cl, bool *over, struct sl_err *err)
{
    memset(cl, 0, sizeof *cl);
    *over = false;
    cl->assign = sl_calloc(n, sizeof *cl->assign);
    cl->c = sl_calloc(cap ? cap : 1, sizeof *cl->c);
    if (!cl->assign || !cl->c)
        return sl_err_set(err, SL_ENOMEM, "cluster schemas: out of memory");
    for (size_t i = 0; i < n; i++) {
        size_t k;
        for (k = 0; k < cl->n; k++)
            if (ms_sim(&cl->c[k].m, items[i]) + EPS >= threshold)
                break;
        if (k == cl->n) {
            if (cl->n == cap) {
                cl->assign[i] = NPOS;
                *over = true;
                continue;
            }
            cl->n++;
        }
        if (ms_merge(&cl->c[k].m, items[i], err) != SL_OK)
            return SL_ENOMEM;
        cl->c[k].size++;
        cl->assign[i] = k;
    }
    cl->main = 0;
    for (size_t k = 1; k < cl->n; k++)
        if (cl->c[k].size > cl->c[cl->main].size)
            cl->main = k;
    return SL_OK;
}

/* ---- Segments ---- */

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_digit(s[i]))
            return false;
    return n > 0;
}

static bool is_lower_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f');
}

/* ^\d{4}([-_.]?\d{2}){1,2}$ */
static bool is_date_like(const char *s, size_t n)
{
    if (n < 6 || !all_digits(s, 4))
        return false;
    size_t i = 4;
    for (int group = 0; group < 2 && i < n; group++) {
        if (s[i] == '-' || s[i] == '_' || s[i] == '.')
            i++;
        if (i + 2 > n || !all_digits(s + i, 2))
            return false;
        i += 2;
    }
    return i == n;
}

/* ^\d{4}-\d{2}-\d{2}[T_ ]\d{2}(:?\d{2}){0,2}$ */
static bool is_datetime_like(const char *s, size_t n)
{
    if (n < 13 || !all_digits(s, 4) || s[4] != '-' || !all_digits(s + 5, 2) || s[7] != '-' ||
        !all_digits(s + 8, 2) || (s[10] != 'T' && s[10] != '_' && s[10] != ' ') ||
        !all_digits(s + 11, 2))
        return false;
    size_t i = 13;
    for (int group = 0; group < 2 && i < n; group++) {
        if (s[i] == ':')
            i++;
        if (i + 2 > n || !all_digits(s + i, 2))
            return false;
        i += 2;
    }
    return i == n;
}

/* Lowercase 8-4-4-4-12 UUID. */
static bool is_uuid(const char *s, size_t n)
{
    if (n != 36)
        return false;
    for (size_t i = 0; i < n; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !is_lower_hex(s[i]))
            return false;
    }
    return true;
}

/* §10.3: a plain segment that looks like a partition value. */
static bool is_value_like(const char *s, size_t n)
{
    return all_digits(s, n) || is_date_like(s, n) || is_datetime_like(s, n) || is_uuid(s, n);
}

/* ^[^=/]+=[^/]*$ (segments never hold '/'). */
static bool is_hive_seg(const char *s, size_t n)
{
    const char *eq = memchr(s, '=', n);
    return eq && eq > s;
}

/* ---- Grouping state ---- */

enum ostate {
    OS_PENDING,  /* groupable, not decided yet */
    OS_IGNORED,  /* no classification or compatibility key: not grouped, not reported */
    OS_TABLE,    /* in a table */
    OS_EXCLUDED, /* STRAY_FILES, INCOMPATIBLE_FILE, duplicate partition */
};

enum dkind { DK_NONE, DK_UNIT, DK_SPLIT };
enum drule { DR_SINGLE, DR_VALUE, DR_WORD };
enum rkind { RK_HIVE, RK_UNIT, RK_NESTED, RK_DEPTH, RK_SINGLE };

/* One folder below (and including) the include path R. */
struct dnode {
    const char *path; /* borrowed: a key under the folder; prefix = path[0..path_len) */
    size_t path_len;  /* bytes of the prefix, trailing '/' included; 0 for R */
    size_t seg_off;   /* segment = path[seg_off .. path_len - 1) */
    uint32_t parent, depth;
    uint32_t first_child, last_child, next_sibling;
    size_t first_file, last_file; /* sorted positions of objects directly inside */
    size_t obj_lo, obj_hi;        /* sorted positions of every object below */
    bool hive_seg;                /* segment is k=v */
    bool hive_cand;               /* directory above some object's first Hive segment */
    bool hive_root;               /* an effective Hive table root (outer candidates win) */
    bool in_hive;                 /* hive_root or below one */
    bool has_hive;                /* a Hive root strictly below */
    bool has_data;                /* some groupable object below */
    bool outlier;                 /* PARTITION_SCHEMA_OUTLIER child of a value-folder UNIT */
    uint8_t kind;                 /* enum dkind */
    uint8_t rule;                 /* enum drule, for UNIT */
    uint32_t unit_depth;
    const char *unit_key;   /* borrowed compat key of a UNIT */
    struct mschema *schema; /* owned while decide() runs */
    json_t *clusters;       /* owned; cluster sizes of a value-folder UNIT */
};

struct root {
    uint32_t node;
    uint8_t kind; /* enum rkind */
};

struct gctx {
    const struct sl_gobject *in;
    size_t n;
    const struct sl_group_opts *opts;
    size_t *order;  /* sorted position -> input index */
    uint32_t *odir; /* position -> folder */
    size_t *onext;  /* position -> next position in the same folder */
    uint8_t *ost;   /* position -> enum ostate */
    struct dnode *nodes;
    uint32_t n_nodes, cap_nodes;
    struct root *roots;
    size_t n_roots, cap_roots;
    struct sl_gresult *out;
    size_t cap_tables, cap_warnings, cap_excluded;
    size_t *excluded_pos; /* positions, converted to indexes at the end */
    struct sl_err *err;
};

static const struct sl_gobject *obj_at(const struct gctx *c, size_t pos)
{
    return &c->in[c->order[pos]];
}

static bool groupable(const struct sl_gobject *o)
{
    return o->classification && o->classification[0] && o->compat_key && o->compat_key[0];
}

static int oom(struct gctx *c, const char *what)
{
    return sl_err_set(c->err, SL_ENOMEM, "group objects: %s: out of memory", what);
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return SL_OK;
    size_t n = *cap ? *cap * 2 : 8;
    while (n < need)
        n *= 2;
    void *q = sl_realloc(*p, n * elem);
    if (!q)
        return SL_ENOMEM;
    *p = q;
    *cap = n;
    return SL_OK;
}

static int warn(struct gctx *c, const char *code, const char *subject, size_t subject_len,
                const char *fmt, ...) SL_PRINTF(5, 6);

static int warn(struct gctx *c, const char *code, const char *subject, size_t subject_len,
                const char *fmt, ...)
{
    struct sl_gresult *r = c->out;
    if (grow((void **)&r->warnings, &c->cap_warnings, r->n_warnings + 1, sizeof *r->warnings))
        return oom(c, "warning");
    struct sl_gwarning *w = &r->warnings[r->n_warnings];
    memset(w, 0, sizeof *w);
    snprintf(w->code, sizeof w->code, "%s", code);
    w->subject = sl_strndup(subject, subject_len);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n >= 0 && (w->detail = sl_alloc((size_t)n + 1)) != NULL) {
        va_start(ap, fmt);
        vsnprintf(w->detail, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    if (!w->subject || !w->detail) {
        sl_free(w->subject);
        sl_free(w->detail);
        return oom(c, "warning");
    }
    r->n_warnings++;
    return SL_OK;
}

/* Leaves object pos out of every table, with a warning naming its key. */
static int exclude(struct gctx *c, size_t pos, const char *code, const char *fmt, ...)
    SL_PRINTF(4, 5);

static int exclude(struct gctx *c, size_t pos, const char *code, const char *fmt, ...)
{
    char detail[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    if (grow((void **)&c->excluded_pos, &c->cap_excluded, c->out->n_excluded + 1,
             sizeof *c->excluded_pos))
        return oom(c, "excluded objects");
    c->excluded_pos[c->out->n_excluded++] = pos;
    c->ost[pos] = OS_EXCLUDED;
    const char *key = obj_at(c, pos)->key;
    return warn(c, code, key, strlen(key), "%s", detail);
}

static const char *seg_of(const struct dnode *d, size_t *len)
{
    *len = d->path_len ? d->path_len - 1 - d->seg_off : 0;
    return d->path + d->seg_off;
}

static uint32_t ancestor_at(const struct gctx *c, uint32_t id, uint32_t depth)
{
    while (c->nodes[id].depth > depth)
        id = c->nodes[id].parent;
    return id;
}

/* ---- Sorting and the folder tree ---- */

/* qsort_r comparators take their array as context: no module state. */
static int cmp_key(const void *a, const void *b, void *ctx)
{
    const struct sl_gobject *in = ctx;
    size_t ia = *(const size_t *)a, ib = *(const size_t *)b;
    int d = strcmp(in[ia].key, in[ib].key);
    return d ? d : (ia < ib ? -1 : ia > ib);
}

static int new_node(struct gctx *c, uint32_t parent, const char *key, size_t path_len,
                    size_t seg_off, size_t pos, uint32_t *id)
{
    size_t cap = c->cap_nodes;
    if (c->n_nodes == NONE32 - 1)
        return oom(c, "folder tree");
    if (grow((void **)&c->nodes, &cap, (size_t)c->n_nodes + 1, sizeof *c->nodes))
        return oom(c, "folder tree");
    c->cap_nodes = (uint32_t)(cap > NONE32 ? NONE32 : cap);
    struct dnode *d = &c->nodes[c->n_nodes];
    memset(d, 0, sizeof *d);
    d->path = key;
    d->path_len = path_len;
    d->seg_off = seg_off;
    d->parent = parent;
    d->depth = parent == NONE32 ? 0 : c->nodes[parent].depth + 1;
    d->first_child = d->last_child = d->next_sibling = NONE32;
    d->first_file = d->last_file = NPOS;
    d->obj_lo = pos;
    d->obj_hi = pos;
    if (path_len) {
        size_t n;
        const char *s = seg_of(d, &n);
        d->hive_seg = is_hive_seg(s, n);
    }
    if (parent != NONE32) {
        struct dnode *p = &c->nodes[parent];
        if (p->last_child == NONE32)
            p->first_child = c->n_nodes;
        else
            c->nodes[p->last_child].next_sibling = c->n_nodes;
        p->last_child = c->n_nodes;
    }
    *id = c->n_nodes++;
    return SL_OK;
}

/* One pass over the sorted keys with the chain of open folders. */
static int build_tree(struct gctx *c)
{
    uint32_t *stack = NULL;
    size_t cap_stack = 0, depth_open = 1;
    uint32_t root;
    int rc = new_node(c, NONE32, "", 0, 0, 0, &root);
    if (rc != SL_OK)
        return rc;
    if (grow((void **)&stack, &cap_stack, 1, sizeof *stack))
        return oom(c, "folder tree");
    stack[0] = root;
    for (size_t pos = 0; pos < c->n; pos++) {
        const char *key = obj_at(c, pos)->key;
        size_t level = 0, off = 0;
        const char *slash;
        while ((slash = strchr(key + off, '/')) != NULL) {
            size_t end = (size_t)(slash - key) + 1; /* prefix length with '/' */
            uint32_t child = NONE32;
            if (depth_open > level + 1) {
                const struct dnode *d = &c->nodes[stack[level + 1]];
                if (d->path_len == end && memcmp(d->path + off, key + off, end - off) == 0)
                    child = stack[level + 1];
            }
            if (child == NONE32) {
                rc = new_node(c, stack[level], key, end, off, pos, &child);
                if (rc != SL_OK)
                    goto done;
                if (grow((void **)&stack, &cap_stack, level + 2, sizeof *stack)) {
                    rc = oom(c, "folder tree");
                    goto done;
                }
                stack[level + 1] = child;
                depth_open = level + 2;
            }
            level++;
            off = end;
        }
        depth_open = level + 1;
        uint32_t dir = stack[level];
        c->odir[pos] = dir;
        c->onext[pos] = NPOS;
        struct dnode *d = &c->nodes[dir];
        if (d->last_file == NPOS)
            d->first_file = pos;
        else
            c->onext[d->last_file] = pos;
        d->last_file = pos;
        for (size_t k = 0; k <= level; k++)
            c->nodes[stack[k]].obj_hi = pos + 1;
    }
done:
    sl_free(stack);
    return rc;
}

static void mark_data_and_hive(struct gctx *c)
{
    for (size_t pos = 0; pos < c->n; pos++) {
        if (c->ost[pos] == OS_IGNORED)
            continue;
        for (uint32_t id = c->odir[pos]; id != NONE32 && !c->nodes[id].has_data;
             id = c->nodes[id].parent)
            c->nodes[id].has_data = true;
    }
    if (c->opts->table_depth >= 0 || c->opts->single_schema)
        return;
    /* Candidates: the folder above an object's first (outermost) k=v folder. */
    for (size_t pos = 0; pos < c->n; pos++) {
        if (c->ost[pos] == OS_IGNORED)
            continue;
        uint32_t top = NONE32;
        for (uint32_t id = c->odir[pos]; id != NONE32; id = c->nodes[id].parent)
            if (c->nodes[id].hive_seg)
                top = id;
        if (top != NONE32)
            c->nodes[c->nodes[top].parent].hive_cand = true;
    }
    /* Each object belongs to the outermost candidate above it (or its own folder). */
    for (size_t pos = 0; pos < c->n; pos++) {
        if (c->ost[pos] == OS_IGNORED)
            continue;
        uint32_t top = NONE32;
        for (uint32_t id = c->odir[pos]; id != NONE32; id = c->nodes[id].parent)
            if (c->nodes[id].hive_cand)
                top = id;
        if (top != NONE32)
            c->nodes[top].hive_root = true;
    }
    for (uint32_t id = 0; id < c->n_nodes; id++) {
        struct dnode *d = &c->nodes[id];
        d->in_hive = d->hive_root || (d->parent != NONE32 && c->nodes[d->parent].in_hive);
        if (d->hive_root)
            for (uint32_t a = d->parent; a != NONE32 && !c->nodes[a].has_hive;
                 a = c->nodes[a].parent)
                c->nodes[a].has_hive = true;
    }
}

static int add_root(struct gctx *c, uint32_t node, enum rkind kind)
{
    if (grow((void **)&c->roots, &c->cap_roots, c->n_roots + 1, sizeof *c->roots))
        return oom(c, "table roots");
    c->roots[c->n_roots].node = node;
    c->roots[c->n_roots].kind = (uint8_t)kind;
    c->n_roots++;
    return SL_OK;
}

/* ---- Majority compatibility key (§10.1) ---- */

struct keyvote {
    const char *key;
    size_t count;
    int64_t bytes;
    size_t first; /* position of its first object */
};

/* The majority key of positions pos[0..n): by object count, then bytes, then
 * key order. NULL on OOM (n > 0). */
static const char *majority_key(struct gctx *c, const size_t *pos, size_t n)
{
    struct keyvote *v = NULL;
    size_t n_v = 0, cap = 0;
    const char *best = NULL;
    for (size_t i = 0; i < n; i++) {
        const struct sl_gobject *o = obj_at(c, pos[i]);
        size_t k;
        for (k = 0; k < n_v; k++)
            if (strcmp(v[k].key, o->compat_key) == 0)
                break;
        if (k == n_v) {
            if (grow((void **)&v, &cap, n_v + 1, sizeof *v)) {
                sl_free(v);
                oom(c, "compatibility keys");
                return NULL;
            }
            v[n_v++] = (struct keyvote){o->compat_key, 0, 0, pos[i]};
        }
        v[k].count++;
        v[k].bytes += o->size > 0 ? o->size : 0;
    }
    size_t b = 0;
    for (size_t k = 1; k < n_v; k++)
        if (v[k].count > v[b].count || (v[k].count == v[b].count && v[k].bytes > v[b].bytes))
            b = k; /* equal count and bytes: the earlier key (lower k) stays */
    if (n_v)
        best = v[b].key;
    sl_free(v);
    return best;
}

/* ---- decide() over folders (§10.3 step 3) ---- */

static int register_split(struct gctx *c, uint32_t id)
{
    struct dnode *d = &c->nodes[id];
    for (uint32_t k = d->first_child; k != NONE32; k = c->nodes[k].next_sibling)
        if (c->nodes[k].has_data && !c->nodes[k].in_hive && c->nodes[k].kind == DK_UNIT) {
            int rc = add_root(c, k, RK_UNIT);
            if (rc != SL_OK)
                return rc;
        }
    bool files = false;
    for (size_t p = d->first_file; p != NPOS; p = c->onext[p])
        if (c->ost[p] == OS_PENDING)
            files = true;
    if (!files)
        return SL_OK;
    int rc = add_root(c, id, RK_NESTED);
    if (rc == SL_OK)
        rc = warn(c, "NESTED_TABLE_LOCATION", d->path, d->path_len,
                  "files beside folders that hold other tables form a table of their own "
                  "(sluice.recursive=false)");
    return rc;
}

static int leaf_unit(struct gctx *c, uint32_t id)
{
    struct dnode *d = &c->nodes[id];
    size_t *pos = NULL, n = 0, cap = 0;
    int rc = SL_OK;
    for (size_t p = d->first_file; p != NPOS; p = c->onext[p]) {
        if (c->ost[p] != OS_PENDING)
            continue;
        if (grow((void **)&pos, &cap, n + 1, sizeof *pos)) {
            rc = oom(c, "folder files");
            goto done;
        }
        pos[n++] = p;
    }
    if (n == 0)
        goto done; /* cannot happen: has_data means a pending file or child */
    d->unit_key = majority_key(c, pos, n);
    if (!d->unit_key) {
        rc = c->err->code;
        goto done;
    }
    d->schema = sl_calloc(1, sizeof *d->schema);
    if (!d->schema) {
        rc = oom(c, "folder schema");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        const struct sl_gobject *o = obj_at(c, pos[i]);
        if (strcmp(o->compat_key, d->unit_key) == 0 && o->schema &&
            (rc = ms_merge(d->schema, o->schema, c->err)) != SL_OK)
            goto done;
    }
    d->kind = DK_UNIT;
    d->rule = DR_SINGLE;
    d->unit_depth = 0;
done:
    sl_free(pos);
    return rc;
}

/* (b): >= 2 children, identical column-name sets, no join falls to string. */
static bool word_folders_merge(struct gctx *c, const uint32_t *kids, size_t n_kids)
{
    if (n_kids < 2)
        return false;
    const struct mschema *first = c->nodes[kids[0]].schema;
    for (size_t i = 1; i < n_kids; i++) {
        const struct mschema *m = c->nodes[kids[i]].schema;
        if (m->s.n_cols != first->s.n_cols)
            return false;
        for (size_t k = 0; k < m->s.n_cols; k++) {
            long at = ix_find(&first->ix, &first->s, m->s.cols[k].name);
            if (at < 0)
                return false;
        }
    }
    /* Types: every column joined across all children must stay typed. */
    for (size_t k = 0; k < first->s.n_cols; k++) {
        struct sl_ctype *acc = sl_ctype_copy(first->s.cols[k].type);
        bool ok = acc != NULL;
        for (size_t i = 1; ok && i < n_kids; i++) {
            const struct mschema *m = c->nodes[kids[i]].schema;
            long at = ix_find(&m->ix, &m->s, first->s.cols[k].name);
            const struct sl_ctype *t = m->s.cols[at].type;
            if (!types_match(acc, t)) {
                ok = false;
                break;
            }
            struct sl_ctype *j = sl_ctype_join(acc, t);
            sl_ctype_free(acc);
            acc = j;
            ok = acc != NULL;
        }
        sl_ctype_free(acc);
        if (!ok)
            return false; /* OOM also refuses the merge: the safe answer */
    }
    return true;
}

static int decide_node(struct gctx *c, uint32_t id)
{
    struct dnode *d = &c->nodes[id];
    uint32_t *kids = NULL;
    size_t n_kids = 0, cap = 0;
    bool split = d->has_hive;
    struct clustering cl = {0};
    const struct sl_cschema **items = NULL;
    int rc = SL_OK;

    for (uint32_t k = d->first_child; k != NONE32; k = c->nodes[k].next_sibling) {
        const struct dnode *kd = &c->nodes[k];
        if (!kd->has_data)
            continue;
        if (kd->in_hive || kd->kind != DK_UNIT)
            split = true;
        if (grow((void **)&kids, &cap, n_kids + 1, sizeof *kids)) {
            rc = oom(c, "folder children");
            goto done;
        }
        kids[n_kids++] = k;
    }
    if (n_kids == 0) {
        rc = leaf_unit(c, id);
        goto done;
    }
    for (size_t i = 1; !split && i < n_kids; i++) {
        const struct dnode *a = &c->nodes[kids[0]], *b = &c->nodes[kids[i]];
        if (a->unit_depth != b->unit_depth || strcmp(a->unit_key, b->unit_key) != 0)
            split = true;
    }
    enum drule rule = DR_WORD;
    if (!split) {
        size_t n_value = 0;
        for (size_t i = 0; i < n_kids; i++) {
            size_t len;
            const char *s = seg_of(&c->nodes[kids[i]], &len);
            n_value += is_value_like(s, len);
        }
        double pm = c->opts->partition_majority;
        if ((double)n_value + EPS >= pm * (double)n_kids) {
            /* (a) value-like names: cluster the child schemas */
            rule = DR_VALUE;
            items = sl_calloc(n_kids, sizeof *items);
            if (!items) {
                rc = oom(c, "clustering");
                goto done;
            }
            for (size_t i = 0; i < n_kids; i++)
                items[i] = &c->nodes[kids[i]].schema->s;
            size_t max_cl = c->opts->max_clusters > 0 ? (size_t)c->opts->max_clusters : 1;
            bool over;
            rc = cluster_schemas(items, n_kids, c->opts->similarity_threshold, max_cl, &cl, &over,
                                 c->err);
            if (rc != SL_OK)
                goto done;
            if (over || (double)cl.c[cl.main].size + EPS < pm * (double)n_kids)
                split = true;
        } else if (!word_folders_merge(c, kids, n_kids)) {
            split = true;
        }
    }
    if (split) {
        d->kind = DK_SPLIT;
        rc = register_split(c, id);
        goto done;
    }
    /* UNIT(N, depth + 1): merge the children, outliers and stray files */
    d->schema = sl_calloc(1, sizeof *d->schema);
    if (!d->schema) {
        rc = oom(c, "folder schema");
        goto done;
    }
    for (size_t i = 0; i < n_kids; i++)
        if ((rc = ms_merge(d->schema, &c->nodes[kids[i]].schema->s, c->err)) != SL_OK)
            goto done;
    d->kind = DK_UNIT;
    d->rule = (uint8_t)rule;
    d->unit_depth = c->nodes[kids[0]].unit_depth + 1;
    d->unit_key = c->nodes[kids[0]].unit_key;
    if (rule == DR_VALUE) {
        d->clusters = json_array();
        if (!d->clusters ||
            json_array_append_new(d->clusters, json_integer((json_int_t)cl.c[cl.main].size))) {
            rc = oom(c, "cluster sizes");
            goto done;
        }
        for (size_t k = 0; k < cl.n; k++)
            if (k != cl.main &&
                json_array_append_new(d->clusters, json_integer((json_int_t)cl.c[k].size))) {
                rc = oom(c, "cluster sizes");
                goto done;
            }
        for (size_t i = 0; i < n_kids; i++) {
            if (cl.assign[i] == cl.main)
                continue;
            struct dnode *kd = &c->nodes[kids[i]];
            kd->outlier = true;
            rc = warn(c, "PARTITION_SCHEMA_OUTLIER", kd->path, kd->path_len,
                      "similarity %.2f with the main schema of \"%.*s\" is below %.2f",
                      ms_sim(&cl.c[cl.main].m, &kd->schema->s), (int)d->path_len, d->path,
                      c->opts->similarity_threshold);
            if (rc != SL_OK)
                goto done;
        }
    }
    for (size_t p = d->first_file; p != NPOS; p = c->onext[p]) {
        if (c->ost[p] != OS_PENDING)
            continue;
        rc = exclude(c, p, "STRAY_FILES", "file beside the partition folders of \"%.*s\"",
                     (int)d->path_len, d->path);
        if (rc != SL_OK)
            goto done;
    }
done:
    for (size_t i = 0; i < n_kids; i++) {
        struct dnode *kd = &c->nodes[kids[i]];
        ms_cleanup(kd->schema);
        sl_free(kd->schema);
        kd->schema = NULL;
    }
    clustering_cleanup(&cl);
    sl_free(items);
    sl_free(kids);
    return rc;
}

static int find_roots(struct gctx *c)
{
    const struct sl_group_opts *o = c->opts;
    int rc = SL_OK;
    if (o->table_depth >= 0) {
        uint32_t want = (uint32_t)o->table_depth;
        for (size_t pos = 0; pos < c->n; pos++) {
            if (c->ost[pos] != OS_PENDING || c->nodes[c->odir[pos]].depth >= want)
                continue;
            rc = exclude(c, pos, "STRAY_FILES", "object above table_depth %d", o->table_depth);
            if (rc != SL_OK)
                return rc;
        }
        for (uint32_t id = 0; id < c->n_nodes; id++)
            if (c->nodes[id].depth == want && c->nodes[id].has_data &&
                (rc = add_root(c, id, RK_DEPTH)) != SL_OK)
                return rc;
        return SL_OK;
    }
    if (o->single_schema)
        return c->nodes[0].has_data ? add_root(c, 0, RK_SINGLE) : SL_OK;
    for (uint32_t id = 0; id < c->n_nodes; id++)
        if (c->nodes[id].hive_root && (rc = add_root(c, id, RK_HIVE)) != SL_OK)
            return rc;
    for (uint32_t id = c->n_nodes; id-- > 0;) {
        const struct dnode *d = &c->nodes[id];
        if (!d->has_data || d->in_hive)
            continue;
        if ((rc = decide_node(c, id)) != SL_OK)
            return rc;
    }
    if (c->nodes[0].has_data && !c->nodes[0].in_hive && c->nodes[0].kind == DK_UNIT) {
        rc = add_root(c, 0, RK_UNIT);
        ms_cleanup(c->nodes[0].schema);
        sl_free(c->nodes[0].schema);
        c->nodes[0].schema = NULL;
    }
    return rc;
}

/* ---- Tables ---- */

enum { HD_UNKNOWN = -1, HD_ABSENT = 0, HD_PRESENT = 1 };

struct ipart {
    uint32_t node;   /* the partition folder */
    size_t first, n; /* range in the table's pos[] */
    char **values;   /* owned */
    bool recursive, outlier, dup;
};

struct tbuild {
    uint32_t root;
    enum rkind kind;
    size_t *pos; /* compatible objects, key order */
    size_t n_pos;
    uint32_t levels; /* partition levels */
    struct ipart *parts;
    size_t n_parts;
    char **keys;
    size_t n_keys;
    struct sl_cschema *eff; /* per pos: schema rebuilt for the table's header decision */
    json_t **eff_fp;        /* per pos: owned format parameters rebuilt likewise, or NULL */
    bool *reeval;           /* per pos: eff[] holds the schema to use */
    int header;             /* HD_* table decision (csv with evidence) */
    json_t *cluster_sizes;  /* owned */
};

static void tbuild_cleanup(struct tbuild *t)
{
    for (size_t i = 0; i < t->n_parts; i++) {
        if (t->parts[i].values)
            for (size_t k = 0; k < t->levels; k++)
                sl_free(t->parts[i].values[k]);
        sl_free(t->parts[i].values);
    }
    sl_free(t->parts);
    for (size_t k = 0; k < t->n_keys; k++)
        sl_free(t->keys[k]);
    sl_free(t->keys);
    if (t->eff)
        for (size_t i = 0; i < t->n_pos; i++)
            sl_cschema_cleanup(&t->eff[i]);
    sl_free(t->eff);
    if (t->eff_fp)
        for (size_t i = 0; i < t->n_pos; i++)
            json_decref(t->eff_fp[i]);
    sl_free(t->eff_fp);
    sl_free(t->reeval);
    sl_free(t->pos);
    json_decref(t->cluster_sizes);
}

static const struct sl_cschema *eff_schema(const struct gctx *c, const struct tbuild *t, size_t i)
{
    if (t->reeval && t->reeval[i])
        return &t->eff[i];
    return obj_at(c, t->pos[i])->schema;
}

/* Step A: the table's candidate objects; stray and incompatible ones out. */
static int collect_objects(struct gctx *c, struct tbuild *t)
{
    const struct dnode *r = &c->nodes[t->root];
    size_t *cand = NULL, n = 0, cap = 0;
    int rc = SL_OK;
    if (t->kind == RK_NESTED) {
        for (size_t p = r->first_file; p != NPOS; p = c->onext[p])
            if (c->ost[p] == OS_PENDING) {
                if (grow((void **)&cand, &cap, n + 1, sizeof *cand))
                    goto oom;
                cand[n++] = p;
            }
    } else {
        for (size_t p = r->obj_lo; p < r->obj_hi; p++)
            if (c->ost[p] == OS_PENDING) {
                if (grow((void **)&cand, &cap, n + 1, sizeof *cand))
                    goto oom;
                cand[n++] = p;
            }
    }
    /* Objects directly in a root with partition folders are STRAY_FILES (step 4). */
    if (t->kind != RK_NESTED && t->kind != RK_UNIT) {
        bool deeper = false;
        for (size_t i = 0; i < n; i++)
            if (c->nodes[c->odir[cand[i]]].depth > r->depth)
                deeper = true;
        if (deeper) {
            size_t k = 0;
            for (size_t i = 0; i < n; i++) {
                if (c->odir[cand[i]] == t->root) {
                    rc = exclude(c, cand[i], "STRAY_FILES",
                                 "file beside the partition folders of \"%.*s\"", (int)r->path_len,
                                 r->path);
                    if (rc != SL_OK)
                        goto done;
                } else {
                    cand[k++] = cand[i];
                }
            }
            n = k;
        }
    }
    const char *key = t->kind == RK_UNIT ? r->unit_key : majority_key(c, cand, n);
    if (!key) {
        rc = n ? c->err->code : SL_OK;
        goto done;
    }
    t->pos = sl_calloc(n ? n : 1, sizeof *t->pos);
    if (!t->pos)
        goto oom;
    for (size_t i = 0; i < n; i++) {
        const struct sl_gobject *o = obj_at(c, cand[i]);
        if (strcmp(o->compat_key, key) == 0) {
            t->pos[t->n_pos++] = cand[i];
            c->ost[cand[i]] = OS_TABLE;
            continue;
        }
        rc = exclude(c, cand[i], "INCOMPATIBLE_FILE",
                     "compatibility key \"%s\" differs from the table's \"%s\" (table \"%.*s\")",
                     o->compat_key, key, (int)r->path_len, r->path);
        if (rc != SL_OK)
            goto done;
    }
    goto done;
oom:
    rc = oom(c, "table objects");
done:
    sl_free(cand);
    return rc;
}

/* Step B: partition depth and the partition runs (objects of one partition
 * folder are contiguous in key order). */
static int find_partitions(struct gctx *c, struct tbuild *t)
{
    const struct dnode *r = &c->nodes[t->root];
    size_t cap = 0;
    if (t->kind == RK_UNIT) {
        t->levels = r->unit_depth;
    } else if (t->kind == RK_NESTED) {
        t->levels = 0;
    } else {
        uint32_t lo = NONE32;
        for (size_t i = 0; i < t->n_pos; i++) {
            uint32_t rel = c->nodes[c->odir[t->pos[i]]].depth - r->depth;
            if (rel < lo)
                lo = rel;
        }
        t->levels = lo == NONE32 ? 0 : lo;
    }
    if (t->levels == 0)
        return SL_OK;
    uint32_t part_depth = r->depth + t->levels;
    for (size_t i = 0; i < t->n_pos; i++) {
        uint32_t dir = c->odir[t->pos[i]];
        uint32_t pn = ancestor_at(c, dir, part_depth);
        if (t->n_parts == 0 || t->parts[t->n_parts - 1].node != pn) {
            if (grow((void **)&t->parts, &cap, t->n_parts + 1, sizeof *t->parts))
                return oom(c, "partitions");
            struct ipart *p = &t->parts[t->n_parts++];
            memset(p, 0, sizeof *p);
            p->node = pn;
            p->first = i;
        }
        struct ipart *p = &t->parts[t->n_parts - 1];
        p->n++;
        if (dir != pn)
            p->recursive = true;
    }
    return SL_OK;
}

struct level_info {
    char *hive_key; /* owned; normalised key of the first k=v segment */
    bool any_hive, keys_differ, any_word, any_value;
};

/* Step C: partition keys (one per level) and values (step 5). */
static int name_partitions(struct gctx *c, struct tbuild *t)
{
    const struct dnode *r = &c->nodes[t->root];
    uint32_t L = t->levels;
    struct level_info *li = NULL;
    uint32_t *chain = NULL;
    int rc = SL_OK;
    if (L == 0)
        return SL_OK;
    li = sl_calloc(L, sizeof *li);
    chain = sl_calloc(L, sizeof *chain);
    t->keys = sl_calloc(L, sizeof *t->keys);
    if (!li || !chain || !t->keys)
        goto oom;
    t->n_keys = L;
    for (size_t pi = 0; pi < t->n_parts; pi++) {
        uint32_t id = t->parts[pi].node;
        for (uint32_t k = L; k-- > 0; id = c->nodes[id].parent)
            chain[k] = id;
        for (uint32_t k = 0; k < L; k++) {
            size_t len;
            const char *s = seg_of(&c->nodes[chain[k]], &len);
            if (c->nodes[chain[k]].hive_seg) {
                const char *eq = memchr(s, '=', len);
                char *dk = sl_hive_unescape(s, (size_t)(eq - s));
                char *nk = dk ? sl_colname_normalise(dk, strlen(dk), k) : NULL;
                sl_free(dk);
                if (!nk)
                    goto oom;
                if (!li[k].any_hive) {
                    li[k].hive_key = nk;
                    li[k].any_hive = true;
                } else {
                    if (strcmp(li[k].hive_key, nk) != 0)
                        li[k].keys_differ = true;
                    sl_free(nk);
                }
            } else if (is_value_like(s, len)) {
                li[k].any_value = true;
            } else {
                li[k].any_word = true;
            }
        }
    }
    for (uint32_t k = 0; k < L; k++) {
        bool mixed = li[k].any_hive && (li[k].keys_differ || li[k].any_word);
        if (li[k].any_hive && !mixed) {
            t->keys[k] = li[k].hive_key;
            li[k].hive_key = NULL;
        } else {
            t->keys[k] = sl_asprintf("partition_%u", k);
            if (!t->keys[k])
                goto oom;
        }
        if (mixed && (rc = warn(c, "MIXED_PARTITION_NAMING", r->path, r->path_len,
                                "level %u mixes %s; key \"%s\" takes whole folder names", k,
                                li[k].keys_differ ? "different k=v keys" : "k=v and plain names",
                                t->keys[k])) != SL_OK)
            goto done;
    }
    /* Duplicate keys (k=1/k=2) get _2, _3 as column names do (§6.5). */
    for (uint32_t k = 1; k < L; k++) {
        bool dup = false;
        for (uint32_t q = 0; q < k && !dup; q++)
            dup = strcasecmp(t->keys[q], t->keys[k]) == 0;
        for (unsigned long sfx = 2; dup; sfx++) {
            char *fresh = sl_asprintf("%s_%lu", t->keys[k], sfx);
            if (!fresh)
                goto oom;
            dup = false;
            for (uint32_t q = 0; q < L && !dup; q++)
                dup = q != k && strcasecmp(t->keys[q], fresh) == 0;
            if (dup) {
                sl_free(fresh);
            } else {
                sl_free(t->keys[k]);
                t->keys[k] = fresh;
            }
        }
    }
    for (size_t pi = 0; pi < t->n_parts; pi++) {
        struct ipart *p = &t->parts[pi];
        p->values = sl_calloc(L, sizeof *p->values);
        if (!p->values)
            goto oom;
        uint32_t id = p->node;
        for (uint32_t k = L; k-- > 0; id = c->nodes[id].parent)
            chain[k] = id;
        for (uint32_t k = 0; k < L; k++) {
            size_t len;
            const struct dnode *d = &c->nodes[chain[k]];
            const char *s = seg_of(d, &len);
            bool mixed = li[k].any_hive && (li[k].keys_differ || li[k].any_word);
            if (d->hive_seg && !mixed) {
                const char *eq = memchr(s, '=', len);
                char *v = sl_hive_unescape(eq + 1, len - (size_t)(eq + 1 - s));
                if (!v)
                    goto oom;
                if (strcmp(v, "__HIVE_DEFAULT_PARTITION__") == 0) {
                    sl_free(v);
                    v = NULL; /* Hive's NULL partition */
                }
                p->values[k] = v;
            } else if (!(p->values[k] = sl_strndup(s, len))) {
                goto oom;
            }
        }
    }
    goto done;
oom:
    rc = oom(c, "partition keys");
done:
    if (li)
        for (uint32_t k = 0; k < L; k++)
            sl_free(li[k].hive_key);
    sl_free(li);
    sl_free(chain);
    return rc;
}

static int cmp_values(char *const *a, char *const *b, uint32_t n)
{
    for (uint32_t k = 0; k < n; k++) {
        if (!a[k] || !b[k]) {
            if (a[k] || b[k])
                return a[k] ? 1 : -1; /* NULL first */
            continue;
        }
        int d = strcmp(a[k], b[k]);
        if (d)
            return d;
    }
    return 0;
}

static int cmp_ipart(const void *x, const void *y, void *ctx)
{
    const struct ipart *a = x, *b = y;
    int d = cmp_values(a->values, b->values, *(const uint32_t *)ctx);
    if (d)
        return d;
    return a->first < b->first ? -1 : a->first > b->first; /* key order */
}

/* Step D: sort partitions by values; equal values (k=a%20b beside k=a b, or
 * dt=1 beside 1) keep the first in key order, the others are left out. */
static int sort_partitions(struct gctx *c, struct tbuild *t)
{
    if (t->n_parts == 0)
        return SL_OK;
    qsort_r(t->parts, t->n_parts, sizeof *t->parts, cmp_ipart, &t->levels);
    for (size_t i = 1; i < t->n_parts; i++) {
        struct ipart *p = &t->parts[i];
        size_t keep = i - 1;
        while (t->parts[keep].dup)
            keep--;
        if (cmp_values(t->parts[keep].values, p->values, t->levels) != 0)
            continue;
        p->dup = true;
        const struct dnode *kd = &c->nodes[t->parts[keep].node];
        for (size_t k = 0; k < p->n; k++) {
            int rc = exclude(c, t->pos[p->first + k], "MIXED_PARTITION_NAMING",
                             "its folder gives the same partition values as \"%.*s\"",
                             (int)kd->path_len, kd->path);
            if (rc != SL_OK)
                return rc;
        }
    }
    return SL_OK;
}

static bool json_str_ieq(const json_t *j, const char *s)
{
    return json_is_string(j) && strcasecmp(json_string_value(j), s) == 0;
}

/* Step E: §6.4 step 6 through csv.c's reconciliation over the table's files
 * with header evidence; files whose decision changes get their schema and
 * format parameters rebuilt from the evidence (no GET). */
static int reconcile_headers(struct gctx *c, struct tbuild *t, const char *classification)
{
    const json_t **ev = NULL;
    size_t *at = NULL, n_ev = 0;
    struct sl_csv_header_vote *votes = NULL;
    struct sl_err perr;
    bool present = false;
    int rc = SL_OK;

    t->header = HD_UNKNOWN;
    if (strcmp(classification, "csv") != 0 || t->n_pos == 0)
        return SL_OK;
    ev = sl_calloc(t->n_pos, sizeof *ev);
    at = sl_calloc(t->n_pos, sizeof *at);
    votes = sl_calloc(t->n_pos, sizeof *votes);
    t->eff = sl_calloc(t->n_pos, sizeof *t->eff);
    t->eff_fp = sl_calloc(t->n_pos, sizeof *t->eff_fp);
    t->reeval = sl_calloc(t->n_pos, sizeof *t->reeval);
    if (!ev || !at || !votes || !t->eff || !t->eff_fp || !t->reeval) {
        rc = oom(c, "header reconciliation");
        goto done;
    }
    for (size_t i = 0; i < t->n_pos; i++) {
        const struct sl_gobject *o = obj_at(c, t->pos[i]);
        if (c->ost[t->pos[i]] != OS_TABLE || !json_is_object(o->header_evidence))
            continue;
        ev[n_ev] = o->header_evidence;
        at[n_ev++] = i;
    }
    if (n_ev == 0)
        goto done;
    sl_err_clear(&perr);
    rc = sl_csv_reconcile_headers(ev, n_ev, &present, votes, &perr);
    if (rc == SL_ENOMEM) {
        rc = oom(c, "header reconciliation");
        goto done;
    }
    if (rc != SL_OK) {
        /* Bad cached evidence: keep each file's own decision and say so. */
        const struct dnode *r = &c->nodes[t->root];
        rc = warn(c, "HEADER_AMBIGUOUS", r->path, r->path_len,
                  "header decisions not reconciled: %s", perr.msg);
        goto done;
    }
    t->header = present ? HD_PRESENT : HD_ABSENT;
    for (size_t k = 0; k < n_ev; k++) {
        size_t i = at[k];
        const struct sl_gobject *o = obj_at(c, t->pos[i]);
        if (votes[k].ambiguous &&
            (rc = warn(c, "HEADER_AMBIGUOUS", o->key, strlen(o->key),
                       "this file's header decision lost the table's vote (%s); read as %s",
                       votes[k].rule ? votes[k].rule : "majority",
                       present ? "PRESENT" : "ABSENT")) != SL_OK)
            goto done;
        if (!votes[k].changed)
            continue;
        t->eff_fp[i] =
            json_is_object(o->format_params) ? json_deep_copy(o->format_params) : json_object();
        if (!t->eff_fp[i]) {
            rc = oom(c, "header reconciliation");
            goto done;
        }
        sl_err_clear(&perr);
        rc = sl_csv_header_apply(o->header_evidence, present, &t->eff[i], t->eff_fp[i], &perr);
        if (rc == SL_ENOMEM) {
            rc = oom(c, "header reconciliation");
            goto done;
        }
        if (rc != SL_OK) {
            sl_cschema_cleanup(&t->eff[i]);
            json_decref(t->eff_fp[i]);
            t->eff_fp[i] = NULL;
            rc = warn(c, "HEADER_AMBIGUOUS", o->key, strlen(o->key),
                      "cannot re-read the file as header %s: %s", present ? "PRESENT" : "ABSENT",
                      perr.msg);
            if (rc != SL_OK)
                goto done;
            continue;
        }
        t->reeval[i] = true;
    }
done:
    sl_free(ev);
    sl_free(at);
    sl_free(votes);
    return rc;
}

static int cmp_part_first(const void *a, const void *b, void *ctx)
{
    const struct ipart *parts = ctx;
    size_t x = parts[*(const size_t *)a].first, y = parts[*(const size_t *)b].first;
    return x < y ? -1 : x > y;
}

/* Step F (Hive roots): partitions whose schema is unlike the main cluster. */
static int hive_outliers(struct gctx *c, struct tbuild *t)
{
    struct mschema *ps = NULL;
    const struct sl_cschema **items = NULL;
    size_t *live = NULL, n_live = 0;
    struct clustering cl = {0};
    int rc = SL_OK;
    if (t->n_parts == 0)
        return SL_OK;
    ps = sl_calloc(t->n_parts, sizeof *ps);
    items = sl_calloc(t->n_parts, sizeof *items);
    live = sl_calloc(t->n_parts, sizeof *live);
    if (!ps || !items || !live) {
        rc = oom(c, "partition schemas");
        goto done;
    }
    for (size_t pi = 0; pi < t->n_parts; pi++) {
        const struct ipart *p = &t->parts[pi];
        if (p->dup)
            continue;
        for (size_t k = 0; k < p->n; k++) {
            const struct sl_cschema *s = eff_schema(c, t, p->first + k);
            if (s && (rc = ms_merge(&ps[pi], s, c->err)) != SL_OK)
                goto done;
        }
        live[n_live++] = pi;
    }
    /* Key order, not value order, decides which schema comes first. */
    qsort_r(live, n_live, sizeof *live, cmp_part_first, t->parts);
    for (size_t i = 0; i < n_live; i++)
        items[i] = &ps[live[i]].s;
    bool over;
    rc = cluster_schemas(items, n_live, c->opts->similarity_threshold, HIVE_MAX_CLUSTERS, &cl,
                         &over, c->err);
    if (rc != SL_OK)
        goto done;
    t->cluster_sizes = json_array();
    if (!t->cluster_sizes) {
        rc = oom(c, "cluster sizes");
        goto done;
    }
    for (size_t k = 0; k < cl.n; k++) {
        size_t at = k == 0 ? cl.main : (k <= cl.main ? k - 1 : k);
        if (json_array_append_new(t->cluster_sizes, json_integer((json_int_t)cl.c[at].size))) {
            rc = oom(c, "cluster sizes");
            goto done;
        }
    }
    for (size_t i = 0; i < n_live; i++) {
        if (cl.assign[i] == cl.main)
            continue;
        struct ipart *p = &t->parts[live[i]];
        const struct dnode *d = &c->nodes[p->node];
        p->outlier = true;
        rc = warn(c, "PARTITION_SCHEMA_OUTLIER", d->path, d->path_len,
                  "similarity %.2f with the table's main schema is below %.2f",
                  ms_sim(&cl.c[cl.main].m, items[i]), c->opts->similarity_threshold);
        if (rc != SL_OK)
            goto done;
    }
done:
    clustering_cleanup(&cl);
    if (ps)
        for (size_t pi = 0; pi < t->n_parts; pi++)
            ms_cleanup(&ps[pi]);
    sl_free(ps);
    sl_free(items);
    sl_free(live);
    return rc;
}

/* ---- Parameters (§11.2) ---- */

static int set_str(json_t *obj, const char *key, const char *val)
{
    return json_object_set_new(obj, key, json_string(val)) ? SL_ENOMEM : SL_OK;
}

static int set_fmt(json_t *obj, const char *key, const char *fmt, ...) SL_PRINTF(3, 4);

static int set_fmt(json_t *obj, const char *key, const char *fmt, ...)
{
    char v[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v, sizeof v, fmt, ap);
    va_end(ap);
    return set_str(obj, key, v);
}

static int stat_params(json_t *params, const struct gctx *c, const size_t *pos, size_t n)
{
    int64_t bytes = 0, records = 0;
    double rec_bytes = 0;
    for (size_t i = 0; i < n; i++) {
        const struct sl_gobject *o = obj_at(c, pos[i]);
        bytes += o->size > 0 ? o->size : 0;
        if (o->record_estimate > 0) {
            records += o->record_estimate;
            if (o->avg_record_bytes > 0)
                rec_bytes += o->avg_record_bytes * (double)o->record_estimate;
        }
    }
    double avg = records > 0 ? rec_bytes / (double)records : 0;
    if (set_fmt(params, "recordCount", "%lld", (long long)records) ||
        set_fmt(params, "averageRecordSize", "%.0f", avg) ||
        set_fmt(params, "objectCount", "%zu", n) ||
        set_fmt(params, "sizeKey", "%lld", (long long)bytes))
        return SL_ENOMEM;
    return SL_OK;
}

/* Per format parameter: the value most objects have (earliest on ties). */
static int vote_format(json_t *params, const struct gctx *c, const struct tbuild *t)
{
    json_t *tally = json_object(); /* key -> [[value, count], ...] */
    bool quoted = false, any_quoted_key = false;
    int rc = SL_ENOMEM;
    if (!tally)
        return SL_ENOMEM;
    for (size_t i = 0; i < t->n_pos; i++) {
        if (c->ost[t->pos[i]] != OS_TABLE)
            continue;
        const json_t *fp =
            t->eff_fp && t->eff_fp[i] ? t->eff_fp[i] : obj_at(c, t->pos[i])->format_params;
        const char *k;
        const json_t *v;
        if (!json_is_object(fp))
            continue;
        json_object_foreach((json_t *)fp, k, v)
        {
            if (strcmp(k, "areColumnsQuoted") == 0) {
                any_quoted_key = true;
                quoted = quoted || json_is_true(v) || json_str_ieq(v, "true");
                continue;
            }
            json_t *list = json_object_get(tally, k);
            if (!list) {
                list = json_array();
                if (!list || json_object_set_new(tally, k, list))
                    goto done;
            }
            size_t idx;
            json_t *entry;
            bool found = false;
            json_array_foreach(list, idx, entry)
            {
                if (json_equal(json_array_get(entry, 0), (json_t *)v)) {
                    json_array_set_new(
                        entry, 1, json_integer(json_integer_value(json_array_get(entry, 1)) + 1));
                    found = true;
                    break;
                }
            }
            if (!found && json_array_append_new(list, json_pack("[Oi]", v, 1)))
                goto done;
        }
    }
    const char *k;
    json_t *list;
    json_object_foreach(tally, k, list)
    {
        size_t idx;
        json_t *entry, *best = NULL;
        json_int_t best_n = 0;
        json_array_foreach(list, idx, entry)
        {
            json_int_t n = json_integer_value(json_array_get(entry, 1));
            if (n > best_n) {
                best_n = n;
                best = json_array_get(entry, 0);
            }
        }
        if (!best)
            continue;
        if (json_is_string(best)) {
            if (json_object_set(params, k, best))
                goto done;
        } else {
            char *text = json_dumps(best, JSON_COMPACT | JSON_ENCODE_ANY);
            int bad = !text || set_str(params, k, text);
            free(text);
            if (bad)
                goto done;
        }
    }
    if (any_quoted_key && set_str(params, "areColumnsQuoted", quoted ? "true" : "false"))
        goto done;
    rc = SL_OK;
done:
    json_decref(tally);
    return rc;
}

static int table_params(struct gctx *c, struct tbuild *t, struct sl_gtable *gt,
                        bool columns_ordered)
{
    json_t *p = json_object();
    const char *compression = NULL;
    bool mixed = false;
    gt->params = p;
    if (!p)
        return oom(c, "table parameters");
    for (size_t i = 0; i < t->n_pos; i++) {
        if (c->ost[t->pos[i]] != OS_TABLE)
            continue;
        const char *z = obj_at(c, t->pos[i])->compression;
        if (!z || !z[0])
            z = "none"; /* a missing compressionType equals none (§11.2) */
        if (!compression)
            compression = z;
        else if (strcmp(compression, z) != 0)
            mixed = true;
    }
    if (vote_format(p, c, t) != SL_OK || set_str(p, "classification", gt->classification) ||
        set_str(p, "compressionType",
                mixed         ? "mixed"
                : compression ? compression
                              : "none"))
        return oom(c, "table parameters");
    /* Stats over the objects kept (duplicates of partitions are out). */
    size_t *kept = sl_calloc(t->n_pos ? t->n_pos : 1, sizeof *kept);
    size_t n_kept = 0;
    if (!kept)
        return oom(c, "table parameters");
    for (size_t i = 0; i < t->n_pos; i++)
        if (c->ost[t->pos[i]] == OS_TABLE)
            kept[n_kept++] = t->pos[i];
    int rc = stat_params(p, c, kept, n_kept);
    sl_free(kept);
    if (rc != SL_OK || set_str(p, "typeOfData", "file") ||
        set_str(p, "columnsOrdered", columns_ordered ? "true" : "false") ||
        (!columns_ordered && set_str(p, "sluice.csv.match_by", "name")) ||
        set_str(p, "sluice.grouping", gt->grouping) ||
        set_str(p, "sluice.recursive", gt->recursive ? "true" : "false"))
        return oom(c, "table parameters");
    return SL_OK;
}

/* ---- Names (§10.3 step 6) ---- */

static void hash8(const struct gctx *c, const char *prefix, size_t len, char out[9])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    const char *base = c->opts->location_base ? c->opts->location_base : "";
    memset(md, 0, sizeof md);
    if (ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
        EVP_DigestUpdate(ctx, base, strlen(base)) == 1 && EVP_DigestUpdate(ctx, prefix, len) == 1)
        EVP_DigestFinal_ex(ctx, md, &md_len);
    EVP_MD_CTX_free(ctx);
    for (int i = 0; i < 4; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[8] = '\0';
}

/* table_prefix + segment, lowercased, runs outside [a-z0-9_] -> '_', at most
 * 128 bytes (a truncated name ends in _<hash8>). Owned; NULL on OOM. */
static char *table_name(const struct gctx *c, const struct dnode *r)
{
    const char *tp = c->opts->table_prefix ? c->opts->table_prefix : "";
    size_t len;
    const char *seg = seg_of(r, &len);
    if (r->path_len == 0) {
        seg = c->opts->root_name ? c->opts->root_name : "";
        len = strlen(seg);
    }
    size_t tpl = strlen(tp);
    char *name = sl_alloc(tpl + len + 16);
    if (!name)
        return NULL;
    size_t n = 0;
    bool run = false;
    for (size_t i = 0; i < tpl + len; i++) {
        unsigned char ch = (unsigned char)(i < tpl ? tp[i] : seg[i - tpl]);
        if (ch >= 'A' && ch <= 'Z')
            ch = (unsigned char)(ch - 'A' + 'a');
        if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_') {
            name[n++] = (char)ch;
            run = false;
        } else if (!run) {
            name[n++] = '_';
            run = true;
        }
    }
    if (n == 0) {
        memcpy(name, "root", 4); /* an include path with no name at all */
        n = 4;
    }
    if (n > TABLE_NAME_MAX) {
        char h[9];
        hash8(c, r->path, r->path_len, h);
        n = TABLE_NAME_MAX - 9;
        name[n++] = '_';
        memcpy(name + n, h, 8);
        n += 8;
    }
    name[n] = '\0';
    return name;
}

/* ---- One table ---- */

static bool is_prefix_of(const struct sl_cschema *a, const struct sl_cschema *b)
{
    if (a->n_cols > b->n_cols)
        return false;
    for (size_t i = 0; i < a->n_cols; i++)
        if (strcmp(a->cols[i].name, b->cols[i].name) != 0)
            return false;
    return true;
}

/* A data column named like a partition key becomes <name>_1 (or _2...). */
static int rename_collisions(struct gctx *c, struct tbuild *t, struct mschema *m,
                             const struct dnode *r)
{
    for (size_t j = 0; j < m->s.n_cols; j++) {
        struct sl_ccolumn *col = &m->s.cols[j];
        bool hit = false;
        for (size_t k = 0; k < t->n_keys && !hit; k++)
            hit = strcasecmp(col->name, t->keys[k]) == 0;
        if (!hit)
            continue;
        char *fresh = NULL;
        for (unsigned long sfx = 1; !fresh; sfx++) {
            fresh = sl_asprintf("%s_%lu", col->name, sfx);
            if (!fresh)
                return oom(c, "column rename");
            bool taken = false;
            for (size_t k = 0; k < t->n_keys && !taken; k++)
                taken = strcasecmp(fresh, t->keys[k]) == 0;
            for (size_t q = 0; q < m->s.n_cols && !taken; q++)
                taken = strcasecmp(fresh, m->s.cols[q].name) == 0;
            if (taken) {
                sl_free(fresh);
                fresh = NULL;
            }
        }
        int rc = warn(c, "PARTITION_KEY_COLLISION", r->path, r->path_len,
                      "data column \"%s\" is named like a partition key; renamed \"%s\"", col->name,
                      fresh);
        if (rc != SL_OK) {
            sl_free(fresh);
            return rc;
        }
        if (!col->source_name)
            col->source_name = col->name; /* readers still find it by its old name */
        else
            sl_free(col->name);
        col->name = fresh;
    }
    return SL_OK;
}

static const char *grouping_name(const struct dnode *r, enum rkind kind)
{
    switch (kind) {
    case RK_HIVE: return "hive";
    case RK_DEPTH: return "table_depth";
    case RK_SINGLE: return "single_schema";
    case RK_NESTED: return "single_folder";
    case RK_UNIT: break;
    }
    return r->rule == DR_VALUE  ? "value_folders"
           : r->rule == DR_WORD ? "word_folders"
                                : "single_folder";
}

static int build_table(struct gctx *c, uint32_t root, enum rkind kind)
{
    struct tbuild t = {.root = root, .kind = kind, .header = HD_UNKNOWN};
    struct mschema m = {0};
    const struct dnode *r = &c->nodes[root];
    struct sl_gresult *out = c->out;
    struct sl_gtable *gt = NULL;
    int rc;

    if ((rc = collect_objects(c, &t)) != SL_OK)
        goto done;
    if (t.n_pos == 0)
        goto done;
    if ((rc = find_partitions(c, &t)) != SL_OK || (rc = name_partitions(c, &t)) != SL_OK ||
        (rc = sort_partitions(c, &t)) != SL_OK)
        goto done;
    if (grow((void **)&out->tables, &c->cap_tables, out->n_tables + 1, sizeof *out->tables)) {
        rc = oom(c, "tables");
        goto done;
    }
    gt = &out->tables[out->n_tables++];
    memset(gt, 0, sizeof *gt);
    gt->prefix = sl_strndup(r->path, r->path_len);
    gt->classification = sl_strdup(obj_at(c, t.pos[0])->classification);
    gt->grouping = sl_strdup(grouping_name(r, kind));
    gt->name = table_name(c, r);
    gt->recursive = kind != RK_NESTED;
    if (!gt->prefix || !gt->classification || !gt->grouping || !gt->name) {
        rc = oom(c, "table");
        goto done;
    }
    if ((rc = reconcile_headers(c, &t, gt->classification)) != SL_OK)
        goto done;
    if (kind == RK_HIVE && (rc = hive_outliers(c, &t)) != SL_OK)
        goto done;

    /* Column union in first-seen (key) order; headered CSV column order. */
    bool ordered = true;
    size_t longest = NPOS;
    for (size_t i = 0; i < t.n_pos; i++) {
        if (c->ost[t.pos[i]] != OS_TABLE)
            continue;
        const struct sl_cschema *s = eff_schema(c, &t, i);
        if (!s)
            continue;
        if ((rc = ms_merge(&m, s, c->err)) != SL_OK)
            goto done;
        if (longest == NPOS || s->n_cols > eff_schema(c, &t, longest)->n_cols)
            longest = i;
    }
    if (t.header == HD_PRESENT && longest != NPOS) {
        const struct sl_cschema *ls = eff_schema(c, &t, longest);
        for (size_t i = 0; i < t.n_pos && ordered; i++) {
            const struct sl_cschema *s = eff_schema(c, &t, i);
            if (c->ost[t.pos[i]] == OS_TABLE && s && !is_prefix_of(s, ls))
                ordered = false;
        }
        if (!ordered &&
            (rc = warn(c, "COLUMNS_UNORDERED", r->path, r->path_len,
                       "file headers are not all prefixes of the longest; readers map columns "
                       "by header name (sluice.csv.match_by=name)")) != SL_OK)
            goto done;
    }
    if ((rc = rename_collisions(c, &t, &m, r)) != SL_OK)
        goto done;
    gt->schema = m.s;
    memset(&m.s, 0, sizeof m.s);

    /* Objects, partitions and keys */
    gt->objects = sl_calloc(t.n_pos, sizeof *gt->objects);
    if (!gt->objects) {
        rc = oom(c, "table objects");
        goto done;
    }
    for (size_t i = 0; i < t.n_pos; i++)
        if (c->ost[t.pos[i]] == OS_TABLE)
            gt->objects[gt->n_objects++] = c->order[t.pos[i]];
    gt->partition_keys = t.keys;
    gt->n_partition_keys = t.n_keys;
    t.keys = NULL;
    t.n_keys = 0;
    size_t n_live = 0;
    for (size_t pi = 0; pi < t.n_parts; pi++)
        n_live += !t.parts[pi].dup;
    gt->partitions = sl_calloc(n_live ? n_live : 1, sizeof *gt->partitions);
    if (!gt->partitions) {
        rc = oom(c, "partitions");
        goto done;
    }
    for (size_t pi = 0; pi < t.n_parts; pi++) {
        struct ipart *p = &t.parts[pi];
        if (p->dup)
            continue;
        struct sl_gpartition *gp = &gt->partitions[gt->n_partitions++];
        const struct dnode *pd = &c->nodes[p->node];
        gp->values = p->values;
        p->values = NULL;
        gp->prefix = sl_strndup(pd->path, pd->path_len);
        gp->objects = sl_calloc(p->n, sizeof *gp->objects);
        gp->params = json_object();
        gp->recursive = p->recursive;
        gp->outlier = p->outlier;
        for (uint32_t a = p->node; !gp->outlier && a != root; a = c->nodes[a].parent)
            gp->outlier = c->nodes[a].outlier;
        if (!gp->prefix || !gp->objects || !gp->params) {
            rc = oom(c, "partition");
            goto done;
        }
        for (size_t k = 0; k < p->n; k++) {
            const struct sl_gobject *o = obj_at(c, t.pos[p->first + k]);
            gp->objects[gp->n_objects++] = c->order[t.pos[p->first + k]];
            gp->n_bytes += o->size > 0 ? o->size : 0;
            gp->n_records += o->record_estimate > 0 ? o->record_estimate : 0;
        }
        if (stat_params(gp->params, c, t.pos + p->first, p->n) != SL_OK ||
            (gp->recursive && set_str(gp->params, "sluice.recursive", "true"))) {
            rc = oom(c, "partition parameters");
            goto done;
        }
    }
    bool deep = false;
    for (size_t pi = 0; pi < gt->n_partitions; pi++)
        deep = deep || gt->partitions[pi].recursive;
    if (deep && (rc = warn(c, "INCONSISTENT_PARTITION_DEPTH", r->path, r->path_len,
                           "objects lie deeper than the %zu partition level(s); they are read "
                           "with the partition of their first levels (sluice.recursive=true)",
                           gt->n_partition_keys)) != SL_OK)
        goto done;
    if ((rc = table_params(c, &t, gt, ordered)) != SL_OK)
        goto done;
    gt->decision =
        json_pack("{s:s, s:i}", "grouping", gt->grouping, "partition_levels", (json_int_t)t.levels);
    if (!gt->decision) {
        rc = oom(c, "table decision");
        goto done;
    }
    json_t *cs = kind == RK_HIVE ? t.cluster_sizes : kind == RK_UNIT ? r->clusters : NULL;
    if (cs && json_object_set(gt->decision, "clusters", cs)) {
        rc = oom(c, "table decision");
        goto done;
    }
    if (t.header != HD_UNKNOWN &&
        json_object_set_new(gt->decision, "header",
                            json_string(t.header == HD_PRESENT ? "PRESENT" : "ABSENT"))) {
        rc = oom(c, "table decision");
        goto done;
    }
done:
    ms_cleanup(&m);
    tbuild_cleanup(&t);
    return rc;
}

/* ---- Result ---- */

static int cmp_table(const void *a, const void *b)
{
    return strcmp(((const struct sl_gtable *)a)->prefix, ((const struct sl_gtable *)b)->prefix);
}

static int cmp_table_name(const void *a, const void *b, void *ctx)
{
    const struct sl_gtable *tables = ctx;
    size_t ia = *(const size_t *)a, ib = *(const size_t *)b;
    int d = strcmp(tables[ia].name, tables[ib].name);
    return d ? d : (ia < ib ? -1 : ia > ib);
}

/* Within one result, a repeated name keeps its first table (by prefix); the
 * others get _<hash8 of their location>. */
static int dedupe_names(struct gctx *c)
{
    struct sl_gresult *out = c->out;
    size_t *idx = sl_calloc(out->n_tables ? out->n_tables : 1, sizeof *idx);
    if (!idx)
        return oom(c, "table names");
    for (size_t i = 0; i < out->n_tables; i++)
        idx[i] = i;
    qsort_r(idx, out->n_tables, sizeof *idx, cmp_table_name, out->tables);
    int rc = SL_OK;
    for (size_t i = 0; rc == SL_OK && i < out->n_tables;) {
        const struct sl_gtable *first = &out->tables[idx[i]]; /* keeps its name */
        size_t j = i + 1;
        for (; rc == SL_OK && j < out->n_tables; j++) {
            struct sl_gtable *t = &out->tables[idx[j]];
            if (strcmp(t->name, first->name) != 0)
                break;
            char h[9];
            hash8(c, t->prefix, strlen(t->prefix), h);
            size_t keep = strlen(t->name);
            if (keep > TABLE_NAME_MAX - 9)
                keep = TABLE_NAME_MAX - 9;
            char *fresh = sl_asprintf("%.*s_%s", (int)keep, t->name, h);
            if (!fresh) {
                rc = oom(c, "table names");
                break;
            }
            rc = warn(c, "NAME_COLLISION", t->prefix, strlen(t->prefix),
                      "table name \"%s\" is also the name of \"%s\"; using \"%s\"", t->name,
                      first->prefix, fresh);
            sl_free(t->name);
            t->name = fresh;
        }
        i = j;
    }
    sl_free(idx);
    return rc;
}

static int cmp_warning(const void *a, const void *b, void *ctx)
{
    const struct sl_gwarning *ws = ctx;
    size_t ia = *(const size_t *)a, ib = *(const size_t *)b;
    const struct sl_gwarning *x = &ws[ia], *y = &ws[ib];
    int d = strcmp(x->subject, y->subject);
    if (!d)
        d = strcmp(x->code, y->code);
    return d ? d : (ia < ib ? -1 : ia > ib);
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

/* Warnings by subject (then code, then emission order); excluded by key. */
static int finish(struct gctx *c)
{
    struct sl_gresult *out = c->out;
    if (out->n_tables > 1)
        qsort(out->tables, out->n_tables, sizeof *out->tables, cmp_table);
    int rc = dedupe_names(c);
    if (rc != SL_OK)
        return rc;
    if (out->n_warnings > 1) {
        size_t *idx = sl_calloc(out->n_warnings, sizeof *idx);
        struct sl_gwarning *w = sl_calloc(out->n_warnings, sizeof *w);
        if (!idx || !w) {
            sl_free(idx);
            sl_free(w);
            return oom(c, "warnings");
        }
        for (size_t i = 0; i < out->n_warnings; i++)
            idx[i] = i;
        qsort_r(idx, out->n_warnings, sizeof *idx, cmp_warning, out->warnings);
        for (size_t i = 0; i < out->n_warnings; i++)
            w[i] = out->warnings[idx[i]];
        sl_free(out->warnings);
        out->warnings = w;
        c->cap_warnings = out->n_warnings;
        sl_free(idx);
    }
    if (out->n_excluded > 1)
        qsort(c->excluded_pos, out->n_excluded, sizeof *c->excluded_pos, cmp_size);
    out->excluded = sl_calloc(out->n_excluded ? out->n_excluded : 1, sizeof *out->excluded);
    if (!out->excluded)
        return oom(c, "excluded objects");
    for (size_t i = 0; i < out->n_excluded; i++)
        out->excluded[i] = c->order[c->excluded_pos[i]];
    return SL_OK;
}

void sl_group_opts_default(struct sl_group_opts *o)
{
    memset(o, 0, sizeof *o);
    o->table_depth = -1;
    o->single_schema = false;
    o->similarity_threshold = 0.7;
    o->partition_majority = 0.7;
    o->max_clusters = 5;
    o->table_prefix = "";
    o->root_name = "";
    o->location_base = NULL;
}

int sl_group_objects(const struct sl_gobject *objects, size_t n_objects,
                     const struct sl_group_opts *opts, struct sl_gresult *out, struct sl_err *err)
{
    struct sl_group_opts defaults;
    struct gctx c = {0};
    int rc = SL_OK;

    memset(out, 0, sizeof *out);
    if (!opts) {
        sl_group_opts_default(&defaults);
        opts = &defaults;
    }
    c.in = objects;
    c.n = n_objects;
    c.opts = opts;
    c.out = out;
    c.err = err;
    size_t n = n_objects ? n_objects : 1;
    c.order = sl_calloc(n, sizeof *c.order);
    c.odir = sl_calloc(n, sizeof *c.odir);
    c.onext = sl_calloc(n, sizeof *c.onext);
    c.ost = sl_calloc(n, sizeof *c.ost);
    if (!c.order || !c.odir || !c.onext || !c.ost) {
        rc = oom(&c, "objects");
        goto done;
    }
    for (size_t i = 0; i < n_objects; i++)
        c.order[i] = i;
    qsort_r(c.order, n_objects, sizeof *c.order, cmp_key, (void *)objects);
    for (size_t p = 0; p < n_objects; p++)
        c.ost[p] = groupable(obj_at(&c, p)) ? OS_PENDING : OS_IGNORED;
    if ((rc = build_tree(&c)) != SL_OK)
        goto done;
    mark_data_and_hive(&c);
    if ((rc = find_roots(&c)) != SL_OK)
        goto done;
    for (size_t i = 0; i < c.n_roots; i++)
        if ((rc = build_table(&c, c.roots[i].node, (enum rkind)c.roots[i].kind)) != SL_OK)
            goto done;
    rc = finish(&c);
done:
    if (c.nodes)
        for (uint32_t id = 0; id < c.n_nodes; id++) {
            ms_cleanup(c.nodes[id].schema);
            sl_free(c.nodes[id].schema);
            json_decref(c.nodes[id].clusters);
        }
    sl_free(c.nodes);
    sl_free(c.roots);
    sl_free(c.order);
    sl_free(c.odir);
    sl_free(c.onext);
    sl_free(c.ost);
    sl_free(c.excluded_pos);
    if (rc != SL_OK) {
        sl_gresult_cleanup(out);
        sl_err_prefix(err, "group %zu objects", n_objects);
    }
    return rc;
}

void sl_gresult_cleanup(struct sl_gresult *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_tables; i++) {
        struct sl_gtable *t = &r->tables[i];
        sl_free(t->name);
        sl_free(t->prefix);
        sl_free(t->classification);
        sl_free(t->grouping);
        sl_cschema_cleanup(&t->schema);
        for (size_t k = 0; k < t->n_partition_keys; k++)
            sl_free(t->partition_keys[k]);
        sl_free(t->partition_keys);
        for (size_t p = 0; p < t->n_partitions; p++) {
            struct sl_gpartition *gp = &t->partitions[p];
            if (gp->values)
                for (size_t k = 0; k < t->n_partition_keys; k++)
                    sl_free(gp->values[k]);
            sl_free(gp->values);
            sl_free(gp->prefix);
            sl_free(gp->objects);
            json_decref(gp->params);
        }
        sl_free(t->partitions);
        sl_free(t->objects);
        json_decref(t->params);
        json_decref(t->decision);
    }
    sl_free(r->tables);
    for (size_t i = 0; i < r->n_warnings; i++) {
        sl_free(r->warnings[i].subject);
        sl_free(r->warnings[i].detail);
    }
    sl_free(r->warnings);
    sl_free(r->excluded);
    memset(r, 0, sizeof *r);
}
