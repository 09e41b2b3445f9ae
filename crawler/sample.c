/*
 * crawler/sample.c - the sampling driver and classifier chain (see sample.h).
 * All I/O of classification happens here, through ranged GETs of the object
 * store; the classifiers themselves only see byte windows.
 */
#include "crawler/sample.h"

#include <string.h>

#include "crawler/avro.h"
#include "crawler/csv.h"
#include "crawler/decode.h"
#include "crawler/json.h"
#include "crawler/parquet.h"
#include "runtime/alloc.h"
#include "runtime/buf.h"

#define PARQUET_TAIL (64u << 10) /* §4: one suffix GET of 64 KiB holds most footers */
#define AVRO_HEAD_MAX (1u << 20) /* §4: the Avro header window grows to 1 MiB */

struct range_sink {
    struct sl_buf *buf;
    struct sl_err *err;
};

/* The listed ETag of the object being sampled: every GET must see that version.
 * Set once per sl_sample_object call, on the calling thread only. */
static _Thread_local const char *sample_etag;

static int to_buf(void *ud, const void *data, size_t len)
{
    struct range_sink *s = ud;
    return sl_buf_append(s->buf, data, len, s->err);
}

/* Appends bytes [off, off+len) of the object to b. */
static int fetch(struct sl_store *st, const char *key, int64_t off, int64_t len, struct sl_buf *b,
                 struct sl_err *err)
{
    struct range_sink s = { b, err };
    return sl_store_get_match(st, key, sample_etag, off, len, to_buf, &s, err);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* ---- Parquet ---- */

static int sample_parquet(struct sl_store *st, const char *key, int64_t size,
                          const unsigned char *head4, struct sl_buf *tail_have,
                          struct sl_cls_result *out, struct sl_err *err)
{
    struct sl_buf tail;
    size_t need = 0;
    int rc;

    sl_buf_init(&tail, 0);
    if (tail_have && tail_have->len) {
        rc = sl_buf_append(&tail, tail_have->data, tail_have->len, err);
    } else {
        int64_t n = size < (int64_t)PARQUET_TAIL ? size : (int64_t)PARQUET_TAIL;
        rc = fetch(st, key, size - n, n, &tail, err);
    }
    if (rc)
        goto out;
    rc = sl_parquet_classify_tail((const unsigned char *)tail.data, tail.len, size, head4, &need,
                                  out, err);
    if (rc == SL_ELIMIT && need > tail.len && (int64_t)need <= size) {
        /* one more GET for exactly the missing bytes, in front of what we have */
        struct sl_buf more;
        sl_buf_init(&more, 0);
        rc = fetch(st, key, size - (int64_t)need, (int64_t)(need - tail.len), &more, err);
        if (rc == SL_OK)
            rc = sl_buf_append(&more, tail.data, tail.len, err);
        if (rc == SL_OK) {
            sl_buf_cleanup(&tail);
            tail = more;
            sl_cls_result_cleanup(out);
            sl_cls_result_init(out);
            rc = sl_parquet_classify_tail((const unsigned char *)tail.data, tail.len, size,
                                          head4, &need, out, err);
        } else {
            sl_buf_cleanup(&more);
        }
    }
    if (rc == SL_EPARSE || rc == SL_ELIMIT) {
        /* PAR1 magic but no readable footer: unknown, not an I/O failure */
        sl_cls_result_cleanup(out);
        sl_cls_result_init(out);
        snprintf(out->reason, sizeof out->reason, "parquet footer: %.100s", err->msg);
        sl_err_clear(err);
        rc = SL_OK;
    }
out:
    sl_buf_cleanup(&tail);
    return rc;
}

/* ---- Text formats (JSON, then CSV: §5) ---- */

/* Runs json then csv on a decoded window and keeps the better verdict. */
static int classify_text(const char *data, size_t len, bool at_eof, const char *tail,
                         size_t tail_len, const char *name, const struct sl_crawl_opts *o,
                         struct sl_cls_result *out, struct sl_err *err)
{
    struct sl_cls_result j, c;
    int rc;

