/* err.c — descriptions of the codes in kvs.h's KVS_ERRNO_MAP. */
#include "kvs.h"

const char *kvs_strerror(int code)
{
    switch (code) {
    case KVS_OK:
        return "Success.";
#define X(name, num, status, type, msg)                                                            \
    case KVS_##name:                                                                               \
        return msg;
        KVS_ERRNO_MAP(X)
#undef X
    }
    return "Unknown error.";
}

const char *kvs_errname(int code)
{
    switch (code) {
    case KVS_OK:
        return "KVS_OK";
#define X(name, num, status, type, msg)                                                            \
    case KVS_##name:                                                                               \
        return "KVS_" #name;
        KVS_ERRNO_MAP(X)
#undef X
    }
    return "KVS_UNKNOWN";
}

int kvs_err_status(int code)
{
    switch (code) {
    case KVS_OK:
        return 200;
#define X(name, num, status, type, msg)                                                            \
    case KVS_##name:                                                                               \
        return status;
        KVS_ERRNO_MAP(X)
#undef X
    }
    return 500;
}

const char *kvs_err_type(int code)
{
    switch (code) {
#define X(name, num, status, type, msg)                                                            \
    case KVS_##name:                                                                               \
        return type;
        KVS_ERRNO_MAP(X)
#undef X
    }
    return "internal-server-error";
}
