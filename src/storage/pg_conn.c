/* pg_conn.c — the PostgreSQL back-end's connections: making one, the pool of a node, and
 * pipelines of prepared statements.
 *
 * Every connection runs in libpq's pipeline mode: a lookup is one Bind/Execute and a Sync; a
 * batch of writes many statements and one Sync. A statement is prepared on a connection the
 * first time that connection runs it, in the same round trip (a Prepare ahead of the Execute),
 * and is never prepared again on it. Results come in binary format. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/log.h"
#include "storage/pg_internal.h"

#define RETRY_MS 500 /* while the database is down, a new connection is tried this often */

/* ==== connecting ============================================================================= */

/* libpq's message, on one line (it spans several: "connection to ... failed: ...\n\tIs the
 * server running ...?"), into OUT[CAP]. */
static void one_line(const char *msg, char *out, size_t cap)
{
    size_t j = 0;
    int space = 0;
    for (const char *p = msg ? msg : ""; *p && j + 1 < cap; p++) {
        if (*p == '\n' || *p == '\t' || *p == '\r' || *p == ' ') {
            space = j > 0;
            continue;
        }
        if (space && j + 2 < cap)
            out[j++] = ' ';
        space = 0;
        out[j++] = *p;
    }
    out[j] = '\0';
}

/* The server's notices (warnings of our statements): to the log, not to stderr as they are. */
static void notice(void *arg, const char *msg)
{
    char line[512];
    (void)arg;
    one_line(msg, line, sizeof line);
    kvs_log_warn("postgres: %s", line);
}

/* Whether to try connecting now: not while the database is known to be down and was tried
 * less than RETRY_MS ago, so that requests during an outage fail at once instead of each
 * waiting for a connection attempt (up to connect_timeout against an unanswering host). */
static int may_try(struct kvs_pg *db)
{
    int64_t now = kvs_now_ms();
    pthread_mutex_lock(&db->mu);
    int ok = !db->down || now >= db->retry_at;
    if (ok && db->down)
        db->retry_at = now + RETRY_MS; /* this one tries; the others wait for its outcome */
    pthread_mutex_unlock(&db->mu);
    return ok;
}

/* Connect a new connection; on failure its reason, on one line, into WHY[WHY_N]. */
static int dial(struct kvs_pg *db, char *why, size_t why_n, struct kvs_pg_conn **out)
{
    *out = NULL;
    /* Ours come before dbname, so that the URI's own settings win (libpq's rule: later
     * entries override earlier ones). Keepalives find a dead peer of an idle connection. */
    static const char *const keys[] = {
        "connect_timeout",     "application_name", "keepalives", "keepalives_idle",
        "keepalives_interval", "keepalives_count", "dbname",     NULL};
    const char *values[] = {"5", "kvs", "1", "10", "5", "3", db->uri, NULL};
    PGconn *pg = PQconnectdbParams(keys, values, 1);
    if (pg == NULL) { /* libpq's out of memory: not an error path here (alloc.h) */
        kvs_log_error("postgres: out of memory");
        abort();
    }
    char msg[512] = "";
    if (PQstatus(pg) != CONNECTION_OK) {
        one_line(PQerrorMessage(pg), msg, sizeof msg);
        goto fail;
    }
    /* Durable commits whatever the server's or the role's default, and the isolation the
     * design assumes (pg_internal.h). No hash or merge joins: every statement of kvs finds
     * its rows by key, and a generic plan made while a table is empty or small joins an
     * unnest() of keys to it by a hash over a sequential scan, and keeps that plan as the
     * table grows until autovacuum's next ANALYZE: durable PUTs on a new database ran at
     * 1,840-3,569 req/s (290-560 us of CPU each) instead of ~16,000 (make bench). Nested
     * loops over the primary keys are what every statement here wants anyway. */
    PGresult *r = PQexec(pg, "SET synchronous_commit = on; "
                             "SET default_transaction_isolation = 'read committed'; "
                             "SET lock_timeout = 0; SET statement_timeout = 0; "
                             "SET enable_hashjoin = off; SET enable_mergejoin = off");
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        one_line(PQresultErrorMessage(r), msg, sizeof msg);
    PQclear(r);
    if (ok && PQenterPipelineMode(pg) != 1) {
        ok = 0;
        one_line(PQerrorMessage(pg), msg, sizeof msg);
    }
    if (!ok)
        goto fail;
    PQsetNoticeProcessor(pg, notice, NULL);
    struct kvs_pg_conn *c = kvs_xcalloc(1, sizeof *c);
    c->pg = pg;
    *out = c;
    return 0;
fail:
    snprintf(why, why_n, "%s", msg[0] ? msg : "the connection failed");
    PQfinish(pg);
    return KVS_EUNAVAIL;
}

