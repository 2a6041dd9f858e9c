/* backup.c — `kvs backup` and `kvs restore` (see cli.h).
 *
 *   kvs backup --data DIR OUT
 *       A consistent hot copy of the data directory DIR into OUT, which must not exist or be an
 *       empty directory. The server may keep running and writing: the copy is one read
 *       snapshot (kvs_storage_backup), so it holds every write acknowledged before the command
 *       started, and none half, with the blob files of its large records (OUT/blobs: hard links
 *       on the same file system, else copies). The copy is compacted and synced before the
 *       command succeeds.
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
 *         - The copy goes to DIR/restore.tmp/data.mdb, synced, with the blob files of the
 *           backup's large records in DIR/restore.tmp/blobs (hard links where possible: they
 *           never change; else synced copies), and is verified there by opening it as a storage
 *           (which checks the schema version, and upgrades an older one), reading it and
 *           checking that every large record has its file; a copy that fails verification is
 *           removed and DIR is unchanged. Then the blob files join DIR/blobs (links: DIR then
 *           holds the files of both its old and its new data, so a restore cut short anywhere
 *           leaves either whole; the old ones go when the server next starts alone), DIR's log
 *           forgets every record it holds (they were of the data file being replaced), the copy
 *           is renamed to DIR/data.mdb and the directory synced. Only then does restore report
 *           success.
 *
 *   kvs check --data DIR
 *       Reads DIR (a server may be running) and reports every large record whose blob file is
 *       missing or of another size, every blob file no record references (left by a crash:
 *       a start alone removes them; while a server runs, uploads in progress look the same),
 *       and the sums. Exit status 1 when it found damage or left-overs.
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
            "  kvs check --data DIR                  check that every large record has its\n"
            "                                        blob file and no other file is kept\n"
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
    int err = kvs_copy_fd(in, out);
    if (err == 0 && fsync(out) != 0)
        err = errno;
    if (close(out) != 0 && err == 0)
        err = errno;
    close(in);
    return err;
}

#define STAGE "restore.tmp" /* in the data directory: where a restore checks its copy */

/* Remove DATA's staging directory of a restore and what an open left in it (its blob files:
 * links, or copies of the backup's). */
static void remove_stage(const char *data)
{
    static const char *const names[] = {"data.mdb", "lock.mdb", "wal.log"};
    char path[4400];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%.3900s/" STAGE "/%s", data, names[i]);
        unlink(path);
    }
    snprintf(path, sizeof path, "%.3900s/" STAGE "/blobs", data);
    DIR *top = opendir(path);
    struct dirent *d;
    while (top != NULL && (d = readdir(top)) != NULL) {
        if (d->d_name[0] == '.')
            continue;
        char sub[4400];
        snprintf(sub, sizeof sub, "%.3900s/" STAGE "/blobs/%.2s", data, d->d_name);
        DIR *dd = opendir(sub);
        struct dirent *f;
        while (dd != NULL && (f = readdir(dd)) != NULL)
            if (f->d_name[0] != '.' && unlinkat(dirfd(dd), f->d_name, 0) != 0)
                break;
        if (dd != NULL)
            closedir(dd);
        rmdir(sub);
    }
    if (top != NULL)
        closedir(top);
    rmdir(path);
    snprintf(path, sizeof path, "%.3900s/" STAGE, data);
    rmdir(path);
}

/* Give DATA the blob files of BACKUP (its blobs/HH/ID, the large records' bytes), besides
 * those it has: hard links where both are on one file system (blob files never change), else
 * synced copies; each directory synced. A backup without blobs/ has none to give. Returns 0
 * or an errno value. */
