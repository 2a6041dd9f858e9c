/* records.c — GET, HEAD, PUT, POST and DELETE of one record
 * (/v2/key-value-stores/{store}/records/{key}).
 *
 * A record is stored exactly as uploaded: its bytes, its Content-Type as sent and its
 * Content-Encoding. GET answers with the stored bytes straight from the storage's memory
 * (zero-copy: the read snapshot lives until the HTTP library has sent them), decoded on the
 * fly only when the client's Accept-Encoding refuses the stored coding. A Range of the stored
 * bytes is a slice of that same memory: the part goes out without the rest being touched.
 *
 * Validators (common/precond.h): every answer with the record carries its ETag (the record's
 * version) and Last-Modified, and the 201 of a PUT those of the record it stored. GET and
 * HEAD honour If-None-Match and If-Modified-Since (304) and If-Match and If-Unmodified-Since
 * (412); PUT, POST and DELETE carry the preconditions to the storage, which checks them in the
 * write's own transaction, so that a read-modify-write with If-Match cannot lose an update. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "api/api.h"
#include "api/decoded.h"
#include "api/record_body.h"
#include "api/prepared.h"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/httpdate.h"
#include "common/log.h"
#include "common/mediatype.h"
#include "common/mime.h"
#include "kvs.h"
#include "server/budget.h"
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

/* The conditional and range headers of a record request, read in one pass over the headers. */
struct cond_headers {
    struct kvs_precond pre; /* If-Match, If-None-Match, If-(Un)Modified-Since */
    const char *range;      /* the first Range, or NULL */
    const char *if_range;   /* the first If-Range, or NULL */
    int64_t now_secs;       /* for two-digit years in dates */
};

static enum MHD_Result scan_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    static const struct {
        const char *name;
        enum kvs_precond_header which;
    } conds[] = {{"If-Match", KVS_H_IF_MATCH},
                 {"If-None-Match", KVS_H_IF_NONE_MATCH},
                 {"If-Modified-Since", KVS_H_IF_MODIFIED_SINCE},
                 {"If-Unmodified-Since", KVS_H_IF_UNMODIFIED_SINCE}};
    struct cond_headers *c = cls;
    const char *v = value ? value : "";
    /* A GET's headers are mostly none of these: two character tests pass over the others. */
    if ((key[0] | 0x20) == 'r') {
        if (strcasecmp(key, "Range") == 0 && c->range == NULL)
            c->range = v;
        return MHD_YES;
    }
    if ((key[0] | 0x20) != 'i' || (key[1] | 0x20) != 'f' || key[2] != '-')
        return MHD_YES;
    if (strcasecmp(key, "If-Range") == 0) {
        if (c->if_range == NULL)
            c->if_range = v;
        return MHD_YES;
    }
    for (size_t i = 0; i < sizeof conds / sizeof conds[0]; i++)
        if (strcasecmp(key, conds[i].name) == 0)
            kvs_precond_add(&c->pre, conds[i].which, kvs_slice_of(v), c->now_secs);
    return MHD_YES;
}

/* Read R's conditional and range headers into C (every line of each: a list may come in
 * several). Returns 0, or KVS_EINVAL with the reason in R->error_msg. */
static int read_cond(struct kvs_req *r, struct cond_headers *c)
{
    memset(c, 0, sizeof *c);
    c->now_secs = kvs_now_ms() / 1000;
    MHD_get_connection_values(r->conn, MHD_HEADER_KIND, scan_header, c);
    if (c->pre.if_match.too_many || c->pre.if_none_match.too_many) {
        snprintf(r->error_msg, sizeof r->error_msg,
                 "If-Match and If-None-Match take at most %d entity-tags.", KVS_ETAG_LIST_MAX);
        return KVS_EINVAL;
    }
    return 0;
}

