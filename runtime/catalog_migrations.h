/*
 * runtime/catalog_migrations.h - the catalog's schema, as an ordered list of
 * migrations (version, name, SQL). Included only by catalog_migrate.c, which
 * applies the missing ones in one transaction when a catalog is opened.
 *
 * The rule: a migration is never edited once released; a schema change is a new
 * row at the end with the next version number (jobs, runs, triggers and
 * bookmarks come as migrations 2, 3, ...). Each SQL text may hold several
 * statements; it runs inside the migration transaction, so it must not use
 * CREATE INDEX CONCURRENTLY or other statements that refuse a transaction.
 * Every identifier is quoted and schema-qualified; search_path is not relied on.
 */
#ifndef SL_CATALOG_MIGRATIONS_H
#define SL_CATALOG_MIGRATIONS_H

struct sl_catalog_migration {
    int version;      /* 1, 2, ...: consecutive */
    const char *name; /* short snake_case label, stored in schema_migrations */
    const char *sql;  /* one or more statements */
};

/* Migration 1: catalog tables (spec/crawler.md §11.1) and crawl state (§12.1).
 * Differences from the spec text: crawl_run, crawl_object and crawl_folder
 * reference crawler ON DELETE CASCADE (deleting a crawler removes its state);
 * crawl_folder's key columns are NOT NULL (they are its primary key anyway);
 * names, partition values, object keys and prefixes use COLLATE "C" so that
 * sorting and paging are byte-wise whatever the server's locale (§0 goal 5);
 * plus the indexes below. */
