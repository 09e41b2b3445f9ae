/*
 * scheduler/api_triggers.c - the Glue trigger operations of the HTTP API
 * (spec/aws-api.md §3.8): CreateTrigger, GetTrigger, GetTriggers (NextToken,
 * DependentJobName), StartTrigger, StopTrigger and DeleteTrigger, over
 * runtime/catalog_trigger.h. Member validation follows §1.6 as api_jobs.c
 * does: wrong JSON type -> SerializationException; missing, out of range,
 * unsupported or badly formed -> InvalidInputException.
 *
 * sluice supports SCHEDULED (a Glue cron(...) Schedule, checked with
 * scheduler/cron.h), CONDITIONAL (a Predicate on job or crawl states) and
 * ON_DEMAND triggers; EVENT triggers, WorkflowName and
 * EventBatchingCondition are refused. States: CREATED, ACTIVATED,
 * DEACTIVATED. StartTrigger of an ON_DEMAND trigger starts its actions at
 * once (all or none) and leaves it CREATED. When a SCHEDULED trigger fires
 * is decided by scheduler/sched.c; CONDITIONAL triggers are evaluated when a
 * run ends (sl_catalog_trigger_on_run_done).
 */
#include <string.h>
#include <time.h>

#include "runtime/alloc.h"
#include "runtime/catalog_trigger.h"
#include "runtime/log.h"
#include "scheduler/api.h"
#include "scheduler/cron.h"

#define NAME_MAX_LEN    255  /* NameString (§3) */
#define DESC_MAX_LEN    2048 /* Trigger.Description */
#define SCHEDULE_MAX    SL_CRON_TEXT_MAX
#define PAGE_DEFAULT    100  /* MaxResults when absent (§1.8) */
#define PAGE_MAX        1000 /* GetTriggers MaxResults maximum */
#define INT_MEMBER_MAX  2147483647LL

#define INVALID_INPUT "InvalidInputException"
#define NOT_FOUND     "EntityNotFoundException"

/* Condition states that can be watched (§3.8). */
static const char *const job_states[] = {"SUCCEEDED", "STOPPED", "FAILED", "TIMEOUT"};
static const char *const crawl_states[] = {"SUCCEEDED", "FAILED", "CANCELLED"};
/* Every JobRunState and CrawlState, to tell "not watchable" from "unknown". */
static const char *const all_job_states[] = {"STARTING", "RUNNING", "STOPPING", "STOPPED",
                                             "SUCCEEDED", "FAILED", "TIMEOUT", "ERROR",
                                             "WAITING", "EXPIRED"};
static const char *const all_crawl_states[] = {"RUNNING", "CANCELLING", "CANCELLED",
                                               "SUCCEEDED", "FAILED", "ERROR"};

static int in_list(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; s && i < n; i++)
        if (strcmp(s, list[i]) == 0)
            return 1;
    return 0;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sets key of o to v (a new reference); nonzero on failure. */
static int put_new(json_t *o, const char *key, json_t *v)
{
    return v ? json_object_set_new(o, key, v) : -1;
}

/* Compact JSON text of j (owned: sl_free), NULL on OOM. */
static char *json_text(const json_t *j)
{
    char *text = json_dumps(j, JSON_COMPACT);
    char *out = text ? sl_strdup(text) : NULL;
    free(text); /* jansson's allocator */
    return out;
}

/* ---- Request members ---- */

/* A string-to-string map member (absent is fine). */
static int check_string_map(const json_t *in, const char *key, struct sl_api_error *e)
{
    const json_t *m;
    const char *k;
    json_t *v;

    if (sl_api_get_object(in, key, &m, e) != SL_OK)
        return SL_ECONFIG;
    if (m)
        json_object_foreach((json_t *)m, k, v)
        {
            if (!json_is_string(v))
                return sl_api_fail_type(e, key, "a map of strings");
        }
    return SL_OK;
}

/* Validates the Actions member and returns the array to store (owned, only
 * the Action members sluice knows); each action's job or crawler must exist. */
static int actions_from_request(struct sl_api_ctx *ctx, const json_t *in, json_t **out,
                                struct sl_api_error *e)
{
    const json_t *list = json_object_get(in, "Actions");
    json_t *actions = NULL;
    size_t i;
    const json_t *a;

