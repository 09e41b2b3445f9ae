/*
 * scheduler/keys.c - the API key store (see keys.h): parses key lists, holds
 * the secrets, looks key ids up in constant time. The SigV4 check that uses
 * the secrets is in sigv4.c.
 */
#include "keys.h"

#include <openssl/crypto.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/alloc.h"

struct sl_key {
    char *id;              /* owned; NUL-terminated */
    size_t id_len;         /* bytes */
    unsigned char *secret; /* owned; wiped before free; not NUL-terminated */
    size_t secret_len;     /* bytes */
};

struct sl_keys {
    struct sl_key **v; /* owned, each owned; pointers stay valid until sl_keys_free */
    size_t n_keys, cap_keys;
};

/* One entry of a list, located in the caller's text. */
struct entry {
    const char *id, *secret;
    size_t id_len, secret_len;
};

static void key_free(struct sl_key *k)
{
    if (!k)
        return;
    if (k->secret) {
        OPENSSL_cleanse(k->secret, k->secret_len);
        sl_free(k->secret);
    }
    sl_free(k->id);
    sl_free(k);
}

struct sl_keys *sl_keys_new(void)
{
    return sl_calloc(1, sizeof(struct sl_keys));
}

void sl_keys_free(struct sl_keys *keys)
{
    if (!keys)
        return;
    for (size_t i = 0; i < keys->n_keys; i++)
        key_free(keys->v[i]);
    sl_free(keys->v);
    sl_free(keys);
}

size_t sl_keys_count(const struct sl_keys *keys)
{
    return keys ? keys->n_keys : 0;
}

const struct sl_key *sl_keys_at(const struct sl_keys *keys, size_t i)
{
    return keys && i < keys->n_keys ? keys->v[i] : NULL;
}

const char *sl_key_id(const struct sl_key *key)
{
    return key->id;
}

const unsigned char *sl_key_secret(const struct sl_key *key, size_t *len)
{
    *len = key->secret_len;
    return key->secret;
}

/* ---- Lookup ---- */

/* 0 when a[0..a_len) equals b[0..b_len), else nonzero. The time depends on the
 * lengths only, never on where the bytes differ. */
static unsigned ct_diff(const char *a, size_t a_len, const char *b, size_t b_len)
{
    unsigned diff = a_len != b_len;
    for (size_t i = 0; i < b_len; i++) {
        unsigned char ca = i < a_len ? (unsigned char)a[i] : 0;
        diff |= ca ^ (unsigned char)b[i];
    }
    return diff;
}

const struct sl_key *sl_keys_find(const struct sl_keys *keys, const char *id, size_t id_len)
{
    if (!keys || !id)
        return NULL;
    /* Every key is compared and the match is picked by masking, so the time
     * says nothing about which key (if any) matched. */
    size_t hit = 0; /* index + 1 of the match; ids are unique so at most one */
    for (size_t i = 0; i < keys->n_keys; i++) {
        size_t eq = (size_t)(ct_diff(id, id_len, keys->v[i]->id, keys->v[i]->id_len) == 0);
        hit |= ((size_t)0 - eq) & (i + 1);
    }
    return hit ? keys->v[hit - 1] : NULL;
}

/* ---- Parsing ---- */

static bool is_id_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* Checks one entry text s[0..len) (already trimmed, not empty) and fills *e. */
static int parse_entry(const char *s, size_t len, const char *origin, size_t nth, struct entry *e,
                       struct sl_err *err)
{
    const char *colon = memchr(s, ':', len);
    if (!colon)
        return sl_err_set(err, SL_ECONFIG,
                          "%s: entry %zu: missing ':' between access key id and secret", origin,
                          nth);
    /* blanks around the ':' are allowed; none can be part of an id or secret */
    e->id = s;
    e->id_len = (size_t)(colon - s);
    while (e->id_len && is_blank(e->id[e->id_len - 1]))
        e->id_len--;
    e->secret = colon + 1;
    e->secret_len = len - (size_t)(colon - s) - 1;
    while (e->secret_len && is_blank(e->secret[0])) {
        e->secret++;
        e->secret_len--;
    }
    if (e->id_len == 0)
        return sl_err_set(err, SL_ECONFIG, "%s: entry %zu: empty access key id", origin, nth);
    if (e->id_len > SL_KEYS_ID_MAX)
        return sl_err_set(err, SL_ECONFIG, "%s: entry %zu: access key id longer than %d characters",
                          origin, nth, SL_KEYS_ID_MAX);
    for (size_t i = 0; i < e->id_len; i++) {
        if (!is_id_char((unsigned char)e->id[i]))
            return sl_err_set(err, SL_ECONFIG,
                              "%s: entry %zu: access key id may only hold A-Z a-z 0-9 _ . -",
                              origin, nth);
    }
    /* From here on the key id is known to be harmless and may be named. */
    int id_len = (int)e->id_len;
    if (e->secret_len == 0)
        return sl_err_set(err, SL_ECONFIG, "%s: entry %zu (\"%.*s\"): empty secret", origin, nth,
                          id_len, e->id);
    if (e->secret_len > SL_KEYS_SECRET_MAX)
        return sl_err_set(err, SL_ECONFIG,
                          "%s: entry %zu (\"%.*s\"): secret longer than %d characters", origin, nth,
                          id_len, e->id, SL_KEYS_SECRET_MAX);
    for (size_t i = 0; i < e->secret_len; i++) {
        unsigned char c = (unsigned char)e->secret[i];
        if (c <= ' ' || c >= 0x7f)
            return sl_err_set(err, SL_ECONFIG,
                              "%s: entry %zu (\"%.*s\"): the secret may only hold printable "
                              "ASCII characters without blanks",
                              origin, nth, id_len, e->id);
    }
    return SL_OK;
}

