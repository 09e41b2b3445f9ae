/*
 * scheduler/api_catalog.c - the Glue Data Catalog operations of the HTTP API
 * (spec/aws-api.md §3.3): GetDatabases, GetDatabase, CreateDatabase,
 * GetTables, GetTable and GetPartitions. Each validates its request members
 * (§1.6: wrong JSON type -> SerializationException; missing, too short or too
 * long -> InvalidInputException), calls runtime/catalog.h and answers with the
 * shapes of runtime/catalog_json.h. Routing, auth and the response framing are
 * scheduler/http.c.
 *
 * Paging (§1.8): NextToken is the standard base64 of the last key returned (a
 * database or table name; for partitions the JSON array of its values), so
 * tokens only grow and never repeat. A handler asks the catalog for one item
 * more than the page and returns a token only when that item exists.
 */
#include <string.h>

#include "runtime/alloc.h"
#include "runtime/catalog_json.h"
#include "scheduler/api.h"

#define NAME_MAX_LEN     255  /* NameString: 1..255 chars (§3) */
#define DESC_MAX_LEN     2048 /* DatabaseInput.Description */
#define LOCATION_MAX_LEN 1024 /* DatabaseInput.LocationUri */
#define EXPR_MAX_LEN     2048 /* GetTables / GetPartitions Expression */
#define PAGE_DEFAULT     100  /* MaxResults when absent (§1.8) */
#define PARTS_PAGE_MAX   1000 /* GetPartitions MaxResults maximum */
#define LIST_PAGE_MAX    100  /* GetDatabases / GetTables MaxResults maximum */

#define INVALID_INPUT "InvalidInputException"

/* ---- NextToken ---- */

/* Adds "NextToken" for the key key to doc. */
static int add_token(json_t *doc, const char *key, struct sl_api_error *e)
{
    char *tok = sl_api_token_encode(key, strlen(key));
    if (!tok || json_object_set_new(doc, "NextToken", json_string(tok)) != 0) {
        sl_free(tok);
        return sl_api_fail(e, 500, "InternalServiceException", "out of memory");
    }
    sl_free(tok);
    return SL_OK;
}

/* ---- Databases ---- */

static int op_get_databases(struct sl_api_ctx *ctx, const json_t *in, json_t **out,
                            struct sl_api_error *e)
{
    const char *token;
    long long limit;
    char *after = NULL;
    struct sl_catalog_database *dbs = NULL;
    size_t n = 0;
    struct sl_err err = {0};
    int rc = SL_ECONFIG;

    if (sl_api_get_string(in, "NextToken", 0, 0, SL_API_TOKEN_MAX, 0, &token, e) != SL_OK ||
        sl_api_get_int(in, "MaxResults", 1, LIST_PAGE_MAX, PAGE_DEFAULT, &limit, e) != SL_OK)
        return SL_ECONFIG;
    if (token && token[0] && !(after = sl_api_token_decode(token, e)))
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
    if (more && add_token(*out, dbs[n_page - 1].name, e) != SL_OK)
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

/* ---- Tables ---- */

static int op_get_tables(struct sl_api_ctx *ctx, const json_t *in, json_t **out,
                         struct sl_api_error *e)
{
    const char *db, *expr, *token;
    long long limit;
    char *after = NULL;
    struct sl_catalog_table *tables = NULL;
    size_t n = 0;
    struct sl_err err = {0};
    int rc = SL_ECONFIG;

    if (sl_api_get_string(in, "DatabaseName", 1, 1, NAME_MAX_LEN, 1, &db, e) != SL_OK ||
        sl_api_get_string(in, "Expression", 0, 0, EXPR_MAX_LEN, 0, &expr, e) != SL_OK ||
        sl_api_get_string(in, "NextToken", 0, 0, SL_API_TOKEN_MAX, 0, &token, e) != SL_OK ||
        sl_api_get_int(in, "MaxResults", 1, LIST_PAGE_MAX, PAGE_DEFAULT, &limit, e) != SL_OK)
        return SL_ECONFIG;
    if (token && token[0] && !(after = sl_api_token_decode(token, e)))
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
    if (more && add_token(*out, tables[n_page - 1].name, e) != SL_OK)
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
    rc = add_token(doc, text, e);
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
    int rc = SL_ECONFIG;

    if (sl_api_get_string(in, "DatabaseName", 1, 1, NAME_MAX_LEN, 1, &db, e) != SL_OK ||
        sl_api_get_string(in, "TableName", 1, 1, NAME_MAX_LEN, 1, &name, e) != SL_OK ||
        sl_api_get_string(in, "Expression", 0, 0, EXPR_MAX_LEN, 0, &expr, e) != SL_OK ||
        sl_api_get_string(in, "NextToken", 0, 0, SL_API_TOKEN_MAX, 0, &token, e) != SL_OK ||
        sl_api_get_int(in, "MaxResults", 1, PARTS_PAGE_MAX, PAGE_DEFAULT, &limit, e) != SL_OK ||
        sl_api_get_bool(in, "ExcludeColumnSchema", &exclude, e) != SL_OK)
        return SL_ECONFIG;
    /* Partition filters (§3.3) are not implemented yet: refuse rather than
     * return partitions the caller filtered out. */
    if (expr && expr[0])
        return sl_api_fail(e, 400, INVALID_INPUT, "Expression is not supported by this server yet");
    if (load_table(ctx, "GetPartitions", db, name, &t, e) != SL_OK)
        return SL_ECONFIG;
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
    if (sl_catalog_partition_list(c, t->database, t->name, after_v,
                                  after_v ? t->n_partition_keys : 0, (size_t)limit + 1, &parts, &n,
                                  &err) != SL_OK) {
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
    sl_catalog_table_free(t);
    return rc;
}

/* ---- Table ---- */

const struct sl_api_op sl_api_catalog_ops[] = {
    {"AWSGlue.CreateDatabase", "CreateDatabase", op_create_database},
    {"AWSGlue.GetDatabase", "GetDatabase", op_get_database},
    {"AWSGlue.GetDatabases", "GetDatabases", op_get_databases},
    {"AWSGlue.GetTable", "GetTable", op_get_table},
    {"AWSGlue.GetTables", "GetTables", op_get_tables},
    {"AWSGlue.GetPartitions", "GetPartitions", op_get_partitions},
    {NULL, NULL, NULL},
};
