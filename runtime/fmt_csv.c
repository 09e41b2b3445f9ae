/*
 * runtime/fmt_csv.c - CSV reader and writer (RFC 4180 plus the dialects the
 * crawler detects, spec/crawler.md §6.2; the rules are listed in fmt.h).
 * Turns a byte stream into sl_batch rows and back. Type inference is not here
 * (crawler/); decompression happens below us (runtime/codec.c).
 *
 * How reading works: records are parsed straight out of the read window
 * (fmt.c). A record that runs past the window's end is re-parsed from its
 * start after a refill, so a record is always contiguous and its raw text can
 * go to the bad-row callback. Unquoted fields point into the window; quoted
 * fields are unescaped into fbuf (one record's worth, allocated once). Nothing
 * is allocated per row: values go into the batch arena.
 */
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "fmt.h"

enum { NL_UNKNOWN, NL_LF, NL_CR };           /* line-break mode, fixed by the first break */
enum { SCAN_NEED = 1, SCAN_END, SCAN_SKIP, SCAN_RECORD }; /* > 0: errors are < 0 */
#define BRK_NEED (-1)

struct field {
    const char *p;
    uint32_t len;
    bool quoted;
};

struct csv_reader {
    struct sl_fmt_reader base;
    struct sl_fmt_opts o;
    const struct sl_rschema *schema; /* borrowed */
    char *object;                    /* owned */
    struct sl_fmt_win win;
    char *fbuf;                      /* owned; SL_FMT_CSV_MAX_RECORD bytes */
    struct field *fields;            /* owned; SL_FMT_CSV_MAX_COLUMNS */
    size_t n_fields;
    int *colmap;                     /* owned; file field -> schema column or -1; NULL = by position */
    size_t n_map;
    struct sl_value *scratch;        /* owned; one row */
    int64_t line;                    /* physical line of the next record (1-based) */
    bool line_known;                 /* false in splits past the first */
    int nl;                          /* NL_* */
    bool started, done;
    /* the record just scanned */
    size_t rec_len, raw_len;         /* bytes consumed (with the break); bytes of text */
    int64_t rec_lines;               /* physical lines it spans */
    const char *bad;                 /* static reason, or NULL */
    int bad_col;
};

/* Length of the line break at p[i] (p[i] is '\n' or '\r'): 0 when it is data,
 * BRK_NEED when the next byte is needed. Fixes the mode on the first break. */
static int brk(const char *p, size_t i, size_t n, bool eof, int *nl)
{
    if (p[i] == '\n') {
        if (*nl == NL_CR)
            return 0;
        *nl = NL_LF;
        return 1;
    }
    if (i + 1 >= n && !eof)
        return BRK_NEED;
    if (i + 1 < n && p[i + 1] == '\n') {
        if (*nl == NL_UNKNOWN)
            *nl = NL_LF;
        return 2;
    }
    if (*nl == NL_LF)
        return 0;
    *nl = NL_CR;
    return 1;
}

/* Skips one physical line at p[0..n): *len is what it consumed. */
static int scan_line(struct csv_reader *r, const char *p, size_t n, bool eof, size_t *len)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\n' || p[i] == '\r') {
            int b = brk(p, i, n, eof, &r->nl);
            if (b == BRK_NEED)
                return SCAN_NEED;
            if (b > 0) {
                *len = i + (size_t)b;
                return SCAN_SKIP;
            }
        }
    }
    if (!eof)
        return SCAN_NEED;
    *len = n;
    return n ? SCAN_SKIP : SCAN_END;
}

static int push_field(struct csv_reader *r, const char *p, size_t len, bool quoted)
{
    if (r->n_fields >= SL_FMT_CSV_MAX_COLUMNS) {
        if (!r->bad) {
            r->bad = "more than 16384 fields";
            r->bad_col = SL_FMT_CSV_MAX_COLUMNS + 1;
        }
        return 0;
    }
    if (!quoted && r->o.trim) {
        while (len && (*p == ' ' || *p == '\t'))
            p++, len--;
        while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
    }
    r->fields[r->n_fields].p = p;
    r->fields[r->n_fields].len = (uint32_t)len;
    r->fields[r->n_fields].quoted = quoted;
    r->n_fields++;
    return 0;
}

