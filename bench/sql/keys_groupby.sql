-- bench/sql/keys_groupby.sql - DuckDB equivalent of bench/jobs/keys_groupby.lua:
-- 5,000,000 rows, 1,000,000 groups. DuckDB's memory is not limited here
-- (bench/runtime.sh compares sluice with and without --memory 256).
-- The input is the variable `input`, else bench/data/keys-1m.csv.
SELECT k,
       count(*) AS n,
       sum(v)   AS sum_v
FROM read_csv_auto(coalesce(getvariable('input'), 'bench/data/keys-1m.csv'), header = true,
                   columns = {'k': 'BIGINT', 'v': 'BIGINT'})
GROUP BY k;
