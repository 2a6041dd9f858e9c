/* test_lmdb.c — checks particular to the LMDB back-end (storage/lmdb_*.c), beyond the
 * conformance suite: the schema version, corrupt values, the sweep of deleted stores in
 * bounded steps, large stores, a full map, the reader limit.
 *
 * These tests know the layout documented at the top of storage/lmdb_internal.h and poke at the
 * environment directly with liblmdb while the storage is closed. */
#include <dirent.h>
#include <lmdb.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../test.h"
#include "common/clock.h"
#include "helpers.h"
#include "storage/lmdb_internal.h" /* SCHEMA_VERSION */
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
    MDB_CHECK(mdb_env_set_maxdbs(r.env, 32));
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
    struct ts_gate g = TS_GATE_INIT;
    struct kvs_write del = {.op = KVS_W_STORE_DELETE};
    strcpy(del.store_id, doomed.id);
    ts_gate_hold(st, &g, &del);
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
    ts_gate_release(&g);

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
    struct ts_gate g = TS_GATE_INIT;
    struct kvs_write hold = {.op = KVS_W_RECORD_PUT};
    strcpy(hold.store_id, s.id);
    hold.key = KVS_SLICE_LIT("hold");
    hold.value = KVS_SLICE_LIT("h");
    ts_gate_hold(st, &g, &hold);

    struct kvs_write ws[3];
    memset(ws, 0, sizeof ws);
    const char *keys[3] = {"before", "big", "after"};
    for (int i = 0; i < 3; i++) {
        ws[i].op = KVS_W_RECORD_PUT;
        strcpy(ws[i].store_id, s.id);
        ws[i].key = kvs_slice_of(keys[i]);
        ws[i].value = i == 1 ? (kvs_slice){big, big_n} : KVS_SLICE_LIT("small");
    }
    ts_submit_together(st, &g, ws, 3);
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

    /* It opens, upgraded (through versions 2, 3 and 4 to 5): the version says 5, the old token works
     * and is listed with an unknown prefix, and can be revoked by the whole token. */
    st = open_with(0, 0);
    kvs_storage_close(st);
    r = raw_begin();
    MDB_val k = {14, "schema_version"}, v;
    MDB_CHECK(mdb_get(r.txn, raw_dbi(&r, "meta"), &k, &v));
    ASSERT_EQ(v.mv_size, 4);
    ASSERT_EQ(((unsigned char *)v.mv_data)[0], SCHEMA_VERSION);
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
    ASSERT_EQ(((unsigned char *)v.mv_data)[0], SCHEMA_VERSION);
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

/* Rewrite every store_stats row of ./data in format 1 (schema version 3): 65 bytes, without
 * the last version. */
static void raw_stats_to_v3(struct raw *r)
{
    MDB_cursor *cur;
    MDB_val k, v;
    MDB_CHECK(mdb_cursor_open(r->txn, raw_dbi(r, "store_stats"), &cur));
    for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        ASSERT_EQ(v.mv_size, 73);
        ASSERT_EQ(k.mv_size, KVS_ID_LEN);
        unsigned char row[65], id[KVS_ID_LEN]; /* copies: the put moves what K and V point to */
        memcpy(row, v.mv_data, sizeof row);
        memcpy(id, k.mv_data, sizeof id);
        row[0] = 1;
        MDB_val nk = {sizeof id, id}, nv = {sizeof row, row};
        MDB_CHECK(mdb_cursor_put(cur, &nk, &nv, MDB_CURRENT));
    }
    mdb_cursor_close(cur);
}

/* A format 1 record value (schema version 3) of CT and VALUE (N bytes) with encoding ENC. */
static void raw_record_v3(struct raw *r, const char *store_id, const char *key, int enc,
                          const char *ct, const void *value, size_t n)
{
    size_t kn = strlen(key), cn = strlen(ct);
    unsigned char *row = malloc(3 + cn + n);
    char k[KVS_ID_LEN + KVS_KEY_MAX];
    ASSERT(row != NULL);
    row[0] = 1;
    row[1] = (unsigned char)enc;
    row[2] = (unsigned char)cn;
    memcpy(row + 3, ct, cn);
    memcpy(row + 3 + cn, value, n);
    memcpy(k, store_id, KVS_ID_LEN);
    memcpy(k + KVS_ID_LEN, key, kn);
    raw_put(r, "records", k, KVS_ID_LEN + kn, row, 3 + cn + n);
    free(row);
}

