/*
 * runtime/agg.c - partial aggregation states of group_by(...):agg{...}.
 * One group's state is an array of 32-byte slots, one per spec; the slot's
 * meaning depends on the spec's kind (see struct slot). The group table,
 * partitioning and the memory budget live in the engine; the byte-level
 * shuffle in shuffle.c. Lifetime and memory rules are in agg.h.
 *
 * Determinism. Every result must be the same for any number of workers and
 * any merge order:
 *  - integer sums (and the sum behind avg of integers) are exact 128-bit
 *    totals; "sum overflows bigint" is decided once, in finish, on the exact
 *    total, so +big, +big, -big never fails in one order and passes in another;
 *  - double sums use Neumaier's compensated summation, and a merge adds the
 *    other partial's sum and compensation, so the result is within ~1 ulp of
 *    the exact sum whatever the order (exact when every partial sum of
 *    integral doubles stays below 2^53);
 *  - first/last compare the row order number (split << 32 | row), ties broken
 *    by value; min/max by sl_value_cmp, a total order;
 *  - count_distinct keeps exact sets of key encodings (sl_key_encode, which
 *    is canonical: -0 == 0, one NaN) and serialises them sorted.
 */
#include "runtime/agg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/alloc.h"

#ifndef __SIZEOF_INT128__
#error "sluice needs a compiler with __int128 (gcc or clang on a 64-bit target)"
#endif

/* ---- State layout ---- */

/* count_distinct: open-addressing set over key encodings stored back to back
 * in pool. An entry with len 0 is empty (a key encoding has at least its tag). */
struct dent {
    uint64_t hash;
    uint32_t off; /* bytes into pool */
    uint32_t len; /* bytes */
};

struct dset {
    struct sl_buf pool; /* encodings; ceiling SL_AGG_DISTINCT_MAX */
    struct dent *tab;   /* owned; cap entries, cap a power of two, load <= 1/2 */
    uint32_t cap, n;
};

struct slot {
    union {
        int64_t n; /* count */
        struct {
            int64_t n;  /* non-NULL values */
            int64_t hi; /* exact sum, as a 128-bit two's complement hi:lo */
            uint64_t lo;
        } isum; /* sum/avg over INT */
        struct {
            int64_t n;   /* non-NULL values */
            double s, c; /* Neumaier sum and compensation */
        } dsum;          /* sum/avg over DOUBLE */
        struct {
            struct sl_value v; /* NULL until a value is seen; text: s is our buffer */
            uint64_t order;    /* first/last: order of v */
            uint32_t cap;      /* bytes allocated at v.s (owned) when > 0 */
        } val;                 /* min/max/first/last */
        struct dset *set;      /* count_distinct: owned, NULL until a value */
    } u;
};

_Static_assert(sizeof(struct slot) == 32, "agg.h promises 32 bytes per spec");

static struct slot *slots(struct sl_agg_state *s)
{
    return (struct slot *)(void *)s;
}

static const struct slot *cslots(const struct sl_agg_state *s)
{
    return (const struct slot *)(const void *)s;
}

/* ---- Names, checks ---- */

static const char *const kind_names[] = {
    [SL_AGG_COUNT] = "count", [SL_AGG_COUNT_DISTINCT] = "count_distinct",
    [SL_AGG_SUM] = "sum",     [SL_AGG_MIN] = "min",
    [SL_AGG_MAX] = "max",     [SL_AGG_AVG] = "avg",
    [SL_AGG_FIRST] = "first", [SL_AGG_LAST] = "last",
};

const char *sl_agg_name(enum sl_agg_kind k)
{
    if ((unsigned)k >= SL_ARRAY_LEN(kind_names))
        return "unknown";
    return kind_names[k];
}

int sl_agg_parse(const char *name)
{
    for (size_t k = 0; k < SL_ARRAY_LEN(kind_names); k++)
        if (strcmp(name, kind_names[k]) == 0)
            return (int)k;
    return -1;
}

static bool is_text(unsigned t)
{
    return t == SL_V_STRING || t == SL_V_BINARY || t == SL_V_JSON;
}

int sl_agg_check(const struct sl_agg_spec *specs, size_t n_specs, size_t n_cols, struct sl_err *err)
{
    for (size_t i = 0; i < n_specs; i++) {
        const struct sl_agg_spec *sp = &specs[i];
        const char *name = sl_agg_name(sp->kind);
        if ((unsigned)sp->kind >= SL_ARRAY_LEN(kind_names))
            return sl_err_set(err, SL_ECONFIG, "agg %zu: unknown aggregation %d", i, (int)sp->kind);
        if (sp->col < 0) {
            if (sp->col == -1 && sp->kind == SL_AGG_COUNT)
                continue;
            return sl_err_set(err, SL_ECONFIG, "agg %zu: %s needs a column", i, name);
        }
        if ((size_t)sp->col >= n_cols)
            return sl_err_set(err, SL_ECONFIG, "agg %zu: %s of column %d: the row has %zu columns",
                              i, name, sp->col, n_cols);
        if ((unsigned)sp->in_type == SL_V_NULL || (unsigned)sp->in_type > SL_V_JSON)
            return sl_err_set(err, SL_ECONFIG, "agg %zu: %s of a column of unknown type", i, name);
        if ((sp->kind == SL_AGG_SUM || sp->kind == SL_AGG_AVG) && sp->in_type != SL_V_INT &&
            sp->in_type != SL_V_DOUBLE)
            return sl_err_set(err, SL_ECONFIG, "agg %zu: %s of %s (needs bigint or double)", i,
                              name, sl_vtype_name(sp->in_type));
    }
    return SL_OK;
}

