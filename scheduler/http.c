/*
 * scheduler/http.c - the HTTP server of `sluice serve` on libmicrohttpd: reads
 * each request (raw path, headers in received order, body up to a ceiling),
 * verifies its SigV4 signature (scheduler/sigv4.c), routes X-Amz-Target to an
 * operation table (scheduler/api_*.c), and writes AWS JSON 1.1 responses and
 * errors (spec/aws-api.md §1.4-§1.6). Also GET /healthz and GET /metrics, and
 * the catalog connection pool the operations borrow from. Thread model and
 * pool: see http.h.
 *
 * Order of checks on POST /, so that an unauthenticated caller learns nothing
 * about operations: body size (from Content-Length before reading, else while
 * reading) -> signature -> Content-Type -> X-Amz-Target -> JSON -> operation.
 */
#include <arpa/inet.h>
#include <libpq-fe.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "runtime/alloc.h"
#include "runtime/buf.h"
#include "runtime/catalog.h"
#include "runtime/catalog_json.h"
#include "runtime/log.h"
#include "scheduler/api.h"
#include "scheduler/http.h"
#include "runtime/catalog_run.h"
#include "scheduler/sigv4.h"

#define JSON_TYPE    "application/x-amz-json-1.1"
#define METRICS_MAX  512 /* distinct (operation, status) pairs counted; the rest go to "other" */
#define HEADERS_MAX  256 /* request headers passed to SigV4; MHD's 32 KiB pool bounds them too */
#define CONN_TIMEOUT 60  /* s; an idle or stalled connection is closed after this */
#define CONN_LIMIT   512 /* concurrent connections */

struct metric {
    const char *op; /* static: an operation's name, "unknown" or "other" */
    int status;
    unsigned long long n_requests;
};

struct sl_http {
    struct MHD_Daemon *daemon;
    struct sl_http_opts opts; /* copied; strings borrowed from the caller */
    unsigned short port;
    pthread_mutex_t lock;               /* guards idle, n_idle and metrics; never held across I/O */
    struct sl_catalog **idle;           /* guarded by lock; n_threads slots */
    size_t n_idle;                      /* guarded by lock */
    struct metric metrics[METRICS_MAX]; /* guarded by lock */
    size_t n_metrics;                   /* guarded by lock */
};

/* One request, from MHD's first callback to its completion notice. */
struct request {
    struct sl_buf body;
    int too_large; /* 1: the body passed body_max; the rest is discarded */
    int answered;  /* 1: a response was queued early (oversized Content-Length) */
};

struct sl_api_ctx {
    struct sl_http *h;
    struct sl_catalog *catalog; /* taken from the pool on first use; NULL until then */
    char request_id[37];
};

/* ---- Errors and context (api.h) ---- */

int sl_api_fail(struct sl_api_error *e, int http_status, const char *type, const char *fmt, ...)
{
    va_list ap;

    e->http_status = http_status;
    e->lower_message = 0;
    snprintf(e->type, sizeof e->type, "%s", type);
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    return SL_ECONFIG;
}

static int protocol_fail(struct sl_api_error *e, int http_status, const char *type,
                         const char *message)
{
    sl_api_fail(e, http_status, type, "%s", message);
    e->lower_message = 1;
    return SL_ECONFIG;
}

const char *sl_api_request_id(const struct sl_api_ctx *ctx)
{
    return ctx->request_id;
}

/* ---- Catalog pool ---- */

static struct sl_catalog *pool_open(struct sl_http *h, struct sl_err *err)
{
    if (h->opts.catalog)
        return sl_catalog_open_conninfo(h->opts.catalog, err);
    return sl_catalog_open(err);
}

/* An idle pooled connection, or a new one (opened outside the lock: network
 * I/O); NULL with err set when none can be opened. Give it back: pool_put. */
static struct sl_catalog *pool_take(struct sl_http *h, struct sl_err *err)
{
    struct sl_catalog *c = NULL;

    pthread_mutex_lock(&h->lock);
    if (h->n_idle > 0)
        c = h->idle[--h->n_idle];
    pthread_mutex_unlock(&h->lock);
    return c ? c : pool_open(h, err);
}