TEST(storage_lmdb_upgrade_from_v3)
{
    /* Version 3 stored records without version and time, store stats without last version.
     * Made from a new environment: stores created by the storage, then their rows rewritten
     * in the old formats and records added in the old format, more than one upgrade step's
     * worth (2,000 rows), one of them 3 MiB. */
    enum { MANY = 4500 };
    struct kvs_storage *st = open_with(0, 0);
    struct kvs_user alice;
    struct kvs_store a, b, empty;
    ts_user(st, "alice", "kvs_alice-token-0000000000000000", &alice);
    ASSERT_OK(ts_store(st, alice.id, "a", &a));
    ASSERT_OK(ts_store(st, alice.id, "b", &b));
    ASSERT_OK(ts_store(st, alice.id, "", &empty));
    kvs_storage_close(st);
    static char big[3 << 20];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)(i * 7 + 1);

    struct raw r = raw_begin();
    unsigned char v3[4] = {3, 0, 0, 0};
    raw_put(&r, "meta", "schema_version", 14, v3, sizeof v3);
    raw_stats_to_v3(&r);
    for (int i = 0; i < MANY; i++) {
        char key[16], val[16];
        snprintf(key, sizeof key, "k%05d", i);
        snprintf(val, sizeof val, "value %d", i);
        raw_record_v3(&r, a.id, key, 0, "text/plain", val, strlen(val));
    }
    raw_record_v3(&r, b.id, "big", 1, "application/octet-stream", big, sizeof big);
    raw_record_v3(&r, b.id, "typed", 3, "", "", 0);
    raw_commit(&r);

    /* It opens, upgraded: version 5; every record reads as before, with its own version
     * (distinct, from the upgrade's start on) and its store's modification time. */
    int64_t before = kvs_now_ms();
    st = open_with(0, 0);
    struct kvs_read *rd;
    ASSERT_OK(kvs_storage_read_begin(st, &rd));
    struct kvs_store sa;
    ASSERT_OK(kvs_storage_store_get(rd, kvs_slice_of(a.id), &sa));
    uint64_t *versions = calloc(MANY, sizeof *versions);
    ASSERT(versions != NULL);
    for (int i = 0; i < MANY; i++) {
        char key[16], val[16];
        snprintf(key, sizeof key, "k%05d", i);
        snprintf(val, sizeof val, "value %d", i);
        struct kvs_record_view rec;
        ASSERT_OK(kvs_storage_record_get(rd, kvs_slice_of(a.id), kvs_slice_of(key), &rec));
        ASSERT_MEM_EQ(rec.value.p, rec.value.n, val);
        ASSERT_MEM_EQ(rec.content_type.p, rec.content_type.n, "text/plain");
        ASSERT_EQ(rec.encoding, KVS_ENC_IDENTITY);
        ASSERT_EQ(rec.modified_ms, sa.modified_ms);
        ASSERT(rec.version >= (uint64_t)before * 1000);
        versions[i] = rec.version;
        ASSERT(i == 0 || versions[i] > versions[i - 1]); /* given in key order */
    }
    struct kvs_record_view rec;
    ASSERT_OK(kvs_storage_record_get(rd, kvs_slice_of(b.id), KVS_SLICE_LIT("big"), &rec));
    ASSERT_EQ(rec.value.n, sizeof big);
    ASSERT(memcmp(rec.value.p, big, sizeof big) == 0);
    ASSERT_EQ(rec.encoding, KVS_ENC_GZIP);
    ASSERT_OK(kvs_storage_record_get(rd, kvs_slice_of(b.id), KVS_SLICE_LIT("typed"), &rec));
    ASSERT_EQ(rec.value.n, 0);
    ASSERT_EQ(rec.content_type.n, 0);
    ASSERT_EQ(rec.encoding, KVS_ENC_BR);
    uint64_t highest = rec.version;
    kvs_store_clear(&sa);
    kvs_storage_read_end(rd);

    /* New writes, in any store, get greater versions than any the upgrade gave; stores work
     * as before (the empty one too). */
    ASSERT_OK(ts_put_str(st, a.id, "k00000", "new"));
    ASSERT_OK(ts_put_str(st, empty.id, "first", "x"));
    uint64_t v;
    ASSERT_OK(kvs_storage_read_begin(st, &rd));
    ASSERT_OK(kvs_storage_record_get(rd, kvs_slice_of(a.id), KVS_SLICE_LIT("k00000"), &rec));
    v = rec.version;
    ASSERT(v > highest && v > versions[MANY - 1]);
    ASSERT_OK(kvs_storage_record_get(rd, kvs_slice_of(empty.id), KVS_SLICE_LIT("first"), &rec));
    ASSERT(rec.version > highest);
    kvs_storage_read_end(rd);
    kvs_storage_close(st);

    r = raw_begin();
    MDB_val k = {14, "schema_version"}, val;
    MDB_CHECK(mdb_get(r.txn, raw_dbi(&r, "meta"), &k, &val));
    ASSERT_EQ(((unsigned char *)val.mv_data)[0], SCHEMA_VERSION);
    raw_commit(&r);
    free(versions);
    kvs_store_clear(&a);
    kvs_store_clear(&b);
    kvs_store_clear(&empty);
}

