/*
 * cli/cmd_load.c - `sluice load SOURCE_URI --into TARGET`: the pgloader-style
 * one-liner (issue 5). It is a job like any other: a fixed script (a source,
 * then write{} to the database) written into the run folder and run by
 * `sluice run`, so the load has the same guarantees (staging, one publishing
 * transaction, bad rows to the error output, max_errors), the same progress
 * bar and the same summary. The user's values reach the script only as
 * ctx.args, never as script text.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "runtime/alloc.h"

#define LOAD_MAX_ARGV 64

/* The script: every value comes from ctx.args. */
static const char load_script[] =
    "-- written by `sluice load`\n"
    "job { name = \"load\", max_errors = %s }\n"
    "local function split(s)\n"
    "  local t = {}\n"
    "  for k in (s or \"\"):gmatch(\"[^,]+\") do t[#t + 1] = k end\n"
    "  return t\n"
    "end\n"
    "function main(ctx)\n"
    "  local a = ctx.args\n"
    "  local options = {}\n"
    "  if a.header ~= \"\" then options.header = a.header == \"true\" end\n"
    "  if a.delimiter ~= \"\" then options.delimiter = a.delimiter end\n"
    "  local src = sluice.from_path{ uri = a.src, format = a.format, options = options }\n"
    "  local w = { to = a.into, mode = a.mode, create = a.create == \"true\",\n"
    "              add_columns = a.add_columns == \"true\" }\n"
    "  if a.keys ~= \"\" then w.keys = split(a.keys) end\n"
    "  src:write(w)\n"
    "end\n";

static void usage(FILE *f)
{
    fputs("usage: sluice load SOURCE_URI --into TARGET [options]\n"
          "\n"
          "Loads CSV, TSV or JSON files (a file, a folder or an s3:// prefix; compressed\n"
          "or not) into a PostgreSQL table, all or nothing: the rows go to a staging\n"
          "table over parallel COPY streams, and one transaction publishes them. Columns\n"
          "are typed by the crawler's inference. Runs as job \"load\" (see sluice run).\n"
          "\n"
          "  -i, --into TARGET     postgres:SCHEMA.TABLE (the catalog's database),\n"
          "                        postgres://USER@HOST/DB#SCHEMA.TABLE, or redshift://...\n"
          "      --mode MODE       append (default), overwrite or merge\n"
          "  -k, --keys A,B        merge keys (required for --mode merge)\n"
          "      --no-create       fail when the table does not exist (default: create it)\n"
          "      --add-columns     add columns the table lacks\n"
          "  -f, --format F        csv, tsv, json or jsonl (default: from the file name)\n"
          "      --header, --no-header  the first CSV line is (not) a header (default: inferred)\n"
          "  -d, --delimiter C     CSV delimiter (default: inferred)\n"
          "      --max-errors N    bad rows allowed: a count, or a fraction below 1 (default 0)\n"
          "  -w, --workers N       parallel streams (default: the online CPUs)\n"
          "      --errors URI      where rejected rows go (JSON Lines)\n"
          "      --json            print the result as one JSON object\n"
          "  -h, --help            print this help\n"
          "\n"
          "Exit status: 0 loaded, 1 the load failed (the table is as before), 2 usage, or a\n"
          "target that does not fit the rows (missing table, column mismatch).\n",
          f);
}

/* Format from the name: .csv .tsv .json .jsonl .ndjson, compression suffixes skipped. */
static const char *format_of(const char *uri)
{
    static const char *const comp[] = {".gz", ".gzip", ".zst", ".zstd", ".bz2", ".xz", NULL};
    char name[512];
    snprintf(name, sizeof name, "%s", uri);
    size_t n = strlen(name);
    for (const char *const *c = comp; *c; c++) {
        size_t cl = strlen(*c);
        if (n > cl && strcasecmp(name + n - cl, *c) == 0) {
            name[n - cl] = 0;
            break;
        }
    }
    const char *dot = strrchr(name, '.');
    if (dot && !strchr(dot, '/')) {
        if (strcasecmp(dot, ".tsv") == 0 || strcasecmp(dot, ".tab") == 0)
            return "tsv";
        if (strcasecmp(dot, ".json") == 0)
            return "json";
        if (strcasecmp(dot, ".jsonl") == 0 || strcasecmp(dot, ".ndjson") == 0)
            return "jsonl";
    }
    return "csv";
}

static bool valid_max_errors(const char *s)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    return *s && !*end && errno == 0 && v >= 0 && v < 1e15;
}

