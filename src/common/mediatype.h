/* mediatype.h — the one grammar a record's Content-Type must follow.
 *
 * A record's Content-Type is stored as the client sent it and sent back on every read, from
 * the API's origin, which is also the web console's. A browser given a value it parses
 * differently from us (a comma list such as `text/plain;,text/html`, of which it takes the
 * last type) may render a record as a page we took for inert. So an upload's type must be
 * exactly one media type of RFC 9110 §8.3.1, in printable ASCII:
 *
 *   media-type = token "/" token *( OWS ";" OWS [ token "=" ( token / quoted-string ) ] )
 *
 * with tokens of RFC 9110 §5.6.2 and quoted strings of §5.6.4 without obs-text. Nothing else:
 * no comma outside a quoted string, no control character but HTAB in OWS or a quoted string,
 * no byte above 0x7E, no blank before the first parameter's ";" other than OWS, nothing after
 * the last parameter. Length is the caller's rule (KVS_CONTENT_TYPE_MAX). */
#ifndef KVS_COMMON_MEDIATYPE_H
#define KVS_COMMON_MEDIATYPE_H

#include "common/slice.h"

/* 1 when S is one media type by the grammar above, else 0. Takes raw bytes (NUL included). */
int kvs_media_type_valid(kvs_slice s);

#endif
