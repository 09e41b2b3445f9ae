/*
 * runtime/store_s3_upload.c - the S3 put writer: one PutObject up to the part
 * size, else a multipart upload whose parts go up in parallel. Requests go
 * through store_s3.c's engine (signing, retries).
 *
 * How it works: the caller's writes fill one part buffer (the "current"
 * part). When it is full and more data arrives, the multipart upload is
 * created (first time), and the part is queued for a small pool of upload
 * threads (SL_S3_UPLOAD_THREADS, started with the first part, each with its
 * own CURL handle borrowed from the store). Before queueing, the caller waits
 * until fewer than SL_S3_UPLOAD_THREADS parts are queued or uploading, so at
 * most SL_S3_UPLOAD_THREADS + 1 part buffers exist: memory is bounded by
 * (threads + 1) x part size (5 x 8 MiB = 40 MiB by default), whatever the
 * object size. Finished parts come back on a "done" list that only the
 * caller's thread reads: it records their ETags, adds their request counters
 * to the store's stats and recycles their buffers, so upload threads never
 * touch the store's own fields. Part sizes double every
 * SL_S3_PARTS_PER_DOUBLING parts (S3 allows 10,000 parts), capped at 5 GiB.
 *
 * Failure: the first failed part (after the engine's retries) fails the
 * writer. A shared cancel flag then stops the other uploads at once (curl's
 * progress callback) and their retries; the error surfaces from the next
 * write or from commit. Commit on a failed writer, a failed completion, and
 * put_abort all join the threads and then send AbortMultipartUpload (with
 * retries), so no parts are left behind when S3 can be reached.
 *
 * Locks: w->lock guards the queue, the done list, n_busy and stop; it is
 * never held during network I/O.
 */
#include "store_s3_internal.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

struct part {
    struct part *next;  /* in the queue, the done list or the spare list */
    int number;         /* 1-based part number */
    char *data;         /* owned */
    size_t len, cap;    /* bytes */
    char etag[72];      /* from UploadPart, without quotes */
    int rc;             /* result of the upload */
    struct sl_err err;  /* details when rc != SL_OK */
    struct sl_store_stats stats; /* counted by the upload thread, folded in by the caller */
};

struct s3_writer {
    struct sl_store_writer base; /* first: store.c finds the ops through it */
    struct sl_store *st;
    struct s3_store *s;
    char *key, *uri;       /* owned */
    char *upload_id;       /* owned; NULL until the multipart upload exists */
    struct part *cur;      /* being filled; caller's thread */
    struct part *spare;    /* recycled buffers; caller's thread */
    int next_number;       /* number of the next part to queue */
    char (*etags)[72];     /* owned; ETag of part i+1; caller's thread */
    size_t etags_cap;
    bool failed;           /* caller's thread */
    struct sl_err fail_err;

    pthread_mutex_t lock;
    pthread_cond_t work;   /* a part was queued, or stop */
    pthread_cond_t done_cv; /* a part finished */
    struct part *q_head, *q_tail; /* guarded by lock */
    struct part *done;            /* guarded by lock */
    int n_busy;                   /* queued + uploading; guarded by lock */
    bool stop;                    /* guarded by lock */
    atomic_bool cancel;           /* stops transfers and retries in progress */
    pthread_t threads[SL_S3_UPLOAD_THREADS];
    int n_threads;
};

/* ---- Upload threads ---- */

static void upload_part(struct s3_writer *w, struct s3_conn **conn, struct part *p)
{
    char note[32];
    struct s3_resp rs;
    char *query = NULL;
    char num[16];

    snprintf(note, sizeof note, " part %d", p->number);
    sl_s3_resp_init(&rs);
    if (atomic_load(&w->cancel)) {
        p->rc = sl_err_set(&p->err, SL_ECANCELLED, "upload \"%s\"%s: cancelled", w->uri, note);
        goto done;
    }
    if (!*conn)
        *conn = sl_s3_conn_acquire(w->s);
    snprintf(num, sizeof num, "%d", p->number);
    struct s3_qparam qp[] = { { "partNumber", num }, { "uploadId", w->upload_id } };
    query = sl_s3_query(qp, 2);
    if (!*conn || !query) {
        p->rc = sl_err_set(&p->err, SL_ENOMEM, "upload \"%s\"%s: out of memory", w->uri, note);
        goto done;
    }
    struct s3_req rq = { .op = "upload", .uri = w->uri, .uri_note = note, .method = "PUT",
                         .key = w->key, .query = query, .body = p->data, .body_len = p->len,
                         .counter = &p->stats.put_requests, .stats = &p->stats,
                         .cancel = &w->cancel };
    p->rc = sl_s3_request(w->s, *conn, &rq, &rs, &p->err);
    if (p->rc) {
        sl_err_prefix(&p->err, "upload \"%s\"%s", w->uri, note);
    } else if (rs.status / 100 != 2) {
        p->rc = sl_s3_http_error(w->s, &rq, &rs, &p->err);
    } else if (!rs.etag[0]) {
        p->rc = sl_err_set(&p->err, SL_EPARSE, "upload \"%s\"%s: response without an ETag",
                           w->uri, note);
    } else {
        memcpy(p->etag, rs.etag, sizeof p->etag);
        p->stats.bytes_written += p->len;
    }
done:
    sl_free(query);
    sl_s3_resp_cleanup(&rs);
}

