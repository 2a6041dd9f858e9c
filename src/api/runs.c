/* runs.c — Actor runs in the API: the routes listed in api/runs.h.
 *
 * The run object has the platform's shape (every field the official clients and the SDK read;
 * the Python client's model requires some, so they are always there):
 *   id, actId, userId, actorTaskId (null), startedAt, finishedAt, status, statusMessage,
 *   isStatusMessageTerminal, meta {origin}, stats {durationMillis, runTimeSecs, restartCount,
 *   resurrectCount, computeUnits}, options {build, timeoutSecs, memoryMbytes, diskMbytes},
 *   buildId, buildNumber, exitCode, defaultKeyValueStoreId, defaultDatasetId,
 *   defaultRequestQueueId, generalAccess (its store's), usageTotalUsd, consoleUrl,
 * and kvstore's own actorName. There are no datasets, request queues or builds here: their IDs
 * are made from the run's (or the Actor's) and every path that would use them answers 501, so
 * that a client that follows one learns why instead of meeting a 404. pricingInfo is absent: the
 * SDK then counts the run as free and charges nothing (charging.js). */
#include "api/runs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/runwait.h"
#include "auth/access.h"
#include "auth/scope.h"
#include "auth/token.h"
#include "common/alloc.h"
#include "common/clock.h"
#include "kvs.h"
#include "server/reply.h"

#define RUNS_LIMIT_MAX 1000
#define WAIT_MAX_SECS 60          /* waitForFinish, as the platform */
#define MEMORY_DEFAULT_MBYTES 1024 /* the platform's default for a run */
#define MEMORY_MIN_MBYTES 128
#define MEMORY_MAX_MBYTES 32768

#define RUN_NOT_FOUND "Actor run was not found."

/* ==== names and IDs ========================================================================== */

static const char *const STATUS_NAMES[] = {
    [KVS_RUN_READY] = "READY",         [KVS_RUN_RUNNING] = "RUNNING",
    [KVS_RUN_TIMING_OUT] = "TIMING-OUT", [KVS_RUN_ABORTING] = "ABORTING",
    [KVS_RUN_SUCCEEDED] = "SUCCEEDED", [KVS_RUN_FAILED] = "FAILED",
    [KVS_RUN_TIMED_OUT] = "TIMED-OUT", [KVS_RUN_ABORTED] = "ABORTED",
};

static const char *status_name(unsigned s)
{
    return s >= KVS_RUN_READY && s <= KVS_RUN_ABORTED ? STATUS_NAMES[s] : "READY";
}

/* The status named by the N bytes at P, or 0. */
static unsigned status_of(const char *p, size_t n)
{
    for (unsigned s = KVS_RUN_READY; s <= KVS_RUN_ABORTED; s++)
        if (strlen(STATUS_NAMES[s]) == n && memcmp(STATUS_NAMES[s], p, n) == 0)
            return s;
    return 0;
}

