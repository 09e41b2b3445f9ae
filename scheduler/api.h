/*
 * scheduler/api.h - what the Glue-compatible HTTP API's operations share: the
 * operation table type, the AWS error a handler answers with, and the request
 * context through which a handler borrows a catalog connection. The server
 * (routing, auth, body, JSON, responses) is scheduler/http.c; the catalog
 * operations are scheduler/api_catalog.c, the job operations
 * scheduler/api_jobs.c, and the request helpers both use (member validation,
 * NextToken, catalog errors) scheduler/api_util.c. Protocol:
 * ../shared/spec/aws-api.md §1.
 */
#ifndef SL_API_H
#define SL_API_H

#include <jansson.h>
#include <stddef.h>

#include "runtime/catalog.h"
#include "runtime/err.h"

#define SL_API_TYPE_MAX  64   /* bytes of an AWS error code, NUL included */
#define SL_API_TOKEN_MAX 8192 /* bytes of a NextToken we accept; ours are far shorter */

/* The AWS error of a failed request (spec §1.5, §1.6). */
struct sl_api_error {
    int http_status;            /* 400, 403, 500 ... */
    char type[SL_API_TYPE_MAX]; /* "EntityNotFoundException" */
    char message[512];          /* sent to the client: no secrets, no SQL */
    int lower_message; /* 1: body member "message" (protocol errors), 0: "Message" (Glue) */
};

/* Fills e and returns SL_ECONFIG (any failure: the caller only tests != SL_OK).
 * message is a printf format. */
int sl_api_fail(struct sl_api_error *e, int http_status, const char *type, const char *fmt, ...)
    SL_PRINTF(4, 5);

struct sl_api_ctx; /* one request; owned by scheduler/http.c */

/* The catalog connection of this request, opened or taken from the server's
 * pool on first use: borrowed until the handler returns (the server gives it
 * back to the pool then). NULL with e filled (InternalServiceException, 500)
 * when it cannot be opened. Not for use by any other thread. */
struct sl_catalog *sl_api_catalog(struct sl_api_ctx *ctx, struct sl_api_error *e);

/* The request id (a UUID, also sent as x-amzn-RequestId), for log lines. */
const char *sl_api_request_id(const struct sl_api_ctx *ctx);

/* ---- Request helpers (scheduler/api_util.c) ---- */

/* Each of these fills e and returns SL_ECONFIG, as sl_api_fail() does. */

/* InternalServiceException (500) "out of memory". */
int sl_api_oom(struct sl_api_error *e);
/* SerializationException (400, body member "message"): member must be want
 * ("a string"). */
int sl_api_fail_type(struct sl_api_error *e, const char *member, const char *want);
/* InvalidInputException (400): required member is missing or null. */
int sl_api_fail_null(struct sl_api_error *e, const char *member);
/* Maps a catalog failure of operation op to the AWS error: SL_ENOTFOUND ->
 * EntityNotFoundException, SL_EEXIST -> AlreadyExistsException, SL_ECONFIG ->
 * InvalidInputException (400, err's message); anything else is logged
 * (redacted, with the request id) and answered InternalServiceException (500)
 * without details. */
int sl_api_catalog_fail(struct sl_api_ctx *ctx, const char *op, const struct sl_err *err,
                        struct sl_api_error *e);

/* Request members (spec §1.6). Each returns SL_OK or, with e filled,
 * SL_ECONFIG: SerializationException for a wrong JSON type, else
 * InvalidInputException. An absent or null member is not an error unless
 * required. */

/* *out = string member key of in (borrowed), NULL when absent or null.
 * Length in bytes in [min_len, max_len]; NUL is never allowed; name: a
 * NameString (no control characters but TAB, no DEL). */
int sl_api_get_string(const json_t *in, const char *key, int required, size_t min_len,
                      size_t max_len, int name, const char **out, struct sl_api_error *e);
/* *out = integer member key in [min, max], def when absent or null. */
int sl_api_get_int(const json_t *in, const char *key, long long min, long long max, long long def,
                   long long *out, struct sl_api_error *e);
/* *out = boolean member key, 0 when absent or null. */
int sl_api_get_bool(const json_t *in, const char *key, int *out, struct sl_api_error *e);
/* *out = object member key (borrowed), NULL when absent or null. */
int sl_api_get_object(const json_t *in, const char *key, const json_t **out,
                      struct sl_api_error *e);

/* NextToken (spec §1.8): the standard base64 of a key. */

/* base64 of data[0..len) (owned: sl_free), NULL on OOM. */
char *sl_api_token_encode(const char *data, size_t len);
/* The decoded bytes of token (owned: sl_free, NUL-terminated, not empty, no
 * NUL inside), or NULL with e filled: InvalidInputException "Invalid
 * NextToken" (or InternalServiceException on OOM). */
char *sl_api_token_decode(const char *token, struct sl_api_error *e);
/* The paging members of a Get*s request, read in this order: NextToken, then
 * MaxResults (*limit in 1..max, def when absent), then the token decoded:
 * *after (owned: sl_free) = the key to list after, NULL when NextToken is
 * absent or empty. */
int sl_api_get_page(const json_t *in, long long max, long long def, long long *limit, char **after,
                    struct sl_api_error *e);
/* Sets member "NextToken" of doc to the token of key (a page ends at key). */
int sl_api_set_next_token(json_t *doc, const char *key, struct sl_api_error *e);

/* One operation: in is the request body (a JSON object, borrowed); on success
 * *out is the response object (owned, a new reference; the server frees it),
 * on failure e says what to answer. Handlers must not log secrets. */
typedef int (*sl_api_fn)(struct sl_api_ctx *ctx, const json_t *in, json_t **out,
                         struct sl_api_error *e);

struct sl_api_op {
    const char *target; /* full X-Amz-Target value: "AWSGlue.GetTable" */
    const char *name;   /* operation: "GetTable" */
    sl_api_fn fn;
};

/* The Glue Job object of j (owned: json_decref), NULL on OOM (api_jobs.c). */
json_t *sl_api_job_json(const struct sl_catalog_job *j);

/* The catalog operations (api_catalog.c), ended by an entry with target NULL. */
extern const struct sl_api_op sl_api_catalog_ops[];
/* The job and job bookmark operations (api_jobs.c), ended the same way. */
extern const struct sl_api_op sl_api_jobs_ops[];
/* The job run operations (api_runs.c), ended the same way. */
extern const struct sl_api_op sl_api_runs_ops[];
/* The trigger operations (api_triggers.c), ended the same way. */
extern const struct sl_api_op sl_api_triggers_ops[];
/* The crawler operations (api_crawlers.c), ended the same way. */
extern const struct sl_api_op sl_api_crawlers_ops[];

#endif
