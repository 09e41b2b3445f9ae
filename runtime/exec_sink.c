/*
 * runtime/exec_sink.c - write{}: every task writes its own files under
 * run-unique names, <to>/<k1=v1>/.../part-<run_id>-<task>-<n>.<ext>, one per
 * partition folder it meets (Hive-style folders for partition_keys, values
 * escaped as Hive does, NULL and "" as __HIVE_DEFAULT_PARTITION__). A file
 * becomes visible when its task ends well, but counts as published only once
 * the run succeeds and `_manifests/<run_id>-<node>.json` and `_SUCCESS` (the
 * same JSON: run, files, rows) are written at <to>. A failed run deletes the
 * files it wrote; files of a run killed before that are never listed by a
 * manifest, so sluice's readers skip them (exec_source.c).
 */
#include "exec_sink_db.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"

#define SINK_OPEN_MAX 256 /* files one task keeps open; past it the least recently
                             used one is finished and a later row opens a new file */

struct sfile {
    char *key; /* owned */
    uint64_t rows;
};

struct xsink {
    char *root_uri;                /* owned: ends with '/' (or names the folder) */
    char *root_key;                /* owned: key prefix, "" or ending with '/' */
    const struct sl_fmt_ops *ops;
    struct sl_fmt_opts fopts;
    enum sl_compression codec;
    char ext[16];
    pthread_mutex_t mu;
    struct sfile *files;           /* owned: committed files */
    size_t n_files, cap_files;
    bool ready;
    int *pcols;                    /* owned: partition key columns of the input */
    size_t n_pcols;
    int *dcols;                    /* owned: data columns of the input */
    size_t n_dcols;
    const struct sl_rschema *data; /* interned: the data columns */
    uint64_t rows;
    struct xsinkdb *db;            /* owned: database targets (exec_sink_db.c) */
    bool redshift;                 /* files are Redshift's staging: db publishes them */
    bool seq;                      /* Redshift merge: files end with "_sluice_seq", the
                                      rows' load order (the last row of a key wins) */
    const struct sl_rschema *rows_schema; /* interned: the data columns without it */
};

struct swriter {
    char *dir;                     /* owned: "k=v/" path below the root ("" none) */
    char *key;                     /* owned */
    struct sl_fmt_writer *fw;
    uint64_t rows;
    uint64_t used;                 /* task row count when it last got a row */
};

struct slocal {
    struct swriter *v;
    size_t n, cap;
    uint64_t seq;                  /* files opened by this task */
    int *row_writer;               /* owned: writer of each row of a batch */
    size_t cap_rows;
    uint64_t rows_seen;
    uint64_t bytes0;               /* the store's bytes written when the task began */
    bool started;
};

/* Finishes (ok) or aborts writer k and forgets it; a finished file is recorded. */
static int close_writer(struct xworker *w, int node, struct xsink *s, struct slocal *l, size_t k,
                        bool ok, struct sl_err *err)
{
    struct swriter *sw = &l->v[k];
    int rc = SL_OK;
    if (ok) {
        rc = sl_fmt_writer_finish(sw->fw, err);
        if (rc == SL_OK) {
            pthread_mutex_lock(&s->mu);
            if (s->n_files == s->cap_files) {
                size_t cap = s->cap_files ? s->cap_files * 2 : 16;
                struct sfile *f = sl_realloc(s->files, cap * sizeof *f);
                if (f) {
                    s->files = f;
                    s->cap_files = cap;
                }
            }
            if (s->n_files < s->cap_files) {
                s->files[s->n_files++] = (struct sfile){sw->key, sw->rows};
                sw->key = NULL;
                s->rows += sw->rows;
            } else {
                rc = sl_err_set(err, SL_ENOMEM, "out of memory");
            }
            pthread_mutex_unlock(&s->mu);
            atomic_fetch_add(&w->r->rows_written, sw->rows);
            atomic_fetch_add(&w->r->nodes[node].rows_out, sw->rows);
            atomic_fetch_add(&w->r->nodes[node].objects, 1);
        }
    } else {
        sl_fmt_writer_abort(sw->fw);
    }
    sl_free(sw->dir);
    sl_free(sw->key);
    l->v[k] = l->v[l->n - 1];
    l->n--;
    return rc;
}

