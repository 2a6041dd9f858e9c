/* progress.c — the progress bar of record transfers on stderr (see cli.h).
 *
 * One line, redrawn in place at most ten times a second:
 *     get   12.0 MiB / 40.0 MiB   30%   5.1 MiB/s   0:05 left
 * Only on a terminal, and only once the transfer has passed KVS_CLI_PROGRESS_MIN bytes or is
 * known to be larger: small transfers and scripts see nothing. The line is erased at the end,
 * so what the command prints afterwards starts on a clean line. */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void draw(void *arg, uint64_t done, uint64_t total)
{
    struct kvs_cli_progress *p = arg;
    double t = now_s();
    if (done < KVS_CLI_PROGRESS_MIN && total < KVS_CLI_PROGRESS_MIN)
        return;
    if (p->drawn && t - p->last < 0.1 && (total == 0 || done < total))
        return;
    p->last = t;
    p->drawn = 1;
    char d[32], tot[32], rate[32];
    double secs = t - p->start;
    double bps = secs > 0 ? (double)done / secs : 0;
    kvs_cli_bytes((int64_t)done, d);
    kvs_cli_bytes((int64_t)bps, rate);
    if (total > 0) {
        double left = bps > 0 && total > done ? (double)(total - done) / bps : 0;
        fprintf(stderr, "\r%s  %s / %s  %3d%%  %s/s  %d:%02d left\033[K", p->what, d,
                kvs_cli_bytes((int64_t)total, tot), (int)(100.0 * (double)done / (double)total),
                rate, (int)left / 60, (int)left % 60);
    } else {
        fprintf(stderr, "\r%s  %s  %s/s\033[K", p->what, d, rate);
    }
    fflush(stderr);
}

void kvs_cli_progress_begin(struct kvs_cli_progress *p, kvs_client *c, const char *what)
{
    *p = (struct kvs_cli_progress){.tty = isatty(STDERR_FILENO), .what = what};
    p->start = p->last = now_s();
    if (p->tty)
        kvs_client_set_progress(c, draw, p);
}

void kvs_cli_progress_end(struct kvs_cli_progress *p, kvs_client *c)
{
    kvs_client_set_progress(c, NULL, NULL);
    if (p->drawn) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
}
