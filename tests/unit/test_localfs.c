/* test_localfs.c — the local storage layouts (src/localfs/layout.c) and the importer's walk
 * (src/localfs/import.c), with a sink that records what it is given.
 *
 * The metadata texts are those the real programs write: the JS SDK's store __metadata__.json
 * (tab-indented), its record sidecar (an object stringified twice: a JSON string), and
 * crawlee-python's snake_case files. Each test runs in its own temporary directory. */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/mime.h"
#include "localfs/import.h"
#include "localfs/layout.h"
#include "test.h"

#define S(lit) kvs_slice_of(lit)

/* ---- names --------------------------------------------------------------------------------- */

TEST(localfs_classify)
{
    kvs_slice stem;
    ASSERT_EQ(kvs_localfs_classify(S("__metadata__.json"), &stem), KVS_LOCALFS_STORE_META);
    ASSERT_EQ(stem.n, 0);
    ASSERT_EQ(kvs_localfs_classify(S("INPUT.__metadata__.json"), &stem), KVS_LOCALFS_SIDECAR);
    ASSERT_MEM_EQ(stem.p, stem.n, "INPUT");
    ASSERT_EQ(kvs_localfs_classify(S("a.b.__metadata__.json"), &stem), KVS_LOCALFS_SIDECAR);
    ASSERT_MEM_EQ(stem.p, stem.n, "a.b");
    ASSERT_EQ(kvs_localfs_classify(S("data%21.__metadata__.json"), &stem), KVS_LOCALFS_SIDECAR);
    ASSERT_MEM_EQ(stem.p, stem.n, "data%21");
    /* no stem: not a sidecar */
    ASSERT_EQ(kvs_localfs_classify(S(".__metadata__.json"), &stem), KVS_LOCALFS_VALUE);
    ASSERT_EQ(kvs_localfs_classify(S("INPUT.json"), &stem), KVS_LOCALFS_VALUE);
    ASSERT_MEM_EQ(stem.p, stem.n, "INPUT.json");
    ASSERT_EQ(kvs_localfs_classify(S("x.__metadata__.json.bak"), &stem), KVS_LOCALFS_VALUE);
}

