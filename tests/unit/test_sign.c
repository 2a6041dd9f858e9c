/* test_sign.c — HMAC62, record and keys-list signatures (src/auth/sign.c).
 *
 * The vectors come from shared/api-contract.md §4.5 (the Apify clients' own tests); the padded
 * and long-HMAC ones were made with Python's hmac and base64.urlsafe_b64encode, which is what
 * apify-client-python sends. */
#include <stdint.h>

#include "auth/sign.h"
#include "test.h"

#define SECRET KVS_SLICE_LIT("hmac-secret-key")
#define STORE KVS_SLICE_LIT("resource-id")
#define S(lit) kvs_slice_of(lit)

static void check_hmac62(const char *secret, const char *msg, const char *want)
{
    char out[KVS_HMAC62_MAX + 1];
    size_t n = kvs_sign_hmac62(S(secret), S(msg), out);
    ASSERT_STR_EQ(out, want);
    ASSERT_EQ(n, strlen(want));
}

TEST(sign_hmac62_vectors)
{
    check_hmac62("hmac-secret-key", "hmac-message-to-be-authenticated", "pcVagAsudj8dFqdlg7mG");
    check_hmac62("hmac-same-secret-key", "hmac-same-message-to-be-authenticated",
                 "FYMcmTIm3idXqleF1Sw5");
    check_hmac62("hmac-secret-key", "0.0.resource-id", "3TwfEE659ufSNsmS47lR");
    check_hmac62("hmac-secret-key", "0.1700000000001.resource-id", "13acsMPdnrYGVAv3FaXHd");
    check_hmac62("hmac-secret-key", "m13692", "U1ODqQHNB4t3mVUCAB"); /* a short one: no padding */
    check_hmac62("s", "my-key", "TqzelnzGtungMvRKCOPf");
    /* Edges: empty inputs, a key longer than SHA-256's block, UTF-8 bytes. */
    check_hmac62("", "", "1lcWUhfXs9DG9eDsoquF9");
    check_hmac62("secret", "", "1QcGLgA9p5Eqyy9BfXtMs");
    char long_key[101]; /* longer than SHA-256's 64-byte block: HMAC hashes it first */
    memset(long_key, 'x', 100);
    long_key[100] = '\0';
    check_hmac62(long_key, "key", "2EN1zEh0oJwawf1tGMp0");
    check_hmac62("s\xc3\xa9"
                 "cret",
                 "\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87", "1dW7I4efy3r3PcwgPqoiZ");
    char out[KVS_HMAC62_MAX + 1];
    kvs_sign_hmac62((kvs_slice){NULL, 0}, (kvs_slice){NULL, 0}, out);
    ASSERT_STR_EQ(out, "1lcWUhfXs9DG9eDsoquF9");
}

TEST(sign_record)
{
    char sig[KVS_HMAC62_MAX + 1];
    kvs_sign_record(SECRET, S("hmac-message-to-be-authenticated"), sig);
    ASSERT_STR_EQ(sig, "pcVagAsudj8dFqdlg7mG");
    ASSERT_OK(kvs_sign_verify_record(SECRET, S("hmac-message-to-be-authenticated"), S(sig)));

    kvs_slice key = S("hmac-message-to-be-authenticated");
    ASSERT_ERR(kvs_sign_verify_record(SECRET, S("other-key"), S(sig)), KVS_EACCESS);
    ASSERT_ERR(kvs_sign_verify_record(S("other-secret"), key, S(sig)), KVS_EACCESS);
    ASSERT_ERR(kvs_sign_verify_record(SECRET, key, S("")), KVS_EACCESS);
    ASSERT_ERR(kvs_sign_verify_record(SECRET, key, (kvs_slice){NULL, 0}), KVS_EACCESS);
    ASSERT_ERR(kvs_sign_verify_record(SECRET, key, S("pcVagAsudj8dFqdlg7mg")), KVS_EACCESS);
    ASSERT_ERR(kvs_sign_verify_record(SECRET, key, S("pcVagAsudj8dFqdlg7m")), KVS_EACCESS);
    ASSERT_ERR(kvs_sign_verify_record(SECRET, key, S("pcVagAsudj8dFqdlg7mG0")), KVS_EACCESS);
    ASSERT_ERR(kvs_sign_verify_record(SECRET, key, S("0pcVagAsudj8dFqdlg7mG")), KVS_EACCESS);
    /* A trailing NUL is a different byte string, not the same signature. */
    ASSERT_ERR(kvs_sign_verify_record(SECRET, key, (kvs_slice){sig, strlen(sig) + 1}), KVS_EACCESS);
    char longer[200];
    memset(longer, 'a', sizeof longer);
    ASSERT_ERR(kvs_sign_verify_record(SECRET, key, (kvs_slice){longer, sizeof longer}),
               KVS_EACCESS);
}

