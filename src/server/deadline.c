/* deadline.c — the request-header deadline and its watchdog thread; see deadline.h. */
#include "server/deadline.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/log.h"

#define NS 1000000000ull
#define TICK_NS (NS / 4) /* the watchdog's period: a cut comes at most this late */

struct kvs_deadline_conn {
    struct kvs_deadline_conn *prev, *next; /* the table's list; under the table's lock */
    uint64_t deadline_ns;                  /* monotonic; 0 = none; atomic */
    uint64_t timeout_ns;                   /* a copy of the table's, for kvs_deadline_arm */
    uint64_t accepted_ns;                  /* when it was accepted */
    int first; /* its first request line is not in yet; atomic (the watchdog reads it) */
    int fd;
};

struct kvs_deadlines {
    pthread_mutex_t lock;          /* the list, and shutting a listed socket down */
    pthread_cond_t wake;           /* signalled to stop the watchdog */
    struct kvs_deadline_conn head; /* sentinel of a circular list */
    uint64_t timeout_ns; /* headers complete within; 0 = no such deadline */
    uint64_t first_ns;   /* the first request line within; 0 = no such deadline */
    uint64_t cut;        /* connections cut; atomic */
    int stopping; /* under lock */
    int running;  /* the watchdog thread exists and is not joined yet */
    pthread_t thread;
};

/* Whether the peer of socket FD has sent bytes the server has not read yet. */
static int client_has_sent(int fd)
{
    char b;
    return recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 1;
}

/* Cut every listed connection past its deadline at NOW. Called with the lock held, which
 * keeps each listed socket open (see deadline.h). Returns how many were cut. */
static unsigned cut_expired(struct kvs_deadlines *d, uint64_t now)
{
    unsigned n = 0;
    for (struct kvs_deadline_conn *c = d->head.next; c != &d->head; c = c->next) {
        uint64_t due = __atomic_load_n(&c->deadline_ns, __ATOMIC_ACQUIRE);
        if (due == 0 || due > now)
            continue;
        if (__atomic_load_n(&c->first, __ATOMIC_ACQUIRE) && client_has_sent(c->fd) &&
            __atomic_exchange_n(&c->first, 0, __ATOMIC_ACQ_REL)) {
            /* Past the first-byte deadline with the request waiting unread in the socket:
             * the client was in time, the server is late (its threads busy with other
             * requests). From here on only the header deadline, counted from the accept,
             * as if the line were in (once: `first` is now 0). */
            uint64_t want = c->timeout_ns ? c->accepted_ns + c->timeout_ns : 0;
            if (want == 0 || want > now) {
                __atomic_compare_exchange_n(&c->deadline_ns, &due, want, 0, __ATOMIC_ACQ_REL,
                                            __ATOMIC_ACQUIRE);
                continue;
            } /* the header deadline is past too: cut */
        }
        /* Only if the headers did not come in meanwhile (kvs_deadline_clear); once cut the
         * entry stays disarmed until its connection's thread arms it again. */
        if (!__atomic_compare_exchange_n(&c->deadline_ns, &due, 0, 0, __ATOMIC_ACQ_REL,
                                         __ATOMIC_ACQUIRE))
            continue;
        if (shutdown(c->fd, SHUT_RDWR) == 0 || errno == ENOTCONN)
            n++;
    }
    return n;
}

