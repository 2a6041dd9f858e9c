/* serve.c — `kvs serve`: parse options, open the storage, make sure the admin user exists,
 * serve until SIGTERM or SIGINT, then stop accepting, let requests in flight finish, and close
 * the storage cleanly. */
#include "server/serve.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "auth/access.h"
#include "auth/token.h"
#include "common/duration.h"
#include "common/log.h"
#include "common/version.h"
#include "kvs.h"
#include "api/decoded.h"
#include "server/accesslog.h"
#include "server/http.h"
#include "server/tls.h"
#include "storage/storage.h"

#define DEFAULT_LISTEN "127.0.0.1:8787"
#define DEFAULT_DATA "./data"
/* Large records go to the disk as they arrive (storage.h, "Large records"): the disk is the
 * real limit, this one only a guard against a runaway client. Both back-ends take uploads
 * (LMDB: blob files, PostgreSQL: chunks); one that did not would hold a body in memory, and
 * would keep the old limit. */
#define DEFAULT_MAX_RECORD (64ull << 30)
#define DEFAULT_MAX_RECORD_INLINE (10u * 1024 * 1024)
#define SHUTDOWN_GRACE_SECS 10
#define DEFAULT_DECODE_MEMORY (64u * 1024 * 1024)
/* Connections: an idle one costs about 4.7 KiB of memory (7.5 KiB holding part of a request
 * head; measured, README "Limits on hostile and broken clients"), so 8192 of them are cheap
 * (at most about 60 MiB), and one address may hold at most 1024 (what the whole server took
 * before, enough for clients that keep many connections alive): it takes 8 addresses to fill
 * the server, and a new connection that sends nothing is closed after --first-byte-timeout. */
#define DEFAULT_MAX_CONNECTIONS 8192
#define DEFAULT_MAX_PER_IP 1024

