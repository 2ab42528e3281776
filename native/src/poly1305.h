/*
 * Lifeboat native helpers: one-time Poly1305 authenticator (RFC 8439).
 *
 * The key is 32 bytes: r (16 bytes, clamped internally as RFC 8439 section
 * 2.5 requires) followed by s (16 bytes). The tag is 16 bytes.
 */
#ifndef LIFEBOAT_POLY1305_H
#define LIFEBOAT_POLY1305_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Computes the 16-byte tag of msg[0..len) under the 32-byte key into tag. */
void lb_poly1305(uint8_t tag[16], const uint8_t key[32], const uint8_t *msg, size_t len);

/* Returns 1 when a and b (16 bytes each) are equal, 0 otherwise, in time
 * independent of their contents. */
int lb_tag_equal(const uint8_t a[16], const uint8_t b[16]);

/* Name of the arithmetic the build selected ("64x64" or "26x5"). */
const char *lb_poly1305_impl(void);

#ifdef __cplusplus
}
#endif

#endif
