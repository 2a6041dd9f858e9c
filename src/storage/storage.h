/* storage.h — the storage interface: everything the API layer may ask of a back-end.
 *
 * The API layer calls only what is declared here; it never sees LMDB or libpq. A back-end
 * (storage/lmdb_*.c, storage/pg_*.c) implements the table in storage/backend.h, and
 * storage.c adds what is the same for every back-end: the group-commit writer and the
 * deferred read statistics.
 *
 * What is stored
 *   users     id (17 alphanumerics), username (unique), admin flag, default general access
 *   tokens    SHA-256 of each API token → the user it belongs to (tokens are never stored),
 *             with the token's non-secret prefix (kvs_token_prefix) and creation time, so a
 *             user's tokens can be listed and one revoked by its prefix; and what limits it:
 *             its expiry and its scope (auth/scope.h's canonical text, kept as given)
 *   stores    id → owner, name ("" when unnamed; unique per owner), title, generalAccess,
 *             URL-signing secret, schema (JSON text or none), created/modified/accessed times,
 *             stats (read/write/delete/list counts, record count, stored bytes)
 *   records   (store id, key) → content type, content encoding, version, modification time,
 *             the bytes as uploaded
 *   shares    (store id, user id) → READ or WRITE: a store its owner shared with another
 *             user; indexed both ways, so a store's shares and the stores shared with a user
 *             are each one range read
 *   runs      id → owner, Actor, default store, status, times, exit code, status message
 *             (storage/run.h); indexed by owner, by Actor and by store
 * Keys are listed in byte order of the key, and a page costs O(limit + log n).
 * The LMDB layout of these is documented at the top of storage/lmdb_internal.h.
 *
 * Durability: a write submitted with kvs_storage_submit() has reached the disk (the back-end
 * synced it) before its done callback runs, so a 2xx sent from that callback is never lost.
 * Writes waiting together share one transaction and one sync (group commit).
 * See tests/unit/storage/conformance.c for the behaviour every back-end must show.
 *
 * Large records: a record put may carry its value as an upload (struct kvs_upload) instead of
 * bytes in memory: the bytes went to the storage as they arrived (LMDB: into a file of the data
 * directory, blobs/, written and synced before the commit that makes the record visible; the
 * row then holds a reference, the size, content type and encoding). An upload that is never
 * committed (the body broke off, the write failed, a crash) leaves nothing behind: its file is
 * removed, and at start every blob file that no committed row references. A blob that an
 * overwrite or delete leaves unreferenced is removed once that commit is durable. Reading such
 * a record needs no snapshot to stay open: kvs_storage_value_open() opens its bytes (a file
 * descriptor), which stay readable after the read ends, even after a later overwrite (a
 * removed file lives on while it is open). PostgreSQL: the upload is chunks COPYed into a
 * table inside a transaction of its own connection, which the record's row then commits in
 * (pg_internal.h, "Large values"); the bytes are read a chunk per statement, and the chunks of
 * a value an overwrite or delete left stay readable for a grace period. See
 * tests/api/large.test.mjs and tests/crash.
 *
 * Consistency: every lookup sees the state after some set of whole write batches, never part of
 * one, and never an older state than a lookup before it on the same read. A record is
 * replaced atomically; a reader sees the old or the new value. With LMDB a whole read
 * (struct kvs_read) is one snapshot; with PostgreSQL each lookup is one statement of its own
 * (READ COMMITTED), so that no transaction stays open while a response goes out to a slow
 * client: kvs_storage_caps() tells which (KVS_CAP_SNAPSHOT).
 *
 * Record versions (the ETag of the API, common/precond.h): every KVS_W_RECORD_PUT gives the
 * record a new version, a uint64 that every back-end must make
 *   - greater than every version given before in the same store (so a version never repeats
 *     for another write, and two writes in one batch get increasing ones, in batch order);
 *   - at least the write's wall-clock time in microseconds since the epoch, so that versions
 *     also keep growing past a store deleted and re-created under the same name, and past a
 *     backup restored (whose stores' counters go back), as long as the clock is not set back.
 * LMDB: max(now in µs, the store's last version + 1, this process's last version + 1), the
 * store's last version kept in its stats row (written by every record write anyway); PostgreSQL
 * can do the same with a column of the store's stats row, read FOR UPDATE. The record's
 * modification time (modified_ms) is the write's wall-clock time; Last-Modified is made of it.
 *
 * Conditional writes: a record put or delete may carry preconditions (.precond, a struct
 * kvs_precond: If-Match, If-None-Match, If-Unmodified-Since; NULL for none, the common case).
 * The back-end evaluates them with kvs_precond_eval(P, current record, 0, 0) inside the write's
 * own transaction, after the
 * store is found and before anything changes, against the record as the earlier writes of the
 * same batch left it; when they fail the write's result is KVS_EPRECOND and nothing changes.
 *
 * Signing secrets: a store's URL-signing secret (urlSigningSecretKey) signs every link to
 * its keys and records; those who may write the store see it. Whenever one of them loses that
 * right (a WRITE share taken back, lowered to READ, or gone with its user), the back-end gives
 * the store a new secret in the same transaction, so that the links they could make, and
 * any made before, open nothing from the commit on; KVS_UPD_SECRET does the same on request.
 * (A new secret is a change of the store: the meta epoch moves.)
 *
 * Statistics: write, delete and record counts and storage bytes change in the same transaction
 * as the write. Read and list counts and accessedAt are counted in memory
 * (kvs_storage_note_access) and folded into the stored stats with the next write batch or
 * within about a second; a crash may lose the last second of them, never a write.
 *
 * Threads:
 *   - Every function here may be called from any thread.
 *   - A struct kvs_read belongs to one thread at a time; it may be ended on another thread
 *     than the one that began it (a response body that points into it is released by the
 *     HTTP library on whichever thread finishes the response).
 *   - Keep reads short-lived where possible: a long LMDB read delays the reuse of freed pages.
 *     (A PostgreSQL read holds no connection and no transaction between lookups, only the
 *     results its views point into.)
 *   - Done callbacks run on the storage's writer thread: they must not block, and must not
 *     submit and wait (kvs_storage_write) on the same storage.
 */
