/*
 * runtime/codec.h - streaming (de)compression for the format readers and
 * writers (runtime/fmt*.c), over libarchive's filters with the "raw" format.
 *
 * Reading is pull-based: a decoder is opened on a range of a store object and
 * fetches it in ranged GETs of SL_CODEC_CHUNK bytes only when the caller asks
 * for more decoded bytes, so an object of any size is read with bounded memory
 * (one input chunk plus libarchive's filter state). The codec is detected by
 * magic bytes (gzip 1f 8b, bzip2 "BZh", xz fd "7zXZ" 00, zstd 28 b5 2f fd or a
 * skippable frame 5x 2a 4d 18),
 * never by name; anything else is passed through unchanged.
 *
 * Writing wraps a struct sl_store_writer: compressed bytes go to
 * sl_store_put_write, finish flushes and commits, abort aborts the upload, so
 * nothing is visible under the key unless finish succeeds.
 *
 * The enum is not crawler/decode.h's enum sl_codec (the crawler's sniffer
 * also knows zip and decodes whole windows); both may be included together.
 *
 * Threads: a decoder or encoder is used by one thread at a time.
 */
#ifndef SL_CODEC_H
#define SL_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "store.h"

enum sl_compression {
    SL_COMPRESSION_NONE = 0,
    SL_COMPRESSION_GZIP,
    SL_COMPRESSION_BZIP2,
    SL_COMPRESSION_XZ,
    SL_COMPRESSION_ZSTD,
};

#define SL_CODEC_CHUNK ((size_t)1 << 20) /* bytes per ranged GET: one request per MiB on S3 */
#define SL_CODEC_MAGIC_LEN 6             /* bytes sl_codec_detect needs to see every magic */

/* Codec of data whose first len bytes are p (len may be short: then only the
 * magics that fit are tried). SL_COMPRESSION_NONE when no magic matches. */
enum sl_compression sl_codec_detect(const void *p, size_t len);
/* "none" "gzip" "bzip2" "xz" "zstd"; static storage. */
const char *sl_codec_label(enum sl_compression c);
/* Parses "none"/""/NULL, "gzip"/"gz", "bzip2", "xz", "zstd"/"zst";
 * SL_ECONFIG for anything else. */
int sl_codec_from_name(const char *name, enum sl_compression *out, struct sl_err *err);

/* ---- Decoding ---- */

struct sl_decoder;

/*
 * Opens a decoder on bytes [off, off + len) of object key (len < 0: to the
 * end). The store is borrowed until sl_decoder_free. The first chunk is
 * fetched here to detect the codec. When allow_codec is 0 a compressed object
 * is refused (SL_ECONFIG): byte ranges of a compressed stream mean nothing.
 * Returns an owned decoder (sl_decoder_free) or NULL with err set
 * (SL_ENOTFOUND, SL_ETRANSIENT, ... from the store; SL_ENOMEM).
 */
struct sl_decoder *sl_decoder_open(struct sl_store *st, const char *key, int64_t off,
                                   int64_t len, int allow_codec, struct sl_err *err);
/* Codec detected at open. */
enum sl_compression sl_decoder_codec(const struct sl_decoder *d);
/* Reads up to cap decoded bytes into buf; *n_read == 0 means the end.
 * SL_EPARSE for corrupt compressed data, store errors as they come. */
int sl_decoder_read(struct sl_decoder *d, void *buf, size_t cap, size_t *n_read,
                    struct sl_err *err);
void sl_decoder_free(struct sl_decoder *d);

/* ---- Encoding ---- */

struct sl_encoder;

/*
 * Wraps w (taken: on failure here it is aborted) with codec c (NONE, GZIP or
 * ZSTD; others give SL_ECONFIG). Returns an owned encoder, freed by
 * sl_encoder_finish or sl_encoder_abort, or NULL with err set.
 */
struct sl_encoder *sl_encoder_new_take(struct sl_store_writer *w, enum sl_compression c,
                                       struct sl_err *err);
/* Compresses len bytes and passes the output on to the store writer. On
 * failure the encoder stays valid only for sl_encoder_abort. */
int sl_encoder_write(struct sl_encoder *e, const void *p, size_t len, struct sl_err *err);
/* Flushes the codec and commits the upload; frees e whatever the result. */
int sl_encoder_finish(struct sl_encoder *e, struct sl_err *err);
/* Drops everything: the upload is aborted, nothing becomes visible. NULL is a no-op. */
void sl_encoder_abort(struct sl_encoder *e);

#endif
