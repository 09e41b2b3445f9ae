#!/usr/bin/env bash
# tests/run.sh - runs every test: C test binaries under $SLUICE_TEST_BUILD/tests
# and shell tests tests/**/test_*.sh. Starts PostgreSQL and s3rver through
# scripts/services.sh unless they already run, and stops only what it started.
# Ends with "N passed, N failed, N skipped"; exits 1 when anything failed.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
: "${SLUICE_BIN:=$ROOT/sluice}"
: "${SLUICE_TEST_BUILD:=$ROOT/build}"
export SLUICE_BIN SLUICE_TEST_BUILD
export SLUICE_SHARED_DATA="${SLUICE_SHARED_DATA:-$ROOT/../shared/data}"

started=""
if [ "${SLUICE_TEST_NO_SERVICES:-0}" != 1 ]; then
    if ! scripts/services.sh status >/dev/null 2>&1; then
        if ! scripts/services.sh start; then
            echo "tests: could not start the services (see above)"
            echo "0 passed, 1 failed"
            exit 1
        fi
        started=yes
    fi
    eval "$(scripts/services.sh env)"
    export SLUICE_TEST_BUCKET=sluice-test
    # the shared test bucket; created with the real AWS CLI
    /usr/bin/aws --endpoint-url "$AWS_ENDPOINT_URL" s3 mb "s3://$SLUICE_TEST_BUCKET" >/dev/null 2>&1 || true
fi
cleanup() { [ -n "$started" ] && scripts/services.sh stop >/dev/null 2>&1; }
trap cleanup EXIT

pass=0 fail=0 skip=0
failed_names=()
log_dir=$(mktemp -d /tmp/sluice-tests-XXXXXX)

run_one() { # name, command...
    local name=$1; shift
    local out="$log_dir/$(echo "$name" | tr '/' '_').log"
    local t0=$SECONDS
    "$@" >"$out" 2>&1
    local rc=$?
    local p f s
    p=$(grep -c '^ok - ' "$out")
    f=$(grep -c '^not ok - ' "$out")
    s=$(grep -c '^skip - ' "$out")
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1
        echo "not ok - $name: exited with status $rc" >>"$out"
    fi
    pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
    printf '%-50s %3d passed %3d failed %3d skipped  (%ds)\n' "$name" "$p" "$f" "$s" $((SECONDS - t0))
    if [ "$f" -gt 0 ]; then
        failed_names+=("$name")
        sed -n '/^not ok\|^#/p' "$out" | head -40 | sed 's/^/    /'
        tail -5 "$out" | sed 's/^/    | /'
    fi
    grep '^skip - ' "$out" | sed 's/^/    /'
}

for t in $(find "$SLUICE_TEST_BUILD/tests" -type f -name 'test_*' -perm -u+x 2>/dev/null | sort); do
    run_one "${t#"$SLUICE_TEST_BUILD"/tests/}" "$t"
done
for t in $(find tests -name 'test_*.sh' | sort); do
    run_one "$t" bash "$t"
done

echo "logs: $log_dir"
[ ${#failed_names[@]} -gt 0 ] && echo "failed: ${failed_names[*]}"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
