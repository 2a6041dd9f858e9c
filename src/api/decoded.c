/* decoded.c — a stored coded value sent decoded, while it goes out (decoded.h). */
#include "api/decoded.h"

#include <stdio.h>
#include <stdlib.h>

#include "common/alloc.h"
#include "common/decoder.h"
#include "common/log.h"
#include "kvs.h"
#include "server/budget.h"
#include "storage/storage.h"

struct decoded {
    struct kvs_decoder *dec; /* owned */
    struct kvs_value *val;   /* owned: the coded bytes */
    uint64_t pos;            /* VAL's bytes read so far */
    char *inbuf;             /* KVS_DECODED_INBUF bytes when VAL is a file; owned */
    kvs_slice in;            /* read and not yet decoded: in VAL's memory or in INBUF */
    struct kvs_budget *budget;
    size_t cost; /* taken from BUDGET, given back by decoded_free */
    char label[KVS_ID_LEN + KVS_KEY_MAX + 2];
};

_Static_assert(KVS_DECODER_MEM_LIMIT + KVS_DECODED_BLOCK + KVS_DECODED_INBUF +
                       sizeof(struct decoded) <=
                   KVS_DECODE_MEMORY_MIN,
               "the least budget takes the largest decoder");

kvs_slice kvs_decoded_head(struct kvs_value *v, char head[KVS_DECODER_HEAD])
{
    size_t got = 0;
    if (kvs_value_read(v, 0, head, KVS_DECODER_HEAD, &got) != 0)
        got = 0;
    return (kvs_slice){head, got};
}

/* Refill D->in from its value when it is used up. Returns 0 or KVS_EIO. */
static int refill(struct decoded *d)
{
    if (d->in.n > 0 || d->inbuf == NULL || d->pos == kvs_value_size(d->val))
        return 0;
    size_t got;
    int rc = kvs_value_read(d->val, d->pos, d->inbuf, KVS_DECODED_INBUF, &got);
    if (rc == 0 && got == 0)
        rc = KVS_EIO; /* shorter than its size: its file changed under us */
    if (rc != 0)
        return rc;
    d->pos += got;
    d->in = (kvs_slice){d->inbuf, got};
    return 0;
}

/* libmicrohttpd's content reader: decode the next bytes straight into its buffer. */
static ssize_t decoded_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct decoded *d = cls;
    int rc;
    for (;;) {
        rc = refill(d);
        if (rc != 0)
            break;
        size_t n = max, had = d->in.n;
        rc = kvs_decoder_step(d->dec, &d->in, d->pos == kvs_value_size(d->val), buf, &n);
        if (n > 0 && rc >= 0)
            return (ssize_t)n; /* at the end too: the next call sees 1 with nothing more */
        if (rc == 1)
            return MHD_CONTENT_READER_END_OF_STREAM;
        if (rc < 0)
            break;
        if (d->in.n == had) { /* nothing used, nothing made: no valid stream does that */
            rc = KVS_EBADBODY;
            break;
        }
        /* the piece was used up without output yet: read the next */
    }
    /* Uploads are checked, so this is a record stored under other limits or damaged; the
     * status has gone out, so the stream is cut (decoded.h). */
    kvs_log_error("record %s does not decode: %s", d->label, kvs_errname(rc));
    return MHD_CONTENT_READER_END_WITH_ERROR;
}

static void decoded_free(void *cls)
{
    struct decoded *d = cls;
    kvs_decoder_free(d->dec);
    kvs_value_close(d->val);
    free(d->inbuf);
    kvs_budget_give(d->budget, d->cost);
    free(d);
}

int kvs_decoded_response(struct kvs_server *srv, enum kvs_encoding enc, struct kvs_value **val,
                         const char *label, struct MHD_Response **out)
{
    struct kvs_value *v = *val;
    *val = NULL;
    kvs_slice bytes = kvs_value_bytes(v);
    int in_memory = bytes.n == kvs_value_size(v);
    char head[KVS_DECODER_HEAD];
    size_t mem = kvs_decoder_mem_max(enc, in_memory ? bytes : kvs_decoded_head(v, head));
    size_t cost = mem + KVS_DECODED_BLOCK + sizeof(struct decoded) +
                  (in_memory ? bytes.n : KVS_DECODED_INBUF);
    int rc = kvs_budget_take(srv->decoding, cost);
    if (rc != 0) {
        kvs_value_close(v);
        return rc;
    }
    struct decoded *d = kvs_xcalloc(1, sizeof *d);
    d->val = v;
    d->budget = srv->decoding;
    d->cost = cost;
    snprintf(d->label, sizeof d->label, "%s", label);
    if (in_memory) {
        d->in = bytes;
        d->pos = bytes.n;
    } else {
        d->inbuf = kvs_xmalloc(KVS_DECODED_INBUF);
    }
    rc = kvs_decoder_new(enc, mem, &d->dec);
    if (rc != 0) {
        kvs_log_error("record %s has an unknown stored coding: %s", d->label, kvs_errname(rc));
        decoded_free(d);
        return KVS_EIO;
    }
    *out = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, KVS_DECODED_BLOCK, decoded_read, d,
                                             decoded_free);
    if (*out == NULL) {
        decoded_free(d);
        return KVS_ENOMEM;
    }
    return 0;
}

/* Never called: libmicrohttpd sends no body for a HEAD or a 304. */
static ssize_t no_body(void *cls, uint64_t pos, char *buf, size_t max)
{
    return MHD_CONTENT_READER_END_OF_STREAM;
}

struct MHD_Response *kvs_decoded_headers_only(void)
{
    return MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 256, no_body, NULL, NULL);
}
