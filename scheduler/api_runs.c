/*
 * scheduler/api_runs.c - the Glue job run operations of the HTTP API
 * (spec/aws-api.md §3.6): StartJobRun (queues the run and returns at once;
 * a dispatcher executes it, scheduler/dispatch.c), GetJobRun, GetJobRuns
 * (newest first, NextToken = base64 of the last run's queue position) and
 * BatchStopJobRun (per-id errors in Errors), over runtime/catalog_run.h.
 * Also SluiceService.GetJobRunLog, sluice's own operation for a run's
 * captured log (Glue keeps logs in CloudWatch, which sluice does not have).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/alloc.h"
#include "runtime/catalog_run.h"
#include "runtime/log.h"
#include "scheduler/api.h"

#define NAME_MAX_LEN    255
#define PAGE_DEFAULT    100
#define RUNS_PAGE_MAX   1000
#define STOP_IDS_MAX    25
#define LOG_CHUNK_MAX   (4u << 20) /* characters a GetJobRunLog answer carries at most */
#define INT_MEMBER_MAX  2147483647LL

#define INVALID_INPUT "InvalidInputException"
#define NOT_FOUND     "EntityNotFoundException"

/* StartJobRun members only echoed in the JobRun. */
static const char *const echoed[] = {
    "WorkerType", "MaxCapacity", "AllocatedCapacity", "SecurityConfiguration",
    "NotificationProperty", "ExecutionClass",
};

static int op_start_job_run(struct sl_api_ctx *ctx, const json_t *in, json_t **out,
                            struct sl_api_error *e)
{
    const char *job, *retry_of;
    const json_t *args;
    long long timeout, workers;
    struct sl_err err = {0};
    char id[SL_RUN_ID_MAX + 1];
    char *args_text = NULL, *extra_text = NULL;
    json_t *extra = NULL;
    const char *k;
    json_t *v;
    int rc = SL_ECONFIG;

    if (sl_api_get_string(in, "JobName", 1, 1, NAME_MAX_LEN, 1, &job, e) != SL_OK ||
        sl_api_get_string(in, "JobRunId", 0, 1, SL_RUN_ID_MAX, 1, &retry_of, e) != SL_OK ||
        sl_api_get_object(in, "Arguments", &args, e) != SL_OK ||
        sl_api_get_int(in, "Timeout", 1, INT_MEMBER_MAX, 0, &timeout, e) != SL_OK ||
        sl_api_get_int(in, "NumberOfWorkers", 1, INT_MEMBER_MAX, 0, &workers, e) != SL_OK)
        return SL_ECONFIG;
    if (args) {
        json_object_foreach((json_t *)args, k, v) {
            if (!json_is_string(v))
                return sl_api_fail_type(e, "Arguments", "a map of strings");
        }
        char *t = json_dumps(args, JSON_COMPACT);
        args_text = t ? sl_strdup(t) : NULL;
        free(t); /* jansson's allocator */
        if (!args_text)
            return sl_api_oom(e);
    }
    if (!(extra = json_object()))
        goto oom;
    for (size_t i = 0; i < SL_ARRAY_LEN(echoed); i++) {
        json_t *m = json_object_get(in, echoed[i]);
        if (m && !json_is_null(m) && json_object_set(extra, echoed[i], m) != 0)
            goto oom;
    }
    char *t = json_dumps(extra, JSON_COMPACT);
    extra_text = t ? sl_strdup(t) : NULL;
    free(t);
    if (!extra_text)
        goto oom;
    struct sl_catalog *c = sl_api_catalog(ctx, e);
    if (!c)
        goto done;
    struct sl_run_request rq = {
        .kind = SL_RUN_JOB,
        .job_name = job,
        .arguments = args_text,
        .retry_of = retry_of,
        .timeout_minutes = (int)timeout,
        .number_of_workers = (int)workers,
        .extra = extra_text,
    };
    rc = sl_catalog_run_start(c, &rq, id, NULL, &err);
    if (rc == SL_ELIMIT) {
        sl_api_fail(e, 400, "ConcurrentRunsExceededException", "%s", err.msg);
        goto done;
    }
    if (rc != SL_OK) {
        sl_api_catalog_fail(ctx, "StartJobRun", &err, e);
        goto done;
    }
    if (!(*out = json_pack("{s:s}", "JobRunId", id)))
        goto oom;
    sl_log(SL_LOG_INFO, "[api] run %s of job %s queued (request %s)", id, job,
           sl_api_request_id(ctx));
    rc = SL_OK;
    goto done;
oom:
    rc = sl_api_oom(e);
done:
    json_decref(extra);
    sl_free(args_text);
    sl_free(extra_text);
    return rc;
}

/* SL_OK when job exists; EntityNotFoundException otherwise. */
static int need_job(struct sl_api_ctx *ctx, struct sl_catalog *c, const char *op, const char *job,
                    struct sl_api_error *e)
{
    struct sl_catalog_job *j = NULL;
    struct sl_err err = {0};