#define SL_CATALOG_MIGRATION_1                                                                     \
    "CREATE TABLE \"sluice\".\"catalog_database\" (\n"                                             \
    "  \"id\" BIGSERIAL PRIMARY KEY,\n"                                                            \
    "  \"name\" TEXT COLLATE \"C\" NOT NULL UNIQUE CHECK (\"name\" ~ '^[a-z0-9_]{1,255}$'),\n"     \
    "  \"description\" TEXT,\n"                                                                    \
    "  \"location_uri\" TEXT,\n"                                                                   \
    "  \"parameters\" JSONB NOT NULL DEFAULT '{}',\n"                                              \
    "  \"created_at\" TIMESTAMPTZ NOT NULL DEFAULT now(),\n"                                       \
    "  \"updated_at\" TIMESTAMPTZ NOT NULL DEFAULT now());\n"                                      \
    "CREATE TABLE \"sluice\".\"catalog_table\" (\n"                                                \
    "  \"id\" BIGSERIAL PRIMARY KEY,\n"                                                            \
    "  \"database_id\" BIGINT NOT NULL\n"                                                          \
    "    REFERENCES \"sluice\".\"catalog_database\" ON DELETE CASCADE,\n"                          \
    "  \"name\" TEXT COLLATE \"C\" NOT NULL CHECK (\"name\" ~ '^[a-z0-9_]{1,128}$'),\n"            \
    "  \"location\" TEXT NOT NULL,\n"                                                              \
    "  \"table_type\" TEXT NOT NULL DEFAULT 'EXTERNAL_TABLE',\n"                                   \
    "  \"classification\" TEXT NOT NULL,\n"                                                        \
    "  \"parameters\" JSONB NOT NULL DEFAULT '{}',\n"                                              \
    "  \"current_version\" INT NOT NULL,\n"                                                        \
    "  \"state\" TEXT NOT NULL DEFAULT 'active' CHECK (\"state\" IN ('active', 'deprecated')),\n"  \
    "  \"created_by_crawler\" TEXT,\n"                                                             \
    "  \"created_at\" TIMESTAMPTZ NOT NULL DEFAULT now(),\n"                                       \
    "  \"updated_at\" TIMESTAMPTZ NOT NULL DEFAULT now(),\n"                                       \
    "  \"deprecated_at\" TIMESTAMPTZ,\n"                                                           \
    "  UNIQUE (\"database_id\", \"name\"));\n"                                                     \
    "CREATE INDEX \"catalog_table_crawler_idx\"\n"                                                 \
    "  ON \"sluice\".\"catalog_table\" (\"created_by_crawler\");\n"                                \
    "CREATE TABLE \"sluice\".\"catalog_table_version\" (\n"                                        \
    "  \"table_id\" BIGINT REFERENCES \"sluice\".\"catalog_table\" ON DELETE CASCADE,\n"           \
    "  \"version\" INT NOT NULL,\n"                                                                \
    "  \"schema_hash\" TEXT NOT NULL,\n"                                                           \
    "  \"format\" JSONB NOT NULL,\n"                                                               \
    "  \"change_kinds\" TEXT[] NOT NULL,\n"                                                        \
    "  \"change\" JSONB NOT NULL,\n"                                                               \
    "  \"crawl_run_id\" BIGINT,\n"                                                                 \
    "  \"created_at\" TIMESTAMPTZ NOT NULL DEFAULT now(),\n"                                       \
    "  PRIMARY KEY (\"table_id\", \"version\"));\n"                                                \
    "CREATE INDEX \"catalog_table_version_run_idx\"\n"                                             \
    "  ON \"sluice\".\"catalog_table_version\" (\"crawl_run_id\");\n"                              \
    "CREATE TABLE \"sluice\".\"catalog_column\" (\n"                                               \
    "  \"table_id\" BIGINT NOT NULL,\n"                                                            \
    "  \"version\" INT NOT NULL,\n"                                                                \
    "  \"is_partition_key\" BOOLEAN NOT NULL,\n"                                                   \
    "  \"ordinal\" INT NOT NULL,\n"                                                                \
    "  \"name\" TEXT NOT NULL,\n"                                                                  \
    "  \"type\" TEXT NOT NULL,\n"                                                                  \
    "  \"comment\" TEXT,\n"                                                                        \
    "  \"parameters\" JSONB NOT NULL DEFAULT '{}',\n"                                              \
    "  \"stats\" JSONB,\n"                                                                         \
    "  PRIMARY KEY (\"table_id\", \"version\", \"is_partition_key\", \"ordinal\"),\n"              \
    "  UNIQUE (\"table_id\", \"version\", \"name\"),\n"                                            \
    "  FOREIGN KEY (\"table_id\", \"version\")\n"                                                  \
    "    REFERENCES \"sluice\".\"catalog_table_version\" ON DELETE CASCADE);\n"                    \
    "CREATE TABLE \"sluice\".\"catalog_partition\" (\n"                                            \
    "  \"id\" BIGSERIAL PRIMARY KEY,\n"                                                            \
    "  \"table_id\" BIGINT NOT NULL REFERENCES \"sluice\".\"catalog_table\" ON DELETE CASCADE,\n"  \
    "  \"part_values\" TEXT[] COLLATE \"C\" NOT NULL,\n"                                           \
    "  \"location\" TEXT NOT NULL,\n"                                                              \
    "  \"parameters\" JSONB NOT NULL DEFAULT '{}',\n"                                              \
    "  \"schema_hash\" TEXT,\n"                                                                    \
    "  \"checked_against_version\" INT,\n"                                                         \
    "  \"state\" TEXT NOT NULL DEFAULT 'active' CHECK (\"state\" IN ('active', 'deprecated')),\n"  \
    "  \"created_at\" TIMESTAMPTZ NOT NULL DEFAULT now(),\n"                                       \
    "  \"updated_at\" TIMESTAMPTZ NOT NULL DEFAULT now(),\n"                                       \
    "  \"deprecated_at\" TIMESTAMPTZ,\n"                                                           \
    "  UNIQUE (\"table_id\", \"part_values\"));\n"                                                 \
    "CREATE TABLE \"sluice\".\"crawler\" (\n"                                                      \
    "  \"name\" TEXT COLLATE \"C\" PRIMARY KEY,\n"                                                 \
    "  \"config\" JSONB NOT NULL,\n"                                                               \
    "  \"config_hash\" TEXT NOT NULL,\n"                                                           \
    "  \"created_at\" TIMESTAMPTZ NOT NULL DEFAULT now(),\n"                                       \
    "  \"updated_at\" TIMESTAMPTZ NOT NULL DEFAULT now());\n"                                      \
    "CREATE TABLE \"sluice\".\"crawl_run\" (\n"                                                    \
    "  \"id\" BIGSERIAL PRIMARY KEY,\n"                                                            \
    "  \"crawler\" TEXT NOT NULL REFERENCES \"sluice\".\"crawler\" ON DELETE CASCADE,\n"           \
    "  \"mode\" TEXT NOT NULL,\n"                                                                  \
    "  \"status\" TEXT NOT NULL\n"                                                                 \
    "    CHECK (\"status\" IN ('running', 'succeeded', 'failed', 'cancelled')),\n"                 \
    "  \"started_at\" TIMESTAMPTZ NOT NULL,\n"                                                     \
    "  \"finished_at\" TIMESTAMPTZ,\n"                                                             \
    "  \"counters\" JSONB,\n"                                                                      \
    "  \"report\" JSONB);\n"                                                                       \
    "CREATE INDEX \"crawl_run_crawler_idx\"\n"                                                     \
    "  ON \"sluice\".\"crawl_run\" (\"crawler\", \"id\" DESC);\n"                                  \
    "CREATE TABLE \"sluice\".\"crawl_schema\" (\n"                                                 \
    "  \"schema_hash\" TEXT PRIMARY KEY,\n"                                                        \
    "  \"schema\" JSONB NOT NULL);\n"                                                              \
    "CREATE TABLE \"sluice\".\"crawl_object\" (\n"                                                 \
    "  \"crawler\" TEXT NOT NULL REFERENCES \"sluice\".\"crawler\" ON DELETE CASCADE,\n"           \
    "  \"include_path\" TEXT COLLATE \"C\" NOT NULL,\n"                                            \
    "  \"key\" TEXT COLLATE \"C\" NOT NULL,\n"                                                     \
    "  \"etag\" TEXT NOT NULL,\n"                                                                  \
    "  \"size\" BIGINT NOT NULL,\n"                                                                \
    "  \"last_modified\" TIMESTAMPTZ NOT NULL,\n"                                                  \
    "  \"storage_class\" TEXT,\n"                                                                  \
    "  \"status\" TEXT NOT NULL,\n"                                                                \
    "  \"classification\" TEXT,\n"                                                                 \
    "  \"compression\" TEXT,\n"                                                                    \
    "  \"compat_key\" TEXT,\n"                                                                     \
    "  \"certainty\" REAL,\n"                                                                      \
    "  \"schema_hash\" TEXT REFERENCES \"sluice\".\"crawl_schema\",\n"                             \
    "  \"format_params\" JSONB,\n"                                                                 \
    "  \"header_evidence\" JSONB,\n"                                                               \
    "  \"record_estimate\" BIGINT,\n"                                                              \
    "  \"record_exact\" BOOLEAN,\n"                                                                \
    "  \"avg_record_bytes\" REAL,\n"                                                               \
    "  \"decoded_ratio\" REAL,\n"                                                                  \
    "  \"sampled\" BOOLEAN NOT NULL,\n"                                                            \
    "  \"inference_version\" INT NOT NULL,\n"                                                      \
    "  \"config_hash\" TEXT NOT NULL,\n"                                                           \
    "  \"first_seen_run\" BIGINT,\n"                                                               \
    "  \"last_sampled_run\" BIGINT,\n"                                                             \
    "  PRIMARY KEY (\"crawler\", \"include_path\", \"key\"));\n"                                   \
    "CREATE INDEX \"crawl_object_schema_idx\"\n"                                                   \
    "  ON \"sluice\".\"crawl_object\" (\"schema_hash\");\n"                                        \
    "CREATE TABLE \"sluice\".\"crawl_folder\" (\n"                                                 \
    "  \"crawler\" TEXT NOT NULL REFERENCES \"sluice\".\"crawler\" ON DELETE CASCADE,\n"           \
    "  \"include_path\" TEXT COLLATE \"C\" NOT NULL,\n"                                            \
    "  \"prefix\" TEXT COLLATE \"C\" NOT NULL,\n"                                                  \
    "  \"has_direct_files\" BOOLEAN,\n"                                                            \
    "  \"first_seen_run\" BIGINT,\n"                                                               \
    "  PRIMARY KEY (\"crawler\", \"include_path\", \"prefix\"));\n"

