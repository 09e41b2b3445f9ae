/*
 * runtime/exec_wide.c - the nodes that need all of their input before they
 * produce a row: group_agg, distinct, join, sort, limit and mapreduce. Each
 * consumes its input into a hash shuffle (shuffle.h; spills past the memory
 * budget) and then produces one task per shuffle partition.
 *
 * Records (key bytes -> value bytes):
 *   group_agg  sl_key_encode(keys)          -> sl_agg_encode(partial state)
 *              map side: a per-worker hash table of partial states, flushed
 *              into the shuffle when it outgrows its share of the budget and
 *              at the end of each task; the shuffle combines partials too.
 *   distinct   sl_key_encode(columns)       -> order(8) row
 *              (combiner keeps the earliest order)
 *   join       01 sl_key_encode(keys)       -> order(8) row  (one shuffle per side)
 *              00 order(8)                  -> order(8) row  (left rows with a NULL key)
 *   sort       keys (descending ones bit-inverted) order(8) -> row; 1 partition
 *   limit      order(8)                     -> row; 1 partition, <= n rows per task
 *   mapreduce  sl_key_encode(key)           -> order(8) sl_row_encode(value)
 * order(8) is the row's big-endian order (task << 32 | row in task), which
 * makes first/last, distinct, limit and value lists independent of how many
 * workers ran and of spill timing. A join partition's right side is held in
 * memory while its left side streams past it.
 */
#include "exec_internal.h"

#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "lua_sandbox.h"

#define ORDER_LEN 8

struct xwide {
    struct sl_shuffle *sh[2];
    uint32_t n_parts;
    pthread_mutex_t mu;
    bool ready;                    /* schema-dependent parts below are set */
    /* group_agg */
    struct sl_agg_spec *specs;     /* owned */
    size_t n_specs;
    struct sl_agg_specs specs_ud;
    int *key_cols;                 /* owned: group/distinct/join/sort key columns (side 0) */
    size_t n_keys;
    int *rkey_cols;                /* owned: join right keys */
    const struct sl_rschema *out;  /* interned output schema */
    int *rkeep;                    /* owned: join: right columns kept in the output */
    size_t n_rkeep;
    bool has_outofline;
    uint64_t spill, peak;
};

/* Per worker and node: map-side state of the current task. */
struct gslot {
    uint64_t hash;
    const char *key;
    uint32_t klen;
    struct sl_agg_state *state;
};

struct xwlocal {
    /* group_agg table */
    struct gslot *slots;
    size_t n_slots, n_used;
    struct sl_arena arena;
    uint64_t rows_since_check;
    /* limit */
    uint64_t limit_rows;
    /* mapreduce combine buffer */
    struct mr_pair *pairs;
    size_t n_pairs, cap_pairs;
    /* mapreduce reduce output / emit mode */
    struct xrowbuild rb;
};

struct mr_pair {
    const char *key;
    uint32_t klen;
    uint64_t order;
    const char *val;
    uint32_t vlen;
};

bool xwide_is_wide(enum sl_plan_kind k)
{
    switch (k) {
    case SL_PLAN_GROUP_AGG:
    case SL_PLAN_DISTINCT:
    case SL_PLAN_JOIN:
    case SL_PLAN_SORT:
    case SL_PLAN_LIMIT:
    case SL_PLAN_MAPREDUCE:
        return true;
    default:
        return false;
    }
}

static void put_order(unsigned char *p, uint64_t u)
{
    for (int k = 7; k >= 0; k--) {
        p[k] = (unsigned char)u;
        u >>= 8;
    }
}

static uint64_t get_order(const void *p)
{
    const unsigned char *b = p;
    uint64_t u = 0;
    for (int k = 0; k < 8; k++)
        u = u << 8 | b[k];
    return u;
}

/* Combiner for distinct: keeps the value with the earlier order. */
static int keep_first(void *ud, const void *key, size_t klen, const void *v1, size_t l1,
                      const void *v2, size_t l2, struct sl_buf *out)
{
    (void)ud;
    (void)key;
    (void)klen;
    struct sl_err e = {0};
    bool first = l1 >= ORDER_LEN && (l2 < ORDER_LEN || get_order(v1) <= get_order(v2));
    return first ? sl_buf_append(out, v1, l1, &e) : sl_buf_append(out, v2, l2, &e);
}

static uint32_t parts_of(struct xrun *r, const struct sl_plan_node *pn)
{
    switch (pn->kind) {
    case SL_PLAN_SORT:
    case SL_PLAN_LIMIT:
        return 1;
    case SL_PLAN_MAPREDUCE:
        return pn->partitions > 0 ? (uint32_t)pn->partitions : r->partitions;
    case SL_PLAN_GROUP_AGG:
        return pn->n_columns == 0 ? 1 : r->partitions;
    default:
        return r->partitions;
    }
}

int xwide_begin(struct xrun *r, int node, struct sl_err *err)
{
    const struct sl_plan_node *pn = &r->plan->nodes[node];
    struct xwide *x = sl_calloc(1, sizeof *x);
    if (!x)
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    pthread_mutex_init(&x->mu, NULL);
    r->nodes[node].wide = x;
    x->n_parts = parts_of(r, pn);
    int sides = pn->kind == SL_PLAN_JOIN ? 2 : 1;
    for (int s = 0; s < sides; s++) {
        struct sl_shuffle_opts so = {
            .n_partitions = x->n_parts,
            .memory_budget = r->o->memory_budget / (size_t)(2 * sides),
            .spill_dir = r->o->spill_dir,
            .hash_seed = 0x5eed0000u + (uint64_t)node,
        };
        if (pn->kind == SL_PLAN_GROUP_AGG) {
            so.combine = sl_agg_shuffle_combine;
            so.combine_ud = &x->specs_ud;
        } else if (pn->kind == SL_PLAN_DISTINCT) {
            so.combine = keep_first;
        }
        int rc = sl_shuffle_new(&so, &x->sh[s], err);
        if (rc != SL_OK)
            return rc;
    }
    return SL_OK;
}

void xwide_stats(struct xrun *r, int node, uint64_t *spill, uint64_t *peak);
void xwide_stats(struct xrun *r, int node, uint64_t *spill, uint64_t *peak)
{
    struct xwide *x = r->nodes[node].wide;
    *spill = x ? x->spill : 0;
    *peak = x ? x->peak : 0;
    for (int s = 0; x && s < 2; s++) {
        if (!x->sh[s])
            continue;
        struct sl_shuffle_stats st;
        sl_shuffle_get_stats(x->sh[s], &st);
        *spill += st.spill_bytes;
        if (st.peak_mem > *peak)
            *peak = st.peak_mem;
    }
}

int xwide_end(struct xrun *r, int node, struct sl_err *err)
{
    struct xwide *x = r->nodes[node].wide;
    for (int s = 0; s < 2; s++)
        if (x->sh[s]) {
            int rc = sl_shuffle_finish(x->sh[s], err);
            if (rc != SL_OK)
                return rc;
        }
    return SL_OK;
}

uint64_t xwide_n_tasks(struct xrun *r, int node)
{
    struct xwide *x = r->nodes[node].wide;
    return x ? x->n_parts : 0;
}

