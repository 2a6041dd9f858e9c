/* budget.c — a server-wide allowance of bytes (budget.h). */
#include "server/budget.h"

#include <pthread.h>
#include <stdlib.h>

#include "common/alloc.h"
#include "kvs.h"

struct kvs_budget {
    pthread_mutex_t lock;
    size_t cap;
    size_t used; /* under lock */
    size_t peak; /* under lock */
    int closed;  /* under lock */
    struct kvs_budget_waiter *head, *tail; /* the queue, under lock */
};

struct kvs_budget *kvs_budget_new(size_t cap)
{
    struct kvs_budget *b = kvs_xcalloc(1, sizeof *b);
    pthread_mutex_init(&b->lock, NULL);
    b->cap = cap;
    return b;
}

void kvs_budget_free(struct kvs_budget *b)
{
    if (b == NULL)
        return;
    pthread_mutex_destroy(&b->lock);
    free(b);
}

/* Take N if it fits; under the lock. */
static int fits_take(struct kvs_budget *b, size_t n)
{
    if (b->closed || n > b->cap - b->used)
        return 0;
    b->used += n;
    if (b->used > b->peak)
        b->peak = b->used;
    return 1;
}

int kvs_budget_take(struct kvs_budget *b, size_t n)
{
    pthread_mutex_lock(&b->lock);
    int ok = b->head == NULL && fits_take(b, n);
    pthread_mutex_unlock(&b->lock);
    return ok ? 0 : KVS_EUNAVAIL;
}

int kvs_budget_take_or_wait(struct kvs_budget *b, size_t n, struct kvs_budget_waiter *w,
                            void (*on_wait)(void *), void *arg)
{
    pthread_mutex_lock(&b->lock);
    int rc = 0;
    if (b->closed || n > b->cap) {
        rc = KVS_EUNAVAIL; /* would wait forever */
    } else if (b->head != NULL || !fits_take(b, n)) {
        w->n = n;
        w->granted = 0;
        w->queued = 1;
        w->next = NULL;
        if (b->tail)
            b->tail->next = w;
        else
            b->head = w;
        b->tail = w;
        on_wait(arg);
        rc = 1;
    }
    pthread_mutex_unlock(&b->lock);
    return rc;
}

/* Unlink W, which is queued; under the lock. */
static void unlink_waiter(struct kvs_budget *b, struct kvs_budget_waiter *w)
{
    struct kvs_budget_waiter **p = &b->head, *prev = NULL;
    while (*p != w) {
        prev = *p;
        p = &(*p)->next;
    }
    *p = w->next;
    if (b->tail == w)
        b->tail = prev;
    w->queued = 0;
    w->next = NULL;
}

void kvs_budget_cancel(struct kvs_budget *b, struct kvs_budget_waiter *w)
{
    pthread_mutex_lock(&b->lock);
    if (w->queued)
        unlink_waiter(b, w);
    pthread_mutex_unlock(&b->lock);
}

/* Grant queued waiters what fits, in order, or (closed) release them all; under the lock.
 * Returns the chain of those to wake, linked by next. */
static struct kvs_budget_waiter *release_waiters(struct kvs_budget *b)
{
    struct kvs_budget_waiter *woken = NULL, **end = &woken;
    while (b->head != NULL) {
        struct kvs_budget_waiter *w = b->head;
        if (!b->closed && !fits_take(b, w->n))
            break; /* first come first served: nobody passes the head */
        unlink_waiter(b, w);
        w->granted = !b->closed;
        *end = w;
        end = &w->next;
    }
    return woken;
}

/* Wake the chain W (outside the lock: a wake resumes a connection, which takes locks of
 * libmicrohttpd's). */
static void wake_all(struct kvs_budget_waiter *w)
{
    while (w != NULL) {
        struct kvs_budget_waiter *next = w->next;
        w->next = NULL;
        w->wake(w); /* may end W's owner's wait at once: W is not touched after */
        w = next;
    }
}

void kvs_budget_give(struct kvs_budget *b, size_t n)
{
    pthread_mutex_lock(&b->lock);
    b->used -= n;
    struct kvs_budget_waiter *woken = release_waiters(b);
    pthread_mutex_unlock(&b->lock);
    wake_all(woken);
}

void kvs_budget_close(struct kvs_budget *b)
{
    pthread_mutex_lock(&b->lock);
    b->closed = 1;
    struct kvs_budget_waiter *woken = release_waiters(b);
    pthread_mutex_unlock(&b->lock);
    wake_all(woken);
}

size_t kvs_budget_used(struct kvs_budget *b)
{
    pthread_mutex_lock(&b->lock);
    size_t n = b->used;
    pthread_mutex_unlock(&b->lock);
    return n;
}

size_t kvs_budget_peak(struct kvs_budget *b)
{
    pthread_mutex_lock(&b->lock);
    size_t n = b->peak;
    pthread_mutex_unlock(&b->lock);
    return n;
}
