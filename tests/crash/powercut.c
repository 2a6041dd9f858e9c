/* powercut.c — an LD_PRELOAD library for tests/crash/power-loss.test.mjs: it journals every
 * write and every flush a process makes to the files of one directory, so that the test can
 * build, after a SIGKILL, what a power cut at that moment may have left on the disk.
 *
 *   LD_PRELOAD=build/powercut.so KVS_POWERCUT_DIR=/abs/data KVS_POWERCUT_JOURNAL=/abs/j kvs ...
 *
 * The journal (appended, binary, little-endian) holds one entry per event, in the order the
 * events happened (one mutex orders them):
 *   'N' u32 file, u32 length, path       a file of the directory was opened (first time)
 *   'W' u32 file, u64 offset, u64 length, bytes    a write (pwrite, write, writev)
 *   'S' u32 file, u64 entry              a flush of the file returned (fdatasync, fsync, or a
 *                                        write on an O_DSYNC / O_SYNC descriptor): every write
 *                                        of the file journaled before entry number ENTRY (the
 *                                        entries counted from 0) is on the disk; writes made
 *                                        while the flush ran may or may not be
 *   'T' u32 file, u64 size               ftruncate
 * A write is journaled (and made) under one mutex, so the journal's order is the order of the
 * writes; a flush names the entry where it began and is journaled after it returned. The
 * model of the disk (power-loss.test.mjs): whatever was written before a file's last flush is
 * there; each 4 KiB block of each write after it may or may not be. Files of subdirectories
 * count too: the blob files of large records (DIR/blobs/HH/ID), made during the storm, whose
 * bytes must be flushed before the commit that references them. What is not modelled: the
 * directory entries (DIR's files are made before the storm and never renamed during it; kvs
 * syncs a blob file's directory before the commit that references it, and a removal that a cut
 * undoes leaves a file no record references, which the next start removes), and the mapped
 * writes of LMDB's lock file (not data).
 *
 * Only the calls kvs and liblmdb make are wrapped: open, openat (and their 64 and fortified
 * forms), close, pwrite, write, writev, fdatasync, fsync, ftruncate. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAX_FD 4096
#define MAX_FILES 4096 /* the files of a server's run: a few, and the blob files it makes */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int journal = -1;
static char dir[4096];
static size_t dir_len;
static char *paths[MAX_FILES];
static unsigned n_files;
static uint64_t n_entries; /* entries journaled so far */
static int fd_file[MAX_FD]; /* file number + 1 of each descriptor; 0 = not ours */
static int fd_sync[MAX_FD]; /* opened O_DSYNC or O_SYNC */

static int (*real_open)(const char *, int, ...);
static int (*real_openat)(int, const char *, int, ...);
static int (*real_close)(int);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_writev)(int, const struct iovec *, int);
static int (*real_fdatasync)(int);
static int (*real_fsync)(int);
static int (*real_ftruncate)(int, off_t);

__attribute__((constructor)) static void init(void)
{
    real_open = dlsym(RTLD_NEXT, "open");
    real_openat = dlsym(RTLD_NEXT, "openat");
    real_close = dlsym(RTLD_NEXT, "close");
    real_pwrite = dlsym(RTLD_NEXT, "pwrite");
    real_write = dlsym(RTLD_NEXT, "write");
    real_writev = dlsym(RTLD_NEXT, "writev");
    real_fdatasync = dlsym(RTLD_NEXT, "fdatasync");
    real_fsync = dlsym(RTLD_NEXT, "fsync");
    real_ftruncate = dlsym(RTLD_NEXT, "ftruncate");
    const char *d = getenv("KVS_POWERCUT_DIR"), *j = getenv("KVS_POWERCUT_JOURNAL");
    if (d == NULL || j == NULL || strlen(d) + 2 > sizeof dir)
        return;
    strcpy(dir, d);
    dir_len = strlen(dir);
    if (dir_len > 1 && dir[dir_len - 1] == '/')
        dir[--dir_len] = '\0';
    journal = real_open(j, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
}

/* Append N bytes at P to the journal (the mutex held). The journal's own write is the real one;
 * a failure ends the process: the test must not judge a journal with holes. */
static void put(const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = real_write(journal, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            abort();
        c += w;
        n -= (size_t)w;
    }
}

static void put_head(char type, uint32_t file)
{
    put(&type, 1);
    put(&file, 4);
    n_entries++;
}

/* The file number of PATH when it is in the directory (a new one journaled), else -1. */
static int file_of(const char *path)
{
    if (journal < 0 || path == NULL || strncmp(path, dir, dir_len) != 0 || path[dir_len] != '/')
        return -1;
    for (unsigned i = 0; i < n_files; i++)
        if (strcmp(paths[i], path) == 0)
            return (int)i;
    if (n_files == MAX_FILES)
        abort();
    paths[n_files] = strdup(path);
    uint32_t len = (uint32_t)strlen(path);
    put_head('N', n_files);
    put(&len, 4);
    put(path, len);
    return (int)n_files++;
}

static void opened(int fd, const char *path, int flags)
{
    if (fd < 0 || fd >= MAX_FD || journal < 0)
        return;
    pthread_mutex_lock(&mu);
    int f = file_of(path);
    fd_file[fd] = f + 1;
    fd_sync[fd] = (flags & (O_DSYNC | O_SYNC)) != 0;
    pthread_mutex_unlock(&mu);
}

static int file_fd(int fd)
{
    return fd >= 0 && fd < MAX_FD ? fd_file[fd] - 1 : -1;
}

/* Journal a write of the iovecs IOV (N) at OFF to FD's file; the mutex held. */
static void put_write(int f, off_t off, const struct iovec *iov, int n)
{
    uint64_t o = (uint64_t)off, len = 0;
    for (int i = 0; i < n; i++)
        len += iov[i].iov_len;
    put_head('W', (uint32_t)f);
    put(&o, 8);
    put(&len, 8);
    for (int i = 0; i < n; i++)
        put(iov[i].iov_base, iov[i].iov_len);
}

/* A flush of file F that began when entry number FROM was the next (the mutex held). */
static void put_sync(int f, uint64_t from)
{
    put_head('S', (uint32_t)f);
    put(&from, 8);
}

#define OPEN_MODE(flags, mode)                                                                     \
    do {                                                                                           \
        if ((flags) & (O_CREAT | O_TMPFILE)) {                                                     \
            va_list ap;                                                                            \
            va_start(ap, flags);                                                                   \
            mode = va_arg(ap, int);                                                                \
            va_end(ap);                                                                            \
        }                                                                                          \
    } while (0)

int open(const char *path, int flags, ...)
{
    int mode = 0;
    OPEN_MODE(flags, mode);
    int fd = real_open(path, flags, mode);
    opened(fd, path, flags);
    return fd;
}

int open64(const char *path, int flags, ...)
{
    int mode = 0;
    OPEN_MODE(flags, mode);
    int fd = real_open(path, flags, mode);
    opened(fd, path, flags);
    return fd;
}

/* glibc's fortified forms (no prototype in a header) */
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);

