/*
 * runtime/spill.c - sorted run files and their k-way merge (see spill.h for the
 * file format). When to spill and what to merge is runtime/shuffle.c's business.
 */
#include "spill.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"

#define HDR_LEN     16u /* file header: magic, version, reserved */
#define BLK_HDR_LEN 12u /* block header: payload_len, n_records, crc */
#define VARINT_MAX  10u /* bytes of one LEB128 uint64 */
/* Largest payload a well-formed file can hold: one record at the ceiling. */
#define BLK_PAYLOAD_MAX ((size_t)SL_SPILL_RECORD_MAX + 2 * VARINT_MAX)

static const unsigned char spill_magic[8] = {'S', 'L', 'S', 'P', 'I', 'L', 'L', 0};

/* ---- CRC-32 ---- */

static uint32_t crc_table[256]; /* written once under crc_once, read-only after */
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

uint32_t sl_spill_crc32(uint32_t crc, const void *p, size_t len)
{
    const unsigned char *s = p;
    pthread_once(&crc_once, crc_init);
    crc = ~crc;
    while (len--)
        crc = crc_table[(crc ^ *s++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

/* ---- Little helpers ---- */

static void put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static size_t put_varint(unsigned char *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (unsigned char)v;
    return n;
}

static size_t varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* Decodes a varint from p[*pos..end); 0 on success, -1 when malformed. */
static int get_varint(const unsigned char *p, size_t end, size_t *pos, uint64_t *out)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64 && *pos < end; shift += 7) {
        unsigned char c = p[(*pos)++];
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

int sl_spill_key_cmp(const void *a, size_t alen, const void *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, n) : 0;
    if (c)
        return c;
    return alen < blen ? -1 : alen > blen;
}

static int write_all(int fd, const void *p, size_t len)
{
    const char *s = p;
    while (len) {
        ssize_t n = write(fd, s, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        s += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Reads up to len bytes; returns the count (short only at end of file) or -1. */
static ssize_t read_full(int fd, void *p, size_t len)
{
    char *s = p;
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, s + got, len - got);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

/* ---- Writer ---- */

struct sl_spill_writer {
    int fd;
    char *path;         /* owned */
    unsigned char *blk; /* owned: BLK_HDR_LEN header room + payload */
    size_t blk_cap;     /* bytes of payload room */
    size_t blk_len;     /* bytes of payload in use */
    uint32_t blk_n;     /* records in the current block */
    uint64_t off;       /* bytes written to the file */
    uint64_t n_records; /* records added */
    int created;        /* the file exists: abort unlinks it */
};

struct sl_spill_run {
    char *path;       /* owned; the file is unlinked by sl_spill_run_free */
    uint64_t n_bytes; /* file size */
    uint64_t n_records;
};

int sl_spill_writer_new(const char *dir, struct sl_spill_writer **out, struct sl_err *err)
{
    struct sl_spill_writer *w = sl_calloc(1, sizeof *w);
    *out = NULL;
    if (!w)
        return sl_err_set(err, SL_ENOMEM, "out of memory creating a spill run");
    w->fd = -1;
    w->path = sl_asprintf("%s/sluice-spill-XXXXXX", dir);
    w->blk_cap = SL_SPILL_BLOCK_LEN;
    w->blk = sl_alloc(BLK_HDR_LEN + w->blk_cap);
    if (!w->path || !w->blk) {
        sl_err_set(err, SL_ENOMEM, "out of memory creating a spill run");
        goto fail;
    }
    w->fd = mkstemp(w->path);
    if (w->fd < 0) {
        sl_err_sys(err, SL_EIO, errno, "cannot create a spill file in \"%s\"", dir);
        goto fail;
    }
    w->created = 1;
    unsigned char hdr[HDR_LEN] = {0};
    memcpy(hdr, spill_magic, sizeof spill_magic);
    put_u32(hdr + 8, SL_SPILL_VERSION);
    if (write_all(w->fd, hdr, sizeof hdr) < 0) {
        sl_err_sys(err, SL_EIO, errno, "cannot write spill file \"%s\" at offset 0", w->path);
        goto fail;
    }
    w->off = HDR_LEN;
    *out = w;
    return SL_OK;
fail:
    sl_spill_writer_abort(w);
    return err ? err->code : SL_EIO;
}

/* Writes the current block (header + payload in one write) and empties it. */
static int flush_block(struct sl_spill_writer *w, uint32_t n, size_t len, struct sl_err *err)
{
    put_u32(w->blk, (uint32_t)len);
    put_u32(w->blk + 4, n);
    uint32_t crc = sl_spill_crc32(0, w->blk, 8);
    crc = sl_spill_crc32(crc, w->blk + BLK_HDR_LEN, len);
    put_u32(w->blk + 8, crc);
    if (write_all(w->fd, w->blk, BLK_HDR_LEN + len) < 0)
        return sl_err_sys(err, SL_EIO, errno, "cannot write spill file \"%s\" at offset %llu",
                          w->path, (unsigned long long)w->off);
    w->off += BLK_HDR_LEN + len;
    w->blk_len = 0;
    w->blk_n = 0;
    return SL_OK;
}

int sl_spill_writer_add(struct sl_spill_writer *w, const void *key, size_t klen, const void *val,
                        size_t vlen, struct sl_err *err)
{
    if (klen > SL_SPILL_RECORD_MAX || vlen > SL_SPILL_RECORD_MAX - klen)
        return sl_err_set(err, SL_ELIMIT, "spill record of %zu bytes exceeds the limit of %u",
                          klen + vlen, SL_SPILL_RECORD_MAX);
    size_t need = varint_len(klen) + varint_len(vlen) + klen + vlen;
    if (w->blk_n && w->blk_len + need > SL_SPILL_BLOCK_LEN) {
        int rc = flush_block(w, w->blk_n, w->blk_len, err);
        if (rc)
            return rc;
    }
    if (need > w->blk_cap - w->blk_len) {
        /* only a record larger than a block gets here, into an empty block */
        unsigned char *p = sl_realloc(w->blk, BLK_HDR_LEN + w->blk_len + need);
        if (!p)
            return sl_err_set(err, SL_ENOMEM, "out of memory for a %zu byte spill record", need);
        w->blk = p;
        w->blk_cap = w->blk_len + need;
    }
    unsigned char *d = w->blk + BLK_HDR_LEN + w->blk_len;
    d += put_varint(d, klen);
    d += put_varint(d, vlen);
    if (klen)
        memcpy(d, key, klen);
    if (vlen)
        memcpy(d + klen, val, vlen);
    w->blk_len += need;
    w->blk_n++;
    w->n_records++;
    return SL_OK;
}

uint64_t sl_spill_writer_bytes(const struct sl_spill_writer *w)
{
    return w->off;
}

int sl_spill_writer_finish(struct sl_spill_writer *w, struct sl_spill_run **out, struct sl_err *err)
{
    struct sl_spill_run *r = NULL;
    int rc;
    *out = NULL;
    if (w->blk_n && (rc = flush_block(w, w->blk_n, w->blk_len, err)) != SL_OK)
        goto fail;
    /* the end block carries the record total, so a lost tail block is detected */
    if ((rc = flush_block(w, (uint32_t)w->n_records, 0, err)) != SL_OK)
        goto fail;
    if (close(w->fd) < 0) {
        w->fd = -1;
        rc = sl_err_sys(err, SL_EIO, errno, "cannot close spill file \"%s\"", w->path);
        goto fail;
    }
    w->fd = -1;
    r = sl_calloc(1, sizeof *r);
    if (!r) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory finishing a spill run");
        goto fail;
    }
    r->path = w->path;
    w->path = NULL;
    r->n_bytes = w->off;
    r->n_records = w->n_records;
    sl_free(w->blk);
    sl_free(w);
    *out = r;
    return SL_OK;
fail:
    sl_spill_writer_abort(w);
    return rc;
}

void sl_spill_writer_abort(struct sl_spill_writer *w)
{
    if (!w)
        return;
    if (w->fd >= 0)
        close(w->fd);
    if (w->created)
        unlink(w->path);
    sl_free(w->path);
    sl_free(w->blk);
    sl_free(w);
}

/* ---- Run ---- */

const char *sl_spill_run_path(const struct sl_spill_run *r)
{
    return r->path;
}

uint64_t sl_spill_run_bytes(const struct sl_spill_run *r)
{
    return r->n_bytes;
}

uint64_t sl_spill_run_records(const struct sl_spill_run *r)
{
    return r->n_records;
}

void sl_spill_run_free(struct sl_spill_run *r)
{
    if (!r)
        return;
    unlink(r->path);
    sl_free(r->path);
    sl_free(r);
}

/* ---- Reader ---- */

struct sl_spill_reader {
    int fd;
    const char *path;   /* borrowed from the run */
    unsigned char *buf; /* owned: the current block's payload */
    size_t cap;         /* bytes allocated in buf */
    size_t len, pos;    /* payload bytes, parse position */
    uint32_t n_left;    /* records left in the current block */
    uint64_t off;       /* file offset of the next block */
    uint64_t blk_off;   /* file offset of the current block */
    uint64_t n_seen;    /* records returned */
    int done;           /* end block seen */
};

int sl_spill_reader_open(const struct sl_spill_run *run, struct sl_spill_reader **out,
                         struct sl_err *err)
{
    struct sl_spill_reader *r = sl_calloc(1, sizeof *r);
    unsigned char hdr[HDR_LEN];
    int rc;
    *out = NULL;
    if (!r)
        return sl_err_set(err, SL_ENOMEM, "out of memory opening a spill run");
    r->path = run->path;
    r->cap = SL_SPILL_BLOCK_LEN;
    r->buf = sl_alloc(r->cap);
    if (!r->buf) {
        sl_free(r);
        return sl_err_set(err, SL_ENOMEM, "out of memory opening a spill run");
    }
    r->fd = open(run->path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0) {
        rc = sl_err_sys(err, SL_EIO, errno, "cannot open spill file \"%s\"", run->path);
        goto fail;
    }
    ssize_t n = read_full(r->fd, hdr, sizeof hdr);
    if (n < 0) {
        rc = sl_err_sys(err, SL_EIO, errno, "cannot read spill file \"%s\" at offset 0", r->path);
        goto fail;
    }
    if ((size_t)n < sizeof hdr || memcmp(hdr, spill_magic, sizeof spill_magic) != 0) {
        rc = sl_err_set(err, SL_EPARSE, "spill file \"%s\" at offset 0: not a spill file", r->path);
        goto fail;
    }
    if (get_u32(hdr + 8) != SL_SPILL_VERSION) {
        rc = sl_err_set(err, SL_EPARSE, "spill file \"%s\" at offset 8: unsupported version %u",
                        r->path, get_u32(hdr + 8));
        goto fail;
    }
    r->off = HDR_LEN;
    *out = r;
    return SL_OK;
fail:
    sl_spill_reader_free(r);
    return rc;
}

/* Loads the next block into r->buf; 1 loaded, 0 at the end block, <0 error. */
static int load_block(struct sl_spill_reader *r, struct sl_err *err)
{
    unsigned char h[BLK_HDR_LEN];
    const char *why = NULL;
    ssize_t n = read_full(r->fd, h, sizeof h);
    if (n < 0)
        goto io;
    if ((size_t)n < sizeof h) {
        why = "truncated (no end block)";
        goto bad;
    }
    uint32_t plen = get_u32(h), nrec = get_u32(h + 4), crc = get_u32(h + 8);
    if (plen > BLK_PAYLOAD_MAX) {
        why = "block length exceeds the limit";
        goto bad;
    }
    if (plen > r->cap) {
        unsigned char *p = sl_realloc(r->buf, plen);
        if (!p)
            return sl_err_set(err, SL_ENOMEM, "out of memory for a %u byte spill block", plen);
        r->buf = p;
        r->cap = plen;
    }
    n = read_full(r->fd, r->buf, plen);
    if (n < 0)
        goto io;
    if ((size_t)n < plen) {
        why = "truncated block";
        goto bad;
    }
    uint32_t want = sl_spill_crc32(sl_spill_crc32(0, h, 8), r->buf, plen);
    if (want != crc) {
        why = "block checksum mismatch";
        goto bad;
    }
    if (plen == 0) {
        if (nrec != r->n_seen) {
            why = "record count in the end block does not match";
            goto bad;
        }
        r->done = 1;
        return 0;
    }
    if (nrec == 0) {
        why = "block without records";
        goto bad;
    }
    r->blk_off = r->off;
    r->off += BLK_HDR_LEN + plen;
    r->len = plen;
    r->pos = 0;
    r->n_left = nrec;
    return 1;
io:
    return sl_err_sys(err, SL_EIO, errno, "cannot read spill file \"%s\" at offset %llu", r->path,
                      (unsigned long long)r->off);
bad:
    return sl_err_set(err, SL_EPARSE, "spill file \"%s\" at offset %llu: %s", r->path,
                      (unsigned long long)r->off, why);
}

int sl_spill_reader_next(struct sl_spill_reader *r, struct sl_spill_rec *rec, struct sl_err *err)
{
    uint64_t klen, vlen;
    while (r->n_left == 0) {
        if (r->done)
            return 0;
        int rc = load_block(r, err);
        if (rc <= 0)
            return rc;
    }
    if (get_varint(r->buf, r->len, &r->pos, &klen) < 0 ||
        get_varint(r->buf, r->len, &r->pos, &vlen) < 0 || klen > r->len - r->pos ||
        vlen > r->len - r->pos - klen)
        goto bad;
    rec->key = r->buf + r->pos;
    rec->klen = (size_t)klen;
    rec->val = r->buf + r->pos + klen;
    rec->vlen = (size_t)vlen;
    r->pos += (size_t)(klen + vlen);
    r->n_left--;
    if (r->n_left == 0 && r->pos != r->len)
        goto bad;
    r->n_seen++;
    return 1;
bad:
    return sl_err_set(err, SL_EPARSE, "spill file \"%s\" at offset %llu: malformed record in block",
                      r->path, (unsigned long long)r->blk_off);
}

void sl_spill_reader_free(struct sl_spill_reader *r)
{
    if (!r)
        return;
    if (r->fd >= 0)
        close(r->fd);
    sl_free(r->buf);
    sl_free(r);
}

static int reader_src_next(void *ctx, struct sl_spill_rec *rec, struct sl_err *err)
{
    return sl_spill_reader_next(ctx, rec, err);
}

struct sl_spill_src sl_spill_reader_src(struct sl_spill_reader *r)
{
    struct sl_spill_src s = {reader_src_next, r};
    return s;
}

/* ---- k-way merge ----
 * A binary min-heap of source indices ordered by (current key, source index).
 * The source index tie-break makes the merge stable: among equal keys, source 0's
 * records all come first, in its own order. The winner's source is advanced
 * lazily, at the next call, so the record handed out stays valid until then. */

#define NO_SRC ((size_t)-1)

struct sl_spill_merge {
    struct sl_spill_src *srcs; /* owned array; contexts borrowed */
    struct sl_spill_rec *cur;  /* owned: current record of each source */
    size_t *heap;              /* owned: source indices */
    size_t n_srcs, n_heap;
    size_t last; /* source of the record handed out, or NO_SRC */
    int primed;
};

static int heap_less(const struct sl_spill_merge *m, size_t a, size_t b)
{
    int c = sl_spill_key_cmp(m->cur[a].key, m->cur[a].klen, m->cur[b].key, m->cur[b].klen);
    return c < 0 || (c == 0 && a < b);
}

static void sift_down(struct sl_spill_merge *m, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, best = i;
        if (l < m->n_heap && heap_less(m, m->heap[l], m->heap[best]))
            best = l;
        if (l + 1 < m->n_heap && heap_less(m, m->heap[l + 1], m->heap[best]))
            best = l + 1;
        if (best == i)
            return;
        size_t t = m->heap[i];
        m->heap[i] = m->heap[best];
        m->heap[best] = t;
        i = best;
    }
}

static void sift_up(struct sl_spill_merge *m, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!heap_less(m, m->heap[i], m->heap[p]))
            return;
        size_t t = m->heap[i];
        m->heap[i] = m->heap[p];
        m->heap[p] = t;
        i = p;
    }
}

int sl_spill_merge_new(const struct sl_spill_src *srcs, size_t n_srcs, struct sl_spill_merge **out,
                       struct sl_err *err)
{
    struct sl_spill_merge *m = sl_calloc(1, sizeof *m);
    *out = NULL;
    if (!m)
        return sl_err_set(err, SL_ENOMEM, "out of memory creating a merge");
    size_t n = n_srcs ? n_srcs : 1;
    m->srcs = sl_calloc(n, sizeof *m->srcs);
    m->cur = sl_calloc(n, sizeof *m->cur);
    m->heap = sl_calloc(n, sizeof *m->heap);
    if (!m->srcs || !m->cur || !m->heap) {
        sl_spill_merge_free(m);
        return sl_err_set(err, SL_ENOMEM, "out of memory creating a merge of %zu runs", n_srcs);
    }
    if (n_srcs)
        memcpy(m->srcs, srcs, n_srcs * sizeof *srcs);
    m->n_srcs = n_srcs;
    m->last = NO_SRC;
    *out = m;
    return SL_OK;
}

int sl_spill_merge_next(struct sl_spill_merge *m, struct sl_spill_rec *rec, size_t *src_idx,
                        struct sl_err *err)
{
    int rc;
    if (!m->primed) {
        for (size_t i = 0; i < m->n_srcs; i++) {
            rc = m->srcs[i].next(m->srcs[i].ctx, &m->cur[i], err);
            if (rc < 0)
                return rc;
            if (rc > 0) {
                m->heap[m->n_heap++] = i;
                sift_up(m, m->n_heap - 1);
            }
        }
        m->primed = 1;
    } else if (m->last != NO_SRC) {
        size_t s = m->last;
        m->last = NO_SRC;
        if (SL_NEVER(m->n_heap == 0 || m->heap[0] != s))
            return sl_err_set(err, SL_EINTERNAL, "merge heap out of order");
        rc = m->srcs[s].next(m->srcs[s].ctx, &m->cur[s], err);
        if (rc < 0)
            return rc;
        if (rc == 0)
            m->heap[0] = m->heap[--m->n_heap];
        if (m->n_heap)
            sift_down(m, 0);
    }
    if (m->n_heap == 0)
        return 0;
    m->last = m->heap[0];
    *rec = m->cur[m->last];
    if (src_idx)
        *src_idx = m->last;
    return 1;
}

void sl_spill_merge_free(struct sl_spill_merge *m)
{
    if (!m)
        return;
    sl_free(m->srcs);
    sl_free(m->cur);
    sl_free(m->heap);
    sl_free(m);
}