/* A 17-character ID made of a hash of KIND and the strings A and B (NUL-separated). */
static void derived_id(const char *kind, const char *a, const char *b, char out[KVS_ID_LEN + 1])
{
    static const char ALNUM[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    char buf[256];
    int n = snprintf(buf, sizeof buf, "kvs/%s%c%s%c%s", kind, 0, a, 0, b);
    uint8_t h[KVS_TOKEN_HASH_LEN];
    kvs_token_hash((kvs_slice){buf, n > 0 && (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1},
                   h);
    for (int i = 0; i < KVS_ID_LEN; i++)
        out[i] = ALNUM[h[i] % 62];
    out[KVS_ID_LEN] = '\0';
}

void kvs_api_actor_id(const char *user_id, const char *name, char out[KVS_ID_LEN + 1])
{
    derived_id("actor", user_id, name, out);
}

/* ==== the run object ========================================================================= */

static json_t *iso_or_null(int64_t ms)
{
    if (ms <= 0)
        return json_null();
    char when[KVS_ISO_LEN + 1];
    kvs_iso8601(ms, when);
    return json_string(when);
}

/* The run object of RUN, as R's caller sees it; GA is its store's general access (-1 to leave
 * it out: listings, which do not read every store). Returns a new reference. */
static json_t *run_json(struct kvs_req *r, const struct kvs_run *run, int ga)
{
    char base[512], url[700], id[KVS_ID_LEN + 1];
    kvs_api_public_base(r, base, sizeof base);
    int64_t end = run->finished_ms > 0 ? run->finished_ms : kvs_now_ms();
    int64_t millis = end > run->started_ms ? end - run->started_ms : 0;

    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(run->id));
    json_object_set_new(o, "actId", json_string(run->act_id));
    json_object_set_new(o, "actorName", json_string(run->actor));
    json_object_set_new(o, "userId", json_string(run->user_id));
    json_object_set_new(o, "actorTaskId", json_null());
    json_object_set_new(o, "startedAt", iso_or_null(run->started_ms));
    json_object_set_new(o, "finishedAt", iso_or_null(run->finished_ms));
    json_object_set_new(o, "status", json_string(status_name(run->status)));
    json_object_set_new(o, "statusMessage",
                        run->status_message ? json_string(run->status_message) : json_null());
    json_object_set_new(o, "isStatusMessageTerminal", json_boolean(run->message_terminal));
    json_object_set_new(o, "meta", json_pack("{s:s}", "origin", run->origin));
    json_object_set_new(o, "stats",
                        json_pack("{s:I,s:f,s:i,s:i,s:f}", "durationMillis", (json_int_t)millis,
                                  "runTimeSecs", (double)millis / 1000.0, "restartCount", 0,
                                  "resurrectCount", 0, "computeUnits", 0.0));
    json_object_set_new(o, "options",
                        json_pack("{s:s,s:I,s:I,s:i}", "build", "local", "timeoutSecs",
                                  (json_int_t)run->timeout_secs, "memoryMbytes",
                                  (json_int_t)run->memory_mbytes, "diskMbytes", 0));
    derived_id("build", run->act_id, "", id);
    json_object_set_new(o, "buildId", json_string(id));
    json_object_set_new(o, "buildNumber", json_string("0.0.0"));
    json_object_set_new(o, "exitCode",
                        run->has_exit_code ? json_integer(run->exit_code) : json_null());
    json_object_set_new(o, "defaultKeyValueStoreId", json_string(run->store_id));
    derived_id("dataset", run->id, "", id);
    json_object_set_new(o, "defaultDatasetId", json_string(id));
    derived_id("request-queue", run->id, "", id);
    json_object_set_new(o, "defaultRequestQueueId", json_string(id));
    if (ga >= 0)
        json_object_set_new(o, "generalAccess",
                            json_string(kvs_access_name((enum kvs_general_access)ga)));
    json_object_set_new(o, "usageTotalUsd", json_real(0));
    snprintf(url, sizeof url, "%s/console/runs/%s", base, run->id);
    json_object_set_new(o, "consoleUrl", json_string(url));
    return o;
}

/* ==== finding runs =========================================================================== */

/* The Actor of REF ("username~name", "~name", an act ID, or a bare name of the caller's) into
 * ACT_ID; *OWNER_ID gets its owner's user ID, or "" when REF is an act ID (the owner is then the
 * user of its runs). Only the owner (and the admin) may use an Actor's paths; for anyone else the
 * Actor does not exist (names are not probed). Returns 0, KVS_ENOTOKEN, KVS_ENOTFOUND, KVS_EIO. */
static int resolve_actor(struct kvs_req *r, char act_id[KVS_ID_LEN + 1],
                         char owner_id[KVS_ID_LEN + 1])
{
    if (!r->authenticated)
        return KVS_ENOTOKEN;
    kvs_slice ref = {r->store_ref, r->store_ref_len};
    owner_id[0] = '\0';
    const char *tilde = memchr(ref.p, '~', ref.n);
    if (tilde == NULL && kvs_valid_id(ref)) {
        memcpy(act_id, ref.p, KVS_ID_LEN);
        act_id[KVS_ID_LEN] = '\0';
        return 0;
    }
    struct kvs_user owner = r->user;
    kvs_slice name = ref;
    if (tilde != NULL) {
        kvs_slice uname = {ref.p, (size_t)(tilde - ref.p)};
        name = (kvs_slice){tilde + 1, ref.n - uname.n - 1};
        if (uname.n > 0) {
            if (!kvs_valid_username(uname))
                return KVS_ENOTFOUND;
            int rc = kvs_storage_user_by_name(r->rd, uname, &owner);
            if (rc != 0)
                return rc;
        }
    }
    if (!kvs_valid_store_name(name))
        return KVS_ENOTFOUND;
    if (strcmp(owner.id, r->user.id) != 0 && !(r->user.is_admin && kvs_api_may_administer(r)))
        return KVS_ENOTFOUND;
    char nm[KVS_NAME_MAX + 1];
    memcpy(nm, name.p, name.n);
    nm[name.n] = '\0';
    kvs_api_actor_id(owner.id, nm, act_id);
    memcpy(owner_id, owner.id, KVS_ID_LEN + 1);
    return 0;
}

/* Whether R's caller may see the runs of user OWNER_ID through an Actor's paths (the admin's
 * token only with administration: auth/scope.h). */
static int owns_runs(const struct kvs_req *r, const char *owner_id)
{
    return r->authenticated && ((r->user.is_admin && kvs_api_may_administer(r)) ||
                                strcmp(r->user.id, owner_id) == 0);
}

/* Whether R's token's scope (auth/scope.h) lets it see RUN: a run has its store's rights, and
 * its store (unnamed unless renamed) is in a scope by its ID, or by a scope of every store. */
static int run_in_scope(const struct kvs_req *r, const struct kvs_run *run)
{
    if (!r->scope.limited)
        return 1;
    struct kvs_store s = {0};
    memcpy(s.id, run->store_id, sizeof s.id);
    memcpy(s.user_id, run->user_id, sizeof s.user_id);
    return kvs_scope_on(&r->scope, &s) >= KVS_SCOPE_READ;
}

/* The ?status= of R (comma-separated names; absent or empty: any) into *MASK. Returns 0 or
 * KVS_EBADPARAM (replied message in R->error_msg). */
static int status_mask(struct kvs_req *r, unsigned *mask)
{
    *mask = 0;
    const char *v = kvs_http_query(r, "status");
    if (v == NULL || *v == '\0')
        return 0;
    for (const char *p = v;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        unsigned s = status_of(p, n);
        if (s == 0) {
            snprintf(r->error_msg, sizeof r->error_msg,
                     "Parameter status must be one of READY, RUNNING, SUCCEEDED, FAILED, "
                     "TIMING-OUT, TIMED-OUT, ABORTING, ABORTED (comma-separated).");
            return KVS_EBADPARAM;
        }
        *mask |= 1u << s;
        if (comma == NULL)
            return 0;
        p = comma + 1;
    }
}

/* Finding the last run that matches ?origin=: the first run a newest-first listing gives. */
struct last_ctx {
    struct kvs_req *r;
    const char *origin; /* NULL: any */
    int found;
    int refused; /* the runs are another user's */
};

static int take_last(void *arg, const struct kvs_run *run)
{
    struct last_ctx *c = arg;
    if (!owns_runs(c->r, run->user_id)) {
        c->refused = 1;
        return 1;
    }
    if (c->origin != NULL && strcmp(run->origin, c->origin) != 0)
        return 0;
    kvs_run_copy(c->r->run, run);
    c->found = 1;
    return 1;
}

static int find_last_run(struct kvs_req *r)
{
    char act_id[KVS_ID_LEN + 1], owner_id[KVS_ID_LEN + 1];
    int rc = resolve_actor(r, act_id, owner_id);
    if (rc != 0)
        return rc;
    unsigned mask;
    if (status_mask(r, &mask) != 0)
        return KVS_EBADPARAM;
    const char *origin = kvs_http_query(r, "origin");
    struct last_ctx c = {r, origin && *origin ? origin : NULL, 0, 0};
    /* Newest first, a page at a time: the first page decides unless ?origin= skips runs. */
    uint64_t page = c.origin ? 100 : 1, total = 0;
    for (uint64_t offset = 0; rc == 0 && !c.found && !c.refused; offset += page) {
        rc = kvs_storage_run_list(r->rd, KVS_RUNS_OF_ACTOR, kvs_slice_of(act_id), mask, offset,
                                  page, 1, take_last, &c, &total);
        if (offset + page >= total)
            break;
    }
    if (rc != 0)
        return rc;
    return c.found && !c.refused ? 0 : KVS_ENOTFOUND;
}

int kvs_api_find_run(struct kvs_req *r)
{
    if (r->run == NULL)
        r->run = kvs_xcalloc(1, sizeof *r->run);
    kvs_run_clear(r->run);
    if (r->via == KVS_VIA_LAST_RUN)
        return find_last_run(r);
    return kvs_storage_run_get(r->rd, (kvs_slice){r->store_ref, r->store_ref_len}, r->run);
}

/* Reply with error RC about the run of R's path. */
static void reply_run_error(struct kvs_req *r, int rc)
{
    if (rc == KVS_ENOTFOUND)
        kvs_reply_error(r, rc, RUN_NOT_FOUND);
    else if (rc == KVS_EACCESS)
        kvs_reply_error(r, rc,
                        "Insufficient permissions for the Actor run. Make sure you're passing a "
                        "correct API token and that it has the required permissions.");
    else if (rc == KVS_EBADPARAM && r->error_msg[0])
        kvs_reply_error(r, rc, "%s", r->error_msg);
    else
        kvs_reply_error(r, rc, NULL);
}

/* The run of R's path (a run path or an Actor's last run, VIA), with its store in R->store and
 * the caller's right to do NEED with it checked (a run has its store's rights). On failure
 * replies and returns NULL. */
static struct kvs_run *run_or_reply(struct kvs_req *r, enum kvs_path_via via, int need)
{
    r->via = (uint8_t)via;
    int rc = kvs_api_resolve_store(r, need);
    if (rc != 0) {
        reply_run_error(r, rc);
        return NULL;
    }
    return r->run;
}

/* ==== listings =============================================================================== */

struct listing {
    struct kvs_req *r;
    json_t *items;
    const char *owner_id; /* "": not known yet (an act ID): the runs' user, checked */
    int refused;
    /* a scoped token: the storage lists every run, and this one pages those of the scope */
    int filter;
    uint64_t offset, limit, total;
};

static int add_run(void *arg, const struct kvs_run *run)
{
    struct listing *l = arg;
    if (l->owner_id[0] == '\0' && !owns_runs(l->r, run->user_id)) {
        l->refused = 1;
        return 1;
    }
    if (l->filter) {
        if (!run_in_scope(l->r, run))
            return 0;
        uint64_t index = l->total++;
        if (index < l->offset || index - l->offset >= l->limit)
            return 0;
    }
    json_array_append_new(l->items, run_json(l->r, run, -1));
    return 0;
}

/* List the runs of OWNER (BY: KVS_RUNS_OF_*) by R's query; OWNER_ID as for struct listing. */
static void list_runs(struct kvs_req *r, unsigned by, const char *owner, const char *owner_id)
{
    uint64_t offset, limit;
    int desc;
    unsigned mask;
    if (kvs_api_query_uint(r, "offset", 0, &offset) != 0 ||
        kvs_api_query_uint(r, "limit", RUNS_LIMIT_MAX, &limit) != 0) {
        kvs_reply_error(r, KVS_EBADPARAM,
                        "Parameters offset and limit must be integers from 0 to "
                        KVS_API_QUERY_MAX_TEXT ".");
        return;
    }
    if (kvs_api_query_bool(r, "desc", &desc) != 0) {
        kvs_reply_error(r, KVS_EBADPARAM, "Parameter desc must be true, false, 1 or 0.");
        return;
    }
    if (status_mask(r, &mask) != 0) {
        kvs_reply_error(r, KVS_EBADPARAM, "%s", r->error_msg);
        return;
    }
    if (limit == 0 || limit > RUNS_LIMIT_MAX)
        limit = RUNS_LIMIT_MAX;
    struct listing l = {r, json_array(), owner_id, 0, r->scope.limited, offset, limit, 0};
    uint64_t total = 0;
    int rc = kvs_api_read(r);
    if (rc == 0)
        rc = kvs_storage_run_list(r->rd, by, kvs_slice_of(owner), mask, l.filter ? 0 : offset,
                                  l.filter ? UINT64_MAX : limit, desc, add_run, &l, &total);
    if (l.filter)
        total = l.total;
    if (rc == 0 && l.refused)
        rc = KVS_ENOTFOUND; /* another user's Actor: as if none */
    if (rc != 0) {
        json_decref(l.items);
        if (rc == KVS_ENOTFOUND)
            kvs_reply_error(r, rc, "Actor was not found.");
        else
            kvs_reply_error(r, rc, NULL);
        return;
    }
    json_t *data = json_object();
    json_object_set_new(data, "total", json_integer((json_int_t)total));
    json_object_set_new(data, "offset", json_integer((json_int_t)offset));
    json_object_set_new(data, "limit", json_integer((json_int_t)limit));
    json_object_set_new(data, "count", json_integer((json_int_t)json_array_size(l.items)));
    json_object_set_new(data, "desc", json_boolean(desc));
    json_object_set_new(data, "items", l.items);
    kvs_reply_data(r, 200, data);
}

void kvs_api_runs_list(struct kvs_req *r)
{
    list_runs(r, KVS_RUNS_OF_USER, r->user.id, r->user.id);
}

void kvs_api_actor_runs_list(struct kvs_req *r)
{
    char act_id[KVS_ID_LEN + 1], owner_id[KVS_ID_LEN + 1];
    int rc = kvs_api_read(r);
    if (rc == 0)
        rc = resolve_actor(r, act_id, owner_id);
    if (rc == KVS_ENOTFOUND)
        kvs_reply_error(r, rc, "Actor was not found.");
    else if (rc != 0)
        kvs_reply_error(r, rc, NULL);
    else
        list_runs(r, KVS_RUNS_OF_ACTOR, act_id, owner_id);
}

/* ==== create (kvstore's own) ================================================================= */

/* Integer member NAME of BODY into *OUT (DEF when absent or null), within [MIN, MAX]. Returns 0,
 * or replies and returns KVS_EINVAL. */
static int take_uint(struct kvs_req *r, json_t *body, const char *name, json_int_t def,
                     json_int_t min, json_int_t max, json_int_t *out)
{
    json_t *v = json_object_get(body, name);
    *out = def;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
        kvs_reply_error(r, KVS_EINVAL,
                        "Invalid value provided: %s must be an integer from %lld to %lld.", name,
                        (long long)min, (long long)max);
        return KVS_EINVAL;
    }
    *out = json_integer_value(v);
    return 0;
}

