/* lmdb_blob.c — large records of the LMDB back-end: blob files in DIR/blobs/ (see "Large
 * values" in lmdb_internal.h and "Large records" in storage.h).
 *
 * A blob is written once and never changed: an upload creates DIR/blobs/HH/ID (O_EXCL, a fresh
 * random ID), appends the body as it arrives, and is synced (file, then its directory) by a sync
 * thread of storage/upload.c before its write goes to the writer. The row that references it
 * and its `blobs` row commit together; the file of a blob whose row a committed transaction
 * deleted (an overwrite, a delete, the sweep of a deleted store) is removed right after that
 * commit. So at any moment a file is either referenced by a committed row, or an upload in
 * progress, or left over from a crash between those steps; the last are removed when the
 * storage is next opened by a process that has it to itself.
 *
 * Who has it to itself: every process that opens the storage holds a shared flock on
 * DIR/blobs for as long as it has it open (flock locks belong to the open file, so LMDB's own
 * fcntl locks on lock.mdb are not disturbed). A process that can take the lock exclusively
 * while opening is alone, and no upload of another process can be in progress: only then are
 * unreferenced files removed. (`kvs check` reports them either way.)
 *
 * Writeback: an upload hands what it wrote to the kernel's writeback every FLUSH_EVERY bytes
 * (sync_file_range, which does not wait), so that the final fdatasync finds little left to
 * write and the page cache does not fill with one upload's dirty pages. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/fs.h"
#include "common/random.h"
#include "storage/lmdb_internal.h"

#define FLUSH_EVERY (8u << 20)
#define REL_LEN (2 + 1 + 2 * BLOB_ID_LEN) /* "HH/" + the ID in hex */

static const char HEX[] = "0123456789abcdef";

/* The path of blob ID relative to DIR/blobs: "HH/" + 32 hex digits, NUL-terminated. */
static void rel_path(const unsigned char id[BLOB_ID_LEN], char out[REL_LEN + 1])
{
    out[0] = HEX[id[0] >> 4];
    out[1] = HEX[id[0] & 15];
    out[2] = '/';
    for (int i = 0; i < BLOB_ID_LEN; i++) {
        out[3 + 2 * i] = HEX[id[i] >> 4];
        out[4 + 2 * i] = HEX[id[i] & 15];
    }
    out[REL_LEN] = '\0';
}

