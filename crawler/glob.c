/*
 * crawler/glob.c - exclude globs and skip rules of spec/crawler.md §3 (see
 * glob.h for the syntax). Which objects a crawl lists, and what it does with
 * the survivors, is crawl.c's business.
 *
 * A pattern compiles to a tiny NFA, one node per atom:
 *   LIT c, ANY (`?`), CLASS (bitmap, '/' never in it) consume one character;
 *   STAR (`*`) and DSTAR (`**`) loop on themselves and may also be skipped;
 *   FORK (`{`) branches to each alternative, whose last node is a JUMP past
 *   the closing `}`; MATCH ends the pattern.
 * Every edge points forward except the STAR/DSTAR self-loops, so the
 * "can reach MATCH without consuming" property is computed in one backward
 * pass. Matching keeps the set of live nodes (deduplicated with a generation
 * mark), so it costs O(len(key) * nodes) and never backtracks.
 */
#include "crawler/glob.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "runtime/alloc.h"

enum gop { G_LIT, G_ANY, G_CLASS, G_STAR, G_DSTAR, G_FORK, G_JUMP, G_MATCH };

struct gnode {
    uint8_t op;      /* enum gop */
    uint8_t ch;      /* G_LIT */
    bool tail_ok;    /* MATCH reachable from next without consuming (G_DSTAR) */
    uint32_t next;   /* following node (G_JUMP: past the group) */
    uint32_t arg;    /* G_CLASS: class index; G_FORK: first entry in alts */
    uint32_t n_alts; /* G_FORK */
};

struct sl_glob {
    struct gnode *nodes; /* owned */
    uint32_t n_nodes;
    uint8_t (*classes)[32]; /* owned; 256-bit sets */
    uint32_t n_classes;
    uint32_t *alts; /* owned; FORK targets */
    uint32_t n_alts;
};

/* ---- Compiling ---- */

struct gbuild {
    struct sl_glob *g;
    uint32_t cap_nodes, cap_classes, cap_alts;
};

static int grow(void **p, uint32_t *cap, uint32_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    uint32_t n = *cap ? *cap * 2 : 16;
    while (n < need)
        n *= 2;
    void *q = sl_realloc(*p, (size_t)n * elem);
    if (!q)
        return -1;
    *p = q;
    *cap = n;
    return 0;
}

static int emit(struct gbuild *b, enum gop op, uint8_t ch, uint32_t arg)
{
    struct sl_glob *g = b->g;
    if (grow((void **)&g->nodes, &b->cap_nodes, g->n_nodes + 1, sizeof *g->nodes) != 0)
        return -1;
    struct gnode *n = &g->nodes[g->n_nodes];
    memset(n, 0, sizeof *n);
    n->op = (uint8_t)op;
    n->ch = ch;
    n->arg = arg;
    n->next = g->n_nodes + 1;
    g->n_nodes++;
    return 0;
}

static void set_bit(uint8_t *set, unsigned c)
{
    set[c >> 3] |= (uint8_t)(1u << (c & 7));
}

static bool has_bit(const uint8_t *set, unsigned c)
{
    return (set[c >> 3] >> (c & 7)) & 1u;
}

/* Parses the class starting after '[' at p[*i]; on success *i is past ']'. */
static int parse_class(struct gbuild *b, const char *p, size_t *i, const char *pattern,
                       struct sl_err *err)
{
    struct sl_glob *g = b->g;
    uint8_t set[32] = {0};
    size_t j = *i;
    bool neg = false;
    if (p[j] == '!') {
        neg = true;
        j++;
    }
    size_t first = j;
    for (;;) {
        unsigned char c = (unsigned char)p[j];
        if (c == '\0')
            return sl_err_set(err, SL_ECONFIG, "exclude glob \"%s\": unclosed '['", pattern);
        if (c == ']' && j > first)
            break;
        if (c == '/')
            return sl_err_set(err, SL_ECONFIG, "exclude glob \"%s\": '/' inside '[...]'", pattern);
        unsigned char hi = c;
        if (p[j + 1] == '-' && p[j + 2] != ']' && p[j + 2] != '\0') {
            hi = (unsigned char)p[j + 2];
            if (hi == '/')
                return sl_err_set(err, SL_ECONFIG, "exclude glob \"%s\": '/' inside '[...]'",
                                  pattern);
            if (hi < c)
                return sl_err_set(err, SL_ECONFIG, "exclude glob \"%s\": reversed range '%c-%c'",
                                  pattern, c, hi);
            j += 3;
        } else {
            j++;
        }
        for (unsigned k = c; k <= hi; k++)
            set_bit(set, k);
    }
    *i = j + 1;
    if (neg)
        for (unsigned k = 0; k < 32; k++)
            set[k] = (uint8_t)~set[k];
    set[0] &= (uint8_t)~1u; /* NUL never occurs in a key */
    set['/' >> 3] &= (uint8_t) ~(1u << ('/' & 7));
    if (grow((void **)&g->classes, &b->cap_classes, g->n_classes + 1, sizeof *g->classes) != 0)
        return sl_err_set(err, SL_ENOMEM, "exclude glob: out of memory");
    memcpy(g->classes[g->n_classes], set, sizeof set);
    if (emit(b, G_CLASS, 0, g->n_classes) != 0)
        return sl_err_set(err, SL_ENOMEM, "exclude glob: out of memory");
    g->n_classes++;
    return SL_OK;
}

