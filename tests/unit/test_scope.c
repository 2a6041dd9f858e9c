/* test_scope.c — token scopes (src/auth/scope.c): reading them from the API, their canonical
 * text, what they allow on a store, and which scopes lie within others. */
#include <jansson.h>

#include "auth/scope.h"
#include "kvs.h"
#include "test.h"

#define ALICE "AliceAliceAlice01"
#define BOB "BobBobBobBobBob01"
#define STORE_X "XxXxXxXxXxXxXxX01" /* exists */

static int user_id(void *arg, kvs_slice username, char out[KVS_ID_LEN + 1])
{
    if (kvs_slice_eq_str(username, "alice"))
        snprintf(out, KVS_ID_LEN + 1, "%s", ALICE);
    else if (kvs_slice_eq_str(username, "bob"))
        snprintf(out, KVS_ID_LEN + 1, "%s", BOB);
    else
        return KVS_ENOTFOUND;
    return 0;
}

static int store_exists(void *arg, kvs_slice id)
{
    return kvs_slice_eq_str(id, STORE_X);
}

static int name_of(void *arg, const char *id, char out[KVS_NAME_MAX + 1])
{
    if (strcmp(id, BOB) != 0)
        return KVS_ENOTFOUND;
    snprintf(out, KVS_NAME_MAX + 1, "bob");
    return 0;
}

static const struct kvs_scope_resolver RES = {user_id, store_exists, NULL};

/* Parse JSON text as alice's token scope; the result code, *OUT filled. */
static int parse(const char *text, struct kvs_scope *out)
{
    json_t *j = json_loads(text, 0, NULL);
    ASSERT(j != NULL);
    char why[200] = "";
    int rc = kvs_scope_from_api(j, ALICE, &RES, out, why, sizeof why);
    if (rc != 0)
        ASSERT(why[0] != '\0'); /* a reason, always */
    json_decref(j);
    return rc;
}

static struct kvs_store store(const char *id, const char *owner, const char *name)
{
    struct kvs_store s = {0};
    snprintf(s.id, sizeof s.id, "%s", id);
    snprintf(s.user_id, sizeof s.user_id, "%s", owner);
    snprintf(s.name, sizeof s.name, "%s", name);
    return s;
}

