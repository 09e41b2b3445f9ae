/*
 * runtime/lua_sluice.c - the `sluice` Lua module (see lua_sluice.h,
 * docs/lua-api.md): constructors and Dataset methods that record plan nodes,
 * aggregation values, sluice.null, the "sluice.Row" handle, and the drivers
 * that run main(ctx). The plan's own checks are plan.c; the sandbox is
 * lua_sandbox.c.
 *
 * Longjmp safety (STYLE §9). A method fills a node that the builder owns
 * (b->pending) while it reads its Lua arguments, so an argument error raised
 * halfway (a longjmp) leaves every C allocation reachable from the builder;
 * the next method or sl_plan_builder_free() releases it. Only then does
 * sl_plan_add_take() move the node into the plan. Function slots are stored
 * the same way: the ref array is grown before a ref is taken.
 *
 * Determinism. Everything a node records must come out the same in every
 * state that runs the script, so Lua tables iterated with lua_next (whose
 * order depends on a per-state hash seed) are sorted: options and rename
 * pairs by key, aggregations by output name.
 */
#include "lua_sluice.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "job_header.h"
#include "lua_sandbox.h"

#define MT_DATASET      "sluice.Dataset"
#define MT_GROUPED      "sluice.Grouped"
#define MT_AGG          "sluice.Agg"
#define MT_NULL         "sluice.Null"
#define MT_ROW          "sluice.Row"
#define REG_NULL        "sluice.null" /* registry: the sluice.null userdata */
#define REG_ROW_METHODS "sluice.Row.methods"

#define HASH_DEPTH     2   /* table/function levels an upvalue fingerprint looks into */
#define HASH_TABLE_MAX 256 /* entries hashed per table; a bigger one hashes its size only */

struct sl_plan_builder {
    struct sl_plan *plan;         /* owned until taken by a driver */
    struct sl_plan_node *pending; /* owned: node being read from Lua arguments */
    int *fn_refs;                 /* owned: slot -> registry ref in the state */
    size_t cap_fns;
    bool in_main;                    /* main(ctx) is running: datasets may be built */
    bool frozen;                     /* main returned: no more nodes */
    bool main_missing;               /* the script defines no main */
    bool nomem;                      /* a C allocation failed while main ran */
    time_t now;                      /* for today()/yesterday() */
    const struct sl_plan_args *args; /* borrowed while main runs */
    void (*log_fn)(void *ud, const char *line, size_t line_len);
    void *log_ud;
};

struct ldataset {
    struct sl_plan_builder *b; /* borrowed: outlives the state */
    int node;
};

struct lgrouped { /* user value 1: the keys, a Lua list of strings */
    struct sl_plan_builder *b;
    int node;
};

struct lagg { /* user value 1: the column string, or nil */
    enum sl_agg_kind kind;
};

struct lrow { /* user value 1: columns added by the script, or nil */
    struct sl_batch *b;
    uint32_t i;
    uint32_t gen;
};

/* ---- Builder ---- */

struct sl_plan_builder *sl_plan_builder_new(time_t now)
{
    struct sl_plan_builder *b = sl_calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->plan = sl_plan_new();
    if (!b->plan) {
        sl_free(b);
        return NULL;
    }
    b->now = now ? now : time(NULL);
    return b;
}

void sl_plan_builder_free(struct sl_plan_builder *b)
{
    if (!b)
        return;
    if (b->pending) {
        sl_plan_node_cleanup(b->pending);
        sl_free(b->pending);
    }
    sl_plan_free(b->plan);
    sl_free(b->fn_refs);
    sl_free(b);
}

const struct sl_plan *sl_plan_builder_plan(const struct sl_plan_builder *b)
{
    return b->plan;
}

static int raise_nomem(lua_State *L, struct sl_plan_builder *b)
{
    b->nomem = true;
    return luaL_error(L, "out of memory");
}

/* Line of the Lua code calling the running C function, 0 if none. */
static int caller_line(lua_State *L)
{
    lua_Debug ar;
    if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "l", &ar) && ar.currentline > 0)
        return ar.currentline;
    return 0;
}

/* Starts a node of kind reading from input (-1 for sources); raises outside main. */
static struct sl_plan_node *node_begin(lua_State *L, struct sl_plan_builder *b,
                                       enum sl_plan_kind kind, int input)
{
    if (b->frozen)
        luaL_error(L, "datasets cannot be changed while rows are processed: build them in "
                      "main(ctx)");
    if (!b->in_main)
        luaL_error(L, "datasets can only be built inside main(ctx)");
    if (!b->pending) {
        b->pending = sl_calloc(1, sizeof *b->pending);
        if (!b->pending)
            raise_nomem(L, b);
    } else {
        sl_plan_node_cleanup(b->pending); /* left over from a raised error */
    }
    struct sl_plan_node *n = b->pending;
    n->kind = kind;
    n->line = caller_line(L);
    n->input = input;
    n->right = -1;
    n->fn.slot = -1;
    n->combine.slot = -1;
    n->reduce.slot = -1;
    return n;
}

/* Moves the pending node into the plan; plan errors raise as an argument
 * error of arg. Returns the node's index. */
static int node_commit(lua_State *L, struct sl_plan_builder *b, int arg)
{
    struct sl_plan_node n = *b->pending;
    struct sl_err e = {0};
    int idx = -1;

    memset(b->pending, 0, sizeof *b->pending);
    if (sl_plan_add_take(b->plan, &n, &idx, &e) != SL_OK) {
        if (e.code == SL_ENOMEM)
            return raise_nomem(L, b);
        return luaL_argerror(L, arg, e.msg); /* the message is copied before the jump */
    }
    return idx;
}

static void push_dataset(lua_State *L, struct sl_plan_builder *b, int node) /* -> ds */
{
    struct ldataset *d = lua_newuserdatauv(L, sizeof *d, 0);
    d->b = b;
    d->node = node;
    luaL_setmetatable(L, MT_DATASET);
}

/* ---- Reading arguments ---- */

/* Copy of the string at idx (which must be a string); raises on NUL or OOM. */
static char *dup_str(lua_State *L, struct sl_plan_builder *b, int arg, int idx, const char *what)
{
    size_t len;
    const char *s = lua_tolstring(L, idx, &len);
    if (memchr(s, '\0', len))
        luaL_argerror(L, arg, lua_pushfstring(L, "%s must not contain NUL bytes", what));
    char *d = sl_strndup(s, len);
    if (!d)
        raise_nomem(L, b);
    return d;
}

/* Copy of a non-empty name at idx; raises naming what otherwise. */
static char *dup_name(lua_State *L, struct sl_plan_builder *b, int arg, int idx, const char *what)
{
    if (lua_type(L, idx) != LUA_TSTRING)
        luaL_argerror(
            L, arg, lua_pushfstring(L, "%s must be a string, got %s", what, luaL_typename(L, idx)));
    if (lua_rawlen(L, idx) == 0)
        luaL_argerror(L, arg, lua_pushfstring(L, "%s must not be empty", what));
    return dup_str(L, b, arg, idx, what);
}

/* Raises (naming argument arg) unless every key of the table at idx is in allowed. */
static void check_keys(lua_State *L, int arg, int idx, const char *const *allowed)
{
    idx = lua_absindex(L, idx);
    luaL_checkstack(L, 3, NULL);
    lua_pushnil(L);
    while (lua_next(L, idx)) { /* -> key, value */
        bool ok = false;
        if (lua_type(L, -2) == LUA_TSTRING) {
            const char *k = lua_tostring(L, -2);
            for (const char *const *a = allowed; *a && !ok; a++)
                ok = strcmp(k, *a) == 0;
        }
        if (!ok) {
            luaL_Buffer lb;
            luaL_buffinit(L, &lb);
            for (const char *const *a = allowed; *a; a++) {
                if (a != allowed)
                    luaL_addstring(&lb, ", ");
                luaL_addstring(&lb, *a);
            }
            luaL_pushresult(&lb); /* -> "k1, k2" */
            if (lua_type(L, -3) == LUA_TSTRING)
                luaL_argerror(L, arg,
                              lua_pushfstring(L, "unknown key \"%s\" (known: %s)",
                                              lua_tostring(L, -3), lua_tostring(L, -1)));
            luaL_argerror(L, arg,
                          lua_pushfstring(L, "keys must be names, got a %s key (known: %s)",
                                          luaL_typename(L, -3), lua_tostring(L, -1)));
        }
        lua_pop(L, 1);
    }
}

/* Length of a list at idx; raises when it has other keys (a map where a list was meant). */
static size_t list_len(lua_State *L, int arg, int idx, const char *what)
{
    size_t n = lua_rawlen(L, idx), count = 0;
    idx = lua_absindex(L, idx);
    luaL_checkstack(L, 2, NULL);
    lua_pushnil(L);
    while (lua_next(L, idx)) { /* -> key, value */
        lua_pop(L, 1);
        count++;
    }
    if (count != n)
        luaL_argerror(L, arg, lua_pushfstring(L, "%s must be a list {\"a\", \"b\", ...}", what));
    return n;
}

/* Column names given as one list argument ({"a", "b"}) or as strings at
 * from..top; stored in *pv and *pn (owned by the pending node). */
