/*
 * runtime/catalog_sql.h - every SQL statement of the catalog (catalog*.c) and of
 * the embedded cluster's bootstrap (pgembed.c), one macro per statement.
 * Values are always $n parameters (sent as text; arrays as PostgreSQL array
 * literals, row sets as JSON), identifiers always quoted and schema-qualified.
 * The schema itself is in catalog_migrations.h. Times are returned as epoch ms.
 */
#ifndef SL_CATALOG_SQL_H
#define SL_CATALOG_SQL_H

/* An expression giving the epoch-millisecond bigint of a timestamptz column. */
#define SL_CATALOG_SQL_MS(col) "(floor(extract(epoch FROM " col ") * 1000))::int8"
/* An expression giving the timestamptz of an epoch-millisecond bigint, exactly. */
#define SL_CATALOG_SQL_FROM_MS(expr) "(to_timestamp(0) + (" expr ") * interval '1 millisecond')"

/* ---- Transactions ---- */

#define SL_CATALOG_SQL_BEGIN "BEGIN"
#define SL_CATALOG_SQL_COMMIT "COMMIT"
#define SL_CATALOG_SQL_ROLLBACK "ROLLBACK"
#define SL_CATALOG_SQL_SAVEPOINT "SAVEPOINT \"sl_tx\""
#define SL_CATALOG_SQL_RELEASE "RELEASE SAVEPOINT \"sl_tx\""
#define SL_CATALOG_SQL_ROLLBACK_TO "ROLLBACK TO SAVEPOINT \"sl_tx\""

/* ---- Migrations (catalog_migrate.c) ---- */

/* -> has_table bool */
#define SL_CATALOG_SQL_MIG_HAS_TABLE                                                               \
    "SELECT to_regclass('\"sluice\".\"schema_migrations\"') IS NOT NULL"
/* -> version int, ascending */
#define SL_CATALOG_SQL_MIG_VERSIONS                                                                \
    "SELECT \"version\" FROM \"sluice\".\"schema_migrations\" ORDER BY \"version\""
/* $1 lock key (int8) */
#define SL_CATALOG_SQL_MIG_LOCK "SELECT pg_advisory_xact_lock($1::int8)"
#define SL_CATALOG_SQL_MIG_SCHEMA "CREATE SCHEMA IF NOT EXISTS \"sluice\""
#define SL_CATALOG_SQL_MIG_TABLE                                                                   \
    "CREATE TABLE IF NOT EXISTS \"sluice\".\"schema_migrations\" (\n"                              \
    "  \"version\" INT PRIMARY KEY,\n"                                                             \
    "  \"name\" TEXT NOT NULL,\n"                                                                  \
    "  \"applied_at\" TIMESTAMPTZ NOT NULL DEFAULT now())"
/* $1 version, $2 name */
#define SL_CATALOG_SQL_MIG_RECORD                                                                  \
    "INSERT INTO \"sluice\".\"schema_migrations\" (\"version\", \"name\", \"applied_at\")"         \
    " VALUES ($1::int4, $2, now())"

/* ---- Databases ---- */

#define SL_CATALOG_SQL_DB_COLS                                                                     \
    "\"id\", \"name\", \"description\", \"location_uri\", \"parameters\"::text, "                  \
    SL_CATALOG_SQL_MS("\"created_at\"") ", " SL_CATALOG_SQL_MS("\"updated_at\"")

/* $1 name, $2 description, $3 location_uri, $4 parameters (json) -> id */
#define SL_CATALOG_SQL_DB_INSERT                                                                   \
    "INSERT INTO \"sluice\".\"catalog_database\""                                                  \
    " (\"name\", \"description\", \"location_uri\", \"parameters\")"                               \
    " VALUES ($1, $2, $3, $4::jsonb) ON CONFLICT (\"name\") DO NOTHING RETURNING \"id\""
/* $1 name -> id (no row when it existed) */
#define SL_CATALOG_SQL_DB_ENSURE                                                                   \
    "INSERT INTO \"sluice\".\"catalog_database\" (\"name\") VALUES ($1)"                           \
    " ON CONFLICT (\"name\") DO NOTHING RETURNING \"id\""
/* $1 name -> DB_COLS */
#define SL_CATALOG_SQL_DB_GET                                                                      \
    "SELECT " SL_CATALOG_SQL_DB_COLS " FROM \"sluice\".\"catalog_database\" WHERE \"name\" = $1"
/* $1 after name or NULL, $2 limit or NULL -> DB_COLS */
#define SL_CATALOG_SQL_DB_LIST                                                                     \
    "SELECT " SL_CATALOG_SQL_DB_COLS " FROM \"sluice\".\"catalog_database\""                       \
    " WHERE $1::text IS NULL OR \"name\" > $1::text ORDER BY \"name\" LIMIT $2::int8"
/* $1 name -> id */
#define SL_CATALOG_SQL_DB_DELETE                                                                   \
    "DELETE FROM \"sluice\".\"catalog_database\" WHERE \"name\" = $1 RETURNING \"id\""
/* $1 name -> id, locked against deletion until the transaction ends */
#define SL_CATALOG_SQL_DB_LOCK                                                                     \
    "SELECT \"id\" FROM \"sluice\".\"catalog_database\" WHERE \"name\" = $1 FOR KEY SHARE"
/* $1 name -> id */
#define SL_CATALOG_SQL_DB_ID                                                                       \
    "SELECT \"id\" FROM \"sluice\".\"catalog_database\" WHERE \"name\" = $1"

/* ---- Tables ---- */

/* Columns of a table row as read by get and list (t = table, d = database,
 * v = its current version). */
