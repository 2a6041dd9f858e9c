/* kvs/client.h — libkvs, the C client library of kvstore.
 *
 * libkvs speaks the Apify API v2 for key-value stores to a kvstore server (or to anything that
 * speaks it), over libcurl. Build with `cc prog.c $(pkg-config --cflags --libs kvs)`.
 *
 *   kvs_client *c;
 *   if (kvs_client_open("http://127.0.0.1:8787", token, &c) != 0) ...   (or kvs_client_open_env)
 *   kvs_record_put(c, "my-store", "greeting", "hi", 2, "text/plain");
 *   struct kvs_record *r;
 *   if (kvs_record_get(c, "my-store", "greeting", &r) == 0) { fwrite(r->value, 1, r->size, stdout);
 * kvs_free(r); } else fprintf(stderr, "%s\n", kvs_client_errmsg(c)); kvs_client_close(c);
 *
 * The rules (kvs.h's conventions hold too):
 *   - Errors. Every function that can fail returns 0 (or a count) or a negative KVS_E... code
 *     of kvs.h's table. The server's errors map back to the table by their Apify error type
 *     ("record-not-found" → KVS_ENOTFOUND); a server that cannot be reached is KVS_ENET, one
 *     whose answer makes no sense KVS_EPROTO, a call that took too long KVS_ETIMEOUT. After
 *     any failed call kvs_client_errmsg(), kvs_client_errtype() and kvs_client_status() tell
 *     the server's message, its error type and the HTTP status; they are valid until the
 *     next call on the same client.
 *   - Memory. Everything libkvs hands out is released with kvs_free(), one call per returned
 *     pointer, whatever it is (a record, a store, a page of stores, a URL): the strings inside
 *     a returned struct live and die with it. libkvs keeps no pointer of the caller's after a
 *     call returns. Out of memory is KVS_ENOMEM, never an abort.
 *   - Threads. A client belongs to one thread at a time: open one client per thread (they
 *     share nothing). libkvs initialises libcurl once, itself, in a thread-safe way.
 *   - Network. A client keeps its connection alive between calls. A request that fails with
 *     429, a 5xx status (but 501) or a network error is retried, as the official Apify clients do: up to
 *     8 times by default, waiting 500 ms, then twice as long each time (at most 8 s; longer if
 *     the server asks with Retry-After). Uploads from a file descriptor are retried only when
 *     the descriptor can seek back. JSON calls time out after 30 s, doubled on each retry;
 *     record transfers are cut only when no byte moves for that long. See kvs_client_set().
 *   - Stores are named as the API names them: an ID, "username~name" (or "username/name"),
 *     "~name", or a bare name of one's own store.
 *
 * Only names starting with kvs_ / KVS_ are used. The library's ABI is versioned by its soname
 * (libkvs.so.1); structs handed out by libkvs only ever grow at their end. */
#ifndef KVS_CLIENT_H
#define KVS_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "kvs.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KVS_VERSION "1.0.0"
#define KVS_VERSION_MAJOR 1

/* The version of the library that runs ("1.0.0"). Static storage. */
KVS_API const char *kvs_version(void);

/* Release anything libkvs returned. Accepts NULL. */
KVS_API void kvs_free(void *p);

/* ==== the client ============================================================================ */

typedef struct kvs_client kvs_client;

/* Open a client of the server at URL ("http://host:port", without /v2) with API TOKEN (NULL
 * or "" for none: only public reads work then). Nothing is sent yet.
 * Returns 0 with *OUT to be closed with kvs_client_close(); KVS_EINVAL when URL is not an
 * http(s) URL; KVS_ENOMEM. */
KVS_API int kvs_client_open(const char *url, const char *token, kvs_client **out);

/* As kvs_client_open() with $KVS_URL and $KVS_TOKEN. KVS_EINVAL when KVS_URL is unset. */
KVS_API int kvs_client_open_env(kvs_client **out);

/* Close C and its connection. Accepts NULL. */
KVS_API void kvs_client_close(kvs_client *c);

enum kvs_option {
    KVS_OPT_MAX_RETRIES = 1,    /* retries after the first attempt (default 8; 0 = none) */
    KVS_OPT_RETRY_DELAY_MS,     /* the first wait before a retry (default 500) */
    KVS_OPT_TIMEOUT_MS,         /* a JSON call's time limit, doubled per retry (default 30000);
                                   a record transfer's longest stall */
    KVS_OPT_CONNECT_TIMEOUT_MS, /* to connect (default 10000) */
};

