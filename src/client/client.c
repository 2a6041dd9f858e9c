/* client.c — the libkvs client: opening, options, errors, the HTTP exchange over libcurl with
 * the official clients' retries, and the memory blocks kvs_free() releases (see internal.h). */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "client/internal.h"
#include "common/pct.h"

#define DEFAULT_RETRIES 8
#define DEFAULT_RETRY_DELAY_MS 500
/* the longest wait between tries, unless Retry-After asks for more (up to MAX_RETRY_AFTER_MS;
 * a Retry-After longer than that is not waited for) */
#define MAX_RETRY_DELAY_MS 8000
#define MAX_RETRY_AFTER_MS 60000
#define DEFAULT_TIMEOUT_MS 30000
#define MAX_TIMEOUT_MS 360000 /* the doubling stops here (the JS client's maximum) */
#define DEFAULT_CONNECT_TIMEOUT_MS 10000
#define MEM_BODY_MAX ((size_t)1 << 30) /* a record read into memory: far above any record limit */
#define ERROR_BODY_MAX (64u * 1024)    /* what is kept of an error's body */

const char *kvs_version(void)
{
    return KVS_VERSION;
}

/* ---- strings ------------------------------------------------------------------------------- */

void kvs__str_add(struct kvs__str *s, const char *p, size_t n)
{
    if (s->oom)
        return;
    if (s->n + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 64;
        while (cap < s->n + n + 1)
            cap *= 2;
        char *q = realloc(s->p, cap);
        if (q == NULL) {
            s->oom = 1;
            return;
        }
        s->p = q;
        s->cap = cap;
    }
    if (n > 0 && p != NULL) /* P NULL: room only, filled by the caller */
        memcpy(s->p + s->n, p, n);
    s->n += n;
    s->p[s->n] = '\0';
}

void kvs__str_puts(struct kvs__str *s, const char *p)
{
    kvs__str_add(s, p, strlen(p));
}

void kvs__str_enc(struct kvs__str *s, const char *p)
{
    size_t n = strlen(p);
    kvs__str_add(s, "", 0);
    if (s->oom || n > (SIZE_MAX - s->n) / 4) {
        s->oom = 1;
        return;
    }
    /* room for the worst case (every byte escaped), then the escaped text in place */
    size_t at = s->n;
    kvs__str_add(s, NULL, 3 * n);
    if (s->oom)
        return;
    s->n = at + kvs_pct_escape((kvs_slice){p, n}, "", s->p + at);
    s->p[s->n] = '\0';
}

void kvs__str_free(struct kvs__str *s)
{
    free(s->p);
    memset(s, 0, sizeof *s);
}

void kvs__store_path(struct kvs__str *s, const char *store, const char *tail, const char *key)
{
    kvs__str_puts(s, "/v2/key-value-stores/");
    const char *slash = strchr(store, '/');
    if (slash != NULL) { /* "username/name" → "username~name", as the official clients do */
        struct kvs__str owner = {0};
        kvs__str_add(&owner, store, (size_t)(slash - store));
        kvs__str_enc(s, owner.p ? owner.p : "");
        kvs__str_puts(s, "~");
        s->oom |= owner.oom;
        kvs__str_free(&owner);
        store = slash + 1;
    }
    kvs__str_enc(s, store);
    if (tail != NULL)
        kvs__str_puts(s, tail);
    if (key != NULL)
        kvs__str_enc(s, key);
}

/* ---- memory blocks ------------------------------------------------------------------------- */

#define BLOCK_MAGIC 0x6b767362u /* "kvsb" */

struct extra {
    struct extra *next;
    void *ptr; /* malloc'd */
};

struct block {
    uint32_t magic;
    json_t *doc;
    struct extra *extras;
    max_align_t payload[];
};

static struct block *block_of(void *payload)
{
    struct block *b = (struct block *)((char *)payload - offsetof(struct block, payload));
    assert(b->magic == BLOCK_MAGIC); /* kvs_free() of a pointer libkvs did not return */
    return b;
}