int kvs_pg_connect(struct kvs_pg *db, char *why, size_t why_n, struct kvs_pg_conn **out)
{
    if (why != NULL)
        return dial(db, why, why_n, out);
    *out = NULL;
    if (!may_try(db))
        return KVS_EUNAVAIL;
    char msg[512];
    int rc = dial(db, msg, sizeof msg, out);
    if (rc != 0)
        kvs_pg_note_down(db, msg);
    return rc;
}

void kvs_pg_conn_close(struct kvs_pg_conn *c)
{
    if (c == NULL)
        return;
    PQfinish(c->pg);
    free(c);
}

void kvs_pg_note_down(struct kvs_pg *db, const char *why)
{
    pthread_mutex_lock(&db->mu);
    int was = db->down;
    if (!was)
        db->retry_at = kvs_now_ms() + RETRY_MS;
    db->down = 1;
    pthread_mutex_unlock(&db->mu);
    if (!was)
        kvs_log_error("postgres: the database is unreachable (%s); answering 503 until it is "
                      "back",
                      why);
}

void kvs_pg_note_up(struct kvs_pg *db)
{
    pthread_mutex_lock(&db->mu);
    int was = db->down;
    db->down = 0;
    pthread_mutex_unlock(&db->mu);
    if (was)
        kvs_log_info("postgres: the database answers again");
}

/* ==== the pool =============================================================================== */

/* A failed connection attempt does not make the database unreachable while others of the
 * pool are open and it is not known to be down: on a busy machine a new backend can take
 * longer than connect_timeout to start while the open connections answer in milliseconds
 * (two nodes and PostgreSQL on two cores: thousands of 503s in a second after start). The
 * pool stops growing for RETRY_MS instead, and the lookup waits for an open connection. If
 * those break too, OPEN falls to 0 and the next failure is the database's. */
int kvs_pg_conn_get(struct kvs_pg *db, struct kvs_pg_conn **out)
{
    *out = NULL;
    char why[512] = "";
    pthread_mutex_lock(&db->mu);
    for (;;) {
        struct kvs_pg_conn *c = db->idle;
        if (c != NULL) {
            db->idle = c->next;
            c->next = NULL;
            pthread_mutex_unlock(&db->mu);
            *out = c;
            return 0;
        }
        if (db->open >= db->max) {
            pthread_cond_wait(&db->freed, &db->mu);
            continue;
        }
        /* Growth paused: wait until a connection is given back, or until GROW_AT. */
        if (db->open > 0 && kvs_mono_ms() < db->grow_at) {
            struct timespec at = kvs_mono_timespec((uint64_t)db->grow_at * 1000000u);
            pthread_cond_timedwait(&db->freed, &db->mu, &at);
            continue;
        }
        int down = db->down;
        db->open++; /* counted while connecting, so that MAX holds */
        pthread_mutex_unlock(&db->mu);
        /* Known down: one attempt per RETRY_MS, the others fail at once (kvs_pg_connect). */
        why[0] = '\0';
        int rc = down ? kvs_pg_connect(db, NULL, 0, out) : dial(db, why, sizeof why, out);
        pthread_mutex_lock(&db->mu);
        if (rc == 0) {
            db->grow_failing = 0;
            pthread_mutex_unlock(&db->mu);
            return 0;
        }
        db->open--;
        pthread_cond_broadcast(&db->freed);
        if (down || db->open == 0)
            break;
        if (!db->grow_failing) /* once until a connection is made again */
            kvs_log_warn("postgres: a new connection failed (%s); the %u open serve meanwhile, "
                         "and another is tried every %d ms",
                         why, db->open, RETRY_MS);
        db->grow_failing = 1;
        db->grow_at = kvs_mono_ms() + RETRY_MS;
    }
    pthread_mutex_unlock(&db->mu);
    if (why[0] != '\0') /* dial()'s failure, not yet noted */
        kvs_pg_note_down(db, why);
    return KVS_EUNAVAIL;
}

