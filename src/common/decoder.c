/* decoder.c — step-by-step decoding of gzip, deflate and br in bounded memory (decoder.h).
 *
 * Both libraries take allocation functions; ours count every byte asked for against the
 * decoder's bound and answer NULL past it, which zlib reports as Z_MEM_ERROR and Brotli as one
 * of its ALLOC errors, so a decoder can never hold more than its figure. */
#include "common/decoder.h"

#include <brotli/decode.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "common/alloc.h"
#include "kvs.h"

/* zlib's inflate: its state (about 7 KiB in zlib 1.2.13) and a window of 1 << 15 bytes. */
#define ZLIB_MEM ((size_t)48 * 1024)
/* Brotli beside its ring buffer: the state (a few KiB), the block-type trees (12 KiB), the
 * context maps (17 KiB), and the three Huffman tree groups at their largest, 256 trees each:
 * literals 256 x 630 entries, insert-and-copy 256 x 1080, distances 256 x 920, four bytes an
 * entry (brotli 1.0.9, dec/huffman.h kMaxHuffmanTableSize): about 2.7 MiB in all. */
#define BR_TABLES_MEM ((size_t)3 * 1024 * 1024)
/* What Brotli allocates past the ring buffer's size (its write-ahead slack is 542 bytes). */
#define BR_RING_SLACK ((size_t)4 * 1024)

/* Every allocation carries its size in front, so that frees can be counted; 16 bytes keep
 * the block as aligned as malloc's own. */
#define HDR 16

enum state {
    S_START,  /* deflate: the zlib-or-raw question is not settled yet (needs 2 bytes) */
    S_RUN,    /* decoding */
    S_MEMBER, /* gzip: a member ended; another may follow */
    S_END,    /* the stream ended */
};

struct kvs_decoder {
    enum kvs_encoding enc;
    enum state state;
    size_t mem_max; /* the bound */
    size_t mem;     /* allocated now */
    size_t peak;    /* the most allocated at once */
    z_stream z;     /* gzip, deflate (once started) */
    int z_live;     /* z holds an inflate state to end */
    /* deflate's first two bytes, or a next gzip member's, kept until both are in (they
     * decide how to go on) and then given to inflate before the rest */
    unsigned char hold[2];
    size_t hold_n;
    BrotliDecoderState *br;
};

/* ---- counted allocation -------------------------------------------------------------------- */

static void *take(struct kvs_decoder *d, size_t n)
{
    if (n > d->mem_max - d->mem)
        return NULL; /* past the bound: the library reports an allocation failure */
    char *p = kvs_xmalloc(n + HDR);
    memcpy(p, &n, sizeof n);
    d->mem += n;
    if (d->mem > d->peak)
        d->peak = d->mem;
    return p + HDR;
}

static void give(struct kvs_decoder *d, void *p)
{
    if (p == NULL)
        return;
    char *block = (char *)p - HDR;
    size_t n;
    memcpy(&n, block, sizeof n);
    d->mem -= n;
    free(block);
}

static voidpf z_alloc(voidpf opaque, uInt items, uInt size)
{
    if (size != 0 && items > SIZE_MAX / size)
        return NULL;
    void *p = take(opaque, (size_t)items * size);
    if (p != NULL)
        memset(p, 0, (size_t)items * size); /* zalloc is calloc-like */
    return p;
}

static void z_free(voidpf opaque, voidpf p)
{
    give(opaque, p);
}

static void *br_alloc(void *opaque, size_t n)
{
    return take(opaque, n);
}

static void br_free(void *opaque, void *p)
{
    give(opaque, p);
}

/* ---- bounds -------------------------------------------------------------------------------- */

/* The window a Brotli stream names in its first byte (RFC 7932 §9.1, bits from the least
 * significant): 0 → 16; 1 then 3 bits n ≠ 0 → 17 + n; 1, 000, then 3 bits m: 0 → 17,
 * 1 → reserved (the large-window extension, which this decoder refuses), else 8 + m. */
static unsigned br_window_bits(unsigned char b)
{
    if ((b & 1) == 0)
        return 16;
    unsigned n = (b >> 1) & 7;
    if (n != 0)
        return 17 + n;
    unsigned m = (b >> 4) & 7;
    if (m == 0)
        return 17;
    if (m == 1)
        return 24; /* refused when decoding; counted as the largest */
    return 8 + m;
}

size_t kvs_decoder_mem_max(enum kvs_encoding enc, kvs_slice head)
{
    switch (enc) {
    case KVS_ENC_GZIP:
    case KVS_ENC_DEFLATE:
        return ZLIB_MEM;
    case KVS_ENC_BR: {
        unsigned bits = head.n ? br_window_bits((unsigned char)head.p[0]) : 24;
        return ((size_t)1 << bits) + BR_RING_SLACK + BR_TABLES_MEM;
    }
    case KVS_ENC_IDENTITY:
        break;
    }
    return 0;
}

