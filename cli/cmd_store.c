/*
 * cli/cmd_store.c - `sluice ls` and `sluice cp`: the object store from the
 * command line (local paths, file:// and s3:// URIs, in any combination).
 */
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli/cli.h"
#include "runtime/alloc.h"
#include "runtime/store.h"
#include "runtime/store_copy.h"

/* ---- ls ---- */

static void ls_usage(FILE *f)
{
    fprintf(f, "usage: sluice ls [--recursive] [--json] URI\n"
               "\n"
               "Lists the objects under a local path or an s3:// prefix, like `aws s3 ls`:\n"
               "folders (common prefixes) as PRE lines unless --recursive.\n"
               "\n"
               "  -r, --recursive  list every object below the prefix\n"
               "      --json       print {\"Contents\":[...],\"CommonPrefixes\":[...]} as S3 does\n");
}

struct ls_ctx {
    size_t strip;        /* bytes of the key to hide (the folder part of the prefix) */
    json_t *contents;    /* with --json */
    json_t *prefixes;
    int64_t n_objects, n_bytes;
};

static void fmt_time(int64_t ms, char *out, size_t len, int iso)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, len, iso ? "%Y-%m-%dT%H:%M:%S.000Z" : "%Y-%m-%d %H:%M:%S", &tm);
}

static int ls_one(void *ud, const struct sl_obj_info *o)
{
    struct ls_ctx *c = ud;
    char ts[40];
    if (c->contents) {
        if (o->is_prefix) {
            json_array_append_new(c->prefixes, json_pack("{s:s}", "Prefix", o->key));
        } else {
            fmt_time(o->mtime_ms, ts, sizeof ts, 1);
            json_array_append_new(c->contents,
                                  json_pack("{s:s,s:s,s:s,s:I}", "Key", o->key, "LastModified", ts,
                                            "ETag", o->etag, "Size", (json_int_t)o->size));
        }
    } else if (o->is_prefix) {
        printf("%30s %s\n", "PRE", o->key + c->strip);
    } else {
        fmt_time(o->mtime_ms, ts, sizeof ts, 0);
        printf("%s %10" PRId64 " %s\n", ts, o->size, o->key + c->strip);
    }
    if (!o->is_prefix) {
        c->n_objects++;
        c->n_bytes += o->size;
    }
    return 0;
}

