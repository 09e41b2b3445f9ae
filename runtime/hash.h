/*
 * runtime/hash.h - content digests shared by the store (S3 payload hashes),
 * the catalog (schema and config hashes) and the crawler (table-name suffixes),
 * and the hex text helpers every parser of %XX escapes uses.
 */
#ifndef SL_HASH_H
#define SL_HASH_H

#include <stddef.h>

/* Lower-case hex SHA-256 of data[0..len) into out (64 digits and a NUL).
 * Thread-safe. */
void sl_sha256_hex(const void *data, size_t len, char out[65]);

/* The value of one hex digit (either case), or -1 when c is not one. */
int sl_hex_digit(int c);

/* %XX decoding of a Hive partition folder's key or value (s[0..n)); invalid
 * escapes and %00 stay as they are. Owned (sl_free); NULL on OOM. */
char *sl_hive_unescape(const char *s, size_t n);

#endif
