/* lmdb_frag.c — does LMDB fragment under large-value churn? (issue: records up to 10 MiB)
 *
 * Usage: lmdb_frag DIR [ROUNDS]
 * Keeps LIVE records of random sizes from 64 KiB to 10 MiB in one store, then overwrites
 * random keys with new random sizes ROUNDS times (default 2000), and prints, every 200
 * rounds, the bytes live in records, the data file's size, and their ratio. LMDB reuses freed
 * pages only as runs of contiguous pages for an overflow value; if runs of the needed length
 * are rarely free, the file grows although the live data does not. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "storage/storage.h"

#define LIVE 64
#define MIN_SIZE (64 * 1024)
#define MAX_SIZE (10 * 1024 * 1024)

static int put(struct kvs_storage *st, const char *store, int k, size_t size, const char *bytes)
{
    char key[32];
    snprintf(key, sizeof key, "k%03d", k);
    struct kvs_write w = {.op = KVS_W_RECORD_PUT};
    memcpy(w.store_id, store, sizeof w.store_id);
    w.key = kvs_slice_of(key);
    w.value = (kvs_slice){bytes, size};
    w.content_type = KVS_SLICE_LIT("application/octet-stream");
    return kvs_storage_write(st, &w);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: lmdb_frag DIR [ROUNDS]\n");
        return 2;
    }
    int rounds = argc > 2 ? atoi(argv[2]) : 2000;
    struct kvs_storage_config cfg = {.dir = argv[1]};
    struct kvs_storage *st;
    if (kvs_storage_open_lmdb(&cfg, &st) != 0)
        return 1;
    struct kvs_write w = {.op = KVS_W_USER_CREATE};
    snprintf(w.user.username, sizeof w.user.username, "frag");
    w.user.default_access = KVS_GA_RESTRICTED;
    if (kvs_storage_write(st, &w) != 0)
        return 1;
    struct kvs_write c = {.op = KVS_W_STORE_CREATE};
    memcpy(c.store.user_id, w.user.id, sizeof c.store.user_id);
    if (kvs_storage_write(st, &c) != 0)
        return 1;
    char *bytes = malloc(MAX_SIZE);
    for (size_t i = 0; i < MAX_SIZE; i++)
        bytes[i] = (char)rand();
    size_t sizes[LIVE], live = 0;
    srand(42);
    for (int k = 0; k < LIVE; k++) {
        sizes[k] = MIN_SIZE + (size_t)rand() % (MAX_SIZE - MIN_SIZE);
        live += sizes[k];
        if (put(st, c.store.id, k, sizes[k], bytes) != 0)
            return 1;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/data.mdb", argv[1]);
    printf("%8s %12s %12s %7s\n", "round", "live MiB", "file MiB", "file/live");
    for (int r = 0; r <= rounds; r++) {
        if (r % 200 == 0) {
            struct stat sb;
            stat(path, &sb);
            printf("%8d %12.1f %12.1f %7.2f\n", r, live / 1048576.0, sb.st_size / 1048576.0,
                   (double)sb.st_size / (double)live);
            fflush(stdout);
        }
        int k = rand() % LIVE;
        size_t size = MIN_SIZE + (size_t)rand() % (MAX_SIZE - MIN_SIZE);
        live = live - sizes[k] + size;
        sizes[k] = size;
        if (put(st, c.store.id, k, size, bytes) != 0)
            return 1;
    }
    kvs_storage_close(st);
    free(bytes);
    return 0;
}
