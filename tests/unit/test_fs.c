/* test_fs.c — common/fs.c: mkdir -p and fsync of a path. */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fs.h"
#include "test.h"

TEST(fs_make_dirs_nested_and_existing)
{
    ASSERT_EQ(kvs_make_dirs("a/b/c"), 0);
    struct stat sb;
    ASSERT_EQ(stat("a/b/c", &sb), 0);
    ASSERT(S_ISDIR(sb.st_mode));
    ASSERT_EQ(sb.st_mode & 0777, 0700);
    ASSERT_EQ(kvs_make_dirs("a/b/c"), 0); /* already there */
    ASSERT_EQ(kvs_make_dirs("a/b/"), 0);  /* a trailing slash */
}

TEST(fs_make_dirs_refuses_a_file)
{
    int fd = open("f", O_WRONLY | O_CREAT, 0600);
    ASSERT(fd >= 0);
    close(fd);
    ASSERT_EQ(kvs_make_dirs("f"), ENOTDIR);
    ASSERT_EQ(kvs_make_dirs("f/sub"), ENOTDIR);
}

TEST(fs_fsync_path)
{
    ASSERT_EQ(kvs_make_dirs("d"), 0);
    ASSERT_EQ(kvs_fsync_path("d"), 0);
    int fd = open("d/f", O_WRONLY | O_CREAT, 0600);
    ASSERT(fd >= 0);
    close(fd);
    ASSERT_EQ(kvs_fsync_path("d/f"), 0);
    ASSERT_EQ(kvs_fsync_path("missing"), ENOENT);
}
