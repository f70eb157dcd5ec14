// SPDX-License-Identifier: Apache-2.0
/*
 * delta_sha1.c - git's blob ids for the "index" lines of `fencefs diff
 * --patch`.  GNU patch reads the file type of a symlink from that line and
 * takes an all-zero old id to mean "create", so the ids must be real:
 * SHA-1 (FIPS 180-4) of "blob <size>\0" followed by the bytes
 * (git-hash-object(1)).  SHA-1 is used only because git names blobs with
 * it; nothing here relies on it for security.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "delta_read.h"

struct sha1 {
	uint32_t h[5];
	uint64_t len;
	unsigned char block[64];
	size_t used;
};

static uint32_t rol(uint32_t x, int n)
{
	return x << n | x >> (32 - n);
}

static void sha1_block(struct sha1 *s, const unsigned char *p)
{
	uint32_t w[80], a, b, c, d, e, f, k, t;
	int i;

	for (i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (; i < 80; i++)
		w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
	a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3], e = s->h[4];
	for (i = 0; i < 80; i++) {
		if (i < 20)
			f = (b & c) | (~b & d), k = 0x5A827999;
		else if (i < 40)
			f = b ^ c ^ d, k = 0x6ED9EBA1;
		else if (i < 60)
			f = (b & c) | (b & d) | (c & d), k = 0x8F1BBCDC;
		else
			f = b ^ c ^ d, k = 0xCA62C1D6;
		t = rol(a, 5) + f + e + k + w[i];
		e = d, d = c, c = rol(b, 30), b = a, a = t;
	}
	s->h[0] += a, s->h[1] += b, s->h[2] += c, s->h[3] += d, s->h[4] += e;
}

static void sha1_add(struct sha1 *s, const void *data, size_t len)
{
	const unsigned char *p = data;

	s->len += len;
	while (len) {
		size_t n = 64 - s->used < len ? 64 - s->used : len;

		memcpy(s->block + s->used, p, n);
		s->used += n, p += n, len -= n;
		if (s->used == 64) {
			sha1_block(s, s->block);
			s->used = 0;
		}
	}
}

void delta_git_blob_id(const char *data, size_t len, char out[41])
{
	struct sha1 s = { .h = { 0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0 } };
	unsigned char pad[72] = { 0x80 }, bits[8];
	char head[32];
	uint64_t total;
	size_t padlen;
	int i, n;

	n = snprintf(head, sizeof(head), "blob %zu", len);
	sha1_add(&s, head, (size_t)n + 1); /* with the NUL */
	sha1_add(&s, data, len);
	total = s.len * 8;
	padlen = s.used < 56 ? 56 - s.used : 120 - s.used;
	for (i = 0; i < 8; i++)
		bits[i] = (unsigned char)(total >> (56 - 8 * i));
	sha1_add(&s, pad, padlen);
	sha1_add(&s, bits, 8);
	for (i = 0; i < 5; i++)
		snprintf(out + 8 * i, 9, "%08x", s.h[i]);
}
