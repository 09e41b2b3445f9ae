/*
 * runtime/pgembed.h - the embedded default catalog: a private PostgreSQL
 * cluster under $SLUICE_HOME (default ./.sluice), listening on a Unix socket
 * only, created with initdb and started with pg_ctl on first use, holding the
 * database "sluice" (superuser "sluice", trust authentication on the socket).
 * sl_catalog_open() uses it when SLUICE_CATALOG is unset; `sluice embedded`
 * (cli/cmd_embedded.c) starts, stops and shows it.
 *
 * Layout: $SLUICE_HOME/pg/data (cluster), $SLUICE_HOME/pg/sock (socket
 * directory), $SLUICE_HOME/pg/log (initdb, pg_ctl and server output),
 * $SLUICE_HOME/pg.lock (flock: one process creates or starts it at a time).
 * Two fallbacks keep it working where that layout cannot:
 * - run as root, the server runs as the "postgres" user; when that user
 *   cannot enter $SLUICE_HOME (a checkout under /root), data, sock and log go
 *   to /tmp/sluice-<12 hex of SHA-256(abs $SLUICE_HOME)>/pg instead, and
 *   $SLUICE_HOME/pg/log links to the log. No user directory is ever chmod'ed.
 * - when "<sock>/.s.PGSQL.5432" would not fit a Unix socket path (107 bytes),
 *   the socket directory is /tmp/sluice-<hash>/sock.
 * Binaries: $SLUICE_PG_BINDIR, else /usr/lib/postgresql/15/bin, else
 * `pg_config --bindir`, else the newest /usr/lib/postgresql/N/bin.
 * Child processes are forked and exec'ed with argv arrays (no shell), with the
 * PG* environment variables removed. Nothing here logs; errors name the log
 * file and quote its last lines.
 */
#ifndef SL_PGEMBED_H
#define SL_PGEMBED_H

#include <stddef.h>

#include "err.h"

struct sl_pgembed; /* opaque */

enum sl_pgembed_state {
    SL_PGEMBED_NONE = 0,    /* no cluster yet */
    SL_PGEMBED_STOPPED = 1, /* created, not running */
    SL_PGEMBED_RUNNING = 2,
};

/* Resolves the layout from SLUICE_HOME (no directory is created). Owned:
 * sl_pgembed_free. NULL with err on OOM or an unusable SLUICE_HOME. */
struct sl_pgembed *sl_pgembed_new(struct sl_err *err);
void sl_pgembed_free(struct sl_pgembed *pe);

/* Creates the cluster if needed, starts it if it is not running and creates
 * database "sluice" if missing; idempotent and safe to call from several
 * processes at once. SL_ECONFIG when binaries or the postgres user are
 * missing, SL_EIO when initdb or pg_ctl fail (the message names the log). */
int sl_pgembed_start(struct sl_pgembed *pe, struct sl_err *err);
/* Stops a running cluster (pg_ctl stop -m fast); *was_running (may be NULL)
 * says whether it was up. Not an error when there is nothing to stop. */
int sl_pgembed_stop(struct sl_pgembed *pe, int *was_running, struct sl_err *err);
/* Whether the cluster exists and runs. */
int sl_pgembed_status(struct sl_pgembed *pe, enum sl_pgembed_state *state, struct sl_err *err);
/* "none", "stopped", "running" (static storage). */
const char *sl_pgembed_state_name(enum sl_pgembed_state s);

/* Borrowed strings, valid until sl_pgembed_free (and, for the paths and the
 * connection string, until the next sl_pgembed_start, which may switch to a
 * fallback location). */
const char *sl_pgembed_peek_conninfo(const struct sl_pgembed *pe); /* libpq string */
const char *sl_pgembed_peek_home(const struct sl_pgembed *pe);     /* absolute SLUICE_HOME */
const char *sl_pgembed_peek_data_dir(const struct sl_pgembed *pe);
const char *sl_pgembed_peek_sock_dir(const struct sl_pgembed *pe);
const char *sl_pgembed_peek_log(const struct sl_pgembed *pe);
/* Why a fallback location is used; "" when none is. */
const char *sl_pgembed_peek_note(const struct sl_pgembed *pe);

/* Copies the last n_lines lines of the log into out (NUL-terminated,
 * truncated to out_len); "" when there is no log. */
void sl_pgembed_log_tail(const struct sl_pgembed *pe, size_t n_lines, char *out, size_t out_len);

#endif
