/*
 * runtime/pgload_sql.h - the fixed SQL of pgload*.c, one macro per statement:
 * advisory locks, stale staging tables, target introspection, the overwrite
 * swap plan. Values are $n parameters; identifiers reach these statements only
 * as parameters (format('%I') quotes them on the server). Statements whose
 * text depends on the columns (CREATE TABLE, COPY, INSERT, DELETE ... USING)
 * are built in pgload_sql.c with every identifier quoted.
 */
#ifndef SL_PGLOAD_SQL_H
#define SL_PGLOAD_SQL_H

#define SL_PGLOAD_SQL_BEGIN       "BEGIN"
#define SL_PGLOAD_SQL_COMMIT      "COMMIT"
#define SL_PGLOAD_SQL_ROLLBACK    "ROLLBACK"
#define SL_PGLOAD_SQL_SAVEPOINT   "SAVEPOINT \"sl_swap\""
#define SL_PGLOAD_SQL_ROLLBACK_TO "ROLLBACK TO SAVEPOINT \"sl_swap\""
#define SL_PGLOAD_SQL_RELEASE     "RELEASE SAVEPOINT \"sl_swap\""
/* Staging rows need not survive a server crash before publish (streams only). */
#define SL_PGLOAD_SQL_ASYNC_COMMIT "SET synchronous_commit TO off"
/* Dropping a staging table (abort, stale cleanup) never waits long on a
 * session still using it; what stays is dropped by a later begin. */
#define SL_PGLOAD_SQL_LOCK_TIMEOUT       "SET lock_timeout TO '5s'"
#define SL_PGLOAD_SQL_LOCK_TIMEOUT_RESET "RESET lock_timeout"

/* ---- Advisory locks: $1 key (int8) ---- */

/* Shared: every load of one run holds it (a run may have several loads open);
 * stale-table cleanup tries the exclusive form, which any holder blocks. */
#define SL_PGLOAD_SQL_LOCK     "SELECT pg_catalog.pg_advisory_lock_shared($1::int8)"
#define SL_PGLOAD_SQL_TRY_LOCK "SELECT pg_catalog.pg_try_advisory_lock($1::int8)"
#define SL_PGLOAD_SQL_UNLOCK   "SELECT pg_catalog.pg_advisory_unlock($1::int8)"

/* ---- Introspection ---- */

/* $1 schema, $2 LIKE pattern -> relname: candidate staging tables */
#define SL_PGLOAD_SQL_STAGES                                                                       \
    "SELECT c.relname FROM pg_catalog.pg_class c"                                                  \
    " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"                                    \
    " WHERE n.nspname = $1 AND c.relkind = 'r' AND c.relname LIKE $2"

/* $1 schema -> one row when it exists */
#define SL_PGLOAD_SQL_SCHEMA "SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1"

/* $1 schema, $2 table -> oid, relkind, relpersistence (no row when missing) */
#define SL_PGLOAD_SQL_TARGET                                                                       \
    "SELECT c.oid::int8, c.relkind, c.relpersistence FROM pg_catalog.pg_class c"                   \
    " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"                                    \
    " WHERE n.nspname = $1 AND c.relname = $2"

/* $1 table oid -> per column, in order: name, format_type, base type oid (a
 * domain's base type), typmod (of the base type), attnotnull, generated,
 * identity ('a' always, 'd' by default, ''), default expression or NULL,
 * COLLATE clause or NULL */
#define SL_PGLOAD_SQL_COLUMNS                                                                      \
    "SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod),"                           \
    " (CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE a.atttypid END)::int8,"                   \
    " CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END,"                            \
    " a.attnotnull, a.attgenerated <> '', a.attidentity::text,"                                    \
    " pg_catalog.pg_get_expr(d.adbin, d.adrelid),"                                                 \
    " CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation"                          \
    "  THEN format('COLLATE %I.%I', cn.nspname, co.collname) END"                                  \
    " FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid"              \
    " LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum"          \
    " LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation"                             \
    " LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace"                           \
    " WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum"

/* $1 table oid -> one text: the columns' names, types, NOT NULL and defaults;
 * compared at publish to see whether the target changed since begin */
#define SL_PGLOAD_SQL_COL_SIG                                                                      \
    "SELECT coalesce(string_agg(format('%I %s %s %s', a.attname,"                                  \
    " pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull,"                              \
    " pg_catalog.pg_get_expr(d.adbin, d.adrelid)), ', ' ORDER BY a.attnum), '')"                   \
    " FROM pg_catalog.pg_attribute a"                                                              \
    " LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum"          \
    " WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped"

/* $1 table oid -> why the table cannot be replaced by a swap, or NULL when it
 * can: anything that points at the table (views and rules, foreign keys,
 * triggers, policies, extended statistics, publications, inheritance, users
 * of its row type) or that a swap cannot rebuild (identity or generated
 * columns, own tablespace, row security, replica identity by index, extension
 * membership), or a table this role cannot drop. */
