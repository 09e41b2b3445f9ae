/*
 * runtime/exec.c - the coordinator and the worker pool of a run (exec.h):
 * plans the script, cuts the plan into stages, starts one thread per worker
 * (each builds its own lua_State and checks it built the same plan), hands
 * out tasks stage by stage, collects bad rows and statistics, and publishes
 * or discards the outputs at the end, then commits the job bookmark (or has
 * the publish of the run's only write commit it: bookmark_write). Sources are
 * exec_source.c, narrow operators exec_ops.c, shuffle-backed nodes
 * exec_wide.c, writes exec_sink.c and exec_sink_db.c.
 *
 * Threads: the coordinator (the caller of sl_exec_run) owns the catalog
 * connection and every step between stages; workers touch shared state only
 * through atomics, the run's mutexes (r->mu for stage control, err_mu for the
 * first error, bad_mu for the error output, each consumer's own locks) and
 * read-only plan data. Lock order: r->mu is never held while taking another.
 */
#include "exec_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "lua_sandbox.h"
#include "pgload.h"

#include <lauxlib.h>

void sl_exec_opts_init(struct sl_exec_opts *o)
{
    memset(o, 0, sizeof *o);
    o->workers = 1;
}

void sl_exec_result_cleanup(struct sl_exec_result *r)
{
    if (!r)
        return;
    sl_free(r->nodes);
    sl_free(r->plan_json);
    for (size_t i = 0; i < r->n_files; i++)
        sl_free(r->files[i]);
    sl_free(r->files);
    memset(r, 0, sizeof *r);
}

/* ---- Schemas ---- */

static bool schema_is(const struct sl_rschema *s, const char *const *names,
                      const enum sl_vtype *types, size_t n)
{
    if (s->n_cols != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s->types[i] != types[i] || strcmp(s->names[i], names[i]) != 0)
            return false;
    return true;
}

const struct sl_rschema *xschema_intern(struct xrun *r, const char *const *names,
                                        const enum sl_vtype *types, size_t n)
{
    struct xschemas *x = &r->schemas;
    const struct sl_rschema *found = NULL;

    pthread_mutex_lock(&x->mu);
    for (size_t i = x->n; i-- > 0 && !found;)
        if (schema_is(x->v[i], names, types, n))
            found = x->v[i];
    if (!found && x->n == x->cap) {
        size_t cap = x->cap ? x->cap * 2 : 16;
        struct sl_rschema **v = sl_realloc(x->v, cap * sizeof *v);
        if (v) {
            x->v = v;
            x->cap = cap;
        }
    }
    if (!found && x->n < x->cap) {
        struct sl_rschema *s = sl_rschema_new(n);
        struct sl_err e = {0};
        bool ok = s != NULL;
        for (size_t i = 0; ok && i < n; i++)
            ok = sl_rschema_set(s, i, names[i], types[i], &e) == SL_OK;
        if (ok) {
            x->v[x->n++] = s;
            found = s;
        } else {
            sl_rschema_free(s);
        }
    }
    pthread_mutex_unlock(&x->mu);
    return found;
}

/* ---- Failure and bad rows ---- */

void xrun_fail(struct xrun *r, const struct sl_err *e)
{
    pthread_mutex_lock(&r->err_mu);
    if (!atomic_load(&r->failed)) {
        r->first_err = *e;
        if (r->first_err.code == SL_OK)
            r->first_err.code = SL_EINTERNAL;
        atomic_store(&r->failed, true);
    }
    atomic_store(&r->stop, true);
    pthread_mutex_unlock(&r->err_mu);
}

/* write{max_errors = ...} of a database write, or -1 when it has none. */
static double write_limit(const struct sl_plan_node *pn)
{
    if (pn->kind != SL_PLAN_WRITE)
        return -1;
    for (size_t i = 0; i < pn->n_options; i++)
        if (strcmp(pn->options[i].key, "max_errors") == 0)
            return strtod(pn->options[i].value, NULL);
    return -1;
}

static bool limit_passed(double m, uint64_t rejected)
{
    if (m >= 1)
        return (double)rejected > m;
    if (m > 0)
        return false; /* a fraction is decided at the end */
    return rejected > 0;
}

static bool over_limit(const struct xrun *r, uint64_t rejected)
{
    double m = r->o->max_errors;
    if (m >= 1)
        return (double)rejected > m;
    if (m > 0)
        return false; /* a fraction is decided at the end */
    return rejected > 0;
}

static void json_line(FILE *f, json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
    if (s) {
        fputs(s, f);
        fputc('\n', f);
        free(s);
    }
}

