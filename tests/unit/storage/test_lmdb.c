/* test_lmdb.c — checks particular to the LMDB back-end (storage/lmdb_*.c), beyond the
 * conformance suite: the schema version, corrupt values, the sweep of deleted stores in
 * bounded steps, large stores, a full map, the reader limit.
 *
 * These tests know the layout documented at the top of storage/lmdb_internal.h and poke at the
 * environment directly with liblmdb while the storage is closed. */
#include <lmdb.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../test.h"
#include "helpers.h"
#include "storage/backend.h"
#include "storage/storage.h"

static struct kvs_storage *open_with(uint64_t map_size, unsigned max_readers)
{
    struct kvs_storage_config cfg = {
        .dir = "data", .map_size = map_size, .max_readers = max_readers};
    struct kvs_storage *st = NULL;
    ASSERT_OK(kvs_storage_open_lmdb(&cfg, &st));
    return st;
}

/* ---- raw access to ./data while the storage is closed ---- */

#define MDB_CHECK(expr)                                                                            \
    do {                                                                                           \
        int mrc_ = (expr);                                                                         \
        if (mrc_ != 0)                                                                             \
            TEST_FAIL_("%s: %s", #expr, mdb_strerror(mrc_));                                       \
    } while (0)

struct raw {
    MDB_env *env;
    MDB_txn *txn;
};

static struct raw raw_begin(void)
{
    struct raw r;
    MDB_CHECK(mdb_env_create(&r.env));
    MDB_CHECK(mdb_env_set_maxdbs(r.env, 16));
    MDB_CHECK(mdb_env_set_mapsize(r.env, 1ull << 30));
    MDB_CHECK(mdb_env_open(r.env, "data", 0, 0600));
    MDB_CHECK(mdb_txn_begin(r.env, NULL, 0, &r.txn));
    return r;
}

static void raw_commit(struct raw *r)
{
    MDB_CHECK(mdb_txn_commit(r->txn));
    mdb_env_close(r->env);
}

static MDB_dbi raw_dbi(struct raw *r, const char *name)
{
    MDB_dbi dbi;
    MDB_CHECK(mdb_dbi_open(r->txn, name, 0, &dbi));
    return dbi;
}

static void raw_put(struct raw *r, const char *db, const void *k, size_t kn, const void *v,
                    size_t vn)
{
    MDB_val key = {kn, (void *)k}, val = {vn, (void *)v};
    MDB_CHECK(mdb_put(r->txn, raw_dbi(r, db), &key, &val, 0));
}

static size_t raw_entries(struct raw *r, const char *db)
{
    MDB_stat ms;
    MDB_CHECK(mdb_stat(r->txn, raw_dbi(r, db), &ms));
    return ms.ms_entries;
}

/* ---- holding the writer thread ---- */

/* A done callback that keeps the writer thread until the test lets it go, so the test can
 * line up several writes into one batch or run the back-end's maintenance by hand. */
struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int entered, open;
};

