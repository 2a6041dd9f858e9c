/* fuzz_sign.c — signed URLs (src/auth/sign.c).
 *
 * The input gives a secret, a store ID or record key, an expiry, a clock, and a signature
 * candidate. Properties:
 *   - HMAC62 equals a reference made here from OpenSSL's one-shot HMAC() and a plain
 *     digit-by-digit base-62 conversion, and is 1..21 base-62 characters;
 *   - a kvs_signer (one HMAC context reused for many keys) signs every key exactly as
 *     kvs_sign_record() does, also after signing other keys;
 *   - what kvs_sign_record() / kvs_sign_keys() make verifies (keys: unpadded and with its
 *     '=' padding, until it expires), unless the secret is empty; it does not verify for
 *     another key or store, after any one character is changed, with a character added or
 *     removed, or with wrong padding;
 *   - verification returns only 0 or KVS_EACCESS, and a candidate from the input that verifies
 *     is one we made: for records exactly the HMAC62 of the key, for keys lists a base64url
 *     text (decoded here independently) of "0.<expires>.<HMAC62 of 0.<expires>.<store ID>>"
 *     that has not expired.
 * The contract's test vectors (§4.5) are checked once, so the harness itself is known right. */
#include <inttypes.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth/sign.h"
#include "fuzz.h"
#include "kvs.h"

static const char base62[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void check_vectors(void)
{
    char h[KVS_HMAC62_MAX + 1], k[KVS_KEYS_SIG_MAX + 1];
    kvs_sign_hmac62(kvs_slice_of("hmac-secret-key"),
                    kvs_slice_of("hmac-message-to-be-authenticated"), h);
    FUZZ_CHECK(strcmp(h, "pcVagAsudj8dFqdlg7mG") == 0);
    kvs_sign_keys(kvs_slice_of("hmac-secret-key"), kvs_slice_of("resource-id"), 0, k);
    FUZZ_CHECK(strcmp(k, "MC4wLjNUd2ZFRTY1OXVmU05zbVM0N2xS") == 0);
}

/* The reference HMAC62 of MSG under SECRET (contract §4.1): HMAC-SHA256, its first 15 bytes
 * read as a 120-bit number, written in base 62 one division at a time. */
static void ref_hmac62(kvs_slice secret, kvs_slice msg, char out[KVS_HMAC62_MAX + 1])
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    FUZZ_CHECK(HMAC(EVP_sha256(), secret.n ? secret.p : "", (int)secret.n,
                    (const unsigned char *)(msg.n ? msg.p : ""), msg.n, d, &len) != NULL);
    unsigned __int128 v = 0;
    for (int i = 0; i < 15; i++)
        v = v << 8 | d[i];
    char rev[32];
    size_t n = 0;
    do {
        rev[n++] = base62[(unsigned)(v % 62)];
        v /= 62;
    } while (v != 0);
    FUZZ_CHECK(n <= KVS_HMAC62_MAX);
    for (size_t i = 0; i < n; i++)
        out[i] = rev[n - 1 - i];
    out[n] = '\0';
}

static void check_hmac62(kvs_slice secret, kvs_slice msg, unsigned pick)
{
    char got[KVS_HMAC62_MAX + 1], want[KVS_HMAC62_MAX + 1];
    size_t n = kvs_sign_hmac62(secret, msg, got);
    ref_hmac62(secret, msg, want);
    FUZZ_CHECK(n == strlen(got) && strcmp(got, want) == 0);

    /* the signer: this key, another one, and this one again from the same context */
    struct kvs_signer *s;
    FUZZ_CHECK(kvs_signer_new(secret, &s) == 0);
    char *other = malloc(msg.n + 1);
    if (msg.n)
        memcpy(other, msg.p, msg.n);
    other[msg.n] = (char)pick;
    kvs_slice keys[3] = {msg, {other, msg.n + 1}, msg};
    for (int i = 0; i < 3; i++) {
        kvs_sign_record(secret, keys[i], want);
        kvs_signer_record(s, keys[i], got);
        FUZZ_CHECK(strcmp(got, want) == 0);
    }
    free(other);
    kvs_signer_free(s);
}

