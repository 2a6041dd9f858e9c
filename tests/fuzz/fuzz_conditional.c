/* fuzz_conditional.c — the headers of conditional and range requests: HTTP dates
 * (src/common/httpdate.c), entity-tag lists and preconditions (src/common/precond.c), Range
 * (src/server/range.c).
 *
 * The first input byte picks the header; the rest is its value (a 64-bit number first for
 * the length, version or time the property needs). Properties:
 *   date      a parsed date formats to an IMF-fixdate that parses back to the same second;
 *             any second of 1970..9999 formats to 29 characters that parse back to it
 *   list      every tag kept is one of ours, and its canonical text occurs in the input; at
 *             most KVS_ETAG_LIST_MAX are kept; a list made of formatted tags parses back to
 *             those tags in order; evaluation returns one of the three results, and only
 *             PASS or FAILED for a write, and FAILED for an If-Match against a missing record
 *   if-range  a match means the value is exactly the formatted tag, spaces around allowed
 *   range     a part lies inside the representation (first <= last < len) and the same part
 *             written back canonically ("bytes=first-last") parses to the same part
 */
#include "common/httpdate.h"
#include "common/precond.h"
#include "fuzz.h"
#include "server/range.h"

#define NOW 1796300000LL

static void fuzz_date(struct fz *f)
{
    int64_t secs = (int64_t)(fz_u64(f) % 253402300800ULL);
    char out[KVS_HTTPDATE_LEN + 1];
    kvs_httpdate_format(secs, out);
    FUZZ_CHECK(strlen(out) == KVS_HTTPDATE_LEN);
    int64_t back = -1;
    FUZZ_CHECK(kvs_httpdate_parse(kvs_slice_of(out), NOW, &back) == 0 && back == secs);

    kvs_slice in = fz_take(f, f->n);
    int64_t parsed;
    if (kvs_httpdate_parse(in, NOW, &parsed) != 0)
        return;
    FUZZ_CHECK(parsed >= 0 && parsed <= 253402300799LL);
    kvs_httpdate_format(parsed, out);
    FUZZ_CHECK(kvs_httpdate_parse(kvs_slice_of(out), NOW, &back) == 0 && back == parsed);
}

/* Whether NEEDLE occurs in HAY. */
static int contains(kvs_slice hay, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= hay.n; i++)
        if (memcmp(hay.p + i, needle, n) == 0)
            return 1;
    return 0;
}

static void fuzz_list(struct fz *f)
{
    uint64_t version = fz_u64(f);
    unsigned flags = fz_byte(f);

    /* tags we format, joined as a client would: they parse back in order */
    char list[KVS_ETAG_LIST_MAX * (KVS_ETAG_MAX + 4)];
    size_t len = 0;
    unsigned n = 1 + flags % KVS_ETAG_LIST_MAX;
    for (unsigned i = 0; i < n; i++) {
        if (i)
            list[len++] = ',';
        if ((flags >> 4) & 1)
            list[len++] = ' ';
        if ((flags >> 5) & 1) {
            memcpy(list + len, "W/", 2);
            len += 2;
        }
        kvs_etag_format(version + i, (int)((flags >> 6) & 1), list + len);
        len += strlen(list + len);
    }
    struct kvs_precond p = {0};
    kvs_precond_add(&p, KVS_H_IF_NONE_MATCH, (kvs_slice){list, len}, NOW);
    FUZZ_CHECK(p.if_none_match.n == n && !p.if_none_match.too_many && !p.if_none_match.any);
    for (unsigned i = 0; i < n; i++) {
        FUZZ_CHECK(p.if_none_match.tags[i].version == version + i);
        FUZZ_CHECK(p.if_none_match.tags[i].weak == ((flags >> 5) & 1));
        FUZZ_CHECK(p.if_none_match.tags[i].decoded == ((flags >> 6) & 1));
    }

    /* any text: what is kept was in it */
    kvs_slice in = fz_take(f, f->n);
    p = (struct kvs_precond){0};
    kvs_precond_add(&p, KVS_H_IF_MATCH, in, NOW);
    FUZZ_CHECK(p.if_match.present && p.if_match.n <= KVS_ETAG_LIST_MAX);
    for (unsigned i = 0; i < p.if_match.n; i++) {
        char tag[KVS_ETAG_MAX];
        kvs_etag_format(p.if_match.tags[i].version, p.if_match.tags[i].decoded, tag);
        FUZZ_CHECK(contains(in, tag));
    }
    kvs_precond_add(&p, KVS_H_IF_NONE_MATCH, in, NOW);
    kvs_precond_add(&p, KVS_H_IF_MODIFIED_SINCE, in, NOW);
    struct kvs_precond_target t = {(int)(flags & 1), version, (int64_t)(version >> 20)};
    for (int read = 0; read <= 1; read++) {
        enum kvs_precond_result res = kvs_precond_eval(&p, &t, read, (int)((flags >> 1) & 1));
        FUZZ_CHECK(res == KVS_PRECOND_PASS || res == KVS_PRECOND_FAILED ||
                   (read && res == KVS_PRECOND_NOT_MODIFIED));
        if (!t.exists)
            FUZZ_CHECK(res == KVS_PRECOND_FAILED);
    }
}

static void fuzz_if_range(struct fz *f)
{
    uint64_t version = fz_u64(f);
    int decoded = (int)(fz_byte(f) & 1);
    kvs_slice in = fz_take(f, f->n);
    if (!kvs_if_range_matches(in, version, decoded))
        return;
    char tag[KVS_ETAG_MAX];
    kvs_etag_format(version, decoded, tag);
    FUZZ_CHECK(kvs_slice_eq_str(kvs_slice_trim_ows(in), tag));
}

static void fuzz_range(struct fz *f)
{
    uint64_t len = fz_u64(f) % (1ull << 40);
    kvs_slice in = fz_take(f, f->n);
    struct kvs_range r;
    switch (kvs_range_parse(in, len, &r)) {
    case KVS_RANGE_PART: {
        FUZZ_CHECK(r.first <= r.last && r.last < len);
        char canon[64];
        int n = snprintf(canon, sizeof canon, "bytes=%llu-%llu", (unsigned long long)r.first,
                         (unsigned long long)r.last);
        struct kvs_range again;
        FUZZ_CHECK(kvs_range_parse((kvs_slice){canon, (size_t)n}, len, &again) == KVS_RANGE_PART);
        FUZZ_CHECK(again.first == r.first && again.last == r.last);
        break;
    }
    case KVS_RANGE_UNSATISFIABLE:
    case KVS_RANGE_IGNORE:
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz f = {(const char *)data, size};
    switch (fz_byte(&f) % 4) {
    case 0:
        fuzz_date(&f);
        break;
    case 1:
        fuzz_list(&f);
        break;
    case 2:
        fuzz_if_range(&f);
        break;
    default:
        fuzz_range(&f);
        break;
    }
    return 0;
}
