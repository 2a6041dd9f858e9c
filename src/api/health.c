/* health.c — GET /health: 200 once the server accepts requests (for load balancers and tests),
 * with what a client may want to know before it sends anything: which kvs this is, the largest
 * record it takes (the console checks a file's size before uploading it) and how long an
 * unnamed store is kept unused (0: forever). None of it is secret: no token needed. */
#include "api/api.h"
#include "common/version.h"
#include "kvs/client.h"
#include "server/reply.h"

void kvs_api_health(struct kvs_req *r)
{
    const struct kvs_server_config *cfg = &r->srv->cfg;
    kvs_reply_json(r, 200,
                   json_pack("{s:s,s:s,s:s,s:s,s:I,s:I}", "status", "ok", "storage",
                             kvs_storage_name(r->srv->storage), "version", kvs_version(), "build",
                             kvs_build_commit(), "maxRecordSize", (json_int_t)cfg->max_record_size,
                             "unnamedRetentionMillis", (json_int_t)cfg->unnamed_retention_ms));
}