enum sl_vtype sl_agg_out_type(const struct sl_agg_spec *spec)
{
    switch (spec->kind) {
    case SL_AGG_COUNT:
    case SL_AGG_COUNT_DISTINCT: return SL_V_INT;
    case SL_AGG_SUM: return spec->in_type == SL_V_INT ? SL_V_INT : SL_V_DOUBLE;
    case SL_AGG_AVG: return SL_V_DOUBLE;
    default: return spec->in_type;
    }
}

size_t sl_agg_state_size(size_t n_specs)
{
    return n_specs * sizeof(struct slot);
}

void sl_agg_init(const struct sl_agg_spec *specs, size_t n_specs, struct sl_agg_state *state)
{
    (void)specs;
    memset(state, 0, sl_agg_state_size(n_specs));
}

/* ---- count_distinct set ---- */

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= UINT64_C(0xbf58476d1ce4e5b9);
    x ^= x >> 27;
    x *= UINT64_C(0x94d049bb133111eb);
    x ^= x >> 31;
    return x;
}

static uint64_t hash_bytes(const unsigned char *p, size_t n)
{
    uint64_t h = UINT64_C(0x9e3779b97f4a7c15) ^ n;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = mix64(h ^ w);
        p += 8;
        n -= 8;
    }
    uint64_t w = 0;
    for (size_t k = 0; k < n; k++)
        w |= (uint64_t)p[k] << (8 * k);
    return mix64(h ^ w ^ 0xff);
}

static struct dset *dset_new(void)
{
    struct dset *s = sl_calloc(1, sizeof *s);
    if (s)
        sl_buf_init(&s->pool, SL_AGG_DISTINCT_MAX);
    return s;
}

static void dset_free(struct dset *s)
{
    if (!s)
        return;
    sl_buf_cleanup(&s->pool);
    sl_free(s->tab);
    sl_free(s);
}

static size_t dset_bytes(const struct dset *s)
{
    if (!s)
        return 0;
    return sizeof *s + (s->pool.data ? s->pool.cap + 1 : 0) + (size_t)s->cap * sizeof(struct dent);
}

static int dset_grow(struct dset *s, struct sl_err *err)
{
    if (s->cap >= (UINT32_C(1) << 31))
        return sl_err_set(err, SL_ELIMIT, "count_distinct: more than 2^30 distinct values");
    uint32_t cap = s->cap ? s->cap * 2 : 8;
    struct dent *tab = sl_calloc(cap, sizeof *tab);
    if (!tab)
        return sl_err_set(err, SL_ENOMEM, "count_distinct: out of memory");
    for (uint32_t i = 0; i < s->cap; i++) {
        if (!s->tab[i].len)
            continue;
        uint32_t k = (uint32_t)s->tab[i].hash & (cap - 1);
        while (tab[k].len)
            k = (k + 1) & (cap - 1);
        tab[k] = s->tab[i];
    }
    sl_free(s->tab);
    s->tab = tab;
    s->cap = cap;
    return SL_OK;
}

static void pool_truncate(struct sl_buf *b, size_t len)
{
    b->len = len;
    if (b->data)
        b->data[len] = '\0';
}

/* Takes the len bytes at pool offset off (the pool's tail) into the set, or
 * drops them from the pool when already present. */
static int dset_insert_tail(struct dset *s, size_t off, uint64_t h, struct sl_err *err)
{
    size_t len = s->pool.len - off;
    int rc;
    if (SL_NEVER(len == 0 || len > UINT32_MAX || off > UINT32_MAX)) {
        pool_truncate(&s->pool, off);
        return sl_err_set(err, SL_EINTERNAL, "count_distinct: bad entry");
    }
    if (((size_t)s->n + 1) * 2 > s->cap && (rc = dset_grow(s, err)) != SL_OK) {
        pool_truncate(&s->pool, off);
        return rc;
    }
    const char *p = s->pool.data + off;
    uint32_t k = (uint32_t)h & (s->cap - 1);
    while (s->tab[k].len) {
        const struct dent *e = &s->tab[k];
        if (e->hash == h && e->len == len && memcmp(s->pool.data + e->off, p, len) == 0) {
            pool_truncate(&s->pool, off);
            return SL_OK;
        }
        k = (k + 1) & (s->cap - 1);
    }
    s->tab[k] = (struct dent){.hash = h, .off = (uint32_t)off, .len = (uint32_t)len};
    s->n++;
    return SL_OK;
}

