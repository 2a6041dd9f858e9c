/* metrics.h — request counters for `GET /metrics` (Prometheus text format 0.0.4).
 *
 * Recording a request is a few relaxed atomic increments into fixed arrays: no lock, no
 * allocation. Series: requests by route and status code, a latency histogram by route, body
 * bytes in and response bytes out, requests in flight, the storage writer's batches (one sync
 * each) and writes, and the size of the data files. Routes are found by their kvs_route
 * pointer in a small table filled on first use; "none" is a request answered before routing
 * (unknown path, rate limited, malformed query). */
#ifndef KVS_SERVER_METRICS_H
#define KVS_SERVER_METRICS_H

#include <stdint.h>

#include "common/buf.h"

struct kvs_route;
struct kvs_server;

/* Count one finished request. */
void kvs_metrics_record(const struct kvs_route *route, unsigned status, uint64_t duration_ns,
                        uint64_t bytes_in, uint64_t bytes_out);

/* Append the exposition text for SRV to OUT. Returns 0 or KVS_ENOMEM. */
int kvs_metrics_render(struct kvs_server *srv, struct kvs_buf *out);

#endif