TEST(sign_record_short_hmac)
{
    /* HMAC62 has no fixed length; an 18-character one must verify, and its prefixes not. */
    ASSERT_OK(kvs_sign_verify_record(SECRET, S("m13692"), S("U1ODqQHNB4t3mVUCAB")));
    ASSERT_ERR(kvs_sign_verify_record(SECRET, S("m13692"), S("U1ODqQHNB4t3mVUCA")), KVS_EACCESS);
    ASSERT_ERR(kvs_sign_verify_record(SECRET, S("m13692"), (kvs_slice){"U1ODqQHNB4t3mVUCAB\0", 19}),
               KVS_EACCESS);
}

TEST(sign_keys_vectors)
{
    char sig[KVS_KEYS_SIG_MAX + 1];
    kvs_sign_keys(SECRET, STORE, 0, sig);
    ASSERT_STR_EQ(sig, "MC4wLjNUd2ZFRTY1OXVmU05zbVM0N2xS");
    kvs_sign_keys(SECRET, STORE, 1700000000000, sig);
    ASSERT_STR_EQ(sig, "MC4xNzAwMDAwMDAwMDAwLm9iRDIwMWhncjRmQTl5czk0Z3Ux");
    /* Payloads whose length is not a multiple of 3 come out without '='. */
    kvs_sign_keys(SECRET, STORE, 1700000000001, sig);
    ASSERT_STR_EQ(sig, "MC4xNzAwMDAwMDAwMDAxLjEzYWNzTVBkbnJZR1ZBdjNGYVhIZA");
    kvs_sign_keys(SECRET, STORE, 1700000000026, sig);
    ASSERT_STR_EQ(sig, "MC4xNzAwMDAwMDAwMDI2LkpvMnNLZHV2R09WWE1iU3Vmbjk");
}

TEST(sign_keys_longest)
{
    /* The largest expiresAt and a 21-character HMAC still fit KVS_KEYS_SIG_MAX. */
    char sig[KVS_KEYS_SIG_MAX + 1];
    kvs_sign_keys(SECRET, STORE, INT64_MAX, sig);
    ASSERT(strlen(sig) <= KVS_KEYS_SIG_MAX);
    ASSERT_OK(kvs_sign_verify_keys(SECRET, STORE, S(sig), 0));
    ASSERT_ERR(kvs_sign_verify_keys(SECRET, STORE, S(sig), INT64_MAX), KVS_EACCESS);
}

TEST(sign_keys_verify)
{
    char sig[KVS_KEYS_SIG_MAX + 1];
    kvs_sign_keys(SECRET, STORE, 0, sig);
    ASSERT_OK(kvs_sign_verify_keys(SECRET, STORE, S(sig), 1700000000000));
    ASSERT_OK(kvs_sign_verify_keys(SECRET, STORE, S(sig), INT64_MAX)); /* 0 never expires */
    ASSERT_ERR(kvs_sign_verify_keys(SECRET, S("resource-iD"), S(sig), 0), KVS_EACCESS);
    ASSERT_ERR(kvs_sign_verify_keys(SECRET, S("resource-id2"), S(sig), 0), KVS_EACCESS);
    ASSERT_ERR(kvs_sign_verify_keys(S("hmac-secret-kez"), STORE, S(sig), 0), KVS_EACCESS);
    ASSERT_ERR(kvs_sign_verify_keys(S(""), STORE, S(sig), 0), KVS_EACCESS);
}

