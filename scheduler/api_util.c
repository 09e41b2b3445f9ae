/*
 * scheduler/api_util.c - the request-reading helpers the API operations share
 * (api_catalog.c, api_jobs.c): member validation (spec/aws-api.md §1.6: wrong
 * JSON type -> SerializationException; missing, too short or too long ->
 * InvalidInputException), NextToken encoding (§1.8: standard base64) and the
 * mapping of a catalog failure to its AWS error.
 */
#include <openssl/evp.h>
#include <string.h>

#include "runtime/alloc.h"
#include "runtime/log.h"
#include "scheduler/api.h"

#define INVALID_INPUT "InvalidInputException"
#define SERIALIZATION "SerializationException"

/* ---- Errors ---- */

int sl_api_oom(struct sl_api_error *e)
{
    return sl_api_fail(e, 500, "InternalServiceException", "out of memory");
}

int sl_api_fail_type(struct sl_api_error *e, const char *member, const char *want)
{
    sl_api_fail(e, 400, SERIALIZATION, "member %s must be %s", member, want);
    e->lower_message = 1;
    return SL_ECONFIG;
}

int sl_api_fail_null(struct sl_api_error *e, const char *member)
{
    return sl_api_fail(e, 400, INVALID_INPUT,
                       "1 validation error detected: Value null at '%s' failed to satisfy "
                       "constraint: Member must not be null",
                       member);
}

int sl_api_catalog_fail(struct sl_api_ctx *ctx, const char *op, const struct sl_err *err,
                        struct sl_api_error *e)
{
    switch (err->code) {
    case SL_ENOTFOUND: return sl_api_fail(e, 400, "EntityNotFoundException", "%s", err->msg);
    case SL_EEXIST: return sl_api_fail(e, 400, "AlreadyExistsException", "%s", err->msg);
    case SL_ECONFIG: return sl_api_fail(e, 400, INVALID_INPUT, "%s", err->msg);
    default: {
        char clean[sizeof err->msg];
        sl_log(SL_LOG_ERROR, "[api req:%s] %s: %s", sl_api_request_id(ctx), op,
               sl_redact(err->msg, clean, sizeof clean));
        return sl_api_fail(e, 500, "InternalServiceException", "internal error; request id %s",
                           sl_api_request_id(ctx));
    }
    }
}

/* ---- Request members ---- */

int sl_api_get_string(const json_t *in, const char *key, int required, size_t min_len,
                      size_t max_len, int name, const char **out, struct sl_api_error *e)
{
    const json_t *v = json_object_get(in, key);

    *out = NULL;
    if (!v || json_is_null(v))
        return required ? sl_api_fail_null(e, key) : SL_OK;
    if (!json_is_string(v))
        return sl_api_fail_type(e, key, "a string");
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (len < min_len || len > max_len)
        return sl_api_fail(e, 400, INVALID_INPUT,
                           "1 validation error detected: Value at '%s' failed to satisfy "
                           "constraint: Member must have length between %zu and %zu",
                           key, min_len, max_len);
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == 0 || (name && ((ch < 0x20 && ch != '\t') || ch == 0x7f)))
            return sl_api_fail(e, 400, INVALID_INPUT,
                               "1 validation error detected: Value at '%s' failed to satisfy "
                               "constraint: Member must satisfy regular expression pattern",
                               key);
    }
    *out = s;
    return SL_OK;
}

int sl_api_get_int(const json_t *in, const char *key, long long min, long long max, long long def,
                   long long *out, struct sl_api_error *e)
{
    const json_t *v = json_object_get(in, key);

    *out = def;
    if (!v || json_is_null(v))
        return SL_OK;
    if (!json_is_integer(v))
        return sl_api_fail_type(e, key, "an integer");
    long long n = json_integer_value(v);
    if (n < min || n > max)
        return sl_api_fail(e, 400, INVALID_INPUT,
                           "1 validation error detected: Value '%lld' at '%s' failed to satisfy "
                           "constraint: Member must have value between %lld and %lld",
                           n, key, min, max);
    *out = n;
    return SL_OK;
}

int sl_api_get_bool(const json_t *in, const char *key, int *out, struct sl_api_error *e)
{
    const json_t *v = json_object_get(in, key);

    *out = 0;
    if (!v || json_is_null(v))
        return SL_OK;
    if (!json_is_boolean(v))
        return sl_api_fail_type(e, key, "a boolean");
    *out = json_is_true(v);
    return SL_OK;
}

int sl_api_get_object(const json_t *in, const char *key, const json_t **out, struct sl_api_error *e)
{
    const json_t *v = json_object_get(in, key);

    *out = NULL;
    if (!v || json_is_null(v))
        return SL_OK;
    if (!json_is_object(v))
        return sl_api_fail_type(e, key, "an object");
    *out = v;
    return SL_OK;
}

/* ---- NextToken ---- */

char *sl_api_token_encode(const char *data, size_t len)
{
    char *out = sl_alloc(4 * ((len + 2) / 3) + 1);
    if (out)
        EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)data, (int)len);
    return out;
}

char *sl_api_token_decode(const char *token, struct sl_api_error *e)
{
    size_t len = strlen(token);
    char *out = NULL;

    if (len == 0 || len % 4 != 0 || len > SL_API_TOKEN_MAX)
        goto bad;
    out = sl_alloc(len / 4 * 3 + 1);
    if (!out) {
        sl_api_oom(e);
        return NULL;
    }
    int n = EVP_DecodeBlock((unsigned char *)out, (const unsigned char *)token, (int)len);
    if (n < 0)
        goto bad;
    /* EVP_DecodeBlock counts the padding as zero bytes. */
    n -= (token[len - 1] == '=') + (token[len - 2] == '=');
    out[n] = '\0';
    if (n == 0 || memchr(out, '\0', (size_t)n))
        goto bad;
    return out;
bad:
    sl_free(out);
    sl_api_fail(e, 400, INVALID_INPUT, "Invalid NextToken");
    return NULL;
}

int sl_api_get_page(const json_t *in, long long max, long long def, long long *limit, char **after,
                    struct sl_api_error *e)
{
    const char *token;

    *after = NULL;
    if (sl_api_get_string(in, "NextToken", 0, 0, SL_API_TOKEN_MAX, 0, &token, e) != SL_OK ||
        sl_api_get_int(in, "MaxResults", 1, max, def, limit, e) != SL_OK)
        return SL_ECONFIG;
    if (token && token[0] && !(*after = sl_api_token_decode(token, e)))
        return SL_ECONFIG;
    return SL_OK;
}

int sl_api_set_next_token(json_t *doc, const char *key, struct sl_api_error *e)
{
    char *tok = sl_api_token_encode(key, strlen(key));
    int bad = !tok || json_object_set_new(doc, "NextToken", json_string(tok)) != 0;
    sl_free(tok);
    return bad ? sl_api_oom(e) : SL_OK;
}
