/* perthread.h — memory of one thread, made on its first use and freed when the thread ends.
 *
 * For what a server thread keeps for itself, without locks: caches (api/cache.h), freed
 * request objects (server/http.c). A module defines one struct kvs_perthread for its TYPE and
 * keeps the calling thread's pointer in a __thread variable of its own:
 *
 *     static struct kvs_perthread tables_pt = KVS_PERTHREAD_INIT(struct tables, free_tables);
 *     static __thread struct tables *mine;
 *     ...  if (mine == NULL) mine = kvs_perthread_make(&tables_pt);
 *
 * When the thread ends, FINI gets the memory to release (it frees it). Threads that end by
 * returning from their start routine or by pthread_exit run it: libmicrohttpd's workers, which
 * MHD_stop_daemon joins. Memory of a thread that never ends (the main thread) lives as long as
 * the process. */
#ifndef KVS_COMMON_PERTHREAD_H
#define KVS_COMMON_PERTHREAD_H

#include <pthread.h>
#include <stddef.h>

struct kvs_perthread {
    pthread_mutex_t mu; /* guards made and key */
    int made;
    pthread_key_t key;
    size_t size;
    void (*fini)(void *p);
};

#define KVS_PERTHREAD_INIT(type, fini)                                                             \
    {                                                                                              \
        PTHREAD_MUTEX_INITIALIZER, 0, 0, sizeof(type), fini                                        \
    }

/* The calling thread's zeroed memory of PT->size bytes, new: call it once per thread (its
 * __thread pointer is NULL). Aborts when out of memory or of thread-specific keys, as the
 * allocation functions of alloc.h do. */
void *kvs_perthread_make(struct kvs_perthread *pt);

#endif
