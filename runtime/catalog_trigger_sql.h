/*
 * runtime/catalog_trigger_sql.h - the SQL of runtime/catalog_trigger.c
 * (triggers, their fires and schedule states; tables of migration 4), one
 * macro per statement. Values are always parameters, identifiers quoted. The
 * epoch-millisecond helpers SL_CATALOG_SQL_MS / _FROM_MS come from
 * catalog_sql.h.
 */
#ifndef SL_CATALOG_TRIGGER_SQL_H
#define SL_CATALOG_TRIGGER_SQL_H

#include "catalog_sql.h"

/* ---- Triggers ---- */

#define SL_CATALOG_SQL_TRIGGER_COLS                                                                \
    "\"name\", \"type\", \"state\", \"description\", \"schedule\", \"predicate\"::text,"           \
    " \"actions\"::text, \"extra\"::text, " SL_CATALOG_SQL_MS("\"last_fired_on\"") ", "            \
    SL_CATALOG_SQL_MS("\"created_on\"") ", " SL_CATALOG_SQL_MS("\"last_modified_on\"")
/* $1 name, $2 type, $3 state, $4 description, $5 schedule, $6 predicate, $7
 * actions, $8 extra -> name (no row: the name is taken) */
#define SL_CATALOG_SQL_TRIGGER_INSERT                                                              \
    "INSERT INTO \"sluice\".\"trigger\" (\"name\", \"type\", \"state\", \"description\","          \
    " \"schedule\", \"predicate\", \"actions\", \"extra\")"                                        \
    " VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8::jsonb)"                                \
    " ON CONFLICT (\"name\") DO NOTHING RETURNING \"name\""
/* $1 name -> TRIGGER_COLS */
#define SL_CATALOG_SQL_TRIGGER_GET                                                                 \
    "SELECT " SL_CATALOG_SQL_TRIGGER_COLS " FROM \"sluice\".\"trigger\" WHERE \"name\" = $1"
/* $1 name -> TRIGGER_COLS, the row locked until the transaction ends */
#define SL_CATALOG_SQL_TRIGGER_GET_LOCKED SL_CATALOG_SQL_TRIGGER_GET " FOR UPDATE"
/* $1 after (NULL: from the start), $2 dependent job (NULL: any), $3 limit
 * (NULL: all) -> TRIGGER_COLS by name */
#define SL_CATALOG_SQL_TRIGGER_LIST                                                                \
    "SELECT " SL_CATALOG_SQL_TRIGGER_COLS " FROM \"sluice\".\"trigger\""                           \
    " WHERE ($1::text IS NULL OR \"name\" > $1::text) AND ($2::text IS NULL OR \"actions\" @>"     \
    " jsonb_build_array(jsonb_build_object('JobName', $2::text)))"                                 \
    " ORDER BY \"name\" LIMIT $3::int8"
/* $1 name, $2 state -> name (no row: no such trigger) */
#define SL_CATALOG_SQL_TRIGGER_SET_STATE                                                           \
    "UPDATE \"sluice\".\"trigger\" SET \"state\" = $2, \"last_modified_on\" = now()"                \
    " WHERE \"name\" = $1 RETURNING \"name\""
/* $1 name -> name (no row: no such trigger) */
#define SL_CATALOG_SQL_TRIGGER_DELETE                                                              \
    "DELETE FROM \"sluice\".\"trigger\" WHERE \"name\" = $1 RETURNING \"name\""
/* $1 name */
#define SL_CATALOG_SQL_TRIGGER_FIRED                                                               \
    "UPDATE \"sluice\".\"trigger\" SET \"last_fired_on\" = clock_timestamp() WHERE \"name\" = $1"
/* $1 "JobName" or "CrawlerName", $2 its value -> name, predicate, actions,
 * last_fired_on ms of the ACTIVATED CONDITIONAL triggers with a condition on
 * it, locked in name order */
#define SL_CATALOG_SQL_TRIGGER_WATCHERS                                                            \
    "SELECT \"name\", \"predicate\"::text, \"actions\"::text, "                                    \
    SL_CATALOG_SQL_MS("\"last_fired_on\"") " FROM \"sluice\".\"trigger\""                          \
    " WHERE \"type\" = 'CONDITIONAL' AND \"state\" = 'ACTIVATED' AND \"predicate\" -> 'Conditions'" \
    " @> jsonb_build_array(jsonb_build_object($1::text, $2::text))"                                \
    " ORDER BY \"name\" FOR UPDATE"
/* $1 name -> actions of the trigger when it is an ACTIVATED SCHEDULED one,
 * the row locked */
#define SL_CATALOG_SQL_TRIGGER_SCHEDULED_ACTIONS                                                   \
    "SELECT \"actions\"::text FROM \"sluice\".\"trigger\" WHERE \"name\" = $1"                     \
    " AND \"type\" = 'SCHEDULED' AND \"state\" = 'ACTIVATED' FOR UPDATE"
/* $1 job -> one row when the job has a schedule */
#define SL_CATALOG_SQL_JOB_HAS_SCHEDULE                                                            \
    "SELECT 1 FROM \"sluice\".\"job\" WHERE \"name\" = $1 AND \"schedule\" IS NOT NULL"
