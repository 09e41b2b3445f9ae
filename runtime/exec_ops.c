/*
 * runtime/exec_ops.c - the narrow operators of a pipe (filter, map,
 * flat_map, select, drop, rename, apply_mapping), applied batch by batch
 * inside a task, and the bridge that turns what Lua row functions return
 * into batch rows (xrowbuild).
 *
 * Per worker and node, an operator keeps a little state (w->nstate[node]):
 * the column mapping computed for the last input schema seen, and for
 * map-like nodes the row builder. Projections share the input batch's
 * strings (the output is pushed on before the input batch is released).
 *
 * A Lua error in a row function makes that row a bad row (reason: the
 * script location and message); running out of the state's memory, a stop
 * or a timeout fail the run.
 */
#include "exec_internal.h"

#include <lauxlib.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "lua_sandbox.h"

struct xop {
    const struct sl_rschema *in;  /* schema the mapping below was made for */
    const struct sl_rschema *out; /* interned */
    int *cols;                    /* owned: output column -> input column */
    size_t n_cols;
    struct xrowbuild rb;          /* map, flat_map */
    /* map: columns the function added to rows of schema wide_in, learned from
     * the batches before; later batches of wide_in get them up front (NULL),
     * so setting them writes a cell instead of making a table per row, and
     * rows returned as they are stay in their batch */
    const struct sl_rschema *wide_in, *wide;
    uint8_t keep[SL_BATCH_ROWS_DEFAULT];
};

static struct xop *op_of(struct xworker *w, int node)
{
    if (!w->nstate[node])
        w->nstate[node] = sl_calloc(1, sizeof(struct xop));
    return w->nstate[node];
}

void xops_worker_free(struct xworker *w)
{
    if (!w->nstate)
        return;
    for (size_t i = 0; i < w->r->plan->n_nodes; i++) {
        struct xop *op = w->nstate[i];
        enum sl_plan_kind k = w->r->plan->nodes[i].kind;
        if (!op || xwide_is_wide(k) || k == SL_PLAN_WRITE || k == SL_PLAN_SOURCE_PATH ||
            k == SL_PLAN_SOURCE_CATALOG || k == SL_PLAN_UNION)
            continue;
        sl_free(op->cols);
        sl_free(op->rb.names);
        sl_free(op->rb.types);
        sl_free(op->rb.vals);
        sl_free(op);
        w->nstate[i] = NULL;
    }
}

void xops_task_end(struct xworker *w)
{
    const struct xpipe *p = w->pipe;
    for (size_t i = 0; p && i < p->n_ops; i++) {
        struct xop *op = w->nstate[p->ops[i]];
        if (op && op->rb.out) {
            xbatch_put(w, op->rb.out);
            op->rb.out = NULL;
            op->rb.schema = NULL;
        }
    }
}

/* ---- Lua values ---- */

bool xlua_to_value(lua_State *L, int idx, struct sl_arena *arena, struct sl_value *out,
                   const char **why)
{
    memset(out, 0, sizeof *out);
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        out->type = SL_V_NULL;
        return true;
    case LUA_TBOOLEAN:
        out->type = SL_V_BOOL;
        out->i = lua_toboolean(L, idx);
        return true;
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) {
            out->type = SL_V_INT;
            out->i = lua_tointeger(L, idx);
        } else {
            out->type = SL_V_DOUBLE;
            out->d = lua_tonumber(L, idx);
        }
        return true;
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        if (len > UINT32_MAX) {
            *why = "a string longer than 4 GiB";
            return false;
        }
        out->type = SL_V_STRING;
        out->len = (uint32_t)len;
        out->s = s;
        if (arena) {
            out->s = sl_arena_strndup(arena, s, len);
            if (!out->s) {
                *why = "out of batch memory";
                return false;
            }
        }
        return true;
    }
    case LUA_TUSERDATA:
        if (luaL_testudata(L, idx, "sluice.Null")) {
            out->type = SL_V_NULL;
            return true;
        }
        *why = "a userdata (rows cannot be nested in rows)";
        return false;
    default:
        *why = lua_typename(L, lua_type(L, idx));
        return false;
    }
}

/* ---- Row builder ---- */

