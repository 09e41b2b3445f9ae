/*
 * runtime/pgembed.c - the embedded default PostgreSQL cluster (see pgembed.h
 * for the layout and the fallbacks). initdb and pg_ctl run as child processes
 * (fork + execve with argv arrays, never a shell); as root they run as the
 * "postgres" user, whose uid, gid and groups are looked up before the fork so
 * that the child only makes async-signal-safe calls. The one SQL statement we
 * send (CREATE DATABASE) is in catalog_sql.h.
 */
#include "pgembed.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <grp.h>
#include <libpq-fe.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "catalog_internal.h"
#include "catalog_sql.h"

#define SL_PGEMBED_PORT "5432"            /* private socket directory: no clash */
#define SL_PGEMBED_SOCK_FILE "/.s.PGSQL.5432"
#define SL_PGEMBED_SOCK_MAX 107           /* sun_path is 108 bytes with the NUL */
#define SL_PGEMBED_WAIT "60"              /* seconds pg_ctl waits for start/stop */
#define SL_PGEMBED_DEFAULT_BINDIR "/usr/lib/postgresql/15/bin"
#define SL_PGEMBED_MAX_GROUPS 64

extern char **environ;

struct sl_pgembed {
    char *home;      /* absolute $SLUICE_HOME */
    char *pg_dir;    /* home/pg */
    char *lock;      /* home/pg.lock */
    char *tmp_root;  /* /tmp/sluice-<hash>, for the fallbacks */
    char *base;      /* pg_dir, or tmp_root/pg */
    char *data;      /* base/data */
    char *sock;      /* base/sock, or tmp_root/sock */
    char *log;       /* base/log */
    char *conninfo;
    char note[512];
    char bindir[PATH_MAX]; /* "" until found */
    int as_postgres;       /* root: children run as the postgres user */
    uid_t run_uid;
    gid_t run_gid;
    gid_t groups[SL_PGEMBED_MAX_GROUPS];
    int n_groups;
};

/* ---- Small helpers ---- */

static int path_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

static char *join(const char *a, const char *b)
{
    return sl_asprintf("%s/%s", a, b);
}

/* Absolute, with "." components and repeated slashes removed (".." is kept:
 * no symlink resolution, the user's spelling of the path stays). */
static char *absolute(const char *p)
{
    char cwd[PATH_MAX];
    char *raw;
    char *out;
    size_t o = 0;

    if (p[0] == '/') {
        raw = sl_strdup(p);
    } else {
        if (!getcwd(cwd, sizeof cwd))
            return NULL;
        raw = join(cwd, p);
    }
    if (!raw)
        return NULL;
    out = sl_alloc(strlen(raw) + 2);
    if (!out) {
        sl_free(raw);
        return NULL;
    }
    for (const char *s = raw; *s;) {
        while (*s == '/')
            s++;
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == 0)
            break;
        if (!(n == 1 && s[0] == '.')) {
            out[o++] = '/';
            memcpy(out + o, s, n);
            o += n;
        }
        s += n;
    }
    if (o == 0)
        out[o++] = '/';
    out[o] = '\0';
    sl_free(raw);
    return out;
}

/* libpq and postgresql.conf quoting: value in single quotes, ' and \ escaped
 * with a backslash (libpq) or ' doubled (conf). */
static char *quote(const char *s, int conf_style)
{
    char *out = sl_alloc(2 * strlen(s) + 3);
    size_t o = 0;

    if (!out)
        return NULL;
    out[o++] = '\'';
    for (; *s; s++) {
        if (*s == '\'')
            out[o++] = conf_style ? '\'' : '\\';
        else if (*s == '\\' && !conf_style)
            out[o++] = '\\';
        out[o++] = *s;
    }
    out[o++] = '\'';
    out[o] = '\0';
    return out;
}

/* mkdir -p with mode for the parts we create. */
static int mkdir_p(const char *path, mode_t mode, struct sl_err *err)
{
    char buf[PATH_MAX];
    size_t n = strlen(path);

    if (n >= sizeof buf)
        return sl_err_set(err, SL_ECONFIG, "path \"%s\" is too long", path);
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char saved = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, mode) != 0 && errno != EEXIST)
            return sl_err_sys(err, SL_EIO, errno, "cannot create directory \"%s\"", buf);
        buf[i] = saved;
    }
    return SL_OK;
}