/*
 * Scans one record (or a skipped blank/comment line) at p[0..n). Returns
 * SCAN_RECORD (fields set), SCAN_SKIP, SCAN_END (nothing left) or SCAN_NEED
 * (the record runs past n and more may come). Sets rec_len, raw_len,
 * rec_lines, bad.
 */
static int scan(struct csv_reader *r, const char *p, size_t n, bool eof)
{
    const char d = r->o.delimiter, q = r->o.quote;
    const int esc = r->o.escape;
    size_t i = 0, fpos = 0;
    int b;

    r->n_fields = 0;
    r->bad = NULL;
    r->bad_col = 0;
    r->rec_lines = 1;
    if (n == 0)
        return eof ? SCAN_END : SCAN_NEED;
    if ((p[0] == '\n' || p[0] == '\r') && (b = brk(p, 0, n, eof, &r->nl)) != 0) {
        if (b == BRK_NEED)
            return SCAN_NEED;
        r->rec_len = (size_t)b;
        return SCAN_SKIP;
    }
    if (r->o.comment && p[0] == r->o.comment) {
        int rc = scan_line(r, p, n, eof, &r->rec_len);
        return rc == SCAN_END ? SCAN_SKIP : rc;
    }
    for (;;) { /* one field per turn */
        if (q && i < n && p[i] == q) {
            size_t start = fpos;
            i++;
            for (;;) {
                if (i >= n) {
                    if (!eof)
                        return SCAN_NEED;
                    if (!r->bad) {
                        r->bad = "unterminated quoted field";
                        r->bad_col = (int)r->n_fields + 1;
                    }
                    push_field(r, r->fbuf + start, fpos - start, true);
                    r->rec_len = r->raw_len = n;
                    return SCAN_RECORD;
                }
                char c = p[i];
                if (c == q) {
                    if (esc == SL_FMT_ESC_DOUBLED) {
                        if (i + 1 >= n && !eof)
                            return SCAN_NEED;
                        if (i + 1 < n && p[i + 1] == q) {
                            r->fbuf[fpos++] = q;
                            i += 2;
                            continue;
                        }
                    }
                    i++;
                    break;
                }
                if (c == '\\' && esc == SL_FMT_ESC_BACKSLASH) {
                    if (i + 1 >= n && !eof)
                        return SCAN_NEED;
                    if (i + 1 < n && (p[i + 1] == q || p[i + 1] == '\\')) {
                        r->fbuf[fpos++] = p[i + 1];
                        i += 2;
                        continue;
                    }
                }
                if ((c == '\n' && r->nl != NL_CR) || (c == '\r' && r->nl == NL_CR))
                    r->rec_lines++;
                r->fbuf[fpos++] = c;
                i++;
            }
            push_field(r, r->fbuf + start, fpos - start, true);
            /* after the closing quote: a delimiter, a break or the end */
            if (i >= n) {
                if (!eof)
                    return SCAN_NEED;
                r->rec_len = r->raw_len = n;
                return SCAN_RECORD;
            }
            if (p[i] == d) {
                i++;
                continue;
            }
            if (p[i] == '\n' || p[i] == '\r') {
                b = brk(p, i, n, eof, &r->nl);
                if (b == BRK_NEED)
                    return SCAN_NEED;
                if (b > 0) {
                    r->raw_len = i;
                    r->rec_len = i + (size_t)b;
                    return SCAN_RECORD;
                }
            }
            if (!r->bad) {
                r->bad = "unexpected character after a closing quote";
                r->bad_col = (int)r->n_fields;
            }
            /* the rest of this field is dropped with the row: scan it as unquoted */
            r->n_fields--;
        }
        size_t start = i;
        for (;;) {
            while (i < n && p[i] != d && p[i] != '\n' && p[i] != '\r')
                i++;
            if (i >= n) {
                if (!eof)
                    return SCAN_NEED;
                push_field(r, p + start, i - start, false);
                r->rec_len = r->raw_len = n;
                return SCAN_RECORD;
            }
            if (p[i] == d) {
                push_field(r, p + start, i - start, false);
                i++;
                break;
            }
            b = brk(p, i, n, eof, &r->nl);
            if (b == BRK_NEED)
                return SCAN_NEED;
            if (b > 0) {
                push_field(r, p + start, i - start, false);
                r->raw_len = i;
                r->rec_len = i + (size_t)b;
                return SCAN_RECORD;
            }
            i++; /* a break character that is data in this mode */
        }
    }
}

