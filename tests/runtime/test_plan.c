/*
 * tests/runtime/test_plan.c - job plans built from real Lua scripts
 * (runtime/plan.c, runtime/lua_sluice.c): the DESIGN.md example, a word
 * count mapreduce whose functions are then called by slot, every Dataset
 * method, plan equality (same script; non-deterministic main), argument
 * errors with their line, runtime errors with traceback, and the
 * "sluice.Row" handle over a hand-built batch (every type, NULL, added
 * columns, stale handles).
 */
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/alloc.h"
#include "runtime/batch.h"
#include "runtime/lua_sandbox.h"
#include "runtime/lua_sluice.h"
#include "runtime/plan.h"
#include "tests/test.h"

#define NOW ((time_t)1714564800) /* 2024-05-01T12:00:00Z */

static const struct sl_plan_arg date_arg[] = {{"date", "2024-04-30"}};

static struct sl_plan_args args_default(void)
{
    struct sl_plan_args a = {.job = "t", .run_id = "r1", .args = date_arg, .n_args = 1, .now = NOW};
    return a;
}

static int build(const char *src, struct sl_plan **out, struct sl_err *err)
{
    struct sl_plan_args a = args_default();
    return sl_plan_build_from_script("jobs/x.lua", src, strlen(src), &a, out, err);
}

static char *json_of(const char *src)
{
    struct sl_err err = {0};
    struct sl_plan *p = NULL;
    if (build(src, &p, &err) != SL_OK) {
        printf("#   build failed: %s\n", err.msg);
        return NULL;
    }
    char *j = sl_plan_to_json(p);
    sl_plan_free(p);
    return j;
}

/* ---- The DESIGN.md example ---- */

static const char design_src[] =
    "job {\n"                                   /* 1 */
    "  name = \"page_views_daily\",\n"          /* 2 */
    "  args = { date = sluice.yesterday() },\n" /* 3 */
    "  bookmark = true,\n"                      /* 4 */
    "}\n"                                       /* 5 */
    "function main(ctx)\n"                      /* 6 */
    "  local clicks = sluice.from_catalog{ database = \"weblogs\", table = \"clicks\",\n"
    "                 push_down_predicate = \"dt = '\" .. ctx.args.date .. \"'\" }\n" /* 8 */
    "  local views = clicks\n"                                                        /* 9 */
    "    :filter(function(r) return r.status < 400 end)\n"                            /* 10 */
    "    :map(function(r) r.page = r.url:match(\"^/([^/?]*)\") or \"\"; return r end)\n"
    "    :group_by{ \"dt\", \"page\" }\n" /* 12 */
    "    :agg{ views = sluice.count(), users = sluice.count_distinct(\"user_id\") }\n"
    "  views:write{ to = \"out/page_views/\", format = \"json\" }\n" /* 14 */
    "  views:write{ to = \"s3://lake/curated/page_views/\", format = \"csv\",\n"
    "               partition_keys = { \"dt\" }, compression = \"zstd\" }\n" /* 16 */
    "end\n";

TEST(design_example_plan)
{
    char *j = json_of(design_src);
    CHECK_STR(j, "{\"nodes\":["
                 "{\"id\":0,\"kind\":\"source_catalog\",\"line\":7,\"database\":\"weblogs\","
                 "\"table\":\"clicks\",\"push_down_predicate\":\"dt = '2024-04-30'\"},"
                 "{\"id\":1,\"kind\":\"filter\",\"line\":9,\"input\":0,"
                 "\"fn\":{\"slot\":0,\"line\":10}},"
                 "{\"id\":2,\"kind\":\"map\",\"line\":9,\"input\":1,"
                 "\"fn\":{\"slot\":1,\"line\":11}},"
                 "{\"id\":3,\"kind\":\"group_agg\",\"line\":9,\"input\":2,"
                 "\"keys\":[\"dt\",\"page\"],\"aggs\":[{\"name\":\"users\","
                 "\"agg\":\"count_distinct\",\"column\":\"user_id\"},"
                 "{\"name\":\"views\",\"agg\":\"count\"}],"
                 "\"out\":[\"dt\",\"page\",\"users\",\"views\"]},"
                 "{\"id\":4,\"kind\":\"write\",\"line\":14,\"input\":3,\"to\":\"out/page_views/\","
                 "\"format\":\"json\",\"compression\":\"none\"},"
                 "{\"id\":5,\"kind\":\"write\",\"line\":15,\"input\":3,"
                 "\"to\":\"s3://lake/curated/page_views/\",\"format\":\"csv\","
                 "\"compression\":\"zstd\",\"partition_keys\":[\"dt\"]}"
                 "],\"functions\":2}");
    sl_free(j);
}

/* ---- Word count: plan, then the functions called by slot ---- */

static const char wordcount_src[] =
    "function main(ctx)\n"
    "  local lines = sluice.from_path{ uri = \"data/books/\", format = \"tsv\",\n"
    "    options = { header = false, quote = \"\" }, schema = { {\"line\", \"string\"} } }\n"
    "  local counts = sluice.mapreduce{\n"
    "    input = lines,\n"
    "    map = function(row, emit)\n"
    "      for w in row.line:gmatch(\"%a+\") do emit(w:lower(), 1) end\n"
    "    end,\n"
    "    combine = function(word, ns, emit)\n"
    "      local t = 0; for _, n in ipairs(ns) do t = t + n end; emit(word, t)\n"
    "    end,\n"
    "    reduce = function(word, ns, emit)\n"
    "      local t = 0; for _, n in ipairs(ns) do t = t + n end; emit(word, t)\n"
    "    end,\n"
    "    partitions = 4, columns = { \"word\", \"count\" },\n"
    "    output = { to = \"out/wordcount/\", format = \"csv\", compression = \"gzip\" },\n"
    "  }\n"
    "  counts:sort{ {\"count\", \"desc\"}, \"word\" }:limit(10):write{ to = \"out/top10/\" }\n"
    "end\n";

static int n_emits;
static lua_Integer the_count;