/* Set OPT of C to VALUE (>= 0). Returns 0 or KVS_EINVAL. */
KVS_API int kvs_client_set(kvs_client *c, enum kvs_option opt, long value);

/* Called while a record moves (kvs_record_get*, kvs_record_put*): DONE bytes of TOTAL (0 when
 * the size is not known). Called from the thread making the call; it must not call C. */
typedef void (*kvs_progress_fn)(void *arg, uint64_t done, uint64_t total);

/* Report record transfers of C to FN (NULL: stop reporting). */
KVS_API void kvs_client_set_progress(kvs_client *c, kvs_progress_fn fn, void *arg);

/* Called before C waits to send a failed call again (after a 429, a 5xx or a network error):
 * this is retry RETRY (1 for the first) of at most MAX, after WAIT_MS milliseconds;
 * kvs_client_errmsg(C) and kvs_client_status(C) tell what failed. For a person waiting: a
 * server that is down otherwise looks like a command that hangs. Called from the thread
 * making the call; it must not call C, only read its error. */
typedef void (*kvs_retry_fn)(void *arg, const kvs_client *c, long retry, long max, long wait_ms);

/* Tell FN about C's retries (NULL: stop telling). */
KVS_API void kvs_client_set_retry_notice(kvs_client *c, kvs_retry_fn fn, void *arg);

/* The server C talks to, as GET /health describes it (no token needed). Free with kvs_free().
 * Strings are NULL when the server did not say (an older kvs). */
struct kvs_server_info {
    const char *url;              /* the base URL C was opened with */
    const char *version;          /* the server's release, "1.0.0" */
    const char *build;            /* the commit it was built from; "" when not known */
    const char *storage;          /* "lmdb", "postgres" */
    int64_t max_record_size;      /* the largest record it takes, bytes; 0 when not said */
    int64_t unnamed_retention_ms; /* how long an unused unnamed store is kept; 0: forever */
};

KVS_API int kvs_server_info(kvs_client *c, struct kvs_server_info **out);

/* What went wrong in the last call on C that failed: a sentence ("" after a success), the
 * server's Apify error type ("" when the server said nothing: a network error), the HTTP
 * status (0 when no response came). Owned by C, valid until its next call. */
KVS_API const char *kvs_client_errmsg(const kvs_client *c);
KVS_API const char *kvs_client_errtype(const kvs_client *c);
KVS_API int kvs_client_status(const kvs_client *c);

/* ==== stores ================================================================================ */

/* A store object (contract §2.1). Strings are NUL-terminated and NULL when the server gave
 * none. Free with kvs_free(). */
struct kvs_store_info {
    const char *id;
    const char *name; /* NULL for an unnamed store */
    const char *user_id;
    const char *username;
    const char *general_access; /* "RESTRICTED", "ANYONE_WITH_ID_CAN_READ", ... */
    const char *created_at;     /* ISO 8601, UTC */
    const char *modified_at;
    const char *accessed_at;
    const char *url_signing_secret_key; /* only for callers who may write the store */
    const char *keys_public_url;
    int64_t read_count, write_count, delete_count, list_count;
    int64_t record_count; /* records in the store */
    int64_t storage_bytes;
    const char *json; /* the whole object as the server sent it, compact JSON */
};

/* A page of stores. Free with kvs_free(), which releases the items too. */
struct kvs_store_page {
    uint64_t total;  /* stores matching, over all pages */
    uint64_t offset; /* of the first item */
    uint64_t count;  /* items in ITEMS */
    struct kvs_store_info *items;
};

#define KVS_LIST_UNNAMED 1u     /* list unnamed stores too */
#define KVS_LIST_DESC 2u        /* newest first */
#define KVS_LIST_SHARED_ONLY 4u /* only the stores others share with the caller */

/* The stores of the caller and those shared with them, from OFFSET, at most LIMIT (0: the
 * server's maximum, 1000), in creation order. Returns 0 with *OUT, or an error. */
KVS_API int kvs_store_list(kvs_client *c, uint64_t offset, uint64_t limit, unsigned flags,
                           struct kvs_store_page **out);