static int dset_add_bytes(struct dset *s, const void *p, size_t len, uint64_t h, struct sl_err *err)
{
    size_t off = s->pool.len;
    int rc = sl_buf_append(&s->pool, p, len, err);
    if (rc != SL_OK)
        return rc == SL_ELIMIT
                   ? sl_err_set(err, SL_ELIMIT, "count_distinct: group holds more than %zu bytes",
                                SL_AGG_DISTINCT_MAX)
                   : rc;
    return dset_insert_tail(s, off, h, err);
}

static int dset_add_value(struct dset *s, const struct sl_value *v, struct sl_err *err)
{
    size_t off = s->pool.len;
    int rc = sl_key_encode(v, 1, &s->pool, err);
    if (rc != SL_OK) {
        pool_truncate(&s->pool, off);
        return rc == SL_ELIMIT
                   ? sl_err_set(err, SL_ELIMIT, "count_distinct: group holds more than %zu bytes",
                                SL_AGG_DISTINCT_MAX)
                   : rc;
    }
    uint64_t h = hash_bytes((const unsigned char *)s->pool.data + off, s->pool.len - off);
    return dset_insert_tail(s, off, h, err);
}

/* ---- Slot helpers ---- */

/* Neumaier's variant of Kahan summation: c collects the low-order bits lost by s. */
static void neu_add(double *s, double *c, double x)
{
    double t = *s + x;
    if (fabs(*s) >= fabs(x))
        *c += (*s - t) + x;
    else
        *c += (x - t) + *s;
    *s = t;
}

static double neu_total(double s, double c)
{
    return isfinite(s) ? s + c : s; /* inf/NaN poison c: the plain sum is the answer */
}

static __int128 isum_get(const struct slot *sl)
{
    return (__int128)(((unsigned __int128)(uint64_t)sl->u.isum.hi << 64) | sl->u.isum.lo);
}

static void isum_put(struct slot *sl, __int128 v)
{
    sl->u.isum.hi = (int64_t)(v >> 64);
    sl->u.isum.lo = (uint64_t)v;
}

/* Copies v (of the slot's type) into the slot, reusing its buffer. */
static int val_set(struct slot *sl, const struct sl_value *v, struct sl_err *err)
{
    if (!is_text(v->type)) {
        if (sl->u.val.cap) { /* cannot happen with one in_type; keep no stale buffer */
            sl_free((char *)sl->u.val.v.s);
            sl->u.val.cap = 0;
        }
        sl->u.val.v = *v;
        return SL_OK;
    }
    char *buf = sl->u.val.cap ? (char *)sl->u.val.v.s : NULL;
    if (v->len > sl->u.val.cap) {
        size_t cap = (size_t)sl->u.val.cap * 2;
        if (cap < v->len)
            cap = v->len;
        if (cap < 16)
            cap = 16;
        if (cap > UINT32_MAX)
            cap = UINT32_MAX;
        char *nb = sl_realloc(buf, cap);
        if (!nb)
            return sl_err_set(err, SL_ENOMEM, "aggregate: out of memory copying a value");
        buf = nb;
        sl->u.val.cap = (uint32_t)cap;
    }
    if (v->len)
        memcpy(buf, v->s, v->len);
    sl->u.val.v.type = v->type;
    sl->u.val.v.len = v->len;
    sl->u.val.v.s = buf ? buf : "";
    return SL_OK;
}

/* Whether (v, order) should replace the slot's value for kind. */
static bool val_better(enum sl_agg_kind kind, const struct slot *sl, const struct sl_value *v,
                       uint64_t order)
{
    const struct sl_value *cur = &sl->u.val.v;
    if (cur->type == SL_V_NULL)
        return true;
    switch (kind) {
    case SL_AGG_MIN: return sl_value_cmp(v, cur) < 0;
    case SL_AGG_MAX: return sl_value_cmp(v, cur) > 0;
    case SL_AGG_FIRST:
        return order < sl->u.val.order || (order == sl->u.val.order && sl_value_cmp(v, cur) < 0);
    case SL_AGG_LAST:
        return order > sl->u.val.order || (order == sl->u.val.order && sl_value_cmp(v, cur) > 0);
    default: return false;
    }
}

static int val_offer(enum sl_agg_kind kind, struct slot *sl, const struct sl_value *v,
                     uint64_t order, struct sl_err *err)
{
    if (!val_better(kind, sl, v, order))
        return SL_OK;
    int rc = val_set(sl, v, err);
    if (rc == SL_OK)
        sl->u.val.order = order;
    return rc;
}

void sl_agg_cleanup(const struct sl_agg_spec *specs, size_t n_specs, struct sl_agg_state *state)
{
    struct slot *sl = slots(state);
    for (size_t i = 0; i < n_specs; i++) {
        switch (specs[i].kind) {
        case SL_AGG_COUNT_DISTINCT: dset_free(sl[i].u.set); break;
        case SL_AGG_MIN:
        case SL_AGG_MAX:
        case SL_AGG_FIRST:
        case SL_AGG_LAST:
            if (sl[i].u.val.cap)
                sl_free((char *)sl[i].u.val.v.s);
            break;
        default: break;
        }
        memset(&sl[i], 0, sizeof sl[i]);
    }
}

