#!/usr/bin/env bash
# tests/integration/test_serve_runs.sh - job runs through `sluice serve`,
# driven by the real AWS CLI v2 with SigV4 against real PostgreSQL
# (spec/aws-api.md §3.6): StartJobRun -> GetJobRun until SUCCEEDED with the
# run's arguments reaching the script, GetJobRuns (newest first, paging),
# FAILED with the script's error and MaxRetries retries as new attempts,
# ConcurrentRunsExceededException, BatchStopJobRun (stop, unknown id,
# finished run), Timeout -> TIMEOUT, a missing script -> FAILED naming it,
# StartJobRun with JobRunId, the captured log, /metrics, DeleteJob removing
# the run history. Timeout minutes are shortened with the config's
# timeout_minute_seconds so the test takes seconds.
set -u
SLUICE=${SLUICE_BIN:?SLUICE_BIN not set}
AWS=/usr/bin/aws
n_fail=0
ok() { echo "ok - $1"; }
bad() { echo "not ok - $1"; n_fail=$((n_fail + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
if [ -z "${SLUICE_CATALOG:-}" ]; then
    echo "skip - serve_runs: needs PostgreSQL (SLUICE_CATALOG)"
    exit 0
fi
if ! "$AWS" --version 2>&1 | grep -q '^aws-cli/2\.'; then
    echo "skip - serve_runs: needs the AWS CLI v2 at $AWS"
    exit 0
fi
work=$(mktemp -d /tmp/sluice-serve-runs-XXXXXX)
J=sr_$$
. "$(dirname "$0")/private_catalog.sh"
if ! private_catalog "$J"; then
    echo "skip - serve_runs: cannot create a database of its own (needs CREATEDB)"
    rm -rf "$work"
    exit 0
fi
server_pid=
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    drop_private_catalog
    [ -n "${SLUICE_TEST_KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
jget() { node -e "const d=JSON.parse(require('fs').readFileSync('$1','utf8'));console.log($2)"; }

PORT=$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
URL=http://127.0.0.1:$PORT
S3_ENDPOINT=${AWS_ENDPOINT_URL:-} # s3rver and its keys, for a job script kept in S3
S3_KEY=${AWS_ACCESS_KEY_ID:-} S3_SECRET=${AWS_SECRET_ACCESS_KEY:-}
export AWS_ACCESS_KEY_ID=AKIDRUNS AWS_SECRET_ACCESS_KEY=runsecret AWS_DEFAULT_REGION=us-east-1
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
unset AWS_SESSION_TOKEN AWS_PROFILE AWS_ENDPOINT_URL
glue() { "$AWS" --endpoint-url "$URL" glue "$@"; }

# ---- jobs: one that copies, one that fails, one that is slow
mkdir -p "$work/jobs" "$work/in" "$work/slow_in"
printf 'id,v\n1,10\n2,20\n3,30\n' >"$work/in/a.csv"
for i in $(seq 1 60); do echo "$i,x"; done | sed '1i id,v' >"$work/slow_in/a.csv"
cat >"$work/jobs/copy.lua" <<EOF
job { name = "${J}_copy", args = { tag = "default" } }
function main(ctx)
  print("copying with tag " .. ctx.args.tag .. " as " .. ctx.args.JOB_NAME .. " run " .. ctx.args.JOB_RUN_ID)
  sluice.from_path{ uri = "$work/in/", format = "csv" }
    :map(function(r) r.tag = ctx.args.tag; return r end)
    :write{ to = "$work/out/" .. ctx.args.tag .. "/" }
end
EOF
cat >"$work/jobs/fail.lua" <<EOF
job { name = "${J}_fail", retries = 1 }
function main(ctx)
  sluice.from_path{ uri = "$work/in/", format = "csv" }
    :map(function(r) if r.id == 2 then error("row two is bad") end; return r end)
    :write{ to = "$work/fail_out/" }
end
EOF
cat >"$work/jobs/slow.lua" <<EOF
job { name = "${J}_slow", max_concurrency = 1 }
function main(ctx)
  sluice.from_path{ uri = "$work/slow_in/", format = "csv" }
    :map(function(r) local x = 0; for i = 1, 20000000 do x = x + i end; r.x = x; return r end)
    :write{ to = "$work/slow_out/" }
end
EOF
printf 'job { name = "%s_badsched", schedule = "every day" }\nfunction main(ctx) end\n' "$J" \
    >"$work/jobs/badsched.lua"
cat >"$work/sluice.conf" <<EOF
# test settings: short leases, quick retries, a "minute" of Timeout is 2 s
max_runs = 4
retry_delay_seconds = 1
stop_grace_seconds = 2
timeout_minute_seconds = 2
lease_seconds = 10
EOF

AWS_ENDPOINT_URL_S3=$S3_ENDPOINT AWS_ACCESS_KEY_ID=$S3_KEY AWS_SECRET_ACCESS_KEY=$S3_SECRET \
    SLUICE_API_KEYS=AKIDRUNS:runsecret SLUICE_HOME="$work/home" "$SLUICE" serve \
    --listen "127.0.0.1:$PORT" --jobs "$work/jobs" --config "$work/sluice.conf" \
    >"$work/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 50); do
    curl -sf "$URL/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done
check server_up test "$(curl -s "$URL/healthz")" = ok

# wait_state JOB RUN STATE...: polls the run's row (at most 60 s; psql is
# quicker than starting the AWS CLI each time, GetJobRun is checked on its
# own) until the run is in one of the states; prints the final state
wait_state() {
    local job=$1 run=$2; shift 2
    local st=""
    for _ in $(seq 600); do
        st=$(psql "$SLUICE_CATALOG" -Atc "SELECT state FROM sluice.job_run
            WHERE job_name = '$job' AND id = '$run'" 2>/dev/null)
        for want in "$@"; do [ "$st" = "$want" ] && { echo "$st"; return 0; }; done
        sleep 0.1
    done
    echo "$st"
    return 1
}

# ---- a run that succeeds, with its own arguments
glue start-job-run --job-name "${J}_copy" --arguments '{"--tag":"t1"}' >"$work/start.json"
check start_job_run test "$?" = 0
R1=$(jget "$work/start.json" 'd.JobRunId')
check run_id_shape test "$(echo "$R1" | grep -cE '^jr_[0-9a-f]{64}$')" = 1
check run_succeeded test "$(wait_state "${J}_copy" "$R1" SUCCEEDED FAILED ERROR)" = SUCCEEDED
check run_output_uses_argument test -f "$work/out/t1/_SUCCESS"
check run_output_named_by_run test "$(ls "$work/out/t1" | grep -c "^part-$R1-")" -ge 1
glue get-job-run --job-name "${J}_copy" --run-id "$R1" >"$work/run1.json"
check get_job_run_fields test "$(jget "$work/run1.json" '(r=>[r.Id===process.argv[1]||r.Id.length,r.JobName,r.Attempt,r.Arguments["--tag"],r.Timeout,!!r.CompletedOn,r.ErrorMessage===undefined].join(" "))(d.JobRun)')" \
    = "67 ${J}_copy 0 t1 2880 true true"
check get_job_run_times test "$(jget "$work/run1.json" '(r=>r.StartedOn<=r.CompletedOn && /\+00:00$/.test(r.StartedOn))(d.JobRun)')" = true
check run_log_captured test "$(psql "$SLUICE_CATALOG" -Atc "SELECT log LIKE '%copying with tag t1 as ${J}_copy run $R1%' FROM sluice.job_run_log WHERE run_id = '$R1'")" = t

# the job's default argument when the run gives none; newest run first
R2=$(glue start-job-run --job-name "${J}_copy" --query JobRunId --output text)
check default_argument_run test "$(wait_state "${J}_copy" "$R2" SUCCEEDED FAILED ERROR)" = SUCCEEDED
check default_argument_used test -f "$work/out/default/_SUCCESS"
glue get-job-runs --job-name "${J}_copy" >"$work/runs.json"
check get_job_runs_newest_first test "$(jget "$work/runs.json" 'd.JobRuns.map(r=>r.Id).join(",")')" = "$R2,$R1"
glue get-job-runs --job-name "${J}_copy" --page-size 1 >"$work/runs_paged.json"
check get_job_runs_paged test "$(jget "$work/runs_paged.json" 'd.JobRuns.map(r=>r.Id).join(",")')" = "$R2,$R1"
glue get-job-runs --job-name "${J}_copy" --max-items 1 >"$work/runs_p1.json"
check get_job_runs_next_token test "$(jget "$work/runs_p1.json" 'd.JobRuns.length+":"+!!d.NextToken')" = "1:true"

# ---- a failing run: the script's error, then its retry as attempt 1
R3=$(glue start-job-run --job-name "${J}_fail" --query JobRunId --output text)
check failed_run test "$(wait_state "${J}_fail" "$R3" FAILED SUCCEEDED ERROR)" = FAILED
glue get-job-run --job-name "${J}_fail" --run-id "$R3" >"$work/fail.json"
check failed_error_message test "$(jget "$work/fail.json" '/fail\.lua:4: row two is bad/.test(d.JobRun.ErrorMessage)')" = true
R3b="${R3}_attempt_1"
check retry_run_succeeds_or_fails test "$(wait_state "${J}_fail" "$R3b" FAILED SUCCEEDED ERROR)" = FAILED
glue get-job-run --job-name "${J}_fail" --run-id "$R3b" >"$work/retry.json"
check retry_attempt_fields test "$(jget "$work/retry.json" '[d.JobRun.Attempt,d.JobRun.PreviousRunId].join(" ")')" = "1 $R3"
sleep 2
check no_second_retry test "$(glue get-job-runs --job-name "${J}_fail" --query 'length(JobRuns)' --output text)" = 2
# StartJobRun with JobRunId: a new attempt of a failed run; a succeeded one refused
R3c=$(glue start-job-run --job-name "${J}_fail" --job-run-id "$R3" --query JobRunId --output text)
check rerun_failed_id test "$R3c" = "${R3}_attempt_2"
wait_state "${J}_fail" "$R3c" FAILED SUCCEEDED ERROR >/dev/null
glue start-job-run --job-name "${J}_copy" --job-run-id "$R1" >/dev/null 2>"$work/rerun_ok.err"
check rerun_succeeded_refused test "$?:$(grep -c 'An error occurred (InvalidInputException) when calling the StartJobRun operation: .*SUCCEEDED' "$work/rerun_ok.err")" = 254:1
glue start-job-run --job-name "${J}_copy" --job-run-id jr_nope >/dev/null 2>"$work/rerun404.err"
check rerun_unknown_id test "$?:$(grep -c 'An error occurred (EntityNotFoundException) when calling the StartJobRun operation' "$work/rerun404.err")" = 254:1

# ---- MaxConcurrentRuns, then BatchStopJobRun
R4=$(glue start-job-run --job-name "${J}_slow" --query JobRunId --output text)
check slow_running test "$(wait_state "${J}_slow" "$R4" RUNNING SUCCEEDED FAILED)" = RUNNING
glue start-job-run --job-name "${J}_slow" >/dev/null 2>"$work/conc.err"
check concurrent_runs_exceeded test "$?:$(grep -c 'An error occurred (ConcurrentRunsExceededException) when calling the StartJobRun operation: .*MaxConcurrentRuns is 1' "$work/conc.err")" = 254:1
PID4=$(psql "$SLUICE_CATALOG" -Atc "SELECT pid FROM sluice.job_run WHERE id = '$R4'")
glue batch-stop-job-run --job-name "${J}_slow" --job-run-ids "$R4" jr_doesnotexist >"$work/stop.json"
check batch_stop_exit test "$?" = 0
check batch_stop_success test "$(jget "$work/stop.json" 'd.SuccessfulSubmissions.map(s=>s.JobRunId).join(",")')" = "$R4"
check batch_stop_errors test "$(jget "$work/stop.json" 'd.Errors.map(e=>e.JobRunId+"="+e.ErrorDetail.ErrorCode).join(",")')" \
    = "jr_doesnotexist=EntityNotFoundException"
check stopped_state test "$(wait_state "${J}_slow" "$R4" STOPPED SUCCEEDED FAILED)" = STOPPED
check stopped_child_gone test "$(kill -0 "$PID4" 2>/dev/null && echo alive || echo gone)" = gone
check stopped_nothing_published test ! -e "$work/slow_out/_SUCCESS"
glue batch-stop-job-run --job-name "${J}_slow" --job-run-ids "$R4" >"$work/stop2.json"
check batch_stop_finished_run test "$(jget "$work/stop2.json" 'd.SuccessfulSubmissions.length+" "+d.Errors.map(e=>e.ErrorDetail.ErrorCode+": "+e.ErrorDetail.ErrorMessage).join(",")')" \
    = "0 InvalidInputException: stop run \"$R4\": run \"$R4\" is already STOPPED"
glue batch-stop-job-run --job-name "${J}_slow" --job-run-ids >/dev/null 2>"$work/stop0.err"
check batch_stop_needs_ids test "$?" != 0

# ---- Timeout: a job created through the API with Timeout 1 (2 s here)
glue create-job --name "${J}_to" --role r --command "Name=glueetl,ScriptLocation=$work/jobs/slow.lua" \
    --timeout 1 >/dev/null
R5=$(glue start-job-run --job-name "${J}_to" --query JobRunId --output text)
check timeout_state test "$(wait_state "${J}_to" "$R5" TIMEOUT SUCCEEDED FAILED STOPPED)" = TIMEOUT
check timeout_message test "$(glue get-job-run --job-name "${J}_to" --run-id "$R5" --query JobRun.ErrorMessage --output text)" = "timed out after 1 minute (Timeout)"
# a run-level Timeout overrides the job's: 3 "minutes" (6 s) still end in TIMEOUT
glue get-job-run --job-name "${J}_to" --run-id "$R5" --query JobRun.Timeout --output text >"$work/to.txt"
check timeout_effective test "$(cat "$work/to.txt")" = 1

# ---- a job whose script is in S3: fetched when the run starts
if [ -n "$S3_ENDPOINT" ] && [ -n "${SLUICE_TEST_BUCKET:-}" ]; then
    AWS_ACCESS_KEY_ID=$S3_KEY AWS_SECRET_ACCESS_KEY=$S3_SECRET \
        "$AWS" --endpoint-url "$S3_ENDPOINT" s3 cp "$work/jobs/copy.lua" \
        "s3://$SLUICE_TEST_BUCKET/${J}/copy.lua" >/dev/null 2>&1
    glue create-job --name "${J}_s3" --role r \
        --command "ScriptLocation=s3://$SLUICE_TEST_BUCKET/${J}/copy.lua" \
        --default-arguments '{"--tag":"from_s3"}' >/dev/null
    R7=$(glue start-job-run --job-name "${J}_s3" --query JobRunId --output text)
    check s3_script_run test "$(wait_state "${J}_s3" "$R7" SUCCEEDED FAILED ERROR)" = SUCCEEDED
    check s3_script_output test -f "$work/out/from_s3/_SUCCESS"
    check s3_script_copy_removed test -z "$(ls "$work/home/server/scripts" 2>/dev/null)"
else
    echo "skip - s3_script_run: needs the S3 emulator (AWS_ENDPOINT_URL, SLUICE_TEST_BUCKET)"
fi

# ---- a run's log through the API (SluiceService.GetJobRunLog), signed by curl
curl -s --aws-sigv4 "aws:amz:us-east-1:glue" --user "AKIDRUNS:runsecret" \
    -H 'X-Amz-Target: SluiceService.GetJobRunLog' -H 'Content-Type: application/x-amz-json-1.1' \
    -d "{\"RunId\":\"$R1\"}" "$URL/" >"$work/log.json"
check api_run_log test "$(jget "$work/log.json" '/copying with tag t1/.test(d.Log) && d.JobRunState==="SUCCEEDED" && d.NextOffset===d.Total && d.Offset===0')" = true
curl -s --aws-sigv4 "aws:amz:us-east-1:glue" --user "AKIDRUNS:runsecret" \
    -H 'X-Amz-Target: SluiceService.GetJobRunLog' -H 'Content-Type: application/x-amz-json-1.1' \
    -d "{\"RunId\":\"$R1\",\"Offset\":8,\"MaxCharacters\":4}" "$URL/" >"$work/log2.json"
check api_run_log_range test "$(jget "$work/log2.json" 'd.Log.length+" "+d.Offset+" "+d.NextOffset')" = "4 8 12"
curl -s --aws-sigv4 "aws:amz:us-east-1:glue" --user "AKIDRUNS:runsecret" \
    -H 'X-Amz-Target: SluiceService.GetJobRunLog' -H 'Content-Type: application/x-amz-json-1.1' \
    -d '{"RunId":"jr_nope"}' "$URL/" >"$work/log404.json"
check api_run_log_unknown test "$(jget "$work/log404.json" 'd.__type')" = EntityNotFoundException

# ---- a job whose script is missing: FAILED naming it (not an API error)
glue create-job --name "${J}_missing" --role r --command "ScriptLocation=$work/nope.lua" >/dev/null
R6=$(glue start-job-run --job-name "${J}_missing" --query JobRunId --output text)
check missing_script_failed test "$(wait_state "${J}_missing" "$R6" FAILED SUCCEEDED ERROR)" = FAILED
check missing_script_message test "$(glue get-job-run --job-name "${J}_missing" --run-id "$R6" --query JobRun.ErrorMessage --output text | grep -c "$work/nope.lua")" = 1

# ---- errors
glue start-job-run --job-name "${J}_nojob" >/dev/null 2>"$work/nojob.err"
check start_unknown_job test "$?:$(grep -c 'An error occurred (EntityNotFoundException) when calling the StartJobRun operation' "$work/nojob.err")" = 254:1
glue get-job-run --job-name "${J}_copy" --run-id jr_nope >/dev/null 2>"$work/norun.err"
check get_unknown_run test "$?:$(grep -c 'An error occurred (EntityNotFoundException) when calling the GetJobRun operation' "$work/norun.err")" = 254:1
glue get-job-runs --job-name "${J}_nojob" >/dev/null 2>"$work/noruns.err"
check get_runs_unknown_job test "$?:$(grep -c 'An error occurred (EntityNotFoundException) when calling the GetJobRuns operation' "$work/noruns.err")" = 254:1
AWS_SECRET_ACCESS_KEY=wrong glue start-job-run --job-name "${J}_copy" >/dev/null 2>"$work/badsig.err"
check wrong_secret_refused test "$?:$(grep -c 'InvalidSignatureException' "$work/badsig.err")" = 254:1
code=$(curl -s -o "$work/unsigned.json" -w '%{http_code}' -X POST "$URL/" \
    -H 'X-Amz-Target: AWSGlue.StartJobRun' -H 'Content-Type: application/x-amz-json-1.1' \
    -d "{\"JobName\":\"${J}_copy\"}")
check unsigned_refused test "$code:$(jget "$work/unsigned.json" 'd.__type')" = "403:MissingAuthenticationTokenException"
check unsigned_started_nothing test "$(glue get-job-runs --job-name "${J}_copy" --query 'length(JobRuns)' --output text)" = 2

# ---- /metrics: runs by state, queue depth, durations
curl -s "$URL/metrics" >"$work/metrics.txt"
check metrics_runs_by_state grep -qE '^sluice_runs\{state="SUCCEEDED"\} [1-9]' "$work/metrics.txt"
check metrics_queue_depth grep -qE '^sluice_run_queue_depth [0-9]+$' "$work/metrics.txt"
check metrics_durations grep -qE '^sluice_run_duration_seconds_count [1-9]' "$work/metrics.txt"
check metrics_finished_timeout grep -qE '^sluice_dispatch_runs_finished_total\{state="TIMEOUT"\} 1$' "$work/metrics.txt"
check metrics_start_job_run grep -qE '^sluice_api_requests_total\{operation="StartJobRun",status="200"\} [1-9]' "$work/metrics.txt"

# ---- a job{} schedule that is not cron is refused at registration
check bad_schedule_logged grep -q 'badsched.lua: job{} schedule .*every day.*cron' "$work/serve.log"
check bad_schedule_not_registered test "$(psql "$SLUICE_CATALOG" -Atc "SELECT count(*) FROM sluice.job WHERE name = '${J}_badsched'")" = 0

# ---- --jobs is watched: a changed file is registered again, a removed one's job deleted
sleep 1.1 # a new modification time, whatever the file system's resolution
sed -i 's/tag = "default"/tag = "changed"/' "$work/jobs/copy.lua"
until_sql() { for _ in $(seq 100); do [ "$(psql "$SLUICE_CATALOG" -Atc "$1")" = "$2" ] && return 0; sleep 0.1; done; return 1; }
check changed_file_reregistered until_sql "SELECT default_arguments->>'--tag' FROM sluice.job WHERE name = '${J}_copy'" changed
rm "$work/jobs/fail.lua"
check removed_file_job_deleted until_sql "SELECT count(*) FROM sluice.job WHERE name = '${J}_fail'" 0

# ---- DeleteJob removes the run history
glue delete-job --job-name "${J}_to" >/dev/null
check delete_job_forgets_runs test "$(psql "$SLUICE_CATALOG" -Atc "SELECT count(*) FROM sluice.job_run WHERE job_name = '${J}_to'")" = 0

# ---- the server stops cleanly and nothing stays in progress
kill "$server_pid"
wait "$server_pid"
check server_exit_0 test $? = 0
server_pid=
check nothing_in_progress test "$(psql "$SLUICE_CATALOG" -Atc "SELECT count(*) FROM sluice.job_run WHERE job_name LIKE '${J}%' AND state NOT IN ('SUCCEEDED','FAILED','STOPPED','TIMEOUT','ERROR')")" = 0
[ "$n_fail" -eq 0 ]