static void get_names(lua_State *L, struct sl_plan_builder *b, int from, char ***pv, size_t *pn,
                      const char *what)
{
    int top = lua_gettop(L);
    bool list = top == from && lua_type(L, from) == LUA_TTABLE;
    size_t n = list ? list_len(L, from, from, what) : (size_t)(top >= from ? top - from + 1 : 0);

    *pv = sl_calloc(n ? n : 1, sizeof **pv);
    if (!*pv)
        raise_nomem(L, b);
    luaL_checkstack(L, 2, NULL);
    for (size_t i = 0; i < n; i++) {
        int arg = list ? from : from + (int)i;
        if (list)
            lua_rawgeti(L, from, (lua_Integer)i + 1); /* -> name */
        else
            lua_pushvalue(L, arg);
        (*pv)[i] = dup_name(L, b, arg, -1, what);
        (*pn)++;
        lua_pop(L, 1);
    }
}

/* Optional string field key of the table at idx, copied; NULL when absent. */
static char *opt_field(lua_State *L, struct sl_plan_builder *b, int arg, int idx, const char *key)
{
    char *s = NULL;
    if (lua_getfield(L, idx, key) != LUA_TNIL) /* -> value */
        s = dup_name(L, b, arg, -1, key);
    lua_pop(L, 1);
    return s;
}

static char *req_field(lua_State *L, struct sl_plan_builder *b, int arg, int idx, const char *key,
                       const char *hint)
{
    char *s = opt_field(L, b, arg, idx, key);
    if (!s)
        luaL_argerror(L, arg, lua_pushfstring(L, "\"%s\" is required (%s)", key, hint));
    return s;
}

static int cmp_kv(const void *x, const void *y)
{
    return strcmp(((const struct sl_plan_kv *)x)->key, ((const struct sl_plan_kv *)y)->key);
}

/* A map {k = v} at idx as sorted pairs (values: strings, numbers, booleans as text). */
static void get_map(lua_State *L, struct sl_plan_builder *b, int arg, int idx, const char *what,
                    bool names_only, struct sl_plan_kv **pv, size_t *pn)
{
    size_t count = 0;
    idx = lua_absindex(L, idx);
    luaL_checkstack(L, 4, NULL);
    lua_pushnil(L);
    while (lua_next(L, idx)) { /* -> key, value */
        lua_pop(L, 1);
        count++;
    }
    *pv = sl_calloc(count ? count : 1, sizeof **pv);
    if (!*pv)
        raise_nomem(L, b);
    lua_pushnil(L);
    while (lua_next(L, idx)) { /* -> key, value */
        if (lua_type(L, -2) != LUA_TSTRING)
            luaL_argerror(L, arg,
                          lua_pushfstring(L, "%s: keys must be names, got a %s key", what,
                                          luaL_typename(L, -2)));
        int t = lua_type(L, -1);
        if (names_only ? t != LUA_TSTRING
                       : (t != LUA_TSTRING && t != LUA_TNUMBER && t != LUA_TBOOLEAN))
            luaL_argerror(L, arg,
                          lua_pushfstring(L, "%s.%s must be a %s, got %s", what,
                                          lua_tostring(L, -2),
                                          names_only ? "string"
                                                     : "string, number or "
                                                       "boolean",
                                          luaL_typename(L, -1)));
        struct sl_plan_kv *kv = &(*pv)[*pn];
        kv->key = dup_str(L, b, arg, -2, what);
        (*pn)++;
        luaL_tolstring(L, -1, NULL); /* -> value as text */
        kv->value = names_only ? dup_name(L, b, arg, -1, what) : dup_str(L, b, arg, -1, what);
        lua_pop(L, 2); /* text, value */
    }
    qsort(*pv, *pn, sizeof **pv, cmp_kv);
}

/* ---- Function slots and fingerprints ---- */

static void add_fn(lua_State *L, struct sl_plan_builder *b, int arg, struct sl_plan_fn *f,
                   const char *what)
{
    if (lua_type(L, arg) != LUA_TFUNCTION)
        luaL_argerror(
            L, arg,
            lua_pushfstring(L, "%s must be a function, got %s", what, luaL_typename(L, arg)));
    int slot = b->plan->n_fns;
    if ((size_t)slot == b->cap_fns) {
        size_t cap = b->cap_fns ? b->cap_fns * 2 : 16;
        int *v = sl_realloc(b->fn_refs, cap * sizeof *v);
        if (!v)
            raise_nomem(L, b);
        b->fn_refs = v;
        b->cap_fns = cap;
    }
    lua_Debug ar;
    lua_pushvalue(L, arg);
    lua_getinfo(L, ">S", &ar); /* pops the function */
    lua_pushvalue(L, arg);
    b->fn_refs[slot] = luaL_ref(L, LUA_REGISTRYINDEX); /* pops it; may raise (memory) */
    b->plan->n_fns = slot + 1;
    f->slot = slot;
    f->line = ar.linedefined > 0 ? ar.linedefined : 0;
}

static uint64_t mix(uint64_t h, uint64_t v)
{
    uint64_t x = h ^ (v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2));
    x ^= x >> 31;
    x *= 0xbf58476d1ce4e5b9ull;
    return x ^ (x >> 29);
}

static uint64_t hash_bytes(const char *p, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
    return h;
}

static uint64_t hash_value(lua_State *L, int idx, int depth);

/* Upvalues of the function at idx except _ENV, in order. */
static uint64_t hash_upvalues(lua_State *L, int idx, int depth)
{
    uint64_t h = 0x51;
    idx = lua_absindex(L, idx);
    const char *name;
    for (int i = 1; (name = lua_getupvalue(L, idx, i)) != NULL; i++) { /* -> upvalue */
        if (strcmp(name, "_ENV") != 0)
            h = mix(mix(h, hash_bytes(name, strlen(name))), hash_value(L, -1, depth));
        lua_pop(L, 1);
    }
    return h;
}

/* A hash of the value at idx that is the same in every state holding an
 * equal value: scalars by value, tables by their entries combined with a
 * commutative sum (lua_next order differs between states), functions by
 * definition line and upvalues, Datasets by node. Never allocates. */
static uint64_t hash_value(lua_State *L, int idx, int depth)
{
    idx = lua_absindex(L, idx);
    if (!lua_checkstack(L, 4))
        return 0x5e;
    switch (lua_type(L, idx)) {
    case LUA_TNIL: return 0x11;
    case LUA_TBOOLEAN: return mix(0x12, (uint64_t)lua_toboolean(L, idx));
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx))
            return mix(0x13, (uint64_t)lua_tointeger(L, idx));
        else {
            double d = lua_tonumber(L, idx);
            uint64_t bits;
            memcpy(&bits, &d, sizeof bits);
            return mix(0x14, bits);
        }
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len); /* a string: no conversion */
        return mix(0x15, hash_bytes(s, len));
    }
    case LUA_TTABLE: {
        uint64_t h = mix(0x16, (uint64_t)lua_rawlen(L, idx));
        if (depth >= HASH_DEPTH)
            return h;
        size_t count = 0;
        lua_pushnil(L);
        while (lua_next(L, idx)) { /* -> key, value */
            lua_pop(L, 1);
            count++;
        }
        h = mix(h, count);
        if (count > HASH_TABLE_MAX)
            return h;
        uint64_t sum = 0;
        lua_pushnil(L);
        while (lua_next(L, idx)) { /* -> key, value */
            sum += mix(hash_value(L, -2, depth + 1), hash_value(L, -1, depth + 1));
            lua_pop(L, 1);
        }
        return mix(h, sum);
    }
    case LUA_TFUNCTION: {
        lua_Debug ar;
        lua_pushvalue(L, idx);
        lua_getinfo(L, ">S", &ar);
        uint64_t h = mix(0x17, (uint64_t)(ar.linedefined + 1));
        return depth >= HASH_DEPTH ? h : mix(h, hash_upvalues(L, idx, depth + 1));
    }
    case LUA_TUSERDATA: {
        struct ldataset *d = luaL_testudata(L, idx, MT_DATASET);
        if (d)
            return mix(0x18, (uint64_t)d->node);
        return luaL_testudata(L, idx, MT_NULL) ? 0x19 : 0x1a;
    }
    default: return mix(0x1b, (uint64_t)lua_type(L, idx));
    }
}

static void fingerprint(lua_State *L, struct sl_plan_builder *b, struct sl_plan_fn *f)
{
    if (f->slot < 0)
        return;
    lua_rawgeti(L, LUA_REGISTRYINDEX, b->fn_refs[f->slot]); /* -> fn */
    f->fingerprint = hash_upvalues(L, -1, 0);
    lua_pop(L, 1);
}

/* ---- sluice.* constructors ---- */

static struct sl_plan_builder *up_builder(lua_State *L)
{
    return lua_touserdata(L, lua_upvalueindex(1));
}

