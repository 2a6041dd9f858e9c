/* lmdb_wal.h — the write-ahead log of the LMDB back-end: one device flush per durable commit.
 *
 * ---- Why --------------------------------------------------------------------------------------
 *
 * A synced LMDB commit costs two flushes of the disk: fdatasync() of the transaction's pages,
 * then the meta page through an O_DSYNC descriptor; and its pages are scattered (tree root,
 * branches, LMDB's free list, leaves reused from the free list), each separate write adding to
 * the flush. The process that owns the log (the server) instead appends the row images of each
 * batch to DIR/wal.log with one pwrite, flushes that once (fdatasync of blocks the file already
 * has: one device flush, no journal commit), and only then commits to LMDB with MDB_NOSYNC
 * (pages into the page cache, no flush). Readers see a write only after its log record is
 * durable. From time to time a checkpoint makes the B-tree durable and lets the log's space be
 * used again. Measured in bench/wal_model.c's model of the two (see the README, Benchmarks).
 *
 * ---- Why it survives power loss ----------------------------------------------------------------
 *
 * MDB_NOSYNC alone does not: the page cache may write the new meta page before the pages it
 * points to, and once no reader holds them, LMDB reuses the pages of the last synced snapshot.
 * So:
 *   - A checkpoint takes LMDB's write lock for a moment to capture the last commit S: a read
 *     transaction begun then is a "pin" on snapshot S, and S's meta page is copied (the
 *     PAGEHDRSZ + sizeof(MDB_meta) = 152 bytes of LMDB 0.9's layout, checked by its magic and
 *     transaction number). Then fdatasync of the data file makes S's pages durable, and only
 *     then does the log's header name S as the checkpoint, with its meta page and where the log
 *     records after S begin; then the pin of the checkpoint before is released.
 *   - LMDB reuses a page only when every reader's snapshot is newer than the transaction that
 *     freed it (mdb_find_oldest, mdb_page_alloc). A pin on S therefore keeps every page of S
 *     (and of any later snapshot) where it is, whatever this or any other process commits,
 *     until the next checkpoint is durable. So S's tree is always intact on the disk.
 *   - Recovery (the first process to open a directory whose log holds records after its
 *     checkpoint) writes the saved meta page into both meta pages of data.mdb, syncs, opens the
 *     environment — which is now snapshot S — and applies the records in order: each is the
 *     full list of rows a transaction put or deleted, so applying one twice changes nothing.
 *     After a kill -9 the page cache held everything already; recovery runs the same way, so
 *     every crash test exercises it.
 *
 * ---- The log file (DIR/wal.log) -------------------------------------------------------------------
 *
 * A fixed size (64 MiB unless configured otherwise, sparse when made), zero-filled ahead of use by the
 * background thread (so appends overwrite allocated blocks: one flush, no journal commit), used
 * as a ring after two header slots of 4 KiB each. Integers little-endian.
 *   header slot (at 0 and at 4096; the valid one with the higher seq counts; a slot is written
 *   whole and flushed, the other one stays valid meanwhile):
 *     "KVSWAL\0\1", u32 CRC-32C of the rest of the 256 bytes, u32 format (1), u64 seq, u64 salt,
 *     u64 log size, u64 checkpoint (S's transaction number; 0 = none: data.mdb as it is holds
 *     everything), u64 start (offset of the first record after S), u64 start_lsn, u64 zero,
 *     u32 page size, u32 meta length, meta bytes (152)
 *   the log's mark in data.mdb: "KVSWALID" and the salt at byte 3072 of meta page 0, bytes
 *     LMDB 0.9 writes only when it makes the file; a checkpoint puts it there, a recovery
 *     checks it, so a log never replays into another data file, one copied over it by hand
 *   record (at 32-byte boundaries): u32 CRC-32C (of the salt, then of the record after
 *     this field), u32 length (whole record, padded to 32), u64 lsn, u64 txnid, u8 type (1 rows,
 *     2 abort, 3 wrap), 3 zero bytes, u32 rows; then each row: u8 table (enum dbi), u8 op
 *     (1 put, 2 delete), u16 key length, u32 value length, key, value.
 * Records follow each other with lsn + 1 each; a wrap record (or an end of file too close for
 * one) sends the next record to the first byte after the header slots. The chain from start
 * ends at the first record whose CRC or lsn does not match: a torn tail, zeros, or bytes of an
 * earlier cycle (whose lsn is smaller). The salt (random, per log) makes a record's CRC
 * unforgeable by values a client stored, which are inside records.
 * A transaction's record is appended inside the transaction, before mdb_txn_commit. If the
 * commit fails, an abort record follows; in either case LMDB gives the same number to the next
 * transaction, so on replay a record is dropped when a later record or abort has a number not
 * above its own.
 *
 * ---- Processes ----------------------------------------------------------------------------------
 *
 * Any number of processes may open the directory (the server, `kvs ... --data` commands, kvs
 * backup). OFD locks on bytes of wal.log (they never conflict with LMDB's fcntl locks on
 * lock.mdb, and an OFD lock is the open file's, not the process's):
 *   GATE   exclusive while a process opens (and maybe recovers) the directory
 *   USERS  shared while a process has it open; exclusive = alone (recovery is safe)
 *   OWNER  exclusive for the process that appends to the log (at most one: the first that asks)
 *   HEADER exclusive while a header slot is written, and around a shared process's commit
 * The owner commits as above. Every other process ("shared") commits synced, as LMDB does by
 * default, and then makes its commit a checkpoint itself, all under HEADER: so its commit is in
 * the checkpoint a recovery starts from (it is in no record), and shared commits come one at a
 * time, each starting from a checkpoint of the one before (which LMDB's own rule then keeps
 * intact). Lock order: HEADER, then LMDB's write lock; the owner never waits for HEADER while
 * it holds LMDB's write lock. `kvs restore` takes GATE and USERS and resets the log
 * (kvs_wal_claim, kvs_wal_reset) before the new data.mdb is renamed in.
 * Not covered: a program that does not know the log (an older kvs, mdb_load) writing to
 * data.mdb after a crash that left records in the log; a clean stop first is needed.
 */
