#!/usr/bin/env bash
# tests/integration/test_serve_crawlers.sh - the Glue crawler operations of
# `sluice serve` (spec/aws-api.md §3.4) driven by the real AWS CLI v2
# (/usr/bin/aws) against real PostgreSQL: CreateCrawler over local folders
# (the stored crawler config, every validation error), GetCrawler's shape,
# GetCrawlers paging, StartCrawler through the run queue and the dispatcher
# (`sluice crawl --name`) until READY with LastCrawl SUCCEEDED and the tables
# in the catalog, CrawlerRunningException / CrawlerNotRunningException, a
# failing crawl (LastCrawl FAILED with its message), a crawler made by `sluice
# crawl`, GetCrawlerMetrics and DeleteCrawler.
set -u
SLUICE=${SLUICE_BIN:?SLUICE_BIN not set}
AWS=/usr/bin/aws
n_fail=0
ok() { echo "ok - $1"; }
bad() { echo "not ok - $1"; n_fail=$((n_fail + 1)); }
skip() { echo "skip - $1"; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
if [ -z "${SLUICE_CATALOG:-}" ]; then
    echo "skip - serve_crawlers: needs PostgreSQL (SLUICE_CATALOG)"
    exit 0
fi
if ! "$AWS" --version 2>&1 | grep -q '^aws-cli/2\.'; then
    echo "skip - serve_crawlers: needs the AWS CLI v2 at $AWS"
    exit 0
fi
work=$(mktemp -d /tmp/sluice-serve-crawlers-XXXXXX)
CR=scr_$$
DB=scr_$$
server_pid=
sql() { psql "$SLUICE_CATALOG" -Atc "$1" 2>/dev/null; }
. "$(dirname "$0")/private_catalog.sh"
if ! private_catalog "pc_serve_crawlers_$$"; then
    echo "skip - serve_crawlers: cannot create a database of its own (needs CREATEDB)"
    rm -rf "$work"
    exit 0
fi
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'scr_hold_$$'" >/dev/null
    drop_private_catalog
    rm -rf "$work"
}
trap cleanup EXIT
jget() { node -e "const d=JSON.parse(require('fs').readFileSync('$1','utf8'));console.log($2)"; }

# ---- a small lake: sales partitioned by year, users flat, a file to exclude
mkdir -p "$work/lake/sales/year=2023" "$work/lake/sales/year=2024" "$work/lake/users"
printf 'id,amount\n1,9.5\n2,3.25\n' >"$work/lake/sales/year=2023/part-0.csv"
printf 'id,amount\n3,1.0\n' >"$work/lake/sales/year=2024/part-0.csv"
printf '{"broken": \n' >"$work/lake/sales/year=2024/old.bak"
printf 'uid,city\n1,Oslo\n2,Lima\n' >"$work/lake/users/users.csv"

# the server keeps the S3 emulator's environment (the dispatcher's children
# inherit it); the CLI talks to the server with the API key
PORT=$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
URL=http://127.0.0.1:$PORT
SLUICE_API_KEYS=AKIDTEST:secret1 "$SLUICE" --log-level info serve --listen "127.0.0.1:$PORT" \
    >"$work/serve.log" 2>&1 &
server_pid=$!
export AWS_ACCESS_KEY_ID=AKIDTEST AWS_SECRET_ACCESS_KEY=secret1 AWS_DEFAULT_REGION=us-east-1
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
unset AWS_SESSION_TOKEN AWS_PROFILE AWS_ENDPOINT_URL
glue() { "$AWS" --endpoint-url "$URL" glue "$@"; }
for _ in $(seq 50); do
    curl -sf "$URL/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done
check healthz test "$(curl -s "$URL/healthz")" = ok

# err FILE OP CODE: the CLI exited 254 with that AWS error
err() { test "$(grep -c "^An error occurred ($3) when calling the $2 operation" "$1")" = 1; }

