/*
 * runtime/catalog.c - the catalog handle: connecting (SLUICE_CATALOG or the
 * embedded default), transactions, the query and result helpers the other
 * catalog files share, parameter lists, and databases. Tables are in
 * catalog_table.c, partitions in catalog_partition.c, crawl state in
 * catalog_crawl.c, schema hashes and diffs in catalog_schema.c, migrations in
 * catalog_migrate.c, SQL text in catalog_sql.h.
 */
#include "catalog.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "catalog_internal.h"
#include "catalog_sql.h"
#include "log.h"
#include "pgembed.h"

/* ---- Connection ---- */

/* runtime/ never logs: server notices ("schema already exists, skipping") are
 * dropped instead of going to stderr. */
static void quiet_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* Connects without migrating. The conninfo goes through libpq's "expand
 * dbname" rule: its settings override the defaults before it (connect_timeout,
 * application_name), so a connection string naming its own application_name
 * keeps it. */
static PGconn *connect_pg(const char *conninfo, struct sl_err *err)
{
    const char *keys[] = { "connect_timeout", "application_name", "dbname", NULL };
    const char *vals[] = { "10", "sluice", conninfo ? conninfo : "", NULL };
    char *perr = NULL;
    PGconn *pg = NULL;

    if (conninfo && *conninfo) {
        PQconninfoOption *opts = PQconninfoParse(conninfo, &perr);
        if (!opts) {
            char why[256];
            sl_redact_line(perr ? perr : "out of memory", why, sizeof why);
            PQfreemem(perr);
            sl_err_set(err, SL_ECONFIG, "invalid catalog connection string: %s", why);
            return NULL;
        }
        PQconninfoFree(opts);
    }
    pg = PQconnectdbParams(keys, vals, 1); /* "" = libpq defaults and PG* variables */
    if (!pg) {
        sl_err_set(err, SL_ENOMEM, "could not connect to catalog: out of memory");
        return NULL;
    }
    if (PQstatus(pg) != CONNECTION_OK) {
        char why[400];
        const char *host = PQhost(pg);
        sl_redact_line(PQerrorMessage(pg), why, sizeof why);
        /* the target is described by its parts, never by the raw string, which
         * may hold a password */
        sl_err_set(err, SL_ETRANSIENT,
                   "could not connect to catalog (host=%s port=%s dbname=%s user=%s): %s",
                   host && *host ? host : "(default)", PQport(pg) ? PQport(pg) : "",
                   PQdb(pg) ? PQdb(pg) : "", PQuser(pg) ? PQuser(pg) : "", why);
        PQfinish(pg);
        return NULL;
    }
    PQsetNoticeProcessor(pg, quiet_notice, NULL);
    return pg;
}

/* Wraps a fresh connection (taken: closed on failure) and migrates. */
static struct sl_catalog *wrap_migrated(PGconn *pg, struct sl_err *err)
{
    struct sl_catalog *c = sl_calloc(1, sizeof *c);

    if (!c) {
        sl_err_set(err, SL_ENOMEM, "open catalog: out of memory");
        goto fail;
    }
    c->pg = pg;
    if (sl_catalog_migrate(pg, NULL, err) != SL_OK)
        goto fail;
    return c;
fail:
    PQfinish(pg);
    sl_free(c);
    return NULL;
}

struct sl_catalog *sl_catalog_open_conninfo(const char *conninfo, struct sl_err *err)
{
    PGconn *pg = connect_pg(conninfo, err);
    return pg ? wrap_migrated(pg, err) : NULL;
}

struct sl_catalog *sl_catalog_open(struct sl_err *err)
{
    const char *env = getenv("SLUICE_CATALOG");
    struct sl_pgembed *pe = NULL;
    struct sl_catalog *c = NULL;
    struct sl_err first;
    PGconn *pg;

    if (env && *env)
        return sl_catalog_open_conninfo(env, err);

    pe = sl_pgembed_new(err);
    if (!pe)
        return NULL;
    /* Usually the cluster is up: try it first, start it only when that fails
     * (start is idempotent and serialised by a file lock). */
    pg = connect_pg(sl_pgembed_peek_conninfo(pe), &first);
    if (!pg) {
        if (sl_pgembed_start(pe, err) != SL_OK)
            goto done;
        pg = connect_pg(sl_pgembed_peek_conninfo(pe), err);
    }
    if (pg)
        c = wrap_migrated(pg, err);
    if (!c)
        sl_err_prefix(err, "embedded catalog in \"%s\"", sl_pgembed_peek_home(pe));
done:
    sl_pgembed_free(pe);
    return c;
}

