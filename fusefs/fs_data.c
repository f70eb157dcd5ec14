// SPDX-License-Identifier: Apache-2.0
/*
 * fs_data.c - opens and file data: open, access, opendir, read, write,
 * fsync, fallocate, copy_file_range, statfs.  READ and WRITE come by node
 * id and use a per-inode data fd, so they work without OPEN (kernel mode,
 * where OPEN is answered ENOSYS once and never sent again).
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


/*
 * The data fd of regular file I, with io_lock held for reading (the caller
 * unlocks).  RW asks for a read-write fd on the delta copy (which must
 * exist).  Opened lazily and cached under the fd budget (fs_fds.c): READ
 * and WRITE come by node id, without a per-open handle (OPEN answers
 * ENOSYS), and the sweep may close it whenever no request uses it.
 */
int fs_data_fd(struct fs_session *s, struct fs_inode *i, bool rw, int *fd)
{
	int r = 0;

	if (i->type != S_IFREG)
		return -EINVAL;
	for (;;) {
		pthread_rwlock_rdlock(fs_io_lock(i));
		if (i->data_fd >= 0 && (!rw || i->data_rw)) {
			*fd = i->data_fd;
			if (!atomic_load_explicit(&i->fd_ref, memory_order_relaxed))
				atomic_store_explicit(&i->fd_ref, true, memory_order_relaxed);
			return 0;
		}
		pthread_rwlock_unlock(fs_io_lock(i));
		/* ns_lock ranks above io_lock; the object is found under it. */
		fs_ns_rdlock(s);
		pthread_rwlock_wrlock(fs_io_lock(i));
		if (i->data_fd < 0 || (rw && !i->data_rw)) {
			int nfd = -1;
			bool nrw = false;

			if (i->has_upper) {
				nfd = fs_open_object(s, i, true, O_RDWR);
				nrw = nfd >= 0;
				if (nfd < 0 && !rw)
					nfd = fs_open_object(s, i, true, O_RDONLY);
			} else if (!rw && i->has_src) {
				/* The source is only ever opened read-only (docs/SPEC.md 6). */
				nfd = fs_open_object(s, i, false, O_RDONLY);
			} else {
				errno = EIO;
			}
			if (nfd < 0)
				r = -errno;
			else
				fs_data_fd_set(s, i, nfd, nrw);
		}
		pthread_rwlock_unlock(fs_io_lock(i));
		fs_ns_unlock(s);
		if (r < 0)
			return r;
	}
}

/* Copy-up of I when it has no delta copy yet (the data copied without ns_lock). */
int fs_ensure_upper(struct fs_session *s, struct fs_inode *i)
{
	return delta_copy_up_data(s, i, INT64_MAX);
}

/* The first change through an inode is logged once (docs/SPEC.md 8 "write"). */
void fs_wrote_once(struct fs_session *s, fuse_req_t req, struct fs_inode *i, const char *op)
{
	char path[PATH_MAX];

	if (atomic_exchange(&i->audited_write, true))
		return;
	fs_ns_rdlock(s);
	if (fs_inode_path(i, path, sizeof(path)) == 0)
		fs_wrote(s, req, op, path, NULL);
	fs_ns_unlock(s);
}

/* --- file data ---------------------------------------------------------- */

void fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_session *s = S(req);
	struct fs_inode *i = fs_inode_get(s, ino);
	int acc = fi->flags & O_ACCMODE, mask = 0;
	bool exec = fi->flags & FS_FMODE_EXEC;
	char path[PATH_MAX + 1] = "/";
	int r;

	/*
	 * Zero-message opens: ENOSYS makes the kernel stop sending OPEN,
	 * FLUSH and RELEASE for the whole connection (fs/fuse/file.c
	 * fuse_file_open(), no_open) and keep page caches; levels are then
	 * enforced by default_permissions on the mode bits and by READ/WRITE
	 * below.  In daemon mode (root callers, audit) opens come here.
	 */
	if (!s->daemon_opens) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	if (acc != O_RDONLY || (fi->flags & O_TRUNC))
		mask |= W_OK;
	if (acc != O_WRONLY)
		mask |= R_OK;
	if (exec)
		mask |= X_OK;
	r = fs_check_access(s, req, i, mask, exec ? "exec" : "open");
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	if (s->audit && (exec || audit_wants_all(s->audit))) {
		fs_ns_rdlock(s);
		r = fs_inode_path(i, path + 1, sizeof(path) - 1);
		fs_ns_unlock(s);
		if (r == 0)
			fs_audit(s, req, exec ? "exec" : "read", "open", path, NULL, NULL, 0);
	}
	r = fs_pt_open(s, req, i, fi);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	fuse_reply_open(req, fi);
}

/*
 * ACCESS only comes without default_permissions (fs/fuse/dir.c
 * fuse_permission()), i.e. for a /dev/fd mount its maker set up without
 * it; then access(2) gets the level's answer, root's included.
 */
void fs_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	struct fs_session *s = S(req);

	fuse_reply_err(req, -fs_check_access(s, req, fs_inode_get(s, ino), mask, "access"));
}

