/*
 * runtime/shuffle.c - hash partitioning, map-side combine, spill past a memory
 * budget, and the grouped k-way merge of each partition (see shuffle.h). The run
 * file format and the merge heap live in runtime/spill.c.
 */
#include "shuffle.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "spill.h"

#define BLOCK_FIRST (4u << 10) /* bytes: a partition's first block; small keeps R x budget sane */
#define BLOCK_MAX   (1u << 20) /* bytes: doubling stops here; bigger records get their own block */
#define REC_HDR     8u         /* bytes of framing per in-memory record: u32 klen, u32 vlen */
#define IDX_FIRST   64u        /* record slots of a partition's first index */
#define IDX_MAX     ((size_t)UINT32_MAX) /* ceiling on in-memory records per partition */

/* ---- In-memory records of one partition ----
 * Records are packed into blocks that never move, so the index can point into
 * them; sorting permutes the index, never the records. */

struct mblock {
    struct mblock *next; /* older block */
    size_t cap, used;    /* bytes of data[] */
    unsigned char data[];
};

struct chunk {
    struct mblock *blocks; /* owned; newest first */
    unsigned char **idx;   /* owned; 2 * cap_idx slots: the index, then merge-sort scratch */
    size_t n_idx, cap_idx; /* record slots used / allocated (per half) */
    size_t mem;            /* bytes accounted against the budget */
    size_t next_block;     /* bytes of the next block to allocate */
};

struct part {
    pthread_mutex_t lock;
    struct chunk mem;         /* guarded by lock */
    _Atomic size_t mem_bytes; /* == mem.mem; written under lock, read lock-free to pick a victim */
    struct sl_spill_run **runs; /* guarded by lock (until finish); ordered by run_seq */
    uint64_t *run_seq;          /* guarded by lock */
    size_t n_runs, cap_runs;    /* guarded by lock */
    uint64_t next_seq;          /* guarded by lock: detach order of the partition's spills */
    int sorted;                 /* mem.idx sorted; after finish, by the iterating thread */
};

struct sl_shuffle {
    uint32_t n_parts;
    size_t budget; /* bytes; 0 = unlimited */
    char *dir;     /* owned; NULL when no spill directory */
    uint64_t seed;
    sl_shuffle_combine_fn combine;
    void *combine_ud;
    size_t fan_in;
    size_t block_max;        /* bytes: largest ordinary block, <= budget / 16 */
    size_t idx_step;         /* record slots: largest index growth, <= budget / 256 bytes */
    struct part *parts;      /* owned, n_parts */
    _Atomic size_t mem_used; /* bytes accounted over all partitions, spilling data included */
    _Atomic size_t spilling; /* bytes of mem_used detached and being written */
    _Atomic size_t peak;
    _Atomic uint64_t n_in, bytes_in, n_runs, spill_bytes, n_passes;
    _Atomic int failed; /* an add lost records: finish fails */
    int finished;       /* set by finish (single thread) */
};

/* ---- Hash ---- */

