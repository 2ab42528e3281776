#ifndef LIFEBOAT_SCRYPT_H
#define LIFEBOAT_SCRYPT_H

#include <stddef.h>
#include <stdint.h>

/*
 * Runs scrypt's ROMix (RFC 7914) in place on `lanes` lanes one after another:
 * `blocks` is lanes * 128*r bytes (that many consecutive p-slices of PBKDF2's
 * output). n must be a power of two >= 2. Allocates 128*r*(n+2) bytes once
 * for all the lanes, wiped before they are freed. Returns 0, or -1 for invalid
 * parameters or when the memory cannot be allocated (blocks left unchanged).
 * Thread-safe: calls may run concurrently on different blocks.
 */
int lb_scrypt_romix(uint8_t *blocks, size_t lanes, uint64_t n, uint32_t r);

#endif