void fs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_session *s = S(req);
	int r;

	/*
	 * Listings are cached per inode, so no per-open state is needed:
	 * in kernel mode ENOSYS makes the kernel stop sending OPENDIR and
	 * RELEASEDIR and cache listings itself (FOPEN_CACHE_DIR).
	 */
	if (!s->daemon_opens) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	r = fs_check_access(s, req, fs_inode_get(s, ino), R_OK, "opendir");
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	fi->fh = 0;
	fi->cache_readdir = 1;
	fi->keep_cache = 1;
	fuse_reply_open(req, fi);
}

void fs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_session *s = S(req);

	fs_pt_release(s, fs_inode_get(s, ino), fi->fh);
	fuse_reply_err(req, 0);
}

void fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
	     struct fuse_file_info *fi)
{
	struct fs_session *s = S(req);
	struct fs_inode *i = fs_inode_get(s, ino);
	struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);
	int r, fd;

	r = fs_need_level_locked(s, req, i, POLICY_READ, "read");
	/*
	 * Before the reply (once it is sent the kernel may forget I, an
	 * unlinked file closed, and I is freed) and before io_lock (it takes
	 * ns_lock, which comes first).
	 */
	if (r == 0) {
		fs_notify_read(s, i);
		r = fs_data_fd(s, i, false, &fd);
	}
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	buf.buf[0].fd = fd;
	buf.buf[0].pos = off;
	fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
	pthread_rwlock_unlock(fs_io_lock(i));
}

/*
 * The budget follows what a file of the delta really costs (delta_cost():
 * allocated blocks, or the apparent size when larger), by every route:
 * the change is measured around the operation, under the file's
 * acct_lock so that concurrent changes of one file cannot hide each
 * other's growth.  Before it, RESERVE -- the most it can grow the cost by
 * -- must fit in the budget (ENOSPC otherwise); after it, the real change
 * is charged (or given back) and the reservation released.
 */
int fs_charge_begin(struct fs_session *s, struct fs_inode *i, int fd, struct fs_charge *c)
{
	c->i = i;
	c->reserved = 0;
	pthread_mutex_lock(fs_acct_lock(i));
	if (fstat(fd, &c->st) < 0) {
		int r = -errno;

		pthread_mutex_unlock(fs_acct_lock(i));
		return r;
	}
	c->before = delta_cost(&c->st);
	return 0;
}

int fs_charge_reserve(struct fs_session *s, struct fs_charge *c, int64_t bytes)
{
	int r = delta_charge(s, bytes);

	if (r < 0) {
		pthread_mutex_unlock(fs_acct_lock(c->i));
		return r;
	}
	c->reserved = bytes > 0 ? bytes : 0;
	return 0;
}

void fs_charge_end(struct fs_session *s, int fd, struct fs_charge *c)
{
	struct stat st;

	delta_uncharge(s, c->reserved);
	if (fstat(fd, &st) == 0) {
		int64_t change = delta_cost(&st) - c->before;

		if (change > 0)
			delta_charge_anyway(s, change);
		else
			delta_uncharge(s, -change);
	}
	pthread_mutex_unlock(fs_acct_lock(c->i));
}

/*
 * The most writing [OFF, OFF+LEN) can add to the cost of the file behind
 * FD, whose attributes are ST: nothing when the range lies inside
 * allocated data, else LEN (holes or growth).
 */
static int64_t write_reserve(int fd, const struct stat *st, off_t off, size_t len)
{
	off_t hole;

	if ((int64_t)off + (int64_t)len > st->st_size)
		return (int64_t)len;
	hole = lseek(fd, off, SEEK_HOLE);
	return hole >= 0 && hole >= off + (off_t)len ? 0 : (int64_t)len;
}

/* Write access for a data change: level, copy-up, then the read-write fd. */
static int writable_fd(struct fs_session *s, fuse_req_t req, struct fs_inode *i, const char *op,
		       int *fd)
{
	int r = fs_need_level_locked(s, req, i, POLICY_WRITE, op);

	if (r == 0 && !i->has_upper)
		r = fs_ensure_upper(s, i);
	if (r == 0)
		r = fs_data_fd(s, i, true, fd);
	return r;
}

void fs_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *in, off_t off,
		  struct fuse_file_info *fi)
{
	struct fs_session *s = S(req);
	struct fs_inode *i = fs_inode_get(s, ino);
	size_t len = fuse_buf_size(in);
	struct fuse_bufvec out = FUSE_BUFVEC_INIT(len);
	struct fs_charge c;
	ssize_t n;
	int r, fd;

	r = writable_fd(s, req, i, "write", &fd);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	r = fs_charge_begin(s, i, fd, &c);
	if (r == 0)
		r = fs_charge_reserve(s, &c, write_reserve(fd, &c.st, off, len));
	if (r < 0) {
		pthread_rwlock_unlock(fs_io_lock(i));
		fuse_reply_err(req, -r);
		return;
	}
	out.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	out.buf[0].fd = fd;
	out.buf[0].pos = off;
	n = fuse_buf_copy(&out, in, 0);
	fs_charge_end(s, fd, &c);
	pthread_rwlock_unlock(fs_io_lock(i));
	if (n < 0) {
		fuse_reply_err(req, (int)-n);
		return;
	}
	fs_wrote_once(s, req, i, "write");
	fuse_reply_write(req, (size_t)n);
}

