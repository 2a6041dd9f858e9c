/* precond.c — entity-tags and conditional requests (see precond.h). */
#include "common/precond.h"

#include <string.h>

#include "common/httpdate.h"

#define DECODED_SUFFIX "-identity"

void kvs_etag_format(uint64_t version, int decoded, char out[KVS_ETAG_MAX])
{
    static const char hex[] = "0123456789abcdef";
    char digits[16];
    int n = 0;
    do {
        digits[n++] = hex[version & 15];
        version >>= 4;
    } while (version);
    char *p = out;
    *p++ = '"';
    while (n > 0)
        *p++ = digits[--n];
    if (decoded) {
        memcpy(p, DECODED_SUFFIX, sizeof DECODED_SUFFIX - 1);
        p += sizeof DECODED_SUFFIX - 1;
    }
    *p++ = '"';
    *p = '\0';
}

/* Whether OPAQUE (between the quotes) is a tag kvs made; if so, fill REF. Only the canonical
 * spelling counts (lower-case hex without leading zeros): entity-tags compare as strings. */
static int parse_own(kvs_slice opaque, struct kvs_etag_ref *ref)
{
    size_t sfx = sizeof DECODED_SUFFIX - 1;
    ref->decoded = opaque.n > sfx && memcmp(opaque.p + opaque.n - sfx, DECODED_SUFFIX, sfx) == 0;
    size_t n = ref->decoded ? opaque.n - sfx : opaque.n;
    if (n == 0 || n > 16 || (n > 1 && opaque.p[0] == '0'))
        return 0;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        char c = opaque.p[i];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else
            return 0;
        v = v << 4 | d;
    }
    ref->version = v;
    return 1;
}

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static int is_etagc(unsigned char c)
{
    return c == 0x21 || (c >= 0x23 && c <= 0x7e) || c >= 0x80;
}

/* Parse one entity-tag at the start of *S (advancing it). Returns 0 when there is none. */
static int entity_tag(kvs_slice *s, kvs_slice *opaque, int *weak)
{
    const char *p = s->p, *end = s->p + s->n;
    *weak = end - p >= 2 && p[0] == 'W' && p[1] == '/';
    if (*weak)
        p += 2;
    if (p == end || *p != '"')
        return 0;
    const char *open = ++p;
    while (p < end && is_etagc((unsigned char)*p))
        p++;
    if (p == end || *p != '"')
        return 0;
    *opaque = (kvs_slice){open, (size_t)(p - open)};
    s->n -= (size_t)(p + 1 - s->p);
    s->p = p + 1;
    return 1;
}

/* Whether the field line *S of an If-Match or If-None-Match header is "*" (then the whole line;
 * "*" cannot be a member of a list). Trims *S of spaces either way. */
static int is_any(kvs_slice *s)
{
    *s = kvs_slice_trim_ows(*s);
    return s->n == 1 && s->p[0] == '*';
}

/* The next entity-tag of the list *S (advancing it): 1 with its OPAQUE part and WEAK, or 0 at
 * the end of the list or at a fault (a malformed tag, junk after a tag): what came before a
 * fault stays, the rest matches nothing. */
static int next_tag(kvs_slice *s, kvs_slice *opaque, int *weak)
{
    /* #rule: empty members and the spaces around commas are allowed */
    while (s->n > 0 && (s->p[0] == ',' || is_ows(s->p[0]))) {
        s->p++;
        s->n--;
    }
    if (s->n == 0 || !entity_tag(s, opaque, weak))
        return 0;
    *s = kvs_slice_trim_ows(*s);
    if (s->n > 0 && s->p[0] != ',')
        s->n = 0; /* junk after this tag: it counts, nothing after it does */
    return 1;
}

/* Add the field line S of an If-Match or If-None-Match header to L. */
static void add_list(struct kvs_etag_list *l, kvs_slice s)
{
    l->present = 1;
    if (is_any(&s)) {
        l->any = 1;
        return;
    }
    kvs_slice opaque;
    int weak;
    while (next_tag(&s, &opaque, &weak)) {
        struct kvs_etag_ref ref = {.weak = (uint8_t)weak};
        if (!parse_own(opaque, &ref))
            continue; /* not a tag of kvs's: it matches nothing */
        if (l->n == KVS_ETAG_LIST_MAX)
            l->too_many = 1;
        else
            l->tags[l->n++] = ref;
    }
}

