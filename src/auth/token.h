/* token.h — API tokens: generation and the one-way hash under which they are stored.
 *
 * Tokens are shown once when created and stored only as SHA-256 digests, so a copy of the
 * data directory does not hand out working tokens. A token has high entropy (40 random
 * alphanumerics, ~238 bits), so a plain, unsalted digest is enough to make it unrecoverable. */
#ifndef KVS_AUTH_TOKEN_H
#define KVS_AUTH_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "common/slice.h"

#define KVS_TOKEN_PREFIX "kvs_"
#define KVS_TOKEN_LEN 44 /* "kvs_" + 40 alphanumerics */
#define KVS_TOKEN_HASH_LEN 32
#define KVS_TOKEN_PREFIX_MAX 12 /* the non-secret part of a token kept to name it by */
#define KVS_TOKEN_SCOPE_MAX 4096 /* a token's scope, as canonical JSON text (auth/scope.h) */

/* A new token into OUT (KVS_TOKEN_LEN characters and a NUL). Returns 0 or KVS_EIO. */
__attribute__((warn_unused_result)) int kvs_token_generate(char out[KVS_TOKEN_LEN + 1]);

/* The SHA-256 digest of TOKEN's bytes into OUT. Any bytes are accepted (a token chosen by the
 * operator through $KVS_ADMIN_TOKEN need not look like a generated one). */
void kvs_token_hash(kvs_slice token, uint8_t out[KVS_TOKEN_HASH_LEN]);

/* The prefix of TOKEN kept beside its hash, so that a token can be listed and revoked by a
 * name that does not open anything: the first KVS_TOKEN_PREFIX_MAX characters ("kvs_" and 8
 * random ones, ~48 of its 238 bits), but never more than half of the token, so that a short
 * token chosen by an operator keeps most of itself secret. Into OUT, NUL-terminated; returns
 * its length (0 for a token of one character). */
size_t kvs_token_prefix(kvs_slice token, char out[KVS_TOKEN_PREFIX_MAX + 1]);

#endif
