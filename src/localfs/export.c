/* export.c — a store of a server into a local storage directory (see export.h). */
#include "localfs/export.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fs.h"
#include "common/mime.h"
#include "common/validate.h"

#define TMP_NAME ".kvs-export.part" /* where a value is written before its rename */

struct exporter {
    kvs_client *c;
    enum kvs_localfs_layout layout;
    kvs_export_skip_fn skip;
    void *arg;
    struct kvs_export_stats *stats;
    const char *store_id;
    int fd; /* the store's directory */
    char *msg;
    size_t msg_n;
};

static int fail(struct exporter *x, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct exporter *x, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->msg, x->msg_n, fmt, ap);
    va_end(ap);
    return code;
}

/* A failure RC of a libkvs call about WHAT, with the client's message. */
static int fail_api(struct exporter *x, int rc, const char *what)
{
    int status = kvs_client_status(x->c);
    const char *m = kvs_client_errmsg(x->c);
    if (status >= 300 || status < 200)
        return fail(x, rc, "%s: %s (HTTP %d)", what, m[0] ? m : kvs_strerror(rc), status);
    return fail(x, rc, "%s: %s", what, m[0] ? m : kvs_strerror(rc));
}

/* Open (creating it if need be) the directory NAME in the directory AT into *OUT, never
 * through a link; EMPTY: it must hold nothing. SHOWN is its path for messages. Returns 0 or
 * an error with the message set in X (*OUT is then -1). */
static int open_dir(struct exporter *x, int at, const char *name, const char *shown, int empty,
                    int *out)
{
    *out = -1;
    if (mkdirat(at, name, 0777) != 0 && errno != EEXIST)
        return fail(x, KVS_EIO, "cannot create %s: %s", shown, strerror(errno));
    int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        struct stat sb; /* O_DIRECTORY says ENOTDIR for a link before O_NOFOLLOW says ELOOP */
        if (e == ELOOP || (e == ENOTDIR && fstatat(at, name, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
                           S_ISLNK(sb.st_mode)))
            return fail(x, KVS_EACCESS, "%s is a symbolic link, not followed", shown);
        return fail(x, e == ENOTDIR ? KVS_EACCESS : KVS_EIO, "cannot open %s: %s", shown,
                    strerror(e));
    }
    if (!empty) {
        *out = fd;
        return 0;
    }
    int dup_fd = dup(fd);
    DIR *d = dup_fd < 0 ? NULL : fdopendir(dup_fd);
    struct dirent *de;
    int found = 0;
    while (d && (de = readdir(d)) != NULL)
        found |= strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
    if (d)
        closedir(d);
    else if (dup_fd >= 0)
        close(dup_fd);
    if (d == NULL || found) {
        close(fd);
        return fail(x, d ? KVS_EEXIST : KVS_EIO, "%s %s", shown,
                    d ? "is not empty: export into a new directory" : "cannot be listed");
    }
    *out = fd;
    return 0;
}

