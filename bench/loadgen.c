/*
 * bench/loadgen.c - a small HTTP load generator for `sluice serve` (the
 * scheduler/API benchmark, bench/serve.sh). N threads each keep one HTTP/1.1
 * keep-alive connection to HOST:PORT and send, back to back for D seconds,
 * POST / with X-Amz-Target TARGET, Content-Type application/x-amz-json-1.1 and
 * the given JSON body. Every request is signed afresh with AWS Signature
 * Version 4 (X-Amz-Date of that second, SignedHeaders host;x-amz-date;
 * x-amz-target, service glue, region us-east-1 by default), the full HMAC-SHA256
 * key chain computed per request as the AWS CLI does. Reports requests/s,
 * counts by HTTP status and latency p50/p90/p99/max; exits 1 when any answer
 * was not 200 (or a connection failed), 2 on bad usage. --requests N stops
 * after N requests (bench/serve.sh starts runs with it); --print-request prints
 * one signed request for replay by a generator that cannot sign (wrk).
 *
 * Not part of the sluice binary: bench/serve.sh builds it with
 *   cc -O2 -std=c11 -o bench/out/loadgen bench/loadgen.c -lssl -lcrypto -lpthread
 * Keys: --key KEYID:SECRET, else $AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY.
 * The server-side verifier is scheduler/sigv4.c.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CONNS_MAX    1024
#define REQ_MAX      (64u << 10) /* bytes of one request (headers + body) */
#define RESP_HEAD    (16u << 10) /* bytes of a response's status line and headers */
#define BODY_MAX     (8u << 20)  /* bytes of a response body we accept */
#define STATUS_SLOTS 600         /* HTTP status 0..599; 0 = connection or parse failure */

struct cfg {
    const char *host;
    int port;
    int n_conns;
    double seconds;
    const char *target;
    const char *body;
    const char *key_id;
    const char *secret;
    const char *region;
    const char *service;
    long max_requests; /* 0: no cap; else stop after this many sent, over all threads */
    int quiet;
    int print_body;    /* print the last answer's body (start of it) */
    int print_request; /* print one signed request and exit (to replay it with wrk) */
};

struct worker {
    pthread_t thread;
    const struct cfg *cfg;
    struct timespec t_end;
    uint32_t *lat_us; /* one per answered request, microseconds */
    size_t n_lat, cap_lat;
    uint64_t status[STATUS_SLOTS];
    uint64_t n_reconnects;
    char first_error[512];
    char last_body[4096];
};

static atomic_int error_shown;
static atomic_long n_sent; /* requests begun, over all threads (for --requests) */

/* ---- Time ---- */

static double ts_diff(const struct timespec *a, const struct timespec *b)
{
    return (double)(a->tv_sec - b->tv_sec) + (double)(a->tv_nsec - b->tv_nsec) / 1e9;
}

static int ts_before(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* ---- SigV4 (AWS "Signature Version 4 signing process", header form) ---- */

static void hex(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static void sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256(data, len, md);
    hex(md, sizeof md, out);
}

static int hmac(const unsigned char *key, size_t key_len, const char *msg, unsigned char out[32])
{
    unsigned int n = 32;
    return HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)msg, strlen(msg), out,
                &n) != NULL;
}

/* Writes the full request into out (at most cap bytes); returns its length, or
 * 0 when it does not fit or signing failed. */
