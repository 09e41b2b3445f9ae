#!/usr/bin/env bash
# tests/integration/test_crawl_s3.sh - the crawler end to end on the S3
# emulator: a tree of 1,000+ objects under Hive partitions, gzip'd and zstd'd
# copies of a table, a folder of unrelated files, an empty object, a truncated
# gzip and a binary file; then a re-crawl that must make zero GETs; then a new
# partition and a file with a new column, which must show up as a new
# partition and a new table version.
set -u
SLUICE=${SLUICE_BIN:?SLUICE_BIN not set}
n_fail=0
ok() { echo "ok - $1"; }
bad() { echo "not ok - $1"; n_fail=$((n_fail + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
if [ -z "${AWS_ENDPOINT_URL:-}" ] || [ -z "${SLUICE_CATALOG:-}" ]; then
    echo "skip - crawl_s3: needs the S3 emulator and PostgreSQL (AWS_ENDPOINT_URL, SLUICE_CATALOG)"
    exit 0
fi
work=$(mktemp -d /tmp/sluice-crawl-XXXXXX)
trap 'rm -rf "$work"' EXIT
B=s3://${SLUICE_TEST_BUCKET:-sluice-test}/crawl-$$
DB=e2e_$$
# jget FILE JS-EXPRESSION (over the parsed JSON as d)
jget() { node -e "const d=JSON.parse(require('fs').readFileSync('$1','utf8'));console.log($2)"; }

# ---- the tree: 2 years x 12 months x 42 files = 1,008 CSV objects
lake=$work/lake
for y in 2023 2024; do
    for m in 01 02 03 04 05 06 07 08 09 10 11 12; do
        d=$lake/sales/year=$y/month=$m
        mkdir -p "$d"
        for f in $(seq -w 0 41); do
            printf 'order_id,amount,sold_on,zip\n%s%s%s1,%s.25,%s-%s-1%s,0%s501\n%s%s%s2,7,%s-%s-1%s,10001\n' \
                "$y" "$m" "$f" "$((10#$f))" "$y" "$m" "${f:1}" "${f:1}" "$y" "$m" "$f" "$y" "$m" "${f:1}" >"$d/part-$f.csv"
        done
    done
done
mkdir -p "$lake/sales_gz/dt=2024-01-01" "$lake/sales_zst/dt=2024-01-01" "$lake/misc" "$lake/empty" \
    "$lake/broken" "$lake/bin"
gzip -c "$lake/sales/year=2024/month=01/part-00.csv" >"$lake/sales_gz/dt=2024-01-01/part-00.csv.gz"
zstd -q -c "$lake/sales/year=2024/month=01/part-01.csv" >"$lake/sales_zst/dt=2024-01-01/part-01.dat"
printf '{"id": 1, "note": "alpha"}\n{"id": 2, "note": "beta"}\n' >"$lake/misc/notes.jsonl"
printf 'a\tb\n1\tx\n2\ty\n' >"$lake/misc/codes.tsv"
: >"$lake/empty/empty.csv"
head -c 4000 /dev/urandom | gzip -c | head -c 300 >"$lake/broken/truncated.csv.gz"
head -c 5000 /dev/urandom >"$lake/bin/blob.bin"
n_objects=$(find "$lake" -type f | wc -l)
"$SLUICE" cp -q -r "$lake" "$B/lake" || bad upload

# ---- first crawl
"$SLUICE" crawl "$B/lake/" --database "$DB" --json >"$work/c1.json" 2>"$work/c1.err"
rc=$?
check first_crawl_exit_0 test "$rc" = 0
[ "$rc" = 0 ] || sed 's/^/# /' "$work/c1.err"
check first_crawl_listed_all test "$(jget "$work/c1.json" 'd.counters.objects_listed')" = "$n_objects"
gets=$(jget "$work/c1.json" 'd.counters.get_requests')
check first_crawl_at_most_one_get_per_object test "$gets" -le "$n_objects"
check first_crawl_no_head test "$(jget "$work/c1.json" 'd.counters.head_requests')" = 0
check sales_table_partitions test "$(jget "$work/c1.json" 'd.tables.find(t=>t.name==="sales").partitions')" = 24
"$SLUICE" catalog table "$DB.sales" --json >"$work/sales.json"
check sales_columns_typed test "$(jget "$work/sales.json" 'd.Table.StorageDescriptor.Columns.map(c=>c.Name+":"+c.Type).join(",")')" = \
    "order_id:bigint,amount:double,sold_on:date,zip:string"
check sales_partition_keys test "$(jget "$work/sales.json" 'd.Table.PartitionKeys.map(c=>c.Name).join(",")')" = "year,month"
check sales_classification test "$(jget "$work/sales.json" 'd.Table.Parameters.classification')" = csv
check gz_table_compression test "$(jget "$work/c1.json" 'd.tables.some(t=>t.name==="sales_gz")')" = true
"$SLUICE" catalog table "$DB.sales_gz" --json >"$work/gz.json" 2>/dev/null
check gz_compression_type test "$(jget "$work/gz.json" 'd.Table.Parameters.compressionType')" = gzip
"$SLUICE" catalog table "$DB.sales_zst" --json >"$work/zst.json" 2>/dev/null
check zst_compression_type test "$(jget "$work/zst.json" 'd.Table.Parameters.compressionType')" = zstd
check empty_object_skipped test "$(jget "$work/c1.json" 'd.skipped.some(s=>s.key==="empty/empty.csv"&&s.status==="skipped_empty")')" = true
check binary_is_unknown test "$(jget "$work/c1.json" 'd.skipped.some(s=>s.key==="bin/blob.bin"&&s.status==="unknown")')" = true
check truncated_gzip_no_crash test "$(jget "$work/c1.json" 'd.status')" = succeeded
"$SLUICE" catalog partitions "$DB.sales" --json >"$work/parts.json"
check partitions_listed test "$(jget "$work/parts.json" 'd.Partitions.length')" = 24
check partition_values_keep_zero test "$(jget "$work/parts.json" 'd.Partitions[0].Values.join("/")')" = "2023/01"

# ---- unchanged re-crawl: LIST only
"$SLUICE" crawl "$B/lake/" --database "$DB" --json >"$work/c2.json" 2>"$work/c2.err"
check recrawl_exit_0 test $? = 0
check recrawl_zero_gets test "$(jget "$work/c2.json" 'd.counters.get_requests')" = 0
check recrawl_zero_heads test "$(jget "$work/c2.json" 'd.counters.head_requests')" = 0
check recrawl_lists_pages test "$(jget "$work/c2.json" 'd.counters.list_requests')" = $(((n_objects + 999) / 1000))
check recrawl_no_versions test "$(jget "$work/c2.json" 'd.counters.versions_created')" = 0

# ---- a new partition whose file has a new column
mkdir -p "$work/new"
printf 'order_id,amount,sold_on,zip,channel\n2025011,3.5,2025-01-03,02134,web\n2025012,4,2025-01-04,10001,shop\n' \
    >"$work/new/part-00.csv"
"$SLUICE" cp -q "$work/new/part-00.csv" "$B/lake/sales/year=2025/month=01/part-00.csv"
"$SLUICE" crawl "$B/lake/" --database "$DB" --json >"$work/c3.json" 2>"$work/c3.err"
check third_crawl_exit_0 test $? = 0
check third_crawl_one_get test "$(jget "$work/c3.json" 'd.counters.get_requests')" = 1
check new_partition_added test "$(jget "$work/c3.json" 'd.counters.partitions_added')" = 1
check new_version_written test "$(jget "$work/c3.json" 'd.tables.find(t=>t.name==="sales").version')" = 2
check new_version_kind test "$(jget "$work/c3.json" 'd.tables.find(t=>t.name==="sales").change_kinds.join(",")')" = columns_added
"$SLUICE" catalog table "$DB.sales" --json >"$work/sales2.json"
check new_column_in_catalog test "$(jget "$work/sales2.json" 'd.Table.StorageDescriptor.Columns.map(c=>c.Name).join(",")')" = \
    "order_id,amount,sold_on,zip,channel"
check version_id_string test "$(jget "$work/sales2.json" 'd.Table.VersionId')" = 1

# ---- stored crawler: --name re-runs it
"$SLUICE" crawl "$B/lake/sales/" --database "$DB" --name "sales_only_$$" --json >"$work/n1.json" 2>&1
check named_crawl_exit_0 test $? = 0
"$SLUICE" crawl --name "sales_only_$$" --json >"$work/n2.json" 2>&1
check named_recrawl_zero_gets test "$(jget "$work/n2.json" 'd.counters.get_requests')" = 0
check missing_name_is_usage_error test "$("$SLUICE" crawl --name "no_such_$$" >/dev/null 2>&1; echo $?)" = 2
check bad_glob_is_usage_error test "$("$SLUICE" crawl "$B/lake/" --database "$DB" --exclude '[a-' >/dev/null 2>&1; echo $?)" = 2

/usr/bin/aws --endpoint-url "$AWS_ENDPOINT_URL" s3 rm --recursive --only-show-errors "$B/" || true
psql "$SLUICE_CATALOG" -qc "DELETE FROM sluice.catalog_database WHERE name = '$DB'" >/dev/null 2>&1 || true
exit $((n_fail > 0))
