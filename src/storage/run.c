/* run.c — what is the same for runs in every back-end (storage/run.h): the rules of a run's
 * status, the checks of a new run's fields, and the dispatch of the reads of runs. */
#include "storage/run.h"

#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "kvs.h"
#include "storage/backend.h"

void kvs_run_clear(struct kvs_run *r)
{
    if (r == NULL)
        return;
    free(r->status_message);
    memset(r, 0, sizeof *r);
}

void kvs_run_copy(struct kvs_run *dst, const struct kvs_run *src)
{
    if (dst == src)
        return;
    kvs_run_clear(dst);
    *dst = *src;
    dst->status_message = src->status_message ? kvs_xstrdup(src->status_message) : NULL;
}

/* Whether the char array FIELD holds a string that ends within it. */
#define FITS(field) (strnlen((field), sizeof(field)) < sizeof(field))

int kvs_run_fields_ok(const struct kvs_run *r)
{
    if (!FITS(r->user_id) || !FITS(r->act_id) || !FITS(r->actor) || !FITS(r->origin))
        return 0;
    if (!kvs_valid_id(kvs_slice_of(r->user_id)) || !kvs_valid_id(kvs_slice_of(r->act_id)) ||
        !kvs_valid_store_name(kvs_slice_of(r->actor)))
        return 0;
    /* origin: the platform's names, upper case letters and '_' ("CLI", "API", "DEVELOPMENT") */
    size_t n = strlen(r->origin);
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((r->origin[i] >= 'A' && r->origin[i] <= 'Z') || r->origin[i] == '_'))
            return 0;
    return 1;
}

int kvs_run_apply(struct kvs_run *cur, unsigned mask, const struct kvs_run *req, int64_t now)
{
    const unsigned known = KVS_RUN_UPD_MESSAGE | KVS_RUN_UPD_FINISH | KVS_RUN_UPD_ABORT;
    if (mask == 0 || (mask & ~known) ||
        (mask & (KVS_RUN_UPD_FINISH | KVS_RUN_UPD_ABORT)) ==
            (KVS_RUN_UPD_FINISH | KVS_RUN_UPD_ABORT))
        return KVS_EINVAL;
    if ((mask & KVS_RUN_UPD_MESSAGE) && req->status_message != NULL &&
        strnlen(req->status_message, KVS_RUN_MESSAGE_MAX + 1) > KVS_RUN_MESSAGE_MAX)
        return KVS_EINVAL;
    if ((mask & KVS_RUN_UPD_FINISH) && !KVS_RUN_FINISHED(req->status))
        return KVS_EINVAL;
    if ((mask & KVS_RUN_UPD_FINISH) && KVS_RUN_FINISHED(cur->status))
        return KVS_EFINISHED;
    /* Checked: from here on nothing fails. */
    if (mask & KVS_RUN_UPD_MESSAGE) {
        free(cur->status_message);
        cur->status_message = req->status_message ? kvs_xstrdup(req->status_message) : NULL;
        cur->message_terminal = req->message_terminal != 0;
    }
    if (mask & KVS_RUN_UPD_FINISH) {
        /* An abort asked for wins over how the runner says it ended; so does a timeout. */
        if (cur->status == KVS_RUN_ABORTING)
            cur->status = KVS_RUN_ABORTED;
        else if (cur->status == KVS_RUN_TIMING_OUT)
            cur->status = KVS_RUN_TIMED_OUT;
        else
            cur->status = req->status;
        cur->has_exit_code = req->has_exit_code != 0;
        cur->exit_code = req->has_exit_code ? req->exit_code : 0;
        cur->finished_ms = now;
    }
    if ((mask & KVS_RUN_UPD_ABORT) && !KVS_RUN_FINISHED(cur->status)) {
        if (cur->status == KVS_RUN_ABORTING) { /* asked twice: nobody ended it, so we do */
            cur->status = KVS_RUN_ABORTED;
            cur->finished_ms = now;
        } else {
            cur->status = KVS_RUN_ABORTING;
        }
    }
    return 0;
}

/* ---- reads: dispatch to the back-end (backend.h) -------------------------------------------- */

int kvs_storage_run_get(struct kvs_read *rd, kvs_slice id, struct kvs_run *out)
{
    memset(out, 0, sizeof *out);
    return rd->st->ops->run_get(rd, id, out);
}

int kvs_storage_run_by_store(struct kvs_read *rd, kvs_slice store_id, struct kvs_run *out)
{
    memset(out, 0, sizeof *out);
    return rd->st->ops->run_by_store(rd, store_id, out);
}

int kvs_storage_run_list(struct kvs_read *rd, unsigned by, kvs_slice owner, unsigned statuses,
                         uint64_t offset, uint64_t limit, int desc, kvs_run_cb cb, void *arg,
                         uint64_t *total)
{
    *total = 0;
    if (by != KVS_RUNS_OF_USER && by != KVS_RUNS_OF_ACTOR)
        return KVS_EINVAL;
    return rd->st->ops->run_list(rd, by, owner, statuses, offset, limit, desc, cb, arg, total);
}
