/* lmdb_wal.c — the write-ahead log of the LMDB back-end (see lmdb_wal.h for the design, the
 * file format and why it is safe). */
#include "storage/lmdb_wal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/fs.h"
#include "common/log.h"
#include "kvs.h"

/* ==== sizes and policy ======================================================================== */

#define SLOT_SIZE 4096u           /* one header slot */
#define SLOT_USED 256u            /* of which this much is written and checked */
#define DATA_START (2 * SLOT_SIZE) /* the first record byte */
#define LOG_SIZE (64ull << 20)    /* the ring; a batch holds at most 16 MiB of values */
#define LOG_SIZE_MIN (2ull << 20)
#define REC_HDR 32u               /* record header; records are padded to multiples of it */
#define ROW_HDR 8u
#define META_LEN 152u /* LMDB 0.9: PAGEHDRSZ (16) + sizeof(MDB_meta) (136) */
#define MDB_MAGIC_ 0xBEEFC0DEu
#define P_META_ 0x08u

/* Checkpoints: when this much log is live (or a quarter of a smaller log), or when records are
 * this old. Each checkpoint is a flush of the data file; in between, the pin keeps LMDB from
 * reusing pages, so the data file grows by the pages written meanwhile. */
#define CKPT_BYTES (8ull << 20)
#define CKPT_MS 1000
#define POLL_MS 25 /* the checkpoint thread looks this often (and starts writeback) */
#define REPLAY_STEP_ROWS 20000 /* rows applied per transaction of a replay */
#define CKPT_NICE 10 /* the checkpoint thread's nice value */
/* Zeros written ahead of the log's tail (once per file: after one cycle every block is). */
#define FILL_INIT (2ull << 20)
#define FILL_AHEAD (2ull << 20)
#define FILL_STEP (1ull << 20)
#define FILL_RETRY_MS 60000

enum { REC_ROWS = 1, REC_ABORT = 2, REC_WRAP = 3 };
enum { ROW_PUT = 1, ROW_DEL = 2 };
/* Bytes of wal.log locked (OFD locks; see lmdb_wal.h, Processes). */
enum { LK_GATE = 0, LK_USERS = 1, LK_OWNER = 2, LK_HEADER = 3 };

static const unsigned char MAGIC[8] = {'K', 'V', 'S', 'W', 'A', 'L', 0, 1};

/* ==== the header ============================================================================== */

struct header {
    uint64_t seq, salt, size, ckpt, start, start_lsn, reserved;
    uint32_t page_size, meta_len;
    unsigned char meta[META_LEN];
};

/* The rows of the owner's current write transaction, as a record in the making: REC_HDR bytes
 * kept free for the header, then the rows. */
struct rows {
    unsigned char *p;
    size_t n, cap;
    uint32_t count;
    /* the last MDB_RESERVE put: its value is copied from SRC (LEN bytes) to P + OFF before the
     * next change of the transaction */
    size_t pend_off, pend_len;
    const void *pend_src;
};

struct kvs_wal {
    char *dir, *log_path, *data_path;
    int fd;      /* wal.log, holding our OFD locks */
    int data_fd; /* data.mdb, to read meta pages; -1 until attached */
    int alone;   /* no other process had the directory open when we opened it */
    int owner;   /* holds LK_OWNER (may append once started) */
    int logging; /* owner, started: commits go through the log */
    int gate;    /* LK_GATE held */
    int replay;  /* a checkpoint was restored; its records are to be applied */
    int in_txn_header; /* shared: LK_HEADER held for the current write transaction */
    MDB_env *env;
    unsigned page_size;
    struct header hdr; /* the newest header we know */
    uint64_t chain_end, chain_lsn; /* where the record chain from hdr.start ended at open */

    /* the owner's ring, under mu (the writer appends; the thread fills and checkpoints) */
    pthread_mutex_t mu;
    pthread_cond_t cv;      /* the thread's wake-up */
    pthread_cond_t fill_cv; /* a fill in progress ended */
    uint64_t tail, next_lsn, start, filled, fill_lo, fill_hi;
    uint64_t writing_end; /* the end of the append under way; 0 = none */
    int64_t last_ckpt_ms;
    int64_t ckpt_ms; /* a checkpoint when the oldest live record is this old */
    int64_t fill_retry_ms; /* after a failed fill, none before this */
    int failed;      /* a flush of the log failed: no commit can be trusted to it any more */
    int ckpt_failed; /* a flush of the data file failed: no checkpoint from now on */
    int stop;
    int thread_started;
    pthread_t thread;
    pthread_mutex_t ckpt_mu; /* one checkpoint at a time (the thread, the writer, close) */
    MDB_txn *pin;            /* read transaction on the snapshot of the durable checkpoint */

    struct rows rows; /* writer thread only */
};

static void put32(unsigned char *p, uint32_t x)
{
    for (int i = 0; i < 4; i++, x >>= 8)
        p[i] = (unsigned char)x;
}

static void put64(unsigned char *p, uint64_t x)
{
    for (int i = 0; i < 8; i++, x >>= 8)
        p[i] = (unsigned char)x;
}

static uint32_t get32(const unsigned char *p)
{
    uint32_t x = 0;
    for (int i = 3; i >= 0; i--)
        x = x << 8 | p[i];
    return x;
}

static uint64_t get64(const unsigned char *p)
{
    uint64_t x = 0;
    for (int i = 7; i >= 0; i--)
        x = x << 8 | p[i];
    return x;
}

/* ---- CRC-32C (Castagnoli) ----
 * Every record is checksummed on the writer thread: zlib's crc32 cost ~4 instructions a byte
 * there (callgrind: 4,700 of a durable PUT's 68,000); the CPU's crc32 instruction (SSE 4.2)
 * does 8 bytes in one. Without it, a table, a byte at a time. */

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;
static int crc_hw;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        crc_table[i] = c;
    }
#if defined(__x86_64__)
    __builtin_cpu_init();
    crc_hw = __builtin_cpu_supports("sse4.2");
#endif
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t crc_hw_update(uint32_t c, const unsigned char *p,
                                                                size_t n)
{
    uint64_t c64 = c;
    for (; n >= 8; p += 8, n -= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        c64 = __builtin_ia32_crc32di(c64, w);
    }
    c = (uint32_t)c64;
    for (; n > 0; p++, n--)
        c = __builtin_ia32_crc32qi(c, *p);
    return c;
}
#endif

uint32_t kvs_wal_crc(const void *p, size_t n, uint32_t crc)
{
    pthread_once(&crc_once, crc_init);
    const unsigned char *b = p;
    uint32_t c = ~crc;
#if defined(__x86_64__)
    if (crc_hw)
        return ~crc_hw_update(c, b, n);
#endif
    for (; n > 0; b++, n--)
        c = crc_table[(c ^ *b) & 0xff] ^ (c >> 8);
    return ~c;
}

