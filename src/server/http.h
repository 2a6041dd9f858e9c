/* http.h — the HTTP layer: libmicrohttpd glue and the request that handlers work on.
 *
 * libmicrohttpd (MHD) calls one access handler many times per request: once when the headers
 * are in, once per chunk of body, once more when the body is complete, and once after a
 * suspended connection is resumed. http.c turns those calls into a small state machine:
 *
 *   headers   route the request, check the method, and, for requests with a body,
 *             authenticate and check the announced size before any byte is buffered
 *   body      append chunks to a buffer capped at the body limit, or hand them to the
 *             record handler as they come (kvs_api_record_body); past the cap, or after the
 *             handler failed, read and discard the rest so the client sees the answer (413,
 *             507) instead of a reset connection
 *   dispatch  call the route's handler, which either sets a response or submits a write
 *   wait      (writes) the connection is suspended until the storage's writer has made the
 *             write durable; its callback resumes the connection
 *   finish    the route's finish function turns the write's result into the response
 *
 * A response is queued only from the second call on: queueing on the first call makes MHD
 * 0.9.75 close the connection after the response (no keep-alive).
 *
 * MHD calls nothing of ours while the headers arrive; --header-timeout bounds that time
 * (deadline.h): the first call clears the connection's deadline, completion arms it again.
 */
#ifndef KVS_SERVER_HTTP_H
#define KVS_SERVER_HTTP_H

#include <microhttpd.h>
#include <stdint.h>
#include <sys/socket.h>

#include "auth/scope.h"
#include "common/buf.h"
#include "common/validate.h"
#include "storage/storage.h"

struct kvs_route;
struct kvs_server;
struct kvs_ratelimit;
struct kvs_deadlines;
struct kvs_deadline_conn;
struct kvs_tls;
struct kvs_budget;
struct kvs_runwait;

enum kvs_method {
    KVS_M_GET = 1,
    KVS_M_HEAD = 2,
    KVS_M_PUT = 4,
    KVS_M_POST = 8,
    KVS_M_DELETE = 16,
    KVS_M_OPTIONS = 32,
    KVS_M_OTHER = 64,
};

/* Server-wide settings the handlers read. Fixed once the server runs. */
struct kvs_server_config {
    const char *listen; /* "HOST:PORT" */
    const char *data_dir;
    const char *public_url; /* base of public links; NULL = from the Host header */
    uint8_t default_access; /* default general access of new users (--default-general-access) */
    size_t max_record_size; /* bytes as stored */
    unsigned threads;       /* MHD worker threads */
    unsigned max_connections;
    unsigned timeout_secs;         /* idle connection timeout */
    unsigned request_timeout_secs; /* whole request (headers + body) deadline; 0 = none */
    unsigned header_timeout_secs;  /* request headers complete within; 0 = none (deadline.h) */
    unsigned first_byte_timeout_secs; /* a new connection's request line within; 0 = none */
    unsigned max_per_ip;           /* connections per client IP; 0 = no limit */
    unsigned rate_limit;           /* requests per second per token or IP; 0 = off */
    int metrics_public;            /* GET /metrics without a token; else the admin's only */
    unsigned cache_max_age;        /* Cache-Control max-age of public records; 0 = no-cache */
    const char *tls_cert;          /* --tls-cert: PEM file; NULL = plain HTTP */
    const char *tls_key;           /* --tls-key: PEM file, set with tls_cert */
    size_t decode_memory; /* --decode-memory: bytes all content decoders may hold at once */
    uint64_t unnamed_retention_ms; /* --unnamed-retention, as told to the storage (for /health) */
};

struct kvs_server {
    struct kvs_server_config cfg;
    struct kvs_storage *storage;
    struct MHD_Daemon *daemon;
    unsigned long in_flight;         /* requests between first call and completion; atomic */
    unsigned long waiting;           /* requests suspended until their write is durable; atomic */
    int ready;                       /* set once start-up is complete; before, requests get 503 */
    int stopping;                    /* set by kvs_http_stop: new connections refused; atomic */
    struct kvs_ratelimit *rl;        /* --rate-limit; NULL when off */
    struct kvs_deadlines *deadlines; /* --header-timeout; NULL when off */
    struct kvs_tls *tls;             /* HTTPS credentials (tls.h); NULL for plain HTTP */
    struct kvs_budget *decoding;     /* cfg.decode_memory, shared by every decoder (budget.h) */
    struct kvs_runwait *runwait;     /* requests waiting for a run to finish (api/runwait.h) */
    int listen_fd;                   /* kvs_http_listen()'s socket; -1 before */
    unsigned port;                   /* the port listened on */
};

/* One request. Allocated on the first handler call, freed when MHD reports completion;
 * everything it points to is owned by it unless said otherwise. */
struct kvs_req {
    struct kvs_server *srv;
    struct MHD_Connection *conn;
    enum kvs_method method;                 /* after the ?method= override */
    const struct kvs_route *route;          /* NULL until routed */
    int state;                              /* http.c's state machine */
    uint64_t start_ns;                      /* monotonic clock when the request line was in */
    unsigned retry_after;                   /* seconds, for a 429 */
    uint64_t bytes_in;                      /* request body bytes received */
    uint64_t bytes_out;                     /* response body bytes (0 for streamed ones) */
    struct kvs_deadline_conn *hdr_deadline; /* the connection's, or NULL; owned by the table */

