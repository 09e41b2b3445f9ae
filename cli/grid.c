/*
 * cli/grid.c - the aligned text tables that the commands print (`sluice
 * catalog`, `sluice jobs`, `sluice runs`): cells are copied with control
 * characters escaped, then printed with each column padded to its width.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "runtime/alloc.h"
#include "runtime/buf.h"

#define COLS_MAX 16 /* columns that get padded; our widest table has 8 */

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

void cli_grid_add(struct cli_grid *g, const char *cell)
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

void cli_grid_addf(struct cli_grid *g, const char *fmt, long long v)
{
    char buf[32];
    snprintf(buf, sizeof buf, fmt, v);
    cli_grid_add(g, buf);
}

int cli_grid_print(const struct cli_grid *g, const char *cmd, const char *indent)
{
    size_t width[COLS_MAX] = {0};

    if (g->oom) {
        fprintf(stderr, "sluice %s: out of memory\n", cmd);
        return SL_EXIT_FAIL;
    }
    for (size_t i = 0; i < g->n_cells; i++) {
        size_t n = strlen(g->cells[i]);
        size_t col = i % g->n_cols;
        if (col < COLS_MAX && n > width[col])
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
    return SL_EXIT_OK;
}

void cli_grid_free(struct cli_grid *g)
{
    for (size_t i = 0; i < g->n_cells; i++)
        sl_free(g->cells[i]);
    sl_free(g->cells);
}
