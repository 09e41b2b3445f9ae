#!/usr/bin/env bash
# bench/crawl.sh - crawl N small CSV objects in P Hive partitions on the S3
# emulator (s3rver): wall time, LIST/GET/HEAD counts and bytes read for the
# first crawl and for an unchanged re-crawl (issue 3's benchmark).
# Goal: the re-crawl makes ceil(N/1000) LIST requests and 0 GETs; the first
# crawl at most one GET per object.
#   usage: bench/crawl.sh [N_OBJECTS (10000)] [N_PARTITIONS (100)]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10000}
P=${2:-100}
SLUICE=${SLUICE_BIN:-$PWD/sluice}
started=""
if ! scripts/services.sh status >/dev/null 2>&1; then
    scripts/services.sh start >/dev/null
    started=yes
fi
work=$(mktemp -d /tmp/sluice-bench-crawl-XXXXXX)
cleanup() { rm -rf "$work"; [ -n "$started" ] && scripts/services.sh stop >/dev/null 2>&1 || true; }
trap cleanup EXIT
eval "$(scripts/services.sh env)"
B=s3://sluice-bench-crawl
/usr/bin/aws --endpoint-url "$AWS_ENDPOINT_URL" s3 rb --force "$B" >/dev/null 2>&1 || true
/usr/bin/aws --endpoint-url "$AWS_ENDPOINT_URL" s3 mb "$B" >/dev/null

per=$((N / P))
for p in $(seq 0 $((P - 1))); do
    d=$work/events/dt=2024-$(printf '%02d' $((p / 28 % 12 + 1)))-$(printf '%02d' $((p % 28 + 1)))/hour=$(printf '%02d' $((p / 336)))
    mkdir -p "$d"
    for f in $(seq 0 $((per - 1))); do
        printf 'event_id,user_id,kind,amount,at\n%d,%d,click,%d.5,2024-01-01T10:00:00Z\n%d,%d,view,%d,2024-01-01T10:00:01Z\n' \
            $((p * per + f)) $((f % 97)) "$f" $((p * per + f + 1)) $((f % 89)) "$f" >"$d/part-$(printf '%05d' "$f").csv"
    done
done
t0=$(date +%s.%N)
"$SLUICE" cp -q -r "$work/events" "$B/events"
t1=$(date +%s.%N)
DB=bench_crawl_$$
"$SLUICE" crawl "$B/events/" --database "$DB" --json >"$work/c1.json"
t2=$(date +%s.%N)
"$SLUICE" crawl "$B/events/" --database "$DB" --json >"$work/c2.json"
t3=$(date +%s.%N)
row() { # label file seconds
    node -e "const d=JSON.parse(require('fs').readFileSync('$2','utf8')).counters;
      console.log('| $1 | ' + ($3).toFixed(2) + ' | ' + d.list_requests + ' | ' + d.get_requests + ' | ' + d.head_requests + ' | ' + d.bytes_read + ' | ' + d.objects_listed + ' |')"
}
echo "objects: $N in $P partitions (upload with sluice cp -r: $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}') s)"
echo "| crawl | wall (s) | LIST | GET | HEAD | bytes read | objects |"
echo "|---|---:|---:|---:|---:|---:|---:|"
row first "$work/c1.json" "$(awk -v a="$t1" -v b="$t2" 'BEGIN{print b-a}')"
row re-crawl "$work/c2.json" "$(awk -v a="$t2" -v b="$t3" 'BEGIN{print b-a}')"
node -e "const d=JSON.parse(require('fs').readFileSync('$work/c1.json','utf8'));
  console.log('tables: ' + d.tables.map(t=>t.name+' ('+t.partitions+' partitions, '+t.columns+' columns)').join(', '))"
psql "$SLUICE_CATALOG" -qc "DELETE FROM sluice.catalog_database WHERE name = '$DB'" >/dev/null 2>&1 || true
/usr/bin/aws --endpoint-url "$AWS_ENDPOINT_URL" s3 rb --force "$B" >/dev/null 2>&1 || true
