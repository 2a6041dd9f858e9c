/* put_get.c — store a text record and read it back with libkvs.
 *
 *   KVS_URL=http://127.0.0.1:8787 KVS_TOKEN=... put_get STORE KEY VALUE
 *
 * Creates the store STORE when it does not exist, writes VALUE as text/plain under KEY, reads
 * it back and prints "KEY = VALUE (content type)". Exit status 1 on any failure, with the
 * server's message. */
#include <kvs/client.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: put_get STORE KEY VALUE (with KVS_URL and KVS_TOKEN set)\n");
        return 2;
    }
    const char *store = argv[1], *key = argv[2], *value = argv[3];
    kvs_client *c;
    int rc = kvs_client_open_env(&c);
    if (rc != 0) {
        fprintf(stderr, "put_get: cannot open a client: %s\n", kvs_strerror(rc));
        return 1;
    }
    struct kvs_record *r = NULL;
    rc = kvs_store_get_or_create(c, store, NULL, NULL);
    if (rc == 0)
        rc = kvs_record_put(c, store, key, value, strlen(value), "text/plain; charset=utf-8");
    if (rc == 0)
        rc = kvs_record_get(c, store, key, &r);
    if (rc == 0)
        printf("%s = %s (%s)\n", key, r->value, r->content_type);
    else
        fprintf(stderr, "put_get: %s (%s)\n", kvs_client_errmsg(c), kvs_errname(rc));
    kvs_free(r);
    kvs_client_close(c);
    return rc == 0 ? 0 : 1;
}
