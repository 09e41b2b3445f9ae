/*
 * crawler/json.h - the JSON classifier of spec/crawler.md §8: layout detection
 * (array, JSON Lines, concatenated values, single document), record selection
 * with a JSONPath subset, and type inference for JSON values (§8.2, joined per
 * §7.1). It works on one decoded byte window; reading, decompression and the
 * classifier chain live in sample.c, the type lattice in ctype.c.
 */
#ifndef SL_JSON_H
#define SL_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include "crawler/classify.h"
#include "runtime/err.h"

/* Classifies the head window data[0, len) of one object. at_eof: the window
 * reaches the end of the object (a value cut at the end is then malformed,
 * not merely cut). A UTF-8 BOM and leading whitespace are skipped.
 *
 * out must be initialised by the caller (sl_cls_result_init); it is filled in
 * on SL_OK and may hold partial results on failure (sl_cls_result_cleanup
 * frees either way). On SL_OK:
 *   - JSON: classification "json", certainty (1.0 minus the malformed-record
 *     fraction for array/lines/concatenated; 0.6 for a single document or a
 *     valid sample without records), schema, format_params
 *     {"sluice.json.layout": "array"|"lines"|"concatenated"|"document",
 *      "sluice.json_path": o->json_path when set}, n_records, records_exact,
 *     avg_record_bytes, decoded_bytes, truncated and warnings
 *     (MALFORMED_RECORDS, JSON_PATH_PROPOSED).
 *   - not JSON: classification "", certainty 0, reason set: "json_incomplete"
 *     when the window holds no complete value yet and !at_eof (the caller
 *     should grow the window, §4), "json_malformed" when more than 1% of the
 *     records fail to parse, "json_path_no_match", or "not json".
 * Records are the array elements, the top-level values, the document, or what
 * o->json_path selects in each top-level value ("$", ".name", "['name']",
 * "[*]", ".*"); at most o->sample_rows are used.
 *
 * Errors: SL_ECONFIG for an unsupported o->json_path, SL_ENOMEM. Bad input is
 * never an error. Thread-safe (no shared state); the window is only read.
 */
int sl_json_classify(const char *data, size_t len, bool at_eof, const struct sl_crawl_opts *o,
                     struct sl_cls_result *out, struct sl_err *err);

/* The Glue JsonSerDe "paths" parameter for a schema made by sl_json_classify:
 * the top-level source names (source_name, else name) joined with ",".
 * Returns owned (sl_free); NULL on OOM. */
char *sl_json_paths_param(const struct sl_cschema *s);

#endif
