/*
 * runtime/pgload_target.c - database write targets ("postgres:schema.table",
 * "postgres://...#schema.table", "redshift://...#schema.table") parsed into
 * a connection string and the two names. Names follow SQL's rules: unquoted
 * ones are lowercased and may hold only letters, digits, _ and $ (anything
 * else, e.g. "t; DROP TABLE x", is refused rather than guessed at), quoted
 * ones keep every character but control characters, with "" for a quote.
 * Loading is in pgload.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libpq-fe.h>

#include "alloc.h"
#include "log.h"
#include "pgload_internal.h"

#define TARGET_NAME_MAX PGL_NAME_MAX

static int scheme_of(const char *uri, enum sl_pgload_dialect *d, size_t *len)
{
    static const struct {
        const char *name;
        enum sl_pgload_dialect d;
    } schemes[] = {
        {"postgresql:", SL_PGLOAD_POSTGRES},
        {"postgres:", SL_PGLOAD_POSTGRES},
        {"redshift:", SL_PGLOAD_REDSHIFT},
    };
    for (size_t i = 0; uri && i < SL_ARRAY_LEN(schemes); i++) {
        size_t n = strlen(schemes[i].name);
        if (strncasecmp(uri, schemes[i].name, n) == 0) {
            *d = schemes[i].d;
            *len = n;
            return 1;
        }
    }
    return 0;
}

bool sl_pgload_is_target(const char *uri)
{
    enum sl_pgload_dialect d;
    size_t n;
    return scheme_of(uri, &d, &n) != 0;
}

bool sl_pgload_target_is_catalog(const struct sl_pgload_target *t)
{
    const char *env = getenv("SLUICE_CATALOG");

    if (!t || t->dialect != SL_PGLOAD_POSTGRES || !t->conninfo)
        return false;
    /* "" resolves exactly as the catalog does (connect_main in pgload.c and
     * sl_catalog_open): SLUICE_CATALOG when set, else the embedded cluster */
    if (!*t->conninfo)
        return true;
    return env && *env && strcmp(t->conninfo, env) == 0;
}

/* Reads one name at *pp into *out (owned); *pp moves past it. */
static int parse_name(const char **pp, const char *kind, const char *what, char **out,
                      struct sl_err *err)
{
    const char *p = *pp;
    char buf[4 * TARGET_NAME_MAX + 8];
    size_t o = 0;
    bool too_long = false;

    if (*p == '"') {
        p++;
        for (;;) {
            if (*p == '\0')
                return sl_err_set(err, SL_ECONFIG, "%s target: unterminated quoted %s name", kind,
                                  what);
            if (*p == '"') {
                if (p[1] != '"')
                    break;
                p++;
            }
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
                return sl_err_set(err, SL_ECONFIG,
                                  "%s target: a NUL or control character in a name", kind);
            if (o < sizeof buf - 1)
                buf[o++] = *p;
            else
                too_long = true;
            p++;
        }
        p++; /* the closing quote */
    } else {
        const char *start = p;
        for (; *p && *p != '.'; p++) {
            unsigned char c = (unsigned char)*p;
            if (c < 0x20 || c == 0x7f)
                return sl_err_set(err, SL_ECONFIG,
                                  "%s target: a NUL or control character in a name", kind);
            bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '_' || c == '$' || c >= 0x80;
            if (!ok) {
                size_t n = strlen(start);
                return sl_err_set(err, SL_ECONFIG,
                                  "%s target: \"%.*s\" is not a plain %s name (letters, digits, _ "
                                  "and $; double-quote other names)",
                                  kind, (int)(n > 80 ? 80 : n), start, what);
            }
            if (o < sizeof buf - 1)
                buf[o++] = (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
            else
                too_long = true;
        }
    }
    buf[o] = '\0';
    if (o == 0)
        return sl_err_set(err, SL_ECONFIG, "%s target: empty %s name", kind, what);
    if (too_long || o > TARGET_NAME_MAX)
        return sl_err_set(err, SL_ECONFIG,
                          "%s target: %s name \"%.40s...\" is longer than %d bytes", kind, what,
                          buf, TARGET_NAME_MAX);
    if (!pgl_utf8_valid(buf, o))
        return sl_err_set(err, SL_ECONFIG, "%s target: %s name is not valid UTF-8", kind, what);
    *out = sl_strdup(buf);
    if (!*out)
        return sl_err_set(err, SL_ENOMEM, "%s target: out of memory", kind);
    *pp = p;
    return SL_OK;
}

/* Whether p holds a '.' outside double quotes (then its first name is a schema). */
static bool has_dot(const char *p)
{
    bool quoted = false;
    for (; *p; p++) {
        if (*p == '"')
            quoted = !quoted; /* "" inside quotes toggles twice */
        else if (*p == '.' && !quoted)
            return true;
    }
    return false;
}

/* SCHEMA.TABLE or TABLE (schema "public"). */
static int parse_names(const char *p, const char *kind, struct sl_pgload_target *out,
                       struct sl_err *err)
{
    char *first = NULL, *second = NULL;
    int rc = parse_name(&p, kind, has_dot(p) ? "schema" : "table", &first, err);

