/*
 * scheduler/sigv4.c - server-side AWS SigV4 verification (see sigv4.h for the
 * canonical forms, ../shared/spec/aws-api.md §2 for the checks and messages).
 * Recomputes AWS's four steps from what the server received: canonical
 * request, string to sign, signing key, signature. The keys are in keys.c.
 */
#include "sigv4.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "runtime/alloc.h"
#include "runtime/hash.h"

#define SCOPE_TERMINATOR "aws4_request"
#define SCOPE_PART_MAX   63 /* bytes of scope region or service; real ones are < 20 */
#define ECHO_MAX         64 /* bytes of client text quoted in a message */

/* ---- Results ---- */

static const struct {
    const char *code; /* AWS error code */
    int http;         /* HTTP status */
    const char *name; /* for logs */
} status_info[] = {
    [SL_SIGV4_OK] = {"", 200, "ok"},
    [SL_SIGV4_MISSING] = {"MissingAuthenticationTokenException", 403, "missing"},
    [SL_SIGV4_MALFORMED] = {"IncompleteSignatureException", 400, "malformed"},
    [SL_SIGV4_UNKNOWN_KEY] = {"UnrecognizedClientException", 403, "unknown-key"},
    [SL_SIGV4_TOKEN] = {"UnrecognizedClientException", 403, "session-token"},
    [SL_SIGV4_SCOPE] = {"InvalidSignatureException", 403, "scope"},
    [SL_SIGV4_EXPIRED] = {"InvalidSignatureException", 403, "expired"},
    [SL_SIGV4_NOT_YET_VALID] = {"InvalidSignatureException", 403, "not-yet-valid"},
    [SL_SIGV4_HEADER_MISSING] = {"InvalidSignatureException", 403, "signed-header-missing"},
    [SL_SIGV4_PAYLOAD] = {"InvalidSignatureException", 403, "payload-hash"},
    [SL_SIGV4_MISMATCH] = {"InvalidSignatureException", 403, "mismatch"},
    [SL_SIGV4_INTERNAL] = {"InternalFailure", 500, "internal"},
};

static bool status_valid(enum sl_sigv4_status s)
{
    return (unsigned)s < SL_ARRAY_LEN(status_info);
}

const char *sl_sigv4_code(enum sl_sigv4_status status)
{
    return status_valid(status) ? status_info[status].code : "InternalFailure";
}

int sl_sigv4_http_status(enum sl_sigv4_status status)
{
    return status_valid(status) ? status_info[status].http : 500;
}

const char *sl_sigv4_status_name(enum sl_sigv4_status status)
{
    return status_valid(status) ? status_info[status].name : "internal";
}

/* Sets the refusal and returns what sl_sigv4_verify returns for it. */
SL_PRINTF(3, 4)
static int refuse(struct sl_sigv4_result *res, enum sl_sigv4_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->message, sizeof res->message, fmt, ap);
    va_end(ap);
    res->status = st;
    return st == SL_SIGV4_INTERNAL ? SL_ENOMEM : SL_EACCESS;
}

/* Client text fit for quoting in a message: at most ECHO_MAX bytes, anything
 * but printable ASCII (and the quote) shown as '?'. Returns out. */
static const char *echo(const char *s, size_t len, char out[ECHO_MAX + 4])
{
    size_t n = 0;
    for (; n < len && n < ECHO_MAX; n++) {
        unsigned char c = (unsigned char)s[n];
        out[n] = (c >= 0x20 && c < 0x7f && c != '\'') ? (char)c : '?';
    }
    if (n < len) {
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n] = '\0';
    return out;
}

/* ---- Characters, headers, dates ---- */

static bool is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

/* Blanks trimmed and collapsed in header values: SP, HT, CR, LF, VT, FF (what
 * botocore's str.split() drops, so obs-fold line breaks count too). */
static bool is_value_blank(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static bool is_sp(char c)
{
    return c == ' ' || c == '\t';
}

/* RFC 7230 tchar, lower case only (SignedHeaders names). */
static bool is_lower_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* True when the header name n[0..n_len) is lower[0..lower_len) ignoring ASCII case. */
static bool name_is(const char *n, size_t n_len, const char *lower, size_t lower_len)
{
    if (n_len != lower_len)
        return false;
    for (size_t i = 0; i < n_len; i++) {
        unsigned char c = (unsigned char)n[i];
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c - 'A' + 'a');
        if (c != (unsigned char)lower[i])
            return false;
    }
    return true;
}

