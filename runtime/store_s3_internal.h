/*
 * runtime/store_s3_internal.h - what the S3 backend's files share:
 * store_s3.c (open/close, the signed request engine with retries, errors,
 * head, get), store_s3_list.c (ListObjectsV2, DeleteObjects and the small XML
 * reader) and store_s3_upload.c (the put writer: single PUT or parallel
 * multipart).
 *
 * Threads: struct s3_store is set up by open and then read-only, except the
 * idle-connection stack (idle_lock) and curl's shared DNS cache (share_lock).
 * A struct s3_conn (one CURL handle and its connections) is used by one thread
 * at a time: the store's caller uses s->main, upload threads borrow others.
 */
#ifndef SL_STORE_S3_INTERNAL_H
#define SL_STORE_S3_INTERNAL_H

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "aws_config.h"
#include "buf.h"
#include "hash.h"
#include "store_internal.h"

#define SL_S3_PART_MIN ((size_t)5 << 20)     /* S3 rejects smaller parts (except the last) */
#define SL_S3_PART_DEFAULT ((size_t)8 << 20) /* the AWS CLI's default multipart chunk */
#define SL_S3_PART_MAX ((size_t)5 << 30)     /* S3's largest part */
#define SL_S3_MAX_PARTS 10000                /* S3's limit per multipart upload */
#define SL_S3_PARTS_PER_DOUBLING 1000        /* part size doubles every 1000 parts: 8 MiB
                                                parts reach 8 GB, doubled ones S3's 5 TB cap */
#define SL_S3_UPLOAD_THREADS 4 /* parts in flight per writer: saturates a link (and s3rver)
                                  while memory stays at (4 + 1) x part size */
#define SL_S3_IDLE_CONNS 8     /* idle upload connections a store keeps for reuse */
#define SL_S3_LIST_PAGE 1000   /* S3's maximum max-keys */
#define SL_S3_DELETE_BATCH 1000 /* S3's maximum keys per DeleteObjects */
#define SL_S3_ATTEMPTS_DEFAULT 5
#define SL_S3_BACKOFF_BASE_MS 100  /* first retry waits up to 100 ms (full jitter) */
#define SL_S3_BACKOFF_CAP_MS 5000  /* no single wait exceeds 5 s */
#define SL_S3_CONNECT_TIMEOUT_S 10 /* a TCP/TLS connect that takes longer is failed */
#define SL_S3_STALL_TIMEOUT_S 30   /* a transfer moving < 1 byte/s this long is failed */
#define SL_S3_XML_MAX ((size_t)32 << 20)   /* a ListObjectsV2 page of 1000 long keys is ~4 MiB */
#define SL_S3_ERROR_MAX ((size_t)64 << 10) /* error bodies are small; the rest is dropped */

/* One CURL easy handle: it keeps its connections alive between requests. */
struct s3_conn {
    CURL *h;
    char errbuf[CURL_ERROR_SIZE];
};

struct s3_store {
    struct sl_store *st;      /* borrowed: the store that owns us */
    struct sl_aws_config cfg; /* owned */
    char *base_url;           /* owned; bucket URL without trailing '/': path style
                                 "http://host:9000/bucket", else
                                 "https://bucket.s3.<region>.amazonaws.com" */
    char *sigv4;              /* owned; "aws:amz:<region>:s3", NULL when anonymous */
    bool https;
    bool sign_payload;        /* x-amz-content-sha256 is the real hash (plain http) */
    size_t part_size;         /* bytes; first part size of multipart uploads */
    long timeout_s;           /* stall timeout (and connect timeout cap) */
    int max_attempts;         /* >= 1 */
    struct s3_conn main;      /* the store's own connection */
    CURLSH *share;            /* DNS cache shared by all our handles */
    pthread_mutex_t share_lock;
    pthread_mutex_t idle_lock;
    struct s3_conn *idle[SL_S3_IDLE_CONNS]; /* guarded by idle_lock */
    int n_idle;                             /* guarded by idle_lock */
};

/* One logical request; sl_s3_request() sends it, with retries. */
struct s3_req {
    const char *op;       /* for messages: "get", "list", "upload part 3" ... */
    const char *uri;      /* for messages: "s3://bucket/key" */
    const char *uri_note; /* for messages, after the URI: " part 3"; NULL: none */
    const char *method;   /* "GET", "HEAD", "PUT", "POST", "DELETE" */
    const char *key;      /* NULL: the bucket itself */
    const char *query;    /* canonical query (sl_s3_query), NULL: none */
    const void *body;     /* PUT/POST body, borrowed */
    size_t body_len;
    const char *body_sha256;  /* hex SHA-256 of body; NULL: computed, or UNSIGNED-PAYLOAD */
    const char *content_md5;  /* base64, NULL: none */
    const char *content_type; /* NULL: none */
    /* Streaming GET: 2xx bodies go to sink, starting at range_off; range_len < 0
     * reads to the end. Retries resume after the bytes already delivered. */
    sl_data_fn sink;
    void *sink_ud;
    bool ranged; /* send a Range header even for range_off 0 */
    int64_t range_off, range_len;
    bool body_may_hold_error; /* a 200 whose body is <Error> is an error (Complete...) */
    uint64_t *counter;        /* stats counter to bump once per request, NULL: none */
    struct sl_store_stats *stats; /* where retries and bytes are counted */
    atomic_bool *cancel;      /* when set, transfers stop with SL_ECANCELLED */
    const char *if_match;     /* ETag (unquoted) every attempt must match; NULL: none */
};