void sl_catalog_free(struct sl_catalog *c)
{
    if (!c)
        return;
    PQfinish(c->pg); /* the server rolls back an open transaction */
    sl_free(c);
}

PGconn *sl_catalog_peek_conn(struct sl_catalog *c)
{
    return c->pg;
}

/* ---- Queries ---- */

static enum sl_code code_of_state(const char *st)
{
    if (!st || strlen(st) != 5)
        return SL_EIO;
    if (strcmp(st, "23505") == 0)
        return SL_EEXIST;
    if (strcmp(st, "23503") == 0)
        return SL_ENOTFOUND;
    if (strcmp(st, "42501") == 0)
        return SL_EACCESS;
    if (strncmp(st, "22", 2) == 0 || strncmp(st, "23", 2) == 0)
        return SL_ECONFIG;
    if (strncmp(st, "08", 2) == 0 || strncmp(st, "40", 2) == 0 || strncmp(st, "53", 2) == 0 ||
        strncmp(st, "57", 2) == 0 || strncmp(st, "58", 2) == 0)
        return SL_ETRANSIENT;
    if (strncmp(st, "42", 2) == 0)
        return SL_EINTERNAL;
    return SL_EIO;
}

PGresult *sl_catalog_query(PGconn *pg, const char *sql, int n, const char *const *params,
                           struct sl_err *err)
{
    PGresult *r = PQexecParams(pg, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    char why[400];

    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
        return r;
    if (!r || PQstatus(pg) != CONNECTION_OK) {
        sl_redact_line(PQerrorMessage(pg), why, sizeof why);
        sl_err_set(err, SL_ETRANSIENT, "could not query catalog: %s",
                   why[0] ? why : "connection lost");
    } else {
        const char *primary = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        enum sl_code code = code_of_state(state);
        sl_redact_line(primary ? primary : PQresultErrorMessage(r), why, sizeof why);
        sl_err_set(err, code, "%s %s (SQLSTATE %s)",
                   code == SL_ETRANSIENT ? "could not query catalog:" : "catalog query failed:",
                   why, state ? state : "?");
    }
    PQclear(r);
    return NULL;
}

int sl_catalog_exec(PGconn *pg, const char *sql, int n, const char *const *params,
                    struct sl_err *err)
{
    PGresult *r = sl_catalog_query(pg, sql, n, params, err);
    if (!r)
        return err ? err->code : SL_EIO;
    PQclear(r);
    return SL_OK;
}

PGresult *sl_catalog_query_guarded(struct sl_catalog *c, const char *sql, int n,
                                   const char *const *params, struct sl_err *err)
{
    PGresult *r;
    int own = 0;

    if (PQtransactionStatus(c->pg) != PQTRANS_INTRANS)
        return sl_catalog_query(c->pg, sql, n, params, err);
    if (sl_catalog_tx_begin(c, &own, err) != SL_OK)
        return NULL;
    r = sl_catalog_query(c->pg, sql, n, params, err);
    if (!r) {
        sl_catalog_tx_rollback(c, own);
        return NULL;
    }
    if (sl_catalog_tx_commit(c, own, err) != SL_OK) {
        PQclear(r);
        return NULL;
    }
    return r;
}

/* ---- Transactions ---- */

int sl_catalog_tx_begin(struct sl_catalog *c, int *own, struct sl_err *err)
{
    PGTransactionStatusType ts = PQtransactionStatus(c->pg);

    *own = (ts == PQTRANS_IDLE);
    if (ts == PQTRANS_INERROR)
        return sl_err_set(err, SL_EINTERNAL,
                          "catalog transaction already failed; roll it back first");
    return sl_catalog_exec(c->pg, *own ? SL_CATALOG_SQL_BEGIN : SL_CATALOG_SQL_SAVEPOINT, 0, NULL,
                           err);
}

int sl_catalog_tx_commit(struct sl_catalog *c, int own, struct sl_err *err)
{
    int rc = sl_catalog_exec(c->pg, own ? SL_CATALOG_SQL_COMMIT : SL_CATALOG_SQL_RELEASE, 0, NULL,
                             err);
    if (rc != SL_OK)
        sl_catalog_tx_rollback(c, own);
    return rc;
}

void sl_catalog_tx_rollback(struct sl_catalog *c, int own)
{
    PGresult *r;

    if (own) {
        if (PQtransactionStatus(c->pg) != PQTRANS_IDLE)
            PQclear(PQexec(c->pg, SL_CATALOG_SQL_ROLLBACK));
        return;
    }
    r = PQexec(c->pg, SL_CATALOG_SQL_ROLLBACK_TO);
    if (r && PQresultStatus(r) == PGRES_COMMAND_OK) {
        PQclear(r);
        r = PQexec(c->pg, SL_CATALOG_SQL_RELEASE);
    }
    PQclear(r);
}

int sl_catalog_begin(struct sl_catalog *c, struct sl_err *err)
{
    if (PQtransactionStatus(c->pg) != PQTRANS_IDLE)
        return sl_err_set(err, SL_EINTERNAL, "begin catalog transaction: one is already open");
    if (sl_catalog_exec(c->pg, SL_CATALOG_SQL_BEGIN, 0, NULL, err) != SL_OK)
        return sl_err_prefix(err, "begin catalog transaction");
    c->user_tx = 1;
    return SL_OK;
}

int sl_catalog_commit(struct sl_catalog *c, struct sl_err *err)
{
    int rc;

    if (!c->user_tx)
        return sl_err_set(err, SL_EINTERNAL, "commit catalog transaction: none is open");
    c->user_tx = 0;
    if (PQtransactionStatus(c->pg) == PQTRANS_INERROR) {
        PQclear(PQexec(c->pg, SL_CATALOG_SQL_ROLLBACK));
        return sl_err_set(err, SL_EINTERNAL,
                          "commit catalog transaction: it had failed and was rolled back");
    }
    rc = sl_catalog_exec(c->pg, SL_CATALOG_SQL_COMMIT, 0, NULL, err);
    if (rc != SL_OK)
        return sl_err_prefix(err, "commit catalog transaction");
    return SL_OK;
}

void sl_catalog_rollback(struct sl_catalog *c)
{
    c->user_tx = 0;
    if (PQtransactionStatus(c->pg) != PQTRANS_IDLE)
        PQclear(PQexec(c->pg, SL_CATALOG_SQL_ROLLBACK));
}

/* ---- Result readers ---- */

int sl_catalog_get_str(const PGresult *r, int row, int col, char **out, struct sl_err *err)
{
    *out = NULL;
    if (PQgetisnull(r, row, col))
        return SL_OK;
    *out = sl_strdup(PQgetvalue(r, row, col));
    if (!*out)
        return sl_err_set(err, SL_ENOMEM, "read catalog row: out of memory");
    return SL_OK;
}

int64_t sl_catalog_get_i64(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col))
        return 0;
    return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

