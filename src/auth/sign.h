/* sign.h — signed URLs: the HMAC scheme of the Apify clients (shared/api-contract.md §4).
 *
 * A record signature is HMAC62(secret, key); a keys-list signature is
 * base64url("0.<expiresAtMs>.<HMAC62(secret, "0.<expiresAtMs>.<storeId>")>"), where HMAC62 is
 * HMAC-SHA256, its first 30 hex digits read as a 120-bit number written in base 62.
 * Verification compares in constant time and never says which part failed.
 *
 * kvstore adds an expiring record signature, for the record links of a key list opened by an
 * expiring keys signature (whatever a link grants ends with it):
 * base64url("1.<expiresAtMs>.<HMAC62(secret, "1.<expiresAtMs>.<key>")>"). Version 1 is never
 * a keys signature (version 0) and the other way round, and a plain record signature is
 * base 62 of at most 21 characters; a record's ?signature= may be either kind. */
#ifndef KVS_AUTH_SIGN_H
#define KVS_AUTH_SIGN_H

#include <stddef.h>
#include <stdint.h>

#include "common/slice.h"

#define KVS_HMAC62_MAX 21  /* 120 bits need at most 21 base-62 digits */
#define KVS_KEYS_SIG_MAX 64 /* base64url of "0.<up to 20 digits>.<21 chars>" fits easily */
#define KVS_RECORD_SIG_MAX 64 /* a record signature of either kind */

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

/* A signer of expiring record signatures (valid until EXPIRES_AT_MS; 0 = plain ones, as
 * kvs_signer_new) into *OUT. Returns 0 or KVS_ENOMEM. */
__attribute__((warn_unused_result)) int kvs_signer_new_until(kvs_slice secret,
                                                             int64_t expires_at_ms,
                                                             struct kvs_signer **out);

/* The signature of record KEY of the kind S makes: plain for kvs_signer_new(), expiring for
 * kvs_signer_new_until(). */
void kvs_signer_sign(struct kvs_signer *s, kvs_slice key, char out[KVS_RECORD_SIG_MAX + 1]);

/* Release S. Accepts NULL. */
void kvs_signer_free(struct kvs_signer *s);

/* The expiring signature of record KEY, valid until EXPIRES_AT_MS (> 0), into OUT. */
void kvs_sign_record_until(kvs_slice secret, kvs_slice key, int64_t expires_at_ms,
                           char out[KVS_RECORD_SIG_MAX + 1]);

/* Check SIG for record KEY at time NOW_MS: a plain record signature, or an expiring one that
 * has not expired (base64url with or without padding). Returns 0 or KVS_EACCESS. */
__attribute__((warn_unused_result)) int kvs_sign_verify_record_at(kvs_slice secret, kvs_slice key,
                                                                  kvs_slice sig, int64_t now_ms);

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

/* As kvs_sign_verify_keys(), and on success the signature's expiresAt (0 = never) into
 * *EXPIRES_AT_MS. */
__attribute__((warn_unused_result)) int kvs_sign_verify_keys_until(kvs_slice secret,
                                                                   kvs_slice store_id,
                                                                   kvs_slice sig, int64_t now_ms,
                                                                   int64_t *expires_at_ms);

#endif
