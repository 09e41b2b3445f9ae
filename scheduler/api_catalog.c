/*
 * scheduler/api_catalog.c - the Glue Data Catalog operations of the HTTP API
 * (spec/aws-api.md §3.3): GetDatabases, GetDatabase, CreateDatabase,
 * DeleteDatabase, GetTables, GetTable, DeleteTable and GetPartitions (with its
 * Expression filter over partition keys). Each validates its request members
 * (§1.6: wrong JSON type -> SerializationException; missing, too short or too
 * long -> InvalidInputException), calls runtime/catalog.h and answers with the
 * shapes of runtime/catalog_json.h. Routing, auth and the response framing are
 * scheduler/http.c.
 *
 * Paging (§1.8): NextToken is the standard base64 of the last key returned (a
 * database or table name; for partitions the JSON array of its values), so
 * tokens only grow and never repeat. A handler asks the catalog for one item
 * more than the page and returns a token only when that item exists.
 *
 * GetPartitions Expression reuses the push_down_predicate parser
 * (runtime/predicate.h: the same grammar, = <> > < >= <= AND OR NOT IN
 * BETWEEN LIKE IS NULL and parentheses). Its typing differs from the API's
 * rule "compare numerically when both sides parse as integers" only in how a
 * key is typed, so each partition is evaluated with its keys typed by their
 * values: a key whose value is an integer is a bigint (its comparisons are
 * numeric; a string literal like '9' reads as a number), any other key is a
 * string (byte-wise). A comparison of an integer value with a non-numeric
 * literal is then unknown (false) where a pure string compare could hold,
 * e.g. hour <> 'x'; partition values of one key are almost always of one kind.
 * An empty value (how the crawler records Hive's __HIVE_DEFAULT_PARTITION__)
 * is SQL NULL, so "month IS NULL" finds it.
 */
#include <string.h>

#include "runtime/alloc.h"
#include "runtime/catalog_json.h"
#include "runtime/log.h"
#include "runtime/predicate.h"
#include "scheduler/api.h"

#define NAME_MAX_LEN     255  /* NameString: 1..255 chars (§3) */
#define DESC_MAX_LEN     2048 /* DatabaseInput.Description */
#define LOCATION_MAX_LEN 1024 /* DatabaseInput.LocationUri */
#define EXPR_MAX_LEN     2048 /* GetTables / GetPartitions Expression */
#define PAGE_DEFAULT     100  /* MaxResults when absent (§1.8) */
#define PARTS_PAGE_MAX   1000 /* GetPartitions MaxResults maximum */
#define LIST_PAGE_MAX    100  /* GetDatabases / GetTables MaxResults maximum */
#define SCAN_BATCH       500  /* partitions read per catalog query while filtering */
#define FILTER_CACHE     8    /* parsed key typings kept per request (one or two in practice) */

#define INVALID_INPUT "InvalidInputException"

/* ---- Databases ---- */

static int op_get_databases(struct sl_api_ctx *ctx, const json_t *in, json_t **out,
                            struct sl_api_error *e)
{
    long long limit;
    char *after = NULL;
    struct sl_catalog_database *dbs = NULL;
    size_t n = 0;
    struct sl_err err = {0};
    int rc = SL_ECONFIG;

    if (sl_api_get_page(in, LIST_PAGE_MAX, PAGE_DEFAULT, &limit, &after, e) != SL_OK)
        return SL_ECONFIG;
    struct sl_catalog *c = sl_api_catalog(ctx, e);
    if (!c)
        goto done;
    if (sl_catalog_database_list(c, after, (size_t)limit + 1, &dbs, &n, &err) != SL_OK) {
        sl_api_catalog_fail(ctx, "GetDatabases", &err, e);
        goto done;
    }
    int more = n > (size_t)limit;
    size_t n_page = more ? (size_t)limit : n;
    *out = sl_catalog_json_database_list_new(dbs, n_page);
    if (!*out) {
        sl_api_oom(e);
        goto done;
    }
    if (more && sl_api_set_next_token(*out, dbs[n_page - 1].name, e) != SL_OK)
        goto done;
    rc = SL_OK;
done:
    if (rc != SL_OK) {
        json_decref(*out);
        *out = NULL;
    }
    sl_catalog_database_list_free(dbs, n);
    sl_free(after);
    return rc;
}

