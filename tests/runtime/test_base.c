/*
 * tests/runtime/test_base.c - the base layer: errors, allocation failure
 * injection, buffers with ceilings, arenas, log redaction.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/alloc.h"
#include "runtime/arena.h"
#include "runtime/buf.h"
#include "runtime/err.h"
#include "runtime/log.h"
#include "tests/test.h"

TEST(err_context_prefix)
{
    struct sl_err e = { 0 };
    CHECK(sl_err_set(&e, SL_EACCESS, "HTTP 403 %s", "AccessDenied") == SL_EACCESS);
    CHECK(sl_err_prefix(&e, "reading %s", "s3://b/k") == SL_EACCESS);
    CHECK_STR(e.msg, "reading s3://b/k: HTTP 403 AccessDenied");
    CHECK(sl_err_exit_code(&e) == 1);
    sl_err_set(&e, SL_ECONFIG, "bad flag");
    CHECK(sl_err_exit_code(&e) == 2);
    CHECK(sl_err_sys(&e, SL_EIO, 2, "cannot open \"%s\"", "x") == SL_EIO);
    CHECK_STR(e.msg, "cannot open \"x\": No such file or directory");
    CHECK(e.sys_errno == 2);
    CHECK_STR(sl_code_name(SL_ENOTFOUND), "ENOTFOUND");
}

TEST(err_truncates_long_messages)
{
    struct sl_err e = { 0 };
    char big[2000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    sl_err_set(&e, SL_EPARSE, "%s", big);
    sl_err_prefix(&e, "context");
    CHECK(strlen(e.msg) == sizeof e.msg - 1);
    CHECK(strncmp(e.msg, "context: xxx", 12) == 0);
}

TEST(buf_grows_and_stops_at_ceiling)
{
    struct sl_buf b;
    struct sl_err e = { 0 };
    sl_buf_init(&b, 100);
    for (int i = 0; i < 10; i++)
        CHECK_OK(sl_buf_printf(&b, &e, "%d123456789", i), &e);
    CHECK(b.len == 100);
    CHECK(sl_buf_putc(&b, 'x', &e) == SL_ELIMIT);
    CHECK(strstr(e.msg, "100 bytes") != NULL);
    CHECK(b.len == 100);
    CHECK(b.data[100] == '\0');
    size_t n;
    char *p = sl_buf_take(&b, &n);
    CHECK(n == 100 && strncmp(p, "0123456789", 10) == 0);
    CHECK(b.data == NULL && b.len == 0);
    sl_free(p);
    sl_buf_cleanup(&b);
}

TEST(arena_alloc_align_reset_cap)
{
    struct sl_arena a;
    sl_arena_init(&a, 1 << 20);
    char *first = NULL;
    for (int i = 0; i < 10000; i++) {
        char *p = sl_arena_alloc(&a, (size_t)(i % 37) + 1);
        CHECK(p != NULL);
        CHECK(((uintptr_t)p & 15) == 0);
        if (!first)
            first = p;
        memset(p, 0xab, (size_t)(i % 37) + 1);
    }
    char *big = sl_arena_alloc(&a, 200000); /* larger than a block */
    CHECK(big != NULL);
    CHECK(sl_arena_alloc(&a, 2 << 20) == NULL); /* over the cap */
    char *s = sl_arena_strndup(&a, "hello world", 5);
    CHECK_STR(s, "hello");
    sl_arena_reset(&a);
    CHECK(a.used == 0);
    sl_alloc_fail_reset(1); /* the next malloc fails: reset must have kept a block */
    char *again = sl_arena_alloc(&a, 16);
    sl_alloc_fail_reset(0);
    CHECK(again != NULL);
    (void)first;
    sl_arena_cleanup(&a);
}

TEST(alloc_failure_injection)
{
    /* step N up until success; each failure must be a clean SL_ENOMEM */
    int succeeded = 0;
    for (long nth = 1; nth < 50 && !succeeded; nth++) {
        struct sl_buf b;
        struct sl_err e = { 0 };
        sl_alloc_fail_reset(nth);
        sl_buf_init(&b, 0);
        int rc = SL_OK;
        for (int i = 0; i < 20 && rc == SL_OK; i++)
            rc = sl_buf_puts(&b, "0123456789abcdef0123456789abcdef", &e);
        if (rc == SL_OK) {
            CHECK(b.len == 20 * 32);
            succeeded = 1;
        } else {
            CHECK(rc == SL_ENOMEM);
            CHECK(strstr(e.msg, "out of memory") != NULL);
        }
        sl_buf_cleanup(&b);
    }
    sl_alloc_fail_reset(0);
    CHECK(succeeded);
    void *p = sl_alloc(10);
    CHECK(p != NULL);
    sl_free(p);
}

TEST(redact_secrets)
{
    char out[512];
    /* an output buffer that fills up inside the spaces after a key: ends, truncated */
    char small[12];
    sl_redact("token:                    abc", small, sizeof small);
    CHECK(strlen(small) == sizeof small - 1 && strncmp(small, "token:", 6) == 0);
    sl_redact("connect host=db user=etl password=hunter2 dbname=x", out, sizeof out);
    CHECK(strstr(out, "hunter2") == NULL);
    CHECK(strstr(out, "user=etl") != NULL);
    CHECK(strstr(out, "dbname=x") != NULL);
    sl_redact("postgres://etl:s3cr3t@db:5432/x", out, sizeof out);
    CHECK(strstr(out, "s3cr3t") == NULL);
    CHECK(strstr(out, "etl:") != NULL && strstr(out, "@db:5432") != NULL);
    sl_redact("GET https://b.s3.amazonaws.com/k?X-Amz-Credential=AKIAX%2F2024&X-Amz-Signature=abcdef0123&x-id=1",
              out, sizeof out);
    CHECK(strstr(out, "abcdef0123") == NULL);
    CHECK(strstr(out, "AKIAX") == NULL);
    CHECK(strstr(out, "x-id=1") != NULL);
    sl_redact("Authorization: AWS4-HMAC-SHA256 Credential=AKIA/x, Signature=ff00\nnext", out,
              sizeof out);
    CHECK(strstr(out, "ff00") == NULL && strstr(out, "AKIA") == NULL);
    CHECK(strstr(out, "next") != NULL);
    sl_redact("{\"SecretAccessKey\": \"wJalr\", \"AccessKeyId\": \"AKID\"}", out, sizeof out);
    CHECK(strstr(out, "wJalr") == NULL);
    CHECK(strstr(out, "AKID") != NULL); /* key ids are not secret */
    sl_redact("aws_secret_access_key = abc/def", out, sizeof out);
    CHECK(strstr(out, "abc/def") == NULL);
    sl_redact("token_count=5 tokens", out, sizeof out);
    CHECK_STR(out, "token_count=5 tokens");
}

TEST(log_level_parse)
{
    CHECK(sl_log_level_parse("warn") == SL_LOG_WARN);
    CHECK(sl_log_level_parse("DEBUG") == SL_LOG_DEBUG);
    CHECK(sl_log_level_parse("loud") == -1);
}

int main(void)
{
    RUN(err_context_prefix);
    RUN(err_truncates_long_messages);
    RUN(buf_grows_and_stops_at_ceiling);
    RUN(arena_alloc_align_reset_cap);
    RUN(alloc_failure_injection);
    RUN(redact_secrets);
    RUN(log_level_parse);
    TEST_EXIT();
}