static uint32_t crc_of(const void *p, size_t n, uint32_t crc)
{
    return kvs_wal_crc(p, n, crc);
}

/* The CRC of a record: the log's salt, then the record after its CRC field. */
static uint32_t rec_crc(uint64_t salt, const unsigned char *rec, size_t len)
{
    unsigned char s[8];
    put64(s, salt);
    return crc_of(rec + 4, len - 4, crc_of(s, 8, 0));
}

static int pread_full(int fd, void *buf, size_t n, uint64_t off)
{
    unsigned char *p = buf;
    while (n > 0) {
        ssize_t r = pread(fd, p, n, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return r == 0 ? EIO : errno;
        p += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return 0;
}

static int pwrite_full(int fd, const void *buf, size_t n, uint64_t off)
{
    const unsigned char *p = buf;
    while (n > 0) {
        ssize_t r = pwrite(fd, p, n, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return r == 0 ? ENOSPC : errno;
        p += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return 0;
}

static int sync_fd(int fd)
{
    return fdatasync(fd) == 0 ? 0 : errno;
}

/* ---- OFD locks on bytes of wal.log ---- */

static int lock_byte(int fd, int byte, short type, int wait)
{
    struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = byte, .l_len = 1};
    for (;;) {
        if (fcntl(fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &fl) == 0)
            return 0;
        if (errno != EINTR)
            return errno;
    }
}

static void unlock_byte(int fd, int byte)
{
    struct flock fl = {.l_type = F_UNLCK, .l_whence = SEEK_SET, .l_start = byte, .l_len = 1};
    (void)fcntl(fd, F_OFD_SETLK, &fl);
}

/* ---- header slots ---- */

static void pack_header(unsigned char slot[SLOT_USED], const struct header *h)
{
    memset(slot, 0, SLOT_USED);
    memcpy(slot, MAGIC, 8);
    put32(slot + 12, 1);
    put64(slot + 16, h->seq);
    put64(slot + 24, h->salt);
    put64(slot + 32, h->size);
    put64(slot + 40, h->ckpt);
    put64(slot + 48, h->start);
    put64(slot + 56, h->start_lsn);
    put64(slot + 64, h->reserved);
    put32(slot + 72, h->page_size);
    put32(slot + 76, h->meta_len);
    memcpy(slot + 80, h->meta, META_LEN);
    put32(slot + 8, crc_of(slot + 12, SLOT_USED - 12, 0));
}

static int unpack_header(const unsigned char slot[SLOT_USED], struct header *h)
{
    if (memcmp(slot, MAGIC, 8) != 0 || get32(slot + 12) != 1 ||
        get32(slot + 8) != crc_of(slot + 12, SLOT_USED - 12, 0))
        return 0;
    h->seq = get64(slot + 16);
    h->salt = get64(slot + 24);
    h->size = get64(slot + 32);
    h->ckpt = get64(slot + 40);
    h->start = get64(slot + 48);
    h->start_lsn = get64(slot + 56);
    h->reserved = get64(slot + 64);
    h->page_size = get32(slot + 72);
    h->meta_len = get32(slot + 76);
    memcpy(h->meta, slot + 80, META_LEN);
    /* what the rest of this file relies on */
    return h->size >= LOG_SIZE_MIN && h->size % SLOT_SIZE == 0 &&
           h->start >= DATA_START && h->start < h->size && h->start % REC_HDR == 0 &&
           (h->ckpt == 0 || h->meta_len == META_LEN);
}

/* Read the newest valid header slot of FD into H (and its slot number into *SLOT). Returns 0,
 * ENOENT (no valid slot; *BLANK says whether both slots are all zeros or missing), or an errno
 * value. */
static int read_header(int fd, struct header *h, int *slot, int *blank)
{
    unsigned char buf[2][SLOT_USED];
    struct header hs[2];
    int valid[2] = {0, 0};
    *blank = 1;
    for (int i = 0; i < 2; i++) {
        ssize_t r = pread(fd, buf[i], SLOT_USED, (off_t)i * SLOT_SIZE);
        if (r < 0)
            return errno;
        if (r < (ssize_t)SLOT_USED)
            memset(buf[i] + r, 0, SLOT_USED - (size_t)r);
        for (size_t j = 0; j < SLOT_USED; j++)
            if (buf[i][j] != 0)
                *blank = 0;
        valid[i] = unpack_header(buf[i], &hs[i]);
    }
    if (!valid[0] && !valid[1])
        return ENOENT;
    int best = !valid[0] ? 1 : !valid[1] ? 0 : hs[1].seq > hs[0].seq;
    *h = hs[best];
    if (slot)
        *slot = best;
    return 0;
}

/* Write H into the slot that does not hold the newest header (so that one stays valid while
 * this one is written), as the next seq, and flush it. FD's LK_HEADER is held. */
static int write_header(int fd, struct header *h)
{
    struct header cur;
    int slot = 1, blank;
    int rc = read_header(fd, &cur, &slot, &blank);
    if (rc != 0 && rc != ENOENT)
        return rc;
    h->seq = rc == 0 ? cur.seq + 1 : 1;
    unsigned char buf[SLOT_USED];
    pack_header(buf, h);
    rc = pwrite_full(fd, buf, SLOT_USED, (uint64_t)(slot ^ 1) * SLOT_SIZE);
    return rc != 0 ? rc : sync_fd(fd);
}

/* ---- the record chain ---- */

/* One record found by walk(). */
struct found {
    uint64_t off, lsn, txnid;
    uint32_t len;
    unsigned type;
};

/* Read and check the record at OFF that should have number LSN: what it is into *OUT, the
 * whole record into *BODY (malloc'd, grown as needed; *CAP its size). Returns 1 (a valid
 * record), 0 (none: the chain ends here), or -errno. */
static int read_record(int fd, const struct header *h, uint64_t off, uint64_t lsn,
                       struct found *out, unsigned char **body, size_t *cap)
{
    unsigned char hb[REC_HDR];
    if (off + REC_HDR > h->size)
        return 0;
    int rc = pread_full(fd, hb, REC_HDR, off);
    if (rc != 0)
        return rc == EIO ? 0 : -rc; /* EIO from pread_full: past the end of the file */
    uint32_t len = get32(hb + 4);
    unsigned type = hb[24];
    if (get64(hb + 8) != lsn || len < REC_HDR || len % REC_HDR != 0 || off + len > h->size ||
        type < REC_ROWS || type > REC_WRAP || (type != REC_ROWS && len != REC_HDR))
        return 0;
    if (*cap < len) {
        free(*body);
        *cap = len;
        *body = kvs_xmalloc(len);
    }
    unsigned char *p = *body;
    memcpy(p, hb, REC_HDR);
    if (len > REC_HDR) {
        rc = pread_full(fd, p + REC_HDR, len - REC_HDR, off + REC_HDR);
        if (rc != 0)
            return rc == EIO ? 0 : -rc;
    }
    if (get32(p) != rec_crc(h->salt, p, len))
        return 0;
    *out = (struct found){.off = off, .lsn = lsn, .txnid = get64(hb + 16), .len = len, .type = type};
    return 1;
}

/* Walk the chain from H's start: call FN(ARG, record) for each record (FN may be NULL), and set
 * *END and *END_LSN to where the next record goes. Returns 0 or an errno value. */
static int walk(int fd, const struct header *h, int (*fn)(void *, const struct found *),
                void *arg, uint64_t *end, uint64_t *end_lsn)
{
    uint64_t off = h->start, lsn = h->start_lsn;
    unsigned char *body = NULL;
    size_t cap = 0;
    int rc = 0;
    for (uint64_t steps = 0; steps < h->size / REC_HDR; steps++) {
        if (off == h->size)
            off = DATA_START; /* a record ended at the end of the file: no room for a wrap */
        struct found f;
        int r = read_record(fd, h, off, lsn, &f, &body, &cap);
        if (r < 0) {
            rc = -r;
            break;
        }
        if (r == 0)
            break;
        if (fn != NULL && (rc = fn(arg, &f)) != 0)
            break;
        lsn++;
        off = f.type == REC_WRAP ? DATA_START : off + f.len;
    }
    free(body);
    *end = off;
    *end_lsn = lsn;
    return rc;
}

/* ---- meta pages of data.mdb ---- */

/* Read the meta page that committed transaction TXNID from FD into OUT. Returns 0, ESTALE (no
 * meta page has that number: another commit overwrote it), EPROTO (not LMDB 0.9's layout), or
 * an errno value. */
static int read_meta(int fd, unsigned page_size, uint64_t txnid, unsigned char out[META_LEN])
{
    for (unsigned i = 0; i < 2; i++) {
        unsigned char m[META_LEN];
        int rc = pread_full(fd, m, META_LEN, (uint64_t)i * page_size);
        if (rc != 0)
            return rc;
        if (get32(m + 16) != MDB_MAGIC_ || get32(m + 20) != 1 || !(m[10] & P_META_))
            return EPROTO;
        if (get64(m + 144) == txnid) {
            memcpy(out, m, META_LEN);
            return 0;
        }
    }
    return ESTALE;
}

/* The log's mark in its data file: "KVSWALID" and the log's salt, at MARK_OFF of meta page 0,
 * bytes LMDB 0.9 writes only when it makes the file (a commit writes its MDB_meta, the first
 * 152). So a log never replays into another data file, one copied over it by hand. */
#define MARK_OFF 3072u

static void mark_of(uint64_t salt, unsigned char out[16])
{
    memcpy(out, "KVSWALID", 8);
    put64(out + 8, salt);
}

/* Whether FD's data file carries the mark of SALT: 1, 0, or -errno. */
static int has_mark(int fd, unsigned page_size, uint64_t salt)
{
    unsigned char want[16], got[16];
    if (page_size < MARK_OFF + sizeof want)
        return 1; /* no room: not checked */
    mark_of(salt, want);
    int rc = pread_full(fd, got, sizeof got, MARK_OFF);
    return rc != 0 ? -rc : memcmp(got, want, sizeof got) == 0;
}

/* Write the checkpoint's meta page into both meta pages of data.mdb and flush: LMDB then opens
 * the checkpoint's snapshot (both pages carry the same transaction; LMDB takes page 0 on a
 * tie, and the next commit writes the page its number says). */
static int restore_meta(const struct kvs_wal *w, const struct header *h)
{
    int fd = open(w->data_path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return errno;
    int rc = has_mark(fd, h->page_size, h->salt);
    if (rc == 0) {
        kvs_log_error("lmdb: %s holds writes of another data file than %s (one copied or "
                      "restored over it?); move %s away to open %s as it is",
                      w->log_path, w->data_path, w->log_path, w->data_path);
        rc = EXDEV;
    } else {
        rc = rc < 0 ? -rc : 0;
    }
    for (unsigned i = 0; rc == 0 && i < 2; i++) {
        unsigned char m[META_LEN];
        memcpy(m, h->meta, META_LEN);
        put64(m, i); /* the page's number */
        rc = pwrite_full(fd, m, META_LEN, (uint64_t)i * h->page_size);
    }
    if (rc == 0)
        rc = sync_fd(fd);
    close(fd);
    return rc;
}

/* ==== opening ================================================================================= */

static int fill_zeros(int fd, uint64_t from, uint64_t to)
{
    static const unsigned char zeros[64 << 10];
    while (from < to) {
        size_t n = to - from < sizeof zeros ? (size_t)(to - from) : sizeof zeros;
        int rc = pwrite_full(fd, zeros, n, from);
        if (rc != 0)
            return rc;
        from += n;
    }
    return 0;
}

static int new_salt(uint64_t *out)
{
    unsigned char b[8];
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b)
        return EIO;
    *out = get64(b);
    return 0;
}

/* Make FD a fresh log: both header slots with no checkpoint (data.mdb as it is holds
 * everything), a new salt, the first FILL_INIT bytes zero-filled. */
static int init_log(int fd, const char *dir, uint64_t size, struct header *h)
{
    memset(h, 0, sizeof *h);
    int rc = new_salt(&h->salt);
    h->size = size;
    h->start = DATA_START;
    h->start_lsn = 1;
    if (rc == 0 && ftruncate(fd, (off_t)size) != 0)
        rc = errno;
    if (rc == 0)
        rc = fill_zeros(fd, 0, size < DATA_START + FILL_INIT ? size : DATA_START + FILL_INIT);
    unsigned char buf[SLOT_USED];
    for (unsigned i = 0; rc == 0 && i < 2; i++) { /* slot 1 first: seq 1, then slot 0: seq 2 */
        h->seq = i + 1;
        pack_header(buf, h);
        rc = pwrite_full(fd, buf, SLOT_USED, (uint64_t)(1 - i) * SLOT_SIZE);
        if (rc == 0)
            rc = sync_fd(fd);
    }
    if (rc == 0)
        rc = kvs_fsync_path(dir); /* the file's entry */
    return rc;
}

static int wal_err(const struct kvs_wal *w, int err, const char *what)
{
    kvs_log_error("lmdb: %s: %s: %s", w->log_path, what, strerror(err));
    return err == ENOSPC || err == EDQUOT ? KVS_ENOSPACE : KVS_EIO;
}

static int has_rows_record(void *arg, const struct found *f)
{
    if (f->type == REC_ROWS)
        *(int *)arg = 1;
    return 0;
}

int kvs_wal_open(const struct kvs_storage_config *cfg, struct kvs_wal **out)
{
    *out = NULL;
    const char *dir = cfg->dir;
    int want_owner = !cfg->lmdb_shared;
    uint64_t size = cfg->lmdb_wal_size;
    struct kvs_wal *w = kvs_xcalloc(1, sizeof *w);
    w->ckpt_ms = cfg->lmdb_checkpoint_ms ? (int64_t)cfg->lmdb_checkpoint_ms : CKPT_MS;
    size_t n = strlen(dir) + 16;
    w->dir = kvs_xstrdup(dir);
    w->log_path = kvs_xmalloc(n);
    w->data_path = kvs_xmalloc(n);
    snprintf(w->log_path, n, "%s/wal.log", dir);
    snprintf(w->data_path, n, "%s/data.mdb", dir);
    w->data_fd = -1;
    pthread_mutex_init(&w->mu, NULL);
    pthread_mutex_init(&w->ckpt_mu, NULL);
    kvs_cond_init_mono(&w->cv);
    pthread_cond_init(&w->fill_cv, NULL);

    int rc = 0;
    w->fd = open(w->log_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (w->fd < 0) {
        rc = wal_err(w, errno, "open");
        goto fail;
    }
    int err = lock_byte(w->fd, LK_GATE, F_WRLCK, 1);
    if (err == 0) {
        w->gate = 1;
        err = lock_byte(w->fd, LK_USERS, F_WRLCK, 0);
        w->alone = err == 0;
        if (err == EAGAIN || err == EACCES)
            err = lock_byte(w->fd, LK_USERS, F_RDLCK, 1);
    }
    if (err != 0) {
        rc = wal_err(w, err, "lock");
        goto fail;
    }
    int blank;
    err = read_header(w->fd, &w->hdr, NULL, &blank);
    if (err == ENOENT && w->alone) {
        /* Never made whole (a new directory, or a crash while it was made): no record was
         * ever written, so data.mdb as it is holds everything. */
        if (!blank)
            kvs_log_warn("lmdb: %s has no valid header; making it anew", w->log_path);
        size = size == 0 ? LOG_SIZE : size < LOG_SIZE_MIN ? LOG_SIZE_MIN : size;
        err = init_log(w->fd, dir, (size + SLOT_SIZE - 1) / SLOT_SIZE * SLOT_SIZE, &w->hdr);
    }
    if (err != 0) {
        rc = wal_err(w, err, err == ENOENT ? "no valid header" : "read header");
        goto fail;
    }
    int live = 0;
    err = walk(w->fd, &w->hdr, has_rows_record, &live, &w->chain_end, &w->chain_lsn);
    if (err != 0) {
        rc = wal_err(w, err, "read");
        goto fail;
    }
    if (w->alone && live && w->hdr.ckpt != 0) {
        /* A process that appended to the log ended without a checkpoint of its last commits:
         * back to the checkpoint, whose pages are intact, and the records go on from it. */
        err = restore_meta(w, &w->hdr);
        if (err != 0) {
            rc = err == EXDEV ? KVS_EIO : wal_err(w, err, "restore the checkpoint of data.mdb");
            goto fail;
        }
        w->replay = 1;
        kvs_log_info("lmdb: recovering %s from its write-ahead log (checkpoint %llu)", dir,
                     (unsigned long long)w->hdr.ckpt);
    }
    if (want_owner) {
        err = lock_byte(w->fd, LK_OWNER, F_WRLCK, 0);
        w->owner = err == 0;
        if (!w->owner)
            kvs_log_warn("lmdb: another process appends to %s; this one commits each write with "
                         "a sync of its own",
                         w->log_path);
    }
    *out = w;
    return 0;
fail:
    kvs_wal_close(w);
    return rc;
}

int kvs_wal_attach(struct kvs_wal *w, MDB_env *env)
{
    w->env = env;
    MDB_stat ms;
    if (mdb_env_stat(env, &ms) != 0)
        return KVS_EIO;
    w->page_size = ms.ms_psize;
    w->data_fd = open(w->data_path, O_RDONLY | O_CLOEXEC);
    if (w->data_fd < 0)
        return wal_err(w, errno, "open data.mdb");
    if (!w->replay)
        return 0;
    int rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &w->pin);
    if (rc != 0) {
        w->pin = NULL;
        kvs_log_error("lmdb: pin the checkpoint: %s", mdb_strerror(rc));
        return KVS_EIO;
    }
    if (mdb_txn_id(w->pin) != w->hdr.ckpt) {
        kvs_log_error("lmdb: %s opened at transaction %llu, not at its checkpoint %llu",
                      w->data_path, (unsigned long long)mdb_txn_id(w->pin),
                      (unsigned long long)w->hdr.ckpt);
        return KVS_EIO;
    }
    return 0;
}

int kvs_wal_needs_replay(const struct kvs_wal *w)
{
    return w->replay;
}

/* ==== replay ==================================================================================== */

struct replay_list {
    struct found *items;
    size_t n, cap;
};

static int collect(void *arg, const struct found *f)
{
    struct replay_list *l = arg;
    if (f->type == REC_WRAP)
        return 0;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->items = kvs_xrealloc(l->items, l->cap * sizeof *l->items);
    }
    l->items[l->n++] = *f;
    return 0;
}

/* Apply the rows of record R (LEN bytes) through FN. Returns 0, EPROTO (malformed) or FN's. */
static int apply_rows(const unsigned char *r, size_t len, MDB_txn *txn, kvs_wal_row_fn fn,
                      void *arg)
{
    uint32_t count = get32(r + 28);
    size_t off = REC_HDR;
    for (uint32_t i = 0; i < count; i++) {
        if (len - off < ROW_HDR)
            return EPROTO;
        const unsigned char *p = r + off;
        unsigned dbi = p[0], op = p[1];
        size_t kn = (size_t)p[2] | (size_t)p[3] << 8, vn = get32(p + 4);
        if (len - off - ROW_HDR < kn + vn || (op != ROW_PUT && op != ROW_DEL) ||
            (op == ROW_DEL && vn != 0))
            return EPROTO;
        MDB_val k = {.mv_size = kn, .mv_data = (void *)(p + ROW_HDR)};
        MDB_val v = {.mv_size = vn, .mv_data = (void *)(p + ROW_HDR + kn)};
        int rc = fn(arg, txn, dbi, k, op == ROW_PUT ? &v : NULL);
        if (rc != 0)
            return rc;
        off += ROW_HDR + kn + vn;
    }
    return 0;
}

int kvs_wal_replay(struct kvs_wal *w, kvs_wal_row_fn fn, void *arg)
{
    struct replay_list l = {0};
    uint64_t end, end_lsn;
    int err = walk(w->fd, &w->hdr, collect, &l, &end, &end_lsn);
    if (err != 0) {
        free(l.items);
        return wal_err(w, err, "read");
    }
    /* A record counts unless a later record or abort has a number not above its own: LMDB
     * gave that number again because this record's commit did not happen. */
    uint64_t later_min = UINT64_MAX;
    size_t kept = 0;
    for (size_t i = l.n; i-- > 0;) {
        struct found f = l.items[i];
        int keep = f.type == REC_ROWS && f.txnid < later_min;
        if (f.txnid < later_min)
            later_min = f.txnid;
        l.items[i].type = keep ? REC_ROWS : 0;
        kept += (size_t)keep;
    }
    /* In transactions of at most REPLAY_STEP_ROWS rows (LMDB caps the pages one transaction
     * may dirty), each synced (the environment is not MDB_NOSYNC yet). The pin on the
     * checkpoint (kvs_wal_attach) keeps its pages meanwhile, so a crash in the middle finds
     * the checkpoint intact and replays again from it. */
    MDB_txn *txn = NULL;
    int rc = 0;
    unsigned char *body = NULL;
    size_t cap = 0, rows = 0, step = 0;
    for (size_t i = 0; rc == 0 && i < l.n; i++) {
        if (l.items[i].type != REC_ROWS)
            continue;
        if (txn == NULL && (rc = mdb_txn_begin(w->env, NULL, 0, &txn)) != 0) {
            txn = NULL;
            break;
        }
        struct found f;
        int r = read_record(w->fd, &w->hdr, l.items[i].off, l.items[i].lsn, &f, &body, &cap);
        rc = r == 1 ? 0 : r < 0 ? -r : EIO;
        if (rc == 0)
            rc = apply_rows(body, f.len, txn, fn, arg);
        if (rc == 0) {
            rows += get32(body + 28);
            step += get32(body + 28);
        }
        if (rc == 0 && step >= REPLAY_STEP_ROWS) {
            rc = mdb_txn_commit(txn);
            txn = NULL;
            step = 0;
        }
    }
    free(body);
    free(l.items);
    if (rc == 0 && txn != NULL) {
        rc = mdb_txn_commit(txn);
        txn = NULL;
    }
    if (txn != NULL)
        mdb_txn_abort(txn);
    if (rc != 0) {
        kvs_log_error("lmdb: %s: replay: %s", w->log_path,
                      rc == EPROTO ? "a malformed record" : mdb_strerror(rc));
        return KVS_EIO;
    }
    kvs_log_info("lmdb: replayed %zu transactions (%zu rows) from %s", kept, rows, w->log_path);
    w->replay = 0;
    return 0;
}

/* ==== checkpoints =============================================================================== */

/* A checkpoint of snapshot S: pinned, its meta page, and where the records after it begin. */
struct capture {
    MDB_txn *pin;
    uint64_t txnid, start, start_lsn;
    unsigned char meta[META_LEN];
};

/* Under LMDB's write lock (an empty write transaction, so no commit happens meanwhile, in any
 * process): pin the last commit and copy its meta page. Returns 0, or KVS_EIO. */
static int capture(struct kvs_wal *w, struct capture *c)
{
    MDB_txn *wt = NULL, *pin = NULL;
    int rc = mdb_txn_begin(w->env, NULL, 0, &wt);
    if (rc == 0) {
        c->txnid = mdb_txn_id(wt) - 1;
        rc = mdb_txn_begin(w->env, NULL, MDB_RDONLY, &pin);
        if (rc != 0)
            pin = NULL;
    }
    if (rc == 0 && mdb_txn_id(pin) != c->txnid)
        rc = EPROTO; /* cannot be: every commit takes the write lock we hold */
    if (rc == 0)
        rc = read_meta(w->data_fd, w->page_size, c->txnid, c->meta);
    if (rc == 0 && w->logging) {
        /* every record before the tail is of a transaction up to S, or of one that did not
         * commit (aborted): none of them is needed after S */
        pthread_mutex_lock(&w->mu);
        c->start = w->tail;
        c->start_lsn = w->next_lsn;
        pthread_mutex_unlock(&w->mu);
    } else if (rc == 0) {
        /* a shared process (LK_HEADER held): the chain's end, from the newest header */
        struct header h;
        int blank;
        rc = read_header(w->fd, &h, NULL, &blank);
        if (rc == 0)
            rc = walk(w->fd, &h, NULL, NULL, &c->start, &c->start_lsn);
    }
    if (wt != NULL)
        mdb_txn_abort(wt);
    if (rc != 0) {
        if (pin != NULL)
            mdb_txn_abort(pin);
        kvs_log_error("lmdb: %s: checkpoint: %s", w->log_path,
                      rc == EPROTO ? "data.mdb's meta page is not in LMDB 0.9's layout"
                                   : mdb_strerror(rc));
        return KVS_EIO;
    }
    c->pin = pin;
    return 0;
}

/* Make the last commit a checkpoint: capture it, flush the data file, write the header (when
 * it is newer than the one there), and move the pin. HEADER_HELD: a shared process's
 * commit holds LK_HEADER already. Returns 0 or a KVS_E code. */
static int checkpoint(struct kvs_wal *w, int header_held)
{
    pthread_mutex_lock(&w->ckpt_mu);
    struct capture c;
    int rc = capture(w, &c);
    if (rc != 0)
        goto out;
    int err = has_mark(w->data_fd, w->page_size, w->hdr.salt);
    if (err == 0) { /* the data file gets the log's mark, flushed with its pages below */
        unsigned char mark[16];
        mark_of(w->hdr.salt, mark);
        int mfd = open(w->data_path, O_WRONLY | O_CLOEXEC);
        err = mfd < 0 ? errno : pwrite_full(mfd, mark, sizeof mark, MARK_OFF);
        if (mfd >= 0)
            close(mfd);
    } else {
        err = err < 0 ? -err : 0;
    }
    if (err != 0) {
        mdb_txn_abort(c.pin);
        rc = wal_err(w, err, "checkpoint: mark data.mdb");
        goto out;
    }
    struct header cur;
    int blank, wrote = 0;
    if (read_header(w->fd, &cur, NULL, &blank) == 0 && cur.ckpt == c.txnid && cur.start == c.start)
        goto durable; /* nothing since the last checkpoint (an idle open or close) */
    err = mdb_env_sync(w->env, 1);
    if (err != 0) {
        /* After a failed flush the page cache may have dropped pages it could not write: no
         * later flush can be trusted to hold them. The log keeps every record instead; a
         * restart recovers from the last good checkpoint. */
        mdb_txn_abort(c.pin);
        pthread_mutex_lock(&w->mu);
        w->ckpt_failed = 1;
        pthread_mutex_unlock(&w->mu);
        rc = wal_err(w, err, "checkpoint: flush data.mdb");
        goto out;
    }
    if (!header_held && (err = lock_byte(w->fd, LK_HEADER, F_WRLCK, 1)) != 0) {
        mdb_txn_abort(c.pin);
        rc = wal_err(w, err, "lock");
        goto out;
    }
    err = read_header(w->fd, &cur, NULL, &blank);
    if (err == 0 && (cur.ckpt < c.txnid || cur.ckpt == 0 ||
                     (cur.ckpt == c.txnid && cur.start != c.start))) {
        struct header h = cur;
        h.ckpt = c.txnid;
        h.start = c.start;
        h.start_lsn = c.start_lsn;
        h.page_size = w->page_size;
        h.meta_len = META_LEN;
        memcpy(h.meta, c.meta, META_LEN);
        err = write_header(w->fd, &h);
        if (err == 0) {
            cur = h;
            wrote = 1;
        }
    }
    if (!header_held)
        unlock_byte(w->fd, LK_HEADER);
    if (err != 0) {
        mdb_txn_abort(c.pin);
        pthread_mutex_lock(&w->mu);
        w->failed = 1; /* the log's own flush failed */
        pthread_mutex_unlock(&w->mu);
        rc = wal_err(w, err, "checkpoint: write the header");
        goto out;
    }
durable:
    w->hdr = cur;
    /* The header names C, or a later checkpoint of a shared process, whose pages our pin on C
     * keeps too (every snapshot from C on is): the pin before can go. A shared process keeps
     * none (its next commit starts from this checkpoint, under LK_HEADER). */
    MDB_txn *old = w->pin;
    w->pin = w->logging ? c.pin : NULL;
    if (!w->logging)
        mdb_txn_abort(c.pin);
    if (old != NULL)
        mdb_txn_abort(old);
    pthread_mutex_lock(&w->mu);
    if (w->logging) /* the live records begin there now: the free room grew */
        w->start = wrote ? c.start : cur.start;
    w->last_ckpt_ms = kvs_mono_ms();
    pthread_mutex_unlock(&w->mu);
out:
    pthread_mutex_unlock(&w->ckpt_mu);
    return rc;
}

/* ==== the owner's thread: checkpoints and zeros ahead of the tail ================================ */

static uint64_t ckpt_bytes(const struct kvs_wal *w)
{
    uint64_t quarter = (w->hdr.size - DATA_START) / 4;
    return quarter < CKPT_BYTES ? quarter : CKPT_BYTES;
}

static uint64_t live_bytes(const struct kvs_wal *w)
{
    if (w->tail >= w->start)
        return w->tail - w->start;
    return (w->hdr.size - w->start) + (w->tail - DATA_START);
}

static void fill_ahead(struct kvs_wal *w)
{
    pthread_mutex_lock(&w->mu);
    uint64_t lo = w->filled > w->writing_end ? w->filled : w->writing_end, hi = lo + FILL_STEP;
    if (hi > w->hdr.size)
        hi = w->hdr.size;
    int due = lo < w->hdr.size && w->tail + FILL_AHEAD > lo && !w->failed &&
              kvs_mono_ms() >= w->fill_retry_ms;
    if (due) {
        w->fill_lo = lo; /* the writer does not write here until we are done */
        w->fill_hi = hi;
    }
    pthread_mutex_unlock(&w->mu);
    if (!due)
        return;
    int err = fill_zeros(w->fd, lo, hi);
    if (err == 0)
        err = sync_fd(w->fd);
    pthread_mutex_lock(&w->mu);
    if (err == 0 && hi > w->filled)
        w->filled = hi;
    w->fill_lo = w->fill_hi = 0;
    pthread_cond_broadcast(&w->fill_cv);
    pthread_mutex_unlock(&w->mu);
    if (err != 0) { /* appends into holes work too, at a journal commit each */
        kvs_log_warn("lmdb: %s: zeros ahead of the log: %s", w->log_path, strerror(err));
        pthread_mutex_lock(&w->mu);
        w->fill_retry_ms = kvs_mono_ms() + FILL_RETRY_MS; /* a full disk, likely */
        pthread_mutex_unlock(&w->mu);
    }
}

/* The ring is empty: let the next record go to its first byte, whose block the file has (the
 * tail may be in a part of a sparse log never written, and a full disk refuses to give it
 * blocks). The writer thread, between transactions: no append runs meanwhile. Returns 1 when
 * it did. */
static int rewind_ring(struct kvs_wal *w)
{
    pthread_mutex_lock(&w->mu);
    int empty = w->start == w->tail && w->tail != DATA_START;
    uint64_t lsn = w->next_lsn;
    pthread_mutex_unlock(&w->mu);
    if (!empty || lock_byte(w->fd, LK_HEADER, F_WRLCK, 1) != 0)
        return 0;
    struct header h;
    int blank;
    int err = read_header(w->fd, &h, NULL, &blank);
    if (err == 0 && h.start == w->tail) {
        h.start = DATA_START;
        h.start_lsn = lsn;
        err = write_header(w->fd, &h);
    } else if (err == 0) {
        err = ESTALE; /* another process's checkpoint meanwhile: leave it */
    }
    unlock_byte(w->fd, LK_HEADER);
    if (err != 0)
        return 0;
    pthread_mutex_lock(&w->mu);
    w->hdr = h;
    w->tail = w->start = DATA_START;
    pthread_mutex_unlock(&w->mu);
    return 1;
}

int kvs_wal_make_room(struct kvs_wal *w)
{
    if (!w->logging || w->pin == NULL)
        return 0;
    int made = 0;
    MDB_envinfo info;
    if (mdb_env_info(w->env, &info) == 0 && mdb_txn_id(w->pin) < info.me_last_txnid)
        made = checkpoint(w, 0) == 0; /* else LMDB reuses all it may already */
    return rewind_ring(w) || made;
}

/* Start the writeback of the data file's dirty pages, without waiting for it. The kernel
 * would hold them until a checkpoint's fdatasync (its background writeback begins at 10 % of
 * the memory, or after 30 s), which then queues them all at once, and every log flush of the
 * writes coming meanwhile would queue behind: a pause of tens of milliseconds per checkpoint.
 * A little at a time, the log's small writes go between (as LMDB's synced commits did). */
static void trickle(struct kvs_wal *w)
{
    mdb_filehandle_t fd;
    if (mdb_env_get_fd(w->env, &fd) == 0 &&
        sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE) != 0 && errno != EINTR)
        kvs_log_debug("lmdb: sync_file_range: %s", strerror(errno));
}

static void *ckpt_main(void *arg)
{
    struct kvs_wal *w = arg;
    /* Background work: the request threads and the writer come first when the CPUs are busy
     * (reads must not wait for a checkpoint's kernel work). Nothing waits for this thread but
     * a writer whose log is full, which then checkpoints by itself. */
    if (setpriority(PRIO_PROCESS, (id_t)gettid(), CKPT_NICE) != 0)
        kvs_log_debug("lmdb: checkpoint thread priority: %s", strerror(errno));
    pthread_mutex_lock(&w->mu);
    while (!w->stop) {
        struct timespec ts = kvs_mono_timespec(kvs_mono_ns() + (uint64_t)POLL_MS * 1000000u);
        pthread_cond_timedwait(&w->cv, &w->mu, &ts);
        if (w->stop)
            break;
        uint64_t live = live_bytes(w);
        int due = !w->ckpt_failed && !w->failed &&
                  (live >= ckpt_bytes(w) || (live > 0 && kvs_mono_ms() - w->last_ckpt_ms >= w->ckpt_ms));
        int fill = w->filled < w->hdr.size && w->tail + FILL_AHEAD > w->filled &&
                   kvs_mono_ms() >= w->fill_retry_ms;
        pthread_mutex_unlock(&w->mu);
        if (fill)
            fill_ahead(w);
        if (due)
            (void)checkpoint(w, 0); /* a failure is logged; the records stay */
        else if (live > 0)
            trickle(w);
        pthread_mutex_lock(&w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* ==== starting and stopping ======================================================================= */

int kvs_wal_start(struct kvs_wal *w)
{
    int rc = 0;
    if (w->owner) {
        pthread_mutex_lock(&w->mu);
        w->tail = w->start = w->chain_end;
        w->next_lsn = w->chain_lsn;
        /* how far the file has blocks: zeros were written from the front, records after them */
        off_t hole = lseek(w->fd, (off_t)DATA_START, SEEK_HOLE);
        w->filled = hole < 0 ? DATA_START : (uint64_t)hole;
        if (w->filled < w->tail)
            w->filled = w->tail;
        pthread_mutex_unlock(&w->mu);
        w->logging = 1; /* from here on capture() takes the tail as the checkpoint's start */
    }
    if (w->owner || w->alone)
        rc = checkpoint(w, 0);
    if (rc == 0 && (w->owner || w->alone)) {
        /* Free the reader slots of processes that died holding a read. Only now: a dead
         * owner's pin kept its checkpoint's pages, and the checkpoint above covers them. A
         * shared process that is not alone leaves that to the owner or the next one alone. */
        int stale = 0;
        int err = mdb_reader_check(w->env, &stale);
        if (err != 0)
            kvs_log_warn("lmdb: reader check: %s", mdb_strerror(err));
        else if (stale > 0)
            kvs_log_warn("lmdb: cleared %d stale readers", stale);
    }
    if (rc == 0 && w->owner) {
        rc = mdb_env_set_flags(w->env, MDB_NOSYNC, 1) == 0 ? 0 : KVS_EIO;
        if (rc == 0 && pthread_create(&w->thread, NULL, ckpt_main, w) != 0)
            rc = KVS_EIO;
        if (rc == 0)
            w->thread_started = 1;
    }
    if (rc != 0) {
        w->logging = 0;
        (void)mdb_env_set_flags(w->env, MDB_NOSYNC, 0);
    }
    if (w->alone) /* others may come now: one of several users */
        (void)lock_byte(w->fd, LK_USERS, F_RDLCK, 0); /* a conversion: cannot conflict */
    if (w->gate) {
        unlock_byte(w->fd, LK_GATE);
        w->gate = 0;
    }
    return rc;
}

int kvs_wal_owner(const struct kvs_wal *w)
{
    return w != NULL && w->logging;
}

void kvs_wal_close(struct kvs_wal *w)
{
    if (w == NULL)
        return;
    if (w->thread_started) {
        pthread_mutex_lock(&w->mu);
        w->stop = 1;
        pthread_cond_signal(&w->cv);
        pthread_mutex_unlock(&w->mu);
        pthread_join(w->thread, NULL);
        w->thread_started = 0;
    }
    if (w->logging && !w->failed && !w->ckpt_failed)
        (void)checkpoint(w, 0); /* the next open then has nothing to replay */
    if (w->pin != NULL)
        mdb_txn_abort(w->pin);
    w->pin = NULL;
    if (w->data_fd >= 0)
        close(w->data_fd);
    if (w->fd >= 0)
        close(w->fd); /* and with it every lock of ours */
    free(w->rows.p);
    pthread_cond_destroy(&w->fill_cv);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->ckpt_mu);
    pthread_mutex_destroy(&w->mu);
    free(w->data_path);
    free(w->log_path);
    free(w->dir);
    free(w);
}

/* ==== writes ====================================================================================== */

int kvs_wal_txn_begin(struct kvs_wal *w)
{
    if (w->logging) {
        w->rows.n = REC_HDR;
        w->rows.count = 0;
        w->rows.pend_src = NULL;
        if (w->rows.cap < REC_HDR) {
            w->rows.cap = 64u << 10;
            w->rows.p = kvs_xrealloc(w->rows.p, w->rows.cap);
        }
        return 0;
    }
    int err = lock_byte(w->fd, LK_HEADER, F_WRLCK, 1);
    if (err != 0)
        return wal_err(w, err, "lock");
    w->in_txn_header = 1;
    return 0;
}

void kvs_wal_txn_abort(struct kvs_wal *w)
{
    if (w->in_txn_header) {
        unlock_byte(w->fd, LK_HEADER);
        w->in_txn_header = 0;
    }
}

static void rows_reserve(struct rows *r, size_t more)
{
    if (r->n + more <= r->cap)
        return;
    size_t cap = r->cap * 2;
    if (cap < r->n + more)
        cap = r->n + more;
    r->p = kvs_xrealloc(r->p, cap);
    r->cap = cap;
}

void kvs_wal_settle(struct kvs_wal *w)
{
    struct rows *r = &w->rows;
    if (r->pend_src != NULL) {
        memcpy(r->p + r->pend_off, r->pend_src, r->pend_len);
        r->pend_src = NULL;
    }
}

void kvs_wal_note(struct kvs_wal *w, unsigned dbi, MDB_val k, const MDB_val *v, int reserved)
{
    struct rows *r = &w->rows;
    size_t vn = v ? v->mv_size : 0;
    rows_reserve(r, ROW_HDR + k.mv_size + vn + REC_HDR); /* + REC_HDR: room for the padding */
    unsigned char *p = r->p + r->n;
    p[0] = (unsigned char)dbi;
    p[1] = v ? ROW_PUT : ROW_DEL;
    p[2] = (unsigned char)k.mv_size;
    p[3] = (unsigned char)(k.mv_size >> 8);
    put32(p + 4, (uint32_t)vn);
    memcpy(p + ROW_HDR, k.mv_data, k.mv_size);
    if (vn > 0 && reserved) {
        r->pend_off = r->n + ROW_HDR + k.mv_size;
        r->pend_len = vn;
        r->pend_src = v->mv_data;
    } else if (vn > 0) {
        memcpy(p + ROW_HDR + k.mv_size, v->mv_data, vn);
    }
    r->n += ROW_HDR + k.mv_size + vn;
    r->count++;
}

/* Where a record of LEN bytes goes in the ring, and whether a wrap record goes at the tail
 * first (*WRAP). Returns the offset, or 0 when the live records leave no room. W->mu held. */
static uint64_t place(const struct kvs_wal *w, uint64_t len, int *wrap)
{
    *wrap = 0;
    if (w->tail >= w->start) { /* live: [start, tail) */
        if (w->tail + len <= w->hdr.size)
            return w->tail;
        if (DATA_START + len < w->start) {
            *wrap = w->tail < w->hdr.size; /* else the file's end is the wrap */
            return DATA_START;
        }
        return 0;
    }
    return w->tail + len < w->start ? w->tail : 0; /* live: [start, end) and [DATA_START, tail) */
}

/* Finish the header of the record at P (LEN bytes) as number LSN and checksum it. */
static void seal(const struct kvs_wal *w, unsigned char *p, uint32_t len, uint64_t lsn,
                 uint64_t txnid, unsigned type, uint32_t count)
{
    memset(p, 0, REC_HDR);
    put32(p + 4, len);
    put64(p + 8, lsn);
    put64(p + 16, txnid);
    p[24] = (unsigned char)type;
    put32(p + 28, count);
    put32(p, rec_crc(w->hdr.salt, p, len));
}

/* Append the record P (LEN bytes, sealed here as the next number) and flush it. Returns 0, an
 * errno value, or KVS_WAL_AGAIN (no room). */
static int append(struct kvs_wal *w, unsigned char *p, uint32_t len, uint64_t txnid,
                  unsigned type, uint32_t count)
{
    pthread_mutex_lock(&w->mu);
    if (w->failed) {
        pthread_mutex_unlock(&w->mu);
        return EIO;
    }
    int wrap;
    uint64_t off = place(w, len, &wrap);
    if (off == 0) {
        pthread_mutex_unlock(&w->mu);
        return KVS_WAL_AGAIN;
    }
    /* never into zeros being written */
    while (w->fill_hi > w->fill_lo && off < w->fill_hi && off + len > w->fill_lo)
        pthread_cond_wait(&w->fill_cv, &w->mu);
    uint64_t lsn = w->next_lsn, wrap_at = w->tail;
    w->writing_end = off + len; /* fill_ahead() starts after it */
    pthread_mutex_unlock(&w->mu);

    unsigned char wr[REC_HDR];
    int err = 0;
    if (wrap) {
        seal(w, wr, REC_HDR, lsn++, txnid, REC_WRAP, 0);
        err = pwrite_full(w->fd, wr, REC_HDR, wrap_at);
    }
    if (err == 0) {
        seal(w, p, len, lsn, txnid, type, count);
        err = pwrite_full(w->fd, p, len, off);
    }
    if (err == 0)
        err = sync_fd(w->fd);
    pthread_mutex_lock(&w->mu);
    w->writing_end = 0;
    if (err != 0) {
        /* A failed flush may have lost earlier writes of the page cache too: the log cannot
         * be trusted with another commit. A failed write leaves the tail where it was. */
        if (err != ENOSPC && err != EDQUOT)
            w->failed = 1;
        pthread_mutex_unlock(&w->mu);
        return err;
    }
    w->tail = off + len;
    w->next_lsn = lsn + 1;
    if (w->filled < w->tail)
        w->filled = w->tail;
    int wake = live_bytes(w) >= ckpt_bytes(w) || w->tail + FILL_AHEAD / 2 > w->filled;
    pthread_mutex_unlock(&w->mu);
    if (wake)
        pthread_cond_signal(&w->cv);
    return 0;
}

static int shared_commit(struct kvs_wal *w, MDB_txn *txn)
{
    int rc = mdb_txn_commit(txn); /* synced: durable when it returns */
    if (rc == 0)
        rc = checkpoint(w, 1) == 0 ? 0 : EIO;
    kvs_wal_txn_abort(w); /* LK_HEADER goes */
    return rc;
}

int kvs_wal_commit(struct kvs_wal *w, MDB_txn *txn)
{
    if (!w->logging)
        return shared_commit(w, txn);
    kvs_wal_settle(w);
    struct rows *r = &w->rows;
    uint64_t txnid = mdb_txn_id(txn);
    size_t len = (r->n + REC_HDR - 1) / REC_HDR * REC_HDR;
    if (len > (w->hdr.size - DATA_START) / 2 - REC_HDR) {
        mdb_txn_abort(txn);
        kvs_log_error("lmdb: a transaction of %zu bytes does not fit the write-ahead log", len);
        return EFBIG;
    }
    memset(r->p + r->n, 0, len - r->n);
    int rc = append(w, r->p, (uint32_t)len, txnid, REC_ROWS, r->count);
    if (r->cap > (4u << 20)) { /* a large batch: give the memory back */
        free(r->p);
        r->p = NULL;
        r->cap = 0;
    }
    if (rc == KVS_WAL_AGAIN) {
        mdb_txn_abort(txn);
        rc = checkpoint(w, 0);
        return rc == 0 ? KVS_WAL_AGAIN : EIO;
    }
    if (rc != 0) {
        mdb_txn_abort(txn);
        kvs_log_error("lmdb: %s: append: %s", w->log_path, strerror(rc));
        return rc;
    }
    rc = mdb_txn_commit(txn); /* MDB_NOSYNC: the record above is what makes it durable */
    if (rc != 0) {
        unsigned char ab[REC_HDR];
        int err = append(w, ab, REC_HDR, txnid, REC_ABORT, 0);
        if (err != 0) {
            pthread_mutex_lock(&w->mu);
            w->failed = 1; /* a record of a failed commit could be replayed */
            pthread_mutex_unlock(&w->mu);
            kvs_log_error("lmdb: %s: cannot record an aborted commit: %s; no more writes",
                          w->log_path, err == KVS_WAL_AGAIN ? "no room" : strerror(err));
        }
    }
    return rc;
}

uint64_t kvs_wal_disk_bytes(const char *dir)
{
    char path[4096];
    struct stat sb;
    snprintf(path, sizeof path, "%s/wal.log", dir);
    return stat(path, &sb) == 0 ? (uint64_t)sb.st_blocks * 512 : 0;
}

/* ==== kvs restore ================================================================================= */

int kvs_wal_claim(const char *dir, int *fd)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/wal.log", dir);
    *fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (*fd < 0) {
        kvs_log_error("lmdb: %s: %s", path, strerror(errno));
        return KVS_EIO;
    }
    int err = lock_byte(*fd, LK_GATE, F_WRLCK, 0);
    if (err == 0)
        err = lock_byte(*fd, LK_USERS, F_WRLCK, 0);
    if (err != 0) {
        close(*fd);
        *fd = -1;
        if (err == EAGAIN || err == EACCES)
            return KVS_EUNAVAIL;
        kvs_log_error("lmdb: %s: lock: %s", path, strerror(err));
        return KVS_EIO;
    }
    return 0;
}

int kvs_wal_reset(int fd, const char *dir)
{
    struct header h;
    struct header old;
    int blank, err = read_header(fd, &old, NULL, &blank);
    err = init_log(fd, dir, err == 0 ? old.size : LOG_SIZE, &h);
    if (err != 0) {
        kvs_log_error("lmdb: %s/wal.log: reset: %s", dir, strerror(err));
        return err == ENOSPC || err == EDQUOT ? KVS_ENOSPACE : KVS_EIO;
    }
    return 0;
}

void kvs_wal_release(int fd)
{
    if (fd >= 0)
        close(fd);
}