static int emit_fn(lua_State *L) /* emit(key, value) */
{
    n_emits++;
    if (lua_type(L, 1) == LUA_TSTRING && strcmp(lua_tostring(L, 1), "the") == 0)
        the_count += lua_tointeger(L, 2);
    return 0;
}

TEST(wordcount_mapreduce)
{
    char *j = json_of(wordcount_src);
    CHECK_STR(j, "{\"nodes\":["
                 "{\"id\":0,\"kind\":\"source_path\",\"line\":2,\"uri\":\"data/books/\","
                 "\"format\":\"tsv\",\"options\":{\"header\":\"false\",\"quote\":\"\"},"
                 "\"schema\":[[\"line\",\"string\"]]},"
                 "{\"id\":1,\"kind\":\"mapreduce\",\"line\":4,\"input\":0,"
                 "\"map\":{\"slot\":0,\"line\":6},\"combine\":{\"slot\":1,\"line\":9},"
                 "\"reduce\":{\"slot\":2,\"line\":12},\"partitions\":4,"
                 "\"columns\":[\"word\",\"count\"],\"out\":[\"word\",\"count\"]},"
                 "{\"id\":2,\"kind\":\"write\",\"line\":4,\"input\":1,\"to\":\"out/wordcount/\","
                 "\"format\":\"csv\",\"compression\":\"gzip\"},"
                 "{\"id\":3,\"kind\":\"sort\",\"line\":18,\"input\":1,"
                 "\"by\":[[\"count\",\"desc\"],[\"word\",\"asc\"]],\"out\":[\"word\",\"count\"]},"
                 "{\"id\":4,\"kind\":\"limit\",\"line\":18,\"input\":3,\"n\":10,"
                 "\"out\":[\"word\",\"count\"]},"
                 "{\"id\":5,\"kind\":\"write\",\"line\":18,\"input\":4,\"to\":\"out/top10/\","
                 "\"format\":\"csv\",\"compression\":\"none\"}"
                 "],\"functions\":3}");
    sl_free(j);

    /* A worker: same script, then map (slot 0) over a row and reduce (slot 2). */
    struct sl_err err = {0};
    struct sl_plan_args a = args_default();
    struct sl_plan_state *ps = NULL;
    CHECK_OK(sl_plan_state_new("jobs/wc.lua", wordcount_src, strlen(wordcount_src), &a, &ps, &err),
             &err);
    if (!ps)
        return;
    struct sl_rschema *s = sl_rschema_new(1);
    struct sl_batch *b = s ? sl_batch_new(s, 4, 0) : NULL;
    struct sl_value *row = b ? sl_batch_add_row(b, NULL) : NULL;
    if (!row || sl_rschema_set(s, 0, "line", SL_V_STRING, &err) != SL_OK) {
        CHECK(row != NULL);
        sl_plan_state_free(ps);
        sl_batch_free(b);
        sl_rschema_free(s);
        return;
    }
    const char *text = "The cat and the dog saw THE bird";
    row[0] = (struct sl_value){.type = SL_V_STRING, .len = (uint32_t)strlen(text), .s = text};

    lua_State *L = sl_plan_state_lua(ps);
    n_emits = 0;
    the_count = 0;
    sl_lua_push_row(L, b, 0);
    lua_pushcfunction(L, emit_fn);
    CHECK_OK(sl_plan_state_call_slot(ps, 0, 2, 0, &err), &err);
    CHECK(n_emits == 8);
    CHECK(the_count == 3);

    n_emits = 0;
    the_count = 0;
    lua_pushliteral(L, "the");
    lua_createtable(L, 3, 0);
    for (int i = 1; i <= 3; i++) {
        lua_pushinteger(L, i);
        lua_rawseti(L, -2, i);
    }
    lua_pushcfunction(L, emit_fn);
    CHECK_OK(sl_plan_state_call_slot(ps, 2, 3, 0, &err), &err);
    CHECK(n_emits == 1 && the_count == 6);

    /* An error in a row function: file:line and traceback. */
    lua_pushnil(L);
    lua_pushcfunction(L, emit_fn);
    CHECK(sl_plan_state_call_slot(ps, 0, 2, 0, &err) == SL_ESCRIPT);
    CHECKF(strncmp(err.msg, "jobs/wc.lua:7: attempt to index a nil value", 43) == 0, "%s", err.msg);
    CHECK(strstr(err.msg, "stack traceback") != NULL);
    CHECK(sl_plan_state_call_slot(ps, 3, 0, 0, &err) == SL_ENOTFOUND);
    CHECK(lua_gettop(L) == 0);

    sl_plan_state_free(ps);
    sl_batch_free(b);
    sl_rschema_free(s);
}

/* ---- Every method ---- */

static const char every_src[] =
    "function main(ctx)\n"
    "  local a = sluice.from_path{ uri = \"in/a.csv\", format = \"csv\",\n"
    "    options = { delimiter = \";\", header = true, skip_lines = 1 },\n"
    "    schema = { {\"id\", \"bigint\"}, {\"name\", \"string\"}, {\"amount\", "
    "\"decimal(10,2)\"},\n"
    "               {\"dt\", \"date\"} } }\n"
    "  local b = sluice.from_catalog{ database = \"db\", table = \"users\" }\n"
    "  local x = a:select(\"id\", \"name\", \"amount\", \"dt\")\n"
    "           :drop{ \"amount\" }\n"
    "           :rename{ name = \"user_name\" }\n"
    "           :apply_mapping{ {\"id\", \"user_id\", \"string\"}, {\"user_name\", \"string\", "
    "\"nm\", "
    "\"string\"}, {\"dt\", \"dt\", \"date\"} }\n"
    "  local y = x:join(b, { on = { {\"user_id\", \"id\"} }, how = \"left\" })\n"
    "  local z = x:union(x:filter(function(r) return r.nm ~= \"\" end))\n"
    "  local g = z:distinct(\"user_id\"):group_by(\"dt\"):agg{\n"
    "    n = sluice.count(), u = sluice.count_distinct(\"user_id\"), s = {\"sum\", \"user_id\"},\n"
    "    lo = sluice.min(\"nm\"), hi = sluice.max(\"nm\"), av = sluice.avg(\"user_id\"),\n"
    "    f = sluice.first(\"nm\"), l = sluice.last(\"nm\"), c = \"count\" }\n"
    "  local m = y:map(function(r) return r end):flat_map(function(r) return { r, r } end)\n"
    "  g:sort(\"dt\"):limit(5):write{ to = \"out/g/\", format = \"json\" }\n"
    "  m:distinct():write{ to = \"out/m/\", partition_keys = { \"dt\" } }\n"
    "  x:join(x:rename(\"nm\", \"nm2\"), { on = { \"user_id\", \"dt\" } }):write{ to = \"out/j\" "
    "}\n"
    "end\n";

