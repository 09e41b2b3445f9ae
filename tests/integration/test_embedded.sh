#!/usr/bin/env bash
# tests/integration/test_embedded.sh - the embedded default catalog
# (runtime/pgembed.c, `sluice embedded`, `sluice catalog` without
# SLUICE_CATALOG): first use creates and starts a private cluster under
# $SLUICE_HOME, concurrent first uses run initdb once, stop/restart keep the
# data, a failed start names the server log, and (as root) a home the postgres
# user cannot enter falls back to /tmp. Prints "ok - name" / "not ok - name" /
# "skip - name: why" like the C harness; exits 1 when a test failed.
# Needs the sluice binary in $SLUICE_BIN (default ./sluice) and the PostgreSQL
# server programs (as pgembed.c finds them).
set -u
cd "$(dirname "$0")/../.."
BIN="${SLUICE_BIN:-$PWD/sluice}"
unset SLUICE_CATALOG

n_fail=0
ok() { echo "ok - $1"; }
not_ok() {
    echo "not ok - $1"
    shift
    for line in "$@"; do echo "#   $line"; done
    n_fail=$((n_fail + 1))
}
skip_all() {
    for t in first_use_creates_and_starts second_call_reuses_it concurrent_first_use \
        exit_codes stop_and_restart_keep_data failed_start_names_log root_fallback_to_tmp; do
        echo "skip - $t: $1"
    done
    exit 0
}

[ -x "$BIN" ] || skip_all "no sluice binary at $BIN"
have_pg=""
for d in "${SLUICE_PG_BINDIR:-}" /usr/lib/postgresql/*/bin; do
    [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && have_pg=yes
done
[ -n "$have_pg" ] || skip_all "PostgreSQL server programs not installed"
if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
    skip_all "running as root without a postgres user"
fi

TMP=$(mktemp -d /tmp/sluice-embedded-test.XXXXXX)
chmod 755 "$TMP" # the postgres user must be able to enter (root case)
HOMES=()

# "data" line of `embedded status` for a home
data_dir_of() { SLUICE_HOME="$1" "$BIN" embedded status 2>/dev/null | sed -n 's/^data *//p'; }

cleanup() {
    local h data base
    for h in "${HOMES[@]}"; do
        data=$(data_dir_of "$h")
        SLUICE_HOME="$h" "$BIN" embedded stop >/dev/null 2>&1
        base=${data%/pg/data}
        case "$base" in /tmp/sluice-[0-9a-f]*) rm -rf "$base" ;; esac
    done
    rm -rf "$TMP"
}
trap cleanup EXIT

# runs sluice with SLUICE_HOME=$1; sets OUT, ERR, RC
run() {
    local home=$1
    shift
    OUT=$(SLUICE_HOME="$home" "$BIN" "$@" 2>"$TMP/stderr")
    RC=$?
    ERR=$(cat "$TMP/stderr")
}

# ---- first use ----
A="$TMP/a"
HOMES+=("$A")
run "$A" catalog databases
if [ "$RC" -eq 0 ] && printf '%s\n' "$OUT" | grep -q '^NAME' && [ -f "$A/pg/data/PG_VERSION" ] &&
    [ -S "$A/pg/sock/.s.PGSQL.5432" ]; then
    ok first_use_creates_and_starts
else
    not_ok first_use_creates_and_starts "rc=$RC" "out: $OUT" "err: $ERR"
fi

# ---- the running cluster is reused ----
run "$A" catalog create-database Demo --description "demo db"
r1=$RC
run "$A" catalog databases --json
if [ "$r1" -eq 0 ] && [ "$RC" -eq 0 ] && printf '%s' "$OUT" | grep -q '"DatabaseList"' &&
    printf '%s' "$OUT" | grep -q '"Name": "demo"'; then
    ok second_call_reuses_it
else
    not_ok second_call_reuses_it "rc=$r1/$RC" "out: $OUT" "err: $ERR"
