/* pg_blob_model.c — how PostgreSQL should hold a large value (issue 20): rows of a chunk table
 * written with COPY, as kvs does (storage/pg_blob.c), against a large object written with
 * lo_write, each in one transaction, each in pieces of the same size, through libpq.
 *
 *   build/pg_blob_model URI [MIB] [ROUNDS]
 *
 * Each round writes MIB MiB (default 256) both ways, in turns (which one goes first
 * alternates), synced commits, then reads each back in the same pieces (the chunk table one
 * statement per chunk, as kvs's reader does; the large object by lo_lseek64 + loread), then
 * reports the disk space each took (pg_total_relation_size of the chunk table; of
 * pg_largeobject, which grows by the object's pages) and drops both. Prints one line per round
 * and way: MiB/s written, MiB/s read, bytes on disk per byte stored. */
#include <arpa/inet.h>
#include <libpq-fe.h>
#include <libpq/libpq-fs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define PIECE (256 * 1024) /* PG_BLOB_CHUNK */

static PGconn *pg;

static void die(const char *what)
{
    fprintf(stderr, "pg_blob_model: %s: %s", what, PQerrorMessage(pg));
    exit(1);
}

static void exec_ok(const char *sql)
{
    PGresult *r = PQexec(pg, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        die(sql);
    PQclear(r);
}

static long long num(const char *sql)
{
    PGresult *r = PQexec(pg, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        die(sql);
    long long n = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    return n;
}

static void be32(unsigned char *p, uint32_t x)
{
    x = htonl(x);
    memcpy(p, &x, 4);
}

/* The chunk table: COPY ... FROM STDIN (FORMAT binary), one row per piece. */
static double write_chunks(const unsigned char *buf, long pieces)
{
    double t0 = now_s();
    exec_ok("BEGIN");
    PGresult *r = PQexec(pg, "COPY model_blobs (blob, seq, data) FROM STDIN (FORMAT binary)");
    if (PQresultStatus(r) != PGRES_COPY_IN)
        die("COPY");
    PQclear(r);
    static const char header[19] = "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0";
    if (PQputCopyData(pg, header, sizeof header) != 1)
        die("COPY header");
    for (long i = 0; i < pieces; i++) {
        unsigned char h[26];
        h[0] = 0, h[1] = 3;
        be32(h + 2, 8);
        be32(h + 6, 0);
        be32(h + 10, 1);
        be32(h + 14, 4);
        be32(h + 18, (uint32_t)i);
        be32(h + 22, PIECE);
        if (PQputCopyData(pg, (const char *)h, sizeof h) != 1 ||
            PQputCopyData(pg, (const char *)buf + (i % 4) * 4096, PIECE) != 1)
            die("COPY row");
    }
    if (PQputCopyData(pg, "\377\377", 2) != 1 || PQputCopyEnd(pg, NULL) != 1)
        die("COPY end");
    while ((r = PQgetResult(pg)) != NULL) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            die("COPY result");
        PQclear(r);
    }
    exec_ok("COMMIT");
    return now_s() - t0;
}

static double read_chunks(unsigned char *out, long pieces)
{
    double t0 = now_s();
    for (long i = 0; i < pieces; i++) {
        char seq[24];
        snprintf(seq, sizeof seq, "%ld", i);
        const char *params[] = {seq};
        PGresult *r = PQexecParams(pg, "SELECT data FROM model_blobs WHERE blob = 1 AND seq = $1",
                                   1, NULL, params, NULL, NULL, 1);
        if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1 ||
            PQgetlength(r, 0, 0) != PIECE)
            die("read chunk");
        memcpy(out, PQgetvalue(r, 0, 0), PIECE);
        PQclear(r);
    }
    return now_s() - t0;
}

