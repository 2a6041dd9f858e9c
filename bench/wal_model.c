/* wal_model.c — the disk side of one durable commit, modelled without LMDB: what a batch of
 * small records costs to make durable the way LMDB commits (pages, fdatasync, then the meta page
 * through an O_DSYNC descriptor) against a write-ahead log (the batch's records appended to a
 * preallocated, zero-filled log and flushed once; the same pages written to the data file
 * without a sync, and synced by a checkpoint now and then).
 *
 *   wal_model [-s SECONDS] [-r RECORDS] [-b BYTES] [-p PAGES] [-S SCATTERED] [-c CHECKPOINT_MS]
 *             MODE DIR
 *
 * MODE:
 *   lmdb      per commit: PAGES pages written (SCATTERED of them at random places in the file,
 *             the rest one contiguous run), fdatasync, then a 136-byte meta write on an O_DSYNC
 *             descriptor (LMDB 0.9's default commit)
 *   wal       per commit: RECORDS × (BYTES + 32) appended to the log with one pwrite, fdatasync
 *             of the log; the PAGES pages written to the data file without a sync; every
 *             CHECKPOINT_MS a second thread fdatasyncs the data file and rewrites the log's
 *             4 KiB header with a flush of its own (0 = no checkpoints)
 *   wal-dsync as wal, the log opened O_DSYNC (the write is the flush)
 *   wal-direct as wal, the log opened O_DIRECT|O_DSYNC: each commit writes whole 4 KiB blocks,
 *             the last block of the previous commit again when it was not full
 *
 * The data file (256 MiB) and the log (64 MiB) are written with zeros first and synced, so
 * every commit overwrites blocks the files have (no journal commit for a size change). One line
 * out: commits/s, records/s, commit latency p50/p99 in µs, and the checkpoints done.
 * DIR must be on the file system under test; the files are removed at the end. */

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

#define DATA_BYTES (256ull << 20)
#define LOG_BYTES (64ull << 20)
#define PAGE 4096u