    sl_cls_result_init(&j);
    sl_cls_result_init(&c);
    if ((rc = sl_json_classify(data, len, at_eof, o, &j, err)) != SL_OK)
        goto out;
    if (j.certainty < 1.0 &&
        (rc = sl_csv_classify(data, len, at_eof, tail, tail_len, name, o, &c, err)) != SL_OK)
        goto out;
    /* ties go to the earlier classifier (json) */
    struct sl_cls_result *win = c.certainty > j.certainty ? &c : &j;
    struct sl_cls_result *lose = win == &c ? &j : &c;
    sl_cls_result_cleanup(out);
    *out = *win;
    sl_cls_result_init(win);
    if (!out->classification[0] || out->certainty <= 0) {
        /* neither: say why for both */
        char why[sizeof out->reason];
        snprintf(why, sizeof why, "json: %.50s; csv: %.60s",
                 j.reason[0] ? j.reason : (win == &j ? out->reason : "no"),
                 c.reason[0] ? c.reason : (win == &c ? out->reason : "not tried"));
        snprintf(out->reason, sizeof out->reason, "%s", why);
    }
    (void)lose;
out:
    sl_cls_result_cleanup(&j);
    sl_cls_result_cleanup(&c);
    return rc;
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

int sl_sample_object(struct sl_store *st, const char *key, const char *etag, const char *name,
                     int64_t size, const struct sl_crawl_opts *o, struct sl_cls_result *out,
                     struct sl_sample_info *info, struct sl_err *err)
{
    sample_etag = etag;
    struct sl_buf raw, dec, tail;
    int rc = SL_OK;

    memset(info, 0, sizeof *info);
    snprintf(info->compression, sizeof info->compression, "none");
    info->decoded_ratio = 1.0;
    sl_buf_init(&raw, o->sample_max_bytes + 1);
    sl_buf_init(&dec, o->sample_max_decoded_bytes + 1);
    sl_buf_init(&tail, 0);

    /* A ".parquet" name is only a hint: the suffix GET alone proves it when
     * the footer's trailing PAR1 and FileMetaData decode (§4, T29). */
    if (ends_with(name, ".parquet") && size > 12) {
        int64_t n = min64(size, PARQUET_TAIL);
        if ((rc = fetch(st, key, size - n, n, &tail, err)) != SL_OK)
            goto out;
        if (tail.len >= 4 && memcmp(tail.data + tail.len - 4, "PAR1", 4) == 0) {
            const unsigned char *head4 =
                n == size ? (const unsigned char *)tail.data : (const unsigned char *)"PAR1";
            rc = sample_parquet(st, key, size, head4, &tail, out, err);
            if (rc == SL_OK && out->classification[0])
                goto done;
            if (rc != SL_OK)
                goto out;
            sl_cls_result_cleanup(out);
            sl_cls_result_init(out);
        }
        sl_buf_reset(&tail);
    }

    /* head window */
    int64_t window = min64(size, (int64_t)o->sample_initial_bytes);
    if ((rc = fetch(st, key, 0, window, &raw, err)) != SL_OK)
        goto out;
    const unsigned char *h = (const unsigned char *)raw.data;

    if (raw.len >= 4 && memcmp(h, "PAR1", 4) == 0) {
        struct sl_buf *have = NULL;
        if ((int64_t)raw.len == size)
            have = &raw; /* the whole object is here already */
        rc = sample_parquet(st, key, size, h, have, out, err);
        goto done;
    }
    if (raw.len >= 4 && memcmp(h, "Obj\x01", 4) == 0) {
        size_t need = 0;
        for (;;) {
            rc = sl_avro_classify(h, raw.len, (int64_t)raw.len == size, &need, out, err);
            if (rc != SL_ELIMIT || need <= raw.len || need > AVRO_HEAD_MAX ||
                (int64_t)raw.len >= size)
                break;
            int64_t want = min64(size, (int64_t)(need > raw.len * 2 ? need : raw.len * 2));
            sl_cls_result_cleanup(out);
            sl_cls_result_init(out);
            if ((rc = fetch(st, key, (int64_t)raw.len, want - (int64_t)raw.len, &raw, err)) != SL_OK)
                goto out;
            h = (const unsigned char *)raw.data;
        }
        if (rc == SL_EPARSE || rc == SL_ELIMIT) {
            sl_cls_result_cleanup(out);
            sl_cls_result_init(out);
            snprintf(out->reason, sizeof out->reason, "avro header: %.100s", err->msg);
            sl_err_clear(err);
            rc = SL_OK;
        }
        goto done;
    }
    if (raw.len >= 3 && memcmp(h, "ORC", 3) == 0) {
        snprintf(out->classification, sizeof out->classification, "orc");
        out->certainty = 1.0;
        out->unsupported = true;
        snprintf(out->reason, sizeof out->reason, "orc_unsupported");
        goto done;
    }