/* A directory we create (or find) for the server: not a symlink, a directory,
 * and when we created it, owned by the run user with mode 'mode'. In /tmp an
 * existing one must already belong to us or the run user. */
static int server_dir(const struct sl_pgembed *pe, const char *path, mode_t mode, int chown_it,
                      struct sl_err *err)
{
    struct stat st;

    if (mkdir(path, mode) == 0) {
        if (chown_it && pe->as_postgres && chown(path, pe->run_uid, pe->run_gid) != 0)
            return sl_err_sys(err, SL_EIO, errno, "cannot hand \"%s\" to postgres", path);
        return SL_OK;
    }
    if (errno != EEXIST)
        return sl_err_sys(err, SL_EIO, errno, "cannot create directory \"%s\"", path);
    if (lstat(path, &st) != 0)
        return sl_err_sys(err, SL_EIO, errno, "cannot stat \"%s\"", path);
    if (!S_ISDIR(st.st_mode))
        return sl_err_set(err, SL_EIO, "\"%s\" exists and is not a directory", path);
    if (st.st_uid != getuid() && st.st_uid != pe->run_uid)
        return sl_err_set(err, SL_EACCESS, "\"%s\" belongs to another user (uid %u); remove it",
                          path, (unsigned)st.st_uid);
    return SL_OK;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path) != 0 ? -1 : 0;
}