static void gate_done(struct kvs_write *w)
{
    struct gate *g = w->arg;
    pthread_mutex_lock(&g->mu);
    g->entered = 1;
    pthread_cond_broadcast(&g->cv);
    while (!g->open)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

/* Submit W with gate_done and wait until the writer is inside it. */
static void gate_hold(struct kvs_storage *st, struct gate *g, struct kvs_write *w)
{
    w->done = gate_done;
    w->arg = g;
    ASSERT_OK(kvs_storage_submit(st, w));
    pthread_mutex_lock(&g->mu);
    while (!g->entered)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

static void gate_release(struct gate *g)
{
    pthread_mutex_lock(&g->mu);
    g->open = 1;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

#define GATE_INIT                                                                                  \
    {                                                                                              \
        PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0                                  \
    }

/* ==== tests ================================================================================= */

TEST(storage_lmdb_bad_config)
{
    struct kvs_storage *st = (struct kvs_storage *)1;
    ASSERT_ERR(kvs_storage_open_lmdb(&(struct kvs_storage_config){.dir = NULL}, &st), KVS_EINVAL);
    ASSERT(st == NULL);
    ASSERT_ERR(kvs_storage_open_lmdb(&(struct kvs_storage_config){.dir = ""}, &st), KVS_EINVAL);
    /* A file where the directory should be. */
    FILE *f = fopen("file", "w");
    ASSERT(f != NULL);
    fclose(f);
    ASSERT_ERR(kvs_storage_open_lmdb(&(struct kvs_storage_config){.dir = "file/data"}, &st),
               KVS_EIO);
    ASSERT_ERR(kvs_storage_open_lmdb(&(struct kvs_storage_config){.dir = "file"}, &st), KVS_EIO);
    /* Nested directories are created. */
    ASSERT_OK(kvs_storage_open_lmdb(&(struct kvs_storage_config){.dir = "a/b/c/"}, &st));
    kvs_storage_close(st);
    ASSERT(access("a/b/c/data.mdb", F_OK) == 0);
    kvs_storage_close(NULL);
}

TEST(storage_lmdb_schema_version)
{
    kvs_storage_close(open_with(0, 0));
    /* A version this build does not know is refused, and the data is left alone. */
    struct raw r = raw_begin();
    unsigned char v99[4] = {99, 0, 0, 0};
    raw_put(&r, "meta", "schema_version", 14, v99, sizeof v99);
    raw_commit(&r);
    struct kvs_storage *st = NULL;
    struct kvs_storage_config cfg = {.dir = "data"};
    ASSERT_ERR(kvs_storage_open_lmdb(&cfg, &st), KVS_EIO);
    ASSERT(st == NULL);
    /* So is a version value of the wrong size. */
    r = raw_begin();
    raw_put(&r, "meta", "schema_version", 14, v99, 2);
    raw_commit(&r);
    ASSERT_ERR(kvs_storage_open_lmdb(&cfg, &st), KVS_EIO);

    /* Data without any version is refused too. */
    unsigned char v1[4] = {1, 0, 0, 0};
    r = raw_begin();
    raw_put(&r, "meta", "schema_version", 14, v1, sizeof v1);
    raw_commit(&r);
    st = open_with(0, 0);
    struct kvs_user alice;
    ts_user(st, "alice", "tok", &alice);
    kvs_storage_close(st);
    r = raw_begin();
    MDB_val k = {14, "schema_version"};
    MDB_CHECK(mdb_del(r.txn, raw_dbi(&r, "meta"), &k, NULL));
    raw_commit(&r);
    ASSERT_ERR(kvs_storage_open_lmdb(&cfg, &st), KVS_EIO);
}

TEST(storage_lmdb_corrupt_values)
{
    struct kvs_storage *st = open_with(0, 0);
    struct kvs_user alice;
    struct kvs_store s, t;
    ts_user(st, "alice", "tok", &alice);
    ASSERT_OK(ts_store(st, alice.id, "main", &s));
    ASSERT_OK(ts_store(st, alice.id, "other", &t));
    ASSERT_OK(ts_put_str(st, s.id, "short", "value"));
    ASSERT_OK(ts_put_str(st, s.id, "ctlen", "value"));
    ASSERT_OK(ts_put_str(st, s.id, "format", "value"));
    ASSERT_OK(ts_put_str(st, s.id, "fine", "value"));
    kvs_storage_close(st);

    struct raw r = raw_begin();
    unsigned char k[KVS_ID_LEN + 16];
    memcpy(k, s.id, KVS_ID_LEN);
    /* Shorter than the header. */
    memcpy(k + KVS_ID_LEN, "short", 5);
    raw_put(&r, "records", k, KVS_ID_LEN + 5, "\x01\x00", 2);
    /* A content type longer than the value holds. */
    memcpy(k + KVS_ID_LEN, "ctlen", 5);
    raw_put(&r, "records", k, KVS_ID_LEN + 5, "\x01\x00\x09text", 7);
    /* An unknown format. */
    memcpy(k + KVS_ID_LEN, "format", 6);
    raw_put(&r, "records", k, KVS_ID_LEN + 6, "\x07\x00\x00value", 8);
    /* Store T: a truncated stores row; store S keeps its row. */
    raw_put(&r, "stores", t.id, KVS_ID_LEN, "\x01\x00", 2);
    raw_commit(&r);

    st = open_with(0, 0);
    struct kvs_read *rd;
    ASSERT_OK(kvs_storage_read_begin(st, &rd));
    struct kvs_record_view rec;
    ASSERT_ERR(kvs_storage_record_get(rd, kvs_slice_of(s.id), KVS_SLICE_LIT("short"), &rec),
               KVS_EIO);
    ASSERT_ERR(kvs_storage_record_get(rd, kvs_slice_of(s.id), KVS_SLICE_LIT("ctlen"), &rec),
               KVS_EIO);
    ASSERT_ERR(kvs_storage_record_get(rd, kvs_slice_of(s.id), KVS_SLICE_LIT("format"), &rec),
               KVS_EIO);
    ASSERT_OK(kvs_storage_record_get(rd, kvs_slice_of(s.id), KVS_SLICE_LIT("fine"), &rec));
    struct ts_keys keys = {0};
    int truncated;
    ASSERT_ERR(kvs_storage_keys_list(rd, kvs_slice_of(s.id), KVS_SLICE_LIT(""), KVS_SLICE_LIT(""),
                                     10, 0, ts_keys_cb, &keys, &truncated),
               KVS_EIO);
    struct kvs_store got;
    ASSERT_ERR(kvs_storage_store_get(rd, kvs_slice_of(t.id), &got), KVS_EIO);
    ASSERT(got.schema == NULL);
    ASSERT_OK(kvs_storage_store_get(rd, kvs_slice_of(s.id), &got));
    kvs_store_clear(&got);
    uint64_t total;
    ASSERT_ERR(
        kvs_storage_store_list(rd, kvs_slice_of(alice.id), 0, 10, 0, 1, ts_no_store, NULL, &total),
        KVS_EIO);
    kvs_storage_read_end(rd);

    /* Writes that would have to read a corrupt value fail alone; the others go through. */
    ASSERT_ERR(ts_put_str(st, s.id, "short", "again"), KVS_EIO);
    ASSERT_OK(ts_put_str(st, s.id, "fine", "again"));
    ts_keys_free(&keys);
    kvs_store_clear(&s);
    kvs_store_clear(&t);
    kvs_storage_close(st);
}

static void seq_key(size_t i, char key[KVS_KEY_MAX + 1])
{
    snprintf(key, KVS_KEY_MAX + 1, "key-%07zu", i);
}

TEST(storage_lmdb_sweep_in_steps)
{
    struct kvs_storage *st = open_with(0, 0);
    struct kvs_user alice;
    struct kvs_store doomed, keep;
    ts_user(st, "alice", "tok", &alice);
    ASSERT_OK(ts_store(st, alice.id, "doomed", &doomed));
    ASSERT_OK(ts_store(st, alice.id, "keep", &keep));
    enum { N = 20000 };
    ts_bulk_put(st, doomed.id, N, seq_key, "some value of a few dozen bytes, to fill pages");
    ts_bulk_put(st, keep.id, 100, seq_key, "kept");

    /* Delete the store, and keep the writer in that write's callback so that the sweep can
     * be run here, step by step, with nothing else writing. */
    struct gate g = GATE_INIT;
    struct kvs_write del = {.op = KVS_W_STORE_DELETE};
    strcpy(del.store_id, doomed.id);
    gate_hold(st, &g, &del);
    ASSERT_OK(del.result);
    char *v;
    size_t n;
    ASSERT_ERR(ts_get(st, doomed.id, "key-0000000", &v, &n), KVS_ENOTFOUND);

    int steps = 0, rc;
    while ((rc = st->ops->maintain(st)) == 1)
        steps++;
    ASSERT_OK(rc);
    steps++;
    /* At most a few thousand deletions per transaction: 20,000 records take several. */
    ASSERT(steps >= 4);
    ASSERT_EQ(st->ops->maintain(st), 0); /* nothing left */
    gate_release(&g);

    ASSERT_OK(ts_get(st, keep.id, "key-0000099", &v, &n));
    ASSERT_MEM_EQ(v, n, "kept");
    free(v);
    kvs_storage_close(st);

    struct raw r = raw_begin();
    ASSERT_EQ(raw_entries(&r, "records"), 100);
    ASSERT_EQ(raw_entries(&r, "dead_stores"), 0);
    raw_commit(&r);
    kvs_store_clear(&doomed);
    kvs_store_clear(&keep);
}

TEST(storage_lmdb_sweep_in_background)
{
    /* The writer sweeps by itself, also after a restart that interrupted it. */
    struct kvs_storage *st = open_with(0, 0);
    struct kvs_user alice;
    struct kvs_store a, b;
    ts_user(st, "alice", "tok", &alice);
    ASSERT_OK(ts_store(st, alice.id, "a", &a));
    ASSERT_OK(ts_store(st, alice.id, "b", &b));
    ts_bulk_put(st, a.id, 12000, seq_key, "x");
    ts_bulk_put(st, b.id, 10, seq_key, "y");
    struct kvs_write del = {.op = KVS_W_STORE_DELETE};
    strcpy(del.store_id, a.id);
    ASSERT_OK(kvs_storage_write(st, &del));
    kvs_storage_close(st);

    for (int tries = 0;; tries++) {
        struct raw r = raw_begin();
        size_t left = raw_entries(&r, "records"), dead = raw_entries(&r, "dead_stores");
        raw_commit(&r);
        if (left == 10 && dead == 0)
            break;
        ASSERT(tries < 100);
        st = open_with(0, 0);
        usleep(100 * 1000);
        kvs_storage_close(st);
    }
    kvs_store_clear(&a);
    kvs_store_clear(&b);
}

TEST(storage_lmdb_large_store_paging)
{
    struct kvs_storage *st = open_with(0, 0);
    struct kvs_user alice;
    struct kvs_store s;
    ts_user(st, "alice", "tok", &alice);
    ASSERT_OK(ts_store(st, alice.id, "big", &s));
    enum { N = 200000 };
    ts_bulk_put(st, s.id, N, seq_key, "v");

    /* Every page, from the start and from cursors across the store. */
    struct ts_keys page = {0};
    char cursor[KVS_KEY_MAX + 1] = "", want[KVS_KEY_MAX + 1];
    size_t seen = 0;
    for (;;) {
        int truncated = ts_list(st, s.id, "", cursor, 1000, &page);
        for (size_t i = 0; i < page.n; i++) {
            seq_key(seen + i, want);
            ASSERT_STR_EQ(page.keys[i], want);
        }
        seen += page.n;
        if (!truncated)
            break;
        strcpy(cursor, page.keys[page.n - 1]);
    }
    ASSERT_EQ(seen, N);
    /* A prefix in the middle: key-01234xx. */
    ASSERT_EQ(ts_list(st, s.id, "key-01234", "key-0123455", 1000, &page), 0);
    ASSERT_EQ(page.n, 44);
    ASSERT_STR_EQ(page.keys[0], "key-0123456");
    ASSERT_STR_EQ(page.keys[43], "key-0123499");
    /* The last page. */
    ASSERT_EQ(ts_list(st, s.id, "", "key-0199990", 1000, &page), 0);
    ASSERT_EQ(page.n, 9);
    struct kvs_store got;
    ASSERT_OK(ts_store_get(st, s.id, &got));
    ASSERT_EQ(got.stats.record_count, N);
    ASSERT_EQ(got.stats.storage_bytes, (uint64_t)N * (11 + 1));
    kvs_store_clear(&got);

    ts_keys_free(&page);
    kvs_store_clear(&s);
    kvs_storage_close(st);
}

TEST(storage_lmdb_map_full)
{
    /* A small map: the write that does not fit fails with KVS_ENOSPACE, alone; the writes
     * batched with it still commit, and the storage goes on working. */
    struct kvs_storage *st = open_with(4u << 20, 0);
    struct kvs_user alice;
    struct kvs_store s;
    ts_user(st, "alice", "tok", &alice);
    ASSERT_OK(ts_store(st, alice.id, "main", &s));

    size_t big_n = 8u << 20;
    char *big = calloc(1, big_n);
    ASSERT(big != NULL);
    struct kvs_storage_counters before, after;
    kvs_storage_counters(st, &before);
    struct gate g = GATE_INIT;
    struct kvs_write hold = {.op = KVS_W_RECORD_PUT};
    strcpy(hold.store_id, s.id);
    hold.key = KVS_SLICE_LIT("hold");
    hold.value = KVS_SLICE_LIT("h");
    gate_hold(st, &g, &hold);

    struct kvs_write ws[3];
    memset(ws, 0, sizeof ws);
    struct ts_counter c = TS_COUNTER_INIT;
    const char *keys[3] = {"before", "big", "after"};
    for (int i = 0; i < 3; i++) {
        ws[i].op = KVS_W_RECORD_PUT;
        strcpy(ws[i].store_id, s.id);
        ws[i].key = kvs_slice_of(keys[i]);
        ws[i].value = i == 1 ? (kvs_slice){big, big_n} : KVS_SLICE_LIT("small");
        ws[i].done = ts_counter_done;
        ws[i].arg = &c;
        ASSERT_OK(kvs_storage_submit(st, &ws[i]));
    }
    gate_release(&g);
    ts_counter_wait(&c, 3);
    ASSERT_OK(ws[0].result);
    ASSERT_ERR(ws[1].result, KVS_ENOSPACE);
    ASSERT_OK(ws[2].result);
    kvs_storage_counters(st, &after);
    ASSERT_EQ(after.writes - before.writes, 3); /* "hold", "before" and "after" */

    char *v;
    size_t n;
    ASSERT_OK(ts_get(st, s.id, "after", &v, &n));
    ASSERT_MEM_EQ(v, n, "small");
    free(v);
    ASSERT_ERR(ts_get(st, s.id, "big", &v, &n), KVS_ENOTFOUND);
    ASSERT_OK(ts_put_str(st, s.id, "later", "still works"));
    struct kvs_store got;
    ASSERT_OK(ts_store_get(st, s.id, &got));
    ASSERT_EQ(got.stats.record_count, 4);
    kvs_store_clear(&got);

    free(big);
    kvs_store_clear(&s);
    kvs_storage_close(st);
}

TEST(storage_lmdb_readers_full)
{
    struct kvs_storage *st = open_with(0, 2);
    struct kvs_read *r1, *r2, *r3 = NULL;
    ASSERT_OK(kvs_storage_read_begin(st, &r1));
    ASSERT_OK(kvs_storage_read_begin(st, &r2));
    ASSERT_ERR(kvs_storage_read_begin(st, &r3), KVS_EIO);
    ASSERT(r3 == NULL);
    kvs_storage_read_end(r2);
    ASSERT_OK(kvs_storage_read_begin(st, &r3));
    kvs_storage_read_end(r3);
    kvs_storage_read_end(r1);
    kvs_storage_read_end(NULL);
    kvs_storage_close(st);
}

TEST(storage_lmdb_upgrade_from_v1)
{
    /* Version 1 had no token indexes and no shares: make such an environment from a new one
     * by emptying the new tables and setting the version back. */
    struct kvs_storage *st = open_with(0, 0);
    struct kvs_user alice;
    ts_user(st, "alice", "kvs_alice-token-0000000000000000", &alice);
    kvs_storage_close(st);
    struct raw r = raw_begin();
    unsigned char v1[4] = {1, 0, 0, 0};
    raw_put(&r, "meta", "schema_version", 14, v1, sizeof v1);
    MDB_CHECK(mdb_drop(r.txn, raw_dbi(&r, "token_prefixes"), 0));
    MDB_CHECK(mdb_drop(r.txn, raw_dbi(&r, "user_tokens"), 0));
    raw_commit(&r);

    /* It opens, upgraded (through version 2 to 3): the version says 3, the old token works and
     * is listed with an unknown prefix, and can be revoked by the whole token. */
    st = open_with(0, 0);
    kvs_storage_close(st);
    r = raw_begin();
    MDB_val k = {14, "schema_version"}, v;
    MDB_CHECK(mdb_get(r.txn, raw_dbi(&r, "meta"), &k, &v));
    ASSERT_EQ(v.mv_size, 4);
    ASSERT_EQ(((unsigned char *)v.mv_data)[0], 3);
    ASSERT_EQ(raw_entries(&r, "user_tokens"), 1);
    ASSERT_EQ(raw_entries(&r, "token_prefixes"), 1);
    raw_commit(&r);

    st = open_with(0, 0);
    struct kvs_read *rd;
    ASSERT_OK(kvs_storage_read_begin(st, &rd));
    uint8_t hash[KVS_TOKEN_HASH_LEN];
    kvs_token_hash(KVS_SLICE_LIT("kvs_alice-token-0000000000000000"), hash);
    struct kvs_user u;
    ASSERT_OK(kvs_storage_user_by_token(rd, hash, &u));
    ASSERT_STR_EQ(u.id, alice.id);
    kvs_storage_read_end(rd);

    struct kvs_write w = {.op = KVS_W_TOKEN_REVOKE};
    w.key = KVS_SLICE_LIT("kvs_alice");
    ASSERT_ERR(kvs_storage_write(st, &w), KVS_ENOTFOUND); /* its prefix is not known */
    w.key = KVS_SLICE_LIT("");
    memcpy(w.token_hash, hash, sizeof hash);
    ASSERT_OK(kvs_storage_write(st, &w));
    ASSERT_OK(kvs_storage_read_begin(st, &rd));
    ASSERT_ERR(kvs_storage_user_by_token(rd, hash, &u), KVS_ENOTFOUND);
    kvs_storage_read_end(rd);
    kvs_storage_close(st);

    r = raw_begin();
    ASSERT_EQ(raw_entries(&r, "user_tokens"), 0);
    ASSERT_EQ(raw_entries(&r, "token_prefixes"), 0);
    raw_commit(&r);
}

TEST(storage_lmdb_upgrade_from_v2)
{
    /* Version 2 had no unnamed_by_access: make such an environment from a new one by emptying
     * it and setting the version back. The upgrade indexes the unnamed stores only, at their
     * stored accessed_ms. */
    struct kvs_storage *st = open_with(0, 0);
    struct kvs_user alice;
    struct kvs_store a, b, c;
    ts_user(st, "alice", "kvs_alice-token-0000000000000000", &alice);
    ASSERT_OK(ts_store(st, alice.id, "", &a));
    ASSERT_OK(ts_store(st, alice.id, "named", &b));
    ASSERT_OK(ts_store(st, alice.id, "", &c));
    kvs_storage_close(st);
    struct raw r = raw_begin();
    ASSERT_EQ(raw_entries(&r, "unnamed_by_access"), 2);
    unsigned char v2[4] = {2, 0, 0, 0};
    raw_put(&r, "meta", "schema_version", 14, v2, sizeof v2);
    MDB_CHECK(mdb_drop(r.txn, raw_dbi(&r, "unnamed_by_access"), 0));
    raw_commit(&r);

    st = open_with(0, 0);
    kvs_storage_close(st);
    r = raw_begin();
    MDB_val k = {14, "schema_version"}, v;
    MDB_CHECK(mdb_get(r.txn, raw_dbi(&r, "meta"), &k, &v));
    ASSERT_EQ(((unsigned char *)v.mv_data)[0], 3);
    ASSERT_EQ(raw_entries(&r, "unnamed_by_access"), 2);
    raw_commit(&r);

    /* And retention works on the upgraded data: the two unnamed stores go, the named stays. */
    struct kvs_storage_config cfg = {.dir = "data", .unnamed_retention_ms = 500};
    ASSERT_OK(kvs_storage_open_lmdb(&cfg, &st));
    usleep(2200 * 1000);
    ASSERT_ERR(ts_store_get(st, a.id, &(struct kvs_store){0}), KVS_ENOTFOUND);
    ASSERT_ERR(ts_store_get(st, c.id, &(struct kvs_store){0}), KVS_ENOTFOUND);
    struct kvs_store got;
    ASSERT_OK(ts_store_get(st, b.id, &got));
    kvs_store_clear(&got);
    kvs_storage_close(st);
    r = raw_begin();
    ASSERT_EQ(raw_entries(&r, "unnamed_by_access"), 0);
    ASSERT_EQ(raw_entries(&r, "store_by_user"), 1);
    raw_commit(&r);
    kvs_store_clear(&a);
    kvs_store_clear(&b);
    kvs_store_clear(&c);
}

TEST(storage_lmdb_unnamed_index_follows_access)
{
    /* The unnamed_by_access row of a store moves with every change of its accessed_ms (a write,
     * a flushed read) and is one row per unnamed store, none for named ones. */
    struct kvs_storage *st = open_with(0, 0);
    struct kvs_user alice;
    struct kvs_store u, n;
    ts_user(st, "alice", "kvs_alice-token-0000000000000000", &alice);
    ASSERT_OK(ts_store(st, alice.id, "", &u));
    ASSERT_OK(ts_store(st, alice.id, "named", &n));
    for (int i = 0; i < 3; i++) {
        usleep(5 * 1000);
        ASSERT_OK(ts_put_str(st, u.id, "k", "v"));
        ASSERT_OK(ts_put_str(st, n.id, "k", "v"));
        usleep(5 * 1000);
        kvs_storage_note_access(st, u.id, KVS_NOTE_READ);
        ASSERT_OK(ts_del(st, n.id, "k")); /* a batch: carries the read's delta */
    }
    struct kvs_store got;
    ASSERT_OK(ts_store_get(st, u.id, &got));
    int64_t accessed = got.accessed_ms;
    kvs_store_clear(&got);
    kvs_storage_close(st);
    struct raw r = raw_begin();
    ASSERT_EQ(raw_entries(&r, "unnamed_by_access"), 1);
    MDB_cursor *cur;
    MDB_val k, v;
    MDB_CHECK(mdb_cursor_open(r.txn, raw_dbi(&r, "unnamed_by_access"), &cur));
    MDB_CHECK(mdb_cursor_get(cur, &k, &v, MDB_FIRST));
    ASSERT_EQ(k.mv_size, 8 + KVS_ID_LEN);
    ASSERT(memcmp((const char *)k.mv_data + 8, u.id, KVS_ID_LEN) == 0);
    uint64_t t = 0;
    for (int i = 0; i < 8; i++)
        t = t << 8 | ((const unsigned char *)k.mv_data)[i];
    ASSERT_EQ((int64_t)(t ^ (1ull << 63)), accessed);
    mdb_cursor_close(cur);
    raw_commit(&r);
    kvs_store_clear(&u);
    kvs_store_clear(&n);
}

TEST(storage_lmdb_backup)
{
    /* kvs_storage_backup: a copy of the moment of the call (later writes are not in it), that
     * opens as a storage of its own; a directory that holds a data file already is refused. */
    struct kvs_storage *st = open_with(0, 0);
    struct kvs_user alice;
    struct kvs_store s;
    ts_user(st, "alice", "kvs_alice-token-0000000000000000", &alice);
    ASSERT_OK(ts_store(st, alice.id, "", &s));
    ASSERT_OK(ts_put_str(st, s.id, "a", "before"));
    ASSERT(mkdir("copy", 0700) == 0);
    ASSERT_OK(kvs_storage_backup(st, "copy"));
    ASSERT_ERR(kvs_storage_backup(st, "copy"), KVS_EEXIST);
    ASSERT_OK(ts_put_str(st, s.id, "b", "after"));
    kvs_storage_close(st);

    struct kvs_storage_config cfg = {.dir = "copy"};
    ASSERT_OK(kvs_storage_open_lmdb(&cfg, &st));
    char *v = NULL;
    size_t n = 0;
    ASSERT_OK(ts_get(st, s.id, "a", &v, &n));
    ASSERT_STR_EQ(v, "before");
    free(v);
    ASSERT_ERR(ts_get(st, s.id, "b", &v, &n), KVS_ENOTFOUND);
    struct kvs_store got;
    ASSERT_OK(ts_store_get(st, s.id, &got)); /* the unnamed index came along */
    kvs_store_clear(&got);
    kvs_storage_close(st);
    struct raw r = raw_begin(); /* ./data: unchanged by the copy */
    ASSERT_EQ(raw_entries(&r, "records"), 2);
    raw_commit(&r);
    kvs_store_clear(&s);
}
