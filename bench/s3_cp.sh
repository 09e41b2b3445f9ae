#!/usr/bin/env bash
# bench/s3_cp.sh - PUT and GET of one object against the S3 emulator (s3rver):
# `sluice cp` versus the AWS CLI v2 (`/usr/bin/aws s3 cp`), same run, same
# machine, alternating order. Prints wall times (median of ROUNDS) and the
# ratio aws/sluice (> 1 means sluice is faster). Both downloads are compared
# byte for byte with the source.
#   usage: bench/s3_cp.sh [SIZE_MIB (default 256)] [ROUNDS (default 3)]
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MIB=${1:-256}
ROUNDS=${2:-3}
SLUICE=${SLUICE_BIN:-$PWD/sluice}
AWS=/usr/bin/aws

started=""
if ! scripts/services.sh status s3 >/dev/null 2>&1; then
    scripts/services.sh start s3 >/dev/null
    started=yes
fi
work=$(mktemp -d /tmp/sluice-bench-XXXXXX)
cleanup() {
    rm -rf "$work"
    [ -n "$started" ] && scripts/services.sh stop s3 >/dev/null 2>&1 || true
}
trap cleanup EXIT
eval "$(scripts/services.sh env)"
EP=$AWS_ENDPOINT_URL
BUCKET=sluice-bench
$AWS --endpoint-url "$EP" s3 mb "s3://$BUCKET" >/dev/null 2>&1 || true

head -c $((SIZE_MIB * 1024 * 1024)) /dev/urandom >"$work/src.bin"

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", b - a}'; }
div() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

declare -a s_put a_put s_get a_get
for r in $(seq 1 "$ROUNDS"); do
    order="sluice aws"
    [ $((r % 2)) -eq 0 ] && order="aws sluice"
    for who in $order; do
        key="s3://$BUCKET/$who-$r.bin"
        if [ "$who" = sluice ]; then
            t0=$(now); "$SLUICE" cp --quiet "$work/src.bin" "$key"; t1=$(now)
            "$SLUICE" cp --quiet "$key" "$work/down-$who"; t2=$(now)
            s_put+=("$(secs "$t0" "$t1")"); s_get+=("$(secs "$t1" "$t2")")
        else
            t0=$(now); $AWS --endpoint-url "$EP" s3 cp --only-show-errors "$work/src.bin" "$key"; t1=$(now)
            $AWS --endpoint-url "$EP" s3 cp --only-show-errors "$key" "$work/down-$who"; t2=$(now)
            a_put+=("$(secs "$t0" "$t1")"); a_get+=("$(secs "$t1" "$t2")")
        fi
        cmp -s "$work/src.bin" "$work/down-$who" || { echo "bench: $who download differs"; exit 1; }
        rm -f "$work/down-$who"
        $AWS --endpoint-url "$EP" s3 rm --only-show-errors "$key"
    done
done

sp=$(printf '%s\n' "${s_put[@]}" | median); ap=$(printf '%s\n' "${a_put[@]}" | median)
sg=$(printf '%s\n' "${s_get[@]}" | median); ag=$(printf '%s\n' "${a_get[@]}" | median)
printf 'object: %d MiB, rounds: %d, s3rver %s, %s\n' "$SIZE_MIB" "$ROUNDS" \
    "$(node -e 'console.log(require("./.deps/node/node_modules/s3rver/package.json").version)')" \
    "$($AWS --version 2>&1 | cut -d' ' -f1)"
printf '| op  | sluice cp (s) | aws s3 cp (s) | aws/sluice |\n|-----|------:|------:|-----:|\n'
printf '| PUT | %.2f | %.2f | %.2f |\n' "$sp" "$ap" "$(div "$ap" "$sp")"
printf '| GET | %.2f | %.2f | %.2f |\n' "$sg" "$ag" "$(div "$ag" "$sg")"
printf 'all PUT runs (s): sluice %s; aws %s\n' "${s_put[*]}" "${a_put[*]}"
printf 'all GET runs (s): sluice %s; aws %s\n' "${s_get[*]}" "${a_get[*]}"