/* Removes a tree that is ours (the half-made data.init of a failed initdb). */
static int rm_tree(const char *path)
{
    if (!path_exists(path))
        return 0;
    return nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- Child processes ---- */

/* The environment minus PG* variables (PGDATA, PGPORT, PGOPTIONS... would
 * redirect initdb, pg_ctl or the server). Owned array of borrowed strings. */
static char **child_env(void)
{
    size_t n = 0;
    char **env;

    for (char **e = environ; e && *e; e++)
        n++;
    env = sl_calloc(n + 1, sizeof *env);
    if (!env)
        return NULL;
    n = 0;
    for (char **e = environ; e && *e; e++) {
        if (strncmp(*e, "PG", 2) != 0)
            env[n++] = *e;
    }
    env[n] = NULL;
    return env;
}

/* Drops to the run user in a forked child; async-signal-safe calls only. */
static int child_become(const struct sl_pgembed *pe)
{
    if (!pe->as_postgres)
        return 0;
    if (setgroups((size_t)pe->n_groups, pe->groups) != 0 || setgid(pe->run_gid) != 0 ||
        setuid(pe->run_uid) != 0)
        return -1;
    return 0;
}

/* Runs argv[0] with argv, stdout and stderr to out_fd (-1: /dev/null), as the
 * run user, from "/"; *status gets the exit code (128 + signal when killed). */
static int run(const struct sl_pgembed *pe, char *const argv[], int out_fd, int *status,
               struct sl_err *err)
{
    char **env = child_env();
    int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    int ws = 0;
    pid_t pid;

    if (!env || null_fd < 0) {
        int e = errno;
        sl_free(env);
        if (null_fd >= 0)
            close(null_fd);
        return env ? sl_err_sys(err, SL_EIO, e, "cannot open /dev/null")
                   : sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    pid = fork();
    if (pid < 0) {
        int e = errno;
        sl_free(env);
        close(null_fd);
        return sl_err_sys(err, SL_ETRANSIENT, e, "could not start \"%s\"", argv[0]);
    }
    if (pid == 0) {
        int out = out_fd >= 0 ? out_fd : null_fd;
        if (dup2(null_fd, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0 || chdir("/") != 0 ||
            child_become(pe) != 0)
            _exit(126);
        execve(argv[0], argv, env);
        _exit(127);
    }
    sl_free(env);
    close(null_fd);
    while (waitpid(pid, &ws, 0) < 0) {
        if (errno != EINTR)
            return sl_err_sys(err, SL_EIO, errno, "wait for \"%s\"", argv[0]);
    }
    *status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + (WIFSIGNALED(ws) ? WTERMSIG(ws) : 0);
    return SL_OK;
}

/* Can the run user enter dir (or, when it does not exist yet, its nearest
 * existing ancestor)? Checked in a child that drops to that user. */
static int run_user_can_enter(const struct sl_pgembed *pe, const char *dir)
{
    char buf[PATH_MAX];
    pid_t pid;
    int ws = 0;

    if (!pe->as_postgres)
        return 1;
    snprintf(buf, sizeof buf, "%s", dir);
    while (!path_exists(buf)) {
        char *slash = strrchr(buf, '/');
        if (!slash || slash == buf) {
            snprintf(buf, sizeof buf, "/");
            break;
        }
        *slash = '\0';
    }
    pid = fork();
    if (pid < 0)
        return 0;
    if (pid == 0) {
        if (child_become(pe) != 0)
            _exit(2);
        _exit(access(buf, X_OK) == 0 ? 0 : 1);
    }
    while (waitpid(pid, &ws, 0) < 0) {
        if (errno != EINTR)
            return 0;
    }
    return WIFEXITED(ws) && WEXITSTATUS(ws) == 0;
}

/* ---- Layout ---- */

/* Decides base, data, sock, log and the connection string (see pgembed.h). */
static int layout(struct sl_pgembed *pe, struct sl_err *err)
{
    char *normal_data = join(pe->pg_dir, "data/PG_VERSION");
    char *tmp_base = join(pe->tmp_root, "pg");
    char *tmp_data = tmp_base ? join(tmp_base, "data/PG_VERSION") : NULL;
    char *sock_q = NULL;
    int rc = SL_OK;

    sl_free(pe->base);
    sl_free(pe->data);
    sl_free(pe->sock);
    sl_free(pe->log);
    sl_free(pe->conninfo);
    pe->base = pe->data = pe->sock = pe->log = pe->conninfo = NULL;
    pe->note[0] = '\0';
    if (!normal_data || !tmp_base || !tmp_data)
        goto oom;
    if (path_exists(normal_data)) {
        pe->base = sl_strdup(pe->pg_dir);
    } else if (path_exists(tmp_data)) {
        pe->base = sl_strdup(tmp_base);
        if (!run_user_can_enter(pe, pe->pg_dir))
            snprintf(pe->note, sizeof pe->note,
                     "the postgres user cannot enter %s, so the cluster lives in %s", pe->home,
                     tmp_base);
        else
            snprintf(pe->note, sizeof pe->note, "the cluster lives in %s (created there earlier)",
                     tmp_base);
    } else if (!run_user_can_enter(pe, pe->pg_dir)) {
        pe->base = sl_strdup(tmp_base);
        snprintf(pe->note, sizeof pe->note,
                 "the postgres user cannot enter %s, so the cluster lives in %s", pe->home,
                 tmp_base);
    } else {
        pe->base = sl_strdup(pe->pg_dir);
    }
    if (!pe->base)
        goto oom;
    pe->data = join(pe->base, "data");
    pe->log = join(pe->base, "log");
    pe->sock = join(pe->base, "sock");
    if (!pe->data || !pe->log || !pe->sock)
        goto oom;
    if (strlen(pe->sock) + strlen(SL_PGEMBED_SOCK_FILE) > SL_PGEMBED_SOCK_MAX) {
        sl_free(pe->sock);
        pe->sock = join(pe->tmp_root, "sock");
        if (!pe->sock)
            goto oom;
        size_t used = strlen(pe->note);
        snprintf(pe->note + used, sizeof pe->note - used,
                 "%sthe socket path under %s would be too long, so the socket is in %s",
                 used ? "; " : "", pe->base, pe->sock);
    }
    sock_q = quote(pe->sock, 0);
    if (!sock_q)
        goto oom;
    pe->conninfo =
        sl_asprintf("host=%s port=" SL_PGEMBED_PORT " dbname=sluice user=sluice", sock_q);
    if (!pe->conninfo)
        goto oom;
    goto done;
oom:
    rc = sl_err_set(err, SL_ENOMEM, "embedded catalog: out of memory");
done:
    sl_free(normal_data);
    sl_free(tmp_base);
    sl_free(tmp_data);
    sl_free(sock_q);
    return rc;
}

struct sl_pgembed *sl_pgembed_new(struct sl_err *err)
{
    const char *home = getenv("SLUICE_HOME");
    struct sl_pgembed *pe = sl_calloc(1, sizeof *pe);
    char hash[65];

    if (!pe) {
        sl_err_set(err, SL_ENOMEM, "embedded catalog: out of memory");
        return NULL;
    }
    pe->home = absolute(home && *home ? home : ".sluice");
    if (!pe->home) {
        sl_err_set(err, SL_ECONFIG, "embedded catalog: cannot resolve SLUICE_HOME");
        goto fail;
    }
    sl_sha256_hex(pe->home, strlen(pe->home), hash);
    pe->pg_dir = join(pe->home, "pg");
    pe->lock = join(pe->home, "pg.lock");
    pe->tmp_root = sl_asprintf("/tmp/sluice-%.12s", hash);
    if (!pe->pg_dir || !pe->lock || !pe->tmp_root) {
        sl_err_set(err, SL_ENOMEM, "embedded catalog: out of memory");
        goto fail;
    }
    pe->run_uid = getuid();
    pe->run_gid = getgid();
    if (geteuid() == 0) {
        /* the server refuses to run as root */
        struct passwd pw, *hit = NULL;
        char buf[4096];
        int ng = SL_PGEMBED_MAX_GROUPS;
        if (getpwnam_r("postgres", &pw, buf, sizeof buf, &hit) != 0 || !hit) {
            sl_err_set(err, SL_ECONFIG,
                       "embedded catalog: running as root, but there is no \"postgres\" user to "
                       "run the server (install postgresql, or set SLUICE_CATALOG)");
            goto fail;
        }
        pe->as_postgres = 1;
        pe->run_uid = pw.pw_uid;
        pe->run_gid = pw.pw_gid;
        if (getgrouplist("postgres", pw.pw_gid, pe->groups, &ng) < 0) {
            ng = 1;
            pe->groups[0] = pw.pw_gid;
        }
        pe->n_groups = ng;
    }
    if (layout(pe, err) != SL_OK)
        goto fail;
    return pe;
fail:
    sl_pgembed_free(pe);
    return NULL;
}

void sl_pgembed_free(struct sl_pgembed *pe)
{
    if (!pe)
        return;
    sl_free(pe->home);
    sl_free(pe->pg_dir);
    sl_free(pe->lock);
    sl_free(pe->tmp_root);
    sl_free(pe->base);
    sl_free(pe->data);
    sl_free(pe->sock);
    sl_free(pe->log);
    sl_free(pe->conninfo);
    sl_free(pe);
}

const char *sl_pgembed_peek_conninfo(const struct sl_pgembed *pe)
{
    return pe->conninfo;
}

const char *sl_pgembed_peek_home(const struct sl_pgembed *pe)
{
    return pe->home;
}

const char *sl_pgembed_peek_data_dir(const struct sl_pgembed *pe)
{
    return pe->data;
}

const char *sl_pgembed_peek_sock_dir(const struct sl_pgembed *pe)
{
    return pe->sock;
}

const char *sl_pgembed_peek_log(const struct sl_pgembed *pe)
{
    return pe->log;
}

const char *sl_pgembed_peek_note(const struct sl_pgembed *pe)
{
    return pe->note;
}

const char *sl_pgembed_state_name(enum sl_pgembed_state s)
{
    switch (s) {
    case SL_PGEMBED_RUNNING: return "running";
    case SL_PGEMBED_STOPPED: return "stopped";
    default: return "none";
    }
}

/* ---- Binaries ---- */

static int has_tools(const char *dir)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/initdb", dir);
    if (access(p, X_OK) != 0)
        return 0;
    snprintf(p, sizeof p, "%s/pg_ctl", dir);
    return access(p, X_OK) == 0;
}

/* Output of `pg_config --bindir` (found on PATH), or "" */
static void pg_config_bindir(char *out, size_t out_len)
{
    int fds[2];
    pid_t pid;
    ssize_t n;
    size_t got = 0;
    char *const argv[] = { "pg_config", "--bindir", NULL };

    out[0] = '\0';
    if (pipe2(fds, O_CLOEXEC) != 0)
        return;
    pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return;
    }
    if (pid == 0) {
        int null_fd = open("/dev/null", O_RDWR);
        if (dup2(fds[1], 1) < 0 || (null_fd >= 0 && dup2(null_fd, 2) < 0))
            _exit(126);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(fds[1]);
    while (got + 1 < out_len && (n = read(fds[0], out + got, out_len - got - 1)) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        got += (size_t)n;
    }
    close(fds[0]);
    out[got] = '\0';
    while (got > 0 && (out[got - 1] == '\n' || out[got - 1] == '\r'))
        out[--got] = '\0';
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
    }
}

static int find_bindir(struct sl_pgembed *pe, struct sl_err *err)
{
    const char *env = getenv("SLUICE_PG_BINDIR");
    char cand[PATH_MAX];

    if (pe->bindir[0])
        return SL_OK;
    if (env && *env) {
        if (!has_tools(env))
            return sl_err_set(err, SL_ECONFIG,
                              "SLUICE_PG_BINDIR=\"%s\" holds no initdb and pg_ctl", env);
        snprintf(pe->bindir, sizeof pe->bindir, "%s", env);
        return SL_OK;
    }
    if (has_tools(SL_PGEMBED_DEFAULT_BINDIR)) {
        snprintf(pe->bindir, sizeof pe->bindir, "%s", SL_PGEMBED_DEFAULT_BINDIR);
        return SL_OK;
    }
    pg_config_bindir(cand, sizeof cand);
    if (cand[0] && has_tools(cand)) {
        snprintf(pe->bindir, sizeof pe->bindir, "%s", cand);
        return SL_OK;
    }
    glob_t g;
    if (glob("/usr/lib/postgresql/*/bin", 0, NULL, &g) == 0) {
        /* highest major version first: compare numerically from the end */
        long best = -1;
        for (size_t i = 0; i < g.gl_pathc; i++) {
            long v = strtol(g.gl_pathv[i] + strlen("/usr/lib/postgresql/"), NULL, 10);
            if (v > best && has_tools(g.gl_pathv[i])) {
                best = v;
                snprintf(pe->bindir, sizeof pe->bindir, "%s", g.gl_pathv[i]);
            }
        }
        globfree(&g);
        if (pe->bindir[0])
            return SL_OK;
    }
    return sl_err_set(err, SL_ECONFIG,
                      "cannot find the PostgreSQL server programs (initdb, pg_ctl): install "
                      "postgresql, set SLUICE_PG_BINDIR, or point SLUICE_CATALOG at a server");
}

/* ---- The log ---- */

void sl_pgembed_log_tail(const struct sl_pgembed *pe, size_t n_lines, char *out, size_t out_len)
{
    char buf[8192];
    int fd = open(pe->log, O_RDONLY | O_CLOEXEC);
    struct stat st;
    ssize_t got;
    off_t from;

    if (out_len)
        out[0] = '\0';
    if (fd < 0 || out_len == 0)
        goto done;
    if (fstat(fd, &st) != 0)
        goto done;
    from = st.st_size > (off_t)sizeof buf - 1 ? st.st_size - (off_t)sizeof buf + 1 : 0;
    got = pread(fd, buf, sizeof buf - 1, from);
    if (got <= 0)
        goto done;
    buf[got] = '\0';
    size_t end = (size_t)got;
    while (end > 0 && (buf[end - 1] == '\n' || buf[end - 1] == '\r'))
        buf[--end] = '\0';
    size_t start = end;
    size_t lines = 0;
    while (start > 0) {
        if (buf[start - 1] == '\n' && ++lines == n_lines)
            break;
        start--;
    }
    snprintf(out, out_len, "%s", buf + start);
done:
    if (fd >= 0)
        close(fd);
}

/* The last server lines of the log on one line for an error message: pg_ctl's
 * own chatter ("pg_ctl: could not start server", "Examine the log output.")
 * and the "2024-01-01 10:00:00.000 UTC [123] " prefixes are dropped, so that
 * the FATAL line fits into a message. */
static void log_summary(const struct sl_pgembed *pe, char *out, size_t out_len)
{
    char tail[4096];
    char *lines[12];
    size_t n = 0, o = 0;

    out[0] = '\0';
    sl_pgembed_log_tail(pe, SL_ARRAY_LEN(lines), tail, sizeof tail);
    for (char *save = NULL, *line = strtok_r(tail, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, "pg_ctl:", 7) == 0 || strncmp(line, "Examine the log", 15) == 0 ||
            strncmp(line, "waiting for server", 18) == 0 || strstr(line, "stopped waiting"))
            continue;
        char *bracket = strstr(line, "] ");
        if (line[0] >= '0' && line[0] <= '9' && bracket && bracket - line < 48)
            line = bracket + 2;
        if (n == SL_ARRAY_LEN(lines)) {
            memmove(lines, lines + 1, (n - 1) * sizeof *lines);
            n--;
        }
        lines[n++] = line;
    }
    for (size_t i = n > 3 ? n - 3 : 0; i < n && o + 1 < out_len; i++) {
        int w = snprintf(out + o, out_len - o, "%s%s", o ? " | " : "", lines[i]);
        if (w < 0)
            break;
        o += (size_t)w;
    }
}

