#!/usr/bin/env bash
# tests/integration/test_crawl_policies.sh - crawler re-crawl policies on a
# local folder against real PostgreSQL (spec/crawler.md §11-§12, T34, T35,
# T39, T43, T45, and update_behavior LOG).
set -u
SLUICE=${SLUICE_BIN:?SLUICE_BIN not set}
n_fail=0
ok() { echo "ok - $1"; }
bad() { echo "not ok - $1"; n_fail=$((n_fail + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
if [ -z "${SLUICE_CATALOG:-}" ]; then
    echo "skip - crawl_policies: needs PostgreSQL (SLUICE_CATALOG)"
    exit 0
fi
work=$(mktemp -d /tmp/sluice-policies-XXXXXX)
DB=pol_$$
trap 'rm -rf "$work"; psql "$SLUICE_CATALOG" -qc "DELETE FROM sluice.catalog_database WHERE name LIKE '"'"'${DB}%'"'"'" >/dev/null 2>&1' EXIT
jget() { node -e "const d=JSON.parse(require('fs').readFileSync('$1','utf8'));console.log($2)"; }
sql() { psql "$SLUICE_CATALOG" -Atc "$1"; }
crawl() { # out-file args...
    local out=$1; shift
    "$SLUICE" crawl "$@" --json >"$out" 2>"$out.err"
}

# ---- T34: one CSV rewritten (new ETag), same columns: no version, stats updated in place
L=$work/t34/ev
mkdir -p "$L/dt=1" "$L/dt=2"
printf 'id,v\n1,2\n3,4\n' >"$L/dt=1/a.csv"
printf 'id,v\n5,6\n' >"$L/dt=2/a.csv"
crawl "$work/34a.json" "$work/t34/" --database "${DB}_a" --delete-behavior DEPRECATE_IN_DATABASE
check t34_first_crawl test "$(jget "$work/34a.json" 'd.status')" = succeeded
sleep 1.1
printf 'id,v\n1,2\n3,4\n7,8\n9,10\n' >"$L/dt=1/a.csv"
crawl "$work/34b.json" "$work/t34/" --database "${DB}_a" --delete-behavior DEPRECATE_IN_DATABASE
check t34_one_get test "$(jget "$work/34b.json" 'd.counters.get_requests')" = 1
check t34_no_version test "$(jget "$work/34b.json" 'd.counters.versions_created')" = 0
check t34_record_count_updated test "$(sql "SELECT t.parameters->>'recordCount' FROM sluice.catalog_table t JOIN sluice.catalog_database d ON d.id = t.database_id WHERE d.name = '${DB}_a' AND t.name = 'ev'")" = 5

# ---- T35: every object of dt=2 deleted under DEPRECATE_IN_DATABASE, later restored
mv "$L/dt=2/a.csv" "$work/saved.csv"
crawl "$work/35a.json" "$work/t34/" --database "${DB}_a" --delete-behavior DEPRECATE_IN_DATABASE
part_state() { sql "SELECT p.state FROM sluice.catalog_partition p JOIN sluice.catalog_table t ON t.id = p.table_id JOIN sluice.catalog_database d ON d.id = t.database_id WHERE d.name = '${DB}_a' AND p.part_values = ARRAY['2']"; }
check t35_partition_deprecated test "$(part_state)" = deprecated
mv "$work/saved.csv" "$L/dt=2/a.csv"
crawl "$work/35b.json" "$work/t34/" --database "${DB}_a" --delete-behavior DEPRECATE_IN_DATABASE
check t35_partition_active_again test "$(part_state)" = active
check t35_no_version test "$(jget "$work/35b.json" 'd.counters.versions_created')" = 0

# ---- T39: MERGE_NEW_COLUMNS keeps a bigint, appends z, reports TYPE_CONFLICT
M=$work/t39/m
mkdir -p "$M"
printf 'a,b\n1,p\n2,q\n' >"$M/1.csv"
crawl "$work/39a.json" "$work/t39/" --database "${DB}_b" --update-behavior MERGE_NEW_COLUMNS
printf 'a,b,z\nx,r,1\ny,s,2\n' >"$M/2.csv"
crawl "$work/39b.json" "$work/t39/" --database "${DB}_b" --update-behavior MERGE_NEW_COLUMNS
"$SLUICE" catalog table "${DB}_b.m" --json >"$work/39t.json"
check t39_z_appended test "$(jget "$work/39t.json" 'd.Table.StorageDescriptor.Columns.map(c=>c.Name+":"+c.Type).join(",")')" = "a:bigint,b:string,z:bigint"
check t39_type_conflict test "$(jget "$work/39b.json" 'd.warnings.some(w=>w.code==="TYPE_CONFLICT")')" = true

# ---- update_behavior LOG: nothing changes, the diff is reported
N=$work/tlog/n
mkdir -p "$N"
printf 'a,c\n1,2\n' >"$N/1.csv"
crawl "$work/la.json" "$work/tlog/" --database "${DB}_c" --update-behavior LOG
printf 'a,c,b\n1,2,x\n' >"$N/2.csv"
crawl "$work/lb.json" "$work/tlog/" --database "${DB}_c" --update-behavior LOG
check log_no_version test "$(jget "$work/lb.json" 'd.counters.versions_created')" = 0
check log_reported test "$(jget "$work/lb.json" 'd.warnings.some(w=>w.code==="SCHEMA_CHANGE_LOGGED")')" = true

# ---- T43: max_tables=2 with a layout giving 3 tables: the run fails, the catalog is unchanged
for t in c1 c2 c3; do mkdir -p "$work/t43/$t"; done
printf 'id,name,email\n1,a,b\n' >"$work/t43/c1/x.csv"
printf 'order_id,amount\n1,2.5\n' >"$work/t43/c2/x.csv"
printf '{"k": 1}\n{"k": 2}\n' >"$work/t43/c3/x.json"
"$SLUICE" crawl "$work/t43/" --database "${DB}_d" --max-tables 2 >/dev/null 2>"$work/43.err"
check t43_run_fails test $? = 1
check t43_message grep -q 'max_tables' "$work/43.err"
check t43_catalog_unchanged test "$(sql "SELECT count(*) FROM sluice.catalog_table t JOIN sluice.catalog_database d ON d.id = t.database_id WHERE d.name = '${DB}_d'")" = 0
check t43_run_recorded test "$(sql "SELECT status FROM sluice.crawl_run r WHERE r.crawler LIKE 'crawl_${DB}_d_%' ORDER BY id DESC LIMIT 1")" = failed

# ---- T45: the listing is suddenly empty under DELETE_FROM_DATABASE: nothing is deleted
mkdir -p "$work/t45/g"
printf 'id,v\n1,2\n3,4\n' >"$work/t45/g/1.csv"
crawl "$work/45a.json" "$work/t45/" --database "${DB}_e" --delete-behavior DELETE_FROM_DATABASE
rm "$work/t45/g/1.csv"
crawl "$work/45b.json" "$work/t45/" --database "${DB}_e" --delete-behavior DELETE_FROM_DATABASE
check t45_guard_reported test "$(jget "$work/45b.json" 'd.warnings.some(w=>w.code==="EMPTY_LISTING_GUARD")')" = true
check t45_table_kept bash -c '"$1" catalog table "$2" >/dev/null' _ "$SLUICE" "${DB}_e.g"

# ---- --dry-run: the report says what would change, the catalog keeps nothing
runs_before=$(sql "SELECT count(*) FROM sluice.crawl_run")
crawl "$work/dry.json" "$work/t34/" --database "${DB}_h" --dry-run
check dry_run_reports_tables test "$(jget "$work/dry.json" 'd.status+":"+d.counters.tables_created')" = "dry_run:1"
check dry_run_writes_no_database test "$(sql "SELECT count(*) FROM sluice.catalog_database WHERE name = '${DB}_h'")" = 0
check dry_run_writes_no_run test "$(sql "SELECT count(*) FROM sluice.crawl_run")" = "$runs_before"

# ---- sampling budget: a 6 MB CSV is never read whole
mkdir -p "$work/big/t"
awk 'BEGIN { print "id,name,score"; for (i = 0; i < 200000; i++) printf "%d,name%d,%d.5\n", i, i, i % 1000 }' \
    >"$work/big/t/big.csv"
size=$(stat -c %s "$work/big/t/big.csv")
crawl "$work/b1.json" "$work/big/" --database "${DB}_f"
read1=$(jget "$work/b1.json" 'd.counters.bytes_read')
check default_sample_is_head_and_tail test "$read1" = $((1048576 + 262144))
check default_sample_not_whole test "$read1" -lt "$size"
crawl "$work/b2.json" "$work/big/" --database "${DB}_g" --sample-bytes 65536
read2=$(jget "$work/b2.json" 'd.counters.bytes_read')
check sample_bytes_caps_head test "$read2" -le $((65536 + 16384))
check sample_bytes_still_types test "$(jget "$work/b2.json" 'd.tables[0].columns')" = 3
"$SLUICE" catalog table "${DB}_g.t" --json >"$work/bt.json"
check sample_bytes_record_estimate test "$(jget "$work/bt.json" 'Math.abs(Number(d.Table.Parameters.recordCount) - 200000) < 50000')" = true

exit $((n_fail > 0))