# ---- create
TARGETS='{"S3Targets":[{"Path":"file://'"$work"'/lake/sales/","Exclusions":["**.bak"]},{"Path":"'"$work"'/lake/users","Exclusions":["**.bak"]}]}'
glue create-crawler --name "$CR" --role arn:aws:iam::000000000000:role/glue \
    --database-name "$DB" --targets "$TARGETS" --schedule 'cron(0/15 * * * ? *)' \
    --table-prefix raw_ --description "nightly lake crawl" \
    --schema-change-policy UpdateBehavior=UPDATE_IN_DATABASE,DeleteBehavior=DELETE_FROM_DATABASE \
    --recrawl-policy RecrawlBehavior=CRAWL_EVERYTHING \
    --configuration '{"Version":1.0,"Grouping":{"TableGroupingPolicy":"CombineCompatibleSchemas"}}' \
    --tags team=data >"$work/create.out" 2>&1
check create_crawler test "$?:$(wc -c <"$work/create.out")" = 0:0
check stored_config test "$(sql "SELECT concat_ws(' ', config->>'name', config->>'database', config->>'table_prefix', config->'targets'->0->>'path', config->'targets'->1->>'path', config->'targets'->0->'exclusions'->>0, config->>'update_behavior', config->>'delete_behavior', config->>'recrawl') FROM sluice.crawler WHERE name = '$CR'")" \
    = "$CR $DB raw_ $work/lake/sales/ $work/lake/users **.bak UPDATE_IN_DATABASE DELETE_FROM_DATABASE CRAWL_EVERYTHING"
check stored_glue_members test "$(sql "SELECT concat_ws(' ', config->'glue'->>'Role', config->'glue'->>'Schedule') FROM sluice.crawler WHERE name = '$CR'")" \
    = "arn:aws:iam::000000000000:role/glue cron(0/15 * * * ? *)"

# ---- GetCrawler shape
glue get-crawler --name "$CR" --output json >"$work/get.json"
check get_crawler_fields test "$(jget "$work/get.json" '(c=>[c.Name,c.Role,c.DatabaseName,c.TablePrefix,c.Description,c.State,c.Version,c.CrawlElapsedTime,c.LastCrawl===undefined].join("|"))(d.Crawler)')" \
    = "$CR|arn:aws:iam::000000000000:role/glue|$DB|raw_|nightly lake crawl|READY|1|0|true"
check get_crawler_schedule test "$(jget "$work/get.json" 'd.Crawler.Schedule.ScheduleExpression+"|"+d.Crawler.Schedule.State')" = "cron(0/15 * * * ? *)|SCHEDULED"
check get_crawler_targets test "$(jget "$work/get.json" 'd.Crawler.Targets.S3Targets.map(t=>t.Path+" "+t.Exclusions.join(",")).join("|")')" \
    = "file://$work/lake/sales/ **.bak|$work/lake/users **.bak"
check get_crawler_policies test "$(jget "$work/get.json" '(c=>[c.SchemaChangePolicy.UpdateBehavior,c.SchemaChangePolicy.DeleteBehavior,c.RecrawlPolicy.RecrawlBehavior].join(" "))(d.Crawler)')" \
    = "UPDATE_IN_DATABASE DELETE_FROM_DATABASE CRAWL_EVERYTHING"
check get_crawler_configuration test "$(jget "$work/get.json" 'JSON.parse(d.Crawler.Configuration).Grouping.TableGroupingPolicy')" = CombineCompatibleSchemas
check get_crawler_times test "$(jget "$work/get.json" '/^20\d\d-.*\+00:00$/.test(d.Crawler.CreationTime) && /^20\d\d-.*\+00:00$/.test(d.Crawler.LastUpdated)')" = true
check get_crawler_no_tags test "$(jget "$work/get.json" 'd.Crawler.Tags===undefined')" = true

