/* runs.h — Actor runs in the API (api/runs.c):
 *   GET  /v2/actor-runs                       the caller's runs (offset, limit, desc, status)
 *   POST /v2/actor-runs                       kvstore's own: start a run and its default store
 *   GET, PUT, DELETE /v2/actor-runs/{run}     the run (GET: waitForFinish=SECS, up to 60)
 *   POST /v2/actor-runs/{run}/abort           ask its runner to stop it
 *   POST /v2/actor-runs/{run}/finish          kvstore's own: the runner ends it
 *   GET  /v2/acts/{actor}/runs                an Actor's runs (also /v2/actors/...)
 *   GET  /v2/acts/{actor}/runs/last           its last run (status=, origin=)
 *   .../key-value-store[/keys|/records|/records/{key}] of a run or of an Actor's last run: the
 *        store's own routes, with the store's own rights (api/common.c resolves them here)
 *   any other path of the platform's API an Actor may call: 501 not-implemented.
 *
 * Who may do what: a run has the rights of its default store (auth/access.h). Whoever may read
 * the store may read the run and reach the store through the run's paths (so a user the store
 * is shared with may, and anyone when its general access lets anyone read by ID); changing the
 * run (status message, abort, finish, delete) takes the store's owner (or the admin). Listings
 * and an Actor's runs are the owner's only. */
#ifndef KVS_API_RUNS_H
#define KVS_API_RUNS_H

#include <jansson.h>

#include "server/http.h"

/* Find the run R's path names into R->run (allocated when missing): the run {run} of a
 * /v2/actor-runs path (R->via KVS_VIA_RUN), or the last run of Actor {actor} (KVS_VIA_LAST_RUN,
 * narrowed by ?status= and ?origin=; the Actor's owner's only). R->rd must be begun. Returns 0,
 * KVS_ENOTFOUND, KVS_ENOTOKEN, KVS_EBADPARAM (a bad status or origin), KVS_EIO, KVS_EUNAVAIL. */
int kvs_api_find_run(struct kvs_req *r);

/* The ID of the Actor named NAME of user USER_ID (17 alphanumerics and a NUL into OUT): a hash of
 * both, so that every node finds the same without a table of Actors (storage/run.h). */
void kvs_api_actor_id(const char *user_id, const char *name, char out[KVS_ID_LEN + 1]);

/* Add to the store object O of store S what says whether S is a run's default store: actRunId
 * and actId (null when it is none). One lookup. */
void kvs_api_store_run_fields(struct kvs_req *r, const struct kvs_store *s, json_t *o);

/* Whether store S may not be deleted now because it is the default store of a run that has not
 * finished: 0 (it may), or KVS_EUNFINISHED / a storage error, replied already. */
int kvs_api_store_delete_refused(struct kvs_req *r, const struct kvs_store *s);

/* Handlers (one per route). */
void kvs_api_runs_list(struct kvs_req *r);
void kvs_api_runs_create(struct kvs_req *r);
void kvs_api_runs_create_done(struct kvs_req *r);
void kvs_api_run_get(struct kvs_req *r);
void kvs_api_run_get_resumed(struct kvs_req *r);
void kvs_api_actor_last_run(struct kvs_req *r);
void kvs_api_run_update(struct kvs_req *r);
void kvs_api_run_delete(struct kvs_req *r);
void kvs_api_run_delete_done(struct kvs_req *r);
void kvs_api_run_abort(struct kvs_req *r);
void kvs_api_run_finish(struct kvs_req *r);
void kvs_api_run_write_done(struct kvs_req *r);
void kvs_api_actor_runs_list(struct kvs_req *r);
void kvs_api_actor_runs_start(struct kvs_req *r);
void kvs_api_unsupported(struct kvs_req *r);

#endif