static void help(FILE *out)
{
    fprintf(out,
            "usage: kvs serve [options]\n"
            "\n"
            "Serve the Apify API v2 for key-value stores over HTTP, with data in an embedded\n"
            "LMDB database, or in PostgreSQL (--storage postgres://...), where any number of\n"
            "kvs serve processes can serve the same stores. On new storage the user 'admin' is\n"
            "created; its token is $KVS_ADMIN_TOKEN when set, otherwise a generated one,\n"
            "printed once.\n"
            "\n"
            "options:\n"
            "  --listen HOST:PORT       address to listen on (default %s; [::1]:PORT for IPv6)\n"
            "  --data DIR               data directory, created if missing (default %s)\n"
            "  --storage SPEC           where the data is: lmdb:DIR (as --data DIR), or a\n"
            "                           PostgreSQL connection URI postgres://USER@HOST/DB\n"
            "                           (libpq's; the tables are made in its schema)\n"
            "  --max-record-size BYTES  largest record, as stored (default 64G; suffixes K,\n"
            "                           M, G, T for KiB, MiB, GiB, TiB)\n"
            "  --public-url URL         base URL of public links (default: from the Host header)\n"
            "  --threads N              HTTP worker threads (default: number of CPUs; with\n"
            "                           PostgreSQL give more, as they wait on the database)\n"
            "  --max-connections N      concurrent connections (default 8192)\n"
            "  --timeout SECS           close connections idle this long (default 60)\n"
            "  --request-timeout SECS   close the connection of a request whose body is still\n"
            "                           arriving this long after its request line (default\n"
            "                           60, 0 = never)\n"
            "  --header-timeout SECS    close a connection that has not sent a complete request\n"
            "                           header this long after it was accepted or its last\n"
            "                           response was sent (default 30, 0 = never)\n"
            "  --first-byte-timeout SECS\n"
            "                           close a new connection that has not sent its first\n"
            "                           request line this long after it was accepted (default\n"
            "                           10, 0 = only --header-timeout)\n"
            "  --max-connections-per-ip N\n"
            "                           concurrent connections from one IP address (default\n"
            "                           1024, 0 = any)\n"
            "  --rate-limit N           requests per second per token (anonymous: per IP),\n"
            "                           burst N; more get 429 with Retry-After (default 0 = off)\n"
            "  --access-log FILE|-|off  one line per request to FILE, - for stderr (default off)\n"
            "  --log-format text|json   format of the access log (default text)\n"
            "  --metrics-public         GET /metrics without a token (default: admin only)\n"
            "  --decode-memory BYTES    memory all decoding may hold at once: records sent\n"
            "                           decoded to clients that refuse their stored\n"
            "                           Content-Encoding, coded uploads checked (default 64M,\n"
            "                           at least 24M); past it, 503 with Retry-After\n"
            "  --cache-max-age SECS     let caches use a public record this long without asking\n"
            "                           again (Cache-Control: public, max-age; default 0: they\n"
            "                           revalidate every time, no-cache)\n"
            "  --tls-cert FILE          serve HTTPS with this PEM certificate (then its chain)\n"
            "  --tls-key FILE           and this PEM private key (unencrypted); both or neither.\n"
            "                           TLS 1.2 and 1.3 only; SIGHUP loads both files again\n"
            "  --inline-max BYTES       LMDB: records up to this size are kept in the database,\n"
            "                           larger ones in files of DATA/blobs (default 1M)\n"
            "  --map-size BYTES         LMDB: largest the database may grow (default 1T;\n"
            "                           suffixes)\n"
            "  --unnamed-retention DURATION\n"
            "                           delete unnamed stores not accessed this long: 7d, 12h,\n"
            "                           30m, 90s, 500ms (default 7d; 0 = keep forever)\n"
            "  --log-level LEVEL        debug, info, warn or error (default info)\n"
            "  --default-general-access ACCESS\n"
            "                           default general access of new users: RESTRICTED\n"
            "                           (default), ANYONE_WITH_ID_CAN_READ or\n"
            "                           ANYONE_WITH_NAME_CAN_READ; each user can change theirs\n"
            "  --help                   show this help\n"
            "\n"
            "environment:\n"
            "  KVS_ADMIN_TOKEN          the admin's API token (added to the admin if new)\n"
            "\n"
            "Stop with SIGTERM or SIGINT: requests in flight finish, the storage closes cleanly.\n"
            "SIGHUP reloads the TLS certificate and key without dropping connections.\n",
            DEFAULT_LISTEN, DEFAULT_DATA);
}

/* Parse a size with an optional K/M/G/T suffix (powers of 1024). Returns 0 or -1. */
static int parse_size(const char *s, uint64_t *out)
{
    if (*s < '0' || *s > '9')
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno == ERANGE)
        return -1;
    unsigned shift = 0;
    switch (*end) {
    case '\0':
        break;
    case 'k':
    case 'K':
        shift = 10;
        break;
    case 'm':
    case 'M':
        shift = 20;
        break;
    case 'g':
    case 'G':
        shift = 30;
        break;
    case 't':
    case 'T':
        shift = 40;
        break;
    default:
        return -1;
    }
    if (*end && (end[1] != '\0' && strcmp(end + 1, "iB") != 0 && strcmp(end + 1, "B") != 0))
        return -1;
    if (shift && v > (UINT64_MAX >> shift))
        return -1;
    *out = (uint64_t)v << shift;
    return 0;
}

static int parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
    uint64_t v;
    if (parse_size(s, &v) != 0 || strpbrk(s, "kKmMgGtT") || v < lo || v > hi)
        return -1;
    *out = (unsigned)v;
    return 0;
}

static int bad_value(const char *opt, const char *value, const char *why)
{
    fprintf(stderr, "kvs serve: invalid value '%s' for --%s: %s\n", value, opt, why);
    return 2;
}

/* Parse --storage SPEC into CFG and STORE_CFG. Returns 0 or -1. */
static int parse_storage(const char *spec, struct kvs_server_config *cfg,
                         struct kvs_storage_config *store_cfg)
{
    if (kvs_storage_spec_is_pg(spec)) {
        store_cfg->pg_uri = spec;
        return 0;
    }
    if (strncmp(spec, "lmdb:", 5) == 0 && spec[5] != '\0') {
        cfg->data_dir = spec + 5;
        return 0;
    }
    return -1;
}

