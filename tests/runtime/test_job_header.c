/*
 * tests/runtime/test_job_header.c - reading job{...} declarations: the
 * DESIGN.md example, defaults, every validation error, args conversion,
 * syntax/runtime errors and a header that never finishes.
 */
#include <stdio.h>
#include <string.h>

#include "runtime/job_header.h"
#include "runtime/lua_sandbox.h"
#include "tests/test.h"

#define NOW_2024_05_02 ((time_t)1714608000) /* 2024-05-02T00:00:00Z */

static int read_src(const char *src, struct sl_job_header *h, struct sl_err *err)
{
    struct sl_job_header_opts o = { .now = NOW_2024_05_02 + 3600, .timeout_ms = 200 };
    return sl_job_header_read_opts("jobs/x.lua", src, strlen(src), &o, h, err);
}

/* Expects src to fail with code and exactly msg. */
static void expect_fail(const char *src, int code, const char *msg)
{
    struct sl_job_header h;
    struct sl_err err = { 0 };
    int rc = read_src(src, &h, &err);
    CHECKF(rc == code, "rc %d, want %d: %s", rc, code, err.msg);
    CHECK_STR(err.msg, msg);
    CHECK(h.name == NULL && h.args == NULL);
    sl_job_header_cleanup(&h);
}

TEST(design_example)
{
    const char *src =
        "-- jobs/page_views_daily.lua\n"
        "job {\n"
        "  name = \"page_views_daily\",\n"
        "  schedule = \"cron(0 2 * * ? *)\",         -- Glue cron syntax; 5-field cron too\n"
        "  args = { date = sluice.yesterday() },     -- overridable: --arg date=2024-05-01\n"
        "  bookmark = true,                          -- only read objects not seen before\n"
        "}\n"
        "\n"
        "function main(ctx)\n"
        "  local clicks = sluice.from_catalog{ database = \"weblogs\", table = \"clicks\",\n"
        "                                      push_down_predicate = \"dt = '\" .. ctx.args.date .. \"'\" }\n"
        "  local views = clicks\n"
        "    :filter(function(r) return r.status < 400 end)\n"
        "    :map(function(r) r.page = r.url:match(\"^/([^/?]*)\") or \"\"; return r end)\n"
        "    :group_by{ \"dt\", \"page\" }\n"
        "    :agg{ views = sluice.count(), users = sluice.count_distinct(\"user_id\") }\n"
        "  views:write{ to = \"postgres:analytics.page_views\", mode = \"merge\", keys = { \"dt\", \"page\" } }\n"
        "end\n";
    struct sl_job_header h;
    struct sl_err err = { 0 };
    CHECK_OK(read_src(src, &h, &err), &err);
    CHECK_STR(h.name, "page_views_daily");
    CHECK_STR(h.schedule, "cron(0 2 * * ? *)");
    CHECK(h.n_args == 1);
    CHECK_STR(sl_job_header_arg(&h, "date"), "2024-05-01");
    CHECK(h.bookmark);
    CHECK(h.line == 2);
    CHECK(h.max_concurrency == 1 && h.retries == 0 && h.timeout_ms == 0);
    CHECK(h.max_errors == 0 && !h.allow_files);
    sl_job_header_cleanup(&h);
    CHECK(h.name == NULL);
    sl_job_header_cleanup(&h); /* twice is fine */
}

TEST(minimal_and_all_fields)
{
    struct sl_job_header h;
    struct sl_err err = { 0 };
    CHECK_OK(read_src("job{name='a'}", &h, &err), &err);
    CHECK_STR(h.name, "a");
    CHECK(h.schedule == NULL && h.n_args == 0 && h.line == 1);
    sl_job_header_cleanup(&h);

    CHECK_OK(read_src("local t = sluice.today()\n"
                      "job{ name = 'Etl-1.x_y', schedule = '0 2 * * *', bookmark = false,\n"
                      "     max_concurrency = 4, timeout = 90.5, retries = 3, max_errors = 0.01,\n"
                      "     allow_files = true, args = { day = t } }\n"
                      "function main() error('never called') end\n",
                      &h, &err),
             &err);
    CHECK_STR(h.name, "Etl-1.x_y");
    CHECK_STR(h.schedule, "0 2 * * *");
    CHECK(!h.bookmark && h.max_concurrency == 4 && h.timeout_ms == 90500 && h.retries == 3);
    CHECK(h.max_errors == 0.01 && h.allow_files && h.line == 2);
    CHECK_STR(sl_job_header_arg(&h, "day"), "2024-05-02");
    sl_job_header_cleanup(&h);

    CHECK_OK(read_src("job{name='c', max_errors = 25, timeout = 3600}", &h, &err), &err);
    CHECK(h.max_errors == 25 && h.timeout_ms == 3600000);
    sl_job_header_cleanup(&h);

    /* the default limits */
    CHECK_OK(sl_job_header_read("jobs/d.lua", "job{name='d'}", 13, &h, &err), &err);
    CHECK_STR(h.name, "d");
    sl_job_header_cleanup(&h);
}