void kvs_pg_conn_put(struct kvs_pg *db, struct kvs_pg_conn *c, int broken)
{
    struct kvs_pg_conn *drop = NULL;
    pthread_mutex_lock(&db->mu);
    if (broken) {
        drop = db->idle; /* most likely dead too: made again when needed */
        for (struct kvs_pg_conn *d = drop; d != NULL; d = d->next)
            db->open--;
        db->idle = NULL;
        db->open--;
    } else {
        c->next = db->idle;
        db->idle = c;
    }
    pthread_cond_broadcast(&db->freed);
    pthread_mutex_unlock(&db->mu);
    if (broken)
        kvs_pg_conn_close(c);
    while (drop != NULL) {
        struct kvs_pg_conn *next = drop->next;
        kvs_pg_conn_close(drop);
        drop = next;
    }
}

void kvs_pg_pool_close(struct kvs_pg *db)
{
    while (db->idle != NULL) {
        struct kvs_pg_conn *c = db->idle;
        db->idle = c->next;
        kvs_pg_conn_close(c);
        db->open--;
    }
}

/* ==== parameters ============================================================================= */

static void param(struct kvs_pg_params *p, const char *v, int len, int format)
{
    if (p->n >= PG_MAX_PARAMS) {
        kvs_log_error("postgres: more than %d parameters", PG_MAX_PARAMS);
        abort(); /* a statement of ours with too many: a bug, caught by any test */
    }
    p->values[p->n] = v;
    p->lengths[p->n] = len;
    p->formats[p->n] = format;
    p->n++;
}

void kvs_pg_p_bytes(struct kvs_pg_params *p, const void *v, size_t n)
{
    /* A non-NULL pointer even for no bytes: NULL would be SQL NULL. */
    param(p, n ? (const char *)v : "", (int)n, 1);
}

void kvs_pg_p_str(struct kvs_pg_params *p, const char *s)
{
    kvs_pg_p_bytes(p, s, strlen(s));
}

void kvs_pg_p_i64(struct kvs_pg_params *p, int64_t x)
{
    char *b = p->num[p->n < PG_MAX_PARAMS ? p->n : 0];
    kvs_pg_put_be64(b, (uint64_t)x);
    param(p, b, 8, 1);
}

void kvs_pg_p_bool(struct kvs_pg_params *p, int x)
{
    char *b = p->num[p->n < PG_MAX_PARAMS ? p->n : 0];
    b[0] = x ? 1 : 0;
    param(p, b, 1, 1);
}

void kvs_pg_p_null(struct kvs_pg_params *p)
{
    param(p, NULL, 0, 1);
}

/* ---- arrays ---- */

static void array_room(struct kvs_pg_array *a, size_t more)
{
    if (a->n + more <= a->cap)
        return;
    a->cap = (a->n + more) * 2;
    a->p = kvs_xrealloc(a->p, a->cap);
}

void kvs_pg_array_init(struct kvs_pg_array *a, uint32_t elem_oid)
{
    memset(a, 0, sizeof *a);
    array_room(a, 20 + 64);
    kvs_pg_put_be32(a->p, 1);            /* dimensions */
    kvs_pg_put_be32(a->p + 4, 0);        /* no NULLs */
    kvs_pg_put_be32(a->p + 8, elem_oid); /* the elements' type */
    kvs_pg_put_be32(a->p + 16, 1);       /* the lower bound; the count goes at 12 */
    a->n = 20;
}

void kvs_pg_array_add(struct kvs_pg_array *a, const void *v, size_t n)
{
    array_room(a, 4 + n);
    kvs_pg_put_be32(a->p + a->n, (uint32_t)n);
    if (n > 0)
        memcpy(a->p + a->n + 4, v, n);
    a->n += 4 + n;
    a->count++;
}

void kvs_pg_array_add_i64(struct kvs_pg_array *a, int64_t x)
{
    char b[8];
    kvs_pg_put_be64(b, (uint64_t)x);
    kvs_pg_array_add(a, b, sizeof b);
}

void kvs_pg_p_array(struct kvs_pg_params *p, struct kvs_pg_array *a)
{
    kvs_pg_put_be32(a->p + 12, a->count);
    param(p, a->p, (int)a->n, 1);
}

void kvs_pg_array_free(struct kvs_pg_array *a)
{
    free(a->p);
    memset(a, 0, sizeof *a);
}

