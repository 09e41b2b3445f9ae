/*
 * crawler/decode.c - codec sniffing and prefix decoding (see decode.h).
 * libarchive does the decoding: its gzip, bzip2, xz and zstd read filters
 * over the "raw" format, fed from memory. Which bytes are sampled is
 * sample.c's business; nothing here does I/O.
 */
#include "crawler/decode.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <string.h>

/* bytes asked of archive_read_data at a time */
#define DECODE_CHUNK ((size_t)64 << 10)
/* input handed to libarchive per callback: the granularity of the error
 * offset we report */
#define FEED_BLOCK ((size_t)4 << 10)

enum sl_codec sl_codec_sniff(const void *bytes, size_t len)
{
    const unsigned char *b = bytes;

    if (!b)
        return SL_CODEC_NONE;
    if (len >= 2 && b[0] == 0x1f && b[1] == 0x8b)
        return SL_CODEC_GZIP;
    if (len >= 4 && b[0] == 'B' && b[1] == 'Z' && b[2] == 'h' && b[3] >= '1' && b[3] <= '9')
        return SL_CODEC_BZIP2;
    if (len >= 6 && memcmp(b, "\xfd\x37\x7a\x58\x5a\x00", 6) == 0)
        return SL_CODEC_XZ;
    if (len >= 4 && memcmp(b, "\x28\xb5\x2f\xfd", 4) == 0)
        return SL_CODEC_ZSTD;
    /* a zstd skippable frame (magic 0x184D2A50..5F, little-endian) may come first */
    if (len >= 4 && (b[0] & 0xf0) == 0x50 && b[1] == 0x2a && b[2] == 0x4d && b[3] == 0x18)
        return SL_CODEC_ZSTD;
    if (len >= 4 && memcmp(b, "PK\x03\x04", 4) == 0)
        return SL_CODEC_ZIP;
    return SL_CODEC_NONE;
}

const char *sl_codec_name(enum sl_codec c)
{
    switch (c) {
    case SL_CODEC_NONE: return "none";
    case SL_CODEC_GZIP: return "gzip";
    case SL_CODEC_BZIP2: return "bzip2";
    case SL_CODEC_XZ: return "xz";
    case SL_CODEC_ZSTD: return "zstd";
    case SL_CODEC_ZIP: return "zip";
    }
    return "unknown";
}

bool sl_decode_is_container(const void *decoded, size_t len)
{
    const unsigned char *b = decoded;

    if (!b)
        return false;
    if (sl_codec_sniff(b, len) != SL_CODEC_NONE)
        return true;
    if (len >= 4 && (memcmp(b, "PAR1", 4) == 0 || memcmp(b, "Obj\x01", 4) == 0))
        return true;
    return len >= 3 && memcmp(b, "ORC", 3) == 0;
}

/* ---- Decoding through libarchive ---- */

/* The input as libarchive sees it: handed out FEED_BLOCK bytes at a time so that
 * archive_filter_bytes(a, -1), the bytes the decoder consumed, locates an
 * error to within one block. */
struct feed {
    const unsigned char *p;
    size_t len, pos;
};

static la_ssize_t feed_read(struct archive *a, void *ud, const void **buf)
{
    struct feed *f = ud;
    size_t n = f->len - f->pos;

    (void)a;
    if (n > FEED_BLOCK)
        n = FEED_BLOCK;
    *buf = f->p + f->pos;
    f->pos += n;
    return (la_ssize_t)n;
}

static int filter_code(enum sl_codec c)
{
    switch (c) {
    case SL_CODEC_GZIP: return ARCHIVE_FILTER_GZIP;
    case SL_CODEC_BZIP2: return ARCHIVE_FILTER_BZIP2;
    case SL_CODEC_XZ: return ARCHIVE_FILTER_XZ;
    case SL_CODEC_ZSTD: return ARCHIVE_FILTER_ZSTD;
    default: return -1;
    }
}

static int copy_plain(const void *in, size_t in_len, bool in_complete, size_t limit,
                      struct sl_buf *out, bool *out_complete, struct sl_err *err)
{
    size_t n = in_len < limit ? in_len : limit;
    int rc = sl_buf_append(out, in, n, err);

    if (rc == SL_OK)
        *out_complete = in_complete && n == in_len;
    return rc;
}

