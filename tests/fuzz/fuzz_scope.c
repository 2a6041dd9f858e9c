/* fuzz_scope.c — token scopes (src/auth/scope.c): the "scope" of POST /v2/users/{user}/tokens,
 * and the canonical text kept beside a token.
 *
 * The input is JSON text. Properties:
 *   - as the API's scope: only the documented results (0, KVS_EINVAL or KVS_ENOTFOUND, each
 *     refusal with a reason); an accepted scope has at most 16 entries, each a valid ID, name
 *     or name prefix with READ or WRITE and an owner; its canonical text fits, and reads back
 *     (kvs_scope_load) as the very same scope, which writes the very same text;
 *   - what it allows is consistent: a scope lies within itself and within no scope; a store it
 *     names by ID or name is allowed at least the entry's level; nothing is ever allowed more
 *     than MANAGE, and MANAGE only with administration;
 *   - as stored text: kvs_scope_load() of any bytes gives 0 or KVS_EIO, and on 0 the text it
 *     writes back reads the same. */
#include <jansson.h>

#include "auth/scope.h"
#include "fuzz.h"
#include "kvs.h"

#define SELF "SelfSelfSelfSelf1"

static int user_id(void *arg, kvs_slice username, char out[KVS_ID_LEN + 1])
{
    if (!kvs_slice_eq_str(username, "bob"))
        return KVS_ENOTFOUND;
    memcpy(out, "BobBobBobBobBob01", KVS_ID_LEN + 1);
    return 0;
}

static int store_exists(void *arg, kvs_slice id)
{
    return id.n > 0 && id.p[0] == 'X'; /* IDs starting with X exist */
}

static void check_scope(const struct kvs_scope *s)
{
    FUZZ_CHECK(s->limited == 1);
    FUZZ_CHECK(s->n <= KVS_SCOPE_STORES_MAX);
    FUZZ_CHECK(!s->all_stores || s->n == 0);
    for (unsigned i = 0; i < s->n; i++) {
        const struct kvs_scope_store *e = &s->s[i];
        FUZZ_CHECK(e->level == KVS_SHARE_READ || e->level == KVS_SHARE_WRITE);
        FUZZ_CHECK(e->match >= KVS_SCOPE_ID && e->match <= KVS_SCOPE_PREFIX);
        if (e->match == KVS_SCOPE_ID) {
            FUZZ_CHECK(kvs_valid_id(kvs_slice_of(e->value)));
            continue;
        }
        FUZZ_CHECK(kvs_valid_id(kvs_slice_of(e->user_id)));
        FUZZ_CHECK(e->match == KVS_SCOPE_PREFIX || kvs_valid_store_name(kvs_slice_of(e->value)));
        /* the store it names is allowed at least its level, never MANAGE without admin */
        struct kvs_store st = {0};
        memcpy(st.user_id, e->user_id, sizeof st.user_id);
        snprintf(st.id, sizeof st.id, "ZZZZZZZZZZZZZZZZZ");
        snprintf(st.name, sizeof st.name, "%s%s", e->value,
                 e->match == KVS_SCOPE_PREFIX && strlen(e->value) < KVS_NAME_MAX ? "x" : "");
        if (!kvs_valid_store_name(kvs_slice_of(st.name)))
            continue;
        enum kvs_scope_level got = kvs_scope_on(s, &st);
        FUZZ_CHECK((int)got >= (int)e->level);
        FUZZ_CHECK(got != KVS_SCOPE_MANAGE || s->admin);
    }
    struct kvs_scope none = {0};
    FUZZ_CHECK(kvs_scope_within(s, s));
    FUZZ_CHECK(kvs_scope_within(s, &none));
    FUZZ_CHECK(!kvs_scope_within(&none, s));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* as stored text */
    struct kvs_scope loaded;
    int rc = kvs_scope_load((kvs_slice){(const char *)data, size}, &loaded);
    FUZZ_CHECK(rc == 0 || rc == KVS_EIO);
    static char text[KVS_SCOPE_TEXT_MAX + 1], again[KVS_SCOPE_TEXT_MAX + 1];
    if (rc == 0 && loaded.limited) {
        size_t n = kvs_scope_text(&loaded, text);
        struct kvs_scope back;
        FUZZ_CHECK(kvs_scope_load((kvs_slice){text, n}, &back) == 0);
        FUZZ_CHECK(memcmp(&back, &loaded, sizeof back) == 0);
    }

    /* as the API's */
    json_t *in = json_loadb((const char *)data, size, 0, NULL);
    if (in == NULL)
        return 0;
    struct kvs_scope s;
    char why[200] = "";
    const struct kvs_scope_resolver res = {user_id, store_exists, NULL};
    rc = kvs_scope_from_api(in, SELF, &res, &s, why, sizeof why);
    json_decref(in);
    FUZZ_CHECK(rc == 0 || rc == KVS_EINVAL || rc == KVS_ENOTFOUND);
    if (rc != 0) {
        FUZZ_CHECK(why[0] != '\0');
        return 0;
    }
    if (!s.limited)
        return 0; /* JSON null: no scope */
    check_scope(&s);
    size_t n = kvs_scope_text(&s, text);
    FUZZ_CHECK(n > 0 && n <= KVS_SCOPE_TEXT_MAX && strlen(text) == n);
    struct kvs_scope back;
    FUZZ_CHECK(kvs_scope_load((kvs_slice){text, n}, &back) == 0);
    FUZZ_CHECK(memcmp(&back, &s, sizeof s) == 0);
    FUZZ_CHECK(kvs_scope_text(&back, again) == n && memcmp(again, text, n) == 0);
    return 0;
}
