/*
 * runtime/store_local.c - the local file system as an object store.
 * Keys are absolute paths without the leading '/'. Folders are not objects:
 * a listing returns regular files only (symlinks to files count; symlinked
 * folders are not followed, so loops cannot happen), sorted byte-wise like S3.
 * Uploads go to a hidden ".sluice-tmp-*" file in the target folder and are
 * renamed into place on commit, so readers never see half an object.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "store_internal.h"

#define LOCAL_TMP_PREFIX ".sluice-tmp-"
#define LOCAL_IO_CHUNK (1u << 20) /* 1 MiB reads: large enough to amortise syscalls */
#define LOCAL_MAX_DEPTH 64        /* deeper trees are almost surely a mistake */

static _Atomic unsigned long tmp_counter;

static int local_open(struct sl_store *st, const char *bucket, struct sl_err *err)
{
    (void)bucket;
    (void)err;
    st->impl = NULL;
    return SL_OK;
}

static void local_close(struct sl_store *st)
{
    (void)st;
}

static void fill_info(struct sl_obj_info *info, const struct stat *sb)
{
    info->size = sb->st_size;
    info->mtime_ms = (int64_t)sb->st_mtim.tv_sec * 1000 + sb->st_mtim.tv_nsec / 1000000;
    snprintf(info->etag, sizeof info->etag, "%llx%09lx-%llx", (unsigned long long)sb->st_mtim.tv_sec,
             (unsigned long)sb->st_mtim.tv_nsec, (unsigned long long)sb->st_size);
    info->is_prefix = false;
}

/* ---- Listing ---- */

struct walk {
    struct sl_obj_info *objs; /* owned, with owned keys */
    size_t n, cap;
    const char *prefix;
    size_t prefix_len;
    struct sl_err *err;
};

static int add_obj(struct walk *w, const char *key, const struct stat *sb)
{
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 256;
        struct sl_obj_info *p = sl_realloc(w->objs, cap * sizeof *p);
        if (!p)
            return sl_err_set(w->err, SL_ENOMEM, "out of memory listing files");
        w->objs = p;
        w->cap = cap;
    }
    struct sl_obj_info *o = &w->objs[w->n];
    memset(o, 0, sizeof *o);
    o->key = sl_strdup(key);
    if (!o->key)
        return sl_err_set(w->err, SL_ENOMEM, "out of memory listing files");
    fill_info(o, sb);
    w->n++;
    return SL_OK;
}

/* Walks folder "/" + dir (dir is a key prefix ending in '/' or ""), adding
 * every regular file whose key starts with w->prefix. */
static int walk_dir(struct walk *w, struct sl_buf *key, int depth)
{
    char path[4096];
    snprintf(path, sizeof path, "/%s", key->data ? key->data : "");
    DIR *d = opendir(path);
    if (!d) {
        if (errno == ENOENT || errno == ENOTDIR)
            return SL_OK;
        return sl_err_sys(w->err, errno == EACCES ? SL_EACCESS : SL_EIO, errno,
                          "cannot list \"%s\"", path);
    }
    if (depth > LOCAL_MAX_DEPTH) {
        closedir(d);
        return sl_err_set(w->err, SL_ELIMIT, "cannot list \"%s\": more than %d folder levels",
                          path, LOCAL_MAX_DEPTH);
    }
    size_t base_len = key->len;
    int rc = SL_OK;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *name = de->d_name;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
            continue;
        if (strncmp(name, LOCAL_TMP_PREFIX, strlen(LOCAL_TMP_PREFIX)) == 0)
            continue;
        key->len = base_len;
        if ((rc = sl_buf_puts(key, name, w->err)) != SL_OK)
            break;
        /* prune: the key so far must agree with the prefix on their common part */
        size_t cmp = key->len < w->prefix_len ? key->len : w->prefix_len;
        if (memcmp(key->data, w->prefix, cmp) != 0)
            continue;
        struct stat sb;
        char full[4096];
        snprintf(full, sizeof full, "/%s", key->data);
        if (lstat(full, &sb) != 0)
            continue; /* vanished while listing */
        if (S_ISLNK(sb.st_mode)) {
            if (stat(full, &sb) != 0 || !S_ISREG(sb.st_mode))
                continue; /* dangling, or a link to a folder: not followed */
        }
        if (S_ISDIR(sb.st_mode)) {
            if ((rc = sl_buf_putc(key, '/', w->err)) != SL_OK)
                break;
            if ((rc = walk_dir(w, key, depth + 1)) != SL_OK)
                break;
        } else if (S_ISREG(sb.st_mode) && key->len >= w->prefix_len) {
            if ((rc = add_obj(w, key->data, &sb)) != SL_OK)
                break;
        }
    }
    closedir(d);
    key->len = base_len;
    if (key->data)
        key->data[base_len] = '\0';
    return rc;
}

