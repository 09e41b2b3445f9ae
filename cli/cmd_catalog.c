/*
 * cli/cmd_catalog.c - `sluice catalog`: show databases, tables and partitions
 * of the catalog, as aligned text or (--json) in the AWS Glue API's shapes
 * (runtime/catalog_json.h), and create a database. The catalog access itself is
 * runtime/catalog*.c.
 */
#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "runtime/alloc.h"
#include "runtime/buf.h"
#include "runtime/catalog.h"
#include "runtime/catalog_json.h"

#define CMD "catalog"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sluice catalog databases [--json]\n"
            "       sluice catalog tables DB [--expression REGEX] [--json]\n"
            "       sluice catalog table DB.TABLE [--json]\n"
            "       sluice catalog partitions DB.TABLE [--json]\n"
            "       sluice catalog create-database NAME [--description TEXT] [--location URI]\n"
            "\n"
            "Shows the Data Catalog: databases, tables (columns, partition keys,\n"
            "parameters) and partitions. Names are case-insensitive (stored lowercased).\n"
            "\n"
            "Options:\n"
            "  --json               print the AWS Glue API shape: {\"DatabaseList\": [...]},\n"
            "                       {\"TableList\": [...]}, {\"Table\": {...}} or\n"
            "                       {\"Partitions\": [...]}\n"
            "  -e, --expression RE  tables: only names matching RE (anchored POSIX ERE,\n"
            "                       case-insensitive), as Glue GetTables' Expression\n"
            "  --description TEXT   create-database: its description\n"
            "  --location URI       create-database: its LocationUri\n"
            "  -h, --help           print this help\n"
            "\n"
            "The catalog is SLUICE_CATALOG (a libpq connection string or URI), or the\n"
            "embedded PostgreSQL under $SLUICE_HOME (default ./.sluice) when it is unset.\n"
            "Exit codes: 0 ok, 1 not found or failed, 2 usage or configuration error.\n");
}

/* ---- Text output ---- */

/* "2024-11-26T11:46:11Z" (UTC) or "-" for 0. */
static const char *fmt_time(int64_t ms, char *buf, size_t buf_len)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;

    if (ms <= 0 || !gmtime_r(&s, &tm) || strftime(buf, buf_len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        return "-";
    return buf;
}

/* A text table: cells are copied; printed with columns padded to their width. */
struct grid {
    size_t n_cols;
    size_t n_cells;
    char **cells;
    int oom;
};

/* A copy of s with control characters written as C escapes (\n, \t, \x01),
 * so a value such as a newline or tab delimiter stays on its row. Owned. */
static char *visible(const char *s)
{
    struct sl_buf b;
    sl_buf_init(&b, 0);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '\n')
            sl_buf_puts(&b, "\\n", NULL);
        else if (*p == '\r')
            sl_buf_puts(&b, "\\r", NULL);
        else if (*p == '\t')
            sl_buf_puts(&b, "\\t", NULL);
        else if (*p < 0x20 || *p == 0x7f)
            sl_buf_printf(&b, NULL, "\\x%02x", *p);
        else
            sl_buf_putc(&b, (char)*p, NULL);
    }
    return sl_buf_take(&b, NULL);
}

static void grid_add(struct grid *g, const char *cell)
{
    char **c;

    if (g->oom)
        return;
    c = sl_realloc(g->cells, (g->n_cells + 1) * sizeof *c);
    if (!c) {
        g->oom = 1;
        return;
    }
    g->cells = c;
    c[g->n_cells] = visible(cell && *cell ? cell : "-");
    if (!c[g->n_cells]) {
        g->oom = 1;
        return;
    }
    g->n_cells++;
}

static void grid_addf(struct grid *g, const char *fmt, long long v)
{
    char buf[32];
    snprintf(buf, sizeof buf, fmt, v);
    grid_add(g, buf);
}

static void grid_print(const struct grid *g, const char *indent)
{
    size_t width[16] = { 0 };

    for (size_t i = 0; i < g->n_cells; i++) {
        size_t n = strlen(g->cells[i]);
        size_t col = i % g->n_cols;
        if (col < 16 && n > width[col])
            width[col] = n;
    }
    for (size_t i = 0; i < g->n_cells; i++) {
        size_t col = i % g->n_cols;
        if (col == 0)
            fputs(indent, stdout);
        if (col + 1 == g->n_cols || i + 1 == g->n_cells)
            printf("%s\n", g->cells[i]);
        else
            printf("%-*s  ", (int)width[col], g->cells[i]);
    }
}

