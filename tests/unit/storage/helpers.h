/* helpers.h — small helpers shared by the storage tests, written against storage.h only.
 *
 * Each helper checks what it does with the ASSERT macros of test.h, so a test reads as a list
 * of steps. Static inline so that a test file may use any subset of them. */
#ifndef KVS_TEST_STORAGE_HELPERS_H
#define KVS_TEST_STORAGE_HELPERS_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../test.h"
#include "auth/token.h"
#include "storage/storage.h"

/* ---- the back-end under test ---- */

/* $KVS_TEST_PG: the URI of a PostgreSQL database the tests may use (tests/pg/cluster.sh starts
 * a throw-away one); NULL when none. */
static inline const char *ts_pg_base(void)
{
    const char *uri = getenv("KVS_TEST_PG");
    return uri && *uri ? uri : NULL;
}

/* The URI of this test process's own schema of $KVS_TEST_PG (created when missing), into
 * OUT[CAP]: every test starts on an empty database, and a test that opens the storage twice
 * (or two storages at once, as two nodes) finds its data again. */
static inline void ts_pg_uri(char *out, size_t cap)
{
    const char *base = ts_pg_base();
    ASSERT(base != NULL);
    char schema[32], sql[96];
    snprintf(schema, sizeof schema, "kvs_t%ld", (long)getpid());
    snprintf(sql, sizeof sql, "SET client_min_messages = warning; CREATE SCHEMA IF NOT EXISTS %s",
             schema);
    PGconn *pg = PQconnectdb(base);
    ASSERT(PQstatus(pg) == CONNECTION_OK);
    PGresult *r = PQexec(pg, sql);
    ASSERT(PQresultStatus(r) == PGRES_COMMAND_OK);
    PQclear(r);
    PQfinish(pg);
    int n = snprintf(out, cap, "%s%coptions=-csearch_path%%3D%s", base,
                     strchr(base, '?') ? '&' : '?', schema);
    ASSERT(n > 0 && (size_t)n < cap);
}

/* Whether the conformance suite runs against PostgreSQL ($KVS_TEST_BACKEND=pg) rather than
 * LMDB. */
static inline int ts_backend_pg(void)
{
    const char *b = getenv("KVS_TEST_BACKEND");
    return b != NULL && strcmp(b, "pg") == 0;
}

/* Open the back-end under test with CFG (its dir or pg_uri is set here): LMDB in ./data, or
 * PostgreSQL in this test's schema. */
static inline struct kvs_storage *ts_open_cfg(struct kvs_storage_config *cfg)
{
    char uri[1024];
    if (ts_backend_pg()) {
        ts_pg_uri(uri, sizeof uri);
        cfg->pg_uri = uri;
    } else {
        cfg->dir = "data";
    }
    struct kvs_storage *st = NULL;
    ASSERT_OK(kvs_storage_open(cfg, &st));
    ASSERT(st != NULL);
    return st;
}

/* Create user USERNAME holding token TOKEN into OUT. */
static inline void ts_user(struct kvs_storage *st, const char *username, const char *token,
                           struct kvs_user *out)
{
    struct kvs_write w = {.op = KVS_W_USER_CREATE};
    snprintf(w.user.username, sizeof w.user.username, "%s", username);
    w.user.default_access = KVS_GA_RESTRICTED;
    kvs_token_hash(kvs_slice_of(token), w.token_hash);
    kvs_token_prefix(kvs_slice_of(token), w.token_prefix);
    ASSERT_OK(kvs_storage_write(st, &w));
    *out = w.user;
}

/* Create store NAME ("" = unnamed) of user USER_ID. Returns the write's result; OUT gets the
 * store (new or, on KVS_EEXIST, the existing one); release it with kvs_store_clear(). */