int xsink_begin(struct xrun *r, int node, struct sl_err *err)
{
    const struct sl_plan_node *pn = &r->plan->nodes[node];
    struct xsink *s = sl_calloc(1, sizeof *s);
    if (!s)
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    pthread_mutex_init(&s->mu, NULL);
    r->nodes[node].sink = s;
    const char *fmt = pn->format ? pn->format : "csv";
    const char *uri = pn->uri;
    char *stage_root = NULL;
    if (sl_pgload_is_target(pn->uri)) {
        int rc = xsinkdb_begin(r, node, &s->db, err);
        if (rc != SL_OK)
            return rc;
        if (strncmp(pn->uri, "redshift:", 9) != 0)
            return SL_OK;
        /* Redshift: gzip'd CSV files under <stage>/<run_id>/, published by the db side */
        const char *stage = NULL;
        for (size_t i = 0; i < pn->n_options; i++)
            if (strcmp(pn->options[i].key, "stage") == 0)
                stage = pn->options[i].value;
        size_t sl = stage ? strlen(stage) : 0;
        stage_root = sl_asprintf("%s%s%s/", stage ? stage : "", sl && stage[sl - 1] == '/' ? "" : "/",
                                 r->o->plan.run_id ? r->o->plan.run_id : "run");
        if (!stage_root)
            return sl_err_set(err, SL_ENOMEM, "out of memory");
        uri = stage_root;
        s->redshift = true;
        for (size_t i = 0; i < pn->n_options; i++)
            if (strcmp(pn->options[i].key, "mode") == 0 && strcmp(pn->options[i].value, "merge") == 0)
                s->seq = true;
    }
    s->ops = sl_fmt_find(fmt);
    if (!s->ops)
        return sl_err_set(err, SL_ECONFIG, "write (line %d): unknown format \"%s\"", pn->line, fmt);
    sl_fmt_opts_init(&s->fopts);
    if (strcmp(fmt, "tsv") == 0)
        s->fopts.delimiter = '\t';
    int rc = sl_codec_from_name(pn->compression ? pn->compression : "none", &s->codec, err);
    if (rc != SL_OK)
        return sl_err_prefix(err, "write (line %d)", pn->line), rc;
    bool json = strcmp(s->ops->name, "json") == 0;
    if (s->redshift)
        s->codec = SL_COMPRESSION_GZIP;
    snprintf(s->ext, sizeof s->ext, "%s%s", json ? ".json" : strcmp(fmt, "tsv") == 0 ? ".tsv" : ".csv",
             s->codec == SL_COMPRESSION_GZIP ? ".gz" : s->codec == SL_COMPRESSION_ZSTD ? ".zst" : "");
    size_t len = strlen(uri);
    s->root_uri = len && uri[len - 1] == '/' ? sl_strdup(uri) : sl_asprintf("%s/", uri);
    sl_free(stage_root);
    if (!s->root_uri)
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    struct sl_uri u;
    if ((rc = sl_uri_parse(s->root_uri, &u, err)) != SL_OK)
        return sl_err_prefix(err, "write (line %d)", pn->line), rc;
    s->root_key = u.key;
    u.key = NULL;
    sl_uri_cleanup(&u);
    return SL_OK;
}