static uint64_t fmix64(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

uint64_t sl_shuffle_hash(uint64_t seed, const void *key, size_t klen)
{
    /* FNV-1a: byte-at-a-time, endian-free; the finaliser spreads it into low bits for % R */
    const unsigned char *s = key;
    uint64_t h = 0xcbf29ce484222325ULL ^ fmix64(seed);
    for (size_t i = 0; i < klen; i++) {
        h ^= s[i];
        h *= 0x100000001b3ULL;
    }
    return fmix64(h);
}

uint32_t sl_shuffle_partition_of(const struct sl_shuffle *sh, const void *key, size_t klen)
{
    return (uint32_t)(sl_shuffle_hash(sh->seed, key, klen) % sh->n_parts);
}

/* ---- Chunks ---- */

static void chunk_free(struct chunk *c)
{
    struct mblock *b = c->blocks;
    while (b) {
        struct mblock *next = b->next;
        sl_free(b);
        b = next;
    }
    sl_free(c->idx);
    memset(c, 0, sizeof *c);
}

static void rec_decode(const unsigned char *r, struct sl_spill_rec *rec)
{
    uint32_t kl, vl;
    memcpy(&kl, r, 4);
    memcpy(&vl, r + 4, 4);
    rec->key = r + REC_HDR;
    rec->klen = kl;
    rec->val = r + REC_HDR + kl;
    rec->vlen = vl;
}

/* Appends one record; *grew gets the bytes newly accounted. Called under the lock. */
static int chunk_append(const struct sl_shuffle *sh, struct chunk *c, const void *key, size_t klen,
                        const void *val, size_t vlen, size_t *grew, struct sl_err *err)
{
    size_t need = REC_HDR + klen + vlen;
    *grew = 0;
    if (c->n_idx == c->cap_idx) {
        if (c->cap_idx >= IDX_MAX)
            return sl_err_set(err, SL_ELIMIT, "more than %zu records in one shuffle partition",
                              IDX_MAX);
        size_t step = c->cap_idx < sh->idx_step ? c->cap_idx : sh->idx_step;
        size_t ncap = c->cap_idx ? c->cap_idx + step : IDX_FIRST;
        if (ncap > IDX_MAX)
            ncap = IDX_MAX;
        unsigned char **p = sl_realloc(c->idx, 2 * ncap * sizeof *p);
        if (!p)
            return sl_err_set(err, SL_ENOMEM, "out of memory growing a shuffle partition index");
        c->idx = p;
        *grew += (ncap - c->cap_idx) * 2 * sizeof *p;
        c->cap_idx = ncap;
    }
    struct mblock *b = c->blocks;
    if (!b || b->cap - b->used < need) {
        if (!c->next_block)
            c->next_block = BLOCK_FIRST;
        size_t cap = need > c->next_block ? need : c->next_block;
        b = sl_alloc(sizeof *b + cap);
        if (!b) {
            c->mem += *grew;
            return sl_err_set(err, SL_ENOMEM, "out of memory for a %zu byte shuffle block", cap);
        }
        b->cap = cap;
        b->used = 0;
        b->next = c->blocks;
        c->blocks = b;
        *grew += sizeof *b + cap;
        if (c->next_block < sh->block_max)
            c->next_block *= 2;
    }
    unsigned char *r = b->data + b->used;
    uint32_t kl = (uint32_t)klen, vl = (uint32_t)vlen;
    memcpy(r, &kl, 4);
    memcpy(r + 4, &vl, 4);
    if (klen)
        memcpy(r + REC_HDR, key, klen);
    if (vlen)
        memcpy(r + REC_HDR + klen, val, vlen);
    b->used += need;
    c->idx[c->n_idx++] = r;
    c->mem += *grew;
    return SL_OK;
}

static int rec_less(const unsigned char *a, const unsigned char *b)
{
    struct sl_spill_rec ra, rb;
    rec_decode(a, &ra);
    rec_decode(b, &rb);
    return sl_spill_key_cmp(ra.key, ra.klen, rb.key, rb.klen) < 0;
}

/* Stable merge sort of idx[0..n) by key using tmp[0..n); arrival order breaks
 * ties, which keeps values in arrival order and makes combining deterministic. */
static void sort_idx(unsigned char **idx, unsigned char **tmp, size_t n)
{
    if (n < 16) {
        for (size_t i = 1; i < n; i++) {
            unsigned char *x = idx[i];
            size_t j = i;
            while (j > 0 && rec_less(x, idx[j - 1])) {
                idx[j] = idx[j - 1];
                j--;
            }
            idx[j] = x;
        }
        return;
    }
    size_t h = n / 2;
    sort_idx(idx, tmp, h);
    sort_idx(idx + h, tmp, n - h);
    if (!rec_less(idx[h], idx[h - 1]))
        return; /* already in order (common for a hot, pre-sorted input) */
    memcpy(tmp, idx, h * sizeof *idx);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n)
        idx[k++] = rec_less(idx[j], tmp[i]) ? idx[j++] : tmp[i++];
    while (i < h)
        idx[k++] = tmp[i++];
}

static void chunk_sort(struct chunk *c)
{
    if (c->n_idx > 1)
        sort_idx(c->idx, c->idx + c->cap_idx, c->n_idx);
}

struct memsrc {
    unsigned char **idx; /* borrowed from a sorted chunk */
    size_t n, pos;
};

static int memsrc_next(void *ctx, struct sl_spill_rec *rec, struct sl_err *err)
{
    struct memsrc *m = ctx;
    (void)err;
    if (m->pos == m->n)
        return 0;
    rec_decode(m->idx[m->pos++], rec);
    return 1;
}

