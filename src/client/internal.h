/* internal.h — what the files of libkvs share (never included from outside src/client/).
 *
 * client.c holds the client, its HTTP exchange over libcurl (retries, timeouts, errors) and
 * the memory blocks handed to callers; stores.c, records.c, keys.c and admin.c build the
 * calls of the API on top of it. Names shared between these files start with kvs__. */
#ifndef KVS_CLIENT_INTERNAL_H
#define KVS_CLIENT_INTERNAL_H

#include <curl/curl.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "kvs/client.h"

struct kvs_client {
    CURL *curl;        /* one easy handle: its connection is kept alive between calls */
    char *base;        /* the server's URL, without a trailing '/' */
    char *auth_header; /* "Authorization: Bearer TOKEN", or NULL */
    long max_retries, retry_delay_ms, timeout_ms, connect_timeout_ms;
    kvs_progress_fn progress;
    void *progress_arg;
    kvs_retry_fn retry_notice;
    void *retry_arg;
    int status;       /* the last call's HTTP status, 0 when none */
    char errtype[64]; /* the last failure's Apify error type */
    char errmsg[512]; /* ... and its message */
};

/* ---- strings ------------------------------------------------------------------------------- */

/* A growing string; on out-of-memory it stops growing and remembers it (OOM), so a series of
 * appends is checked once at the end. */
struct kvs__str {
    char *p; /* NUL-terminated once anything was added; owned */
    size_t n, cap;
    int oom;
};

/* Append N bytes at P (P NULL: N bytes of room, their contents undefined). */
void kvs__str_add(struct kvs__str *s, const char *p, size_t n);
void kvs__str_puts(struct kvs__str *s, const char *p);
/* Append P percent-encoded for a URL path segment or query value: everything but A-Z a-z 0-9
 * - . _ ~ is encoded. */
void kvs__str_enc(struct kvs__str *s, const char *p);
void kvs__str_free(struct kvs__str *s);

/* Start S with the path of STORE: "/v2/key-value-stores/<store>", the store's first '/'
 * turned into '~' (the clients' "username/name"). TAIL (may be NULL) follows, then KEY
 * encoded (may be NULL). */
void kvs__store_path(struct kvs__str *s, const char *store, const char *tail, const char *key);

/* ---- a call -------------------------------------------------------------------------------- */

struct kvs__call {
    const char *method; /* "GET", "HEAD", "PUT", "POST", "DELETE" */
    const char *path;   /* "/v2/...", query included, already encoded */
    /* the request body: BODY (BODY_N bytes) or the descriptor IN_FD (-1: none) */
    const char *body;
    size_t body_n;
    int in_fd;
    int64_t in_size;          /* IN_FD's bytes to send; -1: unknown (sent chunked) */
    const char *content_type; /* of the body */
    /* where a 2xx body goes: the descriptor OUT_FD, or (-1) memory in RESP */
    int out_fd;
    int record; /* a record transfer: stall timeout, progress, any Accept */
    /* filled by kvs__perform() */
    int status;
    struct kvs__str resp;        /* the body when not to OUT_FD; an error's body always */
    struct kvs_record_meta meta; /* from the response's headers */
    uint64_t written;            /* bytes written to OUT_FD */
};

/* Prepare K for METHOD PATH without a body, the response in memory. */
void kvs__call_init(struct kvs__call *k, const char *method, const char *path);

/* Run K on C with retries (see kvs/client.h). Returns 0 when the server answered 2xx, else
 * the error, with C's errmsg/errtype/status set. Free K->resp afterwards either way. */
int kvs__perform(kvs_client *c, struct kvs__call *k);

/* Send METHOD PATH with the JSON BODY (may be NULL) and parse the answer's "data" into *DATA
 * (a new reference; may be NULL when the caller wants none; NULL for a 204). *STATUS (may be
 * NULL) gets the HTTP status. Returns 0 or an error (KVS_EPROTO when a 2xx is not the JSON
 * the API promises). */
int kvs__json_call(kvs_client *c, const char *method, const char *path, json_t *body, json_t **data,
                   int *status);

/* Set C's error to CODE with a message (printf-style; NULL: the table's), no error type.
 * Returns CODE. */
int kvs__fail(kvs_client *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Clear C's last error (at the start of each public call). */
void kvs__clear(kvs_client *c);

/* Return KVS_EINVAL from the calling function, C's error saying so, when argument ARG is NULL. */
#define KVS__NEED(c, arg)                                                                          \
    do {                                                                                           \
        if ((arg) == NULL) {                                                                       \
            kvs__clear(c);                                                                         \
            return kvs__fail(c, KVS_EINVAL, "%s: no %s given", __func__, #arg);                    \
        }                                                                                          \
    } while (0)

/* ---- memory handed to callers -------------------------------------------------------------- */

/* Every pointer returned by libkvs is the payload of a block that kvs_free() releases: the
 * block keeps a JSON document alive (the strings of the payload point into it) and a list of
 * extra allocations (JSON texts). */

/* A zeroed payload of SIZE bytes keeping DOC alive (a new reference is taken; may be NULL).
 * NULL on out-of-memory. */
void *kvs__block_new(size_t size, json_t *doc);

/* Make the block of PAYLOAD own PTR (malloc'd), freed with it. Returns 0, or KVS_ENOMEM
 * having freed PTR. */
int kvs__block_adopt(void *payload, void *ptr);

/* SIZE zeroed bytes owned by the block of PAYLOAD (freed with it). NULL on out-of-memory. */
void *kvs__block_extra(void *payload, size_t size);

/* A copy of the N bytes at P, NUL-terminated, owned by the block of PAYLOAD. NULL on OOM. */
char *kvs__block_strndup(void *payload, const char *p, size_t n);

/* Fields of a JSON object copied into a struct. */
enum kvs__ftype {
    KVS__F_STR,  /* const char *: the string (NULL when absent or not a string) */
    KVS__F_INT,  /* int64_t: the integer (0 when absent) */
    KVS__F_BOOL, /* int: 1 for true */
    KVS__F_JSON, /* const char *: the whole object as compact JSON text */
};
struct kvs__field {
    const char *name; /* the member; "a.b" is member b of object member a */
    enum kvs__ftype type;
    size_t offset; /* in the struct */
};
#define KVS__FIELD(st, member, name, type)                                                         \
    {                                                                                              \
        name, type, offsetof(st, member)                                                           \
    }

/* Fill the struct at DST from OBJ by FIELDS (ending with a NULL name); strings point into
 * OBJ, JSON texts are owned by the block of PAYLOAD. Returns 0 or KVS_ENOMEM. */
int kvs__decode(void *payload, json_t *obj, const struct kvs__field *fields, void *dst);

/* Decode the JSON array ITEMS into structs of ITEM_SIZE bytes owned by the block of PAYLOAD,
 * each by FIELDS (as kvs__decode). OUT is the address of the caller's array pointer, which
 * gets the array (NULL when empty); *COUNT its length. Returns 0 or KVS_ENOMEM. */
int kvs__decode_items(void *payload, json_t *items, size_t item_size,
                      const struct kvs__field *fields, void *out, uint64_t *count);

/* The fields of a store object (stores.c), also for the signed links of keys.c. */
extern const struct kvs__field kvs__store_fields[];

/* Decode the store object OBJ into a new struct kvs_store_info in *OUT (the block keeps DOC,
 * the document OBJ is part of, alive). Returns 0 or KVS_ENOMEM (C's error set). */
int kvs__store_info(kvs_client *c, json_t *doc, json_t *obj, struct kvs_store_info **out);

#endif
