#!/usr/bin/env bash
# tests/integration/test_cli_store.sh - `sluice ls` / `sluice cp` end to end:
# usage and exit codes, local copies, and cross-checks with the real AWS CLI v2
# against the S3 emulator (what sluice puts, aws reads back byte-identical, and
# the reverse).
set -u
SLUICE=${SLUICE_BIN:?SLUICE_BIN not set}
AWS=/usr/bin/aws
work=$(mktemp -d /tmp/sluice-cli-XXXXXX)
trap 'rm -rf "$work"' EXIT
n_fail=0
ok() { echo "ok - $1"; }
bad() { echo "not ok - $1"; n_fail=$((n_fail + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
rc_of() { "$@" >/dev/null 2>&1; echo $?; }

# ---- usage and exit codes
check help_exits_0 test "$(rc_of "$SLUICE" --help)" = 0
check version_prints "$SLUICE" --version
check unknown_command_exits_2 test "$(rc_of "$SLUICE" frobnicate)" = 2
check cp_help_exits_0 test "$(rc_of "$SLUICE" cp --help)" = 0
check cp_missing_arg_exits_2 test "$(rc_of "$SLUICE" cp only-one)" = 2
check ls_bad_scheme_exits_2 test "$(rc_of "$SLUICE" ls gs://bucket/x)" = 2
check cp_missing_source_exits_1 test "$(rc_of "$SLUICE" cp "$work/nope.csv" "$work/x.csv")" = 1
msg=$("$SLUICE" cp "$work/nope.csv" "$work/x.csv" 2>&1)
check cp_missing_source_names_it bash -c '[[ "$1" == *nope.csv*"not found"* ]]' _ "$msg"

# ---- local copies
head -c 3000000 /dev/urandom >"$work/rand.bin"
mkdir -p "$work/src/a b/c" && echo one >"$work/src/a b/1.txt" && echo two >"$work/src/a b/c/2.txt"
"$SLUICE" cp -q "$work/rand.bin" "$work/out/" && check local_cp_into_folder cmp -s "$work/rand.bin" "$work/out/rand.bin"
"$SLUICE" cp -q -r "$work/src" "file://$work/copy" &&
    check local_cp_recursive cmp -s "$work/src/a b/c/2.txt" "$work/copy/a b/c/2.txt"
listing=$("$SLUICE" ls "$work/copy/")
check local_ls_shows_folder bash -c '[[ "$1" == *"PRE a b/"* ]]' _ "$listing"
check local_ls_json_parses bash -c "\"$SLUICE\" ls -r --json \"$work/copy\" | node -e 'const d=JSON.parse(require(\"fs\").readFileSync(0));process.exit(d.Contents.length===2?0:1)'"

# ---- S3 cross-checks with the AWS CLI
if [ -z "${AWS_ENDPOINT_URL:-}" ] || [ ! -x "$AWS" ]; then
    echo "skip - s3_cross_checks: AWS_ENDPOINT_URL not set or /usr/bin/aws missing"
    exit $((n_fail > 0))
fi
EP=$AWS_ENDPOINT_URL
B=s3://${SLUICE_TEST_BUCKET:-sluice-test}/cli-$$
awscp() { "$AWS" --endpoint-url "$EP" s3 cp --only-show-errors "$@"; }
printf '%b' "$(printf '\\%03o' $(seq 0 255))" >"$work/bytes.bin"
head -c $((20 * 1024 * 1024 + 7)) /dev/urandom >"$work/big.bin"

for f in bytes.bin big.bin; do
    key="$B/up/données é+1=2%/$f"
    if "$SLUICE" cp -q "$work/$f" "$key" && awscp "$key" "$work/back-aws-$f"; then
        check "sluice_put_aws_get_$f" cmp -s "$work/$f" "$work/back-aws-$f"
    else
        bad "sluice_put_aws_get_$f"
    fi
    key2="$B/down/x y/$f"
    if awscp "$work/$f" "$key2" && "$SLUICE" cp -q "$key2" "$work/back-sluice-$f"; then
        check "aws_put_sluice_get_$f" cmp -s "$work/$f" "$work/back-sluice-$f"
    else
        bad "aws_put_sluice_get_$f"
    fi
done
listing=$("$SLUICE" ls "$B/up/")
check s3_ls_shows_unicode_prefix bash -c '[[ "$1" == *"PRE données é+1=2%/"* ]]' _ "$listing"
listing=$("$SLUICE" ls -r "$B/down/")
check s3_ls_recursive_sizes bash -c '[[ "$1" == *" 20971527 "*"x y/big.bin"* ]]' _ "$listing"
"$SLUICE" cp -q -r "$work/src" "$B/tree" && "$SLUICE" cp -q -r "$B/tree" "$work/tree-back" &&
    check s3_recursive_round_trip cmp -s "$work/src/a b/c/2.txt" "$work/tree-back/a b/c/2.txt"
check s3_missing_key_exits_1 test "$(rc_of "$SLUICE" cp "$B/none.bin" "$work/n.bin")" = 1
msg=$("$SLUICE" cp "$B/none.bin" "$work/n.bin" 2>&1)
check s3_missing_key_message bash -c '[[ "$1" == *"none.bin"*"not found"* ]]' _ "$msg"
check s3_missing_key_leaves_no_file test ! -e "$work/n.bin"
"$AWS" --endpoint-url "$EP" s3 rm --recursive --only-show-errors "$B/" || true
exit $((n_fail > 0))
