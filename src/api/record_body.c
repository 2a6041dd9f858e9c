/* record_body.c — a record PUT's body as it arrives (record_body.h). */
#include "api/record_body.h"

#include <stdio.h>
#include <stdlib.h>

#include "api/api.h"
#include "common/alloc.h"
#include "common/decoder.h"
#include "kvs.h"
#include "server/budget.h"

#define CHECK_WINDOW (64 * 1024) /* a coded upload decodes into this, again and again */

struct record_body {
    struct kvs_upload *upload; /* NULL while the body is in r->body */
    struct kvs_decoder *check; /* a coded upload, decoded into nothing as it comes */
    char *scratch;             /* CHECK_WINDOW bytes for CHECK to write into */
    size_t cost;               /* taken from the decoding budget for CHECK and SCRATCH */
    uint64_t received;         /* body bytes so far */
    uint64_t decoded;          /* bytes CHECK produced so far */
};

static uint64_t decoded_cap(const struct kvs_req *r)
{
    return (uint64_t)KVS_API_DECODED_FACTOR * r->srv->cfg.max_record_size;
}

static int too_big_decoded(struct kvs_req *r)
{
    snprintf(r->error_msg, sizeof r->error_msg, "The payload decodes to more than %llu bytes.",
             (unsigned long long)decoded_cap(r));
    return KVS_ETOOBIG;
}

static int not_valid(struct kvs_req *r)
{
    snprintf(r->error_msg, sizeof r->error_msg, "The body is not valid %s data.",
             kvs_encoding_name(r->w.encoding));
    return KVS_EBADBODY;
}

static int begin_upload(struct kvs_req *r, struct record_body *b, uint64_t size)
{
    int rc = kvs_storage_upload_begin(r->srv->storage, size, &b->upload);
    if (rc == KVS_ENOSPACE)
        snprintf(r->error_msg, sizeof r->error_msg,
                 "The server has no space left for a record of %llu bytes.",
                 (unsigned long long)size);
    return rc;
}

int kvs_record_body_begin(struct kvs_req *r)
{
    struct record_body *b = kvs_xcalloc(1, sizeof *b);
    r->stream = b;
    struct kvs_storage *st = r->srv->storage;
    uint64_t inline_max = kvs_storage_inline_max(st);
    if (r->has_length && r->length > inline_max)
        return begin_upload(r, b, r->length);
    /* in memory: all of it when the storage takes no uploads, else until it passes the inline
     * size (a chunked body); announced, it is allocated once at its length */
    kvs_buf_init(&r->body, kvs_storage_uploads(st) ? (size_t)inline_max
                                                   : r->srv->cfg.max_record_size);
    if (r->has_length && r->length > 0)
        (void)kvs_buf_reserve(&r->body, (size_t)r->length); /* fits: length <= the max */
    return 0;
}

/* Decode the piece IN of a coded upload into nothing, counting what comes out. Returns 0,
 * KVS_ETOOBIG or KVS_EBADBODY (with the message). */
static int check_piece(struct kvs_req *r, struct record_body *b, kvs_slice in, int last)
{
    for (;;) {
        size_t had = in.n, out = CHECK_WINDOW;
        int rc = kvs_decoder_step(b->check, &in, last, b->scratch, &out);
        b->decoded += out;
        if (b->decoded > decoded_cap(r))
            return too_big_decoded(r);
        if (rc < 0)
            return not_valid(r);
        if (rc == 1 || (!last && in.n == 0))
            return 0; /* the end, or the piece is used: the next one may come */
        if (out == 0 && in.n == had)
            return not_valid(r); /* no progress (the decoder refuses such a step with LAST) */
    }
}

/* Write DATA[N] to B's upload, checked on the way when coded: the check's decoder is made at
 * the first bytes, which name its memory (a Brotli window), taken from the decoding budget. */
