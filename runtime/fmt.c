/*
 * runtime/fmt.c - the table of file formats (fmt_csv.c, fmt_jsonl.c) and the
 * pieces they share: the sliding read window over a decoder and the
 * buffered, compressed output of writers. Parsing and printing live in the
 * format files; (de)compression in codec.c.
 */
#include <string.h>

#include "alloc.h"
#include "fmt.h"

#define OUT_MAX ((size_t)64 << 20) /* bytes: one row's output may not exceed this */

void sl_fmt_opts_init(struct sl_fmt_opts *o)
{
    memset(o, 0, sizeof *o);
    o->delimiter = ',';
    o->quote = '"';
    o->escape = SL_FMT_ESC_DOUBLED;
    o->range_start = 0;
    o->range_end = -1;
    o->header = true;
}

static const struct {
    const char *name;
    const struct sl_fmt_ops *ops;
} formats[] = {
    {"csv", &sl_fmt_csv_ops},     {"tsv", &sl_fmt_csv_ops},     {"json", &sl_fmt_jsonl_ops},
    {"jsonl", &sl_fmt_jsonl_ops}, {"ndjson", &sl_fmt_jsonl_ops},
};

const struct sl_fmt_ops *sl_fmt_find(const char *name)
{
    for (size_t i = 0; name && i < SL_ARRAY_LEN(formats); i++)
        if (strcmp(name, formats[i].name) == 0)
            return formats[i].ops;
    return NULL;
}

int sl_fmt_next_batch(struct sl_fmt_reader *r, struct sl_batch *b, struct sl_err *err)
{
    return r->ops->next_batch(r, b, err);
}

void sl_fmt_reader_close(struct sl_fmt_reader *r)
{
    if (r)
        r->ops->reader_close(r);
}

int sl_fmt_write_batch(struct sl_fmt_writer *w, const struct sl_batch *b, struct sl_err *err)
{
    return w->ops->write_batch(w, b, err);
}

int sl_fmt_writer_finish(struct sl_fmt_writer *w, struct sl_err *err)
{
    return w->ops->writer_finish(w, err);
}

void sl_fmt_writer_abort(struct sl_fmt_writer *w)
{
    if (w)
        w->ops->writer_abort(w);
}

/* ---- Read window ---- */

struct magic {
    unsigned char b[SL_CODEC_MAGIC_LEN];
    size_t len;
};

static int magic_fn(void *ud, const void *data, size_t len)
{
    struct magic *m = ud;
    size_t n = len < sizeof m->b - m->len ? len : sizeof m->b - m->len;
    memcpy(m->b + m->len, data, n);
    m->len += n;
    return SL_OK;
}

int sl_fmt_win_open(struct sl_fmt_win *w, struct sl_store *st, const char *key,
                    const struct sl_fmt_opts *o, size_t max, struct sl_err *err)
{
    int64_t off = o->range_start > 0 ? o->range_start : 0;
    int whole = off == 0 && o->range_end < 0;

    memset(w, 0, sizeof *w);
    w->max = max;
    w->cap = 2 * SL_FMT_READ_LEN < max ? 2 * SL_FMT_READ_LEN : max;
    w->base = off;
    if (!(w->data = sl_alloc(w->cap + 1)))
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    w->data[0] = '\0';
    if (!whole) {
        /* a split past 0 cannot see the magic itself: look at the object's head */
        struct magic m = {{0}, 0};
        int rc = sl_store_get(st, key, 0, SL_CODEC_MAGIC_LEN, magic_fn, &m, err);
        if (rc != SL_OK)
            return rc;
        if (sl_codec_detect(m.b, m.len) != SL_COMPRESSION_NONE)
            return sl_err_set(err, SL_ECONFIG, "cannot read a byte range of %s-compressed \"%s\"",
                              sl_codec_label(sl_codec_detect(m.b, m.len)), key);
    }
    if (!(w->dec = sl_decoder_open(st, key, off, -1, whole, err)))
        return err->code;
    return SL_OK;
}

int sl_fmt_win_more(struct sl_fmt_win *w, struct sl_err *err)
{
    if (w->eof)
        return SL_OK;
    if (w->pos > 0) {
        memmove(w->data, w->data + w->pos, w->len - w->pos);
        w->base += (int64_t)w->pos;
        w->len -= w->pos;
        w->pos = 0;
    }
    if (w->len == w->cap) {
        if (w->cap >= w->max)
            return sl_err_set(err, SL_ELIMIT, "record longer than %zu bytes", w->max);
        size_t cap = w->cap * 2 < w->max ? w->cap * 2 : w->max;
        char *p = sl_realloc(w->data, cap + 1);
        if (!p)
            return sl_err_set(err, SL_ENOMEM, "out of memory");
        w->data = p;
        w->cap = cap;
    }
    size_t want = w->cap - w->len, n;
    if (want > SL_FMT_READ_LEN)
        want = SL_FMT_READ_LEN;
    int rc = sl_decoder_read(w->dec, w->data + w->len, want, &n, err);
    if (rc != SL_OK)
        return rc;
    if (n == 0)
        w->eof = true;
    w->len += n;
    w->data[w->len] = '\0';
    return SL_OK;
}

int sl_fmt_win_skip_line(struct sl_fmt_win *w, struct sl_err *err)
{
    for (;;) {
        const char *nl = memchr(w->data + w->pos, '\n', w->len - w->pos);
        if (nl) {
            w->pos = (size_t)(nl - w->data) + 1;
            return SL_OK;
        }
        w->pos = w->len;
        if (w->eof)
            return SL_OK;
        int rc = sl_fmt_win_more(w, err);
        if (rc != SL_OK)
            return rc;
    }
}

void sl_fmt_win_cleanup(struct sl_fmt_win *w)
{
    sl_decoder_free(w->dec);
    sl_free(w->data);
    memset(w, 0, sizeof *w);
}

/* ---- Writer output ---- */

int sl_fmt_out_open(struct sl_fmt_out *out, struct sl_store *st, const char *key,
                    enum sl_compression codec, struct sl_err *err)
{
    memset(out, 0, sizeof *out);
    sl_buf_init(&out->buf, OUT_MAX);
    struct sl_store_writer *sw = sl_store_put_begin(st, key, err);
    if (!sw)
        return err->code;
    if (!(out->enc = sl_encoder_new_take(sw, codec, err)))
        return err->code;
    return SL_OK;
}

int sl_fmt_out_flush(struct sl_fmt_out *out, bool always, struct sl_err *err)
{
    if (out->buf.len == 0 || (!always && out->buf.len < SL_FMT_OUT_FLUSH))
        return SL_OK;
    int rc = sl_encoder_write(out->enc, out->buf.data, out->buf.len, err);
    sl_buf_reset(&out->buf);
    return rc;
}

int sl_fmt_out_finish(struct sl_fmt_out *out, struct sl_err *err)
{
    int rc = sl_fmt_out_flush(out, true, err);
    if (rc != SL_OK) {
        sl_fmt_out_abort(out);
        return rc;
    }
    rc = sl_encoder_finish(out->enc, err);
    out->enc = NULL;
    sl_buf_cleanup(&out->buf);
    return rc;
}

void sl_fmt_out_abort(struct sl_fmt_out *out)
{
    sl_encoder_abort(out->enc);
    out->enc = NULL;
    sl_buf_cleanup(&out->buf);
}
