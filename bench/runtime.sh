#!/usr/bin/env bash
# bench/runtime.sh - the job runtime benchmarks: `sluice run` versus DuckDB
# (through tests/tools/duckdb_query.mjs, threads set to the same worker
# count) on the same input files, same invocation, alternating order.
# Inputs come from bench/prepare_flights.sh (run here; it skips what exists).
#
#   (a) flights_groupby       3M-row CSV, group by origin       W=2
#   (b) flights_groupby_lua   the same with a Lua map per row   W=2
#   (c) flights_groupby       W=1 vs W=2 (speedup); the 12M-row CSV at W=2
#                             (scaling: time ratio vs 3M, 4.0 = linear)
#   (d) keys_groupby          5M rows, 1M groups, sluice with --memory 256 and
#                             without (sluice's default, 1024 MiB): peak RSS,
#                             spilled bytes; the outputs must be identical
#   (e) flights_groupby_jsonl the 3M rows as gzip'd JSON Lines       W=2
#
# Each measurement runs ROUNDS times: median wall time, and the largest peak
# RSS of the rounds (/usr/bin/time -f '%e %M'). DuckDB's figures include
# starting node and loading DuckDB (~0.1-0.2 s) and formatting the result
# as CSV in JavaScript (noticeable only for (d)'s 1M result rows); sluice's
# include planning. Outputs are compared after tests/tools/csv_canon.mjs
# --sort --round 9 (MATCH / MISMATCH). Prints a Markdown table and notes;
# nothing is written to bench/RESULTS.md (copy it there by hand).
#
#   usage: bench/runtime.sh [ROUNDS (3)] [CASE...]    CASE: a b c d e (default: all)
#   SLUICE_BIN: the sluice binary (default ./sluice)
set -uo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-${BENCH_ROUNDS:-3}}
shift || true
CASES=${*:-a b c d e}
SLUICE=${SLUICE_BIN:-$PWD/sluice}
D=bench/data
CANON="node tests/tools/csv_canon.mjs"

case $ROUNDS in '' | *[!0-9]* | 0) echo "usage: bench/runtime.sh [ROUNDS] [CASE...]" >&2; exit 2 ;; esac
for c in $CASES; do
    case $c in a | b | c | d | e) ;; *) echo "runtime: unknown case '$c' (a b c d e)" >&2; exit 2 ;; esac
done
want() { [[ " $CASES " == *" $1 "* ]]; }

bash bench/prepare_flights.sh >/dev/null || { echo "runtime: bench/prepare_flights.sh failed" >&2; exit 1; }

TIME=/usr/bin/time
if [ ! -x "$TIME" ]; then
    echo "note: $TIME is missing (Debian package 'time'): wall times from bash, peak RSS not measured" >&2
    TIME=
fi
SLUICE_OK=1
if ! "$SLUICE" run --help >/dev/null 2>&1; then
    echo "note: '$SLUICE run' is not available: sluice is not measured" >&2
    SLUICE_OK=0
fi

work=$(mktemp -d /tmp/sluice-bench-runtime-XXXXXX)
trap 'rm -rf "$work"' EXIT
export SLUICE_HOME=$work/home # run folders (spill/, errors.jsonl) go there, not to ./.sluice
# one copy of the binary for the whole benchmark: a rebuild meanwhile changes nothing
if [ "$SLUICE_OK" = 1 ]; then
    cp "$SLUICE" "$work/sluice" && SLUICE=$work/sluice
fi
failed=0

declare -A TIMES RSS OUT ROWS_ORDER SPILL
order=()

# timed KEY OUTFILE ERRFILE CMD...: runs CMD once, adds its wall time and
# peak RSS to KEY's figures. Returns CMD's status.
timed() {
    local key=$1 out=$2 errf=$3; shift 3
    local rc e m
    if [ -n "$TIME" ]; then
        "$TIME" -f '%e %M' -o "$work/time" "$@" >"$out" 2>"$errf"
        rc=$?
        read -r e m < <(tail -n 1 "$work/time")
    else
        local t0 t1
        t0=$(date +%s%N)
        "$@" >"$out" 2>"$errf"
        rc=$?
        t1=$(date +%s%N)
        e=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) / 1e9 }')
        m=0
    fi
    if [ -z "${ROWS_ORDER[$key]:-}" ]; then
        ROWS_ORDER[$key]=1
        order+=("$key")
    fi
    if [ "$rc" -ne 0 ]; then
        TIMES[$key]="FAIL"
        echo "runtime: $key failed (exit $rc):" >&2
        tail -n 5 "$errf" | sed 's/^/    /' >&2
        failed=1
        return "$rc"
    fi
    [ "${TIMES[$key]:-}" = FAIL ] && return 0
    TIMES[$key]="${TIMES[$key]:-}${TIMES[$key]:+ }$e"
    [ "${m:-0}" -gt "${RSS[$key]:-0}" ] && RSS[$key]=$m
    return 0
}