/* Scans the next record out of the window, refilling as needed. */
static int next_record(struct csv_reader *r, struct sl_err *err)
{
    for (;;) {
        struct sl_fmt_win *w = &r->win;
        int rc = scan(r, w->data + w->pos, w->len - w->pos, w->eof);
        if (rc != SCAN_NEED)
            return rc;
        rc = sl_fmt_win_more(w, err);
        if (rc == SL_ELIMIT)
            return sl_err_set(err, SL_EPARSE, "%s:%lld: record longer than %zu bytes", r->object,
                              (long long)(r->line_known ? r->line : 0), SL_FMT_CSV_MAX_RECORD);
        if (rc != SL_OK)
            return rc;
    }
}

static void consume(struct csv_reader *r)
{
    r->win.pos += r->rec_len;
    r->line += r->rec_lines;
}

/* spec/crawler.md §6.5 column name, without the duplicate suffixes. */
static void normalise(const char *p, size_t len, char *out, size_t cap)
{
    size_t o = 0;
    bool under = false;

    while (len && (*p == ' ' || *p == '\t'))
        p++, len--;
    while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
        len--;
    for (size_t i = 0; i < len && o + 2 < cap; i++) {
        char c = p[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_') {
            out[o++] = c;
            under = false;
        } else if (!under) {
            out[o++] = '_';
            under = true;
        }
    }
    out[o] = '\0';
    size_t s = 0;
    while (out[s] == '_')
        s++;
    while (o > s && out[o - 1] == '_')
        o--;
    memmove(out, out + s, o - s);
    out[o - s] = '\0';
    if (out[0] >= '0' && out[0] <= '9' && o - s + 2 < cap) {
        memmove(out + 1, out, o - s + 1);
        out[0] = '_';
    }
}

/* BOM, skipped lines and the header; once per reader. */
static int start(struct csv_reader *r, struct sl_err *err)
{
    struct sl_fmt_win *w = &r->win;
    int rc;

    r->started = true;
    if (r->o.range_start > 0) {
        r->line_known = false;
        return sl_fmt_win_skip_line(w, err);
    }
    while (w->len < 3 && !w->eof)
        if ((rc = sl_fmt_win_more(w, err)) != SL_OK)
            return rc;
    if (w->len >= 3 && memcmp(w->data, "\xef\xbb\xbf", 3) == 0)
        w->pos = 3;
    int skip = r->o.skip_lines - (r->o.match_by_name && r->o.skip_lines > 0);
    for (int k = 0; k < skip; k++) {
        for (;;) {
            rc = scan_line(r, w->data + w->pos, w->len - w->pos, w->eof, &r->rec_len);
            if (rc != SCAN_NEED)
                break;
            if ((rc = sl_fmt_win_more(w, err)) != SL_OK)
                return rc == SL_ELIMIT ? sl_err_set(err, SL_EPARSE, "%s: header line too long",
                                                    r->object) : rc;
        }
        if (rc == SCAN_END)
            return SL_OK;
        w->pos += r->rec_len;
        r->line++;
    }
    if (!r->o.match_by_name || r->o.skip_lines <= 0)
        return SL_OK;
    /* the header: map its normalised names to schema columns */
    rc = next_record(r, err);
    if (rc < 0)
        return rc;
    if (rc == SCAN_END)
        return SL_OK;
    if (!(r->colmap = sl_calloc(r->n_fields, sizeof *r->colmap)))
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    r->n_map = r->n_fields;
    for (size_t j = 0; j < r->n_fields; j++) {
        char name[256];
        normalise(r->fields[j].p, r->fields[j].len, name, sizeof name);
        r->colmap[j] = sl_rschema_find(r->schema, name, strlen(name));
        for (size_t k = 0; k < j && r->colmap[j] >= 0; k++)
            if (r->colmap[k] == r->colmap[j])
                r->colmap[j] = -1; /* a duplicate name maps once, to its first column */
    }
    consume(r);
    return SL_OK;
}

