/*
 * tests/crawler/test_group.c - grouping objects into tables and partitions
 * (crawler/group.c, spec/crawler.md §10): the worked examples A-H of §10.4,
 * T36-T38, T40, T43, and the warnings of §10.3 (stray files, incompatible
 * files, outliers, mixed naming, uneven depth, key collisions, name
 * collisions), table parameters (§11.2) and a 10,000-object input. Objects
 * are built by hand: no I/O, no classifier.
 */
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "crawler/ctype.h"
#include "crawler/glob.h"
#include "crawler/group.h"
#include "runtime/alloc.h"
#include "tests/test.h"

#define CSV_KEY "csv|,|\"|\"|UTF-8"

/* ---- Fixtures ---- */

struct fx {
    struct sl_gobject *objs;
    struct sl_cschema *schemas;
    json_t **fps, **evs;
    size_t n, cap;
};

static void fx_init(struct fx *f, size_t cap)
{
    memset(f, 0, sizeof *f);
    f->cap = cap;
    f->objs = calloc(cap, sizeof *f->objs);
    f->schemas = calloc(cap, sizeof *f->schemas);
    f->fps = calloc(cap, sizeof *f->fps);
    f->evs = calloc(cap, sizeof *f->evs);
}

static void fx_cleanup(struct fx *f)
{
    for (size_t i = 0; i < f->n; i++) {
        sl_cschema_cleanup(&f->schemas[i]);
        json_decref(f->fps[i]);
        json_decref(f->evs[i]);
        free((char *)f->objs[i].key);
    }
    free(f->objs);
    free(f->schemas);
    free(f->fps);
    free(f->evs);
}

static enum sl_ct_kind kind_of(const char *t, size_t n)
{
    static const struct {
        const char *name;
        enum sl_ct_kind kind;
    } kinds[] = {{"null", SL_CT_NULL},     {"boolean", SL_CT_BOOLEAN}, {"int", SL_CT_INT},
                 {"bigint", SL_CT_BIGINT}, {"double", SL_CT_DOUBLE},   {"date", SL_CT_DATE},
                 {"string", SL_CT_STRING}};
    for (size_t i = 0; i < SL_ARRAY_LEN(kinds); i++)
        if (strlen(kinds[i].name) == n && memcmp(kinds[i].name, t, n) == 0)
            return kinds[i].kind;
    return SL_CT_STRING;
}

/* "a:bigint,b:string" -> schema */
static void parse_schema(struct sl_cschema *s, const char *spec)
{
    struct sl_err err;
    const char *p = spec;
    while (p && *p) {
        const char *colon = strchr(p, ':');
        const char *comma = strchr(p, ',');
        size_t tl = comma ? (size_t)(comma - colon - 1) : strlen(colon + 1);
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(colon - p), p);
        sl_cschema_add_take(s, name, NULL, sl_ctype_new(kind_of(colon + 1, tl)), &err);
        s->cols[s->n_cols - 1].n_values = 1;
        p = comma ? comma + 1 : NULL;
    }
}

/* Adds an object; classification "csv" gets the default csv compat key. */
static struct sl_gobject *fx_add(struct fx *f, const char *key, const char *cls, const char *spec)
{
    if (f->n == f->cap)
        abort(); /* fixture too small: a bug in the test */
    size_t i = f->n++;
    struct sl_gobject *o = &f->objs[i];
    o->key = strdup(key);
    o->classification = cls;
    o->compat_key = cls && strcmp(cls, "csv") == 0 ? CSV_KEY : cls;
    o->compression = "none";
    o->size = 100;
    o->record_estimate = 10;
    o->avg_record_bytes = 10;
    if (spec)
        parse_schema(&f->schemas[i], spec);
    o->schema = &f->schemas[i];
    f->fps[i] = json_object();
    if (cls && strcmp(cls, "csv") == 0)
        json_object_set_new(f->fps[i], "delimiter", json_string(","));
    o->format_params = f->fps[i];
    return o;
}

static void fx_set_evidence(struct fx *f, struct sl_gobject *o, const char *json)
{
    size_t i = (size_t)(o - f->objs);
    json_error_t je;
    f->evs[i] = json_loads(json, 0, &je);
    if (!f->evs[i])
        printf("# bad evidence json: %s\n", je.text);
    o->header_evidence = f->evs[i];
}

static void fx_set_param(struct fx *f, struct sl_gobject *o, const char *k, const char *v)
{
    json_object_set_new(f->fps[o - f->objs], k, json_string(v));
}

/* ---- Result helpers ---- */

static const struct sl_gtable *find_table(const struct sl_gresult *r, const char *name)
{
    for (size_t i = 0; i < r->n_tables; i++)
        if (strcmp(r->tables[i].name, name) == 0)
            return &r->tables[i];
    return NULL;
}

static const char *param(const struct sl_gtable *t, const char *k)
{
    return t ? json_string_value(json_object_get(t->params, k)) : NULL;
}

static size_t count_warnings(const struct sl_gresult *r, const char *code, const char *subject)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n_warnings; i++)
        if (strcmp(r->warnings[i].code, code) == 0 &&
            (!subject || strcmp(r->warnings[i].subject, subject) == 0))
            n++;
    return n;
}

static bool is_excluded(const struct fx *f, const struct sl_gresult *r, const char *key)
{
    for (size_t i = 0; i < r->n_excluded; i++)
        if (strcmp(f->objs[r->excluded[i]].key, key) == 0)
            return true;
    return false;
}

/* "2019,01,01" against a partition's values; "NULL" stands for a NULL value. */
static bool values_are(const struct sl_gtable *t, size_t p, const char *csv)
{
    char buf[256];
    size_t k = 0;
    snprintf(buf, sizeof buf, "%s", csv);
    char *save = NULL;
    for (char *v = strtok_r(buf, ",", &save); v; v = strtok_r(NULL, ",", &save), k++) {
        if (k >= t->n_partition_keys)
            return false;
        const char *got = t->partitions[p].values[k];
        if (strcmp(v, "NULL") == 0 ? got != NULL : (!got || strcmp(got, v) != 0))
            return false;
    }
    return k == t->n_partition_keys;
}

static bool keys_are(const struct sl_gtable *t, const char *csv)
{
    char buf[256];
    size_t k = 0;
    snprintf(buf, sizeof buf, "%s", csv);
    char *save = NULL;
    for (char *v = strtok_r(buf, ",", &save); v; v = strtok_r(NULL, ",", &save), k++)
        if (k >= t->n_partition_keys || strcmp(t->partition_keys[k], v) != 0)
            return false;
    return k == t->n_partition_keys;
}

/* "a:bigint,b:string" against the table's columns. */
static bool columns_are(const struct sl_gtable *t, const char *spec)
{
    struct sl_buf b;
    struct sl_err err;
    bool ok;
    sl_buf_init(&b, 0);
    for (size_t i = 0; i < t->schema.n_cols; i++) {
        char *ty = sl_ctype_to_string(t->schema.cols[i].type);
        sl_buf_printf(&b, &err, "%s%s:%s", i ? "," : "", t->schema.cols[i].name, ty);
        sl_free(ty);
    }
    ok = strcmp(b.data ? b.data : "", spec) == 0;
    if (!ok)
        printf("#   columns: %s, expected %s\n", b.data ? b.data : "", spec);
    sl_buf_cleanup(&b);
    return ok;
}