/* The caller's store NAME, created when it does not exist (NAME NULL: a new unnamed store).
 * *OUT (may be NULL) gets the store; *CREATED (may be NULL) 1 when it was created now. */
KVS_API int kvs_store_get_or_create(kvs_client *c, const char *name, struct kvs_store_info **out,
                                    int *created);

/* The store STORE. Returns 0 with *OUT, KVS_ENOTFOUND, or another error. */
KVS_API int kvs_store_get(kvs_client *c, const char *store, struct kvs_store_info **out);

/* Rename STORE to NEW_NAME (NULL: make it unnamed). *OUT (may be NULL): the store after. */
KVS_API int kvs_store_rename(kvs_client *c, const char *store, const char *new_name,
                             struct kvs_store_info **out);

/* Set STORE's general access (a name of the "generalAccess" enum). *OUT may be NULL. */
KVS_API int kvs_store_set_access(kvs_client *c, const char *store, const char *general_access,
                                 struct kvs_store_info **out);

/* Delete STORE and its records. */
KVS_API int kvs_store_delete(kvs_client *c, const char *store);

/* Give STORE a new URL-signing secret (its owner or the admin): every link to its keys or
 * records signed before, by anyone, stops working. *OUT (may be NULL): the store after, with
 * the new url_signing_secret_key. */
KVS_API int kvs_store_rotate_key(kvs_client *c, const char *store, struct kvs_store_info **out);

/* ==== records =============================================================================== */

/* A record read into memory. VALUE holds SIZE bytes followed by a NUL (not counted), so text
 * can be used as a C string. Free with kvs_free(). */
struct kvs_record {
    char *value;
    size_t size;
    const char *content_type;
};

/* What a record's headers say: filled by kvs_record_head() and kvs_record_get_fd(). */
struct kvs_record_meta {
    char content_type[256];
    int64_t size;              /* bytes of the body as the server sends it; -1 when unknown */
    char content_encoding[16]; /* as stored ("" for identity); libkvs decodes it on reads */
};

/* Read record KEY of STORE into memory (decoded when it was uploaded compressed).
 * Returns 0 with *OUT, KVS_ENOTFOUND (no store or no record), or another error. */
KVS_API int kvs_record_get(kvs_client *c, const char *store, const char *key,
                           struct kvs_record **out);

/* Stream record KEY of STORE into the file descriptor FD as it arrives (never whole in
 * memory). META (may be NULL) gets its headers. Nothing is written to FD unless the server
 * answers with the record; a transfer cut midway is KVS_ENET with part of it written. */
KVS_API int kvs_record_get_fd(kvs_client *c, const char *store, const char *key, int fd,
                              struct kvs_record_meta *meta);

/* Store SIZE bytes at VALUE as record KEY of STORE with CONTENT_TYPE (NULL:
 * "application/octet-stream"). */
KVS_API int kvs_record_put(kvs_client *c, const char *store, const char *key, const void *value,
                           size_t size, const char *content_type);

/* Store what FD holds, from its current offset to its end, as record KEY: read as it is sent
 * (a regular file with its size, anything else chunked), never whole in memory. */
KVS_API int kvs_record_put_fd(kvs_client *c, const char *store, const char *key, int fd,
                              const char *content_type);

/* Delete record KEY of STORE (also when there is none). */
KVS_API int kvs_record_delete(kvs_client *c, const char *store, const char *key);

/* The headers of record KEY (a HEAD request) into *META (may be NULL).
 * Returns 0, KVS_ENOTFOUND, or another error. */
KVS_API int kvs_record_head(kvs_client *c, const char *store, const char *key,
                            struct kvs_record_meta *meta);

/* Whether record KEY exists: 1, 0, or a negative error. */
KVS_API int kvs_record_exists(kvs_client *c, const char *store, const char *key);

/* The SDK's conventions: the input is record $ACTOR_INPUT_KEY (default "INPUT") and the
 * output record "OUTPUT" of STORE, NULL meaning $ACTOR_DEFAULT_KEY_VALUE_STORE_ID (default
 * "default", the caller's store of that name). kvs_output_put()'s CONTENT_TYPE NULL means
 * "application/json; charset=utf-8". As kvs_record_get() and kvs_record_put(). */
