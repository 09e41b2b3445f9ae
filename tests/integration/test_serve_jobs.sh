#!/usr/bin/env bash
# tests/integration/test_serve_jobs.sh - the Glue job and job bookmark
# operations of `sluice serve` driven by the real AWS CLI v2 (/usr/bin/aws)
# against real PostgreSQL (spec/aws-api.md §3.5, §3.7): create/get/update/
# delete, GetJobs paging, AWS-shaped errors, jobs registered from a --jobs
# folder (the repo's jobs/*.lua plus a broken one), and bookmarks committed by
# `sluice run` read and reset through the API.
set -u
SLUICE=${SLUICE_BIN:?SLUICE_BIN not set}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
AWS=/usr/bin/aws
n_fail=0
ok() { echo "ok - $1"; }
bad() { echo "not ok - $1"; n_fail=$((n_fail + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
if [ -z "${SLUICE_CATALOG:-}" ]; then
    echo "skip - serve_jobs: needs PostgreSQL (SLUICE_CATALOG)"
    exit 0
fi
if ! "$AWS" --version 2>&1 | grep -q '^aws-cli/2\.'; then
    echo "skip - serve_jobs: needs the AWS CLI v2 at $AWS"
    exit 0
fi
work=$(mktemp -d /tmp/sluice-serve-jobs-XXXXXX)
J=sj_$$
server_pid=
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    psql "$SLUICE_CATALOG" -qc "DELETE FROM sluice.job WHERE name LIKE '${J}%' OR source LIKE 'file:$work/%'
        OR command->>'ScriptLocation' LIKE '$work/%'" \
        >/dev/null 2>&1
    psql "$SLUICE_CATALOG" -qc "DELETE FROM sluice.job_bookmark WHERE job_name LIKE '${J}%'" \
        >/dev/null 2>&1
    rm -rf "$work"
}
trap cleanup EXIT
jget() { node -e "const d=JSON.parse(require('fs').readFileSync('$1','utf8'));console.log($2)"; }

PORT=$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
URL=http://127.0.0.1:$PORT
export AWS_ACCESS_KEY_ID=AKIDTEST AWS_SECRET_ACCESS_KEY=secret1 AWS_DEFAULT_REGION=us-east-1
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
unset AWS_SESSION_TOKEN AWS_PROFILE AWS_ENDPOINT_URL
glue() { "$AWS" --endpoint-url "$URL" glue "$@"; }

# ---- a --jobs folder: the repo's jobs, a bookmark job and a broken header
mkdir -p "$work/jobs" "$work/inbox" "$work/out"
cp "$ROOT"/jobs/*.lua "$work/jobs/"
for i in 1 2; do printf 'id,v\n%d,1\n' "$i" >"$work/inbox/f$i.csv"; done
cat >"$work/jobs/bm.lua" <<EOF
job { name = "${J}_bm", bookmark = true, args = { out = "$work/out/" }, retries = 2,
      max_concurrency = 3, timeout = 90 }
function main(ctx)
  sluice.from_path{ uri = "$work/inbox/", format = "csv" }:write{ to = ctx.args.out }
end
EOF
printf 'job {\n  name = "%s_broken",\n  nmae = "x",\n}\n' "$J" >"$work/jobs/zz_broken.lua"

SLUICE_API_KEYS=AKIDTEST:secret1 "$SLUICE" --log-level debug serve --listen "127.0.0.1:$PORT" \
    --jobs "$work/jobs" >"$work/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 50); do
    curl -sf "$URL/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done
check healthz test "$(curl -s "$URL/healthz")" = ok
check broken_header_logged grep -q "zz_broken.lua:[0-9]*:.*nmae" "$work/serve.log"

# ---- jobs from the folder
glue get-jobs >"$work/jobs.json"
check files_registered test "$(jget "$work/jobs.json" '["daily_sales","customers_by_city","'${J}_bm'"].every(n=>d.Jobs.some(j=>j.Name===n))')" = true
check broken_not_registered test "$(jget "$work/jobs.json" 'd.Jobs.some(j=>j.Name==="'${J}_broken'")')" = false
check file_default_arguments test "$(jget "$work/jobs.json" 'd.Jobs.find(j=>j.Name==="daily_sales").DefaultArguments["--year"]')" = 2024
check file_script_location test "$(jget "$work/jobs.json" 'd.Jobs.find(j=>j.Name==="daily_sales").Command.ScriptLocation')" = "$work/jobs/daily_sales.lua"
check file_header_fields test "$(jget "$work/jobs.json" '(j=>[j.MaxRetries,j.ExecutionProperty.MaxConcurrentRuns,j.Timeout].join(" "))(d.Jobs.find(j=>j.Name==="'${J}_bm'"))')" = "2 3 2"

# ---- create, get, update
glue create-job --name "$J" --role arn:aws:iam::000000000000:role/glue \
    --command Name=glueetl,ScriptLocation=/path/x.lua \
    --default-arguments '{"--input":"s3://lake/raw/","--limit":"10"}' \
    --execution-property MaxConcurrentRuns=2 --max-retries 1 --timeout 60 \
    --log-uri s3://logs/ --worker-type G.1X --number-of-workers 4 >"$work/create.json"
check create_job test "$?:$(jget "$work/create.json" 'd.Name')" = "0:$J"
glue get-job --job-name "$J" >"$work/get.json"
check get_job_fields test "$(jget "$work/get.json" '(j=>[j.Name,j.Role,j.Command.Name,j.Command.ScriptLocation,j.DefaultArguments["--input"],j.DefaultArguments["--limit"],j.ExecutionProperty.MaxConcurrentRuns,j.MaxRetries,j.Timeout,j.LogUri,j.WorkerType,j.NumberOfWorkers,j.GlueVersion].join(" "))(d.Job)')" \
    = "$J arn:aws:iam::000000000000:role/glue glueetl /path/x.lua s3://lake/raw/ 10 2 1 60 s3://logs/ G.1X 4 0.9"
check get_job_times test "$(jget "$work/get.json" '/^20\d\d-.*\+00:00$/.test(d.Job.CreatedOn) && d.Job.CreatedOn===d.Job.LastModifiedOn')" = true
sleep 1
glue update-job --job-name "$J" --job-update \
    '{"Role":"arn:aws:iam::000000000000:role/glue2","Command":{"Name":"glueetl","ScriptLocation":"/path/y.lua"},"Timeout":30}' \
    >"$work/update.json"
check update_job test "$?:$(jget "$work/update.json" 'd.JobName')" = "0:$J"
glue get-job --job-name "$J" >"$work/get2.json"
check update_replaces_all test "$(jget "$work/get2.json" '(j=>[j.Role,j.Command.ScriptLocation,j.Timeout,j.MaxRetries,j.ExecutionProperty.MaxConcurrentRuns,j.DefaultArguments===undefined,j.LogUri===undefined].join(" "))(d.Job)')" \
    = "arn:aws:iam::000000000000:role/glue2 /path/y.lua 30 0 1 true true"
check update_keeps_created test "$(jget "$work/get2.json" 'd.Job.CreatedOn < d.Job.LastModifiedOn')" = true
check update_created_same test "$(jget "$work/get2.json" 'd.Job.CreatedOn')" = "$(jget "$work/get.json" 'd.Job.CreatedOn')"

# ---- errors
glue create-job --name "$J" --role r --command Name=glueetl,ScriptLocation=/path/x.lua \
    >/dev/null 2>"$work/exists.err"
check create_twice_exit_254 test $? = 254
check create_twice_message grep -q '^An error occurred (AlreadyExistsException) when calling the CreateJob operation' "$work/exists.err"
glue create-job --name "${J}_x" --role r --command Name=glueetl >/dev/null 2>"$work/noscript.err"
check no_script_location test "$?:$(grep -c 'An error occurred (InvalidInputException) when calling the CreateJob operation' "$work/noscript.err")" = 254:1
glue create-job --name "bad name!" --role r --command Name=glueetl,ScriptLocation=/x.lua \
    >/dev/null 2>"$work/badname.err"
check bad_name test "$?:$(grep -c 'An error occurred (InvalidInputException) when calling the CreateJob operation' "$work/badname.err")" = 254:1
glue update-job --job-name "${J}_nope" --job-update '{"Role":"r","Command":{"ScriptLocation":"/x.lua"}}' \
    >/dev/null 2>"$work/upd404.err"
check update_missing test "$?:$(grep -c 'An error occurred (EntityNotFoundException) when calling the UpdateJob operation: Job '"${J}"'_nope not found' "$work/upd404.err")" = 254:1

# ---- paging: three more jobs, pages of one
for i in 1 2 3; do
    glue create-job --name "${J}_p$i" --role r --command ScriptLocation=/p$i.lua >/dev/null
done
glue get-jobs --page-size 1 >"$work/paged.json"
glue get-jobs >"$work/unpaged.json"
check get_jobs_paged test "$(jget "$work/paged.json" 'd.Jobs.map(j=>j.Name).join(",")')" = "$(jget "$work/unpaged.json" 'd.Jobs.map(j=>j.Name).join(",")')"
check get_jobs_paged_all test "$(jget "$work/paged.json" 'd.Jobs.filter(j=>j.Name.startsWith("'${J}_p'")).map(j=>j.Name).join(",")+":"+!d.NextToken')" = "${J}_p1,${J}_p2,${J}_p3:true"
glue get-jobs --max-items 2 >"$work/page1.json"
check get_jobs_next_token test "$(jget "$work/page1.json" 'd.Jobs.length+":"+!!d.NextToken')" = "2:true"
glue get-jobs --starting-token "$(jget "$work/page1.json" 'd.NextToken')" >"$work/page2.json"
check get_jobs_resume test "$(jget "$work/page2.json" 'd.Jobs.length') $(jget "$work/page1.json" 'd.Jobs[1].Name < '"$(jget "$work/page2.json" 'JSON.stringify(d.Jobs[0].Name)')")" = "$(( $(jget "$work/paged.json" 'd.Jobs.length') - 2 )) true"

# ---- delete
glue delete-job --job-name "$J" >"$work/del.json"
check delete_job test "$?:$(jget "$work/del.json" 'd.JobName')" = "0:$J"
glue get-job --job-name "$J" >/dev/null 2>"$work/gone.err"
check deleted_exit_254 test $? = 254
check deleted_message grep -q "^An error occurred (EntityNotFoundException) when calling the GetJob operation: Job $J not found" "$work/gone.err"
glue delete-job --job-name "$J" >"$work/del2.json"
check delete_missing_ok test "$?:$(jget "$work/del2.json" 'd.JobName')" = "0:$J"

# ---- bookmarks
glue get-job-bookmark --job-name "${J}_bm" >/dev/null 2>"$work/nobm.err"
check no_bookmark_exit_254 test $? = 254
check no_bookmark_message grep -q "^An error occurred (EntityNotFoundException) when calling the GetJobBookmark operation: Continuation for job ${J}_bm not found" "$work/nobm.err"
"$SLUICE" run "$work/jobs/bm.lua" --json >"$work/run1.json" 2>"$work/run1.err"
check run_bookmark_job test "$?:$(jget "$work/run1.json" 'd.rows_read')" = "0:2"
glue get-job-bookmark --job-name "${J}_bm" >"$work/bm.json"
check bookmark_entry test "$(jget "$work/bm.json" '(b=>[b.JobName,b.Version,b.Run,typeof b.RunId,typeof b.JobBookmark,JSON.parse(b.JobBookmark)!==null].join(" "))(d.JobBookmarkEntry)')" = "${J}_bm 1 1 string string true"
check bookmark_state_nonempty test "$(jget "$work/bm.json" 'Object.keys(JSON.parse(d.JobBookmarkEntry.JobBookmark)).length > 0')" = true
glue reset-job-bookmark --job-name "${J}_bm" >"$work/reset.json"
check reset_bookmark test "$?:$(jget "$work/reset.json" 'd.JobBookmarkEntry.JobBookmark+" "+d.JobBookmarkEntry.Version')" = "0:{} 2"
glue reset-job-bookmark --job-name "${J}_none" >/dev/null 2>"$work/reset404.err"
check reset_unknown_job test "$?:$(grep -c 'An error occurred (EntityNotFoundException) when calling the ResetJobBookmark operation' "$work/reset404.err")" = 254:1
glue delete-job --job-name "${J}_bm" >/dev/null
check delete_removes_bookmark test "$(psql "$SLUICE_CATALOG" -Atc "SELECT count(*) FROM sluice.job_bookmark WHERE job_name = '${J}_bm'")" = 0

kill -TERM "$server_pid"
wait "$server_pid"
check sigterm_clean_exit test $? = 0
server_pid=

# ---- a restart re-registers file jobs; an API job of the same name is kept
glue() { :; }
psql "$SLUICE_CATALOG" -qc "UPDATE sluice.job SET source = 'api' WHERE name = 'customers_by_city'" >/dev/null
SLUICE_API_KEYS=AKIDTEST:secret1 "$SLUICE" --log-level info serve --listen "127.0.0.1:0" --jobs "$work/jobs" \
    >"$work/serve2.log" 2>&1 &
server_pid=$!
for _ in $(seq 50); do grep -q 'listening on' "$work/serve2.log" && break; sleep 0.1; done
check restart_keeps_api_job grep -q 'customers_by_city.*defined through the API' "$work/serve2.log"
check restart_reregisters grep -q 'daily_sales.* registered from' "$work/serve2.log"
kill -TERM "$server_pid"; wait "$server_pid"; server_pid=
"$SLUICE" serve --listen 127.0.0.1:0 --auth none --jobs "$work/nope" >/dev/null 2>"$work/nodir.err"
check missing_jobs_dir test "$?:$(grep -c 'nope' "$work/nodir.err")" = 2:1

[ "$n_fail" -gt 0 ] && { echo "--- server log"; tail -20 "$work/serve.log"; }
exit $((n_fail > 0))