static void grid_free(struct grid *g)
{
    for (size_t i = 0; i < g->n_cells; i++)
        sl_free(g->cells[i]);
    sl_free(g->cells);
}

/* ---- JSON output ---- */

static int print_json(json_t *doc)
{
    char *text = sl_catalog_json_dump(doc, 1);

    json_decref(doc);
    if (!text) {
        fprintf(stderr, "sluice %s: out of memory\n", CMD);
        return SL_EXIT_FAIL;
    }
    printf("%s\n", text);
    sl_free(text);
    return SL_EXIT_OK;
}

/* ---- Subcommands ---- */

static int show_databases(struct sl_catalog *c, int json, struct sl_err *err)
{
    struct sl_catalog_database *dbs = NULL;
    size_t n = 0;
    struct grid g = { .n_cols = 4 };
    char tb[40];

    if (sl_catalog_database_list(c, NULL, 0, &dbs, &n, err) != SL_OK)
        return cli_fail(CMD, err);
    if (json) {
        int rc = print_json(sl_catalog_json_database_list_new(dbs, n));
        sl_catalog_database_list_free(dbs, n);
        return rc;
    }
    grid_add(&g, "NAME");
    grid_add(&g, "DESCRIPTION");
    grid_add(&g, "LOCATION");
    grid_add(&g, "CREATED");
    for (size_t i = 0; i < n; i++) {
        grid_add(&g, dbs[i].name);
        grid_add(&g, dbs[i].description);
        grid_add(&g, dbs[i].location_uri);
        grid_add(&g, fmt_time(dbs[i].created_ms, tb, sizeof tb));
    }
    if (!g.oom)
        grid_print(&g, "");
    grid_free(&g);
    sl_catalog_database_list_free(dbs, n);
    return SL_EXIT_OK;
}

static int show_tables(struct sl_catalog *c, const char *db, const char *expr, int json,
                       struct sl_err *err)
{
    struct sl_catalog_table *tables = NULL;
    size_t n = 0;
    struct grid g = { .n_cols = 6 };
    char tb[40];

    if (sl_catalog_table_list(c, db, expr, NULL, 0, &tables, &n, err) != SL_OK)
        return cli_fail(CMD, err);
    if (json) {
        int rc = print_json(sl_catalog_json_table_list_new(tables, n));
        sl_catalog_table_list_free(tables, n);
        return rc;
    }
    grid_add(&g, "NAME");
    grid_add(&g, "CLASSIFICATION");
    grid_add(&g, "LOCATION");
    grid_add(&g, "COLUMNS");
    grid_add(&g, "PARTITIONS");
    grid_add(&g, "UPDATED");
    for (size_t i = 0; i < n; i++) {
        const struct sl_catalog_table *t = &tables[i];
        grid_add(&g, t->name);
        grid_add(&g, t->classification);
        grid_add(&g, t->location);
        grid_addf(&g, "%lld", (long long)t->n_columns);
        grid_addf(&g, "%lld", (long long)t->n_partitions);
        grid_add(&g, fmt_time(t->updated_ms, tb, sizeof tb));
    }
    if (!g.oom)
        grid_print(&g, "");
    grid_free(&g);
    sl_catalog_table_list_free(tables, n);
    return SL_EXIT_OK;
}

static void print_columns(const char *title, const struct sl_catalog_column *cols, size_t n,
                          int with_comment)
{
    struct grid g = { .n_cols = with_comment ? 4 : 3 };

    printf("\n%s\n", title);
    if (n == 0) {
        printf("  (none)\n");
        return;
    }
    grid_add(&g, "#");
    grid_add(&g, "NAME");
    grid_add(&g, "TYPE");
    if (with_comment)
        grid_add(&g, "COMMENT");
    for (size_t i = 0; i < n; i++) {
        grid_addf(&g, "%lld", (long long)(i + 1));
        grid_add(&g, cols[i].name);
        grid_add(&g, cols[i].type);
        if (with_comment)
            grid_add(&g, cols[i].comment);
    }
    if (!g.oom)
        grid_print(&g, "  ");
    grid_free(&g);
}

