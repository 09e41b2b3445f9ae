/*
 * runtime/alloc.c - allocation wrappers with fault injection (see alloc.h).
 */
#include "alloc.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Atomic long fail_nth = -1; /* -1: not read yet, 0: never fail */
static _Atomic long n_calls;

static int should_fail(void)
{
    long nth = atomic_load(&fail_nth);
    if (nth < 0) {
        const char *s = getenv("SL_TEST_FAIL_ALLOC");
        nth = s ? strtol(s, NULL, 10) : 0;
        if (nth < 0)
            nth = 0;
        atomic_store(&fail_nth, nth);
    }
    if (nth == 0)
        return 0;
    return atomic_fetch_add(&n_calls, 1) + 1 == nth;
}

void sl_alloc_fail_reset(long nth)
{
    atomic_store(&n_calls, 0);
    atomic_store(&fail_nth, nth);
}

void *sl_alloc(size_t len)
{
    if (should_fail())
        return NULL;
    return malloc(len ? len : 1);
}

void *sl_calloc(size_t n, size_t len)
{
    if (should_fail())
        return NULL;
    return calloc(n ? n : 1, len ? len : 1);
}

void *sl_realloc(void *p, size_t len)
{
    if (should_fail())
        return NULL;
    return realloc(p, len ? len : 1);
}

char *sl_strndup(const char *s, size_t len)
{
    char *d = sl_alloc(len + 1);
    if (!d)
        return NULL;
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

char *sl_strdup(const char *s)
{
    return sl_strndup(s, strlen(s));
}

char *sl_asprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *d = sl_alloc((size_t)n + 1);
    if (!d)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(d, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return d;
}

void sl_free(void *p)
{
    free(p);
}