TEST(every_method)
{
    struct sl_err err = {0};
    struct sl_plan *p = NULL;
    CHECK_OK(build(every_src, &p, &err), &err);
    if (!p)
        return;
    static const enum sl_plan_kind want[] = {
        SL_PLAN_SOURCE_PATH, SL_PLAN_SOURCE_CATALOG, SL_PLAN_SELECT,    SL_PLAN_DROP,
        SL_PLAN_RENAME,      SL_PLAN_APPLY_MAPPING,  SL_PLAN_JOIN,      SL_PLAN_FILTER,
        SL_PLAN_UNION,       SL_PLAN_DISTINCT,       SL_PLAN_GROUP_AGG, SL_PLAN_MAP,
        SL_PLAN_FLAT_MAP,    SL_PLAN_SORT,           SL_PLAN_LIMIT,     SL_PLAN_WRITE,
        SL_PLAN_DISTINCT,    SL_PLAN_WRITE,          SL_PLAN_RENAME,    SL_PLAN_JOIN,
        SL_PLAN_WRITE,
    };
    CHECKF(p->n_nodes == SL_ARRAY_LEN(want), "%zu nodes", p->n_nodes);
    for (size_t i = 0; i < p->n_nodes && i < SL_ARRAY_LEN(want); i++)
        CHECKF(p->nodes[i].kind == want[i], "node %zu is %s", i,
               sl_plan_kind_name(p->nodes[i].kind));
    CHECK(p->n_fns == 3);
    char *j = sl_plan_to_json(p);
    static const char *const frags[] = {
        "\"options\":{\"delimiter\":\";\",\"header\":\"true\",\"skip_lines\":\"1\"}",
        "\"schema\":[[\"id\",\"bigint\"],[\"name\",\"string\"],[\"amount\",\"decimal(10,2)\"],"
        "[\"dt\",\"date\"]]",
        "\"kind\":\"drop\",\"line\":7,\"input\":2,\"columns\":[\"amount\"],"
        "\"out\":[\"id\",\"name\",\"dt\"]",
        "\"rename\":{\"name\":\"user_name\"},\"out\":[\"id\",\"user_name\",\"dt\"]",
        "\"mappings\":[[\"id\",\"user_id\",\"string\"],[\"user_name\",\"nm\",\"string\"],"
        "[\"dt\",\"dt\",\"date\"]],\"out\":[\"user_id\",\"nm\",\"dt\"]",
        "\"kind\":\"join\",\"line\":11,\"input\":5,\"right\":1,\"how\":\"left\","
        "\"on\":[[\"user_id\",\"id\"]]}",
        "\"kind\":\"union\",\"line\":12,\"input\":5,\"right\":7,\"out\":[\"user_id\",\"nm\","
        "\"dt\"]",
        "\"aggs\":[{\"name\":\"av\",\"agg\":\"avg\",\"column\":\"user_id\"},"
        "{\"name\":\"c\",\"agg\":\"count\"},"
        "{\"name\":\"f\",\"agg\":\"first\",\"column\":\"nm\"},"
        "{\"name\":\"hi\",\"agg\":\"max\",\"column\":\"nm\"},"
        "{\"name\":\"l\",\"agg\":\"last\",\"column\":\"nm\"},"
        "{\"name\":\"lo\",\"agg\":\"min\",\"column\":\"nm\"},"
        "{\"name\":\"n\",\"agg\":\"count\"},"
        "{\"name\":\"s\",\"agg\":\"sum\",\"column\":\"user_id\"},"
        "{\"name\":\"u\",\"agg\":\"count_distinct\",\"column\":\"user_id\"}]",
        "\"kind\":\"limit\",\"line\":18,\"input\":13,\"n\":5",
        "\"kind\":\"distinct\",\"line\":19,\"input\":12}",
        "\"partition_keys\":[\"dt\"]",
        "\"kind\":\"join\",\"line\":20,\"input\":5,\"right\":18,\"how\":\"inner\","
        "\"on\":[[\"user_id\",\"user_id\"],[\"dt\",\"dt\"]],\"out\":[\"user_id\",\"nm\",\"dt\","
        "\"nm2\"]",
    };
    for (size_t i = 0; j && i < SL_ARRAY_LEN(frags); i++)
        CHECKF(strstr(j, frags[i]) != NULL, "missing %s in %s", frags[i], j);
    sl_free(j);
    CHECK_OK(sl_plan_validate(p, &err), &err);
    sl_plan_free(p);
}

/* ---- Equality ---- */

TEST(same_script_same_plan)
{
    struct sl_err err = {0};
    struct sl_plan *a = NULL, *b = NULL;
    char why[256];
    CHECK_OK(build(every_src, &a, &err), &err);
    CHECK_OK(build(every_src, &b, &err), &err);
    if (a && b) {
        CHECKF(sl_plan_equal(a, b, why, sizeof why), "%s", why);
        CHECK_OK(sl_plan_check_same(a, b, 1, &err), &err);
    }
    sl_plan_free(a);
    sl_plan_free(b);

    CHECK_OK(build(design_src, &a, &err), &err);
    CHECK_OK(build(wordcount_src, &b, &err), &err);
    if (a && b)
        CHECK(!sl_plan_equal(a, b, NULL, 0));
    sl_plan_free(a);
    sl_plan_free(b);
}

