/*
 * runtime/codec.c - streaming decompression and compression over libarchive
 * (see codec.h). The decoder pulls ranged GETs of SL_CODEC_CHUNK bytes into
 * one owned buffer; libarchive's read callback hands that buffer over, so
 * memory stays at one chunk plus the filter's state. The format readers
 * (runtime/fmt_csv.c, fmt_jsonl.c) sit on top; nothing here knows rows.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <string.h>

#include "alloc.h"
#include "codec.h"

enum sl_compression sl_codec_detect(const void *p, size_t len)
{
    const unsigned char *b = p;

    if (len >= 2 && b[0] == 0x1f && b[1] == 0x8b)
        return SL_COMPRESSION_GZIP;
    if (len >= 4 && b[0] == 'B' && b[1] == 'Z' && b[2] == 'h' && b[3] >= '1' && b[3] <= '9')
        return SL_COMPRESSION_BZIP2;
    if (len >= 6 && memcmp(b, "\xfd" "7zXZ\0", 6) == 0)
        return SL_COMPRESSION_XZ;
    if (len >= 4 && b[0] == 0x28 && b[1] == 0xb5 && b[2] == 0x2f && b[3] == 0xfd)
        return SL_COMPRESSION_ZSTD;
    if (len >= 4 && (b[0] & 0xf0) == 0x50 && b[1] == 0x2a && b[2] == 0x4d && b[3] == 0x18)
        return SL_COMPRESSION_ZSTD; /* a skippable frame first, as crawler/decode.c accepts */
    return SL_COMPRESSION_NONE;
}

const char *sl_codec_label(enum sl_compression c)
{
    switch (c) {
    case SL_COMPRESSION_GZIP: return "gzip";
    case SL_COMPRESSION_BZIP2: return "bzip2";
    case SL_COMPRESSION_XZ: return "xz";
    case SL_COMPRESSION_ZSTD: return "zstd";
    default: return "none";
    }
}

int sl_codec_from_name(const char *name, enum sl_compression *out, struct sl_err *err)
{
    static const struct { const char *name; enum sl_compression c; } names[] = {
        {"none", SL_COMPRESSION_NONE}, {"", SL_COMPRESSION_NONE},    {"gzip", SL_COMPRESSION_GZIP},
        {"gz", SL_COMPRESSION_GZIP},   {"bzip2", SL_COMPRESSION_BZIP2}, {"xz", SL_COMPRESSION_XZ},
        {"zstd", SL_COMPRESSION_ZSTD}, {"zst", SL_COMPRESSION_ZSTD},
    };

    if (!name) {
        *out = SL_COMPRESSION_NONE;
        return SL_OK;
    }
    for (size_t i = 0; i < SL_ARRAY_LEN(names); i++) {
        if (strcmp(name, names[i].name) == 0) {
            *out = names[i].c;
            return SL_OK;
        }
    }
    return sl_err_set(err, SL_ECONFIG, "unknown compression \"%s\"", name);
}

static int filter_code(enum sl_compression c)
{
    switch (c) {
    case SL_COMPRESSION_GZIP: return ARCHIVE_FILTER_GZIP;
    case SL_COMPRESSION_BZIP2: return ARCHIVE_FILTER_BZIP2;
    case SL_COMPRESSION_XZ: return ARCHIVE_FILTER_XZ;
    case SL_COMPRESSION_ZSTD: return ARCHIVE_FILTER_ZSTD;
    default: return ARCHIVE_FILTER_NONE;
    }
}

/* ---- Decoder ---- */

struct sl_decoder {
    struct sl_store *st; /* borrowed */
    char *key;           /* owned */
    int64_t pos;         /* next byte to fetch */
    int64_t end;         /* first byte not to fetch; -1 = the object's end */
    int src_eof;         /* the store has nothing more */
    char *chunk;         /* owned; SL_CODEC_CHUNK bytes */
    size_t chunk_len, chunk_pos; /* bytes */
    enum sl_compression codec;
    struct archive *a;   /* owned; NULL for SL_COMPRESSION_NONE */
    int empty;           /* the compressed stream holds no data */
    int cb_failed;       /* the read callback failed: cb_err holds why */
    struct sl_err cb_err;
};

static int collect(void *ud, const void *data, size_t len)
{
    struct sl_decoder *d = ud;

    if (SL_NEVER(len > SL_CODEC_CHUNK - d->chunk_len))
        return SL_EINTERNAL;
    memcpy(d->chunk + d->chunk_len, data, len);
    d->chunk_len += len;
    return SL_OK;
}

