/*
 * runtime/pgload.c - the life of a load into PostgreSQL (see pgload.h):
 * connecting (the target's URI, SLUICE_CATALOG or the embedded cluster), the
 * run's advisory lock and the cleanup of staging tables whose run is gone,
 * introspecting the target and matching the rows' columns to it, creating
 * the staging table, and the one publish transaction per mode (including the
 * overwrite swap and its fallback). COPY streams and value checks are in
 * pgload_copy.c, SQL text in pgload_sql.h and pgload_sql.c, target URIs in
 * pgload_target.c.
 *
 * Lock protocol: the coordinator's connection takes
 * pg_advisory_lock_shared(key(run id)) before it creates anything and keeps
 * it until sl_pgload_free closes the connection (or the process dies, which
 * makes the server end the session). Cleanup in a later begin lists
 * "_sluice_stage_%" tables in the target schema, reads the key out of each
 * name and drops the table only when pg_try_advisory_lock(key) succeeds, i.e.
 * when no session of that run is left. Shared, because one run may hold
 * several loads at once (one per write); they must not block each other.
 */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"
#include "log.h"
#include "pgembed.h"
#include "pgload_internal.h"
#include "pgload_sql.h"

#define STAGE_TRIES 100 /* names tried when a staging name is taken */

/* The n of the staging tables this process creates ("_sluice_stage_<run>_<n>_<key>"). */
static atomic_ulong stage_counter;

/* ---- Connections and queries ---- */

static void quiet_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

PGconn *pgl_connect(const char *conninfo, const char *app_name, struct sl_err *err)
{
    /* dbname expands conninfo: its settings override connect_timeout, while
     * the application name and encoding after it are ours */
    const char *keys[] = {"connect_timeout", "dbname", "application_name", "client_encoding", NULL};
    const char *vals[] = {"10", conninfo, app_name, "UTF8", NULL};
    PGconn *pg = PQconnectdbParams(keys, vals, 1);
    char why[400];

    if (!pg) {
        sl_err_set(err, SL_ENOMEM, "could not connect: out of memory");
        return NULL;
    }
    if (PQstatus(pg) != CONNECTION_OK) {
        const char *host = PQhost(pg);
        sl_redact_line(PQerrorMessage(pg), why, sizeof why);
        /* described by its parts: the raw string may hold a password */
        sl_err_set(err, SL_ETRANSIENT, "could not connect (host=%s port=%s dbname=%s user=%s): %s",
                   host && *host ? host : "(default)", PQport(pg) ? PQport(pg) : "",
                   PQdb(pg) ? PQdb(pg) : "", PQuser(pg) ? PQuser(pg) : "", why);
        PQfinish(pg);
        return NULL;
    }
    PQsetNoticeProcessor(pg, quiet_notice, NULL);
    return pg;
}

static enum sl_code code_of_state(const char *st)
{
    if (!st || strlen(st) != 5)
        return SL_EIO;
    if (strcmp(st, "42501") == 0)
        return SL_EACCESS;
    if (strcmp(st, "42P07") == 0)
        return SL_EEXIST;
    if (strcmp(st, "42P01") == 0)
        return SL_ENOTFOUND;
    if (strncmp(st, "08", 2) == 0 || strncmp(st, "40", 2) == 0 || strncmp(st, "53", 2) == 0 ||
        strncmp(st, "57", 2) == 0 || strncmp(st, "58", 2) == 0 || strcmp(st, "55P03") == 0)
        return SL_ETRANSIENT;
    if (strncmp(st, "22", 2) == 0 || strncmp(st, "23", 2) == 0 || strncmp(st, "42", 2) == 0 ||
        strncmp(st, "2B", 2) == 0)
        return SL_ECONFIG;
    return SL_EIO;
}

PGresult *pgl_query(PGconn *pg, const char *what, const char *sql, int n, const char *const *params,
                    struct sl_err *err)
{
    /* without parameters: the simple protocol, which runs several statements */
    PGresult *r = n ? PQexecParams(pg, sql, n, NULL, params, NULL, NULL, 0) : PQexec(pg, sql);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    char why[400];

    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
        return r;
    if (!r || PQstatus(pg) != CONNECTION_OK) {
        sl_redact_line(PQerrorMessage(pg), why, sizeof why);
        sl_err_set(err, SL_ETRANSIENT, "%s: could not run: %s", what,
                   why[0] ? why : "connection lost");
    } else {
        const char *primary = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        sl_redact_line(primary ? primary : PQresultErrorMessage(r), why, sizeof why);
        sl_err_set(err, code_of_state(state), "%s: %s (SQLSTATE %s)", what, why,
                   state ? state : "?");
    }
    PQclear(r);
    return NULL;
}

int pgl_exec(PGconn *pg, const char *what, const char *sql, int n, const char *const *params,
             struct sl_err *err)
{
    PGresult *r = pgl_query(pg, what, sql, n, params, err);
    if (!r)
        return err ? err->code : SL_EIO;
    PQclear(r);
    return SL_OK;
}

/* Connects the coordinator: conninfo, else SLUICE_CATALOG, else the embedded
 * cluster (started when it does not answer). *resolved gets the connection
 * string the streams will use (owned). */
static PGconn *connect_main(const char *conninfo, const char *app_name, char **resolved,
                            struct sl_err *err)
{
    const char *env = getenv("SLUICE_CATALOG");
    struct sl_pgembed *pe = NULL;
    struct sl_err first = {0};
    PGconn *pg = NULL;

    *resolved = NULL;
    if (!(conninfo && *conninfo) && !(env && *env)) {
        pe = sl_pgembed_new(err);
        if (!pe)
            return NULL;
        pg = pgl_connect(sl_pgembed_peek_conninfo(pe), app_name, &first);
        if (!pg && sl_pgembed_start(pe, err) == SL_OK)
            pg = pgl_connect(sl_pgembed_peek_conninfo(pe), app_name, err);
        if (pg)
            *resolved = sl_strdup(sl_pgembed_peek_conninfo(pe));
        else
            sl_err_prefix(err, "embedded database in \"%s\"", sl_pgembed_peek_home(pe));
        sl_pgembed_free(pe);
    } else {
        const char *ci = conninfo && *conninfo ? conninfo : env;
        pg = pgl_connect(ci, app_name, err);
        if (pg)
            *resolved = sl_strdup(ci);
    }
    if (pg && !*resolved) {
        sl_err_set(err, SL_ENOMEM, "out of memory");
        PQfinish(pg);
        return NULL;
    }
    return pg;
}