/* Invariants of every result: each excluded object has a warning naming it,
 * no object is both in a table and excluded, tables are sorted by prefix. */
static void check_invariants(const struct fx *f, const struct sl_gresult *r)
{
    char *seen = calloc(f->n ? f->n : 1, 1);
    for (size_t i = 0; i < r->n_excluded; i++) {
        const char *key = f->objs[r->excluded[i]].key;
        bool named = false;
        for (size_t w = 0; w < r->n_warnings; w++)
            named = named || strcmp(r->warnings[w].subject, key) == 0;
        CHECKF(named, "excluded \"%s\" has no warning", key);
        seen[r->excluded[i]]++;
    }
    for (size_t t = 0; t < r->n_tables; t++) {
        const struct sl_gtable *tb = &r->tables[t];
        size_t in_parts = 0;
        for (size_t o = 0; o < tb->n_objects; o++)
            seen[tb->objects[o]]++;
        for (size_t p = 0; p < tb->n_partitions; p++)
            in_parts += tb->partitions[p].n_objects;
        CHECK(tb->n_partition_keys == 0 || in_parts == tb->n_objects);
        if (t > 0)
            CHECK(strcmp(r->tables[t - 1].prefix, tb->prefix) < 0);
        CHECK(strlen(tb->name) <= 128);
    }
    for (size_t i = 0; i < f->n; i++)
        CHECKF(seen[i] <= 1, "object \"%s\" counted %d times", f->objs[i].key, seen[i]);
    free(seen);
}

static int run_group(struct fx *f, const struct sl_group_opts *o, struct sl_gresult *r)
{
    struct sl_err err;
    sl_err_clear(&err);
    int rc = sl_group_objects(f->objs, f->n, o, r, &err);
    if (rc != SL_OK)
        printf("#   sl_group_objects: %s\n", err.msg);
    else
        check_invariants(f, r);
    return rc;
}

static void opts_root(struct sl_group_opts *o, const char *root_name)
{
    sl_group_opts_default(o);
    o->root_name = root_name;
}

/* ---- §10.4 worked examples ---- */

static void build_example_a(struct fx *f)
{
    fx_add(f, "sales/year=2019/month=01/day=01/p0.csv", "csv", "id:bigint,amount:double");
    fx_add(f, "sales/year=2019/month=01/day=02/p0.csv", "csv", "id:bigint,amount:double");
    fx_add(f, "sales/year=2019/month=02/day=01/p0.csv", "csv", "id:bigint,amount:double");
    fx_add(f, "sales/year=2019/month=02/day=01/p1.json", "json", "id:bigint");
}

TEST(example_a_t36)
{
    struct fx f;
    struct sl_gresult r;
    struct sl_group_opts o;
    fx_init(&f, 8);
    build_example_a(&f);
    opts_root(&o, "b");
    CHECK(run_group(&f, &o, &r) == SL_OK);
    CHECK(r.n_tables == 1);
    const struct sl_gtable *t = find_table(&r, "sales");
    CHECK(t != NULL);
    if (t) {
        CHECK_STR(t->prefix, "sales/");
        CHECK_STR(t->grouping, "hive");
        CHECK(keys_are(t, "year,month,day"));
        CHECK(t->n_partitions == 3);
        if (t->n_partitions == 3) {
            CHECK(values_are(t, 0, "2019,01,01"));
            CHECK(values_are(t, 1, "2019,01,02"));
            CHECK(values_are(t, 2, "2019,02,01"));
            CHECK_STR(t->partitions[2].prefix, "sales/year=2019/month=02/day=01/");
            CHECK(t->partitions[2].n_objects == 1);
        }
        CHECK(t->n_objects == 3);
        CHECK(columns_are(t, "id:bigint,amount:double"));
        CHECK_STR(param(t, "classification"), "csv");
    }
    CHECK(r.n_excluded == 1 && is_excluded(&f, &r, "sales/year=2019/month=02/day=01/p1.json"));
    CHECK(count_warnings(&r, "INCOMPATIBLE_FILE", "sales/year=2019/month=02/day=01/p1.json") == 1);
    CHECK(r.n_warnings == 1);
    sl_gresult_cleanup(&r);
    fx_cleanup(&f);
}

TEST(example_b)
{
    struct fx f;
    struct sl_gresult r;
    struct sl_group_opts o;
    fx_init(&f, 8);
    fx_add(&f, "logs/2024-01-01/a.jsonl", "json", "ts:string,level:string");
    fx_add(&f, "logs/2024-01-02/a.jsonl", "json", "ts:string,level:string");
    opts_root(&o, "b");
    CHECK(run_group(&f, &o, &r) == SL_OK);
    CHECK(r.n_tables == 1);
    const struct sl_gtable *t = find_table(&r, "logs");
    CHECK(t != NULL);
    if (t) {
        CHECK_STR(t->prefix, "logs/");
        CHECK_STR(t->grouping, "value_folders");
        CHECK(keys_are(t, "partition_0"));
        CHECK(t->n_partitions == 2 && values_are(t, 0, "2024-01-01") &&
              values_are(t, 1, "2024-01-02"));
    }
    CHECK(r.n_warnings == 0 && r.n_excluded == 0);
    sl_gresult_cleanup(&r);
    fx_cleanup(&f);
}

TEST(example_c)
{
    struct fx f;
    struct sl_gresult r;
    struct sl_group_opts o;
    fx_init(&f, 8);
    fx_add(&f, "raw/customers/c.csv", "csv", "id:bigint,name:string,email:string");
    fx_add(&f, "raw/orders/o.csv", "csv", "order_id:bigint,customer_id:bigint,amount:double");
    opts_root(&o, "b");
    CHECK(run_group(&f, &o, &r) == SL_OK);
    CHECK(r.n_tables == 2);
    const struct sl_gtable *c = find_table(&r, "customers"), *od = find_table(&r, "orders");
    CHECK(c && od);
    if (c && od) {
        CHECK_STR(c->prefix, "raw/customers/");
        CHECK_STR(od->prefix, "raw/orders/");
        CHECK(c->n_partition_keys == 0 && od->n_partition_keys == 0);
        CHECK_STR(c->grouping, "single_folder");
        CHECK(columns_are(c, "id:bigint,name:string,email:string"));
        CHECK(columns_are(od, "order_id:bigint,customer_id:bigint,amount:double"));
    }
    CHECK(r.n_warnings == 0 && r.n_excluded == 0);
    sl_gresult_cleanup(&r);
    fx_cleanup(&f);
}

TEST(example_d)
{
    struct fx f;
    struct sl_gresult r;
    struct sl_group_opts o;
    fx_init(&f, 8);
    fx_add(&f, "gdrive/housing/import_year=2024/x.csv", "csv", "id:bigint,name:string,addr:string");
    fx_add(&f, "gdrive/parking/import_year=2024/y.csv", "csv",
           "id:bigint,name:string,addr:string,zone:string");
    opts_root(&o, "b");
    CHECK(run_group(&f, &o, &r) == SL_OK);
    CHECK(r.n_tables == 2);
    const struct sl_gtable *h = find_table(&r, "housing"), *p = find_table(&r, "parking");
    CHECK(h && p);
    if (h && p) {
        CHECK(keys_are(h, "import_year") && keys_are(p, "import_year"));
        CHECK(h->n_partitions == 1 && values_are(h, 0, "2024"));
        CHECK(p->n_partitions == 1 && values_are(p, 0, "2024"));
        CHECK_STR(h->grouping, "hive");
        CHECK(columns_are(p, "id:bigint,name:string,addr:string,zone:string"));
    }
    CHECK(find_table(&r, "gdrive") == NULL);
    CHECK(r.n_warnings == 0);
    sl_gresult_cleanup(&r);
    fx_cleanup(&f);
}

