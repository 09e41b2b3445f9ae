/*
 * tests/crawler/test_glob.c - exclude globs and skip rules of spec/crawler.md
 * §3 (crawler/glob.c): every example of §3, classes, braces, escapes, folder
 * exclusion, malformed patterns, the skip statuses of T32, and patterns that
 * would make a backtracking matcher explode.
 */
#include <string.h>

#include "crawler/glob.h"
#include "runtime/alloc.h"
#include "tests/test.h"

#define MATCH(p, k)    CHECKF(sl_glob_match((p), (k)), "\"%s\" should match \"%s\"", (p), (k))
#define NO_MATCH(p, k) CHECKF(!sl_glob_match((p), (k)), "\"%s\" should not match \"%s\"", (p), (k))

TEST(spec_examples)
{
    /* "*.csv" drops top-level csv only */
    MATCH("*.csv", "a.csv");
    NO_MATCH("*.csv", "dir/a.csv");
    NO_MATCH("*.csv", "a.csv.gz");
    /* "**.csv": every csv */
    MATCH("**.csv", "a.csv");
    MATCH("**.csv", "dir/sub/a.csv");
    NO_MATCH("**.csv", "dir/a.json");
    /* "dept/" + "**": everything under dept/ */
    MATCH("dept/**", "dept/a.csv");
    MATCH("dept/**", "dept/x/y/z.json");
    NO_MATCH("dept/**", "department/a.csv");
    NO_MATCH("dept/**", "x/dept/a.csv");
    /* "2015/0[2-9]/" + "**": February-September */
    MATCH("2015/0[2-9]/**", "2015/02/a.csv");
    MATCH("2015/0[2-9]/**", "2015/09/d/a.csv");
    NO_MATCH("2015/0[2-9]/**", "2015/01/a.csv");
    NO_MATCH("2015/0[2-9]/**", "2015/10/a.csv");
    /* the defaults of §2 */
    MATCH("**/_tmp/**", "a/_tmp/x");
    NO_MATCH("**/_tmp/**", "_tmp/x"); /* ** is a run of characters, not "zero folders" */
    MATCH("**.bak", "x/y.bak");
    /* T41 */
    MATCH("departments/**", "departments/hr/a.csv");
    MATCH("**.tmp", "a/b/c.tmp");
}

TEST(stars_and_question)
{
    MATCH("*", "abc");
    MATCH("*", "");
    NO_MATCH("*", "a/b");
    MATCH("**", "a/b/c");
    MATCH("**", "");
    MATCH("***", "a/b"); /* three or more stars are ** */
    MATCH("a*b*c", "axxbyyc");
    NO_MATCH("a*b*c", "axxbyy");
    MATCH("*/*.csv", "d/a.csv");
    NO_MATCH("*/*.csv", "d/e/a.csv");
    MATCH("?.csv", "a.csv");
    NO_MATCH("?.csv", "ab.csv");
    NO_MATCH("a?b", "a/b"); /* ? never matches / */
    MATCH("a?b", "a.b");
    MATCH(".*", ".hidden"); /* a leading . is ordinary */
    MATCH("*", ".hidden");
    MATCH("**/*.csv", "x/a.csv");
    NO_MATCH("**/*.csv", "a.csv");
    MATCH("", "");
    NO_MATCH("", "a");
    NO_MATCH("abc", "abcd");
    NO_MATCH("abcd", "abc");
}

TEST(classes)
{
    MATCH("[abc].csv", "b.csv");
    NO_MATCH("[abc].csv", "d.csv");
    MATCH("[a-z]1", "q1");
    NO_MATCH("[a-z]1", "Q1");
    MATCH("[!a-c]x", "dx");
    NO_MATCH("[!a-c]x", "bx");
    NO_MATCH("[!a-c]x", "/x"); /* a class never matches / */
    MATCH("[-a]", "-");        /* - literal when first */
    MATCH("[a-]", "-");        /* and when last */
    MATCH("[]a]", "]");        /* ] literal when first */
    MATCH("[!]]", "x");
    NO_MATCH("[!]]", "]");
    MATCH("[*?\\]", "*"); /* * ? \ literal inside brackets */
    MATCH("[*?\\]", "?");
    MATCH("[*?\\]", "\\");
    NO_MATCH("[*?\\]", "a");
    MATCH("[0-9][0-9]", "42");
    MATCH("x[\x80-\xff]", "x\xc3"); /* bytes above 127 */
}

