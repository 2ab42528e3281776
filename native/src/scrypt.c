/*
 * scrypt's ROMix (RFC 7914, section 5) for one lane.
 *
 * scrypt(P, S, N, r, p) runs p independent ROMix lanes between two
 * PBKDF2-HMAC-SHA256 steps. OpenSSL (node:crypto.scrypt) and Go run the lanes
 * one after another; the caller here runs them on several threads, which is
 * what the p parameter exists for. The PBKDF2 steps stay in node:crypto.
 */
#if defined(__linux__) && !defined(_DEFAULT_SOURCE)
#define _DEFAULT_SOURCE /* mmap's MAP_ANONYMOUS and madvise under -std=c99 */
#endif
#include "scrypt.h"

#include <stdlib.h>
#include <string.h>
#ifdef __linux__
#include <sys/mman.h>
#endif

/*
 * The lane's 128*r*N-byte V array (32 MiB for restic's usual parameters).
 * On Linux it is mapped with transparent huge pages asked for: touching it
 * page by page would otherwise take 8192 page faults, about a third of a
 * lane's time on a VM, all of it system time taken from whatever runs beside
 * the key derivation (the backup's folder scan). Elsewhere, malloc.
 */
static void *lb_lane_alloc(size_t size, size_t *mapped) {
#ifdef __linux__
  const size_t huge = (size_t)2 << 20;
  size_t len;
  if (size > SIZE_MAX - 2 * huge) return NULL; /* rounding up, plus the alignment slack, must not wrap */
  len = (size + huge - 1) / huge * huge;
  uint8_t *p = (uint8_t *)mmap(NULL, len + huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  uint8_t *aligned;
  size_t head;
  if (p == (uint8_t *)MAP_FAILED) return NULL;
  /* Huge pages need 2 MiB alignment: map one extra, trim both ends. */
  aligned = (uint8_t *)(((uintptr_t)p + huge - 1) & ~(uintptr_t)(huge - 1));
  head = (size_t)(aligned - p);
  if (head > 0) munmap(p, head);
  if (huge - head > 0) munmap(aligned + len, huge - head);
#ifdef MADV_HUGEPAGE
  madvise(aligned, len, MADV_HUGEPAGE);
#endif
  *mapped = len;
  return aligned;
#else
  *mapped = size;
  return malloc(size);
#endif
}

static void lb_lane_free(void *p, size_t mapped) {
#ifdef __linux__
  munmap(p, mapped);
#else
  (void)mapped;
  free(p);
#endif
}

/* A memset the compiler cannot drop as a dead store before free(). */
static void *(*const volatile lb_wipe)(void *, int, size_t) = memset;

static inline uint32_t lb_rotl32(uint32_t v, int c) { return (v << c) | (v >> (32 - c)); }

static inline uint32_t lb_load32_le(const uint8_t *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static inline void lb_store32_le(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}

/* B = B xor X, then B = Salsa20/8(B), on 16 words. */
static void lb_salsa20_8_xor(uint32_t b[16], const uint32_t x[16]) {
  uint32_t w[16];
  int i;
  for (i = 0; i < 16; i++) w[i] = (b[i] ^= x[i]);
  for (i = 0; i < 8; i += 2) {
    /* column round */
    w[4] ^= lb_rotl32(w[0] + w[12], 7);
    w[8] ^= lb_rotl32(w[4] + w[0], 9);
    w[12] ^= lb_rotl32(w[8] + w[4], 13);
    w[0] ^= lb_rotl32(w[12] + w[8], 18);
    w[9] ^= lb_rotl32(w[5] + w[1], 7);
    w[13] ^= lb_rotl32(w[9] + w[5], 9);
    w[1] ^= lb_rotl32(w[13] + w[9], 13);
    w[5] ^= lb_rotl32(w[1] + w[13], 18);
    w[14] ^= lb_rotl32(w[10] + w[6], 7);
    w[2] ^= lb_rotl32(w[14] + w[10], 9);
    w[6] ^= lb_rotl32(w[2] + w[14], 13);
    w[10] ^= lb_rotl32(w[6] + w[2], 18);
    w[3] ^= lb_rotl32(w[15] + w[11], 7);
    w[7] ^= lb_rotl32(w[3] + w[15], 9);
    w[11] ^= lb_rotl32(w[7] + w[3], 13);
    w[15] ^= lb_rotl32(w[11] + w[7], 18);
    /* row round */
    w[1] ^= lb_rotl32(w[0] + w[3], 7);
    w[2] ^= lb_rotl32(w[1] + w[0], 9);
    w[3] ^= lb_rotl32(w[2] + w[1], 13);
    w[0] ^= lb_rotl32(w[3] + w[2], 18);
    w[6] ^= lb_rotl32(w[5] + w[4], 7);
    w[7] ^= lb_rotl32(w[6] + w[5], 9);
    w[4] ^= lb_rotl32(w[7] + w[6], 13);
    w[5] ^= lb_rotl32(w[4] + w[7], 18);
    w[11] ^= lb_rotl32(w[10] + w[9], 7);
    w[8] ^= lb_rotl32(w[11] + w[10], 9);
    w[9] ^= lb_rotl32(w[8] + w[11], 13);
    w[10] ^= lb_rotl32(w[9] + w[8], 18);
    w[12] ^= lb_rotl32(w[15] + w[14], 7);
    w[13] ^= lb_rotl32(w[12] + w[15], 9);
    w[14] ^= lb_rotl32(w[13] + w[12], 13);
    w[15] ^= lb_rotl32(w[14] + w[13], 18);
  }
  for (i = 0; i < 16; i++) b[i] += w[i];
}

/*
 * BlockMix with Salsa20/8 on 2r 64-byte blocks: `in` (32r words) to `out`
 * (32r words), even-indexed results first, then odd-indexed ones.
 */
static void lb_blockmix(const uint32_t *in, uint32_t *out, size_t r) {
  uint32_t x[16];
  size_t i;
  memcpy(x, &in[(2 * r - 1) * 16], 64);
  for (i = 0; i < 2 * r; i++) {
    lb_salsa20_8_xor(x, &in[i * 16]);
    memcpy(&out[(i / 2 + (i & 1) * r) * 16], x, 64);
  }
}

int lb_scrypt_romix(uint8_t *blocks, size_t lanes, uint64_t n, uint32_t r) {
  const size_t words = (size_t)32 * r;
  uint32_t *v, *x, *y;
  uint64_t i;
  size_t k, lane, mapped;

  if (r == 0 || (size_t)128 * r / 128 != r || n < 2 || (n & (n - 1)) != 0) return -1; /* 128*r must fit a size_t */
  if (n > (SIZE_MAX / sizeof(uint32_t)) / words - 2) return -1;
  /* One V array for every lane of the call: each lane overwrites all of it before reading any. */
  v = (uint32_t *)lb_lane_alloc((size_t)(n + 2) * words * sizeof(uint32_t), &mapped);
  if (!v) return -1;
  x = v + (size_t)n * words;
  y = x + words;

  for (lane = 0; lane < lanes; lane++) {
    uint8_t *block = blocks + lane * words * 4;
    for (k = 0; k < words; k++) x[k] = lb_load32_le(&block[4 * k]);
    for (i = 0; i < n; i += 2) {
      memcpy(&v[(size_t)i * words], x, words * sizeof(uint32_t));
      lb_blockmix(x, y, r);
      memcpy(&v[(size_t)(i + 1) * words], y, words * sizeof(uint32_t));
      lb_blockmix(y, x, r);
    }
    for (i = 0; i < n; i += 2) {
      /* Integerify: the first word of the last 64-byte block (N <= 2^32 here). */
      uint32_t j = x[(2 * r - 1) * 16] & (uint32_t)(n - 1);
      const uint32_t *vj = &v[(size_t)j * words];
      for (k = 0; k < words; k++) x[k] ^= vj[k];
      lb_blockmix(x, y, r);
      j = y[(2 * r - 1) * 16] & (uint32_t)(n - 1);
      vj = &v[(size_t)j * words];
      for (k = 0; k < words; k++) y[k] ^= vj[k];
      lb_blockmix(y, x, r);
    }
    for (k = 0; k < words; k++) lb_store32_le(&block[4 * k], x[k]);
  }

  /* The lanes' state is derived from the password: do not leave it in freed memory. */
  lb_wipe(v, 0, (size_t)(n + 2) * words * sizeof(uint32_t));
  lb_lane_free(v, mapped);
  return 0;
}
