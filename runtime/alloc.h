/*
 * runtime/alloc.h - heap allocation with test-time fault injection.
 * With SL_TEST_FAIL_ALLOC=N in the environment the Nth sl_alloc-family call
 * (counted from process start) returns NULL, so tests can walk every error path.
 */
#ifndef SL_ALLOC_H
#define SL_ALLOC_H

#include <stddef.h>

void *sl_alloc(size_t len);                 /* owned: sl_free() */
void *sl_calloc(size_t n, size_t len);      /* zeroed; overflow-checked */
void *sl_realloc(void *p, size_t len);      /* NULL on failure, p untouched */
char *sl_strdup(const char *s);             /* NULL on failure */
char *sl_strndup(const char *s, size_t len);/* copies len bytes, NUL-terminates */
char *sl_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void sl_free(void *p);
/* Re-reads SL_TEST_FAIL_ALLOC and resets the call counter (tests). */
void sl_alloc_fail_reset(long nth);

#endif
