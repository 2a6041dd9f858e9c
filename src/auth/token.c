/* token.c — API token generation and hashing (see token.h). */
#include "auth/token.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/random.h"

int kvs_token_generate(char out[KVS_TOKEN_LEN + 1])
{
    size_t plen = strlen(KVS_TOKEN_PREFIX);
    memcpy(out, KVS_TOKEN_PREFIX, plen);
    return kvs_random_alnum(out + plen, KVS_TOKEN_LEN - plen);
}

/* Every authenticated request hashes its token, so the one-shot SHA256() is too slow here:
 * in OpenSSL 3 it looks the algorithm up and allocates a context on each call (about 4,000 of
 * the 6,000 instructions it took per request). The algorithm is fetched once, and each
 * thread keeps its own context. */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;
static pthread_key_t ctx_key; /* the thread's EVP_MD_CTX, freed when the thread ends */

static void free_ctx(void *ctx)
{
    EVP_MD_CTX_free(ctx);
}

static void fetch_sha256(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (pthread_key_create(&ctx_key, free_ctx) != 0) {
        EVP_MD_free(sha256_md);
        sha256_md = NULL;
    }
}

static void die(const char *what)
{
    /* SHA-256 is part of every libcrypto: failing here means the library is broken or memory
     * is exhausted, and a server that cannot check tokens must not go on guessing. */
    fprintf(stderr, "kvs: %s failed; aborting\n", what);
    abort();
}

void kvs_token_hash(kvs_slice token, uint8_t out[KVS_TOKEN_HASH_LEN])
{
    pthread_once(&sha256_once, fetch_sha256);
    if (sha256_md == NULL)
        die("fetching SHA-256");
    EVP_MD_CTX *sha256_ctx = pthread_getspecific(ctx_key);
    if (sha256_ctx == NULL) {
        if ((sha256_ctx = EVP_MD_CTX_new()) == NULL || pthread_setspecific(ctx_key, sha256_ctx))
            die("allocating a digest context");
    }
    unsigned int n = 0;
    if (EVP_DigestInit_ex2(sha256_ctx, sha256_md, NULL) != 1 ||
        EVP_DigestUpdate(sha256_ctx, token.p, token.n) != 1 ||
        EVP_DigestFinal_ex(sha256_ctx, out, &n) != 1 || n != KVS_TOKEN_HASH_LEN)
        die("SHA-256");
}

size_t kvs_token_prefix(kvs_slice token, char out[KVS_TOKEN_PREFIX_MAX + 1])
{
    size_t n = token.n / 2;
    if (n > KVS_TOKEN_PREFIX_MAX)
        n = KVS_TOKEN_PREFIX_MAX;
    memcpy(out, token.p, n);
    out[n] = '\0';
    return n;
}
