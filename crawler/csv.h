/*
 * crawler/csv.h - the delimited-text classifier (spec/crawler.md §6): encoding,
 * dialect (delimiter, quote, escape, comment, newline, preamble, trailing
 * delimiter), header detection per file and its per-table reconciliation,
 * column names, and column types through crawler/infer.h. Sampling and
 * decompression happen before (crawler/sample.c, crawler/decode.c); grouping
 * after (crawler/group.c).
 *
 * Parsing rules (§6.2; the reader must use the same ones):
 *  - a quote opens quoting only as the first character of a field; inside
 *    quotes delimiters and line breaks are literal; a doubled quote (escape
 *    "doubled") or backslash + quote (escape "\") is a literal quote, and
 *    with escape "\" also backslash + backslash is a literal backslash (any
 *    other backslash is literal); after a closing quote only a delimiter, a
 *    line break or the end may follow; a quote inside an unquoted field is
 *    literal; escapes have no meaning outside quotes.
 *  - the newline (sluice.csv.newline) is the first "\r\n", "\n" or "\r" outside
 *    quotes. With "\n", "\r\n" also ends a record (the '\r' is dropped) and a
 *    lone '\r' is data; with "\r\n", a lone "\n" also ends a record and a lone
 *    '\r' is data; with "\r", "\r\n" is one break and a lone '\n' is data.
 *  - at a record start, an empty line is skipped and so is a line starting
 *    with the comment character; both count as physical lines.
 *  - a record longer than 1 MiB fails the dialect.
 *
 * Thread safety: no shared state; each call works on its own buffers.
 */
#ifndef SL_CSV_H
#define SL_CSV_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "crawler/classify.h"
#include "runtime/err.h"

#define SL_CSV_MAX_RECORD  ((size_t)1 << 20) /* bytes; fixed by §6.2 */
#define SL_CSV_MAX_COLUMNS 16384             /* wider files are reported, not classified */

/*
 * Classifies one object's sample as delimited text.
 *
 *  data, len      the head window after decompression (§4), as bytes of the
 *                 object's own encoding (this function decodes UTF-16/1252)
 *  at_eof         the window reaches the end of the object; otherwise the
 *                 last, possibly cut record is dropped
 *  tail, tail_len optional tail window (§4; NULL/0 for none): the bytes
 *                 through its first newline are discarded, the rest is parsed
 *                 with the head's dialect and feeds type inference only; it is
 *                 discarded whole when any record's field count differs from k*
 *  name           object key or NULL; ".tsv"/".tab" and ".psv" (also before
 *                 ".gz" ".bz2" ".xz" ".zst") break delimiter ties
 *  o              options (NULL = §2 defaults)
 *  out            initialised with sl_cls_result_init(); filled here
 *
 * On delimited text: classification "csv", certainty (§5: the winning
 * dialect's consistency, 0.6 for a header-only or one-data-row file, halved
 * when >= 90% of records begin with '{' or '['), schema (columns with §6.5
 * names; an all-null column has type SL_CT_NULL, a placeholder), n_records
 * (data records in the head window, header and preamble excluded; exact when
 * at_eof), records_exact, avg_record_bytes (input bytes per data record),
 * decoded_bytes (len + tail_len), truncated (!records_exact: the window stops
 * before EOF, or a record past the dialect sample failed and counting stopped), warnings
 * (ENCODING_FALLBACK, AMBIGUOUS_DATE, MALFORMED_RECORDS) and format_params,
 * all string values:
 *   "delimiter" (the character itself, e.g. "\t"), "quoteChar" ("\"", "'" or
 *   "" for none), "escapeChar" (the quote for doubling, "\\", or ""),
 *   "skip.header.line.count" (physical lines before the first data record:
 *   comments, blank lines, preamble, header), "areColumnsQuoted" ("true" if any
 *   sampled field was quoted), "sluice.csv.newline" ("\n" "\r\n" "\r"),
 *   "sluice.csv.comment" ("#" or ""), "sluice.csv.trailing_delimiter",
 *   "sluice.csv.trim" ("true"), "sluice.encoding" ("UTF-8" "UTF-16LE"
 *   "UTF-16BE" "Windows-1252"), "sluice.null_tokens" (a JSON array, as text,
 *   of the null tokens seen in typed columns, in option order),
 *   "sluice.csv.header" ("PRESENT"/"ABSENT"), "sluice.header_decision"
 *   (the rule: "typed", "names" or "forced").
 * header_evidence is the JSON object described below.
 *
 * Not delimited text: classification "", certainty 0 and reason "binary" (NUL
 * in the first 4 KiB), "empty", "no_consistent_dialect", "too_many_columns",
 * or "need_more_data" (the window is cut and holds fewer than 2 complete
 * records: fetch more, §4). Still SL_OK.
 *
 * Returns SL_OK, or SL_ENOMEM / SL_ECONFIG (bad options) with err set.
 */