/* Number of request headers named lower (lower case); *first gets the first. */
static size_t find_header(const struct sl_sigv4_request *req, const char *lower,
                          const struct sl_sigv4_header **first)
{
    size_t n = 0, len = strlen(lower);
    if (first)
        *first = NULL;
    for (size_t i = 0; i < req->n_headers; i++) {
        const struct sl_sigv4_header *h = &req->headers[i];
        if (h->name && name_is(h->name, h->name_len, lower, len)) {
            if (n == 0 && first)
                *first = h;
            n++;
        }
    }
    return n;
}

/* Appends v[0..len) trimmed, each inner run of blanks as one space. */
static int append_value(struct sl_buf *out, const char *v, size_t len, struct sl_err *err)
{
    size_t i = 0;
    bool any = false;
    int rc;
    while (i < len) {
        while (i < len && is_value_blank((unsigned char)v[i]))
            i++;
        size_t j = i;
        while (j < len && !is_value_blank((unsigned char)v[j]))
            j++;
        if (j > i) {
            if (any && (rc = sl_buf_putc(out, ' ', err)) != SL_OK)
                return rc;
            if ((rc = sl_buf_append(out, v + i, j - i, err)) != SL_OK)
                return rc;
            any = true;
        }
        i = j;
    }
    return SL_OK;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil). */
static long long days_from_civil(long long y, unsigned m, unsigned d)
{
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (long long)doe - 719468;
}

/* "YYYYMMDDTHHMMSSZ" of t (s since the epoch, UTC) into out. */
static void format_amz_date(long long t, char out[64])
{
    long long z = (t >= 0 ? t : t - 86399) / 86400;
    long long secs = t - z * 86400;
    z += 719468;
    long long era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long long y = (long long)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned d = doy - (153 * mp + 2) / 5 + 1;
    unsigned m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    snprintf(out, 64, "%04lld%02u%02uT%02d%02d%02dZ", y, m, d, (int)(secs / 3600),
             (int)(secs / 60 % 60), (int)(secs % 60));
}

static unsigned digits(const char *s, int n)
{
    unsigned v = 0;
    for (int i = 0; i < n; i++)
        v = v * 10 + (unsigned)(s[i] - '0');
    return v;
}

/* Parses X-Amz-Date "YYYYMMDDTHHMMSSZ" (exactly) into *t; false if malformed or
 * not a real date and time. */
static bool parse_amz_date(const char *s, size_t len, long long *t)
{
    static const unsigned mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (len != 16 || s[8] != 'T' || s[15] != 'Z')
        return false;
    for (int i = 0; i < 15; i++) {
        if (i != 8 && (s[i] < '0' || s[i] > '9'))
            return false;
    }
    unsigned y = digits(s, 4), mo = digits(s + 4, 2), d = digits(s + 6, 2);
    unsigned h = digits(s + 9, 2), mi = digits(s + 11, 2), sec = digits(s + 13, 2);
    if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 59)
        return false;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > mdays[mo - 1] + (mo == 2 && leap))
        return false;
    *t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
    return true;
}

/* ---- Canonical request ---- */

static int append_encoded_byte(struct sl_buf *out, unsigned char c, struct sl_err *err)
{
    static const char hex[] = "0123456789ABCDEF";
    if (is_unreserved(c))
        return sl_buf_putc(out, (char)c, err);
    char e[3] = {'%', hex[c >> 4], hex[c & 15]};
    return sl_buf_append(out, e, 3, err);
}

/*
 * The path is normalised the way botocore's remove_dot_segments does it
 * (RFC 3986 §5.2.4 plus AWS's removal of empty segments), working on the raw
 * bytes: "%2E" is not a dot and "%2F" not a separator. Each kept segment is
 * written encoded as "/" + segment; since encoding never yields a '/', a ".."
 * pops the last segment by cutting the output back to its last '/'.
 */
