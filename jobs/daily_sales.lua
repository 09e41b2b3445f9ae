-- jobs/daily_sales.lua - daily revenue per city, written as one Hive-style
-- folder per day (order_date=YYYY-MM-DD/). Reads the crawled example lake:
-- the sales table (partitioned by year and month; only the partitions the
-- predicate keeps are read) joined with the customers table.
--
--   sluice crawl examples/data/ --database demo
--   sluice run jobs/daily_sales.lua --arg year=2024 --arg out=/tmp/daily_sales/
job {
  name = "daily_sales",
  schedule = "cron(30 2 * * ? *)",   -- nightly, read by `sluice serve`
  args = { database = "demo", year = "2024", out = ".sluice/bucket/curated/daily_sales/" },
  max_errors = 10,                    -- tolerate a few bad order lines, not more
}

function main(ctx)
  local db = ctx.args.database
  local sales = sluice.from_catalog{ database = db, table = "sales",
                                     push_down_predicate = "year = '" .. ctx.args.year .. "'" }
  local customers = sluice.from_catalog{ database = db, table = "customers" }
                          :select("customer_id", "city")

  sales
    :map(function(r) r.revenue = r.quantity * r.unit_price; return r end)
    :join(customers, { on = "customer_id", how = "left" })
    :group_by("order_date", "city")
    :agg{ orders = sluice.count_distinct("order_id"), items = sluice.sum("quantity"),
          revenue = sluice.sum("revenue") }
    :sort("order_date", "city")
    :write{ to = ctx.args.out, format = "csv", partition_keys = { "order_date" } }
end
