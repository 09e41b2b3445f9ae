/*
 * tests/runtime/test_lua_sandbox.c - the job script sandbox: what _ENV holds,
 * error shapes (syntax, runtime + traceback, memory, cancel), the memory cap,
 * deadline and stop enforcement that pcall cannot swallow, text-only loading.
 * Timing is never asserted: a test that hangs is the failure.
 */
#include <lauxlib.h>
#include <lualib.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/alloc.h"
#include "runtime/buf.h"
#include "runtime/lua_sandbox.h"
#include "tests/test.h"

/* Loads src into a fresh default state; returns the code, err filled. */
static int run_src(const struct sl_lua_opts *o, const char *src, struct sl_err *err)
{
    struct sl_lua *s = sl_lua_new(o, err);
    if (!s)
        return err->code;
    int rc = sl_lua_load(s, "jobs/x.lua", src, strlen(src), err);
    sl_lua_free(s);
    return rc;
}

TEST(forbidden_globals_are_nil)
{
    struct sl_err err = { 0 };
    const char *src =
        "assert(io == nil, 'io')\n"
        "assert(os.execute == nil and os.remove == nil and os.exit == nil, 'os')\n"
        "assert(os.getenv == nil and os.rename == nil and os.tmpname == nil, 'os2')\n"
        "assert(require == nil and package == nil, 'require')\n"
        "assert(load == nil and loadstring == nil and dofile == nil and loadfile == nil, 'load')\n"
        "assert(debug.getinfo == nil and debug.sethook == nil and debug.getregistry == nil, 'dbg')\n"
        "assert(debug.setupvalue == nil and debug.getlocal == nil, 'dbg2')\n"
        "assert(string.dump == nil and ('').dump == nil, 'dump')\n"
        "assert(coroutine == nil and warn == nil, 'co')\n"
        "assert(not pcall(collectgarbage, 'stop'), 'gc stop')\n"
        "assert(not pcall(collectgarbage, 'generational'), 'gc gen')\n";
    CHECK_OK(run_src(NULL, src, &err), &err);
}

TEST(allowed_globals_work)
{
    struct sl_err err = { 0 };
    const char *src =
        "assert(string.format('%05.1f', 3.14159) == '003.1')\n"
        "assert(('abc'):upper() == 'ABC' and string.rep('ab', 3, '-') == 'ab-ab-ab')\n"
        "assert(table.concat({1, 2, 3}, ',') == '1,2,3')\n"
        "local t = {3, 1, 2}; table.sort(t); assert(t[1] == 1)\n"
        "assert(table.move({1, 2, 3}, 1, 3, 2)[3] == 2)\n"
        "assert(math.floor(2.5) == 2 and math.maxinteger > 0)\n"
        "assert(utf8.char(233) == '\\u{e9}' and utf8.len('\\u{e9}') == 1)\n"
        "assert(type(os.time()) == 'number' and type(os.clock()) == 'number')\n"
        "assert(os.date('!%Y-%m-%d', 86400) == '1970-01-02')\n"
        "assert(tostring(12) == '12' and tonumber('0x10') == 16 and type(nil) == 'nil')\n"
        "local n = 0; for _ in pairs({a = 1, b = 2}) do n = n + 1 end; assert(n == 2)\n"
        "for i, v in ipairs({5}) do assert(i == 1 and v == 5) end\n"
        "assert(next({}) == nil and select('#', 1, 2) == 2 and select(2, 'a', 'b') == 'b')\n"
        "assert(not pcall(error, 'x') and select(2, xpcall(error, function(m) return 'h' end)) == 'h')\n"
        "local r = {}; rawset(r, 'k', 1); assert(rawget(r, 'k') == 1 and rawlen({1}) == 1)\n"
        "assert(rawequal(r, r))\n"
        "local m = setmetatable({}, {__index = function() return 7 end}); assert(m.z == 7)\n"
        "assert(getmetatable(m) ~= nil)\n"
        "local a, b = unpack({1, 2}); assert(a == 1 and b == 2)\n"
        "assert(type(debug.traceback('x')) == 'string')\n"
        "assert(_G == _ENV and _G.string == string)\n"
        "assert(collectgarbage('count') > 0 and collectgarbage() == 0)\n"
        "assert(type(collectgarbage('step')) == 'boolean')\n"
        "assert(string.rep('', 1e15) == '' and string.rep('x', 0) == '')\n"
        "assert(not pcall(table.move, {}, 1, 1e15, 2))\n";
    CHECK_OK(run_src(NULL, src, &err), &err);
}

