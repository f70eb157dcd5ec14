// SPDX-License-Identifier: Apache-2.0
/*
 * delta.c - the copy-on-write delta: set-up, copy-up, whiteouts, opaque
 * directories, origin records, budget.  Format: common/delta_format.h,
 * which follows overlayfs's (Documentation/filesystems/overlayfs.rst,
 * "whiteouts and opaque directories") so that
 * `mount -t overlay -o lowerdir=SRC,upperdir=DELTA/upper,workdir=DELTA/work`
 * shows the same tree.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cleanup.h"
#include "delta.h"
#include "delta_format.h"
#include "dirnames.h"
#include "util.h"

const char *delta_fd_path(int fd, char *buf, size_t len)
{
	snprintf(buf, len, "/proc/self/fd/%d", fd);
	return buf;
}

static void xattr_name(const struct fs_session *s, const char *suffix, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s", s->xattr_ns, suffix);
}

bool delta_is_marker_xattr(const char *name)
{
	static const char *const prefixes[] = {
		"trusted.overlay.", "user.overlay.", "trusted.fencefs.", "user.fencefs.",
	};
	size_t k;

	for (k = 0; k < ARRAY_SIZE(prefixes); k++)
		if (!strncmp(name, prefixes[k], strlen(prefixes[k])))
			return true;
	return false;
}

int delta_charge(struct fs_session *s, int64_t bytes)
{
	int64_t now;

	if (bytes <= 0)
		return 0;
	now = atomic_fetch_add(&s->delta_bytes, bytes) + bytes;
	if (s->max_delta && now > (int64_t)s->max_delta) {
		atomic_fetch_sub(&s->delta_bytes, bytes);
		return -ENOSPC;
	}
	return 0;
}

void delta_charge_anyway(struct fs_session *s, int64_t bytes)
{
	if (bytes > 0)
		atomic_fetch_add(&s->delta_bytes, bytes);
}

int64_t delta_cost(const struct stat *st)
{
	int64_t alloc = (int64_t)st->st_blocks * 512;

	if (S_ISREG(st->st_mode) && alloc > st->st_size)
		return alloc;
	return st->st_size;
}

int64_t delta_dir_size(int fd)
{
	struct stat st;

	return fstatat(fd, "", &st, AT_EMPTY_PATH) == 0 ? st.st_size : 0;
}

void delta_uncharge(struct fs_session *s, int64_t bytes)
{
	if (bytes > 0)
		atomic_fetch_sub(&s->delta_bytes, bytes);
}

/* --- markers ------------------------------------------------------------ */

int delta_set_opaque(struct fs_session *s, int fd)
{
	char name[64], p[32];

	xattr_name(s, DELTA_XATTR_OPAQUE, name, sizeof(name));
	if (setxattr(delta_fd_path(fd, p, sizeof(p)), name, "y", 1, 0) < 0)
		return -errno;
	return 0;
}

bool delta_is_opaque(struct fs_session *s, int fd)
{
	char name[64], p[32], v[4];
	ssize_t n;

	xattr_name(s, DELTA_XATTR_OPAQUE, name, sizeof(name));
	n = getxattr(delta_fd_path(fd, p, sizeof(p)), name, v, sizeof(v));
	return n == 1 && v[0] == 'y';
}

/* Records what a copy-up was made from, so commit can detect a changed source. */
static int set_origin(struct fs_session *s, int fd, const struct stat *src)
{
	char name[64], v[160];

	xattr_name(s, DELTA_XATTR_ORIGIN, name, sizeof(name));
	snprintf(v, sizeof(v), "dev=%llu ino=%llu size=%lld mtime=%lld.%09ld",
		 (unsigned long long)src->st_dev, (unsigned long long)src->st_ino,
		 (long long)src->st_size, (long long)src->st_mtim.tv_sec, src->st_mtim.tv_nsec);
	if (fsetxattr(fd, name, v, strlen(v), 0) < 0)
		return -errno;
	return 0;
}

