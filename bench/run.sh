#!/usr/bin/env bash
# bench/run.sh - runs every benchmark (`make bench`); results are copied by
# hand into bench/RESULTS.md together with the command that produced them.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/out
echo "== S3 copy: sluice cp vs aws s3 cp"
bash bench/s3_cp.sh "${BENCH_S3_MIB:-256}" "${BENCH_ROUNDS:-3}" | tee bench/out/s3_cp.txt
echo "== crawl: 10,000 CSV objects in 100 partitions on s3rver"
bash bench/crawl.sh "${BENCH_CRAWL_N:-10000}" "${BENCH_CRAWL_P:-100}" | tee bench/out/crawl.txt
echo "== job runtime: sluice run vs DuckDB on the flights data (needs ../shared/data)"
if [ -f ../shared/data/flights-3m.parquet ]; then
    bash bench/runtime.sh "${BENCH_ROUNDS:-3}" | tee bench/out/runtime.txt
else
    echo "skipped: ../shared/data/flights-3m.parquet is absent"
fi
echo "== bench-serve: sluice serve dispatch latency and signed GetJobRun throughput"
bash bench/serve.sh "${BENCH_SERVE_RUNS:-200}" "${BENCH_SERVE_SECONDS:-10}" "${BENCH_ROUNDS:-3}" | tee bench/out/serve.txt