static int to_upload(struct kvs_req *r, struct record_body *b, const char *data, size_t n)
{
    enum kvs_encoding enc = r->w.encoding;
    if (enc != KVS_ENC_IDENTITY && b->check == NULL) {
        b->cost = kvs_decoder_mem_max(enc, (kvs_slice){data, n}) + CHECK_WINDOW;
        if (kvs_budget_take(r->srv->decoding, b->cost) != 0) {
            b->cost = 0;
            snprintf(r->error_msg, sizeof r->error_msg,
                     "The server is decoding as many bodies as it may at once; try again soon.");
            return KVS_EUNAVAIL;
        }
        b->scratch = kvs_xmalloc(CHECK_WINDOW);
        if (kvs_decoder_new(enc, b->cost - CHECK_WINDOW, &b->check) != 0)
            return not_valid(r);
    }
    int rc = kvs_upload_append(b->upload, data, n);
    if (rc == KVS_ENOSPACE)
        snprintf(r->error_msg, sizeof r->error_msg, "The server has no space left to store it.");
    if (rc == 0 && b->check)
        rc = check_piece(r, b, (kvs_slice){data, n}, 0);
    return rc;
}

int kvs_api_record_body(struct kvs_req *r, const char *data, size_t n)
{
    struct record_body *b = r->stream;
    if (b == NULL)
        return KVS_EIO; /* prepare always sets it up when the body is wanted */
    b->received += n;
    if (b->received > r->srv->cfg.max_record_size) {
        snprintf(r->error_msg, sizeof r->error_msg,
                 "The payload is too large (limit: %zu bytes).", r->srv->cfg.max_record_size);
        return KVS_ETOOBIG;
    }
    if (b->upload == NULL) {
        if (kvs_buf_append(&r->body, data, n) == 0)
            return 0;
        if (!kvs_storage_uploads(r->srv->storage))
            return KVS_ETOOBIG; /* cannot happen: the buffer holds the whole limit */
        /* past the inline size: from here on to an upload, starting with what is in memory */
        int rc = begin_upload(r, b, 0);
        if (rc == 0 && r->body.n > 0)
            rc = to_upload(r, b, r->body.p, r->body.n);
        kvs_buf_free(&r->body);
        if (rc != 0)
            return rc;
    }
    return to_upload(r, b, data, n);
}

/* Give back what B's check holds. */
static void end_check(struct kvs_req *r, struct record_body *b)
{
    kvs_decoder_free(b->check);
    b->check = NULL;
    free(b->scratch);
    b->scratch = NULL;
    if (b->cost)
        kvs_budget_give(r->srv->decoding, b->cost);
    b->cost = 0;
}

void kvs_api_record_cleanup(struct kvs_req *r)
{
    struct record_body *b = r->stream;
    if (b == NULL)
        return;
    end_check(r, b);
    kvs_upload_abort(b->upload); /* not handed to a write: nothing of it may stay */
    free(b);
    r->stream = NULL;
}

/* The check of a body held in memory, decoded once, into nothing. */
static int check_in_memory(struct kvs_req *r)
{
    enum kvs_encoding enc = r->w.encoding;
    kvs_slice body = kvs_buf_slice(&r->body);
    size_t cost = kvs_decode_check_mem(enc, body);
    if (kvs_budget_take(r->srv->decoding, cost) != 0) {
        snprintf(r->error_msg, sizeof r->error_msg,
                 "The server is decoding as many bodies as it may at once; try again soon.");
        return KVS_EUNAVAIL;
    }
    int rc = kvs_decode(enc, body, NULL, decoded_cap(r));
    kvs_budget_give(r->srv->decoding, cost);
    if (rc == KVS_ETOOBIG)
        return too_big_decoded(r);
    return rc != 0 ? not_valid(r) : 0;
}

int kvs_record_body_done(struct kvs_req *r, struct kvs_upload **upload)
{
    struct record_body *b = r->stream;
    *upload = NULL;
    if (b == NULL || b->upload == NULL)
        return r->w.encoding == KVS_ENC_IDENTITY ? 0 : check_in_memory(r);
    int rc = 0;
    if (r->w.encoding != KVS_ENC_IDENTITY)
        rc = b->check ? check_piece(r, b, (kvs_slice){"", 0}, 1) : not_valid(r);
    end_check(r, b);
    if (rc != 0)
        return rc; /* the upload goes with the request (kvs_api_record_cleanup) */
    *upload = b->upload;
    b->upload = NULL;
    return 0;
}