TEST(scope_parse_and_text_round_trip)
{
    struct kvs_scope s, back;
    char text[KVS_SCOPE_TEXT_MAX + 1];
    /* no scope */
    ASSERT_OK(kvs_scope_from_api(NULL, ALICE, &RES, &s, text, sizeof text));
    ASSERT_EQ(s.limited, 0);
    ASSERT_EQ(kvs_scope_text(&s, text), 0);
    ASSERT_OK(kvs_scope_load(kvs_slice_of(""), &back));
    ASSERT_EQ(back.limited, 0);

    ASSERT_OK(parse("{\"stores\":[{\"id\":\"" STORE_X "\",\"access\":\"WRITE\"},"
                    "{\"name\":\"reports\"},{\"namePrefix\":\"tmp-\",\"username\":\"bob\","
                    "\"access\":\"WRITE\"},{\"store\":\"bob~shared\"},{\"store\":\"cache-*\","
                    "\"access\":\"WRITE\"},{\"store\":\"" STORE_X "\"},"
                    "{\"store\":\"NotAStoreYet00001\"}],\"administration\":true}",
                    &s));
    ASSERT_EQ(s.limited, 1);
    ASSERT_EQ(s.all_stores, 0);
    ASSERT_EQ(s.admin, 1);
    ASSERT_EQ(s.n, 7);
    ASSERT_EQ(s.s[0].match, KVS_SCOPE_ID);
    ASSERT_EQ(s.s[0].level, KVS_SHARE_WRITE);
    ASSERT_EQ(s.s[1].match, KVS_SCOPE_NAME);
    ASSERT_STR_EQ(s.s[1].user_id, ALICE); /* the token's user by default */
    ASSERT_EQ(s.s[1].level, KVS_SHARE_READ); /* READ unless said */
    ASSERT_EQ(s.s[2].match, KVS_SCOPE_PREFIX);
    ASSERT_STR_EQ(s.s[2].user_id, BOB);
    ASSERT_EQ(s.s[3].match, KVS_SCOPE_NAME); /* "bob~shared" */
    ASSERT_STR_EQ(s.s[3].user_id, BOB);
    ASSERT_STR_EQ(s.s[3].value, "shared");
    ASSERT_EQ(s.s[4].match, KVS_SCOPE_PREFIX); /* "cache-*" */
    ASSERT_STR_EQ(s.s[4].value, "cache-");
    ASSERT_EQ(s.s[5].match, KVS_SCOPE_ID); /* an ID of a store that exists */
    ASSERT_EQ(s.s[6].match, KVS_SCOPE_NAME); /* of none: a name (of a store to come) */
    ASSERT_STR_EQ(s.s[6].value, "NotAStoreYet00001");

    size_t n = kvs_scope_text(&s, text);
    ASSERT(n > 0 && strlen(text) == n);
    ASSERT_OK(kvs_scope_load((kvs_slice){text, n}, &back));
    ASSERT(memcmp(&back, &s, sizeof s) == 0);
    /* the API form shows usernames where it can, the ID where not */
    json_t *j = kvs_scope_json(&s, name_of, NULL);
    char *dump = json_dumps(j, JSON_COMPACT);
    ASSERT(strstr(dump, "\"namePrefix\":\"tmp-\",\"username\":\"bob\"") != NULL);
    ASSERT(strstr(dump, "\"name\":\"reports\",\"userId\":\"" ALICE "\"") != NULL);
    free(dump);
    json_decref(j);

    /* every store */
    ASSERT_OK(parse("{\"access\":\"WRITE\"}", &s));
    ASSERT(s.limited && s.all_stores && s.all_level == KVS_SHARE_WRITE && !s.admin);
    ASSERT_OK(parse("{}", &s));
    ASSERT(s.limited && s.all_stores && s.all_level == KVS_SHARE_READ && !s.admin);
    n = kvs_scope_text(&s, text);
    ASSERT_OK(kvs_scope_load((kvs_slice){text, n}, &back));
    ASSERT(memcmp(&back, &s, sizeof s) == 0);
}