int xrb_begin(struct xworker *w, struct xrowbuild *rb, size_t n, struct sl_err *err)
{
    (void)w;
    if (n > rb->cap) {
        size_t cap = n < 16 ? 16 : n * 2;
        const char **names = sl_realloc(rb->names, cap * sizeof *names);
        if (names)
            rb->names = names;
        enum sl_vtype *types = sl_realloc(rb->types, cap * sizeof *types);
        if (types)
            rb->types = types;
        struct sl_value *vals = sl_realloc(rb->vals, cap * sizeof *vals);
        if (vals)
            rb->vals = vals;
        if (!names || !types || !vals)
            return sl_err_set(err, SL_ENOMEM, "out of memory");
        rb->cap = cap;
    }
    rb->n = n;
    rb->base = NULL;
    rb->n_base = 0;
    return SL_OK;
}

int xrb_flush(struct xworker *w, struct xrowbuild *rb, struct sl_err *err)
{
    struct sl_batch *b = rb->out;
    if (!b)
        return SL_OK;
    rb->out = NULL;
    rb->schema = NULL;
    rb->schema_base = NULL;
    int rc = xpush(w, rb->next_pos, b, err);
    xbatch_put(w, b);
    return rc;
}

void xrb_cleanup(struct xworker *w, struct xrowbuild *rb)
{
    xbatch_put(w, rb->out);
    rb->out = NULL;
    sl_free(rb->names);
    sl_free(rb->types);
    sl_free(rb->vals);
    memset(rb, 0, sizeof *rb);
}

/* Does the candidate fit rb->schema? NULL values take the schema's type. */
static bool fits(struct xrowbuild *rb)
{
    const struct sl_rschema *s = rb->schema;
    if (!s || s->n_cols != rb->n)
        return false;
    size_t k0 = rb->base && rb->base == rb->schema_base ? rb->n_base : 0;
    for (size_t k = k0; k < rb->n; k++) {
        if (s->names[k] != rb->names[k] && strcmp(s->names[k], rb->names[k]) != 0)
            return false;
        if (rb->vals[k].type != SL_V_NULL && s->types[k] != rb->vals[k].type)
            return false;
    }
    return true;
}

/* The current batch has no type yet (only NULLs) for columns where the
 * candidate has a value: give those columns the candidate's types, as every
 * row already in the batch holds NULL there. */
static bool retype(struct xworker *w, struct xrowbuild *rb)
{
    const struct sl_rschema *s = rb->schema;
    bool any = false;
    if (!s || s->n_cols != rb->n || !rb->out)
        return false;
    for (size_t k = 0; k < rb->n; k++) {
        if (s->names[k] != rb->names[k] && strcmp(s->names[k], rb->names[k]) != 0)
            return false;
        if (rb->vals[k].type != SL_V_NULL && s->types[k] != rb->vals[k].type) {
            if (s->types[k] != SL_V_NULL)
                return false;
            any = true;
        }
    }
    if (!any)
        return false;
    for (size_t k = 0; k < rb->n; k++)
        rb->types[k] = rb->vals[k].type != SL_V_NULL ? (enum sl_vtype)rb->vals[k].type
                                                      : s->types[k];
    const struct sl_rschema *ns =
        xschema_intern(w->r, (const char *const *)s->names, rb->types, rb->n);
    if (!ns)
        return false;
    rb->schema = ns;
    rb->out->schema = ns; /* same columns: only types filled in */
    return true;
}

