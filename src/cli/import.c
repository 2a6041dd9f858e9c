/* import.c — `kvs import`: an Apify/Crawlee local storage directory into kvstore.
 *
 *   kvs import [--store NAME] [--dry-run] (--data DIR | --url URL --token TOKEN) SRC
 *
 * SRC is one store directory (storage/key_value_stores/NAME) or a storage root holding
 * key_value_stores/; localfs/import.h reads it (both layouts, every safety rule) and this file
 * only stores what it hands over, one of two ways:
 *   --url URL --token TOKEN  through the API of a running server, as the token's user: the
 *                            store is created by name (POST /v2/key-value-stores?name=), each
 *                            record PUT with its content type, so the server's rules (access,
 *                            key rule, --max-record-size) apply to every record
 *   --data DIR               through the storage layer, as the user 'admin', who owns the
 *                            stores created; the server may be running meanwhile (as for
 *                            `kvs user --data`)
 * The store is NAME (--store; SRC must then be one store directory), else the store metadata's
 * name, else the directory's name; an existing store of that name is written into.
 * --dry-run reads and checks everything and stores nothing (no destination is needed).
 * Each skipped file is one line on stderr; the last line on stdout sums up. Exit status: 0 when
 * every file was imported, 1 when any was skipped or SRC could not be read, 2 usage error. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "common/log.h"
#include "common/validate.h"
#include "kvs.h"
#include "localfs/import.h"
#include "storage/storage.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: kvs import [--store NAME] [--dry-run] (--data DIR | --url URL --token TOKEN) "
            "SRC\n"
            "\n"
            "Import an Apify SDK / Crawlee / crawlee-python local storage: SRC is a store\n"
            "directory (storage/key_value_stores/NAME) or a storage root (every store under its\n"
            "key_value_stores/). Records are <KEY>.<ext> files (content type from the\n"
            "extension) or value files with a <KEY>.__metadata__.json sidecar (which wins).\n"
            "\n"
            "  --store NAME   the store to import into (SRC must be one store directory);\n"
            "                 default: the store's metadata name, else the directory's name\n"
            "  --dry-run      read and check everything, store nothing\n"
            "  --data DIR     write into the data directory DIR, as user admin\n"
            "  --url URL      a running server (default $KVS_URL), with\n"
            "  --token TOKEN  an API token (default $KVS_TOKEN) of the user to own the stores\n"
            "\n"
            "Symbolic links are never followed. Files that cannot be imported are reported and\n"
            "skipped, and the exit status is then 1.\n");
}

#define usage_error(...) kvs_cli_usage_error("kvs import --help", __VA_ARGS__)

static void on_skip(void *arg, const char *path, enum kvs_import_skip why, const char *detail)
{
    fprintf(stderr, "kvs: import: skipped %s (%s): %s\n", path, kvs_import_skip_name(why), detail);
}

/* ---- through the API ----------------------------------------------------------------------- */

struct remote {
    kvs_client *c;
    char store_id[KVS_ID_LEN + 1];
};

static int remote_store(void *arg, const char *name)
{
    struct remote *r = arg;
    struct kvs_store_info *s;
    int rc = kvs_store_get_or_create(r->c, name, &s, NULL);
    if (rc != 0) {
        kvs_cli_api_fail(r->c, rc, "store %s", name);
        return rc;
    }
    int ok = s->id && kvs_valid_id(kvs_slice_of(s->id));
    if (ok)
        memcpy(r->store_id, s->id, sizeof r->store_id);
    else
        kvs_cli_fail("the server's answer to creating store %s holds no store ID", name);
    kvs_free(s);
    return ok ? 0 : KVS_EPROTO;
}

static int remote_put(void *arg, const struct kvs_import_record *rec)
{
    struct remote *r = arg;
    char key[KVS_KEY_MAX + 1];
    snprintf(key, sizeof key, "%.*s", (int)rec->key.n, rec->key.p);
    int rc = kvs_record_put(r->c, r->store_id, key, rec->value.p, rec->value.n, rec->content_type);
    if (rc != 0)
        kvs_cli_api_fail(r->c, rc, "%s", rec->path);
    return rc;
}

/* ---- on a data directory ------------------------------------------------------------------- */

struct local {
    struct kvs_storage *st;
    char user_id[KVS_ID_LEN + 1]; /* admin's */
    char store_id[KVS_ID_LEN + 1];
};

/* Open the storage of DIR, which must already hold one, and find the admin. Returns 0 or 1
 * (printed); L->st is then to be closed either way. */
static int local_open(struct local *l, const char *dir)
{
    int rc = kvs_cli_open_data(dir, &l->st);
    if (rc != 0)
        return rc;
    struct kvs_read *rd;
    struct kvs_user admin;
    rc = kvs_storage_read_begin(l->st, &rd);
    if (rc == 0) {
        rc = kvs_storage_user_by_name(rd, KVS_SLICE_LIT("admin"), &admin);
        kvs_storage_read_end(rd);
    }
    if (rc != 0)
        return kvs_cli_fail("cannot find user admin in %s: %s", dir, kvs_strerror(rc));
    memcpy(l->user_id, admin.id, sizeof l->user_id);
    return 0;
}