static void local_free(struct xwlocal *l, struct xwide *x)
{
    if (!l)
        return;
    for (size_t i = 0; x && i < l->n_slots; i++)
        if (l->slots[i].state)
            sl_agg_cleanup(x->specs, x->n_specs, l->slots[i].state);
    sl_free(l->slots);
    sl_arena_cleanup(&l->arena);
    sl_free(l->pairs);
    sl_free(l->rb.names);
    sl_free(l->rb.types);
    sl_free(l->rb.vals);
    sl_free(l);
}

void xwide_free(struct xrun *r, int node)
{
    struct xwide *x = r->nodes[node].wide;
    if (!x)
        return;
    uint64_t spill, peak;
    xwide_stats(r, node, &spill, &peak);
    x->spill = spill;
    x->peak = peak;
    for (int s = 0; s < 2; s++) {
        sl_shuffle_free(x->sh[s]);
        x->sh[s] = NULL;
    }
}

/* Frees the node's state completely (end of run). */
void xwide_destroy(struct xrun *r, int node);
void xwide_destroy(struct xrun *r, int node)
{
    struct xwide *x = r->nodes[node].wide;
    if (!x)
        return;
    xwide_free(r, node);
    sl_free(x->specs);
    sl_free(x->key_cols);
    sl_free(x->rkey_cols);
    sl_free(x->rkeep);
    pthread_mutex_destroy(&x->mu);
    sl_free(x);
    r->nodes[node].wide = NULL;
}

/* Frees the worker's map-side states of wide nodes (worker end). */
void xwide_worker_free(struct xworker *w);
void xwide_worker_free(struct xworker *w)
{
    for (size_t i = 0; w->nstate && i < w->r->plan->n_nodes; i++) {
        if (!xwide_is_wide(w->r->plan->nodes[i].kind) || !w->nstate[i])
            continue;
        local_free(w->nstate[i], w->r->nodes[i].wide);
        w->nstate[i] = NULL;
    }
}

static struct xwlocal *local_of(struct xworker *w, int node)
{
    if (!w->nstate[node]) {
        struct xwlocal *l = sl_calloc(1, sizeof *l);
        if (!l)
            return NULL;
        sl_arena_init(&l->arena, 0);
        w->nstate[node] = l;
    }
    return w->nstate[node];
}

/* ---- Schema-dependent setup (first batch) ---- */

static int find_cols(const struct sl_rschema *s, char *const *names, size_t n, int *out,
                     const char *what, struct sl_err *err)
{
    for (size_t i = 0; i < n; i++) {
        out[i] = sl_rschema_find(s, names[i], strlen(names[i]));
        if (out[i] < 0) {
            char list[256] = "";
            for (size_t c = 0; c < s->n_cols && strlen(list) < 200; c++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", c ? ", " : "",
                         s->names[c]);
            return sl_err_set(err, SL_ECONFIG, "%s: unknown column \"%s\" (columns: %s)", what,
                              names[i], list);
        }
    }
    return SL_OK;
}

static int setup_locked(struct xrun *r, int node, struct xwide *x, struct sl_err *err)
{
    const struct sl_plan_node *pn = &r->plan->nodes[node];
    const struct sl_rschema *in = atomic_load(&r->nodes[node].in[0].schema);
    const struct sl_rschema *rin = atomic_load(&r->nodes[node].in[1].schema);
    int rc = SL_OK;
    const char **names = NULL;
    enum sl_vtype *types = NULL;

    if (!in)
        return SL_OK; /* no rows yet (join: no left rows, so no output) */
    if (pn->kind == SL_PLAN_JOIN && !rin && pn->how == SL_PLAN_JOIN_INNER)
        return SL_OK; /* no right rows: an inner join has no output */
    size_t nk = pn->kind == SL_PLAN_JOIN ? pn->n_pairs
              : pn->kind == SL_PLAN_SORT ? pn->n_sort_keys
              : pn->kind == SL_PLAN_DISTINCT && pn->n_columns == 0 ? in->n_cols
                                                                   : pn->n_columns;
    if (!x->key_cols) /* a join's consumers may have set it */
        x->key_cols = sl_calloc(nk ? nk : 1, sizeof *x->key_cols);
    size_t cap = in->n_cols + (rin ? rin->n_cols : 0) + pn->n_aggs + pn->n_out + 2;
    names = sl_calloc(cap, sizeof *names);
    types = sl_calloc(cap, sizeof *types);
    if (!x->key_cols || !names || !types) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto out;
    }
    x->n_keys = nk;
    size_t n = 0;
    switch (pn->kind) {
    case SL_PLAN_GROUP_AGG:
        rc = find_cols(in, pn->columns, nk, x->key_cols, "group_by", err);
        if (rc != SL_OK)
            break;
        x->specs = sl_calloc(pn->n_aggs ? pn->n_aggs : 1, sizeof *x->specs);
        if (!x->specs) {
            rc = sl_err_set(err, SL_ENOMEM, "out of memory");
            break;
        }
        x->n_specs = pn->n_aggs;
        for (size_t i = 0; rc == SL_OK && i < pn->n_aggs; i++) {
            x->specs[i].kind = pn->aggs[i].kind;
            x->specs[i].col = -1;
            if (pn->aggs[i].column) {
                rc = find_cols(in, &pn->aggs[i].column, 1, &x->specs[i].col, "agg", err);
                if (rc == SL_OK) {
                    x->specs[i].in_type = in->types[x->specs[i].col];
                    enum sl_agg_kind k = x->specs[i].kind;
                    if (k == SL_AGG_COUNT_DISTINCT ||
                        ((k == SL_AGG_MIN || k == SL_AGG_MAX || k == SL_AGG_FIRST ||
                          k == SL_AGG_LAST) &&
                         (x->specs[i].in_type == SL_V_STRING || x->specs[i].in_type == SL_V_JSON ||
                          x->specs[i].in_type == SL_V_BINARY)))
                        x->has_outofline = true;
                    /* a column that only held NULLs so far: aggregate it as a double */
                    if (x->specs[i].in_type == SL_V_NULL)
                        x->specs[i].in_type = SL_V_DOUBLE;
                }
            }
        }
        if (rc == SL_OK)
            rc = sl_agg_check(x->specs, x->n_specs, in->n_cols, err);
        x->specs_ud.specs = x->specs;
        x->specs_ud.n_specs = x->n_specs;
        for (size_t i = 0; rc == SL_OK && i < nk; i++) {
            names[n] = in->names[x->key_cols[i]];
            types[n++] = in->types[x->key_cols[i]];
        }
        for (size_t i = 0; rc == SL_OK && i < pn->n_aggs; i++) {
            names[n] = pn->aggs[i].name;
            types[n++] = sl_agg_out_type(&x->specs[i]);
        }
        break;
    case SL_PLAN_DISTINCT:
        if (pn->n_columns)
            rc = find_cols(in, pn->columns, nk, x->key_cols, "distinct", err);
        else
            for (size_t i = 0; i < nk; i++)
                x->key_cols[i] = (int)i;
        for (size_t c = 0; c < in->n_cols; c++) {
            names[n] = in->names[c];
            types[n++] = in->types[c];
        }
        break;
    case SL_PLAN_SORT:
        for (size_t i = 0; rc == SL_OK && i < nk; i++)
            rc = find_cols(in, &pn->sort_keys[i].column, 1, &x->key_cols[i], "sort", err);
        /* fall through */
    case SL_PLAN_LIMIT:
        for (size_t c = 0; c < in->n_cols; c++) {
            names[n] = in->names[c];
            types[n++] = in->types[c];
        }
        break;
    case SL_PLAN_JOIN: {
        for (size_t c = 0; c < in->n_cols; c++) {
            names[n] = in->names[c];
            types[n++] = in->types[c];
        }
        if (!rin) { /* left join, no right rows: the right columns the plan knows, NULL */
            for (size_t c = in->n_cols; pn->out_known && c < pn->n_out; c++) {
                names[n] = pn->out[c];
                types[n++] = SL_V_NULL;
            }
            x->n_rkeep = n - in->n_cols;
            break;
        }
        if (!x->rkey_cols)
            x->rkey_cols = sl_calloc(nk ? nk : 1, sizeof *x->rkey_cols);
        x->rkeep = sl_calloc(rin->n_cols ? rin->n_cols : 1, sizeof *x->rkeep);
        if (!x->rkey_cols || !x->rkeep) {
            rc = sl_err_set(err, SL_ENOMEM, "out of memory");
            break;
        }
        for (size_t i = 0; rc == SL_OK && i < nk; i++) {
            rc = find_cols(in, &pn->pairs[i].key, 1, &x->key_cols[i], "join (left)", err);
            if (rc == SL_OK)
                rc = find_cols(rin, &pn->pairs[i].value, 1, &x->rkey_cols[i], "join (right)",
                               err);
        }
        for (size_t c = 0; rc == SL_OK && c < rin->n_cols; c++) {
            bool same_key = false;
            for (size_t i = 0; i < nk; i++)
                same_key |= x->rkey_cols[i] == (int)c &&
                            strcmp(pn->pairs[i].key, pn->pairs[i].value) == 0;
            if (same_key)
                continue;
            if (sl_rschema_find(in, rin->names[c], strlen(rin->names[c])) >= 0) {
                rc = sl_err_set(err, SL_ECONFIG,
                                "join: column \"%s\" is on both sides: rename one first",
                                rin->names[c]);
                break;
            }
            x->rkeep[x->n_rkeep++] = (int)c;
            names[n] = rin->names[c];
            types[n++] = rin->types[c];
        }
        break;
    }
    case SL_PLAN_MAPREDUCE:
        break;
    default:
        rc = sl_err_set(err, SL_EINTERNAL, "not a wide node");
    }
    if (rc == SL_OK && pn->kind != SL_PLAN_MAPREDUCE) {
        x->out = xschema_intern(r, names, types, n);
        if (!x->out)
            rc = sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    if (rc == SL_OK)
        x->ready = true;
out:
    sl_free(names);
    sl_free(types);
    if (rc != SL_OK)
        sl_err_prefix(err, "node %d %s (line %d)", node, sl_plan_kind_name(pn->kind), pn->line);
    return rc;
}

