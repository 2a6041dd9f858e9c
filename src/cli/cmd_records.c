/* cmd_records.c — kvs get, set, del, exists and Apify's spellings of them (see cli.h). */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/mime.h"
#include "localfs/layout.h"

/* ---- get ----------------------------------------------------------------------------------- */

/* Record KEY of STORE into the file OUTPUT: through a temporary file beside it, renamed over
 * OUTPUT once the value is complete, so a failed or cut transfer leaves OUTPUT as it was. */
static int get_to_file(kvs_client *c, const char *store, const char *key, const char *output)
{
    char *copy = strdup(output);
    if (copy == NULL)
        return kvs_cli_fail("out of memory");
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s/.kvs-get-XXXXXX", dirname(copy));
    free(copy);
    int fd = mkstemp(tmp);
    if (fd < 0)
        return kvs_cli_fail("cannot write beside %s: %s", output, strerror(errno));
    mode_t mask = umask(0);
    umask(mask);
    int rc = 0;
    if (fchmod(fd, 0666 & ~mask) != 0) { /* mkstemp's 0600 → what a new file would get */
        rc = kvs_cli_fail("cannot write %s: %s", tmp, strerror(errno));
    } else {
        struct kvs_cli_progress p;
        kvs_cli_progress_begin(&p, c, "get");
        int api = kvs_record_get_fd(c, store, key, fd, NULL);
        kvs_cli_progress_end(&p, c);
        if (api != 0)
            rc = kvs_cli_fail_about(c, api, &(struct kvs_cli_about){store, key, .size = -1});
    }
    if (close(fd) != 0 && rc == 0)
        rc = kvs_cli_fail("cannot write %s: %s", output, strerror(errno));
    if (rc == 0 && rename(tmp, output) != 0)
        rc = kvs_cli_fail("cannot write %s: %s", output, strerror(errno));
    if (rc != 0)
        unlink(tmp);
    return rc;
}

/* Whether a value of media type TYPE is text a terminal can show (the type's parameters, such
 * as a charset, aside). */
static int textual(const char *type)
{
    static const char *const exact[] = {
        "application/json",       "application/xml",      "application/javascript",
        "application/ecmascript", "application/x-ndjson", "application/x-www-form-urlencoded",
        "application/yaml",       "application/x-yaml",   "application/toml",
        "application/csv",        "application/sql",      "application/graphql",
    };
    size_t n = strcspn(type, "; \t");
    if (n >= 5 && strncasecmp(type, "text/", 5) == 0)
        return 1;
    if ((n > 5 && strncasecmp(type + n - 5, "+json", 5) == 0) ||
        (n > 4 && strncasecmp(type + n - 4, "+xml", 4) == 0))
        return 1;
    for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++) {
        if (strlen(exact[i]) == n && strncasecmp(type, exact[i], n) == 0)
            return 1;
    }
    return 0;
}

#define SNIFF_MAX (4u << 20) /* a text record up to this size is read whole and looked at */

/* Refuse to write binary data to a terminal, as curl does: it is no use to read there, and
 * escape sequences in it can change the terminal's settings. Returns the exit status. */
static int refuse_binary(const char *store, const char *key, const char *type, int64_t size)
{
    char sz[32];
    fprintf(stderr,
            "kvs: %s %s is binary (%s, %s): not written to the terminal; write it to a file "
            "with -o FILE or redirect it (kvs get %s %s > FILE, or | to a program)\n",
            store, key, type[0] ? type : "no content type", kvs_cli_bytes(size, sz), store, key);
    return 2;
}

/* Record KEY of STORE on stdout, a terminal: text is written, binary data refused. The type
 * comes from a HEAD first; a text record of up to SNIFF_MAX bytes is read whole and refused
 * too if it holds a NUL byte (curl's test for binary output). */
static int get_to_terminal(kvs_client *c, const char *store, const char *key)
{
    const struct kvs_cli_about about = {store, key, .size = -1};
    struct kvs_record_meta m;
    int rc = kvs_record_head(c, store, key, &m);
    if (rc != 0)
        return kvs_cli_fail_about(c, rc, &about);
    if (!textual(m.content_type))
        return refuse_binary(store, key, m.content_type, m.size);
    if (m.size < 0 || m.size > SNIFF_MAX) {
        rc = kvs_record_get_fd(c, store, key, STDOUT_FILENO, NULL);
        return rc ? kvs_cli_fail_about(c, rc, &about) : 0;
    }
    struct kvs_record *r;
    rc = kvs_record_get(c, store, key, &r);
    if (rc != 0)
        return kvs_cli_fail_about(c, rc, &about);
    if (memchr(r->value, 0, r->size) != NULL) {
        rc = refuse_binary(store, key, r->content_type, (int64_t)r->size);
    } else if (fwrite(r->value, 1, r->size, stdout) != r->size || fflush(stdout) != 0) {
        rc = kvs_cli_fail("cannot write the value: %s", strerror(errno));
    }
    kvs_free(r);
    return rc;
}