static void die(const char *what)
{
    fprintf(stderr, "wal_model: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void zero_fill(int fd, uint64_t bytes)
{
    static char zeros[1 << 20];
    for (uint64_t off = 0; off < bytes; off += sizeof zeros)
        if (pwrite(fd, zeros, sizeof zeros, (off_t)off) != (ssize_t)sizeof zeros)
            die("zero fill");
    if (fsync(fd) != 0)
        die("fsync");
}

struct ckpt {
    int data_fd, log_fd;
    unsigned interval_ms;
    volatile int stop;
    unsigned long done;
};

static void *checkpointer(void *arg)
{
    struct ckpt *c = arg;
    static char header[PAGE];
    struct timespec tick = {(time_t)(c->interval_ms / 1000), (long)(c->interval_ms % 1000) * 1000000};
    while (!c->stop) {
        nanosleep(&tick, NULL);
        if (fdatasync(c->data_fd) != 0)
            die("checkpoint fdatasync");
        header[0]++;
        if (pwrite(c->log_fd, header, sizeof header, 0) != (ssize_t)sizeof header ||
            fdatasync(c->log_fd) != 0)
            die("checkpoint header");
        c->done++;
    }
    return NULL;
}

static void usage(void)
{
    fprintf(stderr, "usage: wal_model [-s SECONDS] [-r RECORDS] [-b BYTES] [-p PAGES] "
                    "[-S SCATTERED] [-c CHECKPOINT_MS] lmdb|wal|wal-dsync|wal-direct DIR\n");
    exit(2);
}

int main(int argc, char **argv)
{
    double seconds = 3;
    long records = 1, bytes = 1024, pages = 4, scattered = 2, ckpt_ms = 200;
    int c;
    while ((c = getopt(argc, argv, "s:r:b:p:S:c:")) != -1) {
        switch (c) {
        case 's': seconds = atof(optarg); break;
        case 'r': records = atol(optarg); break;
        case 'b': bytes = atol(optarg); break;
        case 'p': pages = atol(optarg); break;
        case 'S': scattered = atol(optarg); break;
        case 'c': ckpt_ms = atol(optarg); break;
        default: usage();
        }
    }
    if (optind + 2 != argc || records < 1 || bytes < 0 || pages < 1 || scattered > pages)
        usage();
    const char *mode = argv[optind], *dir = argv[optind + 1];
    int lmdb = strcmp(mode, "lmdb") == 0, dsync = strcmp(mode, "wal-dsync") == 0,
        direct = strcmp(mode, "wal-direct") == 0;
    if (!lmdb && !dsync && !direct && strcmp(mode, "wal") != 0)
        usage();

    char data_path[4096], log_path[4096];
    snprintf(data_path, sizeof data_path, "%s/wal_model.data", dir);
    snprintf(log_path, sizeof log_path, "%s/wal_model.log", dir);
    int data_fd = open(data_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (data_fd < 0)
        die(data_path);
    zero_fill(data_fd, DATA_BYTES);
    int meta_fd = open(data_path, O_WRONLY | O_DSYNC);
    int log_fd = open(log_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (meta_fd < 0 || log_fd < 0)
        die("open");
    zero_fill(log_fd, LOG_BYTES);
    int log_wfd = log_fd;
    if (dsync || direct) {
        log_wfd = open(log_path, O_WRONLY | O_DSYNC | (direct ? O_DIRECT : 0));
        if (log_wfd < 0)
            die("open log");
    }

    size_t rec_bytes = (size_t)records * ((size_t)bytes + 32);
    size_t buf_cap = rec_bytes + 2 * PAGE;
    char *buf = NULL, *pagebuf = NULL;
    if (posix_memalign((void **)&buf, PAGE, buf_cap) || posix_memalign((void **)&pagebuf, PAGE, PAGE))
        die("alloc");
    memset(buf, 'x', buf_cap);
    memset(pagebuf, 'p', PAGE);
    char meta[136];
    memset(meta, 'm', sizeof meta);

    struct ckpt ck = {.data_fd = data_fd, .log_fd = log_fd, .interval_ms = (unsigned)ckpt_ms};
    pthread_t ck_thread;
    if (!lmdb && ckpt_ms > 0 && pthread_create(&ck_thread, NULL, checkpointer, &ck) != 0)
        die("thread");

    size_t cap = 1 << 20, n = 0;
    uint32_t *lat = malloc(cap * sizeof *lat);
    uint64_t log_off = PAGE, next_page = 2;
    unsigned seed = 42;
    double t0 = now_s(), end = t0 + seconds, t = t0;
    while (t < end) {
        double s0 = now_s();
        if (!lmdb) {
            size_t len = rec_bytes;
            uint64_t off = log_off;
            if (direct) { /* whole blocks, from the block the log ends in */
                off = log_off & ~(uint64_t)(PAGE - 1);
                len = (size_t)(((log_off + rec_bytes + PAGE - 1) & ~(uint64_t)(PAGE - 1)) - off);
            }
            if (off + len > LOG_BYTES) {
                log_off = PAGE;
                continue;
            }
            if (pwrite(log_wfd, buf, len, (off_t)off) != (ssize_t)len)
                die("log write");
            if (!dsync && !direct && fdatasync(log_fd) != 0)
                die("log fdatasync");
            log_off += rec_bytes;
        }
        /* the commit's pages: SCATTERED at random, the rest one run at the end of use */
        for (long i = 0; i < pages; i++) {
            uint64_t pg;
            if (i < scattered) {
                pg = 2 + (uint64_t)rand_r(&seed) % (DATA_BYTES / PAGE - 2);
            } else {
                pg = next_page++;
                if (next_page >= DATA_BYTES / PAGE)
                    next_page = 2;
            }
            if (pwrite(data_fd, pagebuf, PAGE, (off_t)(pg * PAGE)) != PAGE)
                die("page write");
        }
        if (lmdb) {
            if (fdatasync(data_fd) != 0)
                die("fdatasync");
            if (pwrite(meta_fd, meta, sizeof meta, (off_t)((n & 1) * PAGE + 16)) != (ssize_t)sizeof meta)
                die("meta write");
        }
        t = now_s();
        if (n == cap) {
            cap *= 2;
            lat = realloc(lat, cap * sizeof *lat);
        }
        lat[n++] = (uint32_t)((t - s0) * 1e6);
    }
    double el = t - t0;
    if (!lmdb && ckpt_ms > 0) {
        ck.stop = 1;
        pthread_join(ck_thread, NULL);
    }
    qsort(lat, n, sizeof *lat, cmp_u32);
    printf("mode=%s records=%ld pages=%ld commits_per_s=%.0f records_per_s=%.0f p50_us=%u "
           "p99_us=%u checkpoints=%lu\n",
           mode, records, pages, (double)n / el, (double)n * (double)records / el,
           n ? lat[n / 2] : 0, n ? lat[(size_t)((double)n * 0.99)] : 0, ck.done);
    unlink(data_path);
    unlink(log_path);
    return 0;
}
