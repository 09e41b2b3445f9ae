/*
 * scheduler/api_jobs.c - the Glue job and job bookmark operations of the HTTP
 * API (spec/aws-api.md §3.5, §3.7): CreateJob, GetJob, GetJobs, UpdateJob,
 * DeleteJob, GetJobBookmark and ResetJobBookmark, over runtime/catalog.h.
 * (The model of this spec has no ListJobs in scope.) Member validation follows
 * §1.6 as api_catalog.c does: wrong JSON type -> SerializationException;
 * missing, out of range or badly formed -> InvalidInputException. Job runs
 * (StartJobRun ...) are not here yet.
 *
 * Job members sluice honours or indexes are catalog columns; the
 * accept-and-store ones (LogUri, Connections, MaxCapacity, ...) are kept as
 * one JSON object and echoed as given. Tags are accepted and dropped (they are
 * not a Job member). GetJobs pages by name: NextToken is the base64 of the
 * last name returned, as in api_catalog.c.
 */
#include <string.h>

#include "runtime/alloc.h"
#include "runtime/log.h"
#include "scheduler/api.h"

#define NAME_MAX_LEN      255    /* NameString (§3) */
#define DESC_MAX_LEN      2048   /* Job.Description */
#define ROLE_MAX_LEN      2048   /* Role: an ARN or a name; generous */
#define SCRIPT_MAX_LEN    400000 /* Command.ScriptLocation */
#define GLUE_VER_MAX_LEN  255    /* GlueVersion */
#define RUN_ID_MAX_LEN    255    /* RunId */
#define PAGE_DEFAULT      100    /* MaxResults when absent (§1.8) */
#define JOBS_PAGE_MAX     1000   /* GetJobs MaxResults maximum */
#define TIMEOUT_DEFAULT   2880   /* minutes: Glue's default Timeout (§3.5) */
#define INT_MEMBER_MAX    2147483647LL

#define INVALID_INPUT "InvalidInputException"
#define NOT_FOUND     "EntityNotFoundException"

/* Job members accepted, stored and echoed as given (§3.5 "accept, store"). */
static const char *const extra_members[] = {
    "LogUri",        "Connections",       "AllocatedCapacity",         "MaxCapacity",
    "SecurityConfiguration", "NotificationProperty", "CodeGenConfigurationNodes",
    "ExecutionClass", "SourceControlDetails",
};

/* WorkerType values: this model's plus newer ones (spec §6 item 10). */
static const char *const worker_types[] = {
    "Standard", "G.1X", "G.2X", "G.025X", "G.4X", "G.8X", "Z.2X",
};

/* ---- Request members ---- */

/* *text = compact JSON of map member key, a string-to-string object (owned:
 * free(), jansson's allocator); NULL when absent. */
static int get_map_text(const json_t *in, const char *key, char **text, struct sl_api_error *e)
{
    const json_t *m;
    const char *k;
    json_t *v;

    *text = NULL;
    if (sl_api_get_object(in, key, &m, e) != SL_OK)
        return SL_ECONFIG;
    if (!m)
        return SL_OK;
    json_object_foreach((json_t *)m, k, v)
    {
        if (!json_is_string(v))
            return sl_api_fail_type(e, key, "a map of strings");
    }
    *text = json_dumps(m, JSON_COMPACT);
    return *text ? SL_OK : sl_api_oom(e);
}

/* ---- Job definitions from requests ---- */

/* Compact JSON text of j (owned: sl_free), NULL on OOM. */
static char *json_text(const json_t *j)
{
    char *text = json_dumps(j, JSON_COMPACT);
    char *out = text ? sl_strdup(text) : NULL;
    free(text); /* jansson's allocator */
    return out;
}

/* Fills j (zeroed by the caller; sl_catalog_job_cleanup after success or
 * failure) from the Job members of def (CreateJob's body or UpdateJob's
 * JobUpdate). Role and Command are required (§3.5), and Command must name a
 * ScriptLocation. */
