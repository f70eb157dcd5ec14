// SPDX-License-Identifier: Apache-2.0
/*
 * quote.c - file names for a reviewer's terminal (see quote.h).
 */
#include "quote.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* Code points that steer how a terminal renders what follows (quote.h). */
static bool steers(uint32_t cp)
{
	return (cp >= 0x80 && cp <= 0x9F) || cp == 0x061C || cp == 0x200E || cp == 0x200F ||
	       (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069) ||
	       cp == 0x2028 || cp == 0x2029;
}

/*
 * The length of the character at S (LEFT > 0 bytes), and in *UNSAFE whether
 * it must be escaped: a control byte, a byte that does not start valid
 * UTF-8 (length 1 then), or a code point that steers().  Valid UTF-8 as in
 * RFC 3629: no overlong forms, no surrogates, nothing past U+10FFFF.
 */
static size_t next_char(const unsigned char *s, size_t left, bool *unsafe)
{
	uint32_t cp;
	size_t n = fence_utf8_decode(s, left, &cp);

	if (n == 0) {
		*unsafe = true; /* not UTF-8: the byte is escaped */
		return 1;
	}
	*unsafe = n == 1 ? cp < 0x20 || cp == 0x7F : steers(cp);
	return n;
}

bool quote_path_needed(const char *path)
{
	const unsigned char *s = (const unsigned char *)path;
	size_t len = strlen(path), i = 0;
	bool unsafe;

	while (i < len) {
		if (s[i] == '"' || s[i] == '\\')
			return true;
		i += next_char(s + i, len - i, &unsafe);
		if (unsafe)
			return true;
	}
	return false;
}

static void add_octal(struct buf *b, const unsigned char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		buf_addf(b, "\\%03o", s[i]);
}

/* git's quote_c_style() escapes for the ASCII bytes that have one. */
static const char *c_escape(unsigned char c)
{
	switch (c) {
	case '"': return "\\\"";
	case '\\': return "\\\\";
	case '\a': return "\\a";
	case '\b': return "\\b";
	case '\f': return "\\f";
	case '\n': return "\\n";
	case '\r': return "\\r";
	case '\t': return "\\t";
	case '\v': return "\\v";
	}
	return NULL;
}

void quote_path_buf(struct buf *b, const char *prefix, const char *path, const char *suffix)
{
	const unsigned char *s = (const unsigned char *)path;
	size_t len = strlen(path), i = 0, n;
	bool unsafe;

	if (!quote_path_needed(path)) {
		buf_adds(b, prefix);
		buf_adds(b, path);
		buf_adds(b, suffix);
		return;
	}
	buf_adds(b, "\"");
	buf_adds(b, prefix);
	while (i < len) {
		const char *esc = c_escape(s[i]);

		if (esc) {
			buf_adds(b, esc);
			i++;
			continue;
		}
		n = next_char(s + i, len - i, &unsafe);
		if (unsafe)
			add_octal(b, s + i, n);
		else
			buf_add(b, s + i, n);
		i += n;
	}
	buf_adds(b, suffix);
	buf_adds(b, "\"");
}

char *quote_path(const char *prefix, const char *path, const char *suffix)
{
	struct buf b = { 0 };

	quote_path_buf(&b, prefix, path, suffix);
	buf_add(&b, "", 1);
	if (b.oom) {
		buf_free(&b);
		return NULL;
	}
	return b.data;
}

/* Writes B to F; an allocation failure writes a marker, never the raw name. */
static void put_buf(FILE *f, struct buf *b)
{
	if (b->oom)
		fputs("\"?\"", f);
	else if (b->len)
		(void)fwrite(b->data, 1, b->len, f);
	buf_free(b);
}

void quote_path_fputs(FILE *f, const char *prefix, const char *path, const char *suffix)
{
	struct buf b = { 0 };

	quote_path_buf(&b, prefix, path, suffix);
	put_buf(f, &b);
}

static void quote_message_buf(struct buf *b, const char *msg)
{
	const unsigned char *s = (const unsigned char *)msg;
	size_t len = strlen(msg), i = 0, n;
	bool unsafe;

	while (i < len) {
		n = next_char(s + i, len - i, &unsafe);
		if (unsafe)
			add_octal(b, s + i, n);
		else
			buf_add(b, s + i, n);
		i += n;
	}
}

char *quote_message(const char *msg)
{
	struct buf b = { 0 };

	quote_message_buf(&b, msg);
	buf_add(&b, "", 1);
	if (b.oom) {
		buf_free(&b);
		return NULL;
	}
	return b.data;
}

void quote_message_fputs(FILE *f, const char *msg)
{
	struct buf b = { 0 };

	quote_message_buf(&b, msg);
	put_buf(f, &b);
}