TEST(localfs_split_ext_is_nodes_extname)
{
    static const char *const cases[][3] = {
        /* name, stem, extension */
        {"INPUT.json", "INPUT", "json"},
        {"a-b_c.d.json", "a-b_c.d", "json"},
        {"photo.png", "photo", "png"},
        {"INPUT", "INPUT", ""},
        {".env", ".env", ""},
        {"..", "..", ""},
        {".a.b", ".a", "b"},
        {"a.", "a", ""},
        /* leading dots are part of the stem once another '.' follows, as in Node */
        {"....bin", "...", "bin"},
        {"..a", ".", "a"},
        {"...", "..", ""},
        {".a.", ".a", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        kvs_slice stem, ext;
        kvs_localfs_split_ext(S(cases[i][0]), &stem, &ext);
        ASSERT_MEM_EQ(stem.p, stem.n, cases[i][1]);
        ASSERT_MEM_EQ(ext.p ? ext.p : "", ext.n, cases[i][2]);
    }
}

TEST(localfs_key_of_stem_decodes_and_validates)
{
    char key[KVS_KEY_MAX + 1];
    ASSERT_OK(kvs_localfs_key_of_stem(S("INPUT"), key));
    ASSERT_STR_EQ(key, "INPUT");
    ASSERT_OK(kvs_localfs_key_of_stem(S("a-b_c.d"), key));
    ASSERT_STR_EQ(key, "a-b_c.d");
    ASSERT_OK(kvs_localfs_key_of_stem(S("it%27s%281%29%21"), key)); /* quote(key, safe='') */
    ASSERT_STR_EQ(key, "it's(1)!");
    ASSERT_OK(kvs_localfs_key_of_stem(S("x!'()"), key));
    ASSERT_STR_EQ(key, "x!'()");
    /* what decodes to no key, or does not decode */
    ASSERT_ERR(kvs_localfs_key_of_stem(S("a%2Fb"), key), KVS_EBADKEY);
    ASSERT_STR_EQ(key, "");
    ASSERT_ERR(kvs_localfs_key_of_stem(S("..%2F..%2Fetc"), key), KVS_EBADKEY);
    ASSERT_ERR(kvs_localfs_key_of_stem(S("a%2"), key), KVS_EBADKEY);
    ASSERT_ERR(kvs_localfs_key_of_stem(S("a%zz"), key), KVS_EBADKEY);
    ASSERT_ERR(kvs_localfs_key_of_stem(S("a%00"), key), KVS_EBADKEY);
    ASSERT_ERR(kvs_localfs_key_of_stem(S("sp ace"), key), KVS_EBADKEY);
    ASSERT_ERR(kvs_localfs_key_of_stem(S(""), key), KVS_EBADKEY);
    ASSERT_ERR(kvs_localfs_key_of_stem(S("."), key), KVS_EBADKEY);
    ASSERT_ERR(kvs_localfs_key_of_stem(S("%2E%2E"), key), KVS_EBADKEY);
    ASSERT_ERR(kvs_localfs_key_of_stem(S("caf\xc3\xa9"), key), KVS_EBADKEY);
    /* 256 characters are a key, 257 are not, encoded or not */
    char stem[3 * 300];
    memset(stem, 'k', 257);
    ASSERT_OK(kvs_localfs_key_of_stem((kvs_slice){stem, 256}, key));
    ASSERT_EQ(strlen(key), 256);
    ASSERT_ERR(kvs_localfs_key_of_stem((kvs_slice){stem, 257}, key), KVS_EBADKEY);
    for (int i = 0; i < 257; i++)
        memcpy(stem + 3 * i, "%21", 3);
    ASSERT_OK(kvs_localfs_key_of_stem((kvs_slice){stem, 3 * 256}, key));
    ASSERT_EQ(strlen(key), 256);
    ASSERT_ERR(kvs_localfs_key_of_stem((kvs_slice){stem, 3 * 257}, key), KVS_EBADKEY);
}

TEST(localfs_value_record_is_the_js_layout)
{
    char key[KVS_KEY_MAX + 1];
    const char *type;
    ASSERT_OK(kvs_localfs_value_record(S("INPUT.json"), key, &type));
    ASSERT_STR_EQ(key, "INPUT");
    ASSERT_STR_EQ(type, "application/json; charset=utf-8");
    ASSERT_OK(kvs_localfs_value_record(S("a-b_c.d.json"), key, &type));
    ASSERT_STR_EQ(key, "a-b_c.d");
    ASSERT_OK(kvs_localfs_value_record(S("shot.PNG"), key, &type));
    ASSERT_STR_EQ(key, "shot");
    ASSERT_STR_EQ(type, "image/png");
    ASSERT_OK(kvs_localfs_value_record(S("data.weird"), key, &type));
    ASSERT_STR_EQ(key, "data");
    ASSERT_STR_EQ(type, KVS_MIME_DEFAULT);
    ASSERT_OK(kvs_localfs_value_record(S("noext"), key, &type));
    ASSERT_STR_EQ(key, "noext");
    ASSERT_STR_EQ(type, KVS_MIME_DEFAULT);
    /* Node: a name whose only dot leads it has no extension */
    ASSERT_OK(kvs_localfs_value_record(S(".json"), key, &type));
    ASSERT_STR_EQ(key, ".json");
    ASSERT_STR_EQ(type, KVS_MIME_DEFAULT);
    ASSERT_ERR(kvs_localfs_value_record(S("sp ace.txt"), key, &type), KVS_EBADKEY);
    ASSERT_ERR(kvs_localfs_value_record(S("%2E%2E.txt"), key, &type), KVS_EBADKEY); /* ".." */
}

/* ---- record sidecars ----------------------------------------------------------------------- */

static int parse_rec(const char *text, struct kvs_localfs_record_meta *m)
{
    const char *why = NULL;
    int rc = kvs_localfs_parse_record_meta(S(text), m, &why);
    if (rc != 0)
        ASSERT(why != NULL && *why);
    return rc;
}

TEST(localfs_record_meta_as_the_programs_write_it)
{
    struct kvs_localfs_record_meta m;
    /* the JS SDK 3.x with writeMetadata: the object stringified twice */
    ASSERT_OK(parse_rec("\"{\\\"extension\\\":\\\"png\\\",\\\"key\\\":\\\"photo.png\\\","
                        "\\\"contentType\\\":\\\"image/png\\\"}\"",
                        &m));
    ASSERT_STR_EQ(m.key, "photo.png");
    ASSERT_STR_EQ(m.content_type, "image/png");
    ASSERT_STR_EQ(m.extension, "png");
    ASSERT_EQ(m.size, -1);
    /* the same as a plain object (crawlee v4 writes camelCase with size) */
    ASSERT_OK(parse_rec("{\"key\": \"INPUT\", \"contentType\": \"application/json; "
                        "charset=utf-8\", \"size\": 12}",
                        &m));
    ASSERT_STR_EQ(m.key, "INPUT");
    ASSERT_STR_EQ(m.content_type, "application/json; charset=utf-8");
    ASSERT_STR_EQ(m.extension, "");
    ASSERT_EQ(m.size, 12);
    /* crawlee-python: snake_case */
    ASSERT_OK(parse_rec("{\n  \"key\": \"data!\",\n  \"content_type\": \"text/plain\",\n  "
                        "\"size\": 0\n}",
                        &m));
    ASSERT_STR_EQ(m.key, "data!");
    ASSERT_STR_EQ(m.content_type, "text/plain");
    ASSERT_EQ(m.size, 0);
    /* both spellings, agreeing; other fields ignored; no content type at all */
    ASSERT_OK(parse_rec("{\"key\":\"k\",\"contentType\":\"a/b\",\"content_type\":\"a/b\","
                        "\"x\":[1,{}]}",
                        &m));
    ASSERT_STR_EQ(m.content_type, "a/b");
    ASSERT_OK(parse_rec("{\"key\":\"k\",\"contentType\":null,\"size\":null}", &m));
    ASSERT_STR_EQ(m.content_type, "");
    ASSERT_EQ(m.size, -1);
}

TEST(localfs_record_meta_refusals)
{
    struct kvs_localfs_record_meta m;
    ASSERT_ERR(parse_rec("", &m), KVS_EBADJSON);
    ASSERT_ERR(parse_rec("{\"key\": \"k\"", &m), KVS_EBADJSON);
    ASSERT_ERR(parse_rec("[\"k\"]", &m), KVS_EBADJSON);
    ASSERT_ERR(parse_rec("\"just a string\"", &m), KVS_EBADJSON);
    ASSERT_ERR(parse_rec("\"\\\"{\\\\\\\"key\\\\\\\":\\\\\\\"k\\\\\\\"}\\\"\"", &m),
               KVS_EBADJSON); /* stringified three times: one unwrapping only */
    ASSERT_ERR(parse_rec("{\"key\":\"a\",\"key\":\"b\"}", &m), KVS_EBADJSON);
    ASSERT_ERR(parse_rec("{\"key\":\"a\\u0000b\"}", &m), KVS_EBADJSON);
    ASSERT_ERR(parse_rec("{}", &m), KVS_EINVAL);
    ASSERT_ERR(parse_rec("{\"key\": 5}", &m), KVS_EINVAL);
    ASSERT_ERR(parse_rec("{\"key\": \"../../etc/passwd\"}", &m), KVS_EBADKEY);
    ASSERT_ERR(parse_rec("{\"key\": \"a/b\"}", &m), KVS_EBADKEY);
    ASSERT_ERR(parse_rec("{\"key\": \"..\"}", &m), KVS_EBADKEY);
    ASSERT_ERR(parse_rec("{\"key\": \"\"}", &m), KVS_EBADKEY);
    ASSERT_ERR(parse_rec("{\"key\": \"a%21\"}", &m), KVS_EBADKEY); /* the key is not encoded */
    ASSERT_ERR(parse_rec("{\"key\":\"k\",\"contentType\":\"text/plain\\r\\nX-Evil: 1\"}", &m),
               KVS_EINVAL);
    ASSERT_ERR(parse_rec("{\"key\":\"k\",\"contentType\":\"\"}", &m), KVS_EINVAL);
    ASSERT_ERR(parse_rec("{\"key\":\"k\",\"contentType\":\" a/b\"}", &m), KVS_EINVAL);
    ASSERT_ERR(parse_rec("{\"key\":\"k\",\"contentType\":\"caf\\u00e9/x\"}", &m), KVS_EINVAL);
    ASSERT_ERR(parse_rec("{\"key\":\"k\",\"contentType\":7}", &m), KVS_EINVAL);
    /* one media type, as an upload's (common/mediatype.h) */
    ASSERT_ERR(parse_rec("{\"key\":\"k\",\"contentType\":\"text/plain;,text/html\"}", &m),
               KVS_EINVAL);
    ASSERT_ERR(parse_rec("{\"key\":\"k\",\"content_type\":\"text/plain, text/html\"}", &m),
               KVS_EINVAL);
    ASSERT_ERR(parse_rec("{\"key\":\"k\",\"contentType\":\"text\"}", &m), KVS_EINVAL);
    ASSERT_ERR(parse_rec("{\"key\":\"k\",\"contentType\":\"a/b\",\"content_type\":\"a/c\"}", &m),
               KVS_EINVAL);
    ASSERT_ERR(parse_rec("{\"key\":\"k\",\"extension\":\"../x\"}", &m), KVS_EINVAL);
    ASSERT_ERR(parse_rec("{\"key\":\"k\",\"extension\":\"\"}", &m), KVS_EINVAL);
    ASSERT_ERR(parse_rec("{\"key\":\"k\",\"extension\":\"a/b\"}", &m), KVS_EINVAL);
    ASSERT_ERR(parse_rec("{\"key\":\"k\",\"size\":-1}", &m), KVS_EINVAL);
    ASSERT_ERR(parse_rec("{\"key\":\"k\",\"size\":1.5}", &m), KVS_EINVAL);
    ASSERT_ERR(parse_rec("{\"key\":\"k\",\"size\":\"3\"}", &m), KVS_EINVAL);

    /* content type: 255 printable characters pass, 256 do not */
    char text[600];
    char ct[300];
    memset(ct, 'a', sizeof ct);
    ct[1] = '/';
    snprintf(text, sizeof text, "{\"key\":\"k\",\"contentType\":\"%.255s\"}", ct);
    ASSERT_OK(parse_rec(text, &m));
    ASSERT_EQ(strlen(m.content_type), 255);
    snprintf(text, sizeof text, "{\"key\":\"k\",\"contentType\":\"%.256s\"}", ct);
    ASSERT_ERR(parse_rec(text, &m), KVS_EINVAL);
}

TEST(localfs_meta_size_cap)
{
    struct kvs_localfs_record_meta m;
    struct kvs_localfs_store_meta s;
    const char *why;
    size_t n = KVS_LOCALFS_META_MAX + 1;
    char *big = malloc(n);
    ASSERT(big != NULL);
    /* a valid object padded with blanks to one byte over the cap */
    memset(big, ' ', n);
    memcpy(big, "{\"key\":\"k\"}", 11);
    ASSERT_ERR(kvs_localfs_parse_record_meta((kvs_slice){big, n}, &m, &why), KVS_ETOOBIG);
    ASSERT_ERR(kvs_localfs_parse_store_meta((kvs_slice){big, n}, &s, &why), KVS_ETOOBIG);
    ASSERT_OK(kvs_localfs_parse_record_meta((kvs_slice){big, n - 1}, &m, &why));
    /* deep nesting within the cap is refused by the parser, not by the stack */
    memset(big, '[', n - 1);
    ASSERT_ERR(kvs_localfs_parse_record_meta((kvs_slice){big, n - 1}, &m, &why), KVS_EBADJSON);
    free(big);
}

/* ---- store metadata ------------------------------------------------------------------------ */

TEST(localfs_store_meta)
{
    struct kvs_localfs_store_meta s;
    const char *why;
    /* the JS SDK's, tab-indented */
    const char *js = "{\n\t\"id\": \"a3ceea4d-ebea-480d-b483-d5be9824b7f9\",\n\t\"name\": "
                     "\"default\",\n\t\"accessedAt\": \"2026-11-23T14:18:54.419Z\",\n\t"
                     "\"createdAt\": \"2026-11-23T14:18:54.380Z\",\n\t\"modifiedAt\": "
                     "\"2026-11-23T14:18:54.419Z\",\n\t\"userId\": \"1\"\n}";
    ASSERT_OK(kvs_localfs_parse_store_meta(S(js), &s, &why));
    ASSERT_STR_EQ(s.id, "a3ceea4d-ebea-480d-b483-d5be9824b7f9");
    ASSERT_STR_EQ(s.name, "default");
    /* crawlee-python's, an unnamed store */
    ASSERT_OK(kvs_localfs_parse_store_meta(
        S("{\"id\": \"abc\", \"name\": null, \"created_at\": \"2026-01-01T00:00:00\"}"), &s, &why));
    ASSERT_STR_EQ(s.id, "abc");
    ASSERT_STR_EQ(s.name, "");
    ASSERT_OK(kvs_localfs_parse_store_meta(S("{}"), &s, &why));
    ASSERT_ERR(kvs_localfs_parse_store_meta(S("{\"name\": \"my_store\"}"), &s, &why), KVS_EBADNAME);
    ASSERT_ERR(kvs_localfs_parse_store_meta(S("{\"name\": \"-a\"}"), &s, &why), KVS_EBADNAME);
    ASSERT_ERR(kvs_localfs_parse_store_meta(S("{\"name\": 1}"), &s, &why), KVS_EINVAL);
    ASSERT_ERR(kvs_localfs_parse_store_meta(S("{\"id\": {}}"), &s, &why), KVS_EINVAL);
    ASSERT_ERR(kvs_localfs_parse_store_meta(S("{\"id\": \"a\\nb\"}"), &s, &why), KVS_EINVAL);
    ASSERT_ERR(kvs_localfs_parse_store_meta(S("nope"), &s, &why), KVS_EBADJSON);
    ASSERT_ERR(kvs_localfs_parse_store_meta(S("[]"), &s, &why), KVS_EBADJSON);
}

/* ---- the importer's walk ------------------------------------------------------------------- */

/* A sink that writes down what it gets: one line per call, in order. */
struct seen {
    struct kvs_buf log;
    int refuse_store; /* make store() fail */
};

static int seen_store(void *arg, const char *name)
{
    struct seen *s = arg;
    ASSERT_OK(kvs_buf_puts(&s->log, "store "));
    ASSERT_OK(kvs_buf_puts(&s->log, name));
    ASSERT_OK(kvs_buf_puts(&s->log, "\n"));
    return s->refuse_store ? KVS_EACCESS : 0;
}

static int seen_put(void *arg, const struct kvs_import_record *rec)
{
    struct seen *s = arg;
    char line[1024];
    snprintf(line, sizeof line, "put %s/%.*s [%s] %.*s\n", rec->store, (int)rec->key.n, rec->key.p,
             rec->content_type, (int)rec->value.n, rec->value.p ? rec->value.p : "");
    ASSERT_OK(kvs_buf_puts(&s->log, line));
    return 0;
}

static void seen_skip(void *arg, const char *path, enum kvs_import_skip why, const char *detail)
{
    struct seen *s = arg;
    char line[8192];
    snprintf(line, sizeof line, "skip %s (%s)\n", path, kvs_import_skip_name(why));
    ASSERT_OK(kvs_buf_puts(&s->log, line));
    ASSERT(detail != NULL && *detail);
}

static void put_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    ASSERT(f != NULL);
    ASSERT_EQ(fwrite(text, 1, strlen(text), f), strlen(text));
    ASSERT_EQ(fclose(f), 0);
}

