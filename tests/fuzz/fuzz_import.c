/* fuzz_import.c — the local-storage importer's parsers (src/localfs/layout.c): the store's
 * __metadata__.json, a record's <key>.__metadata__.json sidecar (both spellings, plain or
 * stringified twice as the JS SDK writes it), and a file name → record key.
 *
 * The first input byte picks what the rest is fed to (so one corpus covers all four):
 *   0  a record sidecar    1  a store metadata file    2  a file name    3  a key to encode
 * Properties:
 *   - the parsers return only their documented codes, with a reason on failure; the same
 *     bytes give the same answer; more than 64 KiB is KVS_ETOOBIG whatever it holds;
 *   - what a sidecar parser accepts is safe to hand to the server: the key passes the
 *     server's key rule (kvs_valid_key), the content type is empty or 1-255 printable ASCII
 *     characters (no CR/LF), the extension is [A-Za-z0-9_+-]{1,32} or empty, size >= -1;
 *     a store's name is empty or a valid store name, its id printable;
 *   - an accepted sidecar, written back as an object in either spelling and as the JS SDK's
 *     double-stringified form, parses to the same fields;
 *   - file names: the stem and extension lie inside the name and rebuild it; a sidecar's name
 *     is its stem plus ".__metadata__.json"; a key read from a name passes the key rule and
 *     equals a reference percent-decoder's result, and a name refused is exactly one whose
 *     decoding is malformed or no key;
 *   - keys: decode(encode(k)) == k for any valid key k, with kvs_pct_encode (what kvstore
 *     writes) and with every byte escaped (crawlee-python's quote(key, safe='')); a valid key
 *     is its own file-name stem. */
#include <ctype.h>
#include <jansson.h>

#include "common/buf.h"
#include "common/mediatype.h"
#include "common/pct.h"
#include "common/validate.h"
#include "fuzz.h"
#include "kvs.h"
#include "localfs/layout.h"

/* ---- references -------------------------------------------------------------------------- */

static int hexvalue(char c)
{
    return isdigit((unsigned char)c) ? c - '0' : tolower((unsigned char)c) - 'a' + 10;
}

/* A plain percent-decoder into OUT (room for IN.n bytes); -1 on a malformed escape. */
static long ref_decode(kvs_slice in, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < in.n; i++) {
        if (in.p[i] != '%') {
            out[o++] = in.p[i];
            continue;
        }
        if (i + 2 >= in.n)
            return -1;
        if (!isxdigit((unsigned char)in.p[i + 1]) || !isxdigit((unsigned char)in.p[i + 2]))
            return -1;
        out[o++] = (char)(hexvalue(in.p[i + 1]) * 16 + hexvalue(in.p[i + 2]));
        i += 2;
    }
    return (long)o;
}

static int printable(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] < 0x20 || s[i] > 0x7e)
            return 0;
    }
    return 1;
}

/* ---- sidecars and store metadata --------------------------------------------------------- */

static void check_record_fields(const struct kvs_localfs_record_meta *m)
{
    FUZZ_CHECK(kvs_valid_key(kvs_slice_of(m->key)));
    size_t ct = strlen(m->content_type);
    FUZZ_CHECK(ct <= KVS_LOCALFS_CONTENT_TYPE_MAX && printable(m->content_type, ct));
    FUZZ_CHECK(strchr(m->content_type, '\r') == NULL && strchr(m->content_type, '\n') == NULL);
    FUZZ_CHECK(ct == 0 || kvs_media_type_valid((kvs_slice){m->content_type, ct}));
    size_t en = strlen(m->extension);
    FUZZ_CHECK(en <= KVS_LOCALFS_EXT_MAX);
    for (size_t i = 0; i < en; i++)
        FUZZ_CHECK(isalnum((unsigned char)m->extension[i]) || strchr("_+-", m->extension[i]));
    FUZZ_CHECK(m->size >= -1);
}

static int same_record(const struct kvs_localfs_record_meta *a,
                       const struct kvs_localfs_record_meta *b)
{
    return strcmp(a->key, b->key) == 0 && strcmp(a->content_type, b->content_type) == 0 &&
           strcmp(a->extension, b->extension) == 0 && a->size == b->size;
}

/* Parse TEXT (NUL-terminated, from jansson) as a sidecar; it must give M again. */
static void reparse(const char *text, const struct kvs_localfs_record_meta *m)
{
    struct kvs_localfs_record_meta again;
    const char *why = NULL;
    FUZZ_CHECK(text != NULL);
    FUZZ_CHECK(kvs_localfs_parse_record_meta(kvs_slice_of(text), &again, &why) == 0);
    FUZZ_CHECK(same_record(m, &again));
}