static int ensure_ready(struct xrun *r, int node, struct xwide *x, struct sl_err *err)
{
    if (__atomic_load_n(&x->ready, __ATOMIC_ACQUIRE))
        return SL_OK;
    pthread_mutex_lock(&x->mu);
    int rc = x->ready ? SL_OK : setup_locked(r, node, x, err);
    pthread_mutex_unlock(&x->mu);
    return rc;
}

/* ---- Consumers ---- */

static uint64_t next_order(struct xworker *w)
{
    return w->task << 32 | (w->row_seq++ & 0xffffffffu);
}

static int shuffle_add(struct xworker *w, struct sl_shuffle *sh, struct sl_buf *k, struct sl_buf *v,
                       struct sl_err *err)
{
    (void)w;
    return sl_shuffle_add(sh, k->data ? k->data : "", k->len, v->data ? v->data : "", v->len,
                          err);
}

static size_t local_bytes(struct xwlocal *l, struct xwide *x)
{
    size_t b = l->arena.used + l->n_slots * sizeof(struct gslot);
    if (x->has_outofline)
        for (size_t i = 0; i < l->n_slots; i++)
            if (l->slots[i].state)
                b += sl_agg_state_bytes(x->specs, x->n_specs, l->slots[i].state);
    return b;
}

static int group_flush(struct xworker *w, struct xwide *x, struct xwlocal *l, struct sl_err *err)
{
    int rc = SL_OK;
    for (size_t i = 0; i < l->n_slots; i++) {
        struct gslot *s = &l->slots[i];
        if (!s->state)
            continue;
        if (rc == SL_OK) {
            sl_buf_reset(&w->vbuf);
            rc = sl_agg_encode(x->specs, x->n_specs, s->state, &w->vbuf, err);
            if (rc == SL_OK)
                rc = sl_shuffle_add(x->sh[0], s->key, s->klen, w->vbuf.data, w->vbuf.len, err);
        }
        sl_agg_cleanup(x->specs, x->n_specs, s->state);
        s->state = NULL;
    }
    l->n_used = 0;
    sl_arena_reset(&l->arena);
    return rc;
}

static int group_grow(struct xwlocal *l, struct sl_err *err)
{
    size_t n = l->n_slots ? l->n_slots * 2 : 1024;
    struct gslot *ns = sl_calloc(n, sizeof *ns);
    if (!ns)
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    for (size_t i = 0; i < l->n_slots; i++) {
        struct gslot *s = &l->slots[i];
        if (!s->state)
            continue;
        size_t j = s->hash & (n - 1);
        while (ns[j].state)
            j = (j + 1) & (n - 1);
        ns[j] = *s;
    }
    sl_free(l->slots);
    l->slots = ns;
    l->n_slots = n;
    return SL_OK;
}

static int consume_group(struct xworker *w, int node, struct xwide *x, struct sl_batch *b,
                         struct sl_err *err)
{
    struct xwlocal *l = local_of(w, node);
    struct sl_value keyv[64];
    size_t state_size = sl_agg_state_size(x->n_specs);
    int rc = SL_OK;

