/* sign.c — signed URLs: HMAC62 and the record and keys-list signatures (see sign.h and
 * shared/api-contract.md §4).
 *
 * Everything a client sends here is untrusted: the signature is decoded into fixed buffers
 * after its length has been checked, and every way of failing returns the same KVS_EACCESS so
 * that a caller cannot tell a bad format from a bad HMAC or an expired one. */

/* The signer below uses OpenSSL's SHA256_* functions, deprecated in OpenSSL 3 in favour of
 * EVP, which cannot copy a digest's state without an allocation (see struct kvs_signer). */
#define OPENSSL_SUPPRESS_DEPRECATED

#include "auth/sign.h"

#include <assert.h>
#include <inttypes.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/log.h"
#include "kvs.h"

static const char base62[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
static const char base64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

#define HMAC62_BYTES 15 /* the first 30 hex digits of the digest are its first 15 bytes */

/* The longest decoded keys-list payload we accept, "0.<19 digits>.<21 chars>", with room to
 * spare; anything longer cannot be one of ours. */
#define PAYLOAD_MAX 48

/* ---- HMAC62 -------------------------------------------------------------------------------- */

/* HMAC-SHA256(SECRET, MSG) into DIGEST. HMAC() fails only when libcrypto cannot allocate or is
 * broken; like kvs_xmalloc we stop rather than hand out a URL that could never verify. */
static void hmac_sha256(kvs_slice secret, kvs_slice msg, unsigned char digest[EVP_MAX_MD_SIZE])
{
    /* HMAC() refuses a NULL key even when it is empty, and takes the key length as an int
     * (secrets are KVS_SECRET_LEN characters). */
    const char *key = secret.p ? secret.p : "";
    const unsigned char *data = (const unsigned char *)(msg.p ? msg.p : "");
    unsigned int len = 0;
    if (secret.n > INT_MAX ||
        HMAC(EVP_sha256(), key, (int)secret.n, data, msg.n, digest, &len) == NULL ||
        len < HMAC62_BYTES) {
        kvs_log_error("HMAC-SHA256 failed");
        abort();
    }
}

/* The HMAC62 text of DIGEST: its first 120 bits in base 62, most significant digit first, "0"
 * for zero. Returns the length. The number is split into three base-62^10 limbs with one
 * 128-bit division (the upper part then fits 64 bits, where dividing by a constant is a
 * multiplication), and the limbs' digits are taken side by side, three independent chains
 * instead of one of 30 dependent steps. (A keys page signs 1,000 record links: digit by digit
 * this was its largest cost after the hashing.) */
static size_t digest_to_hmac62(const unsigned char *digest, char out[KVS_HMAC62_MAX + 1])
{
    const uint64_t limb = 839299365868340224ULL; /* 62^10 */
    uint64_t hi = 0, lo = 0;                     /* the 120 bits: 56 and 64 */
    for (size_t i = 0; i < 7; i++)
        hi = hi << 8 | digest[i];
    for (size_t i = 7; i < HMAC62_BYTES; i++)
        lo = lo << 8 | digest[i];
    unsigned __int128 v = (unsigned __int128)hi << 64 | lo;
    uint64_t upper = (uint64_t)(v / limb); /* < 2^120 / 62^10 < 2^61 */
    uint64_t a = upper / limb, b = upper % limb,
             c = (uint64_t)(v - (unsigned __int128)upper * limb);
    char digits[30];
    for (int i = 9; i >= 0; i--) { /* three chains, in registers */
        digits[i] = base62[a % 62];
        digits[10 + i] = base62[b % 62];
        digits[20 + i] = base62[c % 62];
        a /= 62;
        b /= 62;
        c /= 62;
    }
    size_t skip = 0;
    while (skip < sizeof digits - 1 && digits[skip] == '0')
        skip++;
    size_t n = sizeof digits - skip; /* at most KVS_HMAC62_MAX: a < 62 */
    memcpy(out, digits + skip, n);
    out[n] = '\0';
    return n;
}

size_t kvs_sign_hmac62(kvs_slice secret, kvs_slice msg, char out[KVS_HMAC62_MAX + 1])
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    hmac_sha256(secret, msg, digest);
    return digest_to_hmac62(digest, out);
}

