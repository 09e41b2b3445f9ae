#!/usr/bin/env bash
# tests/integration/test_serve_catalog_ops.sh - the Glue catalog operations of
# `sluice serve` that change or filter what a crawl wrote (spec/aws-api.md
# §3.3), driven by the real AWS CLI v2 (/usr/bin/aws) against real PostgreSQL:
# GetPartitions Expression (comparisons, numeric compare of integer values,
# IN, BETWEEN, LIKE, NOT, IS NULL, parentheses, paging with a filter,
# ExcludeColumnSchema, unparsable expressions), GetTables Expression,
# DeleteTable and DeleteDatabase (their tables and partitions gone, checked
# with psql).
set -u
SLUICE=${SLUICE_BIN:?SLUICE_BIN not set}
AWS=/usr/bin/aws
n_fail=0
ok() { echo "ok - $1"; }
bad() { echo "not ok - $1"; n_fail=$((n_fail + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
if [ -z "${SLUICE_CATALOG:-}" ]; then
    echo "skip - serve_catalog_ops: needs PostgreSQL (SLUICE_CATALOG)"
    exit 0
fi
if ! "$AWS" --version 2>&1 | grep -q '^aws-cli/2\.'; then
    echo "skip - serve_catalog_ops: needs the AWS CLI v2 at $AWS"
    exit 0
fi
work=$(mktemp -d /tmp/sluice-serve-catops-XXXXXX)
DB=sco_$$
CR=sco_$$
server_pid=
sql() { psql "$SLUICE_CATALOG" -Atc "$1" 2>/dev/null; }
. "$(dirname "$0")/private_catalog.sh"
if ! private_catalog "pc_serve_catalog_ops_$$"; then
    echo "skip - serve_catalog_ops: cannot create a database of its own (needs CREATEDB)"
    rm -rf "$work"
    exit 0
fi
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    drop_private_catalog
    rm -rf "$work"
}
trap cleanup EXIT
jget() { node -e "const d=JSON.parse(require('fs').readFileSync('$1','utf8'));console.log($2)"; }

# ---- a small lake: events partitioned by year/month, and two flat tables
for p in year=2023/month=9 year=2024/month=9 year=2024/month=10 year=2024/month=11 \
    year=2025/month=1 year=2025/month=__HIVE_DEFAULT_PARTITION__; do
    mkdir -p "$work/lake/events/$p"
    printf 'id,name\n1,a\n2,b\n' >"$work/lake/events/$p/part-0.csv"
done
mkdir -p "$work/lake/users" "$work/lake/orders"
printf 'uid,city\n1,x\n2,y\n' >"$work/lake/users/u.csv"
printf 'oid,total\n1,9.5\n' >"$work/lake/orders/o.csv"
"$SLUICE" crawl "$work/lake/events/" "$work/lake/users/" "$work/lake/orders/" --database "$DB" \
    --name "$CR" >"$work/crawl.out" 2>&1
check crawl_lake test "$?:$(sql "SELECT count(*) FROM sluice.catalog_table t JOIN sluice.catalog_database d ON d.id = t.database_id WHERE d.name = '$DB'")" = 0:3

PORT=$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
URL=http://127.0.0.1:$PORT
export AWS_ACCESS_KEY_ID=AKIDTEST AWS_SECRET_ACCESS_KEY=secret1 AWS_DEFAULT_REGION=us-east-1
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
unset AWS_SESSION_TOKEN AWS_PROFILE AWS_ENDPOINT_URL
glue() { "$AWS" --endpoint-url "$URL" glue "$@"; }
SLUICE_API_KEYS=AKIDTEST:secret1 "$SLUICE" --log-level info serve --listen "127.0.0.1:$PORT" \
    >"$work/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 50); do
    curl -sf "$URL/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done
check healthz test "$(curl -s "$URL/healthz")" = ok

# ---- GetPartitions Expression: values of the matching partitions, sorted
# (partition values sort byte-wise: 10 < 11 < 9; the crawler records the
# __HIVE_DEFAULT_PARTITION__ folder as an empty value, which is SQL NULL)
parts() {
    glue get-partitions --database-name "$DB" --table-name events --expression "$1" \
        --output json >"$work/p.json" 2>"$work/p.err" || { echo "ERR $(cat "$work/p.err")"; return; }
    jget "$work/p.json" 'd.Partitions.map(p=>p.Values.join("/")).join(" ")'
}
check expr_all_six test "$(parts "year IS NOT NULL OR year IS NULL")" = "2023/9 2024/10 2024/11 2024/9 2025/ 2025/1"
check expr_equals test "$(parts "year = '2024'")" = "2024/10 2024/11 2024/9"
check expr_numeric_quoted test "$(parts "month > '9'")" = "2024/10 2024/11"
check expr_numeric_unquoted test "$(parts "month >= 9 AND month < 11")" = "2023/9 2024/10 2024/9"
check expr_numeric_leading_zero test "$(parts "month = '09'")" = "2023/9 2024/9"
check expr_string_compare test "$(parts "year >= '2024' AND year < '2025'")" = "2024/10 2024/11 2024/9"
check expr_in test "$(parts "year IN ('2023', '2025') AND month IN (1, 9)")" = "2023/9 2025/1"
check expr_not_in test "$(parts "month NOT IN ('9', '10')")" = "2024/11 2025/1"
check expr_between test "$(parts "month BETWEEN 2 AND 10")" = "2023/9 2024/10 2024/9"
check expr_like test "$(parts "month LIKE '1%'")" = "2024/10 2024/11 2025/1"
check expr_not test "$(parts "NOT (year = '2024')")" = "2023/9 2025/ 2025/1"
check expr_parentheses test "$(parts "year = '2024' AND (month = '9' OR month = '11')")" = "2024/11 2024/9"
check expr_precedence test "$(parts "year = '2023' OR year = '2024' AND month = '11'")" = "2023/9 2024/11"
check expr_is_null test "$(parts "month IS NULL")" = "2025/"
check expr_is_not_null_keys_case test "$(parts "YEAR = '2025' and Month is not null")" = "2025/1"
check expr_no_match test "$(parts "year = '1999'")" = ""
check expr_blank_is_all test "$(parts "  " | wc -w)" = 6

expr_error() {
    glue get-partitions --database-name "$DB" --table-name events --expression "$1" \
        >/dev/null 2>"$work/e.err"
    echo "$?:$(grep -c 'An error occurred (InvalidInputException) when calling the GetPartitions operation' "$work/e.err")"
}
check expr_bad_unknown_key test "$(expr_error "day = '1'")" = 254:1
check expr_bad_unknown_key_names_it grep -q 'unknown column "day"' "$work/e.err"
check expr_bad_dangling test "$(expr_error "year =")" = 254:1
check expr_bad_paren test "$(expr_error "(year = '2024'")" = 254:1
check expr_bad_quote test "$(expr_error "year = '2024")" = 254:1
check expr_bad_like_pattern test "$(expr_error "month LIKE 1")" = 254:1

# paging with a filter: pages of one follow NextToken across non-matching rows
glue get-partitions --database-name "$DB" --table-name events --expression "month <> '10'" \
    --page-size 1 --output json >"$work/paged.json"
check expr_paged test "$(jget "$work/paged.json" 'd.Partitions.map(p=>p.Values.join("/")).join(" ")')" = "2023/9 2024/11 2024/9 2025/1"
glue get-partitions --database-name "$DB" --table-name events --expression "year = '2024'" \
    --max-items 2 --output json >"$work/page1.json"
check expr_page_token test "$(jget "$work/page1.json" 'd.Partitions.length+":"+!!d.NextToken')" = "2:true"
glue get-partitions --database-name "$DB" --table-name events --expression "year = '2024'" \
    --starting-token "$(jget "$work/page1.json" 'd.NextToken')" --output json >"$work/page2.json"
check expr_page_resume test "$(jget "$work/page2.json" 'd.Partitions.map(p=>p.Values.join("/")).join(" ")')" = "2024/9"

glue get-partitions --database-name "$DB" --table-name events --expression "year = '2023'" \
    --exclude-column-schema --output json >"$work/excl.json"
check exclude_column_schema test "$(jget "$work/excl.json" '(p=>[p.Values.join("/"),p.StorageDescriptor.Columns===undefined,p.StorageDescriptor.Location.endsWith("/year=2023/month=9/")].join(" "))(d.Partitions[0])')" = "2023/9 true true"
glue get-partitions --database-name "$DB" --table-name events --expression "year = '2023'" \
    --output json >"$work/cols.json"
check partition_columns_default test "$(jget "$work/cols.json" 'd.Partitions[0].StorageDescriptor.Columns.map(c=>c.Name).join(",")')" = "id,name"

# ---- GetTables Expression (anchored regular expression)
glue get-tables --database-name "$DB" --expression 'u.*|o.*' --output json >"$work/t.json"
check get_tables_expression test "$(jget "$work/t.json" 'd.TableList.map(t=>t.Name).join(",")')" = "orders,users"

# ---- DeleteTable
glue delete-table --database-name "$DB" --name events >"$work/dt.out" 2>&1
check delete_table test "$?:$(wc -c <"$work/dt.out")" = 0:0
glue get-table --database-name "$DB" --name events >/dev/null 2>"$work/dt.err"
check deleted_table_gone test "$?:$(grep -c "An error occurred (EntityNotFoundException) when calling the GetTable operation: Table events not found" "$work/dt.err")" = 254:1
check deleted_table_partitions_gone test "$(sql "SELECT count(*) FROM sluice.catalog_partition p WHERE p.location LIKE 'file://$work/lake/events/%'")" = 0
check other_tables_kept test "$(glue get-tables --database-name "$DB" --query 'TableList[].Name' --output text)" = "orders	users"
glue delete-table --database-name "$DB" --name events >/dev/null 2>"$work/dt2.err"
check delete_table_twice test "$?:$(grep -c 'An error occurred (EntityNotFoundException) when calling the DeleteTable operation: Table events not found' "$work/dt2.err")" = 254:1
glue delete-table --database-name "${DB}_nodb" --name events >/dev/null 2>"$work/dt3.err"
check delete_table_no_database test "$?:$(grep -c "An error occurred (EntityNotFoundException) when calling the DeleteTable operation: Database ${DB}_nodb not found" "$work/dt3.err")" = 254:1
glue delete-table --database-name "$DB" --name 'bad name!' >/dev/null 2>"$work/dt4.err"
check delete_table_bad_name test "$?:$(grep -c 'An error occurred (InvalidInputException) when calling the DeleteTable operation' "$work/dt4.err")" = 254:1

# ---- DeleteDatabase: its tables and partitions go in the same transaction
"$SLUICE" crawl "$work/lake/events/" --database "$DB" --name "${CR}_again" >/dev/null 2>&1
db_id=$(sql "SELECT id FROM sluice.catalog_database WHERE name = '$DB'")
check recrawled_partitions test "$(sql "SELECT count(*) FROM sluice.catalog_partition p JOIN sluice.catalog_table t ON t.id = p.table_id WHERE t.database_id = $db_id")" = 6
glue delete-database --name "$DB" >"$work/dd.out" 2>&1
check delete_database test "$?:$(wc -c <"$work/dd.out")" = 0:0
check deleted_database_row test "$(sql "SELECT count(*) FROM sluice.catalog_database WHERE name = '$DB'")" = 0
check deleted_database_tables test "$(sql "SELECT count(*) FROM sluice.catalog_table WHERE database_id = $db_id")" = 0
check deleted_database_partitions test "$(sql "SELECT count(*) FROM sluice.catalog_partition WHERE location LIKE 'file://$work/%'")" = 0
glue get-database --name "$DB" >/dev/null 2>"$work/dd.err"
check deleted_database_gone test "$?:$(grep -c "An error occurred (EntityNotFoundException) when calling the GetDatabase operation: Database $DB not found" "$work/dd.err")" = 254:1
glue delete-database --name "$DB" >/dev/null 2>"$work/dd2.err"
check delete_database_twice test "$?:$(grep -c "An error occurred (EntityNotFoundException) when calling the DeleteDatabase operation: Database $DB not found" "$work/dd2.err")" = 254:1
glue get-tables --database-name "$DB" >/dev/null 2>"$work/dd3.err"
check get_tables_after_delete test "$?:$(grep -c 'EntityNotFoundException' "$work/dd3.err")" = 254:1

[ "$n_fail" -gt 0 ] && { echo "--- server log"; tail -20 "$work/serve.log"; }
exit $((n_fail > 0))
