/*
 * runtime/catalog_trigger.c - Glue triggers in the catalog (spec/aws-api.md
 * §3.8): trigger rows (create, get, list by name, state changes, delete),
 * ON_DEMAND starts, the evaluation of CONDITIONAL triggers inside the
 * transaction that ends a run, and schedule fires with their states. The
 * tables are migration 4's; the SQL is catalog_trigger_sql.h. Runs are
 * queued with sl_catalog_run_start (catalog_run.c); when each schedule fires
 * is decided by scheduler/sched.c, and the API's validation of trigger
 * members is scheduler/api_triggers.c.
 *
 * Exactly-once: a fire is a row of sluice.trigger_fire under a key naming the
 * schedule and fire time (or the trigger and the run that satisfied it); the
 * row is inserted ON CONFLICT DO NOTHING in the transaction that starts the
 * fire's runs, so of two servers firing the same key one inserts and starts
 * the runs and the other (blocked on the key until the first commits) finds
 * it taken and starts nothing. The runs' idempotency keys repeat the fire key
 * as a second guard.
 *
 * Logging: runtime/ code normally never logs; the one exception is
 * sl_catalog_trigger_on_run_done(), which runs inside the caller's run-finish
 * transaction and has no one to hand a skipped action to, so it logs each
 * action that cannot start (warn) and each fire (info).
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "catalog.h"
#include "catalog_internal.h"
#include "catalog_run.h"
#include "catalog_trigger.h"
#include "catalog_trigger_sql.h"
#include "log.h"

#define FIRE_KEY_MAX (SL_SCHEDULE_KEY_MAX + SL_RUN_ID_MAX + 32) /* "<schedule key>:<epoch>" etc. */

/* ---- Names ---- */

static const char *const type_names[] = {"SCHEDULED", "CONDITIONAL", "ON_DEMAND"};
static const char *const state_names[] = {"CREATED", "ACTIVATED", "DEACTIVATED"};

const char *sl_trigger_type_name(enum sl_trigger_type t)
{
    return (unsigned)t < SL_ARRAY_LEN(type_names) ? type_names[t] : "?";
}

int sl_trigger_type_parse(const char *name, enum sl_trigger_type *out)
{
    for (size_t i = 0; name && i < SL_ARRAY_LEN(type_names); i++)
        if (strcmp(name, type_names[i]) == 0) {
            *out = (enum sl_trigger_type)i;
            return SL_OK;
        }
    return SL_ECONFIG;
}

const char *sl_trigger_state_name(enum sl_trigger_state s)
{
    return (unsigned)s < SL_ARRAY_LEN(state_names) ? state_names[s] : "?";
}

int sl_trigger_state_parse(const char *name, enum sl_trigger_state *out)
{
    for (size_t i = 0; name && i < SL_ARRAY_LEN(state_names); i++)
        if (strcmp(name, state_names[i]) == 0) {
            *out = (enum sl_trigger_state)i;
            return SL_OK;
        }
    return SL_ECONFIG;
}

