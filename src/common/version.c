/* version.c — the release and commit of this build (see version.h). The commit comes from
 * build/gen/version_gen.h, which the Makefile rewrites only when it changes, so a new commit
 * recompiles this one file. */
#include "common/version.h"

#include "kvs/client.h"  /* KVS_VERSION */
#include "version_gen.h" /* build/gen/version_gen.h: KVS_BUILD_STR */

const char *kvs_build_commit(void)
{
    return KVS_BUILD_STR;
}

const char *kvs_version_line(void)
{
    return sizeof KVS_BUILD_STR > 1 ? "kvs " KVS_VERSION " (" KVS_BUILD_STR ")"
                                    : "kvs " KVS_VERSION;
}