/* The large object: lo_creat, lo_write of each piece. */
static double write_lo(const unsigned char *buf, long pieces, Oid *oid)
{
    double t0 = now_s();
    exec_ok("BEGIN");
    *oid = lo_creat(pg, INV_READ | INV_WRITE);
    int fd = *oid ? lo_open(pg, *oid, INV_WRITE) : -1;
    if (fd < 0)
        die("lo_open");
    for (long i = 0; i < pieces; i++)
        if (lo_write(pg, fd, (const char *)buf + (i % 4) * 4096, PIECE) != PIECE)
            die("lo_write");
    lo_close(pg, fd);
    exec_ok("COMMIT");
    return now_s() - t0;
}

static double read_lo(unsigned char *out, long pieces, Oid oid)
{
    double t0 = now_s();
    exec_ok("BEGIN");
    int fd = lo_open(pg, oid, INV_READ);
    if (fd < 0)
        die("lo_open");
    for (long i = 0; i < pieces; i++) {
        if (lo_lseek64(pg, fd, (int64_t)i * PIECE, SEEK_SET) < 0 ||
            lo_read(pg, fd, (char *)out, PIECE) != PIECE)
            die("lo_read");
    }
    lo_close(pg, fd);
    exec_ok("COMMIT");
    return now_s() - t0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: pg_blob_model URI [MIB] [ROUNDS]\n");
        return 2;
    }
    long mib = argc > 2 ? atol(argv[2]) : 256;
    int rounds = argc > 3 ? atoi(argv[3]) : 3;
    long pieces = mib * 4;
    pg = PQconnectdb(argv[1]);
    if (PQstatus(pg) != CONNECTION_OK)
        die("connect");
    exec_ok("SET synchronous_commit = on; SET client_min_messages = warning");
    exec_ok("DROP TABLE IF EXISTS model_blobs");
    exec_ok("CREATE TABLE model_blobs (blob bigint NOT NULL, seq integer NOT NULL,"
            " data bytea NOT NULL, PRIMARY KEY (blob, seq))");
    exec_ok("ALTER TABLE model_blobs ALTER COLUMN data SET STORAGE EXTERNAL");
    /* random bytes: what is stored is often compressed already */
    unsigned char *buf = malloc(PIECE + 4 * 4096), *out = malloc(PIECE);
    if (buf == NULL || out == NULL)
        return 1;
    srand(7);
    for (size_t i = 0; i < PIECE + 4 * 4096; i++)
        buf[i] = (unsigned char)rand();
    printf("%-6s %5s %10s %10s %8s\n", "way", "round", "write MB/s", "read MB/s", "disk/B");
    for (int round = 0; round < rounds; round++) {
        for (int turn = 0; turn < 2; turn++) {
            int chunks = (turn + round) % 2 == 0;
            long long lo_before = num("SELECT pg_total_relation_size('pg_largeobject')");
            Oid oid = 0;
            double w = chunks ? write_chunks(buf, pieces) : write_lo(buf, pieces, &oid);
            double r = chunks ? read_chunks(out, pieces) : read_lo(out, pieces, oid);
            long long disk = chunks ? num("SELECT pg_total_relation_size('model_blobs')")
                                    : num("SELECT pg_total_relation_size('pg_largeobject')") -
                                          lo_before;
            printf("%-6s %5d %10.1f %10.1f %8.2f\n", chunks ? "chunks" : "lo", round,
                   (double)mib * 1.048576 / w, (double)mib * 1.048576 / r,
                   (double)disk / ((double)mib * 1048576));
            fflush(stdout);
            if (chunks) {
                exec_ok("TRUNCATE model_blobs");
            } else {
                exec_ok("BEGIN");
                if (lo_unlink(pg, oid) != 1)
                    die("lo_unlink");
                exec_ok("COMMIT");
                /* back to its size before: the next round's growth counts */
                exec_ok("VACUUM FULL pg_largeobject");
            }
        }
    }
    exec_ok("DROP TABLE model_blobs");
    free(buf);
    free(out);
    PQfinish(pg);
    return 0;
}