static size_t build_request(const struct cfg *c, const char *host_hdr, char *out, size_t cap)
{
    char amz_date[17], date8[9], body_hash[65], creq_hash[65], sig_hex[65];
    char creq[REQ_MAX], sts[512], kbuf[300];
    unsigned char k[32], sig[32];
    struct tm tm;
    time_t now = time(NULL);
    size_t body_len = strlen(c->body);

    gmtime_r(&now, &tm);
    strftime(amz_date, sizeof amz_date, "%Y%m%dT%H%M%SZ", &tm);
    memcpy(date8, amz_date, 8);
    date8[8] = '\0';
    sha256_hex(c->body, body_len, body_hash);

    /* Step 1: the canonical request. */
    int n = snprintf(creq, sizeof creq,
                     "POST\n/\n\nhost:%s\nx-amz-date:%s\nx-amz-target:%s\n\n"
                     "host;x-amz-date;x-amz-target\n%s",
                     host_hdr, amz_date, c->target, body_hash);
    if (n < 0 || (size_t)n >= sizeof creq)
        return 0;
    sha256_hex(creq, (size_t)n, creq_hash);

    /* Step 2: the string to sign. */
    snprintf(sts, sizeof sts, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s", amz_date, date8,
             c->region, c->service, creq_hash);

    /* Step 3: the signing key, kSecret -> kDate -> kRegion -> kService -> kSigning. */
    n = snprintf(kbuf, sizeof kbuf, "AWS4%s", c->secret);
    if (n < 0 || (size_t)n >= sizeof kbuf)
        return 0;
    if (!hmac((unsigned char *)kbuf, (size_t)n, date8, k) || !hmac(k, 32, c->region, k) ||
        !hmac(k, 32, c->service, k) || !hmac(k, 32, "aws4_request", k))
        return 0;

    /* Step 4: the signature. */
    if (!hmac(k, 32, sts, sig))
        return 0;
    hex(sig, 32, sig_hex);

    n = snprintf(out, cap,
                 "POST / HTTP/1.1\r\n"
                 "Host: %s\r\n"
                 "X-Amz-Date: %s\r\n"
                 "X-Amz-Target: %s\r\n"
                 "Content-Type: application/x-amz-json-1.1\r\n"
                 "Content-Length: %zu\r\n"
                 "Authorization: AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request, "
                 "SignedHeaders=host;x-amz-date;x-amz-target, Signature=%s\r\n"
                 "\r\n%s",
                 host_hdr, amz_date, c->target, body_len, c->key_id, date8, c->region, c->service,
                 sig_hex, c->body);
    if (n < 0 || (size_t)n >= cap)
        return 0;
    return (size_t)n;
}

/* ---- Connection ---- */

static int dial(const struct cfg *c)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai, *p;
    char port[16];
    int fd = -1, one = 1;

    snprintf(port, sizeof port, "%d", c->port);
    if (getaddrinfo(c->host, port, &hints, &ai) != 0)
        return -1;
    for (p = ai; p; p = p->ai_next) {
        fd = socket(p->ai_family, p->ai_socktype, p->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, p->ai_addr, p->ai_addrlen) == 0)
            break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    if (fd >= 0)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Reads one response from fd. buf holds *have bytes already read (pipelined
 * leftovers are not expected: one request in flight); on return it holds the
 * bytes after this response. *status = HTTP status, *close = 1 when the server
 * will close. body (optional, cap body_cap) gets the start of the body. Returns
 * 0, or -1 on a connection or parse failure. */
