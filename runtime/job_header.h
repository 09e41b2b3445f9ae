/*
 * runtime/job_header.h - reads a job script's job{...} declaration.
 * The script's top level runs once in a throw-away sandbox (lua_sandbox.h)
 * where `job` records its table; `main` and other functions are only defined,
 * never called. The reading sandbox has a tiny `sluice` table with today() and
 * yesterday() (ISO dates, UTC) so headers like `args = { date =
 * sluice.yesterday() }` work; any other sluice.* call at top level fails here
 * (the real library comes with the engine). Cron syntax of `schedule` is
 * checked by the scheduler, not here.
 *
 * Threads: reentrant; each call builds and frees its own Lua state.
 */
#ifndef SL_JOB_HEADER_H
#define SL_JOB_HEADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "err.h"

#define SL_JOB_NAME_MAX 255                       /* bytes; a job name is also a catalog key */
#define SL_JOB_HEADER_MEMORY ((size_t)16 << 20)   /* bytes: a header needs little */
#define SL_JOB_HEADER_TIMEOUT_MS 2000             /* ms: top level only declares things */
#define SL_JOB_RETRIES_MAX 100
#define SL_JOB_CONCURRENCY_MAX 1000
#define SL_JOB_TIMEOUT_MAX_S (7 * 24 * 3600)      /* s: a week, past Glue's 48 h default */

struct sl_job_header_arg {
    char *key;   /* owned */
    char *value; /* owned; numbers as Lua's tostring writes them, "true"/"false" */
};

struct sl_job_header {
    char *name;                     /* owned; [A-Za-z0-9_.-]{1,255} */
    char *schedule;                 /* owned; NULL when absent; syntax not checked here */
    struct sl_job_header_arg *args; /* owned; sorted by key */
    size_t n_args;
    bool bookmark;                  /* default false */
    int max_concurrency;            /* runs at once; default 1 */
    uint64_t timeout_ms;            /* ms; 0 = not declared (the server default applies) */
    int retries;                    /* default 0 */
    double max_errors;              /* bad rows allowed: 0 (default) none, a whole number
                                     * >= 1 a count, a value in (0, 1) a fraction of rows */
    bool allow_files;               /* default false */
    int line;                       /* line of the job{} call */
};

struct sl_job_header_opts {
    size_t memory_cap;   /* bytes; 0 = SL_JOB_HEADER_MEMORY */
    uint64_t timeout_ms; /* ms; 0 = SL_JOB_HEADER_TIMEOUT_MS */
    time_t now;          /* for sluice.today()/yesterday(); 0 = time(NULL) */
};

/* Runs src (text, shown as chunkname) and fills *out (cleaned first; call
 * sl_job_header_cleanup() after success or failure). Errors: SL_ECONFIG
 * ("jobs/x.lua:3: job{...}: unknown key \"nmae\"", "jobs/x.lua: no job{...}
 * declaration", job{} twice, bad values), SL_EPARSE (syntax), SL_ESCRIPT,
 * SL_ENOMEM, SL_ECANCELLED (header ran past its deadline). */
int sl_job_header_read(const char *chunkname, const char *src, size_t len,
                       struct sl_job_header *out, struct sl_err *err);
/* The same with explicit limits; opts may be NULL. */
int sl_job_header_read_opts(const char *chunkname, const char *src, size_t len,
                            const struct sl_job_header_opts *opts, struct sl_job_header *out,
                            struct sl_err *err);
/* Frees what *h owns and zeroes it. NULL is a no-op. */
void sl_job_header_cleanup(struct sl_job_header *h);
/* The UTC date of now shifted by days, "YYYY-MM-DD", into out (11 bytes at
 * least): sluice.today()/yesterday() in headers and in main(ctx). SL_EPARSE
 * when the time has no date. */
int sl_job_day(time_t now, int64_t days, char *out, size_t out_len);

/* The value of args[key], NULL if absent. Borrowed from h. */
const char *sl_job_header_arg(const struct sl_job_header *h, const char *key);

#endif
