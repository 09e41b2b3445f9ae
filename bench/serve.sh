#!/usr/bin/env bash
# bench/serve.sh - the scheduler/API benchmark of `sluice serve` (issue 6):
# (a) StartJobRun -> RUNNING latency of a trivial job (a Lua script that reads
#     a 3-row local CSV and writes it to a temp folder), from the catalog's
#     own timestamps (sluice.job_run: running_on - started_on): N runs started
#     one at a time, each waited for (the fair "dispatch" figure), and a burst
#     of N runs started at once (MaxConcurrentRuns = N, so the server's own
#     child limit queues them: that latency includes the queueing);
# (b) GetJobRun throughput of one finished run with bench/loadgen (every
#     request SigV4-signed afresh) for D seconds with 2, 8 and 32 connections,
#     ROUNDS rounds each, plus two checks of the generator itself: a wrong
#     secret gets 403 for every request, and its request count equals the
#     server's /metrics counter.
# When wrk is installed it runs too, alternating with loadgen, replaying one
# request that loadgen signed (wrk cannot sign per request).
# Goals: p99 dispatch under 100 ms; at least 2,000 signed requests/s on 2
# cores. Prints tables; results are copied by hand into bench/RESULTS.md.
#   usage: bench/serve.sh [N_RUNS (200)] [SECONDS (10)] [ROUNDS (3)]
#   env:   BENCH_SERVE_CONNS (default "2 8 32"), BENCH_SERVE_SEQ (runs started
#          one at a time; default N_RUNS)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
N=${1:-200}
SECS=${2:-10}
ROUNDS=${3:-3}
CONNS=${BENCH_SERVE_CONNS:-2 8 32}
N_SEQ=${BENCH_SERVE_SEQ:-$N}
SLUICE=${SLUICE_BIN:-$ROOT/sluice}
AWS=/usr/bin/aws
LOADGEN=$ROOT/bench/out/loadgen
TERMINAL="('STOPPED','SUCCEEDED','FAILED','TIMEOUT','ERROR')"

started=""
if ! scripts/services.sh status >/dev/null 2>&1; then
    scripts/services.sh start >/dev/null
    started=yes
fi
eval "$(scripts/services.sh env)"
make -s >/dev/null
mkdir -p bench/out
cc -O2 -std=c11 -Wall -Wextra -o "$LOADGEN" bench/loadgen.c -lssl -lcrypto -lpthread

J=bench_serve_$$
SHARED_CATALOG=$SLUICE_CATALOG
work=$(mktemp -d /tmp/sluice-bench-serve-XXXXXX)
server_pid=
cleanup() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    psql "$SHARED_CATALOG" -Xqc "DROP DATABASE IF EXISTS $J WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$work"
    [ -n "$started" ] && scripts/services.sh stop >/dev/null 2>&1 || true
}
trap cleanup EXIT
# A private catalog database: a dispatcher claims every queued run of its
# catalog, so on the shared one this server would execute the runs of other
# servers (tests running at the same time), and theirs would take ours.
psql "$SHARED_CATALOG" -Xqc "CREATE DATABASE $J" >/dev/null
case "$SHARED_CATALOG" in
*://*) SLUICE_CATALOG=$(echo "$SHARED_CATALOG" | sed "s|\(://[^/?]*\)[^?]*|\1/$J|") ;;
*dbname=*) SLUICE_CATALOG=$(echo "$SHARED_CATALOG" | sed "s/dbname=[^ ]*/dbname=$J/") ;;
*) SLUICE_CATALOG="$SHARED_CATALOG dbname=$J" ;;
esac
export SLUICE_CATALOG
sql() { psql "$SLUICE_CATALOG" -XAtqc "$1"; }
secs_since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}'; }

# ---- the server, its key and the AWS CLI's environment
export AWS_ACCESS_KEY_ID=AKIDBENCHSERVE AWS_SECRET_ACCESS_KEY=bench-secret-$$ AWS_DEFAULT_REGION=us-east-1
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
unset AWS_SESSION_TOKEN AWS_PROFILE AWS_ENDPOINT_URL
PORT=$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
URL=http://127.0.0.1:$PORT
mkdir -p "$work/home" "$work/in" "$work/out"
export SLUICE_HOME=$work/home
SLUICE_API_KEYS=$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY \
    "$SLUICE" --log-level warn serve --listen "127.0.0.1:$PORT" >"$work/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do
    curl -sf "$URL/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -sf "$URL/healthz" >/dev/null || { echo "server did not start:"; cat "$work/serve.log"; exit 1; }
glue() { "$AWS" --endpoint-url "$URL" glue "$@"; }
lg() { "$LOADGEN" --port "$PORT" "$@"; }

