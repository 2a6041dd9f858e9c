/* import.c — walking SRC and handing its records to a sink (see import.h).
 *
 * One store directory is read in three passes over its sorted listing:
 *   1. the store's __metadata__.json (for its name) and every sidecar, each naming its value
 *      file (`<stem>.<extension>` or `<stem>`);
 *   2. every value file no sidecar claimed, read the JS 3.x way (key from the name, content
 *      type from the extension);
 *   3. the records, sorted by key and rid of duplicates, each value read and handed over.
 * Only names are kept between passes; a value is in memory only while its record is stored. */
#include "localfs/import.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/validate.h"
#include "kvs.h"
#include "localfs/layout.h"

#define PATH_MAX_ 4096

static const char *const skip_names[KVS_SKIP_COUNT_] = {
    [KVS_SKIP_SYMLINK] = "symlink",         [KVS_SKIP_NOT_FILE] = "not a regular file",
    [KVS_SKIP_TOO_BIG] = "too large",       [KVS_SKIP_BAD_KEY] = "invalid key",
    [KVS_SKIP_BAD_META] = "bad metadata",   [KVS_SKIP_NO_VALUE] = "no value file",
    [KVS_SKIP_DUPLICATE] = "duplicate key", [KVS_SKIP_BAD_STORE] = "invalid store name",
    [KVS_SKIP_UNREADABLE] = "unreadable",   [KVS_SKIP_REFUSED] = "refused",
};

const char *kvs_import_skip_name(enum kvs_import_skip why)
{
    return (unsigned)why < KVS_SKIP_COUNT_ ? skip_names[why] : "unknown";
}

struct entry {
    char *name; /* owned */
    enum kvs_localfs_kind kind;
    kvs_slice stem; /* into name */
    int taken;      /* a record (or a refused sidecar) accounts for this file */
};

struct record {
    size_t entry; /* the value file */
    size_t order; /* sidecar records first, then in file-name order: who wins a duplicate */
    char key[KVS_KEY_MAX + 1];
    char content_type[KVS_LOCALFS_CONTENT_TYPE_MAX + 1];
};

struct importer {
    const struct kvs_import_opts *opts;
    const struct kvs_import_sink *sink;
    struct kvs_import_stats *stats;
    size_t value_max;
};

/* One store directory being imported. */
struct store_dir {
    struct importer *im;
    int fd;                 /* the directory, opened without following links */
    char prefix[PATH_MAX_]; /* SRC/... of the directory, for messages */
    char name[KVS_NAME_MAX + 1];
    struct entry *e; /* sorted by name */
    size_t n;
    struct record *r;
    size_t rn, rcap;
};

/* DIR/NAME into OUT, for messages: an absurdly long DIR is cut (it is only shown; files are
 * opened relative to their directory's descriptor, never by these paths). */
static void join(char out[PATH_MAX_], const char *dir, const char *name)
{
    snprintf(out, PATH_MAX_, "%.3800s%s%.255s", dir, name ? "/" : "", name ? name : "");
}

/* ---- reporting ----------------------------------------------------------------------------- */

static void report(struct importer *im, const char *path, enum kvs_import_skip why,
                   const char *detail)
{
    im->sink->skip(im->sink->arg, path, why, detail);
    im->stats->skipped++;
    im->stats->by_reason[why]++;
}

/* Report the file NAME of D as skipped. Returns -1, for the callers' convenience. */
static int skip(struct store_dir *d, const char *name, enum kvs_import_skip why, const char *detail)
{
    char path[PATH_MAX_];
    join(path, d->prefix, name);
    report(d->im, path, why, detail);
    return -1;
}

/* ---- reading files ------------------------------------------------------------------------- */

/* Read the regular file NAME of D, at most MAX bytes, into OUT (initialised here; the caller
 * frees it). WHAT names the file's role in messages. Returns 0, or -1 having reported why. */
