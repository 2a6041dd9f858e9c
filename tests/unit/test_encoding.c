/* test_encoding.c — Content-Encoding parsing, Accept-Encoding matching and bounded decoding
 * (src/common/encoding.c).
 *
 * Compressed inputs are made here with zlib and libbrotlienc, so the decoder is checked
 * against the reference encoders rather than against itself. */
#include <brotli/encode.h>
#include <stdint.h>
#include <sys/resource.h>
#include <unistd.h>
#include <zlib.h>

#include "coded.h"
#include "common/encoding.h"
#include "test.h"

#define S(lit) kvs_slice_of(lit)

/* Compress N bytes at IN in form F at the default settings (coded.h). */
static unsigned char *encode(enum form f, const void *in, size_t n, size_t *out_n)
{
    return encode_with(f, in, n, 6, BROTLI_DEFAULT_WINDOW, out_n);
}

static kvs_slice sl(const void *p, size_t n)
{
    return (kvs_slice){(const char *)p, n};
}

/* Decode IN (form F) into a buffer capped at CAP; returns the code, the bytes in OUT. */
static int decode_capped(enum form f, const void *in, size_t n, size_t cap, struct kvs_buf *out)
{
    kvs_buf_init(out, cap);
    int rc = kvs_decode(form_enc(f), sl(in, n), out, 0);
    ASSERT(out->n <= cap);
    ASSERT(out->cap <= cap + 1); /* never more memory than the cap (and its NUL) */
    return rc;
}

/* Check every way of decoding DATA[N] compressed in form F: into a buffer, into one capped
 * exactly at N, into one a byte too small, and in check-only mode with the same caps. */
static void round_trip(enum form f, const unsigned char *data, size_t n)
{
    size_t zn;
    unsigned char *z = encode(f, data, n, &zn);
    struct kvs_buf out;
    int rc = decode_capped(f, z, zn, n + 100, &out);
    if (rc != 0)
        TEST_FAIL_("%s, %zu bytes: %s", form_name[f], n, kvs_errname(rc));
    ASSERT_EQ(out.n, n);
    ASSERT(n == 0 || memcmp(out.p, data, n) == 0);
    kvs_buf_free(&out);

    ASSERT_OK(decode_capped(f, z, zn, n, &out));
    ASSERT_EQ(out.n, n);
    kvs_buf_free(&out);
    if (n > 0) {
        ASSERT_ERR(decode_capped(f, z, zn, n - 1, &out), KVS_ETOOBIG);
        kvs_buf_free(&out);
    }

    ASSERT_OK(kvs_decode(form_enc(f), sl(z, zn), NULL, n));
    if (n > 0)
        ASSERT_ERR(kvs_decode(form_enc(f), sl(z, zn), NULL, n - 1), KVS_ETOOBIG);
    free(z);
}

static void round_trip_all(void (*fill)(unsigned char *, size_t), size_t n)
{
    unsigned char *data = xmalloc(n);
    fill(data, n);
    for (enum form f = 0; f < N_FORMS; f++)
        round_trip(f, data, n);
    free(data);
}

/* ---- Content-Encoding ---------------------------------------------------------------------- */

