/* layout.c — reading the local storage layouts' names and metadata files (see layout.h).
 *
 * jansson parses the metadata; everything taken out of it is checked before it is copied into
 * fixed-size fields, so nothing a file says can overflow or carry a byte the server would
 * refuse. */
#include "localfs/layout.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "common/mediatype.h"
#include "common/mime.h"
#include "common/pct.h" /* the server's own percent-decoder */
#include "kvs.h"

enum kvs_localfs_kind kvs_localfs_classify(kvs_slice name, kvs_slice *stem)
{
    static const kvs_slice suffix = KVS_SLICE_LIT(KVS_LOCALFS_SIDECAR_SUFFIX);
    *stem = name;
    if (kvs_slice_eq_str(name, KVS_LOCALFS_STORE_META_FILE)) {
        *stem = (kvs_slice){name.p, 0};
        return KVS_LOCALFS_STORE_META;
    }
    if (name.n > suffix.n && memcmp(name.p + name.n - suffix.n, suffix.p, suffix.n) == 0) {
        stem->n = name.n - suffix.n;
        return KVS_LOCALFS_SIDECAR;
    }
    return KVS_LOCALFS_VALUE;
}

void kvs_localfs_split_ext(kvs_slice name, kvs_slice *stem, kvs_slice *ext)
{
    size_t dot = name.n;
    while (dot > 0 && name.p[dot - 1] != '.')
        dot--;
    /* dot is now one past the last '.', or 0 when there is none. Node's extname(): no
     * extension when the last '.' is the name's first character (".env") or the name is "..";
     * "....bin" has one (".bin"), as has "a." (an empty one). */
    if (dot <= 1 || (name.n == 2 && name.p[0] == '.' && name.p[1] == '.')) {
        *stem = name;
        *ext = (kvs_slice){NULL, 0};
        return;
    }
    *stem = (kvs_slice){name.p, dot - 1};
    *ext = (kvs_slice){name.p + dot, name.n - dot};
}

int kvs_localfs_key_of_stem(kvs_slice stem, char out[KVS_KEY_MAX + 1])
{
    out[0] = '\0';
    /* a valid key is at most KVS_KEY_MAX bytes; decoding only shrinks, so a longer result
     * does not fit and is refused by the decoder itself */
    long n = kvs_pct_decode(stem, out, KVS_KEY_MAX, 0);
    if (n < 0 || !kvs_valid_key((kvs_slice){out, (size_t)n})) {
        out[0] = '\0';
        return KVS_EBADKEY;
    }
    out[n] = '\0';
    return 0;
}

int kvs_localfs_value_record(kvs_slice name, char key[KVS_KEY_MAX + 1], const char **content_type)
{
    kvs_slice stem, ext;
    kvs_localfs_split_ext(name, &stem, &ext);
    const char *type = kvs_mime_type_of_ext(ext);
    *content_type = type ? type : KVS_MIME_DEFAULT;
    return kvs_localfs_key_of_stem(stem, key);
}

/* ---- JSON ---------------------------------------------------------------------------------- */

/* Load TEXT as a JSON object, unwrapping one JSON string that holds the object's text (the JS
 * SDK's double stringification). Returns 0 with a new reference in *OUT, or an error. */
static int load_object(kvs_slice text, json_t **out, const char **why)
{
    *out = NULL;
    if (text.n > KVS_LOCALFS_META_MAX) {
        *why = "larger than 64 KiB";
        return KVS_ETOOBIG;
    }
    /* duplicate names would make "which key?" a matter of parser choice: refuse them */
    json_t *doc = json_loadb(text.p, text.n, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
    if (json_is_string(doc)) {
        json_t *inner = json_loadb(json_string_value(doc), json_string_length(doc),
                                   JSON_REJECT_DUPLICATES, NULL);
        json_decref(doc);
        doc = inner;
    }
    if (doc == NULL) {
        *why = "not valid JSON";
        return KVS_EBADJSON;
    }
    if (!json_is_object(doc)) {
        json_decref(doc);
        *why = "not a JSON object";
        return KVS_EBADJSON;
    }
    *out = doc;
    return 0;
}

/* Whether S is 1..MAX bytes of printable ASCII (space included, not first or last). */
static int printable(const char *s, size_t n, size_t max)
{
    if (n == 0 || n > max || s[0] == ' ' || s[n - 1] == ' ')
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < 0x20 || s[i] > 0x7e)
            return 0;
    }
    return 1;
}

/* The string field NAME of OBJ into *OUT: 1 when present as a string, 0 when absent or null,
 * -1 when of another type. */
static int string_field(json_t *obj, const char *name, kvs_slice *out)
{
    json_t *v = json_object_get(obj, name);
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return -1;
    *out = (kvs_slice){json_string_value(v), json_string_length(v)};
    return 1;
}

