/*
 * scheduler/sched.c - the schedule thread of `sluice serve` (sched.h): each
 * tick lists the schedules (ACTIVATED SCHEDULED triggers, jobs with a job{}
 * header schedule) with their states, plans which passed fire times to fire
 * under the catch-up policy, and fires each through
 * sl_catalog_schedule_fire(), which starts the runs exactly once even when
 * several servers tick at the same time. The catalog work is
 * runtime/catalog_trigger.c; fire times come from scheduler/cron.c.
 *
 * Thread model: one thread per struct sl_sched, owning its catalog
 * connection, parsed zone and the set of bad schedules already reported. The
 * only shared field is 'stop' (guarded by 'lock'), which the thread waits on
 * between ticks with a monotonic-clock condition variable, so a stop takes
 * effect at once.
 */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "runtime/alloc.h"
#include "runtime/catalog.h"
#include "runtime/catalog_trigger.h"
#include "runtime/log.h"
#include "scheduler/sched.h"

#define CHUNK            256        /* fire times read per sl_cron_between call */
#define PLAN_SCAN_MAX    10000000   /* fire times counted at most in one window */
#define ERROR_LOG_GAP_MS 60000      /* the same tick error is logged once a minute */
#define BAD_MAX          1024       /* bad schedules remembered (reported once each) */

static const char *const catch_up_names[] = {"latest", "none", "all"};

int sl_sched_catch_up_parse(const char *name, int *out)
{
    for (size_t i = 0; name && i < SL_ARRAY_LEN(catch_up_names); i++)
        if (strcmp(name, catch_up_names[i]) == 0) {
            *out = (int)i;
            return SL_OK;
        }
    return SL_ECONFIG;
}

const char *sl_sched_catch_up_name(int catch_up)
{
    return (unsigned)catch_up < SL_ARRAY_LEN(catch_up_names) ? catch_up_names[catch_up] : "?";
}

struct sl_sched {
    int catch_up;
    int tick_ms;
    char *catalog;              /* owned conninfo; NULL = sl_catalog_open() rules */
    char *timezone;             /* owned; NULL = UTC */
    struct sl_cron_zone *zone;  /* owned; NULL = UTC */
    struct sl_catalog *cat;     /* owned; used by the ticking thread only; NULL = reopen */
    char **bad;                 /* owned "key\ntext" of bad schedules already logged */
    size_t n_bad;
    char last_error[512];       /* the last tick error logged, and when (ms) */
    int64_t last_error_ms;
    pthread_t thread;
    int started;
    pthread_mutex_t lock;
    pthread_cond_t cond;        /* signalled on stop */
    int stop;                   /* guarded by lock */
};

/* ---- Planning ---- */

/*
 * The window (from, now] may hold many fire times (a minutely schedule after a
 * week offline holds ~10 000). They are read in chunks; only the most recent
 * SL_SCHED_CATCH_UP_MAX are kept, in a ring, plus the total count. Every
 * policy fires a suffix of the window's fire times: "latest" the last one,
 * "none" those after now - 2 ticks, "all" the last SL_SCHED_CATCH_UP_MAX.
 */