int xrb_commit(struct xworker *w, struct xrowbuild *rb, const struct sl_row_origin *origin,
               struct sl_err *err)
{
    if (!fits(rb) && !retype(w, rb)) {
        int rc = xrb_flush(w, rb, err);
        if (rc != SL_OK)
            return rc;
        for (size_t k = 0; k < rb->n; k++)
            rb->types[k] = (enum sl_vtype)rb->vals[k].type;
        rb->schema = xschema_intern(w->r, rb->names, rb->types, rb->n);
        rb->schema_base = rb->base;
        if (!rb->schema)
            return sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    for (int attempt = 0; attempt < 2; attempt++) {
        if (!rb->out) {
            rb->out = xbatch_get(w, rb->schema);
            if (!rb->out)
                return sl_err_set(err, SL_ENOMEM, "out of memory");
        }
        struct sl_value *cells = sl_batch_add_row(rb->out, origin);
        bool ok = cells != NULL;
        for (size_t k = 0; ok && k < rb->n; k++) {
            cells[k] = rb->vals[k];
            uint8_t t = cells[k].type;
            if ((t == SL_V_STRING || t == SL_V_BINARY || t == SL_V_JSON) && cells[k].len) {
                cells[k].s = sl_arena_strndup(&rb->out->arena, rb->vals[k].s, rb->vals[k].len);
                ok = cells[k].s != NULL;
            }
        }
        if (ok)
            return SL_OK;
        if (cells)
            rb->out->n_rows--;
        if (rb->out->n_rows == 0)
            return sl_err_set(err, SL_ELIMIT, "a row larger than a batch (%zu bytes)",
                              (size_t)SL_BATCH_BYTES_DEFAULT);
        const struct sl_rschema *keep = rb->schema, *keep_base = rb->schema_base;
        int rc = xrb_flush(w, rb, err);
        if (rc != SL_OK)
            return rc;
        rb->schema = keep;
        rb->schema_base = keep_base;
    }
    return sl_err_set(err, SL_EINTERNAL, "row builder: no room after a flush");
}

/* ---- Lua row functions ---- */

void xfirst_line(const char *msg, char *out, size_t cap)
{
    size_t n = strcspn(msg, "\n");
    if (n >= cap)
        n = cap - 1;
    memcpy(out, msg, n);
    out[n] = 0;
}

/* Calls fn(row i of b); leaves 1 result on success. A script error is a bad
 * row: returns 1 (row rejected, go on); fatal errors return < 0. */
static int call_row_fn(struct xworker *w, int node, const struct sl_plan_fn *fn,
                       struct sl_batch *b, uint32_t i, struct sl_err *err)
{
    lua_State *L = w->L;
    struct sl_err e = {0};
    sl_lua_push_row(L, b, i);
    int rc = sl_plan_state_call_slot(w->ps, fn->slot, 1, 1, &e);
    if (rc == SL_OK)
        return 0;
    if (rc != SL_ESCRIPT) {
        *err = e;
        return rc;
    }
    char reason[512];
    xfirst_line(e.msg, reason, sizeof reason);
    rc = xrun_bad_row(w->r, node, b->origins[i].object, b->origins[i].line, 0, reason, NULL, 0,
                      err);
    return rc != SL_OK ? rc : 1;
}

static int cmp_names(const void *x, const void *y)
{
    const char *const *a = x;
    const char *const *b = y;
    return strcmp(*a, *b);
}

/* Candidate row from the Row handle at idx (its batch's row plus the columns
 * the script added). */
static int build_from_row(struct xworker *w, struct xrowbuild *rb, int idx, const char **why,
                          struct sl_err *err)
{
    lua_State *L = w->L;
    struct sl_batch *rbatch;
    uint32_t ri;
    if (!sl_lua_to_row(L, idx, &rbatch, &ri)) {
        *why = "a row used after its batch was released";
        return 1;
    }
    const struct sl_rschema *s = rbatch->schema;
    size_t n_extra = 0;
    int top = lua_gettop(L);
    if (lua_getiuservalue(L, idx, 1) == LUA_TTABLE) { /* top+1: added columns */
        lua_pushnil(L);
        while (lua_next(L, top + 1)) {
            lua_pop(L, 1);
            n_extra++;
        }
    }
    int rc = xrb_begin(w, rb, s->n_cols + n_extra, err);
    if (rc != SL_OK) {
        lua_settop(L, top);
        return rc;
    }
    const struct sl_value *cells = sl_batch_row(rbatch, ri);
    rb->base = s;
    rb->n_base = s->n_cols;
    for (size_t c = 0; c < s->n_cols; c++) {
        rb->names[c] = s->names[c];
        rb->vals[c] = cells[c];
    }
    if (n_extra) {
        size_t k = s->n_cols;
        lua_pushnil(L);
        while (lua_next(L, top + 1)) { /* -> key, value */
            if (lua_type(L, -2) != LUA_TSTRING) {
                *why = "a column name that is not a string";
                lua_settop(L, top);
                return 1;
            }
            rb->names[k++] = lua_tostring(L, -2);
            lua_pop(L, 1);
        }
        qsort(rb->names + s->n_cols, n_extra, sizeof *rb->names, cmp_names);
        for (size_t j = s->n_cols; j < rb->n; j++) {
            lua_getfield(L, top + 1, rb->names[j]);
            bool ok = xlua_to_value(L, -1, NULL, &rb->vals[j], why);
            lua_pop(L, 1); /* strings stay alive in the table */
            if (!ok) {
                lua_settop(L, top);
                return 1;
            }
        }
    }
    lua_settop(L, top);
    return 0;
}

struct named_idx {
    const char *name;
    size_t rank; /* input column index, or SIZE_MAX for new names */
};

static int cmp_named(const void *x, const void *y)
{
    const struct named_idx *a = x, *b = y;
    if (a->rank != b->rank)
        return a->rank < b->rank ? -1 : 1;
    return strcmp(a->name, b->name);
}

/* Candidate row from a plain table {name = value}: the input's columns first
 * (in their order), then new names sorted. */
static int build_from_table(struct xworker *w, struct xrowbuild *rb, int idx,
                            const struct sl_rschema *in, const char **why, struct sl_err *err)
{
    lua_State *L = w->L;
    size_t n = 0;
    idx = lua_absindex(L, idx);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        n++;
    }
    if (n == 0) {
        *why = "an empty table (a row needs at least one column)";
        return 1;
    }
    int rc = xrb_begin(w, rb, n, err);
    if (rc != SL_OK)
        return rc;
    struct named_idx *ni = sl_calloc(n, sizeof *ni);
    if (!ni)
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    size_t k = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING) {
            *why = "a table with a key that is not a column name (a list?)";
            lua_pop(L, 1);
            sl_free(ni);
            return 1;
        }
        size_t len;
        const char *name = lua_tolstring(L, -1, &len);
        int c = in ? sl_rschema_find(in, name, len) : -1;
        ni[k].name = name;
        ni[k].rank = c >= 0 ? (size_t)c : SIZE_MAX;
        k++;
    }
    qsort(ni, n, sizeof *ni, cmp_named);
    for (k = 0; k < n; k++) {
        rb->names[k] = ni[k].name;
        lua_getfield(L, idx, ni[k].name);
        bool ok = xlua_to_value(L, -1, NULL, &rb->vals[k], why);
        lua_pop(L, 1);
        if (!ok) {
            sl_free(ni);
            return 1;
        }
    }
    sl_free(ni);
    return 0;
}