/* Import SRC with OPTS into a recording sink; returns the log (free it) and the stats. */
static char *import_log(const char *src, struct kvs_import_opts opts, int refuse,
                        struct kvs_import_stats *st, int *rc)
{
    struct seen s = {.refuse_store = refuse};
    kvs_buf_init(&s.log, 1 << 20);
    struct kvs_import_sink sink = {seen_store, seen_put, seen_skip, &s};
    char msg[512];
    *rc = kvs_import_run(src, &opts, &sink, st, msg, sizeof msg);
    if (*rc != 0)
        ASSERT(msg[0] != '\0');
    ASSERT_OK(kvs_buf_puts(&s.log, ""));
    size_t n;
    char *text = kvs_buf_steal(&s.log, &n);
    return text ? text : strdup("");
}

TEST(localfs_import_a_js_store_directory)
{
    ASSERT_EQ(mkdir("my-store", 0700), 0);
    put_file("my-store/INPUT.json", "{\"a\":1}");
    put_file("my-store/shot.png", "PNG");
    put_file("my-store/a-b_c.d.json", "[]");
    put_file("my-store/notes", "n");
    struct kvs_import_stats st;
    int rc;
    char *log = import_log("my-store/", (struct kvs_import_opts){0}, 0, &st, &rc);
    ASSERT_OK(rc);
    ASSERT_STR_EQ(log, "store my-store\n"
                       "put my-store/INPUT [application/json; charset=utf-8] {\"a\":1}\n"
                       "put my-store/a-b_c.d [application/json; charset=utf-8] []\n"
                       "put my-store/notes [application/octet-stream] n\n"
                       "put my-store/shot [image/png] PNG\n");
    ASSERT_EQ(st.stores, 1);
    ASSERT_EQ(st.records, 4);
    ASSERT_EQ(st.bytes, 7 + 3 + 2 + 1);
    ASSERT_EQ(st.skipped, 0);
    free(log);

    /* --store renames; a dry run calls nothing but counts the same */
    log = import_log("my-store", (struct kvs_import_opts){.store_name = "other"}, 0, &st, &rc);
    ASSERT(strncmp(log, "store other\nput other/INPUT ", 28) == 0);
    free(log);
    log = import_log("my-store", (struct kvs_import_opts){.dry_run = 1}, 0, &st, &rc);
    ASSERT_STR_EQ(log, "");
    ASSERT_EQ(st.stores, 1);
    ASSERT_EQ(st.records, 4);
    free(log);
}

