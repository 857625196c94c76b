/*
 * sha256.h: SHA-256 (FIPS 180-4) of one short buffer, for the tripwire's
 * token check. The server's own pg_cryptohash goes through OpenSSL's EVP
 * layer, whose per-call algorithm fetch cost more than the rest of a
 * settle; this is the plain compression function, nothing else.
 */
#ifndef ROWGUARD_SHA256_H
#define ROWGUARD_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_BYTES 32

void		rowguard_sha256(const unsigned char *data, size_t len, unsigned char digest[SHA256_BYTES]);

#endif
