/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sha256.h - SHA-256 (FIPS 180-4) for policy_digest(); internal to policy/.
 */
#ifndef FENCE_POLICY_SHA256_H
#define FENCE_POLICY_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct sha256 {
	uint32_t h[8];
	uint64_t total;      /* bytes hashed so far */
	unsigned char block[64];
	size_t fill;         /* bytes waiting in block */
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *data, size_t len);
void sha256_final(struct sha256 *s, unsigned char out[32]);
/* Lower-case hex digest of DATA into out (64 chars + NUL). */
void sha256_hex(const void *data, size_t len, char out[65]);

#endif
