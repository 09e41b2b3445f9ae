#!/usr/bin/env bash
# tests/integration/test_cli_jobs.sh - the run commands `sluice jobs`, `sluice
# runs`, `sluice start`, `sluice stop` and `sluice logs` against real
# PostgreSQL: usage errors, jobs registered by `sluice serve --jobs`, runs
# queued with arguments, timeout and workers, MaxConcurrentRuns, stopping a
# queued run, unknown jobs and runs; then, with a `sluice serve` whose
# dispatcher executes the queue, `start --wait` (log and final state), `logs`,
# a failing run, and `stop` of a long-running run followed by `logs --follow`.
set -u
SLUICE=${SLUICE_BIN:?SLUICE_BIN not set}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
n_fail=0
ok() { echo "ok - $1"; }
bad() { echo "not ok - $1"; n_fail=$((n_fail + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
if [ -z "${SLUICE_CATALOG:-}" ]; then
    echo "skip - cli_jobs: needs PostgreSQL (SLUICE_CATALOG)"
    exit 0
fi
work=$(mktemp -d /tmp/sluice-cli-jobs-XXXXXX)
J=cj_$$
server_pid=
follow_pid=
# A private catalog database: a `sluice serve` of another test on the shared
# catalog would otherwise claim the runs this test expects to stay queued.
SHARED_CATALOG=$SLUICE_CATALOG
if ! psql "$SHARED_CATALOG" -qc "CREATE DATABASE \"$J\"" >/dev/null 2>&1; then
    echo "skip - cli_jobs: cannot create a database (needs CREATEDB)"
    rm -rf "$work"
    exit 0
fi
case $SHARED_CATALOG in
postgres://* | postgresql://*)
    SLUICE_CATALOG=$(echo "$SHARED_CATALOG" | sed -E "s#^(postgres(ql)?://[^/?]*)(/[^?]*)?#\1/$J#") ;;
*dbname=*)
    SLUICE_CATALOG=$(echo "$SHARED_CATALOG" | sed -E "s/dbname=('[^']*'|[^ ]*)/dbname=$J/") ;;
*)
    SLUICE_CATALOG="$SHARED_CATALOG dbname=$J" ;;
esac
export SLUICE_CATALOG
cleanup() {
    [ -n "$follow_pid" ] && kill "$follow_pid" 2>/dev/null
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    psql "$SHARED_CATALOG" -qc "DROP DATABASE IF EXISTS \"$J\" WITH (FORCE)" >/dev/null 2>&1
    rm -rf "$work"
}
trap cleanup EXIT
jget() { node -e "const d=JSON.parse(require('fs').readFileSync('$1','utf8'));console.log($2)"; }
# run_state RUN JOB: the run's JobRunState per `sluice runs JOB --json` ("" when absent)
run_state() {
    "$SLUICE" runs "$2" --json >"$work/state.json" 2>/dev/null || return 0
    jget "$work/state.json" '(d.JobRuns.find(r=>r.Id==="'"$1"'")||{}).JobRunState||""'
}
# wait_state RUN JOB STATE SECONDS: polls until the run is in STATE (regex)
wait_state() {
    local end=$((SECONDS + $4)) s=
    while [ $SECONDS -lt $end ]; do
        s=$(run_state "$1" "$2")
        [[ $s =~ ^($3)$ ]] && return 0
        sleep 0.2
    done
    echo "# run $1 of $2: state \"$s\", wanted $3" >&2
    return 1
}
start_server() { # LOG: a server on a free port with a --jobs folder; waits until it listens
    "$SLUICE" --log-level info serve --listen 127.0.0.1:0 --auth none --jobs "$work/jobs" \
        >"$1" 2>&1 &
    server_pid=$!
    for _ in $(seq 100); do grep -q 'listening on' "$1" && return 0; sleep 0.1; done
    return 1
}
stop_server() {
    kill -TERM "$server_pid" 2>/dev/null
    wait "$server_pid" 2>/dev/null
    server_pid=
}

# ---- jobs: a quick one that logs its argument, a failing one, a slow one
mkdir -p "$work/jobs" "$work/in" "$work/slow_in"
printf 'id,v\n1,a\n2,b\n' >"$work/in/a.csv"
{ echo 'id'; seq 1 30; } >"$work/slow_in/rows.csv"
cat >"$work/jobs/quick.lua" <<EOF
job { name = "${J}_quick", args = { greeting = "header", input = "$work/in/", out = "$work/out/" } }
function main(ctx)
  print("hello from " .. ctx.args.greeting)
  sluice.from_path{ uri = ctx.args.input, format = "csv" }:write{ to = ctx.args.out }
end
EOF
cat >"$work/jobs/failing.lua" <<EOF
job { name = "${J}_fail", args = { input = "$work/in/", out = "$work/out_fail/" } }
function main(ctx)
  sluice.from_path{ uri = ctx.args.input, format = "csv" }
    :map(function(r) error("boom at row " .. r.id) end)
    :write{ to = ctx.args.out }
end
EOF
# about 2 s of CPU per row, 30 rows: far longer than the test waits, bounded
# by the job's 3-minute timeout should a stop not work
cat >"$work/jobs/slow.lua" <<EOF
job { name = "${J}_slow", args = { input = "$work/slow_in/", out = "$work/out_slow/" },
      timeout = 180, max_concurrency = 2 }
function main(ctx)
  sluice.from_path{ uri = ctx.args.input, format = "csv" }
    :map(function(r) local t = os.clock(); while os.clock() - t < 2 do end; return r end)
    :write{ to = ctx.args.out }
end
EOF

# ---- usage errors: exit 2, nothing touched
"$SLUICE" start >/dev/null 2>"$work/u1.err"
check start_no_job_exit_2 test "$?:$(grep -c 'which job' "$work/u1.err")" = 2:1
"$SLUICE" start "${J}_quick" --arg novalue >/dev/null 2>&1
check start_bad_arg_exit_2 test $? = 2
"$SLUICE" start "${J}_quick" --timeout 0 >/dev/null 2>&1
check start_bad_timeout_exit_2 test $? = 2
"$SLUICE" start "${J}_quick" --workers x >/dev/null 2>&1
check start_bad_workers_exit_2 test $? = 2
"$SLUICE" start "${J}_quick" extra >/dev/null 2>&1
check start_two_jobs_exit_2 test $? = 2
"$SLUICE" runs >/dev/null 2>&1
check runs_no_job_exit_2 test $? = 2
"$SLUICE" runs "${J}_quick" --limit -1 >/dev/null 2>&1
check runs_bad_limit_exit_2 test $? = 2
"$SLUICE" jobs extra >/dev/null 2>&1
check jobs_extra_arg_exit_2 test $? = 2
"$SLUICE" stop >/dev/null 2>&1
check stop_no_run_exit_2 test $? = 2
"$SLUICE" logs --bogus x >/dev/null 2>&1
check logs_bad_option_exit_2 test $? = 2
"$SLUICE" start --help >"$work/help.out"
check start_help test "$?:$(grep -q 'running .sluice serve' "$work/help.out" && echo y)" = 0:y
for c in jobs runs start stop logs; do
    "$SLUICE" help "$c" >/dev/null 2>&1 || bad "help_$c"
done

# ---- register the jobs (a server that is stopped again: runs stay queued)
start_server "$work/serve1.log"
check server_registers_jobs grep -q "3 jobs registered" "$work/serve1.log"
stop_server

"$SLUICE" jobs >"$work/jobs.txt"
check jobs_lists test "$?:$(grep -c "^${J}_" "$work/jobs.txt")" = 0:3
check jobs_row_fields grep -Eq "^${J}_slow +file:$work/jobs/slow.lua +- +2 +3m +0 +- +-\$" "$work/jobs.txt"
"$SLUICE" jobs --json >"$work/jobs.json"
check jobs_json test "$(jget "$work/jobs.json" '(j=>[j.Command.ScriptLocation,j.DefaultArguments["--greeting"],j.ExecutionProperty.MaxConcurrentRuns,j.Timeout,j.MaxRetries].join(" "))(d.Jobs.find(j=>j.Name==="'"${J}_quick"'"))')" \
    = "$work/jobs/quick.lua header 1 2880 0"

# ---- unknown jobs and runs: exit 1 with a message
"$SLUICE" start "${J}_nope" >/dev/null 2>"$work/nope.err"
check start_unknown_job test "$?:$(grep -c "${J}_nope.*not found" "$work/nope.err")" = 1:1
"$SLUICE" runs "${J}_nope" >/dev/null 2>"$work/nope2.err"
check runs_unknown_job test "$?:$(grep -c "job \"${J}_nope\" not found" "$work/nope2.err")" = 1:1
"$SLUICE" stop "jr_${J}_nope" >/dev/null 2>"$work/nope3.err"
check stop_unknown_run test "$?:$(grep -c 'not found' "$work/nope3.err")" = 1:1
"$SLUICE" logs "jr_${J}_nope" >/dev/null 2>"$work/nope4.err"
check logs_unknown_run test "$?:$(grep -c 'not found' "$work/nope4.err")" = 1:1