/* ---- Writing merged runs ---- */

static int combine_into(struct sl_shuffle *sh, const struct sl_buf *key, struct sl_buf *acc,
                        struct sl_buf *out, const void *v, size_t vlen, struct sl_err *err)
{
    sl_buf_reset(out);
    int rc = sh->combine(sh->combine_ud, key->data ? key->data : "", key->len,
                         acc->data ? acc->data : "", acc->len, v, vlen, out);
    if (rc)
        return sl_err_set(err, rc < 0 ? rc : SL_EINTERNAL, "combiner failed (%s)",
                          sl_code_name(rc < 0 ? rc : SL_EINTERNAL));
    struct sl_buf t = *acc;
    *acc = *out;
    *out = t;
    return SL_OK;
}

/* Merges srcs into one new run, combining equal keys when there is a combiner. */
static int write_merged(struct sl_shuffle *sh, const struct sl_spill_src *srcs, size_t n,
                        struct sl_spill_run **out, struct sl_err *err)
{
    struct sl_spill_writer *w = NULL;
    struct sl_spill_merge *m = NULL;
    struct sl_buf key, acc, tmp;
    struct sl_spill_rec rec;
    int have = 0, rc;

    *out = NULL;
    sl_buf_init(&key, SL_SPILL_RECORD_MAX);
    sl_buf_init(&acc, SL_SPILL_RECORD_MAX);
    sl_buf_init(&tmp, SL_SPILL_RECORD_MAX);
    if ((rc = sl_spill_writer_new(sh->dir, &w, err)) != SL_OK)
        goto fail;
    if ((rc = sl_spill_merge_new(srcs, n, &m, err)) != SL_OK)
        goto fail;
    while ((rc = sl_spill_merge_next(m, &rec, NULL, err)) > 0) {
        if (!sh->combine) {
            rc = sl_spill_writer_add(w, rec.key, rec.klen, rec.val, rec.vlen, err);
        } else if (have && sl_spill_key_cmp(key.data, key.len, rec.key, rec.klen) == 0) {
            rc = combine_into(sh, &key, &acc, &tmp, rec.val, rec.vlen, err);
        } else {
            if (have && (rc = sl_spill_writer_add(w, key.data, key.len, acc.data, acc.len, err)))
                goto fail;
            sl_buf_reset(&key);
            sl_buf_reset(&acc);
            if ((rc = sl_buf_append(&key, rec.key, rec.klen, err)) == SL_OK)
                rc = sl_buf_append(&acc, rec.val, rec.vlen, err);
            have = 1;
        }
        if (rc)
            goto fail;
    }
    if (rc < 0)
        goto fail;
    if (have && (rc = sl_spill_writer_add(w, key.data, key.len, acc.data, acc.len, err)))
        goto fail;
    sl_spill_merge_free(m);
    m = NULL;
    rc = sl_spill_writer_finish(w, out, err);
    w = NULL;
    if (rc)
        goto fail;
    atomic_fetch_add(&sh->spill_bytes, sl_spill_run_bytes(*out));
fail:
    sl_spill_merge_free(m);
    sl_spill_writer_abort(w);
    sl_buf_cleanup(&key);
    sl_buf_cleanup(&acc);
    sl_buf_cleanup(&tmp);
    return rc;
}

/* ---- Adding and spilling ---- */

static void peak_update(struct sl_shuffle *sh, size_t now)
{
    size_t old = atomic_load(&sh->peak);
    while (now > old && !atomic_compare_exchange_weak(&sh->peak, &old, now))
        ;
}

/* Inserts run into p's list by seq (two threads may finish spills of one partition
 * out of detach order). Takes run: frees (and unlinks) it on failure. */
