#!/usr/bin/env bash
# examples/make-data.sh - writes the example data set under examples/data/:
# a small, deterministic "shop" lake with Hive-style partitions.
#   sales/year=YYYY/month=MM/part-0000.csv   order lines (CSV with a header)
#   customers/customers.jsonl                 one JSON object per line
# Run it again to regenerate; the output is byte-identical every time.
set -eu
cd "$(dirname "$0")"
rm -rf data
mkdir -p data/customers

awk 'BEGIN {
    n = split("Lisbon,Porto,Braga,Faro,Coimbra", city, ",")
    for (i = 1; i <= 40; i++) {
        printf "{\"customer_id\": %d, \"name\": \"Customer %02d\", \"city\": \"%s\", \"zip\": \"%04d-%03d\", \"vip\": %s}\n",
            i, i, city[(i % n) + 1], 1000 + i * 37 % 8000, i * 7 % 1000, (i % 5 == 0) ? "true" : "false"
    }
}' > data/customers/customers.jsonl

for ym in 2024-11 2024-12 2025-01; do
    y=${ym%-*}; m=${ym#*-}
    mkdir -p "data/sales/year=$y/month=$m"
    awk -v y="$y" -v m="$m" 'BEGIN {
        seed = y * 100 + m
        split("widget|gadget|\"gizmo, deluxe\"|sprocket|doohickey", product, "|")
        print "order_id,order_date,customer_id,product,quantity,unit_price"
        for (i = 1; i <= 25; i++) {
            day = 1 + int(rnd() * 28)
            printf "%d%02d%03d,%s-%s-%02d,%d,%s,%d,%.2f\n", y % 100, m, i, y, m, day,
                1 + int(rnd() * 40), product[1 + int(rnd() * 5)], 1 + int(rnd() * 9),
                1 + int(rnd() * 20000) / 100
        }
    }
    # a portable LCG: the same numbers with every awk
    function rnd() { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648 }' > "data/sales/year=$y/month=$m/part-0000.csv"
done
echo "examples/data written"