static int read_response(int fd, char *buf, size_t buf_cap, size_t *have, int *status,
                         int *close_after, char *body, size_t body_cap)
{
    char *end = NULL;
    size_t head_len, content_len = 0;
    int has_len = 0;

    *close_after = 0;
    for (;;) {
        if (*have > 0) {
            buf[*have] = '\0';
            end = strstr(buf, "\r\n\r\n");
            if (end)
                break;
        }
        if (*have + 1 >= buf_cap)
            return -1;
        ssize_t r = recv(fd, buf + *have, buf_cap - 1 - *have, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        *have += (size_t)r;
    }
    head_len = (size_t)(end - buf) + 4;
    if (sscanf(buf, "HTTP/1.%*d %d", status) != 1)
        return -1;
    for (char *line = strstr(buf, "\r\n"); line && line < end; line = strstr(line + 2, "\r\n")) {
        char *h = line + 2;
        if (strncasecmp(h, "Content-Length:", 15) == 0) {
            content_len = strtoull(h + 15, NULL, 10);
            has_len = 1;
        } else if (strncasecmp(h, "Connection:", 11) == 0) {
            char *v = h + 11;
            while (*v == ' ')
                v++;
            if (strncasecmp(v, "close", 5) == 0)
                *close_after = 1;
        } else if (strncasecmp(h, "Transfer-Encoding:", 18) == 0) {
            return -1; /* the server sends fixed-length bodies; chunked is not handled */
        }
    }
    if (!has_len || content_len > BODY_MAX)
        return -1;

    /* Consume the body: the part already in buf, then the rest from the socket. */
    size_t in_buf = *have - head_len;
    size_t take = in_buf < content_len ? in_buf : content_len;
    size_t copied = 0;
    if (body && body_cap > 1) {
        copied = take < body_cap - 1 ? take : body_cap - 1;
        memcpy(body, buf + head_len, copied);
        body[copied] = '\0';
    }
    size_t left = content_len - take;
    memmove(buf, buf + head_len + take, in_buf - take);
    *have = in_buf - take;
    while (left > 0) {
        char sink[16384];
        ssize_t r = recv(fd, sink, left < sizeof sink ? left : sizeof sink, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        if (body && copied + 1 < body_cap) {
            size_t n = (size_t)r < body_cap - 1 - copied ? (size_t)r : body_cap - 1 - copied;
            memcpy(body + copied, sink, n);
            copied += n;
            body[copied] = '\0';
        }
        left -= (size_t)r;
    }
    return 0;
}

/* ---- Workers ---- */

static int record(struct worker *w, uint32_t us)
{
    if (w->n_lat == w->cap_lat) {
        size_t ncap = w->cap_lat ? w->cap_lat * 2 : 65536;
        uint32_t *n = realloc(w->lat_us, ncap * sizeof *n);
        if (!n)
            return -1;
        w->lat_us = n;
        w->cap_lat = ncap;
    }
    w->lat_us[w->n_lat++] = us;
    return 0;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    const struct cfg *c = w->cfg;
    char host_hdr[300];
    char *req = malloc(REQ_MAX), *resp = malloc(RESP_HEAD + 1);
    char *body = w->last_body;
    size_t have = 0;
    int fd = -1;

    if (strchr(c->host, ':'))
        snprintf(host_hdr, sizeof host_hdr, "[%s]:%d", c->host, c->port);
    else
        snprintf(host_hdr, sizeof host_hdr, "%s:%d", c->host, c->port);
    if (!req || !resp)
        goto done;
    for (;;) {
        struct timespec t0, t1;
        int status = 0, close_after = 0;

        clock_gettime(CLOCK_MONOTONIC, &t0);
        if (!ts_before(&t0, &w->t_end))
            break;
        if (c->max_requests > 0 && atomic_fetch_add(&n_sent, 1) >= c->max_requests)
            break;
        if (fd < 0) {
            fd = dial(c);
            have = 0;
            if (fd < 0) {
                w->status[0]++;
                snprintf(w->first_error, sizeof w->first_error, "cannot connect to %s", host_hdr);
                break;
            }
            w->n_reconnects++;
        }
        size_t n = build_request(c, host_hdr, req, REQ_MAX);
        if (n == 0) {
            w->status[0]++;
            snprintf(w->first_error, sizeof w->first_error, "cannot build the request");
            break;
        }
        if (write_all(fd, req, n) != 0 ||
            read_response(fd, resp, RESP_HEAD + 1, &have, &status, &close_after, body,
                          sizeof w->last_body) != 0) {
            w->status[0]++;
            if (!w->first_error[0])
                snprintf(w->first_error, sizeof w->first_error,
                         "connection failed or bad response");
            close(fd);
            fd = -1;
            continue;
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        uint64_t us = (uint64_t)(ts_diff(&t1, &t0) * 1e6 + 0.5);
        if (record(w, us > UINT32_MAX ? UINT32_MAX : (uint32_t)us) != 0)
            break;
        w->status[status > 0 && status < STATUS_SLOTS ? status : 0]++;
        if (status != 200 && !w->first_error[0])
            snprintf(w->first_error, sizeof w->first_error, "HTTP %d: %.400s", status, body);
        if (close_after) {
            close(fd);
            fd = -1;
        }
    }
done:
    if (fd >= 0)
        close(fd);
    free(req);
    free(resp);
    return NULL;
}

/* ---- Main ---- */

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static double pct_ms(const uint32_t *v, size_t n, double p)
{
    if (n == 0)
        return 0;
    size_t i = (size_t)(p / 100.0 * (double)n + 0.999999); /* nearest-rank */
    if (i < 1)
        i = 1;
    if (i > n)
        i = n;
    return v[i - 1] / 1000.0;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: loadgen --port PORT [options]\n"
            "  -H, --host HOST        server address (default 127.0.0.1)\n"
            "  -p, --port PORT        server port (required)\n"
            "  -c, --connections N    threads, one keep-alive connection each (default 2)\n"
            "  -d, --duration S       seconds to run (default 10)\n"
            "  -t, --target T         X-Amz-Target (default AWSGlue.GetJobRun)\n"
            "  -b, --body JSON        request body (default {})\n"
            "  -k, --key ID:SECRET    signing key (default $AWS_ACCESS_KEY_ID,\n"
            "                         $AWS_SECRET_ACCESS_KEY)\n"
            "  -r, --region R         credential scope region (default us-east-1)\n"
            "  -s, --service S        credential scope service (default glue)\n"
            "  -n, --requests N       stop after N requests over all connections (0: no cap)\n"
            "  -q, --quiet            print only the one-line summary\n"
            "  -v, --print-body       print the body of the last answer (first 4 KiB)\n"
            "  -P, --print-request    print one signed request (CRLF lines) and exit; it\n"
            "                         stays valid for the server's 15-minute window\n"
            "Output: a summary line 'requests=N seconds=S rps=R p50_ms=.. p90_ms=.. p99_ms=..\n"
            "max_ms=.. status=200:N,...'. Exit 1 when any answer was not 200.\n");
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"host", required_argument, NULL, 'H'},    {"port", required_argument, NULL, 'p'},
        {"connections", required_argument, NULL, 'c'}, {"duration", required_argument, NULL, 'd'},
        {"target", required_argument, NULL, 't'},  {"body", required_argument, NULL, 'b'},
        {"key", required_argument, NULL, 'k'},     {"region", required_argument, NULL, 'r'},
        {"service", required_argument, NULL, 's'}, {"quiet", no_argument, NULL, 'q'},
        {"requests", required_argument, NULL, 'n'}, {"print-body", no_argument, NULL, 'v'},
        {"print-request", no_argument, NULL, 'P'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    struct cfg c = {.host = "127.0.0.1", .n_conns = 2, .seconds = 10,
                    .target = "AWSGlue.GetJobRun", .body = "{}", .region = "us-east-1",
                    .service = "glue"};
    char *key_copy = NULL;
    int opt;

    while ((opt = getopt_long(argc, argv, "H:p:c:d:t:b:k:r:s:n:qvPh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'H': c.host = optarg; break;
        case 'p': c.port = atoi(optarg); break;
        case 'c': c.n_conns = atoi(optarg); break;
        case 'd': c.seconds = atof(optarg); break;
        case 't': c.target = optarg; break;
        case 'b': c.body = optarg; break;
        case 'k': key_copy = optarg; break;
        case 'r': c.region = optarg; break;
        case 's': c.service = optarg; break;
        case 'q': c.quiet = 1; break;
        case 'n': c.max_requests = atol(optarg); break;
        case 'v': c.print_body = 1; break;
        case 'P': c.print_request = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc || c.port <= 0 || c.port > 65535 || c.n_conns < 1 ||
        c.n_conns > CONNS_MAX || !(c.seconds > 0)) {
        usage(stderr);
        return 2;
    }
    if (key_copy) {
        char *colon = strchr(key_copy, ':');
        if (!colon) {
            fprintf(stderr, "loadgen: --key wants KEYID:SECRET\n");
            return 2;
        }
        *colon = '\0';
        c.key_id = key_copy;
        c.secret = colon + 1;
    } else {
        c.key_id = getenv("AWS_ACCESS_KEY_ID");
        c.secret = getenv("AWS_SECRET_ACCESS_KEY");
    }
    if (!c.key_id || !*c.key_id || !c.secret || !*c.secret) {
        fprintf(stderr, "loadgen: no key: --key or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    if (c.print_request) {
        char host_hdr[300], *req = malloc(REQ_MAX);
        snprintf(host_hdr, sizeof host_hdr, strchr(c.host, ':') ? "[%s]:%d" : "%s:%d", c.host,
                 c.port);
        size_t n = req ? build_request(&c, host_hdr, req, REQ_MAX) : 0;
        if (n)
            fwrite(req, 1, n, stdout);
        free(req);
        return n ? 0 : 1;
    }

    struct worker *w = calloc((size_t)c.n_conns, sizeof *w);
    struct timespec t_start, t_stop;
    if (!w) {
        fprintf(stderr, "loadgen: out of memory\n");
        return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t_start);
    struct timespec t_end = t_start;
    t_end.tv_sec += (time_t)c.seconds;
    t_end.tv_nsec += (long)((c.seconds - (double)(time_t)c.seconds) * 1e9);
    if (t_end.tv_nsec >= 1000000000L) {
        t_end.tv_sec++;
        t_end.tv_nsec -= 1000000000L;
    }
    int n_started = 0;
    for (int i = 0; i < c.n_conns; i++) {
        w[i].cfg = &c;
        w[i].t_end = t_end;
        if (pthread_create(&w[i].thread, NULL, worker_main, &w[i]) != 0)
            break;
        n_started++;
    }
    for (int i = 0; i < n_started; i++)
        pthread_join(w[i].thread, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t_stop);
    double elapsed = ts_diff(&t_stop, &t_start);

    /* Merge. */
    uint64_t status[STATUS_SLOTS] = {0}, n_reconnects = 0;
    size_t n_total = 0;
    for (int i = 0; i < n_started; i++)
        n_total += w[i].n_lat;
    uint32_t *all = malloc((n_total ? n_total : 1) * sizeof *all);
    if (!all) {
        fprintf(stderr, "loadgen: out of memory\n");
        return 1;
    }
    size_t k = 0;
    for (int i = 0; i < n_started; i++) {
        memcpy(all + k, w[i].lat_us, w[i].n_lat * sizeof *all);
        k += w[i].n_lat;
        for (int s = 0; s < STATUS_SLOTS; s++)
            status[s] += w[i].status[s];
        n_reconnects += w[i].n_reconnects;
    }
    qsort(all, n_total, sizeof *all, cmp_u32);

    int bad = n_started < c.n_conns;
    char status_text[512] = "";
    size_t st_len = 0;
    for (int s = 0; s < STATUS_SLOTS; s++) {
        if (!status[s])
            continue;
        if (s != 200)
            bad = 1;
        int m = snprintf(status_text + st_len, sizeof status_text - st_len, "%s%d:%llu",
                         st_len ? "," : "", s, (unsigned long long)status[s]);
        if (m > 0 && (size_t)m < sizeof status_text - st_len)
            st_len += (size_t)m;
    }
    if (!c.quiet) {
        printf("target %s, %d connection%s, %.1f s, key %s, %s/%s\n", c.target, c.n_conns,
               c.n_conns == 1 ? "" : "s", c.seconds, c.key_id, c.region, c.service);
        printf("connections opened: %llu\n", (unsigned long long)n_reconnects);
    }
    printf("requests=%zu seconds=%.2f rps=%.0f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f "
           "status=%s\n",
           n_total, elapsed, elapsed > 0 ? (double)n_total / elapsed : 0.0,
           pct_ms(all, n_total, 50), pct_ms(all, n_total, 90), pct_ms(all, n_total, 99),
           n_total ? all[n_total - 1] / 1000.0 : 0.0, st_len ? status_text : "none");
    for (int i = 0; c.print_body && i < n_started; i++)
        if (w[i].n_lat)
            printf("%s\n", w[i].last_body);
    for (int i = 0; i < n_started; i++) {
        if (w[i].first_error[0] && atomic_exchange(&error_shown, 1) == 0)
            fprintf(stderr, "loadgen: first error: %s\n", w[i].first_error);
        free(w[i].lat_us);
    }
    free(all);
    free(w);
    return bad ? 1 : 0;
}