/*
 * How it works: the codec's filter is appended with archive_read_append_filter,
 * which turns libarchive's bidding off. That matters twice: exactly one layer
 * is decoded (with bidding, gzip inside gzip would be undone too and §4.1's
 * compressed_container check could never fire), and no bidder can pick an
 * external-program filter (lrzip, lzop, grzip are run with fork/exec) or uudecode
 * a text that happens to start with "begin 644". The "raw" format then hands
 * out the decoded stream; the "empty" format accepts a stream that decodes to
 * zero bytes, which "raw" refuses.
 *
 * libarchive reports truncation and corruption alike as ARCHIVE_FATAL, so we
 * tell them apart by what the decoder consumed: all of a prefix means the
 * window ended (SL_OK, a prefix of the output); less means corrupt bytes.
 */
int sl_decode_prefix(enum sl_codec c, const void *in, size_t in_len, bool in_complete,
                     size_t max_out, struct sl_buf *out, bool *out_complete, struct sl_err *err)
{
    struct archive *a = NULL;
    struct archive_entry *entry;
    struct feed f = {in, in_len, 0};
    size_t ceiling = out->max ? out->max : SL_BUF_MAX_DEFAULT;
    size_t limit = ceiling > out->len ? ceiling - out->len : 0;
    size_t start = out->len;
    bool ended = false, failed = false;
    char why[200] = "";
    int rc = SL_OK;

    *out_complete = false;
    if (max_out < limit)
        limit = max_out;
    if (c == SL_CODEC_NONE)
        return copy_plain(in, in_len, in_complete, limit, out, out_complete, err);
    if (filter_code(c) < 0)
        return sl_err_set(err, SL_ECONFIG, "cannot decode %s: not a stream codec",
                          sl_codec_name(c));
    if (in_len == 0)
        return in_complete ? sl_err_set(err, SL_EPARSE, "empty %s stream", sl_codec_name(c))
                           : SL_OK;

    if (!(a = archive_read_new()))
        return sl_err_set(err, SL_ENOMEM, "out of memory starting a %s decoder", sl_codec_name(c));
    if (archive_read_append_filter(a, filter_code(c)) != ARCHIVE_OK ||
        archive_read_support_format_raw(a) != ARCHIVE_OK ||
        archive_read_support_format_empty(a) != ARCHIVE_OK) {
        rc = sl_err_set(err, SL_EINTERNAL, "cannot start a %s decoder: %s", sl_codec_name(c),
                        archive_error_string(a) ? archive_error_string(a) : "unknown error");
        goto out;
    }

    if (archive_read_open(a, &f, NULL, feed_read, NULL) != ARCHIVE_OK || archive_errno(a) != 0) {
        /* a decoder error while the formats bid leaves its errno behind even
         * when the "empty" format then accepts the (failed) stream */
        failed = true;
    } else {
        int r = archive_read_next_header(a, &entry);
        if (r == ARCHIVE_EOF)
            ended = true;
        else if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
            failed = true;
    }

    while (!ended && !failed) {
        size_t room = limit - (out->len - start);
        if (room == 0) {
            /* at the guard: one byte more tells a stream that ends here from a bomb */
            char probe;
            la_ssize_t n = archive_read_data(a, &probe, 1);
            if (n == 0)
                ended = true;
            else if (n < 0)
                failed = true;
            break;
        }
        size_t want = room < DECODE_CHUNK ? room : DECODE_CHUNK;
        if ((rc = sl_buf_reserve(out, want, err)) != SL_OK)
            goto out;
        la_ssize_t n = archive_read_data(a, out->data + out->len, want);
        if (n < 0) {
            failed = true;
        } else if (n == 0) {
            ended = true;
        } else {
            out->len += (size_t)n;
            out->data[out->len] = '\0';
        }
    }

    int64_t used = archive_filter_bytes(a, -1); /* input bytes the decoder consumed */
    if (used < 0)
        used = 0;
    if (failed) {
        const char *s = archive_error_string(a);
        snprintf(why, sizeof why, "%s", s ? s : "unknown error");
    }
    if (failed && (size_t)used >= in_len && !in_complete) {
        /* the window ended inside the stream: a prefix, possibly empty */
    } else if (failed && out->len == start) {
        rc = sl_err_set(err, SL_EPARSE, "corrupt %s stream near input byte %lld: %s",
                        sl_codec_name(c), (long long)used, why);
    } else if (ended && out->len == start && used == 0) {
        /* the very first header did not parse: libarchive calls that "end" */
        rc = sl_err_set(err, SL_EPARSE, "corrupt %s stream at input byte 0: bad header",
                        sl_codec_name(c));
    } else {
        *out_complete = ended && in_complete;
    }
out:
    archive_read_free(a);
    return rc;
}