static inline int ts_store(struct kvs_storage *st, const char *user_id, const char *name,
                           struct kvs_store *out)
{
    struct kvs_write w = {.op = KVS_W_STORE_CREATE};
    snprintf(w.store.user_id, sizeof w.store.user_id, "%s", user_id);
    snprintf(w.store.name, sizeof w.store.name, "%s", name);
    w.store.general_access = KVS_GA_FOLLOW_USER_SETTING;
    int rc = kvs_storage_write(st, &w);
    *out = w.store;
    return rc;
}

/* Put (STORE_ID, KEY) = N bytes at VALUE, as application/octet-stream. Returns the result. */
static inline int ts_put(struct kvs_storage *st, const char *store_id, const char *key,
                         const void *value, size_t n)
{
    struct kvs_write w = {.op = KVS_W_RECORD_PUT};
    snprintf(w.store_id, sizeof w.store_id, "%s", store_id);
    w.key = kvs_slice_of(key);
    w.value = (kvs_slice){value, n};
    w.content_type = KVS_SLICE_LIT("application/octet-stream");
    w.encoding = KVS_ENC_IDENTITY;
    return kvs_storage_write(st, &w);
}

static inline int ts_put_str(struct kvs_storage *st, const char *store_id, const char *key,
                             const char *value)
{
    return ts_put(st, store_id, key, value, strlen(value));
}

static inline int ts_del(struct kvs_storage *st, const char *store_id, const char *key)
{
    struct kvs_write w = {.op = KVS_W_RECORD_DELETE};
    snprintf(w.store_id, sizeof w.store_id, "%s", store_id);
    w.key = kvs_slice_of(key);
    return kvs_storage_write(st, &w);
}

/* Read record (STORE_ID, KEY) in a read of its own. Returns the result; on 0, *VALUE holds a
 * malloc'd, NUL-terminated copy of the value (free() it) and *N its length. */
static inline int ts_get(struct kvs_storage *st, const char *store_id, const char *key,
                         char **value, size_t *n)
{
    struct kvs_read *rd;
    ASSERT_OK(kvs_storage_read_begin(st, &rd));
    struct kvs_record_view rec;
    int rc = kvs_storage_record_get(rd, kvs_slice_of(store_id), kvs_slice_of(key), &rec);
    struct kvs_value *v = NULL;
    if (rc == 0) /* inline or held apart alike */
        rc = kvs_storage_value_open(rd, &rec, &v);
    kvs_storage_read_end(rd);
    if (rc == 0) {
        ASSERT_EQ(kvs_value_size(v), rec.size);
        *n = (size_t)kvs_value_size(v);
        *value = malloc(*n + 1);
        ASSERT(*value != NULL);
        size_t at = 0, got;
        while (at < *n) {
            ASSERT_OK(kvs_value_read(v, at, *value + at, *n - at, &got));
            ASSERT(got > 0);
            at += got;
        }
        (*value)[*n] = '\0';
        kvs_value_close(v);
    }
    return rc;
}

/* Put (STORE_ID, KEY) = N bytes at VALUE through an upload (storage.h, "Large records"),
 * appended in pieces of PIECE bytes, with preconditions PRE (or NULL). Returns the result. */
static inline int ts_put_upload(struct kvs_storage *st, const char *store_id, const char *key,
                                const void *value, size_t n, size_t piece,
                                const struct kvs_precond *pre)
{
    struct kvs_write w = {.op = KVS_W_RECORD_PUT, .precond = pre};
    snprintf(w.store_id, sizeof w.store_id, "%s", store_id);
    w.key = kvs_slice_of(key);
    w.value = KVS_SLICE_LIT("");
    w.content_type = KVS_SLICE_LIT("application/octet-stream");
    ASSERT_OK(kvs_storage_upload_begin(st, n, &w.upload));
    for (size_t at = 0; at < n; at += piece)
        ASSERT_OK(kvs_upload_append(w.upload, (const char *)value + at, n - at < piece ? n - at : piece));
    ASSERT_EQ(kvs_upload_size(w.upload), n);
    int rc = kvs_storage_write(st, &w);
    ASSERT(w.upload == NULL); /* kept or removed with the outcome */
    return rc;
}