/* Emits the row value at idx (Row handle or table) into rb. 1 = bad row (why set). */
static int emit_value(struct xworker *w, struct xrowbuild *rb, int idx,
                      const struct sl_batch *in, const struct sl_row_origin *origin,
                      const char **why, struct sl_err *err)
{
    lua_State *L = w->L;
    int rc;
    if (sl_lua_is_row(L, idx))
        rc = build_from_row(w, rb, idx, why, err);
    else if (lua_type(L, idx) == LUA_TTABLE)
        rc = build_from_table(w, rb, idx, in->schema, why, err);
    else {
        *why = lua_typename(L, lua_type(L, idx));
        return 1;
    }
    if (rc != 0)
        return rc;
    return xrb_commit(w, rb, origin, err);
}

/* A copy of b's rows with wide's columns (b's first, then NULLs). */
static struct sl_batch *widen(struct xworker *w, struct sl_batch *b,
                              const struct sl_rschema *wide)
{
    struct sl_batch *wb = xbatch_get(w, wide);
    size_t n_in = b->schema->n_cols, n = wide->n_cols;
    if (!wb)
        return NULL;
    for (uint32_t i = 0; i < b->n_rows; i++) {
        struct sl_value *dst = sl_batch_add_row(wb, &b->origins[i]);
        memcpy(dst, sl_batch_row(b, i), n_in * sizeof *dst);
        memset(dst + n_in, 0, (n - n_in) * sizeof *dst);
    }
    return wb;
}

/* Is the result at the top the handle of row i of b, with no new columns? */
static bool returned_itself(lua_State *L, struct sl_batch *b, uint32_t i)
{
    struct sl_batch *rb;
    uint32_t ri;
    if (!sl_lua_to_row(L, -1, &rb, &ri) || rb != b || ri != i)
        return false;
    int t = lua_getiuservalue(L, -1, 1);
    bool none = t != LUA_TTABLE;
    if (!none) {
        lua_pushnil(L);
        none = !lua_next(L, -2);
        lua_pop(L, none ? 0 : 2);
    }
    lua_pop(L, 1);
    return none;
}

/* Moves the kept rows before `upto` into the row builder (switching from
 * in-place to building). */