static int sink_ready(struct xrun *r, int node, struct xsink *s, const struct sl_rschema *in,
                      struct sl_err *err)
{
    const struct sl_plan_node *pn = &r->plan->nodes[node];
    int rc = SL_OK;
    pthread_mutex_lock(&s->mu);
    if (s->ready)
        goto out;
    s->pcols = sl_calloc(pn->n_columns + 1, sizeof *s->pcols);
    s->dcols = sl_calloc(in->n_cols + 1, sizeof *s->dcols);
    const char **names = sl_calloc(in->n_cols + 2, sizeof *names);
    enum sl_vtype *types = sl_calloc(in->n_cols + 2, sizeof *types);
    if (!s->pcols || !s->dcols || !names || !types) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; rc == SL_OK && i < pn->n_columns; i++) {
        int c = sl_rschema_find(in, pn->columns[i], strlen(pn->columns[i]));
        if (c < 0)
            rc = sl_err_set(err, SL_ECONFIG, "write (line %d): partition key \"%s\" is not a column",
                            pn->line, pn->columns[i]);
        else
            s->pcols[s->n_pcols++] = c;
    }
    for (size_t c = 0; rc == SL_OK && c < in->n_cols; c++) {
        bool part = false;
        for (size_t i = 0; i < s->n_pcols; i++)
            part |= s->pcols[i] == (int)c;
        if (part)
            continue;
        names[s->n_dcols] = in->names[c];
        types[s->n_dcols] = in->types[c];
        s->dcols[s->n_dcols++] = (int)c;
    }
    if (rc == SL_OK && s->n_dcols == 0)
        rc = sl_err_set(err, SL_ECONFIG, "write (line %d): every column is a partition key",
                        pn->line);
    if (rc == SL_OK) {
        s->rows_schema = xschema_intern(r, names, types, s->n_dcols);
        names[s->n_dcols] = "_sluice_seq";
        types[s->n_dcols] = SL_V_INT;
        s->data = s->seq ? xschema_intern(r, names, types, s->n_dcols + 1) : s->rows_schema;
        if (!s->data || !s->rows_schema)
            rc = sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    if (rc == SL_OK)
        s->ready = true;
done:
    sl_free(names);
    sl_free(types);
out:
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* Hive's escaping of a partition value in a path. */
static int escape_value(const struct sl_value *v, struct sl_buf *tmp, struct sl_buf *out,
                        struct sl_err *err)
{
    sl_buf_reset(tmp);
    int rc = v->type == SL_V_NULL ? SL_OK : sl_value_to_text(v, tmp, err);
    if (rc != SL_OK)
        return rc;
    if (tmp->len == 0)
        return sl_buf_puts(out, "__HIVE_DEFAULT_PARTITION__", err);
    for (size_t i = 0; rc == SL_OK && i < tmp->len; i++) {
        unsigned char c = (unsigned char)tmp->data[i];
        if (c < 0x20 || c == 0x7f || strchr("\"#%'*/:=?\\{[]^", c))
            rc = sl_buf_printf(out, err, "%%%02X", c);
        else
            rc = sl_buf_putc(out, (char)c, err);
    }
    return rc;
}

static struct slocal *local_of(struct xworker *w, int node)
{
    if (!w->nstate[node])
        w->nstate[node] = sl_calloc(1, sizeof(struct slocal));
    return w->nstate[node];
}

static int open_writer(struct xworker *w, int node, struct xsink *s, struct slocal *l,
                       const char *dir, size_t dir_len, struct sl_err *err)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4;
        struct swriter *v = sl_realloc(l->v, cap * sizeof *v);
        if (!v)
            return sl_err_set(err, SL_ENOMEM, "out of memory");
        l->v = v;
        l->cap = cap;
    }
    struct swriter *sw = &l->v[l->n];
    memset(sw, 0, sizeof *sw);
    sw->dir = sl_strndup(dir, dir_len);
    sw->key = sl_asprintf("%s%.*spart-%s-%05" PRIu64 "-%03" PRIu64 "%s", s->root_key,
                          (int)dir_len, dir, w->r->o->plan.run_id ? w->r->o->plan.run_id : "run",
                          w->task, l->seq++, s->ext);
    if (!sw->dir || !sw->key) {
        sl_free(sw->dir);
        sl_free(sw->key);
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    struct sl_store *st = xworker_store(w, s->root_uri, NULL, err);
    if (st && !l->started) {
        struct sl_store_stats ss;
        sl_store_get_stats(st, &ss);
        l->bytes0 = ss.bytes_written;
        l->started = true;
    }
    int rc = st ? s->ops->writer_open(st, sw->key, s->data, s->codec, &s->fopts, &sw->fw, err)
                : err->code;
    if (rc != SL_OK) {
        sl_free(sw->dir);
        sl_free(sw->key);
        return sl_err_prefix(err, "write node %d", node), rc;
    }
    l->n++;
    return SL_OK;
}

