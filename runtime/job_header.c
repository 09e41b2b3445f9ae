/*
 * runtime/job_header.c - evaluates a job script's job{...} declaration (see
 * job_header.h). The sandbox, limits and error shapes come from lua_sandbox.c;
 * this file adds `job` and the reading-time `sluice` table and validates.
 *
 * job() validates as it is called, copying into the caller's struct at once,
 * so a Lua error (a longjmp) in the middle leaves every C allocation reachable
 * from *out. A validation failure is kept in the reader as well as raised, so
 * a script that wraps job{} in pcall still fails to load.
 */
#include "job_header.h"

#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "lua_sandbox.h"

struct reader {
    struct sl_job_header *out; /* borrowed from the caller */
    const char *chunk;         /* for messages */
    time_t now;                /* for today()/yesterday() */
    bool declared;             /* job{} was called */
    bool nomem;                /* a C allocation failed */
    struct sl_err cfg;         /* first SL_ECONFIG, code SL_OK if none */
};

/* ---- Errors raised from job() ---- */

/* Records "<chunk>:<line>: <fmt...>" as SL_ECONFIG (keeping the first) and raises it. */
static int cfg_fail(lua_State *L, struct reader *r, int line, const char *fmt, ...)
    SL_PRINTF(4, 5);
static int cfg_fail(lua_State *L, struct reader *r, int line, const char *fmt, ...)
{
    char why[384];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    if (r->cfg.code == SL_OK)
        sl_err_set(&r->cfg, SL_ECONFIG, "%s:%d: %s", r->chunk, line, why);
    lua_pushstring(L, r->cfg.msg);
    return lua_error(L);
}

static int nomem(lua_State *L, struct reader *r)
{
    r->nomem = true;
    return luaL_error(L, "out of memory");
}

/* ---- Value checks ---- */

static bool is_name(const char *s, size_t len)
{
    if (len == 0 || len > SL_JOB_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return false;
    }
    return true;
}

/* Integer value of the number at the top of the stack in [lo, hi], else raises. */
static lua_Integer field_int(lua_State *L, struct reader *r, int line, const char *key,
                             lua_Integer lo, lua_Integer hi)
{
    int ok = 0;
    lua_Integer v = lua_type(L, -1) == LUA_TNUMBER ? lua_tointegerx(L, -1, &ok) : 0;
    if (!ok || v < lo || v > hi)
        cfg_fail(L, r, line, "job{...}: %s must be a whole number from %lld to %lld", key,
                 (long long)lo, (long long)hi);
    return v;
}

static bool field_bool(lua_State *L, struct reader *r, int line, const char *key)
{
    if (lua_type(L, -1) != LUA_TBOOLEAN)
        cfg_fail(L, r, line, "job{...}: %s must be true or false, got a %s value", key,
                 luaL_typename(L, -1));
    return lua_toboolean(L, -1);
}

static double field_number(lua_State *L, struct reader *r, int line, const char *key)
{
    if (lua_type(L, -1) != LUA_TNUMBER)
        cfg_fail(L, r, line, "job{...}: %s must be a number, got a %s value", key,
                 luaL_typename(L, -1));
    return (double)lua_tonumber(L, -1);
}

/* The string at the top of the stack, owned copy; raises unless a string without NUL. */
static char *field_str(lua_State *L, struct reader *r, int line, const char *key)
{
    size_t len;
    if (lua_type(L, -1) != LUA_TSTRING)
        cfg_fail(L, r, line, "job{...}: %s must be a string, got a %s value", key,
                 luaL_typename(L, -1));
    const char *s = lua_tolstring(L, -1, &len);
    if (memchr(s, '\0', len))
        cfg_fail(L, r, line, "job{...}: %s must not contain NUL bytes", key);
    char *d = sl_strndup(s, len);
    if (!d)
        nomem(L, r);
    return d;
}

/* ---- Fields ---- */

static void set_name(lua_State *L, struct reader *r, int line)
{
    size_t len;
    if (lua_type(L, -1) != LUA_TSTRING)
        cfg_fail(L, r, line, "job{...}: name must be a string, got a %s value",
                 luaL_typename(L, -1));
    const char *s = lua_tolstring(L, -1, &len);
    if (!is_name(s, len))
        cfg_fail(L, r, line,
                 "job{...}: name \"%.64s\" must be 1 to %d letters, digits, '_', '.' or '-'", s,
                 SL_JOB_NAME_MAX);
    r->out->name = field_str(L, r, line, "name");
}

static void set_schedule(lua_State *L, struct reader *r, int line)
{
    r->out->schedule = field_str(L, r, line, "schedule");
}

static int cmp_arg(const void *a, const void *b)
{
    return strcmp(((const struct sl_job_header_arg *)a)->key,
                  ((const struct sl_job_header_arg *)b)->key);
}