/* Builds src with ctx.args.mode = mode. */
static struct sl_plan *build_mode(const char *src, const char *mode)
{
    struct sl_plan_arg arg = {"mode", mode};
    struct sl_plan_args a = {.job = "t", .args = &arg, .n_args = 1, .now = NOW};
    struct sl_err err = {0};
    struct sl_plan *p = NULL;
    if (sl_plan_build_from_script("jobs/x.lua", src, strlen(src), &a, &p, &err) != SL_OK)
        printf("#   build failed: %s\n", err.msg);
    return p;
}

/* A main that depends on something other than the script and ctx builds a
 * different plan; each way a plan can differ must be caught. */
TEST(nondeterministic_main_detected)
{
    static const char src[] =
        "function main(ctx)\n"
        "  local m = ctx.args.mode\n"
        "  local t = sluice.from_path{ uri = 'in/', format = 'csv', schema = {{'a', 'bigint'},\n"
        "                             {'b', m == 'col' and 'string' or 'double'}} }\n"
        "  t = t:select(m == 'sel' and 'b' or 'a', m == 'sel' and 'a' or 'b')\n"
        "  local f = function(r) return true end\n"
        "  if m == 'kind' then t = t:map(f) else t = t:filter(f) end\n"
        "  local k = (m == 'agg') and sluice.max('b') or sluice.min('b')\n"
        "  t = t:group_by('a'):agg{ v = k }\n"
        "  local cutoff = (m == 'up') and 2 or 1\n"
        "  t = t:filter(function(r) return r.v > cutoff end)\n"
        "  t:write{ to = 'out/', format = (m == 'fmt') and 'json' or 'csv' }\n"
        "end\n";
    struct sl_plan *base = build_mode(src, "base");
    static const struct {
        const char *mode;
        const char *why;
    } cases[] = {
        {"base", NULL},
        {"col", "node 0: schema 2 (b, double) vs (b, string)"},
        {"sel", "node 1: column 1 \"a\" vs \"b\""},
        {"kind", "node 2: filter vs map"},
        {"agg", "node 3: aggregation v = min(b) vs v = max(b)"},
        {"up", "node 4: row function (line 11) captured different upvalue values"},
        {"fmt", "node 5: format \"csv\" vs \"json\""},
    };
    for (size_t i = 0; base && i < SL_ARRAY_LEN(cases); i++) {
        struct sl_plan *w = build_mode(src, cases[i].mode);
        char why[256];
        if (!w) {
            CHECK(w != NULL);
            continue;
        }
        bool eq = sl_plan_equal(base, w, why, sizeof why);
        if (!cases[i].why) {
            CHECKF(eq, "%s", why);
        } else {
            CHECKF(!eq, "%s: equal", cases[i].mode);
            CHECK_STR(why, cases[i].why);
        }
        sl_plan_free(w);
    }
    struct sl_plan *w = build_mode(src, "kind");
    struct sl_err err = {0};
    if (base && w) {
        CHECK(sl_plan_check_same(base, w, 2, &err) == SL_ESCRIPT);
        CHECK_STR(err.msg, "main(ctx) built a different plan in worker 2 (node 2: filter vs "
                           "map): main must be deterministic");
    }
    sl_plan_free(w);
    sl_plan_free(base);
}

/* Two live states (different seeds): a captured math.random() value differs. */
TEST(random_upvalue_detected)
{
    static const char src[] =
        "function main(ctx)\n"
        "  local threshold = math.random()\n"
        "  sluice.from_catalog{ database = 'd', table = 't' }\n"
        "    :filter(function(r) return r.x < threshold end):write{ to = 'o/' }\n"
        "end\n";
    static const char steady[] =
        "function main(ctx)\n"
        "  local threshold, names = 0.5, { a = 1, b = { 'x', 'y' }, c = 'z', d = true }\n"
        "  sluice.from_catalog{ database = 'd', table = 't' }\n"
        "    :filter(function(r) return r.x < threshold and names[r.k] end):write{ to = 'o/' }\n"
        "end\n";
    struct sl_err err = {0};
    struct sl_plan_args a = args_default();
    struct sl_plan_state *s1 = NULL, *s2 = NULL;
    CHECK_OK(sl_plan_state_new("jobs/r.lua", src, strlen(src), &a, &s1, &err), &err);
    CHECK_OK(sl_plan_state_new("jobs/r.lua", src, strlen(src), &a, &s2, &err), &err);
    if (s1 && s2) {
        CHECK(sl_plan_check_same(sl_plan_state_plan(s1), sl_plan_state_plan(s2), 1, &err) ==
              SL_ESCRIPT);
        CHECK(strstr(err.msg, "captured different upvalue values") != NULL);
    }
    sl_plan_state_free(s1);
    sl_plan_state_free(s2);

    s1 = s2 = NULL;
    CHECK_OK(sl_plan_state_new("jobs/r.lua", steady, strlen(steady), &a, &s1, &err), &err);
    CHECK_OK(sl_plan_state_new("jobs/r.lua", steady, strlen(steady), &a, &s2, &err), &err);
    if (s1 && s2)
        CHECK_OK(sl_plan_check_same(sl_plan_state_plan(s1), sl_plan_state_plan(s2), 1, &err), &err);
    sl_plan_state_free(s1);
    sl_plan_state_free(s2);
}

/* ---- Errors ---- */

#define HEAD                                                                                       \
    "function main(ctx)\n"                                                                         \
    "  local t = sluice.from_path{ uri = 'in/', format = 'csv',\n"                                 \
    "    schema = { {'a', 'bigint'}, {'b', 'string'} } }\n"

