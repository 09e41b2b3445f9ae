-- bench/jobs/keys_groupby.lua - memory-bounded group-by benchmark: 5,000,000
-- rows with 1,000,000 distinct keys (bench/data/keys-1m.csv, columns k, v,
-- both bigint; bench/prepare_flights.sh). Run with and without --memory 256:
-- the result must be the same (the bounded run spills).
--   sluice run bench/jobs/keys_groupby.lua --arg input=bench/data/keys-1m.csv \
--     --arg output=/tmp/out --workers 2 --memory 256 --json
-- Output columns: k, n, sum_v. DuckDB equivalent: bench/sql/keys_groupby.sql.
job { name = "keys_groupby" }

function main(ctx)
  local keys = sluice.from_path{ uri = ctx.args.input, format = "csv",
                                 options = { header = true },
                                 schema = { {"k", "bigint"}, {"v", "bigint"} } }
  keys:group_by("k")
      :agg{ n = sluice.count(), sum_v = sluice.sum("v") }
      :write{ to = ctx.args.output, format = "csv" }
end
