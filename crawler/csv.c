/*
 * crawler/csv.c - the delimited-text classifier of spec/crawler.md §6 (see
 * csv.h): encoding, dialect candidates and scoring, header detection and its
 * per-table reconciliation, column names and types. Value recognition is in
 * crawler/infer.c; the type lattice in crawler/ctype.c. The record reader here
 * follows the parsing rules written in csv.h, which the CSV reader of the
 * runtime must share.
 */
#include "crawler/csv.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crawler/infer.h"
#include "runtime/alloc.h"
#include "runtime/buf.h"

#define NUL_SCAN_BYTES     4096 /* §6.1: a NUL this early means binary */
#define PREAMBLE_MAX       10   /* §6.3: at most this many preamble records */
#define CONSISTENCY_MIN    0.95 /* §6.3: a valid dialect has at least this consistency */
#define R0_CELL_MAX        4096 /* bytes of an R0 cell kept in header_evidence */
#define NAME_MAX_CHARS     128  /* §6.4: a plausible header name is at most this long */
#define CERTAINTY_FEW_ROWS 0.6  /* §5: header-only or one-data-row file */

/* ---- Encoding (§6.1) ---- */

enum enc { ENC_UTF8, ENC_UTF16LE, ENC_UTF16BE, ENC_CP1252 };

static const char *const enc_names[] = {"UTF-8", "UTF-16LE", "UTF-16BE", "Windows-1252"};

/* Length of the valid UTF-8 prefix of p[0..len). A sequence cut by the end of
 * a window that stops before EOF counts as valid. */
