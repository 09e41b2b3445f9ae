/*
 * tests/fuzz/fuzz_s3_xml.c - the S3 response XML helpers (runtime/store_s3_list.c)
 * on hostile bytes: element search over every name a listing or error uses,
 * text extraction, unescaping and root detection must never crash or read out
 * of bounds.
 */
#include <stddef.h>
#include <stdint.h>

#include "runtime/buf.h"
#include "runtime/store_s3_internal.h"

static const char *const names[] = { "Contents", "Key", "Size", "ETag", "LastModified",
                                     "CommonPrefixes", "Prefix", "NextContinuationToken",
                                     "IsTruncated", "EncodingType", "Code", "Message", "UploadId",
                                     "Error", "Deleted" };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *xml = (const char *)data;
    char out[256];
    struct sl_buf b;
    struct sl_err err = { 0 };

    sl_s3_xml_root(xml, size, out, sizeof out);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        size_t pos = 0;
        const char *val;
        size_t val_len;
        int guard = 0;
        while (guard++ < 4096 && sl_s3_xml_find(xml, size, &pos, names[i], &val, &val_len)) {
            sl_buf_init(&b, 1 << 20);
            sl_s3_xml_unescape(&b, val, val_len, &err);
            sl_buf_cleanup(&b);
        }
        sl_s3_xml_text(xml, size, names[i], out, sizeof out);
    }
    return 0;
}