/* Gives c back, or closes it when it is broken, mid-transaction or not needed. */
static void pool_put(struct sl_http *h, struct sl_catalog *c)
{
    if (!c)
        return;
    PGconn *pg = sl_catalog_peek_conn(c);
    if (PQstatus(pg) == CONNECTION_OK && PQtransactionStatus(pg) == PQTRANS_IDLE) {
        pthread_mutex_lock(&h->lock);
        if (h->n_idle < h->opts.n_threads) {
            h->idle[h->n_idle++] = c;
            c = NULL;
        }
        pthread_mutex_unlock(&h->lock);
    }
    sl_catalog_free(c);
}

struct sl_catalog *sl_api_catalog(struct sl_api_ctx *ctx, struct sl_api_error *e)
{
    struct sl_http *h = ctx->h;
    struct sl_err err = {0};

    if (ctx->catalog)
        return ctx->catalog;
    if (!(ctx->catalog = pool_take(h, &err))) {
        char clean[sizeof err.msg];
        sl_log(SL_LOG_ERROR, "[api req:%s] open catalog: %s", ctx->request_id,
               sl_redact(err.msg, clean, sizeof clean));
        sl_api_fail(e, 500, "InternalServiceException", "could not reach the catalog");
    }
    return ctx->catalog;
}

/* ---- Metrics ---- */

static void metric_count(struct sl_http *h, const char *op, int status)
{
    pthread_mutex_lock(&h->lock);
    size_t i = 0;
    for (; i < h->n_metrics; i++)
        if (h->metrics[i].status == status && strcmp(h->metrics[i].op, op) == 0)
            break;
    if (i == h->n_metrics) {
        if (h->n_metrics == METRICS_MAX) {
            i = METRICS_MAX - 1; /* the last slot absorbs the overflow */
            h->metrics[i].op = "other";
            h->metrics[i].status = 0;
        } else {
            h->metrics[i].op = op;
            h->metrics[i].status = status;
            h->metrics[i].n_requests = 0;
            h->n_metrics++;
        }
    }
    h->metrics[i].n_requests++;
    pthread_mutex_unlock(&h->lock);
}

/* Runs by state and the queue depth, from the catalog (shared by every
 * server on it): gauges. Nothing when the catalog cannot be read. */
static void run_metrics(struct sl_http *h, struct sl_buf *b)
{
    struct sl_err err = {0};
    int64_t by_state[SL_RUN_N_STATES], queued = 0;
    struct sl_catalog *c = pool_take(h, &err);

    if (!c)
        return;
    int rc = sl_catalog_run_counts(c, by_state, &queued, &err);
    pool_put(h, c);
    if (rc != SL_OK) {
        sl_log(SL_LOG_WARN, "[serve] /metrics: %s", err.msg);
        return;
    }
    sl_buf_puts(b,
                "# HELP sluice_runs Job and crawler runs in the catalog, by state.\n"
                "# TYPE sluice_runs gauge\n",
                NULL);
    for (int s = 0; s < SL_RUN_N_STATES; s++)
        sl_buf_printf(b, NULL, "sluice_runs{state=\"%s\"} %lld\n",
                      sl_run_state_name((enum sl_run_state)s), (long long)by_state[s]);
    sl_buf_printf(b, NULL,
                  "# HELP sluice_run_queue_depth Queued runs no server has claimed yet.\n"
                  "# TYPE sluice_run_queue_depth gauge\n"
                  "sluice_run_queue_depth %lld\n",
                  (long long)queued);
}

/* Prometheus text exposition format 0.0.4. */
static char *metrics_text(struct sl_http *h, size_t *len)
{
    struct sl_buf b;
    struct metric copy[METRICS_MAX];
    size_t n;

    pthread_mutex_lock(&h->lock);
    n = h->n_metrics;
    memcpy(copy, h->metrics, n * sizeof copy[0]);
    pthread_mutex_unlock(&h->lock);

    sl_buf_init(&b, 0);
    sl_buf_puts(&b,
                "# HELP sluice_api_requests_total API requests answered, by operation and "
                "HTTP status.\n"
                "# TYPE sluice_api_requests_total counter\n",
                NULL);
    for (size_t i = 0; i < n; i++)
        sl_buf_printf(&b, NULL, "sluice_api_requests_total{operation=\"%s\",status=\"%d\"} %llu\n",
                      copy[i].op, copy[i].status, copy[i].n_requests);
    run_metrics(h, &b);
    if (h->opts.metrics_fn)
        h->opts.metrics_fn(h->opts.metrics_ud, &b);
    return sl_buf_take(&b, len);
}