fi

# ---- concurrent first use: every call works, initdb runs once ----
B="$TMP/b"
HOMES+=("$B")
pids=()
for i in 1 2 3; do
    SLUICE_HOME="$B" "$BIN" catalog databases >"$TMP/c$i.out" 2>&1 &
    pids+=($!)
done
c_ok=yes
for i in 0 1 2; do
    wait "${pids[$i]}" || c_ok=""
done
n_initdb=$(grep -c 'The files belonging to this database system' "$B/pg/log" 2>/dev/null)
if [ -n "$c_ok" ] && [ "$n_initdb" = 1 ]; then
    ok concurrent_first_use
else
    not_ok concurrent_first_use "all exited 0: ${c_ok:-no}; initdb runs: $n_initdb" \
        "$(cat "$TMP"/c*.out)"
fi

# ---- exit codes ----
run "$A" catalog table demo.nope
r_nf=$RC
e_nf=$ERR
run "$A" catalog tables
r_usage=$RC
run "$A" catalog create-database demo
r_exists=$RC
if [ "$r_nf" -eq 1 ] && printf '%s' "$e_nf" | grep -q 'table "demo.nope" not found' &&
    [ "$r_usage" -eq 2 ] && [ "$r_exists" -eq 1 ]; then
    ok exit_codes
else
    not_ok exit_codes "not found: $r_nf ($e_nf), usage: $r_usage, exists: $r_exists"
fi

# ---- stop, then the next use starts it again with the data kept ----
run "$A" embedded stop
s1=$RC
o1=$OUT
run "$A" embedded status
st=$OUT
run "$A" embedded stop
o2=$OUT
run "$A" catalog databases
if [ "$s1" -eq 0 ] && [ "$o1" = "embedded catalog stopped" ] &&
    printf '%s' "$st" | grep -q '^state *stopped' && [ "$o2" = "embedded catalog was not running" ] &&
    [ "$RC" -eq 0 ] && printf '%s' "$OUT" | grep -q '^demo  *demo db'; then
    ok stop_and_restart_keep_data
else
    not_ok stop_and_restart_keep_data "stop: $s1 '$o1'" "status: $st" "stop again: '$o2'" \
        "restart: $RC $OUT $ERR"
fi

# ---- a start that fails names the log and quotes it ----
run "$A" embedded stop
conf="$A/pg/data/postgresql.conf"
cp "$conf" "$TMP/postgresql.conf.saved"
echo "sluice_test_bogus_setting = 1" >>"$conf"
run "$A" catalog databases
r_bad=$RC
e_bad=$ERR
cp "$TMP/postgresql.conf.saved" "$conf"
if [ "$r_bad" -ne 0 ] && printf '%s' "$e_bad" | grep -q "$A/pg/log" &&
    printf '%s' "$e_bad" | grep -q 'sluice_test_bogus_setting'; then
    ok failed_start_names_log
else
    not_ok failed_start_names_log "rc=$r_bad" "err: $e_bad"
fi

# ---- root: a home the postgres user cannot enter goes to /tmp ----
if [ "$(id -u)" -ne 0 ]; then
    echo "skip - root_fallback_to_tmp: not running as root"
else
    P="$TMP/private"
    mkdir -m 700 "$P"
    C="$P/home"
    HOMES+=("$C")
    run "$C" catalog databases
    r_c=$RC
    e_c=$ERR
    run "$C" embedded status
    if [ "$r_c" -eq 0 ] && printf '%s' "$OUT" | grep -q '^data */tmp/sluice-[0-9a-f]\{12\}/pg/data' &&
        printf '%s' "$OUT" | grep -q 'postgres user cannot enter' &&
        [ "$(stat -c %a "$P")" = 700 ]; then
        ok root_fallback_to_tmp
    else
        not_ok root_fallback_to_tmp "rc=$r_c err: $e_c" "status: $OUT"
    fi
fi

[ "$n_fail" -eq 0 ]
