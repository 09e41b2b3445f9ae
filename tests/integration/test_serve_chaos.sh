#!/usr/bin/env bash
# tests/integration/test_serve_chaos.sh - crash safety and scale-out of the run
# queue (issue: "kill -9 of the server with two runs in flight, restart, both
# end in a final state; two servers on one catalog with 50 queued runs: each
# run executed exactly once").
#  1. A server executing two slow runs is killed with SIGKILL: its children die
#     with it; a restarted server finds both runs (same host, dead process)
#     and finishes them FAILED with the reason, or queues their retry under
#     MaxRetries, which it then executes.
#  2. 50 runs are queued while no server runs; two servers start on the same
#     catalog and drain the queue: every run SUCCEEDED, each executed once
#     (one "started" log line over both servers, one published manifest per
#     run in the output folder, attempt 0 everywhere).
set -u
SLUICE=${SLUICE_BIN:?SLUICE_BIN not set}
n_fail=0
ok() { echo "ok - $1"; }
bad() { echo "not ok - $1"; n_fail=$((n_fail + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
if [ -z "${SLUICE_CATALOG:-}" ]; then
    echo "skip - serve_chaos: needs PostgreSQL (SLUICE_CATALOG)"
    exit 0
fi
work=$(mktemp -d /tmp/sluice-serve-chaos-XXXXXX)
J=sc_$$
. "$(dirname "$0")/private_catalog.sh"
if ! private_catalog "$J"; then
    echo "skip - serve_chaos: cannot create a database of its own (needs CREATEDB)"
    rm -rf "$work"
    exit 0
fi
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    drop_private_catalog
    [ -n "${SLUICE_TEST_KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
q() { psql "$SLUICE_CATALOG" -Atc "$1"; }
free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
# serve NAME [options...]: starts a server logging to $work/NAME.log; sets $spid
serve() {
    local name=$1; shift
    SLUICE_HOME="$work/home_$name" "$SLUICE" serve --auth none --listen "127.0.0.1:$(free_port)" \
        --config "$work/sluice.conf" "$@" >>"$work/$name.log" 2>&1 &
    spid=$!
    pids+=("$spid")
}
# until_sql SQL WANT [SECONDS]: polls until the query prints WANT
until_sql() {
    local got=""
    for _ in $(seq $((${3:-60} * 10))); do
        got=$(q "$1" 2>/dev/null) # the first server may still be creating the tables
        [ "$got" = "$2" ] && return 0
        sleep 0.1
    done
    echo "# waited for '$2', last saw '$got'"
    return 1
}

mkdir -p "$work/jobs" "$work/in" "$work/slow_in"
printf 'id,v\n1,10\n2,20\n' >"$work/in/a.csv"
for i in $(seq 1 200); do echo "$i,x"; done | sed '1i id,v' >"$work/slow_in/a.csv"
cat >"$work/jobs/slow.lua" <<EOF
job { name = "${J}_slow", max_concurrency = 2 }
function main(ctx)
  sluice.from_path{ uri = "$work/slow_in/", format = "csv" }
    :map(function(r) local x = 0; for i = 1, 20000000 do x = x + i end; r.x = x; return r end)
    :write{ to = "$work/slow_out/" }
end
EOF
cat >"$work/jobs/slow_retry.lua" <<EOF
job { name = "${J}_slowr", retries = 1 }
function main(ctx)
  sluice.from_path{ uri = "$work/slow_in/", format = "csv" }
    :map(function(r) if ctx.args.JOB_RUN_ID:find("_attempt_") == nil then
                       local x = 0; for i = 1, 20000000 do x = x + i end end
                     return r end)
    :write{ to = "$work/slowr_out/" }
end
EOF
cat >"$work/jobs/quick.lua" <<EOF
job { name = "${J}_quick", max_concurrency = 100 }
function main(ctx)
  sluice.from_path{ uri = "$work/in/", format = "csv" }:write{ to = "$work/quick_out/" }
end
EOF
cat >"$work/sluice.conf" <<EOF
lease_seconds = 5
retry_delay_seconds = 1
stop_grace_seconds = 2
EOF

# ---- 1. kill -9 with two runs in flight
serve A --jobs "$work/jobs"
A=$spid
until_sql "SELECT count(*) FROM sluice.job WHERE name LIKE '${J}%'" 3 20
R1=$("$SLUICE" start "${J}_slow" 2>/dev/null | grep -oE 'jr_[0-9a-f]{64}' | head -1)
check first_run_queued test -n "$R1"
R2=$("$SLUICE" start "${J}_slowr" 2>/dev/null | grep -oE 'jr_[0-9a-f]{64}' | head -1)
check second_run_queued test -n "$R2"
check both_running until_sql "SELECT count(*) FROM sluice.job_run WHERE id IN ('$R1','$R2') AND state = 'RUNNING'" 2 30
CHILDREN=$(q "SELECT string_agg(pid::text, ' ') FROM sluice.job_run WHERE id IN ('$R1','$R2')")
kill -9 "$A"
wait "$A" 2>/dev/null
sleep 0.5
alive=0
for p in $CHILDREN; do # a zombie nobody reaped yet counts as gone
    st=$(awk '/^State:/ {print $2}' "/proc/$p/status" 2>/dev/null)
    [ -n "$st" ] && [ "$st" != Z ] && alive=$((alive + 1))
done
check children_die_with_server test "$alive" = 0
check runs_still_marked_running test "$(q "SELECT count(*) FROM sluice.job_run WHERE id IN ('$R1','$R2') AND state = 'RUNNING'")" = 2
serve A2 --jobs "$work/jobs"
check lost_run_failed until_sql "SELECT state FROM sluice.job_run WHERE id = '$R1'" FAILED 20
check lost_run_reason test "$(q "SELECT error_message LIKE 'run lost: its server (%) is gone (process $A no longer runs)%' FROM sluice.job_run WHERE id = '$R1'")" = t
check lost_run_with_retries_failed until_sql "SELECT state FROM sluice.job_run WHERE id = '$R2'" FAILED 20
check lost_run_retried until_sql "SELECT state || ' ' || attempt || ' ' || previous_run_id FROM sluice.job_run WHERE id = '${R2}_attempt_1'" "SUCCEEDED 1 $R2" 60
check recovery_logged grep -q "lost by an earlier server process" "$work/A2.log"
check nothing_left_running test "$(q "SELECT count(*) FROM sluice.job_run WHERE job_name LIKE '${J}%' AND state IN ('STARTING','RUNNING','STOPPING','WAITING')")" = 0
kill "${pids[-1]}"
wait "${pids[-1]}" 2>/dev/null

# ---- 1b. a lost run on another host is finished once its lease expires
q "INSERT INTO sluice.job_run (id, job_name, state, timeout_minutes, owner, lease_until, running_on)
   VALUES ('${J}_other', '${J}_quick', 'RUNNING', 60, 'otherhost/4242/00', clock_timestamp() + interval '3 seconds', clock_timestamp())" >/dev/null
serve L --jobs "$work/jobs"
sleep 1
check foreign_run_kept_while_leased test "$(q "SELECT state FROM sluice.job_run WHERE id = '${J}_other'")" = RUNNING
check foreign_run_failed_after_lease until_sql "SELECT state FROM sluice.job_run WHERE id = '${J}_other'" FAILED 20
check foreign_run_reason test "$(q "SELECT error_message LIKE 'run lost: its server (otherhost/4242/00) stopped renewing its lease%' FROM sluice.job_run WHERE id = '${J}_other'")" = t
kill "${pids[-1]}"
wait "${pids[-1]}" 2>/dev/null

# ---- 2. two servers, 50 queued runs, each executed exactly once
for i in $(seq 1 50); do
    "$SLUICE" start "${J}_quick" >/dev/null 2>&1 || bad "queue run $i"
done
check fifty_queued test "$(q "SELECT count(*) FROM sluice.job_run WHERE job_name = '${J}_quick' AND state = 'STARTING' AND owner IS NULL")" = 50
serve B1 --max-runs 3
serve B2 --max-runs 3
check all_fifty_succeeded until_sql "SELECT count(*) FROM sluice.job_run WHERE job_name = '${J}_quick' AND state = 'SUCCEEDED'" 50 180
check none_failed_or_retried test "$(q "SELECT count(*) FROM sluice.job_run WHERE job_name = '${J}_quick' AND (state <> 'SUCCEEDED' OR attempt <> 0)")" = 1 # the lease test's run
ids=$(q "SELECT id FROM sluice.job_run WHERE job_name = '${J}_quick' AND state = 'SUCCEEDED' ORDER BY id")
starts=$(cat "$work/B1.log" "$work/B2.log" | grep -oE 'run jr_[0-9a-f]{64} of [^ ]+ job started' | awk '{print $2}' | sort)
check each_started_once test "$(echo "$starts" | uniq -d | wc -l):$(echo "$starts" | wc -l)" = "0:50"
check started_are_the_runs test "$starts" = "$ids"
manifests=$(ls "$work/quick_out/_manifests" | sed -E 's/-[0-9]+\.json$//' | sort)
check each_published_once test "$(echo "$manifests" | uniq -d | wc -l):$(echo "$manifests" | wc -l)" = "0:50"
check published_are_the_runs test "$manifests" = "$ids"
n1=$(grep -c 'job started' "$work/B1.log")
n2=$(grep -c 'job started' "$work/B2.log")
echo "# server B1 executed $n1 runs, B2 $n2"
check both_servers_worked test "$n1" -gt 0 -a "$n2" -gt 0
owners=$(q "SELECT count(DISTINCT owner) FROM sluice.job_run WHERE job_name = '${J}_quick' AND state = 'SUCCEEDED'")
check two_owners test "$owners" = 2
[ "$n_fail" -eq 0 ]
