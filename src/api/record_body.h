/* record_body.h — a record PUT's body as it arrives (kvs_api_record_body, api.h).
 *
 * A body no larger than the storage's inline size (kvs_storage_inline_max) is kept in memory,
 * in R->body, and stored in the record's row. A larger one goes to an upload (storage.h): from
 * the headers on when Content-Length announces it (the room is set aside at once, so that a
 * disk too full answers 507 before any byte), or from the byte that passes the inline size of a
 * chunked body. Its pieces are written as they come and never held whole.
 *
 * A body sent with a Content-Encoding must decode, and to no more than KVS_API_DECODED_FACTOR
 * times the record limit (a bomb is refused). A body in memory is decoded once at the end; one
 * going to an upload is decoded as it arrives, into nothing, by a decoder whose memory comes
 * from the decoding budget (server/budget.h): a bomb is found while it arrives, and the body
 * ends as a 413 once drained. */
#ifndef KVS_API_RECORD_BODY_H
#define KVS_API_RECORD_BODY_H

#include "server/http.h"

/* At the headers of a record PUT (from kvs_api_record_prepare, once the write may go ahead):
 * set R->stream up, and begin an upload when R's Content-Length is above the inline size.
 * Returns 0, or KVS_ENOSPACE / KVS_EIO with a message in R->error_msg. */
int kvs_record_body_begin(struct kvs_req *r);

/* At dispatch, the body complete: finish its check (a coded body must end where its coding
 * does, and decode within the bound) and say where it is: *UPLOAD gets the upload holding it,
 * now the caller's, or NULL when the body is in R->body. Returns 0, or KVS_EBADBODY,
 * KVS_ETOOBIG or KVS_EUNAVAIL (the decoding budget is spent) with a message in
 * R->error_msg. */
int kvs_record_body_done(struct kvs_req *r, struct kvs_upload **upload);

#endif