TEST(storage_lmdb_upgrade_from_v3_resumes)
{
    /* An upgrade cut short left the first records (in key order) in the new format, with
     * versions that may be ahead of the clock: the next open leaves them and gives the rest
     * greater ones, so that no version repeats. A corrupt old record stops the open. */
    struct kvs_storage *st = open_with(0, 0);
    struct kvs_user alice;
    struct kvs_store a;
    ts_user(st, "alice", "kvs_alice-token-0000000000000000", &alice);
    ASSERT_OK(ts_store(st, alice.id, "a", &a));
    ASSERT_OK(ts_put_str(st, a.id, "a-done", "upgraded before"));
    kvs_storage_close(st);

    struct raw r = raw_begin();
    /* move a-done's version far ahead, as a clock that was ahead would have */
    char key[KVS_ID_LEN + 8];
    memcpy(key, a.id, KVS_ID_LEN);
    memcpy(key + KVS_ID_LEN, "a-done", 6);
    MDB_val k = {KVS_ID_LEN + 6, key}, v;
    MDB_CHECK(mdb_get(r.txn, raw_dbi(&r, "records"), &k, &v));
    unsigned char row[64];
    ASSERT(v.mv_size <= sizeof row);
    memcpy(row, v.mv_data, v.mv_size);
    uint64_t ahead = ((uint64_t)kvs_now_ms() + 3600000) * 1000;
    for (int i = 0; i < 8; i++)
        row[3 + i] = (unsigned char)(ahead >> (8 * i));
    raw_put(&r, "records", key, k.mv_size, row, v.mv_size);
    unsigned char v3[4] = {3, 0, 0, 0};
    raw_put(&r, "meta", "schema_version", 14, v3, sizeof v3);
    raw_stats_to_v3(&r);
    raw_record_v3(&r, a.id, "b-old", 0, "text/plain", "old", 3);
    raw_record_v3(&r, a.id, "c-old", 0, "text/plain", "older", 5);
    raw_commit(&r);

    st = open_with(0, 0);
    struct kvs_read *rd;
    struct kvs_record_view rec;
    ASSERT_OK(kvs_storage_read_begin(st, &rd));
    ASSERT_OK(kvs_storage_record_get(rd, kvs_slice_of(a.id), KVS_SLICE_LIT("a-done"), &rec));
    ASSERT_EQ(rec.version, ahead);
    ASSERT_OK(kvs_storage_record_get(rd, kvs_slice_of(a.id), KVS_SLICE_LIT("b-old"), &rec));
    ASSERT_EQ(rec.version, ahead + 1);
    ASSERT_OK(kvs_storage_record_get(rd, kvs_slice_of(a.id), KVS_SLICE_LIT("c-old"), &rec));
    ASSERT_EQ(rec.version, ahead + 2);
    kvs_storage_read_end(rd);
    struct kvs_write w = {.op = KVS_W_RECORD_PUT};
    strcpy(w.store_id, a.id);
    w.key = KVS_SLICE_LIT("d-new");
    w.value = KVS_SLICE_LIT("new");
    ASSERT_OK(kvs_storage_write(st, &w));
    ASSERT_EQ(w.version, ahead + 3); /* the store's last version, not the clock, decides */
    kvs_storage_close(st);

    /* a corrupt old record (content type longer than the value) refuses to open */
    r = raw_begin();
    raw_put(&r, "meta", "schema_version", 14, v3, sizeof v3);
    unsigned char bad[3] = {1, 0, 200};
    memcpy(key + KVS_ID_LEN, "e-bad", 5);
    raw_put(&r, "records", key, KVS_ID_LEN + 5, bad, sizeof bad);
    raw_commit(&r);
    struct kvs_storage_config cfg = {.dir = "data"};
    ASSERT_ERR(kvs_storage_open_lmdb(&cfg, &st), KVS_EIO);
    kvs_store_clear(&a);
}

