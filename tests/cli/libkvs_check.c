/* libkvs_check.c — libkvs's API against a running server, built the way a user builds it:
 * `cc libkvs_check.c $(pkg-config --cflags --libs kvs)` on an installed libkvs (see
 * libkvs.test.mjs, which runs it with KVS_URL and KVS_TOKEN set and a fresh store name).
 *
 * Each CHECK names what failed and the client's last error; the program exits 1 at the first
 * failure and prints "libkvs check: N checks passed" at the end. */
#include <errno.h>
#include <kvs/client.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int checks;
static kvs_client *c;

#define CHECK(expr)                                                                                \
    do {                                                                                           \
        checks++;                                                                                  \
        if (!(expr)) {                                                                             \
            fprintf(stderr, "%s:%d: CHECK(%s) failed; last error: [%s] %s (HTTP %d)\n", __FILE__,  \
                    __LINE__, #expr, c ? kvs_client_errtype(c) : "", c ? kvs_client_errmsg(c) : "", \
                    c ? kvs_client_status(c) : 0);                                                 \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

/* A temporary file holding N pseudo-random bytes (seed SEED), rewound. */
static FILE *random_file(size_t n, unsigned seed)
{
    FILE *f = tmpfile();
    CHECK(f != NULL);
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        fputc((int)(seed >> 16) & 0xff, f);
    }
    fflush(f);
    rewind(f);
    return f;
}

/* Whether files A and B (rewound here) hold the same bytes. */
static int same_bytes(FILE *a, FILE *b)
{
    rewind(a);
    rewind(b);
    int x, y;
    do {
        x = fgetc(a);
        y = fgetc(b);
        if (x != y)
            return 0;
    } while (x != EOF);
    return 1;
}

/* ---- threads: one client each --------------------------------------------------------------- */

struct worker {
    const char *store;
    int n, failures;
    pthread_t tid;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    kvs_client *mine;
    if (kvs_client_open_env(&mine) != 0) {
        w->failures++;
        return NULL;
    }
    for (int i = 0; i < 20; i++) {
        char key[64], value[64];
        snprintf(key, sizeof key, "t%d-%d", w->n, i);
        snprintf(value, sizeof value, "value %d of thread %d", i, w->n);
        struct kvs_record *r = NULL;
        if (kvs_record_put(mine, w->store, key, value, strlen(value), "text/plain") != 0 ||
            kvs_record_get(mine, w->store, key, &r) != 0 || strcmp(r->value, value) != 0)
            w->failures++;
        kvs_free(r);
    }
    kvs_client_close(mine);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: libkvs_check STORE-NAME (KVS_URL, KVS_TOKEN set)\n");
        return 2;
    }
    const char *name = argv[1];
    CHECK(strcmp(kvs_version(), KVS_VERSION) == 0);
    kvs_client *bad = (kvs_client *)1;
    CHECK(kvs_client_open("ftp://example.com", NULL, &bad) == KVS_EINVAL && bad == NULL);
    CHECK(kvs_client_open_env(&c) == 0);
    kvs_free(NULL);
    kvs_client_close(NULL);

    /* errors: the code, the server's type, message and status */
    struct kvs_store_info *s = NULL, *s2 = NULL;
    CHECK(kvs_store_get(c, name, &s) == KVS_ENOTFOUND && s == NULL);
    CHECK(strcmp(kvs_client_errtype(c), "record-not-found") == 0);
    CHECK(kvs_client_status(c) == 404 && kvs_client_errmsg(c)[0] != '\0');
    struct kvs_record *r = (struct kvs_record *)1;
    CHECK(kvs_record_get(c, NULL, "k", &r) == KVS_EINVAL && r == NULL);

    /* stores */
    int created = 0;
    CHECK(kvs_store_get_or_create(c, name, &s, &created) == 0 && created == 1);
    CHECK(strcmp(kvs_client_errmsg(c), "") == 0 && kvs_client_status(c) == 201);
    CHECK(s->id && strlen(s->id) == 17 && strcmp(s->name, name) == 0);
    CHECK(s->url_signing_secret_key != NULL && s->json[0] == '{' && s->record_count == 0);
    CHECK(kvs_store_get_or_create(c, name, &s2, &created) == 0 && created == 0);
    CHECK(strcmp(s2->id, s->id) == 0);
    kvs_free(s2);
    struct kvs_store_page *pg;
    CHECK(kvs_store_list(c, 0, 0, 0, &pg) == 0 && pg->count >= 1 && pg->total >= pg->count);
    int listed = 0;
    for (uint64_t i = 0; i < pg->count; i++)
        listed |= strcmp(pg->items[i].id, s->id) == 0;
    CHECK(listed);
    kvs_free(pg);

    /* records in memory */
    CHECK(kvs_record_put(c, name, "greeting", "hello", 5, "text/plain; charset=utf-8") == 0);
    CHECK(kvs_record_get(c, s->id, "greeting", &r) == 0);
    CHECK(r->size == 5 && memcmp(r->value, "hello", 6) == 0); /* with its NUL */
    CHECK(strcmp(r->content_type, "text/plain; charset=utf-8") == 0);
    kvs_free(r);
    CHECK(kvs_record_put(c, name, "empty", NULL, 0, NULL) == 0);
    CHECK(kvs_record_get(c, name, "empty", &r) == 0 && r->size == 0 && r->value[0] == '\0');
    CHECK(strcmp(r->content_type, "application/octet-stream") == 0);
    kvs_free(r);
    CHECK(kvs_record_get(c, name, "nope", &r) == KVS_ENOTFOUND && r == NULL);
    CHECK(kvs_record_put(c, name, "bad/key", "x", 1, NULL) == KVS_EBADKEY);
    CHECK(strcmp(kvs_client_errtype(c), "invalid-record-key") == 0);

    /* streams: a 3 MiB file both ways, and a pipe (sent chunked) */
    FILE *big = random_file(3u << 20, 7);
    CHECK(kvs_record_put_fd(c, name, "big", fileno(big), "application/x-big") == 0);
    FILE *back = tmpfile();
    struct kvs_record_meta meta;
    CHECK(kvs_record_get_fd(c, name, "big", fileno(back), &meta) == 0);
    CHECK(meta.size == 3 << 20 && strcmp(meta.content_type, "application/x-big") == 0);
    CHECK(same_bytes(big, back));
    fclose(back);
    int pfd[2];
    CHECK(pipe(pfd) == 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) { /* the writer: the big file into the pipe */
        close(pfd[0]);
        rewind(big);
        char buf[65536];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, big)) > 0)
            if (write(pfd[1], buf, n) != (ssize_t)n)
                _exit(1);
        _exit(0);
    }
    close(pfd[1]);
    CHECK(kvs_record_put_fd(c, name, "piped", pfd[0], NULL) == 0);
    close(pfd[0]);
    int status;
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    back = tmpfile();
    CHECK(kvs_record_get_fd(c, name, "piped", fileno(back), NULL) == 0);
    CHECK(same_bytes(big, back));
    fclose(back);
    fclose(big);
    CHECK(kvs_record_get_fd(c, name, "nope", 1, &meta) == KVS_ENOTFOUND);

    /* HEAD, exists, delete */
    CHECK(kvs_record_head(c, name, "greeting", &meta) == 0 && meta.size == 5);
    CHECK(kvs_record_exists(c, name, "greeting") == 1);
    CHECK(kvs_record_exists(c, name, "nope") == 0);
    CHECK(kvs_record_delete(c, name, "greeting") == 0);
    CHECK(kvs_record_exists(c, name, "greeting") == 0);
    CHECK(kvs_record_delete(c, name, "greeting") == 0);

    /* keys: the iterator, a prefix, a callback that stops */
    for (int i = 4; i >= 0; i--) {
        char key[16];
        snprintf(key, sizeof key, "p-%d", i);
        CHECK(kvs_record_put(c, name, key, "x", 1, NULL) == 0);
    }
    kvs_keys *it;
    const struct kvs_key_info *k;
    CHECK(kvs_keys_open(c, name, "p-", &it) == 0);
    int n = 0;
    while (kvs_keys_next(it, &k) == 1) {
        char want[16];
        snprintf(want, sizeof want, "p-%d", n++);
        CHECK(strcmp(k->key, want) == 0 && k->size == 1 && k->record_public_url != NULL);
    }
    CHECK(n == 5 && kvs_keys_next(it, &k) == 0 && k == NULL);
    kvs_keys_close(it);
    CHECK(kvs_keys_open(c, "no-such-store", NULL, &it) == 0);
    CHECK(kvs_keys_next(it, &k) == KVS_ENOTFOUND);
    kvs_keys_close(it);

    /* the SDK's INPUT and OUTPUT */
    CHECK(kvs_record_put(c, name, "INPUT", "{\"q\":1}", 7, "application/json") == 0);
    CHECK(kvs_input_get(c, name, &r) == 0 && strcmp(r->value, "{\"q\":1}") == 0);
    kvs_free(r);
    CHECK(kvs_record_put(c, name, "MYIN", "2", 1, "application/json") == 0);
    CHECK(setenv("ACTOR_INPUT_KEY", "MYIN", 1) == 0);
    CHECK(kvs_input_get(c, name, &r) == 0 && strcmp(r->value, "2") == 0);
    kvs_free(r);
    CHECK(kvs_output_put(c, name, "[1]", 3, NULL) == 0);
    CHECK(kvs_record_get(c, name, "OUTPUT", &r) == 0);
    CHECK(strcmp(r->content_type, "application/json; charset=utf-8") == 0);
    kvs_free(r);

    /* the store's statistics follow */
    CHECK(kvs_store_get(c, name, &s2) == 0 && s2->record_count == 11 && s2->storage_bytes > 0);
    kvs_free(s2);

    /* signed links */
    char *url;
    CHECK(kvs_record_url(c, name, "p-1", &url) == 0);
    CHECK(strstr(url, s->id) && strstr(url, "/records/p-1?signature=") != NULL);
    kvs_free(url);
    CHECK(kvs_keys_url(c, name, 3600, &url) == 0 && strstr(url, "/keys?signature=") != NULL);
    kvs_free(url);
    CHECK(kvs_keys_url(c, name, -1, &url) == KVS_EINVAL);

    /* threads, one client each */
    struct worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){.store = name, .n = i};
        CHECK(pthread_create(&w[i].tid, NULL, work, &w[i]) == 0);
    }
    for (int i = 0; i < 4; i++) {
        CHECK(pthread_join(w[i].tid, NULL) == 0);
        CHECK(w[i].failures == 0);
    }

    /* rename, general access, delete */
    char renamed[128];
    snprintf(renamed, sizeof renamed, "%s-2", name);
    CHECK(kvs_store_rename(c, name, renamed, &s2) == 0 && strcmp(s2->name, renamed) == 0);
    kvs_free(s2);
    CHECK(kvs_store_set_access(c, renamed, "ANYONE_WITH_ID_CAN_READ", &s2) == 0);
    CHECK(strcmp(s2->general_access, "ANYONE_WITH_ID_CAN_READ") == 0);
    kvs_free(s2);
    CHECK(kvs_store_set_access(c, renamed, "EVERYONE", NULL) == KVS_EINVAL);
    CHECK(kvs_client_status(c) == 400);
    CHECK(kvs_store_rename(c, s->id, NULL, &s2) == 0 && s2->name == NULL);
    kvs_free(s2);
    CHECK(kvs_store_delete(c, s->id) == 0);
    CHECK(kvs_store_get(c, s->id, &s2) == KVS_ENOTFOUND && s2 == NULL);
    kvs_free(s);

    /* a client whose token is wrong */
    kvs_client *wrong;
    CHECK(kvs_client_open(getenv("KVS_URL"), "wrong-token", &wrong) == 0);
    CHECK(kvs_store_list(wrong, 0, 0, 0, &pg) == KVS_EBADTOKEN);
    CHECK(kvs_client_status(wrong) == 401);
    kvs_client_close(wrong);

    kvs_client_close(c);
    c = NULL;
    printf("libkvs check: %d checks passed\n", checks);
    return 0;
}