TEST(args_conversions)
{
    struct sl_job_header h;
    struct sl_err err = { 0 };
    CHECK_OK(read_src("job{ name = 'a', args = { s = 'x y', i = 42, f = 1.5, big = 1e100,\n"
                      "  neg = -7, t = true, fl = false, whole = 3.0, empty = '' } }",
                      &h, &err),
             &err);
    CHECK(h.n_args == 9);
    CHECK_STR(sl_job_header_arg(&h, "s"), "x y");
    CHECK_STR(sl_job_header_arg(&h, "i"), "42");
    CHECK_STR(sl_job_header_arg(&h, "f"), "1.5");
    CHECK_STR(sl_job_header_arg(&h, "big"), "1e+100");
    CHECK_STR(sl_job_header_arg(&h, "neg"), "-7");
    CHECK_STR(sl_job_header_arg(&h, "t"), "true");
    CHECK_STR(sl_job_header_arg(&h, "fl"), "false");
    CHECK_STR(sl_job_header_arg(&h, "whole"), "3.0");
    CHECK_STR(sl_job_header_arg(&h, "empty"), "");
    CHECK(sl_job_header_arg(&h, "nope") == NULL);
    for (size_t i = 1; i < h.n_args; i++)
        CHECK(strcmp(h.args[i - 1].key, h.args[i].key) < 0); /* sorted */
    sl_job_header_cleanup(&h);
}

TEST(validation_errors)
{
    expect_fail("x = 1", SL_ECONFIG, "jobs/x.lua: no job{...} declaration");
    expect_fail("job{}", SL_ECONFIG, "jobs/x.lua:1: job{...}: name is required");
    expect_fail("\n\njob{ name = 'a', nmae = 'b' }", SL_ECONFIG,
                "jobs/x.lua:3: job{...}: unknown key \"nmae\"");
    expect_fail("job{name='a'}\njob{name='b'}", SL_ECONFIG,
                "jobs/x.lua:2: job{...} declared twice (first at line 1)");
    expect_fail("job('a')", SL_ECONFIG, "jobs/x.lua:1: job{...} expects a table, got a string value");
    expect_fail("job{'a'}", SL_ECONFIG, "jobs/x.lua:1: job{...}: keys must be names, got a number key");
    expect_fail("job{name=1}", SL_ECONFIG,
                "jobs/x.lua:1: job{...}: name must be a string, got a number value");
    expect_fail("job{name='a b'}", SL_ECONFIG,
                "jobs/x.lua:1: job{...}: name \"a b\" must be 1 to 255 letters, digits, '_', '.' or '-'");
    expect_fail("job{name=''}", SL_ECONFIG,
                "jobs/x.lua:1: job{...}: name \"\" must be 1 to 255 letters, digits, '_', '.' or '-'");
    expect_fail("job{name=string.rep('a', 256)}", SL_ECONFIG,
                "jobs/x.lua:1: job{...}: name \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\" "
                "must be 1 to 255 letters, digits, '_', '.' or '-'");
    expect_fail("job{name='a', schedule=5}", SL_ECONFIG,
                "jobs/x.lua:1: job{...}: schedule must be a string, got a number value");
    expect_fail("job{name='a', schedule='a\\0b'}", SL_ECONFIG,
                "jobs/x.lua:1: job{...}: schedule must not contain NUL bytes");
    expect_fail("job{name='a', args='x'}", SL_ECONFIG,
                "jobs/x.lua:1: job{...}: args must be a table, got a string value");
    expect_fail("job{name='a', args={1}}", SL_ECONFIG,
                "jobs/x.lua:1: job{...}: args keys must be names, got a number key");
    expect_fail("job{name='a', args={['a b']=1}}", SL_ECONFIG,
                "jobs/x.lua:1: job{...}: args key \"a b\" must be 1 to 255 letters, digits, '_', "
                "'.' or '-'");
    expect_fail("job{name='a', args={d={}}}", SL_ECONFIG,
                "jobs/x.lua:1: job{...}: args.d must be a string, number or boolean, got a table "
                "value");
    expect_fail("job{name='a', bookmark='yes'}", SL_ECONFIG,
                "jobs/x.lua:1: job{...}: bookmark must be true or false, got a string value");
    expect_fail("job{name='a', allow_files=1}", SL_ECONFIG,
                "jobs/x.lua:1: job{...}: allow_files must be true or false, got a number value");
    expect_fail("job{name='a', max_concurrency=0}", SL_ECONFIG,
                "jobs/x.lua:1: job{...}: max_concurrency must be a whole number from 1 to 1000");
    expect_fail("job{name='a', max_concurrency=1.5}", SL_ECONFIG,
                "jobs/x.lua:1: job{...}: max_concurrency must be a whole number from 1 to 1000");
    expect_fail("job{name='a', retries=-1}", SL_ECONFIG,
                "jobs/x.lua:1: job{...}: retries must be a whole number from 0 to 100");
    expect_fail("job{name='a', retries='2'}", SL_ECONFIG,
                "jobs/x.lua:1: job{...}: retries must be a whole number from 0 to 100");
    expect_fail("job{name='a', timeout=0}", SL_ECONFIG,
                "jobs/x.lua:1: job{...}: timeout must be from 0.001 to 604800 seconds");
    expect_fail("job{name='a', timeout=0/0}", SL_ECONFIG,
                "jobs/x.lua:1: job{...}: timeout must be from 0.001 to 604800 seconds");
    expect_fail("job{name='a', timeout='1h'}", SL_ECONFIG,
                "jobs/x.lua:1: job{...}: timeout must be a number, got a string value");
    expect_fail("job{name='a', max_errors=-1}", SL_ECONFIG,
                "jobs/x.lua:1: job{...}: max_errors must be a row count (0, 1, 2, ...) or a "
                "fraction between 0 and 1");
    expect_fail("job{name='a', max_errors=2.5}", SL_ECONFIG,
                "jobs/x.lua:1: job{...}: max_errors must be a row count (0, 1, 2, ...) or a "
                "fraction between 0 and 1");
    expect_fail("job{name='a', max_errors=math.huge}", SL_ECONFIG,
                "jobs/x.lua:1: job{...}: max_errors must be a row count (0, 1, 2, ...) or a "
                "fraction between 0 and 1");
    /* pcall does not hide a bad declaration */
    expect_fail("pcall(job, {name='a', bad=1})", SL_ECONFIG,
                "jobs/x.lua:1: job{...}: unknown key \"bad\"");
}

