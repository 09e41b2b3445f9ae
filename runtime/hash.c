/*
 * runtime/hash.c - content digests through OpenSSL (see hash.h).
 */
#include "hash.h"

#include <openssl/evp.h>
#include <string.h>

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