TEST(localfs_import_sidecars_win_and_duplicates_are_reported)
{
    ASSERT_EQ(mkdir("root", 0700), 0);
    ASSERT_EQ(mkdir("root/key_value_stores", 0700), 0);
    ASSERT_EQ(mkdir("root/key_value_stores/default", 0700), 0);
    ASSERT_EQ(mkdir("root/key_value_stores/py", 0700), 0);
    /* JS with writeMetadata: photo.png keeps its key (without the sidecar it would be "photo") */
    put_file("root/key_value_stores/default/photo.png", "P");
    put_file("root/key_value_stores/default/photo.png.__metadata__.json",
             "\"{\\\"extension\\\":\\\"png\\\",\\\"key\\\":\\\"photo.png\\\","
             "\\\"contentType\\\":\\\"image/png\\\"}\"");
    /* the same key from a second file: the sidecar's record wins */
    put_file("root/key_value_stores/default/photo.png.bin", "dup");
    put_file("root/key_value_stores/default/__metadata__.json",
             "{\"id\":\"x\",\"name\":\"default\"}");
    /* python: encoded name, sidecar with the key; the store named by its metadata */
    put_file("root/key_value_stores/py/a%21", "v");
    put_file("root/key_value_stores/py/a%21.__metadata__.json",
             "{\"key\":\"a!\",\"content_type\":\"text/x-custom\",\"size\":1}");
    put_file("root/key_value_stores/py/__metadata__.json",
             "{\"id\":\"y\",\"name\":\"python-store\",\"created_at\":\"2026\"}");
    /* a sidecar without its value file */
    put_file("root/key_value_stores/py/gone.__metadata__.json", "{\"key\":\"gone\"}");
    put_file("root/key_value_stores/stray-file", "not a store");

    struct kvs_import_stats st;
    int rc;
    char *log = import_log("root", (struct kvs_import_opts){0}, 0, &st, &rc);
    ASSERT_OK(rc);
    ASSERT_STR_EQ(log, "store default\n"
                       "put default/photo.png [image/png] P\n"
                       "skip root/key_value_stores/default/photo.png.bin (duplicate key)\n"
                       "skip root/key_value_stores/py/gone.__metadata__.json (no value file)\n"
                       "store python-store\n"
                       "put python-store/a! [text/x-custom] v\n"
                       "skip root/key_value_stores/stray-file (not a regular file)\n");
    ASSERT_EQ(st.stores, 2);
    ASSERT_EQ(st.records, 2);
    ASSERT_EQ(st.skipped, 3);
    ASSERT_EQ(st.by_reason[KVS_SKIP_DUPLICATE], 1);
    free(log);

    /* --store is for one store directory */
    log = import_log("root", (struct kvs_import_opts){.store_name = "x"}, 0, &st, &rc);
    ASSERT_ERR(rc, KVS_EINVAL);
    free(log);
}

