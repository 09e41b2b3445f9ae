#!/usr/bin/env bash
# tests/integration/test_s3_sigv4.sh - every request sluice sends to S3 is
# correctly SigV4-signed. s3rver does not check signatures, so this puts
# tests/integration/sigv4_proxy.mjs (a verifying reverse proxy written from the
# SigV4 spec) in front of it and sends everything through the proxy:
#   - a positive control: the real AWS CLI v2 through the proxy (odd key);
#   - the whole object-store suite ($SLUICE_TEST_BUILD/tests/runtime/test_store:
#     odd keys, 2,500-key listings, 64 MiB multipart, ranged GETs, batched
#     deletes) and `sluice cp` up and down, `sluice ls` on an odd prefix;
#   - then requires the proxy to have seen requests and no signature failure
#     (its log lines are printed as '#' comments when there are some);
#   - a negative control: `sluice ls` with a wrong secret must be refused.
# Needs AWS_ENDPOINT_URL (s3rver) and the S3RVER keys from
# `scripts/services.sh env` (tests/run.sh sets them), node, SLUICE_BIN and
# SLUICE_TEST_BUILD. Set SLUICE_SIGV4_KEEP=1 to keep the work dir (proxy log).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
n_fail=0
ok() { echo "ok - $1"; }
bad() { echo "not ok - $1"; n_fail=$((n_fail + 1)); }
skip() { echo "skip - $1"; }

if [ -z "${AWS_ENDPOINT_URL:-}" ]; then
    skip "s3_sigv4: AWS_ENDPOINT_URL not set (no S3 emulator)"
    exit 0
fi
if ! command -v node >/dev/null 2>&1; then
    skip "s3_sigv4: node not found (needed for the verifying proxy)"
    exit 0
fi
SLUICE=${SLUICE_BIN:?SLUICE_BIN not set}
BUILD=${SLUICE_TEST_BUILD:?SLUICE_TEST_BUILD not set}
BUCKET=${SLUICE_TEST_BUCKET:-sluice-test}
UPSTREAM=$AWS_ENDPOINT_URL
AWS=/usr/bin/aws
TIMEOUT=()
command -v timeout >/dev/null 2>&1 && TIMEOUT=(timeout 900)

