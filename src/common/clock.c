/* clock.c — wall-clock milliseconds and ISO-8601 (see clock.h). */
#include "common/clock.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t kvs_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void kvs_iso8601(int64_t ms, char out[KVS_ISO_LEN + 1])
{
    if (ms < 0)
        ms = 0;
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    /* The year is clamped to 4 digits so the text always has KVS_ISO_LEN characters. */
    int year = tm.tm_year + 1900;
    if (year > 9999)
        year = 9999;
    /* Formatted into a roomy buffer: the compiler cannot see that every field is in range. */
    char tmp[96];
    snprintf(tmp, sizeof tmp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", year, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
    memcpy(out, tmp, KVS_ISO_LEN);
    out[KVS_ISO_LEN] = '\0';
}
