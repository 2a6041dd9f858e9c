/* coded.h — what the tests of content codings share (test_encoding.c, test_decoder.c):
 * the forms a coding comes in, deterministic data, and the reference encoders (zlib,
 * libbrotlienc), so that decoders are checked against them rather than against themselves.
 * Static helpers: include it once per test file. */
#ifndef KVS_TESTS_UNIT_CODED_H
#define KVS_TESTS_UNIT_CODED_H

#include <brotli/encode.h>
#include <stdint.h>
#include <stdlib.h>
#include <zlib.h>

#include "common/encoding.h"
#include "test.h"

#define KiB 1024
#define MiB (1024 * 1024)

/* A coding as the tests produce it: deflate comes in its zlib and its raw form. */
enum form { GZIP, ZLIB, RAW, BR, N_FORMS };

static const char *form_name[N_FORMS] = {"gzip", "deflate/zlib", "deflate/raw", "br"};

static inline enum kvs_encoding form_enc(enum form f)
{
    return f == GZIP ? KVS_ENC_GZIP : f == BR ? KVS_ENC_BR : KVS_ENC_DEFLATE;
}

/* ---- helpers ------------------------------------------------------------------------------- */

/* A deterministic generator (xorshift64*), so failures reproduce. */
static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static inline uint64_t rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1du;
}

static inline void fill_random(unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(rng() >> 56);
}

/* Text-like bytes that compress well but not trivially. */
static inline void fill_compressible(unsigned char *p, size_t n)
{
    static const char words[][8] = {"alpha ", "beta ", "gamma ", "delta\n", "{\"k\":1}", "zeta "};
    size_t i = 0;
    while (i < n) {
        const char *w = words[rng() % 6];
        for (size_t j = 0; w[j] && i < n; j++)
            p[i++] = (unsigned char)w[j];
    }
}

static inline void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    ASSERT(p != NULL);
    return p;
}

/* Compress N bytes at IN in form F at QUALITY (zlib: 1 to 9, else 6), Brotli with window
 * LGWIN; returns a malloc'd buffer and its length in *OUT_N. */
static inline unsigned char *encode_with(enum form f, const void *in, size_t n, int quality, int lgwin,
                                  size_t *out_n)
{
    if (f == BR) {
        size_t cap = BrotliEncoderMaxCompressedSize(n);
        cap = cap ? cap : n + 1024;
        unsigned char *out = xmalloc(cap);
        ASSERT(BrotliEncoderCompress(quality, lgwin, BROTLI_MODE_GENERIC, n, in, &cap, out) ==
               BROTLI_TRUE);
        *out_n = cap;
        return out;
    }
    int bits = f == GZIP ? 16 + MAX_WBITS : f == ZLIB ? MAX_WBITS : -MAX_WBITS;
    z_stream z = {0};
    int level = quality >= 1 && quality <= 9 ? quality : 6;
    ASSERT_EQ(deflateInit2(&z, level, Z_DEFLATED, bits, 8, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = deflateBound(&z, n);
    unsigned char *out = xmalloc(cap);
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    ASSERT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
    *out_n = z.total_out;
    ASSERT_EQ(deflateEnd(&z), Z_OK);
    return out;
}

#endif
