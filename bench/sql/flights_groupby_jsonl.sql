-- bench/sql/flights_groupby_jsonl.sql - DuckDB equivalent of
-- bench/jobs/flights_groupby_jsonl.lua: the gzip'd JSON Lines input.
-- The input is the variable `input`, else bench/data/flights-3m.jsonl.gz.
SELECT origin,
       avg(delay)    AS avg_delay,
       sum(distance) AS dist,
       count(*)      AS n
FROM read_json_auto(coalesce(getvariable('input'), 'bench/data/flights-3m.jsonl.gz'),
                    format = 'newline_delimited', compression = 'gzip')
GROUP BY origin;
