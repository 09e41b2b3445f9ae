/*
 * scheduler/api.h - what the Glue-compatible HTTP API's operations share: the
 * operation table type, the AWS error a handler answers with, and the request
 * context through which a handler borrows a catalog connection. The server
 * (routing, auth, body, JSON, responses) is scheduler/http.c; the catalog
 * operations are scheduler/api_catalog.c. Protocol: ../shared/spec/aws-api.md §1.
 */
#ifndef SL_API_H
#define SL_API_H

#include <jansson.h>
#include <stddef.h>

#include "runtime/catalog.h"
#include "runtime/err.h"

#define SL_API_TYPE_MAX 64 /* bytes of an AWS error code, NUL included */

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

/* The catalog operations (api_catalog.c), ended by an entry with target NULL. */
extern const struct sl_api_op sl_api_catalog_ops[];
/* The job and job bookmark operations (api_jobs.c), ended the same way. */
extern const struct sl_api_op sl_api_jobs_ops[];

#endif
