/* test_wal.c — the write-ahead log of the LMDB back-end (storage/lmdb_wal.h): what a crash or a
 * power loss leaves is opened again with every acknowledged write and nothing else.
 *
 * A power loss is modelled from files: the data file as it was at the log's last checkpoint
 * (copied right after a clean close, which is a checkpoint) plus any subset of the pages
 * written since (the page cache may have written some of them back, in any order), and the
 * log as it is (each record was flushed before its write was acknowledged). Each image is
 * opened as a storage and its every table compared, row by row, with the storage's own final
 * state. tests/crash/power-loss.test.mjs does the same with a real server, at the level of
 * its system calls. These tests know the file formats of lmdb_wal.h. */
#include <fcntl.h>
#include <lmdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../test.h"
#include "common/buf.h"
#include "helpers.h"
#include "storage/lmdb_wal.h"
#include "storage/storage.h"

#define PAGE 4096u
#define SMALL_LOG (8u << 20) /* a quarter of it: more than any workload below */
#define NO_TIMED_CKPT 3600000u /* so that records stay in the log until the test's "crash" */

/* ---- files ---- */

struct bytes {
    unsigned char *p;
    size_t n;
};

static struct bytes slurp(const char *path)
{
    struct bytes b = {NULL, 0};
    int fd = open(path, O_RDONLY);
    ASSERT(fd >= 0);
    struct stat sb;
    ASSERT(fstat(fd, &sb) == 0);
    b.n = (size_t)sb.st_size;
    b.p = malloc(b.n ? b.n : 1);
    ASSERT(b.p != NULL);
    for (size_t off = 0; off < b.n;) {
        ssize_t r = pread(fd, b.p + off, b.n - off, (off_t)off);
        ASSERT(r > 0);
        off += (size_t)r;
    }
    close(fd);
    return b;
}

static void spill(const char *path, const unsigned char *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ASSERT(fd >= 0);
    for (size_t off = 0; off < n;) {
        ssize_t w = pwrite(fd, p + off, n - off, (off_t)off);
        ASSERT(w > 0);
        off += (size_t)w;
    }
    close(fd);
}

static void path_in(char *out, size_t cap, const char *dir, const char *name)
{
    ASSERT((size_t)snprintf(out, cap, "%s/%s", dir, name) < cap);
}

/* The checkpoint a log's newest header names (header slots at 0 and 4096: magic, seq at 16,
 * checkpoint at 40). */
static uint64_t log_checkpoint(const struct bytes *log)
{
    uint64_t best_seq = 0, ckpt = 0;
    for (unsigned s = 0; s < 2; s++) {
        const unsigned char *h = log->p + s * PAGE;
        if (memcmp(h, "KVSWAL\0\1", 8) != 0)
            continue;
        uint64_t seq, c;
        memcpy(&seq, h + 16, 8);
        memcpy(&c, h + 40, 8);
        if (seq >= best_seq) {
            best_seq = seq;
            ckpt = c;
        }
    }
    return ckpt;
}

/* The transaction the newest meta page of a data file names (LMDB 0.9: txnid at 144). */
static uint64_t data_txnid(const struct bytes *data)
{
    uint64_t a, b;
    memcpy(&a, data->p + 144, 8);
    memcpy(&b, data->p + PAGE + 144, 8);
    return a > b ? a : b;
}

/* Every row of every table of the environment in DIR, as one buffer: name, then each key and
 * value with their lengths. */