#ifndef KVS_STORAGE_LMDB_WAL_H
#define KVS_STORAGE_LMDB_WAL_H

#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/storage.h" /* KVS_MUST_CHECK */

struct kvs_wal;

/* Callback of kvs_wal_replay: apply one row to table DBI (enum dbi of lmdb_internal.h) within
 * TXN: V is the value of a put, NULL for a delete. Returns 0 or an LMDB code. */
typedef int (*kvs_wal_row_fn)(void *arg, MDB_txn *txn, unsigned dbi, MDB_val k, const MDB_val *v);

/* ---- opening and closing (each step in this order) ---- */

/* Step 1, before the environment of CFG->dir is opened: open (or make) its wal.log, wait for
 * GATE, and find out whether this process is alone. If it is and the log holds records after
 * its checkpoint, put the checkpoint's meta page back into data.mdb (kvs_wal_needs_replay() is
 * then 1). Unless CFG->lmdb_shared, append to the log if no other process does (the server);
 * else every commit is synced and checkpointed (kvs commands). CFG->lmdb_wal_size and
 * lmdb_checkpoint_ms as storage.h says. Returns 0 (*OUT set), KVS_EIO (logged).
 * The gate stays held until kvs_wal_start() or kvs_wal_close(). */
KVS_MUST_CHECK int kvs_wal_open(const struct kvs_storage_config *cfg, struct kvs_wal **out);

/* Step 2: the environment is open (without MDB_NOSYNC). Pins the checkpoint's snapshot while
 * records are replayed. Returns 0 or KVS_EIO. */
KVS_MUST_CHECK int kvs_wal_attach(struct kvs_wal *w, MDB_env *env);