TEST(sign_keys_padding)
{
    /* apify-client-python keeps the '=' padding; both forms are accepted. */
    const char *padded[] = {
        "MC4xNzAwMDAwMDAwMDAxLjEzYWNzTVBkbnJZR1ZBdjNGYVhIZA==",
        "MC4xNzAwMDAwMDAwMDI2LkpvMnNLZHV2R09WWE1iU3Vmbjk=",
    };
    for (size_t i = 0; i < 2; i++) {
        kvs_slice sig = S(padded[i]);
        ASSERT_OK(kvs_sign_verify_keys(SECRET, STORE, sig, 1600000000000));
        size_t pad = padded[i][sig.n - 2] == '=' ? 2 : 1;
        sig.n -= pad;
        ASSERT_OK(kvs_sign_verify_keys(SECRET, STORE, sig, 1600000000000));
    }
    /* Only the right amount of padding, only at the end. */
    ASSERT_ERR(kvs_sign_verify_keys(SECRET, STORE,
                                    S("MC4xNzAwMDAwMDAwMDAxLjEzYWNzTVBkbnJZR1ZBdjNGYVhIZA="), 0),
               KVS_EACCESS);
    ASSERT_ERR(kvs_sign_verify_keys(SECRET, STORE,
                                    S("MC4xNzAwMDAwMDAwMDAxLjEzYWNzTVBkbnJZR1ZBdjNGYVhIZA==="), 0),
               KVS_EACCESS);
    ASSERT_ERR(kvs_sign_verify_keys(SECRET, STORE,
                                    S("MC4xNzAwMDAwMDAwMDI2LkpvMnNLZHV2R09WWE1iU3Vmbjk=="), 0),
               KVS_EACCESS);
    ASSERT_ERR(kvs_sign_verify_keys(SECRET, STORE, S("MC4wLjNUd2ZFRTY1OXVmU05zbVM0N2xS===="), 0),
               KVS_EACCESS);
    ASSERT_ERR(kvs_sign_verify_keys(SECRET, STORE, S("MC4wLjNUd2ZFRTY1=OXVmU05zbVM0N2xS"), 0),
               KVS_EACCESS);
}

TEST(sign_keys_expiry)
{
    const int64_t at = 1700000000000;
    char sig[KVS_KEYS_SIG_MAX + 1];
    kvs_sign_keys(SECRET, STORE, at, sig);
    ASSERT_OK(kvs_sign_verify_keys(SECRET, STORE, S(sig), 0));
    ASSERT_OK(kvs_sign_verify_keys(SECRET, STORE, S(sig), at - 1));
    ASSERT_ERR(kvs_sign_verify_keys(SECRET, STORE, S(sig), at), KVS_EACCESS);
    ASSERT_ERR(kvs_sign_verify_keys(SECRET, STORE, S(sig), at + 1), KVS_EACCESS);
}

/* base64url of TEXT, unpadded, into OUT[200]; for building hostile payloads. */
static const char *b64(const char *text, char *out)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t n = strlen(text), o = 0;
    ASSERT(n < 140);
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)(unsigned char)text[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)(unsigned char)text[i + 1] << 8;
        if (i + 2 < n)
            v |= (unsigned char)text[i + 2];
        size_t chars = n - i >= 3 ? 4 : n - i + 1;
        for (size_t c = 0; c < chars; c++)
            out[o++] = abc[(v >> (18 - 6 * c)) & 63];
    }
    out[o] = '\0';
    return out;
}

/* Whether the payload TEXT, base64url-encoded, verifies for the test store at time 0. */
static int payload_ok(const char *text)
{
    char sig[200];
    return kvs_sign_verify_keys(SECRET, STORE, S(b64(text, sig)), 0);
}