    if (rc != SL_OK)
        goto fail;
    if (*p == '.') {
        p++;
        if (*p == '\0') {
            rc = sl_err_set(err, SL_ECONFIG, "%s target: empty table name", kind);
            goto fail;
        }
        rc = parse_name(&p, kind, "table", &second, err);
        if (rc != SL_OK)
            goto fail;
    }
    if (*p == '.') {
        rc = sl_err_set(err, SL_ECONFIG, "%s target: expected SCHEMA.TABLE, got more names", kind);
        goto fail;
    }
    if (*p != '\0') {
        rc = sl_err_set(err, SL_ECONFIG, "%s target: unexpected text after the table name", kind);
        goto fail;
    }
    if (second) {
        out->schema = first;
        out->table = second;
    } else {
        out->schema = sl_strdup("public");
        out->table = first;
        if (!out->schema) {
            rc = sl_err_set(err, SL_ENOMEM, "%s target: out of memory", kind);
            goto fail;
        }
    }
    return SL_OK;
fail:
    sl_free(first);
    sl_free(second);
    return rc;
}

int sl_pgload_target_parse(const char *uri, struct sl_pgload_target *out, struct sl_err *err)
{
    enum sl_pgload_dialect d;
    size_t n_scheme;
    const char *kind;
    const char *rest, *hash;
    int rc;

    memset(out, 0, sizeof *out);
    if (!scheme_of(uri, &d, &n_scheme))
        return sl_err_set(err, SL_ECONFIG,
                          "not a database target (postgres:, postgresql: or redshift:)");
    kind = d == SL_PGLOAD_REDSHIFT ? "redshift" : "postgres";
    out->dialect = d;
    rest = uri + n_scheme;
    if (strncmp(rest, "//", 2) != 0) {
        if (d == SL_PGLOAD_REDSHIFT)
            return sl_err_set(err, SL_ECONFIG,
                              "redshift target: needs a connection URI "
                              "(redshift://USER@HOST:PORT/DB#SCHEMA.TABLE)");
        out->conninfo = sl_strdup("");
        if (!out->conninfo)
            return sl_err_set(err, SL_ENOMEM, "postgres target: out of memory");
        rc = parse_names(rest, kind, out, err);
        if (rc != SL_OK)
            sl_pgload_target_cleanup(out);
        return rc;
    }
    hash = strchr(rest, '#');
    if (!hash) {
        return sl_err_set(err, SL_ECONFIG,
                          "%s target: expected #SCHEMA.TABLE after the connection URI", kind);
    }
    /* libpq knows postgres:// and postgresql://; Redshift speaks the same
     * protocol, so its URI becomes a postgresql:// one. */
    out->conninfo = sl_asprintf("%s%.*s", d == SL_PGLOAD_REDSHIFT ? "postgresql:" : "",
                                (int)(hash - (d == SL_PGLOAD_REDSHIFT ? rest : uri)),
                                d == SL_PGLOAD_REDSHIFT ? rest : uri);
    if (!out->conninfo)
        return sl_err_set(err, SL_ENOMEM, "%s target: out of memory", kind);
    {
        char *perr = NULL;
        PQconninfoOption *opts = PQconninfoParse(out->conninfo, &perr);
        if (!opts) {
            char why[256];
            sl_redact_line(perr ? perr : "out of memory", why, sizeof why);
            PQfreemem(perr);
            sl_pgload_target_cleanup(out);
            return sl_err_set(err, SL_ECONFIG, "%s target: invalid connection URI: %s", kind, why);
        }
        PQconninfoFree(opts);
    }
    rc = parse_names(hash + 1, kind, out, err);
    if (rc != SL_OK)
        sl_pgload_target_cleanup(out);
    return rc;
}

void sl_pgload_target_cleanup(struct sl_pgload_target *t)
{
    if (!t)
        return;
    sl_free(t->conninfo);
    sl_free(t->schema);
    sl_free(t->table);
    t->conninfo = t->schema = t->table = NULL;
}