/* SPEC (a directory or a connection URI) for messages: a password in a URI becomes "***". */
static void redact(const char *spec, char *out, size_t cap)
{
    const char *at = strchr(spec, '@'), *colon = NULL;
    const char *user = strstr(spec, "://");
    if (kvs_storage_spec_is_pg(spec) && at != NULL && user != NULL && user < at)
        colon = memchr(user + 3, ':', (size_t)(at - user - 3));
    if (colon != NULL)
        snprintf(out, cap, "%.*s:***%s", (int)(colon - spec), spec, at);
    else
        snprintf(out, cap, "%s", spec);
}

/* Parse ARGV into CFG and STORE_CFG. Returns -1 to go on, or an exit status. */
static int parse_options(int argc, char **argv, struct kvs_server_config *cfg,
                         struct kvs_storage_config *store_cfg, const char **access_log,
                         int *log_json, int *max_record_given)
{
    enum {
        O_LISTEN = 1,
        O_DATA,
        O_MAX_RECORD,
        O_PUBLIC_URL,
        O_THREADS,
        O_MAX_CONN,
        O_TIMEOUT,
        O_MAP_SIZE,
        O_RETENTION,
        O_LOG_LEVEL,
        O_DEFAULT_ACCESS,
        O_REQUEST_TIMEOUT,
        O_HEADER_TIMEOUT,
        O_FIRST_BYTE_TIMEOUT,
        O_MAX_PER_IP,
        O_RATE_LIMIT,
        O_ACCESS_LOG,
        O_LOG_FORMAT,
        O_METRICS_PUBLIC,
        O_CACHE_MAX_AGE,
        O_TLS_CERT,
        O_TLS_KEY,
        O_STORAGE,
        O_DECODE_MEMORY,
        O_INLINE_MAX,
        O_HELP
    };
    static const struct option options[] = {
        {"listen", required_argument, NULL, O_LISTEN},
        {"data", required_argument, NULL, O_DATA},
        {"max-record-size", required_argument, NULL, O_MAX_RECORD},
        {"public-url", required_argument, NULL, O_PUBLIC_URL},
        {"threads", required_argument, NULL, O_THREADS},
        {"max-connections", required_argument, NULL, O_MAX_CONN},
        {"timeout", required_argument, NULL, O_TIMEOUT},
        {"map-size", required_argument, NULL, O_MAP_SIZE},
        {"unnamed-retention", required_argument, NULL, O_RETENTION},
        {"log-level", required_argument, NULL, O_LOG_LEVEL},
        {"default-general-access", required_argument, NULL, O_DEFAULT_ACCESS},
        {"request-timeout", required_argument, NULL, O_REQUEST_TIMEOUT},
        {"header-timeout", required_argument, NULL, O_HEADER_TIMEOUT},
        {"first-byte-timeout", required_argument, NULL, O_FIRST_BYTE_TIMEOUT},
        {"max-connections-per-ip", required_argument, NULL, O_MAX_PER_IP},
        {"rate-limit", required_argument, NULL, O_RATE_LIMIT},
        {"access-log", required_argument, NULL, O_ACCESS_LOG},
        {"log-format", required_argument, NULL, O_LOG_FORMAT},
        {"metrics-public", no_argument, NULL, O_METRICS_PUBLIC},
        {"cache-max-age", required_argument, NULL, O_CACHE_MAX_AGE},
        {"tls-cert", required_argument, NULL, O_TLS_CERT},
        {"tls-key", required_argument, NULL, O_TLS_KEY},
        {"storage", required_argument, NULL, O_STORAGE},
        {"decode-memory", required_argument, NULL, O_DECODE_MEMORY},
        {"inline-max", required_argument, NULL, O_INLINE_MAX},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    opterr = 0; /* our own one-line messages */
    optind = 1;
    int c, data_given = 0, map_given = 0;
    while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        uint64_t size;
        switch (c) {
        case O_LISTEN: {
            struct sockaddr_storage addr;
            socklen_t len;
            if (kvs_http_resolve(optarg, &addr, &len) != 0)
                return bad_value("listen", optarg,
                                 "expected HOST:PORT with a numeric address or a known host "
                                 "name and a port from 0 to 65535");
            cfg->listen = optarg;
            break;
        }
        case O_DATA:
            if (*optarg == '\0')
                return bad_value("data", optarg, "expected a directory");
            cfg->data_dir = optarg;
            data_given = 1;
            break;
        case O_STORAGE:
            if (parse_storage(optarg, cfg, store_cfg) != 0)
                return bad_value("storage", optarg,
                                 "expected lmdb:DIR or a postgres:// or postgresql:// URI");
            data_given |= store_cfg->pg_uri == NULL;
            break;
        case O_MAX_RECORD:
            if (parse_size(optarg, &size) != 0 || size == 0 || size > (1ull << 40))
                return bad_value("max-record-size", optarg, "expected 1 byte to 1T");
            cfg->max_record_size = (size_t)size;
            *max_record_given = 1;
            break;
        case O_PUBLIC_URL:
            if (strncmp(optarg, "http://", 7) != 0 && strncmp(optarg, "https://", 8) != 0)
                return bad_value("public-url", optarg, "expected an http:// or https:// URL");
            cfg->public_url = optarg;
            break;
        case O_THREADS:
            if (parse_uint(optarg, 1, 256, &cfg->threads) != 0)
                return bad_value("threads", optarg, "expected 1 to 256");
            break;
        case O_MAX_CONN:
            if (parse_uint(optarg, 1, 100000, &cfg->max_connections) != 0)
                return bad_value("max-connections", optarg, "expected 1 to 100000");
            break;
        case O_TIMEOUT:
            if (parse_uint(optarg, 1, 86400, &cfg->timeout_secs) != 0)
                return bad_value("timeout", optarg, "expected 1 to 86400 seconds");
            break;
        case O_REQUEST_TIMEOUT:
            if (parse_uint(optarg, 0, 86400, &cfg->request_timeout_secs) != 0)
                return bad_value("request-timeout", optarg, "expected 0 to 86400 seconds");
            break;
        case O_HEADER_TIMEOUT:
            if (parse_uint(optarg, 0, 86400, &cfg->header_timeout_secs) != 0)
                return bad_value("header-timeout", optarg, "expected 0 to 86400 seconds");
            break;
        case O_FIRST_BYTE_TIMEOUT:
            if (parse_uint(optarg, 0, 86400, &cfg->first_byte_timeout_secs) != 0)
                return bad_value("first-byte-timeout", optarg, "expected 0 to 86400 seconds");
            break;
        case O_MAX_PER_IP:
            if (parse_uint(optarg, 0, 100000, &cfg->max_per_ip) != 0)
                return bad_value("max-connections-per-ip", optarg, "expected 0 to 100000");
            break;
        case O_RATE_LIMIT:
            if (parse_uint(optarg, 0, 1000000, &cfg->rate_limit) != 0)
                return bad_value("rate-limit", optarg, "expected 0 to 1000000 per second");
            break;
        case O_RETENTION:
            if (kvs_parse_duration_ms(optarg, &store_cfg->unnamed_retention_ms) != 0)
                return bad_value("unnamed-retention", optarg,
                                 "expected a duration such as 7d, 12h, 30m, 90s, 500ms, or 0");
            break;
        case O_ACCESS_LOG:
            if (*optarg == '\0')
                return bad_value("access-log", optarg, "expected a file, - or off");
            *access_log = strcmp(optarg, "off") == 0 ? NULL : optarg;
            break;
        case O_LOG_FORMAT:
            if (strcmp(optarg, "text") != 0 && strcmp(optarg, "json") != 0)
                return bad_value("log-format", optarg, "expected text or json");
            *log_json = strcmp(optarg, "json") == 0;
            break;
        case O_METRICS_PUBLIC:
            cfg->metrics_public = 1;
            break;
        case O_DECODE_MEMORY:
            if (parse_size(optarg, &size) != 0 || size < KVS_DECODE_MEMORY_MIN || size > (1ull << 40))
                return bad_value("decode-memory", optarg, "expected 24M to 1T");
            cfg->decode_memory = (size_t)size;
            break;
        case O_INLINE_MAX:
            if (parse_size(optarg, &size) != 0 || size < 4096 || size > (1ull << 30))
                return bad_value("inline-max", optarg, "expected 4K to 1G");
            store_cfg->inline_max = size;
            break;
        case O_CACHE_MAX_AGE:
            if (parse_uint(optarg, 0, 31536000, &cfg->cache_max_age) != 0)
                return bad_value("cache-max-age", optarg, "expected 0 to 31536000 seconds");
            break;
        case O_TLS_CERT:
        case O_TLS_KEY:
            if (*optarg == '\0')
                return bad_value(c == O_TLS_CERT ? "tls-cert" : "tls-key", optarg,
                                 "expected a PEM file");
            *(c == O_TLS_CERT ? &cfg->tls_cert : &cfg->tls_key) = optarg;
            break;
        case O_MAP_SIZE:
            if (parse_size(optarg, &size) != 0 || size < (1ull << 20))
                return bad_value("map-size", optarg, "expected at least 1M");
            store_cfg->map_size = size;
            map_given = 1;
            break;
        case O_DEFAULT_ACCESS: {
            enum kvs_general_access ga;
            if (kvs_access_parse(optarg, &ga) != 0 || ga == KVS_GA_FOLLOW_USER_SETTING)
                return bad_value("default-general-access", optarg,
                                 "expected RESTRICTED, ANYONE_WITH_ID_CAN_READ or "
                                 "ANYONE_WITH_NAME_CAN_READ");
            cfg->default_access = (uint8_t)ga;
            break;
        }
        case O_LOG_LEVEL: {
            static const char *levels[] = {"debug", "info", "warn", "error"};
            unsigned i = 0;
            while (i < 4 && strcmp(optarg, levels[i]) != 0)
                i++;
            if (i == 4)
                return bad_value("log-level", optarg, "expected debug, info, warn or error");
            kvs_log_set_level((enum kvs_log_level)i);
            break;
        }
        case O_HELP:
        case 'h':
            help(stdout);
            return 0;
        case ':':
            fprintf(stderr, "kvs serve: option '%s' needs a value (see kvs serve --help)\n",
                    argv[optind - 1]);
            return 2;
        default:
            fprintf(stderr, "kvs serve: unknown option '%s' (see kvs serve --help)\n",
                    argv[optind - 1]);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "kvs serve: unexpected argument '%s' (see kvs serve --help)\n",
                argv[optind]);
        return 2;
    }
    if (!cfg->tls_cert != !cfg->tls_key) {
        fprintf(stderr, "kvs serve: --%s needs --%s too (see kvs serve --help)\n",
                cfg->tls_cert ? "tls-cert" : "tls-key", cfg->tls_cert ? "tls-key" : "tls-cert");
        return 2;
    }
    if (store_cfg->pg_uri != NULL && (data_given || map_given)) {
        fprintf(stderr,
                "kvs serve: --%s is for LMDB; with --storage postgres://... the data is "
                "in PostgreSQL\n",
                data_given ? "data" : "map-size");
        return 2;
    }
    return -1;
}

