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