/* What a record answer is made of. */
struct answer {
    const struct kvs_store *store;
    const struct kvs_record_view *rec;
    char ctype[KVS_CONTENT_TYPE_MAX + 1];
    const char *stored; /* the stored coding ("gzip"), NULL for identity */
    int decoded;        /* sent decoded from that coding (the client refuses it) */
    int is_public;      /* anyone may read it as addressed (kvs_api_read_is_public) */
    int attachment;     /* ?attachment=1: Content-Disposition: attachment */
    unsigned status;    /* 200, or 304 when the client's copy is current */
    struct cond_headers cond;
    struct kvs_value *val; /* a value held apart (REC->blob), open; owned; else NULL */
};

/* The validators of a record (its version's entity-tag, in the form sent, and its time as
 * Last-Modified); they go on a 200, 206, 304 and on the 201 of a PUT. */
static void add_validators(struct kvs_req *r, uint64_t version, int64_t modified_ms, int decoded)
{
    char etag[KVS_ETAG_MAX], date[KVS_HTTPDATE_LEN + 1];
    kvs_etag_format(version, decoded, etag);
    kvs_reply_header(r, MHD_HTTP_HEADER_ETAG, etag);
    kvs_httpdate_format(modified_ms / 1000, date);
    kvs_reply_header(r, MHD_HTTP_HEADER_LAST_MODIFIED, date);
}

/* Headers of a record response (200, 206, 304). */
static void add_record_headers(struct kvs_req *r, const struct answer *a)
{
    if (a->stored && !a->decoded)
        kvs_reply_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING, a->stored);
    if (a->stored) /* coded when stored: the answer depends on Accept-Encoding */
        kvs_reply_header(r, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
    add_validators(r, a->rec->version, a->rec->modified_ms, a->decoded);
    /* Public records may be kept by shared caches (CDNs), private ones only by the client's
     * own; either way a cache asks again before using its copy (cheap: a 304), unless
     * --cache-max-age lets public ones be used that long without asking. */
    char cache[48] = "private, no-cache";
    if (a->is_public && r->srv->cfg.cache_max_age)
        snprintf(cache, sizeof cache, "public, max-age=%u", r->srv->cfg.cache_max_age);
    else if (a->is_public)
        snprintf(cache, sizeof cache, "public, no-cache");
    kvs_reply_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, cache);
    /* Records are user content served from the API's origin, which is also the console's: a
     * browser must not guess another type than the stored one, and must not run a stored page
     * with the origin's rights, whatever its type says. Every record response is a sandboxed
     * document (an opaque origin: no script, no access to the console's storage), not only
     * those of types we think may hold script: a browser's idea of a type is not ours (it
     * takes the last of a comma list, sniffs, or has a plug-in for it). The header is free on
     * the hot path: the prepared answer of a small record carries it (api/prepared.h). */
    kvs_reply_header(r, "X-Content-Type-Options", "nosniff");
    kvs_reply_header(r, "Content-Security-Policy", "sandbox");
    if (a->attachment) {
        char disp[KVS_KEY_MAX + 32];
        snprintf(disp, sizeof disp, "attachment; filename=\"%s\"", r->key);
        kvs_reply_header(r, MHD_HTTP_HEADER_CONTENT_DISPOSITION, disp);
    }
}

/* Which part of the stored value A asks for (range.h). A Range counts only on a GET (it is
 * not defined for HEAD), not when the answer is a 304, and, with an If-Range, only when that
 * names the stored bytes' current entity-tag (RFC 9110 §13.1.5). */
static enum kvs_range_kind range_of(struct kvs_req *r, const struct answer *a,
                                    struct kvs_range *out)
{
    const struct cond_headers *c = &a->cond;
    if (r->method != KVS_M_GET || c->range == NULL || a->status != 200)
        return KVS_RANGE_IGNORE;
    if (c->if_range && !kvs_if_range_matches(kvs_slice_of(c->if_range), a->rec->version, 0))
        return KVS_RANGE_IGNORE;
    return kvs_range_parse(kvs_slice_of(c->range), a->rec->size, out);
}

/* Answer the whole value of a small record with the answer kept for its version and variant
 * (prepared.h), or make that answer (with a copy of the value: it outlives the read) and keep
 * it. */
