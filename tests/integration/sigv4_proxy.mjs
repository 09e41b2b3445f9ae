#!/usr/bin/env node
// tests/integration/sigv4_proxy.mjs - a verifying reverse proxy for S3 SigV4.
//
// s3rver (the S3 emulator the tests run against) does not check signatures, so
// this proxy sits in front of it and checks every request itself, from the
// AWS SigV4 spec, with node's built-in modules only (http, crypto, fs):
//
//   node sigv4_proxy.mjs --listen 127.0.0.1:0 --upstream http://127.0.0.1:PORT \
//        --secret S3RVER --port-file FILE --log FILE
//        [--access-key AKID] [--region REGION] [--max-skew SECONDS] [--log-all]
//
// A request whose header signature (Authorization: AWS4-HMAC-SHA256 ...)
// verifies is forwarded unchanged (method, raw path, headers, body) to the
// upstream and the response streamed back. Otherwise the proxy answers 403
// with an S3 XML error <Code>SignatureDoesNotMatch</Code> and appends one JSON
// line to --log saying what mismatched, with the canonical request and string
// to sign it computed (a test tool: those are fine to log; the secret is not).
// --log-all also logs the verified requests (canonical request included).
//
// S3 specifics checked on top of the generic algorithm:
//   - the raw path must already be the canonical encoding of the key (every
//     byte but A-Za-z0-9-._~ and '/' as %XX, uppercase hex); S3 re-encodes the
//     decoded key, so any other spelling is a failure even when the client
//     signed what it sent;
//   - a literal '+' in the query is ambiguous (S3 front ends and s3rver read
//     it as a space) and reported as a failure; send %2B or %20;
//   - x-amz-content-sha256 must be present, signed, and be UNSIGNED-PAYLOAD
//     or the hex SHA-256 of the body actually received;
//   - SignedHeaders must hold host and x-amz-date (and x-amz-security-token
//     when that header is sent), be lowercase, sorted, without duplicates;
//   - the credential scope must end in s3/aws4_request with the date of
//     X-Amz-Date; X-Amz-Date within --max-skew seconds (default 900, as S3;
//     negative disables) of the proxy's clock.
//
// GET /__sigv4_stats (unsigned, answered by the proxy) returns
// {"ok":N,"failed":M,"upstream_errors":K}.
// On startup the verifier is self-tested against AWS's published examples and
// the spec's worked example; the proxy exits 1 if any of them fails.

import http from 'node:http';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

// ------------------------------------------------------------- primitives

const sha256hex = (data) => crypto.createHash('sha256').update(data).digest('hex');
const hmac = (key, data) => crypto.createHmac('sha256', key).update(data, 'utf8').digest();
const EMPTY_SHA256 = sha256hex('');

