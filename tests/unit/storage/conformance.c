/* conformance.c — the behaviour every storage back-end must show (storage.h).
 *
 * Written against storage.h only, so that each back-end runs the same suite: storage_open()
 * below is the one place that picks the back-end (ts_open_cfg: LMDB, or PostgreSQL with
 * $KVS_TEST_BACKEND=pg). Every test runs in its own process in a fresh temporary directory
 * (see runner.c), and keeps its data in ./data, or in a PostgreSQL schema of its own. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../test.h"
#include "common/clock.h"
#include "common/httpdate.h"
#include "helpers.h"
#include "storage/storage.h"

/* Open the storage under test, creating it when missing. */
static struct kvs_storage *storage_open(void)
{
    struct kvs_storage_config cfg = {0};
    return ts_open_cfg(&cfg);
}

/* A user "alice" (token "tok-alice") and her store "main". */
static void setup(struct kvs_storage *st, struct kvs_user *user, struct kvs_store *store)
{
    ts_user(st, "alice", "tok-alice", user);
    ASSERT_OK(ts_store(st, user->id, "main", store));
}

static int is_alnum_string(const char *s, size_t n)
{
    if (strlen(s) != n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
            return 0;
    }
    return 1;
}

/* ==== users ================================================================================= */

TEST(storage_users)
{
    struct kvs_storage *st = storage_open();
    ASSERT_STR_EQ(kvs_storage_name(st), ts_backend_pg() ? "postgres" : "lmdb");

    struct kvs_write w = {.op = KVS_W_USER_CREATE};
    strcpy(w.user.username, "alice");
    w.user.is_admin = 1;
    w.user.default_access = KVS_GA_ANYONE_WITH_ID_CAN_READ;
    kvs_token_hash(KVS_SLICE_LIT("tok-alice"), w.token_hash);
    ASSERT_OK(kvs_storage_write(st, &w));
    struct kvs_user alice = w.user;
    ASSERT(is_alnum_string(alice.id, KVS_ID_LEN));
    ASSERT(alice.created_ms > 0);

    struct kvs_user bob;
    ts_user(st, "bob", "tok-bob", &bob);
    ASSERT(strcmp(alice.id, bob.id) != 0);

    /* The username is unique. */
    struct kvs_write dup = {.op = KVS_W_USER_CREATE};
    strcpy(dup.user.username, "alice");
    dup.user.default_access = KVS_GA_RESTRICTED;
    kvs_token_hash(KVS_SLICE_LIT("tok-other"), dup.token_hash);
    ASSERT_ERR(kvs_storage_write(st, &dup), KVS_EEXIST);

    struct kvs_read *rd;
    ASSERT_OK(kvs_storage_read_begin(st, &rd));
    uint64_t count = 0;
    ASSERT_OK(kvs_storage_user_count(rd, &count));
    ASSERT_EQ(count, 2);

    struct kvs_user u;
    uint8_t hash[KVS_TOKEN_HASH_LEN];
    kvs_token_hash(KVS_SLICE_LIT("tok-alice"), hash);
    ASSERT_OK(kvs_storage_user_by_token(rd, hash, &u));
    ASSERT_STR_EQ(u.id, alice.id);
    ASSERT_STR_EQ(u.username, "alice");
    ASSERT_EQ(u.is_admin, 1);
    ASSERT_EQ(u.default_access, KVS_GA_ANYONE_WITH_ID_CAN_READ);
    ASSERT_EQ(u.created_ms, alice.created_ms);

    ASSERT_OK(kvs_storage_user_by_name(rd, KVS_SLICE_LIT("bob"), &u));
    ASSERT_STR_EQ(u.id, bob.id);
    ASSERT_EQ(u.is_admin, 0);
    ASSERT_OK(kvs_storage_user_get(rd, kvs_slice_of(alice.id), &u));
    ASSERT_STR_EQ(u.username, "alice");

    kvs_token_hash(KVS_SLICE_LIT("tok-other"), hash);
    ASSERT_ERR(kvs_storage_user_by_token(rd, hash, &u), KVS_ENOTFOUND);
    ASSERT_ERR(kvs_storage_user_by_name(rd, KVS_SLICE_LIT("carol"), &u), KVS_ENOTFOUND);
    ASSERT_ERR(kvs_storage_user_by_name(rd, KVS_SLICE_LIT("Alice"), &u), KVS_ENOTFOUND);
    ASSERT_ERR(kvs_storage_user_by_name(rd, KVS_SLICE_LIT(""), &u), KVS_ENOTFOUND);
    ASSERT_ERR(kvs_storage_user_get(rd, KVS_SLICE_LIT("AAAAAAAAAAAAAAAAA"), &u), KVS_ENOTFOUND);
    ASSERT_ERR(kvs_storage_user_get(rd, KVS_SLICE_LIT("short"), &u), KVS_ENOTFOUND);
    kvs_storage_read_end(rd);

    kvs_storage_close(st);
}

TEST(storage_token_add)
{
    struct kvs_storage *st = storage_open();
    struct kvs_user alice, bob;
    ts_user(st, "alice", "tok-alice", &alice);
    ts_user(st, "bob", "tok-bob", &bob);

    struct kvs_write w = {.op = KVS_W_TOKEN_ADD};
    strcpy(w.user.id, alice.id);
    kvs_token_hash(KVS_SLICE_LIT("tok-alice-2"), w.token_hash);
    ASSERT_OK(kvs_storage_write(st, &w));
    /* Adding it again to the same user changes nothing and succeeds. */
    ASSERT_OK(kvs_storage_write(st, &w));
    /* Another user's token cannot be taken over. */
    struct kvs_write steal = {.op = KVS_W_TOKEN_ADD};
    strcpy(steal.user.id, bob.id);
    kvs_token_hash(KVS_SLICE_LIT("tok-alice"), steal.token_hash);
    ASSERT_ERR(kvs_storage_write(st, &steal), KVS_EEXIST);
    /* A missing user. */
    struct kvs_write lost = {.op = KVS_W_TOKEN_ADD};
    strcpy(lost.user.id, "AAAAAAAAAAAAAAAAA");
    kvs_token_hash(KVS_SLICE_LIT("tok-lost"), lost.token_hash);
    ASSERT_ERR(kvs_storage_write(st, &lost), KVS_ENOTFOUND);

    struct kvs_read *rd;
    ASSERT_OK(kvs_storage_read_begin(st, &rd));
    struct kvs_user u;
    uint8_t hash[KVS_TOKEN_HASH_LEN];
    kvs_token_hash(KVS_SLICE_LIT("tok-alice-2"), hash);
    ASSERT_OK(kvs_storage_user_by_token(rd, hash, &u));
    ASSERT_STR_EQ(u.id, alice.id);
    kvs_token_hash(KVS_SLICE_LIT("tok-alice"), hash);
    ASSERT_OK(kvs_storage_user_by_token(rd, hash, &u));
    ASSERT_STR_EQ(u.id, alice.id);
    kvs_token_hash(KVS_SLICE_LIT("tok-lost"), hash);
    ASSERT_ERR(kvs_storage_user_by_token(rd, hash, &u), KVS_ENOTFOUND);
    kvs_storage_read_end(rd);
    kvs_storage_close(st);
}

/* ==== stores ================================================================================ */

TEST(storage_store_create_get)
{
    struct kvs_storage *st = storage_open();
    struct kvs_user alice, bob;
    ts_user(st, "alice", "tok-alice", &alice);
    ts_user(st, "bob", "tok-bob", &bob);

    struct kvs_write w = {.op = KVS_W_STORE_CREATE};
    strcpy(w.store.user_id, alice.id);
    strcpy(w.store.name, "my-store");
    strcpy(w.store.title, "My store");
    w.store.general_access = KVS_GA_ANYONE_WITH_NAME_CAN_READ;
    w.store.schema = strdup("{\"type\":\"object\"}");
    ASSERT_OK(kvs_storage_write(st, &w));
    struct kvs_store *s = &w.store;
    ASSERT(is_alnum_string(s->id, KVS_ID_LEN));
    ASSERT(is_alnum_string(s->secret, KVS_SECRET_LEN));
    ASSERT_STR_EQ(s->user_id, alice.id);
    ASSERT_STR_EQ(s->username, "alice");
    ASSERT_STR_EQ(s->name, "my-store");
    ASSERT_STR_EQ(s->title, "My store");
    ASSERT_EQ(s->general_access, KVS_GA_ANYONE_WITH_NAME_CAN_READ);
    ASSERT_STR_EQ(s->schema, "{\"type\":\"object\"}");
    ASSERT(s->created_ms > 0);
    ASSERT_EQ(s->modified_ms, s->created_ms);
    ASSERT_EQ(s->accessed_ms, s->created_ms);
    ASSERT_EQ(s->stats.read_count + s->stats.write_count + s->stats.delete_count +
                  s->stats.list_count + s->stats.record_count + s->stats.storage_bytes,
              0);

    struct kvs_read *rd;
    ASSERT_OK(kvs_storage_read_begin(st, &rd));
    struct kvs_store got;
    ASSERT_OK(kvs_storage_store_get(rd, kvs_slice_of(s->id), &got));
    ASSERT_STR_EQ(got.id, s->id);
    ASSERT_STR_EQ(got.user_id, alice.id);
    ASSERT_STR_EQ(got.username, "alice");
    ASSERT_STR_EQ(got.name, "my-store");
    ASSERT_STR_EQ(got.title, "My store");
    ASSERT_STR_EQ(got.secret, s->secret);
    ASSERT_EQ(got.general_access, KVS_GA_ANYONE_WITH_NAME_CAN_READ);
    ASSERT_STR_EQ(got.schema, s->schema);
    ASSERT_EQ(got.created_ms, s->created_ms);
    ASSERT_EQ(got.modified_ms, s->modified_ms);
    kvs_store_clear(&got);
    ASSERT(got.schema == NULL);

    ASSERT_OK(
        kvs_storage_store_by_name(rd, kvs_slice_of(alice.id), KVS_SLICE_LIT("my-store"), &got));
    ASSERT_STR_EQ(got.id, s->id);
    kvs_store_clear(&got);
    /* Names belong to their owner, and are compared exactly. */
    ASSERT_ERR(kvs_storage_store_by_name(rd, kvs_slice_of(bob.id), KVS_SLICE_LIT("my-store"), &got),
               KVS_ENOTFOUND);
    ASSERT_ERR(
        kvs_storage_store_by_name(rd, kvs_slice_of(alice.id), KVS_SLICE_LIT("My-store"), &got),
        KVS_ENOTFOUND);
    ASSERT_ERR(kvs_storage_store_get(rd, KVS_SLICE_LIT("AAAAAAAAAAAAAAAAA"), &got), KVS_ENOTFOUND);
    ASSERT_ERR(kvs_storage_store_get(rd, KVS_SLICE_LIT("nope"), &got), KVS_ENOTFOUND);
    kvs_storage_read_end(rd);

    /* An unnamed store; a store without a schema. */
    struct kvs_store un;
    ASSERT_OK(ts_store(st, alice.id, "", &un));
    ASSERT_STR_EQ(un.name, "");
    ASSERT(un.schema == NULL);
    ASSERT(strcmp(un.id, s->id) != 0);
    ASSERT_OK(ts_store_get(st, un.id, &got));
    ASSERT_STR_EQ(got.name, "");
    ASSERT(got.schema == NULL);
    kvs_store_clear(&got);

    /* A store of a user that does not exist. */
    ASSERT_ERR(ts_store(st, "AAAAAAAAAAAAAAAAA", "x", &got), KVS_ENOTFOUND);
    kvs_store_clear(&got);

    kvs_store_clear(&un);
    kvs_store_clear(&w.store);
    kvs_storage_close(st);
}

TEST(storage_store_get_or_create)
{
    struct kvs_storage *st = storage_open();
    struct kvs_user alice, bob;
    ts_user(st, "alice", "tok-alice", &alice);
    ts_user(st, "bob", "tok-bob", &bob);

    struct kvs_store first, again;
    ASSERT_OK(ts_store(st, alice.id, "shared", &first));
    /* Creating the name again hands back the existing store, not a new one. */
    struct kvs_write w = {.op = KVS_W_STORE_CREATE};
    strcpy(w.store.user_id, alice.id);
    strcpy(w.store.name, "shared");
    strcpy(w.store.title, "a different title");
    ASSERT_ERR(kvs_storage_write(st, &w), KVS_EEXIST);
    ASSERT_STR_EQ(w.store.id, first.id);
    ASSERT_STR_EQ(w.store.title, "");
    ASSERT_STR_EQ(w.store.secret, first.secret);
    kvs_store_clear(&w.store);
    /* Another user's store of the same name is another store. */
    ASSERT_OK(ts_store(st, bob.id, "shared", &again));
    ASSERT(strcmp(again.id, first.id) != 0);
    kvs_store_clear(&again);

    /* Racing creators: many creates of one name in flight at once, most likely in one
     * batch. Exactly one creates it, every other one gets that store. */
    enum { N = 16 };
    struct kvs_write ws[N];
    struct ts_counter c = TS_COUNTER_INIT;
    memset(ws, 0, sizeof ws);
    for (int i = 0; i < N; i++) {
        ws[i].op = KVS_W_STORE_CREATE;
        strcpy(ws[i].store.user_id, alice.id);
        strcpy(ws[i].store.name, "raced");
        ws[i].done = ts_counter_done;
        ws[i].arg = &c;
        ASSERT_OK(kvs_storage_submit(st, &ws[i]));
    }
    ts_counter_wait(&c, N);
    int created = 0;
    for (int i = 0; i < N; i++) {
        if (ws[i].result == 0)
            created++;
        else
            ASSERT_ERR(ws[i].result, KVS_EEXIST);
        ASSERT_STR_EQ(ws[i].store.id, ws[0].store.id);
        ASSERT_STR_EQ(ws[i].store.name, "raced");
    }
    ASSERT_EQ(created, 1);
    for (int i = 0; i < N; i++)
        kvs_store_clear(&ws[i].store);

    /* Unnamed stores never collide. */
    struct kvs_store u1, u2;
    ASSERT_OK(ts_store(st, alice.id, "", &u1));
    ASSERT_OK(ts_store(st, alice.id, "", &u2));
    ASSERT(strcmp(u1.id, u2.id) != 0);
    kvs_store_clear(&u1);
    kvs_store_clear(&u2);
    kvs_store_clear(&first);
    kvs_storage_close(st);
}

static int update_store(struct kvs_storage *st, const char *id, unsigned mask, const char *name,
                        const char *title, struct kvs_store *out)
{
    struct kvs_write w = {.op = KVS_W_STORE_UPDATE, .update_mask = mask};
    strcpy(w.store_id, id);
    snprintf(w.store.name, sizeof w.store.name, "%s", name ? name : "");
    snprintf(w.store.title, sizeof w.store.title, "%s", title ? title : "");
    int rc = kvs_storage_write(st, &w);
    if (out != NULL)
        *out = w.store;
    else
        kvs_store_clear(&w.store);
    return rc;
}

TEST(storage_store_update)
{
    struct kvs_storage *st = storage_open();
    struct kvs_user alice;
    struct kvs_store s, other, got;
    setup(st, &alice, &s);
    ASSERT_OK(ts_store(st, alice.id, "other", &other));
    usleep(2000); /* so that modified_ms moves */

    /* Rename and retitle; the result is the whole updated store. */
    ASSERT_OK(update_store(st, s.id, KVS_UPD_NAME | KVS_UPD_TITLE, "renamed", "Title", &got));
    ASSERT_STR_EQ(got.id, s.id);
    ASSERT_STR_EQ(got.name, "renamed");
    ASSERT_STR_EQ(got.title, "Title");
    ASSERT_STR_EQ(got.secret, s.secret);
    ASSERT_STR_EQ(got.username, "alice");
    ASSERT_EQ(got.created_ms, s.created_ms);
    ASSERT(got.modified_ms > s.modified_ms);
    kvs_store_clear(&got);

    struct kvs_read *rd;
    ASSERT_OK(kvs_storage_read_begin(st, &rd));
    ASSERT_ERR(kvs_storage_store_by_name(rd, kvs_slice_of(alice.id), KVS_SLICE_LIT("main"), &got),
               KVS_ENOTFOUND);
    ASSERT_OK(
        kvs_storage_store_by_name(rd, kvs_slice_of(alice.id), KVS_SLICE_LIT("renamed"), &got));
    ASSERT_STR_EQ(got.id, s.id);
    ASSERT_STR_EQ(got.title, "Title");
    kvs_store_clear(&got);
    kvs_storage_read_end(rd);

    /* Onto a name the owner uses: refused, and nothing changes (the title neither). */
    ASSERT_ERR(update_store(st, s.id, KVS_UPD_NAME | KVS_UPD_TITLE, "other", "Nope", NULL),
               KVS_ENAMETAKEN);
    ASSERT_OK(ts_store_get(st, s.id, &got));
    ASSERT_STR_EQ(got.name, "renamed");
    ASSERT_STR_EQ(got.title, "Title");
    kvs_store_clear(&got);
    /* Onto its own name: nothing to do, fine. */
    ASSERT_OK(update_store(st, s.id, KVS_UPD_NAME, "renamed", NULL, NULL));

    /* Only the fields in the mask change. */
    struct kvs_write w = {.op = KVS_W_STORE_UPDATE, .update_mask = KVS_UPD_ACCESS | KVS_UPD_SCHEMA};
    strcpy(w.store_id, s.id);
    strcpy(w.store.title, "ignored");
    w.store.general_access = KVS_GA_ANYONE_WITH_ID_CAN_READ;
    w.store.schema = strdup("{}");
    ASSERT_OK(kvs_storage_write(st, &w));
    ASSERT_STR_EQ(w.store.title, "Title");
    ASSERT_STR_EQ(w.store.schema, "{}");
    kvs_store_clear(&w.store);
    ASSERT_OK(ts_store_get(st, s.id, &got));
    ASSERT_EQ(got.general_access, KVS_GA_ANYONE_WITH_ID_CAN_READ);
    ASSERT_STR_EQ(got.schema, "{}");
    ASSERT_STR_EQ(got.title, "Title");
    kvs_store_clear(&got);
    /* A NULL schema with KVS_UPD_SCHEMA removes it. */
    ASSERT_OK(update_store(st, s.id, KVS_UPD_SCHEMA, NULL, NULL, NULL));
    ASSERT_OK(ts_store_get(st, s.id, &got));
    ASSERT(got.schema == NULL);
    kvs_store_clear(&got);

    /* "" makes it unnamed, and frees the name for another store. */
    ASSERT_OK(update_store(st, s.id, KVS_UPD_NAME, "", NULL, NULL));
    ASSERT_OK(ts_store_get(st, s.id, &got));
    ASSERT_STR_EQ(got.name, "");
    kvs_store_clear(&got);
    struct kvs_store fresh;
    ASSERT_OK(ts_store(st, alice.id, "renamed", &fresh));
    ASSERT(strcmp(fresh.id, s.id) != 0);
    /* And an unnamed store may take a name again. */
    ASSERT_OK(update_store(st, s.id, KVS_UPD_NAME, "back", NULL, NULL));
    ASSERT_OK(ts_store_get(st, s.id, &got));
    ASSERT_STR_EQ(got.name, "back");
    kvs_store_clear(&got);

    ASSERT_ERR(update_store(st, "AAAAAAAAAAAAAAAAA", KVS_UPD_TITLE, NULL, "x", NULL),
               KVS_ENOTFOUND);

    kvs_store_clear(&fresh);
    kvs_store_clear(&other);
    kvs_store_clear(&s);
    kvs_storage_close(st);
}

/* Collects the IDs of listed stores. */
struct id_list {
    char ids[32][KVS_ID_LEN + 1];
    size_t n;
    size_t stop_after; /* 0 = never stop */
};

static int collect_store(void *arg, const struct kvs_store *s)
{
    struct id_list *l = arg;
    ASSERT(l->n < 32);
    strcpy(l->ids[l->n++], s->id);
    ASSERT_STR_EQ(s->username, "alice");
    return l->stop_after != 0 && l->n >= l->stop_after;
}

static void list_stores(struct kvs_storage *st, const char *user_id, uint64_t offset,
                        uint64_t limit, int desc, int unnamed, struct id_list *out, uint64_t *total)
{
    struct kvs_read *rd;
    ASSERT_OK(kvs_storage_read_begin(st, &rd));
    out->n = 0;
    ASSERT_OK(kvs_storage_store_list(rd, kvs_slice_of(user_id), offset, limit, desc, unnamed,
                                     collect_store, out, total));
    kvs_storage_read_end(rd);
}

