-- jobs/customers_by_city.lua - an EMR-style map-reduce: for every city, the
-- number of customers and their names in order (an inverted index), with a
-- map-side combine that pre-merges each worker's lists.
--
--   sluice run jobs/customers_by_city.lua --arg out=/tmp/customers_by_city/
job {
  name = "customers_by_city",
  args = { input = "examples/data/customers/", out = ".sluice/bucket/curated/customers_by_city/" },
}

-- "n|name;name;..." values merge by adding counts and joining sorted names
local function merge(values)
  local n, names = 0, {}
  for _, v in ipairs(values) do
    local count, list = v:match("^(%d+)|(.*)$")
    n = n + tonumber(count)
    for name in list:gmatch("[^;]+") do names[#names + 1] = name end
  end
  table.sort(names)
  return n .. "|" .. table.concat(names, ";")
end

function main(ctx)
  local customers = sluice.from_path{ uri = ctx.args.input, format = "json" }
  sluice.mapreduce{
    input = customers,
    map = function(c, emit) emit(c.city, "1|" .. c.name) end,
    combine = function(city, values, emit) emit(city, merge(values)) end,
    reduce = function(city, values, emit) emit(city, merge(values)) end,
    partitions = 2,
    columns = { "city", "customers" },
    output = { to = ctx.args.out, format = "json" },
  }
end
