/*
 * runtime/store_s3.c - the S3 object-store backend: open/close, the signed
 * request engine (libcurl with CURLOPT_AWS_SIGV4, retries with backoff), S3
 * error mapping, HEAD and ranged streaming GET. Listing and batch deletion
 * are in store_s3_list.c, uploads in store_s3_upload.c; endpoint and
 * credentials come from aws_config.c.
 *
 * Signing with libcurl 7.88 (checked against an independent SigV4 verifier):
 * curl signs the query string exactly as given (it neither sorts nor encodes
 * it, and signs "?delete" as "delete" where S3 expects "delete="), so every
 * query is built canonical by sl_s3_query(); curl does not add
 * x-amz-content-sha256, but signs it and uses its value as the payload hash
 * when we send it, so every request carries it; key paths are sent (and so
 * signed) already URI-encoded per SigV4, with CURLOPT_PATH_AS_IS so that keys
 * like "a/../b" are not normalised.
 */
#include "store_s3_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "alloc.h"
#include "log.h"

#ifndef SL_VERSION
#define SL_VERSION "0"
#endif

#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc; /* written once under curl_once */

static void curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- Encoding ---- */

static bool is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '.' || c == '~';
}

int sl_s3_uri_encode(struct sl_buf *b, const char *s, size_t len, bool keep_slash,
                     struct sl_err *err)
{
    static const char hex[] = "0123456789ABCDEF";
    int rc = sl_buf_reserve(b, len * 3, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_unreserved(c) || (keep_slash && c == '/')) {
            b->data[b->len++] = (char)c;
        } else {
            b->data[b->len++] = '%';
            b->data[b->len++] = hex[c >> 4];
            b->data[b->len++] = hex[c & 15];
        }
    }
    b->data[b->len] = '\0';
    return SL_OK;
}

struct enc_param {
    char *name, *value; /* owned, encoded */
};

static int enc_param_cmp(const void *a, const void *b)
{
    const struct enc_param *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->value, y->value);
}

char *sl_s3_query(const struct s3_qparam *params, size_t n_params)
{
    struct enc_param *enc = sl_calloc(n_params ? n_params : 1, sizeof *enc);
    struct sl_buf b, tmp;
    char *out = NULL;

    sl_buf_init(&b, 0);
    sl_buf_init(&tmp, 0);
    if (!enc)
        return NULL;
    for (size_t i = 0; i < n_params; i++) {
        sl_buf_reset(&tmp);
        if (sl_s3_uri_encode(&tmp, params[i].name, strlen(params[i].name), false, NULL))
            goto done;
        enc[i].name = sl_strndup(tmp.data, tmp.len);
        sl_buf_reset(&tmp);
        if (sl_s3_uri_encode(&tmp, params[i].value, strlen(params[i].value), false, NULL))
            goto done;
        enc[i].value = sl_strndup(tmp.data, tmp.len);
        if (!enc[i].name || !enc[i].value)
            goto done;
    }
    qsort(enc, n_params, sizeof *enc, enc_param_cmp);
    for (size_t i = 0; i < n_params; i++) {
        if (sl_buf_printf(&b, NULL, "%s%s=%s", i ? "&" : "", enc[i].name, enc[i].value))
            goto done;
    }
    out = sl_buf_take(&b, NULL);
done:
    for (size_t i = 0; i < n_params; i++) {
        sl_free(enc[i].name);
        sl_free(enc[i].value);
    }
    sl_free(enc);
    sl_buf_cleanup(&b);
    sl_buf_cleanup(&tmp);
    return out;
}

/* ---- Connections ---- */

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *ud)
{
    (void)h;
    (void)data;
    (void)access;
    pthread_mutex_lock(ud);
}

static void share_unlock(CURL *h, curl_lock_data data, void *ud)
{
    (void)h;
    (void)data;
    pthread_mutex_unlock(ud);
}

static struct s3_conn *conn_new(void)
{
    struct s3_conn *c = sl_calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->h = curl_easy_init();
    if (!c->h) {
        sl_free(c);
        return NULL;
    }
    return c;
}

static void conn_free(struct s3_conn *c)
{
    if (!c)
        return;
    curl_easy_cleanup(c->h);
    sl_free(c);
}

struct s3_conn *sl_s3_conn_acquire(struct s3_store *s)
{
    struct s3_conn *c = NULL;
    pthread_mutex_lock(&s->idle_lock);
    if (s->n_idle > 0)
        c = s->idle[--s->n_idle];
    pthread_mutex_unlock(&s->idle_lock);
    return c ? c : conn_new();
}

