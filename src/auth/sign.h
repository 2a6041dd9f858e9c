/* sign.h — signed URLs: the HMAC scheme of the Apify clients (shared/api-contract.md §4).
 *
 * A record signature is HMAC62(secret, key); a keys-list signature is
 * base64url("0.<expiresAtMs>.<HMAC62(secret, "0.<expiresAtMs>.<storeId>")>"), where HMAC62 is
 * HMAC-SHA256, its first 30 hex digits read as a 120-bit number written in base 62.
 * Verification compares in constant time and never says which part failed. */
#ifndef KVS_AUTH_SIGN_H
#define KVS_AUTH_SIGN_H

#include <stddef.h>
#include <stdint.h>

#include "common/slice.h"

#define KVS_HMAC62_MAX 21  /* 120 bits need at most 21 base-62 digits */
#define KVS_KEYS_SIG_MAX 64 /* base64url of "0.<up to 20 digits>.<21 chars>" fits easily */

/* HMAC62(SECRET, MSG) into OUT, NUL-terminated; returns its length (1..21). */
size_t kvs_sign_hmac62(kvs_slice secret, kvs_slice msg, char out[KVS_HMAC62_MAX + 1]);

/* The signature of record KEY in a store whose secret is SECRET, into OUT (NUL-terminated). */
void kvs_sign_record(kvs_slice secret, kvs_slice key, char out[KVS_HMAC62_MAX + 1]);

/* A signer of records for one secret, for signing many keys in a row (a page of keys with
 * their recordPublicUrl): the HMAC key schedule is done once, not once per key.
 * Create with kvs_signer_new(), release with kvs_signer_free(); one thread at a time. */
struct kvs_signer;

/* A signer for SECRET into *OUT. Returns 0 or KVS_ENOMEM. */
__attribute__((warn_unused_result)) int kvs_signer_new(kvs_slice secret,
                                                       struct kvs_signer **out);

/* The signature of record KEY, as kvs_sign_record() with the signer's secret. */
void kvs_signer_record(struct kvs_signer *s, kvs_slice key, char out[KVS_HMAC62_MAX + 1]);

/* Release S. Accepts NULL. */
void kvs_signer_free(struct kvs_signer *s);

/* The keys-list signature for store STORE_ID, valid until EXPIRES_AT_MS (0 = forever), into
 * OUT (unpadded base64url, NUL-terminated). */
void kvs_sign_keys(kvs_slice secret, kvs_slice store_id, int64_t expires_at_ms,
                   char out[KVS_KEYS_SIG_MAX + 1]);

/* Check SIG for record KEY. Returns 0 when it is the right signature, else KVS_EACCESS. */
__attribute__((warn_unused_result)) int kvs_sign_verify_record(kvs_slice secret, kvs_slice key,
                                                               kvs_slice sig);

/* Check SIG for the key list of STORE_ID at time NOW_MS: base64url with or without '='
 * padding, version 0, a matching HMAC, and not expired (expiresAt 0 or NOW_MS < expiresAt).
 * Returns 0 or KVS_EACCESS. */
__attribute__((warn_unused_result)) int kvs_sign_verify_keys(kvs_slice secret, kvs_slice store_id,
                                                             kvs_slice sig, int64_t now_ms);

#endif