/* ---- a signer for many keys ---------------------------------------------------------------- */

/* A keys page signs up to 1,000 record links with one secret. HMAC-SHA256 (RFC 2104) is
 * SHA256((K ^ opad) || SHA256((K ^ ipad) || msg)), K the secret padded to a 64-byte block:
 * the two padded-key blocks are hashed once here, and each signature starts from copies of
 * those two states, hashing its key and the inner digest (one block each for keys of up to
 * 55 bytes). Through EVP_MAC every signature also re-initialised the MAC, copied a digest
 * context (an allocation and a free in OpenSSL 3.0) and finalised through providers: ~7,000
 * instructions a key, against ~4,000 here. */
struct kvs_signer {
    SHA256_CTX inner; /* after the block K ^ ipad (and, expiring, the message's "1.<exp>.") */
    SHA256_CTX outer; /* after the block K ^ opad */
    char prefix[24];  /* expiring: "1.<exp>."; "" for plain signatures */
    size_t prefix_n;
};

/* SHA256_* fail only for a NULL context; like kvs_xmalloc we stop rather than hand out a URL
 * that could never verify. */
static void sha_ok(int ok)
{
    if (ok != 1) {
        kvs_log_error("SHA-256 failed");
        abort();
    }
}

int kvs_signer_new(kvs_slice secret, struct kvs_signer **out)
{
    unsigned char k[SHA256_CBLOCK] = {0}, pad[SHA256_CBLOCK];
    if (secret.n > SHA256_CBLOCK) /* a long key is its digest (RFC 2104) */
        SHA256((const unsigned char *)secret.p, secret.n, k);
    else if (secret.n > 0)
        memcpy(k, secret.p, secret.n);
    struct kvs_signer *s = kvs_xmalloc(sizeof *s);
    for (size_t i = 0; i < SHA256_CBLOCK; i++)
        pad[i] = k[i] ^ 0x36;
    sha_ok(SHA256_Init(&s->inner));
    sha_ok(SHA256_Update(&s->inner, pad, sizeof pad));
    for (size_t i = 0; i < SHA256_CBLOCK; i++)
        pad[i] = k[i] ^ 0x5c;
    sha_ok(SHA256_Init(&s->outer));
    sha_ok(SHA256_Update(&s->outer, pad, sizeof pad));
    OPENSSL_cleanse(k, sizeof k);
    OPENSSL_cleanse(pad, sizeof pad);
    s->prefix[0] = '\0';
    s->prefix_n = 0;
    *out = s;
    return 0;
}

int kvs_signer_new_until(kvs_slice secret, int64_t expires_at_ms, struct kvs_signer **out)
{
    int rc = kvs_signer_new(secret, out);
    if (rc != 0 || expires_at_ms <= 0)
        return rc;
    struct kvs_signer *s = *out;
    int n = snprintf(s->prefix, sizeof s->prefix, "1.%" PRId64 ".", expires_at_ms);
    assert(n > 0 && (size_t)n < sizeof s->prefix);
    s->prefix_n = (size_t)n;
    sha_ok(SHA256_Update(&s->inner, s->prefix, s->prefix_n));
    return 0;
}

void kvs_signer_record(struct kvs_signer *s, kvs_slice key, char out[KVS_HMAC62_MAX + 1])
{
    unsigned char inner[SHA256_DIGEST_LENGTH], digest[SHA256_DIGEST_LENGTH];
    SHA256_CTX c = s->inner;
    sha_ok(SHA256_Update(&c, key.p ? key.p : "", key.n));
    sha_ok(SHA256_Final(inner, &c));
    c = s->outer;
    sha_ok(SHA256_Update(&c, inner, sizeof inner));
    sha_ok(SHA256_Final(digest, &c));
    OPENSSL_cleanse(&c, sizeof c);
    digest_to_hmac62(digest, out);
}