#ifndef KVS_STORAGE_STORAGE_H
#define KVS_STORAGE_STORAGE_H

#include <stddef.h>
#include <stdint.h>

#include "auth/token.h"
#include "common/encoding.h"
#include "common/precond.h"
#include "common/slice.h"
#include "common/validate.h"
#include "storage/run.h"

#define KVS_MUST_CHECK __attribute__((warn_unused_result))

#define KVS_TITLE_MAX 255          /* store titles, bytes */
#define KVS_SCHEMA_MAX (64 * 1024) /* store schema, bytes of JSON text */
#define KVS_CONTENT_TYPE_MAX 255   /* a record's content type, bytes */

/* generalAccess of a store, and a user's default (contract §3). */
enum kvs_general_access {
    KVS_GA_FOLLOW_USER_SETTING = 0,
    KVS_GA_RESTRICTED = 1,
    KVS_GA_ANYONE_WITH_ID_CAN_READ = 2,
    KVS_GA_ANYONE_WITH_NAME_CAN_READ = 3,
};

/* What an owner granted another user on a store (see auth/access.h for what each allows). */
enum kvs_share_level {
    KVS_SHARE_NONE = 0,
    KVS_SHARE_READ = 1,
    KVS_SHARE_WRITE = 2,
};

struct kvs_user {
    char id[KVS_ID_LEN + 1];
    char username[KVS_NAME_MAX + 1];
    int64_t created_ms;
    uint8_t is_admin;
    uint8_t default_access; /* enum kvs_general_access; never FOLLOW_USER_SETTING */
};

struct kvs_store_stats {
    uint64_t read_count;
    uint64_t write_count;
    uint64_t delete_count;
    uint64_t list_count;
    uint64_t record_count;
    uint64_t storage_bytes; /* sum over records of key length + stored value length */
};

struct kvs_store {
    char id[KVS_ID_LEN + 1];
    char user_id[KVS_ID_LEN + 1];
    char username[KVS_NAME_MAX + 1]; /* the owner's; filled by reads */
    char name[KVS_NAME_MAX + 1];     /* "" for an unnamed store */
    char title[KVS_TITLE_MAX + 1];   /* "" when none */
    char secret[KVS_SECRET_LEN + 1]; /* urlSigningSecretKey */
    uint8_t general_access;          /* enum kvs_general_access */
    int64_t created_ms;
    int64_t modified_ms; /* last change of the store or any of its records */
    int64_t accessed_ms; /* last read or change */
    struct kvs_store_stats stats;
    char *schema; /* JSON text or NULL; owned by this struct, released by kvs_store_clear() */
};

/* Release what a kvs_store owns (its schema) and zero it. Accepts a zeroed struct. */
void kvs_store_clear(struct kvs_store *s);

/* A record as stored. The slices point into storage-owned memory (for LMDB, into the map):
 * read-only, valid until kvs_storage_read_end() of the read that produced them.
 *
 * A record's bytes are held either in its row (VALUE, the common case: small records) or,
 * for a large one, apart from it (LMDB: a blob file, see "Large records" below): then VALUE is
 * empty and BLOB names them for kvs_storage_value_open(). SIZE is the stored size either way. */
struct kvs_record_view {
    kvs_slice value;        /* the bytes as uploaded (compressed when uploaded compressed) */
    uint64_t size;          /* how many bytes are stored, in VALUE or apart */
    kvs_slice blob;         /* the back-end's reference to bytes held apart; empty: inline */
    kvs_slice content_type; /* exactly as sent by the client */
    enum kvs_encoding encoding;
    uint64_t version;    /* changes with every write; see "Record versions" above */
    int64_t modified_ms; /* when the record was last written */
};

struct kvs_key_view {
    kvs_slice key;
    uint64_t size;              /* stored size of the value (contract §10) */
    struct kvs_record_view rec; /* with KVS_KEYS_WITH_VALUES; its type with KVS_KEYS_WITH_TYPES */
};

/* One API token, as listed: never the token itself. */
struct kvs_token_info {
    char user_id[KVS_ID_LEN + 1];
    char prefix[KVS_TOKEN_PREFIX_MAX + 1]; /* kvs_token_prefix(); "" when not known */
    int64_t created_ms;                    /* 0 when not known */
    int64_t expires_ms;                    /* 0 = never */
    kvs_slice scope; /* its scope's text, empty for none; valid during the listing's callback */
};