int xrun_bad_row(struct xrun *r, int node, const char *object, int64_t line, int column,
                 const char *reason, const char *raw, size_t raw_len, struct sl_err *err)
{
    const struct sl_plan_node *pn = &r->plan->nodes[node];
    atomic_fetch_add(&r->rows_rejected, 1);
    uint64_t n_node = atomic_fetch_add(&r->nodes[node].rows_rejected, 1) + 1;
    double own = write_limit(pn); /* a write with its own max_errors counts apart */
    uint64_t n = atomic_load(&r->rows_rejected) - atomic_load(&r->rows_rejected_own);
    if (own >= 0)
        atomic_fetch_add(&r->rows_rejected_own, 1);
    if (pn->kind == SL_PLAN_SOURCE_PATH || pn->kind == SL_PLAN_SOURCE_CATALOG) {
        atomic_fetch_add(&r->rows_read, 1); /* read, then rejected */
        atomic_fetch_add(&r->nodes[node].rows_in, 1);
    }
    pthread_mutex_lock(&r->bad_mu);
    if (!r->first_bad[0]) {
        char where[64] = "";
        if (line > 0 && column > 0)
            snprintf(where, sizeof where, ":%" PRId64 ":%d", line, column);
        else if (line > 0)
            snprintf(where, sizeof where, ":%" PRId64, line);
        else if (column > 0)
            snprintf(where, sizeof where, " (column %d)", column);
        if (object && object[0])
            snprintf(r->first_bad, sizeof r->first_bad, "%s%s: %s (node %d %s)", object, where,
                     reason, node, sl_plan_kind_name(pn->kind));
        else
            snprintf(r->first_bad, sizeof r->first_bad, "node %d %s%s: %s",
                     node, sl_plan_kind_name(pn->kind), where, reason);
    }
    if (r->bad_file) {
        json_t *o = json_object();
        if (o) {
            json_object_set_new(o, "run_id", json_string(r->o->plan.run_id ? r->o->plan.run_id : ""));
            json_object_set_new(o, "node", json_integer(node));
            json_object_set_new(o, "kind", json_string(sl_plan_kind_name(pn->kind)));
            if (pn->line)
                json_object_set_new(o, "script_line", json_integer(pn->line));
            json_object_set_new(o, "object", object ? json_string(object) : json_null());
            json_object_set_new(o, "line", line > 0 ? json_integer(line) : json_null());
            json_object_set_new(o, "column", column > 0 ? json_integer(column) : json_null());
            json_t *rs = json_string(reason);
            json_object_set_new(o, "reason", rs ? rs : json_string("(reason is not UTF-8)"));
            if (raw) {
                rs = json_stringn(raw, raw_len); /* NULL when not UTF-8 */
                json_object_set_new(o, "raw", rs ? rs : json_string("(raw bytes are not UTF-8)"));
            }
            json_line(r->bad_file, o);
            json_decref(o);
        }
    }
    pthread_mutex_unlock(&r->bad_mu);
    if (own >= 0 && limit_passed(own, n_node)) {
        struct sl_err e = {0};
        sl_err_set(&e, SL_EPARSE,
                   "too many bad rows at the write of line %d (%" PRIu64 " > its max_errors %g); "
                   "first: %s",
                   pn->line, n_node, own, r->first_bad);
        xrun_fail(r, &e);
        *err = e;
        return SL_EPARSE;
    }
    if (own < 0 && over_limit(r, n)) {
        struct sl_err e = {0};
        sl_err_set(&e, SL_EPARSE, "too many bad rows (%" PRIu64 " > max_errors %g); first: %s", n,
                   r->o->max_errors, r->first_bad);
        xrun_fail(r, &e);
        *err = e;
        return SL_EPARSE;
    }
    return SL_OK;
}

/* ---- Worker resources ---- */

struct sl_batch *xbatch_get(struct xworker *w, const struct sl_rschema *schema)
{
    size_t need = (size_t)SL_BATCH_ROWS_DEFAULT * (schema->n_cols ? schema->n_cols : 1);
    size_t i;

    if (w->n_free > 0) {
        i = w->free_list[--w->n_free];
    } else {
        if (w->n_all == XPOOL_MAX)
            return NULL;
        struct sl_batch *b = sl_batch_new(schema, SL_BATCH_ROWS_DEFAULT, SL_BATCH_BYTES_DEFAULT);
        if (!b)
            return NULL;
        i = w->n_all++;
        w->all[i] = b;
        w->cells_cap[i] = need;
    }
    struct sl_batch *b = w->all[i];
    if (need > w->cells_cap[i]) {
        struct sl_value *c = sl_realloc(b->cells, need * sizeof *c);
        if (!c) {
            w->free_list[w->n_free++] = i;
            return NULL;
        }
        b->cells = c;
        w->cells_cap[i] = need;
    }
    b->schema = schema;
    sl_batch_reset(b);
    return b;
}

void xbatch_put(struct xworker *w, struct sl_batch *b)
{
    if (!b)
        return;
    sl_batch_reset(b);
    for (size_t i = 0; i < w->n_all; i++) {
        if (w->all[i] == b) {
            w->free_list[w->n_free++] = i;
            return;
        }
    }
}

struct sl_store *xworker_store(struct xworker *w, const char *uri, char **key_out,
                               struct sl_err *err)
{
    char root[300];
    if (strncmp(uri, "s3://", 5) == 0) {
        const char *slash = strchr(uri + 5, '/');
        size_t len = slash ? (size_t)(slash - uri) : strlen(uri);
        snprintf(root, sizeof root, "%.*s", (int)(len < 290 ? len : 290), uri);
    } else {
        snprintf(root, sizeof root, "file");
    }
    for (size_t i = 0; i < w->n_stores; i++) {
        if (strcmp(w->stores[i].root, root) == 0) {
            if (key_out) {
                struct sl_uri u;
                if (sl_uri_parse(uri, &u, err) != SL_OK)
                    return NULL;
                *key_out = u.key;
                u.key = NULL;
                sl_uri_cleanup(&u);
            }
            return w->stores[i].st;
        }
    }
    struct sl_store *st = sl_store_open(uri, key_out, err);
    if (!st)
        return NULL;
    if (w->n_stores == sizeof w->stores / sizeof w->stores[0]) {
        sl_store_free(w->stores[0].st);
        sl_free(w->stores[0].root);
        memmove(&w->stores[0], &w->stores[1], (w->n_stores - 1) * sizeof w->stores[0]);
        w->n_stores--;
    }
    w->stores[w->n_stores].root = sl_strdup(root);
    w->stores[w->n_stores].st = st;
    if (!w->stores[w->n_stores].root) {
        sl_store_free(st);
        if (key_out) {
            sl_free(*key_out);
            *key_out = NULL;
        }
        sl_err_set(err, SL_ENOMEM, "out of memory");
        return NULL;
    }
    w->n_stores++;
    return st;
}