TEST(storage_lmdb_upgrade_from_v4)
{
    /* Version 4 had no runs: its data opens as the current version, with the four tables of runs made
     * empty, and keeps everything it held; runs then work. A data directory of a version newer
     * than this build is refused. */
    struct kvs_storage *st = open_with(0, 0);
    struct kvs_user alice;
    struct kvs_store a;
    ts_user(st, "alice", "kvs_alice-token-0000000000000000", &alice);
    ASSERT_OK(ts_store(st, alice.id, "a", &a));
    ASSERT_OK(ts_put_str(st, a.id, "k", "v"));
    kvs_storage_close(st);
    struct raw r = raw_begin();
    unsigned char v4[4] = {4, 0, 0, 0};
    raw_put(&r, "meta", "schema_version", 14, v4, sizeof v4);
    const char *tables[] = {"runs", "runs_by_user", "runs_by_actor", "runs_by_store"};
    for (int i = 0; i < 4; i++)
        MDB_CHECK(mdb_drop(r.txn, raw_dbi(&r, tables[i]), 1)); /* the tables themselves */
    raw_commit(&r);

    st = open_with(0, 0);
    char *v = NULL;
    size_t n = 0;
    ASSERT_OK(ts_get(st, a.id, "k", &v, &n));
    ASSERT_STR_EQ(v, "v");
    free(v);
    struct kvs_run run = {0};
    struct kvs_write w = {.op = KVS_W_RUN_CREATE, .run = &run};
    strcpy(w.store.user_id, alice.id);
    strcpy(run.user_id, alice.id);
    strcpy(run.act_id, "ActAAAAAAAAAAAAAA");
    strcpy(run.actor, "a");
    strcpy(run.origin, "CLI");
    ASSERT_OK(kvs_storage_write(st, &w));
    kvs_store_clear(&w.store);
    kvs_storage_close(st);
    r = raw_begin();
    MDB_val k = {14, "schema_version"}, val;
    MDB_CHECK(mdb_get(r.txn, raw_dbi(&r, "meta"), &k, &val));
    ASSERT_EQ(((unsigned char *)val.mv_data)[0], SCHEMA_VERSION);
    ASSERT_EQ(raw_entries(&r, "runs"), 1);
    ASSERT_EQ(raw_entries(&r, "runs_by_user"), 1);
    ASSERT_EQ(raw_entries(&r, "runs_by_actor"), 1);
    ASSERT_EQ(raw_entries(&r, "runs_by_store"), 1);
    unsigned char newer[4] = {SCHEMA_VERSION + 1, 0, 0, 0};
    raw_put(&r, "meta", "schema_version", 14, newer, sizeof newer);
    raw_commit(&r);
    struct kvs_storage_config cfg = {.dir = "data"};
    ASSERT_ERR(kvs_storage_open_lmdb(&cfg, &st), KVS_EIO);
    kvs_run_clear(&run);
    kvs_store_clear(&a);
}

/* Version 5 data (every tokens row the bare user ID) opens as the current version in one step,
 * its tokens without limits; a row of a later format is refused as damaged, not misread. */
