/* export.h — writing a store of a server into the local layout of the Apify SDK (kvs export).
 *
 * The store STORE goes to DIR/key_value_stores/<name>/ (its ID for an unnamed store), in one
 * of the layouts of layout.h, which `kvs import` reads back: every key, byte and content type.
 * The records are read through libkvs, one at a time, each streamed into a file (never whole
 * in memory).
 *
 * Safety, whatever the server answers:
 *   - Nothing is written outside DIR: the store's directory name must be a valid store name or
 *     ID, every key must pass the key rule before it names a file, every file is created
 *     relative to its directory (openat) without following symbolic links, and
 *     DIR/key_value_stores and the store's directory are refused when they are links.
 *   - The store's directory must be new or empty, so that the export is the store and nothing
 *     else (files left from an older export would be imported with it).
 *   - A value is first written to a temporary file, renamed to its name once complete.
 * A record deleted while the export runs, or whose key is too long for a file name, is
 * reported and skipped; any other failure stops the export. */
#ifndef KVS_LOCALFS_EXPORT_H
#define KVS_LOCALFS_EXPORT_H

#include <stddef.h>
#include <stdint.h>

#include "kvs/client.h"
#include "localfs/layout.h"

struct kvs_export_stats {
    uint64_t records, bytes, skipped;
    char dir[4096]; /* the store's directory, DIR/key_value_stores/<name> */
};

/* Called for each record skipped: its KEY and why (never NULL). */
typedef void (*kvs_export_skip_fn)(void *arg, const char *key, const char *why);

/* Export STORE of the server of C into DIR (created when missing) in LAYOUT, filling *STATS
 * (zeroed first). Returns 0 when every record was read (skips are reported through SKIP and
 * counted), else a KVS_E... code with MSG (MSG_N bytes) saying why: a failure of C (its
 * message and HTTP status), or KVS_EIO, KVS_EEXIST (the store's directory is not empty),
 * KVS_EACCESS (a link where a directory is due), KVS_EPROTO (a store name or ID that cannot
 * name a directory). */
int kvs_export_run(kvs_client *c, const char *store, const char *dir,
                   enum kvs_localfs_layout layout, kvs_export_skip_fn skip, void *arg,
                   struct kvs_export_stats *stats, char *msg, size_t msg_n);

#endif
