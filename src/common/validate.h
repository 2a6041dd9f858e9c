/* validate.h — the rules for record keys, store names, usernames and IDs.
 *
 * One copy of each rule, shared by the server, the CLI and importers
 * (shared/api-contract.md §5). Every function takes raw bytes, which may hold NUL bytes or
 * anything else a client sent, and returns 1 when the bytes follow the rule, else 0. */
#ifndef KVS_COMMON_VALIDATE_H
#define KVS_COMMON_VALIDATE_H

#include <stddef.h>

#include "common/slice.h"

#define KVS_ID_LEN 17        /* store and user IDs: [a-zA-Z0-9]{17} */
#define KVS_KEY_MAX 256      /* record keys: 1..256 of [a-zA-Z0-9!-_.'()] */
#define KVS_NAME_MAX 63      /* store names and usernames: DNS-safe, 1..63 */
#define KVS_SECRET_LEN 32    /* urlSigningSecretKey: 32 alphanumerics (contract §10) */

/* A record key: 1..256 characters from a-z A-Z 0-9 ! - _ . ' ( ), except "." and ".."
 * (no URL can address them: URL parsers resolve them as dot segments). */
int kvs_valid_key(kvs_slice key);

/* A store name: 1..63 characters, letters, digits and hyphens, a hyphen neither first nor
 * last. Case is kept and compared exactly (contract §10). */
int kvs_valid_store_name(kvs_slice name);

/* A username: the store-name rule. */
int kvs_valid_username(kvs_slice name);

/* A store or user ID: exactly 17 characters from [a-zA-Z0-9]. */
int kvs_valid_id(kvs_slice id);

#endif
