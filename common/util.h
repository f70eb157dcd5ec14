/* SPDX-License-Identifier: Apache-2.0 */
/*
 * util.h - small helpers shared by fencefs and fence-run: value parsers for
 * the command line, a growable byte buffer with JSON encoders, and time.
 */
#ifndef FENCE_UTIL_H
#define FENCE_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Parses a byte size: decimal digits with an optional K, M, G or T suffix
 * (powers of 1024; a trailing "B" or "iB" is accepted).  Rejects empty,
 * negative, fractional-without-suffix and overflowing values.
 * Returns 0 or -EINVAL / -ERANGE.
 */
int fence_parse_size(const char *s, uint64_t *out);

/*
 * Parses a duration: a positive decimal number with an optional unit
 * s (default), m or h, or ms.  Returns 0 or -EINVAL / -ERANGE.
 */
int fence_parse_duration(const char *s, double *seconds);

/* Parses a non-negative decimal integer no larger than max.  0 or -EINVAL/-ERANGE. */
int fence_parse_uint(const char *s, uint64_t max, uint64_t *out);

/*
 * Formats an error message into ERR (ERRLEN bytes) and returns R, so that
 * a step can `return fence_errf(err, len, -errno, "cannot ...: %s", ...)`.
 */
int fence_errf(char *err, size_t errlen, int r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* A growable byte buffer.  Zero-initialise it; free with buf_free(). */
struct buf {
	char *data; /* always NUL-terminated when non-NULL */
	size_t len;
	size_t cap;
	bool oom;   /* set once an allocation failed; later appends do nothing */
};

void buf_free(struct buf *b);
void buf_reset(struct buf *b);
void buf_add(struct buf *b, const void *data, size_t len);
void buf_adds(struct buf *b, const char *s);
void buf_addf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Appends S as a JSON string literal, quotes included.  Valid UTF-8 is kept;
 * control characters, '"' and '\' use JSON escapes.  Each byte that is not
 * part of valid UTF-8 is written as the six characters \\xNN (a literal
 * backslash, 'x' and two hex digits, after JSON decoding) and a backslash
 * in S as two backslashes, so file names that are not UTF-8 stay
 * distinguishable and the output is always valid JSON.
 */
void buf_add_json_str(struct buf *b, const char *s);
/* Same for LEN bytes that may contain NUL. */
void buf_add_json_mem(struct buf *b, const char *s, size_t len);
/*
 * The length of the valid UTF-8 sequence at S (LEFT bytes there; RFC
 * 3629: no overlong forms, no surrogates, nothing past U+10FFFF), its code
 * point in *CP; 0 when it is not valid.
 */
size_t fence_utf8_decode(const unsigned char *s, size_t left, uint32_t *cp);

/* "2026-11-23T10:00:00.123456Z" for now (UTC, microseconds).  buf >= 32. */
void fence_timestamp(char *buf, size_t len);

/* Name of an errno value ("ENOENT"), or "E<number>" when unknown. */
const char *fence_errno_name(int err);

#endif