TEST(storage_store_list)
{
    struct kvs_storage *st = storage_open();
    struct kvs_user alice, bob;
    ts_user(st, "alice", "tok-alice", &alice);
    ts_user(st, "bob", "tok-bob", &bob);

    /* Six stores, created one after another: named ones at even positions. */
    enum { N = 6 };
    struct kvs_store s[N];
    for (int i = 0; i < N; i++) {
        char name[16];
        snprintf(name, sizeof name, "s%d", i);
        ASSERT_OK(ts_store(st, alice.id, i % 2 == 0 ? name : "", &s[i]));
        usleep(1500); /* distinct creation times; equal ones would be ordered by ID */
    }
    struct kvs_store bobs;
    ASSERT_OK(ts_store(st, bob.id, "bobs", &bobs));

    struct id_list l = {0};
    uint64_t total = 0;
    list_stores(st, alice.id, 0, 100, 0, 1, &l, &total);
    ASSERT_EQ(total, N);
    ASSERT_EQ(l.n, N);
    for (int i = 0; i < N; i++)
        ASSERT_STR_EQ(l.ids[i], s[i].id);

    list_stores(st, alice.id, 0, 100, 1, 1, &l, &total);
    ASSERT_EQ(total, N);
    for (int i = 0; i < N; i++)
        ASSERT_STR_EQ(l.ids[i], s[N - 1 - i].id);

    /* Named only. */
    list_stores(st, alice.id, 0, 100, 0, 0, &l, &total);
    ASSERT_EQ(total, 3);
    ASSERT_EQ(l.n, 3);
    ASSERT_STR_EQ(l.ids[0], s[0].id);
    ASSERT_STR_EQ(l.ids[1], s[2].id);
    ASSERT_STR_EQ(l.ids[2], s[4].id);

    /* Offset and limit; the total counts every match. */
    list_stores(st, alice.id, 2, 3, 0, 1, &l, &total);
    ASSERT_EQ(total, N);
    ASSERT_EQ(l.n, 3);
    ASSERT_STR_EQ(l.ids[0], s[2].id);
    ASSERT_STR_EQ(l.ids[2], s[4].id);
    list_stores(st, alice.id, 1, 1, 1, 0, &l, &total);
    ASSERT_EQ(total, 3);
    ASSERT_EQ(l.n, 1);
    ASSERT_STR_EQ(l.ids[0], s[2].id);
    list_stores(st, alice.id, 10, 5, 0, 1, &l, &total);
    ASSERT_EQ(total, N);
    ASSERT_EQ(l.n, 0);
    list_stores(st, alice.id, 0, 0, 0, 1, &l, &total);
    ASSERT_EQ(l.n, 0);

    /* A callback may stop the listing. */
    l.stop_after = 2;
    list_stores(st, alice.id, 0, 100, 0, 1, &l, &total);
    ASSERT_EQ(l.n, 2);
    l.stop_after = 0;

    /* Naming an unnamed store keeps its place. */
    ASSERT_OK(update_store(st, s[1].id, KVS_UPD_NAME, "late-name", NULL, NULL));
    list_stores(st, alice.id, 0, 100, 0, 0, &l, &total);
    ASSERT_EQ(total, 4);
    ASSERT_STR_EQ(l.ids[1], s[1].id);

    /* Users without stores, and unknown users. */
    struct kvs_user carol;
    ts_user(st, "carol", "tok-carol", &carol);
    list_stores(st, carol.id, 0, 100, 0, 1, &l, &total);
    ASSERT_EQ(total, 0);
    list_stores(st, "AAAAAAAAAAAAAAAAA", 0, 100, 1, 1, &l, &total);
    ASSERT_EQ(total, 0);
    ASSERT_EQ(l.n, 0);

    for (int i = 0; i < N; i++)
        kvs_store_clear(&s[i]);
    kvs_store_clear(&bobs);
    kvs_storage_close(st);
}

TEST(storage_store_delete)
{
    struct kvs_storage *st = storage_open();
    struct kvs_user alice;
    struct kvs_store s, keep, got;
    setup(st, &alice, &s);
    ASSERT_OK(ts_store(st, alice.id, "keep", &keep));
    for (int i = 0; i < 50; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%02d", i);
        ASSERT_OK(ts_put_str(st, s.id, key, "doomed"));
        ASSERT_OK(ts_put_str(st, keep.id, key, "kept"));
    }

    struct kvs_write w = {.op = KVS_W_STORE_DELETE};
    strcpy(w.store_id, s.id);
    ASSERT_OK(kvs_storage_write(st, &w));
    ASSERT_ERR(kvs_storage_write(st, &w), KVS_ENOTFOUND);

    /* Gone for every reader at once, records included. */
    struct kvs_read *rd;
    ASSERT_OK(kvs_storage_read_begin(st, &rd));
    ASSERT_ERR(kvs_storage_store_get(rd, kvs_slice_of(s.id), &got), KVS_ENOTFOUND);
    ASSERT_ERR(kvs_storage_store_by_name(rd, kvs_slice_of(alice.id), KVS_SLICE_LIT("main"), &got),
               KVS_ENOTFOUND);
    struct kvs_record_view rec;
    ASSERT_ERR(kvs_storage_record_get(rd, kvs_slice_of(s.id), KVS_SLICE_LIT("k00"), &rec),
               KVS_ENOTFOUND);
    kvs_storage_read_end(rd);
    struct ts_keys keys = {0};
    ASSERT_EQ(ts_list(st, s.id, "", "", 1000, &keys), 0);
    ASSERT_EQ(keys.n, 0);
    struct id_list l = {0};
    uint64_t total = 0;
    list_stores(st, alice.id, 0, 100, 0, 1, &l, &total);
    ASSERT_EQ(total, 1);
    ASSERT_STR_EQ(l.ids[0], keep.id);

    /* Writes to it fail; deleting a record of it too. */
    ASSERT_ERR(ts_put_str(st, s.id, "k00", "zombie"), KVS_ENOTFOUND);
    ASSERT_ERR(ts_del(st, s.id, "k01"), KVS_ENOTFOUND);
    /* Statistics noted for it are dropped quietly. */
    kvs_storage_note_access(st, s.id, KVS_NOTE_READ);

    /* The other store is untouched; the name is free again, and the new store is empty. */
    ASSERT_EQ(ts_list(st, keep.id, "", "", 1000, &keys), 0);
    ASSERT_EQ(keys.n, 50);
    char *v;
    size_t n;
    ASSERT_OK(ts_get(st, keep.id, "k49", &v, &n));
    ASSERT_MEM_EQ(v, n, "kept");
    free(v);
    struct kvs_store again;
    ASSERT_OK(ts_store(st, alice.id, "main", &again));
    ASSERT(strcmp(again.id, s.id) != 0);
    ASSERT_EQ(ts_list(st, again.id, "", "", 1000, &keys), 0);
    ASSERT_EQ(keys.n, 0);
    ASSERT_OK(ts_put_str(st, again.id, "k00", "new"));
    ASSERT_OK(ts_get(st, again.id, "k00", &v, &n));
    ASSERT_MEM_EQ(v, n, "new");
    free(v);
    ASSERT_OK(ts_store_get(st, again.id, &got));
    ASSERT_EQ(got.stats.record_count, 1);
    kvs_store_clear(&got);

    /* Still so after a restart (the sweep of the records may be in any state). */
    kvs_storage_close(st);
    st = storage_open();
    ASSERT_ERR(ts_get(st, s.id, "k00", &v, &n), KVS_ENOTFOUND);
    ASSERT_ERR(ts_store_get(st, s.id, &got), KVS_ENOTFOUND);
    ASSERT_EQ(ts_list(st, keep.id, "", "", 1000, &keys), 0);
    ASSERT_EQ(keys.n, 50);

    ts_keys_free(&keys);
    kvs_store_clear(&again);
    kvs_store_clear(&keep);
    kvs_store_clear(&s);
    kvs_storage_close(st);
}

static struct kvs_storage_totals totals(struct kvs_storage *st)
{
    struct kvs_read *rd;
    struct kvs_storage_totals t;
    ASSERT_OK(kvs_storage_read_begin(st, &rd));
    ASSERT_OK(kvs_storage_totals(rd, &t));
    kvs_storage_read_end(rd);
    return t;
}

TEST(storage_totals)
{
    struct kvs_storage *st = storage_open();
    struct kvs_storage_totals t = totals(st);
    ASSERT_EQ(t.users, 0);
    ASSERT_EQ(t.stores, 0);
    ASSERT_EQ(t.records, 0);

    struct kvs_user alice;
    struct kvs_store s, keep;
    setup(st, &alice, &s);
    ASSERT_OK(ts_store(st, alice.id, "keep", &keep));
    for (int i = 0; i < 30; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%02d", i);
        ASSERT_OK(ts_put_str(st, s.id, key, "v"));
        if (i < 20)
            ASSERT_OK(ts_put_str(st, keep.id, key, "v"));
    }
    ASSERT_OK(ts_put_str(st, s.id, "k00", "replaced")); /* not a new record */
    ASSERT_OK(ts_del(st, keep.id, "k19"));
    t = totals(st);
    ASSERT_EQ(t.users, 1);
    ASSERT_EQ(t.stores, 2);
    ASSERT_EQ(t.records, 49);

    /* A deleted store's records leave the count once swept (in the background, soon). */
    struct kvs_write w = {.op = KVS_W_STORE_DELETE};
    strcpy(w.store_id, s.id);
    ASSERT_OK(kvs_storage_write(st, &w));
    ASSERT_EQ(totals(st).stores, 1);
    for (int i = 0; i < 500 && totals(st).records != 19; i++)
        usleep(10000);
    ASSERT_EQ(totals(st).records, 19);

    kvs_store_clear(&keep);
    kvs_store_clear(&s);
    kvs_storage_close(st);
}

/* ==== records =============================================================================== */

TEST(storage_record_put_get_delete)
{
    struct kvs_storage *st = storage_open();
    struct kvs_user alice;
    struct kvs_store s;
    setup(st, &alice, &s);

    struct kvs_write w = {.op = KVS_W_RECORD_PUT};
    strcpy(w.store_id, s.id);
    w.key = KVS_SLICE_LIT("greeting");
    w.value = KVS_SLICE_LIT("\x1f\x8b not really gzip");
    w.content_type = KVS_SLICE_LIT("text/plain; charset=utf-8");
    w.encoding = KVS_ENC_GZIP;
    ASSERT_OK(kvs_storage_write(st, &w));

    struct kvs_read *rd;
    ASSERT_OK(kvs_storage_read_begin(st, &rd));
    struct kvs_record_view rec;
    ASSERT_OK(kvs_storage_record_get(rd, kvs_slice_of(s.id), KVS_SLICE_LIT("greeting"), &rec));
    ASSERT_MEM_EQ(rec.value.p, rec.value.n, "\x1f\x8b not really gzip");
    ASSERT_MEM_EQ(rec.content_type.p, rec.content_type.n, "text/plain; charset=utf-8");
    ASSERT_EQ(rec.encoding, KVS_ENC_GZIP);
    ASSERT_ERR(kvs_storage_record_get(rd, kvs_slice_of(s.id), KVS_SLICE_LIT("greetinG"), &rec),
               KVS_ENOTFOUND);
    ASSERT_ERR(kvs_storage_record_get(rd, kvs_slice_of(s.id), KVS_SLICE_LIT("greet"), &rec),
               KVS_ENOTFOUND);
    ASSERT_ERR(kvs_storage_record_get(rd, KVS_SLICE_LIT("AAAAAAAAAAAAAAAAA"),
                                      KVS_SLICE_LIT("greeting"), &rec),
               KVS_ENOTFOUND);
    kvs_storage_read_end(rd);

    /* Replace: new value, content type and encoding together. */
    w.value = KVS_SLICE_LIT("{\"a\":1}");
    w.content_type = KVS_SLICE_LIT("application/json");
    w.encoding = KVS_ENC_IDENTITY;
    ASSERT_OK(kvs_storage_write(st, &w));
    ASSERT_OK(kvs_storage_read_begin(st, &rd));
    ASSERT_OK(kvs_storage_record_get(rd, kvs_slice_of(s.id), KVS_SLICE_LIT("greeting"), &rec));
    ASSERT_MEM_EQ(rec.value.p, rec.value.n, "{\"a\":1}");
    ASSERT_MEM_EQ(rec.content_type.p, rec.content_type.n, "application/json");
    ASSERT_EQ(rec.encoding, KVS_ENC_IDENTITY);
    kvs_storage_read_end(rd);

    /* Every encoding and an empty content type survive. */
    for (int e = KVS_ENC_IDENTITY; e <= KVS_ENC_BR; e++) {
        w.encoding = (enum kvs_encoding)e;
        w.content_type = KVS_SLICE_LIT("");
        ASSERT_OK(kvs_storage_write(st, &w));
        ASSERT_OK(kvs_storage_read_begin(st, &rd));
        ASSERT_OK(kvs_storage_record_get(rd, kvs_slice_of(s.id), KVS_SLICE_LIT("greeting"), &rec));
        ASSERT_EQ(rec.encoding, e);
        ASSERT_EQ(rec.content_type.n, 0);
        kvs_storage_read_end(rd);
    }

    /* Delete; deleting a missing key succeeds; a missing store does not. */
    ASSERT_OK(ts_del(st, s.id, "greeting"));
    char *v;
    size_t n;
    ASSERT_ERR(ts_get(st, s.id, "greeting", &v, &n), KVS_ENOTFOUND);
    ASSERT_OK(ts_del(st, s.id, "greeting"));
    ASSERT_OK(ts_del(st, s.id, "never-was"));
    ASSERT_ERR(ts_del(st, "AAAAAAAAAAAAAAAAA", "greeting"), KVS_ENOTFOUND);
    ASSERT_ERR(ts_put_str(st, "AAAAAAAAAAAAAAAAA", "greeting", "x"), KVS_ENOTFOUND);

    /* The longest key; keys longer than that, and empty keys, are refused. */
    char key[KVS_KEY_MAX + 2];
    memset(key, 'k', KVS_KEY_MAX);
    key[KVS_KEY_MAX] = '\0';
    ASSERT_OK(ts_put_str(st, s.id, key, "long"));
    ASSERT_OK(ts_get(st, s.id, key, &v, &n));
    ASSERT_MEM_EQ(v, n, "long");
    free(v);
    key[KVS_KEY_MAX] = 'k';
    key[KVS_KEY_MAX + 1] = '\0';
    ASSERT_ERR(ts_put_str(st, s.id, key, "too long"), KVS_EINVAL);
    ASSERT_ERR(ts_put_str(st, s.id, "", "empty key"), KVS_EINVAL);

    kvs_store_clear(&s);
    kvs_storage_close(st);
}

/* Large records (storage.h, "Large records"): a value put through an upload reads back the
 * same, through a value opened apart from the read, which outlives the read and even an
 * overwrite; sizes, statistics and keys count it; a failed write keeps nothing of it. Runs
 * on every back-end that takes uploads. */
TEST(storage_record_uploads)
{
    struct kvs_storage *st = storage_open();
    if (!kvs_storage_uploads(st)) {
        kvs_storage_close(st);
        return; /* this back-end keeps every value in its rows */
    }
    struct kvs_user alice;
    struct kvs_store s;
    setup(st, &alice, &s);
    size_t n = 3 * 1024 * 1024 + 17;
    char *big = malloc(n);
    ASSERT(big != NULL);
    for (size_t i = 0; i < n; i++)
        big[i] = (char)(i * 31 + (i >> 12));
    ASSERT_OK(ts_put_upload(st, s.id, "big", big, n, 100000, NULL));

    struct kvs_read *rd;
    ASSERT_OK(kvs_storage_read_begin(st, &rd));
    struct kvs_record_view rec;
    ASSERT_OK(kvs_storage_record_get(rd, kvs_slice_of(s.id), KVS_SLICE_LIT("big"), &rec));
    ASSERT_EQ(rec.size, n);
    ASSERT_EQ(rec.value.n, 0);
    ASSERT(rec.blob.n > 0);
    struct kvs_value *v;
    ASSERT_OK(kvs_storage_value_open(rd, &rec, &v));
    kvs_storage_read_end(rd); /* the value outlives its read */
    ASSERT_EQ(kvs_value_size(v), n);
    char probe[64];
    size_t got;
    ASSERT_OK(kvs_value_read(v, n / 2, probe, sizeof probe, &got));
    ASSERT_EQ(got, sizeof probe);
    ASSERT(memcmp(probe, big + n / 2, sizeof probe) == 0);
    ASSERT_OK(kvs_value_read(v, n, probe, sizeof probe, &got));
    ASSERT_EQ(got, 0); /* at the end */

    /* sizes and statistics count it as any record */
    struct ts_keys l = {0};
    ASSERT_EQ(ts_list(st, s.id, "", "", 10, &l), 0);
    ASSERT_EQ(l.n, 1);
    ASSERT_EQ(l.sizes[0], n);
    ts_keys_free(&l);
    struct kvs_store now;
    ASSERT_OK(ts_store_get(st, s.id, &now));
    ASSERT_EQ(now.stats.storage_bytes, 3 + n);
    ASSERT_EQ(now.stats.record_count, 1);
    kvs_store_clear(&now);

    /* overwritten by a small value: the open value still reads the old bytes */
    ASSERT_OK(ts_put_str(st, s.id, "big", "small"));
    ASSERT_OK(kvs_value_read(v, 0, probe, sizeof probe, &got));
    ASSERT(got == sizeof probe && memcmp(probe, big, sizeof probe) == 0);
    kvs_value_close(v);
    char *back;
    size_t back_n;
    ASSERT_OK(ts_get(st, s.id, "big", &back, &back_n));
    ASSERT_MEM_EQ(back, back_n, "small");
    free(back);
    ASSERT_OK(ts_store_get(st, s.id, &now));
    ASSERT_EQ(now.stats.storage_bytes, 3 + 5);
    kvs_store_clear(&now);

    /* a failed write (precondition, missing store) changes nothing */
    struct kvs_precond none_match = {0};
    kvs_precond_add(&none_match, KVS_H_IF_NONE_MATCH, KVS_SLICE_LIT("*"), 0);
    ASSERT_ERR(ts_put_upload(st, s.id, "big", big, n, n, &none_match), KVS_EPRECOND);
    ASSERT_ERR(ts_put_upload(st, "AAAAAAAAAAAAAAAAA", "big", big, n, n, NULL), KVS_ENOTFOUND);
    ASSERT_OK(ts_get(st, s.id, "big", &back, &back_n));
    ASSERT_MEM_EQ(back, back_n, "small");
    free(back);

    /* an upload of nothing, and one read back whole; then deleted */
    ASSERT_OK(ts_put_upload(st, s.id, "empty", "", 0, 1, NULL));
    ASSERT_OK(ts_get(st, s.id, "empty", &back, &back_n));
    ASSERT_EQ(back_n, 0);
    free(back);
    ASSERT_OK(ts_put_upload(st, s.id, "big", big, n, 65536, NULL));
    ASSERT_OK(ts_get(st, s.id, "big", &back, &back_n));
    ASSERT_EQ(back_n, n);
    ASSERT(memcmp(back, big, n) == 0);
    free(back);
    ASSERT_OK(ts_del(st, s.id, "big"));
    ASSERT_ERR(ts_get(st, s.id, "big", &back, &back_n), KVS_ENOTFOUND);

    /* an upload dropped before any write leaves nothing to see */
    struct kvs_upload *u;
    ASSERT_OK(kvs_storage_upload_begin(st, 0, &u));
    ASSERT_OK(kvs_upload_append(u, big, 1000));
    kvs_upload_abort(u);
    free(big);
    kvs_store_clear(&s);
    kvs_storage_close(st);
}

TEST(storage_record_binary_and_large)
{
    struct kvs_storage *st = storage_open();
    struct kvs_user alice;
    struct kvs_store s;
    setup(st, &alice, &s);

    /* Every byte value, NULs included. */
    char bin[512];
    for (size_t i = 0; i < sizeof bin; i++)
        bin[i] = (char)(i % 256);
    ASSERT_OK(ts_put(st, s.id, "bin", bin, sizeof bin));
    char *v;
    size_t n;
    ASSERT_OK(ts_get(st, s.id, "bin", &v, &n));
    ASSERT_EQ(n, sizeof bin);
    ASSERT(memcmp(v, bin, n) == 0);
    free(v);

    /* An empty value. */
    ASSERT_OK(ts_put(st, s.id, "empty", "", 0));
    ASSERT_OK(ts_get(st, s.id, "empty", &v, &n));
    ASSERT_EQ(n, 0);
    free(v);

    /* 9 MiB, read back whole and listed with its size. */
    size_t big_n = 9u << 20;
    char *big = malloc(big_n);
    ASSERT(big != NULL);
    for (size_t i = 0; i < big_n; i++)
        big[i] = (char)(i * 2654435761u >> 13);
    ASSERT_OK(ts_put(st, s.id, "big", big, big_n));
    ASSERT_OK(ts_get(st, s.id, "big", &v, &n));
    ASSERT_EQ(n, big_n);
    ASSERT(memcmp(v, big, n) == 0);
    free(v);
    struct ts_keys keys = {0};
    ASSERT_EQ(ts_list(st, s.id, "", "", 10, &keys), 0);
    ASSERT_EQ(keys.n, 3);
    ASSERT_STR_EQ(keys.keys[0], "big");
    ASSERT_EQ(keys.sizes[0], big_n);
    ASSERT_STR_EQ(keys.keys[1], "bin");
    ASSERT_EQ(keys.sizes[1], sizeof bin);
    ASSERT_STR_EQ(keys.keys[2], "empty");
    ASSERT_EQ(keys.sizes[2], 0);

    /* Replaced by a small value, then back. */
    ASSERT_OK(ts_put_str(st, s.id, "big", "small"));
    ASSERT_OK(ts_get(st, s.id, "big", &v, &n));
    ASSERT_MEM_EQ(v, n, "small");
    free(v);
    ASSERT_OK(ts_put(st, s.id, "big", big, big_n));
    kvs_storage_close(st);
    st = storage_open();
    ASSERT_OK(ts_get(st, s.id, "big", &v, &n));
    ASSERT_EQ(n, big_n);
    ASSERT(memcmp(v, big, n) == 0);
    free(v);

    free(big);
    ts_keys_free(&keys);
    kvs_store_clear(&s);
    kvs_storage_close(st);
}

/* ==== keys ================================================================================== */

/* Keys in byte order: '(' 0x28 < '-' 0x2d < '.' 0x2e < '0' < 'A' < '_' 0x5f < 'a'. */
static const char *const edge_keys[] = {"(x)", "A",  "B",  "_", "a", "a-b",
                                        "a.b", "a0", "ab", "b", NULL};