# ---- the trivial job: read a 3-row CSV, write it under out/<run id>/
printf 'id,name,amount\n1,a,1.5\n2,b,2\n3,c,3.25\n' >"$work/in/tiny.csv"
for kind in seq burst smoke; do
    cat >"$work/${kind}.lua" <<EOF
job { name = "${J}_${kind}", args = { input = "$work/in/", out = "$work/out/" } }
function main(ctx)
  sluice.from_path{ uri = ctx.args.input, format = "csv" }:write{ to = ctx.args.out .. ctx.run_id .. "/" }
end
EOF
    glue create-job --name "${J}_${kind}" --role arn:aws:iam::000000000000:role/bench \
        --command "Name=glueetl,ScriptLocation=$work/${kind}.lua" \
        --execution-property "MaxConcurrentRuns=$((N > 1 ? N : 1))" >/dev/null
done
# Standalone runs prove the script works, and time what a child costs.
standalone=
for _ in 1 2 3 4 5; do
    t0=$(date +%s%N)
    "$SLUICE" run "$work/smoke.lua" --arg "out=$work/out/standalone-" >/dev/null 2>"$work/standalone.err" ||
        { echo "the trivial job fails under sluice run:"; cat "$work/standalone.err"; exit 1; }
    standalone="$standalone $(( ($(date +%s%N) - t0) / 1000000 ))"
done

echo "machine: $(nproc) CPUs, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(. /etc/os-release; echo "$PRETTY_NAME"); load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "sluice: commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'); PostgreSQL $(sql 'SHOW server_version')"

# ---- is the run API there?
runs_api=yes
if ! lg -q -c 1 -n 1 -t AWSGlue.StartJobRun -b "{\"JobName\":\"${J}_smoke\"}" >"$work/probe.txt" 2>&1; then
    runs_api=
    echo "StartJobRun is not available on this build ($(grep -o 'HTTP [0-9]*: .*' "$work/probe.txt" | cut -c1-120)):"
    echo "(a) is skipped and (b) measures GetJob instead of GetJobRun"
fi

# Waits until job $1 has no unfinished run (deadline $2 seconds); 1 on timeout.
wait_idle() {
    local deadline=$(( $(date +%s) + $2 ))
    while [ "$(sql "SELECT count(*) FROM sluice.job_run WHERE job_name = '$1' AND state NOT IN $TERMINAL")" != 0 ]; do
        [ "$(date +%s)" -ge "$deadline" ] && return 1
        sleep 0.02
    done
}
# One table row of dispatch latency for job $1: runs, states, p50/p99/max of
# running_on - started_on and of completed_on - started_on (ms).
latency_row() {
    sql "SELECT '| $2 | ' || count(*) || ' | ' ||
           (SELECT string_agg(state || ' ' || n, ', ' ORDER BY state) FROM
              (SELECT state, count(*) n FROM sluice.job_run WHERE job_name = '$1' GROUP BY state) s) || ' | ' ||
           round(percentile_disc(0.5) WITHIN GROUP (ORDER BY d)::numeric, 1) || ' | ' ||
           round(percentile_disc(0.99) WITHIN GROUP (ORDER BY d)::numeric, 1) || ' | ' ||
           round(max(d)::numeric, 1) || ' | ' ||
           round(percentile_disc(0.5) WITHIN GROUP (ORDER BY t - d)::numeric, 1) || ' | ' ||
           round(percentile_disc(0.5) WITHIN GROUP (ORDER BY t)::numeric, 1) || ' | ' ||
           round(percentile_disc(0.99) WITHIN GROUP (ORDER BY t)::numeric, 1) || ' | ' ||
           round(extract(epoch FROM max(completed_on) - min(started_on))::numeric, 2) || ' |'
         FROM (SELECT extract(epoch FROM running_on - started_on) * 1000 AS d,
                      extract(epoch FROM completed_on - started_on) * 1000 AS t,
                      started_on, completed_on
                 FROM sluice.job_run WHERE job_name = '$1' AND running_on IS NOT NULL) r"
}