/* Sets an SL_EIO error for a failed child, quoting the log's last lines. */
static int child_failed(const struct sl_pgembed *pe, const char *what, int status,
                        struct sl_err *err)
{
    char summary[400];

    if (status == 127)
        return sl_err_set(err, SL_ECONFIG, "%s: cannot execute it (see \"%s\")", what, pe->log);
    log_summary(pe, summary, sizeof summary);
    return sl_err_set(err, SL_EIO, "%s failed with status %d; see \"%s\": %s", what, status,
                      pe->log, summary[0] ? summary : "(empty log)");
}

/* ---- Lifecycle ---- */

static int tool(const struct sl_pgembed *pe, const char *name, char *out)
{
    return snprintf(out, PATH_MAX, "%s/%s", pe->bindir, name) < PATH_MAX ? 0 : -1;
}

static int take_lock(const struct sl_pgembed *pe, int *fd, struct sl_err *err)
{
    *fd = open(pe->lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (*fd < 0)
        return sl_err_sys(err, SL_EIO, errno, "cannot open lock file \"%s\"", pe->lock);
    while (flock(*fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            int e = errno;
            close(*fd);
            *fd = -1;
            return sl_err_sys(err, SL_EIO, e, "cannot lock \"%s\"", pe->lock);
        }
    }
    return SL_OK;
}

static int ctl_status(struct sl_pgembed *pe, enum sl_pgembed_state *st, struct sl_err *err)
{
    char ctl[PATH_MAX];
    char *version = join(pe->data, "PG_VERSION");
    int status = 0;

    *st = SL_PGEMBED_NONE;
    if (!version)
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    int exists = path_exists(version);
    sl_free(version);
    if (!exists)
        return SL_OK;
    if (find_bindir(pe, err) != SL_OK)
        return err->code;
    if (tool(pe, "pg_ctl", ctl) != 0)
        return sl_err_set(err, SL_ECONFIG, "binary path too long");
    char *const argv[] = { ctl, "status", "-D", pe->data, NULL };
    if (run(pe, argv, -1, &status, err) != SL_OK)
        return err->code;
    *st = status == 0 ? SL_PGEMBED_RUNNING : SL_PGEMBED_STOPPED;
    return SL_OK;
}

/* Appends the include of sluice.conf to a fresh cluster's postgresql.conf. */
static int add_include(const char *data_dir, struct sl_err *err)
{
    static const char line[] = "\n# sluice: socket-only settings, rewritten at each start\n"
                               "include_if_exists = 'sluice.conf'\n";
    char *conf = join(data_dir, "postgresql.conf");
    int fd;

    if (!conf)
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    fd = open(conf, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 || write(fd, line, sizeof line - 1) != (ssize_t)(sizeof line - 1)) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        sl_err_sys(err, SL_EIO, e, "cannot append to \"%s\"", conf);
        sl_free(conf);
        return err->code;
    }
    close(fd);
    sl_free(conf);
    return SL_OK;
}

