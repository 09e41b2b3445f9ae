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
    struct cli_grid g = { .n_cols = 4 };
    char tb[40];

    if (sl_catalog_database_list(c, NULL, 0, &dbs, &n, err) != SL_OK)
        return cli_fail(CMD, err);
    if (json) {
        int rc = print_json(sl_catalog_json_database_list_new(dbs, n));
        sl_catalog_database_list_free(dbs, n);
        return rc;
    }
    cli_grid_add(&g, "NAME");
    cli_grid_add(&g, "DESCRIPTION");
    cli_grid_add(&g, "LOCATION");
    cli_grid_add(&g, "CREATED");
    for (size_t i = 0; i < n; i++) {
        cli_grid_add(&g, dbs[i].name);
        cli_grid_add(&g, dbs[i].description);
        cli_grid_add(&g, dbs[i].location_uri);
        cli_grid_add(&g, fmt_time(dbs[i].created_ms, tb, sizeof tb));
    }
    if (!g.oom)
        cli_grid_print(&g, CMD, "");
    cli_grid_free(&g);
    sl_catalog_database_list_free(dbs, n);
    return SL_EXIT_OK;
}

static int show_tables(struct sl_catalog *c, const char *db, const char *expr, int json,
                       struct sl_err *err)
{
    struct sl_catalog_table *tables = NULL;
    size_t n = 0;
    struct cli_grid g = { .n_cols = 6 };
    char tb[40];

    if (sl_catalog_table_list(c, db, expr, NULL, 0, &tables, &n, err) != SL_OK)
        return cli_fail(CMD, err);
    if (json) {
        int rc = print_json(sl_catalog_json_table_list_new(tables, n));
        sl_catalog_table_list_free(tables, n);
        return rc;
    }
    cli_grid_add(&g, "NAME");
    cli_grid_add(&g, "CLASSIFICATION");
    cli_grid_add(&g, "LOCATION");
    cli_grid_add(&g, "COLUMNS");
    cli_grid_add(&g, "PARTITIONS");
    cli_grid_add(&g, "UPDATED");
    for (size_t i = 0; i < n; i++) {
        const struct sl_catalog_table *t = &tables[i];
        cli_grid_add(&g, t->name);
        cli_grid_add(&g, t->classification);
        cli_grid_add(&g, t->location);
        cli_grid_addf(&g, "%lld", (long long)t->n_columns);
        cli_grid_addf(&g, "%lld", (long long)t->n_partitions);
        cli_grid_add(&g, fmt_time(t->updated_ms, tb, sizeof tb));
    }
    if (!g.oom)
        cli_grid_print(&g, CMD, "");
    cli_grid_free(&g);
    sl_catalog_table_list_free(tables, n);
    return SL_EXIT_OK;
}

static void print_columns(const char *title, const struct sl_catalog_column *cols, size_t n,
                          int with_comment)
{
    struct cli_grid g = { .n_cols = with_comment ? 4 : 3 };

    printf("\n%s\n", title);
    if (n == 0) {
        printf("  (none)\n");
        return;
    }
    cli_grid_add(&g, "#");
    cli_grid_add(&g, "NAME");
    cli_grid_add(&g, "TYPE");
    if (with_comment)
        cli_grid_add(&g, "COMMENT");
    for (size_t i = 0; i < n; i++) {
        cli_grid_addf(&g, "%lld", (long long)(i + 1));
        cli_grid_add(&g, cols[i].name);
        cli_grid_add(&g, cols[i].type);
        if (with_comment)
            cli_grid_add(&g, cols[i].comment);
    }
    if (!g.oom)
        cli_grid_print(&g, CMD, "  ");
    cli_grid_free(&g);
}

static int show_table(struct sl_catalog *c, const char *db, const char *name, int json,
                      struct sl_err *err)
{
    struct sl_catalog_table *t = NULL;
    struct cli_grid g = { .n_cols = 2 };
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
    cli_grid_add(&g, "Table");
    cli_grid_add(&g, full);
    cli_grid_add(&g, "Location");
    cli_grid_add(&g, t->location);
    cli_grid_add(&g, "Classification");
    cli_grid_add(&g, t->classification);
    cli_grid_add(&g, "Table type");
    cli_grid_add(&g, t->table_type);
    cli_grid_add(&g, "Version");
    cli_grid_addf(&g, "%lld", (long long)t->current_version);
    cli_grid_add(&g, "Schema hash");
    cli_grid_add(&g, t->schema_hash);
    cli_grid_add(&g, "State");
    cli_grid_add(&g, sl_catalog_state_name(t->state));
    cli_grid_add(&g, "Created by");
    cli_grid_add(&g, t->created_by_crawler);
    cli_grid_add(&g, "Created");
    cli_grid_add(&g, fmt_time(t->created_ms, tb, sizeof tb));
    cli_grid_add(&g, "Updated");
    cli_grid_add(&g, fmt_time(t->updated_ms, tb, sizeof tb));
    cli_grid_add(&g, "Partitions");
    cli_grid_addf(&g, "%lld", (long long)t->n_partitions);
    if (!g.oom)
        cli_grid_print(&g, CMD, "");
    cli_grid_free(&g);

    print_columns("Columns", t->columns, t->n_columns, 1);
    print_columns("Partition keys", t->partition_keys, t->n_partition_keys, 0);
    printf("\nParameters\n");
    if (t->params.n_items == 0)
        printf("  (none)\n");
    struct cli_grid pg = { .n_cols = 2 };
    for (size_t i = 0; i < t->params.n_items; i++) {
        cli_grid_add(&pg, t->params.items[i].key);
        cli_grid_add(&pg, t->params.items[i].value);
    }
    if (!pg.oom)
        cli_grid_print(&pg, CMD, "  ");
    cli_grid_free(&pg);
    sl_catalog_table_free(t);
    return SL_EXIT_OK;
}

static int show_partitions(struct sl_catalog *c, const char *db, const char *name, int json,
                           struct sl_err *err)
{
    struct sl_catalog_table *t = NULL;
    struct sl_catalog_partition *parts = NULL;
    size_t n = 0;
    struct cli_grid g = { .n_cols = 5 };

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
    cli_grid_add(&g, "VALUES");
    cli_grid_add(&g, "LOCATION");
    cli_grid_add(&g, "OBJECTS");
    cli_grid_add(&g, "RECORDS");
    cli_grid_add(&g, "STATE");
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
        cli_grid_add(&g, vals);
        cli_grid_add(&g, p->location);
        cli_grid_add(&g, sl_catalog_params_get(&p->params, "objectCount"));
        cli_grid_add(&g, sl_catalog_params_get(&p->params, "recordCount"));
        cli_grid_add(&g, sl_catalog_state_name(p->state));
    }
    if (!g.oom)
        cli_grid_print(&g, CMD, "");
    cli_grid_free(&g);
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
