/*
 * runtime/store_internal.h - the backend contract behind store.h. Each backend
 * (store_local.c, store_s3.c) exports one const struct sl_store_ops; store.c
 * parses URIs and dispatches.
 */
#ifndef SL_STORE_INTERNAL_H
#define SL_STORE_INTERNAL_H

#include "store.h"

struct sl_store_ops {
    const char *scheme;
    /* Fills st->impl for bucket (NULL/"" for files). */
    int (*open)(struct sl_store *st, const char *bucket, struct sl_err *err);
    void (*close)(struct sl_store *st);
    int (*list)(struct sl_store *st, const char *prefix, const char *delimiter, sl_list_fn fn,
                void *ud, struct sl_err *err);
    int (*head)(struct sl_store *st, const char *key, struct sl_obj_info *info,
                struct sl_err *err);
    /* if_match: NULL, or the ETag the object must still have (SL_ECHANGED) */
    int (*get)(struct sl_store *st, const char *key, const char *if_match, int64_t off,
               int64_t len, sl_data_fn fn, void *ud, struct sl_err *err);
    struct sl_store_writer *(*put_begin)(struct sl_store *st, const char *key,
                                         struct sl_err *err);
    int (*put_write)(struct sl_store_writer *w, const void *data, size_t len,
                     struct sl_err *err);
    int (*put_commit)(struct sl_store_writer *w, struct sl_err *err);
    void (*put_abort)(struct sl_store_writer *w);
    int (*del)(struct sl_store *st, const char *const *keys, size_t n_keys, struct sl_err *err);
};

/* Every backend's writer struct starts with this member, so store.c can find
 * the ops of a writer. */
struct sl_store_writer {
    struct sl_store *st;
};

struct sl_store {
    const struct sl_store_ops *ops;
    char *bucket;                /* owned; "" for files */
    void *impl;                  /* backend state, owned by the backend */
    struct sl_store_stats stats; /* updated by the backend */
};

extern const struct sl_store_ops sl_store_local_ops;
extern const struct sl_store_ops sl_store_s3_ops;

/* Byte-wise comparison used for every listing order. */
int sl_store_key_cmp(const char *a, const char *b);

#endif