TEST(encoding_parse)
{
    static const struct {
        const char *text;
        enum kvs_encoding enc;
    } good[] = {
        {"", KVS_ENC_IDENTITY},
        {"   ", KVS_ENC_IDENTITY},
        {"identity", KVS_ENC_IDENTITY},
        {"IDENTITY", KVS_ENC_IDENTITY},
        {"gzip", KVS_ENC_GZIP},
        {" gzip ", KVS_ENC_GZIP},
        {"GZip", KVS_ENC_GZIP},
        {"x-gzip", KVS_ENC_GZIP},
        {"X-GZIP", KVS_ENC_GZIP},
        {"deflate", KVS_ENC_DEFLATE},
        {"Deflate", KVS_ENC_DEFLATE},
        {"br", KVS_ENC_BR},
        {"BR", KVS_ENC_BR},
        {"\tbr\t", KVS_ENC_BR},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        enum kvs_encoding e = (enum kvs_encoding)99; /* neither of the values */
        int rc = kvs_encoding_parse(S(good[i].text), &e);
        if (rc != 0 || e != good[i].enc)
            TEST_FAIL_("\"%s\": rc %s, encoding %d", good[i].text, kvs_errname(rc), (int)e);
    }
    enum kvs_encoding e;
    ASSERT_OK(kvs_encoding_parse((kvs_slice){NULL, 0}, &e));
    ASSERT_EQ(e, KVS_ENC_IDENTITY);

    static const char *bad[] = {
        "bla",   "gzip, br", "gzip,",  ",gzip",    "identity, gzip", "compress",
        "zstd",  "gzi",      "gzipp",  "br;q=1",   "x-br",           "x-deflate",
        "g zip", "*",        "gzip\n", "\"gzip\"", "deflate-raw",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (kvs_encoding_parse(S(bad[i]), &e) != KVS_EENCODING)
            TEST_FAIL_("\"%s\" was accepted", bad[i]);
    ASSERT_ERR(kvs_encoding_parse(sl("gzip\0", 5), &e), KVS_EENCODING);
    ASSERT_ERR(kvs_encoding_parse(sl("\0", 1), &e), KVS_EENCODING);
}

TEST(encoding_name)
{
    ASSERT(kvs_encoding_name(KVS_ENC_IDENTITY) == NULL);
    ASSERT_STR_EQ(kvs_encoding_name(KVS_ENC_GZIP), "gzip");
    ASSERT_STR_EQ(kvs_encoding_name(KVS_ENC_DEFLATE), "deflate");
    ASSERT_STR_EQ(kvs_encoding_name(KVS_ENC_BR), "br");
    ASSERT(kvs_encoding_name((enum kvs_encoding)42) == NULL);
    for (enum kvs_encoding enc = KVS_ENC_GZIP; enc <= KVS_ENC_BR; enc++) {
        enum kvs_encoding back;
        ASSERT_OK(kvs_encoding_parse(S(kvs_encoding_name(enc)), &back));
        ASSERT_EQ(back, enc);
    }
}

/* ---- Accept-Encoding ----------------------------------------------------------------------- */

/* One row: a header and whether it allows gzip, deflate and br (identity is always allowed). */
struct accept_row {
    const char *header;
    int gzip, deflate, br;
};

static const struct accept_row accept_rows[] = {
    {"", 0, 0, 0}, /* present but empty: identity only */
    {"gzip", 1, 0, 0},
    {"gzip, deflate, br", 1, 1, 1},
    {"gzip, compress, deflate, br", 1, 1, 1}, /* axios's default */
    {"GZIP", 1, 0, 0},
    {"Br", 0, 0, 1},
    {"x-gzip", 1, 0, 0},
    {"identity", 0, 0, 0},
    {"*", 1, 1, 1},
    {"*;q=0", 0, 0, 0},
    {"*, gzip;q=0", 0, 1, 1},
    {"gzip;q=0, *", 0, 1, 1},
    {"br;q=1.0, *;q=0", 0, 0, 1},
    {"gzip;q=0", 0, 0, 0},
    {"gzip;q=0.", 0, 0, 0},
    {"gzip;q=0.000", 0, 0, 0},
    {"gzip;q=0.001", 1, 0, 0},
    {"gzip;q=1", 1, 0, 0},
    {"gzip;q=1.000", 1, 0, 0},
    {"gzip;Q=0", 0, 0, 0},
    {"gzip ; q=0.5", 1, 0, 0},
    {"gzip;q=0.5;level=9", 1, 0, 0},
    {"gzip;level=9;q=0", 0, 0, 0},
    {"gzip;q=abc", 0, 0, 0}, /* a garbled weight counts as a refusal */
    {"gzip;q=1.5", 0, 0, 0},
    {"gzip;q=2", 0, 0, 0},
    {"gzip;q=0.0001", 0, 0, 0},
    {"gzip;q=", 0, 0, 0},
    {"gzip;q=\"1\"", 0, 0, 0},
    {"gzip;", 0, 0, 0},
    {"gzip q=0", 0, 0, 0}, /* malformed element: ignored */
    {"br, gzip q=0", 0, 0, 1},
    {"gzip;q=0, gzip", 0, 0, 0}, /* listed twice: the refusal wins */
    {"gzip, gzip;q=0", 0, 0, 0},
    {"gzipx, deflate2, brr", 0, 0, 0},
    {"gzip-x", 0, 0, 0},
    {" \tgzip\t ", 1, 0, 0},
    {",,gzip,,", 1, 0, 0},
    {",", 0, 0, 0},
    {"gzip;level=\"1,2\", br", 1, 0, 1}, /* a comma inside a quoted value */
    {"foo;x=\"a,gzip\"", 0, 0, 0},
    {"foo;x=\"a\\\",gzip\", deflate", 0, 1, 0},
    {"foo;x=\"unterminated, gzip", 0, 0, 0},
    {"deflate;q=0.8, br;q=0.9, *;q=0.1", 1, 1, 1},
    {"identity;q=0", 0, 0, 0},
    {"@@@, br", 0, 0, 1},
};

TEST(encoding_accepted)
{
    for (size_t i = 0; i < sizeof accept_rows / sizeof accept_rows[0]; i++) {
        const struct accept_row *r = &accept_rows[i];
        kvs_slice h = S(r->header);
        int got[3] = {kvs_encoding_accepted(h, KVS_ENC_GZIP),
                      kvs_encoding_accepted(h, KVS_ENC_DEFLATE),
                      kvs_encoding_accepted(h, KVS_ENC_BR)};
        if (got[0] != r->gzip || got[1] != r->deflate || got[2] != r->br)
            TEST_FAIL_("\"%s\": gzip %d deflate %d br %d, expected %d %d %d", r->header, got[0],
                       got[1], got[2], r->gzip, r->deflate, r->br);
        ASSERT_EQ(kvs_encoding_accepted(h, KVS_ENC_IDENTITY), 1);
    }
}

TEST(encoding_accepted_absent)
{
    kvs_slice absent = {NULL, 0};
    for (enum kvs_encoding e = KVS_ENC_IDENTITY; e <= KVS_ENC_BR; e++)
        ASSERT_EQ(kvs_encoding_accepted(absent, e), 1);
    /* The header's bytes are not NUL-terminated: only N of them count. */
    ASSERT_EQ(kvs_encoding_accepted(sl("br, gzip", 2), KVS_ENC_GZIP), 0);
    ASSERT_EQ(kvs_encoding_accepted(sl("br, gzip", 2), KVS_ENC_BR), 1);
    ASSERT_EQ(kvs_encoding_accepted(sl("gzip\0, br", 9), KVS_ENC_BR), 1);
}

/* ---- decoding: round trips ----------------------------------------------------------------- */

TEST(encoding_round_trip_empty)
{
    for (enum form f = 0; f < N_FORMS; f++)
        round_trip(f, (const unsigned char *)"", 0);
}

TEST(encoding_round_trip_small)
{
    const char *text = "Hello, key-value store!";
    for (enum form f = 0; f < N_FORMS; f++)
        round_trip(f, (const unsigned char *)text, strlen(text));
    round_trip_all(fill_random, 1);
    round_trip_all(fill_random, 1000);
}

TEST(encoding_round_trip_random_1mib)
{
    round_trip_all(fill_random, MiB);
}

TEST(encoding_round_trip_compressible_1mib)
{
    round_trip_all(fill_compressible, MiB);
}

TEST(encoding_round_trip_chunk_edges)
{
    /* Sizes around the decoder's 64 KiB output window. */
    static const size_t sizes[] = {65535, 65536, 65537, 2 * 65536};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        round_trip_all(fill_compressible, sizes[i]);
}

TEST(encoding_identity)
{
    struct kvs_buf out;
    kvs_buf_init(&out, 5);
    ASSERT_OK(kvs_decode(KVS_ENC_IDENTITY, S("hello"), &out, 0));
    ASSERT_MEM_EQ(out.p, out.n, "hello");
    ASSERT_ERR(kvs_decode(KVS_ENC_IDENTITY, S("!"), &out, 0), KVS_ETOOBIG);
    kvs_buf_free(&out);
    ASSERT_OK(kvs_decode(KVS_ENC_IDENTITY, S("hello"), NULL, 5));
    ASSERT_ERR(kvs_decode(KVS_ENC_IDENTITY, S("hello"), NULL, 4), KVS_ETOOBIG);
    ASSERT_OK(kvs_decode(KVS_ENC_IDENTITY, (kvs_slice){NULL, 0}, NULL, 0));
}

TEST(encoding_decode_appends)
{
    /* Decoded bytes go after what OUT already holds, and count against the same cap. */
    size_t zn;
    unsigned char *z = encode(BR, "world", 5, &zn);
    struct kvs_buf out;
    kvs_buf_init(&out, 11);
    ASSERT_OK(kvs_buf_puts(&out, "hello "));
    ASSERT_OK(kvs_decode(KVS_ENC_BR, sl(z, zn), &out, 0));
    ASSERT_MEM_EQ(out.p, out.n, "hello world");
    kvs_buf_reset(&out);
    ASSERT_OK(kvs_buf_puts(&out, "hello!!"));
    ASSERT_ERR(kvs_decode(KVS_ENC_BR, sl(z, zn), &out, 0), KVS_ETOOBIG);
    kvs_buf_free(&out);
    free(z);
}

TEST(encoding_unknown)
{
    struct kvs_buf out;
    kvs_buf_init(&out, 100);
    ASSERT_ERR(kvs_decode((enum kvs_encoding)7, S("x"), &out, 0), KVS_EENCODING);
    ASSERT_ERR(kvs_decode((enum kvs_encoding)7, S("x"), NULL, 100), KVS_EENCODING);
    kvs_buf_free(&out);
}

TEST(encoding_gzip_members)
{
    /* Two gzip members one after the other decode as their concatenation (RFC 1952). */
    size_t an, bn;
    unsigned char *a = encode(GZIP, "first,", 6, &an), *b = encode(GZIP, "second", 6, &bn);
    unsigned char *ab = xmalloc(an + bn);
    memcpy(ab, a, an);
    memcpy(ab + an, b, bn);
    struct kvs_buf out;
    ASSERT_OK(decode_capped(GZIP, ab, an + bn, 100, &out));
    ASSERT_MEM_EQ(out.p, out.n, "first,second");
    kvs_buf_free(&out);
    ASSERT_ERR(decode_capped(GZIP, ab, an + bn, 11, &out), KVS_ETOOBIG);
    kvs_buf_free(&out);
    /* A truncated second member is still a truncated body. */
    ASSERT_ERR(decode_capped(GZIP, ab, an + bn - 1, 100, &out), KVS_EBADBODY);
    kvs_buf_free(&out);
    ASSERT_ERR(decode_capped(GZIP, ab, an + 2, 100, &out), KVS_EBADBODY);
    kvs_buf_free(&out);
    /* Only gzip concatenates: two zlib streams are one stream and trailing garbage. */
    free(a);
    free(b);
    a = encode(ZLIB, "first,", 6, &an);
    b = encode(ZLIB, "second", 6, &bn);
    memcpy(ab, a, an);
    memcpy(ab + an, b, bn);
    ASSERT_ERR(decode_capped(ZLIB, ab, an + bn, 100, &out), KVS_EBADBODY);
    kvs_buf_free(&out);
    free(a);
    free(b);
    free(ab);
}

/* ---- decoding: bad input ------------------------------------------------------------------- */

static const char sample[] = "The quick brown fox jumps over the lazy dog. The quick brown fox.";

TEST(encoding_truncated)
{
    for (enum form f = 0; f < N_FORMS; f++) {
        size_t zn;
        unsigned char *z = encode(f, sample, sizeof sample, &zn);
        for (size_t cut = 0; cut < zn; cut++) {
            struct kvs_buf out;
            int rc = decode_capped(f, z, cut, MiB, &out);
            kvs_buf_free(&out);
            if (rc != KVS_EBADBODY)
                TEST_FAIL_("%s cut to %zu of %zu bytes: %s", form_name[f], cut, zn,
                           kvs_errname(rc));
            if (kvs_decode(form_enc(f), sl(z, cut), NULL, MiB) != KVS_EBADBODY)
                TEST_FAIL_("%s cut to %zu bytes, check-only: accepted", form_name[f], cut);
        }
        free(z);
    }
}

TEST(encoding_trailing_garbage)
{
    static const char *tails[] = {"x", "\0", "\x1f", "\x1f\x8b", "\x1f\x8bjunkjunkjunk", "\x03"};
    static const size_t tail_n[] = {1, 1, 1, 2, 14, 1};
    for (enum form f = 0; f < N_FORMS; f++) {
        size_t zn;
        unsigned char *z = encode(f, sample, sizeof sample, &zn);
        unsigned char *zt = xmalloc(zn + 16);
        memcpy(zt, z, zn);
        for (size_t t = 0; t < sizeof tails / sizeof tails[0]; t++) {
            memcpy(zt + zn, tails[t], tail_n[t]);
            struct kvs_buf out;
            int rc = decode_capped(f, zt, zn + tail_n[t], MiB, &out);
            kvs_buf_free(&out);
            if (rc != KVS_EBADBODY)
                TEST_FAIL_("%s + tail %zu: %s", form_name[f], t, kvs_errname(rc));
            ASSERT_ERR(kvs_decode(form_enc(f), sl(zt, zn + tail_n[t]), NULL, MiB), KVS_EBADBODY);
        }
        free(zt);
        free(z);
    }
}

TEST(encoding_garbage)
{
    unsigned char noise[4096];
    fill_random(noise, sizeof noise);
    static const char *texts[] = {"hello world", "{\"a\": 1}", "\x1f\x8b", "\x78\x9c"};
    for (enum kvs_encoding e = KVS_ENC_GZIP; e <= KVS_ENC_BR; e++) {
        for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
            if (kvs_decode(e, S(texts[i]), NULL, MiB) != KVS_EBADBODY)
                TEST_FAIL_("%s accepted \"%s\"", kvs_encoding_name(e), texts[i]);
        ASSERT_ERR(kvs_decode(e, sl(noise, sizeof noise), NULL, MiB), KVS_EBADBODY);
        struct kvs_buf out;
        kvs_buf_init(&out, MiB);
        ASSERT_ERR(kvs_decode(e, sl(noise, sizeof noise), &out, 0), KVS_EBADBODY);
        kvs_buf_free(&out);
    }
}

TEST(encoding_corrupt_checksums)
{
    /* Flipping a bit of the gzip CRC-32 / length or the zlib Adler-32 trailer is caught. */
    for (enum form f = GZIP; f <= ZLIB; f++) {
        size_t zn;
        unsigned char *z = encode(f, sample, sizeof sample, &zn);
        size_t trailer = f == GZIP ? 8 : 4;
        for (size_t i = zn - trailer; i < zn; i++) {
            z[i] ^= 0x10;
            if (kvs_decode(form_enc(f), sl(z, zn), NULL, MiB) != KVS_EBADBODY)
                TEST_FAIL_("%s with byte %zu flipped was accepted", form_name[f], i);
            z[i] ^= 0x10;
        }
        ASSERT_OK(kvs_decode(form_enc(f), sl(z, zn), NULL, MiB));
        free(z);
    }
}

TEST(encoding_deflate_preset_dictionary)
{
    /* HTTP cannot name a preset dictionary, so a zlib stream that needs one is refused. */
    z_stream z = {0};
    ASSERT_EQ(deflateInit(&z, 6), Z_OK);
    ASSERT_EQ(deflateSetDictionary(&z, (const Bytef *)"quick brown", 11), Z_OK);
    unsigned char buf[256];
    z.next_in = (Bytef *)sample;
    z.avail_in = sizeof sample;
    z.next_out = buf;
    z.avail_out = sizeof buf;
    ASSERT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
    size_t n = z.total_out;
    ASSERT_EQ(deflateEnd(&z), Z_OK);
    ASSERT_ERR(kvs_decode(KVS_ENC_DEFLATE, sl(buf, n), NULL, MiB), KVS_EBADBODY);
}

/* ---- decoding: bombs ----------------------------------------------------------------------- */

/* 50 MiB of zeros compressed in form F. */
static unsigned char *bomb(enum form f, size_t *zn)
{
    unsigned char *zeros = calloc(50, MiB);
    ASSERT(zeros != NULL);
    unsigned char *z = encode(f, zeros, 50 * (size_t)MiB, zn);
    free(zeros);
    return z;
}

TEST(encoding_bomb_capped)
{
    for (enum form f = 0; f < N_FORMS; f++) {
        size_t zn;
        unsigned char *z = bomb(f, &zn);
        ASSERT(zn < MiB / 4);
        struct kvs_buf out;
        ASSERT_ERR(decode_capped(f, z, zn, MiB, &out), KVS_ETOOBIG); /* asserts the memory */
        ASSERT_EQ(out.n, MiB); /* filled to the cap, no further */
        kvs_buf_free(&out);
        ASSERT_ERR(kvs_decode(form_enc(f), sl(z, zn), NULL, MiB), KVS_ETOOBIG);
        ASSERT_OK(kvs_decode(form_enc(f), sl(z, zn), NULL, 50 * (size_t)MiB));
        free(z);
    }
}

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

#ifndef UNDER_ASAN
/* The process's address-space size now, from /proc/self/statm. */
static size_t vm_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    ASSERT(f != NULL);
    unsigned long pages = 0;
    ASSERT_EQ(fscanf(f, "%lu", &pages), 1);
    fclose(f);
    return pages * (size_t)sysconf(_SC_PAGESIZE);
}
#endif

