/*
 * runtime/lua_sandbox.h - one sandboxed Lua 5.4 state for job scripts.
 * Builds the _ENV that job scripts see (STYLE.md §9), caps the state's memory,
 * and enforces stop/deadline through a count hook that pcall cannot swallow.
 * The `sluice` library itself is added later by the engine through
 * opts.open_libs; job{} header reading lives in job_header.c.
 *
 * Threads: a struct sl_lua (and its lua_State) belongs to the thread that
 * created it; never share one. Different states share nothing, so any number
 * of threads may each own one. Only *opts.stop may be written by another thread.
 */
#ifndef SL_LUA_SANDBOX_H
#define SL_LUA_SANDBOX_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lua.h>

#include "err.h"

#define SL_LUA_MEMORY_DEFAULT ((size_t)256 << 20) /* bytes; job option lua_memory */
#define SL_LUA_MEMORY_MIN ((size_t)64 << 10)      /* bytes; a bare state plus the libs fit */
#define SL_LUA_HOOK_COUNT_DEFAULT 100000          /* instructions: ~1 ms of Lua per check */

struct sl_lua;

struct sl_lua_opts {
    size_t memory_cap;          /* bytes the state may hold; 0 = SL_LUA_MEMORY_DEFAULT */
    int hook_count;             /* instructions between checks; 0 = SL_LUA_HOOK_COUNT_DEFAULT */
    uint64_t timeout_ms;        /* 0 = none; the clock starts in sl_lua_new */
    const _Atomic bool *stop;   /* may be NULL; set from any thread to cancel; borrowed */
    /* print(...) in scripts: one line, arguments tab-separated, no newline;
     * the line is borrowed for the call. NULL drops prints. Must not raise. */
    void (*print_fn)(void *ud, const char *line, size_t line_len);
    /* Called once, protected, after the sandbox is built, with the script's
     * _ENV table at the top of the stack; may add fields (the `sluice`
     * library), may raise Lua errors, must leave the stack as it found it. */
    void (*open_libs)(lua_State *L, void *ud);
    void *ud;                   /* passed to print_fn and open_libs */
    bool allow_files;           /* job{allow_files=true}: io.open (reading modes only) and
                                   io.lines; writing files is never allowed */
};

/* Creates a state with the sandbox _ENV: string (no dump), table, math, utf8,
 * os.time/clock/date, debug.traceback, and the safe base functions; print goes
 * to opts->print_fn. NULL opts means all defaults. Returns NULL with err set:
 * SL_ENOMEM (allocation, or a cap too small for the libraries), or whatever
 * open_libs raised (as with sl_lua_load). Owned: sl_lua_free(). */
struct sl_lua *sl_lua_new(const struct sl_lua_opts *opts, struct sl_err *err);
/* Closes the state; Lua-side finalizers still pending are cut short at their
 * first line. NULL is a no-op. */
void sl_lua_free(struct sl_lua *s);

/* Loads src as text (a precompiled chunk is refused) under chunkname (shown
 * as "jobs/x.lua:12:"), with the sandbox _ENV as its first upvalue, and runs
 * its top-level statements. Errors: SL_EPARSE syntax ("jobs/x.lua:12:
 * unexpected symbol near 'end'"), SL_ESCRIPT (first line plus traceback,
 * truncated in err; full text in sl_lua_last_traceback()), SL_ENOMEM ("memory
 * cap of N bytes reached"), SL_ECANCELLED ("...: stopped" / "...: timed out
 * after N ms"). */
int sl_lua_load(struct sl_lua *s, const char *chunkname, const char *src, size_t len,
                struct sl_err *err);

/* Calls _ENV[fn] with the nargs values the caller pushed (popped in all cases);
 * on success leaves nresults results (LUA_MULTRET allowed) on the stack.
 * Errors as sl_lua_load, plus SL_ENOTFOUND when _ENV[fn] is not a function. */
int sl_lua_call_global(struct sl_lua *s, const char *fn, int nargs, int nresults,
                       struct sl_err *err);

/* Calls the function below the nargs values the caller pushed (function and
 * arguments popped in all cases), under the same limits, message handler and
 * errors as sl_lua_call_global; the hot path for row functions. */
int sl_lua_pcall(struct sl_lua *s, int nargs, int nresults, struct sl_err *err);

/* Restarts the deadline: timeout_ms from now (0 = none), and clears a timeout
 * cancellation so the state can run again. A stop stays in force while *stop is set. */
void sl_lua_set_timeout(struct sl_lua *s, uint64_t timeout_ms);

/* Pushes the sandbox _ENV table (-> env). The caller must have 1 free slot. */
void sl_lua_push_env(struct sl_lua *s);

/* The state, for C modules that register functions. Borrowed until sl_lua_free(). */
lua_State *sl_lua_state(struct sl_lua *s);
/* Bytes the state holds now. */
size_t sl_lua_memory_used(const struct sl_lua *s);
/* Full message plus traceback of the last failed load or call, "" if none.
 * Borrowed until the next load/call or sl_lua_free(). */
const char *sl_lua_last_traceback(const struct sl_lua *s);

/* CLOCK_MONOTONIC in ms. */
uint64_t sl_lua_now_ms(void);

#endif
