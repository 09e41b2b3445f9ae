/*
 * runtime/plan.c - the job plan (see plan.h): node checks and output column
 * tracking, structural equality, JSON text, freeing. Building a plan from a
 * Lua script is lua_sluice.c; running one is the executor's.
 *
 * Every check lives in check_node() so that the Lua methods (which add nodes
 * one at a time and report the script line) and sl_plan_validate() (a whole
 * plan, e.g. one a test built by hand) give the same messages.
 */
#include "plan.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"
#include "pgload.h"
#include "buf.h"

static const char *const kind_names[SL_PLAN_KIND_COUNT] = {
    [SL_PLAN_SOURCE_PATH] = "source_path",
    [SL_PLAN_SOURCE_CATALOG] = "source_catalog",
    [SL_PLAN_FILTER] = "filter",
    [SL_PLAN_MAP] = "map",
    [SL_PLAN_FLAT_MAP] = "flat_map",
    [SL_PLAN_SELECT] = "select",
    [SL_PLAN_DROP] = "drop",
    [SL_PLAN_RENAME] = "rename",
    [SL_PLAN_APPLY_MAPPING] = "apply_mapping",
    [SL_PLAN_GROUP_AGG] = "group_agg",
    [SL_PLAN_JOIN] = "join",
    [SL_PLAN_DISTINCT] = "distinct",
    [SL_PLAN_UNION] = "union",
    [SL_PLAN_SORT] = "sort",
    [SL_PLAN_LIMIT] = "limit",
    [SL_PLAN_MAPREDUCE] = "mapreduce",
    [SL_PLAN_WRITE] = "write",
};

const char *sl_plan_kind_name(enum sl_plan_kind k)
{
    return (unsigned)k < SL_PLAN_KIND_COUNT ? kind_names[k] : "?";
}

/* ---- Source options (STYLE §8: declared once; docs/lua-api.md lists the same) ---- */

enum opt_check { OPT_CHAR, OPT_CHAR_OR_EMPTY, OPT_BOOL, OPT_COUNT, OPT_ENUM, OPT_ANY };

static const struct {
    const char *key;
    enum opt_check check;
    const char *choices; /* OPT_ENUM: '|'-separated */
} source_opts[] = {
    {"comment", OPT_CHAR_OR_EMPTY, NULL},
    {"delimiter", OPT_CHAR, NULL},
    {"escape", OPT_ENUM, "doubled|backslash|none"},
    {"header", OPT_BOOL, NULL},
    {"json_layout", OPT_ENUM, "auto|lines|array"},
    {"multiline", OPT_BOOL, NULL},
    {"null_value", OPT_ANY, NULL},
    {"quote", OPT_CHAR_OR_EMPTY, NULL},
    {"skip_lines", OPT_COUNT, NULL},
    {"trailing_delimiter", OPT_BOOL, NULL},
    {"trim", OPT_BOOL, NULL},
};

static bool in_choices(const char *v, const char *choices);
static bool empty(const char *s);

static const char *opt_value(const struct sl_plan_node *n, const char *key)
{
    for (size_t i = 0; i < n->n_options; i++)
        if (strcmp(n->options[i].key, key) == 0)
            return n->options[i].value;
    return NULL;
}

/* write{} to a database: mode, keys, create, add_columns, stage, iam_role. */
static int check_db_write(const struct sl_plan_node *n, struct sl_err *err)
{
    struct sl_pgload_target t;
    const char *mode = "append", *keys = NULL;
    int rc = sl_pgload_target_parse(n->uri, &t, err);
    if (rc != SL_OK)
        return rc;
    bool redshift = t.dialect == SL_PGLOAD_REDSHIFT;
    sl_pgload_target_cleanup(&t);
    if (n->n_columns > 0)
        return sl_err_set(err, SL_ECONFIG, "partition_keys are for file targets");
    if (n->format && strcmp(n->format, "csv") != 0)
        return sl_err_set(err, SL_ECONFIG, "format is for file targets");
    if (n->compression && strcmp(n->compression, "none") != 0)
        return sl_err_set(err, SL_ECONFIG, "compression is for file targets");
    for (size_t i = 0; i < n->n_options; i++) {
        const char *k = n->options[i].key, *v = n->options[i].value;
        if (strcmp(k, "mode") == 0) {
            mode = v;
            if (!in_choices(v, "append|overwrite|merge"))
                return sl_err_set(err, SL_ECONFIG,
                                  "mode must be \"append\", \"overwrite\" or \"merge\", got \"%s\"",
                                  v);
        } else if (strcmp(k, "keys") == 0) {
            keys = v;
        } else if (strcmp(k, "create") == 0 || strcmp(k, "add_columns") == 0 ||
                   strcmp(k, "execute") == 0) {
            if (!in_choices(v, "true|false"))
                return sl_err_set(err, SL_ECONFIG, "%s must be true or false", k);
            if (strcmp(k, "execute") == 0 && !redshift)
                return sl_err_set(err, SL_ECONFIG, "execute is for redshift:// targets");
        } else if (strcmp(k, "max_errors") == 0) {
            char *end;
            double m = strtod(v, &end);
            if (!*v || *end || !(m >= 0) || m > 1e15)
                return sl_err_set(err, SL_ECONFIG,
                                  "max_errors must be a count or a fraction below 1, got \"%s\"", v);
        } else if (strcmp(k, "stage") == 0 || strcmp(k, "iam_role") == 0) {
            if (!redshift)
                return sl_err_set(err, SL_ECONFIG, "%s is for redshift:// targets", k);
        } else {
            return sl_err_set(err, SL_ECONFIG, "unknown write option \"%s\"", k);
        }
    }
    if (strcmp(mode, "merge") == 0 && empty(keys))
        return sl_err_set(err, SL_ECONFIG, "mode = \"merge\" needs keys = {...}");
    if (redshift && !opt_value(n, "stage"))
        return sl_err_set(err, SL_ECONFIG,
                          "a redshift:// target needs stage = \"s3://bucket/prefix/\" "
                          "(where the gzip'd CSV files and the manifest go)");
    return SL_OK;
}

