// SPDX-License-Identifier: Apache-2.0
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int fence_parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE || v > max)
		return -ERANGE;
	if (*end)
		return -EINVAL;
	*out = v;
	return 0;
}

int fence_parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	uint64_t mult = 1;

	if (!s || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	switch (toupper((unsigned char)*end)) {
	case '\0':
		break;
	case 'K':
		mult = 1ULL << 10;
		end++;
		break;
	case 'M':
		mult = 1ULL << 20;
		end++;
		break;
	case 'G':
		mult = 1ULL << 30;
		end++;
		break;
	case 'T':
		mult = 1ULL << 40;
		end++;
		break;
	case 'B':
		break;
	default:
		return -EINVAL;
	}
	if (mult > 1 && (*end == 'i' || *end == 'I'))
		end++;
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end)
		return -EINVAL;
	if (v > UINT64_MAX / mult)
		return -ERANGE;
	*out = v * mult;
	return 0;
}

int fence_parse_duration(const char *s, double *seconds)
{
	char *end;
	double v, mult = 1;

	if (!s || !(isdigit((unsigned char)s[0]) || s[0] == '.'))
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno == ERANGE || !isfinite(v))
		return -ERANGE;
	if (end == s)
		return -EINVAL;
	if (!strcmp(end, "") || !strcmp(end, "s"))
		mult = 1;
	else if (!strcmp(end, "ms"))
		mult = 0.001;
	else if (!strcmp(end, "m"))
		mult = 60;
	else if (!strcmp(end, "h"))
		mult = 3600;
	else
		return -EINVAL;
	v *= mult;
	if (v <= 0)
		return -EINVAL;
	if (v > 365.0 * 24 * 3600)
		return -ERANGE;
	*seconds = v;
	return 0;
}

int fence_errf(char *err, size_t errlen, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return r;
}

void buf_free(struct buf *b)
{
	free(b->data);
	*b = (struct buf){ 0 };
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

static bool buf_grow(struct buf *b, size_t extra)
{
	size_t need, cap;
	char *n;

	if (b->oom)
		return false;
	if (extra > SIZE_MAX - b->len - 1)
		goto oom;
	need = b->len + extra + 1;
	if (need <= b->cap)
		return true;
	cap = b->cap ? b->cap : 128;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	n = realloc(b->data, cap);
	if (!n)
		goto oom;
	b->data = n;
	b->cap = cap;
	return true;
oom:
	b->oom = true;
	return false;
}

void buf_add(struct buf *b, const void *data, size_t len)
{
	if (!buf_grow(b, len))
		return;
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
}

void buf_adds(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

void buf_addf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !buf_grow(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

size_t fence_utf8_decode(const unsigned char *s, size_t left, uint32_t *cp_out)
{
	size_t n, i;
	uint32_t cp;

	if (s[0] < 0x80) {
		*cp_out = s[0];
		return 1;
	}
	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		n = 2, cp = s[0] & 0x1F;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF)
		n = 3, cp = s[0] & 0x0F;
	else if (s[0] >= 0xF0 && s[0] <= 0xF4)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (left < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
	    (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	*cp_out = cp;
	return n;
}

void buf_add_json_mem(struct buf *b, const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, n;
	uint32_t cp;

	buf_add(b, "\"", 1);
	while (i < len) {
		unsigned char c = s[i];

		if (c == '"') {
			buf_add(b, "\\\"", 2);
			i++;
		} else if (c == '\\') {
			buf_add(b, "\\\\\\\\", 4);
			i++;
		} else if (c == '\n') {
			buf_add(b, "\\n", 2);
			i++;
		} else if (c == '\t') {
			buf_add(b, "\\t", 2);
			i++;
		} else if (c == '\r') {
			buf_add(b, "\\r", 2);
			i++;
		} else if (c < 0x20 || c == 0x7F) {
			buf_addf(b, "\\u%04x", c);
			i++;
		} else if ((n = fence_utf8_decode(s + i, len - i, &cp)) > 0) {
			buf_add(b, s + i, n);
			i += n;
		} else {
			buf_addf(b, "\\\\x%02x", c);
			i++;
		}
	}
	buf_add(b, "\"", 1);
}

void buf_add_json_str(struct buf *b, const char *s)
{
	buf_add_json_mem(b, s ? s : "", s ? strlen(s) : 0);
}

void fence_timestamp(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;
	char base[24];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%06ldZ", base, ts.tv_nsec / 1000);
}

const char *fence_errno_name(int err)
{
	static __thread char other[16];

	switch (err) {
#define E(x)                                                                                       \
	case x:                                                                                    \
		return #x
		E(EPERM);
		E(ENOENT);
		E(EIO);
		E(EBADF);
		E(EACCES);
		E(EEXIST);
		E(EXDEV);
		E(ENOTDIR);
		E(EISDIR);
		E(EINVAL);
		E(ENOSPC);
		E(EROFS);
		E(EMLINK);
		E(ENAMETOOLONG);
		E(ENOTEMPTY);
		E(ELOOP);
		E(ENOTSUP);
		E(ENOSYS);
		E(EBUSY);
		E(ENODATA);
		E(EFBIG);
		E(EDQUOT);
		E(ETXTBSY);
		E(ENOMEM);
#undef E
	}
	snprintf(other, sizeof(other), "E%d", err);
	return other;
}
