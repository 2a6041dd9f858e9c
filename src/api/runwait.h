/* runwait.h — requests that wait for a run to finish (GET /v2/actor-runs/{run}?waitForFinish=S),
 * without holding a worker thread.
 *
 * A waiting request is suspended (kvs_http_suspend) and kept in a list. It is resumed, and its
 * route's finish function looks at the run again (answering, or waiting anew), when:
 *   - a write of this process changed its run (kvs_runwait_notify, from the write's answer):
 *     at once;
 *   - a second has passed since it was suspended: a run may be ended by another process (another
 *     node on the same PostgreSQL database), which nothing here hears of; so a wait sees such an
 *     end within about a second;
 *   - its deadline came;
 *   - the server stops (kvs_runwait_stop): every waiting request is resumed, and none waits
 *     from then on, so that stopping never waits for a 60-second poll.
 * One thread keeps the time; the waits cost it nothing while nothing is due. */
#ifndef KVS_API_RUNWAIT_H
#define KVS_API_RUNWAIT_H

#include <stdint.h>

struct kvs_req;
struct kvs_runwait;

/* The list and its thread. Returns NULL (logged) when the thread cannot be made. */
struct kvs_runwait *kvs_runwait_start(void);

/* Resume every waiting request and refuse new waits. Accepts NULL; idempotent. */
void kvs_runwait_stop(struct kvs_runwait *w);

/* Stop (if not stopped) and free. Accepts NULL. */
void kvs_runwait_free(struct kvs_runwait *w);

/* Suspend R (on its own thread, from its handler or finish function) until run RUN_ID changes,
 * a second passes, or DEADLINE_NS (monotonic, kvs_mono_ns()'s clock) comes. Returns 0
 * (suspended: return without a response) or KVS_EUNAVAIL when the server is stopping (not
 * suspended: answer now). */
int kvs_runwait_add(struct kvs_runwait *w, struct kvs_req *r, const char *run_id,
                    uint64_t deadline_ns);

/* Run RUN_ID changed: resume the requests waiting for it. Any thread. Accepts NULL. */
void kvs_runwait_notify(struct kvs_runwait *w, const char *run_id);

/* Requests waiting now (for /metrics and tests). */
unsigned kvs_runwait_count(struct kvs_runwait *w);

#endif