function isUnreserved(b) {
    return (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || (b >= 0x30 && b <= 0x39) ||
        b === 0x2d || b === 0x2e || b === 0x5f || b === 0x7e;
}

// AWS URI encoding of raw bytes: unreserved characters (and '/' when keepSlash)
// stay, every other byte becomes %XX with uppercase hex.
function awsEncode(bytes, keepSlash) {
    let out = '';
    for (const b of bytes) {
        if (isUnreserved(b) || (keepSlash && b === 0x2f)) out += String.fromCharCode(b);
        else out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
    }
    return out;
}

const hexVal = (c) => (c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x41 && c <= 0x46 ? c - 0x37
    : c >= 0x61 && c <= 0x66 ? c - 0x57 : -1);

// Percent-decodes a raw URL component (as received: node hands the request
// target over as latin1, one char per byte) into bytes. '+' stays '+'.
// Returns {bytes} or {error}.
function pctDecode(raw) {
    const src = Buffer.from(raw, 'latin1');
    const out = Buffer.alloc(src.length);
    let n = 0;
    for (let i = 0; i < src.length; i++) {
        const c = src[i];
        if (c === 0x25) {
            const h = i + 2 < src.length ? hexVal(src[i + 1]) : -1;
            const l = i + 2 < src.length ? hexVal(src[i + 2]) : -1;
            if (h < 0 || l < 0) return { error: `bad percent escape at offset ${i} in ${JSON.stringify(raw)}` };
            out[n++] = h * 16 + l;
            i += 2;
        } else {
            out[n++] = c;
        }
    }
    return { bytes: out.subarray(0, n) };
}

// ------------------------------------------------------------- verifier

class SigFail extends Error {
    constructor(reason, details = {}) { super(reason); this.details = details; }
}

function parseAuthorization(value) {
    const m = /^AWS4-HMAC-SHA256[ \t]+(.*)$/s.exec(value);
    if (!m) throw new SigFail(`Authorization is not "AWS4-HMAC-SHA256 ...": ${JSON.stringify(value.slice(0, 60))}`);
    const fields = {};
    for (const part of m[1].split(',')) {
        const p = part.trim();
        const eq = p.indexOf('=');
        if (eq <= 0) throw new SigFail(`malformed Authorization component ${JSON.stringify(p)}`);
        const k = p.slice(0, eq);
        if (k in fields) throw new SigFail(`Authorization repeats ${k}`);
        fields[k] = p.slice(eq + 1);
    }
    for (const k of ['Credential', 'SignedHeaders', 'Signature']) {
        if (!(k in fields)) throw new SigFail(`Authorization lacks ${k}=`);
    }
    const extra = Object.keys(fields).filter((k) => !['Credential', 'SignedHeaders', 'Signature'].includes(k));
    if (extra.length) throw new SigFail(`Authorization has unknown components: ${extra.join(', ')}`);
    const cred = fields.Credential.split('/');
    if (cred.length !== 5) throw new SigFail(`Credential must be AKID/date/region/service/aws4_request, got ${JSON.stringify(fields.Credential)}`);
    const [akid, date, region, service, term] = cred;
    if (term !== 'aws4_request') throw new SigFail(`credential scope terminator is ${JSON.stringify(term)}, not aws4_request`);
    if (!/^[0-9]{8}$/.test(date)) throw new SigFail(`credential scope date ${JSON.stringify(date)} is not YYYYMMDD`);
    if (!region || !service || !akid) throw new SigFail('empty access key id, region or service in Credential');
    if (!/^[0-9a-f]{64}$/.test(fields.Signature)) throw new SigFail(`Signature is not 64 lowercase hex digits: ${JSON.stringify(fields.Signature)}`);
    return { akid, date, region, service, signedHeaders: fields.SignedHeaders, signature: fields.Signature };
}

// All values of a header (lowercase name) in the order received.
function headerValues(rawHeaders, name) {
    const vals = [];
    for (let i = 0; i < rawHeaders.length; i += 2) {
        if (rawHeaders[i].toLowerCase() === name) vals.push(rawHeaders[i + 1]);
    }
    return vals;
}

function canonicalQuery(rawQuery, isS3) {
    if (rawQuery === '') return '';
    const pairs = [];
    for (const comp of rawQuery.split('&')) {
        if (comp === '') continue;
        if (isS3 && comp.includes('+')) {
            throw new SigFail(`literal '+' in query component ${JSON.stringify(comp)} is ambiguous (read as a space by S3 servers); encode it as %2B or %20`);
        }
        const eq = comp.indexOf('=');
        const rawName = eq < 0 ? comp : comp.slice(0, eq);
        const rawValue = eq < 0 ? '' : comp.slice(eq + 1);
        const n = pctDecode(rawName), v = pctDecode(rawValue);
        if (n.error || v.error) throw new SigFail(`query: ${n.error || v.error}`);
        pairs.push([awsEncode(n.bytes, false), awsEncode(v.bytes, false)]);
    }
    pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
    return pairs.map(([n, v]) => `${n}=${v}`).join('&');
}

// Verifies one request. req = {method, url (raw request target), rawHeaders,
// bodyHash (hex SHA-256 of the body received), bodyLength}. opts =
// {secretFor(akid) -> secret|undefined, expectService, expectRegion, now (ms)
// or null for no skew check, maxSkewSec}. Returns the details on success;
// throws SigFail (e.message = every problem found, e.details = what was
// computed: canonical request, string to sign, expected signature and, on a
// mismatch, a guess at what the client signed instead).
function verify(req, opts) {
    const d = { method: req.method, url: req.url };
    const problems = [];
    const fatal = (reason) => { throw new SigFail([...problems, reason].join('; '), d); };

    const auths = headerValues(req.rawHeaders, 'authorization');
    if (auths.length === 0) fatal('no Authorization header (unsigned request)');
    if (auths.length > 1) fatal('more than one Authorization header');
    let a;
    try { a = parseAuthorization(auths[0]); } catch (e) { if (e instanceof SigFail) fatal(e.message); throw e; }
    Object.assign(d, { akid: a.akid, scope: `${a.date}/${a.region}/${a.service}/aws4_request`, signedHeaders: a.signedHeaders, signature: a.signature });
    const isS3 = a.service === 's3';
    if (opts.expectService && a.service !== opts.expectService) problems.push(`credential scope service is ${JSON.stringify(a.service)}, expected ${JSON.stringify(opts.expectService)}`);
    if (opts.expectRegion && a.region !== opts.expectRegion) problems.push(`credential scope region is ${JSON.stringify(a.region)}, expected ${JSON.stringify(opts.expectRegion)}`);
    const secret = opts.secretFor(a.akid);
    if (secret === undefined) fatal(`unknown access key id ${JSON.stringify(a.akid)}`);

    // X-Amz-Date
    const dates = headerValues(req.rawHeaders, 'x-amz-date');
    if (dates.length !== 1) fatal(dates.length ? 'more than one X-Amz-Date header' : 'no X-Amz-Date header (the Date form is not accepted)');
    const amzDate = dates[0].trim();
    d.amzDate = amzDate;
    if (!/^[0-9]{8}T[0-9]{6}Z$/.test(amzDate)) fatal(`X-Amz-Date ${JSON.stringify(amzDate)} is not YYYYMMDDTHHMMSSZ`);
    if (amzDate.slice(0, 8) !== a.date) problems.push(`credential scope date ${a.date} differs from X-Amz-Date ${amzDate}`);
    if (opts.now != null && opts.maxSkewSec >= 0) {
        const t = Date.UTC(+amzDate.slice(0, 4), +amzDate.slice(4, 6) - 1, +amzDate.slice(6, 8),
            +amzDate.slice(9, 11), +amzDate.slice(11, 13), +amzDate.slice(13, 15));
        const skew = (t - opts.now) / 1000;
        if (Math.abs(skew) > opts.maxSkewSec) problems.push(`X-Amz-Date ${amzDate} is ${Math.round(skew)} s off the proxy's clock (max ${opts.maxSkewSec})`);
    }

    // SignedHeaders
    const signed = a.signedHeaders.split(';');
    for (let i = 0; i < signed.length; i++) {
        const h = signed[i];
        if (h === '' || h !== h.toLowerCase() || /[^!#$%&'*+.^_`|~0-9a-z-]/.test(h)) fatal(`SignedHeaders has a bad name ${JSON.stringify(h)}`);
        if (i > 0 && !(signed[i - 1] < h)) problems.push(`SignedHeaders is not sorted without duplicates (${JSON.stringify(signed[i - 1])} before ${JSON.stringify(h)})`);
    }
    const must = ['host', 'x-amz-date'];
    if (isS3) must.push('x-amz-content-sha256');
    for (const h of ['x-amz-security-token', 'x-amz-target']) {
        if (headerValues(req.rawHeaders, h).length) must.push(h);
    }
    for (const h of must) if (!signed.includes(h)) problems.push(`SignedHeaders lacks ${h}`);

    // payload hash
    let payloadHash = req.bodyHash;
    const csha = headerValues(req.rawHeaders, 'x-amz-content-sha256');
    if (csha.length > 1) fatal('more than one x-amz-content-sha256 header');
    if (isS3 && csha.length === 0) problems.push('no x-amz-content-sha256 header (S3 requires it)');
    if (csha.length === 1) {
        const v = csha[0].trim();
        d.contentSha256 = v;
        if (v === 'UNSIGNED-PAYLOAD') {
            if (!isS3) problems.push('UNSIGNED-PAYLOAD is only allowed for S3');
            payloadHash = v;
        } else if (/^[0-9a-f]{64}$/.test(v)) {
            if (v !== req.bodyHash) problems.push(`x-amz-content-sha256 ${v} is not the SHA-256 of the ${req.bodyLength ?? '?'}-byte body received (${req.bodyHash})`);
            payloadHash = v;
        } else {
            fatal(`unsupported x-amz-content-sha256 value ${JSON.stringify(v)} (want UNSIGNED-PAYLOAD or 64 lowercase hex)`);
        }
    }

    // canonical URI and query
    let target = req.url;
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(target)) target = target.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/?]*/i, '') || '/';
    const q = target.indexOf('?');
    const rawPath = q < 0 ? target : target.slice(0, q);
    const rawQuery = q < 0 ? '' : target.slice(q + 1);
    if (!rawPath.startsWith('/')) fatal(`request path ${JSON.stringify(rawPath)} does not start with /`);
    let canonUri;
    if (isS3) {
        const p = pctDecode(rawPath);
        if (p.error) fatal(`path: ${p.error}`);
        canonUri = awsEncode(p.bytes, true);
        d.decodedPath = p.bytes.toString('utf8');
        // S3 re-encodes the key it decoded: the path must already be in that form.
        if (rawPath !== canonUri) {
            problems.push(`path is not canonically URI-encoded: sent ${JSON.stringify(rawPath)}, S3 canonical form ${JSON.stringify(canonUri)} (decoded key ${JSON.stringify(d.decodedPath)})`);
        }
    } else {
        // other services: the URI-encoded path encoded once more
        canonUri = awsEncode(Buffer.from(rawPath, 'latin1'), true);
    }
    let canonQuery;
    try { canonQuery = canonicalQuery(rawQuery, isS3); } catch (e) { if (e instanceof SigFail) fatal(e.message); throw e; }
    if (isS3 && rawQuery !== canonQuery) d.queryNotCanonical = true; // fine for S3 if signed canonically; kept for the diagnosis

    // canonical headers
    let canonHeaders = '';
    for (const h of signed) {
        const vals = headerValues(req.rawHeaders, h);
        if (vals.length === 0) fatal(`signed header ${h} is not in the request`);
        canonHeaders += `${h}:${vals.map((v) => v.trim().replace(/\s+/g, ' ')).join(',')}\n`;
    }
    const kDate = hmac('AWS4' + secret, a.date);
    const kRegion = hmac(kDate, a.region);
    const kService = hmac(kRegion, a.service);
    const kSigning = hmac(kService, 'aws4_request');
    const sign = (parts) => {
        const cr = [req.method, parts.uri, parts.query, canonHeaders, a.signedHeaders, parts.payload].join('\n');
        const sts = ['AWS4-HMAC-SHA256', amzDate, d.scope, sha256hex(cr)].join('\n');
        return { canonicalRequest: cr, stringToSign: sts, signature: crypto.createHmac('sha256', kSigning).update(sts, 'utf8').digest('hex') };
    };
    const mine = sign({ uri: canonUri, query: canonQuery, payload: payloadHash });
    Object.assign(d, { canonicalRequest: mine.canonicalRequest, stringToSign: mine.stringToSign, expectedSignature: mine.signature });
    d.signatureMatches = crypto.timingSafeEqual(Buffer.from(mine.signature), Buffer.from(a.signature));
    if (!d.signatureMatches) {
        problems.push('signature mismatch: the client did not sign the canonical request shown (or used another secret)');
        // Guess what the client signed instead: common canonicalisation slips.
        const uris = [[canonUri, null], [rawPath, 'the raw path'], [awsEncode(Buffer.from(rawPath, 'latin1'), true), 'the path URI-encoded twice']];
        const queries = [[canonQuery, null], [rawQuery, 'the raw query string as sent (unsorted / not re-encoded)']];
        const payloads = [[payloadHash, null], [req.bodyHash, 'the body SHA-256'], ['UNSIGNED-PAYLOAD', 'UNSIGNED-PAYLOAD'], [EMPTY_SHA256, 'the empty-body SHA-256']];
        outer: for (const [u, un] of uris) for (const [qq, qn] of queries) for (const [pl, pn] of payloads) {
            if (!un && !qn && !pn) continue;
            if (sign({ uri: u, query: qq, payload: pl }).signature === a.signature) {
                d.diagnosis = 'the client signed ' + [un && `the URI ${JSON.stringify(u)} (${un})`, qn && `the query ${JSON.stringify(qq)} (${qn})`, pn && `payload hash ${pl} (${pn})`].filter(Boolean).join(' and ') + ' instead';
                break outer;
            }
        }
        if (!d.diagnosis) d.diagnosis = 'no simple variant matches: wrong secret, or headers/method/scope differ from what was signed';
    }
    if (problems.length) throw new SigFail(problems.join('; '), d);
    return d;
}

