/*
 * N-API bindings for lifeboat_native.
 *
 *   poly1305(key: Uint8Array(32), msg: Uint8Array): Buffer(16)
 *   poly1305Verify(key: Uint8Array(32), msg: Uint8Array, tag: Uint8Array(16)): boolean
 *   poly1305Impl: string   ("64x64" or "26x5")
 *   scryptLanes(blocks: Uint8Array(k*128*r), N: number, r: number): Promise<void>
 *       k scrypt lanes one after another, in place, sharing one V array, on
 *       the libuv thread pool (the blocks are held until the promise settles;
 *       do not touch them meanwhile)
 *   scanDir(path: string | Uint8Array): Promise<{ names | rawNames, links, stats } | { errno }>
 *       one folder's entries with their lstat metadata (see scan.h), read on
 *       the libuv thread pool; POSIX only (absent on Windows). The path is
 *       UTF-8 text or its raw bytes (a folder whose name is not valid UTF-8).
 *       The names come NUL-separated, as one string (`names`) when they are
 *       all valid UTF-8, else as their raw bytes (`rawNames`, a Buffer);
 *       when some entry has extended attributes, `xattrs` holds every entry's
 *       list (see scan.h) one after another and `xattrEnds[i]` (a Uint32Array)
 *       where entry i's ends; `links[i]` is a symlink's target, a string, or
 *       a Buffer when it is not valid UTF-8
 *   readXattrs(path: string | Uint8Array): Buffer | undefined
 *   setXattr(pathOrFd: string | Uint8Array | number, name: string, value: Uint8Array): void
 *       extended attributes of one file (symlinks not followed), synchronous;
 *       failures throw an Error with the `errno`
 *   mknod(path: string | Uint8Array, mode: number, dev: number): void
 *       a FIFO or device node (mode: type bits and permissions), synchronous
 *   setTimes(pathOrFd: string | Uint8Array | number, atimeNs: bigint, mtimeNs: bigint): void
 *       access and modification times to the nanosecond (a symlink itself), synchronous
 *
 * Arguments may be any Uint8Array (Buffers included), also views into larger
 * ArrayBuffers: napi_get_typedarray_info already accounts for byteOffset.
 * The computation is synchronous and does not keep references to the inputs.
 */
#define NAPI_VERSION 8
#include <node_api.h>

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "poly1305.h"
#include "scrypt.h"
#include "scan.h"

#define LB_CALL(env, call)                                                       \
  do {                                                                           \
    if ((call) != napi_ok) {                                                     \
      const napi_extended_error_info *lb_info = NULL;                            \
      napi_get_last_error_info((env), &lb_info);                                 \
      napi_throw_error((env), NULL,                                              \
                       (lb_info && lb_info->error_message) ? lb_info->error_message \
                                                           : "N-API call failed"); \
      return NULL;                                                               \
    }                                                                            \
  } while (0)

/* Reads a Uint8Array argument. Returns 0 (with a pending TypeError) when the
 * value is not a byte array or, when want >= 0, not exactly want bytes long. */
static int lb_get_bytes(napi_env env, napi_value value, const char *name, long want,
                        const uint8_t **data, size_t *len) {
  bool is_typed = false;
  napi_typedarray_type type;
  size_t length = 0;
  void *ptr = NULL;
  char msg[96];

  if (napi_is_typedarray(env, value, &is_typed) != napi_ok || !is_typed) {
    snprintf(msg, sizeof msg, "%s must be a Uint8Array", name);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
    return 0;
  }
  if (napi_get_typedarray_info(env, value, &type, &length, &ptr, NULL, NULL) != napi_ok) {
    napi_throw_error(env, NULL, "cannot read typed array");
    return 0;
  }
  if (type != napi_uint8_array && type != napi_uint8_clamped_array && type != napi_int8_array) {
    snprintf(msg, sizeof msg, "%s must be a Uint8Array", name);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
    return 0;
  }
  if (want >= 0 && length != (size_t)want) {
    snprintf(msg, sizeof msg, "%s must be %ld bytes long (got %lu)", name, want,
             (unsigned long)length);
    napi_throw_range_error(env, "ERR_INVALID_ARG_VALUE", msg);
    return 0;
  }
  *data = (const uint8_t *)ptr;
  *len = length;
  return 1;
}

static const uint8_t lb_empty[1] = {0};

