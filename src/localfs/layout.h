/* layout.h — the Apify/Crawlee local storage layouts, read as pure functions over bytes.
 *
 * An Apify SDK, Crawlee or crawlee-python program run without the platform keeps its
 * key-value stores in files (shared/api-contract.md §7, shared/peers.md §1):
 *
 *   storage/key_value_stores/<STORE>/           one directory per store, named by its name
 *       __metadata__.json                       store: {id, name, createdAt|created_at, ...}
 *       <KEY>.<ext>                             JS SDK 3.x: the value; the content type only
 *                                               in the extension (mime-types)
 *       <KEY>.__metadata__.json                 JS `writeMetadata`: {key, contentType,
 *                                               extension}, written as a JSON string literal
 *                                               holding that object (stringified twice)
 *       <pct-encoded KEY>                       crawlee v4 / crawlee-python: the value
 *       <pct-encoded KEY>.__metadata__.json     {key, contentType|content_type, size}
 *
 * So a record is either a value file with a sidecar (the sidecar wins: its `key` and content
 * type are authoritative) or a value file alone (key = file name minus its last extension,
 * content type from that extension, as Crawlee 3 reads a directory back).
 *
 * Everything here is a pure function of its arguments, so each parser can be fuzzed
 * (tests/fuzz/fuzz_import.c); the file system is import.c's business. Whatever a parser
 * accepts is safe to hand to the server: keys pass the server's own key rule
 * (common/validate.h), store names its store-name rule, and content types are short printable
 * ASCII (no CR/LF to smuggle into a header). */
#ifndef KVS_LOCALFS_LAYOUT_H
#define KVS_LOCALFS_LAYOUT_H

#include <stdint.h>

#include "common/slice.h"
#include "common/validate.h"

#define KVS_LOCALFS_STORES_DIR "key_value_stores"       /* under a storage root */
#define KVS_LOCALFS_STORE_META_FILE "__metadata__.json" /* the store's metadata file */
#define KVS_LOCALFS_SIDECAR_SUFFIX ".__metadata__.json" /* a record's metadata file */

/* The largest metadata file read: real ones are under 300 bytes; a bigger one is not ours. */
#define KVS_LOCALFS_META_MAX (64u * 1024)
/* The largest value file imported: the server's default --max-record-size. A server run with
 * a smaller limit refuses bigger records itself (413), which the importer reports. */
#define KVS_LOCALFS_VALUE_MAX (10u * 1024 * 1024)
/* A content type's longest: the server's KVS_CONTENT_TYPE_MAX (storage/storage.h). */
#define KVS_LOCALFS_CONTENT_TYPE_MAX 255
/* A sidecar's `extension`: mime-types' extensions are short words. */
#define KVS_LOCALFS_EXT_MAX 32
/* A store's `id` as kept for messages (UUIDs locally, 17 characters on the platform). */
#define KVS_LOCALFS_ID_MAX 64

/* What an entry of a store directory is, by its name alone. */
enum kvs_localfs_kind {
    KVS_LOCALFS_VALUE,      /* a value file (maybe described by a sidecar) */
    KVS_LOCALFS_SIDECAR,    /* <stem>.__metadata__.json: a record's metadata */
    KVS_LOCALFS_STORE_META, /* __metadata__.json: the store's metadata */
};

/* Classify the file name NAME. *STEM gets the part that names the record: NAME for a value
 * file, NAME without ".__metadata__.json" for a sidecar (never empty: a bare
 * ".__metadata__.json" is a value file), empty for the store metadata. *STEM points into
 * NAME. */
enum kvs_localfs_kind kvs_localfs_classify(kvs_slice name, kvs_slice *stem);

/* Split the value file name NAME as Node's path.extname() does, which is how Crawlee 3 reads
 * a key back: *EXT is what follows the last '.' and *STEM what precedes it; a name whose last
 * '.' is its first character ('.env') and the name '..' have no extension (*EXT empty and
 * NULL-pointed, *STEM = NAME), while '....bin' has ('...' and 'bin'). Both point into NAME. */
void kvs_localfs_split_ext(kvs_slice name, kvs_slice *stem, kvs_slice *ext);

/* The record key a file-name stem stands for, into OUT (NUL-terminated): the stem
 * percent-decoded (crawlee v4 and crawlee-python write `quote(key, safe='')`; a JS 3.x stem
 * has no '%' and decodes to itself), then checked with the server's key rule.
 * Returns 0; KVS_EBADKEY when the stem holds a malformed escape or the key is not valid
 * (OUT is then "" ). */
int kvs_localfs_key_of_stem(kvs_slice stem, char out[KVS_KEY_MAX + 1]);

/* The record a value file without a sidecar stands for (the JS 3.x layout): the key of the
 * stem left by kvs_localfs_split_ext(), into KEY, and in *CONTENT_TYPE the type of the
 * extension, KVS_MIME_DEFAULT when unknown or absent (static storage).
 * Returns 0 or KVS_EBADKEY (as kvs_localfs_key_of_stem). */
int kvs_localfs_value_record(kvs_slice name, char key[KVS_KEY_MAX + 1], const char **content_type);

/* A record's sidecar (<stem>.__metadata__.json). */
struct kvs_localfs_record_meta {
    char key[KVS_KEY_MAX + 1];                           /* `key`: valid by the key rule */
    char content_type[KVS_LOCALFS_CONTENT_TYPE_MAX + 1]; /* `contentType` or `content_type`;
                                                            "" when absent */
    char extension[KVS_LOCALFS_EXT_MAX + 1]; /* `extension` (JS): [A-Za-z0-9_+-]; "" if absent */
    int64_t size;                            /* `size` (v4, Python); -1 when absent */
};

