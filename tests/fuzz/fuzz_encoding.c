/* fuzz_encoding.c — Content-Encoding parsing, Accept-Encoding matching and capped decoding
 * (src/common/encoding.c).
 *
 * The first input byte picks what is fuzzed, the next two a cap on the decoded size; the rest
 * is the payload. Properties:
 *   decode     kvs_decode() of any bytes returns 0, KVS_EBADBODY, KVS_ETOOBIG, or (a coding
 *              outside the enum) KVS_EENCODING, nothing else (no KVS_EIO for a client's
 *              bytes); the output never exceeds the cap; the check-only mode (OUT NULL)
 *              accepts exactly what decoding into a buffer accepts; an output of L bytes decodes
 *              again under a cap of exactly L and fails with KVS_ETOOBIG under L - 1, with
 *              the buffer then full to the cap.
 *   stream     the same bytes decoded step by step (common/decoder.h), fed in pieces and into
 *              windows of sizes taken from the cap, give the same bytes when kvs_decode()
 *              accepts them, an error when it finds them invalid, and never more memory than
 *              kvs_decoder_mem_max() said.
 *   round trip the payload compressed here with zlib (gzip, zlib-wrapped and raw deflate) or
 *              Brotli decodes back to itself, also split over two gzip members; one byte of
 *              trailing garbage or one byte cut off the end is KVS_EBADBODY.
 *   parse      kvs_encoding_parse() returns 0 or KVS_EENCODING, and 0 only for a known token
 *              (case and surrounding blanks aside); every coding's name parses back.
 *   accept     kvs_encoding_accepted() returns 0 or 1; identity and an absent header are
 *              always accepted; a leading "gzip;q=0" / "br;q=0" / "deflate;q=0" element
 *              refuses that coding whatever follows. */
#include <brotli/encode.h>
#include <ctype.h>
#include <zlib.h>

#include "common/decoder.h"
#include "common/encoding.h"
#include "fuzz.h"
#include "kvs.h"

enum form { GZIP, ZLIB, RAW, BR, N_FORMS };

static enum kvs_encoding form_enc(enum form f)
{
    return f == GZIP ? KVS_ENC_GZIP : f == BR ? KVS_ENC_BR : KVS_ENC_DEFLATE;
}