static size_t utf8_valid_prefix(const unsigned char *p, size_t len, bool at_eof)
{
    size_t i = 0;
    while (i < len) {
        unsigned c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        unsigned cp;
        if (c >= 0xC2 && c <= 0xDF) {
            n = 2;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 3;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 4;
            cp = c & 0x07;
        } else {
            return i;
        }
        if (i + n > len) {
            for (size_t k = 1; i + k < len; k++)
                if ((p[i + k] & 0xC0) != 0x80)
                    return i;
            return at_eof ? i : len;
        }
        for (size_t k = 1; k < n; k++) {
            if ((p[i + k] & 0xC0) != 0x80)
                return i;
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return i;
        i += n;
    }
    return len;
}

static size_t utf8_put(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* WHATWG windows-1252 for 0x80-0x9F (the five holes map to C1 controls). */
static const uint16_t cp1252_high[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
};

/* Transcodes in[0..len) from e to UTF-8 into out (replacing its content). */
static int transcode(const char *in, size_t len, enum enc e, struct sl_buf *out, struct sl_err *err)
{
    const unsigned char *u = (const unsigned char *)in;
    size_t cap = e == ENC_CP1252 ? len * 3 : (len / 2) * 3 + 4;
    int rc;

    sl_buf_reset(out);
    if ((rc = sl_buf_reserve(out, cap, err)) != SL_OK)
        return rc;
    char *o = out->data;
    size_t n = 0;
    if (e == ENC_CP1252) {
        for (size_t i = 0; i < len; i++) {
            unsigned c = u[i];
            n += utf8_put(o + n, c >= 0x80 && c < 0xA0 ? cp1252_high[c - 0x80] : c);
        }
    } else {
        bool le = e == ENC_UTF16LE;
        for (size_t i = 0; i + 1 < len; i += 2) {
            unsigned w =
                le ? (unsigned)(u[i] | (u[i + 1] << 8)) : (unsigned)((u[i] << 8) | u[i + 1]);
            if (w >= 0xD800 && w <= 0xDBFF) {
                if (i + 3 >= len)
                    break; /* a pair cut by the window */
                unsigned w2 = le ? (unsigned)(u[i + 2] | (u[i + 3] << 8))
                                 : (unsigned)((u[i + 2] << 8) | u[i + 3]);
                if (w2 >= 0xDC00 && w2 <= 0xDFFF) {
                    w = 0x10000 + ((w - 0xD800) << 10) + (w2 - 0xDC00);
                    i += 2;
                } else {
                    w = 0xFFFD;
                }
            } else if (w >= 0xDC00 && w <= 0xDFFF) {
                w = 0xFFFD;
            }
            n += utf8_put(o + n, w);
        }
    }
    out->len = n;
    out->data[n] = '\0';
    return SL_OK;
}

/* ---- Record reader (the parsing rules of csv.h) ---- */

enum esc { ESC_NONE, ESC_DOUBLE, ESC_BACKSLASH };
enum nl { NL_UNKNOWN, NL_LF, NL_CRLF, NL_CR };

struct dialect {
    char delim;
    char quote;   /* 0: none */
    enum esc esc; /* ESC_NONE when quote is 0 */
    char comment; /* 0: none */
};

struct field {
    size_t off, len; /* in the text, or in reader.scratch when 'scratch' */
    bool quoted;
    bool scratch;
};

struct reader {
    const char *p;
    size_t len, pos;
    bool at_eof;
    struct dialect d;
    enum nl nl;            /* the newline, once the first break outside quotes was seen */
    size_t line;           /* physical line (0-based) at pos */
    bool special[256];     /* delimiter, '\r', '\n' */
    struct field *fields;  /* borrowed array of max_store entries */
    size_t max_store;      /* fields kept per record (0: count only) */
    struct sl_buf scratch; /* unescaped field values of the current record */
};

struct rec {
    size_t n_fields;
    size_t start, end;     /* bytes, the line break included */
    size_t line, end_line; /* physical lines where it starts and ends */
    bool any_quoted;
    bool last_empty;     /* the last field is empty and unquoted */
    bool cut_in_quote;   /* RR_CUT inside a quoted field */
    unsigned char first; /* first byte */
};

enum rr { RR_RECORD, RR_END, RR_CUT, RR_BAD, RR_LONG, RR_NOMEM };

static void reader_init(struct reader *r, const char *p, size_t len, bool at_eof,
                        const struct dialect *d, enum nl nl, struct field *fields, size_t max_store)
{
    memset(r, 0, sizeof *r);
    r->p = p;
    r->len = len;
    r->at_eof = at_eof;
    r->d = *d;
    r->nl = nl;
    r->special[(unsigned char)d->delim] = true;
    r->special['\r'] = true;
    r->special['\n'] = true;
    r->fields = fields;
    r->max_store = max_store;
    sl_buf_init(&r->scratch, SL_CSV_MAX_RECORD + 64);
}

static void reader_cleanup(struct reader *r)
{
    sl_buf_cleanup(&r->scratch);
}

/* Bytes of the line break at i (0 when there is none) under the newline rules. */
static size_t break_len(const struct reader *r, size_t i)
{
    char c = r->p[i];
    bool crlf = c == '\r' && i + 1 < r->len && r->p[i + 1] == '\n';
    switch (r->nl) {
    case NL_LF: return c == '\n' ? 1 : crlf ? 2 : 0;
    case NL_CRLF: return crlf ? 2 : c == '\n' ? 1 : 0;
    case NL_CR: return crlf ? 2 : c == '\r' ? 1 : 0;
    default: return c == '\n' ? 1 : crlf ? 2 : c == '\r' ? 1 : 0;
    }
}

/* The first break outside quotes decides the newline. */
static void note_break(struct reader *r, size_t i, size_t b)
{
    if (r->nl != NL_UNKNOWN)
        return;
    r->nl = r->p[i] == '\n' ? NL_LF : b == 2 ? NL_CRLF : NL_CR;
}

/* Copies a quoted value without its escapes into the scratch buffer. */
static bool unescape(struct reader *r, size_t from, size_t to, struct field *f)
{
    size_t off = r->scratch.len;
    if (sl_buf_reserve(&r->scratch, to - from, NULL) != SL_OK)
        return false;
    char *o = r->scratch.data + off;
    size_t n = 0;
    for (size_t i = from; i < to; i++) {
        char c = r->p[i];
        if (r->d.esc == ESC_DOUBLE && c == r->d.quote && i + 1 < to && r->p[i + 1] == r->d.quote)
            i++;
        else if (r->d.esc == ESC_BACKSLASH && c == '\\' && i + 1 < to &&
                 (r->p[i + 1] == r->d.quote || r->p[i + 1] == '\\'))
            c = r->p[++i];
        o[n++] = c;
    }
    r->scratch.len += n;
    r->scratch.data[r->scratch.len] = '\0';
    f->off = off;
    f->len = n;
    f->scratch = true;
    return true;
}

static const char *field_ptr(const struct reader *r, const struct field *f)
{
    return f->scratch ? r->scratch.data + f->off : r->p + f->off;
}

/* Skips blank and comment lines; false at the end of the window. */
static bool skip_to_record(struct reader *r)
{
    for (;;) {
        if (r->pos >= r->len)
            return false;
        size_t b = break_len(r, r->pos);
        if (b) {
            note_break(r, r->pos, b);
            r->pos += b;
            r->line++;
            continue;
        }
        if (r->d.comment && r->p[r->pos] == r->d.comment) {
            size_t i = r->pos;
            while (i < r->len && !(b = break_len(r, i)))
                i++;
            if (i >= r->len) {
                r->pos = r->len; /* a comment reaching the end holds no record */
                return false;
            }
            note_break(r, i, b);
            r->pos = i + b;
            r->line++;
            continue;
        }
        return true;
    }
}

/* Reads the next record. RR_CUT: the window ends inside it before EOF (it is
 * dropped); RR_BAD: the dialect cannot parse it; RR_LONG: over 1 MiB. */
static enum rr read_record(struct reader *r, struct rec *rec)
{
    const char *p = r->p;
    const size_t len = r->len;
    const char delim = r->d.delim, quote = r->d.quote;

    memset(rec, 0, sizeof *rec);
    if (!skip_to_record(r))
        return RR_END;
    sl_buf_reset(&r->scratch);
    rec->start = r->pos;
    /* scans stop one byte past the record limit, so a huge field costs at most
     * 1 MiB per candidate instead of the whole window */
    const size_t end =
        len - rec->start > SL_CSV_MAX_RECORD ? rec->start + SL_CSV_MAX_RECORD + 1 : len;
    rec->line = r->line;
    rec->first = (unsigned char)p[r->pos];

    for (;;) {
        size_t cstart, cend;
        bool quoted = false, copy = false;
        if (quote && r->pos < len && p[r->pos] == quote) {
            quoted = true;
            rec->any_quoted = true;
            cstart = ++r->pos;
            for (;;) {
                if (r->pos >= end) {
                    if (end < len)
                        return RR_LONG;
                    rec->cut_in_quote = true;
                    goto unterminated;
                }
                char c = p[r->pos];
                if (c == quote) {
                    if (r->d.esc == ESC_DOUBLE) {
                        if (r->pos + 1 >= len && !r->at_eof) {
                            rec->cut_in_quote = true; /* "" or a closing quote: unknown yet */
                            goto unterminated;
                        }
                        if (r->pos + 1 < len && p[r->pos + 1] == quote) {
                            copy = true;
                            r->pos += 2;
                            continue;
                        }
                    }
                    break;
                }
                if (c == '\\' && r->d.esc == ESC_BACKSLASH && r->pos + 1 < len &&
                    (p[r->pos + 1] == quote || p[r->pos + 1] == '\\')) {
                    copy = true;
                    r->pos += 2;
                    continue;
                }
                if (c == '\n' || c == '\r') {
                    size_t b = break_len(r, r->pos);
                    if (b) {
                        r->line++;
                        r->pos += b;
                        continue;
                    }
                }
                r->pos++;
            }
            cend = r->pos++;
            if (r->pos < len && p[r->pos] != delim && !break_len(r, r->pos))
                return RR_BAD; /* text after a closing quote */
        } else {
            cstart = r->pos;
            while (r->pos < end) {
                unsigned char c = (unsigned char)p[r->pos];
                if (r->special[c] && (c == (unsigned char)delim || break_len(r, r->pos)))
                    break;
                r->pos++;
            }
            if (r->pos >= end && end < len)
                return RR_LONG;
            cend = r->pos;
        }
        if (rec->n_fields < r->max_store) {
            struct field *f = &r->fields[rec->n_fields];
            f->quoted = quoted;
            if (copy) {
                if (!unescape(r, cstart, cend, f))
                    return RR_NOMEM;
            } else {
                f->off = cstart;
                f->len = cend - cstart;
                f->scratch = false;
            }
        }
        rec->n_fields++;
        rec->last_empty = !quoted && cend == cstart;
        if (r->pos >= len)
            goto unterminated;
        if (p[r->pos] == delim) {
            r->pos++;
            if (r->pos - rec->start > SL_CSV_MAX_RECORD)
                return RR_LONG;
            continue;
        }
        size_t b = break_len(r, r->pos);
        note_break(r, r->pos, b);
        rec->end_line = r->line;
        r->pos += b;
        r->line++;
        rec->end = r->pos;
        return rec->end - rec->start > SL_CSV_MAX_RECORD ? RR_LONG : RR_RECORD;
    }

unterminated:
    /* the window ends inside this record */
    if (len - rec->start > SL_CSV_MAX_RECORD)
        return RR_LONG;
    if (!r->at_eof) {
        r->pos = len;
        return RR_CUT;
    }
    if (rec->cut_in_quote)
        return RR_BAD; /* a quote still open at EOF */
    rec->end = r->pos = len;
    rec->end_line = r->line;
    return RR_RECORD;
}

/* ---- Dialect candidates and scoring (§6.2-§6.3) ---- */

struct cand {
    struct dialect d;
    int delim_rank, quote_rank, esc_rank; /* lower rank = preferred; esc: higher preferred */
    bool parsed;                          /* no record failed */
    bool valid;
    size_t n; /* records scored */
    size_t kstar;
    size_t m;          /* preamble records */
    size_t match_all;  /* records with k = k*, preamble included */
    size_t match_post; /* the same after the preamble */
    bool overflow, quote_opened, hash_mismatch, trailing;
    size_t n_json; /* records starting with '{' or '[' */
    enum nl nl;
};

enum { F_HASH = 1, F_LAST_EMPTY = 2, F_JSON = 4 };

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

/* Parses the first max_rows records with c->d and fills the statistics. */
static void eval_candidate(const char *text, size_t len, bool at_eof, size_t max_rows,
                           bool allow_single, size_t *kbuf, size_t *ktmp, uint8_t *fbuf,
                           struct cand *c)
{
    struct reader r;
    struct rec rec;
    size_t n = 0;

    reader_init(&r, text, len, at_eof, &c->d, NL_UNKNOWN, NULL, 0);
    c->parsed = true;
    while (n < max_rows) {
        enum rr rr = read_record(&r, &rec);
        if (rr == RR_RECORD) {
            kbuf[n] = rec.n_fields;
            fbuf[n] =
                (uint8_t)((rec.first == '#' ? F_HASH : 0) | (rec.last_empty ? F_LAST_EMPTY : 0) |
                          (rec.first == '{' || rec.first == '[' ? F_JSON : 0));
            c->quote_opened |= rec.any_quoted;
            n++;
            continue;
        }
        /* a quote opened only in the cut record does not count as opened: an
         * apostrophe at a field start would otherwise swallow the rest of a
         * cut window and still "open a field" */
        if (rr == RR_BAD || rr == RR_LONG || rr == RR_NOMEM)
            c->parsed = false;
        break;
    }
    c->nl = r.nl;
    reader_cleanup(&r);
    c->n = n;
    if (!c->parsed || n == 0)
        return;

    /* k* = the most frequent field count, ties to the larger */
    memcpy(ktmp, kbuf, n * sizeof *ktmp);
    qsort(ktmp, n, sizeof *ktmp, cmp_size);
    size_t best = 0, best_count = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && ktmp[j] == ktmp[i])
            j++;
        if (j - i >= best_count) {
            best = ktmp[i];
            best_count = j - i;
        }
        i = j;
    }
    c->kstar = best;

    /* preamble: m <= 10 leading records without k* fields, then 2 with them */
    size_t m = 0;
    while (m < n && kbuf[m] != best)
        m++;
    if (m > PREAMBLE_MAX || m + 1 >= n || kbuf[m + 1] != best)
        m = 0;
    c->m = m;

    bool trailing = true;
    for (size_t i = 0; i < n; i++) {
        if (kbuf[i] == best) {
            c->match_all++;
            if (i >= m) {
                c->match_post++;
                if (!(fbuf[i] & F_LAST_EMPTY))
                    trailing = false;
            }
        }
        if (i >= m && kbuf[i] > best)
            c->overflow = true;
        if (!c->d.comment && (fbuf[i] & F_HASH) && kbuf[i] != best)
            c->hash_mismatch = true;
        if (fbuf[i] & F_JSON)
            c->n_json++;
    }
    c->trailing = trailing && (best >= 3 || (allow_single && best >= 2));
    double consistency = (double)c->match_post / (double)(n - m);
    c->valid = (best >= 2 || (allow_single && best >= 1)) && !c->overflow &&
               consistency >= CONSISTENCY_MIN;
}