/* Parse the sidecar bytes TEXT into *OUT. The JSON is an object, or a JSON string whose text
 * is that object (JS 3.x writes it stringified twice). Fields other than those above are
 * ignored; a field above of the wrong type is refused; when both spellings of the content
 * type are given they must agree.
 * Returns 0, or with *WHY set to a short reason (static storage) for the message:
 *   KVS_ETOOBIG   TEXT is longer than KVS_LOCALFS_META_MAX
 *   KVS_EBADJSON  not JSON, duplicate names, or not an object (nor a string holding one)
 *   KVS_EBADKEY   `key` is not a valid record key
 *   KVS_EINVAL    `key` missing or not a string; a content type that is empty, too long or
 *                 not printable ASCII; a bad `extension`; `size` not an integer >= 0
 * *OUT is only meaningful on success. */
int kvs_localfs_parse_record_meta(kvs_slice text, struct kvs_localfs_record_meta *out,
                                  const char **why);

/* A store's __metadata__.json. */
struct kvs_localfs_store_meta {
    char id[KVS_LOCALFS_ID_MAX + 1]; /* `id`, printable ASCII; "" when absent or null */
    char name[KVS_NAME_MAX + 1];     /* `name`, valid store name; "" when absent or null */
};

/* Parse the store metadata bytes TEXT into *OUT (camelCase or snake_case: only `id` and
 * `name` are read, and those are spelled alike). `name` null means an unnamed store.
 * Returns 0, or with *WHY set: KVS_ETOOBIG, KVS_EBADJSON (as above), KVS_EBADNAME (`name`
 * is not a valid store name), KVS_EINVAL (`id` or `name` of the wrong type, `id` too long or
 * not printable). */
int kvs_localfs_parse_store_meta(kvs_slice text, struct kvs_localfs_store_meta *out,
                                 const char **why);

/* ---- writing (kvs export) ----------------------------------------------------------------- */

/* The layouts kvs export writes, each read back by the importer above. */
enum kvs_localfs_layout {
    KVS_LAYOUT_JS,      /* "js": <KEY>.<ext> as the JS SDK 3.x writes it, plus a JS sidecar
                           only where the extension does not carry the content type */
    KVS_LAYOUT_SIDECAR, /* "sidecar": <KEY>.<ext> and a JS sidecar for every record (the JS
                           SDK with writeMetadata) */
    KVS_LAYOUT_PYTHON,  /* "python": <quote(KEY)> and a {key, content_type, size} sidecar for
                           every record (crawlee-python, crawlee v4) */
};

/* The layout named NAME ("js", "sidecar", "python") into *OUT. Returns 0 or KVS_EINVAL. */
int kvs_localfs_layout_parse(const char *name, enum kvs_localfs_layout *out);

/* A file name's longest (NAME_MAX of Linux file systems). */
#define KVS_LOCALFS_NAME_MAX 255

/* The files of one record. */
struct kvs_localfs_names {
    char value[KVS_LOCALFS_NAME_MAX + 1];    /* the value file */
    char sidecar[KVS_LOCALFS_NAME_MAX + 1];  /* its sidecar, "" when none is written */
    char extension[KVS_LOCALFS_EXT_MAX + 1]; /* the value file's extension, "" for none */
};

/* The file names of record KEY (valid by the key rule) of type CONTENT_TYPE in LAYOUT, chosen
 * so that the importer reads back exactly KEY and CONTENT_TYPE:
 *   - js/sidecar: "<KEY>.<ext>", ext as mime-types' extension() ("bin" when unknown); a
 *     sidecar "<KEY>.__metadata__.json" when the extension's type differs from CONTENT_TYPE
 *     ("text/plain" has none of its own) or the layout wants one. A key holding
 *     "__metadata__" gets its '_' written %5F, so that no value file looks like metadata
 *     (the importer decodes file names; Crawlee treats any name holding ".__metadata__." as
 *     metadata).
 *   - python: "<quote(KEY, safe='')>" and its sidecar; a final ".json" that would make the
 *     value file look like a sidecar or the store's metadata is written "%2Ejson".
 * Every name is a single path component without '/' or NUL, never "." or "..".
 * Returns 0, or KVS_ETOOBIG when a name would be longer than KVS_LOCALFS_NAME_MAX (a key of
 * over ~230 characters), KVS_EBADKEY for an invalid key. */
int kvs_localfs_record_names(kvs_slice key, const char *content_type,
                             enum kvs_localfs_layout layout, struct kvs_localfs_names *out);

/* The text of the sidecar of record KEY in LAYOUT (NAMES from kvs_localfs_record_names(),
 * SIZE the value's bytes): a JSON object, {key, contentType, extension} for js/sidecar (what
 * Crawlee reads back) or {key, content_type, size} for python. Free with free(); NULL when
 * out of memory or when CONTENT_TYPE is not UTF-8. */
char *kvs_localfs_sidecar_json(kvs_slice key, const char *content_type,
                               enum kvs_localfs_layout layout,
                               const struct kvs_localfs_names *names, int64_t size);

/* The text of a store's __metadata__.json in LAYOUT: {id, name, createdAt, modifiedAt,
 * accessedAt} (snake_case for python); NAME NULL for an unnamed store, times may be NULL.
 * Free with free(); NULL when out of memory. */
char *kvs_localfs_store_meta_json(enum kvs_localfs_layout layout, const char *id, const char *name,
                                  const char *created_at, const char *modified_at,
                                  const char *accessed_at);

#endif
