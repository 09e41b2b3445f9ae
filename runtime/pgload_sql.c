/*
 * runtime/pgload_sql.c - the SQL text of loads that depends on names and
 * columns: identifier and literal quoting, the append and merge publish
 * statements (one text for PostgreSQL and Redshift: no ON CONFLICT, no
 * DISTINCT ON, no aliases on the DELETE target), staging table names and the
 * advisory lock key they carry, and the whole Redshift load script
 * (sl_pgload_redshift_sql). Fixed statements are in pgload_sql.h; running
 * them is pgload.c's job.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "aws_config.h"
#include "hash.h"
#include "pgload_internal.h"

/* ---- Quoting ---- */

int pgl_put_ident(struct sl_buf *b, const char *name, struct sl_err *err)
{
    int rc = sl_buf_putc(b, '"', err);
    for (const char *p = name; rc == SL_OK && *p; p++) {
        if (*p == '"')
            rc = sl_buf_putc(b, '"', err);
        if (rc == SL_OK)
            rc = sl_buf_putc(b, *p, err);
    }
    return rc == SL_OK ? sl_buf_putc(b, '"', err) : rc;
}

char *pgl_quote_ident(const char *name)
{
    struct sl_buf b;
    sl_buf_init(&b, 0);
    if (pgl_put_ident(&b, name, NULL) != SL_OK) {
        sl_buf_cleanup(&b);
        return NULL;
    }
    return sl_buf_take(&b, NULL);
}

int pgl_put_literal(struct sl_buf *b, const char *s, struct sl_err *err)
{
    int rc = sl_buf_putc(b, '\'', err);
    for (const char *p = s; rc == SL_OK && *p; p++) {
        if (*p == '\'')
            rc = sl_buf_putc(b, '\'', err);
        if (rc == SL_OK)
            rc = sl_buf_putc(b, *p, err);
    }
    return rc == SL_OK ? sl_buf_putc(b, '\'', err) : rc;
}

int pgl_put_cols(struct sl_buf *b, const struct pgl_col *cols, size_t n_cols, bool seq,
                 struct sl_err *err)
{
    int rc = SL_OK;
    for (size_t i = 0; rc == SL_OK && i < n_cols; i++) {
        if (i)
            rc = sl_buf_puts(b, ", ", err);
        if (rc == SL_OK)
            rc = sl_buf_puts(b, cols[i].qname, err);
    }
    if (rc == SL_OK && seq)
        rc = sl_buf_puts(b, n_cols ? ", \"" PGL_SEQ_COL "\"" : "\"" PGL_SEQ_COL "\"", err);
    return rc;
}

const char *pgl_mapped_type(enum sl_vtype t, enum sl_pgload_dialect d)
{
    bool rs = d == SL_PGLOAD_REDSHIFT;
    switch (t) {
    case SL_V_BOOL: return "boolean";
    case SL_V_INT: return "bigint";
    case SL_V_DOUBLE: return "double precision";
    case SL_V_DATE: return "date";
    case SL_V_TIMESTAMP: return rs ? "timestamptz" : "timestamp with time zone";
    case SL_V_BINARY: return rs ? "varbyte" : "bytea";
    case SL_V_JSON: return rs ? "varchar(65535)" : "jsonb";
    case SL_V_STRING:
    case SL_V_NULL:
    default: return rs ? "varchar(65535)" : "text";
    }
}

/* ---- Publish statements (both dialects) ---- */

int pgl_put_insert(struct sl_buf *b, const char *q_target, const char *q_stage,
                   const struct pgl_col *cols, size_t n_cols, struct sl_err *err)
{
    int rc = sl_buf_printf(b, err, "INSERT INTO %s (", q_target);
    if (rc == SL_OK)
        rc = pgl_put_cols(b, cols, n_cols, false, err);
    if (rc == SL_OK)
        rc = sl_buf_puts(b, ") SELECT ", err);
    if (rc == SL_OK)
        rc = pgl_put_cols(b, cols, n_cols, false, err);
    if (rc == SL_OK)
        rc = sl_buf_printf(b, err, " FROM %s;\n", q_stage);
    return rc;
}

/* DELETE FROM target USING staging WHERE target.k = staging.k AND ...;
 * INSERT the last staging row per key (ROW_NUMBER over the load order; rows
 * with a NULL key never match anything, so each of them goes in). Columns are
 * qualified by the bare table names, which both servers accept for
 * schema-qualified FROM items. */