static size_t b64url_encode(const unsigned char *in, size_t n, char *out);

/* The expiring signature's text: base64url("<PREFIX><HMAC62>"), PREFIX being "1.<exp>.". */
static void wrap_expiring(const char *prefix, size_t prefix_n, const char *hmac,
                          char out[KVS_RECORD_SIG_MAX + 1])
{
    char payload[PAYLOAD_MAX + 1];
    int pn = snprintf(payload, sizeof payload, "%.*s%s", (int)prefix_n, prefix, hmac);
    assert(pn > 0 && pn <= PAYLOAD_MAX);
    b64url_encode((const unsigned char *)payload, (size_t)pn, out);
}

void kvs_signer_sign(struct kvs_signer *s, kvs_slice key, char out[KVS_RECORD_SIG_MAX + 1])
{
    char hmac[KVS_HMAC62_MAX + 1];
    kvs_signer_record(s, key, hmac); /* over PREFIX + KEY: the inner state holds PREFIX */
    if (s->prefix_n == 0)
        memcpy(out, hmac, strlen(hmac) + 1);
    else
        wrap_expiring(s->prefix, s->prefix_n, hmac, out);
}

void kvs_signer_free(struct kvs_signer *s)
{
    if (s == NULL)
        return;
    OPENSSL_cleanse(s, sizeof *s); /* the states are as good as the secret */
    free(s);
}

/* Whether GOT is the HMAC62 WANT (WANT_N characters), in time independent of where they
 * differ and of WANT's length: both are compared as zero-padded fixed-size buffers. */
static int hmac62_eq(const char *want, size_t want_n, kvs_slice got)
{
    if (got.n > KVS_HMAC62_MAX)
        return 0; /* says only that the input was too long, nothing about WANT */
    char a[KVS_HMAC62_MAX] = {0}, b[KVS_HMAC62_MAX] = {0};
    memcpy(a, want, want_n);
    if (got.n > 0)
        memcpy(b, got.p, got.n);
    return (CRYPTO_memcmp(a, b, sizeof a) | (want_n ^ got.n)) == 0;
}

/* ---- records ------------------------------------------------------------------------------- */

void kvs_sign_record(kvs_slice secret, kvs_slice key, char out[KVS_HMAC62_MAX + 1])
{
    kvs_sign_hmac62(secret, key, out);
}

int kvs_sign_verify_record(kvs_slice secret, kvs_slice key, kvs_slice sig)
{
    /* Anyone can sign with an empty secret: a store without one (damaged, or from a bug)
     * must not become readable by everybody. */
    if (secret.n == 0)
        return KVS_EACCESS;
    char want[KVS_HMAC62_MAX + 1];
    size_t n = kvs_sign_hmac62(secret, key, want);
    return hmac62_eq(want, n, sig) ? 0 : KVS_EACCESS;
}

/* ---- base64url ----------------------------------------------------------------------------- */

/* Encode N bytes at IN as unpadded base64url into OUT, which holds at least
 * (4 * N + 2) / 3 + 1 bytes. Returns the length written (a NUL follows). */
static size_t b64url_encode(const unsigned char *in, size_t n, char *out)
{
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = base64url[v >> 18];
        out[o++] = base64url[(v >> 12) & 63];
        out[o++] = base64url[(v >> 6) & 63];
        out[o++] = base64url[v & 63];
    }
    if (n - i > 0) {
        uint32_t v = (uint32_t)in[i] << 16 | (n - i > 1 ? (uint32_t)in[i + 1] << 8 : 0);
        out[o++] = base64url[v >> 18];
        out[o++] = base64url[(v >> 12) & 63];
        if (n - i > 1)
            out[o++] = base64url[(v >> 6) & 63];
    }
    out[o] = '\0';
    return o;
}

static int b64url_value(unsigned char c)
{
    const char *p = c ? strchr(base64url, c) : NULL;
    return p ? (int)(p - base64url) : -1;
}