void sl_s3_conn_release(struct s3_store *s, struct s3_conn *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&s->idle_lock);
    if (s->n_idle < SL_S3_IDLE_CONNS) {
        s->idle[s->n_idle++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&s->idle_lock);
    conn_free(c);
}

/* ---- The request engine ---- */

void sl_s3_resp_init(struct s3_resp *rs)
{
    memset(rs, 0, sizeof *rs);
    sl_buf_init(&rs->body, SL_S3_XML_MAX);
    rs->content_length = -1;
}

void sl_s3_resp_cleanup(struct s3_resp *rs)
{
    sl_buf_cleanup(&rs->body);
}

/* State of one attempt, shared with curl's callbacks. */
struct attempt {
    const struct s3_req *rq;
    struct s3_resp *rs;
    CURL *h;
    int64_t want_start; /* object offset this attempt asks for */
    int64_t want_left;  /* bytes still wanted, -1: to the end */
    int64_t cr_start;   /* Content-Range start of the response, -1: none */
    bool started;       /* the first body byte of the final response was seen */
    int64_t skip;       /* body bytes to drop before delivering */
    bool full;          /* everything wanted arrived; the rest is dropped */
    bool overflow;      /* a 2xx body exceeded SL_S3_XML_MAX */
    size_t read_off;    /* upload position */
    long stall_s;       /* seconds without a byte moving that fail the attempt */
    curl_off_t last_dl, last_ul; /* progress at the last move */
    double last_move;   /* monotonic seconds of the last move */
    bool stalled;       /* the progress callback stopped a stalled transfer */
};

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t on_read(char *p, size_t sz, size_t n, void *ud)
{
    struct attempt *a = ud;
    size_t want = sz * n;
    size_t left = a->rq->body_len - a->read_off;
    if (want > left)
        want = left;
    if (want)
        memcpy(p, (const char *)a->rq->body + a->read_off, want);
    a->read_off += want;
    return want;
}

static int on_seek(void *ud, curl_off_t off, int origin)
{
    struct attempt *a = ud;
    if (origin != SEEK_SET || off < 0 || (uint64_t)off > a->rq->body_len)
        return CURL_SEEKFUNC_FAIL;
    a->read_off = (size_t)off;
    return CURL_SEEKFUNC_OK;
}

/* Called by curl at least once a second. Besides cancellation it detects
 * stalls precisely: CURLOPT_LOW_SPEED_TIME compares curl's speed averaged over
 * ~5 s, so after a burst (a frozen server's socket buffers swallowing a few
 * MiB) it fires only seconds later than asked. */
static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    struct attempt *a = ud;
    (void)dltotal;
    (void)ultotal;
    if (a->rq->cancel && atomic_load(a->rq->cancel))
        return 1;
    double now = mono_s();
    if (dlnow != a->last_dl || ulnow != a->last_ul) {
        a->last_dl = dlnow;
        a->last_ul = ulnow;
        a->last_move = now;
    } else if (now - a->last_move >= (double)a->stall_s) {
        a->stalled = true;
        return 1;
    }
    return 0;
}

static bool header_is(const char *p, size_t len, const char *name, const char **val,
                      size_t *val_len)
{
    size_t n = strlen(name);
    if (len <= n || strncasecmp(p, name, n) != 0 || p[n] != ':')
        return false;
    const char *v = p + n + 1;
    const char *end = p + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    *val = v;
    *val_len = (size_t)(end - v);
    return true;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
    struct attempt *a = ud;
    struct s3_resp *rs = a->rs;
    size_t len = sz * n;
    const char *v;
    size_t vl;
    char tmp[128];

    if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) { /* a new response (after 100, redirects) */
        rs->etag[0] = rs->etag_raw[0] = rs->region[0] = '\0';
        rs->content_length = -1;
        rs->mtime_ms = 0;
        a->cr_start = -1;
        return len;
    }
    if (header_is(p, len, "etag", &v, &vl)) {
        snprintf(rs->etag_raw, sizeof rs->etag_raw, "%.*s", (int)vl, v);
        if (vl >= 2 && v[0] == '"' && v[vl - 1] == '"') {
            v++;
            vl -= 2;
        }
        snprintf(rs->etag, sizeof rs->etag, "%.*s", (int)vl, v);
    } else if (header_is(p, len, "content-length", &v, &vl)) {
        snprintf(tmp, sizeof tmp, "%.*s", (int)vl, v);
        rs->content_length = strtoll(tmp, NULL, 10);
    } else if (header_is(p, len, "last-modified", &v, &vl)) {
        snprintf(tmp, sizeof tmp, "%.*s", (int)vl, v);
        time_t t = curl_getdate(tmp, NULL);
        rs->mtime_ms = t > 0 ? (int64_t)t * 1000 : 0;
    } else if (header_is(p, len, "content-range", &v, &vl)) {
        snprintf(tmp, sizeof tmp, "%.*s", (int)vl, v);
        long long start;
        if (sscanf(tmp, "bytes %lld-", &start) == 1)
            a->cr_start = start;
    } else if (header_is(p, len, "x-amz-bucket-region", &v, &vl)) {
        snprintf(rs->region, sizeof rs->region, "%.*s", (int)vl, v);
    }
    return len;
}

