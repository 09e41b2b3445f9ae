/*
 * scheduler/http.h - the HTTP server of `sluice serve`: the AWS Glue-compatible
 * JSON 1.1 API (POST / with X-Amz-Target: AWSGlue.<Operation>), GET /healthz
 * and GET /metrics, on libmicrohttpd. Protocol, errors and auth follow
 * ../shared/spec/aws-api.md §1 and §2; the operations themselves are in
 * scheduler/api_*.c (table type in scheduler/api.h).
 *
 * Threads: libmicrohttpd's internal polling thread with a pool of n_threads
 * threads (MHD_OPTION_THREAD_POOL_SIZE); each request is answered on the pool
 * thread that read it, synchronously, so a slow catalog query delays the other
 * connections of that thread only. Catalog connections come from a small pool
 * (mutex-protected stack of idle struct sl_catalog, at most n_threads kept)
 * because a struct sl_catalog is not thread-safe: a request takes one for its
 * duration and gives it back, or drops it when the connection is broken.
 */
#ifndef SL_HTTP_H
#define SL_HTTP_H

#include <stddef.h>

#include "runtime/buf.h"
#include "runtime/err.h"
#include "scheduler/keys.h"

#define SL_HTTP_BODY_MAX (8u << 20) /* bytes; spec §1.1: >= 8 MiB (PutRecordBatch) */
#define SL_HTTP_THREADS  4          /* default pool size; the catalog pool matches */
#define SL_HTTP_HOST_MAX 256        /* bytes of a listen host */
#define SL_HTTP_DEFAULT  "127.0.0.1:8787"

struct sl_http_opts {
    const char *host;           /* numeric address or name to listen on: "127.0.0.1", "::1" */
    unsigned short port;        /* 0: any free port (see sl_http_port) */
    int auth_none;              /* 1: accept unsigned requests (loopback hosts only) */
    size_t body_max;            /* bytes; 0: SL_HTTP_BODY_MAX */
    unsigned n_threads;         /* 0: SL_HTTP_THREADS */
    const struct sl_keys *keys; /* borrowed until sl_http_stop; unused with auth_none */
    const char *catalog;        /* libpq connection string; NULL: sl_catalog_open() rules */
    /* more /metrics text (the dispatcher's), appended after the server's own;
     * called on a pool thread, so it must be thread-safe. NULL: none. */
    void (*metrics_fn)(void *ud, struct sl_buf *b);
    void *metrics_ud;
};

struct sl_http; /* opaque; owned by the caller of sl_http_start */

/* Opens one catalog connection (applying migrations, so a bad catalog fails
 * here), binds and starts serving. *out is owned: sl_http_stop. Errors:
 * SL_ECONFIG (auth_none on a non-loopback host, sigv4 without keys, a host that
 * does not resolve), SL_EIO (cannot bind), SL_ETRANSIENT (catalog unreachable). */
int sl_http_start(const struct sl_http_opts *opts, struct sl_http **out, struct sl_err *err);

/* The port actually bound (differs from opts->port when that was 0). */
unsigned short sl_http_port(const struct sl_http *h);

/* Stops accepting, waits for the requests in flight, closes the catalog pool
 * and frees h. NULL is a no-op. */
void sl_http_stop(struct sl_http *h);

/* Parses "HOST:PORT", "[V6]:PORT" or ":PORT" (host 127.0.0.1) into host (NUL-
 * terminated) and *port. SL_ECONFIG when malformed. */
int sl_http_parse_listen(const char *text, char host[SL_HTTP_HOST_MAX], unsigned short *port,
                         struct sl_err *err);

/* 1 when host is a loopback address or "localhost" (what --auth none needs). */
int sl_http_is_loopback(const char *host);

#endif