/* Writes data/sluice.conf: socket only, in our socket directory. */
static int write_conf(const struct sl_pgembed *pe, struct sl_err *err)
{
    char *sock_q = quote(pe->sock, 1);
    char *path = join(pe->data, "sluice.conf");
    char *tmp = join(pe->data, "sluice.conf.tmp");
    char *text = NULL;
    int fd = -1;
    int rc = SL_OK;

    if (!sock_q || !path || !tmp)
        goto oom;
    text = sl_asprintf("# Written by sluice at each start (runtime/pgembed.c); put your own\n"
                       "# settings in postgresql.conf or postgresql.auto.conf.\n"
                       "listen_addresses = ''\n"
                       "port = " SL_PGEMBED_PORT "\n"
                       "unix_socket_directories = %s\n"
                       "unix_socket_permissions = 0700\n",
                       sock_q);
    if (!text)
        goto oom;
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text) ||
        (pe->as_postgres && fchown(fd, pe->run_uid, pe->run_gid) != 0) || close(fd) != 0) {
        int e = errno;
        fd = -1;
        rc = sl_err_sys(err, SL_EIO, e, "cannot write \"%s\"", tmp);
        goto done;
    }
    fd = -1;
    if (rename(tmp, path) != 0)
        rc = sl_err_sys(err, SL_EIO, errno, "cannot rename \"%s\"", tmp);
    goto done;
