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
#include <openssl/evp.h>
#include <string.h>

#include "runtime/alloc.h"
#include "runtime/catalog_json.h"
#include "runtime/log.h"
#include "scheduler/api.h"

#define NAME_MAX_LEN     255  /* NameString: 1..255 chars (§3) */
#define DESC_MAX_LEN     2048 /* DatabaseInput.Description */
#define LOCATION_MAX_LEN 1024 /* DatabaseInput.LocationUri */
#define EXPR_MAX_LEN     2048 /* GetTables / GetPartitions Expression */
#define TOKEN_MAX_LEN    8192 /* bytes of a NextToken we accept; ours are far shorter */
#define PAGE_DEFAULT     100  /* MaxResults when absent (§1.8) */
#define PARTS_PAGE_MAX   1000 /* GetPartitions MaxResults maximum */
#define LIST_PAGE_MAX    100  /* GetDatabases / GetTables MaxResults maximum */

#define INVALID_INPUT "InvalidInputException"
#define SERIALIZATION "SerializationException"

/* ---- Request members ---- */

static int fail_type(struct sl_api_error *e, const char *member, const char *want)
{
    sl_api_fail(e, 400, SERIALIZATION, "member %s must be %s", member, want);
    e->lower_message = 1;
    return SL_ECONFIG;
}

/* *out = string member key of in (borrowed), NULL when absent or null (then an
 * error when required). Lengths in bytes; name: NameString (no control
 * characters but TAB). */
static int get_string(const json_t *in, const char *key, int required, size_t min_len,
                      size_t max_len, int name, const char **out, struct sl_api_error *e)
{
    const json_t *v = json_object_get(in, key);

    *out = NULL;
    if (!v || json_is_null(v)) {
        if (!required)
            return SL_OK;
        return sl_api_fail(e, 400, INVALID_INPUT,
                           "1 validation error detected: Value null at '%s' failed to satisfy "
                           "constraint: Member must not be null",
                           key);
    }
    if (!json_is_string(v))
        return fail_type(e, key, "a string");
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (len < min_len || len > max_len)
        return sl_api_fail(e, 400, INVALID_INPUT,
                           "1 validation error detected: Value at '%s' failed to satisfy "
                           "constraint: Member must have length between %zu and %zu",
                           key, min_len, max_len);
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if ((name && ch < 0x20 && ch != '\t') || ch == 0 || (name && ch == 0x7f))
            return sl_api_fail(e, 400, INVALID_INPUT,
                               "1 validation error detected: Value at '%s' failed to satisfy "
                               "constraint: Member must satisfy regular expression pattern",
                               key);
    }
    *out = s;
    return SL_OK;
}

/* *out = integer member key in [min, max], def when absent or null. */
static int get_int(const json_t *in, const char *key, long long min, long long max, long long def,
                   long long *out, struct sl_api_error *e)
{
    const json_t *v = json_object_get(in, key);

    *out = def;
    if (!v || json_is_null(v))
        return SL_OK;
    if (!json_is_integer(v))
        return fail_type(e, key, "an integer");
    long long n = json_integer_value(v);
    if (n < min || n > max)
        return sl_api_fail(e, 400, INVALID_INPUT,
                           "1 validation error detected: Value '%lld' at '%s' failed to satisfy "
                           "constraint: Member must have value between %lld and %lld",
                           n, key, min, max);
    *out = n;
    return SL_OK;
}

/* *out = boolean member key, 0 when absent or null. */
static int get_bool(const json_t *in, const char *key, int *out, struct sl_api_error *e)
{
    const json_t *v = json_object_get(in, key);

    *out = 0;
    if (!v || json_is_null(v))
        return SL_OK;
    if (!json_is_boolean(v))
        return fail_type(e, key, "a boolean");
    *out = json_is_true(v);
    return SL_OK;
}

/* ---- NextToken ---- */

/* base64 of data[0..len) (owned: sl_free), NULL on OOM. */
static char *token_encode(const char *data, size_t len)
{
    char *out = sl_alloc(4 * ((len + 2) / 3) + 1);
    if (out)
        EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)data, (int)len);
    return out;
}

