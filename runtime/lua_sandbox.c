/*
 * runtime/lua_sandbox.c - the sandboxed lua_State job scripts run in (see
 * lua_sandbox.h, STYLE.md §9). The `sluice` library is not here: the engine
 * adds it through opts.open_libs.
 *
 * Three guards, one per way a script can hurt its worker:
 *   - memory: the lua_Alloc refuses growth past the cap (never a free or a
 *     shrink; Lua then runs an emergency GC and raises "not enough memory");
 *   - time: a count hook checks *stop and the deadline every hook_count
 *     instructions; once it fires it re-arms on every line and every
 *     instruction, so a script's own pcall/xpcall only delays the error by one
 *     instruction, until the state unwinds to our lua_pcall. Lua runs code
 *     with hooks off in two places, so both are closed: __gc finalizers
 *     (setmetatable refuses __gc) and an xpcall handler called for an error
 *     raised by the hook (xpcall skips the user's handler while cancelling);
 *   - reach: the chunk's _ENV holds only the safe libraries, chunks load as
 *     text, and string.dump is removed from the string table itself (the
 *     string metatable's __index points at it, so ("").dump would find it).
 * Every Lua API call that can allocate runs inside lua_pcall: an unprotected
 * memory error would reach the panic handler and abort the process.
 *
 * Known gap: a single C library call can run long without executing Lua
 * instructions (string.find with a pathological backtracking pattern); the
 * hook cannot interrupt it, the run's process timeout does. string.rep with an
 * empty result and table.move over huge ranges are wrapped below because they
 * loop in C without allocating.
 */
#include "lua_sandbox.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"

enum cancel {
    CANCEL_NONE = 0,
    CANCEL_STOP,    /* *stop was set */
    CANCEL_TIMEOUT, /* the deadline passed */
    CANCEL_CLOSING, /* sl_lua_free: pending finalizers must not run Lua code */
};

struct sl_lua {
    lua_State *L;           /* owned */
    size_t used;            /* bytes Lua holds */
    size_t cap;             /* bytes */
    bool cap_hit;           /* the allocator refused growth since the last reset */
    bool fn_missing;        /* sl_lua_call_global: _ENV[fn] was not a function */
    enum cancel cancel;     /* sticky until sl_lua_set_timeout clears a timeout */
    int hook_count;         /* instructions */
    int call_nresults;      /* for call_trampoline */
    uint64_t timeout_ms;    /* ms; 0 = none */
    uint64_t deadline_ms;   /* CLOCK_MONOTONIC ms; 0 = none */
    const _Atomic bool *stop;
    int env_ref;            /* registry reference of the sandbox _ENV */
    void (*print_fn)(void *ud, const char *line, size_t line_len);
    void (*open_libs)(lua_State *L, void *ud);
    void *ud;
    bool allow_files;       /* io.open (read only) and io.lines in the sandbox */
    char chunk[256];        /* chunk name for messages, without the '@' */
    char *traceback;        /* owned; NULL means "" */
};

static struct sl_lua *from_state(lua_State *L)
{
    return *(struct sl_lua **)lua_getextraspace(L);
}

uint64_t sl_lua_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- Allocator ---- */

/* lua_Alloc with a ceiling. Lua assumes a shrink never fails, so shrinks use
 * plain realloc and keep the old block if even that fails; growth goes through
 * sl_realloc so SL_TEST_FAIL_ALLOC reaches it. */
static void *lalloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    struct sl_lua *s = ud;

    if (ptr == NULL)
        osize = 0; /* then osize is a type tag, not a size */
    if (nsize == 0) {
        sl_free(ptr);
        s->used -= osize;
        return NULL;
    }
    void *p;
    if (nsize <= osize) {
        p = realloc(ptr, nsize);
        if (p == NULL)
            p = ptr;
    } else {
        if (nsize - osize > s->cap - s->used) {
            s->cap_hit = true;
            return NULL;
        }
        p = sl_realloc(ptr, nsize);
        if (p == NULL)
            return NULL;
    }
    s->used = s->used - osize + nsize;
    return p;
}

/* ---- Hook ---- */