static int bad_row(struct csv_reader *r, int col, const char *reason, struct sl_err *err)
{
    int64_t line = r->line_known ? r->line : 0;
    const char *raw = r->win.data + r->win.pos;

    if (!r->o.bad_row)
        return sl_err_set(err, SL_EPARSE, "%s:%lld:%d: %s", r->object, (long long)line, col,
                          reason);
    int rc = r->o.bad_row(r->o.bad_row_ud, r->object, line, col, reason, raw, r->raw_len);
    if (rc != SL_OK)
        return sl_err_set(err, rc < 0 ? rc : SL_ECANCELLED, "%s:%lld:%d: %s", r->object,
                          (long long)line, col, reason);
    return SL_OK;
}

static bool is_null_token(const struct csv_reader *r, const char *p, size_t len)
{
    while (len && (*p == ' ' || *p == '\t'))
        p++, len--;
    while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
        len--;
    if (len == 0)
        return true;
    for (const char *const *t = r->o.null_tokens; t && *t; t++)
        if (strlen(*t) == len && memcmp(*t, p, len) == 0)
            return true;
    return false;
}

/* Converts the scanned record into r->scratch. 1 = row ready, 0 = bad row
 * reported, <0 = error. */
static int convert(struct csv_reader *r, struct sl_arena *arena, struct sl_err *err)
{
    const struct sl_rschema *s = r->schema;
    size_t nf = r->n_fields;
    struct sl_err verr;

    if (r->bad) {
        int rc = bad_row(r, r->bad_col, r->bad, err);
        return rc != SL_OK ? rc : 0;
    }
    if (r->o.trailing_delimiter && nf > 0 && r->fields[nf - 1].len == 0 &&
        !r->fields[nf - 1].quoted)
        nf--;
    size_t limit = r->colmap ? r->n_map : s->n_cols;
    if (nf > limit) {
        char reason[96];
        snprintf(reason, sizeof reason, "too many fields: %zu, expected %zu", nf, limit);
        int rc = bad_row(r, (int)limit + 1, reason, err);
        return rc != SL_OK ? rc : 0;
    }
    memset(r->scratch, 0, s->n_cols * sizeof *r->scratch); /* ragged rows: NULL */
    for (size_t j = 0; j < nf; j++) {
        int col = r->colmap ? r->colmap[j] : (int)j;
        if (col < 0)
            continue;
        const struct field *f = &r->fields[j];
        enum sl_vtype t = s->types[col];
        struct sl_value *v = &r->scratch[col];
        bool bsn = !f->quoted && f->len == 2 && f->p[0] == '\\' && f->p[1] == 'N';
        if (t == SL_V_STRING) {
            if ((!f->quoted && f->len == 0) || bsn)
                continue;
        } else if (bsn || is_null_token(r, f->p, f->len)) {
            continue;
        }
        int rc = sl_value_from_text(t, f->p, f->len, arena, v, &verr);
        if (rc == SL_EPARSE) {
            rc = bad_row(r, (int)j + 1, verr.msg, err);
            return rc != SL_OK ? rc : 0;
        }
        if (rc != SL_OK) {
            *err = verr;
            return rc;
        }
    }
    return 1;
}

static int csv_next_batch(struct sl_fmt_reader *base, struct sl_batch *b, struct sl_err *err)
{
    struct csv_reader *r = (struct csv_reader *)base;
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
        if (rc == SCAN_END) {
            r->done = true;
            break;
        }
        if (rc == SCAN_SKIP) {
            consume(r);
            continue;
        }
        rc = convert(r, &b->arena, err);
        if (rc < 0)
            return rc;
        if (rc == 0) {
            consume(r);
            continue;
        }
        struct sl_row_origin origin = {r->object, r->line_known ? r->line : 0};
        struct sl_value *row = sl_batch_add_row(b, &origin);
        if (!row) {
            if (b->n_rows == 0)
                return sl_err_set(err, SL_ELIMIT, "%s:%lld: row larger than a batch", r->object,
                                  (long long)origin.line);
            break; /* full by bytes: this record is parsed again into the next batch */
        }
        memcpy(row, r->scratch, r->schema->n_cols * sizeof *row);
        consume(r);
        added++;
    }
    return added;
}