static struct bytes dump(const char *dir)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi main_dbi;
    ASSERT(mdb_env_create(&env) == 0);
    ASSERT(mdb_env_set_maxdbs(env, 32) == 0);
    ASSERT(mdb_env_set_mapsize(env, 1ull << 30) == 0);
    ASSERT(mdb_env_open(env, dir, MDB_RDONLY, 0600) == 0);
    ASSERT(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) == 0);
    ASSERT(mdb_dbi_open(txn, NULL, 0, &main_dbi) == 0);
    struct kvs_buf out;
    kvs_buf_init(&out, 1u << 30);
    MDB_cursor *names;
    ASSERT(mdb_cursor_open(txn, main_dbi, &names) == 0);
    MDB_val name, nv;
    for (int rc = mdb_cursor_get(names, &name, &nv, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(names, &name, &nv, MDB_NEXT)) {
        char nm[64];
        ASSERT(name.mv_size < sizeof nm);
        memcpy(nm, name.mv_data, name.mv_size);
        nm[name.mv_size] = '\0';
        MDB_dbi dbi;
        ASSERT(mdb_dbi_open(txn, nm, 0, &dbi) == 0);
        ASSERT_OK(kvs_buf_append(&out, nm, name.mv_size + 1));
        MDB_cursor *cur;
        ASSERT(mdb_cursor_open(txn, dbi, &cur) == 0);
        MDB_val k, v;
        for (int r = mdb_cursor_get(cur, &k, &v, MDB_FIRST); r == 0;
             r = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            ASSERT_OK(kvs_buf_append(&out, &k.mv_size, sizeof k.mv_size));
            ASSERT_OK(kvs_buf_append(&out, k.mv_data, k.mv_size));
            ASSERT_OK(kvs_buf_append(&out, &v.mv_size, sizeof v.mv_size));
            ASSERT_OK(kvs_buf_append(&out, v.mv_data, v.mv_size));
        }
        mdb_cursor_close(cur);
    }
    mdb_cursor_close(names);
    mdb_txn_abort(txn);
    mdb_env_close(env);
    struct bytes b;
    b.p = (unsigned char *)kvs_buf_steal(&out, &b.n);
    return b;
}

static struct kvs_storage *open_dir(const char *dir, uint64_t wal_size)
{
    struct kvs_storage_config cfg = {
        .dir = dir, .lmdb_wal_size = wal_size, .lmdb_checkpoint_ms = NO_TIMED_CKPT};
    struct kvs_storage *st = NULL;
    ASSERT_OK(kvs_storage_open_lmdb(&cfg, &st));
    return st;
}

/* Open the storage in DIR (recovering it), close it, and compare every row with WANT. */
static void check_image(const char *dir, const struct bytes *want, const char *what)
{
    kvs_storage_close(open_dir(dir, 0));
    struct bytes got = dump(dir);
    if (got.n != want->n || memcmp(got.p, want->p, got.n) != 0)
        TEST_FAIL_("%s: the recovered tables differ from the acknowledged state (%zu vs %zu "
                   "bytes of rows)",
                   what, got.n, want->n);
    free(got.p);
}

/* The result of reading record (STORE_ID, KEY): 0 or KVS_ENOTFOUND. */
static int lookup(struct kvs_storage *st, const char *store_id, const char *key)
{
    char *v = NULL;
    size_t n;
    int rc = ts_get(st, store_id, key, &v, &n);
    free(v);
    return rc;
}

/* ---- a workload: writes of every kind, some in batches of many ---- */

struct many {
    unsigned long done; /* atomic */
};

static void many_done(struct kvs_write *w)
{
    __atomic_add_fetch(&((struct many *)w->arg)->done, 1, __ATOMIC_RELEASE);
}

/* Put N records KEY_PREFIX0.. of SIZE bytes (+ i) at once: the writer takes them as batches. */
static void put_many(struct kvs_storage *st, const char *store_id, const char *prefix, int n,
                     size_t size)
{
    struct kvs_write *ws = calloc((size_t)n, sizeof *ws);
    char(*keys)[32] = calloc((size_t)n, sizeof *keys);
    unsigned char *val = malloc(size + (size_t)n);
    ASSERT(ws != NULL && keys != NULL && val != NULL);
    for (size_t i = 0; i < size + (size_t)n; i++)
        val[i] = (unsigned char)(i * 7 + size);
    struct many m = {0};
    for (int i = 0; i < n; i++) {
        snprintf(keys[i], sizeof keys[i], "%s%d", prefix, i);
        ws[i] = (struct kvs_write){.op = KVS_W_RECORD_PUT, .done = many_done, .arg = &m};
        snprintf(ws[i].store_id, sizeof ws[i].store_id, "%s", store_id);
        ws[i].key = kvs_slice_of(keys[i]);
        ws[i].value = (kvs_slice){(const char *)val, size + (size_t)i};
        ws[i].content_type = KVS_SLICE_LIT("application/x-test");
        ASSERT_OK(kvs_storage_submit(st, &ws[i]));
    }
    while (__atomic_load_n(&m.done, __ATOMIC_ACQUIRE) < (unsigned long)n) {
        struct timespec t = {0, 1000000};
        nanosleep(&t, NULL);
    }
    for (int i = 0; i < n; i++)
        ASSERT_OK(ws[i].result);
    free(val);
    free(keys);
    free(ws);
}