static int l_from_path(lua_State *L) /* sluice.from_path{...} -> ds */
{
    static const char *const keys[] = {"uri", "format", "options", "schema", NULL};
    struct sl_plan_builder *b = up_builder(L);

    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    struct sl_plan_node *n = node_begin(L, b, SL_PLAN_SOURCE_PATH, -1);
    check_keys(L, 1, 1, keys);
    n->uri = req_field(L, b, 1, 1, "uri", "a path or an s3:// URI");
    n->format = req_field(L, b, 1, 1, "format", "\"csv\", \"tsv\", \"json\" or \"jsonl\"");
    int t = lua_getfield(L, 1, "options"); /* -> options */
    if (t == LUA_TTABLE)
        get_map(L, b, 1, 2, "options", false, &n->options, &n->n_options);
    else if (t != LUA_TNIL)
        luaL_argerror(L, 1,
                      lua_pushfstring(L, "options must be a table, got %s", luaL_typename(L, 2)));
    lua_pop(L, 1);
    t = lua_getfield(L, 1, "schema"); /* -> schema */
    if (t == LUA_TTABLE) {
        size_t len = list_len(L, 1, 2, "schema (a list of {name, type} pairs: order matters)");
        n->schema = sl_calloc(len ? len : 1, sizeof *n->schema);
        if (!n->schema)
            raise_nomem(L, b);
        for (size_t i = 0; i < len; i++) {
            if (lua_rawgeti(L, 2, (lua_Integer)i + 1) != LUA_TTABLE) /* -> pair */
                luaL_argerror(
                    L, 1, lua_pushfstring(L, "schema[%d] must be a {name, type} pair", (int)i + 1));
            struct sl_plan_kv *kv = &n->schema[n->n_schema];
            lua_rawgeti(L, 3, 1); /* -> name */
            kv->key = dup_name(L, b, 1, -1, "a schema column name");
            n->n_schema++;
            lua_rawgeti(L, 3, 2); /* -> type */
            kv->value = dup_name(L, b, 1, -1, "a schema column type");
            lua_pop(L, 3);
        }
    } else if (t != LUA_TNIL) {
        luaL_argerror(L, 1,
                      lua_pushfstring(L,
                                      "schema must be a list of {name, type} pairs, "
                                      "got %s",
                                      luaL_typename(L, 2)));
    }
    lua_pop(L, 1);
    push_dataset(L, b, node_commit(L, b, 1));
    return 1;
}

static int l_from_catalog(lua_State *L) /* sluice.from_catalog{...} -> ds */
{
    static const char *const keys[] = {"database", "table", "push_down_predicate", NULL};
    struct sl_plan_builder *b = up_builder(L);

    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    struct sl_plan_node *n = node_begin(L, b, SL_PLAN_SOURCE_CATALOG, -1);
    check_keys(L, 1, 1, keys);
    n->database = req_field(L, b, 1, 1, "database", "a catalog database name");
    n->table = req_field(L, b, 1, 1, "table", "a table of that database");
    n->predicate = opt_field(L, b, 1, 1, "push_down_predicate");
    push_dataset(L, b, node_commit(L, b, 1));
    return 1;
}

/* sluice.count([col]), sluice.sum(col), ...: upvalue 1 is the kind. -> agg */
static int l_agg_new(lua_State *L)
{
    enum sl_agg_kind kind = (enum sl_agg_kind)lua_tointeger(L, lua_upvalueindex(1));
    bool optional = kind == SL_AGG_COUNT;

    if (!(optional && lua_isnoneornil(L, 1))) {
        if (lua_type(L, 1) != LUA_TSTRING)
            luaL_argerror(L, 1,
                          lua_pushfstring(L, "column name expected, got %s", luaL_typename(L, 1)));
        if (lua_rawlen(L, 1) == 0)
            luaL_argerror(L, 1, "the column name must not be empty");
    }
    lua_settop(L, 1);
    struct lagg *a = lua_newuserdatauv(L, sizeof *a, 1); /* -> agg */
    a->kind = kind;
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, -2, 1);
    luaL_setmetatable(L, MT_AGG);
    return 1;
}

static int lagg_tostring(lua_State *L)
{
    struct lagg *a = luaL_checkudata(L, 1, MT_AGG);
    lua_getiuservalue(L, 1, 1); /* -> column or nil */
    lua_pushfstring(L, "sluice.%s(%s)", sl_agg_name(a->kind),
                    lua_isstring(L, -1) ? lua_tostring(L, -1) : "");
    return 1;
}

/* sluice.mapreduce{input, map, combine, reduce, partitions, columns, output} -> ds */
static int write_node(lua_State *L, struct sl_plan_builder *b, int input, int arg, int spec);

static int l_mapreduce(lua_State *L)
{
    static const char *const keys[] = {"input",      "map",     "combine", "reduce",
                                       "partitions", "columns", "output",  NULL};
    struct sl_plan_builder *b = up_builder(L);

    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    check_keys(L, 1, 1, keys);
    lua_getfield(L, 1, "input"); /* 2 */
    struct ldataset *in = luaL_testudata(L, 2, MT_DATASET);
    if (!in)
        luaL_argerror(
            L, 1, lua_pushfstring(L, "\"input\" must be a dataset, got %s", luaL_typename(L, 2)));
    struct sl_plan_node *n = node_begin(L, b, SL_PLAN_MAPREDUCE, in->node);
    lua_getfield(L, 1, "map");     /* 3 */
    lua_getfield(L, 1, "combine"); /* 4 */
    lua_getfield(L, 1, "reduce");  /* 5 */
    if (lua_isnil(L, 3))
        luaL_argerror(L, 1, "\"map\" is required: function(row, emit) ... emit(key, value) end");
    if (lua_isnil(L, 5))
        luaL_argerror(L, 1, "\"reduce\" is required: function(key, values, emit) ... end");
    add_fn(L, b, 3, &n->fn, "map");
    if (!lua_isnil(L, 4))
        add_fn(L, b, 4, &n->combine, "combine");
    add_fn(L, b, 5, &n->reduce, "reduce");
    if (lua_getfield(L, 1, "partitions") != LUA_TNIL) { /* 6 */
        int ok = 0;
        lua_Integer p = lua_tointegerx(L, 6, &ok);
        if (!ok || p < 1 || p > SL_PLAN_MAX_PARTITIONS)
            luaL_argerror(L, 1,
                          lua_pushfstring(L,
                                          "\"partitions\" must be a whole number from "
                                          "1 to %d",
                                          SL_PLAN_MAX_PARTITIONS));
        n->partitions = (int)p;
    }
    if (lua_getfield(L, 1, "columns") != LUA_TNIL) { /* 7 */
        if (lua_type(L, 7) != LUA_TTABLE || list_len(L, 1, 7, "columns") != 2)
            luaL_argerror(L, 1, "\"columns\" must name the two output columns {key, value}");
        n->columns = sl_calloc(2, sizeof *n->columns);
        if (!n->columns)
            raise_nomem(L, b);
        for (int i = 0; i < 2; i++) {
            lua_rawgeti(L, 7, i + 1);
            n->columns[i] = dup_name(L, b, 1, -1, "a column name");
            n->n_columns++;
            lua_pop(L, 1);
        }
    } else {
        n->columns = sl_calloc(2, sizeof *n->columns);
        if (!n->columns)
            raise_nomem(L, b);
        n->columns[0] = sl_strdup("key");
        n->n_columns += n->columns[0] != NULL;
        n->columns[1] = n->columns[0] ? sl_strdup("value") : NULL;
        n->n_columns += n->columns[1] != NULL;
        if (n->n_columns != 2)
            raise_nomem(L, b);
    }
    int node = node_commit(L, b, 1);
    if (lua_getfield(L, 1, "output") != LUA_TNIL) /* 8: a URI or a write{...} table */
        write_node(L, b, node, 1, 8);
    push_dataset(L, b, node);
    return 1;
}

static int l_log(lua_State *L) /* sluice.log(...): upvalue 1 is the sandbox print */
{
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 0);
    return 0;
}

static int l_day(lua_State *L) /* upvalue 1 builder, 2 day offset -> "YYYY-MM-DD" */
{
    struct sl_plan_builder *b = up_builder(L);
    char day[32];

    if (sl_job_day(b->now, lua_tointeger(L, lua_upvalueindex(2)), day, sizeof day) != SL_OK)
        return luaL_error(L, "cannot convert the time to a date");
    lua_pushstring(L, day);
    return 1;
}

static int l_job(lua_State *L) /* job{...}: read by job_header.c; a no-op here */
{
    luaL_checktype(L, 1, LUA_TTABLE);
    return 0;
}

/* ---- Dataset methods ---- */

static struct ldataset *check_ds(lua_State *L, int idx)
{
    return luaL_checkudata(L, idx, MT_DATASET);
}

static int lds_names(lua_State *L, enum sl_plan_kind kind, bool need_one) /* -> ds */
{
    struct ldataset *d = check_ds(L, 1);
    struct sl_plan_node *n = node_begin(L, d->b, kind, d->node);
    if (need_one && lua_gettop(L) < 2)
        luaL_argerror(L, 2, "column names expected (\"a\", \"b\" or {\"a\", \"b\"})");
    get_names(L, d->b, 2, &n->columns, &n->n_columns, "a column name");
    push_dataset(L, d->b, node_commit(L, d->b, 2));
    return 1;
}

static int lds_select(lua_State *L)
{
    return lds_names(L, SL_PLAN_SELECT, true);
}

static int lds_drop(lua_State *L)
{
    return lds_names(L, SL_PLAN_DROP, true);
}

static int lds_distinct(lua_State *L)
{
    return lds_names(L, SL_PLAN_DISTINCT, false);
}

