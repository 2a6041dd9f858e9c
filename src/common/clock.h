/* clock.h — wall-clock time in milliseconds and its ISO-8601 form. */
#ifndef KVS_COMMON_CLOCK_H
#define KVS_COMMON_CLOCK_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

/* Milliseconds since the Unix epoch (CLOCK_REALTIME). */
int64_t kvs_now_ms(void);

/* The monotonic clock (CLOCK_MONOTONIC), for deadlines and intervals: nanoseconds and
 * milliseconds since an arbitrary start. */
uint64_t kvs_mono_ns(void);
int64_t kvs_mono_ms(void);

/* Initialise COND so that pthread_cond_timedwait() on it counts by the monotonic clock, which
 * the wall clock's steps do not move. */
void kvs_cond_init_mono(pthread_cond_t *cond);

/* The monotonic time NS (kvs_mono_ns()'s) as the deadline pthread_cond_timedwait() takes on a
 * condition made by kvs_cond_init_mono(). */
struct timespec kvs_mono_timespec(uint64_t ns);

#define KVS_ISO_LEN 24 /* "2019-12-12T07:34:14.202Z" */

/* Write MS as "YYYY-MM-DDTHH:MM:SS.mmmZ" (UTC, always 24 characters) and a NUL into OUT. */
void kvs_iso8601(int64_t ms, char out[KVS_ISO_LEN + 1]);

/* Read an ISO-8601 date and time with its zone, as the API takes them:
 * "YYYY-MM-DDTHH:MM:SS", optional ".f" (1 to 9 digits; milliseconds are kept), then "Z" or
 * "+HH:MM" / "-HH:MM"; years 1970 to 9999. Into *OUT in milliseconds since the epoch.
 * Returns 0 or -1 (anything else, a date that does not exist, a time before 1970). */
int kvs_iso8601_parse(const char *s, int64_t *out);

#endif