static void put_edge_keys(struct kvs_storage *st, const char *store_id)
{
    /* Inserted in an order unlike the sorted one. */
    static const int order[] = {9, 3, 0, 7, 5, 1, 8, 2, 6, 4};
    for (size_t i = 0; i < 10; i++) {
        const char *k = edge_keys[order[i]];
        ASSERT_OK(ts_put_str(st, store_id, k, k));
    }
}

/* ==== record versions and conditional writes ================================================ */

/* A kvs_key_cb keeping the record views of up to 4 keys. */
struct views {
    struct kvs_record_view *v;
    size_t *n;
};

static int keep_view(void *arg, const struct kvs_key_view *k)
{
    struct views *vs = arg;
    if (*vs->n < 4)
        vs->v[(*vs->n)++] = k->rec;
    return 0;
}

/* The version and modification time of record (STORE_ID, KEY) in a fresh read. */
static int version_of(struct kvs_storage *st, const char *store_id, const char *key,
                      uint64_t *version, int64_t *modified_ms)
{
    struct kvs_read *rd;
    ASSERT_OK(kvs_storage_read_begin(st, &rd));
    struct kvs_record_view rec;
    int rc = kvs_storage_record_get(rd, kvs_slice_of(store_id), kvs_slice_of(key), &rec);
    if (rc == 0) {
        *version = rec.version;
        if (modified_ms)
            *modified_ms = rec.modified_ms;
    }
    kvs_storage_read_end(rd);
    return rc;
}

/* A record write of (STORE_ID, KEY): a put of VALUE, or a delete when VALUE is NULL. */
static struct kvs_write record_write(const char *store_id, const char *key, const char *value)
{
    struct kvs_write w = {.op = value ? KVS_W_RECORD_PUT : KVS_W_RECORD_DELETE};
    strcpy(w.store_id, store_id);
    w.key = kvs_slice_of(key);
    if (value) {
        w.value = kvs_slice_of(value);
        w.content_type = KVS_SLICE_LIT("text/plain");
    }
    return w;
}

/* Add the header line VALUE of WHICH to W's preconditions, kept in P (emptied first when W
 * has none yet). */
static void when(struct kvs_write *w, struct kvs_precond *p, enum kvs_precond_header which,
                 const char *value)
{
    if (w->precond != p) {
        memset(p, 0, sizeof *p);
        w->precond = p;
    }
    kvs_precond_add(p, which, kvs_slice_of(value), kvs_now_ms() / 1000);
}

/* VERSION's entity-tag, in a static buffer (one per call site is enough for the tests). */
static const char *etag(uint64_t version)
{
    static char tags[4][KVS_ETAG_MAX];
    static int next;
    char *t = tags[next++ % 4];
    kvs_etag_format(version, 0, t);
    return t;
}

TEST(storage_record_versions)
{
    struct kvs_storage *st = storage_open();
    struct kvs_user alice;
    struct kvs_store s, other;
    setup(st, &alice, &s);
    ASSERT_OK(ts_store(st, alice.id, "other", &other));

    /* A put hands back the version and time it stored; a read sees the same. */
    int64_t before = kvs_now_ms();
    struct kvs_write w = record_write(s.id, "k", "one");
    ASSERT_OK(kvs_storage_write(st, &w));
    int64_t after = kvs_now_ms();
    ASSERT(w.modified_ms >= before && w.modified_ms <= after);
    ASSERT(w.version >= (uint64_t)w.modified_ms * 1000); /* at least the time in µs */
    uint64_t v;
    int64_t m;
    ASSERT_OK(version_of(st, s.id, "k", &v, &m));
    ASSERT_EQ(v, w.version);
    ASSERT_EQ(m, w.modified_ms);

    /* Every write gives a greater version: the same bytes again, another key, a delete and a
     * re-creation, another store; a failed write gives none. */
    uint64_t last = w.version;
    const char *steps[][2] = {{"k", "one"}, {"k", "two"}, {"j", "one"}, {"k", NULL}, {"k", "one"}};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        w = record_write(s.id, steps[i][0], steps[i][1]);
        ASSERT_OK(kvs_storage_write(st, &w));
        if (steps[i][1] == NULL)
            continue;
        ASSERT(w.version > last);
        last = w.version;
    }
    ASSERT_OK(version_of(st, s.id, "k", &v, NULL));
    ASSERT_EQ(v, last);
    w = record_write(s.id, "", "invalid");
    ASSERT_ERR(kvs_storage_write(st, &w), KVS_EINVAL);
    ASSERT_EQ(w.version, 0);

    /* Many writes of one key in flight at once (in few batches): increasing in order. */
    enum { N = 64 };
    struct kvs_write ws[N];
    struct ts_counter c = TS_COUNTER_INIT;
    for (int i = 0; i < N; i++) {
        ws[i] = record_write(s.id, "hot", "x");
        ws[i].done = ts_counter_done;
        ws[i].arg = &c;
        ASSERT_OK(kvs_storage_submit(st, &ws[i]));
    }
    ts_counter_wait(&c, N);
    for (int i = 0; i < N; i++) {
        ASSERT_OK(ws[i].result);
        ASSERT(ws[i].version > last);
        last = ws[i].version;
    }

    /* Keys listed with their values carry the versions too. */
    struct kvs_read *rd;
    ASSERT_OK(kvs_storage_read_begin(st, &rd));
    int truncated;
    struct kvs_record_view seen[4];
    size_t n_seen = 0;
    ASSERT_OK(kvs_storage_keys_list(rd, kvs_slice_of(s.id), KVS_SLICE_LIT(""), KVS_SLICE_LIT(""),
                                    10, KVS_KEYS_WITH_VALUES, keep_view,
                                    &(struct views){seen, &n_seen}, &truncated));
    ASSERT_EQ(n_seen, 3); /* hot, j, k */
    ASSERT_EQ(seen[0].version, last);
    ASSERT_OK(version_of(st, s.id, "j", &v, NULL));
    ASSERT_EQ(seen[1].version, v);
    kvs_storage_read_end(rd);

    /* Across a reopen versions go on growing, in this store and in another. */
    kvs_storage_close(st);
    st = storage_open();
    w = record_write(s.id, "k", "after reopen");
    ASSERT_OK(kvs_storage_write(st, &w));
    ASSERT(w.version > last);
    w = record_write(other.id, "k", "elsewhere");
    ASSERT_OK(kvs_storage_write(st, &w));
    ASSERT(w.version > 0);
    kvs_store_clear(&s);
    kvs_store_clear(&other);
    kvs_storage_close(st);
}

TEST(storage_conditional_writes)
{
    struct kvs_storage *st = storage_open();
    struct kvs_user alice;
    struct kvs_store s;
    setup(st, &alice, &s);

    /* If-None-Match: * creates only when the key is absent. */
    struct kvs_precond p;
    struct kvs_write w = record_write(s.id, "k", "first");
    when(&w, &p, KVS_H_IF_NONE_MATCH, "*");
    ASSERT_OK(kvs_storage_write(st, &w));
    uint64_t v1 = w.version;
    w = record_write(s.id, "k", "second");
    when(&w, &p, KVS_H_IF_NONE_MATCH, "*");
    ASSERT_ERR(kvs_storage_write(st, &w), KVS_EPRECOND);
    ASSERT_EQ(w.version, 0);
    char *val;
    size_t n;
    ASSERT_OK(ts_get(st, s.id, "k", &val, &n));
    ASSERT_MEM_EQ(val, n, "first");
    free(val);

    /* If-Match: the current version passes (either form of its tag, in a list), an old or
     * foreign or weak one fails and nothing changes. */
    w = record_write(s.id, "k", "second");
    when(&w, &p, KVS_H_IF_MATCH, "\"0\", \"nope\"");
    when(&w, &p, KVS_H_IF_MATCH, etag(v1));
    ASSERT_OK(kvs_storage_write(st, &w));
    uint64_t v2 = w.version;
    const char *stale[] = {etag(v1), "\"something-else\"", "W/\"x\""};
    for (size_t i = 0; i < 3; i++) {
        w = record_write(s.id, "k", "lost update");
        when(&w, &p, KVS_H_IF_MATCH, stale[i]);
        ASSERT_ERR(kvs_storage_write(st, &w), KVS_EPRECOND);
    }
    char weak[KVS_ETAG_MAX + 2] = "W/";
    strcat(weak, etag(v2));
    w = record_write(s.id, "k", "lost update");
    when(&w, &p, KVS_H_IF_MATCH, weak); /* If-Match compares strongly */
    ASSERT_ERR(kvs_storage_write(st, &w), KVS_EPRECOND);
    char decoded[KVS_ETAG_MAX];
    kvs_etag_format(v2, 1, decoded);
    w = record_write(s.id, "k", "third");
    when(&w, &p, KVS_H_IF_MATCH, decoded);
    ASSERT_OK(kvs_storage_write(st, &w));
    uint64_t v3 = w.version;
    ASSERT_OK(ts_get(st, s.id, "k", &val, &n));
    ASSERT_MEM_EQ(val, n, "third");
    free(val);

    /* If-Match: * needs the record; If-None-Match with its tag fails, with another passes. */
    w = record_write(s.id, "absent", "no");
    when(&w, &p, KVS_H_IF_MATCH, "*");
    ASSERT_ERR(kvs_storage_write(st, &w), KVS_EPRECOND);
    ASSERT_ERR(ts_get(st, s.id, "absent", &val, &n), KVS_ENOTFOUND);
    w = record_write(s.id, "k", "no");
    when(&w, &p, KVS_H_IF_NONE_MATCH, etag(v3));
    ASSERT_ERR(kvs_storage_write(st, &w), KVS_EPRECOND);
    w = record_write(s.id, "k", "fourth");
    when(&w, &p, KVS_H_IF_NONE_MATCH, etag(v1));
    ASSERT_OK(kvs_storage_write(st, &w));
    uint64_t v4 = w.version;
    int64_t m4 = w.modified_ms;

    /* If-Unmodified-Since, in whole seconds. */
    char date[KVS_HTTPDATE_LEN + 1];
    kvs_httpdate_format(m4 / 1000 - 1, date);
    w = record_write(s.id, "k", "no");
    when(&w, &p, KVS_H_IF_UNMODIFIED_SINCE, date);
    ASSERT_ERR(kvs_storage_write(st, &w), KVS_EPRECOND);
    kvs_httpdate_format(m4 / 1000, date);
    w = record_write(s.id, "k", "fifth");
    when(&w, &p, KVS_H_IF_UNMODIFIED_SINCE, date);
    ASSERT_OK(kvs_storage_write(st, &w));
    uint64_t v5 = w.version;

    /* Deletes: a stale If-Match keeps the record; the current one deletes it; If-Match: * of a
     * missing key fails, If-None-Match: * of it passes (and deletes nothing). */
    w = record_write(s.id, "k", NULL);
    when(&w, &p, KVS_H_IF_MATCH, etag(v4));
    ASSERT_ERR(kvs_storage_write(st, &w), KVS_EPRECOND);
    ASSERT_OK(version_of(st, s.id, "k", &v1, NULL));
    ASSERT_EQ(v1, v5);
    w = record_write(s.id, "k", NULL);
    when(&w, &p, KVS_H_IF_MATCH, etag(v5));
    ASSERT_OK(kvs_storage_write(st, &w));
    ASSERT_ERR(ts_get(st, s.id, "k", &val, &n), KVS_ENOTFOUND);
    w = record_write(s.id, "k", NULL);
    when(&w, &p, KVS_H_IF_MATCH, "*");
    ASSERT_ERR(kvs_storage_write(st, &w), KVS_EPRECOND);
    w = record_write(s.id, "k", NULL);
    when(&w, &p, KVS_H_IF_NONE_MATCH, "*");
    ASSERT_OK(kvs_storage_write(st, &w));

    /* A missing store is not found, whatever the preconditions. */
    w = record_write("AAAAAAAAAAAAAAAAA", "k", "x");
    when(&w, &p, KVS_H_IF_MATCH, "*");
    ASSERT_ERR(kvs_storage_write(st, &w), KVS_ENOTFOUND);

    /* Failed conditions counted nothing: 5 puts (one create, four replaces) and 1 delete. */
    struct kvs_store got;
    ASSERT_OK(ts_store_get(st, s.id, &got));
    ASSERT_EQ(got.stats.write_count, 5);
    ASSERT_EQ(got.stats.delete_count, 1);
    ASSERT_EQ(got.stats.record_count, 0);
    ASSERT_EQ(got.stats.storage_bytes, 0);
    kvs_store_clear(&got);
    kvs_store_clear(&s);
    kvs_storage_close(st);
}

TEST(storage_conditional_writes_in_one_batch)
{
    /* Conditional writes queued together go into one transaction, and each sees the effect of
     * those before it: two read-modify-writes from the same version, one wins. */
    struct kvs_storage *st = storage_open();
    struct kvs_user alice;
    struct kvs_store s;
    setup(st, &alice, &s);
    struct kvs_write w = record_write(s.id, "counter", "0");
    ASSERT_OK(kvs_storage_write(st, &w));
    uint64_t v0 = w.version;

    struct ts_gate g = TS_GATE_INIT;
    struct kvs_write hold = record_write(s.id, "hold", "x");
    ts_gate_hold(st, &g, &hold); /* the writer waits inside hold's callback */
    struct kvs_storage_counters before, after;
    kvs_storage_counters(st, &before);

    enum { N = 7 };
    struct kvs_precond ps[N];
    struct kvs_write ws[N] = {
        record_write(s.id, "counter", "1"), /* If-Match v0: wins */
        record_write(s.id, "counter", "1"), /* If-Match v0: sees the first, fails */
        record_write(s.id, "k", "a"),       /* If-None-Match: *: creates */
        record_write(s.id, "k", "b"),       /* If-None-Match: *: sees it, fails */
        record_write(s.id, "k", "c"),       /* If-Match: *: sees it, passes */
        record_write(s.id, "k", NULL),      /* If-Match: *: deletes */
        record_write(s.id, "k", "d"),       /* If-Match: *: sees the delete, fails */
    };
    when(&ws[0], &ps[0], KVS_H_IF_MATCH, etag(v0));
    when(&ws[1], &ps[1], KVS_H_IF_MATCH, etag(v0));
    when(&ws[2], &ps[2], KVS_H_IF_NONE_MATCH, "*");
    when(&ws[3], &ps[3], KVS_H_IF_NONE_MATCH, "*");
    for (int i = 4; i < N; i++)
        when(&ws[i], &ps[i], KVS_H_IF_MATCH, "*");
    struct ts_counter c = TS_COUNTER_INIT;
    for (int i = 0; i < N; i++) {
        ws[i].done = ts_counter_done;
        ws[i].arg = &c;
        ASSERT_OK(kvs_storage_submit(st, &ws[i]));
    }
    ts_gate_release(&g);
    ts_counter_wait(&c, N);
    kvs_storage_counters(st, &after);
    ASSERT_EQ(after.batches - before.batches, 1); /* all N in one transaction */
    ASSERT_EQ(after.writes - before.writes, N);

    const int want[N] = {0, KVS_EPRECOND, 0, KVS_EPRECOND, 0, 0, KVS_EPRECOND};
    for (int i = 0; i < N; i++)
        if (ws[i].result != want[i])
            TEST_FAIL_("write %d: %s, expected %s", i, kvs_errname(ws[i].result),
                       kvs_errname(want[i]));
    ASSERT(ws[0].version > v0);
    ASSERT(ws[4].version > ws[2].version);
    char *val;
    size_t n;
    ASSERT_OK(ts_get(st, s.id, "counter", &val, &n));
    ASSERT_MEM_EQ(val, n, "1");
    free(val);
    uint64_t v;
    ASSERT_OK(version_of(st, s.id, "counter", &v, NULL));
    ASSERT_EQ(v, ws[0].version);
    ASSERT_ERR(ts_get(st, s.id, "k", &val, &n), KVS_ENOTFOUND);
    kvs_store_clear(&s);
    kvs_storage_close(st);
}

TEST(storage_keys_empty_store)
{
    struct kvs_storage *st = storage_open();
    struct kvs_user alice;
    struct kvs_store s;
    setup(st, &alice, &s);
    struct ts_keys keys = {0};
    ASSERT_EQ(ts_list(st, s.id, "", "", 1000, &keys), 0);
    ASSERT_EQ(keys.n, 0);
    ASSERT_EQ(ts_list(st, s.id, "a", "b", 1, &keys), 0);
    ASSERT_EQ(keys.n, 0);
    /* A missing store lists as empty. */
    ASSERT_EQ(ts_list(st, "AAAAAAAAAAAAAAAAA", "", "", 1000, &keys), 0);
    ASSERT_EQ(keys.n, 0);
    /* A neighbouring store's keys never leak in. */
    struct kvs_store t;
    ASSERT_OK(ts_store(st, alice.id, "next", &t));
    put_edge_keys(st, t.id);
    ASSERT_EQ(ts_list(st, s.id, "", "", 1000, &keys), 0);
    ASSERT_EQ(keys.n, 0);
    kvs_store_clear(&t);
    kvs_store_clear(&s);
    kvs_storage_close(st);
}

TEST(storage_keys_order_and_edges)
{
    struct kvs_storage *st = storage_open();
    struct kvs_user alice;
    struct kvs_store s, before, after;
    setup(st, &alice, &s);
    /* Stores around it, so that a listing running off its store would show. */
    ASSERT_OK(ts_store(st, alice.id, "before", &before));
    ASSERT_OK(ts_store(st, alice.id, "after", &after));
    put_edge_keys(st, before.id);
    put_edge_keys(st, after.id);
    put_edge_keys(st, s.id);
    struct ts_keys k = {0};

    /* Everything, in byte order, with sizes. */
    ASSERT_EQ(ts_list(st, s.id, "", "", 1000, &k), 0);
    ts_keys_expect(&k, edge_keys);
    for (size_t i = 0; i < k.n; i++)
        ASSERT_EQ(k.sizes[i], strlen(k.keys[i]));

    /* Exactly LIMIT keys left: not truncated. One fewer: truncated. */
    ASSERT_EQ(ts_list(st, s.id, "", "", 10, &k), 0);
    ASSERT_EQ(k.n, 10);
    ASSERT_EQ(ts_list(st, s.id, "", "", 9, &k), 1);
    ASSERT_EQ(k.n, 9);
    ASSERT_EQ(ts_list(st, s.id, "", "a.b", 4, &k), 0);
    ts_keys_expect(&k, (const char *const[]){"a0", "ab", "b", NULL});
    ASSERT_EQ(ts_list(st, s.id, "", "a.b", 3, &k), 0);
    ASSERT_EQ(ts_list(st, s.id, "", "a.b", 2, &k), 1);
    ts_keys_expect(&k, (const char *const[]){"a0", "ab", NULL});

    /* The cursor is excluded; at the last key the page is empty and not truncated. */
    ASSERT_EQ(ts_list(st, s.id, "", "b", 5, &k), 0);
    ASSERT_EQ(k.n, 0);
    ASSERT_EQ(ts_list(st, s.id, "", "zzz", 5, &k), 0);
    ASSERT_EQ(k.n, 0);
    /* A cursor that is not a key. */
    ASSERT_EQ(ts_list(st, s.id, "", "a.c", 5, &k), 0);
    ts_keys_expect(&k, (const char *const[]){"a0", "ab", "b", NULL});
    ASSERT_EQ(ts_list(st, s.id, "", "!", 2, &k), 1);
    ts_keys_expect(&k, (const char *const[]){"(x)", "A", NULL});
    ASSERT_EQ(ts_list(st, s.id, "", "a-", 1, &k), 1);
    ts_keys_expect(&k, (const char *const[]){"a-b", NULL});

    /* Prefixes. */
    ASSERT_EQ(ts_list(st, s.id, "a", "", 100, &k), 0);
    ts_keys_expect(&k, (const char *const[]){"a", "a-b", "a.b", "a0", "ab", NULL});
    ASSERT_EQ(ts_list(st, s.id, "a", "", 5, &k), 0);
    ASSERT_EQ(ts_list(st, s.id, "a", "", 4, &k), 1);
    ASSERT_EQ(ts_list(st, s.id, "a.", "", 100, &k), 0);
    ts_keys_expect(&k, (const char *const[]){"a.b", NULL});
    ASSERT_EQ(ts_list(st, s.id, "(", "", 100, &k), 0);
    ts_keys_expect(&k, (const char *const[]){"(x)", NULL});
    ASSERT_EQ(ts_list(st, s.id, "zz", "", 100, &k), 0);
    ASSERT_EQ(k.n, 0);
    ASSERT_EQ(ts_list(st, s.id, "a-bc", "", 100, &k), 0);
    ASSERT_EQ(k.n, 0);
    ASSERT_EQ(ts_list(st, s.id, "b", "", 100, &k), 0); /* the last key */
    ts_keys_expect(&k, (const char *const[]){"b", NULL});

    /* Prefix and cursor together. */
    ASSERT_EQ(ts_list(st, s.id, "a", "a-b", 100, &k), 0);
    ts_keys_expect(&k, (const char *const[]){"a.b", "a0", "ab", NULL});
    ASSERT_EQ(ts_list(st, s.id, "a", "a-b", 2, &k), 1);
    ts_keys_expect(&k, (const char *const[]){"a.b", "a0", NULL});
    ASSERT_EQ(ts_list(st, s.id, "a", "a0", 1, &k), 0);
    ts_keys_expect(&k, (const char *const[]){"ab", NULL});
    ASSERT_EQ(ts_list(st, s.id, "a", "a", 100, &k), 0); /* the cursor is the prefix itself */
    ts_keys_expect(&k, (const char *const[]){"a-b", "a.b", "a0", "ab", NULL});
    ASSERT_EQ(ts_list(st, s.id, "a", "A", 2, &k), 1); /* a cursor before the prefix */
    ts_keys_expect(&k, (const char *const[]){"a", "a-b", NULL});
    ASSERT_EQ(ts_list(st, s.id, "a", "ab", 100, &k), 0); /* the last key with the prefix */
    ASSERT_EQ(k.n, 0);
    ASSERT_EQ(ts_list(st, s.id, "a", "b", 100, &k), 0); /* a cursor past the prefix */
    ASSERT_EQ(k.n, 0);

    ts_keys_free(&k);
    kvs_store_clear(&before);
    kvs_store_clear(&after);
    kvs_store_clear(&s);
    kvs_storage_close(st);
}

