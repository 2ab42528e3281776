/*
 * Poly1305 one-time authenticator, written for Lifeboat from RFC 8439.
 *
 * The accumulator h and the clamped key r are elements of GF(2^130 - 5).
 * Each 16-byte block m (plus 2^128, or the 0x01 pad byte for a short final
 * block) is absorbed as h = (h + m) * r mod p. The tag is (h mod p) + s,
 * truncated to 128 bits.
 *
 * Two arithmetic back ends:
 *   - "64x64": radix 2^64 (h = h0 + h1*2^64 + h2*2^128) with 64x64->128 bit
 *     products through unsigned __int128 (GCC, Clang on 64-bit targets);
 *   - "26x5": five 26-bit limbs with 32x32->64 bit products, for compilers
 *     without a 128-bit integer type (MSVC, 32-bit targets).
 * Define LB_POLY1305_PORTABLE to force the second one (used to test it).
 */
#include "poly1305.h"

#include <string.h>

#if defined(__SIZEOF_INT128__) && !defined(LB_POLY1305_PORTABLE)
#define LB_POLY1305_USE_INT128 1
#else
#define LB_POLY1305_USE_INT128 0
#endif

#define LB_BLOCK 16

static uint32_t lb_load32_le(const uint8_t *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static void lb_store32_le(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}

int lb_tag_equal(const uint8_t a[16], const uint8_t b[16]) {
  uint32_t diff = 0;
  size_t i;
  for (i = 0; i < 16; i++) diff |= (uint32_t)(a[i] ^ b[i]);
  /* diff is in [0, 255]: (diff - 1) >> 8 has bit 0 set only when diff == 0. */
  return (int)(((diff - 1u) >> 8) & 1u);
}

#if LB_POLY1305_USE_INT128

__extension__ typedef unsigned __int128 lb_u128;

static uint64_t lb_load64_le(const uint8_t *p) {
  return (uint64_t)lb_load32_le(p) | ((uint64_t)lb_load32_le(p + 4) << 32);
}

static void lb_store64_le(uint8_t *p, uint64_t v) {
  lb_store32_le(p, (uint32_t)v);
  lb_store32_le(p + 4, (uint32_t)(v >> 32));
}

typedef struct {
  uint64_t r0, r1; /* clamped r: both halves < 2^60, r1 divisible by 4 */
  uint64_t s1;     /* r1 + r1/4 = 5 * r1 / 4: folds 2^130 = 5 (mod p) into r1 */
  uint64_t h0, h1, h2;
} lb_state;

static void lb_init(lb_state *st, const uint8_t key[32]) {
  st->r0 = lb_load64_le(key) & UINT64_C(0x0ffffffc0fffffff);
  st->r1 = lb_load64_le(key + 8) & UINT64_C(0x0ffffffc0ffffffc);
  st->s1 = st->r1 + (st->r1 >> 2);
  st->h0 = st->h1 = st->h2 = 0;
}

/*
 * Absorbs nblocks full 16-byte blocks; hibit is 1 for ordinary blocks (the
 * implicit 2^128) and 0 for an already padded final partial block.
 *
 * Bounds: on entry h2 <= 4, so after adding a block h2 <= 6. With
 * r0, r1 < 2^60 and s1 < 2^61 every product sum below fits in 128 bits and
 * the part above 2^128 (d2) fits in 64 bits. The partial reduction leaves
 * h2 <= 4 again.
 */
static void lb_blocks(lb_state *st, const uint8_t *m, size_t nblocks, uint64_t hibit) {
  const uint64_t r0 = st->r0, r1 = st->r1, s1 = st->s1;
  uint64_t h0 = st->h0, h1 = st->h1, h2 = st->h2;

  while (nblocks--) {
    lb_u128 t, d0, d1;
    uint64_t d2, c;

    t = (lb_u128)h0 + lb_load64_le(m);
    h0 = (uint64_t)t;
    t = (lb_u128)h1 + lb_load64_le(m + 8) + (uint64_t)(t >> 64);
    h1 = (uint64_t)t;
    h2 += (uint64_t)(t >> 64) + hibit;

    /* (h0 + h1 2^64 + h2 2^128) * (r0 + r1 2^64), with the terms at 2^128 and
     * 2^192 that involve r1 rewritten via 2^130 = 5 (mod p). */
    d0 = (lb_u128)h0 * r0 + (lb_u128)h1 * s1;
    d1 = (lb_u128)h0 * r1 + (lb_u128)h1 * r0 + (lb_u128)h2 * s1;
    d2 = h2 * r0;

    h0 = (uint64_t)d0;
    d1 += (uint64_t)(d0 >> 64);
    h1 = (uint64_t)d1;
    d2 += (uint64_t)(d1 >> 64);

    /* Keep two bits at 2^128; fold everything from 2^130 up back in times 5. */
    c = (d2 & ~(uint64_t)3) + (d2 >> 2);
    h2 = d2 & 3;
    t = (lb_u128)h0 + c;
    h0 = (uint64_t)t;
    t = (lb_u128)h1 + (uint64_t)(t >> 64);
    h1 = (uint64_t)t;
    h2 += (uint64_t)(t >> 64);

    m += LB_BLOCK;
  }

  st->h0 = h0;
  st->h1 = h1;
  st->h2 = h2;
}

static void lb_finish(lb_state *st, uint8_t tag[16], const uint8_t key[32]) {
  uint64_t h0 = st->h0, h1 = st->h1, h2 = st->h2;
  uint64_t g0, g1, g2, mask;
  lb_u128 t;

  /* h < 5 * 2^128 < 2p, so one conditional subtraction of p fully reduces.
   * g = h + 5 reaches 2^130 exactly when h >= p; then h - p = g - 2^130. */
  t = (lb_u128)h0 + 5;
  g0 = (uint64_t)t;
  t = (lb_u128)h1 + (uint64_t)(t >> 64);
  g1 = (uint64_t)t;
  g2 = h2 + (uint64_t)(t >> 64);

  mask = (uint64_t)0 - (g2 >> 2); /* all ones when h >= p */
  h0 = (h0 & ~mask) | (g0 & mask);
  h1 = (h1 & ~mask) | (g1 & mask);

  t = (lb_u128)h0 + lb_load64_le(key + 16);
  h0 = (uint64_t)t;
  h1 = h1 + lb_load64_le(key + 24) + (uint64_t)(t >> 64);

  lb_store64_le(tag, h0);
  lb_store64_le(tag + 8, h1);
}

const char *lb_poly1305_impl(void) { return "64x64"; }

#else /* portable 26-bit limbs */

typedef struct {
  uint32_t r[5];
  uint32_t s[5]; /* s[i] = 5 * r[i] for i >= 1 */
  uint32_t h[5];
} lb_state;

#define LB_M26 0x3ffffffu

static void lb_init(lb_state *st, const uint8_t key[32]) {
  /* Clamp as 32-bit words, then split into 26-bit limbs. */
  uint32_t t0 = lb_load32_le(key) & 0x0fffffffu;
  uint32_t t1 = lb_load32_le(key + 4) & 0x0ffffffcu;
  uint32_t t2 = lb_load32_le(key + 8) & 0x0ffffffcu;
  uint32_t t3 = lb_load32_le(key + 12) & 0x0ffffffcu;
  int i;

  st->r[0] = t0 & LB_M26;
  st->r[1] = ((t0 >> 26) | (t1 << 6)) & LB_M26;
  st->r[2] = ((t1 >> 20) | (t2 << 12)) & LB_M26;
  st->r[3] = ((t2 >> 14) | (t3 << 18)) & LB_M26;
  st->r[4] = t3 >> 8;
  st->s[0] = 0;
  for (i = 1; i < 5; i++) st->s[i] = st->r[i] * 5;
  for (i = 0; i < 5; i++) st->h[i] = 0;
}

static void lb_blocks(lb_state *st, const uint8_t *m, size_t nblocks, uint64_t hibit) {
  const uint32_t r0 = st->r[0], r1 = st->r[1], r2 = st->r[2], r3 = st->r[3], r4 = st->r[4];
  const uint32_t s1 = st->s[1], s2 = st->s[2], s3 = st->s[3], s4 = st->s[4];
  const uint32_t top = hibit ? (1u << 24) : 0u;
  uint32_t h0 = st->h[0], h1 = st->h[1], h2 = st->h[2], h3 = st->h[3], h4 = st->h[4];

  while (nblocks--) {
    uint32_t m0 = lb_load32_le(m), m1 = lb_load32_le(m + 4);
    uint32_t m2 = lb_load32_le(m + 8), m3 = lb_load32_le(m + 12);
    uint64_t d0, d1, d2, d3, d4;
    uint32_t c;

    h0 += m0 & LB_M26;
    h1 += ((m0 >> 26) | (m1 << 6)) & LB_M26;
    h2 += ((m1 >> 20) | (m2 << 12)) & LB_M26;
    h3 += ((m2 >> 14) | (m3 << 18)) & LB_M26;
    h4 += (m3 >> 8) | top;

    d0 = (uint64_t)h0 * r0 + (uint64_t)h1 * s4 + (uint64_t)h2 * s3 + (uint64_t)h3 * s2 + (uint64_t)h4 * s1;
    d1 = (uint64_t)h0 * r1 + (uint64_t)h1 * r0 + (uint64_t)h2 * s4 + (uint64_t)h3 * s3 + (uint64_t)h4 * s2;
    d2 = (uint64_t)h0 * r2 + (uint64_t)h1 * r1 + (uint64_t)h2 * r0 + (uint64_t)h3 * s4 + (uint64_t)h4 * s3;
    d3 = (uint64_t)h0 * r3 + (uint64_t)h1 * r2 + (uint64_t)h2 * r1 + (uint64_t)h3 * r0 + (uint64_t)h4 * s4;
    d4 = (uint64_t)h0 * r4 + (uint64_t)h1 * r3 + (uint64_t)h2 * r2 + (uint64_t)h3 * r1 + (uint64_t)h4 * r0;

    c = (uint32_t)(d0 >> 26);
    h0 = (uint32_t)d0 & LB_M26;
    d1 += c;
    c = (uint32_t)(d1 >> 26);
    h1 = (uint32_t)d1 & LB_M26;
    d2 += c;
    c = (uint32_t)(d2 >> 26);
    h2 = (uint32_t)d2 & LB_M26;
    d3 += c;
    c = (uint32_t)(d3 >> 26);
    h3 = (uint32_t)d3 & LB_M26;
    d4 += c;
    c = (uint32_t)(d4 >> 26);
    h4 = (uint32_t)d4 & LB_M26;
    h0 += c * 5;
    c = h0 >> 26;
    h0 &= LB_M26;
    h1 += c;

    m += LB_BLOCK;
  }

  st->h[0] = h0;
  st->h[1] = h1;
  st->h[2] = h2;
  st->h[3] = h3;
  st->h[4] = h4;
}

static void lb_finish(lb_state *st, uint8_t tag[16], const uint8_t key[32]) {
  uint32_t h0 = st->h[0], h1 = st->h[1], h2 = st->h[2], h3 = st->h[3], h4 = st->h[4];
  uint32_t g0, g1, g2, g3, g4, c, mask;
  uint64_t f;

  /* Propagate carries so every limb is below 2^26 (h4 may carry into h0). */
  c = h1 >> 26;
  h1 &= LB_M26;
  h2 += c;
  c = h2 >> 26;
  h2 &= LB_M26;
  h3 += c;
  c = h3 >> 26;
  h3 &= LB_M26;
  h4 += c;
  c = h4 >> 26;
  h4 &= LB_M26;
  h0 += c * 5;
  c = h0 >> 26;
  h0 &= LB_M26;
  h1 += c;

  /* g = h + 5 - 2^130; keep it when it did not go negative (h >= p). */
  g0 = h0 + 5;
  c = g0 >> 26;
  g0 &= LB_M26;
  g1 = h1 + c;
  c = g1 >> 26;
  g1 &= LB_M26;
  g2 = h2 + c;
  c = g2 >> 26;
  g2 &= LB_M26;
  g3 = h3 + c;
  c = g3 >> 26;
  g3 &= LB_M26;
  g4 = h4 + c - (1u << 26);

  mask = (g4 >> 31) - 1u; /* all ones when g4 did not borrow */
  h0 = (h0 & ~mask) | (g0 & mask);
  h1 = (h1 & ~mask) | (g1 & mask);
  h2 = (h2 & ~mask) | (g2 & mask);
  h3 = (h3 & ~mask) | (g3 & mask);
  h4 = (h4 & ~mask) | (g4 & mask);

  /* Repack into 32-bit words (mod 2^128) and add s. Additions rather than
   * ORs so that a limb sitting at exactly 2^26 still carries correctly. */
  {
    uint64_t acc;
    uint32_t w[4];
    int i;

    acc = (uint64_t)h0 + ((uint64_t)h1 << 26);
    w[0] = (uint32_t)acc;
    acc = (acc >> 32) + ((uint64_t)h2 << 20);
    w[1] = (uint32_t)acc;
    acc = (acc >> 32) + ((uint64_t)h3 << 14);
    w[2] = (uint32_t)acc;
    acc = (acc >> 32) + ((uint64_t)h4 << 8);
    w[3] = (uint32_t)acc;

    f = 0;
    for (i = 0; i < 4; i++) {
      f = (f >> 32) + w[i] + lb_load32_le(key + 16 + 4 * i);
      lb_store32_le(tag + 4 * i, (uint32_t)f);
    }
  }
}

const char *lb_poly1305_impl(void) { return "26x5"; }

#endif

void lb_poly1305(uint8_t tag[16], const uint8_t key[32], const uint8_t *msg, size_t len) {
  lb_state st;
  size_t full = len / LB_BLOCK;
  size_t rest = len % LB_BLOCK;

  lb_init(&st, key);
  if (full) lb_blocks(&st, msg, full, 1);
  if (rest) {
    uint8_t last[LB_BLOCK];
    memset(last, 0, sizeof last);
    memcpy(last, msg + full * LB_BLOCK, rest);
    last[rest] = 1; /* the 2^(8*rest) bit, inside the padded block */
    lb_blocks(&st, last, 1, 0);
  }
  lb_finish(&st, tag, key);
  memset(&st, 0, sizeof st);
}