static int kept_to_builder(struct xworker *w, struct xop *op, struct sl_batch *in, uint32_t upto,
                           struct sl_err *err)
{
    for (uint32_t k = 0; k < upto; k++) {
        if (!op->keep[k])
            continue;
        int rc = xrb_begin(w, &op->rb, in->schema->n_cols, err);
        if (rc != SL_OK)
            return rc;
        const struct sl_value *cells = sl_batch_row(in, k);
        for (size_t c = 0; c < in->schema->n_cols; c++) {
            op->rb.names[c] = in->schema->names[c];
            op->rb.vals[c] = cells[c];
        }
        op->rb.base = in->schema;
        op->rb.n_base = in->schema->n_cols;
        if ((rc = xrb_commit(w, &op->rb, &in->origins[k], err)) != SL_OK)
            return rc;
    }
    return SL_OK;
}

static int apply_map(struct xworker *w, size_t pos, int node, struct sl_batch *b, bool flat,
                     struct sl_err *err)
{
    const struct sl_plan_node *pn = &w->r->plan->nodes[node];
    struct xop *op = op_of(w, node);
    lua_State *L = w->L;
    int rc = SL_OK;
    uint64_t out0 = 0;
    struct sl_batch *in = b;
    bool building = flat; /* in place until a row needs the builder */

    if (!op)
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    op->rb.next_pos = pos + 1;
    if (!flat && op->wide && op->wide_in == b->schema && b->n_rows <= SL_BATCH_ROWS_DEFAULT) {
        in = widen(w, b, op->wide);
        if (!in)
            return sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    if (in->n_rows > SL_BATCH_ROWS_DEFAULT)
        building = true;
    for (uint32_t i = 0; rc == SL_OK && i < in->n_rows; i++) {
        int top = lua_gettop(L);
        if (!building)
            op->keep[i] = 0;
        int c = call_row_fn(w, node, &pn->fn, in, i, err);
        if (c < 0) {
            rc = c;
            break;
        }
        if (c == 1)
            continue;
        const char *why = NULL;
        char msg[300];
        int r1 = 0;
        if (lua_isnil(L, -1)) {
            /* dropped */
        } else if (!flat) {
            if (!building && returned_itself(L, in, i)) {
                op->keep[i] = 1;
                out0++;
                lua_settop(L, top);
                continue;
            }
            if (!building) {
                building = true;
                r1 = kept_to_builder(w, op, in, i, err);
            }
            if (r1 == 0)
                r1 = emit_value(w, &op->rb, -1, in, &in->origins[i], &why, err);
            out0 += r1 == 0;
            if (r1 == 1)
                snprintf(msg, sizeof msg, "map must return a row, a table or nil, got %s", why);
        } else if (lua_type(L, -1) == LUA_TTABLE) {
            lua_Integer n = luaL_len(L, -1);
            for (lua_Integer j = 1; r1 == 0 && j <= n; j++) {
                lua_geti(L, -1, j);
                r1 = emit_value(w, &op->rb, -1, in, &in->origins[i], &why, err);
                lua_pop(L, 1);
                out0 += r1 == 0;
                if (r1 == 1)
                    snprintf(msg, sizeof msg,
                             "flat_map item %lld must be a row or a table, got %s",
                             (long long)j, why);
            }
        } else {
            r1 = 1;
            snprintf(msg, sizeof msg, "flat_map must return a list of rows or nil, got %s",
                     luaL_typename(L, -1));
        }
        lua_settop(L, top);
        if (r1 < 0)
            rc = r1;
        else if (r1 == 1)
            rc = xrun_bad_row(w->r, node, in->origins[i].object, in->origins[i].line, 0, msg,
                              NULL, 0, err);
    }
    atomic_fetch_add(&w->r->nodes[node].rows_out, out0);
    if (rc == SL_OK && !building) { /* every row stayed in place: compact and pass on */
        uint32_t kept = 0;
        size_t n_cols = in->schema->n_cols;
        for (uint32_t i = 0; i < in->n_rows; i++) {
            if (!op->keep[i])
                continue;
            if (kept != i) {
                memmove(sl_batch_row(in, kept), sl_batch_row(in, i),
                        n_cols * sizeof(struct sl_value));
                in->origins[kept] = in->origins[i];
            }
            kept++;
        }
        in->n_rows = kept;
        rc = xpush(w, pos + 1, in, err);
    } else if (rc == SL_OK) {
        /* learn the columns rows of this input schema get, for the next batches */
        const struct sl_rschema *built = op->rb.schema;
        bool typed = built != NULL;
        for (size_t k = 0; typed && k < built->n_cols; k++)
            typed = built->types[k] != SL_V_NULL || k < in->schema->n_cols;
        if (!flat && typed && op->rb.schema_base == in->schema &&
            built->n_cols > in->schema->n_cols)
            op->wide_in = b->schema, op->wide = built;
        rc = xrb_flush(w, &op->rb, err);
    } else {
        xops_task_end(w);
    }
    if (in != b)
        xbatch_put(w, in);
    return rc;
}

static int apply_filter(struct xworker *w, size_t pos, int node, struct sl_batch *b,
                        struct sl_err *err)
{
    const struct sl_plan_node *pn = &w->r->plan->nodes[node];
    lua_State *L = w->L;
    size_t n_cols = b->schema->n_cols;
    uint32_t kept = 0;