static int lds_fn(lua_State *L, enum sl_plan_kind kind) /* ds:filter(fn) -> ds */
{
    struct ldataset *d = check_ds(L, 1);
    lua_settop(L, 2);
    struct sl_plan_node *n = node_begin(L, d->b, kind, d->node);
    add_fn(L, d->b, 2, &n->fn, "the row function");
    push_dataset(L, d->b, node_commit(L, d->b, 2));
    return 1;
}

static int lds_filter(lua_State *L)
{
    return lds_fn(L, SL_PLAN_FILTER);
}

static int lds_map(lua_State *L)
{
    return lds_fn(L, SL_PLAN_MAP);
}

static int lds_flat_map(lua_State *L)
{
    return lds_fn(L, SL_PLAN_FLAT_MAP);
}

/* ds:rename{old = "new", ...} or ds:rename("old", "new") -> ds */
static int lds_rename(lua_State *L)
{
    struct ldataset *d = check_ds(L, 1);
    struct sl_plan_node *n = node_begin(L, d->b, SL_PLAN_RENAME, d->node);

    if (lua_gettop(L) == 2 && lua_type(L, 2) == LUA_TTABLE) {
        get_map(L, d->b, 2, 2, "rename", true, &n->pairs, &n->n_pairs);
    } else if (lua_gettop(L) == 3) {
        n->pairs = sl_calloc(1, sizeof *n->pairs);
        if (!n->pairs)
            raise_nomem(L, d->b);
        n->pairs[0].key = dup_name(L, d->b, 2, 2, "the old name");
        n->n_pairs = 1;
        n->pairs[0].value = dup_name(L, d->b, 3, 3, "the new name");
    } else {
        luaL_argerror(L, 2, "expects {old = \"new\", ...} or (\"old\", \"new\")");
    }
    push_dataset(L, d->b, node_commit(L, d->b, 2));
    return 1;
}

/* ds:apply_mapping{ {"src", "target", "type"}, ... } (or Glue's 4-tuples
 * {"src", "src type", "target", "type"}) -> ds */
