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

/* Grows the three arrays to hold at least `need` entries; 0 when out of memory. */
static int lb_grow(lb_dir_scan *out, size_t *cap, size_t need) {
  size_t n;
  char **names, **links;
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

void lb_scan_dir(const char *path, lb_dir_scan *out) {
  DIR *dir;
  int fd;
  size_t cap = 0;
  struct dirent *ent;

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
    }
  }
  closedir(dir); /* closes fd */
}

void lb_scan_free(lb_dir_scan *scan) {
  size_t i;
  for (i = 0; i < scan->count; i++) {
    free(scan->names[i]);
    free(scan->links[i]);
  }
  free(scan->names);
  free(scan->links);
  free(scan->stats);
  memset(scan, 0, sizeof *scan);
}

#else
typedef int lb_scan_unused; /* ISO C wants a translation unit to declare something */
#endif