static void reply_prepared(struct kvs_req *r, const struct answer *a)
{
    struct kvs_prepared_key k = {
        .store_id = a->store->id,
        .key = {r->key, r->key_len},
        .version = a->rec->version,
        .variant = (a->is_public ? KVS_PREPARED_PUBLIC : 0) |
                   (kvs_http_header(r, "Origin") ? KVS_PREPARED_ORIGIN : 0),
    };
    size_t len;
    struct MHD_Response *kept = kvs_prepared_get(&k, &len);
    if (kept != NULL) {
        kvs_reply_kept(r, 200, kept, len);
        return;
    }
    kvs_slice v = a->rec->value;
    char *copy = kvs_xmalloc(v.n ? v.n : 1);
    memcpy(copy, v.p, v.n);
    kvs_reply_bytes(r, 200, a->ctype, copy, v.n, free, copy);
    kvs_reply_header(r, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
    add_record_headers(r, a);
    kept = kvs_reply_keep(r);
    if (kept != NULL)
        kvs_prepared_put(&k, kept, v.n);
}

/* Never called: libmicrohttpd sends no body for a HEAD or a 304. */
static ssize_t no_body(void *cls, uint64_t pos, char *buf, size_t max)
{
    return MHD_CONTENT_READER_END_OF_STREAM;
}

/* A value held apart that is not a file (PostgreSQL's chunks), sent from FIRST as the
 * client takes it: the reader fetches a chunk at a time. */
struct value_body {
    struct kvs_value *val;
    uint64_t first;
};

static ssize_t value_body_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct value_body *b = cls;
    size_t got;
    if (kvs_value_read(b->val, b->first + pos, buf, max, &got) != 0 || got == 0)
        return MHD_CONTENT_READER_END_WITH_ERROR; /* logged; the client sees it cut off */
    return (ssize_t)got;
}

static void value_body_free(void *cls)
{
    struct value_body *b = cls;
    kvs_value_close(b->val);
    free(b);
}

/* The bytes FIRST..FIRST+LEN of A's value as a response, owning what it sends: a copy of
 * them for an inline value (small), the value's file for one held apart (sent with
 * sendfile), or its reader. Either way no snapshot stays open while a slow client reads
 * (issue 19, finding 4). For a HEAD or a 304, which send no body, nothing is copied or
 * opened: the response only announces the length. */
static struct MHD_Response *stored_response(struct kvs_req *r, struct answer *a, uint64_t first,
                                            uint64_t len, unsigned status)
{
    if (r->method == KVS_M_HEAD || status == 304)
        return MHD_create_response_from_callback(len, 256, no_body, NULL, NULL);
    if (a->val == NULL)
        return MHD_create_response_from_buffer((size_t)len, (void *)(a->rec->value.p + first),
                                               MHD_RESPMEM_MUST_COPY);
    int fd = kvs_value_take_fd(a->val);
    if (fd < 0) {
        struct value_body *b = kvs_xmalloc(sizeof *b);
        *b = (struct value_body){a->val, first};
        a->val = NULL; /* the response's now */
        struct MHD_Response *resp = MHD_create_response_from_callback(
            len, 64 * 1024, value_body_read, b, value_body_free);
        if (resp == NULL)
            value_body_free(b);
        return resp;
    }
    struct MHD_Response *resp =
        MHD_create_response_from_fd_at_offset64(len, fd, (int64_t)first); /* closes FD */
    if (resp == NULL)
        close(fd);
    return resp;
}

/* Answer with the value as stored (in its stored coding), or the part of it a Range asks for
 * (stored_response). A 304 is the 200 without a body: the HTTP library sends the
 * Content-Length of the 200 as RFC 9110 §8.6 wants. The whole of a small record, the common
 * answer, is sent as prepared once (reply_prepared). */