#define SL_CATALOG_SQL_TABLE_COLS                                                                  \
    "\"t\".\"id\", \"d\".\"name\", \"t\".\"name\", \"t\".\"location\", \"t\".\"table_type\","      \
    " \"t\".\"classification\", \"t\".\"parameters\"::text, \"t\".\"current_version\","            \
    " \"v\".\"schema_hash\", \"t\".\"state\", \"t\".\"created_by_crawler\", "                      \
    SL_CATALOG_SQL_MS("\"t\".\"created_at\"") ", " SL_CATALOG_SQL_MS("\"t\".\"updated_at\"") ", "  \
    SL_CATALOG_SQL_MS("\"t\".\"deprecated_at\"") ","                                               \
    " (SELECT count(*) FROM \"sluice\".\"catalog_partition\" \"p\""                                \
    " WHERE \"p\".\"table_id\" = \"t\".\"id\")"

/* $1 database, $2 table -> database id, TABLE_COLS (table columns NULL when the
 * table is missing; no row when the database is missing) */
#define SL_CATALOG_SQL_TABLE_GET                                                                   \
    "SELECT \"d\".\"id\", " SL_CATALOG_SQL_TABLE_COLS                                              \
    " FROM \"sluice\".\"catalog_database\" \"d\""                                                  \
    " LEFT JOIN \"sluice\".\"catalog_table\" \"t\""                                                \
    " ON \"t\".\"database_id\" = \"d\".\"id\" AND \"t\".\"name\" = $2"                             \
    " LEFT JOIN \"sluice\".\"catalog_table_version\" \"v\""                                        \
    " ON \"v\".\"table_id\" = \"t\".\"id\" AND \"v\".\"version\" = \"t\".\"current_version\""      \
    " WHERE \"d\".\"name\" = $1"
/* $1 database id, $2 expression or NULL, $3 after name or NULL, $4 limit or NULL
 * -> 0, TABLE_COLS. The expression is an anchored ERE ("(?e)" selects POSIX ERE
 * syntax in PostgreSQL's regex engine), matched case-insensitively. */
#define SL_CATALOG_SQL_TABLE_LIST                                                                  \
    "SELECT 0, " SL_CATALOG_SQL_TABLE_COLS                                                         \
    " FROM \"sluice\".\"catalog_table\" \"t\""                                                     \
    " JOIN \"sluice\".\"catalog_database\" \"d\" ON \"d\".\"id\" = \"t\".\"database_id\""          \
    " JOIN \"sluice\".\"catalog_table_version\" \"v\""                                             \
    " ON \"v\".\"table_id\" = \"t\".\"id\" AND \"v\".\"version\" = \"t\".\"current_version\""      \
    " WHERE \"t\".\"database_id\" = $1::int8"                                                      \
    " AND ($2::text IS NULL OR \"t\".\"name\" ~* ('(?e)^(' || $2::text || ')$'))"                  \
    " AND ($3::text IS NULL OR \"t\".\"name\" > $3::text)"                                         \
    " ORDER BY \"t\".\"name\" LIMIT $4::int8"
/* $1 table ids (int8[]) -> table_id, is_partition_key, name, type, comment,
 * parameters, stats of their current versions, in order */
#define SL_CATALOG_SQL_TABLE_COLUMNS                                                               \
    "SELECT \"c\".\"table_id\", \"c\".\"is_partition_key\", \"c\".\"name\", \"c\".\"type\","       \
    " \"c\".\"comment\", \"c\".\"parameters\"::text, \"c\".\"stats\"::text"                        \
    " FROM \"sluice\".\"catalog_column\" \"c\""                                                    \
    " JOIN \"sluice\".\"catalog_table\" \"t\""                                                     \
    " ON \"t\".\"id\" = \"c\".\"table_id\" AND \"t\".\"current_version\" = \"c\".\"version\""      \
    " WHERE \"c\".\"table_id\" = ANY ($1::int8[])"                                                 \
    " ORDER BY \"c\".\"table_id\", \"c\".\"is_partition_key\", \"c\".\"ordinal\""
/* $1 database, $2 table -> database id, table id, current_version, number of
 * partition keys (table columns NULL when missing; no row: no database) */
#define SL_CATALOG_SQL_TABLE_LOOKUP                                                                \
    "SELECT \"d\".\"id\", \"t\".\"id\", \"t\".\"current_version\","                                \
    " (SELECT count(*) FROM \"sluice\".\"catalog_column\" \"c\""                                   \
    " WHERE \"c\".\"table_id\" = \"t\".\"id\" AND \"c\".\"version\" = \"t\".\"current_version\""   \
    " AND \"c\".\"is_partition_key\")"                                                             \
    " FROM \"sluice\".\"catalog_database\" \"d\""                                                  \
    " LEFT JOIN \"sluice\".\"catalog_table\" \"t\""                                                \
    " ON \"t\".\"database_id\" = \"d\".\"id\" AND \"t\".\"name\" = $2"                             \
    " WHERE \"d\".\"name\" = $1"
/* $1 database id, $2 table -> id, current_version, schema_hash, format,
 * location, table_type, classification, parameters, state; row locked */
#define SL_CATALOG_SQL_TABLE_LOCK                                                                  \
    "SELECT \"t\".\"id\", \"t\".\"current_version\", \"v\".\"schema_hash\","                       \
    " \"v\".\"format\"::text,"                                                                     \
    " \"t\".\"location\", \"t\".\"table_type\", \"t\".\"classification\","                         \
    " \"t\".\"parameters\"::text, \"t\".\"state\""                                                 \
    " FROM \"sluice\".\"catalog_table\" \"t\""                                                     \
    " JOIN \"sluice\".\"catalog_table_version\" \"v\""                                             \
    " ON \"v\".\"table_id\" = \"t\".\"id\" AND \"v\".\"version\" = \"t\".\"current_version\""      \
    " WHERE \"t\".\"database_id\" = $1::int8 AND \"t\".\"name\" = $2 FOR UPDATE OF \"t\""