/* Writes of every kind into STORE of USER (no store delete: its sweep would go on after). */
static void workload(struct kvs_storage *st, const struct kvs_user *user, const char *store_id,
                     const char *tag)
{
    char prefix[32];
    snprintf(prefix, sizeof prefix, "%s-small-", tag);
    put_many(st, store_id, prefix, 40, 100);
    snprintf(prefix, sizeof prefix, "%s-mid-", tag);
    put_many(st, store_id, prefix, 6, 20000);
    snprintf(prefix, sizeof prefix, "%s-big-", tag);
    put_many(st, store_id, prefix, 1, 300000); /* overflow pages */
    snprintf(prefix, sizeof prefix, "%s-small-3", tag);
    ASSERT_OK(ts_del(st, store_id, prefix));
    snprintf(prefix, sizeof prefix, "%s-small-1", tag); /* overwrite */
    ASSERT_OK(ts_put_str(st, store_id, prefix, "overwritten"));
    struct kvs_store s;
    snprintf(prefix, sizeof prefix, "%s-store", tag);
    ASSERT_OK(ts_store(st, user->id, prefix, &s));
    kvs_store_clear(&s);
    struct kvs_write w = {.op = KVS_W_TOKEN_ADD, .user = *user};
    char token[64];
    snprintf(token, sizeof token, "kvs_%s-token-000000000000000000000", tag);
    kvs_token_hash(kvs_slice_of(token), w.token_hash);
    kvs_token_prefix(kvs_slice_of(token), w.token_prefix);
    ASSERT_OK(kvs_storage_write(st, &w));
    w = (struct kvs_write){.op = KVS_W_STORE_UPDATE, .update_mask = KVS_UPD_TITLE};
    snprintf(w.store_id, sizeof w.store_id, "%s", store_id);
    snprintf(w.store.title, sizeof w.store.title, "title %s", tag);
    ASSERT_OK(kvs_storage_write(st, &w));
    kvs_store_clear(&w.store);
    /* a user with a token, a store and a WRITE share, deleted with all of it (every row of
     * KVS_W_USER_DELETE, the secret it renews included, must be in the log) */
    struct kvs_user gone;
    char name[32];
    snprintf(name, sizeof name, "%s-gone", tag);
    snprintf(token, sizeof token, "kvs_%s-gone-token-0000000000000000", tag);
    ts_user(st, name, token, &gone);
    ASSERT_OK(ts_store(st, gone.id, "theirs", &s));
    ASSERT_OK(ts_put_str(st, s.id, "k", "v"));
    kvs_store_clear(&s);
    w = (struct kvs_write){.op = KVS_W_SHARE_SET, .share_level = KVS_SHARE_WRITE, .user = gone};
    snprintf(w.store_id, sizeof w.store_id, "%s", store_id);
    ASSERT_OK(kvs_storage_write(st, &w));
    w = (struct kvs_write){.op = KVS_W_USER_DELETE, .user = gone};
    ASSERT_OK(kvs_storage_write(st, &w));
}

/* A directory DIR with a user and a store, closed cleanly; their IDs into USER and STORE_ID. */
static void prepare(const char *dir, struct kvs_user *user, char store_id[KVS_ID_LEN + 1])
{
    struct kvs_storage *st = open_dir(dir, SMALL_LOG); /* copied often: keep it small */
    ts_user(st, "alice", "kvs_alice-token-0000000000000000", user);
    struct kvs_store s;
    ASSERT_OK(ts_store(st, user->id, "s", &s));
    memcpy(store_id, s.id, KVS_ID_LEN + 1);
    kvs_store_clear(&s);
    put_many(st, store_id, "before-", 20, 500);
    kvs_storage_close(st);
}

