/*
 * runtime/store.h - one interface over object stores: the local file system
 * and S3 (store_local.c, store_s3*.c behind struct sl_store_ops).
 *
 * A store is opened for a URI: s3://bucket/... opens that bucket; file:///...
 * and plain paths open the local file system, whose keys are absolute paths
 * without the leading '/' (so "file:///data/x.csv" is key "data/x.csv"). Keys
 * are raw bytes (UTF-8 in practice): spaces, '+', '%', '=' are ordinary
 * characters and every backend escapes them itself.
 *
 * Threads: a struct sl_store is used by one thread at a time (it owns a
 * connection); open one per worker. sl_store_open is cheap after the first call.
 */
#ifndef SL_STORE_H
#define SL_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

enum sl_uri_scheme { SL_URI_FILE, SL_URI_S3 };

/* A parsed object-store URI. */
struct sl_uri {
    enum sl_uri_scheme scheme;
    char *bucket; /* owned; S3 bucket, "" for files */
    char *key;    /* owned; key or prefix ("" = the whole bucket / root) */
};

/* Parses s3://bucket/key, file:///abs/path or a plain (relative or absolute)
 * path, which is made absolute against the current directory. SL_ECONFIG when
 * malformed (empty bucket, file://host/...). */
int sl_uri_parse(const char *uri, struct sl_uri *out, struct sl_err *err);
void sl_uri_cleanup(struct sl_uri *u);

/* One listed object, or a common prefix when listing with a delimiter. */
struct sl_obj_info {
    char *key;          /* owned by the listing; borrowed by callbacks until they return */
    int64_t size;       /* bytes; 0 for prefixes */
    char etag[72];      /* S3 ETag without quotes; local: "<mtime-ns hex>-<size hex>" */
    int64_t mtime_ms;   /* last modified, ms since the epoch (UTC) */
    bool is_prefix;     /* a common prefix (ends with the delimiter), not an object */
    char storage_class[24]; /* S3 StorageClass from the listing ("STANDARD", "GLACIER"...);
                               "" for local files and when the server does not say */
};

/* Called once per listed entry, in byte-wise lexicographic key order. Return
 * SL_OK to go on; anything else stops the listing and is returned by list. */
typedef int (*sl_list_fn)(void *ud, const struct sl_obj_info *obj);
/* Receives a piece of an object's body. Return SL_OK to go on, else stop. */
typedef int (*sl_data_fn)(void *ud, const void *data, size_t len);

struct sl_store;
struct sl_store_writer;

/* Opens the store that holds uri; *key_out (if not NULL) receives the uri's
 * key, owned by the caller (sl_free). Returns an owned store (sl_store_free) or
 * NULL with err set (SL_ECONFIG for a bad URI or missing credentials config). */
struct sl_store *sl_store_open(const char *uri, char **key_out, struct sl_err *err);
void sl_store_free(struct sl_store *st);

/* "s3" or "file". */
const char *sl_store_scheme(const struct sl_store *st);
/* The URI of key in this store ("s3://b/k" or "/abs/path"); owned (sl_free). */
char *sl_store_uri(const struct sl_store *st, const char *key);

/* Lists keys starting with prefix. With a delimiter (e.g. "/"), keys that have
 * the delimiter after the prefix are rolled up into one is_prefix entry each.
 * Pagination is hidden. Keys of local files are regular files only; files whose
 * name starts with ".sluice-tmp-" (uploads in progress) are not listed. */
int sl_store_list(struct sl_store *st, const char *prefix, const char *delimiter, sl_list_fn fn,
                  void *ud, struct sl_err *err);

/* Metadata of one object; SL_ENOTFOUND when missing. info->key is NULL. */
int sl_store_head(struct sl_store *st, const char *key, struct sl_obj_info *info,
                  struct sl_err *err);

/* Streams bytes [off, off+len) of the object to fn (len < 0: to the end).
 * A range past the end is cut at the end (an empty range delivers nothing).
 * Transient failures are retried, resuming after the bytes already delivered.
 * SL_ENOTFOUND when missing. */
int sl_store_get(struct sl_store *st, const char *key, int64_t off, int64_t len, sl_data_fn fn,
                 void *ud, struct sl_err *err);

/* sl_store_get, but only from the object version whose ETag (without quotes,
 * as listed) is etag: SL_ECHANGED when the object was replaced since it was
 * listed (S3 sends If-Match; local files compare their pseudo-ETag). */
int sl_store_get_match(struct sl_store *st, const char *key, const char *etag, int64_t off,
                       int64_t len, sl_data_fn fn, void *ud, struct sl_err *err);

/* Streamed upload. Nothing is visible under key until commit succeeds: S3 uses
 * one PUT below the multipart threshold and a multipart upload above it (aborted
 * on failure, so no parts remain); local files are written to a hidden temporary
 * name in the same folder and renamed. The writer is freed by commit and abort
 * (whatever their result). */
struct sl_store_writer *sl_store_put_begin(struct sl_store *st, const char *key,
                                           struct sl_err *err);
int sl_store_put_write(struct sl_store_writer *w, const void *data, size_t len,
                       struct sl_err *err);
int sl_store_put_commit(struct sl_store_writer *w, struct sl_err *err);
void sl_store_put_abort(struct sl_store_writer *w);
/* Convenience: begin + write + commit. */
int sl_store_put(struct sl_store *st, const char *key, const void *data, size_t len,
                 struct sl_err *err);

/* Deletes keys (batched: S3 DeleteObjects takes 1000 at a time). Missing keys
 * are not an error. */
int sl_store_delete(struct sl_store *st, const char *const *keys, size_t n_keys,
                    struct sl_err *err);

/* Request counters since the store was opened (the crawler reports them). */
struct sl_store_stats {
    uint64_t list_requests, head_requests, get_requests, put_requests, delete_requests;
    uint64_t bytes_read, bytes_written, retries;
};
void sl_store_get_stats(const struct sl_store *st, struct sl_store_stats *out);

#endif
