/* records_zip.c — GET /v2/key-value-stores/{store}/records: every record (optionally only
 * those with a prefix or in a collection) as one ZIP archive, file name = record key
 * (contract §1.5).
 *
 * The archive is streamed one entry at a time, and holds no read snapshot while it goes out:
 * a page of keys is listed in a short read, and each entry's record is looked up in a short
 * read of its own when its turn comes (a record deleted meanwhile is left out), its bytes
 * taken out of it as a response takes them (storage.h, struct kvs_value: a copy of an inline
 * value, the file of one held apart). So a slow client pins nothing (issue 19, finding 4),
 * and memory stays small whatever the store's size: one entry's value at most (inline values
 * are at most the storage's inline size) and the central directory (about 60 bytes a record).
 *
 * Entries are "stored" (no compression) and hold the record's decoded bytes. A record stored
 * inline and uncoded gets its CRC and size in its local header. Any other (coded, or held in
 * a file) is streamed: its bytes are read, or decoded (decoded.h's way), straight into
 * libmicrohttpd's buffer, so its CRC and size are known only at its end; its local header says
 * so (flag bit 3) and a data descriptor after its bytes gives them (APPNOTE 4.3.9), as does its
 * central directory record. Each coded entry takes its decoder's memory from the server's
 * decoding budget (server/budget.h) when it starts and gives it back at its end; when the
 * budget is spent the download waits, its connection suspended, until there is enough (it has
 * sent its status already and cannot answer 503).
 *
 * ZIP64 records are added when the archive passes 4 GiB or 65,535 entries, and streamed
 * entries carry 8-byte sizes (a ZIP64 extra field and descriptor) when they may pass 4 GiB
 * (a record that large, or one that may decode to that much under the server's limits). */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "api/api.h"
#include "api/decoded.h"
#include "common/alloc.h"
#include "common/decoder.h"
#include "common/log.h"
#include "kvs.h"
#include "server/budget.h"
#include "server/reply.h"

#define PAGE 128                 /* keys listed at a time */
#define BLOCK (64 * 1024)        /* libmicrohttpd's buffer for the archive */
#define CD_MAX ((size_t)1 << 30) /* central directory cap: ~15M records */
#define U32_MAX_ 0xFFFFFFFFu

struct zip_key {
    char key[KVS_KEY_MAX + 1];
    size_t key_len;
};

struct zip_stream {
    struct kvs_storage *st;
    json_t *schema; /* owned; holds the collection's key that `only` points into */
    kvs_slice only; /* a one-key collection: skip every other key */
    int none;       /* the filters exclude each other: an empty archive */
    char store_id[KVS_ID_LEN + 1];
    char prefix[KVS_KEY_MAX + 1];
    char after[KVS_KEY_MAX + 1]; /* the last key listed */
    int more;                    /* keys may remain after `after` */
    int sizes64;                 /* decoded entries carry 8-byte sizes */

    struct zip_key page[PAGE];
    size_t n_page, i_page;

    /* the entry being written: HEAD bytes (a local header or a data descriptor), then its
     * data: BODY (an inline uncoded value, in VAL), or streamed from VAL, decoded by DEC when
     * coded */
    const struct zip_key *cur;
    struct kvs_value *val; /* owned; the entry's bytes */
    enum kvs_encoding encoding;
    unsigned char head[30 + KVS_KEY_MAX + 20];
    size_t head_len, head_off;
    kvs_slice body;
    size_t body_off;
    int streaming;           /* the entry's data comes from VAL (and DEC), then a descriptor */
    struct kvs_decoder *dec; /* owned; coded entries */
    char *inbuf;             /* DEC's input from a file (KVS_DECODED_INBUF bytes); owned */
    kvs_slice in;            /* read from VAL and not yet decoded */
    uint64_t pos;            /* VAL's bytes read so far */
    int entry_sizes64;       /* this entry's descriptor has 8-byte sizes */
    uint32_t crc;            /* of the entry's bytes so far */
    uint64_t size;           /* the entry's bytes so far */
    uint64_t entry_at;       /* where its local header starts */