/* ==== pipelines ============================================================================== */

static int slot(struct kvs_pg_pipe *pp, int prepare, const char *what)
{
    if (pp->n == pp->cap) {
        pp->cap = pp->cap ? pp->cap * 2 : 16;
        pp->slots = kvs_xrealloc(pp->slots, pp->cap * sizeof *pp->slots);
    }
    pp->slots[pp->n] = (struct kvs_pg_slot){.res = NULL, .prepare = prepare, .what = what};
    return (int)pp->n++;
}

int kvs_pg_send(struct kvs_pg_pipe *pp, const struct kvs_pg_stmt *stmt,
                const struct kvs_pg_params *p)
{
    PGconn *pg = pp->c->pg;
    if (!(pp->c->prepared & (1ull << stmt->id))) {
        if (PQsendPrepare(pg, stmt->name, stmt->sql, 0, NULL) != 1)
            return KVS_EUNAVAIL;
        /* Prepared from now on, for the rest of this pipeline too; kvs_pg_sync() takes it
         * back if the Prepare fails. */
        pp->c->prepared |= 1ull << stmt->id;
        slot(pp, (int)stmt->id, stmt->name);
    }
    int n = p ? p->n : 0;
    if (PQsendQueryPrepared(pg, stmt->name, n, p ? p->values : NULL, p ? p->lengths : NULL,
                            p ? p->formats : NULL, 1) != 1)
        return KVS_EUNAVAIL;
    return slot(pp, -1, stmt->name);
}

int kvs_pg_send_sql(struct kvs_pg_pipe *pp, const char *sql)
{
    if (PQsendQueryParams(pp->c->pg, sql, 0, NULL, NULL, NULL, NULL, 1) != 1)
        return KVS_EUNAVAIL;
    return slot(pp, -1, sql);
}

int kvs_pg_sync(struct kvs_pg_pipe *pp)
{
    PGconn *pg = pp->c->pg;
    if (PQpipelineSync(pg) != 1) {
        pp->c->prepared = 0; /* the connection is gone, and with it what it had prepared */
        return KVS_EUNAVAIL;
    }
    size_t first = 0;
    while (first < pp->n && pp->slots[first].res != NULL)
        first++; /* collected by an earlier sync */
    for (size_t i = first; i < pp->n; i++) {
        PGresult *r = PQgetResult(pg);
        if (r == NULL)
            return KVS_EUNAVAIL; /* the connection ended: no more results will come */
        pp->slots[i].res = r;
        /* Each statement's results end with a NULL. */
        PGresult *extra;
        while ((extra = PQgetResult(pg)) != NULL)
            PQclear(extra); /* cannot happen: one statement, one result */
        int prepare = pp->slots[i].prepare;
        if (prepare >= 0 && PQresultStatus(r) != PGRES_COMMAND_OK)
            pp->c->prepared &= ~(1ull << prepare);
    }
    PGresult *r = PQgetResult(pg);
    int synced = r != NULL && PQresultStatus(r) == PGRES_PIPELINE_SYNC;
    PQclear(r);
    if (!synced)
        return KVS_EUNAVAIL;
    return kvs_pg_broken(pp->c) ? KVS_EUNAVAIL : 0;
}

int kvs_pg_slot_err(struct kvs_pg_pipe *pp, int i)
{
    PGresult *r = pp->slots[i].res;
    ExecStatusType s = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (s == PGRES_TUPLES_OK || s == PGRES_COMMAND_OK)
        return 0;
    if (s == PGRES_PIPELINE_ABORTED)
        return KVS_EIO; /* an earlier statement failed, and said why */
    return kvs_pg_err(r, pp->c, pp->slots[i].what);
}

int kvs_pg_pipe_err(struct kvs_pg_pipe *pp)
{
    for (size_t i = 0; i < pp->n; i++) {
        int rc = kvs_pg_slot_err(pp, (int)i);
        if (rc != 0)
            return rc;
    }
    return 0;
}

void kvs_pg_pipe_clear(struct kvs_pg_pipe *pp)
{
    for (size_t i = 0; i < pp->n; i++)
        PQclear(pp->slots[i].res);
    pp->n = 0;
}

void kvs_pg_pipe_free(struct kvs_pg_pipe *pp)
{
    kvs_pg_pipe_clear(pp);
    free(pp->slots);
    pp->slots = NULL;
    pp->cap = 0;
}