TEST(syntax_error_has_chunk_and_line)
{
    struct sl_err err = { 0 };
    CHECK(run_src(NULL, "local x = 1\nif x then\n  y = = 2\nend\n", &err) == SL_EPARSE);
    CHECK_STR(err.msg, "jobs/x.lua:3: unexpected symbol near '='");

    struct sl_lua *s = sl_lua_new(NULL, &err);
    CHECK(s != NULL);
    CHECK(sl_lua_load(s, "@jobs/y.lua", "end", 3, &err) == SL_EPARSE);
    CHECK_STR(err.msg, "jobs/y.lua:1: <eof> expected near 'end'");
    CHECK_STR(sl_lua_last_traceback(s), err.msg);
    sl_lua_free(s);
}

TEST(runtime_error_has_message_and_traceback)
{
    struct sl_err err = { 0 };
    const char *src =
        "local function transform(r)\n"
        "  return r.x\n"
        "end\n"
        "function main(v)\n"
        "  local out = transform(v)\n"
        "  return out\n"
        "end\n";
    struct sl_lua *s = sl_lua_new(NULL, &err);
    CHECK(s != NULL);
    CHECK_OK(sl_lua_load(s, "jobs/x.lua", src, strlen(src), &err), &err);
    lua_pushnil(sl_lua_state(s));
    CHECK(sl_lua_call_global(s, "main", 1, 0, &err) == SL_ESCRIPT);
    const char *want = "jobs/x.lua:2: attempt to index a nil value (local 'r')\n";
    CHECKF(strncmp(err.msg, want, strlen(want)) == 0, "%s", err.msg);
    const char *tb = sl_lua_last_traceback(s);
    CHECK(strncmp(tb, want, strlen(want)) == 0);
    CHECKF(strstr(tb, "stack traceback:") != NULL, "%s", tb);
    CHECKF(strstr(tb, "transform") != NULL, "%s", tb);
    CHECKF(strstr(tb, "jobs/x.lua:5: in function <jobs/x.lua:4>") != NULL, "%s", tb);
    CHECK(lua_gettop(sl_lua_state(s)) == 0);

    /* a non-string error object */
    const char *src2 = "function f() error(setmetatable({}, {__tostring = function() "
                       "return 'custom' end})) end\nfunction g() error({}) end\n";
    CHECK_OK(sl_lua_load(s, "jobs/x.lua", src2, strlen(src2), &err), &err);
    CHECK(sl_lua_call_global(s, "f", 0, 0, &err) == SL_ESCRIPT);
    CHECK(strncmp(err.msg, "custom\n", 7) == 0);
    CHECK(sl_lua_call_global(s, "g", 0, 0, &err) == SL_ESCRIPT);
    CHECK(strncmp(err.msg, "(error object is a table value)", 31) == 0);
    CHECK(lua_gettop(sl_lua_state(s)) == 0);
    sl_lua_free(s);
}

TEST(long_traceback_is_kept_whole)
{
    struct sl_err err = { 0 };
    const char *src = "local function f(n) if n == 0 then error('deep') end return f(n - 1) + 1 end\n"
                      "f(40)\n";
    struct sl_lua *s = sl_lua_new(NULL, &err);
    CHECK(sl_lua_load(s, "jobs/deep.lua", src, strlen(src), &err) == SL_ESCRIPT);
    CHECK(strlen(err.msg) == sizeof err.msg - 1);
    CHECK(strlen(sl_lua_last_traceback(s)) > strlen(err.msg));
    CHECK(strncmp(err.msg, "jobs/deep.lua:1: deep\n", 22) == 0);
    sl_lua_free(s);
}

