/*
 * scheduler/api_crawlers.c - the Glue crawler operations of the HTTP API
 * (spec/aws-api.md §3.4): CreateCrawler, GetCrawler, GetCrawlers,
 * StartCrawler, StopCrawler, DeleteCrawler and GetCrawlerMetrics. Member
 * validation follows §1.6 as api_catalog.c does (wrong JSON type ->
 * SerializationException; missing, out of range or unsupported ->
 * InvalidInputException).
 *
 * A crawler is the row `sluice crawl --name NAME` reads (sluice.crawler, its
 * config in spec/crawler.md §2): CreateCrawler turns the Glue members it
 * honours into that config (S3Targets -> "targets", DatabaseName ->
 * "database", TablePrefix, SchemaChangePolicy, RecrawlPolicy), and keeps the
 * members only echoed (Role, Description, Schedule, Classifiers,
 * Configuration, the targets as given, ...) as one object under the config
 * key "glue", which the crawler ignores. The schedule is validated here
 * (scheduler/cron.h) and started by the trigger/schedule engine, not here.
 *
 * Crawls started here are runs of kind SL_RUN_CRAWLER in the run queue
 * (runtime/catalog_run.h); the dispatcher runs each as `sluice crawl --name
 * NAME`. The Crawler's State comes from its newest queue run, LastCrawl from
 * the newest finished crawl, which is either a queue run or (for crawls run
 * from the command line) a sluice.crawl_run row, whichever ended last.
 * Metrics come from the crawl_run history. GetCrawlers and GetCrawlerMetrics
 * page by name: NextToken is the base64 of the last name returned.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/alloc.h"
#include "runtime/catalog_run.h"
#include "runtime/log.h"
#include "runtime/store.h"
#include "scheduler/api.h"
#include "scheduler/cron.h"

#define NAME_MAX_LEN     255    /* NameString (§3) */
#define DESC_MAX_LEN     2048   /* Crawler.Description */
#define ROLE_MAX_LEN     2048   /* Role: an ARN or a name */
#define PREFIX_MAX_LEN   128    /* TablePrefix */
#define PATH_MAX_LEN     2048   /* S3Target.Path; generous */
#define CONFIG_MAX_LEN   128000 /* Configuration (a JSON string) */
#define SCHEDULE_MAX_LEN 1024   /* = SL_CRON_TEXT_MAX */
#define PAGE_DEFAULT     100    /* MaxResults when absent (§1.8) */
#define PAGE_MAX         1000   /* GetCrawlers / GetCrawlerMetrics MaxResults maximum */
#define NAMES_MAX        100    /* GetCrawlerMetrics CrawlerNameList */
#define HISTORY_MAX      100    /* crawl runs a median is taken over */
#define DB_NAME_MAX      255    /* catalog database names: ^[a-z0-9_]{1,255}$ */

#define INVALID_INPUT "InvalidInputException"
#define NOT_FOUND     "EntityNotFoundException"
#define GLUE_KEY      "glue" /* config key of the echoed Glue members */

/* Glue Crawler members stored as given and echoed (§3.4). */
static const char *const echo_members[] = {
    "Role",
    "Description",
    "Classifiers",
    "Configuration",
    "LineageConfiguration",
    "LakeFormationConfiguration",
    "CrawlerSecurityConfiguration",
};

/* CrawlerTargets kinds sluice does not crawl. */
static const char *const other_targets[] = {
    "JdbcTargets",  "MongoDBTargets", "DynamoDBTargets", "CatalogTargets",
    "DeltaTargets", "IcebergTargets", "HudiTargets",
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int pick(const char *s, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, names[i]) == 0)
            return (int)i;
    return -1;
}

/* ---- CreateCrawler: Glue members to the crawler config ---- */

static const char *const update_behaviors[] = {"UPDATE_IN_DATABASE", "LOG"};
static const char *const delete_behaviors[] = {"DEPRECATE_IN_DATABASE", "DELETE_FROM_DATABASE",
                                               "LOG"};
static const char *const recrawl_behaviors[] = {"CRAWL_EVERYTHING", "CRAWL_NEW_FOLDERS_ONLY"};

/* *out = array member key of in (borrowed), NULL when absent or null. */
static int get_array(const json_t *in, const char *key, const json_t **out, struct sl_api_error *e)
{
    const json_t *v = json_object_get(in, key);

    *out = NULL;
    if (!v || json_is_null(v))
        return SL_OK;
    if (!json_is_array(v))
        return sl_api_fail_type(e, key, "a list");
    *out = v;
    return SL_OK;
}

/* A list of strings (may be absent). */
static int check_strings(const json_t *in, const char *key, const json_t **out,
                         struct sl_api_error *e)
{
    size_t i;
    const json_t *v;

    if (get_array(in, key, out, e) != SL_OK)
        return SL_ECONFIG;
    if (*out)
        json_array_foreach(*out, i, v)
        {
            if (!json_is_string(v))
                return sl_api_fail_type(e, key, "a list of strings");
        }
    return SL_OK;
}

/* The crawl path of an S3Target Path: s3:// kept as given, file:///abs and
 * plain paths made absolute (against the server's directory), as `sluice
 * crawl` stores them. Owned: sl_free. */
