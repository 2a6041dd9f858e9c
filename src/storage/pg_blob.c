/* pg_blob.c — large values of the PostgreSQL back-end (pg_internal.h, "Large values"): an
 * upload streams its body into kvs_blobs with COPY, on a connection of its own, in the
 * transaction that the record's write then commits (pg_apply.c); a reader fetches a value's
 * chunks one statement at a time on pooled connections.
 *
 * An upload's connection goes through these states:
 *   copying   BEGIN, a number from kvs_blob_ids, COPY ... FROM STDIN: each full chunk is sent
 *             as one row of the binary COPY format as soon as it is complete;
 *   synced    the last chunk and the end of the COPY sent, its result read (the database
 *             holds every row, in the open transaction), a savepoint set, pipeline mode on:
 *             ready for the writer to run the record's batch on it (kvs_pg_upload_conn);
 *   ended     the batch committed (kvs_pg_upload_keep), or anything else (abort): what is
 *             left of the transaction is rolled back and the connection goes back to the
 *             idle ones, or is closed when broken.
 * Writing to the connection blocks while the database takes the bytes in (as a file's write
 * does); the database's errors (a full disk) come back with the next chunk. */
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/log.h"
#include "storage/pg_internal.h"

/* A chunk of a value; the table's number of a dead value is marked read at most this often. */
static const struct kvs_pg_stmt Q_BLOB_READ = {
    PG_Q_BLOB_READ, "kvs_blob_read",
    "WITH t AS (UPDATE kvs_dead_blobs SET read_ms = " PG_NOW_MS " WHERE blob = $1::int8"
    " AND read_ms < " PG_NOW_MS " - 10000)"
    " SELECT data FROM kvs_blobs WHERE blob = $1::int8 AND seq = $2::int8"};

#define COPY_SQL "COPY kvs_blobs (blob, seq, data) FROM STDIN (FORMAT binary)"
#define SAVEPOINT "kvs_upload"

struct pg_upload {
    struct kvs_upload super;
    struct kvs_pg *db;
    struct kvs_pg_conn *c; /* NULL once it broke (closed) or was given back */
    int64_t blob;
    unsigned char *chunk; /* the chunk being filled (PG_BLOB_CHUNK bytes) */
    size_t fill;
    int64_t seq; /* of that chunk */
    int synced;  /* the COPY ended and the savepoint is set (pipeline mode on) */
    int err;     /* the first error: nothing more is sent */
};

static struct pg_upload *up_of(struct kvs_upload *u)
{
    return (struct pg_upload *)u;
}

uint64_t kvs_pg_inline_max(const struct kvs_storage *st)
{
    return ((const struct kvs_pg *)st)->inline_max;
}

int64_t kvs_pg_blob_of(kvs_slice ref)
{
    uint64_t x;
    if (ref.n != sizeof x)
        return 0;
    memcpy(&x, ref.p, sizeof x);
    return (int64_t)be64toh(x);
}

/* ==== the connections of uploads ============================================================= */

/* A connection for an upload, outside pipeline mode: an idle one (*REUSED set: it may have
 * been closed by the database since, a restart), or a new one. Returns 0, KVS_EUNAVAIL (the
 * database cannot be reached, or PG_UPLOADS_MAX uploads are in progress). */
static int up_conn_get(struct kvs_pg *db, struct kvs_pg_conn **out, int *reused)
{
    *out = NULL;
    *reused = 0;
    pthread_mutex_lock(&db->mu);
    if (db->up_idle != NULL) {
        *out = db->up_idle;
        db->up_idle = (*out)->next;
        db->up_n_idle--;
        (*out)->next = NULL;
        pthread_mutex_unlock(&db->mu);
        *reused = 1;
        return 0;
    }
    int full = db->up_open >= PG_UPLOADS_MAX;
    if (!full)
        db->up_open++;
    pthread_mutex_unlock(&db->mu);
    if (full) {
        kvs_log_warn("postgres: %d uploads in progress already; one more is refused (503)",
                     PG_UPLOADS_MAX);
        return KVS_EUNAVAIL;
    }
    struct kvs_pg_conn *c;
    int rc = kvs_pg_connect(db, NULL, 0, &c);
    if (rc == 0 && PQexitPipelineMode(c->pg) != 1) {
        kvs_log_error("postgres: cannot leave pipeline mode: %s", PQerrorMessage(c->pg));
        kvs_pg_conn_close(c);
        rc = KVS_EIO;
    }
    if (rc != 0) {
        pthread_mutex_lock(&db->mu);
        db->up_open--;
        pthread_mutex_unlock(&db->mu);
        return rc;
    }
    *out = c;
    return 0;
}