size_t sl_agg_state_bytes(const struct sl_agg_spec *specs, size_t n_specs,
                          const struct sl_agg_state *state)
{
    const struct slot *sl = cslots(state);
    size_t total = sl_agg_state_size(n_specs);
    for (size_t i = 0; i < n_specs; i++) {
        switch (specs[i].kind) {
        case SL_AGG_COUNT_DISTINCT: total += dset_bytes(sl[i].u.set); break;
        case SL_AGG_MIN:
        case SL_AGG_MAX:
        case SL_AGG_FIRST:
        case SL_AGG_LAST: total += sl[i].u.val.cap; break;
        default: break;
        }
    }
    return total;
}

/* ---- Update, merge, finish ---- */

int sl_agg_update(const struct sl_agg_spec *specs, size_t n_specs, struct sl_agg_state *state,
                  const struct sl_value *row, uint64_t order, struct sl_err *err)
{
    struct slot *sl = slots(state);
    int rc = SL_OK;
    /* Types first, so a rejected row leaves the state untouched (it goes to the
     * error output and must not be half counted). */
    for (size_t i = 0; i < n_specs; i++) {
        const struct sl_agg_spec *sp = &specs[i];
        if (sp->col < 0 || sp->kind == SL_AGG_COUNT)
            continue;
        const struct sl_value *v = &row[sp->col];
        if (v->type != SL_V_NULL && v->type != (unsigned)sp->in_type)
            return sl_err_set(err, SL_EPARSE, "agg %zu (%s): value is %s, expected %s", i,
                              sl_agg_name(sp->kind), sl_vtype_name((enum sl_vtype)v->type),
                              sl_vtype_name(sp->in_type));
    }
    for (size_t i = 0; i < n_specs; i++) {
        const struct sl_agg_spec *sp = &specs[i];
        struct slot *s = &sl[i];
        if (sp->col < 0) { /* count() of rows */
            s->u.n++;
            continue;
        }
        const struct sl_value *v = &row[sp->col];
        if (v->type == SL_V_NULL)
            continue;
        if (sp->kind == SL_AGG_COUNT) {
            s->u.n++;
            continue;
        }
        switch (sp->kind) {
        case SL_AGG_COUNT_DISTINCT:
            if (!s->u.set && !(s->u.set = dset_new()))
                return sl_err_set(err, SL_ENOMEM, "count_distinct: out of memory");
            rc = dset_add_value(s->u.set, v, err);
            break;
        case SL_AGG_SUM:
        case SL_AGG_AVG:
            if (v->type == SL_V_INT) {
                __int128 t;
                if (__builtin_add_overflow(isum_get(s), (__int128)v->i, &t))
                    return sl_err_set(err, SL_EPARSE, "sum overflows bigint");
                isum_put(s, t);
                s->u.isum.n++;
            } else {
                neu_add(&s->u.dsum.s, &s->u.dsum.c, v->d);
                s->u.dsum.n++;
            }
            break;
        default: rc = val_offer(sp->kind, s, v, order, err); break;
        }
        if (rc != SL_OK)
            return sl_err_prefix(err, "agg %zu (%s)", i, sl_agg_name(sp->kind));
    }
    return SL_OK;
}

static int add_count(int64_t *dst, int64_t src, size_t i, struct sl_err *err)
{
    if (__builtin_add_overflow(*dst, src, dst))
        return sl_err_set(err, SL_EPARSE, "agg %zu: count overflows bigint", i);
    return SL_OK;
}

int sl_agg_merge(const struct sl_agg_spec *specs, size_t n_specs, struct sl_agg_state *dst,
                 const struct sl_agg_state *src, struct sl_err *err)
{
    struct slot *d = slots(dst);
    const struct slot *s = cslots(src);
    int rc = SL_OK;
    for (size_t i = 0; i < n_specs; i++) {
        const struct sl_agg_spec *sp = &specs[i];
        switch (sp->kind) {
        case SL_AGG_COUNT: rc = add_count(&d[i].u.n, s[i].u.n, i, err); break;
        case SL_AGG_COUNT_DISTINCT: {
            const struct dset *ss = s[i].u.set;
            if (!ss || !ss->n)
                break;
            if (!d[i].u.set && !(d[i].u.set = dset_new()))
                return sl_err_set(err, SL_ENOMEM, "count_distinct: out of memory");
            for (uint32_t k = 0; k < ss->cap && rc == SL_OK; k++)
                if (ss->tab[k].len)
                    rc = dset_add_bytes(d[i].u.set, ss->pool.data + ss->tab[k].off, ss->tab[k].len,
                                        ss->tab[k].hash, err);
            break;
        }
        case SL_AGG_SUM:
        case SL_AGG_AVG:
            if (sp->in_type == SL_V_INT) {
                __int128 t;
                if ((rc = add_count(&d[i].u.isum.n, s[i].u.isum.n, i, err)) != SL_OK)
                    break;
                if (__builtin_add_overflow(isum_get(&d[i]), isum_get(&s[i]), &t)) {
                    rc = sl_err_set(err, SL_EPARSE, "sum overflows bigint");
                    break;
                }
                isum_put(&d[i], t);
            } else {
                if ((rc = add_count(&d[i].u.dsum.n, s[i].u.dsum.n, i, err)) != SL_OK)
                    break;
                neu_add(&d[i].u.dsum.s, &d[i].u.dsum.c, s[i].u.dsum.s);
                d[i].u.dsum.c += s[i].u.dsum.c;
            }
            break;
        default:
            if (s[i].u.val.v.type != SL_V_NULL)
                rc = val_offer(sp->kind, &d[i], &s[i].u.val.v, s[i].u.val.order, err);
            break;
        }
        if (rc != SL_OK)
            return sl_err_prefix(err, "merge agg %zu (%s)", i, sl_agg_name(sp->kind));
    }
    return SL_OK;
}