/* What limits a token, beside its user (kvs_storage_token_get). */
struct kvs_token_grant {
    int64_t expires_ms; /* 0 = never; from then on the token opens nothing (the API's check) */
    size_t scope_n;
    char scope[KVS_TOKEN_SCOPE_MAX + 1]; /* canonical scope text (auth/scope.h); "" = none */
};

/* One share of a store. */
struct kvs_share {
    char user_id[KVS_ID_LEN + 1];
    char username[KVS_NAME_MAX + 1];
    uint8_t level; /* enum kvs_share_level: READ or WRITE */
};

struct kvs_storage; /* an open storage; kvs_storage_open_*() creates it */
struct kvs_read;    /* a read snapshot */

/* ---- opening and closing ---------------------------------------------------------------- */

struct kvs_storage_config {
    const char *dir;      /* LMDB: data directory; created if missing */
    uint64_t map_size;    /* LMDB: largest the database may grow to; 0 = default (1 TiB) */
    unsigned max_readers; /* LMDB: concurrent reads; 0 = default (1024) */
    /* PostgreSQL: a libpq connection URI (postgres://, postgresql://) or key=value string. */
    const char *pg_uri;
    unsigned pg_pool; /* PostgreSQL: connections for reads; 0 = default (16) */
    /* Optional: when opening fails, a one-line reason goes here (NUL-terminated, cut to
     * ERROR_CAP bytes) instead of the log (PostgreSQL). */
    char *error;
    size_t error_cap;
    /* LMDB: this process is one of the short-lived users of a data directory that a server may
     * be serving (the CLI's --data commands, backup): it never appends to the write-ahead log;
     * each of its commits is synced and made a checkpoint (storage/lmdb_wal.h). 0: the process
     * appends its commits to the log, one flush each, unless another process does already. */
    int lmdb_shared;
    /* LMDB: the size of the write-ahead log when it is made (storage/lmdb_wal.h); 0 = 64 MiB.
     * A log keeps the size it was made with. */
    uint64_t lmdb_wal_size;
    /* LMDB: the longest a record waits in the write-ahead log for a checkpoint (milliseconds;
     * 0 = 1000). A checkpoint also comes once a quarter of the log (at most 8 MiB) is used. */
    unsigned lmdb_checkpoint_ms;
    /* Retention: an unnamed store not read or written for longer than this is deleted in the
     * background (named stores are kept; naming a store makes it permanent, unnaming it starts
     * the count from then). Milliseconds; 0 = unnamed stores are kept forever. */
    uint64_t unnamed_retention_ms;
    /* LMDB: leave blob files that no record references where they are when opening (they are
     * otherwise removed when no other process has the storage open): for `kvs check`, which
     * reports them. */
    int keep_orphans;
    /* The largest value kept in its row (LMDB: in the B-tree); larger ones are held apart
     * (LMDB: blob files; PostgreSQL: chunks, see "Large records"). 0 = the default (measured:
     * README, "Large records"). */
    uint64_t inline_max;
    /* PostgreSQL: how long the chunks of a value that an overwrite or delete left are kept
     * after that commit and after their last read, for readers still sending them
     * (milliseconds; 0 = 5 minutes; pg_internal.h). */
    uint64_t pg_blob_grace_ms;
};

/* Open (creating if needed) the LMDB storage in CFG->dir and start its writer thread.
 * Release with kvs_storage_close(). Returns 0, KVS_EIO (logged with the cause), or
 * KVS_EINVAL for a bad configuration. */
KVS_MUST_CHECK int kvs_storage_open_lmdb(const struct kvs_storage_config *cfg,
                                         struct kvs_storage **out);

/* Open the PostgreSQL storage at CFG->pg_uri: connect, create or upgrade the schema (under an
 * advisory lock, so that nodes starting together do it once), and start the writer thread.
 * Any number of processes may open the same database at once; together they serve one
 * storage (storage/pg_internal.h tells how). Release with kvs_storage_close(). Returns 0,
 * KVS_EUNAVAIL (the database cannot be reached; logged with libpq's message), KVS_EIO
 * (logged), or KVS_EINVAL for a bad configuration. */
KVS_MUST_CHECK int kvs_storage_open_pg(const struct kvs_storage_config *cfg,
                                       struct kvs_storage **out);

/* kvs restore: take the LMDB data directory DIR (its write-ahead log) for the replacement of
 * its data file, without waiting. Returns 0 (*HANDLE set), KVS_EUNAVAIL (a process has DIR
 * open, or is opening it) or KVS_EIO. An open of DIR waits until the handle is released. */
KVS_MUST_CHECK int kvs_storage_lmdb_claim(const char *dir, int *handle);
/* DIR's data file is about to be replaced: the log forgets every record it holds, durably.
 * Returns 0, KVS_EIO or KVS_ENOSPACE. */
KVS_MUST_CHECK int kvs_storage_lmdb_forget_log(int handle, const char *dir);
void kvs_storage_lmdb_release(int handle);

/* Whether SPEC names a PostgreSQL database (a postgres:// or postgresql:// URI) rather than
 * an LMDB data directory. */
int kvs_storage_spec_is_pg(const char *spec);

/* Open the storage CFG names: PostgreSQL when CFG->pg_uri is set, else LMDB in CFG->dir. */
KVS_MUST_CHECK int kvs_storage_open(const struct kvs_storage_config *cfg, struct kvs_storage **out);