if [ -n "$runs_api" ]; then
    # ---- smoke: one run through the AWS CLI, to a finished run for (b)
    wait_idle "${J}_smoke" 120 || { echo "the probe run did not finish"; exit 1; }
    RUN_ID=$(glue start-job-run --job-name "${J}_smoke" --query JobRunId --output text)
    wait_idle "${J}_smoke" 120 || { echo "run $RUN_ID did not finish"; exit 1; }
    state=$(glue get-job-run --job-name "${J}_smoke" --run-id "$RUN_ID" --query JobRun.JobRunState --output text)
    echo "smoke: run $RUN_ID of ${J}_smoke through the AWS CLI: $state"
    [ "$state" = SUCCEEDED ] || { echo "--- server log"; tail -20 "$work/serve.log"; exit 1; }
    GET_TARGET=AWSGlue.GetJobRun
    GET_BODY="{\"JobName\":\"${J}_smoke\",\"RunId\":\"$RUN_ID\"}"

    # ---- (a) one at a time
    t0=$(date +%s.%N)
    for _ in $(seq "$N_SEQ"); do
        lg -q -c 1 -n 1 -t AWSGlue.StartJobRun -b "{\"JobName\":\"${J}_seq\"}" >/dev/null ||
            { echo "StartJobRun failed"; exit 1; }
        wait_idle "${J}_seq" 120 || { echo "a run of ${J}_seq did not finish in 120 s"; exit 1; }
    done
    seq_wall=$(secs_since "$t0")

    # ---- (a) a burst: N StartJobRun requests on 8 connections, then wait
    t0=$(date +%s.%N)
    lg -q -c 8 -n "$N" -d 60 -t AWSGlue.StartJobRun -b "{\"JobName\":\"${J}_burst\"}" >"$work/burst.txt" ||
        { echo "burst StartJobRun failed: $(cat "$work/burst.txt")"; exit 1; }
    burst_start=$(secs_since "$t0")
    wait_idle "${J}_burst" 900 || echo "the burst did not finish in 900 s"
    burst_wall=$(secs_since "$t0")

    echo
    echo "(a) StartJobRun -> RUNNING (running_on - started_on, from sluice.job_run), trivial job"
    echo "| runs | n | final states | dispatch p50 ms | dispatch p99 ms | dispatch max ms | running->end p50 ms | start->end p50 ms | start->end p99 ms | first start -> last end s |"
    echo "|---|--:|---|--:|--:|--:|--:|--:|--:|--:|"
    latency_row "${J}_seq" "one at a time"
    latency_row "${J}_burst" "burst of $N"
    echo "the same script under plain sluice run (5 runs, ms, process start to exit):$standalone"
    echo "one at a time: $N_SEQ runs in $seq_wall s wall (client polls the catalog every 20 ms)"
    echo "burst: $N StartJobRun answered in $burst_start s ($(sed 's/.*rps=\([0-9]*\).*p50_ms=\([0-9.]*\).*p99_ms=\([0-9.]*\).*/\1 req\/s, p50 \2 ms, p99 \3 ms/' "$work/burst.txt")); all finished after $burst_wall s"
    sql "SELECT 'burst: at most ' || max(n) || ' runs RUNNING at once' FROM
           (SELECT (SELECT count(*) FROM sluice.job_run b WHERE b.job_name = '${J}_burst'
                      AND b.running_on <= a.running_on AND b.completed_on > a.running_on) n
              FROM sluice.job_run a WHERE a.job_name = '${J}_burst' AND a.running_on IS NOT NULL) x"
else
    GET_TARGET=AWSGlue.GetJob
    GET_BODY="{\"JobName\":\"${J}_smoke\"}"
fi

# ---- (b) checks of the generator
echo
lg -q -c 2 -n 20 -k "$AWS_ACCESS_KEY_ID:wrong-secret" -t "$GET_TARGET" -b "$GET_BODY" >"$work/wrong.txt" 2>&1 &&
    { echo "check: a wrong secret was accepted"; exit 1; }