/* Migration 2: job bookmarks (spec/aws-api.md §3.7). The current entry per job
 * name and one history row per version (commits by a run, resets and rewinds),
 * from which a reset rewinds to the state a run committed. The job name is not a
 * reference to a job definition: a bookmark may be committed by a job run from
 * a file, and DeleteJob removes it explicitly. History rows go with their
 * bookmark (ON DELETE CASCADE); run_id is NULL on rows written by a reset. */
#define SL_CATALOG_MIGRATION_2                                                                     \
    "CREATE TABLE \"sluice\".\"job_bookmark\" (\n"                                                 \
    "  \"job_name\" TEXT COLLATE \"C\" PRIMARY KEY\n"                                              \
    "    CHECK (\"job_name\" ~ '^[A-Za-z0-9_.-]{1,255}$'),\n"                                      \
    "  \"version\" INT NOT NULL,\n"                                                                \
    "  \"run\" INT NOT NULL,\n"                                                                    \
    "  \"attempt\" INT NOT NULL DEFAULT 0,\n"                                                      \
    "  \"run_id\" TEXT,\n"                                                                         \
    "  \"previous_run_id\" TEXT,\n"                                                                \
    "  \"state\" JSONB NOT NULL,\n"                                                                \
    "  \"updated_at\" TIMESTAMPTZ NOT NULL DEFAULT now());\n"                                      \
    "CREATE TABLE \"sluice\".\"job_bookmark_history\" (\n"                                         \
    "  \"job_name\" TEXT COLLATE \"C\" NOT NULL\n"                                                 \
    "    REFERENCES \"sluice\".\"job_bookmark\" ON DELETE CASCADE,\n"                              \
    "  \"version\" INT NOT NULL,\n"                                                                \
    "  \"run_id\" TEXT,\n"                                                                         \
    "  \"state\" JSONB NOT NULL,\n"                                                                \
    "  \"committed_at\" TIMESTAMPTZ NOT NULL DEFAULT now(),\n"                                     \
    "  PRIMARY KEY (\"job_name\", \"version\"));\n"                                                \
    "CREATE INDEX \"job_bookmark_history_run_idx\"\n"                                              \
    "  ON \"sluice\".\"job_bookmark_history\" (\"job_name\", \"run_id\", \"version\");\n"