#define SL_PGLOAD_SQL_SWAP_BLOCKER                                                                 \
    "SELECT CASE"                                                                                  \
    " WHEN c.relkind <> 'r' THEN 'it is partitioned'"                                              \
    " WHEN c.reltablespace <> 0 THEN 'it has its own tablespace'"                                  \
    " WHEN c.relrowsecurity THEN 'it has row level security'"                                      \
    " WHEN c.relreplident NOT IN ('d', 'n', 'f') THEN 'its replica identity is an index'"          \
    " WHEN NOT pg_catalog.pg_has_role(c.relowner, 'MEMBER') THEN 'another role owns it'"           \
    " WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_inherits i"                                         \
    "  WHERE i.inhrelid = c.oid OR i.inhparent = c.oid) THEN 'it has inheritance'"                 \
    " WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_depend d"                                           \
    "  WHERE d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjid = c.oid"                \
    "  AND d.classid = 'pg_catalog.pg_rewrite'::regclass) THEN 'a view or rule depends on it'"     \
    " WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k WHERE k.confrelid = c.oid)"            \
    "  THEN 'a foreign key references it'"                                                         \
    " WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_trigger g"                                          \
    "  WHERE g.tgrelid = c.oid AND NOT g.tgisinternal) THEN 'it has triggers'"                     \
    " WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_policy p WHERE p.polrelid = c.oid)"                 \
    "  THEN 'it has policies'"                                                                     \
    " WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_statistic_ext x WHERE x.stxrelid = c.oid)"          \
    "  THEN 'it has extended statistics'"                                                          \
    " WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_publication_rel p WHERE p.prrelid = c.oid)"         \
    "  THEN 'it is published'"                                                                     \
    " WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid"               \
    "  AND a.attnum > 0 AND NOT a.attisdropped AND (a.attidentity <> '' OR a.attgenerated <> ''))" \
    "  THEN 'it has identity or generated columns'"                                                \
    " WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_depend d"                                           \
    "  WHERE d.refclassid = 'pg_catalog.pg_type'::regclass AND d.refobjid = c.reltype"             \
    "  AND d.deptype <> 'i') THEN 'its row type is used'"                                          \
    " WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_depend d"                                           \
    "  WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid"                      \
    "  AND d.deptype = 'e') THEN 'it belongs to an extension'"                                     \
    " END FROM pg_catalog.pg_class c WHERE c.oid = $1::oid"

/* The statements that turn the staging table into a copy of the target's
 * definition before the swap, and the renames after it. Parameters: $1 target
 * oid, $2 staging table (quoted, qualified), $3 target (quoted, qualified,
 * valid after the rename), $4 suffix for temporary names. Rows: ord, pre (run
 * on the staging table before DROP target; NULL when an index definition
 * cannot be rewritten: no swap), post (run after the rename, or NULL).
 * Order: constraints (foreign keys last) under temporary names, indexes under
 * temporary names, owner, storage options, replica identity, comments, grants
 * (table, then columns), sequences owned by the target's columns. */
