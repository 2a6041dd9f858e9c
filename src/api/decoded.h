/* decoded.h — a stored coded value sent decoded, while it goes out.
 *
 * A client whose Accept-Encoding refuses a record's stored coding gets the bytes decoded. They
 * are decoded step by step straight into libmicrohttpd's send buffer (KVS_DECODED_BLOCK
 * bytes), each time the connection can take more, so a request holds the decoder's bounded
 * state and one block, never the decoded value; the decoder's memory and the block are taken
 * from the server's decoding budget (server/budget.h, --decode-memory) before the answer
 * starts, and a request that finds it spent gets 503 with Retry-After.
 *
 * Length: the decoded length is not known without decoding, so the answer has none: it is
 * sent chunked (HTTP/1.1; HTTP/1.0 ends it by closing). A HEAD or a 304 for the decoded
 * variant then decodes nothing and takes nothing: it carries the same framing headers as the
 * 200 would (Transfer-Encoding: chunked, RFC 9112 §6.1 allows it on both) and no length.
 * A value that turns out damaged midway is cut off: the client sees the chunked body end
 * without its last chunk, never a short body that looks whole. */
#ifndef KVS_API_DECODED_H
#define KVS_API_DECODED_H

#include <microhttpd.h>

#include "common/decoder.h"
#include "common/encoding.h"
#include "common/slice.h"
#include "server/http.h"
#include "storage/storage.h"

/* libmicrohttpd's send buffer for a decoded answer: the decoded bytes in flight per request. */
#define KVS_DECODED_BLOCK (32 * 1024)

/* The least decoding budget (--decode-memory): the largest single decoder (a Brotli stream
 * of the largest window) with its block must fit, or such a record could never be sent
 * decoded. */
#define KVS_DECODE_MEMORY_MIN ((size_t)24 * 1024 * 1024)

/* The input buffer of a decoded answer whose value is read from a file. */
#define KVS_DECODED_INBUF (64 * 1024)

/* An answer that sends the value *VAL (coded ENC; taken: *VAL is set to NULL, and the answer
 * closes it once done, also on failure) decoded. LABEL names the value in log lines
 * ("store/key"; copied). The answer's memory (the decoder's bound, its send buffer, and its
 * input: the value itself when it is in memory, else KVS_DECODED_INBUF) is taken from SRV's
 * decoding budget first. Returns 0 and the response in *OUT; KVS_EUNAVAIL when the budget is
 * spent; KVS_EIO; KVS_ENOMEM. */
__attribute__((warn_unused_result)) int kvs_decoded_response(struct kvs_server *srv,
                                                             enum kvs_encoding enc,
                                                             struct kvs_value **val,
                                                             const char *label,
                                                             struct MHD_Response **out);

/* The first bytes of value V (up to KVS_DECODER_HEAD), which name a decoder's memory
 * (kvs_decoder_mem_max), into HEAD; returns their slice, empty when they cannot be read. */
kvs_slice kvs_decoded_head(struct kvs_value *v, char head[KVS_DECODER_HEAD]);

/* The answer of a HEAD or 304 for a decoded variant: no body, no length, chunked framing as
 * its 200 would have. NULL when libmicrohttpd cannot make one. */
struct MHD_Response *kvs_decoded_headers_only(void);

#endif
