/* import.h — reading local stores (layout.h) off the disk, record by record, into a sink.
 *
 * SRC is one store directory (`storage/key_value_stores/NAME`) or a storage root (a directory
 * holding `key_value_stores/`, whose every subdirectory is a store). The importer reads SRC
 * and hands each record to a sink that stores it (cli/import.c has two: the HTTP API and a
 * data directory), so this module knows nothing of how records are stored.
 *
 * Safety, whatever SRC holds:
 *   - Nothing outside SRC is read: directory entries are opened relative to their directory
 *     (openat), and a symbolic link is never followed, SRC itself included; a link is reported
 *     and skipped, as is anything that is not a regular file or directory where one is due.
 *   - Every read is bounded: a metadata file by KVS_LOCALFS_META_MAX, a value by
 *     opts.value_max (checked before reading, and again while reading).
 *   - A record whose key, metadata or size is refused is reported and skipped; the others are
 *     imported. A sidecar that is refused takes its value file down with it, so a record is
 *     never imported under a key or content type its metadata did not give.
 * Records of a store are handed over in byte order of their keys; a key given twice (two
 * files naming it) is imported once, from the sidecar if one names it, and the other file is
 * reported. The store is created on its first record, so a directory with nothing importable
 * changes nothing. */
#ifndef KVS_LOCALFS_IMPORT_H
#define KVS_LOCALFS_IMPORT_H

#include <stddef.h>
#include <stdint.h>

#include "common/slice.h"

/* Why a file (or a store directory) was skipped. */
enum kvs_import_skip {
    KVS_SKIP_SYMLINK,    /* a symbolic link: never followed */
    KVS_SKIP_NOT_FILE,   /* not a regular file (a directory in a store, a FIFO, a device) */
    KVS_SKIP_TOO_BIG,    /* a value over the record limit, a metadata file over 64 KiB */
    KVS_SKIP_BAD_KEY,    /* the key (from the file name or the sidecar) breaks the key rule */
    KVS_SKIP_BAD_META,   /* a metadata file that is malformed, or the value file of one */
    KVS_SKIP_NO_VALUE,   /* a sidecar whose value file is missing */
    KVS_SKIP_DUPLICATE,  /* another file already gave the same key */
    KVS_SKIP_BAD_STORE,  /* a store directory without a valid store name */
    KVS_SKIP_UNREADABLE, /* an I/O error */
    KVS_SKIP_REFUSED,    /* the sink refused the store or the record */
    KVS_SKIP_COUNT_
};

/* A short name of WHY for the summary ("symlink"). Static storage. */
const char *kvs_import_skip_name(enum kvs_import_skip why);

/* One record to store. Everything points into the importer's memory and is valid only during
 * the sink's call. */
struct kvs_import_record {
    const char *store;        /* the store's name (valid by the store-name rule) */
    kvs_slice key;            /* valid by the key rule */
    kvs_slice value;          /* the file's bytes */
    const char *content_type; /* printable ASCII, 1..255 bytes */
    const char *path;         /* the value file, as SRC/.../NAME, for messages */
};

/* Where the records go. The importer calls STORE once before a store's first record and PUT
 * for each record of it; with opts.dry_run neither is called. */
struct kvs_import_sink {
    /* Get or create the store NAME and make it the one PUT writes to. Returns 0, or a
     * KVS_E... code, having reported why (the store's records are then skipped). */
    int (*store)(void *arg, const char *name);
    /* Store REC. Returns 0, or a KVS_E... code, having reported why (the record is then
     * counted as refused). */
    int (*put)(void *arg, const struct kvs_import_record *rec);
    /* A file PATH (SRC/.../NAME) was skipped for WHY; DETAIL says more (never NULL). */
    void (*skip)(void *arg, const char *path, enum kvs_import_skip why, const char *detail);
    void *arg;
};

struct kvs_import_opts {
    const char *store_name; /* import the single store directory SRC into this store; NULL:
                               the store's metadata `name`, else the directory's name */
    int dry_run;            /* read and check everything, store nothing */
    size_t value_max;       /* the largest value imported; 0 = KVS_LOCALFS_VALUE_MAX */
};

struct kvs_import_stats {
    uint64_t stores;  /* stores written to (or that would be, with dry_run) */
    uint64_t records; /* records stored */
    uint64_t bytes;   /* their values' bytes */
    uint64_t skipped; /* files (and store directories) skipped */
    uint64_t by_reason[KVS_SKIP_COUNT_];
};

/* Import SRC into SINK following OPTS, filling *STATS (zeroed first). Skipped files are
 * reported through SINK->skip and counted, and do not make this fail.
 * Returns 0 once SRC was read; or, with MSG (MSG_N bytes) saying why, KVS_EINVAL when SRC is a
 * symbolic link or not a directory, or when OPTS->store_name is given for a storage root, and
 * KVS_EIO when SRC cannot be opened or listed. */
int kvs_import_run(const char *src, const struct kvs_import_opts *opts,
                   const struct kvs_import_sink *sink, struct kvs_import_stats *stats, char *msg,
                   size_t msg_n);

#endif