static void *upload_thread(void *arg)
{
    struct s3_writer *w = arg;
    struct s3_conn *conn = NULL;

    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (!w->q_head && !w->stop)
            pthread_cond_wait(&w->work, &w->lock);
        struct part *p = w->q_head;
        if (!p)
            break; /* stop, and nothing left to do */
        w->q_head = p->next;
        if (!w->q_head)
            w->q_tail = NULL;
        pthread_mutex_unlock(&w->lock);

        upload_part(w, &conn, p);

        pthread_mutex_lock(&w->lock);
        p->next = w->done;
        w->done = p;
        w->n_busy--;
        pthread_cond_signal(&w->done_cv);
    }
    pthread_mutex_unlock(&w->lock);
    sl_s3_conn_release(w->s, conn);
    return NULL;
}

static void add_stats(struct sl_store_stats *to, const struct sl_store_stats *from)
{
    to->list_requests += from->list_requests;
    to->head_requests += from->head_requests;
    to->get_requests += from->get_requests;
    to->put_requests += from->put_requests;
    to->delete_requests += from->delete_requests;
    to->bytes_read += from->bytes_read;
    to->bytes_written += from->bytes_written;
    to->retries += from->retries;
}

/* Handles finished parts taken off the done list (caller's thread, no lock
 * held): records ETags or the first failure, folds stats, recycles buffers. */
static void reap(struct s3_writer *w, struct part *list)
{
    while (list) {
        struct part *p = list;
        list = p->next;
        add_stats(&w->st->stats, &p->stats);
        memset(&p->stats, 0, sizeof p->stats);
        if (p->rc != SL_OK) {
            /* the first real failure wins over the cancellations it caused */
            if (!w->failed || (w->fail_err.code == SL_ECANCELLED && p->rc != SL_ECANCELLED)) {
                w->fail_err = p->err;
                w->fail_err.code = p->rc;
            }
            w->failed = true;
            atomic_store(&w->cancel, true);
        } else {
            memcpy(w->etags[p->number - 1], p->etag, sizeof w->etags[0]);
        }
        p->len = 0;
        p->next = w->spare;
        w->spare = p;
    }
}

/* Waits until at most max_busy parts are queued or uploading, then reaps. */
static void wait_busy(struct s3_writer *w, int max_busy)
{
    pthread_mutex_lock(&w->lock);
    while (w->n_busy > max_busy)
        pthread_cond_wait(&w->done_cv, &w->lock);
    struct part *list = w->done;
    w->done = NULL;
    pthread_mutex_unlock(&w->lock);
    reap(w, list);
}

static void stop_threads(struct s3_writer *w)
{
    if (!w->n_threads)
        return;
    pthread_mutex_lock(&w->lock);
    w->stop = true;
    pthread_cond_broadcast(&w->work);
    pthread_mutex_unlock(&w->lock);
    for (int i = 0; i < w->n_threads; i++)
        pthread_join(w->threads[i], NULL);
    w->n_threads = 0;
    wait_busy(w, 0);
}

static int start_threads(struct s3_writer *w, struct sl_err *err)
{
    for (int i = 0; i < SL_S3_UPLOAD_THREADS; i++) {
        if (pthread_create(&w->threads[w->n_threads], NULL, upload_thread, w) != 0)
            break;
        w->n_threads++;
    }
    if (!w->n_threads)
        return sl_err_set(err, SL_ENOMEM, "upload \"%s\": cannot start upload threads", w->uri);
    return SL_OK;
}