int pgl_put_merge(struct sl_buf *b, const char *q_target, const char *q_stage,
                  const char *target_rel, const char *stage_rel, const struct pgl_col *cols,
                  size_t n_cols, const size_t *keys, size_t n_keys, struct sl_err *err)
{
    int rc = sl_buf_printf(b, err, "DELETE FROM %s USING %s WHERE ", q_target, q_stage);
    for (size_t i = 0; rc == SL_OK && i < n_keys; i++) {
        const char *k = cols[keys[i]].qname;
        rc =
            sl_buf_printf(b, err, "%s%s.%s = %s.%s", i ? " AND " : "", target_rel, k, stage_rel, k);
    }
    if (rc == SL_OK)
        rc = sl_buf_printf(b, err, ";\nINSERT INTO %s (", q_target);
    if (rc == SL_OK)
        rc = pgl_put_cols(b, cols, n_cols, false, err);
    if (rc == SL_OK)
        rc = sl_buf_puts(b, ") SELECT ", err);
    if (rc == SL_OK)
        rc = pgl_put_cols(b, cols, n_cols, false, err);
    if (rc == SL_OK)
        rc = sl_buf_puts(b, " FROM (SELECT ", err);
    if (rc == SL_OK)
        rc = pgl_put_cols(b, cols, n_cols, false, err);
    if (rc == SL_OK)
        rc = sl_buf_puts(b, ", ROW_NUMBER() OVER (PARTITION BY ", err);
    for (size_t i = 0; rc == SL_OK && i < n_keys; i++)
        rc = sl_buf_printf(b, err, "%s%s", i ? ", " : "", cols[keys[i]].qname);
    if (rc == SL_OK)
        rc = sl_buf_printf(b, err,
                           " ORDER BY \"" PGL_SEQ_COL "\" DESC) AS \"" PGL_RN_COL "\" FROM %s)"
                           " AS \"_sluice_last\" WHERE \"" PGL_RN_COL "\" = 1",
                           q_stage);
    for (size_t i = 0; rc == SL_OK && i < n_keys; i++)
        rc = sl_buf_printf(b, err, " OR %s IS NULL", cols[keys[i]].qname);
    if (rc == SL_OK)
        rc = sl_buf_puts(b, ";\n", err);
    return rc;
}

/* ---- Staging names and lock keys ---- */

/* The key is what cleanup needs, so the name carries it as 16 hex digits at
 * its end; the run id part is for people and is shortened (and reduced to
 * [A-Za-z0-9_-]) to keep the name within 63 bytes:
 *   _sluice_stage_<run id, at most 63-14-1-digits(n)-1-16>_<n>_<key hex> */
int pgl_lock_key(const char *run_id, int64_t *key, char hex[PGL_KEY_HEX + 1])
{
    static const char pfx[] = "sluice_stage:";
    char digest[65], stack[256];
    size_t n = strlen(run_id), len = sizeof pfx - 1 + n;
    char *msg = len < sizeof stack ? stack : sl_alloc(len + 1);
    uint64_t u = 0;

    if (!msg)
        return SL_ENOMEM;
    memcpy(msg, pfx, sizeof pfx - 1);
    memcpy(msg + sizeof pfx - 1, run_id, n);
    sl_sha256_hex(msg, len, digest);
    if (msg != stack)
        sl_free(msg);
    for (int i = 0; i < PGL_KEY_HEX; i++) {
        char c = digest[i];
        u = u << 4 | (uint64_t)(c <= '9' ? c - '0' : c - 'a' + 10);
        hex[i] = c;
    }
    hex[PGL_KEY_HEX] = '\0';
    *key = (int64_t)u;
    return SL_OK;
}

void pgl_stage_name(const char *run_id, unsigned long n, const char *hex, char *out, size_t out_len)
{
    char num[24];
    int n_num = snprintf(num, sizeof num, "%lu", n);
    size_t room = PGL_NAME_MAX - strlen(PGL_STAGE_PFX) - 1 - (size_t)n_num - 1 - PGL_KEY_HEX;
    char part[PGL_NAME_MAX + 1];
    size_t o = 0;

    for (const char *p = run_id; *p && o < room; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-';
        part[o++] = ok ? c : 'x';
    }
    part[o] = '\0';
    snprintf(out, out_len, PGL_STAGE_PFX "%s_%s_%s", part, num, hex);
}