static int op_get_database(struct sl_api_ctx *ctx, const json_t *in, json_t **out,
                           struct sl_api_error *e)
{
    const char *name;
    struct sl_catalog_database *d = NULL;
    struct sl_err err = {0};

    if (sl_api_get_string(in, "Name", 1, 1, NAME_MAX_LEN, 1, &name, e) != SL_OK)
        return SL_ECONFIG;
    struct sl_catalog *c = sl_api_catalog(ctx, e);
    if (!c)
        return SL_ECONFIG;
    if (sl_catalog_database_get(c, name, &d, &err) != SL_OK) {
        if (err.code == SL_ENOTFOUND)
            return sl_api_fail(e, 400, "EntityNotFoundException", "Database %s not found.", name);
        return sl_api_catalog_fail(ctx, "GetDatabase", &err, e);
    }
    *out = sl_catalog_json_get_database_new(d);
    sl_catalog_database_free(d);
    return *out ? SL_OK : sl_api_oom(e);
}

static int op_create_database(struct sl_api_ctx *ctx, const json_t *in, json_t **out,
                              struct sl_api_error *e)
{
    const json_t *input = json_object_get(in, "DatabaseInput");
    const char *name, *desc, *location;
    struct sl_catalog_database d = {0};
    struct sl_err err = {0};
    int rc = SL_ECONFIG;

    sl_catalog_params_init(&d.params);
    if (!input || json_is_null(input))
        return sl_api_fail(e, 400, INVALID_INPUT,
                           "1 validation error detected: Value null at 'databaseInput' failed "
                           "to satisfy constraint: Member must not be null");
    if (!json_is_object(input))
        return sl_api_fail_type(e, "DatabaseInput", "an object");
    if (sl_api_get_string(input, "Name", 1, 1, NAME_MAX_LEN, 1, &name, e) != SL_OK ||
        sl_api_get_string(input, "Description", 0, 0, DESC_MAX_LEN, 0, &desc, e) != SL_OK ||
        sl_api_get_string(input, "LocationUri", 0, 1, LOCATION_MAX_LEN, 0, &location, e) != SL_OK)
        return SL_ECONFIG;
    const json_t *params = json_object_get(input, "Parameters");
    if (params && !json_is_null(params)) {
        const char *k;
        const json_t *v;
        if (!json_is_object(params))
            return sl_api_fail_type(e, "Parameters", "an object");
        json_object_foreach((json_t *)params, k, v)
        {
            if (!json_is_string(v)) {
                sl_api_fail_type(e, "Parameters", "a map of strings");
                goto done;
            }
            if (sl_catalog_params_set(&d.params, k, json_string_value(v), &err) != SL_OK) {
                sl_api_oom(e);
                goto done;
            }
        }
    }
    d.name = (char *)name;
    d.description = (char *)desc;
    d.location_uri = (char *)location;
    struct sl_catalog *c = sl_api_catalog(ctx, e);
    if (!c)
        goto done;
    if (sl_catalog_database_create(c, &d, &err) != SL_OK) {
        if (err.code == SL_EEXIST)
            sl_api_fail(e, 400, "AlreadyExistsException", "Database already exists.");
        else
            sl_api_catalog_fail(ctx, "CreateDatabase", &err, e);
        goto done;
    }
    *out = json_object();
    rc = *out ? SL_OK : sl_api_oom(e);
done:
    sl_catalog_params_cleanup(&d.params);
    return rc;
}

/* Deletes the database with its tables, their versions, columns and
 * partitions: one DELETE whose cascade runs in one transaction (AWS does this
 * asynchronously). */
static int op_delete_database(struct sl_api_ctx *ctx, const json_t *in, json_t **out,
                              struct sl_api_error *e)
{
    const char *name;
    struct sl_err err = {0};

