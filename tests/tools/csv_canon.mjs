#!/usr/bin/env node
// tests/tools/csv_canon.mjs - prints CSV files in one canonical form, so that
// the output of two engines (sluice, DuckDB through duckdb_query.mjs) can be
// compared with diff or cmp.
//
//   node tests/tools/csv_canon.mjs [--sort] [--round N] FILE_OR_DIR...
//
// FILE: a CSV file with a header row, plain, .gz or .zst (zstd needs a Node
// with zlib zstd support or the `zstd` command). DIR: every part-*.csv,
// part-*.csv.gz and part-*.csv.zst below it, recursively, in byte order of
// their paths; entries whose names start with '_' or '.' are skipped
// (_SUCCESS, _manifests/, temporary files). Hive-style folders key=value/
// between DIR and a file become extra trailing columns, in folder order
// (values are %XX-decoded; __HIVE_DEFAULT_PARTITION__ is NULL).
//
// Every file must have the same header (partition columns included); it is
// printed once, then the rows. Fields are re-quoted canonically: RFC 4180
// quotes only where needed (delimiter, quote, CR, LF, leading or trailing
// space/tab), the empty string is "" and NULL (an unquoted empty field, or an
// unquoted \N) is an empty field, or \N when it is a row's only field
// (an empty line would be no row at all). That is how sluice's CSV writer and
// duckdb_query.mjs write them.
//
//   --sort      sort the rows byte-wise on the whole line (UTF-8 order, like
//               LC_ALL=C sort), after rounding
//   --round N   re-print numeric fields that are not integers (they have a
//               '.' or an exponent) with N significant digits, C printf %.Ng
//               style without trailing zeros (1.5, 1e-05, 2.5e+20); integers
//               are left alone
//
// Exit status 0, or 1 with a message on stderr (bad CSV, header mismatch,
// nothing to read), 2 for usage errors. Node's standard library only.
//
// Also imported by duckdb_query.mjs for the one shared printing rule
// (formatG, csvField, csvLine).

import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { spawn } from 'node:child_process';
import { pathToFileURL } from 'node:url';

// ---- printing rule shared with duckdb_query.mjs ----------------------------

// x formatted like C's printf("%.*g", p, x): p significant digits, exact
// decimal rounding of the binary value with ties to even, trailing zeros
// dropped, exponent form (at least two exponent digits) when the exponent is
// < -4 or >= p. -0 prints as 0; NaN and infinities as NaN, Infinity, -Infinity.
export function formatG(x, p = 15) {
    if (Number.isNaN(x)) return 'NaN';
    if (!Number.isFinite(x)) return x < 0 ? '-Infinity' : 'Infinity';
    if (x === 0) return '0';
    const sign = x < 0 ? '-' : '';
    const a = Math.abs(x);
    let head, exp;
    if (p <= 15 && a >= 2.2250738585072014e-308) {
        // A normal double whose shortest round-trip form has at most p <= 15
        // digits prints as that form. Else toExponential(p - 1) (correctly
        // rounded, ties away from zero) is right unless the exact value is a
        // tie: then the shortest form has p + 1 digits ending in 5.
        [head, exp] = sciDigits(a.toExponential());
        if (head.length > p) {
            if (head.length === p + 1 && head.endsWith('5'))
                [head, exp] = roundHalfEven(...sciDigits(a.toExponential(100)), p);
            else
                [head, exp] = sciDigits(a.toExponential(p - 1));
        }
    } else {
        // 16-17 digits, subnormals: the 101-digit expansion, half to even
        [head, exp] = roundHalfEven(...sciDigits(a.toExponential(100)), p);
    }
    head = head.replace(/0+$/, '') || '0';
    if (exp < -4 || exp >= p) {
        const mant = head.length > 1 ? head[0] + '.' + head.slice(1) : head;
        const e = String(Math.abs(exp)).padStart(2, '0');
        return sign + mant + 'e' + (exp < 0 ? '-' : '+') + e;
    }
    if (exp >= 0) {
        const ip = head.slice(0, exp + 1).padEnd(exp + 1, '0');
        const fp = head.slice(exp + 1);
        return sign + ip + (fp ? '.' + fp : '');
    }
    return sign + '0.' + '0'.repeat(-exp - 1) + head;
}