/* $1 database id, $2 name, $3 location, $4 table_type, $5 classification,
 * $6 parameters (json), $7 state, $8 created_by_crawler -> id (no row when a
 * concurrent put created it first) */
#define SL_CATALOG_SQL_TABLE_INSERT                                                                \
    "INSERT INTO \"sluice\".\"catalog_table\" (\"database_id\", \"name\", \"location\","           \
    " \"table_type\", \"classification\", \"parameters\", \"current_version\", \"state\","         \
    " \"created_by_crawler\", \"deprecated_at\")"                                                  \
    " VALUES ($1::int8, $2, $3, $4, $5, $6::jsonb, 1, $7, $8,"                                     \
    " CASE WHEN $7 = 'deprecated' THEN now() END)"                                                 \
    " ON CONFLICT (\"database_id\", \"name\") DO NOTHING RETURNING \"id\""
/* $1 table id, $2 version, $3 schema_hash, $4 format (json), $5 change_kinds
 * (text[]), $6 change (json), $7 crawl_run_id or NULL */
#define SL_CATALOG_SQL_VERSION_INSERT                                                              \
    "INSERT INTO \"sluice\".\"catalog_table_version\" (\"table_id\", \"version\","                 \
    " \"schema_hash\", \"format\", \"change_kinds\", \"change\", \"crawl_run_id\")"                \
    " VALUES ($1::int8, $2::int4, $3, $4::jsonb, $5::text[], $6::jsonb, $7::int8)"
/* $1 table id, $2 version, $3 columns as a JSON array of {pk, ord, name, type,
 * comment, parameters, stats} */
#define SL_CATALOG_SQL_COLUMNS_INSERT                                                              \
    "INSERT INTO \"sluice\".\"catalog_column\" (\"table_id\", \"version\", \"is_partition_key\","  \
    " \"ordinal\", \"name\", \"type\", \"comment\", \"parameters\", \"stats\")"                    \
    " SELECT $1::int8, $2::int4, \"r\".\"pk\", \"r\".\"ord\", \"r\".\"name\", \"r\".\"type\","     \
    " \"r\".\"comment\", coalesce(\"r\".\"parameters\", '{}'), \"r\".\"stats\""                    \
    " FROM jsonb_to_recordset($3::jsonb) AS \"r\"(\"pk\" boolean, \"ord\" int, \"name\" text,"     \
    " \"type\" text, \"comment\" text, \"parameters\" jsonb, \"stats\" jsonb)"
/* $1 table id, $2 version, $3 columns JSON as for COLUMNS_INSERT -> one row per
 * column whose comment, parameters or stats changed */
#define SL_CATALOG_SQL_COLUMNS_UPDATE                                                              \
    "UPDATE \"sluice\".\"catalog_column\" \"c\" SET \"comment\" = \"r\".\"comment\","              \
    " \"parameters\" = coalesce(\"r\".\"parameters\", '{}'), \"stats\" = \"r\".\"stats\""          \
    " FROM jsonb_to_recordset($3::jsonb) AS \"r\"(\"pk\" boolean, \"name\" text,"                  \
    " \"comment\" text, \"parameters\" jsonb, \"stats\" jsonb)"                                    \
    " WHERE \"c\".\"table_id\" = $1::int8 AND \"c\".\"version\" = $2::int4"                        \
    " AND \"c\".\"is_partition_key\" = \"r\".\"pk\" AND \"c\".\"name\" = \"r\".\"name\""           \
    " AND (\"c\".\"comment\", \"c\".\"parameters\", \"c\".\"stats\") IS DISTINCT FROM"             \
    " (\"r\".\"comment\", coalesce(\"r\".\"parameters\", '{}'), \"r\".\"stats\")"                  \
    " RETURNING 1"
/* $1 table id, $2 version -> is_partition_key, name, type, parameters */
#define SL_CATALOG_SQL_COLUMNS_OF_VERSION                                                          \
    "SELECT \"is_partition_key\", \"name\", \"type\", \"parameters\"::text"                        \
    " FROM \"sluice\".\"catalog_column\""                                                          \
    " WHERE \"table_id\" = $1::int8 AND \"version\" = $2::int4"                                    \
    " ORDER BY \"is_partition_key\", \"ordinal\""
/* $1 table id, $2 location, $3 table_type, $4 classification, $5 parameters
 * (json), $6 state, $7 current_version -> id when the row changed */
#define SL_CATALOG_SQL_TABLE_UPDATE                                                                \
    "UPDATE \"sluice\".\"catalog_table\" SET \"location\" = $2, \"table_type\" = $3,"              \
    " \"classification\" = $4, \"parameters\" = $5::jsonb, \"state\" = $6,"                        \
    " \"current_version\" = $7::int4,"                                                             \
    " \"deprecated_at\" = CASE WHEN $6 = 'deprecated'"                                             \
    " THEN coalesce(\"deprecated_at\", now()) END, \"updated_at\" = now()"                         \
    " WHERE \"id\" = $1::int8 AND (\"location\", \"table_type\", \"classification\","              \
    " \"parameters\", \"state\", \"current_version\") IS DISTINCT FROM"                            \
    " ($2, $3, $4, $5::jsonb, $6, $7::int4) RETURNING \"id\""
/* $1 table id */
#define SL_CATALOG_SQL_TABLE_TOUCH                                                                 \
    "UPDATE \"sluice\".\"catalog_table\" SET \"updated_at\" = now() WHERE \"id\" = $1::int8"