int sl_csv_classify(const char *data, size_t len, bool at_eof, const char *tail, size_t tail_len,
                    const char *name, const struct sl_crawl_opts *o, struct sl_cls_result *out,
                    struct sl_err *err);

/* "csv|<delimiter>|<quoteChar>|<escapeChar>|<sluice.encoding>" (§10.1) from a
 * file's format_params; owned (sl_free); NULL on OOM. */
char *sl_csv_compat_key(const json_t *format_params);

/*
 * ---- Header evidence and per-table reconciliation (§6.4 step 6) ----
 *
 * header_evidence (cached with the object, so reconciliation needs no GET):
 *   { "version": 1,
 *     "r0": ["id", "name"],            R0's cells, trimmed (cells over 4 KiB cut)
 *     "decision": "PRESENT"|"ABSENT",  this file's own decision
 *     "rule": "typed"|"names"|"forced",
 *     "single_record": false,
 *     "parses": [ {"type": "bigint",   T_j inferred from R1..Rn (head and tail)
 *                  "typed": true,      T_j is neither string nor null
 *                  "null": false,      R0[j] is a null token
 *                  "parses": false,    R0[j] parses as T_j
 *                  "name": true,       R0[j] is a plausible name
 *                  "recurs": false}, ...],  R0[j] occurs in column j of R1..Rn
 *     "present": ALT, "absent": ALT }  the file's result under either decision
 *   ALT = { "skip": 1, "null_tokens": "[\"NA\"]",
 *           "columns": [ {"name", "source_name"?, "type", "format"?, "tz"?,
 *                         "placeholder"?, "ambiguous_date"?, "n_values", "n_nulls"} ] }
 *
 * Reconciliation, over the files of one table (order = key order):
 *  1. forced decisions win outright (majority among them, ties to the first);
 *  2. if any file decided by the "typed" rule, the typed files' majority
 *     (ties to the first typed file) overrides every "names" decision;
 *  3. an ABSENT file whose R0 equals (cell by cell, after trimming) the R0 of
 *     a PRESENT file becomes PRESENT;
 *  4. remaining disagreement: majority by object count, ties to the first
 *     file's decision; the files that lose are flagged ambiguous
 *     (HEADER_AMBIGUOUS).
 * After it every file agrees with *table_present.
 */
struct sl_csv_header_vote {
    bool present;     /* the file's decision after reconciliation */
    bool changed;     /* differs from its own: call sl_csv_header_apply() */
    bool ambiguous;   /* lost the majority vote: report HEADER_AMBIGUOUS */
    const char *rule; /* static: "typed" "names" "forced" (own decision kept), or
                         "typed_vote" "same_r0" "majority" (overridden) */
};

/* evidence[i] is file i's header_evidence (borrowed); votes has n_files
 * entries. SL_EPARSE when an evidence object is malformed (names the file
 * index). n_files == 0 gives *table_present = false. */
int sl_csv_reconcile_headers(const json_t *const *evidence, size_t n_files, bool *table_present,
                             struct sl_csv_header_vote *votes, struct sl_err *err);

/* Rebuilds one file's schema and format parameters for a header decision
 * from its evidence ("present" or "absent" alternative): replaces *schema's
 * columns, and sets "skip.header.line.count", "sluice.csv.header",
 * "sluice.null_tokens" and "sluice.header_decision" ("reconciled" when present
 * differs from the file's own decision) in format_params. SL_EPARSE on
 * malformed evidence, SL_ENOMEM; on failure *schema is left empty. */
int sl_csv_header_apply(const json_t *evidence, bool present, struct sl_cschema *schema,
                        json_t *format_params, struct sl_err *err);

#endif
