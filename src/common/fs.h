/* fs.h — small file-system steps shared by the storage and the CLI. Each returns 0 or an errno
 * value (not a KVS_E... code: callers tell a full disk from other failures themselves). */
#ifndef KVS_COMMON_FS_H
#define KVS_COMMON_FS_H

/* mkdir -p DIR, each new directory 0700; then DIR must be a directory (ENOTDIR if not). */
int kvs_make_dirs(const char *dir);

/* Copy what is left of the open file FROM (from its offset) to the end of the open file TO:
 * copy_file_range where the kernel can, read and write where not. Does not sync. */
int kvs_copy_fd(int from, int to);

/* fsync PATH, a file or a directory (a directory's fsync makes its new entries durable). */
int kvs_fsync_path(const char *path);

#endif
