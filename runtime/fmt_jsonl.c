/*
 * runtime/fmt_jsonl.c - JSON Lines and JSON array reader, JSON Lines writer.
 * Reading: one object per line (or per element of a top-level array, streamed
 * element by element, never the whole array); each record is parsed with
 * jansson (json_loadb) and its top-level keys map to schema columns by exact
 * name: a missing key is NULL, extra keys are ignored. Conversions by column
 * type: booleans only from true/false; bigint from integers, or from reals
 * that are integral and in range; double from numbers, or from the strings
 * "NaN" "Infinity" "-Infinity" (what the writer emits); date, timestamp and
 * binary from strings (sl_value_from_text); string from strings, or any other
 * value as its compact JSON text (spec/crawler.md §8.2 conflicts); json
 * columns take any value as compact JSON text. Anything else is a bad row.
 * Writing: one compact object per row; NULL as null, numbers as numbers, json
 * columns embedded raw, NaN/Infinity and dates/timestamps as strings.
 * Decompression is below us (runtime/codec.c); the window is fmt.c's.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "fmt.h"

struct json_reader {
    struct sl_fmt_reader base;
    struct sl_fmt_opts o;
    const struct sl_rschema *schema; /* borrowed */
    char *object;                    /* owned */
    struct sl_fmt_win win;
    struct sl_value *scratch;        /* owned; one row */
    int64_t line;                    /* physical line of the next record */
    bool line_known, started, done, array;
    /* the record just found: window bytes [pos+skip, pos+skip+len), rec_len consumed */
    size_t skip, len, rec_len;
    int64_t rec_lines;               /* line breaks before the record text, and inside it */
    int64_t lead_lines;
};

enum { REC_NEED = 1, REC_END, REC_OK }; /* > 0: errors are < 0 */

/* Next line of p[0..n): skips blank lines. */
static int find_line(struct json_reader *r, const char *p, size_t n, bool eof)
{
    size_t i = 0;

    r->lead_lines = 0;
    for (;;) {
        size_t s = i;
        while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r'))
            i++;
        if (i < n && p[i] == '\n') {
            i++;
            r->lead_lines++;
            continue;
        }
        if (i >= n) {
            if (!eof)
                return REC_NEED;
            r->rec_len = n;
            return REC_END;
        }
        const char *nl = memchr(p + i, '\n', n - i);
        if (!nl && !eof)
            return REC_NEED;
        size_t e = nl ? (size_t)(nl - p) : n;
        r->skip = s;
        r->len = e - s;
        while (r->len && (p[s + r->len - 1] == '\r' || p[s + r->len - 1] == ' '))
            r->len--;
        r->rec_len = nl ? e + 1 : e;
        r->rec_lines = 1;
        return REC_OK;
    }
}

/* Next element of a top-level array at p[0..n) (after '['): skips blanks and
 * one comma; finds the element's extent by bracket depth outside strings. */
static int find_element(struct json_reader *r, const char *p, size_t n, bool eof)
{
    size_t i = 0;
    int depth = 0;
    bool in_str = false;

    r->lead_lines = 0;
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n' || p[i] == ',')) {
        r->lead_lines += p[i] == '\n';
        i++;
    }
    if (i >= n) {
        if (!eof)
            return REC_NEED;
        r->rec_len = n;
        return REC_END; /* unterminated array: what was complete counts */
    }
    if (p[i] == ']') {
        r->rec_len = i + 1;
        return REC_END;
    }
    size_t s = i;
    r->rec_lines = 0;
    for (; i < n; i++) {
        char c = p[i];
        if (c == '\n')
            r->rec_lines++;
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = false;
            continue;
        }
        if (c == '"') {
            in_str = true;
        } else if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            if (depth == 0)
                break; /* the array's own ']' ends a scalar element */
            if (--depth == 0) {
                i++;
                break;
            }
        } else if (depth == 0 && (c == ',' || c == ' ' || c == '\n' || c == '\r' || c == '\t')) {
            break;
        }
    }
    if (i >= n && !eof)
        return REC_NEED;
    if (i > n)
        i = n;
    r->skip = s;
    r->len = i - s;
    r->rec_len = i;
    return REC_OK;
}