/* ---- Requests made by the caller's thread ---- */

static int create_upload(struct s3_writer *w, struct sl_err *err)
{
    struct s3_resp rs;
    struct s3_qparam qp[] = { { "uploads", "" } };
    char *query = sl_s3_query(qp, 1);
    char id[1024];
    int rc;

    sl_s3_resp_init(&rs);
    if (!query) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto done;
    }
    struct s3_req rq = { .op = "start upload", .uri = w->uri, .method = "POST", .key = w->key,
                         .query = query, .content_type = "application/octet-stream",
                         .counter = &w->st->stats.put_requests, .stats = &w->st->stats };
    if ((rc = sl_s3_request(w->s, &w->s->main, &rq, &rs, err))) {
        sl_err_prefix(err, "start upload \"%s\"", w->uri);
        goto done;
    }
    if (rs.status / 100 != 2) {
        rc = sl_s3_http_error(w->s, &rq, &rs, err);
        goto done;
    }
    sl_s3_xml_text(rs.body.data ? rs.body.data : "", rs.body.len, "UploadId", id, sizeof id);
    if (!id[0]) {
        rc = sl_err_set(err, SL_EPARSE, "start upload \"%s\": response without an UploadId",
                        w->uri);
        goto done;
    }
    w->upload_id = sl_strdup(id);
    if (!w->upload_id)
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
done:
    sl_free(query);
    sl_s3_resp_cleanup(&rs);
    return rc;
}

/* Best effort: S3 keeps (and bills) the parts of an upload until it is
 * completed or aborted. Errors are dropped: the caller already has one. */
static void abort_upload(struct s3_writer *w)
{
    struct s3_resp rs;
    struct sl_err ignored;
    struct s3_qparam qp[1];
    char *query;

    atomic_store(&w->cancel, true);
    stop_threads(w);
    if (!w->upload_id)
        return;
    qp[0] = (struct s3_qparam){ "uploadId", w->upload_id };
    query = sl_s3_query(qp, 1);
    if (!query)
        return;
    sl_s3_resp_init(&rs);
    struct s3_req rq = { .op = "abort upload", .uri = w->uri, .method = "DELETE",
                         .key = w->key, .query = query,
                         .counter = &w->st->stats.delete_requests, .stats = &w->st->stats };
    sl_s3_request(w->s, &w->s->main, &rq, &rs, &ignored);
    sl_s3_resp_cleanup(&rs);
    sl_free(query);
    sl_free(w->upload_id);
    w->upload_id = NULL;
}

static int put_single(struct s3_writer *w, struct sl_err *err)
{
    struct s3_resp rs;
    const char *data = w->cur ? w->cur->data : NULL;
    size_t len = w->cur ? w->cur->len : 0;
    int rc;

    sl_s3_resp_init(&rs);
    struct s3_req rq = { .op = "put", .uri = w->uri, .method = "PUT", .key = w->key,
                         .body = data, .body_len = len,
                         .counter = &w->st->stats.put_requests, .stats = &w->st->stats };
    if ((rc = sl_s3_request(w->s, &w->s->main, &rq, &rs, err))) {
        sl_err_prefix(err, "put \"%s\"", w->uri);
    } else if (rs.status / 100 != 2) {
        rc = sl_s3_http_error(w->s, &rq, &rs, err);
    } else {
        w->st->stats.bytes_written += len;
    }
    sl_s3_resp_cleanup(&rs);
    return rc;
}

/* The ETag S3 gives a completed multipart object: MD5 of the parts' binary
 * MD5s, "-<count>". Empty when a part ETag is not a plain MD5. */
static void multipart_etag(const struct s3_writer *w, int n_parts, char out[72])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;

    out[0] = '\0';
    if (!ctx)
        return;
    EVP_DigestInit_ex(ctx, EVP_md5(), NULL);
    for (int i = 0; i < n_parts; i++) {
        unsigned char bin[16];
        const char *e = w->etags[i];
        if (strlen(e) != 32) {
            EVP_MD_CTX_free(ctx);
            return;
        }
        for (int k = 0; k < 16; k++) {
            unsigned v;
            if (sscanf(e + 2 * k, "%2x", &v) != 1) {
                EVP_MD_CTX_free(ctx);
                return;
            }
            bin[k] = (unsigned char)v;
        }
        EVP_DigestUpdate(ctx, bin, sizeof bin);
    }
    EVP_DigestFinal_ex(ctx, md, &md_len);
    EVP_MD_CTX_free(ctx);
    for (unsigned i = 0; i < md_len && i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    snprintf(out + 32, 40, "-%d", n_parts);
}

