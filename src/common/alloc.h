/* alloc.h — allocation that cannot fail (server side).
 *
 * Running out of memory is not an error path in the server: these print a message and abort,
 * as redis's zmalloc does. libkvs must not use them (a library must not kill its host); it
 * returns KVS_ENOMEM instead. */
#ifndef KVS_COMMON_ALLOC_H
#define KVS_COMMON_ALLOC_H

#include <stddef.h>

void *kvs_xmalloc(size_t n);
void *kvs_xcalloc(size_t count, size_t size);
void *kvs_xrealloc(void *p, size_t n);
/* A NUL-terminated copy of S; free() it. */
char *kvs_xstrdup(const char *s);
/* A NUL-terminated copy of the first N bytes at S; free() it. */
char *kvs_xstrndup(const char *s, size_t n);

#endif
