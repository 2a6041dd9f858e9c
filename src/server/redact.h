/* redact.h — what a log may say of a request: never a token or a signature, whole.
 *
 * Secrets reach a server in three places: the Authorization header (never logged), the query
 * string (?token=, ?signature=: never logged, anywhere) and the path, where DELETE
 * /v2/tokens/{prefix} takes a whole token as well as its listed prefix. So every path that is
 * logged, by the access log or in a message of libmicrohttpd's, goes through here first:
 *   - a segment after a "tokens" segment is cut to what kvs_token_prefix() keeps of it (at
 *     most its first 12 characters, and never more than half of it), then "...";
 *   - so is any segment of more than 12 characters that starts with "kvs_" (a generated token
 *     pasted into another path), and any segment that holds, percent-decoded, the token the
 *     request itself presents (a token of any shape pasted into its own path);
 *   - anything from a '?' on is left out.
 * The cut prefix names a token the way `kvs token list` does, and opens nothing. */
#ifndef KVS_SERVER_REDACT_H
#define KVS_SERVER_REDACT_H

#include <stddef.h>

#include "common/slice.h"

/* PATH (a request target as received, still percent-encoded) as a log may show it, into OUT
 * (room for CAP bytes, NUL-terminated, cut to fit). TOKEN is the request's own token (empty
 * when none). Returns the length written. */
size_t kvs_redact_path(kvs_slice path, kvs_slice token, char *out, size_t cap);

/* The same in place for every path in LINE, a message in free text (libmicrohttpd's, which
 * quote the request's URL): each run of characters other than whitespace and quotes that
 * holds a '/' or starts with "kvs_". Never makes LINE longer. */
void kvs_redact_line(char *line);

#endif
