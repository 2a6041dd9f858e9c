/* records_zip.c — GET /v2/key-value-stores/{store}/records: every record (optionally only
 * those with a prefix or in a collection) as one ZIP archive, file name = record key
 * (contract §1.5).
 *
 * The archive is streamed from one read snapshot, page by page of keys, so memory stays small
 * whatever the store's size: only the central directory (about 60 bytes a record) is kept
 * until the end. Entries are "stored" (no compression) and hold the record's decoded bytes.
 * ZIP64 records are added when the archive passes 4 GiB or 65,535 entries. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "api/api.h"
#include "common/alloc.h"
#include "common/log.h"
#include "kvs.h"
#include "server/reply.h"

#define PAGE 128                 /* keys fetched from the snapshot at a time */
#define CD_MAX ((size_t)1 << 30) /* central directory cap: ~15M records */
#define U32_MAX_ 0xFFFFFFFFu

struct zip_entry {
    char key[KVS_KEY_MAX + 1];
    size_t key_len;
    kvs_slice data; /* into the snapshot, or into plain */
    char *plain;    /* decoded bytes, owned; NULL when the record is stored uncoded */
};

struct zip_stream {
    struct kvs_storage *st;
    json_t *schema;      /* owned; holds the collection's key that `only` points into */
    kvs_slice only;      /* a one-key collection: skip every other key */
    int none;            /* the filters exclude each other: an empty archive */
    struct kvs_read *rd; /* owned; ended by zip_free */
    char store_id[KVS_ID_LEN + 1];
    char prefix[KVS_KEY_MAX + 1];
    char after[KVS_KEY_MAX + 1]; /* the last key fetched */
    size_t max_decoded;
    int more; /* keys may remain after `after` */

    struct zip_entry page[PAGE];
    size_t n_page, i_page;

    /* what is being written now: HEAD bytes, then BODY bytes */
    unsigned char head[30 + KVS_KEY_MAX];
    size_t head_len, head_off;
    kvs_slice body;
    size_t body_off;

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
    struct zip_entry *e = &z->page[z->n_page++];
    memcpy(e->key, k->key.p, k->key.n);
    e->key[k->key.n] = '\0';
    e->key_len = k->key.n;
    e->plain = NULL;
    e->data = k->rec.value;
    if (k->rec.encoding != KVS_ENC_IDENTITY) {
        struct kvs_buf b;
        kvs_buf_init(&b, z->max_decoded);
        int rc = kvs_decode(k->rec.encoding, k->rec.value, &b, 0);
        if (rc != 0) {
            kvs_buf_free(&b);
            kvs_log_error("zip: record %s/%s does not decode: %s", z->store_id, e->key,
                          kvs_errname(rc));
            return rc;
        }
        size_t n;
        e->plain = kvs_buf_steal(&b, &n);
        e->data = (kvs_slice){e->plain, n};
    }
    return 0;
}

static void free_page(struct zip_stream *z)
{
    for (size_t i = 0; i < z->n_page; i++)
        free(z->page[i].plain);
    z->n_page = z->i_page = 0;
}

/* Fetch the next page of records. Returns 0 or an error code. */
static int next_page(struct zip_stream *z)
{
    free_page(z);
    if (!z->more)
        return 0;
    int truncated = 0;
    int rc = kvs_storage_keys_list(z->rd, kvs_slice_of(z->store_id), kvs_slice_of(z->prefix),
                                   kvs_slice_of(z->after), PAGE, KVS_KEYS_WITH_VALUES, add_to_page,
                                   z, &truncated);
    if (rc != 0)
        return rc;
    z->more = truncated;
    if (z->n_page) {
        struct zip_entry *last = &z->page[z->n_page - 1];
        memcpy(z->after, last->key, last->key_len + 1);
    }
    if (z->only.n)
        z->more = 0; /* past its one key nothing more can match */
    return 0;
}

/* Start entry E: its local header into z->head, its bytes into z->body, and its central
 * directory record into z->cd. */
