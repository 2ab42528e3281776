#ifndef LIFEBOAT_SCRYPT_H
#define LIFEBOAT_SCRYPT_H

#include <stddef.h>
#include <stdint.h>

/*
 * Runs scrypt's ROMix (RFC 7914) in place on one lane: `block` is 128*r bytes
 * (one p-slice of PBKDF2's output). n must be a power of two >= 2. Allocates
 * 128*r*(n+2) bytes, wiped before they are freed. Returns 0, or -1 for invalid
 * parameters or when the memory cannot be allocated (block left unchanged).
 * Thread-safe: lanes may run concurrently on different blocks.
 */
int lb_scrypt_romix(uint8_t *block, uint64_t n, uint32_t r);

#endif
