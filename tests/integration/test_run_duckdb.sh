#!/usr/bin/env bash
# tests/integration/test_run_duckdb.sh - `sluice run` group-by jobs over the
# real data sets of ../shared/data, each cross-checked against the same query
# in DuckDB (tests/tools/duckdb_query.mjs). Both results go through
# tests/tools/csv_canon.mjs --sort --round 9 (rows sorted, non-integer numbers
# to 9 significant digits) and must be identical.
#
# Each case writes NAME.lua (run with --workers 2) and NAME.sql into a temp
# folder; per case three checks: run_duckdb_NAME_duckdb (DuckDB's half gives
# the expected number of groups), run_duckdb_NAME_runs (sluice exits 0 with
# state SUCCEEDED), run_duckdb_NAME_matches (same rows).
#
# Column names (DuckDB DESCRIBE of the files):
#   flights-20k.json     date (text "2001/01/01 00:47"), delay, distance (integers),
#                        origin, destination (IATA codes)
#   seattle-weather.csv  date (ISO date), precipitation, temp_max, temp_min, wind
#                        (doubles), weather (drizzle, fog, rain, snow, sun)
#   airports.csv         iata, name (quoted, with commas), city, state, country,
#                        latitude, longitude (doubles). 12 airports have state
#                        "NA": a text, not NULL (DuckDB's read_csv_auto keeps it;
#                        sluice's rule is that "NA" in a string column stays text)
#
# Needs SLUICE_BIN, SLUICE_SHARED_DATA (tests/run.sh sets both), node and
# @duckdb/node-api (scripts/install-deps.sh); skips when the data or DuckDB
# is missing. KEEP_WORK=1 keeps the temp folder (jobs, SQL, outputs) for a look.
set -u
SLUICE=${SLUICE_BIN:?SLUICE_BIN not set}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DATA=${SLUICE_SHARED_DATA:-$ROOT/../shared/data}
CASES=(flights_by_origin weather_by_kind airports_by_state late_flights_lua_filter
       weather_monthly_lua_map flights_join_airports)
