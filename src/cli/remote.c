/* remote.c — the administration commands through the HTTP API of a running server (see
 * cli.h), with libcurl: one request per command, JSON in and out with jansson. A refusal is
 * printed with the server's own message. */
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/access.h"
#include "cli/cli.h"
#include "storage/storage.h"

#define RESPONSE_MAX (16u << 20) /* a user list of 1000 users is far below this */

struct response {
    char *p;
    size_t n;
    int too_big;
};

static size_t on_data(char *data, size_t size, size_t nmemb, void *arg)
{
    struct response *r = arg;
    size_t n = size * nmemb;
    if (r->n + n > RESPONSE_MAX) {
        r->too_big = 1;
        return 0; /* makes curl stop with an error */
    }
    char *p = realloc(r->p, r->n + n + 1);
    if (p == NULL)
        return 0;
    memcpy(p + r->n, data, n);
    r->p = p;
    r->n += n;
    r->p[r->n] = '\0';
    return n;
}

/* Percent-encode S for a path segment into a new string (free with curl_free). */
static char *segment(CURL *curl, const char *s)
{
    return curl_easy_escape(curl, s, 0);
}

int kvs_cli_call(const struct kvs_cli_req *req, void *curl, const char *method, const char *path,
                 const char *body, size_t body_n, const char *content_type, json_t **data)
{
    if (data != NULL)
        *data = NULL;
    size_t base_n = strlen(req->url);
    while (base_n > 0 && req->url[base_n - 1] == '/')
        base_n--;
    size_t url_n = base_n + strlen(path) + 1;
    char *url = malloc(url_n);
    char *auth = malloc(strlen(req->token) + 32);
    if (url == NULL || auth == NULL) {
        free(url);
        free(auth);
        return kvs_cli_fail("out of memory");
    }
    snprintf(url, url_n, "%.*s%s", (int)base_n, req->url, path);
    snprintf(auth, strlen(req->token) + 32, "Authorization: Bearer %s", req->token);
    char ctype[300];
    snprintf(ctype, sizeof ctype, "Content-Type: %s", content_type ? content_type : "");

    struct curl_slist *headers = curl_slist_append(NULL, auth);
    headers = curl_slist_append(headers, "Accept: application/json");
    if (body != NULL)
        headers = curl_slist_append(headers, ctype);
    struct response resp = {0};
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &resp);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    /* the size is always set: a handle reused for several calls keeps the last one's */
    if (body != NULL || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? body_n : 0));
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body ? body : "");
    }

    CURLcode cc = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    int rc = 0;
    json_t *doc = NULL;
    if (cc != CURLE_OK) {
        rc = kvs_cli_fail("%s %.*s: %s", method, (int)base_n, req->url,
                          resp.too_big ? "the response is too large" : curl_easy_strerror(cc));
    } else {
        if (resp.n > 0)
            doc = json_loadb(resp.p, resp.n, 0, NULL);
        if (status >= 200 && status < 300 && data != NULL) {
            json_t *d = json_object_get(doc, "data");
            if (status != 204 && d == NULL)
                rc =
                    kvs_cli_fail("the server's answer is not the expected JSON (HTTP %ld)", status);
            *data = json_incref(d);
        } else if (status >= 200 && status < 300) {
            /* the caller wants no data (a record PUT answers {}) */
        } else {
            const char *msg =
                json_string_value(json_object_get(json_object_get(doc, "error"), "message"));
            rc = kvs_cli_fail("%s (HTTP %ld)", msg ? msg : "the request failed", status);
        }
    }
    json_decref(doc);
    curl_slist_free_all(headers);
    free(resp.p);
    free(url);
    if (auth != NULL)
        memset(auth, 0, strlen(auth)); /* it holds the token */
    free(auth);
    return rc;
}

/* Send METHOD URL-base + PATH with the JSON BODY (may be NULL); see kvs_cli_call(). */
static int call(const struct kvs_cli_req *req, CURL *curl, const char *method, const char *path,
                json_t *body, json_t **data)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    if (body != NULL && text == NULL)
        return kvs_cli_fail("out of memory");
    int rc = kvs_cli_call(req, curl, method, path, text, text ? strlen(text) : 0,
                          "application/json", data);
    free(text);
    return rc;
}

static const char *str(json_t *o, const char *name)
{
    const char *s = json_string_value(json_object_get(o, name));
    return s ? s : "-";
}

/* ---- the commands -----------------------------------------------------------------------------
 */

