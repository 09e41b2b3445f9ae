/*
 * tests/fuzz/fuzz_pgload_target.c - arbitrary bytes as a write target to
 * sl_pgload_target_parse: it must return SL_OK or SL_ECONFIG with a message
 * (never crash or leak), and a success must hold what loads rely on: a
 * dialect, a connection string ("" only for postgres: targets without a
 * URI), a schema and a table of 1 to 63 bytes without control characters,
 * and sl_pgload_is_target agreeing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/pgload.h"

static void check_name(const char *n)
{
    size_t len = n ? strlen(n) : 0;
    if (len == 0 || len > 63)
        abort();
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)n[i];
        if (c < 0x20 || c == 0x7f)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *uri = malloc(size + 1);
    struct sl_pgload_target t;
    struct sl_err err = {0};

    if (!uri)
        return 0;
    memcpy(uri, data, size);
    uri[size] = '\0'; /* a NUL inside the input ends the string, as for any C caller */
    int rc = sl_pgload_target_parse(uri, &t, &err);
    if (rc == SL_OK) {
        if (!sl_pgload_is_target(uri) || !t.conninfo)
            abort();
        if (t.dialect != SL_PGLOAD_POSTGRES && t.dialect != SL_PGLOAD_REDSHIFT)
            abort();
        if (t.dialect == SL_PGLOAD_REDSHIFT && t.conninfo[0] == '\0')
            abort();
        check_name(t.schema);
        check_name(t.table);
    } else if ((rc != SL_ECONFIG && rc != SL_ENOMEM) || err.msg[0] == '\0') {
        abort();
    } else if (t.conninfo || t.schema || t.table) {
        abort(); /* a failed parse leaves nothing to clean up */
    }
    sl_pgload_target_cleanup(&t);
    free(uri);
    return 0;
}