TEST(argument_errors)
{
    static const struct {
        const char *body; /* line 4 onwards */
        const char *want; /* full first line of the message, or a prefix ending in '*' */
    } cases[] = {
        {"  t:select('a', 'nope')\n",
         "jobs/x.lua:4: bad argument #1 to 'select' (unknown column \"nope\" (columns: a, b))"},
        {"  t:group_by('a'):agg{ n = 'cnt' }\n",
         "jobs/x.lua:4: bad argument #1 to 'agg' (\"n\": unknown aggregation \"cnt\" (count, "
         "count_distinct, sum, min, max, avg, first, last))"},
        {"  t:group_by('a'):agg{ n = sluice.sum('zz') }\n",
         "jobs/x.lua:4: bad argument #1 to 'agg' (\"n\" = sum(\"zz\"): unknown column \"zz\" "
         "(columns: a, b))"},
        {"  t:group_by('a'):agg{ n = 5 }\n",
         "jobs/x.lua:4: bad argument #1 to 'agg' (\"n\" must be an aggregation such as "
         "sluice.sum(\"x\"), got number)"},
        {"  t:group_by('x'):agg{ n = sluice.count() }\n",
         "jobs/x.lua:4: bad argument #1 to 'agg' (group_by: unknown column \"x\" (columns: a, "
         "b))"},
        {"  t:write{ format = 'csv' }\n",
         "jobs/x.lua:4: bad argument #1 to 'write' (\"to\" is required (a path or an s3:// "
         "URI))"},
        {"  t:write{ to = 'o/', format = 'parquet' }\n",
         "jobs/x.lua:4: bad argument #1 to 'write' (format must be \"csv\" or \"json\", got "
         "\"parquet\")"},
        {"  t:write{ to = 'o/', mode = 'merge' }\n",
         "jobs/x.lua:4: bad argument #1 to 'write' (\"mode\" is for database targets "
         "(postgres:..., redshift://...))"},
        {"  t:write{ to = 'o/', moed = 'merge' }\n",
         "jobs/x.lua:4: bad argument #1 to 'write' (unknown key \"moed\" (known: to, format, "
         "compression, partition_keys, mode, keys, create, add_columns, stage, iam_role, "
         "execute, max_errors))"},
        {"  t:write{ to = 'postgres:a.b', mode = 'merge' }\n",
         "jobs/x.lua:4: bad argument #1 to 'write' (mode = \"merge\" needs keys = {...})"},
        {"  t:write{ to = 'postgres:a.b', partition_keys = {'a'} }\n",
         "jobs/x.lua:4: bad argument #1 to 'write' (partition_keys are for file targets)"},
        {"  t:write{ to = 'o/', partition_keys = {'a', 'b'} }\n",
         "jobs/x.lua:4: bad argument #1 to 'write' (partition_keys cannot be every column: no "
         "data would be left)"},
        {"  t:join(t)\n",
         "jobs/x.lua:4: bad argument #2 to 'join' (join keys are required: {on = \"id\", how = "
         "\"inner\"})"},
        {"  t:join(t, { how = 'left' })\n", "jobs/x.lua:4: bad argument #2 to 'join' (join keys "
                                            "are required: on = *"},
        {"  t:join(t, { on = 'a', how = 'outer' })\n",
         "jobs/x.lua:4: bad argument #2 to 'join' (how must be \"inner\" or \"left\")"},
        {"  t:join(t:select('a'), { on = 'a' })\n", "*ok"},
        {"  t:join(t, { on = 'a' })\n",
         "jobs/x.lua:4: bad argument #2 to 'join' (column \"b\" is on both sides: rename one "
         "side first)"},
        {"  t:filter(42)\n",
         "jobs/x.lua:4: bad argument #1 to 'filter' (the row function must be a function, got "
         "number)"},
        {"  t:map()\n", "jobs/x.lua:4: bad argument #1 to 'map' (the row function must be a "
                        "function, got nil)"},
        {"  t:limit(-1)\n",
         "jobs/x.lua:4: bad argument #1 to 'limit' (a whole number of rows, 0 or more)"},
        {"  t:sort({'a', 'sideways'})\n",
         "jobs/x.lua:4: bad argument #1 to 'sort' (unknown column \"sideways\" (columns: a, "
         "b))"},
        {"  t:sort('a', {'b', 'up'})\n", "jobs/x.lua:4: bad argument #2 to 'sort' (a sort key "
                                         "is \"column\" or {\"column\", \"asc\"|\"desc\"})"},
        {"  t:rename{ a = 'b' }\n", "jobs/x.lua:4: bad argument #1 to 'rename' (cannot rename "
                                    "\"a\" to \"b\": that column exists)"},
        {"  t:rename{ a = 'c', b = 'a' }\n", "*ok"},
        {"  t:apply_mapping{ {'a', 'a', 'int64'} }\n",
         "jobs/x.lua:4: bad argument #1 to 'apply_mapping' (mapping 1: unknown type \"int64\" "
         "(bigint, double, string, boolean, date, timestamp, decimal(p,s), ...))"},
        {"  t:drop('a', 'b')\n",
         "jobs/x.lua:4: bad argument #1 to 'drop' (cannot drop every column)"},
        {"  t:select{ a = 1 }\n",
         "jobs/x.lua:4: bad argument #1 to 'select' (a column name must be a list {\"a\", "
         "\"b\", ...})"},
        {"  t:union(t:select('a'))\n",
         "jobs/x.lua:4: bad argument #1 to 'union' (both sides need the same columns (left: a, "
         "b; right: a))"},
        {"  t:union(5)\n", "jobs/x.lua:4: bad argument #1 to 'union' (the other dataset "
                           "expected, got number)"},
        {"  local s = sluice.sum()\n",
         "jobs/x.lua:4: bad argument #1 to 'sum' (column name expected, got no value)"},
        {"  sluice.from_path{ uri = 'x', format = 'xml' }\n",
         "jobs/x.lua:4: bad argument #1 to 'from_path' (format must be \"csv\", \"tsv\", "
         "\"json\" or \"jsonl\", got \"xml\")"},
        {"  sluice.from_path{ uri = 'x', format = 'csv', options = { delim = ';' } }\n",
         "jobs/x.lua:4: bad argument #1 to 'from_path' (unknown option \"delim\" (known: *"},
        {"  sluice.from_path{ uri = 'x', format = 'csv', options = { delimiter = ';;' } }\n",
         "jobs/x.lua:4: bad argument #1 to 'from_path' (option \"delimiter\" must be one "
         "character, got \";;\")"},
        {"  sluice.from_path{ uri = 'x', format = 'csv', schema = { a = 'bigint' } }\n",
         "jobs/x.lua:4: bad argument #1 to 'from_path' (schema (a list of {name, type} pairs: "
         "order matters) must be a list {\"a\", \"b\", ...})"},
        {"  sluice.from_path{ format = 'csv' }\n",
         "jobs/x.lua:4: bad argument #1 to 'from_path' (\"uri\" is required (a path or an "
         "s3:// URI))"},
        {"  sluice.from_catalog{ database = 'd', tabel = 't' }\n",
         "jobs/x.lua:4: bad argument #1 to 'from_catalog' (unknown key \"tabel\" (known: "
         "database, table, push_down_predicate))"},
        {"  sluice.mapreduce{ input = t, map = print, reduce = print, partitions = 0 }\n",
         "jobs/x.lua:4: bad argument #1 to 'mapreduce' (\"partitions\" must be a whole number "
         "from 1 to 65536)"},
        {"  sluice.mapreduce{ input = 'x', map = print, reduce = print }\n",
         "jobs/x.lua:4: bad argument #1 to 'mapreduce' (\"input\" must be a dataset, got "
         "string)"},
        {"  sluice.mapreduce{ input = t, map = print }\n",
         "jobs/x.lua:4: bad argument #1 to 'mapreduce' (\"reduce\" is required: *"},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        char src[1024];
        snprintf(src, sizeof src, "%s%s  t:write{ to = 'o/' }\nend\n", HEAD, cases[i].body);
        struct sl_err err = {0};
        struct sl_plan *p = NULL;
        int rc = build(src, &p, &err);
        sl_plan_free(p);
        const char *want = cases[i].want;
        if (strcmp(want, "*ok") == 0) {
            CHECKF(rc == SL_OK, "case %zu: %s", i, err.msg);
            continue;
        }
        CHECKF(rc == SL_ESCRIPT, "case %zu: rc %d", i, rc);
        size_t first = strcspn(err.msg, "\n");
        size_t wl = strlen(want);
        if (want[wl - 1] == '*')
            CHECKF(strncmp(err.msg, want, wl - 1) == 0, "case %zu: got %.*s", i, (int)first,
                   err.msg);
        else
            CHECKF(first == wl && strncmp(err.msg, want, wl) == 0, "case %zu: got %.*s", i,
                   (int)first, err.msg);
        CHECKF(strstr(err.msg, "stack traceback") != NULL, "case %zu: no traceback", i);
    }
}