static int lds_apply_mapping(lua_State *L)
{
    struct ldataset *d = check_ds(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    struct sl_plan_node *n = node_begin(L, d->b, SL_PLAN_APPLY_MAPPING, d->node);
    size_t len = list_len(L, 2, 2, "mappings");

    n->mappings = sl_calloc(len ? len : 1, sizeof *n->mappings);
    if (!n->mappings)
        raise_nomem(L, d->b);
    for (size_t i = 0; i < len; i++) {
        if (lua_rawgeti(L, 2, (lua_Integer)i + 1) != LUA_TTABLE) /* -> mapping */
            luaL_argerror(L, 2,
                          lua_pushfstring(L,
                                          "mapping %d must be {\"source\", \"target\", "
                                          "\"type\"}",
                                          (int)i + 1));
        size_t k = lua_rawlen(L, 3);
        if (k != 3 && k != 4)
            luaL_argerror(L, 2,
                          lua_pushfstring(L,
                                          "mapping %d must be {\"source\", \"target\", "
                                          "\"type\"} or {\"source\", \"source type\", "
                                          "\"target\", \"type\"}",
                                          (int)i + 1));
        struct sl_plan_mapping *m = &n->mappings[i];
        n->n_mappings++;
        lua_rawgeti(L, 3, 1);
        m->source = dup_name(L, d->b, 2, -1, "a mapping's source column");
        lua_rawgeti(L, 3, k == 3 ? 2 : 3);
        m->target = dup_name(L, d->b, 2, -1, "a mapping's target column");
        lua_rawgeti(L, 3, k == 3 ? 3 : 4);
        m->type = dup_name(L, d->b, 2, -1, "a mapping's type");
        lua_pop(L, 4);
    }
    push_dataset(L, d->b, node_commit(L, d->b, 2));
    return 1;
}

/* ds:group_by("a", "b") or ds:group_by{"a", "b"} -> grouped (keys kept as a Lua list) */
static int lds_group_by(lua_State *L)
{
    struct ldataset *d = check_ds(L, 1);
    int top = lua_gettop(L);
    bool list = top == 2 && lua_type(L, 2) == LUA_TTABLE;
    size_t n = list ? list_len(L, 2, 2, "group_by keys") : (size_t)(top - 1);

    if (d->b->frozen || !d->b->in_main)
        node_begin(L, d->b, SL_PLAN_GROUP_AGG, d->node); /* raises the right message */
    lua_createtable(L, (int)n, 0);                       /* -> keys */
    int keys = lua_gettop(L);
    for (size_t i = 0; i < n; i++) {
        int arg = list ? 2 : 2 + (int)i;
        if (list)
            lua_rawgeti(L, 2, (lua_Integer)i + 1);
        else
            lua_pushvalue(L, arg);
        if (lua_type(L, -1) != LUA_TSTRING || lua_rawlen(L, -1) == 0)
            luaL_argerror(L, arg,
                          lua_pushfstring(L, "group keys must be column names, got %s",
                                          luaL_typename(L, -1)));
        lua_rawseti(L, keys, (lua_Integer)i + 1);
    }
    struct lgrouped *g = lua_newuserdatauv(L, sizeof *g, 1); /* -> grouped */
    g->b = d->b;
    g->node = d->node;
    lua_pushvalue(L, keys);
    lua_setiuservalue(L, -2, 1);
    luaL_setmetatable(L, MT_GROUPED);
    return 1;
}

static int cmp_agg(const void *x, const void *y)
{
    return strcmp(((const struct sl_plan_agg *)x)->name, ((const struct sl_plan_agg *)y)->name);
}

/* grouped:agg{name = sluice.sum("x"), n = "count", m = {"max", "y"}} -> ds */
static int lgrouped_agg(lua_State *L)
{
    struct lgrouped *g = luaL_checkudata(L, 1, MT_GROUPED);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    struct sl_plan_node *n = node_begin(L, g->b, SL_PLAN_GROUP_AGG, g->node);

    lua_getiuservalue(L, 1, 1); /* 3: keys */
    size_t n_keys = lua_rawlen(L, 3);
    n->columns = sl_calloc(n_keys ? n_keys : 1, sizeof *n->columns);
    if (!n->columns)
        raise_nomem(L, g->b);
    for (size_t i = 0; i < n_keys; i++) {
        lua_rawgeti(L, 3, (lua_Integer)i + 1);
        n->columns[i] = dup_name(L, g->b, 2, -1, "a group key");
        n->n_columns++;
        lua_pop(L, 1);
    }
    size_t count = 0;
    lua_pushnil(L);
    while (lua_next(L, 2)) { /* -> key, value */
        lua_pop(L, 1);
        count++;
    }
    n->aggs = sl_calloc(count ? count : 1, sizeof *n->aggs);
    if (!n->aggs)
        raise_nomem(L, g->b);
    lua_pushnil(L);
    while (lua_next(L, 2)) { /* 4 key, 5 value */
        if (lua_type(L, 4) != LUA_TSTRING)
            luaL_argerror(L, 2,
                          lua_pushfstring(L,
                                          "keys must be output column names "
                                          "{name = sluice.count(), ...}, got a %s key",
                                          luaL_typename(L, 4)));
        const char *name = lua_tostring(L, 4);
        struct sl_plan_agg *a = &n->aggs[n->n_aggs];
        int kind = -1;
        int col_idx = 0; /* stack index of the column, 0 = none */
        struct lagg *ua = luaL_testudata(L, 5, MT_AGG);
        if (ua) {
            kind = (int)ua->kind;
            lua_getiuservalue(L, 5, 1); /* 6: column or nil */
            col_idx = lua_isnil(L, 6) ? 0 : 6;
        } else if (lua_type(L, 5) == LUA_TSTRING || lua_type(L, 5) == LUA_TTABLE) {
            if (lua_type(L, 5) == LUA_TSTRING) {
                lua_pushvalue(L, 5); /* 6: kind name */
                lua_pushnil(L);      /* 7: no column */
            } else {
                lua_rawgeti(L, 5, 1); /* 6: kind name */
                lua_rawgeti(L, 5, 2); /* 7: column */
            }
            const char *kn = lua_tostring(L, 6);
            kind = kn ? sl_agg_parse(kn) : -1;
            if (kind < 0)
                luaL_argerror(L, 2,
                              lua_pushfstring(L,
                                              "\"%s\": unknown aggregation \"%s\" "
                                              "(count, count_distinct, sum, min, max, "
                                              "avg, first, last)",
                                              name, kn ? kn : luaL_typename(L, 6)));
            col_idx = lua_isnil(L, 7) ? 0 : 7;
        } else {
            luaL_argerror(L, 2,
                          lua_pushfstring(L,
                                          "\"%s\" must be an aggregation such as "
                                          "sluice.sum(\"x\"), got %s",
                                          name, luaL_typename(L, 5)));
        }
        a->name = dup_name(L, g->b, 2, 4, "an output name");
        n->n_aggs++;
        a->kind = (enum sl_agg_kind)kind;
        if (col_idx)
            a->column = dup_name(L, g->b, 2, col_idx, "an aggregated column");
        lua_settop(L, 4); /* key */
    }
    qsort(n->aggs, n->n_aggs, sizeof *n->aggs, cmp_agg);
    push_dataset(L, g->b, node_commit(L, g->b, 2));
    return 1;
}

static int lgrouped_tostring(lua_State *L)
{
    struct lgrouped *g = luaL_checkudata(L, 1, MT_GROUPED);
    lua_pushfstring(L, "sluice.Grouped(node %d)", g->node);
    return 1;
}

/* Stores one join key pair read from the value at idx ("k" or {"l", "r"}). */
static void join_key(lua_State *L, struct sl_plan_builder *b, struct sl_plan_node *n, int idx)
{
    struct sl_plan_kv *kv = &n->pairs[n->n_pairs];
    idx = lua_absindex(L, idx);
    if (lua_type(L, idx) == LUA_TTABLE) {
        if (lua_rawlen(L, idx) != 2)
            luaL_argerror(L, 3, "a key pair must be {\"left column\", \"right column\"}");
        lua_rawgeti(L, idx, 1);
        kv->key = dup_name(L, b, 3, -1, "a left join key");
        n->n_pairs++;
        lua_rawgeti(L, idx, 2);
        kv->value = dup_name(L, b, 3, -1, "a right join key");
        lua_pop(L, 2);
    } else {
        kv->key = dup_name(L, b, 3, idx, "a join key");
        n->n_pairs++;
        kv->value = dup_name(L, b, 3, idx, "a join key");
    }
}

/* ds:join(other, {on = "id" | {"a", "b"} | {{"l", "r"}}, how = "inner"|"left"}) -> ds */
static int lds_join(lua_State *L)
{
    static const char *const keys[] = {"on", "how", NULL};
    struct ldataset *d = check_ds(L, 1);
    struct ldataset *o = luaL_testudata(L, 2, MT_DATASET);

    if (!o)
        luaL_argerror(
            L, 2, lua_pushfstring(L, "the other dataset expected, got %s", luaL_typename(L, 2)));
    if (lua_type(L, 3) != LUA_TTABLE)
        luaL_argerror(L, 3, "join keys are required: {on = \"id\", how = \"inner\"}");
    lua_settop(L, 3);
    struct sl_plan_node *n = node_begin(L, d->b, SL_PLAN_JOIN, d->node);
    n->right = o->node;
    check_keys(L, 3, 3, keys);
    if (lua_getfield(L, 3, "how") != LUA_TNIL) { /* 4 */
        const char *how = lua_tostring(L, 4);
        if (lua_type(L, 4) == LUA_TSTRING && strcmp(how, "left") == 0)
            n->how = SL_PLAN_JOIN_LEFT;
        else if (lua_type(L, 4) != LUA_TSTRING || strcmp(how, "inner") != 0)
            luaL_argerror(L, 3, "how must be \"inner\" or \"left\"");
    }
    int t = lua_getfield(L, 3, "on"); /* 5 */
    if (t == LUA_TNIL)
        luaL_argerror(L, 3,
                      "join keys are required: on = \"id\", {\"a\", \"b\"} or "
                      "{{\"left\", \"right\"}}");
    size_t len = t == LUA_TTABLE ? list_len(L, 3, 5, "on") : 1;
    if (len == 0)
        luaL_argerror(L, 3, "join keys are required: \"on\" is empty");
    n->pairs = sl_calloc(len, sizeof *n->pairs);
    if (!n->pairs)
        raise_nomem(L, d->b);
    if (t == LUA_TTABLE) {
        for (size_t i = 0; i < len; i++) {
            lua_rawgeti(L, 5, (lua_Integer)i + 1);
            join_key(L, d->b, n, -1);
            lua_pop(L, 1);
        }
    } else {
        join_key(L, d->b, n, 5);
    }
    push_dataset(L, d->b, node_commit(L, d->b, 3));
    return 1;
}

static int lds_union(lua_State *L) /* ds:union(other) -> ds */
{
    struct ldataset *d = check_ds(L, 1);
    struct ldataset *o = luaL_testudata(L, 2, MT_DATASET);
    if (!o)
        luaL_argerror(
            L, 2, lua_pushfstring(L, "the other dataset expected, got %s", luaL_typename(L, 2)));
    struct sl_plan_node *n = node_begin(L, d->b, SL_PLAN_UNION, d->node);
    n->right = o->node;
    push_dataset(L, d->b, node_commit(L, d->b, 2));
    return 1;
}

/* One sort key from the value at idx: "col" or {"col", "asc"|"desc"}. */
static void sort_key(lua_State *L, struct sl_plan_builder *b, struct sl_plan_node *n, int arg,
                     int idx)
{
    struct sl_plan_sort_key *k = &n->sort_keys[n->n_sort_keys];
    idx = lua_absindex(L, idx);
    if (lua_type(L, idx) == LUA_TTABLE) {
        lua_rawgeti(L, idx, 1);
        k->column = dup_name(L, b, arg, -1, "a sort column");
        n->n_sort_keys++;
        lua_rawgeti(L, idx, 2);
        const char *dir = lua_tostring(L, -1);
        if (lua_type(L, -1) != LUA_TSTRING || (strcmp(dir, "asc") && strcmp(dir, "desc")))
            luaL_argerror(L, arg, "a sort key is \"column\" or {\"column\", \"asc\"|\"desc\"}");
        k->desc = strcmp(dir, "desc") == 0;
        lua_pop(L, 2);
    } else {
        k->column = dup_name(L, b, arg, idx, "a sort column");
        n->n_sort_keys++;
    }
}

/* True when the value at idx is one {"column", "asc"|"desc"} pair. */
static bool is_sort_pair(lua_State *L, int idx)
{
    if (lua_type(L, idx) != LUA_TTABLE || lua_rawlen(L, idx) != 2)
        return false;
    lua_rawgeti(L, idx, 1); /* -> column */
    lua_rawgeti(L, idx, 2); /* -> direction */
    bool pair =
        lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING &&
        (strcmp(lua_tostring(L, -1), "asc") == 0 || strcmp(lua_tostring(L, -1), "desc") == 0);
    lua_pop(L, 2);
    return pair;
}

/* ds:sort("a", {"b", "desc"}) or ds:sort{"a", {"b", "desc"}} -> ds */
static int lds_sort(lua_State *L)
{
    struct ldataset *d = check_ds(L, 1);
    int top = lua_gettop(L);
    bool list = top == 2 && lua_type(L, 2) == LUA_TTABLE && !is_sort_pair(L, 2);
    struct sl_plan_node *n = node_begin(L, d->b, SL_PLAN_SORT, d->node);
    size_t len = list ? list_len(L, 2, 2, "sort keys") : (size_t)(top - 1);
    if (len == 0)
        luaL_argerror(L, 2, "sort columns expected (\"a\", {\"b\", \"desc\"})");
    n->sort_keys = sl_calloc(len, sizeof *n->sort_keys);
    if (!n->sort_keys)
        raise_nomem(L, d->b);
    for (size_t i = 0; i < len; i++) {
        if (list) {
            lua_rawgeti(L, 2, (lua_Integer)i + 1);
            sort_key(L, d->b, n, 2, -1);
            lua_pop(L, 1);
        } else {
            sort_key(L, d->b, n, 2 + (int)i, 2 + (int)i);
        }
    }
    push_dataset(L, d->b, node_commit(L, d->b, 2));
    return 1;
}

static int lds_limit(lua_State *L) /* ds:limit(n) -> ds */
{
    struct ldataset *d = check_ds(L, 1);
    int ok = 0;
    lua_Integer lim = lua_tointegerx(L, 2, &ok);
    if (!ok || lim < 0)
        luaL_argerror(L, 2, "a whole number of rows, 0 or more");
    struct sl_plan_node *n = node_begin(L, d->b, SL_PLAN_LIMIT, d->node);
    n->limit = (int64_t)lim;
    push_dataset(L, d->b, node_commit(L, d->b, 2));
    return 1;
}

/* Adds a WRITE of node input from spec (a table, or a URI string) at stack
 * index spec; errors name argument arg. Returns the node index. */
/* Adds option key = value to the WRITE node n (kept sorted by key). */
static void add_option(lua_State *L, struct sl_plan_builder *b, struct sl_plan_node *n,
                       const char *key, const char *value)
{
    struct sl_plan_kv *v = sl_realloc(n->options, (n->n_options + 1) * sizeof *v);
    if (!v)
        raise_nomem(L, b);
    n->options = v;
    struct sl_plan_kv *kv = &v[n->n_options];
    kv->key = sl_strdup(key);
    kv->value = sl_strdup(value);
    if (!kv->key || !kv->value) {
        sl_free(kv->key);
        sl_free(kv->value);
        raise_nomem(L, b);
    }
    n->n_options++;
    qsort(n->options, n->n_options, sizeof *n->options, cmp_kv);
}

/* Database write options (mode, keys, create, add_columns, stage, iam_role)
 * into the node's options; keys joined by newlines. */
static void db_options(lua_State *L, struct sl_plan_builder *b, struct sl_plan_node *n, int arg,
                       int spec)
{
    static const char *const names[] = {"mode",    "create",     "add_columns", "stage",
                                        "iam_role", "execute", "max_errors",  NULL};
    for (const char *const *k = names; *k; k++) {
        int t = lua_getfield(L, spec, *k);
        if (t == LUA_TSTRING || t == LUA_TBOOLEAN || t == LUA_TNUMBER) {
            if (t == LUA_TBOOLEAN)
                add_option(L, b, n, *k, lua_toboolean(L, -1) ? "true" : "false");
            else
                add_option(L, b, n, *k, lua_tostring(L, -1));
        } else if (t != LUA_TNIL) {
            luaL_argerror(L, arg, lua_pushfstring(L, "%s must be a string or a boolean", *k));
        }
        lua_pop(L, 1);
    }
    int t = lua_getfield(L, spec, "keys");
    if (t == LUA_TSTRING) {
        add_option(L, b, n, "keys", lua_tostring(L, -1));
    } else if (t == LUA_TTABLE) {
        size_t len = list_len(L, arg, -1, "keys");
        luaL_Buffer lb;
        luaL_buffinit(L, &lb);
        for (size_t i = 0; i < len; i++) {
            lua_rawgeti(L, -2, (lua_Integer)i + 1);
            if (lua_type(L, -1) != LUA_TSTRING)
                luaL_argerror(L, arg, "keys must be a list of column names");
            size_t kl;
            const char *kv = lua_tolstring(L, -1, &kl);
            if (kl == 0 || memchr(kv, '\n', kl))
                luaL_argerror(L, arg, "keys: a column name is empty or holds a line break");
            lua_pop(L, 1);
            if (i)
                luaL_addchar(&lb, '\n');
            luaL_addlstring(&lb, kv, kl);
        }
        luaL_pushresult(&lb);
        add_option(L, b, n, "keys", lua_tostring(L, -1));
        lua_pop(L, 1);
    } else if (t != LUA_TNIL) {
        luaL_argerror(L, arg, "keys must be a list of column names");
    }
    lua_pop(L, 1);
}

static int write_node(lua_State *L, struct sl_plan_builder *b, int input, int arg, int spec)
{
    static const char *const keys[] = {"to", "format", "compression", "partition_keys", "mode",
                                       "keys", "create", "add_columns", "stage", "iam_role",
                                       "execute", "max_errors", NULL};
    spec = lua_absindex(L, spec);
    struct sl_plan_node *n = node_begin(L, b, SL_PLAN_WRITE, input);

    if (lua_type(L, spec) == LUA_TSTRING) {
        n->uri = dup_name(L, b, arg, spec, "\"to\"");
    } else if (lua_type(L, spec) == LUA_TTABLE) {
        check_keys(L, arg, spec, keys);
        n->uri = req_field(L, b, arg, spec, "to", "a path or an s3:// URI");
        n->format = opt_field(L, b, arg, spec, "format");
        n->compression = opt_field(L, b, arg, spec, "compression");
        int t = lua_getfield(L, spec, "partition_keys"); /* -> keys */
        if (t == LUA_TTABLE) {
            size_t len = list_len(L, arg, -1, "partition_keys");
            n->columns = sl_calloc(len ? len : 1, sizeof *n->columns);
            if (!n->columns)
                raise_nomem(L, b);
            for (size_t i = 0; i < len; i++) {
                lua_rawgeti(L, -1, (lua_Integer)i + 1);
                n->columns[i] = dup_name(L, b, arg, -1, "a partition key");
                n->n_columns++;
                lua_pop(L, 1);
            }
        } else if (t != LUA_TNIL) {
            luaL_argerror(L, arg, "partition_keys must be a list of column names");
        }
        lua_pop(L, 1);
        db_options(L, b, n, arg, spec);
    } else {
        luaL_argerror(L, arg,
                      lua_pushfstring(L, "write{to = ..., format = ...} expected, got %s",
                                      luaL_typename(L, spec)));
    }
    if (!n->format && !(n->format = sl_strdup("csv")))
        raise_nomem(L, b);
    if (!n->compression && !(n->compression = sl_strdup("none")))
        raise_nomem(L, b);
    return node_commit(L, b, arg);
}

static int lds_write(lua_State *L) /* ds:write{to, format, compression, partition_keys} */
{
    struct ldataset *d = check_ds(L, 1);
    if (lua_type(L, 2) != LUA_TTABLE)
        luaL_argerror(L, 2,
                      lua_pushfstring(L, "write{to = ..., format = ...} expected, got %s",
                                      luaL_typename(L, 2)));
    lua_settop(L, 2);
    write_node(L, d->b, d->node, 2, 2);
    return 0;
}

static int lds_tostring(lua_State *L)
{
    struct ldataset *d = check_ds(L, 1);
    const struct sl_plan *p = d->b->plan;
    const char *kind =
        (size_t)d->node < p->n_nodes ? sl_plan_kind_name(p->nodes[d->node].kind) : "?";
    lua_pushfstring(L, "sluice.Dataset(node %d: %s)", d->node, kind);
    return 1;
}

/* ---- sluice.null ---- */

static int lnull_tostring(lua_State *L)
{
    lua_pushliteral(L, "sluice.null");
    return 1;
}

/* ---- Rows ---- */

static void push_date(lua_State *L, int64_t days)
{
    int y, m, d;
    char buf[40];
    sl_days_to_date(days, &y, &m, &d);
    snprintf(buf, sizeof buf, "%04d-%02d-%02d", y, m, d);
    lua_pushstring(L, buf);
}

static void push_timestamp(lua_State *L, int64_t us)
{
    const int64_t day_us = INT64_C(86400000000);
    int64_t days = us / day_us, rem = us % day_us;
    if (rem < 0) {
        rem += day_us;
        days--;
    }
    int y, m, d;
    sl_days_to_date(days, &y, &m, &d);
    int64_t secs = rem / 1000000, frac = rem % 1000000;
    char buf[64];
    int len = snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d", y, m, d,
                       (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60));
    if (frac)
        snprintf(buf + len, sizeof buf - (size_t)len, ".%06dZ", (int)frac);
    else
        snprintf(buf + len, sizeof buf - (size_t)len, "Z");
    lua_pushstring(L, buf);
}