TEST(localfs_import_hostile_directory)
{
    ASSERT_EQ(mkdir("h", 0700), 0);
    put_file("outside", "secret");
    put_file("h/good.txt", "ok");
    ASSERT_EQ(symlink("../outside", "h/link.txt"), 0);
    ASSERT_EQ(symlink("../outside", "h/meta.__metadata__.json"), 0);
    put_file("h/meta", "m");
    put_file("h/bad", "b");
    put_file("h/bad.__metadata__.json", "{\"key\":\"../x\"}");
    put_file("h/broken.json", "{}");
    put_file("h/broken.__metadata__.json", "{");
    put_file("h/%2E%2E.txt", "dots");
    ASSERT_EQ(mkfifo("h/fifo", 0600), 0);
    ASSERT_EQ(mkdir("h/sub", 0700), 0);
    /* a value over the limit */
    put_file("h/big.bin", "0123456789");

    struct kvs_import_stats st;
    int rc;
    char *log = import_log("h", (struct kvs_import_opts){.value_max = 9}, 0, &st, &rc);
    ASSERT_OK(rc);
    ASSERT_STR_EQ(log, "skip h/bad.__metadata__.json (invalid key)\n"
                       "skip h/bad (bad metadata)\n"
                       "skip h/broken.__metadata__.json (bad metadata)\n"
                       "skip h/broken.json (bad metadata)\n"
                       "skip h/meta.__metadata__.json (symlink)\n"
                       "skip h/meta (bad metadata)\n"
                       "skip h/%2E%2E.txt (invalid key)\n"
                       "skip h/big.bin (too large)\n"
                       "skip h/fifo (not a regular file)\n"
                       "store h\n"
                       "put h/good [text/plain; charset=utf-8] ok\n"
                       "skip h/link.txt (symlink)\n"
                       "skip h/sub (not a regular file)\n");
    ASSERT_EQ(st.records, 1);
    ASSERT_EQ(st.skipped, 11);
    free(log);

    /* SRC a symlink, a file, missing: refused as a whole */
    ASSERT_EQ(symlink("h", "hlink"), 0);
    log = import_log("hlink", (struct kvs_import_opts){0}, 0, &st, &rc);
    ASSERT_ERR(rc, KVS_EINVAL);
    free(log);
    log = import_log("outside", (struct kvs_import_opts){0}, 0, &st, &rc);
    ASSERT_ERR(rc, KVS_EINVAL);
    free(log);
    log = import_log("missing", (struct kvs_import_opts){0}, 0, &st, &rc);
    ASSERT_ERR(rc, KVS_EIO);
    free(log);
}

