/*
 * runtime/log.h - leveled logging for the executable's owners (cli/, scheduler/).
 * runtime/ and crawler/ code never logs: it fills in struct sl_err and returns.
 * Output goes to stderr: human text on a terminal, one JSON object per line
 * otherwise (or when forced with --json). Secrets go through sl_redact() first.
 */
#ifndef SL_LOG_H
#define SL_LOG_H

#include <stdatomic.h>
#include <stddef.h>

#include "err.h"

enum sl_log_level {
    SL_LOG_ERROR = 0, /* a run or request failed */
    SL_LOG_WARN = 1,  /* degraded, retrying, near a limit */
    SL_LOG_INFO = 2,  /* lifecycle */
    SL_LOG_DEBUG = 3, /* per batch */
    SL_LOG_TRACE = 4, /* per row; compiled out of release builds by callers */
};

enum sl_log_format { SL_LOG_AUTO, SL_LOG_TEXT, SL_LOG_JSON };

extern _Atomic int sl_log_level;

/* The level is checked before any argument is formatted. */
#define sl_log(lvl, ...)                                                                           \
    do {                                                                                           \
        if ((int)(lvl) <= atomic_load(&sl_log_level))                                              \
            sl_log_write((lvl), __FILE__, __LINE__, __VA_ARGS__);                                  \
    } while (0)

/* Reads SLUICE_LOG_LEVEL (error|warn|info|debug|trace) unless level >= 0 is given. */
void sl_log_init(enum sl_log_format fmt, int level);
void sl_log_write(enum sl_log_level lvl, const char *file, int line, const char *fmt, ...)
    SL_PRINTF(4, 5);
/* True when the log goes out as JSON lines. */
int sl_log_is_json(void);
/* Parses "warn" etc.; -1 when unknown. */
int sl_log_level_parse(const char *s);

/* Copies s into out (NUL-terminated, truncated to out_len) with secrets masked:
 * values of AWS/SigV4 credentials, "password=", "secret", "token", Authorization
 * headers, X-Amz-Signature / X-Amz-Credential query parameters and the password
 * part of a URI's userinfo. Returns out. */
char *sl_redact(const char *s, char *out, size_t out_len);
/* sl_redact of msg put on one line first (line breaks and tabs become single
 * spaces, leading and trailing space dropped; at most 600 bytes of msg): for
 * server messages (libpq's) inside our own. NULL msg is "". */
void sl_redact_line(const char *msg, char *out, size_t out_len);

#endif