static size_t on_write(char *p, size_t sz, size_t n, void *ud)
{
    struct attempt *a = ud;
    const struct s3_req *rq = a->rq;
    struct s3_resp *rs = a->rs;
    size_t len = sz * n;
    long status = 0;

    curl_easy_getinfo(a->h, CURLINFO_RESPONSE_CODE, &status);
    if (rq->sink && status / 100 == 2) {
        if (!a->started) {
            a->started = true;
            /* a server that ignores If-Match (the emulator does) still says
             * which version it sends: refuse it before any byte is delivered */
            if (rq->if_match && rs->etag[0] && strcmp(rs->etag, rq->if_match) != 0) {
                rs->sink_rc = SL_ECHANGED;
                return 0;
            }
            /* a server that ignores Range answers 200 with the whole object */
            int64_t body_start = status == 206 && a->cr_start >= 0 ? a->cr_start : 0;
            a->skip = a->want_start - body_start;
            if (a->skip < 0)
                a->skip = 0;
        }
        if (a->full)
            return 0; /* more than asked for: stop here (a success, see below) */
        size_t drop = a->skip > 0 ? (a->skip < (int64_t)len ? (size_t)a->skip : len) : 0;
        a->skip -= (int64_t)drop;
        p += drop;
        size_t give = len - drop;
        if (a->want_left >= 0 && (int64_t)give > a->want_left)
            give = (size_t)a->want_left;
        if (give) {
            int rc = rq->sink(rq->sink_ud, p, give);
            if (rc != SL_OK) {
                rs->sink_rc = rc;
                return 0;
            }
            rs->delivered += (int64_t)give;
            if (rq->stats)
                rq->stats->bytes_read += give;
            if (a->want_left >= 0)
                a->want_left -= (int64_t)give;
        }
        if (a->want_left == 0 && give < len - drop) {
            a->full = true;
            return 0;
        }
        if (a->want_left == 0)
            a->full = true;
        return len;
    }
    if (status / 100 == 2 && !rq->sink) {
        if (sl_buf_append(&rs->body, p, len, NULL)) {
            a->overflow = true;
            return 0;
        }
        return len;
    }
    /* error bodies: keep the start, drop the rest */
    if (rs->body.len < SL_S3_ERROR_MAX) {
        size_t room = SL_S3_ERROR_MAX - rs->body.len;
        if (sl_buf_append(&rs->body, p, len < room ? len : room, NULL)) {
            a->overflow = true;
            return 0;
        }
    }
    return len;
}

static bool curl_is_transient(CURLcode cc)
{
    switch (cc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return true;
    default:
        return false;
    }
}

bool sl_s3_code_is_transient(const char *code)
{
    static const char *const codes[] = {
        "InternalError", "SlowDown", "RequestTimeout", "RequestTimeTooSkewed", "Throttling",
        "ThrottlingException", "RequestThrottled", "ServiceUnavailable", "OperationAborted",
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(codes); i++) {
        if (strcmp(code, codes[i]) == 0)
            return true;
    }
    return false;
}

static bool status_is_transient(long status, const char *code)
{
    return status >= 500 || status == 429 || (status == 400 && sl_s3_code_is_transient(code));
}

/* Sleeps for the full-jitter backoff of retry number 'retry' (1-based):
 * uniform in [0, min(cap, base * 2^(retry-1))], in steps that notice cancel.
 * Returns false when cancelled. */
static bool backoff(const struct s3_req *rq, int retry)
{
    uint64_t ceiling = SL_S3_BACKOFF_BASE_MS;
    for (int i = 1; i < retry && ceiling < SL_S3_BACKOFF_CAP_MS; i++)
        ceiling *= 2;
    if (ceiling > SL_S3_BACKOFF_CAP_MS)
        ceiling = SL_S3_BACKOFF_CAP_MS;
    uint32_t r = 0;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r)
        r = (uint32_t)time(NULL) * 2654435761u; /* no entropy yet: any spread will do */
    uint64_t ms = (uint64_t)r % (ceiling + 1);
    while (ms > 0) {
        if (rq->cancel && atomic_load(rq->cancel))
            return false;
        uint64_t step = ms < 50 ? ms : 50;
        struct timespec ts = { 0, (long)step * 1000000L };
        nanosleep(&ts, NULL);
        ms -= step;
    }
    return !(rq->cancel && atomic_load(rq->cancel));
}