# sluice_run KEY JOB INPUT WORKERS [EXTRA...]; OUT[KEY] is the last output folder
sluice_run() {
    local key=$1 job=$2 input=$3 w=$4; shift 4
    [ "$SLUICE_OK" = 1 ] || return 0
    local o
    o=$(mktemp -d "$work/sluice-XXXXXX")/out
    if timed "$key" "$work/last.json" "$work/last.err" \
        "$SLUICE" run "bench/jobs/$job.lua" --arg "input=$input" --arg "output=$o" \
        --workers "$w" "$@" --json; then
        local state
        state=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).state)' \
            "$work/last.json" 2>/dev/null)
        if [ "$state" != SUCCEEDED ]; then
            TIMES[$key]=FAIL
            echo "runtime: $key exited 0 but its --json state is '${state:-unreadable}'" >&2
            failed=1
            rm -rf "$(dirname "$o")"
            return
        fi
        [ -n "${OUT[$key]:-}" ] && rm -rf "$(dirname "${OUT[$key]}")"
        OUT[$key]=$o
        SPILL[$key]=$(node -e '
            const d = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
            console.log(typeof d.spill_bytes === "number" ? d.spill_bytes
                        : (d.nodes || []).reduce((s, n) => s + (Number(n.spill_bytes) || 0), 0))' \
            "$work/last.json" 2>/dev/null || echo "?")
    else
        rm -rf "$(dirname "$o")"
    fi
    rm -rf "$SLUICE_HOME/runs" # run folders of finished runs (the spill folder is already gone)
}

# duck_run KEY SQLNAME INPUT WORKERS; OUT[KEY] is the result CSV
duck_run() {
    local key=$1 sql=$2 input=$3 w=$4
    local o="$work/duck-$sql-$w-$(basename "$input").csv"
    timed "$key" /dev/null "$work/duck.err" \
        node tests/tools/duckdb_query.mjs --csv-out "$o" \
        "SET threads = $w; SET VARIABLE input = '$input'; $(cat "bench/sql/$sql.sql")" &&
        OUT[$key]=$o
}

# pair NAME JOB INPUT WORKERS: ROUNDS of sluice and DuckDB, alternating
pair() {
    local name=$1 job=$2 input=$3 w=$4 r
    echo "== $name: $job on $(basename "$input"), $w worker(s)" >&2
    for ((r = 1; r <= ROUNDS; r++)); do
        if ((r % 2)); then
            sluice_run "$name|sluice|$w" "$job" "$input" "$w"
            duck_run "$name|DuckDB|$w" "$job" "$input" "$w"
        else
            duck_run "$name|DuckDB|$w" "$job" "$input" "$w"
            sluice_run "$name|sluice|$w" "$job" "$input" "$w"
        fi
    done
}

median() { # times... -> median (mean of the middle two for an even count)
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "n/a"; exit }
        if (NR % 2) printf "%.2f", v[(NR + 1) / 2]; else printf "%.2f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
med_of() { # key
    local t=${TIMES[$1]:-}
    case $t in "") echo "n/a" ;; FAIL) echo "FAIL" ;; *) median $t ;; esac
}
ratio() { # a b [SUFFIX] -> a/b
    awk -v a="$1" -v b="$2" -v s="${3:-}" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f%s", a / b, s; else print "n/a" }'
}
mib() { # key
    local k=${RSS[$1]:-}
    if [ -z "$k" ] || [ "$k" = 0 ]; then echo "n/a"; else awk -v k="$k" 'BEGIN { printf "%.0f", k / 1024 }'; fi
}

# same_output LABEL A B [--round 9]: csv_canon --sort both, compare
notes=()
same_output() {
    local label=$1 a=$2 b=$3; shift 3
    if [ -z "$a" ] || [ -z "$b" ]; then
        notes+=("$label: not compared (a run is missing)")
        return
    fi
    rm -f "$work/ca.err" "$work/cb.err"
    if $CANON --sort "$@" "$a" >"$work/ca.csv" 2>"$work/ca.err" &&
        $CANON --sort "$@" "$b" >"$work/cb.csv" 2>"$work/cb.err" &&
        cmp -s "$work/ca.csv" "$work/cb.csv"; then
        notes+=("$label: MATCH ($(($(wc -l <"$work/ca.csv") - 1)) rows)")
    else
        notes+=("$label: MISMATCH")
        cat "$work/ca.err" "$work/cb.err" 2>/dev/null >&2
        diff "$work/ca.csv" "$work/cb.csv" 2>/dev/null | head -10 | sed 's/^/    /' >&2
        failed=1
    fi
}

F3=$D/flights-3m.csv
F12=$D/flights-12m.csv
FJ=$D/flights-3m.jsonl.gz
K=$D/keys-1m.csv

if want a || want c; then pair "flights_groupby 3M csv" flights_groupby "$F3" 2; fi
want b && pair "flights_groupby_lua 3M csv" flights_groupby_lua "$F3" 2
if want c; then
    pair "flights_groupby 3M csv" flights_groupby "$F3" 1
    pair "flights_groupby 12M csv" flights_groupby "$F12" 2