static int next_record(struct json_reader *r, struct sl_err *err)
{
    for (;;) {
        struct sl_fmt_win *w = &r->win;
        const char *p = w->data + w->pos;
        size_t n = w->len - w->pos;
        int rc = r->array ? find_element(r, p, n, w->eof) : find_line(r, p, n, w->eof);
        if (rc != REC_NEED)
            return rc;
        rc = sl_fmt_win_more(w, err);
        if (rc == SL_ELIMIT)
            return sl_err_set(err, SL_EPARSE, "%s:%lld: record longer than %zu bytes", r->object,
                              (long long)(r->line_known ? r->line : 0), SL_FMT_JSON_MAX_RECORD);
        if (rc != SL_OK)
            return rc;
    }
}

static int bad_row(struct json_reader *r, int col, const char *reason, struct sl_err *err)
{
    int64_t line = r->line_known ? r->line + r->lead_lines : 0;
    const char *raw = r->win.data + r->win.pos + r->skip;

    if (!r->o.bad_row)
        return sl_err_set(err, SL_EPARSE, "%s:%lld:%d: %s", r->object, (long long)line, col,
                          reason);
    int rc = r->o.bad_row(r->o.bad_row_ud, r->object, line, col, reason, raw, r->len);
    if (rc != SL_OK)
        return sl_err_set(err, rc < 0 ? rc : SL_ECANCELLED, "%s:%lld:%d: %s", r->object,
                          (long long)line, col, reason);
    return SL_OK;
}

/* Compact JSON text of v into the arena. */
static int dump(const json_t *v, struct sl_arena *a, struct sl_value *out, enum sl_vtype t,
                struct sl_err *err)
{
    const size_t flags = JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17);
    size_t n = json_dumpb(v, NULL, 0, flags);
    char *p = n ? sl_arena_alloc(a, n + 1) : NULL;

    if (!p)
        return sl_err_set(err, SL_ENOMEM, "batch memory exhausted");
    json_dumpb(v, p, n, flags);
    p[n] = '\0';
    out->type = (uint8_t)t;
    out->s = p;
    out->len = (uint32_t)n;
    return SL_OK;
}

/* 1 = converted, 0 = wrong type (reason set), <0 = error. */
static int convert_value(const json_t *v, enum sl_vtype t, struct sl_arena *a,
                         struct sl_value *out, char *reason, size_t reason_len,
                         struct sl_err *err)
{
    struct sl_err verr;
    int rc;

    if (json_is_null(v))
        return 1;
    switch (t) {
    case SL_V_BOOL:
        if (!json_is_boolean(v))
            break;
        out->type = SL_V_BOOL;
        out->i = json_is_true(v);
        return 1;
    case SL_V_INT:
        if (json_is_integer(v)) {
            out->type = SL_V_INT;
            out->i = json_integer_value(v);
            return 1;
        }
        if (json_is_real(v)) {
            double d = json_real_value(v);
            if (d != floor(d) || !(d >= -9223372036854775808.0 && d < 9223372036854775808.0)) {
                snprintf(reason, reason_len, "not a bigint: %.17g", d);
                return 0;
            }
            out->type = SL_V_INT;
            out->i = (int64_t)d;
            return 1;
        }
        break;
    case SL_V_DOUBLE:
        if (json_is_number(v)) {
            out->type = SL_V_DOUBLE;
            out->d = json_number_value(v);
            return 1;
        }
        if (json_is_string(v))
            goto text;
        break;
    case SL_V_STRING:
        if (json_is_string(v))
            goto text;
        return (rc = dump(v, a, out, t, err)) == SL_OK ? 1 : rc;
    case SL_V_JSON:
        return (rc = dump(v, a, out, t, err)) == SL_OK ? 1 : rc;
    case SL_V_DATE:
    case SL_V_TIMESTAMP:
    case SL_V_BINARY:
        if (json_is_string(v))
            goto text;
        break;
    default:
        break;
    }
    snprintf(reason, reason_len, "expected %s, got a JSON %s", sl_vtype_name(t),
             json_is_string(v) ? "string" : json_is_number(v) ? "number"
             : json_is_boolean(v) ? "boolean" : json_is_object(v) ? "object" : "array");
    return 0;
text:
    rc = sl_value_from_text(t, json_string_value(v), json_string_length(v), a, out, &verr);
    if (rc == SL_EPARSE) {
        size_t n = strnlen(verr.msg, sizeof verr.msg);
        if (n >= reason_len)
            n = reason_len - 1;
        memcpy(reason, verr.msg, n);
        reason[n] = '\0';
        return 0;
    }
    if (rc != SL_OK) {
        *err = verr;
        return rc;
    }
    return 1;
}