/* Stops the listing after two keys; checks the values that come with them. */
static int two_with_values(void *arg, const struct kvs_key_view *k)
{
    int *seen = arg;
    ASSERT_MEM_EQ(k->rec.value.p, k->rec.value.n, *seen == 0 ? "(x)" : "A");
    ASSERT_MEM_EQ(k->rec.content_type.p, k->rec.content_type.n, "application/octet-stream");
    ASSERT_EQ(k->rec.encoding, KVS_ENC_IDENTITY);
    ASSERT_EQ(k->size, k->rec.value.n);
    return ++*seen == 2 ? 42 : 0;
}

/* Checks the type that comes with each key, and keeps the keys. */
static int types_only(void *arg, const struct kvs_key_view *k)
{
    ASSERT_MEM_EQ(k->rec.content_type.p, k->rec.content_type.n, "application/octet-stream");
    ASSERT_EQ(k->rec.encoding, KVS_ENC_IDENTITY);
    return ts_keys_cb(arg, k);
}

TEST(storage_keys_values_and_stop)
{
    struct kvs_storage *st = storage_open();
    struct kvs_user alice;
    struct kvs_store s;
    setup(st, &alice, &s);
    put_edge_keys(st, s.id);
    struct kvs_read *rd;
    ASSERT_OK(kvs_storage_read_begin(st, &rd));
    int seen = 0, truncated = 0;
    ASSERT_EQ(kvs_storage_keys_list(rd, kvs_slice_of(s.id), KVS_SLICE_LIT(""), KVS_SLICE_LIT(""),
                                    100, KVS_KEYS_WITH_VALUES, two_with_values, &seen, &truncated),
              42);
    ASSERT_EQ(seen, 2);
    /* Only their types: what a listing of content types asks for. */
    struct ts_keys k = {0};
    ASSERT_OK(kvs_storage_keys_list(rd, kvs_slice_of(s.id), KVS_SLICE_LIT(""), KVS_SLICE_LIT(""),
                                    100, KVS_KEYS_WITH_TYPES, types_only, &k, &truncated));
    ASSERT_EQ(k.n, 10);
    ts_keys_free(&k);
    kvs_storage_read_end(rd);
    kvs_store_clear(&s);
    kvs_storage_close(st);
}

/* Key I of the 2,500-key store: mixed lengths and characters, edge keys included. */
static void mixed_key(size_t i, char key[KVS_KEY_MAX + 1])
{
    static const char *const fixed[] = {"A", "a", "a.b", "a-b", "(x)", "a_b", "Z", "z", "0", "~"};
    static const char alphabet[] =
        "!'()-._0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    if (i < 10) {
        strcpy(key, fixed[i]);
        return;
    }
    size_t len = 1 + (i * 7) % 13, x = i * 2654435761u;
    for (size_t j = 0; j < len; j++, x = x * 6364136223846793005u + 1442695040888963407u)
        key[j] = alphabet[(x >> 33) % (sizeof alphabet - 1)];
    /* Unique by construction: the index, as 4 hex digits, ends every generated key. */
    snprintf(key + len, KVS_KEY_MAX + 1 - len, "%04zx", i);
}

static int cmp_bytes(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b); /* keys hold no NUL: byte order */
}

TEST(storage_keys_paging_2500)
{
    struct kvs_storage *st = storage_open();
    struct kvs_user alice;
    struct kvs_store s;
    setup(st, &alice, &s);
    enum { N = 2500 };
    ts_bulk_put(st, s.id, N, mixed_key, "v");

    char **want = calloc(N, sizeof *want);
    ASSERT(want != NULL);
    for (size_t i = 0; i < N; i++) {
        want[i] = malloc(KVS_KEY_MAX + 1);
        ASSERT(want[i] != NULL);
        mixed_key(i, want[i]);
    }
    qsort(want, N, sizeof *want, cmp_bytes);
    for (size_t i = 1; i < N; i++)
        ASSERT(strcmp(want[i - 1], want[i]) < 0); /* all distinct */

    struct ts_keys page = {0};
    char cursor[KVS_KEY_MAX + 1] = "";
    size_t seen = 0;
    int pages = 0;
    for (;;) {
        int truncated = ts_list(st, s.id, "", cursor, 1000, &page);
        pages++;
        for (size_t i = 0; i < page.n; i++)
            ASSERT_STR_EQ(page.keys[i], want[seen + i]);
        seen += page.n;
        ASSERT_EQ(truncated, seen < N);
        if (!truncated)
            break;
        strcpy(cursor, page.keys[page.n - 1]);
    }
    ASSERT_EQ(seen, N);
    ASSERT_EQ(pages, 3);

    struct kvs_store got;
    ASSERT_OK(ts_store_get(st, s.id, &got));
    ASSERT_EQ(got.stats.record_count, N);
    kvs_store_clear(&got);

    ts_keys_free(&page);
    for (size_t i = 0; i < N; i++)
        free(want[i]);
    free(want);
    kvs_store_clear(&s);
    kvs_storage_close(st);
}

/* ==== statistics ============================================================================ */

TEST(storage_stats)
{
    struct kvs_storage *st = storage_open();
    struct kvs_user alice;
    struct kvs_store s, got;
    setup(st, &alice, &s);

    ASSERT_OK(ts_put_str(st, s.id, "k1", "12345"));      /* 2 + 5 */
    ASSERT_OK(ts_put_str(st, s.id, "k2", "1234567890")); /* 2 + 10 */
    ASSERT_OK(ts_put_str(st, s.id, "key3", ""));         /* 4 + 0 */
    ASSERT_OK(ts_store_get(st, s.id, &got));
    ASSERT_EQ(got.stats.write_count, 3);
    ASSERT_EQ(got.stats.record_count, 3);
    ASSERT_EQ(got.stats.storage_bytes, 7 + 12 + 4);
    ASSERT_EQ(got.stats.delete_count, 0);
    ASSERT(got.modified_ms >= s.modified_ms);
    kvs_store_clear(&got);

    /* Replace: counted as a write; the bytes follow the new size. */
    ASSERT_OK(ts_put_str(st, s.id, "k2", "1"));
    /* Delete: counted; a delete of a missing key changes nothing. */
    ASSERT_OK(ts_del(st, s.id, "k1"));
    ASSERT_OK(ts_del(st, s.id, "missing"));
    ASSERT_OK(ts_store_get(st, s.id, &got));
    ASSERT_EQ(got.stats.write_count, 4);
    ASSERT_EQ(got.stats.delete_count, 1);
    ASSERT_EQ(got.stats.record_count, 2);
    ASSERT_EQ(got.stats.storage_bytes, 3 + 4);
    ASSERT_EQ(got.stats.read_count, 0);
    int64_t modified = got.modified_ms;
    kvs_store_clear(&got);

    /* Reads and lists are counted in memory, and shown at once. */
    usleep(2000);
    for (int i = 0; i < 3; i++)
        kvs_storage_note_access(st, s.id, KVS_NOTE_READ);
    kvs_storage_note_access(st, s.id, KVS_NOTE_LIST);
    kvs_storage_note_access(st, s.id, KVS_NOTE_LIST | KVS_NOTE_READ);
    kvs_storage_note_access(st, s.id, KVS_NOTE_ACCESS);
    ASSERT_OK(ts_store_get(st, s.id, &got));
    ASSERT_EQ(got.stats.read_count, 4);
    ASSERT_EQ(got.stats.list_count, 2);
    ASSERT_EQ(got.modified_ms, modified); /* reads do not modify */
    ASSERT(got.accessed_ms > modified);
    int64_t accessed = got.accessed_ms;
    kvs_store_clear(&got);

    /* Also through the name and the listing. */
    struct kvs_read *rd;
    ASSERT_OK(kvs_storage_read_begin(st, &rd));
    ASSERT_OK(kvs_storage_store_by_name(rd, kvs_slice_of(alice.id), KVS_SLICE_LIT("main"), &got));
    ASSERT_EQ(got.stats.read_count, 4);
    ASSERT_EQ(got.stats.list_count, 2);
    kvs_store_clear(&got);
    kvs_storage_read_end(rd);

    /* A write batch stores them; the sums stay the same. */
    ASSERT_OK(ts_put_str(st, s.id, "k9", "x"));
    kvs_storage_note_access(st, s.id, KVS_NOTE_READ);
    ASSERT_OK(ts_store_get(st, s.id, &got));
    ASSERT_EQ(got.stats.read_count, 5);
    ASSERT_EQ(got.stats.list_count, 2);
    ASSERT_EQ(got.stats.write_count, 5);
    kvs_store_clear(&got);

    /* And they survive a restart: close flushes what is still in memory. */
    kvs_storage_note_access(st, s.id, KVS_NOTE_LIST);
    kvs_storage_close(st);
    st = storage_open();
    ASSERT_OK(ts_store_get(st, s.id, &got));
    ASSERT_EQ(got.stats.read_count, 5);
    ASSERT_EQ(got.stats.list_count, 3);
    ASSERT_EQ(got.stats.write_count, 5);
    ASSERT_EQ(got.stats.delete_count, 1);
    ASSERT_EQ(got.stats.record_count, 3);
    ASSERT_EQ(got.stats.storage_bytes, 3 + 4 + 3);
    ASSERT(got.accessed_ms >= accessed);
    kvs_store_clear(&got);

    kvs_store_clear(&s);
    kvs_storage_close(st);
}

/* Counts the stores listed and checks their pending statistics. */
static int count_reads(void *arg, const struct kvs_store *s)
{
    uint64_t *sum = arg;
    *sum += s->stats.read_count;
    return 0;
}

TEST(storage_stats_flushed_without_writes)
{
    struct kvs_storage *st = storage_open();
    struct kvs_user alice;
    struct kvs_store s, t;
    setup(st, &alice, &s);
    ASSERT_OK(ts_store(st, alice.id, "", &t));
    /* Many stores' worth of notes (they share stripes), then time for a flush. */
    for (int i = 0; i < 1000; i++)
        kvs_storage_note_access(st, i % 2 ? s.id : t.id, KVS_NOTE_READ);
    uint64_t sum = 0, total = 0;
    struct kvs_read *rd;
    ASSERT_OK(kvs_storage_read_begin(st, &rd));
    ASSERT_OK(
        kvs_storage_store_list(rd, kvs_slice_of(alice.id), 0, 10, 0, 1, count_reads, &sum, &total));
    kvs_storage_read_end(rd);
    ASSERT_EQ(total, 2);
    ASSERT_EQ(sum, 1000);
    /* The writer stores them within about a second, with no write to carry them; they are
     * then counted once, not twice. */
    usleep(2500 * 1000);
    sum = 0;
    ASSERT_OK(kvs_storage_read_begin(st, &rd));
    ASSERT_OK(
        kvs_storage_store_list(rd, kvs_slice_of(alice.id), 0, 10, 0, 1, count_reads, &sum, &total));
    kvs_storage_read_end(rd);
    ASSERT_EQ(sum, 1000);
    kvs_store_clear(&s);
    kvs_store_clear(&t);
    kvs_storage_close(st);
}

/* ==== durability, batching, isolation ======================================================= */

TEST(storage_durable_across_reopen)
{
    struct kvs_storage *st = storage_open();
    struct kvs_user alice;
    struct kvs_store s;
    setup(st, &alice, &s);
    ASSERT_OK(ts_put_str(st, s.id, "k", "persisted"));
    kvs_storage_close(st);

    st = storage_open();
    char *v;
    size_t n;
    ASSERT_OK(ts_get(st, s.id, "k", &v, &n));
    ASSERT_MEM_EQ(v, n, "persisted");
    free(v);
    struct kvs_read *rd;
    ASSERT_OK(kvs_storage_read_begin(st, &rd));
    struct kvs_user u;
    uint8_t hash[KVS_TOKEN_HASH_LEN];
    kvs_token_hash(KVS_SLICE_LIT("tok-alice"), hash);
    ASSERT_OK(kvs_storage_user_by_token(rd, hash, &u));
    ASSERT_STR_EQ(u.id, alice.id);
    struct kvs_store got;
    ASSERT_OK(kvs_storage_store_by_name(rd, kvs_slice_of(alice.id), KVS_SLICE_LIT("main"), &got));
    ASSERT_STR_EQ(got.id, s.id);
    ASSERT_STR_EQ(got.secret, s.secret);
    kvs_store_clear(&got);
    kvs_storage_read_end(rd);
    kvs_store_clear(&s);
    kvs_storage_close(st);
}

struct submitter {
    struct kvs_storage *st;
    const char *store_id;
    int thread;
    struct ts_counter *counter;
};

enum { GC_THREADS = 8, GC_WRITES = 200 };

static void *submit_many(void *arg)
{
    struct submitter *sub = arg;
    struct kvs_write *ws = calloc(GC_WRITES, sizeof *ws);
    char(*keys)[32] = calloc(GC_WRITES, sizeof *keys);
    ASSERT(ws != NULL && keys != NULL);
    for (int i = 0; i < GC_WRITES; i++) {
        snprintf(keys[i], sizeof keys[i], "t%d-%03d", sub->thread, i);
        ws[i].op = KVS_W_RECORD_PUT;
        strcpy(ws[i].store_id, sub->store_id);
        ws[i].key = kvs_slice_of(keys[i]);
        ws[i].value = kvs_slice_of(keys[i]);
        ws[i].content_type = KVS_SLICE_LIT("text/plain");
        ws[i].done = ts_counter_done;
        ws[i].arg = sub->counter;
        ASSERT_OK(kvs_storage_submit(sub->st, &ws[i]));
    }
    /* The writes belong to the storage until their callbacks ran. */
    ts_counter_wait(sub->counter, (size_t)GC_THREADS * GC_WRITES);
    free(keys);
    free(ws);
    return NULL;
}

TEST(storage_group_commit)
{
    struct kvs_storage *st = storage_open();
    struct kvs_user alice;
    struct kvs_store s;
    setup(st, &alice, &s);
    struct kvs_storage_counters before, after;
    kvs_storage_counters(st, &before);

    struct ts_counter c = TS_COUNTER_INIT;
    pthread_t threads[GC_THREADS];
    struct submitter subs[GC_THREADS];
    for (int t = 0; t < GC_THREADS; t++) {
        subs[t] = (struct submitter){.st = st, .store_id = s.id, .thread = t, .counter = &c};
        ASSERT_EQ(pthread_create(&threads[t], NULL, submit_many, &subs[t]), 0);
    }
    for (int t = 0; t < GC_THREADS; t++)
        ASSERT_EQ(pthread_join(threads[t], NULL), 0);
    ASSERT_EQ(c.done, GC_THREADS * GC_WRITES);
    ASSERT_EQ(c.failed, 0);

    kvs_storage_counters(st, &after);
    uint64_t writes = after.writes - before.writes, batches = after.batches - before.batches;
    ASSERT_EQ(writes, GC_THREADS * GC_WRITES);
    ASSERT(batches >= 1);
    ASSERT(batches < writes); /* writes shared transactions */

    /* All of them durable. */
    kvs_storage_close(st);
    st = storage_open();
    struct ts_keys keys = {0};
    ASSERT_EQ(ts_list(st, s.id, "", "", 10000, &keys), 0);
    ASSERT_EQ(keys.n, GC_THREADS * GC_WRITES);
    struct kvs_store got;
    ASSERT_OK(ts_store_get(st, s.id, &got));
    ASSERT_EQ(got.stats.record_count, GC_THREADS * GC_WRITES);
    ASSERT_EQ(got.stats.write_count, GC_THREADS * GC_WRITES);
    kvs_store_clear(&got);
    char *v;
    size_t n;
    ASSERT_OK(ts_get(st, s.id, "t7-199", &v, &n));
    ASSERT_MEM_EQ(v, n, "t7-199");
    free(v);
    ts_keys_free(&keys);
    kvs_store_clear(&s);
    kvs_storage_close(st);
}

TEST(storage_batch_isolates_failures)
{
    /* A batch where some writes fail logically: the others still commit. */
    struct kvs_storage *st = storage_open();
    struct kvs_user alice;
    struct kvs_store s;
    setup(st, &alice, &s);
    ASSERT_OK(ts_store(st, alice.id, "taken", &(struct kvs_store){0}));

    enum { N = 6 };
    struct kvs_write ws[N];
    memset(ws, 0, sizeof ws);
    struct ts_counter c = TS_COUNTER_INIT;
    for (int i = 0; i < N; i++) {
        ws[i].op = KVS_W_RECORD_PUT;
        strcpy(ws[i].store_id, s.id);
        ws[i].key = KVS_SLICE_LIT("ok");
        ws[i].value = KVS_SLICE_LIT("fine");
        ws[i].done = ts_counter_done;
        ws[i].arg = &c;
    }
    strcpy(ws[1].store_id, "AAAAAAAAAAAAAAAAA"); /* no such store */
    ws[2].key = KVS_SLICE_LIT("");               /* invalid */
    ws[3].op = KVS_W_STORE_UPDATE;               /* name taken */
    ws[3].update_mask = KVS_UPD_NAME | KVS_UPD_TITLE;
    strcpy(ws[3].store.name, "taken");
    strcpy(ws[3].store.title, "must not stick");
    ws[4].key = KVS_SLICE_LIT("ok2");
    ws[5].op = KVS_W_RECORD_DELETE; /* the record put just before */
    ws[5].key = KVS_SLICE_LIT("ok2");
    for (int i = 0; i < N; i++)
        ASSERT_OK(kvs_storage_submit(st, &ws[i]));
    ts_counter_wait(&c, N);
    ASSERT_OK(ws[0].result);
    ASSERT_ERR(ws[1].result, KVS_ENOTFOUND);
    ASSERT_ERR(ws[2].result, KVS_EINVAL);
    ASSERT_ERR(ws[3].result, KVS_ENAMETAKEN);
    ASSERT_OK(ws[4].result);
    ASSERT_OK(ws[5].result);
    ASSERT_STR_EQ(ws[3].store.title, "must not stick"); /* untouched on failure */

    char *v;
    size_t n;
    ASSERT_OK(ts_get(st, s.id, "ok", &v, &n));
    ASSERT_MEM_EQ(v, n, "fine");
    free(v);
    ASSERT_ERR(ts_get(st, s.id, "ok2", &v, &n), KVS_ENOTFOUND);
    struct kvs_store got;
    ASSERT_OK(ts_store_get(st, s.id, &got));
    ASSERT_STR_EQ(got.name, "main");
    ASSERT_STR_EQ(got.title, "");
    ASSERT_EQ(got.stats.write_count, 2);
    ASSERT_EQ(got.stats.delete_count, 1);
    ASSERT_EQ(got.stats.record_count, 1);
    kvs_store_clear(&got);
    kvs_store_clear(&s);
    kvs_storage_close(st);
}

/* With KVS_CAP_SNAPSHOT a read is one snapshot; without, each lookup is. Either way a view
 * stays valid, with the bytes it had, until its read ends. */
TEST(storage_snapshot_isolation)
{
    struct kvs_storage *st = storage_open();
    struct kvs_user alice;
    struct kvs_store s;
    setup(st, &alice, &s);
    ASSERT_OK(ts_put_str(st, s.id, "k", "old"));

    struct kvs_read *before;
    ASSERT_OK(kvs_storage_read_begin(st, &before));
    struct kvs_record_view rec, rec_k2;
    if (!(kvs_storage_caps(st) & KVS_CAP_SNAPSHOT)) /* a view from before the writes */
        ASSERT_OK(kvs_storage_record_get(before, kvs_slice_of(s.id), KVS_SLICE_LIT("k"), &rec));
    ASSERT_OK(ts_put_str(st, s.id, "k", "new"));
    ASSERT_OK(ts_put_str(st, s.id, "k2", "added"));
    struct kvs_store later;
    ASSERT_OK(ts_store(st, alice.id, "later", &later));

    struct kvs_store got;
    int truncated, snapshot = (kvs_storage_caps(st) & KVS_CAP_SNAPSHOT) != 0;
    struct ts_keys keys = {0};
    if (snapshot) {
        /* The old read still sees the old state, through every kind of read. */
        ASSERT_OK(kvs_storage_record_get(before, kvs_slice_of(s.id), KVS_SLICE_LIT("k"), &rec));
        ASSERT_MEM_EQ(rec.value.p, rec.value.n, "old");
        ASSERT_ERR(kvs_storage_record_get(before, kvs_slice_of(s.id), KVS_SLICE_LIT("k2"), &rec_k2),
                   KVS_ENOTFOUND);
        ASSERT_ERR(kvs_storage_store_get(before, kvs_slice_of(later.id), &got), KVS_ENOTFOUND);
        ASSERT_OK(kvs_storage_store_get(before, kvs_slice_of(s.id), &got));
        ASSERT_EQ(got.stats.write_count, 1);
        kvs_store_clear(&got);
    } else {
        /* Each lookup is a snapshot of its own: the read's later lookups see what committed
         * since, while the view taken before the writes keeps the old bytes. */
        ASSERT_MEM_EQ(rec.value.p, rec.value.n, "old");
        ASSERT_OK(kvs_storage_record_get(before, kvs_slice_of(s.id), KVS_SLICE_LIT("k2"), &rec_k2));
        ASSERT_MEM_EQ(rec_k2.value.p, rec_k2.value.n, "added");
        ASSERT_OK(kvs_storage_store_get(before, kvs_slice_of(later.id), &got));
        kvs_store_clear(&got);
        ASSERT_OK(kvs_storage_store_get(before, kvs_slice_of(s.id), &got));
        ASSERT_EQ(got.stats.write_count, 3);
        kvs_store_clear(&got);
    }
    ASSERT_OK(kvs_storage_keys_list(before, kvs_slice_of(s.id), KVS_SLICE_LIT(""),
                                    KVS_SLICE_LIT(""), 10, 0, ts_keys_cb, &keys, &truncated));
    ASSERT_EQ(keys.n, snapshot ? 1 : 2);

    /* A new read sees the new state; the old read's views stay valid meanwhile. */
    struct kvs_read *now;
    ASSERT_OK(kvs_storage_read_begin(st, &now));
    struct kvs_record_view rec2;
    ASSERT_OK(kvs_storage_record_get(now, kvs_slice_of(s.id), KVS_SLICE_LIT("k"), &rec2));
    ASSERT_MEM_EQ(rec2.value.p, rec2.value.n, "new");
    ASSERT_MEM_EQ(rec.value.p, rec.value.n, "old");
    kvs_storage_read_end(now);
    kvs_storage_read_end(before);

    ts_keys_free(&keys);
    kvs_store_clear(&later);
    kvs_store_clear(&s);
    kvs_storage_close(st);
}