static void csv_reader_close(struct sl_fmt_reader *base)
{
    struct csv_reader *r = (struct csv_reader *)base;

    if (!r)
        return;
    sl_fmt_win_cleanup(&r->win);
    sl_free(r->object);
    sl_free(r->fbuf);
    sl_free(r->fields);
    sl_free(r->colmap);
    sl_free(r->scratch);
    sl_free(r);
}

static int csv_reader_open(struct sl_store *st, const char *key, const struct sl_fmt_opts *o,
                           const struct sl_rschema *schema, struct sl_fmt_reader **out,
                           struct sl_err *err)
{
    struct csv_reader *r = sl_calloc(1, sizeof *r);

    *out = NULL;
    if (!r)
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    r->base.ops = &sl_fmt_csv_ops;
    r->o = *o;
    r->schema = schema;
    r->line = 1;
    r->line_known = true;
    if (!o->delimiter || o->delimiter == '\n' || o->delimiter == '\r' ||
        (o->quote && o->quote == o->delimiter)) {
        sl_err_set(err, SL_ECONFIG, "csv \"%s\": bad delimiter or quote", key);
        goto fail;
    }
    if ((o->range_start > 0 || o->range_end >= 0) && !o->no_quoted_newlines) {
        sl_err_set(err, SL_ECONFIG,
                   "csv \"%s\": byte ranges need no_quoted_newlines (a split could start inside "
                   "a quoted line break)", key);
        goto fail;
    }
    r->object = o->object ? sl_strdup(o->object) : sl_store_uri(st, key);
    r->fbuf = sl_alloc(SL_FMT_CSV_MAX_RECORD + 1);
    r->fields = sl_alloc(SL_FMT_CSV_MAX_COLUMNS * sizeof *r->fields);
    r->scratch = sl_calloc(schema->n_cols ? schema->n_cols : 1, sizeof *r->scratch);
    if (!r->object || !r->fbuf || !r->fields || !r->scratch) {
        sl_err_set(err, SL_ENOMEM, "out of memory");
        goto fail;
    }
    if (sl_fmt_win_open(&r->win, st, key, o, SL_FMT_CSV_MAX_RECORD + SL_FMT_READ_LEN, err) !=
        SL_OK)
        goto fail;
    *out = &r->base;
    return SL_OK;
fail:
    csv_reader_close(&r->base);
    return err->code;
}

/* ---- Writer ---- */

struct csv_writer {
    struct sl_fmt_writer base;
    struct sl_fmt_out out;
    const struct sl_rschema *schema; /* borrowed until finish/abort */
    char delim, quote;
    struct sl_buf tmp;               /* one value's text */
};

/* RFC 4180 quoting, only when needed (or forced: the empty string and a
 * literal \N, which unquoted would read back as NULL). */
static int put_field(struct csv_writer *w, const char *p, size_t len, bool force,
                     struct sl_err *err)
{
    struct sl_buf *o = &w->out.buf;
    bool need = force || (len > 0 && (p[0] == ' ' || p[0] == '\t' || p[len - 1] == ' ' ||
                                      p[len - 1] == '\t'));

    for (size_t i = 0; i < len && !need; i++)
        need = p[i] == w->delim || p[i] == w->quote || p[i] == '\n' || p[i] == '\r';
    if (!need)
        return sl_buf_append(o, p, len, err);
    int rc = sl_buf_reserve(o, len * 2 + 2, err);
    if (rc != SL_OK)
        return rc;
    o->data[o->len++] = w->quote;
    for (size_t i = 0; i < len; i++) {
        if (p[i] == w->quote)
            o->data[o->len++] = w->quote;
        o->data[o->len++] = p[i];
    }
    o->data[o->len++] = w->quote;
    o->data[o->len] = '\0';
    return SL_OK;
}

