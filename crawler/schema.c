/*
 * crawler/schema.c - the plain data of crawler/classify.h: crawler option
 * defaults (spec/crawler.md §2), inferred schemas, classifier results and
 * warnings, and column-name normalisation (§6.5). The classifiers themselves
 * live in csv.c, json.c, parquet.c and avro.c.
 */
#include "crawler/classify.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "runtime/alloc.h"
#include "runtime/arena.h"

#define MAX_COLUMN_NAME 255 /* bytes; PostgreSQL identifiers are shorter, catalog names are text   \
                             */

/* §2 "null_tokens", in the spec's order (sluice.null_tokens lists them in this order). */
static const char *const default_null_tokens[] = {
    "", "NULL", "null", "Null", "NA", "N/A", "n/a", "#N/A", "\\N", "None", "nil", NULL,
};

void sl_crawl_opts_default(struct sl_crawl_opts *o)
{
    memset(o, 0, sizeof *o);
    o->sample_initial_bytes = (size_t)1 << 20;
    o->sample_max_bytes = (size_t)16 << 20;
    o->sample_max_decoded_bytes = (size_t)64 << 20;
    o->sample_rows = 20000;
    o->dialect_rows = 2048;
    o->tail_sample_bytes = (size_t)256 << 10;
    o->csv_header = 0;
    o->csv_allow_single_column = false;
    o->csv_decimal_separator = '.';
    o->csv_thousands_separator = 0;
    o->csv_date_order = 0;
    o->csv_infer_decimal = false;
    o->null_tokens = default_null_tokens;
    o->json_infer_temporal = true;
    o->json_map_key_threshold = 200;
    o->json_max_depth = 32;
    o->json_path = NULL;
    o->min_certainty = 0.5;
}

/* ---- Schemas ---- */

static void column_cleanup(struct sl_ccolumn *c)
{
    sl_free(c->name);
    sl_free(c->source_name);
    sl_ctype_free(c->type);
    sl_free(c->format);
    memset(c, 0, sizeof *c);
}

void sl_cschema_cleanup(struct sl_cschema *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_cols; i++)
        column_cleanup(&s->cols[i]);
    sl_free(s->cols);
    s->cols = NULL;
    s->n_cols = 0;
}

int sl_cschema_add_take(struct sl_cschema *s, const char *name, const char *source_name,
                        struct sl_ctype *type, struct sl_err *err)
{
    struct sl_ccolumn c = {0};

    c.type = type;
    c.name = sl_strdup(name);
    if (!c.name)
        goto fail;
    if (source_name && strcmp(source_name, name) != 0 && !(c.source_name = sl_strdup(source_name)))
        goto fail;
    struct sl_ccolumn *cols = sl_realloc(s->cols, (s->n_cols + 1) * sizeof *cols);
    if (!cols)
        goto fail;
    s->cols = cols;
    s->cols[s->n_cols++] = c;
    return SL_OK;
fail:
    column_cleanup(&c);
    return sl_err_set(err, SL_ENOMEM, "add column \"%s\": out of memory", name);
}

int sl_cschema_copy(struct sl_cschema *dst, const struct sl_cschema *src, struct sl_err *err)
{
    dst->cols = NULL;
    dst->n_cols = 0;
    if (!src->n_cols)
        return SL_OK;
    dst->cols = sl_calloc(src->n_cols, sizeof *dst->cols);
    if (!dst->cols)
        goto fail;
    for (size_t i = 0; i < src->n_cols; i++) {
        const struct sl_ccolumn *s = &src->cols[i];
        struct sl_ccolumn *d = &dst->cols[i];
        dst->n_cols = i + 1; /* so a failure frees what is there */
        *d = *s;
        d->name = d->source_name = d->format = NULL;
        d->type = NULL;
        if (!(d->name = sl_strdup(s->name)))
            goto fail;
        if (s->source_name && !(d->source_name = sl_strdup(s->source_name)))
            goto fail;
        if (s->format && !(d->format = sl_strdup(s->format)))
            goto fail;
        if (s->type && !(d->type = sl_ctype_copy(s->type)))
            goto fail;
    }
    return SL_OK;
fail:
    sl_cschema_cleanup(dst);
    return sl_err_set(err, SL_ENOMEM, "copy schema: out of memory");
}