# ---- queued runs (no server)
RUN1=$("$SLUICE" start "${J}_quick" --arg greeting=cli --arg --extra=x)
check start_prints_id test "$?:$([[ $RUN1 =~ ^jr_[0-9a-f]{64}$ ]] && echo id)" = 0:id
"$SLUICE" start "${J}_quick" >/dev/null 2>"$work/limit.err"
check start_concurrent_runs_exceeded test "$?:$(grep -c 'MaxConcurrentRuns' "$work/limit.err")" = 1:1
"$SLUICE" runs "${J}_quick" >"$work/runs.txt"
check runs_lists_queued grep -Eq "^$RUN1 +0 +STARTING +20[0-9-]+T[0-9:]+Z +- +- +-\$" "$work/runs.txt"
"$SLUICE" runs "${J}_quick" --json >"$work/runs.json"
check runs_json_shape test "$(jget "$work/runs.json" '(r=>[d.JobRuns.length,r.Id,r.JobName,r.Attempt,r.JobRunState,r.Arguments["--greeting"],r.Arguments["--extra"],r.Timeout,r.ExecutionTime,typeof r.StartedOn,r.CompletedOn===undefined].join(" "))(d.JobRuns[0])')" \
    = "1 $RUN1 ${J}_quick 0 STARTING cli x 2880 0 number true"