/* $1 table id; versions, columns and partitions go by ON DELETE CASCADE */
#define SL_CATALOG_SQL_TABLE_DELETE                                                                \
    "DELETE FROM \"sluice\".\"catalog_table\" WHERE \"id\" = $1::int8"
/* $1 table id, $2 state, $3 reason or NULL */
#define SL_CATALOG_SQL_TABLE_SET_STATE                                                             \
    "UPDATE \"sluice\".\"catalog_table\" SET \"state\" = $2,"                                      \
    " \"deprecated_at\" = CASE WHEN $2 = 'deprecated'"                                             \
    " THEN coalesce(\"deprecated_at\", now()) END,"                                                \
    " \"parameters\" = CASE"                                                                       \
    " WHEN $2 = 'active' THEN \"parameters\" - 'sluice.deprecated_reason'"                         \
    " WHEN $3::text IS NOT NULL"                                                                   \
    " THEN \"parameters\" || jsonb_build_object('sluice.deprecated_reason', $3::text)"             \
    " ELSE \"parameters\" END, \"updated_at\" = now()"                                             \
    " WHERE \"id\" = $1::int8"
/* $1 table id -> version, schema_hash, format, change_kinds (json array),
 * change, crawl_run_id, created ms; oldest first */
#define SL_CATALOG_SQL_VERSIONS                                                                    \
    "SELECT \"version\", \"schema_hash\", \"format\"::text,"                                       \
    " array_to_json(\"change_kinds\")::text,"                                                      \
    " \"change\"::text, \"crawl_run_id\", " SL_CATALOG_SQL_MS("\"created_at\"")                    \
    " FROM \"sluice\".\"catalog_table_version\" WHERE \"table_id\" = $1::int8"                     \
    " ORDER BY \"version\""
/* $1 table id -> version, is_partition_key, name, type, comment, parameters,
 * stats of every version, in order */
#define SL_CATALOG_SQL_VERSIONS_COLUMNS                                                            \
    "SELECT \"version\", \"is_partition_key\", \"name\", \"type\", \"comment\","                   \
    " \"parameters\"::text, \"stats\"::text FROM \"sluice\".\"catalog_column\""                    \
    " WHERE \"table_id\" = $1::int8 ORDER BY \"version\", \"is_partition_key\", \"ordinal\""

/* ---- Partitions ---- */

#define SL_CATALOG_SQL_PART_COLS                                                                   \
    "\"p\".\"id\", array_to_json(\"p\".\"part_values\")::text, \"p\".\"location\","                \
    " \"p\".\"parameters\"::text, \"p\".\"schema_hash\", \"p\".\"checked_against_version\","       \
    " \"p\".\"state\", " SL_CATALOG_SQL_MS("\"p\".\"created_at\"") ", "                            \
    SL_CATALOG_SQL_MS("\"p\".\"updated_at\"") ", " SL_CATALOG_SQL_MS("\"p\".\"deprecated_at\"")

/* $1 table id, $2 partitions as a JSON array of {values, location, parameters,
 * schema_hash, checked, state} -> inserted (bool) for each row written */
#define SL_CATALOG_SQL_PART_UPSERT                                                                 \
    "INSERT INTO \"sluice\".\"catalog_partition\" AS \"p\" (\"table_id\", \"part_values\","        \
    " \"location\", \"parameters\", \"schema_hash\", \"checked_against_version\", \"state\","      \
    " \"deprecated_at\")"                                                                          \
    " SELECT $1::int8,"                                                                            \
    " (SELECT array_agg(\"x\".\"e\" ORDER BY \"x\".\"i\")"                                         \
    " FROM jsonb_array_elements_text(\"r\".\"values\") WITH ORDINALITY AS \"x\"(\"e\", \"i\")),"   \
    " \"r\".\"location\", coalesce(\"r\".\"parameters\", '{}'), \"r\".\"schema_hash\","            \
    " \"r\".\"checked\", \"r\".\"state\","                                                         \
    " CASE WHEN \"r\".\"state\" = 'deprecated' THEN now() END"                                     \
    " FROM jsonb_to_recordset($2::jsonb) AS \"r\"(\"values\" jsonb, \"location\" text,"            \
    " \"parameters\" jsonb, \"schema_hash\" text, \"checked\" int, \"state\" text)"                \
    " ON CONFLICT (\"table_id\", \"part_values\") DO UPDATE SET"                                   \
    " \"location\" = \"excluded\".\"location\", \"parameters\" = \"excluded\".\"parameters\","     \
    " \"schema_hash\" = \"excluded\".\"schema_hash\","                                             \
    " \"checked_against_version\" = \"excluded\".\"checked_against_version\","                     \
    " \"state\" = \"excluded\".\"state\","                                                         \
    " \"deprecated_at\" = CASE WHEN \"excluded\".\"state\" = 'deprecated'"                         \
    " THEN coalesce(\"p\".\"deprecated_at\", now()) END, \"updated_at\" = now()"                   \
    " WHERE (\"p\".\"location\", \"p\".\"parameters\", \"p\".\"schema_hash\","                     \
    " \"p\".\"checked_against_version\", \"p\".\"state\") IS DISTINCT FROM"                        \
    " (\"excluded\".\"location\", \"excluded\".\"parameters\", \"excluded\".\"schema_hash\","      \
    " \"excluded\".\"checked_against_version\", \"excluded\".\"state\")"                           \
    " RETURNING (\"p\".\"xmax\" = 0)"
/* $1 table id, $2 values (text[]) -> PART_COLS */
#define SL_CATALOG_SQL_PART_GET                                                                    \
    "SELECT " SL_CATALOG_SQL_PART_COLS " FROM \"sluice\".\"catalog_partition\" \"p\""              \
    " WHERE \"p\".\"table_id\" = $1::int8 AND \"p\".\"part_values\" = $2::text[]"
