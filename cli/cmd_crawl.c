/*
 * cli/cmd_crawl.c - `sluice crawl`: runs a crawler (crawler/crawl.c) over
 * local and S3 paths into the catalog, with a progress line on a terminal and
 * a summary (or the JSON report) at the end.
 */
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "crawler/crawl.h"
#include "runtime/alloc.h"
#include "runtime/catalog.h"
#include "runtime/log.h"
#include "runtime/store.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sluice crawl URI... --database DB [options]\n"
            "       sluice crawl --name NAME            (re-run a stored crawler)\n"
            "\n"
            "Lists the paths (s3://bucket/prefix/, file:///dir/ or local folders), classifies\n"
            "new and changed objects (CSV/TSV, JSON, Parquet, Avro, compressed or not), infers\n"
            "their schemas, groups them into tables and partitions and writes the catalog.\n"
            "A re-crawl of unchanged data costs LIST requests only.\n"
            "\n"
            "  -d, --database DB        target database (created when missing)\n"
            "  -n, --name NAME          store the crawler's definition under NAME; with no URI,\n"
            "                           re-run the stored crawler\n"
            "  -x, --exclude GLOB       skip keys matching GLOB (relative to each path; * ** ? [..] {..})\n"
            "      --sample-bytes N     read at most N bytes of an object's head (default: a 1 MiB\n"
            "                           window, grown to 16 MiB only for records wider than it)\n"
            "      --table-prefix P     prefix for table names\n"
            "      --table-depth D      table roots at depth D below each path\n"
            "      --single-schema      one table per path (Glue's CombineCompatibleSchemas)\n"
            "      --update-behavior B  UPDATE_IN_DATABASE (default), MERGE_NEW_COLUMNS or LOG\n"
            "      --delete-behavior B  LOG (default), DEPRECATE_IN_DATABASE or DELETE_FROM_DATABASE\n"
            "      --max-tables N       fail when more than N tables would be written\n"
            "      --recrawl MODE       CRAWL_EVERYTHING (default) or CRAWL_NEW_FOLDERS_ONLY (list only\n"
            "                           folders not seen before; changes and deletions are not seen)\n"
            "      --concurrency N      parallel sampling requests (default 8)\n"
            "      --dry-run            do everything but write: report what would change\n"
            "      --json               print the run's report as JSON (request counts included)\n"
            "\n"
            "Exit codes: 0 the crawl finished (skipped objects are reported), 1 nothing could\n"
            "be read or the catalog failed, 2 usage.\n");
}

static int add_str(char ***v, size_t *n, const char *s)
{
    char **p = sl_realloc(*v, (*n + 1) * sizeof *p);
    if (!p)
        return SL_ENOMEM;
    *v = p;
    if (!(p[*n] = sl_strdup(s)))
        return SL_ENOMEM;
    (*n)++;
    return SL_OK;
}

static int parse_count(const char *s, long long *out)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (end == s)
        return -1;
    if (*end == 'k' || *end == 'K')
        v <<= 10, end++;
    else if (*end == 'm' || *end == 'M')
        v <<= 20, end++;
    if (*end || v < 0)
        return -1;
    *out = v;
    return 0;
}

static void progress_line(void *ud, const struct sl_crawl_progress *p)
{
    (void)ud;
    fprintf(stderr,
            "\r%-9s listed %" PRIu64 "  sampled %" PRIu64 "/%" PRIu64 "  read %.1f MiB  tables %" PRIu64
            "   ",
            p->phase, p->objects_listed, p->objects_sampled, p->objects_to_sample,
            (double)p->bytes_read / (1024.0 * 1024.0), p->tables);
    fflush(stderr);
}

static json_int_t counter(const json_t *rep, const char *name)
{
    return json_integer_value(json_object_get(json_object_get(rep, "counters"), name));
}