/* The record into r->scratch: 1 = row ready, 0 = bad row reported, <0 = error. */
static int convert(struct json_reader *r, struct sl_arena *a, struct sl_err *err)
{
    const char *p = r->win.data + r->win.pos + r->skip;
    json_error_t jerr;
    char reason[256];
    int rc = 1;

    json_t *root = json_loadb(p, r->len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!root) {
        snprintf(reason, sizeof reason, "malformed JSON: %s", jerr.text);
        rc = bad_row(r, 0, reason, err);
        return rc != SL_OK ? rc : 0;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        rc = bad_row(r, 0, "not a JSON object", err);
        return rc != SL_OK ? rc : 0;
    }
    memset(r->scratch, 0, r->schema->n_cols * sizeof *r->scratch);
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        int col = sl_rschema_find(r->schema, key, strlen(key));
        if (col < 0)
            continue;
        rc = convert_value(v, r->schema->types[col], a, &r->scratch[col], reason, sizeof reason,
                           err);
        if (rc <= 0)
            break;
    }
    json_decref(root);
    if (rc == 0) {
        rc = bad_row(r, 0, reason, err);
        return rc != SL_OK ? rc : 0;
    }
    return rc;
}

static int start(struct json_reader *r, struct sl_err *err)
{
    struct sl_fmt_win *w = &r->win;
    int rc;

    r->started = true;
    if (r->o.range_start > 0) {
        r->line_known = false;
        return sl_fmt_win_skip_line(w, err);
    }
    for (;;) { /* BOM, then leading blanks decide the layout */
        if (w->pos == 0 && w->len >= 3 && memcmp(w->data, "\xef\xbb\xbf", 3) == 0)
            w->pos = 3;
        while (w->pos < w->len && (w->data[w->pos] == ' ' || w->data[w->pos] == '\t' ||
                                   w->data[w->pos] == '\r' || w->data[w->pos] == '\n')) {
            r->line += w->data[w->pos] == '\n';
            w->pos++;
        }
        if (w->pos < w->len || w->eof)
            break;
        if ((rc = sl_fmt_win_more(w, err)) != SL_OK)
            return rc;
    }
    bool bracket = w->pos < w->len && w->data[w->pos] == '[';
    if (r->o.json_layout == SL_FMT_JSON_ARRAY && !bracket && w->pos < w->len)
        return sl_err_set(err, SL_EPARSE, "%s:%lld: expected a JSON array", r->object,
                          (long long)r->line);
    r->array = r->o.json_layout != SL_FMT_JSON_LINES && bracket;
    if (r->array) {
        if (r->o.range_start > 0 || r->o.range_end >= 0)
            return sl_err_set(err, SL_ECONFIG, "%s: cannot split a JSON array", r->object);
        w->pos++;
    }
    return SL_OK;
}

static int json_next_batch(struct sl_fmt_reader *base, struct sl_batch *b, struct sl_err *err)
{
    struct json_reader *r = (struct json_reader *)base;
    int added = 0, rc;

    if (!r->started && (rc = start(r, err)) != SL_OK)
        return rc;
    while (!r->done && !sl_batch_is_full(b)) {
        if (r->o.range_end >= 0 && r->win.base + (int64_t)r->win.pos > r->o.range_end) {
            r->done = true;
            break;
        }
        rc = next_record(r, err);
        if (rc < 0)
            return rc;
        if (rc == REC_END) {
            r->win.pos += r->rec_len;
            r->done = true;
            break;
        }
        rc = convert(r, &b->arena, err);
        if (rc < 0)
            return rc;
        if (rc == 1) {
            struct sl_row_origin origin = {r->object, r->line_known ? r->line + r->lead_lines : 0};
            struct sl_value *row = sl_batch_add_row(b, &origin);
            if (!row) {
                if (b->n_rows == 0)
                    return sl_err_set(err, SL_ELIMIT, "%s:%lld: row larger than a batch",
                                      r->object, (long long)origin.line);
                break;
            }
            memcpy(row, r->scratch, r->schema->n_cols * sizeof *row);
            added++;
        }
        r->win.pos += r->rec_len;
        r->line += r->lead_lines + r->rec_lines;
    }
    return added;
}