TEST(sign_keys_payloads)
{
    char sig[200];
    ASSERT_STR_EQ(b64("0.0.3TwfEE659ufSNsmS47lR", sig), "MC4wLjNUd2ZFRTY1OXVmU05zbVM0N2xS");
    ASSERT_OK(payload_ok("0.0.3TwfEE659ufSNsmS47lR"));
    ASSERT_OK(payload_ok("0.1700000000001.13acsMPdnrYGVAv3FaXHd"));

    ASSERT_ERR(payload_ok("0.0.3TwfEE659ufSNsmS47lr"), KVS_EACCESS);   /* tampered HMAC */
    ASSERT_ERR(payload_ok("0.0.3TwfEE659ufSNsmS47l"), KVS_EACCESS);    /* truncated HMAC */
    ASSERT_ERR(payload_ok("0.0.3TwfEE659ufSNsmS47lRx"), KVS_EACCESS);  /* extended HMAC */
    ASSERT_ERR(payload_ok("0.0."), KVS_EACCESS);                       /* empty HMAC */
    ASSERT_ERR(payload_ok("0.1.3TwfEE659ufSNsmS47lR"), KVS_EACCESS);   /* expiry changed */
    ASSERT_ERR(payload_ok("1.0.3TwfEE659ufSNsmS47lR"), KVS_EACCESS);   /* wrong version */
    ASSERT_ERR(payload_ok("00.0.3TwfEE659ufSNsmS47lR"), KVS_EACCESS);  /* version spelled 00 */
    ASSERT_ERR(payload_ok(".0.3TwfEE659ufSNsmS47lR"), KVS_EACCESS);    /* empty version */
    ASSERT_ERR(payload_ok("0.3TwfEE659ufSNsmS47lR"), KVS_EACCESS);     /* 2 parts */
    ASSERT_ERR(payload_ok("0.0.3TwfEE659ufSNsmS47lR.x"), KVS_EACCESS); /* 4 parts */
    ASSERT_ERR(payload_ok("0.0.3TwfEE659ufSNsmS47lR."), KVS_EACCESS);  /* 4, last empty */
    ASSERT_ERR(payload_ok("0..3TwfEE659ufSNsmS47lR"), KVS_EACCESS);    /* empty expiresAt */
    ASSERT_ERR(payload_ok("0.-0.3TwfEE659ufSNsmS47lR"), KVS_EACCESS);  /* signed */
    ASSERT_ERR(payload_ok("0.+0.3TwfEE659ufSNsmS47lR"), KVS_EACCESS);
    ASSERT_ERR(payload_ok("0.0x1.3TwfEE659ufSNsmS47lR"), KVS_EACCESS); /* non-digit */
    ASSERT_ERR(payload_ok("0. 0.3TwfEE659ufSNsmS47lR"), KVS_EACCESS);
    ASSERT_ERR(payload_ok("0.9223372036854775808.3TwfEE659ufSNsmS47lR"), KVS_EACCESS); /* > max */
    ASSERT_ERR(payload_ok("0.99999999999999999999.3TwfEE659ufSNsmS47lR"), KVS_EACCESS);
    ASSERT_ERR(payload_ok("0.184467440737095516160.3TwfEE659ufSNsmS47lR"), KVS_EACCESS);
    ASSERT_ERR(payload_ok(""), KVS_EACCESS);
}

TEST(sign_keys_huge_expiry_signed)
{
    /* A correctly signed expiresAt of INT64_MAX is valid; one past it cannot even be parsed. */
    char hmac[KVS_HMAC62_MAX + 1], text[100], sig[200];
    kvs_sign_hmac62(SECRET, S("0.9223372036854775807.resource-id"), hmac);
    snprintf(text, sizeof text, "0.9223372036854775807.%s", hmac);
    ASSERT_OK(kvs_sign_verify_keys(SECRET, STORE, S(b64(text, sig)), 1700000000000));

    kvs_sign_hmac62(SECRET, S("0.9223372036854775808.resource-id"), hmac);
    snprintf(text, sizeof text, "0.9223372036854775808.%s", hmac);
    ASSERT_ERR(kvs_sign_verify_keys(SECRET, STORE, S(b64(text, sig)), 0), KVS_EACCESS);
}

