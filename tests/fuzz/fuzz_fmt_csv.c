/*
 * tests/fuzz/fuzz_fmt_csv.c - the runtime CSV reader (runtime/fmt_csv.c) on
 * hostile bytes: the input is written to a temp file and read through the
 * local store with a few option combinations (typed and string columns,
 * quote/escape dialects, comments, trim, name matching, a byte-range split).
 * Any crash, leak or sanitizer report is a bug; errors and bad rows are fine.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/alloc.h"
#include "runtime/batch.h"
#include "runtime/fmt.h"
#include "runtime/store.h"

static int on_bad(void *ud, const char *object, int64_t line, int column, const char *reason,
                  const char *raw, size_t raw_len)
{
    size_t *n = ud;
    (void)object, (void)line, (void)column, (void)reason;
    if (raw_len)
        *n += (unsigned char)raw[raw_len - 1] & 1; /* touch the raw bytes */
    return (*n)++ < 1000 ? 0 : 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[64];
    static struct sl_store *st;
    static char *key;
    static struct sl_rschema *s;
    struct sl_err err;
    static const char *const nulls[] = {"NA", "null", NULL};

    if (!st) {
        snprintf(path, sizeof path, "/tmp/sluice-fuzz-fmt-csv-%d.csv", (int)getpid());
        if (!(st = sl_store_open(path, &key, &err)))
            abort();
        s = sl_rschema_new(4);
        sl_rschema_set(s, 0, "a", SL_V_STRING, &err);
        sl_rschema_set(s, 1, "b", SL_V_INT, &err);
        sl_rschema_set(s, 2, "c", SL_V_DOUBLE, &err);
        sl_rschema_set(s, 3, "d", SL_V_DATE, &err);
    }
    if (sl_store_put(st, key, data, size, &err) != SL_OK)
        return 0;
    struct sl_batch *b = sl_batch_new(s, 64, 1 << 16);
    for (int v = 0; v < 5; v++) {
        struct sl_fmt_opts o;
        struct sl_fmt_reader *r;
        size_t n_bad = 0;
        sl_fmt_opts_init(&o);
        o.bad_row = on_bad;
        o.bad_row_ud = &n_bad;
        o.null_tokens = nulls;
        switch (v) {
        case 1: o.delimiter = '\t'; o.quote = '\''; o.escape = SL_FMT_ESC_BACKSLASH;
                o.comment = '#'; o.trim = true; break;
        case 2: o.skip_lines = 2; o.match_by_name = true; o.trailing_delimiter = true; break;
        case 3: o.quote = 0; o.delimiter = ';'; o.bad_row = NULL; break;
        case 4: o.no_quoted_newlines = true; o.range_start = (int64_t)size / 3;
                o.range_end = (int64_t)size * 2 / 3; break;
        default: break;
        }
        if (sl_fmt_csv_ops.reader_open(st, key, &o, s, &r, &err) != SL_OK)
            continue;
        int got;
        while ((got = sl_fmt_next_batch(r, b, &err)) > 0) {
            for (uint32_t i = 0; i < b->n_rows; i++) {
                const struct sl_value *row = sl_batch_row(b, i);
                if (row[0].type == SL_V_STRING && row[0].len && row[0].s[row[0].len - 1] == 1)
                    n_bad++;
            }
            sl_batch_reset(b);
        }
        sl_fmt_reader_close(r);
        sl_batch_reset(b);
    }
    sl_batch_free(b);
    return 0;
}