    enum sl_codec codec = sl_codec_sniff(h, raw.len);
    if (codec == SL_CODEC_ZIP) {
        snprintf(out->reason, sizeof out->reason, "zip_unsupported");
        snprintf(info->compression, sizeof info->compression, "zip");
        goto done;
    }
    for (;;) {
        bool at_eof = (int64_t)raw.len >= size;
        const char *data = raw.data;
        size_t len = raw.len;
        bool dec_eof = at_eof;
        if (codec != SL_CODEC_NONE) {
            bool complete = false;
            sl_buf_reset(&dec);
            rc = sl_decode_prefix(codec, raw.data, raw.len, at_eof, o->sample_max_decoded_bytes,
                                  &dec, &complete, err);
            if (rc == SL_EPARSE) {
                snprintf(out->reason, sizeof out->reason, "corrupt %s stream: %.90s",
                         sl_codec_name(codec), err->msg);
                sl_err_clear(err);
                rc = SL_OK;
                goto done;
            }
            if (rc != SL_OK)
                goto out;
            snprintf(info->compression, sizeof info->compression, "%s", sl_codec_name(codec));
            if (sl_decode_is_container(dec.data, dec.len)) {
                snprintf(out->reason, sizeof out->reason, "compressed_container");
                goto done;
            }
            data = dec.data;
            len = dec.len;
            dec_eof = complete;
            info->decoded_ratio = raw.len ? (double)dec.len / (double)raw.len : 1.0;
            if (len == 0 && at_eof) {
                snprintf(out->reason, sizeof out->reason, "empty after %s decoding",
                         sl_codec_name(codec));
                goto done;
            }
        }
        /* tail window for large uncompressed text (§4) */
        const char *tdata = NULL;
        size_t tlen = 0;
        if (codec == SL_CODEC_NONE && !at_eof && size > 4 * (int64_t)o->sample_initial_bytes) {
            if (tail.len == 0) {
                int64_t n = min64(size - (int64_t)raw.len, (int64_t)o->tail_sample_bytes);
                if ((rc = fetch(st, key, size - n, n, &tail, err)) != SL_OK)
                    goto out;
            }
            tdata = tail.data;
            tlen = tail.len;
        }
        sl_cls_result_cleanup(out);
        sl_cls_result_init(out);
        if ((rc = classify_text(data, len, dec_eof, tdata, tlen, name, o, out, err)) != SL_OK)
            goto out;
        /* §4: grow the window while fewer than 2 complete records were found */
        bool few = out->n_records < 2 && !(out->classification[0] && out->certainty >= 1.0 &&
                                           strcmp(out->classification, "json") == 0 &&
                                           out->n_records >= 1);
        if (!few || at_eof || raw.len * 2 > o->sample_max_bytes ||
            (codec != SL_CODEC_NONE && !dec_eof && len >= o->sample_max_decoded_bytes))
            break;
        int64_t want = min64(size, (int64_t)raw.len * 2);
        if ((rc = fetch(st, key, (int64_t)raw.len, want - (int64_t)raw.len, &raw, err)) != SL_OK)
            goto out;
        h = (const unsigned char *)raw.data;
    }

done:
    if (out->classification[0] && out->certainty < o->min_certainty && !out->unsupported) {
        char was[16];
        snprintf(was, sizeof was, "%s", out->classification);
        double cert = out->certainty;
        sl_cls_result_cleanup(out);
        sl_cls_result_init(out);
        snprintf(out->reason, sizeof out->reason, "best guess %s at certainty %.2f is below %.2f",
                 was, cert, o->min_certainty);
    }
    if (out->classification[0]) {
        if (out->records_exact) {
            info->record_estimate = out->n_records;
            info->record_exact = true;
        } else if (out->avg_record_bytes > 0) {
            double decoded_size = (double)size * info->decoded_ratio;
            info->record_estimate = (int64_t)(decoded_size / out->avg_record_bytes + 0.5);
        } else {
            info->record_estimate = out->n_records;
        }
    }
    rc = SL_OK;
out:
    sl_buf_cleanup(&raw);
    sl_buf_cleanup(&dec);
    sl_buf_cleanup(&tail);
    return rc;
}