TEST(localfs_import_refused_store_and_bad_store_name)
{
    ASSERT_EQ(mkdir("s", 0700), 0);
    put_file("s/a.txt", "1");
    put_file("s/b.txt", "2");
    struct kvs_import_stats st;
    int rc;
    char *log = import_log("s", (struct kvs_import_opts){0}, 1, &st, &rc);
    ASSERT_OK(rc);
    ASSERT_STR_EQ(log, "store s\nskip s/a.txt (refused)\nskip s/b.txt (refused)\n");
    ASSERT_EQ(st.stores, 0);
    ASSERT_EQ(st.skipped, 2);
    free(log);

    ASSERT_EQ(mkdir("not_a_name", 0700), 0);
    put_file("not_a_name/a.txt", "1");
    log = import_log("not_a_name", (struct kvs_import_opts){0}, 0, &st, &rc);
    ASSERT_STR_EQ(log, "skip not_a_name (invalid store name)\n");
    free(log);
    /* the metadata's name serves when the directory's does not */
    put_file("not_a_name/__metadata__.json", "{\"name\":\"good-name\"}");
    log = import_log("not_a_name", (struct kvs_import_opts){0}, 0, &st, &rc);
    ASSERT_STR_EQ(log, "store good-name\nput good-name/a [text/plain; charset=utf-8] 1\n");
    free(log);
    /* a broken store metadata file is reported; the directory's name serves */
    put_file("s/__metadata__.json", "{\"name\": 7}");
    log = import_log("s", (struct kvs_import_opts){0}, 0, &st, &rc);
    ASSERT_STR_EQ(log, "skip s/__metadata__.json (bad metadata)\nstore s\n"
                       "put s/a [text/plain; charset=utf-8] 1\n"
                       "put s/b [text/plain; charset=utf-8] 2\n");
    free(log);
}