int cmd_load(int argc, char **argv)
{
    static const struct option lopts[] = {
        {"into", required_argument, NULL, 'i'},
        {"mode", required_argument, NULL, 'M'},
        {"keys", required_argument, NULL, 'k'},
        {"no-create", no_argument, NULL, 'C'},
        {"add-columns", no_argument, NULL, 'A'},
        {"format", required_argument, NULL, 'f'},
        {"header", no_argument, NULL, 'H'},
        {"no-header", no_argument, NULL, 'N'},
        {"delimiter", required_argument, NULL, 'd'},
        {"max-errors", required_argument, NULL, 'E'},
        {"workers", required_argument, NULL, 'w'},
        {"errors", required_argument, NULL, 'e'},
        {"json", no_argument, NULL, 'J'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    const char *into = NULL, *mode = "append", *keys = "", *format = NULL, *header = "";
    const char *delimiter = "", *max_errors = "0", *workers = NULL, *errors = NULL;
    bool create = true, add_columns = false, json = false;
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "i:k:f:d:w:h", lopts, NULL)) != -1) {
        switch (c) {
        case 'i': into = optarg; break;
        case 'M': mode = optarg; break;
        case 'k': keys = optarg; break;
        case 'C': create = false; break;
        case 'A': add_columns = true; break;
        case 'f': format = optarg; break;
        case 'H': header = "true"; break;
        case 'N': header = "false"; break;
        case 'd': delimiter = optarg; break;
        case 'E': max_errors = optarg; break;
        case 'w': workers = optarg; break;
        case 'e': errors = optarg; break;
        case 'J': json = true; break;
        case 'h': usage(stdout); return SL_EXIT_OK;
        default: return cli_usage_error("load", "unknown option");
        }
    }
    if (optind + 1 != argc)
        return cli_usage_error("load", "expected one SOURCE_URI, got %d", argc - optind);
    if (!into)
        return cli_usage_error("load", "--into TARGET is required (e.g. postgres:public.flights)");
    if (strcmp(mode, "append") != 0 && strcmp(mode, "overwrite") != 0 &&
        strcmp(mode, "merge") != 0)
        return cli_usage_error("load", "--mode must be append, overwrite or merge");
    if (strcmp(mode, "merge") == 0 && !keys[0])
        return cli_usage_error("load", "--mode merge needs --keys");
    if (!valid_max_errors(max_errors))
        return cli_usage_error("load", "--max-errors must be a count or a fraction below 1");
    const char *src = argv[optind];
    if (!format)
        format = format_of(src);
    if (strcmp(format, "csv") != 0 && strcmp(format, "tsv") != 0 &&
        strcmp(format, "json") != 0 && strcmp(format, "jsonl") != 0)
        return cli_usage_error("load", "--format must be csv, tsv, json or jsonl");

    /* the script goes to a private temporary file */
    char path[] = "/tmp/sluice-load-XXXXXX.lua";
    int fd = mkstemps(path, 4);
    if (fd < 0) {
        struct sl_err e = {0};
        sl_err_sys(&e, SL_EIO, errno, "cannot create a temporary script");
        return cli_fail("load", &e);
    }
    FILE *f = fdopen(fd, "w");
    if (!f || fprintf(f, load_script, max_errors) < 0 || fclose(f) != 0) {
        fprintf(stderr, "sluice load: cannot write %s\n", path);
        unlink(path);
        return SL_EXIT_FAIL;
    }

    char *kv[16];
    size_t n_kv = 0;
    kv[n_kv++] = sl_asprintf("src=%s", src);
    kv[n_kv++] = sl_asprintf("into=%s", into);
    kv[n_kv++] = sl_asprintf("mode=%s", mode);
    kv[n_kv++] = sl_asprintf("keys=%s", keys);
    kv[n_kv++] = sl_asprintf("format=%s", format);
    kv[n_kv++] = sl_asprintf("header=%s", header);
    kv[n_kv++] = sl_asprintf("delimiter=%s", delimiter);
    kv[n_kv++] = sl_asprintf("create=%s", create ? "true" : "false");
    kv[n_kv++] = sl_asprintf("add_columns=%s", add_columns ? "true" : "false");
    char *rargv[LOAD_MAX_ARGV];
    int rargc = 0;
    rargv[rargc++] = "run";
    rargv[rargc++] = path;
    for (size_t i = 0; i < n_kv; i++) {
        rargv[rargc++] = "--arg";
        rargv[rargc++] = kv[i] ? kv[i] : "oom=";
    }
    if (workers) {
        rargv[rargc++] = "--workers";
        rargv[rargc++] = (char *)workers;
    }
    if (errors) {
        rargv[rargc++] = "--errors";
        rargv[rargc++] = (char *)errors;
    }
    if (json)
        rargv[rargc++] = "--json";
    rargv[rargc] = NULL;
    optind = 1;
    int rc = cmd_run(rargc, rargv);
    for (size_t i = 0; i < n_kv; i++)
        sl_free(kv[i]);
    unlink(path);
    return rc;
}
