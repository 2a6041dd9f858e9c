/* runwait.c — requests waiting for a run to finish (see runwait.h). */
#include "api/runwait.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/validate.h"
#include "kvs.h"
#include "server/http.h"

#define RECHECK_NS 1000000000ull /* a waiting request looks at its run at least this often */

struct waiter {
    struct kvs_req *r;
    char run_id[KVS_ID_LEN + 1];
    uint64_t due_ns; /* the earlier of its deadline and its next look */
    int notified;    /* its run changed: due now */
    struct waiter *next;
};

struct kvs_runwait {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* on CLOCK_MONOTONIC: a new waiter, a notification, stop */
    pthread_t thread;
    int started;
    int stopping;  /* under mu */
    unsigned n;    /* waiters, under mu */
    struct waiter *head; /* under mu */
};

/* Take the waiters that are due at NOW (or all, when stopping) off the list of W (mu held),
 * returned as a list of their own. Sets *NEXT_NS to when the next one left is due (0: none). */
static struct waiter *take_due(struct kvs_runwait *w, uint64_t now, uint64_t *next_ns)
{
    struct waiter *due = NULL, **pp = &w->head;
    *next_ns = 0;
    while (*pp != NULL) {
        struct waiter *x = *pp;
        if (w->stopping || x->notified || x->due_ns <= now) {
            *pp = x->next;
            x->next = due;
            due = x;
            w->n--;
        } else {
            if (*next_ns == 0 || x->due_ns < *next_ns)
                *next_ns = x->due_ns;
            pp = &x->next;
        }
    }
    return due;
}

/* Resume and free the waiters of list DUE (no lock held: a resume may wake another thread). */
static void resume_all(struct waiter *due)
{
    while (due != NULL) {
        struct waiter *x = due;
        due = x->next;
        kvs_http_resume(x->r);
        free(x);
    }
}

static void *keeper(void *arg)
{
    struct kvs_runwait *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        uint64_t next = 0;
        struct waiter *due = take_due(w, kvs_mono_ns(), &next);
        int stop = w->stopping;
        if (due != NULL) {
            pthread_mutex_unlock(&w->mu);
            resume_all(due);
            pthread_mutex_lock(&w->mu);
            continue; /* the list may have changed meanwhile */
        }
        if (stop)
            break;
        if (next == 0) {
            pthread_cond_wait(&w->cv, &w->mu);
        } else {
            struct timespec ts = kvs_mono_timespec(next);
            pthread_cond_timedwait(&w->cv, &w->mu, &ts);
        }
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

struct kvs_runwait *kvs_runwait_start(void)
{
    struct kvs_runwait *w = kvs_xcalloc(1, sizeof *w);
    kvs_cond_init_mono(&w->cv); /* the deadlines are kvs_mono_ns()'s */
    pthread_mutex_init(&w->mu, NULL);
    int rc = pthread_create(&w->thread, NULL, keeper, w);
    if (rc != 0) {
        kvs_log_error("http: cannot start the thread of run waits: %s", strerror(rc));
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        free(w);
        return NULL;
    }
    w->started = 1;
    return w;
}

void kvs_runwait_stop(struct kvs_runwait *w)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&w->mu);
    int join = w->started && !w->stopping;
    w->stopping = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    if (join) /* the keeper resumes everyone left before it ends */
        pthread_join(w->thread, NULL);
}

void kvs_runwait_free(struct kvs_runwait *w)
{
    if (w == NULL)
        return;
    kvs_runwait_stop(w);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

int kvs_runwait_add(struct kvs_runwait *w, struct kvs_req *r, const char *run_id,
                    uint64_t deadline_ns)
{
    struct waiter *x = kvs_xcalloc(1, sizeof *x);
    x->r = r;
    snprintf(x->run_id, sizeof x->run_id, "%s", run_id);
    uint64_t recheck = kvs_mono_ns() + RECHECK_NS;
    x->due_ns = deadline_ns < recheck ? deadline_ns : recheck;
    pthread_mutex_lock(&w->mu);
    if (w->stopping) {
        pthread_mutex_unlock(&w->mu);
        free(x);
        return KVS_EUNAVAIL;
    }
    /* Suspended before it is listed: the keeper may resume it as soon as it is, and a resume
     * must never come before its suspend. */
    kvs_http_suspend(r);
    x->next = w->head;
    w->head = x;
    w->n++;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return 0;
}

void kvs_runwait_notify(struct kvs_runwait *w, const char *run_id)
{
    if (w == NULL)
        return;
    int any = 0;
    pthread_mutex_lock(&w->mu);
    for (struct waiter *x = w->head; x != NULL; x = x->next)
        if (strcmp(x->run_id, run_id) == 0)
            any = x->notified = 1;
    if (any)
        pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

unsigned kvs_runwait_count(struct kvs_runwait *w)
{
    if (w == NULL)
        return 0;
    pthread_mutex_lock(&w->mu);
    unsigned n = w->n;
    pthread_mutex_unlock(&w->mu);
    return n;
}
