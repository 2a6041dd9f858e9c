/* access.h — who may do what with a store (shared/api-contract.md §3 and §10).
 *
 * One function decides, so every endpoint applies the same rules. What a caller may do:
 *
 *   caller                          read   write records   manage (settings, rename,
 *                                                           delete, sharing)
 *   owner, admin                    yes    yes             yes
 *   user with a WRITE share         yes    yes             no
 *   user with a READ share          yes    no              no
 *   anyone, when general access     yes    no              no
 *     allows reading (below)
 *
 *   - General access lets anyone read, with or without a token: ANYONE_WITH_ID_CAN_READ when
 *     the store was addressed by its ID, ANYONE_WITH_NAME_CAN_READ however it was addressed;
 *     FOLLOW_USER_SETTING takes the owner's default; RESTRICTED lets nobody in this way.
 *   - Reading never implies writing, deleting, renaming or changing settings; a WRITE share
 *     lets a collaborator change records, never the store itself or who else may use it
 *     (those stay with the owner, who answers for the store).
 *   - A valid ?signature= grants reading on top of this (see api/common.c).
 *   - A token may have a scope (auth/scope.h) that narrows what its user may do with it: the
 *     *_scoped functions below apply it, and every route's check goes through them (api/
 *     common.c), so a route made later gets it without a line of its own.
 *
 * Refusals are shaped so that outsiders learn nothing:
 *   - no token where one is needed → KVS_ENOTOKEN (401);
 *   - a token without the right → KVS_EACCESS (403) when the caller may read the store (it
 *     knows the store exists) or named it by its unguessable ID; KVS_ENOTFOUND (404, as for
 *     a store that does not exist) when it named the store by name and may not even read it
 *     (names are not to be probed). */
#ifndef KVS_AUTH_ACCESS_H
#define KVS_AUTH_ACCESS_H

#include "storage/storage.h"

enum kvs_need {
    KVS_ACCESS_READ = 0,   /* the store object, keys, records, the ZIP */
    KVS_ACCESS_WRITE = 1,  /* put and delete records */
    KVS_ACCESS_MANAGE = 2, /* change settings, rename, delete the store; see and change shares */
};

/* May CALLER (NULL when anonymous), holding SHARE of store S (KVS_SHARE_NONE when none), do
 * NEED with S, whose owner's default general access is OWNER_DEFAULT, addressed BY_NAME (1)
 * or by ID (0)? Returns 0, KVS_ENOTOKEN, KVS_EACCESS or KVS_ENOTFOUND. */
int kvs_access_check(const struct kvs_user *caller, const struct kvs_store *s,
                     enum kvs_share_level share, enum kvs_general_access owner_default, int by_name,
                     enum kvs_need need);

struct kvs_scope;

/* As kvs_access_check(), for a caller whose token has scope SCOPE (auth/scope.h; NULL or
 * unlimited: as kvs_access_check). The caller's rights over S are narrowed to what the scope
 * gives on S; beyond it, the caller may do what anyone may (general access). A refusal is
 * shaped as kvs_access_check's, by what the caller may read through the scope. */
int kvs_access_check_scoped(const struct kvs_user *caller, const struct kvs_scope *scope,
                            const struct kvs_store *s, enum kvs_share_level share,
                            enum kvs_general_access owner_default, int by_name,
                            enum kvs_need need);

/* Whether CALLER (NULL when anonymous) owns S or is the admin, and so may do anything. */
int kvs_access_is_owner(const struct kvs_user *caller, const struct kvs_store *s);

/* Whether CALLER holding SHARE of S may write S's records (and so see its URL-signing secret). */
int kvs_access_can_write(const struct kvs_user *caller, const struct kvs_store *s,
                         enum kvs_share_level share);

/* As kvs_access_can_write(), through a token of scope SCOPE (NULL: none). */
int kvs_access_can_write_scoped(const struct kvs_user *caller, const struct kvs_scope *scope,
                                const struct kvs_store *s, enum kvs_share_level share);

/* The generalAccess name of GA ("RESTRICTED"), and the reverse (0 or KVS_EINVAL). */
const char *kvs_access_name(enum kvs_general_access ga);
int kvs_access_parse(const char *name, enum kvs_general_access *out);

/* The name of a share level ("READ", "WRITE"; "NONE"), and the reverse for READ and WRITE
 * (0 or KVS_EINVAL). */
const char *kvs_share_name(enum kvs_share_level level);
int kvs_share_parse(const char *name, enum kvs_share_level *out);

#endif
