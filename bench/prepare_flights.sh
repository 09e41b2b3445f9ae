#!/usr/bin/env bash
# bench/prepare_flights.sh - the inputs of the group-by benchmarks
# (bench/runtime.sh), made once with DuckDB (bench/prepare_flights.mjs) into
# bench/data/ (git-ignored):
#
#   flights-3m.csv       ../shared/data/flights-3m.parquet as CSV with a header
#   flights-3m.jsonl.gz  the same rows as gzip'd JSON Lines
#   flights-12m.csv      flights-3m.csv's rows 4 times, one header (4x input scaling)
#   keys-1m.csv          5,000,000 rows k,v (bigint) with 1,000,000 distinct k
#                        (memory-bounded group-by)
#
# flights-3m.parquet has 3,000,000 rows and five columns (DuckDB DESCRIBE):
#   date TIMESTAMP (2001-01-01 00:01 .. 2001-07-01; written as
#   "2001-01-01 00:01:00"), delay BIGINT (minutes, -1116..1688), distance
#   BIGINT (miles), origin VARCHAR and destination VARCHAR (IATA codes, 229
#   distinct origins); no NULLs.
#
# A file is remade only when it is missing or older than its input or than
# these scripts. Prints each file's size and row count at the end.
#   usage: bench/prepare_flights.sh     (SLUICE_SHARED_DATA overrides ../shared/data)
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${SLUICE_SHARED_DATA:-../shared/data}
IN=$SHARED/flights-3m.parquet
D=bench/data
P="node bench/prepare_flights.mjs"

[ -f "$IN" ] || { echo "prepare_flights: $IN not found (set SLUICE_SHARED_DATA)" >&2; exit 1; }
mkdir -p "$D"

# fresh OUT INPUT...: OUT exists and is newer than every INPUT
fresh() {
    local out=$1; shift
    [ -s "$out" ] || return 1
    for dep in "$@" bench/prepare_flights.sh bench/prepare_flights.mjs; do
        [ "$out" -nt "$dep" ] || return 1
    done
}

echo "input $IN:"
$P describe "$IN"

t0=$SECONDS
if ! fresh "$D/flights-3m.csv" "$IN"; then
    echo "writing $D/flights-3m.csv"
    $P csv "$IN" "$D/flights-3m.csv"
fi
if ! fresh "$D/flights-3m.jsonl.gz" "$IN"; then
    echo "writing $D/flights-3m.jsonl.gz"
    $P jsonl "$IN" "$D/flights-3m.jsonl.gz"
fi
if ! fresh "$D/flights-12m.csv" "$D/flights-3m.csv"; then
    echo "writing $D/flights-12m.csv"
    {
        cat "$D/flights-3m.csv"
        for _ in 1 2 3; do tail -n +2 "$D/flights-3m.csv"; done
    } >"$D/flights-12m.csv.tmp"
    mv "$D/flights-12m.csv.tmp" "$D/flights-12m.csv"
fi
if ! fresh "$D/keys-1m.csv"; then
    echo "writing $D/keys-1m.csv"
    $P keys "$D/keys-1m.csv"
fi
[ $((SECONDS - t0)) -gt 0 ] && echo "prepared in $((SECONDS - t0)) s"

# Row counts are computed once per version of a file and kept in $D/ROWS
# ("name size mtime rows" lines), so later runs print them without re-reading.
touch "$D/ROWS"
rows_of() { # name format
    local id n
    id="$1 $(stat -c '%s %Y' "$D/$1")"
    n=$(awk -v id="$id" '$1 " " $2 " " $3 == id { print $4 }' "$D/ROWS")
    if [ -z "$n" ]; then
        n=$($P count "$2" "$D/$1")
        { awk -v f="$1" '$1 != f' "$D/ROWS"; echo "$id $n"; } >"$D/ROWS.tmp"
        mv "$D/ROWS.tmp" "$D/ROWS"
    fi
    echo "$n"
}
printf '%-22s %10s %12s\n' file MiB rows
for f in flights-3m.csv:csv flights-3m.jsonl.gz:json flights-12m.csv:csv keys-1m.csv:csv; do
    name=${f%%:*}
    rows=$(rows_of "$name" "${f##*:}")
    printf '%-22s %10.1f %12s\n' "$name" "$(stat -c %s "$D/$name" | awk '{ print $1 / 1048576 }')" "$rows"
done