KVS_API int kvs_input_get(kvs_client *c, const char *store, struct kvs_record **out);
KVS_API int kvs_output_put(kvs_client *c, const char *store, const void *value, size_t size,
                           const char *content_type);

/* ==== keys ================================================================================== */

/* One key of a listing; valid until the next kvs_keys_next() or kvs_keys_close(). */
struct kvs_key_info {
    const char *key;
    int64_t size;                  /* stored bytes */
    const char *record_public_url; /* signed for callers who may write the store */
    const char *content_type;      /* the record's; NULL from a server that does not say */
    const char *modified_at;       /* when it was last written, ISO 8601 UTC; NULL: not said */
};

typedef struct kvs_keys kvs_keys;

/* An iterator over the keys of STORE that start with PREFIX (NULL or "": all), in byte order.
 * Pages of up to 1000 keys are fetched as needed. Returns 0 with *OUT to be closed with
 * kvs_keys_close(); nothing is sent until the first kvs_keys_next(). */
KVS_API int kvs_keys_open(kvs_client *c, const char *store, const char *prefix, kvs_keys **out);

/* The next key into *OUT: returns 1 (a key), 0 (no more keys), or a negative error (see
 * kvs_client_errmsg() of the client; the iterator may then only be closed). */
KVS_API int kvs_keys_next(kvs_keys *it, const struct kvs_key_info **out);

/* Close IT. Accepts NULL. */
KVS_API void kvs_keys_close(kvs_keys *it);

/* Called for each key by kvs_keys_each(); a non-zero return stops the walk and is returned. */
typedef int (*kvs_keys_cb)(void *arg, const struct kvs_key_info *key);

/* Call CB for each key of STORE that starts with PREFIX. Returns 0, CB's non-zero return, or
 * an error; unlike kvs.h's rule for callbacks, an error of a later page can come after CB
 * has run for the keys of the pages before. */
KVS_API int kvs_keys_each(kvs_client *c, const char *store, const char *prefix, kvs_keys_cb cb,
                          void *arg);

/* ==== signed links ========================================================================== */

/* A link that lets anyone read record KEY of STORE without a token, signed as the Apify
 * clients sign it (contract §4: HMAC of the key with the store's urlSigningSecretKey; it does
 * not expire). The store is read first for its secret, which the server gives only to those
 * who may write the store (KVS_EACCESS otherwise). *OUT: free with kvs_free(). */
KVS_API int kvs_record_url(kvs_client *c, const char *store, const char *key, char **out);

/* A link to the key list of STORE, valid EXPIRES_SECS seconds (0: forever). As above. */
KVS_API int kvs_keys_url(kvs_client *c, const char *store, int64_t expires_secs, char **out);

/* ==== Actor runs (kvstore's runs API) ======================================================= */

/* A run (the platform's run object). Strings are NUL-terminated, NULL when the server gave
 * none. Free with kvs_free(). */
struct kvs_run_info {
    const char *id;
    const char *act_id;
    const char *actor_name;
    const char *user_id;
    const char *status; /* "RUNNING", "SUCCEEDED", "FAILED", "TIMED-OUT", "ABORTING", ... */
    const char *status_message;
    const char *started_at; /* ISO 8601, UTC */
    const char *finished_at;
    const char *default_key_value_store_id;
    const char *default_dataset_id;       /* an ID kvstore does not serve (501) */
    const char *default_request_queue_id; /* likewise */
    const char *build_id;
    const char *console_url;
    int has_exit_code;
    int64_t exit_code;
    int64_t timeout_secs; /* 0: none */
    int64_t memory_mbytes;
    const char *json;
};

/* Start a run of the caller's Actor ACTOR (a name of the store-name rule) with its default store
 * (POST /v2/actor-runs, kvstore's own): ORIGIN (NULL: "API") as meta.origin, TIMEOUT_SECS (0:
 * none) and MEMORY_MBYTES (0: the server's default) as its options. Nothing runs on the server:
 * the caller runs the Actor and ends the run with kvs_run_finish(). */
KVS_API int kvs_run_start(kvs_client *c, const char *actor, const char *origin,
                          int64_t timeout_secs, int64_t memory_mbytes, struct kvs_run_info **out);