TEST(braces_and_escapes)
{
    MATCH("{a,b}.csv", "a.csv");
    MATCH("{a,b}.csv", "b.csv");
    NO_MATCH("{a,b}.csv", "c.csv");
    MATCH("x{,y}z", "xz");
    MATCH("x{,y}z", "xyz");
    MATCH("{*.csv,**.json}", "a.csv");
    MATCH("{*.csv,**.json}", "d/a.json");
    NO_MATCH("{*.csv,**.json}", "d/a.csv");
    MATCH("{dept,hr}/**", "hr/x");
    MATCH("{a,b}{c,d}", "bd");
    MATCH("a,b}", "a,b}"); /* , and } are literal outside braces */
    MATCH("\\*.csv", "*.csv");
    NO_MATCH("\\*.csv", "a.csv");
    MATCH("a\\{b\\}", "a{b}");
    MATCH("\\[x]", "[x]");
    MATCH("a\\\\b", "a\\b");
    MATCH("{\\,,x}", ",");
}

TEST(folder_exclusion)
{
    CHECK(sl_glob_excludes_folder("dept/**", "dept/"));
    CHECK(sl_glob_excludes_folder("dept/**", "dept"));
    CHECK(sl_glob_excludes_folder("dept/**", "dept/sub/"));
    CHECK(!sl_glob_excludes_folder("dept/**", "department/"));
    CHECK(!sl_glob_excludes_folder("dept/**", "x/"));
    CHECK(sl_glob_excludes_folder("2015/0[2-9]/**", "2015/03/"));
    CHECK(!sl_glob_excludes_folder("2015/0[2-9]/**", "2015/10/"));
    CHECK(!sl_glob_excludes_folder("2015/0[2-9]/**", "2015/"));
    CHECK(sl_glob_excludes_folder("**/_tmp/**", "a/b/_tmp/"));
    CHECK(sl_glob_excludes_folder("{a,b}/**", "b/"));
    CHECK(sl_glob_excludes_folder("**", ""));
    CHECK(sl_glob_excludes_folder("departments/**", "departments/"));
    /* patterns that do not end in ** never exclude a whole folder */
    CHECK(!sl_glob_excludes_folder("**.csv", "a/"));
    CHECK(!sl_glob_excludes_folder("dept/*", "dept/"));
    CHECK(!sl_glob_excludes_folder("dept/", "dept/"));
    CHECK(!sl_glob_excludes_folder("[", "x/"));

    struct sl_err err;
    struct sl_glob *g = sl_glob_new("logs/20{19,20}/**", &err);
    CHECK(g != NULL);
    CHECK(sl_glob_covers_folder(g, "logs/2019/"));
    CHECK(!sl_glob_covers_folder(g, "logs/2021/"));
    CHECK(sl_glob_matches(g, "logs/2020/01/a.json"));
    sl_glob_free(g);
    sl_glob_free(NULL);
}

TEST(malformed)
{
    static const char *bad[] = {"[abc",    "[",     "[!",    "[]",    "a{b,c",
                                "{a,{b}}", "abc\\", "[z-a]", "[a/b]", "{"};
    for (size_t i = 0; i < SL_ARRAY_LEN(bad); i++) {
        struct sl_err err;
        sl_err_clear(&err);
        CHECKF(sl_glob_check(bad[i], &err) == SL_ECONFIG, "\"%s\"", bad[i]);
        CHECKF(err.code == SL_ECONFIG && strstr(err.msg, bad[i]) != NULL, "%s", err.msg);
        CHECK(sl_glob_new(bad[i], &err) == NULL);
        CHECK(!sl_glob_match(bad[i], bad[i])); /* matches nothing */
    }
    struct sl_err err;
    CHECK(sl_glob_check("{a,b}/[!x]*\\?", &err) == SL_OK);
    CHECK(sl_glob_check("a}", &err) == SL_OK);
    CHECK(sl_glob_check("[a", NULL) == SL_ECONFIG);
    sl_glob_check("[z-a]", &err);
    CHECK(strstr(err.msg, "reversed range") != NULL);
    sl_glob_check("{a,{b}}", &err);
    CHECK(strstr(err.msg, "nested") != NULL);
}