// "d.ddde+X" -> ["dddd", X]
function sciDigits(s) {
    const ei = s.indexOf('e');
    return [s[0] + s.slice(2, ei), parseInt(s.slice(ei + 1), 10)];
}

// digits (more than p) rounded to p digits, ties to even; [digits, exp]
function roundHalfEven(digits, exp, p) {
    const rest = digits.slice(p);
    let head = digits.slice(0, p);
    let up = false;
    if (rest[0] > '5') up = true;
    else if (rest[0] === '5') up = /[1-9]/.test(rest.slice(1)) || (head.charCodeAt(p - 1) - 48) % 2 === 1;
    if (up) {
        const d = head.split('');
        let i = p - 1;
        while (i >= 0 && d[i] === '9') d[i--] = '0';
        if (i >= 0) d[i] = String.fromCharCode(d[i].charCodeAt(0) + 1);
        else {
            d.unshift('1');
            d.pop();
            exp++;
        }
        head = d.join('');
    }
    return [head, exp];
}

const NEEDS_QUOTES = /[",\r\n]|^[ \t]|[ \t]$/;

// One field: null is NULL (empty), '' and a literal \N are quoted so they do
// not read back as NULL.
export function csvField(v) {
    if (v === null) return '';
    if (v === '' || v === '\\N') return '"' + v + '"';
    if (NEEDS_QUOTES.test(v)) return '"' + v.replace(/"/g, '""') + '"';
    return v;
}

// One record, without the line break. A lone NULL is \N.
export function csvLine(fields) {
    if (fields.length === 1 && fields[0] === null) return '\\N';
    return fields.map(csvField).join(',');
}

// Numeric text that is not an integer: has a '.' or an exponent.
const NON_INTEGER_NUMBER = /^[+-]?(?:\d+\.\d*|\.\d+|\d+(?=[eE]))(?:[eE][+-]?\d+)?$/;

export function roundField(v, n) {
    if (v === null || !NON_INTEGER_NUMBER.test(v)) return v;
    return formatG(Number(v), n);
}

// Byte-wise (UTF-8) order of two JS strings: UTF-16 order with surrogates
// moved above U+E000..U+FFFF is code point order, which is UTF-8 byte order.
export function compareUtf8(a, b) {
    const n = Math.min(a.length, b.length);
    for (let i = 0; i < n; i++) {
        let x = a.charCodeAt(i), y = b.charCodeAt(i);
        if (x === y) continue;
        if (x >= 0xd800 && y >= 0xd800) {
            x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
            y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
        }
        return x - y;
    }
    return a.length - b.length;
}

// ---- CSV reading -----------------------------------------------------------

// A streaming RFC 4180 parser. push() takes text chunks; every complete
// record goes to onRecord(fields), fields being strings, or null for an
// unquoted empty field or an unquoted \N. Blank lines are skipped. CR, LF and
// CRLF end records. Lenient: a quote inside an unquoted field, or text after
// a closing quote, is kept as data.
const S_START = 0, S_UNQ = 1, S_Q = 2, S_QQ = 3;
class CsvParser {
    constructor(onRecord) {
        this.onRecord = onRecord;
        this.state = S_START;
        this.field = '';
        this.quoted = false;
        this.fields = [];
        this.skipLF = false;
        this.records = 0;
    }
    endField() {
        const f = this.field;
        this.fields.push(!this.quoted && (f === '' || f === '\\N') ? null : f);
        this.field = '';
        this.quoted = false;
        this.state = S_START;
    }
    endRecord() {
        if (this.fields.length === 0 && this.field === '' && !this.quoted) {
            this.state = S_START; // a blank line: no record
            return;
        }
        this.endField();
        const r = this.fields;
        this.fields = [];
        this.records++;
        this.onRecord(r);
    }
    push(s) {
        const n = s.length;
        let i = 0;
        if (this.skipLF && n > 0) {
            if (s.charCodeAt(0) === 10) i = 1;
            this.skipLF = false;
        }
        const special = /[,"\r\n]/g;
        while (i < n) {
            const st = this.state;
            if (st === S_Q) {
                const j = s.indexOf('"', i);
                if (j < 0) {
                    this.field += s.slice(i);
                    return;
                }
                this.field += s.slice(i, j);
                this.state = S_QQ;
                i = j + 1;
                continue;
            }
            if (st === S_QQ) {
                if (s.charCodeAt(i) === 34) { // doubled quote
                    this.field += '"';
                    this.state = S_Q;
                    i++;
                    continue;
                }
                this.state = S_UNQ; // closing quote: what follows is the delimiter (or stray text)
            }
            if (this.state === S_START && s.charCodeAt(i) === 34) {
                this.quoted = true;
                this.state = S_Q;
                i++;
                continue;
            }
            special.lastIndex = i;
            const m = special.exec(s);
            const j = m ? m.index : n;
            if (j > i) {
                this.field += s.slice(i, j);
                this.state = S_UNQ;
            }
            if (!m) return;
            const c = s.charCodeAt(j);
            if (c === 44) { // ,
                this.endField();
                i = j + 1;
            } else if (c === 34) { // stray quote in an unquoted field
                this.field += '"';
                this.state = S_UNQ;
                i = j + 1;
            } else { // \r or \n
                this.endRecord();
                i = j + 1;
                if (c === 13) {
                    if (i < n) {
                        if (s.charCodeAt(i) === 10) i++;
                    } else this.skipLF = true;
                }
            }
        }
    }
    end() {
        if (this.state === S_Q) throw new Error('unterminated quoted field at the end');
        if (this.state !== S_START || this.fields.length > 0 || this.quoted) this.endRecord();
    }
}

// The text stream of one file, decompressed by its name.
function openText(file) {
    const raw = fs.createReadStream(file);
    let stream = raw;
    if (file.endsWith('.gz')) {
        stream = raw.pipe(zlib.createGunzip());
        raw.on('error', (e) => stream.destroy(e));
    } else if (file.endsWith('.zst')) {
        if (typeof zlib.createZstdDecompress === 'function') {
            stream = raw.pipe(zlib.createZstdDecompress());
            raw.on('error', (e) => stream.destroy(e));
        } else {
            raw.destroy();
            const child = spawn('zstd', ['-dcq', '--', file], { stdio: ['ignore', 'pipe', 'pipe'] });
            let err = '';
            child.stderr.on('data', (d) => (err += d));
            child.on('error', (e) =>
                child.stdout.destroy(new Error(`cannot read zstd: this Node has no zstd in zlib and the zstd command failed (${e.message})`)));
            child.on('close', (code) => {
                if (code !== 0) child.stdout.destroy(new Error(`zstd -d failed: ${err.trim()}`));
            });
            stream = child.stdout;
        }
    }
    stream.setEncoding('utf8');
    return stream;
}

const PART_FILE = /^part-.*\.csv(\.gz|\.zst)?$/;

// Part files below dir, sorted, with their Hive partition values.
function walk(dir, rel, out) {
    const names = fs.readdirSync(path.join(dir, ...rel)).sort(compareUtf8);
    for (const name of names) {
        if (name.startsWith('_') || name.startsWith('.')) continue;
        const full = path.join(dir, ...rel, name);
        const st = fs.statSync(full);
        if (st.isDirectory()) walk(dir, [...rel, name], out);
        else if (st.isFile() && PART_FILE.test(name)) {
            const keys = [], values = [];
            for (const d of rel) {
                const eq = d.indexOf('=');
                if (eq <= 0) continue;
                keys.push(unescapeHive(d.slice(0, eq)));
                const v = unescapeHive(d.slice(eq + 1));
                values.push(v === '__HIVE_DEFAULT_PARTITION__' ? null : v);
            }
            out.push({ file: full, keys, values });
        }
    }
}

function unescapeHive(s) {
    return s.replace(/%([0-9A-Fa-f]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16)));
}

function inputs(args) {
    const files = [];
    for (const a of args) {
        let st;
        try {
            st = fs.statSync(a);
        } catch (e) {
            throw new Error(`${a}: ${e.code === 'ENOENT' ? 'no such file or directory' : e.message}`);
        }
        if (st.isDirectory()) {
            const found = [];
            walk(a, [], found);
            if (found.length === 0) throw new Error(`${a}: no part-*.csv files below this folder`);
            files.push(...found);
        } else files.push({ file: a, keys: [], values: [] });
    }
    return files;
}

// ---- output ------------------------------------------------------------------

class Out {
    constructor() {
        this.buf = [];
        this.size = 0;
    }
    async line(s) {
        this.buf.push(s);
        this.size += s.length + 1;
        if (this.size >= 1 << 16) await this.flush();
    }
    async flush() {
        if (this.buf.length === 0) return;
        const text = this.buf.join('\n') + '\n';
        this.buf = [];
        this.size = 0;
        if (!process.stdout.write(text))
            await new Promise((resolve) => process.stdout.once('drain', resolve));
    }
}

async function main(argv) {
    let sort = false, round = 0;
    const args = [];
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        if (a === '--sort') sort = true;
        else if (a === '--round') {
            round = Number(argv[++i]);
            if (!Number.isInteger(round) || round < 1 || round > 17) {
                console.error('csv_canon: --round takes a number of significant digits from 1 to 17');
                return 2;
            }
        } else if (a === '--help' || a === '-h') {
            console.log('usage: node tests/tools/csv_canon.mjs [--sort] [--round N] FILE_OR_DIR...');
            return 0;
        } else if (a === '--') args.push(...argv.slice(i + 1)), (i = argv.length);
        else if (a.startsWith('--')) {
            console.error(`csv_canon: unknown option ${a}`);
            return 2;
        } else args.push(a);
    }
    if (args.length === 0) {
        console.error('usage: node tests/tools/csv_canon.mjs [--sort] [--round N] FILE_OR_DIR...');
        return 2;
    }
    process.stdout.on('error', (e) => {
        if (e.code === 'EPIPE') process.exit(0);
        throw e;
    });

    const files = inputs(args);
    const out = new Out();
    const rows = sort ? [] : null; // sorted at the end; else streamed
    let header = null, headerFile = null;
    for (const { file, keys, values } of files) {
        let fileHeader = null;
        const pending = []; // lines of the current chunk
        const parser = new CsvParser((rec) => {
            if (fileHeader === null) {
                if (rec.some((f) => f === null))
                    throw new Error('the header has an empty column name');
                fileHeader = [...rec, ...keys];
                if (header === null) {
                    header = fileHeader;
                    headerFile = file;
                    if (!rows) pending.push(csvLine(header));
                } else if (csvLine(header) !== csvLine(fileHeader)) {
                    throw new Error(`header ${csvLine(fileHeader)} differs from ` +
                                    `${csvLine(header)} of ${headerFile}`);
                }
                return;
            }
            if (rec.length !== fileHeader.length - keys.length)
                throw new Error(`record ${parser.records} has ${rec.length} fields, ` +
                                `the header has ${fileHeader.length - keys.length}`);
            let r = keys.length ? rec.concat(values) : rec;
            if (round) r = r.map((v) => roundField(v, round));
            pending.push(csvLine(r));
        });
        const drain = async () => {
            if (rows) for (const l of pending) rows.push(l);
            else for (const l of pending) await out.line(l);
            pending.length = 0;
        };
        try {
            for await (const chunk of openText(file)) {
                parser.push(chunk);
                await drain();
            }
            parser.end();
            await drain();
        } catch (e) {
            throw new Error(`${file}: ${e.message}`);
        }
    }
    if (header === null) throw new Error(`no header found: every input is empty (${args.join(' ')})`);
    if (rows) {
        await out.line(csvLine(header));
        rows.sort(compareUtf8);
        for (const l of rows) await out.line(l);
    }
    await out.flush();
    return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
    main(process.argv.slice(2)).then(
        (rc) => (process.exitCode = rc),
        (e) => {
            console.error(`csv_canon: ${e.message}`);
            process.exitCode = 1;
        });
}