/* String member NAME of BODY (DEF when absent or null) into *OUT. Returns 0, or replies and
 * returns KVS_EINVAL. */
static int take_str(struct kvs_req *r, json_t *body, const char *name, const char *def,
                    const char **out)
{
    json_t *v = json_object_get(body, name);
    *out = def;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v)) {
        kvs_reply_error(r, KVS_EINVAL, "Invalid value provided: %s must be a string.", name);
        return KVS_EINVAL;
    }
    *out = json_string_value(v);
    return 0;
}

void kvs_api_runs_create(struct kvs_req *r)
{
    if (!kvs_scope_may_create(&r->scope, r->user.id, "")) { /* its default store: unnamed */
        kvs_reply_error(r, KVS_EACCESS,
                        "This API token may not start a run: a run's default store is a new "
                        "unnamed store, and the token's scope does not give WRITE over every "
                        "store.");
        return;
    }
    int failed;
    json_t *body = kvs_api_body_object(r, &failed);
    if (failed)
        return;
    const char *actor, *origin, *ga_name;
    json_int_t timeout, memory;
    enum kvs_general_access ga = KVS_GA_FOLLOW_USER_SETTING;
    int rc = take_str(r, body, "actor", "local", &actor);
    if (rc == 0)
        rc = take_str(r, body, "origin", "API", &origin);
    if (rc == 0)
        rc = take_str(r, body, "generalAccess", "FOLLOW_USER_SETTING", &ga_name);
    if (rc == 0)
        rc = take_uint(r, body, "timeoutSecs", 0, 0, UINT32_MAX, &timeout);
    if (rc == 0)
        rc = take_uint(r, body, "memoryMbytes", MEMORY_DEFAULT_MBYTES, MEMORY_MIN_MBYTES,
                       MEMORY_MAX_MBYTES, &memory);
    if (rc == 0 && !kvs_valid_store_name(kvs_slice_of(actor))) {
        kvs_reply_error(r, KVS_EBADNAME,
                        "Invalid value provided: actor must be an Actor name: letters 'a' through "
                        "'z', the digits '0' through '9', and the hyphen ('-') but only in the "
                        "middle, at most 63 characters.");
        rc = KVS_EBADNAME;
    }
    if (rc == 0 && kvs_access_parse(ga_name, &ga) != 0) {
        kvs_reply_error(r, KVS_EINVAL,
                        "Invalid value provided: generalAccess must be one of "
                        "FOLLOW_USER_SETTING, RESTRICTED, ANYONE_WITH_ID_CAN_READ, "
                        "ANYONE_WITH_NAME_CAN_READ.");
        rc = KVS_EINVAL;
    }
    struct kvs_run *run = r->run = kvs_xcalloc(1, sizeof *r->run);
    if (rc == 0) {
        snprintf(run->origin, sizeof run->origin, "%s", origin);
        snprintf(run->actor, sizeof run->actor, "%s", actor);
        memcpy(run->user_id, r->user.id, sizeof run->user_id);
        kvs_api_actor_id(r->user.id, actor, run->act_id);
        if (strlen(origin) > KVS_RUN_ORIGIN_MAX || !kvs_run_fields_ok(run)) {
            kvs_reply_error(r, KVS_EINVAL,
                            "Invalid value provided: origin must be 1 to %d upper-case letters "
                            "or '_' (API, CLI, DEVELOPMENT, ...).",
                            KVS_RUN_ORIGIN_MAX);
            rc = KVS_EINVAL;
        }
    }
    json_decref(body);
    if (rc != 0)
        return;
    run->timeout_secs = (uint32_t)timeout;
    run->memory_mbytes = (uint32_t)memory;
    struct kvs_write *w = &r->w;
    w->op = KVS_W_RUN_CREATE;
    w->run = run;
    memcpy(w->store.user_id, r->user.id, sizeof w->store.user_id);
    w->store.general_access = (uint8_t)ga;
    kvs_http_submit(r);
}

