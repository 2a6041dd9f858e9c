/* test_decoder.c — step-by-step decoding in bounded memory (src/common/decoder.c).
 *
 * Inputs are made with zlib and libbrotlienc here, and fed to the decoder in pieces of every
 * awkward size (one byte, splits inside headers and between gzip members) into windows of
 * every awkward size, so that streaming gives the same bytes as the whole-value decoder. The
 * memory tests check the decoder's own count of what it holds against kvs_decoder_mem_max(),
 * for every Brotli window, with data that makes the encoder use many Huffman trees. */
#include "coded.h"
#include "common/decoder.h"

/* Bytes that compress, with runs of randomness and a drifting alphabet, so that a Brotli
 * encoder at quality 11 splits them into many blocks and context-modelled trees. */
static void fill_mixed(unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t run = 1 + rng() % 4096;
        unsigned kind = (unsigned)(rng() % 4), base = (unsigned)(rng() % 200);
        for (size_t j = 0; j < run && i < n; j++, i++)
            p[i] = kind == 0   ? (unsigned char)rng()
                   : kind == 1 ? (unsigned char)(base + rng() % 16)
                   : kind == 2 ? (unsigned char)("the quick brown fox "[j % 20])
                               : (unsigned char)(i * 7);
    }
}

/* Decode Z[ZN] (coded ENC) feeding pieces of at most IN_STEP bytes into windows of at most
 * OUT_STEP bytes; the output goes to OUT (of OUT_MAX bytes), its length to *OUT_N. Returns
 * the decoder's final code; *PEAK gets its peak memory. */
static int stream(enum kvs_encoding enc, const unsigned char *z, size_t zn, size_t in_step,
                  size_t out_step, unsigned char *out, size_t out_max, size_t *out_n,
                  size_t *peak)
{
    size_t mem = kvs_decoder_mem_max(enc, (kvs_slice){(const char *)z, zn});
    struct kvs_decoder *d;
    ASSERT_OK(kvs_decoder_new(enc, mem, &d));
    size_t fed = 0, got = 0;
    kvs_slice in = {(const char *)z, 0};
    int rc;
    for (;;) {
        if (in.n == 0 && fed < zn) { /* the next piece of input */
            size_t n = zn - fed < in_step ? zn - fed : in_step;
            in = (kvs_slice){(const char *)z + fed, n};
            fed += n;
        }
        size_t room = out_max - got < out_step ? out_max - got : out_step;
        unsigned char probe; /* when OUT is full: a byte written here is one too many */
        size_t n = room ? room : 1;
        rc = kvs_decoder_step(d, &in, fed == zn, room ? (char *)out + got : (char *)&probe, &n);
        if (room == 0 && (n > 0 || rc == 0)) {
            rc = KVS_ETOOBIG;
            break;
        }
        got += n;
        if (rc != 0)
            break;
    }
    *out_n = got;
    *peak = kvs_decoder_peak(d);
    ASSERT(*peak <= mem);
    kvs_decoder_free(d);
    return rc;
}

static void round_trip(enum form f, const unsigned char *data, size_t n)
{
    static const size_t steps[][2] = {{1, 1}, {1, 64 * KiB}, {7, 3}, {4096, 1}, {100000, 13},
                                      {SIZE_MAX, 64 * KiB}};
    size_t zn;
    unsigned char *z = encode_with(f, data, n, 6, 22, &zn);
    unsigned char *out = xmalloc(n + 1);
    for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
        if (n > 100 * KiB && (steps[s][0] < 4096 || steps[s][1] < 4096))
            continue; /* byte by byte over a large value is slow and proves nothing more */
        size_t got, peak;
        int rc = stream(form_enc(f), z, zn, steps[s][0], steps[s][1], out, n + 1, &got, &peak);
        if (rc != 1)
            TEST_FAIL_("%s, %zu bytes, steps %zu/%zu: %s", form_name[f], n, steps[s][0], steps[s][1],
                       kvs_errname(rc));
        ASSERT_EQ(got, n);
        ASSERT(n == 0 || memcmp(out, data, n) == 0);
    }
    free(out);
    free(z);
}

