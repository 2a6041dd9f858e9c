/* prealloc.c — zero-filled room ahead of a growing data file (see prealloc.h). */
#include "storage/prealloc.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"

#define MIB (1ull << 20)
#define SLACK_MIN MIB
#define SLACK_MAX (32 * MIB)
#define RETRY_MS 60000 /* after a failure: the disk is full, or nearly */
#define CHUNK (64u << 10)
#define STEP MIB /* zeros written per call: the next sync flushes them, so keep it short */

static uint64_t slack_for(uint64_t used)
{
    uint64_t s = used / 8;
    return s < SLACK_MIN ? SLACK_MIN : s > SLACK_MAX ? SLACK_MAX : s;
}

int kvs_prealloc_due(const struct kvs_prealloc *pa, uint64_t used, int64_t now_ms)
{
    if (pa->retry_ms != 0 && now_ms < pa->retry_ms)
        return 0;
    return pa->size < used + slack_for(used);
}

int kvs_prealloc_extend(struct kvs_prealloc *pa, int fd, uint64_t used, int64_t now_ms)
{
    static const char zeros[CHUNK];
    struct stat st;
    if (fstat(fd, &st) != 0)
        goto fail;
    uint64_t off = (uint64_t)st.st_size;
    uint64_t want = (used + 2 * slack_for(used) + MIB - 1) / MIB * MIB;
    if (want > off + STEP)
        want = off + STEP;
    while (off < want) {
        size_t n = want - off < CHUNK ? (size_t)(want - off) : CHUNK;
        ssize_t w = pwrite(fd, zeros, n, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = ENOSPC;
            goto fail;
        }
        off += (uint64_t)w;
    }
    pa->size = off;
    pa->retry_ms = 0;
    return 0;
fail:;
    int err = errno;
    pa->size = 0;
    pa->retry_ms = now_ms + RETRY_MS;
    kvs_log_warn("storage: cannot extend the data file ahead of use: %s", strerror(err));
    return err == ENOSPC || err == EDQUOT ? KVS_ENOSPACE : KVS_EIO;
}