/* Fills g from pattern. Brace groups: FORK, then per alternative its atoms and
 * a JUMP whose target is patched once the closing '}' is seen. */
static int compile(struct gbuild *b, const char *pattern, struct sl_err *err)
{
    struct sl_glob *g = b->g;
    const char *p = pattern;
    size_t i = 0;
    bool in_group = false;
    uint32_t fork = 0;      /* node index of the open group's FORK */
    uint32_t *jumps = NULL; /* JUMP nodes of the open group */
    uint32_t n_jumps = 0, cap_jumps = 0;
    int rc = SL_OK;

    while (p[i] != '\0') {
        unsigned char c = (unsigned char)p[i];
        int e = 0;
        if (c == '\\') {
            if (p[i + 1] == '\0') {
                rc = sl_err_set(err, SL_ECONFIG, "exclude glob \"%s\": trailing '\\'", pattern);
                goto done;
            }
            e = emit(b, G_LIT, (uint8_t)p[i + 1], 0);
            i += 2;
        } else if (c == '*') {
            size_t run = 0;
            while (p[i] == '*') {
                run++;
                i++;
            }
            e = emit(b, run >= 2 ? G_DSTAR : G_STAR, 0, 0);
        } else if (c == '?') {
            e = emit(b, G_ANY, 0, 0);
            i++;
        } else if (c == '[') {
            i++;
            rc = parse_class(b, p, &i, pattern, err);
            if (rc != SL_OK)
                goto done;
        } else if (c == '{') {
            if (in_group) {
                rc = sl_err_set(err, SL_ECONFIG, "exclude glob \"%s\": nested '{'", pattern);
                goto done;
            }
            in_group = true;
            fork = g->n_nodes;
            n_jumps = 0;
            e = emit(b, G_FORK, 0, g->n_alts);
            if (e == 0)
                e = grow((void **)&g->alts, &b->cap_alts, g->n_alts + 1, sizeof *g->alts);
            if (e == 0) {
                g->alts[g->n_alts++] = g->n_nodes;
                g->nodes[fork].n_alts = 1;
            }
            i++;
        } else if (in_group && (c == ',' || c == '}')) {
            e = grow((void **)&jumps, &cap_jumps, n_jumps + 1, sizeof *jumps);
            if (e == 0) {
                jumps[n_jumps++] = g->n_nodes;
                e = emit(b, G_JUMP, 0, 0);
            }
            if (e == 0 && c == ',') {
                e = grow((void **)&g->alts, &b->cap_alts, g->n_alts + 1, sizeof *g->alts);
                if (e == 0) {
                    g->alts[g->n_alts++] = g->n_nodes;
                    g->nodes[fork].n_alts++;
                }
            }
            if (e == 0 && c == '}') {
                for (uint32_t k = 0; k < n_jumps; k++)
                    g->nodes[jumps[k]].next = g->n_nodes;
                in_group = false;
            }
            i++;
        } else {
            e = emit(b, G_LIT, c, 0);
            i++;
        }
        if (e != 0) {
            rc = sl_err_set(err, SL_ENOMEM, "exclude glob: out of memory");
            goto done;
        }
    }
    if (in_group) {
        rc = sl_err_set(err, SL_ECONFIG, "exclude glob \"%s\": unclosed '{'", pattern);
        goto done;
    }
    if (emit(b, G_MATCH, 0, 0) != 0) {
        rc = sl_err_set(err, SL_ENOMEM, "exclude glob: out of memory");
        goto done;
    }
    /* Backward pass: every edge but the loops points forward. */
    {
        uint32_t n = g->n_nodes;
        bool *nullable = sl_calloc(n, sizeof *nullable); /* MATCH reachable, no input */
        if (!nullable) {
            rc = sl_err_set(err, SL_ENOMEM, "exclude glob: out of memory");
            goto done;
        }
        for (uint32_t k = n; k-- > 0;) {
            struct gnode *nd = &g->nodes[k];
            switch (nd->op) {
            case G_MATCH: nullable[k] = true; break;
            case G_JUMP:
            case G_STAR:
            case G_DSTAR:
                nullable[k] = nullable[nd->next];
                nd->tail_ok = nd->op == G_DSTAR && nullable[nd->next];
                break;
            case G_FORK:
                for (uint32_t a = 0; a < nd->n_alts; a++)
                    if (nullable[g->alts[nd->arg + a]])
                        nullable[k] = true;
                break;
            default: break;
            }
        }
        sl_free(nullable);
    }
done:
    sl_free(jumps);
    return rc;
}