/* ---- Stale staging tables ---- */

/* Drops staging tables in the target schema whose run holds no lock any more.
 * Best effort: a table we may not drop (another owner) stays. */
static int drop_stale(struct sl_pgload *l, struct sl_err *err)
{
    const char *params[2] = {l->schema, "\\_sluice\\_stage\\_%"};
    PGresult *r = pgl_query(l->pg, "list staging tables", SL_PGLOAD_SQL_STAGES, 2, params, err);
    bool timeout_set = false;

    if (!r)
        return err->code;
    for (int i = 0; i < PQntuples(r); i++) {
        const char *name = PQgetvalue(r, i, 0);
        char key_text[24], *q = NULL, *sql = NULL;
        const char *kp[1] = {key_text};
        struct sl_err e2 = {0};
        int64_t key;
        PGresult *lr;

        if (!pgl_stage_key(name, &key) || strcmp(name, l->stage ? l->stage : "") == 0)
            continue;
        snprintf(key_text, sizeof key_text, "%" PRId64, key);
        lr = pgl_query(l->pg, "lock", SL_PGLOAD_SQL_TRY_LOCK, 1, kp, &e2);
        bool got = lr && PQntuples(lr) == 1 && PQgetvalue(lr, 0, 0)[0] == 't';
        PQclear(lr);
        if (!got)
            continue;     /* its run is alive */
        if (!timeout_set) /* a reader of the dead run's table must not stall us */
            timeout_set =
                pgl_exec(l->pg, "lock timeout", SL_PGLOAD_SQL_LOCK_TIMEOUT, 0, NULL, &e2) == SL_OK;
        q = pgl_quote_ident(name);
        sql = q ? sl_asprintf("DROP TABLE IF EXISTS %s.%s", l->q_schema, q) : NULL;
        if (sql)
            (void)pgl_exec(l->pg, "drop stale staging table", sql, 0, NULL, &e2);
        sl_free(sql);
        sl_free(q);
        (void)pgl_exec(l->pg, "unlock", SL_PGLOAD_SQL_UNLOCK, 1, kp, &e2);
    }
    PQclear(r);
    if (timeout_set) {
        struct sl_err e3 = {0};
        (void)pgl_exec(l->pg, "lock timeout", SL_PGLOAD_SQL_LOCK_TIMEOUT_RESET, 0, NULL, &e3);
    }
    return SL_OK;
}

/* ---- Target columns ---- */

struct tcol {         /* a target column as introspected */
    const char *name; /* borrowed from the result */
    const char *type; /* format_type */
    uint32_t base_oid;
    int32_t typmod;
    bool not_null, generated, has_default;
    char identity;       /* 'a', 'd' or 0 */
    const char *def;     /* default expression or NULL */
    const char *collate; /* "COLLATE ..." or NULL */
    bool used;
};

static enum pgl_kind kind_of(uint32_t oid)
{
    switch (oid) {
    case 16: return PGL_BOOL;
    case 17: return PGL_BYTEA;
    case 20: return PGL_INT8;
    case 21: return PGL_INT2;
    case 23: return PGL_INT4;
    case 25:
    case 1042:
    case 1043: return PGL_TEXT;
    case 114: return PGL_JSON;
    case 700: return PGL_FLOAT4;
    case 701: return PGL_FLOAT8;
    case 1082: return PGL_DATE;
    case 1114: return PGL_TS;
    case 1184: return PGL_TSTZ;
    case 1700: return PGL_NUMERIC;
    case 2950: return PGL_UUID;
    case 3802: return PGL_JSONB;
    default: return PGL_OTHER;
    }
}

/* The kind of a column created from an engine type. */
static enum pgl_kind kind_of_mapped(enum sl_vtype t)
{
    switch (t) {
    case SL_V_BOOL: return PGL_BOOL;
    case SL_V_INT: return PGL_INT8;
    case SL_V_DOUBLE: return PGL_FLOAT8;
    case SL_V_DATE: return PGL_DATE;
    case SL_V_TIMESTAMP: return PGL_TSTZ;
    case SL_V_BINARY: return PGL_BYTEA;
    case SL_V_JSON: return PGL_JSONB;
    default: return PGL_TEXT;
    }
}

/* Can values of engine type t go into a column of kind k at all? Per-value
 * checks (ranges, parsing) come later, in pgload_copy.c. */
static bool compatible(enum sl_vtype t, enum pgl_kind k)
{
    if (t == SL_V_NULL || t == SL_V_STRING || k == PGL_OTHER)
        return true;
    switch (t) {
    case SL_V_BOOL: return k == PGL_BOOL || k == PGL_TEXT || k == PGL_JSON || k == PGL_JSONB;
    case SL_V_INT:
    case SL_V_DOUBLE:
        return k == PGL_INT2 || k == PGL_INT4 || k == PGL_INT8 || k == PGL_FLOAT4 ||
               k == PGL_FLOAT8 || k == PGL_NUMERIC || k == PGL_TEXT || k == PGL_JSON ||
               k == PGL_JSONB;
    case SL_V_DATE: return k == PGL_DATE || k == PGL_TS || k == PGL_TSTZ || k == PGL_TEXT;
    case SL_V_TIMESTAMP: return k == PGL_TS || k == PGL_TSTZ || k == PGL_TEXT;
    case SL_V_BINARY: return k == PGL_BYTEA;
    case SL_V_JSON: return k == PGL_JSON || k == PGL_JSONB || k == PGL_TEXT;
    default: return false;
    }
}

