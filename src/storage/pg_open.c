/* pg_open.c — opening the PostgreSQL back-end: the first connection, the schema (created, or
 * checked and upgraded, under a session advisory lock so that nodes starting together do it
 * once and in turn), closing, and the ops table that storage.c calls. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/log.h"
#include "storage/pg_internal.h"

/* The schema as version 1 made it; UPGRADES take it to PG_SCHEMA_VERSION (described in
 * pg_internal.h). A new database gets both, in one transaction. */
static const char *const SCHEMA[] = {
    "CREATE TABLE kvs_meta (key text COLLATE \"C\" PRIMARY KEY, value text NOT NULL)",
    "CREATE TABLE kvs_users (id text COLLATE \"C\" PRIMARY KEY,"
    " username text COLLATE \"C\" NOT NULL UNIQUE, is_admin boolean NOT NULL,"
    " default_access smallint NOT NULL, created_ms bigint NOT NULL)",
    "CREATE TABLE kvs_tokens (hash bytea PRIMARY KEY, user_id text COLLATE \"C\" NOT NULL,"
    " prefix text COLLATE \"C\" NOT NULL, created_ms bigint NOT NULL)",
    "CREATE INDEX kvs_tokens_by_prefix ON kvs_tokens (prefix)",
    "CREATE INDEX kvs_tokens_by_user ON kvs_tokens (user_id, created_ms, hash)",
    /* fillfactor: room on the page for the new versions of the often updated stats */
    "CREATE TABLE kvs_stores (id text COLLATE \"C\" PRIMARY KEY,"
    " user_id text COLLATE \"C\" NOT NULL, name text COLLATE \"C\" NOT NULL,"
    " title text NOT NULL, secret text NOT NULL, general_access smallint NOT NULL,"
    " schema text, created_ms bigint NOT NULL, modified_ms bigint NOT NULL,"
    " accessed_ms bigint NOT NULL, read_count bigint NOT NULL DEFAULT 0,"
    " write_count bigint NOT NULL DEFAULT 0, delete_count bigint NOT NULL DEFAULT 0,"
    " list_count bigint NOT NULL DEFAULT 0, record_count bigint NOT NULL DEFAULT 0,"
    " storage_bytes bigint NOT NULL DEFAULT 0) WITH (fillfactor = 70)",
    "CREATE UNIQUE INDEX kvs_stores_name ON kvs_stores (user_id, name) WHERE name <> ''",
    "CREATE INDEX kvs_stores_by_user ON kvs_stores (user_id, created_ms, id)",
    "CREATE INDEX kvs_stores_unnamed_by_access ON kvs_stores (accessed_ms, id) WHERE name = ''",
    "CREATE TABLE kvs_records (store_id text COLLATE \"C\" NOT NULL,"
    " key text COLLATE \"C\" NOT NULL, content_type bytea NOT NULL,"
    " encoding smallint NOT NULL, value bytea NOT NULL, PRIMARY KEY (store_id, key))",
    /* kept apart from the row when large, never compressed (many uploads are already) */
    "ALTER TABLE kvs_records ALTER COLUMN value SET STORAGE EXTERNAL",
    "CREATE TABLE kvs_shares (store_id text COLLATE \"C\" NOT NULL,"
    " user_id text COLLATE \"C\" NOT NULL, level smallint NOT NULL,"
    " PRIMARY KEY (store_id, user_id))",
    "CREATE INDEX kvs_shares_by_user ON kvs_shares (user_id)",
    "CREATE TABLE kvs_dead_stores (store_id text COLLATE \"C\" PRIMARY KEY,"
    " deleted_ms bigint NOT NULL, records bigint NOT NULL)",
};

/* Version 2: record versions and modification times (the ETag and Last-Modified of the API;
 * storage.h, "Record versions"), and each store's last version given. Records and stores that
 * exist get the time of the upgrade (the default is computed once, and no row is rewritten). */
