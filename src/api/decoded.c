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
    kvs_slice in;            /* what is left to decode; in READ */
    struct kvs_read *read;   /* owned: ended by decoded_free */
    struct kvs_budget *budget;
    size_t cost; /* taken from BUDGET, given back by decoded_free */
    char label[KVS_ID_LEN + KVS_KEY_MAX + 2];
};

_Static_assert(KVS_DECODER_MEM_LIMIT + KVS_DECODED_BLOCK + sizeof(struct decoded) <=
                   KVS_DECODE_MEMORY_MIN,
               "the least budget takes the largest decoder");

size_t kvs_decoded_cost(enum kvs_encoding enc, kvs_slice head)
{
    return kvs_decoder_mem_max(enc, head) + KVS_DECODED_BLOCK + sizeof(struct decoded);
}

/* libmicrohttpd's content reader: decode the next bytes straight into its buffer. */
static ssize_t decoded_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct decoded *d = cls;
    size_t n = max;
    int rc = kvs_decoder_step(d->dec, &d->in, 1, buf, &n);
    if (n > 0 && rc >= 0)
        return (ssize_t)n; /* at the end too: the next call sees rc == 1 with nothing more */
    if (rc == 1)
        return MHD_CONTENT_READER_END_OF_STREAM;
    /* Uploads are checked, so this is a record stored under other limits or damaged; the
     * status has gone out, so the stream is cut (decoded.h). */
    kvs_log_error("record %s does not decode: %s", d->label, kvs_errname(rc < 0 ? rc : KVS_EIO));
    return MHD_CONTENT_READER_END_WITH_ERROR;
}

static void decoded_free(void *cls)
{
    struct decoded *d = cls;
    kvs_decoder_free(d->dec);
    kvs_storage_read_end(d->read);
    kvs_budget_give(d->budget, d->cost);
    free(d);
}

int kvs_decoded_response(struct kvs_server *srv, enum kvs_encoding enc, kvs_slice value,
                         struct kvs_read *read, const char *label, struct MHD_Response **out)
{
    size_t cost = kvs_decoded_cost(enc, value);
    int rc = kvs_budget_take(srv->decoding, cost);
    if (rc != 0) {
        kvs_storage_read_end(read);
        return rc;
    }
    struct decoded *d = kvs_xcalloc(1, sizeof *d);
    d->in = value;
    d->read = read;
    d->budget = srv->decoding;
    d->cost = cost;
    snprintf(d->label, sizeof d->label, "%s", label);
    rc = kvs_decoder_new(enc, kvs_decoder_mem_max(enc, value), &d->dec);
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
