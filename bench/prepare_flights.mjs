#!/usr/bin/env node
// bench/prepare_flights.mjs - the DuckDB steps of bench/prepare_flights.sh
// (which decides what needs doing; run that, not this).
//
//   node bench/prepare_flights.mjs describe PARQUET    columns and row count
//   node bench/prepare_flights.mjs csv PARQUET OUT     CSV with a header row
//   node bench/prepare_flights.mjs jsonl PARQUET OUT   gzip'd JSON Lines
//   node bench/prepare_flights.mjs keys OUT            the group-by keys set
//   node bench/prepare_flights.mjs count FORMAT FILE   rows (FORMAT csv|json)
//
// Outputs are written to OUT.tmp and renamed when complete. Rows keep the
// Parquet file's order (DuckDB preserves insertion order), so every output
// is the same on every run.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function loadDuckDB() {
    const places = [path.join(ROOT, '.deps', 'node', 'node_modules', 'x.js')];
    for (const p of (process.env.NODE_PATH || '').split(path.delimiter))
        if (p) places.push(path.join(path.resolve(p), 'x.js'));
    for (const p of places) {
        try {
            return createRequire(p)('@duckdb/node-api');
        } catch (e) {
            if (e.code !== 'MODULE_NOT_FOUND') throw e;
        }
    }
    throw new Error('@duckdb/node-api is not installed: run scripts/install-deps.sh');
}

const lit = (s) => "'" + String(s).replace(/'/g, "''") + "'";

// 5,000,000 rows, k in [0, 1,000,000): a multiplicative (Knuth) hash of the
// row number modulo 2^32, then modulo 10^6. All 1,000,000 keys occur, 3 to 6
// times each, scattered over the whole file, so a group-by holds ~1M groups
// at once. v is a second hash in [-500000, 500002]. Plain integer arithmetic
// (no DuckDB hash()), so the file is the same with every DuckDB version.
const KEYS_SQL = `
SELECT ((i * 2654435761) % 4294967296) % 1000000 AS k,
       ((i * 2246822519) % 4294967291) % 1000003 - 500000 AS v
FROM range(5000000) t(i)`;

async function main(argv) {
    const [cmd, a, b] = argv;
    const duckdb = loadDuckDB();
    const conn = await (await duckdb.DuckDBInstance.create(':memory:')).connect();
    const q = async (sql) => (await conn.runAndReadAll(sql)).getRowsJS();
    const copy = async (select, out, opts) => {
        const tmp = out + '.tmp';
        fs.rmSync(tmp, { force: true });
        await conn.run(`COPY (${select}) TO ${lit(tmp)} (${opts})`);
        fs.renameSync(tmp, out);
    };
    switch (cmd) {
    case 'describe': {
        for (const [name, type] of await q(`DESCRIBE SELECT * FROM read_parquet(${lit(a)})`))
            console.log(`  ${name} ${type}`);
        const [[n]] = await q(`SELECT count(*) FROM read_parquet(${lit(a)})`);
        console.log(`  (${n} rows)`);
        break;
    }
    case 'csv':
        await copy(`SELECT * FROM read_parquet(${lit(a)})`, b, 'FORMAT csv, HEADER true, DELIMITER \',\'');
        break;
    case 'jsonl':
        await copy(`SELECT * FROM read_parquet(${lit(a)})`, b, 'FORMAT json, COMPRESSION gzip');
        break;
    case 'keys':
        await copy(KEYS_SQL, a, 'FORMAT csv, HEADER true');
        break;
    case 'count': {
        const from = a === 'json' ? `read_json_auto(${lit(b)}, format = 'newline_delimited')`
                                  : `read_csv_auto(${lit(b)}, header = true)`;
        const [[n]] = await q(`SELECT count(*) FROM ${from}`);
        console.log(String(n));
        break;
    }
    default:
        console.error('usage: node bench/prepare_flights.mjs describe|csv|jsonl|keys|count ...');
        return 2;
    }
    return 0;
}

main(process.argv.slice(2)).then(
    (rc) => (process.exitCode = rc),
    (e) => {
        console.error(`prepare_flights: ${e.message}`);
        process.exitCode = 1;
    });