/* Give C back (outside pipeline mode, in no transaction), or close it when BROKEN. */
static void up_conn_put(struct kvs_pg *db, struct kvs_pg_conn *c, int broken)
{
    if (!broken && (PQstatus(c->pg) != CONNECTION_OK ||
                    PQtransactionStatus(c->pg) != PQTRANS_IDLE ||
                    PQpipelineStatus(c->pg) != PQ_PIPELINE_OFF))
        broken = 1;
    pthread_mutex_lock(&db->mu);
    int keep = !broken && db->up_n_idle < PG_UPLOADS_IDLE;
    if (keep) {
        c->next = db->up_idle;
        db->up_idle = c;
        db->up_n_idle++;
    } else {
        db->up_open--;
    }
    pthread_mutex_unlock(&db->mu);
    if (!keep)
        kvs_pg_conn_close(c);
}

void kvs_pg_uploads_close(struct kvs_pg *db)
{
    pthread_mutex_lock(&db->mu);
    struct kvs_pg_conn *c = db->up_idle;
    db->up_idle = NULL;
    db->up_open -= db->up_n_idle;
    db->up_n_idle = 0;
    pthread_mutex_unlock(&db->mu);
    while (c != NULL) {
        struct kvs_pg_conn *next = c->next;
        kvs_pg_conn_close(c);
        c = next;
    }
}

/* ==== uploads ================================================================================ */

/* The error of the statement that failed on U's connection (its result R, or the next one
 * when R is NULL), logged; U sends nothing more. */
static int up_fail(struct pg_upload *u, PGresult *r, const char *what)
{
    if (r == NULL)
        r = PQgetResult(u->c->pg);
    int rc = kvs_pg_err(r, u->c, what);
    PQclear(r);
    if (rc == 0)
        rc = KVS_EIO;
    if (u->err == 0)
        u->err = rc;
    return rc;
}

/* Run SQL on U's connection (outside pipeline mode), expecting STATUS. */
static int up_exec(struct pg_upload *u, const char *sql, ExecStatusType status, PGresult **out)
{
    PGresult *r = PQexec(u->c->pg, sql);
    if (PQresultStatus(r) != status)
        return up_fail(u, r, sql);
    if (out != NULL)
        *out = r;
    else
        PQclear(r);
    return 0;
}

/* Send the chunk being filled as one row of the binary COPY: (blob, seq, data). */
static int send_chunk(struct pg_upload *u)
{
    unsigned char h[2 + 4 + 8 + 4 + 4 + 4];
    h[0] = 0, h[1] = 3; /* fields */
    kvs_pg_put_be32(h + 2, 8);
    kvs_pg_put_be64(h + 6, (uint64_t)u->blob);
    kvs_pg_put_be32(h + 14, 4);
    kvs_pg_put_be32(h + 18, (uint32_t)u->seq);
    kvs_pg_put_be32(h + 22, (uint32_t)u->fill);
    if (PQputCopyData(u->c->pg, (const char *)h, sizeof h) != 1 ||
        PQputCopyData(u->c->pg, (const char *)u->chunk, (int)u->fill) != 1)
        return up_fail(u, NULL, "COPY kvs_blobs");
    u->seq++;
    u->fill = 0;
    return 0;
}

int kvs_pg_upload_begin(struct kvs_storage *st, uint64_t size, struct kvs_upload **out)
{
    *out = NULL;
    (void)size; /* the database allocates as rows come */
    struct kvs_pg *db = pg_of(st);
    struct pg_upload *u = kvs_xcalloc(1, sizeof *u);
    u->db = db;
    PGresult *r = NULL;
    int rc, reused;
    for (int tries = 0;; tries++) {
        rc = up_conn_get(db, &u->c, &reused);
        if (rc == 0)
            rc = up_exec(u, "BEGIN; SELECT nextval('kvs_blob_ids')", PGRES_TUPLES_OK, &r);
        /* an idle connection the database dropped meanwhile (a restart; libpq may not have
         * marked it bad yet): closed, and the next one tried (a new one once the idle ones
         * are gone) */
        if (rc != KVS_EUNAVAIL || !reused || tries > PG_UPLOADS_IDLE)
            break;
        up_conn_put(db, u->c, 1);
        u->c = NULL;
        u->err = 0;
    }
    if (rc == 0) {
        u->blob = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        PQclear(r);
        rc = up_exec(u, COPY_SQL, PGRES_COPY_IN, NULL);
    }
    static const char header[19] = "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0";
    if (rc == 0 && PQputCopyData(u->c->pg, header, sizeof header) != 1)
        rc = up_fail(u, NULL, COPY_SQL);
    if (rc != 0) {
        kvs_pg_upload_abort(&u->super);
        return rc;
    }
    u->chunk = kvs_xmalloc(PG_BLOB_CHUNK);
    *out = &u->super;
    return 0;
}

