/* metrics.c — counters and the Prometheus exposition (metrics.h). */
#include "server/metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "api/runwait.h"
#include "kvs.h"
#include "server/budget.h"
#include "server/deadline.h"
#include "server/http.h"
#include "server/router.h"
#include "storage/storage.h"

/* The status codes counted apart; anything else is counted as "other". */
static const unsigned CODES[] = {200, 201, 204, 206, 304, 400, 401, 403, 404, 405, 408,
                                 409, 411, 413, 414, 415, 429, 431, 500, 503, 507};
#define N_CODES (sizeof CODES / sizeof CODES[0])

/* Upper bounds of the latency buckets, in microseconds (+Inf is the count). */
static const uint64_t BOUNDS_US[] = {100,     250,     500,     1000,    2500,   5000,
                                     10000,   25000,   50000,   100000,  250000, 500000,
                                     1000000, 2500000, 5000000, 10000000};
#define N_BOUNDS (sizeof BOUNDS_US / sizeof BOUNDS_US[0])

#define MAX_ROUTES 64 /* the route table has about 25 */

struct route_metrics {
    const struct kvs_route *route; /* NULL: free slot; slot 0 is "none" */
    uint64_t by_code[N_CODES + 1];
    uint64_t bucket[N_BOUNDS]; /* not cumulative: the render sums them */
    uint64_t count;
    uint64_t sum_us;
};

static struct {
    struct route_metrics routes[MAX_ROUTES];
    uint64_t bytes_in, bytes_out;
} M;

static struct route_metrics *slot_of(const struct kvs_route *route)
{
    if (route == NULL)
        return &M.routes[0];
    size_t h = ((uintptr_t)route >> 4) % (MAX_ROUTES - 1);
    for (size_t i = 0; i < MAX_ROUTES - 1; i++) {
        struct route_metrics *s = &M.routes[1 + (h + i) % (MAX_ROUTES - 1)];
        const struct kvs_route *cur = __atomic_load_n(&s->route, __ATOMIC_ACQUIRE);
        if (cur == route)
            return s;
        if (cur == NULL) {
            const struct kvs_route *expected = NULL;
            if (__atomic_compare_exchange_n(&s->route, &expected, route, 0, __ATOMIC_ACQ_REL,
                                            __ATOMIC_ACQUIRE) ||
                expected == route)
                return s;
        }
    }
    return &M.routes[0]; /* cannot happen with the route table's size */
}

static unsigned code_index(unsigned status)
{
    for (unsigned i = 0; i < N_CODES; i++)
        if (CODES[i] == status)
            return i;
    return N_CODES;
}

void kvs_metrics_record(const struct kvs_route *route, unsigned status, uint64_t duration_ns,
                        uint64_t bytes_in, uint64_t bytes_out)
{
    struct route_metrics *s = slot_of(route);
    uint64_t us = duration_ns / 1000;
    unsigned b = 0;
    while (b < N_BOUNDS && us > BOUNDS_US[b])
        b++;
    __atomic_add_fetch(&s->by_code[code_index(status)], 1, __ATOMIC_RELAXED);
    if (b < N_BOUNDS)
        __atomic_add_fetch(&s->bucket[b], 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&s->count, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&s->sum_us, us, __ATOMIC_RELAXED);
    if (bytes_in)
        __atomic_add_fetch(&M.bytes_in, bytes_in, __ATOMIC_RELAXED);
    if (bytes_out)
        __atomic_add_fetch(&M.bytes_out, bytes_out, __ATOMIC_RELAXED);
}

static int add(struct kvs_buf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int add(struct kvs_buf *out, const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof line)
        return KVS_ENOMEM;
    return kvs_buf_append(out, line, (size_t)n) == 0 ? 0 : KVS_ENOMEM;
}