    /* decoding memory (server/budget.h) */
    struct kvs_budget *budget;
    struct MHD_Connection *conn; /* suspended while waiting */
    struct kvs_budget_waiter waiter;
    int waiting;        /* queued for the next coded entry's memory */
    size_t pending_mem; /* its decoder's bound */
    size_t reserved; /* taken from the budget for DEC */

    struct kvs_buf cd; /* central directory */
    uint64_t offset;   /* bytes written so far */
    uint64_t entries;
    int finished; /* the central directory and end records are in cd, being sent */
    size_t cd_off;
    int failed;
};

static void put16(unsigned char *p, unsigned v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

static void put32(unsigned char *p, uint32_t v)
{
    put16(p, v & 0xFFFF);
    put16(p + 2, v >> 16);
}

static void put64(unsigned char *p, uint64_t v)
{
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}

static int add_to_page(void *arg, const struct kvs_key_view *k)
{
    struct zip_stream *z = arg;
    if (z->only.n && !kvs_slice_eq(k->key, z->only))
        return 0;
    struct zip_key *e = &z->page[z->n_page++];
    memcpy(e->key, k->key.p, k->key.n);
    e->key[k->key.n] = '\0';
    e->key_len = k->key.n;
    return 0;
}

/* List the next page of keys, in a read of its own. Returns 0 or an error code. */
static int next_page(struct zip_stream *z)
{
    z->n_page = z->i_page = 0;
    if (!z->more)
        return 0;
    struct kvs_read *rd;
    int rc = kvs_storage_read_begin(z->st, &rd);
    if (rc != 0)
        return rc;
    int truncated = 0;
    rc = kvs_storage_keys_list(rd, kvs_slice_of(z->store_id), kvs_slice_of(z->prefix),
                               kvs_slice_of(z->after), PAGE, 0, add_to_page, z, &truncated);
    kvs_storage_read_end(rd);
    if (rc != 0)
        return rc;
    z->more = truncated;
    if (z->n_page) {
        struct zip_key *last = &z->page[z->n_page - 1];
        memcpy(z->after, last->key, last->key_len + 1);
    }
    if (z->only.n)
        z->more = 0; /* past its one key nothing more can match */
    return 0;
}

/* Look record KEY up now, in a read of its own, and open its bytes into z->val (its coding
 * into z->encoding). Returns 0, KVS_ENOTFOUND (deleted since it was listed: left out), or an
 * error. A value removed between the lookup and the open is looked up again. */
static int open_entry(struct zip_stream *z, const struct zip_key *k)
{
    for (int tries = 0; tries < 4; tries++) {
        struct kvs_read *rd;
        int rc = kvs_storage_read_begin(z->st, &rd);
        if (rc != 0)
            return rc;
        struct kvs_record_view rec;
        rc = kvs_storage_record_get(rd, kvs_slice_of(z->store_id), (kvs_slice){k->key, k->key_len},
                                    &rec);
        if (rc == 0) {
            z->encoding = rec.encoding;
            rc = kvs_storage_value_open(rd, &rec, &z->val);
        }
        kvs_storage_read_end(rd);
        if (rc != KVS_ESTALE)
            return rc;
    }
    return KVS_EIO;
}

/* Append the central directory record of an entry: KEY, its CRC and SIZE (stored = decoded),
 * its local header at AT, and FLAGS (bit 3: sizes in a data descriptor). */
static int add_central(struct zip_stream *z, const struct zip_key *e, uint32_t crc,
                       uint64_t size, uint64_t at, unsigned flags)
{
    int big = size >= U32_MAX_, far = at >= U32_MAX_;
    unsigned char c[46 + KVS_KEY_MAX + 28];
    put32(c, 0x02014b50);
    put16(c + 4, big || far ? 45 : 20); /* made by */
    put16(c + 6, big || far ? 45 : 20); /* needed */
    put16(c + 8, flags);
    put16(c + 10, 0);                       /* method: stored */
    put16(c + 12, 0);                       /* time */
    put16(c + 14, (0 << 9) | (1 << 5) | 1); /* date: 1980-01-01 */
    put32(c + 16, crc);
    put32(c + 20, big ? U32_MAX_ : (uint32_t)size);
    put32(c + 24, big ? U32_MAX_ : (uint32_t)size);
    put16(c + 28, (unsigned)e->key_len);
    put16(c + 30, (big ? 16 : 0) + (far ? 8 : 0)); /* extra: the ZIP64 fields */
    put16(c + 32, 0);                              /* comment */
    put16(c + 34, 0);                              /* disk */
    put16(c + 36, 0);                              /* internal attributes */
    put32(c + 38, 0);                              /* external attributes */
    put32(c + 42, far ? U32_MAX_ : (uint32_t)at);
    memcpy(c + 46, e->key, e->key_len);
    size_t n = 46 + e->key_len;
    if (big || far) { /* only the fields set to 0xFFFFFFFF, in this order (APPNOTE 4.5.3) */
        put16(c + n, 0x0001);
        put16(c + n + 2, (big ? 16 : 0) + (far ? 8 : 0));
        n += 4;
        if (big) {
            put64(c + n, size); /* original */
            put64(c + n + 8, size); /* compressed (stored: the same) */
            n += 16;
        }
        if (far) {
            put64(c + n, at);
            n += 8;
        }
    }
    z->entries++;
    return kvs_buf_append(&z->cd, c, n);
}

/* Write a local header for E into z->head: with CRC and SIZE, or, for a coded entry (FLAGS
 * bit 3), zeros and the sizes to come in its data descriptor. */
static void local_header(struct zip_stream *z, const struct zip_key *e, uint32_t crc,
                         uint32_t size, unsigned flags, int sizes64)
{
    unsigned char *h = z->head;
    put32(h, 0x04034b50);
    put16(h + 4, sizes64 ? 45 : 20); /* version needed: 2.0, 4.5 for ZIP64 */
    put16(h + 6, flags);
    put16(h + 8, 0);                        /* method: stored */
    put16(h + 10, 0);                       /* time */
    put16(h + 12, (0 << 9) | (1 << 5) | 1); /* date: 1980-01-01 */
    put32(h + 14, crc);
    put32(h + 18, sizes64 ? U32_MAX_ : size);
    put32(h + 22, sizes64 ? U32_MAX_ : size);
    put16(h + 26, (unsigned)e->key_len);
    put16(h + 28, sizes64 ? 20 : 0);
    memcpy(h + 30, e->key, e->key_len);
    z->head_len = 30 + e->key_len;
    if (sizes64) { /* the sizes come in the descriptor, 8 bytes each: zeros here */
        unsigned char *x = h + z->head_len;
        put16(x, 0x0001);
        put16(x + 2, 16);
        put64(x + 4, 0);
        put64(x + 12, 0);
        z->head_len += 20;
    }
    z->head_off = 0;
    z->entry_at = z->offset;
    z->offset += z->head_len;
}

#define FLAG_DESCRIPTOR 0x0008 /* CRC and sizes follow the data (APPNOTE 4.4.4 bit 3) */

/* Start the entry of the record just opened (z->val): an inline uncoded value with its CRC
 * in the local header and its central directory record now; any other streamed, its local
 * header saying that a descriptor follows. */
static int begin_entry(struct zip_stream *z)
{
    const struct zip_key *e = z->cur;
    kvs_slice bytes = kvs_value_bytes(z->val);
    z->crc = (uint32_t)crc32_z(0L, NULL, 0);
    z->size = 0;
    if (z->encoding == KVS_ENC_IDENTITY && bytes.n == kvs_value_size(z->val)) {
        uint32_t crc = (uint32_t)crc32_z(0L, (const Bytef *)bytes.p, bytes.n);
        local_header(z, e, crc, (uint32_t)bytes.n, 0, 0); /* inline: far below 4 GiB */
        z->body = bytes;
        z->body_off = 0;
        z->offset += bytes.n;
        return add_central(z, e, crc, bytes.n, z->entry_at, 0);
    }
    z->streaming = 1;
    z->entry_sizes64 = z->encoding == KVS_ENC_IDENTITY ? kvs_value_size(z->val) >= U32_MAX_
                                                       : z->sizes64;
    local_header(z, e, 0, 0, FLAG_DESCRIPTOR, z->entry_sizes64);
    return 0;
}

/* The coded entry's decoder, its memory granted: made now, and its input set up. */
static int begin_decoder(struct zip_stream *z, size_t mem)
{
    int rc = kvs_decoder_new(z->encoding, mem, &z->dec);
    if (rc != 0) {
        kvs_log_error("zip: record %s/%s has an unknown stored coding", z->store_id, z->cur->key);
        return rc;
    }
    kvs_slice bytes = kvs_value_bytes(z->val);
    if (bytes.n == kvs_value_size(z->val)) { /* in memory */
        z->in = bytes;
        z->pos = bytes.n;
    } else {
        z->inbuf = kvs_xmalloc(KVS_DECODED_INBUF);
    }
    return begin_entry(z);
}

static void end_value(struct zip_stream *z)
{
    kvs_decoder_free(z->dec);
    z->dec = NULL;
    free(z->inbuf);
    z->inbuf = NULL;
    if (z->reserved)
        kvs_budget_give(z->budget, z->reserved);
    z->reserved = 0;
    kvs_value_close(z->val);
    z->val = NULL;
    z->body = (kvs_slice){"", 0};
    z->body_off = 0;
}

/* The streamed entry has been sent whole: its data descriptor into z->head, its central
 * directory record, and its value closed (its memory back to the budget). */
static int end_streamed(struct zip_stream *z)
{
    end_value(z);
    z->streaming = 0;
    unsigned char *d = z->head;
    put32(d, 0x08074b50); /* the descriptor's optional signature, which readers expect */
    put32(d + 4, z->crc);
    if (z->entry_sizes64) {
        put64(d + 8, z->size);
        put64(d + 16, z->size);
        z->head_len = 24;
    } else {
        put32(d + 8, (uint32_t)z->size);
        put32(d + 12, (uint32_t)z->size);
        z->head_len = 16;
    }
    z->head_off = 0;
    z->offset += z->size + z->head_len;
    return add_central(z, z->cur, z->crc, z->size, z->entry_at, FLAG_DESCRIPTOR);
}

/* The next bytes of the streamed entry into BUF[0..MAX): read from its value, or decoded.
 * Returns how many (0 at its end, after which its descriptor is due), or -1 on failure
 * (logged). */
static ssize_t stream_some(struct zip_stream *z, char *buf, size_t max)
{
    uint64_t total = kvs_value_size(z->val);
    size_t n = 0;
    int rc = 0;
    if (z->dec == NULL) { /* uncoded, from its file */
        rc = kvs_value_read(z->val, z->size, buf, max, &n);
        if (rc == 0 && n == 0 && z->size < total)
            rc = KVS_EIO; /* shorter than its size */
    } else {
        for (;;) {
            if (z->in.n == 0 && z->pos < total) {
                size_t got;
                rc = kvs_value_read(z->val, z->pos, z->inbuf, KVS_DECODED_INBUF, &got);
                if (rc == 0 && got == 0)
                    rc = KVS_EIO;
                if (rc != 0)
                    break;
                z->in = (kvs_slice){z->inbuf, got};
                z->pos += got;
            }
            size_t had = z->in.n;
            n = max;
            rc = kvs_decoder_step(z->dec, &z->in, z->pos == total, buf, &n);
            if (rc < 0 || n > 0 || rc == 1)
                break;
            if (z->in.n == had) { /* nothing used, nothing made: no valid stream does that */
                rc = KVS_EBADBODY;
                break;
            }
        }
    }
    if (rc < 0) {
        /* Uploads are checked, so this is a record stored under other limits or damaged. */
        kvs_log_error("zip: record %s/%s cannot be read: %s", z->store_id, z->cur->key,
                      kvs_errname(rc));
        return -1;
    }
    z->crc = (uint32_t)crc32_z(z->crc, (const Bytef *)buf, n);
    z->size += n;
    if (n == 0)
        return end_streamed(z) == 0 ? 0 : -1;
    return (ssize_t)n;
}

/* The budget granted the waiting entry its memory (or closed): wake the connection. */
static void wake(struct kvs_budget_waiter *w)
{
    struct zip_stream *z = w->arg;
    MHD_resume_connection(z->conn);
}

static void suspend(void *arg)
{
    struct zip_stream *z = arg;
    MHD_suspend_connection(z->conn);
}

/* The next listed key's entry: its record looked up and opened, and begun, or, when coded,
 * its decoding memory taken first (or queued for: z->waiting, the connection suspended until
 * it is granted). A record gone since it was listed is left out. Returns 0 or an error. */
static int next_entry(struct zip_stream *z)
{
    z->cur = &z->page[z->i_page++];
    z->pos = 0;
    z->in = (kvs_slice){"", 0};
    int rc = open_entry(z, z->cur);
    if (rc == KVS_ENOTFOUND)
        return 0;
    if (rc != 0)
        return rc;
    if (z->encoding == KVS_ENC_IDENTITY)
        return begin_entry(z);
    kvs_slice bytes = kvs_value_bytes(z->val);
    int in_memory = bytes.n == kvs_value_size(z->val);
    char head[KVS_DECODER_HEAD];
    size_t mem = kvs_decoder_mem_max(z->encoding, in_memory ? bytes : kvs_decoded_head(z->val, head));
    size_t cost = mem + (in_memory ? bytes.n : KVS_DECODED_INBUF) + BLOCK;
    rc = kvs_budget_take_or_wait(z->budget, cost, &z->waiter, suspend, z);
    if (rc < 0)
        return rc;
    if (rc == 1) {
        z->waiting = 1; /* z->reserved is set once the bytes are granted */
        z->pending_mem = mem;
        return 0;
    }
    z->reserved = cost;
    return begin_decoder(z, mem);
}

/* Append the end records after the central directory. */
static int end_archive(struct zip_stream *z)
{
    uint64_t cd_size = z->cd.n, cd_start = z->offset;
    int zip64 = z->entries >= 0xFFFF || cd_start >= U32_MAX_ || cd_size >= U32_MAX_;
    unsigned char e[56 + 20 + 22];
    size_t n = 0;
    if (zip64) {
        put32(e, 0x06064b50); /* ZIP64 end of central directory */
        put64(e + 4, 44);
        put16(e + 12, 45);
        put16(e + 14, 45);
        put32(e + 16, 0);
        put32(e + 20, 0);
        put64(e + 24, z->entries);
        put64(e + 32, z->entries);
        put64(e + 40, cd_size);
        put64(e + 48, cd_start);
        put32(e + 56, 0x07064b50); /* its locator */
        put32(e + 60, 0);
        put64(e + 64, cd_start + cd_size);
        put32(e + 72, 1);
        n = 76;
    }
    unsigned char *x = e + n;
    put32(x, 0x06054b50);
    put16(x + 4, 0);
    put16(x + 6, 0);
    put16(x + 8, zip64 ? 0xFFFF : (unsigned)z->entries);
    put16(x + 10, zip64 ? 0xFFFF : (unsigned)z->entries);
    put32(x + 12, zip64 ? U32_MAX_ : (uint32_t)cd_size);
    put32(x + 16, zip64 ? U32_MAX_ : (uint32_t)cd_start);
    put16(x + 20, 0);
    return kvs_buf_append(&z->cd, e, n + 22);
}

static size_t copy_out(char **buf, size_t *max, const void *src, size_t n)
{
    if (n > *max)
        n = *max;
    memcpy(*buf, src, n);
    *buf += n;
    *max -= n;
    return n;
}

/* MHD's content reader: fill BUF with up to MAX bytes of the archive. */
static ssize_t zip_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct zip_stream *z = cls;
    char *start = buf;
    while (max > 0 && !z->failed) {
        if (z->head_off < z->head_len) {
            z->head_off += copy_out(&buf, &max, z->head + z->head_off, z->head_len - z->head_off);
        } else if (z->body_off < z->body.n) {
            z->body_off += copy_out(&buf, &max, z->body.p + z->body_off, z->body.n - z->body_off);
        } else if (z->streaming) {
            ssize_t n = stream_some(z, buf, max);
            z->failed = n < 0;
            if (n > 0) {
                buf += n;
                max -= (size_t)n;
            }
        } else if (z->waiting) {
            /* resumed: granted (set before the wake), or not, when the server is stopping */
            z->waiting = 0;
            z->reserved = z->waiter.granted ? z->waiter.n : 0;
            z->failed = !z->waiter.granted || begin_decoder(z, z->pending_mem) != 0;
        } else if (z->val) {
            end_value(z); /* an inline entry, sent */
        } else if (z->finished) {
            if (z->cd_off == z->cd.n)
                break;
            z->cd_off += copy_out(&buf, &max, z->cd.p + z->cd_off, z->cd.n - z->cd_off);
        } else if (z->i_page < z->n_page) {
            z->failed = next_entry(z) != 0;
            if (z->waiting) /* suspended: libmicrohttpd calls again once it is resumed */
                return buf - start;
        } else if (z->more) {
            z->failed = next_page(z) != 0;
        } else {
            z->failed = end_archive(z) != 0;
            z->finished = 1;
        }
    }
    if (buf > start)
        return buf - start;
    /* A failure midway cannot change the status any more: cut the stream, so the client
     * sees an incomplete transfer rather than a truncated archive that looks whole. The
     * server stopping while the download waits is such a failure too. */
    return z->failed ? MHD_CONTENT_READER_END_WITH_ERROR : MHD_CONTENT_READER_END_OF_STREAM;
}

