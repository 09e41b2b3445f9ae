/*
 * tests/fuzz/fuzz_sigv4.c - libFuzzer target for the SigV4 verifier
 * (scheduler/sigv4.c) and the API key list parser (scheduler/keys.c).
 * Input: up to five fields separated by NUL bytes:
 *   Authorization value \0 header lines \0 path \0 query \0 body
 * Header lines are "Name:value" separated by '\n' (a line without ':' is a
 * header with that name and no value). A missing path is "/", a missing query
 * is none. Besides crashes, leaks and undefined behaviour it checks that the
 * result is consistent, that no message holds the secret unless the input
 * did, and the canonical URI against a slow reference on short paths. The
 * Authorization text is also parsed as a key list. Replayed over
 * tests/fuzz/corpus/sigv4/ by tests/fuzz/replay.c.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scheduler/keys.h"
#include "scheduler/sigv4.h"

#define MAX_HEADERS 64
#define REF_MAX     256 /* the reference URI check runs on paths up to this size */
#define SECRET      "Fz7secretQ/+k"
#define NOW         1795693736 /* 2026-11-26T11:48:56Z, the spec example's date */

static const char *fields[5];
static size_t field_len[5];

static bool contains(const char *hay, size_t hay_len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= hay_len; i++) {
        if (memcmp(hay + i, needle, n) == 0)
            return true;
    }
    return false;
}

/* ---- Reference canonical URI (botocore's remove_dot_segments, then quote) ---- */

static void ref_uri(const char *p, size_t n, char *out)
{
    const char *seg[REF_MAX + 1];
    size_t seg_len[REF_MAX + 1], n_seg = 0, o = 0;
    if (n == 0) {
        memcpy(out, "/", 2);
        return;
    }
    size_t i = 0;
    while (i <= n) {
        size_t j = i;
        while (j < n && p[j] != '/')
            j++;
        const char *s = p + i;
        size_t l = j - i;
        i = j + 1;
        if (l == 0 || (l == 1 && s[0] == '.'))
            continue;
        if (l == 2 && s[0] == '.' && s[1] == '.') {
            if (n_seg)
                n_seg--;
            continue;
        }
        seg[n_seg] = s;
        seg_len[n_seg++] = l;
    }
    if (p[0] == '/')
        out[o++] = '/';
    for (size_t k = 0; k < n_seg; k++) {
        if (k)
            out[o++] = '/';
        for (size_t m = 0; m < seg_len[k]; m++) {
            unsigned char c = (unsigned char)seg[k][m];
            if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                c == '-' || c == '.' || c == '_' || c == '~') {
                out[o++] = (char)c;
            } else {
                o += (size_t)snprintf(out + o, 4, "%%%02X", c);
            }
        }
    }
    if (n_seg && p[n - 1] == '/')
        out[o++] = '/';
    out[o] = '\0';
}

static void check_uri(const char *p, size_t n)
{
    if (n > REF_MAX)
        return;
    static char want[REF_MAX * 3 + 4];
    struct sl_buf b;
    struct sl_err err = {0};
    ref_uri(p, n, want);
    sl_buf_init(&b, 0);
    if (sl_sigv4_canonical_uri(p, n, &b, &err) == SL_OK &&
        strcmp(b.data ? b.data : "", want) != 0) {
        fprintf(stderr, "canonical uri \"%.*s\": \"%s\", reference \"%s\"\n", (int)n, p,
                b.data ? b.data : "", want);
        abort();
    }
    sl_buf_cleanup(&b);
}

