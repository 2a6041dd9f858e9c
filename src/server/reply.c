/* reply.c — responses (see reply.h). */
#include "server/reply.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/log.h"
#include "kvs.h"

static void set_response(struct kvs_req *r, unsigned status, struct MHD_Response *resp)
{
    if (r->resp && !r->resp_kept)
        MHD_destroy_response(r->resp);
    r->resp = resp;
    r->resp_kept = 0;
    r->status = status;
    r->bytes_out = 0;
    if (resp == NULL) {
        /* MHD could not allocate a response: there is nothing better to send than a bare 500 */
        kvs_log_error("could not create a response");
        r->status = 500;
    }
}

static const char JSON_TYPE[] = "application/json; charset=utf-8";

void kvs_reply_json(struct kvs_req *r, unsigned status, json_t *body)
{
    /* 15 significant digits: a run's 0.006 seconds, not 0.0060000000000000001 */
    char *text = json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(15));
    json_decref(body);
    if (text == NULL) {
        set_response(r, 500, NULL);
        return;
    }
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL)
        free(text);
    set_response(r, status, resp);
    r->bytes_out = resp ? strlen(text) : 0;
    if (resp)
        kvs_reply_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, JSON_TYPE);
}

void kvs_reply_data(struct kvs_req *r, unsigned status, json_t *data)
{
    kvs_reply_json(r, status, json_pack("{s:o}", "data", data));
}

void kvs_reply_error(struct kvs_req *r, int code, const char *fmt, ...)
{
    char msg[512];
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
    } else {
        snprintf(msg, sizeof msg, "%s", kvs_strerror(code));
    }
    kvs_reply_json(r, (unsigned)kvs_err_status(code),
                   json_pack("{s:{s:s,s:s}}", "error", "type", kvs_err_type(code), "message", msg));
    /* Shutting down, or the database unreachable (PostgreSQL): worth another try soon. */
    if (code == KVS_EUNAVAIL)
        kvs_reply_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "1");
}

void kvs_reply_empty(struct kvs_req *r, unsigned status)
{
    set_response(r, status, MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT));
}

void kvs_reply_bytes(struct kvs_req *r, unsigned status, const char *content_type, const void *data,
                     size_t len, MHD_ContentReaderFreeCallback free_cb, void *cls)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer_with_free_callback_cls(
        len, (void *)(uintptr_t)data, free_cb, cls); /* MHD only reads it */
    if (resp == NULL && free_cb)
        free_cb(cls);
    set_response(r, status, resp);
    r->bytes_out = resp ? len : 0;
    if (resp && content_type)
        kvs_reply_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
}

void kvs_reply_response(struct kvs_req *r, unsigned status, struct MHD_Response *resp)
{
    set_response(r, status, resp);
}

void kvs_reply_header(struct kvs_req *r, const char *name, const char *value)
{
    if (r->resp_kept) { /* shared with other requests: never changed */
        kvs_log_error("header %s on a kept response (a bug): not added", name);
        return;
    }
    if (r->resp && MHD_add_response_header(r->resp, name, value) != MHD_YES)
        kvs_log_warn("could not add header %s", name);
}

/* CORS headers, so that a page in a browser can call the API. Allow-Origin goes on every
 * response (a cache may hand a response fetched without Origin to a browser); the list of
 * exposed headers only matters to a browser, which always sends Origin. */
void kvs_reply_common_headers(struct kvs_req *r)
{
    kvs_reply_header(r, "Access-Control-Allow-Origin", "*");
    if (kvs_http_header(r, "Origin"))
        kvs_reply_header(r, "Access-Control-Expose-Headers",
                         "Location, Content-Encoding, Content-Disposition, Content-Length, Date, "
                         "Content-Range, Accept-Ranges, ETag, Last-Modified");
}

struct MHD_Response *kvs_reply_keep(struct kvs_req *r)
{
    if (r->resp == NULL || r->resp_kept)
        return NULL;
    kvs_reply_common_headers(r);
    r->resp_kept = 1;
    return r->resp;
}

void kvs_reply_kept(struct kvs_req *r, unsigned status, struct MHD_Response *resp, size_t len)
{
    set_response(r, status, resp);
    r->resp_kept = 1;
    r->bytes_out = len;
}
