/*
 * One folder's entries with their lstat metadata, read in one go (POSIX):
 * readdir, then fstatat(AT_SYMLINK_NOFOLLOW) and, for symlinks, readlinkat on
 * each entry relative to the open folder; and the extended attributes of
 * every entry but symlinks (as restic records them; Linux and macOS). A backup's scan costs one call per
 * folder instead of one per entry, and runs off the JavaScript thread.
 */
#ifndef LB_SCAN_H
#define LB_SCAN_H

#include <stddef.h>
#include <stdint.h>

/* Per-entry fields, in this order, in lb_dir_scan.stats (int64 each). */
enum {
  LB_SCAN_ERRNO = 0,   /* errno of the entry's lstat, 0 when it succeeded */
  LB_SCAN_MODE,
  LB_SCAN_UID,
  LB_SCAN_GID,
  LB_SCAN_INO,
  LB_SCAN_DEV,
  LB_SCAN_NLINK,
  LB_SCAN_SIZE,
  LB_SCAN_RDEV,
  LB_SCAN_ATIME_NS,
  LB_SCAN_MTIME_NS,
  LB_SCAN_CTIME_NS,
  LB_SCAN_LINK_ERRNO,  /* errno of a symlink's readlink, 0 when it succeeded */
  LB_SCAN_XATTR_ERRNO, /* errno of reading the extended attributes, 0 when it succeeded (or there are none) */
  LB_SCAN_FIELDS
};

typedef struct {
  int error;          /* errno of opening or reading the folder; 0 on success */
  size_t count;       /* entries ("." and ".." left out) */
  char **names;       /* count NUL-terminated names, as the file system gives them */
  char **links;       /* count symlink targets (NULL for other entries) */
  /* count extended-attribute lists (NULL when there are none), each xattr_lens[i] bytes:
   * per attribute its name, a NUL, the value's length (uint32, little-endian) and the value. */
  char **xattrs;
  size_t *xattr_lens;
  int64_t *stats;     /* count * LB_SCAN_FIELDS */
} lb_dir_scan;

/* Scans `path` into `out` (zeroed first). Never fails partially: a failed
 * entry has its errno in its stats; a failed folder sets out->error. */
void lb_scan_dir(const char *path, lb_dir_scan *out);

/* Frees what lb_scan_dir allocated. */
void lb_scan_free(lb_dir_scan *scan);

/* The extended attributes of `file` (not following a symlink), in lb_dir_scan.xattrs' layout
 * (malloc'd; NULL when there are none, or the file system has none). 0, or an errno. */
int lb_read_xattrs(const char *file, char **out, size_t *out_len);

/* Sets one extended attribute on the open file `fd` (when >= 0) or on `file` (not following a
 * symlink). 0, or an errno (ENOTSUP where the platform has no extended attributes). */
int lb_set_xattr(const char *file, int fd, const char *name, const void *value, size_t len);

/* Sets access and modification times to the nanosecond, on the open file `fd` (when >= 0) or on
 * `file` (a symlink itself, never its target). 0, or an errno. */
int lb_set_times(const char *file, int fd, int64_t atime_ns, int64_t mtime_ns);

/* Creates a FIFO or a device node (mknod(2): `mode` holds the type bits and permissions). 0, or an errno. */
int lb_mknod(const char *file, unsigned int mode, uint64_t dev);

#endif