void sl_lua_push_value(lua_State *L, const struct sl_value *v)
{
    switch ((enum sl_vtype)v->type) {
    case SL_V_BOOL: lua_pushboolean(L, v->i != 0); break;
    case SL_V_INT: lua_pushinteger(L, (lua_Integer)v->i); break;
    case SL_V_DOUBLE: lua_pushnumber(L, (lua_Number)v->d); break;
    case SL_V_STRING:
    case SL_V_BINARY:
    case SL_V_JSON: lua_pushlstring(L, v->len ? v->s : "", v->len); break;
    case SL_V_DATE: push_date(L, v->i); break;
    case SL_V_TIMESTAMP: push_timestamp(L, v->i); break;
    default: lua_pushnil(L); break;
    }
}

/* The Row metatable is also in the registry under this address: rows are
 * made and checked once per row and call, and a lookup by address costs no
 * string hashing (luaL_setmetatable/luaL_testudata look names up). */
static const char row_mt_key = 0;

/* The row handle at idx, or NULL when the value is something else. */
static struct lrow *test_row(lua_State *L, int idx)
{
    struct lrow *r = lua_touserdata(L, idx);
    if (!r || !lua_getmetatable(L, idx))
        return NULL;
    lua_rawgetp(L, LUA_REGISTRYINDEX, &row_mt_key);
    bool same = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    return same ? r : NULL;
}

void sl_lua_push_row(lua_State *L, struct sl_batch *b, uint32_t index)
{
    struct lrow *r = lua_newuserdatauv(L, sizeof *r, 1); /* -> row */
    r->b = b;
    r->i = index;
    r->gen = b->gen;
    lua_rawgetp(L, LUA_REGISTRYINDEX, &row_mt_key);
    lua_setmetatable(L, -2);
}

bool sl_lua_is_row(lua_State *L, int idx)
{
    return test_row(L, idx) != NULL;
}

bool sl_lua_to_row(lua_State *L, int idx, struct sl_batch **b, uint32_t *index)
{
    struct lrow *r = test_row(L, idx);
    if (!r || r->gen != r->b->gen)
        return false;
    *b = r->b;
    *index = r->i;
    return true;
}

static struct lrow *check_row(lua_State *L, int idx) /* raises for a stale handle */
{
    struct lrow *r = test_row(L, idx);
    if (!r)
        luaL_typeerror(L, idx, MT_ROW);
    if (r->gen != r->b->gen)
        luaL_error(L, "row used after its batch was released");
    return r;
}

/* Pushes the column name at arg's value (-> value); raises for an unknown one. */
static int row_get(lua_State *L, struct lrow *r, int arg)
{
    size_t len;
    const char *name = luaL_checklstring(L, arg, &len);
    int col = sl_rschema_find(r->b->schema, name, len);

    if (col >= 0) {
        sl_lua_push_value(L, &sl_batch_row(r->b, r->i)[col]);
        return 1;
    }
    if (lua_getiuservalue(L, 1, 1) == LUA_TTABLE) { /* -> added columns */
        lua_pushvalue(L, arg);
        if (lua_rawget(L, -2) != LUA_TNIL) { /* -> value */
            if (luaL_testudata(L, -1, MT_NULL))
                lua_pushnil(L); /* NULL reads as nil, as for batch columns */
            return 1;
        }
    }
    return luaL_argerror(L, arg, lua_pushfstring(L, "no column \"%s\"", name));
}