    if (sl_catalog_job_get(c, job, &j, &err) != SL_OK)
        return sl_api_catalog_fail(ctx, op, &err, e);
    sl_catalog_job_free(j);
    return SL_OK;
}

static int op_get_job_run(struct sl_api_ctx *ctx, const json_t *in, json_t **out,
                          struct sl_api_error *e)
{
    const char *job, *id;
    int preds;
    struct sl_run *run = NULL;
    struct sl_err err = {0};

    if (sl_api_get_string(in, "JobName", 1, 1, NAME_MAX_LEN, 1, &job, e) != SL_OK ||
        sl_api_get_string(in, "RunId", 1, 1, SL_RUN_ID_MAX, 1, &id, e) != SL_OK ||
        sl_api_get_bool(in, "PredecessorsIncluded", &preds, e) != SL_OK)
        return SL_ECONFIG;
    struct sl_catalog *c = sl_api_catalog(ctx, e);
    if (!c)
        return SL_ECONFIG;
    if (sl_catalog_run_get(c, SL_RUN_JOB, job, id, &run, &err) != SL_OK)
        return sl_api_catalog_fail(ctx, "GetJobRun", &err, e);
    json_t *jr = sl_run_json(run, preds);
    sl_run_free(run);
    if (!jr || !(*out = json_pack("{s:o}", "JobRun", jr)))
        return sl_api_oom(e);
    return SL_OK;
}

static int op_get_job_runs(struct sl_api_ctx *ctx, const json_t *in, json_t **out,
                           struct sl_api_error *e)
{
    const char *job, *token;
    long long max;
    int64_t before = 0;
    struct sl_run *runs = NULL;
    size_t n = 0;
    struct sl_err err = {0};

    if (sl_api_get_string(in, "JobName", 1, 1, NAME_MAX_LEN, 1, &job, e) != SL_OK ||
        sl_api_get_string(in, "NextToken", 0, 0, SL_API_TOKEN_MAX, 0, &token, e) != SL_OK ||
        sl_api_get_int(in, "MaxResults", 1, RUNS_PAGE_MAX, PAGE_DEFAULT, &max, e) != SL_OK)
        return SL_ECONFIG;
    if (token) {
        char *key = sl_api_token_decode(token, e), *end;
        if (!key)
            return SL_ECONFIG;
        before = strtoll(key, &end, 10);
        int ok = *end == '\0' && before > 0;
        sl_free(key);
        if (!ok)
            return sl_api_fail(e, 400, INVALID_INPUT, "Invalid NextToken");
    }
    struct sl_catalog *c = sl_api_catalog(ctx, e);
    if (!c || need_job(ctx, c, "GetJobRuns", job, e) != SL_OK)
        return SL_ECONFIG;
    /* one more than a page tells whether there is a next one */
    if (sl_catalog_run_list(c, SL_RUN_JOB, job, before, (size_t)max + 1, &runs, &n, &err) != SL_OK)
        return sl_api_catalog_fail(ctx, "GetJobRuns", &err, e);
    json_t *list = json_array();
    int bad = !list;
    size_t shown = n > (size_t)max ? (size_t)max : n;
    for (size_t i = 0; !bad && i < shown; i++)
        bad = json_array_append_new(list, sl_run_json(&runs[i], 0)) != 0;
    json_t *o = bad ? NULL : json_pack("{s:o}", "JobRuns", list);
    if (!o)
        bad = 1;
    if (!bad && n > shown) {
        char key[24];
        snprintf(key, sizeof key, "%lld", (long long)runs[shown - 1].seq);
        if (sl_api_set_next_token(o, key, e) != SL_OK) {
            sl_run_list_free(runs, n);
            json_decref(o);
            return SL_ECONFIG;
        }
    }
    sl_run_list_free(runs, n);
    if (bad) {
        json_decref(o ? o : list);
        return sl_api_oom(e);
    }
    *out = o;
    return SL_OK;
}

static int op_batch_stop_job_run(struct sl_api_ctx *ctx, const json_t *in, json_t **out,
                                 struct sl_api_error *e)
{
    const char *job;
    const json_t *ids = NULL;

