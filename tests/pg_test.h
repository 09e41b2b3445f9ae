/*
 * tests/pg_test.h - PostgreSQL helpers shared by the tests that need a
 * server: whether one is configured (SLUICE_CATALOG), running one statement,
 * reading one number, and a connection string for another database on the
 * same server. Include after tests/test.h.
 */
#ifndef SL_PG_TEST_H
#define SL_PG_TEST_H

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/alloc.h"

/* Is a test server configured? */
static inline int pg_test_have(void)
{
    const char *ci = getenv("SLUICE_CATALOG");
    return ci && *ci;
}

/* Runs one statement on conninfo; 1 when it succeeded (else a "#" line says why). */
static inline int pg_test_exec(const char *conninfo, const char *sql)
{
    PGconn *pg = PQconnectdb(conninfo);
    int ok = 0;

    if (PQstatus(pg) == CONNECTION_OK) {
        PGresult *r = PQexec(pg, sql);
        ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
        if (!ok)
            printf("#   %s: %s", sql, PQerrorMessage(pg));
        PQclear(r);
    } else {
        printf("#   connect: %s", PQerrorMessage(pg));
    }
    PQfinish(pg);
    return ok;
}

/* First value of a query on conninfo, as a long (-1 on error). */
static inline long pg_test_query_long(const char *conninfo, const char *sql)
{
    PGconn *pg = PQconnectdb(conninfo);
    long v = -1;

    if (PQstatus(pg) == CONNECTION_OK) {
        PGresult *r = PQexec(pg, sql);
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0)
            v = strtol(PQgetvalue(r, 0, 0), NULL, 10);
        else
            printf("#   %s: %s", sql, PQerrorMessage(pg));
        PQclear(r);
    }
    PQfinish(pg);
    return v;
}

/* base (a libpq connection string or URI) with dbname replaced, as
 * key='value' pairs (owned: sl_free); NULL when base does not parse. */
static inline char *pg_test_conninfo_for(const char *base, const char *dbname)
{
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(base, &perr);
    char buf[4096];
    size_t o = 0;

    if (!opts) {
        PQfreemem(perr);
        return NULL;
    }
    buf[0] = '\0';
    for (PQconninfoOption *op = opts; op->keyword; op++) {
        const char *v = strcmp(op->keyword, "dbname") == 0 ? dbname : op->val;
        if (!v || o + 16 + strlen(op->keyword) >= sizeof buf)
            continue;
        o += (size_t)snprintf(buf + o, sizeof buf - o, "%s='", op->keyword);
        for (; *v && o + 4 < sizeof buf; v++) {
            if (*v == '\'' || *v == '\\')
                buf[o++] = '\\';
            buf[o++] = *v;
        }
        o += (size_t)snprintf(buf + o, sizeof buf - o, "' ");
    }
    PQconninfoFree(opts);
    if (!strstr(buf, "dbname="))
        snprintf(buf + o, sizeof buf - o, "dbname='%s'", dbname);
    return sl_strdup(buf);
}

#endif