static void zip_free(void *cls)
{
    struct zip_stream *z = cls;
    /* out of the queue if still there; after that, whether it was granted is settled */
    kvs_budget_cancel(z->budget, &z->waiter);
    if (z->waiting && z->waiter.granted)
        z->reserved = z->waiter.n; /* granted, never used: given back below */
    end_value(z);
    kvs_buf_free(&z->cd);
    json_decref(z->schema);
    free(z);
}

void kvs_api_records_zip(struct kvs_req *r)
{
    const char *prefix = kvs_http_query(r, "prefix");
    const char *collection = kvs_http_query(r, "collection");
    if (prefix && strlen(prefix) > KVS_KEY_MAX) {
        kvs_reply_error(r, KVS_EBADPARAM, "Parameter prefix is longer than any key.");
        return;
    }
    struct kvs_store *s = kvs_api_store_or_reply(r, KVS_NEED_READ);
    if (s == NULL)
        return;
    struct zip_stream *z = kvs_xcalloc(1, sizeof *z);
    kvs_slice pfx = kvs_slice_of(prefix ? prefix : "");
    if (collection && *collection &&
        kvs_api_collection(r, collection, &pfx, &z->only, &z->none, &z->schema) != 0) {
        json_decref(z->schema);
        free(z);
        kvs_reply_error(r, KVS_EBADPARAM, "%s", r->error_msg);
        return;
    }
    z->st = r->srv->storage;
    memcpy(z->store_id, s->id, sizeof z->store_id);
    if (pfx.n > KVS_KEY_MAX)
        z->none = 1; /* a collection prefix longer than any key */
    else
        memcpy(z->prefix, pfx.p, pfx.n);
    /* a record may decode to this much: past 4 GiB, decoded entries need 8-byte sizes */
    z->sizes64 = (uint64_t)KVS_API_DECODED_FACTOR * r->srv->cfg.max_record_size >= U32_MAX_;
    z->budget = r->srv->decoding;
    z->conn = r->conn;
    z->waiter.wake = wake;
    z->waiter.arg = z;
    z->more = !z->none;
    kvs_buf_init(&z->cd, CD_MAX);
    kvs_storage_note_access(r->srv->storage, s->id, KVS_NOTE_LIST);

    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, BLOCK, zip_read, z, zip_free);
    if (resp == NULL) {
        zip_free(z);
        kvs_reply_error(r, KVS_ENOMEM, NULL);
        return;
    }
    kvs_reply_response(r, 200, resp);
    kvs_reply_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/zip");
    /* named after the store (a name is letters, digits and hyphens: safe in the header), so that
     * the console's "Download all" saves "my-store.zip" */
    char disp[128];
    snprintf(disp, sizeof disp, "attachment; filename=\"%s.zip\"", s->name[0] ? s->name : s->id);
    kvs_reply_header(r, MHD_HTTP_HEADER_CONTENT_DISPOSITION, disp);
    /* user content, as every record answer (records.c): never a document of the origin */
    kvs_reply_header(r, "X-Content-Type-Options", "nosniff");
    kvs_reply_header(r, "Content-Security-Policy", "sandbox");
}