    /* the raw request target, split into path and query arguments (percent-decoded) */
    char *target;   /* owned copy of the target as received */
    kvs_slice path; /* into target, still percent-encoded */
    struct kvs_query_arg {
        char *name; /* decoded, NUL-terminated; point into query_buf */
        char *value;
    } query[16];
    unsigned n_query;
    char *query_buf; /* owns the decoded names and values */
    int bad_query;   /* a malformed escape in the query */

    /* path parameters, percent-decoded */
    char store_ref[3 * KVS_NAME_MAX + 8]; /* an ID, "user~name", "~name" or a bare name */
    size_t store_ref_len;
    uint8_t via; /* how the path named its store: enum kvs_path_via (router.h) */
    char key[KVS_KEY_MAX + 1];
    size_t key_len;
    int key_too_long; /* the decoded key did not fit: report it as invalid */

    /* who is calling */
    int authenticated;        /* a valid token was given */
    int token_refused;        /* its token was looked up and opens nothing */
    struct kvs_user user;     /* valid when authenticated */
    int64_t token_expires_ms; /* when authenticated: the token's expiry, 0 = never */
    struct kvs_scope scope;   /* when authenticated: the token's scope (auth/scope.h) */

    /* the store the request is about, once resolved (kvs_api_store_or_reply) */
    struct kvs_store store;
    int have_store;
    uint8_t share;   /* the caller's share of that store: enum kvs_share_level */
    uint8_t by_name; /* the path named it by name (not by its ID) */
    /* the store's owner's default general access, once looked up; 0 (FOLLOW_USER_SETTING,
     * which no user has as default) until then */
    uint8_t owner_default;
    /* the run the request is about, once found (api/runs.c); malloc'd, freed at completion */
    struct kvs_run *run;

    /* a token created by this request (POST /v2/users...), shown once in its response */
    char new_token[KVS_TOKEN_LEN + 1];

    struct kvs_read *rd; /* the request's read snapshot, if any; ended at completion */
    struct kvs_buf body; /* the request body, capped */
    int has_length;      /* the body's length was announced (Content-Length), not chunked */
    uint64_t length;     /* that length */
    void *stream;        /* a record body taken as it arrives (kvs_api_record_body); owned */
    uint64_t drained;    /* body bytes read and discarded after an early error */
    uint64_t drain_max;  /* how many may be drained before the connection is cut */
    int error;           /* an error found before dispatch, answered when the body is in */
    char error_msg[160]; /* its message, "" for the table's */

    struct kvs_write w; /* the write this request waits for */
    /* w's preconditions, when it has any (w.precond points here); malloc'd */
    struct kvs_precond *precond;

    /* the response, built by reply.c and queued by http.c */
    struct MHD_Response *resp;
    unsigned status;
    int resp_kept; /* resp is kept for other requests too (kvs_reply_keep): complete, not ours */

    struct kvs_req *spare_next; /* http.c's list of freed requests kept for reuse */
};

/* Resolve "HOST:PORT" ("[v6]:PORT" for IPv6; PORT 0..65535, 0 = any free port) into ADDR.
 * Returns 0 or KVS_EINVAL. */
int kvs_http_resolve(const char *listen, struct sockaddr_storage *addr, socklen_t *len);

/* Listen on SRV->cfg.listen: SRV->listen_fd and SRV->port (the one chosen for port 0) are set.
 * Connections wait in the kernel's backlog until kvs_http_start(), so that nothing is
 * answered "starting" in between, and a busy port is found before anything else is done.
 * Returns 0, or KVS_EINVAL / KVS_EIO with why the address could not be listened on (e.g.
 * "Address already in use") in WHY (CAP bytes). */
int kvs_http_listen(struct kvs_server *srv, char *why, size_t cap);

/* Start serving SRV->listen_fd with SRV->cfg on SRV->storage; over HTTPS when SRV->tls is set
 * (the caller made it with kvs_tls_open() and frees it after kvs_http_stop()). The listening
 * socket is libmicrohttpd's from then on. Returns 0, or KVS_EIO with why in WHY. */
int kvs_http_start(struct kvs_server *srv, char *why, size_t cap);

/* Stop accepting new connections, wait up to GRACE_SECS for requests in flight to finish,
 * then close every connection and stop the worker threads. */
void kvs_http_stop(struct kvs_server *srv, unsigned grace_secs);

/* Submit R->w to the storage and suspend the connection until it is durable; the route's
 * finish function then builds the response from R->w.result. If the storage refuses the
 * write (shutting down), finish runs all the same with that error in R->w.result. */
void kvs_http_submit(struct kvs_req *r);

/* Suspend R until kvs_http_resume(R) (any thread): no read is held meanwhile, and the route's
 * finish function runs once it is resumed, as after a write. Call it from a handler or a finish
 * function, then return without a response. kvs_http_stop() waits for every suspended request,
 * so whoever suspends must resume when the server stops (api/runwait.c does). */
void kvs_http_suspend(struct kvs_req *r);
void kvs_http_resume(struct kvs_req *r);

/* Header and query lookups. Query values are percent-decoded ('+' is a space). The returned
 * string belongs to MHD (headers) or to the request (query) and lives as long as R. */
const char *kvs_http_header(struct kvs_req *r, const char *name);
const char *kvs_http_query(struct kvs_req *r, const char *name);

#endif
