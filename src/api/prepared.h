/* prepared.h — answers to record GETs made once and sent again, kept by each worker thread.
 *
 * A GET of a small record spends more on making its response than on finding the record:
 * libmicrohttpd 0.9.75 allocates three blocks for each of its eight headers (Content-Type,
 * ETag, Last-Modified, Cache-Control, ...) and frees them after. The answer is the same for
 * every GET of the same record version (the version decides the bytes, the content type, the
 * validators) as long as its Cache-Control and CORS headers are: so the plain 200 of a small
 * record, complete with its headers and a copy of the bytes, is kept here and queued again
 * (server/reply.h, kvs_reply_keep) for the next GET or HEAD of that version with the same
 * variant. A request still finds the record and checks the caller's rights every time: only
 * the making of the answer is saved. A new version of the record is another answer; the old
 * one leaves when its slot is reused or the thread ends.
 *
 * Per thread: PREPARED_SLOTS answers of at most KVS_PREPARED_MAX body bytes each, so at most
 * about 512 KiB. No locks: a connection's callbacks all run on its worker. */
#ifndef KVS_API_PREPARED_H
#define KVS_API_PREPARED_H

#include <microhttpd.h>
#include <stddef.h>
#include <stdint.h>

#include "common/slice.h"

#define KVS_PREPARED_MAX (8 * 1024) /* largest body kept */

/* What decides an answer's every byte. */
struct kvs_prepared_key {
    const char *store_id;
    kvs_slice key;
    uint64_t version;
    unsigned variant; /* KVS_PREPARED_* */
};

#define KVS_PREPARED_PUBLIC 1u /* Cache-Control: public (api.h, kvs_api_read_is_public) */
#define KVS_PREPARED_ORIGIN 2u /* the request had an Origin (CORS exposed headers) */

/* The answer kept for K, with its body's length in *LEN, or NULL. It stays the cache's: send
 * it with kvs_reply_kept(). */
struct MHD_Response *kvs_prepared_get(const struct kvs_prepared_key *k, size_t *len);

/* Keep RESP (complete: kvs_reply_keep() gave it), of LEN <= KVS_PREPARED_MAX body bytes, as the
 * answer for K: the reference passes to the cache, which releases the answer its slot held. */
void kvs_prepared_put(const struct kvs_prepared_key *k, struct MHD_Response *resp, size_t len);

#endif