static int read_file(struct store_dir *d, const char *name, size_t max, const char *what,
                     struct kvs_buf *out)
{
    char detail[160];
    struct stat sb;
    kvs_buf_init(out, max);
    /* look before opening: opening a device or a FIFO may block or have effects */
    if (fstatat(d->fd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
        return skip(d, name, KVS_SKIP_UNREADABLE, strerror(errno));
    if (S_ISLNK(sb.st_mode))
        return skip(d, name, KVS_SKIP_SYMLINK, "a symbolic link, not followed");
    if (!S_ISREG(sb.st_mode))
        return skip(d, name, KVS_SKIP_NOT_FILE, "not a regular file");
    int fd = openat(d->fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return skip(d, name, errno == ELOOP ? KVS_SKIP_SYMLINK : KVS_SKIP_UNREADABLE,
                    strerror(errno));
    int rc = -1;
    if (fstat(fd, &sb) != 0) { /* the file may have been swapped since fstatat */
        skip(d, name, KVS_SKIP_UNREADABLE, strerror(errno));
        goto out;
    }
    if (!S_ISREG(sb.st_mode)) {
        skip(d, name, KVS_SKIP_NOT_FILE, "not a regular file");
        goto out;
    }
    if ((uint64_t)sb.st_size > max) {
        snprintf(detail, sizeof detail, "%s of %llu bytes, over the limit of %zu", what,
                 (unsigned long long)sb.st_size, max);
        skip(d, name, KVS_SKIP_TOO_BIG, detail);
        goto out;
    }
    for (;;) {
        size_t left = max - out->n;
        char one;
        /* with no room left, one more byte means the file grew past the limit */
        char *room = left ? kvs_buf_reserve(out, left < 65536 ? left : 65536) : &one;
        ssize_t got = read(fd, room, left ? (left < 65536 ? left : 65536) : 1);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            skip(d, name, KVS_SKIP_UNREADABLE, strerror(errno));
            goto out;
        }
        if (got == 0)
            break;
        if (left == 0) {
            snprintf(detail, sizeof detail, "%s grew over the limit of %zu bytes", what, max);
            skip(d, name, KVS_SKIP_TOO_BIG, detail);
            goto out;
        }
        kvs_buf_commit(out, (size_t)got);
    }
    rc = 0;
out:
    close(fd);
    return rc;
}

/* ---- the listing --------------------------------------------------------------------------- */

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct entry *)a)->name, ((const struct entry *)b)->name);
}