// ------------------------------------------------------------- self-test

function rawHeadersOf(lines) { // ["Name: value", ...] -> rawHeaders
    const out = [];
    for (const l of lines) { const i = l.indexOf(':'); out.push(l.slice(0, i), l.slice(i + 1).trim()); }
    return out;
}

function selfTest() {
    const cases = [];
    // 1. The spec's worked example (/work/shared/spec/aws-api.md §2.4, captured from aws CLI v2).
    const glueBody = '{"JobName": "nightly-etl"}';
    const glue = {
        method: 'POST', url: '/',
        rawHeaders: rawHeadersOf([
            'Host: 127.0.0.1:9999', 'Accept-Encoding: identity', 'X-Amz-Target: AWSGlue.GetJob',
            'Content-Type: application/x-amz-json-1.1', 'User-Agent: aws-cli/2.9.19',
            'X-Amz-Date: 20261126T114856Z',
            'Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261126/us-east-1/glue/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=73744bf29d0eb920e9f177fbda985f4b65c9a4bcfd00fe33987a58dcc8a546e8',
            'Content-Length: 26']),
        bodyHash: sha256hex(glueBody), bodyLength: 26,
    };
    const glueOpts = { secretFor: (k) => (k === 'AKIDEXAMPLE' ? 'secret' : undefined), expectService: 'glue', now: null };
    cases.push(['glue worked example verifies', () => {
        const d = verify(glue, glueOpts);
        if (sha256hex(d.canonicalRequest) !== '7531c91f90871df0cefadd806629f3c0960ae34d38ca87680e4edad136d1afc6') throw new Error('canonical request hash differs from the spec');
    }]);
    cases.push(['glue example with a flipped body byte fails', () => expectFail(() => verify({ ...glue, bodyHash: sha256hex(glueBody.replace('n', 'm')) }, glueOpts))]);
    cases.push(['glue example with secret "Secret" fails', () => expectFail(() => verify(glue, { ...glueOpts, secretFor: () => 'Secret' }))]);
    cases.push(['glue example with Host 127.0.0.1:9998 fails', () => expectFail(() => verify({ ...glue, rawHeaders: glue.rawHeaders.map((v) => (v === '127.0.0.1:9999' ? '127.0.0.1:9998' : v)) }, glueOpts))]);

    // 2. AWS S3 API reference, "Signature Calculations for the Authorization
    //    Header: Transferring Payload in a Single Chunk" (sig-v4-header-based-auth),
    //    examples with AKIAIOSFODNN7EXAMPLE / wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY.
    const s3Opts = { secretFor: (k) => (k === 'AKIAIOSFODNN7EXAMPLE' ? 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' : undefined), expectService: 's3', now: null };
    const s3get = {
        method: 'GET', url: '/test.txt',
        rawHeaders: rawHeadersOf([
            'Host: examplebucket.s3.amazonaws.com',
            'Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41',
            'Range: bytes=0-9',
            `x-amz-content-sha256: ${EMPTY_SHA256}`,
            'x-amz-date: 20130524T000000Z']),
        bodyHash: EMPTY_SHA256, bodyLength: 0,
    };
    cases.push(['S3 GET object example verifies', () => {
        const d = verify(s3get, s3Opts);
        if (sha256hex(d.canonicalRequest) !== '7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972') throw new Error('canonical request hash differs from AWS docs');
    }]);
    cases.push(['S3 GET example with Range bytes=0-10 fails', () => expectFail(() => verify({ ...s3get, rawHeaders: s3get.rawHeaders.map((v) => (v === 'bytes=0-9' ? 'bytes=0-10' : v)) }, s3Opts))]);
    cases.push(['S3 GET example without its signed Range header fails', () => expectFail(() => verify({ ...s3get, rawHeaders: s3get.rawHeaders.slice(0, 4).concat(s3get.rawHeaders.slice(6)) }, s3Opts), /range is not in the request/)]);
    cases.push(['S3 GET example without x-amz-content-sha256 fails', () => expectFail(() => verify({ ...s3get, rawHeaders: s3get.rawHeaders.slice(0, 6).concat(s3get.rawHeaders.slice(8)) }, s3Opts), /x-amz-content-sha256/)]);
    cases.push(['S3 GET example with a wrong content hash fails', () => expectFail(() => verify({ ...s3get, bodyHash: sha256hex('x') }, s3Opts), /x-amz-content-sha256/)]);
    cases.push(['S3 GET example as path /test%2etxt fails (non-canonical path)', () => expectFail(() => verify({ ...s3get, url: '/test%2etxt' }, s3Opts), /canonically/)]);
    cases.push(['S3 GET example outside the skew window fails', () => expectFail(() => verify(s3get, { ...s3Opts, now: Date.UTC(2013, 4, 24, 0, 16), maxSkewSec: 900 }), /clock/)]);
    // PUT /test$file.text: the docs show the raw '$'; sent as S3 wants it, %24.
    const putBody = 'Welcome to Amazon S3.';
    cases.push(['S3 PUT object example verifies', () => verify({
        method: 'PUT', url: '/test%24file.text',
        rawHeaders: rawHeadersOf([
            'Host: examplebucket.s3.amazonaws.com', 'Date: Fri, 24 May 2013 00:00:00 GMT',
            'Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd',
            'x-amz-date: 20130524T000000Z', 'x-amz-storage-class: REDUCED_REDUNDANCY',
            'x-amz-content-sha256: 44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072']),
        bodyHash: sha256hex(putBody), bodyLength: putBody.length,
    }, s3Opts)]);
    cases.push(['S3 GET bucket lifecycle example (?lifecycle) verifies', () => verify({
        method: 'GET', url: '/?lifecycle',
        rawHeaders: rawHeadersOf([
            'Host: examplebucket.s3.amazonaws.com',
            'Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;x-amz-content-sha256;x-amz-date,Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543',
            'x-amz-date: 20130524T000000Z', `x-amz-content-sha256: ${EMPTY_SHA256}`]),
        bodyHash: EMPTY_SHA256, bodyLength: 0,
    }, s3Opts)]);
    const listReq = {
        method: 'GET', url: '/?max-keys=2&prefix=J',
        rawHeaders: rawHeadersOf([
            'Host: examplebucket.s3.amazonaws.com',
            'Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;x-amz-content-sha256;x-amz-date,Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7',
            'x-amz-date: 20130524T000000Z', `x-amz-content-sha256: ${EMPTY_SHA256}`]),
        bodyHash: EMPTY_SHA256, bodyLength: 0,
    };
    cases.push(['S3 list objects example verifies', () => verify(listReq, s3Opts)]);
    cases.push(['S3 list objects example with the query reordered verifies', () => verify({ ...listReq, url: '/?prefix=J&max-keys=2' }, s3Opts)]);
    cases.push(['S3 list objects example with prefix=J+ fails (ambiguous +)', () => expectFail(() => verify({ ...listReq, url: '/?max-keys=2&prefix=J+' }, s3Opts), /ambiguous/)]);

    // 3. Canonicalisation helpers.
    cases.push(['S3 key encoding', () => {
        const k = awsEncode(Buffer.from('a b+c%d=e/é~_.-ü/x', 'utf8'), true);
        if (k !== 'a%20b%2Bc%25d%3De/%C3%A9~_.-%C3%BC/x') throw new Error(k);
    }]);
    cases.push(['canonical query', () => {
        const q = canonicalQuery('uploads', true);
        if (q !== 'uploads=') throw new Error(q);
        const q2 = canonicalQuery('prefix=a%20b%2fc&list-type=2&continuation-token=x%3d%3D&delimiter=%2F&b=2&b=1', true);
        if (q2 !== 'b=1&b=2&continuation-token=x%3D%3D&delimiter=%2F&list-type=2&prefix=a%20b%2Fc') throw new Error(q2);
    }]);

    let bad = 0;
    for (const [name, fn] of cases) {
        try { fn(); } catch (e) { bad++; process.stderr.write(`sigv4_proxy: self-test FAILED: ${name}: ${e.message}\n`); }
    }
    return { total: cases.length, bad };
}

function expectFail(fn, re) {
    try { fn(); } catch (e) {
        if (!(e instanceof SigFail)) throw e;
        if (re && !re.test(e.message)) throw new Error(`failed for the wrong reason: ${e.message}`);
        return;
    }
    throw new Error('verified but should have failed');
}

// ------------------------------------------------------------- proxy

function parseArgs(argv) {
    const o = { listen: '127.0.0.1:0', maxSkew: 900, logAll: false };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        const val = () => { if (i + 1 >= argv.length) usage(`${a} needs a value`); return argv[++i]; };
        switch (a) {
            case '--listen': o.listen = val(); break;
            case '--upstream': o.upstream = val(); break;
            case '--secret': o.secret = val(); break;
            case '--access-key': o.accessKey = val(); break;
            case '--region': o.region = val(); break;
            case '--port-file': o.portFile = val(); break;
            case '--log': o.log = val(); break;
            case '--max-skew': o.maxSkew = Number(val()); break;
            case '--log-all': o.logAll = true; break;
            case '--self-test': o.selfTestOnly = true; break;
            case '-h': case '--help': usage(); break;
            default: usage(`unknown argument ${a}`);
        }
    }
    if (o.selfTestOnly) return o;
    if (!o.upstream || o.secret === undefined) usage('--upstream and --secret are required');
    if (!Number.isFinite(o.maxSkew)) usage('--max-skew wants a number');
    return o;
}

function usage(msg) {
    if (msg) process.stderr.write(`sigv4_proxy: ${msg}\n`);
    process.stderr.write('usage: node sigv4_proxy.mjs --listen HOST:PORT --upstream http://HOST:PORT --secret SECRET\n' +
        '         [--access-key AKID] [--region REGION] [--port-file FILE] [--log FILE] [--max-skew SECONDS] [--log-all]\n' +
        '       node sigv4_proxy.mjs --self-test\n');
    process.exit(msg ? 2 : 0);
}

const xmlEscape = (s) => String(s).replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]);

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization',
    'te', 'trailer', 'transfer-encoding', 'upgrade', 'expect']);

