/* backup.c — `kvs backup` and `kvs restore` (see cli.h).
 *
 *   kvs backup --data DIR OUT
 *       A consistent hot copy of the data directory DIR into OUT, which must not exist or be an
 *       empty directory. The server may keep running and writing: the copy is one read
 *       snapshot (kvs_storage_backup), so it holds every write acknowledged before the command
 *       started, and none half. The copy is compacted and synced before the command succeeds.
 *
 *   kvs restore [--force] --data DIR BACKUP
 *       Copy the backup directory BACKUP (made by kvs backup) into the data directory DIR.
 *       Rules:
 *         - DIR must not exist or be empty; a DIR holding anything is refused unless --force,
 *           and then its data file is replaced.
 *         - DIR must not be in use, --force or not: a process that has the LMDB environment of
 *           DIR open (a server, a `kvs --data` command) holds a shared fcntl lock on byte 0 of
 *           DIR/lock.mdb for as long as it has it open (LMDB's mdb_env_excl_lock). Restore
 *           takes an exclusive lock on that byte (F_SETLK, not waiting): if it cannot, DIR is
 *           in use and restore refuses. It holds that lock while it copies, so a server started
 *           meanwhile waits in its open until the restore is done instead of reading a half
 *           file.
 *         - DIR's write-ahead log (storage/lmdb_wal.h) is claimed too, so that an open waits
 *           at its very first step.
 *         - The copy goes to DIR/restore.tmp/data.mdb, synced, and is verified there by opening
 *           it as a storage (which checks the schema version, and upgrades an older one) and
 *           reading it; a copy that fails verification is removed and DIR is unchanged. Then
 *           DIR's log forgets every record it holds (they were of the data file being
 *           replaced), the copy is renamed to DIR/data.mdb and the directory synced. Only then
 *           does restore report success.
 * Exit status: 0 done, 1 failure (one line on stderr), 2 usage error. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/fs.h"
#include "common/log.h"
#include "kvs.h"
#include "storage/storage.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage:\n"
            "  kvs backup --data DIR OUT             hot copy of DIR (server may run) into OUT\n"
            "  kvs restore [--force] --data DIR BACKUP  copy a backup into DIR\n"
            "\n"
            "OUT must not exist or be an empty directory. restore refuses a DIR that is in\n"
            "use by a running server or a kvs command, and a DIR that is not empty unless\n"
            "--force (which replaces its data). --storage lmdb:DIR is --data DIR; a\n"
            "PostgreSQL storage (--storage postgres://...) is backed up with pg_dump or\n"
            "pg_basebackup instead.\n");
}

#define usage_error(...) kvs_cli_usage_error("kvs backup --help", __VA_ARGS__)

/* 1 when DIR exists and holds no entries, 0 when it holds some, -1 (errno set) when it cannot
 * be read (ENOENT: it does not exist). */
static int dir_empty(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return -1;
    struct dirent *e;
    int empty = 1;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            empty = 0;
            break;
        }
    closedir(d);
    return empty;
}

static int backup_main(const char *data, const char *out)
{
    if (!kvs_cli_has_data_file(data))
        return kvs_cli_fail("%s is not a kvs data directory (no data.mdb)", data);
    int created = 0;
    int e = dir_empty(out);
    if (e == 0)
        return kvs_cli_fail("%s is not empty; give a new or empty directory", out);
    if (e < 0 && errno != ENOENT)
        return kvs_cli_fail("%s: %s", out, strerror(errno));
    if (e < 0) {
        int err = kvs_make_dirs(out);
        if (err != 0)
            return kvs_cli_fail("cannot create %s: %s", out, strerror(err));
        created = 1;
    }
    /* no retention: this process expires nothing; and it leaves the log to a server */
    struct kvs_storage_config cfg = {.dir = data, .lmdb_shared = 1};
    struct kvs_storage *st = NULL;
    int rc = kvs_storage_open_lmdb(&cfg, &st);
    if (rc == 0) {
        rc = kvs_storage_backup(st, out);
        kvs_storage_close(st);
    } else {
        st = NULL;
    }
    if (rc != 0) {
        if (created)
            rmdir(out);
        return kvs_cli_fail("backup of %s into %s failed: %s", data, out, kvs_strerror(rc));
    }
    char path[4096];
    struct stat sb;
    snprintf(path, sizeof path, "%s/data.mdb", out);
    long long size = stat(path, &sb) == 0 ? (long long)sb.st_size : -1;
    printf("backup of %s written to %s (%lld bytes)\n", data, path, size);
    return 0;
}

