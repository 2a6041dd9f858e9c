/* accesslog.c — the access log (accesslog.h). */
#include "server/accesslog.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "api/api.h"
#include "kvs.h"
#include "server/http.h"
#include "server/redact.h"
#include "server/router.h"

static int log_fd = -1;
static int log_json;

int kvs_accesslog_open(const char *where, int json)
{
    log_json = json;
    if (strcmp(where, "-") == 0) {
        log_fd = STDERR_FILENO;
        return 0;
    }
    log_fd = open(where, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    return log_fd < 0 ? KVS_EIO : 0;
}

void kvs_accesslog_close(void)
{
    if (log_fd > STDERR_FILENO)
        close(log_fd);
    log_fd = -1;
}

int kvs_accesslog_on(void)
{
    return log_fd >= 0;
}

/* Append S[0..N) to OUT (room for MAX, always NUL-terminated), escaping for the format:
 * JSON string escapes, or \xNN in text for bytes outside printable ASCII, spaces and '\'. */
static size_t put_escaped(char *out, size_t at, size_t max, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n && at + 7 < max; i++) {
        unsigned char c = (unsigned char)s[i];
        int plain = c > 0x20 && c < 0x7f && c != '\\' && c != '"';
        if (plain) {
            out[at++] = (char)c;
        } else if (log_json) {
            at += (size_t)snprintf(out + at, max - at, "\\u%04x", c);
        } else {
            out[at++] = '\\';
            out[at++] = 'x';
            out[at++] = hex[c >> 4];
            out[at++] = hex[c & 15];
        }
    }
    out[at] = '\0';
    return at;
}

static const char *method_name(const struct kvs_req *r)
{
    switch (r->method) {
    case KVS_M_GET:
        return "GET";
    case KVS_M_HEAD:
        return "HEAD";
    case KVS_M_PUT:
        return "PUT";
    case KVS_M_POST:
        return "POST";
    case KVS_M_DELETE:
        return "DELETE";
    case KVS_M_OPTIONS:
        return "OPTIONS";
    default:
        return "OTHER";
    }
}

void kvs_accesslog_write(const struct kvs_req *r, uint64_t duration_ns)
{
    if (log_fd < 0)
        return;
    char when[KVS_ISO_LEN + 1];
    kvs_iso8601(kvs_now_ms(), when);
    char ip[INET6_ADDRSTRLEN] = "-";
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, ip, sizeof ip);
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, ip, sizeof ip);
    }
    char plain[1024], path[1024];
    /* no token (the request's own, wherever it is put), no query */
    size_t plain_n = kvs_redact_path(r->path, kvs_api_request_token((struct kvs_req *)r), plain,
                                     sizeof plain);
    put_escaped(path, 0, sizeof path, plain, plain_n);
    const char *route = r->route ? r->route->name : "-";
    const char *user = r->authenticated ? r->user.username : "-";
    char line[1536];
    int n;
    if (log_json)
        n = snprintf(line, sizeof line,
                     "{\"time\":\"%s\",\"client\":\"%s\",\"method\":\"%s\",\"path\":\"%s\","
                     "\"route\":\"%s\",\"status\":%u,\"bytesIn\":%llu,\"bytesOut\":%llu,"
                     "\"ms\":%.3f,\"user\":%s%s%s}\n",
                     when, ip, method_name(r), path, route, r->status,
                     (unsigned long long)r->bytes_in, (unsigned long long)r->bytes_out,
                     (double)duration_ns / 1e6, r->authenticated ? "\"" : "",
                     r->authenticated ? user : "null", r->authenticated ? "\"" : "");
    else
        n = snprintf(line, sizeof line, "%s %s %s %s %s %u %llu %llu %.3f %s\n", when, ip,
                     method_name(r), path, route, r->status, (unsigned long long)r->bytes_in,
                     (unsigned long long)r->bytes_out, (double)duration_ns / 1e6, user);
    if (n <= 0)
        return;
    if ((size_t)n >= sizeof line) {
        n = sizeof line - 1;
        line[n - 1] = '\n';
    }
    ssize_t w = write(log_fd, line, (size_t)n);
    (void)w; /* a log that cannot be written is not a reason to fail requests */
}
