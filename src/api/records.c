/* records.c — GET, HEAD, PUT, POST and DELETE of one record
 * (/v2/key-value-stores/{store}/records/{key}).
 *
 * A record is stored exactly as uploaded: its bytes, its Content-Type as sent and its
 * Content-Encoding. GET answers with the stored bytes straight from the storage's memory
 * (zero-copy: the read snapshot lives until the HTTP library has sent them), decoded on the
 * fly only when the client's Accept-Encoding refuses the stored coding. A Range of the stored
 * bytes is a slice of that same memory: the part goes out without the rest being touched. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api.h"
#include "common/log.h"
#include "kvs.h"
#include "server/range.h"
#include "server/reply.h"

static int check_key(struct kvs_req *r)
{
    if (r->key_too_long || !kvs_valid_key((kvs_slice){r->key, r->key_len})) {
        snprintf(r->error_msg, sizeof r->error_msg,
                 "Record key contains invalid character or is longer than %d characters; "
                 "allowed are a-z, A-Z, 0-9 and !-_.'()",
                 KVS_KEY_MAX);
        return KVS_EBADKEY;
    }
    return 0;
}

static void reply_key_error(struct kvs_req *r, int rc)
{
    kvs_reply_error(r, rc, "%s", r->error_msg);
}

/* ---- GET / HEAD ------------------------------------------------------------------------------ */

static void end_read(void *cls)
{
    kvs_storage_read_end(cls);
}

/* Whether a browser shown CTYPE could run script in it. Inert types, the common case, skip the
 * sandbox header (each header costs the HTTP library an allocation per response); every
 * other type gets it, unknown ones included. */
static int may_run_script(const char *ctype)
{
    static const char *const inert[] = {
        "application/json", "text/plain", "application/octet-stream",
        "image/png",        "image/jpeg", "image/gif",
        "image/webp",       "text/csv"};
    for (size_t i = 0; i < sizeof inert / sizeof inert[0]; i++) {
        size_t n = strlen(inert[i]);
        if (strncasecmp(ctype, inert[i], n) == 0 && (ctype[n] == '\0' || ctype[n] == ';'))
            return 0;
    }
    return 1;
}

/* Headers of a record response: SENT is the coding of the bytes sent (NULL = identity),
 * STORED_CODED whether the stored bytes are coded (then the answer depends on
 * Accept-Encoding). */
static void add_record_headers(struct kvs_req *r, const char *ctype, const char *sent,
                               int stored_coded)
{
    if (sent)
        kvs_reply_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING, sent);
    if (stored_coded)
        kvs_reply_header(r, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
    /* Records are user content served from the API's origin: a browser must not guess
     * another type than the stored one, nor run a stored page with the origin's rights. */
    kvs_reply_header(r, "X-Content-Type-Options", "nosniff");
    if (may_run_script(ctype))
        kvs_reply_header(r, "Content-Security-Policy", "sandbox");
    int attachment = 0;
    if (kvs_api_query_bool(r, "attachment", &attachment) == 0 && attachment) {
        char disp[KVS_KEY_MAX + 32];
        snprintf(disp, sizeof disp, "attachment; filename=\"%s\"", r->key);
        kvs_reply_header(r, MHD_HTTP_HEADER_CONTENT_DISPOSITION, disp);
    }
}

/* Which part of a stored value of LEN bytes R asks for: a Range on a GET (range.h). On a
 * HEAD, Range is not defined and is ignored. */
static enum kvs_range_kind range_of(struct kvs_req *r, uint64_t len, struct kvs_range *out)
{
    const char *range = r->method == KVS_M_GET ? kvs_http_header(r, "Range") : NULL;
    if (range == NULL)
        return KVS_RANGE_IGNORE;
    return kvs_range_parse(kvs_slice_of(range), len, out);
}

/* Answer with the value as stored (in its stored coding STORED, NULL for identity), or the
 * part of it a Range asks for, zero-copy: the response owns the read snapshot and ends it once
 * the bytes are sent. */
