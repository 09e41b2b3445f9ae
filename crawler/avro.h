/*
 * crawler/avro.h - the Avro classifier (spec/crawler.md §4 Avro window, §5 #2,
 * §9): reads the object-container header (magic, metadata map, sync marker)
 * from the head window, resolves the writer's schema with libavro, maps it to
 * catalog types, and measures bytes per record over the complete data blocks
 * in the window. Records are never decoded. Fetching is sample.c's job.
 */
#ifndef SL_AVRO_H
#define SL_AVRO_H

#include <stdbool.h>
#include <stddef.h>

#include "crawler/classify.h"
#include "runtime/err.h"

/* §4: the window starts at 64 KiB and doubles up to 1 MiB for the header. */
#define SL_AVRO_HEAD_INITIAL ((size_t)64 << 10)
#define SL_AVRO_HEAD_MAX     ((size_t)1 << 20)
/* Type nesting accepted (records, arrays, maps, unions inside each other). */
#define SL_AVRO_MAX_DEPTH 64

/*
 * Classifies an Avro object from its first len bytes (head, borrowed);
 * at_eof says head is the whole object. *need is set on SL_ELIMIT, else 0.
 *
 * Returns:
 *   SL_OK, classification "avro", certainty 1.0: the header holds a schema
 *     libavro accepts. A record schema gives one column per field, in order
 *     (names normalised per §6.5 with source_name; nested fields keep their
 *     spelling); any other top-level schema gives one column "col0". Types per
 *     §9: union [null, T] -> T; several non-null members -> the widest of
 *     int/long/float/double when all are those, else struct<member0:..,
 *     member1:..>; date, timestamp-* (tz explicit), local-timestamp-* (tz
 *     naive), decimal(p,s), uuid and time-* (string) logical types; enum ->
 *     string; bytes/fixed -> binary; map -> map<string,V>; a record that
 *     contains itself -> string at the point of recursion (warning
 *     RECURSIVE_TYPE: a catalog type cannot be infinite).
 *     From the data blocks that lie wholly in the window: n_records,
 *     avg_record_bytes (block bytes including their count, size and sync, per
 *     record), decoded_bytes (header plus those blocks); records_exact when
 *     at_eof and the blocks end exactly at the end; a malformed block stops the
 *     count with warning MALFORMED_RECORDS. format_params {"sluice.codec":
 *     avro.codec ("null" when absent; "deflate", "snappy", ...),
 *     "compressionType": "none"}.
 *   SL_OK, classification "", certainty 0, reason: no "Obj\x01" magic.
 *   SL_ELIMIT, *need > len: the header continues past the window; fetch the
 *     first *need bytes (at most SL_AVRO_HEAD_MAX) and call again.
 *   SL_ELIMIT, *need == 0: the header is larger than SL_AVRO_HEAD_MAX.
 *   SL_EPARSE: a malformed header, or a schema that is missing, not JSON, too
 *     deep, defining a named type twice (refused before libavro, which leaks
 *     on it) or rejected by libavro (message with the byte offset or libavro's
 *     reason).
 *   SL_ENOMEM.
 * out must be initialised (sl_cls_result_init) and is only written on SL_OK.
 * Thread-safe as far as libavro is (its error text is thread-local).
 */
int sl_avro_classify(const unsigned char *head, size_t len, bool at_eof, size_t *need,
                     struct sl_cls_result *out, struct sl_err *err);

#endif
