/* perthread.c — memory of one thread (see perthread.h). */
#include "common/perthread.h"

#include <stdlib.h>

#include "common/alloc.h"
#include "common/log.h"

void *kvs_perthread_make(struct kvs_perthread *pt)
{
    pthread_mutex_lock(&pt->mu);
    if (!pt->made) {
        if (pthread_key_create(&pt->key, pt->fini) != 0) {
            kvs_log_error("out of thread-specific keys");
            abort(); /* the process could not work at all */
        }
        pt->made = 1;
    }
    pthread_mutex_unlock(&pt->mu);
    void *p = kvs_xcalloc(1, pt->size);
    if (pthread_setspecific(pt->key, p) != 0) {
        kvs_log_error("out of memory");
        abort(); /* ENOMEM, as in kvs_xcalloc */
    }
    return p;
}