static void copy(char *dst, kvs_slice s)
{
    memcpy(dst, s.p, s.n);
    dst[s.n] = '\0';
}

static int ext_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '+' || c == '-';
}

/* The record fields of OBJ into *OUT (see kvs_localfs_parse_record_meta). */
static int record_fields(json_t *obj, struct kvs_localfs_record_meta *out, const char **why)
{
    kvs_slice key = {0}, ct = {0}, ct2 = {0}, ext = {0};
    int has = string_field(obj, "key", &key);
    if (has <= 0) {
        *why = has < 0 ? "\"key\" is not a string" : "no \"key\"";
        return KVS_EINVAL;
    }
    if (!kvs_valid_key(key)) {
        *why = "\"key\" is not a valid record key (1-256 of a-zA-Z0-9!-_.'())";
        return KVS_EBADKEY;
    }
    copy(out->key, key);

    int has_camel = string_field(obj, "contentType", &ct);
    int has_snake = string_field(obj, "content_type", &ct2);
    if (has_camel < 0 || has_snake < 0) {
        *why = "the content type is not a string";
        return KVS_EINVAL;
    }
    if (has_camel && has_snake && !kvs_slice_eq(ct, ct2)) {
        *why = "\"contentType\" and \"content_type\" differ";
        return KVS_EINVAL;
    }
    if (!has_camel)
        ct = ct2;
    if (has_camel || has_snake) {
        if (!printable(ct.p, ct.n, KVS_LOCALFS_CONTENT_TYPE_MAX)) {
            *why = "the content type is empty, longer than 255 or not printable ASCII";
            return KVS_EINVAL;
        }
        if (!kvs_media_type_valid(ct)) { /* as an upload's (common/mediatype.h) */
            *why = "the content type is not one media type (type/subtype; name=value...)";
            return KVS_EINVAL;
        }
        copy(out->content_type, ct);
    }

    has = string_field(obj, "extension", &ext);
    if (has < 0 || (has > 0 && (ext.n == 0 || ext.n > KVS_LOCALFS_EXT_MAX))) {
        *why = "\"extension\" is not a string of 1-32 characters";
        return KVS_EINVAL;
    }
    for (size_t i = 0; i < ext.n; i++) {
        if (!ext_char(ext.p[i])) {
            *why = "\"extension\" holds a character other than a-zA-Z0-9_+-";
            return KVS_EINVAL;
        }
    }
    if (has > 0)
        copy(out->extension, ext);

    json_t *size = json_object_get(obj, "size");
    if (size != NULL && !json_is_null(size)) {
        if (!json_is_integer(size) || json_integer_value(size) < 0) {
            *why = "\"size\" is not an integer >= 0";
            return KVS_EINVAL;
        }
        out->size = (int64_t)json_integer_value(size);
    }
    return 0;
}

int kvs_localfs_parse_record_meta(kvs_slice text, struct kvs_localfs_record_meta *out,
                                  const char **why)
{
    memset(out, 0, sizeof *out);
    out->size = -1;
    json_t *obj;
    int rc = load_object(text, &obj, why);
    if (rc == 0)
        rc = record_fields(obj, out, why);
    json_decref(obj);
    return rc;
}

int kvs_localfs_parse_store_meta(kvs_slice text, struct kvs_localfs_store_meta *out,
                                 const char **why)
{
    memset(out, 0, sizeof *out);
    json_t *obj;
    int rc = load_object(text, &obj, why);
    if (rc != 0)
        return rc;
    kvs_slice id = {0}, name = {0};
    int has_id = string_field(obj, "id", &id);
    int has_name = string_field(obj, "name", &name);
    if (has_id < 0 || (has_id > 0 && !printable(id.p, id.n, KVS_LOCALFS_ID_MAX))) {
        *why = "\"id\" is not a string of 1-64 printable characters";
        rc = KVS_EINVAL;
    } else if (has_name < 0) {
        *why = "\"name\" is not a string or null";
        rc = KVS_EINVAL;
    } else if (has_name > 0 && !kvs_valid_store_name(name)) {
        *why = "\"name\" is not a valid store name (1-63 letters, digits, inner hyphens)";
        rc = KVS_EBADNAME;
    } else {
        if (has_id > 0)
            copy(out->id, id);
        if (has_name > 0)
            copy(out->name, name);
    }
    json_decref(obj);
    return rc;
}

/* ---- writing (kvs export) ------------------------------------------------------------------ */

int kvs_localfs_layout_parse(const char *name, enum kvs_localfs_layout *out)
{
    static const char *const names[] = {
        [KVS_LAYOUT_JS] = "js", [KVS_LAYOUT_SIDECAR] = "sidecar", [KVS_LAYOUT_PYTHON] = "python"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(name, names[i]) == 0) {
            *out = (enum kvs_localfs_layout)i;
            return 0;
        }
    }
    return KVS_EINVAL;
}