/* Finish every submitted write (their callbacks run), stop the writer, flush pending
 * statistics and close the back-end. All reads must have ended. Accepts NULL. */
void kvs_storage_close(struct kvs_storage *st);

/* The back-end's name ("lmdb" or "postgres"). */
const char *kvs_storage_name(const struct kvs_storage *st);

#define KVS_CAP_SNAPSHOT 1u /* a whole struct kvs_read is one snapshot (see Consistency) */
#define KVS_CAP_BACKUP 2u   /* kvs_storage_backup() works (LMDB) */

/* What the back-end can do: KVS_CAP_* bits. */
unsigned kvs_storage_caps(const struct kvs_storage *st);

/* The disk space the storage uses, for /metrics' kvs_storage_bytes: LMDB its files (with the
 * room kept ahead of use), PostgreSQL the size of its database. Returns 0, KVS_EIO or
 * KVS_EUNAVAIL. */
KVS_MUST_CHECK int kvs_storage_disk_bytes(struct kvs_storage *st, uint64_t *out);

/* ---- reads ------------------------------------------------------------------------------- */

/* Begin a read. Release with kvs_storage_read_end(). Returns 0 or KVS_EIO (including "too
 * many concurrent reads"). Every lookup below may also return KVS_EUNAVAIL: the database is
 * unreachable for now (PostgreSQL; the caller answers 503 and the storage reconnects by
 * itself). */
KVS_MUST_CHECK int kvs_storage_read_begin(struct kvs_storage *st, struct kvs_read **out);

/* End a read; every view it produced becomes invalid. Accepts NULL. */
void kvs_storage_read_end(struct kvs_read *rd);

/* The meta epoch of read RD, for caches of what users, tokens, stores (all but their stats and
 * times) and shares say (api/cache.h): two reads with the same non-zero epoch see the same of
 * these, whichever process wrote them. Every write that changes any of them, committed before
 * RD began, gives later reads another epoch. 0 = not known for RD (a commit not accounted for
 * yet, or a back-end that cannot tell): then nothing read through RD may be taken from or put
 * into such a cache. Constant time. */
uint64_t kvs_storage_meta_epoch(struct kvs_read *rd);

/* Optimistic reads, for a back-end whose read is not one snapshot (PostgreSQL: every lookup
 * is a statement of its own, so no epoch can be known before a lookup). A caller that will
 * call kvs_storage_read_confirm() after its last lookup, and before it answers anything,
 * marks RD with kvs_storage_read_optimistic() first. kvs_storage_meta_epoch(RD) may then give
 * the epoch last seen by this process instead of 0, tentatively: what a cache gives under it,
 * and what RD's lookups put there under it, holds only if the confirmation says so. A no-op
 * where a read is one snapshot (LMDB: its epoch is exact already). */
void kvs_storage_read_optimistic(struct kvs_read *rd);

/* Whether the epoch that kvs_storage_meta_epoch() gave for RD was still the current one when
 * RD's last lookup ran (PostgreSQL's record lookup reports it in the same statement; else
 * this asks the database). Returns 0: it was, so whatever a cache gave under it held then;
 * 1: it was not: forget all a cache gave, and do every lookup again (RD's epoch is 0 from now
 * on, and RD's views stay valid until it ends); or KVS_EUNAVAIL / KVS_EIO. Always 0 for a
 * read that was given no tentative epoch. */
KVS_MUST_CHECK int kvs_storage_read_confirm(struct kvs_read *rd);

/* The number of users. Returns 0 or KVS_EIO. */
KVS_MUST_CHECK int kvs_storage_user_count(struct kvs_read *rd, uint64_t *out);

/* What the whole storage holds, for /metrics; constant time. The records of a deleted store
 * are counted until the background sweep has removed them (seconds, see storage.c). */
struct kvs_storage_totals {
    uint64_t users;
    uint64_t stores;
    uint64_t records;
};
KVS_MUST_CHECK int kvs_storage_totals(struct kvs_read *rd, struct kvs_storage_totals *out);

/* Find the user owning the token whose hash is HASH. Returns 0, KVS_ENOTFOUND, KVS_EIO. */
KVS_MUST_CHECK int kvs_storage_user_by_token(struct kvs_read *rd,
                                             const uint8_t hash[KVS_TOKEN_HASH_LEN],
                                             struct kvs_user *out);

/* As kvs_storage_user_by_token(), and what limits the token into *GRANT (expired or not: the
 * caller decides). One lookup. */
KVS_MUST_CHECK int kvs_storage_token_get(struct kvs_read *rd,
                                         const uint8_t hash[KVS_TOKEN_HASH_LEN],
                                         struct kvs_user *out, struct kvs_token_grant *grant);

/* Find a user by username (exact bytes). Returns 0, KVS_ENOTFOUND, KVS_EIO. */
KVS_MUST_CHECK int kvs_storage_user_by_name(struct kvs_read *rd, kvs_slice username,
                                            struct kvs_user *out);

/* Find a user by ID. Returns 0, KVS_ENOTFOUND, KVS_EIO. */
KVS_MUST_CHECK int kvs_storage_user_get(struct kvs_read *rd, kvs_slice user_id,
                                        struct kvs_user *out);

