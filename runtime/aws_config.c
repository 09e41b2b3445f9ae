/*
 * runtime/aws_config.c - resolves S3 endpoint, region and credentials the way
 * the AWS SDKs do (see aws_config.h for the precedence). Holds the small INI
 * reader for ~/.aws/credentials and ~/.aws/config; the S3 client that uses the
 * result is in store_s3*.c.
 */
#include "aws_config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"
#include "buf.h"

#define SL_AWS_FILE_MAX ((size_t)1 << 20) /* bytes; real config files are a few KiB */

/* ---- INI files ---- */

/* One "key = value" line. parent is set for indented lines under a key with an
 * empty value (botocore's nested sections: "s3 =\n  endpoint_url = ..."). */
struct ini_entry {
    char *section; /* owned; as written between the brackets, trimmed */
    char *parent;  /* owned; NULL for top-level keys */
    char *key;     /* owned; lower case */
    char *value;   /* owned; trimmed */
};

struct ini {
    const char *path; /* borrowed; for messages */
    bool present;     /* the file existed */
    struct ini_entry *entries;
    size_t n_entries, cap_entries;
};

static void ini_cleanup(struct ini *f)
{
    for (size_t i = 0; i < f->n_entries; i++) {
        sl_free(f->entries[i].section);
        sl_free(f->entries[i].parent);
        sl_free(f->entries[i].key);
        sl_free(f->entries[i].value);
    }
    sl_free(f->entries);
    f->entries = NULL;
    f->n_entries = f->cap_entries = 0;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

static int ini_add(struct ini *f, const char *section, const char *parent, const char *key,
                   const char *value, struct sl_err *err)
{
    if (f->n_entries == f->cap_entries) {
        size_t cap = f->cap_entries ? f->cap_entries * 2 : 16;
        struct ini_entry *e = sl_realloc(f->entries, cap * sizeof *e);
        if (!e)
            return sl_err_set(err, SL_ENOMEM, "out of memory reading \"%s\"", f->path);
        f->entries = e;
        f->cap_entries = cap;
    }
    struct ini_entry *e = &f->entries[f->n_entries];
    e->section = sl_strdup(section);
    e->parent = parent ? sl_strdup(parent) : NULL;
    e->key = sl_strdup(key);
    e->value = sl_strdup(value);
    if (!e->section || (parent && !e->parent) || !e->key || !e->value) {
        sl_free(e->section);
        sl_free(e->parent);
        sl_free(e->key);
        sl_free(e->value);
        return sl_err_set(err, SL_ENOMEM, "out of memory reading \"%s\"", f->path);
    }
    for (char *p = e->key; *p; p++) {
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    }
    f->n_entries++;
    return SL_OK;
}

/* Parses text (modified in place) like Python's configparser as botocore uses
 * it: '#'/';' comment lines, [section] headers, "key = value" or "key: value",
 * indented lines continuing the previous key. Values are never quoted. */
static int ini_parse(struct ini *f, char *text, struct sl_err *err)
{
    char section[256] = "";
    char last_key[256] = "";
    bool in_section = false;
    bool last_empty = false; /* the last top-level key had an empty value */
    unsigned line_no = 0;
    char *save = NULL;

    for (char *line = text; line; line = save) {
        char *nl = strchr(line, '\n');
        save = nl ? nl + 1 : NULL;
        if (nl)
            *nl = '\0';
        line_no++;
        bool indented = line[0] == ' ' || line[0] == '\t';
        char *s = trim(line);
        if (!*s || *s == '#' || *s == ';')
            continue;
        if (*s == '[' && !indented) {
            char *close = strrchr(s, ']');
            if (!close)
                return sl_err_set(err, SL_ECONFIG, "%s:%u: section header without ']'", f->path,
                                  line_no);
            *close = '\0';
            snprintf(section, sizeof section, "%s", trim(s + 1));
            in_section = true;
            last_key[0] = '\0';
            last_empty = false;
            continue;
        }
        size_t klen = strcspn(s, "=:");
        if (!s[klen]) {
            if (indented && last_key[0])
                continue; /* a continuation line of a multi-line value: unused here */
            return sl_err_set(err, SL_ECONFIG, "%s:%u: expected \"key = value\"", f->path,
                              line_no);
        }
        if (!in_section)
            return sl_err_set(err, SL_ECONFIG, "%s:%u: setting outside of a [section]", f->path,
                              line_no);
        s[klen] = '\0';
        char *key = trim(s);
        char *value = trim(s + klen + 1);
        int rc;
        if (indented && last_key[0]) {
            if (!last_empty)
                continue; /* continuation of a non-empty value */
            rc = ini_add(f, section, last_key, key, value, err);
        } else {
            snprintf(last_key, sizeof last_key, "%s", key);
            for (char *p = last_key; *p; p++) {
                if (*p >= 'A' && *p <= 'Z')
                    *p = (char)(*p - 'A' + 'a');
            }
            last_empty = !*value;
            rc = ini_add(f, section, NULL, key, value, err);
        }
        if (rc)
            return rc;
    }
    return SL_OK;
}

/* Reads and parses path; a missing file leaves f empty (present = false). */
static int ini_load(struct ini *f, const char *path, struct sl_err *err)
{
    struct sl_buf b;
    FILE *fp = NULL;
    int rc = SL_OK;

    f->path = path;
    sl_buf_init(&b, SL_AWS_FILE_MAX);
    fp = fopen(path, "rb");
    if (!fp) {
        int e = errno;
        if (e == ENOENT || e == ENOTDIR)
            return SL_OK;
        rc = sl_err_sys(err, SL_ECONFIG, e, "cannot read \"%s\"", path);
        goto fail;
    }
    f->present = true;
    for (;;) {
        rc = sl_buf_reserve(&b, 4096, err);
        if (rc) {
            if (rc == SL_ELIMIT)
                rc = sl_err_set(err, SL_ECONFIG, "\"%s\" is larger than %zu bytes", path,
                                (size_t)SL_AWS_FILE_MAX);
            goto fail;
        }
        size_t n = fread(b.data + b.len, 1, 4096, fp);
        b.len += n;
        b.data[b.len] = '\0';
        if (n < 4096) {
            if (ferror(fp)) {
                rc = sl_err_sys(err, SL_ECONFIG, errno, "cannot read \"%s\"", path);
                goto fail;
            }
            break;
        }
    }
    fclose(fp);
    fp = NULL;
    if (b.data && memchr(b.data, '\0', b.len)) {
        rc = sl_err_set(err, SL_ECONFIG, "\"%s\" is not a text file", path);
        goto fail;
    }
    if (b.data)
        rc = ini_parse(f, b.data, err);
    if (rc)
        goto fail;
    sl_buf_cleanup(&b);
    return SL_OK;
fail:
    if (fp)
        fclose(fp);
    sl_buf_cleanup(&b);
    ini_cleanup(f);
    return rc;
}

/* The last value of key (in parent, or top level) in section; NULL if none. */
static const char *ini_get(const struct ini *f, const char *section, const char *parent,
                           const char *key)
{
    const char *v = NULL;
    for (size_t i = 0; i < f->n_entries; i++) {
        const struct ini_entry *e = &f->entries[i];
        if (strcmp(e->section, section) != 0 || strcmp(e->key, key) != 0)
            continue;
        if ((parent == NULL) != (e->parent == NULL))
            continue;
        if (parent && strcmp(parent, e->parent) != 0)
            continue;
        v = e->value;
    }
    return v;
}

static bool ini_has_section(const struct ini *f, const char *section)
{
    for (size_t i = 0; i < f->n_entries; i++) {
        if (strcmp(f->entries[i].section, section) == 0)
            return true;
    }
    return false;
}

/* ---- Profiles ---- */

/* Where a profile lives in the config file: "[profile NAME]", and for the
 * default profile also "[default]" (which botocore reads too). */
struct profile {
    const struct ini *creds;
    const struct ini *conf;
    const char *name;
    char conf_section[300]; /* "profile NAME" */
};

static const char *conf_get(const struct profile *p, const char *parent, const char *key)
{
    const char *v = ini_get(p->conf, p->conf_section, parent, key);
    if (!v && strcmp(p->name, "default") == 0)
        v = ini_get(p->conf, "default", parent, key);
    return v && *v ? v : NULL;
}

static const char *creds_get(const struct profile *p, const char *key)
{
    const char *v = ini_get(p->creds, p->name, NULL, key);
    return v && *v ? v : NULL;
}

static bool profile_exists(const struct profile *p)
{
    if (ini_has_section(p->creds, p->name) || ini_has_section(p->conf, p->conf_section))
        return true;
    return strcmp(p->name, "default") == 0 && ini_has_section(p->conf, "default");
}

/* ---- Resolution ---- */

static const char *env_real(void *ud, const char *name)
{
    (void)ud;
    return getenv(name);
}

/* A set, non-empty environment variable, else NULL (SDKs ignore empty ones). */
static const char *env_get(const struct sl_aws_config_src *src, const char *name)
{
    const char *v = src->getenv(src->getenv_ud, name);
    return v && *v ? v : NULL;
}

static bool is_true(const char *v)
{
    return v && strcasecmp(v, "true") == 0;
}

/* A file path: explicit, else from env var, else ~/.aws/<name>. Owned, or
 * NULL with *oom set when allocation failed (NULL without *oom: no HOME). */
static char *file_path(const struct sl_aws_config_src *src, const char *explicit_path,
                       const char *env_name, const char *base, bool *oom)
{
    const char *p = explicit_path ? explicit_path : env_get(src, env_name);
    char *out;
    *oom = false;
    if (p && p[0] == '~' && (p[1] == '/' || !p[1])) {
        const char *home = env_get(src, "HOME");
        if (!home)
            return NULL;
        out = sl_asprintf("%s%s", home, p + 1);
    } else if (p) {
        out = sl_strdup(p);
    } else {
        const char *home = env_get(src, "HOME");
        if (!home)
            return NULL;
        out = sl_asprintf("%s/.aws/%s", home, base);
    }
    *oom = !out;
    return out;
}

/* Checks "http(s)://host..." and copies it without trailing slashes. */
static int set_endpoint(struct sl_aws_config *cfg, const char *url, const char *from,
                        struct sl_err *err)
{
    size_t skip;
    if (strncasecmp(url, "http://", 7) == 0)
        skip = 7;
    else if (strncasecmp(url, "https://", 8) == 0)
        skip = 8;
    else
        return sl_err_set(err, SL_ECONFIG,
                          "%s: endpoint URL must start with http:// or https://", from);
    if (!url[skip] || url[skip] == '/')
        return sl_err_set(err, SL_ECONFIG, "%s: endpoint URL has no host", from);
    for (const char *p = url; *p; p++) {
        if ((unsigned char)*p <= ' ' || *p == 0x7f || *p == '?' || *p == '#')
            return sl_err_set(err, SL_ECONFIG,
                              "%s: endpoint URL may not contain spaces, '?' or '#'", from);
    }
    if (strchr(url + skip, '@'))
        return sl_err_set(err, SL_ECONFIG, "%s: endpoint URL may not contain user info", from);
    size_t n = strlen(url);
    while (n > skip && url[n - 1] == '/')
        n--;
    cfg->endpoint = sl_strndup(url, n);
    if (!cfg->endpoint)
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    cfg->endpoint_is_custom = true;
    return SL_OK;
}

static int dup3(struct sl_aws_config *cfg, const char *id, const char *secret, const char *token,
                struct sl_err *err)
{
    cfg->access_key_id = sl_strdup(id);
    cfg->secret_access_key = sl_strdup(secret);
    cfg->session_token = token ? sl_strdup(token) : NULL;
    if (!cfg->access_key_id || !cfg->secret_access_key || (token && !cfg->session_token))
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    return SL_OK;
}

/* Credentials from a profile, in botocore's provider order: assume-role, web
 * identity and SSO come before the credentials file (and are refused here), a
 * credential_process after it, then the config file's static keys. */
static int creds_from_profile(struct sl_aws_config *cfg, const struct profile *p,
                              struct sl_err *err)
{
    static const char *const unsupported_first[] = {
        "role_arn", "web_identity_token_file", "sso_session", "sso_start_url",
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(unsupported_first); i++) {
        if (conf_get(p, NULL, unsupported_first[i]) || creds_get(p, unsupported_first[i]))
            return sl_err_set(err, SL_ECONFIG,
                              "profile \"%s\" uses %s, which sluice does not support: set "
                              "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (e.g. from \"aws "
                              "configure export-credentials\")",
                              p->name, unsupported_first[i]);
    }
    const char *id = creds_get(p, "aws_access_key_id");
    const char *secret = creds_get(p, "aws_secret_access_key");
    if (id || secret) {
        if (!id || !secret)
            return sl_err_set(err, SL_ECONFIG,
                              "profile \"%s\" in \"%s\" has %s but no %s", p->name,
                              p->creds->path, id ? "aws_access_key_id" : "aws_secret_access_key",
                              id ? "aws_secret_access_key" : "aws_access_key_id");
        cfg->cred_source = SL_AWS_CRED_CREDENTIALS_FILE;
        return dup3(cfg, id, secret, creds_get(p, "aws_session_token"), err);
    }
    if (conf_get(p, NULL, "credential_process") || creds_get(p, "credential_process"))
        return sl_err_set(err, SL_ECONFIG,
                          "profile \"%s\" uses credential_process, which sluice does not "
                          "support: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
                          p->name);
    id = conf_get(p, NULL, "aws_access_key_id");
    secret = conf_get(p, NULL, "aws_secret_access_key");
    if (id || secret) {
        if (!id || !secret)
            return sl_err_set(err, SL_ECONFIG,
                              "profile \"%s\" in \"%s\" has %s but no %s", p->name,
                              p->conf->path, id ? "aws_access_key_id" : "aws_secret_access_key",
                              id ? "aws_secret_access_key" : "aws_access_key_id");
        cfg->cred_source = SL_AWS_CRED_CONFIG_FILE;
        return dup3(cfg, id, secret, conf_get(p, NULL, "aws_session_token"), err);
    }
    return SL_OK;
}

static int resolve(struct sl_aws_config *cfg, const struct sl_aws_config_src *src,
                   struct ini *creds, struct ini *conf, struct sl_err *err)
{
    int rc;
    bool oom;
    char *creds_path = file_path(src, src->credentials_file, "AWS_SHARED_CREDENTIALS_FILE",
                                 "credentials", &oom);
    if (oom)
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    char *conf_path = file_path(src, src->config_file, "AWS_CONFIG_FILE", "config", &oom);
    if (oom) {
        sl_free(creds_path);
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    /* ini->path borrows these; they are freed with the ini's below. */
    rc = creds_path ? ini_load(creds, creds_path, err) : SL_OK;
    if (!rc && conf_path)
        rc = ini_load(conf, conf_path, err);
    if (!creds_path)
        creds->path = "~/.aws/credentials";
    if (!conf_path)
        conf->path = "~/.aws/config";
    if (rc)
        goto done;

    const char *pname = env_get(src, "AWS_PROFILE");
    bool named = pname != NULL;
    if (!pname)
        pname = env_get(src, "AWS_DEFAULT_PROFILE");
    named = named || pname != NULL;
    if (!pname)
        pname = "default";
    struct profile p = { .creds = creds, .conf = conf, .name = pname };
    snprintf(p.conf_section, sizeof p.conf_section, "profile %s", pname);
    cfg->profile = sl_strdup(pname);
    if (!cfg->profile) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto done;
    }
    if (named && strcmp(pname, "default") != 0 && !profile_exists(&p)) {
        rc = sl_err_set(err, SL_ECONFIG,
                        "profile \"%s\" (AWS_PROFILE) not found in \"%s\" or \"%s\"", pname,
                        creds->path, conf->path);
        goto done;
    }

    /* credentials */
    const char *id = env_get(src, "AWS_ACCESS_KEY_ID");
    const char *secret = env_get(src, "AWS_SECRET_ACCESS_KEY");
    if (id || secret) {
        if (!id || !secret) {
            rc = sl_err_set(err, SL_ECONFIG, "%s is set but %s is not",
                            id ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
                            id ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
            goto done;
        }
        const char *token = env_get(src, "AWS_SESSION_TOKEN");
        if (!token)
            token = env_get(src, "AWS_SECURITY_TOKEN");
        cfg->cred_source = SL_AWS_CRED_ENV;
        rc = dup3(cfg, id, secret, token, err);
    } else {
        rc = creds_from_profile(cfg, &p, err);
        if (!rc && cfg->cred_source == SL_AWS_CRED_NONE) {
            static const char *const unsupported_env[] = {
                "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            };
            for (size_t i = 0; i < SL_ARRAY_LEN(unsupported_env); i++) {
                if (env_get(src, unsupported_env[i])) {
                    rc = sl_err_set(err, SL_ECONFIG,
                                    "%s is set, but sluice does not fetch such credentials: "
                                    "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
                                    unsupported_env[i]);
                    break;
                }
            }
        }
    }
    if (rc)
        goto done;

    /* region */
    const char *region = env_get(src, "AWS_REGION");
    if (!region)
        region = env_get(src, "AWS_DEFAULT_REGION");
    if (!region)
        region = conf_get(&p, NULL, "region");
    if (!region)
        region = "us-east-1";
    for (const char *r = region; *r; r++) {
        if (!((*r >= 'a' && *r <= 'z') || (*r >= 'A' && *r <= 'Z') || (*r >= '0' && *r <= '9') ||
              *r == '-')) {
            rc = sl_err_set(err, SL_ECONFIG, "region \"%s\" is not a valid region name", region);
            goto done;
        }
    }
    cfg->region = sl_strdup(region);
    if (!cfg->region) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto done;
    }

    /* endpoint: service-specific env, global env, services section, profile */
    if (!is_true(env_get(src, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")) &&
        !is_true(conf_get(&p, NULL, "ignore_configured_endpoint_urls"))) {
        const char *url;
        char from[300];
        if ((url = env_get(src, "AWS_ENDPOINT_URL_S3"))) {
            rc = set_endpoint(cfg, url, "AWS_ENDPOINT_URL_S3", err);
        } else if ((url = env_get(src, "AWS_ENDPOINT_URL"))) {
            rc = set_endpoint(cfg, url, "AWS_ENDPOINT_URL", err);
        } else {
            const char *services = conf_get(&p, NULL, "services");
            url = NULL;
            if (services) {
                char sect[300];
                snprintf(sect, sizeof sect, "services %s", services);
                url = ini_get(conf, sect, "s3", "endpoint_url");
                snprintf(from, sizeof from, "%s [services %s] s3 endpoint_url", conf->path,
                         services);
            }
            if (!url || !*url) {
                url = conf_get(&p, NULL, "endpoint_url");
                snprintf(from, sizeof from, "%s profile \"%s\" endpoint_url", conf->path, pname);
            }
            if (url)
                rc = set_endpoint(cfg, url, from, err);
        }
        if (rc)
            goto done;
    }
    if (!cfg->endpoint) {
        cfg->endpoint = sl_aws_config_default_endpoint(cfg->region);
        if (!cfg->endpoint) {
            rc = sl_err_set(err, SL_ENOMEM, "out of memory");
            goto done;
        }
    }
    cfg->path_style = cfg->endpoint_is_custom;
    const char *style = conf_get(&p, "s3", "addressing_style");
    if (style && strcasecmp(style, "path") == 0)
        cfg->path_style = true;
    else if (style && strcasecmp(style, "virtual") == 0)
        cfg->path_style = false;
done:
    ini_cleanup(creds);
    ini_cleanup(conf);
    sl_free(creds_path);
    sl_free(conf_path);
    return rc;
}

int sl_aws_config_resolve(struct sl_aws_config *cfg, const struct sl_aws_config_src *src,
                          struct sl_err *err)
{
    struct sl_aws_config_src real = { 0 };
    struct ini creds = { 0 }, conf = { 0 };

    memset(cfg, 0, sizeof *cfg);
    if (src)
        real = *src;
    if (!real.getenv)
        real.getenv = env_real;
    int rc = resolve(cfg, &real, &creds, &conf, err);
    if (rc) {
        sl_aws_config_cleanup(cfg);
        return sl_err_prefix(err, "aws configuration");
    }
    return SL_OK;
}

/* Overwrites secrets before freeing them, so they do not linger in freed heap
 * memory that a later core dump or bug could show. */
static void free_secret(char *s)
{
    if (s) {
        volatile char *p = s;
        while (*p)
            *p++ = '\0';
    }
    sl_free(s);
}

void sl_aws_config_cleanup(struct sl_aws_config *cfg)
{
    if (!cfg)
        return;
    free_secret(cfg->access_key_id);
    free_secret(cfg->secret_access_key);
    free_secret(cfg->session_token);
    sl_free(cfg->region);
    sl_free(cfg->endpoint);
    sl_free(cfg->profile);
    memset(cfg, 0, sizeof *cfg);
}

char *sl_aws_config_default_endpoint(const char *region)
{
    const char *suffix = strncmp(region, "cn-", 3) == 0 ? ".cn" : "";
    return sl_asprintf("https://s3.%s.amazonaws.com%s", region, suffix);
}

const char *sl_aws_cred_source_name(enum sl_aws_cred_source s)
{
    switch (s) {
    case SL_AWS_CRED_NONE: return "anonymous";
    case SL_AWS_CRED_ENV: return "env";
    case SL_AWS_CRED_CREDENTIALS_FILE: return "credentials file";
    case SL_AWS_CRED_CONFIG_FILE: return "config file";
    }
    return "?";
}