int kvs_metrics_render(struct kvs_server *srv, struct kvs_buf *out)
{
    int rc = 0;
    rc |= add(out, "# HELP kvs_http_requests_total HTTP requests by route and status code.\n"
                   "# TYPE kvs_http_requests_total counter\n");
    for (unsigned i = 0; i < MAX_ROUTES; i++) {
        struct route_metrics *s = &M.routes[i];
        const struct kvs_route *route = __atomic_load_n(&s->route, __ATOMIC_ACQUIRE);
        if (i > 0 && route == NULL)
            continue;
        const char *name = route ? route->name : "none";
        for (unsigned c = 0; c <= N_CODES; c++) {
            uint64_t n = __atomic_load_n(&s->by_code[c], __ATOMIC_RELAXED);
            if (n == 0)
                continue;
            if (c < N_CODES)
                rc |= add(out, "kvs_http_requests_total{route=\"%s\",code=\"%u\"} %llu\n", name,
                          CODES[c], (unsigned long long)n);
            else
                rc |= add(out, "kvs_http_requests_total{route=\"%s\",code=\"other\"} %llu\n", name,
                          (unsigned long long)n);
        }
    }
    rc |= add(out, "# HELP kvs_http_request_duration_seconds Time from the request line to the "
                   "end of the response.\n"
                   "# TYPE kvs_http_request_duration_seconds histogram\n");
    for (unsigned i = 0; i < MAX_ROUTES; i++) {
        struct route_metrics *s = &M.routes[i];
        const struct kvs_route *route = __atomic_load_n(&s->route, __ATOMIC_ACQUIRE);
        uint64_t count = __atomic_load_n(&s->count, __ATOMIC_RELAXED);
        if (count == 0 || (i > 0 && route == NULL))
            continue;
        const char *name = route ? route->name : "none";
        uint64_t cum = 0;
        for (unsigned b = 0; b < N_BOUNDS; b++) {
            cum += __atomic_load_n(&s->bucket[b], __ATOMIC_RELAXED);
            rc |=
                add(out, "kvs_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n",
                    name, (double)BOUNDS_US[b] / 1e6, (unsigned long long)cum);
        }
        if (count < cum)
            count = cum; /* read while others were counting: keep the series monotonic */
        rc |= add(out,
                  "kvs_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n"
                  "kvs_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n"
                  "kvs_http_request_duration_seconds_count{route=\"%s\"} %llu\n",
                  name, (unsigned long long)count, name,
                  (double)__atomic_load_n(&s->sum_us, __ATOMIC_RELAXED) / 1e6, name,
                  (unsigned long long)count);
    }
    struct kvs_storage_counters sc = {0};
    kvs_storage_counters(srv->storage, &sc);
    struct kvs_storage_totals tot;
    uint64_t disk = 0;
    struct kvs_read *rd;
    int err = kvs_storage_read_begin(srv->storage, &rd);
    if (err == 0) {
        err = kvs_storage_totals(rd, &tot);
        kvs_storage_read_end(rd);
    }
    if (err == 0)
        err = kvs_storage_disk_bytes(srv->storage, &disk);
    if (err != 0)
        return err;
    rc |= add(out,
              "# HELP kvs_http_request_body_bytes_total Request body bytes received.\n"
              "# TYPE kvs_http_request_body_bytes_total counter\n"
              "kvs_http_request_body_bytes_total %llu\n"
              "# HELP kvs_http_response_body_bytes_total Response body bytes queued (streamed "
              "answers not included: ZIP archives, records sent decoded).\n"
              "# TYPE kvs_http_response_body_bytes_total counter\n"
              "kvs_http_response_body_bytes_total %llu\n"
              "# HELP kvs_http_requests_in_flight Requests being received, handled or sent.\n"
              "# TYPE kvs_http_requests_in_flight gauge\n"
              "kvs_http_requests_in_flight %lu\n"
              "# HELP kvs_storage_sync_batches_total Write transactions committed, one sync each.\n"
              "# TYPE kvs_storage_sync_batches_total counter\n"
              "kvs_storage_sync_batches_total %llu\n"
              "# HELP kvs_storage_writes_total Writes applied.\n"
              "# TYPE kvs_storage_writes_total counter\n"
              "kvs_storage_writes_total %llu\n"
              "# HELP kvs_storage_bytes Disk space used by the storage (LMDB: its files; "
              "PostgreSQL: its database).\n"
              "# TYPE kvs_storage_bytes gauge\n"
              "kvs_storage_bytes %llu\n"
              "# HELP kvs_records Records stored (those of deleted stores until swept).\n"
              "# TYPE kvs_records gauge\n"
              "kvs_records %llu\n"
              "# HELP kvs_stores Key-value stores.\n"
              "# TYPE kvs_stores gauge\n"
              "kvs_stores %llu\n"
              "# HELP kvs_users Users.\n"
              "# TYPE kvs_users gauge\n"
              "kvs_users %llu\n"
              "# HELP kvs_http_header_timeouts_total Connections closed for not sending a "
              "complete request header in time (--header-timeout).\n"
              "# TYPE kvs_http_header_timeouts_total counter\n"
              "kvs_http_header_timeouts_total %llu\n",
              (unsigned long long)__atomic_load_n(&M.bytes_in, __ATOMIC_RELAXED),
              (unsigned long long)__atomic_load_n(&M.bytes_out, __ATOMIC_RELAXED),
              __atomic_load_n(&srv->in_flight, __ATOMIC_RELAXED), (unsigned long long)sc.batches,
              (unsigned long long)sc.writes, (unsigned long long)disk,
              (unsigned long long)tot.records, (unsigned long long)tot.stores,
              (unsigned long long)tot.users, (unsigned long long)kvs_deadlines_cut(srv->deadlines));
    if (srv->decoding)
        rc |= add(out,
                  "# HELP kvs_decode_memory_bytes Memory taken by content decoders now "
                  "(--decode-memory).\n"
                  "# TYPE kvs_decode_memory_bytes gauge\n"
                  "kvs_decode_memory_bytes %llu\n"
                  "# HELP kvs_decode_memory_peak_bytes The most content decoders took at once.\n"
                  "# TYPE kvs_decode_memory_peak_bytes gauge\n"
                  "kvs_decode_memory_peak_bytes %llu\n"
                  "# HELP kvs_decode_memory_limit_bytes --decode-memory.\n"
                  "# TYPE kvs_decode_memory_limit_bytes gauge\n"
                  "kvs_decode_memory_limit_bytes %llu\n",
                  (unsigned long long)kvs_budget_used(srv->decoding),
                  (unsigned long long)kvs_budget_peak(srv->decoding),
                  (unsigned long long)srv->cfg.decode_memory);
    rc |= add(out,
              "# HELP kvs_run_waits Requests waiting for a run to finish (waitForFinish), "
              "holding no worker thread.\n"
              "# TYPE kvs_run_waits gauge\n"
              "kvs_run_waits %u\n",
              kvs_runwait_count(srv->runwait));
    return rc ? KVS_ENOMEM : 0;
}
