/* bulkload.c — fill a store with many records straight through the storage API, for the
 * benchmarks (loading a million keys over HTTP one by one would take minutes).
 *
 *   bulkload --data DIR --store STORE_ID --count N [--value-size BYTES] [--prefix P]
 *
 * The server must NOT be running on DIR. The store must exist (create it over HTTP first).
 * Keys are PREFIX + a zero-padded 7-digit (or wider) decimal number, 0 … N-1, so their byte
 * order is their numeric order and key number N/2 is the middle of the store. Values are
 * BYTES (default 100) of text/plain. Writes go through kvs_storage_submit() with about 10,000
 * in flight, so the group-commit writer forms full batches. Prints the rate when done. */
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kvs.h"
#include "storage/storage.h"

#define HALF 5000 /* writes per half of the double buffer: ~10,000 in flight */

struct slot {
    struct kvs_write w;
    char key[KVS_KEY_MAX + 1];
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static unsigned long pending[2]; /* writes of each half not yet done */
static unsigned long failed;
static int first_error;

static void on_done(struct kvs_write *w)
{
    int half = (int)(long)w->arg;
    pthread_mutex_lock(&mu);
    if (w->result != 0) {
        if (failed++ == 0)
            first_error = w->result;
    }
    if (--pending[half] == 0)
        pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static void wait_half(int half)
{
    pthread_mutex_lock(&mu);
    while (pending[half] != 0)
        pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(void)
{
    fprintf(stderr, "usage: bulkload --data DIR --store STORE_ID --count N [--value-size BYTES] "
                    "[--prefix P]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *dir = NULL, *store_id = NULL, *prefix = "k";
    unsigned long count = 0, value_size = 100;
    static const struct option opts[] = {{"data", required_argument, NULL, 'd'},
                                         {"store", required_argument, NULL, 's'},
                                         {"count", required_argument, NULL, 'n'},
                                         {"value-size", required_argument, NULL, 'v'},
                                         {"prefix", required_argument, NULL, 'p'},
                                         {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dir = optarg;
            break;
        case 's':
            store_id = optarg;
            break;
        case 'n':
            count = strtoul(optarg, NULL, 10);
            break;
        case 'v':
            value_size = strtoul(optarg, NULL, 10);
            break;
        case 'p':
            prefix = optarg;
            break;
        default:
            usage();
        }
    }
    if (dir == NULL || store_id == NULL || count == 0 || strlen(store_id) != KVS_ID_LEN ||
        strlen(prefix) > 64 || value_size > (10u << 20))
        usage();

    struct kvs_storage_config cfg = {.dir = dir};
    struct kvs_storage *st;
    int rc = kvs_storage_open_lmdb(&cfg, &st);
    if (rc != 0) {
        fprintf(stderr, "bulkload: cannot open %s: %s\n", dir, kvs_strerror(rc));
        return 1;
    }
    /* The store must exist: the records of a missing store would all fail anyway. */
    struct kvs_read *rd;
    struct kvs_store s = {0};
    rc = kvs_storage_read_begin(st, &rd);
    if (rc == 0) {
        rc = kvs_storage_store_get(rd, kvs_slice_of(store_id), &s);
        kvs_storage_read_end(rd);
    }
    kvs_store_clear(&s);
    if (rc != 0) {
        fprintf(stderr, "bulkload: store %s: %s\n", store_id, kvs_strerror(rc));
        kvs_storage_close(st);
        return 1;
    }

    char *value = malloc(value_size + 1);
    struct slot *slots = calloc(2 * HALF, sizeof *slots);
    if (value == NULL || slots == NULL) {
        fprintf(stderr, "bulkload: out of memory\n");
        return 1;
    }
    for (unsigned long i = 0; i < value_size; i++)
        value[i] = (char)('a' + i % 26);

    double t0 = now_s();
    unsigned long next = 0;
    int half = 0;
    while (next < count) {
        wait_half(half); /* its writes from the previous round are durable: reuse the slots */
        struct slot *base = slots + (size_t)half * HALF;
        unsigned long n = count - next < HALF ? count - next : HALF;
        pthread_mutex_lock(&mu);
        pending[half] = n;
        pthread_mutex_unlock(&mu);
        for (unsigned long i = 0; i < n; i++, next++) {
            struct slot *sl = &base[i];
            memset(&sl->w, 0, sizeof sl->w);
            int kn = snprintf(sl->key, sizeof sl->key, "%s%07lu", prefix, next);
            sl->w.op = KVS_W_RECORD_PUT;
            memcpy(sl->w.store_id, store_id, KVS_ID_LEN + 1);
            sl->w.key = (kvs_slice){sl->key, (size_t)kn};
            sl->w.value = (kvs_slice){value, value_size};
            sl->w.content_type = KVS_SLICE_LIT("text/plain");
            sl->w.encoding = KVS_ENC_IDENTITY;
            sl->w.done = on_done;
            sl->w.arg = (void *)(long)half;
            rc = kvs_storage_submit(st, &sl->w);
            if (rc != 0) {
                fprintf(stderr, "bulkload: submit: %s\n", kvs_strerror(rc));
                return 1;
            }
        }
        half ^= 1;
    }
    wait_half(0);
    wait_half(1);
    double el = now_s() - t0;
    struct kvs_storage_counters ctr;
    kvs_storage_counters(st, &ctr);
    kvs_storage_close(st);
    free(slots);
    free(value);
    if (failed) {
        fprintf(stderr, "bulkload: %lu of %lu writes failed, the first with %s\n", failed, count,
                kvs_strerror(first_error));
        return 1;
    }
    printf("bulkload: %lu records of %lu bytes into %s in %.2f s (%.0f records/s, %llu "
           "transactions)\n",
           count, value_size, store_id, el, (double)count / el, (unsigned long long)ctr.batches);
    return 0;
}
