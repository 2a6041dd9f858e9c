/* test_pg.c — checks particular to the PostgreSQL back-end (storage/pg_*.c), beyond the
 * conformance suite (which `make test-unit` also runs against PostgreSQL): key pages are range
 * scans of the primary key (EXPLAIN), two storages on one database behave as two nodes of one
 * store, nodes start together, connections lost are made again, and a database that cannot be
 * reached or holds another schema version is refused in one line.
 *
 * They need $KVS_TEST_PG (tests/pg/with-cluster.sh sets it; `make test-unit` runs them so).
 * Each test works in a schema of its own (helpers.h). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../test.h"
#include "common/clock.h"
#include "common/precond.h"
#include "helpers.h"
#include "storage/pg_internal.h"
#include "storage/storage.h"

/* The URI of this test's schema; fails the test without $KVS_TEST_PG. */
static const char *uri(void)
{
    static char buf[1024];
    if (ts_pg_base() == NULL)
        TEST_FAIL_("$KVS_TEST_PG is not set: run through tests/pg/with-cluster.sh (make "
                   "test-unit does)");
    if (buf[0] == '\0')
        ts_pg_uri(buf, sizeof buf);
    return buf;
}

static struct kvs_storage *open_node(uint64_t retention_ms)
{
    struct kvs_storage_config cfg = {.pg_uri = uri(), .unnamed_retention_ms = retention_ms};
    struct kvs_storage *st = NULL;
    ASSERT_OK(kvs_storage_open_pg(&cfg, &st));
    ASSERT_STR_EQ(kvs_storage_name(st), "postgres");
    return st;
}

/* A node with user "alice" (token "tok-alice") and her store "main". */
static struct kvs_storage *node_with_store(struct kvs_user *alice, struct kvs_store *s)
{
    struct kvs_storage *st = open_node(0);
    ts_user(st, "alice", "tok-alice", alice);
    ASSERT_OK(ts_store(st, alice->id, "main", s));
    return st;
}

/* A connection of the test's own to the test's schema. */
static PGconn *sql_conn(void)
{
    PGconn *pg = PQconnectdb(uri());
    ASSERT(PQstatus(pg) == CONNECTION_OK);
    return pg;
}