/* Write all N bytes of TEXT to FD. Returns 0 or an errno value. */
static int write_all(int fd, const char *text, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, text, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return errno;
        text += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Create the temporary file of X's store directory, empty. Returns its descriptor or -1. */
static int open_tmp(struct exporter *x)
{
    int fd = openat(x->fd, TMP_NAME, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd < 0)
        fail(x, KVS_EIO, "cannot write in %s: %s", x->stats->dir, strerror(errno));
    return fd;
}

/* Move the temporary file (open as FD, closed here) to NAME. Returns 0 or an error. */
static int commit_tmp(struct exporter *x, int fd, const char *name)
{
    int rc = close(fd) != 0 || renameat(x->fd, TMP_NAME, x->fd, name) != 0;
    if (rc != 0) {
        int e = errno;
        unlinkat(x->fd, TMP_NAME, 0);
        return fail(x, KVS_EIO, "cannot write %s/%s: %s", x->stats->dir, name, strerror(e));
    }
    return 0;
}

/* Write the file NAME holding TEXT (NULL: out of memory). Returns 0 or an error. */
static int write_file(struct exporter *x, const char *name, char *text)
{
    if (text == NULL)
        return fail(x, KVS_ENOMEM, "out of memory");
    int fd = open_tmp(x);
    int e = fd < 0 ? -1 : write_all(fd, text, strlen(text));
    free(text);
    if (fd < 0)
        return KVS_EIO;
    if (e != 0) {
        close(fd);
        unlinkat(x->fd, TMP_NAME, 0);
        return fail(x, KVS_EIO, "cannot write %s/%s: %s", x->stats->dir, name, strerror(e));
    }
    return commit_tmp(x, fd, name);
}

static void skip(struct exporter *x, const char *key, const char *why)
{
    x->stats->skipped++;
    x->skip(x->arg, key, why);
}

/* Export the record KEY. Returns 0 (also when it is skipped) or an error that stops all. */
static int export_record(void *arg, const struct kvs_key_info *k)
{
    struct exporter *x = arg;
    if (!kvs_valid_key(kvs_slice_of(k->key))) {
        skip(x, k->key, "not a valid record key: it cannot name a file");
        return 0;
    }
    int fd = open_tmp(x);
    if (fd < 0)
        return KVS_EIO;
    struct kvs_record_meta meta;
    int rc = kvs_record_get_fd(x->c, x->store_id, k->key, fd, &meta);
    struct stat sb;
    if (rc == 0 && fstat(fd, &sb) != 0)
        rc = fail(x, KVS_EIO, "cannot write in %s: %s", x->stats->dir, strerror(errno));
    else if (rc == KVS_ENOTFOUND)
        skip(x, k->key, "deleted while the store was being exported");
    else if (rc != 0)
        fail_api(x, rc, k->key);
    if (rc != 0) {
        close(fd);
        unlinkat(x->fd, TMP_NAME, 0);
        return rc == KVS_ENOTFOUND ? 0 : rc;
    }
    const char *type = meta.content_type[0] ? meta.content_type : KVS_MIME_DEFAULT;
    struct kvs_localfs_names names;
    rc = kvs_localfs_record_names(kvs_slice_of(k->key), type, x->layout, &names);
    if (rc != 0) {
        close(fd);
        unlinkat(x->fd, TMP_NAME, 0);
        skip(x, k->key, "the key is too long for a file name in this layout");
        return 0;
    }
    rc = commit_tmp(x, fd, names.value);
    if (rc == 0 && names.sidecar[0])
        rc = write_file(x, names.sidecar,
                        kvs_localfs_sidecar_json(kvs_slice_of(k->key), type, x->layout, &names,
                                                 (int64_t)sb.st_size));
    if (rc == 0) {
        x->stats->records++;
        x->stats->bytes += (uint64_t)sb.st_size;
    }
    return rc;
}

int kvs_export_run(kvs_client *c, const char *store, const char *dir,
                   enum kvs_localfs_layout layout, kvs_export_skip_fn skip_fn, void *arg,
                   struct kvs_export_stats *stats, char *msg, size_t msg_n)
{
    struct exporter x = {.c = c,
                         .layout = layout,
                         .skip = skip_fn,
                         .arg = arg,
                         .stats = stats,
                         .fd = -1,
                         .msg = msg,
                         .msg_n = msg_n};
    memset(stats, 0, sizeof *stats);
    msg[0] = '\0';
    struct kvs_store_info *s;
    int rc = kvs_store_get(c, store, &s);
    if (rc != 0)
        return fail_api(&x, rc, store);
    /* the directory's name comes from the server: it must be one path component */
    const char *name = s->name ? s->name : s->id;
    int valid = s->name ? kvs_valid_store_name(kvs_slice_of(s->name))
                        : s->id && kvs_valid_id(kvs_slice_of(s->id));
    if (!valid || !s->id || !kvs_valid_id(kvs_slice_of(s->id))) {
        kvs_free(s);
        return fail(&x, KVS_EPROTO, "%s: the server's store name or ID is not valid", store);
    }
    x.store_id = s->id;
    snprintf(stats->dir, sizeof stats->dir, "%s/%s/%s", dir, KVS_LOCALFS_STORES_DIR, name);
    int root = -1, stores = -1;
    int e = kvs_make_dirs(dir);
    if (e != 0) {
        rc = fail(&x, KVS_EIO, "cannot create %s: %s", dir, strerror(e));
    } else if ((root = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
        rc = fail(&x, KVS_EIO, "cannot open %s: %s", dir, strerror(errno));
    } else {
        char shown[4200];
        snprintf(shown, sizeof shown, "%s/%s", dir, KVS_LOCALFS_STORES_DIR);
        rc = open_dir(&x, root, KVS_LOCALFS_STORES_DIR, shown, 0, &stores);
        if (rc == 0)
            rc = open_dir(&x, stores, name, stats->dir, 1, &x.fd);
    }
    if (rc == 0)
        rc = write_file(&x, KVS_LOCALFS_STORE_META_FILE,
                        kvs_localfs_store_meta_json(layout, s->id, s->name, s->created_at,
                                                    s->modified_at, s->accessed_at));
    if (rc == 0) {
        rc = kvs_keys_each(c, s->id, NULL, export_record, &x);
        if (rc != 0 && msg[0] == '\0')
            fail_api(&x, rc, store); /* the listing itself failed */
    }
    if (x.fd >= 0)
        close(x.fd);
    if (stores >= 0)
        close(stores);
    if (root >= 0)
        close(root);
    kvs_free(s);
    return rc;
}