    for (uint32_t i = 0; i < b->n_rows; i++) {
        int c = call_row_fn(w, node, &pn->fn, b, i, err);
        if (c < 0)
            return c;
        if (c == 1)
            continue;
        bool keep = lua_toboolean(L, -1);
        lua_pop(L, 1);
        if (!keep)
            continue;
        if (kept != i) {
            memcpy(sl_batch_row(b, kept), sl_batch_row(b, i), n_cols * sizeof(struct sl_value));
            b->origins[kept] = b->origins[i];
        }
        kept++;
    }
    b->n_rows = kept;
    atomic_fetch_add(&w->r->nodes[node].rows_out, kept);
    return xpush(w, pos + 1, b, err);
}

/* select/drop/rename/apply_mapping: (re)computes op->cols/out for b's schema. */
static int project_prepare(struct xworker *w, struct xop *op, const struct sl_plan_node *pn,
                           const struct sl_rschema *in, struct sl_err *err)
{
    size_t n = 0, cap = in->n_cols + pn->n_mappings + pn->n_columns;
    const char **names = sl_calloc(cap ? cap : 1, sizeof *names);
    enum sl_vtype *types = sl_calloc(cap ? cap : 1, sizeof *types);
    int *cols = sl_calloc(cap ? cap : 1, sizeof *cols);
    int rc = SL_OK;

    if (!names || !types || !cols) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto out;
    }
    switch (pn->kind) {
    case SL_PLAN_SELECT:
        for (size_t i = 0; rc == SL_OK && i < pn->n_columns; i++) {
            int c = sl_rschema_find(in, pn->columns[i], strlen(pn->columns[i]));
            if (c < 0)
                rc = sl_err_set(err, SL_ECONFIG, "select: no column \"%s\"", pn->columns[i]);
            else {
                cols[n] = c;
                names[n] = in->names[c];
                types[n++] = in->types[c];
            }
        }
        break;
    case SL_PLAN_DROP:
        for (size_t c = 0; c < in->n_cols; c++) {
            bool drop = false;
            for (size_t i = 0; i < pn->n_columns && !drop; i++)
                drop = strcmp(pn->columns[i], in->names[c]) == 0;
            if (!drop) {
                cols[n] = (int)c;
                names[n] = in->names[c];
                types[n++] = in->types[c];
            }
        }
        if (n == 0)
            rc = sl_err_set(err, SL_ECONFIG, "drop: no column would be left");
        break;
    case SL_PLAN_RENAME:
        for (size_t c = 0; c < in->n_cols; c++) {
            cols[n] = (int)c;
            names[n] = in->names[c];
            for (size_t i = 0; i < pn->n_pairs; i++)
                if (strcmp(pn->pairs[i].key, in->names[c]) == 0)
                    names[n] = pn->pairs[i].value;
            types[n++] = in->types[c];
        }
        for (size_t i = 0; rc == SL_OK && i < n; i++)
            for (size_t j = i + 1; rc == SL_OK && j < n; j++)
                if (strcmp(names[i], names[j]) == 0)
                    rc = sl_err_set(err, SL_ECONFIG, "rename: two columns named \"%s\"",
                                    names[i]);
        break;
    case SL_PLAN_APPLY_MAPPING:
        for (size_t i = 0; i < pn->n_mappings; i++) {
            int c = sl_rschema_find(in, pn->mappings[i].source, strlen(pn->mappings[i].source));
            cols[n] = c; /* -1: absent source column, all NULL */
            names[n] = pn->mappings[i].target;
            types[n++] = sl_vtype_from_catalog(pn->mappings[i].type);
        }
        break;
    default:
        rc = sl_err_set(err, SL_EINTERNAL, "not a projection");
    }
    if (rc == SL_OK) {
        op->out = xschema_intern(w->r, names, types, n);
        if (!op->out)
            rc = sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    if (rc == SL_OK) {
        sl_free(op->cols);
        op->cols = cols;
        cols = NULL;
        op->n_cols = n;
        op->in = in;
    }
out:
    sl_free(names);
    sl_free(types);
    sl_free(cols);
    return rc;
}

static int apply_projection(struct xworker *w, size_t pos, int node, struct sl_batch *b,
                            struct sl_err *err)
{
    const struct sl_plan_node *pn = &w->r->plan->nodes[node];
    struct xop *op = op_of(w, node);
    int rc;

