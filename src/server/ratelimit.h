/* ratelimit.h — per-caller token buckets (`kvs serve --rate-limit N`).
 *
 * Each caller (a token, or for anonymous requests the client's IP address) has a bucket of N
 * requests that refills at N per second; a request finding it empty is refused with 429 and a
 * Retry-After of the whole seconds until the next token. The buckets live in a fixed table of
 * two-way sets: a caller not in its set takes the slot used least recently, so memory is
 * bounded whatever the number of callers, and an evicted caller comes back with a full bucket
 * (a rate limiter that forgets is lenient, never wrong the other way). The table is locked in
 * stripes; a check is one hash, one lock and a few arithmetic operations. */
#ifndef KVS_SERVER_RATELIMIT_H
#define KVS_SERVER_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

struct kvs_ratelimit;

/* A limiter of RATE requests per second (burst RATE) over SLOTS buckets (rounded up to a
 * power of two, at least 64). RATE must be at least 1. Never fails (allocation aborts). */
struct kvs_ratelimit *kvs_ratelimit_new(unsigned rate, unsigned slots);
void kvs_ratelimit_free(struct kvs_ratelimit *rl);

/* Take one request from the bucket of the caller named by KEY[0..N) at NOW_NS (a monotonic
 * clock in nanoseconds). Returns 0 when allowed, otherwise the seconds to wait (at least 1). */
unsigned kvs_ratelimit_take(struct kvs_ratelimit *rl, const void *key, size_t n, uint64_t now_ns);

/* Whether the bucket of KEY[0..N) holds a request at NOW_NS, taking nothing (and adding no
 * caller to the table). Returns 0 when it does, otherwise the seconds to wait. */
unsigned kvs_ratelimit_peek(struct kvs_ratelimit *rl, const void *key, size_t n, uint64_t now_ns);

/* Whether KEY[0..N) has a bucket in the table now (it took a request lately and was not
 * evicted since). */
int kvs_ratelimit_known(struct kvs_ratelimit *rl, const void *key, size_t n);

#endif