static void set_typmod(struct pgl_col *c, int32_t typmod)
{
    c->max_chars = -1;
    c->num_prec = -1;
    c->num_scale = 0;
    if (c->kind == PGL_TEXT && typmod >= 4)
        c->max_chars = typmod - 4;
    if (c->kind == PGL_NUMERIC && typmod >= 4) {
        int32_t tm = typmod - 4;
        c->num_prec = (tm >> 16) & 0xffff;
        c->num_scale = ((tm & 0x7ff) ^ 1024) - 1024; /* 11-bit signed since PostgreSQL 15 */
    }
}

/* Finds the target column for the rows' column name: the exact name, else the
 * one column equal ignoring ASCII case that no rows' column names exactly. */
static struct tcol *match(struct tcol *tc, size_t n_tc, const char *name,
                          const struct sl_rschema *rs)
{
    struct tcol *found = NULL;
    for (size_t i = 0; i < n_tc; i++) {
        if (strcmp(tc[i].name, name) == 0)
            return &tc[i];
    }
    for (size_t i = 0; i < n_tc; i++) {
        if (strcasecmp(tc[i].name, name) != 0 ||
            sl_rschema_find(rs, tc[i].name, strlen(tc[i].name)) >= 0)
            continue;
        if (found)
            return NULL; /* ambiguous */
        found = &tc[i];
    }
    return found;
}

/* Fills the load's columns from the target (res: SL_PGLOAD_SQL_COLUMNS) and
 * checks what begin promises to check. */
static int match_columns(struct sl_pgload *l, const struct sl_pgload_opts *o,
                         const struct sl_rschema *rs, PGresult *res, struct tcol *tc,
                         struct sl_err *err)
{
    size_t n_tc = (size_t)PQntuples(res);

    for (size_t i = 0; i < n_tc; i++) {
        tc[i].name = PQgetvalue(res, (int)i, 0);
        tc[i].type = PQgetvalue(res, (int)i, 1);
        tc[i].base_oid = (uint32_t)strtoul(PQgetvalue(res, (int)i, 2), NULL, 10);
        tc[i].typmod = (int32_t)strtol(PQgetvalue(res, (int)i, 3), NULL, 10);
        tc[i].not_null = PQgetvalue(res, (int)i, 4)[0] == 't';
        tc[i].generated = PQgetvalue(res, (int)i, 5)[0] == 't';
        tc[i].identity = PQgetvalue(res, (int)i, 6)[0];
        tc[i].has_default = !PQgetisnull(res, (int)i, 7);
        tc[i].def = tc[i].has_default ? PQgetvalue(res, (int)i, 7) : NULL;
        tc[i].collate = PQgetisnull(res, (int)i, 8) ? NULL : PQgetvalue(res, (int)i, 8);
    }
    for (size_t i = 0; i < l->n_cols; i++) {
        struct pgl_col *c = &l->cols[i];
        struct tcol *t = match(tc, n_tc, c->name, rs);
        if (!t || t->used) {
            if (!o->add_columns)
                return sl_err_set(err, SL_ECONFIG,
                                  "column \"%s\" is not in target %s.%s "
                                  "(write{add_columns = true} adds it)",
                                  c->name, l->schema, l->table);
            c->is_new = true;
            c->kind = kind_of_mapped(c->vtype);
            set_typmod(c, -1);
            c->type_name = sl_strdup(pgl_mapped_type(c->vtype, SL_PGLOAD_POSTGRES));
            c->ddl_type = sl_strdup(c->type_name ? c->type_name : "");
            c->qname = pgl_quote_ident(c->name);
            if (!c->type_name || !c->ddl_type || !c->qname)
                return sl_err_set(err, SL_ENOMEM, "out of memory");
            continue;
        }
        t->used = true;
        if (t->generated || t->identity == 'a')
            return sl_err_set(err, SL_ECONFIG,
                              "column \"%s\" of target %s.%s is %s: it cannot be written", t->name,
                              l->schema, l->table,
                              t->generated ? "generated" : "GENERATED ALWAYS AS IDENTITY");
        c->kind = kind_of(t->base_oid);
        set_typmod(c, t->typmod);
        c->not_null = t->not_null;
        c->type_name = sl_strdup(t->type);
        c->ddl_type =
            sl_asprintf("%s%s%s", t->type, t->collate ? " " : "", t->collate ? t->collate : "");
        c->qname = pgl_quote_ident(t->name);
        if (!c->type_name || !c->ddl_type || !c->qname)
            return sl_err_set(err, SL_ENOMEM, "out of memory");
        if (!compatible(c->vtype, c->kind))
            return sl_err_set(err, SL_ECONFIG,
                              "column \"%s\" is %s in the rows but %s in target %s.%s: "
                              "a %s cannot go into %s",
                              c->name, sl_vtype_name(c->vtype), t->type, l->schema, l->table,
                              sl_vtype_name(c->vtype), t->type);
    }
    for (size_t i = 0; i < n_tc; i++) {
        if (!tc[i].used && tc[i].not_null && !tc[i].has_default && !tc[i].identity &&
            !tc[i].generated)
            return sl_err_set(err, SL_ECONFIG,
                              "column \"%s\" of target %s.%s is NOT NULL without a default, "
                              "and the rows lack it",
                              tc[i].name, l->schema, l->table);
    }
    return SL_OK;
}

/* ---- Staging table ---- */

/* CREATE [UNLOGGED] TABLE staging (...): the swap copy of the target (every
 * target column with its type, collation, NOT NULL and default, then the new
 * ones), or the rows' columns (+ "_sluice_seq" for merge). */
