/*
 * scheduler/sigv4.h - verifies AWS Signature Version 4 (header form,
 * AWS4-HMAC-SHA256) on requests to the Glue/Firehose-compatible HTTP API, the
 * way AWS does for its non-S3 services, so the real AWS CLI and SDKs can sign
 * for sluice. The checks, their order and the AWS error codes and messages are
 * those of ../shared/spec/aws-api.md §1.6 and §2. Keys come from
 * scheduler/keys.h; the HTTP server that calls this is elsewhere.
 *
 * Canonical request (AWS "Create a canonical request"; spec §2.1):
 *   method \n canonical URI \n canonical query \n canonical headers \n
 *   signed headers \n hex(SHA-256(body))
 * - URI: the raw path as received (already percent-encoded by the client) with
 *   dot segments and repeated '/' removed (RFC 3986 §5.2.4, as botocore does),
 *   then URI-encoded once more: every byte but A-Z a-z 0-9 - . _ ~ and '/'
 *   becomes %XX (upper-case hex), so "%20" becomes "%2520". This is AWS's
 *   "encode each path segment twice" for non-S3 services, counted from the
 *   unencoded path. Empty path: "/".
 * - Query: components split at '&' (empty ones skipped), each name and value
 *   percent-decoded, then encoded as above but with '/' encoded too, sorted by
 *   encoded name, then value; "name=value" joined by '&'; no '=' means value "".
 *   '+' is a literal plus (%2B), not a space.
 * - Headers: the names of SignedHeaders in its order; each request header of
 *   that name (ASCII case-insensitive), in the order received, with blanks
 *   (SP, HT, CR, LF, VT, FF) trimmed at both ends and every inner run of them
 *   turned into one space (so obs-fold line breaks become one space); repeated
 *   headers joined by ','.
 *
 * Thread safety: no shared state; call from any number of threads with a store
 * that is not being modified.
 */
#ifndef SL_SIGV4_H
#define SL_SIGV4_H

#include <stddef.h>
#include <time.h>

#include "runtime/buf.h"
#include "runtime/err.h"
#include "scheduler/keys.h"

#define SL_SIGV4_ALGORITHM    "AWS4-HMAC-SHA256"
#define SL_SIGV4_SKEW_DEFAULT 900L       /* s; AWS's SigV4 window is 15 min (spec §2.3.6) */
#define SL_SIGV4_AUTH_MAX     4096       /* bytes of Authorization; the CLI sends ~250 */
#define SL_SIGV4_SIGNED_MAX   64         /* names in SignedHeaders; the CLI signs 4 or 5 */
#define SL_SIGV4_CANON_MAX    (1u << 20) /* bytes of canonical request; real ones are < 1 KiB */

/* One request header, as received (name in any case; value untrimmed). */
struct sl_sigv4_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};

/* The request as the HTTP server received it. All borrowed for the call. */
struct sl_sigv4_request {
    const char *method; /* "POST", as on the request line */
    const char *path;   /* raw path of the request target, before '?' */
    size_t path_len;
    const char *query; /* raw text after '?' (without it); NULL: none */
    size_t query_len;
    const struct sl_sigv4_header *headers; /* every header, in the order received */
    size_t n_headers;
    const void *body; /* the body bytes received */
    size_t body_len;
    /* Optional: lower-case hex SHA-256 of the body, computed by the server from
     * the bytes it received (e.g. while streaming them); body is then not read.
     * Never the client's x-amz-content-sha256 value. NULL: body is hashed. */
    const char *body_sha256;
};

struct sl_sigv4_opts {
    /* The credential scope's service must be this ("glue" for AWSGlue.*,
     * "firehose" for Firehose_20150804.*); NULL: any (tests). */
    const char *service;
    /* NULL: any region (spec §2.3.4); else the scope's region must be this. */
    const char *region;
    long max_skew; /* s; 0: SL_SIGV4_SKEW_DEFAULT; < 0: no clock check (tests) */
};

/* Why a request was refused. Several map to one AWS error code; the finer kind
 * is for logs and tests. */