int sl_sched_plan(const struct sl_cron *cron, const struct sl_cron_zone *z, int64_t from_ms,
                  int64_t now_ms, int catch_up, int tick_ms, int64_t *fires, size_t *n_fire,
                  size_t *n_missed, struct sl_err *err)
{
    int64_t chunk[CHUNK];
    size_t total = 0, head = 0; /* ring: fires[(head + i) % MAX] oldest first */
    int64_t at = from_ms;

    *n_fire = 0;
    *n_missed = 0;
    if (tick_ms <= 0)
        tick_ms = SL_SCHED_TICK_MS;
    while (at < now_ms && total < PLAN_SCAN_MAX) {
        size_t n = 0;
        int rc = sl_cron_between_in_zone(cron, at, now_ms, z, chunk, CHUNK, &n, err);
        if (rc != SL_OK && rc != SL_ELIMIT)
            return rc;
        for (size_t i = 0; i < n; i++, total++) {
            if (total < SL_SCHED_CATCH_UP_MAX) {
                fires[total] = chunk[i];
            } else {
                fires[head] = chunk[i];
                head = (head + 1) % SL_SCHED_CATCH_UP_MAX;
            }
        }
        if (rc == SL_OK || n == 0)
            break;
        at = chunk[n - 1];
    }
    size_t kept = total < SL_SCHED_CATCH_UP_MAX ? total : SL_SCHED_CATCH_UP_MAX;
    if (head) { /* unroll the ring so fires[0..kept) is ascending */
        int64_t tmp[CHUNK];
        for (size_t r = 0; r < head; r += CHUNK) { /* rotate left by head, CHUNK at a time */
            size_t k = head - r < CHUNK ? head - r : CHUNK;
            memcpy(tmp, fires, k * sizeof *fires);
            memmove(fires, fires + k, (kept - k) * sizeof *fires);
            memcpy(fires + kept - k, tmp, k * sizeof *fires);
        }
    }
    size_t first = 0; /* index in fires of the first to fire */
    switch (catch_up) {
    case SL_SCHED_CATCH_UP_ALL: first = 0; break;
    case SL_SCHED_CATCH_UP_NONE:
        first = kept;
        while (first > 0 && fires[first - 1] > now_ms - 2 * (int64_t)tick_ms)
            first--;
        break;
    default: first = kept ? kept - 1 : 0; break;
    }
    if (first)
        memmove(fires, fires + first, (kept - first) * sizeof *fires);
    *n_fire = kept - first;
    *n_missed = total - *n_fire;
    return SL_OK;
}

/* ---- One tick ---- */

static int64_t now_realtime_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "2026-11-26T11:48:00Z" of ms into out. */
static const char *iso_utc(int64_t ms, char out[32])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (!gmtime_r(&t, &tm) || !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(out, 32, "%lld ms", (long long)ms);
    return out;
}

/* Logs a bad schedule once per (key, text); 1 when it is new. */
static int report_bad(struct sl_sched *s, const char *key, const char *text, const char *why)
{
    char *entry = sl_asprintf("%s\n%s", key, text);
    if (!entry)
        return 0;
    for (size_t i = 0; i < s->n_bad; i++)
        if (strcmp(s->bad[i], entry) == 0) {
            sl_free(entry);
            return 0;
        }
    sl_log(SL_LOG_ERROR, "[sched %s] schedule \"%s\" skipped: %s", key, text, why);
    if (s->n_bad < BAD_MAX) {
        char **nb = sl_realloc(s->bad, (s->n_bad + 1) * sizeof *nb);
        if (nb) {
            s->bad = nb;
            s->bad[s->n_bad++] = entry;
            return 1;
        }
    }
    sl_free(entry);
    return 1;
}

/* Logs what the actions of one fire did: info with the runs, warn per
 * action that could not start. */
static void log_fire(const char *key, int64_t fire_ms, const char *runs)
{
    char when[32];
    json_t *list = runs ? json_loads(runs, 0, NULL) : NULL;
    size_t i;
    json_t *o;

    sl_log(SL_LOG_INFO, "[sched %s] fired for %s: %s", key, iso_utc(fire_ms, when),
           runs ? runs : "[]");
    json_array_foreach(list, i, o)
    {
        const char *why = json_string_value(json_object_get(o, "Error"));
        const char *job = json_string_value(json_object_get(o, "JobName"));
        const char *crawler = json_string_value(json_object_get(o, "CrawlerName"));
        if (why)
            sl_log(SL_LOG_WARN, "[sched %s] fire for %s: action %zu (%s \"%s\") not started: %s",
                   key, when, i, job ? "job" : "crawler", job ? job : crawler ? crawler : "",
                   why);
    }
    json_decref(list);
}

