/*
 * tests/runtime/test_store.c - the object-store suite. The same checks run
 * against the local file system (a temp folder) and, when AWS_ENDPOINT_URL
 * points at the S3 emulator, against s3://$SLUICE_TEST_BUCKET (default
 * "sluice-test", created by tests/run.sh) under a run-unique prefix.
 */
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "runtime/alloc.h"
#include "runtime/store.h"
#include "tests/test.h"

static struct sl_store *st; /* the store under test */
static char *base;          /* key prefix of this run, ends with '/' */
static const char *label;   /* "local" or "s3" */

/* ---- helpers ---- */

struct sink {
    unsigned char *data;
    size_t len, cap;
    int calls;
};

static int sink_fn(void *ud, const void *p, size_t n)
{
    struct sink *s = ud;
    if (s->len + n > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < s->len + n)
            cap *= 2;
        s->data = realloc(s->data, cap);
        s->cap = cap;
    }
    memcpy(s->data + s->len, p, n);
    s->len += n;
    s->calls++;
    return 0;
}

static char *k(const char *rel)
{
    static char buf[8][1024];
    static int i;
    i = (i + 1) % 8;
    snprintf(buf[i], sizeof buf[i], "%s%s", base, rel);
    return buf[i];
}

struct listing {
    char **keys;
    int *is_prefix;
    int64_t *sizes;
    size_t n;
};

static int list_fn(void *ud, const struct sl_obj_info *o)
{
    struct listing *l = ud;
    l->keys = realloc(l->keys, (l->n + 1) * sizeof *l->keys);
    l->is_prefix = realloc(l->is_prefix, (l->n + 1) * sizeof *l->is_prefix);
    l->sizes = realloc(l->sizes, (l->n + 1) * sizeof *l->sizes);
    l->keys[l->n] = strdup(o->key);
    l->is_prefix[l->n] = o->is_prefix;
    l->sizes[l->n] = o->size;
    l->n++;
    return 0;
}

static void listing_free(struct listing *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->keys[i]);
    free(l->keys);
    free(l->is_prefix);
    free(l->sizes);
    memset(l, 0, sizeof *l);
}

static void sha256(const void *p, size_t n, unsigned char out[32])
{
    unsigned int len = 32;
    EVP_Digest(p, n, out, &len, EVP_sha256(), NULL);
}

/* deterministic pseudo-random bytes (xorshift) */
static void fill_random(unsigned char *p, size_t n, uint64_t seed)
{
    uint64_t x = seed | 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (unsigned char)(x >> 24);
    }
}

/* ---- the suite ---- */

TEST(binary_round_trip)
{
    struct sl_err err = { 0 };
    size_t n = 256 * 1024;
    unsigned char *data = malloc(n);
    for (size_t i = 0; i < n; i++)
        data[i] = (unsigned char)(i % 256);
    CHECK_OK(sl_store_put(st, k("bin/all-bytes.bin"), data, n, &err), &err);
    struct sink s = { 0 };
    CHECK_OK(sl_store_get(st, k("bin/all-bytes.bin"), 0, -1, sink_fn, &s, &err), &err);
    CHECK(s.len == n);
    CHECK(s.len == n && memcmp(s.data, data, n) == 0);
    struct sl_obj_info info;
    CHECK_OK(sl_store_head(st, k("bin/all-bytes.bin"), &info, &err), &err);
    CHECK(info.size == (int64_t)n);
    CHECK(info.etag[0] != '\0');
    CHECK(info.mtime_ms > 1600000000000LL);
    free(s.data);
    free(data);
}

TEST(empty_object)
{
    struct sl_err err = { 0 };
    CHECK_OK(sl_store_put(st, k("empty/zero.bin"), "", 0, &err), &err);
    struct sl_obj_info info;
    CHECK_OK(sl_store_head(st, k("empty/zero.bin"), &info, &err), &err);
    CHECK(info.size == 0);
    struct sink s = { 0 };
    CHECK_OK(sl_store_get(st, k("empty/zero.bin"), 0, -1, sink_fn, &s, &err), &err);
    CHECK(s.len == 0);
    struct listing l = { 0 };
    CHECK_OK(sl_store_list(st, k("empty/"), NULL, list_fn, &l, &err), &err);
    CHECK(l.n == 1 && l.sizes[0] == 0);
    CHECK(l.n == 1 && strcmp(l.keys[0], k("empty/zero.bin")) == 0);
    listing_free(&l);
    free(s.data);
}

