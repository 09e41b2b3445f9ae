#!/usr/bin/env bash
# tests/integration/test_serve_triggers.sh - the Glue trigger operations of
# `sluice serve` driven by the real AWS CLI v2 (/usr/bin/aws) against real
# PostgreSQL (spec/aws-api.md §3.8, §5): create/get/get-triggers (paging,
# --dependent-job-name)/start/stop/delete for SCHEDULED, CONDITIONAL and
# ON_DEMAND triggers, every validation error as the CLI prints it, an
# ON_DEMAND start that queues a run carrying TriggerName (and
# ConcurrentRunsExceeded at the job's limit) on a server without dispatcher;
# then, with a dispatching server, a CONDITIONAL trigger end to end (job A
# succeeds -> job B runs with PredecessorRuns) and a job{} header schedule
# "* * * * *" that starts a run within 90 s. Schedule catch-up and
# exactly-once fires are unit-tested (tests/scheduler/test_sched.c,
# tests/runtime/test_catalog_trigger.c).
set -u
SLUICE=${SLUICE_BIN:?SLUICE_BIN not set}
AWS=/usr/bin/aws
n_fail=0
ok() { echo "ok - $1"; }
bad() { echo "not ok - $1"; n_fail=$((n_fail + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
if [ -z "${SLUICE_CATALOG:-}" ]; then
    echo "skip - serve_triggers: needs PostgreSQL (SLUICE_CATALOG)"
    exit 0
fi
if ! "$AWS" --version 2>&1 | grep -q '^aws-cli/2\.'; then
    echo "skip - serve_triggers: needs the AWS CLI v2 at $AWS"
    exit 0
fi
work=$(mktemp -d /tmp/sluice-serve-triggers-XXXXXX)
J=st_$$
server_pid=
. "$(dirname "$0")/private_catalog.sh"
if ! private_catalog "$J"; then
    echo "skip - serve_triggers: cannot create a database of its own (needs CREATEDB)"
    rm -rf "$work"
    exit 0
fi
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    drop_private_catalog
    rm -rf "$work"
}
trap cleanup EXIT
jget() { node -e "const d=JSON.parse(require('fs').readFileSync('$1','utf8'));console.log($2)"; }

PORT=$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
URL=http://127.0.0.1:$PORT
export AWS_ACCESS_KEY_ID=AKIDTEST AWS_SECRET_ACCESS_KEY=secret1 AWS_DEFAULT_REGION=us-east-1
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
unset AWS_SESSION_TOKEN AWS_PROFILE AWS_ENDPOINT_URL
export SLUICE_HOME=$work/home
glue() { "$AWS" --endpoint-url "$URL" glue "$@"; }

start_server() { # LOG, extra serve options...: waits until it answers /healthz
    local log=$1; shift
    SLUICE_API_KEYS=AKIDTEST:secret1 "$SLUICE" --log-level debug serve --listen "127.0.0.1:$PORT" \
        "$@" >"$log" 2>&1 &
    server_pid=$!
    for _ in $(seq 100); do
        curl -sf "$URL/healthz" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}
stop_server() {
    kill -TERM "$server_pid" 2>/dev/null
    wait "$server_pid" 2>/dev/null
    server_pid=
}
# expect_error NAME CODE OPERATION [MESSAGE-REGEX] -- glue args...: exit 254 and the CLI's line
expect_error() {
    local name=$1 code=$2 op=$3 msg=${4:-} out rc
    shift 4
    [ "${1:-}" = -- ] && shift
    glue "$@" >/dev/null 2>"$work/err.txt"
    rc=$?
    out=$(cat "$work/err.txt")
    if [ "$rc" = 254 ] && grep -Eq "^An error occurred \\($code\\) when calling the $op operation: $msg" \
        "$work/err.txt"; then
        ok "$name"
    else
        bad "$name"
        echo "#   exit $rc: $out"
    fi
}

# ---- jobs: scripts that read a folder and write one
mkdir -p "$work/in" "$work/jobs" "$work/home"
printf 'id,v\n1,a\n2,b\n' >"$work/in/x.csv"
for n in a b lim; do
    cat >"$work/$n.lua" <<EOF
job { name = "${J}_$n" }
function main(ctx)
  sluice.from_path{ uri = "$work/in/", format = "csv" }:write{ to = "$work/out_$n/" }
end
EOF
done
start_server "$work/serve1.log" --no-dispatch || { bad server_starts; exit 1; }
for n in a b; do
    glue create-job --name "${J}_$n" --role r --command "Name=glueetl,ScriptLocation=$work/$n.lua" \
        --execution-property MaxConcurrentRuns=5 >/dev/null
done
glue create-job --name "${J}_lim" --role r --command "Name=glueetl,ScriptLocation=$work/lim.lua" \
    >/dev/null
check jobs_created test "$(glue get-jobs --query "length(Jobs[?starts_with(Name,'${J}_')])" --output text)" = 3

# ---- SCHEDULED
glue create-trigger --name "${J}_sched" --type SCHEDULED --schedule 'cron(0/15 * * * ? *)' \
    --actions "JobName=${J}_a" --start-on-creation --description 'every 15' >"$work/c1.json"
check create_scheduled test "$?:$(jget "$work/c1.json" 'd.Name')" = "0:${J}_sched"
glue get-trigger --name "${J}_sched" >"$work/g1.json"
check get_scheduled test "$(jget "$work/g1.json" '(t=>[t.Name,t.Type,t.State,t.Schedule,t.Description,t.Actions.length,t.Actions[0].JobName,t.Predicate===undefined].join("|"))(d.Trigger)')" \
    = "${J}_sched|SCHEDULED|ACTIVATED|cron(0/15 * * * ? *)|every 15|1|${J}_a|true"
check scheduled_state_reset test "$(psql "$SLUICE_CATALOG" -Atc "SELECT checked_until > now() - interval '5 minutes' FROM sluice.schedule_state WHERE key = 'sched:${J}_sched'")" = t
glue stop-trigger --name "${J}_sched" >"$work/s1.json"
check stop_scheduled test "$?:$(jget "$work/s1.json" 'd.Name')" = "0:${J}_sched"
check stopped_state test "$(glue get-trigger --name "${J}_sched" --query Trigger.State --output text)" = DEACTIVATED
glue start-trigger --name "${J}_sched" >/dev/null
check restarted_state test "$(glue get-trigger --name "${J}_sched" --query Trigger.State --output text)" = ACTIVATED

# ---- CONDITIONAL (created, started, stopped)
glue create-trigger --name "${J}_cond" --type CONDITIONAL \
    --predicate '{"Logical":"AND","Conditions":[{"LogicalOperator":"EQUALS","JobName":"'"${J}_a"'","State":"SUCCEEDED"},{"LogicalOperator":"EQUALS","JobName":"'"${J}_lim"'","State":"FAILED"}]}' \
    --actions '[{"JobName":"'"${J}_b"'","Arguments":{"--mode":"full"},"Timeout":5}]' >/dev/null
check create_conditional test $? = 0
glue get-trigger --name "${J}_cond" >"$work/g2.json"
check get_conditional test "$(jget "$work/g2.json" '(t=>[t.Type,t.State,t.Predicate.Logical,t.Predicate.Conditions.length,t.Predicate.Conditions[1].State,t.Actions[0].Arguments["--mode"],t.Actions[0].Timeout,t.Schedule===undefined].join("|"))(d.Trigger)')" \
    = "CONDITIONAL|CREATED|AND|2|FAILED|full|5|true"
glue start-trigger --name "${J}_cond" >/dev/null
check start_conditional test "$(glue get-trigger --name "${J}_cond" --query Trigger.State --output text)" = ACTIVATED
glue stop-trigger --name "${J}_cond" >/dev/null
check stop_conditional test "$(glue get-trigger --name "${J}_cond" --query Trigger.State --output text)" = DEACTIVATED

# ---- ON_DEMAND: start queues the runs, state stays CREATED
glue create-trigger --name "${J}_manual" --type ON_DEMAND \
    --actions "JobName=${J}_lim,Arguments={--day=mon}" >/dev/null
check create_on_demand test "$(glue get-trigger --name "${J}_manual" --query Trigger.State --output text)" = CREATED
glue start-trigger --name "${J}_manual" >"$work/st.json"
check start_on_demand test "$?:$(jget "$work/st.json" 'd.Name')" = "0:${J}_manual"
glue get-job-runs --job-name "${J}_lim" >"$work/runs.json" 2>"$work/runs.err"
check on_demand_run_visible test "$(jget "$work/runs.json" '(r=>[d.JobRuns.length,r.TriggerName,r.JobRunState,r.Arguments["--day"]].join("|"))(d.JobRuns[0])')" \
    = "1|${J}_manual|STARTING|mon"
check on_demand_stays_created test "$(glue get-trigger --name "${J}_manual" --query Trigger.State --output text)" = CREATED
expect_error on_demand_at_limit ConcurrentRunsExceededException StartTrigger "" -- \
    start-trigger --name "${J}_manual"
check at_limit_started_nothing test "$(glue get-job-runs --job-name "${J}_lim" --query 'length(JobRuns)' --output text)" = 1
expect_error stop_on_demand InvalidInputException StopTrigger "" -- stop-trigger --name "${J}_manual"
# the queued run must not be picked up by the dispatching server later
glue batch-stop-job-run --job-name "${J}_lim" \
    --job-run-ids "$(jget "$work/runs.json" 'd.JobRuns[0].Id')" >/dev/null

# ---- GetTriggers: dependent job, paging
glue create-trigger --name "${J}_manual2" --type ON_DEMAND \
    --actions "JobName=${J}_a" "JobName=${J}_b" >/dev/null
glue get-triggers --dependent-job-name "${J}_b" >"$work/dep.json"
check dependent_job_b test "$(jget "$work/dep.json" 'd.Triggers.map(t=>t.Name).join(",")')" = "${J}_cond,${J}_manual2"
glue get-triggers --dependent-job-name "${J}_a" >"$work/dep.json"
check dependent_job_a test "$(jget "$work/dep.json" 'd.Triggers.map(t=>t.Name).join(",")')" = "${J}_manual2,${J}_sched"
expect_error dependent_job_missing EntityNotFoundException GetTriggers "" -- \
    get-triggers --dependent-job-name "${J}_nope"
glue get-triggers --page-size 1 >"$work/paged.json"
glue get-triggers >"$work/unpaged.json"
mine='d.Triggers.map(t=>t.Name).filter(n=>n.startsWith("'${J}_'")).join(",")'
check get_triggers_all test "$(jget "$work/unpaged.json" "$mine")" = "${J}_cond,${J}_manual,${J}_manual2,${J}_sched"
check get_triggers_paged test "$(jget "$work/paged.json" "$mine")" = "$(jget "$work/unpaged.json" "$mine")"
glue get-triggers --max-items 1 >"$work/page1.json"
check get_triggers_next_token test "$(jget "$work/page1.json" 'd.Triggers.length+":"+!!d.NextToken')" = "1:true"

# ---- validation errors
act="JobName=${J}_a"
expect_error create_twice AlreadyExistsException CreateTrigger "Trigger ${J}_sched already exists" -- \
    create-trigger --name "${J}_sched" --type ON_DEMAND --actions "$act"
expect_error event_type InvalidInputException CreateTrigger "EVENT triggers are not supported" -- \
    create-trigger --name "${J}_x" --type EVENT --actions "$act"
expect_error bogus_type InvalidInputException CreateTrigger "" -- \
    create-trigger --name "${J}_x" --type BOGUS --actions "$act"
expect_error workflow_name InvalidInputException CreateTrigger "WorkflowName" -- \
    create-trigger --name "${J}_x" --type ON_DEMAND --actions "$act" --workflow-name wf
expect_error event_batching InvalidInputException CreateTrigger "EventBatchingCondition" -- \
    create-trigger --name "${J}_x" --type ON_DEMAND --actions "$act" --event-batching-condition BatchSize=2
expect_error scheduled_needs_schedule InvalidInputException CreateTrigger "Schedule is required" -- \
    create-trigger --name "${J}_x" --type SCHEDULED --actions "$act"
expect_error bad_cron InvalidInputException CreateTrigger "cron: field 2 \\(hours\\): 25 is out of range" -- \
    create-trigger --name "${J}_x" --type SCHEDULED --schedule 'cron(0 25 * * ? *)' --actions "$act"
expect_error five_field_cron InvalidInputException CreateTrigger "cron" -- \
    create-trigger --name "${J}_x" --type SCHEDULED --schedule '0 2 * * *' --actions "$act"
expect_error rate_schedule InvalidInputException CreateTrigger "cron" -- \
    create-trigger --name "${J}_x" --type SCHEDULED --schedule 'rate(5 minutes)' --actions "$act"
expect_error conditional_needs_predicate InvalidInputException CreateTrigger "Predicate is required" -- \
    create-trigger --name "${J}_x" --type CONDITIONAL --actions "$act"
expect_error logical_required InvalidInputException CreateTrigger "Predicate.Logical" -- \
    create-trigger --name "${J}_x" --type CONDITIONAL --actions "$act" \
    --predicate '{"Conditions":[{"JobName":"'"${J}_a"'","State":"SUCCEEDED"},{"JobName":"'"${J}_b"'","State":"SUCCEEDED"}]}'
expect_error unwatchable_state InvalidInputException CreateTrigger "State RUNNING cannot be watched" -- \
    create-trigger --name "${J}_x" --type CONDITIONAL --actions "$act" \
    --predicate '{"Conditions":[{"LogicalOperator":"EQUALS","JobName":"'"${J}_a"'","State":"RUNNING"}]}'
expect_error unwatchable_crawl_state InvalidInputException CreateTrigger "CrawlState RUNNING cannot be watched" -- \
    create-trigger --name "${J}_x" --type CONDITIONAL --actions "$act" \
    --predicate '{"Conditions":[{"LogicalOperator":"EQUALS","CrawlerName":"c","CrawlState":"RUNNING"}]}'
expect_error on_demand_start_on_creation InvalidInputException CreateTrigger "StartOnCreation" -- \
    create-trigger --name "${J}_x" --type ON_DEMAND --actions "$act" --start-on-creation
expect_error empty_actions InvalidInputException CreateTrigger "Actions" -- \
    create-trigger --name "${J}_x" --type ON_DEMAND --actions '[]'
expect_error action_job_and_crawler InvalidInputException CreateTrigger "Action 1 must name exactly one of JobName and CrawlerName" -- \
    create-trigger --name "${J}_x" --type ON_DEMAND --actions "JobName=${J}_a,CrawlerName=c"
expect_error action_job_missing EntityNotFoundException CreateTrigger "Job ${J}_nope not found" -- \
    create-trigger --name "${J}_x" --type ON_DEMAND --actions "JobName=${J}_nope"
expect_error action_crawler_missing EntityNotFoundException CreateTrigger "Crawler ${J}_nocrawler not found" -- \
    create-trigger --name "${J}_x" --type ON_DEMAND --actions "CrawlerName=${J}_nocrawler"
expect_error bad_trigger_name InvalidInputException CreateTrigger "" -- \
    create-trigger --name "bad name!" --type ON_DEMAND --actions "$act"
check nothing_created test "$(psql "$SLUICE_CATALOG" -Atc "SELECT count(*) FROM sluice.trigger WHERE name = '${J}_x'")" = 0
expect_error get_missing EntityNotFoundException GetTrigger "Trigger ${J}_nope not found" -- \
    get-trigger --name "${J}_nope"
expect_error start_missing EntityNotFoundException StartTrigger "Trigger ${J}_nope not found" -- \
    start-trigger --name "${J}_nope"
expect_error stop_missing EntityNotFoundException StopTrigger "Trigger ${J}_nope not found" -- \
    stop-trigger --name "${J}_nope"

# ---- delete (idempotent)
glue delete-trigger --name "${J}_sched" >"$work/d1.json"
check delete_trigger test "$?:$(jget "$work/d1.json" 'd.Name')" = "0:${J}_sched"
expect_error deleted_is_gone EntityNotFoundException GetTrigger "" -- get-trigger --name "${J}_sched"
check delete_drops_schedule_state test "$(psql "$SLUICE_CATALOG" -Atc "SELECT count(*) FROM sluice.schedule_state WHERE key = 'sched:${J}_sched'")" = 0
glue delete-trigger --name "${J}_sched" >"$work/d2.json"
check delete_missing_ok test "$?:$(jget "$work/d2.json" 'd.Name')" = "0:${J}_sched"
stop_server

# ---- end to end, with a dispatcher: CONDITIONAL A succeeded -> B, and a job{} header schedule
cat >"$work/jobs/cron.lua" <<EOF
job { name = "${J}_cron", schedule = "* * * * *" }
function main(ctx)
  sluice.from_path{ uri = "$work/in/", format = "csv" }:write{ to = "$work/out_cron/" }
end
EOF
start_server "$work/serve2.log" --jobs "$work/jobs" || { bad server_restarts; exit 1; }
glue create-trigger --name "${J}_after_a" --type CONDITIONAL --start-on-creation \
    --predicate '{"Conditions":[{"LogicalOperator":"EQUALS","JobName":"'"${J}_a"'","State":"SUCCEEDED"}]}' \
    --actions '[{"JobName":"'"${J}_b"'","Arguments":{"--from":"a"}}]' >/dev/null
check create_after_a test $? = 0
a_run=$(glue start-job-run --job-name "${J}_a" --query JobRunId --output text)
b_run=
end=$((SECONDS + 60))
while [ $SECONDS -lt $end ]; do
    b_run=$(glue get-job-runs --job-name "${J}_b" --query "JobRuns[?TriggerName=='${J}_after_a'].Id | [0]" --output text 2>/dev/null)
    [ -n "$b_run" ] && [ "$b_run" != None ] && break
    b_run=
    sleep 0.5
done
check conditional_a_succeeded test "$(glue get-job-run --job-name "${J}_a" --run-id "$a_run" --query JobRun.JobRunState --output text)" = SUCCEEDED
check conditional_started_b test -n "$b_run"
if [ -n "$b_run" ]; then
    glue get-job-run --job-name "${J}_b" --run-id "$b_run" --predecessors-included >"$work/b.json"
    check conditional_predecessors test "$(jget "$work/b.json" '(r=>[r.TriggerName,r.Arguments["--from"],r.PredecessorRuns.length,r.PredecessorRuns[0].JobName,r.PredecessorRuns[0].RunId].join("|"))(d.JobRun)')" \
        = "${J}_after_a|a|1|${J}_a|$a_run"
    state=
    end=$((SECONDS + 60))
    while [ $SECONDS -lt $end ]; do
        state=$(glue get-job-run --job-name "${J}_b" --run-id "$b_run" --query JobRun.JobRunState --output text)
        [[ $state =~ ^(SUCCEEDED|FAILED|ERROR|TIMEOUT|STOPPED)$ ]] && break
        sleep 0.5
    done
    check conditional_b_succeeded test "$state" = SUCCEEDED
    check conditional_fired_once test "$(glue get-job-runs --job-name "${J}_b" --query 'length(JobRuns)' --output text)" = 1
fi

# the header schedule: the first minute boundary after the server saw it
if ! grep -q '\[sched\] schedule thread started' "$work/serve2.log"; then
    echo "skip - header_schedule_fires: sluice serve does not start the schedule thread"
else
    cron_run=
    end=$((SECONDS + 90))
    while [ $SECONDS -lt $end ]; do
        cron_run=$(glue get-job-runs --job-name "${J}_cron" --query 'JobRuns[0].Id' --output text 2>/dev/null)
        [ -n "$cron_run" ] && [ "$cron_run" != None ] && break
        cron_run=
        sleep 1
    done
    check header_schedule_fires test -n "$cron_run"
    check header_schedule_logged grep -q "\[sched job:${J}_cron\] fired for" "$work/serve2.log"
fi
stop_server

[ "$n_fail" -gt 0 ] && { echo "--- server log"; tail -30 "$work/serve2.log" 2>/dev/null || tail -30 "$work/serve1.log"; }
exit $((n_fail > 0))
