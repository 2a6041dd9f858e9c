/* validate.c — key, name and ID rules (see validate.h and shared/api-contract.md §5). */
#include "common/validate.h"

static int is_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

int kvs_valid_key(kvs_slice key)
{
    if (key.n < 1 || key.n > KVS_KEY_MAX)
        return 0;
    /* "." and ".." match the platform's regex, but every URL parser (browsers, Node, axios)
     * turns /records/. and /records/.. into the store's own path: no link could ever address
     * them, and a file path made of them is a traversal. Refused. */
    if ((key.n == 1 && key.p[0] == '.') || (key.n == 2 && key.p[0] == '.' && key.p[1] == '.'))
        return 0;
    for (size_t i = 0; i < key.n; i++) {
        unsigned char c = (unsigned char)key.p[i];
        if (!is_alnum(c) && c != '!' && c != '-' && c != '_' && c != '.' && c != '\'' &&
            c != '(' && c != ')')
            return 0;
    }
    return 1;
}

int kvs_valid_store_name(kvs_slice name)
{
    if (name.n < 1 || name.n > KVS_NAME_MAX)
        return 0;
    if (name.p[0] == '-' || name.p[name.n - 1] == '-')
        return 0;
    for (size_t i = 0; i < name.n; i++) {
        unsigned char c = (unsigned char)name.p[i];
        if (!is_alnum(c) && c != '-')
            return 0;
    }
    return 1;
}

int kvs_valid_username(kvs_slice name)
{
    return kvs_valid_store_name(name);
}

int kvs_valid_id(kvs_slice id)
{
    if (id.n != KVS_ID_LEN)
        return 0;
    for (size_t i = 0; i < id.n; i++)
        if (!is_alnum((unsigned char)id.p[i]))
            return 0;
    return 1;
}
