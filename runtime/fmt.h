/*
 * runtime/fmt.h - file formats of sources and sinks: one ops table per format
 * (fmt_csv.c: CSV/TSV and other delimited text; fmt_jsonl.c: JSON Lines and
 * JSON arrays), listed by fmt.c. Readers turn a (possibly compressed, possibly
 * byte-ranged) store object into sl_batch rows; writers turn batches into a
 * streamed, optionally compressed upload that is visible only after finish.
 * Decompression is runtime/codec.c; value conversion is runtime/value.c.
 *
 * CSV reading follows spec/crawler.md §6.2, the rules the crawler's sniffer
 * used (crawler/csv.h), re-implemented here because runtime/ may not include
 * crawler/ headers: a quote opens quoting only as a field's first character;
 * inside quotes delimiters and line breaks are literal; a doubled quote (escape
 * SL_FMT_ESC_DOUBLED) or backslash + quote (SL_FMT_ESC_BACKSLASH, where
 * backslash + backslash is a backslash too) is a literal quote; after a closing
 * quote only a delimiter, a line break or the end may follow, else the record
 * is a bad row; a quote inside an unquoted field is literal. Line breaks: the
 * first break outside quotes decides: "\n" or "\r\n" mode ('\n' and "\r\n"
 * end records, a lone '\r' is data) or "\r" mode ('\r' and "\r\n" end
 * records, a lone '\n' is data). A UTF-8 BOM is dropped. At a record start an
 * empty line or a line starting with the comment character is skipped; both
 * count as physical lines. A record longer than SL_FMT_CSV_MAX_RECORD fails
 * the read (SL_EPARSE), as it failed the crawler's dialect. Ragged records
 * (fewer fields) are padded with NULL; records with more fields than the
 * schema are bad rows. Null tokens (§7.3): in typed columns an empty field
 * (quoted or not), a null token (after trimming) and \N are NULL; in string
 * columns only an unquoted empty field and an unquoted \N are NULL.
 *
 * Bad rows (a value that does not convert, too many fields, text after a
 * closing quote, an unterminated quote at the end, a malformed JSON line, a
 * JSON value of the wrong type) are not added to the batch: they go to
 * opts.bad_row, whose return value decides whether reading goes on (SL_OK) or
 * stops (anything else, returned by next_batch). Without a callback a bad row
 * fails the read with SL_EPARSE and "object:line:column: reason".
 *
 * Threads: readers and writers are used by one thread at a time; the ops
 * tables are immutable.
 */
#ifndef SL_FMT_H
#define SL_FMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "batch.h"
#include "buf.h"
#include "codec.h"
#include "err.h"
#include "store.h"
#include "value.h"

#define SL_FMT_CSV_MAX_RECORD ((size_t)1 << 20) /* bytes; fixed by spec/crawler.md §6.2 */
#define SL_FMT_CSV_MAX_COLUMNS 16384            /* the crawler's SL_CSV_MAX_COLUMNS */
#define SL_FMT_JSON_MAX_RECORD ((size_t)16 << 20) /* bytes per JSON line or array element */
#define SL_FMT_READ_LEN ((size_t)256 << 10)     /* bytes decoded per window refill */
#define SL_FMT_OUT_FLUSH ((size_t)256 << 10)    /* writers pass output on in pieces this big */

enum sl_fmt_escape {
    SL_FMT_ESC_DOUBLED = 0, /* "" inside quotes is a quote (RFC 4180) */
    SL_FMT_ESC_BACKSLASH,   /* \" is a quote, \\ a backslash (inside quotes only) */
    SL_FMT_ESC_NONE,
};

enum sl_fmt_json_layout {
    SL_FMT_JSON_AUTO = 0, /* '[' as the first character (after BOM/space) means array */
    SL_FMT_JSON_LINES,
    SL_FMT_JSON_ARRAY,
};

/* Called for each rejected row. object is the object's URI, line its first
 * physical line (1-based; 0 when unknown, in byte-range splits past the
 * first), column the 1-based field (0 when the row as a whole is bad), raw
 * the row's text (no line break). All pointers are borrowed for the call.
 * Return SL_OK to go on, anything else to stop reading. */
typedef int (*sl_fmt_bad_row_fn)(void *ud, const char *object, int64_t line, int column,
                                 const char *reason, const char *raw, size_t raw_len);

struct sl_fmt_opts {
    char delimiter;             /* CSV; default ',' */
    char quote;                 /* CSV; default '"', 0 = no quoting */
    enum sl_fmt_escape escape;  /* CSV; default doubled */
    char comment;               /* CSV; 0 = none */
    bool trim;                  /* CSV: strip spaces/tabs around unquoted fields */
    bool trailing_delimiter;    /* CSV: every record ends with a delimiter (dropped) */
    int skip_lines;             /* CSV: skip.header.line.count, physical lines (split 0 only) */
    bool match_by_name;         /* CSV: the last skipped line is a header; map its
                                   normalised names (spec §6.5) to schema columns */
    const char *const *null_tokens; /* NULL-terminated; borrowed; typed columns only */
    enum sl_fmt_json_layout json_layout;
    /* Byte range of a split: records starting in (range_start, range_end] are
     * read (plus the one at 0 when range_start == 0): a split starts after the
     * first '\n' at or after range_start unless range_start == 0 and ends with
     * the record that holds range_end (Hadoop TextInputFormat). -1 = to the end.
     * Only for uncompressed objects, and for CSV only when no_quoted_newlines
     * says no quoted field holds a line break (a split could start inside one). */
    int64_t range_start, range_end;
    bool no_quoted_newlines;
    const char *object;         /* name in bad rows and origins; NULL = the store URI */
    sl_fmt_bad_row_fn bad_row;  /* NULL: a bad row fails the read */
    void *bad_row_ud;
    bool header;                /* writers: CSV header row; default true */
};

