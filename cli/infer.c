/*
 * cli/infer.c - types a schemaless from_path source for the engine by
 * sampling its first object with the crawler (crawler/sample.c) and turning
 * the verdict into catalog columns and table parameters. The sampling,
 * dialect sniffing and type inference all live in crawler/; this file only
 * checks that the data is the format the script declared and copies the
 * result.
 */
#include "cli/infer.h"

#include <jansson.h>
#include <string.h>

#include "crawler/classify.h"
#include "crawler/ctype.h"
#include "crawler/sample.h"
#include "runtime/alloc.h"

/* The classification a script format needs; NULL for an unknown format. */
static const char *family_of(const char *format)
{
    if (strcmp(format, "csv") == 0 || strcmp(format, "tsv") == 0)
        return "csv";
    if (strcmp(format, "json") == 0 || strcmp(format, "jsonl") == 0)
        return "json";
    return NULL;
}

/* A delimiter as people read it in a message: "tab", "','". */
static const char *delimiter_name(const char *d, char *buf, size_t len)
{
    if (!d || !d[0])
        return "none";
    if (strcmp(d, "\t") == 0)
        return "tab";
    if (strcmp(d, " ") == 0)
        return "space";
    snprintf(buf, len, "'%s'", d);
    return buf;
}

/* Fills tmp (empty) from the classifier's verdict. */
static int fill_table(struct sl_catalog_table *tmp, const struct sl_cls_result *res,
                      const struct sl_sample_info *info, struct sl_err *err)
{
    const char *k;
    json_t *v;

    if (!(tmp->classification = sl_strdup(res->classification)))
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    for (size_t i = 0; i < res->schema.n_cols; i++) {
        const struct sl_ccolumn *c = &res->schema.cols[i];
        char *type = sl_ctype_to_string(c->type); /* SL_CT_NULL (only nulls seen) is "string" */
        if (!type)
            return sl_err_set(err, SL_ENOMEM, "out of memory");
        int rc = sl_catalog_table_add_column(tmp, c->name, type, NULL, err);
        sl_free(type);
        if (rc != SL_OK)
            return rc;
    }
    /* format_params holds strings only (classify.h); anything else is skipped */
    json_object_foreach(res->format_params, k, v)
    {
        const char *s = json_string_value(v);
        if (s && sl_catalog_params_set(&tmp->params, k, s, err) != SL_OK)
            return err->code;
    }
    if (sl_catalog_params_set(&tmp->params, "classification", res->classification, err) != SL_OK ||
        sl_catalog_params_set(&tmp->params, "compressionType",
                              info->compression[0] ? info->compression : "none", err) != SL_OK)
        return err->code;
    return SL_OK;
}

/* Checks the verdict against the script's format; SL_EPARSE naming uri. */
static int check_family(const char *uri, const char *format, const char *want,
                        const struct sl_cls_result *res, struct sl_err *err)
{
    char dbuf[16];

    if (!res->classification[0])
        return sl_err_set(err, SL_EPARSE, "%s: cannot infer a schema: %s", uri,
                          res->reason[0] ? res->reason : "unrecognised format");
    if (res->unsupported)
        return sl_err_set(err, SL_EPARSE,
                          "%s: expected %s but the data is %s, which is not "
                          "supported (%s)",
                          uri, format, res->classification,
                          res->reason[0] ? res->reason : "unsupported");
    if (strcmp(res->classification, want) != 0)
        return sl_err_set(err, SL_EPARSE, "%s: expected %s but the data looks like %s", uri, format,
                          res->classification);
    if (strcmp(format, "tsv") == 0) {
        const char *d = json_string_value(json_object_get(res->format_params, "delimiter"));
        if (!d || strcmp(d, "\t") != 0)
            return sl_err_set(err, SL_EPARSE,
                              "%s: expected tsv but the data is delimited by %s, not tabs "
                              "(use format = \"csv\")",
                              uri, delimiter_name(d, dbuf, sizeof dbuf));
    }
    return SL_OK;
}

/* Exchanges the members inference fills between a and b. */
static void swap_schema(struct sl_catalog_table *a, struct sl_catalog_table *b)
{
    char *cls = a->classification;
    struct sl_catalog_params params = a->params;
    struct sl_catalog_column *cols = a->columns;
    size_t n_cols = a->n_columns;

    a->classification = b->classification;
    a->params = b->params;
    a->columns = b->columns;
    a->n_columns = b->n_columns;
    b->classification = cls;
    b->params = params;
    b->columns = cols;
    b->n_columns = n_cols;
}

int cli_infer_schema(void *ud, struct sl_store *st, const struct sl_obj_info *obj,
                     const char *format, struct sl_catalog_table *t, struct sl_err *err)
{
    struct sl_crawl_opts o;
    struct sl_cls_result res;
    struct sl_sample_info info;
    struct sl_catalog_table tmp;
    const char *want = family_of(format ? format : "");
    char *uri = sl_store_uri(st, obj->key);
    const char *shown = uri ? uri : obj->key;
    const char *name = strrchr(obj->key, '/');
    int rc;

    (void)ud;
    sl_cls_result_init(&res);
    sl_catalog_table_init(&tmp);
    memset(&info, 0, sizeof info);
    if (!want) {
        rc = sl_err_set(err, SL_ECONFIG, "%s: cannot infer a schema for format \"%s\"", shown,
                        format ? format : "");
        goto out;
    }
    sl_crawl_opts_default(&o);
    /* the script says the data is delimited text: a single column (one line
     * per record, as word counts read) is a valid reading, not a doubt */
    o.csv_allow_single_column = strcmp(want, "csv") == 0;
    name = name ? name + 1 : obj->key;
    rc = sl_sample_object(st, obj->key, obj->etag, name, obj->size, &o, &res, &info, err);
    if (rc != SL_OK) {
        sl_err_prefix(err, "infer the schema of %s", shown);
        goto out;
    }
    if ((rc = check_family(shown, format, want, &res, err)) != SL_OK)
        goto out;
    if ((rc = fill_table(&tmp, &res, &info, err)) != SL_OK) {
        sl_err_prefix(err, "infer the schema of %s", shown);
        goto out;
    }
    swap_schema(t, &tmp); /* t gets the new members; tmp frees the old ones */
out:
    sl_catalog_table_cleanup(&tmp);
    sl_cls_result_cleanup(&res);
    sl_free(uri);
    return rc;
}