static int lrow_get(lua_State *L) /* row:get(name) -> value */
{
    return row_get(L, check_row(L, 1), 2);
}

/* __index: methods first (row:get("totable") reads a column of that name). */
static int lrow_index(lua_State *L)
{
    struct lrow *r = test_row(L, 1);
    if (!r)
        return luaL_typeerror(L, 1, MT_ROW);
    lua_pushvalue(L, 2);
    if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL) /* -> method */
        return 1;
    lua_pop(L, 1);
    if (r->gen != r->b->gen)
        return luaL_error(L, "row used after its batch was released");
    return row_get(L, r, 2);
}

/* Stores the value at vidx into column col (converted to the column's type). */
static void row_set_cell(lua_State *L, struct lrow *r, int col, int vidx, const char *name)
{
    enum sl_vtype to = r->b->schema->types[col];
    struct sl_value v = {.type = SL_V_NULL}, out;
    struct sl_err e = {0};

    /* fast path: a number of the column's own type needs no conversion */
    if (lua_type(L, vidx) == LUA_TNUMBER) {
        struct sl_value *cell = &sl_batch_row(r->b, r->i)[col];
        if (to == SL_V_DOUBLE && !lua_isinteger(L, vidx)) {
            cell->type = SL_V_DOUBLE;
            cell->d = lua_tonumber(L, vidx);
            return;
        }
        if (to == SL_V_INT && lua_isinteger(L, vidx)) {
            cell->type = SL_V_INT;
            cell->i = lua_tointeger(L, vidx);
            return;
        }
    }
    switch (lua_type(L, vidx)) {
    case LUA_TNIL: break;
    case LUA_TBOOLEAN:
        v.type = SL_V_BOOL;
        v.i = lua_toboolean(L, vidx);
        break;
    case LUA_TNUMBER:
        if (lua_isinteger(L, vidx)) {
            v.type = SL_V_INT;
            v.i = lua_tointeger(L, vidx);
        } else if (to == SL_V_INT) { /* only whole floats: 3.7 into a bigint is a bug */
            int ok = 0;
            v.type = SL_V_INT;
            v.i = lua_tointegerx(L, vidx, &ok);
            if (!ok)
                luaL_error(L,
                           "column \"%s\" is bigint: %f is not a whole number (a column's type "
                           "comes from its first values: write floats as floats, e.g. x * 1.0)",
                           name, lua_tonumber(L, vidx));
        } else {
            v.type = SL_V_DOUBLE;
            v.d = lua_tonumber(L, vidx);
        }
        break;
    case LUA_TSTRING: {
        size_t len;
        v.type = SL_V_STRING;
        v.s = lua_tolstring(L, vidx, &len);
        if (len > UINT32_MAX)
            luaL_error(L, "column \"%s\": value too long", name);
        v.len = (uint32_t)len;
        break;
    }
    default:
        if (!luaL_testudata(L, vidx, MT_NULL))
            luaL_error(L, "cannot store a %s in column \"%s\"", luaL_typename(L, vidx), name);
        break;
    }
    if (sl_value_cast(&v, to, &r->b->arena, &out, &e) != SL_OK) {
        if (e.code == SL_ENOMEM)
            luaL_error(L, "column \"%s\": the batch's memory is full", name);
        luaL_error(L, "column \"%s\" is %s: %s", name, sl_vtype_name(to), e.msg);
    }
    sl_batch_row(r->b, r->i)[col] = out;
}

static int row_set(lua_State *L, struct lrow *r, int karg, int vidx)
{
    size_t len;
    const char *name = luaL_checklstring(L, karg, &len);
    int col = sl_rschema_find(r->b->schema, name, len);

    if (col >= 0) {
        row_set_cell(L, r, col, vidx, name);
        return 0;
    }
    int t = lua_type(L, vidx);
    if (t != LUA_TNIL && t != LUA_TBOOLEAN && t != LUA_TNUMBER && t != LUA_TSTRING &&
        !luaL_testudata(L, vidx, MT_NULL))
        return luaL_error(L, "cannot store a %s in column \"%s\"", luaL_typename(L, vidx), name);
    if (lua_getiuservalue(L, 1, 1) != LUA_TTABLE) { /* -> added columns or nil */
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_setiuservalue(L, 1, 1);
    }
    lua_pushvalue(L, karg);
    lua_pushvalue(L, vidx);
    lua_rawset(L, -3);
    lua_pop(L, 1);
    return 0;
}

static int lrow_newindex(lua_State *L) /* row.name = value */
{
    return row_set(L, check_row(L, 1), 2, 3);
}

static int lrow_set(lua_State *L) /* row:set(name, value) */
{
    lua_settop(L, 3);
    return row_set(L, check_row(L, 1), 2, 3);
}

/* row:totable() -> {name = value}, NULL as sluice.null, added columns included */
static int lrow_totable(lua_State *L)
{
    struct lrow *r = check_row(L, 1);
    const struct sl_rschema *s = r->b->schema;
    const struct sl_value *cells = sl_batch_row(r->b, r->i);

    lua_settop(L, 1);
    lua_createtable(L, 0, (int)s->n_cols);        /* 2: copy */
    lua_getfield(L, LUA_REGISTRYINDEX, REG_NULL); /* 3: sluice.null */
    for (size_t c = 0; c < s->n_cols; c++) {
        if (cells[c].type == SL_V_NULL)
            lua_pushvalue(L, 3);
        else
            sl_lua_push_value(L, &cells[c]);
        lua_setfield(L, 2, s->names[c]);
    }
    if (lua_getiuservalue(L, 1, 1) == LUA_TTABLE) { /* 4 */
        lua_pushnil(L);
        while (lua_next(L, 4)) { /* -> key, value */
            lua_pushvalue(L, -2);
            lua_insert(L, -2);
            lua_rawset(L, 2);
        }
    }
    lua_settop(L, 2);
    return 1;
}

static int lrow_tostring(lua_State *L)
{
    struct lrow *r = luaL_checkudata(L, 1, MT_ROW);
    lua_pushfstring(L, "sluice.Row(%d%s)", (int)r->i, r->gen != r->b->gen ? ", released" : "");
    return 1;
}

/* ---- Opening ---- */

static const luaL_Reg ds_methods[] = {
    {"select", lds_select},
    {"drop", lds_drop},
    {"rename", lds_rename},
    {"apply_mapping", lds_apply_mapping},
    {"filter", lds_filter},
    {"map", lds_map},
    {"flat_map", lds_flat_map},
    {"group_by", lds_group_by},
    {"join", lds_join},
    {"distinct", lds_distinct},
    {"union", lds_union},
    {"sort", lds_sort},
    {"limit", lds_limit},
    {"write", lds_write},
    {NULL, NULL},
};

static const luaL_Reg row_methods[] = {
    {"get", lrow_get},
    {"set", lrow_set},
    {"totable", lrow_totable},
    {NULL, NULL},
};

static const luaL_Reg sluice_fns[] = {
    /* upvalue 1: the builder */
    {"from_path", l_from_path},
    {"from_catalog", l_from_catalog},
    {"mapreduce", l_mapreduce},
    {NULL, NULL},
};

static const struct {
    const char *name;
    enum sl_agg_kind kind;
} agg_fns[] = {
    {"count", SL_AGG_COUNT}, {"count_distinct", SL_AGG_COUNT_DISTINCT},
    {"sum", SL_AGG_SUM},     {"min", SL_AGG_MIN},
    {"max", SL_AGG_MAX},     {"avg", SL_AGG_AVG},
    {"first", SL_AGG_FIRST}, {"last", SL_AGG_LAST},
};

/* Creates metatable name with only __tostring (and locked). */
static void new_metatable(lua_State *L, const char *name, lua_CFunction tostring)
{
    luaL_newmetatable(L, name); /* -> mt */
    lua_pushcfunction(L, tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushliteral(L, "locked");
    lua_setfield(L, -2, "__metatable"); /* getmetatable() cannot reach the methods */
    lua_pop(L, 1);
}

static void open_metatables(lua_State *L)
{
    if (luaL_getmetatable(L, MT_DATASET) != LUA_TNIL) { /* already built for this state */
        lua_pop(L, 1);
        return;
    }
    lua_pop(L, 1);
    luaL_newmetatable(L, MT_DATASET); /* -> mt */
    lua_pushcfunction(L, lds_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_createtable(L, 0, (int)SL_ARRAY_LEN(ds_methods) - 1);
    luaL_setfuncs(L, ds_methods, 0);
    lua_setfield(L, -2, "__index");
    lua_pushliteral(L, "locked");
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);

    luaL_newmetatable(L, MT_GROUPED);
    lua_pushcfunction(L, lgrouped_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, lgrouped_agg);
    lua_setfield(L, -2, "agg");
    lua_setfield(L, -2, "__index");
    lua_pushliteral(L, "locked");
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);

    new_metatable(L, MT_AGG, lagg_tostring);
    new_metatable(L, MT_NULL, lnull_tostring);

    luaL_newmetatable(L, MT_ROW); /* -> mt */
    lua_pushcfunction(L, lrow_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_createtable(L, 0, (int)SL_ARRAY_LEN(row_methods) - 1); /* -> methods */
    luaL_setfuncs(L, row_methods, 0);
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, REG_ROW_METHODS);
    lua_pushcclosure(L, lrow_index, 1);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, lrow_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushliteral(L, "locked");
    lua_setfield(L, -2, "__metatable");
    lua_rawsetp(L, LUA_REGISTRYINDEX, &row_mt_key); /* the same table, keyed by address */

    lua_newuserdatauv(L, 0, 0); /* -> sluice.null */
    luaL_setmetatable(L, MT_NULL);
    lua_setfield(L, LUA_REGISTRYINDEX, REG_NULL);
}