/* The decoded bytes of token (owned: sl_free, NUL-terminated), or NULL with an
 * InvalidInputException in e. */
static char *token_decode(const char *token, struct sl_api_error *e)
{
    size_t len = strlen(token);
    char *out = NULL;

    if (len == 0 || len % 4 != 0 || len > TOKEN_MAX_LEN)
        goto bad;
    out = sl_alloc(len / 4 * 3 + 1);
    if (!out) {
        sl_api_fail(e, 500, "InternalServiceException", "out of memory");
        return NULL;
    }
    int n = EVP_DecodeBlock((unsigned char *)out, (const unsigned char *)token, (int)len);
    if (n < 0)
        goto bad;
    /* EVP_DecodeBlock counts the padding as zero bytes. */
    n -= (token[len - 1] == '=') + (token[len - 2] == '=');
    out[n] = '\0';
    if (memchr(out, '\0', (size_t)n))
        goto bad;
    return out;
bad:
    sl_free(out);
    sl_api_fail(e, 400, INVALID_INPUT, "Invalid NextToken");
    return NULL;
}

/* Adds "NextToken" for the key key to doc. */
static int add_token(json_t *doc, const char *key, struct sl_api_error *e)
{
    char *tok = token_encode(key, strlen(key));
    if (!tok || json_object_set_new(doc, "NextToken", json_string(tok)) != 0) {
        sl_free(tok);
        return sl_api_fail(e, 500, "InternalServiceException", "out of memory");
    }
    sl_free(tok);
    return SL_OK;
}

/* ---- Errors from the catalog ---- */

/* Maps a catalog failure to the AWS error; internal details are logged, not sent. */
static int catalog_fail(struct sl_api_ctx *ctx, const char *op, const struct sl_err *err,
                        struct sl_api_error *e)
{
    switch (err->code) {
    case SL_ENOTFOUND: return sl_api_fail(e, 400, "EntityNotFoundException", "%s", err->msg);
    case SL_EEXIST: return sl_api_fail(e, 400, "AlreadyExistsException", "%s", err->msg);
    case SL_ECONFIG: return sl_api_fail(e, 400, INVALID_INPUT, "%s", err->msg);
    default: {
        char clean[sizeof err->msg];
        sl_log(SL_LOG_ERROR, "[api req:%s] %s: %s", sl_api_request_id(ctx), op,
               sl_redact(err->msg, clean, sizeof clean));
        return sl_api_fail(e, 500, "InternalServiceException", "internal error; request id %s",
                           sl_api_request_id(ctx));
    }
    }
}