/* Decode base64url IN, with or without its '=' padding, into OUT (room for CAP bytes).
 * Refuses other alphabets, wrong padding, impossible lengths, and non-zero leftover bits, so
 * each payload has exactly one accepted spelling besides its padded form.
 * Returns the decoded length, or -1. */
static long b64url_decode(kvs_slice in, unsigned char *out, size_t cap)
{
    size_t n = in.n, pad = 0;
    while (n > 0 && pad < 2 && in.p[n - 1] == '=') {
        n--;
        pad++;
    }
    if (n % 4 == 1 || (pad > 0 && (n + pad) % 4 != 0))
        return -1; /* no base64 text has that length */
    if (n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0) > cap)
        return -1; /* every 4 characters make 3 bytes, a tail of 2 or 3 makes 1 or 2 */
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64url_value((unsigned char)in.p[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0)
        return -1; /* leftover bits must be zero */
    return (long)o;
}

/* ---- keys lists ---------------------------------------------------------------------------- */

/* HMAC62(SECRET, "0.<EXPIRES>.<STORE_ID>") into OUT; EXPIRES is the decimal text as sent, so
 * the check covers exactly the bytes the signer covered. Returns the length. */
static size_t keys_hmac(kvs_slice secret, kvs_slice store_id, kvs_slice expires,
                        char out[KVS_HMAC62_MAX + 1])
{
    /* "0." + expires + "." + id. IDs are 17 characters, but nothing here depends on it. */
    size_t n = 2 + expires.n + 1 + store_id.n;
    char stack[128];
    char *msg = n <= sizeof stack ? stack : kvs_xmalloc(n);
    memcpy(msg, "0.", 2);
    memcpy(msg + 2, expires.p, expires.n);
    msg[2 + expires.n] = '.';
    if (store_id.n > 0)
        memcpy(msg + 3 + expires.n, store_id.p, store_id.n);
    size_t len = kvs_sign_hmac62(secret, (kvs_slice){msg, n}, out);
    if (msg != stack)
        free(msg);
    return len;
}

void kvs_sign_keys(kvs_slice secret, kvs_slice store_id, int64_t expires_at_ms,
                   char out[KVS_KEYS_SIG_MAX + 1])
{
    assert(expires_at_ms >= 0);
    char expires[24], hmac[KVS_HMAC62_MAX + 1];
    int en = snprintf(expires, sizeof expires, "%" PRId64, expires_at_ms);
    size_t hn = keys_hmac(secret, store_id, (kvs_slice){expires, (size_t)en}, hmac);
    char payload[PAYLOAD_MAX + 1];
    int pn = snprintf(payload, sizeof payload, "0.%s.%s", expires, hmac);
    assert(pn > 0 && (size_t)pn == 3 + (size_t)en + hn && pn <= PAYLOAD_MAX);
    b64url_encode((const unsigned char *)payload, (size_t)pn, out); /* 64 chars for 48 bytes */
}

/* Parse the decimal expiresAt E: 1 to 19 digits, no sign, no overflow. Returns 0 or -1. */
static int parse_expires(kvs_slice e, int64_t *out)
{
    if (e.n == 0 || e.n > 19)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < e.n; i++) {
        if (e.p[i] < '0' || e.p[i] > '9')
            return -1;
        v = v * 10 + (uint64_t)(e.p[i] - '0'); /* 19 digits stay below 2^64 */
    }
    if (v > INT64_MAX)
        return -1;
    *out = (int64_t)v;
    return 0;
}

/* Split PAYLOAD "<version>.<expires>.<hmac>" into its three parts. Returns 0, or -1 unless
 * there are exactly two dots. */
static int split3(kvs_slice payload, kvs_slice part[3])
{
    size_t k = 0;
    const char *start = payload.p, *end = payload.p + payload.n;
    for (const char *c = payload.p; c < end; c++) {
        if (*c != '.')
            continue;
        if (k == 2)
            return -1;
        part[k++] = (kvs_slice){start, (size_t)(c - start)};
        start = c + 1;
    }
    if (k != 2)
        return -1;
    part[2] = (kvs_slice){start, (size_t)(end - start)};
    return 0;
}

