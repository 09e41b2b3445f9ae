/*
 * runtime/exec_sink_db.h - shared by exec_sink.c and exec_sink_db.c only:
 * the database side of write{} (postgres:, redshift://). See exec_sink_db.c.
 */
#ifndef SL_EXEC_SINK_DB_H
#define SL_EXEC_SINK_DB_H

#include "exec_internal.h"
#include "pgload.h"

struct xsinkdb;

/* Coordinator, before the stage that feeds the write. *out is set (owned:
 * xsinkdb_free) even on failure. */
int xsinkdb_begin(struct xrun *r, int node, struct xsinkdb **out, struct sl_err *err);
/* Workers: rows in, and the end of a task (commits or aborts its stream). */
int xsinkdb_consume(struct xworker *w, int node, struct xsinkdb *d, struct sl_batch *b,
                    struct sl_err *err);
int xsinkdb_task_end(struct xworker *w, int node, bool ok, struct sl_err *err);
void xsinkdb_worker_free(struct xworker *w, int node);
/* Coordinator, after every stage succeeded / after a failure. */
int xsinkdb_publish(struct xrun *r, int node, struct xsinkdb *d, struct sl_err *err);
void xsinkdb_discard(struct xrun *r, int node, struct xsinkdb *d);
void xsinkdb_free(struct xsinkdb *d);
/* Redshift: after the staging files are written (file_uris, under root_uri):
 * manifest.json, load.sql, and the load itself unless write{execute = false}. */
int xsinkdb_redshift_publish(struct xrun *r, int node, struct xsinkdb *d, const char *root_uri,
                             const char *const *file_uris, size_t n_files,
                             const struct sl_rschema *schema, struct sl_err *err);

#endif