TEST(sign_keys_bad_base64)
{
    const char *bad[] = {
        "",
        "=",
        "==",
        "M",                                 /* impossible length */
        "MC4wLjNUd2ZFRTY1OXVmU05zbVM0N2x",   /* a character short */
        "MC4wLjNUd2ZFRTY1OXVmU05zbVM0N2xSM", /* a character long */
        "MC4wLjNUd2ZFRTY1OXVm+05zbVM0N2xS",  /* standard alphabet */
        "MC4wLjNUd2ZFRTY1OXVm/05zbVM0N2xS",
        "MC4wLjNUd2ZFRTY1OXVm.05zbVM0N2xS",
        "MC4wLjNUd2ZFRTY1OXVmU05zbVM0N2xS\n",
        " MC4wLjNUd2ZFRTY1OXVmU05zbVM0N2xS",
        "MC4wLjNUd2ZFRTY1OXVmU05zbVM0N2xS%3D",
        "MC4xNzAwMDAwMDAwMDI2LkpvMnNLZHV2R09WWE1iU3Vmbjl", /* non-zero leftover bits */
        "MC4xNzAwMDAwMDAwMDAxLjEzYWNzTVBkbnJZR1ZBdjNGYVhIZB",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (kvs_sign_verify_keys(SECRET, STORE, S(bad[i]), 0) != KVS_EACCESS)
            TEST_FAIL_("accepted \"%s\"", bad[i]);
    ASSERT_ERR(kvs_sign_verify_keys(SECRET, STORE, (kvs_slice){NULL, 0}, 0), KVS_EACCESS);
    ASSERT_ERR(
        kvs_sign_verify_keys(SECRET, STORE, (kvs_slice){"MC4wLjNUd2ZFRTY1OXVmU05zbVM0\0xS", 32}, 0),
        KVS_EACCESS);

    char huge[4096];
    memset(huge, 'A', sizeof huge);
    ASSERT_ERR(kvs_sign_verify_keys(SECRET, STORE, (kvs_slice){huge, sizeof huge}, 0), KVS_EACCESS);
}

TEST(sign_empty_secret)
{
    /* Signatures made with an empty secret are forgeable, so they never verify. */
    char rec[KVS_HMAC62_MAX + 1], keys[KVS_KEYS_SIG_MAX + 1];
    kvs_sign_record(S(""), S("key"), rec);
    kvs_sign_keys(S(""), STORE, 0, keys);
    ASSERT_ERR(kvs_sign_verify_record(S(""), S("key"), S(rec)), KVS_EACCESS);
    ASSERT_ERR(kvs_sign_verify_record((kvs_slice){NULL, 0}, S("key"), S(rec)), KVS_EACCESS);
    ASSERT_ERR(kvs_sign_verify_keys(S(""), STORE, S(keys), 0), KVS_EACCESS);
    ASSERT_ERR(kvs_sign_verify_keys((kvs_slice){NULL, 0}, STORE, S(keys), 0), KVS_EACCESS);
}

TEST(sign_keys_other_store)
{
    /* The signature covers the store ID: another store's (with the same secret) is refused. */
    char sig[KVS_KEYS_SIG_MAX + 1];
    kvs_slice a = S("aaaaaaaaaaaaaaaaa"), b = S("bbbbbbbbbbbbbbbbb");
    kvs_sign_keys(SECRET, a, 0, sig);
    ASSERT_OK(kvs_sign_verify_keys(SECRET, a, S(sig), 0));
    ASSERT_ERR(kvs_sign_verify_keys(SECRET, b, S(sig), 0), KVS_EACCESS);
    /* A long store ID takes the heap path for the message. */
    char id[300];
    memset(id, 'x', sizeof id);
    kvs_slice big = {id, sizeof id};
    kvs_sign_keys(SECRET, big, 5, sig);
    ASSERT_OK(kvs_sign_verify_keys(SECRET, big, S(sig), 4));
    ASSERT_ERR(kvs_sign_verify_keys(SECRET, a, S(sig), 4), KVS_EACCESS);
}

TEST(sign_signer_matches_one_shot)
{
    /* The signer for many keys must give exactly what kvs_sign_record() gives, key after key
     * (the context is re-initialised between messages, never carried over). */
    /* secrets shorter than, as long as and longer than a SHA-256 block (64 bytes: a longer
     * one is hashed first); keys around the one-block limit (55 bytes) and the longest */
    char block[65], longer[101], k55[56], k56[57], k64[65], k256[257];
    memset(block, 'b', 64), block[64] = '\0';
    memset(longer, 'l', 100), longer[100] = '\0';
    memset(k55, 'k', 55), k55[55] = '\0';
    memset(k56, 'k', 56), k56[56] = '\0';
    memset(k64, 'k', 64), k64[64] = '\0';
    memset(k256, 'k', 256), k256[256] = '\0';
    const char *secrets[] = {
        "hmac-secret-key", "", "x", "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6", block, longer};
    const char *keys[] = {"hmac-message-to-be-authenticated",
                          "INPUT",
                          "a",
                          "",
                          "a.b-c_d!'()",
                          "INPUT",
                          k55,
                          k56,
                          k64,
                          k256};
    for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++) {
        struct kvs_signer *s = NULL;
        ASSERT_OK(kvs_signer_new(kvs_slice_of(secrets[i]), &s));
        for (size_t j = 0; j < sizeof keys / sizeof keys[0]; j++) {
            char want[KVS_HMAC62_MAX + 1], got[KVS_HMAC62_MAX + 1];
            kvs_sign_record(kvs_slice_of(secrets[i]), kvs_slice_of(keys[j]), want);
            kvs_signer_record(s, kvs_slice_of(keys[j]), got);
            ASSERT_STR_EQ(got, want);
        }
        kvs_signer_free(s);
    }
    struct kvs_signer *s = NULL;
    ASSERT_OK(kvs_signer_new(kvs_slice_of("hmac-secret-key"), &s));
    char got[KVS_HMAC62_MAX + 1];
    kvs_signer_record(s, kvs_slice_of("hmac-message-to-be-authenticated"), got);
    ASSERT_STR_EQ(got, "pcVagAsudj8dFqdlg7mG"); /* contract §4.5 */
    kvs_signer_free(s);
    kvs_signer_free(NULL);
}