/* Is a better than b? The order of §6.3:
 *  1. consistency, here over every scored record, so a preamble costs a little
 *     (validity uses the consistency after the preamble);
 *  2. more columns; 3. a quote that opened a field in a complete record;
 *  4. RFC doubling over backslash over none, between candidates of the same
 *     quote character (so a quote that never occurs cannot win on its escape);
 *  5. no comment, unless a '#' line broke the field count;
 *  6. delimiter priority (name hints first);
 *  7. quote order '"', none, '\'': '"' is the default when no quote occurs. */
static bool better(const struct cand *a, const struct cand *b)
{
    unsigned long long ca = (unsigned long long)a->match_all * b->n;
    unsigned long long cb = (unsigned long long)b->match_all * a->n;
    if (ca != cb)
        return ca > cb;
    if (a->kstar != b->kstar)
        return a->kstar > b->kstar;
    if (a->quote_opened != b->quote_opened)
        return a->quote_opened;
    if (a->d.quote == b->d.quote && a->esc_rank != b->esc_rank)
        return a->esc_rank > b->esc_rank;
    if ((a->d.comment != 0) != (b->d.comment != 0)) {
        const struct cand *plain = a->d.comment ? b : a;
        bool prefer_plain = !plain->hash_mismatch;
        return prefer_plain ? a == plain : a != plain;
    }
    if (a->delim_rank != b->delim_rank)
        return a->delim_rank < b->delim_rank;
    return a->quote_rank < b->quote_rank;
}

static bool ends_with(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n >= k && strncasecmp(s + n - k, suffix, k) == 0;
}

/* The delimiter an object name hints at ('\0' for none). */
static char name_hint(const char *name)
{
    if (!name)
        return 0;
    size_t n = strlen(name);
    static const char *const comp[] = {".gz", ".bz2", ".xz", ".zst", ".zstd"};
    for (size_t i = 0; i < SL_ARRAY_LEN(comp); i++) {
        if (ends_with(name, n, comp[i])) {
            n -= strlen(comp[i]);
            break;
        }
    }
    if (ends_with(name, n, ".tsv") || ends_with(name, n, ".tab"))
        return '\t';
    if (ends_with(name, n, ".psv"))
        return '|';
    return 0;
}

static bool same_dialect(const struct dialect *a, const struct dialect *b)
{
    return a->delim == b->delim && a->quote == b->quote && a->esc == b->esc &&
           a->comment == b->comment;
}

static const char delimiters[] = {',', '\t', '|', ';', '\x01'};

/* ---- The classification context ---- */

struct cell {
    char *s; /* owned copy of the raw field (NUL bytes replaced by '?') */
    size_t len;
    bool quoted;
    bool missing; /* R0 was ragged and has no field here */
};

struct csv_ctx {
    const struct sl_crawl_opts *o;
    struct sl_cls_result *out;
    struct sl_err *err;
    struct sl_infer_cfg icfg;

    struct sl_buf text_buf; /* transcoded head (when not UTF-8) */
    struct sl_buf tail_buf; /* transcoded tail */
    const char *text;
    size_t text_len;
    enum enc enc;
    double bytes_ratio; /* input bytes per text byte */

    struct cand win;
    size_t n_cols;        /* k* minus a trailing delimiter column */
    struct field *fields; /* k* + 1 entries */
    struct sl_infer_col *cols;
    bool *recurs;    /* R0[j] seen again in column j */
    struct cell *r0; /* n_cols cells */
    bool have_r0;
    size_t r0_line, r0_end_line, r1_line;
    size_t r0_start, r0_end; /* bytes */
    bool have_r1;
    int64_t n_data; /* data records in the head (R1..) */
    size_t data_start, data_end;
    size_t n_overflow;
    bool bad_late; /* a record after the dialect sample failed to parse */
    bool any_quoted;
    size_t n_tail;
};

static void ctx_cleanup(struct csv_ctx *c)
{
    sl_buf_cleanup(&c->text_buf);
    sl_buf_cleanup(&c->tail_buf);
    sl_free(c->fields);
    sl_free(c->cols);
    sl_free(c->recurs);
    if (c->r0)
        for (size_t j = 0; j < c->n_cols; j++)
            sl_free(c->r0[j].s);
    sl_free(c->r0);
}

static int not_text(struct sl_cls_result *out, const char *reason)
{
    out->classification[0] = '\0';
    out->certainty = 0;
    snprintf(out->reason, sizeof out->reason, "%s", reason);
    return SL_OK;
}

static int nomem(struct sl_err *err, const char *what)
{
    return sl_err_set(err, SL_ENOMEM, "classify csv: %s: out of memory", what);
}

/* ---- Encoding step ---- */

static int decode_head(struct csv_ctx *c, const char *data, size_t len, bool at_eof,
                       const char **why)
{
    const unsigned char *u = (const unsigned char *)data;
    *why = NULL;
    if (len >= 3 && u[0] == 0xEF && u[1] == 0xBB && u[2] == 0xBF) {
        c->enc = ENC_UTF8;
        c->text = data + 3;
        c->text_len = len - 3;
        /* invalid bytes after a UTF-8 BOM: the BOM wins, the reader substitutes */
        return SL_OK;
    }
    if (len >= 2 && ((u[0] == 0xFF && u[1] == 0xFE) || (u[0] == 0xFE && u[1] == 0xFF))) {
        c->enc = u[0] == 0xFF ? ENC_UTF16LE : ENC_UTF16BE;
        int rc = transcode(data + 2, len - 2, c->enc, &c->text_buf, c->err);
        if (rc)
            return rc;
        c->text = c->text_buf.data;
        c->text_len = c->text_buf.len;
        return SL_OK;
    }
    if (memchr(data, '\0', len < NUL_SCAN_BYTES ? len : NUL_SCAN_BYTES)) {
        *why = "binary";
        return SL_OK;
    }
    size_t ok = utf8_valid_prefix(u, len, at_eof);
    if (ok == len) {
        c->enc = ENC_UTF8;
        c->text = data;
        c->text_len = len;
        return SL_OK;
    }
    c->enc = ENC_CP1252;
    int rc = transcode(data, len, ENC_CP1252, &c->text_buf, c->err);
    if (rc)
        return rc;
    c->text = c->text_buf.data;
    c->text_len = c->text_buf.len;
    sl_cls_warn(c->out, "ENCODING_FALLBACK", "invalid UTF-8 at byte %zu: read as Windows-1252", ok);
    return SL_OK;
}

/* ---- Dialect choice ---- */

/* True when every line is empty or a '#' comment: no data at all. */
static bool blank_text(const char *p, size_t len)
{
    bool line_start = true, comment = false;
    for (size_t i = 0; i < len; i++) {
        char ch = p[i];
        if (ch == '\n' || ch == '\r') {
            line_start = true;
            comment = false;
            continue;
        }
        if (line_start && ch == '#')
            comment = true;
        else if (!comment)
            return false;
        line_start = false;
    }
    return true;
}

/* Evaluates every candidate; identical parses are shared: a quote, backslash
 * or '#' that never occurs in the window parses exactly like its absence. */