    if (!l)
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    if (x->n_keys > 64)
        return sl_err_set(err, SL_ELIMIT, "group_by: at most 64 keys");
    for (uint32_t i = 0; rc == SL_OK && i < b->n_rows; i++) {
        const struct sl_value *row = sl_batch_row(b, i);
        uint64_t order = next_order(w);
        for (size_t k = 0; k < x->n_keys; k++)
            keyv[k] = row[x->key_cols[k]];
        sl_buf_reset(&w->kbuf);
        if ((rc = sl_key_encode(keyv, x->n_keys, &w->kbuf, err)) != SL_OK)
            break;
        const char *kp = w->kbuf.data ? w->kbuf.data : "";
        uint64_t h = sl_shuffle_hash(17, kp, w->kbuf.len);
        if (l->n_used * 2 >= l->n_slots && (rc = group_grow(l, err)) != SL_OK)
            break;
        size_t j = h & (l->n_slots - 1);
        struct gslot *s;
        for (;;) {
            s = &l->slots[j];
            if (!s->state || (s->hash == h && s->klen == w->kbuf.len &&
                              memcmp(s->key, kp, s->klen) == 0))
                break;
            j = (j + 1) & (l->n_slots - 1);
        }
        if (!s->state) {
            char *kc = sl_arena_alloc(&l->arena, w->kbuf.len ? w->kbuf.len : 1);
            struct sl_agg_state *st = sl_arena_alloc(&l->arena, state_size ? state_size : 8);
            if (!kc || !st) {
                rc = sl_err_set(err, SL_ENOMEM, "out of memory");
                break;
            }
            memcpy(kc, kp, w->kbuf.len);
            sl_agg_init(x->specs, x->n_specs, st);
            s->hash = h;
            s->key = kc;
            s->klen = (uint32_t)w->kbuf.len;
            s->state = st;
            l->n_used++;
        }
        struct sl_err e = {0};
        rc = sl_agg_update(x->specs, x->n_specs, s->state, row, order, &e);
        if (rc == SL_EPARSE) {
            rc = xrun_bad_row(w->r, node, b->origins[i].object, b->origins[i].line, 0, e.msg,
                              NULL, 0, err);
        } else if (rc != SL_OK) {
            *err = e;
        }
        if (rc == SL_OK && ++l->rows_since_check >= 4096) {
            l->rows_since_check = 0;
            if (local_bytes(l, x) > w->r->local_budget)
                rc = group_flush(w, x, l, err);
        }
    }
    return rc;
}

static int consume_rows(struct xworker *w, int node, int side, struct xwide *x, struct sl_batch *b,
                        struct sl_err *err)
{
    const struct sl_plan_node *pn = &w->r->plan->nodes[node];
    struct sl_value keyv[64];
    size_t n_cols = b->schema->n_cols;
    struct xwlocal *l = NULL;
    int rc = SL_OK;

    if (x->n_keys > 64)
        return sl_err_set(err, SL_ELIMIT, "%s: at most 64 keys", sl_plan_kind_name(pn->kind));
    if (pn->kind == SL_PLAN_LIMIT && !(l = local_of(w, node)))
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    for (uint32_t i = 0; rc == SL_OK && i < b->n_rows; i++) {
        const struct sl_value *row = sl_batch_row(b, i);
        uint64_t order = next_order(w);
        unsigned char ob[ORDER_LEN];
        put_order(ob, order);
        sl_buf_reset(&w->kbuf);
        sl_buf_reset(&w->vbuf);
        switch (pn->kind) {
        case SL_PLAN_DISTINCT:
            for (size_t k = 0; k < x->n_keys; k++)
                keyv[k] = row[x->key_cols[k]];
            rc = sl_key_encode(keyv, x->n_keys, &w->kbuf, err);
            break;
        case SL_PLAN_JOIN: {
            const int *kc = side ? x->rkey_cols : x->key_cols;
            bool null_key = false;
            for (size_t k = 0; k < x->n_keys; k++) {
                keyv[k] = row[kc[k]];
                null_key |= keyv[k].type == SL_V_NULL;
            }
            if (null_key && side == 1)
                continue; /* never matches */
            if (null_key) {
                rc = sl_buf_putc(&w->kbuf, 0, err);
                if (rc == SL_OK)
                    rc = sl_buf_append(&w->kbuf, ob, ORDER_LEN, err);
            } else {
                rc = sl_buf_putc(&w->kbuf, 1, err);
                if (rc == SL_OK)
                    rc = sl_key_encode(keyv, x->n_keys, &w->kbuf, err);
            }
            break;
        }
        case SL_PLAN_SORT:
            for (size_t k = 0; rc == SL_OK && k < x->n_keys; k++) {
                size_t at = w->kbuf.len;
                rc = sl_key_encode(&row[x->key_cols[k]], 1, &w->kbuf, err);
                if (rc == SL_OK && pn->sort_keys[k].desc)
                    for (size_t j = at; j < w->kbuf.len; j++)
                        w->kbuf.data[j] = (char)~(unsigned char)w->kbuf.data[j];
            }
            if (rc == SL_OK)
                rc = sl_buf_append(&w->kbuf, ob, ORDER_LEN, err);
            break;
        case SL_PLAN_LIMIT:
            if (l->limit_rows >= (uint64_t)pn->limit)
                continue;
            l->limit_rows++;
            rc = sl_buf_append(&w->kbuf, ob, ORDER_LEN, err);
            break;
        default:
            rc = sl_err_set(err, SL_EINTERNAL, "consume_rows: %s", sl_plan_kind_name(pn->kind));
        }
        if (rc == SL_OK && pn->kind != SL_PLAN_SORT && pn->kind != SL_PLAN_LIMIT)
            rc = sl_buf_append(&w->vbuf, ob, ORDER_LEN, err);
        if (rc == SL_OK)
            rc = sl_row_encode(row, n_cols, &w->vbuf, err);
        if (rc == SL_OK)
            rc = shuffle_add(w, x->sh[side], &w->kbuf, &w->vbuf, err);
    }
    return rc;
}

/* ---- mapreduce: emit ---- */

enum mr_mode { MR_MAP, MR_COMBINE, MR_REDUCE };

struct mr_ctx {
    struct xworker *w;
    int node;
    struct xwide *x;
    struct xwlocal *l;
    enum mr_mode mode;
    uint64_t order;          /* of the row being mapped / the key being combined */
    const struct sl_row_origin *origin;
    bool combine;            /* the node has a combiner: map emits are buffered */
};

static int mr_add(struct mr_ctx *c, const struct sl_value *k, const struct sl_value *v,
                  struct sl_err *err)
{
    struct xworker *w = c->w;
    unsigned char ob[ORDER_LEN];
    put_order(ob, c->order);
    sl_buf_reset(&w->kbuf);
    sl_buf_reset(&w->vbuf);
    int rc = sl_key_encode(k, 1, &w->kbuf, err);
    if (rc == SL_OK)
        rc = sl_buf_append(&w->vbuf, ob, ORDER_LEN, err);
    if (rc == SL_OK)
        rc = sl_row_encode(v, 1, &w->vbuf, err);
    if (rc != SL_OK)
        return rc;
    if (c->mode == MR_MAP && c->combine) {
        struct xwlocal *l = c->l;
        if (l->n_pairs == l->cap_pairs) {
            size_t cap = l->cap_pairs ? l->cap_pairs * 2 : 4096;
            struct mr_pair *p = sl_realloc(l->pairs, cap * sizeof *p);
            if (!p)
                return sl_err_set(err, SL_ENOMEM, "out of memory");
            l->pairs = p;
            l->cap_pairs = cap;
        }
        char *kc = sl_arena_alloc(&l->arena, w->kbuf.len + w->vbuf.len + 1);
        if (!kc)
            return sl_err_set(err, SL_ENOMEM, "out of memory");
        memcpy(kc, w->kbuf.data, w->kbuf.len);
        memcpy(kc + w->kbuf.len, w->vbuf.data, w->vbuf.len);
        l->pairs[l->n_pairs++] = (struct mr_pair){kc, (uint32_t)w->kbuf.len, c->order,
                                                   kc + w->kbuf.len, (uint32_t)w->vbuf.len};
        return SL_OK;
    }
    return shuffle_add(w, c->x->sh[0], &w->kbuf, &w->vbuf, err);
}