# ---- validation errors
glue create-crawler --name "$CR" --role r --database-name "$DB" --targets "$TARGETS" >/dev/null 2>"$work/e1"
check create_twice test $? = 254
check create_twice_code err "$work/e1" CreateCrawler AlreadyExistsException
bad_create() { # NAME-SUFFIX ARGS...: expect InvalidInputException
    local n=$1; shift
    glue create-crawler --name "${CR}_$n" --role r "$@" >/dev/null 2>"$work/e_$n"
    test $? = 254 && err "$work/e_$n" CreateCrawler InvalidInputException &&
        test "$(sql "SELECT count(*) FROM sluice.crawler WHERE name = '${CR}_$n'")" = 0
}
LOCAL='{"S3Targets":[{"Path":"'"$work"'/lake/users/"}]}'
check bad_cron_five_fields bad_create cron5 --database-name "$DB" --targets "$LOCAL" --schedule '0 0 * * *'
check bad_cron_rate bad_create rate --database-name "$DB" --targets "$LOCAL" --schedule 'rate(5 minutes)'
check bad_cron_both_days bad_create days --database-name "$DB" --targets "$LOCAL" --schedule 'cron(0 0 1 * MON *)'
check bad_cron_range bad_create range --database-name "$DB" --targets "$LOCAL" --schedule 'cron(61 0 * * ? *)'
check bad_cron_message grep -q 'Invalid schedule' "$work/e_cron5"
check no_s3_target bad_create nos3 --database-name "$DB" --targets '{"S3Targets":[]}'
check no_targets_at_all bad_create notargets --database-name "$DB" --targets '{}'
check jdbc_target bad_create jdbc --database-name "$DB" --targets '{"JdbcTargets":[{"ConnectionName":"c","Path":"db/%"}]}'
check dynamodb_target bad_create ddb --database-name "$DB" --targets '{"S3Targets":[{"Path":"'"$work"'"}],"DynamoDBTargets":[{"Path":"t"}]}'
check missing_database bad_create nodb --targets "$LOCAL"
check bad_database_name bad_create baddb --database-name 'bad-db!' --targets "$LOCAL"
check missing_path bad_create nopath --database-name "$DB" --targets '{"S3Targets":[{"Exclusions":["x"]}]}'
check bad_scheme bad_create scheme --database-name "$DB" --targets '{"S3Targets":[{"Path":"http://host/x/"}]}'
check bad_file_uri bad_create fileuri --database-name "$DB" --targets '{"S3Targets":[{"Path":"file://host/x/"}]}'
check different_exclusions bad_create excl --database-name "$DB" --targets '{"S3Targets":[{"Path":"/a/","Exclusions":["x"]},{"Path":"/b/"}]}'
check bad_update_behavior bad_create upd --database-name "$DB" --targets "$LOCAL" --schema-change-policy UpdateBehavior=MERGE
check bad_delete_behavior bad_create del --database-name "$DB" --targets "$LOCAL" --schema-change-policy DeleteBehavior=DROP
check event_mode bad_create event --database-name "$DB" --targets "$LOCAL" --recrawl-policy RecrawlBehavior=CRAWL_EVENT_MODE
check bad_configuration bad_create conf --database-name "$DB" --targets "$LOCAL" --configuration 'not json'
check long_prefix bad_create prefix --database-name "$DB" --targets "$LOCAL" --table-prefix "$(printf 'p%.0s' $(seq 129))"
check control_char_name bad_create $'ctl\x01x' --database-name "$DB" --targets "$LOCAL"
for op in get-crawler start-crawler stop-crawler delete-crawler; do
    glue "$op" --name "${CR}_none" >/dev/null 2>"$work/e_$op"
    check "${op}_unknown" test "$?:$(grep -c "EntityNotFoundException" "$work/e_$op")" = 254:1
done

# ---- paging: three more crawlers, pages of one
for i in 1 2 3; do
    glue create-crawler --name "${CR}_p$i" --role r --database-name "$DB" --targets "$LOCAL" >/dev/null
done
glue get-crawlers --page-size 1 --output json >"$work/paged.json"
glue get-crawlers --output json >"$work/unpaged.json"
check get_crawlers_paged test "$(jget "$work/paged.json" 'd.Crawlers.map(c=>c.Name).join(",")')" = "$(jget "$work/unpaged.json" 'd.Crawlers.map(c=>c.Name).join(",")')"
check get_crawlers_paged_all test "$(jget "$work/paged.json" 'd.Crawlers.filter(c=>c.Name.startsWith("'$CR'")).map(c=>c.Name).join(",")+":"+!d.NextToken')" \
    = "$CR,${CR}_p1,${CR}_p2,${CR}_p3:true"