static int hex_digit(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The blob ID a file name of DIR/blobs/HH/ is, into ID. Returns 0, or -1 when NAME is not the
 * name of a blob of that directory. */
static int id_of_name(const char *hh, const char *name, unsigned char id[BLOB_ID_LEN])
{
    if (strlen(name) != 2 * BLOB_ID_LEN || name[0] != hh[0] || name[1] != hh[1])
        return -1;
    for (int i = 0; i < BLOB_ID_LEN; i++) {
        int hi = hex_digit(name[2 * i]), lo = hex_digit(name[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        id[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

static int space_errno(int e)
{
    return e == ENOSPC || e == EDQUOT || e == EFBIG;
}

/* ---- opening: the directories, the lock, the sweep of unreferenced files ------------------ */

/* Remove the files of DIR/blobs/HH that no blobs row names. Returns how many, or an error. */
static int sweep_dir(struct kvs_lmdb *db, MDB_txn *txn, const char *hh, uint64_t *removed)
{
    int fd = openat(db->blobs_fd, hh, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (d == NULL) {
        kvs_log_error("lmdb: cannot read %s/blobs/%s: %s", db->dir, hh, strerror(errno));
        if (fd >= 0)
            close(fd);
        return KVS_EIO;
    }
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        unsigned char id[BLOB_ID_LEN];
        if (e->d_name[0] == '.' || id_of_name(hh, e->d_name, id) != 0)
            continue;
        int has = db_has(txn, db->dbi[DBI_BLOBS], val_of(id, BLOB_ID_LEN), "get blob");
        if (has < 0) {
            rc = has;
        } else if (has == 0) {
            if (unlinkat(dirfd(d), e->d_name, 0) == 0)
                (*removed)++;
            else
                kvs_log_warn("lmdb: cannot remove unreferenced blob %s/%s: %s", hh, e->d_name,
                             strerror(errno));
        }
    }
    closedir(d);
    return rc;
}

static int sweep_orphans(struct kvs_lmdb *db)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0)
        return kvs_lmdb_err(rc, "begin blob sweep");
    uint64_t removed = 0;
    for (int i = 0; i < 256 && rc == 0; i++) {
        char hh[3] = {HEX[i >> 4], HEX[i & 15], '\0'};
        rc = sweep_dir(db, txn, hh, &removed);
    }
    mdb_txn_abort(txn);
    if (removed > 0)
        kvs_log_warn("lmdb: removed %llu blob file%s that no record references (an upload cut "
                     "off by a crash, or a removal the crash came before)",
                     (unsigned long long)removed, removed == 1 ? "" : "s");
    return rc;
}

int kvs_lmdb_blobs_open(struct kvs_lmdb *db)
{
    size_t n = strlen(db->dir) + sizeof "/blobs";
    char *path = kvs_xmalloc(n);
    snprintf(path, n, "%s/blobs", db->dir);
    int made = mkdir(path, 0700) == 0;
    db->blobs_fd = made || errno == EEXIST ? open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (db->blobs_fd < 0) {
        kvs_log_error("lmdb: cannot open %s: %s", path, strerror(errno));
        free(path);
        return KVS_EIO;
    }
    free(path);
    for (int i = 0; i < 256; i++) {
        char hh[3] = {HEX[i >> 4], HEX[i & 15], '\0'};
        if (mkdirat(db->blobs_fd, hh, 0700) == 0)
            made = 1;
        else if (errno != EEXIST) {
            kvs_log_error("lmdb: cannot create %s/blobs/%s: %s", db->dir, hh, strerror(errno));
            return KVS_EIO;
        }
    }
    /* new directories are entries of their parents: durable before any file goes in */
    if (made && (fsync(db->blobs_fd) != 0 || kvs_fsync_path(db->dir) != 0)) {
        kvs_log_error("lmdb: cannot sync %s/blobs: %s", db->dir, strerror(errno));
        return KVS_EIO;
    }
    if (flock(db->blobs_fd, LOCK_EX | LOCK_NB) == 0) {
        int rc = sweep_orphans(db); /* alone: no upload of anyone's is in progress */
        if (rc != 0)
            return rc;
    }
    if (flock(db->blobs_fd, LOCK_SH) != 0) {
        kvs_log_error("lmdb: cannot lock %s/blobs: %s", db->dir, strerror(errno));
        return KVS_EIO;
    }
    return 0;
}

void kvs_lmdb_blobs_close(struct kvs_lmdb *db)
{
    if (db->blobs_fd >= 0)
        close(db->blobs_fd); /* and its lock */
    db->blobs_fd = -1;
}

/* ---- uploads ------------------------------------------------------------------------------- */

static struct kvs_lmdb_upload *upload_of(struct kvs_upload *u)
{
    return (struct kvs_lmdb_upload *)u;
}

static struct kvs_lmdb *db_of_upload(struct kvs_upload *u)
{
    return lmdb_of(u->st);
}

int kvs_lmdb_upload_begin(struct kvs_storage *st, uint64_t size, struct kvs_upload **out)
{
    struct kvs_lmdb *db = lmdb_of(st);
    struct kvs_lmdb_upload *u = kvs_xcalloc(1, sizeof *u);
    u->super.st = st;
    char rel[REL_LEN + 1];
    for (int tries = 0;; tries++) {
        if (kvs_random_bytes(u->id, BLOB_ID_LEN) != 0) {
            free(u);
            return KVS_EIO;
        }
        rel_path(u->id, rel);
        u->fd = openat(db->blobs_fd, rel, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (u->fd >= 0)
            break;
        if (errno != EEXIST || tries == 3) { /* EEXIST: 2^-128; try another ID */
            int e = errno;
            kvs_log_error("lmdb: cannot create blob %s: %s", rel, strerror(e));
            free(u);
            return space_errno(e) ? KVS_ENOSPACE : KVS_EIO;
        }
    }
    /* The announced size, set aside now: a disk too small fails before any byte. (Not where
     * the file system cannot: the writes then find out.) */
    if (size > 0 && fallocate(u->fd, FALLOC_FL_KEEP_SIZE, 0, (off_t)size) != 0) {
        int e = errno;
        if (space_errno(e)) {
            kvs_lmdb_upload_abort(&u->super);
            return KVS_ENOSPACE;
        }
    } else if (size > 0) {
        u->reserved = size;
    }
    *out = &u->super;
    return 0;
}

int kvs_lmdb_upload_append(struct kvs_upload *up, const void *p, size_t n)
{
    struct kvs_lmdb_upload *u = upload_of(up);
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(u->fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            int e = errno;
            if (!space_errno(e))
                kvs_log_error("lmdb: cannot write a blob: %s", strerror(e));
            return space_errno(e) ? KVS_ENOSPACE : KVS_EIO;
        }
        c += w;
        n -= (size_t)w;
    }
    uint64_t written = u->super.size + (uint64_t)(c - (const char *)p);
    if (written - u->flushed >= FLUSH_EVERY) {
        /* start the writeback of what is written, without waiting for it */
        (void)sync_file_range(u->fd, (off_t)u->flushed, (off_t)(written - u->flushed),
                              SYNC_FILE_RANGE_WRITE);
        u->flushed = written;
    }
    return 0;
}

int kvs_lmdb_upload_sync(struct kvs_upload *up)
{
    struct kvs_lmdb_upload *u = upload_of(up);
    struct kvs_lmdb *db = db_of_upload(up);
    char rel[REL_LEN + 1];
    rel_path(u->id, rel);
    if (u->reserved > u->super.size && ftruncate(u->fd, (off_t)u->super.size) != 0)
        kvs_log_warn("lmdb: cannot give back the unused room of blob %s: %s", rel,
                     strerror(errno));
    if (fdatasync(u->fd) != 0) {
        int e = errno;
        kvs_log_error("lmdb: cannot sync blob %s: %s", rel, strerror(e));
        return space_errno(e) ? KVS_ENOSPACE : KVS_EIO;
    }
    /* its name too: a new entry of its directory (the directory itself is durable since
     * kvs_lmdb_blobs_open) */
    rel[2] = '\0';
    int dfd = openat(db->blobs_fd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = dfd >= 0 && fsync(dfd) == 0 ? 0 : errno;
    if (dfd >= 0)
        close(dfd);
    if (rc != 0) {
        kvs_log_error("lmdb: cannot sync %s/blobs/%s: %s", db->dir, rel, strerror(rc));
        return KVS_EIO;
    }
    return 0;
}

void kvs_lmdb_upload_keep(struct kvs_upload *up)
{
    struct kvs_lmdb_upload *u = upload_of(up);
    close(u->fd);
    free(u);
}

void kvs_lmdb_upload_abort(struct kvs_upload *up)
{
    struct kvs_lmdb_upload *u = upload_of(up);
    kvs_lmdb_blob_remove(db_of_upload(up), u->id);
    close(u->fd);
    free(u);
}

/* ---- reading and removing ------------------------------------------------------------------ */

int kvs_lmdb_blob_open(struct kvs_read *rd, const struct kvs_record_view *rec, int *fd)
{
    struct kvs_lmdb *db = lmdb_of(rd->st);
    if (rec->blob.n != BLOB_ID_LEN)
        return kvs_lmdb_corrupt("blob reference");
    char rel[REL_LEN + 1];
    rel_path((const unsigned char *)rec->blob.p, rel);
    *fd = openat(db->blobs_fd, rel, O_RDONLY | O_CLOEXEC);
    if (*fd < 0 && errno == ENOENT)
        return KVS_ESTALE; /* removed since RD began: the record was replaced or deleted */
    struct stat sb;
    if (*fd < 0 || fstat(*fd, &sb) != 0 || (uint64_t)sb.st_size != rec->size) {
        kvs_log_error("lmdb: blob %s: %s", rel,
                      *fd < 0 ? strerror(errno) : "its size is not its record's");
        if (*fd >= 0)
            close(*fd);
        *fd = -1;
        return KVS_EIO;
    }
    return 0;
}

void kvs_lmdb_blob_remove(struct kvs_lmdb *db, const unsigned char id[BLOB_ID_LEN])
{
    char rel[REL_LEN + 1];
    rel_path(id, rel);
    if (unlinkat(db->blobs_fd, rel, 0) != 0 && errno != ENOENT)
        kvs_log_warn("lmdb: cannot remove blob %s (removed at the next start): %s", rel,
                     strerror(errno));
}

int kvs_lmdb_blob_row_put(struct kvs_lmdb *db, MDB_txn *txn, const unsigned char id[BLOB_ID_LEN],
                          uint64_t size, const char *store_id, kvs_slice key)
{
    unsigned char v[1 + 8 + KVS_ID_LEN + KVS_KEY_MAX];
    struct packer p = {v};
    put_u8(&p, FORMAT);
    put_u64(&p, size);
    put_bytes(&p, store_id, KVS_ID_LEN);
    put_bytes(&p, key.p, key.n);
    return db_put(txn, db->dbi[DBI_BLOBS], val_of(id, BLOB_ID_LEN), val_of(v, (size_t)(p.p - v)),
                  "put blob");
}

int kvs_lmdb_blob_row_del(struct kvs_lmdb *db, MDB_txn *txn, kvs_slice id)
{
    return db_del(txn, db->dbi[DBI_BLOBS], val_of(id.p, id.n), "delete blob");
}