struct sl_glob *sl_glob_new(const char *pattern, struct sl_err *err)
{
    struct sl_glob *g = sl_calloc(1, sizeof *g);
    if (!g) {
        sl_err_set(err, SL_ENOMEM, "exclude glob: out of memory");
        return NULL;
    }
    struct gbuild b = {.g = g};
    if (compile(&b, pattern, err) != SL_OK) {
        sl_glob_free(g);
        return NULL;
    }
    return g;
}

void sl_glob_free(struct sl_glob *g)
{
    if (!g)
        return;
    sl_free(g->nodes);
    sl_free(g->classes);
    sl_free(g->alts);
    sl_free(g);
}

/* ---- Matching ---- */

/* The live-node set of one walk. */
struct gwalk {
    const struct sl_glob *g;
    uint32_t *mark; /* generation that last added each node */
    uint32_t *cur, *nxt, *stack;
    uint32_t n_cur, n_nxt;
    uint32_t gen;
};

#define GWALK_STACK_NODES 128 /* patterns up to this size walk without the heap */

/* Adds node s and everything reachable from it without consuming to nxt. */
static void add_state(struct gwalk *w, uint32_t s)
{
    const struct sl_glob *g = w->g;
    uint32_t sp = 0;
    if (w->mark[s] == w->gen)
        return;
    w->mark[s] = w->gen;
    w->stack[sp++] = s;
    while (sp > 0) {
        uint32_t x = w->stack[--sp];
        const struct gnode *nd = &g->nodes[x];
        w->nxt[w->n_nxt++] = x;
        if (nd->op == G_FORK) {
            for (uint32_t a = 0; a < nd->n_alts; a++) {
                uint32_t y = g->alts[nd->arg + a];
                if (w->mark[y] != w->gen) {
                    w->mark[y] = w->gen;
                    w->stack[sp++] = y;
                }
            }
        } else if (nd->op == G_JUMP || nd->op == G_STAR || nd->op == G_DSTAR) {
            uint32_t y = nd->next; /* skipping a star, or leaving a group */
            if (w->mark[y] != w->gen) {
                w->mark[y] = w->gen;
                w->stack[sp++] = y;
            }
        }
    }
}

static void swap_lists(struct gwalk *w)
{
    uint32_t *t = w->cur;
    w->cur = w->nxt;
    w->nxt = t;
    w->n_cur = w->n_nxt;
    w->n_nxt = 0;
    w->gen++;
}

static void step(struct gwalk *w, unsigned char c)
{
    const struct sl_glob *g = w->g;
    for (uint32_t k = 0; k < w->n_cur; k++) {
        uint32_t s = w->cur[k];
        const struct gnode *nd = &g->nodes[s];
        switch (nd->op) {
        case G_LIT:
            if (nd->ch == c)
                add_state(w, nd->next);
            break;
        case G_ANY:
            if (c != '/')
                add_state(w, nd->next);
            break;
        case G_CLASS:
            if (has_bit(g->classes[nd->arg], c))
                add_state(w, nd->next);
            break;
        case G_STAR:
            if (c != '/')
                add_state(w, s);
            break;
        case G_DSTAR: add_state(w, s); break;
        default: break;
        }
    }
    swap_lists(w);
}