int cmd_ls(int argc, char **argv)
{
    static const struct option opts[] = {
        { "recursive", no_argument, NULL, 'r' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { 0 },
    };
    int recursive = 0, json = cli_json, c;
    struct sl_err err = { 0 };
    char *key = NULL;
    struct ls_ctx ctx = { 0 };

    while ((c = getopt_long(argc, argv, "rh", opts, NULL)) != -1) {
        switch (c) {
        case 'r': recursive = 1; break;
        case 'j': json = 1; break;
        case 'h': ls_usage(stdout); return SL_EXIT_OK;
        default: return cli_usage_error("ls", "bad option");
        }
    }
    if (optind + 1 != argc)
        return cli_usage_error("ls", "expected one URI");
    const char *uri = argv[optind];
    struct sl_store *st = sl_store_open(uri, &key, &err);
    if (!st)
        return cli_fail("ls", &err);

    /* "dir" and "dir/" both list the folder's contents, as `aws s3 ls` does when
     * the name is a folder; a partial name ("dir/par") lists what starts with it */
    char *prefix = key;
    if (key[0] && key[strlen(key) - 1] != '/') {
        struct sl_obj_info info;
        struct sl_err herr = { 0 };
        if (strcmp(sl_store_scheme(st), "file") == 0) {
            char path[4096];
            struct stat sb;
            snprintf(path, sizeof path, "/%s", key);
            if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
                prefix = sl_asprintf("%s/", key);
        } else if (sl_store_head(st, key, &info, &herr) != SL_OK) {
            prefix = sl_asprintf("%s/", key);
        }
        if (!prefix) {
            sl_err_set(&err, SL_ENOMEM, "out of memory");
            goto fail;
        }
    }
    const char *slash = strrchr(prefix, '/');
    ctx.strip = slash ? (size_t)(slash - prefix) + 1 : 0; /* names relative to the folder */
    if (json) {
        ctx.contents = json_array();
        ctx.prefixes = json_array();
    }
    if (sl_store_list(st, prefix, recursive ? NULL : "/", ls_one, &ctx, &err) != SL_OK)
        goto fail;
    if (json) {
        json_t *doc = json_pack("{s:o,s:o,s:I}", "Contents", ctx.contents, "CommonPrefixes",
                                ctx.prefixes, "KeyCount", (json_int_t)ctx.n_objects);
        ctx.contents = ctx.prefixes = NULL;
        json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        fputc('\n', stdout);
        json_decref(doc);
    }
    if (prefix != key)
        sl_free(prefix);
    sl_free(key);
    sl_store_free(st);
    return SL_EXIT_OK;
fail:
    json_decref(ctx.contents);
    json_decref(ctx.prefixes);
    if (prefix != key)
        sl_free(prefix);
    sl_free(key);
    sl_store_free(st);
    return cli_fail("ls", &err);
}

/* ---- cp ---- */

static void cp_usage(FILE *f)
{
    fprintf(f, "usage: sluice cp [--recursive] [--quiet] SRC DST\n"
               "\n"
               "Copies an object (or, with --recursive, everything under a prefix) between\n"
               "local paths, file:// and s3:// URIs. A DST ending in '/' (or an existing\n"
               "local folder) receives the source's file name. Objects appear only when\n"
               "complete: S3 uploads are multipart above 8 MiB and aborted on failure.\n"
               "\n"
               "  -r, --recursive  copy every object below SRC, keeping relative names\n"
               "  -q, --quiet      print nothing on success\n");
}

static int is_local_dir(struct sl_store *st, const char *key)
{
    char path[4096];
    struct stat sb;
    if (strcmp(sl_store_scheme(st), "file") != 0)
        return 0;
    snprintf(path, sizeof path, "/%s", key);
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* The destination key for src_key: dst_key itself, or dst_key + '/' + base name
 * when dst_key names a folder. Owned (sl_free). */
static char *dest_key(struct sl_store *dst, const char *dst_key, const char *src_key)
{
    const char *base = strrchr(src_key, '/');
    base = base ? base + 1 : src_key;
    size_t n = strlen(dst_key);
    if (n == 0 || dst_key[n - 1] == '/')
        return sl_asprintf("%s%s", dst_key, base);
    if (is_local_dir(dst, dst_key))
        return sl_asprintf("%s/%s", dst_key, base);
    return sl_strdup(dst_key);
}

struct cp_all {
    struct sl_store *src, *dst;
    const char *src_prefix, *dst_prefix;
    int quiet;
    int64_t n_objects, n_bytes;
    struct sl_err *err;
};

static int cp_one(struct cp_all *a, const char *skey, const char *dkey)
{
    int64_t n = 0;
    int rc = sl_store_copy(a->src, skey, a->dst, dkey, &n, a->err);
    if (rc != SL_OK)
        return rc;
    a->n_objects++;
    a->n_bytes += n;
    if (!a->quiet) {
        char *s = sl_store_uri(a->src, skey);
        char *d = sl_store_uri(a->dst, dkey);
        printf("copy: %s to %s\n", s ? s : skey, d ? d : dkey);
        sl_free(s);
        sl_free(d);
    }
    return SL_OK;
}

/* Objects of a recursive copy are collected first: copying while listing a
 * prefix that contains the destination would copy its own output. */
struct key_list {
    char **keys;
    size_t n, cap;
};

static int collect(void *ud, const struct sl_obj_info *o)
{
    struct key_list *l = ud;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        char **p = sl_realloc(l->keys, cap * sizeof *p);
        if (!p)
            return SL_ENOMEM;
        l->keys = p;
        l->cap = cap;
    }
    if (!(l->keys[l->n] = sl_strdup(o->key)))
        return SL_ENOMEM;
    l->n++;
    return SL_OK;
}

static int cp_recursive(struct cp_all *a)
{
    struct key_list l = { 0 };
    int rc = sl_store_list(a->src, a->src_prefix, NULL, collect, &l, a->err);
    if (rc == SL_ENOMEM && a->err->code == SL_OK)
        sl_err_set(a->err, SL_ENOMEM, "out of memory");
    size_t plen = strlen(a->src_prefix);
    for (size_t i = 0; rc == SL_OK && i < l.n; i++) {
        char *dkey = sl_asprintf("%s%s", a->dst_prefix, l.keys[i] + plen);
        if (!dkey) {
            rc = sl_err_set(a->err, SL_ENOMEM, "out of memory");
            break;
        }
        rc = cp_one(a, l.keys[i], dkey);
        sl_free(dkey);
    }
    for (size_t i = 0; i < l.n; i++)
        sl_free(l.keys[i]);
    sl_free(l.keys);
    return rc;
}

/* key + '/' unless it is empty or already ends with one. Owned. */
static char *as_prefix(const char *key)
{
    size_t n = strlen(key);
    if (n == 0 || key[n - 1] == '/')
        return sl_strdup(key);
    return sl_asprintf("%s/", key);
}

int cmd_cp(int argc, char **argv)
{
    static const struct option opts[] = {
        { "recursive", no_argument, NULL, 'r' },
        { "quiet", no_argument, NULL, 'q' },
        { "help", no_argument, NULL, 'h' },
        { 0 },
    };
    int recursive = 0, quiet = 0, c, rc;
    struct sl_err err = { 0 };
    char *skey = NULL, *dkey = NULL, *sprefix = NULL, *dprefix = NULL, *target = NULL;
    struct sl_store *src = NULL, *dst = NULL;

    while ((c = getopt_long(argc, argv, "rqh", opts, NULL)) != -1) {
        switch (c) {
        case 'r': recursive = 1; break;
        case 'q': quiet = 1; break;
        case 'h': cp_usage(stdout); return SL_EXIT_OK;
        default: return cli_usage_error("cp", "bad option");
        }
    }
    if (optind + 2 != argc)
        return cli_usage_error("cp", "expected SRC and DST");
    if (!(src = sl_store_open(argv[optind], &skey, &err)))
        goto fail;
    if (!(dst = sl_store_open(argv[optind + 1], &dkey, &err)))
        goto fail;
    struct cp_all a = { .src = src, .dst = dst, .quiet = quiet, .err = &err };
    if (recursive) {
        sprefix = as_prefix(skey);
        dprefix = as_prefix(dkey);
        if (!sprefix || !dprefix) {
            sl_err_set(&err, SL_ENOMEM, "out of memory");
            goto fail;
        }
        a.src_prefix = sprefix;
        a.dst_prefix = dprefix;
        rc = cp_recursive(&a);
    } else {
        if (!skey[0] || skey[strlen(skey) - 1] == '/' || is_local_dir(src, skey)) {
            sl_err_set(&err, SL_ECONFIG, "\"%s\" is a folder; use --recursive", argv[optind]);
            goto fail;
        }
        if (!(target = dest_key(dst, dkey, skey))) {
            sl_err_set(&err, SL_ENOMEM, "out of memory");
            goto fail;
        }
        rc = cp_one(&a, skey, target);
    }
    if (rc != SL_OK)
        goto fail;
    if (!quiet && recursive)
        printf("copied %" PRId64 " objects, %" PRId64 " bytes\n", a.n_objects, a.n_bytes);
    rc = SL_EXIT_OK;
    goto out;
fail:
    rc = cli_fail("cp", &err);
out:
    sl_free(skey);
    sl_free(dkey);
    sl_free(sprefix);
    sl_free(dprefix);
    sl_free(target);
    sl_store_free(src);
    sl_store_free(dst);
    return rc;
}