static int choose_dialect(struct csv_ctx *c, bool at_eof, const char *name, bool *found,
                          size_t *max_records)
{
    const struct sl_crawl_opts *o = c->o;
    size_t max_rows = o->dialect_rows ? o->dialect_rows : 2048;
    bool present[256] = {false};
    for (size_t i = 0; i < c->text_len; i++)
        present[(unsigned char)c->text[i]] = true;

    *found = false;
    *max_records = 0;
    size_t *kbuf = sl_calloc(max_rows, sizeof *kbuf);
    size_t *ktmp = sl_calloc(max_rows, sizeof *ktmp);
    uint8_t *fbuf = sl_calloc(max_rows, 1);
    struct cand evaluated[5 * 7 * 2];
    size_t n_eval = 0;
    int rc = SL_OK;
    if (!kbuf || !ktmp || !fbuf) {
        rc = nomem(c->err, "dialect buffers");
        goto done;
    }

    char hint = name_hint(name);
    static const struct {
        char quote;
        enum esc esc;
    } quotes[] = {
        {'"', ESC_DOUBLE},     {'"', ESC_BACKSLASH}, {'"', ESC_NONE}, {'\'', ESC_DOUBLE},
        {'\'', ESC_BACKSLASH}, {'\'', ESC_NONE},     {0, ESC_NONE},
    };
    static const char comments[] = {0, '#'};

    for (size_t di = 0; di < SL_ARRAY_LEN(delimiters); di++) {
        char delim = delimiters[di];
        if (!present[(unsigned char)delim] && !o->csv_allow_single_column)
            continue; /* one field per record: never valid */
        for (size_t qi = 0; qi < SL_ARRAY_LEN(quotes); qi++) {
            for (size_t ci = 0; ci < SL_ARRAY_LEN(comments); ci++) {
                struct cand cand;
                memset(&cand, 0, sizeof cand);
                cand.d.delim = delim;
                cand.d.quote = quotes[qi].quote;
                cand.d.esc = quotes[qi].esc;
                cand.d.comment = comments[ci];
                cand.delim_rank = delim == hint ? -1 : (int)di;
                cand.quote_rank = cand.d.quote == '"' ? 0 : cand.d.quote == 0 ? 1 : 2;
                cand.esc_rank = cand.d.esc == ESC_DOUBLE ? 2 : cand.d.esc == ESC_BACKSLASH ? 1 : 0;

                /* '"' stays a candidate when absent (the usual default, and
                 * files of one table then share a key); another absent quote
                 * only repeats "none" */
                if (cand.d.quote && cand.d.quote != '"' && !present[(unsigned char)cand.d.quote])
                    continue;
                struct dialect eff = cand.d;
                if (eff.quote && !present[(unsigned char)eff.quote]) {
                    eff.quote = 0;
                    eff.esc = ESC_NONE;
                }
                if (eff.esc == ESC_BACKSLASH && !present['\\'])
                    eff.esc = ESC_NONE;
                if (eff.comment && !present[(unsigned char)eff.comment])
                    eff.comment = 0;

                size_t k;
                for (k = 0; k < n_eval; k++)
                    if (same_dialect(&evaluated[k].d, &eff))
                        break;
                if (k == n_eval) {
                    memset(&evaluated[k], 0, sizeof evaluated[k]);
                    evaluated[k].d = eff;
                    eval_candidate(c->text, c->text_len, at_eof, max_rows,
                                   o->csv_allow_single_column, kbuf, ktmp, fbuf, &evaluated[k]);
                    n_eval++;
                }
                /* the statistics of the effective parse, the ranks of the candidate */
                struct dialect nominal = cand.d;
                int dr = cand.delim_rank, qr = cand.quote_rank, er = cand.esc_rank;
                cand = evaluated[k];
                cand.d = nominal;
                cand.delim_rank = dr;
                cand.quote_rank = qr;
                cand.esc_rank = er;
                if (nominal.comment && !eff.comment)
                    cand.hash_mismatch = false;
                if (cand.parsed && cand.n > *max_records)
                    *max_records = cand.n;
                if (!cand.valid)
                    continue;
                if (!*found || better(&cand, &c->win)) {
                    c->win = cand;
                    *found = true;
                }
            }
        }
    }
done:
    sl_free(kbuf);
    sl_free(ktmp);
    sl_free(fbuf);
    return rc;
}

/* ---- The main pass: R0, data records, the tail ---- */

static bool trimmed_ieq(const char *a, size_t alen, const char *b, size_t blen)
{
    while (alen && (*a == ' ' || *a == '\t')) {
        a++;
        alen--;
    }
    while (alen && (a[alen - 1] == ' ' || a[alen - 1] == '\t'))
        alen--;
    while (blen && (*b == ' ' || *b == '\t')) {
        b++;
        blen--;
    }
    while (blen && (b[blen - 1] == ' ' || b[blen - 1] == '\t'))
        blen--;
    return alen == blen && strncasecmp(a, b, alen) == 0;
}

/* Feeds one data record (head or tail) to the column accumulators. */
static void feed_record(struct csv_ctx *c, const struct reader *r, const struct rec *rec)
{
    for (size_t j = 0; j < c->n_cols; j++) {
        if (j >= rec->n_fields) {
            sl_infer_col_add_null(&c->cols[j]);
            continue;
        }
        const struct field *f = &r->fields[j];
        const char *v = field_ptr(r, f);
        sl_infer_col_add(&c->cols[j], v, f->len, f->quoted);
        if (c->have_r0 && !c->recurs[j] && !c->r0[j].missing &&
            trimmed_ieq(v, f->len, c->r0[j].s, c->r0[j].len))
            c->recurs[j] = true;
    }
}

static int keep_r0(struct csv_ctx *c, const struct reader *r, const struct rec *rec)
{
    c->r0 = sl_calloc(c->n_cols ? c->n_cols : 1, sizeof *c->r0);
    if (!c->r0)
        return nomem(c->err, "header cells");
    for (size_t j = 0; j < c->n_cols; j++) {
        struct cell *cl = &c->r0[j];
        if (j >= rec->n_fields) {
            cl->missing = true;
            cl->s = sl_strdup("");
            if (!cl->s)
                return nomem(c->err, "header cells");
            continue;
        }
        const struct field *f = &r->fields[j];
        cl->s = sl_strndup(field_ptr(r, f), f->len);
        if (!cl->s)
            return nomem(c->err, "header cells");
        for (size_t i = 0; i < f->len; i++)
            if (cl->s[i] == '\0')
                cl->s[i] = '?';
        cl->len = f->len;
        cl->quoted = f->quoted;
    }
    c->have_r0 = true;
    return SL_OK;
}

static int main_pass(struct csv_ctx *c, bool at_eof)
{
    struct reader r;
    struct rec rec;
    size_t idx = 0;
    size_t sample_rows = c->o->sample_rows ? c->o->sample_rows : 20000;
    size_t dialect_rows = c->o->dialect_rows ? c->o->dialect_rows : 2048;
    int64_t fed = 0;
    int rc = SL_OK;

    /* NL_UNKNOWN: the newline is found again exactly as the scoring pass found it */
    reader_init(&r, c->text, c->text_len, at_eof, &c->win.d, NL_UNKNOWN, c->fields,
                c->win.kstar + 1);
    for (;;) {
        enum rr rr = read_record(&r, &rec);
        if (rr == RR_NOMEM) {
            rc = nomem(c->err, "field values");
            break;
        }
        if (rr == RR_BAD || rr == RR_LONG) {
            c->bad_late = true; /* beyond the dialect sample: stop counting here */
            break;
        }
        if (rr != RR_RECORD)
            break;
        c->any_quoted |= rec.any_quoted;
        if (idx < c->win.m) { /* preamble */
            idx++;
            continue;
        }
        if (idx == c->win.m) {
            if ((rc = keep_r0(c, &r, &rec)) != SL_OK)
                break;
            c->r0_line = rec.line;
            c->r0_end_line = rec.end_line;
            c->r0_start = rec.start;
            c->r0_end = rec.end;
            idx++;
            continue;
        }
        if (!c->have_r1) {
            c->have_r1 = true;
            c->r1_line = rec.line;
            c->data_start = rec.start;
        }
        c->data_end = rec.end;
        c->n_data++;
        if (rec.n_fields > c->win.kstar && idx >= dialect_rows)
            c->n_overflow++;
        if (fed < (int64_t)sample_rows) {
            feed_record(c, &r, &rec);
            fed++;
        }
        idx++;
    }
    reader_cleanup(&r);
    return rc;
}

/* Parses the tail window with the head's dialect (§4): everything through
 * the first newline is discarded, and the whole tail when a record's field
 * count differs from k* or a record fails. */
static int tail_pass(struct csv_ctx *c, const char *tail, size_t tail_len)
{
    const char *t = tail;
    size_t n = tail_len;
    int rc;

    if (!tail || !tail_len)
        return SL_OK;
    if (c->enc == ENC_UTF16LE || c->enc == ENC_UTF16BE || c->enc == ENC_CP1252) {
        if (c->enc != ENC_CP1252 && (n & 1)) {
            t++; /* the suffix starts mid code unit */
            n--;
        }
        if ((rc = transcode(t, n, c->enc, &c->tail_buf, c->err)) != SL_OK)
            return rc;
        t = c->tail_buf.data;
        n = c->tail_buf.len;
    }
    /* discard through the first newline */
    char nl_char = c->win.nl == NL_CR ? '\r' : '\n';
    const char *e = memchr(t, nl_char, n);
    if (!e)
        return SL_OK;
    size_t skip = (size_t)(e - t) + 1;
    if (c->win.nl == NL_CR && skip < n && t[skip] == '\n')
        skip++;
    t += skip;
    n -= skip;

    for (int pass = 0; pass < 2; pass++) {
        struct reader r;
        struct rec rec;
        bool ok = true;
        reader_init(&r, t, n, true, &c->win.d, c->win.nl, c->fields, pass ? c->win.kstar + 1 : 0);
        for (;;) {
            enum rr rr = read_record(&r, &rec);
            if (rr == RR_END)
                break;
            if (rr == RR_NOMEM) {
                reader_cleanup(&r);
                return nomem(c->err, "tail values");
            }
            if (rr != RR_RECORD || rec.n_fields != c->win.kstar) {
                ok = false;
                break;
            }
            if (pass) {
                c->any_quoted |= rec.any_quoted;
                feed_record(c, &r, &rec);
                c->n_tail++;
            }
        }
        reader_cleanup(&r);
        if (!ok)
            return SL_OK; /* misaligned (a quoted newline) or broken: no tail */
    }
    return SL_OK;
}