static const char *const odd_key_names[] = {
    "odd/a b.txt", "odd/c+d.txt", "odd/e%20f.txt", "odd/g=h/x.csv",
    "odd/donn\xc3\xa9" "es/\xc3\xa9 1+1=2%.csv", "odd/q?x&y=1#frag.txt", "odd/tilde~star*.txt",
};

TEST(odd_keys)
{
    struct sl_err err = { 0 };
    for (size_t i = 0; i < SL_ARRAY_LEN(odd_key_names); i++) {
        char body[64];
        snprintf(body, sizeof body, "body %zu", i);
        CHECK_OK(sl_store_put(st, k(odd_key_names[i]), body, strlen(body), &err), &err);
    }
    struct listing l = { 0 };
    CHECK_OK(sl_store_list(st, k("odd/"), NULL, list_fn, &l, &err), &err);
    CHECKF(l.n == SL_ARRAY_LEN(odd_key_names), "listed %zu", l.n);
    for (size_t i = 0; i < SL_ARRAY_LEN(odd_key_names); i++) {
        int found = 0;
        for (size_t j = 0; j < l.n; j++)
            found |= strcmp(l.keys[j], k(odd_key_names[i])) == 0;
        CHECKF(found, "key \"%s\" not listed", odd_key_names[i]);
        char body[64];
        snprintf(body, sizeof body, "body %zu", i);
        struct sink s = { 0 };
        CHECK_OK(sl_store_get(st, k(odd_key_names[i]), 0, -1, sink_fn, &s, &err), &err);
        CHECKF(s.len == strlen(body) && memcmp(s.data, body, s.len) == 0, "body of \"%s\"",
               odd_key_names[i]);
        free(s.data);
    }
    for (size_t j = 1; j < l.n; j++)
        CHECK(strcmp(l.keys[j - 1], l.keys[j]) < 0);
    listing_free(&l);
}

#define N_FLAT 2000
#define N_SUB 5
#define N_PER_SUB 100

TEST(listing_2500_keys)
{
    struct sl_err err = { 0 };
    char rel[64];
    for (int i = 0; i < N_FLAT; i++) {
        snprintf(rel, sizeof rel, "many/k%04d", i);
        CHECK_OK(sl_store_put(st, k(rel), "x", 1, &err), &err);
    }
    for (int d = 0; d < N_SUB; d++) {
        for (int i = 0; i < N_PER_SUB; i++) {
            snprintf(rel, sizeof rel, "many/sub%d/k%03d", d, i);
            CHECK_OK(sl_store_put(st, k(rel), "yy", 2, &err), &err);
        }
    }
    struct sl_store_stats before, after;
    sl_store_get_stats(st, &before);
    struct listing l = { 0 };
    CHECK_OK(sl_store_list(st, k("many/"), NULL, list_fn, &l, &err), &err);
    sl_store_get_stats(st, &after);
    CHECKF(l.n == N_FLAT + N_SUB * N_PER_SUB, "listed %zu", l.n);
    int sorted = 1;
    for (size_t j = 1; j < l.n; j++)
        sorted &= strcmp(l.keys[j - 1], l.keys[j]) < 0;
    CHECK(sorted);
    if (strcmp(label, "s3") == 0)
        CHECKF(after.list_requests - before.list_requests == 3, "list requests %llu",
               (unsigned long long)(after.list_requests - before.list_requests));
    listing_free(&l);

    CHECK_OK(sl_store_list(st, k("many/"), "/", list_fn, &l, &err), &err);
    CHECKF(l.n == N_FLAT + N_SUB, "listed %zu with delimiter", l.n);
    size_t n_pre = 0;
    for (size_t j = 0; j < l.n; j++) {
        if (l.is_prefix[j]) {
            n_pre++;
            snprintf(rel, sizeof rel, "many/sub%zu/", n_pre - 1);
            CHECK_STR(l.keys[j], k(rel));
        }
    }
    CHECK(n_pre == N_SUB);
    listing_free(&l);

    /* a prefix that is not a folder boundary */
    CHECK_OK(sl_store_list(st, k("many/k19"), NULL, list_fn, &l, &err), &err);
    CHECKF(l.n == 100, "listed %zu for k19", l.n);
    listing_free(&l);
}