/* ---- Pushing batches ---- */

int xnormalize(struct xworker *w, int node, int side, struct sl_batch *b, struct sl_batch **out,
               struct sl_err *err)
{
    struct xinput *in = &w->r->nodes[node].in[side];
    const struct sl_rschema *fixed = atomic_load(&in->schema);

    *out = b;
    if (!fixed) {
        pthread_mutex_lock(&in->mu);
        fixed = atomic_load(&in->schema);
        if (!fixed) {
            atomic_store(&in->schema, b->schema);
            fixed = b->schema;
        }
        pthread_mutex_unlock(&in->mu);
    }
    if (fixed == b->schema)
        return SL_OK;
    /* Writes take values as they are (their formats write each value by its own
     * type), so only the column names must agree; other consumers cast to the
     * fixed types. */
    const struct sl_rschema *s = b->schema;
    bool sink = w->r->plan->nodes[node].kind == SL_PLAN_WRITE;
    if (sink && s->n_cols == fixed->n_cols) {
        bool same = true;
        for (size_t c = 0; c < s->n_cols && same; c++)
            same = strcmp(s->names[c], fixed->names[c]) == 0;
        if (same)
            return SL_OK;
    }
    /* map columns by name; absent ones are NULL; extra ones make the row bad */
    int map[SL_FMT_CSV_MAX_COLUMNS > 4096 ? 4096 : SL_FMT_CSV_MAX_COLUMNS];
    if (fixed->n_cols > sizeof map / sizeof map[0])
        return sl_err_set(err, SL_ELIMIT, "node %d: more than %zu columns", node,
                          sizeof map / sizeof map[0]);
    size_t matched = 0;
    for (size_t c = 0; c < fixed->n_cols; c++) {
        map[c] = sl_rschema_find(s, fixed->names[c], strlen(fixed->names[c]));
        if (map[c] >= 0)
            matched++;
    }
    const char *extra = NULL;
    if (matched < s->n_cols)
        for (size_t c = 0; c < s->n_cols && !extra; c++)
            if (sl_rschema_find(fixed, s->names[c], strlen(s->names[c])) < 0)
                extra = s->names[c];
    struct sl_batch *nb = xbatch_get(w, fixed);
    if (!nb)
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < b->n_rows; i++) {
        const struct sl_value *src = sl_batch_row(b, i);
        char why[800];
        why[0] = 0;
        if (extra)
            snprintf(why, sizeof why,
                     "column \"%s\" is not one of the dataset's columns (fixed by its first rows)",
                     extra);
        struct sl_value *dst = why[0] ? NULL : sl_batch_add_row(nb, &b->origins[i]);
        for (size_t c = 0; dst && c < fixed->n_cols; c++) {
            if (map[c] < 0) {
                dst[c].type = SL_V_NULL;
                continue;
            }
            const struct sl_value *v = &src[map[c]];
            if (v->type == SL_V_NULL || v->type == fixed->types[c] || sink) {
                dst[c] = *v;
                continue;
            }
            struct sl_err e = {0};
            if (fixed->types[c] == SL_V_NULL) /* a cast to "no type" would drop the value */
                sl_err_set(&e, SL_EPARSE,
                           "the column's first values were all NULL, so it has no type; "
                           "give it a value of its type in every row (or cast it) before "
                           "grouping, joining or sorting on it");
            else if (fixed->types[c] == SL_V_INT && v->type == SL_V_DOUBLE && v->d != (double)(int64_t)v->d)
                sl_err_set(&e, SL_EPARSE,
                           "is bigint (from its first values): %.17g is not a whole number; "
                           "write floats as floats in every row (e.g. x * 1.0)",
                           v->d);
            if (e.code != SL_OK ||
                sl_value_cast(v, fixed->types[c], &nb->arena, &dst[c], &e) != SL_OK) {
                if (e.code == SL_ENOMEM) {
                    xbatch_put(w, nb);
                    return sl_err_set(err, SL_ENOMEM, "out of memory");
                }
                snprintf(why, sizeof why, "column \"%s\": %s", fixed->names[c], e.msg);
                nb->n_rows--;
                dst = NULL;
            }
        }
        if (why[0]) {
            int rc = xrun_bad_row(w->r, node, b->origins[i].object, b->origins[i].line, 0, why,
                                  NULL, 0, err);
            if (rc != SL_OK) {
                xbatch_put(w, nb);
                return rc;
            }
        }
    }
    *out = nb;
    return SL_OK;
}

static int consume(struct xworker *w, struct sl_batch *b, struct sl_err *err)
{
    const struct xpipe *p = w->pipe;
    struct sl_batch *nb;
    int rc = xnormalize(w, p->consumer, p->side, b, &nb, err);
    if (rc != SL_OK)
        return rc;
    atomic_fetch_add(&w->r->nodes[p->consumer].rows_in, nb->n_rows);
    if (w->r->plan->nodes[p->consumer].kind == SL_PLAN_WRITE)
        rc = xsink_consume(w, p->consumer, nb, err);
    else
        rc = xwide_consume(w, p->consumer, p->side, nb, err);
    if (nb != b)
        xbatch_put(w, nb);
    return rc;
}

