/*
 * runtime/store_s3_list.c - the S3 operations on sets of keys: listing
 * (ListObjectsV2, pagination hidden) and batch deletion (DeleteObjects), plus
 * the small tolerant XML reader/writer every S3 file uses. S3's responses are
 * flat, machine-written XML; we look elements up by name instead of building
 * a tree (no libxml2). Requests themselves go through store_s3.c.
 */
#include "store_s3_internal.h"

#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "hash.h"
#include "log.h"

/* ---- XML ---- */

static bool name_ends(char c)
{
    return c == '>' || c == '/' || c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

bool sl_s3_xml_find(const char *xml, size_t len, size_t *pos, const char *name,
                    const char **val, size_t *val_len)
{
    size_t n = strlen(name);
    size_t i = *pos;

    while (i < len) {
        const char *lt = memchr(xml + i, '<', len - i);
        if (!lt)
            break;
        i = (size_t)(lt - xml) + 1;
        if (len - i <= n || memcmp(xml + i, name, n) != 0 || !name_ends(xml[i + n]))
            continue;
        const char *gt = memchr(xml + i + n, '>', len - i - n);
        if (!gt)
            break;
        size_t start = (size_t)(gt - xml) + 1;
        if (gt[-1] == '/') { /* <name/> */
            *val = xml + start;
            *val_len = 0;
            *pos = start;
            return true;
        }
        /* the matching close tag; S3 never nests an element in one of its name */
        for (size_t j = start; j + n + 3 <= len; j++) {
            if (xml[j] == '<' && xml[j + 1] == '/' && memcmp(xml + j + 2, name, n) == 0 &&
                xml[j + 2 + n] == '>') {
                *val = xml + start;
                *val_len = j - start;
                *pos = j + n + 3;
                return true;
            }
        }
        break; /* not closed: truncated document */
    }
    *pos = len;
    return false;
}

static size_t utf8_put(char *out, uint32_t cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

int sl_s3_xml_unescape(struct sl_buf *b, const char *s, size_t len, struct sl_err *err)
{
    static const struct { const char *ent; char c; } ents[] = {
        { "lt;", '<' }, { "gt;", '>' }, { "amp;", '&' }, { "quot;", '"' }, { "apos;", '\'' },
    };
    int rc = sl_buf_reserve(b, len, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '&') {
            b->data[b->len++] = s[i];
            continue;
        }
        size_t rest = len - i - 1;
        const char *e = s + i + 1;
        bool done = false;
        for (size_t k = 0; k < SL_ARRAY_LEN(ents) && !done; k++) {
            size_t el = strlen(ents[k].ent);
            if (rest >= el && memcmp(e, ents[k].ent, el) == 0) {
                b->data[b->len++] = ents[k].c;
                i += el;
                done = true;
            }
        }
        if (!done && rest >= 3 && e[0] == '#') {
            const char *semi = memchr(e, ';', rest < 12 ? rest : 12);
            char num[16];
            if (semi && semi - e > 1 && (size_t)(semi - e) < sizeof num) {
                snprintf(num, sizeof num, "%.*s", (int)(semi - e - 1), e + 1);
                char *end;
                unsigned long cp = num[0] == 'x' || num[0] == 'X' ? strtoul(num + 1, &end, 16)
                                                                 : strtoul(num, &end, 10);
                if (*end == '\0' && cp > 0 && cp <= 0x10FFFF) {
                    /* an entity is never shorter than its UTF-8 bytes: room reserved */
                    b->len += utf8_put(b->data + b->len, (uint32_t)cp);
                    i += (size_t)(semi - e) + 1;
                    done = true;
                }
            }
        }
        if (!done)
            b->data[b->len++] = '&'; /* tolerate a bare '&' */
    }
    b->data[b->len] = '\0';
    return SL_OK;
}

char *sl_s3_xml_text(const char *xml, size_t len, const char *name, char *out, size_t out_len)
{
    const char *v;
    size_t vl, pos = 0;
    struct sl_buf b;

    out[0] = '\0';
    if (!sl_s3_xml_find(xml, len, &pos, name, &v, &vl))
        return out;
    sl_buf_init(&b, 0);
    if (sl_s3_xml_unescape(&b, v, vl, NULL) == SL_OK && b.data)
        snprintf(out, out_len, "%s", b.data);
    sl_buf_cleanup(&b);
    return out;
}

int sl_s3_xml_escape(struct sl_buf *b, const char *s, bool *ok, struct sl_err *err)
{
    size_t mark = b->len;
    int rc = SL_OK;

    *ok = true;
    for (const unsigned char *p = (const unsigned char *)s; *p && !rc; p++) {
        switch (*p) {
        case '&': rc = sl_buf_puts(b, "&amp;", err); break;
        case '<': rc = sl_buf_puts(b, "&lt;", err); break;
        case '>': rc = sl_buf_puts(b, "&gt;", err); break;
        case '"': rc = sl_buf_puts(b, "&quot;", err); break;
        case '\'': rc = sl_buf_puts(b, "&apos;", err); break;
        case '\r': rc = sl_buf_puts(b, "&#13;", err); break; /* parsers turn a raw CR into LF */
        case '\n': rc = sl_buf_puts(b, "&#10;", err); break;
        case '\t': rc = sl_buf_puts(b, "&#9;", err); break;
        default:
            if (*p < 0x20 || *p == 0x7f) {
                *ok = false; /* XML 1.0 cannot carry it, escaped or not */
                b->len = mark;
                if (b->data)
                    b->data[mark] = '\0';
                return SL_OK;
            }
            rc = sl_buf_putc(b, (char)*p, err);
        }
    }
    return rc;
}

char *sl_s3_xml_root(const char *xml, size_t len, char *out, size_t out_len)
{
    size_t i = 0;
    out[0] = '\0';
    while (i < len) {
        const char *lt = memchr(xml + i, '<', len - i);
        if (!lt)
            return out;
        i = (size_t)(lt - xml) + 1;
        if (i < len && (xml[i] == '?' || xml[i] == '!'))
            continue; /* <?xml ...?>, <!-- ... --> */
        size_t n = 0;
        while (i + n < len && !name_ends(xml[i + n]))
            n++;
        snprintf(out, out_len, "%.*s", (int)n, xml + i);
        return out;
    }
    return out;
}

/* ---- Listing ---- */

struct entry {
    char *key; /* owned, decoded */
    int64_t size;
    char etag[72];
    char storage_class[24];
    int64_t mtime_ms;
    bool is_prefix;
};

struct page {
    struct entry *e;
    size_t n, cap;
};

static void page_clear(struct page *p)
{
    for (size_t i = 0; i < p->n; i++)
        sl_free(p->e[i].key);
    p->n = 0;
}

static int entry_cmp(const void *a, const void *b)
{
    return sl_store_key_cmp(((const struct entry *)a)->key, ((const struct entry *)b)->key);
}

/* "2024-05-01T12:34:56.789Z" → ms since the epoch; 0 when unparseable. */
static int64_t iso8601_ms(const char *s)
{
    struct tm tm = { 0 };
    int ms = 0, n = 0;
    if (sscanf(s, "%d-%d-%dT%d:%d:%d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec, &n) != 6)
        return 0;
    const char *p = s + n;
    if (*p == '.') {
        int digits = 0;
        for (p++; *p >= '0' && *p <= '9'; p++) {
            if (digits++ < 3)
                ms = ms * 10 + (*p - '0');
        }
        while (digits++ < 3)
            ms *= 10;
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return 0;
    int64_t out = (int64_t)t * 1000 + ms;
    if ((*p == '+' || *p == '-') && strlen(p) >= 6) { /* "+02:00" */
        int hh = (p[1] - '0') * 10 + (p[2] - '0');
        int mm = (p[4] - '0') * 10 + (p[5] - '0');
        int64_t off = ((int64_t)hh * 60 + mm) * 60000;
        out += *p == '+' ? -off : off;
    }
    return out;
}

/* Decodes a key from raw element text: XML entities, then (with
 * encoding-type=url in effect) %XX and '+' (S3 encodes spaces as '+'). */
static int decode_key(const char *raw, size_t raw_len, bool url, char **out, struct sl_err *err)
{
    struct sl_buf x;
    int rc;

    sl_buf_init(&x, 0);
    if ((rc = sl_s3_xml_unescape(&x, raw, raw_len, err)))
        goto fail;
    if (!x.data && (rc = sl_buf_reserve(&x, 1, err)))
        goto fail;
    if (url) {
        size_t o = 0;
        for (size_t i = 0; i < x.len; i++) {
            int hi, lo;
            if (x.data[i] == '+') {
                x.data[o++] = ' ';
            } else if (x.data[i] == '%' && i + 2 < x.len && (hi = sl_hex_digit(x.data[i + 1])) >= 0 &&
                       (lo = sl_hex_digit(x.data[i + 2])) >= 0) {
                x.data[o++] = (char)(hi * 16 + lo);
                i += 2;
            } else {
                x.data[o++] = x.data[i];
            }
        }
        x.len = o;
        x.data[o] = '\0';
    }
    if (memchr(x.data, '\0', x.len)) {
        rc = sl_err_set(err, SL_EPARSE, "a listed key contains a NUL byte");
        goto fail;
    }
    *out = sl_buf_take(&x, NULL);
    if (!*out)
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    return SL_OK;
fail:
    sl_buf_cleanup(&x);
    return rc;
}

static int page_add(struct page *p, struct sl_err *err)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 256;
        struct entry *e = sl_realloc(p->e, cap * sizeof *e);
        if (!e)
            return sl_err_set(err, SL_ENOMEM, "out of memory");
        p->e = e;
        p->cap = cap;
    }
    memset(&p->e[p->n], 0, sizeof p->e[p->n]);
    return SL_OK;
}

/* Parses one ListObjectsV2 response into p (sorted) and the next token. */
static int parse_page(const char *xml, size_t len, struct page *p, char **next,
                      struct sl_err *err)
{
    char tmp[64];
    const char *v, *f;
    size_t vl, fl, pos, fpos;
    int rc;
    bool url = strcmp(sl_s3_xml_text(xml, len, "EncodingType", tmp, sizeof tmp), "url") == 0;

    *next = NULL;
    for (pos = 0; sl_s3_xml_find(xml, len, &pos, "Contents", &v, &vl);) {
        if ((rc = page_add(p, err)))
            return rc;
        struct entry *e = &p->e[p->n];
        fpos = 0;
        if (!sl_s3_xml_find(v, vl, &fpos, "Key", &f, &fl))
            return sl_err_set(err, SL_EPARSE, "<Contents> without <Key>");
        if ((rc = decode_key(f, fl, url, &e->key, err)))
            return rc;
        p->n++;
        e->size = strtoll(sl_s3_xml_text(v, vl, "Size", tmp, sizeof tmp), NULL, 10);
        e->mtime_ms = iso8601_ms(sl_s3_xml_text(v, vl, "LastModified", tmp, sizeof tmp));
        sl_s3_xml_text(v, vl, "StorageClass", e->storage_class, sizeof e->storage_class);
        char etag[80];
        sl_s3_xml_text(v, vl, "ETag", etag, sizeof etag);
        size_t el = strlen(etag);
        if (el >= 2 && etag[0] == '"' && etag[el - 1] == '"')
            snprintf(e->etag, sizeof e->etag, "%.*s", (int)(el - 2 < 71 ? el - 2 : 71), etag + 1);
        else
            snprintf(e->etag, sizeof e->etag, "%.71s", etag);
    }
    for (pos = 0; sl_s3_xml_find(xml, len, &pos, "CommonPrefixes", &v, &vl);) {
        fpos = 0;
        if (!sl_s3_xml_find(v, vl, &fpos, "Prefix", &f, &fl))
            continue;
        if ((rc = page_add(p, err)))
            return rc;
        struct entry *e = &p->e[p->n];
        if ((rc = decode_key(f, fl, url, &e->key, err)))
            return rc;
        e->is_prefix = true;
        p->n++;
    }
    /* S3 sorts objects and prefixes separately; the contract wants one order */
    if (p->n > 1)
        qsort(p->e, p->n, sizeof *p->e, entry_cmp);

    if (strcmp(sl_s3_xml_text(xml, len, "IsTruncated", tmp, sizeof tmp), "true") == 0) {
        pos = 0;
        if (!sl_s3_xml_find(xml, len, &pos, "NextContinuationToken", &v, &vl) || vl == 0)
            return sl_err_set(err, SL_EPARSE, "truncated listing without NextContinuationToken");
        struct sl_buf b;
        sl_buf_init(&b, 0);
        if ((rc = sl_s3_xml_unescape(&b, v, vl, err))) {
            sl_buf_cleanup(&b);
            return rc;
        }
        *next = sl_buf_take(&b, NULL);
        if (!*next)
            return sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    return SL_OK;
}

int sl_s3_list(struct sl_store *st, const char *prefix, const char *delimiter, sl_list_fn fn,
               void *ud, struct sl_err *err)
{
    struct s3_store *s = st->impl;
    struct page page = { 0 };
    struct s3_resp rs;
    char *uri = sl_asprintf("s3://%s/%s", st->bucket, prefix);
    char *token = NULL, *query = NULL, *last = NULL;
    int rc = SL_OK;

    sl_s3_resp_init(&rs);
    if (!uri) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto done;
    }
    for (;;) {
        struct s3_qparam qp[6];
        size_t n = 0;
        qp[n++] = (struct s3_qparam){ "list-type", "2" };
        qp[n++] = (struct s3_qparam){ "max-keys", "1000" };
        qp[n++] = (struct s3_qparam){ "encoding-type", "url" };
        if (prefix[0])
            qp[n++] = (struct s3_qparam){ "prefix", prefix };
        if (delimiter && delimiter[0])
            qp[n++] = (struct s3_qparam){ "delimiter", delimiter };
        if (token)
            qp[n++] = (struct s3_qparam){ "continuation-token", token };
        sl_free(query);
        query = sl_s3_query(qp, n);
        if (!query) {
            rc = sl_err_set(err, SL_ENOMEM, "out of memory");
            goto done;
        }
        struct s3_req rq = { .op = "list", .uri = uri, .method = "GET", .query = query,
                             .counter = &st->stats.list_requests, .stats = &st->stats };
        if ((rc = sl_s3_request(s, &s->main, &rq, &rs, err))) {
            sl_err_prefix(err, "list \"%s\"", uri);
            goto done;
        }
        if (rs.status / 100 != 2) {
            rc = sl_s3_http_error(s, &rq, &rs, err);
            goto done;
        }
        char *next = NULL;
        page_clear(&page);
        if ((rc = parse_page(rs.body.data ? rs.body.data : "", rs.body.len, &page, &next, err))) {
            sl_err_prefix(err, "list \"%s\": bad ListObjectsV2 response", uri);
            goto done;
        }
        for (size_t i = 0; i < page.n; i++) {
            struct entry *e = &page.e[i];
            /* pages follow each other in key order; drop anything a server repeats */
            if (last && sl_store_key_cmp(e->key, last) <= 0)
                continue;
            struct sl_obj_info info = { .key = e->key, .size = e->size,
                                        .mtime_ms = e->mtime_ms, .is_prefix = e->is_prefix };
            memcpy(info.etag, e->etag, sizeof info.etag);
            memcpy(info.storage_class, e->storage_class, sizeof info.storage_class);
            if ((rc = fn(ud, &info)) != SL_OK) {
                sl_free(next);
                goto done; /* the callback's own error: err is its business */
            }
            sl_free(last);
            last = e->key;
            e->key = NULL;
        }
        if (!next)
            break;
        if (token && strcmp(next, token) == 0) {
            sl_free(next);
            rc = sl_err_set(err, SL_EPARSE,
                            "list \"%s\": the server repeated its continuation token", uri);
            goto done;
        }
        sl_free(token);
        token = next;
    }
done:
    page_clear(&page);
    sl_free(page.e);
    sl_s3_resp_cleanup(&rs);
    sl_free(uri);
    sl_free(token);
    sl_free(query);
    sl_free(last);
    return rc;
}

/* ---- Deleting ---- */

static int delete_one(struct sl_store *st, const char *key, struct sl_err *err)
{
    struct s3_store *s = st->impl;
    struct s3_resp rs;
    char *uri = sl_asprintf("s3://%s/%s", st->bucket, key);
    int rc;

    sl_s3_resp_init(&rs);
    if (!uri) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto done;
    }
    struct s3_req rq = { .op = "delete", .uri = uri, .method = "DELETE", .key = key,
                         .counter = &st->stats.delete_requests, .stats = &st->stats };
    if ((rc = sl_s3_request(s, &s->main, &rq, &rs, err))) {
        sl_err_prefix(err, "delete \"%s\"", uri);
        goto done;
    }
    if (rs.status / 100 == 2 || (rs.status == 404 && strcmp(rs.code, "NoSuchBucket") != 0))
        rc = SL_OK; /* a missing key is already deleted */
    else
        rc = sl_s3_http_error(s, &rq, &rs, err);
done:
    sl_s3_resp_cleanup(&rs);
    sl_free(uri);
    return rc;
}

static void md5_base64(const void *data, size_t len, char out[32])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    EVP_Digest(data, len, md, &md_len, EVP_md5(), NULL);
    EVP_EncodeBlock((unsigned char *)out, md, (int)md_len);
}