TEST(batched_delete)
{
    struct sl_err err = { 0 };
    struct listing l = { 0 };
    CHECK_OK(sl_store_list(st, k("many/"), NULL, list_fn, &l, &err), &err);
    CHECK(l.n == N_FLAT + N_SUB * N_PER_SUB);
    CHECK_OK(sl_store_delete(st, (const char *const *)l.keys, l.n, &err), &err);
    listing_free(&l);
    CHECK_OK(sl_store_list(st, k("many/"), NULL, list_fn, &l, &err), &err);
    CHECKF(l.n == 0, "%zu left after delete", l.n);
    listing_free(&l);
    /* deleting a missing key is not an error */
    const char *gone = k("many/never-there");
    CHECK_OK(sl_store_delete(st, &gone, 1, &err), &err);
}

#define BIG_LEN ((size_t)64 * 1024 * 1024 + 12345)

TEST(multipart_64mib_and_ranges)
{
    struct sl_err err = { 0 };
    unsigned char *data = malloc(BIG_LEN);
    unsigned char want[32], got[32];
    fill_random(data, BIG_LEN, 42);
    sha256(data, BIG_LEN, want);

    struct sl_store_writer *w = sl_store_put_begin(st, k("big/64mib.bin"), &err);
    CHECK(w != NULL);
    if (!w) {
        free(data);
        return;
    }
    size_t off = 0, step = 100003; /* odd chunk size: parts never align with writes */
    while (off < BIG_LEN) {
        size_t n = BIG_LEN - off < step ? BIG_LEN - off : step;
        CHECK_OK(sl_store_put_write(w, data + off, n, &err), &err);
        off += n;
    }
    /* not visible before commit */
    struct sl_obj_info info;
    CHECK(sl_store_head(st, k("big/64mib.bin"), &info, &err) == SL_ENOTFOUND);
    CHECK_OK(sl_store_put_commit(w, &err), &err);
    CHECK_OK(sl_store_head(st, k("big/64mib.bin"), &info, &err), &err);
    CHECK(info.size == (int64_t)BIG_LEN);

    struct sink s = { 0 };
    CHECK_OK(sl_store_get(st, k("big/64mib.bin"), 0, -1, sink_fn, &s, &err), &err);
    CHECK(s.len == BIG_LEN);
    sha256(s.data, s.len, got);
    CHECK(memcmp(want, got, 32) == 0);
    free(s.data);

    struct { int64_t off, len, want_len; } ranges[] = {
        { 0, 100, 100 },                                   /* start */
        { 30000000, 5000000, 5000000 },                    /* middle, crosses a part */
        { (int64_t)BIG_LEN - 10, 10, 10 },                 /* end */
        { (int64_t)BIG_LEN - 5, 100, 5 },                  /* runs past the end */
        { (int64_t)BIG_LEN + 10, 5, 0 },                   /* starts past the end */
        { 8 * 1024 * 1024 - 1, -1, (int64_t)BIG_LEN - 8 * 1024 * 1024 + 1 }, /* to the end */
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(ranges); i++) {
        struct sink r = { 0 };
        CHECK_OK(sl_store_get(st, k("big/64mib.bin"), ranges[i].off, ranges[i].len, sink_fn, &r,
                              &err),
                 &err);
        CHECKF(r.len == (size_t)ranges[i].want_len, "range %zu: %zu bytes", i, r.len);
        if (r.len == (size_t)ranges[i].want_len && r.len)
            CHECKF(memcmp(r.data, data + ranges[i].off, r.len) == 0, "range %zu bytes differ", i);
        free(r.data);
    }
    const char *key = k("big/64mib.bin");
    CHECK_OK(sl_store_delete(st, &key, 1, &err), &err);
    free(data);
}