int kvs_pg_upload_append(struct kvs_upload *up, const void *p, size_t n)
{
    struct pg_upload *u = up_of(up);
    if (u->err != 0 || u->synced)
        return u->err ? u->err : KVS_EIO;
    const unsigned char *b = p;
    while (n > 0) {
        size_t take = PG_BLOB_CHUNK - u->fill < n ? PG_BLOB_CHUNK - u->fill : n;
        memcpy(u->chunk + u->fill, b, take);
        u->fill += take;
        b += take;
        n -= take;
        if (u->fill == PG_BLOB_CHUNK) {
            int rc = send_chunk(u);
            if (rc != 0)
                return rc;
        }
    }
    return 0;
}

int kvs_pg_upload_sync(struct kvs_upload *up)
{
    struct pg_upload *u = up_of(up);
    if (u->synced)
        return 0; /* submitted again after a stale refusal: it is as it was */
    if (u->err != 0)
        return u->err;
    int rc = u->fill > 0 ? send_chunk(u) : 0;
    static const char trailer[2] = "\377\377";
    if (rc == 0 && (PQputCopyData(u->c->pg, trailer, 2) != 1 || PQputCopyEnd(u->c->pg, NULL) != 1))
        rc = up_fail(u, NULL, COPY_SQL);
    if (rc == 0) {
        PGresult *r = PQgetResult(u->c->pg);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            rc = up_fail(u, r, COPY_SQL);
        else
            PQclear(r);
        while (rc == 0 && (r = PQgetResult(u->c->pg)) != NULL)
            PQclear(r);
    }
    free(u->chunk);
    u->chunk = NULL;
    if (rc == 0)
        rc = up_exec(u, "SAVEPOINT " SAVEPOINT, PGRES_COMMAND_OK, NULL);
    if (rc == 0 && PQenterPipelineMode(u->c->pg) != 1) {
        kvs_log_error("postgres: cannot enter pipeline mode: %s", PQerrorMessage(u->c->pg));
        rc = u->err = KVS_EIO;
    }
    if (rc == 0)
        u->synced = 1;
    return rc;
}

struct kvs_pg_conn *kvs_pg_upload_conn(struct kvs_upload *up)
{
    struct pg_upload *u = up_of(up);
    return u->synced && u->err == 0 ? u->c : NULL;
}

int64_t kvs_pg_upload_blob(const struct kvs_upload *up)
{
    return ((const struct pg_upload *)up)->blob;
}

/* The batch committed on U's connection: the connection is out of any transaction. */
void kvs_pg_upload_keep(struct kvs_upload *up)
{
    struct pg_upload *u = up_of(up);
    if (u->c != NULL)
        up_conn_put(u->db, u->c, PQexitPipelineMode(u->c->pg) != 1);
    free(u->chunk);
    free(u);
}

/* Dropped before, or instead of, a commit: roll back whatever of its transaction is left (in
 * the COPY, after it, after a failed batch), then give the connection back, or close it. */
void kvs_pg_upload_abort(struct kvs_upload *up)
{
    if (up == NULL)
        return;
    struct pg_upload *u = up_of(up);
    if (u->c != NULL) {
        PGconn *pg = u->c->pg;
        int ok = PQstatus(pg) == CONNECTION_OK;
        if (ok && u->synced)
            ok = PQexitPipelineMode(pg) == 1;
        if (ok && PQtransactionStatus(pg) == PQTRANS_ACTIVE) { /* in the COPY */
            ok = PQputCopyEnd(pg, "the upload was abandoned") == 1;
            PGresult *r;
            while (ok && (r = PQgetResult(pg)) != NULL)
                PQclear(r);
        }
        if (ok && PQtransactionStatus(pg) != PQTRANS_IDLE) {
            PGresult *r = PQexec(pg, "ROLLBACK");
            ok = PQresultStatus(r) == PGRES_COMMAND_OK;
            PQclear(r);
        }
        up_conn_put(u->db, u->c, !ok);
    }
    free(u->chunk);
    free(u);
}