/* The admins, as user_list gathers them: enough to tell whether any of them has a token. */
struct admins {
    struct kvs_user u[16];
    unsigned n;
};

static int gather_admin(void *arg, const struct kvs_user *u)
{
    struct admins *a = arg;
    if (u->is_admin && a->n < sizeof a->u / sizeof a->u[0])
        a->u[a->n++] = *u;
    return 0;
}

static int count_token(void *arg, const struct kvs_token_info *t)
{
    ++*(unsigned *)arg;
    return 1; /* one is enough */
}

/* On a restart: when no admin has a token left (all revoked, or the last one lost with the
 * console's sign-out), nobody can administer the server through the API any more. Say how to
 * make one, with the storage it must be made in (WHERE, redacted for a URI). */
static void check_admin_tokens(struct kvs_storage *st, const char *where)
{
    struct kvs_read *rd;
    if (kvs_storage_read_begin(st, &rd) != 0)
        return; /* only advice: the server works without it */
    struct admins a = {.n = 0};
    unsigned tokens = 0;
    int rc = kvs_storage_user_list(rd, gather_admin, &a);
    for (unsigned i = 0; rc == 0 && i < a.n && tokens == 0; i++)
        rc = kvs_storage_token_list(rd, kvs_slice_of(a.u[i].id), count_token, &tokens);
    kvs_storage_read_end(rd);
    if (rc != 0 || a.n == 0 || tokens > 0)
        return;
    printf("kvs: no admin has an API token; make one with: kvs token create %s --data %s\n",
           a.u[0].username, where);
}