TEST(call_global_args_results_and_missing)
{
    struct sl_err err = { 0 };
    const char *src = "function add(a, b) return a + b, 'x' end\nnot_fn = 3\n";
    struct sl_lua *s = sl_lua_new(NULL, &err);
    lua_State *L = sl_lua_state(s);
    CHECK_OK(sl_lua_load(s, "jobs/x.lua", src, strlen(src), &err), &err);
    lua_pushinteger(L, 40);
    lua_pushinteger(L, 2);
    CHECK_OK(sl_lua_call_global(s, "add", 2, 1, &err), &err);
    CHECK(lua_gettop(L) == 1 && lua_tointeger(L, -1) == 42);
    lua_pop(L, 1);
    lua_pushinteger(L, 1);
    lua_pushinteger(L, 2);
    CHECK_OK(sl_lua_call_global(s, "add", 2, LUA_MULTRET, &err), &err);
    CHECK(lua_gettop(L) == 2 && lua_tointeger(L, 1) == 3);
    lua_settop(L, 0);
    lua_pushinteger(L, 1);
    CHECK(sl_lua_call_global(s, "main", 1, 0, &err) == SL_ENOTFOUND);
    CHECK_STR(err.msg, "jobs/x.lua: function \"main\" is not defined");
    CHECK(sl_lua_call_global(s, "not_fn", 0, 0, &err) == SL_ENOTFOUND);
    CHECK(lua_gettop(L) == 0);
    sl_lua_free(s);
}

TEST(memory_cap_table_growth)
{
    struct sl_err err = { 0 };
    struct sl_lua_opts o = { .memory_cap = 1 << 20 };
    struct sl_lua *s = sl_lua_new(&o, &err);
    CHECK(s != NULL);
    const char *src = "function grow() local t = {} for i = 1, 1e9 do t[i] = i end end\n"
                      "function ok() return 1 end\n";
    CHECK_OK(sl_lua_load(s, "jobs/mem.lua", src, strlen(src), &err), &err);
    CHECK(sl_lua_call_global(s, "grow", 0, 0, &err) == SL_ENOMEM);
    CHECK_STR(err.msg, "jobs/mem.lua: memory cap of 1048576 bytes reached");
    CHECK(sl_lua_memory_used(s) <= o.memory_cap);
    /* the state survives and the garbage goes */
    CHECK_OK(sl_lua_call_global(s, "ok", 0, 0, &err), &err);
    sl_lua_free(s);

    CHECK(run_src(&o, "local s = 'x' while true do s = s .. s end", &err) == SL_ENOMEM);
    CHECK(run_src(&o, "local s = string.rep('x', 1 << 28)", &err) == SL_ENOMEM);
    /* a later state works */
    CHECK_OK(run_src(&o, "x = 1", &err), &err);
}

TEST(memory_cap_pcall_and_too_small)
{
    struct sl_err err = { 0 };
    struct sl_lua_opts o = { .memory_cap = 1 << 20 };
    /* a script may catch a memory error; the cap still held */
    CHECK_OK(run_src(&o,
                     "local ok, e = pcall(function() local t = {} for i = 1, 1e9 do t[i] = i end end)\n"
                     "assert(not ok and e == 'not enough memory')\n",
                     &err),
             &err);
    o.memory_cap = 4096;
    CHECK(sl_lua_new(&o, &err) == NULL);
    CHECK(err.code == SL_ENOMEM);
    CHECKF(strstr(err.msg, "memory cap of 4096 bytes reached") != NULL, "%s", err.msg);
}

TEST(deadline_cancels_loop)
{
    struct sl_err err = { 0 };
    struct sl_lua_opts o = { .timeout_ms = 50 };
    CHECK(run_src(&o, "local x = 0\nwhile true do x = x + 1 end\n", &err) == SL_ECANCELLED);
    CHECK_STR(err.msg, "jobs/x.lua:2: timed out after 50 ms");
}