/* Compress IN as FORM at LEVEL (0..9) into a malloc'ed block; *N gets its size. */
static char *compress_form(enum form f, kvs_slice in, int level, size_t *n)
{
    if (f == BR) {
        size_t cap = BrotliEncoderMaxCompressedSize(in.n);
        cap = cap ? cap : in.n + 64;
        uint8_t *out = malloc(cap);
        *n = cap;
        FUZZ_CHECK(BrotliEncoderCompress(level, BROTLI_DEFAULT_WINDOW, BROTLI_MODE_GENERIC, in.n,
                                         (const uint8_t *)in.p, n, out) == BROTLI_TRUE);
        return (char *)out;
    }
    z_stream z = {0};
    int bits = f == GZIP ? 16 + MAX_WBITS : f == ZLIB ? MAX_WBITS : -MAX_WBITS;
    FUZZ_CHECK(deflateInit2(&z, level, Z_DEFLATED, bits, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    size_t cap = deflateBound(&z, in.n) + 32;
    char *out = malloc(cap);
    z.next_in = (Bytef *)(in.n ? in.p : "");
    z.avail_in = (uInt)in.n;
    z.next_out = (Bytef *)out;
    z.avail_out = (uInt)cap;
    FUZZ_CHECK(deflate(&z, Z_FINISH) == Z_STREAM_END);
    *n = cap - z.avail_out;
    deflateEnd(&z);
    return out;
}

static int rc_allowed(int rc)
{
    return rc == 0 || rc == KVS_EBADBODY || rc == KVS_ETOOBIG;
}

/* Decode IN with ENC under CAP into a fresh buffer; *OUT keeps the buffer (caller frees). */
static int decode_capped(enum kvs_encoding enc, kvs_slice in, size_t cap, struct kvs_buf *out)
{
    kvs_buf_init(out, cap);
    int rc = kvs_decode(enc, in, out, 0);
    FUZZ_CHECK(out->n <= cap);
    return rc;
}

/* ---- decode --------------------------------------------------------------------------------- */

/* Decode IN (ENC, not identity) step by step: pieces of IN_STEP bytes into windows of OUT_STEP
 * bytes, appended to OUT (capped at CAP). Returns the last step's code, or KVS_ETOOBIG. */
static int decode_steps(enum kvs_encoding enc, kvs_slice in, size_t in_step, size_t out_step,
                        size_t cap, struct kvs_buf *out)
{
    size_t mem = kvs_decoder_mem_max(enc, in);
    struct kvs_decoder *d;
    FUZZ_CHECK(kvs_decoder_new(enc, mem, &d) == 0);
    kvs_buf_init(out, cap + out_step);
    size_t fed = 0;
    kvs_slice piece = {in.p, 0};
    int rc;
    do {
        if (piece.n == 0 && fed < in.n) {
            piece = (kvs_slice){in.p + fed, in.n - fed < in_step ? in.n - fed : in_step};
            fed += piece.n;
        }
        size_t n = out_step;
        char *w = kvs_buf_reserve(out, n);
        rc = kvs_decoder_step(d, &piece, fed == in.n, w, &n);
        kvs_buf_commit(out, n);
        if (rc == 0 && out->n > cap)
            rc = KVS_ETOOBIG;
    } while (rc == 0);
    FUZZ_CHECK(kvs_decoder_peak(d) <= mem);
    kvs_decoder_free(d);
    return rc;
}

static void check_decode(enum kvs_encoding enc, kvs_slice in, size_t cap)
{
    struct kvs_buf out;
    int rc = decode_capped(enc, in, cap, &out);
    int valid = enc == KVS_ENC_IDENTITY || enc == KVS_ENC_GZIP || enc == KVS_ENC_DEFLATE ||
                enc == KVS_ENC_BR;
    if (!valid) {
        FUZZ_CHECK(rc == KVS_EENCODING && out.n == 0);
        FUZZ_CHECK(kvs_decode(enc, in, NULL, cap) == KVS_EENCODING);
        kvs_buf_free(&out);
        return;
    }
    FUZZ_CHECK(rc_allowed(rc));
    /* Both modes accept and refuse the same inputs. Which refusal may differ for a stream that
     * is corrupt after more than CAP bytes: Brotli decodes ahead of what it hands out, so with
     * the output full it can meet the corruption before the byte that proves "too big". */
    int check_only = kvs_decode(enc, in, NULL, cap);
    FUZZ_CHECK(check_only == rc || (rc != 0 && check_only != 0 && rc_allowed(check_only)));
    if (enc == KVS_ENC_IDENTITY)
        FUZZ_CHECK(rc == (in.n <= cap ? 0 : KVS_ETOOBIG));
    if (rc == KVS_ETOOBIG && enc != KVS_ENC_IDENTITY)
        FUZZ_CHECK(out.n == cap); /* it stopped at the first byte past the cap, not before */
    if (enc != KVS_ENC_IDENTITY && rc != KVS_ETOOBIG) {
        struct kvs_buf steps;
        int src = decode_steps(enc, in, 1 + cap % 97, 1 + (cap >> 7) % 61, cap, &steps);
        if (rc == 0)
            FUZZ_CHECK(src == 1 && steps.n == out.n &&
                       (out.n == 0 || memcmp(steps.p, out.p, out.n) == 0));
        else
            FUZZ_CHECK(src < 0);
        kvs_buf_free(&steps);
    }
    if (rc == 0) {
        size_t len = out.n;
        struct kvs_buf again;
        FUZZ_CHECK(decode_capped(enc, in, len, &again) == 0);
        FUZZ_CHECK(again.n == len && (len == 0 || memcmp(again.p, out.p, len) == 0));
        kvs_buf_free(&again);
        if (len > 0) {
            FUZZ_CHECK(decode_capped(enc, in, len - 1, &again) == KVS_ETOOBIG);
            kvs_buf_free(&again);
            FUZZ_CHECK(kvs_decode(enc, in, NULL, len - 1) == KVS_ETOOBIG);
        }
        FUZZ_CHECK(kvs_decode(enc, in, NULL, len) == 0);
    }
    kvs_buf_free(&out);
}

/* ---- round trip ----------------------------------------------------------------------------- */

static void expect_decodes_to(enum kvs_encoding enc, kvs_slice z, kvs_slice plain)
{
    struct kvs_buf out;
    FUZZ_CHECK(decode_capped(enc, z, plain.n, &out) == 0);
    FUZZ_CHECK(out.n == plain.n && (plain.n == 0 || memcmp(out.p, plain.p, plain.n) == 0));
    kvs_buf_free(&out);
    FUZZ_CHECK(kvs_decode(enc, z, NULL, plain.n) == 0);
}

static void check_round_trip(enum form f, int level, kvs_slice plain, unsigned garbage)
{
    size_t zn;
    char *z = compress_form(f, plain, level, &zn);
    enum kvs_encoding enc = form_enc(f);
    expect_decodes_to(enc, (kvs_slice){z, zn}, plain);

    struct kvs_buf out;
    FUZZ_CHECK(zn > 0);
    FUZZ_CHECK(decode_capped(enc, (kvs_slice){z, zn - 1}, plain.n + 1, &out) == KVS_EBADBODY);
    kvs_buf_free(&out);
    char *longer = malloc(zn + 1);
    memcpy(longer, z, zn);
    longer[zn] = (char)garbage; /* one byte cannot start another gzip member */
    FUZZ_CHECK(decode_capped(enc, (kvs_slice){longer, zn + 1}, plain.n + 1, &out) == KVS_EBADBODY);
    kvs_buf_free(&out);
    free(longer);
    free(z);

    if (f == GZIP) { /* two members, as `cat a.gz b.gz` makes */
        size_t half = plain.n / 2, n1, n2;
        char *z1 = compress_form(GZIP, (kvs_slice){plain.p, half}, level, &n1);
        char *z2 = compress_form(GZIP, (kvs_slice){plain.p + half, plain.n - half}, level, &n2);
        char *both = malloc(n1 + n2);
        memcpy(both, z1, n1);
        memcpy(both + n1, z2, n2);
        expect_decodes_to(KVS_ENC_GZIP, (kvs_slice){both, n1 + n2}, plain);
        free(both);
        free(z1);
        free(z2);
    }
}

/* ---- Content-Encoding and Accept-Encoding --------------------------------------------------- */

static int eq_nocase(kvs_slice s, const char *lit)
{
    size_t n = strlen(lit);
    if (s.n != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (tolower((unsigned char)s.p[i]) != lit[i])
            return 0;
    return 1;
}

static void check_parse(kvs_slice h)
{
    enum kvs_encoding e = (enum kvs_encoding)77;
    int rc = kvs_encoding_parse(h, &e);
    FUZZ_CHECK(rc == 0 || rc == KVS_EENCODING);
    kvs_slice t = h;
    while (t.n > 0 && (t.p[0] == ' ' || t.p[0] == '\t'))
        t.p++, t.n--;
    while (t.n > 0 && (t.p[t.n - 1] == ' ' || t.p[t.n - 1] == '\t'))
        t.n--;
    enum kvs_encoding want = KVS_ENC_IDENTITY;
    int known = 1;
    if (eq_nocase(t, "gzip") || eq_nocase(t, "x-gzip"))
        want = KVS_ENC_GZIP;
    else if (eq_nocase(t, "deflate"))
        want = KVS_ENC_DEFLATE;
    else if (eq_nocase(t, "br"))
        want = KVS_ENC_BR;
    else if (t.n != 0 && !eq_nocase(t, "identity"))
        known = 0;
    FUZZ_CHECK(rc == (known ? 0 : KVS_EENCODING));
    if (known)
        FUZZ_CHECK(e == want);
}

static void check_accept(kvs_slice h)
{
    for (int e = KVS_ENC_IDENTITY; e <= KVS_ENC_BR; e++) {
        int a = kvs_encoding_accepted(h, (enum kvs_encoding)e);
        FUZZ_CHECK(a == 0 || a == 1);
        if (e == KVS_ENC_IDENTITY)
            FUZZ_CHECK(a == 1);
        FUZZ_CHECK(kvs_encoding_accepted((kvs_slice){NULL, 0}, (enum kvs_encoding)e) == 1);
    }
    static const char *refusals[] = {"gzip;q=0,", "x-gzip ; Q=0.000 ,", "deflate;q=0,", "br;q=0,"};
    static const enum kvs_encoding refused[] = {KVS_ENC_GZIP, KVS_ENC_GZIP, KVS_ENC_DEFLATE,
                                                KVS_ENC_BR};
    for (size_t i = 0; i < sizeof refusals / sizeof refusals[0]; i++) {
        size_t pn = strlen(refusals[i]);
        char *both = malloc(pn + h.n + 1);
        memcpy(both, refusals[i], pn);
        if (h.n)
            memcpy(both + pn, h.p, h.n);
        FUZZ_CHECK(kvs_encoding_accepted((kvs_slice){both, pn + h.n}, refused[i]) == 0);
        FUZZ_CHECK(kvs_encoding_accepted((kvs_slice){both, pn + h.n}, KVS_ENC_IDENTITY) == 1);
        free(both);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int names_checked;
    if (!names_checked) {
        for (int e = KVS_ENC_GZIP; e <= KVS_ENC_BR; e++) {
            enum kvs_encoding back;
            const char *name = kvs_encoding_name((enum kvs_encoding)e);
            FUZZ_CHECK(name && kvs_encoding_parse(kvs_slice_of(name), &back) == 0 &&
                       (int)back == e);
        }
        FUZZ_CHECK(kvs_encoding_name(KVS_ENC_IDENTITY) == NULL);
        names_checked = 1;
    }
    struct fz f = {(const char *)data, size};
    unsigned mode = fz_byte(&f);
    size_t cap = fz_byte(&f) << 8;
    cap |= fz_byte(&f);
    kvs_slice rest = {f.p, f.n};
    switch (mode % 4) {
    case 0: /* codings 0..7: the four real ones and values a damaged record could hold */
        check_decode((enum kvs_encoding)((mode >> 2) & 7), rest, (mode & 0x80) ? size : cap);
        break;
    case 1: /* compressed here */
        check_round_trip((enum form)((mode >> 2) % N_FORMS), (int)((mode >> 4) % 10), rest,
                         cap & 0xff);
        break;
    case 2:
        check_parse(rest);
        break;
    default:
        check_accept(rest);
        break;
    }
    return 0;
}
