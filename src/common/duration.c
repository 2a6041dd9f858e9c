/* duration.c — parsing durations (see duration.h). */
#include "common/duration.h"

#include <string.h>

#define MAX_MS (100ull * 365 * 86400000)

int kvs_parse_duration_ms(const char *s, uint64_t *out)
{
    static const struct {
        const char *unit;
        uint64_t ms;
    } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}};
    uint64_t v = 0;
    const char *p = s;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > MAX_MS)
            return -1;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (p == s)
        return -1;
    if (*p == '\0' && v == 0) {
        *out = 0;
        return 0;
    }
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(p, units[i].unit) == 0) {
            if (v > MAX_MS / units[i].ms)
                return -1;
            *out = v * units[i].ms;
            return 0;
        }
    }
    return -1;
}
