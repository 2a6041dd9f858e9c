/* strict.h — the request line and header block held to RFC 9112 where libmicrohttpd 0.9.75 is
 * lenient, so that no proxy in front of kvs and kvs itself can disagree on where a request
 * ends or what it says (request smuggling). What libmicrohttpd 0.9.75 lets through, and how
 * each would split a request differently from a proxy:
 *
 *   - whitespace between a field name and its colon: "Content-Length : 5" becomes a field
 *     named "Content-Length " that MHD does not read as the length, so the body is parsed as
 *     the next request (RFC 9112 §5.1: 400);
 *   - obs-fold (a line starting with SP or HTAB continues the previous field): MHD appends
 *     the continuation to the field's *name* and keeps a stale value, so a folded
 *     "Transfer-Encoding" is not seen as one (§5.2: 400 unless replaced by SP);
 *   - a NUL in a field value or in the request target: MHD cuts the string there, a proxy may
 *     not (§2.2: NUL is never part of a message);
 *   - bare LF line ends (accepted by MHD, §2.2 lets a recipient refuse them), bare CR (kept in
 *     the value), other control characters in values (§5.5);
 *   - an HTTP/1.1 request without Host, or any request with more than one (§3.2: 400);
 *   - more than one space around the request target, a target with spaces or controls, a
 *     method that is not a token.
 * None of these is an option of MHD 0.9.75 (MHD_OPTION_STRICT_FOR_CLIENT checks some at 1 and
 * others only at -1, and answers with an HTML page), so kvs checks them itself when the headers
 * are in, before any body byte is read, and answers 400 and closes the connection.
 *
 * How: MHD parses the head in place in its read buffer and leaves it there while the request
 * lives (it replaces each CR and LF of a line end, the colon after a field name and the spaces
 * of the request line with NUL). Given that block (from the method's first byte, as long as
 * MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE says) and the fields in the order MHD kept them,
 * the checker walks the block and requires every field to sit exactly where the line after
 * the previous one begins, "name" NUL OWS "value" NUL NUL: so the fields MHD reports are all
 * the block holds, with nothing hidden between them, and each was one whole line. A folded
 * field (its name moved elsewhere by MHD) or a value with a NUL (a line that goes on after
 * it) does not sit there. tests/api/framing.test.mjs sends each case over a socket;
 * tests/fuzz/fuzz_strict.c checks that what passes reads back as exactly the bytes sent.
 *
 * What cannot be told from MHD's buffer: a NUL sent right next to a line end ("\0\r\n",
 * "\n\0", a bare LF with one) leaves NULs where a CRLF would have left them, and MHD reads the
 * head exactly as it would with no NUL and CRLF there; so kvs and MHD agree on it, and only a
 * proxy in front that passes NULs on (RFC 9112 forbids it) could read it otherwise. */
#ifndef KVS_SERVER_STRICT_H
#define KVS_SERVER_STRICT_H

#include <stddef.h>

#include "common/slice.h"

/* The checker's state for one request head. Set up with kvs_strict_begin(), give it every
 * header field with kvs_strict_field(), then ask kvs_strict_end(). No allocation. */
struct kvs_strict {
    const char *block, *end; /* the head as MHD left it */
    const char *next;        /* where the next field's line must begin */
    const char *why;         /* the first fault found, or NULL */
    int http11;              /* HTTP/1.1 (Host required) */
    unsigned host, content_length, transfer_encoding, chunked;
};

/* Begin checking a head: BLOCK[0..BLOCK_N) as MHD left it (BLOCK is the method MHD passed),
 * URL and VERSION the pointers MHD passed, TARGET the request target as the URI callback saw
 * it, before MHD split off the query (a copy of the C string: it stops at a NUL). */
void kvs_strict_begin(struct kvs_strict *s, const char *block, size_t block_n, const char *url,
                      const char *version, kvs_slice target);

/* The next header field, in MHD's order: NAME and VALUE as MHD gives them. */
void kvs_strict_field(struct kvs_strict *s, const char *name, const char *value);

/* NULL when the head is well-formed, else what is wrong with it (for the 400's message). The
 * framing rules are checked here too: one Content-Length at most, not with Transfer-Encoding,
 * which may only be one "chunked". */
const char *kvs_strict_end(struct kvs_strict *s);

/* Whether NAME is a field name: a token of RFC 9110 §5.6.2, at least one tchar. */
int kvs_strict_token(kvs_slice name);

#endif
