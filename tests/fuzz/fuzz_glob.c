/*
 * tests/fuzz/fuzz_glob.c - libFuzzer target for the exclude globs of
 * crawler/glob.c. Input: pattern, a NUL byte, key (no NUL: the key is empty).
 * Besides crashes, leaks and hangs it checks the NFA matcher against a slow
 * reference (brace expansion plus a memoised recursive matcher) on short
 * inputs, and that a folder said to be covered really has every key under it
 * matched. Replayed over tests/fuzz/corpus/glob/ by tests/fuzz/replay.c.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crawler/glob.h"

#define REF_MAX        48 /* the reference runs on patterns and keys up to this size */
#define REF_MAX_EXPAND 64 /* and on at most this many brace expansions */

/* ---- Reference matcher ---- */

/* Braces are expanded first; the expansions are token arrays where SEP marks
 * a group boundary, so "{*}{*}" stays two single stars rather than "**". */
#define SEP     256
#define TOK_MAX (REF_MAX * 3 + 2)

struct alt {
    uint16_t t[TOK_MAX];
    size_t n;
};

struct ref {
    const uint16_t *p;
    const char *k;
    size_t pl, kl;
    signed char memo[(TOK_MAX + 1) * (REF_MAX + 2)];
};

/* Index past the class starting at p[i] == '[', and whether c is in it. */
static size_t ref_class(const uint16_t *p, size_t pl, size_t i, unsigned char c, bool *in)
{
    size_t j = i + 1;
    bool neg = false, hit = false;
    if (j < pl && p[j] == '!') {
        neg = true;
        j++;
    }
    size_t first = j;
    while (j < pl && !(p[j] == ']' && j > first)) {
        unsigned lo = p[j], hi = lo;
        if (j + 2 < pl && p[j + 1] == '-' && p[j + 2] != ']') {
            hi = p[j + 2];
            j += 3;
        } else {
            j++;
        }
        if (c >= lo && c <= hi)
            hit = true;
    }
    *in = c != '/' && (neg ? !hit : hit);
    return j + 1;
}

static bool ref_m(struct ref *r, size_t i, size_t j)
{
    signed char *memo = &r->memo[i * (r->kl + 1) + j];
    if (*memo)
        return *memo > 0;
    bool res = false;
    if (i == r->pl) {
        res = j == r->kl;
    } else {
        unsigned c = r->p[i];
        if (c == SEP) {
            res = ref_m(r, i + 1, j);
        } else if (c == '\\') {
            res = j < r->kl && (unsigned char)r->k[j] == r->p[i + 1] && ref_m(r, i + 2, j + 1);
        } else if (c == '*') {
            size_t run = 0;
            while (i + run < r->pl && r->p[i + run] == '*')
                run++;
            for (size_t t = j; t <= r->kl && !res; t++) {
                res = ref_m(r, i + run, t);
                if (run == 1 && t < r->kl && r->k[t] == '/')
                    break;
            }
        } else if (c == '?') {
            res = j < r->kl && r->k[j] != '/' && ref_m(r, i + 1, j + 1);
        } else if (c == '[') {
            if (j < r->kl) {
                bool in;
                size_t e = ref_class(r->p, r->pl, i, (unsigned char)r->k[j], &in);
                res = in && ref_m(r, e, j + 1);
            }
        } else {
            res = j < r->kl && (unsigned char)r->k[j] == c && ref_m(r, i + 1, j + 1);
        }
    }
    *memo = res ? 1 : -1;
    return res;
}

static void put(struct alt *a, const char *s, size_t n, bool sep)
{
    if (sep && a->n < TOK_MAX)
        a->t[a->n++] = SEP;
    for (size_t i = 0; i < n && a->n < TOK_MAX; i++)
        a->t[a->n++] = (unsigned char)s[i];
    if (sep && a->n < TOK_MAX)
        a->t[a->n++] = SEP;
}

/* Index past the atom at p[i] (escape, class or plain byte; never a brace). */
static size_t atom_end(const char *p, size_t i)
{
    if (p[i] == '\\')
        return i + 2;
    if (p[i] != '[')
        return i + 1;
    size_t j = i + 1;
    if (p[j] == '!')
        j++;
    size_t first = j;
    while (!(p[j] == ']' && j > first))
        j++;
    return j + 1;
}