static bool in_choices(const char *v, const char *choices)
{
    size_t len = strlen(v);
    for (const char *p = choices; *p;) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        if (n == len && memcmp(p, v, n) == 0)
            return true;
        p += n + (bar ? 1 : 0);
    }
    return false;
}

static int check_option(const struct sl_plan_kv *kv, struct sl_err *err)
{
    for (size_t i = 0; i < SL_ARRAY_LEN(source_opts); i++) {
        if (strcmp(kv->key, source_opts[i].key) != 0)
            continue;
        const char *v = kv->value;
        bool ok = true;
        const char *want = "";
        switch (source_opts[i].check) {
        case OPT_CHAR:
            ok = strlen(v) == 1;
            want = "one character";
            break;
        case OPT_CHAR_OR_EMPTY:
            ok = strlen(v) <= 1;
            want = "one character, or \"\" for none";
            break;
        case OPT_BOOL:
            ok = strcmp(v, "true") == 0 || strcmp(v, "false") == 0;
            want = "true or false";
            break;
        case OPT_COUNT: {
            char *end;
            long n = strtol(v, &end, 10);
            ok = *v && !*end && n >= 0 && n <= 1000000;
            want = "a whole number from 0";
            break;
        }
        case OPT_ENUM:
            ok = in_choices(v, source_opts[i].choices);
            want = source_opts[i].choices;
            break;
        case OPT_ANY: break;
        }
        if (!ok)
            return sl_err_set(err, SL_ECONFIG, "option \"%s\" must be %s, got \"%.64s\"", kv->key,
                              want, v);
        return SL_OK;
    }
    return sl_err_set(err, SL_ECONFIG,
                      "unknown option \"%.64s\" (known: comment, delimiter, escape, header, "
                      "json_layout, multiline, null_value, quote, skip_lines, trailing_delimiter, trim)",
                      kv->key);
}

/* A catalog type name as the crawler writes them: the scalar names, or
 * decimal(p,s) / varchar(n) / char(n) / array<...> / map<...> / struct<...>. */
static bool is_type_name(const char *t)
{
    static const char *const scalars[] = {
        "bigint",  "int",     "integer", "smallint", "tinyint", "double", "float",     "real",
        "decimal", "boolean", "string",  "varchar",  "char",    "date",   "timestamp", "binary",
    };
    static const struct {
        const char *prefix;
        char close;
    } params[] = {
        {"decimal(", ')'}, {"varchar(", ')'}, {"char(", ')'},      {"array<", '>'},
        {"map<", '>'},     {"struct<", '>'},  {"uniontype<", '>'},
    };
    size_t len = strlen(t);
    for (size_t i = 0; i < SL_ARRAY_LEN(scalars); i++)
        if (strcasecmp(t, scalars[i]) == 0)
            return true;
    for (size_t i = 0; i < SL_ARRAY_LEN(params); i++) {
        size_t n = strlen(params[i].prefix);
        if (len > n + 1 && strncasecmp(t, params[i].prefix, n) == 0 &&
            t[len - 1] == params[i].close)
            return true;
    }
    return false;
}

/* ---- Column lists ---- */

static void free_strs(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sl_free(v[i]);
    sl_free(v);
}

static bool has_name(char *const *v, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], name) == 0)
            return true;
    return false;
}

/* "a, b, c" (truncated) for messages. */
static void list_names(char *const *v, size_t n, char *out, size_t out_len)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && used + 1 < out_len; i++) {
        int w = snprintf(out + used, out_len - used, "%s%s", i ? ", " : "", v[i]);
        if (w < 0)
            break;
        used += (size_t)w;
    }
    if (used >= out_len && out_len > 4)
        memcpy(out + out_len - 4, "...", 4);
}

/* SL_ECONFIG unless name is a column of node in (when its columns are known). */
static int need_column(const struct sl_plan_node *in, const char *name, const char *side,
                       struct sl_err *err)
{
    if (!in->out_known || has_name(in->out, in->n_out, name))
        return SL_OK;
    char cols[200];
    list_names(in->out, in->n_out, cols, sizeof cols);
    return sl_err_set(err, SL_ECONFIG, "unknown column \"%s\"%s (columns: %s)", name, side, cols);
}

static int need_columns(const struct sl_plan_node *in, char *const *v, size_t n, struct sl_err *err)
{
    for (size_t i = 0; i < n; i++) {
        if (need_column(in, v[i], "", err) != SL_OK)
            return err->code;
        for (size_t j = 0; j < i; j++)
            if (strcmp(v[i], v[j]) == 0)
                return sl_err_set(err, SL_ECONFIG, "column \"%s\" listed twice", v[i]);
    }
    return SL_OK;
}

static bool empty(const char *s)
{
    return !s || !*s;
}

/* ---- Checks ---- */

static int check_fn(const struct sl_plan_fn *f, int n_fns, const char *what, struct sl_err *err)
{
    if (f->slot < 0 || (n_fns >= 0 && f->slot >= n_fns))
        return sl_err_set(err, SL_ECONFIG, "%s: no such function slot %d", what, f->slot);
    return SL_OK;
}

/* Checks n as node idx of p (nodes before idx exist and have their output
 * columns). n_fns < 0 skips the slot range check (nodes added while main runs). */
static int check_node(const struct sl_plan *p, size_t idx, const struct sl_plan_node *n, int n_fns,
                      struct sl_err *err)
{
    bool source = n->kind == SL_PLAN_SOURCE_PATH || n->kind == SL_PLAN_SOURCE_CATALOG;
    bool two = n->kind == SL_PLAN_JOIN || n->kind == SL_PLAN_UNION;

    if ((unsigned)n->kind >= SL_PLAN_KIND_COUNT)
        return sl_err_set(err, SL_ECONFIG, "unknown node kind %d", (int)n->kind);
    if (source ? n->input != -1 : (n->input < 0 || (size_t)n->input >= idx))
        return sl_err_set(err, SL_ECONFIG, "input %d is not an earlier node", n->input);
    if (two ? (n->right < 0 || (size_t)n->right >= idx) : n->right != -1)
        return sl_err_set(err, SL_ECONFIG, "other input %d is not an earlier node", n->right);
    if (!source && p->nodes[n->input].kind == SL_PLAN_WRITE)
        return sl_err_set(err, SL_ECONFIG, "the input is a write, not a dataset");
    const struct sl_plan_node *in = source ? NULL : &p->nodes[n->input];
    const struct sl_plan_node *rt = two ? &p->nodes[n->right] : NULL;
    if (rt && rt->kind == SL_PLAN_WRITE)
        return sl_err_set(err, SL_ECONFIG, "the other input is a write, not a dataset");