static void reply_stored(struct kvs_req *r, struct answer *a)
{
    uint64_t size = a->rec->size, first = 0, len = size;
    struct kvs_range part;
    enum kvs_range_kind range = range_of(r, a, &part);
    if (range == KVS_RANGE_IGNORE && a->status == 200 && !a->attachment && a->val == NULL &&
        size <= KVS_PREPARED_MAX) {
        reply_prepared(r, a);
        return;
    }
    char content_range[80];
    if (range == KVS_RANGE_UNSATISFIABLE) {
        kvs_reply_error(r, KVS_ERANGE, "The range is outside the record's %llu bytes.",
                        (unsigned long long)size);
        snprintf(content_range, sizeof content_range, "bytes */%llu", (unsigned long long)size);
        kvs_reply_header(r, MHD_HTTP_HEADER_CONTENT_RANGE, content_range);
        return;
    }
    unsigned status = a->status;
    if (range == KVS_RANGE_PART) {
        snprintf(content_range, sizeof content_range, "bytes %llu-%llu/%llu",
                 (unsigned long long)part.first, (unsigned long long)part.last,
                 (unsigned long long)size);
        first = part.first;
        len = part.last - part.first + 1;
        status = 206;
    }
    kvs_reply_response(r, status, stored_response(r, a, first, len, status));
    r->bytes_out = r->method == KVS_M_HEAD || status == 304 ? 0 : len;
    kvs_reply_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, a->ctype);
    if (range == KVS_RANGE_PART)
        kvs_reply_header(r, MHD_HTTP_HEADER_CONTENT_RANGE, content_range);
    kvs_reply_header(r, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
    add_record_headers(r, a);
}

/* Answer with the value decoded from its stored coding, for a client that does not accept
 * that coding, decoded as it goes out (api/decoded.h). A Range is ignored (RFC 9110 allows
 * it): it would be a range of bytes that are made anew on every request, not of the stored
 * ones. A HEAD or a 304 decodes nothing: it has the 200's headers, and no length. */
static void reply_decoded(struct kvs_req *r, struct answer *a)
{
    unsigned status = a->status;
    if (status == 304 || r->method == KVS_M_HEAD) {
        kvs_reply_response(r, status, kvs_decoded_headers_only());
    } else {
        char label[KVS_ID_LEN + KVS_KEY_MAX + 2];
        snprintf(label, sizeof label, "%s/%s", a->store->id, r->key);
        struct MHD_Response *resp;
        int rc = a->val ? 0 : kvs_storage_value_open(r->rd, a->rec, &a->val); /* a copy */
        if (rc == 0)
            rc = kvs_decoded_response(r->srv, a->rec->encoding, &a->val, label, &resp);
        if (rc == KVS_EUNAVAIL) {
            kvs_reply_error(r, rc,
                            "The server is decoding as many records as it may at once; try "
                            "again soon, or accept the stored Content-Encoding (%s).",
                            a->stored);
            return;
        }
        if (rc != 0) {
            kvs_reply_error(r, rc, NULL);
            return;
        }
        kvs_reply_response(r, status, resp);
    }
    kvs_reply_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, a->ctype);
    add_record_headers(r, a);
}

static int find_record(struct kvs_req *r, const struct kvs_store *s, struct kvs_record_view *rec,
                       struct kvs_value **val);
static void answer_record(struct kvs_req *r, struct answer *a);

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
    struct answer a = {.status = 200, .attachment = attachment};
    if (read_cond(r, &a.cond) != 0) {
        kvs_reply_error(r, KVS_EINVAL, "%s", r->error_msg);
        return;
    }
    struct kvs_store *s = kvs_api_store_or_reply(r, KVS_NEED_READ);
    if (s == NULL)
        return;
    struct kvs_record_view rec;
    rc = find_record(r, s, &rec, &a.val);
    if (rc == KVS_ENOTFOUND) {
        kvs_reply_error(r, rc, "Record was not found.");
        return;
    }
    if (rc != 0)
        return; /* answered */
    kvs_storage_note_access(r->srv->storage, s->id, KVS_NOTE_READ);
    a.store = s;
    a.rec = &rec;
    answer_record(r, &a);
    kvs_value_close(a.val); /* whatever the answer did not take */
}