"$SLUICE" logs "$RUN1" >"$work/queued.log" 2>"$work/queued.err"
check logs_of_queued_run_empty test "$?:$(wc -c <"$work/queued.log")" = 0:0
"$SLUICE" stop "$RUN1" --job "${J}_slow" >/dev/null 2>"$work/wrongjob.err"
check stop_wrong_job test "$?:$(grep -c 'not found' "$work/wrongjob.err")" = 1:1
"$SLUICE" stop "$RUN1" >"$work/stop1.out"
check stop_queued test "$?:$(grep -Ec "^run $RUN1: STOPP(ED|ING)\$" "$work/stop1.out")" = 0:1
check stop_queued_stopped wait_state "$RUN1" "${J}_quick" STOPPED 30
"$SLUICE" stop "$RUN1" >/dev/null 2>"$work/stop2.err"
check stop_terminal_run test "$?:$(grep -c 'already STOPPED' "$work/stop2.err")" = 1:1
"$SLUICE" start "${J}_quick" --timeout 5 --workers 2 --json >"$work/start2.json"
check start_json test "$?:$(jget "$work/start2.json" '/^jr_[0-9a-f]{64}$/.test(d.JobRunId)')" = 0:true
RUN2=$(jget "$work/start2.json" 'd.JobRunId')
"$SLUICE" runs "${J}_quick" --limit 1 --json >"$work/runs2.json"
check runs_limit_newest_first test "$(jget "$work/runs2.json" '(r=>[d.JobRuns.length,r.Id,r.Timeout,r.NumberOfWorkers,Object.keys(r.Arguments||{}).length===0].join(" "))(d.JobRuns[0])')" \
    = "1 $RUN2 5 2 true"
"$SLUICE" runs "${J}_quick" --json >"$work/runs3.json"
check runs_all test "$(jget "$work/runs3.json" 'd.JobRuns.map(r=>r.Id+":"+r.JobRunState).join(" ")')" \
    = "$RUN2:STARTING $RUN1:STOPPED"