static void reply_stored(struct kvs_req *r, const struct kvs_record_view *rec, const char *ctype,
                         const char *stored)
{
    kvs_slice body = rec->value;
    struct kvs_range part;
    enum kvs_range_kind range = range_of(r, body.n, &part);
    char content_range[64];
    if (range == KVS_RANGE_UNSATISFIABLE) {
        kvs_reply_error(r, KVS_ERANGE, "The range is outside the record's %zu bytes.", body.n);
        snprintf(content_range, sizeof content_range, "bytes */%zu", body.n);
        kvs_reply_header(r, MHD_HTTP_HEADER_CONTENT_RANGE, content_range);
        return;
    }
    if (range == KVS_RANGE_PART) {
        snprintf(content_range, sizeof content_range, "bytes %llu-%llu/%zu",
                 (unsigned long long)part.first, (unsigned long long)part.last, body.n);
        body = (kvs_slice){body.p + part.first, (size_t)(part.last - part.first + 1)};
    }
    struct kvs_read *rd = r->rd;
    r->rd = NULL;
    kvs_reply_bytes(r, range == KVS_RANGE_PART ? 206 : 200, ctype, body.p, body.n, end_read, rd);
    if (range == KVS_RANGE_PART)
        kvs_reply_header(r, MHD_HTTP_HEADER_CONTENT_RANGE, content_range);
    kvs_reply_header(r, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
    add_record_headers(r, ctype, stored, stored != NULL);
}

/* Answer with the value decoded from its stored coding ENC, for a client that does not accept
 * that coding. A Range is ignored (RFC 9110 allows it): it would be a range of bytes that are
 * made anew on every request, not of the stored ones. */
static void reply_decoded(struct kvs_req *r, const struct kvs_store *s,
                          const struct kvs_record_view *rec, const char *ctype)
{
    struct kvs_buf plain;
    kvs_buf_init(&plain, KVS_API_DECODED_FACTOR * r->srv->cfg.max_record_size);
    int rc = kvs_decode(rec->encoding, rec->value, &plain, 0);
    if (rc != 0) {
        /* Uploads are checked, so this is a record stored under other limits or damaged. */
        kvs_log_error("record %s/%s does not decode: %s", s->id, r->key, kvs_errname(rc));
        kvs_buf_free(&plain);
        kvs_reply_error(r, KVS_EIO, "The record could not be decoded.");
        return;
    }
    size_t n;
    char *bytes = kvs_buf_steal(&plain, &n);
    kvs_reply_bytes(r, 200, ctype, bytes, n, free, bytes);
    add_record_headers(r, ctype, NULL, 1);
}

void kvs_api_record_get(struct kvs_req *r)
{
    int rc = check_key(r);
    if (rc != 0) {
        reply_key_error(r, rc);
        return;
    }
    int attachment;
    if (kvs_api_query_bool(r, "attachment", &attachment) != 0) {
        kvs_reply_error(r, KVS_EBADPARAM, "Parameter attachment must be true, false, 1 or 0.");
        return;
    }
    struct kvs_store *s = kvs_api_store_or_reply(r, KVS_NEED_READ);
    if (s == NULL)
        return;
    struct kvs_record_view rec;
    rc = kvs_storage_record_get(r->rd, kvs_slice_of(s->id), (kvs_slice){r->key, r->key_len}, &rec);
    if (rc != 0) {
        kvs_reply_error(r, rc, rc == KVS_ENOTFOUND ? "Record was not found." : NULL);
        return;
    }
    kvs_storage_note_access(r->srv->storage, s->id, KVS_NOTE_READ);

    char ctype[KVS_CONTENT_TYPE_MAX + 1];
    snprintf(ctype, sizeof ctype, "%.*s", (int)rec.content_type.n, rec.content_type.p);
    const char *stored = kvs_encoding_name(rec.encoding);
    if (stored &&
        !kvs_encoding_accepted(kvs_slice_of(kvs_http_header(r, "Accept-Encoding")), rec.encoding))
        reply_decoded(r, s, &rec, ctype);
    else
        reply_stored(r, &rec, ctype, stored);
}

/* ---- PUT / POST ---------------------------------------------------------------------------- */

int kvs_api_record_prepare(struct kvs_req *r)
{
    int rc = check_key(r);
    if (rc != 0)
        return rc;
    /* kept in the write for kvs_api_record_put: parsed once, here, before any body byte */
    const char *ce = kvs_http_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING);
    if (kvs_encoding_parse(kvs_slice_of(ce), &r->w.encoding) != 0) {
        snprintf(r->error_msg, sizeof r->error_msg, "Content-Encoding \"%.100s\" is not supported.",
                 ce);
        return KVS_EENCODING;
    }
    const char *ct = kvs_http_header(r, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (ct && strlen(ct) > KVS_CONTENT_TYPE_MAX) {
        snprintf(r->error_msg, sizeof r->error_msg, "Content-Type is longer than %d characters.",
                 KVS_CONTENT_TYPE_MAX);
        return KVS_EINVAL;
    }
    rc = kvs_api_resolve_store(r, KVS_NEED_WRITE);
    if (rc == KVS_ENOTFOUND) /* answered after the body is drained, with this message */
        snprintf(r->error_msg, sizeof r->error_msg, "%s", KVS_API_STORE_NOT_FOUND);
    return rc;
}

void kvs_api_record_put(struct kvs_req *r)
{
    enum kvs_encoding enc = r->w.encoding; /* set by kvs_api_record_prepare */
    kvs_slice body = kvs_buf_slice(&r->body);
    if (enc != KVS_ENC_IDENTITY) {
        size_t cap = KVS_API_DECODED_FACTOR * r->srv->cfg.max_record_size;
        int rc = kvs_decode(enc, body, NULL, cap);
        if (rc == KVS_ETOOBIG) {
            kvs_reply_error(r, rc, "The payload decodes to more than %zu bytes.", cap);
            return;
        }
        if (rc != 0) {
            kvs_reply_error(r, KVS_EBADBODY, "The body is not valid %s data.",
                            kvs_encoding_name(enc));
            return;
        }
    }
    const char *ct = kvs_http_header(r, MHD_HTTP_HEADER_CONTENT_TYPE);
    r->w.op = KVS_W_RECORD_PUT;
    memcpy(r->w.store_id, r->store.id, sizeof r->w.store_id);
    r->w.key = (kvs_slice){r->key, r->key_len};
    /* An empty body still needs a non-NULL pointer for the storage to copy zero bytes from. */
    r->w.value = body.p ? body : (kvs_slice){"", 0};
    r->w.content_type = kvs_slice_of(ct && *ct ? ct : "application/octet-stream");
    kvs_http_submit(r);
}

void kvs_api_record_put_done(struct kvs_req *r)
{
    if (r->w.result != 0) {
        kvs_api_reply_store_error(r, r->w.result);
        return;
    }
    char base[512], url[1024];
    kvs_api_public_base(r, base, sizeof base);
    snprintf(url, sizeof url, "%s/v2/key-value-stores/%s/records/%s", base, r->store.id, r->key);
    /* a constant body: the JSON encoder is not worth calling for "{}" on every write */
    kvs_reply_bytes(r, 201, "application/json; charset=utf-8", "{}", 2, NULL, NULL);
    kvs_reply_header(r, MHD_HTTP_HEADER_LOCATION, url);
}

/* ---- DELETE ---------------------------------------------------------------------------------- */

void kvs_api_record_delete(struct kvs_req *r)
{
    int rc = check_key(r);
    if (rc != 0) {
        reply_key_error(r, rc);
        return;
    }
    struct kvs_store *s = kvs_api_store_or_reply(r, KVS_NEED_WRITE);
    if (s == NULL)
        return;
    r->w.op = KVS_W_RECORD_DELETE;
    memcpy(r->w.store_id, s->id, sizeof r->w.store_id);
    r->w.key = (kvs_slice){r->key, r->key_len};
    kvs_http_submit(r);
}

void kvs_api_record_delete_done(struct kvs_req *r)
{
    if (r->w.result != 0)
        kvs_api_reply_store_error(r, r->w.result);
    else
        kvs_reply_empty(r, 204);
}
