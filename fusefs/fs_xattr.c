// SPDX-License-Identifier: Apache-2.0
/*
 * fs_xattr.c - extended attributes.  Reading them is allowed at every
 * visible level (docs/SPEC.md 1); changing them needs write and a copy-up, and only
 * user.* outside the delta's own markers may be changed from inside.  The
 * markers (overlay.*, fencefs.*) are never shown.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cleanup.h"
#include "delta.h"
#include "fs.h"
#include "fs_internal.h"
#include "util.h"


/* --- xattrs ------------------------------------------------------------- */

void fs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct fs_session *s = S(req);
	struct fs_inode *i = fs_inode_get(s, ino);
	_cleanup_free_ char *val = NULL;
	char p[32];
	ssize_t n;

	/* The delta's own markers are invisible from inside. */
	if (delta_is_marker_xattr(name) || i->type == S_IFLNK) {
		fuse_reply_err(req, ENODATA);
		return;
	}
	if (size && !(val = malloc(size))) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fs_ns_rdlock(s);
	n = fs_object(s, i);
	if (n >= 0)
		n = getxattr(delta_fd_path((int)n, p, sizeof(p)), name, val, size);
	if (n < 0)
		n = -errno;
	fs_ns_unlock(s);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)n);
	else
		fuse_reply_buf(req, val, (size_t)n);
}

void fs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct fs_session *s = S(req);
	struct fs_inode *i = fs_inode_get(s, ino);
	_cleanup_free_ char *list = NULL, *out = NULL;
	char p[32];
	ssize_t n, k, len = 0;

	if (i->type == S_IFLNK) {
		if (size)
			fuse_reply_buf(req, NULL, 0);
		else
			fuse_reply_xattr(req, 0);
		return;
	}
	fs_ns_rdlock(s);
	n = fs_object(s, i);
	if (n >= 0) {
		delta_fd_path((int)n, p, sizeof(p));
		n = listxattr(p, NULL, 0);
	}
	if (n > 0 && (list = malloc((size_t)n)))
		n = listxattr(p, list, (size_t)n);
	else if (n > 0)
		n = -ENOMEM, errno = ENOMEM;
	if (n < 0)
		n = -errno;
	fs_ns_unlock(s);
	if (n < 0) {
		fuse_reply_err(req, (int)-n);
		return;
	}
	out = malloc((size_t)n + 1);
	if (!out) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	for (k = 0; k < n; k += (ssize_t)strlen(list + k) + 1) {
		size_t l = strlen(list + k) + 1;

		if (delta_is_marker_xattr(list + k))
			continue;
		memcpy(out + len, list + k, l);
		len += (ssize_t)l;
	}
	if (size == 0)
		fuse_reply_xattr(req, (size_t)len);
	else if ((size_t)len > size)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, out, (size_t)len);
}

/* Only user.* (minus the delta's markers) can be changed from inside (docs/SPEC.md 1). */
static int xattr_change(struct fs_session *s, fuse_req_t req, struct fs_inode *i,
			const char *name, const char *op)
{
	int r = fs_need_level_locked(s, req, i, POLICY_WRITE, op);
	char path[PATH_MAX];

	if (r < 0)
		return r;
	if (!strncmp(name, "user.", 5) && !delta_is_marker_xattr(name) && i->type != S_IFLNK)
		return fs_ensure_upper(s, i);
	fs_ns_rdlock(s);
	if (fs_inode_path(i, path, sizeof(path)) == 0)
		fs_deny(s, req, op, path, i->level, EPERM);
	fs_ns_unlock(s);
	return -EPERM;
}

void fs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
		 size_t size, int flags)
{
	struct fs_session *s = S(req);
	struct fs_inode *i = fs_inode_get(s, ino);
	char p[32], path[PATH_MAX];
	int r = xattr_change(s, req, i, name, "setxattr");

	if (r == 0)
		r = delta_charge(s, (int64_t)(strlen(name) + size));
	if (r == 0) {
		fs_ns_rdlock(s);
		int fd = fs_upper(s, i);

		if (fd < 0 || setxattr(delta_fd_path(fd, p, sizeof(p)), name, value, size, flags) < 0) {
			r = -errno;
			delta_uncharge(s, (int64_t)(strlen(name) + size));
		}
		if (r == 0 && fs_inode_path(i, path, sizeof(path)) == 0)
			fs_wrote(s, req, "setxattr", path, NULL);
		fs_ns_unlock(s);
	}
	fuse_reply_err(req, -r);
}

void fs_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct fs_session *s = S(req);
	struct fs_inode *i = fs_inode_get(s, ino);
	char p[32], path[PATH_MAX];
	int r = xattr_change(s, req, i, name, "removexattr");

	if (r == 0) {
		fs_ns_rdlock(s);
		int fd = fs_upper(s, i);

		if (fd < 0 || removexattr(delta_fd_path(fd, p, sizeof(p)), name) < 0)
			r = -errno;
		else if (fs_inode_path(i, path, sizeof(path)) == 0)
			fs_wrote(s, req, "removexattr", path, NULL);
		fs_ns_unlock(s);
	}
	fuse_reply_err(req, -r);
}