n_fail=0
ok() { echo "ok - $1"; }
bad() { echo "not ok - $1"; n_fail=$((n_fail + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
skip_all() {
    for c in "${CASES[@]}"; do echo "skip - run_duckdb_$c: $1"; done
    exit 0
}
for f in flights-20k.json seattle-weather.csv airports.csv; do
    [ -f "$DATA/$f" ] || skip_all "$DATA/$f not found (../shared/data is absent)"
done
command -v node >/dev/null 2>&1 || skip_all "node not found"
node "$ROOT/tests/tools/duckdb_query.mjs" "SELECT 1" >/dev/null 2>&1 ||
    skip_all "DuckDB for node is not installed (scripts/install-deps.sh)"
DATA=$(cd "$DATA" && pwd)

work=$(mktemp -d /tmp/sluice-run-duckdb-XXXXXX)
trap '[ -n "${KEEP_WORK:-}" ] || rm -rf "$work"' EXIT
export SLUICE_HOME=$work/home
unset SLUICE_RUN_ID

jget() { node -e "const d=JSON.parse(require('fs').readFileSync('$1','utf8'));console.log($2)"; }

# compare NAME EXPECTED_GROUPS: runs $work/NAME.lua and $work/NAME.sql, compares
compare() {
    local name=$1 groups=$2 rc
    local duck=$work/$name.duck.csv out=$work/out/$name
    node "$ROOT/tests/tools/duckdb_query.mjs" "$(cat "$work/$name.sql")" >"$duck" 2>"$work/$name.duck.err"
    rc=$?
    [ "$rc" = 0 ] || sed 's/^/# duckdb: /' "$work/$name.duck.err"
    check "run_duckdb_${name}_duckdb" test "$rc:$(($(wc -l <"$duck") - 1))" = "0:$groups"

    "$SLUICE" run "$work/$name.lua" --workers 2 --json --arg data="$DATA" --arg output="$out/" \
        >"$work/$name.json" 2>"$work/$name.err"
    rc=$?
    local state
    state=$(jget "$work/$name.json" 'd.state' 2>/dev/null)
    if [ "$rc" != 0 ] || [ "$state" != SUCCEEDED ]; then
        echo "# sluice run $name.lua: exit $rc, state ${state:-none}"
        tail -n 5 "$work/$name.err" | sed 's/^/# /'
    fi
    check "run_duckdb_${name}_runs" test "$rc:$state" = "0:SUCCEEDED"

    local canon="node $ROOT/tests/tools/csv_canon.mjs --sort --round 9"
    if $canon "$out" >"$work/$name.s.canon" 2>"$work/$name.s.err" &&
        $canon "$duck" >"$work/$name.d.canon" 2>"$work/$name.d.err" &&
        cmp -s "$work/$name.s.canon" "$work/$name.d.canon"; then
        ok "run_duckdb_${name}_matches"
    else
        bad "run_duckdb_${name}_matches"
        cat "$work/$name.s.err" "$work/$name.d.err" 2>/dev/null | sed 's/^/# /'
        diff "$work/$name.s.canon" "$work/$name.d.canon" 2>/dev/null | head -10 | sed 's/^/# /'
    fi
}

# Aggregation columns come after the keys, sorted by name (docs/lua-api.md),
# so each SQL lists them in that order.

# ---- (i) flights-20k.json (a JSON array) by origin: every order-independent aggregation
cat >"$work/flights_by_origin.lua" <<'EOF'
job { name = "duckdb_flights_by_origin" }
function main(ctx)
  sluice.from_path{ uri = ctx.args.data .. "/flights-20k.json", format = "json" }
    :group_by("origin")
    :agg{ n = sluice.count(), avg_delay = sluice.avg("delay"),
          total_distance = sluice.sum("distance"), min_delay = sluice.min("delay"),
          max_delay = sluice.max("delay"), destinations = sluice.count_distinct("destination") }
    :write{ to = ctx.args.output, format = "csv" }
end
EOF
cat >"$work/flights_by_origin.sql" <<EOF
SELECT origin, avg(delay) AS avg_delay, count(DISTINCT destination) AS destinations,
       max(delay) AS max_delay, min(delay) AS min_delay, count(*) AS n,
       sum(distance) AS total_distance
FROM read_json_auto('$DATA/flights-20k.json')
GROUP BY origin ORDER BY origin
EOF
compare flights_by_origin 220

# ---- (ii) seattle-weather.csv by weather: doubles (sum, avg, min, max)
cat >"$work/weather_by_kind.lua" <<'EOF'
job { name = "duckdb_weather_by_kind" }
function main(ctx)
  sluice.from_path{ uri = ctx.args.data .. "/seattle-weather.csv", format = "csv",
                    options = { header = true } }
    :group_by("weather")
    :agg{ days = sluice.count(), avg_precipitation = sluice.avg("precipitation"),
          total_precipitation = sluice.sum("precipitation"),
          max_temp_max = sluice.max("temp_max"), min_temp_min = sluice.min("temp_min"),
          avg_wind = sluice.avg("wind") }
    :write{ to = ctx.args.output, format = "csv" }
end
EOF
cat >"$work/weather_by_kind.sql" <<EOF
SELECT weather, avg(precipitation) AS avg_precipitation, avg(wind) AS avg_wind,
       count(*) AS days, max(temp_max) AS max_temp_max, min(temp_min) AS min_temp_min,
       sum(precipitation) AS total_precipitation
FROM read_csv_auto('$DATA/seattle-weather.csv', header = true)
GROUP BY weather ORDER BY weather
EOF
compare weather_by_kind 5

# ---- (iii) airports.csv by state: quoted names with commas, the "NA" state
cat >"$work/airports_by_state.lua" <<'EOF'
job { name = "duckdb_airports_by_state" }
function main(ctx)
  sluice.from_path{ uri = ctx.args.data .. "/airports.csv", format = "csv",
                    options = { header = true } }
    :group_by("state")
    :agg{ airports = sluice.count(), cities = sluice.count_distinct("city"),
          countries = sluice.count_distinct("country"),
          max_latitude = sluice.max("latitude"), min_longitude = sluice.min("longitude"),
          first_name = sluice.min("name") }
    :write{ to = ctx.args.output, format = "csv" }
end
EOF
cat >"$work/airports_by_state.sql" <<EOF
SELECT state, count(*) AS airports, count(DISTINCT city) AS cities,
       count(DISTINCT country) AS countries, min(name) AS first_name,
       max(latitude) AS max_latitude, min(longitude) AS min_longitude
FROM read_csv_auto('$DATA/airports.csv', header = true)
GROUP BY state ORDER BY state
EOF
compare airports_by_state 57

# ---- (iv) a Lua filter, then a group-by: late long flights per destination
cat >"$work/late_flights_lua_filter.lua" <<'EOF'
job { name = "duckdb_late_flights" }
function main(ctx)
  local min_delay, min_distance = 15, 1000
  sluice.from_path{ uri = ctx.args.data .. "/flights-20k.json", format = "json" }
    :filter(function(r) return r.delay > min_delay and r.distance >= min_distance end)
    :group_by("destination")
    :agg{ n = sluice.count(), avg_delay = sluice.avg("delay"), max_delay = sluice.max("delay") }
    :write{ to = ctx.args.output, format = "csv" }
end
EOF
cat >"$work/late_flights_lua_filter.sql" <<EOF
SELECT destination, avg(delay) AS avg_delay, max(delay) AS max_delay, count(*) AS n
FROM read_json_auto('$DATA/flights-20k.json')
WHERE delay > 15 AND distance >= 1000
GROUP BY destination ORDER BY destination
EOF
compare late_flights_lua_filter 76

# ---- a Lua map deriving the grouping key from a date column: weather per month
cat >"$work/weather_monthly_lua_map.lua" <<'EOF'
job { name = "duckdb_weather_monthly" }
function main(ctx)
  sluice.from_path{ uri = ctx.args.data .. "/seattle-weather.csv", format = "csv",
                    options = { header = true } }
    :map(function(r)
      r.month = r.date:sub(1, 7)           -- dates reach Lua as "YYYY-MM-DD"
      r.range = r.temp_max - r.temp_min
      return r
    end)
    :group_by("month")
    :agg{ days = sluice.count(), avg_range = sluice.avg("range"),
          rain = sluice.sum("precipitation") }
    :write{ to = ctx.args.output, format = "csv" }
end
EOF
cat >"$work/weather_monthly_lua_map.sql" <<EOF
SELECT strftime(date, '%Y-%m') AS month, avg(temp_max - temp_min) AS avg_range,
       count(*) AS days, sum(precipitation) AS rain
FROM read_csv_auto('$DATA/seattle-weather.csv', header = true)
GROUP BY month ORDER BY month
EOF
compare weather_monthly_lua_map 48

# ---- (v) a join of two data sets, then a group-by: flights per origin state
cat >"$work/flights_join_airports.lua" <<'EOF'
job { name = "duckdb_flights_join_airports" }
function main(ctx)
  local flights = sluice.from_path{ uri = ctx.args.data .. "/flights-20k.json", format = "json" }
  local airports = sluice.from_path{ uri = ctx.args.data .. "/airports.csv", format = "csv",
                                     options = { header = true } }
  flights:join(airports, { on = { { "origin", "iata" } } })
    :group_by("state")
    :agg{ flights = sluice.count(), avg_delay = sluice.avg("delay"),
          origins = sluice.count_distinct("origin"), miles = sluice.sum("distance") }
    :write{ to = ctx.args.output, format = "csv" }
end
EOF
cat >"$work/flights_join_airports.sql" <<EOF
SELECT a.state, avg(f.delay) AS avg_delay, count(*) AS flights, sum(f.distance) AS miles,
       count(DISTINCT f.origin) AS origins
FROM read_json_auto('$DATA/flights-20k.json') f
JOIN read_csv_auto('$DATA/airports.csv', header = true) a ON a.iata = f.origin
GROUP BY a.state ORDER BY a.state
EOF
compare flights_join_airports 51

exit $((n_fail > 0))