/* Store ID as seen by a fresh read; release OUT with kvs_store_clear(). */
static inline int ts_store_get(struct kvs_storage *st, const char *id, struct kvs_store *out)
{
    struct kvs_read *rd;
    ASSERT_OK(kvs_storage_read_begin(st, &rd));
    int rc = kvs_storage_store_get(rd, kvs_slice_of(id), out);
    kvs_storage_read_end(rd);
    return rc;
}

/* Assert that TOKEN opens user USER_ID in read RD, and nothing limits it (no expiry, no
 * scope): a token from before tokens had limits reads so after an upgrade. */
static inline void ts_token_unlimited(struct kvs_read *rd, const char *token, const char *user_id)
{
    uint8_t hash[KVS_TOKEN_HASH_LEN];
    kvs_token_hash(kvs_slice_of(token), hash);
    static struct kvs_token_grant g; /* 4 KiB */
    struct kvs_user u;
    ASSERT_OK(kvs_storage_token_get(rd, hash, &u, &g));
    ASSERT_STR_EQ(u.id, user_id);
    ASSERT_EQ(g.expires_ms, 0);
    ASSERT_EQ(g.scope_n, 0);
}

/* A kvs_store_cb that only lets the listing go on. */
static inline int ts_no_store(void *arg, const struct kvs_store *s)
{
    (void)arg;
    (void)s;
    return 0;
}

/* ---- listing keys ---- */

struct ts_keys {
    char **keys; /* malloc'd copies */
    uint64_t *sizes;
    size_t n, cap;
};

static inline int ts_keys_cb(void *arg, const struct kvs_key_view *k)
{
    struct ts_keys *l = arg;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->keys = realloc(l->keys, l->cap * sizeof *l->keys);
        l->sizes = realloc(l->sizes, l->cap * sizeof *l->sizes);
        ASSERT(l->keys != NULL && l->sizes != NULL);
    }
    l->keys[l->n] = strndup(k->key.p, k->key.n);
    ASSERT(l->keys[l->n] != NULL);
    l->sizes[l->n++] = k->size;
    return 0;
}

static inline void ts_keys_free(struct ts_keys *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->keys[i]);
    free(l->keys);
    free(l->sizes);
    memset(l, 0, sizeof *l);
}

/* List one page of keys of STORE_ID into *OUT (emptied first); returns TRUNCATED. */
static inline int ts_list(struct kvs_storage *st, const char *store_id, const char *prefix,
                          const char *after, uint64_t limit, struct ts_keys *out)
{
    ts_keys_free(out);
    struct kvs_read *rd;
    ASSERT_OK(kvs_storage_read_begin(st, &rd));
    int truncated = -1;
    ASSERT_OK(kvs_storage_keys_list(rd, kvs_slice_of(store_id), kvs_slice_of(prefix),
                                    kvs_slice_of(after), limit, 0, ts_keys_cb, out, &truncated));
    kvs_storage_read_end(rd);
    ASSERT(truncated == 0 || truncated == 1);
    return truncated;
}

/* Assert that the page L holds exactly the keys of the NULL-terminated array WANT. */
static inline void ts_keys_expect(const struct ts_keys *l, const char *const *want)
{
    size_t n = 0;
    while (want[n] != NULL)
        n++;
    if (l->n != n) {
        for (size_t i = 0; i < l->n; i++)
            fprintf(stderr, "  got[%zu] = \"%s\"\n", i, l->keys[i]);
    }
    ASSERT_EQ(l->n, n);
    for (size_t i = 0; i < n; i++)
        ASSERT_STR_EQ(l->keys[i], want[i]);
}

/* ---- holding the writer thread ---- */

/* A done callback that keeps the writer thread until the test lets it go, so the test can
 * line up several writes into one batch or run the back-end's maintenance by hand. */