/* A read begun on one thread and ended on another (the HTTP layer does this). */
static void *end_read(void *arg)
{
    kvs_storage_read_end(arg);
    return NULL;
}

TEST(storage_read_ends_on_other_thread)
{
    struct kvs_storage *st = storage_open();
    struct kvs_user alice;
    struct kvs_store s;
    setup(st, &alice, &s);
    for (int i = 0; i < 50; i++) {
        struct kvs_read *rd;
        ASSERT_OK(kvs_storage_read_begin(st, &rd));
        struct kvs_store got;
        ASSERT_OK(kvs_storage_store_get(rd, kvs_slice_of(s.id), &got));
        kvs_store_clear(&got);
        pthread_t t;
        ASSERT_EQ(pthread_create(&t, NULL, end_read, rd), 0);
        ASSERT_EQ(pthread_join(t, NULL), 0);
    }
    ASSERT_OK(ts_put_str(st, s.id, "k", "v"));
    kvs_store_clear(&s);
    kvs_storage_close(st);
}

/* ---- submitting while the storage closes ---- */

enum { CLOSE_SLOTS = 20000 };

struct close_race {
    struct kvs_storage *st;
    char store_id[KVS_ID_LEN + 1];
    struct kvs_write *slots; /* CLOSE_SLOTS writes */
    char (*keys)[16];        /* and their keys */
    size_t accepted;         /* writes submitted with 0 from the callback */
    size_t ran;              /* their callbacks */
    int refused;             /* a submit returned KVS_EUNAVAIL */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int entered;
};

static void counted_done(struct kvs_write *w)
{
    struct close_race *r = w->arg;
    r->ran++; /* only the writer thread touches it */
}

/* Runs on the writer: queues more writes than one batch takes, then submits until the
 * storage refuses because it is closing. */
static void submit_until_refused(struct kvs_write *w)
{
    struct close_race *r = w->arg;
    while (r->accepted < CLOSE_SLOTS) {
        if (r->accepted == 3000) {
            pthread_mutex_lock(&r->mu);
            r->entered = 1;
            pthread_cond_broadcast(&r->cv);
            pthread_mutex_unlock(&r->mu);
        }
        struct kvs_write *x = &r->slots[r->accepted];
        x->op = KVS_W_RECORD_PUT;
        strcpy(x->store_id, r->store_id);
        snprintf(r->keys[r->accepted], sizeof r->keys[0], "late%05zu", r->accepted);
        x->key = kvs_slice_of(r->keys[r->accepted]);
        x->value = KVS_SLICE_LIT("v");
        x->done = counted_done;
        x->arg = r;
        int rc = kvs_storage_submit(r->st, x);
        if (rc != 0) {
            ASSERT_ERR(rc, KVS_EUNAVAIL);
            r->refused = 1;
            return;
        }
        r->accepted++;
        if (r->accepted > 3000)
            usleep(100);
    }
}

static void *close_storage(void *arg)
{
    kvs_storage_close(arg);
    return NULL;
}

