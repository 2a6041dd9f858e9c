/* encoding.c — content-coding names, Accept-Encoding matching and bounded decoding
 * (see encoding.h).
 *
 * Decoding is the only place where a small request turns into a lot of memory, so the
 * decoder (common/decoder.h) writes through one "sink" that hands out output windows of at
 * most KVS_DECODE_CHUNK bytes and enforces the cap before a byte lands past it. A bomb
 * therefore costs at most the cap in memory (KVS_DECODE_CHUNK in check-only mode), plus the
 * decoder's own bounded state (kvs_decoder_mem_max), and stops as soon as it crosses the cap.
 * See test_encoding.c, encoding_bomb_*. */
#include "common/encoding.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/decoder.h"
#include "kvs.h"

/* ---- names and Content-Encoding ------------------------------------------------------------ */

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Whether S equals the lower-case LIT, ignoring ASCII case (and not the locale's). */
static int eq_nocase(kvs_slice s, const char *lit)
{
    size_t n = strlen(lit);
    if (s.n != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (lower(s.p[i]) != lit[i])
            return 0;
    return 1;
}

/* The coding a single token names; "x-gzip" is gzip (RFC 9110 §8.4.1.3). Returns 0 or
 * KVS_EENCODING. */
static int coding_of(kvs_slice token, enum kvs_encoding *out)
{
    if (eq_nocase(token, "identity"))
        *out = KVS_ENC_IDENTITY;
    else if (eq_nocase(token, "gzip") || eq_nocase(token, "x-gzip"))
        *out = KVS_ENC_GZIP;
    else if (eq_nocase(token, "deflate"))
        *out = KVS_ENC_DEFLATE;
    else if (eq_nocase(token, "br"))
        *out = KVS_ENC_BR;
    else
        return KVS_EENCODING;
    return 0;
}

int kvs_encoding_parse(kvs_slice header, enum kvs_encoding *out)
{
    kvs_slice token = kvs_slice_trim_ows(header);
    if (token.n == 0) {
        *out = KVS_ENC_IDENTITY;
        return 0;
    }
    /* A list ("gzip, br") matches no single token, so it is refused here too: the body would
     * have to be decoded in several stages, which no client we serve does. */
    return coding_of(token, out);
}

const char *kvs_encoding_name(enum kvs_encoding enc)
{
    switch (enc) {
    case KVS_ENC_GZIP:
        return "gzip";
    case KVS_ENC_DEFLATE:
        return "deflate";
    case KVS_ENC_BR:
        return "br";
    case KVS_ENC_IDENTITY:
        break;
    }
    return NULL;
}

/* ---- Accept-Encoding ----------------------------------------------------------------------- */

/* A cursor over a header value. */
struct scan {
    const char *p, *end;
};

static void skip_ows(struct scan *s)
{
    while (s->p < s->end && is_ows(*s->p))
        s->p++;
}

/* RFC 9110 tchar: the characters a token may hold. */
static int is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static kvs_slice take_token(struct scan *s)
{
    const char *start = s->p;
    while (s->p < s->end && is_tchar((unsigned char)*s->p))
        s->p++;
    return (kvs_slice){start, (size_t)(s->p - start)};
}

/* A parameter value: a token or a quoted-string (whose content only matters for q, which is
 * never quoted in practice, so the quotes are kept). Returns 0, or -1 when a quote is open. */
static int take_value(struct scan *s, kvs_slice *out)
{
    if (s->p < s->end && *s->p == '"') {
        const char *start = s->p++;
        while (s->p < s->end && *s->p != '"')
            s->p += (*s->p == '\\' && s->p + 1 < s->end) ? 2 : 1;
        if (s->p >= s->end)
            return -1;
        s->p++;
        *out = (kvs_slice){start, (size_t)(s->p - start)};
        return 0;
    }
    *out = take_token(s);
    return 0;
}

/* Whether a qvalue ("0", "0.5", "1.000") is above zero. RFC 9110 §12.4.2 grammar; anything
 * that does not follow it counts as zero, so a garbled weight never opts a client into a
 * coding it may not understand (identity is always a safe answer). */
static int q_positive(kvs_slice v)
{
    if (v.n == 0 || (v.p[0] != '0' && v.p[0] != '1'))
        return 0;
    if (v.n > 1 && (v.p[1] != '.' || v.n > 5))
        return 0;
    int nonzero = v.p[0] == '1';
    for (size_t i = 2; i < v.n; i++) {
        if (v.p[i] < '0' || v.p[i] > '9')
            return 0;
        if (v.p[i] != '0') {
            if (v.p[0] == '1')
                return 0; /* "1.5" is not a qvalue */
            nonzero = 1;
        }
    }
    return nonzero;
}

/* Read one list element "coding *( OWS ; OWS name=value )" up to (not past) the next comma.
 * Sets *CODING and *POSITIVE (its weight is above zero). Returns 0, or -1 when the element is
 * malformed (the caller then skips it). */
static int take_element(struct scan *s, kvs_slice *coding, int *positive)
{
    *coding = take_token(s);
    *positive = 1;
    if (coding->n == 0)
        return -1;
    for (;;) {
        skip_ows(s);
        if (s->p == s->end || *s->p == ',')
            return 0;
        if (*s->p != ';')
            return -1;
        s->p++;
        skip_ows(s);
        kvs_slice name = take_token(s);
        kvs_slice value;
        skip_ows(s);
        if (name.n == 0 || s->p == s->end || *s->p != '=')
            return -1;
        s->p++;
        skip_ows(s);
        if (take_value(s, &value) != 0)
            return -1;
        if (eq_nocase(name, "q"))
            *positive = q_positive(value);
    }
}

/* Move past the rest of a malformed element: to the next comma outside quotes. */
static void skip_element(struct scan *s)
{
    int quoted = 0;
    for (; s->p < s->end; s->p++) {
        if (*s->p == '"')
            quoted = !quoted;
        else if (*s->p == '\\' && quoted && s->p + 1 < s->end)
            s->p++;
        else if (*s->p == ',' && !quoted)
            return;
    }
}

/* How an Accept-Encoding value rates a coding: not mentioned, allowed, or refused (q=0). */
enum verdict { UNSTATED = 0, ALLOWED = 1, REFUSED = 2 };

/* Fold another element's verdict in. When a coding is listed twice with different weights,
 * the refusal wins: decoding for a client is always safe, sending a coding it refused is not. */
static enum verdict merge(enum verdict old, int positive)
{
    if (old == REFUSED || !positive)
        return REFUSED;
    return ALLOWED;
}

int kvs_encoding_accepted(kvs_slice header, enum kvs_encoding enc)
{
    if (enc == KVS_ENC_IDENTITY || header.p == NULL)
        return 1;
    enum verdict named = UNSTATED, wildcard = UNSTATED;
    struct scan s = {header.p, header.p + header.n};
    while (s.p < s.end) {
        skip_ows(&s);
        if (s.p < s.end && *s.p == ',') {
            s.p++; /* empty list elements are allowed (RFC 9110 §5.6.1) */
            continue;
        }
        if (s.p == s.end)
            break;
        kvs_slice coding;
        int positive;
        if (take_element(&s, &coding, &positive) != 0) {
            skip_element(&s);
            continue;
        }
        enum kvs_encoding e;
        if (eq_nocase(coding, "*"))
            wildcard = merge(wildcard, positive);
        else if (coding_of(coding, &e) == 0 && e == enc)
            named = merge(named, positive);
    }
    /* The coding's own entry is more specific than "*" and overrides it (RFC 9110 §12.5.3). An
     * empty header mentions nothing, so only identity passes, as the RFC asks. */
    if (named != UNSTATED)
        return named == ALLOWED;
    return wildcard == ALLOWED;
}

/* ---- decoding: the capped sink ------------------------------------------------------------- */

/* Where decoded bytes go: appended to OUT up to OUT->max, or, when OUT is NULL, written into a
 * scratch buffer and only counted against MAX. */
struct sink {
    struct kvs_buf *out;
    size_t max;    /* the cap in check-only mode */
    size_t total;  /* bytes counted in check-only mode */
    char *scratch; /* KVS_DECODE_CHUNK bytes in check-only mode, else NULL; owned */
    char probe;    /* a one-byte window offered when OUT is full, see sink_window() */
    char *window;  /* the window last handed out */
    size_t window_n;
};

static void sink_init(struct sink *k, struct kvs_buf *out, size_t max_out)
{
    *k = (struct sink){.out = out, .max = max_out};
    if (out == NULL)
        k->scratch = kvs_xmalloc(KVS_DECODE_CHUNK);
}

static void sink_free(struct sink *k)
{
    free(k->scratch);
    k->scratch = NULL;
}

/* The next place to decode into. When OUT is full the decoder still gets a one-byte probe:
 * a stream that ends exactly at the cap must succeed, and only a byte written past it proves
 * the output is too big. */
static void sink_window(struct sink *k, char **p, size_t *n)
{
    if (k->out == NULL) {
        k->window = k->scratch;
        k->window_n = KVS_DECODE_CHUNK;
    } else if (k->out->n == k->out->max) {
        k->window = &k->probe;
        k->window_n = 1;
    } else {
        size_t room = k->out->max - k->out->n;
        k->window_n = room < KVS_DECODE_CHUNK ? room : KVS_DECODE_CHUNK;
        k->window = kvs_buf_reserve(k->out, k->window_n); /* within max, so never NULL */
    }
    *p = k->window;
    *n = k->window_n;
}

/* Account for the USED bytes of the last window. Returns 0, or KVS_ETOOBIG once the output
 * has passed the cap. */
static int sink_commit(struct sink *k, size_t used)
{
    if (k->window == &k->probe)
        return used ? KVS_ETOOBIG : 0;
    if (k->out != NULL) {
        kvs_buf_commit(k->out, used);
        return 0;
    }
    k->total += used;
    return k->total > k->max ? KVS_ETOOBIG : 0;
}

/* ---- decoding: entry point ----------------------------------------------------------------- */

static int copy_identity(kvs_slice in, struct kvs_buf *out, size_t max_out)
{
    if (out == NULL)
        return in.n > max_out ? KVS_ETOOBIG : 0;
    return kvs_buf_append(out, in.p, in.n);
}

size_t kvs_decode_check_mem(enum kvs_encoding enc, kvs_slice in)
{
    if (enc == KVS_ENC_IDENTITY)
        return 0;
    return kvs_decoder_mem_max(enc, in) + KVS_DECODE_CHUNK;
}

int kvs_decode(enum kvs_encoding enc, kvs_slice in, struct kvs_buf *out, size_t max_out)
{
    if (enc == KVS_ENC_IDENTITY)
        return copy_identity(in, out, max_out);
    struct kvs_decoder *d;
    int rc = kvs_decoder_new(enc, kvs_decoder_mem_max(enc, in), &d);
    if (rc != 0)
        return rc; /* e.g. a damaged stored record: refuse, do not guess */
    struct sink k;
    sink_init(&k, out, max_out);
    for (;;) {
        char *w;
        size_t n;
        sink_window(&k, &w, &n);
        rc = kvs_decoder_step(d, &in, 1, w, &n);
        int full = k.window == &k.probe;
        int crc = sink_commit(&k, n);
        if (crc != 0 || rc < 0) {
            rc = crc ? crc : rc;
            break;
        }
        if (rc == 1) {
            rc = 0;
            break;
        }
        if (full && n == 0) {
            /* It wants more room although the probe took nothing: the output does not fit
             * under the cap, and offering the probe again would loop. */
            rc = KVS_ETOOBIG;
            break;
        }
    }
    sink_free(&k);
    kvs_decoder_free(d);
    return rc;
}