    if (sl_api_get_string(in, "Name", 1, 1, NAME_MAX_LEN, 1, &name, e) != SL_OK)
        return SL_ECONFIG;
    struct sl_catalog *c = sl_api_catalog(ctx, e);
    if (!c)
        return SL_ECONFIG;
    if (sl_catalog_database_delete(c, name, &err) != SL_OK) {
        if (err.code == SL_ENOTFOUND)
            return sl_api_fail(e, 400, "EntityNotFoundException", "Database %s not found.", name);
        return sl_api_catalog_fail(ctx, "DeleteDatabase", &err, e);
    }
    sl_log(SL_LOG_INFO, "[api req:%s] database \"%s\" deleted", sl_api_request_id(ctx), name);
    *out = json_object();
    return *out ? SL_OK : sl_api_oom(e);
}

/* ---- Tables ---- */

static int op_get_tables(struct sl_api_ctx *ctx, const json_t *in, json_t **out,
                         struct sl_api_error *e)
{
    const char *db, *expr;
    long long limit;
    char *after = NULL;
    struct sl_catalog_table *tables = NULL;
    size_t n = 0;
    struct sl_err err = {0};
    int rc = SL_ECONFIG;

    if (sl_api_get_string(in, "DatabaseName", 1, 1, NAME_MAX_LEN, 1, &db, e) != SL_OK ||
        sl_api_get_string(in, "Expression", 0, 0, EXPR_MAX_LEN, 0, &expr, e) != SL_OK ||
        sl_api_get_page(in, LIST_PAGE_MAX, PAGE_DEFAULT, &limit, &after, e) != SL_OK)
        return SL_ECONFIG;
    if (expr && !expr[0])
        expr = NULL;
    struct sl_catalog *c = sl_api_catalog(ctx, e);
    if (!c)
        goto done;
    if (sl_catalog_table_list(c, db, expr, after, (size_t)limit + 1, &tables, &n, &err) != SL_OK) {
        if (err.code == SL_ENOTFOUND)
            sl_api_fail(e, 400, "EntityNotFoundException", "Database %s not found.", db);
        else
            sl_api_catalog_fail(ctx, "GetTables", &err, e);
        goto done;
    }
    int more = n > (size_t)limit;
    size_t n_page = more ? (size_t)limit : n;
    *out = sl_catalog_json_table_list_new(tables, n_page);
    if (!*out) {
        sl_api_oom(e);
        goto done;
    }
    if (more && sl_api_set_next_token(*out, tables[n_page - 1].name, e) != SL_OK)
        goto done;
    rc = SL_OK;
done:
    if (rc != SL_OK) {
        json_decref(*out);
        *out = NULL;
    }
    sl_catalog_table_list_free(tables, n);
    sl_free(after);
    return rc;
}

/* *t = the table db.name, or an EntityNotFoundException naming what is missing. */
static int load_table(struct sl_api_ctx *ctx, const char *op, const char *db, const char *name,
                      struct sl_catalog_table **t, struct sl_api_error *e)
{
    struct sl_err err = {0};
    struct sl_catalog *c = sl_api_catalog(ctx, e);

    if (!c)
        return SL_ECONFIG;
    if (sl_catalog_table_get(c, db, name, t, &err) == SL_OK)
        return SL_OK;
    if (err.code != SL_ENOTFOUND)
        return sl_api_catalog_fail(ctx, op, &err, e);
    /* The catalog names what is missing: 'database "x" not found' or 'table "x.y" ...'. */
    if (strncmp(err.msg, "database", 8) == 0)
        return sl_api_fail(e, 400, "EntityNotFoundException", "Database %s not found.", db);
    return sl_api_fail(e, 400, "EntityNotFoundException", "Table %s not found.", name);
}

static int op_get_table(struct sl_api_ctx *ctx, const json_t *in, json_t **out,
                        struct sl_api_error *e)
{
    const char *db, *name;
    struct sl_catalog_table *t = NULL;