/* ---- writing: the names export gives, read back by the import rules ------------------------- */

/* Read record NAMES back as the importer does: through the sidecar when there is one, else from
 * the value file's name; the key and type must be KEY and TYPE. */
static void read_back(const struct kvs_localfs_names *n, enum kvs_localfs_layout layout,
                      const char *key, const char *type)
{
    kvs_slice stem;
    ASSERT_EQ(kvs_localfs_classify(S(n->value), &stem), KVS_LOCALFS_VALUE);
    ASSERT(strchr(n->value, '/') == NULL && strcmp(n->value, ".") && strcmp(n->value, ".."));
    if (n->sidecar[0] == '\0') {
        char got[KVS_KEY_MAX + 1];
        const char *got_type;
        ASSERT_OK(kvs_localfs_value_record(S(n->value), got, &got_type));
        ASSERT_STR_EQ(got, key);
        ASSERT_STR_EQ(got_type, type);
        return;
    }
    ASSERT_EQ(kvs_localfs_classify(S(n->sidecar), &stem), KVS_LOCALFS_SIDECAR);
    /* the importer finds the value file as <stem>.<extension>, or <stem> */
    char value[KVS_LOCALFS_NAME_MAX + 1];
    snprintf(value, sizeof value, "%.*s%s%s", (int)stem.n, stem.p, n->extension[0] ? "." : "",
             n->extension);
    ASSERT_STR_EQ(value, n->value);
    char *text = kvs_localfs_sidecar_json(S(key), type, layout, n, 3);
    ASSERT(text != NULL);
    struct kvs_localfs_record_meta meta;
    const char *why;
    ASSERT_OK(kvs_localfs_parse_record_meta(S(text), &meta, &why));
    ASSERT_STR_EQ(meta.key, key);
    ASSERT_STR_EQ(meta.content_type, type);
    free(text);
}