/* Replaces the chunk with the next range of the object; chunk_len 0 at the end. */
static int fetch(struct sl_decoder *d, struct sl_err *err)
{
    d->chunk_len = 0;
    d->chunk_pos = 0;
    if (d->src_eof)
        return SL_OK;
    int64_t want = (int64_t)SL_CODEC_CHUNK;
    if (d->end >= 0 && d->end - d->pos < want)
        want = d->end - d->pos;
    if (want <= 0) {
        d->src_eof = 1;
        return SL_OK;
    }
    int rc = sl_store_get(d->st, d->key, d->pos, want, collect, d, err);
    if (rc != SL_OK)
        return sl_err_prefix(err, "read \"%s\" at byte %lld", d->key, (long long)d->pos);
    d->pos += (int64_t)d->chunk_len;
    if (d->chunk_len < (size_t)want)
        d->src_eof = 1;
    return SL_OK;
}

static la_ssize_t la_read(struct archive *a, void *ud, const void **buf)
{
    struct sl_decoder *d = ud;

    if (d->chunk_pos >= d->chunk_len && fetch(d, &d->cb_err) != SL_OK) {
        d->cb_failed = 1;
        archive_set_error(a, EIO, "%s", d->cb_err.msg);
        return -1;
    }
    *buf = d->chunk + d->chunk_pos;
    size_t n = d->chunk_len - d->chunk_pos;
    d->chunk_pos = d->chunk_len;
    return (la_ssize_t)n;
}

static int la_fail(struct sl_decoder *d, const char *what, struct sl_err *err)
{
    if (d->cb_failed) {
        *err = d->cb_err;
        return err->code;
    }
    const char *s = archive_error_string(d->a);
    return sl_err_set(err, SL_EPARSE, "%s \"%s\" (%s): %s", what, d->key, sl_codec_label(d->codec),
                      s ? s : "corrupt data");
}

struct sl_decoder *sl_decoder_open(struct sl_store *st, const char *key, int64_t off,
                                   int64_t len, int allow_codec, struct sl_err *err)
{
    struct sl_decoder *d = sl_calloc(1, sizeof *d);
    struct archive_entry *entry;

    if (!d || !(d->key = sl_strdup(key)) || !(d->chunk = sl_alloc(SL_CODEC_CHUNK))) {
        sl_err_set(err, SL_ENOMEM, "out of memory");
        goto fail;
    }
    d->st = st;
    d->pos = off < 0 ? 0 : off;
    d->end = len < 0 ? -1 : d->pos + len;
    if (fetch(d, err) != SL_OK)
        goto fail;
    d->codec = sl_codec_detect(d->chunk, d->chunk_len);
    if (d->codec == SL_COMPRESSION_NONE)
        return d;
    if (!allow_codec) {
        sl_err_set(err, SL_ECONFIG, "cannot read a byte range of %s-compressed \"%s\"",
                   sl_codec_label(d->codec), key);
        goto fail;
    }
    if (!(d->a = archive_read_new())) {
        sl_err_set(err, SL_ENOMEM, "out of memory");
        goto fail;
    }
    if (archive_read_append_filter(d->a, filter_code(d->codec)) != ARCHIVE_OK ||
        archive_read_support_format_raw(d->a) != ARCHIVE_OK ||
        archive_read_support_format_empty(d->a) != ARCHIVE_OK) {
        sl_err_set(err, SL_ECONFIG, "cannot decode %s: %s", sl_codec_label(d->codec),
                   archive_error_string(d->a) ? archive_error_string(d->a) : "unsupported");
        goto fail;
    }
    if (archive_read_open(d->a, d, NULL, la_read, NULL) != ARCHIVE_OK) {
        la_fail(d, "open", err);
        goto fail;
    }
    int r = archive_read_next_header(d->a, &entry);
    if (r == ARCHIVE_EOF) {
        d->empty = 1;
    } else if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
        la_fail(d, "decode", err);
        goto fail;
    }
    return d;
fail:
    sl_decoder_free(d);
    return NULL;
}

enum sl_compression sl_decoder_codec(const struct sl_decoder *d)
{
    return d->codec;
}

int sl_decoder_read(struct sl_decoder *d, void *buf, size_t cap, size_t *n_read,
                    struct sl_err *err)
{
    *n_read = 0;
    if (cap == 0)
        return SL_OK;
    if (d->codec == SL_COMPRESSION_NONE) {
        if (d->chunk_pos >= d->chunk_len) {
            int rc = fetch(d, err);
            if (rc != SL_OK)
                return rc;
        }
        size_t n = d->chunk_len - d->chunk_pos;
        if (n > cap)
            n = cap;
        memcpy(buf, d->chunk + d->chunk_pos, n);
        d->chunk_pos += n;
        *n_read = n;
        return SL_OK;
    }
    if (d->empty)
        return SL_OK;
    la_ssize_t n = archive_read_data(d->a, buf, cap);
    if (n < 0)
        return la_fail(d, "decode", err);
    *n_read = (size_t)n;
    return SL_OK;
}

