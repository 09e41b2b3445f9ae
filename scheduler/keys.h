/*
 * scheduler/keys.h - the API key store: the access key ids that may call the
 * Glue-compatible HTTP API, and their secret keys.
 *
 * Keys come as a list "KEYID:SECRET[,KEYID:SECRET...]" from the environment
 * variable SLUICE_API_KEYS (sl_keys_load_env) or from the text of a config file
 * setting (sl_keys_add_list; the config file format is the caller's). Clients
 * sign with the same pair, e.g. AWS_ACCESS_KEY_ID=KEYID
 * AWS_SECRET_ACCESS_KEY=SECRET for the AWS CLI. Signature checking itself is in
 * scheduler/sigv4.c.
 *
 * Secrets: no function here logs, and no error message holds a secret or any
 * part of an entry before its key id is known to be well formed. Secrets are
 * wiped (OPENSSL_cleanse) when the store is freed. Key id lookups take the same
 * time whichever key matches, or none.
 *
 * Thread safety: build the store on one thread; once built, any number of
 * threads may call sl_keys_find / sl_key_* concurrently. Reloading means
 * building a new store and swapping it in (the caller's lock).
 */
#ifndef SL_KEYS_H
#define SL_KEYS_H

#include <stddef.h>

#include "runtime/err.h"

#define SL_KEYS_ENV        "SLUICE_API_KEYS"
#define SL_KEYS_ID_MAX     128  /* bytes; AWS access key ids are 16..128 */
#define SL_KEYS_SECRET_MAX 256  /* bytes; AWS secrets are 40, leave room for longer ones */
#define SL_KEYS_MAX        4096 /* keys per store; a lookup compares against every one */

struct sl_keys; /* opaque; owned by its creator, freed with sl_keys_free() */
struct sl_key;  /* opaque; one id/secret pair, borrowed from its store */

/* An empty store; NULL when out of memory. */
struct sl_keys *sl_keys_new(void);
/* Wipes every secret and frees the store; NULL is a no-op. */
void sl_keys_free(struct sl_keys *keys);

/* Adds the keys of a list text[0..text_len): entries "KEYID:SECRET" separated by
 * ',' or line breaks; blanks around entries and empty entries are ignored.
 * KEYID is 1..SL_KEYS_ID_MAX characters of A-Z a-z 0-9 '_' '.' '-'; SECRET runs
 * from the first ':' to the end of the entry, 1..SL_KEYS_SECRET_MAX printable
 * ASCII characters other than ',' (so it may hold ':', '/', '+', '=').
 * origin names the source in messages ("SLUICE_API_KEYS", "sluice.conf [api]").
 * All or nothing: on error no key of the list is added.
 * Errors: SL_ECONFIG for a malformed entry, a key id already in the store, a
 * list without any entry, or more than SL_KEYS_MAX keys (the message names
 * origin and the entry number, never the secret); SL_ENOMEM. */
int sl_keys_add_list(struct sl_keys *keys, const char *text, size_t text_len, const char *origin,
                     struct sl_err *err);

/* Adds the keys of $SLUICE_API_KEYS (as sl_keys_add_list). Unset: SL_OK and
 * nothing added; set but without any entry: SL_ECONFIG. */
int sl_keys_load_env(struct sl_keys *keys, struct sl_err *err);

/* Number of keys in the store. */
size_t sl_keys_count(const struct sl_keys *keys);

/* The i-th key (0 <= i < count), in the order added, e.g. to list the key ids
 * at startup. Borrowed until sl_keys_free(). */
const struct sl_key *sl_keys_at(const struct sl_keys *keys, size_t i);

/* The key whose id is id[0..id_len) (compared exactly, case-sensitive), or NULL.
 * Constant time in the content of id: every key is compared in full, whether or
 * not one matches. Borrowed until sl_keys_free(). */
const struct sl_key *sl_keys_find(const struct sl_keys *keys, const char *id, size_t id_len);

/* The key id (NUL-terminated); not a secret. Borrowed until sl_keys_free(). */
const char *sl_key_id(const struct sl_key *key);

/* The secret bytes (not NUL-terminated) and their count in *len. For signing
 * only (scheduler/sigv4.c): never log, print or copy it anywhere that outlives
 * the call. Borrowed until sl_keys_free(). */
const unsigned char *sl_key_secret(const struct sl_key *key, size_t *len);

#endif