#define NOW_US "(floor(extract(epoch FROM now()) * 1000000))::int8"
static const char *const UPGRADE_2[] = {
    "ALTER TABLE kvs_records ADD COLUMN version bigint NOT NULL DEFAULT " NOW_US ","
    " ADD COLUMN modified_ms bigint NOT NULL DEFAULT " PG_NOW_MS,
    "ALTER TABLE kvs_records ALTER COLUMN version DROP DEFAULT,"
    " ALTER COLUMN modified_ms DROP DEFAULT",
    "ALTER TABLE kvs_stores ADD COLUMN last_version bigint NOT NULL DEFAULT " NOW_US,
    "ALTER TABLE kvs_stores ALTER COLUMN last_version SET DEFAULT 0", NULL};

/* Version 3: the meta epoch (pg_internal.h). Statement triggers, so that a statement that
 * changes many rows adds one, and so that whatever writes these tables (another version of
 * kvs, a person with psql) keeps the caches of every node exact. kvs_stores' own triggers
 * leave out the stats, times and last_version, which every write of a record changes. */
#define EPOCH_TRIGGER(NAME, EVENTS, TABLE)                                                         \
    "CREATE TRIGGER " NAME " AFTER " EVENTS " ON " TABLE                                           \
    " FOR EACH STATEMENT EXECUTE FUNCTION kvs_epoch_bump()"
static const char *const UPGRADE_3[] = {
    "CREATE TABLE kvs_epoch (v bigint NOT NULL)",
    "INSERT INTO kvs_epoch VALUES (1)",
    "CREATE FUNCTION kvs_epoch_bump() RETURNS trigger LANGUAGE plpgsql"
    " SET search_path FROM CURRENT AS 'BEGIN UPDATE kvs_epoch SET v = v + 1; RETURN NULL; END'",
    EPOCH_TRIGGER("kvs_users_epoch", "INSERT OR UPDATE OR DELETE OR TRUNCATE", "kvs_users"),
    EPOCH_TRIGGER("kvs_tokens_epoch", "INSERT OR UPDATE OR DELETE OR TRUNCATE", "kvs_tokens"),
    EPOCH_TRIGGER("kvs_shares_epoch", "INSERT OR UPDATE OR DELETE OR TRUNCATE", "kvs_shares"),
    EPOCH_TRIGGER("kvs_stores_epoch", "INSERT OR DELETE OR TRUNCATE", "kvs_stores"),
    EPOCH_TRIGGER("kvs_stores_meta_epoch",
                  "UPDATE OF id, user_id, name, title, secret, general_access, schema",
                  "kvs_stores"),
    NULL};

/* Version 4: Actor runs (storage/run.h, pg_runs.c). A run references its default store ON
 * DELETE CASCADE, so that any statement deleting a store deletes its run with it. */
static const char *const UPGRADE_4[] = {
    "CREATE TABLE kvs_runs (id text COLLATE \"C\" PRIMARY KEY,"
    " user_id text COLLATE \"C\" NOT NULL, act_id text COLLATE \"C\" NOT NULL,"
    " actor text COLLATE \"C\" NOT NULL,"
    " store_id text COLLATE \"C\" NOT NULL UNIQUE REFERENCES kvs_stores (id) ON DELETE CASCADE,"
    " origin text NOT NULL, status smallint NOT NULL, status_message text,"
    " message_terminal boolean NOT NULL, exit_code integer, timeout_secs bigint NOT NULL,"
    " memory_mbytes bigint NOT NULL, started_ms bigint NOT NULL, finished_ms bigint NOT NULL)",
    "CREATE INDEX kvs_runs_by_user ON kvs_runs (user_id, started_ms, id)",
    "CREATE INDEX kvs_runs_by_actor ON kvs_runs (act_id, started_ms, id)", NULL};

/* Version 5: what limits a token, its scope and expiry (auth/scope.h); the tokens there are
 * get none (no row is rewritten: the defaults are constants). */
