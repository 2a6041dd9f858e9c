/* records.c — libkvs's record calls (contract §1.4): read into memory or stream into a file
 * descriptor, write from memory or stream from a file descriptor, delete, HEAD, and the SDK's
 * INPUT/OUTPUT conventions. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/internal.h"

/* Prepare K for METHOD on record KEY of STORE, its path built in PATH (free it after). */
static int record_call(kvs_client *c, struct kvs__call *k, struct kvs__str *path,
                       const char *method, const char *store, const char *key)
{
    memset(path, 0, sizeof *path);
    KVS__NEED(c, store);
    KVS__NEED(c, key);
    kvs__store_path(path, store, "/records/", key);
    if (path->oom)
        return kvs__fail(c, KVS_ENOMEM, NULL);
    kvs__call_init(k, method, path->p);
    k->record = 1;
    return 0;
}

/* Run K (prepared by record_call()) and release what it and PATH hold; *META (may be NULL) gets
 * the headers of a success. Returns 0 or the error. */
static int finish(kvs_client *c, struct kvs__call *k, struct kvs__str *path,
                  struct kvs_record_meta *meta)
{
    int rc = kvs__perform(c, k);
    if (rc == 0 && meta != NULL)
        *meta = k->meta;
    kvs__str_free(&k->resp);
    kvs__str_free(path);
    return rc;
}

int kvs_record_get(kvs_client *c, const char *store, const char *key, struct kvs_record **out)
{
    *out = NULL;
    struct kvs__call k;
    struct kvs__str path;
    int rc = record_call(c, &k, &path, "GET", store, key);
    if (rc != 0)
        return rc;
    rc = kvs__perform(c, &k);
    if (rc == 0) {
        kvs__str_add(&k.resp, "", 0); /* an empty value still gets its NUL */
        struct kvs_record *r = k.resp.oom ? NULL : kvs__block_new(sizeof *r, NULL);
        if (r == NULL) {
            rc = kvs__fail(c, KVS_ENOMEM, NULL);
        } else {
            r->size = k.resp.n;
            r->value = k.resp.p;
            r->content_type =
                kvs__block_strndup(r, k.meta.content_type, strlen(k.meta.content_type));
            /* the block now owns the value (freed by kvs__block_adopt on failure) */
            int adopted = kvs__block_adopt(r, k.resp.p);
            memset(&k.resp, 0, sizeof k.resp);
            if (adopted != 0 || r->content_type == NULL) {
                if (adopted != 0)
                    r->value = NULL;
                kvs_free(r);
                rc = kvs__fail(c, KVS_ENOMEM, NULL);
            } else {
                *out = r;
            }
        }
    }
    kvs__str_free(&k.resp);
    kvs__str_free(&path);
    return rc;
}

int kvs_record_get_fd(kvs_client *c, const char *store, const char *key, int fd,
                      struct kvs_record_meta *meta)
{
    struct kvs__call k;
    struct kvs__str path;
    int rc = record_call(c, &k, &path, "GET", store, key);
    if (rc != 0)
        return rc;
    k.out_fd = fd;
    return finish(c, &k, &path, meta);
}

int kvs_record_put(kvs_client *c, const char *store, const char *key, const void *value,
                   size_t size, const char *content_type)
{
    struct kvs__call k;
    struct kvs__str path;
    int rc = record_call(c, &k, &path, "PUT", store, key);
    if (rc != 0)
        return rc;
    k.body = value ? value : ""; /* an empty value is still a body, with its type */
    k.body_n = value ? size : 0;
    k.content_type = content_type;
    return finish(c, &k, &path, NULL);
}

int kvs_record_put_fd(kvs_client *c, const char *store, const char *key, int fd,
                      const char *content_type)
{
    struct stat sb;
    if (fstat(fd, &sb) != 0)
        return kvs__fail(c, KVS_EINVAL, "not an open file descriptor");
    struct kvs__call k;
    struct kvs__str path;
    int rc = record_call(c, &k, &path, "PUT", store, key);
    if (rc != 0)
        return rc;
    k.in_fd = fd;
    k.in_size = -1;
    if (S_ISREG(sb.st_mode)) { /* its size from where it is read: sent with a Content-Length */
        off_t at = lseek(fd, 0, SEEK_CUR);
        k.in_size = at >= 0 && at <= sb.st_size ? (int64_t)(sb.st_size - at) : -1;
    }
    k.content_type = content_type;
    return finish(c, &k, &path, NULL);
}

int kvs_record_delete(kvs_client *c, const char *store, const char *key)
{
    struct kvs__call k;
    struct kvs__str path;
    int rc = record_call(c, &k, &path, "DELETE", store, key);
    if (rc != 0)
        return rc;
    k.record = 0; /* a JSON call: a short time limit */
    return finish(c, &k, &path, NULL);
}

int kvs_record_head(kvs_client *c, const char *store, const char *key, struct kvs_record_meta *meta)
{
    struct kvs__call k;
    struct kvs__str path;
    int rc = record_call(c, &k, &path, "HEAD", store, key);
    if (rc != 0)
        return rc;
    k.record = 0; /* no body: a short time limit */
    return finish(c, &k, &path, meta);
}

int kvs_record_exists(kvs_client *c, const char *store, const char *key)
{
    int rc = kvs_record_head(c, store, key, NULL);
    if (rc == KVS_ENOTFOUND)
        return 0;
    return rc == 0 ? 1 : rc;
}

/* ---- the SDK's conventions ----------------------------------------------------------------- */

static const char *env_or(const char *name, const char *def)
{
    const char *v = getenv(name);
    return v && *v ? v : def;
}

static const char *default_store(const char *store)
{
    return store ? store : env_or("ACTOR_DEFAULT_KEY_VALUE_STORE_ID", "default");
}

int kvs_input_get(kvs_client *c, const char *store, struct kvs_record **out)
{
    return kvs_record_get(c, default_store(store), env_or("ACTOR_INPUT_KEY", "INPUT"), out);
}

int kvs_output_put(kvs_client *c, const char *store, const void *value, size_t size,
                   const char *content_type)
{
    return kvs_record_put(c, default_store(store), "OUTPUT", value, size,
                          content_type ? content_type : "application/json; charset=utf-8");
}
