-- bench/sql/flights_groupby.sql - DuckDB equivalent of bench/jobs/flights_groupby.lua
-- (same columns, in sluice's order: keys, then aggregations by name).
-- The input is the variable `input` (bench/runtime.sh sets it with
-- SET VARIABLE input = '...'), else bench/data/flights-3m.csv.
-- No ORDER BY: sluice does not sort either; compare through csv_canon --sort.
SELECT origin,
       avg(delay)    AS avg_delay,
       sum(distance) AS dist,
       count(*)      AS n
FROM read_csv_auto(coalesce(getvariable('input'), 'bench/data/flights-3m.csv'), header = true)
GROUP BY origin;