work=$(mktemp -d /tmp/sluice-sigv4-XXXXXX)
proxy_pid=""
cleanup() {
    if [ -n "$proxy_pid" ]; then
        kill "$proxy_pid" 2>/dev/null
        wait "$proxy_pid" 2>/dev/null
    fi
    if [ "${SLUICE_SIGV4_KEEP:-0}" = 1 ] || [ "$n_fail" -gt 0 ]; then
        echo "# work dir kept: $work (proxy log: $work/failures.jsonl, $work/proxy.err)"
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT

# ---- start the proxy in front of s3rver
node "$HERE/sigv4_proxy.mjs" --listen 127.0.0.1:0 --upstream "$UPSTREAM" \
    --secret "${AWS_SECRET_ACCESS_KEY:-S3RVER}" --access-key "${AWS_ACCESS_KEY_ID:-S3RVER}" \
    --port-file "$work/port" --log "$work/failures.jsonl" 2>"$work/proxy.err" &
proxy_pid=$!
for _ in $(seq 100); do
    [ -s "$work/port" ] && break
    kill -0 "$proxy_pid" 2>/dev/null || break
    sleep 0.1
done
if [ ! -s "$work/port" ]; then
    bad "proxy_starts (self-test or listen failed)"
    sed 's/^/# /' "$work/proxy.err"
    proxy_pid=""
    exit 1
fi
ok proxy_starts_and_self_tests
PROXY=http://127.0.0.1:$(cat "$work/port")

# stats: prints "OK FAILED" as counted by the proxy
stats() {
    node -e '
        require("http").get(process.argv[1] + "/__sigv4_stats", (r) => {
            let b = ""; r.on("data", (c) => (b += c));
            r.on("end", () => { const s = JSON.parse(b); console.log(s.ok + " " + s.failed); });
        }).on("error", (e) => { console.error(e.message); process.exit(1); });' "$PROXY"
}
# Prints the proxy's failure log from line $1 on as '#' comments: a summary
# per failure, then the full JSON of the first three.
show_failures() {
    local from=${1:-1}
    [ -s "$work/failures.jsonl" ] || return 0
    tail -n +"$from" "$work/failures.jsonl" | node -e '
        const lines = require("fs").readFileSync(0, "utf8").split("\n").filter(Boolean);
        lines.slice(0, 20).forEach((l) => {
            const j = JSON.parse(l);
            console.log(`# sigv4 FAIL ${j.method} ${j.url}: ${j.reason}` + (j.diagnosis ? ` [${j.diagnosis}]` : ""));
        });
        if (lines.length > 20) console.log(`# ... ${lines.length - 20} more`);
        lines.slice(0, 3).forEach((l) => {
            const j = JSON.parse(l);
            console.log("# canonical request computed by the proxy for " + j.method + " " + j.url + ":");
            for (const c of String(j.canonicalRequest).split("\n")) console.log("#   | " + c);
            console.log("# log: " + l);
        });'
}
shown=0
log_lines() { [ -f "$work/failures.jsonl" ] && wc -l <"$work/failures.jsonl" || echo 0; }
# check_phase NAME OK_BEFORE FAILED_BEFORE LOG_LINE_BEFORE: no new failures
check_phase() {
    local name=$1 ok0=$2 f0=$3 l0=$4 now ok1 f1
    now=$(stats) || { bad "$name: proxy stats unreachable"; return; }
    read -r ok1 f1 <<<"$now"
    if [ "$f1" -eq "$f0" ] && [ "$ok1" -gt "$ok0" ]; then
        ok "$name ($((ok1 - ok0)) requests verified)"
    else
        bad "$name: $((ok1 - ok0)) verified, $((f1 - f0)) signature failures"
        show_failures $((l0 + 1))
        shown=1
    fi
}

# ---- positive control: the real AWS CLI v2 signs correctly, so the proxy must pass it
P=$BUCKET/sigv4-$$
printf 'sigv4 proxy test %s\n' "$$" >"$work/small.txt"
if [ -x "$AWS" ] && "$AWS" --version 2>&1 | grep -q '^aws-cli/2\.'; then
    read -r ok0 f0 <<<"$(stats)"
    l0=$(log_lines)
    if "$AWS" --endpoint-url "$PROXY" s3 cp --only-show-errors "$work/small.txt" "s3://$P/aws cli/é +=%~.txt" &&
        "$AWS" --endpoint-url "$PROXY" s3 ls "s3://$P/aws cli/" >/dev/null; then
        check_phase aws_cli_requests_verify "$ok0" "$f0" "$l0"
    else
        bad "aws_cli_requests_verify: the AWS CLI failed through the proxy"
        show_failures $((l0 + 1))
        shown=1
    fi
else
    skip "aws_cli_requests_verify: /usr/bin/aws (CLI v2) not found"
fi

# ---- the object-store suite through the proxy
read -r ok0 f0 <<<"$(stats)"
l0=$(log_lines)
if [ -x "$BUILD/tests/runtime/test_store" ]; then
    AWS_ENDPOINT_URL=$PROXY "${TIMEOUT[@]}" "$BUILD/tests/runtime/test_store" >"$work/test_store.out" 2>&1
    rc=$?
    n_bad=$(grep -c '^not ok - ' "$work/test_store.out")
    n_ok=$(grep -c '^ok - ' "$work/test_store.out")
    if grep -q '^skip - s3' "$work/test_store.out"; then
        bad "test_store_through_proxy: its S3 suite was skipped"
    elif [ "$rc" -eq 0 ] && [ "$n_bad" -eq 0 ] && [ "$n_ok" -gt 0 ]; then
        ok "test_store_through_proxy ($n_ok checks)"
    else
        bad "test_store_through_proxy: exit $rc, $n_bad failed checks"
        grep '^not ok - ' "$work/test_store.out" | head -20 | sed 's/^/# test_store: /'
        tail -5 "$work/test_store.out" | sed 's/^/# test_store| /'
    fi
    check_phase test_store_requests_verify "$ok0" "$f0" "$l0"
else
    bad "test_store_through_proxy: $BUILD/tests/runtime/test_store not built"
fi

# ---- sluice cp up and down, ls on an odd prefix
read -r ok0 f0 <<<"$(stats)"
l0=$(log_lines)
odd="s3://$P/odd dir/ü+1=2%;é ~x"
head -c 300000 /dev/urandom >"$work/rand.bin"
if AWS_ENDPOINT_URL=$PROXY "$SLUICE" cp -q "$work/small.txt" "$odd/a b+c.txt" &&
    AWS_ENDPOINT_URL=$PROXY "$SLUICE" cp -q "$work/rand.bin" "$odd/rand.bin" &&
    AWS_ENDPOINT_URL=$PROXY "$SLUICE" cp -q "$odd/a b+c.txt" "$work/small.back" &&
    AWS_ENDPOINT_URL=$PROXY "$SLUICE" cp -q "$odd/rand.bin" "$work/rand.back" &&
    cmp -s "$work/small.txt" "$work/small.back" && cmp -s "$work/rand.bin" "$work/rand.back"; then
    ok sluice_cp_up_and_down_through_proxy
else
    bad sluice_cp_up_and_down_through_proxy
fi
listing=$(AWS_ENDPOINT_URL=$PROXY "$SLUICE" ls "$odd/" 2>&1)
if [[ "$listing" == *"a b+c.txt"* && "$listing" == *"rand.bin"* ]]; then
    ok sluice_ls_odd_prefix_through_proxy
else
    bad sluice_ls_odd_prefix_through_proxy
    printf '%s\n' "$listing" | head -5 | sed 's/^/# ls| /'
fi
listing=$(AWS_ENDPOINT_URL=$PROXY "$SLUICE" ls "s3://$P/odd dir/" 2>&1)
if [[ "$listing" == *"ü+1=2%;é ~x/"* ]]; then
    ok sluice_ls_delimiter_through_proxy
else
    bad sluice_ls_delimiter_through_proxy
    printf '%s\n' "$listing" | head -5 | sed 's/^/# ls| /'
fi
# with a session token, x-amz-security-token is sent and must be signed
# (s3rver ignores the token; the proxy checks it is in SignedHeaders)
if AWS_ENDPOINT_URL=$PROXY AWS_SESSION_TOKEN="sigv4/test+token=" "$SLUICE" cp -q "$work/small.txt" "$odd/token.txt" &&
    AWS_ENDPOINT_URL=$PROXY AWS_SESSION_TOKEN="sigv4/test+token=" "$SLUICE" ls "$odd/" >/dev/null; then
    ok sluice_session_token_through_proxy
else
    bad sluice_session_token_through_proxy
fi
check_phase sluice_cli_requests_verify "$ok0" "$f0" "$l0"

# ---- overall: requests seen, no signature failure
read -r ok_all f_all <<<"$(stats)"
if [ "${ok_all:-0}" -gt 0 ] && [ "${f_all:-1}" -eq 0 ]; then
    ok "all_requests_signed_correctly ($ok_all verified, 0 failures)"
else
    bad "all_requests_signed_correctly: ${ok_all:-?} verified, ${f_all:-?} signature failures"
    if [ "$shown" = 0 ]; then show_failures 1; else echo "# (failures listed above)"; fi
fi

# ---- negative control: a wrong secret must be refused by the proxy
read -r ok0 f0 <<<"$(stats)"
AWS_ENDPOINT_URL=$PROXY AWS_SECRET_ACCESS_KEY=wrong "${TIMEOUT[@]}" "$SLUICE" ls "s3://$BUCKET/" >"$work/neg.out" 2>&1
rc=$?
read -r ok1 f1 <<<"$(stats)"
if [ "$rc" -ne 0 ] && [ "$f1" -ge $((f0 + 1)) ] && [ "$ok1" -eq "$ok0" ] &&
    tail -n $((f1 - f0)) "$work/failures.jsonl" | grep -q 'signature mismatch'; then
    ok "wrong_secret_is_rejected (sluice exit $rc, $((f1 - f0)) refused)"
else
    bad "wrong_secret_is_rejected: sluice exit $rc, proxy refused $((f1 - f0)), passed $((ok1 - ok0))"
    head -3 "$work/neg.out" | sed 's/^/# sluice| /'
fi

# ---- clean up the objects (straight to s3rver, not counted by the proxy)
if [ -x "$AWS" ]; then
    "$AWS" --endpoint-url "$UPSTREAM" s3 rm --recursive --only-show-errors "s3://$P/" >/dev/null 2>&1 || true
fi
exit $((n_fail > 0))
