/*
 * tests/scheduler/test_sigv4.c - SigV4 verification (scheduler/sigv4.c) and the
 * API key store (scheduler/keys.c).
 *
 * Vectors: the spec's worked example and captured StartJobRun
 * (../shared/spec/aws-api.md §2.4, §1.3); three requests signed by the real
 * AWS CLI 2.9.19 (`aws --debug` against a closed port, so no server: the log
 * shows the headers, canonical request and signature it sent); AWS's SigV4
 * test suite (AKIDEXAMPLE, 20150830T123600Z, us-east-1, service "service").
 * A tiny signer written here (OpenSSL directly, canonical parts spelled out by
 * hand) signs the multi-key and rejection cases.
 */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "runtime/alloc.h"
#include "scheduler/keys.h"
#include "scheduler/sigv4.h"
#include "tests/test.h"

/* ---- Requests ---- */

#define T_MAX_HEADERS 32

/* A request under test; every string lives in store. */
struct treq {
    char store[16384];
    size_t used;
    struct sl_sigv4_header h[T_MAX_HEADERS];
    size_t n;
    const char *method, *path, *query, *body;
    size_t body_len;
};

static char *t_keep(struct treq *t, const char *s, size_t len)
{
    if (t->used + len + 1 > sizeof t->store) {
        fprintf(stdout, "#   test request store full\n");
        abort();
    }
    char *p = t->store + t->used;
    memcpy(p, s, len);
    p[len] = '\0';
    t->used += len + 1;
    return p;
}

static void t_add(struct treq *t, const char *name, const char *value)
{
    if (t->n == T_MAX_HEADERS)
        abort();
    struct sl_sigv4_header *h = &t->h[t->n++];
    h->name = t_keep(t, name, strlen(name));
    h->name_len = strlen(name);
    h->value = t_keep(t, value, strlen(value));
    h->value_len = strlen(value);
}

static void t_del(struct treq *t, const char *name)
{
    size_t k = 0;
    for (size_t i = 0; i < t->n; i++) {
        if (strlen(name) != t->h[i].name_len || strncasecmp(t->h[i].name, name, t->h[i].name_len))
            t->h[k++] = t->h[i];
    }
    t->n = k;
}

/* Replaces every header of that name by one with value (appended last). */
static void t_set(struct treq *t, const char *name, const char *value)
{
    t_del(t, name);
    t_add(t, name, value);
}

static const char *t_get(const struct treq *t, const char *name)
{
    for (size_t i = 0; i < t->n; i++) {
        if (strlen(name) == t->h[i].name_len && !strncasecmp(t->h[i].name, name, t->h[i].name_len))
            return t->h[i].value;
    }
    return NULL;
}

static void t_body(struct treq *t, const char *body)
{
    t->body = t_keep(t, body, strlen(body));
    t->body_len = strlen(body);
}

/* Parses the test suite's request form: "METHOD TARGET HTTP/1.1\n" then
 * "Name:value" lines, an empty line and the body. The value is taken as it is
 * written after the ':' (the suite's get-header-value-trim relies on that). */
static void t_parse(struct treq *t, const char *raw)
{
    memset(t, 0, sizeof *t);
    const char *sp1 = strchr(raw, ' ');
    const char *sp2 = strchr(raw, '\n') - strlen(" HTTP/1.1"); /* the target may hold spaces */
    const char *eol = strchr(raw, '\n');
    t->method = t_keep(t, raw, (size_t)(sp1 - raw));
    const char *target = sp1 + 1;
    const char *q = memchr(target, '?', (size_t)(sp2 - target));
    t->path = t_keep(t, target, (size_t)((q ? q : sp2) - target));
    t->query = q ? t_keep(t, q + 1, (size_t)(sp2 - q - 1)) : NULL;
    const char *line = eol + 1;
    while (*line && *line != '\n') {
        const char *end = strchr(line, '\n');
        const char *colon = memchr(line, ':', (size_t)(end - line));
        char name[128], value[1024];
        snprintf(name, sizeof name, "%.*s", (int)(colon - line), line);
        snprintf(value, sizeof value, "%.*s", (int)(end - colon - 1), colon + 1);
        t_add(t, name, value);
        line = end + 1;
    }
    t_body(t, *line ? line + 1 : "");
}

static struct sl_sigv4_request t_req(const struct treq *t)
{
    struct sl_sigv4_request r = {
        .method = t->method,
        .path = t->path,
        .path_len = strlen(t->path),
        .query = t->query,
        .query_len = t->query ? strlen(t->query) : 0,
        .headers = t->h,
        .n_headers = t->n,
        .body = t->body,
        .body_len = t->body_len,
    };
    return r;
}

/* "YYYYMMDDTHHMMSSZ" -> seconds since the epoch. */
static time_t amz_time(const char *s)
{
    struct tm tm = {0};
    sscanf(s, "%4d%2d%2dT%2d%2d%2dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
           &tm.tm_sec);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return timegm(&tm);
}

static struct sl_keys *keys_of(const char *list)
{
    struct sl_err err = {0};
    struct sl_keys *k = sl_keys_new();
    if (!k || sl_keys_add_list(k, list, strlen(list), "test", &err) != SL_OK) {
        fprintf(stdout, "#   keys_of(%s): %s\n", list, err.msg);
        abort();
    }
    return k;
}

/* Verifies and returns the status; res is kept for further checks. */
static enum sl_sigv4_status verify(const struct treq *t, const struct sl_keys *keys,
                                   const struct sl_sigv4_opts *opts, time_t now,
                                   struct sl_sigv4_result *res)
{
    struct sl_sigv4_request r = t_req(t);
    int rc = sl_sigv4_verify(&r, keys, opts, now, res);
    if ((rc == SL_OK) != (res->status == SL_SIGV4_OK)) {
        fprintf(stdout, "#   return code %d disagrees with status %d\n", rc, res->status);
        return SL_SIGV4_INTERNAL;
    }
    if (res->status != SL_SIGV4_OK && rc != SL_EACCESS && res->status != SL_SIGV4_INTERNAL) {
        fprintf(stdout, "#   refusal returned %d, not SL_EACCESS\n", rc);
        return SL_SIGV4_INTERNAL;
    }
    return res->status;
}

#define CHECK_STATUS(got, want, res)                                                               \
    CHECKF((got) == (want), "status %s, want %s: %s", sl_sigv4_status_name(got),                   \
           sl_sigv4_status_name(want), (res).message)

/* ---- The tiny signer ---- */

static void hex32(const unsigned char *md, char out[65])
{
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void t_sha256(const void *p, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int n = 0;
    EVP_Digest(p, len, md, &n, EVP_sha256(), NULL);
    hex32(md, out);
}

static void t_hmac(const void *key, size_t key_len, const char *data, unsigned char out[32])
{
    unsigned int n = 0;
    HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)data, strlen(data), out, &n);
}

/* kDate, kRegion, kService, kSigning (AWS's chain, written out). */
static void t_keys(const char *secret, const char *date8, const char *region, const char *service,
                   unsigned char k[4][32])
{
    char k0[300];
    snprintf(k0, sizeof k0, "AWS4%s", secret);
    t_hmac(k0, strlen(k0), date8, k[0]);
    t_hmac(k[0], 32, region, k[1]);
    t_hmac(k[1], 32, service, k[2]);
    t_hmac(k[2], 32, "aws4_request", k[3]);
}

/* Signs t: path and query must already be canonical, signed header values
 * clean (no blanks to trim) unless canon_headers gives the canonical header
 * block itself. scope_region (NULL: region) is what the Credential claims;
 * the key is derived with region. Sets X-Amz-Date and Authorization. */
static void t_sign_ex(struct treq *t, const char *akid, const char *secret, const char *amz_date,
                      const char *region, const char *scope_region, const char *service,
                      const char *signed_headers, const char *canon_headers)
{
    char creq[8192], sts[1024], body_hash[65], creq_hash[65], sig[65], auth[1024], date8[9];
    unsigned char k[4][32], mac[32];
    size_t n = 0;

    t_set(t, "X-Amz-Date", amz_date);
    snprintf(date8, sizeof date8, "%.8s", amz_date);
    t_sha256(t->body, t->body_len, body_hash);
    n += (size_t)snprintf(creq + n, sizeof creq - n, "%s\n%s\n%s\n", t->method, t->path,
                          t->query ? t->query : "");
    if (canon_headers) {
        n += (size_t)snprintf(creq + n, sizeof creq - n, "%s", canon_headers);
    } else {
        char names[512];
        snprintf(names, sizeof names, "%s", signed_headers);
        char *save = NULL;
        for (char *name = strtok_r(names, ";", &save); name; name = strtok_r(NULL, ";", &save)) {
            const char *v = t_get(t, name);
            n += (size_t)snprintf(creq + n, sizeof creq - n, "%s:%s\n", name, v ? v : "");
        }
    }
    snprintf(creq + n, sizeof creq - n, "\n%s\n%s", signed_headers, body_hash);
    t_sha256(creq, strlen(creq), creq_hash);
    snprintf(sts, sizeof sts, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s", amz_date, date8,
             scope_region ? scope_region : region, service, creq_hash);
    t_keys(secret, date8, region, service, k);
    t_hmac(k[3], 32, sts, mac);
    hex32(mac, sig);
    snprintf(auth, sizeof auth,
             "AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request, SignedHeaders=%s, "
             "Signature=%s",
             akid, date8, scope_region ? scope_region : region, service, signed_headers, sig);
    t_set(t, "Authorization", auth);
}