static void hook(lua_State *L, lua_Debug *ar);

static void arm_sticky(lua_State *L)
{
    lua_sethook(L, hook, LUA_MASKLINE | LUA_MASKCOUNT, 1);
}

/* Raises "<chunk>:<line>: <why>". Never returns. */
static void raise_cancel(lua_State *L, const struct sl_lua *s)
{
    luaL_where(L, 0); /* -> "chunk:line: " of the running Lua function */
    switch (s->cancel) {
    case CANCEL_STOP:
        lua_pushliteral(L, "stopped");
        break;
    case CANCEL_TIMEOUT:
        lua_pushfstring(L, "timed out after %I ms", (lua_Integer)s->timeout_ms);
        break;
    default:
        lua_pushliteral(L, "state is closing");
        break;
    }
    lua_concat(L, 2);
    lua_error(L);
}

static void hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    struct sl_lua *s = from_state(L);

    if (s->cancel == CANCEL_NONE) {
        if (s->stop && atomic_load(s->stop))
            s->cancel = CANCEL_STOP;
        else if (s->deadline_ms && sl_lua_now_ms() >= s->deadline_ms)
            s->cancel = CANCEL_TIMEOUT;
        else
            return;
        arm_sticky(L);
    }
    raise_cancel(L, s);
}

/* ---- Sandbox functions ---- */

/* Message handler: message plus traceback, as lua.c does it. */
static int msgh(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (msg == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
            msg = lua_tostring(L, -1);
        else
            msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1); /* -> msg + traceback */
    return 1;
}

static int l_print(lua_State *L)
{
    struct sl_lua *s = from_state(L);
    int n = lua_gettop(L);
    luaL_Buffer b;

    luaL_buffinit(L, &b);
    for (int i = 1; i <= n; i++) {
        if (i > 1)
            luaL_addchar(&b, '\t');
        luaL_tolstring(L, i, NULL); /* -> string */
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b); /* -> line */
    size_t len;
    const char *line = lua_tolstring(L, -1, &len);
    if (s->print_fn)
        s->print_fn(s->ud, line, len);
    return 0;
}

/* collectgarbage with only "collect", "count" and "step": stopping the GC or
 * retuning it is the worker's business, not the script's. */
static int l_collectgarbage(lua_State *L)
{
    static const char *const opts[] = { "collect", "count", "step", NULL };
    int o = luaL_checkoption(L, 1, "collect", opts);

    switch (o) {
    case 0:
        lua_gc(L, LUA_GCCOLLECT);
        lua_pushinteger(L, 0);
        return 1;
    case 1: {
        int kb = lua_gc(L, LUA_GCCOUNT);
        int rem = lua_gc(L, LUA_GCCOUNTB);
        lua_pushnumber(L, (lua_Number)kb + (lua_Number)rem / 1024);
        return 1;
    }
    default: {
        int n = (int)luaL_optinteger(L, 2, 0);
        lua_pushboolean(L, lua_gc(L, LUA_GCSTEP, n));
        return 1;
    }
    }
}

