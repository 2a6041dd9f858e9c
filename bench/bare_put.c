/* bare_put.c — what libmicrohttpd's suspend and resume cost a PUT, without kvs.
 *
 *   bare_put [direct|handoff|wait] PORT [THREADS]
 *
 * A bare libmicrohttpd 0.9.75 server with kvs's settings (internal polling thread, epoll,
 * suspend/resume allowed, 16 KiB of connection memory) that reads a PUT's body into a buffer
 * of its own and answers 201 "{}" with the headers kvs's PUT answer has (Content-Type,
 * Location, ETag, Last-Modified, Access-Control-Allow-Origin). "direct" answers on the request
 * thread; "handoff" does what kvs does with a write: suspends the connection, queues it for a
 * second thread, which takes everything queued at once (a batch) and resumes each connection;
 * the answer is then made on the request thread. The difference of the two, in server CPU per
 * request under the same load (wrk -t1 -c64 -s bench/wrk/put.lua), is the price of the hand-off
 * itself: no storage, no sync. "wait" is the other way to wait for a write (issue 22's
 * prototype): the request thread queues the write for the second thread and blocks until that
 * thread has taken it with its batch (one condition-variable broadcast per batch), then answers
 * at once: no suspend, no resume, but a blocked thread serves none of its other connections,
 * so it takes as many threads as connections that write at once (THREADS: libmicrohttpd's
 * thread pool, default 1).
 *
 * make bench-bare builds it and runs both, interleaved (bench/bare.sh); bench/README.md tells
 * the figures. */
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct req {
    char *body;
    size_t n, cap;
    int state; /* 0 headers, 1 body, 2 waiting, 3 answered */
    struct MHD_Connection *conn;
    struct req *next;
};

static int handoff, wait_mode;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static pthread_cond_t batch_done = PTHREAD_COND_INITIALIZER; /* wait mode */
static struct req *queue_head;

static void *resumer(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&mu);
    for (;;) {
        while (queue_head == NULL)
            pthread_cond_wait(&wake, &mu);
        struct req *batch = queue_head;
        queue_head = NULL;
        if (wait_mode) { /* the batch is "committed": its waiters go on */
            for (struct req *r = batch; r != NULL; r = r->next)
                r->state = 3;
            pthread_cond_broadcast(&batch_done);
            continue;
        }
        pthread_mutex_unlock(&mu);
        while (batch != NULL) {
            struct req *next = batch->next;
            MHD_resume_connection(batch->conn);
            batch = next;
        }
        pthread_mutex_lock(&mu);
    }
    return NULL;
}

static enum MHD_Result answer(struct req *r)
{
    static const char body[] = "{}";
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(2, (void *)body, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(resp, "Content-Type", "application/json; charset=utf-8");
    MHD_add_response_header(resp, "Location", "http://127.0.0.1/v2/key-value-stores/x/records/k");
    MHD_add_response_header(resp, "ETag", "\"1764753700000000\"");
    MHD_add_response_header(resp, "Last-Modified", "Wed, 03 Dec 2026 09:21:40 GMT");
    MHD_add_response_header(resp, "Access-Control-Allow-Origin", "*");
    enum MHD_Result ok = MHD_queue_response(r->conn, 201, resp);
    MHD_destroy_response(resp);
    r->state = 3;
    return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *data,
                                  size_t *size, void **ctx)
{
    (void)cls, (void)url, (void)method, (void)version;
    struct req *r = *ctx;
    if (r == NULL) {
        r = calloc(1, sizeof *r);
        r->conn = conn;
        *ctx = r;
        return MHD_YES;
    }
    if (*size > 0) {
        if (r->n + *size > r->cap) {
            r->cap = (r->n + *size) * 2;
            r->body = realloc(r->body, r->cap);
        }
        memcpy(r->body + r->n, data, *size);
        r->n += *size;
        *size = 0;
        return MHD_YES;
    }
    if (r->state == 3)
        return MHD_YES;
    if (wait_mode) {
        pthread_mutex_lock(&mu);
        r->state = 2;
        r->next = queue_head;
        queue_head = r;
        pthread_cond_signal(&wake);
        while (r->state != 3)
            pthread_cond_wait(&batch_done, &mu);
        pthread_mutex_unlock(&mu);
        return answer(r);
    }
    if (r->state == 2 || !handoff) /* resumed, or answered at once */
        return answer(r);
    r->state = 2;
    MHD_suspend_connection(conn);
    pthread_mutex_lock(&mu);
    r->next = queue_head;
    queue_head = r;
    pthread_cond_signal(&wake);
    pthread_mutex_unlock(&mu);
    return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **ctx,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)conn, (void)toe;
    struct req *r = *ctx;
    if (r != NULL) {
        free(r->body);
        free(r);
    }
    *ctx = NULL;
}

int main(int argc, char **argv)
{
    if ((argc != 3 && argc != 4) ||
        (strcmp(argv[1], "direct") != 0 && strcmp(argv[1], "handoff") != 0 &&
         strcmp(argv[1], "wait") != 0)) {
        fprintf(stderr, "usage: bare_put direct|handoff|wait PORT [THREADS]\n");
        return 2;
    }
    handoff = strcmp(argv[1], "handoff") == 0;
    wait_mode = strcmp(argv[1], "wait") == 0;
    unsigned threads = argc == 4 ? (unsigned)atoi(argv[3]) : 1;
    pthread_t t;
    if ((handoff || wait_mode) && pthread_create(&t, NULL, resumer, NULL) != 0)
        return 1;
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME,
        (uint16_t)atoi(argv[2]), NULL, NULL, on_request, NULL, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)16 * 1024, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
        MHD_OPTION_CONNECTION_LIMIT, 1024u, MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_END);
    if (d == NULL)
        return 1;
    printf("bare_put: %s on port %s\n", argv[1], argv[2]);
    fflush(stdout);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    int sig;
    sigwait(&set, &sig);
    MHD_stop_daemon(d);
    return 0;
}