static void print_summary(const json_t *rep)
{
    size_t i;
    json_t *t;
    printf("crawler %s, run %" JSON_INTEGER_FORMAT ": %s\n",
           json_string_value(json_object_get(rep, "crawler")),
           json_integer_value(json_object_get(rep, "run_id")),
           json_string_value(json_object_get(rep, "status")));
    printf("objects: %" JSON_INTEGER_FORMAT " listed, %" JSON_INTEGER_FORMAT " new, %" JSON_INTEGER_FORMAT
           " changed, %" JSON_INTEGER_FORMAT " unchanged, %" JSON_INTEGER_FORMAT
           " deleted, %" JSON_INTEGER_FORMAT " skipped, %" JSON_INTEGER_FORMAT " unknown, %" JSON_INTEGER_FORMAT
           " unreadable\n",
           counter(rep, "objects_listed"), counter(rep, "objects_new"),
           counter(rep, "objects_changed"), counter(rep, "objects_unchanged"),
           counter(rep, "objects_deleted"), counter(rep, "objects_skipped"),
           counter(rep, "objects_unknown"), counter(rep, "objects_error"));
    printf("requests: %" JSON_INTEGER_FORMAT " LIST, %" JSON_INTEGER_FORMAT " GET, %" JSON_INTEGER_FORMAT
           " HEAD, %" JSON_INTEGER_FORMAT " bytes read\n",
           counter(rep, "list_requests"), counter(rep, "get_requests"),
           counter(rep, "head_requests"), counter(rep, "bytes_read"));
    printf("tables: %" JSON_INTEGER_FORMAT " created, %" JSON_INTEGER_FORMAT " updated, %" JSON_INTEGER_FORMAT
           " unchanged; %" JSON_INTEGER_FORMAT " new versions; partitions: %" JSON_INTEGER_FORMAT
           " added, %" JSON_INTEGER_FORMAT " updated\n",
           counter(rep, "tables_created"), counter(rep, "tables_updated"),
           counter(rep, "tables_unchanged"), counter(rep, "versions_created"),
           counter(rep, "partitions_added"), counter(rep, "partitions_updated"));
    json_array_foreach(json_object_get(rep, "tables"), i, t)
    {
        printf("  %-28s %-8s v%-3" JSON_INTEGER_FORMAT " %3" JSON_INTEGER_FORMAT " columns %4" JSON_INTEGER_FORMAT
               " partitions  %s%s\n",
               json_string_value(json_object_get(t, "name")),
               json_string_value(json_object_get(t, "classification")),
               json_integer_value(json_object_get(t, "version")),
               json_integer_value(json_object_get(t, "columns")),
               json_integer_value(json_object_get(t, "partitions")),
               json_string_value(json_object_get(t, "location")),
               json_is_true(json_object_get(t, "created"))       ? "  (new)"
               : json_is_true(json_object_get(t, "new_version")) ? "  (new version)"
                                                                 : "");
    }
    json_t *sk = json_object_get(rep, "skipped");
    if (json_array_size(sk)) {
        printf("skipped or unreadable objects:\n");
        size_t shown = 0;
        json_array_foreach(sk, i, t)
        {
            if (shown++ == 20) {
                printf("  ... and %zu more (see --json)\n", json_array_size(sk) - 20);
                break;
            }
            const char *reason = json_string_value(json_object_get(t, "reason"));
            printf("  %-14s %s%s%s\n", json_string_value(json_object_get(t, "status")),
                   json_string_value(json_object_get(t, "key")), reason && *reason ? ": " : "",
                   reason ? reason : "");
        }
    }
    json_t *w = json_object_get(rep, "warnings");
    if (json_array_size(w)) {
        printf("warnings:\n");
        json_array_foreach(w, i, t)
        {
            printf("  %s %s: %s\n", json_string_value(json_object_get(t, "code")),
                   json_string_value(json_object_get(t, "subject")),
                   json_string_value(json_object_get(t, "detail")));
        }
    }
}

enum { OPT_RECRAWL = 300, OPT_DRY_RUN };
enum { OPT_SAMPLE = 256, OPT_PREFIX, OPT_DEPTH, OPT_SINGLE, OPT_UPDATE, OPT_DELETE, OPT_MAXT,
       OPT_CONC, OPT_JSON };