TEST(decoder_round_trip_in_pieces)
{
    static const size_t sizes[] = {0, 1, 100, 70000, MiB + 3};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        unsigned char *data = xmalloc(sizes[i]);
        fill_mixed(data, sizes[i]);
        for (enum form f = 0; f < N_FORMS; f++)
            round_trip(f, data, sizes[i]);
        free(data);
    }
}

/* Two gzip members one after the other decode as one stream, wherever the pieces split. */
TEST(decoder_gzip_members_split_anywhere)
{
    size_t an, bn;
    unsigned char *a = encode_with(GZIP, "first member, ", 14, 0, 0, &an);
    unsigned char *b = encode_with(GZIP, "second member", 13, 0, 0, &bn);
    unsigned char *ab = xmalloc(an + bn);
    memcpy(ab, a, an);
    memcpy(ab + an, b, bn);
    for (size_t step = 1; step <= an + bn; step++) {
        unsigned char out[64];
        size_t got, peak;
        ASSERT_EQ(stream(KVS_ENC_GZIP, ab, an + bn, step, 5, out, sizeof out, &got, &peak), 1);
        ASSERT_MEM_EQ(out, got, "first member, second member");
    }
    free(a);
    free(b);
    free(ab);
}

TEST(decoder_truncated_and_trailing)
{
    unsigned char data[5000];
    fill_mixed(data, sizeof data);
    for (enum form f = 0; f < N_FORMS; f++) {
        size_t zn, got, peak;
        unsigned char *z = encode_with(f, data, sizeof data, 6, 22, &zn);
        unsigned char *out = xmalloc(sizeof data + 10);
        for (size_t cut = 0; cut < zn; cut += 1 + zn / 17)
            ASSERT_ERR(stream(form_enc(f), z, cut, 3, 100, out, sizeof data + 10, &got, &peak),
                       KVS_EBADBODY);
        unsigned char *more = xmalloc(zn + 3);
        memcpy(more, z, zn);
        memcpy(more + zn, "xyz", 3);
        ASSERT_ERR(stream(form_enc(f), more, zn + 3, 1000, 100, out, sizeof data + 10, &got, &peak),
                   KVS_EBADBODY);
        free(more);
        free(out);
        free(z);
    }
}

/* A decoder never holds more than kvs_decoder_mem_max() for its stream, whatever the Brotli
 * window, and the figure is close to what it really takes (the window, not much more). */
TEST(decoder_memory_within_bound)
{
    size_t n = 2 * MiB;
    unsigned char *data = xmalloc(n);
    fill_mixed(data, n);
    unsigned char *out = xmalloc(n);
    /* the ring is allocated whole at the first block, so no value needs to pass the window;
     * quality 11 splits the data into many blocks and trees */
    static const int windows[][2] = {{10, 5}, {16, 5}, {18, 11}, {22, 5}, {24, 5}};
    for (size_t w = 0; w < sizeof windows / sizeof windows[0]; w++) {
        size_t len = windows[w][1] == 11 ? 256 * KiB : n;
        size_t zn, got, peak;
        unsigned char *z = encode_with(BR, data, len, windows[w][1], windows[w][0], &zn);
        size_t mem = kvs_decoder_mem_max(KVS_ENC_BR, (kvs_slice){(const char *)z, zn});
        ASSERT(mem >= ((size_t)1 << windows[w][0]));
        ASSERT(mem <= ((size_t)1 << windows[w][0]) + 4 * MiB);
        ASSERT(mem <= KVS_DECODER_MEM_LIMIT);
        ASSERT_EQ(stream(KVS_ENC_BR, z, zn, 64 * KiB, 64 * KiB, out, len, &got, &peak), 1);
        ASSERT_EQ(got, len);
        ASSERT(memcmp(out, data, len) == 0);
        ASSERT(peak <= mem);
        ASSERT(peak >= ((size_t)1 << windows[w][0])); /* the ring is counted */
        free(z);
    }
    for (enum form f = GZIP; f <= RAW; f++) {
        size_t zn, got, peak;
        unsigned char *z = encode_with(f, data, n, 6, 0, &zn);
        ASSERT_EQ(stream(form_enc(f), z, zn, 64 * KiB, 64 * KiB, out, n, &got, &peak), 1);
        ASSERT_EQ(got, n);
        ASSERT(peak >= 32 * KiB); /* the window is counted */
        ASSERT(peak <= kvs_decoder_mem_max(form_enc(f), (kvs_slice){(const char *)z, zn}));
        free(z);
    }
    free(out);
    free(data);
}

