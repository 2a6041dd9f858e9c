/* runs.c — libkvs's calls of Actor runs: start (kvstore's POST /v2/actor-runs), get (with
 * waitForFinish), finish (kvstore's .../finish) and abort (api/runs.h on the server). */
#include <stdio.h>
#include <string.h>

#include "client/internal.h"

#define R struct kvs_run_info
static const struct kvs__field run_fields[] = {
    KVS__FIELD(R, id, "id", KVS__F_STR),
    KVS__FIELD(R, act_id, "actId", KVS__F_STR),
    KVS__FIELD(R, actor_name, "actorName", KVS__F_STR),
    KVS__FIELD(R, user_id, "userId", KVS__F_STR),
    KVS__FIELD(R, status, "status", KVS__F_STR),
    KVS__FIELD(R, status_message, "statusMessage", KVS__F_STR),
    KVS__FIELD(R, started_at, "startedAt", KVS__F_STR),
    KVS__FIELD(R, finished_at, "finishedAt", KVS__F_STR),
    KVS__FIELD(R, default_key_value_store_id, "defaultKeyValueStoreId", KVS__F_STR),
    KVS__FIELD(R, default_dataset_id, "defaultDatasetId", KVS__F_STR),
    KVS__FIELD(R, default_request_queue_id, "defaultRequestQueueId", KVS__F_STR),
    KVS__FIELD(R, build_id, "buildId", KVS__F_STR),
    KVS__FIELD(R, console_url, "consoleUrl", KVS__F_STR),
    KVS__FIELD(R, exit_code, "exitCode", KVS__F_INT),
    KVS__FIELD(R, timeout_secs, "options.timeoutSecs", KVS__F_INT),
    KVS__FIELD(R, memory_mbytes, "options.memoryMbytes", KVS__F_INT),
    KVS__FIELD(R, json, "", KVS__F_JSON),
    {NULL, KVS__F_STR, 0},
};
#undef R

/* Send METHOD to PATH with BODY (may be NULL); the run of the answer into *OUT (may be NULL). */
static int run_call(kvs_client *c, const char *method, const char *path, json_t *body,
                    struct kvs_run_info **out)
{
    if (out != NULL)
        *out = NULL;
    json_t *data = NULL;
    int rc = kvs__json_call(c, method, path, body, out ? &data : NULL, NULL);
    if (rc == 0 && out != NULL) {
        if (!json_is_object(data) || !json_is_string(json_object_get(data, "id")) ||
            !json_is_string(json_object_get(data, "defaultKeyValueStoreId"))) {
            rc = kvs__fail(c, KVS_EPROTO, "the server's run object has no ID or store");
        } else {
            struct kvs_run_info *r = kvs__block_new(sizeof *r, data);
            if (r == NULL || kvs__decode(r, data, run_fields, r) != 0) {
                kvs_free(r);
                rc = kvs__fail(c, KVS_ENOMEM, NULL);
            } else {
                r->has_exit_code = json_is_integer(json_object_get(data, "exitCode"));
                *out = r;
            }
        }
    }
    json_decref(data);
    return rc;
}

/* "/v2/actor-runs/<run><tail>" into S. */
static void run_path(struct kvs__str *s, const char *run, const char *tail)
{
    kvs__str_puts(s, "/v2/actor-runs/");
    kvs__str_enc(s, run);
    if (tail != NULL)
        kvs__str_puts(s, tail);
}

int kvs_run_start(kvs_client *c, const char *actor, const char *origin, int64_t timeout_secs,
                  int64_t memory_mbytes, struct kvs_run_info **out)
{
    KVS__NEED(c, actor);
    json_t *body = json_pack("{s:s,s:s,s:I}", "actor", actor, "origin", origin ? origin : "API",
                             "timeoutSecs", (json_int_t)timeout_secs);
    if (body == NULL)
        return kvs__fail(c, KVS_EINVAL, "the Actor's name or origin is not UTF-8 text");
    if (memory_mbytes > 0 &&
        json_object_set_new(body, "memoryMbytes", json_integer((json_int_t)memory_mbytes)) != 0) {
        json_decref(body);
        return kvs__fail(c, KVS_ENOMEM, NULL);
    }
    int rc = run_call(c, "POST", "/v2/actor-runs", body, out);
    json_decref(body);
    return rc;
}

int kvs_run_get(kvs_client *c, const char *run, int wait_secs, struct kvs_run_info **out)
{
    KVS__NEED(c, run);
    struct kvs__str path = {0};
    run_path(&path, run, NULL);
    if (wait_secs > 0) {
        char q[32];
        snprintf(q, sizeof q, "?waitForFinish=%d", wait_secs > 60 ? 60 : wait_secs);
        kvs__str_puts(&path, q);
    }
    /* the server holds the request up to WAIT_SECS: the call may take that much longer */
    long timeout = c->timeout_ms;
    if (wait_secs > 0)
        c->timeout_ms += (long)(wait_secs > 60 ? 60 : wait_secs) * 1000;
    int rc = path.oom ? kvs__fail(c, KVS_ENOMEM, NULL) : run_call(c, "GET", path.p, NULL, out);
    c->timeout_ms = timeout;
    kvs__str_free(&path);
    return rc;
}

int kvs_run_finish(kvs_client *c, const char *run, const char *status, int has_exit_code,
                   int64_t exit_code, struct kvs_run_info **out)
{
    KVS__NEED(c, run);
    KVS__NEED(c, status);
    json_t *body = json_pack("{s:s,s:o}", "status", status, "exitCode",
                             has_exit_code ? json_integer((json_int_t)exit_code) : json_null());
    if (body == NULL)
        return kvs__fail(c, KVS_EINVAL, "the status is not UTF-8 text");
    struct kvs__str path = {0};
    run_path(&path, run, "/finish");
    int rc = path.oom ? kvs__fail(c, KVS_ENOMEM, NULL) : run_call(c, "POST", path.p, body, out);
    kvs__str_free(&path);
    json_decref(body);
    return rc;
}

int kvs_run_abort(kvs_client *c, const char *run, struct kvs_run_info **out)
{
    KVS__NEED(c, run);
    struct kvs__str path = {0};
    run_path(&path, run, "/abort");
    int rc = path.oom ? kvs__fail(c, KVS_ENOMEM, NULL) : run_call(c, "POST", path.p, NULL, out);
    kvs__str_free(&path);
    return rc;
}
