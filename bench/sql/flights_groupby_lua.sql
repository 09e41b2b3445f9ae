-- bench/sql/flights_groupby_lua.sql - DuckDB equivalent of
-- bench/jobs/flights_groupby_lua.lua: the job's Lua map (delay in hours, late
-- when more than 15 minutes late) as SQL expressions.
-- The input is the variable `input`, else bench/data/flights-3m.csv.
SELECT origin,
       avg(delay / 60.0::DOUBLE)                   AS avg_delay_h,
       sum(distance)                               AS dist,
       sum(CASE WHEN delay > 15 THEN 1 ELSE 0 END) AS late,
       count(*)                                    AS n
FROM read_csv_auto(coalesce(getvariable('input'), 'bench/data/flights-3m.csv'), header = true)
GROUP BY origin;