/* ==== readers ================================================================================ */

struct pg_reader {
    struct kvs_blob_reader super;
    struct kvs_pg *db;
    int64_t blob;
    uint64_t size;
    unsigned char *buf; /* chunk SEQ (N bytes), or none (SEQ -1) */
    int64_t seq;
    size_t n;
};

/* Fetch chunk SEQ of R into its buffer, on one pooled connection. Returns 0, KVS_EUNAVAIL (the
 * connection broke: closed), KVS_EIO. */
static int fetch_once(struct pg_reader *r, int64_t seq)
{
    struct kvs_pg_conn *c;
    int rc = kvs_pg_conn_get(r->db, &c);
    if (rc != 0)
        return rc;
    struct kvs_pg_pipe pp = {.c = c};
    struct kvs_pg_params q = {0};
    kvs_pg_p_i64(&q, r->blob);
    kvs_pg_p_i64(&q, seq);
    int slot = kvs_pg_send(&pp, &Q_BLOB_READ, &q);
    rc = slot < 0 ? KVS_EUNAVAIL : kvs_pg_sync(&pp);
    if (rc == 0)
        rc = kvs_pg_slot_err(&pp, slot);
    if (rc == 0) {
        PGresult *res = kvs_pg_res(&pp, slot);
        kvs_slice d = PQntuples(res) == 1 ? kvs_pg_bytes(res, 0, 0) : (kvs_slice){NULL, 0};
        if (d.p == NULL || d.n > PG_BLOB_CHUNK) {
            kvs_log_error("postgres: chunk %lld of large value %lld is %s (its record was "
                          "replaced and it went unread for the grace period, or damage)",
                          (long long)seq, (long long)r->blob, d.p ? "too long" : "missing");
            rc = KVS_EIO;
        } else {
            memcpy(r->buf, d.p, d.n);
            r->n = d.n;
            r->seq = seq;
        }
    }
    kvs_pg_conn_put(r->db, c, rc == KVS_EUNAVAIL || kvs_pg_broken(c));
    kvs_pg_pipe_free(&pp);
    return rc;
}

/* Fetch chunk SEQ: once more on another connection when the first broke (a pooled one the
 * database dropped while idle, as lookups do, pg_read.c). Returns 0 or KVS_EIO. */
static int fetch(struct pg_reader *r, int64_t seq)
{
    int rc = fetch_once(r, seq);
    if (rc == KVS_EUNAVAIL)
        rc = fetch_once(r, seq);
    return rc == KVS_EUNAVAIL ? KVS_EIO : rc;
}

static int reader_read(struct kvs_blob_reader *br, uint64_t pos, void *buf, size_t n, size_t *got)
{
    struct pg_reader *r = (struct pg_reader *)br;
    *got = 0;
    if (pos >= r->size || n == 0)
        return 0;
    int64_t seq = (int64_t)(pos / PG_BLOB_CHUNK);
    size_t off = (size_t)(pos % PG_BLOB_CHUNK);
    if (seq != r->seq) {
        int rc = fetch(r, seq);
        if (rc != 0)
            return rc;
    }
    if (off >= r->n) {
        kvs_log_error("postgres: large value %lld is shorter than its record says",
                      (long long)r->blob);
        return KVS_EIO;
    }
    *got = r->n - off < n ? r->n - off : n;
    memcpy(buf, r->buf + off, *got);
    return 0;
}

static void reader_close(struct kvs_blob_reader *br)
{
    struct pg_reader *r = (struct pg_reader *)br;
    free(r->buf);
    free(r);
}

int kvs_pg_blob_reader(struct kvs_read *rd, const struct kvs_record_view *rec,
                       struct kvs_blob_reader **out)
{
    *out = NULL;
    int64_t blob = kvs_pg_blob_of(rec->blob);
    if (blob == 0)
        return KVS_EIO;
    struct pg_reader *r = kvs_xcalloc(1, sizeof *r);
    r->super.read = reader_read;
    r->super.close = reader_close;
    r->db = pg_of(rd->st);
    r->blob = blob;
    r->size = rec->size;
    r->buf = kvs_xmalloc(PG_BLOB_CHUNK);
    r->seq = -1;
    *out = &r->super;
    return 0;
}