/* ---- Responses ---- */

static void new_request_id(char out[37])
{
    unsigned char r[16];

    if (RAND_bytes(r, sizeof r) != 1)
        memset(r, 0, sizeof r);                   /* ids are for correlation only */
    r[6] = (unsigned char)((r[6] & 0x0f) | 0x40); /* version 4 */
    r[8] = (unsigned char)((r[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", r[0],
             r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13],
             r[14], r[15]);
}

static enum MHD_Result send_bytes(struct MHD_Connection *conn, int status, const char *type,
                                  const char *body, size_t body_len, const char *request_id,
                                  const char *error_type)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(body_len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (request_id)
        MHD_add_response_header(r, "x-amzn-RequestId", request_id);
    if (error_type)
        MHD_add_response_header(r, "x-amzn-ErrorType", error_type);
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)status, r);
    MHD_destroy_response(r);
    return ret;
}

/* {"__type": ..., "Message"|"message": ...} with x-amzn-ErrorType (spec §1.5). */
static enum MHD_Result send_error(struct MHD_Connection *conn, const char *request_id,
                                  const struct sl_api_error *e)
{
    json_t *doc = json_pack("{s:s, s:s}", "__type", e->type,
                            e->lower_message ? "message" : "Message", e->message);
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    enum MHD_Result ret;

    json_decref(doc);
    if (!text)
        return send_bytes(conn, 500, JSON_TYPE, "{}", 2, request_id, NULL);
    ret = send_bytes(conn, e->http_status, JSON_TYPE, text, strlen(text), request_id, e->type);
    free(text); /* jansson's allocator */
    return ret;
}

/* ---- Request parsing ---- */

static size_t unescape_none(void *cls, struct MHD_Connection *conn, char *s)
{
    (void)cls;
    (void)conn;
    return strlen(s); /* keep the raw path and query: SigV4 signs them as sent */
}

struct header_list {
    struct sl_sigv4_header items[HEADERS_MAX];
    size_t n_items;
    int overflow;
};

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    struct header_list *l = cls;

    (void)kind;
    if (l->n_items == HEADERS_MAX) {
        l->overflow = 1;
        return MHD_NO;
    }
    l->items[l->n_items].name = key;
    l->items[l->n_items].name_len = strlen(key);
    l->items[l->n_items].value = value ? value : "";
    l->items[l->n_items].value_len = value ? strlen(value) : 0;
    l->n_items++;
    return MHD_YES;
}

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    struct sl_buf *q = cls;

    (void)kind;
    if (q->len)
        sl_buf_putc(q, '&', NULL);
    sl_buf_puts(q, key, NULL);
    if (value) {
        sl_buf_putc(q, '=', NULL);
        sl_buf_puts(q, value, NULL);
    }
    return MHD_YES;
}

/* "glue" / "firehose" for a target's prefix, NULL when neither. */
static const char *target_service(const char *target)
{
    if (!target)
        return NULL;
    if (strncmp(target, "AWSGlue.", 8) == 0)
        return "glue";
    if (strncmp(target, "Firehose_20150804.", 18) == 0)
        return "firehose";
    return NULL;
}

static int authenticate(struct sl_http *h, struct MHD_Connection *conn, const char *url,
                        const struct request *rq, const char *target, char *key_id,
                        size_t key_id_len, struct sl_api_error *e, const char *request_id)
{
    struct header_list *hl = sl_calloc(1, sizeof *hl);
    struct sl_buf query;
    struct sl_sigv4_result res;
    int rc;

    if (!hl)
        return protocol_fail(e, 500, "InternalFailure", "out of memory");
    sl_buf_init(&query, 1u << 16);
    MHD_get_connection_values(conn, MHD_HEADER_KIND, collect_header, hl);
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_arg, &query);
    if (hl->overflow) {
        sl_free(hl);
        sl_buf_cleanup(&query);
        return protocol_fail(e, 400, "IncompleteSignatureException", "too many headers");
    }
    struct sl_sigv4_request req = {
        .method = "POST",
        .path = url,
        .path_len = strlen(url),
        .query = query.len ? query.data : NULL,
        .query_len = query.len,
        .headers = hl->items,
        .n_headers = hl->n_items,
        .body = rq->body.data ? rq->body.data : "",
        .body_len = rq->body.len,
    };
    struct sl_sigv4_opts o = {.service = target_service(target)};

    rc = sl_sigv4_verify(&req, h->opts.keys, &o, time(NULL), &res);
    sl_free(hl);
    sl_buf_cleanup(&query);
    if (res.key_id[0])
        snprintf(key_id, key_id_len, "%s", res.key_id);
    if (rc == SL_OK)
        return SL_OK;
    sl_log(SL_LOG_INFO, "[api req:%s] auth refused (%s) key=%s", request_id,
           sl_sigv4_status_name(res.status), res.key_id[0] ? res.key_id : "-");
    return protocol_fail(e, sl_sigv4_http_status(res.status), sl_sigv4_code(res.status),
                         res.message);
}