    switch (n->kind) {
    case SL_PLAN_SOURCE_PATH:
        if (empty(n->uri))
            return sl_err_set(err, SL_ECONFIG, "uri is required");
        if (empty(n->format) || !in_choices(n->format, "csv|tsv|json|jsonl"))
            return sl_err_set(err, SL_ECONFIG,
                              "format must be \"csv\", \"tsv\", \"json\" or \"jsonl\", got \"%s\"",
                              n->format ? n->format : "");
        for (size_t i = 0; i < n->n_options; i++) {
            if (check_option(&n->options[i], err) != SL_OK)
                return err->code;
            if (i && strcmp(n->options[i - 1].key, n->options[i].key) >= 0)
                return sl_err_set(err, SL_ECONFIG, "options not sorted or repeated at \"%s\"",
                                  n->options[i].key);
        }
        for (size_t i = 0; i < n->n_schema; i++) {
            if (empty(n->schema[i].key))
                return sl_err_set(err, SL_ECONFIG, "schema column %zu has no name", i + 1);
            if (empty(n->schema[i].value) || !is_type_name(n->schema[i].value))
                return sl_err_set(err, SL_ECONFIG,
                                  "schema column \"%s\": unknown type \"%s\" (bigint, double, "
                                  "string, boolean, date, timestamp, decimal(p,s), ...)",
                                  n->schema[i].key, n->schema[i].value ? n->schema[i].value : "");
            for (size_t j = 0; j < i; j++)
                if (strcmp(n->schema[i].key, n->schema[j].key) == 0)
                    return sl_err_set(err, SL_ECONFIG, "schema column \"%s\" declared twice",
                                      n->schema[i].key);
        }
        return SL_OK;
    case SL_PLAN_SOURCE_CATALOG:
        if (empty(n->database))
            return sl_err_set(err, SL_ECONFIG, "database is required");
        if (empty(n->table))
            return sl_err_set(err, SL_ECONFIG, "table is required");
        return SL_OK;
    case SL_PLAN_FILTER:
    case SL_PLAN_MAP:
    case SL_PLAN_FLAT_MAP: return check_fn(&n->fn, n_fns, "function", err);
    case SL_PLAN_SELECT:
    case SL_PLAN_DROP:
        if (n->n_columns == 0)
            return sl_err_set(err, SL_ECONFIG, "at least one column is required");
        if (need_columns(in, n->columns, n->n_columns, err) != SL_OK)
            return err->code;
        if (n->kind == SL_PLAN_DROP && in->out_known && n->n_columns == in->n_out)
            return sl_err_set(err, SL_ECONFIG, "cannot drop every column");
        return SL_OK;
    case SL_PLAN_DISTINCT: return need_columns(in, n->columns, n->n_columns, err);
    case SL_PLAN_RENAME:
        if (n->n_pairs == 0)
            return sl_err_set(err, SL_ECONFIG, "at least one column to rename is required");
        for (size_t i = 0; i < n->n_pairs; i++) {
            const struct sl_plan_kv *kv = &n->pairs[i];
            if (empty(kv->key) || empty(kv->value))
                return sl_err_set(err, SL_ECONFIG, "column names must not be empty");
            if (need_column(in, kv->key, "", err) != SL_OK)
                return err->code;
            for (size_t j = 0; j < i; j++) {
                if (strcmp(n->pairs[j].key, kv->key) == 0)
                    return sl_err_set(err, SL_ECONFIG, "column \"%s\" renamed twice", kv->key);
                if (strcmp(n->pairs[j].value, kv->value) == 0)
                    return sl_err_set(err, SL_ECONFIG, "two columns renamed to \"%s\"", kv->value);
            }
            if (in->out_known && has_name(in->out, in->n_out, kv->value)) {
                bool moved = false; /* the existing column is renamed away too */
                for (size_t j = 0; j < n->n_pairs; j++)
                    moved |= strcmp(n->pairs[j].key, kv->value) == 0;
                if (!moved)
                    return sl_err_set(err, SL_ECONFIG,
                                      "cannot rename \"%s\" to \"%s\": that column exists", kv->key,
                                      kv->value);
            }
        }
        return SL_OK;
    case SL_PLAN_APPLY_MAPPING:
        if (n->n_mappings == 0)
            return sl_err_set(err, SL_ECONFIG, "at least one mapping is required");
        for (size_t i = 0; i < n->n_mappings; i++) {
            const struct sl_plan_mapping *m = &n->mappings[i];
            if (empty(m->source) || empty(m->target))
                return sl_err_set(err, SL_ECONFIG, "mapping %zu: column names must not be empty",
                                  i + 1);
            if (empty(m->type) || !is_type_name(m->type))
                return sl_err_set(err, SL_ECONFIG,
                                  "mapping %zu: unknown type \"%s\" (bigint, double, string, "
                                  "boolean, date, timestamp, decimal(p,s), ...)",
                                  i + 1, m->type ? m->type : "");
            if (need_column(in, m->source, "", err) != SL_OK)
                return sl_err_prefix(err, "mapping %zu", i + 1);
            for (size_t j = 0; j < i; j++)
                if (strcmp(n->mappings[j].target, m->target) == 0)
                    return sl_err_set(err, SL_ECONFIG, "two mappings to column \"%s\"", m->target);
        }
        return SL_OK;
    case SL_PLAN_GROUP_AGG:
        if (need_columns(in, n->columns, n->n_columns, err) != SL_OK)
            return sl_err_prefix(err, "group_by");
        if (n->n_aggs == 0)
            return sl_err_set(err, SL_ECONFIG, "at least one aggregation is required");
        for (size_t i = 0; i < n->n_aggs; i++) {
            const struct sl_plan_agg *a = &n->aggs[i];
            if (empty(a->name))
                return sl_err_set(err, SL_ECONFIG, "an aggregation has no output name");
            if ((unsigned)a->kind > SL_AGG_LAST) /* SL_AGG_LAST is the last kind */
                return sl_err_set(err, SL_ECONFIG, "\"%s\": unknown aggregation %d", a->name,
                                  (int)a->kind);
            if (!a->column && a->kind != SL_AGG_COUNT)
                return sl_err_set(err, SL_ECONFIG, "\"%s\": %s needs a column", a->name,
                                  sl_agg_name(a->kind));
            if (a->column && need_column(in, a->column, "", err) != SL_OK)
                return sl_err_prefix(err, "\"%s\" = %s(\"%s\")", a->name, sl_agg_name(a->kind),
                                     a->column);
            if (has_name(n->columns, n->n_columns, a->name))
                return sl_err_set(err, SL_ECONFIG, "output \"%s\" is also a group key", a->name);
            if (i && strcmp(n->aggs[i - 1].name, a->name) >= 0)
                return sl_err_set(err, SL_ECONFIG, "aggregations not sorted or repeated at \"%s\"",
                                  a->name);
        }
        return SL_OK;
    case SL_PLAN_JOIN:
        if (n->how != SL_PLAN_JOIN_INNER && n->how != SL_PLAN_JOIN_LEFT)
            return sl_err_set(err, SL_ECONFIG, "how must be \"inner\" or \"left\"");
        if (n->n_pairs == 0)
            return sl_err_set(err, SL_ECONFIG,
                              "join keys are required (on = \"id\" or "
                              "on = {{\"left\", \"right\"}})");
        for (size_t i = 0; i < n->n_pairs; i++) {
            if (empty(n->pairs[i].key) || empty(n->pairs[i].value))
                return sl_err_set(err, SL_ECONFIG, "join key names must not be empty");
            if (need_column(in, n->pairs[i].key, " on the left side", err) != SL_OK ||
                need_column(rt, n->pairs[i].value, " on the right side", err) != SL_OK)
                return err->code;
        }
        if (in->out_known && rt->out_known) {
            for (size_t i = 0; i < rt->n_out; i++) {
                const char *c = rt->out[i];
                bool same_key = false;
                for (size_t k = 0; k < n->n_pairs; k++)
                    if (strcmp(n->pairs[k].key, c) == 0 && strcmp(n->pairs[k].value, c) == 0)
                        same_key = true;
                if (!same_key && has_name(in->out, in->n_out, c))
                    return sl_err_set(err, SL_ECONFIG,
                                      "column \"%s\" is on both sides: rename one side first", c);
            }
        }
        return SL_OK;
    case SL_PLAN_UNION:
        if (in->out_known && rt->out_known) {
            bool same = in->n_out == rt->n_out;
            for (size_t i = 0; same && i < rt->n_out; i++)
                same = has_name(in->out, in->n_out, rt->out[i]);
            if (!same) {
                char a[160], b[160];
                list_names(in->out, in->n_out, a, sizeof a);
                list_names(rt->out, rt->n_out, b, sizeof b);
                return sl_err_set(err, SL_ECONFIG,
                                  "both sides need the same columns (left: %s; right: %s)", a, b);
            }
        }
        return SL_OK;
    case SL_PLAN_SORT:
        if (n->n_sort_keys == 0)
            return sl_err_set(err, SL_ECONFIG, "at least one sort column is required");
        for (size_t i = 0; i < n->n_sort_keys; i++) {
            if (empty(n->sort_keys[i].column))
                return sl_err_set(err, SL_ECONFIG, "sort column names must not be empty");
            if (need_column(in, n->sort_keys[i].column, "", err) != SL_OK)
                return err->code;
        }
        return SL_OK;
    case SL_PLAN_LIMIT:
        if (n->limit < 0)
            return sl_err_set(err, SL_ECONFIG, "limit must be 0 or more, got %" PRId64, n->limit);
        return SL_OK;
    case SL_PLAN_MAPREDUCE:
        if (check_fn(&n->fn, n_fns, "map", err) != SL_OK ||
            check_fn(&n->reduce, n_fns, "reduce", err) != SL_OK ||
            (n->combine.slot != -1 && check_fn(&n->combine, n_fns, "combine", err) != SL_OK))
            return err->code;
        if (n->partitions < 0 || n->partitions > SL_PLAN_MAX_PARTITIONS)
            return sl_err_set(err, SL_ECONFIG, "partitions must be from 1 to %d",
                              SL_PLAN_MAX_PARTITIONS);
        if (n->n_columns != 2 || empty(n->columns[0]) || empty(n->columns[1]) ||
            strcmp(n->columns[0], n->columns[1]) == 0)
            return sl_err_set(err, SL_ECONFIG, "columns must be two different names (key, value)");
        return SL_OK;
    case SL_PLAN_WRITE:
        if (empty(n->uri))
            return sl_err_set(err, SL_ECONFIG, "\"to\" is required (a path or an s3:// URI)");
        if (sl_pgload_is_target(n->uri))
            return check_db_write(n, err);
        if (n->n_options > 0)
            return sl_err_set(err, SL_ECONFIG,
                              "\"%s\" is for database targets (postgres:..., redshift://...)",
                              n->options[0].key);
        if (empty(n->format) || !in_choices(n->format, "csv|json"))
            return sl_err_set(err, SL_ECONFIG, "format must be \"csv\" or \"json\", got \"%s\"",
                              n->format ? n->format : "");
        if (empty(n->compression) || !in_choices(n->compression, "gzip|zstd|none"))
            return sl_err_set(err, SL_ECONFIG,
                              "compression must be \"gzip\", \"zstd\" or \"none\", got \"%s\"",
                              n->compression ? n->compression : "");
        if (need_columns(in, n->columns, n->n_columns, err) != SL_OK)
            return sl_err_prefix(err, "partition_keys");
        if (in->out_known && n->n_columns > 0 && n->n_columns == in->n_out)
            return sl_err_set(err, SL_ECONFIG,
                              "partition_keys cannot be every column: no data would be left");
        return SL_OK;
    }
    return sl_err_set(err, SL_EINTERNAL, "unhandled node kind");
}

