#!/usr/bin/env bash
# tests/integration/test_run_engine.sh - `sluice run` end to end (issue 4):
# word count through mapreduce, joins, partitioned output and its manifest,
# spill vs unbounded and 1 vs 2 workers byte-identical, bookmarks, catalog
# sources with partition pruning, S3 in and out, and the error paths (syntax
# error, a Lua error on a row, the memory cap, bad rows under and over
# max_errors, a killed run publishes nothing, the sandbox).
set -u
SLUICE=${SLUICE_BIN:?SLUICE_BIN not set}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
n_fail=0
ok() { echo "ok - $1"; }
bad() { echo "not ok - $1"; n_fail=$((n_fail + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
work=$(mktemp -d /tmp/sluice-run-XXXXXX)
export SLUICE_HOME=$work/home
trap 'rm -rf "$work"' EXIT
jget() { node -e "const d=JSON.parse(require('fs').readFileSync('$1','utf8'));console.log($2)"; }
# run NAME SCRIPT args...: --json summary into $work/NAME.json, stderr into $work/NAME.err
run() {
    local name=$1 script=$2; shift 2
    "$SLUICE" run "$script" --json "$@" >"$work/$name.json" 2>"$work/$name.err"
    echo $? >"$work/$name.rc"
}
rc() { cat "$work/$1.rc"; }
# the rows of a written folder: part files in name order, headers dropped
rows() { find "$1" -name 'part-*' -type f | sort | while read -r f; do tail -n +2 "$f"; done; }
parts_cat() { find "$1" -name 'part-*' -type f | sort | xargs cat; }

# ---- word count through sluice.mapreduce
printf 'line\nthe cat sat on the mat\nThe dog ate the cat\n\nend of the story\n' >"$work/text.csv"
cat >"$work/wc.lua" <<EOF
job { name = "wordcount" }
function main(ctx)
  local lines = sluice.from_path{ uri = "$work/text.csv", format = "csv",
                                  schema = { {"line", "string"} }, options = { header = true } }
  sluice.mapreduce{
    input = lines,
    map = function(row, emit) for w in row.line:gmatch("%a+") do emit(w:lower(), 1) end end,
    combine = function(w, ns, emit) local t = 0 for _, n in ipairs(ns) do t = t + n end emit(w, t) end,
    reduce = function(w, ns, emit) local t = 0 for _, n in ipairs(ns) do t = t + n end emit(w, t) end,
    partitions = 3, columns = { "word", "n" },
    output = { to = ctx.args.out },
  }
end
EOF
run wc "$work/wc.lua" --arg out="$work/wc/" --workers 2
check wordcount_succeeds test "$(rc wc)" = 0
check wordcount_counts test "$(rows "$work/wc" | sort | tr '\n' ' ')" = \
    "ate,1 cat,2 dog,1 end,1 mat,1 of,1 on,1 sat,1 story,1 the,5 "
check wordcount_three_partitions test "$(find "$work/wc" -name 'part-*' | wc -l)" = 3
check wordcount_header test "$(head -1 "$(find "$work/wc" -name 'part-*' | sort | head -1)")" = "word,n"

# ---- joins (inner and left) and a group-by over the example data
cat >"$work/join.lua" <<EOF
job { name = "joins" }
function main(ctx)
  local sales = sluice.from_path{ uri = "$ROOT/examples/data/sales/", format = "csv" }
  local cust = sluice.from_path{ uri = "$ROOT/examples/data/customers/", format = "json" }
  local few = cust:filter(function(c) return c.customer_id <= 10 end)
  sales:join(few, { on = "customer_id" }):select("order_id", "name")
       :sort("order_id"):write{ to = ctx.args.out .. "/inner/" }
  sales:join(few, { on = "customer_id", how = "left" }):select("order_id", "name")
       :sort("order_id"):write{ to = ctx.args.out .. "/left/" }
end
EOF
run join "$work/join.lua" --arg out="$work/join" --workers 2
check join_succeeds test "$(rc join)" = 0
# expected with awk over the same files
awk -F, 'FNR > 1 && $3 <= 10 { print $1 }' "$ROOT"/examples/data/sales/*/*/part-0000.csv | sort >"$work/inner.expect"
check join_inner_rows test "$(rows "$work/join/inner" | cut -d, -f1 | tr -d '"')" = "$(cat "$work/inner.expect")"
check join_inner_names test "$(rows "$work/join/inner" | head -1 | cut -d, -f2)" = \
    "Customer $(printf %02d "$(awk -F, -v id="$(head -1 "$work/inner.expect")" 'FNR > 1 && $1 == id { print $3 }' "$ROOT"/examples/data/sales/*/*/part-0000.csv)")"
check join_left_keeps_all test "$(rows "$work/join/left" | wc -l)" = 75
check join_left_nulls test "$(rows "$work/join/left" | grep -c ',$')" = $((75 - $(wc -l <"$work/inner.expect")))

# ---- partitioned output layout, manifest, and reading it back
cat >"$work/part.lua" <<EOF
job { name = "partitioned" }
function main(ctx)
  local sales = sluice.from_path{ uri = "$ROOT/examples/data/sales/", format = "csv" }
  sales:map(function(r) r.total = r.quantity * r.unit_price; return r end)
       :group_by("year", "month", "product"):agg{ n = sluice.count(), revenue = sluice.sum("total") }
       :write{ to = ctx.args.out, partition_keys = { "year", "month" }, compression = "gzip" }
end
EOF
run part "$work/part.lua" --arg out="$work/part/" --workers 2
check part_succeeds test "$(rc part)" = 0
check part_folders test "$(cd "$work/part" && find . -type d -name 'month=*' | sort | tr '\n' ' ')" = \
    "./year=2024/month=11 ./year=2024/month=12 ./year=2025/month=01 "
check part_success_marker test -s "$work/part/_SUCCESS"
check part_manifest_lists_files test "$(jget "$work/part/_SUCCESS" 'd.files.length')" = \
    "$(find "$work/part" -name 'part-*.csv.gz' | wc -l)"
f=$(find "$work/part/year=2024/month=11" -name 'part-*.csv.gz' | head -1)
check part_gzip_without_keys test "$(gzip -dc "$f" | head -1)" = "product,n,revenue"
check part_rows_total test "$(jget "$work/part/_SUCCESS" 'd.rows')" = 15
# read it back: partition folders become columns; counts add up to 75 order lines
cat >"$work/back.lua" <<EOF
job { name = "readback" }
function main(ctx)
  sluice.from_path{ uri = "$work/part/", format = "csv" }
    :group_by("year"):agg{ lines = sluice.sum("n") }:sort("year"):write{ to = ctx.args.out }
end
EOF
run back "$work/back.lua" --arg out="$work/back/" --workers 2
check readback_succeeds test "$(rc back)" = 0
check readback_partition_columns test "$(rows "$work/back" | tr '\n' ' ')" = "2024,50 2025,25 "
# an unpublished part file next to published ones is not read
cp "$f" "$(dirname "$f")/part-jr_dead-00000-000.csv.gz"
run back2 "$work/back.lua" --arg out="$work/back2/" --workers 2
check readback_skips_unpublished test "$(rows "$work/back2" | tr '\n' ' ')" = "2024,50 2025,25 "

# ---- spill vs unbounded, 1 vs 2 workers: byte-identical outputs
awk 'BEGIN { srand(7); print "k,v,s"; for (i = 0; i < 200000; i++) printf "%d,%d,w%d\n", int(rand() * 50000), i % 97, int(rand() * 300) }' >"$work/big.csv"
cat >"$work/agg.lua" <<EOF
job { name = "spill" }
function main(ctx)
  local d = sluice.from_path{ uri = "$work/big.csv", format = "csv" }
  d:group_by("k"):agg{ n = sluice.count(), s = sluice.sum("v"), u = sluice.count_distinct("s"),
                       f = sluice.first("s"), l = sluice.last("s"), lo = sluice.min("s") }
   :write{ to = ctx.args.out .. "/g/" }
  d:distinct("s"):sort{"s", "desc"}:write{ to = ctx.args.out .. "/d/" }
end
EOF
run unb "$work/agg.lua" --arg out="$work/unb" --workers 2 --memory 0
run spl "$work/agg.lua" --arg out="$work/spl" --workers 2 --memory 1
run one "$work/agg.lua" --arg out="$work/one" --workers 1 --memory 0
check spill_runs_succeed test "$(rc unb)$(rc spl)$(rc one)" = 000
check spill_really_spilled test "$(jget "$work/spl.json" 'd.spill_bytes > 0')" = true
check unbounded_did_not_spill test "$(jget "$work/unb.json" 'd.spill_bytes')" = 0
check spill_identical cmp -s <(parts_cat "$work/unb/g") <(parts_cat "$work/spl/g")
check spill_identical_sorted cmp -s <(parts_cat "$work/unb/d") <(parts_cat "$work/spl/d")
check workers_identical cmp -s <(parts_cat "$work/unb/g") <(parts_cat "$work/one/g")
check workers_identical_sorted cmp -s <(parts_cat "$work/unb/d") <(parts_cat "$work/one/d")
check group_count_total test "$(rows "$work/unb/g" | awk -F, '{ t += $5 } END { print t }')" = 200000
check distinct_values test "$(rows "$work/unb/d" | wc -l)" = 300

# ---- the other transforms: union, flat_map, apply_mapping, rename, drop, distinct, limit;
# TSV in, zstd out; dates as Lua strings
printf 'id\tday\tamount\tnote\n1\t2024-05-01\t10\ta b\n2\t2024-05-02\t20\tc\n3\t2024-05-03\tbad\td e f\n' >"$work/t.tsv"
cat >"$work/misc.lua" <<EOF
job { name = "misc", max_errors = 1 }
function main(ctx)
  local t = sluice.from_path{ uri = "$work/t.tsv", format = "tsv", options = { header = true },
                              schema = { {"id", "bigint"}, {"day", "date"}, {"amount", "string"}, {"note", "string"} } }
  local typed = t:apply_mapping{ {"id", "id", "bigint"}, {"day", "day", "date"}, {"amount", "amount", "double"} }
  typed:rename{ amount = "value" }
       :map(function(r) r.month = r.day:sub(1, 7); r.next_day = r.day; return r end)
       :drop("day")
       :write{ to = ctx.args.out .. "/mapped/", compression = "zstd" }
  t:flat_map(function(r)
      local out = {}
      for w in r.note:gmatch("%a+") do out[#out + 1] = { id = r.id, word = w } end
      return out
    end)
    :union(t:select("id"):map(function(r) return { id = r.id, word = "id" } end))
    :distinct("id", "word"):sort("id", "word"):limit(6)
    :write{ to = ctx.args.out .. "/words/" }
end
EOF
run misc "$work/misc.lua" --arg out="$work/misc" --workers 2
check misc_succeeds test "$(rc misc)" = 0
check misc_apply_mapping_bad_row test "$(jget "$work/misc.json" 'd.rows_rejected')" = 1
check misc_zstd_output test "$(find "$work/misc/mapped" -name 'part-*.csv.zst' | xargs zstd -dc | sort -u | tr '\n' ' ')" = \
    "1,10,2024-05,2024-05-01 2,20,2024-05,2024-05-02 id,value,month,next_day "
check misc_words test "$(rows "$work/misc/words" | tr '\n' ' ')" = "1,a 1,b 1,id 2,c 2,id 3,d "

# ---- map: rows returned as they are, new columns, tables and nil, over many batches
cat >"$work/mapmix.lua" <<EOF
job { name = "mapmix" }
function main(ctx)
  sluice.from_path{ uri = "$work/big.csv", format = "csv" }
    :map(function(r)
      if r.v == 5 then return nil end
      if r.v == 6 then return { k = r.k, a = -1 } end
      r.a = r.k * 2
      if r.v == 7 then r.a = r.a + 1 end
      return r
    end)
    :group_by():agg{ n = sluice.count(), a = sluice.sum("a"), s = sluice.count("s") }
    :write{ to = ctx.args.out }
end
EOF
run mapmix1 "$work/mapmix.lua" --arg out="$work/mapmix1/" --workers 1
run mapmix2 "$work/mapmix.lua" --arg out="$work/mapmix2/" --workers 2
check map_mix_succeeds test "$(rc mapmix1)$(rc mapmix2)" = 00
expect=$(awk -F, 'NR > 1 && $2 != 5 { n++; if ($2 == 6) a -= 1; else { a += $1 * 2; if ($2 == 7) a += 1; s++ } }
                  END { printf "%.1f,%d,%d", a, n, s }' "$work/big.csv")
got=$(rows "$work/mapmix1" | awk -F, '{ printf "%.1f,%d,%d", $1, $2, $3 }')
check map_mix_result test "$got" = "$expect"
check map_mix_workers_identical cmp -s <(parts_cat "$work/mapmix1") <(parts_cat "$work/mapmix2")
sed 's/r.a = r.a + 1/r.a = r.a + 0.5/' "$work/mapmix.lua" >"$work/mapmix_float.lua"
run mapmixf "$work/mapmix_float.lua" --arg out="$work/mapmixf/" --workers 2
check map_int_then_float_fails test "$(rc mapmixf)" = 1
check map_int_then_float_hint grep -q 'is bigint.* is not a whole number.*write floats as floats' "$work/mapmixf.err"

# ---- bookmarks: a second run reads nothing, then exactly the new object
mkdir -p "$work/inbox"
for i in 1 2 3; do printf 'id,v\n%d,1\n' "$i" >"$work/inbox/f$i.csv"; done
cat >"$work/bm.lua" <<EOF
job { name = "bm_job_$$", bookmark = true }
function main(ctx)
  sluice.from_path{ uri = "$work/inbox/", format = "csv" }:write{ to = ctx.args.out }
end
EOF
if [ -n "${SLUICE_CATALOG:-}" ]; then
    run bm1 "$work/bm.lua" --arg out="$work/bmout/" --workers 2
    run bm2 "$work/bm.lua" --arg out="$work/bmout/" --workers 2
    printf 'id,v\n4,1\n' >"$work/inbox/f4.csv"
    run bm3 "$work/bm.lua" --arg out="$work/bmout/" --workers 2
    run bm4 "$work/bm.lua" --arg out="$work/bmout/" --workers 2 --reset-bookmark
    check bookmark_first_reads_all test "$(rc bm1) $(jget "$work/bm1.json" 'd.rows_read')" = "0 3"
    check bookmark_second_reads_nothing test "$(rc bm2) $(jget "$work/bm2.json" 'd.rows_read')" = "0 0"
    check bookmark_third_reads_new test "$(rc bm3) $(jget "$work/bm3.json" 'd.rows_read')" = "0 1"
    check bookmark_skipped_counted test "$(jget "$work/bm3.json" 'd.nodes[0].skipped_objects')" = 3
    check bookmark_reset_reads_all test "$(rc bm4) $(jget "$work/bm4.json" 'd.rows_read')" = "0 4"
    # a failed run does not advance the bookmark
    printf 'id,v\n5,x\n' >"$work/inbox/f5.csv"
    sed 's/bookmark = true/bookmark = true, args = {}/' "$work/bm.lua" >/dev/null
    cat >"$work/bmfail.lua" <<EOF
job { name = "bm_job_$$", bookmark = true }
function main(ctx)
  sluice.from_path{ uri = "$work/inbox/", format = "csv", options = { header = true },
                    schema = { {"id", "bigint"}, {"v", "bigint"} } }:write{ to = ctx.args.out }
end
EOF
    run bm5 "$work/bmfail.lua" --arg out="$work/bmout/" --workers 2
    rm "$work/inbox/f5.csv"
    printf 'id,v\n5,5\n' >"$work/inbox/f6.csv"
    run bm6 "$work/bmfail.lua" --arg out="$work/bmout/" --workers 2
    check bookmark_failed_run_fails test "$(rc bm5)" = 1
    check bookmark_not_advanced_by_failure test "$(rc bm6) $(jget "$work/bm6.json" 'd.rows_read')" = "0 1"
else
    echo "skip - bookmarks: needs PostgreSQL (SLUICE_CATALOG)"
fi

# ---- from_catalog with partition pruning
if [ -n "${SLUICE_CATALOG:-}" ]; then
    DB=runcat_$$
    "$SLUICE" crawl "$ROOT/examples/data/sales/" --database "$DB" >/dev/null 2>&1
    cat >"$work/cat.lua" <<EOF
job { name = "catalog_src" }
function main(ctx)
  sluice.from_catalog{ database = "$DB", table = "sales", push_down_predicate = "year = '2024' and month >= 12" }
    :group_by("year", "month"):agg{ n = sluice.count() }:write{ to = ctx.args.out }
end
EOF
    run cat "$work/cat.lua" --arg out="$work/cat/" --workers 2
    check catalog_succeeds test "$(rc cat)" = 0
    check catalog_pruned_rows test "$(rows "$work/cat" | tr '\n' ' ')" = "2024,12,25 "
    check catalog_pruned_objects test "$(jget "$work/cat.json" 'd.nodes[0].objects')" = 1
    psql "$SLUICE_CATALOG" -qc "DELETE FROM sluice.catalog_database WHERE name = '$DB'" >/dev/null 2>&1
else
    echo "skip - from_catalog: needs PostgreSQL (SLUICE_CATALOG)"
fi

# ---- S3 in and out (the test bucket on the S3 emulator)
if [ -n "${AWS_ENDPOINT_URL:-}" ]; then
    P=s3://sluice-test/run-$$
    /usr/bin/aws --endpoint-url "$AWS_ENDPOINT_URL" s3 cp --quiet "$work/big.csv" "$P/in/big.csv"
    sed "s#$work/big.csv#$P/in/big.csv#" "$work/agg.lua" >"$work/agg_s3.lua"
    run s3 "$work/agg_s3.lua" --arg out="$P/out" --workers 2
    check s3_run_succeeds test "$(rc s3)" = 0
    /usr/bin/aws --endpoint-url "$AWS_ENDPOINT_URL" s3 cp --quiet --recursive "$P/out/" "$work/s3out/"
    check s3_same_as_local cmp -s <(parts_cat "$work/unb/g") <(parts_cat "$work/s3out/g")
    check s3_success_marker test -s "$work/s3out/g/_SUCCESS"
else
    echo "skip - s3: needs the S3 emulator (AWS_ENDPOINT_URL)"
fi

# ---- errors
printf 'job { name = "syn" }\nfunction main(ctx)\n  local x = = 1\nend\n' >"$work/syn.lua"
run syn "$work/syn.lua"
check syntax_error_fails test "$(rc syn)" = 1
check syntax_error_location grep -q "syn.lua:3:" "$work/syn.err"

cat >"$work/rowerr.lua" <<EOF
job { name = "rowerr" }
function main(ctx)
  sluice.from_path{ uri = "$work/big.csv", format = "csv" }
    :map(function(r)
      if r.k == 4242 then error("no 4242 please") end
      return r
    end)
    :write{ to = ctx.args.out }
end
EOF
run rowerr "$work/rowerr.lua" --arg out="$work/rowerr/" --workers 2
check row_error_fails_run test "$(rc rowerr)" = 1
check row_error_location grep -q 'rowerr.lua:5: no 4242 please' "$work/rowerr.err"
check row_error_no_output test ! -e "$work/rowerr/_SUCCESS" -a -z "$(find "$work/rowerr" -name 'part-*' 2>/dev/null)"
sed 's/name = "rowerr"/name = "rowerr", max_errors = 1000/' "$work/rowerr.lua" >"$work/rowerr_ok.lua"
run rowerr_ok "$work/rowerr_ok.lua" --arg out="$work/rowerr_ok/" --workers 2 --errors "$work/rowerr.jsonl"
n_4242=$(awk -F, '$1 == 4242' "$work/big.csv" | wc -l)
check bad_rows_under_limit test "$(rc rowerr_ok) $(jget "$work/rowerr_ok.json" 'd.rows_rejected')" = "0 $n_4242"
check bad_rows_written_out test "$(wc -l <"$work/rowerr.jsonl")" = "$n_4242"
check bad_rows_have_line test "$(head -1 "$work/rowerr.jsonl" | node -e "const d=JSON.parse(require('fs').readFileSync(0,'utf8'));console.log(d.line > 1 && d.object.endsWith('big.csv'))")" = true
check nothing_dropped test "$(jget "$work/rowerr_ok.json" 'd.rows_written + d.rows_rejected')" = 200000
sed 's/name = "rowerr"/name = "rowerr", max_errors = 0.0000001/' "$work/rowerr.lua" >"$work/rowerr_frac.lua"
run rowerr_frac "$work/rowerr_frac.lua" --arg out="$work/rowerr_frac/" --workers 2
check bad_rows_over_fraction test "$(rc rowerr_frac)" = 1

cat >"$work/mem.lua" <<EOF
job { name = "memcap" }
function main(ctx)
  local keep = {}
  sluice.from_path{ uri = "$work/big.csv", format = "csv" }
    :filter(function(r) keep[#keep + 1] = string.rep("x", 1 << 20) .. r.k; return true end)
    :write{ to = ctx.args.out }
end
EOF
run mem "$work/mem.lua" --arg out="$work/mem/" --workers 2
check memory_cap_fails test "$(rc mem)" = 1
check memory_cap_message grep -qi "memory" "$work/mem.err"
check memory_cap_no_output test ! -e "$work/mem/_SUCCESS"

cat >"$work/sandbox.lua" <<EOF
job { name = "sandbox" }
function main(ctx)
  sluice.from_path{ uri = "$work/big.csv", format = "csv" }
    :filter(function(r) return os.execute("true") end)
    :write{ to = ctx.args.out }
end
EOF
run sandbox "$work/sandbox.lua" --arg out="$work/sandbox/" --workers 1
check sandbox_no_os_execute grep -q "execute" "$work/sandbox.err"

# allow_files: reading local files (a lookup table) only when the job says so; never writing
printf 'PT,Portugal\n' >"$work/countries.txt"
cat >"$work/files.lua" <<EOF
job { name = "files", allow_files = true }
function main(ctx)
  local names = {}
  for line in io.lines("$work/countries.txt") do local k, v = line:match("^(%w+),(.*)$"); names[k] = v end
  local can_write = pcall(io.open, "$work/written.txt", "w")
  sluice.from_path{ uri = "$work/big.csv", format = "csv" }
    :map(function(r) r.country = names.PT; r.w = can_write; return r end)
    :select("country", "w"):limit(1):write{ to = ctx.args.out }
end
EOF
run files "$work/files.lua" --arg out="$work/files/"
check allow_files_reads test "$(rc files) $(rows "$work/files")" = "0 Portugal,false"
check allow_files_never_writes test ! -e "$work/written.txt"
sed 's/, allow_files = true//' "$work/files.lua" >"$work/nofiles.lua"
run nofiles "$work/nofiles.lua" --arg out="$work/nofiles/"
check files_refused_by_default grep -q "nofiles.lua:4: attempt to index a nil value (global 'io')" "$work/nofiles.err"

# a killed run publishes nothing: readers see no rows from it
cat >"$work/slow.lua" <<EOF
job { name = "slow" }
function main(ctx)
  sluice.from_path{ uri = "$work/big.csv", format = "csv" }
    :map(function(r) local x = 0 for i = 1, 20000 do x = x + i end r.x = x return r end)
    :write{ to = ctx.args.out }
end
EOF
"$SLUICE" run "$work/slow.lua" --arg out="$work/slow/" --workers 2 >/dev/null 2>&1 &
pid=$!
for _ in $(seq 100); do [ -n "$(find "$work/slow" -name 'part-*' 2>/dev/null)" ] && break; sleep 0.1; done
sleep 0.5
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
check killed_run_not_published test ! -e "$work/slow/_SUCCESS"
cat >"$work/count.lua" <<EOF
job { name = "count" }
function main(ctx)
  sluice.from_path{ uri = ctx.args.src, format = "csv", schema = { {"k", "bigint"} } }
    :group_by():agg{ n = sluice.count() }:write{ to = ctx.args.out }
end
EOF
mkdir -p "$work/slow"
run count "$work/count.lua" --arg src="$work/slow/" --arg out="$work/count/"
check killed_run_invisible_to_readers test "$(rc count) $(rows "$work/count")" = "0 0"
# stages that end at once (no input: 0 tasks) with many workers: a worker
# late from one stage must not take a task of the next (it once hung the run)
mkdir -p "$work/empty"
n_ok=0
for i in $(seq 30); do
    rm -rf "$work/count_e"
    timeout 120 "$SLUICE" run "$work/count.lua" --workers 8 --arg src="$work/empty/" \
        --arg out="$work/count_e/" >/dev/null 2>&1 && [ -f "$work/count_e/_SUCCESS" ] &&
        n_ok=$((n_ok + 1))
done
check empty_stages_never_hang test "$n_ok" = 30

# ---- edge cases: a new column that starts NULL, unpublished files where no run ever
# published, more partition folders than open files, quoted line breaks in a big CSV
printf 'id\n1\n2\n3\n' >"$work/n.csv"
cat >"$work/nullfirst.lua" <<EOF
job { name = "nullfirst" }
function main(ctx)
  sluice.from_path{ uri = "$work/n.csv", format = "csv" }
    :map(function(r) if r.id == 1 then r.v = sluice.null else r.v = r.id * 10 end return r end)
    :write{ to = ctx.args.out }
end
EOF
run nullfirst "$work/nullfirst.lua" --arg out="$work/nullfirst/"
check null_first_keeps_values test "$(rows "$work/nullfirst" | tr '\n' ' ')" = "1, 2,20 3,30 "
mkdir -p "$work/orphans"
printf 'k\n1\n2\n' >"$work/orphans/part-jr_killed-00000-000.csv"
printf 'k\n7\n' >"$work/orphans/data.csv"
sed 's/schema = /options = { header = true }, schema = /' "$work/count.lua" >"$work/count_h.lua"
run orphans "$work/count_h.lua" --arg src="$work/orphans/" --arg out="$work/orphans_count/"
check unpublished_without_any_manifest_skipped test "$(rc orphans) $(rows "$work/orphans_count")" = "0 1"
awk 'BEGIN { print "k,v"; for (i = 0; i < 3000; i++) printf "%d,%d\n", i % 600, i }' >"$work/p600.csv"
cat >"$work/p600.lua" <<EOF
job { name = "p600" }
function main(ctx)
  sluice.from_path{ uri = "$work/p600.csv", format = "csv" }:sort("k")
    :write{ to = ctx.args.out, partition_keys = { "k" } }
end
EOF
run p600 "$work/p600.lua" --arg out="$work/p600/"
check many_partition_folders test "$(rc p600) $(find "$work/p600" -name 'k=*' -type d | wc -l) $(rows "$work/p600" | wc -l)" = "0 600 3000"
check write_bytes_counted test "$(jget "$work/p600.json" 'd.nodes[2].bytes_in > 0')" = true
# every row in its own key's folder (v % 600 == k), also with interleaved keys (no sort)
in_place() { find "$1" -name 'part-*' | while read -r f; do k=${f#*k=}; k=${k%%/*}; tail -n +2 "$f" | awk -v k="$k" '$1 % 600 != k'; done | wc -l; }
check many_partition_folders_rows_in_place test "$(in_place "$work/p600")" = 0
sed 's/:sort("k")//' "$work/p600.lua" >"$work/p600i.lua"
run p600i "$work/p600i.lua" --arg out="$work/p600i/"
check interleaved_partition_folders test "$(rc p600i) $(rows "$work/p600i" | wc -l) $(in_place "$work/p600i")" = "0 3000 0"
awk 'BEGIN { print "id,note"; for (i = 0; i < 700000; i++) printf "%d,\"line one\nline two\"\n", i }' >"$work/ml.csv"
cat >"$work/ml.lua" <<EOF
job { name = "ml" }
function main(ctx)
  sluice.from_path{ uri = "$work/ml.csv", format = "csv", options = { header = true },
                    schema = { {"id", "string"}, {"note", "string"} } }
    :group_by():agg{ n = sluice.count() }:write{ to = ctx.args.out }
end
EOF
run ml "$work/ml.lua" --arg out="$work/ml/" --workers 2
check quoted_line_breaks_not_split test "$(rc ml) $(rows "$work/ml")" = "0 700000"

# stop request: SIGTERM ends the run as STOPPED, nothing published
"$SLUICE" run "$work/slow.lua" --arg out="$work/stopped/" --workers 2 --json >"$work/stop.json" 2>/dev/null &
pid=$!
sleep 1
kill -TERM "$pid"
wait "$pid"
check stopped_exit_code test $? = 1
check stopped_state test "$(jget "$work/stop.json" 'd.state')" = STOPPED
check stopped_nothing_left test -z "$(find "$work/stopped" -name 'part-*' 2>/dev/null)"

exit $((n_fail > 0))