/* Expands the brace groups of a valid pattern into out[]; -1 past n_out. */
static int expand(const char *p, struct alt *out, int n_out)
{
    int n = 1;
    size_t i = 0, len = strlen(p);
    out[0].n = 0;
    while (i < len) {
        if (p[i] != '{') {
            size_t e = atom_end(p, i);
            for (int k = 0; k < n; k++)
                put(&out[k], p + i, e - i, false);
            i = e;
            continue;
        }
        const char *alts[64];
        size_t alen[64];
        int na = 0;
        size_t j = i + 1, a0 = j;
        for (;;) {
            if (p[j] == ',' || p[j] == '}') {
                if (na == 64)
                    return -1;
                alts[na] = p + a0;
                alen[na++] = j - a0;
                a0 = j + 1;
                if (p[j] == '}')
                    break;
                j++;
                continue;
            }
            j = atom_end(p, j);
        }
        if (n * na > n_out)
            return -1;
        for (int a = na - 1; a >= 0; a--)
            for (int k = 0; k < n; k++) {
                if (a > 0)
                    out[a * n + k] = out[k];
                put(&out[a * n + k], alts[a], alen[a], true);
            }
        n *= na;
        i = j + 1;
    }
    return n;
}

/* 1/0, or -1 when the reference cannot answer (too many expansions). */
static int ref_match(const char *p, const char *k)
{
    struct alt *alts = calloc(REF_MAX_EXPAND, sizeof *alts);
    struct ref *r = calloc(1, sizeof *r);
    int res = -1;
    int n = alts && r ? expand(p, alts, REF_MAX_EXPAND) : -1;
    if (n >= 0)
        res = 0;
    for (int a = 0; a < n && res != 1; a++) {
        memset(r, 0, sizeof *r);
        r->p = alts[a].t;
        r->pl = alts[a].n;
        r->k = k;
        r->kl = strlen(k);
        res = ref_m(r, 0, 0) ? 1 : 0;
    }
    free(alts);
    free(r);
    return res;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 2);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    buf[size + 1] = '\0';
    const char *pattern = buf;
    size_t pl = strlen(pattern);
    const char *key = pl < size ? buf + pl + 1 : buf + size + 1;

    struct sl_err err;
    int rc = sl_glob_check(pattern, &err);
    struct sl_glob *g = sl_glob_new(pattern, &err);
    if ((rc == SL_OK) != (g != NULL))
        abort();
    bool one_shot = sl_glob_match(pattern, key);
    (void)sl_glob_excludes_folder(pattern, key);
    (void)sl_crawl_skip_status(key, (int64_t)size, pl ? pattern : NULL, pl & 1);
    if (g) {
        bool m = sl_glob_matches(g, key);
        if (m != one_shot)
            abort();
        size_t kl = strlen(key);
        if (pl <= REF_MAX && kl <= REF_MAX) {
            int ref = ref_match(pattern, key);
            if (ref >= 0 && ref != (int)m) {
                fprintf(stderr, "mismatch: pattern \"%s\" key \"%s\": nfa %d\n", pattern, key, m);
                abort();
            }
        }
        if (sl_glob_covers_folder(g, key)) {
            static const char *tails[] = {"", "x", "x/y", "a/b/c.csv", ".z", "_$folder$"};
            char full[512];
            for (size_t t = 0; t < sizeof tails / sizeof tails[0]; t++) {
                bool slash = kl > 0 && key[kl - 1] != '/';
                if (kl + strlen(tails[t]) + 2 > sizeof full)
                    break;
                snprintf(full, sizeof full, "%s%s%s", key, slash ? "/" : "", tails[t]);
                if (!sl_glob_matches(g, full)) {
                    fprintf(stderr, "covers \"%s\" but misses \"%s\" (pattern \"%s\")\n", key, full,
                            pattern);
                    abort();
                }
            }
        }
        sl_glob_free(g);
    } else if (one_shot) {
        abort(); /* a malformed pattern matches nothing */
    }
    free(buf);
    return 0;
}
