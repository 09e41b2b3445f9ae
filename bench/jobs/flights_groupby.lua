-- bench/jobs/flights_groupby.lua - group-by benchmark: per origin airport, the
-- number of flights, the mean delay and the total distance.
--   sluice run bench/jobs/flights_groupby.lua --arg input=bench/data/flights-3m.csv \
--     --arg output=/tmp/out --workers 2 --json
-- Input: bench/data/flights-3m.csv (bench/prepare_flights.sh), columns date
-- (timestamp), delay (bigint, minutes), distance (bigint, miles), origin,
-- destination (IATA codes). Schemaless: the crawler's inference types them.
-- Output columns: origin, avg_delay, dist, n (keys, then aggregations by name).
-- DuckDB equivalent: bench/sql/flights_groupby.sql.
job { name = "flights_groupby" }

function main(ctx)
  local flights = sluice.from_path{ uri = ctx.args.input, format = "csv",
                                    options = { header = true } }
  flights:group_by("origin")
         :agg{ n = sluice.count(), avg_delay = sluice.avg("delay"),
               dist = sluice.sum("distance") }
         :write{ to = ctx.args.output, format = "csv" }
end
