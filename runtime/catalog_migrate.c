/*
 * runtime/catalog_migrate.c - brings a catalog database to this binary's
 * schema version. The migrations themselves are in catalog_migrations.h.
 *
 * How it works: a lock-free read first (schema_migrations exists and holds every
 * version we know: done, nothing written, no privilege needed). Otherwise one
 * transaction: pg_advisory_xact_lock(SL_CATALOG_MIGRATE_LOCK) so concurrent
 * starters queue up; CREATE SCHEMA / schema_migrations IF NOT EXISTS; re-read
 * the applied versions (a process that waited on the lock now sees what the
 * first one committed, READ COMMITTED takes a new snapshot per statement); run
 * each missing migration and record it; commit. Any failure rolls the whole
 * set back, so a catalog is never half-migrated.
 */
#include <stdio.h>
#include <string.h>

#include "catalog.h"
#include "catalog_internal.h"
#include "catalog_migrations.h"
#include "catalog_sql.h"

/* The key of the migration lock: 0x736c756963650001, "sluice" in ASCII then
 * 0001, as the decimal text of a bigint parameter. Other sluice locks use the
 * two-int4 form of pg_advisory_lock, whose key space does not overlap. */
#define SL_CATALOG_MIGRATE_LOCK "8317151707346042881"

int sl_catalog_schema_latest(void)
{
    return sl_catalog_migrations[SL_ARRAY_LEN(sl_catalog_migrations) - 1].version;
}

/* Reads the applied versions into have[] (indexed by version, up to
 * n_have - 1); *newest gets the highest version seen, known or not. */
static int read_versions(PGconn *pg, unsigned char *have, int n_have, int *newest,
                         struct sl_err *err)
{
    PGresult *r = sl_catalog_query(pg, SL_CATALOG_SQL_MIG_VERSIONS, 0, NULL, err);

    if (!r)
        return err->code;
    *newest = 0;
    for (int i = 0; i < PQntuples(r); i++) {
        int v = (int)sl_catalog_get_i64(r, i, 0);
        if (v > *newest)
            *newest = v;
        if (v > 0 && v < n_have)
            have[v] = 1;
    }
    PQclear(r);
    return SL_OK;
}

static int too_new(int newest, struct sl_err *err)
{
    return sl_err_set(err, SL_ECONFIG,
                      "catalog schema version %d is newer than this sluice (%d); upgrade sluice",
                      newest, sl_catalog_schema_latest());
}

/* 1 when every known migration is recorded. */
static int all_applied(const unsigned char *have)
{
    for (size_t i = 0; i < SL_ARRAY_LEN(sl_catalog_migrations); i++) {
        if (!have[sl_catalog_migrations[i].version])
            return 0;
    }
    return 1;
}

int sl_catalog_migrate(PGconn *pg, int *applied, struct sl_err *err)
{
    enum { N_HAVE = 1024 };
    unsigned char have[N_HAVE];
    int newest = 0;
    int n_applied = 0;
    int in_tx = 0;
    PGresult *r = NULL;
    int latest = sl_catalog_schema_latest();

    if (applied)
        *applied = 0;
    memset(have, 0, sizeof have);
    if (SL_NEVER(latest >= N_HAVE)) {
        sl_err_set(err, SL_EINTERNAL, "too many migrations");
        goto fail;
    }
    if (PQtransactionStatus(pg) != PQTRANS_IDLE) {
        sl_err_set(err, SL_EINTERNAL, "the connection is inside a transaction");
        goto fail;
    }

    /* fast path: read only */
    r = sl_catalog_query(pg, SL_CATALOG_SQL_MIG_HAS_TABLE, 0, NULL, err);
    if (!r)
        goto fail;
    int has_table = sl_catalog_get_bool(r, 0, 0);
    PQclear(r);
    r = NULL;
    if (has_table) {
        if (read_versions(pg, have, N_HAVE, &newest, err) != SL_OK)
            goto fail;
        if (newest > latest) {
            too_new(newest, err);
            goto fail;
        }
        if (all_applied(have))
            return SL_OK;
        memset(have, 0, sizeof have);
    }

    /* slow path: one transaction under the lock */
    if (sl_catalog_exec(pg, SL_CATALOG_SQL_BEGIN, 0, NULL, err) != SL_OK)
        goto fail;
    in_tx = 1;
    const char *lock_args[] = { SL_CATALOG_MIGRATE_LOCK };
    if (sl_catalog_exec(pg, SL_CATALOG_SQL_MIG_LOCK, 1, lock_args, err) != SL_OK ||
        sl_catalog_exec(pg, SL_CATALOG_SQL_MIG_SCHEMA, 0, NULL, err) != SL_OK ||
        sl_catalog_exec(pg, SL_CATALOG_SQL_MIG_TABLE, 0, NULL, err) != SL_OK ||
        read_versions(pg, have, N_HAVE, &newest, err) != SL_OK)
        goto fail;
    if (newest > latest) {
        too_new(newest, err);
        goto fail;
    }
    for (size_t i = 0; i < SL_ARRAY_LEN(sl_catalog_migrations); i++) {
        const struct sl_catalog_migration *m = &sl_catalog_migrations[i];
        char ver[24];
        if (have[m->version])
            continue;
        /* PQexec: a migration may hold several statements (simple protocol) */
        r = PQexec(pg, m->sql);
        if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
            const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
            sl_err_set(err, SL_EINTERNAL, "migration %d (%s) failed: %s", m->version, m->name,
                       msg ? msg : PQerrorMessage(pg));
            goto fail;
        }
        PQclear(r);
        r = NULL;
        const char *rec_args[] = { sl_catalog_i64_str(m->version, ver), m->name };
        if (sl_catalog_exec(pg, SL_CATALOG_SQL_MIG_RECORD, 2, rec_args, err) != SL_OK)
            goto fail;
        n_applied++;
    }
    in_tx = 0;
    if (sl_catalog_exec(pg, SL_CATALOG_SQL_COMMIT, 0, NULL, err) != SL_OK)
        goto fail;
    if (applied)
        *applied = n_applied;
    return SL_OK;
fail:
    PQclear(r);
    if (in_tx)
        PQclear(PQexec(pg, SL_CATALOG_SQL_ROLLBACK));
    return sl_err_prefix(err, "migrate catalog schema");
}

int sl_catalog_schema_version(struct sl_catalog *c, int *version, struct sl_err *err)
{
    unsigned char have[1024];
    PGresult *r = sl_catalog_query(c->pg, SL_CATALOG_SQL_MIG_HAS_TABLE, 0, NULL, err);

    *version = 0;
    if (!r)
        return sl_err_prefix(err, "read catalog schema version");
    int has_table = sl_catalog_get_bool(r, 0, 0);
    PQclear(r);
    if (!has_table)
        return SL_OK;
    if (read_versions(c->pg, have, (int)sizeof have, version, err) != SL_OK)
        return sl_err_prefix(err, "read catalog schema version");
    return SL_OK;
}