TEST(pcall_cannot_swallow_cancel)
{
    struct sl_err err = { 0 };
    struct sl_lua_opts o = { .timeout_ms = 30, .hook_count = 1000 };
    CHECK(run_src(&o, "pcall(function() while true do end end)\nwhile true do end\n", &err) ==
          SL_ECANCELLED);
    CHECKF(strstr(err.msg, "timed out after 30 ms") != NULL, "%s", err.msg);
    CHECK(run_src(&o, "while true do pcall(function() while true do end end) end", &err) ==
          SL_ECANCELLED);
    CHECK(run_src(&o,
                  "while true do xpcall(function() while true do end end, "
                  "function(m) while true do end end) end",
                  &err) == SL_ECANCELLED);
    CHECK(run_src(&o,
                  "local t = setmetatable({}, {__index = function() while true do end end})\n"
                  "while true do pcall(function() return t.x end) end",
                  &err) == SL_ECANCELLED);
    CHECK(run_src(&o, "while true do pcall(string.gsub, 'aaaa', 'a', function() "
                      "while true do end end) end", &err) == SL_ECANCELLED);
}

TEST(cancel_is_sticky_until_timeout_reset)
{
    struct sl_err err = { 0 };
    struct sl_lua_opts o = { .timeout_ms = 20 };
    struct sl_lua *s = sl_lua_new(&o, &err);
    const char *src = "function spin() while true do end end\nfunction one() return 1 end\n";
    CHECK_OK(sl_lua_load(s, "jobs/x.lua", src, strlen(src), &err), &err);
    CHECK(sl_lua_call_global(s, "spin", 0, 0, &err) == SL_ECANCELLED);
    CHECK(sl_lua_call_global(s, "one", 0, 0, &err) == SL_ECANCELLED);
    sl_lua_set_timeout(s, 0);
    CHECK_OK(sl_lua_call_global(s, "one", 0, 1, &err), &err);
    lua_settop(sl_lua_state(s), 0);
    sl_lua_free(s);
}

struct stopper {
    _Atomic bool *stop;
};

static void *stop_later(void *arg)
{
    struct stopper *st = arg;
    struct timespec ts = { 0, 50 * 1000000L };
    nanosleep(&ts, NULL);
    atomic_store(st->stop, true);
    return NULL;
}

TEST(stop_flag_from_another_thread)
{
    struct sl_err err = { 0 };
    _Atomic bool stop = false;
    struct stopper st = { &stop };
    struct sl_lua_opts o = { .stop = &stop };
    pthread_t t;
    CHECK(pthread_create(&t, NULL, stop_later, &st) == 0);
    CHECK(run_src(&o, "while true do pcall(function() while true do end end) end", &err) ==
          SL_ECANCELLED);
    CHECK_STR(err.msg, "jobs/x.lua:1: stopped");
    pthread_join(t, NULL);
}

static int dump_writer(lua_State *L, const void *p, size_t len, void *ud)
{
    (void)L;
    return sl_buf_append(ud, p, len, NULL);
}

TEST(bytecode_refused)
{
    struct sl_err err = { 0 };
    struct sl_buf bc;
    sl_buf_init(&bc, 0);
    lua_State *host = luaL_newstate();
    CHECK(luaL_loadstring(host, "x = 1") == LUA_OK);
    CHECK(lua_dump(host, dump_writer, &bc, 1) == 0);
    lua_close(host);
    CHECK(bc.len > 4 && bc.data[0] == '\033');

    struct sl_lua *s = sl_lua_new(NULL, &err);
    CHECK(sl_lua_load(s, "jobs/bin.lua", bc.data, bc.len, &err) == SL_EPARSE);
    CHECK_STR(err.msg, "jobs/bin.lua: cannot load a precompiled chunk: job scripts must be text");
    CHECK(sl_lua_load(s, "jobs/bin.lua", "\033Lua", 4, &err) == SL_EPARSE);
    sl_lua_free(s);
    sl_buf_cleanup(&bc);
}

static void collect_print(void *ud, const char *line, size_t len)
{
    sl_buf_append(ud, line, len, NULL);
    sl_buf_putc(ud, '|', NULL);
}

TEST(print_goes_to_callback)
{
    struct sl_err err = { 0 };
    struct sl_buf out;
    sl_buf_init(&out, 0);
    struct sl_lua_opts o = { .print_fn = collect_print, .ud = &out };
    CHECK_OK(run_src(&o, "print('a', 1, nil, true)\nprint()\nprint(1.5)\n", &err), &err);
    CHECK_STR(out.data, "a\t1\tnil\ttrue||1.5|");
    sl_buf_cleanup(&out);
    /* no callback: prints are dropped */
    CHECK_OK(run_src(NULL, "print('dropped')", &err), &err);
}

