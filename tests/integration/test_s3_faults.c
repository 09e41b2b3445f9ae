/*
 * tests/integration/test_s3_faults.c - the S3 backend when the server stops
 * answering, dies or restarts: nothing hangs, errors are transient ones after
 * bounded retries, failed multipart uploads are aborted, reads resume.
 *
 * Self-contained: starts its own s3rver child (SLUICE_S3RVER_BIN, default
 * .deps/node/node_modules/.bin/s3rver; skipped when missing) on a free port
 * with its own data folder, points AWS_ENDPOINT_URL at it and freezes it with
 * SIGSTOP, kills it with SIGKILL and restarts it on the same folder and port.
 * Short timeouts come from SLUICE_S3_TIMEOUT / SLUICE_S3_MAX_ATTEMPTS, set
 * before each store is opened. The time limits asserted are hang guards, far
 * above what the bounded retries need, not performance checks.
 *
 * s3rver 3.7.1 implements neither AbortMultipartUpload (it answers 405) nor
 * ListMultipartUploads, so "no upload left behind" is checked from its side:
 * every upload folder left in its data dir must be one whose abort request
 * reached the restarted server (its request log), and the key must not exist.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runtime/store.h"
#include "tests/test.h"

#define BUCKET "faults"
#define HANG_GUARD_S 60.0

static char s3rver_bin[4096];
static char data_dir[256];
static int port;
static pid_t server = -1;
static int n_starts; /* log file of start N: <data_dir>.log.N */

/* ---- the server child ---- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

static int port_answers(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

static void log_path(int start, char *out, size_t len)
{
    snprintf(out, len, "%s.log.%d", data_dir, start);
}

/* Starts s3rver on data_dir:port (request log to a new file); 0 when it answers. */
static int server_start(void)
{
    char port_s[16], log[300];
    snprintf(port_s, sizeof port_s, "%d", port);
    log_path(++n_starts, log, sizeof log);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        /* s3rver's continuation tokens use DES, which Node 17+ only has here */
        setenv("NODE_OPTIONS", "--openssl-legacy-provider", 1);
        execl(s3rver_bin, s3rver_bin, "--directory", data_dir, "--address", "127.0.0.1",
              "--port", port_s, "--configure-bucket", BUCKET, "--no-vhost-buckets", (char *)NULL);
        _exit(127);
    }
    server = pid;
    for (int i = 0; i < 300; i++) {
        if (port_answers())
            return 0;
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            server = -1;
            return -1;
        }
        usleep(100 * 1000);
    }
    return -1;
}

static void server_kill(void)
{
    if (server <= 0)
        return;
    kill(server, SIGKILL); /* also ends a stopped process */
    kill(server, SIGCONT);
    waitpid(server, NULL, 0);
    server = -1;
}

/* The hang guard (SIGALRM) and any fatal signal: never leave a frozen
 * server child behind. */
static void on_fatal(int sig)
{
    static const char msg[] = "not ok - hang guard: test_s3_faults took too long\n";
    if (server > 0) {
        kill(server, SIGKILL);
        kill(server, SIGCONT);
    }
    if (sig == SIGALRM) {
        ssize_t n = write(1, msg, sizeof msg - 1);
        (void)n;
    }
    _exit(1);
}

/* Opens a store on the test bucket with the given stall timeout and attempts. */
static struct sl_store *open_store(const char *timeout_s, const char *attempts)
{
    struct sl_err err = { 0 };
    setenv("SLUICE_S3_TIMEOUT", timeout_s, 1);
    setenv("SLUICE_S3_MAX_ATTEMPTS", attempts, 1);
    struct sl_store *st = sl_store_open("s3://" BUCKET "/", NULL, &err);
    if (!st)
        printf("#   open: %s\n", err.msg);
    return st;
}

static unsigned char *pattern(size_t n, unsigned seed)
{
    unsigned char *p = malloc(n);
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; p && i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (unsigned char)x;
    }
    return p;
}

static int file_contains(const char *path, const char *needle)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    static char buf[1 << 22];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strstr(buf, needle) != NULL;
}

/* ---- the tests ---- */

/* (a) The server freezes during a 64 MiB multipart upload: the writer fails
 * within the guard; after a restart the caller's abort reaches the server,
 * the key does not exist and no upload is left that was not aborted. */