static const char *const UPGRADE_5[] = {
    "ALTER TABLE kvs_tokens ADD COLUMN scope text NOT NULL DEFAULT '',"
    " ADD COLUMN expires_ms bigint NOT NULL DEFAULT 0",
    NULL};

/* Version 6: large values in chunks (pg_internal.h, "Large values"). The new columns of
 * kvs_records are NULL in every row that exists (no row is rewritten). */
static const char *const UPGRADE_6[] = {
    "CREATE SEQUENCE kvs_blob_ids",
    "CREATE TABLE kvs_blobs (blob bigint NOT NULL, seq integer NOT NULL, data bytea NOT NULL,"
    " PRIMARY KEY (blob, seq))",
    "ALTER TABLE kvs_blobs ALTER COLUMN data SET STORAGE EXTERNAL",
    "CREATE TABLE kvs_dead_blobs (blob bigint PRIMARY KEY, dead_ms bigint NOT NULL,"
    " read_ms bigint NOT NULL DEFAULT 0)",
    "ALTER TABLE kvs_records ADD COLUMN blob bigint, ADD COLUMN blob_size bigint", NULL};

/* UPGRADES[V - 1]: the statements that take version V to V + 1. */
static const char *const *const UPGRADES[PG_SCHEMA_VERSION - 1] = {UPGRADE_2, UPGRADE_3,
                                                                   UPGRADE_4, UPGRADE_5,
                                                                   UPGRADE_6};

