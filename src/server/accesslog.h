/* accesslog.h — one line per finished request (`kvs serve --access-log`, `--log-format`).
 *
 * Fields: time (ISO 8601, UTC), client address, method, path (the request target without its
 * query string, so neither ?token= nor ?signature= is ever written, and with a token in it cut
 * to its listed prefix: server/redact.h), route, status, request
 * body bytes, response body bytes, duration in milliseconds, user ("-" when anonymous).
 * Text: space-separated, bytes outside printable ASCII escaped as \xNN. JSON: one object per
 * line. Each line is one write(2) to a descriptor opened with O_APPEND, so lines from many
 * threads never mix; with the log off nothing at all is done per request. */
#ifndef KVS_SERVER_ACCESSLOG_H
#define KVS_SERVER_ACCESSLOG_H

#include <stdint.h>

struct kvs_req;

/* Open the log: "-" is stderr, anything else a file (appended to, created 0640). JSON picks
 * the format. Returns 0 or KVS_EIO. */
int kvs_accesslog_open(const char *where, int json);
void kvs_accesslog_close(void);

/* Whether a log is open (cheap; checked per request). */
int kvs_accesslog_on(void);

/* Write R's line; DURATION_NS from its request line to now. */
void kvs_accesslog_write(const struct kvs_req *r, uint64_t duration_ns);

#endif
