/*
 * tests/fuzz/fuzz_predicate.c - libFuzzer target for push_down_predicate
 * (runtime/predicate.c). Input: the predicate text (up to the first NUL),
 * parsed against two partition keys (dt, hour) under three typings. Besides
 * crashes, leaks and hangs it checks that a failure is SL_EPARSE with a
 * positioned message, that evaluation is deterministic, and that wrapping a
 * valid, non-blank predicate as "NOT (...)" still parses (unless that crosses a
 * limit) and is never true together with the original. Replayed over
 * tests/fuzz/corpus/predicate/ by tests/fuzz/replay.c.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/predicate.h"

static const char *const keys[2] = { "dt", "hour" };
static const char *const typings[3][2] = {
    { "date", "int" },
    { "string", "boolean" },
    { NULL, "decimal(10,2)" },
};
static const char *const tuples[][2] = {
    { "2024-05-01", "10" },
    { NULL, "9" },
    { "__HIVE_DEFAULT_PARTITION__", NULL },
    { "x", "-1.5e3" },
    { "", "true" },
    { "\xc3\xa9%_\\", "FALSE" },
};
#define N_TUPLES (sizeof tuples / sizeof tuples[0])

static void check_failure(int rc, const struct sl_pred *p, const struct sl_err *err)
{
    if (p != NULL)
        abort(); /* a failed parse hands out nothing */
    if (rc != SL_EPARSE && rc != SL_ENOMEM)
        abort();
    if (strncmp(err->msg, "push_down_predicate: ", 21) != 0)
        abort();
}

/* Only spaces: the always-true predicate, which "NOT ()" does not wrap. */
static bool blank(const char *s)
{
    for (; *s; s++) {
        if (!strchr(" \t\n\r\f\v", *s))
            return false;
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    size_t len = strlen(text);
    char *wrapped = malloc(len + 8);
    if (!wrapped) {
        free(text);
        return 0;
    }
    snprintf(wrapped, len + 8, "NOT (%s)", text);

    for (size_t t = 0; t < 3; t++) {
        struct sl_err err = { 0 };
        struct sl_pred *p = (struct sl_pred *)&err, *np = (struct sl_pred *)&err;
        int rc = sl_pred_parse(text, keys, typings[t], 2, &p, &err);
        if (rc != SL_OK) {
            check_failure(rc, p, &err);
            continue;
        }
        int nrc = sl_pred_parse(wrapped, keys, typings[t], 2, &np, &err);
        if (nrc != SL_OK) {
            check_failure(nrc, np, &err);
            /* a valid predicate stays valid inside NOT ( ), limits aside */
            if (nrc == SL_EPARSE && !blank(text) && !strstr(err.msg, "nesting deeper than") &&
                !strstr(err.msg, "longer than")) {
                fprintf(stderr, "\"%s\" parses but \"%s\" does not: %s\n", text, wrapped,
                        err.msg);
                abort();
            }
            np = NULL;
        }
        for (size_t i = 0; i < N_TUPLES; i++) {
            bool a = sl_pred_eval(p, tuples[i]);
            if (sl_pred_eval(p, tuples[i]) != a)
                abort();
            if (np && a && sl_pred_eval(np, tuples[i])) {
                fprintf(stderr, "\"%s\" and its negation are both true on tuple %zu\n", text, i);
                abort();
            }
        }
        sl_pred_free(np);
        sl_pred_free(p);
    }
    free(wrapped);
    free(text);
    return 0;
}
