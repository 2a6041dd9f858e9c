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
#include <stdarg.h>
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
    if (!db->keep_orphans && flock(db->blobs_fd, LOCK_EX | LOCK_NB) == 0) {
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

uint64_t kvs_lmdb_inline_max(const struct kvs_storage *st)
{
    return ((const struct kvs_lmdb *)st)->inline_max;
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

/* ---- check (kvs_storage_check) ------------------------------------------------------------- */

struct checker {
    struct kvs_lmdb *db;
    MDB_txn *txn;
    struct kvs_check_report *out;
    void (*problem)(void *arg, const char *text);
    void *arg;
};

static void report(struct checker *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void report(struct checker *c, const char *fmt, ...)
{
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (c->problem)
        c->problem(c->arg, text);
}

/* Every record held in a blob file has its blobs row and its file, of its size. */
static int check_records(struct checker *c)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(c->txn, c->db->dbi[DBI_RECORDS], &cur);
    if (rc != 0)
        return kvs_lmdb_err(rc, "open cursor");
    MDB_val k, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        c->out->records++;
        struct kvs_record_view rec;
        if (kvs_lmdb_parse_record(v, &rec) != 0) {
            c->out->missing++;
            report(c, "record %.*s: its row cannot be read", (int)k.mv_size, (char *)k.mv_data);
            continue;
        }
        if (rec.blob.n == 0)
            continue;
        c->out->apart++;
        c->out->apart_bytes += rec.size;
        char rel[REL_LEN + 1];
        rel_path((const unsigned char *)rec.blob.p, rel);
        struct stat sb;
        int has = db_has(c->txn, c->db->dbi[DBI_BLOBS], val_of(rec.blob.p, BLOB_ID_LEN), "blob");
        if (has < 0) {
            mdb_cursor_close(cur);
            return has;
        }
        if (fstatat(c->db->blobs_fd, rel, &sb, 0) != 0 || (uint64_t)sb.st_size != rec.size) {
            c->out->missing++;
            report(c, "record %.17s/%.*s: its blob file blobs/%s is %s", (char *)k.mv_data,
                   (int)(k.mv_size - KVS_ID_LEN), (char *)k.mv_data + KVS_ID_LEN, rel,
                   errno == ENOENT ? "missing" : "not of its size");
        } else if (!has) {
            c->out->missing++;
            report(c, "record %.17s/%.*s: blob %s has no blobs row", (char *)k.mv_data,
                   (int)(k.mv_size - KVS_ID_LEN), (char *)k.mv_data + KVS_ID_LEN, rel);
        }
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : kvs_lmdb_err(rc, "walk records");
}

/* Every blobs row names a record that holds it. */
static int check_rows(struct checker *c)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(c->txn, c->db->dbi[DBI_BLOBS], &cur);
    if (rc != 0)
        return kvs_lmdb_err(rc, "open cursor");
    MDB_val k, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        const unsigned char *p = v.mv_data;
        int ok = k.mv_size == BLOB_ID_LEN && v.mv_size > 1 + 8 + KVS_ID_LEN && p[0] == FORMAT;
        MDB_val rv;
        struct kvs_record_view rec;
        if (ok) {
            unsigned char key[KVS_ID_LEN + KVS_KEY_MAX];
            size_t kn = v.mv_size - 1 - 8;
            ok = kn <= sizeof key;
            if (ok) {
                memcpy(key, p + 9, kn);
                ok = db_get(c->txn, c->db->dbi[DBI_RECORDS], val_of(key, kn), &rv, "record") == 0 &&
                     kvs_lmdb_parse_record(rv, &rec) == 0 && rec.blob.n == BLOB_ID_LEN &&
                     memcmp(rec.blob.p, k.mv_data, BLOB_ID_LEN) == 0;
            }
        }
        if (!ok) {
            char rel[REL_LEN + 1];
            rel_path(k.mv_size == BLOB_ID_LEN ? k.mv_data : (const void *)"????????????????", rel);
            c->out->dangling++;
            report(c, "blobs row %s: no record holds it", rel);
        }
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : kvs_lmdb_err(rc, "walk blobs");
}

/* Every file of blobs/ has its blobs row. */
static int check_files(struct checker *c)
{
    for (int i = 0; i < 256; i++) {
        char hh[3] = {HEX[i >> 4], HEX[i & 15], '\0'};
        int fd = openat(c->db->blobs_fd, hh, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        if (d == NULL) {
            if (fd >= 0)
                close(fd);
            report(c, "blobs/%s cannot be read: %s", hh, strerror(errno));
            return KVS_EIO;
        }
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            unsigned char id[BLOB_ID_LEN];
            struct stat sb;
            int has = id_of_name(hh, e->d_name, id) == 0
                          ? db_has(c->txn, c->db->dbi[DBI_BLOBS], val_of(id, BLOB_ID_LEN), "blob")
                          : 0;
            if (has < 0) {
                closedir(d);
                return has;
            }
            if (has)
                continue;
            c->out->unreferenced++;
            if (fstatat(dirfd(d), e->d_name, &sb, 0) == 0)
                c->out->unreferenced_bytes += (uint64_t)sb.st_size;
            report(c, "blobs/%s/%s: no record references it (%s)", hh, e->d_name,
                   c->out->alone ? "left over from a crash; removed when the storage next opens"
                                 : "an upload in progress, or left over from a crash");
        }
        closedir(d);
    }
    return 0;
}

int kvs_lmdb_check(struct kvs_storage *st, struct kvs_check_report *out,
                   void (*problem)(void *arg, const char *text), void *arg)
{
    struct kvs_lmdb *db = lmdb_of(st);
    /* Alone? Our own shared lock would stand in the way of the test: dropped for it. */
    size_t n = strlen(db->dir) + sizeof "/blobs";
    char *path = kvs_xmalloc(n);
    snprintf(path, n, "%s/blobs", db->dir);
    int probe = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(path);
    if (probe >= 0 && flock(db->blobs_fd, LOCK_UN) == 0) {
        out->alone = flock(probe, LOCK_EX | LOCK_NB) == 0;
        close(probe); /* and its lock, before ours is taken again */
        probe = -1;
        if (flock(db->blobs_fd, LOCK_SH) != 0)
            kvs_log_warn("lmdb: cannot lock %s/blobs again: %s", db->dir, strerror(errno));
    }
    if (probe >= 0)
        close(probe);
    struct checker c = {db, NULL, out, problem, arg};
    int rc = mdb_txn_begin(db->env, NULL, MDB_RDONLY, &c.txn);
    if (rc != 0)
        return kvs_lmdb_err(rc, "begin check");
    rc = check_records(&c);
    if (rc == 0)
        rc = check_rows(&c);
    if (rc == 0)
        rc = check_files(&c);
    mdb_txn_abort(c.txn);
    return rc;
}

/* ---- backup: the blob files a copy of the environment references ---------------------------- */

/* Copy FROM (an open file) to TO in DIRFD, synced. Returns 0 or an errno value. */
static int copy_blob(int from, int dirfd_, const char *to)
{
    int out = openat(dirfd_, to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (out < 0)
        return errno;
    int err = kvs_copy_fd(from, out);
    if (err == 0 && fsync(out) != 0)
        err = errno;
    close(out);
    if (err != 0)
        unlinkat(dirfd_, to, 0);
    return err;
}

int kvs_lmdb_blobs_backup(struct kvs_lmdb *db, const char *out_dir)
{
    /* the copy's own blobs table says which files it needs */
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi dbi;
    int rc = mdb_env_create(&env);
    if (rc == 0)
        rc = mdb_env_set_maxdbs(env, DBI_COUNT);
    if (rc == 0)
        rc = mdb_env_open(env, out_dir, MDB_RDONLY | MDB_NOLOCK, 0600);
    if (rc == 0)
        rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
    if (rc == 0)
        rc = mdb_dbi_open(txn, kvs_lmdb_dbi_names[DBI_BLOBS], 0, &dbi);
    if (rc != 0) {
        if (env)
            mdb_env_close(env);
        return kvs_lmdb_err(rc, "open the backup copy");
    }
    size_t n = strlen(out_dir) + sizeof "/blobs";
    char *path = kvs_xmalloc(n);
    snprintf(path, n, "%s/blobs", out_dir);
    int out = mkdir(path, 0700) == 0 || errno == EEXIST
                  ? open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                  : -1;
    free(path);
    int err = out < 0 ? errno : 0;
    for (int i = 0; i < 256 && err == 0; i++) {
        char hh[3] = {HEX[i >> 4], HEX[i & 15], '\0'};
        if (mkdirat(out, hh, 0700) != 0 && errno != EEXIST)
            err = errno;
    }
    int stale = 0;
    MDB_cursor *cur = NULL;
    if (err == 0 && (rc = mdb_cursor_open(txn, dbi, &cur)) != 0)
        err = EIO;
    MDB_val k, v;
    for (rc = cur ? mdb_cursor_get(cur, &k, &v, MDB_FIRST) : MDB_NOTFOUND;
         err == 0 && !stale && rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != BLOB_ID_LEN) {
            err = EIO;
            break;
        }
        char rel[REL_LEN + 1];
        rel_path(k.mv_data, rel);
        /* blob files never change: a second name for the same file is a copy */
        if (linkat(db->blobs_fd, rel, out, rel, 0) == 0 || errno == EEXIST)
            continue;
        if (errno == ENOENT) {
            stale = 1; /* replaced since the copy's snapshot: the caller copies anew */
            break;
        }
        if (errno != EXDEV && errno != EPERM && errno != EMLINK) {
            err = errno;
            break;
        }
        int from = openat(db->blobs_fd, rel, O_RDONLY | O_CLOEXEC);
        if (from < 0) {
            stale = errno == ENOENT;
            err = stale ? 0 : errno;
            break;
        }
        err = copy_blob(from, out, rel);
        close(from);
    }
    if (cur)
        mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    mdb_env_close(env);
    /* the new names are durable with their directories */
    for (int i = 0; i < 256 && err == 0 && !stale; i++) {
        char hh[3] = {HEX[i >> 4], HEX[i & 15], '\0'};
        int d = openat(out, hh, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (d < 0 || fsync(d) != 0)
            err = errno;
        if (d >= 0)
            close(d);
    }
    if (err == 0 && !stale && fsync(out) != 0)
        err = errno;
    if (out >= 0)
        close(out);
    if (stale)
        return KVS_ESTALE;
    if (err != 0) {
        kvs_log_error("lmdb: backup: cannot copy the blob files into %s: %s", out_dir,
                      strerror(err));
        return space_errno(err) ? KVS_ENOSPACE : KVS_EIO;
    }
    return 0;
}