int sl_catalog_get_bool(const PGresult *r, int row, int col)
{
    return !PQgetisnull(r, row, col) && PQgetvalue(r, row, col)[0] == 't';
}

static int cmp_param(const void *a, const void *b)
{
    const struct sl_catalog_param *x = a, *y = b;
    return strcmp(x->key, y->key);
}

int sl_catalog_get_params(const PGresult *r, int row, int col, struct sl_catalog_params *p,
                          struct sl_err *err)
{
    json_t *obj = NULL;
    const char *key;
    json_t *val;

    sl_catalog_params_init(p);
    if (PQgetisnull(r, row, col))
        return SL_OK;
    if (sl_catalog_json_parse_object("parameters", PQgetvalue(r, row, col), &obj, err) != SL_OK)
        return err->code;
    json_object_foreach(obj, key, val)
    {
        char *text = NULL;
        int rc;
        if (json_is_string(val))
            rc = sl_catalog_params_set(p, key, json_string_value(val), err);
        else if (json_is_null(val))
            continue;
        else if ((text = json_dumps(val, JSON_ENCODE_ANY | JSON_COMPACT)) == NULL)
            rc = sl_err_set(err, SL_ENOMEM, "read parameters: out of memory");
        else
            rc = sl_catalog_params_set(p, key, text, err);
        free(text); /* from jansson's allocator */
        if (rc != SL_OK) {
            json_decref(obj);
            sl_catalog_params_cleanup(p);
            return rc;
        }
    }
    json_decref(obj);
    if (p->n_items > 1)
        qsort(p->items, p->n_items, sizeof *p->items, cmp_param);
    return SL_OK;
}