static int complete_upload(struct s3_writer *w, struct sl_err *err)
{
    struct sl_buf xml;
    struct s3_resp rs;
    struct s3_qparam qp[] = { { "uploadId", w->upload_id } };
    char *query = sl_s3_query(qp, 1);
    int n_parts = w->next_number - 1;
    int rc;

    sl_buf_init(&xml, 0);
    sl_s3_resp_init(&rs);
    if (!query) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto done;
    }
    rc = sl_buf_puts(&xml, "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/"
                           "2006-03-01/\">", err);
    for (int i = 0; i < n_parts && !rc; i++)
        rc = sl_buf_printf(&xml, err, "<Part><PartNumber>%d</PartNumber><ETag>\"%s\"</ETag></Part>",
                           i + 1, w->etags[i]);
    if (!rc)
        rc = sl_buf_puts(&xml, "</CompleteMultipartUpload>", err);
    if (rc)
        goto done;
    struct s3_req rq = { .op = "complete upload", .uri = w->uri, .method = "POST",
                         .key = w->key, .query = query, .body = xml.data, .body_len = xml.len,
                         .content_type = "application/xml", .body_may_hold_error = true,
                         .counter = &w->st->stats.put_requests, .stats = &w->st->stats };
    if ((rc = sl_s3_request(w->s, &w->s->main, &rq, &rs, err))) {
        sl_err_prefix(err, "complete upload \"%s\"", w->uri);
        goto done;
    }
    if (rs.status / 100 == 2 && !rs.code[0])
        goto done;
    if (rs.status == 404 && strcmp(rs.code, "NoSuchUpload") == 0 && rs.attempts > 1) {
        /* an earlier attempt may have completed it, its answer lost: check */
        char want[72];
        struct sl_obj_info info;
        struct sl_err herr;
        multipart_etag(w, n_parts, want);
        if (want[0] && w->st->ops->head(w->st, w->key, &info, &herr) == SL_OK &&
            strcmp(info.etag, want) == 0)
            goto done;
    }
    rc = sl_s3_http_error(w->s, &rq, &rs, err);
done:
    sl_buf_cleanup(&xml);
    sl_s3_resp_cleanup(&rs);
    sl_free(query);
    return rc;
}

/* ---- The writer ---- */

static size_t part_target(const struct s3_writer *w, int number)
{
    size_t size = w->s->part_size;
    for (int k = (number - 1) / SL_S3_PARTS_PER_DOUBLING; k > 0 && size < SL_S3_PART_MAX; k--)
        size *= 2;
    return size < SL_S3_PART_MAX ? size : SL_S3_PART_MAX;
}

static void writer_free(struct s3_writer *w)
{
    stop_threads(w);
    struct part *lists[] = { w->cur, w->spare };
    for (size_t i = 0; i < SL_ARRAY_LEN(lists); i++) {
        while (lists[i]) {
            struct part *p = lists[i];
            lists[i] = p->next;
            sl_free(p->data);
            sl_free(p);
        }
    }
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->work);
    pthread_cond_destroy(&w->done_cv);
    sl_free(w->etags);
    sl_free(w->upload_id);
    sl_free(w->key);
    sl_free(w->uri);
    sl_free(w);
}

struct sl_store_writer *sl_s3_put_begin(struct sl_store *st, const char *key, struct sl_err *err)
{
    struct s3_writer *w = sl_calloc(1, sizeof *w);
    if (!w) {
        sl_err_set(err, SL_ENOMEM, "out of memory");
        return NULL;
    }
    w->base.st = st;
    w->st = st;
    w->s = st->impl;
    w->next_number = 1;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->work, NULL);
    pthread_cond_init(&w->done_cv, NULL);
    atomic_init(&w->cancel, false);
    w->key = sl_strdup(key);
    w->uri = sl_asprintf("s3://%s/%s", st->bucket, key);
    if (!w->key || !w->uri) {
        writer_free(w);
        sl_err_set(err, SL_ENOMEM, "out of memory");
        return NULL;
    }
    return &w->base;
}

/* Queues the full current part (starting the multipart upload and the
 * threads the first time), after waiting for a free upload slot. */