void *kvs__block_new(size_t size, json_t *doc)
{
    struct block *b = calloc(1, sizeof *b + size);
    if (b == NULL)
        return NULL;
    b->magic = BLOCK_MAGIC;
    b->doc = json_incref(doc);
    return b->payload;
}

int kvs__block_adopt(void *payload, void *ptr)
{
    struct block *b = block_of(payload);
    struct extra *e = malloc(sizeof *e);
    if (e == NULL) {
        free(ptr);
        return KVS_ENOMEM;
    }
    e->ptr = ptr;
    e->next = b->extras;
    b->extras = e;
    return 0;
}

void *kvs__block_extra(void *payload, size_t size)
{
    void *p = calloc(1, size ? size : 1);
    if (p == NULL || kvs__block_adopt(payload, p) != 0)
        return NULL;
    return p;
}

char *kvs__block_strndup(void *payload, const char *p, size_t n)
{
    char *s = kvs__block_extra(payload, n + 1);
    if (s != NULL)
        memcpy(s, p, n);
    return s;
}

void kvs_free(void *p)
{
    if (p == NULL)
        return;
    struct block *b = block_of(p);
    while (b->extras) {
        struct extra *e = b->extras;
        b->extras = e->next;
        free(e->ptr);
        free(e);
    }
    json_decref(b->doc);
    b->magic = 0;
    free(b);
}

/* ---- decoding JSON into structs ------------------------------------------------------------ */

/* The member NAME of OBJ, where "a.b" is member b of the object member a. */
static json_t *member(json_t *obj, const char *name)
{
    const char *dot = strchr(name, '.');
    if (dot == NULL)
        return json_object_get(obj, name);
    char first[64];
    snprintf(first, sizeof first, "%.*s", (int)(dot - name), name);
    return json_object_get(json_object_get(obj, first), dot + 1);
}

int kvs__decode(void *payload, json_t *obj, const struct kvs__field *fields, void *dst)
{
    for (const struct kvs__field *f = fields; f->name != NULL; f++) {
        char *at = (char *)dst + f->offset;
        json_t *v = f->type == KVS__F_JSON ? obj : member(obj, f->name);
        switch (f->type) {
        case KVS__F_STR: {
            const char *s = json_string_value(v);
            memcpy(at, &s, sizeof s);
            break;
        }
        case KVS__F_INT: {
            int64_t i = json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
            memcpy(at, &i, sizeof i);
            break;
        }
        case KVS__F_BOOL: {
            int b = json_is_true(v);
            memcpy(at, &b, sizeof b);
            break;
        }
        case KVS__F_JSON: {
            char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
            char *s = text ? kvs__block_strndup(payload, text, strlen(text)) : NULL;
            free(text);
            if (s == NULL)
                return KVS_ENOMEM;
            const char *cs = s;
            memcpy(at, &cs, sizeof cs);
            break;
        }
        }
    }
    return 0;
}

int kvs__decode_items(void *payload, json_t *items, size_t item_size,
                      const struct kvs__field *fields, void *out, uint64_t *count)
{
    size_t n = json_array_size(items);
    void *arr = NULL;
    *count = 0;
    if (n > 0) {
        arr = kvs__block_extra(payload, n * item_size);
        if (arr == NULL)
            return KVS_ENOMEM;
        for (size_t i = 0; i < n; i++) {
            int rc =
                kvs__decode(payload, json_array_get(items, i), fields, (char *)arr + i * item_size);
            if (rc != 0)
                return rc;
        }
    }
    memcpy(out, &arr, sizeof arr);
    *count = n;
    return 0;
}

/* ---- the client ---------------------------------------------------------------------------- */

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;

/* libcurl's global set-up, once per process; it is never undone, since libkvs cannot know
 * when the last user of libcurl in the process is done. */