TEST(encoding_bomb_bounded_memory)
{
#ifdef UNDER_ASAN
    fprintf(stderr, "  (skipped: the sanitizer's shadow memory defeats RLIMIT_AS)\n");
#else
    /* With the address space limited to what we use now plus 24 MiB, check-only decoding of a
     * 50 MiB bomb still succeeds (the output is counted, never kept), and decoding it into a
     * buffer stops at the 1 MiB cap. The 24 MiB cover the decoders' own state: zlib's 32 KiB
     * window, Brotli's ring buffer of at most 16 MiB. */
    unsigned char *z[N_FORMS];
    size_t zn[N_FORMS];
    for (enum form f = 0; f < N_FORMS; f++)
        z[f] = bomb(f, &zn[f]);
    struct rlimit lim = {vm_bytes() + 24 * (size_t)MiB, RLIM_INFINITY};
    lim.rlim_max = lim.rlim_cur;
    ASSERT_EQ(setrlimit(RLIMIT_AS, &lim), 0);
    for (enum form f = 0; f < N_FORMS; f++) {
        ASSERT_OK(kvs_decode(form_enc(f), sl(z[f], zn[f]), NULL, 50 * (size_t)MiB));
        struct kvs_buf out;
        ASSERT_ERR(decode_capped(f, z[f], zn[f], MiB, &out), KVS_ETOOBIG);
        kvs_buf_free(&out);
    }
    for (enum form f = 0; f < N_FORMS; f++)
        free(z[f]);
#endif
}