/* Writes rows [from, to) of b to the writers l->row_writer names. */
static int write_rows(struct xworker *w, struct xsink *s, struct slocal *l, struct sl_batch *b,
                      uint32_t from, uint32_t to, uint64_t seq0, struct sl_err *err)
{
    if (from >= to)
        return SL_OK;
    if (s->n_pcols == 0 && s->data == b->schema && l->n == 1 && from == 0 && to == b->n_rows) {
        l->v[0].rows += b->n_rows;
        return sl_fmt_write_batch(l->v[0].fw, b, err);
    }
    struct sl_batch *pb = xbatch_get(w, s->data);
    if (!pb)
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    int rc = SL_OK;
    for (size_t k = 0; rc == SL_OK && k < l->n; k++) {
        sl_batch_reset(pb);
        for (uint32_t i = from; i < to; i++) {
            if (l->row_writer[i] != (int)k)
                continue;
            struct sl_value *dst = sl_batch_add_row(pb, &b->origins[i]);
            if (!dst) { /* cannot happen: same row capacity, no arena use */
                rc = sl_err_set(err, SL_EINTERNAL, "write: projection batch full");
                break;
            }
            const struct sl_value *src = sl_batch_row(b, i);
            for (size_t c = 0; c < s->n_dcols; c++)
                dst[c] = src[s->dcols[c]];
            if (s->seq) {
                dst[s->n_dcols].type = SL_V_INT;
                dst[s->n_dcols].i = (int64_t)(w->task << 32 | ((seq0 + i) & 0xffffffffu));
            }
        }
        if (rc == SL_OK && pb->n_rows) {
            l->v[k].rows += pb->n_rows;
            rc = sl_fmt_write_batch(l->v[k].fw, pb, err);
        }
    }
    xbatch_put(w, pb);
    return rc;
}

/* Finishes the least recently used open file. */
static int evict_writer(struct xworker *w, int node, struct xsink *s, struct slocal *l,
                        struct sl_err *err)
{
    size_t lru = 0;
    for (size_t k = 1; k < l->n; k++)
        if (l->v[k].used < l->v[lru].used)
            lru = k;
    return close_writer(w, node, s, l, lru, true, err);
}

int xsink_consume(struct xworker *w, int node, struct sl_batch *b, struct sl_err *err)
{
    struct xsink *s = w->r->nodes[node].sink;
    if (s->db && !s->redshift)
        return xsinkdb_consume(w, node, s->db, b, err);
    struct slocal *l = local_of(w, node);
    int rc;

    if (!l)
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    if (!s->ready && (rc = sink_ready(w->r, node, s, b->schema, err)) != SL_OK)
        return rc;
    if (l->cap_rows < b->n_rows) {
        int *rw = sl_realloc(l->row_writer, b->n_rows * sizeof *rw);
        if (!rw)
            return sl_err_set(err, SL_ENOMEM, "out of memory");
        l->row_writer = rw;
        l->cap_rows = b->n_rows;
    }
    /* which writer each row goes to; when a new file would pass the open-file
     * limit, the rows assigned so far are written first, then the least
     * recently used file is finished (so no assigned row loses its file) */
    uint32_t seg = 0;
    int last = -1;
    uint64_t seq0 = w->row_seq;
    w->row_seq += b->n_rows;
    for (uint32_t i = 0; i < b->n_rows; i++) {
        const struct sl_value *row = sl_batch_row(b, i);
        sl_buf_reset(&w->kbuf);
        for (size_t k = 0; k < s->n_pcols; k++) {
            const char *name = b->schema->names[s->pcols[k]];
            if ((rc = sl_buf_printf(&w->kbuf, err, "%s=", name)) != SL_OK ||
                (rc = escape_value(&row[s->pcols[k]], &w->tbuf, &w->kbuf, err)) != SL_OK ||
                (rc = sl_buf_putc(&w->kbuf, '/', err)) != SL_OK)
                return rc;
        }
        const char *dir = w->kbuf.data ? w->kbuf.data : "";
        int found = -1;
        if (last >= 0 && strlen(l->v[last].dir) == w->kbuf.len &&
            memcmp(l->v[last].dir, dir, w->kbuf.len) == 0)
            found = last;
        for (size_t k = 0; found < 0 && k < l->n; k++)
            if (strlen(l->v[k].dir) == w->kbuf.len && memcmp(l->v[k].dir, dir, w->kbuf.len) == 0)
                found = (int)k;
        if (found < 0) {
            if (l->n == SINK_OPEN_MAX) {
                if ((rc = write_rows(w, s, l, b, seg, i, seq0, err)) != SL_OK ||
                    (rc = evict_writer(w, node, s, l, err)) != SL_OK)
                    return rc;
                seg = i;
            }
            if ((rc = open_writer(w, node, s, l, dir, w->kbuf.len, err)) != SL_OK)
                return rc;
            found = (int)l->n - 1;
        }
        l->row_writer[i] = last = found;
        l->v[found].used = ++l->rows_seen;
    }
    return write_rows(w, s, l, b, seg, b->n_rows, seq0, err);
}