struct s3_resp {
    long status;          /* final HTTP status; 0 when none was received */
    struct sl_buf body;   /* owned; the body when there is no sink or on errors */
    char etag[72];        /* ETag header without quotes */
    char etag_raw[80];    /* ETag header as sent (for If-Match) */
    int64_t content_length; /* -1 when absent */
    int64_t mtime_ms;       /* Last-Modified; 0 when absent */
    char region[64];        /* x-amz-bucket-region, "" when absent */
    char code[64];          /* S3 error <Code>, "" when none */
    char message[256];      /* S3 error <Message>, "" when none */
    int attempts;           /* requests sent */
    int64_t delivered;      /* bytes given to the sink, over all attempts */
    int sink_rc;            /* non-OK: the sink stopped the transfer */
};

void sl_s3_resp_init(struct s3_resp *rs);
void sl_s3_resp_cleanup(struct s3_resp *rs);

/* Sends rq on conn with retries: transport failures, 5xx, 429 and throttling
 * codes are retried (exponential backoff with full jitter) up to max_attempts.
 * Returns SL_OK once a final HTTP response is in rs (whatever its status: map
 * errors with sl_s3_http_error); SL_ETRANSIENT when every attempt failed in
 * transport; SL_ECANCELLED; the sink's code when it stopped; SL_ENOMEM. */
int sl_s3_request(struct s3_store *s, struct s3_conn *conn, const struct s3_req *rq,
                  struct s3_resp *rs, struct sl_err *err);

/* Fills err from a non-2xx (or error-bodied) response: 404 → SL_ENOTFOUND,
 * 403 and credential errors → SL_EACCESS, 5xx/429 → SL_ETRANSIENT, wrong
 * region → SL_ECONFIG, others → SL_EIO. Returns the code. */
int sl_s3_http_error(const struct s3_store *s, const struct s3_req *rq,
                     const struct s3_resp *rs, struct sl_err *err);

/* S3 error codes worth retrying (InternalError, SlowDown, RequestTimeout...). */
bool sl_s3_code_is_transient(const char *code);

/* A connection for an upload thread (borrowed from the idle stack or new);
 * NULL on OOM. Release puts it back. Thread-safe. */
struct s3_conn *sl_s3_conn_acquire(struct s3_store *s);
void sl_s3_conn_release(struct s3_store *s, struct s3_conn *c);

/* ---- Encoding ---- */

/* Appends s[0..len) URI-encoded as SigV4 wants: unreserved bytes kept, '/'
 * kept when keep_slash, everything else %XX (upper case). */
int sl_s3_uri_encode(struct sl_buf *b, const char *s, size_t len, bool keep_slash,
                     struct sl_err *err);

struct s3_qparam {
    const char *name;
    const char *value; /* "" for valueless parameters such as "uploads" */
};
/* Builds a canonical query string (encoded, sorted by name then value, every
 * parameter with '='; curl 7.88 signs the query as given): owned, NULL on OOM. */
char *sl_s3_query(const struct s3_qparam *params, size_t n_params);


/* ---- XML (store_s3_list.c) ---- */

/* Finds the first element <name> at or after *pos in xml[0..len) (at any
 * depth) and returns its raw content in *val and *val_len; *pos moves past the
 * element. False when there is none. Attributes and self-closing tags are
 * handled; comments and CDATA are not expected from S3. */
bool sl_s3_xml_find(const char *xml, size_t len, size_t *pos, const char *name,
                    const char **val, size_t *val_len);
/* Copies the text of element name (first match anywhere) into out,
 * XML-unescaped and truncated to out_len; "" when absent. Returns out. */
char *sl_s3_xml_text(const char *xml, size_t len, const char *name, char *out, size_t out_len);
/* Appends raw XML text unescaped (&lt; &gt; &amp; &quot; &apos; &#N; &#xN;). */
int sl_s3_xml_unescape(struct sl_buf *b, const char *s, size_t len, struct sl_err *err);
/* Appends s escaped for XML element text. False (nothing appended) when s
 * holds a byte XML 1.0 cannot carry (control characters). */
int sl_s3_xml_escape(struct sl_buf *b, const char *s, bool *ok, struct sl_err *err);
/* The name of the root element ("Error", "ListBucketResult" ...) into out. */
char *sl_s3_xml_root(const char *xml, size_t len, char *out, size_t out_len);

/* ---- Backend operations (one per file) ---- */

int sl_s3_list(struct sl_store *st, const char *prefix, const char *delimiter, sl_list_fn fn,
               void *ud, struct sl_err *err);
int sl_s3_delete(struct sl_store *st, const char *const *keys, size_t n_keys, struct sl_err *err);
struct sl_store_writer *sl_s3_put_begin(struct sl_store *st, const char *key, struct sl_err *err);
int sl_s3_put_write(struct sl_store_writer *w, const void *data, size_t len, struct sl_err *err);
int sl_s3_put_commit(struct sl_store_writer *w, struct sl_err *err);
void sl_s3_put_abort(struct sl_store_writer *w);

#endif