TEST(missing_key)
{
    struct sl_err err = { 0 };
    struct sl_obj_info info;
    CHECK(sl_store_head(st, k("nope/missing.csv"), &info, &err) == SL_ENOTFOUND);
    CHECKF(strstr(err.msg, "nope/missing.csv") != NULL, "message: %s", err.msg);
    struct sink s = { 0 };
    CHECK(sl_store_get(st, k("nope/missing.csv"), 0, -1, sink_fn, &s, &err) == SL_ENOTFOUND);
    CHECKF(strstr(err.msg, "missing.csv") && strstr(err.msg, "not found"), "message: %s",
           err.msg);
    CHECK(s.len == 0);
}

TEST(abort_leaves_nothing)
{
    struct sl_err err = { 0 };
    struct sl_store_writer *w = sl_store_put_begin(st, k("abort/x.bin"), &err);
    CHECK(w != NULL);
    if (!w)
        return;
    size_t n = 12 * 1024 * 1024; /* past the multipart threshold */
    unsigned char *data = calloc(1, n);
    CHECK_OK(sl_store_put_write(w, data, n, &err), &err);
    sl_store_put_abort(w);
    struct sl_obj_info info;
    CHECK(sl_store_head(st, k("abort/x.bin"), &info, &err) == SL_ENOTFOUND);
    struct listing l = { 0 };
    CHECK_OK(sl_store_list(st, k("abort/"), NULL, list_fn, &l, &err), &err);
    CHECK(l.n == 0);
    listing_free(&l);
    free(data);
}

TEST(overwrite_replaces)
{
    struct sl_err err = { 0 };
    CHECK_OK(sl_store_put(st, k("ow/a.txt"), "first version", 13, &err), &err);
    CHECK_OK(sl_store_put(st, k("ow/a.txt"), "second", 6, &err), &err);
    struct sink s = { 0 };
    CHECK_OK(sl_store_get(st, k("ow/a.txt"), 0, -1, sink_fn, &s, &err), &err);
    CHECK(s.len == 6 && memcmp(s.data, "second", 6) == 0);
    free(s.data);
}

TEST(get_match_detects_change)
{
    struct sl_err err = { 0 };
    struct listing l = { 0 };
    struct sl_obj_info first, second;
    CHECK_OK(sl_store_put(st, k("gm/a.txt"), "version one", 11, &err), &err);
    CHECK_OK(sl_store_head(st, k("gm/a.txt"), &first, &err), &err);
    struct sink s = { 0 };
    CHECK_OK(sl_store_get_match(st, k("gm/a.txt"), first.etag, 0, -1, sink_fn, &s, &err), &err);
    CHECK(s.len == 11);
    free(s.data);
    memset(&s, 0, sizeof s);
    struct timespec ts = { 0, 20 * 1000000L }; /* a new mtime for the local pseudo-ETag */
    nanosleep(&ts, NULL);
    CHECK_OK(sl_store_put(st, k("gm/a.txt"), "version two!", 12, &err), &err);
    CHECK_OK(sl_store_head(st, k("gm/a.txt"), &second, &err), &err);
    CHECK(strcmp(first.etag, second.etag) != 0);
    int rc = sl_store_get_match(st, k("gm/a.txt"), first.etag, 0, -1, sink_fn, &s, &err);
    CHECKF(rc == SL_ECHANGED, "rc %d: %s", rc, err.msg);
    CHECK(s.len == 0);
    CHECK_OK(sl_store_get_match(st, k("gm/a.txt"), second.etag, 0, 5, sink_fn, &s, &err), &err);
    CHECK(s.len == 5 && memcmp(s.data, "versi", 5) == 0);
    free(s.data);
    listing_free(&l);
}

static void run_suite(void)
{
    RUN(binary_round_trip);
    RUN(empty_object);
    RUN(odd_keys);
    RUN(listing_2500_keys);
    RUN(batched_delete);
    RUN(multipart_64mib_and_ranges);
    RUN(missing_key);
    RUN(abort_leaves_nothing);
    RUN(overwrite_replaces);
    RUN(get_match_detects_change);
}

/* ---- local-only: URI parsing ---- */