TEST(storage_submit_during_close)
{
    struct kvs_storage *st = storage_open();
    struct kvs_user alice;
    struct kvs_store s;
    setup(st, &alice, &s);
    struct close_race r = {
        .st = st, .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    strcpy(r.store_id, s.id);
    r.slots = calloc(CLOSE_SLOTS, sizeof *r.slots);
    r.keys = calloc(CLOSE_SLOTS, sizeof *r.keys);
    ASSERT(r.slots != NULL && r.keys != NULL);

    struct kvs_write first = {.op = KVS_W_RECORD_PUT, .done = submit_until_refused, .arg = &r};
    strcpy(first.store_id, s.id);
    first.key = KVS_SLICE_LIT("first");
    first.value = KVS_SLICE_LIT("v");
    ASSERT_OK(kvs_storage_submit(st, &first));
    pthread_mutex_lock(&r.mu);
    while (!r.entered)
        pthread_cond_wait(&r.cv, &r.mu);
    pthread_mutex_unlock(&r.mu);

    /* Close while the callback keeps submitting: it must see KVS_EUNAVAIL, and every write
     * accepted before that must still run. */
    pthread_t t;
    ASSERT_EQ(pthread_create(&t, NULL, close_storage, st), 0);
    ASSERT_EQ(pthread_join(t, NULL), 0);
    ASSERT_EQ(r.refused, 1);
    ASSERT_EQ(r.ran, r.accepted);
    for (size_t i = 0; i < r.accepted; i++)
        ASSERT_OK(r.slots[i].result);

    st = storage_open();
    char *v;
    size_t n;
    ASSERT_OK(ts_get(st, s.id, "first", &v, &n));
    free(v);
    ASSERT(r.accepted >= 3000); /* more than one batch was waiting at close */
    struct ts_keys keys = {0};
    ASSERT_EQ(ts_list(st, s.id, "late", "", CLOSE_SLOTS, &keys), 0);
    ASSERT_EQ(keys.n, r.accepted);
    ts_keys_free(&keys);
    free(r.keys);
    free(r.slots);
    kvs_store_clear(&s);
    kvs_storage_close(st);
}

/* ==== tokens: prefixes, listing, revoking =================================================== */

/* Add TOKEN to user USER_ID. Returns the write's result. */
static int add_token(struct kvs_storage *st, const char *user_id, const char *token)
{
    struct kvs_write w = {.op = KVS_W_TOKEN_ADD};
    strcpy(w.user.id, user_id);
    kvs_token_hash(kvs_slice_of(token), w.token_hash);
    kvs_token_prefix(kvs_slice_of(token), w.token_prefix);
    return kvs_storage_write(st, &w);
}

/* Revoke by PREFIX (or, when PREFIX is NULL, by the whole TOKEN), among ONLY's tokens when
 * ONLY is not NULL. Returns the result; *OWNER (when not NULL) gets the token's owner. */
static int token_revoke(struct kvs_storage *st, const char *prefix, const char *token,
                        const char *only, struct kvs_user *owner)
{
    struct kvs_write w = {.op = KVS_W_TOKEN_REVOKE};
    if (prefix != NULL)
        w.key = kvs_slice_of(prefix);
    else
        kvs_token_hash(kvs_slice_of(token), w.token_hash);
    if (only != NULL)
        strcpy(w.user.id, only);
    int rc = kvs_storage_write(st, &w);
    if (owner != NULL)
        *owner = w.user;
    return rc;
}

/* Whether TOKEN opens anything: the ID of its user into OWNER_ID, or "" when it does not. */
static void token_owner(struct kvs_storage *st, const char *token, char owner_id[KVS_ID_LEN + 1])
{
    struct kvs_read *rd;
    ASSERT_OK(kvs_storage_read_begin(st, &rd));
    uint8_t hash[KVS_TOKEN_HASH_LEN];
    kvs_token_hash(kvs_slice_of(token), hash);
    struct kvs_user u;
    int rc = kvs_storage_user_by_token(rd, hash, &u);
    ASSERT(rc == 0 || rc == KVS_ENOTFOUND);
    strcpy(owner_id, rc == 0 ? u.id : "");
    kvs_storage_read_end(rd);
}

struct token_list {
    struct kvs_token_info t[16];
    size_t n;
};

static int collect_token(void *arg, const struct kvs_token_info *t)
{
    struct token_list *l = arg;
    ASSERT(l->n < 16);
    l->t[l->n++] = *t;
    return 0;
}

static void list_tokens(struct kvs_storage *st, const char *user_id, struct token_list *out)
{
    struct kvs_read *rd;
    ASSERT_OK(kvs_storage_read_begin(st, &rd));
    out->n = 0;
    ASSERT_OK(kvs_storage_token_list(rd, kvs_slice_of(user_id), collect_token, out));
    kvs_storage_read_end(rd);
}

/* Add TOKEN to user USER_ID limited by EXPIRES_MS and SCOPE. Returns the write's result. */
static int add_limited_token(struct kvs_storage *st, const char *user_id, const char *token,
                             int64_t expires_ms, kvs_slice scope)
{
    struct kvs_write w = {.op = KVS_W_TOKEN_ADD, .token_expires_ms = expires_ms,
                          .token_scope = scope};
    strcpy(w.user.id, user_id);
    kvs_token_hash(kvs_slice_of(token), w.token_hash);
    kvs_token_prefix(kvs_slice_of(token), w.token_prefix);
    return kvs_storage_write(st, &w);
}

/* What TOKEN opens: its user into *U and its limits into *G. */
static int token_get(struct kvs_storage *st, const char *token, struct kvs_user *u,
                     struct kvs_token_grant *g)
{
    struct kvs_read *rd;
    ASSERT_OK(kvs_storage_read_begin(st, &rd));
    uint8_t hash[KVS_TOKEN_HASH_LEN];
    kvs_token_hash(kvs_slice_of(token), hash);
    int rc = kvs_storage_token_get(rd, hash, u, g);
    kvs_storage_read_end(rd);
    return rc;
}

/* storage.h: a token's scope and expiry are kept as given beside it, read with it in one
 * lookup, listed with it, and go with it; a token without them reads back without. */
TEST(storage_token_scope_and_expiry)
{
    struct kvs_storage *st = storage_open();
    struct kvs_user alice, u;
    ts_user(st, "alice", "kvs_alice-first-token-00000000", &alice);
    static struct kvs_token_grant g; /* 4 KiB */
    const char *scope = "{\"stores\":[{\"namePrefix\":\"tmp-\",\"userId\":\"AAAAAAAAAAAAAAAAA\","
                        "\"access\":\"WRITE\"}],\"administration\":false}";
    ASSERT_OK(add_limited_token(st, alice.id, "kvs_alice-scoped-token-0000000", 1893456000000,
                                kvs_slice_of(scope)));
    ASSERT_OK(add_limited_token(st, alice.id, "kvs_alice-expiring-token-00000", 1700000000000,
                                (kvs_slice){"", 0}));
    ASSERT_OK(add_token(st, alice.id, "kvs_alice-plain-token-00000000"));

    ASSERT_OK(token_get(st, "kvs_alice-scoped-token-0000000", &u, &g));
    ASSERT_STR_EQ(u.id, alice.id);
    ASSERT_EQ(g.expires_ms, 1893456000000);
    ASSERT_MEM_EQ(g.scope, g.scope_n, scope);
    ASSERT_EQ(g.scope[g.scope_n], '\0');
    ASSERT_OK(token_get(st, "kvs_alice-expiring-token-00000", &u, &g));
    ASSERT_EQ(g.expires_ms, 1700000000000); /* kept as given: expiring is the API's to tell */
    ASSERT_EQ(g.scope_n, 0);
    for (const char *const *t = (const char *const[]){"kvs_alice-plain-token-00000000",
                                                       "kvs_alice-first-token-00000000", NULL};
         *t; t++) {
        ASSERT_OK(token_get(st, *t, &u, &g));
        ASSERT_EQ(g.expires_ms, 0);
        ASSERT_EQ(g.scope_n, 0);
        ASSERT_STR_EQ(g.scope, "");
    }
    ASSERT_ERR(token_get(st, "kvs_nobody-000000000000000000", &u, &g), KVS_ENOTFOUND);
    /* the plain lookup reads limited tokens too */
    char owner[KVS_ID_LEN + 1];
    token_owner(st, "kvs_alice-scoped-token-0000000", owner);
    ASSERT_STR_EQ(owner, alice.id);

    /* listed with their limits (made in one millisecond, their order is the back-end's) */
    struct token_list l;
    list_tokens(st, alice.id, &l);
    ASSERT_EQ(l.n, 4);
    static const struct {
        const char *token;
        int64_t expires_ms;
    } listed[] = {{"kvs_alice-first-token-00000000", 0},
                  {"kvs_alice-scoped-token-0000000", 1893456000000},
                  {"kvs_alice-expiring-token-00000", 1700000000000},
                  {"kvs_alice-plain-token-00000000", 0}};
    for (size_t i = 0; i < 4; i++) {
        size_t seen = 0;
        for (size_t j = 0; j < l.n; j++)
            if (l.t[j].prefix[0] &&
                strncmp(listed[i].token, l.t[j].prefix, strlen(l.t[j].prefix)) == 0) {
                ASSERT_EQ(l.t[j].expires_ms, listed[i].expires_ms);
                seen++;
            }
        ASSERT_EQ(seen, 1);
    }

    /* what cannot be stored */
    static char huge[KVS_TOKEN_SCOPE_MAX + 2];
    memset(huge, 'x', sizeof huge - 1);
    ASSERT_ERR(add_limited_token(st, alice.id, "kvs_alice-too-long-scope-00000", 0,
                                 (kvs_slice){huge, KVS_TOKEN_SCOPE_MAX + 1}),
               KVS_EINVAL);
    ASSERT_ERR(add_limited_token(st, alice.id, "kvs_alice-negative-expiry-0000", -5,
                                 (kvs_slice){"", 0}),
               KVS_EINVAL);
    ASSERT_ERR(token_get(st, "kvs_alice-too-long-scope-00000", &u, &g), KVS_ENOTFOUND);
    /* the largest scope fits */
    huge[0] = '{';
    ASSERT_OK(add_limited_token(st, alice.id, "kvs_alice-largest-scope-000000", 0,
                                (kvs_slice){huge, KVS_TOKEN_SCOPE_MAX}));
    ASSERT_OK(token_get(st, "kvs_alice-largest-scope-000000", &u, &g));
    ASSERT_EQ(g.scope_n, KVS_TOKEN_SCOPE_MAX);

    /* revoked, it opens nothing, whatever its limits */
    ASSERT_OK(token_revoke(st, NULL, "kvs_alice-scoped-token-0000000", NULL, NULL));
    ASSERT_ERR(token_get(st, "kvs_alice-scoped-token-0000000", &u, &g), KVS_ENOTFOUND);
    ASSERT_OK(token_revoke(st, "kvs_alice-ex", NULL, alice.id, NULL));
    ASSERT_ERR(token_get(st, "kvs_alice-expiring-token-00000", &u, &g), KVS_ENOTFOUND);
    list_tokens(st, alice.id, &l);
    ASSERT_EQ(l.n, 3);
    kvs_storage_close(st);
}

TEST(storage_token_prefix_of)
{
    char p[KVS_TOKEN_PREFIX_MAX + 1];
    ASSERT_EQ(kvs_token_prefix(KVS_SLICE_LIT("kvs_0123456789abcdefghijABCDEFGHIJ0123456789"), p),
              12);
    ASSERT_STR_EQ(p, "kvs_01234567");
    /* A short token keeps at least half of itself secret. */
    ASSERT_EQ(kvs_token_prefix(KVS_SLICE_LIT("abcdefghij"), p), 5);
    ASSERT_STR_EQ(p, "abcde");
    ASSERT_EQ(kvs_token_prefix(KVS_SLICE_LIT("a"), p), 0);
    ASSERT_STR_EQ(p, "");
}

TEST(storage_token_list_and_revoke)
{
    struct kvs_storage *st = storage_open();
    struct kvs_user alice, bob;
    ts_user(st, "alice", "kvs_alice000first-token-000000", &alice);
    ts_user(st, "bob", "kvs_bob00000first-token-000000", &bob);
    usleep(2000);
    ASSERT_OK(add_token(st, alice.id, "kvs_alice111second-token-00000"));
    usleep(2000);
    ASSERT_OK(add_token(st, alice.id, "kvs_alice222third-token-000000"));
    usleep(2000);
    ASSERT_OK(add_token(st, bob.id, "kvs_shared00bob-token-00000000"));
    usleep(2000);
    ASSERT_OK(add_token(st, alice.id, "kvs_shared11alice-token-000000"));
    /* Adding a token the user has already changes nothing, and lists it once. */
    ASSERT_OK(add_token(st, alice.id, "kvs_alice111second-token-00000"));

    /* A user's tokens are listed oldest first, by prefix only. */
    struct token_list l;
    list_tokens(st, alice.id, &l);
    ASSERT_EQ(l.n, 4);
    ASSERT_STR_EQ(l.t[0].prefix, "kvs_alice000");
    ASSERT_STR_EQ(l.t[1].prefix, "kvs_alice111");
    ASSERT_STR_EQ(l.t[2].prefix, "kvs_alice222");
    ASSERT_STR_EQ(l.t[3].prefix, "kvs_shared11");
    for (size_t i = 0; i < l.n; i++) {
        ASSERT_STR_EQ(l.t[i].user_id, alice.id);
        ASSERT(l.t[i].created_ms >= alice.created_ms);
        ASSERT(i == 0 || l.t[i].created_ms > l.t[i - 1].created_ms);
    }
    list_tokens(st, bob.id, &l);
    ASSERT_EQ(l.n, 2);
    list_tokens(st, "AAAAAAAAAAAAAAAAA", &l);
    ASSERT_EQ(l.n, 0);

    /* A prefix matching several tokens revokes none. */
    char owner[KVS_ID_LEN + 1];
    ASSERT_ERR(token_revoke(st, "kvs_alice", NULL, NULL, NULL), KVS_EAMBIGUOUS);
    ASSERT_ERR(token_revoke(st, "kvs_shared", NULL, NULL, NULL), KVS_EAMBIGUOUS);
    ASSERT_ERR(token_revoke(st, "k", NULL, NULL, NULL), KVS_EAMBIGUOUS);
    list_tokens(st, alice.id, &l);
    ASSERT_EQ(l.n, 4);
    /* None at all, or longer than any prefix. */
    ASSERT_ERR(token_revoke(st, "kvs_carol", NULL, NULL, NULL), KVS_ENOTFOUND);
    ASSERT_ERR(token_revoke(st, "kvs_alice111second", NULL, NULL, NULL), KVS_ENOTFOUND);

    /* A unique prefix revokes that token at once, and only it. */
    struct kvs_user who;
    ASSERT_OK(token_revoke(st, "kvs_alice1", NULL, NULL, &who));
    ASSERT_STR_EQ(who.id, alice.id);
    ASSERT_STR_EQ(who.username, "alice");
    token_owner(st, "kvs_alice111second-token-00000", owner);
    ASSERT_STR_EQ(owner, "");
    token_owner(st, "kvs_alice000first-token-000000", owner);
    ASSERT_STR_EQ(owner, alice.id);
    list_tokens(st, alice.id, &l);
    ASSERT_EQ(l.n, 3);
    ASSERT_STR_EQ(l.t[1].prefix, "kvs_alice222");
    ASSERT_ERR(token_revoke(st, "kvs_alice1", NULL, NULL, NULL), KVS_ENOTFOUND);

    /* Restricted to one user, the others' tokens neither match nor make a prefix ambiguous. */
    ASSERT_ERR(token_revoke(st, "kvs_bob", NULL, alice.id, NULL), KVS_ENOTFOUND);
    ASSERT_ERR(token_revoke(st, NULL, "kvs_bob00000first-token-000000", alice.id, NULL),
               KVS_ENOTFOUND);
    ASSERT_OK(token_revoke(st, "kvs_shared", NULL, alice.id, &who));
    ASSERT_STR_EQ(who.id, alice.id);
    token_owner(st, "kvs_shared11alice-token-000000", owner);
    ASSERT_STR_EQ(owner, "");
    token_owner(st, "kvs_shared00bob-token-00000000", owner);
    ASSERT_STR_EQ(owner, bob.id);
    ASSERT_ERR(token_revoke(st, "kvs_alice2", NULL, "short", NULL), KVS_ENOTFOUND);

    /* By the whole token. */
    ASSERT_OK(token_revoke(st, NULL, "kvs_alice222third-token-000000", NULL, &who));
    ASSERT_STR_EQ(who.id, alice.id);
    ASSERT_ERR(token_revoke(st, NULL, "kvs_alice222third-token-000000", NULL, NULL), KVS_ENOTFOUND);
    list_tokens(st, alice.id, &l);
    ASSERT_EQ(l.n, 1);
    ASSERT_STR_EQ(l.t[0].prefix, "kvs_alice000");

    /* What is revoked stays revoked after a reopen; the rest still works. */
    kvs_storage_close(st);
    st = storage_open();
    token_owner(st, "kvs_alice222third-token-000000", owner);
    ASSERT_STR_EQ(owner, "");
    token_owner(st, "kvs_alice000first-token-000000", owner);
    ASSERT_STR_EQ(owner, alice.id);
    list_tokens(st, bob.id, &l);
    ASSERT_EQ(l.n, 2);
    kvs_storage_close(st);
}

TEST(storage_token_without_prefix)
{
    /* A token added without a prefix (short operator tokens) is listed with an empty prefix
     * and can be revoked by the whole token only. */
    struct kvs_storage *st = storage_open();
    struct kvs_user alice;
    ts_user(st, "alice", "kvs_alice000first-token-000000", &alice);
    ASSERT_OK(add_token(st, alice.id, "x"));
    struct token_list l;
    list_tokens(st, alice.id, &l);
    ASSERT_EQ(l.n, 2);
    ASSERT_STR_EQ(l.t[1].prefix, "");
    ASSERT_ERR(token_revoke(st, "", NULL, NULL, NULL), KVS_ENOTFOUND); /* "" = by hash: none set */
    ASSERT_OK(token_revoke(st, NULL, "x", NULL, NULL));
    list_tokens(st, alice.id, &l);
    ASSERT_EQ(l.n, 1);
    kvs_storage_close(st);
}

/* ==== users: listing, default access ========================================================= */

struct user_list {
    struct kvs_user u[8];
    size_t n;
    size_t stop_after;
};

static int collect_user(void *arg, const struct kvs_user *u)
{
    struct user_list *l = arg;
    ASSERT(l->n < 8);
    l->u[l->n++] = *u;
    return l->stop_after != 0 && l->n >= l->stop_after;
}

TEST(storage_user_list_and_update)
{
    struct kvs_storage *st = storage_open();
    struct kvs_user carol, alice, bob;
    ts_user(st, "carol", "tok-carol", &carol);
    ts_user(st, "alice", "tok-alice", &alice);
    ts_user(st, "bob", "tok-bob", &bob);

    struct user_list l = {0};
    struct kvs_read *rd;
    ASSERT_OK(kvs_storage_read_begin(st, &rd));
    ASSERT_OK(kvs_storage_user_list(rd, collect_user, &l));
    ASSERT_EQ(l.n, 3); /* by username */
    ASSERT_STR_EQ(l.u[0].username, "alice");
    ASSERT_STR_EQ(l.u[0].id, alice.id);
    ASSERT_STR_EQ(l.u[1].username, "bob");
    ASSERT_STR_EQ(l.u[2].username, "carol");
    ASSERT_EQ(l.u[2].default_access, KVS_GA_RESTRICTED);
    struct user_list one = {.stop_after = 1};
    ASSERT_OK(kvs_storage_user_list(rd, collect_user, &one));
    ASSERT_EQ(one.n, 1);
    kvs_storage_read_end(rd);

    struct kvs_write w = {.op = KVS_W_USER_UPDATE};
    strcpy(w.user.id, bob.id);
    w.user.default_access = KVS_GA_ANYONE_WITH_ID_CAN_READ;
    ASSERT_OK(kvs_storage_write(st, &w));
    ASSERT_STR_EQ(w.user.username, "bob");
    ASSERT_EQ(w.user.default_access, KVS_GA_ANYONE_WITH_ID_CAN_READ);
    ASSERT_EQ(w.user.created_ms, bob.created_ms);
    /* FOLLOW_USER_SETTING is no user's setting; nor is anything unknown. */
    w.user.default_access = KVS_GA_FOLLOW_USER_SETTING;
    ASSERT_ERR(kvs_storage_write(st, &w), KVS_EINVAL);
    w.user.default_access = 9;
    ASSERT_ERR(kvs_storage_write(st, &w), KVS_EINVAL);
    struct kvs_write lost = {.op = KVS_W_USER_UPDATE};
    strcpy(lost.user.id, "AAAAAAAAAAAAAAAAA");
    lost.user.default_access = KVS_GA_RESTRICTED;
    ASSERT_ERR(kvs_storage_write(st, &lost), KVS_ENOTFOUND);

    ASSERT_OK(kvs_storage_read_begin(st, &rd));
    struct kvs_user u;
    uint8_t hash[KVS_TOKEN_HASH_LEN];
    kvs_token_hash(KVS_SLICE_LIT("tok-bob"), hash);
    ASSERT_OK(kvs_storage_user_by_token(rd, hash, &u));
    ASSERT_EQ(u.default_access, KVS_GA_ANYONE_WITH_ID_CAN_READ);
    ASSERT_STR_EQ(u.username, "bob");
    ASSERT_OK(kvs_storage_user_by_name(rd, KVS_SLICE_LIT("bob"), &u));
    ASSERT_EQ(u.default_access, KVS_GA_ANYONE_WITH_ID_CAN_READ);
    kvs_storage_read_end(rd);
    kvs_storage_close(st);
}

/* ==== shares ================================================================================ */

static int share_set(struct kvs_storage *st, const char *store_id, const char *user_id,
                     unsigned level)
{
    struct kvs_write w = {.op = KVS_W_SHARE_SET, .share_level = (uint8_t)level};
    strcpy(w.store_id, store_id);
    strcpy(w.user.id, user_id);
    return kvs_storage_write(st, &w);
}

static int share_drop(struct kvs_storage *st, const char *store_id, const char *user_id)
{
    struct kvs_write w = {.op = KVS_W_SHARE_DELETE};
    strcpy(w.store_id, store_id);
    strcpy(w.user.id, user_id);
    return kvs_storage_write(st, &w);
}

/* The share of STORE_ID held by USER_ID: a level, or KVS_SHARE_NONE. */
static unsigned share_of(struct kvs_storage *st, const char *store_id, const char *user_id)
{
    struct kvs_read *rd;
    ASSERT_OK(kvs_storage_read_begin(st, &rd));
    enum kvs_share_level level = KVS_SHARE_NONE;
    int rc = kvs_storage_share_get(rd, kvs_slice_of(store_id), kvs_slice_of(user_id), &level);
    ASSERT(rc == 0 || rc == KVS_ENOTFOUND);
    kvs_storage_read_end(rd);
    return rc == 0 ? level : KVS_SHARE_NONE;
}

struct share_list {
    struct kvs_share s[8];
    size_t n;
};

static int collect_share(void *arg, const struct kvs_share *s)
{
    struct share_list *l = arg;
    ASSERT(l->n < 8);
    l->s[l->n++] = *s;
    return 0;
}

static void list_shares(struct kvs_storage *st, const char *store_id, struct share_list *out)
{
    struct kvs_read *rd;
    ASSERT_OK(kvs_storage_read_begin(st, &rd));
    out->n = 0;
    ASSERT_OK(kvs_storage_share_list(rd, kvs_slice_of(store_id), collect_share, out));
    kvs_storage_read_end(rd);
}

/* A listing of visible stores: IDs and the share each came with. */
struct vis_list {
    char ids[16][KVS_ID_LEN + 1];
    unsigned share[16];
    size_t n;
};

static int collect_visible(void *arg, const struct kvs_store *s, enum kvs_share_level share)
{
    struct vis_list *l = arg;
    ASSERT(l->n < 16);
    strcpy(l->ids[l->n], s->id);
    l->share[l->n++] = share;
    return 0;
}

static void list_visible(struct kvs_storage *st, const char *user_id, unsigned which,
                         uint64_t offset, uint64_t limit, int desc, int unnamed,
                         struct vis_list *out, uint64_t *total)
{
    struct kvs_read *rd;
    ASSERT_OK(kvs_storage_read_begin(st, &rd));
    out->n = 0;
    ASSERT_OK(kvs_storage_store_list_visible(rd, kvs_slice_of(user_id), which, offset, limit, desc,
                                             unnamed, collect_visible, out, total));
    kvs_storage_read_end(rd);
}

TEST(storage_shares)
{
    struct kvs_storage *st = storage_open();
    struct kvs_user alice, bob, carol;
    struct kvs_store s;
    setup(st, &alice, &s);
    ts_user(st, "bob", "tok-bob", &bob);
    ts_user(st, "carol", "tok-carol", &carol);

    ASSERT_EQ(share_of(st, s.id, bob.id), KVS_SHARE_NONE);
    ASSERT_OK(share_set(st, s.id, bob.id, KVS_SHARE_READ));
    ASSERT_EQ(share_of(st, s.id, bob.id), KVS_SHARE_READ);
    ASSERT_EQ(share_of(st, s.id, carol.id), KVS_SHARE_NONE);
    /* A new level replaces the old one. */
    ASSERT_OK(share_set(st, s.id, bob.id, KVS_SHARE_WRITE));
    ASSERT_EQ(share_of(st, s.id, bob.id), KVS_SHARE_WRITE);
    ASSERT_OK(share_set(st, s.id, carol.id, KVS_SHARE_READ));

    struct share_list l;
    list_shares(st, s.id, &l);
    ASSERT_EQ(l.n, 2);
    for (size_t i = 0; i < l.n; i++) {
        int is_bob = strcmp(l.s[i].user_id, bob.id) == 0;
        ASSERT_STR_EQ(l.s[i].username, is_bob ? "bob" : "carol");
        ASSERT_EQ(l.s[i].level, is_bob ? KVS_SHARE_WRITE : KVS_SHARE_READ);
    }
    ASSERT(strcmp(l.s[0].user_id, l.s[1].user_id) < 0);

    /* What cannot be shared. */
    ASSERT_ERR(share_set(st, s.id, alice.id, KVS_SHARE_READ), KVS_EINVAL); /* the owner */
    ASSERT_ERR(share_set(st, s.id, bob.id, KVS_SHARE_NONE), KVS_EINVAL);
    ASSERT_ERR(share_set(st, s.id, bob.id, 3), KVS_EINVAL);
    ASSERT_ERR(share_set(st, s.id, "AAAAAAAAAAAAAAAAA", KVS_SHARE_READ), KVS_ENOTFOUND);
    ASSERT_ERR(share_set(st, "AAAAAAAAAAAAAAAAA", bob.id, KVS_SHARE_READ), KVS_ENOTFOUND);
    ASSERT_ERR(share_set(st, "short", bob.id, KVS_SHARE_READ), KVS_ENOTFOUND);
    ASSERT_EQ(share_of(st, s.id, bob.id), KVS_SHARE_WRITE); /* failures changed nothing */

    /* Taking a share back. */
    ASSERT_OK(share_drop(st, s.id, bob.id));
    ASSERT_EQ(share_of(st, s.id, bob.id), KVS_SHARE_NONE);
    ASSERT_ERR(share_drop(st, s.id, bob.id), KVS_ENOTFOUND);
    ASSERT_ERR(share_drop(st, "AAAAAAAAAAAAAAAAA", bob.id), KVS_ENOTFOUND);
    list_shares(st, s.id, &l);
    ASSERT_EQ(l.n, 1);
    ASSERT_STR_EQ(l.s[0].username, "carol");
    struct vis_list v;
    uint64_t total;
    list_visible(st, bob.id, KVS_LIST_SHARED, 0, 10, 0, 1, &v, &total);
    ASSERT_EQ(total, 0);
    list_visible(st, carol.id, KVS_LIST_SHARED, 0, 10, 0, 1, &v, &total);
    ASSERT_EQ(total, 1);
    kvs_store_clear(&s);
    kvs_storage_close(st);
}

TEST(storage_store_delete_drops_shares)
{
    struct kvs_storage *st = storage_open();
    struct kvs_user alice, bob;
    struct kvs_store s, other;
    setup(st, &alice, &s);
    ASSERT_OK(ts_store(st, alice.id, "other", &other));
    ts_user(st, "bob", "tok-bob", &bob);
    ASSERT_OK(share_set(st, s.id, bob.id, KVS_SHARE_WRITE));
    ASSERT_OK(share_set(st, other.id, bob.id, KVS_SHARE_READ));

    struct kvs_write w = {.op = KVS_W_STORE_DELETE};
    strcpy(w.store_id, s.id);
    ASSERT_OK(kvs_storage_write(st, &w));
    ASSERT_EQ(share_of(st, s.id, bob.id), KVS_SHARE_NONE);
    struct share_list l;
    list_shares(st, s.id, &l);
    ASSERT_EQ(l.n, 0);
    struct vis_list v;
    uint64_t total;
    list_visible(st, bob.id, KVS_LIST_OWNED | KVS_LIST_SHARED, 0, 10, 0, 1, &v, &total);
    ASSERT_EQ(total, 1);
    ASSERT_STR_EQ(v.ids[0], other.id);
    ASSERT_ERR(share_drop(st, s.id, bob.id), KVS_ENOTFOUND);
    ASSERT_ERR(share_set(st, s.id, bob.id, KVS_SHARE_READ), KVS_ENOTFOUND);
    ASSERT_EQ(share_of(st, other.id, bob.id), KVS_SHARE_READ);
    kvs_store_clear(&s);
    kvs_store_clear(&other);
    kvs_storage_close(st);
}

/* The store's URL-signing secret as stored now. */
static void secret_of(struct kvs_storage *st, const char *store_id, char out[KVS_SECRET_LEN + 1])
{
    struct kvs_read *rd;
    struct kvs_store got;
    ASSERT_OK(kvs_storage_read_begin(st, &rd));
    ASSERT_OK(kvs_storage_store_get(rd, kvs_slice_of(store_id), &got));
    kvs_storage_read_end(rd);
    ASSERT(is_alnum_string(got.secret, KVS_SECRET_LEN));
    memcpy(out, got.secret, KVS_SECRET_LEN + 1);
    kvs_store_clear(&got);
}

/* storage.h, "Signing secrets": whoever loses the right to write a store has seen its secret,
 * so it changes with that loss, in every way it can happen, and on request; never otherwise. */
TEST(storage_secret_rotates_when_write_goes)
{
    struct kvs_storage *st = storage_open();
    struct kvs_user alice, bob, carol;
    struct kvs_store s;
    setup(st, &alice, &s);
    ts_user(st, "bob", "tok-bob", &bob);
    ts_user(st, "carol", "tok-carol", &carol);
    char before[KVS_SECRET_LEN + 1], now[KVS_SECRET_LEN + 1];
    secret_of(st, s.id, before);

    /* Granting, raising, and READ shares coming and going keep it. */
    ASSERT_OK(share_set(st, s.id, bob.id, KVS_SHARE_READ));
    ASSERT_OK(share_set(st, s.id, bob.id, KVS_SHARE_WRITE));
    ASSERT_OK(share_set(st, s.id, bob.id, KVS_SHARE_WRITE));
    ASSERT_OK(share_set(st, s.id, carol.id, KVS_SHARE_READ));
    ASSERT_OK(share_drop(st, s.id, carol.id));
    struct kvs_store got;
    ASSERT_OK(update_store(st, s.id, KVS_UPD_TITLE, NULL, "Title", &got));
    ASSERT_STR_EQ(got.secret, before);
    kvs_store_clear(&got);
    secret_of(st, s.id, now);
    ASSERT_STR_EQ(now, before);

    /* WRITE lowered to READ: a new one. */
    ASSERT_OK(share_set(st, s.id, bob.id, KVS_SHARE_READ));
    secret_of(st, s.id, now);
    ASSERT(strcmp(now, before) != 0);
    ASSERT_EQ(share_of(st, s.id, bob.id), KVS_SHARE_READ);

    /* WRITE taken back: a new one. */
    memcpy(before, now, sizeof before);
    ASSERT_OK(share_set(st, s.id, bob.id, KVS_SHARE_WRITE));
    secret_of(st, s.id, now);
    ASSERT_STR_EQ(now, before);
    ASSERT_OK(share_drop(st, s.id, bob.id));
    secret_of(st, s.id, now);
    ASSERT(strcmp(now, before) != 0);

    /* On request (KVS_UPD_SECRET), handed back with the store. */
    memcpy(before, now, sizeof before);
    ASSERT_OK(update_store(st, s.id, KVS_UPD_SECRET, NULL, NULL, &got));
    ASSERT(is_alnum_string(got.secret, KVS_SECRET_LEN));
    ASSERT(strcmp(got.secret, before) != 0);
    secret_of(st, s.id, now);
    ASSERT_STR_EQ(now, got.secret);
    kvs_store_clear(&got);
    ASSERT_ERR(update_store(st, "AAAAAAAAAAAAAAAAA", KVS_UPD_SECRET, NULL, NULL, NULL),
               KVS_ENOTFOUND);

    /* A failed share change changes nothing. */
    memcpy(before, now, sizeof before);
    ASSERT_ERR(share_set(st, s.id, alice.id, KVS_SHARE_READ), KVS_EINVAL);
    ASSERT_ERR(share_drop(st, s.id, carol.id), KVS_ENOTFOUND);
    secret_of(st, s.id, now);
    ASSERT_STR_EQ(now, before);
    kvs_store_clear(&s);
    kvs_storage_close(st);
}

/* KVS_W_USER_DELETE: the user, their tokens, the shares they were given and their stores
 * (records included) go in one write; other users keep theirs; the only admin stays. */
static int user_delete(struct kvs_storage *st, const char *user_id, struct kvs_user *out)
{
    struct kvs_write w = {.op = KVS_W_USER_DELETE};
    strcpy(w.user.id, user_id);
    int rc = kvs_storage_write(st, &w);
    if (out != NULL)
        *out = w.user;
    return rc;
}

TEST(storage_user_delete)
{
    struct kvs_storage *st = storage_open();
    struct kvs_user admin, alice, bob, gone;
    struct kvs_write w = {.op = KVS_W_USER_CREATE};
    strcpy(w.user.username, "admin");
    w.user.is_admin = 1;
    w.user.default_access = KVS_GA_RESTRICTED;
    kvs_token_hash(KVS_SLICE_LIT("tok-admin"), w.token_hash);
    ASSERT_OK(kvs_storage_write(st, &w));
    admin = w.user;
    struct kvs_store s, unnamed, bobs;
    setup(st, &alice, &s); /* alice owns "main" */
    ASSERT_OK(ts_store(st, alice.id, "", &unnamed));
    ASSERT_OK(add_token(st, alice.id, "tok-alice-2"));
    ASSERT_OK(add_limited_token(st, alice.id, "tok-alice-limited", 4102444800000,
                                KVS_SLICE_LIT("{\"access\":\"READ\"}")));
    ts_user(st, "bob", "tok-bob", &bob);
    ASSERT_OK(ts_store(st, bob.id, "shared", &bobs));
    for (int i = 0; i < 30; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%02d", i);
        ASSERT_OK(ts_put_str(st, s.id, key, "alice's"));
        ASSERT_OK(ts_put_str(st, bobs.id, key, "bob's"));
    }
    ASSERT_OK(ts_put_str(st, unnamed.id, "x", "y"));
    ASSERT_OK(share_set(st, s.id, bob.id, KVS_SHARE_WRITE)); /* alice's store, shared with bob */
    ASSERT_OK(share_set(st, bobs.id, alice.id, KVS_SHARE_READ)); /* bob's, shared with alice */

    ASSERT_OK(user_delete(st, alice.id, &gone));
    ASSERT_STR_EQ(gone.id, alice.id);
    ASSERT_STR_EQ(gone.username, "alice");
    ASSERT_ERR(user_delete(st, alice.id, NULL), KVS_ENOTFOUND);
    ASSERT_ERR(user_delete(st, "AAAAAAAAAAAAAAAAA", NULL), KVS_ENOTFOUND);

    /* the user and every token, limited or not, are gone */
    char owner[KVS_ID_LEN + 1];
    token_owner(st, "tok-alice", owner);
    ASSERT_STR_EQ(owner, "");
    token_owner(st, "tok-alice-2", owner);
    ASSERT_STR_EQ(owner, "");
    token_owner(st, "tok-alice-limited", owner);
    ASSERT_STR_EQ(owner, "");
    struct kvs_read *rd;
    struct kvs_user u;
    struct kvs_store got;
    ASSERT_OK(kvs_storage_read_begin(st, &rd));
    ASSERT_ERR(kvs_storage_user_get(rd, kvs_slice_of(alice.id), &u), KVS_ENOTFOUND);
    ASSERT_ERR(kvs_storage_user_by_name(rd, KVS_SLICE_LIT("alice"), &u), KVS_ENOTFOUND);
    uint64_t users = 0;
    ASSERT_OK(kvs_storage_user_count(rd, &users));
    ASSERT_EQ(users, 2);
    ASSERT_ERR(kvs_storage_store_get(rd, kvs_slice_of(s.id), &got), KVS_ENOTFOUND);
    ASSERT_ERR(kvs_storage_store_get(rd, kvs_slice_of(unnamed.id), &got), KVS_ENOTFOUND);
    kvs_storage_read_end(rd);
    struct token_list tl;
    list_tokens(st, alice.id, &tl);
    ASSERT_EQ(tl.n, 0);
    /* their stores' records are gone for readers; shares both ways too */
    struct ts_keys keys = {0};
    ASSERT_EQ(ts_list(st, s.id, "", "", 1000, &keys), 0);
    ASSERT_EQ(keys.n, 0);
    ASSERT_ERR(ts_put_str(st, s.id, "k00", "zombie"), KVS_ENOTFOUND);
    ASSERT_EQ(share_of(st, bobs.id, alice.id), KVS_SHARE_NONE);
    struct share_list sl;
    list_shares(st, bobs.id, &sl);
    ASSERT_EQ(sl.n, 0);
    struct vis_list v;
    uint64_t total;
    list_visible(st, bob.id, KVS_LIST_OWNED | KVS_LIST_SHARED, 0, 10, 0, 1, &v, &total);
    ASSERT_EQ(total, 1); /* his own; alice's shared store went with her */
    ASSERT_STR_EQ(v.ids[0], bobs.id);
    /* bob keeps everything of his; alice's name and token can be taken again */
    ASSERT_EQ(ts_list(st, bobs.id, "", "", 1000, &keys), 0);
    ASSERT_EQ(keys.n, 30);
    token_owner(st, "tok-bob", owner);
    ASSERT_STR_EQ(owner, bob.id);
    struct kvs_user alice2;
    ts_user(st, "alice", "tok-alice", &alice2);
    ASSERT(strcmp(alice2.id, alice.id) != 0);
    struct id_list l = {0};
    list_stores(st, alice2.id, 0, 100, 0, 1, &l, &total);
    ASSERT_EQ(total, 0);

    /* the only admin stays; once there is another, either may go */
    ASSERT_ERR(user_delete(st, admin.id, NULL), KVS_EINVAL);
    token_owner(st, "tok-admin", owner);
    ASSERT_STR_EQ(owner, admin.id);
    struct kvs_write w2 = {.op = KVS_W_USER_CREATE};
    strcpy(w2.user.username, "admin2");
    w2.user.is_admin = 1;
    w2.user.default_access = KVS_GA_RESTRICTED;
    kvs_token_hash(KVS_SLICE_LIT("tok-admin2"), w2.token_hash);
    ASSERT_OK(kvs_storage_write(st, &w2));
    ASSERT_OK(user_delete(st, admin.id, NULL));
    ASSERT_ERR(user_delete(st, w2.user.id, NULL), KVS_EINVAL);

    /* so after a restart too, while the sweep takes the records */
    kvs_storage_close(st);
    st = storage_open();
    ASSERT_EQ(ts_list(st, s.id, "", "", 1000, &keys), 0);
    ASSERT_EQ(keys.n, 0);
    ASSERT_EQ(ts_list(st, bobs.id, "", "", 1000, &keys), 0);
    ASSERT_EQ(keys.n, 30);
    ts_keys_free(&keys);
    kvs_store_clear(&s);
    kvs_store_clear(&unnamed);
    kvs_store_clear(&bobs);
    kvs_storage_close(st);
}

/* A user deleted in the same batch as writes to their stores: the writes after the delete
 * find no store (PostgreSQL resolves a batch's writes in order, as LMDB applies them). */
TEST(storage_user_delete_in_one_batch)
{
    struct kvs_storage *st = storage_open();
    struct kvs_user alice;
    struct kvs_store s;
    setup(st, &alice, &s);
    struct ts_gate g = TS_GATE_INIT;
    struct kvs_write hold = record_write(s.id, "hold", "x");
    ts_gate_hold(st, &g, &hold); /* the writer waits inside hold's callback */
    struct kvs_write ws[3] = {
        record_write(s.id, "before", "1"),
        {.op = KVS_W_USER_DELETE},
        record_write(s.id, "after", "2"),
    };
    strcpy(ws[1].user.id, alice.id);
    ts_submit_together(st, &g, ws, 3);
    ASSERT_OK(ws[0].result);
    ASSERT_OK(ws[1].result);
    ASSERT_ERR(ws[2].result, KVS_ENOTFOUND);
    struct ts_keys keys = {0};
    ASSERT_EQ(ts_list(st, s.id, "", "", 1000, &keys), 0);
    ASSERT_EQ(keys.n, 0);
    ts_keys_free(&keys);
    kvs_store_clear(&s);
    kvs_storage_close(st);
}

TEST(storage_store_list_visible)
{
    struct kvs_storage *st = storage_open();
    struct kvs_user alice, bob;
    ts_user(st, "alice", "tok-alice", &alice);
    ts_user(st, "bob", "tok-bob", &bob);

    /* In creation order: a0 (alice), b1 (bob, shared READ), a2 (alice, unnamed),
     * b3 (bob, unnamed, shared WRITE), a4 (alice), b5 (bob, not shared), b6 (bob, shared). */
    struct kvs_store a0, b1, a2, b3, a4, b5, b6;
    struct {
        struct kvs_store *s;
        const char *owner, *name;
    } plan[] = {{&a0, alice.id, "a0"}, {&b1, bob.id, "b1"}, {&a2, alice.id, ""}, {&b3, bob.id, ""},
                {&a4, alice.id, "a4"}, {&b5, bob.id, "b5"}, {&b6, bob.id, "b6"}};
    for (size_t i = 0; i < sizeof plan / sizeof plan[0]; i++) {
        ASSERT_OK(ts_store(st, plan[i].owner, plan[i].name, plan[i].s));
        usleep(1500); /* distinct creation times */
    }
    ASSERT_OK(share_set(st, b1.id, alice.id, KVS_SHARE_READ));
    ASSERT_OK(share_set(st, b3.id, alice.id, KVS_SHARE_WRITE));
    ASSERT_OK(share_set(st, b6.id, alice.id, KVS_SHARE_READ));

    struct vis_list v;
    uint64_t total = 0;
    const unsigned both = KVS_LIST_OWNED | KVS_LIST_SHARED;

    /* Both kinds, merged in creation order, unnamed included. */
    list_visible(st, alice.id, both, 0, 100, 0, 1, &v, &total);
    ASSERT_EQ(total, 6);
    ASSERT_EQ(v.n, 6);
    const struct kvs_store *want[] = {&a0, &b1, &a2, &b3, &a4, &b6};
    const unsigned want_share[] = {KVS_SHARE_NONE,  KVS_SHARE_READ, KVS_SHARE_NONE,
                                   KVS_SHARE_WRITE, KVS_SHARE_NONE, KVS_SHARE_READ};
    for (size_t i = 0; i < 6; i++) {
        ASSERT_STR_EQ(v.ids[i], want[i]->id);
        ASSERT_EQ(v.share[i], want_share[i]);
    }
    /* Newest first. */
    list_visible(st, alice.id, both, 0, 100, 1, 1, &v, &total);
    ASSERT_EQ(v.n, 6);
    for (size_t i = 0; i < 6; i++)
        ASSERT_STR_EQ(v.ids[i], want[5 - i]->id);
    /* Named only. */
    list_visible(st, alice.id, both, 0, 100, 0, 0, &v, &total);
    ASSERT_EQ(total, 4);
    ASSERT_EQ(v.n, 4);
    ASSERT_STR_EQ(v.ids[0], a0.id);
    ASSERT_STR_EQ(v.ids[1], b1.id);
    ASSERT_STR_EQ(v.ids[2], a4.id);
    ASSERT_STR_EQ(v.ids[3], b6.id);
    /* A page across both kinds: offset and limit count the merged list. */
    list_visible(st, alice.id, both, 1, 3, 0, 1, &v, &total);
    ASSERT_EQ(total, 6);
    ASSERT_EQ(v.n, 3);
    ASSERT_STR_EQ(v.ids[0], b1.id);
    ASSERT_STR_EQ(v.ids[1], a2.id);
    ASSERT_STR_EQ(v.ids[2], b3.id);
    list_visible(st, alice.id, both, 2, 2, 1, 0, &v, &total);
    ASSERT_EQ(total, 4);
    ASSERT_EQ(v.n, 2);
    ASSERT_STR_EQ(v.ids[0], b1.id);
    ASSERT_STR_EQ(v.ids[1], a0.id);
    /* One kind only. */
    list_visible(st, alice.id, KVS_LIST_OWNED, 0, 100, 0, 1, &v, &total);
    ASSERT_EQ(total, 3);
    ASSERT_STR_EQ(v.ids[1], a2.id);
    ASSERT_EQ(v.share[1], KVS_SHARE_NONE);
    list_visible(st, alice.id, KVS_LIST_SHARED, 0, 100, 0, 1, &v, &total);
    ASSERT_EQ(total, 3);
    ASSERT_STR_EQ(v.ids[0], b1.id);
    ASSERT_STR_EQ(v.ids[1], b3.id);
    ASSERT_STR_EQ(v.ids[2], b6.id);
    list_visible(st, alice.id, KVS_LIST_SHARED, 0, 100, 0, 0, &v, &total);
    ASSERT_EQ(total, 2);
    /* Bob sees only his own: nothing is shared with him. */
    list_visible(st, bob.id, both, 0, 100, 0, 1, &v, &total);
    ASSERT_EQ(total, 4);
    list_visible(st, "AAAAAAAAAAAAAAAAA", both, 0, 100, 0, 1, &v, &total);
    ASSERT_EQ(total, 0);

    /* Renaming a shared store named or unnamed moves it in and out of the named list. */
    struct kvs_write w = {.op = KVS_W_STORE_UPDATE, .update_mask = KVS_UPD_NAME};
    strcpy(w.store_id, b3.id);
    strcpy(w.store.name, "b3");
    ASSERT_OK(kvs_storage_write(st, &w));
    kvs_store_clear(&w.store);
    list_visible(st, alice.id, KVS_LIST_SHARED, 0, 100, 0, 0, &v, &total);
    ASSERT_EQ(total, 3);
    struct kvs_write w2 = {.op = KVS_W_STORE_UPDATE, .update_mask = KVS_UPD_NAME};
    strcpy(w2.store_id, b1.id);
    ASSERT_OK(kvs_storage_write(st, &w2));
    kvs_store_clear(&w2.store);
    list_visible(st, alice.id, KVS_LIST_SHARED, 0, 100, 0, 0, &v, &total);
    ASSERT_EQ(total, 2);
    ASSERT_STR_EQ(v.ids[0], b3.id);
    ASSERT_STR_EQ(v.ids[1], b6.id);
    ASSERT_EQ(v.share[0], KVS_SHARE_WRITE); /* the level is kept through renames */

    struct kvs_store *all[] = {&a0, &b1, &a2, &b3, &a4, &b5, &b6};
    for (size_t i = 0; i < 7; i++)
        kvs_store_clear(all[i]);
    kvs_storage_close(st);
}

/* ==== retention of unnamed stores =========================================================== */

/* Open with a retention of RETENTION_MS for unnamed stores. */
static struct kvs_storage *storage_open_retention(uint64_t retention_ms)
{
    struct kvs_storage_config cfg = {.unnamed_retention_ms = retention_ms};
    return ts_open_cfg(&cfg);
}

/* Whether store ID exists (in a read of its own). */
static int store_exists(struct kvs_storage *st, const char *id)
{
    struct kvs_store s;
    int rc = ts_store_get(st, id, &s);
    kvs_store_clear(&s);
    ASSERT(rc == 0 || rc == KVS_ENOTFOUND);
    return rc == 0;
}

static void rename_store(struct kvs_storage *st, const char *id, const char *name)
{
    struct kvs_write w = {.op = KVS_W_STORE_UPDATE, .update_mask = KVS_UPD_NAME};
    snprintf(w.store_id, sizeof w.store_id, "%s", id);
    snprintf(w.store.name, sizeof w.store.name, "%s", name);
    ASSERT_OK(kvs_storage_write(st, &w));
    kvs_store_clear(&w.store);
}

TEST(storage_retention_unnamed_expire)
{
    /* Retention 1.5 s. Stores: idle unnamed (goes, with its records), named (stays), unnamed
     * read every 200 ms (stays: reads count, through the in-memory statistics), unnamed
     * written every 400 ms (stays), unnamed then named (stays: permanent), named then
     * unnamed late (goes, but only 1.5 s after the rename). */
    struct kvs_storage *st = storage_open_retention(1500);
    struct kvs_user alice;
    struct kvs_store idle, named, readr, writer, to_named, to_unnamed;
    ts_user(st, "alice", "tok-alice", &alice);
    ASSERT_OK(ts_store(st, alice.id, "", &idle));
    ASSERT_OK(ts_store(st, alice.id, "kept", &named));
    ASSERT_OK(ts_store(st, alice.id, "", &readr));
    ASSERT_OK(ts_store(st, alice.id, "", &writer));
    ASSERT_OK(ts_store(st, alice.id, "", &to_named));
    ASSERT_OK(ts_store(st, alice.id, "soon-unnamed", &to_unnamed));
    ASSERT_OK(ts_put_str(st, idle.id, "k", "v"));
    ASSERT_OK(ts_put_str(st, named.id, "k", "v"));
    rename_store(st, to_named.id, "now-named");

    int renamed_at = -1;
    for (int i = 0; i < 20; i++) { /* 4 s */
        kvs_storage_note_access(st, readr.id, KVS_NOTE_READ);
        if (i % 2 == 0)
            ASSERT_OK(ts_put_str(st, writer.id, "k", "v"));
        if (i == 10) {
            rename_store(st, to_unnamed.id, "");
            renamed_at = i;
        }
        if (i == 14) /* 0.8 s after its rename: still there */
            ASSERT(store_exists(st, to_unnamed.id));
        usleep(200 * 1000);
    }
    ASSERT(renamed_at == 10);
    ASSERT(!store_exists(st, idle.id));
    ASSERT(store_exists(st, named.id));
    ASSERT(store_exists(st, readr.id));
    ASSERT(store_exists(st, writer.id));
    ASSERT(store_exists(st, to_named.id));
    /* Renamed unnamed at 2.0 s, retention 1.5 s, checked about every second: gone by 4.5 s
     * (PostgreSQL leaves PG_UNFLUSHED_SLACK_MS more for other nodes' unflushed reads). */
    usleep(500 * 1000);
    for (int i = 0; i < 30 && store_exists(st, to_unnamed.id); i++)
        usleep(100 * 1000);
    ASSERT(!store_exists(st, to_unnamed.id));
    /* The expired store's records went too (as with a delete). */
    char *v = NULL;
    size_t n = 0;
    ASSERT_ERR(ts_get(st, idle.id, "k", &v, &n), KVS_ENOTFOUND);
    ASSERT_OK(ts_get(st, named.id, "k", &v, &n));
    free(v);
    kvs_store_clear(&idle);
    kvs_store_clear(&named);
    kvs_store_clear(&readr);
    kvs_store_clear(&writer);
    kvs_store_clear(&to_named);
    kvs_store_clear(&to_unnamed);
    kvs_storage_close(st);
}

TEST(storage_retention_zero_keeps_forever)
{
    /* Without a retention nothing expires; with one, the time counts from the last access as
     * stored, also across a reopen. */
    struct kvs_storage *st = storage_open_retention(0);
    struct kvs_user alice;
    struct kvs_store u;
    ts_user(st, "alice", "tok-alice", &alice);
    ASSERT_OK(ts_store(st, alice.id, "", &u));
    usleep(2200 * 1000);
    ASSERT(store_exists(st, u.id));
    kvs_storage_close(st);
    st = storage_open_retention(1000);
    usleep(2200 * 1000);
    ASSERT(!store_exists(st, u.id));
    kvs_store_clear(&u);
    kvs_storage_close(st);
}

/* ==== runs (storage/run.h) ================================================================== */

/* Act IDs are made by the API (a function of user and name); any 17 alphanumerics do here. */
#define ACT_A "ActAAAAAAAAAAAAAA"
#define ACT_B "ActBBBBBBBBBBBBBB"

/* Create a run of user USER_ID for Actor ACT_ID named ACTOR into *OUT (release it with
 * kvs_run_clear()); its default store into *STORE when not NULL. Returns the write's result. */
static int ts_run(struct kvs_storage *st, const char *user_id, const char *act_id,
                  const char *actor, struct kvs_run *out, struct kvs_store *store)
{
    memset(out, 0, sizeof *out);
    struct kvs_write w = {.op = KVS_W_RUN_CREATE, .run = out};
    snprintf(w.store.user_id, sizeof w.store.user_id, "%s", user_id);
    w.store.general_access = KVS_GA_FOLLOW_USER_SETTING;
    snprintf(out->user_id, sizeof out->user_id, "%s", user_id);
    snprintf(out->act_id, sizeof out->act_id, "%s", act_id);
    snprintf(out->actor, sizeof out->actor, "%s", actor);
    strcpy(out->origin, "CLI");
    out->timeout_secs = 60;
    out->memory_mbytes = 2048;
    int rc = kvs_storage_write(st, &w);
    if (store != NULL)
        *store = w.store;
    else
        kvs_store_clear(&w.store);
    return rc;
}

/* Update run *R (its id) with MASK and the fields set in R; *R becomes the updated run. */
static int ts_run_update(struct kvs_storage *st, struct kvs_run *r, unsigned mask)
{
    struct kvs_write w = {.op = KVS_W_RUN_UPDATE, .run = r, .update_mask = mask};
    return kvs_storage_write(st, &w);
}

static int ts_run_get(struct kvs_storage *st, const char *id, struct kvs_run *out)
{
    struct kvs_read *rd;
    ASSERT_OK(kvs_storage_read_begin(st, &rd));
    int rc = kvs_storage_run_get(rd, kvs_slice_of(id), out);
    kvs_storage_read_end(rd);
    return rc;
}

/* The IDs of a listing, in order, joined by ','; and its total. */
struct ts_runs {
    char ids[1024];
    uint64_t total;
};

static int ts_runs_cb(void *arg, const struct kvs_run *r)
{
    struct ts_runs *l = arg;
    size_t n = strlen(l->ids);
    snprintf(l->ids + n, sizeof l->ids - n, "%s%s", n ? "," : "", r->id);
    return 0;
}

static struct ts_runs ts_runs(struct kvs_storage *st, unsigned by, const char *owner,
                              unsigned statuses, uint64_t offset, uint64_t limit, int desc)
{
    struct ts_runs l = {{0}, 0};
    struct kvs_read *rd;
    ASSERT_OK(kvs_storage_read_begin(st, &rd));
    ASSERT_OK(kvs_storage_run_list(rd, by, kvs_slice_of(owner), statuses, offset, limit, desc,
                                   ts_runs_cb, &l, &l.total));
    kvs_storage_read_end(rd);
    return l;
}

TEST(storage_runs_create_get_list)
{
    struct kvs_storage *st = storage_open();
    struct kvs_user alice, bob;
    ts_user(st, "alice", "tok-alice", &alice);
    ts_user(st, "bob", "tok-bob", &bob);

    struct kvs_run r1;
    struct kvs_store s1;
    int64_t before = kvs_now_ms();
    ASSERT_OK(ts_run(st, alice.id, ACT_A, "scraper", &r1, &s1));
    ASSERT(is_alnum_string(r1.id, KVS_ID_LEN));
    ASSERT_STR_EQ(r1.user_id, alice.id);
    ASSERT_STR_EQ(r1.act_id, ACT_A);
    ASSERT_STR_EQ(r1.actor, "scraper");
    ASSERT_STR_EQ(r1.origin, "CLI");
    ASSERT_EQ(r1.status, KVS_RUN_RUNNING);
    ASSERT_EQ(r1.timeout_secs, 60);
    ASSERT_EQ(r1.memory_mbytes, 2048);
    ASSERT(r1.started_ms >= before - 1000 && r1.started_ms <= kvs_now_ms() + 1000);
    ASSERT_EQ(r1.finished_ms, 0);
    ASSERT_EQ(r1.has_exit_code, 0);
    ASSERT(r1.status_message == NULL);
    /* Its default store: new, unnamed, the same user's. */
    ASSERT_STR_EQ(r1.store_id, s1.id);
    ASSERT(strcmp(r1.id, s1.id) != 0);
    ASSERT_STR_EQ(s1.user_id, alice.id);
    ASSERT_STR_EQ(s1.username, "alice");
    ASSERT_STR_EQ(s1.name, "");
    ASSERT_EQ(s1.general_access, KVS_GA_FOLLOW_USER_SETTING);
    struct kvs_store got;
    ASSERT_OK(ts_store_get(st, s1.id, &got));
    ASSERT_STR_EQ(got.secret, s1.secret);
    kvs_store_clear(&got);
    ASSERT_OK(ts_put_str(st, s1.id, "INPUT", "{}"));

    struct kvs_read *rd;
    struct kvs_run r;
    ASSERT_OK(kvs_storage_read_begin(st, &rd));
    ASSERT_OK(kvs_storage_run_get(rd, kvs_slice_of(r1.id), &r));
    ASSERT_STR_EQ(r.id, r1.id);
    ASSERT_STR_EQ(r.store_id, s1.id);
    ASSERT_STR_EQ(r.actor, "scraper");
    ASSERT_EQ(r.started_ms, r1.started_ms);
    ASSERT_EQ(r.status, KVS_RUN_RUNNING);
    ASSERT_OK(kvs_storage_run_by_store(rd, kvs_slice_of(s1.id), &r));
    ASSERT_STR_EQ(r.id, r1.id);
    ASSERT_ERR(kvs_storage_run_get(rd, KVS_SLICE_LIT("AAAAAAAAAAAAAAAAA"), &r), KVS_ENOTFOUND);
    ASSERT_ERR(kvs_storage_run_get(rd, KVS_SLICE_LIT("short"), &r), KVS_ENOTFOUND);
    ASSERT_ERR(kvs_storage_run_by_store(rd, KVS_SLICE_LIT("AAAAAAAAAAAAAAAAA"), &r), KVS_ENOTFOUND);
    kvs_run_clear(&r);
    kvs_storage_read_end(rd);
    /* A store that is no run's default store has no run. */
    struct kvs_store plain;
    ASSERT_OK(ts_store(st, alice.id, "", &plain));
    ASSERT_OK(kvs_storage_read_begin(st, &rd));
    ASSERT_ERR(kvs_storage_run_by_store(rd, kvs_slice_of(plain.id), &r), KVS_ENOTFOUND);
    kvs_storage_read_end(rd);

    /* More runs, started apart: alice's r2 (Actor A), r3 (Actor B), bob's r4 (Actor B's ID,
     * as if; listings by Actor do not look at the user). */
    struct kvs_run r2, r3, r4;
    usleep(2000);
    ASSERT_OK(ts_run(st, alice.id, ACT_A, "scraper", &r2, NULL));
    usleep(2000);
    ASSERT_OK(ts_run(st, alice.id, ACT_B, "other", &r3, NULL));
    usleep(2000);
    ASSERT_OK(ts_run(st, bob.id, ACT_B, "other", &r4, NULL));
    ASSERT(r2.started_ms > r1.started_ms && r3.started_ms > r2.started_ms);

    char want[256];
    struct ts_runs l = ts_runs(st, KVS_RUNS_OF_USER, alice.id, 0, 0, 100, 0);
    snprintf(want, sizeof want, "%s,%s,%s", r1.id, r2.id, r3.id);
    ASSERT_STR_EQ(l.ids, want);
    ASSERT_EQ(l.total, 3);
    l = ts_runs(st, KVS_RUNS_OF_USER, alice.id, 0, 0, 100, 1);
    snprintf(want, sizeof want, "%s,%s,%s", r3.id, r2.id, r1.id);
    ASSERT_STR_EQ(l.ids, want);
    l = ts_runs(st, KVS_RUNS_OF_USER, alice.id, 0, 1, 1, 1); /* offset and limit */
    ASSERT_STR_EQ(l.ids, r2.id);
    ASSERT_EQ(l.total, 3);
    l = ts_runs(st, KVS_RUNS_OF_USER, alice.id, 0, 5, 10, 0); /* past the end */
    ASSERT_STR_EQ(l.ids, "");
    ASSERT_EQ(l.total, 3);
    l = ts_runs(st, KVS_RUNS_OF_ACTOR, ACT_A, 0, 0, 100, 1);
    snprintf(want, sizeof want, "%s,%s", r2.id, r1.id);
    ASSERT_STR_EQ(l.ids, want);
    l = ts_runs(st, KVS_RUNS_OF_ACTOR, ACT_B, 0, 0, 1, 1); /* the last run of Actor B */
    ASSERT_STR_EQ(l.ids, r4.id);
    ASSERT_EQ(l.total, 2);
    l = ts_runs(st, KVS_RUNS_OF_USER, bob.id, 0, 0, 100, 0);
    ASSERT_STR_EQ(l.ids, r4.id);
    l = ts_runs(st, KVS_RUNS_OF_USER, "AAAAAAAAAAAAAAAAA", 0, 0, 100, 0);
    ASSERT_STR_EQ(l.ids, "");
    ASSERT_EQ(l.total, 0);
    l = ts_runs(st, KVS_RUNS_OF_USER, "bad", 0, 0, 100, 0);
    ASSERT_EQ(l.total, 0);

    /* Status filters follow status changes. */
    r2.status = KVS_RUN_SUCCEEDED;
    r2.has_exit_code = 1;
    ASSERT_OK(ts_run_update(st, &r2, KVS_RUN_UPD_FINISH));
    l = ts_runs(st, KVS_RUNS_OF_USER, alice.id, 1u << KVS_RUN_SUCCEEDED, 0, 100, 0);
    ASSERT_STR_EQ(l.ids, r2.id);
    ASSERT_EQ(l.total, 1);
    l = ts_runs(st, KVS_RUNS_OF_ACTOR, ACT_A, 1u << KVS_RUN_RUNNING, 0, 100, 0);
    ASSERT_STR_EQ(l.ids, r1.id);
    l = ts_runs(st, KVS_RUNS_OF_USER, alice.id, (1u << KVS_RUN_RUNNING) | (1u << KVS_RUN_SUCCEEDED),
                0, 100, 1);
    snprintf(want, sizeof want, "%s,%s,%s", r3.id, r2.id, r1.id);
    ASSERT_STR_EQ(l.ids, want);
    l = ts_runs(st, KVS_RUNS_OF_USER, alice.id, 1u << KVS_RUN_FAILED, 0, 100, 0);
    ASSERT_EQ(l.total, 0);

    kvs_run_clear(&r1);
    kvs_run_clear(&r2);
    kvs_run_clear(&r3);
    kvs_run_clear(&r4);
    kvs_store_clear(&s1);
    kvs_store_clear(&plain);
    kvs_storage_close(st);
}

TEST(storage_runs_create_refused)
{
    struct kvs_storage *st = storage_open();
    struct kvs_user alice;
    ts_user(st, "alice", "tok-alice", &alice);
    struct kvs_run r;
    ASSERT_ERR(ts_run(st, "AAAAAAAAAAAAAAAAA", ACT_A, "a", &r, NULL), KVS_ENOTFOUND);
    ASSERT_ERR(ts_run(st, alice.id, ACT_A, "-bad-", &r, NULL), KVS_EINVAL);
    ASSERT_ERR(ts_run(st, alice.id, ACT_A, "", &r, NULL), KVS_EINVAL);
    ASSERT_ERR(ts_run(st, alice.id, "short", "a", &r, NULL), KVS_EINVAL);

    /* origin: upper case letters; the store: unnamed, the run's user's */
    memset(&r, 0, sizeof r);
    struct kvs_write w = {.op = KVS_W_RUN_CREATE, .run = &r};
    strcpy(w.store.user_id, alice.id);
    strcpy(r.user_id, alice.id);
    strcpy(r.act_id, ACT_A);
    strcpy(r.actor, "a");
    strcpy(r.origin, "cli");
    ASSERT_ERR(kvs_storage_write(st, &w), KVS_EINVAL);
    strcpy(r.origin, "CLI");
    strcpy(w.store.name, "named");
    ASSERT_ERR(kvs_storage_write(st, &w), KVS_EINVAL);
    w.store.name[0] = '\0';
    strcpy(w.store.user_id, "AAAAAAAAAAAAAAAAA");
    ASSERT_ERR(kvs_storage_write(st, &w), KVS_EINVAL);
    struct kvs_write none = {.op = KVS_W_RUN_CREATE}; /* no run at all */
    ASSERT_ERR(kvs_storage_write(st, &none), KVS_EINVAL);

    /* Nothing was made. */
    struct ts_runs l = ts_runs(st, KVS_RUNS_OF_USER, alice.id, 0, 0, 100, 0);
    ASSERT_EQ(l.total, 0);
    struct kvs_read *rd;
    uint64_t total = 0;
    ASSERT_OK(kvs_storage_read_begin(st, &rd));
    ASSERT_OK(kvs_storage_store_list(rd, kvs_slice_of(alice.id), 0, 100, 0, 1, ts_no_store, NULL,
                                     &total));
    kvs_storage_read_end(rd);
    ASSERT_EQ(total, 0);
    kvs_storage_close(st);
}

TEST(storage_runs_status_rules)
{
    struct kvs_storage *st = storage_open();
    struct kvs_user alice;
    ts_user(st, "alice", "tok-alice", &alice);
    struct kvs_run r, q;

    /* The status message, any time; then finish; a second finish is refused. */
    ASSERT_OK(ts_run(st, alice.id, ACT_A, "a", &r, NULL));
    r.status_message = strdup("Crawled 10 pages ✓");
    r.message_terminal = 0;
    ASSERT_OK(ts_run_update(st, &r, KVS_RUN_UPD_MESSAGE));
    ASSERT_STR_EQ(r.status_message, "Crawled 10 pages ✓");
    ASSERT_EQ(r.status, KVS_RUN_RUNNING);
    ASSERT_OK(ts_run_get(st, r.id, &q));
    ASSERT_STR_EQ(q.status_message, "Crawled 10 pages ✓");
    ASSERT_EQ(q.message_terminal, 0);
    kvs_run_clear(&q);
    r.status = KVS_RUN_FAILED;
    r.has_exit_code = 1;
    r.exit_code = 3;
    int64_t before = kvs_now_ms();
    ASSERT_OK(ts_run_update(st, &r, KVS_RUN_UPD_FINISH));
    ASSERT_EQ(r.status, KVS_RUN_FAILED);
    ASSERT_EQ(r.exit_code, 3);
    ASSERT(r.finished_ms >= before - 1000);
    ASSERT_STR_EQ(r.status_message, "Crawled 10 pages ✓"); /* a finish keeps the message */
    r.status = KVS_RUN_SUCCEEDED;
    ASSERT_ERR(ts_run_update(st, &r, KVS_RUN_UPD_FINISH), KVS_EFINISHED);
    ASSERT_OK(ts_run_get(st, r.id, &q));
    ASSERT_EQ(q.status, KVS_RUN_FAILED);
    ASSERT_EQ(q.has_exit_code, 1);
    ASSERT_EQ(q.exit_code, 3);
    ASSERT_EQ(q.finished_ms, r.finished_ms);
    kvs_run_clear(&q);
    /* An abort of a finished run changes nothing; a message still may, terminal now. */
    ASSERT_OK(ts_run_update(st, &r, KVS_RUN_UPD_ABORT));
    ASSERT_EQ(r.status, KVS_RUN_FAILED);
    free(r.status_message);
    r.status_message = strdup("Done");
    r.message_terminal = 1;
    ASSERT_OK(ts_run_update(st, &r, KVS_RUN_UPD_MESSAGE));
    ASSERT_OK(ts_run_get(st, r.id, &q));
    ASSERT_STR_EQ(q.status_message, "Done");
    ASSERT_EQ(q.message_terminal, 1);
    ASSERT_EQ(q.status, KVS_RUN_FAILED);
    kvs_run_clear(&q);
    /* A NULL message clears it. */
    free(r.status_message);
    r.status_message = NULL;
    ASSERT_OK(ts_run_update(st, &r, KVS_RUN_UPD_MESSAGE));
    ASSERT(r.status_message == NULL);
    kvs_run_clear(&r);

    /* Abort, then the runner's finish: ABORTED, with its exit code. */
    ASSERT_OK(ts_run(st, alice.id, ACT_A, "a", &r, NULL));
    ASSERT_OK(ts_run_update(st, &r, KVS_RUN_UPD_ABORT));
    ASSERT_EQ(r.status, KVS_RUN_ABORTING);
    ASSERT_EQ(r.finished_ms, 0);
    r.status = KVS_RUN_SUCCEEDED;
    r.has_exit_code = 1;
    r.exit_code = 143;
    ASSERT_OK(ts_run_update(st, &r, KVS_RUN_UPD_FINISH));
    ASSERT_EQ(r.status, KVS_RUN_ABORTED);
    ASSERT_EQ(r.exit_code, 143);
    ASSERT(r.finished_ms > 0);
    kvs_run_clear(&r);

    /* Abort twice: nobody ended it, so the second ends it, without an exit code. */
    ASSERT_OK(ts_run(st, alice.id, ACT_A, "a", &r, NULL));
    ASSERT_OK(ts_run_update(st, &r, KVS_RUN_UPD_ABORT));
    ASSERT_OK(ts_run_update(st, &r, KVS_RUN_UPD_ABORT));
    ASSERT_EQ(r.status, KVS_RUN_ABORTED);
    ASSERT_EQ(r.has_exit_code, 0);
    ASSERT(r.finished_ms > 0);
    ASSERT_OK(ts_run_get(st, r.id, &q));
    ASSERT_EQ(q.status, KVS_RUN_ABORTED);
    kvs_run_clear(&q);
    kvs_run_clear(&r);

    /* Refused: finish to a running status, no bit, finish and abort at once, an unknown bit,
     * a message too long, a missing run. Nothing changes. */
    ASSERT_OK(ts_run(st, alice.id, ACT_A, "a", &r, NULL));
    r.status = KVS_RUN_RUNNING;
    ASSERT_ERR(ts_run_update(st, &r, KVS_RUN_UPD_FINISH), KVS_EINVAL);
    ASSERT_ERR(ts_run_update(st, &r, 0), KVS_EINVAL);
    r.status = KVS_RUN_SUCCEEDED;
    ASSERT_ERR(ts_run_update(st, &r, KVS_RUN_UPD_FINISH | KVS_RUN_UPD_ABORT), KVS_EINVAL);
    ASSERT_ERR(ts_run_update(st, &r, 64), KVS_EINVAL);
    r.status_message = malloc(KVS_RUN_MESSAGE_MAX + 2);
    memset(r.status_message, 'x', KVS_RUN_MESSAGE_MAX + 1);
    r.status_message[KVS_RUN_MESSAGE_MAX + 1] = '\0';
    ASSERT_ERR(ts_run_update(st, &r, KVS_RUN_UPD_MESSAGE), KVS_EINVAL);
    r.status_message[KVS_RUN_MESSAGE_MAX] = '\0'; /* the longest that fits */
    ASSERT_OK(ts_run_update(st, &r, KVS_RUN_UPD_MESSAGE));
    ASSERT_EQ(strlen(r.status_message), KVS_RUN_MESSAGE_MAX);
    ASSERT_EQ(r.status, KVS_RUN_RUNNING);
    struct kvs_run missing = {.status = KVS_RUN_SUCCEEDED};
    strcpy(missing.id, "AAAAAAAAAAAAAAAAA");
    ASSERT_ERR(ts_run_update(st, &missing, KVS_RUN_UPD_FINISH), KVS_ENOTFOUND);
    kvs_run_clear(&r);
    kvs_storage_close(st);
}

/* Two writes of one batch see each other: an abort and a finish submitted together. */
struct ts_waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int left;
};