static int part_add_run(struct part *pt, struct sl_spill_run *run, uint64_t seq, struct sl_err *err)
{
    int rc = SL_OK;
    pthread_mutex_lock(&pt->lock);
    if (pt->n_runs == pt->cap_runs) {
        size_t ncap = pt->cap_runs ? pt->cap_runs * 2 : 8;
        struct sl_spill_run **r = sl_realloc(pt->runs, ncap * sizeof *r);
        if (r)
            pt->runs = r;
        uint64_t *s = r ? sl_realloc(pt->run_seq, ncap * sizeof *s) : NULL;
        if (s)
            pt->run_seq = s;
        if (!r || !s) {
            rc = sl_err_set(err, SL_ENOMEM, "out of memory listing spill runs");
            goto out;
        }
        pt->cap_runs = ncap;
    }
    size_t i = pt->n_runs;
    while (i > 0 && pt->run_seq[i - 1] > seq) {
        pt->runs[i] = pt->runs[i - 1];
        pt->run_seq[i] = pt->run_seq[i - 1];
        i--;
    }
    pt->runs[i] = run;
    pt->run_seq[i] = seq;
    pt->n_runs++;
out:
    pthread_mutex_unlock(&pt->lock);
    if (rc)
        sl_spill_run_free(run);
    return rc;
}

static size_t over_budget(struct sl_shuffle *sh)
{
    size_t spilling = atomic_load(&sh->spilling);
    size_t used = atomic_load(&sh->mem_used);
    size_t live = used > spilling ? used - spilling : 0;
    return live > sh->budget ? live - sh->budget : 0;
}

/* Policy: while the live (not already spilling) memory is over budget, the adding
 * thread detaches the largest partition and spills it. Largest-first makes the
 * fewest, longest runs; the adder's own partition could be tiny. */
static int maybe_spill(struct sl_shuffle *sh, struct sl_err *err)
{
    while (over_budget(sh)) {
        size_t best = 0, best_mem = 0;
        for (size_t i = 0; i < sh->n_parts; i++) {
            size_t m = atomic_load_explicit(&sh->parts[i].mem_bytes, memory_order_relaxed);
            if (m > best_mem) {
                best_mem = m;
                best = i;
            }
        }
        if (!best_mem)
            return SL_OK; /* everything is already being spilled by other threads */
        struct part *pt = &sh->parts[best];
        struct chunk c;
        uint64_t seq;
        pthread_mutex_lock(&pt->lock);
        c = pt->mem;
        memset(&pt->mem, 0, sizeof pt->mem);
        atomic_store(&pt->mem_bytes, 0);
        seq = pt->next_seq++;
        pthread_mutex_unlock(&pt->lock);
        size_t held = c.mem;
        if (!c.n_idx) {
            chunk_free(&c); /* another thread spilled it first; only empty buffers left */
            atomic_fetch_sub(&sh->mem_used, held);
            continue;
        }
        atomic_fetch_add(&sh->spilling, held);

        struct sl_spill_run *run = NULL;
        struct memsrc ms;
        chunk_sort(&c);
        ms.idx = c.idx;
        ms.n = c.n_idx;
        ms.pos = 0;
        struct sl_spill_src src = {memsrc_next, &ms};
        int rc = write_merged(sh, &src, 1, &run, err);
        chunk_free(&c);
        atomic_fetch_sub(&sh->spilling, held);
        atomic_fetch_sub(&sh->mem_used, held);
        if (rc == SL_OK)
            rc = part_add_run(pt, run, seq, err);
        if (rc) {
            atomic_store(&sh->failed, 1);
            return sl_err_prefix(err, "spill of shuffle partition %zu", best);
        }
        atomic_fetch_add(&sh->n_runs, 1);
    }
    return SL_OK;
}

int sl_shuffle_add(struct sl_shuffle *sh, const void *key, size_t klen, const void *val,
                   size_t vlen, struct sl_err *err)
{
    if (atomic_load(&sh->failed))
        return sl_err_set(err, SL_EIO, "shuffle: an earlier add failed");
    if (SL_NEVER(sh->finished))
        return sl_err_set(err, SL_EINTERNAL, "shuffle: add after finish");
    if (klen > SL_SPILL_RECORD_MAX || vlen > SL_SPILL_RECORD_MAX - klen)
        return sl_err_set(err, SL_ELIMIT, "shuffle record of %zu bytes exceeds the limit of %u",
                          klen > SL_SPILL_RECORD_MAX ? klen : klen + vlen, SL_SPILL_RECORD_MAX);
    struct part *pt = &sh->parts[sl_shuffle_partition_of(sh, key, klen)];
    size_t grew;
    pthread_mutex_lock(&pt->lock);
    int rc = chunk_append(sh, &pt->mem, key, klen, val, vlen, &grew, err);
    atomic_store(&pt->mem_bytes, pt->mem.mem);
    pthread_mutex_unlock(&pt->lock);
    if (grew)
        peak_update(sh, atomic_fetch_add(&sh->mem_used, grew) + grew);
    if (rc)
        return rc;
    atomic_fetch_add_explicit(&sh->n_in, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&sh->bytes_in, klen + vlen, memory_order_relaxed);
    if (sh->budget)
        return maybe_spill(sh, err);
    return SL_OK;
}