    if (sl_api_get_string(in, "DatabaseName", 1, 1, NAME_MAX_LEN, 1, &db, e) != SL_OK ||
        sl_api_get_string(in, "Name", 1, 1, NAME_MAX_LEN, 1, &name, e) != SL_OK)
        return SL_ECONFIG;
    if (load_table(ctx, "GetTable", db, name, &t, e) != SL_OK)
        return SL_ECONFIG;
    *out = sl_catalog_json_get_table_new(t);
    sl_catalog_table_free(t);
    return *out ? SL_OK : sl_api_oom(e);
}

/* Deletes the table with its versions, columns and partitions (one DELETE and
 * its cascade). */
static int op_delete_table(struct sl_api_ctx *ctx, const json_t *in, json_t **out,
                           struct sl_api_error *e)
{
    const char *db, *name;
    struct sl_catalog_table *t = NULL;
    struct sl_err err = {0};

    if (sl_api_get_string(in, "DatabaseName", 1, 1, NAME_MAX_LEN, 1, &db, e) != SL_OK ||
        sl_api_get_string(in, "Name", 1, 1, NAME_MAX_LEN, 1, &name, e) != SL_OK)
        return SL_ECONFIG;
    /* read first, so a missing database and a missing table get their own message */
    if (load_table(ctx, "DeleteTable", db, name, &t, e) != SL_OK)
        return SL_ECONFIG;
    sl_catalog_table_free(t);
    struct sl_catalog *c = sl_api_catalog(ctx, e);
    if (!c)
        return SL_ECONFIG;
    if (sl_catalog_table_delete(c, db, name, &err) != SL_OK) {
        if (err.code == SL_ENOTFOUND) /* deleted meanwhile */
            return sl_api_fail(e, 400, "EntityNotFoundException", "Table %s not found.", name);
        return sl_api_catalog_fail(ctx, "DeleteTable", &err, e);
    }
    sl_log(SL_LOG_INFO, "[api req:%s] table \"%s.%s\" deleted", sl_api_request_id(ctx), db, name);
    *out = json_object();
    return *out ? SL_OK : sl_api_oom(e);
}

/* ---- Partition expressions ---- */

/* One parse of the expression for one typing of the keys ('i' bigint, 's'
 * string per key). */
struct typed_pred {
    char *typing; /* owned; n_keys chars + NUL */
    struct sl_pred *pred;
};

/* The Expression of one GetPartitions request, parsed lazily per typing. */
struct part_filter {
    const char *text;  /* borrowed: the request's Expression */
    const char **keys; /* owned array; names borrowed from the table */
    size_t n_keys;
    struct typed_pred cache[FILTER_CACHE];
    size_t n_cache;
};

static void part_filter_cleanup(struct part_filter *f)
{
    for (size_t i = 0; i < f->n_cache; i++) {
        sl_free(f->cache[i].typing);
        sl_pred_free(f->cache[i].pred);
    }
    sl_free(f->keys);
    memset(f, 0, sizeof *f);
}

/* Is v an integer: [+-]digits? */
static int is_integer(const char *v)
{
    if (!v)
        return 0;
    if (*v == '+' || *v == '-')
        v++;
    if (!*v)
        return 0;
    for (; *v; v++)
        if (*v < '0' || *v > '9')
            return 0;
    return 1;
}

/* Parses f->text with the keys typed by typing; SL_EPARSE / SL_ENOMEM in err. */
static int filter_parse(const struct part_filter *f, const char *typing, struct sl_pred **out,
                        struct sl_err *err)
{
    const char **types = sl_calloc(f->n_keys ? f->n_keys : 1, sizeof *types);
    if (!types)
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    for (size_t i = 0; i < f->n_keys; i++)
        types[i] = typing[i] == 'i' ? "bigint" : "string";
    int rc = sl_pred_parse(f->text, f->keys, types, f->n_keys, out, err);
    sl_free(types);
    return rc;
}

/* Sets up f for expr over the partition keys of t and checks that it parses:
 * InvalidInputException naming the column of the problem otherwise. */