static int stage_ddl(struct sl_pgload *l, struct sl_buf *b, const struct tcol *tc, size_t n_tc,
                     bool unlogged, struct sl_err *err)
{
    bool first = true;
    int rc = sl_buf_printf(b, err, "CREATE %sTABLE %s (", unlogged ? "UNLOGGED " : "", l->q_stage);

    if (l->swap) {
        for (size_t i = 0; rc == SL_OK && i < n_tc; i++) {
            rc = sl_buf_puts(b, first ? "" : ", ", err);
            first = false;
            if (rc == SL_OK)
                rc = pgl_put_ident(b, tc[i].name, err);
            if (rc == SL_OK)
                rc = sl_buf_printf(b, err, " %s%s%s%s%s%s", tc[i].type, tc[i].collate ? " " : "",
                                   tc[i].collate ? tc[i].collate : "",
                                   tc[i].not_null ? " NOT NULL" : "", tc[i].def ? " DEFAULT " : "",
                                   tc[i].def ? tc[i].def : "");
        }
    }
    for (size_t i = 0; rc == SL_OK && i < l->n_cols; i++) {
        const struct pgl_col *c = &l->cols[i];
        if (l->swap && !c->is_new)
            continue;
        rc = sl_buf_printf(b, err, "%s%s %s", first ? "" : ", ", c->qname, c->ddl_type);
        first = false;
    }
    if (rc == SL_OK && l->mode == SL_PGLOAD_MERGE)
        rc = sl_buf_puts(b, ", \"" PGL_SEQ_COL "\" bigint", err);
    if (rc == SL_OK)
        rc = sl_buf_puts(b, ")", err);
    return rc;
}

static int create_stage(struct sl_pgload *l, const char *run_id, const char *hex,
                        const struct tcol *tc, size_t n_tc, bool unlogged, struct sl_err *err)
{
    char name[PGL_NAME_MAX + 1];
    struct sl_buf b;
    int rc = SL_ECONFIG;

    sl_buf_init(&b, 0);
    for (int attempt = 0; attempt < STAGE_TRIES; attempt++) {
        unsigned long n = atomic_fetch_add(&stage_counter, 1) + 1;
        pgl_stage_name(run_id, n, hex, name, sizeof name);
        sl_free(l->stage);
        sl_free(l->q_stage);
        sl_free(l->suffix);
        char *q = pgl_quote_ident(name);
        l->stage = sl_strdup(name);
        l->q_stage = q ? sl_asprintf("%s.%s", l->q_schema, q) : NULL;
        l->suffix = sl_asprintf("%lu_%s", n, hex);
        sl_free(q);
        if (!l->stage || !l->q_stage || !l->suffix) {
            rc = sl_err_set(err, SL_ENOMEM, "out of memory");
            break;
        }
        sl_buf_reset(&b);
        rc = stage_ddl(l, &b, tc, n_tc, unlogged, err);
        if (rc != SL_OK)
            break;
        rc = pgl_exec(l->pg, "create staging table", b.data, 0, NULL, err);
        if (rc != SL_EEXIST)
            break;
    }
    sl_buf_cleanup(&b);
    if (rc == SL_OK)
        l->stage_made = true;
    return rc;
}

/* ---- Begin ---- */

/* Is the target empty now? (false when we may not look) */
static bool target_empty(struct sl_pgload *l)
{
    struct sl_err e = {0};
    char *sql = sl_asprintf("SELECT NOT EXISTS (SELECT 1 FROM %s)", l->q_target);
    PGresult *r = sql ? pgl_query(l->pg, "check the target is empty", sql, 0, NULL, &e) : NULL;
    bool empty = r && PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    sl_free(sql);
    return empty;
}

static int check_opts(const struct sl_pgload_target *t, const struct sl_pgload_opts *o,
                      const struct sl_rschema *rs, struct sl_err *err)
{
    if (!t || !t->schema || !t->table || !*t->schema || !*t->table)
        return sl_err_set(err, SL_ECONFIG, "no target table");
    if (t->dialect == SL_PGLOAD_REDSHIFT)
        return sl_err_set(err, SL_ECONFIG,
                          "Redshift loads go through S3 (see sl_pgload_redshift_sql)");
    if (!o->run_id || !*o->run_id)
        return sl_err_set(err, SL_ECONFIG, "no run id");
    if (!rs || rs->n_cols == 0)
        return sl_err_set(err, SL_ECONFIG, "the rows have no columns");
    for (size_t i = 0; i < rs->n_cols; i++) {
        const char *n = rs->names[i];
        if (!n || !*n || strlen(n) > PGL_NAME_MAX || !pgl_utf8_valid(n, strlen(n)))
            return sl_err_set(err, SL_ECONFIG, "column %zu: a name must be 1 to %d bytes of UTF-8",
                              i + 1, PGL_NAME_MAX);
        if (o->mode == SL_PGLOAD_MERGE &&
            (strcmp(n, PGL_SEQ_COL) == 0 || strcmp(n, PGL_RN_COL) == 0))
            return sl_err_set(err, SL_ECONFIG, "column \"%s\": the name is reserved for merges", n);
        for (size_t k = 0; k < i; k++) {
            if (strcmp(rs->names[k], n) == 0)
                return sl_err_set(err, SL_ECONFIG, "column \"%s\" appears twice", n);
        }
    }
    if (o->mode == SL_PGLOAD_MERGE) {
        if (o->n_keys == 0 || !o->keys)
            return sl_err_set(err, SL_ECONFIG, "merge needs keys (write{keys = {...}})");
        for (size_t k = 0; k < o->n_keys; k++) {
            const char *key = o->keys[k] ? o->keys[k] : "";
            if (sl_rschema_find(rs, key, strlen(key)) < 0)
                return sl_err_set(err, SL_ECONFIG, "merge key \"%s\" is not a column of the rows",
                                  key);
        }
    }
    return SL_OK;
}