/* ---- Output columns ---- */

/* Appends a copy of name to out (room for it was reserved). */
static int put(char **out, size_t *n, const char *name)
{
    out[*n] = sl_strdup(name);
    if (!out[*n])
        return SL_ENOMEM;
    (*n)++;
    return SL_OK;
}

/* Fills n->out / n_out / out_known from its inputs. SL_ENOMEM only. */
static int compute_out(const struct sl_plan *p, struct sl_plan_node *n)
{
    const struct sl_plan_node *in = n->input >= 0 ? &p->nodes[n->input] : NULL;
    const struct sl_plan_node *rt = n->right >= 0 ? &p->nodes[n->right] : NULL;
    size_t cap = 0;
    char **out = NULL;
    size_t n_out = 0;

    n->out_known = false;
    switch (n->kind) {
    case SL_PLAN_SOURCE_PATH:
        if (n->n_schema == 0)
            return SL_OK;
        cap = n->n_schema;
        break;
    case SL_PLAN_SOURCE_CATALOG: /* resolved by the executor from the catalog */
    case SL_PLAN_MAP:
    case SL_PLAN_FLAT_MAP:
    case SL_PLAN_WRITE: return SL_OK;
    case SL_PLAN_MAPREDUCE: cap = 2; break;
    case SL_PLAN_SELECT: cap = n->n_columns; break;
    case SL_PLAN_APPLY_MAPPING: cap = n->n_mappings; break;
    case SL_PLAN_GROUP_AGG: cap = n->n_columns + n->n_aggs; break;
    case SL_PLAN_JOIN:
        if (!in->out_known || !rt->out_known)
            return SL_OK;
        cap = in->n_out + rt->n_out;
        break;
    default: /* filter, drop, rename, distinct, union, sort, limit: from the input */
        if (!in->out_known)
            return SL_OK;
        cap = in->n_out;
        break;
    }
    out = sl_calloc(cap ? cap : 1, sizeof *out);
    if (!out)
        return SL_ENOMEM;
    int rc = SL_OK;
    switch (n->kind) {
    case SL_PLAN_SOURCE_PATH:
        for (size_t i = 0; rc == SL_OK && i < n->n_schema; i++)
            rc = put(out, &n_out, n->schema[i].key);
        break;
    case SL_PLAN_MAPREDUCE:
    case SL_PLAN_SELECT:
        for (size_t i = 0; rc == SL_OK && i < n->n_columns; i++)
            rc = put(out, &n_out, n->columns[i]);
        break;
    case SL_PLAN_APPLY_MAPPING:
        for (size_t i = 0; rc == SL_OK && i < n->n_mappings; i++)
            rc = put(out, &n_out, n->mappings[i].target);
        break;
    case SL_PLAN_GROUP_AGG:
        for (size_t i = 0; rc == SL_OK && i < n->n_columns; i++)
            rc = put(out, &n_out, n->columns[i]);
        for (size_t i = 0; rc == SL_OK && i < n->n_aggs; i++)
            rc = put(out, &n_out, n->aggs[i].name);
        break;
    case SL_PLAN_DROP:
        for (size_t i = 0; rc == SL_OK && i < in->n_out; i++)
            if (!has_name(n->columns, n->n_columns, in->out[i]))
                rc = put(out, &n_out, in->out[i]);
        break;
    case SL_PLAN_RENAME:
        for (size_t i = 0; rc == SL_OK && i < in->n_out; i++) {
            const char *name = in->out[i];
            for (size_t k = 0; k < n->n_pairs; k++)
                if (strcmp(n->pairs[k].key, name) == 0)
                    name = n->pairs[k].value;
            rc = put(out, &n_out, name);
        }
        break;
    case SL_PLAN_JOIN:
        for (size_t i = 0; rc == SL_OK && i < in->n_out; i++)
            rc = put(out, &n_out, in->out[i]);
        for (size_t i = 0; rc == SL_OK && i < rt->n_out; i++)
            if (!has_name(out, n_out, rt->out[i]))
                rc = put(out, &n_out, rt->out[i]);
        break;
    default:
        for (size_t i = 0; rc == SL_OK && i < in->n_out; i++)
            rc = put(out, &n_out, in->out[i]);
        break;
    }
    if (rc != SL_OK) {
        free_strs(out, n_out);
        return rc;
    }
    n->out = out;
    n->n_out = n_out;
    n->out_known = true;
    return SL_OK;
}