void kvs_api_runs_create_done(struct kvs_req *r)
{
    if (r->w.result != 0) {
        kvs_reply_error(r, r->w.result, NULL);
        return;
    }
    kvs_reply_data(r, 201, run_json(r, r->run, r->w.store.general_access));
    char base[512], url[700];
    kvs_api_public_base(r, base, sizeof base);
    snprintf(url, sizeof url, "%s/v2/actor-runs/%s", base, r->run->id);
    kvs_reply_header(r, MHD_HTTP_HEADER_LOCATION, url);
}

/* ==== get, with waitForFinish ================================================================ */

/* The ?waitForFinish= of R in seconds, at most WAIT_MAX_SECS; -1 (replied) when malformed. */
static int wait_secs(struct kvs_req *r)
{
    uint64_t secs;
    if (kvs_api_query_uint(r, "waitForFinish", 0, &secs) != 0) {
        kvs_reply_error(r, KVS_EBADPARAM,
                        "Parameter waitForFinish must be a non-negative integer (seconds).");
        return -1;
    }
    return secs > WAIT_MAX_SECS ? WAIT_MAX_SECS : (int)secs;
}

/* Answer with R->run, or wait for it to finish: until the deadline that ?waitForFinish= set
 * from the request's start. */
static void answer_or_wait(struct kvs_req *r, int secs)
{
    uint64_t deadline = r->start_ns + (uint64_t)secs * 1000000000ull;
    if (!KVS_RUN_FINISHED(r->run->status) && kvs_mono_ns() < deadline &&
        kvs_runwait_add(r->srv->runwait, r, r->run->id, deadline) == 0)
        return; /* suspended: kvs_api_run_get_resumed() looks again */
    kvs_reply_data(r, 200, run_json(r, r->run, r->store.general_access));
}