/* ^[A-Za-z0-9_.-]{1,255}$, the rule of the trigger table */
static int check_name(const char *what, const char *name, struct sl_err *err)
{
    size_t n = 0;

    if (!name || !*name)
        return sl_err_set(err, SL_ECONFIG, "%s name is empty", what);
    for (const unsigned char *p = (const unsigned char *)name; *p; p++, n++) {
        if (n == SL_TRIGGER_NAME_MAX)
            return sl_err_set(err, SL_ECONFIG, "%s name \"%.32s...\" is longer than %d bytes",
                              what, name, SL_TRIGGER_NAME_MAX);
        int ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                 (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' || *p == '-';
        if (!ok)
            return sl_err_set(err, SL_ECONFIG,
                              "invalid %s name \"%.64s\": only letters, digits, '_', '.' and "
                              "'-' are allowed",
                              what, name);
    }
    return SL_OK;
}

int sl_schedule_key(enum sl_schedule_kind kind, const char *name, char out[SL_SCHEDULE_KEY_MAX],
                    struct sl_err *err)
{
    int n = snprintf(out, SL_SCHEDULE_KEY_MAX, "%s:%s",
                     kind == SL_SCHEDULE_JOB ? "job" : kind == SL_SCHEDULE_CRAWLER ? "crawl" : "sched",
                     name ? name : "");
    if (n < 0 || n >= SL_SCHEDULE_KEY_MAX)
        return sl_err_set(err, SL_ECONFIG, "schedule name \"%.32s...\" is too long", name);
    return SL_OK;
}

/* ---- Rows ---- */

void sl_catalog_trigger_cleanup(struct sl_catalog_trigger *t)
{
    if (!t)
        return;
    sl_free(t->name);
    sl_free(t->description);
    sl_free(t->schedule);
    sl_free(t->predicate);
    sl_free(t->actions);
    sl_free(t->extra);
    memset(t, 0, sizeof *t);
}

void sl_catalog_trigger_free(struct sl_catalog_trigger *t)
{
    sl_catalog_trigger_cleanup(t);
    sl_free(t);
}

void sl_catalog_trigger_list_free(struct sl_catalog_trigger *ts, size_t n_triggers)
{
    for (size_t i = 0; ts && i < n_triggers; i++)
        sl_catalog_trigger_cleanup(&ts[i]);
    sl_free(ts);
}

/* Fills t from a row of SL_CATALOG_SQL_TRIGGER_COLS. */
static int trigger_from_row(struct sl_catalog_trigger *t, const PGresult *r, int row,
                            struct sl_err *err)
{
    if (sl_trigger_type_parse(PQgetvalue(r, row, 1), &t->type) != SL_OK ||
        sl_trigger_state_parse(PQgetvalue(r, row, 2), &t->state) != SL_OK)
        return sl_err_set(err, SL_EINTERNAL, "trigger row has type \"%s\", state \"%s\"",
                          PQgetvalue(r, row, 1), PQgetvalue(r, row, 2));
    t->last_fired_ms = sl_catalog_get_i64(r, row, 8);
    t->created_ms = sl_catalog_get_i64(r, row, 9);
    t->modified_ms = sl_catalog_get_i64(r, row, 10);
    if (sl_catalog_get_str(r, row, 0, &t->name, err) != SL_OK ||
        sl_catalog_get_str(r, row, 3, &t->description, err) != SL_OK ||
        sl_catalog_get_str(r, row, 4, &t->schedule, err) != SL_OK ||
        sl_catalog_get_str(r, row, 5, &t->predicate, err) != SL_OK ||
        sl_catalog_get_str(r, row, 6, &t->actions, err) != SL_OK ||
        sl_catalog_get_str(r, row, 7, &t->extra, err) != SL_OK)
        return err->code;
    return SL_OK;
}

static int check_trigger(const struct sl_catalog_trigger *t, struct sl_err *err)
{
    json_t *j = NULL;
    json_error_t jerr;

    if (check_name("trigger", t->name, err) != SL_OK)
        return err->code;
    if ((unsigned)t->type >= SL_ARRAY_LEN(type_names) ||
        (unsigned)t->state >= SL_ARRAY_LEN(state_names))
        return sl_err_set(err, SL_ECONFIG, "bad trigger type or state");
    if (!t->actions)
        return sl_err_set(err, SL_ECONFIG, "no actions given");
    j = json_loads(t->actions, 0, &jerr);
    if (!json_is_array(j)) {
        json_decref(j);
        return sl_err_set(err, SL_ECONFIG, "actions: not a JSON array");
    }
    for (size_t i = 0; i < json_array_size(j); i++)
        if (!json_is_object(json_array_get(j, i))) {
            json_decref(j);
            return sl_err_set(err, SL_ECONFIG, "actions: item %zu is not an object", i);
        }
    json_decref(j);
    j = NULL;
    if (t->predicate && sl_catalog_json_parse_object("predicate", t->predicate, &j, err) != SL_OK)
        return err->code;
    json_decref(j);
    j = NULL;
    if (t->extra && sl_catalog_json_parse_object("extra members", t->extra, &j, err) != SL_OK)
        return err->code;
    json_decref(j);
    return SL_OK;
}

/* ---- Create, get, list ---- */

int sl_catalog_trigger_create(struct sl_catalog *c, const struct sl_catalog_trigger *t,
                              int64_t now_ms, struct sl_err *err)
{
    PGresult *r = NULL;
    int own = 0, in_tx = 0;

    if (check_trigger(t, err) != SL_OK)
        goto fail;
    if (sl_catalog_tx_begin(c, &own, err) != SL_OK)
        goto fail;
    in_tx = 1;
    const char *args[] = {
        t->name,      sl_trigger_type_name(t->type), sl_trigger_state_name(t->state),
        t->description, t->schedule,                 t->predicate,
        t->actions,   t->extra ? t->extra : "{}",
    };
    r = sl_catalog_query(c->pg, SL_CATALOG_SQL_TRIGGER_INSERT, 8, args, err);
    if (!r)
        goto fail;
    if (PQntuples(r) == 0) {
        PQclear(r);
        sl_catalog_tx_rollback(c, own);
        return sl_err_set(err, SL_EEXIST, "trigger \"%s\" already exists", t->name);
    }
    PQclear(r);
    r = NULL;
    if (t->type == SL_TRIGGER_SCHEDULED && t->state == SL_TRIGGER_ACTIVATED) {
        char key[SL_SCHEDULE_KEY_MAX], ms[24];
        if (sl_schedule_key(SL_SCHEDULE_TRIGGER, t->name, key, err) != SL_OK)
            goto fail;
        const char *sargs[] = {key, sl_catalog_i64_str(now_ms, ms)};
        if (sl_catalog_exec(c->pg, SL_CATALOG_SQL_SCHEDULE_RESET, 2, sargs, err) != SL_OK)
            goto fail;
    }
    in_tx = 0;
    if (sl_catalog_tx_commit(c, own, err) != SL_OK)
        goto fail;
    return SL_OK;
fail:
    PQclear(r);
    if (in_tx)
        sl_catalog_tx_rollback(c, own);
    return sl_err_prefix(err, "create trigger \"%s\"", t->name ? t->name : "");
}

/* *out = the trigger read with sql (GET or GET_LOCKED). */
static int get_trigger(struct sl_catalog *c, const char *sql, const char *name,
                       struct sl_catalog_trigger **out, struct sl_err *err)
{
    struct sl_catalog_trigger *t = NULL;
    PGresult *r = NULL;

    *out = NULL;
    if (check_name("trigger", name, err) != SL_OK)
        return err->code;
    const char *args[] = {name};
    r = sl_catalog_query(c->pg, sql, 1, args, err);
    if (!r)
        return err->code;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return sl_err_set(err, SL_ENOTFOUND, "trigger \"%s\" not found", name);
    }
    t = sl_calloc(1, sizeof *t);
    if (!t) {
        PQclear(r);
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    if (trigger_from_row(t, r, 0, err) != SL_OK) {
        PQclear(r);
        sl_catalog_trigger_free(t);
        return err->code;
    }
    PQclear(r);
    *out = t;
    return SL_OK;
}

int sl_catalog_trigger_get(struct sl_catalog *c, const char *name,
                           struct sl_catalog_trigger **out, struct sl_err *err)
{
    if (get_trigger(c, SL_CATALOG_SQL_TRIGGER_GET, name, out, err) != SL_OK)
        return err->code == SL_ENOTFOUND ? err->code
                                         : sl_err_prefix(err, "get trigger \"%s\"",
                                                         name ? name : "");
    return SL_OK;
}

int sl_catalog_trigger_list(struct sl_catalog *c, const char *after, const char *dependent_job,
                            size_t limit, struct sl_catalog_trigger **out, size_t *n_out,
                            struct sl_err *err)
{
    struct sl_catalog_trigger *ts = NULL;
    size_t n = 0;
    char lim[24];
    const char *args[] = {after, dependent_job,
                          limit ? sl_catalog_i64_str((int64_t)limit, lim) : NULL};
    PGresult *r = sl_catalog_query(c->pg, SL_CATALOG_SQL_TRIGGER_LIST, 3, args, err);

    *out = NULL;
    *n_out = 0;
    if (!r)
        goto fail;
    ts = sl_calloc((size_t)PQntuples(r) + 1, sizeof *ts);
    if (!ts) {
        sl_err_set(err, SL_ENOMEM, "out of memory");
        goto fail;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        n++;
        if (trigger_from_row(&ts[i], r, i, err) != SL_OK)
            goto fail;
    }
    PQclear(r);
    *out = ts;
    *n_out = n;
    return SL_OK;
fail:
    PQclear(r);
    sl_catalog_trigger_list_free(ts, n);
    return sl_err_prefix(err, "list triggers");
}

/* ---- State changes and delete ---- */

int sl_catalog_trigger_set_state(struct sl_catalog *c, const char *name,
                                 enum sl_trigger_state state, int64_t now_ms,
                                 enum sl_trigger_state *before, struct sl_err *err)
{
    struct sl_catalog_trigger *t = NULL;
    int own = 0, in_tx = 0;

    if ((unsigned)state >= SL_ARRAY_LEN(state_names)) {
        sl_err_set(err, SL_ECONFIG, "bad trigger state");
        goto fail;
    }
    if (sl_catalog_tx_begin(c, &own, err) != SL_OK)
        goto fail;
    in_tx = 1;
    if (get_trigger(c, SL_CATALOG_SQL_TRIGGER_GET_LOCKED, name, &t, err) != SL_OK)
        goto fail;
    if (before)
        *before = t->state;
    if (t->state != state) {
        const char *args[] = {name, sl_trigger_state_name(state)};
        if (sl_catalog_exec(c->pg, SL_CATALOG_SQL_TRIGGER_SET_STATE, 2, args, err) != SL_OK)
            goto fail;
        if (state == SL_TRIGGER_ACTIVATED) {
            char key[SL_SCHEDULE_KEY_MAX], ms[24];
            if (sl_schedule_key(SL_SCHEDULE_TRIGGER, name, key, err) != SL_OK)
                goto fail;
            const char *sargs[] = {key, sl_catalog_i64_str(now_ms, ms)};
            if (sl_catalog_exec(c->pg, SL_CATALOG_SQL_SCHEDULE_RESET, 2, sargs, err) != SL_OK)
                goto fail;
        }
    }
    sl_catalog_trigger_free(t);
    t = NULL;
    in_tx = 0;
    if (sl_catalog_tx_commit(c, own, err) != SL_OK)
        goto fail;
    return SL_OK;
fail:
    sl_catalog_trigger_free(t);
    if (in_tx)
        sl_catalog_tx_rollback(c, own);
    if (err->code == SL_ENOTFOUND)
        return err->code;
    return sl_err_prefix(err, "set state of trigger \"%s\"", name ? name : "");
}

int sl_catalog_trigger_delete(struct sl_catalog *c, const char *name, int *deleted,
                              struct sl_err *err)
{
    PGresult *r = NULL;
    int own = 0, in_tx = 0, found;
    char key[SL_SCHEDULE_KEY_MAX], sched_prefix[SL_SCHEDULE_KEY_MAX + 1],
        cond_prefix[SL_SCHEDULE_KEY_MAX + 1];

    if (deleted)
        *deleted = 0;
    if (check_name("trigger", name, err) != SL_OK ||
        sl_schedule_key(SL_SCHEDULE_TRIGGER, name, key, err) != SL_OK)
        goto fail;
    snprintf(sched_prefix, sizeof sched_prefix, "sched:%s:", name);
    snprintf(cond_prefix, sizeof cond_prefix, "cond:%s:", name);
    if (sl_catalog_tx_begin(c, &own, err) != SL_OK)
        goto fail;
    in_tx = 1;
    const char *args[] = {name};
    r = sl_catalog_query(c->pg, SL_CATALOG_SQL_TRIGGER_DELETE, 1, args, err);
    if (!r)
        goto fail;
    found = PQntuples(r) > 0;
    PQclear(r);
    r = NULL;
    const char *kargs[] = {key};
    const char *fargs[] = {sched_prefix, cond_prefix};
    if (sl_catalog_exec(c->pg, SL_CATALOG_SQL_SCHEDULE_DELETE, 1, kargs, err) != SL_OK ||
        sl_catalog_exec(c->pg, SL_CATALOG_SQL_FIRE_DELETE_OF, 2, fargs, err) != SL_OK)
        goto fail;
    in_tx = 0;
    if (sl_catalog_tx_commit(c, own, err) != SL_OK)
        goto fail;
    if (deleted)
        *deleted = found;
    return SL_OK;
fail:
    PQclear(r);
    if (in_tx)
        sl_catalog_tx_rollback(c, own);
    return sl_err_prefix(err, "delete trigger \"%s\"", name ? name : "");
}

/* ---- Starting actions ---- */

/* Compact JSON text of j (owned: sl_free), NULL on OOM. */
static char *json_text(const json_t *j)
{
    char *text = json_dumps(j, JSON_COMPACT);
    char *out = text ? sl_strdup(text) : NULL;
    free(text); /* jansson's allocator */
    return out;
}

/* Starts each Glue Action of the array actions, each in its own savepoint:
 * trigger_name (NULL: none), predecessors (JSON array text, NULL = []), and
 * idempotency key "<key>:<index>" when key is given. strict: the first action
 * that cannot start fails the call with its error (the caller rolls back);
 * else it is recorded with its error and the next one is tried. *runs_out =
 * what each action did (owned: json_decref). Fails only on OOM, a broken
 * connection (strict or not) or, when strict, an action. */
static int start_actions(struct sl_catalog *c, const char *trigger_name, const json_t *actions,
                         const char *predecessors, const char *key, int strict,
                         json_t **runs_out, struct sl_err *err)
{
    json_t *runs = json_array();
    char idem[FIRE_KEY_MAX + 24];

    *runs_out = NULL;
    if (!runs)
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    for (size_t i = 0; i < json_array_size(actions); i++) {
        const json_t *a = json_array_get(actions, i);
        const json_t *job = json_object_get(a, "JobName");
        const json_t *crawler = json_object_get(a, "CrawlerName");
        const json_t *args = json_object_get(a, "Arguments");
        const json_t *timeout = json_object_get(a, "Timeout");
        struct sl_run_request rq = {0};
        char run_id[SL_RUN_ID_MAX + 1] = "";
        char *args_text = NULL, *extra_text = NULL;
        struct sl_err aerr = {0};
        int own = 0, rc;

        rq.kind = json_is_string(job) ? SL_RUN_JOB : SL_RUN_CRAWLER;
        rq.job_name = json_string_value(json_is_string(job) ? job : crawler);
        const char *member = rq.kind == SL_RUN_JOB ? "JobName" : "CrawlerName";
        if (!rq.job_name) {
            rc = sl_err_set(&aerr, SL_ECONFIG, "action %zu names no job or crawler", i);
            goto recorded;
        }
        if (json_is_object(args) && !(args_text = json_text(args))) {
            json_decref(runs);
            return sl_err_set(err, SL_ENOMEM, "out of memory");
        }
        json_t *extra = json_object();
        const char *extra_keys[] = {"SecurityConfiguration", "NotificationProperty"};
        for (size_t k = 0; extra && k < SL_ARRAY_LEN(extra_keys); k++) {
            json_t *v = json_object_get(a, extra_keys[k]);
            if (v && !json_is_null(v))
                json_object_set(extra, extra_keys[k], v);
        }
        extra_text = extra ? json_text(extra) : NULL;
        json_decref(extra);
        if (!extra_text) {
            sl_free(args_text);
            json_decref(runs);
            return sl_err_set(err, SL_ENOMEM, "out of memory");
        }
        rq.arguments = args_text;
        rq.extra = extra_text;
        rq.timeout_minutes = json_is_integer(timeout) && json_integer_value(timeout) > 0 &&
                                     json_integer_value(timeout) <= 0x7fffffff
                                 ? (int)json_integer_value(timeout)
                                 : 0;
        rq.trigger_name = trigger_name;
        rq.predecessors = rq.kind == SL_RUN_JOB ? predecessors : NULL;
        if (key) {
            snprintf(idem, sizeof idem, "%s:%zu", key, i);
            rq.idempotency_key = idem;
        }
        rc = sl_catalog_tx_begin(c, &own, &aerr);
        if (rc == SL_OK) {
            rc = sl_catalog_run_start(c, &rq, run_id, NULL, &aerr);
            if (rc == SL_OK)
                rc = sl_catalog_tx_commit(c, own, &aerr);
            else
                sl_catalog_tx_rollback(c, own);
        }
        sl_free(args_text);
        sl_free(extra_text);
    recorded:
        if (rc != SL_OK && (strict || aerr.code == SL_ENOMEM ||
                            PQstatus(c->pg) != CONNECTION_OK)) {
            *err = aerr;
            json_decref(runs);
            return err->code;
        }
        json_t *o = rc == SL_OK ? json_pack("{s:s?,s:s}", member, rq.job_name, "RunId", run_id)
                                : json_pack("{s:s?,s:s}", member, rq.job_name, "Error", aerr.msg);
        if (!o || json_array_append_new(runs, o) != 0) {
            json_decref(runs);
            return sl_err_set(err, SL_ENOMEM, "out of memory");
        }
    }
    *runs_out = runs;
    return SL_OK;
}

/* Logs (warn) every action of runs that could not start. */
static void log_failed_actions(const char *what, const json_t *runs)
{
    size_t i;
    json_t *o;

    json_array_foreach(runs, i, o)
    {
        const json_t *e = json_object_get(o, "Error");
        if (!e)
            continue;
        const char *job = json_string_value(json_object_get(o, "JobName"));
        const char *crawler = json_string_value(json_object_get(o, "CrawlerName"));
        sl_log(SL_LOG_WARN, "[%s] action %zu (%s \"%s\") not started: %s", what, i,
               job ? "job" : "crawler", job ? job : crawler ? crawler : "",
               json_string_value(e));
    }
}

int sl_catalog_trigger_start_now(struct sl_catalog *c, const char *name, char **runs,
                                 struct sl_err *err)
{
    struct sl_catalog_trigger *t = NULL;
    json_t *actions = NULL, *done = NULL;
    int own = 0, in_tx = 0;

    if (runs)
        *runs = NULL;
    if (sl_catalog_tx_begin(c, &own, err) != SL_OK)
        goto fail;
    in_tx = 1;
    if (get_trigger(c, SL_CATALOG_SQL_TRIGGER_GET_LOCKED, name, &t, err) != SL_OK)
        goto fail;
    if (t->type != SL_TRIGGER_ON_DEMAND) {
        sl_err_set(err, SL_ECONFIG, "trigger \"%s\" is %s, not ON_DEMAND", name,
                   sl_trigger_type_name(t->type));
        goto fail;
    }
    actions = json_loads(t->actions, 0, NULL);
    if (!json_is_array(actions)) {
        sl_err_set(err, SL_EINTERNAL, "trigger \"%s\" has no action array", name);
        goto fail;
    }
    if (start_actions(c, name, actions, NULL, NULL, 1, &done, err) != SL_OK)
        goto fail;
    const char *args[] = {name};
    if (sl_catalog_exec(c->pg, SL_CATALOG_SQL_TRIGGER_FIRED, 1, args, err) != SL_OK)
        goto fail;
    in_tx = 0;
    if (sl_catalog_tx_commit(c, own, err) != SL_OK)
        goto fail;
    if (runs && !(*runs = json_text(done))) {
        sl_err_set(err, SL_ENOMEM, "out of memory");
        goto fail;
    }
    json_decref(done);
    json_decref(actions);
    sl_catalog_trigger_free(t);
    return SL_OK;
fail:
    if (in_tx)
        sl_catalog_tx_rollback(c, own);
    json_decref(done);
    json_decref(actions);
    sl_catalog_trigger_free(t);
    if (err->code == SL_ENOTFOUND || err->code == SL_ELIMIT)
        return err->code;
    return sl_err_prefix(err, "start trigger \"%s\"", name ? name : "");
}

/* ---- Conditional triggers ---- */

/* The crawl state (Glue CrawlState) a crawler run in state s reads as; NULL
 * while it is not terminal. */
static const char *crawl_state_of(enum sl_run_state s)
{
    switch (s) {
    case SL_RUN_SUCCEEDED: return "SUCCEEDED";
    case SL_RUN_FAILED:
    case SL_RUN_TIMEOUT: return "FAILED";
    case SL_RUN_STOPPED: return "CANCELLED";
    case SL_RUN_ERROR: return "ERROR";
    default: return NULL;
    }
}

/* One condition of a predicate, with the latest terminal run it watches. */
struct cond {
    enum sl_run_kind kind;
    const char *name;  /* borrowed from the predicate JSON */
    const char *state; /* wanted: a JobRunState or a CrawlState */
    struct sl_run *latest; /* owned; NULL when none */
    int holds;
};

/* Does run r (of kind) satisfy wanted? */
static int state_matches(enum sl_run_kind kind, const struct sl_run *r, const char *wanted)
{
    if (!r || !wanted)
        return 0;
    const char *have = kind == SL_RUN_JOB ? sl_run_state_name(r->state) : crawl_state_of(r->state);
    return have && strcmp(have, wanted) == 0;
}

/* Fires trigger name for the event run: inserts the fire row and starts its
 * actions (failures logged and recorded). *fired = 0 when it fired before. */
static int fire_conditional(struct sl_catalog *c, const char *name, const char *actions_text,
                            const struct sl_run *event, const json_t *preds, struct sl_err *err)
{
    char key[FIRE_KEY_MAX];
    json_t *actions = NULL, *runs = NULL;
    char *preds_text = NULL, *runs_text = NULL;
    PGresult *r = NULL;
    int rc = SL_OK;

    snprintf(key, sizeof key, "cond:%s:%s", name, event->id);
    const char *kargs[] = {key};
    r = sl_catalog_query(c->pg, SL_CATALOG_SQL_FIRE_INSERT, 1, kargs, err);
    if (!r)
        return err->code;
    int inserted = PQntuples(r) > 0;
    PQclear(r);
    if (!inserted)
        return SL_OK;
    actions = json_loads(actions_text, 0, NULL);
    preds_text = json_text(preds);
    if (!json_is_array(actions) || !preds_text) {
        rc = sl_err_set(err, actions ? SL_ENOMEM : SL_EINTERNAL,
                        "trigger \"%s\": cannot read its actions", name);
        goto done;
    }
    if ((rc = start_actions(c, name, actions, preds_text, key, 0, &runs, err)) != SL_OK)
        goto done;
    if (!(runs_text = json_text(runs))) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto done;
    }
    const char *fargs[] = {key, runs_text};
    const char *targs[] = {name};
    if ((rc = sl_catalog_exec(c->pg, SL_CATALOG_SQL_FIRE_SET_RUNS, 2, fargs, err)) != SL_OK ||
        (rc = sl_catalog_exec(c->pg, SL_CATALOG_SQL_TRIGGER_FIRED, 1, targs, err)) != SL_OK)
        goto done;
    char what[SL_TRIGGER_NAME_MAX + 16];
    snprintf(what, sizeof what, "trigger:%s", name);
    sl_log(SL_LOG_INFO, "[%s] fired by run %s of %s \"%s\": %s", what, event->id,
           event->kind == SL_RUN_JOB ? "job" : "crawler", event->job_name, runs_text);
    log_failed_actions(what, runs);
done:
    sl_free(runs_text);
    sl_free(preds_text);
    json_decref(runs);
    json_decref(actions);
    return rc;
}