/* ---- Header detection (§6.4 steps 1-5, 7) ---- */

static void trim_span(const char **p, size_t *len)
{
    while (*len && (**p == ' ' || **p == '\t')) {
        (*p)++;
        (*len)--;
    }
    while (*len && ((*p)[*len - 1] == ' ' || (*p)[*len - 1] == '\t'))
        (*len)--;
}

static bool plausible_name(const struct sl_infer_cfg *cfg, const char *p, size_t len)
{
    trim_span(&p, &len);
    if (len == 0)
        return false;
    size_t chars = 0;
    bool letter = false;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch == '\r' || ch == '\n')
            return false;
        if ((ch & 0xC0) != 0x80)
            chars++;
        /* non-ASCII bytes count as letters: names in other scripts are names */
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch >= 0x80)
            letter = true;
    }
    if (chars > NAME_MAX_CHARS || !letter)
        return false;
    return !sl_infer_is_typed_value(cfg, p, len);
}

/* Trimmed span of an R0 cell. */
static void cell_span(const struct cell *cl, const char **p, size_t *len)
{
    *p = cl->s;
    *len = cl->len;
    trim_span(p, len);
}

static int cmp_cells_ci(const void *a, const void *b)
{
    const struct cell *x = *(const struct cell *const *)a, *y = *(const struct cell *const *)b;
    const char *px, *py;
    size_t nx, ny;
    cell_span(x, &px, &nx);
    cell_span(y, &py, &ny);
    int r = strncasecmp(px, py, nx < ny ? nx : ny);
    if (r)
        return r;
    return nx < ny ? -1 : nx > ny;
}

/* Are the R0 cells pairwise distinct (trimmed, case-insensitive)? Sorting
 * keeps a 16384-column header linear-logarithmic. */
static int r0_distinct(struct csv_ctx *c, bool *distinct)
{
    *distinct = true;
    if (c->n_cols < 2)
        return SL_OK;
    const struct cell **v = sl_calloc(c->n_cols, sizeof *v);
    if (!v)
        return nomem(c->err, "header test");
    for (size_t j = 0; j < c->n_cols; j++)
        v[j] = &c->r0[j];
    qsort(v, c->n_cols, sizeof *v, cmp_cells_ci);
    for (size_t j = 1; j < c->n_cols && *distinct; j++)
        if (cmp_cells_ci(&v[j - 1], &v[j]) == 0)
            *distinct = false;
    sl_free(v);
    return SL_OK;
}

struct header_eval {
    bool present;
    const char *rule;
    bool single_record;
    bool *typed, *parses, *is_null, *name_ok; /* per column */
    struct sl_infer_result *t;                /* T_j from R1..Rn */
};

static void header_eval_cleanup(struct header_eval *h, size_t n_cols)
{
    if (h->t)
        for (size_t j = 0; j < n_cols; j++)
            sl_infer_result_cleanup(&h->t[j]);
    sl_free(h->t);
    sl_free(h->typed);
    sl_free(h->parses);
    sl_free(h->is_null);
    sl_free(h->name_ok);
}

static int decide_header(struct csv_ctx *c, struct header_eval *h)
{
    size_t n = c->n_cols;
    h->t = sl_calloc(n ? n : 1, sizeof *h->t);
    h->typed = sl_calloc(n ? n : 1, sizeof(bool));
    h->parses = sl_calloc(n ? n : 1, sizeof(bool));
    h->is_null = sl_calloc(n ? n : 1, sizeof(bool));
    h->name_ok = sl_calloc(n ? n : 1, sizeof(bool));
    if (!h->t || !h->typed || !h->parses || !h->is_null || !h->name_ok)
        return nomem(c->err, "header test");

    bool any_typed = false, typed_present = false, names_ok = true;
    for (size_t j = 0; j < n; j++) {
        int rc = sl_infer_col_result(&c->cols[j], &h->t[j], c->err);
        if (rc)
            return rc;
        const struct cell *cl = &c->r0[j];
        h->typed[j] = sl_infer_col_is_typed(&c->cols[j]);
        h->is_null[j] = cl->missing || sl_infer_null_token(&c->icfg, cl->s, cl->len) >= 0;
        h->parses[j] = !h->is_null[j] &&
                       sl_infer_parses_as(&c->icfg, cl->s, cl->len, h->t[j].type, h->t[j].format);
        h->name_ok[j] = !cl->missing && plausible_name(&c->icfg, cl->s, cl->len);
        if (h->typed[j]) {
            any_typed = true;
            if (!h->is_null[j] && !h->parses[j])
                typed_present = true;
        }
        if (!h->name_ok[j])
            names_ok = false;
    }
    h->single_record = c->n_data == 0 && c->n_tail == 0;

    if (c->o->csv_header) {
        h->present = c->o->csv_header > 0;
        h->rule = "forced";
        return SL_OK;
    }
    if (h->single_record) {
        h->present = names_ok;
        h->rule = "names";
        return SL_OK;
    }
    if (any_typed) {
        h->present = typed_present;
        h->rule = "typed";
        return SL_OK;
    }
    /* all-string file: distinct plausible names that never recur in their column */
    bool distinct;
    int rc = r0_distinct(c, &distinct);
    if (rc)
        return rc;
    bool recurs = false;
    for (size_t j = 0; j < n; j++)
        recurs |= c->recurs[j];
    h->present = names_ok && distinct && !recurs;
    h->rule = "names";
    return SL_OK;
}

/* ---- Output ---- */

static int set_str(json_t *obj, const char *key, const char *val, struct sl_err *err)
{
    json_t *s = json_string(val);
    if (!s || json_object_set_new(obj, key, s) != 0)
        return nomem(err, key);
    return SL_OK;
}

/* A JSON string from arbitrary text: at most max bytes (cut at a character
 * boundary), invalid UTF-8 and NUL replaced by '?'. */
static json_t *json_text(const char *p, size_t len, size_t max)
{
    if (len > max) {
        len = max;
        while (len && ((unsigned char)p[len] & 0xC0) == 0x80)
            len--;
    }
    json_t *s = json_stringn(p, len);
    if (s && !memchr(p, '\0', len))
        return s;
    json_decref(s);
    char *copy = sl_strndup(p, len);
    if (!copy)
        return NULL;
    size_t ok;
    while ((ok = utf8_valid_prefix((const unsigned char *)copy, len, true)) < len)
        copy[ok] = '?';
    for (size_t i = 0; i < len; i++)
        if (copy[i] == '\0')
            copy[i] = '?';
    s = json_stringn(copy, len);
    sl_free(copy);
    return s;
}

static const char *tz_name(enum sl_ct_tz tz)
{
    return tz == SL_CT_TZ_EXPLICIT ? "explicit" : tz == SL_CT_TZ_NAIVE ? "naive" : NULL;
}