static int part_filter_init(struct part_filter *f, const char *expr,
                            const struct sl_catalog_table *t, struct sl_api_error *e)
{
    struct sl_err err = {0};
    struct sl_pred *p = NULL;
    char *typing = NULL;

    memset(f, 0, sizeof *f);
    f->text = expr;
    f->n_keys = t->n_partition_keys;
    f->keys = sl_calloc(f->n_keys ? f->n_keys : 1, sizeof *f->keys);
    typing = sl_alloc(f->n_keys + 1);
    if (!f->keys || !typing) {
        sl_free(typing);
        return sl_api_oom(e);
    }
    for (size_t i = 0; i < f->n_keys; i++) {
        f->keys[i] = t->partition_keys[i].name;
        typing[i] = 's';
    }
    typing[f->n_keys] = '\0';
    /* the grammar does not depend on the typing (no key is boolean), so one
     * parse decides whether the expression is valid */
    if (filter_parse(f, typing, &p, &err) != SL_OK) {
        sl_free(typing);
        if (err.code == SL_ENOMEM)
            return sl_api_oom(e);
        const char *why = err.msg;
        if (strncmp(why, "push_down_predicate: ", 21) == 0)
            why += 21;
        return sl_api_fail(e, 400, INVALID_INPUT, "Unsupported expression: %s", why);
    }
    f->cache[0].typing = typing;
    f->cache[0].pred = p;
    f->n_cache = 1;
    return SL_OK;
}

/* Does partition p match? -1 with e filled on OOM. */
static int part_filter_match(struct part_filter *f, const struct sl_catalog_partition *p,
                             struct sl_api_error *e)
{
    char stack_typing[64];
    char *typing = f->n_keys < sizeof stack_typing ? stack_typing : sl_alloc(f->n_keys + 1);
    const struct sl_pred *pred = NULL;
    struct sl_pred *own = NULL;
    struct sl_err err = {0};
    int r = -1;

    if (!typing) {
        sl_api_oom(e);
        return -1;
    }
    if (p->n_values != f->n_keys) {
        r = 0; /* a partition written under other keys matches nothing */
        goto done;
    }
    for (size_t i = 0; i < f->n_keys; i++)
        typing[i] = is_integer(p->values[i]) ? 'i' : 's';
    typing[f->n_keys] = '\0';
    for (size_t i = 0; i < f->n_cache && !pred; i++)
        if (strcmp(f->cache[i].typing, typing) == 0)
            pred = f->cache[i].pred;
    if (!pred) {
        if (filter_parse(f, typing, &own, &err) != SL_OK) {
            /* parsed once already: only memory can fail here */
            sl_api_oom(e);
            goto done;
        }
        pred = own;
        if (f->n_cache < FILTER_CACHE) {
            char *kept = sl_strdup(typing);
            if (kept) {
                f->cache[f->n_cache].typing = kept;
                f->cache[f->n_cache].pred = own;
                f->n_cache++;
                own = NULL;
            }
        }
    }
    /* the crawler records Hive's NULL partition (__HIVE_DEFAULT_PARTITION__)
     * as an empty value: both are SQL NULL to the expression */
    const char *stack_values[16];
    const char **values = f->n_keys <= SL_ARRAY_LEN(stack_values)
                              ? stack_values
                              : sl_calloc(f->n_keys, sizeof *values);
    if (!values) {
        sl_api_oom(e);
        goto done;
    }
    for (size_t i = 0; i < f->n_keys; i++)
        values[i] = p->values[i] && p->values[i][0] ? p->values[i] : NULL;
    r = sl_pred_eval(pred, values) ? 1 : 0;
    if (values != stack_values)
        sl_free(values);
done:
    sl_pred_free(own);
    if (typing != stack_typing)
        sl_free(typing);
    return r;
}

/* *out = up to limit partitions of t after 'after' (n_after values) that
 * match f, reading the catalog in batches (owned: sl_catalog_partition_list_free). */
static int list_matching(struct sl_api_ctx *ctx, struct sl_catalog *c,
                         const struct sl_catalog_table *t, struct part_filter *f,
                         const char *const *after, size_t n_after, size_t limit,
                         struct sl_catalog_partition **out, size_t *n_out, struct sl_api_error *e)
{
    struct sl_catalog_partition *got = NULL, *batch = NULL;
    size_t n_got = 0, n_batch = 0;
    char **cursor = NULL; /* owned copy of the last values read */
    size_t n_cursor = 0;
    struct sl_err err = {0};
    int rc = SL_ECONFIG;