/* Evaluates one watching trigger for run done (spec §3.8 "Evaluation"). */
static int evaluate(struct sl_catalog *c, const struct sl_run *done, const char *name,
                    const char *predicate, const char *actions, int64_t last_fired_ms,
                    struct sl_err *err)
{
    json_t *pred = json_loads(predicate ? predicate : "null", 0, NULL);
    const json_t *conds = json_object_get(pred, "Conditions");
    const char *logical = json_string_value(json_object_get(pred, "Logical"));
    size_t n = json_array_size(conds);
    struct cond *cs = NULL;
    struct sl_run *event = NULL;
    json_t *preds = NULL;
    int rc = SL_OK, event_holds = 0, all_hold = 1, fresh = 0;

    if (n == 0)
        goto done; /* nothing to watch: never fires */
    cs = sl_calloc(n, sizeof *cs);
    preds = json_array();
    if (!cs || !preds) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *o = json_array_get(conds, i);
        const char *job = json_string_value(json_object_get(o, "JobName"));
        const char *crawler = json_string_value(json_object_get(o, "CrawlerName"));
        cs[i].kind = job ? SL_RUN_JOB : SL_RUN_CRAWLER;
        cs[i].name = job ? job : crawler;
        cs[i].state = json_string_value(json_object_get(o, job ? "State" : "CrawlState"));
        if (!cs[i].name) {
            all_hold = 0;
            continue;
        }
        rc = sl_catalog_run_latest(c, cs[i].kind, cs[i].name, 1, &cs[i].latest, err);
        if (rc != SL_OK)
            goto done;
        cs[i].holds = state_matches(cs[i].kind, cs[i].latest, cs[i].state);
        all_hold &= cs[i].holds;
        if (cs[i].holds && cs[i].latest->completed_ms > last_fired_ms)
            fresh = 1;
        if (cs[i].kind == done->kind && strcmp(cs[i].name, done->job_name) == 0) {
            event_holds |= cs[i].holds;
            if (!event)
                event = cs[i].latest;
        }
    }
    if (!event)
        goto done; /* the watched run vanished meanwhile */
    int any = logical && strcmp(logical, "ANY") == 0;
    int fire = any ? event_holds : (all_hold && (fresh || last_fired_ms == 0));
    if (!fire)
        goto done;
    for (size_t i = 0; i < n; i++) {
        const struct sl_run *s = cs[i].latest;
        if (!cs[i].holds || s->kind != SL_RUN_JOB || (any && s != event))
            continue;
        int dup = 0;
        for (size_t k = 0; k < i; k++)
            dup |= cs[k].latest && cs[k].holds && strcmp(cs[k].latest->id, s->id) == 0;
        if (dup)
            continue;
        if (json_array_append_new(preds, json_pack("{s:s,s:s}", "JobName", s->job_name, "RunId",
                                                   s->id)) != 0) {
            rc = sl_err_set(err, SL_ENOMEM, "out of memory");
            goto done;
        }
    }
    rc = fire_conditional(c, name, actions, event, preds, err);