/* $1 table id, $2 after values (text[]) or NULL, $3 limit or NULL -> PART_COLS */
#define SL_CATALOG_SQL_PART_LIST                                                                   \
    "SELECT " SL_CATALOG_SQL_PART_COLS " FROM \"sluice\".\"catalog_partition\" \"p\""              \
    " WHERE \"p\".\"table_id\" = $1::int8"                                                         \
    " AND ($2::text[] IS NULL OR \"p\".\"part_values\" > $2::text[])"                              \
    " ORDER BY \"p\".\"part_values\" LIMIT $3::int8"
/* $1 table id, $2 values (text[]) -> id */
#define SL_CATALOG_SQL_PART_DELETE                                                                 \
    "DELETE FROM \"sluice\".\"catalog_partition\""                                                 \
    " WHERE \"table_id\" = $1::int8 AND \"part_values\" = $2::text[] RETURNING \"id\""
/* $1 table id, $2 values (text[]), $3 state, $4 reason or NULL -> id */
#define SL_CATALOG_SQL_PART_SET_STATE                                                              \
    "UPDATE \"sluice\".\"catalog_partition\" SET \"state\" = $3,"                                  \
    " \"deprecated_at\" = CASE WHEN $3 = 'deprecated'"                                             \
    " THEN coalesce(\"deprecated_at\", now()) END,"                                                \
    " \"parameters\" = CASE"                                                                       \
    " WHEN $3 = 'active' THEN \"parameters\" - 'sluice.deprecated_reason'"                         \
    " WHEN $4::text IS NOT NULL"                                                                   \
    " THEN \"parameters\" || jsonb_build_object('sluice.deprecated_reason', $4::text)"             \
    " ELSE \"parameters\" END, \"updated_at\" = now()"                                             \
    " WHERE \"table_id\" = $1::int8 AND \"part_values\" = $2::text[] RETURNING \"id\""

/* ---- Crawlers and runs ---- */

#define SL_CATALOG_SQL_CRAWLER_COLS                                                                \
    "\"name\", \"config\"::text, \"config_hash\", " SL_CATALOG_SQL_MS("\"created_at\"") ", "       \
    SL_CATALOG_SQL_MS("\"updated_at\"")

/* $1 name, $2 config (json), $3 config_hash */
#define SL_CATALOG_SQL_CRAWLER_PUT                                                                 \
    "INSERT INTO \"sluice\".\"crawler\" (\"name\", \"config\", \"config_hash\")"                   \
    " VALUES ($1, $2::jsonb, $3) ON CONFLICT (\"name\") DO UPDATE SET"                             \
    " \"config\" = \"excluded\".\"config\", \"config_hash\" = \"excluded\".\"config_hash\","       \
    " \"updated_at\" = now()"
/* $1 name -> CRAWLER_COLS */
#define SL_CATALOG_SQL_CRAWLER_GET                                                                 \
    "SELECT " SL_CATALOG_SQL_CRAWLER_COLS " FROM \"sluice\".\"crawler\" WHERE \"name\" = $1"
/* -> CRAWLER_COLS */
#define SL_CATALOG_SQL_CRAWLER_LIST                                                                \
    "SELECT " SL_CATALOG_SQL_CRAWLER_COLS " FROM \"sluice\".\"crawler\" ORDER BY \"name\""
/* $1 name -> name */
#define SL_CATALOG_SQL_CRAWLER_DELETE                                                              \
    "DELETE FROM \"sluice\".\"crawler\" WHERE \"name\" = $1 RETURNING \"name\""
/* $1 lock class (int4), $2 crawler name */
#define SL_CATALOG_SQL_CRAWLER_LOCK "SELECT pg_advisory_xact_lock($1::int4, hashtext($2))"

#define SL_CATALOG_SQL_RUN_COLS                                                                    \
    "\"id\", \"crawler\", \"mode\", \"status\", " SL_CATALOG_SQL_MS("\"started_at\"") ", "         \
    SL_CATALOG_SQL_MS("\"finished_at\"") ", \"counters\"::text, \"report\"::text"

/* $1 crawler, $2 mode -> id */
#define SL_CATALOG_SQL_RUN_START                                                                   \
    "INSERT INTO \"sluice\".\"crawl_run\" (\"crawler\", \"mode\", \"status\", \"started_at\")"     \
    " VALUES ($1, $2, 'running', now()) RETURNING \"id\""
/* $1 id, $2 status, $3 counters (json) or NULL, $4 report (json) or NULL -> id */
#define SL_CATALOG_SQL_RUN_FINISH                                                                  \
    "UPDATE \"sluice\".\"crawl_run\" SET \"status\" = $2, \"finished_at\" = now(),"                \
    " \"counters\" = $3::jsonb, \"report\" = $4::jsonb WHERE \"id\" = $1::int8 RETURNING \"id\""
/* $1 id -> RUN_COLS */
#define SL_CATALOG_SQL_RUN_GET                                                                     \
    "SELECT " SL_CATALOG_SQL_RUN_COLS " FROM \"sluice\".\"crawl_run\" WHERE \"id\" = $1::int8"
/* $1 crawler, $2 limit or NULL -> RUN_COLS, newest first */
#define SL_CATALOG_SQL_RUN_LIST                                                                    \
    "SELECT " SL_CATALOG_SQL_RUN_COLS " FROM \"sluice\".\"crawl_run\" WHERE \"crawler\" = $1"      \
    " ORDER BY \"id\" DESC LIMIT $2::int8"

/* ---- Crawl state ---- */