/* Runs the walk over s (plus a final '/' when add_slash); mode 0 answers
 * "whole string matched", mode 1 "a pattern-ending ** became live". */
static bool walk(const struct sl_glob *g, const char *s, bool add_slash, int mode)
{
    uint32_t n = g->n_nodes;
    uint32_t small[4 * GWALK_STACK_NODES];
    uint32_t *mem = small;
    bool result = false;
    if (n > GWALK_STACK_NODES) {
        mem = sl_alloc((size_t)4 * n * sizeof *mem);
        if (!mem)
            return false;
    }
    struct gwalk w = {.g = g,
                      .mark = mem,
                      .cur = mem + n,
                      .nxt = mem + 2 * (size_t)n,
                      .stack = mem + 3 * (size_t)n,
                      .gen = 1};
    memset(w.mark, 0, (size_t)n * sizeof *w.mark);
    add_state(&w, 0);
    swap_lists(&w);
    size_t len = strlen(s);
    size_t total = len + (add_slash ? 1 : 0);
    for (size_t i = 0;; i++) {
        if (mode == 1) {
            for (uint32_t k = 0; k < w.n_cur; k++)
                if (g->nodes[w.cur[k]].tail_ok) {
                    result = true;
                    goto out;
                }
        }
        if (i == total || w.n_cur == 0)
            break;
        step(&w, i < len ? (unsigned char)s[i] : (unsigned char)'/');
    }
    if (mode == 0)
        for (uint32_t k = 0; k < w.n_cur; k++)
            if (g->nodes[w.cur[k]].op == G_MATCH)
                result = true;
out:
    if (mem != small)
        sl_free(mem);
    return result;
}

bool sl_glob_matches(const struct sl_glob *g, const char *key)
{
    return walk(g, key, false, 0);
}

bool sl_glob_covers_folder(const struct sl_glob *g, const char *folder_prefix)
{
    size_t len = strlen(folder_prefix);
    bool add_slash = len > 0 && folder_prefix[len - 1] != '/';
    return walk(g, folder_prefix, add_slash, 1);
}

bool sl_glob_match(const char *pattern, const char *key)
{
    struct sl_err err;
    struct sl_glob *g = sl_glob_new(pattern, &err);
    if (!g)
        return false;
    bool m = sl_glob_matches(g, key);
    sl_glob_free(g);
    return m;
}

bool sl_glob_excludes_folder(const char *pattern, const char *folder_prefix)
{
    struct sl_err err;
    struct sl_glob *g = sl_glob_new(pattern, &err);
    if (!g)
        return false;
    bool m = sl_glob_covers_folder(g, folder_prefix);
    sl_glob_free(g);
    return m;
}

int sl_glob_check(const char *pattern, struct sl_err *err)
{
    struct sl_err local;
    if (!err)
        err = &local;
    struct sl_glob *g = sl_glob_new(pattern, err);
    if (!g)
        return err->code;
    sl_glob_free(g);
    return SL_OK;
}

/* ---- Skip rules ---- */

static bool ends_with(const char *s, size_t len, const char *suffix)
{
    size_t n = strlen(suffix);
    return len >= n && memcmp(s + len - n, suffix, n) == 0;
}

static bool has_hidden_segment(const char *key)
{
    const char *seg = key;
    for (;;) {
        if (*seg == '_' || *seg == '.')
            return true;
        const char *slash = strchr(seg, '/');
        if (!slash)
            return false;
        seg = slash + 1;
    }
}

const char *sl_crawl_skip_status(const char *key, int64_t n_bytes, const char *storage_class,
                                 bool ignore_hidden)
{
    size_t len = strlen(key);
    if (ends_with(key, len, "/") || ends_with(key, len, "_$folder$"))
        return "skipped_marker";
    if (ignore_hidden && has_hidden_segment(key))
        return "skipped_hidden";
    if (storage_class && (strcasecmp(storage_class, "GLACIER") == 0 ||
                          strcasecmp(storage_class, "DEEP_ARCHIVE") == 0))
        return "skipped_archived";
    if (n_bytes == 0)
        return "skipped_empty";
    return NULL;
}