done:
    for (size_t i = 0; cs && i < n; i++)
        sl_run_free(cs[i].latest);
    sl_free(cs);
    json_decref(preds);
    json_decref(pred);
    return rc;
}

int sl_catalog_trigger_on_run_done(struct sl_catalog *c, const struct sl_run *done,
                                   struct sl_err *err)
{
    PGresult *r = NULL;
    int own = 0, in_tx = 0;

    if (!done || !done->job_name || !done->id || !sl_run_state_terminal(done->state))
        return SL_OK;
    if (sl_catalog_tx_begin(c, &own, err) != SL_OK)
        goto fail;
    in_tx = 1;
    const char *args[] = {done->kind == SL_RUN_JOB ? "JobName" : "CrawlerName", done->job_name};
    r = sl_catalog_query(c->pg, SL_CATALOG_SQL_TRIGGER_WATCHERS, 2, args, err);
    if (!r)
        goto fail;
    for (int i = 0; i < PQntuples(r); i++) {
        if (evaluate(c, done, PQgetvalue(r, i, 0),
                     PQgetisnull(r, i, 1) ? NULL : PQgetvalue(r, i, 1), PQgetvalue(r, i, 2),
                     sl_catalog_get_i64(r, i, 3), err) != SL_OK) {
            sl_err_prefix(err, "trigger \"%s\"", PQgetvalue(r, i, 0));
            goto fail;
        }
    }
    PQclear(r);
    r = NULL;
    in_tx = 0;
    if (sl_catalog_tx_commit(c, own, err) != SL_OK)
        goto fail;
    return SL_OK;
fail:
    PQclear(r);
    if (in_tx)
        sl_catalog_tx_rollback(c, own);
    return sl_err_prefix(err, "conditional triggers after run %s of \"%s\"", done->id,
                         done->job_name);
}

