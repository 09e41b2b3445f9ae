/*
 * runtime/arena.h - bump allocator for per-batch memory.
 * Values decoded for one batch (strings, nested JSON, decimals) live here and
 * are released all at once by sl_arena_reset(); no single value is freed.
 * Not thread-safe: each worker owns its arenas.
 */
#ifndef SL_ARENA_H
#define SL_ARENA_H

#include <stddef.h>

struct sl_arena_block;

struct sl_arena {
    struct sl_arena_block *head; /* current block; older blocks follow */
    struct sl_arena_block *spare;/* blocks kept by reset for reuse */
    size_t used;                 /* bytes handed out since the last reset */
    size_t cap;                  /* bytes; 0 = unlimited */
    size_t block_len;            /* bytes per ordinary block */
};

/* cap: most bytes handed out between resets (0 = unlimited). */
void sl_arena_init(struct sl_arena *a, size_t cap);
void sl_arena_cleanup(struct sl_arena *a);
/* 16-byte aligned; NULL when the cap is reached or memory runs out. */
void *sl_arena_alloc(struct sl_arena *a, size_t len);
/* Copy of s[0..len) plus a NUL, in the arena. */
char *sl_arena_strndup(struct sl_arena *a, const char *s, size_t len);
/* Frees every value at once; keeps one block for reuse. */
void sl_arena_reset(struct sl_arena *a);

#endif