TEST(example_e)
{
    struct fx f;
    struct sl_gresult r;
    struct sl_group_opts o;
    fx_init(&f, 8);
    fx_add(&f, "year=2017/d1.json", "json", "a:bigint,b:bigint");
    fx_add(&f, "year=2018/d2.json", "json", "c:bigint,d:bigint");
    opts_root(&o, "t1");
    CHECK(run_group(&f, &o, &r) == SL_OK);
    CHECK(r.n_tables == 1);
    const struct sl_gtable *t = find_table(&r, "t1");
    CHECK(t != NULL);
    if (t) {
        CHECK_STR(t->prefix, "");
        CHECK(columns_are(t, "a:bigint,b:bigint,c:bigint,d:bigint"));
        CHECK(keys_are(t, "year"));
        CHECK(t->n_partitions == 2);
        if (t->n_partitions == 2) {
            CHECK(values_are(t, 0, "2017") && !t->partitions[0].outlier);
            CHECK(values_are(t, 1, "2018") && t->partitions[1].outlier);
        }
        CHECK(json_array_size(json_object_get(t->decision, "clusters")) == 2);
    }
    CHECK(count_warnings(&r, "PARTITION_SCHEMA_OUTLIER", "year=2018/") == 1);
    CHECK(r.n_warnings == 1 && r.n_excluded == 0);
    sl_gresult_cleanup(&r);
    fx_cleanup(&f);
}

TEST(example_f)
{
    struct fx f;
    struct sl_gresult r;
    struct sl_group_opts o;
    fx_init(&f, 8);
    /* the listing's skip rules keep _SUCCESS out before grouping */
    CHECK_STR(sl_crawl_skip_status("data/_SUCCESS", 0, NULL, true), "skipped_hidden");
    fx_add(&f, "data/archive/2023/part-000.csv", "csv", "id:bigint,v:string");
    fx_add(&f, "data/part-000.csv", "csv", "id:bigint,v:string");
    opts_root(&o, "b");
    CHECK(run_group(&f, &o, &r) == SL_OK);
    CHECK(r.n_tables == 2);
    const struct sl_gtable *a = find_table(&r, "archive"), *d = find_table(&r, "data");
    CHECK(a && d);
    if (a && d) {
        CHECK_STR(a->prefix, "data/archive/");
        CHECK(keys_are(a, "partition_0") && a->n_partitions == 1 && values_are(a, 0, "2023"));
        CHECK(a->recursive);
        CHECK_STR(d->prefix, "data/");
        CHECK(!d->recursive && d->n_partition_keys == 0 && d->n_objects == 1);
        CHECK_STR(param(d, "sluice.recursive"), "false");
        CHECK_STR(param(a, "sluice.recursive"), "true");
    }
    CHECK(count_warnings(&r, "NESTED_TABLE_LOCATION", "data/") == 1);
    CHECK(r.n_warnings == 1);
    sl_gresult_cleanup(&r);
    fx_cleanup(&f);
}

TEST(example_g)
{
    struct fx f;
    struct sl_gresult r;
    struct sl_group_opts o;
    fx_init(&f, 8);
    fx_add(&f, "ev/dt=1/a.json", "json", "id:bigint");
    fx_add(&f, "ev/dt=2/a.json", "json", "id:bigint");
    fx_add(&f, "ev/dt=2/notes.txt", NULL, NULL); /* unknown: classified elsewhere */
    opts_root(&o, "b");
    CHECK(run_group(&f, &o, &r) == SL_OK);
    CHECK(r.n_tables == 1);
    const struct sl_gtable *t = find_table(&r, "ev");
    CHECK(t != NULL);
    if (t) {
        CHECK(keys_are(t, "dt") && t->n_partitions == 2);
        CHECK(values_are(t, 0, "1") && values_are(t, 1, "2"));
        CHECK(t->n_objects == 2);
    }
    CHECK(r.n_excluded == 0 && r.n_warnings == 0);
    sl_gresult_cleanup(&r);
    fx_cleanup(&f);
}

TEST(example_h)
{
    struct fx f;
    struct sl_gresult r;
    struct sl_group_opts o;
    fx_init(&f, 8);
    fx_add(&f, "x/eu/f.csv", "csv", "id:bigint");
    fx_add(&f, "x/us/f.csv", "csv", "id:bigint,name:string");
    fx_add(&f, "y/2024/f.csv", "csv", "k:string");
    opts_root(&o, "b");
    o.table_depth = 1;
    CHECK(run_group(&f, &o, &r) == SL_OK);
    CHECK(r.n_tables == 2);
    const struct sl_gtable *x = find_table(&r, "x"), *y = find_table(&r, "y");
    CHECK(x && y);
    if (x && y) {
        CHECK_STR(x->grouping, "table_depth");
        CHECK(keys_are(x, "partition_0") && x->n_partitions == 2);
        CHECK(values_are(x, 0, "eu") && values_are(x, 1, "us"));
        CHECK(keys_are(y, "partition_0") && y->n_partitions == 1 && values_are(y, 0, "2024"));
        CHECK(columns_are(x, "id:bigint,name:string"));
    }
    CHECK(r.n_warnings == 0);
    sl_gresult_cleanup(&r);
    fx_cleanup(&f);

    /* Shallower objects are STRAY_FILES; table_depth=0 roots at R. */
    fx_init(&f, 8);
    fx_add(&f, "top.csv", "csv", "id:bigint");
    fx_add(&f, "x/eu/f.csv", "csv", "id:bigint");
    o.table_depth = 1;
    CHECK(run_group(&f, &o, &r) == SL_OK);
    CHECK(r.n_tables == 1 && is_excluded(&f, &r, "top.csv"));
    CHECK(count_warnings(&r, "STRAY_FILES", "top.csv") == 1);
    sl_gresult_cleanup(&r);
    o.table_depth = 0;
    CHECK(run_group(&f, &o, &r) == SL_OK);
    CHECK(r.n_tables == 1 && find_table(&r, "b") != NULL);
    CHECK(is_excluded(&f, &r, "top.csv")); /* beside the partition folders */
    if (r.n_tables == 1)
        CHECK(keys_are(&r.tables[0], "partition_0,partition_1"));
    sl_gresult_cleanup(&r);
    fx_cleanup(&f);
}

/* ---- §14 cases ---- */

TEST(t38_widening_across_partitions)
{
    struct fx f;
    struct sl_gresult r;
    struct sl_group_opts o;
    fx_init(&f, 8);
    fx_add(&f, "t/dt=1/a.parquet", "parquet", "a:int,b:string");
    fx_add(&f, "t/dt=2/a.parquet", "parquet", "a:bigint,b:string,c:double");
    opts_root(&o, "b");
    CHECK(run_group(&f, &o, &r) == SL_OK);
    CHECK(r.n_tables == 1);
    const struct sl_gtable *t = find_table(&r, "t");
    CHECK(t && columns_are(t, "a:bigint,b:string,c:double"));
    CHECK(t && !t->partitions[0].outlier && !t->partitions[1].outlier);
    CHECK(r.n_warnings == 0);
    sl_gresult_cleanup(&r);
    fx_cleanup(&f);
}