/* Find a store by ID. OUT's stats include the reads and lists counted in memory and not yet
 * stored. The caller releases OUT with kvs_store_clear(). Returns 0, KVS_ENOTFOUND, KVS_EIO. */
KVS_MUST_CHECK int kvs_storage_store_get(struct kvs_read *rd, kvs_slice id, struct kvs_store *out);

/* Find the store named NAME owned by user USER_ID. As kvs_storage_store_get(). */
KVS_MUST_CHECK int kvs_storage_store_by_name(struct kvs_read *rd, kvs_slice user_id, kvs_slice name,
                                             struct kvs_store *out);

/* Called once per store listed; the store is valid only during the call (its schema is
 * freed afterwards). Return 0 to go on, anything else to stop. */
typedef int (*kvs_store_cb)(void *arg, const struct kvs_store *s);

/* List the stores owned by USER_ID, ordered by creation time (then ID), oldest first or,
 * with DESC, newest first; unnamed stores only with INCLUDE_UNNAMED. Skips OFFSET stores,
 * calls CB for at most LIMIT, and sets *TOTAL to the number of all matching stores.
 * Returns 0, KVS_EIO. Cost: O(stores of the user). */
KVS_MUST_CHECK int kvs_storage_store_list(struct kvs_read *rd, kvs_slice user_id, uint64_t offset,
                                          uint64_t limit, int desc, int include_unnamed,
                                          kvs_store_cb cb, void *arg, uint64_t *total);

#define KVS_LIST_OWNED 1u  /* the user's own stores */
#define KVS_LIST_SHARED 2u /* stores other users shared with the user */

/* Called once per store listed by kvs_storage_store_list_visible(); SHARE is the user's share
 * of the store, KVS_SHARE_NONE for the user's own stores. As kvs_store_cb otherwise. */
typedef int (*kvs_store_share_cb)(void *arg, const struct kvs_store *s, enum kvs_share_level share);

/* As kvs_storage_store_list(), over the stores WHICH (KVS_LIST_OWNED, KVS_LIST_SHARED or
 * both) selects for user USER_ID: one list in creation order (then ID) however many kinds it
 * mixes, so OFFSET, LIMIT and *TOTAL count across both. Returns 0, KVS_EIO.
 * Cost: O(stores owned by and shared with the user); only the page's stores are read. */
KVS_MUST_CHECK int kvs_storage_store_list_visible(struct kvs_read *rd, kvs_slice user_id,
                                                  unsigned which, uint64_t offset, uint64_t limit,
                                                  int desc, int include_unnamed,
                                                  kvs_store_share_cb cb, void *arg,
                                                  uint64_t *total);

/* Called once per user, token or share listed; the struct is valid only during the call.
 * Return 0 to go on, anything else to stop (the listing then returns 0). */
typedef int (*kvs_user_cb)(void *arg, const struct kvs_user *u);
typedef int (*kvs_token_cb)(void *arg, const struct kvs_token_info *t);
typedef int (*kvs_share_cb)(void *arg, const struct kvs_share *s);

/* List every user in byte order of the username. Returns 0, KVS_EIO. */
KVS_MUST_CHECK int kvs_storage_user_list(struct kvs_read *rd, kvs_user_cb cb, void *arg);

/* List the tokens of user USER_ID, oldest first. Returns 0, KVS_EIO. Cost: O(its tokens). */
KVS_MUST_CHECK int kvs_storage_token_list(struct kvs_read *rd, kvs_slice user_id, kvs_token_cb cb,
                                          void *arg);

/* The share of store STORE_ID granted to user USER_ID, into *OUT (READ or WRITE).
 * Returns 0, KVS_ENOTFOUND (not shared with that user), KVS_EIO. */
KVS_MUST_CHECK int kvs_storage_share_get(struct kvs_read *rd, kvs_slice store_id, kvs_slice user_id,
                                         enum kvs_share_level *out);

/* List the shares of store STORE_ID, in byte order of the user ID. Returns 0, KVS_EIO.
 * Cost: O(its shares). */
KVS_MUST_CHECK int kvs_storage_share_list(struct kvs_read *rd, kvs_slice store_id, kvs_share_cb cb,
                                          void *arg);

/* Read record KEY of store STORE_ID. Does not check that the store exists (a missing store
 * has no records). OUT points into the snapshot (see struct kvs_record_view).
 * Returns 0, KVS_ENOTFOUND, KVS_EIO. */
KVS_MUST_CHECK int kvs_storage_record_get(struct kvs_read *rd, kvs_slice store_id, kvs_slice key,
                                          struct kvs_record_view *out);

#define KVS_KEYS_WITH_VALUES 1u /* fill kvs_key_view.rec too */
/* Fill kvs_key_view.rec's content_type and encoding (its value may come or be empty): what a
 * listing of content types needs, without fetching every value from PostgreSQL. */
#define KVS_KEYS_WITH_TYPES 2u

/* Called once per key listed; the view is valid until the read ends, except that with
 * KVS_KEYS_WITH_VALUES it is valid only until the next listing with values on the same read
 * (so that an export of a large store holds one page of values, not all). Return 0 to go on,
 * anything else to stop the listing (kvs_storage_keys_list then returns that value). */
typedef int (*kvs_key_cb)(void *arg, const struct kvs_key_view *k);