/* args = { k = v, ... }: values become strings, as `--arg k=v` would give them. */
static void set_args(lua_State *L, struct reader *r, int line)
{
    struct sl_job_header *h = r->out;
    size_t n_alloc = 0;

    if (lua_type(L, -1) != LUA_TTABLE)
        cfg_fail(L, r, line, "job{...}: args must be a table, got a %s value",
                 luaL_typename(L, -1));
    int t = lua_gettop(L);
    luaL_checkstack(L, 4, NULL);
    lua_pushnil(L);
    while (lua_next(L, t)) { /* -> key, value */
        size_t key_len;
        if (lua_type(L, -2) != LUA_TSTRING)
            cfg_fail(L, r, line, "job{...}: args keys must be names, got a %s key",
                     luaL_typename(L, -2));
        const char *key = lua_tolstring(L, -2, &key_len);
        if (!is_name(key, key_len))
            cfg_fail(L, r, line,
                     "job{...}: args key \"%.64s\" must be 1 to %d letters, digits, '_', '.' "
                     "or '-'",
                     key, SL_JOB_NAME_MAX);
        int type = lua_type(L, -1);
        if (type != LUA_TSTRING && type != LUA_TNUMBER && type != LUA_TBOOLEAN)
            cfg_fail(L, r, line,
                     "job{...}: args.%s must be a string, number or boolean, got a %s value",
                     key, luaL_typename(L, -1));
        if (h->n_args == n_alloc) {
            size_t n = n_alloc ? n_alloc * 2 : 8;
            struct sl_job_header_arg *a = sl_realloc(h->args, n * sizeof *a);
            if (!a)
                nomem(L, r);
            h->args = a;
            n_alloc = n;
        }
        struct sl_job_header_arg *a = &h->args[h->n_args];
        a->value = NULL;
        a->key = sl_strndup(key, key_len);
        if (!a->key)
            nomem(L, r);
        h->n_args++;
        char what[80];
        snprintf(what, sizeof what, "args.%s", key);
        if (type == LUA_TBOOLEAN) {
            a->value = sl_strdup(lua_toboolean(L, -1) ? "true" : "false");
            if (!a->value)
                nomem(L, r);
        } else {
            luaL_tolstring(L, -1, NULL); /* -> a copy as string; numbers as tostring() */
            a->value = field_str(L, r, line, what);
            lua_pop(L, 1);
        }
        lua_pop(L, 1); /* value */
    }
    if (h->n_args > 1)
        qsort(h->args, h->n_args, sizeof *h->args, cmp_arg);
}

static void set_bookmark(lua_State *L, struct reader *r, int line)
{
    r->out->bookmark = field_bool(L, r, line, "bookmark");
}

static void set_allow_files(lua_State *L, struct reader *r, int line)
{
    r->out->allow_files = field_bool(L, r, line, "allow_files");
}

static void set_max_concurrency(lua_State *L, struct reader *r, int line)
{
    r->out->max_concurrency =
        (int)field_int(L, r, line, "max_concurrency", 1, SL_JOB_CONCURRENCY_MAX);
}

static void set_retries(lua_State *L, struct reader *r, int line)
{
    r->out->retries = (int)field_int(L, r, line, "retries", 0, SL_JOB_RETRIES_MAX);
}

static void set_timeout(lua_State *L, struct reader *r, int line)
{
    double s = field_number(L, r, line, "timeout");
    if (!(s >= 0.001 && s <= SL_JOB_TIMEOUT_MAX_S))
        cfg_fail(L, r, line, "job{...}: timeout must be from 0.001 to %d seconds",
                 SL_JOB_TIMEOUT_MAX_S);
    r->out->timeout_ms = (uint64_t)llround(s * 1000.0);
}

static void set_max_errors(lua_State *L, struct reader *r, int line)
{
    double v = field_number(L, r, line, "max_errors");
    if (!(v >= 0 && isfinite(v)) || (v >= 1 && v != floor(v)))
        cfg_fail(L, r, line,
                 "job{...}: max_errors must be a row count (0, 1, 2, ...) or a fraction "
                 "between 0 and 1");
    r->out->max_errors = v;
}

static const struct {
    const char *key;
    void (*set)(lua_State *L, struct reader *r, int line);
} fields[] = {
    { "name", set_name },
    { "schedule", set_schedule },
    { "args", set_args },
    { "bookmark", set_bookmark },
    { "max_concurrency", set_max_concurrency },
    { "timeout", set_timeout },
    { "retries", set_retries },
    { "max_errors", set_max_errors },
    { "allow_files", set_allow_files },
};

/* ---- Lua functions of the reading sandbox ---- */