/* ---- Schedules ---- */

void sl_schedule_list_free(struct sl_schedule *s, size_t n_schedules)
{
    for (size_t i = 0; s && i < n_schedules; i++) {
        sl_free(s[i].name);
        sl_free(s[i].schedule);
    }
    sl_free(s);
}

int sl_catalog_schedule_list(struct sl_catalog *c, struct sl_schedule **out, size_t *n_out,
                             struct sl_err *err)
{
    struct sl_schedule *s = NULL;
    size_t n = 0;
    PGresult *r = sl_catalog_query(c->pg, SL_CATALOG_SQL_SCHEDULE_LIST, 0, NULL, err);

    *out = NULL;
    *n_out = 0;
    if (!r)
        goto fail;
    s = sl_calloc((size_t)PQntuples(r) + 1, sizeof *s);
    if (!s) {
        sl_err_set(err, SL_ENOMEM, "out of memory");
        goto fail;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        n++;
        int64_t k = sl_catalog_get_i64(r, i, 0);
        s[i].kind = k == 2 ? SL_SCHEDULE_CRAWLER : k == 1 ? SL_SCHEDULE_JOB : SL_SCHEDULE_TRIGGER;
        s[i].checked_until_ms = sl_catalog_get_i64(r, i, 3);
        if (sl_catalog_get_str(r, i, 1, &s[i].name, err) != SL_OK ||
            sl_catalog_get_str(r, i, 2, &s[i].schedule, err) != SL_OK)
            goto fail;
    }
    PQclear(r);
    *out = s;
    *n_out = n;
    return SL_OK;
fail:
    PQclear(r);
    sl_schedule_list_free(s, n);
    return sl_err_prefix(err, "list schedules");
}