/* ---- Names and literals ---- */

int sl_catalog_name_norm(const char *what, const char *name, size_t max, char *out,
                         struct sl_err *err)
{
    size_t n = name ? strlen(name) : 0;

    if (n == 0)
        return sl_err_set(err, SL_ECONFIG, "%s name is empty", what);
    if (n > max)
        return sl_err_set(err, SL_ECONFIG, "%s name \"%.40s...\" is longer than %zu characters",
                          what, name, max);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)tolower((unsigned char)name[i]);
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_'))
            return sl_err_set(err, SL_ECONFIG,
                              "invalid %s name \"%s\": use letters, digits and _ only", what,
                              name);
        out[i] = (char)ch;
    }
    out[n] = '\0';
    return SL_OK;
}

int sl_catalog_names_norm(const char *database, const char *table,
                          char db_out[SL_CATALOG_DB_NAME_MAX + 1],
                          char table_out[SL_CATALOG_TABLE_NAME_MAX + 1], struct sl_err *err)
{
    if (sl_catalog_name_norm("database", database, SL_CATALOG_DB_NAME_MAX, db_out, err) != SL_OK)
        return err->code;
    if (table &&
        sl_catalog_name_norm("table", table, SL_CATALOG_TABLE_NAME_MAX, table_out, err) != SL_OK)
        return err->code;
    return SL_OK;
}

int sl_catalog_text_array(struct sl_buf *b, const char *const *items, size_t n_items,
                          struct sl_err *err)
{
    if (sl_buf_putc(b, '{', err) != SL_OK)
        return err->code;
    for (size_t i = 0; i < n_items; i++) {
        const char *s = items[i] ? items[i] : "";
        if ((i && sl_buf_putc(b, ',', err) != SL_OK) || sl_buf_putc(b, '"', err) != SL_OK)
            return err->code;
        for (; *s; s++) {
            if ((*s == '"' || *s == '\\') && sl_buf_putc(b, '\\', err) != SL_OK)
                return err->code;
            if (sl_buf_putc(b, *s, err) != SL_OK)
                return err->code;
        }
        if (sl_buf_putc(b, '"', err) != SL_OK)
            return err->code;
    }
    return sl_buf_putc(b, '}', err);
}

const char *sl_catalog_i64_str(int64_t v, char *buf)
{
    snprintf(buf, 24, "%" PRId64, v);
    return buf;
}

/* ---- JSON helpers ---- */

json_t *sl_catalog_params_to_json(const struct sl_catalog_params *p)
{
    json_t *obj = json_object();

    for (size_t i = 0; obj && p && i < p->n_items; i++) {
        if (json_object_set_new(obj, p->items[i].key, json_string(p->items[i].value)) != 0) {
            json_decref(obj);
            return NULL;
        }
    }
    return obj;
}

char *sl_catalog_json_take_text(json_t *j)
{
    char *s;
    char *out;

    if (!j)
        return NULL;
    s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(j);
    if (!s)
        return NULL;
    out = sl_strdup(s);
    free(s); /* jansson's allocator */
    return out;
}

int sl_catalog_json_parse_object(const char *what, const char *text, json_t **out,
                                 struct sl_err *err)
{
    json_error_t jerr;
    json_t *j = json_loads(text ? text : "", JSON_DECODE_ANY, &jerr);

    *out = NULL;
    if (!j)
        return sl_err_set(err, SL_ECONFIG, "%s is not valid JSON: %d:%d: %s", what, jerr.line,
                          jerr.column, jerr.text);
    if (!json_is_object(j)) {
        json_decref(j);
        return sl_err_set(err, SL_ECONFIG, "%s is not a JSON object", what);
    }
    *out = j;
    return SL_OK;
}

/* ---- Parameters ---- */

void sl_catalog_params_init(struct sl_catalog_params *p)
{
    p->items = NULL;
    p->n_items = 0;
    p->cap = 0;
}

void sl_catalog_params_cleanup(struct sl_catalog_params *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n_items; i++) {
        sl_free(p->items[i].key);
        sl_free(p->items[i].value);
    }
    sl_free(p->items);
    sl_catalog_params_init(p);
}

int sl_catalog_params_set(struct sl_catalog_params *p, const char *key, const char *value,
                          struct sl_err *err)
{
    char *v = sl_strdup(value ? value : "");
    char *k = NULL;

