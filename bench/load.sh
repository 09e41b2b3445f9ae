#!/usr/bin/env bash
# bench/load.sh - the loading benchmark: `sluice load` against psql's \copy
# and pgloader, on the 3,000,000-row flights CSV (bench/data/flights-3m.csv,
# made by bench/prepare_flights.sh, which this script runs; it skips what
# exists).
#
# The flights rows have no key, so the script first writes a copy of the CSV
# with an id column in front (1..3,000,000, awk). Every tool reads that file:
#
#   load   the 3,000,000 rows into an empty table
#            id bigint, date timestamp, delay bigint, distance bigint,
#            origin text, destination text      (no index, no key)
#          psql      \copy TABLE FROM 'file' csv header
#          sluice    sluice load FILE --into postgres:bench.flights --workers 2
#                    (the table exists and is empty: the default mode, append)
#          pgloader  a LOAD CSV command (bench/load_pgloader.template)
#          and two more sluice rows for reference: the same load when the
#          table does not exist yet (sluice creates it; its date column is
#          then timestamp with time zone), and --mode overwrite into the
#          empty table.
#   merge  300,000 rows (every 10th id, delay + 7) into the loaded table,
#          matched on id: rows with those ids are replaced
#          psql      one transaction: \copy into a temporary table, ANALYZE
#                    it, LOCK the table, DELETE ... USING, INSERT ... SELECT
#          sluice    sluice load FILE --into postgres:bench.flights --workers 2
#                    --mode merge --keys id
#          pgloader  has no merge for CSV: it copies into an unlogged staging
#                    table and its AFTER LOAD DO runs the same ANALYZE, LOCK,
#                    DELETE and INSERT (in one DO block: one transaction), then
#                    drops the staging table
#
# Before each timed run the table is put back in its starting state (empty,
# missing, or the 3,000,000 rows loaded by psql and vacuumed) and a
# CHECKPOINT is taken, outside the timing. After each run the table is
# checked: 3,000,000 rows and the expected sum of delay (merge: also
# 3,000,000 distinct ids); a run whose table is wrong counts as failed.
# Each case runs ROUNDS times, tools in alternating order: median wall time
# and the largest peak RSS of the client process (/usr/bin/time -f '%e %M';
# the server's memory is not in it, for any tool).
#
# PostgreSQL: $SLUICE_CATALOG; when it is not set, the test services are
# started (scripts/services.sh start; they are left running) and their
# PostgreSQL is used. The script creates schema bench if missing, uses the
# tables bench.flights and bench.flights_stage, and drops those two tables at
# the end. pgloader: the Debian package; when it is missing the script
# installs it with apt-get (as root, or through sudo without a password) and
# says so; if that fails, pgloader's rows are skipped.
#
# Every tool runs with the server's settings as they are: PGOPTIONS is
# unset (libpq would pass it to psql's and sluice's sessions, not to
# pgloader's). pgloader runs with its default workers and batch sizes.
#
# Prints a Markdown table and notes; nothing is written to bench/RESULTS.md.
#
#   usage: bench/load.sh [ROUNDS (3)]
#   SLUICE_BIN: the sluice binary (default ./sluice)
set -uo pipefail
shopt -u patsub_replacement 2>/dev/null || true # '&' in a replacement stays '&'
cd "$(dirname "$0")/.." || exit 1
ROUNDS=${1:-${BENCH_ROUNDS:-3}}
case $ROUNDS in '' | *[!0-9]* | 0) echo "usage: bench/load.sh [ROUNDS]" >&2; exit 2 ;; esac
SLUICE=${SLUICE_BIN:-$PWD/sluice}
unset PGOPTIONS
SCHEMA=bench
T=$SCHEMA.flights
STAGE=$SCHEMA.flights_stage
TEMPLATE=$PWD/bench/load_pgloader.template
DDL="CREATE TABLE $T (id bigint, date timestamp, delay bigint, distance bigint, origin text, destination text)"
N_ROWS=3000000
N_MERGE=300000

