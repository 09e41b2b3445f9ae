/*
 * runtime/hash.h - content digests shared by the store (S3 payload hashes),
 * the catalog (schema and config hashes) and the crawler (table-name suffixes).
 */
#ifndef SL_HASH_H
#define SL_HASH_H

#include <stddef.h>

/* Lower-case hex SHA-256 of data[0..len) into out (64 digits and a NUL).
 * Thread-safe. */
void sl_sha256_hex(const void *data, size_t len, char out[65]);

#endif
