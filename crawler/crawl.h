/*
 * crawler/crawl.h - one crawler run (spec/crawler.md §1): list the include
 * paths, diff the listing against the object manifest, sample new and changed
 * objects on a thread pool (sample.c), group everything into tables and
 * partitions (group.c), and write the catalog, the manifest and the run's
 * report in one transaction under the crawler's lock.
 */
#ifndef SL_CRAWL_H
#define SL_CRAWL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "crawler/classify.h"
#include "crawler/group.h"
#include "runtime/catalog.h"
#include "runtime/err.h"

enum sl_crawl_update { SL_CRAWL_UPDATE_IN_DATABASE, SL_CRAWL_MERGE_NEW_COLUMNS, SL_CRAWL_UPDATE_LOG };
enum sl_crawl_delete { SL_CRAWL_DELETE_LOG, SL_CRAWL_DEPRECATE_IN_DATABASE, SL_CRAWL_DELETE_FROM_DATABASE };
/* §12: a full listing (default), or only folders not seen before (§12.3). */
enum sl_crawl_recrawl { SL_CRAWL_EVERYTHING, SL_CRAWL_NEW_FOLDERS_ONLY };

struct sl_crawl_config {
    char *name;          /* owned; NULL = derived from database and targets */
    char *database;      /* owned */
    char **targets;      /* owned; URIs (s3://, file://, paths made absolute) */
    size_t n_targets;
    char **exclusions;   /* owned; globs relative to each include path */
    size_t n_exclusions;
    char *table_prefix;  /* owned; "" */
    struct sl_crawl_opts opts;
    struct sl_group_opts gopts;
    enum sl_crawl_update update_behavior; /* UPDATE_IN_DATABASE */
    enum sl_crawl_delete delete_behavior; /* LOG (issue 3: "default log") */
    enum sl_crawl_recrawl recrawl;        /* CRAWL_EVERYTHING */
    int max_tables;      /* 0 = unlimited */
    int max_concurrency; /* sampling threads (and connections) */
    bool ignore_hidden;  /* true */
    bool allow_empty_listing_deletes;
    bool dry_run;        /* run everything, report the catalog diff, write nothing (§13) */
};

void sl_crawl_config_init(struct sl_crawl_config *c);
void sl_crawl_config_cleanup(struct sl_crawl_config *c);
/* The stored form (crawler.config): owned JSON object. */
json_t *sl_crawl_config_to_json(const struct sl_crawl_config *c);
/* Reads a stored config; SL_ECONFIG names the bad member. */
int sl_crawl_config_from_json(struct sl_crawl_config *c, const json_t *j, struct sl_err *err);
/* SHA-256 hex of the options that influence classification (§2 config_hash). */
void sl_crawl_config_hash(const struct sl_crawl_config *c, char out[65]);

/* Progress, for a terminal line; called from the crawling thread. */
struct sl_crawl_progress {
    uint64_t objects_listed, objects_to_sample, objects_sampled, bytes_read, tables;
    const char *phase; /* "listing" "sampling" "grouping" "writing" */
};
typedef void (*sl_crawl_progress_fn)(void *ud, const struct sl_crawl_progress *p);

/* Runs a crawl. *report receives the run's report (owned JSON): "crawler",
 * "run_id", "counters" {list_requests, get_requests, head_requests, bytes_read,
 * objects_listed, objects_new, objects_changed, objects_unchanged,
 * objects_deleted, objects_sampled, objects_skipped, objects_unknown,
 * objects_error, tables_created, tables_updated, tables_unchanged,
 * versions_created, partitions_added, partitions_updated, ...}, "tables" [...],
 * "skipped" [{"key", "status", "reason"}], "warnings" [{"code","subject","detail"}].
 * Returns SL_OK when the crawl finished (even with skipped or unreadable
 * objects); *readable tells whether any object could be read (exit 1 when
 * none). Errors: SL_ECONFIG (bad config), catalog or listing failures. */
int sl_crawl_run(struct sl_catalog *cat, const struct sl_crawl_config *cfg,
                 sl_crawl_progress_fn progress, void *ud, json_t **report, bool *readable,
                 struct sl_err *err);

#endif