/* Whether step 1 restored a checkpoint whose records kvs_wal_replay() must apply. */
int kvs_wal_needs_replay(const struct kvs_wal *w);

/* Step 3 (when needed): apply the log's records after the checkpoint in one synced write
 * transaction, through FN(ARG, ...). Returns 0, KVS_EIO (logged). */
KVS_MUST_CHECK int kvs_wal_replay(struct kvs_wal *w, kvs_wal_row_fn fn, void *arg);

/* Step 4, once the schema is ready: checkpoint what the environment holds; the owner then
 * switches the environment to MDB_NOSYNC and starts the checkpoint thread. Releases the gate.
 * Returns 0 or KVS_EIO. */
KVS_MUST_CHECK int kvs_wal_start(struct kvs_wal *w);

/* Whether this process appends its commits to the log (the owner, once started). */
int kvs_wal_owner(const struct kvs_wal *w);

/* Stop: the owner checkpoints once more (so the next open replays nothing), releases its pin
 * and locks. Before mdb_env_close. Accepts NULL and any step reached. */
void kvs_wal_close(struct kvs_wal *w);

/* ---- writes (the writer thread) ---- */

/* A write transaction begins: a shared process takes HEADER first (see Processes), the owner
 * forgets the rows of any transaction before. Returns 0 or KVS_EIO. */
KVS_MUST_CHECK int kvs_wal_txn_begin(struct kvs_wal *w);

/* The write transaction ended without a commit (aborted). */
void kvs_wal_txn_abort(struct kvs_wal *w);

/* Owner only, from the helpers of lmdb_internal.h. Before any change: kvs_wal_settle() copies
 * the value of the last reserved put (MDB_RESERVE: the caller writes it after the put, and it
 * stays where it is only until the next change). After a change that happened: kvs_wal_note()
 * records a put of (K, *V) in table DBI, or a delete of K when V is NULL; with RESERVED, V
 * points to where the caller is about to write the value. */
void kvs_wal_settle(struct kvs_wal *w);
void kvs_wal_note(struct kvs_wal *w, unsigned dbi, MDB_val k, const MDB_val *v, int reserved);

/* Commit TXN (which ends). Owner: append the transaction's record and flush it, then
 * mdb_txn_commit without a sync. Shared: a synced commit, then a checkpoint, then HEADER is
 * released. Returns 0, an LMDB or errno code, or KVS_WAL_AGAIN (owner: the log had no room;
 * TXN was aborted and a checkpoint made: apply the transaction's writes again). */
#define KVS_WAL_AGAIN 0x7761 /* no LMDB or errno code */
KVS_MUST_CHECK int kvs_wal_commit(struct kvs_wal *w, MDB_txn *txn);

/* A write failed for want of room (a full map or disk). While the pin holds an older snapshot
 * than the last commit, LMDB cannot reuse the pages freed since: make a checkpoint, which
 * moves it. Returns 1 when it did (the write may then succeed), else 0. */
int kvs_wal_make_room(struct kvs_wal *w);

/* Continue CRC (0 to begin) over the N bytes at P: CRC-32C (Castagnoli), the log's checksum;
 * as zlib's crc32() composes. */
uint32_t kvs_wal_crc(const void *p, size_t n, uint32_t crc);

/* The log's disk space (its allocated blocks). */
uint64_t kvs_wal_disk_bytes(const char *dir);

/* ---- kvs restore ---- */

/* Take DIR for a restore: GATE and USERS exclusively, without waiting. Returns 0 (*FD holds
 * the locks until kvs_wal_release), KVS_EUNAVAIL (in use) or KVS_EIO. */
KVS_MUST_CHECK int kvs_wal_claim(const char *dir, int *fd);
/* DIR's data.mdb is about to be replaced: the log forgets every record and checkpoint (new
 * salt), durably. Returns 0 or KVS_EIO / KVS_ENOSPACE. */
KVS_MUST_CHECK int kvs_wal_reset(int fd, const char *dir);
void kvs_wal_release(int fd);

#endif
