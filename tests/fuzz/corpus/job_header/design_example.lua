job {
  name = "page_views_daily",
  schedule = "cron(0 2 * * ? *)",
  args = { date = sluice.yesterday() },
  bookmark = true,
}

function main(ctx)
  local x = ctx.args.date
end