TEST(script_errors)
{
    struct sl_job_header h;
    struct sl_err err = { 0 };
    CHECK(read_src("job{ name = 'a' \nend", &h, &err) == SL_EPARSE);
    CHECK_STR(err.msg, "jobs/x.lua:2: '}' expected (to close '{' at line 1) near 'end'");
    CHECK(read_src("job{ name = 'a', args = { d = sluice.from_catalog() } }", &h, &err) ==
          SL_ESCRIPT);
    CHECKF(strncmp(err.msg, "jobs/x.lua:1: attempt to call a nil value (field 'from_catalog')",
                   64) == 0,
           "%s", err.msg);
    CHECK(read_src("job{name='a'}\nlocal x = nil; x.y = 1", &h, &err) == SL_ESCRIPT);
    CHECK(h.name == NULL);
    CHECK(read_src("\033Lua", &h, &err) == SL_EPARSE);
    CHECK(read_src("job{name='a'} io.open('/etc/passwd')", &h, &err) == SL_ESCRIPT);
}

TEST(header_that_never_ends)
{
    struct sl_job_header h;
    struct sl_err err = { 0 };
    CHECK(read_src("job{name='a'}\nwhile true do end", &h, &err) == SL_ECANCELLED);
    CHECK_STR(err.msg, "jobs/x.lua:2: timed out after 200 ms");
    CHECK(read_src("job{name='a', args = { x = (function() while true do end end)() }}", &h,
                   &err) == SL_ECANCELLED);
    CHECK(h.name == NULL);
}

TEST(header_memory_cap)
{
    struct sl_job_header h;
    struct sl_err err = { 0 };
    struct sl_job_header_opts o = { .memory_cap = 1 << 20 };
    const char *src = "local t = {} for i = 1, 1e9 do t[i] = i end";
    CHECK(sl_job_header_read_opts("jobs/m.lua", src, strlen(src), &o, &h, &err) == SL_ENOMEM);
    CHECK_STR(err.msg, "jobs/m.lua: memory cap of 1048576 bytes reached");
}

int main(void)
{
    t_suite = "job_header/";
    RUN(design_example);
    RUN(minimal_and_all_fields);
    RUN(args_conversions);
    RUN(validation_errors);
    RUN(script_errors);
    RUN(header_that_never_ends);
    RUN(header_memory_cap);
    TEST_EXIT();
}
