/* test_access.c — the access rules (src/auth/access.c), as one table: every kind of caller ×
 * every general access × addressed by ID or by name × read, write, manage. The API tests
 * (tests/api/access.test.mjs) check the same rules end to end through the official client. */
#include <string.h>

#include "auth/access.h"
#include "test.h"

#define OWNER_ID "OwnerOwnerOwner01"
#define OTHER_ID "OtherOtherOther01"
#define ADMIN_ID "AdminAdminAdmin01"

enum caller { OWNER, ADMIN, SHARED_WRITE, SHARED_READ, STRANGER, ANON, N_CALLERS };

static const char *const caller_names[] = {"owner",       "admin",    "shared-write",
                                           "shared-read", "stranger", "anonymous"};

/* What CALLER may do with a store whose effective general access is GA, addressed BY_NAME:
 * 0 or the expected refusal. */
static int expected(enum caller c, enum kvs_general_access ga, int by_name, enum kvs_need need)
{
    if (c == OWNER || c == ADMIN)
        return 0;
    int open = ga == KVS_GA_ANYONE_WITH_NAME_CAN_READ ||
               (ga == KVS_GA_ANYONE_WITH_ID_CAN_READ && !by_name);
    int can_read = c == SHARED_WRITE || c == SHARED_READ || open;
    if (need == KVS_ACCESS_READ && can_read)
        return 0;
    if (need == KVS_ACCESS_WRITE && c == SHARED_WRITE)
        return 0;
    if (c == ANON)
        return KVS_ENOTOKEN;
    return by_name && !can_read ? KVS_ENOTFOUND : KVS_EACCESS;
}

TEST(access_table)
{
    struct kvs_store s = {0};
    strcpy(s.id, "StoreStoreStore01");
    strcpy(s.user_id, OWNER_ID);
    struct kvs_user owner = {.id = OWNER_ID}, admin = {.id = ADMIN_ID, .is_admin = 1},
                    other = {.id = OTHER_ID};
    const enum kvs_general_access values[] = {KVS_GA_RESTRICTED, KVS_GA_ANYONE_WITH_ID_CAN_READ,
                                              KVS_GA_ANYONE_WITH_NAME_CAN_READ};
    int checked = 0;
    for (int c = 0; c < N_CALLERS; c++) {
        const struct kvs_user *who = c == OWNER   ? &owner
                                     : c == ADMIN ? &admin
                                     : c == ANON  ? NULL
                                                  : &other;
        enum kvs_share_level share = c == SHARED_WRITE  ? KVS_SHARE_WRITE
                                     : c == SHARED_READ ? KVS_SHARE_READ
                                                        : KVS_SHARE_NONE;
        for (int v = 0; v < 3; v++)
            for (int follow = 0; follow < 2; follow++)
                for (int by_name = 0; by_name < 2; by_name++)
                    for (int need = 0; need < 3; need++) {
                        /* The store's own setting, or FOLLOW_USER_SETTING and the owner's. */
                        s.general_access = follow ? KVS_GA_FOLLOW_USER_SETTING : values[v];
                        enum kvs_general_access dflt = follow ? values[v] : KVS_GA_RESTRICTED;
                        int got = kvs_access_check(who, &s, share, dflt, by_name, need);
                        int want = expected(c, values[v], by_name, need);
                        if (got != want)
                            TEST_FAIL_("%s, %s%s, by %s, need %d: got %s, expected %s",
                                       caller_names[c], follow ? "following " : "",
                                       kvs_access_name(values[v]), by_name ? "name" : "ID", need,
                                       kvs_errname(got), kvs_errname(want));
                        checked++;
                    }
    }
    ASSERT_EQ(checked, N_CALLERS * 3 * 2 * 2 * 3);
}

TEST(access_share_needs_the_token)
{
    /* A share belongs to a user: without that user's token it is nothing. */
    struct kvs_store s = {.general_access = KVS_GA_RESTRICTED};
    strcpy(s.user_id, OWNER_ID);
    ASSERT_ERR(kvs_access_check(NULL, &s, KVS_SHARE_WRITE, KVS_GA_RESTRICTED, 0, KVS_ACCESS_READ),
               KVS_ENOTOKEN);
    ASSERT_EQ(kvs_access_can_write(NULL, &s, KVS_SHARE_WRITE), 0);
    struct kvs_user other = {.id = OTHER_ID}, owner = {.id = OWNER_ID};
    ASSERT_EQ(kvs_access_can_write(&other, &s, KVS_SHARE_WRITE), 1);
    ASSERT_EQ(kvs_access_can_write(&other, &s, KVS_SHARE_READ), 0);
    ASSERT_EQ(kvs_access_can_write(&owner, &s, KVS_SHARE_NONE), 1);
}

TEST(access_names)
{
    enum kvs_share_level l;
    ASSERT_OK(kvs_share_parse("READ", &l));
    ASSERT_EQ(l, KVS_SHARE_READ);
    ASSERT_OK(kvs_share_parse("WRITE", &l));
    ASSERT_EQ(l, KVS_SHARE_WRITE);
    ASSERT_ERR(kvs_share_parse("NONE", &l), KVS_EINVAL);
    ASSERT_ERR(kvs_share_parse("read", &l), KVS_EINVAL);
    ASSERT_STR_EQ(kvs_share_name(KVS_SHARE_WRITE), "WRITE");
    ASSERT_STR_EQ(kvs_share_name((enum kvs_share_level)9), "NONE");
    enum kvs_general_access ga;
    ASSERT_OK(kvs_access_parse("ANYONE_WITH_NAME_CAN_READ", &ga));
    ASSERT_EQ(ga, KVS_GA_ANYONE_WITH_NAME_CAN_READ);
    ASSERT_ERR(kvs_access_parse("EVERYBODY", &ga), KVS_EINVAL);
}
