/*
 * runtime/hash.c - content digests through OpenSSL (see hash.h).
 */
#include "hash.h"

#include <openssl/evp.h>
#include <string.h>

#include "alloc.h"

void sl_sha256_hex(const void *data, size_t len, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;

    if (EVP_Digest(data, len, md, &md_len, EVP_sha256(), NULL) != 1 || md_len != 32) {
        memset(out, '0', 64); /* only if OpenSSL itself is broken */
        out[64] = '\0';
        return;
    }
    for (unsigned i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
}

int sl_hex_digit(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *sl_hive_unescape(const char *s, size_t n)
{
    char *d = sl_alloc(n + 1);
    if (!d)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n) {
            int hi = sl_hex_digit((unsigned char)s[i + 1]), lo = sl_hex_digit((unsigned char)s[i + 2]);
            if (hi >= 0 && lo >= 0 && (hi | lo) != 0) {
                d[k++] = (char)(hi * 16 + lo);
                i += 2;
                continue;
            }
        }
        d[k++] = s[i];
    }
    d[k] = '\0';
    return d;
}