/* Write M back as each program would and parse it again. */
static void round_trip_record(const struct kvs_localfs_record_meta *m)
{
    for (int snake = 0; snake <= 1; snake++) {
        json_t *o = json_object();
        json_object_set_new(o, "key", json_string(m->key));
        if (m->content_type[0])
            json_object_set_new(o, snake ? "content_type" : "contentType",
                                json_string(m->content_type));
        if (m->extension[0])
            json_object_set_new(o, "extension", json_string(m->extension));
        if (m->size >= 0)
            json_object_set_new(o, "size", json_integer(m->size));
        char *text = json_dumps(o, JSON_COMPACT);
        reparse(text, m);
        /* the JS SDK's form: that text as a JSON string */
        json_t *s = json_string(text);
        char *twice = json_dumps(s, JSON_ENCODE_ANY);
        reparse(twice, m);
        free(twice);
        json_decref(s);
        free(text);
        json_decref(o);
    }
}

static void fuzz_record_meta(kvs_slice in)
{
    struct kvs_localfs_record_meta m, m2;
    const char *why = NULL, *why2 = NULL;
    int rc = kvs_localfs_parse_record_meta(in, &m, &why);
    FUZZ_CHECK(rc == 0 || rc == KVS_ETOOBIG || rc == KVS_EBADJSON || rc == KVS_EBADKEY ||
               rc == KVS_EINVAL);
    FUZZ_CHECK(rc == 0 || (why != NULL && *why));
    FUZZ_CHECK(in.n <= KVS_LOCALFS_META_MAX || rc == KVS_ETOOBIG);
    int rc2 = kvs_localfs_parse_record_meta(in, &m2, &why2);
    FUZZ_CHECK(rc2 == rc);
    if (rc != 0)
        return;
    FUZZ_CHECK(same_record(&m, &m2));
    check_record_fields(&m);
    round_trip_record(&m);
}

static void fuzz_store_meta(kvs_slice in)
{
    struct kvs_localfs_store_meta s, s2;
    const char *why = NULL, *why2 = NULL;
    int rc = kvs_localfs_parse_store_meta(in, &s, &why);
    FUZZ_CHECK(rc == 0 || rc == KVS_ETOOBIG || rc == KVS_EBADJSON || rc == KVS_EBADNAME ||
               rc == KVS_EINVAL);
    FUZZ_CHECK(rc == 0 || (why != NULL && *why));
    FUZZ_CHECK(in.n <= KVS_LOCALFS_META_MAX || rc == KVS_ETOOBIG);
    FUZZ_CHECK(kvs_localfs_parse_store_meta(in, &s2, &why2) == rc);
    if (rc != 0)
        return;
    FUZZ_CHECK(strcmp(s.id, s2.id) == 0 && strcmp(s.name, s2.name) == 0);
    FUZZ_CHECK(s.name[0] == '\0' || kvs_valid_store_name(kvs_slice_of(s.name)));
    FUZZ_CHECK(strlen(s.id) <= KVS_LOCALFS_ID_MAX && printable(s.id, strlen(s.id)));
}

/* ---- file names and keys ----------------------------------------------------------------- */

/* kvs_localfs_key_of_stem(STEM) against the reference decoder and the key rule. */
static void check_key_of_stem(kvs_slice stem)
{
    char key[KVS_KEY_MAX + 1];
    int rc = kvs_localfs_key_of_stem(stem, key);
    char *ref = malloc(stem.n + 1);
    long rn = ref_decode(stem, ref);
    int expect_ok = rn >= 0 && kvs_valid_key((kvs_slice){ref, (size_t)rn});
    FUZZ_CHECK((rc == 0) == expect_ok);
    FUZZ_CHECK(rc == 0 || rc == KVS_EBADKEY);
    if (rc == 0) {
        FUZZ_CHECK(strlen(key) == (size_t)rn && memcmp(key, ref, (size_t)rn) == 0);
        FUZZ_CHECK(kvs_valid_key(kvs_slice_of(key)));
    } else {
        FUZZ_CHECK(key[0] == '\0');
    }
    free(ref);
}