/* ---- Plan ---- */

struct sl_plan *sl_plan_new(void)
{
    return sl_calloc(1, sizeof(struct sl_plan));
}

void sl_plan_node_cleanup(struct sl_plan_node *n)
{
    if (!n)
        return;
    sl_free(n->uri);
    sl_free(n->format);
    sl_free(n->compression);
    for (size_t i = 0; i < n->n_options; i++) {
        sl_free(n->options[i].key);
        sl_free(n->options[i].value);
    }
    sl_free(n->options);
    for (size_t i = 0; i < n->n_schema; i++) {
        sl_free(n->schema[i].key);
        sl_free(n->schema[i].value);
    }
    sl_free(n->schema);
    sl_free(n->database);
    sl_free(n->table);
    sl_free(n->predicate);
    free_strs(n->columns, n->n_columns);
    for (size_t i = 0; i < n->n_pairs; i++) {
        sl_free(n->pairs[i].key);
        sl_free(n->pairs[i].value);
    }
    sl_free(n->pairs);
    for (size_t i = 0; i < n->n_mappings; i++) {
        sl_free(n->mappings[i].source);
        sl_free(n->mappings[i].target);
        sl_free(n->mappings[i].type);
    }
    sl_free(n->mappings);
    for (size_t i = 0; i < n->n_aggs; i++) {
        sl_free(n->aggs[i].name);
        sl_free(n->aggs[i].column);
    }
    sl_free(n->aggs);
    for (size_t i = 0; i < n->n_sort_keys; i++)
        sl_free(n->sort_keys[i].column);
    sl_free(n->sort_keys);
    free_strs(n->out, n->n_out);
    memset(n, 0, sizeof *n);
}

