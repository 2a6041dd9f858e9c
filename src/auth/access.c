/* access.c — the access rules (see access.h). */
#include "auth/access.h"

#include <string.h>

#include "kvs.h"

static const char *const names[] = {
    [KVS_GA_FOLLOW_USER_SETTING] = "FOLLOW_USER_SETTING",
    [KVS_GA_RESTRICTED] = "RESTRICTED",
    [KVS_GA_ANYONE_WITH_ID_CAN_READ] = "ANYONE_WITH_ID_CAN_READ",
    [KVS_GA_ANYONE_WITH_NAME_CAN_READ] = "ANYONE_WITH_NAME_CAN_READ",
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

int kvs_access_is_owner(const struct kvs_user *caller, const struct kvs_store *s)
{
    return caller && (caller->is_admin || strcmp(caller->id, s->user_id) == 0);
}

int kvs_access_check(const struct kvs_user *caller, const struct kvs_store *s,
                     enum kvs_general_access owner_default, int by_name, enum kvs_need need)
{
    if (kvs_access_is_owner(caller, s))
        return 0;
    if (need == KVS_ACCESS_READ) {
        enum kvs_general_access ga = s->general_access;
        if (ga == KVS_GA_FOLLOW_USER_SETTING)
            ga = owner_default;
        if (ga == KVS_GA_ANYONE_WITH_NAME_CAN_READ ||
            (ga == KVS_GA_ANYONE_WITH_ID_CAN_READ && !by_name))
            return 0;
    }
    if (caller == NULL)
        return KVS_ENOTOKEN;
    return by_name ? KVS_ENOTFOUND : KVS_EACCESS;
}