TEST(script_errors)
{
    static const char runtime_src[] = "function main(ctx)\n"
                                      "  local t = nil\n"
                                      "  return t.field\n"
                                      "end\n";
    struct sl_err err = {0};
    struct sl_plan *p = NULL;

    CHECK(build(runtime_src, &p, &err) == SL_ESCRIPT && p == NULL);
    CHECKF(strncmp(err.msg, "jobs/x.lua:3: attempt to index a nil value (local 't')", 54) == 0,
           "%s", err.msg);
    CHECK(strstr(err.msg, "stack traceback:") != NULL);
    CHECK(strstr(err.msg, "jobs/x.lua:3: in ") != NULL);

    CHECK(build("function main(ctx)\n  local x = = 1\nend\n", &p, &err) == SL_EPARSE);
    CHECKF(strncmp(err.msg, "jobs/x.lua:2:", 13) == 0, "%s", err.msg);

    CHECK(build("x = 1\n", &p, &err) == SL_ECONFIG);
    CHECK_STR(err.msg, "jobs/x.lua: no function main(ctx) is defined");

    CHECK(build("function main(ctx) sluice.from_catalog{database='d', table='t'} end\n", &p,
                &err) == SL_ECONFIG);
    CHECK_STR(err.msg, "jobs/x.lua: the plan writes nothing: main(ctx) must call write{...} "
                       "on a dataset");

    CHECK(build("local t = sluice.from_catalog{database='d', table='t'}\n"
                "function main(ctx) end\n",
                &p, &err) == SL_ESCRIPT);
    CHECKF(strncmp(err.msg, "jobs/x.lua:1: datasets can only be built inside main(ctx)", 57) == 0,
           "%s", err.msg);

    /* an error swallowed by pcall leaves no half-built node behind (and no leak) */
    CHECK_OK(build("function main(ctx)\n"
                   "  local t = sluice.from_catalog{database='d', table='t'}\n"
                   "  assert(not pcall(t.write, t, { to = 'o', partition_keys = { 1 } }))\n"
                   "  assert(not pcall(t.select, t, 'a', {}))\n"
                   "  t:write{ to = 'o/' }\n"
                   "end\n",
                   &p, &err),
             &err);
    CHECK(p && p->n_nodes == 2);
    sl_plan_free(p);
}

static char logged[256];

static void log_fn(void *ud, const char *line, size_t line_len)
{
    (void)ud;
    snprintf(logged, sizeof logged, "%.*s", (int)line_len, line);
}

TEST(ctx_dates_log_and_frozen)
{
    static const char src[] =
        "job { name = 'x', args = { day = sluice.yesterday() } }\n"
        "local saved\n"
        "function main(ctx)\n"
        "  assert(ctx.job == 't' and ctx.run_id == 'r1' and ctx.args.date == '2024-04-30')\n"
        "  assert(sluice.today() == '2024-05-01' and sluice.yesterday() == '2024-04-30')\n"
        "  assert(tostring(sluice.null) == 'sluice.null' and sluice.null ~= nil)\n"
        "  assert(tostring(sluice.sum('x')) == 'sluice.sum(x)')\n"
        "  sluice.log('hello', 1)\n"
        "  saved = sluice.from_catalog{ database = 'd', table = 't' }\n"
        "  assert(tostring(saved) == 'sluice.Dataset(node 0: source_catalog)')\n"
        "  saved:filter(function(r) return saved:limit(1) end):write{ to = 'o/' }\n"
        "end\n";
    struct sl_err err = {0};
    struct sl_plan_args a = args_default();
    a.log_fn = log_fn;
    struct sl_plan_state *ps = NULL;
    logged[0] = '\0';
    CHECK_OK(sl_plan_state_new("jobs/c.lua", src, strlen(src), &a, &ps, &err), &err);
    CHECK_STR(logged, "hello\t1");
    if (!ps)
        return;
    lua_State *L = sl_plan_state_lua(ps);
    lua_pushnil(L);
    CHECK(sl_plan_state_call_slot(ps, 0, 1, 1, &err) == SL_ESCRIPT);
    CHECKF(strncmp(err.msg, "jobs/c.lua:11: datasets cannot be changed while rows are processed",
                   66) == 0,
           "%s", err.msg);
    sl_plan_state_free(ps);
}