#define SL_PGLOAD_SQL_SWAP_PLAN                                                                    \
    "WITH t AS (SELECT c.*, n.nspname FROM pg_catalog.pg_class c"                                  \
    "  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1::oid),"           \
    " k AS (SELECT k.oid, k.conname, k.contype,"                                                   \
    "  row_number() OVER (ORDER BY k.contype = 'f', k.conname) AS i"                               \
    "  FROM pg_catalog.pg_constraint k WHERE k.conrelid = $1::oid"                                 \
    "  AND k.contype IN ('p', 'u', 'x', 'c', 'f')),"                                               \
    " x AS (SELECT i.indexrelid, ic.relname, pg_catalog.pg_get_indexdef(i.indexrelid) AS def,"     \
    "  CASE WHEN i.indisunique THEN 'UNIQUE ' ELSE '' END AS uq,"                                  \
    "  row_number() OVER (ORDER BY ic.relname) AS i"                                               \
    "  FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid"            \
    "  WHERE i.indrelid = $1::oid AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k"        \
    "  WHERE k.conindid = i.indexrelid AND k.conrelid = i.indrelid"                                \
    "  AND k.contype IN ('p', 'u', 'x')))"                                                         \
    " SELECT 1 AS ord, k.i AS sub, format('ALTER TABLE %s ADD CONSTRAINT %I %s', $2::text,"        \
    "  '_sluice_k' || k.i || '_' || $4::text, pg_catalog.pg_get_constraintdef(k.oid)),"            \
    "  format('ALTER TABLE %s RENAME CONSTRAINT %I TO %I', $3::text,"                              \
    "  '_sluice_k' || k.i || '_' || $4::text, k.conname) FROM k"                                   \
    " UNION ALL SELECT 2, x.i, CASE WHEN left(x.def, length(p.pre)) = p.pre"                       \
    "  THEN format('CREATE %sINDEX %I ON %s USING ', x.uq,"                                        \
    "  '_sluice_x' || x.i || '_' || $4::text, $2::text)"                                           \
    "  || substr(x.def, length(p.pre) + 1) END,"                                                   \
    "  format('ALTER INDEX %I.%I RENAME TO %I', t.nspname,"                                        \
    "  '_sluice_x' || x.i || '_' || $4::text, x.relname)"                                          \
    "  FROM x CROSS JOIN t CROSS JOIN LATERAL (SELECT format('CREATE %sINDEX %I ON"                \
    " %I.%I USING ', x.uq, x.relname, t.nspname, t.relname) AS pre) p"                             \
    " UNION ALL SELECT 3, 0, format('ALTER TABLE %s OWNER TO %I', $2::text, r.rolname), NULL"      \
    "  FROM t JOIN pg_catalog.pg_roles r ON r.oid = t.relowner WHERE r.rolname <> current_user"    \
    " UNION ALL SELECT 4, 0, format('ALTER TABLE %s SET (%s)', $2::text, (SELECT string_agg("      \
    "  format('%I = %L', split_part(o, '=', 1), substr(o, strpos(o, '=') + 1)), ', ')"             \
    "  FROM unnest(t.reloptions) o)), NULL FROM t WHERE t.reloptions IS NOT NULL"                  \
    " UNION ALL SELECT 5, 0, format('ALTER TABLE %s REPLICA IDENTITY %s', $2::text,"               \
    "  CASE t.relreplident WHEN 'n' THEN 'NOTHING' ELSE 'FULL' END), NULL"                         \
    "  FROM t WHERE t.relreplident IN ('n', 'f')"                                                  \
    " UNION ALL SELECT 6, d.objsubid, CASE WHEN d.objsubid = 0"                                    \
    "  THEN format('COMMENT ON TABLE %s IS %L', $2::text, d.description)"                          \
    "  ELSE format('COMMENT ON COLUMN %s.%I IS %L', $2::text, a.attname, d.description) END, NULL" \
    "  FROM pg_catalog.pg_description d LEFT JOIN pg_catalog.pg_attribute a"                       \
    "  ON a.attrelid = d.objoid AND a.attnum = d.objsubid"                                         \
    "  WHERE d.objoid = $1::oid AND d.classoid = 'pg_catalog.pg_class'::regclass"                  \
    " UNION ALL SELECT 7, 0, format('REVOKE ALL ON %s FROM %I', $2::text, r.rolname), NULL"        \
    "  FROM t JOIN pg_catalog.pg_roles r ON r.oid = t.relowner WHERE t.relacl IS NOT NULL"         \
    " UNION ALL SELECT 8, row_number() OVER (), format('GRANT %s ON %s TO %s%s',"                  \
    "  g.privilege_type, $2::text, CASE WHEN g.grantee = 0 THEN 'PUBLIC'"                          \
    "  ELSE quote_ident(r.rolname) END,"                                                           \
    "  CASE WHEN g.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END), NULL"                      \
    "  FROM t CROSS JOIN LATERAL pg_catalog.aclexplode(t.relacl) g"                                \
    "  LEFT JOIN pg_catalog.pg_roles r ON r.oid = g.grantee"                                       \
    " UNION ALL SELECT 9, row_number() OVER (), format('GRANT %s (%I) ON %s TO %s%s',"             \
    "  g.privilege_type, a.attname, $2::text, CASE WHEN g.grantee = 0 THEN 'PUBLIC'"               \
    "  ELSE quote_ident(r.rolname) END,"                                                           \
    "  CASE WHEN g.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END), NULL"                      \
    "  FROM pg_catalog.pg_attribute a CROSS JOIN LATERAL pg_catalog.aclexplode(a.attacl) g"        \
    "  LEFT JOIN pg_catalog.pg_roles r ON r.oid = g.grantee"                                       \
    "  WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped"                         \
    "  AND a.attacl IS NOT NULL"                                                                   \
    " UNION ALL SELECT 10, 0, format('ALTER SEQUENCE %I.%I OWNED BY %s.%I', sn.nspname,"           \
    "  s.relname, $2::text, a.attname), NULL FROM pg_catalog.pg_depend d"                          \
    "  JOIN pg_catalog.pg_class s ON s.oid = d.objid AND s.relkind = 'S'"                          \
    "  JOIN pg_catalog.pg_namespace sn ON sn.oid = s.relnamespace"                                 \
    "  JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid"     \
    "  WHERE d.classid = 'pg_catalog.pg_class'::regclass"                                          \
    "  AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjid = $1::oid"                \
    "  AND d.deptype = 'a'"                                                                        \
    " ORDER BY 1, 2"

#endif