/* job{...}: upvalue 1 is the reader. */
static int l_job(lua_State *L)
{
    struct reader *r = lua_touserdata(L, lua_upvalueindex(1));
    lua_Debug ar;
    int line = 0;

    /* the nearest Lua caller: pcall(job, {...}) puts a C frame in between */
    for (int level = 1; line <= 0 && level < 16 && lua_getstack(L, level, &ar); level++) {
        if (lua_getinfo(L, "l", &ar))
            line = ar.currentline;
    }
    if (line < 0)
        line = 0;
    if (r->declared)
        return cfg_fail(L, r, line, "job{...} declared twice (first at line %d)", r->out->line);
    r->declared = true;
    r->out->line = line;
    if (lua_type(L, 1) != LUA_TTABLE)
        return cfg_fail(L, r, line, "job{...} expects a table, got a %s value",
                        luaL_typename(L, 1));
    lua_settop(L, 1);
    lua_pushnil(L);
    while (lua_next(L, 1)) { /* -> key, value */
        if (lua_type(L, -2) != LUA_TSTRING)
            return cfg_fail(L, r, line, "job{...}: keys must be names, got a %s key",
                            luaL_typename(L, -2));
        const char *key = lua_tostring(L, -2);
        size_t i;
        for (i = 0; i < SL_ARRAY_LEN(fields); i++) {
            if (strcmp(key, fields[i].key) == 0)
                break;
        }
        if (i == SL_ARRAY_LEN(fields))
            return cfg_fail(L, r, line, "job{...}: unknown key \"%.64s\"", key);
        fields[i].set(L, r, line);
        lua_settop(L, 2); /* key */
    }
    if (!r->out->name)
        return cfg_fail(L, r, line, "job{...}: name is required");
    return 0;
}

int sl_job_day(time_t now, int64_t days, char *out, size_t out_len)
{
    time_t t = now + (time_t)days * 86400;
    struct tm tm;

    if (!gmtime_r(&t, &tm))
        return SL_EPARSE;
    snprintf(out, out_len, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    return SL_OK;
}

/* Today's date in UTC shifted by upvalue 2 days, "YYYY-MM-DD". */
static int l_day(lua_State *L)
{
    struct reader *r = lua_touserdata(L, lua_upvalueindex(1));
    char day[32];

    if (sl_job_day(r->now, lua_tointeger(L, lua_upvalueindex(2)), day, sizeof day) != SL_OK)
        return luaL_error(L, "cannot convert the time to a date");
    lua_pushstring(L, day);
    return 1;
}

/* open_libs hook: _ENV at the top. */
static void open_reader_libs(lua_State *L, void *ud)
{
    lua_pushlightuserdata(L, ud);
    lua_pushcclosure(L, l_job, 1);
    lua_setfield(L, -2, "job");

    lua_newtable(L); /* -> sluice */
    lua_pushlightuserdata(L, ud);
    lua_pushinteger(L, 0);
    lua_pushcclosure(L, l_day, 2);
    lua_setfield(L, -2, "today");
    lua_pushlightuserdata(L, ud);
    lua_pushinteger(L, -1);
    lua_pushcclosure(L, l_day, 2);
    lua_setfield(L, -2, "yesterday");
    lua_setfield(L, -2, "sluice");
}

/* ---- Public ---- */

int sl_job_header_read_opts(const char *chunkname, const char *src, size_t len,
                            const struct sl_job_header_opts *opts, struct sl_job_header *out,
                            struct sl_err *err)
{
    struct reader r = { 0 };
    struct sl_lua *s = NULL;
    int rc;

    memset(out, 0, sizeof *out);
    out->max_concurrency = 1;
    r.out = out;
    r.chunk = chunkname[0] == '@' || chunkname[0] == '=' ? chunkname + 1 : chunkname;
    r.now = opts && opts->now ? opts->now : time(NULL);

    struct sl_lua_opts lo = {
        .memory_cap = opts && opts->memory_cap ? opts->memory_cap : SL_JOB_HEADER_MEMORY,
        .timeout_ms = opts && opts->timeout_ms ? opts->timeout_ms : SL_JOB_HEADER_TIMEOUT_MS,
        .open_libs = open_reader_libs,
        .ud = &r,
    };
    s = sl_lua_new(&lo, err);
    if (!s) {
        rc = err ? (int)err->code : SL_ENOMEM;
        goto fail;
    }
    rc = sl_lua_load(s, chunkname, src, len, err);
    if (r.nomem) {
        rc = sl_err_set(err, SL_ENOMEM, "%s: out of memory", r.chunk);
    } else if (r.cfg.code != SL_OK) {
        rc = sl_err_set(err, r.cfg.code, "%s", r.cfg.msg);
    } else if (rc == SL_OK && !r.declared) {
        rc = sl_err_set(err, SL_ECONFIG, "%s: no job{...} declaration", r.chunk);
    }
    if (rc != SL_OK)
        goto fail;
    sl_lua_free(s);
    return SL_OK;
fail:
    sl_lua_free(s);
    sl_job_header_cleanup(out);
    return rc;
}

int sl_job_header_read(const char *chunkname, const char *src, size_t len,
                       struct sl_job_header *out, struct sl_err *err)
{
    return sl_job_header_read_opts(chunkname, src, len, NULL, out, err);
}

void sl_job_header_cleanup(struct sl_job_header *h)
{
    if (!h)
        return;
    sl_free(h->name);
    sl_free(h->schedule);
    for (size_t i = 0; i < h->n_args; i++) {
        sl_free(h->args[i].key);
        sl_free(h->args[i].value);
    }
    sl_free(h->args);
    memset(h, 0, sizeof *h);
}

const char *sl_job_header_arg(const struct sl_job_header *h, const char *key)
{
    for (size_t i = 0; i < h->n_args; i++) {
        if (strcmp(h->args[i].key, key) == 0)
            return h->args[i].value;
    }
    return NULL;
}