# ---- inputs
F3=bench/data/flights-3m.csv
if ! bash bench/prepare_flights.sh >/dev/null; then
    if [ -s "$F3" ]; then
        echo "note: bench/prepare_flights.sh failed; using the existing $F3" >&2
    else
        echo "load: $F3 is missing and bench/prepare_flights.sh failed" >&2
        exit 1
    fi
fi

# ---- PostgreSQL
if [ -z "${SLUICE_CATALOG:-}" ]; then
    echo "note: SLUICE_CATALOG is not set: starting the test services (scripts/services.sh start)" >&2
    scripts/services.sh start >&2 || { echo "load: scripts/services.sh start failed" >&2; exit 1; }
    eval "$(scripts/services.sh env)"
fi
export SLUICE_CATALOG
sql() { psql "$SLUICE_CATALOG" -XAtq -v ON_ERROR_STOP=1 "$@"; }
if ! sql -c "SELECT 1" >/dev/null; then
    echo "load: cannot connect to PostgreSQL ($SLUICE_CATALOG)" >&2
    exit 1
fi

# ---- tools
TIME=/usr/bin/time
if [ ! -x "$TIME" ]; then
    echo "note: $TIME is missing (Debian package 'time'): wall times from bash, peak RSS not measured" >&2
    TIME=
fi
SLUICE_OK=1
if ! "$SLUICE" load --help >/dev/null 2>&1; then
    echo "note: '$SLUICE load' is not available: sluice is not measured" >&2
    SLUICE_OK=0
fi
PGLOADER=$(command -v pgloader || true)
PGLOADER_NOTE=""
if [ -z "$PGLOADER" ]; then
    echo "note: pgloader is missing: installing the Debian package pgloader with apt-get" >&2
    as_root=()
    [ "$(id -u)" = 0 ] || as_root=(sudo -n)
    if { DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y pgloader ||
        { "${as_root[@]}" apt-get update && DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y pgloader; }; } >/dev/null 2>&1; then
        PGLOADER=$(command -v pgloader || true)
        PGLOADER_NOTE="pgloader was installed by this script (apt-get install pgloader)"
    fi
    if [ -z "$PGLOADER" ]; then
        echo "note: pgloader could not be installed: its rows are skipped" >&2
        PGLOADER_NOTE="pgloader could not be installed (apt-get install pgloader failed): its rows are skipped"
    fi
fi

work=$(mktemp -d /tmp/sluice-bench-load-XXXXXX)
cleanup() {
    sql -c "DROP TABLE IF EXISTS $T, $STAGE" >/dev/null 2>&1
    sql -c "DROP SCHEMA IF EXISTS $SCHEMA" >/dev/null 2>&1 # only when empty
    rm -rf "$work"
}
trap cleanup EXIT
export SLUICE_HOME=$work/home # run folders go there, not to ./.sluice
if [ "$SLUICE_OK" = 1 ]; then
    cp "$SLUICE" "$work/sluice" && SLUICE=$work/sluice # a rebuild meanwhile changes nothing
fi

