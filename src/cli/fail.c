/* fail.c — what the command line says when something fails: one message per situation,
 * whichever command met it and whichever way it ran (through a server, or on a data directory
 * with --data), so that a person learns each message once and a script can match it (see
 * cli.h). A server that is down is told while the retries wait, on a terminal. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/validate.h"

/* Print "kvs: MESSAGE", " (HTTP HTTP)" when the server answered (HTTP not 0), then " — HINT"
 * when there is one (may be NULL); return STATUS. */
static int say_hint(int status, int http, const char *hint, const char *fmt, va_list ap)
{
    fputs("kvs: ", stderr);
    vfprintf(stderr, fmt, ap);
    if (http != 0)
        fprintf(stderr, " (HTTP %d)", http);
    if (hint != NULL)
        fprintf(stderr, " — %s", hint);
    fputc('\n', stderr);
    return status;
}

static int say(int status, int http, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int say(int status, int http, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say_hint(status, http, NULL, fmt, ap);
    va_end(ap);
    return status;
}

static int say_hints(int status, int http, const char *hint, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int say_hints(int status, int http, const char *hint, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say_hint(status, http, hint, fmt, ap);
    va_end(ap);
    return status;
}

/* Whether REF names a store by a bare name (neither an ID nor USERNAME~NAME). */
static int bare_name(const char *ref)
{
    return strchr(ref, '~') == NULL && strchr(ref, '/') == NULL && !kvs_valid_id(kvs_slice_of(ref));
}

int kvs_cli_no_store(const char *store, int http)
{
    char hint[512];
    snprintf(hint, sizeof hint,
             "a name alone is one of your own stores (or the one of that name shared with you); "
             "another user's is USERNAME~%s, or its ID",
             store);
    return say_hints(KVS_CLI_NOT_FOUND, http, bare_name(store) ? hint : NULL, "no store '%s'",
                     store);
}

/* ---- a bare name for a store shared with the caller (see cli.h) ---- */

static struct {
    const char *store; /* the command's store argument, or NULL */
    int may_rerun;
    char *resolved; /* the shared store to run the command on again */
} shared;

void kvs_cli_shared_begin(const char *store, int may_rerun)
{
    free(shared.resolved);
    shared.resolved = NULL;
    shared.store = store;
    shared.may_rerun = may_rerun;
}

char *kvs_cli_shared_take(void)
{
    char *r = shared.resolved;
    shared.resolved = NULL;
    return r;
}

/* "No store STORE" from the server: when STORE is the command's bare store argument and a
 * store of that name is shared with the caller, KVS_CLI_RERUN on it, or words that name it
 * (several: which to give; the command may not run again: what to type). */
static int no_store_or_shared(kvs_client *c, const char *store, int http)
{
    if (shared.store == NULL || strcmp(store, shared.store) != 0 || !bare_name(store))
        return kvs_cli_no_store(store, http);
    shared.store = NULL; /* once */
    char *ref = NULL, list[1024];
    int n = kvs_cli_shared_named(c, store, &ref, list, sizeof list);
    if (n == 1 && shared.may_rerun) {
        shared.resolved = ref;
        return KVS_CLI_RERUN;
    }
    free(ref);
    if (n == 1)
        return say(KVS_CLI_NOT_FOUND, http,
                   "no store '%s' of yours; the one of that name shared with you is %s: give that",
                   store, list);
    if (n > 1)
        return say(2, 0,
                   "no store '%s' of yours, and several stores of that name are shared with you: "
                   "give one of %s",
                   store, list);
    return kvs_cli_no_store(store, http);
}

int kvs_cli_no_record(const char *store, const char *key, int http)
{
    return say(KVS_CLI_NOT_FOUND, http, "no record '%s' in store '%s'", key, store);
}

int kvs_cli_no_user(const char *user, int http)
{
    return say(KVS_CLI_NOT_FOUND, http, "no user named '%s'", user);
}

int kvs_cli_no_token(const char *prefix, int http)
{
    return say(KVS_CLI_NOT_FOUND, http, "no token matches '%s'", prefix);
}

/* The failure RC of the last call on C as "kvs: CONTEXT: MESSAGE (HTTP N)" with what a person
 * can do about it: start the server or point --url at it, give a token. */
static int report(kvs_client *c, int rc, const char *context)
{
    const char *msg = kvs_client_errmsg(c);
    int http = kvs_client_status(c);
    if (http >= 200 && http <= 299)
        http = 0; /* failed after a 2xx: a local failure (writing the output, say) */
    const char *hint = NULL;
    if (rc == KVS_ENET)
        hint = "is kvs serve running there? (--url or $KVS_URL says where)";
    else if (http == 401)
        hint = "give a valid API token with --token TOKEN or $KVS_TOKEN";
    return say_hints(rc == KVS_ENOTFOUND ? KVS_CLI_NOT_FOUND : 1, http, hint, "%s%s%s",
                     context ? context : "", context ? ": " : "", msg[0] ? msg : kvs_strerror(rc));
}

int kvs_cli_api_fail(kvs_client *c, int rc, const char *fmt, ...)
{
    char context[1024];
    if (fmt != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(context, sizeof context, fmt, ap);
        va_end(ap);
    }
    return report(c, rc, fmt ? context : NULL);
}

/* A 413: the value of A (its size when known) against the server's limit, and the option
 * that sets the limit, with the server's own message left out: it says the same in bytes. */
static int too_big(kvs_client *c, const struct kvs_cli_about *a)
{
    int http = kvs_client_status(c);
    struct kvs_server_info *si = NULL;
    char limit[32] = "", size[32];
    if (kvs_server_info(c, &si) == 0 && si->max_record_size > 0)
        kvs_cli_bytes(si->max_record_size, limit);
    kvs_free(si);
    char what[600];
    if (a->file != NULL && strcmp(a->file, "-") != 0)
        snprintf(what, sizeof what, "%s", a->file);
    else
        snprintf(what, sizeof what, "the value");
    if (a->size >= 0)
        snprintf(what + strlen(what), sizeof what - strlen(what), " (%s)",
                 kvs_cli_bytes(a->size, size));
    return say_hints(1, http,
                     "the server's administrator sets the limit with kvs serve "
                     "--max-record-size",
                     "%s %s: %s is larger than the server takes%s%s%s", a->store, a->key, what,
                     limit[0] ? " (at most " : "", limit, limit[0] ? " per record)" : "");
}

int kvs_cli_fail_about(kvs_client *c, int rc, const struct kvs_cli_about *a)
{
    int http = kvs_client_status(c);
    if (rc == KVS_ENOTFOUND) {
        if (a->token != NULL)
            return kvs_cli_no_token(a->token, http);
        if (a->store != NULL && (a->key != NULL || a->user != NULL)) {
            /* a 404 (a HEAD's has no words at all) does not say which of the two is missing:
             * the store, or what was named in it; ask about the store */
            struct kvs_store_info *s = NULL;
            int src = kvs_store_get(c, a->store, &s);
            kvs_free(s);
            if (src == KVS_ENOTFOUND)
                return no_store_or_shared(c, a->store, http);
            if (src == 0 && a->key != NULL)
                return kvs_cli_no_record(a->store, a->key, http);
            if (src == 0)
                return kvs_cli_no_user(a->user, http);
            return report(c, src, a->store);
        }
        if (a->store != NULL)
            return no_store_or_shared(c, a->store, http);
        if (a->user != NULL)
            return kvs_cli_no_user(a->user, http);
    }
    if (rc == KVS_ETOOBIG && a->store != NULL && a->key != NULL)
        return too_big(c, a);
    char context[1024];
    if (a->store != NULL && a->key != NULL)
        snprintf(context, sizeof context, "%s %s", a->store, a->key);
    else
        snprintf(context, sizeof context, "%s",
                 a->store   ? a->store
                 : a->user  ? a->user
                 : a->token ? a->token
                            : "");
    return report(c, rc, context[0] ? context : NULL);
}

/* libkvs's retry notice (kvs_client_set_retry_notice): while a person waits on a terminal, a
 * server that does not answer looks like a command that hangs, for up to 7.5 s of retries. */
static void retry_notice(void *arg, const kvs_client *c, long retry, long max, long wait_ms)
{
    int http = kvs_client_status(c);
    fprintf(stderr, "kvs: %s", kvs_client_errmsg(c));
    if (http != 0)
        fprintf(stderr, " (HTTP %d)", http);
    fprintf(stderr, "; trying again in %.1f s (%ld of %ld)\n", (double)wait_ms / 1000, retry, max);
}

void kvs_cli_tell_retries(kvs_client *c)
{
    if (isatty(STDERR_FILENO))
        kvs_client_set_retry_notice(c, retry_notice, NULL);
}