/* Lenient base64url (any padding ignored, leftover bits dropped) into OUT; -1 on a foreign
 * character. Stricter rules are the verifier's business; this only reads what it accepted. */
static long lenient_b64(kvs_slice s, char *out, size_t cap)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < s.n && s.p[i] != '='; i++) {
        const char *c = s.p[i] ? strchr(b64url, s.p[i]) : NULL;
        if (c == NULL)
            return -1;
        acc = acc << 6 | (uint32_t)(c - b64url);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o == cap)
                return -1;
            out[o++] = (char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    return (long)o;
}

/* Check that the keys-list signature SIG, accepted for STORE at NOW, is one we made. */
static void check_accepted_keys(kvs_slice secret, kvs_slice store, kvs_slice sig, int64_t now)
{
    char payload[256];
    long n = lenient_b64(sig, payload, sizeof payload - 1);
    FUZZ_CHECK(n > 0);
    payload[n] = '\0';
    FUZZ_CHECK(strlen(payload) == (size_t)n);
    char *dot1 = strchr(payload, '.'), *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    FUZZ_CHECK(dot1 == payload + 1 && payload[0] == '0' && dot2 && !strchr(dot2 + 1, '.'));
    kvs_slice exp = {dot1 + 1, (size_t)(dot2 - dot1 - 1)};
    FUZZ_CHECK(exp.n >= 1 && exp.n <= 19);
    uint64_t e = 0;
    for (size_t i = 0; i < exp.n; i++) {
        FUZZ_CHECK(exp.p[i] >= '0' && exp.p[i] <= '9');
        e = e * 10 + (uint64_t)(exp.p[i] - '0');
    }
    FUZZ_CHECK(e <= INT64_MAX && (e == 0 || (int64_t)e > now));
    size_t mn = 2 + exp.n + 1 + store.n;
    char *msg = malloc(mn + 1);
    memcpy(msg, payload, 2 + exp.n + 1); /* "0.<exp>." */
    if (store.n)
        memcpy(msg + 2 + exp.n + 1, store.p, store.n);
    char want[KVS_HMAC62_MAX + 1];
    kvs_sign_hmac62(secret, (kvs_slice){msg, mn}, want);
    FUZZ_CHECK(strcmp(dot2 + 1, want) == 0);
    free(msg);
}

/* SIG changed at position POS to another character of the same alphabet. */
static void mutate(char *sig, size_t pos, unsigned pick, const char *alphabet)
{
    size_t an = strlen(alphabet);
    char c = alphabet[pick % an];
    if (c == sig[pos])
        c = alphabet[(pick + 1) % an];
    sig[pos] = c;
}

static void check_record(kvs_slice secret, kvs_slice key, kvs_slice cand, unsigned pick)
{
    char sig[KVS_HMAC62_MAX + 2];
    kvs_sign_record(secret, key, sig);
    size_t n = strlen(sig);
    FUZZ_CHECK(n >= 1 && n <= KVS_HMAC62_MAX && strspn(sig, base62) == n);
    int ok = secret.n ? 0 : KVS_EACCESS;
    FUZZ_CHECK(kvs_sign_verify_record(secret, key, (kvs_slice){sig, n}) == ok);

    int rc = kvs_sign_verify_record(secret, key, cand);
    FUZZ_CHECK(rc == 0 || rc == KVS_EACCESS);
    if (rc == 0)
        FUZZ_CHECK(kvs_slice_eq(cand, (kvs_slice){sig, n}));

    FUZZ_CHECK(kvs_sign_verify_record(secret, key, (kvs_slice){sig, n - 1}) == KVS_EACCESS);
    sig[n] = base62[pick % 62];
    FUZZ_CHECK(kvs_sign_verify_record(secret, key, (kvs_slice){sig, n + 1}) == KVS_EACCESS);
    /* another key: the key with one more byte */
    char *other = malloc(key.n + 1);
    if (key.n)
        memcpy(other, key.p, key.n);
    other[key.n] = (char)pick;
    FUZZ_CHECK(kvs_sign_verify_record(secret, (kvs_slice){other, key.n + 1}, (kvs_slice){sig, n}) ==
               KVS_EACCESS);
    free(other);
    mutate(sig, pick % n, pick / 7, base62);
    FUZZ_CHECK(kvs_sign_verify_record(secret, key, (kvs_slice){sig, n}) == KVS_EACCESS);
}