int xsink_task_end(struct xworker *w, int node, bool ok, struct sl_err *err)
{
    struct xsink *s = w->r->nodes[node].sink;
    if (s->db && !s->redshift)
        return xsinkdb_task_end(w, node, ok, err);
    struct slocal *l = w->nstate[node];
    int rc = SL_OK;

    if (!l)
        return SL_OK;
    while (l->n > 0) {
        int rc2 = close_writer(w, node, s, l, l->n - 1, ok && rc == SL_OK, err);
        if (rc == SL_OK)
            rc = rc2;
    }
    if (l->started) {
        struct sl_store *st = xworker_store(w, s->root_uri, NULL, err);
        if (st) {
            struct sl_store_stats ss;
            sl_store_get_stats(st, &ss);
            atomic_fetch_add(&w->r->nodes[node].bytes_in, ss.bytes_written - l->bytes0);
        }
    }
    l->seq = 0;
    l->rows_seen = 0;
    l->started = false;
    return rc;
}

void xsink_worker_free(struct xworker *w)
{
    for (size_t i = 0; w->nstate && i < w->r->plan->n_nodes; i++) {
        struct slocal *l = w->nstate[i];
        if (w->r->plan->nodes[i].kind != SL_PLAN_WRITE || !l)
            continue;
        struct xsink *s = w->r->nodes[i].sink;
        if (s && s->db && !s->redshift) {
            xsinkdb_worker_free(w, (int)i);
            continue;
        }
        for (size_t k = 0; k < l->n; k++) {
            sl_fmt_writer_abort(l->v[k].fw);
            sl_free(l->v[k].dir);
            sl_free(l->v[k].key);
        }
        sl_free(l->v);
        sl_free(l->row_writer);
        sl_free(l);
        w->nstate[i] = NULL;
    }
}

static int cmp_files(const void *a, const void *b)
{
    const struct sfile *x = a, *y = b;
    return strcmp(x->key, y->key);
}

/* Redshift: the staging files are written; the manifest, the SQL and the load follow. */
static int redshift_publish(struct xrun *r, int node, struct xsink *s, struct sl_err *err)
{
    if (s->n_files > 1)
        qsort(s->files, s->n_files, sizeof *s->files, cmp_files);
    char **uris = sl_calloc(s->n_files + 1, sizeof *uris);
    int rc = uris ? SL_OK : sl_err_set(err, SL_ENOMEM, "out of memory");
    size_t rl = strlen(s->root_key);
    for (size_t i = 0; rc == SL_OK && i < s->n_files; i++)
        if (!(uris[i] = sl_asprintf("%s%s", s->root_uri, s->files[i].key + rl)))
            rc = sl_err_set(err, SL_ENOMEM, "out of memory");
    if (rc == SL_OK) {
        const struct sl_rschema *schema = s->rows_schema;
        if (!schema) /* no row arrived: nothing to load */
            rc = SL_OK;
        else
            rc = xsinkdb_redshift_publish(r, node, s->db, s->root_uri,
                                          (const char *const *)uris, s->n_files, schema, err);
    }
    for (size_t i = 0; uris && i < s->n_files; i++)
        sl_free(uris[i]);
    sl_free(uris);
    return rc;
}