static const char *EV_PRESENT_TYPED =
    "{\"version\":1,\"r0\":[%s],\"decision\":\"PRESENT\",\"rule\":\"typed\"}";

TEST(t40_columns_unordered)
{
    struct fx f;
    struct sl_gresult r;
    struct sl_group_opts o;
    char ev[256];
    fx_init(&f, 8);
    struct sl_gobject *a = fx_add(&f, "t/a.csv", "csv", "a:bigint,b:bigint,c:bigint");
    struct sl_gobject *b = fx_add(&f, "t/b.csv", "csv", "b:bigint,a:bigint,c:bigint");
    snprintf(ev, sizeof ev, EV_PRESENT_TYPED, "\"a\",\"b\",\"c\"");
    fx_set_evidence(&f, a, ev);
    snprintf(ev, sizeof ev, EV_PRESENT_TYPED, "\"b\",\"a\",\"c\"");
    fx_set_evidence(&f, b, ev);
    opts_root(&o, "b");
    CHECK(run_group(&f, &o, &r) == SL_OK);
    CHECK(r.n_tables == 1);
    const struct sl_gtable *t = find_table(&r, "t");
    CHECK(t != NULL);
    if (t) {
        CHECK_STR(param(t, "columnsOrdered"), "false");
        CHECK_STR(param(t, "sluice.csv.match_by"), "name");
        CHECK(columns_are(t, "a:bigint,b:bigint,c:bigint"));
        CHECK_STR(json_string_value(json_object_get(t->decision, "header")), "PRESENT");
    }
    CHECK(count_warnings(&r, "COLUMNS_UNORDERED", "t/") == 1);
    sl_gresult_cleanup(&r);
    fx_cleanup(&f);

    /* A header that is a prefix of the longest keeps columnsOrdered=true. */
    fx_init(&f, 8);
    a = fx_add(&f, "t/a.csv", "csv", "a:bigint,b:bigint");
    b = fx_add(&f, "t/b.csv", "csv", "a:bigint,b:bigint,c:bigint");
    snprintf(ev, sizeof ev, EV_PRESENT_TYPED, "\"a\",\"b\"");
    fx_set_evidence(&f, a, ev);
    snprintf(ev, sizeof ev, EV_PRESENT_TYPED, "\"a\",\"b\",\"c\"");
    fx_set_evidence(&f, b, ev);
    CHECK(run_group(&f, &o, &r) == SL_OK);
    t = find_table(&r, "t");
    CHECK(t && param(t, "columnsOrdered") && strcmp(param(t, "columnsOrdered"), "true") == 0);
    CHECK(t && param(t, "sluice.csv.match_by") == NULL);
    CHECK(r.n_warnings == 0);
    sl_gresult_cleanup(&r);
    fx_cleanup(&f);
}

/* Evidence of a file classified ABSENT (typed) whose R0 is r0; its
 * "present" alternative names the columns p0, p1. */
static void absent_evidence(char *out, size_t cap, const char *r0, const char *p0, const char *p1)
{
    snprintf(out, cap,
             "{\"version\":1,\"r0\":[%s],\"decision\":\"ABSENT\",\"rule\":\"typed\","
             "\"single_record\":false,\"parses\":[],"
             "\"present\":{\"skip\":1,\"null_tokens\":\"[]\",\"columns\":["
             "{\"name\":\"%s\",\"type\":\"bigint\",\"n_values\":2,\"n_nulls\":0},"
             "{\"name\":\"%s\",\"type\":\"bigint\",\"n_values\":2,\"n_nulls\":0}]},"
             "\"absent\":{\"skip\":0,\"null_tokens\":\"[]\",\"columns\":["
             "{\"name\":\"col0\",\"type\":\"string\",\"n_values\":3,\"n_nulls\":0},"
             "{\"name\":\"col1\",\"type\":\"string\",\"n_values\":3,\"n_nulls\":0}]}}",
             r0, p0, p1);
}

TEST(header_reconciliation)
{
    struct fx f;
    struct sl_gresult r;
    struct sl_group_opts o;
    char ev[256], absent[1024];
    opts_root(&o, "b");
    snprintf(ev, sizeof ev, EV_PRESENT_TYPED, "\"id\",\"v\"");

    /* An ABSENT file whose R0 equals a PRESENT file's R0 is PRESENT: it is
     * re-read from its evidence (no GET), and that is no ambiguity. */
    fx_init(&f, 8);
    struct sl_gobject *a = fx_add(&f, "t/a.csv", "csv", "id:bigint,v:bigint");
    struct sl_gobject *c = fx_add(&f, "t/c.csv", "csv", "col0:string,col1:string");
    fx_set_evidence(&f, a, ev);
    absent_evidence(absent, sizeof absent, "\"id\",\"v\"", "id", "v");
    fx_set_evidence(&f, c, absent);
    fx_set_param(&f, a, "skip.header.line.count", "1");
    fx_set_param(&f, c, "skip.header.line.count", "0");
    CHECK(run_group(&f, &o, &r) == SL_OK);
    const struct sl_gtable *t = find_table(&r, "t");
    CHECK(t && columns_are(t, "id:bigint,v:bigint") && t->n_objects == 2);
    CHECK_STR(param(t, "skip.header.line.count"), "1");
    CHECK_STR(param(t, "sluice.csv.header"), "PRESENT");
    CHECK(r.n_warnings == 0);
    sl_gresult_cleanup(&r);
    fx_cleanup(&f);

    /* Two typed PRESENT files outvote a typed ABSENT one with another R0: it
     * loses the vote (HEADER_AMBIGUOUS) and is read as headered. */
    fx_init(&f, 8);
    a = fx_add(&f, "t/a.csv", "csv", "id:bigint,v:bigint");
    struct sl_gobject *b = fx_add(&f, "t/b.csv", "csv", "id:bigint,v:bigint");
    c = fx_add(&f, "t/c.csv", "csv", "col0:bigint,col1:bigint");
    fx_set_evidence(&f, a, ev);
    fx_set_evidence(&f, b, ev);
    absent_evidence(absent, sizeof absent, "\"7\",\"8\"", "_7", "_8");
    fx_set_evidence(&f, c, absent);
    fx_set_param(&f, a, "skip.header.line.count", "1");
    fx_set_param(&f, b, "skip.header.line.count", "1");
    fx_set_param(&f, c, "skip.header.line.count", "0");
    CHECK(run_group(&f, &o, &r) == SL_OK);
    t = find_table(&r, "t");
    CHECK(t && columns_are(t, "id:bigint,v:bigint,_7:bigint,_8:bigint") && t->n_objects == 3);
    CHECK_STR(param(t, "skip.header.line.count"), "1");
    CHECK_STR(param(t, "columnsOrdered"), "false"); /* _7,_8 is no prefix of id,v */
    CHECK(count_warnings(&r, "HEADER_AMBIGUOUS", "t/c.csv") == 1);
    CHECK(t && json_string_value(json_object_get(t->decision, "header")) &&
          strcmp(json_string_value(json_object_get(t->decision, "header")), "PRESENT") == 0);
    sl_gresult_cleanup(&r);
    fx_cleanup(&f);

    /* Malformed cached evidence: each file keeps its decision, and it is said */
    fx_init(&f, 8);
    a = fx_add(&f, "t/a.csv", "csv", "id:bigint");
    fx_set_evidence(&f, a, "{\"decision\":42}");
    CHECK(run_group(&f, &o, &r) == SL_OK);
    CHECK(r.n_tables == 1 && count_warnings(&r, "HEADER_AMBIGUOUS", "t/") == 1);
    sl_gresult_cleanup(&r);
    fx_cleanup(&f);
}