/* Decode SIG as base64url("<VERSION>.<expires>.<hmac>") into PAYLOAD, split into PART and
 * *EXPIRES. Returns 0 or -1 (not of that shape). */
static int versioned(kvs_slice sig, const char *version, unsigned char payload[PAYLOAD_MAX],
                     kvs_slice part[3], int64_t *expires)
{
    long n = b64url_decode(sig, payload, PAYLOAD_MAX);
    if (n <= 0 || split3((kvs_slice){(const char *)payload, (size_t)n}, part) != 0 ||
        !kvs_slice_eq_str(part[0], version) || parse_expires(part[1], expires) != 0)
        return -1;
    return 0;
}

int kvs_sign_verify_keys_until(kvs_slice secret, kvs_slice store_id, kvs_slice sig, int64_t now_ms,
                               int64_t *expires_at_ms)
{
    if (secret.n == 0)
        return KVS_EACCESS; /* as in kvs_sign_verify_record() */
    unsigned char payload[PAYLOAD_MAX];
    kvs_slice part[3];
    int64_t expires;
    if (versioned(sig, "0", payload, part, &expires) != 0)
        return KVS_EACCESS;
    char want[KVS_HMAC62_MAX + 1];
    size_t wn = keys_hmac(secret, store_id, part[1], want);
    if (!hmac62_eq(want, wn, part[2]))
        return KVS_EACCESS;
    if (expires != 0 && now_ms >= expires)
        return KVS_EACCESS; /* expired */
    *expires_at_ms = expires;
    return 0;
}

int kvs_sign_verify_keys(kvs_slice secret, kvs_slice store_id, kvs_slice sig, int64_t now_ms)
{
    int64_t expires;
    return kvs_sign_verify_keys_until(secret, store_id, sig, now_ms, &expires);
}

/* ---- expiring record signatures (a kvstore addition, sign.h) -------------------------------- */

void kvs_sign_record_until(kvs_slice secret, kvs_slice key, int64_t expires_at_ms,
                           char out[KVS_RECORD_SIG_MAX + 1])
{
    assert(expires_at_ms > 0);
    char prefix[24], hmac[KVS_HMAC62_MAX + 1];
    int pn = snprintf(prefix, sizeof prefix, "1.%" PRId64 ".", expires_at_ms);
    size_t n = (size_t)pn + key.n;
    char *msg = kvs_xmalloc(n ? n : 1);
    memcpy(msg, prefix, (size_t)pn);
    if (key.n > 0)
        memcpy(msg + pn, key.p, key.n);
    kvs_sign_hmac62(secret, (kvs_slice){msg, n}, hmac);
    free(msg);
    wrap_expiring(prefix, (size_t)pn, hmac, out);
}

int kvs_sign_verify_record_at(kvs_slice secret, kvs_slice key, kvs_slice sig, int64_t now_ms)
{
    if (secret.n == 0)
        return KVS_EACCESS; /* as in kvs_sign_verify_record() */
    if (kvs_sign_verify_record(secret, key, sig) == 0)
        return 0;
    unsigned char payload[PAYLOAD_MAX];
    kvs_slice part[3];
    int64_t expires;
    if (versioned(sig, "1", payload, part, &expires) != 0 || expires == 0)
        return KVS_EACCESS;
    /* HMAC62(secret, "1.<expires as sent>.<key>"): the bytes the signer covered */
    size_t n = 2 + part[1].n + 1 + key.n;
    char *msg = kvs_xmalloc(n);
    memcpy(msg, "1.", 2);
    memcpy(msg + 2, part[1].p, part[1].n);
    msg[2 + part[1].n] = '.';
    if (key.n > 0)
        memcpy(msg + 3 + part[1].n, key.p, key.n);
    char want[KVS_HMAC62_MAX + 1];
    size_t wn = kvs_sign_hmac62(secret, (kvs_slice){msg, n}, want);
    free(msg);
    if (!hmac62_eq(want, wn, part[2]) || now_ms >= expires)
        return KVS_EACCESS;
    return 0;
}