int kvs_etag_list_matches(kvs_slice value, kvs_slice want)
{
    if (is_any(&value))
        return 1;
    kvs_slice opaque;
    int weak;
    while (next_tag(&value, &opaque, &weak))
        if (kvs_slice_eq(opaque, want))
            return 1;
    return 0;
}

static void add_date(struct kvs_precond_date *d, kvs_slice value, int64_t now_secs)
{
    if (d->state != KVS_DATE_ABSENT || kvs_httpdate_parse(value, now_secs, &d->secs) != 0)
        d->state = KVS_DATE_IGNORED; /* sent twice, or not a date */
    else
        d->state = KVS_DATE_SET;
}

int kvs_precond_any(const struct kvs_precond *p)
{
    return p->if_match.present || p->if_none_match.present ||
           p->if_modified_since.state == KVS_DATE_SET ||
           p->if_unmodified_since.state == KVS_DATE_SET;
}

void kvs_precond_add(struct kvs_precond *p, enum kvs_precond_header which, kvs_slice value,
                     int64_t now_secs)
{
    switch (which) {
    case KVS_H_IF_MATCH:
        add_list(&p->if_match, value);
        break;
    case KVS_H_IF_NONE_MATCH:
        add_list(&p->if_none_match, value);
        break;
    case KVS_H_IF_MODIFIED_SINCE:
        add_date(&p->if_modified_since, value, now_secs);
        break;
    case KVS_H_IF_UNMODIFIED_SINCE:
        add_date(&p->if_unmodified_since, value, now_secs);
        break;
    }
}

/* Whether list L names version VERSION: strongly (weak tags never match), or weakly (W/
 * ignored); with SAME_FORM, only the tag of the DECODED form counts, else either form. */
static int list_matches(const struct kvs_etag_list *l, uint64_t version, int strong, int same_form,
                        int decoded)
{
    for (unsigned i = 0; i < l->n; i++) {
        const struct kvs_etag_ref *t = &l->tags[i];
        if (t->version == version && !(strong && t->weak) &&
            !(same_form && t->decoded != (decoded != 0)))
            return 1;
    }
    return 0;
}

enum kvs_precond_result kvs_precond_eval(const struct kvs_precond *p,
                                         const struct kvs_precond_target *t, int read, int decoded)
{
    int64_t modified = t->exists ? t->modified_ms / 1000 : 0;
    /* 1. If-Match (strong), else 2. If-Unmodified-Since */
    if (p->if_match.present) {
        int ok =
            t->exists && (p->if_match.any || list_matches(&p->if_match, t->version, 1, 0, decoded));
        if (!ok)
            return KVS_PRECOND_FAILED;
    } else if (p->if_unmodified_since.state == KVS_DATE_SET && t->exists &&
               modified > p->if_unmodified_since.secs) {
        return KVS_PRECOND_FAILED; /* a record without a date (absent) ignores the header */
    }
    /* 3. If-None-Match (weak), else 4. If-Modified-Since (GET and HEAD only) */
    if (p->if_none_match.present) {
        int match = t->exists && (p->if_none_match.any ||
                                  list_matches(&p->if_none_match, t->version, 0, read, decoded));
        if (match)
            return read ? KVS_PRECOND_NOT_MODIFIED : KVS_PRECOND_FAILED;
    } else if (read && p->if_modified_since.state == KVS_DATE_SET && t->exists &&
               modified <= p->if_modified_since.secs) {
        return KVS_PRECOND_NOT_MODIFIED;
    }
    return KVS_PRECOND_PASS;
}

int kvs_if_range_matches(kvs_slice value, uint64_t version, int decoded)
{
    value = kvs_slice_trim_ows(value);
    kvs_slice opaque;
    int weak;
    struct kvs_etag_ref ref;
    return entity_tag(&value, &opaque, &weak) && value.n == 0 && !weak && parse_own(opaque, &ref) &&
           ref.version == version && ref.decoded == (decoded != 0);
}
