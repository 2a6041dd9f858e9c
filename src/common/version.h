/* version.h — which kvs this is: the release (KVS_VERSION of include/kvs/client.h, which the
 * Makefile reads too, and libkvs's kvs_version()) and the commit it was built from (`git
 * describe --always --dirty`, written by the build into build/gen/version_gen.h), so that
 * `kvs --version`, `kvs serve`'s serving line and GET /health say the same. */
#ifndef KVS_COMMON_VERSION_H
#define KVS_COMMON_VERSION_H

/* The commit, e.g. "57d9b53" or "57d9b53-dirty"; "" when built outside a git checkout (a
 * source tarball). A static string. */
const char *kvs_build_commit(void);

/* "kvs 1.0.0 (57d9b53)", or "kvs 1.0.0" without a commit. A static string. */
const char *kvs_version_line(void);

#endif
