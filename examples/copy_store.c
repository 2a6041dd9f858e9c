/* copy_store.c — copy every record of one store into another, streaming each value through a
 * temporary file: libkvs reads and writes records through file descriptors without holding a
 * whole value in memory.
 *
 *   KVS_URL=... KVS_TOKEN=... copy_store FROM TO
 *
 * TO is created when it does not exist; each record keeps its content type. Prints
 * "copied N records". */
#include <kvs/client.h>
#include <stdio.h>
#include <unistd.h>

struct copy {
    kvs_client *c;
    const char *from, *to;
    FILE *tmp; /* one scratch file, rewound for each record */
    unsigned long n;
};

/* Copy the record KEY: FROM → the scratch file → TO. Returns 0 or a KVS_E... code. */
static int copy_one(void *arg, const struct kvs_key_info *k)
{
    struct copy *cp = arg;
    int fd = fileno(cp->tmp);
    struct kvs_record_meta meta;
    if (lseek(fd, 0, SEEK_SET) != 0 || ftruncate(fd, 0) != 0)
        return KVS_EIO;
    int rc = kvs_record_get_fd(cp->c, cp->from, k->key, fd, &meta);
    if (rc == 0 && lseek(fd, 0, SEEK_SET) != 0)
        rc = KVS_EIO;
    if (rc == 0)
        rc = kvs_record_put_fd(cp->c, cp->to, k->key, fd, meta.content_type);
    if (rc == 0)
        cp->n++;
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: copy_store FROM TO (with KVS_URL and KVS_TOKEN set)\n");
        return 2;
    }
    struct copy cp = {.from = argv[1], .to = argv[2], .tmp = tmpfile()};
    if (cp.tmp == NULL) {
        perror("copy_store: tmpfile");
        return 1;
    }
    int rc = kvs_client_open_env(&cp.c);
    if (rc != 0) {
        fprintf(stderr, "copy_store: cannot open a client: %s\n", kvs_strerror(rc));
        fclose(cp.tmp);
        return 1;
    }
    rc = kvs_store_get_or_create(cp.c, cp.to, NULL, NULL);
    if (rc == 0)
        rc = kvs_keys_each(cp.c, cp.from, NULL, copy_one, &cp);
    if (rc == 0)
        printf("copied %lu records\n", cp.n);
    else
        fprintf(stderr, "copy_store: %s (%s)\n",
                kvs_client_errmsg(cp.c)[0] ? kvs_client_errmsg(cp.c) : kvs_strerror(rc),
                kvs_errname(rc));
    kvs_client_close(cp.c);
    fclose(cp.tmp);
    return rc == 0 ? 0 : 1;
}