/* Set the one-line reason of a failed open into CFG's buffer, if it has one, else log it. */
static void reason(const struct kvs_storage_config *cfg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void reason(const struct kvs_storage_config *cfg, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (cfg->error != NULL && cfg->error_cap > 0)
        snprintf(cfg->error, cfg->error_cap, "%s", msg);
    else
        kvs_log_error("postgres: %s", msg);
}

/* Run SQL (one statement, no parameters) on C and wait: *OUT gets its result unless NULL.
 * Returns 0 or the error (*WHY says it). */
static KVS_MUST_CHECK int exec(struct kvs_pg_conn *c, const char *sql, PGresult **out, char *why,
                               size_t why_n)
{
    struct kvs_pg_pipe pp = {.c = c};
    int slot = kvs_pg_send_sql(&pp, sql);
    int rc = slot < 0 ? slot : kvs_pg_sync(&pp);
    PGresult *r = rc == 0 ? kvs_pg_res(&pp, slot) : NULL;
    ExecStatusType s = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (s != PGRES_TUPLES_OK && s != PGRES_COMMAND_OK) {
        snprintf(why, why_n, "%s",
                 r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : PQerrorMessage(c->pg));
        rc = kvs_pg_broken(c) ? KVS_EUNAVAIL : KVS_EIO;
    } else if (out != NULL) {
        *out = r;
        pp.slots[slot].res = NULL;
    }
    kvs_pg_pipe_free(&pp);
    return rc;
}

/* Create the schema, or check its version, on C (which holds the schema lock). */
static KVS_MUST_CHECK int schema(const struct kvs_storage_config *cfg, struct kvs_pg_conn *c)
{
    char why[256] = "";
    PGresult *r = NULL;
    int rc = exec(c,
                  "SELECT current_setting('server_version_num')::int4, current_schema(), "
                  "to_regclass('kvs_meta') IS NOT NULL",
                  &r, why, sizeof why);
    if (rc != 0) {
        reason(cfg, "cannot read the server's version: %s", why);
        return rc;
    }
    int64_t version = kvs_pg_int(r, 0, 0);
    int no_schema = kvs_pg_null(r, 0, 1), exists = kvs_pg_int(r, 0, 2) != 0;
    PQclear(r);
    if (version < 130000) { /* pg_current_xact_id(), pg_xact_status() */
        reason(cfg, "PostgreSQL %lld.%lld is too old: 13 or later is needed",
               (long long)version / 10000, (long long)version % 100);
        return KVS_EIO;
    }
    if (no_schema) {
        reason(cfg, "no schema to create the tables in (the search_path names none that exists)");
        return KVS_EIO;
    }
    int64_t found = 0; /* none: a new database */
    if (exists) {
        rc = exec(c, "SELECT value::int4 FROM kvs_meta WHERE key = 'schema_version'", &r, why,
                  sizeof why);
        if (rc != 0) {
            reason(cfg, "cannot read the schema version: %s", why);
            return rc;
        }
        found = PQntuples(r) == 1 ? kvs_pg_int(r, 0, 0) : -1;
        PQclear(r);
        if (found == PG_SCHEMA_VERSION)
            return 0;
        if (found < 1 || found > PG_SCHEMA_VERSION) {
            reason(cfg, "the database holds kvs schema version %lld; this build reads version %d",
                   (long long)found, PG_SCHEMA_VERSION);
            return KVS_EIO;
        }
    }
    /* In one transaction, so that a node that dies half-way leaves the schema as it was. */
    struct kvs_pg_pipe pp = {.c = c};
    rc = kvs_pg_send_sql(&pp, "BEGIN") < 0 ? KVS_EUNAVAIL : 0;
    for (size_t i = 0; rc == 0 && !exists && i < sizeof SCHEMA / sizeof SCHEMA[0]; i++)
        rc = kvs_pg_send_sql(&pp, SCHEMA[i]) < 0 ? KVS_EUNAVAIL : 0;
    if (rc == 0 && !exists &&
        kvs_pg_send_sql(&pp, "INSERT INTO kvs_meta VALUES ('schema_version', '1')") < 0)
        rc = KVS_EUNAVAIL;
    for (int64_t v = exists ? found : 1; rc == 0 && v < PG_SCHEMA_VERSION; v++)
        for (const char *const *q = UPGRADES[v - 1]; rc == 0 && *q != NULL; q++)
            rc = kvs_pg_send_sql(&pp, *q) < 0 ? KVS_EUNAVAIL : 0;
    char set[96];
    snprintf(set, sizeof set, "UPDATE kvs_meta SET value = '%d' WHERE key = 'schema_version'",
             PG_SCHEMA_VERSION);
    if (rc == 0 && (kvs_pg_send_sql(&pp, set) < 0 || kvs_pg_send_sql(&pp, "COMMIT") < 0))
        rc = KVS_EUNAVAIL;
    if (rc == 0)
        rc = kvs_pg_sync(&pp);
    if (rc == 0)
        rc = kvs_pg_pipe_err(&pp);
    kvs_pg_pipe_free(&pp);
    if (rc != 0)
        reason(cfg, "cannot %s the schema (see the log)", exists ? "upgrade" : "create");
    else if (exists)
        kvs_log_info("postgres: upgraded the kvs schema from version %lld to %d", (long long)found,
                     PG_SCHEMA_VERSION);
    else
        kvs_log_info("postgres: created the kvs schema (version %d)", PG_SCHEMA_VERSION);
    return rc;
}

/* Connect, take the schema lock, create or check the schema, let the lock go. The
 * connection becomes the writer's. */
static KVS_MUST_CHECK int setup(struct kvs_pg *db, const struct kvs_storage_config *cfg)
{
    char why[512];
    int rc = kvs_pg_connect(db, why, sizeof why, &db->wconn);
    if (rc != 0) {
        reason(cfg, "cannot connect: %s", why);
        return rc;
    }
    rc = exec(db->wconn, "SELECT pg_advisory_lock(" PG_LOCK_KEY("'schema'") ")", NULL, why,
              sizeof why);
    if (rc != 0) {
        reason(cfg, "cannot take the schema lock: %s", why);
        return rc;
    }
    rc = schema(cfg, db->wconn);
    int unlock = exec(db->wconn, "SELECT pg_advisory_unlock(" PG_LOCK_KEY("'schema'") ")", NULL,
                      why, sizeof why);
    return rc != 0 ? rc : unlock;
}

static void pg_close(struct kvs_storage *st)
{
    struct kvs_pg *db = pg_of(st);
    kvs_pg_writer_lost(db);
    kvs_pg_uploads_close(db);
    kvs_pg_pool_close(db);
    pthread_cond_destroy(&db->freed);
    pthread_mutex_destroy(&db->mu);
    pthread_mutex_destroy(&db->rq_mu);
    free(db->uri);
    free(db);
}

static const struct kvs_storage_ops pg_ops = {
    .name = "postgres",
    .caps = 0, /* each lookup is a statement of its own; backups are PostgreSQL's */
    .close = pg_close,
    .read_begin = kvs_pg_read_begin,
    .read_end = kvs_pg_read_end,
    .meta_epoch = kvs_pg_meta_epoch,
    .read_optimistic = kvs_pg_read_optimistic,
    .read_confirm = kvs_pg_read_confirm,
    .user_count = kvs_pg_user_count,
    .totals = kvs_pg_totals,
    .user_by_token = kvs_pg_user_by_token,
    .user_by_name = kvs_pg_user_by_name,
    .user_get = kvs_pg_user_get,
    .store_get = kvs_pg_store_get,
    .store_by_name = kvs_pg_store_by_name,
    .store_list = kvs_pg_store_list,
    .store_list_visible = kvs_pg_store_list_visible,
    .user_list = kvs_pg_user_list,
    .token_list = kvs_pg_token_list,
    .share_get = kvs_pg_share_get,
    .share_list = kvs_pg_share_list,
    .record_get = kvs_pg_record_get,
    .keys_list = kvs_pg_keys_list,
    .run_get = kvs_pg_run_get,
    .run_by_store = kvs_pg_run_by_store,
    .run_list = kvs_pg_run_list,
    .apply = kvs_pg_apply,
    .maintain = kvs_pg_maintain,
    .backup = NULL,
    .disk_bytes = kvs_pg_disk_bytes,
    .upload_begin = kvs_pg_upload_begin,
    .upload_append = kvs_pg_upload_append,
    .upload_sync = kvs_pg_upload_sync,
    .upload_keep = kvs_pg_upload_keep,
    .upload_abort = kvs_pg_upload_abort,
    .blob_reader = kvs_pg_blob_reader,
    .uploads_alone = 1,
    .inline_max = kvs_pg_inline_max,
};

int kvs_storage_open_pg(const struct kvs_storage_config *cfg, struct kvs_storage **out)
{
    *out = NULL;
    if (cfg == NULL || cfg->pg_uri == NULL || cfg->pg_uri[0] == '\0')
        return KVS_EINVAL;
    struct kvs_pg *db = kvs_xcalloc(1, sizeof *db);
    db->uri = kvs_xstrdup(cfg->pg_uri);
    db->retention_ms = (int64_t)cfg->unnamed_retention_ms;
    db->max = cfg->pg_pool ? cfg->pg_pool : PG_DEFAULT_POOL;
    db->inline_max = cfg->inline_max ? cfg->inline_max : PG_INLINE_MAX;
    db->blob_grace_ms = cfg->pg_blob_grace_ms ? (int64_t)cfg->pg_blob_grace_ms : PG_BLOB_GRACE_MS;
    pthread_mutex_init(&db->mu, NULL);
    kvs_cond_init_mono(&db->freed); /* timed waits by kvs_mono_ms() (pg_conn.c) */
    pthread_mutex_init(&db->rq_mu, NULL);
    /* Rounds of lookups out at once (pg_read.c): two pipelines per CPU keep the database's
     * CPUs busy (one is being answered while the other is sent); more would only split them. */
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    db->rq_rounds_max = cpus < 1 ? 1 : 2 * (unsigned)cpus;
    if (db->rq_rounds_max > db->max)
        db->rq_rounds_max = db->max;
    int rc = setup(db, cfg);
    if (rc == 0)
        rc = kvs_storage_init(&db->super, &pg_ops);
    if (rc != 0) {
        pg_close(&db->super);
        return rc;
    }
    *out = &db->super;
    return 0;
}