/* Find R's record in store S into *REC, and open its value when it is held apart (*VAL,
 * else NULL). A value removed between the lookup and the open belongs to a record replaced
 * meanwhile: it is looked up again with a new read. Returns 0, KVS_ENOTFOUND, or another
 * error, which has been answered. */
static int find_record(struct kvs_req *r, const struct kvs_store *s, struct kvs_record_view *rec,
                       struct kvs_value **val)
{
    *val = NULL;
    for (int tries = 0;; tries++) {
        int rc, confirmed;
        do { /* again only when what the caches gave had changed (optimistic reads) */
            rc = kvs_storage_record_get(r->rd, kvs_slice_of(s->id),
                                        (kvs_slice){r->key, r->key_len}, rec);
            if (rc != 0 && rc != KVS_ENOTFOUND) {
                kvs_reply_error(r, rc, NULL);
                return rc;
            }
        } while ((confirmed = kvs_api_confirm(r, KVS_NEED_READ)) == 1);
        if (confirmed != 0) {
            kvs_api_reply_store_error(r, confirmed);
            return confirmed;
        }
        if (rc != 0 || rec->blob.n == 0)
            return rc;
        rc = kvs_storage_value_open(r->rd, rec, val);
        if (rc == KVS_ESTALE && tries < 3) { /* replaced since the read began */
            kvs_storage_read_end(r->rd);
            r->rd = NULL;
            rc = kvs_api_read(r);
        }
        if (rc == 0 && *val != NULL)
            return 0;
        if (rc != 0 && rc != KVS_ESTALE) {
            kvs_reply_error(r, rc, NULL);
            return rc;
        }
        if (tries == 3) {
            kvs_reply_error(r, KVS_EIO, NULL);
            return KVS_EIO;
        }
    }
}

/* Answer A (its record found): validators, preconditions, then the stored or decoded bytes. */
static void answer_record(struct kvs_req *r, struct answer *a)
{
    const struct kvs_record_view *rec = a->rec;
    /* Uploads are held to the grammar of mediatype.h; a type stored before it was (or by an
     * older import) that breaks it goes out as what it cannot be mistaken for. */
    if (kvs_media_type_valid(rec->content_type))
        snprintf(a->ctype, sizeof a->ctype, "%.*s", (int)rec->content_type.n,
                 rec->content_type.p);
    else
        snprintf(a->ctype, sizeof a->ctype, "%s", KVS_MIME_DEFAULT);
    a->stored = kvs_encoding_name(rec->encoding);
    a->decoded = a->stored && !kvs_encoding_accepted(
                                  kvs_slice_of(kvs_http_header(r, "Accept-Encoding")), rec->encoding);
    if (kvs_precond_any(&a->cond.pre)) {
        struct kvs_precond_target t = {1, rec->version, rec->modified_ms};
        enum kvs_precond_result pr = kvs_precond_eval(&a->cond.pre, &t, 1, a->decoded);
        if (pr == KVS_PRECOND_FAILED) {
            kvs_reply_error(r, KVS_EPRECOND, NULL);
            return;
        }
        if (pr == KVS_PRECOND_NOT_MODIFIED)
            a->status = 304;
    }
    a->is_public = kvs_api_read_is_public(r);
    if (a->decoded)
        reply_decoded(r, a);
    else
        reply_stored(r, a);
    if (a->status == 304)
        r->bytes_out = 0; /* no body goes out */
}

/* ---- PUT / POST ---------------------------------------------------------------------------- */

/* Hand preconditions P to R's write (kvs_write.precond). Kept apart from the request, which
 * every request allocates: few writes carry any. Freed with the request. */
static void keep_precond(struct kvs_req *r, const struct kvs_precond *p)
{
    r->precond = kvs_xmalloc(sizeof *r->precond);
    *r->precond = *p;
    r->w.precond = r->precond;
}

/* A write's preconditions checked early, against the record as it is while the headers are in,
 * so that a write that cannot succeed (If-None-Match: * of an existing key, a stale If-Match)
 * is refused before its body is uploaded: at once for a client that waits for "100 Continue".
 * Passing here decides nothing: the storage checks again in the write's transaction. */