int sl_agg_finish(const struct sl_agg_spec *specs, size_t n_specs, const struct sl_agg_state *state,
                  struct sl_value *out, struct sl_arena *arena, struct sl_err *err)
{
    const struct slot *sl = cslots(state);
    for (size_t i = 0; i < n_specs; i++) {
        const struct sl_agg_spec *sp = &specs[i];
        const struct slot *s = &sl[i];
        struct sl_value v = {.type = SL_V_NULL};
        switch (sp->kind) {
        case SL_AGG_COUNT:
            v.type = SL_V_INT;
            v.i = s->u.n;
            break;
        case SL_AGG_COUNT_DISTINCT:
            v.type = SL_V_INT;
            v.i = s->u.set ? (int64_t)s->u.set->n : 0;
            break;
        case SL_AGG_SUM:
        case SL_AGG_AVG:
            if (sp->in_type == SL_V_INT) {
                if (!s->u.isum.n)
                    break;
                __int128 t = isum_get(s);
                if (sp->kind == SL_AGG_AVG) {
                    v.type = SL_V_DOUBLE;
                    v.d = (double)t / (double)s->u.isum.n;
                } else if (t < INT64_MIN || t > INT64_MAX) {
                    return sl_err_set(err, SL_EPARSE, "agg %zu (sum): sum overflows bigint", i);
                } else {
                    v.type = SL_V_INT;
                    v.i = (int64_t)t;
                }
            } else {
                if (!s->u.dsum.n)
                    break;
                v.type = SL_V_DOUBLE;
                v.d = neu_total(s->u.dsum.s, s->u.dsum.c);
                if (sp->kind == SL_AGG_AVG)
                    v.d /= (double)s->u.dsum.n;
            }
            break;
        default:
            v = s->u.val.v;
            if (is_text(v.type) && v.len) {
                char *p = sl_arena_alloc(arena, v.len);
                if (!p)
                    return sl_err_set(err, SL_ENOMEM, "agg %zu (%s): out of memory", i,
                                      sl_agg_name(sp->kind));
                memcpy(p, v.s, v.len);
                v.s = p;
            } else if (is_text(v.type)) {
                v.s = "";
            }
            break;
        }
        out[i] = v;
    }
    return SL_OK;
}

/* ---- Encoding ----
 *
 *   state   = version:u8 n_specs:varint slot*
 *   slot    = kind:u8 payload
 *   count   : n:varint
 *   sum/avg : n:varint, and when n > 0: INT input hi:i64le lo:u64le (exact
 *             128-bit sum) | DOUBLE input s:f64le c:f64le
 *   min/max : has:u8, and when 1: value
 *   first/last: has:u8, and when 1: order:varint value
 *   count_distinct: k:varint then k x (len:varint key-encoding), strictly
 *             ascending (memcmp, then shorter first)
 *   value   : by the spec's in_type: bool u8 | int/date/timestamp zigzag varint |
 *             double f64le | string/binary/json len:varint bytes
 */

static size_t put_varint(unsigned char *p, uint64_t u)
{
    size_t n = 0;
    while (u >= 0x80) {
        p[n++] = (unsigned char)(u | 0x80);
        u >>= 7;
    }
    p[n++] = (unsigned char)u;
    return n;
}

static int emit_varint(struct sl_buf *out, uint64_t u, struct sl_err *err)
{
    unsigned char tmp[10];
    return sl_buf_append(out, tmp, put_varint(tmp, u), err);
}

static int emit_u64le(struct sl_buf *out, uint64_t u, struct sl_err *err)
{
    unsigned char tmp[8];
    for (int k = 0; k < 8; k++)
        tmp[k] = (unsigned char)(u >> (8 * k));
    return sl_buf_append(out, tmp, 8, err);
}

static uint64_t dbits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