int cmd_crawl(int argc, char **argv)
{
    static const struct option opts[] = {
        { "database", required_argument, NULL, 'd' },
        { "name", required_argument, NULL, 'n' },
        { "exclude", required_argument, NULL, 'x' },
        { "sample-bytes", required_argument, NULL, OPT_SAMPLE },
        { "table-prefix", required_argument, NULL, OPT_PREFIX },
        { "table-depth", required_argument, NULL, OPT_DEPTH },
        { "single-schema", no_argument, NULL, OPT_SINGLE },
        { "update-behavior", required_argument, NULL, OPT_UPDATE },
        { "delete-behavior", required_argument, NULL, OPT_DELETE },
        { "max-tables", required_argument, NULL, OPT_MAXT },
        { "concurrency", required_argument, NULL, OPT_CONC },
        { "json", no_argument, NULL, OPT_JSON },
        { "recrawl", required_argument, NULL, OPT_RECRAWL },
        { "dry-run", no_argument, NULL, OPT_DRY_RUN },
        { "help", no_argument, NULL, 'h' },
        { 0 },
    };
    struct sl_crawl_config cfg;
    struct sl_crawl_config given; /* what the command line said, applied over a stored config */
    struct sl_err err = { 0 };
    struct sl_catalog *cat = NULL;
    json_t *report = NULL;
    int json = cli_json, c, rc = SL_EXIT_USAGE;
    long long num;
    const char *upd = NULL, *del = NULL, *recrawl = NULL;
    int sample_set = 0, depth_set = 0, maxt_set = 0, conc_set = 0, dry_run = 0;

    sl_crawl_config_init(&cfg);
    sl_crawl_config_init(&given);
    while ((c = getopt_long(argc, argv, "d:n:x:h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': sl_free(given.database); given.database = sl_strdup(optarg); break;
        case 'n': sl_free(given.name); given.name = sl_strdup(optarg); break;
        case 'x': add_str(&given.exclusions, &given.n_exclusions, optarg); break;
        case OPT_SAMPLE:
            if (parse_count(optarg, &num) || num < 4096) {
                rc = cli_usage_error("crawl", "--sample-bytes wants a size of at least 4096");
                goto out;
            }
            given.opts.sample_initial_bytes = (size_t)num;
            sample_set = 1;
            break;
        case OPT_PREFIX: sl_free(given.table_prefix); given.table_prefix = sl_strdup(optarg); break;
        case OPT_DEPTH:
            if (parse_count(optarg, &num) || num > 64) {
                rc = cli_usage_error("crawl", "--table-depth wants a number from 0 to 64");
                goto out;
            }
            given.gopts.table_depth = (int)num;
            depth_set = 1;
            break;
        case OPT_SINGLE: given.gopts.single_schema = true; break;
        case OPT_UPDATE: upd = optarg; break;
        case OPT_DELETE: del = optarg; break;
        case OPT_MAXT:
            if (parse_count(optarg, &num) || num > 1000000) {
                rc = cli_usage_error("crawl", "--max-tables wants a number");
                goto out;
            }
            given.max_tables = (int)num;
            maxt_set = 1;
            break;
        case OPT_CONC:
            if (parse_count(optarg, &num) || num < 1 || num > 64) {
                rc = cli_usage_error("crawl", "--concurrency wants a number from 1 to 64");
                goto out;
            }
            given.max_concurrency = (int)num;
            conc_set = 1;
            break;
        case OPT_JSON: json = 1; break;
        case OPT_RECRAWL: recrawl = optarg; break;
        case OPT_DRY_RUN: dry_run = 1; break;
        case 'h': usage(stdout); rc = SL_EXIT_OK; goto out;
        default: rc = cli_usage_error("crawl", "bad option"); goto out;
        }
    }
    for (int i = optind; i < argc; i++) {
        /* plain paths become absolute now: the definition may be re-run elsewhere */
        struct sl_uri u;
        if (sl_uri_parse(argv[i], &u, &err) != SL_OK) {
            rc = cli_fail("crawl", &err);
            goto out;
        }
        char *full = u.scheme == SL_URI_S3 ? sl_strdup(argv[i])
                                           : sl_asprintf("/%s%s", u.key,
                                                         argv[i][strlen(argv[i]) - 1] == '/' &&
                                                                 u.key[0] &&
                                                                 u.key[strlen(u.key) - 1] != '/'
                                                             ? "/"
                                                             : "");
        sl_uri_cleanup(&u);
        add_str(&given.targets, &given.n_targets, full);
        sl_free(full);
    }

    if (!(cat = sl_catalog_open(&err))) {
        rc = cli_fail("crawl", &err);
        goto out;
    }
    if (given.name && given.n_targets == 0) {
        /* re-run a stored crawler; command-line options override it */
        struct sl_catalog_crawler *cr = NULL;
        if (sl_catalog_crawler_get(cat, given.name, &cr, &err) != SL_OK) {
            if (err.code == SL_ENOTFOUND)
                err.code = SL_ECONFIG;
            rc = cli_fail("crawl", &err);
            goto out;
        }
        json_t *j = json_loads(cr->config, 0, NULL);
        int prc = sl_crawl_config_from_json(&cfg, j, &err);
        json_decref(j);
        sl_catalog_crawler_free(cr);
        if (prc != SL_OK) {
            rc = cli_fail("crawl", &err);
            goto out;
        }
        if (given.database && strcmp(given.database, cfg.database) != 0) {
            rc = cli_usage_error("crawl", "crawler \"%s\" writes to database \"%s\"", given.name,
                                 cfg.database);
            goto out;
        }
    } else {
        if (given.n_targets == 0) {
            rc = cli_usage_error("crawl", "expected at least one URI (or --name of a stored crawler)");
            goto out;
        }
        if (!given.database) {
            rc = cli_usage_error("crawl", "--database is required");
            goto out;
        }
        cfg.database = given.database;
        given.database = NULL;
        cfg.targets = given.targets;
        cfg.n_targets = given.n_targets;
        given.targets = NULL;
        given.n_targets = 0;
    }
    if (given.name) {
        sl_free(cfg.name);
        cfg.name = given.name;
        given.name = NULL;
    }
    if (given.n_exclusions) {
        for (size_t i = 0; i < cfg.n_exclusions; i++)
            sl_free(cfg.exclusions[i]);
        sl_free(cfg.exclusions);
        cfg.exclusions = given.exclusions;
        cfg.n_exclusions = given.n_exclusions;
        given.exclusions = NULL;
        given.n_exclusions = 0;
    }
    if (given.table_prefix) {
        sl_free(cfg.table_prefix);
        cfg.table_prefix = given.table_prefix;
        given.table_prefix = NULL;
    }
    if (sample_set) {
        /* --sample-bytes is a hard budget per object: the head window does not
         * grow past it, and a tail window takes at most a quarter of it */
        cfg.opts.sample_initial_bytes = given.opts.sample_initial_bytes;
        cfg.opts.sample_max_bytes = given.opts.sample_initial_bytes;
        if (cfg.opts.tail_sample_bytes > given.opts.sample_initial_bytes / 4)
            cfg.opts.tail_sample_bytes = given.opts.sample_initial_bytes / 4;
    }
    if (depth_set)
        cfg.gopts.table_depth = given.gopts.table_depth;
    if (given.gopts.single_schema)
        cfg.gopts.single_schema = true;
    if (maxt_set)
        cfg.max_tables = given.max_tables;
    if (conc_set)
        cfg.max_concurrency = given.max_concurrency;
    if (upd) {
        if (strcmp(upd, "UPDATE_IN_DATABASE") == 0)
            cfg.update_behavior = SL_CRAWL_UPDATE_IN_DATABASE;
        else if (strcmp(upd, "MERGE_NEW_COLUMNS") == 0)
            cfg.update_behavior = SL_CRAWL_MERGE_NEW_COLUMNS;
        else if (strcmp(upd, "LOG") == 0)
            cfg.update_behavior = SL_CRAWL_UPDATE_LOG;
        else {
            rc = cli_usage_error("crawl", "unknown --update-behavior \"%s\"", upd);
            goto out;
        }
    }
    cfg.dry_run = dry_run;
    if (recrawl) {
        if (strcmp(recrawl, "CRAWL_EVERYTHING") == 0)
            cfg.recrawl = SL_CRAWL_EVERYTHING;
        else if (strcmp(recrawl, "CRAWL_NEW_FOLDERS_ONLY") == 0)
            cfg.recrawl = SL_CRAWL_NEW_FOLDERS_ONLY;
        else {
            rc = cli_usage_error("crawl", "unknown --recrawl \"%s\"", recrawl);
            goto out;
        }
    }
    if (del) {
        if (strcmp(del, "LOG") == 0)
            cfg.delete_behavior = SL_CRAWL_DELETE_LOG;
        else if (strcmp(del, "DEPRECATE_IN_DATABASE") == 0)
            cfg.delete_behavior = SL_CRAWL_DEPRECATE_IN_DATABASE;
        else if (strcmp(del, "DELETE_FROM_DATABASE") == 0)
            cfg.delete_behavior = SL_CRAWL_DELETE_FROM_DATABASE;
        else {
            rc = cli_usage_error("crawl", "unknown --delete-behavior \"%s\"", del);
            goto out;
        }
    }

    bool tty = isatty(STDERR_FILENO) && !json;
    bool readable = false;
    int crc = sl_crawl_run(cat, &cfg, tty ? progress_line : NULL, NULL, &report, &readable, &err);
    if (tty)
        fprintf(stderr, "\r%*s\r", 90, "");
    if (report && json) {
        json_dumpf(report, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        fputc('\n', stdout);
    } else if (report && crc == SL_OK) {
        print_summary(report);
    }
    if (crc != SL_OK) {
        rc = cli_fail("crawl", &err);
        goto out;
    }
    if (!readable) {
        fprintf(stderr, "sluice crawl: no object could be read\n");
        rc = SL_EXIT_FAIL;
        goto out;
    }
    rc = SL_EXIT_OK;
out:
    json_decref(report);
    sl_catalog_free(cat);
    sl_crawl_config_cleanup(&cfg);
    sl_crawl_config_cleanup(&given);
    return rc;
}
