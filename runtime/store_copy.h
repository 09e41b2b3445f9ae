/*
 * runtime/store_copy.h - copying objects between stores (any pair of local
 * and S3), used by `sluice cp` and later by sinks that publish staged files.
 */
#ifndef SL_STORE_COPY_H
#define SL_STORE_COPY_H

#include <stdint.h>

#include "store.h"

/* Copies one object: src/src_key → dst/dst_key, streamed (memory bounded by
 * the destination writer's buffers). The destination object appears only when
 * the whole copy succeeded; on failure the upload is aborted. *n_bytes (if not
 * NULL) receives the bytes copied. */
int sl_store_copy(struct sl_store *src, const char *src_key, struct sl_store *dst,
                  const char *dst_key, int64_t *n_bytes, struct sl_err *err);

#endif