fi
if want d; then
    echo "== keys_groupby: $(basename "$K"), 2 workers, sluice with and without --memory 256" >&2
    for ((r = 1; r <= ROUNDS; r++)); do
        if ((r % 2)); then
            sluice_run "keys_groupby 5M rows 1M keys|sluice|2" keys_groupby "$K" 2
            sluice_run "keys_groupby --memory 256|sluice|2" keys_groupby "$K" 2 --memory 256
            duck_run "keys_groupby 5M rows 1M keys|DuckDB|2" keys_groupby "$K" 2
        else
            duck_run "keys_groupby 5M rows 1M keys|DuckDB|2" keys_groupby "$K" 2
            sluice_run "keys_groupby --memory 256|sluice|2" keys_groupby "$K" 2 --memory 256
            sluice_run "keys_groupby 5M rows 1M keys|sluice|2" keys_groupby "$K" 2
        fi
    done
fi
want e && pair "flights_groupby_jsonl 3M jsonl.gz" flights_groupby_jsonl "$FJ" 2

# ---- the table
duck_key_of() { # sluice key -> the DuckDB key it is compared with
    case $1 in
    "keys_groupby --memory 256|sluice|2") echo "keys_groupby 5M rows 1M keys|DuckDB|2" ;;
    *) echo "${1/|sluice|/|DuckDB|}" ;;
    esac
}
echo
echo "| benchmark | engine | workers | median s | peak RSS MiB | sluice/DuckDB |"
echo "|---|---|--:|--:|--:|--:|"
for key in "${order[@]}"; do
    IFS='|' read -r name engine w <<<"$key"
    r=""
    if [ "$engine" = sluice ]; then r=$(ratio "$(med_of "$key")" "$(med_of "$(duck_key_of "$key")")"); fi
    echo "| $name | $engine | $w | $(med_of "$key") | $(mib "$key") | $r |"
done
echo

# ---- derived figures and checks
if want c; then
    for e in sluice DuckDB; do
        notes+=("speedup W=1 -> W=2, flights_groupby 3M, $e: $(ratio "$(med_of "flights_groupby 3M csv|$e|1")" "$(med_of "flights_groupby 3M csv|$e|2")" x)")
    done
    for e in sluice DuckDB; do
        notes+=("scaling 3M -> 12M rows, flights_groupby W=2, $e: time ratio $(ratio "$(med_of "flights_groupby 12M csv|$e|2")" "$(med_of "flights_groupby 3M csv|$e|2")") (4.00 = linear)")
    done
fi
if want a || want c; then
    same_output "(a) flights_groupby 3M, sluice vs DuckDB (csv_canon --sort --round 9)" \
        "${OUT["flights_groupby 3M csv|sluice|2"]:-}" "${OUT["flights_groupby 3M csv|DuckDB|2"]:-}" --round 9
fi
want b && same_output "(b) flights_groupby_lua 3M, sluice vs DuckDB (--round 9)" \
    "${OUT["flights_groupby_lua 3M csv|sluice|2"]:-}" "${OUT["flights_groupby_lua 3M csv|DuckDB|2"]:-}" --round 9
want c && same_output "(c) flights_groupby 12M, sluice vs DuckDB (--round 9)" \
    "${OUT["flights_groupby 12M csv|sluice|2"]:-}" "${OUT["flights_groupby 12M csv|DuckDB|2"]:-}" --round 9
if want d; then
    same_output "(d) keys_groupby, sluice --memory 256 vs default --memory 1024 (csv_canon --sort)" \
        "${OUT["keys_groupby --memory 256|sluice|2"]:-}" "${OUT["keys_groupby 5M rows 1M keys|sluice|2"]:-}"
    same_output "(d) keys_groupby, sluice vs DuckDB (csv_canon --sort)" \
        "${OUT["keys_groupby 5M rows 1M keys|sluice|2"]:-}" "${OUT["keys_groupby 5M rows 1M keys|DuckDB|2"]:-}"
    for k in "keys_groupby --memory 256|sluice|2" "keys_groupby 5M rows 1M keys|sluice|2"; do
        label=${k%%|*}
        [ "$label" = "keys_groupby --memory 256" ] || label="keys_groupby, default --memory (1024 MiB)"
        [ -n "${SPILL[$k]:-}" ] && notes+=("(d) $label: peak RSS $(mib "$k") MiB, spilled ${SPILL[$k]} bytes (last round)")
    done
fi
want e && same_output "(e) flights_groupby_jsonl 3M, sluice vs DuckDB (--round 9)" \
    "${OUT["flights_groupby_jsonl 3M jsonl.gz|sluice|2"]:-}" "${OUT["flights_groupby_jsonl 3M jsonl.gz|DuckDB|2"]:-}" --round 9
for n in "${notes[@]}"; do echo "$n"; done
echo "all runs (s):"
for key in "${order[@]}"; do echo "  $key: ${TIMES[$key]:-}"; done
exit "$failed"