static void add_lib(lua_State *L, void *ud)
{
    lua_newtable(L);
    lua_pushinteger(L, *(int *)ud);
    lua_setfield(L, -2, "answer");
    lua_setfield(L, -2, "sluice");
}

static void failing_lib(lua_State *L, void *ud)
{
    (void)ud;
    luaL_error(L, "lib broke");
}

TEST(open_libs_hook)
{
    struct sl_err err = { 0 };
    int answer = 42;
    struct sl_lua_opts o = { .open_libs = add_lib, .ud = &answer };
    CHECK_OK(run_src(&o, "assert(sluice.answer == 42)", &err), &err);
    o.open_libs = failing_lib;
    CHECK(sl_lua_new(&o, &err) == NULL);
    CHECK(err.code == SL_ESCRIPT);
    CHECKF(strncmp(err.msg, "create Lua sandbox: lib broke", 29) == 0, "%s", err.msg);
}

TEST(gc_metamethods_refused)
{
    /* finalizers run with hooks off, so one that loops could never be stopped */
    struct sl_err err = { 0 };
    CHECK(run_src(NULL, "x = setmetatable({}, {__gc = function() while true do end end})",
                  &err) == SL_ESCRIPT);
    CHECKF(strstr(err.msg, "__gc metamethods are not allowed") != NULL, "%s", err.msg);
    CHECK(run_src(NULL, "x = setmetatable({}, {__gc = true})", &err) == SL_ESCRIPT);
    /* __close runs with hooks on: cancelled, and close cannot hang either */
    struct sl_lua_opts o = { .timeout_ms = 20 };
    CHECK(run_src(&o,
                  "do local x <close> = setmetatable({}, {__close = function() "
                  "while true do end end}) end",
                  &err) == SL_ECANCELLED);
}

TEST(env_is_per_state)
{
    struct sl_err err = { 0 };
    CHECK_OK(run_src(NULL, "string.upper = nil; leaked = 1", &err), &err);
    CHECK_OK(run_src(NULL, "assert(leaked == nil and string.upper ~= nil)", &err), &err);
}

TEST(allocation_failures_are_clean)
{
    struct sl_err err = { 0 };
    const char *src = "function f() return {1, 2, 3} end\nlocal s = 'a' .. tostring(2)\n";
    int n_fail = 0;
    long n;
    for (n = 1; n < 20000; n++) {
        sl_alloc_fail_reset(n);
        struct sl_lua *s = sl_lua_new(NULL, &err);
        int rc = s ? sl_lua_load(s, "jobs/x.lua", src, strlen(src), &err) : err.code;
        sl_lua_free(s);
        sl_alloc_fail_reset(0);
        if (rc == SL_OK && s)
            break;
        CHECKF(rc == SL_ENOMEM, "n=%ld rc=%d %s", n, rc, err.msg);
        n_fail++;
    }
    sl_alloc_fail_reset(0);
    CHECK(n < 20000);
    CHECK(n_fail > 0);
}

int main(void)
{
    t_suite = "lua_sandbox/";
    RUN(forbidden_globals_are_nil);
    RUN(allowed_globals_work);
    RUN(syntax_error_has_chunk_and_line);
    RUN(runtime_error_has_message_and_traceback);
    RUN(long_traceback_is_kept_whole);
    RUN(call_global_args_results_and_missing);
    RUN(memory_cap_table_growth);
    RUN(memory_cap_pcall_and_too_small);
    RUN(deadline_cancels_loop);
    RUN(pcall_cannot_swallow_cancel);
    RUN(cancel_is_sticky_until_timeout_reset);
    RUN(stop_flag_from_another_thread);
    RUN(bytecode_refused);
    RUN(print_goes_to_callback);
    RUN(open_libs_hook);
    RUN(gc_metamethods_refused);
    RUN(env_is_per_state);
    RUN(allocation_failures_are_clean);
    TEST_EXIT();
}
