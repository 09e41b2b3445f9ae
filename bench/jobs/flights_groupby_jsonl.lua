-- bench/jobs/flights_groupby_jsonl.lua - flights_groupby.lua reading the same
-- rows as gzip'd JSON Lines (bench/data/flights-3m.jsonl.gz): the cost of
-- decompression and JSON parsing. gzip is detected when the file is read.
--   sluice run bench/jobs/flights_groupby_jsonl.lua --arg input=bench/data/flights-3m.jsonl.gz \
--     --arg output=/tmp/out --workers 2 --json
-- Output columns: origin, avg_delay, dist, n.
-- DuckDB equivalent: bench/sql/flights_groupby_jsonl.sql.
job { name = "flights_groupby_jsonl" }

function main(ctx)
  local flights = sluice.from_path{ uri = ctx.args.input, format = "jsonl" }
  flights:group_by("origin")
         :agg{ n = sluice.count(), avg_delay = sluice.avg("delay"),
               dist = sluice.sum("distance") }
         :write{ to = ctx.args.output, format = "csv" }
end