/* GET of the run of R's path named VIA. */
static void get_run(struct kvs_req *r, enum kvs_path_via via)
{
    int secs = wait_secs(r);
    if (secs < 0)
        return;
    struct kvs_run *run = run_or_reply(r, via, KVS_NEED_READ);
    if (run == NULL)
        return;
    /* Reading a run is using its store: a run that its runner polls does not expire. */
    kvs_storage_note_access(r->srv->storage, run->store_id, KVS_NOTE_ACCESS);
    answer_or_wait(r, secs);
}

void kvs_api_run_get(struct kvs_req *r)
{
    get_run(r, KVS_VIA_RUN);
}

void kvs_api_actor_last_run(struct kvs_req *r)
{
    get_run(r, KVS_VIA_LAST_RUN);
}

void kvs_api_run_get_resumed(struct kvs_req *r)
{
    char id[KVS_ID_LEN + 1];
    memcpy(id, r->run->id, sizeof id);
    int rc = kvs_api_read(r);
    if (rc == 0)
        rc = kvs_storage_run_get(r->rd, kvs_slice_of(id), r->run);
    if (rc != 0) {
        reply_run_error(r, rc); /* deleted while waited for: 404 */
        return;
    }
    answer_or_wait(r, wait_secs(r));
}

/* ==== changes: status message, abort, finish ================================================= */