struct ts_gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int entered, open;
};

#define TS_GATE_INIT                                                                               \
    {                                                                                              \
        PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0                                  \
    }

static inline void ts_gate_done(struct kvs_write *w)
{
    struct ts_gate *g = w->arg;
    pthread_mutex_lock(&g->mu);
    g->entered = 1;
    pthread_cond_broadcast(&g->cv);
    while (!g->open)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

/* Submit W with ts_gate_done and wait until the writer is inside it. */
static inline void ts_gate_hold(struct kvs_storage *st, struct ts_gate *g, struct kvs_write *w)
{
    w->done = ts_gate_done;
    w->arg = g;
    ASSERT_OK(kvs_storage_submit(st, w));
    pthread_mutex_lock(&g->mu);
    while (!g->entered)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

static inline void ts_gate_release(struct ts_gate *g)
{
    pthread_mutex_lock(&g->mu);
    g->open = 1;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

/* ---- many writes at once ---- */

/* Counts done callbacks of asynchronous writes, and their failures. */
struct ts_counter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t done, failed;
};

#define TS_COUNTER_INIT                                                                            \
    {                                                                                              \
        PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0                                  \
    }

static inline void ts_counter_done(struct kvs_write *w)
{
    struct ts_counter *c = w->arg;
    pthread_mutex_lock(&c->mu);
    c->done++;
    if (w->result != 0)
        c->failed++;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

static inline void ts_counter_wait(struct ts_counter *c, size_t n)
{
    pthread_mutex_lock(&c->mu);
    while (c->done < n)
        pthread_cond_wait(&c->cv, &c->mu);
    pthread_mutex_unlock(&c->mu);
}

/* Submit the N writes WS while gate G holds the writer (ts_gate_hold), so that they go into
 * one batch, then let it go and wait until every one is done. */
static inline void ts_submit_together(struct kvs_storage *st, struct ts_gate *g,
                                      struct kvs_write *ws, size_t n)
{
    struct ts_counter c = TS_COUNTER_INIT;
    for (size_t i = 0; i < n; i++) {
        ws[i].done = ts_counter_done;
        ws[i].arg = &c;
        ASSERT_OK(kvs_storage_submit(st, &ws[i]));
    }
    ts_gate_release(g);
    ts_counter_wait(&c, n);
}

/* Put N records into STORE_ID, submitted asynchronously in waves; the key of record I is
 * what KEY_OF writes into its buffer, the value is VALUE. All must succeed. */
static inline void ts_bulk_put(struct kvs_storage *st, const char *store_id, size_t n,
                               void (*key_of)(size_t i, char key[KVS_KEY_MAX + 1]),
                               const char *value)
{
    enum { WAVE = 4096 };
    struct kvs_write *ws = calloc(WAVE, sizeof *ws);
    char(*keys)[KVS_KEY_MAX + 1] = calloc(WAVE, sizeof *keys);
    ASSERT(ws != NULL && keys != NULL);
    for (size_t base = 0; base < n; base += WAVE) {
        struct ts_counter c = TS_COUNTER_INIT;
        size_t m = n - base < WAVE ? n - base : WAVE;
        for (size_t i = 0; i < m; i++) {
            struct kvs_write *w = &ws[i];
            memset(w, 0, sizeof *w);
            key_of(base + i, keys[i]);
            w->op = KVS_W_RECORD_PUT;
            snprintf(w->store_id, sizeof w->store_id, "%s", store_id);
            w->key = kvs_slice_of(keys[i]);
            w->value = kvs_slice_of(value);
            w->content_type = KVS_SLICE_LIT("text/plain");
            w->done = ts_counter_done;
            w->arg = &c;
            ASSERT_OK(kvs_storage_submit(st, w));
        }
        ts_counter_wait(&c, m);
        ASSERT_EQ(c.failed, 0);
    }
    free(keys);
    free(ws);
}

#endif