static int cmp_obj(const void *a, const void *b)
{
    return sl_store_key_cmp(((const struct sl_obj_info *)a)->key,
                            ((const struct sl_obj_info *)b)->key);
}

static int local_list(struct sl_store *st, const char *prefix, const char *delimiter,
                      sl_list_fn fn, void *ud, struct sl_err *err)
{
    struct walk w = { .prefix = prefix, .prefix_len = strlen(prefix), .err = err };
    struct sl_buf key;
    int rc;

    (void)st;
    sl_buf_init(&key, 4096);
    /* start at the folder part of the prefix */
    const char *slash = strrchr(prefix, '/');
    size_t dir_len = slash ? (size_t)(slash - prefix) + 1 : 0;
    if ((rc = sl_buf_append(&key, prefix, dir_len, err)) != SL_OK)
        goto out;
    if ((rc = walk_dir(&w, &key, 0)) != SL_OK)
        goto out;
    st->stats.list_requests++;
    if (w.n)
        qsort(w.objs, w.n, sizeof *w.objs, cmp_obj);

    size_t dlen = delimiter ? strlen(delimiter) : 0;
    char *last_prefix = NULL;
    for (size_t i = 0; i < w.n && rc == SL_OK; i++) {
        struct sl_obj_info *o = &w.objs[i];
        const char *d = dlen ? strstr(o->key + w.prefix_len, delimiter) : NULL;
        if (!d) {
            rc = fn(ud, o);
            continue;
        }
        size_t plen = (size_t)(d - o->key) + dlen;
        if (last_prefix && strlen(last_prefix) == plen && memcmp(last_prefix, o->key, plen) == 0)
            continue;
        sl_free(last_prefix);
        last_prefix = sl_strndup(o->key, plen);
        if (!last_prefix) {
            rc = sl_err_set(err, SL_ENOMEM, "out of memory");
            break;
        }
        struct sl_obj_info p = { .key = last_prefix, .is_prefix = true };
        rc = fn(ud, &p);
    }
    sl_free(last_prefix);
out:
    for (size_t i = 0; i < w.n; i++)
        sl_free(w.objs[i].key);
    sl_free(w.objs);
    sl_buf_cleanup(&key);
    return rc;
}

/* ---- Head and get ---- */

static int local_head(struct sl_store *st, const char *key, struct sl_obj_info *info,
                      struct sl_err *err)
{
    char path[4096];
    struct stat sb;

    st->stats.head_requests++;
    snprintf(path, sizeof path, "/%s", key);
    if (stat(path, &sb) != 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return sl_err_set(err, SL_ENOTFOUND, "\"%s\": not found", path);
        return sl_err_sys(err, errno == EACCES ? SL_EACCESS : SL_EIO, errno, "cannot stat \"%s\"",
                          path);
    }
    if (!S_ISREG(sb.st_mode))
        return sl_err_set(err, SL_ENOTFOUND, "\"%s\": not found (not a regular file)", path);
    fill_info(info, &sb);
    return SL_OK;
}

static int local_get(struct sl_store *st, const char *key, const char *if_match, int64_t off,
                     int64_t len, sl_data_fn fn, void *ud, struct sl_err *err)
{
    char path[4096];
    struct stat sb;
    char *chunk = NULL;
    int rc = SL_OK;

    st->stats.get_requests++;
    snprintf(path, sizeof path, "/%s", key);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return sl_err_set(err, SL_ENOTFOUND, "\"%s\": not found", path);
        return sl_err_sys(err, errno == EACCES ? SL_EACCESS : SL_EIO, errno, "cannot open \"%s\"",
                          path);
    }
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        rc = sl_err_set(err, SL_ENOTFOUND, "\"%s\": not found (not a regular file)", path);
        goto out;
    }
    if (if_match) {
        struct sl_obj_info now;
        fill_info(&now, &sb);
        if (strcmp(now.etag, if_match) != 0) {
            rc = sl_err_set(err, SL_ECHANGED, "\"%s\": changed since it was listed", path);
            goto out;
        }
    }
    int64_t end = sb.st_size;
    if (len >= 0 && off + len < end)
        end = off + len;
    chunk = sl_alloc(LOCAL_IO_CHUNK);
    if (!chunk) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto out;
    }
    int64_t pos = off;
    while (pos < end) {
        size_t want = (size_t)(end - pos) < LOCAL_IO_CHUNK ? (size_t)(end - pos) : LOCAL_IO_CHUNK;
        ssize_t n = pread(fd, chunk, want, pos);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = sl_err_sys(err, SL_EIO, errno, "cannot read \"%s\" at offset %lld", path,
                            (long long)pos);
            goto out;
        }
        if (n == 0)
            break; /* truncated while reading */
        st->stats.bytes_read += (uint64_t)n;
        if ((rc = fn(ud, chunk, (size_t)n)) != SL_OK)
            goto out;
        pos += n;
    }
