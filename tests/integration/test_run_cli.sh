#!/usr/bin/env bash
# tests/integration/test_run_cli.sh - `sluice run` from the command line:
# usage, option and job{} header errors and their exit codes (no engine
# needed: they stop before runtime/exec.c runs), then, in the last section,
# end-to-end runs of small local jobs through the engine.
set -u
SLUICE=${SLUICE_BIN:?SLUICE_BIN not set}
work=$(mktemp -d /tmp/sluice-run-XXXXXX)
trap 'rm -rf "$work"' EXIT
export SLUICE_HOME=$work/home
unset SLUICE_RUN_ID
n_fail=0
ok() { echo "ok - $1"; }
bad() { echo "not ok - $1"; n_fail=$((n_fail + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
rc_of() { "$@" >/dev/null 2>&1; echo $?; }
has() { [[ "$1" == *"$2"* ]]; } # text, substring
jget() { node -e "const d=JSON.parse(require('fs').readFileSync('$1','utf8'));console.log($2)"; }

cd "$work" || exit 1
cat >good.lua <<'EOF'
job { name = "run_cli_good" }
function main(ctx)
  sluice.from_path{ uri = ctx.args.input, format = "csv" }:write{ to = ctx.args.output }
end
EOF

# ---- usage and options (exit 2); nothing is run, no run folder is made
check help_exits_0 test "$(rc_of "$SLUICE" run --help)" = 0
help=$("$SLUICE" run --help 2>&1)
check help_documents_exit_codes has "$help" "Exit codes"
check help_command_exits_0 test "$(rc_of "$SLUICE" help run)" = 0
check listed_in_global_help has "$("$SLUICE" --help)" "run "
check no_script_exits_2 test "$(rc_of "$SLUICE" run)" = 2
check two_scripts_exit_2 test "$(rc_of "$SLUICE" run good.lua good.lua)" = 2
check missing_script_exits_2 test "$(rc_of "$SLUICE" run "$work/nope.lua")" = 2
msg=$("$SLUICE" run "$work/nope.lua" 2>&1)
check missing_script_named has "$msg" "sluice run: cannot read \"$work/nope.lua\""
check arg_without_equals_exits_2 test "$(rc_of "$SLUICE" run good.lua --arg foo)" = 2
check arg_without_key_exits_2 test "$(rc_of "$SLUICE" run good.lua --arg =x)" = 2
msg=$("$SLUICE" run good.lua --arg foo 2>&1)
check arg_message has "$msg" "KEY=VALUE"
check workers_0_exits_2 test "$(rc_of "$SLUICE" run good.lua --workers 0)" = 2
check workers_junk_exits_2 test "$(rc_of "$SLUICE" run good.lua --workers x)" = 2
check workers_suffix_exits_2 test "$(rc_of "$SLUICE" run good.lua --workers 4x)" = 2
check workers_too_many_exits_2 test "$(rc_of "$SLUICE" run good.lua --workers 100000)" = 2
check memory_junk_exits_2 test "$(rc_of "$SLUICE" run good.lua --memory 1G)" = 2
check memory_negative_exits_2 test "$(rc_of "$SLUICE" run good.lua --memory -5)" = 2
check partitions_0_exits_2 test "$(rc_of "$SLUICE" run good.lua --partitions 0)" = 2
check run_id_bad_exits_2 test "$(rc_of "$SLUICE" run good.lua --run-id 'a/b')" = 2
long_id=$(printf 'x%.0s' {1..129})
check run_id_long_exits_2 test "$(rc_of "$SLUICE" run good.lua --run-id "$long_id")" = 2
check run_id_env_bad_exits_2 test "$(SLUICE_RUN_ID='no spaces' rc_of "$SLUICE" run good.lua)" = 2
check unknown_option_exits_2 test "$(rc_of "$SLUICE" run good.lua --frobnicate)" = 2

# ---- the job{} header (exit 2, naming the line) and syntax errors (exit 1)
printf 'local x = 1\njob { name = "h", nmae = 2 }\nfunction main(ctx) end\n' >badhdr.lua
check bad_header_exits_2 test "$(rc_of "$SLUICE" run badhdr.lua)" = 2
msg=$("$SLUICE" run badhdr.lua 2>&1)
check bad_header_names_line has "$msg" "sluice run: badhdr.lua:2:"
check bad_header_names_key has "$msg" "nmae"
printf 'function main(ctx) end\n' >nojob.lua
check no_job_exits_2 test "$(rc_of "$SLUICE" run nojob.lua)" = 2
printf 'job { name = "s" }\nfunction main(ctx)\n  local = 3\nend\n' >syntax.lua
check syntax_error_exits_1 test "$(rc_of "$SLUICE" run syntax.lua)" = 1
msg=$("$SLUICE" run syntax.lua 2>&1)
check syntax_error_names_line has "$msg" "sluice run: syntax.lua:3:"
check no_run_folder_before_running test ! -e "$SLUICE_HOME/runs"

# ==== End to end: these need the engine (runtime/exec.c) ====================

mkdir -p in
printf 'k,v\na,1\nb,2\na,3\nc,5\nb,4\n' >in/data.csv
cat >group.lua <<'EOF'
job { name = "run_cli_group", args = { output = "unset/" } }
function main(ctx)
  print("grouping " .. ctx.args.input)
  sluice.from_path{ uri = ctx.args.input, format = "csv" }
    :group_by("k"):agg{ n = sluice.count(), total = sluice.sum("v") }
    :write{ to = ctx.args.output, format = "csv" }
end
EOF
"$SLUICE" run group.lua --json --run-id e2e_group --workers 2 --partitions 1 \
    --arg input="$work/in/" --arg output="$work/out/" >group.json 2>group.err
rc=$?
check group_exits_0 test "$rc" = 0
[ "$rc" = 0 ] || sed 's/^/# /' group.err
check group_json_state test "$(jget group.json 'd.state')" = SUCCEEDED
check group_json_run_id test "$(jget group.json 'd.run_id')" = e2e_group
check group_json_job test "$(jget group.json 'd.job')" = run_cli_group
check group_json_error_null test "$(jget group.json 'd.error')" = null
check group_json_rows_read test "$(jget group.json 'd.rows_read')" = 5
check group_json_rows_written test "$(jget group.json 'd.rows_written')" = 3
check group_json_has_nodes test "$(jget group.json 'd.nodes.map(n=>n.kind).join(",")')" = \
    "source_path,group_agg,write"
check group_json_files test "$(jget group.json 'd.files.length > 0')" = true
check group_script_log has "$(cat group.err)" "grouping $work/in/"
check group_success_marker test -f out/_SUCCESS
parts=$(find out -name 'part-e2e_group-*' -type f 2>/dev/null | sort)
check group_part_file test -n "$parts"
# the data lines of every part file (one header each), in key order
rows=$(for f in $parts; do tail -n +2 "$f"; done | sort | tr '\n' ' ')
check group_part_content test "$rows" = "a,2,4 b,2,6 c,1,5 "
first=$(echo "$parts" | head -1)
check group_part_header test "$([ -n "$first" ] && head -1 "$first")" = "k,n,total"
check group_spill_removed test ! -e "$SLUICE_HOME/runs/e2e_group/spill"
check group_run_folder test -d "$SLUICE_HOME/runs/e2e_group"

# the human summary
"$SLUICE" run group.lua --run-id e2e_human --arg input="$work/in/" --arg output="$work/out2/" \
    >human.out 2>/dev/null
check human_exits_0 test $? = 0
check human_summary_state has "$(cat human.out)" "SUCCEEDED"
check human_summary_nodes has "$(cat human.out)" "group_agg"

# rejected rows under max_errors: the run succeeds and they are in the run folder
mkdir -p bad
printf 'k,v\na,1\nb,oops\nc,3\n' >bad/data.csv
cat >rejects.lua <<'EOF'
job { name = "run_cli_rejects", max_errors = 10 }
function main(ctx)
  sluice.from_path{ uri = ctx.args.input, format = "csv", options = { header = true },
                    schema = { {"k", "string"}, {"v", "bigint"} } }
    :write{ to = ctx.args.output }
end
EOF
"$SLUICE" run rejects.lua --json --run-id e2e_rejects --arg input="$work/bad/" \
    --arg output="$work/out3/" >rejects.json 2>rejects.err
check rejects_exits_0 test $? = 0
check rejects_counted test "$(jget rejects.json 'd.rows_rejected')" = 1
check rejects_error_output test "$(jget rejects.json 'd.error_output')" = \
    "$(cd "$SLUICE_HOME/runs/e2e_rejects" 2>/dev/null && pwd -P)/errors.jsonl"
errors_file=$SLUICE_HOME/runs/e2e_rejects/errors.jsonl
check rejects_file_has_row test "$(cat "$errors_file" 2>/dev/null | wc -l)" = 1

# a Lua error in main(ctx) fails the run (1); a plan that writes nothing is configuration (2)
printf 'job { name = "boom" }\nfunction main(ctx)\n  error("boom here")\nend\n' >boom.lua
"$SLUICE" run boom.lua --json >boom.json 2>boom.err
check main_error_exits_1 test $? = 1
check main_error_state test "$(jget boom.json 'd.state')" = FAILED
check main_error_message has "$(cat boom.err)" "boom.lua:3: boom here"
cat >nowrite.lua <<'EOF'
job { name = "nowrite" }
function main(ctx)
  sluice.from_path{ uri = "in/", format = "csv" }
end
EOF
check no_write_exits_2 test "$(rc_of "$SLUICE" run nowrite.lua)" = 2

exit $((n_fail > 0))
