/*
 * runtime/buf.c - growable byte buffer with a ceiling (see buf.h).
 */
#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"

void sl_buf_init(struct sl_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max ? max : SL_BUF_MAX_DEFAULT;
}

void sl_buf_cleanup(struct sl_buf *b)
{
    sl_free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void sl_buf_reset(struct sl_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

int sl_buf_reserve(struct sl_buf *b, size_t len, struct sl_err *err)
{
    size_t max = b->max ? b->max : SL_BUF_MAX_DEFAULT;
    if (len > max || b->len > max - len)
        return sl_err_set(err, SL_ELIMIT, "buffer limit of %zu bytes exceeded", max);
    size_t need = b->len + len;
    if (need <= b->cap && b->data)
        return SL_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > max / 2 ? max : cap * 2;
    char *p = sl_realloc(b->data, cap + 1);
    if (!p)
        return sl_err_set(err, SL_ENOMEM, "out of memory growing a buffer to %zu bytes", cap);
    p[b->len] = '\0'; /* a fresh block is NUL-terminated too (buf.h) */
    b->data = p;
    b->cap = cap;
    return SL_OK;
}

int sl_buf_append(struct sl_buf *b, const void *p, size_t len, struct sl_err *err)
{
    int rc = sl_buf_reserve(b, len, err);
    if (rc)
        return rc;
    if (len)
        memcpy(b->data + b->len, p, len);
    b->len += len;
    b->data[b->len] = '\0';
    return SL_OK;
}

int sl_buf_putc(struct sl_buf *b, char c, struct sl_err *err)
{
    return sl_buf_append(b, &c, 1, err);
}

int sl_buf_puts(struct sl_buf *b, const char *s, struct sl_err *err)
{
    return sl_buf_append(b, s, strlen(s), err);
}

int sl_buf_printf(struct sl_buf *b, struct sl_err *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return sl_err_set(err, SL_EINTERNAL, "bad format string");
    int rc = sl_buf_reserve(b, (size_t)n, err);
    if (rc)
        return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return SL_OK;
}

char *sl_buf_take(struct sl_buf *b, size_t *len)
{
    if (!b->data && sl_buf_reserve(b, 0, NULL) != SL_OK)
        return NULL;
    char *p = b->data;
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}