/* $1 crawler -> one row while it has a Schedule (locked until commit) */
#define SL_CATALOG_SQL_CRAWLER_HAS_SCHEDULE                                                        \
    "SELECT 1 FROM \"sluice\".\"crawler\" WHERE \"name\" = $1"                                     \
    " AND \"config\"->'glue'->>'Schedule' IS NOT NULL FOR UPDATE"

/* ---- Fires ---- */

/* $1 key -> key (no row: fired before) */
#define SL_CATALOG_SQL_FIRE_INSERT                                                                 \
    "INSERT INTO \"sluice\".\"trigger_fire\" (\"key\", \"fired_on\") VALUES ($1, clock_timestamp())" \
    " ON CONFLICT (\"key\") DO NOTHING RETURNING \"key\""
/* $1 key, $2 runs (JSON array) */
#define SL_CATALOG_SQL_FIRE_SET_RUNS                                                               \
    "UPDATE \"sluice\".\"trigger_fire\" SET \"runs\" = $2::jsonb WHERE \"key\" = $1"
/* $1 "sched:<name>:", $2 "cond:<name>:" */
#define SL_CATALOG_SQL_FIRE_DELETE_OF                                                              \
    "DELETE FROM \"sluice\".\"trigger_fire\" WHERE left(\"key\", length($1)) = $1"                 \
    " OR left(\"key\", length($2)) = $2"

/* ---- Schedule states ---- */

/* $1 key, $2 epoch ms: only when absent */
#define SL_CATALOG_SQL_SCHEDULE_INIT                                                               \
    "INSERT INTO \"sluice\".\"schedule_state\" (\"key\", \"checked_until\")"                       \
    " VALUES ($1, " SL_CATALOG_SQL_FROM_MS("$2::int8") ") ON CONFLICT (\"key\") DO NOTHING"
/* $1 key, $2 epoch ms: set, whatever it was */
#define SL_CATALOG_SQL_SCHEDULE_RESET                                                              \
    "INSERT INTO \"sluice\".\"schedule_state\" (\"key\", \"checked_until\")"                       \
    " VALUES ($1, " SL_CATALOG_SQL_FROM_MS("$2::int8") ") ON CONFLICT (\"key\")"                   \
    " DO UPDATE SET \"checked_until\" = EXCLUDED.\"checked_until\""
/* $1 key, $2 epoch ms: forward only */
#define SL_CATALOG_SQL_SCHEDULE_ADVANCE                                                            \
    "INSERT INTO \"sluice\".\"schedule_state\" (\"key\", \"checked_until\")"                       \
    " VALUES ($1, " SL_CATALOG_SQL_FROM_MS("$2::int8") ") ON CONFLICT (\"key\")"                   \
    " DO UPDATE SET \"checked_until\" = GREATEST(\"schedule_state\".\"checked_until\","            \
    " EXCLUDED.\"checked_until\")"
/* $1 key -> checked_until ms */
#define SL_CATALOG_SQL_SCHEDULE_GET                                                                \
    "SELECT " SL_CATALOG_SQL_MS("\"checked_until\"")                                               \
    " FROM \"sluice\".\"schedule_state\" WHERE \"key\" = $1"
/* $1 key */
#define SL_CATALOG_SQL_SCHEDULE_DELETE                                                             \
    "DELETE FROM \"sluice\".\"schedule_state\" WHERE \"key\" = $1"
/* -> kind (0 trigger, 1 job), name, schedule, checked_until ms (NULL: none) */
#define SL_CATALOG_SQL_SCHEDULE_LIST                                                               \
    "SELECT 0, \"t\".\"name\", \"t\".\"schedule\", " SL_CATALOG_SQL_MS("\"s\".\"checked_until\"")   \
    " FROM \"sluice\".\"trigger\" \"t\" LEFT JOIN \"sluice\".\"schedule_state\" \"s\""             \
    " ON \"s\".\"key\" = 'sched:' || \"t\".\"name\""                                               \
    " WHERE \"t\".\"type\" = 'SCHEDULED' AND \"t\".\"state\" = 'ACTIVATED'"                        \
    " AND \"t\".\"schedule\" IS NOT NULL"                                                          \
    " UNION ALL SELECT 1, \"j\".\"name\", \"j\".\"schedule\", "                                    \
    SL_CATALOG_SQL_MS("\"s\".\"checked_until\"")                                                   \
    " FROM \"sluice\".\"job\" \"j\" LEFT JOIN \"sluice\".\"schedule_state\" \"s\""                 \
    " ON \"s\".\"key\" = 'job:' || \"j\".\"name\" WHERE \"j\".\"schedule\" IS NOT NULL"            \
    " UNION ALL SELECT 2, \"c\".\"name\", \"c\".\"config\"->'glue'->>'Schedule', "                   \
    SL_CATALOG_SQL_MS("\"s\".\"checked_until\"")                                                   \
    " FROM \"sluice\".\"crawler\" \"c\" LEFT JOIN \"sluice\".\"schedule_state\" \"s\""             \
    " ON \"s\".\"key\" = 'crawl:' || \"c\".\"name\""                                                   \
    " WHERE \"c\".\"config\"->'glue'->>'Schedule' IS NOT NULL"                                         \
    " ORDER BY 1, 2"

#endif