/* ==== tests ================================================================================= */

TEST(storage_wal_power_loss_keeps_every_acknowledged_write)
{
    /* The model needs the log's checkpoint not to move while the workload runs: no timed
     * checkpoints, and a quarter of the log is more than the workload writes (checked). */
    for (int attempt = 0;; attempt++) {
        char dir[32];
        snprintf(dir, sizeof dir, "d%d", attempt);
        struct kvs_user alice;
        char sid[KVS_ID_LEN + 1];
        prepare(dir, &alice, sid);
        char data_path[64], log_path[64];
        path_in(data_path, sizeof data_path, dir, "data.mdb");
        path_in(log_path, sizeof log_path, dir, "wal.log");
        struct bytes d0 = slurp(data_path); /* durable: a clean close is a checkpoint */

        struct kvs_storage *st = open_dir(dir, 0);
        workload(st, &alice, sid, "w");
        struct bytes d1 = slurp(data_path); /* what the page cache holds: a crash now */
        struct bytes log = slurp(log_path);
        kvs_storage_close(st);
        struct bytes want = dump(dir);

        if (log_checkpoint(&log) != data_txnid(&d0)) {
            free(d0.p), free(d1.p), free(log.p), free(want.p);
            ASSERT(attempt < 0); /* a checkpoint came: the workload outgrew the log */
            continue;
        }
        ASSERT(data_txnid(&d1) > data_txnid(&d0)); /* commits happened without a sync */
        size_t pages = (d1.n > d0.n ? d1.n : d0.n) / PAGE;
        size_t changed = 0;
        for (size_t i = 0; i < pages; i++)
            changed += i * PAGE >= d0.n || memcmp(d0.p + i * PAGE, d1.p + i * PAGE, PAGE) != 0;
        ASSERT(changed > 10);

        unsigned seed = 12345;
        unsigned char *img = malloc(pages * PAGE);
        ASSERT(img != NULL);
        static const char *const trials[] = {
            "no page written since the checkpoint", "every page written",
            "the meta pages only",                  "every page but the meta pages",
            "a random half of them",                "another random half",
            "a random tenth",                       "a random nine tenths",
        };
        for (unsigned t = 0; t < sizeof trials / sizeof trials[0]; t++) {
            memset(img, 0, pages * PAGE);
            memcpy(img, d0.p, d0.n < pages * PAGE ? d0.n : pages * PAGE);
            for (size_t i = 0; i < pages; i++) {
                int take;
                switch (t) {
                case 0: take = 0; break;
                case 1: take = 1; break;
                case 2: take = i < 2; break;
                case 3: take = i >= 2; break;
                case 4:
                case 5: take = rand_r(&seed) % 2; break;
                case 6: take = rand_r(&seed) % 10 == 0; break;
                default: take = rand_r(&seed) % 10 != 0; break;
                }
                if (take && i * PAGE < d1.n)
                    memcpy(img + i * PAGE, d1.p + i * PAGE, PAGE);
            }
            char idir[32], p[64];
            snprintf(idir, sizeof idir, "img%u", t);
            ASSERT(mkdir(idir, 0700) == 0);
            path_in(p, sizeof p, idir, "data.mdb");
            spill(p, img, pages * PAGE);
            path_in(p, sizeof p, idir, "wal.log");
            spill(p, log.p, log.n);
            check_image(idir, &want, trials[t]);
        }
        free(img);
        free(d0.p), free(d1.p), free(log.p), free(want.p);
        return;
    }
}