static void fuzz_file_name(kvs_slice name)
{
    if (name.n > 4096)
        return;
    kvs_slice stem, ext;
    enum kvs_localfs_kind kind = kvs_localfs_classify(name, &stem);
    FUZZ_CHECK(fz_inside(stem, name));
    if (kind == KVS_LOCALFS_STORE_META) {
        FUZZ_CHECK(kvs_slice_eq_str(name, KVS_LOCALFS_STORE_META_FILE) && stem.n == 0);
    } else if (kind == KVS_LOCALFS_SIDECAR) {
        size_t sn = strlen(KVS_LOCALFS_SIDECAR_SUFFIX);
        FUZZ_CHECK(stem.n > 0 && stem.p == name.p && stem.n + sn == name.n);
        FUZZ_CHECK(memcmp(name.p + stem.n, KVS_LOCALFS_SIDECAR_SUFFIX, sn) == 0);
    } else {
        FUZZ_CHECK(kind == KVS_LOCALFS_VALUE && kvs_slice_eq(stem, name));
    }
    check_key_of_stem(stem);

    kvs_localfs_split_ext(name, &stem, &ext);
    FUZZ_CHECK(stem.p == name.p && fz_inside(stem, name));
    if (ext.p == NULL) {
        FUZZ_CHECK(ext.n == 0 && kvs_slice_eq(stem, name));
    } else {
        FUZZ_CHECK(fz_inside(ext, name) && stem.n + 1 + ext.n == name.n);
        FUZZ_CHECK(name.p[stem.n] == '.' && memchr(ext.p, '.', ext.n) == NULL);
        FUZZ_CHECK(ext.p == name.p + stem.n + 1);
        /* Node's extname: none when the last '.' is the first character, nor for ".." */
        FUZZ_CHECK(stem.n > 0 && !(name.n == 2 && name.p[0] == '.' && name.p[1] == '.'));
    }
    if (ext.p == NULL) /* then no '.' after the first character, or the name is ".." */
        FUZZ_CHECK(name.n < 2 || memrchr(name.p + 1, '.', name.n - 1) == NULL ||
                   (name.n == 2 && name.p[0] == '.' && name.p[1] == '.'));
    char key[KVS_KEY_MAX + 1];
    const char *type = NULL;
    int rc = kvs_localfs_value_record(name, key, &type);
    FUZZ_CHECK(type != NULL && *type);
    FUZZ_CHECK(rc == 0 ? kvs_valid_key(kvs_slice_of(key)) : rc == KVS_EBADKEY);
}

static void fuzz_key(kvs_slice k)
{
    if (!kvs_valid_key(k))
        return;
    char key[KVS_KEY_MAX + 1];
    /* a key is its own stem: no key character is '%' */
    FUZZ_CHECK(kvs_localfs_key_of_stem(k, key) == 0 && kvs_slice_eq(kvs_slice_of(key), k));
    /* as kvstore encodes it */
    struct kvs_buf enc;
    kvs_buf_init(&enc, 3 * KVS_KEY_MAX + sizeof KVS_LOCALFS_SIDECAR_SUFFIX);
    FUZZ_CHECK(kvs_pct_encode(&enc, k) == 0);
    FUZZ_CHECK(kvs_localfs_key_of_stem(kvs_buf_slice(&enc), key) == 0);
    FUZZ_CHECK(kvs_slice_eq(kvs_slice_of(key), k));
    /* every byte escaped, as quote(key, safe='') does to !'() (and upper/lower hex alike) */
    kvs_buf_reset(&enc);
    for (size_t i = 0; i < k.n; i++) {
        char esc[4];
        snprintf(esc, sizeof esc, i % 2 ? "%%%02X" : "%%%02x", (unsigned char)k.p[i]);
        FUZZ_CHECK(kvs_buf_append(&enc, esc, 3) == 0);
    }
    FUZZ_CHECK(kvs_localfs_key_of_stem(kvs_buf_slice(&enc), key) == 0);
    FUZZ_CHECK(kvs_slice_eq(kvs_slice_of(key), k));
    /* and the sidecar file name of it is a sidecar of that stem */
    kvs_slice stem;
    FUZZ_CHECK(kvs_buf_puts(&enc, KVS_LOCALFS_SIDECAR_SUFFIX) == 0);
    FUZZ_CHECK(kvs_localfs_classify(kvs_buf_slice(&enc), &stem) == KVS_LOCALFS_SIDECAR);
    FUZZ_CHECK(stem.n == 3 * k.n);
    kvs_buf_free(&enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz f = {(const char *)data, size};
    unsigned mode = fz_byte(&f) % 4;
    kvs_slice in = fz_take(&f, f.n);
    switch (mode) {
    case 0:
        fuzz_record_meta(in);
        break;
    case 1:
        fuzz_store_meta(in);
        break;
    case 2:
        fuzz_file_name(in);
        break;
    default:
        fuzz_key(in);
        break;
    }
    return 0;
}