static void t_sign(struct treq *t, const char *akid, const char *secret, const char *amz_date)
{
    t_sign_ex(t, akid, secret, amz_date, "us-east-1", NULL, "glue",
              "content-type;host;x-amz-date;x-amz-target", NULL);
}

/* A Glue GetJob as the CLI sends it (spec §2.4), unsigned. */
static void t_glue(struct treq *t, const char *op, const char *body)
{
    char target[64];
    memset(t, 0, sizeof *t);
    t->method = "POST";
    t->path = "/";
    snprintf(target, sizeof target, "AWSGlue.%s", op);
    t_add(t, "Host", "127.0.0.1:9999");
    t_add(t, "Accept-Encoding", "identity");
    t_add(t, "X-Amz-Target", target);
    t_add(t, "Content-Type", "application/x-amz-json-1.1");
    t_add(t, "User-Agent",
          "aws-cli/2.9.19 Python/3.11.2 Linux/6.18.44-fc-v595 "
          "source/x86_64.debian.12 prompt/off command/glue.get-job");
    t_body(t, body);
    char len[32];
    snprintf(len, sizeof len, "%zu", strlen(body));
    t_add(t, "Content-Length", len);
}

/* ---- The spec's worked example (§2.4) ---- */

#define SPEC_DATE "20261126T114856Z"
#define SPEC_AUTH                                                                                  \
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261126/us-east-1/glue/aws4_request, "               \
    "SignedHeaders=content-type;host;x-amz-date;x-amz-target, "                                    \
    "Signature=73744bf29d0eb920e9f177fbda985f4b65c9a4bcfd00fe33987a58dcc8a546e8"

static void spec_request(struct treq *t)
{
    t_glue(t, "GetJob", "{\"JobName\": \"nightly-etl\"}");
    t_add(t, "X-Amz-Date", SPEC_DATE);
    t_add(t, "Authorization", SPEC_AUTH);
}

static const struct sl_sigv4_opts glue_opts = {.service = "glue"};

TEST(spec_worked_example)
{
    struct treq t;
    struct sl_sigv4_result res;
    struct sl_keys *keys = keys_of("AKIDEXAMPLE:secret");
    spec_request(&t);
    enum sl_sigv4_status st = verify(&t, keys, &glue_opts, amz_time("20261126T114856Z"), &res);
    CHECK_STATUS(st, SL_SIGV4_OK, res);
    CHECK_STR(res.key_id, "AKIDEXAMPLE");
    CHECK_STR(res.region, "us-east-1");
    CHECK_STR(res.service, "glue");
    CHECK_STR(res.message, "");

    /* the intermediate values of §2.4 */
    struct sl_sigv4_request r = t_req(&t);
    struct sl_buf b;
    struct sl_err err = {0};
    char h[65];
    sl_buf_init(&b, 0);
    CHECK_OK(sl_sigv4_canonical_request(
                 &r, "content-type;host;x-amz-date;x-amz-target", 41,
                 "9dfb4a68e624c40902b2bb01871ad80a785eb8e55c7f5e0262710ebe59f16a40", &b, &err),
             &err);
    CHECK_STR(b.data, "POST\n/\n\ncontent-type:application/x-amz-json-1.1\nhost:127.0.0.1:9999\n"
                      "x-amz-date:20261126T114856Z\nx-amz-target:AWSGlue.GetJob\n\n"
                      "content-type;host;x-amz-date;x-amz-target\n"
                      "9dfb4a68e624c40902b2bb01871ad80a785eb8e55c7f5e0262710ebe59f16a40");
    t_sha256(b.data, b.len, h);
    CHECK_STR(h, "7531c91f90871df0cefadd806629f3c0960ae34d38ca87680e4edad136d1afc6");
    sl_buf_cleanup(&b);
    t_sha256(t.body, t.body_len, h);
    CHECK_STR(h, "9dfb4a68e624c40902b2bb01871ad80a785eb8e55c7f5e0262710ebe59f16a40");

    unsigned char ks[32], k4[4][32];
    CHECK(sl_sigv4_signing_key((const unsigned char *)"secret", 6, "20261126", "us-east-1", "glue",
                               ks) == SL_OK);
    hex32(ks, h);
    CHECK_STR(h, "1338952d6e88c4113d8619b01e312e47bd9f27c3274cf9b3af6ba5c4231e9ec1");
    /* and the test's own signer agrees with the spec at every step */
    t_keys("secret", "20261126", "us-east-1", "glue", k4);
    hex32(k4[0], h);
    CHECK_STR(h, "1de6d3a2246961bc68655119273617dab54a9ef99d5985cb6d6f9c8f8ebf96e6");
    hex32(k4[1], h);
    CHECK_STR(h, "3a628a5b491715b6c99917f3f2ac69ee6e66e33eb99ead0ba8733c8067bb939d");
    hex32(k4[2], h);
    CHECK_STR(h, "91aa2908e8a5df56a3e409c9260b89663573e2c71b8881ae499b9b87ac20f25d");
    hex32(k4[3], h);
    CHECK_STR(h, "1338952d6e88c4113d8619b01e312e47bd9f27c3274cf9b3af6ba5c4231e9ec1");
    struct treq t2;
    spec_request(&t2);
    t_sign(&t2, "AKIDEXAMPLE", "secret", SPEC_DATE);
    CHECK_STR(t_get(&t2, "Authorization"), SPEC_AUTH);
    sl_keys_free(keys);
}

/* §2.4's negative tests, and the skew messages of §2.3.6. */
TEST(spec_example_negatives)
{
    struct treq t;
    struct sl_sigv4_result res;
    struct sl_keys *keys = keys_of("AKIDEXAMPLE:secret");
    time_t now = amz_time(SPEC_DATE);

    spec_request(&t);
    t_body(&t, "{\"JobName\": \"nightly-etm\"}"); /* one byte flipped */
    CHECK_STATUS(verify(&t, keys, &glue_opts, now, &res), SL_SIGV4_MISMATCH, res);
    CHECK_STR(sl_sigv4_code(res.status), "InvalidSignatureException");
    CHECK(sl_sigv4_http_status(res.status) == 403);
    CHECK_STR(res.message, "The request signature we calculated does not match the signature you "
                           "provided. Check your AWS Secret Access Key and signing method. "
                           "Consult the service documentation for details.");
    CHECK_STR(res.key_id, "AKIDEXAMPLE");

    struct sl_keys *cap = keys_of("AKIDEXAMPLE:Secret");
    spec_request(&t);
    CHECK_STATUS(verify(&t, cap, &glue_opts, now, &res), SL_SIGV4_MISMATCH, res);
    sl_keys_free(cap);

    spec_request(&t);
    t_set(&t, "Host", "127.0.0.1:9998");
    CHECK_STATUS(verify(&t, keys, &glue_opts, now, &res), SL_SIGV4_MISMATCH, res);

    spec_request(&t);
    CHECK_STATUS(verify(&t, keys, &glue_opts, now + 16 * 60, &res), SL_SIGV4_EXPIRED, res);
    CHECK_STR(sl_sigv4_code(res.status), "InvalidSignatureException");
    /* the spec's own example message: now = 12:19:00 */
    CHECK_STATUS(verify(&t, keys, &glue_opts, amz_time("20261126T121900Z"), &res), SL_SIGV4_EXPIRED,
                 res);
    CHECK_STR(res.message, "Signature expired: 20261126T114856Z is now earlier than "
                           "20261126T120400Z (20261126T121900Z - 15 min.)");
    CHECK_STATUS(verify(&t, keys, &glue_opts, now - 16 * 60, &res), SL_SIGV4_NOT_YET_VALID, res);
    CHECK_STR(res.message, "Signature not yet current: 20261126T114856Z is still later than "
                           "20261126T114756Z (20261126T113256Z + 15 min.)");
    /* exactly 15 minutes either way is still inside the window */
    CHECK_STATUS(verify(&t, keys, &glue_opts, now + 15 * 60, &res), SL_SIGV4_OK, res);
    CHECK_STATUS(verify(&t, keys, &glue_opts, now - 15 * 60, &res), SL_SIGV4_OK, res);
    CHECK_STATUS(verify(&t, keys, &glue_opts, now + 15 * 60 + 1, &res), SL_SIGV4_EXPIRED, res);
    CHECK_STATUS(verify(&t, keys, &glue_opts, now - 15 * 60 - 1, &res), SL_SIGV4_NOT_YET_VALID,
                 res);
    /* a configured window, and none */
    struct sl_sigv4_opts five = {.service = "glue", .max_skew = 300};
    CHECK_STATUS(verify(&t, keys, &five, now + 301, &res), SL_SIGV4_EXPIRED, res);
    CHECK(strstr(res.message, "- 5 min.)") != NULL);
    struct sl_sigv4_opts odd = {.service = "glue", .max_skew = 90};
    CHECK_STATUS(verify(&t, keys, &odd, now - 91, &res), SL_SIGV4_NOT_YET_VALID, res);
    CHECK(strstr(res.message, "+ 90 sec.)") != NULL);
    struct sl_sigv4_opts none = {.service = "glue", .max_skew = -1};
    CHECK_STATUS(verify(&t, keys, &none, now + 86400 * 365, &res), SL_SIGV4_OK, res);
    sl_keys_free(keys);
}

