/* clock.c — wall-clock milliseconds and ISO-8601 (see clock.h). */
#include "common/clock.h"

#include <string.h>
#include <time.h>

int64_t kvs_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t kvs_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int64_t kvs_mono_ms(void)
{
    return (int64_t)(kvs_mono_ns() / 1000000u);
}

void kvs_cond_init_mono(pthread_cond_t *cond)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(cond, &ca);
    pthread_condattr_destroy(&ca);
}

struct timespec kvs_mono_timespec(uint64_t ns)
{
    return (struct timespec){(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
}

/* The date of day Z since 1970-01-01 in the proleptic Gregorian calendar (H. Hinnant's
 * civil_from_days): a few divisions, where gmtime_r() takes a lock-free but long path through
 * the time zone code. */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468; /* days from 0000-03-01 */
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);                          /* [0, 146096] */
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* [0, 365] */
    unsigned mp = (5 * doy + 2) / 153;                                    /* March = 0 */
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

/* Write V (< 10^N) as N decimal digits at P. */
static void digits(char *p, unsigned v, int n)
{
    while (n-- > 0) {
        p[n] = (char)('0' + v % 10);
        v /= 10;
    }
}

/* Written by hand, not with gmtime_r() and snprintf(): a page of keys formats one for each
 * of its up to 1,000 records (api/keys.c), and snprintf alone costs more than the rest of an
 * item. */
void kvs_iso8601(int64_t ms, char out[KVS_ISO_LEN + 1])
{
    if (ms < 0)
        ms = 0;
    int64_t days = ms / 86400000;
    unsigned in_day = (unsigned)(ms % 86400000);
    int64_t year;
    unsigned month, day;
    civil_from_days(days, &year, &month, &day);
    if (year > 9999) /* clamped to 4 digits, so the text always has KVS_ISO_LEN characters */
        year = 9999;
    memcpy(out, "0000-00-00T00:00:00.000Z", KVS_ISO_LEN + 1);
    digits(out, (unsigned)year, 4);
    digits(out + 5, month, 2);
    digits(out + 8, day, 2);
    digits(out + 11, in_day / 3600000, 2);
    digits(out + 14, in_day / 60000 % 60, 2);
    digits(out + 17, in_day / 1000 % 60, 2);
    digits(out + 20, in_day % 1000, 3);
}

/* N decimal digits at *P into *OUT; advances *P. Returns 0 or -1. */
static int read_digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return -1;
        v = v * 10 + (c - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

/* Whether *P starts with C; advances past it. */
static int expect(const char **p, char c)
{
    if (**p != c)
        return 0;
    (*p)++;
    return 1;
}

int kvs_iso8601_parse(const char *s, int64_t *out)
{
    int y, mo, d, h, mi, sec, ms = 0;
    const char *p = s;
    if (read_digits(&p, 4, &y) || !expect(&p, '-') || read_digits(&p, 2, &mo) || !expect(&p, '-') ||
        read_digits(&p, 2, &d) || !expect(&p, 'T') || read_digits(&p, 2, &h) || !expect(&p, ':') ||
        read_digits(&p, 2, &mi) || !expect(&p, ':') || read_digits(&p, 2, &sec))
        return -1;
    if (expect(&p, '.')) {
        int n = 0;
        while (p[n] >= '0' && p[n] <= '9')
            n++;
        if (n == 0 || n > 9)
            return -1;
        for (int i = 0; i < 3; i++)
            ms = ms * 10 + (i < n ? p[i] - '0' : 0);
        p += n;
    }
    int offset = 0; /* minutes east of UTC */
    if (!expect(&p, 'Z')) {
        int sign = *p == '+' ? 1 : *p == '-' ? -1 : 0, oh, om;
        if (sign == 0)
            return -1;
        p++;
        if (read_digits(&p, 2, &oh) || !expect(&p, ':') || read_digits(&p, 2, &om) || oh > 23 || om > 59)
            return -1;
        offset = sign * (oh * 60 + om);
    }
    if (*p != '\0' || y < 1970 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 59)
        return -1;
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > days[mo - 1] + (mo == 2 && leap))
        return -1;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h,
                    .tm_min = mi, .tm_sec = sec};
    int64_t t = (int64_t)timegm(&tm) - (int64_t)offset * 60;
    if (t < 0)
        return -1;
    *out = t * 1000 + ms;
    return 0;
}