static void *watchdog(void *arg)
{
    struct kvs_deadlines *d = arg;
    pthread_mutex_lock(&d->lock);
    while (!d->stopping) {
        unsigned n = cut_expired(d, kvs_mono_ns());
        if (n) {
            __atomic_add_fetch(&d->cut, n, __ATOMIC_RELAXED);
            kvs_log_debug("http: cut %u connection%s whose request line or headers came too late",
                          n, n == 1 ? "" : "s");
        }
        struct timespec until = kvs_mono_timespec(kvs_mono_ns() + TICK_NS);
        while (!d->stopping && pthread_cond_timedwait(&d->wake, &d->lock, &until) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&d->lock);
    return NULL;
}

struct kvs_deadlines *kvs_deadlines_start(unsigned secs, unsigned first_secs)
{
    struct kvs_deadlines *d = kvs_xcalloc(1, sizeof *d);
    pthread_mutex_init(&d->lock, NULL);
    kvs_cond_init_mono(&d->wake);
    d->head.prev = d->head.next = &d->head;
    d->timeout_ns = (uint64_t)secs * NS;
    d->first_ns = (uint64_t)first_secs * NS;
    int rc = pthread_create(&d->thread, NULL, watchdog, d);
    if (rc != 0) {
        kvs_log_error("http: cannot start the header-timeout thread: %s", strerror(rc));
        kvs_deadlines_free(d);
        return NULL;
    }
    d->running = 1;
    return d;
}

void kvs_deadlines_stop(struct kvs_deadlines *d)
{
    if (d == NULL || !d->running)
        return;
    pthread_mutex_lock(&d->lock);
    d->stopping = 1;
    pthread_cond_signal(&d->wake);
    pthread_mutex_unlock(&d->lock);
    pthread_join(d->thread, NULL);
    d->running = 0;
}

void kvs_deadlines_free(struct kvs_deadlines *d)
{
    if (d == NULL)
        return;
    kvs_deadlines_stop(d);
    while (d->head.next != &d->head) {
        struct kvs_deadline_conn *c = d->head.next;
        d->head.next = c->next;
        free(c);
    }
    pthread_cond_destroy(&d->wake);
    pthread_mutex_destroy(&d->lock);
    free(d);
}

uint64_t kvs_deadlines_cut(const struct kvs_deadlines *d)
{
    return d ? __atomic_load_n(&d->cut, __ATOMIC_RELAXED) : 0;
}

struct kvs_deadline_conn *kvs_deadline_add(struct kvs_deadlines *d, int fd, uint64_t now)
{
    struct kvs_deadline_conn *c = kvs_xmalloc(sizeof *c);
    c->fd = fd;
    c->timeout_ns = d->timeout_ns;
    c->accepted_ns = now;
    c->first = d->first_ns != 0;
    uint64_t in = d->timeout_ns;
    if (d->first_ns != 0 && (in == 0 || d->first_ns < in))
        in = d->first_ns;
    c->deadline_ns = in ? now + in : 0;
    pthread_mutex_lock(&d->lock);
    c->prev = &d->head;
    c->next = d->head.next;
    d->head.next->prev = c;
    d->head.next = c;
    pthread_mutex_unlock(&d->lock);
    return c;
}

void kvs_deadline_remove(struct kvs_deadlines *d, struct kvs_deadline_conn *c)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&d->lock);
    c->prev->next = c->next;
    c->next->prev = c->prev;
    pthread_mutex_unlock(&d->lock);
    free(c);
}

void kvs_deadline_clear(struct kvs_deadline_conn *c)
{
    __atomic_store_n(&c->deadline_ns, 0, __ATOMIC_RELEASE);
}

void kvs_deadline_arm(struct kvs_deadline_conn *c, uint64_t now)
{
    __atomic_store_n(&c->deadline_ns, c->timeout_ns ? now + c->timeout_ns : 0, __ATOMIC_RELEASE);
}

void kvs_deadline_line_in(struct kvs_deadline_conn *c)
{
    if (!__atomic_exchange_n(&c->first, 0, __ATOMIC_ACQ_REL))
        return;
    /* From the first-line deadline to the header deadline, counted from the accept; unless
     * the watchdog has cut the connection meanwhile (0), which stays cut. */
    uint64_t due = __atomic_load_n(&c->deadline_ns, __ATOMIC_ACQUIRE);
    uint64_t want = c->timeout_ns ? c->accepted_ns + c->timeout_ns : 0;
    if (due != 0)
        __atomic_compare_exchange_n(&c->deadline_ns, &due, want, 0, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE);
}
