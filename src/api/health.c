/* health.c — GET /health: 200 once the server accepts requests (for load balancers and tests). */
#include "api/api.h"
#include "server/reply.h"

void kvs_api_health(struct kvs_req *r)
{
    kvs_reply_json(
        r, 200,
        json_pack("{s:s,s:s}", "status", "ok", "storage", kvs_storage_name(r->srv->storage)));
}