TEST(storage_lmdb_upgrade_from_v5)
{
    struct kvs_storage *st = open_with(0, 0);
    struct kvs_user alice;
    ts_user(st, "alice", "kvs_alice-token-0000000000000000", &alice);
    kvs_storage_close(st);
    struct raw r = raw_begin();
    unsigned char v5[4] = {5, 0, 0, 0};
    raw_put(&r, "meta", "schema_version", 14, v5, sizeof v5);
    raw_commit(&r);

    st = open_with(0, 0);
    struct kvs_read *rd;
    ASSERT_OK(kvs_storage_read_begin(st, &rd));
    ts_token_unlimited(rd, "kvs_alice-token-0000000000000000", alice.id);
    kvs_storage_read_end(rd);
    kvs_storage_close(st);
    r = raw_begin();
    MDB_val k = {14, "schema_version"}, v;
    MDB_CHECK(mdb_get(r.txn, raw_dbi(&r, "meta"), &k, &v));
    ASSERT_EQ(((unsigned char *)v.mv_data)[0], SCHEMA_VERSION);
    /* a tokens row that is not one of ours */
    uint8_t hash[KVS_TOKEN_HASH_LEN];
    kvs_token_hash(KVS_SLICE_LIT("kvs_alice-token-0000000000000000"), hash);
    unsigned char bad[KVS_ID_LEN + 2];
    memcpy(bad, alice.id, KVS_ID_LEN);
    bad[KVS_ID_LEN] = 9; /* format */
    bad[KVS_ID_LEN + 1] = 0;
    raw_put(&r, "tokens", hash, sizeof hash, bad, sizeof bad);
    raw_commit(&r);
    st = open_with(0, 0);
    ASSERT_OK(kvs_storage_read_begin(st, &rd));
    static struct kvs_token_grant g;
    struct kvs_user u;
    ASSERT_ERR(kvs_storage_token_get(rd, hash, &u, &g), KVS_EIO);
    kvs_storage_read_end(rd);
    kvs_storage_close(st);
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

/* The meta epoch of a read of its own. */
static uint64_t epoch_now(struct kvs_storage *st)
{
    struct kvs_read *rd;
    ASSERT_OK(kvs_storage_read_begin(st, &rd));
    uint64_t e = kvs_storage_meta_epoch(rd);
    kvs_storage_read_end(rd);
    return e;
}

/* Apply W (its result must be WANT) and check that the meta epoch then changed or not. */
static uint64_t write_and_epoch(struct kvs_storage *st, struct kvs_write *w, int want,
                                uint64_t before, int changes)
{
    ASSERT_EQ(kvs_storage_write(st, w), want);
    uint64_t after = epoch_now(st);
    ASSERT_NE(after, 0);
    if (changes)
        ASSERT_NE(after, before);
    else
        ASSERT_EQ(after, before);
    return after;
}

TEST(storage_lmdb_meta_epoch)
{
    /* kvs_storage_meta_epoch (lmdb_internal.h, "Meta epoch"): known between commits, the same
     * across record writes, flushed read statistics and writes that fail, new after every
     * change of users, tokens, stores or shares; a read begun before a commit no longer
     * knows its epoch. */
    struct kvs_storage *st = open_with(0, 0);
    uint64_t e = epoch_now(st);
    ASSERT_NE(e, 0);
    struct kvs_user alice, bob;
    ts_user(st, "alice", "kvs_alice-token-0000000000000000", &alice);
    ASSERT_NE(epoch_now(st), e);
    ts_user(st, "bob", "kvs_bob-token-00000000000000000000", &bob);
    e = epoch_now(st);
    struct kvs_store s;
    ASSERT_OK(ts_store(st, alice.id, "s", &s));
    ASSERT_NE(epoch_now(st), e);
    e = epoch_now(st);

    struct kvs_read *old;
    ASSERT_OK(kvs_storage_read_begin(st, &old));
    ASSERT_EQ(kvs_storage_meta_epoch(old), e);

    /* records and statistics are no meta */
    ASSERT_OK(ts_put_str(st, s.id, "k", "v"));
    ASSERT_EQ(epoch_now(st), e);
    ASSERT_EQ(kvs_storage_meta_epoch(old), 0); /* its snapshot is not the last commit */
    kvs_storage_read_end(old);
    kvs_storage_note_access(st, s.id, KVS_NOTE_READ);
    ASSERT_OK(ts_del(st, s.id, "k")); /* carries the read's delta */
    ASSERT_EQ(epoch_now(st), e);

    struct kvs_write w = {.op = KVS_W_STORE_CREATE}; /* the name exists: nothing changes */
    memcpy(w.store.user_id, alice.id, sizeof w.store.user_id);
    snprintf(w.store.name, sizeof w.store.name, "s");
    e = write_and_epoch(st, &w, KVS_EEXIST, e, 0);
    kvs_store_clear(&w.store);

    w = (struct kvs_write){.op = KVS_W_STORE_UPDATE, .update_mask = KVS_UPD_ACCESS};
    memcpy(w.store_id, s.id, sizeof w.store_id);
    w.store.general_access = KVS_GA_ANYONE_WITH_ID_CAN_READ;
    e = write_and_epoch(st, &w, 0, e, 1);
    kvs_store_clear(&w.store);

    w = (struct kvs_write){.op = KVS_W_USER_UPDATE, .user = alice};
    w.user.default_access = KVS_GA_ANYONE_WITH_NAME_CAN_READ;
    e = write_and_epoch(st, &w, 0, e, 1);

    w = (struct kvs_write){.op = KVS_W_TOKEN_ADD, .user = alice};
    kvs_token_hash(kvs_slice_of("kvs_alice-second-000000000000000"), w.token_hash);
    e = write_and_epoch(st, &w, 0, e, 1);

    w = (struct kvs_write){.op = KVS_W_TOKEN_REVOKE};
    kvs_token_hash(kvs_slice_of("kvs_alice-second-000000000000000"), w.token_hash);
    e = write_and_epoch(st, &w, 0, e, 1);

    w = (struct kvs_write){.op = KVS_W_SHARE_SET, .user = bob, .share_level = KVS_SHARE_READ};
    memcpy(w.store_id, s.id, sizeof w.store_id);
    e = write_and_epoch(st, &w, 0, e, 1);

    w = (struct kvs_write){.op = KVS_W_SHARE_DELETE, .user = bob};
    memcpy(w.store_id, s.id, sizeof w.store_id);
    e = write_and_epoch(st, &w, 0, e, 1);

    w = (struct kvs_write){.op = KVS_W_STORE_DELETE};
    memcpy(w.store_id, s.id, sizeof w.store_id);
    e = write_and_epoch(st, &w, 0, e, 1);

    kvs_storage_close(st);
    kvs_store_clear(&s);
}

TEST(storage_lmdb_meta_epoch_other_process)
{
    /* A commit of another process on the same environment, whatever it changed: until this
     * storage commits again its reads have epoch 0, and from then on a new epoch. */
    struct kvs_storage *st = open_with(0, 0);
    struct kvs_user alice;
    struct kvs_store s;
    ts_user(st, "alice", "kvs_alice-token-0000000000000000", &alice);
    ASSERT_OK(ts_store(st, alice.id, "s", &s));
    uint64_t e = epoch_now(st);
    ASSERT_NE(e, 0);
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) { /* the other process: one commit of its own */
        struct raw r = raw_begin();
        raw_put(&r, "meta", "other", 5, "1", 1);
        raw_commit(&r);
        _exit(0);
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ASSERT_EQ(epoch_now(st), 0);
    ASSERT_OK(ts_put_str(st, s.id, "k", "v")); /* a record write: this storage's next commit */
    uint64_t after = epoch_now(st);
    ASSERT_NE(after, 0);
    ASSERT_NE(after, e);
    kvs_storage_close(st);
    kvs_store_clear(&s);
}

/* ---- large records: blob files ------------------------------------------------------------- */

/* The blob files under ./data/blobs, their names (HH/ID) into NAMES (up to MAX). Returns how
 * many there are. */
static size_t blob_files(char names[][40], size_t max)
{
    size_t n = 0;
    DIR *top = opendir("data/blobs");
    ASSERT(top != NULL);
    struct dirent *d;
    while ((d = readdir(top)) != NULL) {
        if (d->d_name[0] == '.')
            continue;
        char sub[300];
        snprintf(sub, sizeof sub, "data/blobs/%.2s", d->d_name);
        DIR *dd = opendir(sub);
        ASSERT(dd != NULL);
        struct dirent *f;
        while ((f = readdir(dd)) != NULL) {
            if (f->d_name[0] == '.')
                continue;
            if (n < max)
                snprintf(names[n], 40, "%.2s/%.32s", d->d_name, f->d_name);
            n++;
        }
        closedir(dd);
    }
    closedir(top);
    return n;
}

static char *pattern(size_t n, unsigned seed)
{
    char *p = malloc(n);
    ASSERT(p != NULL);
    for (size_t i = 0; i < n; i++)
        p[i] = (char)(i * seed + (i >> 10));
    return p;
}

/* A blob file per record held apart, made and removed with its record: an overwrite or a
 * delete removes the old one once committed; a failed write, or an upload dropped, leaves
 * none; a store deleted has its files removed by the sweep; a value opened from a read that
 * a later overwrite outdated is KVS_ESTALE. */
TEST(storage_lmdb_blob_files)
{
    struct kvs_storage *st = open_with(0, 0);
    struct kvs_user alice;
    struct kvs_store s, doomed;
    ts_user(st, "alice", "tok", &alice);
    ASSERT_OK(ts_store(st, alice.id, "main", &s));
    ASSERT_OK(ts_store(st, alice.id, "doomed", &doomed));
    size_t n = 2 * 1024 * 1024;
    char *a = pattern(n, 7), *b = pattern(n, 11);
    char names[4][40], again[4][40];

    ASSERT_OK(ts_put_upload(st, s.id, "k", a, n, 1 << 20, NULL));
    ASSERT_EQ(blob_files(names, 4), 1);
    struct kvs_read *old;
    ASSERT_OK(kvs_storage_read_begin(st, &old)); /* sees A's blob */
    struct kvs_record_view rec;
    ASSERT_OK(kvs_storage_record_get(old, kvs_slice_of(s.id), KVS_SLICE_LIT("k"), &rec));

    ASSERT_OK(ts_put_upload(st, s.id, "k", b, n, n, NULL)); /* overwrite: A's file goes */
    ASSERT_EQ(blob_files(again, 4), 1);
    ASSERT(strcmp(names[0], again[0]) != 0);
    struct kvs_value *v;
    ASSERT_ERR(kvs_storage_value_open(old, &rec, &v), KVS_ESTALE);
    kvs_storage_read_end(old);

    struct kvs_precond pre = {0};
    kvs_precond_add(&pre, KVS_H_IF_NONE_MATCH, KVS_SLICE_LIT("*"), 0);
    ASSERT_ERR(ts_put_upload(st, s.id, "k", a, n, n, &pre), KVS_EPRECOND);
    ASSERT_EQ(blob_files(names, 4), 1); /* the refused upload is gone */
    ASSERT(strcmp(names[0], again[0]) == 0);

    struct kvs_upload *u;
    ASSERT_OK(kvs_storage_upload_begin(st, n, &u));
    ASSERT_OK(kvs_upload_append(u, a, n));
    ASSERT_EQ(blob_files(names, 4), 2);
    kvs_upload_abort(u);
    ASSERT_EQ(blob_files(names, 4), 1);

    ASSERT_OK(ts_del(st, s.id, "k"));
    ASSERT_EQ(blob_files(names, 4), 0);

    /* a deleted store's files go with the sweep of its records */
    ASSERT_OK(ts_put_upload(st, doomed.id, "x", a, n, n, NULL));
    ASSERT_OK(ts_put_upload(st, doomed.id, "y", b, n, n, NULL));
    ASSERT_OK(ts_put_upload(st, s.id, "kept", a, n, n, NULL));
    ASSERT_EQ(blob_files(names, 4), 3);
    struct kvs_write del = {.op = KVS_W_STORE_DELETE};
    strcpy(del.store_id, doomed.id);
    ASSERT_OK(kvs_storage_write(st, &del));
    for (int tries = 0; blob_files(names, 4) != 1; tries++) {
        ASSERT(tries < 500); /* the writer sweeps while idle */
        usleep(10000);
    }
    char *back;
    size_t back_n;
    ASSERT_OK(ts_get(st, s.id, "kept", &back, &back_n));
    ASSERT(back_n == n && memcmp(back, a, n) == 0);
    free(back);
    free(a);
    free(b);
    kvs_store_clear(&s);
    kvs_store_clear(&doomed);
    kvs_storage_close(st);
}

/* Blob files no committed row references (an upload cut off by a crash) are removed when the
 * storage opens, alone; referenced ones stay. While another process has it open, none is
 * removed (its uploads may be in progress). */
TEST(storage_lmdb_blob_orphans_swept_at_open)
{
    struct kvs_storage *st = open_with(0, 0);
    struct kvs_user alice;
    struct kvs_store s;
    ts_user(st, "alice", "tok", &alice);
    ASSERT_OK(ts_store(st, alice.id, "main", &s));
    size_t n = 1536 * 1024;
    char *a = pattern(n, 5);
    ASSERT_OK(ts_put_upload(st, s.id, "kept", a, n, n, NULL));
    /* an upload in progress, as a crash would leave it */
    struct kvs_upload *u;
    ASSERT_OK(kvs_storage_upload_begin(st, 0, &u));
    ASSERT_OK(kvs_upload_append(u, a, 1000));
    char names[4][40];
    ASSERT_EQ(blob_files(names, 4), 2);

    /* another process opening meanwhile removes nothing */
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        struct kvs_storage_config cfg = {.dir = "data"};
        struct kvs_storage *other = NULL;
        _exit(kvs_storage_open_lmdb(&cfg, &other) == 0 && blob_files(names, 4) == 2 ? 0 : 1);
    }
    int status;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ASSERT_EQ(blob_files(names, 4), 2);

    /* "crash": the upload's file stays behind; the next open alone removes it */
    free(u); /* what a crash would do: its file neither kept nor removed */
    kvs_storage_close(st);
    ASSERT_EQ(blob_files(names, 4), 2);
    st = open_with(0, 0);
    ASSERT_EQ(blob_files(names, 4), 1);
    char *back;
    size_t back_n;
    ASSERT_OK(ts_get(st, s.id, "kept", &back, &back_n));
    ASSERT(back_n == n && memcmp(back, a, n) == 0);
    free(back);
    kvs_store_clear(&s);
    kvs_storage_close(st);
    free(a);
}

