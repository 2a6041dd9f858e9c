/* token.c — API token generation and hashing (see token.h). */
#include "auth/token.h"

#include <openssl/sha.h>
#include <string.h>

#include "common/random.h"

int kvs_token_generate(char out[KVS_TOKEN_LEN + 1])
{
    size_t plen = strlen(KVS_TOKEN_PREFIX);
    memcpy(out, KVS_TOKEN_PREFIX, plen);
    return kvs_random_alnum(out + plen, KVS_TOKEN_LEN - plen);
}

void kvs_token_hash(kvs_slice token, uint8_t out[KVS_TOKEN_HASH_LEN])
{
    SHA256((const unsigned char *)token.p, token.n, out);
}