    if (!v)
        goto oom;
    for (size_t i = 0; i < p->n_items; i++) {
        if (strcmp(p->items[i].key, key) == 0) {
            sl_free(p->items[i].value);
            p->items[i].value = v;
            return SL_OK;
        }
    }
    if (p->n_items == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 8;
        struct sl_catalog_param *items = sl_realloc(p->items, cap * sizeof *items);
        if (!items)
            goto oom;
        p->items = items;
        p->cap = cap;
    }
    k = sl_strdup(key);
    if (!k)
        goto oom;
    p->items[p->n_items].key = k;
    p->items[p->n_items].value = v;
    p->n_items++;
    return SL_OK;
oom:
    sl_free(v);
    return sl_err_set(err, SL_ENOMEM, "set parameter \"%s\": out of memory", key);
}

const char *sl_catalog_params_get(const struct sl_catalog_params *p, const char *key)
{
    for (size_t i = 0; p && i < p->n_items; i++) {
        if (strcmp(p->items[i].key, key) == 0)
            return p->items[i].value;
    }
    return NULL;
}

int sl_catalog_params_unset(struct sl_catalog_params *p, const char *key)
{
    for (size_t i = 0; i < p->n_items; i++) {
        if (strcmp(p->items[i].key, key) == 0) {
            sl_free(p->items[i].key);
            sl_free(p->items[i].value);
            memmove(&p->items[i], &p->items[i + 1], (p->n_items - i - 1) * sizeof *p->items);
            p->n_items--;
            return 1;
        }
    }
    return 0;
}

int sl_catalog_params_copy(struct sl_catalog_params *dst, const struct sl_catalog_params *src,
                           struct sl_err *err)
{
    sl_catalog_params_cleanup(dst);
    for (size_t i = 0; src && i < src->n_items; i++) {
        if (sl_catalog_params_set(dst, src->items[i].key, src->items[i].value, err) != SL_OK) {
            sl_catalog_params_cleanup(dst);
            return err->code;
        }
    }
    return SL_OK;
}

/* ---- States ---- */

const char *sl_catalog_state_name(enum sl_catalog_state s)
{
    return s == SL_CATALOG_DEPRECATED ? "deprecated" : "active";
}

/* ---- Databases ---- */

void sl_catalog_database_free(struct sl_catalog_database *d)
{
    if (!d)
        return;
    sl_catalog_database_list_free(d, 1);
}

void sl_catalog_database_list_free(struct sl_catalog_database *dbs, size_t n_dbs)
{
    if (!dbs)
        return;
    for (size_t i = 0; i < n_dbs; i++) {
        sl_free(dbs[i].name);
        sl_free(dbs[i].description);
        sl_free(dbs[i].location_uri);
        sl_catalog_params_cleanup(&dbs[i].params);
    }
    sl_free(dbs);
}

/* Fills d from a row of SL_CATALOG_SQL_DB_COLS. */
static int database_from_row(struct sl_catalog_database *d, const PGresult *r, int row,
                             struct sl_err *err)
{
    d->id = sl_catalog_get_i64(r, row, 0);
    d->created_ms = sl_catalog_get_i64(r, row, 5);
    d->updated_ms = sl_catalog_get_i64(r, row, 6);
    if (sl_catalog_get_str(r, row, 1, &d->name, err) != SL_OK ||
        sl_catalog_get_str(r, row, 2, &d->description, err) != SL_OK ||
        sl_catalog_get_str(r, row, 3, &d->location_uri, err) != SL_OK ||
        sl_catalog_get_params(r, row, 4, &d->params, err) != SL_OK)
        return err->code;
    return SL_OK;
}

int sl_catalog_database_create(struct sl_catalog *c, const struct sl_catalog_database *d,
                               struct sl_err *err)
{
    char name[SL_CATALOG_DB_NAME_MAX + 1];
    char *params = NULL;
    PGresult *r = NULL;

    if (sl_catalog_name_norm("database", d->name, SL_CATALOG_DB_NAME_MAX, name, err) != SL_OK)
        goto fail;
    params = sl_catalog_json_take_text(sl_catalog_params_to_json(&d->params));
    if (!params) {
        sl_err_set(err, SL_ENOMEM, "out of memory");
        goto fail;
    }
    const char *args[] = { name, d->description, d->location_uri, params };
    r = sl_catalog_query(c->pg, SL_CATALOG_SQL_DB_INSERT, 4, args, err);
    if (!r)
        goto fail;
    if (PQntuples(r) == 0) {
        sl_err_set(err, SL_EEXIST, "database \"%s\" already exists", name);
        goto fail;
    }
    PQclear(r);
    sl_free(params);
    return SL_OK;
fail:
    PQclear(r);
    sl_free(params);
    return sl_err_prefix(err, "create database \"%s\"", d->name ? d->name : "");
}