void fs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct fs_session *s = S(req);
	struct fs_inode *i = fs_inode_get(s, ino);
	int r, fd;

	/* Nothing was written where there is no delta copy. */
	if (i->type != S_IFREG || !i->has_upper) {
		fuse_reply_err(req, 0);
		return;
	}
	/*
	 * Writes through a backing file (fs_passthrough.c) leave the daemon
	 * without a read-write fd: one is opened, and fsync of any fd of the
	 * delta copy flushes the copy.
	 */
	r = fs_data_fd(s, i, true, &fd);
	if (r == 0) {
		if ((datasync ? fdatasync(fd) : fsync(fd)) < 0)
			r = -errno;
		pthread_rwlock_unlock(fs_io_lock(i));
	}
	fuse_reply_err(req, -r);
}

void fs_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct fs_session *s = S(req);
	struct fs_inode *i = fs_inode_get(s, ino);
	int r = 0;

	fs_ns_rdlock(s);
	if (i->has_upper) {
		_cleanup_close_ int fd = fs_open_object(s, i, true, O_RDONLY | O_DIRECTORY);

		if (fd < 0 || fsync(fd) < 0)
			r = errno;
	}
	fs_ns_unlock(s);
	fuse_reply_err(req, r);
}

void fs_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
		  struct fuse_file_info *fi)
{
	struct fs_session *s = S(req);
	struct fs_inode *i = fs_inode_get(s, ino);
	struct fs_charge c;
	int r, fd;

	r = writable_fd(s, req, i, "fallocate", &fd);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	/* Every mode may allocate up to LEN (KEEP_SIZE and ZERO_RANGE too); a punch frees. */
	r = fs_charge_begin(s, i, fd, &c);
	if (r == 0)
		r = fs_charge_reserve(s, &c, (mode & FALLOC_FL_PUNCH_HOLE) || len < 0 ? 0 : len);
	if (r == 0) {
		if (fallocate(fd, mode, off, len) < 0)
			r = -errno;
		fs_charge_end(s, fd, &c);
	}
	pthread_rwlock_unlock(fs_io_lock(i));
	if (r == 0)
		fs_wrote_once(s, req, i, "fallocate");
	fuse_reply_err(req, -r);
}

void fs_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
			struct fuse_file_info *fi_in, fuse_ino_t ino_out, off_t off_out,
			struct fuse_file_info *fi_out, size_t len, int flags)
{
	struct fs_session *s = S(req);
	struct fs_inode *in = fs_inode_get(s, ino_in), *out = fs_inode_get(s, ino_out);
	struct fs_charge c;
	int r, fdin = -1, fdout = -1;
	ssize_t n = 0;

	r = fs_need_level_locked(s, req, in, POLICY_READ, "read");
	/*
	 * A private read fd on IN, opened before OUT's io_lock is taken: the
	 * stripes are shared (two held at once could be one), and ns_lock
	 * ranks above io_lock.
	 */
	if (r == 0 && in != out) {
		fs_ns_rdlock(s);
		errno = EINVAL;
		fdin = in->type == S_IFREG ? fs_open_object(s, in, in->has_upper, O_RDONLY) : -1;
		if (fdin < 0)
			r = -errno;
		fs_ns_unlock(s);
	}
	if (r == 0)
		r = writable_fd(s, req, out, "write", &fdout);
	if (r < 0) {
		if (fdin >= 0)
			(void)close(fdin);
		fuse_reply_err(req, -r);
		return;
	}
	if (in == out)
		fdin = fdout;
	r = fs_charge_begin(s, out, fdout, &c);
	if (r == 0)
		r = fs_charge_reserve(s, &c, write_reserve(fdout, &c.st, off_out, len));
	if (r == 0) {
		n = copy_file_range(fdin, &off_in, fdout, &off_out, len, (unsigned int)flags);
		if (n < 0)
			r = -errno;
		fs_charge_end(s, fdout, &c);
	}
	if (in != out && fdin >= 0)
		(void)close(fdin);
	pthread_rwlock_unlock(fs_io_lock(out));
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	fs_wrote_once(s, req, out, "write");
	fuse_reply_write(req, (size_t)n);
}

void fs_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct fs_session *s = S(req);
	struct statvfs sv;

	if (fstatvfs(s->upper_root, &sv) < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	if (s->max_delta) {
		int64_t left = (int64_t)s->max_delta - atomic_load(&s->delta_bytes);
		fsblkcnt_t blocks = left > 0 ? (fsblkcnt_t)left / sv.f_frsize : 0;

		if (blocks < sv.f_bavail)
			sv.f_bavail = blocks;
		if (blocks < sv.f_bfree)
			sv.f_bfree = blocks;
	}
	fuse_reply_statfs(req, &sv);
}