/* ---- Life cycle ---- */

int sl_shuffle_new(const struct sl_shuffle_opts *o, struct sl_shuffle **out, struct sl_err *err)
{
    *out = NULL;
    if (o->n_partitions < 1 || o->n_partitions > SL_SHUFFLE_PARTITIONS_MAX)
        return sl_err_set(err, SL_ECONFIG, "shuffle: partitions must be 1..%u, not %u",
                          SL_SHUFFLE_PARTITIONS_MAX, o->n_partitions);
    if (o->merge_fan_in == 1)
        return sl_err_set(err, SL_ECONFIG, "shuffle: merge fan-in must be at least 2");
    if (o->memory_budget && (!o->spill_dir || !o->spill_dir[0]))
        return sl_err_set(err, SL_ECONFIG, "shuffle: a memory budget needs a spill directory");
    struct sl_shuffle *sh = sl_calloc(1, sizeof *sh);
    if (!sh)
        return sl_err_set(err, SL_ENOMEM, "out of memory creating a shuffle");
    sh->n_parts = o->n_partitions;
    sh->budget = o->memory_budget;
    sh->seed = o->hash_seed;
    sh->combine = o->combine;
    sh->combine_ud = o->combine_ud;
    sh->fan_in = o->merge_fan_in ? o->merge_fan_in : SL_SHUFFLE_FAN_IN_DEFAULT;
    /* growth steps small against the budget bound how far one add can overshoot it */
    sh->block_max = BLOCK_MAX;
    while (sh->budget && sh->block_max > BLOCK_FIRST && sh->block_max > sh->budget / 16)
        sh->block_max /= 2;
    sh->idx_step = (size_t)1 << 20;
    if (sh->budget && sh->idx_step > sh->budget / 256 / (2 * sizeof(void *)))
        sh->idx_step = sh->budget / 256 / (2 * sizeof(void *));
    if (sh->idx_step < IDX_FIRST)
        sh->idx_step = IDX_FIRST;
    sh->parts = sl_calloc(sh->n_parts, sizeof *sh->parts);
    sh->dir = o->spill_dir ? sl_strdup(o->spill_dir) : NULL;
    if (!sh->parts || (o->spill_dir && !sh->dir)) {
        sl_free(sh->parts);
        sl_free(sh->dir);
        sl_free(sh);
        return sl_err_set(err, SL_ENOMEM, "out of memory creating a shuffle");
    }
    for (uint32_t i = 0; i < sh->n_parts; i++)
        pthread_mutex_init(&sh->parts[i].lock, NULL);
    *out = sh;
    return SL_OK;
}

void sl_shuffle_free(struct sl_shuffle *sh)
{
    if (!sh)
        return;
    for (uint32_t i = 0; i < sh->n_parts; i++) {
        struct part *pt = &sh->parts[i];
        chunk_free(&pt->mem);
        for (size_t r = 0; r < pt->n_runs; r++)
            sl_spill_run_free(pt->runs[r]);
        sl_free(pt->runs);
        sl_free(pt->run_seq);
        pthread_mutex_destroy(&pt->lock);
    }
    sl_free(sh->parts);
    sl_free(sh->dir);
    sl_free(sh);
}

int sl_shuffle_finish(struct sl_shuffle *sh, struct sl_err *err)
{
    if (atomic_load(&sh->failed))
        return sl_err_set(err, SL_EIO, "shuffle: an earlier add failed");
    sh->finished = 1;
    return SL_OK;
}

void sl_shuffle_get_stats(const struct sl_shuffle *sh, struct sl_shuffle_stats *out)
{
    out->n_records_in = atomic_load(&sh->n_in);
    out->bytes_in = atomic_load(&sh->bytes_in);
    out->n_spill_runs = atomic_load(&sh->n_runs);
    out->spill_bytes = atomic_load(&sh->spill_bytes);
    out->n_merge_passes = atomic_load(&sh->n_passes);
    out->peak_mem = atomic_load(&sh->peak);
}