/* Defaults: ',', '"', doubled, no comment, no trim, no skip, positions,
 * auto layout, whole object, header written. */
void sl_fmt_opts_init(struct sl_fmt_opts *o);

struct sl_fmt_reader { const struct sl_fmt_ops *ops; }; /* each format extends it */
struct sl_fmt_writer { const struct sl_fmt_ops *ops; };

struct sl_fmt_ops {
    const char *name; /* "csv", "json" */
    /* Opens object key; st and schema are borrowed until close, o is copied
     * (its strings and null_tokens stay borrowed). *out is owned (close).
     * SL_ECONFIG for contradictory options, store errors, SL_EPARSE for a bad
     * header. */
    int (*reader_open)(struct sl_store *st, const char *key, const struct sl_fmt_opts *o,
                       const struct sl_rschema *schema, struct sl_fmt_reader **out,
                       struct sl_err *err);
    /* Appends rows to b (whose schema is the reader's) until b is full or the
     * object (or split) ends. Returns the number of rows added (0 = the end)
     * or a negative code. Strings live in b's arena. */
    int (*next_batch)(struct sl_fmt_reader *r, struct sl_batch *b, struct sl_err *err);
    void (*reader_close)(struct sl_fmt_reader *r); /* NULL is a no-op */
    /* Starts a streamed upload to key (visible after finish only). */
    int (*writer_open)(struct sl_store *st, const char *key, const struct sl_rschema *schema,
                       enum sl_compression codec, const struct sl_fmt_opts *o,
                       struct sl_fmt_writer **out, struct sl_err *err);
    int (*write_batch)(struct sl_fmt_writer *w, const struct sl_batch *b, struct sl_err *err);
    /* Flushes and commits; frees w whatever the result. */
    int (*writer_finish)(struct sl_fmt_writer *w, struct sl_err *err);
    /* Drops the upload; frees w. NULL is a no-op. */
    void (*writer_abort)(struct sl_fmt_writer *w);
};

extern const struct sl_fmt_ops sl_fmt_csv_ops;
extern const struct sl_fmt_ops sl_fmt_jsonl_ops;

/* The ops of a format name: "csv" "tsv" (csv ops; the caller sets the
 * delimiter), "json" "jsonl" "ndjson"; NULL when unknown. */
const struct sl_fmt_ops *sl_fmt_find(const char *name);

/* Convenience dispatch through r->ops / w->ops. */
int sl_fmt_next_batch(struct sl_fmt_reader *r, struct sl_batch *b, struct sl_err *err);
void sl_fmt_reader_close(struct sl_fmt_reader *r);
int sl_fmt_write_batch(struct sl_fmt_writer *w, const struct sl_batch *b, struct sl_err *err);
int sl_fmt_writer_finish(struct sl_fmt_writer *w, struct sl_err *err);
void sl_fmt_writer_abort(struct sl_fmt_writer *w);

/* ---- Shared by fmt_*.c only (not for callers) ---- */

/* A sliding window over the decoded stream: data[pos..len) is unread; a
 * record being parsed stays contiguous because refills move it to the front. */
struct sl_fmt_win {
    struct sl_decoder *dec; /* owned */
    char *data;             /* owned; cap bytes (+1 for a NUL) */
    size_t pos, len, cap, max; /* bytes; max = most the window may hold */
    int64_t base;           /* stream offset of data[0] */
    bool eof;               /* the decoder has nothing more */
};

int sl_fmt_win_open(struct sl_fmt_win *w, struct sl_store *st, const char *key,
                    const struct sl_fmt_opts *o, size_t max, struct sl_err *err);
/* Reads more after data[len): moves data[pos..len) to the front first and
 * grows the window up to max. Sets eof when nothing came. SL_ELIMIT when the
 * unread part already fills max. */
int sl_fmt_win_more(struct sl_fmt_win *w, struct sl_err *err);
/* Skips through the next '\n' (split starts); sets eof if none. */
int sl_fmt_win_skip_line(struct sl_fmt_win *w, struct sl_err *err);
void sl_fmt_win_cleanup(struct sl_fmt_win *w);

/* Output side of every writer: a buffer flushed to an encoder. */
struct sl_fmt_out {
    struct sl_encoder *enc; /* owned */
    struct sl_buf buf;      /* ceiling SL_FMT_OUT_FLUSH + one record */
};
int sl_fmt_out_open(struct sl_fmt_out *out, struct sl_store *st, const char *key,
                    enum sl_compression codec, struct sl_err *err);
/* Passes the buffer on once it holds SL_FMT_OUT_FLUSH bytes (or always). */
int sl_fmt_out_flush(struct sl_fmt_out *out, bool always, struct sl_err *err);
int sl_fmt_out_finish(struct sl_fmt_out *out, struct sl_err *err);
void sl_fmt_out_abort(struct sl_fmt_out *out);

#endif
