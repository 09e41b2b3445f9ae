-- bench/jobs/flights_groupby_lua.lua - flights_groupby.lua with a Lua map on
-- every row before the aggregation (the cost of running Lua per row):
-- delay_h = delay in hours, late = 1 when the flight was more than 15
-- minutes late (the usual on-time threshold), else 0.
--   sluice run bench/jobs/flights_groupby_lua.lua --arg input=bench/data/flights-3m.csv \
--     --arg output=/tmp/out --workers 2 --json
-- Output columns: origin, avg_delay_h, dist, late, n.
-- DuckDB equivalent: bench/sql/flights_groupby_lua.sql.
job { name = "flights_groupby_lua" }

function main(ctx)
  local late_minutes = 15
  local flights = sluice.from_path{ uri = ctx.args.input, format = "csv",
                                    options = { header = true } }
  flights:map(function(r)
           r.delay_h = r.delay / 60.0
           r.late = r.delay > late_minutes and 1 or 0
           return r
         end)
         :group_by("origin")
         :agg{ n = sluice.count(), avg_delay_h = sluice.avg("delay_h"),
               late = sluice.sum("late"), dist = sluice.sum("distance") }
         :write{ to = ctx.args.output, format = "csv" }
end
