/* httpdate.h — HTTP dates (RFC 9110 §5.6.7): Last-Modified out, If-Modified-Since,
 * If-Unmodified-Since and If-Range in.
 *
 * Senders use one form, IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"); recipients must also
 * take the two obsolete ones, RFC 850 ("Sunday, 06-Nov-94 08:49:37 GMT") and asctime
 * ("Sun Nov  6 08:49:37 1994"). Everything is UTC and whole seconds. */
#ifndef KVS_COMMON_HTTPDATE_H
#define KVS_COMMON_HTTPDATE_H

#include <stdint.h>

#include "common/slice.h"

#define KVS_HTTPDATE_LEN 29 /* "Sun, 06 Nov 1994 08:49:37 GMT" */

/* Write SECS (seconds since the Unix epoch, years 1970..9999) as an IMF-fixdate and a NUL into
 * OUT. Earlier times are written as the epoch, later ones as the last second of 9999. */
void kvs_httpdate_format(int64_t secs, char out[KVS_HTTPDATE_LEN + 1]);

/* Parse S, an HTTP-date in any of the three forms (surrounding spaces allowed), into seconds
 * since the Unix epoch. A two-digit RFC 850 year is taken in NOW_SECS's century, or the one
 * before when that would put it more than 50 years ahead of NOW_SECS (RFC 9110 §5.6.7).
 * Returns 0, or KVS_EINVAL for anything else (then *OUT is untouched). */
int kvs_httpdate_parse(kvs_slice s, int64_t now_secs, int64_t *out)
    __attribute__((warn_unused_result));

#endif
