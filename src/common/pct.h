/* pct.h — percent-coding (RFC 3986) of URL parts and of file names.
 *
 * One decoder for everything that reads percent-encoded text from outside: the server's paths
 * and query strings (server/router.c, server/http.c) and the importer's file names
 * (localfs/layout.c), so that a key means the same bytes wherever it comes from. */
#ifndef KVS_COMMON_PCT_H
#define KVS_COMMON_PCT_H

#include <stddef.h>

#include "common/slice.h"

/* Percent-decode IN into OUT (room for OUT_MAX bytes; no NUL is added). With PLUS_SPACE,
 * '+' becomes a space (query strings). Returns the decoded length, or -1 when IN holds a
 * malformed escape ('%' not followed by two hex digits) or the result would not fit. */
long kvs_pct_decode(kvs_slice in, char *out, size_t out_max, int plus_space);

/* Percent-encode S into OUT, which has room for 3 * S.n bytes (no NUL is added): every byte
 * but the unreserved A-Z a-z 0-9 - . _ ~ and those in KEEP (a NUL-terminated set) becomes
 * %XX, upper-case. KEEP "" is Python's quote(s, safe=''). Returns the length written. */
size_t kvs_pct_escape(kvs_slice s, const char *keep, char *out);

struct kvs_buf;

/* Append the percent-encoded form of S to OUT (everything but unreserved characters
 * A-Z a-z 0-9 - . _ ~ and the key characters ! ' ( ) is encoded). Returns 0 or KVS_ETOOBIG. */
int kvs_pct_encode(struct kvs_buf *out, kvs_slice s);

#endif
