/* mime.h — file extensions ↔ content types, for the local-storage layouts.
 *
 * The Apify SDK and Crawlee, running without the platform, keep a record's content type only
 * in its file name's extension (`INPUT.json`, `shot.png`), chosen and read back with the npm
 * package `mime-types` (2.1.35). This table gives the same answers for the extensions those
 * layouts use, so a record written by the SDK comes back with the content type the SDK gave it
 * (`application/json; charset=utf-8`, not `application/json`). It is deliberately small: an
 * extension not listed is unknown, and the caller falls back to KVS_MIME_DEFAULT. */
#ifndef KVS_COMMON_MIME_H
#define KVS_COMMON_MIME_H

#include "common/slice.h"

/* What a record of unknown type is (and what mime-types' `bin` means). */
#define KVS_MIME_DEFAULT "application/octet-stream"

/* The content type of extension EXT (without the dot; case is ignored), as mime-types'
 * contentType() gives it, charset included for text types. NULL when EXT is not in the table.
 * Static storage. */
const char *kvs_mime_type_of_ext(kvs_slice ext);

/* The extension (without the dot) of content type TYPE, as mime-types' extension() gives it:
 * parameters (`; charset=...`), surrounding blanks and case are ignored, and of several
 * extensions the first listed wins (`image/jpeg` → `jpeg`). NULL when TYPE is not in the
 * table. Static storage. */
const char *kvs_mime_ext_of_type(kvs_slice type);

#endif
