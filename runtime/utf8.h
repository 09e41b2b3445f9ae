/*
 * runtime/utf8.h - the one UTF-8 sequence check of the runtime: what
 * PostgreSQL accepts as UTF-8 (no overlong forms, no surrogates, nothing past
 * U+10FFFF). Inline: the loader's COPY encoder calls it per non-ASCII byte.
 */
#ifndef SL_UTF8_H
#define SL_UTF8_H

#include <stddef.h>

/* Length of the valid UTF-8 sequence at p (lead byte >= 0x80), or 0. */
static inline size_t sl_utf8_seq(const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0];
    size_t avail = (size_t)(end - p);
    if (c >= 0xc2 && c <= 0xdf)
        return avail >= 2 && (p[1] & 0xc0) == 0x80 ? 2 : 0;
    if (c >= 0xe0 && c <= 0xef) {
        if (avail < 3 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80)
            return 0;
        if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] > 0x9f))
            return 0; /* overlong, surrogate */
        return 3;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        if (avail < 4 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 || (p[3] & 0xc0) != 0x80)
            return 0;
        if ((c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] > 0x8f))
            return 0; /* overlong, past U+10FFFF */
        return 4;
    }
    return 0;
}

#endif
