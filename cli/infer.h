/*
 * cli/infer.h - the engine's schema inference hook (runtime/exec.h,
 * sl_exec_infer_fn) wired to the crawler's sampler and classifiers: runtime/
 * may not include crawler/ headers, so the executable connects the two.
 */
#ifndef SL_CLI_INFER_H
#define SL_CLI_INFER_H

#include "runtime/catalog.h"
#include "runtime/err.h"
#include "runtime/store.h"

/* An sl_exec_infer_fn: samples obj in st as `sluice crawl` would (default
 * crawler options; a one-column file is accepted when the script says
 * csv/tsv) and, on success, replaces t->classification, t->columns and
 * t->params with the result: columns as (normalised name, catalog type such as
 * "bigint", "double", "string", "date", "timestamp", "boolean",
 * "struct<...>"), params = the classifier's format parameters (string values:
 * "delimiter", "quoteChar", "skip.header.line.count", "sluice.json.layout",
 * ...) plus "classification" and "compressionType". t's other members are not
 * touched, and on failure t is left as it was.
 * format is the script's: "csv" and "tsv" want classification csv (tsv also a
 * tab delimiter), "json" and "jsonl" want json. Errors: SL_EPARSE "<uri>:
 * expected csv but the data looks like json" (and the like), "<uri>: cannot
 * infer a schema: <reason>" for unrecognised data; SL_ECONFIG for an unknown
 * format; store errors (SL_ECHANGED when obj was replaced since its listing).
 * ud is unused (NULL). Thread safety: reentrant (the engine calls it on its
 * coordinator thread). */
int cli_infer_schema(void *ud, struct sl_store *st, const struct sl_obj_info *obj,
                     const char *format, struct sl_catalog_table *t, struct sl_err *err);

#endif