/* Make sure the admin exists. On a new data directory create it with $KVS_ADMIN_TOKEN or a
 * generated token (printed once); on an existing one, add $KVS_ADMIN_TOKEN to the admin's
 * tokens if it is not known yet. A new admin gets DEFAULT_ACCESS as its default general
 * access. Returns 0 or an error code. */
static int ensure_admin(struct kvs_storage *st, uint8_t default_access)
{
    struct kvs_read *rd;
    int rc = kvs_storage_read_begin(st, &rd);
    if (rc != 0)
        return rc;
    uint64_t users = 0;
    struct kvs_user admin;
    rc = kvs_storage_user_count(rd, &users);
    const char *env = getenv("KVS_ADMIN_TOKEN");
    uint8_t hash[KVS_TOKEN_HASH_LEN];
    int env_known = 0;
    if (rc == 0 && users > 0 && env && *env) {
        struct kvs_user owner;
        kvs_token_hash(kvs_slice_of(env), hash);
        int found = kvs_storage_user_by_token(rd, hash, &owner);
        env_known = found == 0;
        rc = found == KVS_ENOTFOUND || found == 0 ? 0 : found;
        if (rc == 0)
            rc = kvs_storage_user_by_name(rd, KVS_SLICE_LIT("admin"), &admin);
    }
    kvs_storage_read_end(rd);
    if (rc != 0)
        return rc;

    struct kvs_write w = {0};
    if (users > 0) {
        if (env == NULL || *env == '\0' || env_known)
            return 0;
        w.op = KVS_W_TOKEN_ADD;
        w.user = admin;
        memcpy(w.token_hash, hash, sizeof hash);
        kvs_token_prefix(kvs_slice_of(env), w.token_prefix);
        rc = kvs_storage_write(st, &w);
        if (rc == 0)
            kvs_log_info("added $KVS_ADMIN_TOKEN to the tokens of user admin");
        return rc;
    }

    char generated[KVS_TOKEN_LEN + 1];
    const char *token = env;
    if (token == NULL || *token == '\0') {
        rc = kvs_token_generate(generated);
        if (rc != 0)
            return rc;
        token = generated;
    }
    w.op = KVS_W_USER_CREATE;
    snprintf(w.user.username, sizeof w.user.username, "admin");
    w.user.is_admin = 1;
    w.user.default_access = default_access;
    kvs_token_hash(kvs_slice_of(token), w.token_hash);
    kvs_token_prefix(kvs_slice_of(token), w.token_prefix);
    rc = kvs_storage_write(st, &w);
    if (rc != 0)
        return rc;
    if (token == generated)
        printf("kvs: created user admin; API token (shown only this once): %s\n", token);
    else
        printf("kvs: created user admin with the token from $KVS_ADMIN_TOKEN\n");
    fflush(stdout);
    return 0;
}