static void json_reader_close(struct sl_fmt_reader *base)
{
    struct json_reader *r = (struct json_reader *)base;

    if (!r)
        return;
    sl_fmt_win_cleanup(&r->win);
    sl_free(r->object);
    sl_free(r->scratch);
    sl_free(r);
}

static int json_reader_open(struct sl_store *st, const char *key, const struct sl_fmt_opts *o,
                            const struct sl_rschema *schema, struct sl_fmt_reader **out,
                            struct sl_err *err)
{
    struct json_reader *r = sl_calloc(1, sizeof *r);

    *out = NULL;
    if (!r)
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    r->base.ops = &sl_fmt_jsonl_ops;
    r->o = *o;
    r->schema = schema;
    r->line = 1;
    r->line_known = true;
    r->object = o->object ? sl_strdup(o->object) : sl_store_uri(st, key);
    r->scratch = sl_calloc(schema->n_cols ? schema->n_cols : 1, sizeof *r->scratch);
    if (!r->object || !r->scratch) {
        sl_err_set(err, SL_ENOMEM, "out of memory");
        goto fail;
    }
    if (sl_fmt_win_open(&r->win, st, key, o, SL_FMT_JSON_MAX_RECORD + SL_FMT_READ_LEN, err) !=
        SL_OK)
        goto fail;
    *out = &r->base;
    return SL_OK;
fail:
    json_reader_close(&r->base);
    return err->code;
}

/* ---- Writer ---- */

struct json_writer {
    struct sl_fmt_writer base;
    struct sl_fmt_out out;
    const struct sl_rschema *schema; /* borrowed until finish/abort */
    struct sl_buf keys;              /* "\"name\":" per column, back to back */
    size_t *key_off;                 /* owned; n_cols + 1 offsets into keys */
    struct sl_buf tmp;
};

static int put_string(struct sl_buf *o, const char *p, size_t len, struct sl_err *err)
{
    static const char hex[] = "0123456789abcdef";
    int rc = sl_buf_reserve(o, len + 2, err);

    if (rc != SL_OK)
        return rc;
    o->data[o->len++] = '"';
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            if (o->len + 2 > o->cap && (rc = sl_buf_reserve(o, 2, err)) != SL_OK)
                return rc;
            o->data[o->len++] = (char)c;
            continue;
        }
        char e[7] = {'\\', 0};
        size_t n = 2;
        switch (c) {
        case '"': e[1] = '"'; break;
        case '\\': e[1] = '\\'; break;
        case '\n': e[1] = 'n'; break;
        case '\r': e[1] = 'r'; break;
        case '\t': e[1] = 't'; break;
        case '\b': e[1] = 'b'; break;
        case '\f': e[1] = 'f'; break;
        default:
            memcpy(e + 1, "u00", 3);
            e[4] = hex[c >> 4];
            e[5] = hex[c & 15];
            n = 6;
        }
        if ((rc = sl_buf_append(o, e, n, err)) != SL_OK)
            return rc;
    }
    if ((rc = sl_buf_putc(o, '"', err)) != SL_OK)
        return rc;
    return SL_OK;
}

static int put_value(struct json_writer *w, const struct sl_value *v, struct sl_err *err)
{
    struct sl_buf *o = &w->out.buf;
    int rc;

    switch (v->type) {
    case SL_V_NULL:
        return sl_buf_append(o, "null", 4, err);
    case SL_V_BOOL:
        return sl_buf_puts(o, v->i ? "true" : "false", err);
    case SL_V_STRING:
    case SL_V_BINARY:
        return put_string(o, v->s, v->len, err);
    case SL_V_JSON:
        return v->len ? sl_buf_append(o, v->s, v->len, err) : sl_buf_append(o, "null", 4, err);
    case SL_V_INT:
        return sl_value_to_text(v, o, err);
    case SL_V_DOUBLE:
        if (isfinite(v->d))
            return sl_value_to_text(v, o, err);
        break; /* JSON has no NaN or Infinity: they travel as strings */
    default:
        break;
    }
    {
        sl_buf_reset(&w->tmp);
        if ((rc = sl_value_to_text(v, &w->tmp, err)) != SL_OK)
            return rc;
        return put_string(o, w->tmp.data, w->tmp.len, err);
    }
}