static int emit_value(struct sl_buf *out, const struct sl_value *v, struct sl_err *err)
{
    int rc;
    switch (v->type) {
    case SL_V_BOOL: return sl_buf_putc(out, (char)(v->i != 0), err);
    case SL_V_INT:
    case SL_V_DATE:
    case SL_V_TIMESTAMP:
        return emit_varint(out, ((uint64_t)v->i << 1) ^ (uint64_t)(v->i >> 63), err);
    case SL_V_DOUBLE: return emit_u64le(out, dbits(v->d), err);
    case SL_V_STRING:
    case SL_V_BINARY:
    case SL_V_JSON:
        if ((rc = emit_varint(out, v->len, err)) != SL_OK)
            return rc;
        return sl_buf_append(out, v->s, v->len, err);
    default: return sl_err_set(err, SL_EINTERNAL, "encode aggregate: value of type %d", v->type);
    }
}

struct dref {
    const unsigned char *p;
    uint32_t len;
};

static int bytes_cmp(const unsigned char *a, size_t al, const unsigned char *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    if (c)
        return c;
    return (al > bl) - (al < bl);
}

static int dref_cmp(const void *x, const void *y)
{
    const struct dref *a = x, *b = y;
    return bytes_cmp(a->p, a->len, b->p, b->len);
}

static int emit_set(struct sl_buf *out, const struct dset *s, struct sl_err *err)
{
    uint32_t n = s ? s->n : 0;
    int rc = emit_varint(out, n, err);
    if (rc != SL_OK || n == 0)
        return rc;
    struct dref *refs = sl_calloc(n, sizeof *refs);
    if (!refs)
        return sl_err_set(err, SL_ENOMEM, "encode count_distinct: out of memory");
    uint32_t k = 0;
    for (uint32_t i = 0; i < s->cap; i++)
        if (s->tab[i].len)
            refs[k++] =
                (struct dref){(const unsigned char *)s->pool.data + s->tab[i].off, s->tab[i].len};
    qsort(refs, n, sizeof *refs, dref_cmp);
    for (uint32_t i = 0; i < n && rc == SL_OK; i++) {
        if ((rc = emit_varint(out, refs[i].len, err)) == SL_OK)
            rc = sl_buf_append(out, refs[i].p, refs[i].len, err);
    }
    sl_free(refs);
    return rc;
}

int sl_agg_encode(const struct sl_agg_spec *specs, size_t n_specs, const struct sl_agg_state *state,
                  struct sl_buf *out, struct sl_err *err)
{
    const struct slot *sl = cslots(state);
    int rc = sl_buf_putc(out, (char)SL_AGG_ENCODING_VERSION, err);
    if (rc == SL_OK)
        rc = emit_varint(out, n_specs, err);
    for (size_t i = 0; i < n_specs && rc == SL_OK; i++) {
        const struct sl_agg_spec *sp = &specs[i];
        const struct slot *s = &sl[i];
        if ((rc = sl_buf_putc(out, (char)sp->kind, err)) != SL_OK)
            break;
        switch (sp->kind) {
        case SL_AGG_COUNT: rc = emit_varint(out, (uint64_t)s->u.n, err); break;
        case SL_AGG_COUNT_DISTINCT: rc = emit_set(out, s->u.set, err); break;
        case SL_AGG_SUM:
        case SL_AGG_AVG:
            /* isum.n and dsum.n share the slot's first 8 bytes */
            if ((rc = emit_varint(out, (uint64_t)s->u.isum.n, err)) != SL_OK || !s->u.isum.n)
                break;
            if (sp->in_type == SL_V_INT) {
                if ((rc = emit_u64le(out, (uint64_t)s->u.isum.hi, err)) == SL_OK)
                    rc = emit_u64le(out, s->u.isum.lo, err);
            } else {
                if ((rc = emit_u64le(out, dbits(s->u.dsum.s), err)) == SL_OK)
                    rc = emit_u64le(out, dbits(s->u.dsum.c), err);
            }
            break;
        default: {
            bool has = s->u.val.v.type != SL_V_NULL;
            if ((rc = sl_buf_putc(out, (char)has, err)) != SL_OK || !has)
                break;
            if ((sp->kind == SL_AGG_FIRST || sp->kind == SL_AGG_LAST) &&
                (rc = emit_varint(out, s->u.val.order, err)) != SL_OK)
                break;
            rc = emit_value(out, &s->u.val.v, err);
            break;
        }
        }
    }
    if (rc != SL_OK)
        return sl_err_prefix(err, "encode aggregate state");
    return SL_OK;
}

/* ---- Decoding ---- */

struct rd {
    const unsigned char *b;
    size_t len, o;
};

/* 0, or -1 when truncated or not a varint of at most 64 bits. */
static int get_varint(struct rd *r, uint64_t *out)
{
    uint64_t u = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->o >= r->len)
            return -1;
        unsigned char c = r->b[r->o++];
        if (shift == 63 && c > 1)
            return -1;
        u |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *out = u;
            return 0;
        }
    }
    return -1;
}

