/* mixload.c — a keep-alive HTTP/1.1 load of GETs mixed with PUTs, that tells the latency of
 * each kind apart (wrk reports one distribution for all requests of a run).
 *
 *   mixload [-c CONNS] [-d SECS] [-m EVERY] [-s BYTES] [-t TOKEN] [-P PUT_PREFIX]
 *           http://HOST:PORT GET_PATH...
 *
 * CONNS connections (default 64) on one thread send requests back to back for SECS seconds
 * (default 10). Request n (counted over all connections) is a PUT of BYTES bytes (default
 * 1024) to PUT_PREFIX<n> when EVERY > 0 and n % EVERY == EVERY - 1, else a GET of
 * GET_PATH[n % paths]: -m 10 is 90 % GETs and 10 % PUTs, -m 0 (the default) GETs only.
 * With -t, every request carries "Authorization: Bearer TOKEN".
 *
 * Prints one line that bench/run.sh reads, in wrk's words for the whole run plus each kind's:
 *   WRK rps=… p50_us=… p99_us=… bytes_per_s=… requests=… sock_errors=… non2xx=…
 *       get_requests=… get_p50_us=… get_p99_us=… put_requests=… put_p50_us=… put_p99_us=…
 * A request's latency runs from its first byte sent to its response's last byte read. Only
 * responses with a Content-Length are understood (what kvs sends to these requests).
 * Exit status 0, or 1 on a usage error or when no connection could be made. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum kind { GET, PUT };

/* Latencies of one kind, in microseconds, all of them (sorted at the end for percentiles). */
struct lat {
    uint32_t *v;
    size_t n, cap;
};

struct conn {
    int fd;
    enum kind kind;
    char *req; /* the request being sent: head (and body) */
    size_t req_len, sent;
    uint64_t t0;         /* when its first byte went out (ns) */
    char head[16384];    /* the response head as it arrives */
    size_t head_len;     /* bytes of head[] in use */
    int in_body;         /* the head is complete */
    long long body_left; /* body bytes still to read */
    int status;
};

static struct sockaddr_in addr;
static char host[300];
static char auth[600]; /* "Authorization: Bearer …\r\n" or "" */
static char **get_paths;
static int n_paths;
static const char *put_prefix = "/";
static long put_every;
static char *put_body;
static size_t put_size = 1024;
static uint64_t next_n; /* the number of the next request */
static uint64_t deadline;
static struct lat lats[2];
static unsigned long long requests, sock_errors, non2xx, bytes_in;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
    perror(what);
    exit(1);
}

static void lat_add(struct lat *l, uint64_t us)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 65536;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
        if (l->v == NULL)
            die("realloc");
    }
    l->v[l->n++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* The P-th percentile of V[0..N) (sorted), 0 when empty. */
static uint32_t pct(const uint32_t *v, size_t n, double p)
{
    if (n == 0)
        return 0;
    size_t i = (size_t)(p / 100.0 * (double)n);
    return v[i < n ? i : n - 1];
}

/* Make C's next request (its number decides its kind and target). */
static void next_request(struct conn *c)
{
    uint64_t n = next_n++;
    free(c->req);
    c->kind = put_every > 0 && n % (uint64_t)put_every == (uint64_t)put_every - 1 ? PUT : GET;
    int len;
    if (c->kind == GET)
        len = asprintf(&c->req, "GET %s HTTP/1.1\r\nHost: %s\r\n%s\r\n", get_paths[n % n_paths],
                       host, auth);
    else
        len = asprintf(&c->req,
                       "PUT %s%llu HTTP/1.1\r\nHost: %s\r\n%sContent-Type: "
                       "application/octet-stream\r\nContent-Length: %zu\r\n\r\n%s",
                       put_prefix, (unsigned long long)n, host, auth, put_size, put_body);
    if (len < 0)
        die("asprintf");
    c->req_len = (size_t)len;
    c->sent = 0;
    c->head_len = 0;
    c->in_body = 0;
    c->t0 = 0;
}

/* Connect C (its request is sent once the connection is up). */
static void conn_open(int ep, struct conn *c)
{
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (c->fd < 0)
        die("socket");
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) != 0 && errno != EINPROGRESS)
        die("connect");
    struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) != 0)
        die("epoll_ctl");
}