/* $1 hash, $2 schema (json) */
#define SL_CATALOG_SQL_SCHEMA_PUT                                                                  \
    "INSERT INTO \"sluice\".\"crawl_schema\" (\"schema_hash\", \"schema\")"                        \
    " VALUES ($1, $2::jsonb) ON CONFLICT (\"schema_hash\") DO NOTHING"
/* $1 hash -> schema */
#define SL_CATALOG_SQL_SCHEMA_GET                                                                  \
    "SELECT \"schema\"::text FROM \"sluice\".\"crawl_schema\" WHERE \"schema_hash\" = $1"

#define SL_CATALOG_SQL_OBJECT_COLS                                                                 \
    "\"crawler\", \"include_path\", \"key\", \"etag\", \"size\", "                                 \
    SL_CATALOG_SQL_MS("\"last_modified\"") ", \"storage_class\", \"status\", \"classification\","  \
    " \"compression\", \"compat_key\", \"certainty\", \"schema_hash\", \"format_params\"::text,"   \
    " \"header_evidence\"::text, \"record_estimate\", \"record_exact\", \"avg_record_bytes\","     \
    " \"decoded_ratio\", \"sampled\", \"inference_version\", \"config_hash\","                     \
    " \"first_seen_run\", \"last_sampled_run\""

/* $1 rows as a JSON array of objects named like the columns (last_modified_ms
 * in place of last_modified) */
#define SL_CATALOG_SQL_OBJECT_PUT                                                                  \
    "INSERT INTO \"sluice\".\"crawl_object\" (\"crawler\", \"include_path\", \"key\", \"etag\","   \
    " \"size\", \"last_modified\", \"storage_class\", \"status\", \"classification\","             \
    " \"compression\", \"compat_key\", \"certainty\", \"schema_hash\", \"format_params\","         \
    " \"header_evidence\", \"record_estimate\", \"record_exact\", \"avg_record_bytes\","           \
    " \"decoded_ratio\", \"sampled\", \"inference_version\", \"config_hash\","                     \
    " \"first_seen_run\", \"last_sampled_run\")"                                                   \
    " SELECT \"r\".\"crawler\", \"r\".\"include_path\", \"r\".\"key\", \"r\".\"etag\","            \
    " \"r\".\"size\", " SL_CATALOG_SQL_FROM_MS("\"r\".\"last_modified_ms\"") ","                   \
    " \"r\".\"storage_class\", \"r\".\"status\", \"r\".\"classification\", \"r\".\"compression\"," \
    " \"r\".\"compat_key\", \"r\".\"certainty\", \"r\".\"schema_hash\", \"r\".\"format_params\","  \
    " \"r\".\"header_evidence\", \"r\".\"record_estimate\", \"r\".\"record_exact\","               \
    " \"r\".\"avg_record_bytes\", \"r\".\"decoded_ratio\", \"r\".\"sampled\","                     \
    " \"r\".\"inference_version\", \"r\".\"config_hash\", \"r\".\"first_seen_run\","               \
    " \"r\".\"last_sampled_run\""                                                                  \
    " FROM jsonb_to_recordset($1::jsonb) AS \"r\"(\"crawler\" text, \"include_path\" text,"        \
    " \"key\" text, \"etag\" text, \"size\" int8, \"last_modified_ms\" int8,"                      \
    " \"storage_class\" text, \"status\" text, \"classification\" text, \"compression\" text,"     \
    " \"compat_key\" text, \"certainty\" real, \"schema_hash\" text, \"format_params\" jsonb,"     \
    " \"header_evidence\" jsonb, \"record_estimate\" int8, \"record_exact\" boolean,"              \
    " \"avg_record_bytes\" real, \"decoded_ratio\" real, \"sampled\" boolean,"                     \
    " \"inference_version\" int, \"config_hash\" text, \"first_seen_run\" int8,"                   \
    " \"last_sampled_run\" int8)"                                                                  \
    " ON CONFLICT (\"crawler\", \"include_path\", \"key\") DO UPDATE SET"                          \
    " \"etag\" = \"excluded\".\"etag\", \"size\" = \"excluded\".\"size\","                         \
    " \"last_modified\" = \"excluded\".\"last_modified\","                                         \
    " \"storage_class\" = \"excluded\".\"storage_class\", \"status\" = \"excluded\".\"status\","   \
    " \"classification\" = \"excluded\".\"classification\","                                       \
    " \"compression\" = \"excluded\".\"compression\","                                             \
    " \"compat_key\" = \"excluded\".\"compat_key\", \"certainty\" = \"excluded\".\"certainty\","   \
    " \"schema_hash\" = \"excluded\".\"schema_hash\","                                             \
    " \"format_params\" = \"excluded\".\"format_params\","                                         \
    " \"header_evidence\" = \"excluded\".\"header_evidence\","                                     \
    " \"record_estimate\" = \"excluded\".\"record_estimate\","                                     \
    " \"record_exact\" = \"excluded\".\"record_exact\","                                           \
    " \"avg_record_bytes\" = \"excluded\".\"avg_record_bytes\","                                   \
    " \"decoded_ratio\" = \"excluded\".\"decoded_ratio\", \"sampled\" = \"excluded\".\"sampled\"," \
    " \"inference_version\" = \"excluded\".\"inference_version\","                                 \
    " \"config_hash\" = \"excluded\".\"config_hash\","                                             \
    " \"first_seen_run\" = \"excluded\".\"first_seen_run\","                                       \
    " \"last_sampled_run\" = \"excluded\".\"last_sampled_run\""