oom:
    rc = sl_err_set(err, SL_ENOMEM, "out of memory");
done:
    sl_free(sock_q);
    sl_free(path);
    sl_free(tmp);
    sl_free(text);
    return rc;
}

/* initdb into data.init, then rename it to data: a crash half-way leaves no
 * half-made cluster behind in data/. */
static int create_cluster(struct sl_pgembed *pe, int log_fd, struct sl_err *err)
{
    char initdb[PATH_MAX];
    char *init_dir = sl_asprintf("%s.init", pe->data);
    int status = 0;
    int rc;

    if (!init_dir)
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    if (tool(pe, "initdb", initdb) != 0) {
        rc = sl_err_set(err, SL_ECONFIG, "binary path too long");
        goto done;
    }
    if (rm_tree(init_dir) != 0) {
        rc = sl_err_sys(err, SL_EIO, errno, "cannot remove the leftover \"%s\"", init_dir);
        goto done;
    }
    if ((rc = server_dir(pe, init_dir, 0700, 1, err)) != SL_OK)
        goto done;
    char *const argv[] = { initdb, "-D", init_dir, "-U", "sluice", "-A", "trust", "-E", "UTF8",
                           "--locale=C", NULL };
    if ((rc = run(pe, argv, log_fd, &status, err)) != SL_OK)
        goto done;
    if (status != 0) {
        rc = child_failed(pe, "initdb", status, err);
        goto done;
    }
    if ((rc = add_include(init_dir, err)) != SL_OK)
        goto done;
    if (rename(init_dir, pe->data) != 0) {
        rc = sl_err_sys(err, SL_EIO, errno, "cannot move \"%s\" to \"%s\" (remove \"%s\" if it "
                        "is not a cluster)", init_dir, pe->data, pe->data);
        goto done;
    }
    rc = SL_OK;
done:
    sl_free(init_dir);
    return rc;
}