/* ---- The target ---- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct sl_keys *keys;
    static const struct sl_sigv4_opts glue = {.service = "glue"};
    static const struct sl_sigv4_opts any = {.max_skew = -1};
    struct sl_sigv4_header h[MAX_HEADERS + 1];
    struct sl_err err = {0};

    if (!keys) {
        keys = sl_keys_new();
        static const char list[] = "AKIDEXAMPLE:secret,AKIDFUZZ:" SECRET;
        if (!keys || sl_keys_add_list(keys, list, strlen(list), "fuzz", &err) != SL_OK)
            abort();
    }
    const char *s = (const char *)data;
    size_t pos = 0, n_fields = 0;
    memset(fields, 0, sizeof fields);
    memset(field_len, 0, sizeof field_len);
    while (n_fields < 5 && pos <= size) {
        const char *nul = n_fields < 4 ? memchr(s + pos, 0, size - pos) : NULL;
        size_t end = nul ? (size_t)(nul - s) : size;
        fields[n_fields] = s + pos;
        field_len[n_fields++] = end - pos;
        pos = end + 1;
    }

    /* headers: the Authorization field first, then the lines */
    size_t n = 0;
    h[n++] = (struct sl_sigv4_header){"Authorization", 13, fields[0], field_len[0]};
    if (n_fields > 1) {
        const char *p = fields[1], *end = fields[1] + field_len[1];
        while (p < end && n < MAX_HEADERS + 1) {
            const char *eol = memchr(p, '\n', (size_t)(end - p));
            const char *le = eol ? eol : end;
            const char *colon = memchr(p, ':', (size_t)(le - p));
            if (colon) {
                h[n++] = (struct sl_sigv4_header){p, (size_t)(colon - p), colon + 1,
                                                  (size_t)(le - colon - 1)};
            } else {
                h[n++] = (struct sl_sigv4_header){p, (size_t)(le - p), NULL, 0};
            }
            p = le + 1;
        }
    }
    struct sl_sigv4_request req = {
        .method = "POST",
        .path = n_fields > 2 ? fields[2] : "/",
        .path_len = n_fields > 2 ? field_len[2] : 1,
        .query = n_fields > 3 ? fields[3] : NULL,
        .query_len = n_fields > 3 ? field_len[3] : 0,
        .headers = h,
        .n_headers = n,
        .body = n_fields > 4 ? fields[4] : NULL,
        .body_len = n_fields > 4 ? field_len[4] : 0,
    };

    const struct sl_sigv4_opts *opts[] = {&glue, &any, NULL};
    for (size_t i = 0; i < 3; i++) {
        struct sl_sigv4_result res;
        int rc = sl_sigv4_verify(&req, keys, opts[i], NOW, &res);
        size_t msg_len = strnlen(res.message, sizeof res.message);
        if (msg_len == sizeof res.message || strnlen(res.key_id, sizeof res.key_id) ==
                                                 sizeof res.key_id)
            abort(); /* not NUL-terminated */
        if ((rc == SL_OK) != (res.status == SL_SIGV4_OK))
            abort();
        if (rc == SL_OK && (res.key_id[0] == '\0' || res.message[0] != '\0'))
            abort();
        if (rc != SL_OK && res.message[0] == '\0')
            abort();
        if (contains(res.message, msg_len, SECRET) && !contains(s, size, SECRET))
            abort(); /* a secret reached a message */
        (void)sl_sigv4_code(res.status);
        (void)sl_sigv4_http_status(res.status);
    }

    /* the building blocks on their own */
    check_uri(req.path, req.path_len);
    struct sl_buf b;
    sl_buf_init(&b, 1 << 16);
    sl_sigv4_canonical_query(req.query, req.query_len, &b, &err);
    sl_buf_reset(&b);
    sl_sigv4_canonical_request(&req, fields[0], field_len[0], "-", &b, &err);
    sl_buf_cleanup(&b);

    /* the Authorization text as a key list */
    struct sl_keys *k = sl_keys_new();
    if (k && sl_keys_add_list(k, fields[0], field_len[0], "fuzz", &err) == SL_OK) {
        for (size_t i = 0; i < sl_keys_count(k); i++) {
            const char *id = sl_key_id(sl_keys_at(k, i));
            if (sl_keys_find(k, id, strlen(id)) != sl_keys_at(k, i))
                abort();
        }
    } else if (contains(err.msg, strnlen(err.msg, sizeof err.msg), SECRET) &&
               !contains(s, size, SECRET)) {
        abort();
    }
    sl_keys_free(k);
    return 0;
}