TEST(t28_compression_mixed)
{
    struct fx f;
    struct sl_gresult r;
    struct sl_group_opts o;
    fx_init(&f, 8);
    fx_add(&f, "logs/a.jsonl.zst", "json", "id:bigint")->compression = "zstd";
    fx_add(&f, "logs/b.jsonl.bz2", "json", "id:bigint")->compression = "bzip2";
    fx_add(&f, "logs/c.jsonl.xz", "json", "id:bigint")->compression = "xz";
    opts_root(&o, "b");
    CHECK(run_group(&f, &o, &r) == SL_OK);
    CHECK(r.n_tables == 1);
    const struct sl_gtable *t = find_table(&r, "logs");
    CHECK(t && t->n_objects == 3);
    CHECK_STR(param(t, "compressionType"), "mixed");
    CHECK_STR(param(t, "classification"), "json");
    sl_gresult_cleanup(&r);
    fx_cleanup(&f);

    /* one codec names it; a missing compression equals none (§11.2) */
    fx_init(&f, 8);
    fx_add(&f, "a/x.csv.gz", "csv", "id:bigint")->compression = "gzip";
    fx_add(&f, "a/y.csv.gz", "csv", "id:bigint")->compression = "gzip";
    fx_add(&f, "b/x.csv", "csv", "id:bigint")->compression = NULL;
    fx_add(&f, "b/y.csv", "csv", "id:bigint")->compression = "none";
    opts_root(&o, "b");
    o.table_depth = 1;
    CHECK(run_group(&f, &o, &r) == SL_OK);
    CHECK_STR(param(find_table(&r, "a"), "compressionType"), "gzip");
    CHECK_STR(param(find_table(&r, "b"), "compressionType"), "none");
    sl_gresult_cleanup(&r);
    fx_cleanup(&f);
}

TEST(t43_three_tables)
{
    /* max_tables is the caller's check against new tables; grouping only has
     * to find the three tables. */
    struct fx f;
    struct sl_gresult r;
    struct sl_group_opts o;
    fx_init(&f, 8);
    fx_add(&f, "a/x.csv", "csv", "id:bigint");
    fx_add(&f, "b/x.json", "json", "k:string");
    fx_add(&f, "c/x.parquet", "parquet", "z:double");
    opts_root(&o, "b");
    CHECK(run_group(&f, &o, &r) == SL_OK);
    CHECK(r.n_tables == 3);
    sl_gresult_cleanup(&r);
    fx_cleanup(&f);
}

/* ---- Rules of §10.3 ---- */

TEST(table_params)
{
    struct fx f;
    struct sl_gresult r;
    struct sl_group_opts o;
    fx_init(&f, 8);
    struct sl_gobject *a = fx_add(&f, "t/dt=1/a.csv", "csv", "id:bigint");
    struct sl_gobject *b = fx_add(&f, "t/dt=2/b.csv", "csv", "id:bigint");
    struct sl_gobject *c = fx_add(&f, "t/dt=2/c.csv", "csv", "id:bigint");
    a->size = 1000, a->record_estimate = 100, a->avg_record_bytes = 10;
    b->size = 500, b->record_estimate = 100, b->avg_record_bytes = 20;
    c->size = 0, c->record_estimate = 0, c->avg_record_bytes = 0;
    fx_set_param(&f, a, "areColumnsQuoted", "false");
    fx_set_param(&f, b, "areColumnsQuoted", "true");
    fx_set_param(&f, a, "quoteChar", "\"");
    fx_set_param(&f, b, "quoteChar", "'");
    fx_set_param(&f, c, "quoteChar", "'");
    opts_root(&o, "b");
    CHECK(run_group(&f, &o, &r) == SL_OK);
    const struct sl_gtable *t = find_table(&r, "t");
    CHECK(t != NULL);
    if (t) {
        CHECK_STR(param(t, "classification"), "csv");
        CHECK_STR(param(t, "compressionType"), "none");
        CHECK_STR(param(t, "delimiter"), ",");
        CHECK_STR(param(t, "quoteChar"), "'");
        CHECK_STR(param(t, "areColumnsQuoted"), "true");
        CHECK_STR(param(t, "objectCount"), "3");
        CHECK_STR(param(t, "recordCount"), "200");
        CHECK_STR(param(t, "averageRecordSize"), "15");
        CHECK_STR(param(t, "sizeKey"), "1500");
        CHECK_STR(param(t, "typeOfData"), "file");
        CHECK_STR(param(t, "columnsOrdered"), "true");
        CHECK_STR(param(t, "sluice.grouping"), "hive");
        CHECK_STR(param(t, "sluice.recursive"), "true");
        CHECK(t->n_partitions == 2);
        if (t->n_partitions == 2) {
            const struct sl_gpartition *p = &t->partitions[1];
            CHECK(p->n_bytes == 500 && p->n_records == 100 && p->n_objects == 2);
            CHECK_STR(json_string_value(json_object_get(p->params, "objectCount")), "2");
            CHECK_STR(json_string_value(json_object_get(p->params, "sizeKey")), "500");
            CHECK_STR(json_string_value(json_object_get(p->params, "recordCount")), "100");
            CHECK_STR(json_string_value(json_object_get(p->params, "averageRecordSize")), "20");
        }
        /* every value is a JSON string */
        const char *k;
        json_t *v;
        json_object_foreach(t->params, k, v) CHECKF(json_is_string(v), "%s", k);
    }
    sl_gresult_cleanup(&r);
    fx_cleanup(&f);
}

