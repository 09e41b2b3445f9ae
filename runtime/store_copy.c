/*
 * runtime/store_copy.c - object copy between stores (see store_copy.h).
 */
#include "store_copy.h"

#include "alloc.h"

struct copy_ctx {
    struct sl_store_writer *w;
    struct sl_err *err;
    int64_t n_bytes;
};

static int copy_chunk(void *ud, const void *data, size_t len)
{
    struct copy_ctx *c = ud;
    int rc = sl_store_put_write(c->w, data, len, c->err);
    if (rc == SL_OK)
        c->n_bytes += (int64_t)len;
    return rc;
}

int sl_store_copy(struct sl_store *src, const char *src_key, struct sl_store *dst,
                  const char *dst_key, int64_t *n_bytes, struct sl_err *err)
{
    struct copy_ctx c = { .err = err };
    struct sl_err werr = { 0 };

    c.w = sl_store_put_begin(dst, dst_key, err);
    if (!c.w)
        return err->code;
    /* the writer's errors land in err through copy_chunk; a get error replaces
     * them only when the writer did not fail */
    c.err = &werr;
    int rc = sl_store_get(src, src_key, 0, -1, copy_chunk, &c, err);
    if (rc != SL_OK) {
        if (werr.code != SL_OK)
            *err = werr;
        sl_store_put_abort(c.w);
        return err->code;
    }
    if ((rc = sl_store_put_commit(c.w, err)) != SL_OK)
        return rc;
    if (n_bytes)
        *n_bytes = c.n_bytes;
    return SL_OK;
}