/* ---- Classifier results ---- */

void sl_cls_result_init(struct sl_cls_result *r)
{
    memset(r, 0, sizeof *r);
    r->format_params = json_object(); /* NULL only when out of memory */
}

int sl_cls_result_accept(struct sl_cls_result *r, const char *classification, json_t *params,
                         struct sl_cschema *schema, struct sl_err *err)
{
    if (r->format_params) { /* keep what the caller put there */
        if (json_object_update(r->format_params, params) != 0)
            return sl_err_set(err, SL_ENOMEM, "out of memory");
        json_decref(params);
    } else {
        r->format_params = params;
    }
    snprintf(r->classification, sizeof r->classification, "%s", classification);
    r->certainty = 1.0;
    r->reason[0] = '\0';
    sl_cschema_cleanup(&r->schema);
    r->schema = *schema;
    memset(schema, 0, sizeof *schema);
    return SL_OK;
}

void sl_cls_result_cleanup(struct sl_cls_result *r)
{
    if (!r)
        return;
    sl_cschema_cleanup(&r->schema);
    json_decref(r->format_params);
    json_decref(r->header_evidence);
    r->format_params = NULL;
    r->header_evidence = NULL;
}

void sl_cls_warn(struct sl_cls_result *r, const char *code, const char *fmt, ...)
{
    if (r->n_warnings >= SL_CLS_MAX_WARNINGS)
        return;
    struct sl_cwarning *w = &r->warnings[r->n_warnings++];
    va_list ap;
    snprintf(w->code, sizeof w->code, "%s", code);
    va_start(ap, fmt);
    vsnprintf(w->detail, sizeof w->detail, fmt, ap);
    va_end(ap);
}

/* ---- Column names (§6.5) ---- */

char *sl_colname_normalise(const char *src, size_t len, size_t j)
{
    char out[MAX_COLUMN_NAME + 2];
    size_t n = 0;
    bool pending_sep = false;

    /* trim ASCII white space */
    while (len && isspace((unsigned char)src[0])) {
        src++;
        len--;
    }
    while (len && isspace((unsigned char)src[len - 1]))
        len--;

    for (size_t i = 0; i < len && n < sizeof out - 2; i++) {
        unsigned char c = (unsigned char)src[i];
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c - 'A' + 'a');
        bool keep = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
        if (!keep) {
            pending_sep = true; /* a run of other characters becomes one '_' */
            continue;
        }
        if (pending_sep && n > 0)
            out[n++] = '_';
        pending_sep = false;
        if (n < sizeof out - 2)
            out[n++] = (char)c;
    }
    out[n] = '\0';

    /* trim '_' on both sides */
    size_t start = 0;
    while (out[start] == '_')
        start++;
    while (n > start && out[n - 1] == '_')
        n--;
    out[n] = '\0';

    if (n == start)
        return sl_asprintf("col%zu", j);
    const char *name = out + start;
    size_t name_len = n - start;
    if (isdigit((unsigned char)name[0])) {
        if (name_len > MAX_COLUMN_NAME - 1)
            name_len = MAX_COLUMN_NAME - 1;
        return sl_asprintf("_%.*s", (int)name_len, name);
    }
    if (name_len > MAX_COLUMN_NAME)
        name_len = MAX_COLUMN_NAME;
    return sl_strndup(name, name_len);
}

/* Case-insensitive name set for de-duplication: open addressing over
 * lowercased copies in an arena, so wide hostile headers stay linear. */
struct name_slot {
    const char *name;          /* lowercased, arena; NULL = empty */
    bool original;             /* some column's name before renaming */
    bool claimed;              /* a column's final name */
    unsigned long next_suffix; /* for a base name: the next suffix to try */
};