static int oom(struct sl_api_error *e)
{
    return sl_api_fail(e, 500, "InternalServiceException", "out of memory");
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

    if (get_string(in, "NextToken", 0, 0, TOKEN_MAX_LEN, 0, &token, e) != SL_OK ||
        get_int(in, "MaxResults", 1, LIST_PAGE_MAX, PAGE_DEFAULT, &limit, e) != SL_OK)
        return SL_ECONFIG;
    if (token && token[0] && !(after = token_decode(token, e)))
        return SL_ECONFIG;
    struct sl_catalog *c = sl_api_catalog(ctx, e);
    if (!c)
        goto done;
    if (sl_catalog_database_list(c, after, (size_t)limit + 1, &dbs, &n, &err) != SL_OK) {
        catalog_fail(ctx, "GetDatabases", &err, e);
        goto done;
    }
    int more = n > (size_t)limit;
    size_t n_page = more ? (size_t)limit : n;
    *out = sl_catalog_json_database_list_new(dbs, n_page);
    if (!*out) {
        oom(e);
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

    if (get_string(in, "Name", 1, 1, NAME_MAX_LEN, 1, &name, e) != SL_OK)
        return SL_ECONFIG;
    struct sl_catalog *c = sl_api_catalog(ctx, e);
    if (!c)
        return SL_ECONFIG;
    if (sl_catalog_database_get(c, name, &d, &err) != SL_OK) {
        if (err.code == SL_ENOTFOUND)
            return sl_api_fail(e, 400, "EntityNotFoundException", "Database %s not found.", name);
        return catalog_fail(ctx, "GetDatabase", &err, e);
    }
    *out = sl_catalog_json_get_database_new(d);
    sl_catalog_database_free(d);
    return *out ? SL_OK : oom(e);
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
        return fail_type(e, "DatabaseInput", "an object");
    if (get_string(input, "Name", 1, 1, NAME_MAX_LEN, 1, &name, e) != SL_OK ||
        get_string(input, "Description", 0, 0, DESC_MAX_LEN, 0, &desc, e) != SL_OK ||
        get_string(input, "LocationUri", 0, 1, LOCATION_MAX_LEN, 0, &location, e) != SL_OK)
        return SL_ECONFIG;
    const json_t *params = json_object_get(input, "Parameters");
    if (params && !json_is_null(params)) {
        const char *k;
        const json_t *v;
        if (!json_is_object(params))
            return fail_type(e, "Parameters", "an object");
        json_object_foreach((json_t *)params, k, v)
        {
            if (!json_is_string(v)) {
                fail_type(e, "Parameters", "a map of strings");
                goto done;
            }
            if (sl_catalog_params_set(&d.params, k, json_string_value(v), &err) != SL_OK) {
                oom(e);
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
            catalog_fail(ctx, "CreateDatabase", &err, e);
        goto done;
    }
    *out = json_object();
    rc = *out ? SL_OK : oom(e);
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

    if (get_string(in, "DatabaseName", 1, 1, NAME_MAX_LEN, 1, &db, e) != SL_OK ||
        get_string(in, "Expression", 0, 0, EXPR_MAX_LEN, 0, &expr, e) != SL_OK ||
        get_string(in, "NextToken", 0, 0, TOKEN_MAX_LEN, 0, &token, e) != SL_OK ||
        get_int(in, "MaxResults", 1, LIST_PAGE_MAX, PAGE_DEFAULT, &limit, e) != SL_OK)
        return SL_ECONFIG;
    if (token && token[0] && !(after = token_decode(token, e)))
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
            catalog_fail(ctx, "GetTables", &err, e);
        goto done;
    }
    int more = n > (size_t)limit;
    size_t n_page = more ? (size_t)limit : n;
    *out = sl_catalog_json_table_list_new(tables, n_page);
    if (!*out) {
        oom(e);
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
        return catalog_fail(ctx, op, &err, e);
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

    if (get_string(in, "DatabaseName", 1, 1, NAME_MAX_LEN, 1, &db, e) != SL_OK ||
        get_string(in, "Name", 1, 1, NAME_MAX_LEN, 1, &name, e) != SL_OK)
        return SL_ECONFIG;
    if (load_table(ctx, "GetTable", db, name, &t, e) != SL_OK)
        return SL_ECONFIG;
    *out = sl_catalog_json_get_table_new(t);
    sl_catalog_table_free(t);
    return *out ? SL_OK : oom(e);
}

/* ---- Partitions ---- */

/* The values of a partition token (a JSON array of strings) into *values
 * (owned, a new reference). */
static int partition_after(const char *token, size_t n_keys, json_t **values,
                           struct sl_api_error *e)
{
    char *text = token_decode(token, e);

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
        return oom(e);
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

    if (get_string(in, "DatabaseName", 1, 1, NAME_MAX_LEN, 1, &db, e) != SL_OK ||
        get_string(in, "TableName", 1, 1, NAME_MAX_LEN, 1, &name, e) != SL_OK ||
        get_string(in, "Expression", 0, 0, EXPR_MAX_LEN, 0, &expr, e) != SL_OK ||
        get_string(in, "NextToken", 0, 0, TOKEN_MAX_LEN, 0, &token, e) != SL_OK ||
        get_int(in, "MaxResults", 1, PARTS_PAGE_MAX, PAGE_DEFAULT, &limit, e) != SL_OK ||
        get_bool(in, "ExcludeColumnSchema", &exclude, e) != SL_OK)
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
            oom(e);
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
        catalog_fail(ctx, "GetPartitions", &err, e);
        goto done;
    }
    int more = n > (size_t)limit;
    size_t n_page = more ? (size_t)limit : n;
    *out = sl_catalog_json_partition_list_new(t, parts, n_page, exclude);
    if (!*out) {
        oom(e);
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