static void ts_done(struct kvs_write *w)
{
    struct ts_waiter *t = w->arg;
    pthread_mutex_lock(&t->mu);
    t->left--;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

TEST(storage_runs_updates_in_one_batch)
{
    struct kvs_storage *st = storage_open();
    struct kvs_user alice;
    ts_user(st, "alice", "tok-alice", &alice);
    struct kvs_run r;
    ASSERT_OK(ts_run(st, alice.id, ACT_A, "a", &r, NULL));
    struct kvs_run a = {0}, f = {0}, m = {0};
    strcpy(a.id, r.id);
    strcpy(f.id, r.id);
    strcpy(m.id, r.id);
    f.status = KVS_RUN_SUCCEEDED;
    f.has_exit_code = 1;
    m.status_message = strdup("late");
    struct ts_waiter t = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 3};
    struct kvs_write ws[3] = {
        {.op = KVS_W_RUN_UPDATE, .run = &a, .update_mask = KVS_RUN_UPD_ABORT, .done = ts_done},
        {.op = KVS_W_RUN_UPDATE, .run = &f, .update_mask = KVS_RUN_UPD_FINISH, .done = ts_done},
        {.op = KVS_W_RUN_UPDATE, .run = &m, .update_mask = KVS_RUN_UPD_MESSAGE, .done = ts_done},
    };
    for (int i = 0; i < 3; i++) {
        ws[i].arg = &t;
        ASSERT_OK(kvs_storage_submit(st, &ws[i]));
    }
    pthread_mutex_lock(&t.mu);
    while (t.left > 0)
        pthread_cond_wait(&t.cv, &t.mu);
    pthread_mutex_unlock(&t.mu);
    /* In submission order, each on what the one before left (in one batch or not). */
    ASSERT_OK(ws[0].result);
    ASSERT_EQ(a.status, KVS_RUN_ABORTING);
    ASSERT_OK(ws[1].result);
    ASSERT_EQ(f.status, KVS_RUN_ABORTED);
    ASSERT_OK(ws[2].result);
    ASSERT_EQ(m.status, KVS_RUN_ABORTED);
    ASSERT_STR_EQ(m.status_message, "late");
    struct kvs_run q;
    ASSERT_OK(ts_run_get(st, r.id, &q));
    ASSERT_EQ(q.status, KVS_RUN_ABORTED);
    ASSERT_STR_EQ(q.status_message, "late");
    ASSERT_EQ(q.has_exit_code, 1);
    kvs_run_clear(&q);
    kvs_run_clear(&a);
    kvs_run_clear(&f);
    kvs_run_clear(&m);
    kvs_run_clear(&r);
    kvs_storage_close(st);
}