int sl_sigv4_canonical_uri(const char *path, size_t path_len, struct sl_buf *out,
                           struct sl_err *err)
{
    int rc;
    if (!path || path_len == 0)
        return sl_buf_putc(out, '/', err);
    const size_t base = out->len;
    for (size_t i = 0; i <= path_len;) {
        size_t j = i;
        while (j < path_len && path[j] != '/')
            j++;
        size_t n = j - i;
        const char *seg = path + i;
        i = j + 1;
        if (n == 0 || (n == 1 && seg[0] == '.'))
            continue;
        if (n == 2 && seg[0] == '.' && seg[1] == '.') {
            size_t k = out->len;
            while (k > base && out->data[k - 1] != '/')
                k--;
            if (k > base) {
                out->len = k - 1;
                out->data[out->len] = '\0';
            }
            continue;
        }
        if ((rc = sl_buf_putc(out, '/', err)) != SL_OK)
            return rc;
        for (size_t k = 0; k < n; k++) {
            if ((rc = append_encoded_byte(out, (unsigned char)seg[k], err)) != SL_OK)
                return rc;
        }
    }
    bool any = out->len > base;
    if (path[0] != '/' && any) {
        /* a relative path keeps no leading '/' (HTTP clients never send one) */
        memmove(out->data + base, out->data + base + 1, out->len - base - 1);
        out->len--;
        out->data[out->len] = '\0';
    }
    if (path[0] == '/' && !any)
        return sl_buf_putc(out, '/', err);
    if (any && path[path_len - 1] == '/')
        return sl_buf_putc(out, '/', err);
    return SL_OK;
}

struct qparam {
    size_t name_off, name_len, value_off, value_len; /* in the scratch buffer */
    const char *name, *value;                        /* set once the scratch is complete */
};

static int qparam_cmp(const void *pa, const void *pb)
{
    const struct qparam *a = pa, *b = pb;
    size_t n = a->name_len < b->name_len ? a->name_len : b->name_len;
    int c = memcmp(a->name, b->name, n);
    if (c || a->name_len != b->name_len)
        return c ? c : (a->name_len < b->name_len ? -1 : 1);
    n = a->value_len < b->value_len ? a->value_len : b->value_len;
    c = memcmp(a->value, b->value, n);
    if (c || a->value_len != b->value_len)
        return c ? c : (a->value_len < b->value_len ? -1 : 1);
    return 0;
}

/* Appends s[0..len) percent-decoded (a '%' without two hex digits stays
 * itself) and re-encoded with the strict set. */
static int append_reencoded(struct sl_buf *out, const char *s, size_t len, struct sl_err *err)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%' && i + 2 < len) {
            int h = sl_hex_digit((unsigned char)s[i + 1]), l = sl_hex_digit((unsigned char)s[i + 2]);
            if (h >= 0 && l >= 0) {
                c = (unsigned char)(h * 16 + l);
                i += 2;
            }
        }
        int rc = append_encoded_byte(out, c, err);
        if (rc != SL_OK)
            return rc;
    }
    return SL_OK;
}

int sl_sigv4_canonical_query(const char *query, size_t query_len, struct sl_buf *out,
                             struct sl_err *err)
{
    if (!query || query_len == 0)
        return SL_OK;
    if (query_len > SL_SIGV4_CANON_MAX)
        return sl_err_set(err, SL_ELIMIT, "query string longer than %u bytes", SL_SIGV4_CANON_MAX);

    size_t n_max = 1;
    for (size_t i = 0; i < query_len; i++)
        n_max += query[i] == '&';
    struct qparam *params = sl_calloc(n_max, sizeof *params);
    struct sl_buf scratch;
    sl_buf_init(&scratch, out->max);
    size_t n = 0;
    int rc = SL_OK;
    if (!params) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i <= query_len;) {
        size_t j = i;
        while (j < query_len && query[j] != '&')
            j++;
        const char *comp = query + i;
        size_t comp_len = j - i;
        i = j + 1;
        if (comp_len == 0)
            continue;
        const char *eq = memchr(comp, '=', comp_len);
        size_t name_len = eq ? (size_t)(eq - comp) : comp_len;
        struct qparam *p = &params[n++];
        p->name_off = scratch.len;
        if ((rc = append_reencoded(&scratch, comp, name_len, err)) != SL_OK)
            goto done;
        p->name_len = scratch.len - p->name_off;
        p->value_off = scratch.len;
        if (eq && (rc = append_reencoded(&scratch, eq + 1, comp_len - name_len - 1, err)) != SL_OK)
            goto done;
        p->value_len = scratch.len - p->value_off;
    }
    const char *base = scratch.data ? scratch.data : ""; /* NULL when every part is empty */
    for (size_t k = 0; k < n; k++) {
        params[k].name = base + params[k].name_off;
        params[k].value = base + params[k].value_off;
    }
    qsort(params, n, sizeof *params, qparam_cmp);
    for (size_t k = 0; k < n; k++) {
        if ((k && (rc = sl_buf_putc(out, '&', err)) != SL_OK) ||
            (rc = sl_buf_append(out, params[k].name, params[k].name_len, err)) != SL_OK ||
            (rc = sl_buf_putc(out, '=', err)) != SL_OK ||
            (rc = sl_buf_append(out, params[k].value, params[k].value_len, err)) != SL_OK)
            goto done;
    }