function main() {
    const opts = parseArgs(process.argv.slice(2));
    const st = selfTest();
    if (st.bad) {
        process.stderr.write(`sigv4_proxy: ${st.bad} of ${st.total} self-tests failed; not starting\n`);
        process.exit(1);
    }
    if (opts.selfTestOnly) {
        process.stdout.write(`sigv4_proxy: all ${st.total} self-tests passed\n`);
        return;
    }
    const up = new URL(opts.upstream);
    if (up.protocol !== 'http:') usage('--upstream must be http://');
    const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
    const stats = { ok: 0, failed: 0, upstream_errors: 0 };
    const logLine = (obj) => {
        const line = JSON.stringify({ time: new Date().toISOString(), ...obj }) + '\n';
        if (opts.log) fs.appendFileSync(opts.log, line); else process.stderr.write(line);
    };
    const verifyOpts = {
        secretFor: (akid) => (opts.accessKey === undefined || akid === opts.accessKey ? opts.secret : undefined),
        expectService: 's3', expectRegion: opts.region, maxSkewSec: opts.maxSkew,
    };

    const server = http.createServer((req, res) => {
        if (req.url === '/__sigv4_stats' && req.method === 'GET' && headerValues(req.rawHeaders, 'authorization').length === 0) {
            req.resume();
            const body = JSON.stringify(stats);
            res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
            res.end(body);
            return;
        }
        const chunks = [];
        let length = 0;
        const hash = crypto.createHash('sha256');
        req.on('data', (c) => { chunks.push(c); length += c.length; hash.update(c); });
        req.on('error', (e) => process.stderr.write(`sigv4_proxy: reading ${req.method} ${req.url}: ${e.message}\n`));
        req.on('end', () => {
            const body = Buffer.concat(chunks, length);
            const bodyHash = hash.digest('hex');
            let details;
            try {
                details = verify({ method: req.method, url: req.url, rawHeaders: req.rawHeaders, bodyHash, bodyLength: length },
                    { ...verifyOpts, now: Date.now() });
            } catch (e) {
                if (!(e instanceof SigFail)) { // a bug in the verifier: say so loudly, count it as a failure
                    e = new SigFail(`internal verifier error: ${e.stack || e}`, { method: req.method, url: req.url });
                }
                stats.failed++;
                logLine({ result: 'failed', reason: e.message, path: req.url.split('?')[0], bodyLength: length, bodySha256: bodyHash,
                    headers: pairs(req.rawHeaders), ...e.details });
                const xml = '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SignatureDoesNotMatch</Code>' +
                    `<Message>${xmlEscape('sigv4_proxy: ' + e.message)}</Message><Resource>${xmlEscape(req.url)}</Resource>` +
                    '<RequestId>sigv4-proxy</RequestId></Error>';
                res.writeHead(403, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(xml) });
                res.end(xml);
                return;
            }
            stats.ok++;
            if (opts.logAll) logLine({ result: 'ok', bodyLength: length, ...details });
            forward(req, res, body);
        });
    });

    function forward(req, res, body) {
        const headers = {};
        for (let i = 0; i < req.rawHeaders.length; i += 2) {
            const name = req.rawHeaders[i], lname = name.toLowerCase();
            if (HOP_BY_HOP.has(lname) || lname === 'content-length') continue;
            if (lname in headers) headers[lname] = [].concat(headers[lname], req.rawHeaders[i + 1]);
            else headers[lname] = req.rawHeaders[i + 1];
        }
        if (body.length > 0 || req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined) {
            headers['content-length'] = String(body.length);
        }
        let preq;
        try {
            preq = http.request({ host: up.hostname, port: up.port || 80, method: req.method, path: req.url, headers, agent });
        } catch (e) {
            return upstreamError(res, req, e);
        }
        preq.on('response', (pres) => {
            const h = {};
            for (const [k, v] of Object.entries(pres.headers)) if (!HOP_BY_HOP.has(k)) h[k] = v;
            res.writeHead(pres.statusCode, pres.statusMessage, h);
            pres.pipe(res);
            pres.on('error', () => res.destroy());
            res.on('close', () => { if (!pres.complete) pres.destroy(); });
        });
        preq.on('error', (e) => upstreamError(res, req, e));
        preq.end(body);
    }

    function upstreamError(res, req, e) {
        stats.upstream_errors++;
        process.stderr.write(`sigv4_proxy: upstream ${req.method} ${req.url}: ${e.message}\n`);
        if (res.headersSent) { res.destroy(); return; }
        const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>BadGateway</Code><Message>${xmlEscape(e.message)}</Message></Error>`;
        res.writeHead(502, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(xml) });
        res.end(xml);
    }

    server.on('clientError', (err, socket) => {
        if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    });
    const m = /^(.*):(\d+)$/.exec(opts.listen);
    if (!m) usage('--listen wants HOST:PORT');
    server.listen(Number(m[2]), m[1].replace(/^\[|\]$/g, ''), () => {
        const port = server.address().port;
        if (opts.portFile) {
            const tmp = path.join(path.dirname(opts.portFile), `.${path.basename(opts.portFile)}.${process.pid}`);
            fs.writeFileSync(tmp, `${port}\n`);
            fs.renameSync(tmp, opts.portFile);
        }
        process.stderr.write(`sigv4_proxy: ${st.total} self-tests passed; listening on ${m[1]}:${port} -> ${opts.upstream}\n`);
    });
    const stop = () => { server.close(); agent.destroy(); process.exit(0); };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
}

function pairs(raw) {
    const out = [];
    for (let i = 0; i < raw.length; i += 2) out.push(`${raw[i]}: ${raw[i + 1]}`);
    return out;
}

main();