static void parse_error_body(struct s3_resp *rs)
{
    rs->code[0] = rs->message[0] = '\0';
    if (!rs->body.len)
        return;
    sl_s3_xml_text(rs->body.data, rs->body.len, "Code", rs->code, sizeof rs->code);
    sl_s3_xml_text(rs->body.data, rs->body.len, "Message", rs->message, sizeof rs->message);
}

static int build_url(const struct s3_store *s, const struct s3_req *rq, struct sl_buf *url,
                     struct sl_err *err)
{
    int rc = sl_buf_puts(url, s->base_url, err);
    if (!rc && rq->key) {
        rc = sl_buf_putc(url, '/', err);
        if (!rc)
            rc = sl_s3_uri_encode(url, rq->key, strlen(rq->key), true, err);
    } else if (!rc && !s->cfg.path_style) {
        rc = sl_buf_putc(url, '/', err);
    }
    if (!rc && rq->query && rq->query[0])
        rc = sl_buf_printf(url, err, "?%s", rq->query);
    return rc;
}

static int add_header(struct curl_slist **list, struct sl_err *err, const char *fmt, ...)
    SL_PRINTF(3, 4);

static int add_header(struct curl_slist **list, struct sl_err *err, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    struct curl_slist *l = curl_slist_append(*list, line);
    if (!l)
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    *list = l;
    return SL_OK;
}

/* Sets up conn for one attempt of rq. */
static int setup(struct s3_store *s, struct s3_conn *c, const struct s3_req *rq,
                 struct attempt *a, const char *url, const char *payload_hash,
                 struct curl_slist **headers, struct sl_err *err)
{
    CURL *h = c->h;
    int rc;

    curl_easy_reset(h);
    c->errbuf[0] = '\0';
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf);
    curl_easy_setopt(h, CURLOPT_SHARE, s->share);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_USERAGENT, "sluice/" SL_VERSION);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT,
                     s->timeout_s < SL_S3_CONNECT_TIMEOUT_S ? s->timeout_s
                                                            : (long)SL_S3_CONNECT_TIMEOUT_S);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, s->timeout_s);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, a);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, a);
    a->stall_s = s->timeout_s;
    a->last_move = mono_s();
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, a);
    if (s->sigv4) {
        curl_easy_setopt(h, CURLOPT_AWS_SIGV4, s->sigv4);
        curl_easy_setopt(h, CURLOPT_USERNAME, s->cfg.access_key_id);
        curl_easy_setopt(h, CURLOPT_PASSWORD, s->cfg.secret_access_key);
    }

    const char *m = rq->method;
    if (strcmp(m, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (strcmp(m, "GET") == 0) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(m, "PUT") == 0) {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, a);
        curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
        curl_easy_setopt(h, CURLOPT_SEEKDATA, a);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)rq->body_len);
    } else if (strcmp(m, "POST") == 0) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->body ? (const char *)rq->body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
    } else {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, m);
    }

    /* x-amz-content-sha256 must be sent: curl 7.88 neither adds nor computes it */
    if ((rc = add_header(headers, err, "x-amz-content-sha256: %s", payload_hash)))
        return rc;
    if (s->cfg.session_token && s->sigv4 &&
        (rc = add_header(headers, err, "x-amz-security-token: %s", s->cfg.session_token)))
        return rc;
    if (rq->content_md5 && (rc = add_header(headers, err, "Content-MD5: %s", rq->content_md5)))
        return rc;
    if (strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0) {
        const char *ct = rq->content_type ? rq->content_type : "application/octet-stream";
        /* no "Expect:" line to turn 100-continue off: curl 7.88 would list the
         * removed header in SignedHeaders and break the signature */
        if ((rc = add_header(headers, err, "Content-Type: %s", ct)))
            return rc;
    }
    if (rq->sink) {
        if (a->want_start > 0 || rq->ranged) {
            if (a->want_left >= 0)
                rc = add_header(headers, err, "Range: bytes=%" PRId64 "-%" PRId64, a->want_start,
                                a->want_start + a->want_left - 1);
            else
                rc = add_header(headers, err, "Range: bytes=%" PRId64 "-", a->want_start);
            if (rc)
                return rc;
        }
        /* resuming: the bytes must come from the object we started reading */
        if ((a->rs->delivered > 0 || a->rq->if_match) && a->rs->etag_raw[0] &&
            (rc = add_header(headers, err, "If-Match: %s", a->rs->etag_raw)))
            return rc;
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, *headers);
    return SL_OK;
}