/* ---- decoders ------------------------------------------------------------------------------ */

int kvs_decoder_new(enum kvs_encoding enc, size_t mem_max, struct kvs_decoder **out)
{
    if (enc != KVS_ENC_GZIP && enc != KVS_ENC_DEFLATE && enc != KVS_ENC_BR)
        return KVS_EENCODING;
    struct kvs_decoder *d = kvs_xcalloc(1, sizeof *d);
    d->enc = enc;
    d->mem_max = mem_max;
    d->state = enc == KVS_ENC_DEFLATE ? S_START : S_RUN;
    d->z.zalloc = z_alloc;
    d->z.zfree = z_free;
    d->z.opaque = d;
    if (enc == KVS_ENC_GZIP) {
        /* +16: the gzip wrapper only (zlib.h) */
        if (inflateInit2(&d->z, 16 + MAX_WBITS) != Z_OK) {
            free(d);
            return KVS_ENOMEM; /* its state did not fit under MEM_MAX */
        }
        d->z_live = 1;
    } else if (enc == KVS_ENC_BR) {
        d->br = BrotliDecoderCreateInstance(br_alloc, br_free, d);
        if (d->br == NULL) {
            free(d);
            return KVS_ENOMEM;
        }
        /* the whole window at once, so that no regrowth ever holds two rings (decoder.h) */
        BrotliDecoderSetParameter(d->br, BROTLI_DECODER_PARAM_DISABLE_RING_BUFFER_REALLOCATION, 1);
    }
    *out = d;
    return 0;
}

void kvs_decoder_free(struct kvs_decoder *d)
{
    if (d == NULL)
        return;
    if (d->z_live)
        inflateEnd(&d->z);
    if (d->br)
        BrotliDecoderDestroyInstance(d->br);
    free(d);
}

size_t kvs_decoder_peak(const struct kvs_decoder *d)
{
    return d->peak;
}

static int gzip_magic(const unsigned char *p, size_t n)
{
    return n >= 2 && p[0] == 0x1f && p[1] == 0x8b;
}

/* Whether the two bytes at P start a zlib stream (RFC 1950 §2.2): method 8 (deflate), a
 * window of at most 32 KiB, a header checksum that divides by 31, and no preset dictionary
 * (HTTP has no way to name one). */
static int zlib_header(const unsigned char *p)
{
    return (p[0] & 0x0f) == 8 && (p[0] >> 4) <= 7 && ((p[0] << 8) | p[1]) % 31 == 0 &&
           (p[1] & 0x20) == 0;
}

/* Take bytes of *IN into d->hold until it has two. */
static void hold_two(struct kvs_decoder *d, kvs_slice *in)
{
    while (d->hold_n < 2 && in->n > 0) {
        d->hold[d->hold_n++] = (unsigned char)*in->p++;
        in->n--;
    }
}

/* HTTP's "deflate" is the zlib format (RFC 9110 §8.4.1.2), but some clients send a raw
 * deflate stream, as old IIS did; a zlib header cannot start a real raw stream, so the first
 * two bytes tell them apart. They are held until both are in. Returns 0 (settled, or waiting
 * for a byte) or an error. */
static int start_deflate(struct kvs_decoder *d, kvs_slice *in, int last)
{
    hold_two(d, in);
    if (d->hold_n < 2 && !last)
        return 0;
    int zlib = d->hold_n == 2 && zlib_header(d->hold);
    if (inflateInit2(&d->z, zlib ? MAX_WBITS : -MAX_WBITS) != Z_OK)
        return KVS_ENOMEM;
    d->z_live = 1;
    d->state = S_RUN;
    return 0;
}

/* After a gzip member: another member (RFC 1952 §2.2, what `cat a.gz b.gz` makes), whose two
 * magic bytes are held until both are in, the end, or bytes that are not gzip. Returns 1 at
 * the end, 0 to go on (or to wait for a byte), or an error. */
static int next_member(struct kvs_decoder *d, kvs_slice *in, int last)
{
    hold_two(d, in);
    if (d->hold_n == 0)
        return last ? 1 : 0;
    if (d->hold_n < 2 && !last)
        return 0;
    if (!gzip_magic(d->hold, d->hold_n) || inflateReset(&d->z) != Z_OK)
        return KVS_EBADBODY; /* trailing garbage */
    d->state = S_RUN;
    return 0;
}