"$SLUICE" stop "$RUN2" >/dev/null
wait_state "$RUN2" "${J}_quick" STOPPED 30 || bad "stop_second_queued"

# ---- with a server executing the queue
if ! grep -q sl_dispatch "$ROOT/cli/cmd_serve.c"; then
    echo "skip - cli_jobs: end-to-end runs need the dispatcher in sluice serve"
    exit $((n_fail > 0))
fi
start_server "$work/serve2.log" || bad "server_starts"

"$SLUICE" start "${J}_quick" --arg greeting=cli --wait >"$work/wait.out" 2>"$work/wait.err"
check start_wait_succeeds test $? = 0
RUN3=$(head -1 "$work/wait.out")
check start_wait_prints_id test "$([[ $RUN3 =~ ^jr_[0-9a-f]{64}$ ]] && echo id)" = id
check start_wait_prints_log grep -q "hello from cli" "$work/wait.out"
check start_wait_final_state grep -Eq "^run $RUN3 of job \"${J}_quick\": SUCCEEDED in " "$work/wait.out"
check run_wrote_output test -n "$(find "$work/out" -type f -name 'part-*' 2>/dev/null)"
"$SLUICE" logs "$RUN3" >"$work/logs3.out"
check logs_prints_log test "$?:$(grep -q 'hello from cli' "$work/logs3.out" && echo y)" = 0:y
"$SLUICE" runs "${J}_quick" --json >"$work/runs4.json"
check runs_succeeded test "$(jget "$work/runs4.json" '(r=>[r.Id,r.JobRunState,typeof r.CompletedOn,r.CompletedOn>=r.StartedOn,r.ExecutionTime>=0].join(" "))(d.JobRuns[0])')" \
    = "$RUN3 SUCCEEDED number true true"
"$SLUICE" jobs >"$work/jobs2.txt"
check jobs_latest_run grep -Eq "^${J}_quick .* SUCCEEDED +20[0-9-]+T[0-9:]+Z\$" "$work/jobs2.txt"

"$SLUICE" start "${J}_quick" --wait --json >"$work/wait.json" 2>"$work/wait_json.err"
check start_wait_json test "$?:$(jget "$work/wait.json" '[d.JobRun.JobRunState,Object.keys(d.JobRun.Arguments||{}).length===0].join(" ")')" = "0:SUCCEEDED true"
check start_wait_json_log_on_stderr grep -q "hello from header" "$work/wait_json.err"

"$SLUICE" start "${J}_fail" --wait >"$work/fail.out" 2>&1
check start_wait_failed_exit_1 test $? = 1
check start_wait_failed_state grep -Eq "^run jr_[0-9a-f]{64} of job \"${J}_fail\": FAILED in .*boom" "$work/fail.out"
"$SLUICE" runs "${J}_fail" --json >"$work/fail.json"
check failed_error_message test "$(jget "$work/fail.json" '(r=>r.JobRunState+" "+/boom/.test(r.ErrorMessage))(d.JobRuns[0])')" = "FAILED true"

SLOW=$("$SLUICE" start "${J}_slow")
check slow_running wait_state "$SLOW" "${J}_slow" RUNNING 60
"$SLUICE" logs --follow "$SLOW" >"$work/follow.out" 2>&1 &
follow_pid=$!
"$SLUICE" stop "$SLOW" >"$work/stop_slow.out"
check stop_running test "$?:$(grep -Ec "^run $SLOW: STOPP(ING|ED)\$" "$work/stop_slow.out")" = 0:1
check stop_running_stopped wait_state "$SLOW" "${J}_slow" STOPPED 60
end=$((SECONDS + 30))
while kill -0 "$follow_pid" 2>/dev/null && [ $SECONDS -lt $end ]; do sleep 0.2; done
wait "$follow_pid" 2>/dev/null
check follow_ends_with_run test "$?:$(kill -0 "$follow_pid" 2>/dev/null && echo alive)" = 0:
follow_pid=
check slow_output_not_published test -z "$(find "$work/out_slow" -type f -name 'part-*' 2>/dev/null)"
stop_server

[ "$n_fail" -gt 0 ] && { echo "--- server log"; tail -20 "$work/serve2.log" 2>/dev/null; }
exit $((n_fail > 0))