int __open_2(const char *path, int flags)
{
    int fd = real_open(path, flags);
    opened(fd, path, flags);
    return fd;
}

int __open64_2(const char *path, int flags)
{
    return __open_2(path, flags);
}

/* FD was opened as PATH relative to directory AT: kvs opens the blob files of large records so
 * (DIR/blobs, then HH/ID), LMDB and the log by whole paths. The directory's path is the one
 * the kernel keeps for AT. */
static void opened_at(int fd, int at, const char *path, int flags)
{
    if (fd < 0 || journal < 0)
        return;
    if (path[0] == '/' || at == AT_FDCWD) {
        opened(fd, path, flags);
        return;
    }
    char link[64], full[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", at);
    ssize_t n = readlink(link, full, sizeof full);
    if (n <= 0 || (size_t)n + 1 + strlen(path) + 1 > sizeof full)
        return;
    full[n] = '/';
    strcpy(full + n + 1, path);
    opened(fd, full, flags);
}

int openat(int at, const char *path, int flags, ...)
{
    int mode = 0;
    OPEN_MODE(flags, mode);
    int fd = real_openat(at, path, flags, mode);
    opened_at(fd, at, path, flags);
    return fd;
}

int openat64(int at, const char *path, int flags, ...)
{
    int mode = 0;
    OPEN_MODE(flags, mode);
    int fd = real_openat(at, path, flags, mode);
    opened_at(fd, at, path, flags);
    return fd;
}

int close(int fd)
{
    if (fd >= 0 && fd < MAX_FD && fd_file[fd]) {
        pthread_mutex_lock(&mu);
        fd_file[fd] = 0;
        fd_sync[fd] = 0;
        pthread_mutex_unlock(&mu);
    }
    return real_close(fd);
}

static ssize_t journaled(int fd, off_t off, const struct iovec *iov, int n, int positioned)
{
    int f = file_fd(fd);
    if (f < 0)
        return positioned ? real_pwrite(fd, iov[0].iov_base, iov[0].iov_len, off)
                          : real_writev(fd, iov, n);
    pthread_mutex_lock(&mu); /* one write at a time to our files: the journal's order is real */
    if (!positioned)
        off = lseek(fd, 0, SEEK_CUR);
    put_write(f, off, iov, n);
    ssize_t r = positioned ? real_pwrite(fd, iov[0].iov_base, iov[0].iov_len, off)
                           : real_writev(fd, iov, n);
    if (r >= 0 && fd_sync[fd])
        put_sync(f, n_entries); /* the write is flushed when it returns */
    pthread_mutex_unlock(&mu);
    return r;
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    struct iovec v = {(void *)buf, n};
    return journaled(fd, off, &v, 1, 1);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
    return pwrite(fd, buf, n, off);
}

ssize_t write(int fd, const void *buf, size_t n)
{
    if (file_fd(fd) < 0)
        return real_write(fd, buf, n);
    struct iovec v = {(void *)buf, n};
    return journaled(fd, 0, &v, 1, 0);
}

ssize_t writev(int fd, const struct iovec *iov, int n)
{
    return journaled(fd, 0, iov, n, 0);
}

static int flush(int fd, int (*fn)(int))
{
    int f = file_fd(fd);
    if (f < 0)
        return fn(fd);
    pthread_mutex_lock(&mu);
    uint64_t from = n_entries;
    pthread_mutex_unlock(&mu);
    int rc = fn(fd);
    if (rc == 0) {
        pthread_mutex_lock(&mu);
        put_sync(f, from);
        pthread_mutex_unlock(&mu);
    }
    return rc;
}

int fdatasync(int fd)
{
    return flush(fd, real_fdatasync);
}

int fsync(int fd)
{
    return flush(fd, real_fsync);
}

int ftruncate(int fd, off_t size)
{
    int f = file_fd(fd);
    if (f < 0)
        return real_ftruncate(fd, size);
    pthread_mutex_lock(&mu);
    uint64_t s = (uint64_t)size;
    put_head('T', (uint32_t)f);
    put(&s, 8);
    int rc = real_ftruncate(fd, size);
    pthread_mutex_unlock(&mu);
    return rc;
}

int ftruncate64(int fd, off_t size)
{
    return ftruncate(fd, size);
}