done:
    sl_buf_cleanup(&scratch);
    sl_free(params);
    return rc;
}

int sl_sigv4_canonical_request(const struct sl_sigv4_request *req, const char *signed_headers,
                               size_t signed_len, const char *payload_hex, struct sl_buf *out,
                               struct sl_err *err)
{
    int rc;
    if ((rc = sl_buf_puts(out, req->method ? req->method : "", err)) != SL_OK ||
        (rc = sl_buf_putc(out, '\n', err)) != SL_OK ||
        (rc = sl_sigv4_canonical_uri(req->path, req->path_len, out, err)) != SL_OK ||
        (rc = sl_buf_putc(out, '\n', err)) != SL_OK ||
        (rc = sl_sigv4_canonical_query(req->query, req->query_len, out, err)) != SL_OK ||
        (rc = sl_buf_putc(out, '\n', err)) != SL_OK)
        return rc;

    for (size_t i = 0; i <= signed_len;) {
        size_t j = i;
        while (j < signed_len && signed_headers[j] != ';')
            j++;
        const char *name = signed_headers + i;
        size_t name_len = j - i;
        i = j + 1;
        if ((rc = sl_buf_append(out, name, name_len, err)) != SL_OK ||
            (rc = sl_buf_putc(out, ':', err)) != SL_OK)
            return rc;
        size_t n_found = 0;
        for (size_t k = 0; k < req->n_headers; k++) {
            const struct sl_sigv4_header *h = &req->headers[k];
            if (!h->name || !name_is(h->name, h->name_len, name, name_len))
                continue;
            if (n_found++ && (rc = sl_buf_putc(out, ',', err)) != SL_OK)
                return rc;
            if (h->value && (rc = append_value(out, h->value, h->value_len, err)) != SL_OK)
                return rc;
        }
        if (n_found == 0) {
            char e[ECHO_MAX + 4];
            return sl_err_set(err, SL_ENOTFOUND, "signed header \"%s\" is not in the request",
                              echo(name, name_len, e));
        }
        if ((rc = sl_buf_putc(out, '\n', err)) != SL_OK)
            return rc;
    }
    if ((rc = sl_buf_putc(out, '\n', err)) != SL_OK ||
        (rc = sl_buf_append(out, signed_headers, signed_len, err)) != SL_OK ||
        (rc = sl_buf_putc(out, '\n', err)) != SL_OK ||
        (rc = sl_buf_puts(out, payload_hex, err)) != SL_OK)
        return rc;
    return SL_OK;
}

/* ---- Signing key and signature ---- */

static int hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
                       unsigned char out[32])
{
    unsigned int n = 0;
    if (!HMAC(EVP_sha256(), key, (int)key_len, data, len, out, &n) || n != 32)
        return SL_EINTERNAL;
    return SL_OK;
}

int sl_sigv4_signing_key(const unsigned char *secret, size_t secret_len, const char *date8,
                         const char *region, const char *service, unsigned char out[32])
{
    unsigned char k[4 + SL_KEYS_SECRET_MAX];
    unsigned char t[32];
    int rc = SL_EINTERNAL;

    if (secret_len > SL_KEYS_SECRET_MAX)
        return SL_EINTERNAL;
    memcpy(k, "AWS4", 4);
    memcpy(k + 4, secret, secret_len);
    if (hmac_sha256(k, 4 + secret_len, date8, strlen(date8), t) == SL_OK &&
        hmac_sha256(t, 32, region, strlen(region), out) == SL_OK &&
        hmac_sha256(out, 32, service, strlen(service), t) == SL_OK &&
        hmac_sha256(t, 32, SCOPE_TERMINATOR, strlen(SCOPE_TERMINATOR), out) == SL_OK)
        rc = SL_OK;
    OPENSSL_cleanse(k, sizeof k);
    OPENSSL_cleanse(t, sizeof t);
    if (rc != SL_OK)
        OPENSSL_cleanse(out, 32);
    return rc;
}

/* ---- Authorization header ---- */

struct span {
    const char *p;
    size_t len;
};

