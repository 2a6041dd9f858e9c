/* keys.c — GET /v2/key-value-stores/{store}/keys: one page of a store's keys.
 *
 * Keys come in byte order; a page starts after exclusiveStartKey and holds at most limit keys
 * (default and maximum 1000), optionally only those with a prefix or in a collection of the
 * store's schema. Each item carries, besides the platform's key, size and recordPublicUrl, the
 * record's contentType and modifiedAt (kvstore additions, named as the platform names them on
 * records and stores: the official clients keep unknown fields, the console shows them, and an
 * SDK listing keys need not assume application/octet-stream). includeContentTypes=1, which
 * once asked for contentType, is still taken.
 * nextExclusiveStartKey and exclusiveStartKey are an explicit null when absent: the official
 * clients stop paging only on null (contract §2.3). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "auth/sign.h"
#include "common/clock.h"
#include "common/json.h"
#include "kvs.h"
#include "server/reply.h"

#define KEYS_LIMIT_MAX 1000

/* The page is written as JSON text straight into a buffer: built as 1,000 jansson objects it
 * cost ~4 ms, mostly allocation and escaping (bench/results). Keys hold only characters
 * that need no escaping in JSON; they are escaped anyway, cheaply, in case that changes. */
struct page {
    struct kvs_buf out;
    struct kvs_buf url; /* the JSON-escaped "<public base>/v2/key-value-stores/<id>/records/" */
    struct kvs_signer *signer; /* signs record links; NULL = plain links (kvs_api_keys_list) */
    kvs_slice only;            /* a collection's single key: list nothing else (empty = none) */
    kvs_slice last;            /* the last key listed */
    uint64_t count;
};

#define PAGE_OUT_MAX (8u * 1024 * 1024) /* 1,000 items of at most ~1 KiB, with room */

/* Append header value V as a JSON string. A header is bytes, not UTF-8 text: bytes from 0x80 on
 * are read as ISO-8859-1, as HTTP clients (and a browser's fetch) read them, so that the list
 * says what GET of the record answers and stays valid JSON whatever a client sent. */
static int json_header_value(struct kvs_buf *o, kvs_slice v)
{
    int rc = kvs_buf_puts(o, "\"");
    size_t run = 0;
    for (size_t i = 0; rc == 0 && i <= v.n; i++) {
        if (i < v.n && (unsigned char)v.p[i] < 0x80)
            continue;
        rc = kvs_json_str_inner(o, (kvs_slice){v.p + run, i - run});
        if (rc == 0 && i < v.n) {
            char esc[8];
            snprintf(esc, sizeof esc, "\\u%04x", (unsigned char)v.p[i]);
            rc = kvs_buf_puts(o, esc);
        }
        run = i + 1;
    }
    if (rc == 0)
        rc = kvs_buf_puts(o, "\"");
    return rc;
}

/* Append the string literal S (its length known when compiled: no strlen per key). */
#define PUT_LIT(o, s) kvs_buf_append((o), (s), sizeof(s) - 1)

static int add_key(void *arg, const struct kvs_key_view *k)
{
    struct page *pg = arg;
    if (pg->only.n && !kvs_slice_eq(k->key, pg->only))
        return 0;
    struct kvs_buf *o = &pg->out;
    int rc = pg->count ? PUT_LIT(o, ",{\"key\":") : PUT_LIT(o, "{\"key\":");
    if (rc == 0)
        rc = kvs_json_str(o, k->key);
    if (rc == 0)
        rc = PUT_LIT(o, ",\"size\":");
    if (rc == 0)
        rc = kvs_json_uint(o, k->size);
    if (rc == 0)
        rc = PUT_LIT(o, ",\"recordPublicUrl\":\"");
    if (rc == 0)
        rc = kvs_buf_append(o, pg->url.p, pg->url.n);
    if (rc == 0)
        rc = kvs_json_str_inner(o, k->key);
    if (rc == 0 && pg->signer) {
        char sig[KVS_RECORD_SIG_MAX + 1];
        kvs_signer_sign(pg->signer, k->key, sig);
        rc = PUT_LIT(o, "?signature=");
        if (rc == 0)
            rc = kvs_buf_puts(o, sig);
    }
    if (rc == 0)
        rc = PUT_LIT(o, "\",\"contentType\":");
    if (rc == 0)
        rc = json_header_value(o, k->rec.content_type);
    if (rc == 0) {
        char when[KVS_ISO_LEN + 1];
        kvs_iso8601(k->rec.modified_ms, when);
        rc = PUT_LIT(o, ",\"modifiedAt\":\"");
        if (rc == 0)
            rc = kvs_buf_append(o, when, KVS_ISO_LEN);
        if (rc == 0)
            rc = PUT_LIT(o, "\"}");
    }
    pg->last = k->key;
    pg->count++;
    return rc;
}

/* Append ,"NAME":"VALUE" or ,"NAME":null when VALUE is NULL. */
static int add_opt_str(struct kvs_buf *o, const char *name, const char *value, size_t n)
{
    int rc = kvs_buf_puts(o, ",\"");
    if (rc == 0)
        rc = kvs_buf_puts(o, name);
    if (rc == 0)
        rc = kvs_buf_puts(o, "\":");
    if (rc == 0)
        rc = value ? kvs_json_str(o, (kvs_slice){value, n}) : kvs_buf_puts(o, "null");
    return rc;
}

