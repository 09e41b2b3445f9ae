/*
 * runtime/store.c - URI parsing and dispatch to the object-store backends
 * (store_local.c, store_s3.c). Backends do the I/O; this file owns the
 * struct sl_store and the checks every backend shares.
 */
#include "store.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "store_internal.h"

int sl_store_key_cmp(const char *a, const char *b)
{
    return strcmp(a, b); /* strcmp compares as unsigned char: byte-wise order */
}

void sl_uri_cleanup(struct sl_uri *u)
{
    sl_free(u->bucket);
    sl_free(u->key);
    u->bucket = u->key = NULL;
}

/* Makes a local path absolute (without resolving links, so a missing file is
 * fine) and drops "." segments and duplicate slashes; ".." is resolved
 * lexically. Returns the key: the absolute path without its leading '/'. */
static int local_key(const char *path, char **key_out, struct sl_err *err)
{
    struct sl_buf b;
    char cwd[PATH_MAX];
    int trailing = path[0] && path[strlen(path) - 1] == '/';

    sl_buf_init(&b, 4 * PATH_MAX);
    if (path[0] != '/') {
        if (!getcwd(cwd, sizeof cwd))
            return sl_err_sys(err, SL_EIO, errno, "cannot resolve \"%s\": getcwd", path);
        if (sl_buf_puts(&b, cwd, err) || sl_buf_putc(&b, '/', err))
            goto fail;
    }
    if (sl_buf_puts(&b, path, err))
        goto fail;

    /* normalise in place: segments separated by '/' */
    char *src = b.data;
    size_t o = 0;
    char *out = b.data;
    while (*src) {
        while (*src == '/')
            src++;
        char *seg = src;
        while (*src && *src != '/')
            src++;
        size_t n = (size_t)(src - seg);
        if (n == 0 || (n == 1 && seg[0] == '.'))
            continue;
        if (n == 2 && seg[0] == '.' && seg[1] == '.') {
            while (o > 0 && out[o - 1] != '/')
                o--;
            if (o > 0)
                o--;
            continue;
        }
        if (o > 0)
            out[o++] = '/';
        memmove(out + o, seg, n);
        o += n;
    }
    if (trailing && o > 0)
        out[o++] = '/';
    out[o] = '\0';
    b.len = o;
    *key_out = sl_buf_take(&b, NULL);
    if (!*key_out)
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    return SL_OK;
fail:
    sl_buf_cleanup(&b);
    return err->code;
}

int sl_uri_parse(const char *uri, struct sl_uri *out, struct sl_err *err)
{
    out->bucket = out->key = NULL;
    if (!uri || !uri[0])
        return sl_err_set(err, SL_ECONFIG, "empty path or URI");
    if (strncmp(uri, "s3://", 5) == 0 || strncmp(uri, "s3a://", 6) == 0) {
        const char *b = strchr(uri, ':') + 3;
        const char *slash = strchr(b, '/');
        size_t blen = slash ? (size_t)(slash - b) : strlen(b);
        if (blen == 0)
            return sl_err_set(err, SL_ECONFIG, "\"%s\": no bucket name", uri);
        if (blen < 3 || blen > 63)
            return sl_err_set(err, SL_ECONFIG, "\"%s\": bucket names have 3 to 63 characters",
                              uri);
        for (size_t i = 0; i < blen; i++) {
            char c = b[i];
            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
                  c == '_'))
                return sl_err_set(err, SL_ECONFIG, "\"%s\": bad character in bucket name", uri);
        }
        out->scheme = SL_URI_S3;
        out->bucket = sl_strndup(b, blen);
        out->key = sl_strdup(slash ? slash + 1 : "");
        if (!out->bucket || !out->key) {
            sl_uri_cleanup(out);
            return sl_err_set(err, SL_ENOMEM, "out of memory");
        }
        return SL_OK;
    }
    const char *path = uri;
    if (strncmp(uri, "file://", 7) == 0) {
        path = uri + 7;
        if (path[0] != '/')
            return sl_err_set(err, SL_ECONFIG,
                              "\"%s\": file URIs name an absolute path (file:///dir/x)", uri);
    } else if (strstr(uri, "://")) {
        return sl_err_set(err, SL_ECONFIG, "\"%s\": unsupported scheme (use s3://, file:// or a path)",
                          uri);
    }
    out->scheme = SL_URI_FILE;
    out->bucket = sl_strdup("");
    if (!out->bucket)
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    int rc = local_key(path, &out->key, err);
    if (rc)
        sl_uri_cleanup(out);
    return rc;
}

