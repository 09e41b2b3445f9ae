#!/usr/bin/env bash
# scripts/demo.sh - what `make demo` shows: the embedded catalog starting on
# first use, the example data copied into a local "bucket" folder and listed,
# crawled into the catalog (twice: the second run only lists), the tables,
# columns and partitions the crawler found, then two example jobs run on the
# worker pool (jobs/daily_sales.lua over the catalog, jobs/customers_by_city.lua
# as a map-reduce) and their published output is shown, and the daily sales
# are loaded into PostgreSQL with `sluice load` and queried there.
set -euo pipefail
cd "$(dirname "$0")/.."
SLUICE=${SLUICE_BIN:-./sluice}
export SLUICE_HOME=${SLUICE_HOME:-$PWD/.sluice}
BUCKET=$SLUICE_HOME/bucket

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

if [ -n "${SLUICE_CATALOG:-}" ]; then
    step "catalog: SLUICE_CATALOG is set, using that PostgreSQL"
else
    step "catalog: embedded PostgreSQL under $SLUICE_HOME (created and started on first use)"
    "$SLUICE" embedded start
fi

step "copy the example data into a local bucket folder: $BUCKET"
"$SLUICE" cp --recursive --quiet examples/data "$BUCKET/lake"
"$SLUICE" ls --recursive "$BUCKET/lake/"

step "the same folder, one level at a time (folders as PRE, like aws s3 ls)"
"$SLUICE" ls "$BUCKET/lake/sales/"

step "crawl the lake into database demo (Hive folders become partitions)"
"$SLUICE" crawl "$BUCKET/lake/" --database demo

step "crawl again: nothing changed, so only a listing, no reads"
"$SLUICE" crawl "$BUCKET/lake/" --database demo | sed -n '2,3p'

step "what the catalog now knows"
"$SLUICE" catalog databases
echo
"$SLUICE" catalog tables demo
echo
"$SLUICE" catalog table demo.sales
echo
"$SLUICE" catalog partitions demo.sales

step "the same table as the AWS Glue API shapes it (GetTable)"
"$SLUICE" catalog table demo.customers --json | head -40

step "run jobs/daily_sales.lua: catalog sources (partitions pruned by year), a Lua map, a join, a group-by, Hive-style output"
rm -rf "$BUCKET/curated"
"$SLUICE" run jobs/daily_sales.lua --workers 2 --arg database=demo --arg year=2024 \
    --arg out="$BUCKET/curated/daily_sales/"

step "its output: one folder per day, published by _SUCCESS (first days shown)"
"$SLUICE" ls "$BUCKET/curated/daily_sales/" | head -6
for f in $(find "$BUCKET/curated/daily_sales" -name 'part-*.csv' | sort | head -3); do
    echo "--- ${f#"$BUCKET"/}"
    cat "$f"
done

step "run jobs/customers_by_city.lua: an EMR-style map / combine / reduce"
"$SLUICE" run jobs/customers_by_city.lua --workers 2 --arg input="$BUCKET/lake/customers/" \
    --arg out="$BUCKET/curated/customers_by_city/" | head -2
cat "$BUCKET"/curated/customers_by_city/part-*.json

step "load the daily sales into PostgreSQL (staging over parallel COPY streams, one publishing transaction)"
"$SLUICE" load "$BUCKET/curated/daily_sales/" --into postgres:public.daily_sales --mode overwrite \
    --workers 2 | head -2

step "and query them there"
if [ -n "${SLUICE_CATALOG:-}" ]; then
    CONN=$SLUICE_CATALOG
else
    CONN=$("$SLUICE" embedded status | sed -n 's/^conninfo *//p')
fi
psql "$CONN" -X -c "SELECT city, count(*) AS days, sum(orders) AS orders, round(sum(revenue)::numeric, 2) AS revenue
                    FROM public.daily_sales GROUP BY city ORDER BY revenue DESC"

printf '\nDone. Stop the embedded PostgreSQL with: %s embedded stop\n' "$SLUICE"