TEST(localfs_export_names_read_back)
{
    static const char *const keys[] = {
        "INPUT",
        "a.b.c",
        "photo.png",
        "x(1)!'y",
        "...",
        ".env",
        "__metadata__",
        "weird.__metadata__",
        "a.__metadata__.json",
        "k--_.",
        "__metadata__.json",
    };
    static const char *const types[] = {
        "application/json; charset=utf-8", "application/json", "text/plain",
        "text/plain; charset=utf-8",       "image/png",        "application/x-custom; q=1",
        "application/octet-stream",
    };
    for (int layout = KVS_LAYOUT_JS; layout <= KVS_LAYOUT_PYTHON; layout++) {
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
            for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
                struct kvs_localfs_names n;
                ASSERT_OK(kvs_localfs_record_names(S(keys[k]), types[t],
                                                   (enum kvs_localfs_layout)layout, &n));
                read_back(&n, (enum kvs_localfs_layout)layout, keys[k], types[t]);
            }
        }
    }
    /* the JS layout writes a sidecar only where the extension does not carry the type */
    struct kvs_localfs_names n;
    ASSERT_OK(
        kvs_localfs_record_names(S("INPUT"), "application/json; charset=utf-8", KVS_LAYOUT_JS, &n));
    ASSERT_STR_EQ(n.value, "INPUT.json");
    ASSERT_STR_EQ(n.sidecar, "");
    ASSERT_OK(kvs_localfs_record_names(S("INPUT"), "text/plain", KVS_LAYOUT_JS, &n));
    ASSERT_STR_EQ(n.value, "INPUT.txt");
    ASSERT_STR_EQ(n.sidecar, "INPUT.__metadata__.json");
    ASSERT_OK(kvs_localfs_record_names(S("x(1)"), "text/plain", KVS_LAYOUT_PYTHON, &n));
    ASSERT_STR_EQ(n.value, "x%281%29");
    /* refusals: an invalid key, and names longer than a file name may be */
    char long_key[KVS_KEY_MAX + 1];
    memset(long_key, 'k', KVS_KEY_MAX);
    long_key[KVS_KEY_MAX] = '\0';
    ASSERT_ERR(kvs_localfs_record_names(S(long_key), "text/plain", KVS_LAYOUT_JS, &n), KVS_ETOOBIG);
    ASSERT_ERR(kvs_localfs_record_names(S("a/b"), "text/plain", KVS_LAYOUT_JS, &n), KVS_EBADKEY);
    ASSERT_ERR(kvs_localfs_record_names(S(".."), "text/plain", KVS_LAYOUT_PYTHON, &n), KVS_EBADKEY);
    enum kvs_localfs_layout l;
    ASSERT_OK(kvs_localfs_layout_parse("python", &l));
    ASSERT_EQ(l, KVS_LAYOUT_PYTHON);
    ASSERT_ERR(kvs_localfs_layout_parse("xml", &l), KVS_EINVAL);
}