static int begin_entry(struct zip_stream *z, const struct zip_entry *e)
{
    uint32_t crc = (uint32_t)crc32_z(0L, (const Bytef *)e->data.p, e->data.n);
    uint32_t size = (uint32_t)e->data.n; /* records are far below 4 GiB */
    unsigned char *h = z->head;
    put32(h, 0x04034b50);
    put16(h + 4, 20);                       /* version needed: 2.0 */
    put16(h + 6, 0);                        /* flags */
    put16(h + 8, 0);                        /* method: stored */
    put16(h + 10, 0);                       /* time */
    put16(h + 12, (0 << 9) | (1 << 5) | 1); /* date: 1980-01-01 */
    put32(h + 14, crc);
    put32(h + 18, size);
    put32(h + 22, size);
    put16(h + 26, (unsigned)e->key_len);
    put16(h + 28, 0);
    memcpy(h + 30, e->key, e->key_len);
    z->head_len = 30 + e->key_len;
    z->head_off = 0;
    z->body = e->data;
    z->body_off = 0;

    int zip64 = z->offset >= U32_MAX_;
    unsigned char c[46 + KVS_KEY_MAX + 12];
    put32(c, 0x02014b50);
    put16(c + 4, zip64 ? 45 : 20); /* made by */
    put16(c + 6, zip64 ? 45 : 20); /* needed */
    put16(c + 8, 0);
    put16(c + 10, 0);
    put16(c + 12, 0);
    put16(c + 14, (0 << 9) | (1 << 5) | 1);
    put32(c + 16, crc);
    put32(c + 20, size);
    put32(c + 24, size);
    put16(c + 28, (unsigned)e->key_len);
    put16(c + 30, zip64 ? 12 : 0); /* extra: the ZIP64 offset */
    put16(c + 32, 0);              /* comment */
    put16(c + 34, 0);              /* disk */
    put16(c + 36, 0);              /* internal attributes */
    put32(c + 38, 0);              /* external attributes */
    put32(c + 42, zip64 ? U32_MAX_ : (uint32_t)z->offset);
    memcpy(c + 46, e->key, e->key_len);
    size_t n = 46 + e->key_len;
    if (zip64) {
        put16(c + n, 0x0001);
        put16(c + n + 2, 8);
        put64(c + n + 4, z->offset);
        n += 12;
    }
    z->entries++;
    z->offset += z->head_len + e->data.n;
    return kvs_buf_append(&z->cd, c, n);
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
        } else if (z->finished) {
            if (z->cd_off == z->cd.n)
                break;
            z->cd_off += copy_out(&buf, &max, z->cd.p + z->cd_off, z->cd.n - z->cd_off);
        } else if (z->i_page < z->n_page) {
            z->failed = begin_entry(z, &z->page[z->i_page++]) != 0;
        } else if (z->more) {
            z->failed = next_page(z) != 0;
        } else {
            free_page(z);
            z->failed = end_archive(z) != 0;
            z->finished = 1;
        }
    }
    if (buf > start)
        return buf - start;
    /* A failure midway cannot change the status any more: cut the stream, so the client
     * sees an incomplete transfer rather than a truncated archive that looks whole. */
    return z->failed ? MHD_CONTENT_READER_END_WITH_ERROR : MHD_CONTENT_READER_END_OF_STREAM;
}

static void zip_free(void *cls)
{
    struct zip_stream *z = cls;
    free_page(z);
    kvs_buf_free(&z->cd);
    json_decref(z->schema);
    kvs_storage_read_end(z->rd);
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
    z->max_decoded = KVS_API_DECODED_FACTOR * r->srv->cfg.max_record_size;
    z->more = !z->none;
    kvs_buf_init(&z->cd, CD_MAX);
    z->rd = r->rd; /* the stream owns the snapshot from here on */
    r->rd = NULL;
    kvs_storage_note_access(r->srv->storage, s->id, KVS_NOTE_LIST);

    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, zip_read, z, zip_free);
    if (resp == NULL) {
        zip_free(z);
        kvs_reply_error(r, KVS_ENOMEM, NULL);
        return;
    }
    kvs_reply_response(r, 200, resp);
    kvs_reply_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/zip");
    char disp[64];
    snprintf(disp, sizeof disp, "attachment; filename=\"%s.zip\"", s->id);
    kvs_reply_header(r, MHD_HTTP_HEADER_CONTENT_DISPOSITION, disp);
    /* user content, as every record answer (records.c): never a document of the origin */
    kvs_reply_header(r, "X-Content-Type-Options", "nosniff");
    kvs_reply_header(r, "Content-Security-Policy", "sandbox");
}
