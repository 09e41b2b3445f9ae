/*
 * scheduler/cron.h - schedule expressions: parsing, and the fire times they
 * give in a time zone. Which trigger fires when, catch-up policy and the run
 * queue live elsewhere in scheduler/; this module only answers "when next?".
 *
 * Accepted text (spec/aws-api.md §3.9; "Glue form" below):
 *
 *   cron(Minutes Hours Day-of-month Month Day-of-week Year)
 *     6 fields, exactly one of day-of-month / day-of-week is "?".
 *     minutes 0-59, hours 0-23, day-of-month 1-31, month 1-12 or JAN-DEC,
 *     day-of-week 1-7 or SUN-SAT (1 = SUN), year 1970-2199.
 *     Every field: "*", n, a-b, a/step (a may be "*"), a-b/step, and lists
 *     "x,y" of these.
 *     Day-of-month also: L (last day), LW (last weekday), nW (the weekday
 *     nearest day n, Monday-Friday, never leaving the month; no fire in a
 *     month without day n). Day-of-week also: L alone (= SAT), nL (last
 *     weekday n of the month, "5L" = last Thursday), n#k (k-th weekday n,
 *     k 1-5; a month without a k-th one is skipped).
 *     Names are 3-letter English abbreviations, any case; so are L and W.
 *     Ranges must go upwards (FRI-MON is refused), steps are 1..field max.
 *   the same 6 fields without the cron(...) wrapper.
 *   m h dom mon dow: 5-field Unix cron (job{} scripts, DESIGN.md). Numbers,
 *     names, "*", ranges, steps and lists only; day-of-week 0-7 with 0 and 7
 *     = SUN. When both day fields are restricted a day matching either one
 *     fires; a field that starts with "*" (so a step over "*" too) counts as
 *     unrestricted, as in Vixie cron and cronie.
 *
 * Refused with SL_EPARSE: rate(...) and "L-n" (not in the spec), "?" and
 * L/W/# outside the fields above; sl_cron_parse_glue() also refuses the
 * unwrapped and 5-field forms and "#" (spec §3.9: not in Glue's syntax).
 * Messages start "cron: " and name the field by number and name:
 *   cron: field 3 (day-of-month): 32 is out of range 1-31
 * Deviation kept from the spec (§3.9 [U]): schedules firing more often than
 * every 5 minutes are accepted; the finest step is one minute.
 *
 * Time zones: NULL or "UTC" is UTC (what Glue uses); otherwise an IANA name
 * read from the system tz database ($TZDIR, else /usr/share/zoneinfo), as a
 * TZif file parsed here (RFC 8536: v1-v4, the POSIX TZ footer rule for times
 * after the table, leap-second "right/" zones refused). No setenv("TZ"),
 * tzset or localtime calls: nothing here touches process-wide state.
 *
 * DST, evaluated on local wall-clock times:
 *   - a local time that does not exist (spring-forward gap) fires once, at
 *     the first instant after the gap (America/New_York 2026-03-08 02:30 fires
 *     at 03:00 EDT); several such times (an every-15-minutes job) collapse
 *     into that one fire;
 *   - a local time that occurs twice (fall back) fires once, at its first
 *     occurrence; the repeated hour is skipped entirely, so an hourly job has
 *     a two-hour gap on that night.
 *
 * Thread safety: struct sl_cron and struct sl_cron_zone are immutable after
 * they are made; any number of threads may use one at once. Every function
 * here is reentrant.
 */
#ifndef SL_CRON_H
#define SL_CRON_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/err.h"

#define SL_CRON_TEXT_MAX      1024       /* bytes of expression text: longer is an error */
#define SL_CRON_ZONE_FILE_MAX (1u << 20) /* bytes: real TZif files are under 4 KiB */

struct sl_cron;      /* a parsed expression */
struct sl_cron_zone; /* a loaded time zone */

/* Parses any accepted form (see above) into *out (owned: sl_cron_free()).
 * On error *out is NULL and err says why: SL_EPARSE, or SL_ENOMEM. */
int sl_cron_parse(const char *text, struct sl_cron **out, struct sl_err *err);
/* Like sl_cron_parse, but only what the Glue API accepts (spec §3.9): the
 * wrapped 6-field form without "#". The HTTP layer answers its SL_EPARSE
 * with InvalidInputException carrying err->msg. */
int sl_cron_parse_glue(const char *text, struct sl_cron **out, struct sl_err *err);
void sl_cron_free(struct sl_cron *c); /* NULL is a no-op */

/* The first fire time strictly after after_ms (ms since the epoch; whole
 * minutes of local time, so a multiple of 60 000 except in zones whose
 * offset has seconds), evaluated in time zone tz (NULL or "UTC": UTC; else an
 * IANA name, loaded for this call). Searches every year the expression
 * allows up to 2199 (Glue form) or 400 years ahead (5-field form; the
 * Gregorian calendar repeats every 400 years), never past 9999-12-31.
 * Returns SL_OK, SL_ENOTFOUND when it never fires again (a year in the past,
 * Feb 30), SL_ECONFIG for an unknown or malformed zone, SL_EIO when the zone
 * file cannot be read, SL_ENOMEM. */
int sl_cron_next(const struct sl_cron *c, int64_t after_ms, const char *tz, int64_t *next_ms,
                 struct sl_err *err);
/* The fire times in (from_ms, to_ms], ascending, into out[0..max); *n is how
 * many were written. Returns SL_OK when that is all of them, SL_ELIMIT when
 * there are more (out holds the first max: continue from out[max - 1]); out
 * may be NULL when max is 0 (then SL_ELIMIT means "at least one"). Errors
 * as sl_cron_next, except that no fire time left is SL_OK. */
int sl_cron_between(const struct sl_cron *c, int64_t from_ms, int64_t to_ms, const char *tz,
                    int64_t *out, size_t max, size_t *n, struct sl_err *err);

/* ---- Time zones ---- */

/* Loads zone name (NULL or "UTC": *out = NULL, which the *_in_zone functions
 * read as UTC) into *out (owned: sl_cron_zone_free()). Names are IANA names:
 * letters, digits and "/_+-.", no "..", no leading "/", at most 255 bytes.
 * Reads one file with no lock held. Errors: SL_ECONFIG (bad or unknown name,
 * malformed file), SL_EIO, SL_ENOMEM. Load once and keep it to evaluate often. */
int sl_cron_zone_load(const char *name, struct sl_cron_zone **out, struct sl_err *err);
/* Parses TZif data (a zoneinfo file's bytes) into *out (owned). SL_ECONFIG
 * with the reason when the data is malformed, or SL_ENOMEM. */
int sl_cron_zone_parse(const void *data, size_t data_len, struct sl_cron_zone **out,
                       struct sl_err *err);
void sl_cron_zone_free(struct sl_cron_zone *z); /* NULL is a no-op */
/* UTC offset (seconds east of Greenwich) in effect at t_s (seconds since the
 * epoch); 0 for z NULL. */
int32_t sl_cron_zone_utoff(const struct sl_cron_zone *z, int64_t t_s);

/* sl_cron_next and sl_cron_between with an already loaded zone (NULL: UTC). */
int sl_cron_next_in_zone(const struct sl_cron *c, int64_t after_ms, const struct sl_cron_zone *z,
                         int64_t *next_ms, struct sl_err *err);
int sl_cron_between_in_zone(const struct sl_cron *c, int64_t from_ms, int64_t to_ms,
                            const struct sl_cron_zone *z, int64_t *out, size_t max, size_t *n,
                            struct sl_err *err);

#endif