    *out = NULL;
    if (!list || json_is_null(list))
        return sl_api_fail_null(e, "Actions");
    if (!json_is_array(list))
        return sl_api_fail_type(e, "Actions", "a list");
    if (json_array_size(list) == 0)
        return sl_api_fail(e, 400, INVALID_INPUT, "Actions must name at least one job or crawler");
    struct sl_catalog *c = sl_api_catalog(ctx, e);
    if (!c)
        return SL_ECONFIG;
    actions = json_array();
    if (!actions)
        return sl_api_oom(e);
    json_array_foreach(list, i, a)
    {
        const char *job, *crawler, *sec;
        const json_t *notify;
        long long timeout, delay;
        struct sl_err err = {0};

        if (!json_is_object(a)) {
            sl_api_fail_type(e, "Actions", "a list of Action objects");
            goto fail;
        }
        if (sl_api_get_string(a, "JobName", 0, 1, NAME_MAX_LEN, 1, &job, e) != SL_OK ||
            sl_api_get_string(a, "CrawlerName", 0, 1, NAME_MAX_LEN, 1, &crawler, e) != SL_OK ||
            check_string_map(a, "Arguments", e) != SL_OK ||
            sl_api_get_int(a, "Timeout", 1, INT_MEMBER_MAX, 0, &timeout, e) != SL_OK ||
            sl_api_get_string(a, "SecurityConfiguration", 0, 1, NAME_MAX_LEN, 0, &sec, e) !=
                SL_OK ||
            sl_api_get_object(a, "NotificationProperty", &notify, e) != SL_OK)
            goto fail;
        if (notify &&
            sl_api_get_int(notify, "NotifyDelayAfter", 1, INT_MEMBER_MAX, 0, &delay, e) != SL_OK)
            goto fail;
        if (!job == !crawler) {
            sl_api_fail(e, 400, INVALID_INPUT,
                        "Action %zu must name exactly one of JobName and CrawlerName", i + 1);
            goto fail;
        }
        if (job) {
            struct sl_catalog_job *j = NULL;
            if (sl_catalog_job_get(c, job, &j, &err) != SL_OK) {
                if (err.code == SL_ENOTFOUND || err.code == SL_ECONFIG)
                    sl_api_fail(e, 400, NOT_FOUND, "Job %s not found", job);
                else
                    sl_api_catalog_fail(ctx, "CreateTrigger", &err, e);
                goto fail;
            }
            sl_catalog_job_free(j);
        } else {
            struct sl_catalog_crawler *cr = NULL;
            if (sl_catalog_crawler_get(c, crawler, &cr, &err) != SL_OK) {
                if (err.code == SL_ENOTFOUND || err.code == SL_ECONFIG)
                    sl_api_fail(e, 400, NOT_FOUND, "Crawler %s not found", crawler);
                else
                    sl_api_catalog_fail(ctx, "CreateTrigger", &err, e);
                goto fail;
            }
            sl_catalog_crawler_free(cr);
        }
        json_t *o = json_object();
        static const char *const keep[] = {"JobName", "CrawlerName", "Arguments", "Timeout",
                                           "SecurityConfiguration", "NotificationProperty"};
        for (size_t k = 0; o && k < SL_ARRAY_LEN(keep); k++) {
            json_t *v = json_object_get(a, keep[k]);
            if (v && !json_is_null(v) && json_object_set(o, keep[k], v) != 0) {
                json_decref(o);
                o = NULL;
            }
        }
        if (!o || json_array_append_new(actions, o) != 0) {
            sl_api_oom(e);
            goto fail;
        }
    }
    *out = actions;
    return SL_OK;
fail:
    json_decref(actions);
    return SL_ECONFIG;
}