/* Take the exclusive lock on byte 0 of DIR/lock.mdb (creating the file) without waiting, into
 * *FD. Returns 0, EAGAIN when some process has the environment open, or an errno value. */
static int lock_dir(const char *dir, int *fd)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/lock.mdb", dir);
    *fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (*fd < 0)
        return errno;
    struct flock lk = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
    if (fcntl(*fd, F_SETLK, &lk) == 0)
        return 0;
    int err = errno == EACCES ? EAGAIN : errno;
    close(*fd);
    *fd = -1;
    return err;
}

/* Copy file FROM to TO (created 0600, replaced), synced. Returns 0 or an errno value. */
static int copy_file(const char *from, const char *to)
{
    int in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return errno;
    int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out < 0) {
        int err = errno;
        close(in);
        return err;
    }
    static char buf[1 << 20];
    int err = 0;
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            err = errno;
            break;
        }
        if (n == 0)
            break;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                err = errno;
                break;
            }
            off += w;
        }
        if (err != 0)
            break;
    }
    if (err == 0 && fsync(out) != 0)
        err = errno;
    if (close(out) != 0 && err == 0)
        err = errno;
    close(in);
    return err;
}

#define STAGE "restore.tmp" /* in the data directory: where a restore checks its copy */

/* Remove DATA's staging directory of a restore and what an open left in it. */
static void remove_stage(const char *data)
{
    static const char *const names[] = {"data.mdb", "lock.mdb", "wal.log"};
    char path[4096];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/" STAGE "/%s", data, names[i]);
        unlink(path);
    }
    snprintf(path, sizeof path, "%s/" STAGE, data);
    rmdir(path);
}

static int restore_main(const char *data, const char *backup, int force)
{
    char src[4096], dst[4096], stage[4096], staged[4096];
    snprintf(src, sizeof src, "%s/data.mdb", backup);
    snprintf(dst, sizeof dst, "%s/data.mdb", data);
    snprintf(stage, sizeof stage, "%s/" STAGE, data);
    snprintf(staged, sizeof staged, "%s/" STAGE "/data.mdb", data);
    if (!kvs_cli_has_data_file(backup))
        return kvs_cli_fail("%s is not a kvs backup (no data.mdb)", backup);
    int e = dir_empty(data);
    if (e < 0 && errno != ENOENT)
        return kvs_cli_fail("%s: %s", data, strerror(errno));
    if (e < 0) {
        int err = kvs_make_dirs(data);
        if (err != 0)
            return kvs_cli_fail("cannot create %s: %s", data, strerror(err));
    }
    /* In use? Checked first: --force never overrides it. Both locks are kept until the end:
     * LMDB's, and the write-ahead log's (an open waits for it before anything else). */
    int lock_fd = -1, claim = -1;
    int err = lock_dir(data, &lock_fd);
    int rc = err == 0 ? kvs_storage_lmdb_claim(data, &claim) : 0;
    if (err == EAGAIN || rc == KVS_EUNAVAIL) {
        if (lock_fd >= 0)
            close(lock_fd);
        return kvs_cli_fail("%s is in use (a server or a kvs command has it open); stop it first",
                            data);
    }
    if (err != 0 || rc != 0) {
        if (lock_fd >= 0)
            close(lock_fd);
        return kvs_cli_fail("cannot lock %s: %s", data, err ? strerror(err) : kvs_strerror(rc));
    }
    if (e == 0 && !force) {
        kvs_storage_lmdb_release(claim);
        close(lock_fd);
        return kvs_cli_fail("%s is not empty; give --force to replace its data", data);
    }
    /* The copy is made and checked in a directory of its own (so the check's open takes no
     * lock of DIR), then takes the place of DIR's data file. */
    remove_stage(data); /* left by a restore cut short */
    err = kvs_make_dirs(stage);
    if (err == 0)
        err = copy_file(src, staged);
    if (err != 0) {
        remove_stage(data);
        kvs_storage_lmdb_release(claim);
        close(lock_fd);
        return kvs_cli_fail("cannot copy %s to %s: %s", src, staged, strerror(err));
    }
    /* Verify: open it as the server would (schema version) and read it. */
    struct kvs_storage_config cfg = {.dir = stage, .lmdb_shared = 1};
    struct kvs_storage *st = NULL;
    rc = kvs_storage_open_lmdb(&cfg, &st);
    uint64_t users = 0;
    struct kvs_read *rd = NULL;
    if (rc == 0) {
        rc = kvs_storage_read_begin(st, &rd);
        if (rc == 0)
            rc = kvs_storage_user_count(rd, &users);
        kvs_storage_read_end(rd);
        kvs_storage_close(st);
    }
    if (rc != 0) {
        remove_stage(data);
        kvs_storage_lmdb_release(claim);
        close(lock_fd);
        return kvs_cli_fail("the backup %s does not open (%s); %s is unchanged", backup,
                            kvs_strerror(rc), data);
    }
    /* DIR's write-ahead log forgets the data file it had, then the new one comes. */
    rc = kvs_storage_lmdb_forget_log(claim, data);
    err = rc != 0 ? 0 : rename(staged, dst) != 0 ? errno : 0;
    if (rc == 0 && err == 0)
        err = kvs_fsync_path(data);
    remove_stage(data);
    kvs_storage_lmdb_release(claim);
    close(lock_fd);
    if (rc != 0 || err != 0)
        return kvs_cli_fail("cannot put the backup in place in %s: %s", data,
                            rc ? kvs_strerror(rc) : strerror(err));
    printf("restored %s into %s (%llu users)\n", backup, data, (unsigned long long)users);
    return 0;
}