void sl_plan_free(struct sl_plan *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n_nodes; i++)
        sl_plan_node_cleanup(&p->nodes[i]);
    sl_free(p->nodes);
    sl_free(p);
}

int sl_plan_add_take(struct sl_plan *p, struct sl_plan_node *n, int *index, struct sl_err *err)
{
    int rc;

    if (p->frozen) {
        rc = sl_err_set(err, SL_ECONFIG,
                        "the plan is frozen: datasets can only be built while "
                        "main(ctx) runs");
        goto fail;
    }
    if (p->n_nodes >= SL_PLAN_MAX_NODES) {
        rc = sl_err_set(err, SL_ELIMIT, "more than %d datasets in one plan", SL_PLAN_MAX_NODES);
        goto fail;
    }
    free_strs(n->out, n->n_out); /* computed here, never trusted from the caller */
    n->out = NULL;
    n->n_out = 0;
    rc = check_node(p, p->n_nodes, n, -1, err);
    if (rc != SL_OK)
        goto fail;
    if (p->n_nodes == p->cap_nodes) {
        size_t cap = p->cap_nodes ? p->cap_nodes * 2 : 16;
        struct sl_plan_node *v = sl_realloc(p->nodes, cap * sizeof *v);
        if (!v)
            goto nomem;
        p->nodes = v;
        p->cap_nodes = cap;
    }
    if (compute_out(p, n) != SL_OK)
        goto nomem;
    p->nodes[p->n_nodes] = *n;
    memset(n, 0, sizeof *n);
    if (index)
        *index = (int)p->n_nodes;
    p->n_nodes++;
    return SL_OK;
nomem:
    rc = sl_err_set(err, SL_ENOMEM, "plan: out of memory");
fail:
    sl_plan_node_cleanup(n);
    return rc;
}

int sl_plan_validate(const struct sl_plan *p, struct sl_err *err)
{
    bool has_write = false;

    for (size_t i = 0; i < p->n_nodes; i++) {
        const struct sl_plan_node *n = &p->nodes[i];
        if (check_node(p, i, n, p->n_fns, err) != SL_OK)
            return sl_err_prefix(err, "node %zu (%s)", i, sl_plan_kind_name(n->kind));
        has_write |= n->kind == SL_PLAN_WRITE;
    }
    if (!has_write)
        return sl_err_set(err, SL_ECONFIG,
                          "the plan writes nothing: main(ctx) must call write{...} on a dataset");
    return SL_OK;
}

int sl_plan_freeze(struct sl_plan *p, struct sl_err *err)
{
    int rc = sl_plan_validate(p, err);
    if (rc == SL_OK)
        p->frozen = true;
    return rc;
}

/* ---- Equality ---- */

struct diff {
    char *why;
    size_t why_len;
    size_t node;
};

static bool differ(struct diff *d, const char *fmt, ...) SL_PRINTF(2, 3);
static bool differ(struct diff *d, const char *fmt, ...)
{
    if (d->why && d->why_len) {
        char what[256];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(what, sizeof what, fmt, ap);
        va_end(ap);
        snprintf(d->why, d->why_len, "node %zu: %s", d->node, what);
    }
    return false;
}