TEST(plan_validate_by_hand)
{
    struct sl_err err = {0};
    struct sl_plan *p = sl_plan_new();
    struct sl_plan_node n = {.kind = SL_PLAN_SOURCE_CATALOG, .input = -1, .right = -1};
    int idx = -1;

    if (!p)
        SKIP("out of memory");

    n.database = sl_strdup("d");
    n.table = sl_strdup("t");
    CHECK_OK(sl_plan_add_take(p, &n, &idx, &err), &err);
    CHECK(idx == 0 && n.database == NULL);

    n = (struct sl_plan_node){.kind = SL_PLAN_FILTER, .input = 3, .right = -1};
    CHECK(sl_plan_add_take(p, &n, &idx, &err) == SL_ECONFIG);
    CHECK_STR(err.msg, "input 3 is not an earlier node");

    n = (struct sl_plan_node){.kind = SL_PLAN_GROUP_AGG, .input = 0, .right = -1};
    n.aggs = sl_calloc(1, sizeof *n.aggs);
    n.n_aggs = n.aggs != NULL;
    if (n.aggs) {
        n.aggs[0].name = sl_strdup("s");
        n.aggs[0].kind = SL_AGG_SUM;
    }
    CHECK(sl_plan_add_take(p, &n, &idx, &err) == SL_ECONFIG);
    CHECK_STR(err.msg, "\"s\": sum needs a column");

    CHECK(sl_plan_validate(p, &err) == SL_ECONFIG);
    CHECK(strstr(err.msg, "writes nothing") != NULL);

    n = (struct sl_plan_node){.kind = SL_PLAN_WRITE, .input = 0, .right = -1};
    n.uri = sl_strdup("o/");
    n.format = sl_strdup("csv");
    n.compression = sl_strdup("brotli");
    CHECK(sl_plan_add_take(p, &n, &idx, &err) == SL_ECONFIG);
    CHECK_STR(err.msg, "compression must be \"gzip\", \"zstd\" or \"none\", got \"brotli\"");
    n = (struct sl_plan_node){.kind = SL_PLAN_WRITE, .input = 0, .right = -1};
    n.uri = sl_strdup("o/");
    n.format = sl_strdup("csv");
    n.compression = sl_strdup("none");
    CHECK_OK(sl_plan_add_take(p, &n, &idx, &err), &err);
    CHECK_OK(sl_plan_freeze(p, &err), &err);
    n = (struct sl_plan_node){.kind = SL_PLAN_LIMIT, .input = 0, .right = -1};
    CHECK(sl_plan_add_take(p, &n, &idx, &err) == SL_ECONFIG);
    CHECK(p->n_nodes == 2);
    sl_plan_free(p);
}

TEST(limits_apply)
{
    static const char src[] = "function main(ctx)\n  while true do end\nend\n";
    struct sl_plan_args a = args_default();
    struct sl_err err = { 0 };
    struct sl_plan *p = NULL;

    a.timeout_ms = 50;
    CHECK(sl_plan_build_from_script("jobs/x.lua", src, strlen(src), &a, &p, &err) ==
          SL_ECANCELLED);
    CHECKF(strstr(err.msg, "jobs/x.lua:2: timed out after 50 ms") != NULL, "%s", err.msg);
    CHECK(p == NULL);

    static const char big[] =
        "function main(ctx)\n  local t = {}\n  for i = 1, 1e8 do t[i] = i end\nend\n";
    a = args_default();
    a.memory_cap = (size_t)4 << 20;
    CHECK(sl_plan_build_from_script("jobs/x.lua", big, strlen(big), &a, &p, &err) == SL_ENOMEM);
    CHECK(p == NULL);
}

/* ---- Rows ---- */

static void open_sluice(lua_State *L, void *ud)
{
    sl_lua_sluice_open(L, ud);
}