/* Every connection is a file descriptor: raise the soft limit on them (often 1024) towards
 * the hard one, so that MAX_CONNECTIONS of them and the storage's own fit. Says so when they
 * cannot, and goes on: connections past the limit are then refused by the kernel's accept. */
static void raise_fd_limit(unsigned max_connections)
{
    struct rlimit rl;
    rlim_t want = (rlim_t)max_connections + 256;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
        return;
    rlim_t to = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want ? want : rl.rlim_max;
    if (to > rl.rlim_cur) {
        rl.rlim_cur = to;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            to = 0;
    }
    if (to < want)
        kvs_log_warn("serve: open files are limited to %llu; --max-connections %u needs about %llu",
                     (unsigned long long)(getrlimit(RLIMIT_NOFILE, &rl) == 0 ? rl.rlim_cur : 0),
                     max_connections, (unsigned long long)want);
}

/* SIGHUP: load the TLS certificate and key again (tls.h). A failed reload keeps the
 * certificate in use and says why; the server goes on either way. */
static void reload(struct kvs_server *srv)
{
    if (srv->tls == NULL) {
        kvs_log_info("received SIGHUP: nothing to reload (no --tls-cert)");
        return;
    }
    char msg[512];
    if (kvs_tls_reload(srv->tls, msg, sizeof msg) != 0) {
        kvs_log_error("received SIGHUP: TLS certificate not reloaded, the old one stays: %s", msg);
        return;
    }
    kvs_tls_describe(srv->tls, msg, sizeof msg);
    kvs_log_info("received SIGHUP: reloaded the TLS certificate: %s", msg);
}