/* Creates database "sluice" unless it exists. */
static int ensure_database(const struct sl_pgembed *pe, struct sl_err *err)
{
    const char *keys[] = { "host", "port", "dbname", "user", "application_name",
                           "connect_timeout", NULL };
    const char *vals[] = { pe->sock, SL_PGEMBED_PORT, "postgres", "sluice", "sluice", "10", NULL };
    PGconn *pg = PQconnectdbParams(keys, vals, 0);
    PGresult *r = NULL;
    int rc = SL_OK;

    if (!pg || PQstatus(pg) != CONNECTION_OK) {
        rc = sl_err_set(err, SL_ETRANSIENT, "could not connect to the embedded server: %s",
                        pg ? PQerrorMessage(pg) : "out of memory");
        goto done;
    }
    const char *args[] = { "sluice" };
    r = PQexecParams(pg, SL_PGEMBED_SQL_DB_EXISTS, 1, NULL, args, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        rc = sl_err_set(err, SL_EIO, "check database \"sluice\": %s", PQerrorMessage(pg));
        goto done;
    }
    if (PQntuples(r) > 0)
        goto done;
    PQclear(r);
    r = PQexec(pg, SL_PGEMBED_SQL_DB_CREATE);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        if (!state || strcmp(state, "42P04") != 0) /* duplicate_database: fine */
            rc = sl_err_set(err, SL_EIO, "create database \"sluice\": %s", PQerrorMessage(pg));
    }
done:
    PQclear(r);
    PQfinish(pg);
    return rc;
}