static napi_value lb_js_poly1305(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  const uint8_t *key, *msg;
  size_t key_len, msg_len;
  uint8_t tag[16];
  void *out_data = NULL;
  napi_value out;

  LB_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "poly1305(key, msg) needs 2 arguments");
    return NULL;
  }
  if (!lb_get_bytes(env, argv[0], "key", 32, &key, &key_len)) return NULL;
  if (!lb_get_bytes(env, argv[1], "msg", -1, &msg, &msg_len)) return NULL;

  lb_poly1305(tag, key, msg_len ? msg : lb_empty, msg_len);
  LB_CALL(env, napi_create_buffer_copy(env, sizeof tag, tag, &out_data, &out));
  return out;
}

static napi_value lb_js_poly1305_verify(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  const uint8_t *key, *msg, *tag;
  size_t key_len, msg_len, tag_len;
  uint8_t computed[16];
  napi_value result;
  int ok;

  LB_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS",
                          "poly1305Verify(key, msg, tag) needs 3 arguments");
    return NULL;
  }
  if (!lb_get_bytes(env, argv[0], "key", 32, &key, &key_len)) return NULL;
  if (!lb_get_bytes(env, argv[1], "msg", -1, &msg, &msg_len)) return NULL;
  if (!lb_get_bytes(env, argv[2], "tag", -1, &tag, &tag_len)) return NULL;

  lb_poly1305(computed, key, msg_len ? msg : lb_empty, msg_len);
  /* A tag of the wrong length never matches; its length is public anyway. */
  ok = tag_len == 16 && lb_tag_equal(computed, tag);
  memset(computed, 0, sizeof computed);
  LB_CALL(env, napi_get_boolean(env, ok != 0, &result));
  return result;
}

/* One ROMix lane in flight: the block stays referenced until completion. */
typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref block_ref;
  uint8_t *block;
  size_t lanes;
  uint64_t n;
  uint32_t r;
  int status;
} lb_romix_job;

static void lb_romix_execute(napi_env env, void *data) {
  lb_romix_job *job = (lb_romix_job *)data;
  (void)env;
  job->status = lb_scrypt_romix(job->block, job->lanes, job->n, job->r);
}

static void lb_romix_complete(napi_env env, napi_status status, void *data) {
  lb_romix_job *job = (lb_romix_job *)data;
  napi_value result;
  if (status == napi_ok && job->status == 0) {
    napi_get_undefined(env, &result);
    napi_resolve_deferred(env, job->deferred, result);
  } else {
    napi_value msg;
    napi_create_string_utf8(env, status == napi_ok ? "scrypt: cannot allocate the lane's memory" : "scrypt: lane cancelled",
                            NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &result);
    napi_reject_deferred(env, job->deferred, result);
  }
  napi_delete_reference(env, job->block_ref);
  napi_delete_async_work(env, job->work);
  free(job);
}

static napi_value lb_js_scrypt_lanes(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  const uint8_t *block;
  size_t block_len;
  double n, r;
  napi_value promise, name;
  lb_romix_job *job;

  LB_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "scryptLanes(blocks, N, r) needs 3 arguments");
    return NULL;
  }
  if (!lb_get_bytes(env, argv[0], "blocks", -1, &block, &block_len)) return NULL;
  if (napi_get_value_double(env, argv[1], &n) != napi_ok || napi_get_value_double(env, argv[2], &r) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "N and r must be numbers");
    return NULL;
  }
  /* 128*r must fit a size_t (a 32-bit one too) before anything is divided by it. */
  if (!(r >= 1 && r < 1073741824.0) || r != (double)(uint32_t)r || (double)r > (double)(SIZE_MAX / 128) || block_len == 0 ||
      block_len % ((size_t)128 * (uint32_t)r) != 0) {
    napi_throw_range_error(env, "ERR_INVALID_ARG_VALUE", "r must be a positive integer and blocks a non-empty multiple of 128*r bytes");
    return NULL;
  }
  if (!(n >= 2 && n <= 4294967296.0) || n != (double)(uint64_t)n || ((uint64_t)n & ((uint64_t)n - 1)) != 0) {
    napi_throw_range_error(env, "ERR_INVALID_ARG_VALUE", "N must be a power of two from 2 to 2^32");
    return NULL;
  }
  job = (lb_romix_job *)calloc(1, sizeof *job);
  if (!job) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  job->block = (uint8_t *)block;
  job->lanes = block_len / ((size_t)128 * (uint32_t)r);
  job->n = (uint64_t)n;
  job->r = (uint32_t)r;
  if (napi_create_reference(env, argv[0], 1, &job->block_ref) != napi_ok ||
      napi_create_promise(env, &job->deferred, &promise) != napi_ok ||
      napi_create_string_utf8(env, "lifeboat:scryptLanes", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, lb_romix_execute, lb_romix_complete, job, &job->work) != napi_ok ||
      napi_queue_async_work(env, job->work) != napi_ok) {
    free(job);
    napi_throw_error(env, NULL, "cannot queue the scrypt lane");
    return NULL;
  }
  return promise;
}

