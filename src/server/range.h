/* range.h — the Range header of a record GET (RFC 9110 §14).
 *
 * kvs answers one byte range with 206 and a Content-Range; a Range it does not take (another
 * unit, a malformed one, several ranges) is ignored, as RFC 9110 allows, and the whole record
 * goes out with 200. What is satisfiable: an int-range whose first byte is inside the
 * representation (its last byte is cut to the end), a suffix-range of a non-zero length (the
 * whole representation when it is shorter). Whether a Range applies at all (GET only, the
 * stored bytes only, If-Range) is the caller's decision. */
#ifndef KVS_SERVER_RANGE_H
#define KVS_SERVER_RANGE_H

#include <stdint.h>

#include "common/slice.h"

enum kvs_range_kind {
    KVS_RANGE_IGNORE = 0,    /* send the whole representation (200) */
    KVS_RANGE_PART = 1,      /* send bytes first..last (206) */
    KVS_RANGE_UNSATISFIABLE, /* 416, with a Content-Range of the length */
};

struct kvs_range {
    uint64_t first, last; /* inclusive; valid for KVS_RANGE_PART */
};

/* Decide what the Range header VALUE asks of a representation of LEN bytes. */
enum kvs_range_kind kvs_range_parse(kvs_slice value, uint64_t len, struct kvs_range *out);

#endif