/* $1 crawler, $2 include_path, $3 after key or NULL, $4 limit or NULL -> OBJECT_COLS */
#define SL_CATALOG_SQL_OBJECT_LIST                                                                 \
    "SELECT " SL_CATALOG_SQL_OBJECT_COLS " FROM \"sluice\".\"crawl_object\""                       \
    " WHERE \"crawler\" = $1 AND \"include_path\" = $2"                                            \
    " AND ($3::text IS NULL OR \"key\" > $3::text) ORDER BY \"key\" LIMIT $4::int8"
/* $1 crawler, $2 include_path, $3 keys (text[]) */
#define SL_CATALOG_SQL_OBJECT_DELETE                                                               \
    "DELETE FROM \"sluice\".\"crawl_object\""                                                      \
    " WHERE \"crawler\" = $1 AND \"include_path\" = $2 AND \"key\" = ANY ($3::text[])"

/* $1 rows as a JSON array of {crawler, include_path, prefix, has_direct_files,
 * first_seen_run} */
#define SL_CATALOG_SQL_FOLDER_PUT                                                                  \
    "INSERT INTO \"sluice\".\"crawl_folder\" (\"crawler\", \"include_path\", \"prefix\","          \
    " \"has_direct_files\", \"first_seen_run\")"                                                   \
    " SELECT \"r\".\"crawler\", \"r\".\"include_path\", \"r\".\"prefix\","                         \
    " \"r\".\"has_direct_files\", \"r\".\"first_seen_run\""                                        \
    " FROM jsonb_to_recordset($1::jsonb) AS \"r\"(\"crawler\" text, \"include_path\" text,"        \
    " \"prefix\" text, \"has_direct_files\" boolean, \"first_seen_run\" int8)"                     \
    " ON CONFLICT (\"crawler\", \"include_path\", \"prefix\") DO UPDATE SET"                       \
    " \"has_direct_files\" = \"excluded\".\"has_direct_files\","                                   \
    " \"first_seen_run\" = \"excluded\".\"first_seen_run\""
/* $1 crawler, $2 include_path -> crawler, include_path, prefix,
 * has_direct_files, first_seen_run */
#define SL_CATALOG_SQL_FOLDER_LIST                                                                 \
    "SELECT \"crawler\", \"include_path\", \"prefix\", \"has_direct_files\", \"first_seen_run\""   \
    " FROM \"sluice\".\"crawl_folder\" WHERE \"crawler\" = $1 AND \"include_path\" = $2"           \
    " ORDER BY \"prefix\""

/* ---- Embedded cluster bootstrap (pgembed.c) ---- */

/* $1 database name -> 1 when it exists */
#define SL_PGEMBED_SQL_DB_EXISTS                                                                   \
    "SELECT 1 FROM \"pg_catalog\".\"pg_database\" WHERE \"datname\" = $1"
/* CREATE DATABASE takes no parameters; the name is the fixed identifier "sluice". */
#define SL_PGEMBED_SQL_DB_CREATE "CREATE DATABASE \"sluice\""

/* ---- Job bookmarks (catalog_bookmark.c) ---- */

#define SL_CATALOG_SQL_BOOKMARK_COLS                                                               \
    "\"job_name\", \"version\", \"run\", \"attempt\", \"run_id\", \"previous_run_id\","            \
    " \"state\"::text, " SL_CATALOG_SQL_MS("\"updated_at\"")

/* $1 job -> BOOKMARK_COLS */
#define SL_CATALOG_SQL_BOOKMARK_GET                                                                \
    "SELECT " SL_CATALOG_SQL_BOOKMARK_COLS " FROM \"sluice\".\"job_bookmark\""                     \
    " WHERE \"job_name\" = $1"
/* $1 job -> version; the row stays locked until the transaction ends */
#define SL_CATALOG_SQL_BOOKMARK_LOCK                                                               \
    "SELECT \"version\" FROM \"sluice\".\"job_bookmark\" WHERE \"job_name\" = $1 FOR UPDATE"
/* $1 job, $2 run_id, $3 state (json) -> version (no row when the job already
 * has a bookmark: the insert waits for a concurrent one to commit) */
#define SL_CATALOG_SQL_BOOKMARK_INSERT                                                             \
    "INSERT INTO \"sluice\".\"job_bookmark\" (\"job_name\", \"version\", \"run\", \"attempt\","    \
    " \"run_id\", \"previous_run_id\", \"state\", \"updated_at\")"                                 \
    " VALUES ($1, 1, 1, 0, $2, NULL, $3::jsonb, now())"                                            \
    " ON CONFLICT (\"job_name\") DO NOTHING RETURNING \"version\""
/* $1 job, $2 run_id, $3 state (json), $4 expected version -> new version (no
 * row when the stored version differs). SET expressions read the old row, so
 * previous_run_id gets the run_id being replaced. A concurrent commit waits
 * for the row lock, then re-checks the version against the committed row. */
#define SL_CATALOG_SQL_BOOKMARK_UPDATE                                                             \
    "UPDATE \"sluice\".\"job_bookmark\" SET \"version\" = \"version\" + 1,"                        \
    " \"run\" = \"run\" + 1, \"previous_run_id\" = \"run_id\", \"run_id\" = $2,"                   \
    " \"state\" = $3::jsonb, \"updated_at\" = now()"                                               \
    " WHERE \"job_name\" = $1 AND \"version\" = $4::int4 RETURNING \"version\""
/* -> true when this database holds the bookmark table (the catalog's schema,
 * migration 2): checked before a commit on a connection the catalog did not
 * open */
#define SL_CATALOG_SQL_BOOKMARK_TABLE_EXISTS                                                       \
    "SELECT pg_catalog.to_regclass('\"sluice\".\"job_bookmark\"') IS NOT NULL"