void kvs_api_keys_list(struct kvs_req *r)
{
    uint64_t limit;
    if (kvs_api_query_uint(r, "limit", KEYS_LIMIT_MAX, &limit) != 0) {
        kvs_reply_error(r, KVS_EBADPARAM, "Parameter limit must be an integer from 0 to " KVS_API_QUERY_MAX_TEXT ".");
        return;
    }
    if (limit == 0 || limit > KEYS_LIMIT_MAX)
        limit = KEYS_LIMIT_MAX; /* 0 means "not given" to the official clients */
    const char *start = kvs_http_query(r, "exclusiveStartKey");
    const char *prefix_q = kvs_http_query(r, "prefix");
    const char *collection = kvs_http_query(r, "collection");
    int content_types; /* always given now; the parameter is still checked */
    if (kvs_api_query_bool(r, "includeContentTypes", &content_types) != 0) {
        kvs_reply_error(r, KVS_EBADPARAM,
                        "Parameter includeContentTypes must be true, false, 1 or 0.");
        return;
    }
    json_t *utf8 = start && *start ? json_string(start) : json_null(); /* NULL: not UTF-8 */
    if (utf8 == NULL) { /* echoed in the answer, which must be valid JSON */
        kvs_reply_error(r, KVS_EBADPARAM, "Parameter exclusiveStartKey is not valid UTF-8.");
        return;
    }
    json_decref(utf8);

    struct kvs_store *s = kvs_api_store_or_reply(r, KVS_NEED_READ);
    if (s == NULL)
        return;

    kvs_slice prefix = kvs_slice_of(prefix_q ? prefix_q : "");
    kvs_slice only = {"", 0};
    int none = 0;
    json_t *schema = NULL;
    if (collection && *collection) {
        int rc = kvs_api_collection(r, collection, &prefix, &only, &none, &schema);
        if (rc != 0) {
            json_decref(schema);
            kvs_reply_error(r, rc, "%s", r->error_msg);
            return;
        }
    }

    /* Record links are signed for those who may write (they may read the secret anyway), and
     * for a list opened by a valid keys signature: its holder may read every record (the ZIP
     * opens with it too), and signed links are what makes the list of use to them (contract
     * §2.3, §4.6). What a link grants ends with it: the record links of a list opened by an
     * expiring keys signature expire with it (auth/sign.h, expiring record signatures), and
     * a new secret ends them all. A reader by token or general access gets plain links: a
     * permanent record signature would outlive their right to read. */
    struct page pg = {.only = only};
    kvs_buf_init(&pg.out, PAGE_OUT_MAX);
    kvs_buf_init(&pg.url, 4096);
    int rc = 0;
    int64_t until = 0;
    if (kvs_api_can_write(r, s))
        rc = kvs_signer_new(kvs_slice_of(s->secret), &pg.signer);
    else if (kvs_api_keys_signature(r, s, &until))
        rc = kvs_signer_new_until(kvs_slice_of(s->secret), until, &pg.signer);
    char base[400], url[512];
    kvs_api_public_base(r, base, sizeof base);
    snprintf(url, sizeof url, "%s/v2/key-value-stores/%s/records/", base, s->id);
    if (rc == 0)
        rc = kvs_json_str_inner(&pg.url, kvs_slice_of(url));
    if (rc == 0)
        rc = kvs_buf_puts(&pg.out, "{\"data\":{\"items\":[");
    int truncated = 0;
    if (rc == 0 && !none)
        rc = kvs_storage_keys_list(r->rd, kvs_slice_of(s->id), prefix,
                                   kvs_slice_of(start ? start : ""), limit, KVS_KEYS_WITH_TYPES,
                                   add_key, &pg, &truncated);
    if (only.n)
        truncated = 0; /* a one-key collection has nothing after its key */
    if (rc == 0)
        rc = kvs_buf_puts(&pg.out, "],\"count\":");
    if (rc == 0)
        rc = kvs_json_uint(&pg.out, pg.count);
    if (rc == 0)
        rc = kvs_buf_puts(&pg.out, ",\"limit\":");
    if (rc == 0)
        rc = kvs_json_uint(&pg.out, limit);
    if (rc == 0)
        rc = add_opt_str(&pg.out, "exclusiveStartKey", start && *start ? start : NULL,
                         start ? strlen(start) : 0);
    if (rc == 0)
        rc = kvs_buf_puts(&pg.out, truncated ? ",\"isTruncated\":true" : ",\"isTruncated\":false");
    if (rc == 0)
        rc = add_opt_str(&pg.out, "nextExclusiveStartKey",
                         truncated && pg.last.n ? pg.last.p : NULL, pg.last.n);
    if (rc == 0)
        rc = kvs_buf_puts(&pg.out, "}}");
    kvs_signer_free(pg.signer);
    kvs_buf_free(&pg.url);
    json_decref(schema);
    if (rc != 0) {
        kvs_buf_free(&pg.out);
        kvs_reply_error(r, rc == KVS_ETOOBIG ? KVS_EIO : rc, NULL);
        return;
    }
    kvs_storage_note_access(r->srv->storage, s->id, KVS_NOTE_LIST);
    size_t n;
    char *text = kvs_buf_steal(&pg.out, &n);
    kvs_reply_bytes(r, 200, "application/json; charset=utf-8", text, n, free, text);
}
