/* clock.h — wall-clock time in milliseconds and its ISO-8601 form. */
#ifndef KVS_COMMON_CLOCK_H
#define KVS_COMMON_CLOCK_H

#include <stdint.h>

/* Milliseconds since the Unix epoch (CLOCK_REALTIME). */
int64_t kvs_now_ms(void);

/* The monotonic clock (CLOCK_MONOTONIC), for deadlines and intervals: nanoseconds and
 * milliseconds since an arbitrary start. */
uint64_t kvs_mono_ns(void);
int64_t kvs_mono_ms(void);

#define KVS_ISO_LEN 24 /* "2019-12-12T07:34:14.202Z" */

/* Write MS as "YYYY-MM-DDTHH:MM:SS.mmmZ" (UTC, always 24 characters) and a NUL into OUT. */
void kvs_iso8601(int64_t ms, char out[KVS_ISO_LEN + 1]);

/* Read an ISO-8601 date and time with its zone, as the API takes them:
 * "YYYY-MM-DDTHH:MM:SS", optional ".f" (1 to 9 digits; milliseconds are kept), then "Z" or
 * "+HH:MM" / "-HH:MM"; years 1970 to 9999. Into *OUT in milliseconds since the epoch.
 * Returns 0 or -1 (anything else, a date that does not exist, a time before 1970). */
int kvs_iso8601_parse(const char *s, int64_t *out);

#endif
