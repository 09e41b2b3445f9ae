#!/usr/bin/env node
// tests/tools/duckdb_query.mjs - runs SQL in an in-memory DuckDB and prints
// the result as CSV, for comparison with sluice's output (through
// csv_canon.mjs) and for the benchmarks.
//
//   node tests/tools/duckdb_query.mjs [--csv-out FILE] "SQL"
//
// SQL may hold several statements separated by ';' (for example
// "SET threads=2; SELECT ..."): all run, the last one's result is printed.
// Rows are printed in the order the SQL gives them (add ORDER BY).
//
// Output (to stdout, or to FILE with --csv-out): a header row, then the rows,
// comma-delimited, LF line ends, RFC 4180 quoting only where needed (the
// rule of csv_canon.mjs: delimiter, quote, CR, LF, leading/trailing
// space or tab; the empty string is "" so that it differs from NULL).
//   NULL                    empty field (\N when it is the row's only field)
//   integers, HUGEINT       as integers
//   DOUBLE, FLOAT, DECIMAL  up to 15 significant digits, C %.15g style,
//                           no trailing zeros (2.5, 1e-05, 1.23456789012346e+20)
//   BOOLEAN                 true / false
//   DATE                    YYYY-MM-DD
//   TIMESTAMP[_S|_MS|_NS], TIMESTAMPTZ   YYYY-MM-DDTHH:MM:SS[.ffffff]Z (UTC;
//                           the fraction only when not zero), as sluice writes them
//   LIST, STRUCT, MAP, ...  JSON text
//   anything else           DuckDB's text for the value
//
// Exit status: 0; 1 with DuckDB's error on stderr; 2 for usage errors.
// @duckdb/node-api is loaded from the repository's .deps/node/node_modules
// (scripts/install-deps.sh), else from NODE_PATH.

import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { formatG, csvLine } from './csv_canon.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');

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
    throw new Error('@duckdb/node-api is not installed: run scripts/install-deps.sh ' +
                    '(it installs into .deps/node), or set NODE_PATH');
}

const US_PER_DAY = 86400000000n;