enum sl_sigv4_status {
    SL_SIGV4_OK = 0,
    /* MissingAuthenticationTokenException, 403: no Authorization header */
    SL_SIGV4_MISSING,
    /* IncompleteSignatureException, 400: malformed Authorization, X-Amz-Date or
     * SignedHeaders, or a required header not signed */
    SL_SIGV4_MALFORMED,
    /* UnrecognizedClientException, 403: access key id not in the store */
    SL_SIGV4_UNKNOWN_KEY,
    /* UnrecognizedClientException, 403: X-Amz-Security-Token sent (session
     * tokens are not supported) */
    SL_SIGV4_TOKEN,
    /* InvalidSignatureException, 403: */
    SL_SIGV4_SCOPE,          /* credential scope date, terminator, service or region */
    SL_SIGV4_EXPIRED,        /* X-Amz-Date before now - skew */
    SL_SIGV4_NOT_YET_VALID,  /* X-Amz-Date after now + skew */
    SL_SIGV4_HEADER_MISSING, /* a signed header is not in the request */
    SL_SIGV4_PAYLOAD,        /* x-amz-content-sha256 is not the body's hash */
    SL_SIGV4_MISMATCH,       /* wrong signature: secret, or anything signed, differs */
    /* InternalFailure, 500: out of memory or a crypto failure */
    SL_SIGV4_INTERNAL,
};

struct sl_sigv4_result {
    enum sl_sigv4_status status;
    /* The access key id of the Credential once it is well formed (may be an
     * unknown one), else ""; on success the caller's identity. Not a secret. */
    char key_id[SL_KEYS_ID_MAX + 1];
    char region[64];  /* the credential scope's region once parsed, else "" */
    char service[64]; /* the credential scope's service once parsed, else "" */
    /* The error message in AWS's wording, for the response body's "Message"
     * and for logs: never holds a secret, the expected signature, the
     * canonical request or the signing key. "" on success. */
    char message[512];
};

/* Verifies the signature of req against keys at time now (s since the epoch).
 * Returns SL_OK when the request is authentic (res->status SL_SIGV4_OK,
 * res->key_id the caller); SL_EACCESS when it is refused (res->status says
 * why, res->message is what to send with sl_sigv4_code()/sl_sigv4_http_status());
 * SL_ENOMEM or SL_EINTERNAL with res->status SL_SIGV4_INTERNAL. opts may be
 * NULL (any service and region, 15-minute window). Checks, in order: one
 * Authorization header; its syntax; X-Amz-Date; SignedHeaders (must list host,
 * x-amz-date, and x-amz-target and x-amz-security-token when those are sent);
 * no session token; scope date, terminator, service, region; known key id;
 * clock skew; signed headers present; x-amz-content-sha256 (when sent) equals
 * the body's hash; the signature, compared in constant time. */
int sl_sigv4_verify(const struct sl_sigv4_request *req, const struct sl_keys *keys,
                    const struct sl_sigv4_opts *opts, time_t now, struct sl_sigv4_result *res);

/* The AWS error code for a status ("InvalidSignatureException"); "" for OK.
 * Static storage. */
const char *sl_sigv4_code(enum sl_sigv4_status status);
/* The HTTP status AWS answers with (400, 403, 500); 200 for OK. */
int sl_sigv4_http_status(enum sl_sigv4_status status);
/* A short name for logs ("expired"). Static storage. */
const char *sl_sigv4_status_name(enum sl_sigv4_status status);

/* ---- Building blocks (exposed for tests and debug logging) ---- */

/* Appends the canonical URI of the raw path[0..path_len) to out (see above).
 * SL_ENOMEM / SL_ELIMIT. */
int sl_sigv4_canonical_uri(const char *path, size_t path_len, struct sl_buf *out,
                           struct sl_err *err);
/* Appends the canonical query string of the raw query[0..query_len) to out.
 * SL_ENOMEM / SL_ELIMIT. */
int sl_sigv4_canonical_query(const char *query, size_t query_len, struct sl_buf *out,
                             struct sl_err *err);
/* Appends the canonical request of req to out, for the SignedHeaders value
 * signed_headers[0..signed_len) (lower-case names, ';'-separated, used as they
 * are) and the payload hash payload_hex (64 hex digits). SL_ENOTFOUND when a
 * signed header is not in the request (err names it); SL_ENOMEM / SL_ELIMIT.
 * The result holds header values: log it at DEBUG only. */
int sl_sigv4_canonical_request(const struct sl_sigv4_request *req, const char *signed_headers,
                               size_t signed_len, const char *payload_hex, struct sl_buf *out,
                               struct sl_err *err);
/* kSigning = HMAC chain of "AWS4" + secret over date8 ("YYYYMMDD"), region,
 * service and "aws4_request" (spec §2.1.4). SL_OK, or SL_EINTERNAL when OpenSSL
 * fails or the secret is longer than SL_KEYS_SECRET_MAX. Wipe out after use. */
int sl_sigv4_signing_key(const unsigned char *secret, size_t secret_len, const char *date8,
                         const char *region, const char *service, unsigned char out[32]);

#endif