/* Submit a KVS_W_RUN_UPDATE of R->run with MASK (the values set in R->run). */
static void submit_update(struct kvs_req *r, unsigned mask)
{
    r->w.op = KVS_W_RUN_UPDATE;
    r->w.run = r->run;
    r->w.update_mask = mask;
    kvs_http_submit(r);
}

/* Take statusMessage and isStatusMessageTerminal of BODY into R->run; sets *MASK's
 * KVS_RUN_UPD_MESSAGE when a statusMessage is given. Returns 0, or replies and returns the
 * error. */
static int take_message(struct kvs_req *r, json_t *body, unsigned *mask)
{
    json_t *m = json_object_get(body, "statusMessage");
    json_t *t = json_object_get(body, "isStatusMessageTerminal");
    if (t != NULL && !json_is_null(t) && !json_is_boolean(t)) {
        kvs_reply_error(r, KVS_EINVAL,
                        "Invalid value provided: isStatusMessageTerminal must be a boolean.");
        return KVS_EINVAL;
    }
    if (m == NULL)
        return 0;
    const char *text = json_is_null(m) ? NULL : json_string_value(m);
    if ((text == NULL && !json_is_null(m)) ||
        (text != NULL && (json_string_length(m) != strlen(text) ||
                          strlen(text) > KVS_RUN_MESSAGE_MAX))) {
        kvs_reply_error(r, KVS_EINVAL,
                        "Invalid value provided: statusMessage must be a string of at most %d "
                        "bytes, without NUL characters.",
                        KVS_RUN_MESSAGE_MAX);
        return KVS_EINVAL;
    }
    free(r->run->status_message);
    r->run->status_message = text ? kvs_xstrdup(text) : NULL;
    r->run->message_terminal = json_is_true(t);
    *mask |= KVS_RUN_UPD_MESSAGE;
    return 0;
}