/* §1.3's captured StartJobRun (same credentials as §2.4). */
TEST(spec_captured_start_job_run)
{
    struct treq t;
    struct sl_sigv4_result res;
    struct sl_keys *keys = keys_of("AKIDEXAMPLE:secret");
    t_glue(&t, "StartJobRun",
           "{\"JobName\": \"nightly-etl\", \"Arguments\": {\"--input\": \"data/in.csv\", "
           "\"--limit\": \"10\"}}");
    CHECK(t.body_len == 84);
    t_add(&t, "X-Amz-Date", "20261126T114618Z");
    t_add(&t, "Authorization",
          "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261126/us-east-1/glue/aws4_request, "
          "SignedHeaders=content-type;host;x-amz-date;x-amz-target, "
          "Signature=823d18d13bc5a4cc8c14bafa0bd14c49e90bab41e06e3a728340a4e8e76479cf");
    time_t now = amz_time("20261126T114618Z");
    CHECK_STATUS(verify(&t, keys, &glue_opts, now, &res), SL_SIGV4_OK, res);
    /* the same request routed to Firehose must not pass the service check */
    struct sl_sigv4_opts fh = {.service = "firehose"};
    CHECK_STATUS(verify(&t, keys, &fh, now, &res), SL_SIGV4_SCOPE, res);
    CHECK_STR(res.message, "Credential should be scoped to correct service: 'firehose'.");
    sl_keys_free(keys);
}