int sl_s3_request(struct s3_store *s, struct s3_conn *c, const struct s3_req *rq,
                  struct s3_resp *rs, struct sl_err *err)
{
    struct sl_buf url;
    char hash[65];
    char saved_etag_raw[sizeof rs->etag_raw] = "";
    const char *payload_hash;
    int rc = SL_OK;
    CURLcode cc = CURLE_OK;

    sl_buf_init(&url, 0);
    rs->attempts = 0;
    if (rq->if_match) /* every attempt asks for this version (restored below) */
        snprintf(saved_etag_raw, sizeof saved_etag_raw, "\"%.70s\"", rq->if_match);
    if ((rc = build_url(s, rq, &url, err)))
        goto fail;
    if (rq->body_sha256) {
        payload_hash = rq->body_sha256;
    } else if (rq->body_len == 0) {
        payload_hash = EMPTY_SHA256;
    } else if (s->sign_payload) {
        sl_sha256_hex(rq->body, rq->body_len, hash);
        payload_hash = hash;
    } else {
        payload_hash = "UNSIGNED-PAYLOAD";
    }
    if (rq->counter)
        (*rq->counter)++;

    for (int attempt = 1;; attempt++) {
        struct curl_slist *headers = NULL;
        struct attempt a = { .rq = rq, .rs = rs, .h = c->h, .cr_start = -1 };

        if (attempt > 1) {
            if (rq->stats)
                rq->stats->retries++;
            if (!backoff(rq, attempt - 1)) {
                rc = sl_err_set(err, SL_ECANCELLED, "cancelled");
                goto fail;
            }
        }
        if (rq->sink) {
            a.want_start = rq->range_off + rs->delivered;
            a.want_left = rq->range_len < 0 ? -1 : rq->range_len - rs->delivered;
            if (a.want_left == 0) {
                rs->status = 206; /* an earlier attempt delivered everything */
                break;
            }
        }
        if (saved_etag_raw[0])
            memcpy(rs->etag_raw, saved_etag_raw, sizeof saved_etag_raw);
        sl_buf_reset(&rs->body);
        rs->status = 0;
        rs->attempts = attempt;
        rc = setup(s, c, rq, &a, url.data, payload_hash, &headers, err);
        if (!rc)
            cc = curl_easy_perform(c->h);
        curl_slist_free_all(headers);
        if (rc)
            goto fail;
        if (rs->delivered > 0 && !saved_etag_raw[0])
            memcpy(saved_etag_raw, rs->etag_raw, sizeof saved_etag_raw);
        if (rs->sink_rc) {
            rc = rs->sink_rc; /* the sink's own error: err is its business */
            goto fail;
        }
        if (a.overflow) {
            rc = sl_err_set(err, SL_ELIMIT, "response larger than %zu bytes",
                            (size_t)SL_S3_XML_MAX);
            goto fail;
        }
        if (cc == CURLE_WRITE_ERROR && a.full)
            cc = CURLE_OK;
        if (cc == CURLE_ABORTED_BY_CALLBACK && a.stalled) {
            cc = CURLE_OPERATION_TIMEDOUT;
            snprintf(c->errbuf, sizeof c->errbuf, "no data moved for %ld s", s->timeout_s);
        }
        if (cc == CURLE_ABORTED_BY_CALLBACK) {
            rc = sl_err_set(err, SL_ECANCELLED, "cancelled");
            goto fail;
        }
        if (cc != CURLE_OK) {
            if (curl_is_transient(cc) && attempt < s->max_attempts)
                continue;
            char detail[CURL_ERROR_SIZE + 64];
            sl_redact(c->errbuf[0] ? c->errbuf : curl_easy_strerror(cc), detail, sizeof detail);
            if (curl_is_transient(cc))
                rc = sl_err_set(err, SL_ETRANSIENT, "could not complete the request (%d %s): %s",
                                attempt, attempt == 1 ? "attempt" : "attempts", detail);
            else
                rc = sl_err_set(err, SL_EIO, "cannot send the request: %s", detail);
            goto fail;
        }
        curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &rs->status);
        bool error_body = rs->status / 100 != 2;
        if (!error_body && rq->body_may_hold_error && rs->body.len) {
            char root[32];
            sl_s3_xml_root(rs->body.data, rs->body.len, root, sizeof root);
            error_body = strcmp(root, "Error") == 0;
        }
        if (error_body)
            parse_error_body(rs);
        else
            rs->code[0] = rs->message[0] = '\0';
        bool transient = false;
        if (error_body && rs->status / 100 == 2)
            transient = sl_s3_code_is_transient(rs->code);
        else if (error_body)
            transient = status_is_transient(rs->status, rs->code);
        if (transient && attempt < s->max_attempts)
            continue;
        break;
    }
    sl_buf_cleanup(&url);
    return SL_OK;
