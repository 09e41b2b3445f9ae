/*
 * runtime/err.c - struct sl_err helpers (see err.h).
 */
#include "err.h"

#include <stdio.h>
#include <string.h>

static void vset(struct sl_err *e, const char *fmt, va_list ap)
{
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
}

int sl_err_set(struct sl_err *e, enum sl_code c, const char *fmt, ...)
{
    if (!e)
        return c;
    va_list ap;
    e->code = c;
    e->sys_errno = 0;
    va_start(ap, fmt);
    vset(e, fmt, ap);
    va_end(ap);
    return c;
}

/* Appends s at msg[n], truncating at cap-1; returns the new length. */
static size_t append(char *msg, size_t cap, size_t n, const char *s)
{
    while (*s && n + 1 < cap)
        msg[n++] = *s++;
    msg[n] = '\0';
    return n;
}

int sl_err_sys(struct sl_err *e, enum sl_code c, int sys_errno, const char *fmt, ...)
{
    if (!e)
        return c;
    va_list ap;
    char why[128];
    size_t n;

    e->code = c;
    e->sys_errno = sys_errno;
    va_start(ap, fmt);
    vset(e, fmt, ap);
    va_end(ap);
    /* GNU strerror_r returns a pointer that may or may not be 'why' */
    const char *s = strerror_r(sys_errno, why, sizeof why);
    n = append(e->msg, sizeof e->msg, strlen(e->msg), ": ");
    append(e->msg, sizeof e->msg, n, s);
    return c;
}

int sl_err_prefix(struct sl_err *e, const char *fmt, ...)
{
    if (!e)
        return SL_EINTERNAL;
    char old[sizeof e->msg];
    char pre[sizeof e->msg];
    va_list ap;

    memcpy(old, e->msg, sizeof old);
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    size_t n = 0;
    n = append(e->msg, sizeof e->msg, n, pre);
    if (old[0]) {
        n = append(e->msg, sizeof e->msg, n, ": ");
        append(e->msg, sizeof e->msg, n, old);
    }
    return e->code;
}

void sl_err_clear(struct sl_err *e)
{
    e->code = SL_OK;
    e->sys_errno = 0;
    e->msg[0] = '\0';
}

const char *sl_code_name(enum sl_code c)
{
    switch (c) {
    case SL_OK: return "OK";
    case SL_ENOMEM: return "ENOMEM";
    case SL_EPARSE: return "EPARSE";
    case SL_ECONFIG: return "ECONFIG";
    case SL_ETRANSIENT: return "ETRANSIENT";
    case SL_ENOTFOUND: return "ENOTFOUND";
    case SL_EACCESS: return "EACCESS";
    case SL_EIO: return "EIO";
    case SL_EEXIST: return "EEXIST";
    case SL_ELIMIT: return "ELIMIT";
    case SL_ECANCELLED: return "ECANCELLED";
    case SL_EINTERNAL: return "EINTERNAL";
    case SL_ESCRIPT: return "ESCRIPT";
    case SL_ECHANGED: return "ECHANGED";
    }
    return "E?";
}

int sl_err_exit_code(const struct sl_err *e)
{
    return e->code == SL_ECONFIG ? 2 : 1;
}