static int show_table(struct sl_catalog *c, const char *db, const char *name, int json,
                      struct sl_err *err)
{
    struct sl_catalog_table *t = NULL;
    struct grid g = { .n_cols = 2 };
    char tb[40];
    char full[400];

    if (sl_catalog_table_get(c, db, name, &t, err) != SL_OK)
        return cli_fail(CMD, err);
    if (json) {
        int rc = print_json(sl_catalog_json_get_table_new(t));
        sl_catalog_table_free(t);
        return rc;
    }
    snprintf(full, sizeof full, "%s.%s", t->database, t->name);
    grid_add(&g, "Table");
    grid_add(&g, full);
    grid_add(&g, "Location");
    grid_add(&g, t->location);
    grid_add(&g, "Classification");
    grid_add(&g, t->classification);
    grid_add(&g, "Table type");
    grid_add(&g, t->table_type);
    grid_add(&g, "Version");
    grid_addf(&g, "%lld", (long long)t->current_version);
    grid_add(&g, "Schema hash");
    grid_add(&g, t->schema_hash);
    grid_add(&g, "State");
    grid_add(&g, sl_catalog_state_name(t->state));
    grid_add(&g, "Created by");
    grid_add(&g, t->created_by_crawler);
    grid_add(&g, "Created");
    grid_add(&g, fmt_time(t->created_ms, tb, sizeof tb));
    grid_add(&g, "Updated");
    grid_add(&g, fmt_time(t->updated_ms, tb, sizeof tb));
    grid_add(&g, "Partitions");
    grid_addf(&g, "%lld", (long long)t->n_partitions);
    if (!g.oom)
        grid_print(&g, "");
    grid_free(&g);

    print_columns("Columns", t->columns, t->n_columns, 1);
    print_columns("Partition keys", t->partition_keys, t->n_partition_keys, 0);
    printf("\nParameters\n");
    if (t->params.n_items == 0)
        printf("  (none)\n");
    struct grid pg = { .n_cols = 2 };
    for (size_t i = 0; i < t->params.n_items; i++) {
        grid_add(&pg, t->params.items[i].key);
        grid_add(&pg, t->params.items[i].value);
    }
    if (!pg.oom)
        grid_print(&pg, "  ");
    grid_free(&pg);
    sl_catalog_table_free(t);
    return SL_EXIT_OK;
}

static int show_partitions(struct sl_catalog *c, const char *db, const char *name, int json,
                           struct sl_err *err)
{
    struct sl_catalog_table *t = NULL;
    struct sl_catalog_partition *parts = NULL;
    size_t n = 0;
    struct grid g = { .n_cols = 5 };

    if (sl_catalog_table_get(c, db, name, &t, err) != SL_OK ||
        sl_catalog_partition_list(c, db, name, NULL, 0, 0, &parts, &n, err) != SL_OK) {
        sl_catalog_table_free(t);
        return cli_fail(CMD, err);
    }
    if (json) {
        int rc = print_json(sl_catalog_json_partition_list_new(t, parts, n, 0));
        sl_catalog_partition_list_free(parts, n);
        sl_catalog_table_free(t);
        return rc;
    }
    grid_add(&g, "VALUES");
    grid_add(&g, "LOCATION");
    grid_add(&g, "OBJECTS");
    grid_add(&g, "RECORDS");
    grid_add(&g, "STATE");
    for (size_t i = 0; i < n; i++) {
        const struct sl_catalog_partition *p = &parts[i];
        char vals[1024];
        size_t o = 0;
        vals[0] = '\0';
        for (size_t v = 0; v < p->n_values && o + 1 < sizeof vals; v++) {
            const char *key = v < t->n_partition_keys ? t->partition_keys[v].name : "?";
            int w = snprintf(vals + o, sizeof vals - o, "%s%s=%s", v ? "/" : "", key,
                             p->values[v]);
            if (w < 0)
                break;
            o += (size_t)w;
        }
        grid_add(&g, vals);
        grid_add(&g, p->location);
        grid_add(&g, sl_catalog_params_get(&p->params, "objectCount"));
        grid_add(&g, sl_catalog_params_get(&p->params, "recordCount"));
        grid_add(&g, sl_catalog_state_name(p->state));
    }
    if (!g.oom)
        grid_print(&g, "");
    grid_free(&g);
    sl_catalog_partition_list_free(parts, n);
    sl_catalog_table_free(t);
    return SL_EXIT_OK;
}