/* Migration 3: job definitions (Glue Job, spec/aws-api.md §3.5). Members sluice
 * honours or indexes get columns; the accept-and-store ones (LogUri,
 * Connections, MaxCapacity, ...) travel as one jsonb object "extra". Names use
 * the bookmark pattern of migration 2, so a job and its bookmark share a key.
 * schedule is the cron text of a job{} header (sluice only, not a Glue member);
 * source says who defined the job: 'api' or 'file:<absolute path>'. */
#define SL_CATALOG_MIGRATION_3                                                                     \
    "CREATE TABLE \"sluice\".\"job\" (\n"                                                         \
    "  \"name\" TEXT COLLATE \"C\" PRIMARY KEY\n"                                                  \
    "    CHECK (\"name\" ~ '^[A-Za-z0-9_.-]{1,255}$'),\n"                                          \
    "  \"description\" TEXT,\n"                                                                    \
    "  \"role\" TEXT,\n"                                                                           \
    "  \"command\" JSONB NOT NULL CHECK (jsonb_typeof(\"command\") = 'object'),\n"                \
    "  \"default_arguments\" JSONB NOT NULL DEFAULT '{}',\n"                                       \
    "  \"non_overridable_arguments\" JSONB NOT NULL DEFAULT '{}',\n"                               \
    "  \"max_concurrent_runs\" INT NOT NULL DEFAULT 1 CHECK (\"max_concurrent_runs\" >= 1),\n"     \
    "  \"timeout_minutes\" INT CHECK (\"timeout_minutes\" >= 1),\n"                                \
    "  \"max_retries\" INT NOT NULL DEFAULT 0 CHECK (\"max_retries\" >= 0),\n"                     \
    "  \"glue_version\" TEXT,\n"                                                                   \
    "  \"worker_type\" TEXT,\n"                                                                    \
    "  \"number_of_workers\" INT CHECK (\"number_of_workers\" >= 1),\n"                            \
    "  \"schedule\" TEXT,\n"                                                                       \
    "  \"extra\" JSONB NOT NULL DEFAULT '{}',\n"                                                   \
    "  \"source\" TEXT NOT NULL DEFAULT 'api'\n"                                                   \
    "    CHECK (\"source\" = 'api' OR \"source\" LIKE 'file:_%'),\n"                               \
    "  \"created_on\" TIMESTAMPTZ NOT NULL DEFAULT now(),\n"                                       \
    "  \"last_modified_on\" TIMESTAMPTZ NOT NULL DEFAULT now());\n"