static char *target_path(const char *path, struct sl_api_error *e)
{
    struct sl_uri u;
    struct sl_err err = {0};
    char *full;

    if (sl_uri_parse(path, &u, &err) != SL_OK) {
        if (err.code == SL_ENOMEM)
            sl_api_oom(e);
        else
            sl_api_fail(e, 400, INVALID_INPUT, "S3Targets Path %s: %s", path, err.msg);
        return NULL;
    }
    if (u.scheme == SL_URI_S3) {
        full = sl_strdup(path);
    } else {
        size_t n = strlen(path), k = strlen(u.key);
        int slash = path[n - 1] == '/' && k && u.key[k - 1] != '/';
        full = sl_asprintf("/%s%s", u.key, slash ? "/" : "");
    }
    sl_uri_cleanup(&u);
    if (!full)
        sl_api_oom(e);
    return full;
}

/* Are two optional lists equal (absent = empty)? */
static int same_list(const json_t *a, const json_t *b)
{
    size_t na = a ? json_array_size(a) : 0, nb = b ? json_array_size(b) : 0;
    if (na == 0 || nb == 0)
        return na == nb;
    return json_equal((json_t *)a, (json_t *)b);
}

/* config.targets from Targets (S3Targets only, each with a Path; one
 * exclusion list for all, as the crawler applies it). */
static int targets_from_request(const json_t *targets, json_t *config, struct sl_api_error *e)
{
    const json_t *s3, *first_excl = NULL, *t;
    size_t i;

    for (size_t k = 0; k < SL_ARRAY_LEN(other_targets); k++) {
        const json_t *other;
        if (get_array(targets, other_targets[k], &other, e) != SL_OK)
            return SL_ECONFIG;
        if (other && json_array_size(other) > 0)
            return sl_api_fail(e, 400, INVALID_INPUT,
                               "Targets.%s: sluice crawls S3Targets only (s3://, file:// or "
                               "local paths)",
                               other_targets[k]);
    }
    if (get_array(targets, "S3Targets", &s3, e) != SL_OK)
        return SL_ECONFIG;
    if (!s3 || json_array_size(s3) == 0)
        return sl_api_fail(e, 400, INVALID_INPUT, "Targets: at least one S3Target is required");
    json_t *out = json_array();
    if (!out || json_object_set_new(config, "targets", out) != 0)
        return sl_api_oom(e);
    json_array_foreach(s3, i, t)
    {
        const char *path;
        const json_t *excl;
        long long sample;
        if (!json_is_object(t))
            return sl_api_fail_type(e, "S3Targets", "a list of objects");
        if (sl_api_get_string(t, "Path", 1, 1, PATH_MAX_LEN, 0, &path, e) != SL_OK ||
            check_strings(t, "Exclusions", &excl, e) != SL_OK ||
            sl_api_get_int(t, "SampleSize", 1, 249, 0, &sample, e) != SL_OK)
            return SL_ECONFIG;
        if (i == 0)
            first_excl = excl;
        else if (!same_list(excl, first_excl))
            return sl_api_fail(e, 400, INVALID_INPUT,
                               "S3Targets: sluice applies one exclusion list to every target; "
                               "give each target the same Exclusions");
        char *full = target_path(path, e);
        if (!full)
            return SL_ECONFIG;
        json_t *one = excl ? json_pack("{s:s,s:O}", "path", full, "exclusions", excl)
                           : json_pack("{s:s,s:[]}", "path", full, "exclusions");
        sl_free(full);
        if (!one || json_array_append_new(out, one) != 0)
            return sl_api_oom(e);
    }
    return SL_OK;
}