#ifndef _WIN32
/* One folder scan in flight. */
typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  char *path;
  lb_dir_scan scan;
} lb_scan_job;

static void lb_scan_execute(napi_env env, void *data) {
  lb_scan_job *job = (lb_scan_job *)data;
  (void)env;
  lb_scan_dir(job->path, &job->scan);
}

/* Whether bytes are well-formed UTF-8 (Unicode's table 3-7: no overlong forms, no surrogates, nothing above U+10FFFF). */
static int lb_utf8_valid(const uint8_t *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    uint8_t c = s[i];
    size_t more;
    uint8_t lo = 0x80, hi = 0xBF;
    if (c < 0x80) {
      i++;
      continue;
    }
    if (c >= 0xC2 && c <= 0xDF) more = 1;
    else if (c == 0xE0) more = 2, lo = 0xA0;
    else if (c == 0xED) more = 2, hi = 0x9F;
    else if (c >= 0xE1 && c <= 0xEF) more = 2;
    else if (c == 0xF0) more = 3, lo = 0x90;
    else if (c == 0xF4) more = 3, hi = 0x8F;
    else if (c >= 0xF1 && c <= 0xF3) more = 3;
    else return 0;
    if (i + more >= n) return 0; /* the sequence is cut off */
    if (s[i + 1] < lo || s[i + 1] > hi) return 0;
    for (size_t k = 2; k <= more; k++) if (s[i + k] < 0x80 || s[i + k] > 0xBF) return 0;
    i += more + 1;
  }
  return 1;
}

/* Builds { names, links, stats } (or { errno }); NULL with an exception pending on failure.
 * `names` is one string, the names joined by NUL (no name holds one): one
 * string for the folder costs far less than a string per entry. */
static napi_value lb_scan_result(napi_env env, lb_dir_scan *scan) {
  napi_value result, names, links, xattrs, stats, buffer, value;
  void *bytes = NULL;
  size_t i, count = scan->count, total = 0, at = 0;
  char *joined;
  if (napi_create_object(env, &result) != napi_ok) return NULL;
  if (scan->error != 0) {
    if (napi_create_int32(env, scan->error, &value) != napi_ok || napi_set_named_property(env, result, "errno", value) != napi_ok) return NULL;
    return result;
  }
  for (i = 0; i < count; i++) total += strlen(scan->names[i]) + 1;
  joined = (char *)malloc(total + 1);
  if (!joined) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  for (i = 0; i < count; i++) {
    size_t n = strlen(scan->names[i]);
    if (i > 0) joined[at++] = '\0';
    memcpy(joined + at, scan->names[i], n);
    at += n;
  }
  /* Names that are not valid UTF-8 would come out of a string with U+FFFD in place of their bytes:
   * the file could then be neither opened nor told from another. They go out as bytes instead. */
  if ((lb_utf8_valid((const uint8_t *)joined, at) ? napi_create_string_utf8(env, joined, at, &names)
                                                  : napi_create_buffer_copy(env, at, joined, NULL, &names)) != napi_ok) {
    free(joined);
    return NULL;
  }
  free(joined);
  if (napi_create_array(env, &links) != napi_ok ||
      napi_create_arraybuffer(env, count * LB_SCAN_FIELDS * sizeof(int64_t), &bytes, &buffer) != napi_ok ||
      napi_create_typedarray(env, napi_bigint64_array, count * LB_SCAN_FIELDS, buffer, 0, &stats) != napi_ok) {
    return NULL;
  }
  if (count > 0) memcpy(bytes, scan->stats, count * LB_SCAN_FIELDS * sizeof(int64_t));
  for (i = 0; i < count; i++) {
    if (scan->links[i]) {
      /* A target that is not UTF-8 goes out as its bytes, like the names. */
      size_t n = strlen(scan->links[i]);
      if ((lb_utf8_valid((const uint8_t *)scan->links[i], n) ? napi_create_string_utf8(env, scan->links[i], n, &value)
                                                              : napi_create_buffer_copy(env, n, scan->links[i], NULL, &value)) != napi_ok ||
          napi_set_element(env, links, (uint32_t)i, value) != napi_ok) {
        return NULL;
      }
    }
  }
  /* Every entry's attribute list in one Buffer, and where each ends in it (a Uint32Array): two objects
   * per folder rather than one per entry (on an SELinux system every file has a label). */
  total = 0;
  for (i = 0; i < count; i++) total += scan->xattr_lens[i];
  if (total > 0) {
    napi_value ends_buffer, ends;
    void *ends_bytes = NULL;
    char *into;
    if (total > UINT32_MAX) {
      napi_throw_range_error(env, NULL, "scanDir: the folder's extended attributes exceed 4 GiB");
      return NULL;
    }
    if (napi_create_buffer(env, total, (void **)&into, &xattrs) != napi_ok ||
        napi_create_arraybuffer(env, count * sizeof(uint32_t), &ends_bytes, &ends_buffer) != napi_ok ||
        napi_create_typedarray(env, napi_uint32_array, count, ends_buffer, 0, &ends) != napi_ok) {
      return NULL;
    }
    at = 0;
    for (i = 0; i < count; i++) {
      if (scan->xattr_lens[i]) memcpy(into + at, scan->xattrs[i], scan->xattr_lens[i]);
      at += scan->xattr_lens[i];
      ((uint32_t *)ends_bytes)[i] = (uint32_t)at;
    }
    if (napi_set_named_property(env, result, "xattrs", xattrs) != napi_ok || napi_set_named_property(env, result, "xattrEnds", ends) != napi_ok) return NULL;
  }
  napi_valuetype names_type;
  if (napi_typeof(env, names, &names_type) != napi_ok ||
      napi_set_named_property(env, result, names_type == napi_string ? "names" : "rawNames", names) != napi_ok ||
      napi_set_named_property(env, result, "links", links) != napi_ok ||
      napi_set_named_property(env, result, "stats", stats) != napi_ok) {
    return NULL;
  }
  return result;
}