static void global_init(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int starts_with_ci(const char *s, const char *prefix)
{
    return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

int kvs_client_open(const char *url, const char *token, kvs_client **out)
{
    *out = NULL;
    if (url == NULL || !(starts_with_ci(url, "http://") || starts_with_ci(url, "https://")))
        return KVS_EINVAL;
    pthread_once(&global_once, global_init);
    if (global_rc != CURLE_OK)
        return KVS_ENOMEM;
    kvs_client *c = calloc(1, sizeof *c);
    if (c == NULL)
        return KVS_ENOMEM;
    size_t n = strlen(url);
    while (n > 0 && url[n - 1] == '/')
        n--;
    if (n >= 3 && strncmp(url + n - 3, "/v2", 3) == 0) /* the API's base, given with its /v2 */
        n -= 3;
    c->base = strndup(url, n);
    if (token != NULL && *token != '\0') {
        size_t an = strlen(token) + 32;
        c->auth_header = malloc(an);
        if (c->auth_header)
            snprintf(c->auth_header, an, "Authorization: Bearer %s", token);
    }
    c->curl = curl_easy_init();
    c->max_retries = DEFAULT_RETRIES;
    c->retry_delay_ms = DEFAULT_RETRY_DELAY_MS;
    c->timeout_ms = DEFAULT_TIMEOUT_MS;
    c->connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS;
    if (c->base == NULL || c->curl == NULL || (token && *token && c->auth_header == NULL)) {
        kvs_client_close(c);
        return KVS_ENOMEM;
    }
    *out = c;
    return 0;
}

int kvs_client_open_env(kvs_client **out)
{
    const char *url = getenv("KVS_URL");
    if (url == NULL || *url == '\0') {
        *out = NULL;
        return KVS_EINVAL;
    }
    return kvs_client_open(url, getenv("KVS_TOKEN"), out);
}

void kvs_client_close(kvs_client *c)
{
    if (c == NULL)
        return;
    curl_easy_cleanup(c->curl);
    if (c->auth_header != NULL)
        memset(c->auth_header, 0, strlen(c->auth_header)); /* it holds the token */
    free(c->auth_header);
    free(c->base);
    free(c);
}

int kvs_client_set(kvs_client *c, enum kvs_option opt, long value)
{
    if (value < 0)
        return KVS_EINVAL;
    switch (opt) {
    case KVS_OPT_MAX_RETRIES:
        c->max_retries = value;
        return 0;
    case KVS_OPT_RETRY_DELAY_MS:
        c->retry_delay_ms = value;
        return 0;
    case KVS_OPT_TIMEOUT_MS:
        c->timeout_ms = value;
        return 0;
    case KVS_OPT_CONNECT_TIMEOUT_MS:
        c->connect_timeout_ms = value;
        return 0;
    }
    return KVS_EINVAL;
}

void kvs_client_set_progress(kvs_client *c, kvs_progress_fn fn, void *arg)
{
    c->progress = fn;
    c->progress_arg = arg;
}

void kvs_client_set_retry_notice(kvs_client *c, kvs_retry_fn fn, void *arg)
{
    c->retry_notice = fn;
    c->retry_arg = arg;
}

const char *kvs_client_errmsg(const kvs_client *c)
{
    return c->errmsg;
}

const char *kvs_client_errtype(const kvs_client *c)
{
    return c->errtype;
}

int kvs_client_status(const kvs_client *c)
{
    return c->status;
}

void kvs__clear(kvs_client *c)
{
    c->status = 0;
    c->errtype[0] = '\0';
    c->errmsg[0] = '\0';
}

int kvs__fail(kvs_client *c, int code, const char *fmt, ...)
{
    c->errtype[0] = '\0';
    if (fmt == NULL) {
        snprintf(c->errmsg, sizeof c->errmsg, "%s", kvs_strerror(code));
    } else {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->errmsg, sizeof c->errmsg, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* ---- errors of a response ------------------------------------------------------------------ */

/* The code of kvs.h's table for a server's answer STATUS with Apify error TYPE (may be NULL):
 * the entry with both, else the one the status stands for. */
static int code_of(int status, const char *type)
{
    if (type != NULL) {
#define X(name, num, st, ty, msg)                                                                  \
    if (st == status && strcmp(ty, type) == 0 && num != KVS_ENOMEM)                                \
        return num;
        KVS_ERRNO_MAP(X)
#undef X
    }
    switch (status) {
    case 400:
        return KVS_EINVAL;
    case 401:
        return KVS_ENOTOKEN;
    case 403:
        return KVS_EACCESS;
    case 404:
        return KVS_ENOTFOUND;
    case 405:
        return KVS_EMETHOD;
    case 408:
        return KVS_ETIMEOUT;
    case 413:
        return KVS_ETOOBIG;
    case 415:
        return KVS_EENCODING;
    case 429:
        return KVS_ERATE;
    case 503:
        return KVS_EUNAVAIL;
    case 507:
        return KVS_ENOSPACE;
    }
    return status >= 500 ? KVS_EIO : KVS_EPROTO;
}

/* Set C's error from the answer of K (a non-2xx status). Returns the code. */
static int fail_status(kvs_client *c, const struct kvs__call *k)
{
    json_t *doc = k->resp.n ? json_loadb(k->resp.p, k->resp.n, 0, NULL) : NULL;
    json_t *err = json_object_get(doc, "error");
    const char *type = json_string_value(json_object_get(err, "type"));
    const char *msg = json_string_value(json_object_get(err, "message"));
    int code = code_of(k->status, type);
    snprintf(c->errtype, sizeof c->errtype, "%s", type ? type : "");
    if (msg != NULL && *msg != '\0')
        snprintf(c->errmsg, sizeof c->errmsg, "%s", msg);
    else
        snprintf(c->errmsg, sizeof c->errmsg, "%s", kvs_strerror(code));
    json_decref(doc);
    return code;
}

/* ---- one exchange -------------------------------------------------------------------------- */

/* What the callbacks of one attempt share. */
struct exchange {
    kvs_client *c;
    struct kvs__call *k;
    long retry_after_ms; /* from a Retry-After header, -1 when none */
    off_t in_start;      /* where IN_FD's body starts, -1 when it cannot seek */
    uint64_t in_read;    /* body bytes read from IN_FD in this attempt */
    int in_errno;        /* a read of IN_FD failed */
    int out_errno;       /* a write to OUT_FD failed */
    int too_big;         /* a body in memory passed MEM_BODY_MAX */
    char curl_err[CURL_ERROR_SIZE];
};

static int is_2xx(long status)
{
    return status >= 200 && status < 300;
}

/* Copy the header value V (N bytes, up to CR/LF) into OUT (OUT_N bytes), trimmed. */
static void header_value(const char *v, size_t n, char *out, size_t out_n)
{
    while (n > 0 && (*v == ' ' || *v == '\t')) {
        v++;
        n--;
    }
    while (n > 0 && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    snprintf(out, out_n, "%.*s", (int)(n < out_n ? n : out_n - 1), v);
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *arg)
{
    struct exchange *x = arg;
    struct kvs_record_meta *m = &x->k->meta;
    size_t n = size * nitems;
    if (n >= 5 && memcmp(buf, "HTTP/", 5) == 0) { /* a new response (after a 100 Continue) */
        m->content_type[0] = '\0';
        m->content_encoding[0] = '\0';
        m->size = -1;
        x->retry_after_ms = -1;
        return n;
    }
    const char *colon = memchr(buf, ':', n);
    if (colon == NULL)
        return n;
    size_t name_n = (size_t)(colon - buf);
    const char *v = colon + 1;
    size_t vn = n - name_n - 1;
    char text[32];
    if (name_n == 12 && strncasecmp(buf, "content-type", 12) == 0) {
        header_value(v, vn, m->content_type, sizeof m->content_type);
    } else if (name_n == 16 && strncasecmp(buf, "content-encoding", 16) == 0) {
        header_value(v, vn, m->content_encoding, sizeof m->content_encoding);
    } else if (name_n == 14 && strncasecmp(buf, "content-length", 14) == 0) {
        header_value(v, vn, text, sizeof text);
        char *end;
        long long len = strtoll(text, &end, 10);
        m->size = (*end == '\0' && len >= 0) ? (int64_t)len : -1;
    } else if (name_n == 11 && strncasecmp(buf, "retry-after", 11) == 0) {
        header_value(v, vn, text, sizeof text);
        char *end;
        long secs = strtol(text, &end, 10);
        if (*end == '\0' && secs >= 0 && secs <= MAX_RETRY_AFTER_MS / 1000)
            x->retry_after_ms = secs * 1000;
    }
    return n;
}

static size_t on_body(char *data, size_t size, size_t nitems, void *arg)
{
    struct exchange *x = arg;
    struct kvs__call *k = x->k;
    size_t n = size * nitems;
    long status = 0;
    curl_easy_getinfo(x->c->curl, CURLINFO_RESPONSE_CODE, &status);
    if (!is_2xx(status)) { /* an error's body: keep its start for the message */
        if (k->resp.n < ERROR_BODY_MAX)
            kvs__str_add(&k->resp, data,
                         n < ERROR_BODY_MAX - k->resp.n ? n : ERROR_BODY_MAX - k->resp.n);
        return n;
    }
    if (k->out_fd >= 0) {
        for (size_t done = 0; done < n;) {
            ssize_t w = write(k->out_fd, data + done, n - done);
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                x->out_errno = errno;
                return 0; /* stops the transfer with CURLE_WRITE_ERROR */
            }
            done += (size_t)w;
            k->written += (uint64_t)w;
        }
        return n;
    }
    if (k->resp.n + n > MEM_BODY_MAX) {
        x->too_big = 1;
        return 0;
    }
    kvs__str_add(&k->resp, data, n);
    return k->resp.oom ? 0 : n;
}

static size_t on_read(char *buf, size_t size, size_t nitems, void *arg)
{
    struct exchange *x = arg;
    for (;;) {
        ssize_t got = read(x->k->in_fd, buf, size * nitems);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            x->in_errno = errno;
            return CURL_READFUNC_ABORT;
        }
        x->in_read += (uint64_t)got;
        return (size_t)got;
    }
}

/* libcurl rewinds the body when it must send it again (a redirect, an auth retry). */
static int on_seek(void *arg, curl_off_t offset, int origin)
{
    struct exchange *x = arg;
    if (origin != SEEK_SET || x->in_start < 0 ||
        lseek(x->k->in_fd, x->in_start + (off_t)offset, SEEK_SET) < 0)
        return CURL_SEEKFUNC_CANTSEEK;
    return CURL_SEEKFUNC_OK;
}

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    struct exchange *x = arg;
    int upload = x->k->in_fd >= 0 || x->k->body != NULL;
    curl_off_t now = upload ? ulnow : dlnow, total = upload ? ultotal : dltotal;
    if (now > 0 || total > 0)
        x->c->progress(x->c->progress_arg, (uint64_t)now, (uint64_t)total);
    return 0;
}

void kvs__call_init(struct kvs__call *k, const char *method, const char *path)
{
    memset(k, 0, sizeof *k);
    k->method = method;
    k->path = path;
    k->in_fd = -1;
    k->out_fd = -1;
    k->meta.size = -1;
}

/* Set up C's handle for one attempt of K (number ATTEMPT, from 0). Returns the header list to
 * free after the attempt, or NULL with *OOM set. */
static struct curl_slist *setup(kvs_client *c, struct kvs__call *k, struct exchange *x,
                                const char *url, long attempt, int *oom)
{
    CURL *h = c->curl;
    curl_easy_reset(h); /* options only: the connection and caches stay */
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "libkvs/" KVS_VERSION);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->curl_err);
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, ""); /* whatever libcurl decodes */
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    long timeout = c->timeout_ms;
    for (long i = 0; i < attempt && timeout < MAX_TIMEOUT_MS; i++)
        timeout *= 2;
    if (timeout > MAX_TIMEOUT_MS)
        timeout = MAX_TIMEOUT_MS;
    if (k->record) { /* a record may be large: cut it only when it stalls */
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, timeout >= 1000 ? timeout / 1000 : 1L);
    } else {
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout);
    }
    if (k->record && c->progress != NULL) {
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, x);
    }

    struct curl_slist *hs = NULL, *t;
    char ctype[300];
    const char *lines[3] = {c->auth_header, k->record ? "Accept: */*" : "Accept: application/json",
                            NULL};
    if (k->body != NULL || k->in_fd >= 0) {
        snprintf(ctype, sizeof ctype, "Content-Type: %s",
                 k->content_type ? k->content_type : "application/octet-stream");
        lines[2] = ctype;
    } else if (strcmp(k->method, "POST") == 0 || strcmp(k->method, "PUT") == 0) {
        lines[2] = "Content-Type:"; /* no body: not libcurl's form type either */
    }
    for (size_t i = 0; i < 3; i++) {
        if (lines[i] == NULL)
            continue;
        t = curl_slist_append(hs, lines[i]);
        if (t == NULL) {
            curl_slist_free_all(hs);
            *oom = 1;
            return NULL;
        }
        hs = t;
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hs);

    if (strcmp(k->method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (k->in_fd >= 0) {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, k->method);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, x);
        curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
        curl_easy_setopt(h, CURLOPT_SEEKDATA, x);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)k->in_size);
    } else if (k->body != NULL || strcmp(k->method, "POST") == 0 || strcmp(k->method, "PUT") == 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, k->method);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(k->body ? k->body_n : 0));
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, k->body ? k->body : "");
    } else if (strcmp(k->method, "GET") != 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, k->method);
    }
    return hs;
}