void kvs_api_run_update(struct kvs_req *r)
{
    if (run_or_reply(r, KVS_VIA_RUN, KVS_NEED_MANAGE) == NULL)
        return;
    int failed;
    json_t *body = kvs_api_body_object(r, &failed);
    if (failed)
        return;
    unsigned mask = 0;
    int rc = 0;
    json_t *level = json_object_get(body, "level");
    if (level != NULL && !json_is_null(level) && !json_is_string(level)) {
        kvs_reply_error(r, KVS_EINVAL, "Invalid value provided: level must be a string.");
        rc = KVS_EINVAL;
    }
    if (rc == 0 && json_object_get(body, "generalAccess") != NULL) {
        kvs_reply_error(r, KVS_EINVAL,
                        "Invalid value provided: a run's general access is its default "
                        "store's; change it with PUT /v2/key-value-stores/%s.",
                        r->run->store_id);
        rc = KVS_EINVAL;
    }
    if (rc == 0)
        rc = take_message(r, body, &mask);
    json_decref(body);
    if (rc != 0)
        return;
    if (mask == 0) { /* nothing to change (the SDK's level alone): the run as it is */
        kvs_reply_data(r, 200, run_json(r, r->run, r->store.general_access));
        return;
    }
    submit_update(r, mask);
}

void kvs_api_run_abort(struct kvs_req *r)
{
    int gracefully;
    if (kvs_api_query_bool(r, "gracefully", &gracefully) != 0) {
        kvs_reply_error(r, KVS_EBADPARAM, "Parameter gracefully must be true, false, 1 or 0.");
        return;
    }
    /* Either way the runner is asked to stop: it signals the Actor, then kills it after a
     * grace period (`kvs run`). */
    if (run_or_reply(r, KVS_VIA_RUN, KVS_NEED_MANAGE) != NULL)
        submit_update(r, KVS_RUN_UPD_ABORT);
}

void kvs_api_run_finish(struct kvs_req *r)
{
    if (run_or_reply(r, KVS_VIA_RUN, KVS_NEED_MANAGE) == NULL)
        return;
    int failed;
    json_t *body = kvs_api_body_object(r, &failed);
    if (failed)
        return;
    unsigned mask = KVS_RUN_UPD_FINISH;
    const char *status = NULL;
    json_t *code = json_object_get(body, "exitCode");
    int rc = take_str(r, body, "status", NULL, &status);
    if (rc == 0) {
        unsigned s = status ? status_of(status, strlen(status)) : 0;
        if (!KVS_RUN_FINISHED(s)) {
            kvs_reply_error(r, KVS_EINVAL,
                            "Invalid value provided: status must be SUCCEEDED, FAILED, TIMED-OUT "
                            "or ABORTED.");
            rc = KVS_EINVAL;
        }
        r->run->status = (uint8_t)s;
    }
    if (rc == 0 && code != NULL && !json_is_null(code) &&
        (!json_is_integer(code) || json_integer_value(code) < INT32_MIN ||
         json_integer_value(code) > INT32_MAX)) {
        kvs_reply_error(r, KVS_EINVAL, "Invalid value provided: exitCode must be an integer.");
        rc = KVS_EINVAL;
    }
    if (rc == 0) {
        r->run->has_exit_code = code != NULL && json_is_integer(code);
        r->run->exit_code = r->run->has_exit_code ? (int32_t)json_integer_value(code) : 0;
        rc = take_message(r, body, &mask);
    }
    json_decref(body);
    if (rc == 0)
        submit_update(r, mask);
}