static struct sl_key *key_new(const struct entry *e)
{
    struct sl_key *k = sl_calloc(1, sizeof *k);
    if (!k)
        return NULL;
    k->id = sl_strndup(e->id, e->id_len);
    k->secret = sl_alloc(e->secret_len);
    if (!k->id || !k->secret) {
        key_free(k);
        return NULL;
    }
    k->id_len = e->id_len;
    memcpy(k->secret, e->secret, e->secret_len);
    k->secret_len = e->secret_len;
    return k;
}

/* The next entry of text[*pos..len): trimmed bounds in *a, *b (a == b: empty
 * entry); false at the end of the text. */
static bool next_entry(const char *text, size_t len, size_t *pos, size_t *a, size_t *b)
{
    if (*pos >= len)
        return false;
    size_t end = *pos;
    while (end < len && text[end] != ',' && text[end] != '\n')
        end++;
    *a = *pos;
    *b = end;
    *pos = end + 1;
    while (*a < *b && is_blank(text[*a]))
        (*a)++;
    while (*b > *a && is_blank(text[*b - 1]))
        (*b)--;
    return true;
}

/*
 * Checks every entry first (syntax, duplicates within the list and against the
 * store), then copies them in; a failed copy removes what it added, so the
 * store never holds part of a list.
 */
int sl_keys_add_list(struct sl_keys *keys, const char *text, size_t text_len, const char *origin,
                     struct sl_err *err)
{
    struct entry *ents = NULL;
    size_t n_ents = 0, cap_ents = 0, n_added = 0;
    int rc = SL_OK;

    if (!origin)
        origin = "API keys";
    if (!text)
        text_len = 0;
    size_t pos = 0, a, b;
    while (next_entry(text, text_len, &pos, &a, &b)) {
        if (a == b)
            continue;
        size_t nth = n_ents + 1;
        if (n_ents == SL_KEYS_MAX || keys->n_keys + n_ents >= SL_KEYS_MAX) {
            rc = sl_err_set(err, SL_ECONFIG, "%s: more than %d API keys", origin, SL_KEYS_MAX);
            goto fail;
        }
        if (n_ents == cap_ents) {
            size_t cap = cap_ents ? cap_ents * 2 : 8;
            struct entry *v = sl_realloc(ents, cap * sizeof *v);
            if (!v)
                goto oom;
            ents = v;
            cap_ents = cap;
        }
        struct entry *e = &ents[n_ents];
        rc = parse_entry(text + a, b - a, origin, nth, e, err);
        if (rc != SL_OK)
            goto fail;
        if (sl_keys_find(keys, e->id, e->id_len)) {
            rc = sl_err_set(err, SL_ECONFIG,
                            "%s: entry %zu: access key id \"%.*s\" is already defined", origin, nth,
                            (int)e->id_len, e->id);
            goto fail;
        }
        for (size_t i = 0; i < n_ents; i++) {
            if (ents[i].id_len == e->id_len && memcmp(ents[i].id, e->id, e->id_len) == 0) {
                rc = sl_err_set(err, SL_ECONFIG,
                                "%s: entry %zu: access key id \"%.*s\" repeats entry %zu", origin,
                                nth, (int)e->id_len, e->id, i + 1);
                goto fail;
            }
        }
        n_ents++;
    }
    if (n_ents == 0) {
        rc = sl_err_set(err, SL_ECONFIG, "%s: no keys (expected KEYID:SECRET[,KEYID:SECRET...])",
                        origin);
        goto fail;
    }
    if (keys->n_keys + n_ents > keys->cap_keys) {
        size_t cap = keys->n_keys + n_ents;
        struct sl_key **v = sl_realloc(keys->v, cap * sizeof *v);
        if (!v)
            goto oom;
        keys->v = v;
        keys->cap_keys = cap;
    }
    for (; n_added < n_ents; n_added++) {
        struct sl_key *k = key_new(&ents[n_added]);
        if (!k)
            goto oom;
        keys->v[keys->n_keys++] = k;
    }
    sl_free(ents);
    return SL_OK;
oom:
    rc = sl_err_set(err, SL_ENOMEM, "%s: out of memory", origin);
fail:
    while (n_added > 0) {
        key_free(keys->v[--keys->n_keys]);
        n_added--;
    }
    sl_free(ents);
    return rc;
}

int sl_keys_load_env(struct sl_keys *keys, struct sl_err *err)
{
    const char *v = getenv(SL_KEYS_ENV);
    if (!v)
        return SL_OK;
    return sl_keys_add_list(keys, v, strlen(v), SL_KEYS_ENV, err);
}