static int create_database(struct sl_catalog *c, const char *name, const char *description,
                           const char *location, int json, struct sl_err *err)
{
    struct sl_catalog_database d;

    memset(&d, 0, sizeof d);
    d.name = (char *)name;
    d.description = (char *)description;
    d.location_uri = (char *)location;
    if (sl_catalog_database_create(c, &d, err) != SL_OK)
        return cli_fail(CMD, err);
    if (json)
        printf("{}\n"); /* Glue CreateDatabase answers an empty object */
    else {
        printf("created database \"");
        for (const char *p = name; *p; p++)
            putchar(tolower((unsigned char)*p)); /* names are stored lowercased */
        printf("\"\n");
    }
    return SL_EXIT_OK;
}

/* Splits "db.table" at the first dot into the two buffers. */
static int split_name(const char *arg, char *db, size_t db_len, char *table, size_t table_len)
{
    const char *dot = strchr(arg, '.');

    if (!dot || dot == arg || !dot[1] || (size_t)(dot - arg) >= db_len ||
        strlen(dot + 1) >= table_len)
        return -1;
    memcpy(db, arg, (size_t)(dot - arg));
    db[dot - arg] = '\0';
    snprintf(table, table_len, "%s", dot + 1);
    return 0;
}

int cmd_catalog(int argc, char **argv)
{
    static const struct option opts[] = {
        { "json", no_argument, NULL, 'j' },
        { "expression", required_argument, NULL, 'e' },
        { "description", required_argument, NULL, 'd' },
        { "location", required_argument, NULL, 'l' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *expr = NULL, *description = NULL, *location = NULL;
    int json = cli_json;
    int opt;
    struct sl_err err = { 0 };
    struct sl_catalog *c = NULL;
    char db[256], table[256];
    int rc;

    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":e:h", opts, NULL)) != -1) {
        switch (opt) {
        case 'j': json = 1; break;
        case 'e': expr = optarg; break;
        case 'd': description = optarg; break;
        case 'l': location = optarg; break;
        case 'h': usage(stdout); return SL_EXIT_OK;
        case ':': return cli_usage_error(CMD, "option \"%s\" needs a value", argv[optind - 1]);
        default: return cli_usage_error(CMD, "unknown option \"%s\"", argv[optind - 1]);
        }
    }
    int n_args = argc - optind;
    char **args = argv + optind;
    if (n_args < 1)
        return cli_usage_error(CMD, "which one: databases, tables, table or partitions?");
    const char *sub = args[0];
    int is_databases = strcmp(sub, "databases") == 0;
    int is_tables = strcmp(sub, "tables") == 0;
    int is_table = strcmp(sub, "table") == 0;
    int is_partitions = strcmp(sub, "partitions") == 0;
    int is_create = strcmp(sub, "create-database") == 0;
    if (!is_databases && !is_tables && !is_table && !is_partitions && !is_create)
        return cli_usage_error(CMD, "unknown subcommand \"%s\"", sub);
    if (n_args != (is_databases ? 1 : 2))
        return cli_usage_error(CMD, "\"%s\" takes %s", sub,
                               is_databases ? "no argument"
                               : is_tables  ? "one argument: DB"
                               : is_create  ? "one argument: NAME"
                                            : "one argument: DB.TABLE");
    if (expr && !is_tables)
        return cli_usage_error(CMD, "--expression is for \"tables\" only");
    if ((description || location) && !is_create)
        return cli_usage_error(CMD, "--description and --location are for \"create-database\"");
    if ((is_table || is_partitions) &&
        split_name(args[1], db, sizeof db, table, sizeof table) != 0)
        return cli_usage_error(CMD, "expected DB.TABLE, got \"%s\"", args[1]);

    c = sl_catalog_open(&err);
    if (!c)
        return cli_fail(CMD, &err);
    if (is_databases)
        rc = show_databases(c, json, &err);
    else if (is_tables)
        rc = show_tables(c, args[1], expr, json, &err);
    else if (is_table)
        rc = show_table(c, db, table, json, &err);
    else if (is_partitions)
        rc = show_partitions(c, db, table, json, &err);
    else
        rc = create_database(c, args[1], description, location, json, &err);
    sl_catalog_free(c);
    return rc;
}