void kvs_api_run_write_done(struct kvs_req *r)
{
    int rc = r->w.result;
    if (rc != 0) {
        reply_run_error(r, rc);
        return;
    }
    kvs_runwait_notify(r->srv->runwait, r->run->id);
    kvs_reply_data(r, 200, run_json(r, r->run, r->store.general_access));
}

/* ==== delete ================================================================================= */

void kvs_api_run_delete(struct kvs_req *r)
{
    struct kvs_run *run = run_or_reply(r, KVS_VIA_RUN, KVS_NEED_MANAGE);
    if (run == NULL)
        return;
    if (!KVS_RUN_FINISHED(run->status)) {
        kvs_reply_error(r, KVS_EUNFINISHED,
                        "The run has not finished yet: abort it first, then delete it.");
        return;
    }
    /* A run goes with its default store (storage/run.h): deleting the store deletes both. */
    r->w.op = KVS_W_STORE_DELETE;
    memcpy(r->w.store_id, run->store_id, sizeof r->w.store_id);
    kvs_http_submit(r);
}

void kvs_api_run_delete_done(struct kvs_req *r)
{
    if (r->w.result != 0) {
        reply_run_error(r, r->w.result);
        return;
    }
    kvs_runwait_notify(r->srv->runwait, r->run->id);
    kvs_reply_empty(r, 204);
}

/* ==== the store side ========================================================================= */

void kvs_api_store_run_fields(struct kvs_req *r, const struct kvs_store *s, json_t *o)
{
    struct kvs_run run = {0};
    if (kvs_api_read(r) == 0 && kvs_storage_run_by_store(r->rd, kvs_slice_of(s->id), &run) == 0) {
        json_object_set_new(o, "actId", json_string(run.act_id));
        json_object_set_new(o, "actRunId", json_string(run.id));
    }
    kvs_run_clear(&run);
}

int kvs_api_store_delete_refused(struct kvs_req *r, const struct kvs_store *s)
{
    struct kvs_run run = {0};
    int rc = kvs_storage_run_by_store(r->rd, kvs_slice_of(s->id), &run);
    if (rc == KVS_ENOTFOUND)
        rc = 0;
    else if (rc == 0 && !KVS_RUN_FINISHED(run.status))
        rc = KVS_EUNFINISHED;
    if (rc == KVS_EUNFINISHED)
        kvs_reply_error(r, rc,
                        "This store is the default store of run %s, which has not finished yet: "
                        "abort the run first.",
                        run.id);
    else if (rc != 0)
        kvs_reply_error(r, rc, NULL);
    kvs_run_clear(&run);
    return rc;
}

/* ==== what kvstore does not serve ============================================================ */

void kvs_api_actor_runs_start(struct kvs_req *r)
{
    kvs_reply_error(r, KVS_ENOTIMPL,
                    "kvstore does not run Actors on the server: run one on your machine with "
                    "`kvs run -- CMD`, which makes its run (POST /v2/actor-runs) and its default "
                    "store. kvstore serves key-value stores and Actor runs only.");
}

void kvs_api_unsupported(struct kvs_req *r)
{
    /* Name the part asked for by the path's first segments after /v2 (at most three). */
    kvs_slice p = r->path;
    size_t n = 0;
    int slashes = 0;
    while (n < p.n && n < 80 && !(p.p[n] == '/' && ++slashes == 5))
        n++;
    kvs_reply_error(r, KVS_ENOTIMPL,
                    "%.*s is not available: kvstore serves key-value stores and Actor runs only "
                    "(no datasets, request queues, builds, webhooks, schedules, metamorph, "
                    "reboot or charging).",
                    (int)n, p.p);
}