/* The file-name stem of KEY in the JS layouts into OUT (room for 3 * KEY.n bytes): the key
 * itself, or with each '_' written %5F when it holds "__metadata__". Returns its length. */
static size_t js_stem(kvs_slice key, char *out)
{
    if (memmem(key.p, key.n, "__metadata__", 12) == NULL) {
        memcpy(out, key.p, key.n);
        return key.n;
    }
    size_t o = 0;
    for (size_t i = 0; i < key.n; i++) {
        if (key.p[i] == '_') {
            memcpy(out + o, "%5F", 3);
            o += 3;
        } else {
            out[o++] = key.p[i];
        }
    }
    return o;
}

/* The file-name stem of KEY in the python layout into OUT (room for 3 * KEY.n + 2 bytes):
 * quote(KEY, safe=''), with a final '.' written %2E when the name would otherwise be read as
 * a sidecar or as the store's metadata. Returns its length. */
static size_t python_stem(kvs_slice key, char *out)
{
    size_t n = kvs_pct_escape(key, "", out);
    kvs_slice stem;
    if (kvs_localfs_classify((kvs_slice){out, n}, &stem) != KVS_LOCALFS_VALUE) {
        /* it ends in ".json": escape that '.' */
        memmove(out + n - 4 + 2, out + n - 4, 4);
        memcpy(out + n - 5, "%2E", 3);
        n += 2;
    }
    return n;
}

/* NAME = STEM + SUFFIX into OUT, if it fits a file name. Returns 0 or KVS_ETOOBIG. */
static int name_of(char out[KVS_LOCALFS_NAME_MAX + 1], const char *stem, size_t stem_n,
                   const char *suffix)
{
    if (stem_n + strlen(suffix) > KVS_LOCALFS_NAME_MAX)
        return KVS_ETOOBIG;
    snprintf(out, KVS_LOCALFS_NAME_MAX + 1, "%.*s%s", (int)stem_n, stem, suffix);
    return 0;
}

int kvs_localfs_record_names(kvs_slice key, const char *content_type,
                             enum kvs_localfs_layout layout, struct kvs_localfs_names *out)
{
    memset(out, 0, sizeof *out);
    if (!kvs_valid_key(key))
        return KVS_EBADKEY;
    char stem[3 * KVS_KEY_MAX + 3];
    if (layout == KVS_LAYOUT_PYTHON) {
        size_t n = python_stem(key, stem);
        int rc = name_of(out->value, stem, n, "");
        return rc ? rc : name_of(out->sidecar, stem, n, KVS_LOCALFS_SIDECAR_SUFFIX);
    }
    size_t n = js_stem(key, stem);
    const char *ext = kvs_mime_ext_of_type(kvs_slice_of(content_type));
    if (ext == NULL)
        ext = "bin"; /* mime-types' answer for a type it does not know, as Crawlee writes it */
    const char *back = kvs_mime_type_of_ext(kvs_slice_of(ext));
    snprintf(out->extension, sizeof out->extension, "%s", ext);
    char suffix[KVS_LOCALFS_EXT_MAX + 2];
    snprintf(suffix, sizeof suffix, ".%s", ext);
    int rc = name_of(out->value, stem, n, suffix);
    if (rc == 0 && (layout == KVS_LAYOUT_SIDECAR || back == NULL || strcmp(back, content_type)))
        rc = name_of(out->sidecar, stem, n, KVS_LOCALFS_SIDECAR_SUFFIX);
    return rc;
}

char *kvs_localfs_sidecar_json(kvs_slice key, const char *content_type,
                               enum kvs_localfs_layout layout,
                               const struct kvs_localfs_names *names, int64_t size)
{
    json_t *o = layout == KVS_LAYOUT_PYTHON
                    ? json_pack("{s:s%,s:s,s:I}", "key", key.p, key.n, "content_type", content_type,
                                "size", (json_int_t)size)
                    : json_pack("{s:s%,s:s,s:s}", "key", key.p, key.n, "contentType", content_type,
                                "extension", names->extension);
    char *text = o ? json_dumps(o, JSON_INDENT(2)) : NULL;
    json_decref(o);
    return text;
}

char *kvs_localfs_store_meta_json(enum kvs_localfs_layout layout, const char *id, const char *name,
                                  const char *created_at, const char *modified_at,
                                  const char *accessed_at)
{
    int py = layout == KVS_LAYOUT_PYTHON;
    json_t *o =
        json_pack("{s:s?,s:s?,s:s?,s:s?,s:s?}", "id", id, "name", name,
                  py ? "created_at" : "createdAt", created_at, py ? "modified_at" : "modifiedAt",
                  modified_at, py ? "accessed_at" : "accessedAt", accessed_at);
    char *text = o ? json_dumps(o, JSON_INDENT(2)) : NULL;
    json_decref(o);
    return text;
}