/* Validates Predicate (spec §3.8) and returns the object to store (owned). */
static int predicate_from_request(const json_t *pred, json_t **out, struct sl_api_error *e)
{
    const char *logical;
    const json_t *conds = json_object_get(pred, "Conditions");
    json_t *keep = NULL, *list = NULL;
    size_t i;
    const json_t *cd;

    *out = NULL;
    if (sl_api_get_string(pred, "Logical", 0, 0, 16, 0, &logical, e) != SL_OK)
        return SL_ECONFIG;
    if (logical && strcmp(logical, "AND") != 0 && strcmp(logical, "ANY") != 0)
        return sl_api_fail(e, 400, INVALID_INPUT,
                           "1 validation error detected: Value '%s' at 'Predicate.Logical' failed "
                           "to satisfy constraint: Member must satisfy enum value set: [AND, ANY]",
                           logical);
    if (conds && !json_is_null(conds) && !json_is_array(conds))
        return sl_api_fail_type(e, "Predicate.Conditions", "a list");
    if (json_array_size(conds) == 0)
        return sl_api_fail(e, 400, INVALID_INPUT, "Predicate must have at least one condition");
    if (json_array_size(conds) > 1 && !logical)
        return sl_api_fail(e, 400, INVALID_INPUT,
                           "Predicate.Logical (AND or ANY) is required with more than one "
                           "condition");
    list = json_array();
    keep = json_object();
    if (!list || !keep)
        goto oom;
    json_array_foreach(conds, i, cd)
    {
        const char *op, *job, *state, *crawler, *crawl_state;
        if (!json_is_object(cd)) {
            sl_api_fail_type(e, "Predicate.Conditions", "a list of Condition objects");
            goto fail;
        }
        if (sl_api_get_string(cd, "LogicalOperator", 0, 0, 16, 0, &op, e) != SL_OK ||
            sl_api_get_string(cd, "JobName", 0, 1, NAME_MAX_LEN, 1, &job, e) != SL_OK ||
            sl_api_get_string(cd, "State", 0, 0, 32, 0, &state, e) != SL_OK ||
            sl_api_get_string(cd, "CrawlerName", 0, 1, NAME_MAX_LEN, 1, &crawler, e) != SL_OK ||
            sl_api_get_string(cd, "CrawlState", 0, 0, 32, 0, &crawl_state, e) != SL_OK)
            goto fail;
        if (op && strcmp(op, "EQUALS") != 0) {
            sl_api_fail(e, 400, INVALID_INPUT,
                        "1 validation error detected: Value '%s' at 'LogicalOperator' failed to "
                        "satisfy constraint: Member must satisfy enum value set: [EQUALS]",
                        op);
            goto fail;
        }
        if (!job == !crawler) {
            sl_api_fail(e, 400, INVALID_INPUT,
                        "Condition %zu must name exactly one of JobName and CrawlerName", i + 1);
            goto fail;
        }
        if (job && (!state || crawl_state)) {
            sl_api_fail(e, 400, INVALID_INPUT,
                        "Condition %zu on job %s needs State (and no CrawlState)", i + 1, job);
            goto fail;
        }
        if (crawler && (!crawl_state || state)) {
            sl_api_fail(e, 400, INVALID_INPUT,
                        "Condition %zu on crawler %s needs CrawlState (and no State)", i + 1,
                        crawler);
            goto fail;
        }
        if (job && !in_list(state, job_states, SL_ARRAY_LEN(job_states))) {
            sl_api_fail(e, 400, INVALID_INPUT,
                        in_list(state, all_job_states, SL_ARRAY_LEN(all_job_states))
                            ? "State %s cannot be watched: use SUCCEEDED, STOPPED, FAILED or "
                              "TIMEOUT"
                            : "State %s is not a job run state: use SUCCEEDED, STOPPED, FAILED "
                              "or TIMEOUT",
                        state);
            goto fail;
        }
        if (crawler && !in_list(crawl_state, crawl_states, SL_ARRAY_LEN(crawl_states))) {
            sl_api_fail(e, 400, INVALID_INPUT,
                        in_list(crawl_state, all_crawl_states, SL_ARRAY_LEN(all_crawl_states))
                            ? "CrawlState %s cannot be watched: use SUCCEEDED, FAILED or "
                              "CANCELLED"
                            : "CrawlState %s is not a crawl state: use SUCCEEDED, FAILED or "
                              "CANCELLED",
                        crawl_state);
            goto fail;
        }
        json_t *o = job ? json_pack("{s:s,s:s,s:s}", "LogicalOperator", "EQUALS", "JobName", job,
                                    "State", state)
                        : json_pack("{s:s,s:s,s:s}", "LogicalOperator", "EQUALS", "CrawlerName",
                                    crawler, "CrawlState", crawl_state);
        if (!o || json_array_append_new(list, o) != 0)
            goto oom;
    }
    if ((logical && json_object_set_new(keep, "Logical", json_string(logical)) != 0) ||
        json_object_set(keep, "Conditions", list) != 0)
        goto oom;
    json_decref(list);
    *out = keep;
    return SL_OK;
oom:
    sl_api_oom(e);
fail:
    json_decref(list);
    json_decref(keep);
    return SL_ECONFIG;
}