struct sl_store *sl_store_open(const char *uri, char **key_out, struct sl_err *err)
{
    struct sl_uri u;
    struct sl_store *st = NULL;

    if (key_out)
        *key_out = NULL;
    if (sl_uri_parse(uri, &u, err))
        return NULL;
    st = sl_calloc(1, sizeof *st);
    if (!st) {
        sl_err_set(err, SL_ENOMEM, "out of memory");
        goto fail;
    }
    st->ops = u.scheme == SL_URI_S3 ? &sl_store_s3_ops : &sl_store_local_ops;
    st->bucket = u.bucket;
    u.bucket = NULL;
    if (st->ops->open(st, st->bucket, err)) {
        sl_free(st->bucket);
        sl_free(st);
        st = NULL;
        goto fail;
    }
    if (key_out) {
        *key_out = u.key;
        u.key = NULL;
    }
    sl_uri_cleanup(&u);
    return st;
fail:
    sl_uri_cleanup(&u);
    return NULL;
}

void sl_store_free(struct sl_store *st)
{
    if (!st)
        return;
    st->ops->close(st);
    sl_free(st->bucket);
    sl_free(st);
}

const char *sl_store_scheme(const struct sl_store *st)
{
    return st->ops->scheme;
}

char *sl_store_uri(const struct sl_store *st, const char *key)
{
    if (strcmp(st->ops->scheme, "s3") == 0)
        return sl_asprintf("s3://%s/%s", st->bucket, key);
    return sl_asprintf("/%s", key);
}

int sl_store_list(struct sl_store *st, const char *prefix, const char *delimiter, sl_list_fn fn,
                  void *ud, struct sl_err *err)
{
    if (delimiter && !delimiter[0])
        delimiter = NULL;
    return st->ops->list(st, prefix ? prefix : "", delimiter, fn, ud, err);
}

int sl_store_head(struct sl_store *st, const char *key, struct sl_obj_info *info,
                  struct sl_err *err)
{
    memset(info, 0, sizeof *info);
    return st->ops->head(st, key, info, err);
}

int sl_store_get(struct sl_store *st, const char *key, int64_t off, int64_t len, sl_data_fn fn,
                 void *ud, struct sl_err *err)
{
    if (off < 0)
        return sl_err_set(err, SL_EINTERNAL, "get \"%s\": negative offset", key);
    return st->ops->get(st, key, NULL, off, len, fn, ud, err);
}

int sl_store_get_match(struct sl_store *st, const char *key, const char *etag, int64_t off,
                       int64_t len, sl_data_fn fn, void *ud, struct sl_err *err)
{
    if (off < 0)
        return sl_err_set(err, SL_EINTERNAL, "get \"%s\": negative offset", key);
    return st->ops->get(st, key, etag && etag[0] ? etag : NULL, off, len, fn, ud, err);
}

struct sl_store_writer *sl_store_put_begin(struct sl_store *st, const char *key,
                                           struct sl_err *err)
{
    if (!key[0] || key[strlen(key) - 1] == '/') {
        sl_err_set(err, SL_ECONFIG, "put \"%s\": an object key cannot be empty or end with '/'",
                   key);
        return NULL;
    }
    struct sl_store_writer *w = st->ops->put_begin(st, key, err);
    if (w)
        w->st = st;
    return w;
}

int sl_store_put_write(struct sl_store_writer *w, const void *data, size_t len,
                       struct sl_err *err)
{
    return w->st->ops->put_write(w, data, len, err);
}

int sl_store_put_commit(struct sl_store_writer *w, struct sl_err *err)
{
    return w->st->ops->put_commit(w, err);
}

void sl_store_put_abort(struct sl_store_writer *w)
{
    if (w)
        w->st->ops->put_abort(w);
}

int sl_store_put(struct sl_store *st, const char *key, const void *data, size_t len,
                 struct sl_err *err)
{
    struct sl_store_writer *w = sl_store_put_begin(st, key, err);
    if (!w)
        return err->code;
    if (len && sl_store_put_write(w, data, len, err)) {
        sl_store_put_abort(w);
        return err->code;
    }
    return sl_store_put_commit(w, err);
}

int sl_store_delete(struct sl_store *st, const char *const *keys, size_t n_keys,
                    struct sl_err *err)
{
    if (n_keys == 0)
        return SL_OK;
    return st->ops->del(st, keys, n_keys, err);
}

void sl_store_get_stats(const struct sl_store *st, struct sl_store_stats *out)
{
    *out = st->stats;
}