struct auth {
    struct span credential, signed_headers, signature;
    struct span key_id, date, region, service, terminator; /* parts of credential */
};

static bool span_is(struct span s, const char *lit)
{
    size_t n = strlen(lit);
    return s.len == n && memcmp(s.p, lit, n) == 0;
}

/* Parses "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=..."
 * (spec §2.1.1): blanks after commas tolerated, each parameter exactly once, no
 * others. On error fills res and returns its code. */
static int parse_auth(const char *v, size_t len, struct auth *a, struct sl_sigv4_result *res)
{
    char e[ECHO_MAX + 4];
    memset(a, 0, sizeof *a);
    while (len && is_sp(v[0])) {
        v++;
        len--;
    }
    while (len && is_sp(v[len - 1]))
        len--;
    if (len > SL_SIGV4_AUTH_MAX)
        return refuse(res, SL_SIGV4_MALFORMED, "Authorization header is longer than %d bytes.",
                      SL_SIGV4_AUTH_MAX);
    size_t alg_len = 0;
    while (alg_len < len && !is_sp(v[alg_len]))
        alg_len++;
    if (alg_len != strlen(SL_SIGV4_ALGORITHM) || memcmp(v, SL_SIGV4_ALGORITHM, alg_len) != 0)
        return refuse(res, SL_SIGV4_MALFORMED,
                      "Unsupported Authorization algorithm: only " SL_SIGV4_ALGORITHM
                      " signatures are accepted.");
    size_t i = alg_len;
    while (i < len) {
        size_t j = i;
        while (j < len && v[j] != ',')
            j++;
        struct span c = {v + i, j - i};
        i = j + 1;
        while (c.len && is_sp(c.p[0])) {
            c.p++;
            c.len--;
        }
        while (c.len && is_sp(c.p[c.len - 1]))
            c.len--;
        if (c.len == 0)
            continue;
        const char *eq = memchr(c.p, '=', c.len);
        if (!eq)
            return refuse(res, SL_SIGV4_MALFORMED,
                          "Authorization header parameter '%s' is not of the form Name=Value.",
                          echo(c.p, c.len, e));
        struct span key = {c.p, (size_t)(eq - c.p)};
        struct span val = {eq + 1, c.len - key.len - 1};
        struct span *slot = span_is(key, "Credential")      ? &a->credential
                            : span_is(key, "SignedHeaders") ? &a->signed_headers
                            : span_is(key, "Signature")     ? &a->signature
                                                            : NULL;
        if (!slot)
            return refuse(res, SL_SIGV4_MALFORMED,
                          "Authorization header has an unknown parameter '%s'.",
                          echo(key.p, key.len, e));
        if (slot->p)
            return refuse(res, SL_SIGV4_MALFORMED,
                          "Authorization header has more than one '%s' parameter.",
                          echo(key.p, key.len, e));
        *slot = val;
    }
    if (!a->credential.p || !a->signed_headers.p || !a->signature.p) {
        /* AWS names every missing parameter, one sentence each */
        const char *names[3] = {a->credential.p ? NULL : "Credential",
                                a->signature.p ? NULL : "Signature",
                                a->signed_headers.p ? NULL : "SignedHeaders"};
        size_t used = 0;
        for (int k = 0; k < 3; k++) {
            if (names[k] && used < sizeof res->message)
                used += (size_t)snprintf(res->message + used, sizeof res->message - used,
                                         "%sAuthorization header requires '%s' parameter.",
                                         used ? " " : "", names[k]);
        }
        res->status = SL_SIGV4_MALFORMED;
        return SL_EACCESS;
    }
    /* Credential = AKID/YYYYMMDD/region/service/aws4_request */
    struct span *parts[5] = {&a->key_id, &a->date, &a->region, &a->service, &a->terminator};
    const char *p = a->credential.p, *end = p + a->credential.len;
    for (int k = 0; k < 5; k++) {
        const char *slash = memchr(p, '/', (size_t)(end - p));
        if ((k < 4) != (slash != NULL))
            return refuse(res, SL_SIGV4_MALFORMED,
                          "Credential must have exactly 5 slash-delimited elements, e.g. "
                          "keyid/date/region/service/term, got '%s'.",
                          echo(a->credential.p, a->credential.len, e));
        parts[k]->p = p;
        parts[k]->len = (size_t)((slash ? slash : end) - p);
        p = slash ? slash + 1 : end;
    }
    return SL_OK;
}

