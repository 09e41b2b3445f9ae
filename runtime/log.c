/*
 * runtime/log.c - stderr logger (text on a terminal, JSON lines otherwise) and
 * the secret redactor (see log.h).
 */
#include "log.h"

#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

_Atomic int sl_log_level = SL_LOG_INFO;
static _Atomic int log_json = -1; /* -1: decide on first write */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = { "error", "warn", "info", "debug", "trace" };

int sl_log_level_parse(const char *s)
{
    for (size_t i = 0; i < SL_ARRAY_LEN(level_names); i++) {
        if (strcasecmp(s, level_names[i]) == 0)
            return (int)i;
    }
    if (strcasecmp(s, "warning") == 0)
        return SL_LOG_WARN;
    return -1;
}

void sl_log_init(enum sl_log_format fmt, int level)
{
    if (level < 0) {
        const char *s = getenv("SLUICE_LOG_LEVEL");
        level = s ? sl_log_level_parse(s) : -1;
        if (level < 0)
            level = SL_LOG_INFO;
    }
    atomic_store(&sl_log_level, level);
    if (fmt == SL_LOG_JSON)
        atomic_store(&log_json, 1);
    else if (fmt == SL_LOG_TEXT)
        atomic_store(&log_json, 0);
    else
        atomic_store(&log_json, isatty(STDERR_FILENO) ? 0 : 1);
}

int sl_log_is_json(void)
{
    int j = atomic_load(&log_json);
    if (j < 0) {
        j = isatty(STDERR_FILENO) ? 0 : 1;
        atomic_store(&log_json, j);
    }
    return j;
}

static void json_escape(FILE *f, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        switch (c) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (c < 0x20)
                fprintf(f, "\\u%04x", c);
            else
                fputc(c, f);
        }
    }
}

void sl_log_write(enum sl_log_level lvl, const char *file, int line, const char *fmt, ...)
{
    char raw[2048];
    char msg[2048];
    char ts[40];
    struct timespec now;
    struct tm tm;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    sl_redact(raw, msg, sizeof msg);
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    size_t n = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + n, sizeof ts - n, ".%03ldZ", now.tv_nsec / 1000000);
    const char *lname = (unsigned)lvl < SL_ARRAY_LEN(level_names) ? level_names[lvl] : "?";
    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;

    pthread_mutex_lock(&log_lock);
    if (sl_log_is_json()) {
        fprintf(stderr, "{\"ts\":\"%s\",\"level\":\"%s\",\"src\":\"%s:%d\",\"msg\":\"", ts, lname,
                base, line);
        json_escape(stderr, msg);
        fputs("\"}\n", stderr);
    } else {
        fprintf(stderr, "%s %-5s %s\n", ts, lname, msg);
    }
    fflush(stderr);
    pthread_mutex_unlock(&log_lock);
}

/* ---- Redaction ---- */

/* Keys whose values are masked when they appear as key=value, key: value or
 * "key":"value". Compared case-insensitively at a word start. */
static const char *const secret_keys[] = {
    "aws_secret_access_key", "aws_session_token", "secret_access_key", "secretaccesskey",
    "sessiontoken", "password", "passwd", "secret", "token", "x-amz-signature",
    "x-amz-credential", "x-amz-security-token", "authorization", "signature",
};

static size_t match_key(const char *s)
{
    for (size_t i = 0; i < SL_ARRAY_LEN(secret_keys); i++) {
        size_t n = strlen(secret_keys[i]);
        if (strncasecmp(s, secret_keys[i], n) == 0)
            return n;
    }
    return 0;
}

static int is_value_end(char c, int quoted)
{
    if (quoted)
        return c == '"' || c == '\0';
    return c == '\0' || c == '&' || c == ' ' || c == ',' || c == ';' || c == '\n' ||
           c == '"' || c == '\'';
}

char *sl_redact(const char *s, char *out, size_t out_len)
{
    size_t o = 0;
    if (out_len == 0)
        return out;
/* Evaluates c exactly once (callers pass *p++), whether or not it still fits. */
#define PUT(c)                                                                                     \
    do {                                                                                           \
        char put_c_ = (c);                                                                         \
        if (o + 1 < out_len)                                                                       \
            out[o++] = put_c_;                                                                     \
    } while (0)
    while (*s) {
        /* userinfo password in a URI: scheme://user:PASSWORD@host */
        if (s[0] == ':' && s[1] == '/' && s[2] == '/') {
            const char *at = NULL;
            const char *colon = NULL;
            for (const char *p = s + 3; *p && *p != '/' && *p != ' '; p++) {
                if (*p == ':' && !colon)
                    colon = p;
                if (*p == '@')
                    at = p;
            }
            if (at && colon && colon < at) {
                for (const char *p = s; p <= colon; p++)
                    PUT(*p);
                for (const char *p = "***"; *p; p++)
                    PUT(*p);
                s = at;
                continue;
            }
        }
        int word_start = (o == 0) || !isalnum((unsigned char)out[o - 1]);
        size_t kn = word_start ? match_key(s) : 0;
        if (kn) {
            const char *p = s + kn;
            /* allow a few more key characters, e.g. "token_id" is not masked */
            if (isalnum((unsigned char)*p) || *p == '_') {
                PUT(*s);
                s++;
                continue;
            }
            for (const char *q = s; q < p; q++)
                PUT(*q);
            int quoted = 0;
            if (*p == '"') {
                PUT(*p);
                p++;
            }
            while (*p == ' ')
                PUT(*p++);
            if (*p == '=' || *p == ':') {
                PUT(*p);
                p++;
                while (*p == ' ')
                    PUT(*p++);
                if (*p == '"') {
                    quoted = 1;
                    PUT(*p);
                    p++;
                }
                if (!is_value_end(*p, quoted)) {
                    /* "Authorization: AWS4-HMAC-SHA256 Credential=..." runs to line end */
                    int to_eol = strncasecmp(s, "authorization", 13) == 0;
                    while (*p && (to_eol ? *p != '\n' && !(quoted && *p == '"')
                                         : !is_value_end(*p, quoted)))
                        p++;
                    for (const char *m = "***"; *m; m++)
                        PUT(*m);
                }
            }
            s = p;
            continue;
        }
        PUT(*s);
        s++;
    }
    out[o] = '\0';
#undef PUT
    return out;
}

void sl_redact_line(const char *msg, char *out, size_t out_len)
{
    char tmp[600];
    size_t o = 0;

    for (const char *p = msg ? msg : ""; *p && o + 1 < sizeof tmp; p++) {
        char ch = (*p == '\n' || *p == '\t' || *p == '\r') ? ' ' : *p;
        if (ch == ' ' && (o == 0 || tmp[o - 1] == ' '))
            continue;
        tmp[o++] = ch;
    }
    while (o > 0 && tmp[o - 1] == ' ')
        o--;
    tmp[o] = '\0';
    sl_redact(tmp, out, out_len);
}