grep -q 'status=403:20$' "$work/wrong.txt" || { echo "check: wrong secret: $(cat "$work/wrong.txt")"; exit 1; }
echo "check: wrong secret -> 403 for 20 of 20 requests"
op=${GET_TARGET#AWSGlue.}
metric() { curl -s "$URL/metrics" | awk -v k="sluice_api_requests_total{operation=\"$op\",status=\"200\"}" '$1 == k {print $2; f=1} END {if (!f) print 0}'; }
m0=$(metric)
lg -q -c 2 -d 2 -t "$GET_TARGET" -b "$GET_BODY" >"$work/self.txt"
m1=$(metric)
sent=$(sed 's/^requests=\([0-9]*\) .*/\1/' "$work/self.txt")
if [ "$((m1 - m0))" = "$sent" ]; then
    echo "check: loadgen counted $sent requests in 2 s, /metrics $op 200 rose by $((m1 - m0)): MATCH"
else
    echo "check: loadgen counted $sent requests, /metrics rose by $((m1 - m0)): MISMATCH"
    exit 1
fi

# ---- (b) throughput: rounds alternate the connection counts
echo
echo "(b) $op throughput, signed requests, $SECS s per round, $ROUNDS rounds"
WRK=$(command -v wrk || true)
# wrk cannot sign per request: it replays one request signed by loadgen just
# before each round (valid for the server's 15-minute window; the server still
# verifies the signature of every request). Its output is turned into
# loadgen's summary line; every answer must be a 200 (the /metrics counter).
run_wrk() { # connections round
    local c=$1 r=$2 req=$work/wrk_req.txt m0 m1 n
    lg -P -t "$GET_TARGET" -b "$GET_BODY" | tr -d '\r' >"$req"
    {
        echo 'wrk.method = "POST"'
        echo "wrk.body = [[$GET_BODY]]"
        sed -n '2,/^$/p' "$req" | grep -v '^$' | grep -v '^Content-Length:' |
            sed 's/^\([^:]*\): \(.*\)$/wrk.headers["\1"] = [[\2]]/'
    } >"$work/wrk.lua"
    m0=$(metric)
    "$WRK" -t "$(( c < 2 ? c : 2 ))" -c "$c" -d "${SECS}s" --latency -s "$work/wrk.lua" "$URL/" >"$work/wrk_${c}_$r.raw"
    m1=$(metric)
    n=$(awk '/requests in/ {print $1}' "$work/wrk_${c}_$r.raw")
    awk -v n="$n" -v ok="$((m1 - m0))" '
        function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
        /requests in/ { secs = $4; sub(/s,?$/, "", secs) }
        /Requests\/sec/ { rps = $2 }
        $1 == "50%" { p50 = ms($2) } $1 == "90%" { p90 = ms($2) } $1 == "99%" { p99 = ms($2) }
        $1 == "Latency" && !max { max = ms($4) }
        END { printf "requests=%d seconds=%.2f rps=%.0f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f status=200:%d%s\n",
                     n, secs, rps, p50, p90, p99, max, ok, (n - ok > 0 ? ",other:" (n - ok) : "") }' \
        "$work/wrk_${c}_$r.raw" >"$work/w_${c}_$r.txt"
    # wrk stops mid-request at the deadline: those few are counted by the server only
    [ "$((m1 - m0))" -ge "$n" ] || { echo "wrk, $c connections: $((n - m1 + m0)) answers were not 200"; cat "$work/wrk_${c}_$r.raw"; exit 1; }
}
for r in $(seq "$ROUNDS"); do
    order=$CONNS
    [ $((r % 2)) = 0 ] && order=$(echo "$CONNS" | tr ' ' '\n' | tac | tr '\n' ' ')
    for c in $order; do
        [ -n "$WRK" ] && [ $((r % 2)) = 0 ] && run_wrk "$c" "$r"
        lg -q -c "$c" -d "$SECS" -t "$GET_TARGET" -b "$GET_BODY" >"$work/b_${c}_$r.txt" ||
            { echo "round $r, $c connections: $(cat "$work/b_${c}_$r.txt")"; exit 1; }
        [ -n "$WRK" ] && [ $((r % 2)) = 1 ] && run_wrk "$c" "$r"
    done
done
field() { sed "s/.* $1=\([0-9.]*\).*/\1/" "$2"; }
median() { tr ' ' '\n' | grep . | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
echo "| client | connections | median req/s | p50 ms | p90 ms | p99 ms | max ms | all rounds req/s |"
echo "|---|--:|--:|--:|--:|--:|--:|---|"
table_rows() { # client file-prefix
    for c in $CONNS; do
        [ -f "$work/${2}_${c}_1.txt" ] || continue
        all=$(for r in $(seq "$ROUNDS"); do field rps "$work/${2}_${c}_$r.txt"; done | tr '\n' ' ')
        med=$(echo "$all" | median)
        # the latency columns are those of the median round
        mr=$(for r in $(seq "$ROUNDS"); do [ "$(field rps "$work/${2}_${c}_$r.txt")" = "$med" ] && echo "$r" && break; done)
        f=$work/${2}_${c}_$mr.txt
        echo "| $1 | $c | $med | $(field p50_ms "$f") | $(field p90_ms "$f") | $(field p99_ms "$f") | $(field max_ms "$f") | ${all% } |"
    done
}
table_rows "loadgen (signs each request)" b
[ -n "$WRK" ] && table_rows "wrk $("$WRK" -v 2>&1 | grep -o '[0-9][0-9.]*[0-9]' | head -1) (one pre-signed request replayed)" w
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
if grep -q '"level":"\(error\|warn\)"' "$work/serve.log"; then
    echo "server warnings/errors: $(grep -c '"level":"\(error\|warn\)"' "$work/serve.log")"
    grep '"level":"\(error\|warn\)"' "$work/serve.log" | head -5
fi