/* Run SQL and return its only value as a number (or -1 when it returned no row). */
static long long sql_num(PGconn *pg, const char *sql)
{
    PGresult *r = PQexec(pg, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        TEST_FAIL_("%s: %s", sql, PQresultErrorMessage(r));
    long long n = PQntuples(r) > 0 ? atoll(PQgetvalue(r, 0, 0)) : -1;
    PQclear(r);
    return n;
}

/* Run SQL and return its text: rows joined by newlines (malloc'd). */
static char *sql_text(PGconn *pg, const char *sql)
{
    PGresult *r = PQexec(pg, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK)
        TEST_FAIL_("%s: %s", sql, PQresultErrorMessage(r));
    size_t cap = 1, n = 0;
    for (int i = 0; i < PQntuples(r); i++)
        cap += strlen(PQgetvalue(r, i, 0)) + 1;
    char *out = malloc(cap);
    ASSERT(out != NULL);
    for (int i = 0; i < PQntuples(r); i++)
        n += (size_t)sprintf(out + n, "%s\n", PQgetvalue(r, i, 0));
    out[n] = '\0';
    PQclear(r);
    return out;
}

/* ==== text parameters (no database needed) ================================================== */

static void expect_end(const char *prefix, const char *want)
{
    char out[64];
    size_t n = kvs_pg_prefix_end(prefix, strlen(prefix), out);
    ASSERT_MEM_EQ(out, n, want);
}

TEST(pg_prefix_end_and_text_checks)
{
    expect_end("a", "b");
    expect_end("ab", "ac");
    expect_end("a~", "a\x7f");
    expect_end("a\x7f", "a\xc2\x80");             /* U+007F → U+0080 */
    expect_end("\xc3\xa9", "\xc3\xaa");           /* é → ê */
    expect_end("x\xed\x9f\xbf", "x\xee\x80\x80"); /* U+D7FF → U+E000, past the surrogates */
    expect_end("a\xf4\x8f\xbf\xbf", "b");         /* U+10FFFF has no successor: a → b */
    char out[16];
    ASSERT_EQ(kvs_pg_prefix_end("", 0, out), 0);
    ASSERT_EQ(kvs_pg_prefix_end("\xf4\x8f\xbf\xbf", 4, out), 0);

    ASSERT(kvs_pg_text_ok("", 0));
    ASSERT(kvs_pg_text_ok("key-1.(x)", 9));
    ASSERT(kvs_pg_text_ok("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9));
    ASSERT(!kvs_pg_text_ok("a\0b", 3));
    ASSERT(!kvs_pg_text_ok("\xff", 1));
    ASSERT(!kvs_pg_text_ok("\xc3", 1));             /* cut short */
    ASSERT(!kvs_pg_text_ok("\xc0\xaf", 2));         /* overlong */
    ASSERT(!kvs_pg_text_ok("\xed\xa0\x80", 3));     /* a surrogate */
    ASSERT(!kvs_pg_text_ok("\xf4\x90\x80\x80", 4)); /* above U+10FFFF */

    ASSERT(kvs_pg_id_ok("abcDEF0123456789x", 18));
    ASSERT(!kvs_pg_id_ok("abcDEF0123456789", 18));
    ASSERT(!kvs_pg_id_ok("abcDEF012345678-x", 18));
}

/* ==== plans ================================================================================= */

/* EXPLAIN the key-page statement STMT on a generic plan (the one a prepared statement settles
 * on) with ARGS, and check that it is a range scan of the primary key in its order: no sort,
 * no LIKE, no sequential scan. */
static void expect_range_scan(PGconn *pg, const struct kvs_pg_stmt *stmt, const char *args,
                              const char *cond)
{
    char sql[4096];
    snprintf(sql, sizeof sql, "PREPARE p_%s AS %s", stmt->name, stmt->sql);
    free(sql_text(pg, sql));
    snprintf(sql, sizeof sql, "EXPLAIN (COSTS OFF) EXECUTE p_%s(%s)", stmt->name, args);
    char *plan = sql_text(pg, sql);
    fprintf(stderr, "%s:\n%s", stmt->name, plan);
    ASSERT(strstr(plan, "Index Scan using kvs_records_pkey on kvs_records") != NULL);
    ASSERT(strstr(plan, cond) != NULL);
    ASSERT(strstr(plan, "Limit") != NULL);
    ASSERT(strstr(plan, "Sort") == NULL);
    ASSERT(strstr(plan, "~~") == NULL); /* LIKE */
    ASSERT(strstr(plan, "Seq Scan on kvs_records") == NULL);
    free(plan);
}

/* On a new database, whose tables are empty when the writer's statements are first planned,
 * batches of puts, replaces and deletes still find records through the primary key: not one
 * sequential scan of kvs_records (a generic plan made on the empty table would hash-join
 * over them; pg_conn.c). Each backend reports its counts within about a second. */
TEST(pg_batches_never_scan_the_records)
{
    struct kvs_user alice;
    struct kvs_store s;
    struct kvs_storage *st = node_with_store(&alice, &s);
    PGconn *pg = sql_conn();
#define RECORDS_STAT(COL)                                                                          \
    "SELECT " COL " FROM pg_stat_user_tables"                                                      \
    " WHERE schemaname = current_schema() AND relname = 'kvs_records'"
    usleep(1500 * 1000); /* what the schema's creation counted has been reported */
    long long seq_before = sql_num(pg, RECORDS_STAT("seq_scan"));
    ASSERT(seq_before >= 0);
    for (int round = 0; round < 12; round++) { /* past the 5 custom plans of a statement */
        struct ts_counter c = TS_COUNTER_INIT;
        struct kvs_write ws[40];
        char keys[40][32];
        for (int i = 0; i < 40; i++) {
            snprintf(keys[i], sizeof keys[i], "k%d", (round * 7 + i) % 100);
            ws[i] = (struct kvs_write){.op = i % 5 == 4 ? KVS_W_RECORD_DELETE : KVS_W_RECORD_PUT,
                                       .key = kvs_slice_of(keys[i]),
                                       .value = KVS_SLICE_LIT("v"),
                                       .done = ts_counter_done,
                                       .arg = &c};
            memcpy(ws[i].store_id, s.id, sizeof ws[i].store_id);
        }
        for (int i = 0; i < 40; i++)
            ASSERT_OK(kvs_storage_submit(st, &ws[i]));
        ts_counter_wait(&c, 40);
        ASSERT_EQ(c.failed, 0);
    }
    long long idx = 0;
    for (int i = 0; i < 50 && idx == 0; i++) { /* until the writer's backend has reported */
        usleep(100 * 1000);
        free(sql_text(pg, "SELECT pg_stat_clear_snapshot()"));
        idx = sql_num(pg, RECORDS_STAT("coalesce(idx_scan, 0)"));
    }
    ASSERT(idx > 0);
    ASSERT_EQ(sql_num(pg, RECORDS_STAT("seq_scan")), seq_before);
#undef RECORDS_STAT
    PQfinish(pg);
    kvs_store_clear(&s);
    kvs_storage_close(st);
}

TEST(pg_keys_page_is_a_range_scan_of_the_primary_key)
{
    struct kvs_user alice;
    struct kvs_store s;
    struct kvs_storage *st = node_with_store(&alice, &s);
    for (int i = 0; i < 300; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%04d", i);
        ASSERT_OK(ts_put_str(st, s.id, key, "v"));
    }
    PGconn *pg = sql_conn();
    free(sql_text(pg, "ANALYZE kvs_records"));
    free(sql_text(pg, "SET plan_cache_mode = force_generic_plan"));
    char args[128];
    for (int what = 0; what < 3; what++) { /* keys; with their types; with their records */
        snprintf(args, sizeof args, "'%s', '', 1001", s.id);
        expect_range_scan(pg, &kvs_pg_q_keys_with[what][0], args, "(key > $2)");
        snprintf(args, sizeof args, "'%s', 'k0100', 'k01', 'k02', 1001", s.id);
        expect_range_scan(pg, &kvs_pg_q_keys_with[what][1], args, "(key >= $3) AND (key < $4)");
    }
    PQfinish(pg);

    /* And the statements give what the plans promise. */
    struct ts_keys k = {0};
    ASSERT_EQ(ts_list(st, s.id, "k01", "k0150", 1000, &k), 0);
    ASSERT_EQ(k.n, 49);
    ASSERT_STR_EQ(k.keys[0], "k0151");
    ts_keys_free(&k);
    kvs_store_clear(&s);
    kvs_storage_close(st);
}

/* ==== two nodes on one database ============================================================= */

struct writer_arg {
    struct kvs_storage *st;
    const char *store_id;
    int node, thread;
};

enum { WRITERS = 4, WRITES = 150 };

/* Puts WRITES records: its own keys, and every tenth a hot key both nodes overwrite. */
static void *write_many(void *arg)
{
    struct writer_arg *a = arg;
    for (int i = 0; i < WRITES; i++) {
        char key[32], value[32];
        if (i % 10 == 0)
            snprintf(key, sizeof key, "hot-%d", i % 3);
        else
            snprintf(key, sizeof key, "n%d-t%d-%03d", a->node, a->thread, i);
        snprintf(value, sizeof value, "v%d.%d.%d", a->node, a->thread, i);
        ASSERT_OK(ts_put_str(a->st, a->store_id, key, value));
    }
    return NULL;
}

static int sum_sizes(void *arg, const struct kvs_key_view *k)
{
    uint64_t *sum = arg;
    *sum += k->key.n + k->size;
    return 0;
}

TEST(pg_two_nodes_share_one_store)
{
    struct kvs_user alice;
    struct kvs_store s;
    struct kvs_storage *a = node_with_store(&alice, &s), *b = open_node(0);

    /* B sees what A wrote, at once: user, token, store, record; and a replace. */
    struct kvs_read *rd;
    struct kvs_user u;
    uint8_t hash[KVS_TOKEN_HASH_LEN];
    kvs_token_hash(KVS_SLICE_LIT("tok-alice"), hash);
    ASSERT_OK(kvs_storage_read_begin(b, &rd));
    ASSERT_OK(kvs_storage_user_by_token(rd, hash, &u));
    ASSERT_STR_EQ(u.id, alice.id);
    kvs_storage_read_end(rd);
    char *v;
    size_t n;
    for (int i = 0; i < 20; i++) {
        char value[16];
        snprintf(value, sizeof value, "value-%d", i);
        ASSERT_OK(ts_put_str(i % 2 ? b : a, s.id, "k", value));
        ASSERT_OK(ts_get(i % 2 ? a : b, s.id, "k", &v, &n));
        ASSERT_MEM_EQ(v, n, value);
        free(v);
    }

    /* Writers on both nodes at once: nothing lost, the stats exact. */
    pthread_t th[2 * WRITERS];
    struct writer_arg args[2 * WRITERS];
    for (int i = 0; i < 2 * WRITERS; i++) {
        args[i] = (struct writer_arg){
            .st = i % 2 ? b : a, .store_id = s.id, .node = i % 2, .thread = i / 2};
        ASSERT_EQ(pthread_create(&th[i], NULL, write_many, &args[i]), 0);
    }
    for (int i = 0; i < 2 * WRITERS; i++)
        ASSERT_EQ(pthread_join(th[i], NULL), 0);
    struct ts_keys keys = {0};
    ASSERT_EQ(ts_list(b, s.id, "", "", 10000, &keys), 0);
    int own = 2 * WRITERS * (WRITES - WRITES / 10);
    ASSERT_EQ(keys.n, 1 + 3 + own); /* "k", three hot keys, and every writer's own */
    ts_keys_free(&keys);
    uint64_t bytes = 0;
    int truncated;
    ASSERT_OK(kvs_storage_read_begin(a, &rd));
    ASSERT_OK(kvs_storage_keys_list(rd, kvs_slice_of(s.id), KVS_SLICE_LIT(""), KVS_SLICE_LIT(""),
                                    10000, 0, sum_sizes, &bytes, &truncated));
    kvs_storage_read_end(rd);
    struct kvs_store got;
    ASSERT_OK(ts_store_get(a, s.id, &got));
    ASSERT_EQ(got.stats.write_count, 20 + 2 * WRITERS * WRITES);
    ASSERT_EQ(got.stats.record_count, 1 + 3 + own);
    ASSERT_EQ(got.stats.storage_bytes, bytes);
    kvs_store_clear(&got);
    PGconn *pg = sql_conn();
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) * 1000000 + sum(length(key) + octet_length(value)) "
             "FROM kvs_records WHERE store_id = '%s'",
             s.id);
    ASSERT_EQ(sql_num(pg, sql), (long long)(1 + 3 + own) * 1000000 + (long long)bytes);

    /* Reads counted on both nodes, flushed by each within about a second, all counted. */
    for (int i = 0; i < 1000; i++)
        kvs_storage_note_access(i % 2 ? a : b, s.id, KVS_NOTE_READ);
    usleep(2500 * 1000);
    snprintf(sql, sizeof sql, "SELECT read_count FROM kvs_stores WHERE id = '%s'", s.id);
    ASSERT_EQ(sql_num(pg, sql), 1000);

    /* A token revoked on A is refused on B from then on. */
    struct kvs_write w = {.op = KVS_W_TOKEN_REVOKE};
    kvs_token_hash(KVS_SLICE_LIT("tok-alice"), w.token_hash);
    ASSERT_OK(kvs_storage_write(a, &w));
    ASSERT_OK(kvs_storage_read_begin(b, &rd));
    ASSERT_ERR(kvs_storage_user_by_token(rd, hash, &u), KVS_ENOTFOUND);
    kvs_storage_read_end(rd);

    /* A store deleted on A: gone for B's reads and writes, its records swept. */
    struct kvs_write del = {.op = KVS_W_STORE_DELETE};
    memcpy(del.store_id, s.id, sizeof del.store_id);
    ASSERT_OK(kvs_storage_write(a, &del));
    ASSERT_ERR(ts_store_get(b, s.id, &got), KVS_ENOTFOUND);
    ASSERT_ERR(ts_get(b, s.id, "k", &v, &n), KVS_ENOTFOUND);
    ASSERT_ERR(ts_put_str(b, s.id, "late", "x"), KVS_ENOTFOUND);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM kvs_records WHERE store_id = '%s'", s.id);
    for (int i = 0; i < 50 && sql_num(pg, sql) > 0; i++)
        usleep(100 * 1000);
    ASSERT_EQ(sql_num(pg, sql), 0);
    ASSERT_EQ(sql_num(pg, "SELECT count(*) FROM kvs_dead_stores"), 0);
    PQfinish(pg);

    kvs_store_clear(&s);
    kvs_storage_close(a);
    kvs_storage_close(b);
}

/* Two nodes writing to the same stores in opposite orders: the stats rows are locked in the
 * order of their IDs, so no batch deadlocks, and the counts add up. */
struct crosser {
    struct kvs_storage *st;
    const char *first, *second;
    struct ts_counter *c;
};

static void *cross(void *arg)
{
    struct crosser *x = arg;
    enum { N = 200 };
    struct kvs_write *ws = calloc(2 * N, sizeof *ws);
    ASSERT(ws != NULL);
    for (int i = 0; i < 2 * N; i++) {
        ws[i].op = KVS_W_RECORD_PUT;
        snprintf(ws[i].store_id, sizeof ws[i].store_id, "%s", i % 2 ? x->second : x->first);
        ws[i].key = KVS_SLICE_LIT("same");
        ws[i].value = KVS_SLICE_LIT("x");
        ws[i].done = ts_counter_done;
        ws[i].arg = x->c;
        ASSERT_OK(kvs_storage_submit(x->st, &ws[i]));
    }
    ts_counter_wait(x->c, 2 * N);
    free(ws);
    return NULL;
}

TEST(pg_nodes_do_not_deadlock_on_stats)
{
    struct kvs_storage *a = open_node(0), *b = open_node(0);
    struct kvs_user alice;
    struct kvs_store s1, s2;
    ts_user(a, "alice", "tok-alice", &alice);
    ASSERT_OK(ts_store(a, alice.id, "one", &s1));
    ASSERT_OK(ts_store(a, alice.id, "two", &s2));
    struct ts_counter ca = TS_COUNTER_INIT, cb = TS_COUNTER_INIT;
    struct crosser xa = {a, s1.id, s2.id, &ca}, xb = {b, s2.id, s1.id, &cb};
    pthread_t ta, tb;
    ASSERT_EQ(pthread_create(&ta, NULL, cross, &xa), 0);
    ASSERT_EQ(pthread_create(&tb, NULL, cross, &xb), 0);
    ASSERT_EQ(pthread_join(ta, NULL), 0);
    ASSERT_EQ(pthread_join(tb, NULL), 0);
    ASSERT_EQ(ca.failed + cb.failed, 0);
    struct kvs_store got;
    ASSERT_OK(ts_store_get(b, s1.id, &got));
    ASSERT_EQ(got.stats.write_count, 400);
    ASSERT_EQ(got.stats.record_count, 1);
    kvs_store_clear(&got);
    ASSERT_OK(ts_store_get(b, s2.id, &got));
    ASSERT_EQ(got.stats.write_count, 400);
    kvs_store_clear(&got);
    kvs_store_clear(&s1);
    kvs_store_clear(&s2);
    kvs_storage_close(a);
    kvs_storage_close(b);
}

/* ==== starting, failing, recovering ========================================================= */

static void *open_close(void *arg)
{
    (void)arg;
    struct kvs_storage *st = open_node(0);
    kvs_storage_close(st);
    return NULL;
}

TEST(pg_nodes_start_together_on_an_empty_database)
{
    uri(); /* the schema, made once before the threads */
    enum { NODES = 4 };
    pthread_t th[NODES];
    for (int i = 0; i < NODES; i++)
        ASSERT_EQ(pthread_create(&th[i], NULL, open_close, NULL), 0);
    for (int i = 0; i < NODES; i++)
        ASSERT_EQ(pthread_join(th[i], NULL), 0);
    PGconn *pg = sql_conn();
    ASSERT_EQ(sql_num(pg, "SELECT count(*) FROM kvs_meta"), 1);
    ASSERT_EQ(sql_num(pg, "SELECT value::int FROM kvs_meta WHERE key = 'schema_version'"),
              PG_SCHEMA_VERSION);
    PQfinish(pg);
}

TEST(pg_unreachable_database_is_one_line)
{
    char why[512] = "";
    struct kvs_storage_config cfg = {
        .pg_uri = "postgresql:///kvs?host=/nonexistent-kvs-socket-dir&connect_timeout=2",
        .error = why,
        .error_cap = sizeof why};
    struct kvs_storage *st = NULL;
    ASSERT_ERR(kvs_storage_open_pg(&cfg, &st), KVS_EUNAVAIL);
    ASSERT(st == NULL);
    ASSERT(strstr(why, "cannot connect") != NULL);
    ASSERT(strstr(why, "/nonexistent-kvs-socket-dir") != NULL);
    ASSERT(strchr(why, '\n') == NULL);
    ASSERT(kvs_storage_spec_is_pg("postgres://h/db"));
    ASSERT(kvs_storage_spec_is_pg("postgresql:///db"));
    ASSERT(!kvs_storage_spec_is_pg("lmdb:data"));
}

TEST(pg_other_schema_version_is_refused)
{
    kvs_storage_close(open_node(0));
    PGconn *pg = sql_conn();
    free(sql_text(pg, "UPDATE kvs_meta SET value = '99' WHERE key = 'schema_version'"));
    PQfinish(pg);
    char why[512] = "";
    struct kvs_storage_config cfg = {.pg_uri = uri(), .error = why, .error_cap = sizeof why};
    struct kvs_storage *st = NULL;
    ASSERT_ERR(kvs_storage_open_pg(&cfg, &st), KVS_EIO);
    char want[96];
    snprintf(want, sizeof want, "schema version 99; this build reads version %d",
             PG_SCHEMA_VERSION);
    ASSERT(strstr(why, want) != NULL);
}

/* Record (STORE_ID, KEY) reads WANT on ST. */
static void expect_value(struct kvs_storage *st, const char *store_id, const char *key,
                         const char *want)
{
    char *v = NULL;
    size_t n = 0;
    ASSERT_OK(ts_get(st, store_id, key, &v, &n));
    ASSERT_STR_EQ(v, want);
    free(v);
}

/* Alice's store S with "old" = "kept", written by a node of today's schema; then, that node
 * closed, the test's schema taken back to VERSION: the statements UNDO (NULL-terminated), and
 * what version 6 added (large values in chunks) taken away. The next node upgrades it. */
static void schema_back_to(int version, const char *const *undo, struct kvs_user *alice,
                           struct kvs_store *s)
{
    struct kvs_storage *st = node_with_store(alice, s);
    ASSERT_OK(ts_put_str(st, s->id, "old", "kept"));
    kvs_storage_close(st);
    PGconn *pg = sql_conn();
    for (; *undo != NULL; undo++)
        free(sql_text(pg, *undo));
    free(sql_text(pg, "DROP TABLE kvs_blobs, kvs_dead_blobs"));
    free(sql_text(pg, "DROP SEQUENCE kvs_blob_ids"));
    free(sql_text(pg, "ALTER TABLE kvs_records DROP COLUMN blob, DROP COLUMN blob_size"));
    char sql[96];
    snprintf(sql, sizeof sql, "UPDATE kvs_meta SET value = '%d' WHERE key = 'schema_version'",
             version);
    free(sql_text(pg, sql));
    PQfinish(pg);
}

/* What version 5 added: the tokens' limits. */
#define UNDO_V5 "ALTER TABLE kvs_tokens DROP COLUMN scope, DROP COLUMN expires_ms"

/* A database of schema version 1 (no record versions) is upgraded at start: its records get
 * the time of the upgrade as version and modification time, and later writes go above it. */
TEST(pg_upgrade_from_v1)
{
    struct kvs_user alice;
    struct kvs_store s;
    static const char *const undo[] = {
        "DROP TABLE kvs_runs",
        "ALTER TABLE kvs_records DROP COLUMN version, DROP COLUMN modified_ms",
        "ALTER TABLE kvs_stores DROP COLUMN last_version",
        "DROP TABLE kvs_epoch",
        "DROP FUNCTION kvs_epoch_bump() CASCADE", /* and its triggers */
        UNDO_V5,
        NULL};
    schema_back_to(1, undo, &alice, &s);

    int64_t before = kvs_now_ms();
    struct kvs_storage *st = open_node(0);
    struct kvs_read *rd;
    struct kvs_record_view rec;
    ASSERT_OK(kvs_storage_read_begin(st, &rd));
    ASSERT_OK(kvs_storage_record_get(rd, kvs_slice_of(s.id), KVS_SLICE_LIT("old"), &rec));
    ASSERT_MEM_EQ(rec.value.p, rec.value.n, "kept");
    ASSERT(rec.modified_ms >= before - 1000 && rec.modified_ms <= kvs_now_ms());
    ASSERT(rec.version >= (uint64_t)rec.modified_ms * 1000);
    uint64_t upgraded = rec.version;
    ts_token_unlimited(rd, "tok-alice", alice.id); /* version 5: its tokens get no limits */
    kvs_storage_read_end(rd);
    struct kvs_write w = {.op = KVS_W_RECORD_PUT, .key = KVS_SLICE_LIT("new"),
                          .value = KVS_SLICE_LIT("v")};
    memcpy(w.store_id, s.id, sizeof w.store_id);
    ASSERT_OK(kvs_storage_write(st, &w));
    ASSERT(w.version > upgraded);
    PGconn *pg = sql_conn();
    ASSERT_EQ(sql_num(pg, "SELECT value::int FROM kvs_meta WHERE key = 'schema_version'"),
              PG_SCHEMA_VERSION);
    PQfinish(pg);
    kvs_store_clear(&s);
    kvs_storage_close(st);
}

/* A database of schema version 3 (no runs) is upgraded at start: kvs_runs is made, and a run
 * then goes with its store whichever statement deletes the store (the foreign key), a person's
 * DELETE in psql too. */
TEST(pg_upgrade_from_v3)
{
    struct kvs_user alice;
    struct kvs_store s;
    static const char *const undo[] = {"DROP TABLE kvs_runs", UNDO_V5, NULL};
    schema_back_to(3, undo, &alice, &s);

    struct kvs_storage *st = open_node(0);
    expect_value(st, s.id, "old", "kept");
    struct kvs_run run = {0};
    struct kvs_write w = {.op = KVS_W_RUN_CREATE, .run = &run};
    strcpy(w.store.user_id, alice.id);
    strcpy(run.user_id, alice.id);
    strcpy(run.act_id, "ActAAAAAAAAAAAAAA");
    strcpy(run.actor, "a");
    strcpy(run.origin, "CLI");
    ASSERT_OK(kvs_storage_write(st, &w));
    PGconn *pg = sql_conn();
    ASSERT_EQ(sql_num(pg, "SELECT value::int FROM kvs_meta WHERE key = 'schema_version'"),
              PG_SCHEMA_VERSION);
    ASSERT_EQ(sql_num(pg, "SELECT count(*) FROM kvs_runs"), 1);
    ASSERT_EQ(sql_num(pg, "SELECT count(*) FROM information_schema.columns"
                          " WHERE table_schema = current_schema() AND table_name = 'kvs_tokens'"
                          " AND column_name IN ('scope', 'expires_ms')"),
              2);
    char sql[128];
    snprintf(sql, sizeof sql, "DELETE FROM kvs_stores WHERE id = '%s'", w.store.id);
    free(sql_text(pg, sql));
    ASSERT_EQ(sql_num(pg, "SELECT count(*) FROM kvs_runs"), 0);
    PQfinish(pg);
    kvs_run_clear(&run);
    kvs_store_clear(&w.store);
    kvs_store_clear(&s);
    kvs_storage_close(st);
}

/* Version 5 (values in their rows only) is upgraded at start: kvs_blobs, kvs_dead_blobs and
 * the sequence are made, the records' new columns are NULL (no row rewritten), and large
 * values then go in chunks. */
TEST(pg_upgrade_from_v5)
{
    struct kvs_user alice;
    struct kvs_store s;
    static const char *const undo[] = {NULL};
    schema_back_to(5, undo, &alice, &s);

    struct kvs_storage *st = open_node(0);
    expect_value(st, s.id, "old", "kept");
    size_t big_n = 3 * PG_BLOB_CHUNK + 17;
    char *big = malloc(big_n);
    ASSERT(big != NULL);
    for (size_t i = 0; i < big_n; i++)
        big[i] = (char)(i * 7 + i / 4099);
    ASSERT_OK(ts_put_upload(st, s.id, "big", big, big_n, 100000, NULL));
    char *v = NULL;
    size_t n = 0;
    ASSERT_OK(ts_get(st, s.id, "big", &v, &n));
    ASSERT(n == big_n && memcmp(v, big, n) == 0);
    free(v);
    free(big);
    PGconn *pg = sql_conn();
    ASSERT_EQ(sql_num(pg, "SELECT value::int FROM kvs_meta WHERE key = 'schema_version'"),
              PG_SCHEMA_VERSION);
    ASSERT_EQ(sql_num(pg, "SELECT count(*) FROM kvs_blobs"), 4);
    ASSERT_EQ(sql_num(pg, "SELECT count(*) FROM kvs_records WHERE blob IS NULL"), 1);
    PQfinish(pg);
    kvs_store_clear(&s);
    kvs_storage_close(st);
}

/* Count the rows of SQL (a SELECT count(*)) on a connection of its own. */
static long long count_of(const char *sql)
{
    PGconn *pg = sql_conn();
    long long n = sql_num(pg, sql);
    PQfinish(pg);
    return n;
}

/* A large value (pg_internal.h, "Large values"): chunks of PG_BLOB_CHUNK bytes in kvs_blobs,
 * committed with the record's row, read back on another node; a reader that opened the value
 * before an overwrite still reads the old bytes; the old chunks are swept after the grace
 * period, and so are those of a deleted record and of a deleted store's; an upload dropped or
 * refused leaves no chunk. */
TEST(pg_large_values_in_chunks)
{
    struct kvs_user alice;
    struct kvs_store s;
    struct kvs_storage *a = node_with_store(&alice, &s), *b = open_node(0);
    size_t n1 = 2 * PG_BLOB_CHUNK + 1, n2 = PG_BLOB_CHUNK * 5 / 2;
    char *v1 = malloc(n1), *v2 = malloc(n2), *got = NULL;
    ASSERT(v1 != NULL && v2 != NULL);
    for (size_t i = 0; i < n1; i++)
        v1[i] = (char)(i % 251);
    for (size_t i = 0; i < n2; i++)
        v2[i] = (char)(i % 241);
    ASSERT_OK(ts_put_upload(a, s.id, "big", v1, n1, 65536, NULL));
    ASSERT_EQ(count_of("SELECT count(*) FROM kvs_blobs"), 3);
    ASSERT_EQ(count_of("SELECT count(*) FROM kvs_records WHERE blob IS NOT NULL AND blob_size = "
                       "524289 AND octet_length(value) = 0"),
              1);
    size_t n = 0;
    ASSERT_OK(ts_get(b, s.id, "big", &got, &n)); /* the other node */
    ASSERT(n == n1 && memcmp(got, v1, n) == 0);
    free(got);
    struct kvs_store st_got;
    ASSERT_OK(ts_store_get(b, s.id, &st_got));
    ASSERT_EQ(st_got.stats.storage_bytes, 3 + n1);
    kvs_store_clear(&st_got);

    /* a reader of the old value keeps reading it across an overwrite */
    struct kvs_read *rd;
    struct kvs_record_view rec;
    struct kvs_value *val;
    ASSERT_OK(kvs_storage_read_begin(b, &rd));
    ASSERT_OK(kvs_storage_record_get(rd, kvs_slice_of(s.id), KVS_SLICE_LIT("big"), &rec));
    ASSERT_OK(kvs_storage_value_open(rd, &rec, &val));
    kvs_storage_read_end(rd);
    ASSERT_OK(ts_put_upload(a, s.id, "big", v2, n2, 300000, NULL));
    ASSERT_EQ(count_of("SELECT count(*) FROM kvs_dead_blobs"), 1);
    char *old = malloc(n1);
    ASSERT(old != NULL);
    size_t at = 0, piece;
    while (at < n1) {
        ASSERT_OK(kvs_value_read(val, at, old + at, 70000, &piece));
        ASSERT(piece > 0);
        at += piece;
    }
    ASSERT(memcmp(old, v1, n1) == 0);
    free(old);
    kvs_value_close(val);
    ASSERT_OK(ts_get(b, s.id, "big", &got, &n));
    ASSERT(n == n2 && memcmp(got, v2, n) == 0);
    free(got);

    /* dropped and refused uploads leave nothing */
    struct kvs_upload *u;
    ASSERT_OK(kvs_storage_upload_begin(a, 0, &u));
    ASSERT_OK(kvs_upload_append(u, v1, n1));
    kvs_upload_abort(u);
    struct kvs_precond none_match = {0};
    kvs_precond_add(&none_match, KVS_H_IF_NONE_MATCH, KVS_SLICE_LIT("*"), 0);
    ASSERT_ERR(ts_put_upload(a, s.id, "big", v1, n1, n1, &none_match), KVS_EPRECOND);
    ASSERT_EQ(count_of("SELECT count(*) FROM kvs_blobs"), 3 + 3); /* v1's, still in grace, v2's */

    /* past the grace period (a node whose grace is 1 ms), the old chunks go */
    struct kvs_storage_config cfg = {.pg_uri = uri(), .pg_blob_grace_ms = 1};
    struct kvs_storage *c = NULL;
    ASSERT_OK(kvs_storage_open_pg(&cfg, &c));
    usleep(20 * 1000);
    while (count_of("SELECT count(*) FROM kvs_dead_blobs") > 0)
        ASSERT(c->ops->maintain(c) >= 0);
    ASSERT_EQ(count_of("SELECT count(*) FROM kvs_blobs"), 3);
    /* a deleted record's, then a deleted store's */
    ASSERT_OK(ts_del(a, s.id, "big"));
    ASSERT_OK(ts_put_upload(a, s.id, "other", v1, n1, n1, NULL));
    struct kvs_write del = {.op = KVS_W_STORE_DELETE};
    strcpy(del.store_id, s.id);
    ASSERT_OK(kvs_storage_write(a, &del));
    usleep(20 * 1000);
    for (int i = 0; i < 1000 && count_of("SELECT count(*) FROM kvs_blobs") > 0; i++)
        ASSERT(c->ops->maintain(c) >= 0);
    ASSERT_EQ(count_of("SELECT count(*) FROM kvs_blobs"), 0);
    ASSERT_EQ(count_of("SELECT count(*) FROM kvs_dead_blobs"), 0);
    free(v1);
    free(v2);
    kvs_store_clear(&s);
    kvs_storage_close(c);
    kvs_storage_close(b);
    kvs_storage_close(a);
}

/* A record lookup of an optimistic read on node B, with the epoch it was given beforehand. */
static uint64_t optimistic_get(struct kvs_storage *b, const char *store_id, int *stale)
{
    struct kvs_read *rd;
    struct kvs_record_view rec;
    ASSERT_OK(kvs_storage_read_begin(b, &rd));
    kvs_storage_read_optimistic(rd);
    uint64_t e = kvs_storage_meta_epoch(rd);
    ASSERT_EQ(kvs_storage_meta_epoch(rd), e); /* one per read */
    ASSERT_OK(kvs_storage_record_get(rd, kvs_slice_of(store_id), KVS_SLICE_LIT("k"), &rec));
    *stale = kvs_storage_read_confirm(rd);
    ASSERT(*stale == 0 || *stale == 1);
    if (*stale)
        ASSERT_EQ(kvs_storage_meta_epoch(rd), 0); /* the lookups are made again, uncached */
    kvs_storage_read_end(rd);
    return e;
}

/* The meta epoch (pg_internal.h): a read is given one only when optimistic; it stays while
 * records are written and moves with every change of users, tokens, stores or shares, by
 * any node or by SQL of its own; a confirmation tells which, from the record lookup's own
 * statement or, without one, by asking. */
TEST(pg_meta_epoch_of_optimistic_reads)
{
    struct kvs_user alice, bob;
    struct kvs_store s;
    struct kvs_storage *a = node_with_store(&alice, &s), *b = open_node(0);
    ASSERT_OK(ts_put_str(a, s.id, "k", "v"));
    struct kvs_read *rd;
    ASSERT_OK(kvs_storage_read_begin(b, &rd));
    ASSERT_EQ(kvs_storage_meta_epoch(rd), 0); /* not optimistic: nothing may be cached */
    ASSERT_EQ(kvs_storage_read_confirm(rd), 0);
    kvs_storage_read_end(rd);

    int stale;
    uint64_t e0 = optimistic_get(b, s.id, &stale); /* B has seen no epoch yet */
    ASSERT_EQ(e0, 0);
    ASSERT_EQ(stale, 0);
    uint64_t e1 = optimistic_get(b, s.id, &stale);
    ASSERT(e1 != 0);
    ASSERT_EQ(stale, 0);
    ASSERT_OK(ts_put_str(a, s.id, "k", "w")); /* records and stats are not meta */
    ASSERT_EQ(optimistic_get(b, s.id, &stale), e1);
    ASSERT_EQ(stale, 0);

    ts_user(a, "bob", "tok-bob", &bob); /* a user and a token, on the other node */
    ASSERT_EQ(optimistic_get(b, s.id, &stale), e1);
    ASSERT_EQ(stale, 1);
    uint64_t e2 = optimistic_get(b, s.id, &stale);
    ASSERT(e2 > e1);
    ASSERT_EQ(stale, 0);

    PGconn *pg = sql_conn(); /* what a person with psql changes counts too */
    free(sql_text(pg, "UPDATE kvs_stores SET general_access = general_access"));
    ASSERT_EQ(optimistic_get(b, s.id, &stale), e2);
    ASSERT_EQ(stale, 1);
    free(sql_text(pg, "UPDATE kvs_stores SET read_count = read_count + 1"));
    PQfinish(pg);
    uint64_t e3 = optimistic_get(b, s.id, &stale);
    ASSERT(e3 > e2);
    ASSERT_EQ(stale, 0);

    /* Without a record lookup the confirmation asks the database. */
    ASSERT_OK(kvs_storage_read_begin(b, &rd));
    kvs_storage_read_optimistic(rd);
    ASSERT_EQ(kvs_storage_meta_epoch(rd), e3);
    ASSERT_EQ(kvs_storage_read_confirm(rd), 0);
    kvs_storage_read_end(rd);
    ASSERT_OK(kvs_storage_read_begin(b, &rd));
    kvs_storage_read_optimistic(rd);
    ASSERT_EQ(kvs_storage_meta_epoch(rd), e3);
    struct kvs_user carol;
    ts_user(a, "carol", "tok-carol", &carol);
    ASSERT_EQ(kvs_storage_read_confirm(rd), 1);
    kvs_storage_read_end(rd);

    /* A record write checked under an epoch that has moved changes nothing: KVS_ESTALE. */
    struct kvs_write w = {.op = KVS_W_RECORD_PUT, .key = KVS_SLICE_LIT("k"),
                          .value = KVS_SLICE_LIT("stale"), .meta_epoch = e3};
    memcpy(w.store_id, s.id, sizeof w.store_id);
    ASSERT_EQ(kvs_storage_write(a, &w), KVS_ESTALE);
    char *v;
    size_t n;
    ASSERT_OK(ts_get(b, s.id, "k", &v, &n));
    ASSERT_MEM_EQ(v, n, "w");
    free(v);
    uint64_t e4 = optimistic_get(b, s.id, &stale);
    ASSERT(e4 > e3);
    w.meta_epoch = e4;
    ASSERT_OK(kvs_storage_write(a, &w));
    ASSERT_OK(ts_get(b, s.id, "k", &v, &n));
    ASSERT_MEM_EQ(v, n, "stale");
    free(v);

    kvs_store_clear(&s);
    kvs_storage_close(b);
    kvs_storage_close(a);
}

/* The database drops every connection of the node (as a restart does): the next lookup and
 * the next write make new ones and succeed; nothing is reported to the caller. */
TEST(pg_lost_connections_are_made_again)
{
    struct kvs_user alice;
    struct kvs_store s;
    struct kvs_storage *st = node_with_store(&alice, &s);
    ASSERT_OK(ts_put_str(st, s.id, "k", "before"));
    char *v;
    size_t n;
    ASSERT_OK(ts_get(st, s.id, "k", &v, &n));
    free(v);
    PGconn *pg = sql_conn();
    ASSERT(sql_num(pg, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                       "WHERE application_name = 'kvs' AND pid <> pg_backend_pid()") >= 2);
    PQfinish(pg);
    ASSERT_OK(ts_get(st, s.id, "k", &v, &n));
    ASSERT_MEM_EQ(v, n, "before");
    free(v);
    ASSERT_OK(ts_put_str(st, s.id, "k", "after"));
    ASSERT_OK(ts_get(st, s.id, "k", &v, &n));
    ASSERT_MEM_EQ(v, n, "after");
    free(v);
    kvs_store_clear(&s);
    kvs_storage_close(st);
}

struct pool_take {
    struct kvs_pg *db;
    struct kvs_pg_conn *c;
    int rc, done; /* done: atomic */
};

static void *pool_take(void *arg)
{
    struct pool_take *t = arg;
    t->rc = kvs_pg_conn_get(t->db, &t->c);
    __atomic_store_n(&t->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* A new connection that cannot be made while others of the pool are open (a backend slow to
 * start on a busy machine): the lookup waits for one of those, and the database is not taken
 * for down (that answered 503 to every request of the node). With none open, it is down. */
TEST(pg_pool_waits_for_an_open_connection_when_a_new_one_fails)
{
    struct kvs_user alice;
    struct kvs_store s;
    struct kvs_storage *st = node_with_store(&alice, &s);
    struct kvs_pg *db = pg_of(st);
    /* Hold every connection of the pool, one at least: none is idle. */
    struct kvs_pg_conn *held[PG_DEFAULT_POOL];
    size_t n = 0;
    do
        ASSERT_OK(kvs_pg_conn_get(db, &held[n++]));
    while (db->idle != NULL && n < PG_DEFAULT_POOL);
    ASSERT(db->idle == NULL);

    char *good = db->uri;
    char bad[] = "postgresql:///postgres?host=/nonexistent/kvs-test&connect_timeout=1";
    db->uri = bad; /* read by the connecting thread only: none connects now */
    struct pool_take t = {.db = db};
    pthread_t th;
    ASSERT_EQ(pthread_create(&th, NULL, pool_take, &t), 0);
    usleep(700000); /* two attempts at least (RETRY_MS apart), both failed */
    ASSERT_EQ(__atomic_load_n(&t.done, __ATOMIC_ACQUIRE), 0);
    ASSERT_EQ(db->down, 0);
    kvs_pg_conn_put(db, held[0], 0);
    ASSERT_EQ(pthread_join(th, NULL), 0);
    ASSERT_OK(t.rc);
    ASSERT(t.c == held[0]);
    held[0] = t.c;

    /* None open (a broken one drops the idle ones too): the failure is the database's. */
    for (size_t i = 1; i < n; i++)
        kvs_pg_conn_put(db, held[i], 0);
    kvs_pg_conn_put(db, held[0], 1);
    ASSERT_EQ(db->open, 0u);
    struct kvs_pg_conn *c = NULL;
    ASSERT_ERR(kvs_pg_conn_get(db, &c), KVS_EUNAVAIL);
    ASSERT(c == NULL);
    ASSERT_EQ(db->down, 1);

    /* Back: once RETRY_MS has passed, a lookup connects and the database is up again. */
    db->uri = good;
    usleep(600000);
    char *v;
    size_t vn;
    ASSERT_ERR(ts_get(st, s.id, "absent", &v, &vn), KVS_ENOTFOUND);
    ASSERT_EQ(db->down, 0);
    kvs_store_clear(&s);
    kvs_storage_close(st);
}

/* Retention on two nodes: the store expires once, by the database's clock. */
TEST(pg_retention_on_two_nodes)
{
    struct kvs_storage *a = open_node(500), *b = open_node(500);
    struct kvs_user alice;
    struct kvs_store gone, kept;
    ts_user(a, "alice", "tok-alice", &alice);
    ASSERT_OK(ts_store(a, alice.id, "", &gone));
    ASSERT_OK(ts_store(b, alice.id, "named", &kept));
    ASSERT_OK(ts_put_str(b, gone.id, "k", "v"));
    int64_t t0 = kvs_now_ms();
    int exists = 1;
    while (exists && kvs_now_ms() - t0 < 8000) {
        struct kvs_store got;
        int rc = ts_store_get(b, gone.id, &got);
        kvs_store_clear(&got);
        exists = rc == 0;
        usleep(100 * 1000);
    }
    ASSERT(!exists);
    /* Not before the retention and the allowance for unflushed reads have passed. */
    ASSERT(kvs_now_ms() - t0 >= 500 + PG_UNFLUSHED_SLACK_MS - 200);
    struct kvs_store got;
    ASSERT_OK(ts_store_get(a, kept.id, &got));
    kvs_store_clear(&got);
    kvs_store_clear(&gone);
    kvs_store_clear(&kept);
    kvs_storage_close(a);
    kvs_storage_close(b);
}

/* Keys with the characters an array literal quotes, overwritten and deleted within one batch:
 * the batch reads them as they are (one statement with array parameters) and plays its writes
 * through in order, so the stats stay exact. */
TEST(pg_odd_keys_in_one_batch)
{
    struct kvs_user alice;
    struct kvs_store s;
    struct kvs_storage *st = node_with_store(&alice, &s);
    static const char *const keys[] = {"a\"b", "c\\d", "e,f", "{g}", "h i", "NULL", "é"};
    enum { N = sizeof keys / sizeof keys[0] };
    ASSERT_OK(ts_put_str(st, s.id, keys[0], "old"));
    struct kvs_write ws[3 * N];
    memset(ws, 0, sizeof ws);
    struct ts_counter c = TS_COUNTER_INIT;
    for (int i = 0; i < 3 * N; i++) { /* each key: put, put again, and every other one deleted */
        ws[i].op = i / N == 2 && i % 2 ? KVS_W_RECORD_DELETE : KVS_W_RECORD_PUT;
        memcpy(ws[i].store_id, s.id, sizeof ws[i].store_id);
        ws[i].key = kvs_slice_of(keys[i % N]);
        ws[i].value = i / N == 0 ? KVS_SLICE_LIT("1234") : KVS_SLICE_LIT("12");
        ws[i].content_type = KVS_SLICE_LIT("text/plain");
        ws[i].done = ts_counter_done;
        ws[i].arg = &c;
    }
    for (int i = 0; i < 3 * N; i++)
        ASSERT_OK(kvs_storage_submit(st, &ws[i]));
    ts_counter_wait(&c, 3 * N);
    ASSERT_EQ(c.failed, 0);
    struct ts_keys k = {0};
    ASSERT_EQ(ts_list(st, s.id, "", "", 100, &k), 0);
    uint64_t bytes = 0;
    for (size_t i = 0; i < k.n; i++)
        bytes += strlen(k.keys[i]) + k.sizes[i];
    struct kvs_store got;
    ASSERT_OK(ts_store_get(st, s.id, &got));
    ASSERT_EQ(got.stats.record_count, k.n);
    ASSERT_EQ(got.stats.storage_bytes, bytes);
    ASSERT_EQ(got.stats.write_count, 1 + 2 * N + (N + 1) / 2);
    ASSERT_EQ(got.stats.delete_count, N / 2);
    ASSERT_EQ(k.n, N - N / 2);
    kvs_store_clear(&got);
    ts_keys_free(&k);
    kvs_store_clear(&s);
    kvs_storage_close(st);
}