static int get_u64le(struct rd *r, uint64_t *out)
{
    if (r->len - r->o < 8)
        return -1;
    uint64_t u = 0;
    for (int k = 7; k >= 0; k--)
        u = u << 8 | r->b[r->o + (size_t)k];
    r->o += 8;
    *out = u;
    return 0;
}

static int get_u8(struct rd *r, unsigned *out)
{
    if (r->o >= r->len)
        return -1;
    *out = r->b[r->o++];
    return 0;
}

static int get_count(struct rd *r, int64_t *out)
{
    uint64_t u;
    if (get_varint(r, &u) != 0 || u > INT64_MAX)
        return -1;
    *out = (int64_t)u;
    return 0;
}

/* A value of type t; strings point into the input (borrowed). */
static int get_value(struct rd *r, enum sl_vtype t, struct sl_value *v)
{
    uint64_t u;
    unsigned c;
    *v = (struct sl_value){.type = (uint8_t)t};
    switch (t) {
    case SL_V_BOOL:
        if (get_u8(r, &c) != 0 || c > 1)
            return -1;
        v->i = c;
        return 0;
    case SL_V_INT:
    case SL_V_DATE:
    case SL_V_TIMESTAMP:
        if (get_varint(r, &u) != 0)
            return -1;
        v->i = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
        return 0;
    case SL_V_DOUBLE:
        if (get_u64le(r, &u) != 0)
            return -1;
        memcpy(&v->d, &u, sizeof v->d);
        return 0;
    case SL_V_STRING:
    case SL_V_BINARY:
    case SL_V_JSON:
        if (get_varint(r, &u) != 0 || u > UINT32_MAX || u > r->len - r->o)
            return -1;
        v->s = (const char *)r->b + r->o;
        v->len = (uint32_t)u;
        r->o += (size_t)u;
        return 0;
    default: return -1;
    }
}

/* Whether p[0..len) is exactly one canonical sl_key_encode of a value of type t. */
static bool key_valid(const unsigned char *p, size_t len, enum sl_vtype t)
{
    if (len < 1 || p[0] != (unsigned char)t)
        return false;
    switch (t) {
    case SL_V_BOOL: return len == 2 && p[1] <= 1;
    case SL_V_INT:
    case SL_V_DATE:
    case SL_V_TIMESTAMP: return len == 9;
    case SL_V_DOUBLE: {
        if (len != 9)
            return false;
        uint64_t u = 0;
        for (int k = 1; k <= 8; k++)
            u = u << 8 | p[k];
        u = (u >> 63) ? u ^ (UINT64_C(1) << 63) : ~u;
        double d;
        memcpy(&d, &u, sizeof d);
        if (isnan(d))
            return u == UINT64_C(0x7ff8000000000000); /* the one NaN sl_key_encode writes */
        return !(d == 0 && signbit(d));               /* -0 is written as +0 */
    }
    case SL_V_STRING:
    case SL_V_BINARY:
    case SL_V_JSON:
        /* bytes, with 00 escaped as 00 ff, then the terminator 00 00 at the very end */
        for (size_t k = 1; k < len; k++) {
            if (p[k] != 0)
                continue;
            if (k + 1 >= len)
                return false;
            if (p[k + 1] == 0)
                return k + 2 == len;
            if (p[k + 1] != 0xff)
                return false;
            k++;
        }
        return false;
    default: return false;
    }
}

static int decode_set(struct rd *r, enum sl_vtype t, struct slot *s, struct sl_err *err)
{
    uint64_t k;
    if (get_varint(r, &k) != 0 || k > r->len - r->o) /* every entry takes >= 2 bytes */
        return -1;
    const unsigned char *prev = NULL;
    size_t prev_len = 0;
    for (uint64_t j = 0; j < k; j++) {
        uint64_t len;
        if (get_varint(r, &len) != 0 || len > r->len - r->o)
            return -1;
        const unsigned char *p = r->b + r->o;
        if (!key_valid(p, (size_t)len, t))
            return -1;
        if (prev && bytes_cmp(prev, prev_len, p, (size_t)len) >= 0)
            return -1;
        if (!s->u.set && !(s->u.set = dset_new())) {
            sl_err_set(err, SL_ENOMEM, "count_distinct: out of memory");
            return -2;
        }
        if (dset_add_bytes(s->u.set, p, (size_t)len, hash_bytes(p, (size_t)len), err) != SL_OK)
            return -2;
        prev = p;
        prev_len = (size_t)len;
        r->o += (size_t)len;
    }
    return 0;
}

