// SPDX-License-Identifier: Apache-2.0
/*
 * delta_xattr.c - the extended attributes a sandbox may set and a commit
 * carries over: user.* only, and never the delta format's own
 * (user.overlay.*, user.fencefs.*).  trusted.* and security.* are never
 * read from a delta for the source: security.capability alone would let a
 * sandbox mint a privileged binary (capabilities(7) "File capabilities").
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cleanup.h"
#include "delta_read.h"
#include "util.h"

/* Largest list of names and largest value read (the kernel's limits, xattr(7)). */
#define XATTR_LIST_MAX_BYTES 65536
#define XATTR_VALUE_MAX_BYTES 65536

bool delta_xattr_is_user(const char *name)
{
	return !strncmp(name, "user.", 5) && strncmp(name, "user.overlay.", 13) &&
	       strncmp(name, "user.fencefs.", 13);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int delta_user_xattrs(int dirfd, const char *name, struct buf *out)
{
	_cleanup_free_ char *list = NULL, *value = NULL;
	_cleanup_free_ const char **names = NULL;
	char path[64 + NAME_MAX + 1];
	size_t count = 0, i;
	ssize_t n;
	char *p;

	buf_reset(out);
	buf_add(out, "", 0);
	/* As delta_getxattr(): through the dirfd, never following NAME. */
	if (strlen(name) > NAME_MAX || strchr(name, '/'))
		return -EINVAL;
	snprintf(path, sizeof(path), "/proc/self/fd/%d/%s", dirfd, name);
	list = malloc(XATTR_LIST_MAX_BYTES);
	value = malloc(XATTR_VALUE_MAX_BYTES);
	if (!list || !value)
		return -ENOMEM;
	n = llistxattr(path, list, XATTR_LIST_MAX_BYTES);
	if (n < 0)
		return errno == ENOTSUP ? 0 : -errno;
	for (p = list; p < list + n; p += strlen(p) + 1)
		count++;
	names = calloc(count + 1, sizeof(*names));
	if (!names)
		return -ENOMEM;
	count = 0;
	for (p = list; p < list + n; p += strlen(p) + 1)
		if (delta_xattr_is_user(p))
			names[count++] = p;
	qsort(names, count, sizeof(*names), cmp_str);
	for (i = 0; i < count; i++) {
		uint32_t len;
		ssize_t v = lgetxattr(path, names[i], value, XATTR_VALUE_MAX_BYTES);

		if (v < 0 && errno == ENODATA)
			continue; /* removed meanwhile */
		if (v < 0)
			return -errno;
		len = (uint32_t)v;
		buf_add(out, names[i], strlen(names[i]) + 1);
		buf_add(out, &len, sizeof(len));
		buf_add(out, value, (size_t)v);
	}
	return out->oom ? -ENOMEM : 0;
}

bool delta_xattr_next(const struct buf *b, size_t *pos, struct delta_xattr *x)
{
	size_t at = *pos, nlen;
	uint32_t len;

	if (!b->data || at >= b->len)
		return false;
	nlen = strnlen(b->data + at, b->len - at);
	if (at + nlen + 1 + sizeof(len) > b->len)
		return false;
	x->name = b->data + at;
	memcpy(&len, b->data + at + nlen + 1, sizeof(len));
	x->value = b->data + at + nlen + 1 + sizeof(len);
	x->len = len;
	if (len > b->len - (at + nlen + 1 + sizeof(len)))
		return false;
	*pos = at + nlen + 1 + sizeof(len) + len;
	return true;
}

bool delta_xattrs_equal(const struct buf *a, const struct buf *b)
{
	return a->len == b->len && (!a->len || !memcmp(a->data, b->data, a->len));
}

int delta_xattrs_apply(int fd, const struct buf *want)
{
	_cleanup_free_ char *list = malloc(XATTR_LIST_MAX_BYTES);
	struct delta_xattr x;
	size_t pos = 0;
	ssize_t n;
	char *p;

	if (!list)
		return -ENOMEM;
	/* First drop the user.* attributes WANT does not have... */
	n = flistxattr(fd, list, XATTR_LIST_MAX_BYTES);
	if (n < 0 && errno != ENOTSUP)
		return -errno;
	for (p = list; n > 0 && p < list + n; p += strlen(p) + 1) {
		bool keep = false;
		size_t q = 0;

		if (!delta_xattr_is_user(p))
			continue;
		while (!keep && delta_xattr_next(want, &q, &x))
			keep = !strcmp(x.name, p);
		if (!keep && fremovexattr(fd, p) < 0 && errno != ENODATA)
			return -errno;
	}
	/* ... then set each of WANT's. */
	while (delta_xattr_next(want, &pos, &x))
		if (fsetxattr(fd, x.name, x.value, x.len, 0) < 0)
			return -errno;
	return 0;
}
