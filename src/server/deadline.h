/* deadline.h — the request-header deadlines (`kvs serve --header-timeout SECS`,
 * `--first-byte-timeout SECS`).
 *
 * libmicrohttpd 0.9.75 calls nothing of ours until a request's headers are complete and has no
 * deadline of its own for them: its idle timeout is reset by every byte, so a client trickling
 * one header byte every few seconds (slowloris) could hold a connection forever. This module
 * bounds that: a connection that has not delivered a complete request header block within
 * SECS of becoming ready for a request (accepted, or its previous response completed) is cut.
 * A new connection must also send its first request line within FIRST_SECS of being accepted
 * (--first-byte-timeout, shorter): an idle socket costs little (about 4.7 KiB of the server's
 * memory, README "Limits"), but one address opening them by the thousand must not hold them
 * for long. A connection whose request is waiting unread in its socket when that deadline
 * passes is not cut: the client was in time and the server is late (every thread busy under
 * load); the header deadline applies to it instead.
 *
 *   table     one entry per open connection, added when MHD reports it started and removed
 *             when MHD reports it closed, on an intrusive list under one mutex (O(1) both)
 *   deadline  per entry, an atomic monotonic time (0 = none): armed at accept (the sooner
 *             of the two deadlines), moved to the header deadline when the first request line
 *             is in, armed again when a response completes, cleared when the request's headers
 *             are in. The per-request calls are one atomic operation each: no lock, no
 *             allocation
 *   watchdog  a thread that wakes four times a second and calls shutdown(fd, SHUT_RDWR) on
 *             every connection past its deadline. The peer gets a FIN and MHD sees end of file
 *             on its next read, so MHD closes the connection itself, on its own thread.
 *
 * fd lifetime: MHD 0.9.75 calls MHD_CONNECTION_NOTIFY_CLOSED before it closes the socket (in
 * MHD_cleanup_connections and in the failure path of internal_add_connection), and the
 * watchdog shuts sockets down only under the mutex that kvs_deadline_remove() takes. So a
 * socket is shut down only while it is still open and still that connection's: never a
 * number the kernel has given to another connection since. */
#ifndef KVS_SERVER_DEADLINE_H
#define KVS_SERVER_DEADLINE_H

#include <stdint.h>

struct kvs_deadlines;     /* the table and its watchdog */
struct kvs_deadline_conn; /* one connection's entry */

/* A table of connections that must send their request headers within SECS and, when new,
 * their first request line within FIRST_SECS (0 = no such deadline; not both 0), with its
 * watchdog running. Returns NULL (logged) when the thread cannot be created. */
struct kvs_deadlines *kvs_deadlines_start(unsigned secs, unsigned first_secs);

/* Stop and join the watchdog. Afterwards no socket is shut down any more, while entries may
 * still be added and removed (MHD closing its connections). Accepts NULL; idempotent. */
void kvs_deadlines_stop(struct kvs_deadlines *d);

/* Stop the watchdog if still running and free the table, and any entries left in it. Call
 * it only once nothing can add or remove entries (after MHD_stop_daemon). Accepts NULL. */
void kvs_deadlines_free(struct kvs_deadlines *d);

/* Connections the watchdog has cut so far. */
uint64_t kvs_deadlines_cut(const struct kvs_deadlines *d);

/* A new connection on socket FD, accepted at NOW_NS (monotonic ns), armed to the sooner of its
 * two deadlines. The entry belongs to the table; give it back with kvs_deadline_remove()
 * before the socket is closed. */
struct kvs_deadline_conn *kvs_deadline_add(struct kvs_deadlines *d, int fd, uint64_t now_ns);

/* The connection is closing: forget it and free C. Accepts NULL. */
void kvs_deadline_remove(struct kvs_deadlines *d, struct kvs_deadline_conn *c);

/* The headers of the connection's request are in: no deadline until the next arm. */
void kvs_deadline_clear(struct kvs_deadline_conn *c);

/* The connection is ready for its next request at NOW_NS: its headers are due SECS later. */
void kvs_deadline_arm(struct kvs_deadline_conn *c, uint64_t now_ns);

/* A request line is in (libmicrohttpd's URI callback): on a new connection, the first-line
 * deadline gives way to the header deadline. Call it on the connection's own thread. */
void kvs_deadline_line_in(struct kvs_deadline_conn *c);

#endif