int sl_pgload_begin(const struct sl_pgload_target *t, const struct sl_pgload_opts *o,
                    const struct sl_rschema *schema, struct sl_pgload **out, struct sl_err *err)
{
    struct sl_pgload *l = NULL;
    PGresult *res = NULL, *cres = NULL;
    struct tcol *tc = NULL;
    size_t n_tc = 0;
    char hex[PGL_KEY_HEX + 1], key_text[24], oid_text[16];
    const char *kp[1] = {key_text};
    int rc;

    *out = NULL;
    if ((rc = check_opts(t, o, schema, err)) != SL_OK)
        goto fail_early;
    l = sl_calloc(1, sizeof *l);
    if (!l)
        goto oom;
    l->mode = o->mode;
    l->in_publish = o->in_publish;
    l->in_publish_ud = o->in_publish_ud;
    l->n_cols = schema->n_cols;
    l->cols = sl_calloc(schema->n_cols, sizeof *l->cols);
    l->keys = sl_calloc(o->n_keys ? o->n_keys : 1, sizeof *l->keys);
    l->schema = sl_strdup(t->schema);
    l->table = sl_strdup(t->table);
    l->q_schema = pgl_quote_ident(t->schema);
    l->q_table = pgl_quote_ident(t->table);
    l->app_name = sl_asprintf("sluice load%s%s", o->job ? " " : "", o->job ? o->job : "");
    if (!l->cols || !l->keys || !l->schema || !l->table || !l->q_schema || !l->q_table ||
        !l->app_name)
        goto oom;
    l->q_target = sl_asprintf("%s.%s", l->q_schema, l->q_table);
    if (!l->q_target)
        goto oom;
    for (size_t i = 0; i < l->n_cols; i++) {
        l->cols[i].name = sl_strdup(schema->names[i]);
        l->cols[i].vtype = schema->types[i];
        if (!l->cols[i].name)
            goto oom;
    }
    if (o->mode == SL_PGLOAD_MERGE) {
        l->n_keys = o->n_keys;
        for (size_t k = 0; k < o->n_keys; k++)
            l->keys[k] = (size_t)sl_rschema_find(schema, o->keys[k], strlen(o->keys[k]));
    }

    l->pg = connect_main(t->conninfo, l->app_name, &l->conninfo, err);
    if (!l->pg) {
        rc = err->code;
        goto fail;
    }
    l->server_version = PQserverVersion(l->pg);
    if (pgl_lock_key(o->run_id, &l->lock_key, hex) != SL_OK)
        goto oom;
    snprintf(key_text, sizeof key_text, "%" PRId64, l->lock_key);
    if ((rc = pgl_exec(l->pg, "take the run's lock", SL_PGLOAD_SQL_LOCK, 1, kp, err)) != SL_OK)
        goto fail;
    if ((rc = drop_stale(l, err)) != SL_OK)
        goto fail;

    {
        const char *p2[2] = {l->schema, l->table};
        res = pgl_query(l->pg, "look up the target", SL_PGLOAD_SQL_TARGET, 2, p2, err);
    }
    if (!res) {
        rc = err->code;
        goto fail;
    }
    l->target_exists = PQntuples(res) > 0;
    bool unlogged = true;
    if (!l->target_exists) {
        const char *p1[1] = {l->schema};
        PGresult *sr;
        if (!o->create) {
            rc = sl_err_set(err, SL_ECONFIG,
                            "target %s.%s does not exist (write{create = true} creates it)",
                            l->schema, l->table);
            goto fail;
        }
        sr = pgl_query(l->pg, "look up the schema", SL_PGLOAD_SQL_SCHEMA, 1, p1, err);
        if (!sr) {
            rc = err->code;
            goto fail;
        }
        bool has_schema = PQntuples(sr) > 0;
        PQclear(sr);
        if (!has_schema) {
            rc = sl_err_set(err, SL_ECONFIG, "schema \"%s\" does not exist", l->schema);
            goto fail;
        }
        for (size_t i = 0; i < l->n_cols; i++) {
            struct pgl_col *c = &l->cols[i];
            c->is_new = true;
            c->kind = kind_of_mapped(c->vtype);
            set_typmod(c, -1);
            c->type_name = sl_strdup(pgl_mapped_type(c->vtype, SL_PGLOAD_POSTGRES));
            c->ddl_type = sl_strdup(c->type_name ? c->type_name : "");
            c->qname = pgl_quote_ident(c->name);
            if (!c->type_name || !c->ddl_type || !c->qname)
                goto oom;
        }
        /* built in place: the staging table becomes the target (merge inserts) */
        unlogged = o->mode == SL_PGLOAD_MERGE;
    } else {
        char relkind = PQgetvalue(res, 0, 1)[0];
        bool target_unlogged = PQgetvalue(res, 0, 2)[0] == 'u';
        if (relkind != 'r' && relkind != 'p') {
            rc = sl_err_set(err, SL_ECONFIG, "target %s.%s is not a table (relkind '%c')",
                            l->schema, l->table, relkind);
            goto fail;
        }
        l->target_oid = (uint32_t)strtoul(PQgetvalue(res, 0, 0), NULL, 10);
        snprintf(oid_text, sizeof oid_text, "%" PRIu32, l->target_oid);
        const char *p1[1] = {oid_text};
        cres = pgl_query(l->pg, "read the target's columns", SL_PGLOAD_SQL_COLUMNS, 1, p1, err);
        if (!cres) {
            rc = err->code;
            goto fail;
        }
        n_tc = (size_t)PQntuples(cres);
        tc = sl_calloc(n_tc ? n_tc : 1, sizeof *tc);
        if (!tc)
            goto oom;
        if ((rc = match_columns(l, o, schema, cres, tc, err)) != SL_OK)
            goto fail;
        if (o->mode == SL_PGLOAD_OVERWRITE || (o->mode == SL_PGLOAD_APPEND && target_empty(l))) {
            PGresult *br = pgl_query(l->pg, "check what depends on the target",
                                     SL_PGLOAD_SQL_SWAP_BLOCKER, 1, p1, err);
            if (!br) {
                rc = err->code;
                goto fail;
            }
            l->swap = PQntuples(br) == 1 && PQgetisnull(br, 0, 0);
            PQclear(br);
        }
        if (l->swap) {
            PGresult *gr =
                pgl_query(l->pg, "read the target's columns", SL_PGLOAD_SQL_COL_SIG, 1, p1, err);
            if (!gr) {
                rc = err->code;
                goto fail;
            }
            l->col_sig = sl_strdup(PQgetvalue(gr, 0, 0));
            PQclear(gr);
            if (!l->col_sig)
                goto oom;
            unlogged = target_unlogged;
        }
    }
    if ((rc = create_stage(l, o->run_id, hex, tc, n_tc, unlogged, err)) != SL_OK)
        goto fail;
    {
        struct sl_buf b;
        sl_buf_init(&b, 0);
        rc = sl_buf_printf(&b, err, "COPY %s (", l->q_stage);
        if (rc == SL_OK)
            rc = pgl_put_cols(&b, l->cols, l->n_cols, l->mode == SL_PGLOAD_MERGE, err);
        if (rc == SL_OK)
            rc = sl_buf_puts(&b, ") FROM STDIN (FORMAT text)", err);
        l->copy_sql = rc == SL_OK ? sl_buf_take(&b, NULL) : NULL;
        sl_buf_cleanup(&b);
        if (!l->copy_sql)
            goto oom;
    }
    PQclear(res);
    PQclear(cres);
    sl_free(tc);
    *out = l;
    return SL_OK;
oom:
    rc = sl_err_set(err, SL_ENOMEM, "out of memory");
fail:
    PQclear(res);
    PQclear(cres);
    sl_free(tc);
    sl_pgload_free(l);
fail_early:
    sl_err_prefix(err, "load into %s.%s", t && t->schema ? t->schema : "?",
                  t && t->table ? t->table : "?");
    return rc;
}

