/*
 * crawler/decode.h - compression of a sampled object (spec/crawler.md §4.1):
 * sniffing the codec from magic bytes (never from the key's extension) and
 * decoding a possibly truncated compressed prefix from memory through
 * libarchive. Exactly one layer is decoded; what the decoded bytes are is the
 * classifiers' business (classify.h), fetching them is sample.c's.
 */
#ifndef SL_DECODE_H
#define SL_DECODE_H

#include <stdbool.h>
#include <stddef.h>

#include "runtime/buf.h"
#include "runtime/err.h"

enum sl_codec {
    SL_CODEC_NONE,
    SL_CODEC_GZIP,  /* 1F 8B */
    SL_CODEC_BZIP2, /* "BZh" + '1'..'9' */
    SL_CODEC_XZ,    /* FD "7zXZ" 00 */
    SL_CODEC_ZSTD,  /* 28 B5 2F FD, or a skippable frame 5x 2A 4D 18 */
    SL_CODEC_ZIP,   /* "PK" 03 04: recognised, never decoded (zip_unsupported) */
};

/* The codec whose magic bytes start bytes[0..len) (the §4.1 table); SL_CODEC_NONE
 * when none matches or len is too short for the magic. Pure, thread-safe. */
enum sl_codec sl_codec_sniff(const void *bytes, size_t len);

/* "none" "gzip" "bzip2" "xz" "zstd" "zip" (static storage; the compressionType
 * value of §4.1). */
const char *sl_codec_name(enum sl_codec c);

/* Decodes one layer of codec c from in[0..in_len) and APPENDS at most max_out
 * decoded bytes to out (max_out is also capped by out's own ceiling).
 * in_complete says that in holds the whole object, not just a prefix.
 *
 * *out_complete is true only when in_complete and the stream ended within
 * max_out. Otherwise the output is a prefix of the decoded object:
 *   - max_out reached (zip-bomb guard, §4.1): out holds exactly max_out bytes;
 *   - in is a truncated prefix: out holds what libarchive handed out, which may
 *     be up to one decoder block (64 KiB; 128 KiB for zstd) short of what the
 *     prefix encodes, because libarchive drops a partly filled block when its
 *     input runs dry; a short prefix may thus decode to nothing (SL_OK, empty:
 *     the caller fetches a bigger window);
 *   - the stream is corrupt after some output: out holds the output so far.
 * Concatenated gzip members decode in sequence; bytes after the last stream
 * that do not start a new one are ignored (as gzip -d does). bzip2, xz and
 * zstd streams are checked against their own checksums; gzip's CRC-32 and
 * length are not (libarchive 3.6 skips the trailer), so a damaged gzip stream
 * that still inflates decodes to wrong bytes without an error.
 *
 * Errors: SL_EPARSE when a corrupt stream decodes to nothing ("corrupt gzip
 * stream near input byte N: ...", N to within 4 KiB) and for a complete but
 * empty input; SL_ECONFIG for SL_CODEC_ZIP (never decoded); SL_ENOMEM.
 * SL_CODEC_NONE copies the input. Thread-safe (no shared state).
 */
int sl_decode_prefix(enum sl_codec c, const void *in, size_t in_len, bool in_complete,
                     size_t max_out, struct sl_buf *out, bool *out_complete, struct sl_err *err);

/* True when decoded bytes start with something a single decoded layer cannot be
 * sampled through (§4.1 compressed_container): another compression magic (zip
 * included), "PAR1", "Obj\x01" or "ORC". */
bool sl_decode_is_container(const void *decoded, size_t len);

#endif
