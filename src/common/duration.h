/* duration.h — durations written for people: "7d", "12h", "30m", "90s", "500ms", "0". */
#ifndef KVS_COMMON_DURATION_H
#define KVS_COMMON_DURATION_H

#include <stdint.h>

/* Parse S, digits with a unit d, h, m, s or ms ("0" alone is allowed), into milliseconds, at
 * most 100 years. Returns 0 or -1. */
int kvs_parse_duration_ms(const char *s, uint64_t *out);

#endif