/* Copy the files of DIR as they are now (a kill -9: the page cache survives) into IMG. */
static void crash_image(const char *dir, const char *img)
{
    char from[64], to[64];
    ASSERT(mkdir(img, 0700) == 0);
    path_in(from, sizeof from, dir, "data.mdb");
    path_in(to, sizeof to, img, "data.mdb");
    struct bytes b = slurp(from);
    spill(to, b.p, b.n);
    free(b.p);
    path_in(from, sizeof from, dir, "wal.log");
    path_in(to, sizeof to, img, "wal.log");
    b = slurp(from);
    spill(to, b.p, b.n);
    free(b.p);
}
/* The offset of the last record of the chain in a log (following lmdb_wal.h's format from the
 * newest header's start). */
static uint64_t last_record(const struct bytes *log, uint64_t *len)
{
    uint64_t best_seq = 0, off = 0, lsn = 0, size = 0;
    for (unsigned s = 0; s < 2; s++) {
        const unsigned char *h = log->p + s * PAGE;
        uint64_t seq;
        memcpy(&seq, h + 16, 8);
        if (memcmp(h, "KVSWAL\0\1", 8) == 0 && seq >= best_seq) {
            best_seq = seq;
            memcpy(&size, h + 32, 8);
            memcpy(&off, h + 48, 8);
            memcpy(&lsn, h + 56, 8);
        }
    }
    uint64_t last = 0;
    *len = 0;
    for (;;) {
        if (off == size)
            off = 2 * PAGE;
        uint32_t n;
        uint64_t l;
        memcpy(&n, log->p + off + 4, 4);
        memcpy(&l, log->p + off + 8, 8);
        if (l != lsn || n < 32 || off + n > size)
            return last;
        if (log->p[off + 24] == 3) { /* a wrap record */
            off = 2 * PAGE;
        } else {
            last = off;
            *len = n;
            off += n;
        }
        lsn++;
    }
}

TEST(storage_wal_torn_tail_ends_the_replay)
{
    struct kvs_user alice;
    char sid[KVS_ID_LEN + 1];
    prepare("data", &alice, sid);
    struct kvs_storage *st = open_dir("data", 0);
    ASSERT_OK(ts_put_str(st, sid, "first", "1"));
    ASSERT_OK(ts_put_str(st, sid, "second", "2"));
    ASSERT_OK(ts_put_str(st, sid, "last", "3")); /* its record is the last one */
    crash_image("data", "torn");
    crash_image("data", "whole");
    kvs_storage_close(st);

    /* A power loss in the middle of the last record's write: its bytes are partly there. */
    struct bytes log = slurp("torn/wal.log");
    uint64_t len;
    uint64_t off = last_record(&log, &len);
    ASSERT(off != 0 && len >= 64);
    log.p[off + len / 2] ^= 0x5a; /* (its end may be padding zeros: the middle is a row) */
    spill("torn/wal.log", log.p, log.n);
    free(log.p);

    st = open_dir("torn", 0);
    ASSERT_OK(lookup(st, sid, "first"));
    ASSERT_OK(lookup(st, sid, "second"));
    ASSERT_ERR(lookup(st, sid, "last"), KVS_ENOTFOUND); /* never acknowledged */
    struct kvs_store s;
    ASSERT_OK(ts_store_get(st, sid, &s));
    ASSERT_EQ(s.stats.record_count, 22); /* 20 before, first, second: the row of stats too */
    kvs_store_clear(&s);
    ASSERT_OK(ts_put_str(st, sid, "after", "4")); /* the log goes on from the torn place */
    kvs_storage_close(st);
    st = open_dir("torn", 0);
    ASSERT_OK(lookup(st, sid, "after"));
    kvs_storage_close(st);

    st = open_dir("whole", 0); /* the same without the tear: all three */
    char *v = NULL;
    size_t n;
    ASSERT_OK(ts_get(st, sid, "last", &v, &n));
    ASSERT_STR_EQ(v, "3");
    free(v);
    kvs_storage_close(st);
}