TEST(row_round_trips)
{
    static const struct {
        const char *name;
        enum sl_vtype t;
    } cols[] = {
        {"i", SL_V_INT},      {"d", SL_V_DOUBLE},     {"b", SL_V_BOOL},        {"s", SL_V_STRING},
        {"day", SL_V_DATE},   {"ts", SL_V_TIMESTAMP}, {"ts0", SL_V_TIMESTAMP}, {"j", SL_V_JSON},
        {"bin", SL_V_BINARY}, {"n", SL_V_INT},
    };
    static const char src[] =
        "saved = nil\n"
        "function read(r)\n"
        "  saved = r\n"
        "  assert(r.i == 42 and math.type(r.i) == 'integer', 'i')\n"
        "  assert(r.d == 2.5 and math.type(r.d) == 'float', 'd')\n"
        "  assert(r.b == true, 'b')\n"
        "  assert(r.s == 'h\\u{e9}llo', 's')\n"
        "  assert(r.day == '2024-05-01', 'day')\n"
        "  assert(r.ts == '2024-05-01T12:34:56.123456Z', 'ts ' .. r.ts)\n"
        "  assert(r.ts0 == '1969-12-31T23:59:59Z', 'ts0 ' .. r.ts0)\n"
        "  assert(r.j == '{\"a\":1}' and r.bin == '\\0\\1', 'j')\n"
        "  assert(r.n == nil and r:get('n') == nil, 'n')\n"
        "  local t = r:totable()\n"
        "  assert(t.n == sluice.null and t.i == 42 and t.day == '2024-05-01', 'totable')\n"
        "  assert(not pcall(function() return r.nope end), 'unknown column')\n"
        "  for _, c in ipairs{'i','d','b','s','day','ts','ts0','j','bin','n'} do r[c] = r[c] end\n"
        "end\n"
        "function write(r)\n"
        "  r.i = 7.0; r.d = 3; r.b = false; r.s = 12; r.day = '2000-02-29'\n"
        "  r.ts = '2001-01-01T00:00:00.5Z'; r.j = sluice.null; r:set('bin', nil); r.n = '15'\n"
        "  local ok, e = pcall(function() r.i = 3.5 end)\n"
        "  assert(not ok and e:find('is bigint: 3.5'), e)\n"
        "  ok, e = pcall(function() r.day = 'soon' end)\n"
        "  assert(not ok and e:find('column \"day\" is date'), e)\n"
        "  assert(not pcall(function() r.s = {} end))\n"
        "  r.page = 'home'; r.k = sluice.null\n"
        "  assert(r.page == 'home' and r.k == nil)\n"
        "  local t = r:totable()\n"
        "  assert(t.page == 'home' and t.k == sluice.null and t.j == sluice.null and t.i == 7)\n"
        "  r.page = nil\n"
        "  assert(not pcall(function() return r.page end))\n"
        "end\n"
        "function stale() return saved.i end\n";
    struct sl_err err = {0};
    struct sl_plan_builder *pb = sl_plan_builder_new(NOW);
    struct sl_lua_opts o = {.open_libs = open_sluice, .ud = pb};
    struct sl_lua *s = sl_lua_new(&o, &err);
    struct sl_rschema *sc = sl_rschema_new(SL_ARRAY_LEN(cols));
    struct sl_batch *b = NULL;
    bool named = sc != NULL;
    for (size_t c = 0; named && c < SL_ARRAY_LEN(cols); c++)
        named = sl_rschema_set(sc, c, cols[c].name, cols[c].t, &err) == SL_OK;
    if (named)
        b = sl_batch_new(sc, 8, 0);
    if (!s || !b) {
        CHECK(s && b);
        goto done;
    }
    struct sl_value *row = sl_batch_add_row(b, NULL);
    row[0] = (struct sl_value){.type = SL_V_INT, .i = 42};
    row[1] = (struct sl_value){.type = SL_V_DOUBLE, .d = 2.5};
    row[2] = (struct sl_value){.type = SL_V_BOOL, .i = 1};
    row[3] = (struct sl_value){.type = SL_V_STRING, .len = 6, .s = "h\xc3\xa9llo"};
    row[4] = (struct sl_value){.type = SL_V_DATE, .i = sl_date_to_days(2024, 5, 1)};
    row[5] = (struct sl_value){.type = SL_V_TIMESTAMP,
                               .i = sl_date_to_days(2024, 5, 1) * INT64_C(86400000000) +
                                    INT64_C(45296123456)};
    row[6] = (struct sl_value){.type = SL_V_TIMESTAMP, .i = -1000000};
    row[7] = (struct sl_value){.type = SL_V_JSON, .len = 7, .s = "{\"a\":1}"};
    row[8] = (struct sl_value){.type = SL_V_BINARY, .len = 2, .s = "\0\1"};
    /* row[9] stays NULL */
    struct sl_value before[SL_ARRAY_LEN(cols)];
    memcpy(before, row, sizeof before);

    CHECK_OK(sl_lua_load(s, "jobs/row.lua", src, strlen(src), &err), &err);
    lua_State *L = sl_lua_state(s);
    sl_lua_push_row(L, b, 0);
    CHECK_OK(sl_lua_call_global(s, "read", 1, 0, &err), &err);
    for (size_t c = 0; c < SL_ARRAY_LEN(cols); c++) /* read then written back: unchanged */
        CHECKF(sl_value_eq(&row[c], &before[c]) && row[c].type == before[c].type,
               "column %s changed", cols[c].name);

    struct sl_batch *ob = NULL;
    uint32_t oi = 99;
    sl_lua_push_row(L, b, 0);
    CHECK(sl_lua_to_row(L, -1, &ob, &oi) && ob == b && oi == 0);
    CHECK_OK(sl_lua_call_global(s, "write", 1, 0, &err), &err);
    CHECK(row[0].type == SL_V_INT && row[0].i == 7);
    CHECK(row[1].type == SL_V_DOUBLE && row[1].d == 3.0);
    CHECK(row[2].type == SL_V_BOOL && row[2].i == 0);
    CHECK(row[3].type == SL_V_STRING && row[3].len == 2 && memcmp(row[3].s, "12", 2) == 0);
    CHECK(row[4].type == SL_V_DATE && row[4].i == sl_date_to_days(2000, 2, 29));
    CHECK(row[5].type == SL_V_TIMESTAMP &&
          row[5].i == sl_date_to_days(2001, 1, 1) * INT64_C(86400000000) + 500000);
    CHECK(row[7].type == SL_V_NULL && row[8].type == SL_V_NULL);
    CHECK(row[9].type == SL_V_INT && row[9].i == 15);

    sl_batch_reset(b);
    CHECK(sl_lua_call_global(s, "stale", 0, 0, &err) == SL_ESCRIPT);
    CHECKF(strncmp(err.msg, "jobs/row.lua:33: row used after its batch was released", 54) == 0,
           "%s", err.msg);
    sl_lua_push_row(L, b, 0);
    lua_pushvalue(L, -1);
    sl_batch_reset(b);
    CHECK(!sl_lua_to_row(L, -1, &ob, &oi));
    lua_pop(L, 2);
done:
    sl_lua_free(s);
    sl_plan_builder_free(pb);
    sl_batch_free(b);
    sl_rschema_free(sc);
}

int main(void)
{
    RUN(design_example_plan);
    RUN(wordcount_mapreduce);
    RUN(every_method);
    RUN(same_script_same_plan);
    RUN(nondeterministic_main_detected);
    RUN(random_upvalue_detected);
    RUN(argument_errors);
    RUN(script_errors);
    RUN(ctx_dates_log_and_frozen);
    RUN(plan_validate_by_hand);
    RUN(limits_apply);
    RUN(row_round_trips);
    TEST_EXIT();
}
