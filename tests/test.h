/*
 * tests/test.h - the tiny test harness every C test binary uses.
 * Each test prints one line: "ok - NAME", "not ok - NAME" (after its failed
 * checks, with file:line) or "skip - NAME: reason"; tests/run.sh adds them up
 * into the final "N passed, N failed, N skipped" line.
 */
#ifndef SL_TEST_H
#define SL_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int t_failed_checks;  /* in the current test */
static int t_skipped;        /* current test called SKIP */
static int t_n_fail;         /* failed tests in this binary */

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stdout, "#   %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);          \
            t_failed_checks++;                                                                     \
        }                                                                                          \
    } while (0)

/* CHECK with a printf-style explanation. */
#define CHECKF(cond, ...)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stdout, "#   %s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);          \
            fprintf(stdout, __VA_ARGS__);                                                          \
            fputc('\n', stdout);                                                                   \
            t_failed_checks++;                                                                     \
        }                                                                                          \
    } while (0)

#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *t_a = (a), *t_b = (b);                                                         \
        if (!t_a || !t_b || strcmp(t_a, t_b) != 0) {                                               \
            fprintf(stdout, "#   %s:%d: \"%s\" != \"%s\"\n", __FILE__, __LINE__,                  \
                    t_a ? t_a : "(null)", t_b ? t_b : "(null)");                                   \
            t_failed_checks++;                                                                     \
        }                                                                                          \
    } while (0)

/* Checks an int-returning sluice call succeeded; prints err's message if not. */
#define CHECK_OK(call, errp)                                                                       \
    do {                                                                                           \
        int t_rc = (call);                                                                         \
        if (t_rc != 0) {                                                                           \
            fprintf(stdout, "#   %s:%d: %s returned %d: %s\n", __FILE__, __LINE__, #call, t_rc,  \
                    (errp)->msg);                                                                  \
            t_failed_checks++;                                                                     \
        }                                                                                          \
    } while (0)

/* Marks the current test skipped and returns from it. */
#define SKIP(...)                                                                                  \
    do {                                                                                           \
        fprintf(stdout, "skip - %s%s: ", t_suite, t_name);                                                    \
        fprintf(stdout, __VA_ARGS__);                                                              \
        fputc('\n', stdout);                                                                       \
        t_skipped = 1;                                                                             \
        return;                                                                                    \
    } while (0)

static const char *t_name = "";
static const char *t_suite = ""; /* printed before each name, e.g. "s3/" */

#define TEST(name) static void name(void)

#define RUN(name)                                                                                  \
    do {                                                                                           \
        t_name = #name;                                                                            \
        t_failed_checks = 0;                                                                       \
        t_skipped = 0;                                                                             \
        fflush(stdout);                                                                            \
        name();                                                                                    \
        if (!t_skipped) {                                                                          \
            if (t_failed_checks) {                                                                 \
                fprintf(stdout, "not ok - %s%s\n", t_suite, #name);                                           \
                t_n_fail++;                                                                        \
            } else {                                                                               \
                fprintf(stdout, "ok - %s%s\n", t_suite, #name);                                               \
            }                                                                                      \
        }                                                                                          \
        fflush(stdout);                                                                            \
    } while (0)

#define TEST_EXIT() return t_n_fail ? 1 : 0

#endif