bool pgl_stage_key(const char *name, int64_t *key)
{
    size_t n = strlen(name), pfx = strlen(PGL_STAGE_PFX);
    uint64_t u = 0;

    if (n < pfx + PGL_KEY_HEX + 1 || strncmp(name, PGL_STAGE_PFX, pfx) != 0 ||
        name[n - PGL_KEY_HEX - 1] != '_')
        return false;
    for (const char *p = name + n - PGL_KEY_HEX; *p; p++) {
        char c = *p;
        if (c >= '0' && c <= '9')
            u = u << 4 | (uint64_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            u = u << 4 | (uint64_t)(c - 'a' + 10);
        else
            return false;
    }
    *key = (int64_t)u;
    return true;
}

/* ---- Redshift ---- */

/* A literal for the COPY command: quotes are doubled; backslashes and control
 * characters are refused, since Redshift's literal rules for them differ. */
static int put_rs_literal(struct sl_buf *b, const char *what, const char *s, struct sl_err *err)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '\\' || *p < 0x20 || *p == 0x7f)
            return sl_err_set(err, SL_ECONFIG, "%s: a backslash or control character", what);
    }
    return pgl_put_literal(b, s, err);
}

static int put_rs_credentials(struct sl_buf *b, const struct sl_pgload_opts *o, struct sl_err *err)
{
    struct sl_aws_config cfg;
    struct sl_buf cred;
    int rc;

    if (o->iam_role && *o->iam_role) {
        rc = sl_buf_puts(b, " IAM_ROLE ", err);
        return rc == SL_OK ? put_rs_literal(b, "iam_role", o->iam_role, err) : rc;
    }
    memset(&cfg, 0, sizeof cfg);
    rc = sl_aws_config_resolve(&cfg, NULL, err);
    if (rc != SL_OK)
        return rc;
    if (!cfg.access_key_id) {
        sl_aws_config_cleanup(&cfg);
        return sl_err_set(err, SL_ECONFIG,
                          "COPY needs iam_role or AWS credentials (none are configured)");
    }
    sl_buf_init(&cred, 0);
    rc = sl_buf_printf(&cred, err, "aws_access_key_id=%s;aws_secret_access_key=%s",
                       cfg.access_key_id, cfg.secret_access_key);
    if (rc == SL_OK && cfg.session_token)
        rc = sl_buf_printf(&cred, err, ";token=%s", cfg.session_token);
    if (rc == SL_OK)
        rc = sl_buf_puts(b, " CREDENTIALS ", err);
    if (rc == SL_OK)
        rc = put_rs_literal(b, "AWS credentials", cred.data, err);
    sl_buf_cleanup(&cred);
    sl_aws_config_cleanup(&cfg);
    return rc;
}

static void free_cols(struct pgl_col *cols, size_t n)
{
    for (size_t i = 0; cols && i < n; i++)
        sl_free(cols[i].qname);
    sl_free(cols);
}

/* The script: [CREATE TABLE IF NOT EXISTS target], CREATE TEMP TABLE staging
 * (LIKE target), [ADD COLUMN "_sluice_seq"], COPY, BEGIN, the mode's
 * statements, END, DROP TABLE staging. */
int sl_pgload_redshift_sql(const struct sl_pgload_target *t, const struct sl_pgload_opts *o,
                           const struct sl_rschema *schema, const char *manifest_uri, char **sql,
                           struct sl_err *err)
{
    struct sl_buf b;
    struct pgl_col *cols = NULL;
    size_t *keys = NULL;
    char *q_target = NULL, *q_stage = NULL, *q_table = NULL;
    char hex[PGL_KEY_HEX + 1], stage[PGL_NAME_MAX + 1];
    bool merge = o->mode == SL_PGLOAD_MERGE;
    int rc = SL_OK;