/* Run RUN. WAIT_SECS > 0: the server answers when the run finishes or after that long (at most
 * 60 s; the call's timeout grows with it). Returns 0 with *OUT, KVS_ENOTFOUND, or an error. */
KVS_API int kvs_run_get(kvs_client *c, const char *run, int wait_secs, struct kvs_run_info **out);

/* End RUN with STATUS ("SUCCEEDED", "FAILED", "TIMED-OUT" or "ABORTED") and, when HAS_EXIT_CODE,
 * EXIT_CODE. A run that was aborted meanwhile ends ABORTED. KVS_EFINISHED when it had ended.
 * *OUT (may be NULL): the run after. */
KVS_API int kvs_run_finish(kvs_client *c, const char *run, const char *status, int has_exit_code,
                           int64_t exit_code, struct kvs_run_info **out);

/* Ask RUN's runner to stop it (ABORTING; a second abort ends it: ABORTED). *OUT may be NULL. */
KVS_API int kvs_run_abort(kvs_client *c, const char *run, struct kvs_run_info **out);

/* ==== users, tokens, shares (the admin API) ================================================= */

/* A user. TOKEN is set only by kvs_user_create() (shown once). Free with kvs_free(). */
struct kvs_user_info {
    const char *id;
    const char *username;
    int is_admin;
    const char *default_general_access;
    const char *created_at;
    const char *token;
    const char *json;
};

struct kvs_user_page {
    uint64_t total, count;
    struct kvs_user_info *items;
};

/* Create user USERNAME (admin only); DEFAULT_ACCESS NULL: the server's default. */
KVS_API int kvs_user_create(kvs_client *c, const char *username, int is_admin,
                            const char *default_access, struct kvs_user_info **out);

/* Every user (admin only), at most 1000. */
KVS_API int kvs_user_list(kvs_client *c, struct kvs_user_page **out);

/* User USER: an ID, a username or "me". */
KVS_API int kvs_user_get(kvs_client *c, const char *user, struct kvs_user_info **out);

/* Delete user USER (admin only) and everything that is theirs: their tokens, the shares they
 * were given, their stores with every record. The only admin is refused (KVS_EINVAL). */
KVS_API int kvs_user_delete(kvs_client *c, const char *user);

/* What the stores USER owns hold (the admin, or the user). */
struct kvs_user_usage {
    int64_t stores, named_stores, records, storage_bytes;
};
KVS_API int kvs_user_usage(kvs_client *c, const char *user, struct kvs_user_usage *out);

/* A token of a user, listed by its prefix. TOKEN, USER_ID and USERNAME are set by
 * kvs_token_create() (the token shown once). EXPIRES_AT is NULL for a token that never
 * expires; JSON is the whole object the server sent (its "scope" too, null for none). */
struct kvs_token_entry {
    const char *prefix;
    const char *created_at;
    const char *token;
    const char *user_id;
    const char *username;
    const char *expires_at;
    const char *json;
};

struct kvs_token_page {
    uint64_t count;
    struct kvs_token_entry *items;
};

/* A new token for USER (admin only). Free *OUT with kvs_free(). */
KVS_API int kvs_token_create(kvs_client *c, const char *user, struct kvs_token_entry **out);

/* A new token for USER limited by LIMITS, the JSON text of an object {"scope"?, "expiresAt"? |
 * "expiresInSecs"?} as POST /v2/users/{user}/tokens takes it (NULL: no limits, as
 * kvs_token_create). KVS_EINVAL when LIMITS is not a JSON object. */
KVS_API int kvs_token_create_limited(kvs_client *c, const char *user, const char *limits,
                                     struct kvs_token_entry **out);

/* The tokens of USER, by prefix (the admin, or the user). */
KVS_API int kvs_token_list(kvs_client *c, const char *user, struct kvs_token_page **out);

/* Revoke the token PREFIX (a listed prefix, or the whole token). */
KVS_API int kvs_token_revoke(kvs_client *c, const char *prefix);

/* Share STORE with USERNAME for ACCESS ("READ" or "WRITE"), or take the share back. */
KVS_API int kvs_share_set(kvs_client *c, const char *store, const char *username,
                          const char *access);
KVS_API int kvs_share_delete(kvs_client *c, const char *store, const char *username);

#ifdef __cplusplus
}
#endif
#endif /* KVS_CLIENT_H */
