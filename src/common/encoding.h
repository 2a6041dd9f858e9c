/* encoding.h — HTTP content codings: names, Accept-Encoding matching, and decoding.
 *
 * Records are stored exactly as uploaded, compressed or not (contract §1.4). A client whose
 * Accept-Encoding does not allow the stored coding gets the bytes decoded on the fly; uploads
 * are decoded once (into nothing) to prove they are well formed and not a bomb. Step-by-step
 * decoding in bounded memory is common/decoder.h; kvs_decode() runs it over a whole value. */
#ifndef KVS_COMMON_ENCODING_H
#define KVS_COMMON_ENCODING_H

#include <stddef.h>

#include "common/buf.h"
#include "common/slice.h"

enum kvs_encoding {
    KVS_ENC_IDENTITY = 0,
    KVS_ENC_GZIP = 1,
    KVS_ENC_DEFLATE = 2,
    KVS_ENC_BR = 3,
};

/* Parse a Content-Encoding header value. An absent or empty header, and "identity", give
 * KVS_ENC_IDENTITY. Matching ignores case and surrounding spaces. Returns 0 and sets *OUT, or
 * KVS_EENCODING for any other coding (a list of several codings included). */
__attribute__((warn_unused_result)) int kvs_encoding_parse(kvs_slice header,
                                                           enum kvs_encoding *out);

/* The token for ENC ("gzip"), or NULL for identity. Static storage. */
const char *kvs_encoding_name(enum kvs_encoding enc);

/* Whether an Accept-Encoding header value allows ENC (RFC 9110 §12.5.3: q-values, "*",
 * q=0 refusals; an absent header (HEADER.p == NULL) allows anything; identity is always
 * allowed). */
int kvs_encoding_accepted(kvs_slice header, enum kvs_encoding enc);

/* The output window of one decoding step in kvs_decode(), and its scratch in check-only
 * mode. */
#define KVS_DECODE_CHUNK (64 * 1024)

/* Decode IN, coded with ENC, appending the result to OUT. OUT's maximum is the cap on the
 * decoded size: past it the call fails with KVS_ETOOBIG (a decompression bomb stops there).
 * OUT may be NULL to only check that IN decodes, in which case MAX_OUT caps the decoded size
 * (ignored otherwise).
 * Returns 0; KVS_EBADBODY when IN is not valid ENC data (truncated, corrupt, or with trailing
 * garbage); KVS_ETOOBIG past the cap; KVS_ENOMEM if the decoder passed its memory bound
 * (common/decoder.h; no valid stream does). On failure OUT holds a partial result the caller
 * should discard. Identity simply copies. */
__attribute__((warn_unused_result)) int kvs_decode(enum kvs_encoding enc, kvs_slice in,
                                                   struct kvs_buf *out, size_t max_out);

/* The most memory kvs_decode(ENC, IN, NULL, ...) allocates besides its caller's: the decoder's
 * bound (common/decoder.h) and its scratch window. 0 for identity. */
size_t kvs_decode_check_mem(enum kvs_encoding enc, kvs_slice in);

#endif