    *sql = NULL;
    sl_buf_init(&b, 0);
    if (!t->schema || !t->table || !*t->table) {
        rc = sl_err_set(err, SL_ECONFIG, "no target table");
        goto fail;
    }
    if (!o->run_id || !*o->run_id) {
        rc = sl_err_set(err, SL_ECONFIG, "no run id");
        goto fail;
    }
    if (!manifest_uri || !*manifest_uri) {
        rc = sl_err_set(err, SL_ECONFIG, "no staging manifest");
        goto fail;
    }
    if (!schema || schema->n_cols == 0) {
        rc = sl_err_set(err, SL_ECONFIG, "the rows have no columns");
        goto fail;
    }
    if (o->add_columns) {
        rc = sl_err_set(err, SL_ECONFIG,
                        "add_columns is not supported for Redshift (add the columns first)");
        goto fail;
    }
    if (merge && o->n_keys == 0) {
        rc = sl_err_set(err, SL_ECONFIG, "merge needs keys");
        goto fail;
    }
    cols = sl_calloc(schema->n_cols, sizeof *cols);
    keys = sl_calloc(o->n_keys ? o->n_keys : 1, sizeof *keys);
    if (!cols || !keys)
        goto oom;
    for (size_t i = 0; i < schema->n_cols; i++) {
        cols[i].qname = pgl_quote_ident(schema->names[i]);
        cols[i].vtype = schema->types[i];
        if (!cols[i].qname)
            goto oom;
    }
    for (size_t k = 0; merge && k < o->n_keys; k++) {
        int at = o->keys[k] ? sl_rschema_find(schema, o->keys[k], strlen(o->keys[k])) : -1;
        if (at < 0) {
            rc = sl_err_set(err, SL_ECONFIG, "merge key \"%s\" is not a column of the rows",
                            o->keys[k] ? o->keys[k] : "");
            goto fail;
        }
        keys[k] = (size_t)at;
    }
    int64_t key;
    if (pgl_lock_key(o->run_id, &key, hex) != SL_OK)
        goto oom;
    pgl_stage_name(o->run_id, 1, hex, stage, sizeof stage);
    q_stage = pgl_quote_ident(stage);
    q_table = pgl_quote_ident(t->table);
    {
        char *qs = pgl_quote_ident(t->schema);
        if (qs && q_table)
            q_target = sl_asprintf("%s.%s", qs, q_table);
        sl_free(qs);
    }
    if (!q_stage || !q_table || !q_target)
        goto oom;

    if (o->create) {
        rc = sl_buf_printf(&b, err, "CREATE TABLE IF NOT EXISTS %s (", q_target);
        for (size_t i = 0; rc == SL_OK && i < schema->n_cols; i++)
            rc = sl_buf_printf(&b, err, "%s%s %s", i ? ", " : "", cols[i].qname,
                               pgl_mapped_type(cols[i].vtype, SL_PGLOAD_REDSHIFT));
        if (rc == SL_OK)
            rc = sl_buf_puts(&b, ");\n", err);
    }
    if (rc == SL_OK)
        rc = sl_buf_printf(&b, err, "CREATE TEMP TABLE %s (LIKE %s);\n", q_stage, q_target);
    if (rc == SL_OK && merge)
        rc = sl_buf_printf(&b, err, "ALTER TABLE %s ADD COLUMN \"" PGL_SEQ_COL "\" BIGINT;\n",
                           q_stage);
    if (rc == SL_OK)
        rc = sl_buf_printf(&b, err, "COPY %s (", q_stage);
    if (rc == SL_OK)
        rc = pgl_put_cols(&b, cols, schema->n_cols, merge, err);
    if (rc == SL_OK)
        rc = sl_buf_puts(&b, ") FROM ", err);
    if (rc == SL_OK)
        rc = put_rs_literal(&b, "manifest URI", manifest_uri, err);
    if (rc == SL_OK)
        rc = put_rs_credentials(&b, o, err);
    if (rc == SL_OK)
        rc = sl_buf_puts(&b, " MANIFEST GZIP CSV IGNOREHEADER 1 TIMEFORMAT 'auto';\nBEGIN;\n", err);
    if (rc == SL_OK && merge)
        rc = sl_buf_printf(&b, err, "LOCK %s;\n", q_target);
    if (rc == SL_OK && o->mode == SL_PGLOAD_OVERWRITE)
        rc = sl_buf_printf(&b, err, "DELETE FROM %s;\n", q_target);
    if (rc == SL_OK && merge)
        rc = pgl_put_merge(&b, q_target, q_stage, q_table, q_stage, cols, schema->n_cols, keys,
                           o->n_keys, err);
    else if (rc == SL_OK)
        rc = pgl_put_insert(&b, q_target, q_stage, cols, schema->n_cols, err);
    if (rc == SL_OK)
        rc = sl_buf_printf(&b, err, "END;\nDROP TABLE %s;\n", q_stage);
    if (rc != SL_OK)
        goto fail;
    *sql = sl_buf_take(&b, NULL);
    if (!*sql)
        goto oom;
    free_cols(cols, schema->n_cols);
    sl_free(keys);
    sl_free(q_target);
    sl_free(q_stage);
    sl_free(q_table);
    return SL_OK;
oom:
    rc = sl_err_set(err, SL_ENOMEM, "out of memory");
fail:
    sl_err_prefix(err, "redshift load into %s.%s", t->schema ? t->schema : "?",
                  t->table ? t->table : "?");
    sl_buf_cleanup(&b);
    free_cols(cols, schema ? schema->n_cols : 0);
    sl_free(keys);
    sl_free(q_target);
    sl_free(q_stage);
    sl_free(q_table);
    return rc;
}