fail:
    sl_buf_cleanup(&url);
    return rc;
}

int sl_s3_http_error(const struct s3_store *s, const struct s3_req *rq,
                     const struct s3_resp *rs, struct sl_err *err)
{
    char code[sizeof rs->code + 8], msg[sizeof rs->message];
    long st = rs->status;

    sl_redact(rs->code, code, sizeof code);
    sl_redact(rs->message, msg, sizeof msg);
    if (!code[0]) {
        switch (st) {
        case 400: snprintf(code, sizeof code, "BadRequest"); break;
        case 403: snprintf(code, sizeof code, "Forbidden"); break;
        case 404: snprintf(code, sizeof code, "NotFound"); break;
        case 503: snprintf(code, sizeof code, "ServiceUnavailable"); break;
        default: break;
        }
    }
    char why[400];
    snprintf(why, sizeof why, "HTTP %ld%s%s%s%s", st, code[0] ? " " : "", code,
             msg[0] ? ": " : "", msg);
    const char *region_hint = rs->region;
    char body_region[64] = "";
    if (!region_hint[0] && rs->body.len) {
        sl_s3_xml_text(rs->body.data, rs->body.len, "Region", body_region, sizeof body_region);
        region_hint = body_region;
    }

    const char *note = rq->uri_note ? rq->uri_note : "";
    if (st == 404 && strcmp(rs->code, "NoSuchBucket") == 0)
        return sl_err_set(err, SL_ENOTFOUND, "%s \"%s\"%s: bucket \"%s\" does not exist (%s)",
                          rq->op, rq->uri, note, s->st->bucket, why);
    if (st == 404 && (!rs->code[0] || strcmp(rs->code, "NoSuchKey") == 0))
        return sl_err_set(err, SL_ENOTFOUND, "\"%s\": not found", rq->uri);
    if (st == 404)
        return sl_err_set(err, SL_ENOTFOUND, "%s \"%s\"%s: %s", rq->op, rq->uri, note, why);
    if ((st == 301 || st == 307 || st == 400) && region_hint[0] &&
        strcmp(region_hint, s->cfg.region) != 0)
        return sl_err_set(err, SL_ECONFIG,
                          "%s \"%s\"%s: bucket \"%s\" is in region \"%s\", not \"%s\" (set "
                          "AWS_REGION): %s",
                          rq->op, rq->uri, note, s->st->bucket, region_hint, s->cfg.region, why);
    if (st == 403 || strcmp(rs->code, "InvalidAccessKeyId") == 0 ||
        strcmp(rs->code, "SignatureDoesNotMatch") == 0 || strcmp(rs->code, "ExpiredToken") == 0 ||
        strcmp(rs->code, "InvalidToken") == 0)
        return sl_err_set(err, SL_EACCESS, "%s \"%s\"%s: %s", rq->op, rq->uri, note, why);
    if (status_is_transient(st, rs->code) || sl_s3_code_is_transient(rs->code))
        return sl_err_set(err, SL_ETRANSIENT,
                          "%s \"%s\"%s: could not complete the request (%d %s): %s", rq->op,
                          rq->uri, note, rs->attempts, rs->attempts == 1 ? "attempt" : "attempts",
                          why);
    return sl_err_set(err, SL_EIO, "%s \"%s\"%s: %s", rq->op, rq->uri, note, why);
}

/* ---- Open and close ---- */

/* Reads a positive number from the environment, with an optional K/M/G
 * (binary) suffix when 'sized'. Returns SL_OK and leaves *out unchanged when
 * the variable is unset. */
static int env_number(const char *name, bool sized, uint64_t min, uint64_t max, uint64_t *out,
                      struct sl_err *err)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return SL_OK;
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    uint64_t mult = 1;
    if (sized && *end) {
        switch (*end) {
        case 'k': case 'K': mult = 1u << 10; end++; break;
        case 'm': case 'M': mult = 1u << 20; end++; break;
        case 'g': case 'G': mult = 1u << 30; end++; break;
        default: break;
        }
        if (mult > 1 && (*end == 'i' || *end == 'I') && (end[1] == 'b' || end[1] == 'B'))
            end += 2;
        else if (mult > 1 && (*end == 'b' || *end == 'B'))
            end++;
    }
    if (errno || end == v || *end || v[0] == '-' || n > max / mult || n * mult < min)
        return sl_err_set(err, SL_ECONFIG,
                          "%s=\"%s\": expected a number from %" PRIu64 " to %" PRIu64 "%s", name,
                          v, min, max, sized ? " (bytes, or with a K/M/G suffix)" : "");
    *out = n * mult;
    return SL_OK;
}