// Days since 1970-01-01 -> "YYYY-MM-DD" (proleptic Gregorian; years < 0
// or > 9999 are printed with a sign / more digits).
function civil(days) {
    const z = days + 719468;
    const era = Math.floor(z / 146097);
    const doe = z - era * 146097;
    const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
    const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
    const mp = Math.floor((5 * doy + 2) / 153);
    const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
    const m = mp < 10 ? mp + 3 : mp - 9;
    const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
    const ys = y < 0 ? '-' + String(-y).padStart(4, '0') : String(y).padStart(4, '0');
    return `${ys}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
}

function two(n) {
    return String(n).padStart(2, '0');
}

// Microseconds since the epoch (bigint) -> "YYYY-MM-DDTHH:MM:SS[.ffffff]Z"
function timestamp(us) {
    let days = us / US_PER_DAY;
    let rem = us % US_PER_DAY;
    if (rem < 0n) {
        rem += US_PER_DAY;
        days -= 1n;
    }
    const secs = Number(rem / 1000000n), frac = Number(rem % 1000000n);
    let s = `${civil(Number(days))}T${two(Math.floor(secs / 3600))}:${two(Math.floor(secs / 60) % 60)}:${two(secs % 60)}`;
    if (frac) s += '.' + String(frac).padStart(6, '0');
    return s + 'Z';
}

function main(argv) {
    let csvOut = null, sql = null;
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        if (a === '--csv-out') {
            csvOut = argv[++i];
            if (!csvOut) return usage();
        } else if (a === '--help' || a === '-h') {
            console.log('usage: node tests/tools/duckdb_query.mjs [--csv-out FILE] "SQL"');
            return Promise.resolve(0);
        } else if (sql === null) sql = a;
        else return usage();
    }
    if (sql === null) return usage();
    return run(sql, csvOut);
}

function usage() {
    console.error('usage: node tests/tools/duckdb_query.mjs [--csv-out FILE] "SQL"');
    return Promise.resolve(2);
}

async function run(sql, csvOut) {
    const duckdb = loadDuckDB();
    const T = duckdb.DuckDBTypeId;
    const instance = await duckdb.DuckDBInstance.create(':memory:');
    const conn = await instance.connect();
    const result = await conn.stream(sql);

    const n = result.columnCount;
    const kinds = [];
    for (let c = 0; c < n; c++) {
        const t = result.columnTypeId(c);
        if (t === T.DOUBLE || t === T.FLOAT) kinds.push('double');
        else if (t === T.DECIMAL) kinds.push('decimal');
        else if (t === T.DATE) kinds.push('date');
        else if (t === T.TIMESTAMP || t === T.TIMESTAMP_TZ) kinds.push('ts_us');
        else if (t === T.TIMESTAMP_S) kinds.push('ts_s');
        else if (t === T.TIMESTAMP_MS) kinds.push('ts_ms');
        else if (t === T.TIMESTAMP_NS) kinds.push('ts_ns');
        else if ([T.LIST, T.STRUCT, T.MAP, T.ARRAY, T.UNION, T.VARIANT].includes(t)) kinds.push('json');
        else kinds.push('plain');
    }
    const text = (kind, v) => {
        if (v === null || v === undefined) return null;
        switch (kind) {
        case 'double': return formatG(v, 15);
        case 'decimal': return formatG(v.toDouble(), 15);
        case 'date': return Number.isFinite(v.days) && Math.abs(v.days) < 2 ** 31 - 1 ? civil(v.days) : String(v);
        case 'ts_us': return v.isFinite === false ? String(v) : timestamp(v.micros);
        case 'ts_s': return v.isFinite === false ? String(v) : timestamp(v.seconds * 1000000n);
        case 'ts_ms': return v.isFinite === false ? String(v) : timestamp(v.millis * 1000n);
        case 'ts_ns': return v.isFinite === false ? String(v) : timestamp(v.nanos / 1000n);
        default:
            if (typeof v === 'string') return v;
            if (typeof v === 'number' && !Number.isInteger(v)) return formatG(v, 15);
            return String(v);
        }
    };

    const fd = csvOut === null ? 1 : fs.openSync(csvOut, 'w');
    let buf = [], size = 0;
    const put = (line) => {
        buf.push(line);
        size += line.length + 1;
        if (size >= 1 << 16) flush();
    };
    const flush = () => {
        if (buf.length === 0) return;
        writeAll(fd, buf.join('\n') + '\n');
        buf = [];
        size = 0;
    };
    put(csvLine(result.columnNames()));
    const jsonCols = kinds.map((k, c) => (k === 'json' ? c : -1)).filter((c) => c >= 0);
    for (;;) {
        const chunk = await result.fetchChunk();
        if (!chunk || chunk.rowCount === 0) break;
        const cols = chunk.getColumns();
        for (const c of jsonCols) {
            cols[c] = chunk.convertColumnValues(c, duckdb.JsonDuckDBValueConverter)
                .map((j) => (j === null ? null : JSON.stringify(j)));
        }
        const rows = chunk.rowCount;
        for (let r = 0; r < rows; r++) {
            const fields = new Array(n);
            for (let c = 0; c < n; c++) fields[c] = kinds[c] === 'json' ? cols[c][r] : text(kinds[c], cols[c][r]);
            put(csvLine(fields));
        }
    }
    flush();
    if (fd !== 1) fs.closeSync(fd);
    conn.closeSync();
    instance.closeSync?.();
    return 0;
}

function writeAll(fd, s) {
    const b = Buffer.from(s, 'utf8');
    let off = 0;
    while (off < b.length) {
        try {
            off += fs.writeSync(fd, b, off, b.length - off);
        } catch (e) {
            if (e.code === 'EAGAIN') continue; // a non-blocking stdout pipe
            if (e.code === 'EPIPE') process.exit(0);
            throw e;
        }
    }
}

main(process.argv.slice(2)).then(
    (rc) => (process.exitCode = rc),
    (e) => {
        console.error(`duckdb_query: ${e.message}`);
        process.exitCode = 1;
    });