/* A broken connection: counted, closed and opened again, and its request sent anew. */
static void conn_reset(int ep, struct conn *c)
{
    sock_errors++;
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->sent = c->head_len = 0;
    c->in_body = 0;
    c->t0 = 0;
    conn_open(ep, c);
}

static void want(int ep, struct conn *c, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) != 0)
        die("epoll_ctl");
}

static void on_writable(int ep, struct conn *c)
{
    while (c->sent < c->req_len) {
        if (c->t0 == 0)
            c->t0 = now_ns();
        ssize_t n = send(c->fd, c->req + c->sent, c->req_len - c->sent, MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (n <= 0) {
            conn_reset(ep, c);
            return;
        }
        c->sent += (size_t)n;
    }
    want(ep, c, EPOLLIN);
}

/* The response of C is complete: count it and send the next request, if there is time. */
static void response_done(int ep, struct conn *c)
{
    uint64_t t = now_ns();
    if (t <= deadline) {
        requests++;
        if (c->status < 200 || c->status > 399)
            non2xx++;
        lat_add(&lats[c->kind], (t - c->t0) / 1000);
    }
    next_request(c);
    want(ep, c, EPOLLOUT);
}

/* Parse the complete head in C->head (HEAD_END bytes): status and Content-Length. */
static int parse_head(struct conn *c, size_t head_end)
{
    c->head[head_end - 1] = '\0';
    if (sscanf(c->head, "HTTP/1.%*d %d", &c->status) != 1)
        return -1;
    c->body_left = -1;
    for (char *line = strstr(c->head, "\r\n"); line != NULL; line = strstr(line + 2, "\r\n"))
        if (strncasecmp(line + 2, "content-length:", 15) == 0)
            c->body_left = strtoll(line + 2 + 15, NULL, 10);
    return c->body_left < 0 ? -1 : 0;
}

static void on_readable(int ep, struct conn *c)
{
    char buf[65536];
    for (;;) {
        ssize_t n = recv(c->fd, buf, sizeof buf, 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (n <= 0) {
            conn_reset(ep, c);
            return;
        }
        bytes_in += (size_t)n;
        size_t off = 0;
        while (off < (size_t)n) {
            if (!c->in_body) {
                size_t take = (size_t)n - off;
                if (take > sizeof c->head - 1 - c->head_len)
                    take = sizeof c->head - 1 - c->head_len;
                memcpy(c->head + c->head_len, buf + off, take);
                c->head_len += take;
                c->head[c->head_len] = '\0';
                char *end = strstr(c->head, "\r\n\r\n");
                if (end == NULL) {
                    if (c->head_len == sizeof c->head - 1) {
                        fprintf(stderr, "mixload: response head too long\n");
                        exit(1);
                    }
                    off += take;
                    continue;
                }
                size_t head_end = (size_t)(end - c->head) + 4;
                if (parse_head(c, head_end) != 0) {
                    fprintf(stderr, "mixload: a response without Content-Length\n");
                    exit(1);
                }
                off += take - (c->head_len - head_end); /* what follows the head is body */
                c->in_body = 1;
            }
            size_t body = (size_t)n - off;
            if ((long long)body > c->body_left)
                body = (size_t)c->body_left;
            c->body_left -= (long long)body;
            off += body;
            if (c->body_left == 0) {
                response_done(ep, c);
                if (off < (size_t)n) {
                    fprintf(stderr, "mixload: bytes after a response (pipelining?)\n");
                    exit(1);
                }
                return;
            }
        }
    }
}

static void usage(void)
{
    fprintf(stderr, "usage: mixload [-c CONNS] [-d SECS] [-m EVERY] [-s BYTES] [-t TOKEN] "
                    "[-P PUT_PREFIX] http://HOST:PORT GET_PATH...\n");
    exit(1);
}

int main(int argc, char **argv)
{
    int conns = 64, secs = 10, opt;
    const char *token = NULL;
    while ((opt = getopt(argc, argv, "c:d:m:s:t:P:")) != -1) {
        switch (opt) {
        case 'c':
            conns = atoi(optarg);
            break;
        case 'd':
            secs = atoi(optarg);
            break;
        case 'm':
            put_every = atol(optarg);
            break;
        case 's':
            put_size = (size_t)atol(optarg);
            break;
        case 't':
            token = optarg;
            break;
        case 'P':
            put_prefix = optarg;
            break;
        default:
            usage();
        }
    }
    if (argc - optind < 2 || conns < 1 || secs < 1 || put_every < 0)
        usage();
    unsigned port;
    char ip[64];
    if (sscanf(argv[optind], "http://%63[0-9.]:%u", ip, &port) != 2 || port > 65535)
        usage();
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, ip, &addr.sin_addr) != 1)
        usage();
    snprintf(host, sizeof host, "%s:%u", ip, port);
    if (token)
        snprintf(auth, sizeof auth, "Authorization: Bearer %s\r\n", token);
    get_paths = argv + optind + 1;
    n_paths = argc - optind - 1;
    put_body = malloc(put_size + 1);
    if (put_body == NULL)
        die("malloc");
    memset(put_body, 'x', put_size);
    put_body[put_size] = '\0';

    int ep = epoll_create1(0);
    if (ep < 0)
        die("epoll_create1");
    struct conn *cs = calloc((size_t)conns, sizeof *cs);
    if (cs == NULL)
        die("calloc");
    uint64_t start = now_ns();
    deadline = start + (uint64_t)secs * 1000000000u;
    for (int i = 0; i < conns; i++) {
        next_request(&cs[i]);
        conn_open(ep, &cs[i]);
    }
    struct epoll_event evs[256];
    while (now_ns() < deadline) {
        int n = epoll_wait(ep, evs, 256, 100);
        if (n < 0 && errno != EINTR)
            die("epoll_wait");
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
                on_readable(ep, c);
            else if (evs[i].events & EPOLLOUT)
                on_writable(ep, c);
        }
    }
    double dur = (double)(now_ns() - start) / 1e9;
    if (requests == 0) {
        fprintf(stderr, "mixload: no response in %d s\n", secs);
        return 1;
    }
    uint32_t *all = malloc((lats[GET].n + lats[PUT].n + 1) * sizeof *all);
    if (all == NULL)
        die("malloc");
    memcpy(all, lats[GET].v, lats[GET].n * sizeof *all);
    if (lats[PUT].n)
        memcpy(all + lats[GET].n, lats[PUT].v, lats[PUT].n * sizeof *all);
    size_t n_all = lats[GET].n + lats[PUT].n;
    qsort(all, n_all, sizeof *all, cmp_u32);
    for (int k = 0; k < 2; k++)
        if (lats[k].n)
            qsort(lats[k].v, lats[k].n, sizeof *lats[k].v, cmp_u32);
    printf("WRK rps=%.1f p50_us=%u p99_us=%u bytes_per_s=%.0f requests=%llu sock_errors=%llu "
           "non2xx=%llu get_requests=%zu get_p50_us=%u get_p99_us=%u put_requests=%zu "
           "put_p50_us=%u put_p99_us=%u\n",
           (double)requests / dur, pct(all, n_all, 50), pct(all, n_all, 99), (double)bytes_in / dur,
           requests, sock_errors, non2xx, lats[GET].n, pct(lats[GET].v, lats[GET].n, 50),
           pct(lats[GET].v, lats[GET].n, 99), lats[PUT].n, pct(lats[PUT].v, lats[PUT].n, 50),
           pct(lats[PUT].v, lats[PUT].n, 99));
    return 0;
}