TEST(multipart_upload_to_frozen_server_fails_and_aborts)
{
    struct sl_err err = { 0 };
    struct sl_store *st = open_store("2", "2");
    CHECK(st != NULL);
    if (!st)
        return;
    const char *key = "frozen/big 64mib.bin";
    size_t total = (size_t)64 << 20, chunk = (size_t)1 << 20;
    unsigned char *data = pattern(total, 1);
    struct sl_store_writer *w = sl_store_put_begin(st, key, &err);
    CHECK(w != NULL);
    if (!w || !data) {
        free(data);
        sl_store_free(st);
        return;
    }
    size_t off = 0;
    int rc = SL_OK;
    double t0 = 0;
    for (; off < total && rc == SL_OK; off += chunk) {
        if (off == (size_t)12 << 20) { /* part 1 is on its way: freeze the server */
            kill(server, SIGSTOP);
            t0 = now_s();
        }
        rc = sl_store_put_write(w, data + off, chunk, &err);
    }
    double waited = now_s() - t0;
    CHECKF(rc != SL_OK, "all %zu MiB were accepted while the server was frozen", off >> 20);
    if (rc == SL_OK) { /* then commit must fail (and abort itself) */
        rc = sl_store_put_commit(w, &err);
        waited = now_s() - t0;
        w = NULL;
        CHECK(rc != SL_OK);
    }
    printf("# write failed after %.1f s: %s\n", waited, err.msg);
    CHECK(rc == SL_ETRANSIENT);
    CHECKF(strstr(err.msg, "could not") != NULL, "message: %s", err.msg);
    CHECKF(waited < HANG_GUARD_S, "failing took %.1f s", waited);

    /* restart on the same data, then let the caller abort */
    server_kill();
    CHECK(server_start() == 0);
    if (w)
        sl_store_put_abort(w);
    struct sl_obj_info info;
    CHECK(sl_store_head(st, key, &info, &err) == SL_ENOTFOUND);

    char uploads[400], log[300];
    snprintf(uploads, sizeof uploads, "%s/%s/._S3rver_uploads", data_dir, BUCKET);
    log_path(n_starts, log, sizeof log);
    DIR *d = opendir(uploads);
    int n_left = 0, n_unaborted = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        n_left++;
        /* s3rver answers AbortMultipartUpload with 405 (not implemented), a
         * real S3 with 204: either way the request must have arrived */
        char a405[300], a204[300];
        snprintf(a405, sizeof a405, "uploadId=%s 405", e->d_name);
        snprintf(a204, sizeof a204, "uploadId=%s 204", e->d_name);
        if (!file_contains(log, a405) && !file_contains(log, a204)) {
            n_unaborted++;
            printf("#   upload %s was never aborted\n", e->d_name);
        }
    }
    if (d)
        closedir(d);
    printf("# %d upload folder(s) left in s3rver, %d not aborted\n", n_left, n_unaborted);
    CHECK(n_unaborted == 0);
    free(data);
    sl_store_free(st);
}

struct sink {
    unsigned char *data;
    size_t len, cap;
    int slow_ms; /* sleep per call (makes a read last) */
};

static int sink_fn(void *ud, const void *p, size_t n)
{
    struct sink *s = ud;
    if (s->len + n > s->cap) {
        size_t cap = s->cap ? s->cap : 65536;
        while (cap < s->len + n)
            cap *= 2;
        unsigned char *d = realloc(s->data, cap);
        if (!d)
            return SL_ENOMEM;
        s->data = d;
        s->cap = cap;
    }
    memcpy(s->data + s->len, p, n);
    s->len += n;
    if (s->slow_ms)
        usleep((useconds_t)s->slow_ms * 1000);
    return SL_OK;
}

/* (b) A GET while the server is frozen fails within the guard. */
TEST(get_from_frozen_server_fails)
{
    struct sl_err err = { 0 };
    struct sl_store *st = open_store("2", "2");
    CHECK(st != NULL);
    if (!st)
        return;
    size_t n = (size_t)1 << 20;
    unsigned char *data = pattern(n, 2);
    CHECK_OK(sl_store_put(st, "frozen/small.bin", data, n, &err), &err);
    struct sl_store_stats before, after;
    sl_store_get_stats(st, &before);
    kill(server, SIGSTOP);
    double t0 = now_s();
    struct sink s = { 0 };
    int rc = sl_store_get(st, "frozen/small.bin", 0, -1, sink_fn, &s, &err);
    double waited = now_s() - t0;
    kill(server, SIGCONT);
    sl_store_get_stats(st, &after);
    printf("# get failed after %.1f s: %s\n", waited, err.msg);
    CHECK(rc == SL_ETRANSIENT);
    CHECKF(strstr(err.msg, "could not") && strstr(err.msg, "frozen/small.bin"), "message: %s",
           err.msg);
    CHECKF(waited < HANG_GUARD_S, "failing took %.1f s", waited);
    CHECK(after.retries - before.retries == 1); /* 2 attempts */
    CHECK(s.len == 0);

    /* thawed, the same store works again */
    s.len = 0;
    CHECK_OK(sl_store_get(st, "frozen/small.bin", 0, -1, sink_fn, &s, &err), &err);
    CHECK(s.len == n && memcmp(s.data, data, n) == 0);
    free(s.data);
    free(data);
    sl_store_free(st);
}

struct restarter {
    double delay_s;
};

static void *kill_and_restart(void *arg)
{
    struct restarter *r = arg;
    usleep((useconds_t)(r->delay_s * 1e6));
    server_kill();
    server_start();
    return NULL;
}

/* (d) The server dies in the middle of a long read and comes back: the read
 * resumes after the bytes already delivered, none twice, none missing. */