/* Migration 4: job runs and their queue, run logs, triggers (spec/aws-api.md
 * §3.6, §3.8). A run row is the queue entry too: STARTING with no owner =
 * queued (claimed FOR UPDATE SKIP LOCKED once not_before has passed); owner +
 * lease_until = the server executing it, which renews the lease while the
 * child lives. kind 'crawler' rows are crawls started through the API
 * (StartCrawler, triggers), job_name then names the crawler. arguments are the
 * run's own (as supplied), effective_arguments the merged set the child gets.
 * idempotency_key makes a schedule fire or trigger action start one run, also
 * with several servers. trigger_fire records each handled fire of a trigger
 * or job schedule; schedule_state how far each schedule has been handled. */
#define SL_CATALOG_MIGRATION_4                                                                     \
    "CREATE TABLE \"sluice\".\"job_run\" (\n"                                                     \
    "  \"seq\" BIGSERIAL UNIQUE,\n"                                                                \
    "  \"id\" TEXT COLLATE \"C\" PRIMARY KEY CHECK (\"id\" ~ '^[A-Za-z0-9_-]{1,128}$'),\n"         \
    "  \"kind\" TEXT NOT NULL DEFAULT 'job' CHECK (\"kind\" IN ('job', 'crawler')),\n"             \
    "  \"job_name\" TEXT COLLATE \"C\" NOT NULL,\n"                                                \
    "  \"attempt\" INT NOT NULL DEFAULT 0 CHECK (\"attempt\" >= 0),\n"                             \
    "  \"previous_run_id\" TEXT,\n"                                                                \
    "  \"trigger_name\" TEXT,\n"                                                                   \
    "  \"state\" TEXT NOT NULL DEFAULT 'STARTING' CHECK (\"state\" IN ('STARTING', 'RUNNING',\n"    \
    "    'STOPPING', 'STOPPED', 'SUCCEEDED', 'FAILED', 'TIMEOUT', 'ERROR', 'WAITING')),\n"         \
    "  \"arguments\" JSONB NOT NULL DEFAULT '{}',\n"                                               \
    "  \"effective_arguments\" JSONB NOT NULL DEFAULT '{}',\n"                                     \
    "  \"script_location\" TEXT,\n"                                                                \
    "  \"timeout_minutes\" INT NOT NULL CHECK (\"timeout_minutes\" >= 1),\n"                       \
    "  \"max_retries\" INT NOT NULL DEFAULT 0 CHECK (\"max_retries\" >= 0),\n"                     \
    "  \"number_of_workers\" INT CHECK (\"number_of_workers\" >= 1),\n"                            \
    "  \"extra\" JSONB NOT NULL DEFAULT '{}',\n"                                                   \
    "  \"predecessors\" JSONB NOT NULL DEFAULT '[]',\n"                                            \
    "  \"error_message\" TEXT,\n"                                                                  \
    "  \"idempotency_key\" TEXT UNIQUE,\n"                                                         \
    "  \"started_on\" TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),\n"                           \
    "  \"last_modified_on\" TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),\n"                     \
    "  \"running_on\" TIMESTAMPTZ,\n"                                                              \
    "  \"completed_on\" TIMESTAMPTZ,\n"                                                            \
    "  \"not_before\" TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),\n"                           \
    "  \"owner\" TEXT,\n"                                                                          \
    "  \"lease_until\" TIMESTAMPTZ,\n"                                                             \
    "  \"pid\" INT,\n"                                                                             \
    "  \"stop_requested\" BOOLEAN NOT NULL DEFAULT false);\n"                                      \
    "CREATE INDEX \"job_run_job_idx\" ON \"sluice\".\"job_run\" (\"kind\", \"job_name\", \"seq\" DESC);\n" \
    "CREATE INDEX \"job_run_queue_idx\" ON \"sluice\".\"job_run\" (\"seq\")\n"                    \
    "  WHERE \"state\" = 'STARTING' AND \"owner\" IS NULL;\n"                                      \
    "CREATE INDEX \"job_run_active_idx\" ON \"sluice\".\"job_run\" (\"owner\")\n"                 \
    "  WHERE \"state\" IN ('STARTING', 'RUNNING', 'STOPPING', 'WAITING');\n"                       \
    "CREATE TABLE \"sluice\".\"job_run_log\" (\n"                                                 \
    "  \"run_id\" TEXT COLLATE \"C\" PRIMARY KEY\n"                                                \
    "    REFERENCES \"sluice\".\"job_run\" ON DELETE CASCADE,\n"                                   \
    "  \"log\" TEXT NOT NULL DEFAULT '',\n"                                                        \
    "  \"bytes\" BIGINT NOT NULL DEFAULT 0,\n"                                                     \
    "  \"dropped\" BIGINT NOT NULL DEFAULT 0,\n"                                                   \
    "  \"truncated\" BOOLEAN NOT NULL DEFAULT false);\n"                                           \
    "CREATE TABLE \"sluice\".\"trigger\" (\n"                                                     \
    "  \"name\" TEXT COLLATE \"C\" PRIMARY KEY\n"                                                  \
    "    CHECK (\"name\" ~ '^[A-Za-z0-9_.-]{1,255}$'),\n"                                          \
    "  \"type\" TEXT NOT NULL CHECK (\"type\" IN ('SCHEDULED', 'CONDITIONAL', 'ON_DEMAND')),\n"    \
    "  \"state\" TEXT NOT NULL CHECK (\"state\" IN ('CREATED', 'ACTIVATED', 'DEACTIVATED')),\n"    \
    "  \"description\" TEXT,\n"                                                                    \
    "  \"schedule\" TEXT,\n"                                                                       \
    "  \"predicate\" JSONB,\n"                                                                     \
    "  \"actions\" JSONB NOT NULL CHECK (jsonb_typeof(\"actions\") = 'array'),\n"                  \
    "  \"extra\" JSONB NOT NULL DEFAULT '{}',\n"                                                   \
    "  \"last_fired_on\" TIMESTAMPTZ,\n"                                                           \
    "  \"created_on\" TIMESTAMPTZ NOT NULL DEFAULT now(),\n"                                       \
    "  \"last_modified_on\" TIMESTAMPTZ NOT NULL DEFAULT now());\n"                                \
    "CREATE TABLE \"sluice\".\"trigger_fire\" (\n"                                                \
    "  \"key\" TEXT COLLATE \"C\" PRIMARY KEY,\n"                                                  \
    "  \"fired_on\" TIMESTAMPTZ NOT NULL DEFAULT now(),\n"                                         \
    "  \"runs\" JSONB NOT NULL DEFAULT '[]');\n"                                                   \
    "CREATE TABLE \"sluice\".\"schedule_state\" (\n"                                              \
    "  \"key\" TEXT COLLATE \"C\" PRIMARY KEY,\n"                                                  \
    "  \"checked_until\" TIMESTAMPTZ NOT NULL);\n"

/* The list, in version order. Adding migration N is one row here. */
static const struct sl_catalog_migration sl_catalog_migrations[] = {
    { 1, "catalog_and_crawl_state", SL_CATALOG_MIGRATION_1 },
    { 2, "job_bookmarks", SL_CATALOG_MIGRATION_2 },
    { 3, "jobs", SL_CATALOG_MIGRATION_3 },
    { 4, "job_runs_and_triggers", SL_CATALOG_MIGRATION_4 },
};

#endif