/* application/x-amz-json-1.0 or -1.1, parameters allowed. */
static int content_type_ok(const char *ct)
{
    if (!ct)
        return 0;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    size_t n = strcspn(ct, "; \t");
    return (n == 26 && strncasecmp(ct, "application/x-amz-json-1.1", 26) == 0) ||
           (n == 26 && strncasecmp(ct, "application/x-amz-json-1.0", 26) == 0);
}

/* The operation tables (api.h), searched in order. */
static const struct sl_api_op *const op_tables[] = {sl_api_catalog_ops, sl_api_jobs_ops,
                                                    sl_api_runs_ops, sl_api_triggers_ops,
                                                    sl_api_crawlers_ops};

static const struct sl_api_op *find_op(const char *target)
{
    for (size_t t = 0; target && t < SL_ARRAY_LEN(op_tables); t++)
        for (const struct sl_api_op *op = op_tables[t]; op->target; op++)
            if (strcmp(op->target, target) == 0)
                return op;
    return NULL;
}

/* Answers a complete POST / request. */
static enum MHD_Result handle_api(struct sl_http *h, struct MHD_Connection *conn, const char *url,
                                  struct request *rq)
{
    struct sl_api_ctx ctx = {.h = h};
    struct sl_api_error e = {0};
    const char *target = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Amz-Target");
    const struct sl_api_op *op = NULL;
    const char *op_name = "unknown";
    char key_id[SL_KEYS_ID_MAX + 1] = "-";
    json_t *in = NULL, *out = NULL;
    enum MHD_Result ret;
    struct timespec t0, t1;
    int status = 200;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    new_request_id(ctx.request_id);
    if (rq->too_large) {
        protocol_fail(&e, 400, "SerializationException", "request body too large");
        goto fail;
    }
    if (!h->opts.auth_none &&
        authenticate(h, conn, url, rq, target, key_id, sizeof key_id, &e, ctx.request_id) != SL_OK)
        goto fail;
    if (!content_type_ok(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type"))) {
        protocol_fail(&e, 400, "SerializationException",
                      "Content-Type must be application/x-amz-json-1.1");
        goto fail;
    }
    op = find_op(target);
    if (!op) {
        protocol_fail(&e, 400, "UnknownOperationException",
                      target ? "unknown operation" : "missing X-Amz-Target header");
        goto fail;
    }
    op_name = op->name;
    if (rq->body.len == 0) {
        in = json_object(); /* lenient: no body means no members */
    } else {
        json_error_t jerr;
        in = json_loadb(rq->body.data, rq->body.len, 0, &jerr);
        if (!in) {
            char msg[256];
            snprintf(msg, sizeof msg, "body is not valid JSON: %s at offset %d", jerr.text,
                     jerr.position);
            protocol_fail(&e, 400, "SerializationException", msg);
            goto fail;
        }
    }
    if (!json_is_object(in)) {
        protocol_fail(&e, 400, "SerializationException", "body must be a JSON object");
        goto fail;
    }
    if (op->fn(&ctx, in, &out, &e) != SL_OK)
        goto fail;
    char *text = sl_catalog_json_dump(out, 0);
    if (!text) {
        protocol_fail(&e, 500, "InternalServiceException", "out of memory");
        goto fail;
    }
    ret = send_bytes(conn, 200, JSON_TYPE, text, strlen(text), ctx.request_id, NULL);
    sl_free(text);
    goto done;
fail:
    status = e.http_status;
    ret = send_error(conn, ctx.request_id, &e);
done:
    pool_put(h, ctx.catalog);
    json_decref(in);
    json_decref(out);
    metric_count(h, op_name, status);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    if (status >= 500)
        sl_log(SL_LOG_ERROR, "[api req:%s] %s %d %s key=%s %.1fms", ctx.request_id, op_name, status,
               e.type, key_id, ms);
    else
        sl_log(SL_LOG_DEBUG, "[api req:%s] %s %d %s key=%s %.1fms", ctx.request_id, op_name, status,
               status == 200 ? "ok" : e.type, key_id, ms);
    return ret;
}

/* ---- libmicrohttpd callbacks ---- */

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct sl_http *h = cls;
    struct request *rq = *con_cls;
    int is_post = strcmp(method, "POST") == 0;

