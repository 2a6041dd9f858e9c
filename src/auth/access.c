/* access.c — the access rules (see access.h). */
#include "auth/access.h"

#include <string.h>

#include "auth/scope.h"
#include "kvs.h"

static const char *const names[] = {
    [KVS_GA_FOLLOW_USER_SETTING] = "FOLLOW_USER_SETTING",
    [KVS_GA_RESTRICTED] = "RESTRICTED",
    [KVS_GA_ANYONE_WITH_ID_CAN_READ] = "ANYONE_WITH_ID_CAN_READ",
    [KVS_GA_ANYONE_WITH_NAME_CAN_READ] = "ANYONE_WITH_NAME_CAN_READ",
};

static const char *const share_names[] = {
    [KVS_SHARE_NONE] = "NONE",
    [KVS_SHARE_READ] = "READ",
    [KVS_SHARE_WRITE] = "WRITE",
};

const char *kvs_access_name(enum kvs_general_access ga)
{
    if ((unsigned)ga < sizeof names / sizeof names[0])
        return names[ga];
    return names[KVS_GA_RESTRICTED];
}

int kvs_access_parse(const char *name, enum kvs_general_access *out)
{
    for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i]) == 0) {
            *out = (enum kvs_general_access)i;
            return 0;
        }
    return KVS_EINVAL;
}

const char *kvs_share_name(enum kvs_share_level level)
{
    if ((unsigned)level < sizeof share_names / sizeof share_names[0])
        return share_names[level];
    return share_names[KVS_SHARE_NONE];
}

int kvs_share_parse(const char *name, enum kvs_share_level *out)
{
    if (strcmp(name, "READ") == 0)
        *out = KVS_SHARE_READ;
    else if (strcmp(name, "WRITE") == 0)
        *out = KVS_SHARE_WRITE;
    else
        return KVS_EINVAL;
    return 0;
}

int kvs_access_is_owner(const struct kvs_user *caller, const struct kvs_store *s)
{
    return caller && (caller->is_admin || strcmp(caller->id, s->user_id) == 0);
}

int kvs_access_can_write(const struct kvs_user *caller, const struct kvs_store *s,
                         enum kvs_share_level share)
{
    return kvs_access_is_owner(caller, s) || (caller && share == KVS_SHARE_WRITE);
}

/* Whether anyone may read S addressed BY_NAME, by its general access. */
static int open_to_all(const struct kvs_store *s, enum kvs_general_access owner_default,
                       int by_name)
{
    enum kvs_general_access ga = s->general_access;
    if (ga == KVS_GA_FOLLOW_USER_SETTING)
        ga = owner_default;
    return ga == KVS_GA_ANYONE_WITH_NAME_CAN_READ ||
           (ga == KVS_GA_ANYONE_WITH_ID_CAN_READ && !by_name);
}

int kvs_access_check(const struct kvs_user *caller, const struct kvs_store *s,
                     enum kvs_share_level share, enum kvs_general_access owner_default, int by_name,
                     enum kvs_need need)
{
    if (kvs_access_is_owner(caller, s))
        return 0;
    if (caller == NULL)
        share = KVS_SHARE_NONE; /* a share needs the token of the user it was given to */
    int can_read = share >= KVS_SHARE_READ || open_to_all(s, owner_default, by_name);
    switch (need) {
    case KVS_ACCESS_READ:
        if (can_read)
            return 0;
        break;
    case KVS_ACCESS_WRITE:
        if (share == KVS_SHARE_WRITE)
            return 0;
        break;
    case KVS_ACCESS_MANAGE:
        break;
    }
    if (caller == NULL)
        return KVS_ENOTOKEN;
    return by_name && !can_read ? KVS_ENOTFOUND : KVS_EACCESS;
}

int kvs_access_check_scoped(const struct kvs_user *caller, const struct kvs_scope *scope,
                            const struct kvs_store *s, enum kvs_share_level share,
                            enum kvs_general_access owner_default, int by_name,
                            enum kvs_need need)
{
    if (caller == NULL || scope == NULL || !scope->limited)
        return kvs_access_check(caller, s, share, owner_default, by_name, need);
    /* enum kvs_need and enum kvs_scope_level line up: READ 0 needs 1, WRITE 1 needs 2, ... */
    enum kvs_scope_level in_scope = kvs_scope_on(scope, s);
    if ((int)need + 1 <= (int)in_scope &&
        kvs_access_check(caller, s, share, owner_default, by_name, need) == 0)
        return 0;
    int open = open_to_all(s, owner_default, by_name);
    if (need == KVS_ACCESS_READ && open)
        return 0; /* what anyone may do, the token may too */
    int can_read = open || (in_scope >= KVS_SCOPE_READ &&
                            kvs_access_check(caller, s, share, owner_default, by_name,
                                             KVS_ACCESS_READ) == 0);
    return by_name && !can_read ? KVS_ENOTFOUND : KVS_EACCESS;
}

int kvs_access_can_write_scoped(const struct kvs_user *caller, const struct kvs_scope *scope,
                                const struct kvs_store *s, enum kvs_share_level share)
{
    return kvs_access_can_write(caller, s, share) &&
           (scope == NULL || kvs_scope_on(scope, s) >= KVS_SCOPE_WRITE);
}