/* List the keys of store STORE_ID in byte order: only keys starting with PREFIX (empty = all),
 * only keys after START_AFTER (empty = from the start; it need not be a key), at most LIMIT
 * of them (LIMIT > 0; with KVS_KEYS_WITH_VALUES a back-end may give fewer, at least one, once
 * the values pass tens of MiB). *TRUNCATED is set to 1 when more keys match after the last
 * one given.
 * Cost: O(LIMIT + log n), whatever the store's size.
 * Returns 0, KVS_EIO, or the callback's non-zero value. */
KVS_MUST_CHECK int kvs_storage_keys_list(struct kvs_read *rd, kvs_slice store_id, kvs_slice prefix,
                                         kvs_slice start_after, uint64_t limit, unsigned flags,
                                         kvs_key_cb cb, void *arg, int *truncated);

/* Count a read (record GET/HEAD) or a list (keys) of STORE_ID, and mark it accessed now.
 * Cheap and lock-striped: counted in memory, stored with the next write batch. */
#define KVS_NOTE_READ 1u
#define KVS_NOTE_LIST 2u
#define KVS_NOTE_ACCESS 0u /* only accessedAt */
void kvs_storage_note_access(struct kvs_storage *st, const char *store_id, unsigned what);

/* ---- values: a record's bytes, read apart from the read that found them ---------------------- */

/* The bytes of one record, open for reading. They stay readable after the read that found
 * them has ended, and whatever is written meanwhile: an inline value is copied (it is small),
 * a value held apart is opened (LMDB: its blob file). So a response that takes minutes to
 * send holds no snapshot. */
struct kvs_value;

/* Open the bytes of record REC, found by RD (which may end right after). Returns 0 and
 * *OUT (release with kvs_value_close()); KVS_ESTALE when the bytes went away between the
 * lookup and the open (a write replaced or deleted the record after RD began: look it up
 * again with a new read); KVS_EIO (a referenced file is missing: damage, logged). */
KVS_MUST_CHECK int kvs_storage_value_open(struct kvs_read *rd, const struct kvs_record_view *rec,
                                          struct kvs_value **out);

/* The value's size in bytes. */
uint64_t kvs_value_size(const struct kvs_value *v);

/* The value's bytes when they are in memory (an inline value), else an empty slice. Valid
 * until kvs_value_close(). */
kvs_slice kvs_value_bytes(const struct kvs_value *v);

/* The value's file when it is one: a descriptor that the caller now owns (it closes it; the
 * value no longer reads through it), the value's bytes from offset 0. -1 when not a file. */
int kvs_value_take_fd(struct kvs_value *v);

/* Read up to N bytes at POS into BUF; *GOT gets how many (0 only at or past the end).
 * Returns 0 or KVS_EIO. */
KVS_MUST_CHECK int kvs_value_read(struct kvs_value *v, uint64_t pos, void *buf, size_t n,
                                  size_t *got);

/* Release V. Accepts NULL. */
void kvs_value_close(struct kvs_value *v);

/* ---- uploads: a large value written as it arrives ---------------------------------------- */

struct kvs_upload;

/* Whether the back-end takes uploads (kvs_storage_upload_begin); when it does not, every value
 * is put from memory. */
int kvs_storage_uploads(const struct kvs_storage *st);

/* The size above which a value should go as an upload rather than inline: smaller ones are
 * faster in the row (one group commit for many; no file to create, sync and remove).
 * Measured, see README ("Large records"). */
uint64_t kvs_storage_inline_max(const struct kvs_storage *st);

/* Begin receiving a value into the storage, not into memory. SIZE is its announced length (the
 * room is reserved at once where the file system allows, so that a disk too full fails here),
 * or 0 when not known. Release with kvs_upload_abort(), or hand it to a record put
 * (kvs_write.upload), which then owns it. Returns 0, KVS_ENOSPACE, KVS_EIO, or KVS_EINVAL when
 * the back-end takes no uploads. */
KVS_MUST_CHECK int kvs_storage_upload_begin(struct kvs_storage *st, uint64_t size,
                                            struct kvs_upload **out);

/* Append N bytes. Returns 0, KVS_ENOSPACE (the disk is full: nothing of U may be kept;
 * abort it), or KVS_EIO. */
KVS_MUST_CHECK int kvs_upload_append(struct kvs_upload *u, const void *p, size_t n);

/* The bytes appended so far. */
uint64_t kvs_upload_size(const struct kvs_upload *u);

/* Drop U and everything it wrote: nothing of it is left. Accepts NULL. */
void kvs_upload_abort(struct kvs_upload *u);

/* ---- writes ------------------------------------------------------------------------------ */

