// SPDX-License-Identifier: Apache-2.0
/*
 * delta_stage.c - writing for `fencefs commit` (delta_apply.c decides what
 * and when): a delta file or symlink under a temporary name next to its
 * target, a directory with the delta's mode and user.* attributes.  Only
 * bytes, permission bits and user.* attributes are written; nothing here
 * syncs or renames (delta_commit_run() does, once for all).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "delta_apply.h"
#include "delta_read.h"
#include "util.h"

/* The user.* attributes of the delta's entry at PATH, into OUT.  0 or -errno. */
int delta_upper_xattrs(const struct delta_commit *k, const char *path, struct buf *out)
{
	size_t plen;
	const char *base = delta_basename(path, &plen);
	_cleanup_free_ char *parent = strndup(path, plen);
	_cleanup_close_ int fd = -1;

	if (!parent)
		return -ENOMEM;
	fd = delta_openat(k->upperfd, parent, O_PATH | O_DIRECTORY, 0);
	if (fd < 0)
		return fd;
	return delta_user_xattrs(fd, base, out);
}

/* Do SOURCE's NAME in PFD and the delta's PATH carry the same user.* attributes? */
bool delta_same_xattrs(const struct delta_commit *k, int pfd, const char *name, const char *path)
{
	struct buf a = { 0 }, b = { 0 };
	bool same = !delta_user_xattrs(pfd, name, &a) && !delta_upper_xattrs(k, path, &b) &&
		    delta_xattrs_equal(&a, &b);

	buf_free(&a);
	buf_free(&b);
	return same;
}

/* A fresh name in the target's own directory, so rename() stays atomic. */
void delta_temp_name(char out[40])
{
	uint64_t r = 0;

	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = (uint64_t)getpid() << 32 ^ (uint64_t)time(NULL);
	snprintf(out, 40, ".fencefs-commit-%016llx", (unsigned long long)r);
}

static int copy_bytes(int in, int out)
{
	char buf[1 << 16];
	bool plain = false;

	for (;;) {
		ssize_t n;

		if (!plain) {
			n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0);
			if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS ||
				      errno == EOPNOTSUPP)) {
				plain = true;
				continue;
			}
		} else {
			n = read(in, buf, sizeof(buf));
			if (n > 0) {
				ssize_t w = 0, m;

				for (; w < n; w += m) {
					m = write(out, buf + w, (size_t)(n - w));
					if (m < 0 && errno == EINTR) {
						m = 0;
						continue;
					}
					if (m < 0)
						return -errno;
				}
			}
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
	}
}

/*
 * Writes the delta's entry at CH->path (a regular file or a symlink) to a
 * new temporary name in PFD, stored in TMP.  OLD, when not NULL, is the
 * entry it will replace: its owner is kept.  Not synced: delta_commit_run()
 * syncs the filesystem once before any rename.  0 or -errno (the
 * temporary name is then removed).
 */
int delta_stage_entry(const struct delta_commit *k, const struct delta_change *ch, int pfd,
		       const struct stat *old, char tmp[40])
{
	int r = 0;

	delta_temp_name(tmp);
	if (S_ISLNK(ch->new_mode)) {
		char target[PATH_MAX + 1];
		ssize_t n;
		size_t plen;
		const char *base = delta_basename(ch->path, &plen);
		_cleanup_free_ char *parent = strndup(ch->path, plen);
		_cleanup_close_ int upfd = -1;

		if (!parent)
			return -ENOMEM;
		upfd = delta_openat(k->upperfd, parent, O_PATH | O_DIRECTORY, 0);
		if (upfd < 0)
			return upfd;
		n = readlinkat(upfd, base, target, sizeof(target) - 1);
		if (n < 0)
			return -errno;
		target[n] = '\0';
		/* The target text is copied as is and never resolved here. */
		if (symlinkat(target, pfd, tmp) < 0)
			return -errno;
		if (old && geteuid() == 0 &&
		    fchownat(pfd, tmp, old->st_uid, old->st_gid, AT_SYMLINK_NOFOLLOW) < 0)
			r = -errno;
	} else {
		_cleanup_close_ int in = -1, out = -1;
		struct stat st;

		in = delta_openat(k->upperfd, ch->path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK, 0);
		if (in < 0)
			return in;
		if (fstat(in, &st) < 0)
			return -errno;
		if (!S_ISREG(st.st_mode))
			return -EINVAL; /* replaced in the delta since the walk */
		out = openat(pfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (out < 0)
			return -errno;
		r = copy_bytes(in, out);
		if (!r && old && geteuid() == 0 && fchown(out, old->st_uid, old->st_gid) < 0)
			r = -errno;
		/* After chown, which may clear mode bits; set-id bits are dropped. */
		if (!r && fchmod(out, st.st_mode & 0777) < 0)
			r = -errno;
		if (!r) {
			struct buf x = { 0 };

			r = delta_upper_xattrs(k, ch->path, &x);
			if (!r)
				r = delta_xattrs_apply(out, &x);
			buf_free(&x);
		}
		if (!r && close(TAKE_FD(out)) < 0)
			r = -errno;
	}
	if (r)
		(void)unlinkat(pfd, tmp, 0);
	return r;
}

/*
 * Gives directory NAME in PFD the delta's mode and user.* attributes,
 * creating it first when CREATE.  0 or -errno.
 */
int delta_make_dir(const struct delta_commit *k, const struct delta_change *ch, int pfd,
		    const char *name, bool create)
{
	_cleanup_close_ int fd = -1;
	struct buf x = { 0 };
	int r;

	if (create && mkdirat(pfd, name, 0700) < 0)
		return -errno;
	/* mkdir's mode is masked by the umask; set the delta's bits exactly. */
	fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fchmod(fd, ch->new_mode & 01777) < 0)
		return -errno;
	r = delta_upper_xattrs(k, ch->path, &x);
	if (!r)
		r = delta_xattrs_apply(fd, &x);
	buf_free(&x);
	return r;
}