/* Copies s into out[cap] when it is 1..cap-1 bytes of allowed characters (the
 * result's printable fields); else leaves out "". */
static bool copy_name(char *out, size_t cap, struct span s, bool (*ok)(unsigned char))
{
    out[0] = '\0';
    if (s.len == 0 || s.len >= cap)
        return false;
    for (size_t i = 0; i < s.len; i++) {
        if (!ok((unsigned char)s.p[i]))
            return false;
    }
    memcpy(out, s.p, s.len);
    out[s.len] = '\0';
    return true;
}

static bool is_key_id_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
}

static bool is_scope_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
}

/* Checks SignedHeaders: lower-case tokens, ';'-separated, sorted, unique, at
 * most SL_SIGV4_SIGNED_MAX; and that host, x-amz-date and (when the request
 * has them) x-amz-target and x-amz-security-token are among them. */
static int check_signed_headers(const struct sl_sigv4_request *req, struct span sh,
                                struct sl_sigv4_result *res)
{
    static const struct {
        const char *name;
        const char *shown;
        bool always; /* else only when the request carries the header */
    } required[] = {
        {"host", "'Host' or ':authority'", true},
        {"x-amz-date", "'X-Amz-Date'", true},
        {"x-amz-target", "'X-Amz-Target'", false},
        {"x-amz-security-token", "'X-Amz-Security-Token'", false},
    };
    bool have[SL_ARRAY_LEN(required)] = {false};
    struct span prev = {NULL, 0};
    size_t n = 0;

    for (size_t i = 0; i <= sh.len;) {
        size_t j = i;
        while (j < sh.len && sh.p[j] != ';')
            j++;
        struct span name = {sh.p + i, j - i};
        i = j + 1;
        if (++n > SL_SIGV4_SIGNED_MAX)
            return refuse(res, SL_SIGV4_MALFORMED, "SignedHeaders lists more than %d headers.",
                          SL_SIGV4_SIGNED_MAX);
        bool ok = name.len > 0;
        for (size_t k = 0; ok && k < name.len; k++)
            ok = is_lower_tchar((unsigned char)name.p[k]);
        if (!ok)
            return refuse(res, SL_SIGV4_MALFORMED,
                          "SignedHeaders must be lower-case header names separated by ';'.");
        if (prev.p) {
            size_t m = prev.len < name.len ? prev.len : name.len;
            int c = memcmp(prev.p, name.p, m);
            if (c > 0 || (c == 0 && prev.len >= name.len))
                return refuse(res, SL_SIGV4_MALFORMED,
                              "SignedHeaders must be sorted and list each header once.");
        }
        prev = name;
        for (size_t k = 0; k < SL_ARRAY_LEN(required); k++)
            have[k] = have[k] || span_is(name, required[k].name);
    }
    for (size_t k = 0; k < SL_ARRAY_LEN(required); k++) {
        if (!have[k] && (required[k].always || find_header(req, required[k].name, NULL) > 0))
            return refuse(res, SL_SIGV4_MALFORMED,
                          "%s must be a 'SignedHeader' in the AWS Authorization.",
                          required[k].shown);
    }
    return SL_OK;
}

/* ---- Verification ---- */