    got = sl_calloc(limit ? limit : 1, sizeof *got);
    if (!got)
        return sl_api_oom(e);
    for (;;) {
        if (sl_catalog_partition_list(
                c, t->database, t->name, cursor ? (const char *const *)cursor : after,
                cursor ? n_cursor : n_after, SCAN_BATCH, &batch, &n_batch, &err) != SL_OK) {
            sl_api_catalog_fail(ctx, "GetPartitions", &err, e);
            goto done;
        }
        int last_moved = 0;
        for (size_t i = 0; i < n_batch; i++) {
            int m = n_got < limit ? part_filter_match(f, &batch[i], e) : 0;
            if (m < 0)
                goto done;
            last_moved = m;
            if (m) {
                got[n_got++] = batch[i]; /* moved */
                sl_catalog_partition_init(&batch[i]);
            }
        }
        if (n_got >= limit || n_batch < SCAN_BATCH)
            break;
        /* the next batch starts after the last partition of this one */
        for (size_t i = 0; i < n_cursor; i++)
            sl_free(cursor[i]);
        sl_free(cursor);
        n_cursor = 0;
        /* the last one read may have been moved to got: its values are then there */
        const struct sl_catalog_partition *last =
            last_moved ? &got[n_got - 1] : &batch[n_batch - 1];
        cursor = sl_calloc(last->n_values ? last->n_values : 1, sizeof *cursor);
        if (!cursor) {
            sl_api_oom(e);
            goto done;
        }
        for (size_t i = 0; i < last->n_values; i++) {
            if (!(cursor[i] = sl_strdup(last->values[i]))) {
                sl_api_oom(e);
                goto done;
            }
            n_cursor++;
        }
        sl_catalog_partition_list_free(batch, n_batch);
        batch = NULL;
        n_batch = 0;
    }
    *out = got;
    *n_out = n_got;
    got = NULL;
    n_got = 0;
    rc = SL_OK;
done:
    sl_catalog_partition_list_free(batch, n_batch);
    sl_catalog_partition_list_free(got, n_got);
    for (size_t i = 0; i < n_cursor; i++)
        sl_free(cursor[i]);
    sl_free(cursor);
    return rc;
}

/* ---- Partitions ---- */

/* The values of a partition token (a JSON array of strings) into *values
 * (owned, a new reference). */
static int partition_after(const char *token, size_t n_keys, json_t **values,
                           struct sl_api_error *e)
{
    char *text = sl_api_token_decode(token, e);

    *values = NULL;
    if (!text)
        return SL_ECONFIG;
    json_t *a = json_loads(text, 0, NULL);
    sl_free(text);
    if (!json_is_array(a) || json_array_size(a) != n_keys || n_keys == 0)
        goto bad;
    for (size_t i = 0; i < n_keys; i++)
        if (!json_is_string(json_array_get(a, i)))
            goto bad;
    *values = a;
    return SL_OK;
bad:
    json_decref(a);
    return sl_api_fail(e, 400, INVALID_INPUT, "Invalid NextToken");
}

/* NextToken of a partition: base64 of the JSON array of its values. */
static int add_partition_token(json_t *doc, const struct sl_catalog_partition *p,
                               struct sl_api_error *e)
{
    json_t *a = json_array();
    char *text = NULL;
    int rc;

    for (size_t i = 0; a && i < p->n_values; i++)
        if (json_array_append_new(a, json_string(p->values[i])) != 0) {
            json_decref(a);
            a = NULL;
        }
    if (a)
        text = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    if (!text)
        return sl_api_oom(e);
    rc = sl_api_set_next_token(doc, text, e);
    free(text); /* jansson's allocator */
    return rc;
}