static int step_zlib(struct kvs_decoder *d, kvs_slice *in, int last, char *out, size_t max,
                     size_t *produced)
{
    *produced = 0;
    for (;;) {
        if (d->state == S_START) {
            int rc = start_deflate(d, in, last);
            if (rc != 0 || d->state == S_START)
                return rc;
        }
        if (d->state == S_MEMBER) {
            int rc = next_member(d, in, last);
            if (rc == 1)
                d->state = S_END;
            if (rc != 0 || d->state == S_MEMBER)
                return rc;
        }
        if (d->state == S_END) /* anything after the end is garbage; without LAST, wait */
            return in->n ? KVS_EBADBODY : last;
        if (*produced == max)
            return 0;
        /* the bytes held to decide come first; avail_in and avail_out are unsigned ints, so
         * huge slices go in pieces */
        kvs_slice src = d->hold_n ? (kvs_slice){(const char *)d->hold, d->hold_n} : *in;
        d->z.next_in = (Bytef *)src.p;
        d->z.avail_in = src.n > UINT_MAX ? UINT_MAX : (uInt)src.n;
        size_t room = max - *produced;
        d->z.next_out = (Bytef *)out + *produced;
        d->z.avail_out = room > UINT_MAX ? UINT_MAX : (uInt)room;
        uInt had_in = d->z.avail_in, had_out = d->z.avail_out;
        int zrc = inflate(&d->z, Z_NO_FLUSH);
        size_t used = had_in - d->z.avail_in;
        if (d->hold_n) {
            memmove(d->hold, d->hold + used, d->hold_n - used);
            d->hold_n -= used;
        } else {
            in->p += used;
            in->n -= used;
        }
        *produced += had_out - d->z.avail_out;
        if (zrc == Z_STREAM_END) {
            if (d->hold_n) /* a stream ended inside the two bytes that began it */
                return KVS_EBADBODY;
            d->state = d->enc == KVS_ENC_GZIP ? S_MEMBER : S_END;
            continue;
        }
        if (zrc == Z_MEM_ERROR)
            return KVS_ENOMEM;
        if (zrc == Z_OK)
            continue; /* progress: more input or more room needed, the loop tells */
        if (zrc != Z_BUF_ERROR)
            return KVS_EBADBODY; /* Z_DATA_ERROR: corrupt; Z_NEED_DICT: a dictionary */
        /* no progress was possible */
        if (*produced == max)
            return 0;
        if (d->hold_n == 0 && in->n == 0)
            return last ? KVS_EBADBODY : 0; /* truncated, or wait for input */
        return KVS_EBADBODY;                /* cannot happen: input and room, yet stuck */
    }
}

static int step_brotli(struct kvs_decoder *d, kvs_slice *in, int last, char *out, size_t max,
                       size_t *produced)
{
    *produced = 0;
    if (d->state == S_END) /* anything after the end is garbage; without LAST, wait */
        return in->n ? KVS_EBADBODY : last;
    const uint8_t *next_in = (const uint8_t *)in->p;
    size_t avail_in = in->n;
    uint8_t *next_out = (uint8_t *)out;
    size_t avail_out = max;
    BrotliDecoderResult r =
        BrotliDecoderDecompressStream(d->br, &avail_in, &next_in, &avail_out, &next_out, NULL);
    in->p = (const char *)next_in;
    in->n = avail_in;
    *produced = max - avail_out;
    switch (r) {
    case BROTLI_DECODER_RESULT_SUCCESS:
        d->state = S_END;
        return in->n ? KVS_EBADBODY : last; /* bytes after the stream are garbage */
    case BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT:
        return 0;
    case BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT:
        return last ? KVS_EBADBODY : 0; /* truncated, or wait for input */
    case BROTLI_DECODER_RESULT_ERROR:
        break;
    }
    BrotliDecoderErrorCode e = BrotliDecoderGetErrorCode(d->br);
    /* the ALLOC errors are -30 to -21 (brotli/decode.h): our bound said no */
    return e <= BROTLI_DECODER_ERROR_ALLOC_CONTEXT_MODES && e >= BROTLI_DECODER_ERROR_ALLOC_BLOCK_TYPE_TREES
               ? KVS_ENOMEM
               : KVS_EBADBODY;
}

int kvs_decoder_step(struct kvs_decoder *d, kvs_slice *in, int last, char *out, size_t *out_n)
{
    if (in->p == NULL)
        *in = (kvs_slice){"", 0}; /* an empty slice may have no pointer; the libraries add to it */
    size_t max = *out_n, produced = 0, had_in = in->n;
    int rc = d->enc == KVS_ENC_BR ? step_brotli(d, in, last, out, max, &produced)
                                  : step_zlib(d, in, last, out, max, &produced);
    *out_n = produced;
    /* With all its input given, a step that had room yet did nothing would make its caller
     * loop forever: no valid stream does that. (Without LAST a step may wait for a byte or two:
     * deflate's first two, a gzip member's magic number.) */
    if (rc == 0 && produced == 0 && max > 0 && in->n == had_in && last)
        return KVS_EBADBODY;
    return rc;
}