/* Runs sql (SCHEDULE_INIT, _RESET or _ADVANCE) for the key of (kind, name). */
static int schedule_write(struct sl_catalog *c, const char *sql, enum sl_schedule_kind kind,
                          const char *name, int64_t ms, struct sl_err *err)
{
    char key[SL_SCHEDULE_KEY_MAX], v[24];

    if (sl_schedule_key(kind, name, key, err) != SL_OK)
        return err->code;
    const char *args[] = {key, sl_catalog_i64_str(ms, v)};
    if (sl_catalog_exec(c->pg, sql, 2, args, err) != SL_OK)
        return sl_err_prefix(err, "schedule state of \"%s\"", key);
    return SL_OK;
}

int sl_catalog_schedule_init(struct sl_catalog *c, enum sl_schedule_kind kind, const char *name,
                             int64_t now_ms, struct sl_err *err)
{
    return schedule_write(c, SL_CATALOG_SQL_SCHEDULE_INIT, kind, name, now_ms, err);
}

int sl_catalog_schedule_advance(struct sl_catalog *c, enum sl_schedule_kind kind,
                                const char *name, int64_t until_ms, struct sl_err *err)
{
    return schedule_write(c, SL_CATALOG_SQL_SCHEDULE_ADVANCE, kind, name, until_ms, err);
}

