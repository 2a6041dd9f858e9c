/* fsync_bench.c — the disk's own rate of durable small writes, the reference for durable PUT.
 *
 *   fsync_bench [-s SECONDS] [-b BYTES] [-n PER_SYNC] FILE
 *
 * Appends BYTES-sized records (default 1024) to FILE (created, truncated first), calling
 * fdatasync() after every PER_SYNC records (default 1: each write is made durable alone, as a
 * server without group commit would), for SECONDS (default 5). Prints one line:
 *
 *   records_per_s=… syncs_per_s=… sync_p50_us=… sync_p99_us=… records=… seconds=…
 *
 * FILE must be on the file system under test (not tmpfs). FILE is removed at the end. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util.h"


static void usage(void)
{
    fprintf(stderr, "usage: fsync_bench [-s SECONDS] [-b BYTES] [-n PER_SYNC] FILE\n");
    exit(2);
}

int main(int argc, char **argv)
{
    double seconds = 5;
    long bytes = 1024, per_sync = 1;
    int c;
    while ((c = getopt(argc, argv, "s:b:n:")) != -1) {
        switch (c) {
        case 's':
            seconds = atof(optarg);
            break;
        case 'b':
            bytes = atol(optarg);
            break;
        case 'n':
            per_sync = atol(optarg);
            break;
        default:
            usage();
        }
    }
    if (optind + 1 != argc || seconds <= 0 || bytes <= 0 || per_sync <= 0)
        usage();
    const char *path = argv[optind];

    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
    if (fd < 0) {
        fprintf(stderr, "fsync_bench: %s: %s\n", path, strerror(errno));
        return 1;
    }
    char *buf = malloc((size_t)bytes);
    if (buf == NULL)
        return 1;
    memset(buf, 'x', (size_t)bytes);

    size_t cap = 1 << 20, nsync = 0;
    uint32_t *lat = malloc(cap * sizeof *lat);
    if (lat == NULL)
        return 1;
    uint64_t records = 0;
    double t0 = now_s(), end = t0 + seconds, t = t0;
    while (t < end) {
        for (long i = 0; i < per_sync; i++) {
            ssize_t w = write(fd, buf, (size_t)bytes);
            if (w != bytes) {
                fprintf(stderr, "fsync_bench: write: %s\n", w < 0 ? strerror(errno) : "short");
                return 1;
            }
        }
        double s0 = now_s();
        if (fdatasync(fd) != 0) {
            fprintf(stderr, "fsync_bench: fdatasync: %s\n", strerror(errno));
            return 1;
        }
        t = now_s();
        records += (uint64_t)per_sync;
        if (nsync == cap) {
            cap *= 2;
            lat = realloc(lat, cap * sizeof *lat);
            if (lat == NULL)
                return 1;
        }
        lat[nsync++] = (uint32_t)((t - s0) * 1e6);
    }
    double el = t - t0;
    close(fd);
    unlink(path);
    qsort(lat, nsync, sizeof *lat, cmp_u32);
    printf("records_per_s=%.0f syncs_per_s=%.0f sync_p50_us=%u sync_p99_us=%u records=%llu "
           "seconds=%.2f\n",
           (double)records / el, (double)nsync / el, nsync ? lat[nsync / 2] : 0,
           nsync ? lat[(size_t)((double)nsync * 0.99)] : 0, (unsigned long long)records, el);
    free(lat);
    free(buf);
    return 0;
}