int delta_clear_whiteout(struct fs_session *s, int upfd, const char *name, bool *was_whiteout)
{
	struct stat st;

	*was_whiteout = false;
	if (fstatat(upfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISCHR(st.st_mode) || st.st_rdev != makedev(0, 0))
		return -EEXIST;
	if (unlinkat(upfd, name, 0) < 0)
		return -errno;
	*was_whiteout = true;
	return 0;
}

int delta_make_whiteout(struct fs_session *s, int upfd, const char *name)
{
	if (mknodat(upfd, name, S_IFCHR | 0, makedev(0, 0)) == 0)
		return 0;
	if (errno == EPERM) {
		/*
		 * Creating the 0:0 device needs CAP_MKNOD (in the delta
		 * filesystem's user namespace, as for rootless overlayfs).
		 * Without it a source entry cannot be deleted: say so once.
		 */
		if (!atomic_exchange(&s->whiteout_warned, true))
			fprintf(stderr, "fencefs: cannot create whiteouts in the delta (%s): "
				"deleting source entries fails with EIO\n", strerror(EPERM));
		return -EIO;
	}
	return -errno;
}

/* --- copy-up ------------------------------------------------------------ */

static void tmp_name(struct fs_session *s, char *buf, size_t len)
{
	snprintf(buf, len, "#fencefs-%d-%llu", (int)getpid(),
		 (unsigned long long)atomic_fetch_add(&s->tmp_counter, 1));
}

/* FICLONE, else copy_file_range, else read/write (docs/SPEC.md 6). */
static int copy_data(int in, int out, off_t size)
{
	char buf[65536];
	off_t done = 0;
	ssize_t n;

	if (ioctl(out, FICLONE, in) == 0)
		return 0;
	while (done < size) {
		n = copy_file_range(in, NULL, out, NULL, (size_t)(size - done), 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (done == 0 && (errno == EXDEV || errno == EOPNOTSUPP || errno == ENOSYS ||
					  errno == EINVAL))
				break;
			return -errno;
		}
		if (n == 0)
			break;
		done += n;
	}
	if (done >= size)
		return 0;
	/* Plain copy from wherever copy_file_range stopped (it starts at 0 here). */
	for (;;) {
		char *p = buf;

		n = read(in, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		while (n > 0) {
			ssize_t w = write(out, p, (size_t)n);

			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				return -errno;
			p += w;
			n -= w;
		}
	}
}

/*
 * The copy keeps the source's extended attributes (user.* and whatever
 * else the daemon may set), except the delta's own markers.  An attribute
 * the daemon may not set (security.* as non-root) is skipped: the copy is
 * still the right data.
 */
static int copy_xattrs(int src_fd, int out)
{
	_cleanup_free_ char *names = NULL, *val = NULL;
	char p[32];
	ssize_t n, k;

	delta_fd_path(src_fd, p, sizeof(p));
	n = listxattr(p, NULL, 0);
	if (n <= 0)
		return n < 0 && errno != ENOTSUP ? -errno : 0;
	names = malloc((size_t)n);
	val = malloc(65536);
	if (!names || !val)
		return -ENOMEM;
	n = listxattr(p, names, (size_t)n);
	if (n < 0)
		return -errno;
	for (k = 0; k < n; k += (ssize_t)strlen(names + k) + 1) {
		const char *name = names + k;
		ssize_t v;

		if (delta_is_marker_xattr(name))
			continue;
		v = getxattr(p, name, val, 65536);
		if (v < 0)
			continue;
		if (fsetxattr(out, name, val, (size_t)v, 0) < 0 && !strncmp(name, "user.", 5))
			return -errno;
	}
	return 0;
}

/* Ownership follows the source when the daemon may chown (as root). */
static int copy_owner(int fd, const struct stat *st)
{
	if (geteuid() != 0)
		return 0;
	if (fchown(fd, st->st_uid, st->st_gid) < 0)
		return -errno;
	return 0;
}

/* A file's copy staged in work/, not yet in upper/. */
struct staged {
	char tmp[64];
	int fd;          /* read-write on the copy */
	int64_t charged; /* budget taken for its data */
};

static void staged_drop(struct fs_session *s, struct staged *c)
{
	if (c->fd >= 0) {
		(void)unlinkat(s->work_fd, c->tmp, 0);
		(void)close(c->fd);
		c->fd = -1;
	}
	delta_uncharge(s, c->charged);
	c->charged = 0;
}

/*
 * Copies the first LEN bytes (all of them, at most) of the source file of I
 * into a new file in work/, with the source's xattrs, owner, mode, times and
 * an origin record.  Touches neither upper/ nor the inode, so it needs no
 * lock: the source and work/ are the daemon's alone.
 */
static int stage_file(struct fs_session *s, int in, const struct stat *st, off_t len,
		      struct staged *c)
{
	struct timespec ts[2] = { st->st_atim, st->st_mtim };
	int r;

	if (len > st->st_size)
		len = st->st_size;
	c->fd = -1;
	c->charged = 0;
	r = delta_charge(s, len);
	if (r < 0)
		return r;
	c->charged = len;
	tmp_name(s, c->tmp, sizeof(c->tmp));
	c->fd = openat(s->work_fd, c->tmp, O_CREAT | O_EXCL | O_RDWR | O_NOFOLLOW | O_CLOEXEC,
		       0600);
	if (c->fd < 0) {
		r = -errno;
		staged_drop(s, c);
		return r;
	}
	r = copy_data(in, c->fd, len);
	/* FICLONE takes the whole file: cut it to LEN (a truncating copy-up). */
	if (r == 0 && len < st->st_size && ftruncate(c->fd, len) < 0)
		r = -errno;
	if (r == 0)
		r = copy_xattrs(in, c->fd);
	if (r == 0)
		r = copy_owner(c->fd, st);
	if (r == 0 && fchmod(c->fd, st->st_mode & 07777) < 0)
		r = -errno;
	if (r == 0)
		r = set_origin(s, c->fd, st);
	if (r == 0 && futimens(c->fd, ts) < 0)
		r = -errno;
	if (r == 0) {
		/* What the copy really takes on disk (blocks, not bytes). */
		struct stat cst;

		if (fstat(c->fd, &cst) == 0 && delta_cost(&cst) > c->charged) {
			delta_charge_anyway(s, delta_cost(&cst) - c->charged);
			c->charged = delta_cost(&cst);
		}
	}
	if (r < 0)
		staged_drop(s, c);
	return r;
}

/* Moves a staged copy to NAME in upper directory UPFD and onto inode I.  ns_lock held. */
static int commit_file(struct fs_session *s, struct fs_inode *i, int upfd, const char *name,
		       struct staged *c)
{
	struct stat ust;
	int upper;

	if (fstatat(upfd, name, &ust, AT_SYMLINK_NOFOLLOW) == 0) {
		/*
		 * The name was deleted (a whiteout) or replaced while this
		 * file stayed open: the copy must not bring it back, so it
		 * lives on unlinked, like the original would have.
		 */
		upper = openat(s->work_fd, c->tmp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (upper < 0 || unlinkat(s->work_fd, c->tmp, 0) < 0) {
			int r = -errno;

			if (upper >= 0)
				(void)close(upper);
			staged_drop(s, c);
			return r;
		}
	} else {
		/* The rename makes the complete copy appear at once. */
		if (renameat(s->work_fd, c->tmp, upfd, name) < 0) {
			int r = -errno;

			staged_drop(s, c);
			return r;
		}
		upper = openat(upfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (upper < 0) {
			(void)close(c->fd);
			c->fd = -1;
			return -errno;
		}
	}
	if (fstatat(upper, "", &ust, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) {
		int r = -errno;

		(void)close(upper);
		(void)close(c->fd);
		c->fd = -1;
		return r;
	}
	/* The read fd on the source gives way to a read-write fd on the copy. */
	pthread_rwlock_wrlock(fs_io_lock(i));
	fs_data_fd_set(s, i, c->fd, true);
	fs_set_upper(s, i, upper, &ust);
	pthread_rwlock_unlock(fs_io_lock(i));
	c->fd = -1;
	/* Same object, new home: later lookups find it in upper/. */
	fs_inode_rekey(s, i, ust.st_dev, ust.st_ino);
	return 0;
}

static int copy_up_file(struct fs_session *s, struct fs_inode *i, int upfd, const char *name,
			const struct stat *st)
{
	_cleanup_close_ int in = fs_open_object(s, i, false, O_RDONLY);
	struct staged c;
	int r;

	if (in < 0)
		return -errno;
	r = stage_file(s, in, st, st->st_size, &c);
	return r < 0 ? r : commit_file(s, i, upfd, name, &c);
}

/* Caches the O_PATH fd UPPER of I's new delta object on I.  0 or -errno. */
static int set_upper(struct fs_session *s, struct fs_inode *i, int upper)
{
	struct stat ust;

	if (fstatat(upper, "", &ust, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) {
		int r = -errno;

		(void)close(upper);
		return r;
	}
	fs_set_upper(s, i, upper, &ust);
	return 0;
}

static int copy_up_symlink(struct fs_session *s, struct fs_inode *i, int sfd, int upfd,
			   const char *name, const struct stat *st)
{
	char target[PATH_MAX + 1], tmp[64];
	struct timespec ts[2] = { st->st_atim, st->st_mtim };
	ssize_t n;
	int upper;

	n = readlinkat(sfd, "", target, sizeof(target) - 1);
	if (n < 0)
		return -errno;
	target[n] = '\0';
	if (delta_charge(s, n) < 0)
		return -ENOSPC;
	tmp_name(s, tmp, sizeof(tmp));
	if (symlinkat(target, s->work_fd, tmp) < 0)
		return -errno;
	if (geteuid() == 0 && fchownat(s->work_fd, tmp, st->st_uid, st->st_gid,
				       AT_SYMLINK_NOFOLLOW) < 0)
		goto out_unlink;
	if (utimensat(s->work_fd, tmp, ts, AT_SYMLINK_NOFOLLOW) < 0)
		goto out_unlink;
	/*
	 * No origin record: user.* xattrs are not allowed on symlinks
	 * (xattr(7)), and a symlink's content is its target, which diff
	 * compares directly.
	 */
	if (renameat(s->work_fd, tmp, upfd, name) < 0)
		goto out_unlink;
	upper = openat(upfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (upper < 0)
		return -errno;
	return set_upper(s, i, upper);

out_unlink:;
	int r = -errno;

	(void)unlinkat(s->work_fd, tmp, 0);
	return r;
}

static int copy_up_dir(struct fs_session *s, struct fs_inode *i, int sfd, int upfd,
		       const char *name, const struct stat *st)
{
	_cleanup_close_ int fd = -1;
	struct timespec ts[2] = { st->st_atim, st->st_mtim };
	int r, upper;

	if (delta_charge(s, DELTA_DIR_COST) < 0)
		return -ENOSPC;
	if (mkdirat(upfd, name, 0700) < 0 && errno != EEXIST)
		return -errno;
	fd = openat(upfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = copy_xattrs(sfd, fd);
	if (r == 0)
		r = copy_owner(fd, st);
	if (r == 0 && fchmod(fd, st->st_mode & 07777) < 0)
		r = -errno;
	if (r == 0)
		r = set_origin(s, fd, st);
	if (r == 0 && futimens(fd, ts) < 0)
		r = -errno;
	if (r < 0)
		return r;
	upper = openat(upfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (upper < 0)
		return -errno;
	return set_upper(s, i, upper);
}

static int copy_up_special(struct fs_session *s, struct fs_inode *i, int upfd, const char *name,
			   const struct stat *st)
{
	char tmp[64];
	int upper;

	/* Device nodes are never made in the delta (docs/SPEC.md 1: EPERM). */
	if (!S_ISFIFO(st->st_mode) && !S_ISSOCK(st->st_mode))
		return -EPERM;
	tmp_name(s, tmp, sizeof(tmp));
	if (mknodat(s->work_fd, tmp, st->st_mode, 0) < 0)
		return -errno;
	if (renameat(s->work_fd, tmp, upfd, name) < 0) {
		int r = -errno;

		(void)unlinkat(s->work_fd, tmp, 0);
		return r;
	}
	upper = openat(upfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (upper < 0)
		return -errno;
	return set_upper(s, i, upper);
}

int delta_copy_up(struct fs_session *s, struct fs_inode *i)
{
	struct stat st;
	int r, sfd, upfd;

	if (i->has_upper)
		return 0;
	if (!i->parent || !i->has_src)
		return -EIO; /* the root always has an upper; delta-only inodes too */
	r = delta_copy_up(s, i->parent);
	if (r < 0)
		return r;
	sfd = fs_src(s, i);
	upfd = fs_upper(s, i->parent);
	if (sfd < 0 || upfd < 0)
		return -errno;
	if (fstatat(sfd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	switch (st.st_mode & S_IFMT) {
	case S_IFREG:
		r = copy_up_file(s, i, upfd, i->name, &st);
		break;
	case S_IFDIR:
		r = copy_up_dir(s, i, sfd, upfd, i->name, &st);
		break;
	case S_IFLNK:
		r = copy_up_symlink(s, i, sfd, upfd, i->name, &st);
		if (r == 0)
			fs_inode_rekey(s, i, s->upper_dev, i->upper_ino);
		break;
	default:
		r = copy_up_special(s, i, upfd, i->name, &st);
		break;
	}
	if (r == 0)
		fs_dir_invalidate(i->parent);
	return r;
}

int delta_copy_up_data(struct fs_session *s, struct fs_inode *i, off_t len)
{
	_cleanup_close_ int in = -1;
	struct staged c;
	struct stat st;
	int r;

	if (i->type != S_IFREG) {
		fs_ns_wrlock(s);
		r = delta_copy_up(s, i);
		fs_ns_unlock(s);
		return r;
	}
	pthread_mutex_lock(fs_copy_lock(i));
	fs_ns_rdlock(s);
	r = i->has_upper ? 1 : !i->has_src ? -EIO : 0;
	/* The copy itself runs without ns_lock, on a read fd of its own. */
	if (r == 0) {
		in = fs_open_object(s, i, false, O_RDONLY);
		if (in < 0 || fstat(in, &st) < 0)
			r = -errno;
	}
	fs_ns_unlock(s);
	if (r == 0)
		r = stage_file(s, in, &st, len, &c);
	if (r == 0) {
		fs_ns_wrlock(s);
		if (i->has_upper) {
			staged_drop(s, &c); /* copied meanwhile by a rename or link */
		} else {
			r = delta_copy_up(s, i->parent);
			if (r == 0)
				r = commit_file(s, i, fs_upper(s, i->parent), i->name, &c);
			else
				staged_drop(s, &c);
			if (r == 0)
				fs_dir_invalidate(i->parent);
		}
		fs_ns_unlock(s);
	}
	pthread_mutex_unlock(fs_copy_lock(i));
	return r > 0 ? 0 : r;
}

/* --- set-up ------------------------------------------------------------- */

int delta_make_private(char **path)
{
	const char *tmpdir = getenv("TMPDIR");
	char *p;

	if (!tmpdir || tmpdir[0] != '/')
		tmpdir = "/tmp";
	if (asprintf(&p, "%s/fencefs-delta.XXXXXX", tmpdir) < 0)
		return -ENOMEM;
	if (!mkdtemp(p)) {
		int r = -errno;

		free(p);
		return r;
	}
	*path = p;
	return 0;
}

static int remove_at(int parent, const char *name)
{
	DIR *d;
	struct dirent *de;
	int r = 0;

	if (unlinkat(parent, name, 0) == 0)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return errno == ENOENT ? 0 : -errno;
	d = fence_opendirat(parent, name, O_NOFOLLOW);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		int e;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		e = remove_at(dirfd(d), de->d_name);
		if (e < 0 && r == 0)
			r = e;
	}
	(void)closedir(d);
	if (unlinkat(parent, name, AT_REMOVEDIR) < 0 && r == 0)
		r = -errno;
	return r;
}

int delta_remove_private(const char *path)
{
	return remove_at(AT_FDCWD, path);
}

/*
 * Sum of the costs of everything under FD (files, directories, symlinks;
 * delta_cost()): the budget's measure.
 */
static int walk_size(int fd, int64_t *total)
{
	DIR *d = fence_opendirat(fd, ".", 0);
	struct dirent *de;
	int r = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d)) && r == 0) {
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			r = -errno;
			break;
		}
		if (!S_ISCHR(st.st_mode))
			*total += delta_cost(&st);
		if (S_ISDIR(st.st_mode)) {
			_cleanup_close_ int sub = openat(dirfd(d), de->d_name,
							 O_PATH | O_DIRECTORY | O_NOFOLLOW |
								 O_CLOEXEC);

			if (sub < 0)
				r = -errno;
			else
				r = walk_size(sub, total);
		}
	}
	(void)closedir(d);
	return r;
}

static int read_small_file(int dirfd, const char *name, struct buf *b)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	char chunk[4096];
	ssize_t n;

	if (fd < 0)
		return -errno;
	while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
		buf_add(b, chunk, (size_t)n);
		if (b->len > (1 << 20))
			return -EFBIG;
	}
	if (n < 0)
		return -errno;
	return b->oom ? -ENOMEM : 0;
}

/* Picks trusted.* when the daemon may set it (as overlayfs does as root), else user.*. */
static void choose_xattr_ns(struct fs_session *s)
{
	char p[32];
	const char *path = delta_fd_path(s->upper_root, p, sizeof(p));

	if (setxattr(path, "trusted.fencefs.probe", "1", 1, 0) == 0) {
		(void)removexattr(path, "trusted.fencefs.probe");
		snprintf(s->xattr_ns, sizeof(s->xattr_ns), "trusted.");
	} else {
		snprintf(s->xattr_ns, sizeof(s->xattr_ns), "user.");
	}
}

/*
 * upper/ is the mount's root in the merged view (as in overlayfs, whose
 * root shows the upper directory's attributes), so it takes the source
 * root's mode, owner (as root) and times.
 */
static int mirror_root(struct fs_session *s)
{
	_cleanup_close_ int fd = openat(s->upper_root, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct stat st;
	int r;

	if (fd < 0 || fstatat(s->src_root, "", &st, AT_EMPTY_PATH) < 0)
		return -errno;
	r = copy_owner(fd, &st);
	if (r == 0 && fchmod(fd, st.st_mode & 07777) < 0)
		r = -errno;
	if (r == 0 && futimens(fd, (struct timespec[2]){ st.st_atim, st.st_mtim }) < 0)
		r = -errno;
	return r;
}

static int write_meta(struct fs_session *s, const char *source_abs, const struct policy *policy)
{
	struct buf b = { 0 };
	char ts[40], digest[65];
	_cleanup_close_ int fd = -1;
	size_t k, n = policy_rule_count(policy);
	int r = 0;

	fence_timestamp(ts, sizeof(ts));
	policy_digest(policy, digest);
	buf_addf(&b, "{\"fencefs_delta\":%d,\"version\":", DELTA_FORMAT_VERSION);
	buf_add_json_str(&b, FENCE_VERSION);
	buf_adds(&b, ",\"created\":");
	buf_add_json_str(&b, ts);
	buf_adds(&b, ",\"source\":");
	buf_add_json_str(&b, source_abs);
	buf_adds(&b, ",\"xattr_ns\":");
	/* "trusted." -> "trusted" */
	buf_add_json_mem(&b, s->xattr_ns, strlen(s->xattr_ns) - 1);
	buf_adds(&b, ",\"policy_digest\":");
	buf_add_json_str(&b, digest);
	buf_adds(&b, ",\"rules\":[");
	for (k = 0; k < n; k++) {
		const struct policy_rule_info *ri = policy_rule(policy, k);

		buf_adds(&b, k ? ",[" : "[");
		buf_add_json_str(&b, policy_level_name(ri->level));
		buf_adds(&b, ",");
		buf_add_json_str(&b, ri->pattern);
		buf_adds(&b, "]");
	}
	buf_adds(&b, "]}\n");
	if (b.oom) {
		buf_free(&b);
		return -ENOMEM;
	}
	fd = openat(s->delta_fd, DELTA_META_NAME ".tmp",
		    O_CREAT | O_TRUNC | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = -errno;
	} else {
		size_t off = 0;

		while (off < b.len && r == 0) {
			ssize_t w = write(fd, b.data + off, b.len - off);

			if (w < 0 && errno != EINTR)
				r = -errno;
			else if (w > 0)
				off += (size_t)w;
		}
		if (r == 0 && fsync(fd) < 0)
			r = -errno;
		if (r == 0 && renameat(s->delta_fd, DELTA_META_NAME ".tmp", s->delta_fd,
				       DELTA_META_NAME) < 0)
			r = -errno;
	}
	buf_free(&b);
	return r;
}

static int open_subdir(int dirfd, const char *name, mode_t mode, bool create)
{
	if (create && mkdirat(dirfd, name, mode) < 0 && errno != EEXIST)
		return -errno;
	int fd = openat(dirfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

static bool dir_is_empty(int fd)
{
	DIR *d = fence_opendirat(fd, ".", 0);
	struct dirent *de;
	bool empty = true;

	if (!d)
		return false;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			empty = false;
	(void)closedir(d);
	return empty;
}

int delta_setup(struct fs_session *s, const char *dir, const char *source_abs,
	       const struct policy *policy, char *err, size_t errlen)
{
	struct buf meta = { 0 }, want = { 0 };
	struct stat st;
	bool fresh;
	int r;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		r = -errno;
		snprintf(err, errlen, "cannot create delta '%s': %s", dir, strerror(-r));
		return r;
	}
	s->delta_fd = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (s->delta_fd < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot open delta '%s': %s", dir, strerror(-r));
		return r;
	}
	fresh = fstatat(s->delta_fd, DELTA_META_NAME, &st, AT_SYMLINK_NOFOLLOW) < 0;
	if (fresh && !dir_is_empty(s->delta_fd)) {
		snprintf(err, errlen, "'%s' is not empty and not a fencefs delta", dir);
		return -EEXIST;
	}
	if (!fresh) {
		r = read_small_file(s->delta_fd, DELTA_META_NAME, &meta);
		if (r < 0) {
			snprintf(err, errlen, "cannot read '%s/%s': %s", dir, DELTA_META_NAME,
				 strerror(-r));
			buf_free(&meta);
			return r;
		}
		/*
		 * The writer above emits no blanks, so the encoded source
		 * string can be compared as it stands.
		 */
		buf_adds(&want, "\"source\":");
		buf_add_json_str(&want, source_abs);
		if (!strstr(meta.data, "\"fencefs_delta\":1") || want.oom ||
		    !strstr(meta.data, want.data)) {
			snprintf(err, errlen, "'%s' is a delta of another source (not '%s')", dir,
				 source_abs);
			r = !strstr(meta.data, "\"fencefs_delta\":1") ? -EEXIST : -EXDEV;
			buf_free(&meta);
			buf_free(&want);
			return r;
		}
		snprintf(s->xattr_ns, sizeof(s->xattr_ns), "%s",
			 strstr(meta.data, "\"xattr_ns\":\"trusted\"") ? "trusted." : "user.");
		buf_free(&meta);
		buf_free(&want);
	}
	r = open_subdir(s->delta_fd, DELTA_UPPER_NAME, 0755, true);
	if (r < 0)
		goto out_err;
	s->upper_root = r;
	r = open_subdir(s->delta_fd, DELTA_WORK_NAME, 0700, true);
	if (r < 0)
		goto out_err;
	s->work_fd = r;
	/*
	 * One daemon per delta: two would interleave copy-ups and whiteouts.
	 * flock(2) on work/ (fence-run locks the delta directory itself for
	 * its own bookkeeping); held for the daemon's life.
	 */
	s->delta_lock = openat(s->work_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->delta_lock < 0 || flock(s->delta_lock, LOCK_EX | LOCK_NB) < 0) {
		r = -errno;
		if (r == -EWOULDBLOCK) {
			snprintf(err, errlen, "delta '%s' is in use by another mount", dir);
			return -EBUSY;
		}
		goto out_err;
	}
	if (fresh) {
		choose_xattr_ns(s);
		r = mirror_root(s);
		if (r == 0)
			r = write_meta(s, source_abs, policy);
		if (r < 0)
			goto out_err;
	} else {
		int64_t total = 0;

		r = walk_size(s->upper_root, &total);
		if (r < 0)
			goto out_err;
		atomic_store(&s->delta_bytes, total);
	}
	return 0;

out_err:
	snprintf(err, errlen, "cannot set up delta '%s': %s", dir, strerror(-r));
	return r;
}