/* One DeleteObjects request for keys[0..n). Keys XML cannot carry go one by one. */
static int delete_batch(struct sl_store *st, const char *const *keys, size_t n,
                        struct sl_err *err)
{
    struct s3_store *s = st->impl;
    struct sl_buf xml;
    struct s3_resp rs;
    char *uri = sl_asprintf("s3://%s/", st->bucket);
    char *query = NULL;
    size_t n_xml = 0;
    int rc = SL_OK;

    sl_buf_init(&xml, 0);
    sl_s3_resp_init(&rs);
    if (!uri) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = sl_buf_puts(&xml, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Delete xmlns="
                                "\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet>",
                          err)))
        goto done;
    for (size_t i = 0; i < n; i++) {
        size_t mark = xml.len;
        bool ok;
        if ((rc = sl_buf_puts(&xml, "<Object><Key>", err)) ||
            (rc = sl_s3_xml_escape(&xml, keys[i], &ok, err)))
            goto done;
        if (!ok) {
            xml.len = mark;
            xml.data[mark] = '\0';
            if ((rc = delete_one(st, keys[i], err)))
                goto done;
            continue;
        }
        if ((rc = sl_buf_puts(&xml, "</Key></Object>", err)))
            goto done;
        n_xml++;
    }
    if ((rc = sl_buf_puts(&xml, "</Delete>", err)))
        goto done;
    if (n_xml == 0)
        goto done;

    char md5[32];
    md5_base64(xml.data, xml.len, md5);
    struct s3_qparam qp[] = { { "delete", "" } };
    query = sl_s3_query(qp, 1);
    if (!query) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto done;
    }
    struct s3_req rq = { .op = "delete objects", .uri = uri, .method = "POST", .query = query,
                         .body = xml.data, .body_len = xml.len, .content_md5 = md5,
                         .content_type = "application/xml", .body_may_hold_error = true,
                         .counter = &st->stats.delete_requests, .stats = &st->stats };
    if ((rc = sl_s3_request(s, &s->main, &rq, &rs, err))) {
        sl_err_prefix(err, "delete objects in \"%s\"", uri);
        goto done;
    }
    if (rs.status / 100 != 2 || rs.code[0]) {
        rc = sl_s3_http_error(s, &rq, &rs, err);
        goto done;
    }
    /* <DeleteResult><Error><Key/><Code/><Message/></Error>...: per-key failures */
    size_t pos = 0, n_failed = 0;
    const char *e;
    size_t e_len;
    char first[700] = "";
    enum sl_code first_code = SL_EIO;
    while (sl_s3_xml_find(rs.body.data, rs.body.len, &pos, "Error", &e, &e_len)) {
        char code[64], msg[200], ekey[200], redacted[sizeof msg];
        sl_s3_xml_text(e, e_len, "Code", code, sizeof code);
        if (strcmp(code, "NoSuchKey") == 0)
            continue;
        sl_s3_xml_text(e, e_len, "Key", ekey, sizeof ekey);
        sl_s3_xml_text(e, e_len, "Message", msg, sizeof msg);
        if (!n_failed++) {
            if (strcmp(code, "AccessDenied") == 0)
                first_code = SL_EACCESS;
            else if (sl_s3_code_is_transient(code))
                first_code = SL_ETRANSIENT;
            sl_redact(msg, redacted, sizeof redacted);
            snprintf(first, sizeof first, "\"s3://%s/%s\": %s%s%s", st->bucket, ekey, code,
                     redacted[0] ? ": " : "", redacted);
        }
    }
    if (n_failed)
        rc = sl_err_set(err, first_code, "delete objects: %zu of %zu keys %s, first %s",
                        n_failed, n_xml,
                        first_code == SL_ETRANSIENT ? "could not be deleted" : "failed", first);
done:
    sl_buf_cleanup(&xml);
    sl_s3_resp_cleanup(&rs);
    sl_free(uri);
    sl_free(query);
    return rc;
}

int sl_s3_delete(struct sl_store *st, const char *const *keys, size_t n_keys, struct sl_err *err)
{
    for (size_t i = 0; i < n_keys; i++) {
        if (!keys[i][0])
            return sl_err_set(err, SL_ECONFIG, "delete in \"s3://%s\": empty key", st->bucket);
    }
    if (n_keys == 1)
        return delete_one(st, keys[0], err);
    for (size_t i = 0; i < n_keys; i += SL_S3_DELETE_BATCH) {
        size_t n = n_keys - i < SL_S3_DELETE_BATCH ? n_keys - i : SL_S3_DELETE_BATCH;
        int rc = delete_batch(st, keys + i, n, err);
        if (rc)
            return rc;
    }
    return SL_OK;
}