/* ---- decoding: random input never crashes -------------------------------------------------- */

static void expect_sane(int rc, enum form f, size_t i)
{
    if (rc != 0 && rc != KVS_EBADBODY && rc != KVS_ETOOBIG)
        TEST_FAIL_("%s input %zu: %s", form_name[f], i, kvs_errname(rc));
}

/* Feed INPUT to the decoder of F both ways, with a small cap so that lucky streams that
 * expand also take the KVS_ETOOBIG path. */
static void fuzz_one(enum form f, const unsigned char *in, size_t n, size_t i)
{
    struct kvs_buf out;
    expect_sane(decode_capped(f, in, n, 4096, &out), f, i);
    kvs_buf_free(&out);
    expect_sane(kvs_decode(form_enc(f), sl(in, n), NULL, 4096), f, i);
}

TEST(encoding_fuzz_random)
{
    unsigned char buf[1024];
    for (enum form f = 0; f < N_FORMS; f++) {
        for (size_t i = 0; i < 2000; i++) {
            size_t n = rng() % sizeof buf;
            fill_random(buf, n);
            /* Give half the inputs a valid header so they get past the first bytes. */
            if (i % 2 && n >= 2 && (f == GZIP || f == ZLIB))
                memcpy(buf, f == GZIP ? "\x1f\x8b" : "\x78\x9c", 2);
            fuzz_one(f, buf, n, i);
        }
    }
}

TEST(encoding_fuzz_mutated)
{
    /* Valid streams with a few bytes changed reach deep into the decoders. */
    unsigned char data[3000];
    fill_compressible(data, sizeof data);
    for (enum form f = 0; f < N_FORMS; f++) {
        size_t zn;
        unsigned char *z = encode(f, data, sizeof data, &zn);
        unsigned char *m = xmalloc(zn);
        for (size_t i = 0; i < 2000; i++) {
            memcpy(m, z, zn);
            for (int k = 1 + (int)(rng() % 4); k > 0; k--)
                m[rng() % zn] ^= (unsigned char)(1u << (rng() % 8));
            size_t n = i % 3 ? zn : rng() % (zn + 1); /* every third also cut short */
            fuzz_one(f, m, n, i);
        }
        free(m);
        free(z);
    }
}
