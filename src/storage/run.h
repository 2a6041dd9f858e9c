/* run.h — Actor runs in the storage: what a run is, how its status may change, and the reads of
 * runs. Part of the storage interface (storage.h includes it; the writes are KVS_W_RUN_CREATE and
 * KVS_W_RUN_UPDATE there).
 *
 * A run is one execution of an Actor (a program that reads its input from, and writes its
 * output to, a key-value store) made by `kvs run` or any client of POST /v2/actor-runs. Every
 * run has exactly one default store, an unnamed store made with it in the same write: the run
 * exists exactly as long as that store does. Deleting the store in any way (DELETE of the store,
 * DELETE of the run, retention of unnamed stores, a user's deletion) deletes the run in the same
 * transaction; there is no other way to delete a run, so no run ever names a missing store.
 *
 * Actors are not stored: an Actor is a name that groups one user's runs, and its ID (act_id) is
 * a function of the user and the name (api/runs.c), so that every back-end and every node
 * agrees on it without a table of Actors.
 *
 * Status (the platform's run lifecycle):
 *
 *   READY, RUNNING ──finish(S)──► S (SUCCEEDED, FAILED, TIMED-OUT or ABORTED), finishedAt set
 *        │
 *        └──abort──► ABORTING ──finish(any)──► ABORTED
 *                        └─────abort again───► ABORTED (the runner is gone: nobody else ends it)
 *
 * A finished run (status SUCCEEDED, FAILED, TIMED-OUT, ABORTED) never changes status again: a
 * second finish is KVS_EFINISHED, an abort of it changes nothing. The status message may change
 * at any time. kvs_run_apply() is the one implementation of these rules; every back-end calls it
 * inside the write's transaction, on the run as the batch's earlier writes left it. */
#ifndef KVS_STORAGE_RUN_H
#define KVS_STORAGE_RUN_H

#include <stdint.h>

#include "common/slice.h"
#include "common/validate.h"

enum kvs_run_status {
    KVS_RUN_READY = 1,
    KVS_RUN_RUNNING = 2,
    KVS_RUN_TIMING_OUT = 3,
    KVS_RUN_ABORTING = 4,
    KVS_RUN_SUCCEEDED = 5, /* from here on: finished, for good */
    KVS_RUN_FAILED = 6,
    KVS_RUN_TIMED_OUT = 7,
    KVS_RUN_ABORTED = 8,
};

/* Whether status S is a finished one. */
#define KVS_RUN_FINISHED(s) ((s) >= KVS_RUN_SUCCEEDED && (s) <= KVS_RUN_ABORTED)

#define KVS_RUN_MESSAGE_MAX 2048 /* status message, bytes of UTF-8 */
#define KVS_RUN_ORIGIN_MAX 15    /* meta.origin: "CLI", "API", ... */

struct kvs_run {
    char id[KVS_ID_LEN + 1];
    char user_id[KVS_ID_LEN + 1];  /* who made it, and owns its store */
    char act_id[KVS_ID_LEN + 1];   /* the Actor's ID (see above) */
    char actor[KVS_NAME_MAX + 1];  /* the Actor's name (the store-name rule) */
    char store_id[KVS_ID_LEN + 1]; /* its default store */
    char origin[KVS_RUN_ORIGIN_MAX + 1];
    uint8_t status;           /* enum kvs_run_status */
    uint8_t message_terminal; /* isStatusMessageTerminal */
    uint8_t has_exit_code;
    int32_t exit_code;      /* when has_exit_code */
    uint32_t timeout_secs;  /* 0 = none */
    uint32_t memory_mbytes; /* what the runner had */
    int64_t started_ms;
    int64_t finished_ms;  /* 0 until finished */
    char *status_message; /* NULL when none; owned, released by kvs_run_clear() */
};

/* Release what R owns (its status message) and zero it. Accepts a zeroed struct and NULL. */
void kvs_run_clear(struct kvs_run *r);

/* Copy SRC into DST (which is cleared first), with a copy of its status message. */
void kvs_run_copy(struct kvs_run *dst, const struct kvs_run *src);

/* What a KVS_W_RUN_UPDATE changes (kvs_write.update_mask). */
#define KVS_RUN_UPD_MESSAGE 1u /* status_message (NULL clears it) and message_terminal */
#define KVS_RUN_UPD_FINISH 2u  /* status (a finished one) and the exit code (has_exit_code) */
#define KVS_RUN_UPD_ABORT 4u   /* abort (see above) */

/* Apply update MASK with the values in REQ to run CUR at NOW (ms), by the rules above: the
 * message first, then the finish or the abort. Returns 0 (CUR updated), KVS_EINVAL (a finish to
 * a status that is not a finished one, a message too long, an unknown bit, or finish and abort
 * together), or KVS_EFINISHED (a finish of a finished run); on an error CUR is unchanged. */
int kvs_run_apply(struct kvs_run *cur, unsigned mask, const struct kvs_run *req, int64_t now);

/* Whether the fields of a new run that its creator sets (act_id, actor, origin, user_id) are
 * well-formed, as every back-end checks them. */
int kvs_run_fields_ok(const struct kvs_run *r);

/* ---- reads (storage.h's rules of reads apply) ----------------------------------------------- */

struct kvs_read;

/* Find run ID. The caller releases OUT with kvs_run_clear() (also after an error).
 * Returns 0, KVS_ENOTFOUND, KVS_EIO, KVS_EUNAVAIL. */
int kvs_storage_run_get(struct kvs_read *rd, kvs_slice id, struct kvs_run *out)
    __attribute__((warn_unused_result));

/* Find the run whose default store is STORE_ID. As kvs_storage_run_get(). */
int kvs_storage_run_by_store(struct kvs_read *rd, kvs_slice store_id, struct kvs_run *out)
    __attribute__((warn_unused_result));

/* Called once per run listed; the run is valid only during the call. Return 0 to go on, anything
 * else to stop (the listing then returns 0, with *TOTAL still counting every match). */
typedef int (*kvs_run_cb)(void *arg, const struct kvs_run *r);

#define KVS_RUNS_OF_USER 0  /* OWNER is a user ID */
#define KVS_RUNS_OF_ACTOR 1 /* OWNER is an act_id */

/* List the runs of user or Actor OWNER (BY: KVS_RUNS_OF_*) whose status is in STATUSES (a mask of
 * 1u << status; 0 = every status), ordered by start (then ID), oldest first or, with DESC, newest
 * first. Skips OFFSET runs, calls CB for at most LIMIT, sets *TOTAL to the number of all matching
 * runs. Returns 0, KVS_EIO, KVS_EUNAVAIL. Cost: O(runs of OWNER); only the page's runs are read
 * whole. */
int kvs_storage_run_list(struct kvs_read *rd, unsigned by, kvs_slice owner, unsigned statuses,
                         uint64_t offset, uint64_t limit, int desc, kvs_run_cb cb, void *arg,
                         uint64_t *total) __attribute__((warn_unused_result));

#endif