TEST(storage_wal_ring_wraps_and_checkpoints)
{
    /* A 2 MiB log and 12 MiB of writes: the ring wraps several times, checkpoints come from
     * its size (a quarter of it live) and, when the log is full, from the writer itself. A
     * crash at the end still has everything. */
    struct kvs_storage *st = open_dir("data", 2u << 20);
    struct kvs_user alice;
    ts_user(st, "alice", "kvs_alice-token-0000000000000000", &alice);
    struct kvs_store s;
    ASSERT_OK(ts_store(st, alice.id, "s", &s));
    for (int round = 0; round < 12; round++) {
        char prefix[16];
        snprintf(prefix, sizeof prefix, "r%d-", round);
        put_many(st, s.id, prefix, 16, 64 * 1024); /* 1 MiB */
    }
    struct stat sb;
    ASSERT(stat("data/wal.log", &sb) == 0);
    ASSERT_EQ((uint64_t)sb.st_size, 2u << 20); /* a ring: it never grows */
    crash_image("data", "img");
    kvs_storage_close(st);
    struct bytes want = dump("data");
    check_image("img", &want, "a crash after the ring wrapped");
    free(want.p);
    kvs_store_clear(&s);
}

TEST(storage_wal_shared_process_commits)
{
    /* A kvs command on the directory while the server owns the log: its commit is synced and
     * made a checkpoint, so a recovery that starts from the log's checkpoint has it; the
     * owner's records before and after it are replayed around it. */
    struct kvs_user alice;
    char sid[KVS_ID_LEN + 1];
    prepare("data", &alice, sid);
    struct kvs_storage *st = open_dir("data", 0);
    ASSERT_OK(ts_put_str(st, sid, "owner-before", "1"));
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        struct kvs_storage_config cfg = {.dir = "data", .lmdb_shared = 1};
        struct kvs_storage *other = NULL;
        int ok = kvs_storage_open_lmdb(&cfg, &other) == 0 &&
                 ts_put_str(other, sid, "shared", "2") == 0 &&
                 ts_put_str(other, sid, "owner-before", "overwritten by the command") == 0;
        kvs_storage_close(other);
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    ASSERT(waitpid(pid, &status, 0) == pid);
    ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    struct bytes log = slurp("data/wal.log");
    uint64_t ckpt = log_checkpoint(&log);
    free(log.p);
    ASSERT_OK(ts_put_str(st, sid, "owner-after", "3"));
    char *v = NULL;
    size_t n;
    ASSERT_OK(ts_get(st, sid, "owner-before", &v, &n));
    ASSERT_STR_EQ(v, "overwritten by the command");
    free(v);
    crash_image("data", "img");
    kvs_storage_close(st);
    struct bytes data = slurp("img/data.mdb");
    ASSERT(ckpt >= 5 && ckpt < data_txnid(&data)); /* the command's commit is a checkpoint */
    free(data.p);
    struct bytes want = dump("data");
    check_image("img", &want, "a crash after a command's commit");
    free(want.p);
}

/* "data" and "other", each with a user and a store (IDs into SID, OTHER_SID); then "img": a
 * crash of "data" right after it stored record "k" (so its log has a record to replay). A
 * claim of "data" is refused while it is open. */
static void two_dirs_and_a_crash(char sid[KVS_ID_LEN + 1], char other_sid[KVS_ID_LEN + 1])
{
    struct kvs_user alice, bob;
    prepare("data", &alice, sid);
    prepare("other", &bob, other_sid);
    struct kvs_storage *st = open_dir("data", 0);
    int fd = -1;
    ASSERT_ERR(kvs_wal_claim("data", &fd), KVS_EUNAVAIL);
    ASSERT_OK(ts_put_str(st, sid, "k", "v"));
    crash_image("data", "img");
    kvs_storage_close(st);
}

TEST(storage_wal_belongs_to_its_data_file)
{
    /* A log with records to replay is never replayed into another data file (one copied over
     * it by hand): the open refuses, and says what to do. */
    char sid[KVS_ID_LEN + 1], other_sid[KVS_ID_LEN + 1];
    two_dirs_and_a_crash(sid, other_sid);
    struct kvs_storage *st;
    struct bytes b = slurp("other/data.mdb");
    spill("img/data.mdb", b.p, b.n); /* cp other/data.mdb img/ */
    struct kvs_storage_config cfg = {.dir = "img"};
    ASSERT_ERR(kvs_storage_open_lmdb(&cfg, &st), KVS_EIO);
    /* A log with nothing to replay (a clean stop) goes with any data file. */
    spill("data/data.mdb", b.p, b.n);
    free(b.p);
    st = open_dir("data", 0);
    ASSERT_OK(lookup(st, other_sid, "before-0"));
    ASSERT_ERR(lookup(st, sid, "k"), KVS_ENOTFOUND);
    kvs_storage_close(st);
}