static bool dns_compatible(const char *bucket)
{
    size_t n = strlen(bucket);
    if (n < 3 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = bucket[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return false; /* dots break TLS wildcard certificates: path style then */
    }
    return bucket[0] != '-' && bucket[n - 1] != '-';
}

static void s3_close(struct sl_store *st)
{
    struct s3_store *s = st->impl;
    if (!s)
        return;
    curl_easy_cleanup(s->main.h);
    for (int i = 0; i < s->n_idle; i++)
        conn_free(s->idle[i]);
    if (s->share)
        curl_share_cleanup(s->share);
    pthread_mutex_destroy(&s->share_lock);
    pthread_mutex_destroy(&s->idle_lock);
    sl_aws_config_cleanup(&s->cfg);
    sl_free(s->base_url);
    sl_free(s->sigv4);
    sl_free(s);
    st->impl = NULL;
}

static int s3_open(struct sl_store *st, const char *bucket, struct sl_err *err)
{
    struct s3_store *s = NULL;
    uint64_t v;
    int rc;

    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK)
        return sl_err_set(err, SL_EINTERNAL, "cannot initialise libcurl: %s",
                          curl_easy_strerror(curl_init_rc));
    if (!bucket || !bucket[0] || strchr(bucket, '/'))
        return sl_err_set(err, SL_ECONFIG, "s3: bad bucket name \"%s\"", bucket ? bucket : "");
    s = sl_calloc(1, sizeof *s);
    if (!s)
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    s->st = st;
    st->impl = s;
    pthread_mutex_init(&s->share_lock, NULL);
    pthread_mutex_init(&s->idle_lock, NULL);
    if ((rc = sl_aws_config_resolve(&s->cfg, NULL, err)))
        goto fail;

    s->part_size = SL_S3_PART_DEFAULT;
    s->timeout_s = SL_S3_STALL_TIMEOUT_S;
    s->max_attempts = SL_S3_ATTEMPTS_DEFAULT;
    v = s->part_size;
    if ((rc = env_number("SLUICE_S3_PART_SIZE", true, SL_S3_PART_MIN, SL_S3_PART_MAX, &v, err)))
        goto fail;
    s->part_size = (size_t)v;
    v = (uint64_t)s->timeout_s;
    if ((rc = env_number("SLUICE_S3_TIMEOUT", false, 1, 3600, &v, err)))
        goto fail;
    s->timeout_s = (long)v;
    v = (uint64_t)s->max_attempts;
    if ((rc = env_number("SLUICE_S3_MAX_ATTEMPTS", false, 1, 100, &v, err)))
        goto fail;
    s->max_attempts = (int)v;

    const char *ep = s->cfg.endpoint;
    s->https = strncasecmp(ep, "https://", 8) == 0;
    /* plain http has no integrity of its own: sign the body's hash then */
    s->sign_payload = !s->https;
    if (!s->cfg.path_style && !dns_compatible(bucket))
        s->cfg.path_style = true;
    if (s->cfg.path_style) {
        s->base_url = sl_asprintf("%s/%s", ep, bucket);
    } else {
        const char *host = strstr(ep, "://") + 3;
        s->base_url = sl_asprintf("%.*s%s.%s", (int)(host - ep), ep, bucket, host);
    }
    if (s->cfg.access_key_id)
        s->sigv4 = sl_asprintf("aws:amz:%s:s3", s->cfg.region);
    s->main.h = curl_easy_init();
    s->share = curl_share_init();
    if (!s->base_url || (s->cfg.access_key_id && !s->sigv4) || !s->main.h || !s->share) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto fail;
    }
    curl_share_setopt(s->share, CURLSHOPT_LOCKFUNC, share_lock);
    curl_share_setopt(s->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
    curl_share_setopt(s->share, CURLSHOPT_USERDATA, &s->share_lock);
    curl_share_setopt(s->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    return SL_OK;
fail:
    s3_close(st);
    return sl_err_prefix(err, "open \"s3://%s\"", bucket);
}

/* ---- HEAD and GET ---- */

static char *key_uri(const struct sl_store *st, const char *key)
{
    return sl_asprintf("s3://%s/%s", st->bucket, key);
}

static int discard(void *ud, const void *data, size_t len)
{
    (void)ud;
    (void)data;
    (void)len;
    return SL_OK;
}

static int s3_head(struct sl_store *st, const char *key, struct sl_obj_info *info,
                   struct sl_err *err)
{
    struct s3_store *s = st->impl;
    struct s3_resp rs;
    char *uri = key_uri(st, key);
    int rc;

    sl_s3_resp_init(&rs);
    if (!uri) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto done;
    }
    if (!key[0]) {
        rc = sl_err_set(err, SL_ECONFIG, "head \"%s\": empty key", uri);
        goto done;
    }
    struct s3_req rq = { .op = "head", .uri = uri, .method = "HEAD", .key = key,
                         .counter = &st->stats.head_requests, .stats = &st->stats };
    if ((rc = sl_s3_request(s, &s->main, &rq, &rs, err))) {
        sl_err_prefix(err, "head \"%s\"", uri);
        goto done;
    }
    if (rs.status / 100 != 2 && rs.status != 404) {
        /* HEAD responses have no body: ask again with a 1-byte GET to learn S3's
         * error code (AccessDenied, ...) for the message */
        struct s3_resp probe;
        struct s3_req grq = { .op = "head", .uri = uri, .method = "GET", .key = key,
                              .sink = discard, .ranged = true, .range_len = 1,
                              .counter = &st->stats.get_requests, .stats = &st->stats };
        struct sl_err perr;
        sl_s3_resp_init(&probe);
        if (sl_s3_request(s, &s->main, &grq, &probe, &perr) == SL_OK &&
            probe.status == rs.status && probe.code[0]) {
            memcpy(rs.code, probe.code, sizeof rs.code);
            memcpy(rs.message, probe.message, sizeof rs.message);
        }
        sl_s3_resp_cleanup(&probe);
    }
    if (rs.status / 100 != 2) {
        rc = sl_s3_http_error(s, &rq, &rs, err);
        goto done;
    }
    info->key = NULL;
    info->size = rs.content_length >= 0 ? rs.content_length : 0;
    snprintf(info->etag, sizeof info->etag, "%s", rs.etag);
    info->mtime_ms = rs.mtime_ms;
    info->is_prefix = false;
    rc = SL_OK;
done:
    sl_s3_resp_cleanup(&rs);
    sl_free(uri);
    return rc;
}