/* string.rep: the original loops n times in C even when the result is empty. */
static int l_rep(lua_State *L)
{
    size_t len, sep_len;
    luaL_checklstring(L, 1, &len);
    lua_Integer n = luaL_checkinteger(L, 2);
    luaL_optlstring(L, 3, "", &sep_len);

    if (n <= 0 || len + sep_len == 0) {
        lua_pushliteral(L, "");
        return 1;
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

/* table.move: the original walks the whole range in C, nils included, so
 * table.move({}, 1, 1e15, 2) would outlive any deadline. A range larger than
 * the memory cap could hold as table slots (16 bytes each) is refused. */
static int l_move(lua_State *L)
{
    struct sl_lua *s = from_state(L);
    lua_Integer f = luaL_checkinteger(L, 2);
    lua_Integer e = luaL_checkinteger(L, 3);
    lua_Unsigned limit = s->cap / 16 > 1024 ? s->cap / 16 : 1024;

    if (e >= f && (lua_Unsigned)e - (lua_Unsigned)f >= limit)
        return luaL_error(L, "table.move: range of more than %I elements",
                          (lua_Integer)limit);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

/* setmetatable refusing __gc: Lua runs finalizers with hooks disabled (GCTM
 * clears allowhook), so a looping __gc could never be cancelled. An object is
 * marked for finalization only if its metatable has __gc when set, so checking
 * here is enough. */
static int l_setmetatable(lua_State *L)
{
    if (lua_type(L, 2) == LUA_TTABLE) {
        lua_pushliteral(L, "__gc");
        if (lua_rawget(L, 2) != LUA_TNIL)
            return luaL_error(L, "setmetatable: __gc metamethods are not allowed in job scripts");
        lua_pop(L, 1);
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

/* Message handler of xpcall: the user's handler (upvalue 1), except while a
 * cancellation unwinds. An error raised from the hook reaches the handler with
 * hooks still disabled, so a looping handler could not be stopped. */
static int xpcall_msgh(lua_State *L)
{
    if (from_state(L)->cancel != CANCEL_NONE)
        return 1;
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

/* xpcall(f, msgh, ...) as the base library has it, with msgh wrapped. */
static int l_xpcall(lua_State *L)
{
    int n = lua_gettop(L);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_pushvalue(L, 2);
    lua_pushcclosure(L, xpcall_msgh, 1);
    lua_replace(L, 2);
    lua_pushboolean(L, 1); /* first result */
    lua_pushvalue(L, 1);   /* function */
    lua_rotate(L, 3, 2);   /* below the function's arguments */
    if (lua_pcall(L, n - 2, LUA_MULTRET, 2) != LUA_OK) {
        lua_pushboolean(L, 0);
        lua_pushvalue(L, -2);
        return 2; /* false, message */
    }
    return lua_gettop(L) - 2;
}

/* ---- Building the sandbox ---- */

static void copy_fields(lua_State *L, int from, int to, const char *const *names)
{
    for (; *names; names++) {
        lua_getfield(L, from, *names);
        lua_setfield(L, to, *names);
    }
}

/* Protected: builds _ENV, keeps it in the registry, calls open_libs. */

/* io.open(path [, mode]) with allow_files: only the reading modes. */
static int l_io_open_read(lua_State *L)
{
    const char *mode = luaL_optstring(L, 2, "r");
    if (strcmp(mode, "r") != 0 && strcmp(mode, "rb") != 0)
        return luaL_argerror(L, 2, "files can only be opened for reading (\"r\" or \"rb\")");
    lua_settop(L, 2);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, 2, LUA_MULTRET);
    return lua_gettop(L);
}

/* io.lines(path, ...) with allow_files: a file name is required (no stdin). */
static int l_io_lines(lua_State *L)
{
    luaL_checkstring(L, 1);
    int n = lua_gettop(L);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, n, LUA_MULTRET);
    return lua_gettop(L);
}

static int setup(lua_State *L)
{
    static const char *const base_names[] = {
        "tostring", "tonumber", "type",     "pairs",    "ipairs",       "next",
        "select",   "error",    "assert",   "pcall",    "rawget",       "rawset",
        "rawequal", "rawlen",   "_VERSION", "getmetatable",
        NULL,
    };
    static const char *const os_names[] = { "time", "clock", "date", NULL };
    static const char *const debug_names[] = { "traceback", NULL };
    struct sl_lua *s = from_state(L);

    lua_newtable(L); /* -> env */
    int env = lua_gettop(L);

    luaL_requiref(L, LUA_GNAME, luaopen_base, 0); /* -> real globals, never exposed */
    copy_fields(L, -1, env, base_names);
    lua_getfield(L, -1, "setmetatable");
    lua_pushcclosure(L, l_setmetatable, 1);
    lua_setfield(L, env, "setmetatable");
    lua_pop(L, 1);
    lua_pushcfunction(L, l_xpcall);
    lua_setfield(L, env, "xpcall");
    lua_pushcfunction(L, l_print);
    lua_setfield(L, env, "print");
    lua_pushcfunction(L, l_collectgarbage);
    lua_setfield(L, env, "collectgarbage");
    lua_pushvalue(L, env);
    lua_setfield(L, env, LUA_GNAME);

    luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 0); /* -> string (shared with "x":f) */
    lua_pushnil(L);
    lua_setfield(L, -2, "dump");
    lua_getfield(L, -1, "rep");
    lua_pushcclosure(L, l_rep, 1);
    lua_setfield(L, -2, "rep");
    lua_setfield(L, env, LUA_STRLIBNAME);

    luaL_requiref(L, LUA_TABLIBNAME, luaopen_table, 0); /* -> table */
    lua_getfield(L, -1, "move");
    lua_pushcclosure(L, l_move, 1);
    lua_setfield(L, -2, "move");
    lua_getfield(L, -1, "unpack");
    lua_setfield(L, env, "unpack");
    lua_setfield(L, env, LUA_TABLIBNAME);

    luaL_requiref(L, LUA_MATHLIBNAME, luaopen_math, 0);
    lua_setfield(L, env, LUA_MATHLIBNAME);
    luaL_requiref(L, LUA_UTF8LIBNAME, luaopen_utf8, 0);
    lua_setfield(L, env, LUA_UTF8LIBNAME);

    luaL_requiref(L, LUA_OSLIBNAME, luaopen_os, 0); /* -> full os, never exposed */
    lua_newtable(L);
    copy_fields(L, -2, lua_gettop(L), os_names);
    lua_setfield(L, env, LUA_OSLIBNAME);
    lua_pop(L, 1);

    luaL_requiref(L, LUA_DBLIBNAME, luaopen_debug, 0); /* -> full debug, never exposed */
    lua_newtable(L);
    copy_fields(L, -2, lua_gettop(L), debug_names);
    lua_setfield(L, env, LUA_DBLIBNAME);
    lua_pop(L, 1);

    if (s->allow_files) { /* reading local files only: io.open in "r" modes, io.lines */
        luaL_requiref(L, LUA_IOLIBNAME, luaopen_io, 0); /* -> full io, never exposed */
        lua_newtable(L);
        lua_getfield(L, -2, "open");
        lua_pushcclosure(L, l_io_open_read, 1);
        lua_setfield(L, -2, "open");
        lua_getfield(L, -2, "lines");
        lua_pushcclosure(L, l_io_lines, 1);
        lua_setfield(L, -2, "lines");
        lua_setfield(L, env, LUA_IOLIBNAME);
        lua_pop(L, 1);
    }

    lua_pushvalue(L, env);
    s->env_ref = luaL_ref(L, LUA_REGISTRYINDEX);

    if (s->open_libs) {
        lua_pushvalue(L, env);
        s->open_libs(L, s->ud);
        lua_pop(L, 1);
    }
    return 0;
}

/* ---- Errors ---- */

static void reset_call(struct sl_lua *s)
{
    s->cap_hit = false;
    s->fn_missing = false;
    sl_free(s->traceback);
    s->traceback = NULL;
}

/* Length of the first line of msg. */
static int first_line_len(const char *msg)
{
    const char *nl = strchr(msg, '\n');
    size_t n = nl ? (size_t)(nl - msg) : strlen(msg);
    return n > 4096 ? 4096 : (int)n;
}

/* True when the first line of msg ends in "not enough memory": the lauxlib
 * buffers raise that as an ordinary error, not LUA_ERRMEM. */
static bool is_memory_message(const char *msg)
{
    static const char mem[] = "not enough memory";
    int n = first_line_len(msg);
    return (size_t)n >= sizeof mem - 1 && memcmp(msg + n - (sizeof mem - 1), mem, sizeof mem - 1) == 0;
}

/* Turns a failed lua_pcall into err; pops the error value. */
static int finish(struct sl_lua *s, int status, struct sl_err *err)
{
    lua_State *L = s->L;
    const char *msg = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "(no message)";
    const char *sep = s->chunk[0] ? ": " : "";
    int rc;

    s->traceback = sl_strdup(msg); /* NULL reads as "" */
    if (s->cancel != CANCEL_NONE) {
        rc = sl_err_set(err, SL_ECANCELLED, "%.*s", first_line_len(msg), msg);
    } else if (status == LUA_ERRMEM || (s->cap_hit && (status == LUA_ERRERR ||
                                                       is_memory_message(msg)))) {
        if (s->cap_hit)
            rc = sl_err_set(err, SL_ENOMEM, "%s%smemory cap of %zu bytes reached", s->chunk, sep,
                            s->cap);
        else
            rc = sl_err_set(err, SL_ENOMEM, "%s%sout of memory", s->chunk, sep);
    } else if (s->fn_missing) {
        rc = sl_err_set(err, SL_ENOTFOUND, "%.*s", first_line_len(msg), msg);
    } else {
        rc = sl_err_set(err, SL_ESCRIPT, "%s", msg);
    }
    lua_pop(L, 1);
    return rc;
}

/* ---- Public ---- */

struct sl_lua *sl_lua_new(const struct sl_lua_opts *opts, struct sl_err *err)
{
    static const struct sl_lua_opts defaults = { 0 };
    struct sl_lua *s;

    if (!opts)
        opts = &defaults;
    s = sl_calloc(1, sizeof *s);
    if (!s) {
        sl_err_set(err, SL_ENOMEM, "create Lua state: out of memory");
        return NULL;
    }
    s->cap = opts->memory_cap ? opts->memory_cap : SL_LUA_MEMORY_DEFAULT;
    s->hook_count = opts->hook_count > 0 ? opts->hook_count : SL_LUA_HOOK_COUNT_DEFAULT;
    s->stop = opts->stop;
    s->print_fn = opts->print_fn;
    s->open_libs = opts->open_libs;
    s->ud = opts->ud;
    s->allow_files = opts->allow_files;
    s->env_ref = LUA_NOREF;
    s->L = lua_newstate(lalloc, s);
    if (!s->L) {
        if (s->cap_hit)
            sl_err_set(err, SL_ENOMEM, "create Lua state: memory cap of %zu bytes reached",
                       s->cap);
        else
            sl_err_set(err, SL_ENOMEM, "create Lua state: out of memory");
        goto fail;
    }
    *(struct sl_lua **)lua_getextraspace(s->L) = s;
    sl_lua_set_timeout(s, opts->timeout_ms);

    lua_pushcfunction(s->L, msgh);
    lua_pushcfunction(s->L, setup);
    int status = lua_pcall(s->L, 0, 0, 1);
    if (status != LUA_OK) {
        finish(s, status, err);
        sl_err_prefix(err, "create Lua sandbox");
        goto fail;
    }
    lua_pop(s->L, 1); /* msgh */
    return s;
fail:
    sl_lua_free(s);
    return NULL;
}

void sl_lua_free(struct sl_lua *s)
{
    if (!s)
        return;
    if (s->L) {
        s->cancel = CANCEL_CLOSING;
        arm_sticky(s->L);
        lua_close(s->L);
    }
    sl_free(s->traceback);
    sl_free(s);
}

void sl_lua_set_timeout(struct sl_lua *s, uint64_t timeout_ms)
{
    s->timeout_ms = timeout_ms;
    s->deadline_ms = timeout_ms ? sl_lua_now_ms() + timeout_ms : 0;
    if (s->cancel == CANCEL_TIMEOUT)
        s->cancel = CANCEL_NONE;
    if (s->cancel == CANCEL_NONE)
        lua_sethook(s->L, hook, LUA_MASKCOUNT, s->hook_count);
}

int sl_lua_load(struct sl_lua *s, const char *chunkname, const char *src, size_t len,
                struct sl_err *err)
{
    lua_State *L = s->L;
    char name[sizeof s->chunk + 1];
    int status;

    reset_call(s);
    if (chunkname[0] == '@' || chunkname[0] == '=')
        chunkname++;
    snprintf(s->chunk, sizeof s->chunk, "%s", chunkname);
    snprintf(name, sizeof name, "@%s", s->chunk);
    if (len > 0 && src[0] == LUA_SIGNATURE[0])
        return sl_err_set(err, SL_EPARSE,
                          "%s: cannot load a precompiled chunk: job scripts must be text",
                          s->chunk);
    if (!lua_checkstack(L, 3))
        return sl_err_set(err, SL_ENOMEM, "%s: out of memory", s->chunk);

    lua_pushcfunction(L, msgh);
    status = luaL_loadbufferx(L, src, len, name, "t"); /* -> chunk or message */
    if (status == LUA_ERRSYNTAX) {
        const char *msg = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "syntax error";
        s->traceback = sl_strdup(msg);
        sl_err_set(err, SL_EPARSE, "%s", msg);
        lua_pop(L, 2);
        return SL_EPARSE;
    }
    if (status != LUA_OK) {
        int rc = finish(s, status, err);
        lua_pop(L, 1);
        return rc;
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->env_ref); /* -> env */
    if (!lua_setupvalue(L, -2, 1))                 /* a main chunk's upvalue 1 is _ENV */
        lua_pop(L, 1);
    status = lua_pcall(L, 0, 0, -2);
    int rc = status == LUA_OK ? SL_OK : finish(s, status, err);
    lua_pop(L, 1); /* msgh */
    return rc;
}

/* Protected half of sl_lua_call_global: [name lightuserdata, args...]. */
static int call_trampoline(lua_State *L)
{
    struct sl_lua *s = from_state(L);
    const char *fn = lua_touserdata(L, 1);

    lua_rawgeti(L, LUA_REGISTRYINDEX, s->env_ref); /* -> env */
    lua_pushstring(L, fn);
    lua_rawget(L, -2); /* -> env[fn] */
    if (!lua_isfunction(L, -1)) {
        s->fn_missing = true;
        return luaL_error(L, "%s: function \"%s\" is not defined", s->chunk, fn);
    }
    lua_replace(L, 1);
    lua_pop(L, 1); /* env */
    lua_call(L, lua_gettop(L) - 1, s->call_nresults);
    return lua_gettop(L);
}

int sl_lua_call_global(struct sl_lua *s, const char *fn, int nargs, int nresults,
                       struct sl_err *err)
{
    lua_State *L = s->L;
    int base = lua_gettop(L) - nargs;

    reset_call(s);
    if (!lua_checkstack(L, 3)) {
        lua_pop(L, nargs);
        return sl_err_set(err, SL_ENOMEM, "%s: out of memory", s->chunk);
    }
    lua_pushcfunction(L, msgh);
    lua_pushcfunction(L, call_trampoline);
    lua_pushlightuserdata(L, (void *)fn);
    lua_rotate(L, base + 1, 3); /* -> msgh, trampoline, name, args... */
    s->call_nresults = nresults;
    int status = lua_pcall(L, nargs + 1, nresults, base + 1);
    if (status != LUA_OK) {
        int rc = finish(s, status, err);
        lua_pop(L, 1); /* msgh */
        return rc;
    }
    lua_remove(L, base + 1); /* msgh, under the results */
    return SL_OK;
}

int sl_lua_pcall(struct sl_lua *s, int nargs, int nresults, struct sl_err *err)
{
    lua_State *L = s->L;
    int base = lua_gettop(L) - nargs; /* the function */

    reset_call(s);
    if (!lua_checkstack(L, 2)) {
        lua_pop(L, nargs + 1);
        return sl_err_set(err, SL_ENOMEM, "%s: out of memory", s->chunk);
    }
    lua_pushcfunction(L, msgh);
    lua_rotate(L, base, 1); /* -> msgh, fn, args... */
    int status = lua_pcall(L, nargs, nresults, base);
    if (status != LUA_OK) {
        int rc = finish(s, status, err);
        lua_pop(L, 1); /* msgh */
        return rc;
    }
    lua_remove(L, base); /* msgh, under the results */
    return SL_OK;
}

void sl_lua_push_env(struct sl_lua *s)
{
    lua_rawgeti(s->L, LUA_REGISTRYINDEX, s->env_ref);
}

lua_State *sl_lua_state(struct sl_lua *s)
{
    return s->L;
}

size_t sl_lua_memory_used(const struct sl_lua *s)
{
    return s->used;
}

const char *sl_lua_last_traceback(const struct sl_lua *s)
{
    return s->traceback ? s->traceback : "";
}
