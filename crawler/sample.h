/*
 * crawler/sample.h - reads just enough of one object to classify it (spec
 * §4): ranged GETs of a head window that doubles while too few records were
 * found, a tail window for large uncompressed text, Parquet footers by suffix
 * range, Avro headers; compression undone by magic bytes (decode.c); then the
 * classifier chain of §5 (parquet, avro, orc, json, csv).
 */
#ifndef SL_SAMPLE_H
#define SL_SAMPLE_H

#include <stdint.h>

#include "crawler/classify.h"
#include "runtime/store.h"

struct sl_sample_info {
    char compression[16];  /* "none" "gzip" "bzip2" "xz" "zstd" */
    double decoded_ratio;  /* decoded / raw bytes of the sample (1 when uncompressed) */
    int64_t record_estimate;
    bool record_exact;
};

/* Classifies st/key (size bytes and ETag etag as listed; name = the key
 * relative to the include path, used only for tie hints). Every GET carries
 * the listed ETag (If-Match): SL_ECHANGED when the object was replaced since
 * the listing, so the caller can list it again (§4). Fills out (classification "" = unknown, with
 * out->reason) and info. Returns SL_OK unless reading failed (the object is
 * then in status error): a format that is not recognised is not an error. */
int sl_sample_object(struct sl_store *st, const char *key, const char *etag, const char *name,
                     int64_t size, const struct sl_crawl_opts *o, struct sl_cls_result *out,
                     struct sl_sample_info *info, struct sl_err *err);

#endif