static void json_writer_abort(struct sl_fmt_writer *base)
{
    struct json_writer *w = (struct json_writer *)base;

    if (!w)
        return;
    sl_fmt_out_abort(&w->out);
    sl_buf_cleanup(&w->keys);
    sl_buf_cleanup(&w->tmp);
    sl_free(w->key_off);
    sl_free(w);
}

static int json_writer_open(struct sl_store *st, const char *key, const struct sl_rschema *schema,
                            enum sl_compression codec, const struct sl_fmt_opts *o,
                            struct sl_fmt_writer **out, struct sl_err *err)
{
    struct json_writer *w = sl_calloc(1, sizeof *w);

    (void)o;
    *out = NULL;
    if (!w)
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    w->base.ops = &sl_fmt_jsonl_ops;
    w->schema = schema;
    sl_buf_init(&w->keys, 0);
    sl_buf_init(&w->tmp, 4096);
    if (!(w->key_off = sl_calloc(schema->n_cols + 1, sizeof *w->key_off))) {
        sl_err_set(err, SL_ENOMEM, "out of memory");
        goto fail;
    }
    for (size_t j = 0; j < schema->n_cols; j++) {
        w->key_off[j] = w->keys.len;
        if (put_string(&w->keys, schema->names[j], strlen(schema->names[j]), err) != SL_OK ||
            sl_buf_putc(&w->keys, ':', err) != SL_OK)
            goto fail;
    }
    w->key_off[schema->n_cols] = w->keys.len;
    if (sl_fmt_out_open(&w->out, st, key, codec, err) != SL_OK)
        goto fail;
    *out = &w->base;
    return SL_OK;
fail:
    sl_err_prefix(err, "write json \"%s\"", key);
    json_writer_abort(&w->base);
    return err->code;
}

static int json_write_batch(struct sl_fmt_writer *base, const struct sl_batch *b,
                            struct sl_err *err)
{
    struct json_writer *w = (struct json_writer *)base;
    struct sl_buf *o = &w->out.buf;
    size_t n_cols = w->schema->n_cols;
    int rc = SL_OK;

    for (uint32_t i = 0; i < b->n_rows && rc == SL_OK; i++) {
        const struct sl_value *row = &b->cells[(size_t)i * n_cols];
        rc = sl_buf_putc(o, '{', err);
        for (size_t j = 0; j < n_cols && rc == SL_OK; j++) {
            if (j)
                rc = sl_buf_putc(o, ',', err);
            if (rc == SL_OK)
                rc = sl_buf_append(o, w->keys.data + w->key_off[j],
                                   w->key_off[j + 1] - w->key_off[j], err);
            if (rc == SL_OK)
                rc = put_value(w, &row[j], err);
        }
        if (rc == SL_OK)
            rc = sl_buf_append(o, "}\n", 2, err);
        if (rc == SL_OK)
            rc = sl_fmt_out_flush(&w->out, false, err);
    }
    return rc;
}

static int json_writer_finish(struct sl_fmt_writer *base, struct sl_err *err)
{
    struct json_writer *w = (struct json_writer *)base;
    int rc = sl_fmt_out_finish(&w->out, err);

    sl_buf_cleanup(&w->keys);
    sl_buf_cleanup(&w->tmp);
    sl_free(w->key_off);
    sl_free(w);
    return rc;
}

const struct sl_fmt_ops sl_fmt_jsonl_ops = {
    .name = "json",
    .reader_open = json_reader_open,
    .next_batch = json_next_batch,
    .reader_close = json_reader_close,
    .writer_open = json_writer_open,
    .write_batch = json_write_batch,
    .writer_finish = json_writer_finish,
    .writer_abort = json_writer_abort,
};