static bool str_eq(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool eq_str(struct diff *d, const char *what, const char *a, const char *b)
{
    if (str_eq(a, b))
        return true;
    return differ(d, "%s \"%s\" vs \"%s\"", what, a ? a : "(none)", b ? b : "(none)");
}

static bool eq_strs(struct diff *d, const char *what, char *const *a, size_t na, char *const *b,
                    size_t nb)
{
    if (na != nb)
        return differ(d, "%zu vs %zu %s", na, nb, what);
    for (size_t i = 0; i < na; i++)
        if (!str_eq(a[i], b[i]))
            return differ(d, "%s %zu \"%s\" vs \"%s\"", what, i + 1, a[i], b[i]);
    return true;
}

static bool eq_kvs(struct diff *d, const char *what, const struct sl_plan_kv *a, size_t na,
                   const struct sl_plan_kv *b, size_t nb)
{
    if (na != nb)
        return differ(d, "%zu vs %zu %s", na, nb, what);
    for (size_t i = 0; i < na; i++)
        if (!str_eq(a[i].key, b[i].key) || !str_eq(a[i].value, b[i].value))
            return differ(d, "%s %zu (%s, %s) vs (%s, %s)", what, i + 1, a[i].key, a[i].value,
                          b[i].key, b[i].value);
    return true;
}

static bool eq_fn(struct diff *d, const char *what, const struct sl_plan_fn *a,
                  const struct sl_plan_fn *b)
{
    if (a->slot != b->slot)
        return differ(d, "%s function slot %d vs %d", what, a->slot, b->slot);
    if (a->line != b->line)
        return differ(d, "%s function defined at line %d vs %d", what, a->line, b->line);
    if (a->fingerprint != b->fingerprint)
        return differ(d, "%s function (line %d) captured different upvalue values", what, a->line);
    return true;
}

static bool node_equal(struct diff *d, const struct sl_plan_node *a, const struct sl_plan_node *b)
{
    if (a->kind != b->kind)
        return differ(d, "%s vs %s", sl_plan_kind_name(a->kind), sl_plan_kind_name(b->kind));
    if (a->input != b->input)
        return differ(d, "input %d vs %d", a->input, b->input);
    if (a->right != b->right)
        return differ(d, "other input %d vs %d", a->right, b->right);
    if (!eq_str(d, "uri", a->uri, b->uri) || !eq_str(d, "format", a->format, b->format) ||
        !eq_str(d, "compression", a->compression, b->compression) ||
        !eq_kvs(d, "options", a->options, a->n_options, b->options, b->n_options) ||
        !eq_kvs(d, "schema", a->schema, a->n_schema, b->schema, b->n_schema) ||
        !eq_str(d, "database", a->database, b->database) ||
        !eq_str(d, "table", a->table, b->table) ||
        !eq_str(d, "push_down_predicate", a->predicate, b->predicate))
        return false;
    bool has_fn = a->kind == SL_PLAN_FILTER || a->kind == SL_PLAN_MAP ||
                  a->kind == SL_PLAN_FLAT_MAP || a->kind == SL_PLAN_MAPREDUCE;
    if (has_fn && !eq_fn(d, a->kind == SL_PLAN_MAPREDUCE ? "map" : "row", &a->fn, &b->fn))
        return false;
    if (a->kind == SL_PLAN_MAPREDUCE && (!eq_fn(d, "combine", &a->combine, &b->combine) ||
                                         !eq_fn(d, "reduce", &a->reduce, &b->reduce)))
        return false;
    if (a->partitions != b->partitions)
        return differ(d, "partitions %d vs %d", a->partitions, b->partitions);
    if (!eq_strs(d, "column", a->columns, a->n_columns, b->columns, b->n_columns) ||
        !eq_kvs(d, "pair", a->pairs, a->n_pairs, b->pairs, b->n_pairs))
        return false;
    if (a->how != b->how)
        return differ(d, "join how differs");
    if (a->n_mappings != b->n_mappings)
        return differ(d, "%zu vs %zu mappings", a->n_mappings, b->n_mappings);
    for (size_t i = 0; i < a->n_mappings; i++) {
        const struct sl_plan_mapping *x = &a->mappings[i], *y = &b->mappings[i];
        if (!str_eq(x->source, y->source) || !str_eq(x->target, y->target) ||
            !str_eq(x->type, y->type))
            return differ(d, "mapping %zu (%s, %s, %s) vs (%s, %s, %s)", i + 1, x->source,
                          x->target, x->type, y->source, y->target, y->type);
    }
    if (a->n_aggs != b->n_aggs)
        return differ(d, "%zu vs %zu aggregations", a->n_aggs, b->n_aggs);
    for (size_t i = 0; i < a->n_aggs; i++) {
        const struct sl_plan_agg *x = &a->aggs[i], *y = &b->aggs[i];
        if (!str_eq(x->name, y->name) || x->kind != y->kind || !str_eq(x->column, y->column))
            return differ(d, "aggregation %s = %s(%s) vs %s = %s(%s)", x->name,
                          sl_agg_name(x->kind), x->column ? x->column : "", y->name,
                          sl_agg_name(y->kind), y->column ? y->column : "");
    }
    if (a->n_sort_keys != b->n_sort_keys)
        return differ(d, "%zu vs %zu sort keys", a->n_sort_keys, b->n_sort_keys);
    for (size_t i = 0; i < a->n_sort_keys; i++)
        if (!str_eq(a->sort_keys[i].column, b->sort_keys[i].column) ||
            a->sort_keys[i].desc != b->sort_keys[i].desc)
            return differ(d, "sort key %zu differs", i + 1);
    if (a->limit != b->limit)
        return differ(d, "limit %" PRId64 " vs %" PRId64, a->limit, b->limit);
    return true;
}

bool sl_plan_equal(const struct sl_plan *a, const struct sl_plan *b, char *why, size_t why_len)
{
    struct diff d = {why, why_len, 0};
    size_t n = a->n_nodes < b->n_nodes ? a->n_nodes : b->n_nodes;

    if (why && why_len)
        why[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        d.node = i;
        if (!node_equal(&d, &a->nodes[i], &b->nodes[i]))
            return false;
    }
    if (a->n_nodes != b->n_nodes) {
        d.node = n;
        if (a->n_nodes > n)
            return differ(&d, "%s vs no node", sl_plan_kind_name(a->nodes[n].kind));
        return differ(&d, "no node vs %s", sl_plan_kind_name(b->nodes[n].kind));
    }
    if (a->n_fns != b->n_fns) {
        if (why && why_len)
            snprintf(why, why_len, "%d vs %d functions", a->n_fns, b->n_fns);
        return false;
    }
    return true;
}

int sl_plan_check_same(const struct sl_plan *planner, const struct sl_plan *worker, int worker_id,
                       struct sl_err *err)
{
    char why[300];
    if (sl_plan_equal(planner, worker, why, sizeof why))
        return SL_OK;
    return sl_err_set(err, SL_ESCRIPT,
                      "main(ctx) built a different plan in worker %d (%s): main must be "
                      "deterministic",
                      worker_id, why);
}

/* ---- JSON ---- */

static void j_str(struct sl_buf *b, const char *s, struct sl_err *e)
{
    if (!s) {
        sl_buf_puts(b, "null", e);
        return;
    }
    sl_buf_putc(b, '"', e);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        switch (c) {
        case '"': sl_buf_puts(b, "\\\"", e); break;
        case '\\': sl_buf_puts(b, "\\\\", e); break;
        case '\n': sl_buf_puts(b, "\\n", e); break;
        case '\t': sl_buf_puts(b, "\\t", e); break;
        default:
            if (c < 0x20)
                sl_buf_printf(b, e, "\\u%04x", c);
            else
                sl_buf_putc(b, (char)c, e);
        }
    }
    sl_buf_putc(b, '"', e);
}

static void j_key(struct sl_buf *b, const char *key, struct sl_err *e)
{
    sl_buf_putc(b, ',', e);
    j_str(b, key, e);
    sl_buf_putc(b, ':', e);
}

static void j_field(struct sl_buf *b, const char *key, const char *val, struct sl_err *e)
{
    j_key(b, key, e);
    j_str(b, val, e);
}

static void j_strs(struct sl_buf *b, const char *key, char *const *v, size_t n, struct sl_err *e)
{
    j_key(b, key, e);
    sl_buf_putc(b, '[', e);
    for (size_t i = 0; i < n; i++) {
        if (i)
            sl_buf_putc(b, ',', e);
        j_str(b, v[i], e);
    }
    sl_buf_putc(b, ']', e);
}

/* {"k":"v",...} when as_object, else [["k","v"],...] */
static void j_kvs(struct sl_buf *b, const char *key, const struct sl_plan_kv *v, size_t n,
                  bool as_object, struct sl_err *e)
{
    j_key(b, key, e);
    sl_buf_putc(b, as_object ? '{' : '[', e);
    for (size_t i = 0; i < n; i++) {
        if (i)
            sl_buf_putc(b, ',', e);
        if (!as_object)
            sl_buf_putc(b, '[', e);
        j_str(b, v[i].key, e);
        sl_buf_putc(b, as_object ? ':' : ',', e);
        j_str(b, v[i].value, e);
        if (!as_object)
            sl_buf_putc(b, ']', e);
    }
    sl_buf_putc(b, as_object ? '}' : ']', e);
}

