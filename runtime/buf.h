/*
 * runtime/buf.h - a growable byte buffer with a ceiling.
 * Every buffer has a maximum size: appending past it fails with SL_ELIMIT, so a
 * hostile 4 GB "line" is an error, not an OOM kill. The data is always
 * NUL-terminated (not counted in len) so text can be used as a C string.
 */
#ifndef SL_BUF_H
#define SL_BUF_H

#include <stddef.h>

#include "err.h"

struct sl_buf {
    char *data;  /* owned; NULL until the first append */
    size_t len;  /* bytes in use */
    size_t cap;  /* bytes allocated, excluding the NUL */
    size_t max;  /* ceiling in bytes; 0 means SL_BUF_MAX_DEFAULT */
};

#define SL_BUF_MAX_DEFAULT ((size_t)1 << 30) /* 1 GiB: nothing we buffer is larger */

void sl_buf_init(struct sl_buf *b, size_t max);
void sl_buf_cleanup(struct sl_buf *b);
/* Empties the buffer, keeps the memory. */
void sl_buf_reset(struct sl_buf *b);
/* Makes room for len more bytes. SL_ENOMEM or SL_ELIMIT (err may be NULL). */
int sl_buf_reserve(struct sl_buf *b, size_t len, struct sl_err *err);
int sl_buf_append(struct sl_buf *b, const void *p, size_t len, struct sl_err *err);
int sl_buf_putc(struct sl_buf *b, char c, struct sl_err *err);
int sl_buf_puts(struct sl_buf *b, const char *s, struct sl_err *err);
int sl_buf_printf(struct sl_buf *b, struct sl_err *err, const char *fmt, ...) SL_PRINTF(3, 4);
/* Hands the data to the caller (owned: sl_free) and empties the buffer. Never NULL
 * unless allocation fails; *len may be NULL. */
char *sl_buf_take(struct sl_buf *b, size_t *len);

#endif
