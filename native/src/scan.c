/* See scan.h. POSIX only; on Windows the addon leaves the function out and
 * the scan uses Node's fs. */
#ifndef _WIN32

#define _GNU_SOURCE
#include "scan.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#if defined(__linux__) || defined(__APPLE__)
#include <sys/xattr.h>
#define LB_HAVE_XATTR 1
#endif

#if defined(__APPLE__)
#define LB_ATIM st_atimespec
#define LB_MTIM st_mtimespec
#define LB_CTIM st_ctimespec
#else
#define LB_ATIM st_atim
#define LB_MTIM st_mtim
#define LB_CTIM st_ctim
#endif

static int64_t lb_ns(struct timespec t) { return (int64_t)t.tv_sec * 1000000000 + (int64_t)t.tv_nsec; }

/* Grows the arrays to hold at least `need` entries; 0 when out of memory. */
static int lb_grow(lb_dir_scan *out, size_t *cap, size_t need) {
  size_t n;
  char **names, **links, **xattrs;
  size_t *xattr_lens;
  int64_t *stats;
  if (need <= *cap) return 1;
  n = *cap ? *cap * 2 : 64;
  while (n < need) n *= 2;
  names = (char **)realloc(out->names, n * sizeof *names);
  if (!names) return 0;
  out->names = names;
  links = (char **)realloc(out->links, n * sizeof *links);
  if (!links) return 0;
  out->links = links;
  xattrs = (char **)realloc(out->xattrs, n * sizeof *xattrs);
  if (!xattrs) return 0;
  out->xattrs = xattrs;
  xattr_lens = (size_t *)realloc(out->xattr_lens, n * sizeof *xattr_lens);
  if (!xattr_lens) return 0;
  out->xattr_lens = xattr_lens;
  stats = (int64_t *)realloc(out->stats, n * LB_SCAN_FIELDS * sizeof *stats);
  if (!stats) return 0;
  out->stats = stats;
  *cap = n;
  return 1;
}

/* The target of the symlink `name` in folder `fd`, or NULL with errno set. */
static char *lb_readlink(int fd, const char *name, int64_t size_hint) {
  size_t cap = size_hint > 0 && size_hint < 65536 ? (size_t)size_hint + 1 : 256;
  for (;;) {
    char *buf = (char *)malloc(cap);
    ssize_t n;
    if (!buf) {
      errno = ENOMEM;
      return NULL;
    }
    n = readlinkat(fd, name, buf, cap);
    if (n < 0) {
      int e = errno;
      free(buf);
      errno = e;
      return NULL;
    }
    if ((size_t)n < cap) {
      buf[n] = '\0';
      return buf;
    }
    free(buf); /* truncated: the link grew, or the hint was short */
    if (cap > ((size_t)1 << 20)) {
      errno = ENAMETOOLONG;
      return NULL;
    }
    cap *= 4;
  }
}

#ifdef LB_HAVE_XATTR
#if defined(__APPLE__)
#define LB_LISTXATTR(p, b, n) listxattr((p), (b), (n), XATTR_NOFOLLOW)
#define LB_GETXATTR(p, k, b, n) getxattr((p), (k), (b), (n), 0, XATTR_NOFOLLOW)
#else
#define LB_LISTXATTR(p, b, n) llistxattr((p), (b), (n))
#define LB_GETXATTR(p, k, b, n) lgetxattr((p), (k), (b), (n))
#endif

/* No extended attributes to read: the file system has none, or the attribute went away meanwhile. */
static int lb_xattr_absent(int e) {
#ifdef ENOATTR
  if (e == ENOATTR) return 1;
#endif
  return e == ENOTSUP || e == ENODATA || e == ENOSYS; /* ENOSYS: a FUSE file system without them */
}

/* One list (name NULL) or get call into a buffer grown until the answer fits (a value can grow between
 * asking its size and reading it: ERANGE asks again). 0 with *buf (malloc'd, or NULL when empty) and
 * *len, or an errno. */