/* The code for a transfer that libcurl ended with CC (not CURLE_OK), C's error set. */
static int fail_transfer(kvs_client *c, const struct kvs__call *k, const struct exchange *x,
                         CURLcode cc)
{
    const char *why = x->curl_err[0] ? x->curl_err : curl_easy_strerror(cc);
    if (x->out_errno)
        return kvs__fail(c, KVS_EIO, "cannot write the record: %s", strerror(x->out_errno));
    if (x->in_errno)
        return kvs__fail(c, KVS_EIO, "cannot read the value: %s", strerror(x->in_errno));
    if (x->too_big)
        return kvs__fail(c, KVS_ETOOBIG, "the answer is too large to hold in memory");
    switch (cc) {
    case CURLE_OUT_OF_MEMORY:
        return kvs__fail(c, KVS_ENOMEM, NULL);
    case CURLE_WRITE_ERROR:
        return kvs__fail(c, KVS_ENOMEM, NULL); /* the body could not grow */
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        return kvs__fail(c, KVS_EINVAL, "%s %s%s: %s", k->method, c->base, k->path, why);
    case CURLE_OPERATION_TIMEDOUT:
        return kvs__fail(c, KVS_ETIMEOUT, "%s %s%s: %s", k->method, c->base, k->path, why);
    default: /* the server, not the call: reaching it is what failed */
        return kvs__fail(c, KVS_ENET, "cannot reach the server at %s: %s", c->base, why);
    }
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

int kvs__perform(kvs_client *c, struct kvs__call *k)
{
    kvs__clear(c);
    struct kvs__str url = {0};
    kvs__str_puts(&url, c->base);
    kvs__str_puts(&url, k->path);
    if (url.oom) {
        kvs__str_free(&url);
        return kvs__fail(c, KVS_ENOMEM, NULL);
    }
    struct exchange x = {.c = c, .k = k, .in_start = -1};
    if (k->in_fd >= 0)
        x.in_start = lseek(k->in_fd, 0, SEEK_CUR); /* -1 for a pipe: no retry once read */

    int rc = 0;
    for (long attempt = 0;; attempt++) {
        int oom = 0;
        x.retry_after_ms = -1;
        x.in_read = 0;
        x.in_errno = x.out_errno = x.too_big = 0;
        x.curl_err[0] = '\0';
        k->status = 0;
        k->meta = (struct kvs_record_meta){.size = -1};
        kvs__str_free(&k->resp);
        struct curl_slist *hs = setup(c, k, &x, url.p, attempt, &oom);
        if (oom) {
            rc = kvs__fail(c, KVS_ENOMEM, NULL);
            break;
        }
        CURLcode cc = curl_easy_perform(c->curl);
        curl_slist_free_all(hs);
        long status = 0;
        curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
        k->status = (int)status;
        c->status = (int)status;
        int retryable;
        if (cc == CURLE_OK && is_2xx(status)) {
            rc = 0;
            break;
        }
        if (cc == CURLE_OK) {
            rc = fail_status(c, k);
            /* 501: a part of the API the server does not have, which no retry brings */
            retryable = status == 429 || (status >= 500 && status != 501);
        } else {
            rc = fail_transfer(c, k, &x, cc);
            retryable = rc == KVS_ENET || rc == KVS_ETIMEOUT;
        }
        /* Try again only what can be sent again whole and has not written anything out. */
        if (!retryable || attempt >= c->max_retries || k->written > 0)
            break;
        if (k->in_fd >= 0 && x.in_read > 0 &&
            (x.in_start < 0 || lseek(k->in_fd, x.in_start, SEEK_SET) < 0))
            break;
        long delay = c->retry_delay_ms;
        for (long i = 0; i < attempt && delay < MAX_RETRY_DELAY_MS; i++)
            delay *= 2;
        if (delay > MAX_RETRY_DELAY_MS)
            delay = MAX_RETRY_DELAY_MS;
        if (x.retry_after_ms > delay)
            delay = x.retry_after_ms;
        if (c->retry_notice != NULL)
            c->retry_notice(c->retry_arg, c, attempt + 1, c->max_retries, delay);
        sleep_ms(delay);
    }
    kvs__str_free(&url);
    return rc;
}

/* ---- JSON calls ---------------------------------------------------------------------------- */

int kvs__json_call(kvs_client *c, const char *method, const char *path, json_t *body, json_t **data,
                   int *status)
{
    if (data != NULL)
        *data = NULL;
    struct kvs__call k;
    kvs__call_init(&k, method, path);
    char *text = NULL;
    if (body != NULL) {
        text = json_dumps(body, JSON_COMPACT);
        if (text == NULL)
            return kvs__fail(c, KVS_ENOMEM, NULL);
        k.body = text;
        k.body_n = strlen(text);
        k.content_type = "application/json";
    }
    int rc = kvs__perform(c, &k);
    if (status != NULL)
        *status = k.status;
    if (rc == 0 && data != NULL && k.status != 204) {
        json_t *doc = json_loadb(k.resp.p ? k.resp.p : "", k.resp.n, 0, NULL);
        json_t *d = json_object_get(doc, "data");
        if (d == NULL)
            rc = kvs__fail(c, KVS_EPROTO, "%s %s%s: the answer (HTTP %d) is not the API's JSON",
                           method, c->base, path, k.status);
        else
            *data = json_incref(d);
        json_decref(doc);
    }
    free(text);
    kvs__str_free(&k.resp);
    return rc;
}

/* ---- the server ---------------------------------------------------------------------------- */

#define I struct kvs_server_info
static const struct kvs__field server_fields[] = {
    KVS__FIELD(I, version, "version", KVS__F_STR),
    KVS__FIELD(I, build, "build", KVS__F_STR),
    KVS__FIELD(I, storage, "storage", KVS__F_STR),
    KVS__FIELD(I, max_record_size, "maxRecordSize", KVS__F_INT),
    KVS__FIELD(I, unnamed_retention_ms, "unnamedRetentionMillis", KVS__F_INT),
    {NULL, KVS__F_STR, 0},
};
#undef I

int kvs_server_info(kvs_client *c, struct kvs_server_info **out)
{
    *out = NULL;
    struct kvs__call k;
    kvs__call_init(&k, "GET", "/health"); /* not under /v2, and not wrapped in "data" */
    int rc = kvs__perform(c, &k);
    json_t *doc = NULL;
    if (rc == 0) {
        doc = json_loadb(k.resp.p ? k.resp.p : "", k.resp.n, 0, NULL);
        if (!json_is_object(doc))
            rc = kvs__fail(c, KVS_EPROTO, "GET %s/health: the answer is not JSON", c->base);
    }
    kvs__str_free(&k.resp);
    struct kvs_server_info *s = NULL;
    if (rc == 0) {
        s = kvs__block_new(sizeof *s, doc);
        if (s == NULL || kvs__decode(s, doc, server_fields, s) != 0 ||
            (s->url = kvs__block_strndup(s, c->base, strlen(c->base))) == NULL) {
            kvs_free(s);
            s = NULL;
            rc = kvs__fail(c, KVS_ENOMEM, NULL);
        }
    }
    json_decref(doc);
    *out = s;
    return rc;
}