    (void)version;
    if (!rq) { /* first call: headers only */
        if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0) {
            if (strcmp(url, "/healthz") == 0)
                return send_bytes(conn, 200, "text/plain", "ok\n", 3, NULL, NULL);
            if (strcmp(url, "/metrics") == 0) {
                size_t len = 0;
                char *text = metrics_text(h, &len);
                if (!text)
                    return MHD_NO;
                enum MHD_Result ret =
                    send_bytes(conn, 200, "text/plain; version=0.0.4", text, len, NULL, NULL);
                sl_free(text);
                return ret;
            }
        }
        if (!is_post || strcmp(url, "/") != 0) {
            struct sl_api_error e = {0};
            protocol_fail(&e, 404, "UnknownOperationException", "no such route");
            return send_error(conn, NULL, &e);
        }
        rq = sl_calloc(1, sizeof *rq);
        if (!rq)
            return MHD_NO;
        sl_buf_init(&rq->body, h->opts.body_max);
        *con_cls = rq;
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > h->opts.body_max) {
            /* Refuse before reading: MHD then closes the connection after the
             * answer, and a client waiting on Expect: 100-continue sends nothing. */
            struct sl_api_error e = {0};
            char id[37];
            new_request_id(id);
            protocol_fail(&e, 400, "SerializationException", "request body too large");
            rq->answered = 1;
            metric_count(h, "unknown", 400);
            sl_log(SL_LOG_DEBUG, "[api req:%s] body of %s bytes refused", id, cl);
            return send_error(conn, id, &e);
        }
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        if (!rq->too_large && !rq->answered &&
            sl_buf_append(&rq->body, upload_data, *upload_data_size, NULL) != SL_OK) {
            rq->too_large = 1; /* keep reading, drop the bytes, answer at the end */
            sl_buf_cleanup(&rq->body);
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (rq->answered)
        return MHD_YES;
    return handle_api(h, conn, url, rq);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct request *rq = *con_cls;

    (void)cls;
    (void)conn;
    (void)toe;
    if (rq) {
        sl_buf_cleanup(&rq->body);
        sl_free(rq);
        *con_cls = NULL;
    }
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];

    (void)cls;
    vsnprintf(msg, sizeof msg, fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    sl_log(SL_LOG_WARN, "[http] %s", msg);
}

/* ---- Listening ---- */

int sl_http_parse_listen(const char *text, char host[SL_HTTP_HOST_MAX], unsigned short *port,
                         struct sl_err *err)
{
    const char *colon, *h0 = text, *h1;

    if (text[0] == '[') {
        h0 = text + 1;
        h1 = strchr(h0, ']');
        if (!h1 || h1[1] != ':')
            goto bad;
        colon = h1 + 1;
    } else {
        colon = strrchr(text, ':');
        if (!colon || memchr(text, ':', (size_t)(colon - text)))
            goto bad; /* bare IPv6 needs brackets */
        h1 = colon;
    }
    size_t n = (size_t)(h1 - h0);
    if (n >= SL_HTTP_HOST_MAX)
        goto bad;
    if (n == 0) {
        snprintf(host, SL_HTTP_HOST_MAX, "127.0.0.1");
    } else {
        memcpy(host, h0, n);
        host[n] = '\0';
    }
    char *end;
    unsigned long p = strtoul(colon + 1, &end, 10);
    if (colon[1] < '0' || colon[1] > '9' || *end || p > 65535)
        goto bad;
    *port = (unsigned short)p;
    return SL_OK;
bad:
    return sl_err_set(err, SL_ECONFIG, "bad listen address \"%s\": want HOST:PORT", text);
}