size_t sl_shuffle_partition_runs(const struct sl_shuffle *sh, uint32_t p)
{
    return p < sh->n_parts ? sh->parts[p].n_runs : 0;
}

/* ---- Iteration ---- */

struct sl_shuffle_values {
    struct sl_spill_merge *m;    /* NULL: only the pending value (combined) */
    const struct sl_buf *key;    /* the group's key (a copy) */
    struct sl_spill_rec pending; /* first value, not yet handed out */
    int has_pending;
    int done;   /* no more values for this key */
    int end_rc; /* after done: 1 next holds the next key's first record,
                   0 the merge ended, <0 its error */
    struct sl_spill_rec next;
};

int sl_shuffle_values_next(struct sl_shuffle_values *vs, const void **val, size_t *vlen,
                           struct sl_err *err)
{
    struct sl_spill_rec rec;
    if (vs->done)
        return vs->end_rc < 0 ? vs->end_rc : 0;
    if (vs->has_pending) {
        vs->has_pending = 0;
        *val = vs->pending.val;
        *vlen = vs->pending.vlen;
        return 1;
    }
    if (!vs->m) {
        vs->done = 1; /* combined: end_rc was set when the group was folded */
        return 0;
    }
    int rc = sl_spill_merge_next(vs->m, &rec, NULL, err);
    if (rc > 0 && sl_spill_key_cmp(vs->key->data, vs->key->len, rec.key, rec.klen) == 0) {
        *val = rec.val;
        *vlen = rec.vlen;
        return 1;
    }
    vs->done = 1;
    vs->end_rc = rc;
    vs->next = rec;
    return rc < 0 ? rc : 0;
}

/* Merges runs[0..k) of pt into one run in their place (a pass of a multi-pass merge). */
static int merge_pass(struct sl_shuffle *sh, struct part *pt, size_t k, struct sl_err *err)
{
    struct sl_spill_reader **rd = sl_calloc(k, sizeof *rd);
    struct sl_spill_src *src = sl_calloc(k, sizeof *src);
    struct sl_spill_run *run = NULL;
    int rc = SL_OK;
    if (!rd || !src) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory merging spill runs");
        goto fail;
    }
    for (size_t i = 0; i < k; i++) {
        if ((rc = sl_spill_reader_open(pt->runs[i], &rd[i], err)) != SL_OK)
            goto fail;
        src[i] = sl_spill_reader_src(rd[i]);
    }
    if ((rc = write_merged(sh, src, k, &run, err)) != SL_OK)
        goto fail;
    for (size_t i = 0; i < k; i++) {
        sl_spill_reader_free(rd[i]);
        rd[i] = NULL;
        sl_spill_run_free(pt->runs[i]);
    }
    pt->runs[0] = run;
    memmove(pt->runs + 1, pt->runs + k, (pt->n_runs - k) * sizeof *pt->runs);
    memmove(pt->run_seq + 1, pt->run_seq + k, (pt->n_runs - k) * sizeof *pt->run_seq);
    pt->n_runs -= k - 1;
    atomic_fetch_add(&sh->n_passes, 1);
fail:
    if (rd)
        for (size_t i = 0; i < k; i++)
            sl_spill_reader_free(rd[i]);
    sl_free(rd);
    sl_free(src);
    return rc;
}

/* Delivers one group whose first record is *rec; leaves the next group's first
 * record in *rec and returns 1, or returns 0 at the end, or an error. */