static int l_emit(lua_State *L)
{
    struct xworker *w = lua_touserdata(L, lua_upvalueindex(1));
    struct mr_ctx *c = w->emit_ctx;
    struct sl_value k, v;
    const char *why = NULL;

    if (!c)
        return luaL_error(L, "emit called outside map, combine or reduce");
    if (!xlua_to_value(L, 1, NULL, &k, &why))
        return luaL_error(L, "emit: the key cannot be %s", why);
    if (!xlua_to_value(L, 2, NULL, &v, &why))
        return luaL_error(L, "emit: the value cannot be %s (use numbers, strings, booleans)",
                          why);
    int rc;
    if (c->mode == MR_REDUCE) {
        const struct sl_plan_node *pn = &w->r->plan->nodes[c->node];
        struct xrowbuild *rb = &c->l->rb;
        rc = xrb_begin(w, rb, 2, &w->emit_err);
        if (rc == SL_OK) {
            rb->names[0] = pn->n_columns > 0 ? pn->columns[0] : "key";
            rb->names[1] = pn->n_columns > 1 ? pn->columns[1] : "value";
            rb->vals[0] = k;
            rb->vals[1] = v;
            rc = xrb_commit(w, rb, c->origin, &w->emit_err);
            if (rc == SL_OK)
                atomic_fetch_add(&w->r->nodes[c->node].rows_out, 1);
        }
    } else {
        rc = mr_add(c, &k, &v, &w->emit_err);
    }
    if (rc != SL_OK) {
        if (w->emit_err.code == SL_OK)
            w->emit_err.code = rc;
        return luaL_error(L, "emit: %s", w->emit_err.msg);
    }
    return 0;
}

static int push_emit(struct xworker *w)
{
    lua_State *L = w->L;
    if (w->emit_ref == LUA_NOREF) {
        if (!lua_checkstack(L, 2))
            return SL_ENOMEM;
        lua_pushlightuserdata(L, w);
        lua_pushcclosure(L, l_emit, 1);
        w->emit_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, w->emit_ref);
    return SL_OK;
}

/* After a Lua call through emit: a fatal emit error wins over the script error. */
static int mr_call(struct xworker *w, int node, const struct sl_plan_fn *fn, int nargs,
                   const char *object, int64_t line, struct sl_err *err)
{
    struct sl_err e = {0};
    memset(&w->emit_err, 0, sizeof w->emit_err);
    int rc = sl_plan_state_call_slot(w->ps, fn->slot, nargs, 0, &e);
    if (w->emit_err.code != SL_OK && w->emit_err.code != SL_EPARSE) {
        *err = w->emit_err;
        return err->code;
    }
    if (rc == SL_OK)
        return SL_OK;
    if (rc != SL_ESCRIPT) {
        *err = e;
        return rc;
    }
    char reason[512];
    xfirst_line(e.msg, reason, sizeof reason);
    return xrun_bad_row(w->r, node, object, line, 0, reason, NULL, 0, err);
}

