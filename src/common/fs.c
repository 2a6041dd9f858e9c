/* fs.c — small file-system steps (see fs.h). */
#include "common/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"

int kvs_make_dirs(const char *dir)
{
    char *path = kvs_xstrdup(dir);
    int rc = 0;
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST) {
            rc = errno;
            break;
        }
        *p = c;
        if (c == '\0')
            break;
    }
    struct stat sb;
    if (rc == 0 && stat(dir, &sb) != 0)
        rc = errno;
    else if (rc == 0 && !S_ISDIR(sb.st_mode))
        rc = ENOTDIR;
    free(path);
    return rc;
}

int kvs_fsync_path(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    int rc = fsync(fd) != 0 ? errno : 0;
    close(fd);
    return rc;
}

/* The plain way: through a buffer. */
static int copy_rw(int from, int to)
{
    char *buf = kvs_xmalloc(1 << 20);
    int err = 0;
    for (;;) {
        ssize_t n = read(from, buf, 1 << 20);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            err = n < 0 ? errno : 0;
            break;
        }
        for (ssize_t off = 0; off < n && err == 0;) {
            ssize_t w = write(to, buf + off, (size_t)(n - off));
            if (w < 0 && errno != EINTR)
                err = errno;
            else if (w > 0)
                off += w;
        }
        if (err != 0)
            break;
    }
    free(buf);
    return err;
}

int kvs_copy_fd(int from, int to)
{
    for (;;) {
        ssize_t n = copy_file_range(from, NULL, to, NULL, (size_t)1 << 30, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0)
            return 0;
        if (n < 0) /* EXDEV, EINVAL (some file systems, older kernels): the plain way */
            return errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP
                       ? copy_rw(from, to)
                       : errno;
    }
}