static int op_get_partitions(struct sl_api_ctx *ctx, const json_t *in, json_t **out,
                             struct sl_api_error *e)
{
    const char *db, *name, *expr, *token;
    long long limit;
    int exclude;
    struct sl_catalog_table *t = NULL;
    json_t *after = NULL;
    const char **after_v = NULL;
    struct sl_catalog_partition *parts = NULL;
    size_t n = 0;
    struct sl_err err = {0};
    struct part_filter filter = {0};
    int filtering = 0;
    int rc = SL_ECONFIG;

    if (sl_api_get_string(in, "DatabaseName", 1, 1, NAME_MAX_LEN, 1, &db, e) != SL_OK ||
        sl_api_get_string(in, "TableName", 1, 1, NAME_MAX_LEN, 1, &name, e) != SL_OK ||
        sl_api_get_string(in, "Expression", 0, 0, EXPR_MAX_LEN, 0, &expr, e) != SL_OK ||
        sl_api_get_string(in, "NextToken", 0, 0, SL_API_TOKEN_MAX, 0, &token, e) != SL_OK ||
        sl_api_get_int(in, "MaxResults", 1, PARTS_PAGE_MAX, PAGE_DEFAULT, &limit, e) != SL_OK ||
        sl_api_get_bool(in, "ExcludeColumnSchema", &exclude, e) != SL_OK)
        return SL_ECONFIG;
    if (load_table(ctx, "GetPartitions", db, name, &t, e) != SL_OK)
        return SL_ECONFIG;
    if (expr && expr[strspn(expr, " \t\r\n")] != '\0') {
        if (part_filter_init(&filter, expr, t, e) != SL_OK)
            goto done;
        filtering = 1;
    }
    if (token && token[0]) {
        if (partition_after(token, t->n_partition_keys, &after, e) != SL_OK)
            goto done;
        after_v = sl_calloc(t->n_partition_keys, sizeof *after_v);
        if (!after_v) {
            sl_api_oom(e);
            goto done;
        }
        for (size_t i = 0; i < t->n_partition_keys; i++)
            after_v[i] = json_string_value(json_array_get(after, i));
    }
    struct sl_catalog *c = sl_api_catalog(ctx, e);
    if (!c)
        goto done;
    if (filtering) {
        if (list_matching(ctx, c, t, &filter, after_v, after_v ? t->n_partition_keys : 0,
                          (size_t)limit + 1, &parts, &n, e) != SL_OK)
            goto done;
    } else if (sl_catalog_partition_list(c, t->database, t->name, after_v,
                                         after_v ? t->n_partition_keys : 0, (size_t)limit + 1,
                                         &parts, &n, &err) != SL_OK) {
        sl_api_catalog_fail(ctx, "GetPartitions", &err, e);
        goto done;
    }
    int more = n > (size_t)limit;
    size_t n_page = more ? (size_t)limit : n;
    *out = sl_catalog_json_partition_list_new(t, parts, n_page, exclude);
    if (!*out) {
        sl_api_oom(e);
        goto done;
    }
    if (more && add_partition_token(*out, &parts[n_page - 1], e) != SL_OK)
        goto done;
    rc = SL_OK;
done:
    if (rc != SL_OK) {
        json_decref(*out);
        *out = NULL;
    }
    sl_catalog_partition_list_free(parts, n);
    sl_free(after_v);
    json_decref(after);
    part_filter_cleanup(&filter);
    sl_catalog_table_free(t);
    return rc;
}

/* ---- Table ---- */

const struct sl_api_op sl_api_catalog_ops[] = {
    {"AWSGlue.CreateDatabase", "CreateDatabase", op_create_database},
    {"AWSGlue.GetDatabase", "GetDatabase", op_get_database},
    {"AWSGlue.GetDatabases", "GetDatabases", op_get_databases},
    {"AWSGlue.DeleteDatabase", "DeleteDatabase", op_delete_database},
    {"AWSGlue.GetTable", "GetTable", op_get_table},
    {"AWSGlue.GetTables", "GetTables", op_get_tables},
    {"AWSGlue.DeleteTable", "DeleteTable", op_delete_table},
    {"AWSGlue.GetPartitions", "GetPartitions", op_get_partitions},
    {NULL, NULL, NULL},
};