int kvs_serve_main(int argc, char **argv)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    struct kvs_server srv = {0};
    srv.cfg = (struct kvs_server_config){
        .listen = DEFAULT_LISTEN,
        .data_dir = DEFAULT_DATA,
        .max_record_size = DEFAULT_MAX_RECORD,
        .threads = cpus > 0 ? (unsigned)cpus : 1,
        .max_connections = DEFAULT_MAX_CONNECTIONS,
        .timeout_secs = 60,
        .request_timeout_secs = 60,
        .header_timeout_secs = 30,
        .decode_memory = DEFAULT_DECODE_MEMORY,
        .first_byte_timeout_secs = 10,
        .max_per_ip = DEFAULT_MAX_PER_IP,
        .default_access = KVS_GA_RESTRICTED,
    };
    /* Unnamed stores expire 7 days after their last access unless --unnamed-retention. */
    struct kvs_storage_config store_cfg = {.unnamed_retention_ms = 7ull * 86400000};
    const char *access_log = NULL;
    int log_json = 0;
    int max_record_given = 0;
    int status = parse_options(argc, argv, &srv.cfg, &store_cfg, &access_log, &log_json,
                               &max_record_given);
    if (status >= 0)
        return status;
    raise_fd_limit(srv.cfg.max_connections);
    srv.cfg.unnamed_retention_ms = store_cfg.unnamed_retention_ms;
    char why[512];
    if (srv.cfg.tls_cert &&
        kvs_tls_open(srv.cfg.tls_cert, srv.cfg.tls_key, &srv.tls, why, sizeof why) != 0) {
        fprintf(stderr, "kvs serve: TLS: %s\n", why);
        return 1;
    }
    if (access_log && kvs_accesslog_open(access_log, log_json) != 0) {
        fprintf(stderr, "kvs serve: cannot open the access log %s: %s\n", access_log,
                strerror(errno));
        kvs_tls_free(srv.tls);
        return 1;
    }
    store_cfg.dir = srv.cfg.data_dir;
    /* Every connection may hold a read snapshot while its response is sent (zero-copy). */
    store_cfg.max_readers = srv.cfg.max_connections + 64;
    /* PostgreSQL: a lookup holds a connection only while its statement runs, on one of the
     * HTTP threads (and /metrics' on one too). */
    store_cfg.pg_pool = srv.cfg.threads + 2;
    char open_error[512] = "";
    store_cfg.error = open_error;
    store_cfg.error_cap = sizeof open_error;
    char where[512];
    redact(store_cfg.pg_uri ? store_cfg.pg_uri : srv.cfg.data_dir, where, sizeof where);

    /* Signals are taken by sigwait() below; block them before any thread starts so that no
     * worker thread receives them. Writes to closed sockets are errors, not deaths. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    int rc = kvs_storage_open(&store_cfg, &srv.storage);
    if (rc != 0 && store_cfg.pg_uri != NULL) {
        fprintf(stderr, "kvs serve: cannot open the storage %s: %s\n", where,
                open_error[0] ? open_error : kvs_strerror(rc));
        return 1;
    }
    if (rc != 0) {
        fprintf(stderr, "kvs serve: cannot open the data directory %s: %s\n", srv.cfg.data_dir,
                kvs_strerror(rc));
        kvs_tls_free(srv.tls);
        return 1;
    }
    if (!kvs_storage_uploads(srv.storage) && !max_record_given)
        srv.cfg.max_record_size = DEFAULT_MAX_RECORD_INLINE; /* bodies are held in memory */
    /* Listen before creating the admin: a start that fails on a busy port must not have
     * shown (and so spent) the one-time display of a generated token. Connections wait in the
     * kernel's backlog until the server starts below, when the admin exists: nothing is ever
     * answered "starting" (which a health check would count as a failure). */
    rc = kvs_http_listen(&srv, why, sizeof why);
    if (rc != 0) {
        fprintf(stderr, "kvs serve: cannot listen on %s: %s%s\n", srv.cfg.listen, why,
                strstr(why, "in use") ? " (another server is there; choose another address "
                                        "with --listen HOST:PORT)"
                                      : "");
        kvs_storage_close(srv.storage);
        kvs_tls_free(srv.tls);
        return 1;
    }
    rc = ensure_admin(srv.storage, srv.cfg.default_access);
    if (rc == KVS_EEXIST) /* another node on the same database made the admin just now */
        rc = ensure_admin(srv.storage, srv.cfg.default_access);
    if (rc != 0)
        fprintf(stderr, "kvs serve: cannot set up the admin user: %s\n", kvs_strerror(rc));
    __atomic_store_n(&srv.ready, 1, __ATOMIC_RELEASE);
    if (rc == 0 && kvs_http_start(&srv, why, sizeof why) != 0) {
        fprintf(stderr, "kvs serve: cannot serve on %s: %s\n", srv.cfg.listen, why);
        rc = KVS_EIO;
    }
    if (rc != 0) {
        if (srv.listen_fd >= 0)
            close(srv.listen_fd);
        kvs_storage_close(srv.storage);
        kvs_tls_free(srv.tls);
        return 1;
    }
    check_admin_tokens(srv.storage, where);
    char host[256];
    snprintf(host, sizeof host, "%.*s", (int)(strrchr(srv.cfg.listen, ':') - srv.cfg.listen),
             srv.cfg.listen);
    printf("kvs: serving %s://%s:%u (data in %s, %s storage, %u threads; %s)\n",
           srv.tls ? "https" : "http", host, srv.port, where, kvs_storage_name(srv.storage),
           srv.cfg.threads, kvs_version_line());
    if (srv.tls) {
        kvs_tls_describe(srv.tls, why, sizeof why);
        printf("kvs: TLS certificate %s\n", why);
    }
    fflush(stdout);

    int sig = 0;
    while (sigwait(&sigs, &sig) != 0 || sig == SIGHUP) {
        if (sig == SIGHUP)
            reload(&srv);
        sig = 0;
    }
    kvs_log_info("received %s: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    kvs_http_stop(&srv, SHUTDOWN_GRACE_SECS);
    kvs_tls_free(srv.tls);
    kvs_storage_close(srv.storage);
    kvs_accesslog_close();
    kvs_log_info("stopped cleanly");
    return 0;
}
