/* budget.h — a server-wide allowance of bytes that requests take for a while and give back.
 *
 * The server keeps one for the memory of content decoders (`kvs serve --decode-memory`): a
 * record sent decoded, an upload checked, a ZIP entry decoded each take their decoder's bound
 * (common/decoder.h) plus their output window before they start, and give it back when they
 * end, so that all decoding at once never holds more than the allowance, however many
 * clients ask.
 *
 * A request that cannot wait answers 503 when the allowance is spent (kvs_budget_take). One
 * that has already started its response (a ZIP download between two entries) waits instead:
 * kvs_budget_take_or_wait() queues it, first come first served, and its connection is
 * suspended until bytes given back are enough for it; they are then granted to it before
 * anyone else may take them. A plain take never passes a queued waiter.
 *
 * Threads: every function may be called from any thread; one mutex. */
#ifndef KVS_SERVER_BUDGET_H
#define KVS_SERVER_BUDGET_H

#include <stddef.h>

struct kvs_budget;

/* A request waiting for bytes. Embedded in what the request owns; set WAKE and ARG before
 * queueing it. */
struct kvs_budget_waiter {
    /* Called once, without the budget's lock, on the thread that gave bytes back (or closed
     * the budget): GRANTED is then set. Must not block. */
    void (*wake)(struct kvs_budget_waiter *w);
    void *arg;
    size_t n;    /* bytes wanted */
    int granted; /* 1: the bytes are the waiter's now; 0: the budget closed (or not yet woken) */
    int queued;  /* in the queue; under the budget's lock */
    struct kvs_budget_waiter *next;
};

/* A budget of CAP bytes. Release with kvs_budget_free(). Aborts on out-of-memory. */
struct kvs_budget *kvs_budget_new(size_t cap);

/* Release B. Nobody may wait on it any more (kvs_budget_close() first). Accepts NULL. */
void kvs_budget_free(struct kvs_budget *b);

/* Take N bytes now. Returns 0, or KVS_EUNAVAIL when they are not free (or someone is queued
 * before, or the budget is closed). */
__attribute__((warn_unused_result)) int kvs_budget_take(struct kvs_budget *b, size_t n);

/* Take N bytes now, or queue W for them. Before W can be woken, ON_WAIT(ARG) runs under the
 * budget's lock (a connection suspends itself there, so that its resume never comes first).
 * Returns 0 (taken), 1 (queued: W->wake will tell), or KVS_EUNAVAIL when N is more than the
 * whole budget or the budget is closed. */
__attribute__((warn_unused_result)) int kvs_budget_take_or_wait(struct kvs_budget *b, size_t n,
                                                                struct kvs_budget_waiter *w,
                                                                void (*on_wait)(void *),
                                                                void *arg);

/* Take W out of the queue if it is still there (its request is ending). Accepts a waiter that
 * was never queued. */
void kvs_budget_cancel(struct kvs_budget *b, struct kvs_budget_waiter *w);

/* Give back N bytes taken (or granted), and grant queued waiters what now fits, in order. */
void kvs_budget_give(struct kvs_budget *b, size_t n);

/* Refuse every take from now on and wake every waiter without granting it (shutting down). */
void kvs_budget_close(struct kvs_budget *b);

/* Bytes taken now, and the most ever taken at once. */
size_t kvs_budget_used(struct kvs_budget *b);
size_t kvs_budget_peak(struct kvs_budget *b);

#endif