/* Decode all of Z[ZN] with D into one reused window of WINDOW bytes; *TOTAL gets the bytes
 * out. Returns the last step's code (1 at the end, or an error). */
static int drain(struct kvs_decoder *d, const unsigned char *z, size_t zn, size_t window,
                 size_t *total)
{
    kvs_slice in = {(const char *)z, zn};
    char *out = xmalloc(window);
    int rc;
    *total = 0;
    do {
        size_t got = window;
        rc = kvs_decoder_step(d, &in, 1, out, &got);
        *total += got;
    } while (rc == 0);
    free(out);
    return rc;
}

/* A bomb decoded in a fixed window costs the decoder's bound, not its output: 64 MiB of
 * zeros come out 64 KiB at a time while the decoder holds the same few dozen KiB. */
TEST(decoder_bomb_in_fixed_window)
{
    size_t n = 64 * MiB;
    unsigned char *zeros = calloc(1, n);
    ASSERT(zeros != NULL);
    for (enum form f = 0; f < N_FORMS; f++) {
        size_t zn;
        unsigned char *z = encode_with(f, zeros, n, 1, 22, &zn);
        size_t mem = kvs_decoder_mem_max(form_enc(f), (kvs_slice){(const char *)z, zn});
        struct kvs_decoder *d;
        ASSERT_OK(kvs_decoder_new(form_enc(f), mem, &d));
        size_t total;
        ASSERT_EQ(drain(d, z, zn, 64 * KiB, &total), 1);
        ASSERT_EQ(total, n);
        ASSERT(kvs_decoder_peak(d) <= mem);
        kvs_decoder_free(d);
        free(z);
    }
    free(zeros);
}

/* A bound too small for the stream fails the decoding with KVS_ENOMEM, never takes more. */
TEST(decoder_bound_enforced)
{
    unsigned char data[100000];
    fill_mixed(data, sizeof data);
    for (enum form f = 0; f < N_FORMS; f++) {
        size_t zn;
        unsigned char *z = encode_with(f, data, sizeof data, 6, 22, &zn);
        struct kvs_decoder *d;
        int rc = kvs_decoder_new(form_enc(f), 16 * KiB, &d);
        if (rc == 0) {
            size_t total;
            rc = drain(d, z, zn, 4096, &total);
            ASSERT(kvs_decoder_peak(d) <= 16 * KiB);
            kvs_decoder_free(d);
        }
        ASSERT_ERR(rc, KVS_ENOMEM);
        free(z);
    }
}

/* The window a Brotli stream names in its first byte, for every window the encoder makes. */
TEST(decoder_brotli_window_from_first_byte)
{
    unsigned char data[3000];
    fill_mixed(data, sizeof data);
    for (int lgwin = 10; lgwin <= 24; lgwin++) {
        size_t zn;
        unsigned char *z = encode_with(BR, data, sizeof data, 5, lgwin, &zn);
        size_t mem = kvs_decoder_mem_max(KVS_ENC_BR, (kvs_slice){(const char *)z, 1});
        ASSERT(mem >= ((size_t)1 << lgwin));
        ASSERT(mem < ((size_t)1 << lgwin) + 4 * MiB);
        free(z);
    }
    ASSERT_EQ(kvs_decoder_mem_max(KVS_ENC_IDENTITY, (kvs_slice){"", 0}), 0);
    struct kvs_decoder *d;
    ASSERT_ERR(kvs_decoder_new(KVS_ENC_IDENTITY, MiB, &d), KVS_EENCODING);
}
