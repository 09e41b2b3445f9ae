/*
 * crawler/parquet.h - the Parquet classifier (spec/crawler.md §4 Parquet
 * window, §5 #1, §9): decodes the FileMetaData footer from the object's tail
 * and maps its schema to catalog types. No row group is ever read. The footer
 * is Thrift compact protocol, decoded by hand in parquet.c because Debian
 * packages no Parquet library usable from C (Apache Arrow's libparquet is not
 * in Debian, and would be a large C++ dependency for one footer); the compact
 * protocol plus the few FileMetaData fields we need is about 600 lines.
 * Fetching the tail is sample.c's job.
 */
#ifndef SL_PARQUET_H
#define SL_PARQUET_H

#include <stddef.h>
#include <stdint.h>

#include "crawler/classify.h"
#include "runtime/err.h"

/* §4: the first GET is Range: bytes=-65536. */
#define SL_PARQUET_TAIL_BYTES ((size_t)64 << 10)
/* Footers larger than this are refused rather than fetched: a hostile length
 * field must not make us GET gigabytes (real footers reach a few MiB with
 * thousands of columns and row groups). */
#define SL_PARQUET_MAX_FOOTER ((size_t)64 << 20)
/* Schema elements accepted (each costs ~100 bytes while decoding). */
#define SL_PARQUET_MAX_SCHEMA 100000
/* Nesting accepted, for Thrift structs and for schema groups alike. */
#define SL_PARQUET_MAX_DEPTH 64

/*
 * Classifies a Parquet object from its tail.
 *   tail, tail_len  the last tail_len bytes of the object (borrowed);
 *   object_size     the object's size in bytes (tail_len <= object_size);
 *   head4           the object's first 4 bytes, or NULL when the caller has not
 *                   read them (the footer decoding is then the only proof);
 *   need            set on SL_ELIMIT (and 0 otherwise).
 *
 * Returns:
 *   SL_OK, out->classification "parquet", certainty 1.0: the footer decoded.
 *     out->schema holds the top-level columns in file order (names normalised
 *     per §6.5, source_name when that changed them; nested struct fields keep
 *     their source spelling), n_records = the sum of row-group num_rows
 *     (records_exact), avg_record_bytes = sum of total_byte_size / rows,
 *     decoded_bytes = the footer bytes, format_params {"sluice.codec": "snappy"
 *     | "zstd" | "gzip" | "uncompressed" | "lzo" | "brotli" | "lz4" | "lz4_raw"
 *     | "mixed" (columns differ), "compressionType": "none"}.
 *   SL_OK, classification "", certainty 0, out->reason set: not Parquet (no
 *     PAR1 at either end, or the object is too small to be one).
 *   SL_OK, classification "parquet", unsupported, reason
 *     "parquet_encrypted_footer": a PARE (encrypted footer) file.
 *   SL_ELIMIT with *need > tail_len: the footer is longer than the tail; call
 *     again with the last *need bytes of the object (one more ranged GET).
 *   SL_ELIMIT with *need == 0: the footer exceeds SL_PARQUET_MAX_FOOTER.
 *   SL_EPARSE: PAR1 magic but a footer that does not decode; the message names
 *     the object offset ("parquet footer: byte 13487781: list of 9000000
 *     elements exceeds the footer").
 *   SL_ENOMEM.
 * out must be initialised (sl_cls_result_init) and is only written on SL_OK.
 * Hostile bytes never crash it: every read is bounds-checked, nesting and
 * list sizes are limited. Pure and thread-safe.
 */
int sl_parquet_classify_tail(const unsigned char *tail, size_t tail_len, int64_t object_size,
                             const unsigned char *head4, size_t *need, struct sl_cls_result *out,
                             struct sl_err *err);

#endif