static int deliver_group(struct sl_shuffle *sh, struct sl_spill_merge *m, struct sl_spill_rec *rec,
                         struct sl_buf *key, struct sl_buf *acc, struct sl_buf *tmp,
                         sl_shuffle_group_fn cb, void *ud, struct sl_err *err)
{
    struct sl_shuffle_values vs;
    const void *v;
    size_t vl;
    int rc;

    memset(&vs, 0, sizeof vs);
    sl_buf_reset(key);
    if ((rc = sl_buf_append(key, rec->key, rec->klen, err)) != SL_OK)
        return rc;
    vs.key = key;
    if (sh->combine) {
        sl_buf_reset(acc);
        if ((rc = sl_buf_append(acc, rec->val, rec->vlen, err)) != SL_OK)
            return rc;
        while ((rc = sl_spill_merge_next(m, rec, NULL, err)) > 0 &&
               sl_spill_key_cmp(key->data, key->len, rec->key, rec->klen) == 0)
            if ((rc = combine_into(sh, key, acc, tmp, rec->val, rec->vlen, err)) != SL_OK)
                return rc;
        if (rc < 0)
            return rc;
        vs.end_rc = rc;
        vs.next = *rec;
        vs.pending.val = acc->data ? acc->data : "";
        vs.pending.vlen = acc->len;
    } else {
        vs.m = m;
        vs.pending = *rec;
    }
    vs.has_pending = 1;
    rc = cb(ud, key->data ? key->data : "", key->len, &vs, err);
    if (rc)
        return rc < 0 ? rc : sl_err_set(err, SL_EINTERNAL, "shuffle callback returned %d", rc);
    if (sh->combine)
        vs.done = 1; /* end_rc already says how the merge stands */
    while (!vs.done)
        if ((rc = sl_shuffle_values_next(&vs, &v, &vl, err)) < 0)
            return rc;
    if (vs.end_rc < 0)
        return vs.end_rc;
    *rec = vs.next;
    return vs.end_rc;
}

int sl_shuffle_partition_iter(struct sl_shuffle *sh, uint32_t p, sl_shuffle_group_fn cb, void *ud,
                              struct sl_err *err)
{
    struct sl_spill_reader **rd = NULL;
    struct sl_spill_src *src = NULL;
    struct sl_spill_merge *m = NULL;
    struct sl_buf key, acc, tmp;
    struct sl_spill_rec rec;
    struct memsrc ms;
    size_t n_rd = 0;
    int rc;

    sl_buf_init(&key, SL_SPILL_RECORD_MAX);
    sl_buf_init(&acc, SL_SPILL_RECORD_MAX);
    sl_buf_init(&tmp, SL_SPILL_RECORD_MAX);
    if (!sh->finished || atomic_load(&sh->failed)) {
        rc = sl_err_set(err, SL_EINTERNAL, "shuffle: iterate before a successful finish");
        goto fail;
    }
    if (p >= sh->n_parts) {
        rc = sl_err_set(err, SL_ECONFIG, "shuffle: no partition %u of %u", p, sh->n_parts);
        goto fail;
    }
    struct part *pt = &sh->parts[p];
    if (!pt->sorted) {
        chunk_sort(&pt->mem);
        pt->sorted = 1;
    }
    while (pt->n_runs > sh->fan_in) {
        /* merge the oldest runs first so the result keeps its place: stable order */
        size_t k = pt->n_runs - sh->fan_in + 1;
        if ((rc = merge_pass(sh, pt, k < sh->fan_in ? k : sh->fan_in, err)) != SL_OK)
            goto fail;
    }
    rd = sl_calloc(pt->n_runs + 1, sizeof *rd);
    src = sl_calloc(pt->n_runs + 1, sizeof *src);
    if (!rd || !src) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory merging spill runs");
        goto fail;
    }
    for (; n_rd < pt->n_runs; n_rd++) {
        if ((rc = sl_spill_reader_open(pt->runs[n_rd], &rd[n_rd], err)) != SL_OK)
            goto fail;
        src[n_rd] = sl_spill_reader_src(rd[n_rd]);
    }
    /* the in-memory remainder is the newest data: last source */
    ms.idx = pt->mem.idx;
    ms.n = pt->mem.n_idx;
    ms.pos = 0;
    src[n_rd].next = memsrc_next;
    src[n_rd].ctx = &ms;
    if ((rc = sl_spill_merge_new(src, n_rd + 1, &m, err)) != SL_OK)
        goto fail;
    rc = sl_spill_merge_next(m, &rec, NULL, err);
    while (rc > 0)
        rc = deliver_group(sh, m, &rec, &key, &acc, &tmp, cb, ud, err);
fail:
    sl_spill_merge_free(m);
    for (size_t i = 0; i < n_rd; i++)
        sl_spill_reader_free(rd[i]);
    sl_free(rd);
    sl_free(src);
    sl_buf_cleanup(&key);
    sl_buf_cleanup(&acc);
    sl_buf_cleanup(&tmp);
    if (rc < 0 && p < sh->n_parts)
        sl_err_prefix(err, "shuffle partition %u", p);
    return rc < 0 ? rc : SL_OK;
}