/* ---- Publish ---- */

static int add_columns(struct sl_pgload *l, struct sl_err *err)
{
    for (size_t i = 0; i < l->n_cols; i++) {
        const struct pgl_col *c = &l->cols[i];
        if (!c->is_new)
            continue;
        char *sql = sl_asprintf("ALTER TABLE %s ADD COLUMN IF NOT EXISTS %s %s", l->q_target,
                                c->qname, c->type_name);
        if (!sql)
            return sl_err_set(err, SL_ENOMEM, "out of memory");
        int rc = pgl_exec(l->pg, "add a column", sql, 0, NULL, err);
        sl_free(sql);
        if (rc != SL_OK)
            return rc;
    }
    return SL_OK;
}

/* Runs the statements of b (simple protocol); *n_rows gets the last one's
 * row count when not NULL. */
static int run_text(struct sl_pgload *l, const char *what, struct sl_buf *b, uint64_t *n_rows,
                    struct sl_err *err)
{
    PGresult *r = pgl_query(l->pg, what, b->data, 0, NULL, err);
    if (!r)
        return err->code;
    if (n_rows)
        *n_rows = strtoull(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return SL_OK;
}

static int publish_insert(struct sl_pgload *l, uint64_t *n_rows, struct sl_err *err)
{
    struct sl_buf b;
    sl_buf_init(&b, 0);
    int rc = pgl_put_insert(&b, l->q_target, l->q_stage, l->cols, l->n_cols, err);
    if (rc == SL_OK)
        rc = run_text(l, "insert the rows", &b, n_rows, err);
    sl_buf_cleanup(&b);
    return rc;
}

static int publish_merge(struct sl_pgload *l, uint64_t *n_rows, struct sl_err *err)
{
    struct sl_buf b;
    char *stage_rel = pgl_quote_ident(l->stage);
    int rc;

    if (!stage_rel)
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    sl_buf_init(&b, 0);
    rc = sl_buf_printf(&b, err, "ANALYZE %s;\n", l->q_stage);
    if (rc == SL_OK)
        rc = pgl_put_merge(&b, l->q_target, l->q_stage, l->q_table, stage_rel, l->cols, l->n_cols,
                           l->keys, l->n_keys, err);
    if (rc == SL_OK)
        rc = run_text(l, "merge the rows", &b, n_rows, err);
    sl_buf_cleanup(&b);
    sl_free(stage_rel);
    return rc;
}

/* Replaces the target by the staging table, with the target's constraints,
 * indexes, owner, options, comments, grants and sequences rebuilt on it. Runs
 * inside the publish transaction; on failure the caller rolls back to its
 * savepoint. */
static int swap(struct sl_pgload *l, struct sl_err *err)
{
    char oid_text[16];
    PGresult *plan;
    int rc = SL_OK;

    snprintf(oid_text, sizeof oid_text, "%" PRIu32, l->target_oid);
    const char *p4[4] = {oid_text, l->q_stage, l->q_target, l->suffix};
    plan = pgl_query(l->pg, "plan the swap", SL_PGLOAD_SQL_SWAP_PLAN, 4, p4, err);
    if (!plan)
        return err->code;
    for (int i = 0; rc == SL_OK && i < PQntuples(plan); i++) {
        if (PQgetisnull(plan, i, 2))
            rc = sl_err_set(err, SL_ECONFIG, "cannot rebuild an index definition");
        else
            rc = pgl_exec(l->pg, "rebuild the target's definition", PQgetvalue(plan, i, 2), 0, NULL,
                          err);
    }
    if (rc == SL_OK) {
        char *sql = sl_asprintf("DROP TABLE %s;\nALTER TABLE %s RENAME TO %s", l->q_target,
                                l->q_stage, l->q_table);
        rc = sql ? pgl_exec(l->pg, "swap the tables", sql, 0, NULL, err)
                 : sl_err_set(err, SL_ENOMEM, "out of memory");
        sl_free(sql);
    }
    for (int i = 0; rc == SL_OK && i < PQntuples(plan); i++) {
        if (!PQgetisnull(plan, i, 3))
            rc = pgl_exec(l->pg, "rename", PQgetvalue(plan, i, 3), 0, NULL, err);
    }
    PQclear(plan);
    return rc;
}

/* The swap, when the target still allows it: nothing depends on it, its
 * columns are as at begin and, for append, it is still empty (the caller
 * holds ACCESS EXCLUSIVE). *swapped says whether it happened; when it did
 * not, the transaction is as before and the caller takes the plain way. */
static int try_swap(struct sl_pgload *l, uint64_t *n_rows, bool *swapped, struct sl_err *err)
{
    char oid_text[16];
    const char *p1[1] = {oid_text};
    struct sl_err swap_err = {0};
    int rc;

    *swapped = false;
    snprintf(oid_text, sizeof oid_text, "%" PRIu32, l->target_oid);
    PGresult *br = pgl_query(l->pg, "check what depends on the target", SL_PGLOAD_SQL_SWAP_BLOCKER,
                             1, p1, err);
    PGresult *gr =
        br ? pgl_query(l->pg, "read the target's columns", SL_PGLOAD_SQL_COL_SIG, 1, p1, err)
           : NULL;
    bool can = br && gr && PQntuples(br) == 1 && PQgetisnull(br, 0, 0) &&
               strcmp(PQgetvalue(gr, 0, 0), l->col_sig) == 0;
    PQclear(br);
    PQclear(gr);
    if (!br || !gr)
        return err->code;
    if (can && l->mode == SL_PGLOAD_APPEND) {
        char *sql = sl_asprintf("SELECT NOT EXISTS (SELECT 1 FROM %s)", l->q_target);
        PGresult *er =
            sql ? pgl_query(l->pg, "check the target is empty", sql, 0, NULL, err) : NULL;
        sl_free(sql);
        if (!er)
            return sql ? err->code : sl_err_set(err, SL_ENOMEM, "out of memory");
        can = PQgetvalue(er, 0, 0)[0] == 't';
        PQclear(er);
    }
    if (!can)
        return SL_OK;
    if ((rc = pgl_exec(l->pg, "savepoint", SL_PGLOAD_SQL_SAVEPOINT, 0, NULL, err)) != SL_OK)
        return rc;
    if (swap(l, &swap_err) == SL_OK) {
        *swapped = true;
        *n_rows = atomic_load(&l->n_committed);
        return pgl_exec(l->pg, "release savepoint", SL_PGLOAD_SQL_RELEASE, 0, NULL, err);
    }
    /* whatever stopped the swap (a permission, an object we did not foresee),
     * the plain way may still work */
    return pgl_exec(l->pg, "roll back the swap", SL_PGLOAD_SQL_ROLLBACK_TO, 0, NULL, err);
}

/* Overwrite without a swap: TRUNCATE (DELETE when foreign keys point at the
 * target, which TRUNCATE refuses) + INSERT. */
static int publish_replace(struct sl_pgload *l, uint64_t *n_rows, struct sl_err *err)
{
    char oid_text[16];
    int rc;

    snprintf(oid_text, sizeof oid_text, "%" PRIu32, l->target_oid);
    if ((rc = add_columns(l, err)) != SL_OK)
        return rc;
    char *sql = sl_asprintf("SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint"
                            " WHERE confrelid = %s::oid AND contype = 'f')",
                            oid_text);
    if (!sql)
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    PGresult *fr = pgl_query(l->pg, "check foreign keys", sql, 0, NULL, err);
    sl_free(sql);
    if (!fr)
        return err->code;
    bool referenced = PQgetvalue(fr, 0, 0)[0] == 't';
    PQclear(fr);
    sql = sl_asprintf("%s %s", referenced ? "DELETE FROM" : "TRUNCATE", l->q_target);
    if (!sql)
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    rc = pgl_exec(l->pg, "empty the target", sql, 0, NULL, err);
    sl_free(sql);
    return rc == SL_OK ? publish_insert(l, n_rows, err) : rc;
}

/* Locks the target and reads its oid again: a concurrent swap may have
 * replaced the table since begin (LOCK TABLE follows the name). */
static int lock_target(struct sl_pgload *l, const char *mode, struct sl_err *err)
{
    const char *p2[2] = {l->schema, l->table};
    char *sql = sl_asprintf("LOCK TABLE %s IN %s MODE", l->q_target, mode);
    int rc = sql ? pgl_exec(l->pg, "lock the target", sql, 0, NULL, err)
                 : sl_err_set(err, SL_ENOMEM, "out of memory");
    sl_free(sql);
    if (rc != SL_OK)
        return rc;
    PGresult *r = pgl_query(l->pg, "look up the target", SL_PGLOAD_SQL_TARGET, 2, p2, err);
    if (!r)
        return err->code;
    if (PQntuples(r) == 1)
        l->target_oid = (uint32_t)strtoul(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return SL_OK;
}

/* New table: the staging table is renamed into place; merge creates the
 * target and inserts the last row per key. */
static int publish_new(struct sl_pgload *l, uint64_t *n_rows, bool *renamed, struct sl_err *err)
{
    struct sl_buf b;
    int rc;

    *renamed = false;
    sl_buf_init(&b, 0);
    if (l->mode != SL_PGLOAD_MERGE) {
        rc = sl_buf_printf(&b, err, "ALTER TABLE %s RENAME TO %s", l->q_stage, l->q_table);
        if (rc == SL_OK)
            rc = run_text(l, "rename the staging table", &b, NULL, err);
        sl_buf_cleanup(&b);
        if (rc == SL_OK) {
            *renamed = true;
            *n_rows = atomic_load(&l->n_committed);
        }
        return rc;
    }
    rc = sl_buf_printf(&b, err, "CREATE TABLE %s (", l->q_target);
    for (size_t i = 0; rc == SL_OK && i < l->n_cols; i++)
        rc =
            sl_buf_printf(&b, err, "%s%s %s", i ? ", " : "", l->cols[i].qname, l->cols[i].ddl_type);
    if (rc == SL_OK)
        rc = sl_buf_puts(&b, ")", err);
    if (rc == SL_OK)
        rc = run_text(l, "create the target", &b, NULL, err);
    sl_buf_cleanup(&b);
    return rc == SL_OK ? publish_merge(l, n_rows, err) : rc;
}

/* The caller's hook, last inside the publish transaction. Its failure (or a
 * transaction it ended or broke) fails the publish, which then rolls back. */
static int run_in_publish(struct sl_pgload *l, struct sl_err *err)
{
    int rc = l->in_publish(l->in_publish_ud, l->pg, err);

    if (rc != SL_OK) {
        if (rc > 0) /* not an enum sl_code */
            rc = SL_EINTERNAL;
        if (err->code == SL_OK)
            sl_err_set(err, rc, "the publish hook failed");
        return rc;
    }
    if (PQtransactionStatus(l->pg) != PQTRANS_INTRANS)
        return sl_err_set(err, SL_EINTERNAL, "the publish hook ended or broke the transaction");
    return SL_OK;
}

int sl_pgload_publish(struct sl_pgload *l, uint64_t *n_rows, struct sl_err *err)
{
    uint64_t n = 0;
    bool stage_gone = false;
    int rc;

    if (n_rows)
        *n_rows = 0;
    if (l->published || l->dropped) {
        rc = sl_err_set(err, SL_ECONFIG, "the load is already %s",
                        l->published ? "published" : "aborted");
        goto fail_no_tx;
    }
    if (atomic_load(&l->n_open) != 0) {
        rc = sl_err_set(err, SL_ECONFIG, "%d streams are still open", (int)atomic_load(&l->n_open));
        goto fail_no_tx;
    }
    if (atomic_load(&l->stream_failed)) {
        rc = sl_err_set(err, SL_ECONFIG, "a stream failed or was aborted after sending rows");
        goto fail_no_tx;
    }
    if ((rc = pgl_exec(l->pg, "begin", SL_PGLOAD_SQL_BEGIN, 0, NULL, err)) != SL_OK)
        goto fail_no_tx;
    if (!l->target_exists) {
        rc = publish_new(l, &n, &stage_gone, err);
    } else {
        switch (l->mode) {
        case SL_PGLOAD_APPEND:
            /* into a target that was empty at begin: swapped in if it still is */
            rc = l->swap ? lock_target(l, "ACCESS EXCLUSIVE", err) : SL_OK;
            if (rc == SL_OK && l->swap)
                rc = try_swap(l, &n, &stage_gone, err);
            if (rc == SL_OK && !stage_gone)
                rc = add_columns(l, err);
            if (rc == SL_OK && !stage_gone)
                rc = publish_insert(l, &n, err);
            break;
        case SL_PGLOAD_MERGE:
            /* the last-row-per-key sort of a large staging table would spill
             * at the default 4 MB; this transaction only */
            rc = pgl_exec(l->pg, "size the merge's sort", "SET LOCAL work_mem = '64MB'", 0, NULL,
                          err);
            if (rc == SL_OK)
                rc = lock_target(l, "SHARE ROW EXCLUSIVE", err);
            if (rc == SL_OK)
                rc = add_columns(l, err);
            if (rc == SL_OK)
                rc = publish_merge(l, &n, err);
            break;
        case SL_PGLOAD_OVERWRITE:
            rc = lock_target(l, "ACCESS EXCLUSIVE", err);
            if (rc == SL_OK && l->swap)
                rc = try_swap(l, &n, &stage_gone, err);
            if (rc == SL_OK && !stage_gone)
                rc = publish_replace(l, &n, err);
            break;
        default: rc = sl_err_set(err, SL_ECONFIG, "unknown mode %d", (int)l->mode);
        }
    }
    if (rc == SL_OK && !stage_gone) {
        char *sql = sl_asprintf("DROP TABLE %s", l->q_stage);
        rc = sql ? pgl_exec(l->pg, "drop the staging table", sql, 0, NULL, err)
                 : sl_err_set(err, SL_ENOMEM, "out of memory");
        sl_free(sql);
    }
    if (rc == SL_OK && l->in_publish)
        rc = run_in_publish(l, err);
    if (rc == SL_OK)
        rc = pgl_exec(l->pg, "commit", SL_PGLOAD_SQL_COMMIT, 0, NULL, err);
    if (rc != SL_OK) {
        PGresult *r = PQexec(l->pg, SL_PGLOAD_SQL_ROLLBACK);
        PQclear(r);
        goto fail_no_tx;
    }
    l->published = true;
    l->stage_made = false;
    if (n_rows)
        *n_rows = n;
    return SL_OK;
fail_no_tx:
    return sl_err_prefix(err, "load into %s.%s: publish", l->schema, l->table);
}

/* ---- Abort and free ---- */

void sl_pgload_abort(struct sl_pgload *l)
{
    if (!l || l->published || l->dropped)
        return;
    l->dropped = true;
    if (!l->pg || !l->stage_made)
        return;
    if (PQtransactionStatus(l->pg) != PQTRANS_IDLE) {
        PGresult *r = PQexec(l->pg, SL_PGLOAD_SQL_ROLLBACK);
        PQclear(r);
    }
    struct sl_err e = {0};
    char *sql = sl_asprintf("DROP TABLE IF EXISTS %s", l->q_stage);
    (void)pgl_exec(l->pg, "lock timeout", SL_PGLOAD_SQL_LOCK_TIMEOUT, 0, NULL, &e);
    if (sql)
        (void)pgl_exec(l->pg, "drop the staging table", sql, 0, NULL, &e);
    sl_free(sql);
    l->stage_made = false;
}

void sl_pgload_free(struct sl_pgload *l)
{
    if (!l)
        return;
    sl_pgload_abort(l);
    PQfinish(l->pg); /* ends the session: the run's lock goes with it */
    for (size_t i = 0; l->cols && i < l->n_cols; i++) {
        sl_free(l->cols[i].name);
        sl_free(l->cols[i].qname);
        sl_free(l->cols[i].type_name);
        sl_free(l->cols[i].ddl_type);
    }
    sl_free(l->cols);
    sl_free(l->keys);
    sl_free(l->conninfo);
    sl_free(l->app_name);
    sl_free(l->q_target);
    sl_free(l->q_stage);
    sl_free(l->q_schema);
    sl_free(l->q_table);
    sl_free(l->schema);
    sl_free(l->table);
    sl_free(l->stage);
    sl_free(l->copy_sql);
    sl_free(l->suffix);
    sl_free(l->col_sig);
    sl_free(l);
}