TEST(storage_wal_reset_forgets_every_record)
{
    /* kvs restore: with the directory claimed (refused while a process has it open; an open
     * meanwhile waits), the log is reset before the new data file comes: nothing of the old
     * one is replayed into it. */
    char sid[KVS_ID_LEN + 1], other_sid[KVS_ID_LEN + 1];
    int fd = -1;
    two_dirs_and_a_crash(sid, other_sid);
    ASSERT_OK(kvs_wal_claim("img", &fd));
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        close(fd); /* (the claim is an OFD lock: this inherited descriptor would hold it too) */
        struct kvs_storage_config cfg = {.dir = "img"};
        struct kvs_storage *other = NULL;
        int ok = kvs_storage_open_lmdb(&cfg, &other) == 0;
        ok = ok && lookup(other, other_sid, "before-0") == 0;
        ok = ok && lookup(other, sid, "k") == KVS_ENOTFOUND;
        kvs_storage_close(other);
        _exit(ok ? 0 : 1);
    }
    struct timespec t = {0, 200000000};
    nanosleep(&t, NULL);
    ASSERT(access("img/lock.mdb", F_OK) != 0); /* still waiting: LMDB has not opened it */
    ASSERT_OK(kvs_wal_reset(fd, "img"));
    struct bytes b = slurp("other/data.mdb");
    spill("img/data.mdb", b.p, b.n); /* restored */
    free(b.p);
    kvs_wal_release(fd);
    int status = 0;
    ASSERT(waitpid(pid, &status, 0) == pid);
    ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST(storage_wal_crc32c)
{
    /* the log's checksum is CRC-32C (the check value of the catalogue of CRCs), in pieces too */
    ASSERT_EQ(kvs_wal_crc("123456789", 9, 0), 0xE3069283u);
    ASSERT_EQ(kvs_wal_crc("56789", 5, kvs_wal_crc("1234", 4, 0)), 0xE3069283u);
    ASSERT_EQ(kvs_wal_crc("", 0, 0), 0u);
    unsigned char zeros[32] = {0};
    ASSERT_EQ(kvs_wal_crc(zeros, sizeof zeros, 0), 0x8A9136AAu);
}

TEST(storage_wal_replay_in_steps)
{
    /* More rows in the log than one transaction of the replay takes (LMDB caps the pages a
     * transaction dirties): a crash with 50,000 rows after the checkpoint (a record and its
     * store's stats row per put; a log of 64 MiB checkpoints after 8 MiB) still opens whole. */
    struct kvs_storage *st = open_dir("data", 0);
    struct kvs_user alice;
    ts_user(st, "alice", "kvs_alice-token-0000000000000000", &alice);
    struct kvs_store s;
    ASSERT_OK(ts_store(st, alice.id, "s", &s));
    char sid[KVS_ID_LEN + 1];
    memcpy(sid, s.id, sizeof sid);
    kvs_store_clear(&s);
    for (int i = 0; i < 250; i++) { /* 25,000 puts of 1-100 bytes: ~6 MiB of log */
        char prefix[16];
        snprintf(prefix, sizeof prefix, "t%d-", i);
        put_many(st, sid, prefix, 100, 1);
    }
    crash_image("data", "img");
    kvs_storage_close(st);
    struct bytes log = slurp("img/wal.log");
    uint64_t len;
    ASSERT(last_record(&log, &len) != 0); /* no checkpoint came: all of it is to replay */
    free(log.p);
    struct bytes want = dump("data");
    check_image("img", &want, "a replay of many transactions");
    free(want.p);
}