static int lb_xattr_fetch(const char *file, const char *name, char **buf, size_t *len) {
  int attempt;
  *buf = NULL;
  *len = 0;
  for (attempt = 0; attempt < 8; attempt++) {
    ssize_t want = name ? LB_GETXATTR(file, name, NULL, 0) : LB_LISTXATTR(file, NULL, 0);
    ssize_t got;
    char *b;
    int e;
    if (want < 0) return errno;
    if (want == 0) return 0;
    b = (char *)malloc((size_t)want);
    if (!b) return ENOMEM;
    got = name ? LB_GETXATTR(file, name, b, (size_t)want) : LB_LISTXATTR(file, b, (size_t)want);
    if (got >= 0) {
      *buf = b;
      *len = (size_t)got;
      return 0;
    }
    e = errno;
    free(b);
    if (e != ERANGE) return e;
  }
  return ERANGE;
}

/* Reads the extended attributes of `file` (not following a symlink) into *out (see lb_dir_scan.xattrs).
 * Returns 0, or an errno; no attributes (or a file system without them) is 0 with *out NULL. An
 * attribute that cannot be read is left out and its errno returned, with the others in *out (as
 * restic skips just that one). */
int lb_read_xattrs(const char *file, char **out, size_t *out_len) {
  char *names = NULL, *list = NULL;
  size_t names_len = 0, list_len = 0, list_cap = 0, at = 0;
  int skipped = 0;
  int e = lb_xattr_fetch(file, NULL, &names, &names_len);
  *out = NULL;
  *out_len = 0;
  if (e) return lb_xattr_absent(e) ? 0 : e;
  while (at < names_len) {
    const char *name = names + at;
    size_t rest = names_len - at, name_len = strnlen(name, rest), value_len = 0, need;
    char *value = NULL;
    if (name_len == rest) break; /* not NUL-terminated: never from a kernel, but never read past it */
    at += name_len + 1;
    if (name_len == 0) continue;
    e = lb_xattr_fetch(file, name, &value, &value_len);
    if (e) {
      if (e == ENOMEM) goto fail;
      if (!lb_xattr_absent(e) && !skipped) skipped = e; /* absent: removed since it was listed */
      continue;
    }
    need = list_len + name_len + 1 + 4 + value_len;
    if (need > list_cap) {
      size_t cap = list_cap ? list_cap * 2 : 256;
      char *grown;
      while (cap < need) cap *= 2;
      grown = (char *)realloc(list, cap);
      if (!grown) {
        free(value);
        e = ENOMEM;
        goto fail;
      }
      list = grown;
      list_cap = cap;
    }
    memcpy(list + list_len, name, name_len + 1);
    list_len += name_len + 1;
    list[list_len++] = (char)(value_len & 0xff);
    list[list_len++] = (char)((value_len >> 8) & 0xff);
    list[list_len++] = (char)((value_len >> 16) & 0xff);
    list[list_len++] = (char)((value_len >> 24) & 0xff);
    if (value_len) memcpy(list + list_len, value, value_len);
    list_len += value_len;
    free(value);
  }
  free(names);
  *out = list;
  *out_len = list_len;
  return skipped;
fail:
  free(names);
  free(list);
  return e;
}
#else
int lb_read_xattrs(const char *file, char **out, size_t *out_len) {
  (void)file;
  *out = NULL;
  *out_len = 0;
  return 0;
}
#endif