struct name_set {
    struct name_slot *slots;
    size_t cap; /* power of two */
    struct sl_arena arena;
};

static uint64_t name_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

/* The slot of a lowercase name, inserted when absent; NULL on OOM. */
static struct name_slot *name_slot(struct name_set *set, const char *lower)
{
    size_t i = (size_t)name_hash(lower) & (set->cap - 1);
    while (set->slots[i].name) {
        if (strcmp(set->slots[i].name, lower) == 0)
            return &set->slots[i];
        i = (i + 1) & (set->cap - 1);
    }
    char *copy = sl_arena_strndup(&set->arena, lower, strlen(lower));
    if (!copy)
        return NULL;
    set->slots[i].name = copy;
    set->slots[i].next_suffix = 2;
    return &set->slots[i];
}

static void lower_into(char *dst, const char *src, size_t cap)
{
    size_t n = 0;
    for (; src[n] && n + 1 < cap; n++)
        dst[n] = (char)tolower((unsigned char)src[n]);
    dst[n] = '\0';
}

/* Column i keeps its name unless an earlier column has it (case-insensitive).
 * A renamed column tries base_2, base_3, ... and takes the first suffix that no
 * other column (earlier or later) uses, so "a,a,a_2" gives "a, a_3, a_2".
 * Suffixes continue where the last rename of the same base stopped. */
int sl_cschema_dedupe_names(struct sl_cschema *s, struct sl_err *err)
{
    struct name_set set = {0};
    char lower[MAX_COLUMN_NAME * 4 + 32];
    int rc = SL_OK;

    if (s->n_cols < 2)
        return SL_OK;
    set.cap = 16;
    while (set.cap < s->n_cols * 4)
        set.cap <<= 1; /* at most one original and one renamed entry per column */
    set.slots = sl_calloc(set.cap, sizeof *set.slots);
    sl_arena_init(&set.arena, 0);
    if (!set.slots)
        goto nomem;
    for (size_t i = 0; i < s->n_cols; i++) {
        lower_into(lower, s->cols[i].name, sizeof lower);
        struct name_slot *slot = name_slot(&set, lower);
        if (!slot)
            goto nomem;
        slot->original = true;
    }
    for (size_t i = 0; i < s->n_cols; i++) {
        lower_into(lower, s->cols[i].name, sizeof lower);
        struct name_slot *base_slot = name_slot(&set, lower);
        if (!base_slot)
            goto nomem;
        if (!base_slot->claimed) {
            base_slot->claimed = true;
            continue;
        }
        char *base = s->cols[i].name;
        char *fresh = NULL;
        while (!fresh) {
            char suffix[24];
            int sl = snprintf(suffix, sizeof suffix, "_%lu", base_slot->next_suffix++);
            size_t blen = strlen(base);
            if (blen + (size_t)sl > MAX_COLUMN_NAME)
                blen = MAX_COLUMN_NAME - (size_t)sl;
            fresh = sl_asprintf("%.*s%s", (int)blen, base, suffix);
            if (!fresh)
                goto nomem;
            lower_into(lower, fresh, sizeof lower);
            struct name_slot *slot = name_slot(&set, lower);
            if (!slot) {
                sl_free(fresh);
                goto nomem;
            }
            if (slot->original || slot->claimed) {
                sl_free(fresh);
                fresh = NULL;
                continue;
            }
            slot->claimed = true;
        }
        if (!s->cols[i].source_name) {
            s->cols[i].source_name = base; /* the name now differs from its source */
        } else {
            sl_free(base);
        }
        s->cols[i].name = fresh;
    }
    goto done;
nomem:
    rc = sl_err_set(err, SL_ENOMEM, "rename duplicate columns: out of memory");
done:
    sl_free(set.slots);
    sl_arena_cleanup(&set.arena);
    return rc;
}
