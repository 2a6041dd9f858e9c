/* access.h — who may do what with a store (shared/api-contract.md §3 and §10).
 *
 * One function decides, so every endpoint applies the same rules:
 *   - the owner and the admin may do everything;
 *   - reading is open to anyone when the store's effective general access allows it:
 *     ANYONE_WITH_ID_CAN_READ when the store was addressed by its ID,
 *     ANYONE_WITH_NAME_CAN_READ however it was addressed;
 *     FOLLOW_USER_SETTING takes the owner's default;
 *   - reading never implies writing, deleting, renaming or changing settings.
 * Refusals are shaped so that outsiders learn nothing: no token where one is needed → 401;
 * a token without the right → 403 when the store was named by its unguessable ID, but 404
 * when it was named by name (names are not to be probed). */
#ifndef KVS_AUTH_ACCESS_H
#define KVS_AUTH_ACCESS_H

#include "storage/storage.h"

enum kvs_need { KVS_ACCESS_READ = 0, KVS_ACCESS_WRITE = 1 };

/* May CALLER (NULL when anonymous) do NEED with store S, whose owner's default general
 * access is OWNER_DEFAULT, addressed BY_NAME (1) or by ID (0)?
 * Returns 0, KVS_ENOTOKEN, KVS_EACCESS or KVS_ENOTFOUND. */
int kvs_access_check(const struct kvs_user *caller, const struct kvs_store *s,
                     enum kvs_general_access owner_default, int by_name, enum kvs_need need);

/* Whether CALLER (NULL when anonymous) owns S or is the admin, and so may write it. */
int kvs_access_is_owner(const struct kvs_user *caller, const struct kvs_store *s);

/* The generalAccess name of GA ("RESTRICTED"), and the reverse (0 or KVS_EINVAL). */
const char *kvs_access_name(enum kvs_general_access ga);
int kvs_access_parse(const char *name, enum kvs_general_access *out);

#endif