static int restore_blobs(const char *data, const char *backup)
{
    char from[4096], to[4096];
    snprintf(from, sizeof from, "%.3900s/blobs", backup);
    DIR *top = opendir(from);
    if (top == NULL)
        return errno == ENOENT ? 0 : errno;
    snprintf(to, sizeof to, "%.3900s/blobs", data);
    int err = mkdir(to, 0700) == 0 || errno == EEXIST ? 0 : errno;
    struct dirent *d;
    while (err == 0 && (d = readdir(top)) != NULL) {
        if (d->d_name[0] == '.' || strlen(d->d_name) != 2)
            continue;
        char sub_from[4100], sub_to[4100];
        snprintf(sub_from, sizeof sub_from, "%s/%.2s", from, d->d_name);
        snprintf(sub_to, sizeof sub_to, "%s/%.2s", to, d->d_name);
        if (mkdir(sub_to, 0700) != 0 && errno != EEXIST) {
            err = errno;
            break;
        }
        DIR *sub = opendir(sub_from);
        if (sub == NULL) {
            err = errno;
            break;
        }
        struct dirent *f;
        while (err == 0 && (f = readdir(sub)) != NULL) {
            if (f->d_name[0] == '.')
                continue;
            char a[4400], b[4400];
            snprintf(a, sizeof a, "%s/%.255s", sub_from, f->d_name);
            snprintf(b, sizeof b, "%s/%.255s", sub_to, f->d_name);
            if (link(a, b) == 0 || errno == EEXIST) /* EEXIST: the same blob, never changed */
                continue;
            err = copy_file(a, b);
        }
        closedir(sub);
        if (err == 0)
            err = kvs_fsync_path(sub_to);
    }
    closedir(top);
    if (err == 0)
        err = kvs_fsync_path(to);
    if (err == 0)
        err = kvs_fsync_path(data);
    return err;
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
        err = restore_blobs(stage, backup);
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
    struct kvs_check_report check = {0};
    if (rc == 0) {
        rc = kvs_storage_read_begin(st, &rd);
        if (rc == 0)
            rc = kvs_storage_user_count(rd, &users);
        kvs_storage_read_end(rd);
        if (rc == 0)
            rc = kvs_storage_check(st, &check, NULL, NULL);
        if (rc == 0 && check.missing > 0)
            rc = KVS_EIO; /* a large record without its file */
        kvs_storage_close(st);
    }
    if (rc != 0) {
        remove_stage(data);
        kvs_storage_lmdb_release(claim);
        close(lock_fd);
        return kvs_cli_fail("the backup %s does not open (%s); %s is unchanged", backup,
                            kvs_strerror(rc), data);
    }
    /* The large records' files join DIR's first: the data file that references them comes
     * last. Then DIR's write-ahead log forgets the data file it had, and the new one comes. */
    err = restore_blobs(data, stage);
    if (err != 0) {
        remove_stage(data);
        kvs_storage_lmdb_release(claim);
        close(lock_fd);
        return kvs_cli_fail("cannot put the blob files of %s in %s: %s; %s is unchanged", backup,
                            data, strerror(err), data);
    }
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

/* `kvs check`: one line per finding on stdout. */
static void print_problem(void *arg, const char *text)
{
    unsigned *n = arg;
    if ((*n)++ < 1000)
        printf("%s\n", text);
}

static int check_main(const char *data)
{
    /* opened as it is: unreferenced blob files are reported here, not removed at the open */
    struct kvs_storage_config cfg = {.dir = data, .keep_orphans = 1};
    struct kvs_storage *st = NULL;
    int rc = kvs_storage_open_lmdb(&cfg, &st);
    if (rc != 0)
        return kvs_cli_fail("cannot open %s: %s", data, kvs_strerror(rc));
    struct kvs_check_report r;
    unsigned lines = 0;
    rc = kvs_storage_check(st, &r, print_problem, &lines);
    kvs_storage_close(st);
    if (rc != 0)
        return kvs_cli_fail("check of %s failed: %s", data, kvs_strerror(rc));
    if (lines > 1000)
        printf("(%u more findings not shown)\n", lines - 1000);
    printf("%llu records, %llu of them in blob files (%llu bytes); %llu missing or damaged, "
           "%llu blob file%s that no record references (%llu bytes)%s, %llu stray blobs rows\n",
           (unsigned long long)r.records, (unsigned long long)r.apart,
           (unsigned long long)r.apart_bytes, (unsigned long long)r.missing,
           (unsigned long long)r.unreferenced, r.unreferenced == 1 ? "" : "s",
           (unsigned long long)r.unreferenced_bytes,
           r.unreferenced == 0 ? ""
           : r.alone           ? ": left over from a crash; the next start removes them"
                               : ": uploads in progress, or left over from a crash",
           (unsigned long long)r.dangling);
    return r.missing || r.dangling || (r.unreferenced && r.alone) ? 1 : 0;
}

/* Backups of a PostgreSQL storage are PostgreSQL's business. */
static int refuse_pg(const char *cmd)
{
    int restore = strcmp(cmd, "restore") == 0;
    return kvs_cli_fail("%s works on an LMDB data directory; the storage is PostgreSQL: %s", cmd,
                        strcmp(cmd, "check") == 0 ? "it keeps no files of its own to check"
                        : restore ? "restore with pg_restore or from a pg_basebackup"
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
    int restore = strcmp(argv[0], "restore") == 0, check = strcmp(argv[0], "check") == 0;
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
                return refuse_pg(argv[0]);
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
        return refuse_pg(argv[0]);
    if (check) {
        if (argc != optind || force)
            return usage_error("kvs check takes --data DIR only");
        kvs_log_set_level(KVS_LOG_WARN);
        return check_main(data);
    }
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