TEST(uri_parse)
{
    struct sl_uri u;
    struct sl_err err = { 0 };
    CHECK_OK(sl_uri_parse("s3://my-bucket/a/b c.csv", &u, &err), &err);
    CHECK(u.scheme == SL_URI_S3);
    CHECK_STR(u.bucket, "my-bucket");
    CHECK_STR(u.key, "a/b c.csv");
    sl_uri_cleanup(&u);
    CHECK_OK(sl_uri_parse("s3://bkt", &u, &err), &err);
    CHECK_STR(u.key, "");
    sl_uri_cleanup(&u);
    CHECK_OK(sl_uri_parse("file:///data//raw/./x/../y/", &u, &err), &err);
    CHECK(u.scheme == SL_URI_FILE);
    CHECK_STR(u.key, "data/raw/y/");
    sl_uri_cleanup(&u);
    CHECK_OK(sl_uri_parse("/tmp/a.csv", &u, &err), &err);
    CHECK_STR(u.key, "tmp/a.csv");
    sl_uri_cleanup(&u);
    char cwd[4096], want[4200];
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    snprintf(want, sizeof want, "%s/rel/x.csv", cwd + 1);
    CHECK_OK(sl_uri_parse("rel/x.csv", &u, &err), &err);
    CHECK_STR(u.key, want);
    sl_uri_cleanup(&u);
    CHECK(sl_uri_parse("s3:///key", &u, &err) == SL_ECONFIG);
    CHECK(sl_uri_parse("s3://B/x", &u, &err) == SL_ECONFIG);
    CHECK(sl_uri_parse("file://host/x", &u, &err) == SL_ECONFIG);
    CHECK(sl_uri_parse("gs://b/x", &u, &err) == SL_ECONFIG);
    CHECK(sl_uri_parse("", &u, &err) == SL_ECONFIG);
}

TEST(local_hides_temp_files)
{
    struct sl_err err = { 0 };
    struct sl_store_writer *w = sl_store_put_begin(st, k("tmpvis/y.txt"), &err);
    CHECK(w != NULL);
    if (!w)
        return;
    CHECK_OK(sl_store_put_write(w, "abc", 3, &err), &err);
    struct listing l = { 0 };
    CHECK_OK(sl_store_list(st, k("tmpvis/"), NULL, list_fn, &l, &err), &err);
    CHECKF(l.n == 0, "in-progress upload listed: %s", l.n ? l.keys[0] : "");
    listing_free(&l);
    CHECK_OK(sl_store_put_commit(w, &err), &err);
    CHECK_OK(sl_store_list(st, k("tmpvis/"), NULL, list_fn, &l, &err), &err);
    CHECK(l.n == 1);
    listing_free(&l);
}

int main(void)
{
    struct sl_err err = { 0 };
    char tmpl[] = "/tmp/sl-test-store-XXXXXX";
    char uri[256];

    /* local file system */
    label = "local";
    t_suite = "local/";
    CHECK(mkdtemp(tmpl) != NULL);
    snprintf(uri, sizeof uri, "%s/", tmpl);
    st = sl_store_open(uri, &base, &err);
    if (!st) {
        printf("not ok - open local store: %s\n", err.msg);
        return 1;
    }
    printf("# local store at %s\n", uri);
    RUN(uri_parse);
    RUN(local_hides_temp_files);
    run_suite();
    sl_store_free(st);
    sl_free(base);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpl);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", tmpl);

    /* S3 emulator */
    label = "s3";
    t_suite = "s3/";
    if (!getenv("AWS_ENDPOINT_URL")) {
        t_name = "s3_suite";
        printf("skip - s3/suite: AWS_ENDPOINT_URL not set (no S3 emulator)\n");
        TEST_EXIT();
    }
    const char *bucket = getenv("SLUICE_TEST_BUCKET") ? getenv("SLUICE_TEST_BUCKET") : "sluice-test";
    snprintf(uri, sizeof uri, "s3://%s/store-%d-%ld/", bucket, (int)getpid(), (long)time(NULL));
    st = sl_store_open(uri, &base, &err);
    if (!st) {
        printf("not ok - open s3 store: %s\n", err.msg);
        return 1;
    }
    printf("# s3 store at %s\n", uri);
    run_suite();
    sl_store_free(st);
    sl_free(base);
    TEST_EXIT();
}