static int queue_part(struct s3_writer *w, struct sl_err *err)
{
    int rc;
    if (!w->upload_id && (rc = create_upload(w, err)))
        return rc;
    if (!w->n_threads && (rc = start_threads(w, err)))
        return rc;
    if (w->next_number > SL_S3_MAX_PARTS)
        return sl_err_set(err, SL_ELIMIT, "upload \"%s\": more than %d parts", w->uri,
                          SL_S3_MAX_PARTS);
    if ((size_t)w->next_number > w->etags_cap) {
        size_t cap = w->etags_cap ? w->etags_cap * 2 : 64;
        void *e = sl_realloc(w->etags, cap * sizeof w->etags[0]);
        if (!e)
            return sl_err_set(err, SL_ENOMEM, "out of memory");
        w->etags = e;
        w->etags_cap = cap;
    }
    wait_busy(w, SL_S3_UPLOAD_THREADS - 1);
    if (w->failed)
        return SL_OK; /* the caller reports fail_err */
    struct part *p = w->cur;
    w->cur = NULL;
    p->number = w->next_number++;
    p->rc = SL_OK;
    p->next = NULL;
    pthread_mutex_lock(&w->lock);
    if (w->q_tail)
        w->q_tail->next = p;
    else
        w->q_head = p;
    w->q_tail = p;
    w->n_busy++;
    pthread_cond_signal(&w->work);
    pthread_mutex_unlock(&w->lock);
    return SL_OK;
}

static int failed(struct s3_writer *w, struct sl_err *err)
{
    *err = w->fail_err;
    return err->code;
}

/* Marks the writer failed with err (a caller-thread failure). */
static int fail_with(struct s3_writer *w, int rc, struct sl_err *err)
{
    w->failed = true;
    w->fail_err = *err;
    w->fail_err.code = rc;
    atomic_store(&w->cancel, true);
    return rc;
}

int sl_s3_put_write(struct sl_store_writer *base, const void *data, size_t len,
                    struct sl_err *err)
{
    struct s3_writer *w = (struct s3_writer *)base;
    const char *in = data;
    int rc;

    while (len > 0 && !w->failed) {
        size_t target = part_target(w, w->next_number);
        if (w->cur && w->cur->len == target) { /* full, and more is coming */
            if ((rc = queue_part(w, err)))
                return fail_with(w, rc, err);
            continue;
        }
        if (!w->cur) {
            w->cur = w->spare;
            if (w->cur) {
                w->spare = w->cur->next;
            } else if (!(w->cur = sl_calloc(1, sizeof *w->cur))) {
                rc = sl_err_set(err, SL_ENOMEM, "out of memory");
                return fail_with(w, rc, err);
            }
            w->cur->next = NULL;
            w->cur->len = 0;
        }
        struct part *p = w->cur;
        size_t n = target - p->len < len ? target - p->len : len;
        if (p->len + n > p->cap) {
            /* grow geometrically up to the part size: small objects stay small */
            size_t cap = p->cap ? p->cap : 64 << 10;
            while (cap < p->len + n)
                cap *= 2;
            if (cap > target)
                cap = target;
            char *d = sl_realloc(p->data, cap);
            if (!d) {
                rc = sl_err_set(err, SL_ENOMEM, "upload \"%s\": out of memory for a %zu-byte part",
                                w->uri, cap);
                return fail_with(w, rc, err);
            }
            p->data = d;
            p->cap = cap;
        }
        memcpy(p->data + p->len, in, n);
        p->len += n;
        in += n;
        len -= n;
    }
    if (w->failed)
        return failed(w, err);
    return SL_OK;
}

int sl_s3_put_commit(struct sl_store_writer *base, struct sl_err *err)
{
    struct s3_writer *w = (struct s3_writer *)base;
    int rc = SL_OK;

    if (w->failed) {
        rc = failed(w, err);
    } else if (!w->upload_id) {
        rc = put_single(w, err);
    } else {
        if (w->cur && w->cur->len > 0 && (rc = queue_part(w, err)))
            fail_with(w, rc, err);
        wait_busy(w, 0);
        if (w->failed)
            rc = failed(w, err);
        else
            rc = complete_upload(w, err);
    }
    if (rc)
        abort_upload(w);
    writer_free(w);
    return rc;
}

void sl_s3_put_abort(struct sl_store_writer *base)
{
    struct s3_writer *w = (struct s3_writer *)base;
    abort_upload(w);
    writer_free(w);
}