TEST(get_resumes_across_server_restart)
{
    struct sl_err err = { 0 };
    struct sl_store *st = open_store("5", "10");
    CHECK(st != NULL);
    if (!st)
        return;
    size_t n = (size_t)24 << 20;
    unsigned char *data = pattern(n, 3);
    CHECK_OK(sl_store_put(st, "restart/long.bin", data, n, &err), &err);
    struct sl_store_stats before, after;
    sl_store_get_stats(st, &before);
    struct sink s = { .slow_ms = 2 };
    struct restarter r = { .delay_s = 0.5 };
    pthread_t t;
    pthread_create(&t, NULL, kill_and_restart, &r);
    CHECK_OK(sl_store_get(st, "restart/long.bin", 100, -1, sink_fn, &s, &err), &err);
    pthread_join(t, NULL);
    sl_store_get_stats(st, &after);
    printf("# read %zu bytes with %llu retries\n", s.len,
           (unsigned long long)(after.retries - before.retries));
    CHECK(s.len == n - 100);
    CHECK(s.len == n - 100 && memcmp(s.data, data + 100, n - 100) == 0);
    CHECK(after.retries > before.retries);
    free(s.data);
    free(data);
    sl_store_free(st);
}

static int count_fn(void *ud, const struct sl_obj_info *o)
{
    (void)o;
    (*(int *)ud)++;
    return SL_OK;
}

/* (c) The server is gone (connection refused): every kind of request fails
 * with SL_ETRANSIENT after the configured attempts. */
TEST(dead_server_fails_after_bounded_retries)
{
    struct sl_err err = { 0 };
    struct sl_store *st = open_store("2", "3");
    CHECK(st != NULL);
    if (!st)
        return;
    server_kill();
    struct sl_store_stats before, after;
    sl_store_get_stats(st, &before);
    double t0 = now_s();
    struct sl_obj_info info;
    int rc = sl_store_head(st, "dead/x", &info, &err);
    printf("# head: %s\n", err.msg);
    CHECK(rc == SL_ETRANSIENT);
    CHECKF(strstr(err.msg, "3 attempts") != NULL, "message: %s", err.msg);
    struct sink s = { 0 };
    CHECK(sl_store_get(st, "dead/x", 0, 10, sink_fn, &s, &err) == SL_ETRANSIENT);
    CHECK(sl_store_put(st, "dead/x", "abc", 3, &err) == SL_ETRANSIENT);
    const char *keys[] = { "dead/x", "dead/y" };
    CHECK(sl_store_delete(st, keys, 2, &err) == SL_ETRANSIENT);
    int n_listed = 0;
    CHECK(sl_store_list(st, "dead/", NULL, count_fn, &n_listed, &err) == SL_ETRANSIENT);
    CHECK(n_listed == 0);
    printf("# list: %s\n", err.msg);
    double waited = now_s() - t0;
    sl_store_get_stats(st, &after);
    CHECKF(waited < HANG_GUARD_S, "failing took %.1f s", waited);
    CHECKF(after.retries - before.retries == 5 * 2, "retries %llu",
           (unsigned long long)(after.retries - before.retries));
    sl_store_free(st);
    CHECK(server_start() == 0);
}

int main(void)
{
    const char *bin = getenv("SLUICE_S3RVER_BIN");
    snprintf(s3rver_bin, sizeof s3rver_bin, "%s",
             bin && *bin ? bin : ".deps/node/node_modules/.bin/s3rver");
    if (access(s3rver_bin, X_OK) != 0) {
        t_name = "s3_faults";
        printf("skip - s3_faults: s3rver not found at %s (set SLUICE_S3RVER_BIN)\n", s3rver_bin);
        return 0;
    }
    snprintf(data_dir, sizeof data_dir, "/tmp/sl-s3-faults-XXXXXX");
    if (!mkdtemp(data_dir) || (port = free_port()) < 0) {
        printf("not ok - s3_faults: cannot make a temp dir or find a free port\n");
        return 1;
    }
    int fatal[] = { SIGALRM, SIGINT, SIGTERM, SIGHUP, SIGPIPE };
    for (size_t i = 0; i < SL_ARRAY_LEN(fatal); i++)
        signal(fatal[i], on_fatal);
    alarm(600);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    setenv("AWS_ENDPOINT_URL", url, 1);
    unsetenv("AWS_ENDPOINT_URL_S3");
    unsetenv("AWS_PROFILE");
    setenv("AWS_ACCESS_KEY_ID", "S3RVER", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "S3RVER", 1);
    unsetenv("AWS_SESSION_TOKEN");
    setenv("AWS_REGION", "us-east-1", 1);
    if (server_start() != 0) {
        printf("not ok - s3_faults: s3rver did not start (log %s.log.1)\n", data_dir);
        return 1;
    }
    printf("# s3rver pid %d on %s, data %s\n", (int)server, url, data_dir);

    RUN(multipart_upload_to_frozen_server_fails_and_aborts);
    RUN(get_from_frozen_server_fails);
    RUN(get_resumes_across_server_restart);
    RUN(dead_server_fails_after_bounded_retries);

    server_kill();
    if (!t_n_fail) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'.log.*", data_dir, data_dir);
        if (system(cmd) != 0)
            printf("# could not remove %s\n", data_dir);
    }
    TEST_EXIT();
}