/* List D's entries into D->e, sorted. Returns 0 or -1 (reported). */
static int list_dir(struct store_dir *d)
{
    int fd = dup(d->fd);
    DIR *dir = fd < 0 ? NULL : fdopendir(fd);
    if (dir == NULL) {
        if (fd >= 0)
            close(fd);
        report(d->im, d->prefix, KVS_SKIP_UNREADABLE, strerror(errno));
        return -1;
    }
    size_t cap = 0;
    struct dirent *de;
    errno = 0;
    while ((de = readdir(dir)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (d->n == cap) {
            cap = cap ? 2 * cap : 64;
            d->e = kvs_xrealloc(d->e, cap * sizeof *d->e);
        }
        d->e[d->n++] = (struct entry){.name = kvs_xstrdup(de->d_name)};
    }
    int failed = errno != 0;
    closedir(dir);
    if (failed) {
        report(d->im, d->prefix, KVS_SKIP_UNREADABLE, "cannot list the directory");
        return -1;
    }
    if (d->n > 0)
        qsort(d->e, d->n, sizeof *d->e, by_name);
    for (size_t i = 0; i < d->n; i++)
        d->e[i].kind = kvs_localfs_classify(kvs_slice_of(d->e[i].name), &d->e[i].stem);
    return 0;
}

/* The first entry whose name is >= NAME (binary search over the sorted listing). */
static size_t lower_bound(const struct store_dir *d, const char *name)
{
    size_t lo = 0, hi = d->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(d->e[mid].name, name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The free value file named STEM, or STEM.EXT when EXT is not empty; -1 when there is none. */
static long find_value(const struct store_dir *d, kvs_slice stem, const char *ext)
{
    char name[PATH_MAX_];
    snprintf(name, sizeof name, "%.*s%s%s", (int)stem.n, stem.p, *ext ? "." : "", ext);
    size_t i = lower_bound(d, name);
    if (i < d->n && strcmp(d->e[i].name, name) == 0 && d->e[i].kind == KVS_LOCALFS_VALUE &&
        !d->e[i].taken)
        return (long)i;
    return -1;
}

static struct record *add_record(struct store_dir *d, size_t entry)
{
    if (d->rn == d->rcap) {
        d->rcap = d->rcap ? 2 * d->rcap : 64;
        d->r = kvs_xrealloc(d->r, d->rcap * sizeof *d->r);
    }
    struct record *r = &d->r[d->rn];
    memset(r, 0, sizeof *r);
    r->entry = entry;
    r->order = d->rn++;
    return r;
}

/* ---- pass 1: metadata ---------------------------------------------------------------------- */

/* The store's name: opts, else its metadata's `name`, else DIRNAME. Returns 0 or -1. */
static int store_name(struct store_dir *d, const char *dirname)
{
    const char *name = d->im->opts->store_name;
    struct kvs_localfs_store_meta meta = {0};
    size_t i = lower_bound(d, KVS_LOCALFS_STORE_META_FILE);
    if (i < d->n && d->e[i].kind == KVS_LOCALFS_STORE_META) {
        d->e[i].taken = 1;
        struct kvs_buf text;
        const char *why;
        if (read_file(d, d->e[i].name, KVS_LOCALFS_META_MAX, "metadata file", &text) == 0 &&
            kvs_localfs_parse_store_meta(kvs_buf_slice(&text), &meta, &why) != 0)
            skip(d, d->e[i].name, KVS_SKIP_BAD_META, why); /* the directory's name serves */
        kvs_buf_free(&text);
    }
    if (name == NULL)
        name = meta.name[0] ? meta.name : dirname;
    if (!kvs_valid_store_name(kvs_slice_of(name))) {
        char detail[160];
        snprintf(detail, sizeof detail,
                 "'%.63s' is not a valid store name (1-63 letters, digits, inner hyphens); "
                 "give one with --store",
                 name);
        report(d->im, d->prefix, KVS_SKIP_BAD_STORE, detail);
        return -1;
    }
    snprintf(d->name, sizeof d->name, "%s", name);
    return 0;
}

/* A sidecar was refused: so are the value files it would describe (STEM, STEM.*), lest they
 * be imported under a key or type the sidecar did not give. */
static void refuse_values(struct store_dir *d, kvs_slice stem)
{
    char name[PATH_MAX_];
    snprintf(name, sizeof name, "%.*s", (int)stem.n, stem.p);
    for (size_t i = lower_bound(d, name); i < d->n; i++) {
        struct entry *e = &d->e[i];
        if (strncmp(e->name, name, stem.n) != 0)
            break; /* past the names starting with STEM */
        kvs_slice vstem, ext;
        kvs_localfs_split_ext(kvs_slice_of(e->name), &vstem, &ext);
        if (e->kind != KVS_LOCALFS_VALUE || e->taken ||
            !(kvs_slice_eq(e->stem, stem) || kvs_slice_eq(vstem, stem)))
            continue;
        e->taken = 1;
        skip(d, e->name, KVS_SKIP_BAD_META, "its metadata file was refused");
    }
}

static void read_sidecar(struct store_dir *d, size_t i)
{
    struct entry *e = &d->e[i];
    struct kvs_buf text;
    struct kvs_localfs_record_meta meta;
    const char *why;
    e->taken = 1;
    if (read_file(d, e->name, KVS_LOCALFS_META_MAX, "metadata file", &text) != 0) {
        kvs_buf_free(&text);
        refuse_values(d, e->stem);
        return;
    }
    int rc = kvs_localfs_parse_record_meta(kvs_buf_slice(&text), &meta, &why);
    kvs_buf_free(&text);
    if (rc != 0) {
        skip(d, e->name, rc == KVS_EBADKEY ? KVS_SKIP_BAD_KEY : KVS_SKIP_BAD_META, why);
        refuse_values(d, e->stem);
        return;
    }
    long v = meta.extension[0] ? find_value(d, e->stem, meta.extension) : -1;
    if (v < 0)
        v = find_value(d, e->stem, "");
    if (v < 0) {
        char detail[2 * PATH_MAX_];
        if (meta.extension[0])
            snprintf(detail, sizeof detail, "no value file '%.*s.%s' or '%.*s'", (int)e->stem.n,
                     e->stem.p, meta.extension, (int)e->stem.n, e->stem.p);
        else
            snprintf(detail, sizeof detail, "no value file '%.*s'", (int)e->stem.n, e->stem.p);
        skip(d, e->name, KVS_SKIP_NO_VALUE, detail);
        return;
    }
    d->e[v].taken = 1;
    struct record *r = add_record(d, (size_t)v);
    snprintf(r->key, sizeof r->key, "%s", meta.key);
    if (meta.content_type[0]) {
        snprintf(r->content_type, sizeof r->content_type, "%s", meta.content_type);
    } else { /* a sidecar without a type: the value file's extension says it */
        char ignored[KVS_KEY_MAX + 1];
        const char *type;
        (void)kvs_localfs_value_record(kvs_slice_of(d->e[v].name), ignored, &type);
        snprintf(r->content_type, sizeof r->content_type, "%s", type);
    }
}

/* ---- pass 2: value files alone ------------------------------------------------------------- */

static void read_value_name(struct store_dir *d, size_t i)
{
    struct entry *e = &d->e[i];
    char key[KVS_KEY_MAX + 1];
    const char *type;
    e->taken = 1;
    if (kvs_localfs_value_record(kvs_slice_of(e->name), key, &type) != 0) {
        skip(d, e->name, KVS_SKIP_BAD_KEY,
             "the file name is not a record key (1-256 of a-zA-Z0-9!-_.'(), "
             "percent-encoded or not) plus an extension");
        return;
    }
    struct record *r = add_record(d, i);
    snprintf(r->key, sizeof r->key, "%s", key);
    snprintf(r->content_type, sizeof r->content_type, "%s", type);
}

/* ---- pass 3: the records ------------------------------------------------------------------- */

static int by_key(const void *a, const void *b)
{
    const struct record *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : (x->order > y->order) - (x->order < y->order);
}

static void put_records(struct store_dir *d)
{
    struct importer *im = d->im;
    int opened = 0, refused = 0;
    if (d->rn > 0)
        qsort(d->r, d->rn, sizeof *d->r, by_key);
    for (size_t i = 0; i < d->rn; i++) {
        struct record *r = &d->r[i];
        const char *file = d->e[r->entry].name;
        if (i > 0 && strcmp(r->key, d->r[i - 1].key) == 0) {
            char detail[PATH_MAX_ + 64];
            snprintf(detail, sizeof detail, "key '%s' is already given by '%s'", r->key,
                     d->e[d->r[i - 1].entry].name);
            skip(d, file, KVS_SKIP_DUPLICATE, detail);
            continue;
        }
        if (refused) {
            skip(d, file, KVS_SKIP_REFUSED, "its store could not be opened");
            continue;
        }
        struct kvs_buf value;
        if (read_file(d, file, im->value_max, "value", &value) != 0) {
            kvs_buf_free(&value);
            continue;
        }
        char path[PATH_MAX_];
        join(path, d->prefix, file);
        struct kvs_import_record rec = {
            .store = d->name,
            .key = kvs_slice_of(r->key),
            .value = kvs_buf_slice(&value),
            .content_type = r->content_type,
            .path = path,
        };
        int rc = 0;
        if (!im->opts->dry_run && !opened) {
            rc = im->sink->store(im->sink->arg, d->name);
            refused = rc != 0;
        }
        if (rc == 0 && !im->opts->dry_run)
            rc = im->sink->put(im->sink->arg, &rec);
        kvs_buf_free(&value);
        if (rc != 0) {
            skip(d, file, KVS_SKIP_REFUSED,
                 refused ? "its store could not be opened" : "the record was not stored");
            continue;
        }
        if (!opened)
            im->stats->stores++;
        opened = 1;
        im->stats->records++;
        im->stats->bytes += rec.value.n;
    }
}

/* ---- a store directory --------------------------------------------------------------------- */

/* Import the store directory FD (owned: closed here), named DIRNAME, shown as PREFIX. */
static void import_store(struct importer *im, int fd, const char *dirname, const char *prefix)
{
    struct store_dir d = {.im = im, .fd = fd};
    join(d.prefix, prefix, NULL);
    if (list_dir(&d) == 0 && store_name(&d, dirname) == 0) {
        for (size_t i = 0; i < d.n; i++) {
            if (d.e[i].kind == KVS_LOCALFS_SIDECAR)
                read_sidecar(&d, i);
        }
        for (size_t i = 0; i < d.n; i++) {
            if (d.e[i].kind == KVS_LOCALFS_VALUE && !d.e[i].taken)
                read_value_name(&d, i);
        }
        put_records(&d);
    }
    for (size_t i = 0; i < d.n; i++)
        free(d.e[i].name);
    free(d.e);
    free(d.r);
    close(fd);
}

/* Import every store directory under the storage root's key_value_stores (the open FD,
 * owned), shown as PREFIX. Returns 0 or KVS_EIO (MSG says why). */
static int import_root(struct importer *im, int fd, const char *prefix, char *msg, size_t msg_n)
{
    /* the root is listed like a store directory; its entries are the stores */
    struct store_dir root = {.im = im, .fd = fd};
    join(root.prefix, prefix, NULL);
    int rc = 0;
    if (list_dir(&root) != 0) {
        snprintf(msg, msg_n, "cannot list %s", prefix);
        rc = KVS_EIO;
    }
    for (size_t i = 0; rc == 0 && i < root.n; i++) {
        const char *name = root.e[i].name;
        struct stat sb;
        if (fstatat(fd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0) {
            skip(&root, name, KVS_SKIP_UNREADABLE, strerror(errno));
            continue;
        }
        if (S_ISLNK(sb.st_mode)) {
            skip(&root, name, KVS_SKIP_SYMLINK, "a symbolic link, not followed");
            continue;
        }
        if (!S_ISDIR(sb.st_mode)) {
            skip(&root, name, KVS_SKIP_NOT_FILE, "not a store directory");
            continue;
        }
        int sfd = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sfd < 0) {
            skip(&root, name, errno == ELOOP ? KVS_SKIP_SYMLINK : KVS_SKIP_UNREADABLE,
                 strerror(errno));
            continue;
        }
        char sub[PATH_MAX_];
        join(sub, prefix, name);
        import_store(im, sfd, name, sub);
    }
    for (size_t i = 0; i < root.n; i++)
        free(root.e[i].name);
    free(root.e);
    close(fd);
    return rc;
}

int kvs_import_run(const char *src, const struct kvs_import_opts *opts,
                   const struct kvs_import_sink *sink, struct kvs_import_stats *stats, char *msg,
                   size_t msg_n)
{
    struct importer im = {
        .opts = opts,
        .sink = sink,
        .stats = stats,
        .value_max = opts->value_max ? opts->value_max : KVS_LOCALFS_VALUE_MAX,
    };
    memset(stats, 0, sizeof *stats);
    msg[0] = '\0';

    /* SRC without its trailing slashes, for messages and for its name */
    char prefix[PATH_MAX_];
    size_t n = strlen(src);
    while (n > 1 && src[n - 1] == '/')
        n--;
    if (n >= sizeof prefix) {
        snprintf(msg, msg_n, "the path is too long");
        return KVS_EINVAL;
    }
    snprintf(prefix, sizeof prefix, "%.*s", (int)n, src);

    int fd = open(prefix, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        struct stat sb;
        if (e == ELOOP || (e == ENOTDIR && lstat(prefix, &sb) == 0 && S_ISLNK(sb.st_mode))) {
            snprintf(msg, msg_n, "%s is a symbolic link; give the directory itself", prefix);
            return KVS_EINVAL;
        }
        snprintf(msg, msg_n, "cannot open the directory %s: %s", prefix, strerror(e));
        return e == ENOTDIR ? KVS_EINVAL : KVS_EIO;
    }

    struct stat sb;
    if (fstatat(fd, KVS_LOCALFS_STORES_DIR, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
        (S_ISDIR(sb.st_mode) || S_ISLNK(sb.st_mode))) {
        int rc = 0;
        int kfd = -1;
        if (S_ISLNK(sb.st_mode)) {
            snprintf(msg, msg_n, "%s/%s is a symbolic link, not followed", prefix,
                     KVS_LOCALFS_STORES_DIR);
            rc = KVS_EINVAL;
        } else if (opts->store_name != NULL) {
            snprintf(msg, msg_n,
                     "%s is a storage root (it holds %s/): --store is for one store directory",
                     prefix, KVS_LOCALFS_STORES_DIR);
            rc = KVS_EINVAL;
        } else if ((kfd = openat(fd, KVS_LOCALFS_STORES_DIR,
                                 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
            snprintf(msg, msg_n, "cannot open %s/%s: %s", prefix, KVS_LOCALFS_STORES_DIR,
                     strerror(errno));
            rc = KVS_EIO;
        }
        close(fd);
        if (rc != 0)
            return rc;
        char sub[PATH_MAX_];
        join(sub, prefix, KVS_LOCALFS_STORES_DIR);
        return import_root(&im, kfd, sub, msg, msg_n);
    }

    const char *base = strrchr(prefix, '/');
    base = base && base[1] ? base + 1 : prefix;
    import_store(&im, fd, base, prefix);
    return 0;
}
