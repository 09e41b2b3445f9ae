/*
 * runtime/arena.c - bump allocator (see arena.h).
 * Blocks form a list; a request larger than a block gets its own block. Reset
 * keeps the first ordinary block so a steady batch loop stops calling malloc.
 */
#include "arena.h"

#include <stdint.h>
#include <string.h>

#include "alloc.h"

#define ARENA_BLOCK_LEN (64u << 10) /* 64 KiB: a batch of short rows fits a few */
#define ARENA_ALIGN 16u

struct sl_arena_block {
    struct sl_arena_block *next;
    size_t len;  /* usable bytes in mem */
    size_t off;  /* next free byte */
    _Alignas(16) unsigned char mem[];
};

void sl_arena_init(struct sl_arena *a, size_t cap)
{
    a->head = NULL;
    a->spare = NULL;
    a->used = 0;
    a->cap = cap;
    a->block_len = ARENA_BLOCK_LEN;
}

static void free_list(struct sl_arena_block *b)
{
    while (b) {
        struct sl_arena_block *n = b->next;
        sl_free(b);
        b = n;
    }
}

void sl_arena_cleanup(struct sl_arena *a)
{
    free_list(a->head);
    free_list(a->spare);
    a->head = a->spare = NULL;
    a->used = 0;
}

void *sl_arena_alloc(struct sl_arena *a, size_t len)
{
    size_t need = (len + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (need < len)
        return NULL;
    if (a->cap && (need > a->cap || a->used > a->cap - need))
        return NULL;
    struct sl_arena_block *b = a->head;
    if (!b || b->len - b->off < need) {
        if (a->spare && a->spare->len >= need) {
            b = a->spare;
            a->spare = b->next;
        } else {
            size_t blen = need > a->block_len ? need : a->block_len;
            b = sl_alloc(sizeof *b + blen);
            if (!b)
                return NULL;
            b->len = blen;
        }
        b->off = 0;
        b->next = a->head;
        a->head = b;
    }
    void *p = b->mem + b->off;
    b->off += need;
    a->used += need;
    return p;
}

char *sl_arena_strndup(struct sl_arena *a, const char *s, size_t len)
{
    char *d = sl_arena_alloc(a, len + 1);
    if (!d)
        return NULL;
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

void sl_arena_reset(struct sl_arena *a)
{
    struct sl_arena_block *keep = NULL;
    struct sl_arena_block *b = a->head;
    while (b) {
        struct sl_arena_block *n = b->next;
        if (!keep && b->len == a->block_len) {
            keep = b;
        } else {
            sl_free(b);
        }
        b = n;
    }
    if (keep) {
        keep->next = NULL;
        keep->off = 0;
        free_list(a->spare);
        a->spare = keep;
    }
    a->head = NULL;
    a->used = 0;
}