/* Versions 5 and 6 (no blobs table) open as the current version, their records unchanged,
 * large ones then work. */
TEST(storage_lmdb_upgrade_to_blobs)
{
    for (unsigned char from = 5; from <= 6; from++) {
        ASSERT_EQ(system("rm -rf data"), 0);
        struct kvs_storage *st = open_with(0, 0);
        struct kvs_user alice;
        struct kvs_store s;
        ts_user(st, "alice", "tok", &alice);
        ASSERT_OK(ts_store(st, alice.id, "main", &s));
        ASSERT_OK(ts_put_str(st, s.id, "k", "old value"));
        kvs_storage_close(st);
        struct raw r = raw_begin();
        const unsigned char old[4] = {from, 0, 0, 0};
        raw_put(&r, "meta", "schema_version", 14, old, sizeof old);
        MDB_CHECK(mdb_drop(r.txn, raw_dbi(&r, "blobs"), 1)); /* the table itself */
        raw_commit(&r);

        st = open_with(0, 0);
        char *v;
        size_t n;
        ASSERT_OK(ts_get(st, s.id, "k", &v, &n));
        ASSERT_MEM_EQ(v, n, "old value");
        free(v);
        char *big = calloc(1, 2 << 20);
        ASSERT(big != NULL);
        ASSERT_OK(ts_put_upload(st, s.id, "big", big, 2 << 20, 1 << 20, NULL));
        free(big);
        kvs_store_clear(&s);
        kvs_storage_close(st);
        r = raw_begin();
        MDB_val k = {14, "schema_version"}, val;
        MDB_CHECK(mdb_get(r.txn, raw_dbi(&r, "meta"), &k, &val));
        ASSERT_EQ(((unsigned char *)val.mv_data)[0], SCHEMA_VERSION);
        ASSERT_EQ(raw_entries(&r, "blobs"), 1);
        raw_commit(&r);
    }
}