    if (sl_api_get_string(in, "JobName", 1, 1, NAME_MAX_LEN, 1, &job, e) != SL_OK)
        return SL_ECONFIG;
    ids = json_object_get(in, "JobRunIds");
    if (!ids || json_is_null(ids))
        return sl_api_fail_null(e, "JobRunIds");
    if (!json_is_array(ids))
        return sl_api_fail_type(e, "JobRunIds", "a list of strings");
    size_t n = json_array_size(ids);
    if (n < 1 || n > STOP_IDS_MAX)
        return sl_api_fail(e, 400, INVALID_INPUT,
                           "1 validation error detected: Value at 'jobRunIds' failed to satisfy "
                           "constraint: Member must have length between 1 and %d", STOP_IDS_MAX);
    for (size_t i = 0; i < n; i++)
        if (!json_is_string(json_array_get(ids, i)))
            return sl_api_fail_type(e, "JobRunIds", "a list of strings");
    struct sl_catalog *c = sl_api_catalog(ctx, e);
    if (!c)
        return SL_ECONFIG;
    json_t *ok = json_array(), *errs = json_array();
    int bad = !ok || !errs;
    for (size_t i = 0; !bad && i < n; i++) {
        const char *id = json_string_value(json_array_get(ids, i));
        struct sl_err err = {0};
        int rc = sl_catalog_run_stop(c, SL_RUN_JOB, job, id, NULL, &err);
        if (rc == SL_OK) {
            bad = json_array_append_new(ok, json_pack("{s:s,s:s}", "JobName", job, "JobRunId",
                                                      id)) != 0;
            sl_log(SL_LOG_INFO, "[api] run %s of job %s asked to stop (request %s)", id, job,
                   sl_api_request_id(ctx));
            continue;
        }
        const char *code = rc == SL_ENOTFOUND ? NOT_FOUND
                         : rc == SL_ECONFIG   ? INVALID_INPUT
                                              : "InternalServiceException";
        if (rc != SL_ENOTFOUND && rc != SL_ECONFIG) {
            struct sl_api_error tmp = {0};
            sl_api_catalog_fail(ctx, "BatchStopJobRun", &err, &tmp); /* logs the details */
            snprintf(err.msg, sizeof err.msg, "%s", tmp.message);
        }
        bad = json_array_append_new(
                  errs, json_pack("{s:s,s:s,s:{s:s,s:s}}", "JobName", job, "JobRunId", id,
                                  "ErrorDetail", "ErrorCode", code, "ErrorMessage", err.msg)) != 0;
    }
    if (bad || !(*out = json_pack("{s:o,s:o}", "SuccessfulSubmissions", ok, "Errors", errs))) {
        json_decref(ok);
        json_decref(errs);
        return sl_api_oom(e);
    }
    return SL_OK;
}

/* SluiceService.GetJobRunLog: {"RunId", "Offset"?, "MaxCharacters"?} ->
 * {"RunId", "Log", "Offset", "NextOffset", "Total", "Truncated",
 * "JobRunState"}. Offsets count characters from the first one the run
 * logged; "Offset" is where "Log" begins (later than asked when the oldest
 * part of a long log was dropped). */
static int op_get_job_run_log(struct sl_api_ctx *ctx, const json_t *in, json_t **out,
                              struct sl_api_error *e)
{
    const char *id;
    long long offset, max;
    char *text = NULL;
    size_t len = 0;
    int64_t total = 0, start = 0;
    int truncated = 0;
    struct sl_run *run = NULL;
    struct sl_err err = {0};

    if (sl_api_get_string(in, "RunId", 1, 1, SL_RUN_ID_MAX, 1, &id, e) != SL_OK ||
        sl_api_get_int(in, "Offset", 0, INT64_MAX, 0, &offset, e) != SL_OK ||
        sl_api_get_int(in, "MaxCharacters", 1, LOG_CHUNK_MAX, LOG_CHUNK_MAX, &max, e) != SL_OK)
        return SL_ECONFIG;
    struct sl_catalog *c = sl_api_catalog(ctx, e);
    if (!c)
        return SL_ECONFIG;
    if (sl_catalog_run_get(c, SL_RUN_JOB, NULL, id, &run, &err) != SL_OK &&
        (err.code != SL_ENOTFOUND ||
         sl_catalog_run_get(c, SL_RUN_CRAWLER, NULL, id, &run, &err) != SL_OK))
        return sl_api_catalog_fail(ctx, "GetJobRunLog", &err, e);
    enum sl_run_state st = run->state;
    sl_run_free(run);
    if (sl_catalog_run_log_read(c, id, offset, (size_t)max, &text, &len, &start, &total,
                                &truncated, &err) != SL_OK)
        return sl_api_catalog_fail(ctx, "GetJobRunLog", &err, e);
    json_t *log = json_stringn(text, len);
    size_t chars = 0;
    for (size_t i = 0; i < len; i++)
        chars += ((unsigned char)text[i] & 0xc0) != 0x80;
    sl_free(text);
    if (!log || !(*out = json_pack("{s:s,s:o,s:I,s:I,s:I,s:b,s:s}", "RunId", id, "Log", log,
                                   "Offset", (json_int_t)start, "NextOffset",
                                   (json_int_t)(start + (long long)chars), "Total",
                                   (json_int_t)total, "Truncated", truncated, "JobRunState",
                                   sl_run_state_name(st))))
        return sl_api_oom(e);
    return SL_OK;
}

const struct sl_api_op sl_api_runs_ops[] = {
    {"AWSGlue.StartJobRun", "StartJobRun", op_start_job_run},
    {"AWSGlue.GetJobRun", "GetJobRun", op_get_job_run},
    {"AWSGlue.GetJobRuns", "GetJobRuns", op_get_job_runs},
    {"AWSGlue.BatchStopJobRun", "BatchStopJobRun", op_batch_stop_job_run},
    {"SluiceService.GetJobRunLog", "GetJobRunLog", op_get_job_run_log},
    {NULL, NULL, NULL},
};
