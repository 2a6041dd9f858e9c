/* httpdate.c — HTTP dates (see httpdate.h).
 *
 * No gmtime/strftime/strptime: those depend on the locale and the time zone, and a date goes
 * out with every record response. The calendar arithmetic is the proleptic Gregorian one of
 * Howard Hinnant's days_from_civil / civil_from_days. */
#include "common/httpdate.h"

#include <string.h>

#include "kvs.h"

static const char days[7][4] = {"Thu", "Fri", "Sat", "Sun",
                                "Mon", "Tue", "Wed"}; /* from 1970-01-01 */
static const char *const day_names[7] = {"Thursday", "Friday",  "Saturday", "Sunday",
                                         "Monday",   "Tuesday", "Wednesday"}; /* the same order */
static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

#define MAX_SECS 253402300799LL /* 9999-12-31 23:59:59 */

/* Days since 1970-01-01 of year Y, month M (1..12), day D. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static void put2(char *p, unsigned v)
{
    p[0] = (char)('0' + v / 10 % 10);
    p[1] = (char)('0' + v % 10);
}

void kvs_httpdate_format(int64_t secs, char out[KVS_HTTPDATE_LEN + 1])
{
    if (secs < 0)
        secs = 0;
    if (secs > MAX_SECS)
        secs = MAX_SECS;
    int64_t day = secs / 86400;
    unsigned sod = (unsigned)(secs % 86400);
    int64_t y;
    unsigned m, d;
    civil_from_days(day, &y, &m, &d);
    /* "Sun, 06 Nov 1994 08:49:37 GMT" */
    char *p = out;
    memcpy(p, days[day % 7], 3);
    memcpy(p + 3, ", ", 2);
    put2(p + 5, d);
    p[7] = ' ';
    memcpy(p + 8, months[m - 1], 3);
    p[11] = ' ';
    put2(p + 12, (unsigned)(y / 100));
    put2(p + 14, (unsigned)(y % 100));
    p[16] = ' ';
    put2(p + 17, sod / 3600);
    p[19] = ':';
    put2(p + 20, sod / 60 % 60);
    p[22] = ':';
    put2(p + 23, sod % 60);
    memcpy(p + 25, " GMT", 5); /* with the NUL */
}

/* ---- parsing ---------------------------------------------------------------------------- */

/* A cursor over the text being parsed. */
struct cur {
    const char *p, *end;
};

static int lit(struct cur *c, const char *s)
{
    size_t n = strlen(s);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, s, n) != 0)
        return 0;
    c->p += n;
    return 1;
}

/* Exactly N digits. */
static int digits(struct cur *c, unsigned n, unsigned *out)
{
    unsigned v = 0;
    for (unsigned i = 0; i < n; i++) {
        if (c->p == c->end || *c->p < '0' || *c->p > '9')
            return 0;
        v = v * 10 + (unsigned)(*c->p++ - '0');
    }
    *out = v;
    return 1;
}

/* One of the three-letter month names (case-sensitive, as the grammar says). */
static int month(struct cur *c, unsigned *out)
{
    for (unsigned i = 0; i < 12; i++)
        if (lit(c, months[i])) {
            *out = i + 1;
            return 1;
        }
    return 0;
}

/* "HH:MM:SS" (second 60 is a leap second, RFC 9110 allows it; it counts as 59). */
static int time_of_day(struct cur *c, unsigned *out)
{
    unsigned h, mi, s;
    if (!digits(c, 2, &h) || !lit(c, ":") || !digits(c, 2, &mi) || !lit(c, ":") ||
        !digits(c, 2, &s) || h > 23 || mi > 59 || s > 60)
        return 0;
    *out = h * 3600 + mi * 60 + (s == 60 ? 59 : s);
    return 1;
}

static unsigned days_in_month(int64_t y, unsigned m)
{
    static const unsigned char n[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return n[m - 1] + (m == 2 && leap);
}

int kvs_httpdate_parse(kvs_slice s, int64_t now_secs, int64_t *out)
{
    s = kvs_slice_trim_ows(s);
    struct cur c = {s.p, s.p + s.n};

    unsigned d = 0, m = 0, y4 = 0, sod = 0;
    int64_t y = 0;
    int ok = 0;
    for (unsigned i = 0; i < 7 && !ok; i++) {
        struct cur t = c;
        if (lit(&t, days[i])) {
            if (lit(&t, ", ")) { /* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" */
                ok = digits(&t, 2, &d) && lit(&t, " ") && month(&t, &m) && lit(&t, " ") &&
                     digits(&t, 4, &y4) && lit(&t, " ") && time_of_day(&t, &sod) && lit(&t, " GMT");
                y = y4;
            } else if (lit(&t, " ")) { /* asctime: "Sun Nov  6 08:49:37 1994" */
                ok = month(&t, &m) && lit(&t, " ") &&
                     (lit(&t, " ") ? digits(&t, 1, &d) : digits(&t, 2, &d)) && lit(&t, " ") &&
                     time_of_day(&t, &sod) && lit(&t, " ") && digits(&t, 4, &y4);
                y = y4;
            }
        }
        if (!ok) { /* RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT" */
            t = c;
            unsigned yy;
            ok = lit(&t, day_names[i]) && lit(&t, ", ") && digits(&t, 2, &d) && lit(&t, "-") &&
                 month(&t, &m) && lit(&t, "-") && digits(&t, 2, &yy) && lit(&t, " ") &&
                 time_of_day(&t, &sod) && lit(&t, " GMT");
            if (ok) {
                int64_t now_y;
                unsigned now_m, now_d;
                civil_from_days(now_secs / 86400, &now_y, &now_m, &now_d);
                y = now_y - now_y % 100 + yy;
                if (y > now_y + 50)
                    y -= 100;
            }
        }
        ok = ok && t.p == c.end;
    }
    if (!ok || y < 1970 || d < 1 || d > days_in_month(y, m))
        return KVS_EINVAL;
    *out = days_from_civil(y, m, d) * 86400 + sod;
    return 0;
}