static int run(const struct kvs_cli_req *req, CURL *curl)
{
    json_t *data = NULL, *body = NULL;
    char path[1024];
    char *user = req->name ? segment(curl, req->name) : NULL;
    char *store = req->store ? segment(curl, req->store) : NULL;
    int rc = 0;
    if ((req->name && user == NULL) || (req->store && store == NULL)) {
        rc = kvs_cli_fail("out of memory");
        goto out;
    }
    switch (req->cmd) {
    case KVS_CLI_USER_ADD:
        body = json_pack("{s:s,s:b}", "username", req->name, "isAdmin", req->admin);
        if (req->default_access >= 0)
            json_object_set_new(
                body, "defaultGeneralAccess",
                json_string(kvs_access_name((enum kvs_general_access)req->default_access)));
        rc = call(req, curl, "POST", "/v2/users", body, &data);
        if (rc == 0) {
            printf("created user %s (id %s%s)\n", str(data, "username"), str(data, "id"),
                   json_is_true(json_object_get(data, "isAdmin")) ? ", admin" : "");
            kvs_cli_print_token("API token", str(data, "username"), str(data, "token"));
        }
        break;
    case KVS_CLI_USER_LIST:
        rc = call(req, curl, "GET", "/v2/users?limit=1000", NULL, &data);
        if (rc == 0) {
            printf("%-24s %-17s  %-5s  %-26s %s\n", "USERNAME", "ID", "ADMIN",
                   "DEFAULT-GENERAL-ACCESS", "CREATED");
            size_t i;
            json_t *u;
            json_array_foreach(json_object_get(data, "items"), i, u)
            {
                printf("%-24s %s  %-5s  %-26s %s\n", str(u, "username"), str(u, "id"),
                       json_is_true(json_object_get(u, "isAdmin")) ? "admin" : "-",
                       str(u, "defaultGeneralAccess"), str(u, "createdAt"));
            }
        }
        break;
    case KVS_CLI_TOKEN_CREATE:
        snprintf(path, sizeof path, "/v2/users/%s/tokens", user);
        rc = call(req, curl, "POST", path, NULL, &data);
        if (rc == 0)
            kvs_cli_print_token("new API token", str(data, "username"), str(data, "token"));
        break;
    case KVS_CLI_TOKEN_LIST:
        snprintf(path, sizeof path, "/v2/users/%s/tokens", user);
        rc = call(req, curl, "GET", path, NULL, &data);
        if (rc == 0) {
            printf("%-14s %s\n", "PREFIX", "CREATED");
            size_t i;
            json_t *t;
            json_array_foreach(json_object_get(data, "items"), i, t)
            {
                const char *p = json_string_value(json_object_get(t, "prefix"));
                printf("%-14s %s\n", p && *p ? p : "(unknown)", str(t, "createdAt"));
            }
        }
        break;
    case KVS_CLI_TOKEN_REVOKE:
        if (*req->name == '\0') {
            rc = kvs_cli_fail("give a token prefix");
            break;
        }
        snprintf(path, sizeof path, "/v2/tokens/%s", user);
        rc = call(req, curl, "DELETE", path, NULL, &data);
        if (rc == 0)
            printf("revoked the token\n");
        break;
    case KVS_CLI_SHARE:
        snprintf(path, sizeof path, "/v2/key-value-stores/%s/shares/%s", store, user);
        body = json_pack("{s:s}", "access", req->level == KVS_SHARE_WRITE ? "WRITE" : "READ");
        rc = call(req, curl, "PUT", path, body, &data);
        if (rc == 0)
            printf("shared %s with %s: %s\n", req->store, str(data, "username"),
                   str(data, "access"));
        break;
    case KVS_CLI_UNSHARE:
        snprintf(path, sizeof path, "/v2/key-value-stores/%s/shares/%s", store, user);
        rc = call(req, curl, "DELETE", path, NULL, &data);
        if (rc == 0)
            printf("%s is no longer shared with %s\n", req->store, req->name);
        break;
    }
out:
    json_decref(body);
    json_decref(data);
    curl_free(user);
    curl_free(store);
    return rc;
}

int kvs_cli_remote(const struct kvs_cli_req *req)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
        return kvs_cli_fail("cannot initialise libcurl");
    CURL *curl = curl_easy_init();
    int rc = curl ? run(req, curl) : kvs_cli_fail("cannot initialise libcurl");
    curl_easy_cleanup(curl);
    curl_global_cleanup();
    return rc;
}