TEST(no_exponential_blowup)
{
    /* A backtracking matcher takes ages here; the set walk is linear. */
    char pat[512], key[512];
    size_t n = 0;
    for (int i = 0; i < 30; i++) {
        pat[n++] = 'a';
        pat[n++] = '*';
    }
    pat[n++] = 'b';
    pat[n] = '\0';
    memset(key, 'a', 300);
    key[300] = '\0';
    NO_MATCH(pat, key);
    key[299] = 'b';
    MATCH(pat, key);
    /* long patterns walk on the heap */
    char longp[2000];
    memset(longp, '?', 1000);
    longp[1000] = '\0';
    memset(key, 0, sizeof key);
    NO_MATCH(longp, "short");
    sl_alloc_fail_reset(1);
    CHECK(!sl_glob_match("*.csv", "a.csv")); /* OOM: matches nothing */
    sl_alloc_fail_reset(0);
}

TEST(t32_skip_statuses)
{
    CHECK_STR(sl_crawl_skip_status("a.csv", 0, NULL, true), "skipped_empty");
    CHECK_STR(sl_crawl_skip_status("_SUCCESS", 0, NULL, true), "skipped_hidden");
    CHECK_STR(sl_crawl_skip_status("x_$folder$", 0, NULL, true), "skipped_marker");
    CHECK_STR(sl_crawl_skip_status(".hidden/y.csv", 10, NULL, true), "skipped_hidden");
    CHECK_STR(sl_crawl_skip_status("z/", 0, NULL, true), "skipped_marker");
    /* more of §3 */
    CHECK_STR(sl_crawl_skip_status("d/_temporary/0/p.csv", 5, NULL, true), "skipped_hidden");
    CHECK(sl_crawl_skip_status("d/p.csv.crc", 5, NULL, true) == NULL);
    CHECK_STR(sl_crawl_skip_status("d/.p.csv.crc", 5, NULL, true), "skipped_hidden");
    CHECK_STR(sl_crawl_skip_status("d/.spark-staging/x", 5, NULL, true), "skipped_hidden");
    CHECK_STR(sl_crawl_skip_status("d/_committed_123", 5, NULL, true), "skipped_hidden");
    CHECK_STR(sl_crawl_skip_status("d/a.csv", 5, "GLACIER", true), "skipped_archived");
    CHECK_STR(sl_crawl_skip_status("d/a.csv", 5, "DEEP_ARCHIVE", true), "skipped_archived");
    CHECK(sl_crawl_skip_status("d/a.csv", 5, "GLACIER_IR", true) == NULL);
    CHECK(sl_crawl_skip_status("d/a.csv", 5, "STANDARD", true) == NULL);
    CHECK(sl_crawl_skip_status("d/a.csv", 5, NULL, true) == NULL);
    CHECK(sl_crawl_skip_status("d/a_b.csv", 5, NULL, true) == NULL);
    /* ignore_hidden=false crawls hidden keys, never markers */
    CHECK(sl_crawl_skip_status("_SUCCESS", 3, NULL, false) == NULL);
    CHECK_STR(sl_crawl_skip_status("_SUCCESS", 0, NULL, false), "skipped_empty");
    CHECK_STR(sl_crawl_skip_status("0_$folder$", 0, NULL, false), "skipped_marker");
    CHECK_STR(sl_crawl_skip_status("z/", 0, NULL, false), "skipped_marker");
}

int main(void)
{
    t_suite = "glob/";
    RUN(spec_examples);
    RUN(stars_and_question);
    RUN(classes);
    RUN(braces_and_escapes);
    RUN(folder_exclusion);
    RUN(malformed);
    RUN(no_exponential_blowup);
    RUN(t32_skip_statuses);
    TEST_EXIT();
}