/* kvstore's expiring record signature (sign.h): made with or without the signer, it opens its
 * record until it expires and nothing else, and is neither a keys signature nor a plain one. */
TEST(sign_record_until)
{
    const int64_t at = 1700000000000;
    char sig[KVS_RECORD_SIG_MAX + 1], fast[KVS_RECORD_SIG_MAX + 1];
    kvs_sign_record_until(SECRET, S("INPUT"), at, sig);
    struct kvs_signer *s = NULL;
    ASSERT_OK(kvs_signer_new_until(SECRET, at, &s));
    kvs_signer_sign(s, S("INPUT"), fast);
    kvs_signer_free(s);
    ASSERT_STR_EQ(fast, sig);
    ASSERT(strlen(sig) > KVS_HMAC62_MAX); /* never taken for a plain one */

    ASSERT_OK(kvs_sign_verify_record_at(SECRET, S("INPUT"), S(sig), at - 1));
    ASSERT_ERR(kvs_sign_verify_record_at(SECRET, S("INPUT"), S(sig), at), KVS_EACCESS);
    ASSERT_ERR(kvs_sign_verify_record_at(SECRET, S("INPUT"), S(sig), INT64_MAX), KVS_EACCESS);
    ASSERT_ERR(kvs_sign_verify_record_at(SECRET, S("INPUT2"), S(sig), 0), KVS_EACCESS);
    ASSERT_ERR(kvs_sign_verify_record_at(S("other-secret"), S("INPUT"), S(sig), 0), KVS_EACCESS);
    ASSERT_ERR(kvs_sign_verify_record_at(S(""), S("INPUT"), S(sig), 0), KVS_EACCESS);
    ASSERT_ERR(kvs_sign_verify_record(SECRET, S("INPUT"), S(sig)), KVS_EACCESS); /* not plain */
    ASSERT_ERR(kvs_sign_verify_keys(SECRET, S("INPUT"), S(sig), 0), KVS_EACCESS);
    /* a keys signature is no record signature, whatever the key */
    char keys[KVS_KEYS_SIG_MAX + 1];
    kvs_sign_keys(SECRET, S("INPUT"), at, keys);
    ASSERT_ERR(kvs_sign_verify_record_at(SECRET, S("INPUT"), S(keys), 0), KVS_EACCESS);
    /* a plain record signature still opens, at any time */
    char plain[KVS_HMAC62_MAX + 1];
    kvs_sign_record(SECRET, S("INPUT"), plain);
    ASSERT_OK(kvs_sign_verify_record_at(SECRET, S("INPUT"), S(plain), INT64_MAX));
    /* a plain signer signs plain signatures */
    ASSERT_OK(kvs_signer_new_until(SECRET, 0, &s));
    kvs_signer_sign(s, S("INPUT"), fast);
    kvs_signer_free(s);
    ASSERT_STR_EQ(fast, plain);
    /* what it verifies: the key list's expiry */
    int64_t until = -1;
    ASSERT_OK(kvs_sign_verify_keys_until(SECRET, S("INPUT"), S(keys), at - 5, &until));
    ASSERT_EQ(until, at);
}