/* Evaluates one schedule at now_ms. */
static int tick_one(struct sl_sched *s, const struct sl_schedule *sc, int64_t now_ms,
                    int64_t *fires, size_t *n_fired, struct sl_err *err)
{
    char key[SL_SCHEDULE_KEY_MAX];
    struct sl_cron *cron = NULL;
    size_t n_fire = 0, n_missed = 0;
    struct sl_err perr = {0};
    int rc;

    if (sl_schedule_key(sc->kind, sc->name, key, err) != SL_OK)
        return SL_OK; /* a name the tables cannot hold: nothing to fire */
    if (sc->checked_until_ms == 0) /* first sight: from now on */
        return sl_catalog_schedule_init(s->cat, sc->kind, sc->name, now_ms, err);
    if (sc->checked_until_ms >= now_ms)
        return SL_OK;
    if ((rc = sl_cron_parse(sc->schedule, &cron, &perr)) != SL_OK) {
        if (rc == SL_ENOMEM)
            return sl_err_set(err, SL_ENOMEM, "out of memory");
        report_bad(s, key, sc->schedule, perr.msg);
        return SL_OK;
    }
    rc = sl_sched_plan(cron, s->zone, sc->checked_until_ms, now_ms, s->catch_up, s->tick_ms, fires,
                       &n_fire, &n_missed, &perr);
    sl_cron_free(cron);
    if (rc == SL_ENOMEM)
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    if (rc != SL_OK) {
        report_bad(s, key, sc->schedule, perr.msg);
        return SL_OK;
    }
    if (n_fire == 0 && n_missed == 0)
        return SL_OK;
    if (n_missed) {
        char from[32];
        sl_log(SL_LOG_WARN,
               "[sched %s] %zu missed fire%s after %s skipped (catch-up %s%s), %zu to fire", key,
               n_missed, n_missed == 1 ? "" : "s", iso_utc(sc->checked_until_ms, from),
               sl_sched_catch_up_name(s->catch_up),
               s->catch_up == SL_SCHED_CATCH_UP_ALL ? ": capped" : "", n_fire);
    }
    for (size_t i = 0; i < n_fire; i++) {
        int fired = 0;
        char *runs = NULL;
        if (sl_catalog_schedule_fire(s->cat, sc->kind, sc->name, fires[i], &fired, &runs, err) !=
            SL_OK)
            return err->code;
        if (fired) {
            log_fire(key, fires[i], runs);
            (*n_fired)++;
        }
        sl_free(runs);
    }
    /* Everything up to now is handled (fired, skipped, or fired by another
     * server): the next window starts here. */
    return sl_catalog_schedule_advance(s->cat, sc->kind, sc->name, now_ms, err);
}

int sl_sched_tick(struct sl_sched *s, int64_t now_ms, size_t *n_fired, struct sl_err *err)
{
    struct sl_schedule *list = NULL;
    size_t n = 0, fired = 0;
    int64_t *fires = NULL;
    int rc;

    if (n_fired)
        *n_fired = 0;
    if (!s->cat)
        return sl_err_set(err, SL_ETRANSIENT, "no catalog connection");
    if ((rc = sl_catalog_schedule_list(s->cat, &list, &n, err)) != SL_OK)
        return rc;
    fires = n ? sl_calloc(SL_SCHED_CATCH_UP_MAX, sizeof *fires) : NULL;
    if (n && !fires) {
        sl_schedule_list_free(list, n);
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        if ((rc = tick_one(s, &list[i], now_ms, fires, &fired, err)) != SL_OK) {
            sl_err_prefix(err, "%s \"%s\"", list[i].kind == SL_SCHEDULE_JOB       ? "job"
                          : list[i].kind == SL_SCHEDULE_CRAWLER ? "crawler"
                                                                : "trigger",
                          list[i].name);
            break;
        }
    }
    sl_free(fires);
    sl_schedule_list_free(list, n);
    if (n_fired)
        *n_fired = fired;
    return rc;
}

/* ---- Lifetime ---- */

static struct sl_catalog *open_catalog(const struct sl_sched *s, struct sl_err *err)
{
    return s->catalog ? sl_catalog_open_conninfo(s->catalog, err) : sl_catalog_open(err);
}

int sl_sched_new(const struct sl_sched_opts *opts, struct sl_sched **out, struct sl_err *err)
{
    struct sl_sched *s = sl_calloc(1, sizeof *s);

    *out = NULL;
    if (!s)
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    pthread_mutex_init(&s->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cond, &ca);
    pthread_condattr_destroy(&ca);
    s->catch_up = opts->catch_up;
    s->tick_ms = opts->tick_ms > 0 ? opts->tick_ms : SL_SCHED_TICK_MS;
    if ((unsigned)s->catch_up >= SL_ARRAY_LEN(catch_up_names)) {
        sl_err_set(err, SL_ECONFIG, "catch-up policy %d is not none, latest or all", s->catch_up);
        goto fail;
    }
    if ((opts->catalog && !(s->catalog = sl_strdup(opts->catalog))) ||
        (opts->timezone && !(s->timezone = sl_strdup(opts->timezone)))) {
        sl_err_set(err, SL_ENOMEM, "out of memory");
        goto fail;
    }
    if (sl_cron_zone_load(s->timezone, &s->zone, err) != SL_OK) {
        sl_err_prefix(err, "time zone \"%s\"", s->timezone ? s->timezone : "UTC");
        goto fail;
    }
    if (!(s->cat = open_catalog(s, err))) {
        sl_err_prefix(err, "schedule thread: open catalog");
        goto fail;
    }
    *out = s;
    return SL_OK;
fail:
    sl_sched_free(s);
    return err->code;
}