static int s3_get(struct sl_store *st, const char *key, const char *if_match, int64_t off,
                  int64_t len, sl_data_fn fn, void *ud, struct sl_err *err)
{
    struct s3_store *s = st->impl;
    struct s3_resp rs;
    char *uri;
    int rc;

    if (len == 0) { /* nothing to read, but a missing object is still an error */
        struct sl_obj_info info;
        return s3_head(st, key, &info, err);
    }
    uri = key_uri(st, key);
    sl_s3_resp_init(&rs);
    if (!uri) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto done;
    }
    if (!key[0]) {
        rc = sl_err_set(err, SL_ECONFIG, "get \"%s\": empty key", uri);
        goto done;
    }
    struct s3_req rq = { .op = "get", .uri = uri, .method = "GET", .key = key, .sink = fn,
                         .sink_ud = ud, .ranged = off > 0 || len >= 0, .range_off = off,
                         .range_len = len < 0 ? -1 : len,
                         .counter = &st->stats.get_requests, .stats = &st->stats,
                         .if_match = if_match };
    if ((rc = sl_s3_request(s, &s->main, &rq, &rs, err))) {
        if (rs.sink_rc == SL_ECHANGED && rs.delivered == 0)
            rc = sl_err_set(err, SL_ECHANGED, "get \"%s\": the object changed since it was listed",
                            uri);
        else if (!rs.sink_rc)
            sl_err_prefix(err, "get \"%s\"", uri);
        goto done;
    }
    if (rs.status == 416) {
        /* the range starts at or past the end: nothing (more) to deliver; when
         * resuming, If-Match (checked before Range) proved it the same object */
        rc = SL_OK;
    } else if (rs.status == 412) {
        rc = sl_err_set(err, if_match && rs.delivered == 0 ? SL_ECHANGED : SL_EIO,
                        "get \"%s\": the object changed %s", uri,
                        rs.delivered == 0 ? "since it was listed" : "while it was read");
    } else if (rs.status / 100 != 2) {
        rc = sl_s3_http_error(s, &rq, &rs, err);
    } else {
        rc = SL_OK;
    }
done:
    sl_s3_resp_cleanup(&rs);
    sl_free(uri);
    return rc;
}

const struct sl_store_ops sl_store_s3_ops = {
    .scheme = "s3",
    .open = s3_open,
    .close = s3_close,
    .list = sl_s3_list,
    .head = s3_head,
    .get = s3_get,
    .put_begin = sl_s3_put_begin,
    .put_write = sl_s3_put_write,
    .put_commit = sl_s3_put_commit,
    .put_abort = sl_s3_put_abort,
    .del = sl_s3_delete,
};