glue get-crawlers --max-items 2 --output json >"$work/page1.json"
check get_crawlers_next_token test "$(jget "$work/page1.json" 'd.Crawlers.length+":"+!!d.NextToken')" = "2:true"
glue get-crawlers --starting-token "$(jget "$work/page1.json" 'd.NextToken')" --output json >"$work/page2.json"
check get_crawlers_resume test "$(jget "$work/page2.json" 'd.Crawlers.length') $(jget "$work/page1.json" 'd.Crawlers[1].Name < '"$(jget "$work/page2.json" 'JSON.stringify(d.Crawlers[0].Name)')")" \
    = "$(( $(jget "$work/paged.json" 'd.Crawlers.length') - 2 )) true"
glue get-crawlers --max-results 1001 >/dev/null 2>"$work/e_max"
check get_crawlers_max_results test "$?:$(grep -c InvalidInputException "$work/e_max")" = 254:1

# ---- stop on a READY crawler
glue stop-crawler --name "$CR" >/dev/null 2>"$work/e_stop"
check stop_ready test $? = 254
check stop_ready_code err "$work/e_stop" StopCrawler CrawlerNotRunningException

# ---- start, then poll until the crawl ends
state() { glue get-crawler --name "$1" --query Crawler.State --output text 2>/dev/null; }
wait_ready() { # NAME: READY with a LastCrawl, within a minute
    local deadline=$((SECONDS + 60))
    while [ $SECONDS -lt $deadline ]; do
        glue get-crawler --name "$1" --output json >"$work/poll.json" 2>/dev/null &&
            [ "$(jget "$work/poll.json" 'd.Crawler.State+":"+!!d.Crawler.LastCrawl')" = READY:true ] &&
            return 0
        sleep 0.3
    done
    return 1
}
glue start-crawler --name "$CR" >"$work/start.out" 2>&1
check start_crawler test "$?:$(wc -c <"$work/start.out")" = 0:0
st=$(state "$CR")
check state_after_start test "$st" = RUNNING -o "$st" = READY
check crawl_finished wait_ready "$CR"
glue get-crawler --name "$CR" --output json >"$work/after.json"
check last_crawl_succeeded test "$(jget "$work/after.json" '(l=>[l.Status,l.ErrorMessage===undefined,/^20\d\d-/.test(l.StartTime)].join(" "))(d.Crawler.LastCrawl)')" = "SUCCEEDED true true"
check crawl_elapsed_ready test "$(jget "$work/after.json" 'd.Crawler.CrawlElapsedTime')" = 0
check crawl_run_queued_as_crawler test "$(sql "SELECT count(*) FROM sluice.job_run WHERE kind = 'crawler' AND job_name = '$CR' AND state = 'SUCCEEDED'")" -ge 1
glue get-tables --database-name "$DB" --output json >"$work/tables.json"
check crawled_tables test "$(jget "$work/tables.json" 'd.TableList.map(t=>t.Name).join(",")')" = "raw_sales,raw_users"
check crawled_partition_keys test "$(jget "$work/tables.json" 'd.TableList[0].PartitionKeys.map(k=>k.Name).join(",")')" = year
check crawled_by test "$(jget "$work/tables.json" 'd.TableList[0].Parameters.UPDATED_BY_CRAWLER')" = "$CR"
check exclusion_applied test "$(glue get-partitions --database-name "$DB" --table-name raw_sales --query 'length(Partitions)' --output text)" = 2
# the crawl rewrites the stored config: the Glue-only members must survive it
check crawl_keeps_glue_members test "$(jget "$work/after.json" '[d.Crawler.Role,d.Crawler.Description,d.Crawler.Schedule.ScheduleExpression].join("|")')" \
    = "arn:aws:iam::000000000000:role/glue|nightly lake crawl|cron(0/15 * * * ? *)"

# ---- metrics
glue get-crawler-metrics --crawler-name-list "$CR" "${CR}_none" "${CR}_p1" --output json >"$work/metrics.json"
check metrics_names test "$(jget "$work/metrics.json" 'd.CrawlerMetricsList.map(m=>m.CrawlerName).join(",")')" = "$CR,${CR}_p1"
check metrics_last_crawl test "$(jget "$work/metrics.json" '(m=>[m.TablesCreated,m.TablesUpdated,m.TablesDeleted,m.LastRuntimeSeconds>0,m.MedianRuntimeSeconds===m.LastRuntimeSeconds,m.TimeLeftSeconds,m.StillEstimating].join(" "))(d.CrawlerMetricsList[0])')" \
    = "2 0 0 true true 0 false"