int sl_sigv4_verify(const struct sl_sigv4_request *req, const struct sl_keys *keys,
                    const struct sl_sigv4_opts *opts, time_t now, struct sl_sigv4_result *res)
{
    static const struct sl_sigv4_opts defaults = {NULL, NULL, 0};
    char e1[ECHO_MAX + 4];
    struct sl_err err = {0};
    struct sl_buf canon;
    unsigned char k_signing[32], mac[32];
    char payload[65], canon_hash[65], sig_hex[65];
    int rc;

    memset(res, 0, sizeof *res);
    if (!opts)
        opts = &defaults;
    sl_buf_init(&canon, SL_SIGV4_CANON_MAX);

    /* 1. Authorization (spec §2.3.1, §2.1.1) */
    const struct sl_sigv4_header *h;
    size_t n = find_header(req, "authorization", &h);
    if (n == 0)
        return refuse(res, SL_SIGV4_MISSING, "Missing Authentication Token");
    if (n > 1)
        return refuse(res, SL_SIGV4_MALFORMED, "Only one 'Authorization' header is allowed.");
    struct auth a;
    if ((rc = parse_auth(h->value ? h->value : "", h->value ? h->value_len : 0, &a, res)) != SL_OK)
        return rc;
    copy_name(res->key_id, sizeof res->key_id, a.key_id, is_key_id_char);
    copy_name(res->region, sizeof res->region, a.region, is_scope_char);
    copy_name(res->service, sizeof res->service, a.service, is_scope_char);

    /* 2. X-Amz-Date (§2.3.2) */
    n = find_header(req, "x-amz-date", &h);
    if (n == 0)
        return refuse(res, SL_SIGV4_MALFORMED,
                      "Authorization header requires existence of a 'X-Amz-Date' header.");
    if (n > 1)
        return refuse(res, SL_SIGV4_MALFORMED, "Only one 'X-Amz-Date' header is allowed.");
    struct span date = {h->value ? h->value : "", h->value ? h->value_len : 0};
    while (date.len && is_value_blank((unsigned char)date.p[0])) {
        date.p++;
        date.len--;
    }
    while (date.len && is_value_blank((unsigned char)date.p[date.len - 1]))
        date.len--;
    long long t;
    if (!parse_amz_date(date.p, date.len, &t))
        return refuse(res, SL_SIGV4_MALFORMED,
                      "X-Amz-Date must be in the ISO8601 basic format YYYYMMDD'T'HHMMSS'Z' "
                      "(e.g. 20150830T123600Z), got '%s'.",
                      echo(date.p, date.len, e1));

    /* 3. SignedHeaders (§2.2) and session tokens */
    if ((rc = check_signed_headers(req, a.signed_headers, res)) != SL_OK)
        return rc;
    if (find_header(req, "x-amz-security-token", NULL) > 0)
        return refuse(res, SL_SIGV4_TOKEN,
                      "The security token included in the request is invalid. Session tokens "
                      "are not supported: sign with a long-term access key (unset "
                      "AWS_SESSION_TOKEN).");

    /* 4. Credential scope (§2.3.3, §2.3.4) */
    if (a.date.len != 8 || memcmp(a.date.p, date.p, 8) != 0)
        return refuse(res, SL_SIGV4_SCOPE,
                      "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of "
                      "date from HTTP: '%s' != '%.8s', from '%.16s'.",
                      echo(a.date.p, a.date.len, e1), date.p, date.p);
    if (!span_is(a.terminator, SCOPE_TERMINATOR))
        return refuse(res, SL_SIGV4_SCOPE,
                      "Credential should be scoped with a valid terminator: '" SCOPE_TERMINATOR
                      "', not '%s'.",
                      echo(a.terminator.p, a.terminator.len, e1));
    if (!res->service[0] || a.service.len > SCOPE_PART_MAX ||
        (opts->service && strcmp(res->service, opts->service) != 0)) {
        if (opts->service)
            return refuse(res, SL_SIGV4_SCOPE,
                          "Credential should be scoped to correct service: '%s'.", opts->service);
        return refuse(res, SL_SIGV4_SCOPE, "Credential should be scoped to a valid service.");
    }
    if (!res->region[0] || a.region.len > SCOPE_PART_MAX ||
        (opts->region && strcmp(res->region, opts->region) != 0))
        return refuse(res, SL_SIGV4_SCOPE,
                      "Credential should be scoped to a valid region, not '%s'.",
                      echo(a.region.p, a.region.len, e1));

    /* 5. The key (§2.3.5) */
    const struct sl_key *key = sl_keys_find(keys, a.key_id.p, a.key_id.len);
    if (!key)
        return refuse(res, SL_SIGV4_UNKNOWN_KEY,
                      "The security token included in the request is invalid.");

    /* 6. Clock skew (§2.3.6) */
    long skew = opts->max_skew ? opts->max_skew : SL_SIGV4_SKEW_DEFAULT;
    if (skew > 0) {
        char amz[17], now_s[64], lim[64];
        const char *unit = skew % 60 == 0 ? "min." : "sec.";
        long shown = skew % 60 == 0 ? skew / 60 : skew;
        snprintf(amz, sizeof amz, "%.16s", date.p);
        format_amz_date((long long)now, now_s);
        if (t < (long long)now - skew) {
            format_amz_date((long long)now - skew, lim);
            return refuse(res, SL_SIGV4_EXPIRED,
                          "Signature expired: %s is now earlier than %s (%s - %ld %s)", amz, lim,
                          now_s, shown, unit);
        }
        if (t > (long long)now + skew) {
            format_amz_date((long long)now + skew, lim);
            return refuse(res, SL_SIGV4_NOT_YET_VALID,
                          "Signature not yet current: %s is still later than %s (%s + %ld %s)", amz,
                          lim, now_s, shown, unit);
        }
    }

    /* 7. Canonical request (§2.1.2) */
    if (req->body_sha256) {
        snprintf(payload, sizeof payload, "%s", req->body_sha256);
    } else {
        sl_sha256_hex(req->body ? req->body : "", req->body ? req->body_len : 0, payload);
    }
    rc = sl_sigv4_canonical_request(req, a.signed_headers.p, a.signed_headers.len, payload, &canon,
                                    &err);
    if (rc == SL_ENOTFOUND) {
        rc = refuse(res, SL_SIGV4_HEADER_MISSING,
                    "The request signature we calculated does not match the signature you "
                    "provided: %s.",
                    err.msg);
        goto done;
    }
    if (rc == SL_ELIMIT) {
        rc = refuse(res, SL_SIGV4_MALFORMED, "The request is too large to verify its signature.");
        goto done;
    }
    if (rc != SL_OK) {
        rc = refuse(res, SL_SIGV4_INTERNAL, "Could not verify the signature: out of memory.");
        goto done;
    }

    /* 8. x-amz-content-sha256, when sent, must be the body's hash (§2.1.2.6) */
    if (find_header(req, "x-amz-content-sha256", NULL) > 0) {
        struct sl_buf v;
        sl_buf_init(&v, 4096);
        bool same = true;
        for (size_t i = 0, k = 0; i < req->n_headers; i++) {
            const struct sl_sigv4_header *x = &req->headers[i];
            if (!x->name || !name_is(x->name, x->name_len, "x-amz-content-sha256", 20))
                continue;
            if ((k++ && sl_buf_putc(&v, ',', NULL) != SL_OK) ||
                append_value(&v, x->value ? x->value : "", x->value ? x->value_len : 0, &err) !=
                    SL_OK)
                same = false;
        }
        same = same && v.len == 64 && memcmp(v.data, payload, 64) == 0;
        sl_buf_cleanup(&v);
        if (!same) {
            rc = refuse(res, SL_SIGV4_PAYLOAD,
                        "The provided 'x-amz-content-sha256' header does not match what was "
                        "computed.");
            goto done;
        }
    }

    /* 9. String to sign, signing key, signature (§2.1.3-5) */
    sl_sha256_hex(canon.data, canon.len, canon_hash);
    sl_buf_reset(&canon);
    size_t secret_len;
    const unsigned char *secret = sl_key_secret(key, &secret_len);
    char date8[9];
    memcpy(date8, date.p, 8);
    date8[8] = '\0';
    if (sl_buf_printf(&canon, &err, SL_SIGV4_ALGORITHM "\n%.16s\n%s/%s/%s/" SCOPE_TERMINATOR "\n%s",
                      date.p, date8, res->region, res->service, canon_hash) != SL_OK) {
        rc = refuse(res, SL_SIGV4_INTERNAL, "Could not verify the signature: out of memory.");
        goto done;
    }
    if (sl_sigv4_signing_key(secret, secret_len, date8, res->region, res->service, k_signing) !=
        SL_OK) {
        refuse(res, SL_SIGV4_INTERNAL, "Could not verify the signature.");
        rc = SL_EINTERNAL;
        goto done;
    }
    rc = hmac_sha256(k_signing, sizeof k_signing, canon.data, canon.len, mac);
    OPENSSL_cleanse(k_signing, sizeof k_signing);
    if (rc != SL_OK) {
        refuse(res, SL_SIGV4_INTERNAL, "Could not verify the signature.");
        goto done;
    }
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        sig_hex[2 * i] = hex[mac[i] >> 4];
        sig_hex[2 * i + 1] = hex[mac[i] & 15];
    }
    sig_hex[64] = '\0';
    OPENSSL_cleanse(mac, sizeof mac);
    /* The length is no secret; the content is compared in constant time. */
    bool match = a.signature.len == 64 && CRYPTO_memcmp(sig_hex, a.signature.p, 64) == 0;
    OPENSSL_cleanse(sig_hex, sizeof sig_hex);
    if (!match) {
        rc = refuse(res, SL_SIGV4_MISMATCH,
                    "The request signature we calculated does not match the signature you "
                    "provided. Check your AWS Secret Access Key and signing method. Consult the "
                    "service documentation for details.");
        goto done;
    }
    res->status = SL_SIGV4_OK;
    rc = SL_OK;
done:
    sl_buf_cleanup(&canon);
    return rc;
}