enum kvs_write_op {
    /* Put record (store_id, key) = value with content_type and encoding, replacing any old
     * value atomically. KVS_ENOTFOUND when the store does not exist (e.g. deleted meanwhile),
     * KVS_EPRECOND when .precond fails (see "Conditional writes" above). On success .version
     * and .modified_ms are the record's new version and modification time. */
    KVS_W_RECORD_PUT,
    /* Delete record (store_id, key). Deleting a missing key succeeds (contract §10) and
     * changes no stats; a missing store is KVS_ENOTFOUND; KVS_EPRECOND when .precond fails
     * (If-Match on a missing key fails, If-None-Match: * passes). */
    KVS_W_RECORD_DELETE,
    /* Create a store from .store's user_id, name, title, general_access and schema; the
     * storage sets id, secret, times and zero stats. When .store.name is not empty and the
     * owner already has a store of that name, the result is KVS_EEXIST and .store is replaced
     * by the existing store (get-or-create in one step, free of races). */
    KVS_W_STORE_CREATE,
    /* Change the fields of store .store_id named by .update_mask (KVS_UPD_*) to those in
     * .store. Renaming onto a name the owner already uses is KVS_ENAMETAKEN; a missing store
     * KVS_ENOTFOUND. On success .store holds the whole updated store. */
    KVS_W_STORE_UPDATE,
    /* Delete store .store_id, its shares, the run it is the default store of (if any: a run
     * goes with its store, storage/run.h) and, in the background, all its records.
     * KVS_ENOTFOUND when missing. From the moment the batch commits, the store, its run and
     * its records are gone for every reader. */
    KVS_W_STORE_DELETE,
    /* Create user .user (username, is_admin, default_access; the storage sets id and
     * created_ms) with one token, .token_hash, listed by its prefix .token_prefix (may be
     * ""). KVS_EEXIST when the username is taken. */
    KVS_W_USER_CREATE,
    /* Add token .token_hash (prefix .token_prefix) to user .user.id, limited by
     * .token_expires_ms and .token_scope (none when 0 and empty). KVS_ENOTFOUND when the user
     * is missing; adding a token the user already has changes nothing; KVS_EINVAL for a scope
     * longer than KVS_TOKEN_SCOPE_MAX or a negative expiry. */
    KVS_W_TOKEN_ADD,
    /* Revoke one token: the one whose prefix starts with .key (1..KVS_TOKEN_PREFIX_MAX
     * bytes), or, when .key is empty, the one whose hash is .token_hash. When .user.id is
     * set, only that user's tokens are considered (a user revoking their own). KVS_ENOTFOUND
     * when none matches, KVS_EAMBIGUOUS when the prefix matches several (nothing is revoked).
     * On success .user is the token's owner. From the commit on, the token opens nothing. */
    KVS_W_TOKEN_REVOKE,
    /* Set the default general access of user .user.id to .user.default_access (RESTRICTED,
     * ANYONE_WITH_ID_CAN_READ or ANYONE_WITH_NAME_CAN_READ; else KVS_EINVAL). KVS_ENOTFOUND
     * when the user is missing. On success .user is the whole updated user. */
    KVS_W_USER_UPDATE,
    /* Share store .store_id with user .user.id at .share_level (READ or WRITE), replacing an
     * earlier share. KVS_ENOTFOUND when the store or the user is missing, KVS_EINVAL for
     * another level or when the user owns the store. A WRITE share lowered to READ gives the
     * store a new URL-signing secret in the same transaction (see "Signing secrets"). */
    KVS_W_SHARE_SET,
    /* Take back the share of store .store_id from user .user.id. KVS_ENOTFOUND when there
     * was none. (Deleting a store drops all its shares with it.) A WRITE share taken back
     * gives the store a new URL-signing secret in the same transaction. */
    KVS_W_SHARE_DELETE,
    /* Create run *.run (its user_id, act_id, actor, origin, timeout_secs and memory_mbytes;
     * kvs_run_fields_ok() or KVS_EINVAL) and its default store, an unnamed store of the same
     * user made from .store's general_access and title, in one step. The storage sets the
     * run's id, store_id, started_ms (now) and status RUNNING. KVS_ENOTFOUND when the user is
     * missing. On success *.run is the new run and .store its new store. */
    KVS_W_RUN_CREATE,
    /* Update run .run->id as .update_mask (KVS_RUN_UPD_*) says, with the values in *.run, by
     * kvs_run_apply()'s rules (storage/run.h), which give its errors. KVS_ENOTFOUND when the
     * run is missing. On success *.run is the whole updated run. Not a meta change (storage
     * caches of users, tokens, stores and shares stay valid). */
    KVS_W_RUN_UPDATE,
    /* Delete user .user.id and everything that is theirs, in one transaction: their tokens
     * (which open nothing from the commit on), the shares others gave them, and every store
     * they own, each as KVS_W_STORE_DELETE deletes one (gone at once with its shares, its
     * records swept in the background). KVS_ENOTFOUND when the user is missing; KVS_EINVAL
     * when they are the only admin left (the storage keeps one, so that it can still be
     * administered through the API). On success .user is the deleted user. Anything else a user
     * comes to own is deleted here too, by each back-end. */
    KVS_W_USER_DELETE,
};

#define KVS_UPD_NAME 1u   /* .store.name ("" = make unnamed) */
#define KVS_UPD_TITLE 2u  /* .store.title */
#define KVS_UPD_ACCESS 4u /* .store.general_access */
#define KVS_UPD_SCHEMA 8u /* .store.schema */
#define KVS_UPD_SECRET 16u /* a new URL-signing secret, made by the storage (.store ignored) */

/* One write. The submitter owns it and everything its slices point to, and must keep them
 * valid and untouched until done() has run. */