static int job_from_request(const json_t *def, const char *name, struct sl_catalog_job *j,
                            struct sl_api_error *e)
{
    const char *desc, *role, *glue_version, *worker_type, *s;
    const json_t *cmd, *exec;
    long long conc, timeout, retries, workers;
    json_t *extra = NULL;

    if (sl_api_get_string(def, "Description", 0, 0, DESC_MAX_LEN, 0, &desc, e) != SL_OK ||
        sl_api_get_string(def, "Role", 1, 1, ROLE_MAX_LEN, 0, &role, e) != SL_OK ||
        sl_api_get_object(def, "Command", &cmd, e) != SL_OK ||
        sl_api_get_object(def, "ExecutionProperty", &exec, e) != SL_OK ||
        sl_api_get_int(def, "MaxRetries", 0, INT_MEMBER_MAX, 0, &retries, e) != SL_OK ||
        sl_api_get_int(def, "Timeout", 1, INT_MEMBER_MAX, 0, &timeout, e) != SL_OK ||
        sl_api_get_int(def, "NumberOfWorkers", 1, INT_MEMBER_MAX, 0, &workers, e) != SL_OK ||
        sl_api_get_string(def, "GlueVersion", 0, 1, GLUE_VER_MAX_LEN, 0, &glue_version, e) !=
            SL_OK ||
        sl_api_get_string(def, "WorkerType", 0, 0, 64, 0, &worker_type, e) != SL_OK)
        return SL_ECONFIG;
    if (!cmd)
        return sl_api_fail_null(e, "Command");
    if (sl_api_get_string(cmd, "Name", 0, 0, 255, 0, &s, e) != SL_OK ||
        sl_api_get_string(cmd, "PythonVersion", 0, 0, 255, 0, &s, e) != SL_OK ||
        sl_api_get_string(cmd, "ScriptLocation", 0, 0, SCRIPT_MAX_LEN, 0, &s, e) != SL_OK)
        return SL_ECONFIG;
    if (!s || !*s)
        return sl_api_fail(e, 400, INVALID_INPUT,
                           "Command.ScriptLocation is required: the Lua script of the job");
    conc = 1;
    if (exec && sl_api_get_int(exec, "MaxConcurrentRuns", 1, INT_MEMBER_MAX, 1, &conc, e) != SL_OK)
        return SL_ECONFIG;
    if (glue_version) {
        /* ^\w+\.\w+$ */
        const char *dot = strchr(glue_version, '.');
        int ok = dot && dot != glue_version && dot[1] && !strchr(dot + 1, '.');
        for (const char *p = glue_version; ok && *p; p++)
            ok = *p == '.' || *p == '_' || (*p >= '0' && *p <= '9') ||
                 (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z');
        if (!ok)
            return sl_api_fail(e, 400, INVALID_INPUT,
                               "1 validation error detected: Value at 'GlueVersion' failed to "
                               "satisfy constraint: Member must satisfy regular expression "
                               "pattern: ^\\w+\\.\\w+$");
    }
    if (worker_type) {
        size_t i = 0;
        while (i < SL_ARRAY_LEN(worker_types) && strcmp(worker_types[i], worker_type) != 0)
            i++;
        if (i == SL_ARRAY_LEN(worker_types))
            return sl_api_fail(e, 400, INVALID_INPUT, "WorkerType %s is not supported",
                               worker_type);
    }
    const json_t *ec = json_object_get(def, "ExecutionClass");
    if (ec && json_is_string(ec) && strcmp(json_string_value(ec), "FLEX") != 0 &&
        strcmp(json_string_value(ec), "STANDARD") != 0)
        return sl_api_fail(e, 400, INVALID_INPUT, "ExecutionClass must be FLEX or STANDARD");

    extra = json_object();
    if (!extra)
        return sl_api_oom(e);
    for (size_t i = 0; i < SL_ARRAY_LEN(extra_members); i++) {
        json_t *v = json_object_get(def, extra_members[i]);
        if (v && !json_is_null(v) && json_object_set(extra, extra_members[i], v) != 0) {
            json_decref(extra);
            return sl_api_oom(e);
        }
    }
    j->extra = json_text(extra);
    json_decref(extra);
    j->name = sl_strdup(name);
    j->description = desc ? sl_strdup(desc) : NULL;
    j->role = sl_strdup(role);
    j->glue_version = glue_version ? sl_strdup(glue_version) : NULL;
    j->worker_type = worker_type ? sl_strdup(worker_type) : NULL;
    j->max_concurrent_runs = (int)conc;
    j->timeout_minutes = (int)timeout;
    j->max_retries = (int)retries;
    j->number_of_workers = (int)workers;
    j->command = json_text(cmd);
    if (!j->extra || !j->name || !j->role || !j->command || (desc && !j->description) ||
        (glue_version && !j->glue_version) || (worker_type && !j->worker_type))
        return sl_api_oom(e);
    char *args = NULL, *fixed = NULL;
    if (get_map_text(def, "DefaultArguments", &args, e) != SL_OK)
        return SL_ECONFIG;
    if (get_map_text(def, "NonOverridableArguments", &fixed, e) != SL_OK) {
        free(args);
        return SL_ECONFIG;
    }
    j->default_arguments = args ? sl_strdup(args) : NULL;
    j->non_overridable_arguments = fixed ? sl_strdup(fixed) : NULL;
    int bad = (args && !j->default_arguments) || (fixed && !j->non_overridable_arguments);
    free(args);
    free(fixed);
    return bad ? sl_api_oom(e) : SL_OK;
}

/* ---- Job shapes in responses ---- */

/* Adds member key = the parsed JSON text (skipped when NULL, or an empty
 * object and skip_empty). Returns nonzero on failure. */
static int put_json_text(json_t *o, const char *key, const char *text, int skip_empty)
{
    if (!text)
        return 0;
    json_t *v = json_loads(text, 0, NULL);
    if (!v)
        return -1;
    if (skip_empty && json_is_object(v) && json_object_size(v) == 0) {
        json_decref(v);
        return 0;
    }
    return json_object_set_new(o, key, v);
}

static int put_str(json_t *o, const char *key, const char *v)
{
    return v ? json_object_set_new(o, key, json_string(v)) : 0;
}

json_t *sl_api_job_json(const struct sl_catalog_job *j)
{
    json_t *o = json_object();
    json_t *exec = json_object();
    int bad = !o || !exec;

    if (!bad && j->extra) {
        json_t *extra = json_loads(j->extra, 0, NULL);
        bad |= !extra || json_object_update(o, extra) != 0;
        json_decref(extra);
    }
    bad |= !exec || json_object_set_new(exec, "MaxConcurrentRuns",
                                        json_integer(j->max_concurrent_runs)) != 0;
    if (!bad) {
        bad |= put_str(o, "Name", j->name);
        bad |= put_str(o, "Description", j->description);
        bad |= put_str(o, "Role", j->role);
        bad |= json_object_set_new(o, "CreatedOn", json_real((double)j->created_ms / 1000.0));
        bad |= json_object_set_new(o, "LastModifiedOn",
                                   json_real((double)j->modified_ms / 1000.0));
        bad |= json_object_set(o, "ExecutionProperty", exec);
        bad |= put_json_text(o, "Command", j->command, 0);
        bad |= put_json_text(o, "DefaultArguments", j->default_arguments, 1);
        bad |= put_json_text(o, "NonOverridableArguments", j->non_overridable_arguments, 1);
        bad |= json_object_set_new(o, "MaxRetries", json_integer(j->max_retries));
        bad |= json_object_set_new(
            o, "Timeout", json_integer(j->timeout_minutes ? j->timeout_minutes : TIMEOUT_DEFAULT));
        bad |= put_str(o, "GlueVersion", j->glue_version ? j->glue_version : "0.9");
        bad |= put_str(o, "WorkerType", j->worker_type);
        if (j->number_of_workers)
            bad |= json_object_set_new(o, "NumberOfWorkers", json_integer(j->number_of_workers));
    }
    json_decref(exec);
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* ---- Jobs ---- */

static int op_create_job(struct sl_api_ctx *ctx, const json_t *in, json_t **out,
                         struct sl_api_error *e)
{
    const char *name;
    const json_t *tags;
    struct sl_catalog_job j = {0};
    struct sl_err err = {0};
    int rc = SL_ECONFIG;

    if (sl_api_get_string(in, "Name", 1, 1, NAME_MAX_LEN, 1, &name, e) != SL_OK ||
        sl_api_get_object(in, "Tags", &tags, e) != SL_OK)
        return SL_ECONFIG;
    if (job_from_request(in, name, &j, e) != SL_OK)
        goto done;
    struct sl_catalog *c = sl_api_catalog(ctx, e);
    if (!c)
        goto done;
    if (sl_catalog_job_put(c, &j, &err) != SL_OK) {
        if (err.code == SL_EEXIST)
            sl_api_fail(e, 400, "AlreadyExistsException", "Job %s already exists.", name);
        else
            sl_api_catalog_fail(ctx, "CreateJob", &err, e);
        goto done;
    }
    *out = json_pack("{s:s}", "Name", name);
    rc = *out ? SL_OK : sl_api_oom(e);
done:
    sl_catalog_job_cleanup(&j);
    return rc;
}

static int op_get_job(struct sl_api_ctx *ctx, const json_t *in, json_t **out,
                      struct sl_api_error *e)
{
    const char *name;
    struct sl_catalog_job *j = NULL;
    struct sl_err err = {0};

    if (sl_api_get_string(in, "JobName", 1, 1, NAME_MAX_LEN, 1, &name, e) != SL_OK)
        return SL_ECONFIG;
    struct sl_catalog *c = sl_api_catalog(ctx, e);
    if (!c)
        return SL_ECONFIG;
    if (sl_catalog_job_get(c, name, &j, &err) != SL_OK) {
        if (err.code == SL_ENOTFOUND)
            return sl_api_fail(e, 400, NOT_FOUND, "Job %s not found", name);
        return sl_api_catalog_fail(ctx, "GetJob", &err, e);
    }
    json_t *job = sl_api_job_json(j);
    sl_catalog_job_free(j);
    *out = job ? json_pack("{s:o}", "Job", job) : NULL;
    return *out ? SL_OK : sl_api_oom(e);
}

static int op_get_jobs(struct sl_api_ctx *ctx, const json_t *in, json_t **out,
                       struct sl_api_error *e)
{
    long long limit;
    char *after = NULL;
    struct sl_catalog_job *jobs = NULL;
    size_t n = 0;
    struct sl_err err = {0};
    json_t *list = NULL;
    int rc = SL_ECONFIG;

    if (sl_api_get_page(in, JOBS_PAGE_MAX, PAGE_DEFAULT, &limit, &after, e) != SL_OK)
        return SL_ECONFIG;
    struct sl_catalog *c = sl_api_catalog(ctx, e);
    if (!c)
        goto done;
    if (sl_catalog_job_list(c, after, (size_t)limit + 1, &jobs, &n, &err) != SL_OK) {
        sl_api_catalog_fail(ctx, "GetJobs", &err, e);
        goto done;
    }
    int more = n > (size_t)limit;
    size_t n_page = more ? (size_t)limit : n;
    list = json_array();
    for (size_t i = 0; list && i < n_page; i++)
        if (json_array_append_new(list, sl_api_job_json(&jobs[i])) != 0) {
            json_decref(list);
            list = NULL;
        }
    *out = list ? json_pack("{s:o}", "Jobs", list) : NULL;
    if (!*out) {
        sl_api_oom(e);
        goto done;
    }
    if (more && sl_api_set_next_token(*out, jobs[n_page - 1].name, e) != SL_OK)
        goto done;
    rc = SL_OK;
done:
    if (rc != SL_OK) {
        json_decref(*out);
        *out = NULL;
    }
    sl_catalog_job_list_free(jobs, n);
    sl_free(after);
    return rc;
}

/* UpdateJob replaces the whole definition (§3.5): members absent from
 * JobUpdate reset to their defaults. The job then belongs to the API
 * (source "api", no header schedule), so `serve --jobs` no longer overwrites
 * it from its file. */
static int op_update_job(struct sl_api_ctx *ctx, const json_t *in, json_t **out,
                         struct sl_api_error *e)
{
    const char *name;
    const json_t *upd;
    struct sl_catalog_job j = {0};
    struct sl_err err = {0};
    int rc = SL_ECONFIG;

    if (sl_api_get_string(in, "JobName", 1, 1, NAME_MAX_LEN, 1, &name, e) != SL_OK ||
        sl_api_get_object(in, "JobUpdate", &upd, e) != SL_OK)
        return SL_ECONFIG;
    if (!upd)
        return sl_api_fail_null(e, "JobUpdate");
    if (job_from_request(upd, name, &j, e) != SL_OK)
        goto done;
    struct sl_catalog *c = sl_api_catalog(ctx, e);
    if (!c)
        goto done;
    if (sl_catalog_job_update(c, &j, &err) != SL_OK) {
        if (err.code == SL_ENOTFOUND)
            sl_api_fail(e, 400, NOT_FOUND, "Job %s not found", name);
        else
            sl_api_catalog_fail(ctx, "UpdateJob", &err, e);
        goto done;
    }
    *out = json_pack("{s:s}", "JobName", name);
    rc = *out ? SL_OK : sl_api_oom(e);
done:
    sl_catalog_job_cleanup(&j);
    return rc;
}

/* Idempotent (§3.5): a missing job is not an error. */
static int op_delete_job(struct sl_api_ctx *ctx, const json_t *in, json_t **out,
                         struct sl_api_error *e)
{
    const char *name;
    struct sl_err err = {0};
    int deleted = 0;

    if (sl_api_get_string(in, "JobName", 1, 1, NAME_MAX_LEN, 1, &name, e) != SL_OK)
        return SL_ECONFIG;
    struct sl_catalog *c = sl_api_catalog(ctx, e);
    if (!c)
        return SL_ECONFIG;
    if (sl_catalog_job_delete(c, name, &deleted, &err) != SL_OK)
        return sl_api_catalog_fail(ctx, "DeleteJob", &err, e);
    if (deleted)
        sl_log(SL_LOG_INFO, "[api req:%s] job \"%s\" deleted", sl_api_request_id(ctx), name);
    *out = json_pack("{s:s}", "JobName", name);
    return *out ? SL_OK : sl_api_oom(e);
}

/* ---- Bookmarks ---- */

/* The JobBookmarkEntry of b, or the empty entry of a job without one. */
static json_t *bookmark_json(const char *job, const struct sl_catalog_bookmark *b)
{
    json_t *o = json_object();
    int bad = !o;

    if (!bad) {
        bad |= put_str(o, "JobName", job);
        bad |= json_object_set_new(o, "Version", json_integer(b ? b->version : 0));
        bad |= json_object_set_new(o, "Run", json_integer(b ? b->run : 0));
        bad |= json_object_set_new(o, "Attempt", json_integer(b ? b->attempt : 0));
        bad |= put_str(o, "PreviousRunId", b ? b->previous_run_id : NULL);
        bad |= put_str(o, "RunId", b ? b->run_id : NULL);
        bad |= put_str(o, "JobBookmark", b && b->state ? b->state : "{}");
    }
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return json_pack("{s:o}", "JobBookmarkEntry", o);
}

/* GetJobBookmark answers from the bookmark alone (a job run from its file by
 * `sluice run` commits one without a definition in the catalog); an unknown
 * job and a job that never committed get the same EntityNotFoundException
 * (§3.7). RunId is accepted and ignored: the entry is always the current one. */
static int op_get_job_bookmark(struct sl_api_ctx *ctx, const json_t *in, json_t **out,
                               struct sl_api_error *e)
{
    const char *name, *run_id;
    struct sl_catalog_bookmark *b = NULL;
    struct sl_err err = {0};

    if (sl_api_get_string(in, "JobName", 1, 1, NAME_MAX_LEN, 1, &name, e) != SL_OK ||
        sl_api_get_string(in, "RunId", 0, 1, RUN_ID_MAX_LEN, 0, &run_id, e) != SL_OK)
        return SL_ECONFIG;
    struct sl_catalog *c = sl_api_catalog(ctx, e);
    if (!c)
        return SL_ECONFIG;
    if (sl_catalog_bookmark_get(c, name, &b, &err) != SL_OK) {
        if (err.code == SL_ENOTFOUND)
            return sl_api_fail(e, 400, NOT_FOUND, "Continuation for job %s not found", name);
        return sl_api_catalog_fail(ctx, "GetJobBookmark", &err, e);
    }
    *out = bookmark_json(name, b);
    sl_catalog_bookmark_free(b);
    return *out ? SL_OK : sl_api_oom(e);
}

/* ResetJobBookmark needs a job definition or a bookmark; without RunId the
 * state becomes "{}", with RunId it rewinds to what that run committed. The
 * answer is the entry after the reset (an empty one when there was none). */
static int op_reset_job_bookmark(struct sl_api_ctx *ctx, const json_t *in, json_t **out,
                                 struct sl_api_error *e)
{
    const char *name, *run_id;
    struct sl_catalog_bookmark *b = NULL;
    struct sl_catalog_job *j = NULL;
    struct sl_err err = {0};

    if (sl_api_get_string(in, "JobName", 1, 1, NAME_MAX_LEN, 1, &name, e) != SL_OK ||
        sl_api_get_string(in, "RunId", 0, 1, RUN_ID_MAX_LEN, 0, &run_id, e) != SL_OK)
        return SL_ECONFIG;
    struct sl_catalog *c = sl_api_catalog(ctx, e);
    if (!c)
        return SL_ECONFIG;
    if (sl_catalog_job_get(c, name, &j, &err) != SL_OK) {
        if (err.code != SL_ENOTFOUND)
            return sl_api_catalog_fail(ctx, "ResetJobBookmark", &err, e);
        if (sl_catalog_bookmark_get(c, name, &b, &err) != SL_OK) {
            if (err.code == SL_ENOTFOUND)
                return sl_api_fail(e, 400, NOT_FOUND, "Job %s not found", name);
            return sl_api_catalog_fail(ctx, "ResetJobBookmark", &err, e);
        }
        sl_catalog_bookmark_free(b);
        b = NULL;
    }
    sl_catalog_job_free(j);
    if (sl_catalog_bookmark_reset(c, name, run_id, &err) != SL_OK) {
        if (err.code == SL_ENOTFOUND)
            return sl_api_fail(e, 400, NOT_FOUND, "Run %s of job %s has no bookmark", run_id,
                               name);
        return sl_api_catalog_fail(ctx, "ResetJobBookmark", &err, e);
    }
    if (sl_catalog_bookmark_get(c, name, &b, &err) != SL_OK && err.code != SL_ENOTFOUND)
        return sl_api_catalog_fail(ctx, "ResetJobBookmark", &err, e);
    *out = bookmark_json(name, b);
    sl_catalog_bookmark_free(b);
    return *out ? SL_OK : sl_api_oom(e);
}

/* ---- Table ---- */

const struct sl_api_op sl_api_jobs_ops[] = {
    {"AWSGlue.CreateJob", "CreateJob", op_create_job},
    {"AWSGlue.GetJob", "GetJob", op_get_job},
    {"AWSGlue.GetJobs", "GetJobs", op_get_jobs},
    {"AWSGlue.UpdateJob", "UpdateJob", op_update_job},
    {"AWSGlue.DeleteJob", "DeleteJob", op_delete_job},
    {"AWSGlue.GetJobBookmark", "GetJobBookmark", op_get_job_bookmark},
    {"AWSGlue.ResetJobBookmark", "ResetJobBookmark", op_reset_job_bookmark},
    {NULL, NULL, NULL},
};