static int cmp_pairs(const void *a, const void *b)
{
    const struct mr_pair *x = a, *y = b;
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    int c = memcmp(x->key, y->key, n);
    if (c)
        return c;
    if (x->klen != y->klen)
        return x->klen < y->klen ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* Pushes the Lua value of an encoded single value (order(8) + row encoding). */
static int push_encoded_value(struct xworker *w, const char *p, size_t len, bool keyenc,
                              struct sl_err *err)
{
    struct sl_value v;
    sl_arena_reset(&w->scratch);
    int rc = keyenc ? sl_key_decode(p, len, 1, &w->scratch, &v, err)
                    : sl_row_decode(p + ORDER_LEN, len - ORDER_LEN, 1, &w->scratch, &v, err);
    if (rc != SL_OK)
        return rc;
    sl_lua_push_value(w->L, &v);
    return SL_OK;
}

/* Runs the combiner over the buffered map output and adds its emits. */
static int mr_combine_flush(struct xworker *w, int node, struct mr_ctx *c, struct sl_err *err)
{
    const struct sl_plan_node *pn = &w->r->plan->nodes[node];
    struct xwlocal *l = c->l;
    lua_State *L = w->L;
    int rc = SL_OK;

    if (l->n_pairs > 1)
        qsort(l->pairs, l->n_pairs, sizeof *l->pairs, cmp_pairs);
    c->mode = MR_COMBINE;
    for (size_t i = 0; rc == SL_OK && i < l->n_pairs;) {
        size_t j = i;
        while (j < l->n_pairs && l->pairs[j].klen == l->pairs[i].klen &&
               memcmp(l->pairs[j].key, l->pairs[i].key, l->pairs[i].klen) == 0)
            j++;
        c->order = l->pairs[i].order;
        if (!lua_checkstack(L, 4))
            return sl_err_set(err, SL_ENOMEM, "out of memory");
        rc = push_encoded_value(w, l->pairs[i].key, l->pairs[i].klen, true, err);
        if (rc == SL_OK) {
            lua_createtable(L, (int)(j - i), 0);
            for (size_t k = i; rc == SL_OK && k < j; k++) {
                rc = push_encoded_value(w, l->pairs[k].val, l->pairs[k].vlen, false, err);
                if (rc == SL_OK)
                    lua_rawseti(L, -2, (lua_Integer)(k - i + 1));
            }
        }
        if (rc == SL_OK && (rc = push_emit(w)) == SL_OK)
            rc = mr_call(w, node, &pn->combine, 3, NULL, 0, err);
        else
            lua_settop(L, 0);
        i = j;
    }
    c->mode = MR_MAP;
    l->n_pairs = 0;
    sl_arena_reset(&l->arena);
    return rc;
}

static int consume_mapreduce(struct xworker *w, int node, struct xwide *x, struct sl_batch *b,
                             struct sl_err *err)
{
    const struct sl_plan_node *pn = &w->r->plan->nodes[node];
    struct xwlocal *l = local_of(w, node);
    int rc = SL_OK;

    if (!l)
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    struct mr_ctx c = {.w = w, .node = node, .x = x, .l = l, .mode = MR_MAP,
                       .combine = pn->combine.slot >= 0};
    w->emit_ctx = &c;
    for (uint32_t i = 0; rc == SL_OK && i < b->n_rows; i++) {
        c.order = next_order(w);
        c.origin = &b->origins[i];
        sl_lua_push_row(w->L, b, i);
        if ((rc = push_emit(w)) != SL_OK) {
            rc = sl_err_set(err, SL_ENOMEM, "out of memory");
            break;
        }
        rc = mr_call(w, node, &pn->fn, 2, b->origins[i].object, b->origins[i].line, err);
        if (rc == SL_OK && c.combine && l->arena.used > w->r->local_budget)
            rc = mr_combine_flush(w, node, &c, err);
    }
    w->emit_ctx = NULL;
    return rc;
}

int xwide_consume(struct xworker *w, int node, int side, struct sl_batch *b, struct sl_err *err)
{
    struct xwide *x = w->r->nodes[node].wide;
    const struct sl_plan_node *pn = &w->r->plan->nodes[node];
    int rc;

    if (pn->kind == SL_PLAN_MAPREDUCE)
        return consume_mapreduce(w, node, x, b, err);
    if (pn->kind == SL_PLAN_JOIN) {
        /* the key columns of this side are all we need before output time */
        const struct sl_rschema *s = b->schema;
        int *kc = side ? x->rkey_cols : x->key_cols;
        if (!kc) {
            pthread_mutex_lock(&x->mu);
            int **slot = side ? &x->rkey_cols : &x->key_cols;
            if (!*slot) {
                int *cols = sl_calloc(pn->n_pairs ? pn->n_pairs : 1, sizeof *cols);
                rc = cols ? SL_OK : sl_err_set(err, SL_ENOMEM, "out of memory");
                for (size_t i = 0; rc == SL_OK && i < pn->n_pairs; i++)
                    rc = find_cols(s, side ? &pn->pairs[i].value : &pn->pairs[i].key, 1, &cols[i],
                                   side ? "join (right)" : "join (left)", err);
                if (rc == SL_OK) {
                    x->n_keys = pn->n_pairs;
                    *slot = cols;
                } else {
                    sl_free(cols);
                    sl_err_prefix(err, "node %d join (line %d)", node, pn->line);
                }
            } else {
                rc = SL_OK;
            }
            pthread_mutex_unlock(&x->mu);
            if (rc != SL_OK)
                return rc;
        }
        return consume_rows(w, node, side, x, b, err);
    }
    if ((rc = ensure_ready(w->r, node, x, err)) != SL_OK)
        return rc;
    if (pn->kind == SL_PLAN_GROUP_AGG)
        return consume_group(w, node, x, b, err);
    return consume_rows(w, node, side, x, b, err);
}

int xwide_task_end(struct xworker *w, int node, int side, struct sl_err *err)
{
    (void)side;
    struct xwide *x = w->r->nodes[node].wide;
    struct xwlocal *l = w->nstate[node];
    const struct sl_plan_node *pn = &w->r->plan->nodes[node];
    int rc = SL_OK;

    if (!l)
        return SL_OK;
    if (pn->kind == SL_PLAN_GROUP_AGG)
        rc = group_flush(w, x, l, err);
    else if (pn->kind == SL_PLAN_LIMIT)
        l->limit_rows = 0;
    else if (pn->kind == SL_PLAN_MAPREDUCE && l->n_pairs) {
        struct mr_ctx c = {.w = w, .node = node, .x = x, .l = l, .mode = MR_MAP, .combine = true};
        w->emit_ctx = &c;
        rc = mr_combine_flush(w, node, &c, err);
        w->emit_ctx = NULL;
    }
    return rc;
}

/* ---- Producers: one task per partition ---- */

struct out_ctx {
    struct xworker *w;
    int node;
    struct xwide *x;
    struct sl_batch *b;       /* output batch */
    struct sl_agg_state *acc, *tmp;
    int64_t left;             /* limit: rows still to emit */
    /* join: right side of the partition */
    struct jentry *jt;
    size_t jt_slots;
    struct sl_arena jarena;
    const struct sl_rschema *rin;
};

/* Returns a row to fill (pushing a full batch first). */
static struct sl_value *out_row(struct out_ctx *c, struct sl_err *err, int *rc)
{
    struct sl_value *row = sl_batch_add_row(c->b, NULL);
    if (row)
        return row;
    atomic_fetch_add(&c->w->r->nodes[c->node].rows_out, c->b->n_rows);
    *rc = xpush(c->w, 0, c->b, err);
    sl_batch_reset(c->b);
    if (*rc != SL_OK)
        return NULL;
    row = sl_batch_add_row(c->b, NULL);
    if (!row)
        *rc = sl_err_set(err, SL_ELIMIT, "a row larger than a batch");
    return row;
}

static int out_flush(struct out_ctx *c, struct sl_err *err)
{
    if (!c->b || c->b->n_rows == 0)
        return SL_OK;
    atomic_fetch_add(&c->w->r->nodes[c->node].rows_out, c->b->n_rows);
    int rc = xpush(c->w, 0, c->b, err);
    sl_batch_reset(c->b);
    return rc;
}

static int group_out(void *ud, const void *key, size_t klen, struct sl_shuffle_values *vals,
                     struct sl_err *err)
{
    struct out_ctx *c = ud;
    struct xwide *x = c->x;
    const void *v;
    size_t vlen;
    int rc, got, n = 0;

    sl_agg_init(x->specs, x->n_specs, c->acc);
    while ((got = sl_shuffle_values_next(vals, &v, &vlen, err)) > 0) {
        if ((rc = sl_agg_decode(x->specs, x->n_specs, v, vlen, c->tmp, err)) != SL_OK)
            goto fail;
        rc = sl_agg_merge(x->specs, x->n_specs, c->acc, c->tmp, err);
        sl_agg_cleanup(x->specs, x->n_specs, c->tmp);
        if (rc != SL_OK)
            goto fail;
        n++;
    }
    if (got < 0) {
        rc = got;
        goto fail;
    }
    struct sl_value *row = out_row(c, err, &rc);
    if (!row)
        goto fail;
    rc = sl_key_decode(key, klen, x->n_keys, &c->b->arena, row, err);
    if (rc == SL_OK)
        rc = sl_agg_finish(x->specs, x->n_specs, c->acc, row + x->n_keys, &c->b->arena, err);
    if (rc == SL_EPARSE) { /* e.g. an integer sum past bigint: the group is a bad row */
        c->b->n_rows--;
        char reason[600];
        snprintf(reason, sizeof reason, "group_by: %s", err->msg);
        rc = xrun_bad_row(c->w->r, c->node, NULL, 0, 0, reason, NULL, 0, err);
    }
fail:
    sl_agg_cleanup(x->specs, x->n_specs, c->acc);
    return rc;
}

static int rows_out(void *ud, const void *key, size_t klen, struct sl_shuffle_values *vals,
                    struct sl_err *err)
{
    struct out_ctx *c = ud;
    const struct sl_plan_node *pn = &c->w->r->plan->nodes[c->node];
    const void *v, *best = NULL;
    size_t vlen, best_len = 0;
    int got, rc = SL_OK;
    bool with_order = pn->kind == SL_PLAN_DISTINCT;
    (void)key;
    (void)klen;

    while ((got = sl_shuffle_values_next(vals, &v, &vlen, err)) > 0) {
        if (pn->kind == SL_PLAN_DISTINCT) {
            if (vlen < ORDER_LEN)
                return sl_err_set(err, SL_EPARSE, "distinct: short record");
            if (!best || get_order(v) < get_order(best)) {
                /* values are borrowed until the next call: keep a copy */
                sl_buf_reset(&c->w->tbuf);
                if ((rc = sl_buf_append(&c->w->tbuf, v, vlen, err)) != SL_OK)
                    return rc;
                best = c->w->tbuf.data;
                best_len = vlen;
            }
            continue;
        }
        if (pn->kind == SL_PLAN_LIMIT && c->left-- <= 0)
            continue;
        struct sl_value *row = out_row(c, err, &rc);
        if (!row)
            return rc;
        rc = sl_row_decode(v, vlen, c->b->schema->n_cols, &c->b->arena, row, err);
        if (rc != SL_OK)
            return rc;
    }
    if (got < 0)
        return got;
    if (best) {
        struct sl_value *row = out_row(c, err, &rc);
        if (!row)
            return rc;
        rc = sl_row_decode((const char *)best + (with_order ? ORDER_LEN : 0),
                           best_len - (with_order ? ORDER_LEN : 0), c->b->schema->n_cols,
                           &c->b->arena, row, err);
    }
    return rc;
}

/* ---- join output ---- */

struct jval {
    uint64_t order;
    const char *row;
    uint32_t len;
};

struct jentry {
    const char *key; /* NULL = empty slot */
    uint32_t klen;
    uint64_t hash;
    struct jval *vals;
    size_t n_vals;
};

static int cmp_jval(const void *a, const void *b)
{
    const struct jval *x = a, *y = b;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* Collects the values of one key, copied into arena, sorted by order. */
static int collect(struct sl_shuffle_values *vals, struct sl_arena *arena, struct jval **out,
                   size_t *n_out, struct sl_err *err)
{
    struct jval *v = NULL;
    size_t n = 0, cap = 0;
    const void *p;
    size_t len;
    int got;
    while ((got = sl_shuffle_values_next(vals, &p, &len, err)) > 0) {
        if (len < ORDER_LEN) {
            sl_free(v);
            return sl_err_set(err, SL_EPARSE, "join: short record");
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 4;
            struct jval *nv = sl_realloc(v, cap * sizeof *nv);
            if (!nv) {
                sl_free(v);
                return sl_err_set(err, SL_ENOMEM, "out of memory");
            }
            v = nv;
        }
        char *copy = sl_arena_alloc(arena, len);
        if (!copy) {
            sl_free(v);
            return sl_err_set(err, SL_ENOMEM, "out of memory");
        }
        memcpy(copy, p, len);
        v[n].order = get_order(copy);
        v[n].row = copy + ORDER_LEN;
        v[n].len = (uint32_t)(len - ORDER_LEN);
        n++;
    }
    if (got < 0) {
        sl_free(v);
        return got;
    }
    if (n > 1)
        qsort(v, n, sizeof *v, cmp_jval);
    *out = v;
    *n_out = n;
    return SL_OK;
}

static int jright_in(void *ud, const void *key, size_t klen, struct sl_shuffle_values *vals,
                     struct sl_err *err)
{
    struct out_ctx *c = ud;
    struct jval *v;
    size_t n;
    int rc = collect(vals, &c->jarena, &v, &n, err);
    if (rc != SL_OK)
        return rc;
    if (c->jt_slots == 0 || n == 0) {
        sl_free(v);
        return SL_OK;
    }
    uint64_t h = sl_shuffle_hash(3, key, klen);
    size_t j = h & (c->jt_slots - 1);
    while (c->jt[j].key)
        j = (j + 1) & (c->jt_slots - 1);
    char *kc = sl_arena_alloc(&c->jarena, klen ? klen : 1);
    if (!kc) {
        sl_free(v);
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    memcpy(kc, key, klen);
    c->jt[j] = (struct jentry){kc, (uint32_t)klen, h, v, n};
    return SL_OK;
}

static int count_keys(void *ud, const void *key, size_t klen, struct sl_shuffle_values *vals,
                      struct sl_err *err)
{
    (void)key;
    (void)klen;
    (void)vals;
    (void)err;
    (*(size_t *)ud)++;
    return SL_OK;
}

static int jleft_out(void *ud, const void *key, size_t klen, struct sl_shuffle_values *vals,
                     struct sl_err *err)
{
    struct out_ctx *c = ud;
    struct xwide *x = c->x;
    const struct sl_plan_node *pn = &c->w->r->plan->nodes[c->node];
    const struct sl_rschema *lin = atomic_load(&c->w->r->nodes[c->node].in[0].schema);
    struct jval *lv;
    size_t nl;
    struct sl_arena tmp;
    sl_arena_init(&tmp, 0);
    int rc = collect(vals, &tmp, &lv, &nl, err);
    if (rc != SL_OK) {
        sl_arena_cleanup(&tmp);
        return rc;
    }
    struct jentry *m = NULL;
    if (c->jt_slots && klen > 0 && ((const char *)key)[0] == 1) {
        uint64_t h = sl_shuffle_hash(3, key, klen);
        size_t j = h & (c->jt_slots - 1);
        while (c->jt[j].key) {
            if (c->jt[j].hash == h && c->jt[j].klen == klen && memcmp(c->jt[j].key, key, klen) == 0) {
                m = &c->jt[j];
                break;
            }
            j = (j + 1) & (c->jt_slots - 1);
        }
    }
    size_t nlc = lin->n_cols;
    struct sl_value rvals[4096];
    for (size_t i = 0; rc == SL_OK && i < nl; i++) {
        size_t nr = m ? m->n_vals : (pn->how == SL_PLAN_JOIN_LEFT ? 1 : 0);
        for (size_t k = 0; rc == SL_OK && k < nr; k++) {
            struct sl_value *row = out_row(c, err, &rc);
            if (!row)
                break;
            rc = sl_row_decode(lv[i].row, lv[i].len, nlc, &c->b->arena, row, err);
            if (rc != SL_OK)
                break;
            if (!m) {
                for (size_t j = 0; j < x->n_rkeep; j++)
                    row[nlc + j].type = SL_V_NULL;
                continue;
            }
            if (!c->rin || c->rin->n_cols > sizeof rvals / sizeof rvals[0]) {
                rc = sl_err_set(err, SL_ELIMIT, "join: too many columns");
                break;
            }
            rc = sl_row_decode(m->vals[k].row, m->vals[k].len, c->rin->n_cols, &c->b->arena,
                               rvals, err);
            for (size_t j = 0; rc == SL_OK && j < x->n_rkeep; j++)
                row[nlc + j] = rvals[x->rkeep[j]];
        }
    }
    sl_free(lv);
    sl_arena_cleanup(&tmp);
    return rc;
}

static int run_join(struct out_ctx *c, uint32_t p, struct sl_err *err)
{
    struct xwide *x = c->x;
    size_t n_keys = 0;
    int rc = sl_shuffle_partition_iter(x->sh[1], p, count_keys, &n_keys, err);
    if (rc != SL_OK)
        return rc;
    size_t slots = 16;
    while (slots < n_keys * 2 + 2)
        slots *= 2;
    c->jt = sl_calloc(slots, sizeof *c->jt);
    if (!c->jt)
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    c->jt_slots = slots;
    sl_arena_init(&c->jarena, 0);
    rc = sl_shuffle_partition_iter(x->sh[1], p, jright_in, c, err);
    if (rc == SL_OK)
        rc = sl_shuffle_partition_iter(x->sh[0], p, jleft_out, c, err);
    for (size_t i = 0; i < c->jt_slots; i++)
        sl_free(c->jt[i].vals);
    sl_free(c->jt);
    c->jt = NULL;
    sl_arena_cleanup(&c->jarena);
    return rc;
}

/* ---- mapreduce reduce ---- */

static int reduce_out(void *ud, const void *key, size_t klen, struct sl_shuffle_values *vals,
                      struct sl_err *err)
{
    struct out_ctx *c = ud;
    struct xworker *w = c->w;
    const struct sl_plan_node *pn = &w->r->plan->nodes[c->node];
    lua_State *L = w->L;
    struct jval *v;
    size_t n;
    struct sl_arena tmp;
    sl_arena_init(&tmp, 0);
    int rc = collect(vals, &tmp, &v, &n, err);
    if (rc != SL_OK) {
        sl_arena_cleanup(&tmp);
        return rc;
    }
    if (!lua_checkstack(L, 4)) {
        sl_free(v);
        sl_arena_cleanup(&tmp);
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    rc = push_encoded_value(w, key, klen, true, err);
    if (rc == SL_OK) {
        lua_createtable(L, (int)n, 0);
        for (size_t i = 0; rc == SL_OK && i < n; i++) {
            struct sl_value val;
            sl_arena_reset(&w->scratch);
            rc = sl_row_decode(v[i].row, v[i].len, 1, &w->scratch, &val, err);
            if (rc == SL_OK) {
                sl_lua_push_value(L, &val);
                lua_rawseti(L, -2, (lua_Integer)(i + 1));
            }
        }
    }
    if (rc == SL_OK && (rc = push_emit(w)) == SL_OK)
        rc = mr_call(w, c->node, &pn->reduce, 3, NULL, 0, err);
    else
        lua_settop(L, 0);
    sl_free(v);
    sl_arena_cleanup(&tmp);
    return rc;
}

int xwide_run_task(struct xworker *w, int node, uint64_t t, struct sl_err *err)
{
    struct xrun *r = w->r;
    struct xwide *x = r->nodes[node].wide;
    const struct sl_plan_node *pn = &r->plan->nodes[node];
    struct out_ctx c = {.w = w, .node = node, .x = x, .left = pn->limit};
    int rc = SL_OK;

    if (pn->kind == SL_PLAN_MAPREDUCE) {
        struct xwlocal *l = local_of(w, node);
        if (!l)
            return sl_err_set(err, SL_ENOMEM, "out of memory");
        struct mr_ctx mc = {.w = w, .node = node, .x = x, .l = l, .mode = MR_REDUCE};
        l->rb.next_pos = 0;
        c.b = NULL;
        w->emit_ctx = &mc;
        rc = sl_shuffle_partition_iter(x->sh[0], (uint32_t)t, reduce_out, &c, err);
        w->emit_ctx = NULL;
        if (rc == SL_OK) {
            rc = xrb_flush(w, &l->rb, err);
        } else {
            xbatch_put(w, l->rb.out);
            l->rb.out = NULL;
            l->rb.schema = NULL;
        }
        return rc;
    }

    /* nodes whose input never saw a row: set up from whatever is known */
    if (!x->ready) {
        pthread_mutex_lock(&x->mu);
        rc = x->ready ? SL_OK : setup_locked(r, node, x, err);
        pthread_mutex_unlock(&x->mu);
        if (rc != SL_OK)
            return rc;
        if (!x->ready) {
            /* no input rows at all (join: one side empty) */
            if (pn->kind != SL_PLAN_JOIN && !(pn->kind == SL_PLAN_GROUP_AGG && pn->n_columns == 0))
                return SL_OK;
            if (pn->kind == SL_PLAN_JOIN)
                return SL_OK; /* empty left, or empty right for an inner join: nothing;
                                 left join with an empty right: handled below when known */
        }
    }
    if (!x->ready && pn->kind == SL_PLAN_GROUP_AGG) {
        /* group_by() over no rows: one row of empty aggregates, as SQL does */
        const char **names = sl_calloc(pn->n_aggs + 1, sizeof *names);
        enum sl_vtype *types = sl_calloc(pn->n_aggs + 1, sizeof *types);
        struct sl_agg_spec *specs = sl_calloc(pn->n_aggs + 1, sizeof *specs);
        if (!names || !types || !specs) {
            sl_free(names);
            sl_free(types);
            sl_free(specs);
            return sl_err_set(err, SL_ENOMEM, "out of memory");
        }
        for (size_t i = 0; i < pn->n_aggs; i++) {
            specs[i].kind = pn->aggs[i].kind;
            specs[i].col = pn->aggs[i].column ? 0 : -1;
            specs[i].in_type = SL_V_DOUBLE;
            names[i] = pn->aggs[i].name;
            types[i] = specs[i].kind == SL_AGG_COUNT || specs[i].kind == SL_AGG_COUNT_DISTINCT
                         ? SL_V_INT
                         : SL_V_NULL;
        }
        const struct sl_rschema *s = xschema_intern(r, names, types, pn->n_aggs);
        struct sl_batch *b = s ? xbatch_get(w, s) : NULL;
        struct sl_value *row = b ? sl_batch_add_row(b, NULL) : NULL;
        if (row)
            for (size_t i = 0; i < pn->n_aggs; i++) {
                row[i].type = types[i];
                row[i].i = 0;
            }
        rc = row ? SL_OK : sl_err_set(err, SL_ENOMEM, "out of memory");
        if (rc == SL_OK) {
            atomic_fetch_add(&r->nodes[node].rows_out, 1);
            rc = xpush(w, 0, b, err);
        }
        xbatch_put(w, b);
        sl_free(names);
        sl_free(types);
        sl_free(specs);
        return rc;
    }
    if (pn->kind == SL_PLAN_JOIN && !x->ready)
        return SL_OK;
    if (!x->out)
        return SL_OK;

    c.b = xbatch_get(w, x->out);
    if (!c.b)
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    switch (pn->kind) {
    case SL_PLAN_GROUP_AGG: {
        size_t ss = sl_agg_state_size(x->n_specs);
        c.acc = sl_calloc(1, ss ? ss : 8);
        c.tmp = sl_calloc(1, ss ? ss : 8);
        if (!c.acc || !c.tmp)
            rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        if (rc == SL_OK)
            rc = sl_shuffle_partition_iter(x->sh[0], (uint32_t)t, group_out, &c, err);
        sl_free(c.acc);
        sl_free(c.tmp);
        break;
    }
    case SL_PLAN_JOIN:
        c.rin = atomic_load(&r->nodes[node].in[1].schema);
        rc = run_join(&c, (uint32_t)t, err);
        break;
    default:
        rc = sl_shuffle_partition_iter(x->sh[0], (uint32_t)t, rows_out, &c, err);
    }
    if (rc == SL_OK)
        rc = out_flush(&c, err);
    xbatch_put(w, c.b);
    return rc;
}