void sl_decoder_free(struct sl_decoder *d)
{
    if (!d)
        return;
    if (d->a)
        archive_read_free(d->a);
    sl_free(d->chunk);
    sl_free(d->key);
    sl_free(d);
}

/* ---- Encoder ---- */

struct sl_encoder {
    struct sl_store_writer *w; /* owned until finish/abort */
    struct archive *a;         /* owned; NULL for SL_COMPRESSION_NONE */
    int cb_failed;
    int aborting;              /* drop output: the upload is being aborted */
    struct sl_err cb_err;      /* why the write callback failed */
};

static la_ssize_t la_write(struct archive *a, void *ud, const void *buf, size_t len)
{
    struct sl_encoder *e = ud;

    if (e->aborting)
        return (la_ssize_t)len;
    if (sl_store_put_write(e->w, buf, len, &e->cb_err) != SL_OK) {
        e->cb_failed = 1;
        archive_set_error(a, EIO, "%s", e->cb_err.msg);
        return -1;
    }
    return (la_ssize_t)len;
}

static int enc_fail(struct sl_encoder *e, const char *what, struct sl_err *err)
{
    if (e->cb_failed) {
        *err = e->cb_err;
        return err->code;
    }
    const char *s = archive_error_string(e->a);
    return sl_err_set(err, SL_EIO, "%s: %s", what, s ? s : "compression failed");
}

struct sl_encoder *sl_encoder_new_take(struct sl_store_writer *w, enum sl_compression c,
                                       struct sl_err *err)
{
    struct sl_encoder *e = sl_calloc(1, sizeof *e);
    struct archive_entry *entry = NULL;
    int r;

    if (!e) {
        sl_err_set(err, SL_ENOMEM, "out of memory");
        sl_store_put_abort(w);
        return NULL;
    }
    e->w = w;
    if (c == SL_COMPRESSION_NONE)
        return e;
    if (c != SL_COMPRESSION_GZIP && c != SL_COMPRESSION_ZSTD) {
        sl_err_set(err, SL_ECONFIG, "cannot write %s: only gzip, zstd and none",
                   sl_codec_label(c));
        goto fail;
    }
    if (!(e->a = archive_write_new()) || !(entry = archive_entry_new())) {
        sl_err_set(err, SL_ENOMEM, "out of memory");
        goto fail;
    }
    r = c == SL_COMPRESSION_GZIP ? archive_write_add_filter_gzip(e->a)
                           : archive_write_add_filter_zstd(e->a);
    if (r != ARCHIVE_OK || archive_write_set_format_raw(e->a) != ARCHIVE_OK ||
        archive_write_set_bytes_in_last_block(e->a, 1) != ARCHIVE_OK) {
        enc_fail(e, "set up compression", err);
        goto fail;
    }
    if (archive_write_open(e->a, e, NULL, la_write, NULL) != ARCHIVE_OK) {
        enc_fail(e, "start compression", err);
        goto fail;
    }
    archive_entry_set_filetype(entry, AE_IFREG);
    archive_entry_set_pathname(entry, "data");
    if (archive_write_header(e->a, entry) != ARCHIVE_OK) {
        enc_fail(e, "start compression", err);
        goto fail;
    }
    archive_entry_free(entry);
    return e;
fail:
    archive_entry_free(entry);
    sl_encoder_abort(e);
    return NULL;
}

int sl_encoder_write(struct sl_encoder *e, const void *p, size_t len, struct sl_err *err)
{
    const char *s = p;

    if (!e->a)
        return sl_store_put_write(e->w, p, len, err);
    while (len > 0) {
        la_ssize_t n = archive_write_data(e->a, s, len);
        if (n <= 0)
            return enc_fail(e, "compress", err);
        s += n;
        len -= (size_t)n;
    }
    return SL_OK;
}

int sl_encoder_finish(struct sl_encoder *e, struct sl_err *err)
{
    if (e->a) {
        if (archive_write_close(e->a) != ARCHIVE_OK) {
            enc_fail(e, "finish compression", err);
            sl_encoder_abort(e);
            return err->code;
        }
        archive_write_free(e->a);
        e->a = NULL;
    }
    int rc = sl_store_put_commit(e->w, err);
    sl_free(e);
    return rc;
}

void sl_encoder_abort(struct sl_encoder *e)
{
    if (!e)
        return;
    if (e->a) {
        /* close (not archive_write_fail, which leaks the filter state) with
         * the output dropped: the upload is aborted below anyway */
        e->aborting = 1;
        archive_write_close(e->a);
        archive_write_free(e->a);
    }
    sl_store_put_abort(e->w);
    sl_free(e);
}