check metrics_never_crawled test "$(jget "$work/metrics.json" '(m=>[m.TablesCreated,m.LastRuntimeSeconds,m.MedianRuntimeSeconds].join(" "))(d.CrawlerMetricsList[1])')" = "0 0 0"
glue get-crawler-metrics --output json >"$work/metrics_all.json"
check metrics_all test "$(jget "$work/metrics_all.json" 'd.CrawlerMetricsList.filter(m=>m.CrawlerName.startsWith("'$CR'")).length')" = 4

# a second crawl of unchanged data: a median over two runs, nothing created
glue start-crawler --name "$CR" >/dev/null 2>&1
deadline=$((SECONDS + 60))
while [ $SECONDS -lt $deadline ] &&
    [ "$(sql "SELECT count(*) FROM sluice.crawl_run WHERE crawler = '$CR' AND status <> 'running'")" -lt 2 ]; do
    sleep 0.3
done
check recrawl_finished wait_ready "$CR"
glue get-crawler-metrics --crawler-name-list "$CR" --output json >"$work/metrics2.json"
check metrics_second_crawl test "$(jget "$work/metrics2.json" '(m=>[m.TablesCreated,m.TablesDeleted,m.MedianRuntimeSeconds>0].join(" "))(d.CrawlerMetricsList[0])')" = "0 0 true"

# ---- a crawl held RUNNING: the test holds the crawler's advisory lock (the
# one a crawl takes before writing the catalog), so the crawl waits whichever
# server's dispatcher runs it. Start twice and delete are refused, stop
# goes through STOPPING (or stops a queued run at once), LastCrawl CANCELLED.
hold_lock() {
    PGAPPNAME=scr_hold_$$ psql "$SLUICE_CATALOG" -Atc \
        "SELECT pg_advisory_lock(1936483186, hashtext('$1')); SELECT pg_sleep(600)" >/dev/null 2>&1 &
    hold_pid=$!
    local deadline=$((SECONDS + 20))
    while [ $SECONDS -lt $deadline ] && [ "$(sql "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'scr_hold_$$' AND l.locktype = 'advisory' AND l.granted")" != 1 ]; do
        sleep 0.1
    done
}
release_lock() {
    sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'scr_hold_$$'" >/dev/null
    wait "$hold_pid" 2>/dev/null
}
glue create-crawler --name "${CR}_slow" --role r --database-name "$DB" \
    --targets '{"S3Targets":[{"Path":"'"$work"'/lake/users/"}]}' >/dev/null
hold_lock "${CR}_slow"
glue start-crawler --name "${CR}_slow" >/dev/null
check slow_running test "$(state "${CR}_slow")" = RUNNING
glue start-crawler --name "${CR}_slow" >/dev/null 2>"$work/e_twice"
check start_while_running test $? = 254
check start_while_running_code err "$work/e_twice" StartCrawler CrawlerRunningException
glue delete-crawler --name "${CR}_slow" >/dev/null 2>"$work/e_delrun"
check delete_while_running test $? = 254
check delete_while_running_code err "$work/e_delrun" DeleteCrawler CrawlerRunningException
check still_there test "$(state "${CR}_slow")" = RUNNING
glue get-crawler --name "${CR}_slow" --output json >"$work/slow.json"
check slow_no_last_crawl test "$(jget "$work/slow.json" 'd.Crawler.LastCrawl===undefined && d.Crawler.CrawlElapsedTime > 0')" = true
glue get-crawler-metrics --crawler-name-list "${CR}_slow" --output json >"$work/slow_metrics.json"
check metrics_running_estimating test "$(jget "$work/slow_metrics.json" '(m=>m.StillEstimating+" "+m.TimeLeftSeconds)(d.CrawlerMetricsList[0])')" = "true 0"
# let a dispatcher start the child, so the stop goes through STOPPING
deadline=$((SECONDS + 30))
while [ $SECONDS -lt $deadline ] &&
    [ "$(sql "SELECT state FROM sluice.job_run WHERE kind = 'crawler' AND job_name = '${CR}_slow' ORDER BY seq DESC LIMIT 1")" != RUNNING ]; do
    sleep 0.2