int sl_catalog_database_ensure(struct sl_catalog *c, const char *name, int *created,
                               struct sl_err *err)
{
    char norm[SL_CATALOG_DB_NAME_MAX + 1];
    PGresult *r = NULL;

    if (sl_catalog_name_norm("database", name, SL_CATALOG_DB_NAME_MAX, norm, err) != SL_OK)
        goto fail;
    const char *args[] = { norm };
    r = sl_catalog_query(c->pg, SL_CATALOG_SQL_DB_ENSURE, 1, args, err);
    if (!r)
        goto fail;
    if (created)
        *created = PQntuples(r) > 0;
    PQclear(r);
    return SL_OK;
fail:
    return sl_err_prefix(err, "ensure database \"%s\"", name ? name : "");
}

int sl_catalog_database_get(struct sl_catalog *c, const char *name,
                            struct sl_catalog_database **out, struct sl_err *err)
{
    char norm[SL_CATALOG_DB_NAME_MAX + 1];
    struct sl_catalog_database *d = NULL;
    PGresult *r = NULL;

    *out = NULL;
    if (sl_catalog_name_norm("database", name, SL_CATALOG_DB_NAME_MAX, norm, err) != SL_OK)
        goto fail;
    const char *args[] = { norm };
    r = sl_catalog_query(c->pg, SL_CATALOG_SQL_DB_GET, 1, args, err);
    if (!r)
        goto fail;
    if (PQntuples(r) == 0) {
        sl_err_set(err, SL_ENOTFOUND, "database \"%s\" not found", norm);
        PQclear(r);
        return err->code;
    }
    d = sl_calloc(1, sizeof *d);
    if (!d) {
        sl_err_set(err, SL_ENOMEM, "out of memory");
        goto fail;
    }
    if (database_from_row(d, r, 0, err) != SL_OK)
        goto fail;
    PQclear(r);
    *out = d;
    return SL_OK;
fail:
    PQclear(r);
    sl_catalog_database_free(d);
    return sl_err_prefix(err, "get database \"%s\"", name ? name : "");
}

int sl_catalog_database_list(struct sl_catalog *c, const char *after, size_t limit,
                             struct sl_catalog_database **out, size_t *n_out,
                             struct sl_err *err)
{
    char lim[24];
    struct sl_catalog_database *dbs = NULL;
    size_t n = 0;
    PGresult *r = NULL;

    *out = NULL;
    *n_out = 0;
    const char *args[] = { after, limit ? sl_catalog_i64_str((int64_t)limit, lim) : NULL };
    r = sl_catalog_query(c->pg, SL_CATALOG_SQL_DB_LIST, 2, args, err);
    if (!r)
        goto fail;
    dbs = sl_calloc((size_t)PQntuples(r) + 1, sizeof *dbs);
    if (!dbs) {
        sl_err_set(err, SL_ENOMEM, "out of memory");
        goto fail;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        n++;
        if (database_from_row(&dbs[i], r, i, err) != SL_OK)
            goto fail;
    }
    PQclear(r);
    *out = dbs;
    *n_out = n;
    return SL_OK;
fail:
    PQclear(r);
    sl_catalog_database_list_free(dbs, n);
    return sl_err_prefix(err, "list databases");
}

int sl_catalog_database_delete(struct sl_catalog *c, const char *name, struct sl_err *err)
{
    char norm[SL_CATALOG_DB_NAME_MAX + 1];
    PGresult *r = NULL;

    if (sl_catalog_name_norm("database", name, SL_CATALOG_DB_NAME_MAX, norm, err) != SL_OK)
        goto fail;
    const char *args[] = { norm };
    r = sl_catalog_query(c->pg, SL_CATALOG_SQL_DB_DELETE, 1, args, err);
    if (!r)
        goto fail;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return sl_err_set(err, SL_ENOTFOUND, "delete database: database \"%s\" not found", norm);
    }
    PQclear(r);
    return SL_OK;
fail:
    return sl_err_prefix(err, "delete database \"%s\"", name ? name : "");
}
