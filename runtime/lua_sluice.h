/*
 * runtime/lua_sluice.h - the `sluice` Lua module of job scripts (issue 4):
 * sources, transforms and sinks that record plan nodes (plan.h) while a
 * script's main(ctx) runs, the "sluice.Row" handle through which row
 * functions read and write batch cells, and the drivers that run a script's
 * main(ctx) in a sandbox (lua_sandbox.h) and return its frozen plan.
 * docs/lua-api.md is the user-facing reference.
 *
 * Function slots. A Lua function handed to filter/map/flat_map/mapreduce
 * gets the next slot number (0, 1, ...) and is kept in the state's registry
 * (slot -> registry ref, in the builder). Plans carry slots, never functions:
 * every worker creates its own state, runs the same script and main(ctx) with
 * the same ctx, gets the same slots, and the executor checks with
 * sl_plan_check_same() that the worker's plan is the planner's. Upvalues are
 * allowed: each worker recomputes them by running main; at freeze time their
 * values are hashed into the plan (struct sl_plan_fn.fingerprint), so a
 * function capturing a value that differs between states (math.random(),
 * os.clock()) makes the plans differ and the run fails with a clear error.
 * Mutating an upvalue from a row function changes only that worker's copy.
 *
 * Threads: everything here belongs to the thread owning the lua_State; plans
 * returned frozen may be shared read-only.
 */
#ifndef SL_LUA_SLUICE_H
#define SL_LUA_SLUICE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <lua.h>

#include "batch.h"
#include "err.h"
#include "plan.h"

/* Names in the sandbox _ENV used by the drivers; scripts must not touch them. */
#define SL_LUA_SLUICE_MAIN      "__sluice_main"
#define SL_LUA_SLUICE_CALL_SLOT "__sluice_call_slot"

struct sl_plan_arg {
    const char *key;   /* borrowed */
    const char *value; /* borrowed */
};

/* What main(ctx) sees and the sandbox limits. All pointers borrowed for the call. */
struct sl_plan_args {
    const char *job;                /* ctx.job; NULL = "" */
    const char *run_id;             /* ctx.run_id; NULL = "" */
    const struct sl_plan_arg *args; /* ctx.args (strings) */
    size_t n_args;
    time_t now;               /* sluice.today()/yesterday(); 0 = time(NULL). Pass the
                               * run's start to every worker so dates agree. */
    size_t memory_cap;        /* bytes per state; 0 = SL_LUA_MEMORY_DEFAULT */
    uint64_t timeout_ms;      /* ms the state may run, from its creation (the
                               * run's deadline for a worker); 0 = none */
    const _Atomic bool *stop; /* may be NULL */
    bool allow_files;         /* job{allow_files=true}: scripts may read local files */
    /* print()/sluice.log(): one line, borrowed for the call; NULL drops them */
    void (*log_fn)(void *ud, const char *line, size_t line_len);
    void *log_ud;
};

/* ---- Builder: what the sluice functions of one state record into ---- */

struct sl_plan_builder;

/* A builder for a state whose today()/yesterday() use now (0 = time(NULL)).
 * Owned: sl_plan_builder_free(), after the lua_State it was opened in is
 * closed (Dataset userdata point at it). NULL on OOM. */
struct sl_plan_builder *sl_plan_builder_new(time_t now);
void sl_plan_builder_free(struct sl_plan_builder *b);
/* The plan built so far. Borrowed until sl_plan_builder_free(). */
const struct sl_plan *sl_plan_builder_plan(const struct sl_plan_builder *b);

/* Adds `sluice` (and a no-op `job`, whose table job_header.c reads) to the
 * table at the top of the stack (the sandbox _ENV; call from the sandbox's
 * open_libs hook), and creates the metatables "sluice.Dataset",
 * "sluice.Grouped", "sluice.Agg", "sluice.Null" and "sluice.Row" once per
 * state. May raise (memory); leaves the stack as it found it. Returns 0. */
int sl_lua_sluice_open(lua_State *L, struct sl_plan_builder *b);

/* ---- Drivers ---- */

/* Runs the script (text; shown as chunkname in messages) and its main(ctx) in
 * a fresh sandbox, validates and freezes the plan, closes the state. *out is
 * owned (sl_plan_free). Errors: SL_EPARSE (syntax), SL_ESCRIPT ("jobs/x.lua:12:
 * bad argument #1 to 'select' (unknown column \"x\" ...)" plus traceback, for
 * raised errors and argument mistakes), SL_ECONFIG (no main, or the plan as a
 * whole is invalid, e.g. no write), SL_ENOMEM, SL_ECANCELLED. */
int sl_plan_build_from_script(const char *chunkname, const char *src, size_t len,
                              const struct sl_plan_args *args, struct sl_plan **out,
                              struct sl_err *err);

/* A worker's state: the same as above, but the state stays open with its
 * function slots so the executor can call them. Owned: sl_plan_state_free(). */
struct sl_plan_state;
int sl_plan_state_new(const char *chunkname, const char *src, size_t len,
                      const struct sl_plan_args *args, struct sl_plan_state **out,
                      struct sl_err *err);
void sl_plan_state_free(struct sl_plan_state *ps);
/* The frozen plan this state built. Borrowed until sl_plan_state_free(). */
const struct sl_plan *sl_plan_state_plan(const struct sl_plan_state *ps);
/* The state, to push arguments (rows: sl_lua_push_row). Borrowed. */
lua_State *sl_plan_state_lua(struct sl_plan_state *ps);
/* Calls the function of slot with the nargs values the caller pushed (popped
 * in all cases), under the sandbox's limits and traceback; leaves nresults
 * results on success. Errors as sl_lua_call_global (SL_ESCRIPT with
 * "jobs/x.lua:7: message" + traceback, SL_ENOMEM, SL_ECANCELLED), SL_ENOTFOUND
 * for a slot out of range. The state's deadline (args->timeout_ms, counted
 * from sl_plan_state_new) and stop flag apply; the call does not restart it. */
int sl_plan_state_call_slot(struct sl_plan_state *ps, int slot, int nargs, int nresults,
                            struct sl_err *err);

/* ---- Rows ---- */

/* Pushes a "sluice.Row" handle {b, index, b->gen} (-> row). b must outlive
 * the state or stay allocated while the state lives (batches are recycled,
 * never freed, while a worker's state lives: STYLE §9); after
 * sl_batch_reset(b) the handle raises "row used after its batch was
 * released". Needs sl_lua_sluice_open() to have run in L. May raise (memory). */
void sl_lua_push_row(lua_State *L, struct sl_batch *b, uint32_t index);
/* Is the value at idx a row handle (live or stale)? */
bool sl_lua_is_row(lua_State *L, int idx);
/* The handle at idx: true and sets *b and *index when it is a live row (not stale). */
bool sl_lua_to_row(lua_State *L, int idx, struct sl_batch **b, uint32_t *index);
/* Pushes the Lua form of v (-> value): INT integer, DOUBLE float, BOOL
 * boolean, STRING/JSON/BINARY string, DATE "YYYY-MM-DD", TIMESTAMP
 * "YYYY-MM-DDTHH:MM:SS[.ffffff]Z" (UTC; the fraction only when non-zero),
 * NULL nil. May raise (memory). */
void sl_lua_push_value(lua_State *L, const struct sl_value *v);

#endif