int sl_catalog_schedule_get(struct sl_catalog *c, enum sl_schedule_kind kind, const char *name,
                            int64_t *checked_until_ms, struct sl_err *err)
{
    char key[SL_SCHEDULE_KEY_MAX];

    *checked_until_ms = 0;
    if (sl_schedule_key(kind, name, key, err) != SL_OK)
        return err->code;
    const char *args[] = {key};
    PGresult *r = sl_catalog_query(c->pg, SL_CATALOG_SQL_SCHEDULE_GET, 1, args, err);
    if (!r)
        return sl_err_prefix(err, "schedule state of \"%s\"", key);
    if (PQntuples(r) > 0)
        *checked_until_ms = sl_catalog_get_i64(r, 0, 0);
    PQclear(r);
    return SL_OK;
}

int sl_catalog_schedule_fire(struct sl_catalog *c, enum sl_schedule_kind kind, const char *name,
                             int64_t fire_ms, int *fired, char **runs, struct sl_err *err)
{
    char key[SL_SCHEDULE_KEY_MAX], fire_key[FIRE_KEY_MAX], ms[24];
    PGresult *r = NULL;
    json_t *actions = NULL, *done = NULL;
    char *runs_text = NULL;
    int own = 0, in_tx = 0;

    if (fired)
        *fired = 0;
    if (runs)
        *runs = NULL;
    if ((kind != SL_SCHEDULE_CRAWLER &&
         check_name(kind == SL_SCHEDULE_JOB ? "job" : "trigger", name, err) != SL_OK) ||
        sl_schedule_key(kind, name, key, err) != SL_OK)
        goto fail;
    /* floor division: fire times before 1970 do not occur, but stay exact */
    int64_t epoch_s = fire_ms >= 0 ? fire_ms / 1000 : -((-fire_ms + 999) / 1000);
    snprintf(fire_key, sizeof fire_key, "%s:%lld", key, (long long)epoch_s);
    if (sl_catalog_tx_begin(c, &own, err) != SL_OK)
        goto fail;
    in_tx = 1;

    /* Lock the trigger first: a second server firing the same time waits here
     * for the first one's commit, then finds the fire row taken. */
    const char *nargs[] = {name};
    r = sl_catalog_query(c->pg,
                         kind == SL_SCHEDULE_JOB       ? SL_CATALOG_SQL_JOB_HAS_SCHEDULE
                         : kind == SL_SCHEDULE_CRAWLER ? SL_CATALOG_SQL_CRAWLER_HAS_SCHEDULE
                                                       : SL_CATALOG_SQL_TRIGGER_SCHEDULED_ACTIONS,
                         1, nargs, err);
    if (!r)
        goto fail;
    int live = PQntuples(r) > 0;
    if (live && kind == SL_SCHEDULE_TRIGGER)
        actions = json_loads(PQgetvalue(r, 0, 0), 0, NULL);
    else if (live)
        actions = json_pack("[{s:s}]", kind == SL_SCHEDULE_CRAWLER ? "CrawlerName" : "JobName", name);
    PQclear(r);
    r = NULL;
    if (live && !json_is_array(actions)) {
        sl_err_set(err, SL_ENOMEM, "out of memory");
        goto fail;
    }
    if (live) {
        const char *kargs[] = {fire_key};
        r = sl_catalog_query(c->pg, SL_CATALOG_SQL_FIRE_INSERT, 1, kargs, err);
        if (!r)
            goto fail;
        int inserted = PQntuples(r) > 0;
        PQclear(r);
        r = NULL;
        if (inserted) {
            if (start_actions(c, kind == SL_SCHEDULE_TRIGGER ? name : NULL, actions, NULL,
                              fire_key, 0, &done, err) != SL_OK)
                goto fail;
            if (!(runs_text = json_text(done))) {
                sl_err_set(err, SL_ENOMEM, "out of memory");
                goto fail;
            }
            const char *fargs[] = {fire_key, runs_text};
            if (sl_catalog_exec(c->pg, SL_CATALOG_SQL_FIRE_SET_RUNS, 2, fargs, err) != SL_OK)
                goto fail;
            if (kind == SL_SCHEDULE_TRIGGER &&
                sl_catalog_exec(c->pg, SL_CATALOG_SQL_TRIGGER_FIRED, 1, nargs, err) != SL_OK)
                goto fail;
        }
    }
    const char *sargs[] = {key, sl_catalog_i64_str(fire_ms, ms)};
    if (sl_catalog_exec(c->pg, SL_CATALOG_SQL_SCHEDULE_ADVANCE, 2, sargs, err) != SL_OK)
        goto fail;
    in_tx = 0;
    if (sl_catalog_tx_commit(c, own, err) != SL_OK)
        goto fail;
    if (fired)
        *fired = runs_text != NULL;
    if (runs)
        *runs = runs_text;
    else
        sl_free(runs_text);
    json_decref(done);
    json_decref(actions);
    return SL_OK;
fail:
    PQclear(r);
    if (in_tx)
        sl_catalog_tx_rollback(c, own);
    sl_free(runs_text);
    json_decref(done);
    json_decref(actions);
    return sl_err_prefix(err, "fire schedule \"%s\" at %lld", key, (long long)fire_ms);
}