/* Requests the real CLI signed (aws --debug, closed port, 2026-11-26). */
TEST(cli_captured_requests)
{
    struct treq t;
    struct sl_sigv4_result res;

    /* glue start-job-run, another key and region, a \u escape in the body */
    struct sl_keys *keys = keys_of("AKIDCLI2:wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
    memset(&t, 0, sizeof t);
    t.method = "POST";
    t.path = "/";
    t_add(&t, "Host", "127.0.0.1:1");
    t_add(&t, "Accept-Encoding", "identity");
    t_add(&t, "X-Amz-Target", "AWSGlue.StartJobRun");
    t_add(&t, "Content-Type", "application/x-amz-json-1.1");
    t_add(&t, "User-Agent",
          "aws-cli/2.9.19 Python/3.11.2 Linux/6.18.44-fc-v657 "
          "source/x86_64.debian.12 prompt/off command/glue.start-job-run");
    t_add(&t, "X-Amz-Date", "20261126T154057Z");
    t_add(&t, "Authorization",
          "AWS4-HMAC-SHA256 Credential=AKIDCLI2/20261126/eu-west-1/glue/aws4_request, "
          "SignedHeaders=content-type;host;x-amz-date;x-amz-target, "
          "Signature=54b50bc39f94977fe476c67d072901051962dc7dbc02e580ef269c94ba43d742");
    t_add(&t, "Content-Length", "86");
    t_body(&t, "{\"JobName\": \"nightly etl\", \"Arguments\": {\"--path\": "
               "\"s3://lake/\\u00e9/ x\", \"--n\": \"1\"}}");
    CHECK(t.body_len == 86);
    time_t now = amz_time("20261126T154057Z");
    CHECK_STATUS(verify(&t, keys, &glue_opts, now, &res), SL_SIGV4_OK, res);
    CHECK_STR(res.key_id, "AKIDCLI2");
    CHECK_STR(res.region, "eu-west-1");
    struct sl_sigv4_opts us = {.service = "glue", .region = "us-east-1"};
    CHECK_STATUS(verify(&t, keys, &us, now, &res), SL_SIGV4_SCOPE, res);
    CHECK_STR(res.message, "Credential should be scoped to a valid region, not 'eu-west-1'.");
    sl_keys_free(keys);

    /* firehose put-record, Host "localhost:1" */
    keys = keys_of("AKIDEXAMPLE:secret");
    memset(&t, 0, sizeof t);
    t.method = "POST";
    t.path = "/";
    t_add(&t, "Host", "localhost:1");
    t_add(&t, "Accept-Encoding", "identity");
    t_add(&t, "X-Amz-Target", "Firehose_20150804.PutRecord");
    t_add(&t, "Content-Type", "application/x-amz-json-1.1");
    t_add(&t, "User-Agent", "aws-cli/2.9.19 command/firehose.put-record");
    t_add(&t, "X-Amz-Date", "20261126T154106Z");
    t_add(&t, "Authorization",
          "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261126/ap-southeast-2/firehose/aws4_request, "
          "SignedHeaders=content-type;host;x-amz-date;x-amz-target, "
          "Signature=5ccffcd4bedbd2422b1dd58add8e4207b73e04d3cb4f9140ff2e24509e1f2dea");
    t_add(&t, "Content-Length", "72");
    t_body(&t,
           "{\"DeliveryStreamName\": \"clicks\", \"Record\": {\"Data\": \"eyJ1c2VyIjoxfQo=\"}}");
    struct sl_sigv4_opts fh = {.service = "firehose"};
    now = amz_time("20261126T154106Z");
    CHECK_STATUS(verify(&t, keys, &fh, now, &res), SL_SIGV4_OK, res);
    CHECK_STATUS(verify(&t, keys, &glue_opts, now, &res), SL_SIGV4_SCOPE, res);

    /* lambda get-function --function-name 'my fn/\u00e9' --qualifier 'v 1': a REST
     * path the CLI sends encoded once and signs encoded twice */
    memset(&t, 0, sizeof t);
    t.method = "GET";
    t.path = "/2015-03-31/functions/my%20fn%2F%C3%A9";
    t.query = "Qualifier=v%201";
    t_add(&t, "Host", "127.0.0.1:1");
    t_add(&t, "User-Agent", "aws-cli/2.9.19 command/lambda.get-function");
    t_add(&t, "X-Amz-Date", "20261126T155639Z");
    t_add(&t, "Authorization",
          "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261126/us-east-1/lambda/aws4_request, "
          "SignedHeaders=host;x-amz-date, "
          "Signature=833fb8210ff71a706be4dbcd2fd72a26c8b5d6f0d0acf04599e585176fbda2bc");
    t_body(&t, "");
    struct sl_sigv4_opts lambda = {.service = "lambda"};
    now = amz_time("20261126T155639Z");
    CHECK_STATUS(verify(&t, keys, &lambda, now, &res), SL_SIGV4_OK, res);
    struct sl_buf cu;
    struct sl_err err = {0};
    sl_buf_init(&cu, 0);
    CHECK_OK(sl_sigv4_canonical_uri(t.path, strlen(t.path), &cu, &err), &err);
    CHECK_STR(cu.data, "/2015-03-31/functions/my%2520fn%252F%25C3%25A9");
    sl_buf_cleanup(&cu);
    t.path = "/2015-03-31/functions/my fn%2F%C3%A9"; /* same name, spelled otherwise */
    CHECK_STATUS(verify(&t, keys, &lambda, now, &res), SL_SIGV4_MISMATCH, res);

    /* glue get-job with AWS_SESSION_TOKEN set: the CLI signs the token; refused */
    t_glue(&t, "GetJob", "{\"JobName\": \"nightly-etl\"}");
    t_set(&t, "Host", "127.0.0.1:1");
    t_add(&t, "X-Amz-Date", "20261126T154104Z");
    t_add(&t, "X-Amz-Security-Token", "FwoGZXIvYXdzEXAMPLETOKEN");
    t_add(&t, "Authorization",
          "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261126/us-east-1/glue/aws4_request, "
          "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target, "
          "Signature=7b072ffbdb540d4d61f37589d60384fdebd31955cba5b360a9f343bffab5d461");
    CHECK_STATUS(verify(&t, keys, &glue_opts, amz_time("20261126T154104Z"), &res), SL_SIGV4_TOKEN,
                 res);
    CHECK_STR(sl_sigv4_code(res.status), "UnrecognizedClientException");
    static const char invalid[] = "The security token included in the request is invalid.";
    CHECK(strncmp(res.message, invalid, strlen(invalid)) == 0);
    CHECK(strstr(res.message, "AWS_SESSION_TOKEN") != NULL);
    CHECK(strstr(res.message, "FwoGZXIvYXdzEXAMPLETOKEN") == NULL);
    sl_keys_free(keys);
}

/* ---- AWS's SigV4 test suite ---- */

#define SUITE_SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define SUITE_AUTH(signed, sig)                                                                    \
    "Authorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"            \
    "aws4_request, SignedHeaders=" signed ", Signature=" sig "\n"
#define SUITE_HOST_DATE "Host:example.amazonaws.com\nX-Amz-Date:20150830T123600Z\n"
#define SUITE_GET(target, sig)                                                                     \
    "GET " target " HTTP/1.1\n" SUITE_HOST_DATE SUITE_AUTH("host;x-amz-date", sig) "\n"

static const struct {
    const char *name;
    const char *raw;
} suite[] = {
    {"get-vanilla",
     SUITE_GET("/", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")},
    {"get-vanilla-query-order-key-case",
     SUITE_GET("/?Param2=value2&Param1=value1",
               "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500")},
    {"get-vanilla-query-order-encoded",
     SUITE_GET("/?Param-3=Value3&Param=Value2&%E1%88%B4=Value1",
               "371d3713e185cc334048618a97f809c9ffe339c62934c032af5a0e595648fcac")},
    {"get-vanilla-empty-query-key",
     SUITE_GET("/?Param1=value1",
               "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb")},
    {"get-vanilla-query-unreserved",
     SUITE_GET("/?-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz="
               "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
               "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197")},
    {"get-vanilla-utf8-query",
     SUITE_GET("/?\xe1\x88\xb4=bar",
               "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04")},
    {"get-unreserved",
     SUITE_GET("/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
               "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f")},
    {"get-utf8", SUITE_GET("/\xe1\x88\xb4",
                           "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85")},
    {"get-space-normalized",
     SUITE_GET("/example space/",
               "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741")},
    {"get-slashes-normalized",
     SUITE_GET("//example//", "9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84")},
    {"get-slash-dot-slash-normalized",
     SUITE_GET("/./", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")},
    {"get-slash-pointless-dot-normalized",
     SUITE_GET("/./example", "ef75d96142cf21edca26f06005da7988e4f8dc83a165a80865db7089db637ec5")},
    {"get-relative-relative-normalized",
     SUITE_GET("/example1/example2/../..",
               "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")},
    {"get-header-key-duplicate",
     "GET / HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1:value2\nMy-Header1:value2\n"
     "My-Header1:value1\nX-Amz-Date:20150830T123600Z\n" SUITE_AUTH(
         "host;my-header1;x-amz-date",
         "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea") "\n"},
    {"get-header-value-order",
     "GET / HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1:value4\nMy-Header1:value1\n"
     "My-Header1:value3\nMy-Header1:value2\nX-Amz-Date:20150830T123600Z\n" SUITE_AUTH(
         "host;my-header1;x-amz-date",
         "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01") "\n"},
    {"get-header-value-trim",
     "GET / HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1: value1\n"
     "My-Header2: \"a   b   c\"\nX-Amz-Date:20150830T123600Z\n" SUITE_AUTH(
         "host;my-header1;my-header2;x-amz-date",
         "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736") "\n"},
    /* The suite writes My-Header1 as "value1" plus two folded continuation
     * lines and expects "value1,value2,value3": its harness turns each line
     * into a value of its own. That is the form fed here; a folded value as an
     * HTTP server hands it over is header_value_folding below. */
    {"get-header-value-multiline",
     "GET / HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1:value1\nMy-Header1:value2\n"
     "My-Header1:value3\nX-Amz-Date:20150830T123600Z\n" SUITE_AUTH(
         "host;my-header1;x-amz-date",
         "ba17b383a53190154eb5fa66a1b836cc297cc0a3d70a5d00705980573d8ff790") "\n"},
    {"post-vanilla-x-www-form-urlencoded",
     "POST / HTTP/1.1\nContent-Type:application/x-www-form-urlencoded\n" SUITE_HOST_DATE SUITE_AUTH(
         "content-type;host;x-amz-date",
         "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a") "\nParam1=value1"},
    {"post-x-www-form-urlencoded",
     "POST / HTTP/1.1\nContent-Type:application/x-www-form-urlencoded\n"
     "Host:example.amazonaws.com\nContent-Length:13\n"
     "x-amz-content-sha256:"
     "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e\n" SUITE_AUTH(
         "content-length;content-type;host;x-amz-content-sha256;x-amz-date",
         "d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b") "X-Amz-Date:"
                                                                             "20150830T123600Z\n\nP"
                                                                             "aram1=value1"},
    {"post-x-www-form-urlencoded-parameters",
     "POST / HTTP/1.1\nContent-Type:application/x-www-form-urlencoded; charset=utf-8\n"
     "Host:example.amazonaws.com\nContent-Length:13\n"
     "x-amz-content-sha256:"
     "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e\n" SUITE_AUTH(
         "content-length;content-type;host;x-amz-content-sha256;x-amz-date",
         "328d1b9eaadca9f5818ef05e8392801e091653bafec24fcab71e7344e7f51422") "X-Amz-Date:"
                                                                             "20150830T123600Z\n\nP"
                                                                             "aram1=value1"},
};

static const struct sl_sigv4_opts suite_opts = {.service = "service", .region = "us-east-1"};

TEST(aws_test_suite)
{
    struct sl_keys *keys = keys_of("AKIDEXAMPLE:" SUITE_SECRET);
    time_t now = amz_time("20150830T123600Z");
    for (size_t i = 0; i < SL_ARRAY_LEN(suite); i++) {
        struct treq t;
        struct sl_sigv4_result res;
        t_parse(&t, suite[i].raw);
        enum sl_sigv4_status st = verify(&t, keys, &suite_opts, now, &res);
        CHECKF(st == SL_SIGV4_OK, "%s: %s: %s", suite[i].name, sl_sigv4_status_name(st),
               res.message);
        /* and every one fails with another secret */
        struct sl_keys *other = keys_of("AKIDEXAMPLE:" SUITE_SECRET "x");
        st = verify(&t, other, &suite_opts, now, &res);
        CHECKF(st == SL_SIGV4_MISMATCH, "%s with another secret: %s", suite[i].name,
               sl_sigv4_status_name(st));
        sl_keys_free(other);
    }
    sl_keys_free(keys);
}

/* Canonical requests of the suite as published (their SHA-256, from the
 * suite's string-to-sign files). */
TEST(aws_test_suite_canonical)
{
    struct treq t;
    struct sl_buf b;
    struct sl_err err = {0};
    char h[65];
    static const char empty[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    t_parse(&t, suite[0].raw); /* get-vanilla */
    struct sl_sigv4_request r = t_req(&t);
    sl_buf_init(&b, 0);
    CHECK_OK(sl_sigv4_canonical_request(&r, "host;x-amz-date", 15, empty, &b, &err), &err);
    CHECK_STR(b.data, "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
                      "host;x-amz-date\n"
                      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    t_sha256(b.data, b.len, h);
    CHECK_STR(h, "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63");

    for (size_t i = 0; i < SL_ARRAY_LEN(suite); i++) {
        if (strcmp(suite[i].name, "post-vanilla-x-www-form-urlencoded") != 0)
            continue;
        t_parse(&t, suite[i].raw);
        r = t_req(&t);
        sl_buf_reset(&b);
        CHECK_OK(sl_sigv4_canonical_request(
                     &r, "content-type;host;x-amz-date", 28,
                     "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e", &b, &err),
                 &err);
        t_sha256(b.data, b.len, h);
        CHECK_STR(h, "42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281");
    }

    t_parse(&t,
            "GET /?Param-3=Value3&Param=Value2&%E1%88%B4=Value1 HTTP/1.1\n" SUITE_HOST_DATE "\n");
    r = t_req(&t);
    sl_buf_reset(&b);
    CHECK_OK(sl_sigv4_canonical_request(&r, "host;x-amz-date", 15, empty, &b, &err), &err);
    CHECK(strncmp(b.data, "GET\n/\n%E1%88%B4=Value1&Param=Value2&Param-3=Value3\n", 51) == 0);
    sl_buf_cleanup(&b);
}

/* The suite's session-token request is refused: tokens are not supported. */
TEST(aws_test_suite_session_token)
{
    struct treq t;
    struct sl_sigv4_result res;
    struct sl_keys *keys = keys_of("AKIDEXAMPLE:" SUITE_SECRET);
    t_parse(&t, "GET / HTTP/1.1\nHost:example.amazonaws.com\n" SUITE_AUTH(
                    "host;x-amz-date;x-amz-security-token",
                    "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a"
                    "97044c66dd9f74e7f8") "X-Amz-Date:"
                                          "20150830T123600Z\nX-Amz-"
                                          "Security-Token:"
                                          "6e86291e8372ff2a2260956d"
                                          "9b8aae1d763fbf315fa00fa3"
                                          "1553b73ebf194267\n\n");
    CHECK_STATUS(verify(&t, keys, &suite_opts, amz_time("20150830T123600Z"), &res), SL_SIGV4_TOKEN,
                 res);
    CHECK(sl_sigv4_http_status(res.status) == 403);
    /* sent but not signed: the signature could not cover it */
    t_parse(&t, SUITE_GET("/", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"));
    t_add(&t, "X-Amz-Security-Token", "token");
    CHECK_STATUS(verify(&t, keys, &suite_opts, amz_time("20150830T123600Z"), &res),
                 SL_SIGV4_MALFORMED, res);
    CHECK_STR(res.message,
              "'X-Amz-Security-Token' must be a 'SignedHeader' in the AWS Authorization.");
    sl_keys_free(keys);
}

/* ---- Canonical forms ---- */

static void check_uri(const char *path, const char *want)
{
    struct sl_buf b;
    struct sl_err err = {0};
    sl_buf_init(&b, 0);
    sl_buf_puts(&b, "X", &err); /* appends after what is there */
    CHECK_OK(sl_sigv4_canonical_uri(path, strlen(path), &b, &err), &err);
    CHECKF(strcmp(b.data + 1, want) == 0, "uri \"%s\" -> \"%s\", want \"%s\"", path, b.data + 1,
           want);
    sl_buf_cleanup(&b);
}

TEST(canonical_uri)
{
    check_uri("", "/");
    check_uri("/", "/");
    check_uri("//", "/");
    check_uri("/example", "/example");
    check_uri("/example/", "/example/");
    check_uri("//example//", "/example/");
    check_uri("/a//b///c", "/a/b/c");
    check_uri("/example/..", "/");
    check_uri("/..", "/");
    check_uri("/../../a", "/a");
    check_uri("/a/b/../c/./d", "/a/c/d");
    check_uri("/a/b/../../../c/", "/c/");
    check_uri("/./", "/");
    check_uri("/a/.", "/a");
    check_uri("/a/./", "/a/");
    check_uri("/a/../", "/");
    check_uri("/.../..a/a..", "/.../..a/a..");
    /* encoded once more: the client's %XX escapes become %25XX */
    check_uri("/documents%20and%20settings/", "/documents%2520and%2520settings/");
    check_uri("/example space/", "/example%20space/");
    check_uri("/\xe1\x88\xb4", "/%E1%88%B4");
    check_uri("/%E1%88%B4", "/%25E1%2588%25B4");
    check_uri("/-._~AZaz09", "/-._~AZaz09");
    check_uri("/a+b=c;d,e:f@g!h$i'j(k)l*m", "/a%2Bb%3Dc%3Bd%2Ce%3Af%40g%21h%24i%27j%28k%29l%2Am");
    /* encoded dots and slashes are data, not structure */
    check_uri("/%2E%2E/x", "/%252E%252E/x");
    check_uri("/a%2Fb/../c", "/c");
    check_uri("/a%2F..%2Fb", "/a%252F..%252Fb");
    /* relative forms (no HTTP client sends them) keep botocore's result */
    check_uri("a/b", "a/b");
    check_uri("a/..", "");
    check_uri("\x01\xff", "%01%FF");
}

static void check_query(const char *q, const char *want)
{
    struct sl_buf b;
    struct sl_err err = {0};
    sl_buf_init(&b, 0);
    CHECK_OK(sl_sigv4_canonical_query(q, strlen(q), &b, &err), &err);
    CHECKF(strcmp(b.data ? b.data : "", want) == 0, "query \"%s\" -> \"%s\", want \"%s\"", q,
           b.data ? b.data : "", want);
    sl_buf_cleanup(&b);
}

TEST(canonical_query)
{
    check_query("", "");
    check_query("Param2=value2&Param1=value1", "Param1=value1&Param2=value2");
    check_query("Param1=value2&Param1=Value1", "Param1=Value1&Param1=value2");
    check_query("Param-3=Value3&Param=Value2&%E1%88%B4=Value1",
                "%E1%88%B4=Value1&Param=Value2&Param-3=Value3");
    check_query("b&a=", "a=&b=");
    check_query("a=1&&b=2&", "a=1&b=2");
    check_query("&", "");
    check_query("=v", "=v");
    check_query("=", "=");
    check_query("&=&=&", "=&=");
    check_query("a=b=c", "a=b%3Dc");
    check_query("x=%2f%2F/", "x=%2F%2F%2F");
    check_query("k=a+b", "k=a%2Bb");
    check_query("k=a%20b", "k=a%20b");
    check_query("k=a b", "k=a%20b");
    check_query("k=%zz&j=%4", "j=%254&k=%25zz");
    check_query("k=%e1%88%b4", "k=%E1%88%B4");
    check_query("\xe1\x88\xb4=bar", "%E1%88%B4=bar");
    check_query("k=%7E%41", "k=~A");
    check_query("a=2&a=10&a=1", "a=1&a=10&a=2");
    check_query("ab=1&a=2&a%3D=3", "a=2&a%3D=3&ab=1");
}

static void canon_headers_of(struct treq *t, const char *signed_headers, char *out, size_t cap)
{
    struct sl_buf b;
    struct sl_err err = {0};
    struct sl_sigv4_request r = t_req(t);
    sl_buf_init(&b, 0);
    int rc = sl_sigv4_canonical_request(&r, signed_headers, strlen(signed_headers), "-", &b, &err);
    CHECK_OK(rc, &err);
    const char *start = rc == SL_OK ? b.data + strlen("GET\n/\n\n") : "";
    snprintf(out, cap, "%s", start);
    sl_buf_cleanup(&b);
}

TEST(canonical_headers)
{
    struct treq t;
    char got[1024];
    memset(&t, 0, sizeof t);
    t.method = "GET";
    t.path = "/";
    t_add(&t, "HOST", "  example.com  ");
    t_add(&t, "My-Header", "\t a   b \t c  ");
    t_add(&t, "my-header", "");
    t_add(&t, "MY-HEADER", " d ");
    t_add(&t, "x-folded", "value1\r\n  value2\r\n\tvalue3");
    t_add(&t, "x-lf", "one\n two");
    t_add(&t, "x-empty", "   ");
    t_add(&t, "x-quoted", "\"a   b   c\"");
    canon_headers_of(&t, "host;my-header;x-empty;x-folded;x-lf;x-quoted", got, sizeof got);
    CHECK_STR(got, "host:example.com\nmy-header:a b c,,d\nx-empty:\n"
                   "x-folded:value1 value2 value3\nx-lf:one two\nx-quoted:\"a b c\"\n\n"
                   "host;my-header;x-empty;x-folded;x-lf;x-quoted\n-");

    struct sl_buf b;
    struct sl_err err = {0};
    struct sl_sigv4_request r = t_req(&t);
    sl_buf_init(&b, 0);
    CHECK(sl_sigv4_canonical_request(&r, "host;range", 10, "-", &b, &err) == SL_ENOTFOUND);
    CHECK_STR(err.msg, "signed header \"range\" is not in the request");
    sl_buf_cleanup(&b);
}

/* A folded value as an HTTP server passes it on verifies when the client
 * signed it with blanks collapsed (what botocore does). */
TEST(header_value_folding)
{
    struct treq t;
    struct sl_sigv4_result res;
    struct sl_keys *keys = keys_of("AKIDEXAMPLE:secret");
    t_glue(&t, "GetJob", "{}");
    t_add(&t, "X-Note", "value1\r\n  value2\r\n\t value3   ");
    t_sign_ex(&t, "AKIDEXAMPLE", "secret", SPEC_DATE, "us-east-1", NULL, "glue",
              "content-type;host;x-amz-date;x-amz-target;x-note",
              "content-type:application/x-amz-json-1.1\nhost:127.0.0.1:9999\n"
              "x-amz-date:" SPEC_DATE "\nx-amz-target:AWSGlue.GetJob\n"
              "x-note:value1 value2 value3\n");
    CHECK_STATUS(verify(&t, keys, &glue_opts, amz_time(SPEC_DATE), &res), SL_SIGV4_OK, res);
    t_set(&t, "X-Note", "value1 value2  value3x");
    CHECK_STATUS(verify(&t, keys, &glue_opts, amz_time(SPEC_DATE), &res), SL_SIGV4_MISMATCH, res);
    sl_keys_free(keys);
}

/* ---- The tiny signer, several keys ---- */

#define KEY_LIST                                                                                   \
    "AKIDONE:one-secret, AKIDTWO:s3cr3t/with+chars=:and:colons\n"                                  \
    "  sluice.key-3_x : wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY ,"

TEST(signed_by_test_signer_several_keys)
{
    static const struct {
        const char *id, *secret;
    } ks[] = {
        {"AKIDONE", "one-secret"},
        {"AKIDTWO", "s3cr3t/with+chars=:and:colons"},
        {"sluice.key-3_x", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"},
    };
    struct sl_keys *keys = keys_of(KEY_LIST);
    time_t now = amz_time(SPEC_DATE);
    CHECK(sl_keys_count(keys) == 3);
    for (size_t i = 0; i < SL_ARRAY_LEN(ks); i++) {
        struct treq t;
        struct sl_sigv4_result res;
        t_glue(&t, "GetJobs", "{}");
        t_sign(&t, ks[i].id, ks[i].secret, SPEC_DATE);
        CHECK_STATUS(verify(&t, keys, &glue_opts, now, &res), SL_SIGV4_OK, res);
        CHECK_STR(res.key_id, ks[i].id);
        /* another key's secret under this key id */
        t_sign(&t, ks[i].id, ks[(i + 1) % 3].secret, SPEC_DATE);
        CHECK_STATUS(verify(&t, keys, &glue_opts, now, &res), SL_SIGV4_MISMATCH, res);
        CHECK(strstr(res.message, ks[(i + 1) % 3].secret) == NULL);
        CHECK(strstr(res.message, ks[i].secret) == NULL);
        /* any region, as long as the key was derived with the scope's one */
        t_sign_ex(&t, ks[i].id, ks[i].secret, SPEC_DATE, "eu-central-1", NULL, "glue",
                  "content-type;host;x-amz-date;x-amz-target", NULL);
        CHECK_STATUS(verify(&t, keys, &glue_opts, now, &res), SL_SIGV4_OK, res);
        CHECK_STR(res.region, "eu-central-1");
        t_sign_ex(&t, ks[i].id, ks[i].secret, SPEC_DATE, "eu-central-1", "us-east-1", "glue",
                  "content-type;host;x-amz-date;x-amz-target", NULL);
        CHECK_STATUS(verify(&t, keys, &glue_opts, now, &res), SL_SIGV4_MISMATCH, res);
    }
    /* more signed headers than the CLI's, and a query string */
    struct treq t;
    struct sl_sigv4_result res;
    t_glue(&t, "GetJobs", "{\"MaxResults\": 1}");
    t.query = "a=1&b=%2F";
    t_add(&t, "amz-sdk-invocation-id", "5e1a4f6c-0000-4000-8000-000000000000");
    t_add(&t, "amz-sdk-request", "attempt=1; max=3");
    t_sign_ex(&t, "AKIDTWO", ks[1].secret, SPEC_DATE, "us-west-2", NULL, "glue",
              "amz-sdk-invocation-id;amz-sdk-request;content-length;content-type;host;"
              "x-amz-date;x-amz-target",
              NULL);
    CHECK_STATUS(verify(&t, keys, &glue_opts, now, &res), SL_SIGV4_OK, res);
    t_set(&t, "User-Agent", "something else"); /* unsigned: may change */
    CHECK_STATUS(verify(&t, keys, &glue_opts, now, &res), SL_SIGV4_OK, res);
    sl_keys_free(keys);
}

/* ---- Every refusal ---- */

struct refusal {
    const char *what;
    enum sl_sigv4_status want;
    const char *message; /* exact; NULL: not checked */
};

static void expect(const struct treq *t, const struct sl_keys *keys, time_t now,
                   const struct refusal *r)
{
    struct sl_sigv4_result res;
    enum sl_sigv4_status st = verify(t, keys, &glue_opts, now, &res);
    CHECKF(st == r->want, "%s: %s, want %s: %s", r->what, sl_sigv4_status_name(st),
           sl_sigv4_status_name(r->want), res.message);
    if (r->message)
        CHECKF(strcmp(res.message, r->message) == 0, "%s: message \"%s\"", r->what, res.message);
    CHECKF(strstr(res.message, "secret") == NULL, "%s: message names the secret", r->what);
    CHECK(res.message[0] != '\0');
}

TEST(refusals)
{
    struct sl_keys *keys = keys_of("AKIDEXAMPLE:secret");
    time_t now = amz_time(SPEC_DATE);
    struct treq t;

#define FRESH() (t_glue(&t, "GetJob", "{\"JobName\": \"nightly-etl\"}"))
#define SIGN()  t_sign(&t, "AKIDEXAMPLE", "secret", SPEC_DATE)

    FRESH();
    expect(&t, keys, now,
           &(struct refusal){"no Authorization", SL_SIGV4_MISSING, "Missing Authentication Token"});
    FRESH();
    t_add(&t, "X-Amz-Date", SPEC_DATE);
    expect(&t, keys, now, &(struct refusal){"unsigned, dated", SL_SIGV4_MISSING, NULL});

    FRESH();
    SIGN();
    t_add(&t, "authorization", SPEC_AUTH);
    expect(&t, keys, now,
           &(struct refusal){"two Authorization headers", SL_SIGV4_MALFORMED,
                             "Only one 'Authorization' header is allowed."});

    static const struct {
        const char *auth;
        const char *message;
    } bad_auth[] = {
        {"", NULL},
        {"AWS4-HMAC-SHA512 Credential=AKIDEXAMPLE/20261126/us-east-1/glue/aws4_request, "
         "SignedHeaders=host;x-amz-date, Signature=00",
         "Unsupported Authorization algorithm: only AWS4-HMAC-SHA256 signatures are accepted."},
        {"Bearer abc", NULL},
        {"AWS AKIDEXAMPLE:c2lnbmF0dXJl", NULL},
        {"AWS4-HMAC-SHA256", "Authorization header requires 'Credential' parameter. Authorization "
                             "header requires 'Signature' parameter. Authorization header "
                             "requires 'SignedHeaders' parameter."},
        {"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261126/us-east-1/glue/aws4_request, "
         "SignedHeaders=content-type;host;x-amz-date;x-amz-target",
         "Authorization header requires 'Signature' parameter."},
        {"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261126/us-east-1/glue/aws4_request, "
         "SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=00, Signature=01",
         "Authorization header has more than one 'Signature' parameter."},
        {"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261126/us-east-1/glue/aws4_request, "
         "SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=00, Foo=1",
         "Authorization header has an unknown parameter 'Foo'."},
        {"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261126/us-east-1/glue/aws4_request, "
         "SignedHeaders, Signature=00",
         "Authorization header parameter 'SignedHeaders' is not of the form Name=Value."},
        {"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261126/us-east-1/glue, "
         "SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=00",
         "Credential must have exactly 5 slash-delimited elements, e.g. "
         "keyid/date/region/service/term, got 'AKIDEXAMPLE/20261126/us-east-1/glue'."},
        {"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261126/us-east-1/glue/aws4_request/x, "
         "SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=00",
         NULL},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(bad_auth); i++) {
        FRESH();
        t_add(&t, "X-Amz-Date", SPEC_DATE);
        t_add(&t, "Authorization", bad_auth[i].auth);
        char what[64];
        snprintf(what, sizeof what, "bad Authorization #%zu", i);
        expect(&t, keys, now, &(struct refusal){what, SL_SIGV4_MALFORMED, bad_auth[i].message});
    }

    /* X-Amz-Date */
    FRESH();
    SIGN();
    t_del(&t, "X-Amz-Date");
    expect(&t, keys, now,
           &(struct refusal){"no X-Amz-Date", SL_SIGV4_MALFORMED,
                             "Authorization header requires existence of a 'X-Amz-Date' "
                             "header."});
    static const char *const bad_dates[] = {
        "2026-11-26T11:48:56Z",
        "20261126T114856",
        "20261126 114856Z",
        "20261126T114856Z0",
        "20261326T114856Z",
        "20261131T114856Z",
        "20250229T000000Z",
        "20261126T244856Z",
        "20261126T116056Z",
        "20261126T114860Z",
        "Thu, 26 Nov 2026 11:48:56 GMT",
        "",
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(bad_dates); i++) {
        FRESH();
        SIGN();
        t_set(&t, "X-Amz-Date", bad_dates[i]);
        expect(&t, keys, now, &(struct refusal){bad_dates[i], SL_SIGV4_MALFORMED, NULL});
    }
    FRESH();
    SIGN();
    t_add(&t, "x-amz-date", SPEC_DATE);
    expect(&t, keys, now,
           &(struct refusal){"two X-Amz-Date", SL_SIGV4_MALFORMED,
                             "Only one 'X-Amz-Date' header is allowed."});
    /* a leap day and blanks around the value are fine */
    FRESH();
    t_sign(&t, "AKIDEXAMPLE", "secret", "20240229T235959Z");
    struct sl_sigv4_result res;
    CHECK_STATUS(verify(&t, keys, &glue_opts, amz_time("20240229T235959Z"), &res), SL_SIGV4_OK,
                 res);
    FRESH();
    SIGN();
    t_set(&t, "X-Amz-Date", " " SPEC_DATE " ");
    CHECK_STATUS(verify(&t, keys, &glue_opts, now, &res), SL_SIGV4_OK, res);

    /* SignedHeaders */
    FRESH();
    t_sign_ex(&t, "AKIDEXAMPLE", "secret", SPEC_DATE, "us-east-1", NULL, "glue",
              "content-type;x-amz-date;x-amz-target", NULL);
    expect(&t, keys, now,
           &(struct refusal){"host unsigned", SL_SIGV4_MALFORMED,
                             "'Host' or ':authority' must be a 'SignedHeader' in the AWS "
                             "Authorization."});
    FRESH();
    t_sign_ex(&t, "AKIDEXAMPLE", "secret", SPEC_DATE, "us-east-1", NULL, "glue",
              "content-type;host;x-amz-target", NULL);
    expect(&t, keys, now,
           &(struct refusal){"x-amz-date unsigned", SL_SIGV4_MALFORMED,
                             "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization."});
    FRESH();
    t_sign_ex(&t, "AKIDEXAMPLE", "secret", SPEC_DATE, "us-east-1", NULL, "glue",
              "content-type;host;x-amz-date", NULL);
    expect(&t, keys, now,
           &(struct refusal){"x-amz-target unsigned", SL_SIGV4_MALFORMED,
                             "'X-Amz-Target' must be a 'SignedHeader' in the AWS "
                             "Authorization."});
    static const char *const bad_signed[] = {
        "host;content-type;x-amz-date;x-amz-target",
        "content-type;Host;x-amz-date;x-amz-target",
        "content-type;host;host;x-amz-date;x-amz-target",
        "content-type;;host;x-amz-date;x-amz-target",
        "content-type;host;x-amz-date;x-amz-target;",
        "content-type;ho st;x-amz-date;x-amz-target",
        "",
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(bad_signed); i++) {
        FRESH();
        t_sign_ex(&t, "AKIDEXAMPLE", "secret", SPEC_DATE, "us-east-1", NULL, "glue", bad_signed[i],
                  NULL);
        expect(&t, keys, now, &(struct refusal){bad_signed[i], SL_SIGV4_MALFORMED, NULL});
    }
    FRESH();
    t_sign_ex(&t, "AKIDEXAMPLE", "secret", SPEC_DATE, "us-east-1", NULL, "glue",
              "content-type;host;range;x-amz-date;x-amz-target", NULL);
    expect(&t, keys, now,
           &(struct refusal){"signed header not sent", SL_SIGV4_HEADER_MISSING,
                             "The request signature we calculated does not match the signature "
                             "you provided: signed header \"range\" is not in the request."});

    /* session token */
    FRESH();
    t_add(&t, "X-Amz-Security-Token", "tok");
    t_sign_ex(&t, "AKIDEXAMPLE", "secret", SPEC_DATE, "us-east-1", NULL, "glue",
              "content-type;host;x-amz-date;x-amz-security-token;x-amz-target", NULL);
    expect(&t, keys, now, &(struct refusal){"token signed", SL_SIGV4_TOKEN, NULL});
    FRESH();
    SIGN();
    t_add(&t, "X-Amz-Security-Token", "tok");
    expect(&t, keys, now, &(struct refusal){"token unsigned", SL_SIGV4_MALFORMED, NULL});

    /* scope */
    FRESH();
    SIGN();
    t_set(&t, "X-Amz-Date", "20261127T000100Z");
    expect(&t, keys, amz_time("20261127T000100Z"),
           &(struct refusal){"scope date", SL_SIGV4_SCOPE,
                             "Date in Credential scope does not match YYYYMMDD from ISO-8601 "
                             "version of date from HTTP: '20261126' != '20261127', from "
                             "'20261127T000100Z'."});
    FRESH();
    t_add(&t, "X-Amz-Date", SPEC_DATE);
    t_add(&t, "Authorization",
          "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261126/us-east-1/glue/aws4_reqest, "
          "SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=00");
    expect(&t, keys, now,
           &(struct refusal){"terminator", SL_SIGV4_SCOPE,
                             "Credential should be scoped with a valid terminator: "
                             "'aws4_request', not 'aws4_reqest'."});
    FRESH();
    t_sign_ex(&t, "AKIDEXAMPLE", "secret", SPEC_DATE, "us-east-1", NULL, "firehose",
              "content-type;host;x-amz-date;x-amz-target", NULL);
    expect(&t, keys, now,
           &(struct refusal){"service", SL_SIGV4_SCOPE,
                             "Credential should be scoped to correct service: 'glue'."});
    FRESH();
    t_sign_ex(&t, "AKIDEXAMPLE", "secret", SPEC_DATE, "us east", NULL, "glue",
              "content-type;host;x-amz-date;x-amz-target", NULL);
    expect(&t, keys, now,
           &(struct refusal){"region", SL_SIGV4_SCOPE,
                             "Credential should be scoped to a valid region, not 'us east'."});
    FRESH();
    t_sign_ex(&t, "AKIDEXAMPLE", "secret", SPEC_DATE, "", NULL, "glue",
              "content-type;host;x-amz-date;x-amz-target", NULL);
    expect(&t, keys, now, &(struct refusal){"empty region", SL_SIGV4_SCOPE, NULL});

    /* the key */
    FRESH();
    t_sign(&t, "AKIDNOBODY", "secret", SPEC_DATE);
    expect(&t, keys, now,
           &(struct refusal){"unknown key", SL_SIGV4_UNKNOWN_KEY,
                             "The security token included in the request is invalid."});
    CHECK_STATUS(verify(&t, keys, &glue_opts, now, &res), SL_SIGV4_UNKNOWN_KEY, res);
    CHECK_STR(res.key_id, "AKIDNOBODY");
    CHECK_STR(sl_sigv4_code(res.status), "UnrecognizedClientException");
    CHECK(sl_sigv4_http_status(res.status) == 403);
    FRESH();
    t_sign(&t, "akidexample", "secret", SPEC_DATE); /* ids are case-sensitive */
    expect(&t, keys, now, &(struct refusal){"key id case", SL_SIGV4_UNKNOWN_KEY, NULL});
    FRESH();
    t_sign(&t, "", "secret", SPEC_DATE);
    expect(&t, keys, now, &(struct refusal){"empty key id", SL_SIGV4_UNKNOWN_KEY, NULL});
    FRESH();
    SIGN();
    CHECK_STATUS(verify(&t, NULL, &glue_opts, now, &res), SL_SIGV4_UNKNOWN_KEY, res);

    /* the clock, both ways */
    FRESH();
    SIGN();
    expect(&t, keys, now + 20 * 60, &(struct refusal){"expired", SL_SIGV4_EXPIRED, NULL});
    expect(&t, keys, now - 20 * 60, &(struct refusal){"not yet", SL_SIGV4_NOT_YET_VALID, NULL});

    /* tampering after signing */
    FRESH();
    SIGN();
    t_body(&t, "{\"JobName\": \"nightly-etl\" }");
    expect(&t, keys, now, &(struct refusal){"tampered body", SL_SIGV4_MISMATCH, NULL});
    FRESH();
    t.query = "a=1";
    SIGN();
    t.query = "a=2";
    expect(&t, keys, now, &(struct refusal){"tampered query", SL_SIGV4_MISMATCH, NULL});
    FRESH();
    SIGN();
    t.query = "a=1";
    expect(&t, keys, now, &(struct refusal){"query added", SL_SIGV4_MISMATCH, NULL});
    FRESH();
    SIGN();
    t.path = "/x";
    expect(&t, keys, now, &(struct refusal){"tampered path", SL_SIGV4_MISMATCH, NULL});
    FRESH();
    SIGN();
    t.method = "PUT";
    expect(&t, keys, now, &(struct refusal){"tampered method", SL_SIGV4_MISMATCH, NULL});
    FRESH();
    SIGN();
    t_set(&t, "X-Amz-Target", "AWSGlue.DeleteJob");
    expect(&t, keys, now, &(struct refusal){"tampered target", SL_SIGV4_MISMATCH, NULL});
    FRESH();
    SIGN();
    t_add(&t, "X-Amz-Target", "AWSGlue.DeleteJob"); /* a second value joins the first */
    expect(&t, keys, now, &(struct refusal){"target added", SL_SIGV4_MISMATCH, NULL});
    FRESH();
    t_sign(&t, "AKIDEXAMPLE", "Secret", SPEC_DATE);
    expect(&t, keys, now,
           &(struct refusal){"wrong secret", SL_SIGV4_MISMATCH,
                             "The request signature we calculated does not match the signature "
                             "you provided. Check your AWS Secret Access Key and signing method. "
                             "Consult the service documentation for details."});

    /* the signature's spelling */
    FRESH();
    SIGN();
    char auth[512];
    snprintf(auth, sizeof auth, "%s", t_get(&t, "Authorization"));
    for (char *p = strstr(auth, "Signature=") + 10; *p; p++)
        *p = (char)(*p >= 'a' && *p <= 'f' ? *p - 32 : *p);
    t_set(&t, "Authorization", auth);
    expect(&t, keys, now, &(struct refusal){"upper-case signature", SL_SIGV4_MISMATCH, NULL});
    auth[strlen(auth) - 1] = '\0';
    t_set(&t, "Authorization", auth);
    expect(&t, keys, now, &(struct refusal){"short signature", SL_SIGV4_MISMATCH, NULL});

    /* x-amz-content-sha256 */
    FRESH();
    char hash[65];
    t_sha256(t.body, t.body_len, hash);
    t_add(&t, "X-Amz-Content-Sha256", hash);
    SIGN();
    CHECK_STATUS(verify(&t, keys, &glue_opts, now, &res), SL_SIGV4_OK, res);
    t_body(&t, "{}");
    expect(&t, keys, now,
           &(struct refusal){"content hash of another body", SL_SIGV4_PAYLOAD,
                             "The provided 'x-amz-content-sha256' header does not match what was "
                             "computed."});
    FRESH();
    t_add(&t, "X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD");
    t_sign_ex(&t, "AKIDEXAMPLE", "secret", SPEC_DATE, "us-east-1", NULL, "glue",
              "content-type;host;x-amz-content-sha256;x-amz-date;x-amz-target", NULL);
    expect(&t, keys, now, &(struct refusal){"UNSIGNED-PAYLOAD", SL_SIGV4_PAYLOAD, NULL});

#undef FRESH
#undef SIGN
    sl_keys_free(keys);
}

/* The server may hash the body itself while reading it. */
TEST(precomputed_body_hash)
{
    struct treq t;
    struct sl_sigv4_result res;
    struct sl_keys *keys = keys_of("AKIDEXAMPLE:secret");
    spec_request(&t);
    struct sl_sigv4_request r = t_req(&t);
    r.body = NULL;
    r.body_len = 0;
    r.body_sha256 = "9dfb4a68e624c40902b2bb01871ad80a785eb8e55c7f5e0262710ebe59f16a40";
    CHECK(sl_sigv4_verify(&r, keys, &glue_opts, amz_time(SPEC_DATE), &res) == SL_OK);
    r.body_sha256 = "9dfb4a68e624c40902b2bb01871ad80a785eb8e55c7f5e0262710ebe59f16a41";
    CHECK(sl_sigv4_verify(&r, keys, &glue_opts, amz_time(SPEC_DATE), &res) == SL_EACCESS);
    CHECK(res.status == SL_SIGV4_MISMATCH);
    /* NULL opts: any service, 15 minutes */
    r.body_sha256 = NULL;
    r.body = t.body;
    r.body_len = t.body_len;
    CHECK(sl_sigv4_verify(&r, keys, NULL, amz_time(SPEC_DATE) + 900, &res) == SL_OK);
    CHECK(sl_sigv4_verify(&r, keys, NULL, amz_time(SPEC_DATE) + 901, &res) == SL_EACCESS);
    sl_keys_free(keys);
}

TEST(error_codes)
{
    static const struct {
        enum sl_sigv4_status st;
        const char *code;
        int http;
    } want[] = {
        {SL_SIGV4_OK, "", 200},
        {SL_SIGV4_MISSING, "MissingAuthenticationTokenException", 403},
        {SL_SIGV4_MALFORMED, "IncompleteSignatureException", 400},
        {SL_SIGV4_UNKNOWN_KEY, "UnrecognizedClientException", 403},
        {SL_SIGV4_TOKEN, "UnrecognizedClientException", 403},
        {SL_SIGV4_SCOPE, "InvalidSignatureException", 403},
        {SL_SIGV4_EXPIRED, "InvalidSignatureException", 403},
        {SL_SIGV4_NOT_YET_VALID, "InvalidSignatureException", 403},
        {SL_SIGV4_HEADER_MISSING, "InvalidSignatureException", 403},
        {SL_SIGV4_PAYLOAD, "InvalidSignatureException", 403},
        {SL_SIGV4_MISMATCH, "InvalidSignatureException", 403},
        {SL_SIGV4_INTERNAL, "InternalFailure", 500},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(want); i++) {
        CHECK_STR(sl_sigv4_code(want[i].st), want[i].code);
        CHECK(sl_sigv4_http_status(want[i].st) == want[i].http);
        CHECK(sl_sigv4_status_name(want[i].st)[0] != '\0');
    }
    CHECK_STR(sl_sigv4_code((enum sl_sigv4_status)99), "InternalFailure");
}

/* ---- Keys ---- */

static int add(struct sl_keys *k, const char *list, struct sl_err *err)
{
    return sl_keys_add_list(k, list, strlen(list), "SLUICE_API_KEYS", err);
}

TEST(keys_parse)
{
    struct sl_err err = {0};
    struct sl_keys *k = sl_keys_new();
    CHECK_OK(add(k, KEY_LIST, &err), &err);
    CHECK(sl_keys_count(k) == 3);
    CHECK_STR(sl_key_id(sl_keys_at(k, 0)), "AKIDONE");
    CHECK_STR(sl_key_id(sl_keys_at(k, 2)), "sluice.key-3_x");
    CHECK(sl_keys_at(k, 3) == NULL);
    size_t len;
    const struct sl_key *two = sl_keys_find(k, "AKIDTWO", 7);
    CHECK(two != NULL);
    const unsigned char *s = sl_key_secret(two, &len);
    CHECK(len == strlen("s3cr3t/with+chars=:and:colons") &&
          memcmp(s, "s3cr3t/with+chars=:and:colons", len) == 0);
    CHECK(sl_keys_find(k, "AKIDTW", 6) == NULL);
    CHECK(sl_keys_find(k, "AKIDTWOO", 8) == NULL);
    CHECK(sl_keys_find(k, "akidtwo", 7) == NULL);
    CHECK(sl_keys_find(k, "", 0) == NULL);
    CHECK(sl_keys_find(k, "AKIDTWO\0", 8) == NULL);
    CHECK(sl_keys_find(NULL, "AKIDTWO", 7) == NULL);
    /* a config section's list: lines, CRLF, blank lines; adds to the store */
    static const char cfg[] = "\r\nCFG1:a\r\n\r\n  CFG2 : b  \n";
    CHECK_OK(sl_keys_add_list(k, cfg, strlen(cfg), "sluice.conf [api]", &err), &err);
    CHECK(sl_keys_count(k) == 5);
    CHECK(sl_keys_find(k, "CFG2", 4) != NULL);
    s = sl_key_secret(sl_keys_find(k, "CFG1", 4), &len);
    CHECK(len == 1 && s[0] == 'a');
    sl_keys_free(k);
    sl_keys_free(NULL);
}

TEST(keys_errors)
{
    static const struct {
        const char *list;
        const char *msg;
    } bad[] = {
        {"", "SLUICE_API_KEYS: no keys (expected KEYID:SECRET[,KEYID:SECRET...])"},
        {" , \n,", "SLUICE_API_KEYS: no keys (expected KEYID:SECRET[,KEYID:SECRET...])"},
        {"A:x,topsecretvalue", "SLUICE_API_KEYS: entry 2: missing ':' between access key id and "
                               "secret"},
        {":topsecretvalue", "SLUICE_API_KEYS: entry 1: empty access key id"},
        {"AK/ID:topsecretvalue", "SLUICE_API_KEYS: entry 1: access key id may only hold A-Z a-z "
                                 "0-9 _ . -"},
        {"AK ID:topsecretvalue", NULL},
        {"AKID:", "SLUICE_API_KEYS: entry 1 (\"AKID\"): empty secret"},
        {"AKID:top secretvalue", "SLUICE_API_KEYS: entry 1 (\"AKID\"): the secret may only hold "
                                 "printable ASCII characters without blanks"},
        {"AKID:topsecret\x01value", NULL},
        {"AKID:topsecret\xc3\xa9value", NULL},
        {"AKID:a,B:b,AKID:topsecretvalue",
         "SLUICE_API_KEYS: entry 3: access key id \"AKID\" repeats entry 1"},
        {"EXISTING:topsecretvalue", "SLUICE_API_KEYS: entry 1: access key id \"EXISTING\" is "
                                    "already defined"},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(bad); i++) {
        struct sl_err err = {0};
        struct sl_keys *k = keys_of("EXISTING:oldsecretzz");
        CHECKF(add(k, bad[i].list, &err) == SL_ECONFIG, "list #%zu accepted", i);
        if (bad[i].msg)
            CHECK_STR(err.msg, bad[i].msg);
        CHECKF(strstr(err.msg, "topsecret") == NULL, "list #%zu: secret in \"%s\"", i, err.msg);
        CHECKF(strstr(err.msg, "oldsecretzz") == NULL, "list #%zu: secret in \"%s\"", i, err.msg);
        CHECK(sl_keys_count(k) == 1); /* all or nothing */
        sl_keys_free(k);
    }
    /* lengths */
    char list[1024];
    struct sl_err err = {0};
    struct sl_keys *k = sl_keys_new();
    memset(list, 'A', SL_KEYS_ID_MAX);
    snprintf(list + SL_KEYS_ID_MAX, sizeof list - SL_KEYS_ID_MAX, ":s");
    CHECK_OK(add(k, list, &err), &err);
    memset(list, 'B', SL_KEYS_ID_MAX + 1);
    snprintf(list + SL_KEYS_ID_MAX + 1, sizeof list - SL_KEYS_ID_MAX - 1, ":s");
    CHECK(add(k, list, &err) == SL_ECONFIG);
    snprintf(list, sizeof list, "C:");
    memset(list + 2, 'x', SL_KEYS_SECRET_MAX);
    list[2 + SL_KEYS_SECRET_MAX] = '\0';
    CHECK_OK(add(k, list, &err), &err);
    snprintf(list, sizeof list, "D:");
    memset(list + 2, 'x', SL_KEYS_SECRET_MAX + 1);
    list[3 + SL_KEYS_SECRET_MAX] = '\0';
    CHECK(add(k, list, &err) == SL_ECONFIG);
    CHECK(strstr(err.msg, "xxxx") == NULL);
    sl_keys_free(k);
    /* the key count limit */
    k = sl_keys_new();
    struct sl_buf b;
    sl_buf_init(&b, 0);
    for (int i = 0; i < SL_KEYS_MAX; i++)
        sl_buf_printf(&b, &err, "K%d:s,", i);
    CHECK_OK(add(k, b.data, &err), &err);
    CHECK(sl_keys_count(k) == SL_KEYS_MAX);
    CHECK(sl_keys_find(k, "K4095", 5) != NULL);
    CHECK(add(k, "ONEMORE:s", &err) == SL_ECONFIG);
    CHECK(sl_keys_count(k) == SL_KEYS_MAX);
    sl_keys_free(k);
    k = sl_keys_new();
    sl_buf_printf(&b, &err, "K%d:s", SL_KEYS_MAX);
    CHECK(add(k, b.data, &err) == SL_ECONFIG);
    CHECK(sl_keys_count(k) == 0);
    sl_buf_cleanup(&b);
    sl_keys_free(k);
}

TEST(keys_env)
{
    struct sl_err err = {0};
    struct sl_keys *k = sl_keys_new();
    unsetenv(SL_KEYS_ENV);
    CHECK_OK(sl_keys_load_env(k, &err), &err);
    CHECK(sl_keys_count(k) == 0);
    setenv(SL_KEYS_ENV, "AKIDENV1:s1,AKIDENV2:s2", 1);
    CHECK_OK(sl_keys_load_env(k, &err), &err);
    CHECK(sl_keys_count(k) == 2);
    CHECK(sl_keys_find(k, "AKIDENV2", 8) != NULL);
    sl_keys_free(k);
    k = sl_keys_new();
    setenv(SL_KEYS_ENV, "", 1);
    CHECK(sl_keys_load_env(k, &err) == SL_ECONFIG);
    CHECK(strncmp(err.msg, "SLUICE_API_KEYS: ", 17) == 0);
    setenv(SL_KEYS_ENV, "AKID=hunter2", 1);
    CHECK(sl_keys_load_env(k, &err) == SL_ECONFIG);
    CHECK(strstr(err.msg, "hunter2") == NULL);
    unsetenv(SL_KEYS_ENV);
    sl_keys_free(k);
}

/* Every allocation failing in turn ends cleanly (ASan checks the leaks). */
TEST(allocation_failures)
{
    int done = 0;
    for (long nth = 1; nth < 500 && !done; nth++) {
        sl_alloc_fail_reset(nth);
        struct sl_err err = {0};
        struct sl_keys *k = sl_keys_new();
        if (!k)
            continue;
        int rc = sl_keys_add_list(k, "AKIDEXAMPLE:secret,B:b", 22, "t", &err);
        if (rc != SL_OK) {
            CHECKF(rc == SL_ENOMEM, "keys: %d at %ld", rc, nth);
            CHECK(sl_keys_count(k) == 0);
            sl_keys_free(k);
            continue;
        }
        /* signed over the canonical forms, verified from the raw ones */
        struct treq t;
        struct sl_sigv4_result res;
        t_glue(&t, "GetJobs", "{}");
        t.query = "a=%2F&b=2&c=";
        t.path = "/a/c%2520d/";
        t_sign(&t, "AKIDEXAMPLE", "secret", SPEC_DATE);
        t.query = "b=2&a=%2f&c";
        t.path = "/a/./b/../c%20d/";
        struct sl_sigv4_request r = t_req(&t);
        rc = sl_sigv4_verify(&r, k, &glue_opts, amz_time(SPEC_DATE), &res);
        if (rc == SL_OK) {
            done = 1;
        } else {
            CHECKF(rc == SL_ENOMEM && res.status == SL_SIGV4_INTERNAL, "verify: %d %s at %ld", rc,
                   res.message, nth);
        }
        sl_keys_free(k);
    }
    sl_alloc_fail_reset(0);
    CHECK(done);
}

int main(void)
{
    t_suite = "sigv4/";
    RUN(spec_worked_example);
    RUN(spec_example_negatives);
    RUN(spec_captured_start_job_run);
    RUN(cli_captured_requests);
    RUN(aws_test_suite);
    RUN(aws_test_suite_canonical);
    RUN(aws_test_suite_session_token);
    RUN(canonical_uri);
    RUN(canonical_query);
    RUN(canonical_headers);
    RUN(header_value_folding);
    RUN(signed_by_test_signer_several_keys);
    RUN(refusals);
    RUN(precomputed_body_hash);
    RUN(error_codes);
    t_suite = "keys/";
    RUN(keys_parse);
    RUN(keys_errors);
    RUN(keys_env);
    t_suite = "sigv4/";
    RUN(allocation_failures);
    TEST_EXIT();
}