    if (!op)
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    if (op->in != b->schema) {
        rc = project_prepare(w, op, pn, b->schema, err);
        if (rc != SL_OK) {
            sl_err_prefix(err, "node %d (line %d)", node, pn->line);
            return rc;
        }
    }
    if (pn->kind == SL_PLAN_RENAME) { /* same cells, other names */
        const struct sl_rschema *keep = b->schema;
        b->schema = op->out;
        atomic_fetch_add(&w->r->nodes[node].rows_out, b->n_rows);
        rc = xpush(w, pos + 1, b, err);
        b->schema = keep;
        return rc;
    }
    struct sl_batch *nb = xbatch_get(w, op->out);
    if (!nb)
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    bool cast = pn->kind == SL_PLAN_APPLY_MAPPING;
    rc = SL_OK;
    for (uint32_t i = 0; rc == SL_OK && i < b->n_rows; i++) {
        const struct sl_value *src = sl_batch_row(b, i);
        struct sl_value *dst = sl_batch_add_row(nb, &b->origins[i]);
        if (!dst) { /* full (bytes): push what we have and go on */
            rc = xpush(w, pos + 1, nb, err);
            atomic_fetch_add(&w->r->nodes[node].rows_out, nb->n_rows);
            sl_batch_reset(nb);
            if (rc != SL_OK)
                break;
            dst = sl_batch_add_row(nb, &b->origins[i]);
            if (!dst) {
                rc = sl_err_set(err, SL_ELIMIT, "a row larger than a batch");
                break;
            }
        }
        for (size_t k = 0; k < op->n_cols; k++) {
            int c = op->cols[k];
            if (c < 0) {
                dst[k].type = SL_V_NULL;
                continue;
            }
            if (!cast || src[c].type == SL_V_NULL || src[c].type == op->out->types[k]) {
                dst[k] = src[c];
                continue;
            }
            struct sl_err e = {0};
            if (sl_value_cast(&src[c], op->out->types[k], &nb->arena, &dst[k], &e) != SL_OK) {
                if (e.code == SL_ENOMEM) {
                    rc = sl_err_set(err, SL_ENOMEM, "out of memory");
                    break;
                }
                char reason[600];
                snprintf(reason, sizeof reason, "apply_mapping %s -> %s %s: %s",
                         b->schema->names[c], op->out->names[k], pn->mappings[k].type, e.msg);
                nb->n_rows--;
                rc = xrun_bad_row(w->r, node, b->origins[i].object, b->origins[i].line, c + 1,
                                  reason, NULL, 0, err);
                break;
            }
        }
    }
    if (rc == SL_OK) {
        atomic_fetch_add(&w->r->nodes[node].rows_out, nb->n_rows);
        rc = xpush(w, pos + 1, nb, err);
    }
    xbatch_put(w, nb);
    return rc;
}

int xops_apply(struct xworker *w, size_t pos, struct sl_batch *b, struct sl_err *err)
{
    int node = w->pipe->ops[pos];
    const struct sl_plan_node *pn = &w->r->plan->nodes[node];

    atomic_fetch_add(&w->r->nodes[node].rows_in, b->n_rows);
    switch (pn->kind) {
    case SL_PLAN_FILTER:
        return apply_filter(w, pos, node, b, err);
    case SL_PLAN_MAP:
        return apply_map(w, pos, node, b, false, err);
    case SL_PLAN_FLAT_MAP:
        return apply_map(w, pos, node, b, true, err);
    case SL_PLAN_SELECT:
    case SL_PLAN_DROP:
    case SL_PLAN_RENAME:
    case SL_PLAN_APPLY_MAPPING:
        return apply_projection(w, pos, node, b, err);
    default:
        return sl_err_set(err, SL_EINTERNAL, "node %d (%s) is not a narrow operator", node,
                          sl_plan_kind_name(pn->kind));
    }
}
