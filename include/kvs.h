/* kvs.h — the public header of kvstore.
 *
 * kvstore is a key-value store server that speaks the Apify API v2 for key-value stores.
 * This header holds what every part of the project and every program built on libkvs
 * shares: the error table, with each error's HTTP status and Apify error type, and the
 * functions that describe an error code.
 *
 * Conventions (they hold for every kvs_ function):
 *   - A function that can fail returns an int: 0 (or a non-negative count) on success, a
 *     negative KVS_E... code on failure. Results travel through out-parameters.
 *   - A function that takes a callback and returns an error never calls that callback.
 *   - Memory that kvs hands to the caller says in its comment who frees it and how.
 *
 * The client library's API is in kvs/client.h, which includes this header.
 */
#ifndef KVS_H
#define KVS_H

#ifdef __cplusplus
extern "C" {
#endif

/* Marks what libkvs.so exports: the library is built with -fvisibility=hidden. */
#if defined(__GNUC__)
#define KVS_API __attribute__((visibility("default")))
#else
#define KVS_API
#endif

/* Every error kvs reports: its name, its number, the HTTP status a server answers with, the
 * Apify error type sent in {"error": {"type": ...}}, and a default message.
 *
 * Append only: never renumber, never reuse a retired number; a retired code keeps its slot. */
#define KVS_ERRNO_MAP(X)                                                                           \
    X(EINVAL, -1, 400, "invalid-value", "Invalid value provided.")                                 \
    X(ENOTFOUND, -2, 404, "record-not-found", "The requested resource was not found.")             \
    X(EBADKEY, -3, 400, "invalid-record-key", "Record key contains invalid character.")            \
    X(ETOOBIG, -4, 413, "request-too-large", "The request payload is too large.")                  \
    X(ENOTOKEN, -5, 401, "token-not-provided", "Authentication token was not provided.")           \
    X(EBADTOKEN, -6, 401, "user-or-token-not-found", "User was not found or token is not valid.")  \
    X(EACCESS, -7, 403, "insufficient-permissions",                                                \
      "Insufficient permissions for the key-value store. Make sure you're passing a correct API "  \
      "token and that it has the required permissions.")                                           \
    X(ENOMEM, -8, 500, "internal-server-error", "Out of memory.")                                  \
    X(EIO, -9, 500, "internal-server-error", "Internal storage failure.")                          \
    X(EENCODING, -10, 415, "unsupported-content-encoding", "Content-Encoding is not supported.")   \
    X(ENAMETAKEN, -11, 400, "name-not-unique", "A store with this name already exists.")           \
    X(EBADJSON, -12, 400, "invalid-request", "The request body is not valid JSON.")                \
    X(ENOSPACE, -13, 507, "insufficient-storage", "The server has no space left to store data.")   \
    X(EMETHOD, -14, 405, "method-not-allowed", "This API endpoint does not allow this method.")    \
    X(ENOROUTE, -15, 404, "page-not-found", "The requested page was not found.")                   \
    X(EBADPARAM, -16, 400, "invalid-parameter", "Invalid query parameter.")                        \
    X(EBADBODY, -17, 400, "invalid-request", "The request body could not be decoded.")             \
    X(EUNAVAIL, -18, 503, "service-unavailable", "The service is unavailable; try again soon.")    \
    X(ERATE, -19, 429, "rate-limit-exceeded", "You have exceeded the rate limit.")                 \
    X(EEXIST, -20, 400, "already-exists", "The resource already exists.")                          \
    X(EBADNAME, -21, 400, "invalid-value",                                                         \
      "Invalid value provided: name can only contain letters 'a' through 'z', the digits '0' "     \
      "through '9', and the hyphen ('-') but only in the middle of the string (e.g. "              \
      "'my-value-1'), and be at most 63 characters long.")                                         \
    X(EAMBIGUOUS, -22, 400, "invalid-parameter",                                                   \
      "The token prefix matches more than one token; give more of the token.")                     \
    X(ETIMEOUT, -23, 408, "request-timeout", "The request was not received in time.")              \
    /* client side (libkvs) only: a server never answers with these */                             \
    X(ENET, -24, 502, "network-error", "The server could not be reached.")                         \
    X(EPROTO, -25, 502, "invalid-response", "The server's answer could not be understood.")        \
    X(EPRECOND, -26, 412, "precondition-failed",                                                   \
      "The record does not meet the request's precondition (If-Match, If-None-Match or "           \
      "If-Unmodified-Since).")                                                                     \
    X(ERANGE, -27, 416, "range-not-satisfiable", "The requested range is not satisfiable.")      \
    /* server side only: a record write whose rights were checked under a meta epoch that had   \
     * moved by its batch (storage.h, kvs_write.meta_epoch); the server checks them again and    \
     * submits it anew, and never answers with this */                                           \
    X(ESTALE, -28, 503, "service-unavailable", "The request's rights changed; try again.")     \
    /* Actor runs (storage/run.h) */                                                             \
    X(ENOTIMPL, -29, 501, "not-implemented",                                                       \
      "kvstore serves key-value stores and Actor runs only; this part of the Apify API is not "    \
      "available.")                                                                                \
    X(EFINISHED, -30, 409, "job-finished", "The run has finished already.")                        \
    X(EUNFINISHED, -31, 409, "job-not-finished", "The run has not finished yet.")

enum kvs_errno {
    KVS_OK = 0,
#define KVS__ERRNO_ENUM(name, num, status, type, msg) KVS_##name = (num),
    KVS_ERRNO_MAP(KVS__ERRNO_ENUM)
#undef KVS__ERRNO_ENUM
};

/* A sentence describing CODE ("Invalid value provided."). Never NULL; static storage. */
KVS_API const char *kvs_strerror(int code);

/* The symbolic name of CODE ("KVS_EINVAL"). Never NULL; static storage. */
KVS_API const char *kvs_errname(int code);

/* The HTTP status a server answers with for CODE (500 for an unknown code). */
KVS_API int kvs_err_status(int code);

/* The Apify error type for CODE ("record-not-found"). Never NULL; static storage. */
KVS_API const char *kvs_err_type(int code);

#ifdef __cplusplus
}
#endif
#endif /* KVS_H */