# pgloader takes a postgresql:// URI; SLUICE_CATALOG may be key=value pairs
pg_uri() {
    case $SLUICE_CATALOG in postgres://* | postgresql://*) echo "$SLUICE_CATALOG"; return ;; esac
    local host=${PGHOST:-localhost} port=${PGPORT:-5432} db=${PGDATABASE:-} user=${PGUSER:-$(id -un)} pass=${PGPASSWORD:-} kv
    for kv in $SLUICE_CATALOG; do
        case $kv in
        host=*) host=${kv#host=} ;;
        port=*) port=${kv#port=} ;;
        dbname=*) db=${kv#dbname=} ;;
        user=*) user=${kv#user=} ;;
        password=*) pass=${kv#password=} ;;
        esac
    done
    [ -n "$db" ] || db=$user
    case $host in /*) host="unix:$host" ;; esac
    echo "postgresql://$user${pass:+:$pass}@$host:$port/$db"
}
PGURI=$(pg_uri)

# ---- the input files, and the sums the tables must have after each case
CSV=$work/flights-id.csv
MCSV=$work/flights-merge.csv
awk 'BEGIN { FS = OFS = "," } NR == 1 { print "id", $0; next } { print NR - 1, $0 }' "$F3" >"$CSV"
awk -v step=$((N_ROWS / N_MERGE)) 'BEGIN { FS = OFS = "," } NR == 1 { print; next } $1 % step == 0 { $3 = $3 + 7; print }' "$CSV" >"$MCSV"
n_csv=$(($(wc -l <"$CSV") - 1))
n_mcsv=$(($(wc -l <"$MCSV") - 1))
if [ "$n_csv" != "$N_ROWS" ] || [ "$n_mcsv" != "$N_MERGE" ]; then
    echo "load: expected $N_ROWS and $N_MERGE rows, made $n_csv and $n_mcsv" >&2
    exit 1
fi
SUM=$(awk -F, 'NR > 1 { s += $3 } END { printf "%d", s }' "$CSV")
WANT_LOAD="$N_ROWS|$SUM"
WANT_MERGE="$N_ROWS|$N_ROWS|$((SUM + 7 * N_MERGE))"

# ---- starting states (outside the timing)
sql -c "CREATE SCHEMA IF NOT EXISTS $SCHEMA" >/dev/null 2>&1
state_empty() { sql -c "DROP TABLE IF EXISTS $T, $STAGE" -c "$DDL" -c "CHECKPOINT" >/dev/null 2>&1; }
state_missing() { sql -c "DROP TABLE IF EXISTS $T, $STAGE" -c "CHECKPOINT" >/dev/null 2>&1; }
state_loaded() {
    sql -c "DROP TABLE IF EXISTS $T, $STAGE" -c "$DDL" -c "\\copy $T FROM '$CSV' csv header" \
        -c "VACUUM ANALYZE $T" -c "CHECKPOINT" >/dev/null 2>&1
}
check_load() { sql -c "SELECT count(*), coalesce(sum(delay), 0) FROM $T" 2>/dev/null; }
check_merge() { sql -c "SELECT count(*), count(DISTINCT id), coalesce(sum(delay), 0) FROM $T" 2>/dev/null; }
stages_left() {
    sql -c "SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = '$SCHEMA' AND tablename LIKE '\\_sluice\\_stage%'" 2>/dev/null
}

failed=0
declare -A TIMES RSS CMD GOT
order=()
notes=()

# timed KEY CHECKFN WANT CMD...: runs CMD once; when it succeeds and CHECKFN
# prints WANT, adds its wall time and peak RSS to KEY's figures, else marks
# KEY failed.
timed() {
    local key=$1 check=$2 want=$3; shift 3
    local rc e m got
    if [ -z "${CMD[$key]:-}" ]; then
        order+=("$key")
        CMD[$key]=1
    fi
    if [ -n "$TIME" ]; then
        "$TIME" -f '%e %M' -o "$work/time" "$@" >"$work/out" 2>"$work/err"
        rc=$?
        read -r e m < <(tail -n 1 "$work/time")
    else
        local t0 t1
        t0=$(date +%s%N)
        "$@" >"$work/out" 2>"$work/err"
        rc=$?
        t1=$(date +%s%N)
        e=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) / 1e9 }')
        m=0
    fi
    got=$($check)
    GOT[$key]=$got
    if [ "$rc" -ne 0 ] || [ "$got" != "$want" ]; then
        echo "load: $key failed (exit $rc; table: '$got', expected '$want'):" >&2
        tail -n 8 "$work/out" "$work/err" | sed 's/^/    /' >&2
        TIMES[$key]=FAIL
        failed=1
        return 1
    fi
    [ "${TIMES[$key]:-}" = FAIL ] && return 0
    TIMES[$key]="${TIMES[$key]:-}${TIMES[$key]:+ }$e"
    [ "${m:-0}" -gt "${RSS[$key]:-0}" ] && RSS[$key]=$m
    return 0
}

# pgloader_cmd CSV TABLE BEFORE AFTER: writes the command file, prints its path
pgloader_cmd() {
    local t
    t=$(<"$TEMPLATE")
    t=${t//@CSV@/$1}
    t=${t//@PGURI@/$PGURI}
    t=${t//@TABLE@/$2}
    t=${t//@BEFORE@/$3}
    t=${t//@AFTER@/$4}
    printf '%s\n' "$t" >"$work/cmd.load"
    echo "$work/cmd.load"
}

NOOP='     $$ SELECT 1; $$'
MERGE_BEFORE="     \$\$ DROP TABLE IF EXISTS $STAGE; \$\$,
     \$\$ CREATE UNLOGGED TABLE $STAGE (LIKE $T); \$\$"
MERGE_AFTER="     \$\$ ANALYZE $STAGE; \$\$,
     \$\$ DO \$merge\$ BEGIN
          LOCK TABLE $T IN SHARE ROW EXCLUSIVE MODE;
          DELETE FROM $T USING $STAGE WHERE flights.id = flights_stage.id;
          INSERT INTO $T SELECT * FROM $STAGE;
        END \$merge\$; \$\$,
     \$\$ DROP TABLE $STAGE; \$\$"
cat >"$work/merge.sql" <<EOF
BEGIN;
CREATE TEMP TABLE flights_stage (LIKE $T) ON COMMIT DROP;
\\copy flights_stage FROM '$MCSV' csv header
ANALYZE flights_stage;
LOCK TABLE $T IN SHARE ROW EXCLUSIVE MODE;
DELETE FROM $T USING flights_stage WHERE flights.id = flights_stage.id;
INSERT INTO $T SELECT * FROM flights_stage;
COMMIT;
EOF

K_PSQL="load|psql \\copy"
K_SL="load|sluice load --workers 2 (append into the empty table)"
K_SLNEW="load|sluice load --workers 2 (table missing: created by the load)"
K_SLOW="load|sluice load --workers 2 --mode overwrite (empty table)"
K_PGL="load|pgloader"
M_PSQL="merge|psql: \\copy to a temp table + DELETE USING/INSERT, one transaction"
M_SL="merge|sluice load --workers 2 --mode merge --keys id"
M_PGL="merge|pgloader to a staging table + the same DELETE/INSERT (AFTER LOAD DO)"

one_load() { # TOOL
    case $1 in
    psql)
        state_empty
        timed "$K_PSQL" check_load "$WANT_LOAD" psql "$SLUICE_CATALOG" -Xq -v ON_ERROR_STOP=1 \
            -c "\\copy $T FROM '$CSV' csv header"
        ;;
    sluice)
        [ "$SLUICE_OK" = 1 ] || return 0
        state_empty
        timed "$K_SL" check_load "$WANT_LOAD" "$SLUICE" load "$CSV" --into "postgres:$T" --workers 2
        state_missing
        timed "$K_SLNEW" check_load "$WANT_LOAD" "$SLUICE" load "$CSV" --into "postgres:$T" --workers 2
        state_empty
        timed "$K_SLOW" check_load "$WANT_LOAD" "$SLUICE" load "$CSV" --into "postgres:$T" --workers 2 --mode overwrite
        ;;
    pgloader)
        [ -n "$PGLOADER" ] || return 0
        state_empty
        rm -rf "$work/pgloader"
        timed "$K_PGL" check_load "$WANT_LOAD" "$PGLOADER" --root-dir "$work/pgloader" \
            "$(pgloader_cmd "$CSV" "$T" "$NOOP" "$NOOP")"
        ;;
    esac
}
one_merge() { # TOOL
    case $1 in
    psql)
        state_loaded
        timed "$M_PSQL" check_merge "$WANT_MERGE" psql "$SLUICE_CATALOG" -Xq -v ON_ERROR_STOP=1 -f "$work/merge.sql"
        ;;
    sluice)
        [ "$SLUICE_OK" = 1 ] || return 0
        state_loaded
        timed "$M_SL" check_merge "$WANT_MERGE" "$SLUICE" load "$MCSV" --into "postgres:$T" --workers 2 --mode merge --keys id
        ;;
    pgloader)
        [ -n "$PGLOADER" ] || return 0
        state_loaded
        rm -rf "$work/pgloader"
        timed "$M_PGL" check_merge "$WANT_MERGE" "$PGLOADER" --root-dir "$work/pgloader" \
            "$(pgloader_cmd "$MCSV" "$STAGE" "$MERGE_BEFORE" "$MERGE_AFTER")"
        ;;
    esac
}

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)
left=0
for case_ in load merge; do
    echo "== $case_: $ROUNDS round(s)" >&2
    for ((r = 1; r <= ROUNDS; r++)); do
        if ((r % 2)); then tools="psql sluice pgloader"; else tools="pgloader sluice psql"; fi
        for tool in $tools; do
            echo "   round $r: $tool" >&2
            "one_$case_" "$tool"
            n=$(stages_left)
            if [ "${n:-0}" != 0 ]; then
                left=1
                echo "load: $n staging table(s) left in schema $SCHEMA after $case_/$tool" >&2
            fi
        done
    done
done

# ---- the table
median() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "n/a"; exit }
        if (NR % 2) printf "%.2f", v[(NR + 1) / 2]; else printf "%.2f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
med_of() {
    local t=${TIMES[$1]:-}
    case $t in "") echo "n/a" ;; FAIL) echo "FAIL" ;; *) median $t ;; esac
}
ratio() { # a b -> a/b
    awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else print "n/a" }'
}
mib() {
    local k=${RSS[$1]:-}
    if [ -z "$k" ] || [ "$k" = 0 ]; then echo "n/a"; else awk -v k="$k" 'BEGIN { printf "%.0f", k / 1024 }'; fi
}
peer_of() { case $1 in load\|*) echo "$K_PSQL" ;; *) echo "$M_PSQL" ;; esac; }
pgl_of() { case $1 in load\|*) echo "$K_PGL" ;; *) echo "$M_PGL" ;; esac; }

echo
echo "| case | tool | median s | peak RSS MiB | table after: rows, (distinct ids,) sum(delay) | time / psql | pgloader time / time |"
echo "|---|---|--:|--:|---|--:|--:|"
for key in "${order[@]}"; do
    IFS='|' read -r c tool <<<"$key"
    med=$(med_of "$key")
    got=${GOT[$key]:-}
    echo "| $c | $tool | $med | $(mib "$key") | ${got//|/, } | $(ratio "$med" "$(med_of "$(peer_of "$key")")") | $(ratio "$(med_of "$(pgl_of "$key")")" "$med") |"
done
echo

for c in load merge; do
    k=$K_SL
    [ "$c" = merge ] && k=$M_SL
    s=$(med_of "$k")
    p=$(med_of "$(peer_of "$k")")
    g=$(med_of "$(pgl_of "$k")")
    notes+=("$c, goal sluice <= 1.0x psql: $(ratio "$s" "$p")x ($(awk -v a="$s" -v b="$p" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) print (a <= b ? "met" : "not met"); else print "not measured" }'))")
    why=""
    [ "$c" = merge ] && why="; pgloader has no merge, so its time includes the same DELETE/INSERT as psql's and sluice's, which bounds this ratio"
    notes+=("$c, goal sluice >= 10x faster than pgloader: $(ratio "$g" "$s")x ($(awk -v a="$s" -v b="$g" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) print (b / a >= 10 ? "met" : "not met"); else print "not measured" }')$why)")
done
notes+=("every table was checked after every run: $N_ROWS rows and sum(delay) $SUM after a load; $N_ROWS rows, $N_ROWS distinct ids and sum(delay) $((SUM + 7 * N_MERGE)) after a merge")
if [ "$left" = 0 ]; then
    notes+=("no sluice staging table (_sluice_stage_*) was left after any run")
else
    notes+=("sluice staging tables were left behind (see above)")
fi
notes+=("peak RSS is the client's (psql, sluice, pgloader); the server's memory is not counted for anyone")
[ -n "$PGLOADER" ] && notes+=("pgloader: $("$PGLOADER" --version 2>/dev/null | head -1), default workers and batch settings")
[ -n "$PGLOADER_NOTE" ] && notes+=("$PGLOADER_NOTE")
notes+=("PostgreSQL: $(sql -c "SHOW server_version" 2>/dev/null); machine: $(nproc) CPUs; load average at the start ${LOAD_START:-?}, at the end $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null) (other work on the machine shows up in the times)")
for n in "${notes[@]}"; do echo "- $n"; done
echo "- all runs (s):"
for key in "${order[@]}"; do echo "  - ${key/|/: }: ${TIMES[$key]:-}"; done
exit "$failed"