/* $1 job -> version (no row: no bookmark) */
#define SL_CATALOG_SQL_BOOKMARK_VERSION                                                            \
    "SELECT \"version\" FROM \"sluice\".\"job_bookmark\" WHERE \"job_name\" = $1"
/* $1 job -> new version (no row: no bookmark) */
#define SL_CATALOG_SQL_BOOKMARK_RESET                                                              \
    "UPDATE \"sluice\".\"job_bookmark\" SET \"version\" = \"version\" + 1,"                        \
    " \"state\" = '{}'::jsonb, \"updated_at\" = now()"                                             \
    " WHERE \"job_name\" = $1 RETURNING \"version\""
/* $1 job, $2 run_id -> new version; the state becomes the one of the newest
 * history row of that run (no row: the run committed none) */
#define SL_CATALOG_SQL_BOOKMARK_REWIND                                                             \
    "UPDATE \"sluice\".\"job_bookmark\" \"b\" SET \"version\" = \"b\".\"version\" + 1,"            \
    " \"state\" = \"h\".\"state\", \"updated_at\" = now()"                                         \
    " FROM (SELECT \"state\" FROM \"sluice\".\"job_bookmark_history\""                             \
    " WHERE \"job_name\" = $1 AND \"run_id\" = $2 ORDER BY \"version\" DESC LIMIT 1) \"h\""        \
    " WHERE \"b\".\"job_name\" = $1 RETURNING \"b\".\"version\""
/* $1 job, $2 run_id or NULL (a reset): records the current row as history */
#define SL_CATALOG_SQL_BOOKMARK_HISTORY_ADD                                                        \
    "INSERT INTO \"sluice\".\"job_bookmark_history\""                                              \
    " (\"job_name\", \"version\", \"run_id\", \"state\", \"committed_at\")"                        \
    " SELECT \"job_name\", \"version\", $2::text, \"state\", \"updated_at\""                       \
    " FROM \"sluice\".\"job_bookmark\" WHERE \"job_name\" = $1"
/* $1 job; the history goes along (ON DELETE CASCADE) */
#define SL_CATALOG_SQL_BOOKMARK_DELETE                                                             \
    "DELETE FROM \"sluice\".\"job_bookmark\" WHERE \"job_name\" = $1"

/* ---- Jobs (catalog_job.c, migration 3) ---- */

#define SL_CATALOG_SQL_JOB_COLS                                                                    \
    "\"name\", \"description\", \"role\", \"command\"::text, \"default_arguments\"::text,"         \
    " \"non_overridable_arguments\"::text, \"max_concurrent_runs\", \"timeout_minutes\","          \
    " \"max_retries\", \"glue_version\", \"worker_type\", \"number_of_workers\", \"schedule\","     \
    " \"extra\"::text, \"source\", " SL_CATALOG_SQL_MS("\"created_on\"") ", "                      \
    SL_CATALOG_SQL_MS("\"last_modified_on\"")
/* $1 name, $2 description, $3 role, $4 command, $5 default_arguments, $6
 * non_overridable_arguments, $7 max_concurrent_runs, $8 timeout_minutes, $9
 * max_retries, $10 glue_version, $11 worker_type, $12 number_of_workers, $13
 * schedule, $14 extra, $15 source -> name (no row: the name is taken) */
#define SL_CATALOG_SQL_JOB_INSERT                                                                  \
    "INSERT INTO \"sluice\".\"job\" (\"name\", \"description\", \"role\", \"command\","           \
    " \"default_arguments\", \"non_overridable_arguments\", \"max_concurrent_runs\","             \
    " \"timeout_minutes\", \"max_retries\", \"glue_version\", \"worker_type\","                    \
    " \"number_of_workers\", \"schedule\", \"extra\", \"source\")"                                 \
    " VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $6::jsonb, $7::int4, $8::int4, $9::int4, $10,"    \
    " $11, $12::int4, $13, $14::jsonb, $15) ON CONFLICT (\"name\") DO NOTHING RETURNING \"name\""
/* The same parameters -> name (no row: no such job); created_on is kept */
#define SL_CATALOG_SQL_JOB_UPDATE                                                                  \
    "UPDATE \"sluice\".\"job\" SET \"description\" = $2, \"role\" = $3, \"command\" = $4::jsonb,"   \
    " \"default_arguments\" = $5::jsonb, \"non_overridable_arguments\" = $6::jsonb,"              \
    " \"max_concurrent_runs\" = $7::int4, \"timeout_minutes\" = $8::int4,"                        \
    " \"max_retries\" = $9::int4, \"glue_version\" = $10, \"worker_type\" = $11,"                  \
    " \"number_of_workers\" = $12::int4, \"schedule\" = $13, \"extra\" = $14::jsonb,"              \
    " \"source\" = $15, \"last_modified_on\" = now() WHERE \"name\" = $1 RETURNING \"name\""
/* $1 name -> JOB_COLS */
#define SL_CATALOG_SQL_JOB_GET                                                                     \
    "SELECT " SL_CATALOG_SQL_JOB_COLS " FROM \"sluice\".\"job\" WHERE \"name\" = $1"
/* $1 after (NULL: from the start), $2 limit (NULL: all) -> JOB_COLS by name */
#define SL_CATALOG_SQL_JOB_LIST                                                                    \
    "SELECT " SL_CATALOG_SQL_JOB_COLS " FROM \"sluice\".\"job\""                                   \
    " WHERE $1::text IS NULL OR \"name\" > $1::text ORDER BY \"name\" LIMIT $2::int8"
/* $1 name -> name (no row: no such job) */
#define SL_CATALOG_SQL_JOB_DELETE                                                                  \
    "DELETE FROM \"sluice\".\"job\" WHERE \"name\" = $1 RETURNING \"name\""

#endif