TEST(storage_runs_go_with_their_store)
{
    struct kvs_storage *st = storage_open();
    struct kvs_user alice;
    ts_user(st, "alice", "tok-alice", &alice);
    struct kvs_run r, keep;
    struct kvs_store s;
    ASSERT_OK(ts_run(st, alice.id, ACT_A, "a", &r, &s));
    ASSERT_OK(ts_run(st, alice.id, ACT_A, "a", &keep, NULL));
    ASSERT_OK(ts_put_str(st, s.id, "OUTPUT", "done"));

    struct kvs_write w = {.op = KVS_W_STORE_DELETE};
    strcpy(w.store_id, s.id);
    ASSERT_OK(kvs_storage_write(st, &w));
    struct kvs_run q;
    ASSERT_ERR(ts_run_get(st, r.id, &q), KVS_ENOTFOUND);
    struct kvs_read *rd;
    ASSERT_OK(kvs_storage_read_begin(st, &rd));
    ASSERT_ERR(kvs_storage_run_by_store(rd, kvs_slice_of(s.id), &q), KVS_ENOTFOUND);
    kvs_storage_read_end(rd);
    struct ts_runs l = ts_runs(st, KVS_RUNS_OF_USER, alice.id, 0, 0, 100, 0);
    ASSERT_STR_EQ(l.ids, keep.id);
    ASSERT_EQ(l.total, 1);
    l = ts_runs(st, KVS_RUNS_OF_ACTOR, ACT_A, 0, 0, 100, 0);
    ASSERT_STR_EQ(l.ids, keep.id);
    r.status = KVS_RUN_SUCCEEDED;
    ASSERT_ERR(ts_run_update(st, &r, KVS_RUN_UPD_FINISH), KVS_ENOTFOUND);
    ASSERT_OK(ts_run_get(st, keep.id, &q));
    kvs_run_clear(&q);
    kvs_run_clear(&r);
    kvs_run_clear(&keep);
    kvs_store_clear(&s);
    kvs_storage_close(st);
}

TEST(storage_runs_expire_with_their_store)
{
    /* Retention 1 s: a run's default store is unnamed, and the run expires with it; a run
     * whose store is read (as `kvs run` polling its run does, through the API) stays. */
    struct kvs_storage *st = storage_open_retention(1000);
    struct kvs_user alice;
    ts_user(st, "alice", "tok-alice", &alice);
    struct kvs_run idle, busy;
    struct kvs_store busy_store;
    ASSERT_OK(ts_run(st, alice.id, ACT_A, "a", &idle, NULL));
    ASSERT_OK(ts_run(st, alice.id, ACT_A, "a", &busy, &busy_store));
    struct kvs_run q;
    for (int i = 0; i < 25; i++) { /* 2.5 s */
        kvs_storage_note_access(st, busy_store.id, KVS_NOTE_ACCESS);
        usleep(100 * 1000);
    }
    for (int i = 0; i < 30 && ts_run_get(st, idle.id, &q) == 0; i++) {
        kvs_run_clear(&q);
        kvs_storage_note_access(st, busy_store.id, KVS_NOTE_ACCESS);
        usleep(100 * 1000);
    }
    ASSERT_ERR(ts_run_get(st, idle.id, &q), KVS_ENOTFOUND);
    ASSERT(!store_exists(st, idle.store_id));
    ASSERT_OK(ts_run_get(st, busy.id, &q));
    kvs_run_clear(&q);
    ASSERT(store_exists(st, busy_store.id));
    struct ts_runs l = ts_runs(st, KVS_RUNS_OF_ACTOR, ACT_A, 0, 0, 100, 0);
    ASSERT_STR_EQ(l.ids, busy.id);
    kvs_run_clear(&idle);
    kvs_run_clear(&busy);
    kvs_store_clear(&busy_store);
    kvs_storage_close(st);
}

/* KVS_W_USER_DELETE takes what else is the user's: their runs (with their default stores), and
 * the secrets they have seen: a store they could write through a share gets a new one
 * (storage.h, "Signing secrets"); one they could only read keeps its own. */
TEST(storage_user_delete_takes_runs_and_secrets)
{
    struct kvs_storage *st = storage_open();
    struct kvs_user alice, bob;
    ts_user(st, "alice", "tok-alice", &alice);
    ts_user(st, "bob", "tok-bob", &bob);
    struct kvs_run mine, his;
    struct kvs_store run_store;
    ASSERT_OK(ts_run(st, alice.id, ACT_A, "scraper", &mine, &run_store));
    ASSERT_OK(ts_run(st, bob.id, ACT_B, "other", &his, NULL));
    struct kvs_store writable, readable;
    ASSERT_OK(ts_store(st, bob.id, "writable", &writable));
    ASSERT_OK(ts_store(st, bob.id, "readable", &readable));
    ASSERT_OK(share_set(st, writable.id, alice.id, KVS_SHARE_WRITE));
    ASSERT_OK(share_set(st, readable.id, alice.id, KVS_SHARE_READ));
    char w_before[KVS_SECRET_LEN + 1], r_before[KVS_SECRET_LEN + 1], now[KVS_SECRET_LEN + 1];
    secret_of(st, writable.id, w_before);
    secret_of(st, readable.id, r_before);

    ASSERT_OK(user_delete(st, alice.id, NULL));
    struct kvs_run got;
    ASSERT_ERR(ts_run_get(st, mine.id, &got), KVS_ENOTFOUND);
    ASSERT_ERR(ts_store_get(st, run_store.id, &(struct kvs_store){0}), KVS_ENOTFOUND);
    ASSERT_OK(ts_run_get(st, his.id, &got));
    kvs_run_clear(&got);
    secret_of(st, writable.id, now);
    ASSERT(strcmp(now, w_before) != 0); /* alice had seen it */
    secret_of(st, readable.id, now);
    ASSERT_STR_EQ(now, r_before);
    ASSERT_EQ(share_of(st, writable.id, alice.id), KVS_SHARE_NONE);

    kvs_run_clear(&mine);
    kvs_run_clear(&his);
    kvs_store_clear(&run_store);
    kvs_store_clear(&writable);
    kvs_store_clear(&readable);
    kvs_storage_close(st);
}