int sl_pgembed_start(struct sl_pgembed *pe, struct sl_err *err)
{
    char ctl[PATH_MAX];
    int lock_fd = -1, log_fd = -1;
    int status = 0;
    enum sl_pgembed_state st;

    if (mkdir_p(pe->pg_dir, 0755, err) != SL_OK || take_lock(pe, &lock_fd, err) != SL_OK)
        goto fail;
    /* decided again now that home exists and nobody else is creating it */
    if (layout(pe, err) != SL_OK || find_bindir(pe, err) != SL_OK)
        goto fail;
    if (strcmp(pe->base, pe->pg_dir) != 0) {
        if (server_dir(pe, pe->tmp_root, 0755, 0, err) != SL_OK ||
            server_dir(pe, pe->base, 0755, 0, err) != SL_OK)
            goto fail;
    }
    if (strncmp(pe->sock, pe->tmp_root, strlen(pe->tmp_root)) == 0 &&
        server_dir(pe, pe->tmp_root, 0755, 0, err) != SL_OK)
        goto fail;
    if (server_dir(pe, pe->sock, 0700, 1, err) != SL_OK)
        goto fail;
    log_fd = open(pe->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (log_fd < 0) {
        sl_err_sys(err, SL_EIO, errno, "cannot open log \"%s\"", pe->log);
        goto fail;
    }
    if (pe->as_postgres && fchown(log_fd, pe->run_uid, pe->run_gid) != 0) {
        sl_err_sys(err, SL_EIO, errno, "cannot hand log \"%s\" to postgres", pe->log);
        goto fail;
    }
    if (strcmp(pe->base, pe->pg_dir) != 0) {
        /* $SLUICE_HOME/pg/log points at the real log */
        char *link = join(pe->pg_dir, "log");
        /* best effort: the error messages name the real path anyway */
        if (link) {
            unlink(link);
            if (symlink(pe->log, link) != 0)
                link[0] = '\0';
        }
        sl_free(link);
    }
    if (ctl_status(pe, &st, err) != SL_OK)
        goto fail;
    if (st == SL_PGEMBED_NONE && create_cluster(pe, log_fd, err) != SL_OK)
        goto fail;
    if (st != SL_PGEMBED_RUNNING) {
        if (write_conf(pe, err) != SL_OK)
            goto fail;
        if (tool(pe, "pg_ctl", ctl) != 0) {
            sl_err_set(err, SL_ECONFIG, "binary path too long");
            goto fail;
        }
        char *const argv[] = { ctl, "start", "-D", pe->data, "-l", pe->log, "-w",
                               "-t", SL_PGEMBED_WAIT, "-s", NULL };
        if (run(pe, argv, log_fd, &status, err) != SL_OK)
            goto fail;
        if (status != 0) {
            child_failed(pe, "pg_ctl start", status, err);
            goto fail;
        }
    }
    if (ensure_database(pe, err) != SL_OK)
        goto fail;
    close(log_fd);
    close(lock_fd); /* releases the flock */
    return SL_OK;
fail:
    if (log_fd >= 0)
        close(log_fd);
    if (lock_fd >= 0)
        close(lock_fd);
    return sl_err_prefix(err, "start embedded catalog in \"%s\"", pe->home);
}

int sl_pgembed_stop(struct sl_pgembed *pe, int *was_running, struct sl_err *err)
{
    char ctl[PATH_MAX];
    int lock_fd = -1;
    int status = 0;
    enum sl_pgembed_state st;

    if (was_running)
        *was_running = 0;
    if (!path_exists(pe->home))
        return SL_OK;
    if (take_lock(pe, &lock_fd, err) != SL_OK || ctl_status(pe, &st, err) != SL_OK)
        goto fail;
    if (st == SL_PGEMBED_RUNNING) {
        if (tool(pe, "pg_ctl", ctl) != 0) {
            sl_err_set(err, SL_ECONFIG, "binary path too long");
            goto fail;
        }
        char *const argv[] = { ctl, "stop", "-D", pe->data, "-m", "fast", "-w",
                               "-t", SL_PGEMBED_WAIT, "-s", NULL };
        int log_fd = open(pe->log, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
        int rc = run(pe, argv, log_fd, &status, err);
        if (log_fd >= 0)
            close(log_fd);
        if (rc != SL_OK)
            goto fail;
        if (status != 0) {
            child_failed(pe, "pg_ctl stop", status, err);
            goto fail;
        }
        if (was_running)
            *was_running = 1;
    }
    close(lock_fd);
    return SL_OK;
fail:
    if (lock_fd >= 0)
        close(lock_fd);
    return sl_err_prefix(err, "stop embedded catalog in \"%s\"", pe->home);
}

int sl_pgembed_status(struct sl_pgembed *pe, enum sl_pgembed_state *state, struct sl_err *err)
{
    if (ctl_status(pe, state, err) != SL_OK)
        return sl_err_prefix(err, "embedded catalog status in \"%s\"", pe->home);
    return SL_OK;
}