int xpush(struct xworker *w, size_t pos, struct sl_batch *b, struct sl_err *err)
{
    if (xrun_stopped(w->r))
        return sl_err_set(err, SL_ECANCELLED, "stopped");
    if (b->n_rows == 0)
        return SL_OK;
    if (pos < w->pipe->n_ops)
        return xops_apply(w, pos, b, err);
    return consume(w, b, err);
}

/* ---- Stages ---- */

static bool is_narrow(enum sl_plan_kind k)
{
    switch (k) {
    case SL_PLAN_FILTER:
    case SL_PLAN_MAP:
    case SL_PLAN_FLAT_MAP:
    case SL_PLAN_SELECT:
    case SL_PLAN_DROP:
    case SL_PLAN_RENAME:
    case SL_PLAN_APPLY_MAPPING:
        return true;
    default:
        return false;
    }
}

/* Appends the pipes that feed `from` (walking back through narrow nodes and
 * unions) to st; ops holds the narrow nodes found so far, last first. */
static int add_pipes(struct xrun *r, struct xstage *st, int from, int *ops, size_t n_ops,
                     int side, struct sl_err *err)
{
    const struct sl_plan_node *pn = &r->plan->nodes[from];

    if (is_narrow(pn->kind)) {
        if (n_ops >= r->plan->n_nodes)
            return sl_err_set(err, SL_EINTERNAL, "pipe longer than the plan");
        ops[n_ops] = from;
        return add_pipes(r, st, pn->input, ops, n_ops + 1, side, err);
    }
    if (pn->kind == SL_PLAN_UNION) {
        int rc = add_pipes(r, st, pn->input, ops, n_ops, side, err);
        return rc != SL_OK ? rc : add_pipes(r, st, pn->right, ops, n_ops, side, err);
    }
    struct xpipe *pipes = sl_realloc(st->pipes, (st->n_pipes + 1) * sizeof *pipes);
    if (!pipes)
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    st->pipes = pipes;
    struct xpipe *p = &pipes[st->n_pipes];
    memset(p, 0, sizeof *p);
    p->producer = from;
    p->consumer = st->consumer;
    p->side = side;
    p->n_ops = n_ops;
    if (n_ops) {
        p->ops = sl_calloc(n_ops, sizeof *p->ops);
        if (!p->ops)
            return sl_err_set(err, SL_ENOMEM, "out of memory");
        for (size_t i = 0; i < n_ops; i++)
            p->ops[i] = ops[n_ops - 1 - i];
    }
    st->n_pipes++;
    return SL_OK;
}

/* The write whose publish transaction also commits the job bookmark: the
 * plan's only write, when it loads a PostgreSQL table in the catalog's own
 * database (where the bookmark lives), so rows and bookmark commit together
 * (exactly once). -1 for anything else (files, Redshift, another database,
 * several writes): the bookmark then commits after the outputs are
 * published, in a transaction of its own (at least once). */
static int bookmark_write(const struct xrun *r)
{
    const struct sl_plan *pl = r->plan;
    struct sl_pgload_target t;
    struct sl_err e = {0};
    int found = -1;

    for (size_t i = 0; i < pl->n_nodes; i++) {
        if (pl->nodes[i].kind != SL_PLAN_WRITE)
            continue;
        if (found >= 0)
            return -1;
        found = (int)i;
    }
    if (found < 0 || !sl_pgload_is_target(pl->nodes[found].uri))
        return -1;
    /* a bad target fails the run in xsink_begin, with its own message */
    if (sl_pgload_target_parse(pl->nodes[found].uri, &t, &e) != SL_OK)
        return -1;
    bool in_catalog = sl_pgload_target_is_catalog(&t);
    sl_pgload_target_cleanup(&t);
    return in_catalog ? found : -1;
}