int xsink_publish(struct xrun *r, int node, struct sl_err *err)
{
    const struct sl_plan_node *pn = &r->plan->nodes[node];
    struct xsink *s = r->nodes[node].sink;
    if (s->db && !s->redshift)
        return xsinkdb_publish(r, node, s->db, err);
    if (s->redshift)
        return redshift_publish(r, node, s, err);
    const char *run_id = r->o->plan.run_id ? r->o->plan.run_id : "run";
    size_t rl = strlen(s->root_key);
    int rc = SL_OK;

    if (s->n_files > 1)
        qsort(s->files, s->n_files, sizeof *s->files, cmp_files);
    json_t *m = json_object();
    json_t *files = json_array();
    json_t *keys = json_array();
    if (!m || !files || !keys) {
        json_decref(m);
        json_decref(files);
        json_decref(keys);
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < pn->n_columns; i++)
        json_array_append_new(keys, json_string(pn->columns[i]));
    for (size_t i = 0; i < s->n_files; i++) {
        json_t *f = json_object();
        json_object_set_new(f, "path", json_string(s->files[i].key + rl));
        json_object_set_new(f, "rows", json_integer((json_int_t)s->files[i].rows));
        json_array_append_new(files, f);
    }
    char when[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_object_set_new(m, "run_id", json_string(run_id));
    json_object_set_new(m, "job", json_string(r->o->plan.job ? r->o->plan.job : ""));
    json_object_set_new(m, "committed_at", json_string(when));
    json_object_set_new(m, "format", json_string(s->ops->name));
    json_object_set_new(m, "compression", json_string(sl_codec_label(s->codec)));
    json_object_set_new(m, "partition_keys", keys);
    json_object_set_new(m, "rows", json_integer((json_int_t)s->rows));
    json_object_set_new(m, "files", files);
    char *text = json_dumps(m, JSON_INDENT(1) | JSON_ENSURE_ASCII);
    json_decref(m);
    if (!text)
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    struct sl_store *st = sl_store_open(s->root_uri, NULL, err);
    char *mkey = sl_asprintf("%s_manifests/%s-%d.json", s->root_key, run_id, node);
    char *skey = sl_asprintf("%s_SUCCESS", s->root_key);
    if (!st)
        rc = err->code;
    else if (!mkey || !skey)
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
    if (rc == SL_OK)
        rc = sl_store_put(st, mkey, text, strlen(text), err);
    if (rc == SL_OK)
        rc = sl_store_put(st, skey, text, strlen(text), err);
    if (rc != SL_OK)
        sl_err_prefix(err, "publish %s", s->root_uri);
    free(text);
    sl_free(mkey);
    sl_free(skey);
    sl_store_free(st);
    return rc;
}

void xsink_discard(struct xrun *r, int node)
{
    struct xsink *s = r->nodes[node].sink;
    struct sl_err e = {0};
    if (s && s->db)
        xsinkdb_discard(r, node, s->db);
    if (!s || s->n_files == 0 || !s->root_uri)
        return;
    struct sl_store *st = sl_store_open(s->root_uri, NULL, &e);
    if (!st)
        return;
    const char **keys = sl_calloc(s->n_files, sizeof *keys);
    if (keys) {
        for (size_t i = 0; i < s->n_files; i++)
            keys[i] = s->files[i].key;
        sl_store_delete(st, keys, s->n_files, &e);
        sl_free(keys);
    }
    sl_store_free(st);
    for (size_t i = 0; i < s->n_files; i++)
        sl_free(s->files[i].key);
    s->n_files = 0;
}

int xsink_collect(struct xrun *r, int node, struct sl_exec_result *res)
{
    struct xsink *s = r->nodes[node].sink;
    char **v = sl_realloc(res->files, (res->n_files + s->n_files + 1) * sizeof *v);
    if (!v)
        return SL_ENOMEM;
    res->files = v;
    struct sl_store *st = NULL;
    for (size_t i = 0; i < s->n_files; i++) {
        /* URIs in the form the user wrote the root */
        char *u = sl_asprintf("%s%s", s->root_uri, s->files[i].key + strlen(s->root_key));
        if (u)
            res->files[res->n_files++] = u;
    }
    sl_store_free(st);
    return SL_OK;
}

void xsink_free(struct xrun *r, int node)
{
    struct xsink *s = r->nodes[node].sink;
    if (!s)
        return;
    for (size_t i = 0; i < s->n_files; i++)
        sl_free(s->files[i].key);
    sl_free(s->files);
    sl_free(s->pcols);
    sl_free(s->dcols);
    sl_free(s->root_uri);
    sl_free(s->root_key);
    xsinkdb_free(s->db);
    pthread_mutex_destroy(&s->mu);
    sl_free(s);
    r->nodes[node].sink = NULL;
}