/* DatabaseName lowercased into db (the catalog's rule: ^[a-z0-9_]{1,255}$). */
static int database_name(const char *name, char db[DB_NAME_MAX + 1], struct sl_api_error *e)
{
    size_t n = strlen(name);

    if (n == 0 || n > DB_NAME_MAX)
        goto bad;
    for (size_t i = 0; i <= n; i++) {
        char c = name[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (i < n && !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            goto bad;
        db[i] = c;
    }
    return SL_OK;
bad:
    return sl_api_fail(e, 400, INVALID_INPUT,
                       "DatabaseName %s: database names have 1 to 255 letters, digits or '_'",
                       name);
}

/* The stored config of a CreateCrawler request into *out (owned). */
static int config_from_request(const json_t *in, const char *name, json_t **out,
                               struct sl_api_error *e)
{
    const char *s, *dbname, *prefix, *schedule, *conf;
    const json_t *targets, *scp, *rp, *v, *tags;
    char db[DB_NAME_MAX + 1];
    json_t *config = NULL, *glue = NULL;

    *out = NULL;
    if (sl_api_get_string(in, "Role", 1, 1, ROLE_MAX_LEN, 0, &s, e) != SL_OK ||
        sl_api_get_string(in, "Description", 0, 0, DESC_MAX_LEN, 0, &s, e) != SL_OK ||
        sl_api_get_string(in, "DatabaseName", 0, 0, NAME_MAX_LEN, 1, &dbname, e) != SL_OK ||
        sl_api_get_string(in, "TablePrefix", 0, 0, PREFIX_MAX_LEN, 0, &prefix, e) != SL_OK ||
        sl_api_get_string(in, "Schedule", 0, 0, SCHEDULE_MAX_LEN, 0, &schedule, e) != SL_OK ||
        sl_api_get_string(in, "Configuration", 0, 0, CONFIG_MAX_LEN, 0, &conf, e) != SL_OK ||
        sl_api_get_object(in, "Targets", &targets, e) != SL_OK ||
        sl_api_get_object(in, "SchemaChangePolicy", &scp, e) != SL_OK ||
        sl_api_get_object(in, "RecrawlPolicy", &rp, e) != SL_OK ||
        sl_api_get_object(in, "LineageConfiguration", &v, e) != SL_OK ||
        sl_api_get_object(in, "LakeFormationConfiguration", &v, e) != SL_OK ||
        sl_api_get_string(in, "CrawlerSecurityConfiguration", 0, 0, 128, 0, &s, e) != SL_OK ||
        sl_api_get_object(in, "Tags", &tags, e) != SL_OK ||
        check_strings(in, "Classifiers", &v, e) != SL_OK)
        return SL_ECONFIG;
    if (!targets)
        return sl_api_fail_null(e, "targets");
    if (!dbname || !dbname[0])
        return sl_api_fail(e, 400, INVALID_INPUT,
                           "DatabaseName is required: the catalog database the crawler writes");
    if (database_name(dbname, db, e) != SL_OK)
        return SL_ECONFIG;
    if (conf && conf[0]) {
        json_t *cj = json_loads(conf, 0, NULL);
        int ok = json_is_object(cj);
        json_decref(cj);
        if (!ok)
            return sl_api_fail(e, 400, INVALID_INPUT, "Configuration must be a JSON object");
    }
    if (schedule && schedule[0]) {
        struct sl_cron *cron = NULL;
        struct sl_err err = {0};
        if (sl_cron_parse_glue(schedule, &cron, &err) != SL_OK) {
            if (err.code == SL_ENOMEM)
                return sl_api_oom(e);
            return sl_api_fail(e, 400, INVALID_INPUT, "Invalid schedule %s: %s", schedule, err.msg);
        }
        sl_cron_free(cron);
    }

    const char *upd = "UPDATE_IN_DATABASE", *del = "DEPRECATE_IN_DATABASE";
    const char *recrawl = "CRAWL_EVERYTHING";
    if (scp) {
        if (sl_api_get_string(scp, "UpdateBehavior", 0, 0, 64, 0, &s, e) != SL_OK)
            return SL_ECONFIG;
        if (s && pick(s, update_behaviors, SL_ARRAY_LEN(update_behaviors)) < 0)
            return sl_api_fail(e, 400, INVALID_INPUT,
                               "SchemaChangePolicy.UpdateBehavior must be LOG or "
                               "UPDATE_IN_DATABASE");
        upd = s ? s : upd;
        if (sl_api_get_string(scp, "DeleteBehavior", 0, 0, 64, 0, &s, e) != SL_OK)
            return SL_ECONFIG;
        if (s && pick(s, delete_behaviors, SL_ARRAY_LEN(delete_behaviors)) < 0)
            return sl_api_fail(e, 400, INVALID_INPUT,
                               "SchemaChangePolicy.DeleteBehavior must be LOG, "
                               "DELETE_FROM_DATABASE or DEPRECATE_IN_DATABASE");
        del = s ? s : del;
    }
    if (rp) {
        if (sl_api_get_string(rp, "RecrawlBehavior", 0, 0, 64, 0, &s, e) != SL_OK)
            return SL_ECONFIG;
        if (s && pick(s, recrawl_behaviors, SL_ARRAY_LEN(recrawl_behaviors)) < 0)
            return sl_api_fail(e, 400, INVALID_INPUT,
                               "RecrawlPolicy.RecrawlBehavior must be CRAWL_EVERYTHING or "
                               "CRAWL_NEW_FOLDERS_ONLY (CRAWL_EVENT_MODE is not supported)");
        recrawl = s ? s : recrawl;
    }

    config = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "name", name, "database", db, "table_prefix",
                       prefix ? prefix : "", "update_behavior", upd, "delete_behavior", del,
                       "recrawl", recrawl);
    glue = json_object();
    if (!config || !glue) {
        sl_api_oom(e);
        goto fail;
    }
    if (targets_from_request(targets, config, e) != SL_OK)
        goto fail;
    for (size_t i = 0; i < SL_ARRAY_LEN(echo_members); i++) {
        json_t *m = json_object_get(in, echo_members[i]);
        if (m && !json_is_null(m) && json_object_set(glue, echo_members[i], m) != 0) {
            sl_api_oom(e);
            goto fail;
        }
    }
    if ((schedule && schedule[0] &&
         json_object_set_new(glue, "Schedule", json_string(schedule)) != 0) ||
        json_object_set(glue, "Targets", (json_t *)targets) != 0 ||
        json_object_set_new(glue, "LastUpdated", json_integer(now_ms())) != 0) {
        sl_api_oom(e);
        goto fail;
    }
    int bad = json_object_set_new(config, GLUE_KEY, glue) != 0; /* takes glue */
    glue = NULL;
    if (bad) {
        sl_api_oom(e);
        goto fail;
    }
    *out = config;
    return SL_OK;
fail:
    json_decref(glue);
    json_decref(config);
    return SL_ECONFIG;
}

/* ---- Crawler state ---- */

/* What the run queue and the crawl history say about one crawler. */
struct crawler_state {
    const char *state;     /* READY | RUNNING | STOPPING (static) */
    int64_t running_since; /* epoch ms of the current crawl's start; 0 when READY */
    const char *last;      /* LastCrawl.Status (static), NULL when never crawled */
    char *last_error;      /* owned; NULL */
    int64_t last_start;    /* epoch ms */
    char *last_run_id;     /* owned; queue run id of LastCrawl, NULL for a CLI crawl */
};

static void crawler_state_cleanup(struct crawler_state *st)
{
    sl_free(st->last_error);
    sl_free(st->last_run_id);
    memset(st, 0, sizeof *st);
}

static const char *crawl_status(enum sl_run_state s)
{
    switch (s) {
    case SL_RUN_SUCCEEDED: return "SUCCEEDED";
    case SL_RUN_STOPPED: return "CANCELLED";
    default: return "FAILED";
    }
}

/* The error of a failed crawl_run: its report's "error". Owned, NULL when none. */
static char *crawl_run_error(const struct sl_catalog_crawl_run *r)
{
    json_t *rep = r->report ? json_loads(r->report, 0, NULL) : NULL;
    const char *msg = json_string_value(json_object_get(rep, "error"));
    char *out = msg ? sl_strdup(msg) : NULL;
    json_decref(rep);
    return out;
}

static int load_state(struct sl_catalog *c, const char *name, struct crawler_state *st,
                      struct sl_err *err)
{
    struct sl_run *cur = NULL, *done = NULL;
    struct sl_catalog_crawl_run *runs = NULL;
    size_t n_runs = 0;
    int rc;

    memset(st, 0, sizeof *st);
    st->state = "READY";
    if ((rc = sl_catalog_run_latest(c, SL_RUN_CRAWLER, name, 0, &cur, err)) != SL_OK ||
        (rc = sl_catalog_run_latest(c, SL_RUN_CRAWLER, name, 1, &done, err)) != SL_OK ||
        (rc = sl_catalog_crawl_run_list(c, name, 5, &runs, &n_runs, err)) != SL_OK)
        goto out;
    if (cur && !sl_run_state_terminal(cur->state)) {
        st->state = cur->state == SL_RUN_STOPPING ? "STOPPING" : "RUNNING";
        st->running_since = cur->running_ms ? cur->running_ms : cur->started_ms;
    }
    /* the newest crawl_run that ended (a running one is another crawl's) */
    const struct sl_catalog_crawl_run *cli = NULL;
    for (size_t i = 0; i < n_runs && !cli; i++)
        if (runs[i].status != SL_CATALOG_RUN_RUNNING && runs[i].finished_ms)
            cli = &runs[i];
    /* a queue run ends after its child's crawl_run: the queue run wins unless a
     * crawl from the command line ended after it */
    if (done && (!cli || cli->finished_ms <= done->completed_ms)) {
        st->last = crawl_status(done->state);
        st->last_start = done->running_ms ? done->running_ms : done->started_ms;
        if (done->state != SL_RUN_SUCCEEDED && done->state != SL_RUN_STOPPED && done->error_message)
            st->last_error = sl_strdup(done->error_message);
        st->last_run_id = sl_strdup(done->id);
    } else if (cli) {
        st->last = cli->status == SL_CATALOG_RUN_SUCCEEDED   ? "SUCCEEDED"
                   : cli->status == SL_CATALOG_RUN_CANCELLED ? "CANCELLED"
                                                             : "FAILED";
        st->last_start = cli->started_ms;
        if (cli->status == SL_CATALOG_RUN_FAILED)
            st->last_error = crawl_run_error(cli);
    }
out:
    sl_run_free(cur);
    sl_run_free(done);
    sl_catalog_crawl_run_list_free(runs, n_runs);
    return rc;
}

/* ---- The Crawler shape ---- */

static int put_str(json_t *o, const char *key, const char *v)
{
    return v ? json_object_set_new(o, key, json_string(v)) : 0;
}

static json_t *ts_json(int64_t ms)
{
    return json_real((double)ms / 1000.0);
}

/* Targets rebuilt from the config (a crawler made by `sluice crawl`). */
static json_t *targets_from_config(const json_t *config)
{
    json_t *s3 = json_array();
    size_t i;
    const json_t *t;

    json_array_foreach(json_object_get(config, "targets"), i, t)
    {
        json_t *one = json_pack("{s:s?}", "Path", json_string_value(json_object_get(t, "path")));
        json_t *ex = json_object_get(t, "exclusions");
        if (one && json_is_array(ex) && json_array_size(ex))
            json_object_set(one, "Exclusions", ex);
        json_array_append_new(s3, one);
    }
    return json_pack("{s:o}", "S3Targets", s3);
}

/* The Glue Crawler object (owned), NULL on OOM or a config that is not JSON. */
static json_t *crawler_json(const struct sl_catalog_crawler *cr, const struct crawler_state *st)
{
    json_t *config = json_loads(cr->config, 0, NULL);
    json_t *glue = json_object_get(config, GLUE_KEY);
    json_t *o = json_object();
    const char *s;
    int bad = !config || !o;

    if (bad)
        goto out;
    for (size_t i = 0; i < SL_ARRAY_LEN(echo_members); i++) {
        json_t *m = json_object_get(glue, echo_members[i]);
        if (m)
            bad |= json_object_set(o, echo_members[i], m);
    }
    bad |= put_str(o, "Name", cr->name);
    json_t *targets = json_object_get(glue, "Targets");
    bad |= targets ? json_object_set(o, "Targets", targets)
                   : json_object_set_new(o, "Targets", targets_from_config(config));
    bad |= put_str(o, "DatabaseName", json_string_value(json_object_get(config, "database")));
    s = json_string_value(json_object_get(config, "table_prefix"));
    if (s && s[0])
        bad |= put_str(o, "TablePrefix", s);
    const char *upd = json_string_value(json_object_get(config, "update_behavior"));
    const char *del = json_string_value(json_object_get(config, "delete_behavior"));
    bad |= json_object_set_new(o, "SchemaChangePolicy",
                               json_pack("{s:s,s:s}", "UpdateBehavior",
                                         upd ? upd : "UPDATE_IN_DATABASE", "DeleteBehavior",
                                         del ? del : "LOG"));
    s = json_string_value(json_object_get(config, "recrawl"));
    bad |= json_object_set_new(o, "RecrawlPolicy",
                               json_pack("{s:s}", "RecrawlBehavior", s ? s : "CRAWL_EVERYTHING"));
    s = json_string_value(json_object_get(glue, "Schedule"));
    bad |= json_object_set_new(
        o, "Schedule",
        s ? json_pack("{s:s,s:s}", "ScheduleExpression", s, "State", "SCHEDULED")
          : json_pack("{s:s}", "State", "NOT_SCHEDULED"));
    bad |= put_str(o, "State", st->state);
    bad |= json_object_set_new(o, "CrawlElapsedTime",
                               json_integer(st->running_since ? now_ms() - st->running_since : 0));
    bad |= json_object_set_new(o, "CreationTime", ts_json(cr->created_ms));
    json_t *lu = json_object_get(glue, "LastUpdated");
    bad |= json_object_set_new(
        o, "LastUpdated", ts_json(json_is_integer(lu) ? json_integer_value(lu) : cr->created_ms));
    bad |= json_object_set_new(o, "Version", json_integer(1));
    if (st->last) {
        json_t *lc =
            json_pack("{s:s,s:o}", "Status", st->last, "StartTime", ts_json(st->last_start));
        bad |= !lc;
        if (lc && st->last_error)
            bad |= put_str(lc, "ErrorMessage", st->last_error);
        if (lc && st->last_run_id)
            bad |= put_str(lc, "MessagePrefix", st->last_run_id);
        bad |= json_object_set_new(o, "LastCrawl", lc);
    }
out:
    json_decref(config);
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* The Crawler of cr with its state (owned), or NULL with e filled. */
static json_t *crawler_describe(struct sl_api_ctx *ctx, const char *op, struct sl_catalog *c,
                                const struct sl_catalog_crawler *cr, struct sl_api_error *e)
{
    struct crawler_state st;
    struct sl_err err = {0};

    if (load_state(c, cr->name, &st, &err) != SL_OK) {
        sl_api_catalog_fail(ctx, op, &err, e);
        return NULL;
    }
    json_t *o = crawler_json(cr, &st);
    crawler_state_cleanup(&st);
    if (!o)
        sl_api_oom(e);
    return o;
}

/* *cr = crawler name, or EntityNotFoundException. */
static int load_crawler(struct sl_api_ctx *ctx, const char *op, struct sl_catalog *c,
                        const char *name, struct sl_catalog_crawler **cr, struct sl_api_error *e)
{
    struct sl_err err = {0};

    if (sl_catalog_crawler_get(c, name, cr, &err) == SL_OK)
        return SL_OK;
    if (err.code == SL_ENOTFOUND)
        return sl_api_fail(e, 400, NOT_FOUND, "Crawler entry with name %s does not exist", name);
    return sl_api_catalog_fail(ctx, op, &err, e);
}

/* ---- Operations ---- */

static int op_create_crawler(struct sl_api_ctx *ctx, const json_t *in, json_t **out,
                             struct sl_api_error *e)
{
    const char *name;
    json_t *config = NULL;
    struct sl_catalog_crawler *have = NULL;
    struct sl_err err = {0};
    char *text = NULL;
    int rc = SL_ECONFIG;

    if (sl_api_get_string(in, "Name", 1, 1, NAME_MAX_LEN, 1, &name, e) != SL_OK)
        return SL_ECONFIG;
    if (config_from_request(in, name, &config, e) != SL_OK)
        return SL_ECONFIG;
    struct sl_catalog *c = sl_api_catalog(ctx, e);
    if (!c)
        goto done;
    /* a crawler made by `sluice crawl --name` counts as taken too */
    if (sl_catalog_crawler_get(c, name, &have, &err) == SL_OK) {
        sl_api_fail(e, 400, "AlreadyExistsException", "%s already exists", name);
        goto done;
    }
    if (err.code != SL_ENOTFOUND) {
        sl_api_catalog_fail(ctx, "CreateCrawler", &err, e);
        goto done;
    }
    text = json_dumps(config, JSON_COMPACT | JSON_SORT_KEYS);
    if (!text) {
        sl_api_oom(e);
        goto done;
    }
    memset(&err, 0, sizeof err);
    if (sl_catalog_crawler_put(c, name, text, NULL, &err) != SL_OK) {
        sl_api_catalog_fail(ctx, "CreateCrawler", &err, e);
        goto done;
    }
    sl_log(SL_LOG_INFO, "[api req:%s] crawler \"%s\" created", sl_api_request_id(ctx), name);
    *out = json_object();
    rc = *out ? SL_OK : sl_api_oom(e);
done:
    free(text); /* jansson's allocator */
    sl_catalog_crawler_free(have);
    json_decref(config);
    return rc;
}

static int op_get_crawler(struct sl_api_ctx *ctx, const json_t *in, json_t **out,
                          struct sl_api_error *e)
{
    const char *name;
    struct sl_catalog_crawler *cr = NULL;

    if (sl_api_get_string(in, "Name", 1, 1, NAME_MAX_LEN, 1, &name, e) != SL_OK)
        return SL_ECONFIG;
    struct sl_catalog *c = sl_api_catalog(ctx, e);
    if (!c || load_crawler(ctx, "GetCrawler", c, name, &cr, e) != SL_OK)
        return SL_ECONFIG;
    json_t *o = crawler_describe(ctx, "GetCrawler", c, cr, e);
    sl_catalog_crawler_free(cr);
    if (!o)
        return SL_ECONFIG;
    *out = json_pack("{s:o}", "Crawler", o);
    return *out ? SL_OK : sl_api_oom(e);
}

static int op_get_crawlers(struct sl_api_ctx *ctx, const json_t *in, json_t **out,
                           struct sl_api_error *e)
{
    long long limit;
    char *after = NULL;
    struct sl_catalog_crawler *crs = NULL;
    size_t n = 0, n_page = 0;
    struct sl_err err = {0};
    json_t *list = NULL;
    int rc = SL_ECONFIG;

    if (sl_api_get_page(in, PAGE_MAX, PAGE_DEFAULT, &limit, &after, e) != SL_OK)
        return SL_ECONFIG;
    struct sl_catalog *c = sl_api_catalog(ctx, e);
    if (!c)
        goto done;
    if (sl_catalog_crawler_list(c, &crs, &n, &err) != SL_OK) {
        sl_api_catalog_fail(ctx, "GetCrawlers", &err, e);
        goto done;
    }
    if (!(list = json_array())) {
        sl_api_oom(e);
        goto done;
    }
    size_t i = 0;
    while (i < n && after && strcmp(crs[i].name, after) <= 0)
        i++;
    const char *last = NULL;
    for (; i < n && n_page < (size_t)limit; i++, n_page++) {
        json_t *o = crawler_describe(ctx, "GetCrawlers", c, &crs[i], e);
        if (!o)
            goto done;
        if (json_array_append_new(list, o) != 0) {
            sl_api_oom(e);
            goto done;
        }
        last = crs[i].name;
    }
    *out = json_pack("{s:O}", "Crawlers", list);
    if (!*out) {
        sl_api_oom(e);
        goto done;
    }
    if (i < n && last && sl_api_set_next_token(*out, last, e) != SL_OK)
        goto done;
    rc = SL_OK;
done:
    if (rc != SL_OK) {
        json_decref(*out);
        *out = NULL;
    }
    json_decref(list);
    sl_catalog_crawler_list_free(crs, n);
    sl_free(after);
    return rc;
}

static int op_start_crawler(struct sl_api_ctx *ctx, const json_t *in, json_t **out,
                            struct sl_api_error *e)
{
    const char *name;
    struct sl_catalog_crawler *cr = NULL;
    struct sl_run_request rq = {0};
    char id[SL_RUN_ID_MAX + 1];
    struct sl_err err = {0};

    if (sl_api_get_string(in, "Name", 1, 1, NAME_MAX_LEN, 1, &name, e) != SL_OK)
        return SL_ECONFIG;
    struct sl_catalog *c = sl_api_catalog(ctx, e);
    if (!c || load_crawler(ctx, "StartCrawler", c, name, &cr, e) != SL_OK)
        return SL_ECONFIG;
    sl_catalog_crawler_free(cr);
    rq.kind = SL_RUN_CRAWLER;
    rq.job_name = name;
    if (sl_catalog_run_start(c, &rq, id, NULL, &err) != SL_OK) {
        if (err.code == SL_ELIMIT)
            return sl_api_fail(e, 400, "CrawlerRunningException",
                               "Crawler with name %s has already started", name);
        if (err.code == SL_ENOTFOUND) /* deleted meanwhile */
            return sl_api_fail(e, 400, NOT_FOUND, "Crawler entry with name %s does not exist",
                               name);
        return sl_api_catalog_fail(ctx, "StartCrawler", &err, e);
    }
    sl_log(SL_LOG_INFO, "[api req:%s] crawler \"%s\" started: run %s", sl_api_request_id(ctx), name,
           id);
    *out = json_object();
    return *out ? SL_OK : sl_api_oom(e);
}

static int op_stop_crawler(struct sl_api_ctx *ctx, const json_t *in, json_t **out,
                           struct sl_api_error *e)
{
    const char *name;
    struct sl_catalog_crawler *cr = NULL;
    struct sl_run *cur = NULL;
    enum sl_run_state after;
    struct sl_err err = {0};
    int rc = SL_ECONFIG;

    if (sl_api_get_string(in, "Name", 1, 1, NAME_MAX_LEN, 1, &name, e) != SL_OK)
        return SL_ECONFIG;
    struct sl_catalog *c = sl_api_catalog(ctx, e);
    if (!c || load_crawler(ctx, "StopCrawler", c, name, &cr, e) != SL_OK)
        return SL_ECONFIG;
    sl_catalog_crawler_free(cr);
    if (sl_catalog_run_latest(c, SL_RUN_CRAWLER, name, 0, &cur, &err) != SL_OK) {
        sl_api_catalog_fail(ctx, "StopCrawler", &err, e);
        goto done;
    }
    if (!cur || sl_run_state_terminal(cur->state)) {
        sl_api_fail(e, 400, "CrawlerNotRunningException", "Crawler with name %s is not running",
                    name);
        goto done;
    }
    if (cur->state == SL_RUN_STOPPING) {
        sl_api_fail(e, 400, "CrawlerStoppingException", "Crawler with name %s is stopping", name);
        goto done;
    }
    if (sl_catalog_run_stop(c, SL_RUN_CRAWLER, name, cur->id, &after, &err) != SL_OK) {
        if (err.code == SL_ECONFIG || err.code == SL_ENOTFOUND) /* ended meanwhile */
            sl_api_fail(e, 400, "CrawlerNotRunningException", "Crawler with name %s is not running",
                        name);
        else
            sl_api_catalog_fail(ctx, "StopCrawler", &err, e);
        goto done;
    }
    sl_log(SL_LOG_INFO, "[api req:%s] crawler \"%s\" run %s: %s", sl_api_request_id(ctx), name,
           cur->id, sl_run_state_name(after));
    *out = json_object();
    rc = *out ? SL_OK : sl_api_oom(e);
done:
    sl_run_free(cur);
    return rc;
}

/* Refuses while a crawl is queued or running; otherwise deletes the crawler
 * (its crawl history, manifest and folders go with it; its tables stay) and
 * its queue runs, in one transaction. */
static int op_delete_crawler(struct sl_api_ctx *ctx, const json_t *in, json_t **out,
                             struct sl_api_error *e)
{
    const char *name;
    struct sl_run *cur = NULL;
    struct sl_err err = {0};
    int rc = SL_ECONFIG, in_tx = 0;

    if (sl_api_get_string(in, "Name", 1, 1, NAME_MAX_LEN, 1, &name, e) != SL_OK)
        return SL_ECONFIG;
    struct sl_catalog *c = sl_api_catalog(ctx, e);
    if (!c)
        return SL_ECONFIG;
    if (sl_catalog_begin(c, &err) != SL_OK) {
        sl_api_catalog_fail(ctx, "DeleteCrawler", &err, e);
        goto done;
    }
    in_tx = 1;
    if (sl_catalog_run_latest(c, SL_RUN_CRAWLER, name, 0, &cur, &err) != SL_OK) {
        sl_api_catalog_fail(ctx, "DeleteCrawler", &err, e);
        goto done;
    }
    if (cur && !sl_run_state_terminal(cur->state)) {
        sl_api_fail(e, 400, "CrawlerRunningException",
                    "Crawler with name %s is running; stop it first", name);
        goto done;
    }
    if (sl_catalog_crawler_delete(c, name, &err) != SL_OK) {
        if (err.code == SL_ENOTFOUND)
            sl_api_fail(e, 400, NOT_FOUND, "Crawler entry with name %s does not exist", name);
        else
            sl_api_catalog_fail(ctx, "DeleteCrawler", &err, e);
        goto done;
    }
    if (sl_catalog_run_forget(c, SL_RUN_CRAWLER, name, &err) != SL_OK ||
        sl_catalog_commit(c, &err) != SL_OK) {
        sl_api_catalog_fail(ctx, "DeleteCrawler", &err, e);
        goto done;
    }
    in_tx = 0;
    sl_log(SL_LOG_INFO, "[api req:%s] crawler \"%s\" deleted", sl_api_request_id(ctx), name);
    *out = json_object();
    rc = *out ? SL_OK : sl_api_oom(e);
done:
    if (in_tx)
        sl_catalog_rollback(c);
    sl_run_free(cur);
    return rc;
}

/* ---- Metrics ---- */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static json_int_t counter(const char *counters, const char *key)
{
    json_t *j = counters ? json_loads(counters, 0, NULL) : NULL;
    json_int_t v = json_integer_value(json_object_get(j, key));
    json_decref(j);
    return v;
}

/* The CrawlerMetrics of one crawler (owned), or NULL with e filled. Runtimes
 * come from the newest HISTORY_MAX finished crawls, the Tables* counts from
 * the newest successful one. */
static json_t *metrics_json(struct sl_api_ctx *ctx, struct sl_catalog *c, const char *name,
                            struct sl_api_error *e)
{
    struct sl_catalog_crawl_run *runs = NULL;
    size_t n_runs = 0, n_done = 0;
    struct sl_run *cur = NULL;
    int64_t *secs = NULL;
    struct sl_err err = {0};
    json_t *o = NULL;

    if (sl_catalog_crawl_run_list(c, name, HISTORY_MAX, &runs, &n_runs, &err) != SL_OK ||
        sl_catalog_run_latest(c, SL_RUN_CRAWLER, name, 0, &cur, &err) != SL_OK) {
        sl_api_catalog_fail(ctx, "GetCrawlerMetrics", &err, e);
        goto out;
    }
    secs = sl_calloc(n_runs ? n_runs : 1, sizeof *secs);
    if (!secs) {
        sl_api_oom(e);
        goto out;
    }
    const struct sl_catalog_crawl_run *last = NULL, *last_ok = NULL;
    for (size_t i = 0; i < n_runs; i++) {
        const struct sl_catalog_crawl_run *r = &runs[i];
        if (r->status == SL_CATALOG_RUN_RUNNING || !r->finished_ms)
            continue;
        if (!last)
            last = r;
        if (!last_ok && r->status == SL_CATALOG_RUN_SUCCEEDED)
            last_ok = r;
        secs[n_done++] = r->finished_ms - r->started_ms; /* ms */
    }
    double median = 0;
    if (n_done) {
        qsort(secs, n_done, sizeof *secs, cmp_i64);
        median = n_done % 2 ? (double)secs[n_done / 2]
                            : ((double)secs[n_done / 2 - 1] + (double)secs[n_done / 2]) / 2;
        median /= 1000.0;
    }
    int running = cur && !sl_run_state_terminal(cur->state);
    double left = 0;
    if (running && n_done) {
        int64_t since = cur->running_ms ? cur->running_ms : cur->started_ms;
        left = median - (double)(now_ms() - since) / 1000.0;
        left = left > 0 ? left : 0;
    }
    o = json_pack("{s:s,s:f,s:b,s:f,s:f,s:I,s:I,s:I}", "CrawlerName", name, "TimeLeftSeconds", left,
                  "StillEstimating", running && !n_done, "LastRuntimeSeconds",
                  last ? (double)(last->finished_ms - last->started_ms) / 1000.0 : 0.0,
                  "MedianRuntimeSeconds", median, "TablesCreated",
                  last_ok ? counter(last_ok->counters, "tables_created") : 0, "TablesUpdated",
                  last_ok ? counter(last_ok->counters, "tables_updated") : 0, "TablesDeleted",
                  last_ok ? counter(last_ok->counters, "tables_removed") : 0);
    if (!o)
        sl_api_oom(e);
out:
    sl_free(secs);
    sl_run_free(cur);
    sl_catalog_crawl_run_list_free(runs, n_runs);
    return o;
}

/* Is name in names (absent or empty: every name is)? */
static int is_wanted(const json_t *names, const char *name)
{
    size_t k;
    const json_t *v;

    if (!names || json_array_size(names) == 0)
        return 1;
    json_array_foreach(names, k, v)
    {
        if (strcmp(json_string_value(v), name) == 0)
            return 1;
    }
    return 0;
}

/* CrawlerNameList empty or absent = every crawler; unknown names are skipped
 * (§3.4). Sorted and paged by name. */
static int op_get_crawler_metrics(struct sl_api_ctx *ctx, const json_t *in, json_t **out,
                                  struct sl_api_error *e)
{
    const json_t *names;
    long long limit;
    char *after = NULL;
    struct sl_catalog_crawler *crs = NULL;
    size_t n = 0, n_page = 0;
    struct sl_err err = {0};
    json_t *list = NULL;
    int rc = SL_ECONFIG;

    if (check_strings(in, "CrawlerNameList", &names, e) != SL_OK)
        return SL_ECONFIG;
    if (names && json_array_size(names) > NAMES_MAX)
        return sl_api_fail(e, 400, INVALID_INPUT,
                           "1 validation error detected: Value at 'crawlerNameList' failed to "
                           "satisfy constraint: Member must have length less than or equal to "
                           "100");
    if (sl_api_get_page(in, PAGE_MAX, PAGE_DEFAULT, &limit, &after, e) != SL_OK)
        return SL_ECONFIG;
    struct sl_catalog *c = sl_api_catalog(ctx, e);
    if (!c)
        goto done;
    if (sl_catalog_crawler_list(c, &crs, &n, &err) != SL_OK) {
        sl_api_catalog_fail(ctx, "GetCrawlerMetrics", &err, e);
        goto done;
    }
    if (!(list = json_array())) {
        sl_api_oom(e);
        goto done;
    }
    const char *last = NULL;
    size_t i = 0;
    for (; i < n && n_page < (size_t)limit; i++) {
        if ((after && strcmp(crs[i].name, after) <= 0) || !is_wanted(names, crs[i].name))
            continue;
        json_t *m = metrics_json(ctx, c, crs[i].name, e);
        if (!m)
            goto done;
        if (json_array_append_new(list, m) != 0) {
            sl_api_oom(e);
            goto done;
        }
        last = crs[i].name;
        n_page++;
    }
    /* a NextToken only when a wanted crawler follows */
    int more = 0;
    for (; i < n && last && !more; i++)
        more = is_wanted(names, crs[i].name);
    *out = json_pack("{s:O}", "CrawlerMetricsList", list);
    if (!*out) {
        sl_api_oom(e);
        goto done;
    }
    if (more && sl_api_set_next_token(*out, last, e) != SL_OK)
        goto done;
    rc = SL_OK;
done:
    if (rc != SL_OK) {
        json_decref(*out);
        *out = NULL;
    }
    json_decref(list);
    sl_catalog_crawler_list_free(crs, n);
    sl_free(after);
    return rc;
}

/* ---- Table ---- */

const struct sl_api_op sl_api_crawlers_ops[] = {
    {"AWSGlue.CreateCrawler", "CreateCrawler", op_create_crawler},
    {"AWSGlue.GetCrawler", "GetCrawler", op_get_crawler},
    {"AWSGlue.GetCrawlers", "GetCrawlers", op_get_crawlers},
    {"AWSGlue.StartCrawler", "StartCrawler", op_start_crawler},
    {"AWSGlue.StopCrawler", "StopCrawler", op_stop_crawler},
    {"AWSGlue.DeleteCrawler", "DeleteCrawler", op_delete_crawler},
    {"AWSGlue.GetCrawlerMetrics", "GetCrawlerMetrics", op_get_crawler_metrics},
    {NULL, NULL, NULL},
};