out:
    sl_free(chunk);
    close(fd);
    return rc;
}

/* ---- Upload ---- */

struct local_writer {
    struct sl_store_writer base;
    int fd;
    char *path; /* owned; final path */
    char *tmp;  /* owned; temporary path in the same folder */
};

/* mkdir -p for the folders of path (not the last segment). */
static int make_parents(const char *path, struct sl_err *err)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) {
            int e = errno;
            *p = '/';
            return sl_err_sys(err, e == EACCES ? SL_EACCESS : SL_EIO, e,
                              "cannot create folder for \"%s\"", path);
        }
        *p = '/';
    }
    return SL_OK;
}

static struct sl_store_writer *local_put_begin(struct sl_store *st, const char *key,
                                               struct sl_err *err)
{
    struct local_writer *w = sl_calloc(1, sizeof *w);
    if (!w) {
        sl_err_set(err, SL_ENOMEM, "out of memory");
        return NULL;
    }
    w->fd = -1;
    w->base.st = st;
    w->path = sl_asprintf("/%s", key);
    const char *slash = strrchr(key, '/');
    int dir_len = slash ? (int)(slash - key) : 0;
    w->tmp = sl_asprintf("/%.*s%s%s%d-%lu", dir_len, key, dir_len ? "/" : "", LOCAL_TMP_PREFIX,
                         (int)getpid(), (unsigned long)atomic_fetch_add(&tmp_counter, 1));
    if (!w->path || !w->tmp) {
        sl_err_set(err, SL_ENOMEM, "out of memory");
        goto fail;
    }
    if (make_parents(w->path, err))
        goto fail;
    w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (w->fd < 0) {
        sl_err_sys(err, errno == EACCES ? SL_EACCESS : SL_EIO, errno, "cannot create \"%s\"",
                   w->tmp);
        goto fail;
    }
    return &w->base;
fail:
    sl_free(w->path);
    sl_free(w->tmp);
    sl_free(w);
    return NULL;
}

static int local_put_write(struct sl_store_writer *base, const void *data, size_t len,
                           struct sl_err *err)
{
    struct local_writer *w = (struct local_writer *)base;
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(w->fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return sl_err_sys(err, errno == ENOSPC ? SL_ELIMIT : SL_EIO, errno,
                              "cannot write \"%s\"", w->path);
        }
        p += n;
        len -= (size_t)n;
        w->base.st->stats.bytes_written += (uint64_t)n;
    }
    return SL_OK;
}

static void writer_free(struct local_writer *w)
{
    if (w->fd >= 0)
        close(w->fd);
    sl_free(w->path);
    sl_free(w->tmp);
    sl_free(w);
}

static void local_put_abort(struct sl_store_writer *base)
{
    struct local_writer *w = (struct local_writer *)base;
    unlink(w->tmp);
    writer_free(w);
}

static int local_put_commit(struct sl_store_writer *base, struct sl_err *err)
{
    struct local_writer *w = (struct local_writer *)base;
    int rc = SL_OK;

    w->base.st->stats.put_requests++;
    if (fsync(w->fd) != 0) {
        rc = sl_err_sys(err, SL_EIO, errno, "cannot flush \"%s\"", w->path);
    } else if (close(w->fd) != 0) {
        w->fd = -1;
        rc = sl_err_sys(err, SL_EIO, errno, "cannot close \"%s\"", w->path);
    } else {
        w->fd = -1;
        if (rename(w->tmp, w->path) != 0)
            rc = sl_err_sys(err, errno == EISDIR ? SL_EEXIST : SL_EIO, errno,
                            "cannot publish \"%s\"", w->path);
    }
    if (rc)
        unlink(w->tmp);
    writer_free(w);
    return rc;
}

static int local_delete(struct sl_store *st, const char *const *keys, size_t n_keys,
                        struct sl_err *err)
{
    char path[4096];
    for (size_t i = 0; i < n_keys; i++) {
        st->stats.delete_requests++;
        snprintf(path, sizeof path, "/%s", keys[i]);
        if (unlink(path) != 0 && errno != ENOENT)
            return sl_err_sys(err, errno == EACCES ? SL_EACCESS : SL_EIO, errno,
                              "cannot delete \"%s\"", path);
    }
    return SL_OK;
}

const struct sl_store_ops sl_store_local_ops = {
    .scheme = "file",
    .open = local_open,
    .close = local_close,
    .list = local_list,
    .head = local_head,
    .get = local_get,
    .put_begin = local_put_begin,
    .put_write = local_put_write,
    .put_commit = local_put_commit,
    .put_abort = local_put_abort,
    .del = local_delete,
};