static int precheck(struct kvs_req *r, const struct kvs_precond *p)
{
    struct kvs_record_view rec;
    int rc = kvs_storage_record_get(r->rd, kvs_slice_of(r->store.id),
                                    (kvs_slice){r->key, r->key_len}, &rec);
    if (rc != 0 && rc != KVS_ENOTFOUND)
        return rc;
    struct kvs_precond_target t = {rc == 0, rc == 0 ? rec.version : 0,
                                   rc == 0 ? rec.modified_ms : 0};
    return kvs_precond_eval(p, &t, 0, 0) == KVS_PRECOND_PASS ? 0 : KVS_EPRECOND;
}

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
    if (ct && *ct && !kvs_media_type_valid(kvs_slice_of(ct))) {
        snprintf(r->error_msg, sizeof r->error_msg,
                 "Content-Type must be one media type: type/subtype, then optional "
                 "\"; name=value\" parameters (RFC 9110), in printable ASCII.");
        return KVS_EINVAL;
    }
    /* If-Match and If-None-Match go with the write, checked in its transaction (storage.h) */
    struct cond_headers c;
    rc = read_cond(r, &c);
    if (rc != 0)
        return rc;
    rc = kvs_api_resolve_store(r, KVS_NEED_WRITE);
    /* Confirmed by the write's own transaction, not by a statement of its own (PostgreSQL;
     * kvs_write.meta_epoch): kvs_api_record_put_done checks again when it was stale. */
    r->w.meta_epoch = kvs_storage_meta_epoch(r->rd);
    if (rc == KVS_ENOTFOUND) /* answered after the body is drained, with this message */
        snprintf(r->error_msg, sizeof r->error_msg, "%s", KVS_API_STORE_NOT_FOUND);
    if (rc == 0 && kvs_precond_any(&c.pre)) {
        rc = precheck(r, &c.pre);
        keep_precond(r, &c.pre);
    }
    if (rc == 0)
        rc = kvs_record_body_begin(r); /* the body's way in (api/record_body.h) */
    return rc;
}

void kvs_api_record_put(struct kvs_req *r)
{
    struct kvs_upload *upload;
    int rc = kvs_record_body_done(r, &upload); /* a coded body checked, a large one uploaded */
    if (rc != 0) {
        kvs_reply_error(r, rc, "%s", r->error_msg);
        return;
    }
    kvs_slice body = kvs_buf_slice(&r->body);
    r->w.upload = upload; /* the write owns it from here on (storage.h) */
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
    if (r->w.result == KVS_ESTALE) {
        /* The caller's rights came from the caches under an epoch that had moved by the
         * write's transaction, which changed nothing: find them again, confirmed, and submit
         * anew, unconditionally (meta_epoch 0). */
        int rc = kvs_api_recheck(r, KVS_NEED_WRITE);
        if (rc == 0) {
            memcpy(r->w.store_id, r->store.id, sizeof r->w.store_id); /* as found now */
            r->w.meta_epoch = 0;
            r->w.result = 0;
            kvs_http_submit(r);
            return;
        }
        r->w.result = rc;
    }
    kvs_upload_abort(r->w.upload); /* left to us only by a KVS_ESTALE not submitted again */
    r->w.upload = NULL;
    kvs_buf_free(&r->body); /* stored (or refused): no copy of it is kept meanwhile */
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
    add_validators(r, r->w.version, r->w.modified_ms, 0); /* of the record as stored */
}

/* ---- DELETE ---------------------------------------------------------------------------------- */

void kvs_api_record_delete(struct kvs_req *r)
{
    int rc = check_key(r);
    if (rc != 0) {
        reply_key_error(r, rc);
        return;
    }
    struct cond_headers c;
    if (read_cond(r, &c) != 0) {
        kvs_reply_error(r, KVS_EINVAL, "%s", r->error_msg);
        return;
    }
    struct kvs_store *s = kvs_api_store_or_reply(r, KVS_NEED_WRITE);
    if (s == NULL)
        return;
    if (kvs_precond_any(&c.pre))
        keep_precond(r, &c.pre);
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