static int put_value(struct csv_writer *w, const struct sl_value *v, bool only, struct sl_err *err)
{
    switch (v->type) {
    case SL_V_NULL:
        /* a lone empty field would be a blank line, which readers skip */
        return only ? sl_buf_append(&w->out.buf, "\\N", 2, err) : SL_OK;
    case SL_V_STRING:
    case SL_V_JSON:
    case SL_V_BINARY:
        return put_field(w, v->s, v->len,
                         v->len == 0 || (v->len == 2 && v->s[0] == '\\' && v->s[1] == 'N'), err);
    default:
        sl_buf_reset(&w->tmp);
        int rc = sl_value_to_text(v, &w->tmp, err);
        return rc != SL_OK ? rc : put_field(w, w->tmp.data, w->tmp.len, false, err);
    }
}

static void csv_writer_abort(struct sl_fmt_writer *base)
{
    struct csv_writer *w = (struct csv_writer *)base;

    if (!w)
        return;
    sl_fmt_out_abort(&w->out);
    sl_buf_cleanup(&w->tmp);
    sl_free(w);
}

static int csv_writer_open(struct sl_store *st, const char *key, const struct sl_rschema *schema,
                           enum sl_compression codec, const struct sl_fmt_opts *o,
                           struct sl_fmt_writer **out, struct sl_err *err)
{
    struct csv_writer *w = sl_calloc(1, sizeof *w);
    struct sl_fmt_opts def;

    *out = NULL;
    if (!w)
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    if (!o) {
        sl_fmt_opts_init(&def);
        o = &def;
    }
    w->base.ops = &sl_fmt_csv_ops;
    w->schema = schema;
    w->delim = o->delimiter ? o->delimiter : ',';
    w->quote = o->quote ? o->quote : '"';
    sl_buf_init(&w->tmp, 4096);
    if (sl_fmt_out_open(&w->out, st, key, codec, err) != SL_OK)
        goto fail;
    if (o->header) {
        for (size_t j = 0; j < schema->n_cols; j++) {
            if ((j && sl_buf_putc(&w->out.buf, w->delim, err) != SL_OK) ||
                put_field(w, schema->names[j], strlen(schema->names[j]), false, err) != SL_OK)
                goto fail;
        }
        if (sl_buf_putc(&w->out.buf, '\n', err) != SL_OK)
            goto fail;
    }
    *out = &w->base;
    return SL_OK;
fail:
    sl_err_prefix(err, "write csv \"%s\"", key);
    csv_writer_abort(&w->base);
    return err->code;
}

static int csv_write_batch(struct sl_fmt_writer *base, const struct sl_batch *b,
                           struct sl_err *err)
{
    struct csv_writer *w = (struct csv_writer *)base;
    size_t n_cols = w->schema->n_cols;
    int rc = SL_OK;

    for (uint32_t i = 0; i < b->n_rows && rc == SL_OK; i++) {
        const struct sl_value *row = &b->cells[(size_t)i * n_cols];
        for (size_t j = 0; j < n_cols && rc == SL_OK; j++) {
            if (j)
                rc = sl_buf_putc(&w->out.buf, w->delim, err);
            if (rc == SL_OK)
                rc = put_value(w, &row[j], n_cols == 1, err);
        }
        if (rc == SL_OK)
            rc = sl_buf_putc(&w->out.buf, '\n', err);
        if (rc == SL_OK)
            rc = sl_fmt_out_flush(&w->out, false, err);
    }
    return rc;
}

static int csv_writer_finish(struct sl_fmt_writer *base, struct sl_err *err)
{
    struct csv_writer *w = (struct csv_writer *)base;
    int rc = sl_fmt_out_finish(&w->out, err);

    sl_buf_cleanup(&w->tmp);
    sl_free(w);
    return rc;
}

const struct sl_fmt_ops sl_fmt_csv_ops = {
    .name = "csv",
    .reader_open = csv_reader_open,
    .next_batch = csv_next_batch,
    .reader_close = csv_reader_close,
    .writer_open = csv_writer_open,
    .write_batch = csv_write_batch,
    .writer_finish = csv_writer_finish,
    .writer_abort = csv_writer_abort,
};
