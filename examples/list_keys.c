/* list_keys.c — walk every key of a store with libkvs's iterator (paging is hidden inside).
 *
 *   KVS_URL=... KVS_TOKEN=... list_keys STORE [PREFIX]
 *
 * Prints one "KEY SIZE" line per key, in byte order, then "N keys, B bytes". */
#include <inttypes.h>
#include <kvs/client.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    if (argc != 2 && argc != 3) {
        fprintf(stderr, "usage: list_keys STORE [PREFIX] (with KVS_URL and KVS_TOKEN set)\n");
        return 2;
    }
    kvs_client *c;
    int rc = kvs_client_open_env(&c);
    if (rc != 0) {
        fprintf(stderr, "list_keys: cannot open a client: %s\n", kvs_strerror(rc));
        return 1;
    }
    kvs_keys *it;
    const struct kvs_key_info *k;
    uint64_t n = 0;
    int64_t bytes = 0;
    rc = kvs_keys_open(c, argv[1], argc == 3 ? argv[2] : NULL, &it);
    while (rc == 0 && (rc = kvs_keys_next(it, &k)) == 1) {
        printf("%s %" PRId64 "\n", k->key, k->size);
        n++;
        bytes += k->size;
        rc = 0;
    }
    kvs_keys_close(it);
    if (rc < 0)
        fprintf(stderr, "list_keys: %s\n", kvs_client_errmsg(c));
    else
        printf("%" PRIu64 " keys, %" PRId64 " bytes\n", n, bytes);
    kvs_client_close(c);
    return rc < 0 ? 1 : 0;
}