/* ---- Responses ---- */

/* Adds member key = the parsed JSON text (skipped when NULL). */
static int put_json_text(json_t *o, const char *key, const char *text)
{
    if (!text)
        return 0;
    return put_new(o, key, json_loads(text, 0, NULL));
}

/* The Glue Trigger object of t (owned: json_decref); NULL on OOM. */
static json_t *trigger_json(const struct sl_catalog_trigger *t)
{
    json_t *o = json_object();
    int bad = !o;

    if (!bad) {
        bad |= put_new(o, "Name", json_string(t->name));
        bad |= put_new(o, "Type", json_string(sl_trigger_type_name(t->type)));
        bad |= put_new(o, "State", json_string(sl_trigger_state_name(t->state)));
        if (t->description)
            bad |= put_new(o, "Description", json_string(t->description));
        if (t->schedule)
            bad |= put_new(o, "Schedule", json_string(t->schedule));
        bad |= put_json_text(o, "Actions", t->actions);
        bad |= put_json_text(o, "Predicate", t->predicate);
    }
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* The trigger name member (required NameString). */
static int get_name(const json_t *in, const char *key, const char **name, struct sl_api_error *e)
{
    return sl_api_get_string(in, key, 1, 1, NAME_MAX_LEN, 1, name, e);
}

/* Answers a catalog failure about trigger name of operation op. */
static int trigger_fail(struct sl_api_ctx *ctx, const char *op, const char *name,
                        const struct sl_err *err, struct sl_api_error *e)
{
    if (err->code == SL_ENOTFOUND)
        return sl_api_fail(e, 400, NOT_FOUND, "Trigger %s not found", name);
    return sl_api_catalog_fail(ctx, op, err, e);
}

/* ---- Operations ---- */

static int op_create_trigger(struct sl_api_ctx *ctx, const json_t *in, json_t **out,
                             struct sl_api_error *e)
{
    const char *name, *type_name, *desc, *schedule, *workflow;
    const json_t *pred_in, *tags, *batching;
    int start;
    enum sl_trigger_type type;
    json_t *actions = NULL, *pred = NULL;
    struct sl_catalog_trigger t = {0};
    struct sl_err err = {0};
    int rc = SL_ECONFIG;

    if (get_name(in, "Name", &name, e) != SL_OK ||
        sl_api_get_string(in, "Type", 1, 1, 32, 0, &type_name, e) != SL_OK ||
        sl_api_get_string(in, "Description", 0, 0, DESC_MAX_LEN, 0, &desc, e) != SL_OK ||
        sl_api_get_string(in, "Schedule", 0, 0, SCHEDULE_MAX, 0, &schedule, e) != SL_OK ||
        sl_api_get_object(in, "Predicate", &pred_in, e) != SL_OK ||
        sl_api_get_bool(in, "StartOnCreation", &start, e) != SL_OK ||
        sl_api_get_object(in, "Tags", &tags, e) != SL_OK ||
        sl_api_get_string(in, "WorkflowName", 0, 0, NAME_MAX_LEN, 0, &workflow, e) != SL_OK ||
        sl_api_get_object(in, "EventBatchingCondition", &batching, e) != SL_OK)
        return SL_ECONFIG;
    if (strcmp(type_name, "EVENT") == 0)
        return sl_api_fail(e, 400, INVALID_INPUT,
                           "EVENT triggers are not supported: use SCHEDULED, CONDITIONAL or "
                           "ON_DEMAND");
    if (sl_trigger_type_parse(type_name, &type) != SL_OK)
        return sl_api_fail(e, 400, INVALID_INPUT,
                           "1 validation error detected: Value '%s' at 'Type' failed to satisfy "
                           "constraint: Member must satisfy enum value set: [SCHEDULED, "
                           "CONDITIONAL, ON_DEMAND, EVENT]",
                           type_name);
    if (workflow)
        return sl_api_fail(e, 400, INVALID_INPUT, "WorkflowName is not supported: sluice has no "
                                                  "workflows");
    if (batching)
        return sl_api_fail(e, 400, INVALID_INPUT,
                           "EventBatchingCondition is not supported (EVENT triggers only)");
    if (type == SL_TRIGGER_ON_DEMAND && start)
        return sl_api_fail(e, 400, INVALID_INPUT,
                           "StartOnCreation is not supported for ON_DEMAND triggers");
    if (type == SL_TRIGGER_SCHEDULED) {
        if (!schedule || !*schedule)
            return sl_api_fail(e, 400, INVALID_INPUT, "Schedule is required for SCHEDULED "
                                                      "triggers");
        struct sl_cron *cron = NULL;
        if (sl_cron_parse_glue(schedule, &cron, &err) != SL_OK) {
            if (err.code == SL_ENOMEM)
                return sl_api_oom(e);
            return sl_api_fail(e, 400, INVALID_INPUT, "%s", err.msg);
        }
        sl_cron_free(cron);
    } else if (schedule) {
        return sl_api_fail(e, 400, INVALID_INPUT, "Schedule is only for SCHEDULED triggers");
    }
    if (type == SL_TRIGGER_CONDITIONAL) {
        if (!pred_in)
            return sl_api_fail(e, 400, INVALID_INPUT,
                               "Predicate is required for CONDITIONAL triggers");
        if (predicate_from_request(pred_in, &pred, e) != SL_OK)
            return SL_ECONFIG;
    } else if (pred_in) {
        return sl_api_fail(e, 400, INVALID_INPUT, "Predicate is only for CONDITIONAL triggers");
    }
    if (actions_from_request(ctx, in, &actions, e) != SL_OK)
        goto done;

    t.name = (char *)name;
    t.type = type;
    t.state = start ? SL_TRIGGER_ACTIVATED : SL_TRIGGER_CREATED;
    t.description = (char *)desc;
    t.schedule = (char *)schedule;
    t.predicate = pred ? json_text(pred) : NULL;
    t.actions = json_text(actions);
    if (!t.actions || (pred && !t.predicate)) {
        sl_api_oom(e);
        goto done;
    }
    struct sl_catalog *c = sl_api_catalog(ctx, e);
    if (!c)
        goto done;
    if (sl_catalog_trigger_create(c, &t, now_ms(), &err) != SL_OK) {
        if (err.code == SL_EEXIST)
            sl_api_fail(e, 400, "AlreadyExistsException", "Trigger %s already exists.", name);
        else
            sl_api_catalog_fail(ctx, "CreateTrigger", &err, e);
        goto done;
    }
    sl_log(SL_LOG_INFO, "[api req:%s] trigger \"%s\" created (%s, %s)", sl_api_request_id(ctx),
           name, type_name, sl_trigger_state_name(t.state));
    *out = json_pack("{s:s}", "Name", name);
    rc = *out ? SL_OK : sl_api_oom(e);
done:
    sl_free(t.predicate);
    sl_free(t.actions);
    json_decref(actions);
    json_decref(pred);
    return rc;
}

/* The trigger named by member Name of in, for operation op: *c = the
 * request's catalog, *t = the trigger (owned: sl_catalog_trigger_free).
 * EntityNotFoundException when there is none (also for a name the table
 * cannot hold). */
static int load_trigger(struct sl_api_ctx *ctx, const char *op, const json_t *in,
                        const char **name, struct sl_catalog **c, struct sl_catalog_trigger **t,
                        struct sl_api_error *e)
{
    struct sl_err err = {0};

    *t = NULL;
    if (get_name(in, "Name", name, e) != SL_OK || !(*c = sl_api_catalog(ctx, e)))
        return SL_ECONFIG;
    if (sl_catalog_trigger_get(*c, *name, t, &err) != SL_OK) {
        if (err.code == SL_ECONFIG)
            err.code = SL_ENOTFOUND;
        return trigger_fail(ctx, op, *name, &err, e);
    }
    return SL_OK;
}

static int op_get_trigger(struct sl_api_ctx *ctx, const json_t *in, json_t **out,
                          struct sl_api_error *e)
{
    const char *name;
    struct sl_catalog_trigger *t = NULL;
    struct sl_catalog *c = NULL;

    if (load_trigger(ctx, "GetTrigger", in, &name, &c, &t, e) != SL_OK)
        return SL_ECONFIG;
    json_t *o = trigger_json(t);
    sl_catalog_trigger_free(t);
    *out = o ? json_pack("{s:o}", "Trigger", o) : NULL;
    return *out ? SL_OK : sl_api_oom(e);
}

static int op_get_triggers(struct sl_api_ctx *ctx, const json_t *in, json_t **out,
                           struct sl_api_error *e)
{
    const char *dependent;
    long long limit;
    char *after = NULL;
    struct sl_catalog_trigger *ts = NULL;
    size_t n = 0;
    struct sl_err err = {0};
    json_t *list = NULL;
    int rc = SL_ECONFIG;

    if (sl_api_get_string(in, "DependentJobName", 0, 1, NAME_MAX_LEN, 1, &dependent, e) !=
            SL_OK ||
        sl_api_get_page(in, PAGE_MAX, PAGE_DEFAULT, &limit, &after, e) != SL_OK)
        return SL_ECONFIG;
    struct sl_catalog *c = sl_api_catalog(ctx, e);
    if (!c)
        goto done;
    if (dependent) {
        struct sl_catalog_job *j = NULL;
        if (sl_catalog_job_get(c, dependent, &j, &err) != SL_OK) {
            if (err.code == SL_ENOTFOUND || err.code == SL_ECONFIG)
                sl_api_fail(e, 400, NOT_FOUND, "Job %s not found", dependent);
            else
                sl_api_catalog_fail(ctx, "GetTriggers", &err, e);
            goto done;
        }
        sl_catalog_job_free(j);
    }
    if (sl_catalog_trigger_list(c, after, dependent, (size_t)limit + 1, &ts, &n, &err) != SL_OK) {
        sl_api_catalog_fail(ctx, "GetTriggers", &err, e);
        goto done;
    }
    int more = n > (size_t)limit;
    size_t n_page = more ? (size_t)limit : n;
    list = json_array();
    for (size_t i = 0; list && i < n_page; i++)
        if (json_array_append_new(list, trigger_json(&ts[i])) != 0) {
            json_decref(list);
            list = NULL;
        }
    *out = list ? json_pack("{s:o}", "Triggers", list) : NULL;
    if (!*out) {
        sl_api_oom(e);
        goto done;
    }
    if (more && sl_api_set_next_token(*out, ts[n_page - 1].name, e) != SL_OK)
        goto done;
    rc = SL_OK;
done:
    if (rc != SL_OK) {
        json_decref(*out);
        *out = NULL;
    }
    sl_catalog_trigger_list_free(ts, n);
    sl_free(after);
    return rc;
}

/* SCHEDULED / CONDITIONAL -> ACTIVATED (a SCHEDULED one fires nothing from
 * before now); ON_DEMAND -> its actions start now, state stays CREATED. */
static int op_start_trigger(struct sl_api_ctx *ctx, const json_t *in, json_t **out,
                            struct sl_api_error *e)
{
    const char *name;
    struct sl_catalog_trigger *t = NULL;
    struct sl_err err = {0};
    char *runs = NULL;
    struct sl_catalog *c = NULL;

    if (load_trigger(ctx, "StartTrigger", in, &name, &c, &t, e) != SL_OK)
        return SL_ECONFIG;
    enum sl_trigger_type type = t->type;
    sl_catalog_trigger_free(t);
    if (type == SL_TRIGGER_ON_DEMAND) {
        if (sl_catalog_trigger_start_now(c, name, &runs, &err) != SL_OK) {
            if (err.code == SL_ELIMIT)
                return sl_api_fail(e, 400, "ConcurrentRunsExceededException", "%s", err.msg);
            if (err.code == SL_ENOTFOUND && strstr(err.msg, "trigger \"") == err.msg)
                return trigger_fail(ctx, "StartTrigger", name, &err, e);
            return sl_api_catalog_fail(ctx, "StartTrigger", &err, e);
        }
        sl_log(SL_LOG_INFO, "[api req:%s] trigger \"%s\" started: %s", sl_api_request_id(ctx),
               name, runs ? runs : "[]");
        sl_free(runs);
    } else {
        enum sl_trigger_state before;
        if (sl_catalog_trigger_set_state(c, name, SL_TRIGGER_ACTIVATED, now_ms(), &before,
                                         &err) != SL_OK)
            return trigger_fail(ctx, "StartTrigger", name, &err, e);
        if (before != SL_TRIGGER_ACTIVATED)
            sl_log(SL_LOG_INFO, "[api req:%s] trigger \"%s\" activated", sl_api_request_id(ctx),
                   name);
    }
    *out = json_pack("{s:s}", "Name", name);
    return *out ? SL_OK : sl_api_oom(e);
}

static int op_stop_trigger(struct sl_api_ctx *ctx, const json_t *in, json_t **out,
                           struct sl_api_error *e)
{
    const char *name;
    struct sl_catalog_trigger *t = NULL;
    struct sl_err err = {0};
    struct sl_catalog *c = NULL;

    if (load_trigger(ctx, "StopTrigger", in, &name, &c, &t, e) != SL_OK)
        return SL_ECONFIG;
    enum sl_trigger_type type = t->type;
    sl_catalog_trigger_free(t);
    if (type == SL_TRIGGER_ON_DEMAND)
        return sl_api_fail(e, 400, INVALID_INPUT,
                           "Trigger %s is ON_DEMAND: there is nothing to stop", name);
    enum sl_trigger_state before;
    if (sl_catalog_trigger_set_state(c, name, SL_TRIGGER_DEACTIVATED, now_ms(), &before, &err) !=
        SL_OK)
        return trigger_fail(ctx, "StopTrigger", name, &err, e);
    if (before != SL_TRIGGER_DEACTIVATED)
        sl_log(SL_LOG_INFO, "[api req:%s] trigger \"%s\" deactivated", sl_api_request_id(ctx),
               name);
    *out = json_pack("{s:s}", "Name", name);
    return *out ? SL_OK : sl_api_oom(e);
}

/* Idempotent (§3.8): a missing trigger is not an error. */
static int op_delete_trigger(struct sl_api_ctx *ctx, const json_t *in, json_t **out,
                             struct sl_api_error *e)
{
    const char *name;
    struct sl_err err = {0};
    int deleted = 0;

    if (get_name(in, "Name", &name, e) != SL_OK)
        return SL_ECONFIG;
    struct sl_catalog *c = sl_api_catalog(ctx, e);
    if (!c)
        return SL_ECONFIG;
    if (sl_catalog_trigger_delete(c, name, &deleted, &err) != SL_OK) {
        if (err.code != SL_ECONFIG) /* a name no trigger can have: nothing to delete */
            return sl_api_catalog_fail(ctx, "DeleteTrigger", &err, e);
    }
    if (deleted)
        sl_log(SL_LOG_INFO, "[api req:%s] trigger \"%s\" deleted", sl_api_request_id(ctx), name);
    *out = json_pack("{s:s}", "Name", name);
    return *out ? SL_OK : sl_api_oom(e);
}

/* ---- Table ---- */

const struct sl_api_op sl_api_triggers_ops[] = {
    {"AWSGlue.CreateTrigger", "CreateTrigger", op_create_trigger},
    {"AWSGlue.GetTrigger", "GetTrigger", op_get_trigger},
    {"AWSGlue.GetTriggers", "GetTriggers", op_get_triggers},
    {"AWSGlue.StartTrigger", "StartTrigger", op_start_trigger},
    {"AWSGlue.StopTrigger", "StopTrigger", op_stop_trigger},
    {"AWSGlue.DeleteTrigger", "DeleteTrigger", op_delete_trigger},
    {NULL, NULL, NULL},
};