static void check_keys(kvs_slice secret, kvs_slice store, int64_t expires, int64_t now,
                       kvs_slice cand, unsigned pick)
{
    char sig[KVS_KEYS_SIG_MAX + 4];
    kvs_sign_keys(secret, store, expires, sig);
    size_t n = strlen(sig);
    FUZZ_CHECK(n > 0 && n <= KVS_KEYS_SIG_MAX && strspn(sig, b64url) == n && n % 4 != 1);
    int ok = secret.n && (expires == 0 || now < expires) ? 0 : KVS_EACCESS;
    FUZZ_CHECK(kvs_sign_verify_keys(secret, store, (kvs_slice){sig, n}, now) == ok);
    /* with its padding (Python's urlsafe_b64encode), and with too much or too little of it */
    size_t pad = (4 - n % 4) % 4;
    memset(sig + n, '=', 3);
    FUZZ_CHECK(kvs_sign_verify_keys(secret, store, (kvs_slice){sig, n + pad}, now) == ok);
    if (pad > 0)
        FUZZ_CHECK(kvs_sign_verify_keys(secret, store, (kvs_slice){sig, n + pad - 1}, now) ==
                   (pad == 1 ? ok : KVS_EACCESS)); /* "==" cut to "=", or "=" to none */
    FUZZ_CHECK(kvs_sign_verify_keys(secret, store, (kvs_slice){sig, n + pad + 1}, now) ==
               KVS_EACCESS);
    sig[n] = '\0';

    if (ok == 0) {
        check_accepted_keys(secret, store, (kvs_slice){sig, n}, now);
        /* another store */
        char *other = malloc(store.n + 1);
        if (store.n)
            memcpy(other, store.p, store.n);
        other[store.n] = 'x';
        FUZZ_CHECK(kvs_sign_verify_keys(secret, (kvs_slice){other, store.n + 1},
                                        (kvs_slice){sig, n}, now) == KVS_EACCESS);
        free(other);
        FUZZ_CHECK(kvs_sign_verify_keys(secret, store, (kvs_slice){sig, n - 1}, now) ==
                   KVS_EACCESS);
        mutate(sig, pick % n, pick / 5, b64url);
        FUZZ_CHECK(kvs_sign_verify_keys(secret, store, (kvs_slice){sig, n}, now) == KVS_EACCESS);
    }

    int rc = kvs_sign_verify_keys(secret, store, cand, now);
    FUZZ_CHECK(rc == 0 || rc == KVS_EACCESS);
    if (rc == 0)
        check_accepted_keys(secret, store, cand, now);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int vectors_checked;
    if (!vectors_checked) {
        check_vectors();
        vectors_checked = 1;
    }
    struct fz f = {(const char *)data, size};
    unsigned flags = fz_byte(&f);
    kvs_slice secret = fz_take(&f, fz_byte(&f) % 48);
    kvs_slice id = fz_take(&f, fz_byte(&f) % 40);
    uint64_t e = fz_u64(&f), t = fz_u64(&f);
    unsigned pick = fz_byte(&f) << 8;
    pick |= fz_byte(&f);
    kvs_slice cand = {f.p, f.n};
    /* expiries: 0 (forever), small, and anything up to INT64_MAX; now near the expiry too */
    int64_t expires = (flags & 3) == 0   ? 0
                      : (flags & 3) == 1 ? (int64_t)(e % 4096)
                                         : (int64_t)(e & INT64_MAX);
    int64_t now = (flags & 12) == 0 ? expires - 1 : (flags & 12) == 4 ? expires : (int64_t)t;
    check_hmac62(secret, id, pick);
    check_record(secret, id, cand, pick);
    check_keys(secret, id, expires, now, cand, pick);
    return 0;
}
