/*
 * runtime/err.h - the error type every fallible sluice function fills in.
 * A function that can fail returns SL_OK (0) or a negative enum sl_code and
 * writes the details into a caller-supplied struct sl_err; each layer adds its
 * own context in front with sl_err_prefix(). Logging lives in log.h.
 */
#ifndef SL_ERR_H
#define SL_ERR_H

#include <assert.h>
#include <stdarg.h>

#define SL_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))

enum sl_code {
    SL_OK = 0,
    SL_ENOMEM = -1,     /* out of memory, or a memory budget refused growth */
    SL_EPARSE = -2,     /* bad input data: position in the message */
    SL_ECONFIG = -3,    /* bad configuration or usage */
    SL_ETRANSIENT = -4, /* "could not": a retry may work */
    SL_ENOTFOUND = -5,  /* object, key, table... does not exist */
    SL_EACCESS = -6,    /* permission denied (HTTP 403, EACCES) */
    SL_EIO = -7,        /* local I/O failure that a retry will not fix */
    SL_EEXIST = -8,     /* already exists */
    SL_ELIMIT = -9,     /* a size or count ceiling was reached */
    SL_ECANCELLED = -10,/* stopped on request */
    SL_EINTERNAL = -11, /* a bug: a state our own invariants forbid */
    SL_ESCRIPT = -12,   /* a job script raised an error at run time */
    SL_ECHANGED = -13,  /* the object is not the version asked for (ETag mismatch) */
};

struct sl_err {
    enum sl_code code;
    int sys_errno; /* errno saved at the failure site, else 0 */
    char msg[512]; /* "what failed: why", lower case, no period */
};

/* Sets code and message (replacing what was there); returns c. */
int sl_err_set(struct sl_err *e, enum sl_code c, const char *fmt, ...) SL_PRINTF(3, 4);
/* Like sl_err_set, then appends ": " and the system message for sys_errno, and keeps sys_errno. */
int sl_err_sys(struct sl_err *e, enum sl_code c, int sys_errno, const char *fmt, ...)
    SL_PRINTF(4, 5);
/* Puts "<context>: " in front of the message; returns e->code. */
int sl_err_prefix(struct sl_err *e, const char *fmt, ...) SL_PRINTF(2, 3);
void sl_err_clear(struct sl_err *e);
/* "ENOTFOUND" etc., static storage. */
const char *sl_code_name(enum sl_code c);
/* CLI exit code for an error: 2 for SL_ECONFIG, 1 otherwise. */
int sl_err_exit_code(const struct sl_err *e);

/* A "can't happen" state that data could still reach: asserts in debug builds,
 * evaluates to true (so the caller returns SL_EINTERNAL) in release builds. */
#ifdef NDEBUG
#define SL_NEVER(cond) (cond)
#else
#define SL_NEVER(cond) ((cond) ? (assert(!(cond)), 1) : 0)
#endif

#define SL_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