static int build_stages(struct xrun *r, struct sl_err *err)
{
    const struct sl_plan *pl = r->plan;
    bool *needed = sl_calloc(pl->n_nodes, sizeof *needed);
    int *ops = sl_calloc(pl->n_nodes + 1, sizeof *ops);
    int rc = SL_OK;

    if (!needed || !ops) {
        sl_free(needed);
        sl_free(ops);
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    for (size_t i = pl->n_nodes; i-- > 0;) {
        const struct sl_plan_node *n = &pl->nodes[i];
        if (n->kind == SL_PLAN_WRITE)
            needed[i] = true;
        if (!needed[i])
            continue;
        if (n->input >= 0)
            needed[n->input] = true;
        if (n->right >= 0)
            needed[n->right] = true;
    }
    r->stages = sl_calloc(pl->n_nodes, sizeof *r->stages);
    if (!r->stages)
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
    for (size_t i = 0; rc == SL_OK && i < pl->n_nodes; i++) {
        const struct sl_plan_node *n = &pl->nodes[i];
        if (!needed[i] || (n->kind != SL_PLAN_WRITE && !xwide_is_wide(n->kind)))
            continue;
        struct xstage *st = &r->stages[r->n_stages++];
        st->consumer = (int)i;
        snprintf(st->name, sizeof st->name, "node %zu %s", i, sl_plan_kind_name(n->kind));
        if (n->line)
            snprintf(st->name + strlen(st->name), sizeof st->name - strlen(st->name),
                     " (line %d)", n->line);
        rc = add_pipes(r, st, n->input, ops, 0, 0, err);
        if (rc == SL_OK && n->kind == SL_PLAN_JOIN)
            rc = add_pipes(r, st, n->right, ops, 0, 1, err);
        for (size_t p = 0; rc == SL_OK && p < st->n_pipes; p++)
            r->nodes[st->pipes[p].producer].readers++;
    }
    sl_free(needed);
    sl_free(ops);
    return rc;
}

/* ---- Workers ---- */

static int run_task(struct xworker *w, const struct xstage *st, uint64_t t, struct sl_err *err)
{
    const struct xpipe *p = NULL;
    for (size_t i = 0; i < st->n_pipes; i++)
        if (t >= st->pipes[i].first_task && t < st->pipes[i].first_task + st->pipes[i].n_tasks)
            p = &st->pipes[i];
    if (!p)
        return sl_err_set(err, SL_EINTERNAL, "task %" PRIu64 " has no pipe", t);
    w->pipe = p;
    w->task = t;
    w->row_seq = 0;
    w->consumer_state = NULL;

    int rc;
    uint64_t local = t - p->first_task;
    const struct sl_plan_node *prod = &w->r->plan->nodes[p->producer];
    if (prod->kind == SL_PLAN_SOURCE_PATH || prod->kind == SL_PLAN_SOURCE_CATALOG)
        rc = xsource_run_split(w, w->r->nodes[p->producer].src, local, err);
    else
        rc = xwide_run_task(w, p->producer, local, err);
    xops_task_end(w);
    int rc2;
    struct sl_err e2 = {0};
    if (w->r->plan->nodes[p->consumer].kind == SL_PLAN_WRITE)
        rc2 = xsink_task_end(w, p->consumer, rc == SL_OK, &e2);
    else
        rc2 = rc == SL_OK ? xwide_task_end(w, p->consumer, p->side, &e2) : SL_OK;
    if (rc == SL_OK && rc2 != SL_OK) {
        *err = e2;
        rc = rc2;
    }
    w->pipe = NULL;
    return rc;
}

static void log_line(void *ud, const char *line, size_t len)
{
    const struct sl_exec_opts *o = ud;
    if (o->plan.log_fn)
        o->plan.log_fn(o->plan.log_ud, line, len);
}

static void *worker_main(void *arg)
{
    struct xworker *w = arg;
    struct xrun *r = w->r;
    struct sl_err err = {0};
    struct sl_plan_args pa = r->o->plan;
    int rc;

    pa.stop = &r->stop;
    pa.log_fn = log_line;
    pa.log_ud = (void *)r->o;
    rc = sl_plan_state_new(r->o->chunkname, r->o->src, r->o->src_len, &pa, &w->ps, &err);
    if (rc == SL_OK)
        rc = sl_plan_check_same(r->plan, sl_plan_state_plan(w->ps), w->id, &err);
    if (rc == SL_OK) {
        w->L = sl_plan_state_lua(w->ps);
        w->nstate = sl_calloc(r->plan->n_nodes, sizeof *w->nstate);
        if (!w->nstate)
            rc = sl_err_set(&err, SL_ENOMEM, "out of memory");
    }
    if (rc != SL_OK) {
        sl_err_prefix(&err, "worker %d", w->id);
        xrun_fail(r, &err);
    }
    pthread_mutex_lock(&r->mu);
    r->workers_ready++;
    pthread_cond_broadcast(&r->cv_done);
    int seen = 0;
    for (;;) {
        while (!r->quit && r->stage_gen == seen)
            pthread_cond_wait(&r->cv_work, &r->mu);
        if (r->quit)
            break;
        seen = r->stage_gen;
        struct xstage *st = r->cur;
        r->workers_busy++;
        pthread_mutex_unlock(&r->mu);
        for (;;) {
            if (rc != SL_OK || xrun_stopped(r))
                break;
            uint64_t t = atomic_fetch_add(&st->next_task, 1);
            if (t >= st->n_tasks)
                break;
            struct sl_err e = {0};
            int trc = run_task(w, st, t, &e);
            if (trc != SL_OK) {
                if (trc == SL_ESCRIPT && w->ps) {
                    /* keep the full traceback for the log */
                }
                xrun_fail(r, &e);
            }
            atomic_fetch_add(&st->tasks_done, 1);
        }
        pthread_mutex_lock(&r->mu);
        r->workers_busy--;
        pthread_cond_broadcast(&r->cv_done);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

static void worker_free(struct xworker *w)
{
    sl_plan_state_free(w->ps); /* closes the Lua state before its batches go */
    w->ps = NULL;
    xops_worker_free(w);
    xwide_worker_free(w);
    xsink_worker_free(w);
    sl_free(w->nstate);
    for (size_t i = 0; i < w->n_all; i++)
        sl_batch_free(w->all[i]);
    for (size_t i = 0; i < w->n_stores; i++) {
        sl_store_free(w->stores[i].st);
        sl_free(w->stores[i].root);
    }
    sl_buf_cleanup(&w->kbuf);
    sl_buf_cleanup(&w->vbuf);
    sl_buf_cleanup(&w->tbuf);
    sl_arena_cleanup(&w->scratch);
}

/* ---- Coordinator ---- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void report(struct xrun *r, int stage, double t0, bool force)
{
    static const double period = 0.2;
    static _Thread_local double last;
    double t = now_s();
    if (!r->o->progress || (!force && t - last < period))
        return;
    last = t;
    struct sl_exec_progress p = {
        .stage = stage + 1,
        .n_stages = (int)r->n_stages,
        .stage_name = r->n_stages ? r->stages[stage < (int)r->n_stages ? stage : 0].name : "",
        .tasks_done = r->cur ? atomic_load(&r->cur->tasks_done) : 0,
        .tasks_total = r->cur ? r->cur->n_tasks : 0,
        .rows_read = atomic_load(&r->rows_read),
        .bytes_read = atomic_load(&r->bytes_read),
        .rows_written = atomic_load(&r->rows_written),
        .rows_rejected = atomic_load(&r->rows_rejected),
        .elapsed_s = t - t0,
    };
    r->o->progress(r->o->progress_ud, &p);
}

/* Checks the user's stop flag and the run's deadline. */
static void watch(struct xrun *r, double t0)
{
    struct sl_err e = {0};
    if (r->o->plan.stop && atomic_load(r->o->plan.stop) && !atomic_load(&r->failed)) {
        sl_err_set(&e, SL_ECANCELLED, "run stopped");
        xrun_fail(r, &e);
    }
    if (r->o->plan.timeout_ms && (now_s() - t0) * 1000.0 > (double)r->o->plan.timeout_ms &&
        !atomic_load(&r->failed)) {
        sl_err_set(&e, SL_ECANCELLED, "run timed out after %" PRIu64 " ms", r->o->plan.timeout_ms);
        xrun_fail(r, &e);
    }
}

static int run_stage(struct xrun *r, int si, double t0, struct sl_err *err)
{
    struct xstage *st = &r->stages[si];
    const struct sl_plan_node *cn = &r->plan->nodes[st->consumer];
    int rc = SL_OK;
    double s0 = now_s();

    /* producers' task counts */
    st->n_tasks = 0;
    for (size_t i = 0; rc == SL_OK && i < st->n_pipes; i++) {
        struct xpipe *p = &st->pipes[i];
        enum sl_plan_kind k = r->plan->nodes[p->producer].kind;
        if (k == SL_PLAN_SOURCE_PATH || k == SL_PLAN_SOURCE_CATALOG) {
            rc = xsource_prepare(r, p->producer, err);
            p->n_tasks = rc == SL_OK ? r->nodes[p->producer].src->n_splits : 0;
        } else {
            p->n_tasks = xwide_n_tasks(r, p->producer);
        }
        p->first_task = st->n_tasks;
        st->n_tasks += p->n_tasks;
    }
    if (rc == SL_OK)
        rc = cn->kind == SL_PLAN_WRITE ? xsink_begin(r, st->consumer, err)
                                       : xwide_begin(r, st->consumer, err);
    if (rc != SL_OK)
        return rc;

    pthread_mutex_lock(&r->mu);
    r->cur = st;
    atomic_store(&st->next_task, 0);
    atomic_store(&st->tasks_done, 0);
    r->stage_gen++;
    pthread_cond_broadcast(&r->cv_work);
    for (;;) {
        bool all = atomic_load(&st->tasks_done) >= st->n_tasks || xrun_stopped(r);
        if (all && r->workers_busy == 0 &&
            (atomic_load(&st->next_task) >= st->n_tasks || xrun_stopped(r)))
            break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * 1000 * 1000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&r->cv_done, &r->mu, &ts);
        pthread_mutex_unlock(&r->mu);
        watch(r, t0);
        report(r, si, t0, false);
        pthread_mutex_lock(&r->mu);
    }
    pthread_mutex_unlock(&r->mu);
    report(r, si, t0, true);
    if (atomic_load(&r->failed)) {
        pthread_mutex_lock(&r->err_mu);
        *err = r->first_err;
        pthread_mutex_unlock(&r->err_mu);
        return err->code;
    }
    if (cn->kind != SL_PLAN_WRITE)
        rc = xwide_end(r, st->consumer, err);
    r->nodes[st->consumer].seconds = now_s() - s0;
    return rc;
}

static int open_bad_output(struct xrun *r, struct sl_err *err)
{
    r->bad_path = sl_asprintf("%s/bad-rows.jsonl", r->o->spill_dir);
    if (!r->bad_path)
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    r->bad_file = fopen(r->bad_path, "w+");
    if (!r->bad_file)
        return sl_err_sys(err, SL_EIO, errno, "open %s", r->bad_path);
    return SL_OK;
}

/* Copies the local bad-row file to error_uri (when there were bad rows). */
static int keep_bad_output(struct xrun *r, struct sl_err *err)
{
    if (!r->bad_file || !r->o->error_uri || atomic_load(&r->rows_rejected) == 0)
        return SL_OK;
    char *key = NULL;
    struct sl_store *st = sl_store_open(r->o->error_uri, &key, err);
    if (!st)
        return err->code;
    int rc = SL_OK;
    struct sl_store_writer *wr = sl_store_put_begin(st, key, err);
    if (!wr)
        rc = err->code;
    fflush(r->bad_file);
    rewind(r->bad_file);
    char buf[65536];
    size_t n;
    while (rc == SL_OK && (n = fread(buf, 1, sizeof buf, r->bad_file)) > 0)
        rc = sl_store_put_write(wr, buf, n, err);
    if (wr)
        rc = rc == SL_OK ? sl_store_put_commit(wr, err) : (sl_store_put_abort(wr), rc);
    sl_free(key);
    sl_store_free(st);
    if (rc != SL_OK)
        sl_err_prefix(err, "error output %s", r->o->error_uri);
    return rc;
}

static void fill_result(struct xrun *r, struct sl_exec_result *res, double t0)
{
    res->seconds = now_s() - t0;
    res->rows_read = atomic_load(&r->rows_read);
    res->bytes_read = atomic_load(&r->bytes_read);
    res->rows_written = atomic_load(&r->rows_written);
    res->rows_rejected = atomic_load(&r->rows_rejected);
    if (!r->plan)
        return;
    res->nodes = sl_calloc(r->plan->n_nodes, sizeof *res->nodes);
    if (!res->nodes)
        return;
    res->n_nodes = r->plan->n_nodes;
    for (size_t i = 0; i < r->plan->n_nodes; i++) {
        const struct sl_plan_node *pn = &r->plan->nodes[i];
        struct xnode *x = &r->nodes[i];
        struct sl_exec_node_stats *s = &res->nodes[i];
        s->node = (int)i;
        snprintf(s->kind, sizeof s->kind, "%s", sl_plan_kind_name(pn->kind));
        s->line = pn->line;
        s->rows_in = atomic_load(&x->rows_in);
        s->rows_out = atomic_load(&x->rows_out);
        s->rows_rejected = atomic_load(&x->rows_rejected);
        s->bytes_in = atomic_load(&x->bytes_in);
        s->objects = atomic_load(&x->objects);
        s->skipped_objects = atomic_load(&x->skipped);
        s->seconds = x->seconds;
        if (x->wide) {
            /* filled by exec_wide via rows_out/spill below */
        }
    }
}

/* exec_wide.c reports its shuffles' spill bytes and peak memory. */
void xwide_stats(struct xrun *r, int node, uint64_t *spill, uint64_t *peak);

int sl_exec_run(const struct sl_exec_opts *o, struct sl_exec_result *res, struct sl_err *err)
{
    struct xrun run;
    struct xrun *r = &run;
    struct sl_plan *plan = NULL;
    struct xworker *ws = NULL;
    double t0 = now_s();
    int rc, n_started = 0;
    bool published = false;

    memset(res, 0, sizeof *res);
    memset(r, 0, sizeof *r);
    r->o = o;
    r->bookmark_write = -1;
    pthread_mutex_init(&r->schemas.mu, NULL);
    pthread_mutex_init(&r->err_mu, NULL);
    pthread_mutex_init(&r->bad_mu, NULL);
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv_work, NULL);
    pthread_cond_init(&r->cv_done, NULL);

    if (!o->spill_dir || !o->src || !o->chunkname) {
        rc = sl_err_set(err, SL_ECONFIG, "run: script, name and spill_dir are required");
        goto out;
    }
    r->workers = o->workers <= 0 ? 1 : o->workers;
    if (r->workers > SL_EXEC_WORKERS_MAX) {
        rc = sl_err_set(err, SL_ECONFIG, "run: at most %d workers", SL_EXEC_WORKERS_MAX);
        goto out;
    }
    r->partitions = o->partitions > 0 ? (uint32_t)o->partitions : SL_EXEC_PARTITIONS_DEFAULT;
    r->local_budget = o->memory_budget ? o->memory_budget / (size_t)(4 * r->workers)
                                       : (size_t)64 << 20;
    if (r->local_budget < ((size_t)1 << 20))
        r->local_budget = (size_t)1 << 20;

    {
        struct sl_plan_args pa = o->plan;
        pa.stop = &r->stop;
        pa.log_fn = NULL; /* the planner's prints would repeat each worker's */
        rc = sl_plan_build_from_script(o->chunkname, o->src, o->src_len, &pa, &plan, err);
        if (rc != SL_OK)
            goto out;
    }
    r->plan = plan;
    res->plan_json = sl_plan_to_json(plan);
    r->nodes = sl_calloc(plan->n_nodes, sizeof *r->nodes);
    if (!r->nodes) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < plan->n_nodes; i++) {
        r->nodes[i].pn = &plan->nodes[i];
        pthread_mutex_init(&r->nodes[i].in[0].mu, NULL);
        pthread_mutex_init(&r->nodes[i].in[1].mu, NULL);
    }
    rc = build_stages(r, err);
    if (rc == SL_OK)
        rc = open_bad_output(r, err);
    if (rc == SL_OK && (o->bookmark || o->reset_bookmark))
        rc = xsource_bookmark_load(r, err);
    if (rc != SL_OK)
        goto out;
    if (o->bookmark)
        r->bookmark_write = bookmark_write(r);

    ws = sl_calloc((size_t)r->workers, sizeof *ws);
    if (!ws) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto out;
    }
    for (int i = 0; i < r->workers; i++) {
        ws[i].r = r;
        ws[i].id = i + 1;
        sl_buf_init(&ws[i].kbuf, 0);
        sl_buf_init(&ws[i].vbuf, 0);
        sl_buf_init(&ws[i].tbuf, 0);
        sl_arena_init(&ws[i].scratch, 0);
        ws[i].emit_ref = LUA_NOREF;
        if (pthread_create(&ws[i].thread, NULL, worker_main, &ws[i]) != 0) {
            rc = sl_err_set(err, SL_ENOMEM, "cannot start worker %d", i + 1);
            break;
        }
        n_started++;
    }
    /* wait until every worker has its Lua state */
    pthread_mutex_lock(&r->mu);
    while (r->workers_ready < n_started)
        pthread_cond_wait(&r->cv_done, &r->mu);
    pthread_mutex_unlock(&r->mu);
    if (rc == SL_OK && atomic_load(&r->failed)) {
        *err = r->first_err;
        rc = err->code;
    }
    for (size_t si = 0; rc == SL_OK && si < r->n_stages; si++) {
        rc = run_stage(r, (int)si, t0, err);
        /* a wide node whose output every consumer has read frees its shuffle */
        for (size_t p = 0; rc == SL_OK && p < r->stages[si].n_pipes; p++) {
            int prod = r->stages[si].pipes[p].producer;
            if (r->nodes[prod].wide && --r->nodes[prod].readers == 0)
                xwide_free(r, prod);
        }
    }
    for (size_t i = 0; rc == SL_OK && i < plan->n_nodes; i++) {
        double own = write_limit(&plan->nodes[i]);
        uint64_t rej = atomic_load(&r->nodes[i].rows_rejected);
        uint64_t in = atomic_load(&r->nodes[i].rows_in);
        if (own > 0 && own < 1 && rej > 0 && (double)rej > own * (double)(in ? in : 1))
            rc = sl_err_set(err, SL_EPARSE,
                            "too many bad rows at the write of line %d (%" PRIu64 " of %" PRIu64
                            " rows > its max_errors %g)",
                            plan->nodes[i].line, rej, in, own);
    }
    if (rc == SL_OK && o->max_errors > 0 && o->max_errors < 1) {
        uint64_t rej = atomic_load(&r->rows_rejected) - atomic_load(&r->rows_rejected_own),
                 in = atomic_load(&r->rows_read);
        if (rej > 0 && (double)rej > o->max_errors * (double)(in ? in : 1))
            rc = sl_err_set(err, SL_EPARSE,
                            "too many bad rows (%" PRIu64 " of %" PRIu64
                            " rows read > max_errors %g); first: %s",
                            rej, in, o->max_errors, r->first_bad);
    }
    if (rc == SL_OK)
        for (size_t i = 0; rc == SL_OK && i < plan->n_nodes; i++)
            if (plan->nodes[i].kind == SL_PLAN_WRITE && r->nodes[i].sink)
                rc = xsink_publish(r, (int)i, err);
    published = rc == SL_OK; /* from here on the outputs stay, whatever follows */
    /* the bookmark commits here unless the publish of bookmark_write already
     * did, in its own transaction (it did not when no row reached that write:
     * with nothing published there is nothing to load twice) */
    if (rc == SL_OK && o->bookmark && !r->bookmark_in_publish)
        rc = xsource_bookmark_commit(r, err);
    if (rc == SL_OK && o->bookmark) {
        res->bookmark_advanced = true;
        res->bookmark_exactly_once = r->bookmark_in_publish;
    }

