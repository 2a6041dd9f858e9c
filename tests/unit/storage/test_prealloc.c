/* test_prealloc.c — zero-filled room ahead of a growing file (storage/prealloc.c): when it is
 * due, how far one call goes, that it never changes bytes already in the file, and that a
 * failure backs off instead of failing anything. */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../test.h"
#include "storage/prealloc.h"

#define MIB (1ull << 20)

static uint64_t file_size(int fd)
{
    struct stat st;
    ASSERT_EQ(fstat(fd, &st), 0);
    return (uint64_t)st.st_size;
}

TEST(prealloc_due_follows_the_slack)
{
    struct kvs_prealloc pa = {0};
    ASSERT(kvs_prealloc_due(&pa, 4096, 0)); /* size not known yet */
    pa.size = 2 * MIB;
    ASSERT(!kvs_prealloc_due(&pa, 512 * 1024, 0)); /* 1.5 MiB ahead, slack 1 MiB */
    ASSERT(kvs_prealloc_due(&pa, MIB + 4096, 0));  /* under 1 MiB ahead */
    pa.size = 1024 * MIB;
    ASSERT(!kvs_prealloc_due(&pa, 900 * MIB, 0)); /* 124 MiB ahead, slack capped at 32 */
    ASSERT(kvs_prealloc_due(&pa, 1000 * MIB, 0));
    pa.retry_ms = 5000; /* after a failure: not before then */
    ASSERT(!kvs_prealloc_due(&pa, 1000 * MIB, 4999));
    ASSERT(kvs_prealloc_due(&pa, 1000 * MIB, 5000));
}

TEST(prealloc_extends_with_zeros_by_one_step_and_keeps_the_data)
{
    int fd = open("f", O_RDWR | O_CREAT | O_TRUNC, 0600);
    ASSERT(fd >= 0);
    char page[4096];
    memset(page, 'x', sizeof page);
    ASSERT_EQ(pwrite(fd, page, sizeof page, 0), (long long)sizeof page);

    struct kvs_prealloc pa = {0};
    ASSERT_OK(kvs_prealloc_extend(&pa, fd, sizeof page, 0));
    ASSERT_EQ(file_size(fd), MIB + sizeof page); /* one step of 1 MiB towards 2 MiB + used */
    ASSERT_EQ(pa.size, file_size(fd));
    char back[4096];
    ASSERT_EQ(pread(fd, back, sizeof back, 0), (long long)sizeof back);
    ASSERT(memcmp(back, page, sizeof page) == 0);
    ASSERT_EQ(pread(fd, back, sizeof back, 8192), (long long)sizeof back);
    for (size_t i = 0; i < sizeof back; i++)
        ASSERT_EQ(back[i], 0);

    /* No longer due once the slack (1 MiB here) lies ahead; further calls go on up to twice
     * the slack ahead, rounded up to 1 MiB, and stop there. */
    ASSERT(!kvs_prealloc_due(&pa, sizeof page, 0));
    for (int i = 0; i < 4; i++)
        ASSERT_OK(kvs_prealloc_extend(&pa, fd, sizeof page, 0));
    ASSERT_EQ(file_size(fd), 3 * MIB);

    /* A file that grew by itself past the target is left alone. */
    ASSERT_EQ(ftruncate(fd, 10 * MIB), 0);
    ASSERT_OK(kvs_prealloc_extend(&pa, fd, sizeof page, 0));
    ASSERT_EQ(file_size(fd), 10 * MIB);
    ASSERT_EQ(pa.size, 10 * MIB);
    close(fd);
}

TEST(prealloc_failure_backs_off)
{
    int fd = open("f", O_RDONLY | O_CREAT | O_TRUNC, 0600); /* writes fail with EBADF */
    ASSERT(fd >= 0);
    struct kvs_prealloc pa = {0};
    ASSERT_EQ(kvs_prealloc_extend(&pa, fd, 4096, 1000), KVS_EIO);
    ASSERT_EQ(file_size(fd), 0);
    ASSERT(!kvs_prealloc_due(&pa, 4096, 1000 + 59999));
    ASSERT(kvs_prealloc_due(&pa, 4096, 1000 + 60000));
    close(fd);
}
