#!/usr/bin/env bash
# tests/integration/test_load.sh - writes into PostgreSQL (issue 5) through
# `sluice load` and write{to = "postgres:..."} in jobs, against the real
# PostgreSQL of the test services: every mode, a new table's types, bad rows
# under and over max_errors, quoted identifiers and an injection attempt, a
# killed load, concurrent merges, and Redshift staging files on the S3
# emulator.
set -u
SLUICE=${SLUICE_BIN:?SLUICE_BIN not set}
n_fail=0
ok() { echo "ok - $1"; }
bad() { echo "not ok - $1"; n_fail=$((n_fail + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
if [ -z "${SLUICE_CATALOG:-}" ]; then
    echo "skip - load: needs PostgreSQL (SLUICE_CATALOG)"
    exit 0
fi
work=$(mktemp -d /tmp/sluice-load-XXXXXX)
export SLUICE_HOME=$work/home
S=ld_$$
sql() { psql "$SLUICE_CATALOG" -XAtqc "$1"; }
cleanup() {
    rm -rf "$work"
    sql "DELETE FROM sluice.job_bookmark WHERE job_name IN ('ld_bm_$$', 'ld_bm2_$$')" >/dev/null 2>&1
    sql "DROP SCHEMA IF EXISTS $S CASCADE" >/dev/null 2>&1
}
trap cleanup EXIT
sql "CREATE SCHEMA $S"
jget() { node -e "const d=JSON.parse(require('fs').readFileSync('$1','utf8'));console.log($2)"; }
run() { # NAME args... (sluice run or load): --json into NAME.json, stderr NAME.err, rc NAME.rc
    local name=$1; shift
    "$SLUICE" "$@" --json >"$work/$name.json" 2>"$work/$name.err"
    echo $? >"$work/$name.rc"
}
rc() { cat "$work/$1.rc"; }

# ---- sluice load: a new table with inferred types, then append and overwrite
printf 'id,name,price,day,flag\n1,apple,1.5,2024-05-01,true\n2,"pear, green",2.25,2024-05-02,false\n3,,3,2024-05-03,true\n' >"$work/fruit.csv"
run load1 load "$work/fruit.csv" --into "postgres:$S.fruit"
check load_new_table test "$(rc load1) $(sql "SELECT count(*) FROM $S.fruit")" = "0 3"
check load_types test "$(sql "SELECT string_agg(column_name || ':' || data_type, ',' ORDER BY ordinal_position) FROM information_schema.columns WHERE table_schema = '$S' AND table_name = 'fruit'")" = \
    "id:bigint,name:text,price:double precision,day:date,flag:boolean"
check load_values test "$(sql "SELECT id, coalesce(name, 'NULL'), price, day, flag FROM $S.fruit ORDER BY id" | tr '\n' ' ')" = \
    "1|apple|1.5|2024-05-01|t 2|pear, green|2.25|2024-05-02|f 3|NULL|3|2024-05-03|t "
run load2 load "$work/fruit.csv" --into "postgres:$S.fruit" --mode append
check load_append test "$(rc load2) $(sql "SELECT count(*) FROM $S.fruit")" = "0 6"
sql "CREATE INDEX fruit_name ON $S.fruit (name)"
run load3 load "$work/fruit.csv" --into "postgres:$S.fruit" --mode overwrite
check load_overwrite test "$(rc load3) $(sql "SELECT count(*) FROM $S.fruit")" = "0 3"
check overwrite_keeps_index test "$(sql "SELECT count(*) FROM pg_indexes WHERE schemaname = '$S' AND indexname = 'fruit_name'")" = 1
check no_staging_left test "$(sql "SELECT count(*) FROM pg_tables WHERE schemaname = '$S' AND tablename LIKE '\_sluice\_stage%'")" = 0

# ---- merge from a job: updates and inserts by key, the last row of a key wins
printf 'id,name,price,day,flag\n2,pear,9.5,2024-06-02,true\n4,kiwi,4,2024-06-04,false\n4,kiwi2,4.5,2024-06-05,false\n' >"$work/fruit2.csv"
cat >"$work/merge.lua" <<EOF
job { name = "merge_fruit" }
function main(ctx)
  sluice.from_path{ uri = "$work/fruit2.csv", format = "csv" }
    :write{ to = "postgres:$S.fruit", mode = "merge", keys = { "id" } }
end
EOF
run merge1 run "$work/merge.lua" --workers 2
check merge_succeeds test "$(rc merge1)" = 0
check merge_result test "$(sql "SELECT id, name, price FROM $S.fruit ORDER BY id" | tr '\n' ' ')" = \
    "1|apple|1.5 2|pear|9.5 3||3 4|kiwi2|4.5 "
run merge2 run "$work/merge.lua" --workers 2
check merge_idempotent test "$(sql "SELECT count(*), sum(price) FROM $S.fruit")" = "4|18.5"

# ---- a schema mismatch fails before any row moves
sql "CREATE TABLE $S.strict (id integer, name varchar(5))"
printf 'id,name\n1,abc\n' >"$work/strict_ok.csv"
printf 'id,when\n1,2024-01-01\n' >"$work/strict_other.csv"
run mism load "$work/strict_other.csv" --into "postgres:$S.strict" --no-create
check mismatch_fails_as_config_error test "$(rc mism)" = 2
check mismatch_names_column grep -q '"when"' "$work/mism.err"
check mismatch_nothing_loaded test "$(sql "SELECT count(*) FROM $S.strict")" = 0
run nocreate load "$work/strict_ok.csv" --into "postgres:$S.nope" --no-create
check missing_table_without_create test "$(rc nocreate)" = 2
check missing_table_message grep -q 'does not exist' "$work/nocreate.err"

# ---- bad rows: values that do not fit the target's columns
printf 'id,name\n1,ok\n3000000000,big\n2,toolongname\n4,fine\n' >"$work/strict_bad.csv"
run bad0 load "$work/strict_bad.csv" --into "postgres:$S.strict"
check bad_rows_over_limit_fail test "$(rc bad0) $(sql "SELECT count(*) FROM $S.strict")" = "1 0"
run bad2 load "$work/strict_bad.csv" --into "postgres:$S.strict" --max-errors 2 --errors "$work/bad.jsonl"
check bad_rows_under_limit_load test "$(rc bad2) $(sql "SELECT string_agg(id::text, ',' ORDER BY id) FROM $S.strict")" = "0 1,4"
check bad_rows_reported test "$(wc -l <"$work/bad.jsonl")" = 2
check bad_row_reason grep -q 'out of range' "$work/bad.jsonl"

# ---- write{max_errors = N}: bad rows at a database write count against its own limit
sql "CREATE TABLE $S.strict2 (id integer, name varchar(5))"
for lim in 1 2; do
cat >"$work/wlim$lim.lua" <<EOF
job { name = "wlim" }
function main(ctx)
  sluice.from_path{ uri = "$work/strict_bad.csv", format = "csv" }
    :write{ to = "postgres:$S.strict2", max_errors = $lim }
end
EOF
done
run wlim1 run "$work/wlim1.lua"
check write_max_errors_over test "$(rc wlim1) $(sql "SELECT count(*) FROM $S.strict2")" = "1 0"
check write_max_errors_message grep -q "its max_errors 1" "$work/wlim1.err"
run wlim2 run "$work/wlim2.lua"
check write_max_errors_under test "$(rc wlim2) $(jget "$work/wlim2.json" 'd.rows_rejected') $(sql "SELECT count(*) FROM $S.strict2")" = "0 2 2"

# ---- identifiers are quoted; an injection attempt is refused or harmless
run quoted load "$work/fruit.csv" --into "postgres:$S.\"My Table\""
check quoted_identifier test "$(rc quoted) $(sql "SELECT count(*) FROM $S.\"My Table\"")" = "0 3"
sql "CREATE TABLE $S.victim (x int)"
run inject load "$work/fruit.csv" --into "postgres:$S.t; DROP TABLE $S.victim"
check injection_harmless test "$(sql "SELECT count(*) FROM pg_tables WHERE schemaname = '$S' AND tablename = 'victim'")" = 1

# ---- kill -9 in the middle: the target is unchanged, the next load cleans the staging table
awk 'BEGIN { print "id,name,price,day,flag"; for (i = 0; i < 400000; i++) printf "%d,n%d,%d.5,2024-01-01,true\n", i, i, i }' >"$work/big.csv"
cat >"$work/slowload.lua" <<EOF
job { name = "slowload" }
function main(ctx)
  sluice.from_path{ uri = "$work/big.csv", format = "csv" }
    :map(function(r) local x = 0 for i = 1, 3000 do x = x + i end return r end)
    :write{ to = "postgres:$S.fruit", mode = "overwrite" }
end
EOF
before=$(sql "SELECT count(*), sum(price) FROM $S.fruit")
"$SLUICE" run "$work/slowload.lua" --workers 2 >/dev/null 2>&1 &
pid=$!
for _ in $(seq 200); do
    [ "$(sql "SELECT count(*) FROM pg_tables WHERE schemaname = '$S' AND tablename LIKE '\_sluice\_stage%'")" != 0 ] && break
    sleep 0.05
done
sleep 1
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
check killed_load_target_unchanged test "$(sql "SELECT count(*), sum(price) FROM $S.fruit")" = "$before"
run after_kill load "$work/fruit.csv" --into "postgres:$S.other"
check killed_load_staging_cleaned test "$(rc after_kill) $(sql "SELECT count(*) FROM pg_tables WHERE schemaname = '$S' AND tablename LIKE '\_sluice\_stage%'")" = "0 0"

# ---- two concurrent merges into one table
sql "CREATE TABLE $S.acc (k bigint primary key, v bigint)"
awk 'BEGIN { print "k,v"; for (i = 0; i < 20000; i++) printf "%d,1\n", i }' >"$work/m1.csv"
awk 'BEGIN { print "k,v"; for (i = 10000; i < 30000; i++) printf "%d,2\n", i }' >"$work/m2.csv"
"$SLUICE" load "$work/m1.csv" --into "postgres:$S.acc" --mode merge --keys k >"$work/cm1.out" 2>&1 &
p1=$!
"$SLUICE" load "$work/m2.csv" --into "postgres:$S.acc" --mode merge --keys k >"$work/cm2.out" 2>&1 &
p2=$!
wait "$p1"; r1=$?
wait "$p2"; r2=$?
check concurrent_merges_succeed test "$r1$r2" = 00
check concurrent_merges_rows test "$(sql "SELECT count(*), count(DISTINCT k) FROM $S.acc")" = "30000|30000"
check concurrent_merges_values test "$(sql "SELECT count(*) FROM $S.acc WHERE (k < 10000 AND v <> 1) OR (k >= 20000 AND v <> 2)")" = 0

# ---- Redshift: staging files on S3, a manifest and the SQL (Redshift itself cannot run here)
if [ -n "${AWS_ENDPOINT_URL:-}" ]; then
    P=s3://sluice-test/rs-$$
    cat >"$work/rs.lua" <<EOF
job { name = "rs" }
function main(ctx)
  sluice.from_path{ uri = "$work/fruit.csv", format = "csv" }
    :write{ to = "redshift://loader@example-cluster:5439/dev#analytics.fruit", mode = "merge",
            keys = { "id" }, stage = "$P/", iam_role = "arn:aws:iam::123456789012:role/load",
            execute = false }
end
EOF
    run rs run "$work/rs.lua" --run-id rsrun
    check redshift_run_succeeds test "$(rc rs)" = 0
    /usr/bin/aws --endpoint-url "$AWS_ENDPOINT_URL" s3 cp --quiet --recursive "$P/rsrun/" "$work/rs/"
    check redshift_manifest_json test "$(jget "$work/rs/manifest.json" 'd.entries.length > 0 && d.entries.every(e => e.mandatory && e.url.startsWith("'"$P"'/rsrun/"))')" = true
    check redshift_sql_copy grep -q "MANIFEST" "$work/rs/load.sql"
    check redshift_sql_role grep -q "arn:aws:iam::123456789012:role/load" "$work/rs/load.sql"
    f=$(find "$work/rs" -name 'part-*.csv.gz' | head -1)
    gzip -dc "$f" >"$work/rs.csv"
    check redshift_merge_files_carry_order test "$(head -1 "$work/rs.csv")" = "id,name,price,day,flag,_sluice_seq"
    check redshift_merge_copy_columns grep -q '"_sluice_seq")' "$work/rs/load.sql"
    sql "CREATE TABLE $S.rs (id bigint, name text, price double precision, day date, flag boolean, _sluice_seq bigint)"
    psql "$SLUICE_CATALOG" -Xqc "\\copy $S.rs FROM '$work/rs.csv' CSV HEADER" >/dev/null
    check redshift_csv_loads_with_psql test "$(sql "SELECT count(*) FROM $S.rs")" = 3
else
    echo "skip - redshift staging: needs the S3 emulator (AWS_ENDPOINT_URL)"
fi

# ---- a bookmark in the catalog's database advances in the publish transaction (exactly once)
BM=ld_bm_$$
mkdir -p "$work/bm"
printf 'id,name\n1,a\n2,b\n3,c\n' >"$work/bm/a.csv"
sql "CREATE TABLE $S.bm (id bigint, name text)"
cat >"$work/bm.lua" <<EOF
job { name = "$BM", bookmark = true }
function main(ctx)
  sluice.from_path{ uri = "$work/bm/", format = "csv" }
    :write{ to = "postgres:$S.bm", mode = "append" }
end
EOF
bm_version() { sql "SELECT coalesce(max(version), 0) FROM sluice.job_bookmark WHERE job_name = '$BM'"; }
bm_rows() { sql "SELECT count(*) || ' ' || coalesce(sum(id), 0) FROM $S.bm"; }
run bm1 run "$work/bm.lua" --workers 2
check bookmark_in_publish_first_run test "$(rc bm1) $(bm_rows)" = "0 3 6"
check bookmark_in_publish_flag test "$(jget "$work/bm1.json" 'd.bookmark_advanced + " " + d.bookmark_exactly_once')" = "true true"
run bm2 run "$work/bm.lua" --workers 2
check bookmark_in_publish_second_reads_nothing test "$(rc bm2) $(jget "$work/bm2.json" 'd.rows_read') $(bm_rows)" = "0 0 3 6"
# no row reached the write: nothing was published, the bookmark committed on its own
check bookmark_nothing_published_flag test "$(jget "$work/bm2.json" 'd.bookmark_advanced + " " + d.bookmark_exactly_once')" = "true false"
printf 'id,name\n4,d\n5,e\n' >"$work/bm/b.csv"
run bm3 run "$work/bm.lua" --workers 2
check bookmark_in_publish_new_file test "$(rc bm3) $(jget "$work/bm3.json" 'd.rows_read') $(bm_rows)" = "0 2 5 15"
check bookmark_in_publish_new_file_flag test "$(jget "$work/bm3.json" 'd.bookmark_exactly_once')" = true
# the publish fails (a trigger refuses the INSERT): table unchanged, bookmark not advanced
printf 'id,name\n6,f\n7,g\n8,h\n9,i\n' >"$work/bm/c.csv"
sql "CREATE FUNCTION $S.refuse() RETURNS trigger LANGUAGE plpgsql AS \$\$BEGIN RAISE EXCEPTION 'refused by test'; END\$\$"
sql "CREATE TRIGGER refuse BEFORE INSERT ON $S.bm FOR EACH ROW EXECUTE FUNCTION $S.refuse()"
v_before=$(bm_version)
run bm4 run "$work/bm.lua" --workers 2
check bookmark_publish_failure_fails test "$(rc bm4)" != 0
check bookmark_publish_failure_message grep -q 'refused by test' "$work/bm4.err"
check bookmark_publish_failure_table_unchanged test "$(bm_rows)" = "5 15"
check bookmark_publish_failure_not_advanced test "$(bm_version)" = "$v_before"
sql "DROP TRIGGER refuse ON $S.bm"
# the bookmark commit fails inside the publish: the rows it inserted roll back with it
sql "CREATE TRIGGER refuse_$$ BEFORE UPDATE ON sluice.job_bookmark FOR EACH ROW WHEN (NEW.job_name = '$BM') EXECUTE FUNCTION $S.refuse()"
run bm5 run "$work/bm.lua" --workers 2
sql "DROP TRIGGER refuse_$$ ON sluice.job_bookmark"
check bookmark_commit_failure_fails test "$(rc bm5)" != 0
check bookmark_commit_failure_message grep -q 'commit bookmark of job.*refused by test' "$work/bm5.err"
check bookmark_commit_failure_table_unchanged test "$(bm_rows)" = "5 15"
check bookmark_commit_failure_not_advanced test "$(bm_version)" = "$v_before"
# the COMMIT itself fails (a deferred trigger), after the bookmark was written: both roll back
sql "CREATE CONSTRAINT TRIGGER refuse_late AFTER INSERT ON $S.bm DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION $S.refuse()"
run bm5c run "$work/bm.lua" --workers 2
sql "DROP TRIGGER refuse_late ON $S.bm"
check bookmark_commit_time_failure_fails test "$(rc bm5c)" != 0
check bookmark_commit_time_failure_message grep -q 'commit: refused by test' "$work/bm5c.err"
check bookmark_commit_time_failure_table_unchanged test "$(bm_rows)" = "5 15"
check bookmark_commit_time_failure_not_advanced test "$(bm_version)" = "$v_before"
check bookmark_failures_leave_no_staging test "$(sql "SELECT count(*) FROM pg_tables WHERE schemaname = '$S' AND tablename LIKE '\_sluice\_stage%'")" = 0
# the next run loads exactly the rows the failed runs did not
run bm6 run "$work/bm.lua" --workers 2
check bookmark_after_failures_loads_them test "$(rc bm6) $(jget "$work/bm6.json" 'd.rows_read') $(bm_rows)" = "0 4 9 45"
check bookmark_after_failures_flag test "$(jget "$work/bm6.json" 'd.bookmark_exactly_once')" = true
run bm7 run "$work/bm.lua" --workers 2
check bookmark_after_failures_then_nothing test "$(rc bm7) $(jget "$work/bm7.json" 'd.rows_read') $(bm_rows)" = "0 0 9 45"
# two writes (a table and files): the bookmark commits after both publish (at least once)
cat >"$work/bm2.lua" <<EOF
job { name = "ld_bm2_$$", bookmark = true }
function main(ctx)
  local d = sluice.from_path{ uri = "$work/bm/", format = "csv" }
  d:write{ to = "postgres:$S.bm2", create = true }
  d:write{ to = "$work/bm2out/" }
end
EOF
run bm8 run "$work/bm2.lua" --workers 2
check bookmark_two_writes_at_least_once test "$(rc bm8) $(jget "$work/bm8.json" 'd.bookmark_advanced + " " + d.bookmark_exactly_once') $(sql "SELECT count(*) FROM $S.bm2")" = "0 true false 9"

exit $((n_fail > 0))