static int get(kvs_client *c, const char *store, const char *key, const char *output)
{
    if (output != NULL && strcmp(output, "-") != 0)
        return get_to_file(c, store, key, output);
    if (kvs_cli_stdout_tty())
        return get_to_terminal(c, store, key);
    fflush(stdout); /* the value goes straight to the descriptor */
    struct kvs_cli_progress p;
    kvs_cli_progress_begin(&p, c, "get");
    int rc = kvs_record_get_fd(c, store, key, STDOUT_FILENO, NULL);
    kvs_cli_progress_end(&p, c);
    return rc ? kvs_cli_fail_about(c, rc, &(struct kvs_cli_about){store, key, .size = -1}) : 0;
}

int kvs_cli_cmd_get(kvs_client *c, const struct kvs_cli_opts *o)
{
    return get(c, o->args[0], o->args[1], o->output);
}

int kvs_cli_cmd_get_record(kvs_client *c, const struct kvs_cli_opts *o)
{
    if (o->store_name == NULL || o->key == NULL)
        return kvs_cli_usage_error("kvs get-record --help", "give --store-name and --key");
    return get(c, o->store_name, o->key, o->output);
}

/* ---- set ----------------------------------------------------------------------------------- */

const char *kvs_cli_type_of_name(const char *path)
{
    const char *base = strrchr(path, '/');
    kvs_slice stem, ext;
    kvs_localfs_split_ext(kvs_slice_of(base ? base + 1 : path), &stem, &ext);
    return ext.n ? kvs_mime_type_of_ext(ext) : NULL;
}

/* Store what FD holds (FILE, "-" for stdin) as record KEY of STORE with TYPE. Returns the
 * exit status. */
static int put_fd(kvs_client *c, const char *store, const char *key, int fd, const char *file,
                  const char *type)
{
    struct kvs_cli_progress p;
    kvs_cli_progress_begin(&p, c, "set");
    int rc = kvs_record_put_fd(c, store, key, fd, type);
    kvs_cli_progress_end(&p, c);
    if (rc != 0) {
        struct stat sb;
        int64_t size = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) ? (int64_t)sb.st_size : -1;
        return kvs_cli_fail_about(c, rc,
                                  &(struct kvs_cli_about){store, key, .file = file, .size = size});
    }
    printf("stored %s in %s (%s)\n", key, store, type);
    return 0;
}

int kvs_cli_cmd_set(kvs_client *c, const struct kvs_cli_opts *o)
{
    const char *file = o->nargs > 2 ? o->args[2] : "-";
    int stdin_ = strcmp(file, "-") == 0;
    const char *type = o->content_type;
    if (type == NULL && !stdin_)
        type = kvs_cli_type_of_name(file);
    if (type == NULL)
        type = KVS_MIME_DEFAULT;
    int fd = stdin_ ? STDIN_FILENO : open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return kvs_cli_fail("cannot open %s: %s", file, strerror(errno));
    struct stat sb;
    int rc = fstat(fd, &sb) == 0 && S_ISDIR(sb.st_mode)
                 ? kvs_cli_fail("%s is a directory", file)
                 : put_fd(c, o->args[0], o->args[1], fd, file, type);
    if (!stdin_)
        close(fd);
    return rc;
}

int kvs_cli_cmd_set_value(kvs_client *c, const struct kvs_cli_opts *o)
{
    /* Apify's set-value: the value itself on the line (else stdin), JSON unless told */
    const char *type = o->content_type ? o->content_type : "application/json";
    if (o->nargs < 3)
        return put_fd(c, o->args[0], o->args[1], STDIN_FILENO, "-", type);
    const char *value = o->args[2];
    int rc = kvs_record_put(c, o->args[0], o->args[1], value, strlen(value), type);
    if (rc != 0)
        return kvs_cli_fail_about(
            c, rc, &(struct kvs_cli_about){o->args[0], o->args[1], .size = (int64_t)strlen(value)});
    printf("stored %s in %s (%s)\n", o->args[1], o->args[0], type);
    return 0;
}

/* ---- del, exists --------------------------------------------------------------------------- */

int kvs_cli_cmd_del(kvs_client *c, const struct kvs_cli_opts *o)
{
    int rc = kvs_record_delete(c, o->args[0], o->args[1]);
    if (rc != 0) /* a missing record is no failure (204): a 404 is the store */
        return kvs_cli_fail_about(c, rc, &(struct kvs_cli_about){o->args[0], .size = -1});
    printf("deleted %s from %s\n", o->args[1], o->args[0]);
    return 0;
}

int kvs_cli_cmd_exists(kvs_client *c, const struct kvs_cli_opts *o)
{
    struct kvs_record_meta m;
    int rc = kvs_record_head(c, o->args[0], o->args[1], &m);
    if (rc != 0 && !(rc == KVS_ENOTFOUND && o->json))
        return kvs_cli_fail_about(c, rc,
                                  &(struct kvs_cli_about){o->args[0], o->args[1], .size = -1});
    if (o->json) {
        json_t *j = rc == 0 ? json_pack("{s:b,s:I,s:s}", "exists", 1, "size", (json_int_t)m.size,
                                        "contentType", m.content_type)
                            : json_pack("{s:b}", "exists", 0);
        char *text = json_dumps(j, JSON_COMPACT);
        int failed = text == NULL || kvs_cli_print_json(text) != 0;
        free(text);
        json_decref(j);
        if (failed)
            return 1;
        return rc == 0 ? 0 : KVS_CLI_NOT_FOUND;
    }
    char size[32];
    printf("%s: %s, %s\n", o->args[1], kvs_cli_bytes(m.size, size), m.content_type);
    return 0;
}