done
glue stop-crawler --name "${CR}_slow" >"$work/stop.out" 2>&1
check stop_running test "$?:$(wc -c <"$work/stop.out")" = 0:0
st=$(state "${CR}_slow")
if [ "$st" = STOPPING ]; then
    glue stop-crawler --name "${CR}_slow" >/dev/null 2>"$work/e_stopping"
    rc=$?
    if [ "$(state "${CR}_slow")" = STOPPING ]; then
        check stop_while_stopping test "$rc" = 254
        check stop_while_stopping_code err "$work/e_stopping" StopCrawler CrawlerStoppingException
    else
        skip "stop_while_stopping: the crawl stopped first"
    fi
else
    check stopped_at_once test "$st" = READY
fi
check stopped_crawl_ready wait_ready "${CR}_slow"
check stopped_last_crawl test "$(glue get-crawler --name "${CR}_slow" --query Crawler.LastCrawl.Status --output text)" = CANCELLED
release_lock

# ---- a crawl that fails (its bucket does not exist): FAILED with its message
glue create-crawler --name "${CR}_bad" --role r --database-name "$DB" \
    --targets '{"S3Targets":[{"Path":"s3://nosuchbucket-'$$'/x/"}]}' >/dev/null
glue start-crawler --name "${CR}_bad" >/dev/null
check failed_crawl_ended wait_ready "${CR}_bad"
glue get-crawler --name "${CR}_bad" --output json >"$work/bad.json"
check failed_last_crawl test "$(jget "$work/bad.json" '(l=>l.Status+" "+((l.ErrorMessage||"").length>0))(d.Crawler.LastCrawl)')" = "FAILED true"
check failed_message_names_bucket grep -q "nosuchbucket-$$" "$work/bad.json"

# ---- a crawler made by `sluice crawl --name`: readable and startable too
"$SLUICE" crawl "$work/lake/users/" --database "${DB}_cli" --name "${CR}_cli" >/dev/null 2>&1
glue get-crawler --name "${CR}_cli" --output json >"$work/cli.json"
check cli_crawler_shape test "$(jget "$work/cli.json" '(c=>[c.DatabaseName,c.State,c.LastCrawl.Status,c.Targets.S3Targets[0].Path,c.Role===undefined].join(" "))(d.Crawler)')" \
    = "${DB}_cli READY SUCCEEDED $work/lake/users/ true"
glue create-crawler --name "${CR}_cli" --role r --database-name "$DB" --targets "$LOCAL" >/dev/null 2>"$work/e_cli"
check cli_crawler_taken err "$work/e_cli" CreateCrawler AlreadyExistsException

# ---- delete
glue delete-crawler --name "$CR" >"$work/del.out" 2>&1
check delete_crawler test "$?:$(wc -c <"$work/del.out")" = 0:0
glue get-crawler --name "$CR" >/dev/null 2>"$work/e_gone"
check deleted_gone test "$?:$(grep -c "EntityNotFoundException" "$work/e_gone")" = 254:1
check deleted_runs_forgotten test "$(sql "SELECT count(*) FROM sluice.job_run WHERE kind = 'crawler' AND job_name = '$CR'")" = 0
check deleted_history_gone test "$(sql "SELECT count(*) FROM sluice.crawl_run WHERE crawler = '$CR'")" = 0
check deleted_tables_kept test "$(glue get-tables --database-name "$DB" --query 'length(TableList)' --output text)" = 2
glue delete-crawler --name "$CR" >/dev/null 2>"$work/e_gone2"
check delete_twice test "$?:$(grep -c "EntityNotFoundException" "$work/e_gone2")" = 254:1

[ "$n_fail" -gt 0 ] && { echo "--- server log"; grep -v '"level":"debug"' "$work/serve.log" | tail -20; }
exit $((n_fail > 0))