out:
    if (ws) {
        pthread_mutex_lock(&r->mu);
        r->quit = true;
        pthread_cond_broadcast(&r->cv_work);
        pthread_mutex_unlock(&r->mu);
        for (int i = 0; i < n_started; i++)
            pthread_join(ws[i].thread, NULL);
    }
    if (r->plan) {
        for (size_t i = 0; i < plan->n_nodes; i++) {
            if (!published && r->nodes && r->nodes[i].sink)
                xsink_discard(r, (int)i);
            if (published && r->nodes && r->nodes[i].sink)
                xsink_collect(r, (int)i, res);
        }
    }
    {
        struct sl_err e2 = {0};
        if (keep_bad_output(r, &e2) != SL_OK && rc == SL_OK) {
            *err = e2;
            rc = e2.code;
        }
    }
    fill_result(r, res, t0);
    if (r->plan && res->nodes) {
        for (size_t i = 0; i < plan->n_nodes; i++) {
            if (!r->nodes[i].wide)
                continue;
            uint64_t spill = 0, peak = 0;
            xwide_stats(r, (int)i, &spill, &peak);
            res->nodes[i].spill_bytes = spill;
            res->spill_bytes += spill;
            if (peak > res->peak_shuffle_mem)
                res->peak_shuffle_mem = peak;
        }
    }
    if (ws) {
        for (int i = 0; i < r->workers; i++)
            worker_free(&ws[i]);
        sl_free(ws);
    }
    if (r->nodes) {
        for (size_t i = 0; i < plan->n_nodes; i++) {
            if (r->nodes[i].wide)
                xwide_destroy(r, (int)i);
            if (r->nodes[i].sink)
                xsink_free(r, (int)i);
            if (r->nodes[i].src) {
                xsource_cleanup(r->nodes[i].src);
                sl_free(r->nodes[i].src);
            }
            pthread_mutex_destroy(&r->nodes[i].in[0].mu);
            pthread_mutex_destroy(&r->nodes[i].in[1].mu);
        }
        sl_free(r->nodes);
    }
    for (size_t i = 0; i < r->n_stages; i++) {
        for (size_t j = 0; j < r->stages[i].n_pipes; j++)
            sl_free(r->stages[i].pipes[j].ops);
        sl_free(r->stages[i].pipes);
    }
    sl_free(r->stages);
    for (size_t i = 0; i < r->schemas.n; i++)
        sl_rschema_free(r->schemas.v[i]);
    sl_free(r->schemas.v);
    if (r->bad_file)
        fclose(r->bad_file);
    if (r->bad_path)
        unlink(r->bad_path);
    sl_free(r->bad_path);
    sl_free(r->first_traceback);
    json_decref(r->bookmark_old);
    if (r->catalog)
        sl_catalog_free(r->catalog);
    sl_plan_free(plan);
    pthread_mutex_destroy(&r->schemas.mu);
    pthread_mutex_destroy(&r->err_mu);
    pthread_mutex_destroy(&r->bad_mu);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv_work);
    pthread_cond_destroy(&r->cv_done);
    return rc;
}