static int sockaddr_is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
            return 1;
        return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && in6->sin6_addr.s6_addr[12] == 127;
    }
    return 0;
}

int sl_http_is_loopback(const char *host)
{
    struct in_addr a4;
    struct in6_addr a6;

    if (strcmp(host, "localhost") == 0)
        return 1;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6) || (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
    return 0;
}

int sl_http_start(const struct sl_http_opts *opts, struct sl_http **out, struct sl_err *err)
{
    struct sl_http *h = NULL;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *ai = NULL;
    struct sl_catalog *first = NULL;
    int lock_ok = 0;

    *out = NULL;
    if (!opts->auth_none && (!opts->keys || sl_keys_count(opts->keys) == 0))
        return sl_err_set(err, SL_ECONFIG,
                          "sigv4 auth needs API keys: set %s=KEYID:SECRET (or use --auth none "
                          "on a loopback address)",
                          SL_KEYS_ENV);
    int gai = getaddrinfo(opts->host, NULL, &hints, &ai);
    if (gai != 0)
        return sl_err_set(err, SL_ECONFIG, "listen host \"%s\": %s", opts->host, gai_strerror(gai));
    if (opts->auth_none &&
        !(sl_http_is_loopback(opts->host) && sockaddr_is_loopback(ai->ai_addr))) {
        sl_err_set(err, SL_ECONFIG, "--auth none is allowed only on a loopback address, not \"%s\"",
                   opts->host);
        goto fail;
    }
    h = sl_calloc(1, sizeof *h);
    if (!h) {
        sl_err_set(err, SL_ENOMEM, "out of memory");
        goto fail;
    }
    h->opts = *opts;
    if (!h->opts.body_max)
        h->opts.body_max = SL_HTTP_BODY_MAX;
    if (!h->opts.n_threads)
        h->opts.n_threads = SL_HTTP_THREADS;
    h->idle = sl_calloc(h->opts.n_threads, sizeof *h->idle);
    if (!h->idle || pthread_mutex_init(&h->lock, NULL) != 0) {
        sl_err_set(err, SL_ENOMEM, "out of memory");
        goto fail;
    }
    lock_ok = 1;
    /* One connection now: a wrong catalog fails at startup, not on the first request. */
    first = pool_open(h, err);
    if (!first) {
        sl_err_prefix(err, "open the catalog");
        goto fail;
    }
    h->idle[h->n_idle++] = first;

    union {
        struct sockaddr sa;
        struct sockaddr_in in;
        struct sockaddr_in6 in6;
    } addr;
    memset(&addr, 0, sizeof addr);
    unsigned int flags = MHD_USE_AUTO | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6) {
        memcpy(&addr.in6, ai->ai_addr, sizeof addr.in6);
        addr.in6.sin6_port = htons(opts->port);
        flags |= MHD_USE_IPv6;
    } else {
        memcpy(&addr.in, ai->ai_addr, sizeof addr.in);
        addr.in.sin_port = htons(opts->port);
    }
    h->daemon = MHD_start_daemon(
        flags, opts->port, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, h,
        MHD_OPTION_SOCK_ADDR, &addr.sa, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned int)h->opts.n_threads, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)CONN_TIMEOUT,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)CONN_LIMIT, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, h, MHD_OPTION_UNESCAPE_CALLBACK, unescape_none, h, MHD_OPTION_END);
    if (!h->daemon) {
        sl_err_set(err, SL_EIO, "cannot listen on %s port %u (in use, or not a local address)",
                   opts->host, (unsigned)opts->port);
        goto fail;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : opts->port;
    freeaddrinfo(ai);
    *out = h;
    return SL_OK;
fail:
    if (ai)
        freeaddrinfo(ai);
    if (h) {
        sl_catalog_free(first);
        if (lock_ok)
            pthread_mutex_destroy(&h->lock);
        sl_free(h->idle);
        sl_free(h);
    }
    return err->code;
}

unsigned short sl_http_port(const struct sl_http *h)
{
    return h->port;
}

void sl_http_stop(struct sl_http *h)
{
    if (!h)
        return;
    MHD_stop_daemon(h->daemon); /* joins the pool threads: no request runs after this */
    for (size_t i = 0; i < h->n_idle; i++)
        sl_catalog_free(h->idle[i]);
    pthread_mutex_destroy(&h->lock);
    sl_free(h->idle);
    sl_free(h);
}