static int local_store(void *arg, const char *name)
{
    struct local *l = arg;
    struct kvs_write w = {.op = KVS_W_STORE_CREATE};
    memcpy(w.store.user_id, l->user_id, sizeof w.store.user_id);
    snprintf(w.store.name, sizeof w.store.name, "%s", name);
    w.store.general_access = KVS_GA_FOLLOW_USER_SETTING; /* as POST /v2/key-value-stores */
    int rc = kvs_storage_write(l->st, &w);
    if (rc == 0 || rc == KVS_EEXIST) { /* EEXIST: .store is the existing one */
        memcpy(l->store_id, w.store.id, sizeof l->store_id);
        rc = 0;
    } else {
        kvs_cli_fail("cannot create store %s: %s", name, kvs_strerror(rc));
    }
    kvs_store_clear(&w.store);
    return rc;
}

static int local_put(void *arg, const struct kvs_import_record *rec)
{
    struct local *l = arg;
    struct kvs_write w = {
        .op = KVS_W_RECORD_PUT,
        .key = rec->key,
        .value = rec->value,
        .content_type = kvs_slice_of(rec->content_type),
        .encoding = KVS_ENC_IDENTITY,
    };
    memcpy(w.store_id, l->store_id, sizeof w.store_id);
    int rc = kvs_storage_write(l->st, &w);
    if (rc != 0)
        kvs_cli_fail("cannot store %s in store %s: %s", rec->path, rec->store, kvs_strerror(rc));
    return rc;
}

/* ---- the command --------------------------------------------------------------------------- */

/* Print the summary line; returns the exit status it stands for. */
static int summary(const struct kvs_import_stats *s, int dry_run)
{
    printf("%s %llu store%s, %llu record%s, %llu bytes; skipped %llu",
           dry_run ? "dry run: would import" : "imported", (unsigned long long)s->stores,
           s->stores == 1 ? "" : "s", (unsigned long long)s->records, s->records == 1 ? "" : "s",
           (unsigned long long)s->bytes, (unsigned long long)s->skipped);
    const char *sep = " (";
    for (int i = 0; i < KVS_SKIP_COUNT_; i++) {
        if (s->by_reason[i] == 0)
            continue;
        printf("%s%s: %llu", sep, kvs_import_skip_name((enum kvs_import_skip)i),
               (unsigned long long)s->by_reason[i]);
        sep = ", ";
    }
    printf("%s\n", s->skipped ? ")" : "");
    return s->skipped ? 1 : 0;
}

static int run(const struct kvs_cli_req *req, const struct kvs_import_opts *opts, const char *src)
{
    struct kvs_import_stats stats;
    struct kvs_import_sink sink = {.skip = on_skip};
    struct remote rem = {0};
    struct local loc = {0};
    char msg[512];
    int status = 0;
    if (opts->dry_run) {
        /* nothing is stored: no destination is opened */
    } else if (req->data) {
        status = local_open(&loc, req->data);
        sink = (struct kvs_import_sink){local_store, local_put, on_skip, &loc};
    } else {
        status = kvs_cli_connect(req->url, req->token, -1, &rem.c);
        sink = (struct kvs_import_sink){remote_store, remote_put, on_skip, &rem};
    }
    if (status == 0) {
        int rc = kvs_import_run(src, opts, &sink, &stats, msg, sizeof msg);
        status = rc != 0 ? kvs_cli_fail("%s", msg) : summary(&stats, opts->dry_run);
    }
    kvs_storage_close(loc.st);
    kvs_client_close(rem.c);
    return status;
}

int kvs_cli_import_main(int argc, char **argv)
{
    enum { O_DATA = 1, O_URL, O_TOKEN, O_STORE, O_DRY, O_HELP };
    static const struct option options[] = {
        {"data", required_argument, NULL, O_DATA},
        {"url", required_argument, NULL, O_URL},
        {"token", required_argument, NULL, O_TOKEN},
        {"store", required_argument, NULL, O_STORE},
        {"dry-run", no_argument, NULL, O_DRY},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    struct kvs_cli_req req = {0};
    struct kvs_import_opts opts = {0};
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        switch (c) {
        case O_DATA:
            if (*optarg == '\0')
                return usage_error("--data needs a directory");
            req.data = optarg;
            break;
        case O_URL:
            req.url = optarg;
            break;
        case O_TOKEN:
            req.token = optarg;
            break;
        case O_STORE:
            if (!kvs_valid_store_name(kvs_slice_of(optarg)))
                return usage_error("--store: a store name is 1-63 letters, digits and inner "
                                   "hyphens");
            opts.store_name = optarg;
            break;
        case O_DRY:
            opts.dry_run = 1;
            break;
        case O_HELP:
        case 'h':
            usage(stdout);
            return 0;
        case ':':
            return usage_error("an option needs a value");
        default:
            return usage_error("unknown option");
        }
    }
    /* getopt leaves argv[0] ("import") in place and moves SRC to the end */
    if (argc - optind != 1)
        return usage_error(argc - optind < 1 ? "give the directory to import"
                                             : "too many arguments");
    const char *src = argv[optind];
    /* a dry run reads SRC only: it needs no server nor data directory */
    int rc = kvs_cli_resolve_target(&req, !opts.dry_run, "kvs import --help");
    if (rc != 0)
        return rc;
    kvs_log_set_level(KVS_LOG_WARN);
    return run(&req, &opts, src);
}
