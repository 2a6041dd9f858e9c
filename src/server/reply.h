/* reply.h — building responses: {"data": …} envelopes, errors, raw bodies.
 *
 * Every error leaves through kvs_reply_error(), which takes status, type and default message
 * from kvs.h's table, so an error's three faces never disagree. A reply function sets the
 * request's response; http.c queues it with the headers every response carries (CORS). A
 * request has one response: a second reply replaces the first.
 *
 * A response made once may be sent again and again (libmicrohttpd counts its references):
 * kvs_reply_keep() hands one over to a keeper, kvs_reply_kept() sends it for another
 * request. Adding a header to a response costs libmicrohttpd 0.9.75 three allocations and
 * about 900 instructions (it has no cheaper way), so for the hot answers that pays. */
#ifndef KVS_SERVER_REPLY_H
#define KVS_SERVER_REPLY_H

#include <jansson.h>
#include <microhttpd.h>
#include <stddef.h>

#include "server/http.h"

/* Reply STATUS with {"data": DATA}. Takes ownership of DATA (a jansson reference). */
void kvs_reply_data(struct kvs_req *r, unsigned status, json_t *data);

/* Reply STATUS with the JSON value BODY as is (no envelope). Takes ownership of BODY. */
void kvs_reply_json(struct kvs_req *r, unsigned status, json_t *body);

/* Reply with error CODE: its status and type, and MESSAGE (printf-style) or, when FMT is NULL,
 * the table's message. */
void kvs_reply_error(struct kvs_req *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Reply STATUS with no body. */
void kvs_reply_empty(struct kvs_req *r, unsigned status);

/* Reply STATUS with the bytes DATA[0..LEN) that stay valid until FREE_CB(CLS) is called by
 * the HTTP library once the response is gone (zero-copy from storage). CONTENT_TYPE is copied. */
void kvs_reply_bytes(struct kvs_req *r, unsigned status, const char *content_type, const void *data,
                     size_t len, MHD_ContentReaderFreeCallback free_cb, void *cls);

/* Reply STATUS with RESP, a response made by the caller (a streamed body). Takes ownership. */
void kvs_reply_response(struct kvs_req *r, unsigned status, struct MHD_Response *resp);

/* Add a header to the response set by the last reply; ignored when there is none. */
void kvs_reply_header(struct kvs_req *r, const char *name, const char *value);

/* Add the headers every response carries (CORS) to R's response. http.c does it for every
 * response it queues, but for a kept one, which has them already. */
void kvs_reply_common_headers(struct kvs_req *r);

/* Complete R's response with the headers every response carries, and keep it for other
 * requests too (api/prepared.h): returns it with R's reference, which is the caller's from
 * now on. R still sends it, and neither changes nor destroys it. NULL when R has no response
 * or a kept one. */
struct MHD_Response *kvs_reply_keep(struct kvs_req *r);

/* Reply STATUS with RESP, a complete response of LEN body bytes kept by kvs_reply_keep(): R
 * sends it (libmicrohttpd takes a reference of its own while it does), and it stays its
 * keeper's. */
void kvs_reply_kept(struct kvs_req *r, unsigned status, struct MHD_Response *resp, size_t len);

#endif
