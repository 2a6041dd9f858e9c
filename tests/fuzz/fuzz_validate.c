/* fuzz_validate.c — key, name and ID rules (src/common/validate.c).
 *
 * Each rule is compared with the regular expression the contract quotes (shared/api-contract.md
 * §5), run by the C library's regex engine on the raw bytes (REG_STARTEND, so NUL bytes are
 * bytes like any other):
 *   key    ^[a-zA-Z0-9!_.'()-]{1,256}$, minus "." and ".." (kvstore's decision, validate.h)
 *   name   ^([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$, at most 63 characters
 *   ID     ^[a-zA-Z0-9]{17}$
 * and the rules must nest as the server relies on: an ID is a valid name, a name is a valid
 * key. A valid key also needs no escaping anywhere: it percent-decodes to itself (also with
 * '+' as space) and routes as the {key} of a record path unchanged. */
#include <regex.h>

#include "common/pct.h"
#include "common/validate.h"
#include "fuzz.h"
#include "server/router.h"

static regex_t re_key, re_name, re_id;

static void compile(regex_t *re, const char *pattern)
{
    FUZZ_CHECK(regcomp(re, pattern, REG_EXTENDED | REG_NOSUB) == 0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static int done;
    if (done++)
        return 0;
    /* '-' last in a bracket is a literal hyphen (POSIX), as "\-" is in the JavaScript regex */
    compile(&re_key, "^[a-zA-Z0-9!_.'()-]{1,256}$");
    compile(&re_name, "^([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$");
    compile(&re_id, "^[a-zA-Z0-9]{17}$");
    return 0;
}

static int matches(const regex_t *re, kvs_slice s)
{
    /* NUL-terminated all the same: ASan's regexec interceptor reads up to a NUL */
    char *z = malloc(s.n + 1);
    if (s.n)
        memcpy(z, s.p, s.n);
    z[s.n] = '\0';
    regmatch_t m = {.rm_so = 0, .rm_eo = (regoff_t)s.n};
    int rc = regexec(re, z, 0, &m, REG_STARTEND);
    free(z);
    return rc == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    LLVMFuzzerInitialize(NULL, NULL); /* once; for drivers that do not call it themselves */
    kvs_slice s = {(const char *)data, size};
    /* regexec's offsets are ints on some systems; 256 + 1 bytes decide every rule */
    if (size > 4096)
        return 0;

    int dots = kvs_slice_eq_str(s, ".") || kvs_slice_eq_str(s, "..");
    int key = kvs_valid_key(s), name = kvs_valid_store_name(s), id = kvs_valid_id(s);
    FUZZ_CHECK(key == (matches(&re_key, s) && !dots));
    FUZZ_CHECK(name == (matches(&re_name, s) && size <= 63));
    FUZZ_CHECK(kvs_valid_username(s) == name);
    FUZZ_CHECK(id == matches(&re_id, s));
    FUZZ_CHECK(!id || name);
    FUZZ_CHECK(!name || key);

    if (key) {
        char out[KVS_KEY_MAX];
        for (int plus = 0; plus <= 1; plus++) {
            long n = kvs_pct_decode(s, out, sizeof out, plus);
            FUZZ_CHECK(n == (long)size && memcmp(out, s.p, size) == 0);
        }
        char path[64 + KVS_KEY_MAX];
        int pn = snprintf(path, sizeof path, "/v2/key-value-stores/s/records/%.*s", (int)size, s.p);
        struct kvs_path_match m;
        FUZZ_CHECK(kvs_route_match_path((kvs_slice){path, (size_t)pn}, &m) == KVS_PATH_RECORD);
        FUZZ_CHECK(kvs_slice_eq(m.key, s));
    }
    return 0;
}