/* 0, -1 for malformed bytes, -2 when err is already set. */
static int decode_slot(struct rd *r, const struct sl_agg_spec *sp, struct slot *s,
                       struct sl_err *err)
{
    unsigned c;
    uint64_t u, u2;
    if (get_u8(r, &c) != 0 || c != (unsigned)sp->kind)
        return -1;
    switch (sp->kind) {
    case SL_AGG_COUNT: return get_count(r, &s->u.n);
    case SL_AGG_COUNT_DISTINCT: return decode_set(r, sp->in_type, s, err);
    case SL_AGG_SUM:
    case SL_AGG_AVG:
        if (get_count(r, &s->u.isum.n) != 0)
            return -1;
        if (!s->u.isum.n)
            return 0;
        if (get_u64le(r, &u) != 0 || get_u64le(r, &u2) != 0)
            return -1;
        if (sp->in_type == SL_V_INT) {
            s->u.isum.hi = (int64_t)u;
            s->u.isum.lo = u2;
        } else {
            memcpy(&s->u.dsum.s, &u, sizeof u);
            memcpy(&s->u.dsum.c, &u2, sizeof u2);
        }
        return 0;
    default: {
        struct sl_value v;
        uint64_t order = 0;
        if (get_u8(r, &c) != 0 || c > 1)
            return -1;
        if (!c)
            return 0;
        if ((sp->kind == SL_AGG_FIRST || sp->kind == SL_AGG_LAST) && get_varint(r, &order) != 0)
            return -1;
        if (get_value(r, sp->in_type, &v) != 0)
            return -1;
        if (val_set(s, &v, err) != SL_OK)
            return -2;
        s->u.val.order = order;
        return 0;
    }
    }
}

int sl_agg_decode(const struct sl_agg_spec *specs, size_t n_specs, const void *p, size_t len,
                  struct sl_agg_state *state, struct sl_err *err)
{
    struct rd r = {.b = p, .len = len, .o = 0};
    struct slot *sl = slots(state);
    unsigned version;
    uint64_t n;
    int rc;

    sl_agg_init(specs, n_specs, state);
    if (get_u8(&r, &version) != 0) {
        rc = sl_err_set(err, SL_EPARSE, "decode aggregate state: empty");
        goto fail;
    }
    if (version != SL_AGG_ENCODING_VERSION) {
        rc = sl_err_set(err, SL_EPARSE, "decode aggregate state: unknown version %u", version);
        goto fail;
    }
    if (get_varint(&r, &n) != 0 || n != n_specs) {
        rc =
            sl_err_set(err, SL_EPARSE, "decode aggregate state: made for another aggregation list");
        goto fail;
    }
    for (size_t i = 0; i < n_specs; i++) {
        struct sl_err sub = {0};
        rc = decode_slot(&r, &specs[i], &sl[i], &sub);
        if (rc == -2) {
            rc = sub.code;
            if (err)
                *err = sub;
            sl_err_prefix(err, "decode aggregate state: agg %zu (%s)", i,
                          sl_agg_name(specs[i].kind));
            goto fail;
        }
        if (rc != 0) {
            rc = sl_err_set(err, SL_EPARSE,
                            "decode aggregate state: agg %zu (%s): truncated or malformed at "
                            "byte %zu",
                            i, sl_agg_name(specs[i].kind), r.o);
            goto fail;
        }
    }
    if (r.o != len) {
        rc = sl_err_set(err, SL_EPARSE, "decode aggregate state: %zu trailing bytes", len - r.o);
        goto fail;
    }
    return SL_OK;
fail:
    sl_agg_cleanup(specs, n_specs, state);
    return rc;
}

/* ---- Combiner ---- */

#define COMBINE_STACK_SPECS 16 /* 2 x 16 x 32 = 1 KiB of stack */

int sl_agg_combine_encoded(const struct sl_agg_specs *specs, const void *v1, size_t l1,
                           const void *v2, size_t l2, struct sl_buf *out, struct sl_err *err)
{
    const struct sl_agg_spec *sp = specs->specs;
    size_t n = specs->n_specs;
    struct slot stack[2 * COMBINE_STACK_SPECS];
    struct slot *mem = stack;
    int rc;

    if (n > COMBINE_STACK_SPECS && !(mem = sl_calloc(2 * n, sizeof *mem)))
        return sl_err_set(err, SL_ENOMEM, "combine aggregate states: out of memory");
    struct sl_agg_state *a = (struct sl_agg_state *)(void *)mem;
    struct sl_agg_state *b = (struct sl_agg_state *)(void *)(mem + n);
    sl_agg_init(sp, n, b);
    if ((rc = sl_agg_decode(sp, n, v1, l1, a, err)) != SL_OK)
        goto out;
    if ((rc = sl_agg_decode(sp, n, v2, l2, b, err)) == SL_OK &&
        (rc = sl_agg_merge(sp, n, a, b, err)) == SL_OK)
        rc = sl_agg_encode(sp, n, a, out, err);
    sl_agg_cleanup(sp, n, a);
    sl_agg_cleanup(sp, n, b);
out:
    if (mem != stack)
        sl_free(mem);
    return rc;
}

int sl_agg_shuffle_combine(void *ud, const void *key, size_t klen, const void *v1, size_t l1,
                           const void *v2, size_t l2, struct sl_buf *out)
{
    struct sl_err err = {0};
    (void)key;
    (void)klen;
    return sl_agg_combine_encoded(ud, v1, l1, v2, l2, out, &err);
}