/* __sluice_main(): builds ctx, calls main(ctx), fingerprints the functions.
 * Upvalues: builder, _ENV. */
static int l_run_main(lua_State *L)
{
    struct sl_plan_builder *b = up_builder(L);
    const struct sl_plan_args *a = b->args;

    lua_settop(L, 0);
    if (lua_getfield(L, lua_upvalueindex(2), "main") != LUA_TFUNCTION) { /* 1: main */
        b->main_missing = true;
        return luaL_error(L, "no function main(ctx) is defined");
    }
    lua_createtable(L, 0, 3); /* 2: ctx */
    lua_createtable(L, 0, a ? (int)a->n_args : 0);
    for (size_t i = 0; a && i < a->n_args; i++) {
        lua_pushstring(L, a->args[i].value);
        lua_setfield(L, -2, a->args[i].key);
    }
    lua_setfield(L, 2, "args");
    lua_pushstring(L, a && a->job ? a->job : "");
    lua_setfield(L, 2, "job");
    lua_pushstring(L, a && a->run_id ? a->run_id : "");
    lua_setfield(L, 2, "run_id");
    b->in_main = true;
    lua_call(L, 1, 0);
    b->in_main = false;
    b->frozen = true;
    for (size_t i = 0; i < b->plan->n_nodes; i++) {
        struct sl_plan_node *n = &b->plan->nodes[i];
        fingerprint(L, b, &n->fn);
        fingerprint(L, b, &n->combine);
        fingerprint(L, b, &n->reduce);
    }
    return 0;
}

/* __sluice_call_slot(slot, ...): calls the function of slot. Upvalue: builder. */
static int l_call_slot(lua_State *L)
{
    struct sl_plan_builder *b = up_builder(L);
    lua_Integer slot = luaL_checkinteger(L, 1);
    if (slot < 0 || slot >= b->plan->n_fns)
        return luaL_error(L, "no function slot %d", (int)slot);
    lua_rawgeti(L, LUA_REGISTRYINDEX, b->fn_refs[slot]); /* -> fn */
    lua_replace(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

int sl_lua_sluice_open(lua_State *L, struct sl_plan_builder *b)
{
    int env = lua_gettop(L);

    luaL_checkstack(L, 8, NULL);
    open_metatables(L);

    lua_createtable(L, 0, 24); /* -> sluice */
    int t = lua_gettop(L);
    lua_pushlightuserdata(L, b);
    luaL_setfuncs(L, sluice_fns, 1);
    for (size_t i = 0; i < SL_ARRAY_LEN(agg_fns); i++) {
        lua_pushinteger(L, (lua_Integer)agg_fns[i].kind);
        lua_pushcclosure(L, l_agg_new, 1);
        lua_setfield(L, t, agg_fns[i].name);
    }
    lua_getfield(L, LUA_REGISTRYINDEX, REG_NULL);
    lua_setfield(L, t, "null");
    lua_getfield(L, env, "print"); /* the sandbox's print, captured before scripts run */
    lua_pushcclosure(L, l_log, 1);
    lua_setfield(L, t, "log");
    lua_pushlightuserdata(L, b);
    lua_pushinteger(L, 0);
    lua_pushcclosure(L, l_day, 2);
    lua_setfield(L, t, "today");
    lua_pushlightuserdata(L, b);
    lua_pushinteger(L, -1);
    lua_pushcclosure(L, l_day, 2);
    lua_setfield(L, t, "yesterday");
    lua_setfield(L, env, "sluice");

    lua_pushcfunction(L, l_job);
    lua_setfield(L, env, "job");
    lua_pushlightuserdata(L, b);
    lua_pushvalue(L, env);
    lua_pushcclosure(L, l_run_main, 2);
    lua_setfield(L, env, SL_LUA_SLUICE_MAIN);
    lua_pushlightuserdata(L, b);
    lua_pushcclosure(L, l_call_slot, 1);
    lua_setfield(L, env, SL_LUA_SLUICE_CALL_SLOT);
    return 0;
}

/* ---- Drivers ---- */

struct sl_plan_state {
    struct sl_lua *lua;        /* owned; closed before the builder */
    struct sl_plan_builder *b; /* owned */
};

static void open_hook(lua_State *L, void *ud)
{
    sl_lua_sluice_open(L, ud);
}

static void print_hook(void *ud, const char *line, size_t line_len)
{
    struct sl_plan_builder *b = ud;
    if (b->log_fn)
        b->log_fn(b->log_ud, line, line_len);
}

static const char *chunk_name(const char *chunkname)
{
    return chunkname[0] == '@' || chunkname[0] == '=' ? chunkname + 1 : chunkname;
}

int sl_plan_state_new(const char *chunkname, const char *src, size_t len,
                      const struct sl_plan_args *args, struct sl_plan_state **out,
                      struct sl_err *err)
{
    static const struct sl_plan_args no_args = {0};
    struct sl_plan_state *ps = sl_calloc(1, sizeof *ps);
    int rc;

    *out = NULL;
    if (!args)
        args = &no_args;
    if (!ps || !(ps->b = sl_plan_builder_new(args->now))) {
        sl_free(ps);
        return sl_err_set(err, SL_ENOMEM, "%s: out of memory", chunk_name(chunkname));
    }
    ps->b->log_fn = args->log_fn;
    ps->b->log_ud = args->log_ud;
    struct sl_lua_opts lo = {
        .memory_cap = args->memory_cap,
        .timeout_ms = args->timeout_ms,
        .stop = args->stop,
        .allow_files = args->allow_files,
        .print_fn = print_hook,
        .open_libs = open_hook,
        .ud = ps->b,
    };
    ps->lua = sl_lua_new(&lo, err);
    if (!ps->lua) {
        rc = err->code;
        goto fail;
    }
    rc = sl_lua_load(ps->lua, chunkname, src, len, err);
    if (rc != SL_OK)
        goto fail;
    ps->b->args = args;
    rc = sl_lua_call_global(ps->lua, SL_LUA_SLUICE_MAIN, 0, 0, err);
    ps->b->args = NULL;
    ps->b->in_main = false;
    ps->b->frozen = true;
    if (rc != SL_OK) {
        if (ps->b->main_missing)
            rc = sl_err_set(err, SL_ECONFIG, "%s: no function main(ctx) is defined",
                            chunk_name(chunkname));
        else if (ps->b->nomem)
            rc = sl_err_set(err, SL_ENOMEM, "%s: out of memory", chunk_name(chunkname));
        goto fail;
    }
    rc = sl_plan_freeze(ps->b->plan, err);
    if (rc != SL_OK) {
        sl_err_prefix(err, "%s", chunk_name(chunkname));
        goto fail;
    }
    *out = ps;
    return SL_OK;
fail:
    sl_plan_state_free(ps);
    return rc;
}

void sl_plan_state_free(struct sl_plan_state *ps)
{
    if (!ps)
        return;
    sl_lua_free(ps->lua);
    sl_plan_builder_free(ps->b);
    sl_free(ps);
}

const struct sl_plan *sl_plan_state_plan(const struct sl_plan_state *ps)
{
    return ps->b->plan;
}

lua_State *sl_plan_state_lua(struct sl_plan_state *ps)
{
    return sl_lua_state(ps->lua);
}

int sl_plan_state_call_slot(struct sl_plan_state *ps, int slot, int nargs, int nresults,
                            struct sl_err *err)
{
    lua_State *L = sl_lua_state(ps->lua);

    if (slot < 0 || slot >= ps->b->plan->n_fns) {
        lua_pop(L, nargs);
        return sl_err_set(err, SL_ENOTFOUND, "no function slot %d", slot);
    }
    if (!lua_checkstack(L, 1)) {
        lua_pop(L, nargs);
        return sl_err_set(err, SL_ENOMEM, "call function slot %d: out of memory", slot);
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, ps->b->fn_refs[slot]); /* -> fn */
    lua_insert(L, -(nargs + 1));                              /* under the arguments */
    return sl_lua_pcall(ps->lua, nargs, nresults, err);
}

int sl_plan_build_from_script(const char *chunkname, const char *src, size_t len,
                              const struct sl_plan_args *args, struct sl_plan **out,
                              struct sl_err *err)
{
    struct sl_plan_state *ps;
    int rc = sl_plan_state_new(chunkname, src, len, args, &ps, err);

    *out = NULL;
    if (rc != SL_OK)
        return rc;
    sl_lua_free(ps->lua); /* Datasets point at the builder: close the state first */
    ps->lua = NULL;
    *out = ps->b->plan;
    ps->b->plan = NULL;
    sl_plan_state_free(ps);
    return SL_OK;
}