struct kvs_write {
    enum kvs_write_op op;
    char store_id[KVS_ID_LEN + 1]; /* record ops, store update/delete */
    kvs_slice key;                 /* record ops */
    kvs_slice value;               /* record put: the bytes to store */
    /* record put: the bytes as an upload instead (then VALUE is empty). The write owns it
     * from its submission on: the storage makes its bytes durable before the commit (on a
     * thread of its own, so that a large file's sync holds up no other write) and keeps or
     * removes them with the write's outcome. */
    struct kvs_upload *upload;
    kvs_slice content_type;        /* record put */
    enum kvs_encoding encoding;    /* record put */
    uint64_t version;              /* record put, out: the new version */
    int64_t modified_ms;           /* record put, out: the new modification time */
    struct kvs_store store;        /* store create/update: in and out; kvs_store_clear() it */
    unsigned update_mask;          /* store update (KVS_UPD_*), run update (KVS_RUN_UPD_*) */
    struct kvs_run *run;           /* run ops: in and out; the submitter's */
    struct kvs_user user;          /* user create/update (in and out), token ops, shares */
    /* record put and delete: preconditions (see "Conditional writes"); NULL = none */
    const struct kvs_precond *precond;
    /* record put and delete: the meta epoch under which the caller's rights were found
     * (kvs_storage_meta_epoch of an optimistic read, not confirmed); 0 = none. A back-end
     * whose reads are snapshots ignores it; PostgreSQL compares it with the epoch its batch
     * sees and, when they differ, refuses the write with KVS_ESTALE, changing nothing: find
     * the rights again, then submit anew. */
    uint64_t meta_epoch;
    uint8_t token_hash[KVS_TOKEN_HASH_LEN];      /* user create, token add and revoke */
    char token_prefix[KVS_TOKEN_PREFIX_MAX + 1]; /* user create, token add: kvs_token_prefix() */
    int64_t token_expires_ms;                    /* token add: 0 = never */
    kvs_slice token_scope;                       /* token add: canonical scope text, or empty */
    uint8_t share_level;                         /* share set: enum kvs_share_level */

    int result; /* set before done() runs: 0 or a KVS_E... code */
    /* Runs on the writer thread once the write is durable (or failed). Must not block. */
    void (*done)(struct kvs_write *w);
    void *arg; /* for the submitter */

    struct kvs_write *next; /* the storage's queue link; untouched by the submitter */
};

/* Queue W. On 0, W->done runs exactly once, later, on the writer thread. On error
 * (KVS_EUNAVAIL once closing has begun) done never runs. A write whose result is
 * KVS_EUNAVAIL did not reach a database that could be reached (PostgreSQL down, or the
 * connection lost with the outcome of the commit unknown: it may have been applied, and it is
 * never applied twice by the storage itself). */
KVS_MUST_CHECK int kvs_storage_submit(struct kvs_storage *st, struct kvs_write *w);

/* Submit W and wait until it is durable; W->done is ignored. Returns W->result. For the CLI,
 * start-up and tests; never call it from a done callback. */
KVS_MUST_CHECK int kvs_storage_write(struct kvs_storage *st, struct kvs_write *w);

/* Writer statistics, for /metrics and benchmarks. */
struct kvs_storage_counters {
    uint64_t batches; /* transactions committed (each one sync) */
    uint64_t writes;  /* writes applied */
};
void kvs_storage_counters(struct kvs_storage *st, struct kvs_storage_counters *out);

/* ---- check --------------------------------------------------------------------------------- */

/* What kvs_storage_check() found. */
struct kvs_check_report {
    uint64_t records;      /* records looked at */
    uint64_t apart;        /* of them held apart (LMDB: in blob files) */
    uint64_t apart_bytes;  /* their bytes */
    uint64_t missing;      /* records whose bytes are missing or of another size: damage */
    uint64_t dangling;     /* references to bytes that no record holds (LMDB: blobs rows) */
    uint64_t unreferenced; /* stored bytes no record references (LMDB: blob files) */
    uint64_t unreferenced_bytes;
    int alone; /* no other process had the storage open: what is unreferenced is left over from
                * a crash, not an upload in progress */
};

/* Check that every record held apart has its bytes, of its size, and that nothing else is kept
 * (storage.h, "Large records"): fills OUT and calls PROBLEM(ARG, TEXT) for each finding (a
 * line of text about one file or record). Reads only: nothing is changed. Returns 0 (whatever
 * it found), KVS_EIO, or KVS_EINVAL when the back-end has nothing to check. */
KVS_MUST_CHECK int kvs_storage_check(struct kvs_storage *st, struct kvs_check_report *out,
                                     void (*problem)(void *arg, const char *text), void *arg);

/* ---- backup ------------------------------------------------------------------------------ */

/* Write a consistent copy of the whole storage into the existing directory OUT_DIR, which must
 * hold no data file yet. The copy is of one moment: one read snapshot, so it holds every write
 * whose commit finished before the call (every write already acknowledged) and no part of any
 * later one, with the files of its records held apart (LMDB: hard links where OUT_DIR is on the
 * same file system: blob files never change; else copies). Other processes (a running server) may go on reading and writing meanwhile; they
 * are not held up. The copy is compacted (LMDB: free pages left out) and synced to disk before
 * this returns. A storage opened on OUT_DIR is the storage as of that moment.
 * Returns 0, KVS_EEXIST (OUT_DIR already holds a data file), KVS_ENOSPACE, KVS_EIO. */
KVS_MUST_CHECK int kvs_storage_backup(struct kvs_storage *st, const char *out_dir);

#endif