static void j_fn(struct sl_buf *b, const char *key, const struct sl_plan_fn *f, struct sl_err *e)
{
    j_key(b, key, e);
    if (f->slot < 0) {
        sl_buf_puts(b, "null", e);
        return;
    }
    sl_buf_printf(b, e, "{\"slot\":%d,\"line\":%d}", f->slot, f->line);
}

static void j_node(struct sl_buf *b, size_t i, const struct sl_plan_node *n, struct sl_err *e)
{
    sl_buf_printf(b, e, "{\"id\":%zu,\"kind\":\"%s\"", i, sl_plan_kind_name(n->kind));
    if (n->line > 0)
        sl_buf_printf(b, e, ",\"line\":%d", n->line);
    if (n->input >= 0)
        sl_buf_printf(b, e, ",\"input\":%d", n->input);
    switch (n->kind) {
    case SL_PLAN_SOURCE_PATH:
        j_field(b, "uri", n->uri, e);
        j_field(b, "format", n->format, e);
        j_kvs(b, "options", n->options, n->n_options, true, e);
        if (n->n_schema)
            j_kvs(b, "schema", n->schema, n->n_schema, false, e);
        break;
    case SL_PLAN_SOURCE_CATALOG:
        j_field(b, "database", n->database, e);
        j_field(b, "table", n->table, e);
        if (n->predicate)
            j_field(b, "push_down_predicate", n->predicate, e);
        break;
    case SL_PLAN_FILTER:
    case SL_PLAN_MAP:
    case SL_PLAN_FLAT_MAP: j_fn(b, "fn", &n->fn, e); break;
    case SL_PLAN_SELECT:
    case SL_PLAN_DROP: j_strs(b, "columns", n->columns, n->n_columns, e); break;
    case SL_PLAN_DISTINCT:
        if (n->n_columns)
            j_strs(b, "columns", n->columns, n->n_columns, e);
        break;
    case SL_PLAN_RENAME: j_kvs(b, "rename", n->pairs, n->n_pairs, true, e); break;
    case SL_PLAN_APPLY_MAPPING:
        j_key(b, "mappings", e);
        sl_buf_putc(b, '[', e);
        for (size_t k = 0; k < n->n_mappings; k++) {
            sl_buf_puts(b, k ? ",[" : "[", e);
            j_str(b, n->mappings[k].source, e);
            sl_buf_putc(b, ',', e);
            j_str(b, n->mappings[k].target, e);
            sl_buf_putc(b, ',', e);
            j_str(b, n->mappings[k].type, e);
            sl_buf_putc(b, ']', e);
        }
        sl_buf_putc(b, ']', e);
        break;
    case SL_PLAN_GROUP_AGG:
        j_strs(b, "keys", n->columns, n->n_columns, e);
        j_key(b, "aggs", e);
        sl_buf_putc(b, '[', e);
        for (size_t k = 0; k < n->n_aggs; k++) {
            sl_buf_puts(b, k ? ",{" : "{", e);
            sl_buf_puts(b, "\"name\":", e);
            j_str(b, n->aggs[k].name, e);
            sl_buf_printf(b, e, ",\"agg\":\"%s\"", sl_agg_name(n->aggs[k].kind));
            if (n->aggs[k].column)
                j_field(b, "column", n->aggs[k].column, e);
            sl_buf_putc(b, '}', e);
        }
        sl_buf_putc(b, ']', e);
        break;
    case SL_PLAN_JOIN:
        sl_buf_printf(b, e, ",\"right\":%d,\"how\":\"%s\"", n->right,
                      n->how == SL_PLAN_JOIN_LEFT ? "left" : "inner");
        j_kvs(b, "on", n->pairs, n->n_pairs, false, e);
        break;
    case SL_PLAN_UNION: sl_buf_printf(b, e, ",\"right\":%d", n->right); break;
    case SL_PLAN_SORT:
        j_key(b, "by", e);
        sl_buf_putc(b, '[', e);
        for (size_t k = 0; k < n->n_sort_keys; k++) {
            sl_buf_puts(b, k ? ",[" : "[", e);
            j_str(b, n->sort_keys[k].column, e);
            sl_buf_puts(b, n->sort_keys[k].desc ? ",\"desc\"]" : ",\"asc\"]", e);
        }
        sl_buf_putc(b, ']', e);
        break;
    case SL_PLAN_LIMIT: sl_buf_printf(b, e, ",\"n\":%" PRId64, n->limit); break;
    case SL_PLAN_MAPREDUCE:
        j_fn(b, "map", &n->fn, e);
        j_fn(b, "combine", &n->combine, e);
        j_fn(b, "reduce", &n->reduce, e);
        sl_buf_printf(b, e, ",\"partitions\":%d", n->partitions);
        j_strs(b, "columns", n->columns, n->n_columns, e);
        break;
    case SL_PLAN_WRITE:
        j_field(b, "to", n->uri, e);
        j_field(b, "format", n->format, e);
        j_field(b, "compression", n->compression, e);
        if (n->n_columns)
            j_strs(b, "partition_keys", n->columns, n->n_columns, e);
        break;
    }
    if (n->out_known && n->kind != SL_PLAN_SOURCE_PATH)
        j_strs(b, "out", n->out, n->n_out, e);
    sl_buf_putc(b, '}', e);
}

char *sl_plan_to_json(const struct sl_plan *p)
{
    struct sl_buf b;
    struct sl_err e = {0};

    sl_buf_init(&b, 0);
    sl_buf_puts(&b, "{\"nodes\":[", &e);
    for (size_t i = 0; i < p->n_nodes; i++) {
        if (i)
            sl_buf_putc(&b, ',', &e);
        j_node(&b, i, &p->nodes[i], &e);
    }
    sl_buf_printf(&b, &e, "],\"functions\":%d}", p->n_fns);
    if (e.code != SL_OK) {
        sl_buf_cleanup(&b);
        return NULL;
    }
    return sl_buf_take(&b, NULL);
}