static void lb_scan_complete(napi_env env, napi_status status, void *data) {
  lb_scan_job *job = (lb_scan_job *)data;
  napi_value result = NULL, msg;
  if (status == napi_ok) result = lb_scan_result(env, &job->scan);
  if (result) {
    napi_resolve_deferred(env, job->deferred, result);
  } else {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {
      napi_get_and_clear_last_exception(env, &result);
    } else {
      napi_create_string_utf8(env, status == napi_ok ? "scanDir: cannot build the result" : "scanDir: cancelled", NAPI_AUTO_LENGTH, &msg);
      napi_create_error(env, NULL, msg, &result);
    }
    napi_reject_deferred(env, job->deferred, result);
  }
  lb_scan_free(&job->scan);
  napi_delete_async_work(env, job->work);
  free(job->path);
  free(job);
}

static napi_value lb_js_scan_dir(napi_env env, napi_callback_info info) {
  size_t argc = 1, len = 0;
  napi_value argv[1], promise, name;
  napi_valuetype type;
  lb_scan_job *job;

  const uint8_t *raw = NULL;
  LB_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || napi_typeof(env, argv[0], &type) != napi_ok) type = napi_undefined;
  if (type == napi_object) {
    if (!lb_get_bytes(env, argv[0], "scanDir(path)", -1, &raw, &len)) return NULL;
  } else if (type != napi_string) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "scanDir(path) needs a path string or its bytes");
    return NULL;
  } else {
    LB_CALL(env, napi_get_value_string_utf8(env, argv[0], NULL, 0, &len));
  }
  job = (lb_scan_job *)calloc(1, sizeof *job);
  if (!job || !(job->path = (char *)malloc(len + 1))) {
    free(job);
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  if (raw) {
    memcpy(job->path, raw, len);
    job->path[len] = '\0';
  }
  if ((!raw && napi_get_value_string_utf8(env, argv[0], job->path, len + 1, &len) != napi_ok) || strlen(job->path) != len) {
    free(job->path);
    free(job);
    napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", "scanDir: the path must not contain NUL");
    return NULL;
  }
  if (napi_create_promise(env, &job->deferred, &promise) != napi_ok ||
      napi_create_string_utf8(env, "lifeboat:scanDir", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, lb_scan_execute, lb_scan_complete, job, &job->work) != napi_ok ||
      napi_queue_async_work(env, job->work) != napi_ok) {
    free(job->path);
    free(job);
    napi_throw_error(env, NULL, "cannot queue the folder scan");
    return NULL;
  }
  return promise;
}

