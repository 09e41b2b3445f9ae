/*
 * tests/fuzz/fuzz_value.c - value text conversions and the key/row decoders.
 * The first byte picks a type, the rest is text: from_text -> to_text ->
 * from_text must give an equal value. The same bytes are fed to sl_key_decode
 * and sl_row_decode with n = 1..4; whatever decodes must re-encode and decode
 * to equal values.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/arena.h"
#include "runtime/buf.h"
#include "runtime/err.h"
#include "runtime/value.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_codec(int key, const uint8_t *data, size_t size, struct sl_arena *a)
{
    struct sl_err e = {0};
    struct sl_value v[4], w[4];
    for (size_t n = 1; n <= 4; n++) {
        int rc =
            key ? sl_key_decode(data, size, n, a, v, &e) : sl_row_decode(data, size, n, a, v, &e);
        if (rc != SL_OK) {
            if (rc != SL_EPARSE)
                abort();
            continue;
        }
        struct sl_buf b;
        sl_buf_init(&b, 0);
        rc = key ? sl_key_encode(v, n, &b, &e) : sl_row_encode(v, n, &b, &e);
        if (rc != SL_OK)
            abort();
        rc = key ? sl_key_decode(b.data, b.len, n, a, w, &e)
                 : sl_row_decode(b.data, b.len, n, a, w, &e);
        if (rc != SL_OK)
            abort();
        for (size_t k = 0; k < n; k++)
            if (v[k].type != w[k].type || !sl_value_eq(&v[k], &w[k]))
                abort();
        sl_buf_cleanup(&b);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sl_arena a;
    struct sl_err e = {0};
    sl_arena_init(&a, 0);
    if (size >= 1) {
        enum sl_vtype t = (enum sl_vtype)(data[0] % 9);
        const char *p = (const char *)data + 1;
        struct sl_value v, w;
        if (sl_value_from_text(t, p, size - 1, &a, &v, &e) == SL_OK) {
            struct sl_buf b;
            sl_buf_init(&b, 0);
            if (sl_value_to_text(&v, &b, &e) != SL_OK)
                abort();
            if (sl_value_from_text(t, b.data ? b.data : "", b.len, &a, &w, &e) != SL_OK)
                abort();
            if (w.type != v.type || !sl_value_eq(&v, &w))
                abort();
            /* Every value survives a cast to string and back. */
            struct sl_value s, r;
            if (sl_value_cast(&v, SL_V_STRING, &a, &s, &e) != SL_OK)
                abort();
            if (sl_value_cast(&s, t, &a, &r, &e) != SL_OK || !sl_value_eq(&v, &r))
                abort();
            sl_buf_cleanup(&b);
        } else if (e.code != SL_EPARSE) {
            abort();
        }
    }
    check_codec(1, data, size, &a);
    check_codec(0, data, size, &a);
    sl_arena_cleanup(&a);
    return 0;
}