/* Backups of a PostgreSQL storage are PostgreSQL's business. */
static int refuse_pg(int restore)
{
    return kvs_cli_fail("%s works on an LMDB data directory; the storage is PostgreSQL: %s",
                        restore ? "restore" : "backup",
                        restore ? "restore with pg_restore or from a pg_basebackup"
                                : "back it up with pg_dump (its kvs_ tables) or pg_basebackup "
                                  "(the whole cluster, for point-in-time recovery)");
}

int kvs_cli_backup_main(int argc, char **argv)
{
    enum { O_DATA = 1, O_STORAGE, O_FORCE, O_HELP };
    static const struct option options[] = {
        {"data", required_argument, NULL, O_DATA},
        {"storage", required_argument, NULL, O_STORAGE},
        {"force", no_argument, NULL, O_FORCE},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    int restore = strcmp(argv[0], "restore") == 0;
    const char *data = NULL;
    int force = 0;
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        switch (c) {
        case O_DATA:
            if (*optarg == '\0')
                return usage_error("--data needs a directory");
            data = optarg;
            break;
        case O_STORAGE: /* lmdb:DIR is --data DIR */
            if (kvs_storage_spec_is_pg(optarg))
                return refuse_pg(restore);
            if (strncmp(optarg, "lmdb:", 5) != 0 || optarg[5] == '\0')
                return usage_error("--storage takes lmdb:DIR or a postgres:// URI");
            data = optarg + 5;
            break;
        case O_FORCE:
            force = 1;
            break;
        case O_HELP:
        case 'h':
            usage(stdout);
            return 0;
        case ':':
            return usage_error("an option needs a value");
        default:
            return usage_error("unknown option");
        }
    }
    if (data == NULL)
        return usage_error("give --data DIR");
    if (kvs_storage_spec_is_pg(data))
        return refuse_pg(restore);
    if (argc - optind != 1)
        return usage_error(restore ? "give one BACKUP directory" : "give one OUT directory");
    if (force && !restore)
        return usage_error("--force is for 'kvs restore'");
    const char *path = argv[optind];
    if (*path == '\0')
        return usage_error("empty directory name");
    kvs_log_set_level(KVS_LOG_WARN);
    return restore ? restore_main(data, path, force) : backup_main(data, path);
}