TEST(scope_parse_refuses)
{
    struct kvs_scope s;
    const char *bad[] = {
        "[]",
        "{\"stores\":{}}",
        "{\"stores\":[1]}",
        "{\"stores\":[{}]}",
        "{\"stores\":[{\"id\":\"short\"}]}",
        "{\"stores\":[{\"id\":\"" STORE_X "\",\"username\":\"bob\"}]}",
        "{\"stores\":[{\"id\":\"" STORE_X "\",\"name\":\"x\"}]}",
        "{\"stores\":[{\"name\":\"-bad\"}]}",
        "{\"stores\":[{\"name\":\"a\",\"access\":\"ADMIN\"}]}",
        "{\"stores\":[{\"name\":\"a\",\"extra\":1}]}",
        "{\"stores\":[{\"namePrefix\":\"\"}]}",
        "{\"stores\":[{\"namePrefix\":\"a*\"}]}",
        "{\"stores\":[{\"store\":\"*\"}]}",
        "{\"stores\":[{\"store\":\"a b\"}]}",
        "{\"stores\":[{\"store\":\"x\",\"name\":\"y\"}]}",
        "{\"stores\":[],\"access\":\"WRITE\"}",
        "{\"access\":\"write\"}",
        "{\"administration\":\"yes\"}",
        "{\"other\":1}",
        "{\"stores\":[{\"name\":\"a\"},{\"name\":\"a\"},{\"name\":\"a\"},{\"name\":\"a\"},"
        "{\"name\":\"a\"},{\"name\":\"a\"},{\"name\":\"a\"},{\"name\":\"a\"},{\"name\":\"a\"},"
        "{\"name\":\"a\"},{\"name\":\"a\"},{\"name\":\"a\"},{\"name\":\"a\"},{\"name\":\"a\"},"
        "{\"name\":\"a\"},{\"name\":\"a\"},{\"name\":\"a\"}]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (parse(bad[i], &s) != KVS_EINVAL)
            TEST_FAIL_("accepted: %s", bad[i]);
    ASSERT_ERR(parse("{\"stores\":[{\"name\":\"a\",\"username\":\"carol\"}]}", &s), KVS_ENOTFOUND);
    ASSERT_ERR(parse("{\"stores\":[{\"store\":\"carol~a\"}]}", &s), KVS_ENOTFOUND);
    /* stored text that kvs did not write is a damaged row */
    ASSERT_ERR(kvs_scope_load(KVS_SLICE_LIT("{\"stores\":[{\"name\":\"a\"}]}"), &s), KVS_EIO);
    ASSERT_ERR(kvs_scope_load(KVS_SLICE_LIT("not json"), &s), KVS_EIO);
    ASSERT_EQ(s.limited, 0);
}

TEST(scope_on_stores)
{
    struct kvs_scope s;
    ASSERT_OK(parse("{\"stores\":[{\"id\":\"" STORE_X "\",\"access\":\"WRITE\"},"
                    "{\"name\":\"reports\"},{\"namePrefix\":\"tmp-\",\"access\":\"WRITE\"},"
                    "{\"name\":\"tmp-ro\"}]}",
                    &s));
    struct kvs_store x = store(STORE_X, BOB, "whatever");
    struct kvs_store reports = store("R0000000000000001", ALICE, "reports");
    struct kvs_store bobs = store("R0000000000000002", BOB, "reports");
    struct kvs_store tmp = store("R0000000000000003", ALICE, "tmp-1");
    struct kvs_store tmp_ro = store("R0000000000000004", ALICE, "tmp-ro");
    struct kvs_store unnamed = store("R0000000000000005", ALICE, "");
    struct kvs_store other = store("R0000000000000006", ALICE, "other");
    ASSERT_EQ(kvs_scope_on(&s, &x), KVS_SCOPE_WRITE); /* by ID, whoever owns it */
    ASSERT_EQ(kvs_scope_on(&s, &reports), KVS_SCOPE_READ);
    ASSERT_EQ(kvs_scope_on(&s, &bobs), KVS_SCOPE_NONE); /* the name is alice's */
    ASSERT_EQ(kvs_scope_on(&s, &tmp), KVS_SCOPE_WRITE);
    ASSERT_EQ(kvs_scope_on(&s, &tmp_ro), KVS_SCOPE_WRITE); /* the most of what matches */
    ASSERT_EQ(kvs_scope_on(&s, &unnamed), KVS_SCOPE_NONE);
    ASSERT_EQ(kvs_scope_on(&s, &other), KVS_SCOPE_NONE);
    ASSERT(!kvs_scope_may_administer(&s));
    ASSERT(kvs_scope_may_create(&s, ALICE, "tmp-new"));
    ASSERT(!kvs_scope_may_create(&s, ALICE, "reports")); /* READ only */
    ASSERT(!kvs_scope_may_create(&s, ALICE, "new"));
    ASSERT(!kvs_scope_may_create(&s, ALICE, "")); /* unnamed: needs every store */
    ASSERT(!kvs_scope_may_create(&s, BOB, "tmp-new"));

    /* with administration, WRITE is managing; READ stays READ */
    ASSERT_OK(parse("{\"stores\":[{\"name\":\"reports\"},{\"name\":\"tmp-1\",\"access\":\"WRITE\"}],"
                    "\"administration\":true}",
                    &s));
    ASSERT_EQ(kvs_scope_on(&s, &tmp), KVS_SCOPE_MANAGE);
    ASSERT_EQ(kvs_scope_on(&s, &reports), KVS_SCOPE_READ);
    ASSERT(kvs_scope_may_administer(&s));

    /* every store */
    ASSERT_OK(parse("{\"access\":\"READ\"}", &s));
    ASSERT_EQ(kvs_scope_on(&s, &unnamed), KVS_SCOPE_READ);
    ASSERT(!kvs_scope_may_create(&s, ALICE, "x"));
    ASSERT_OK(parse("{\"access\":\"WRITE\"}", &s));
    ASSERT(kvs_scope_may_create(&s, ALICE, ""));
    ASSERT_EQ(kvs_scope_on(&s, &x), KVS_SCOPE_WRITE);
    /* none: everything */
    struct kvs_scope none = {0};
    ASSERT_EQ(kvs_scope_on(&none, &x), KVS_SCOPE_MANAGE);
    ASSERT(kvs_scope_may_create(&none, ALICE, ""));
    ASSERT(kvs_scope_may_administer(&none));
}

TEST(scope_within)
{
    struct kvs_scope none = {0}, p, c;
    /* anything lies within no scope; no scope lies within any */
    ASSERT_OK(parse("{\"access\":\"READ\"}", &c));
    ASSERT(kvs_scope_within(&c, &none));
    ASSERT(!kvs_scope_within(&none, &c));
    /* levels and administration */
    ASSERT_OK(parse("{\"access\":\"WRITE\"}", &p));
    ASSERT(kvs_scope_within(&c, &p));
    ASSERT(!kvs_scope_within(&p, &c));
    ASSERT_OK(parse("{\"access\":\"READ\",\"administration\":true}", &c));
    ASSERT(!kvs_scope_within(&c, &p));
    ASSERT_OK(parse("{\"stores\":[{\"name\":\"a\",\"access\":\"WRITE\"}]}", &c));
    ASSERT(kvs_scope_within(&c, &p)); /* a list within every store */
    /* lists: IDs, names, prefixes */
    ASSERT_OK(parse("{\"stores\":[{\"namePrefix\":\"tmp-\",\"access\":\"WRITE\"},"
                    "{\"id\":\"" STORE_X "\"},{\"name\":\"reports\"}]}",
                    &p));
    const char *inside[] = {
        "{\"stores\":[{\"namePrefix\":\"tmp-\"}]}",
        "{\"stores\":[{\"namePrefix\":\"tmp-a\",\"access\":\"WRITE\"}]}",
        "{\"stores\":[{\"name\":\"tmp-x\",\"access\":\"WRITE\"},{\"name\":\"reports\"}]}",
        "{\"stores\":[{\"id\":\"" STORE_X "\"}]}",
        "{\"stores\":[]}",
    };
    for (size_t i = 0; i < sizeof inside / sizeof inside[0]; i++) {
        ASSERT_OK(parse(inside[i], &c));
        if (!kvs_scope_within(&c, &p))
            TEST_FAIL_("not within: %s", inside[i]);
    }
    const char *outside[] = {
        "{\"access\":\"READ\"}",
        "{\"stores\":[{\"namePrefix\":\"tmp\"}]}",
        "{\"stores\":[{\"namePrefix\":\"tmp-\",\"username\":\"bob\"}]}",
        "{\"stores\":[{\"name\":\"reports\",\"access\":\"WRITE\"}]}",
        "{\"stores\":[{\"id\":\"" STORE_X "\",\"access\":\"WRITE\"}]}",
        "{\"stores\":[{\"name\":\"other\"}]}",
        "{\"stores\":[{\"id\":\"R0000000000000001\"}]}",
        "{\"stores\":[{\"namePrefix\":\"tmp-\"}],\"administration\":true}",
    };
    for (size_t i = 0; i < sizeof outside / sizeof outside[0]; i++) {
        ASSERT_OK(parse(outside[i], &c));
        if (kvs_scope_within(&c, &p))
            TEST_FAIL_("within: %s", outside[i]);
    }
}