void sl_sched_free(struct sl_sched *s)
{
    if (!s)
        return;
    sl_catalog_free(s->cat);
    sl_cron_zone_free(s->zone);
    for (size_t i = 0; i < s->n_bad; i++)
        sl_free(s->bad[i]);
    sl_free(s->bad);
    sl_free(s->catalog);
    sl_free(s->timezone);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->lock);
    sl_free(s);
}

/* Logs a tick failure, the same message at most once a minute. */
static void log_tick_error(struct sl_sched *s, const struct sl_err *err, int64_t now_ms)
{
    char clean[sizeof err->msg];

    sl_redact(err->msg, clean, sizeof clean);
    if (strcmp(clean, s->last_error) == 0 && now_ms - s->last_error_ms < ERROR_LOG_GAP_MS)
        return;
    snprintf(s->last_error, sizeof s->last_error, "%s", clean);
    s->last_error_ms = now_ms;
    sl_log(SL_LOG_ERROR, "[sched] tick failed: %s", clean);
}

static void *sched_main(void *arg)
{
    struct sl_sched *s = arg;
    struct timespec wake;

    sl_log(SL_LOG_INFO, "[sched] schedule thread started (zone %s, catch-up %s, tick %d ms)",
           s->timezone ? s->timezone : "UTC", sl_sched_catch_up_name(s->catch_up), s->tick_ms);
    clock_gettime(CLOCK_MONOTONIC, &wake);
    for (;;) {
        struct sl_err err = {0};
        int64_t now = now_realtime_ms();

        if (!s->cat)
            s->cat = open_catalog(s, &err);
        if (s->cat && sl_sched_tick(s, now, NULL, &err) == SL_OK) {
            s->last_error[0] = '\0';
        } else {
            log_tick_error(s, &err, now);
            if (s->cat && PQstatus(sl_catalog_peek_conn(s->cat)) != CONNECTION_OK) {
                sl_catalog_free(s->cat); /* reopened next tick */
                s->cat = NULL;
            }
        }
        wake.tv_sec += s->tick_ms / 1000;
        wake.tv_nsec += (long)(s->tick_ms % 1000) * 1000000L;
        if (wake.tv_nsec >= 1000000000L) {
            wake.tv_sec++;
            wake.tv_nsec -= 1000000000L;
        }
        struct timespec mono;
        clock_gettime(CLOCK_MONOTONIC, &mono);
        if (mono.tv_sec > wake.tv_sec + 1) /* fell behind (a slow tick): no burst */
            wake = mono;
        pthread_mutex_lock(&s->lock);
        while (!s->stop && pthread_cond_timedwait(&s->cond, &s->lock, &wake) != ETIMEDOUT)
            ;
        int stop = s->stop;
        pthread_mutex_unlock(&s->lock);
        if (stop)
            break;
    }
    sl_log(SL_LOG_INFO, "[sched] schedule thread stopped");
    return NULL;
}

int sl_sched_start(const struct sl_sched_opts *opts, struct sl_sched **out, struct sl_err *err)
{
    struct sl_sched *s = NULL;

    *out = NULL;
    if (sl_sched_new(opts, &s, err) != SL_OK)
        return err->code;
    int e = pthread_create(&s->thread, NULL, sched_main, s);
    if (e != 0) {
        sl_sched_free(s);
        return sl_err_sys(err, SL_EIO, e, "start the schedule thread");
    }
    s->started = 1;
    *out = s;
    return SL_OK;
}

void sl_sched_stop(struct sl_sched *s)
{
    if (!s)
        return;
    if (s->started) {
        pthread_mutex_lock(&s->lock);
        s->stop = 1;
        pthread_cond_signal(&s->cond);
        pthread_mutex_unlock(&s->lock);
        pthread_join(s->thread, NULL);
        s->started = 0;
    }
    sl_sched_free(s);
}