void lb_scan_dir(const char *path, lb_dir_scan *out) {
  DIR *dir;
  int fd;
  size_t cap = 0;
  struct dirent *ent;
#ifdef LB_HAVE_XATTR
  /* The entry's full path, for the xattr calls (which take no folder descriptor). */
  size_t base_len = strlen(path), full_cap = 0;
  char *full = NULL;
  int slash = base_len > 0 && path[base_len - 1] != '/';
#endif

  memset(out, 0, sizeof *out);
  fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    out->error = errno;
    return;
  }
  dir = fdopendir(fd);
  if (!dir) {
    out->error = errno;
    close(fd);
    return;
  }
  for (;;) {
    struct stat st;
    int64_t *f;
    char *name;
    size_t i;
    errno = 0;
    ent = readdir(dir);
    if (!ent) {
      if (errno != 0) out->error = errno;
      break;
    }
    if (ent->d_name[0] == '.' && (ent->d_name[1] == '\0' || (ent->d_name[1] == '.' && ent->d_name[2] == '\0'))) continue;
    if (!lb_grow(out, &cap, out->count + 1) || !(name = strdup(ent->d_name))) {
      out->error = ENOMEM;
      break;
    }
    i = out->count++;
    out->names[i] = name;
    out->links[i] = NULL;
    out->xattrs[i] = NULL;
    out->xattr_lens[i] = 0;
    f = out->stats + i * LB_SCAN_FIELDS;
    memset(f, 0, LB_SCAN_FIELDS * sizeof *f);
    if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      f[LB_SCAN_ERRNO] = errno;
      continue;
    }
    f[LB_SCAN_MODE] = (int64_t)st.st_mode;
    f[LB_SCAN_UID] = (int64_t)st.st_uid;
    f[LB_SCAN_GID] = (int64_t)st.st_gid;
    f[LB_SCAN_INO] = (int64_t)st.st_ino;
    f[LB_SCAN_DEV] = (int64_t)st.st_dev;
    f[LB_SCAN_NLINK] = (int64_t)st.st_nlink;
    f[LB_SCAN_SIZE] = (int64_t)st.st_size;
    f[LB_SCAN_RDEV] = (int64_t)st.st_rdev;
    f[LB_SCAN_ATIME_NS] = lb_ns(st.LB_ATIM);
    f[LB_SCAN_MTIME_NS] = lb_ns(st.LB_MTIM);
    f[LB_SCAN_CTIME_NS] = lb_ns(st.LB_CTIM);
    if (S_ISLNK(st.st_mode)) {
      out->links[i] = lb_readlink(fd, name, (int64_t)st.st_size);
      if (!out->links[i]) f[LB_SCAN_LINK_ERRNO] = errno;
    } else {
#ifdef LB_HAVE_XATTR
      size_t need = base_len + 1 + strlen(name) + 1;
      if (need > full_cap) {
        char *grown = (char *)realloc(full, need * 2);
        if (!grown) {
          f[LB_SCAN_XATTR_ERRNO] = ENOMEM;
          continue;
        }
        full = grown;
        full_cap = need * 2;
      }
      memcpy(full, path, base_len);
      full[base_len] = '/';
      strcpy(full + base_len + slash, name);
      f[LB_SCAN_XATTR_ERRNO] = lb_read_xattrs(full, &out->xattrs[i], &out->xattr_lens[i]);
#endif
    }
  }
  closedir(dir); /* closes fd */
#ifdef LB_HAVE_XATTR
  free(full);
#endif
}

int lb_set_xattr(const char *file, int fd, const char *name, const void *value, size_t len) {
#ifdef LB_HAVE_XATTR
#if defined(__APPLE__)
  int rc = fd >= 0 ? fsetxattr(fd, name, value, len, 0, 0) : setxattr(file, name, value, len, 0, XATTR_NOFOLLOW);
#else
  int rc = fd >= 0 ? fsetxattr(fd, name, value, len, 0) : lsetxattr(file, name, value, len, 0);
#endif
  return rc == 0 ? 0 : errno;
#else
  (void)file, (void)fd, (void)name, (void)value, (void)len;
  return ENOTSUP;
#endif
}

static struct timespec lb_timespec(int64_t ns) {
  struct timespec t;
  int64_t s = ns / 1000000000, rest = ns % 1000000000;
  if (rest < 0) rest += 1000000000, s -= 1; /* before 1970: tv_nsec stays within 0..999999999 */
  t.tv_sec = (time_t)s;
  t.tv_nsec = (long)rest;
  return t;
}

int lb_set_times(const char *file, int fd, int64_t atime_ns, int64_t mtime_ns) {
  struct timespec ts[2];
  ts[0] = lb_timespec(atime_ns);
  ts[1] = lb_timespec(mtime_ns);
  return (fd >= 0 ? futimens(fd, ts) : utimensat(AT_FDCWD, file, ts, AT_SYMLINK_NOFOLLOW)) == 0 ? 0 : errno;
}

int lb_mknod(const char *file, unsigned int mode, uint64_t dev) {
  return mknod(file, (mode_t)mode, (dev_t)dev) == 0 ? 0 : errno;
}

void lb_scan_free(lb_dir_scan *scan) {
  size_t i;
  for (i = 0; i < scan->count; i++) {
    free(scan->names[i]);
    free(scan->links[i]);
    free(scan->xattrs[i]);
  }
  free(scan->names);
  free(scan->links);
  free(scan->xattrs);
  free(scan->xattr_lens);
  free(scan->stats);
  memset(scan, 0, sizeof *scan);
}

#else
typedef int lb_scan_unused; /* ISO C wants a translation unit to declare something */
#endif