/* A path argument (UTF-8 text or its raw bytes) as a malloc'd C string; NULL with an exception pending. */
static char *lb_get_path(napi_env env, napi_value value, const char *what) {
  napi_valuetype type;
  size_t len = 0;
  char *path;
  const uint8_t *raw = NULL;
  char msg[96];
  if (napi_typeof(env, value, &type) != napi_ok) type = napi_undefined;
  if (type == napi_object) {
    if (!lb_get_bytes(env, value, what, -1, &raw, &len)) return NULL;
  } else if (type == napi_string) {
    if (napi_get_value_string_utf8(env, value, NULL, 0, &len) != napi_ok) len = 0;
  } else {
    snprintf(msg, sizeof msg, "%s must be a path string or its bytes", what);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
    return NULL;
  }
  path = (char *)malloc(len + 1);
  if (!path) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  if (raw) {
    memcpy(path, raw, len);
    path[len] = '\0';
  } else if (napi_get_value_string_utf8(env, value, path, len + 1, &len) != napi_ok) {
    path[0] = '\0';
  }
  if (strlen(path) != len) {
    free(path);
    snprintf(msg, sizeof msg, "%s must not contain NUL", what);
    napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", msg);
    return NULL;
  }
  return path;
}

/* A target argument: an open descriptor (*fd >= 0, *path NULL) or a path (*path malloc'd). 0 with an
 * exception pending when it is neither. */
static int lb_get_path_or_fd(napi_env env, napi_value value, const char *what, char **path, int32_t *fd) {
  napi_valuetype type;
  char msg[96];
  *path = NULL;
  *fd = -1;
  if (napi_typeof(env, value, &type) == napi_ok && type == napi_number) {
    if (napi_get_value_int32(env, value, fd) != napi_ok || *fd < 0) {
      snprintf(msg, sizeof msg, "%s: the descriptor must be a non-negative integer", what);
      napi_throw_range_error(env, "ERR_INVALID_ARG_VALUE", msg);
      return 0;
    }
    return 1;
  }
  *path = lb_get_path(env, value, what);
  return *path != NULL;
}

/* Throws an Error for errno `e` from `syscall`, with the errno in its `errno` property. */
static void lb_throw_errno(napi_env env, int e, const char *syscall) {
  napi_value msg, err, code;
  char text[160];
  snprintf(text, sizeof text, "%s: %s", syscall, strerror(e));
  if (napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &msg) != napi_ok || napi_create_error(env, NULL, msg, &err) != napi_ok ||
      napi_create_int32(env, e, &code) != napi_ok || napi_set_named_property(env, err, "errno", code) != napi_ok) {
    napi_throw_error(env, NULL, text);
    return;
  }
  napi_throw(env, err);
}

/* readXattrs(path): Buffer | undefined (see scan.h for the layout); synchronous, throws with `errno`. */
static napi_value lb_js_read_xattrs(napi_env env, napi_callback_info info) {
  size_t argc = 1, len = 0;
  napi_value argv[1], result;
  char *path, *list = NULL;
  int e;
  LB_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "readXattrs(path) needs a path");
    return NULL;
  }
  if (!(path = lb_get_path(env, argv[0], "readXattrs(path)"))) return NULL;
  e = lb_read_xattrs(path, &list, &len);
  free(path);
  if (e) {
    free(list);
    lb_throw_errno(env, e, "getxattr");
    return NULL;
  }
  if (!list) {
    LB_CALL(env, napi_get_undefined(env, &result));
    return result;
  }
  if (napi_create_buffer_copy(env, len, list, NULL, &result) != napi_ok) {
    free(list);
    napi_throw_error(env, NULL, "readXattrs: cannot build the result");
    return NULL;
  }
  free(list);
  return result;
}

/* setXattr(pathOrFd, name, value): sets one attribute (on an open descriptor, or a path not followed
 * if a symlink); synchronous, throws with `errno`. */
