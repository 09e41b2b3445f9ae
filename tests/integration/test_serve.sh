#!/usr/bin/env bash
# tests/integration/test_serve.sh - `sluice serve` (the Glue JSON 1.1 API)
# driven by the real AWS CLI v2 (/usr/bin/aws) against real PostgreSQL:
# catalog reads with paging, AWS-shaped errors the CLI prints, SigV4 refusals,
# body limit, bad JSON, /healthz and /metrics (spec/aws-api.md §1, §2, §3.3).
set -u
SLUICE=${SLUICE_BIN:?SLUICE_BIN not set}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
AWS=/usr/bin/aws
n_fail=0
ok() { echo "ok - $1"; }
bad() { echo "not ok - $1"; n_fail=$((n_fail + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
if [ -z "${SLUICE_CATALOG:-}" ]; then
    echo "skip - serve: needs PostgreSQL (SLUICE_CATALOG)"
    exit 0
fi
if ! "$AWS" --version 2>&1 | grep -q '^aws-cli/2\.'; then
    echo "skip - serve: needs the AWS CLI v2 at $AWS"
    exit 0
fi
work=$(mktemp -d /tmp/sluice-serve-XXXXXX)
DB=srv_$$
server_pid=
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    psql "$SLUICE_CATALOG" -qc "DELETE FROM sluice.catalog_database WHERE name LIKE '${DB}%'" \
        >/dev/null 2>&1
    rm -rf "$work"
}
trap cleanup EXIT
jget() { node -e "const d=JSON.parse(require('fs').readFileSync('$1','utf8'));console.log($2)"; }

PORT=$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
URL=http://127.0.0.1:$PORT
export AWS_ACCESS_KEY_ID=AKIDTEST AWS_SECRET_ACCESS_KEY=secret1 AWS_DEFAULT_REGION=us-east-1
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
unset AWS_SESSION_TOKEN AWS_PROFILE AWS_ENDPOINT_URL
glue() { "$AWS" --endpoint-url "$URL" glue "$@"; }

# A signed POST / with any body (what the CLI cannot send: bad JSON). Prints
# "status errortype" on the first line, then the body.
signed_post() { # target body [secret]
    node - "$PORT" "$1" "$2" "${3:-secret1}" <<'EOF'
const [port, target, body, secret] = process.argv.slice(2);
const crypto = require("crypto"), http = require("http");
const h = (k, d, enc) => crypto.createHmac("sha256", k).update(d).digest(enc);
const amzDate = new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d+/, "");
const date = amzDate.slice(0, 8), scope = `${date}/us-east-1/glue/aws4_request`;
const headers = { "content-type": "application/x-amz-json-1.1", host: `127.0.0.1:${port}`,
                  "x-amz-date": amzDate, "x-amz-target": target };
const names = Object.keys(headers).sort();
const canon = ["POST", "/", "", ...names.map(n => `${n}:${headers[n]}`), "", names.join(";"),
               crypto.createHash("sha256").update(body).digest("hex")].join("\n");
const sts = ["AWS4-HMAC-SHA256", amzDate, scope,
             crypto.createHash("sha256").update(canon).digest("hex")].join("\n");
let k = h("AWS4" + secret, date);
for (const p of ["us-east-1", "glue", "aws4_request"]) k = h(k, p);
headers.authorization = `AWS4-HMAC-SHA256 Credential=AKIDTEST/${scope}, ` +
    `SignedHeaders=${names.join(";")}, Signature=${h(k, sts, "hex")}`;
const req = http.request({ host: "127.0.0.1", port, method: "POST", path: "/", headers }, res => {
    let out = "";
    res.on("data", c => out += c);
    res.on("end", () => console.log(`${res.statusCode} ${res.headers["x-amzn-errortype"]}\n${out}`));
});
req.end(body);
EOF
}

# ---- setup: crawl examples/data, start the server
"$SLUICE" crawl "$ROOT/examples/data" --database "$DB" >"$work/crawl.out" 2>&1
check crawl_examples test $? = 0
SLUICE_API_KEYS=AKIDTEST:secret1 "$SLUICE" --log-level debug serve --listen "127.0.0.1:$PORT" \
    >"$work/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 50); do
    curl -sf "$URL/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done
check healthz test "$(curl -s "$URL/healthz")" = ok

# ---- catalog reads through the real CLI
glue get-databases >"$work/dbs.json"
check get_databases_lists_db test "$(jget "$work/dbs.json" "d.DatabaseList.some(x=>x.Name==='$DB')")" = true
glue get-databases --page-size 1 >"$work/dbs1.json"
check get_databases_paged test "$(jget "$work/dbs1.json" "d.DatabaseList.length === $(jget "$work/dbs.json" 'd.DatabaseList.length') && !d.NextToken")" = true
glue get-database --name "$DB" >"$work/db.json"
check get_database test "$(jget "$work/db.json" 'd.Database.Name+":"+d.Database.CatalogId')" = "$DB:000000000000"
glue get-tables --database-name "$DB" >"$work/tables.json"
check get_tables test "$(jget "$work/tables.json" 'd.TableList.map(t=>t.Name).join(",")')" = customers,sales
glue get-tables --database-name "$DB" --page-size 1 >"$work/tables1.json"
check get_tables_paged test "$(jget "$work/tables1.json" 'd.TableList.map(t=>t.Name).join(",")')" = customers,sales
glue get-tables --database-name "$DB" --expression 'sal.*' >"$work/tables2.json"
check get_tables_expression test "$(jget "$work/tables2.json" 'd.TableList.map(t=>t.Name).join(",")')" = sales
glue get-table --database-name "$DB" --name sales >"$work/table.json"
check get_table_shape test "$(jget "$work/table.json" '[d.Table.Name, d.Table.DatabaseName, d.Table.PartitionKeys.map(k=>k.Name).join("/"), d.Table.Parameters.classification, d.Table.StorageDescriptor.Location.endsWith("/")].join(" ")')" = "sales $DB year/month csv true"
check get_table_columns test "$(jget "$work/table.json" 'd.Table.StorageDescriptor.Columns.length > 0')" = true
glue get-partitions --database-name "$DB" --table-name sales >"$work/parts.json"
check get_partitions test "$(jget "$work/parts.json" 'd.Partitions.map(p=>p.Values.join("-")).join(",")')" = 2024-11,2024-12,2025-01
glue get-partitions --database-name "$DB" --table-name sales --page-size 2 >"$work/parts2.json"
check get_partitions_paged test "$(jget "$work/parts2.json" 'd.Partitions.map(p=>p.Values.join("-")).join(",")')" = 2024-11,2024-12,2025-01
glue get-partitions --database-name "$DB" --table-name sales --exclude-column-schema >"$work/parts3.json"
check get_partitions_exclude_columns test "$(jget "$work/parts3.json" 'd.Partitions.every(p=>!p.StorageDescriptor.Columns)')" = true
glue create-database --database-input "{\"Name\":\"${DB}_new\",\"Description\":\"d\"}" >"$work/create.out" 2>&1
check create_database test $? = 0
glue create-database --database-input "{\"Name\":\"${DB}_new\"}" >"$work/create2.out" 2>&1
check create_database_exists test "$?:$(grep -c 'An error occurred (AlreadyExistsException) when calling the CreateDatabase operation' "$work/create2.out")" = 254:1

# ---- errors the CLI prints
glue get-table --database-name "$DB" --name missing >"$work/miss.out" 2>"$work/miss.err"
check missing_table_exit_254 test $? = 254
check missing_table_message grep -q '^An error occurred (EntityNotFoundException) when calling the GetTable operation: Table missing not found' "$work/miss.err"
glue get-tables --database-name "${DB}_nope" >/dev/null 2>"$work/nodb.err"
check missing_database grep -q 'An error occurred (EntityNotFoundException) when calling the GetTables operation' "$work/nodb.err"
AWS_SECRET_ACCESS_KEY=wrong glue get-databases >/dev/null 2>"$work/wrong.err"
check wrong_secret_exit_254 test $? = 254
check wrong_secret_message grep -q 'An error occurred (InvalidSignatureException) when calling the GetDatabases operation: The request signature we calculated does not match' "$work/wrong.err"
AWS_ACCESS_KEY_ID=AKIDOTHER glue get-databases >/dev/null 2>"$work/unknown.err"
check unknown_key grep -q 'An error occurred (UnrecognizedClientException)' "$work/unknown.err"

# ---- raw requests: unsigned, bad JSON, unknown operation, missing member, body limit
curl -s -D "$work/h1" -o "$work/b1" -XPOST "$URL/" -H 'Content-Type: application/x-amz-json-1.1' \
    -H 'X-Amz-Target: AWSGlue.GetDatabases' --data '{}'
check unsigned_refused_403 grep -q '^HTTP/1.1 403' "$work/h1"
check unsigned_error_header grep -qi '^x-amzn-ErrorType: MissingAuthenticationTokenException' "$work/h1"
check unsigned_error_body test "$(jget "$work/b1" 'd.__type')" = MissingAuthenticationTokenException
signed_post AWSGlue.GetDatabases '{"NextToken": ' >"$work/bad.out"
check bad_json_400 test "$(head -1 "$work/bad.out")" = "400 SerializationException"
check bad_json_body test "$(tail -n +2 "$work/bad.out" | node -e 'const d=JSON.parse(require("fs").readFileSync(0,"utf8"));console.log(d.__type)')" = SerializationException
signed_post AWSGlue.GetDatabases '[1]' >"$work/arr.out"
check not_object_400 test "$(head -1 "$work/arr.out")" = "400 SerializationException"
signed_post AWSGlue.GetNothing '{}' >"$work/unk.out"
check unknown_operation test "$(head -1 "$work/unk.out")" = "400 UnknownOperationException"
signed_post AWSGlue.GetTable '{"DatabaseName": "x"}' >"$work/req.out"
check missing_member test "$(head -1 "$work/req.out")" = "400 InvalidInputException"
signed_post AWSGlue.GetTable '{"DatabaseName": 5, "Name": "t"}' >"$work/type.out"
check wrong_member_type test "$(head -1 "$work/type.out")" = "400 SerializationException"
signed_post AWSGlue.GetDatabases '{"NextToken": "!!notbase64"}' >"$work/tok.out"
check bad_token test "$(head -1 "$work/tok.out")" = "400 InvalidInputException"
signed_post AWSGlue.GetDatabases '{}' secret2 >"$work/sig.out"
check raw_wrong_secret test "$(head -1 "$work/sig.out")" = "403 InvalidSignatureException"
head -c $((9 << 20)) /dev/zero | tr '\0' ' ' >"$work/big.json"
curl -s -D "$work/h2" -o "$work/b2" -XPOST "$URL/" -H 'Content-Type: application/x-amz-json-1.1' \
    -H 'X-Amz-Target: AWSGlue.GetDatabases' --data-binary @"$work/big.json"
check oversized_400 grep -q '^HTTP/1.1 400' "$work/h2"
check oversized_error test "$(jget "$work/b2" 'd.__type')" = SerializationException
check still_serving bash -c '"$1" --endpoint-url "$2" glue get-database --name "$3" >/dev/null' _ "$AWS" "$URL" "$DB"

# ---- metrics
curl -s "$URL/metrics" >"$work/metrics"
check metrics_get_table grep -q '^sluice_api_requests_total{operation="GetTable",status="200"} [1-9]' "$work/metrics"
check metrics_not_found grep -q '^sluice_api_requests_total{operation="GetTable",status="400"} [1-9]' "$work/metrics"
check metrics_type grep -q '^# TYPE sluice_api_requests_total counter' "$work/metrics"

# ---- --auth none only on loopback; clean stop
"$SLUICE" serve --listen 0.0.0.0:0 --auth none >/dev/null 2>"$work/none.err"
check auth_none_needs_loopback test "$?:$(grep -c 'loopback' "$work/none.err")" = 2:1
env -u SLUICE_API_KEYS "$SLUICE" serve --listen 127.0.0.1:0 >/dev/null 2>"$work/nokeys.err"
check sigv4_needs_keys test "$?:$(grep -c 'SLUICE_API_KEYS' "$work/nokeys.err")" = 2:1
kill -TERM "$server_pid"
wait "$server_pid"
check sigterm_clean_exit test $? = 0
server_pid=
check stopped_log grep -q '\[serve\] stopped' "$work/serve.log"

[ "$n_fail" -gt 0 ] && { echo "--- server log"; tail -20 "$work/serve.log"; }
exit $((n_fail > 0))