/* The JSON array text of the null tokens seen in typed columns. */
static char *null_tokens_text(const struct csv_ctx *c, const struct sl_infer_result *res)
{
    uint64_t seen = 0;
    for (size_t j = 0; j < c->n_cols; j++) {
        enum sl_ct_kind k = res[j].type->kind;
        if (k != SL_CT_STRING && k != SL_CT_NULL)
            seen |= res[j].tokens_seen;
    }
    json_t *arr = json_array();
    if (!arr)
        return NULL;
    for (size_t i = 0; i < c->icfg.n_tokens; i++) {
        if (!(seen & ((uint64_t)1 << i)))
            continue;
        json_t *s = json_text(c->icfg.tokens[i], c->icfg.token_len[i], 256);
        if (!s || json_array_append_new(arr, s) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    char *txt = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    return txt; /* malloc'd by jansson */
}

/* One alternative ("present"/"absent") of the evidence: skip, null tokens and
 * the columns with names and types. */
static json_t *alt_json(const struct csv_ctx *c, const struct sl_infer_result *res,
                        const struct sl_cschema *names, size_t skip)
{
    json_t *alt = json_object(), *cols = json_array();
    char *tokens = NULL;
    if (!alt || !cols)
        goto fail;
    if (json_object_set_new(alt, "skip", json_integer((json_int_t)skip)) != 0)
        goto fail;
    tokens = null_tokens_text(c, res);
    if (!tokens || set_str(alt, "null_tokens", tokens, NULL) != SL_OK)
        goto fail;
    for (size_t j = 0; j < c->n_cols; j++) {
        json_t *col = json_object();
        char *type = sl_ctype_to_string(res[j].type);
        if (!col || !type || json_array_append_new(cols, col) != 0) {
            sl_free(type);
            json_decref(col);
            goto fail;
        }
        const char *nm = names->cols[j].name;
        const char *src = names->cols[j].source_name;
        int bad = set_str(col, "name", nm, NULL) || set_str(col, "type", type, NULL);
        sl_free(type);
        if (!bad && src) {
            json_t *s = json_text(src, strlen(src), 4096);
            bad = !s || json_object_set_new(col, "source_name", s) != 0;
        }
        if (!bad && res[j].format[0])
            bad = set_str(col, "format", res[j].format, NULL);
        if (!bad && res[j].type->kind == SL_CT_TIMESTAMP && tz_name(res[j].type->tz))
            bad = set_str(col, "tz", tz_name(res[j].type->tz), NULL);
        if (!bad && res[j].type->kind == SL_CT_NULL)
            bad = json_object_set_new(col, "placeholder", json_true()) != 0;
        if (!bad && res[j].ambiguous_date)
            bad = json_object_set_new(col, "ambiguous_date", json_true()) != 0;
        if (!bad)
            bad = json_object_set_new(col, "n_values", json_integer(res[j].n_values)) != 0 ||
                  json_object_set_new(col, "n_nulls", json_integer(res[j].n_nulls)) != 0;
        if (bad)
            goto fail;
    }
    if (json_object_set_new(alt, "columns", cols) != 0) {
        cols = NULL;
        goto fail;
    }
    free(tokens);
    return alt;
fail:
    free(tokens);
    json_decref(cols);
    json_decref(alt);
    return NULL;
}

/* Column names under either decision (a schema whose types are NULL). */
static int names_for(const struct csv_ctx *c, bool present, struct sl_cschema *s)
{
    for (size_t j = 0; j < c->n_cols; j++) {
        char *nm;
        const char *src = NULL;
        size_t src_len = 0;
        if (present) {
            src = c->r0[j].s;
            src_len = c->r0[j].len;
            trim_span(&src, &src_len);
            nm = sl_colname_normalise(src, src_len, j);
        } else {
            nm = sl_asprintf("col%zu", j);
        }
        char *src_copy = src ? sl_strndup(src, src_len) : NULL;
        int rc = SL_ENOMEM;
        if (nm && (!src || src_copy))
            rc = sl_cschema_add_take(s, nm, src_copy, NULL, c->err);
        sl_free(nm);
        sl_free(src_copy);
        if (rc)
            return rc == SL_ENOMEM ? nomem(c->err, "column names") : rc;
    }
    return sl_cschema_dedupe_names(s, c->err);
}

static json_t *evidence_json(const struct csv_ctx *c, const struct header_eval *h,
                             json_t *alt_present, json_t *alt_absent)
{
    json_t *ev = json_object(), *r0 = json_array(), *parses = json_array();
    if (!ev || !r0 || !parses)
        goto fail;
    for (size_t j = 0; j < c->n_cols; j++) {
        const char *p = c->r0[j].s;
        size_t len = c->r0[j].len;
        trim_span(&p, &len);
        json_t *s = json_text(p, len, R0_CELL_MAX);
        if (!s || json_array_append_new(r0, s) != 0)
            goto fail;
        char *type = sl_ctype_to_string(h->t[j].type);
        json_t *pj = type ? json_pack("{s:s, s:b, s:b, s:b, s:b, s:b}", "type", type, "typed",
                                      h->typed[j], "null", h->is_null[j], "parses", h->parses[j],
                                      "name", h->name_ok[j], "recurs", c->recurs[j])
                          : NULL;
        sl_free(type);
        if (!pj || json_array_append_new(parses, pj) != 0)
            goto fail;
    }
    if (json_object_set_new(ev, "version", json_integer(1)))
        goto fail;
    if (json_object_set_new(ev, "r0", r0)) { /* the _new setters take the value even on failure */
        r0 = NULL;
        goto fail;
    }
    r0 = NULL;
    if (json_object_set_new(ev, "parses", parses)) {
        parses = NULL;
        goto fail;
    }
    parses = NULL;
    if (set_str(ev, "decision", h->present ? "PRESENT" : "ABSENT", NULL) ||
        set_str(ev, "rule", h->rule, NULL) ||
        json_object_set_new(ev, "single_record", json_boolean(h->single_record)) ||
        json_object_set(ev, "present", alt_present) || json_object_set(ev, "absent", alt_absent))
        goto fail;
    return ev;
fail:
    json_decref(r0);
    json_decref(parses);
    json_decref(ev);
    return NULL;
}

/* Fills out->schema from names and results (types are taken). */
static int build_schema(struct csv_ctx *c, struct sl_cschema *names, struct sl_infer_result *res)
{
    struct sl_cls_result *out = c->out;
    for (size_t j = 0; j < c->n_cols; j++) {
        struct sl_ccolumn *nc = &names->cols[j];
        int rc = sl_cschema_add_take(&out->schema, nc->name, nc->source_name, res[j].type, c->err);
        res[j].type = NULL;
        if (rc)
            return rc;
        struct sl_ccolumn *col = &out->schema.cols[out->schema.n_cols - 1];
        if (res[j].format[0] && !(col->format = sl_strdup(res[j].format)))
            return nomem(c->err, "column format");
        col->ambiguous_date = res[j].ambiguous_date;
        col->n_values = res[j].n_values;
        col->n_nulls = res[j].n_nulls;
        if (res[j].ambiguous_date)
            sl_cls_warn(out, "AMBIGUOUS_DATE",
                        "column \"%s\": every value is an ambiguous day/month date", nc->name);
    }
    return SL_OK;
}

static int format_params(struct csv_ctx *c, const struct header_eval *h, size_t skip,
                         const char *tokens)
{
    json_t *fp = c->out->format_params;
    const struct dialect *d = &c->win.d;
    char delim[2] = {d->delim, 0};
    char quote[2] = {d->quote, 0};
    char esc[2] = {d->esc == ESC_DOUBLE ? d->quote : d->esc == ESC_BACKSLASH ? '\\' : 0, 0};
    char comment[2] = {d->comment, 0};
    char skip_s[32];
    const char *nl = c->win.nl == NL_CRLF ? "\r\n" : c->win.nl == NL_CR ? "\r" : "\n";
    snprintf(skip_s, sizeof skip_s, "%zu", skip);

    if (set_str(fp, "delimiter", delim, c->err) || set_str(fp, "quoteChar", quote, c->err) ||
        set_str(fp, "escapeChar", esc, c->err) ||
        set_str(fp, "skip.header.line.count", skip_s, c->err) ||
        set_str(fp, "areColumnsQuoted", c->any_quoted ? "true" : "false", c->err) ||
        set_str(fp, "sluice.csv.newline", nl, c->err) ||
        set_str(fp, "sluice.csv.comment", comment, c->err) ||
        set_str(fp, "sluice.csv.trailing_delimiter", c->win.trailing ? "true" : "false", c->err) ||
        set_str(fp, "sluice.csv.trim", "true", c->err) ||
        set_str(fp, "sluice.encoding", enc_names[c->enc], c->err) ||
        set_str(fp, "sluice.null_tokens", tokens, c->err) ||
        set_str(fp, "sluice.csv.header", h->present ? "PRESENT" : "ABSENT", c->err) ||
        set_str(fp, "sluice.header_decision", h->rule, c->err))
        return c->err ? c->err->code : SL_ENOMEM;
    return SL_OK;
}

static int classify(struct csv_ctx *c, const char *data, size_t len, bool at_eof, const char *tail,
                    size_t tail_len, const char *name)
{
    struct sl_cls_result *out = c->out;
    struct header_eval h = {0};
    struct sl_infer_result *res_absent = NULL;
    struct sl_cschema names_p = {0}, names_a = {0};
    json_t *alt_p = NULL, *alt_a = NULL;
    char *tokens = NULL;
    const char *why;
    int rc;

    if ((rc = decode_head(c, data, len, at_eof, &why)) != SL_OK)
        return rc;
    if (why)
        return not_text(out, why);
    c->bytes_ratio = c->text_len ? (double)len / (double)c->text_len : 1.0;

    bool found = false;
    size_t max_records = 0;
    if ((rc = choose_dialect(c, at_eof, name, &found, &max_records)) != SL_OK)
        return rc;
    if (!at_eof && (found ? c->win.n : max_records) < 2)
        return not_text(out, "need_more_data");
    if (!found)
        return not_text(out, blank_text(c->text, c->text_len) ? "empty" : "no_consistent_dialect");

    c->n_cols = c->win.kstar - (c->win.trailing ? 1 : 0);
    if (c->win.kstar > SL_CSV_MAX_COLUMNS)
        return not_text(out, "too_many_columns");
    char delim = c->win.d.delim;
    if ((rc = sl_infer_cfg_init(&c->icfg, c->o, delim, c->err)) != SL_OK)
        return rc;
    c->fields = sl_calloc(c->win.kstar + 1, sizeof *c->fields);
    c->cols = sl_calloc(c->n_cols ? c->n_cols : 1, sizeof *c->cols);
    c->recurs = sl_calloc(c->n_cols ? c->n_cols : 1, sizeof *c->recurs);
    if (!c->fields || !c->cols || !c->recurs)
        return nomem(c->err, "columns");
    for (size_t j = 0; j < c->n_cols; j++)
        sl_infer_col_init(&c->cols[j], &c->icfg);

    if ((rc = main_pass(c, at_eof)) != SL_OK)
        return rc;
    if (SL_NEVER(!c->have_r0))
        return sl_err_set(c->err, SL_EINTERNAL, "classify csv: no first record");
    if ((rc = tail_pass(c, tail, tail_len)) != SL_OK)
        return rc;

    /* header test on R1..Rn, then both outcomes for the evidence */
    if ((rc = decide_header(c, &h)) != SL_OK)
        goto done;
    res_absent = sl_calloc(c->n_cols ? c->n_cols : 1, sizeof *res_absent);
    if (!res_absent) {
        rc = nomem(c->err, "column types");
        goto done;
    }
    for (size_t j = 0; j < c->n_cols; j++) {
        struct sl_infer_col with_r0 = c->cols[j];
        if (c->r0[j].missing)
            sl_infer_col_add_null(&with_r0);
        else
            sl_infer_col_add(&with_r0, c->r0[j].s, c->r0[j].len, c->r0[j].quoted);
        if ((rc = sl_infer_col_result(&with_r0, &res_absent[j], c->err)) != SL_OK)
            goto done;
    }
    if ((rc = names_for(c, true, &names_p)) != SL_OK ||
        (rc = names_for(c, false, &names_a)) != SL_OK)
        goto done;
    size_t skip_p = c->have_r1 ? c->r1_line : c->r0_end_line + 1;
    size_t skip_a = c->r0_line;
    alt_p = alt_json(c, h.t, &names_p, skip_p);
    alt_a = alt_json(c, res_absent, &names_a, skip_a);
    if (!alt_p || !alt_a) {
        rc = nomem(c->err, "header evidence");
        goto done;
    }
    out->header_evidence = evidence_json(c, &h, alt_p, alt_a);
    if (!out->header_evidence) {
        rc = nomem(c->err, "header evidence");
        goto done;
    }

    /* the chosen outcome */
    struct sl_infer_result *res = h.present ? h.t : res_absent;
    tokens = null_tokens_text(c, res);
    if (!tokens) {
        rc = nomem(c->err, "null tokens");
        goto done;
    }
    if ((rc = build_schema(c, h.present ? &names_p : &names_a, res)) != SL_OK)
        goto done;
    if ((rc = format_params(c, &h, h.present ? skip_p : skip_a, tokens)) != SL_OK)
        goto done;

    /* records and certainty (§5) */
    int64_t n_data = c->n_data + (h.present ? 0 : 1);
    out->n_records = n_data;
    out->records_exact = at_eof && !c->bad_late;
    out->truncated = !out->records_exact;
    out->decoded_bytes = (int64_t)(len + (tail ? tail_len : 0));
    size_t span = h.present ? (c->have_r1 ? c->data_end - c->data_start : 0)
                            : (c->have_r1 ? c->data_end : c->r0_end) - c->r0_start;
    if (n_data > 0)
        out->avg_record_bytes = (double)span * c->bytes_ratio / (double)n_data;
    double certainty = (double)c->win.match_post / (double)(c->win.n - c->win.m);
    int64_t after_preamble = c->n_data + 1;
    if (at_eof && (after_preamble == 1 || (after_preamble == 2 && h.present)))
        certainty = CERTAINTY_FEW_ROWS;
    if (c->win.n_json * 10 >= c->win.n * 9)
        certainty /= 2; /* probably broken JSON (§5) */
    out->certainty = certainty;
    snprintf(out->classification, sizeof out->classification, "csv");
    out->reason[0] = '\0';
    if (c->n_overflow || c->bad_late)
        sl_cls_warn(out, "MALFORMED_RECORDS",
                    "%zu record(s) after the dialect sample have more than %zu fields%s",
                    c->n_overflow, c->win.kstar,
                    c->bad_late ? "; a record failed to parse and the count stops there" : "");
    rc = SL_OK;
done:
    free(tokens);
    json_decref(alt_p);
    json_decref(alt_a);
    sl_cschema_cleanup(&names_p);
    sl_cschema_cleanup(&names_a);
    if (res_absent)
        for (size_t j = 0; j < c->n_cols; j++)
            sl_infer_result_cleanup(&res_absent[j]);
    sl_free(res_absent);
    header_eval_cleanup(&h, c->n_cols);
    return rc;
}

int sl_csv_classify(const char *data, size_t len, bool at_eof, const char *tail, size_t tail_len,
                    const char *name, const struct sl_crawl_opts *o, struct sl_cls_result *out,
                    struct sl_err *err)
{
    struct sl_crawl_opts defaults;
    struct csv_ctx c;
    int rc;

    if (!o) {
        sl_crawl_opts_default(&defaults);
        o = &defaults;
    }
    memset(&c, 0, sizeof c);
    c.o = o;
    c.out = out;
    c.err = err;
    sl_buf_init(&c.text_buf, 0);
    sl_buf_init(&c.tail_buf, 0);
    sl_cschema_cleanup(&out->schema);
    json_decref(out->header_evidence);
    out->header_evidence = NULL;
    if (!out->format_params && !(out->format_params = json_object()))
        return nomem(err, "format parameters");
    if (!data)
        len = 0;

    rc = classify(&c, data ? data : "", len, at_eof, tail, tail_len, name);
    ctx_cleanup(&c);
    if (rc != SL_OK || !out->classification[0]) {
        /* not text, or a failure: leave nothing half-filled */
        sl_cschema_cleanup(&out->schema);
        json_decref(out->header_evidence);
        out->header_evidence = NULL;
        json_object_clear(out->format_params);
        if (rc != SL_OK) {
            out->classification[0] = '\0';
            out->certainty = 0;
        }
    }
    return rc;
}

/* ---- Compatibility key (§10.1) ---- */

static const char *param(const json_t *fp, const char *key, const char *dflt)
{
    const char *s = json_string_value(json_object_get(fp, key));
    return s ? s : dflt;
}

char *sl_csv_compat_key(const json_t *format_params)
{
    return sl_asprintf("csv|%s|%s|%s|%s", param(format_params, "delimiter", ","),
                       param(format_params, "quoteChar", ""),
                       param(format_params, "escapeChar", ""),
                       param(format_params, "sluice.encoding", "UTF-8"));
}

/* ---- Per-table reconciliation (§6.4 step 6) ---- */

static bool r0_equal(const json_t *a, const json_t *b)
{
    if (!json_is_array(a) || !json_is_array(b) || json_array_size(a) != json_array_size(b))
        return false;
    for (size_t i = 0; i < json_array_size(a); i++) {
        const char *x = json_string_value(json_array_get(a, i));
        const char *y = json_string_value(json_array_get(b, i));
        if (!x || !y || strcmp(x, y) != 0)
            return false;
    }
    return true;
}

static uint64_t r0_hash(const json_t *r0)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a over the cells and a separator after each */
    for (size_t i = 0; i < json_array_size(r0); i++) {
        const char *s = json_string_value(json_array_get(r0, i));
        for (; s && *s; s++) {
            h ^= (unsigned char)*s;
            h *= 1099511628211ull;
        }
        h ^= 0x1f; /* cell separator; r0_equal() confirms every hash match */
        h *= 1099511628211ull;
    }
    return h ^ json_array_size(r0);
}

struct r0_key {
    uint64_t hash;
    size_t file;
};

static int cmp_r0_key(const void *a, const void *b)
{
    const struct r0_key *x = a, *y = b;
    if (x->hash != y->hash)
        return x->hash < y->hash ? -1 : 1;
    return x->file < y->file ? -1 : x->file > y->file;
}

/* Majority of want[] among files with mask[i]; ties go to the first such file. */
static bool majority(const bool *dec, const bool *mask, size_t n)
{
    size_t yes = 0, no = 0;
    int first = -1;
    for (size_t i = 0; i < n; i++) {
        if (!mask[i])
            continue;
        if (first < 0)
            first = (int)i;
        if (dec[i])
            yes++;
        else
            no++;
    }
    if (yes != no)
        return yes > no;
    return first >= 0 && dec[first];
}

int sl_csv_reconcile_headers(const json_t *const *evidence, size_t n_files, bool *table_present,
                             struct sl_csv_header_vote *votes, struct sl_err *err)
{
    bool *own = NULL, *cur = NULL, *mask = NULL;
    struct r0_key *keys = NULL;
    int rc = SL_OK;

    *table_present = false;
    if (n_files == 0)
        return SL_OK;
    own = sl_calloc(n_files, sizeof *own);
    cur = sl_calloc(n_files, sizeof *cur);
    mask = sl_calloc(n_files, sizeof *mask);
    if (!own || !cur || !mask) {
        rc = sl_err_set(err, SL_ENOMEM, "reconcile csv headers: out of memory");
        goto done;
    }
    bool any_forced = false, any_typed = false;
    for (size_t i = 0; i < n_files; i++) {
        const char *d = json_string_value(json_object_get(evidence[i], "decision"));
        const char *rule = json_string_value(json_object_get(evidence[i], "rule"));
        if (!d || !rule || (strcmp(d, "PRESENT") && strcmp(d, "ABSENT"))) {
            rc = sl_err_set(err, SL_EPARSE,
                            "reconcile csv headers: file %zu: malformed header evidence", i);
            goto done;
        }
        own[i] = cur[i] = strcmp(d, "PRESENT") == 0;
        votes[i].present = own[i];
        votes[i].changed = votes[i].ambiguous = false;
        votes[i].rule = strcmp(rule, "forced") == 0  ? "forced"
                        : strcmp(rule, "typed") == 0 ? "typed"
                                                     : "names";
        any_forced |= strcmp(rule, "forced") == 0;
        any_typed |= strcmp(rule, "typed") == 0;
    }

    if (any_forced) {
        for (size_t i = 0; i < n_files; i++)
            mask[i] = strcmp(votes[i].rule, "forced") == 0;
        bool d = majority(cur, mask, n_files);
        for (size_t i = 0; i < n_files; i++) {
            cur[i] = d;
            votes[i].rule = "forced";
        }
        goto finish;
    }
    /* typed decisions outvote names decisions */
    if (any_typed) {
        for (size_t i = 0; i < n_files; i++)
            mask[i] = strcmp(votes[i].rule, "typed") == 0;
        bool d = majority(cur, mask, n_files);
        for (size_t i = 0; i < n_files; i++) {
            if (!mask[i] && cur[i] != d) {
                cur[i] = d;
                votes[i].rule = "typed_vote";
            }
        }
    }
    /* a file whose R0 is some PRESENT file's header is headered too (the
     * PRESENT headers are sorted by hash, so many files stay cheap) */
    keys = sl_calloc(n_files, sizeof *keys);
    if (!keys) {
        rc = sl_err_set(err, SL_ENOMEM, "reconcile csv headers: out of memory");
        goto done;
    }
    size_t n_keys = 0;
    for (size_t i = 0; i < n_files; i++) {
        if (cur[i]) {
            keys[n_keys].hash = r0_hash(json_object_get(evidence[i], "r0"));
            keys[n_keys++].file = i;
        }
    }
    qsort(keys, n_keys, sizeof *keys, cmp_r0_key);
    for (size_t i = 0; i < n_files && n_keys; i++) {
        if (cur[i])
            continue;
        const json_t *ri = json_object_get(evidence[i], "r0");
        struct r0_key want = {r0_hash(ri), 0};
        size_t lo = 0, hi = n_keys;
        while (lo < hi) { /* the first key with this hash */
            size_t mid = lo + (hi - lo) / 2;
            if (keys[mid].hash < want.hash)
                lo = mid + 1;
            else
                hi = mid;
        }
        for (size_t k = lo; k < n_keys && keys[k].hash == want.hash; k++) {
            if (r0_equal(ri, json_object_get(evidence[keys[k].file], "r0"))) {
                cur[i] = true;
                votes[i].rule = "same_r0";
                break;
            }
        }
    }
    /* what is left: majority by object count */
    for (size_t i = 0; i < n_files; i++)
        mask[i] = true;
    bool d = majority(cur, mask, n_files);
    for (size_t i = 0; i < n_files; i++) {
        if (cur[i] != d) {
            cur[i] = d;
            votes[i].ambiguous = true;
            votes[i].rule = "majority";
        }
    }
finish:
    for (size_t i = 0; i < n_files; i++) {
        votes[i].present = cur[i];
        votes[i].changed = cur[i] != own[i];
        if (!votes[i].changed && !votes[i].ambiguous) {
            const char *rule = json_string_value(json_object_get(evidence[i], "rule"));
            votes[i].rule = strcmp(rule, "forced") == 0  ? "forced"
                            : strcmp(rule, "typed") == 0 ? "typed"
                                                         : "names";
        }
    }
    *table_present = cur[0];
done:
    sl_free(own);
    sl_free(cur);
    sl_free(mask);
    sl_free(keys);
    return rc;
}

int sl_csv_header_apply(const json_t *evidence, bool present, struct sl_cschema *schema,
                        json_t *format_params, struct sl_err *err)
{
    const json_t *alt = json_object_get(evidence, present ? "present" : "absent");
    const json_t *cols = json_object_get(alt, "columns");
    const char *own = json_string_value(json_object_get(evidence, "decision"));
    const char *rule = json_string_value(json_object_get(evidence, "rule"));
    const char *tokens = json_string_value(json_object_get(alt, "null_tokens"));
    const json_t *skip = json_object_get(alt, "skip");
    struct sl_cschema s = {0};
    int rc;

    sl_cschema_cleanup(schema);
    if (!json_is_array(cols) || !own || !rule || !tokens || !json_is_integer(skip) ||
        json_integer_value(skip) < 0)
        return sl_err_set(err, SL_EPARSE, "apply csv header decision: malformed header evidence");
    for (size_t j = 0; j < json_array_size(cols); j++) {
        const json_t *col = json_array_get(cols, j);
        const char *nm = json_string_value(json_object_get(col, "name"));
        const char *type = json_string_value(json_object_get(col, "type"));
        const char *src = json_string_value(json_object_get(col, "source_name"));
        const char *fmt = json_string_value(json_object_get(col, "format"));
        const char *tz = json_string_value(json_object_get(col, "tz"));
        if (!nm || !type) {
            rc = sl_err_set(err, SL_EPARSE, "apply csv header decision: column %zu: malformed", j);
            goto fail;
        }
        struct sl_ctype *t;
        if (json_is_true(json_object_get(col, "placeholder"))) {
            if (!(t = sl_ctype_new(SL_CT_NULL))) {
                rc = sl_err_set(err, SL_ENOMEM, "apply csv header decision: out of memory");
                goto fail;
            }
        } else if (!(t = sl_ctype_parse(type, err))) {
            rc = err ? err->code : SL_EPARSE;
            sl_err_prefix(err, "apply csv header decision: column %zu", j);
            goto fail;
        }
        if (t->kind == SL_CT_TIMESTAMP && tz)
            t->tz = strcmp(tz, "explicit") == 0 ? SL_CT_TZ_EXPLICIT : SL_CT_TZ_NAIVE;
        if ((t->kind == SL_CT_DATE || t->kind == SL_CT_TIMESTAMP) && fmt && *fmt)
            t->non_iso = true;
        if ((rc = sl_cschema_add_take(&s, nm, src, t, err)) != SL_OK)
            goto fail;
        struct sl_ccolumn *c = &s.cols[s.n_cols - 1];
        if (fmt && *fmt && !(c->format = sl_strdup(fmt))) {
            rc = sl_err_set(err, SL_ENOMEM, "apply csv header decision: out of memory");
            goto fail;
        }
        c->ambiguous_date = json_is_true(json_object_get(col, "ambiguous_date"));
        c->n_values = json_integer_value(json_object_get(col, "n_values"));
        c->n_nulls = json_integer_value(json_object_get(col, "n_nulls"));
    }
    char skip_s[32];
    snprintf(skip_s, sizeof skip_s, "%lld", (long long)json_integer_value(skip));
    bool changed = (strcmp(own, "PRESENT") == 0) != present;
    if (format_params &&
        (set_str(format_params, "skip.header.line.count", skip_s, err) ||
         set_str(format_params, "sluice.csv.header", present ? "PRESENT" : "ABSENT", err) ||
         set_str(format_params, "sluice.null_tokens", tokens, err) ||
         set_str(format_params, "sluice.header_decision", changed ? "reconciled" : rule, err))) {
        rc = SL_ENOMEM;
        goto fail;
    }
    *schema = s;
    return SL_OK;
fail:
    sl_cschema_cleanup(&s);
    return rc;
}