static void hash8(const char *s, char out[9])
{
    unsigned char md[32];
    unsigned int n = 0;
    EVP_Digest(s, strlen(s), md, &n, EVP_sha256(), NULL);
    for (int i = 0; i < 4; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

TEST(table_names)
{
    struct fx f;
    struct sl_gresult r;
    struct sl_group_opts o;
    char h[9], want[64];
    fx_init(&f, 8);
    fx_add(&f, "a/data/x.csv", "csv", "id:bigint");
    fx_add(&f, "b/data/y.json", "json", "k:string");
    fx_add(&f, "c/My-Sales Data/z.csv", "csv", "id:bigint");
    fx_add(&f, "d/data/w.parquet", "parquet", "z:double");
    opts_root(&o, "b");
    o.location_base = "s3://b/";
    CHECK(run_group(&f, &o, &r) == SL_OK);
    CHECK(r.n_tables == 4);
    hash8("s3://b/d/data/", h);
    snprintf(want, sizeof want, "data_%s", h);
    CHECK(find_table(&r, want) && strcmp(find_table(&r, want)->prefix, "d/data/") == 0);
    CHECK(count_warnings(&r, "NAME_COLLISION", NULL) == 2);
    CHECK(find_table(&r, "data") && strcmp(find_table(&r, "data")->prefix, "a/data/") == 0);
    hash8("s3://b/b/data/", h);
    snprintf(want, sizeof want, "data_%s", h);
    CHECK(find_table(&r, want) && strcmp(find_table(&r, want)->prefix, "b/data/") == 0);
    CHECK(count_warnings(&r, "NAME_COLLISION", "b/data/") == 1);
    CHECK(find_table(&r, "my_sales_data") != NULL);
    sl_gresult_cleanup(&r);

    o.table_prefix = "Raw-";
    CHECK(run_group(&f, &o, &r) == SL_OK);
    CHECK(find_table(&r, "raw_my_sales_data") != NULL);
    CHECK(find_table(&r, "raw_data") != NULL);
    sl_gresult_cleanup(&r);
    fx_cleanup(&f);

    /* A name past 128 characters is cut and gets the location hash. */
    char key[400];
    memset(key, 'n', 200);
    snprintf(key + 200, sizeof key - 200, "/x.csv");
    fx_init(&f, 8);
    fx_add(&f, key, "csv", "id:bigint");
    sl_group_opts_default(&o);
    o.root_name = "b";
    CHECK(run_group(&f, &o, &r) == SL_OK);
    CHECK(r.n_tables == 1);
    if (r.n_tables == 1) {
        char prefix[256];
        snprintf(prefix, sizeof prefix, "%.200s/", key);
        hash8(prefix, h);
        CHECK(strlen(r.tables[0].name) == 128);
        CHECK(strcmp(r.tables[0].name + 119, (snprintf(want, sizeof want, "_%s", h), want)) == 0);
    }
    sl_gresult_cleanup(&r);
    fx_cleanup(&f);

    /* R's own table takes root_name. */
    fx_init(&f, 8);
    fx_add(&f, "a.csv", "csv", "id:bigint");
    fx_add(&f, "b.csv", "csv", "id:bigint");
    opts_root(&o, "My Bucket");
    CHECK(run_group(&f, &o, &r) == SL_OK);
    CHECK(r.n_tables == 1 && find_table(&r, "my_bucket") && r.tables[0].n_objects == 2);
    CHECK(r.n_tables == 1 && strcmp(r.tables[0].prefix, "") == 0);
    sl_gresult_cleanup(&r);
    fx_cleanup(&f);
}

TEST(mixed_partition_naming)
{
    struct fx f;
    struct sl_gresult r;
    struct sl_group_opts o;
    fx_init(&f, 8);
    fx_add(&f, "t/year=2019/a.csv", "csv", "id:bigint");
    fx_add(&f, "t/yr=2020/b.csv", "csv", "id:bigint");
    opts_root(&o, "b");
    CHECK(run_group(&f, &o, &r) == SL_OK);
    const struct sl_gtable *t = find_table(&r, "t");
    CHECK(t && keys_are(t, "partition_0") && t->n_partitions == 2);
    CHECK(t && values_are(t, 0, "year=2019") && values_are(t, 1, "yr=2020"));
    CHECK(count_warnings(&r, "MIXED_PARTITION_NAMING", "t/") == 1);
    sl_gresult_cleanup(&r);
    fx_cleanup(&f);

    /* k=v siblings plus value-like plain siblings: key k, plain names as values */
    fx_init(&f, 8);
    fx_add(&f, "t/2/b.csv", "csv", "id:bigint");
    fx_add(&f, "t/dt=1/a.csv", "csv", "id:bigint");
    CHECK(run_group(&f, &o, &r) == SL_OK);
    t = find_table(&r, "t");
    CHECK(t && keys_are(t, "dt") && t->n_partitions == 2);
    CHECK(t && values_are(t, 0, "1") && values_are(t, 1, "2"));
    CHECK(r.n_warnings == 0);
    sl_gresult_cleanup(&r);
    fx_cleanup(&f);

    /* k=v plus a word-like plain sibling: mixed */
    fx_init(&f, 8);
    fx_add(&f, "t/dt=1/a.csv", "csv", "id:bigint");
    fx_add(&f, "t/misc/b.csv", "csv", "id:bigint");
    CHECK(run_group(&f, &o, &r) == SL_OK);
    t = find_table(&r, "t");
    CHECK(t && keys_are(t, "partition_0") && values_are(t, 0, "dt=1") && values_are(t, 1, "misc"));
    CHECK(count_warnings(&r, "MIXED_PARTITION_NAMING", "t/") == 1);
    sl_gresult_cleanup(&r);
    fx_cleanup(&f);

    /* dt=2 and 2 give the same values: the later folder is left out */
    fx_init(&f, 8);
    fx_add(&f, "t/2/b.csv", "csv", "id:bigint");
    fx_add(&f, "t/dt=2/a.csv", "csv", "id:bigint");
    CHECK(run_group(&f, &o, &r) == SL_OK);
    t = find_table(&r, "t");
    CHECK(t && t->n_partitions == 1 && t->n_objects == 1);
    CHECK(t && strcmp(t->partitions[0].prefix, "t/2/") == 0);
    CHECK(is_excluded(&f, &r, "t/dt=2/a.csv"));
    sl_gresult_cleanup(&r);
    fx_cleanup(&f);
}

TEST(inconsistent_partition_depth)
{
    struct fx f;
    struct sl_gresult r;
    struct sl_group_opts o;
    fx_init(&f, 8);
    fx_add(&f, "t/c.csv", "csv", "id:bigint");
    fx_add(&f, "t/year=2019/month=01/a.csv", "csv", "id:bigint");
    fx_add(&f, "t/year=2020/b.csv", "csv", "id:bigint");
    opts_root(&o, "b");
    CHECK(run_group(&f, &o, &r) == SL_OK);
    const struct sl_gtable *t = find_table(&r, "t");
    CHECK(t && keys_are(t, "year") && t->n_partitions == 2);
    if (t && t->n_partitions == 2) {
        CHECK(values_are(t, 0, "2019") && t->partitions[0].recursive);
        CHECK(values_are(t, 1, "2020") && !t->partitions[1].recursive);
        CHECK_STR(json_string_value(json_object_get(t->partitions[0].params, "sluice.recursive")),
                  "true");
        CHECK(t->n_objects == 2);
    }
    CHECK(count_warnings(&r, "INCONSISTENT_PARTITION_DEPTH", "t/") == 1);
    CHECK(count_warnings(&r, "STRAY_FILES", "t/c.csv") == 1 && is_excluded(&f, &r, "t/c.csv"));
    sl_gresult_cleanup(&r);
    fx_cleanup(&f);
}

TEST(partition_key_collision)
{
    struct fx f;
    struct sl_gresult r;
    struct sl_group_opts o;
    fx_init(&f, 8);
    fx_add(&f, "t/dt=1/a.csv", "csv", "dt:string,v:bigint,dt_1:bigint");
    opts_root(&o, "b");
    CHECK(run_group(&f, &o, &r) == SL_OK);
    const struct sl_gtable *t = find_table(&r, "t");
    CHECK(t && keys_are(t, "dt"));
    CHECK(t && columns_are(t, "dt_2:string,v:bigint,dt_1:bigint"));
    CHECK(t && t->schema.cols[0].source_name && strcmp(t->schema.cols[0].source_name, "dt") == 0);
    CHECK(count_warnings(&r, "PARTITION_KEY_COLLISION", "t/") == 1);
    sl_gresult_cleanup(&r);
    fx_cleanup(&f);

    fx_init(&f, 8);
    fx_add(&f, "t/dt=1/a.csv", "csv", "dt:string,v:bigint");
    CHECK(run_group(&f, &o, &r) == SL_OK);
    t = find_table(&r, "t");
    CHECK(t && columns_are(t, "dt_1:string,v:bigint"));
    sl_gresult_cleanup(&r);
    fx_cleanup(&f);
}

TEST(hive_null_and_escapes)
{
    struct fx f;
    struct sl_gresult r;
    struct sl_group_opts o;
    fx_init(&f, 8);
    fx_add(&f, "t/My%20Key=__HIVE_DEFAULT_PARTITION__/a.csv", "csv", "v:bigint");
    fx_add(&f, "t/My%20Key=a%20b/a.csv", "csv", "v:bigint");
    fx_add(&f, "t/My%20Key=c%2Fd%3D/a.csv", "csv", "v:bigint");
    fx_add(&f, "t/My%20Key=x%zz%00/a.csv", "csv", "v:bigint");
    opts_root(&o, "b");
    CHECK(run_group(&f, &o, &r) == SL_OK);
    const struct sl_gtable *t = find_table(&r, "t");
    CHECK(t && keys_are(t, "my_key") && t->n_partitions == 4);
    if (t && t->n_partitions == 4) {
        CHECK(values_are(t, 0, "NULL")); /* NULL sorts first */
        CHECK(values_are(t, 1, "a b"));
        CHECK(values_are(t, 2, "c/d="));
        CHECK(values_are(t, 3, "x%zz%00")); /* bad escapes and %00 stay */
        CHECK_STR(t->partitions[0].prefix, "t/My%20Key=__HIVE_DEFAULT_PARTITION__/");
    }
    CHECK(r.n_warnings == 0);
    sl_gresult_cleanup(&r);
    fx_cleanup(&f);

    /* month=01 keeps its zero; repeated keys get _2 */
    fx_init(&f, 8);
    fx_add(&f, "t/k=1/k=01/a.csv", "csv", "v:bigint");
    CHECK(run_group(&f, &o, &r) == SL_OK);
    t = find_table(&r, "t");
    CHECK(t && keys_are(t, "k,k_2") && values_are(t, 0, "1,01"));
    sl_gresult_cleanup(&r);
    fx_cleanup(&f);
}

TEST(value_folders_outlier_and_stray)
{
    struct fx f;
    struct sl_gresult r;
    struct sl_group_opts o;
    fx_init(&f, 8);
    fx_add(&f, "logs/2024-01-01/a.json", "json", "a:bigint,b:string");
    fx_add(&f, "logs/2024-01-02/a.json", "json", "a:bigint,b:string");
    fx_add(&f, "logs/2024-01-03/a.json", "json", "a:bigint,b:string,c:double");
    fx_add(&f, "logs/2024-01-04/a.json", "json", "x:boolean,y:date");
    fx_add(&f, "logs/readme.json", "json", "text:string");
    opts_root(&o, "b");
    CHECK(run_group(&f, &o, &r) == SL_OK);
    CHECK(r.n_tables == 1);
    const struct sl_gtable *t = find_table(&r, "logs");
    CHECK(t && t->n_partitions == 4 && t->n_objects == 4);
    if (t && t->n_partitions == 4) {
        CHECK(!t->partitions[0].outlier && !t->partitions[2].outlier);
        CHECK(t->partitions[3].outlier);
        CHECK(columns_are(t, "a:bigint,b:string,c:double,x:boolean,y:date"));
        json_t *cl = json_object_get(t->decision, "clusters");
        CHECK(json_array_size(cl) == 2 && json_integer_value(json_array_get(cl, 0)) == 3);
    }
    CHECK(count_warnings(&r, "PARTITION_SCHEMA_OUTLIER", "logs/2024-01-04/") == 1);
    CHECK(count_warnings(&r, "STRAY_FILES", "logs/readme.json") == 1);
    CHECK(is_excluded(&f, &r, "logs/readme.json"));
    sl_gresult_cleanup(&r);
    fx_cleanup(&f);
}

TEST(value_folders_too_many_clusters)
{
    struct fx f;
    struct sl_gresult r;
    struct sl_group_opts o;
    static const char *schemas[] = {"a:bigint", "b:bigint", "c:bigint",
                                    "d:bigint", "e:bigint", "f:bigint"};
    char key[64];
    fx_init(&f, 8);
    for (int i = 0; i < 6; i++) {
        snprintf(key, sizeof key, "d/%d/x.json", 2000 + i);
        fx_add(&f, key, "json", schemas[i]);
    }
    opts_root(&o, "b");
    CHECK(run_group(&f, &o, &r) == SL_OK);
    CHECK(r.n_tables == 6 && find_table(&r, "2000") && find_table(&r, "2005"));
    sl_gresult_cleanup(&r);
    o.max_clusters = 6;
    o.partition_majority = 0.1;
    CHECK(run_group(&f, &o, &r) == SL_OK);
    CHECK(r.n_tables == 1 && find_table(&r, "d") && r.tables[0].n_partitions == 6);
    sl_gresult_cleanup(&r);
    fx_cleanup(&f);
}

TEST(word_folders)
{
    struct fx f;
    struct sl_gresult r;
    struct sl_group_opts o;
    fx_init(&f, 8);
    fx_add(&f, "src/east/a.csv", "csv", "id:bigint,v:null");
    fx_add(&f, "src/west/a.csv", "csv", "v:double,id:int");
    opts_root(&o, "b");
    CHECK(run_group(&f, &o, &r) == SL_OK);
    CHECK(r.n_tables == 1);
    const struct sl_gtable *t = find_table(&r, "src");
    CHECK(t && keys_are(t, "partition_0") && values_are(t, 0, "east"));
    CHECK(t && strcmp(t->grouping, "word_folders") == 0);
    CHECK(t && columns_are(t, "id:bigint,v:double"));
    sl_gresult_cleanup(&r);
    fx_cleanup(&f);

    /* a type conflict (boolean vs bigint) splits them (§15 F2) */
    fx_init(&f, 8);
    fx_add(&f, "src/east/a.csv", "csv", "id:bigint,v:boolean");
    fx_add(&f, "src/west/a.csv", "csv", "id:bigint,v:bigint");
    CHECK(run_group(&f, &o, &r) == SL_OK);
    CHECK(r.n_tables == 2 && find_table(&r, "east") && find_table(&r, "west"));
    sl_gresult_cleanup(&r);
    fx_cleanup(&f);

    /* different keys split; so does a Hive subtree beside other data */
    fx_init(&f, 8);
    fx_add(&f, "m/a/x.csv", "csv", "id:bigint");
    fx_add(&f, "m/b/x.json", "json", "id:bigint");
    fx_add(&f, "m/c/dt=1/x.json", "json", "id:bigint");
    CHECK(run_group(&f, &o, &r) == SL_OK);
    CHECK(r.n_tables == 3 && find_table(&r, "a") && find_table(&r, "b") && find_table(&r, "c"));
    sl_gresult_cleanup(&r);
    fx_cleanup(&f);
}

TEST(single_schema)
{
    struct fx f;
    struct sl_gresult r;
    struct sl_group_opts o;
    fx_init(&f, 8);
    fx_add(&f, "raw/customers/c.csv", "csv", "id:bigint,name:string");
    fx_add(&f, "raw/orders/o.csv", "csv", "order_id:bigint");
    opts_root(&o, "lake");
    o.single_schema = true;
    CHECK(run_group(&f, &o, &r) == SL_OK);
    CHECK(r.n_tables == 1);
    const struct sl_gtable *t = find_table(&r, "lake");
    CHECK(t && strcmp(t->grouping, "single_schema") == 0);
    CHECK(t && columns_are(t, "id:bigint,name:string,order_id:bigint"));
    CHECK(t && keys_are(t, "partition_0,partition_1") && t->n_partitions == 2);
    sl_gresult_cleanup(&r);
    fx_cleanup(&f);
}

TEST(similarity)
{
    struct sl_cschema a = {0}, b = {0}, c = {0}, d = {0}, e = {0};
    parse_schema(&a, "a:bigint,b:string");
    parse_schema(&b, "a:bigint,b:string,c:double");
    parse_schema(&c, "a:boolean,b:string");
    parse_schema(&d, "a:null,b:null");
    CHECK(sl_group_similarity(&a, &b) == 1.0);
    CHECK(sl_group_similarity(&a, &c) == 0.5);
    CHECK(sl_group_similarity(&c, &a) == 0.5);
    CHECK(sl_group_similarity(&a, &d) == 1.0);
    CHECK(sl_group_similarity(&a, &e) == 1.0);
    struct sl_cschema s = {0}, i = {0};
    parse_schema(&s, "a:string");
    parse_schema(&i, "a:bigint");
    CHECK(sl_group_similarity(&s, &i) == 0.0);
    sl_cschema_cleanup(&a);
    sl_cschema_cleanup(&b);
    sl_cschema_cleanup(&c);
    sl_cschema_cleanup(&d);
    sl_cschema_cleanup(&s);
    sl_cschema_cleanup(&i);
}

TEST(empty_and_unsorted_input)
{
    struct fx f;
    struct sl_gresult r;
    struct sl_group_opts o;
    fx_init(&f, 8);
    opts_root(&o, "b");
    CHECK(run_group(&f, &o, &r) == SL_OK);
    CHECK(r.n_tables == 0 && r.n_warnings == 0 && r.n_excluded == 0);
    sl_gresult_cleanup(&r);
    /* same result whatever the input order */
    fx_add(&f, "sales/year=2019/month=02/day=01/p1.json", "json", "id:bigint");
    fx_add(&f, "sales/year=2019/month=01/day=02/p0.csv", "csv", "id:bigint,amount:double");
    fx_add(&f, "sales/year=2019/month=02/day=01/p0.csv", "csv", "id:bigint,amount:double");
    fx_add(&f, "sales/year=2019/month=01/day=01/p0.csv", "csv", "id:bigint,amount:double");
    CHECK(run_group(&f, NULL, &r) == SL_OK);
    CHECK(r.n_tables == 1 && r.tables[0].n_partitions == 3 && r.n_excluded == 1);
    CHECK(r.n_excluded == 1 && r.excluded[0] == 0);
    if (r.n_tables == 1)
        CHECK(values_are(&r.tables[0], 0, "2019,01,01") && r.tables[0].objects[0] == 3);
    sl_gresult_cleanup(&r);
    fx_cleanup(&f);
}

TEST(alloc_failures)
{
    struct fx f;
    struct sl_gresult r;
    struct sl_group_opts o;
    fx_init(&f, 16);
    build_example_a(&f);
    fx_add(&f, "logs/2024-01-01/a.json", "json", "a:bigint");
    fx_add(&f, "logs/2024-01-02/a.json", "json", "a:bigint");
    fx_add(&f, "logs/x.json", "json", "a:bigint");
    char ev[256], absent[1024];
    snprintf(ev, sizeof ev, EV_PRESENT_TYPED, "\"id\",\"v\"");
    absent_evidence(absent, sizeof absent, "\"id\",\"v\"", "id", "v");
    fx_set_evidence(&f, fx_add(&f, "w/a.csv", "csv", "id:bigint,v:bigint"), ev);
    fx_set_evidence(&f, fx_add(&f, "w/b.csv", "csv", "col0:string,col1:string"), absent);
    opts_root(&o, "b");
    int rc = SL_ENOMEM;
    long n;
    for (n = 1; n < 5000 && rc != SL_OK; n++) {
        struct sl_err err;
        sl_alloc_fail_reset(n);
        rc = sl_group_objects(f.objs, f.n, &o, &r, &err);
        sl_alloc_fail_reset(0);
        if (rc != SL_OK) {
            CHECKF(rc == SL_ENOMEM, "step %ld gave %d", n, rc);
            CHECK(r.n_tables == 0 && r.tables == NULL && r.warnings == NULL);
        }
    }
    CHECK(rc == SL_OK);
    printf("# %ld allocation failure steps\n", n - 1);
    if (rc == SL_OK)
        CHECK(r.n_tables == 3 && find_table(&r, "w") &&
              columns_are(find_table(&r, "w"), "id:bigint,v:bigint"));
    sl_gresult_cleanup(&r);
    fx_cleanup(&f);
}

TEST(ten_thousand_objects)
{
    struct fx f;
    struct sl_gresult r;
    struct sl_group_opts o;
    char key[64];
    fx_init(&f, 20000);
    for (int p = 0; p < 100; p++)
        for (int i = 0; i < 100; i++) {
            snprintf(key, sizeof key, "events/%03d/part-%05d.json", p, i);
            fx_add(&f, key, "json", "id:bigint,ts:string,v:double,k:string");
        }
    for (int p = 0; p < 100; p++)
        for (int i = 0; i < 100; i++) {
            snprintf(key, sizeof key, "hive/dt=2024-%03d/part-%05d.parquet", p, i);
            fx_add(&f, key, "parquet", "id:bigint,ts:string,v:double,k:string");
        }
    opts_root(&o, "b");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK(run_group(&f, &o, &r) == SL_OK);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("# grouped %zu objects in %.1f ms\n", f.n,
           (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
    CHECK(r.n_tables == 2);
    const struct sl_gtable *e = find_table(&r, "events"), *h = find_table(&r, "hive");
    CHECK(e && e->n_partitions == 100 && e->n_objects == 10000);
    CHECK(e && strcmp(e->grouping, "value_folders") == 0);
    CHECK(h && h->n_partitions == 100 && h->n_objects == 10000 && keys_are(h, "dt"));
    CHECK(e && param(e, "recordCount") && strcmp(param(e, "recordCount"), "100000") == 0);
    CHECK(r.n_warnings == 0);
    sl_gresult_cleanup(&r);
    fx_cleanup(&f);
}

int main(void)
{
    t_suite = "group/";
    RUN(example_a_t36);
    RUN(example_b);
    RUN(example_c);
    RUN(example_d);
    RUN(example_e);
    RUN(example_f);
    RUN(example_g);
    RUN(example_h);
    RUN(t38_widening_across_partitions);
    RUN(t40_columns_unordered);
    RUN(header_reconciliation);
    RUN(t28_compression_mixed);
    RUN(t43_three_tables);
    RUN(table_params);
    RUN(table_names);
    RUN(mixed_partition_naming);
    RUN(inconsistent_partition_depth);
    RUN(partition_key_collision);
    RUN(hive_null_and_escapes);
    RUN(value_folders_outlier_and_stray);
    RUN(value_folders_too_many_clusters);
    RUN(word_folders);
    RUN(single_schema);
    RUN(similarity);
    RUN(empty_and_unsorted_input);
    RUN(alloc_failures);
    RUN(ten_thousand_objects);
    TEST_EXIT();
}
