/* json.h — writing JSON text straight into a buffer, for responses too hot for jansson.
 *
 * A page of 1,000 keys built as jansson objects spent most of its time allocating and
 * escaping; written directly it is a few appends per key. Everything else uses jansson. */
#ifndef KVS_COMMON_JSON_H
#define KVS_COMMON_JSON_H

#include "common/buf.h"
#include "common/slice.h"

/* Append S as a JSON string (quoted; '"', '\\' and control characters escaped). S must be
 * UTF-8; other bytes are copied as they are. Returns 0 or KVS_ETOOBIG. */
__attribute__((warn_unused_result)) int kvs_json_str(struct kvs_buf *b, kvs_slice s);

/* As kvs_json_str() without the quotes: for text inside a string built in pieces. */
__attribute__((warn_unused_result)) int kvs_json_str_inner(struct kvs_buf *b, kvs_slice s);

/* Append the decimal form of V. Returns 0 or KVS_ETOOBIG. */
__attribute__((warn_unused_result)) int kvs_json_uint(struct kvs_buf *b, unsigned long long v);

#endif
