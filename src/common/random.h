/* random.h — unguessable identifiers from the operating system's CSPRNG (OpenSSL RAND_bytes). */
#ifndef KVS_COMMON_RANDOM_H
#define KVS_COMMON_RANDOM_H

#include <stddef.h>

/* Fill OUT with N random characters from [a-zA-Z0-9] and a terminating NUL (OUT holds N + 1
 * bytes). Uses rejection sampling, so every character is equally likely.
 * Returns 0, or KVS_EIO when the random source fails (OUT is then unusable). */
__attribute__((warn_unused_result)) int kvs_random_alnum(char *out, size_t n);

/* Fill OUT with N random bytes. Returns 0 or KVS_EIO. */
__attribute__((warn_unused_result)) int kvs_random_bytes(void *out, size_t n);

/* A new 17-character store or user ID into OUT[18]. Returns as kvs_random_alnum(). */
__attribute__((warn_unused_result)) int kvs_random_id(char out[18]);

#endif
