/*
 * tests/fuzz/fuzz_cron.c - libFuzzer target for scheduler/cron.c, both of its
 * parsers. Input starting with "TZif": zone data (sl_cron_zone_parse), then
 * fixed schedules evaluated in that zone. Any other input: cron text up to the
 * first NUL, then optionally 8 bytes (little-endian) of an instant in ms to
 * search from; the text goes through sl_cron_parse and sl_cron_parse_glue, and
 * when it parses, next fire times are computed in UTC and (when the system has
 * them) in Europe/Lisbon and America/New_York. Besides crashes, leaks and
 * hangs it checks: a failed parse is SL_EPARSE with a "cron: " message and
 * hands out nothing; what the Glue parser accepts the general one accepts with
 * the same fire times; a fire time is after its start, a whole minute, found
 * again from one ms before it, and the only one between() lists up to it.
 * Replayed over tests/fuzz/corpus/cron/ by tests/fuzz/replay.c.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scheduler/cron.h"

#define T_2026 INT64_C(1767225600000) /* 2026-01-01T00:00:00Z */
#define DAY_MS INT64_C(86400000)

static const int64_t starts[] = {
    T_2026,
    T_2026 + 66 * DAY_MS + 6 * 3600000 + 59 * 60000,  /* 2026-03-08T06:59Z, New York's gap */
    T_2026 + 304 * DAY_MS + 5 * 3600000 + 30 * 60000, /* 2026-11-01T05:30Z, its repeat */
    T_2026 + 297 * DAY_MS + 45 * 60000,               /* 2026-10-25T00:45Z, Lisbon's repeat */
    INT64_C(951782400000),                            /* 2000-02-29T00:00Z */
    INT64_C(7258118400000) - 1,                       /* 2199-12-31T23:59:59.999Z */
};

/* Real zones, loaded once; NULL entries when the system has none. */
static struct sl_cron_zone *zones[2];
static bool zones_loaded;

static void load_zones(void)
{
    static const char *const names[2] = {"Europe/Lisbon", "America/New_York"};
    struct sl_err err;
    if (zones_loaded)
        return;
    zones_loaded = true;
    for (int i = 0; i < 2; i++)
        if (sl_cron_zone_load(names[i], &zones[i], &err) != SL_OK)
            zones[i] = NULL;
}

/* Checks one search; returns its result (or -1 for none). */
static int64_t check_next(const struct sl_cron *c, int64_t after, const struct sl_cron_zone *z,
                          bool consistent_zone)
{
    struct sl_err err;
    int64_t f = 0, again = 0, list[4];
    size_t n = 0;
    int rc = sl_cron_next_in_zone(c, after, z, &f, &err);
    if (rc == SL_ENOTFOUND)
        return -1;
    if (rc != SL_OK || f <= after)
        abort();
    if (!consistent_zone)
        return f;
    /* zones used here have whole-minute offsets since 1913 */
    if (after >= 0 && f % 60000 != 0)
        abort();
    if (sl_cron_next_in_zone(c, f - 1, z, &again, &err) != SL_OK || again != f)
        abort();
    rc = sl_cron_between_in_zone(c, after, f, z, list, 4, &n, &err);
    if (rc != SL_OK || n != 1 || list[0] != f)
        abort();
    return f;
}

static void fuzz_zone(const uint8_t *data, size_t size)
{
    static const char *const exprs[] = {"cron(30 1 * * ? *)", "*/7 * * * *", "cron(0 0 L * ? *)",
                                        "0 2 * * 0"};
    struct sl_cron_zone *z = NULL;
    struct sl_err err;
    int rc = sl_cron_zone_parse(data, size, &z, &err);
    if (rc != SL_OK) {
        if (z || (rc != SL_ECONFIG && rc != SL_ENOMEM))
            abort();
        return;
    }
    for (size_t e = 0; e < sizeof exprs / sizeof exprs[0]; e++) {
        struct sl_cron *c = NULL;
        if (sl_cron_parse(exprs[e], &c, &err) != SL_OK)
            abort();
        for (size_t s = 0; s < sizeof starts / sizeof starts[0]; s++) {
            int64_t list[8];
            size_t n = 0;
            (void)check_next(c, starts[s], z, false);
            rc =
                sl_cron_between_in_zone(c, starts[s], starts[s] + 3 * DAY_MS, z, list, 8, &n, &err);
            if ((rc != SL_OK && rc != SL_ELIMIT) || n > 8)
                abort();
            for (size_t i = 0; i < n; i++)
                if (list[i] <= (i ? list[i - 1] : starts[s]) || list[i] > starts[s] + 3 * DAY_MS)
                    abort();
        }
        sl_cron_free(c);
    }
    for (int64_t t = -INT64_C(4000000000); t < INT64_C(8000000000); t += 123456789)
        (void)sl_cron_zone_utoff(z, t);
    sl_cron_zone_free(z);
}

static void check_failure(int rc, const struct sl_cron *c, const struct sl_err *err)
{
    if (c != NULL)
        abort();
    if (rc == SL_ENOMEM)
        return;
    if (rc != SL_EPARSE || strncmp(err->msg, "cron: ", 6) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size >= 4 && memcmp(data, "TZif", 4) == 0) {
        fuzz_zone(data, size);
        return 0;
    }
    load_zones();
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    size_t text_len = strlen(text);
    int64_t extra = 0;
    bool has_extra = size >= text_len + 1 + 8;
    if (has_extra)
        for (int b = 7; b >= 0; b--)
            extra = (int64_t)((uint64_t)extra << 8 | data[text_len + 1 + b]);

    struct sl_err err, err2;
    struct sl_cron *c = NULL, *g = NULL;
    int rc = sl_cron_parse(text, &c, &err);
    int rc_g = sl_cron_parse_glue(text, &g, &err2);
    if (rc != SL_OK)
        check_failure(rc, c, &err);
    if (rc_g != SL_OK)
        check_failure(rc_g, g, &err2);
    if (rc_g == SL_OK && rc != SL_OK && rc != SL_ENOMEM)
        abort(); /* the Glue form is a subset */

    if (c) {
        for (size_t s = 0; s <= sizeof starts / sizeof starts[0]; s++) {
            int64_t after = s < sizeof starts / sizeof starts[0] ? starts[s] : extra;
            if (s == sizeof starts / sizeof starts[0] && !has_extra)
                break;
            int64_t f = check_next(c, after, NULL, true);
            if (g && check_next(g, after, NULL, true) != f)
                abort();
            for (int zi = 0; zi < 2; zi++)
                if (zones[zi])
                    (void)check_next(c, after, zones[zi], true);
        }
    }
    sl_cron_free(c);
    sl_cron_free(g);
    free(text);
    return 0;
}