static napi_value lb_js_set_xattr(napi_env env, napi_callback_info info) {
  size_t argc = 3, name_len = 0, value_len = 0;
  napi_value argv[3];
  napi_valuetype type;
  char *path = NULL, *name;
  const uint8_t *value;
  int32_t fd = -1;
  int e;
  LB_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "setXattr(pathOrFd, name, value) needs 3 arguments");
    return NULL;
  }
  if (!lb_get_path_or_fd(env, argv[0], "setXattr(pathOrFd)", &path, &fd)) return NULL;
  if (!lb_get_bytes(env, argv[2], "setXattr(value)", -1, &value, &value_len)) {
    free(path);
    return NULL;
  }
  if (napi_typeof(env, argv[1], &type) != napi_ok || type != napi_string ||
      napi_get_value_string_utf8(env, argv[1], NULL, 0, &name_len) != napi_ok || !(name = (char *)malloc(name_len + 1))) {
    free(path);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "setXattr: the name must be a string");
    return NULL;
  }
  napi_get_value_string_utf8(env, argv[1], name, name_len + 1, &name_len);
  e = strlen(name) != name_len ? EINVAL : lb_set_xattr(path, fd, name, value, value_len);
  free(name);
  free(path);
  if (e) {
    lb_throw_errno(env, e, "setxattr");
    return NULL;
  }
  return NULL;
}

/* setTimes(pathOrFd, atimeNs, mtimeNs): times to the nanosecond (BigInts); a symlink itself, never its
 * target; synchronous, throws with `errno`. */
static napi_value lb_js_set_times(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  char *path = NULL;
  int32_t fd = -1;
  int64_t atime_ns, mtime_ns;
  bool lossless;
  int e;
  LB_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3 || napi_get_value_bigint_int64(env, argv[1], &atime_ns, &lossless) != napi_ok || !lossless ||
      napi_get_value_bigint_int64(env, argv[2], &mtime_ns, &lossless) != napi_ok || !lossless) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "setTimes(pathOrFd, atimeNs, mtimeNs) needs two 64-bit BigInts");
    return NULL;
  }
  if (!lb_get_path_or_fd(env, argv[0], "setTimes(pathOrFd)", &path, &fd)) return NULL;
  e = lb_set_times(path, fd, atime_ns, mtime_ns);
  free(path);
  if (e) lb_throw_errno(env, e, "utimensat");
  return NULL;
}

/* mknod(path, mode, dev): a FIFO or device node, as restore recreates them; synchronous, throws with `errno`. */
static napi_value lb_js_mknod(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  char *path;
  double mode, dev;
  int e;
  LB_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3 || napi_get_value_double(env, argv[1], &mode) != napi_ok || napi_get_value_double(env, argv[2], &dev) != napi_ok ||
      !(mode >= 0 && mode <= 4294967295.0) || !(dev >= 0 && dev <= 9007199254740991.0)) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "mknod(path, mode, dev) needs a path and two non-negative numbers");
    return NULL;
  }
  if (!(path = lb_get_path(env, argv[0], "mknod(path)"))) return NULL;
  e = lb_mknod(path, (unsigned int)mode, (uint64_t)dev);
  free(path);
  if (e) lb_throw_errno(env, e, "mknod");
  return NULL;
}
#endif

static napi_value lb_init_module(napi_env env, napi_value exports) {
  napi_value impl;
  napi_property_descriptor props[9];
  size_t nprops = 0;

  LB_CALL(env, napi_create_string_utf8(env, lb_poly1305_impl(), NAPI_AUTO_LENGTH, &impl));

  memset(props, 0, sizeof props);
#define LB_METHOD(js_name, fn)                 \
  do {                                         \
    props[nprops].utf8name = (js_name);        \
    props[nprops].method = (fn);               \
    props[nprops].attributes = napi_enumerable; \
    nprops++;                                  \
  } while (0)
  LB_METHOD("poly1305", lb_js_poly1305);
  LB_METHOD("poly1305Verify", lb_js_poly1305_verify);
  props[nprops].utf8name = "poly1305Impl";
  props[nprops].value = impl;
  props[nprops].attributes = napi_enumerable;
  nprops++;
  LB_METHOD("scryptLanes", lb_js_scrypt_lanes);
#ifndef _WIN32
  LB_METHOD("scanDir", lb_js_scan_dir);
  LB_METHOD("readXattrs", lb_js_read_xattrs);
  LB_METHOD("setXattr", lb_js_set_xattr);
  LB_METHOD("mknod", lb_js_mknod);
  LB_METHOD("setTimes", lb_js_set_times);
#endif
#undef LB_METHOD

  LB_CALL(env, napi_define_properties(env, exports, nprops, props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, lb_init_module)
