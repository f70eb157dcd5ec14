// SPDX-License-Identifier: Apache-2.0
/*
 * fs_ops.c - the FUSE low-level handlers' shared core: level checks, the
 * merged lookup, attributes, setattr, and the table of operations.  The
 * other handlers live in fs_names.c (creating, removing, renaming names),
 * fs_data.c (opens and file data) and fs_xattr.c.  Each fs_<op>() is thin:
 * it calls a helper that returns 0 or -errno and replies exactly once.
 * Levels (docs/SPEC.md 1) are enforced here as the second line behind the
 * kernel's default_permissions check on the level-derived mode bits (root
 * bypasses mode bits, so the daemon must refuse on its own too).
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

/* --- helpers ------------------------------------------------------------ */

mode_t fs_level_mode(mode_t mode, enum policy_level level)
{
	switch (level) {
	case POLICY_WRITE:
		return mode;
	case POLICY_READ:
		return S_ISLNK(mode) ? mode : mode & ~(mode_t)0222;
	default:
		if (S_ISLNK(mode))
			return mode;
		/* view: directories stay listable (r-x), files give nothing. */
		if (S_ISDIR(mode))
			return mode & ~(mode_t)0222;
		return mode & ~(mode_t)0777;
	}
}

int fs_stat_inode(struct fs_session *s, struct fs_inode *i, struct stat *st)
{
	int r = fs_lstat_object(s, i, st);

	if (r < 0)
		return r;
	fs_fill_attr(s, i, st);
	return 0;
}

void fs_fill_attr(struct fs_session *s, const struct fs_inode *i, struct stat *st)
{
	mode_t real = st->st_mode;

	/*
	 * The level's mode bits, with an audit log too (docs/SPEC.md 1:
	 * stat(2) and access(2) answer from them).  So what the kernel
	 * refuses from them for a caller without CAP_DAC_OVERRIDE (reading a
	 * view file, write-opening a read file) never reaches the daemon and
	 * is not logged; root's attempts, which pass the bits, are.
	 */
	st->st_mode = fs_level_mode(st->st_mode, i->level);
	/*
	 * default_permissions needs w on a directory before the daemon ever
	 * sees a create or unlink in it, yet a name's own level decides
	 * (docs/SPEC.md 1: agent-safe's /output/ can be made in the read root).  So a
	 * directory that may hold write names keeps its own w bits (whoever
	 * they let write, as natively); the daemon refuses every name that
	 * is not write.  With an audit log every directory does, so that each
	 * refused create, unlink or rename reaches the daemon and is logged
	 * (docs/SPEC.md 8: every refused operation) instead of dying in the kernel.
	 */
	if (i->write_beneath || (s->audit && S_ISDIR(real)))
		st->st_mode |= real & 0222;
	st->st_ino = i->report_ino;
	/*
	 * A directory's link count is 2 + its subdirectories, hidden ones
	 * included: it would tell how many are hidden.  1 is what
	 * filesystems that do not count report (btrfs), and find(1) then
	 * makes no leaf assumption.
	 */
	if (S_ISDIR(st->st_mode)) {
		st->st_nlink = 1;
		/*
		 * A directory's size grows with its entries, hidden ones too
		 * (tmpfs counts each): one fixed size, one block's worth,
		 * whatever it holds.
		 */
		st->st_size = 4096;
		st->st_blocks = 8;
	}
	if (s->has_owner) {
		st->st_uid = s->owner_uid;
		st->st_gid = s->owner_gid;
	}
}

static void path_with_slash(const char *path, char *out, size_t len)
{
	snprintf(out, len, "/%s", path);
}

void fs_deny(struct fs_session *s, fuse_req_t req, const char *op, const char *path,
	     enum policy_level level, int err)
{
	char p[PATH_MAX + 2];

	atomic_fetch_add(&s->denied, 1);
	if (!s->audit)
		return;
	path_with_slash(path, p, sizeof(p));
	fs_audit(s, req, "deny", op, p, NULL, policy_level_name(level), err);
}

void fs_wrote(struct fs_session *s, fuse_req_t req, const char *op, const char *path,
	      const char *path2)
{
	char p[PATH_MAX + 2], p2[PATH_MAX + 2];

	atomic_fetch_add(&s->written, 1);
	if (!s->audit)
		return;
	path_with_slash(path, p, sizeof(p));
	if (path2)
		path_with_slash(path2, p2, sizeof(p2));
	fs_audit(s, req, "write", op, p, path2 ? p2 : NULL, NULL, 0);
}

/*
 * Second line of docs/SPEC.md 1: I must be at least WANT.  Logs the refusal.
 * ns_lock held (the path is computed).
 */
int fs_need_level(struct fs_session *s, fuse_req_t req, const struct fs_inode *i,
		  enum policy_level want, const char *op)
{
	char path[PATH_MAX];
	int err;

	if (i->level >= want)
		return 0;
	err = i->level == POLICY_NONE ? ENOENT : EACCES;
	if (fs_inode_path(i, path, sizeof(path)) == 0)
		fs_deny(s, req, op, path, i->level, err);
	return -err;
}

/* Same, taking ns_lock for the path. */
int fs_need_level_locked(struct fs_session *s, fuse_req_t req, const struct fs_inode *i,
			 enum policy_level want, const char *op)
{
	int r;

	if (i->level >= want)
		return 0;
	fs_ns_rdlock(s);
	r = fs_need_level(s, req, i, want, op);
	fs_ns_unlock(s);
	return r;
}

bool fs_caller_in_group(fuse_req_t req, gid_t gid)
{
	gid_t groups[64];
	int n, k;

	if (fuse_req_ctx(req)->gid == gid)
		return true;
	n = fuse_req_getgroups(req, (int)ARRAY_SIZE(groups), groups);
	for (k = 0; k < n && k < (int)ARRAY_SIZE(groups); k++)
		if (groups[k] == gid)
			return true;
	return false;
}

/*
 * In daemon mode the daemon repeats the kernel's DAC check
 * (generic_permission(), fs/namei.c) on the attributes it shows, which
 * carry the level in their mode bits (without an audit log).  The kernel
 * has made it already wherever default_permissions is on (every mount
 * fencefs makes; fence-run sets it too), so this is a second line for a
 * mount made without it.  Root passes, except that executing needs some x
 * bit, as in the kernel.
 */
int fs_caller_may(struct fs_session *s, fuse_req_t req, const struct stat *st, int mask)
{
	const struct fuse_ctx *c = fuse_req_ctx(req);
	mode_t bits;

	if (!s->daemon_opens || !mask)
		return 0; /* the kernel checked the mode bits already */
	if (c->uid == 0) {
		if ((mask & X_OK) && !S_ISDIR(st->st_mode) && !(st->st_mode & 0111))
			return -EACCES;
		return 0;
	}
	if (c->uid == st->st_uid)
		bits = (st->st_mode >> 6) & 7;
	else if (fs_caller_in_group(req, st->st_gid))
		bits = (st->st_mode >> 3) & 7;
	else
		bits = st->st_mode & 7;
	return ((int)bits & mask) == mask ? 0 : -EACCES;
}

/* The level an access(2)-style MASK needs on I (docs/SPEC.md 1 rows). */
static enum policy_level level_for_mask(const struct fs_inode *i, int mask)
{
	if (mask & W_OK)
		return POLICY_WRITE;
	if (i->type == S_IFDIR)
		return POLICY_VIEW; /* listing and search: view is enough */
	if (mask & (R_OK | X_OK))
		return POLICY_READ; /* reading and executing are one row */
	return POLICY_VIEW;
}

/* Level, then (daemon mode) mode bits, for MASK on I.  Logs a refusal. */
int fs_check_access(struct fs_session *s, fuse_req_t req, struct fs_inode *i, int mask,
		    const char *op)
{
	struct stat st;
	char path[PATH_MAX];
	int r;

	fs_ns_rdlock(s);
	r = fs_need_level(s, req, i, level_for_mask(i, mask), op);
	/* Root passes mode bits except for exec: no stat needed then. */
	if (r == 0 && s->daemon_opens && (fuse_req_ctx(req)->uid != 0 || (mask & X_OK))) {
		r = fs_stat_inode(s, i, &st);
		if (r == 0)
			r = fs_caller_may(s, req, &st, mask);
		if (r == -EACCES && fs_inode_path(i, path, sizeof(path)) == 0)
			fs_deny(s, req, op, path, i->level, EACCES);
	}
	fs_ns_unlock(s);
	return r;
}

bool fs_is_whiteout(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0);
}

int fs_find(struct fs_session *s, struct fs_inode *dir, const char *name, struct fs_object *o)
{
	int fd;

	memset(o, 0, sizeof(*o));
	o->dirfd = -1;
	if (dir->has_upper) {
		fd = fs_upper(s, dir);
		if (fd < 0)
			return -errno;
		if (fstatat(fd, name, &o->st, AT_SYMLINK_NOFOLLOW) == 0) {
			if (fs_is_whiteout(&o->st)) {
				o->whiteout = true;
				return -ENOENT;
			}
			o->in_upper = true;
			o->dirfd = fd;
		} else if (errno != ENOENT) {
			return -errno;
		}
	}
	if (dir->has_src && !dir->opaque) {
		fd = fs_src(s, dir);
		if (fd < 0)
			return -errno;
		if (fstatat(fd, name, &o->src_st, AT_SYMLINK_NOFOLLOW) == 0) {
			o->in_source = true;
			if (!o->in_upper) {
				o->st = o->src_st;
				o->dirfd = fd;
			}
		} else if (errno != ENOENT) {
			return -errno;
		}
	}
	return o->in_upper || o->in_source ? 0 : -ENOENT;
}

bool fs_bad_name(const char *name)
{
	return !strcmp(name, ".") || !strcmp(name, "..") || strchr(name, '/');
}

/* The decision for NAME in DIR if it were (or is) of type IS_DIR.  ns_lock held. */
int fs_decide(struct fs_session *s, struct fs_inode *dir, const char *name, bool is_dir,
	      char *path, size_t len, struct policy_decision *dec)
{
	int r = fs_child_path(dir, name, path, len);

	if (r < 0)
		return r;
	return policy_resolve_child(s->policy, &dir->dec, path, is_dir, dec);
}

/*
 * The merged lookup proper, ns_lock held.  *out gets the inode with one
 * more kernel reference, or NULL for a hidden or missing name (a hidden
 * one is logged as a refused lookup); *attr its attributes as shown.
 */
int fs_lookup_node(struct fs_session *s, fuse_req_t req, struct fs_inode *dir,
		   const char *name, struct fs_inode **out, struct stat *attr)
{
	_cleanup_close_ int upper = -1;
	struct policy_decision dec;
	struct fs_object o;
	char path[PATH_MAX];
	struct stat st, key;
	bool is_dir, opaque = false, src_too;
	struct fs_inode *i;
	int r;

	*out = NULL;
	if (dir->type != S_IFDIR)
		return -ENOTDIR;
	if (strlen(name) > NAME_MAX)
		return -ENAMETOOLONG;
	if (fs_bad_name(name))
		return -ENOENT;
	if (s->daemon_opens && fuse_req_ctx(req)->uid != 0) {
		r = fs_stat_inode(s, dir, &st);
		if (r == 0)
			r = fs_caller_may(s, req, &st, X_OK);
		if (r < 0)
			return r;
	}
	r = fs_find(s, dir, name, &o);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	is_dir = S_ISDIR(o.st.st_mode);
	r = fs_decide(s, dir, name, is_dir, path, sizeof(path), &dec);
	if (r < 0)
		return r;
	if (dec.level == POLICY_NONE) {
		fs_deny(s, req, "lookup", path, POLICY_NONE, ENOENT);
		return 0;
	}
	/*
	 * A source-only object the table already holds needs no new O_PATH
	 * fd: its (dev, ino) names it, the inode's fd keeping it alive.  A
	 * READDIRPLUS of a known directory is then one fstatat per entry.
	 */
	if (!o.in_upper) {
		i = fs_inode_find(s, o.src_st.st_dev, o.src_st.st_ino, dec.level, dir, name);
		if (i) {
			st = o.src_st;
			goto found;
		}
	}
	/*
	 * No fd is opened for the new inode: its objects are known by
	 * identity, and fs_fds.c opens them when something needs them.  A
	 * delta directory is opened for its opaque mark, and that fd kept.
	 */
	if (o.in_upper && is_dir) {
		upper = fs_openat(s, o.dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0);
		if (upper < 0)
			return errno == ENOENT ? 0 : -errno;
		if (fstatat(upper, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
		if (st.st_ino != o.st.st_ino || st.st_dev != o.st.st_dev)
			return -EIO; /* changed under us */
		opaque = delta_is_opaque(s, upper);
	}
	st = o.st;
	/* The source object matters for a file not in upper, or a merged directory. */
	src_too = o.in_source && !opaque && (!o.in_upper || (is_dir && S_ISDIR(o.src_st.st_mode)));
	key = src_too ? o.src_st : o.st;
	i = fs_inode_find_or_add(s, key.st_dev, key.st_ino, st.st_mode & S_IFMT, &dec, dir, name,
				 src_too ? &o.src_st : NULL, o.in_upper ? &o.st : NULL,
				 TAKE_FD(upper), key.st_ino, opaque);
	if (!i)
		return -ENOMEM;
found:
	if (is_dir && dec.level < POLICY_WRITE && !i->write_beneath &&
	    policy_could_match_beneath(s->policy, path, POLICY_WRITE))
		i->write_beneath = true; /* same answer for every caller: the path is fixed */
	if (audit_wants_all(s->audit)) {
		char p[PATH_MAX + 2];

		path_with_slash(path, p, sizeof(p));
		fs_audit(s, req, "lookup", "lookup", p, NULL, NULL, 0);
	}
	*attr = st;
	fs_fill_attr(s, i, attr);
	*out = i;
	return 0;
}

void fs_fill_entry(struct fs_session *s, struct fs_inode *i, const struct stat *attr,
		   struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = i ? (fuse_ino_t)(uintptr_t)i : 0;
	if (attr)
		e->attr = *attr;
	if (i && attr)
		atomic_store(&i->atime_stale, false);
	e->attr_timeout = s->timeout;
	/*
	 * With an audit log a hidden or missing name is not cached: every
	 * attempt reaches the daemon and is logged (a second `cat .env` is
	 * a refusal too), the log's rate limit keeping floods in check.
	 */
	e->entry_timeout = !i && s->audit ? 0 : s->timeout;
}

int fs_do_lookup(struct fs_session *s, fuse_req_t req, struct fs_inode *dir, const char *name,
		 struct fuse_entry_param *e)
{
	struct fs_inode *i;
	struct stat attr;
	int r;

	fs_ns_rdlock(s);
	r = fs_lookup_node(s, req, dir, name, &i, &attr);
	fs_ns_unlock(s);
	if (r < 0)
		return r;
	fs_fill_entry(s, i, i ? &attr : NULL, e);
	return 0;
}

/* --- lifecycle ---------------------------------------------------------- */

static void fs_init(void *userdata, struct fuse_conn_info *conn)
{
	/* O_TRUNC must arrive as SETATTR(size), where copy-up happens. */
	conn->want &= ~FUSE_CAP_ATOMIC_O_TRUNC;
	/* Attributes come from this daemon only; the kernel must not cache writes. */
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
	conn->want &= ~FUSE_CAP_EXPORT_SUPPORT;
	if (conn->capable & FUSE_CAP_SPLICE_READ)
		conn->want |= FUSE_CAP_SPLICE_READ;
	if (conn->capable & FUSE_CAP_SPLICE_WRITE)
		conn->want |= FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE;
	/*
	 * Every READDIRPLUS, not only the first of a listing (no _AUTO): a
	 * listing refetched after fs_notify.c dropped it then refreshes the
	 * attributes of all its entries, not of its first buffer only.
	 */
	if (conn->capable & FUSE_CAP_READDIRPLUS) {
		conn->want |= FUSE_CAP_READDIRPLUS;
		conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
	}
	if (conn->capable & FUSE_CAP_CACHE_SYMLINKS)
		conn->want |= FUSE_CAP_CACHE_SYMLINKS;
}

static void fs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	int r = fs_do_lookup(S(req), req, fs_inode_get(S(req), parent), name, &e);

	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_entry(req, &e);
}

static void fs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	fs_inode_forget(S(req), fs_inode_get(S(req), ino), nlookup);
	fuse_reply_none(req);
}

static void fs_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	size_t k;

	for (k = 0; k < count; k++)
		fs_inode_forget(S(req), fs_inode_get(S(req), forgets[k].ino), forgets[k].nlookup);
	fuse_reply_none(req);
}

static void fs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_session *s = S(req);
	struct stat st;
	int r;

	fs_ns_rdlock(s);
	r = fs_stat_inode(s, fs_inode_get(s, ino), &st);
	fs_ns_unlock(s);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	atomic_store(&fs_inode_get(s, ino)->atime_stale, false);
	fuse_reply_attr(req, &st, s->timeout);
}

/* --- attributes --------------------------------------------------------- */

static int set_times(struct fs_session *s, struct fs_inode *i, const struct stat *attr,
		     int to_set)
{
	struct timespec ts[2];
	char p[32];
	int fd = fs_upper(s, i);

	ts[0] = (to_set & FUSE_SET_ATTR_ATIME_NOW) ? (struct timespec){ 0, UTIME_NOW } :
		(to_set & FUSE_SET_ATTR_ATIME)     ? attr->st_atim :
						     (struct timespec){ 0, UTIME_OMIT };
	ts[1] = (to_set & FUSE_SET_ATTR_MTIME_NOW) ? (struct timespec){ 0, UTIME_NOW } :
		(to_set & FUSE_SET_ATTR_MTIME)     ? attr->st_mtim :
						     (struct timespec){ 0, UTIME_OMIT };
	/* On the object itself (a symlink's other name may be something else by now). */
	if (fd < 0)
		return -errno;
	if (utimensat(fd, "", ts, AT_EMPTY_PATH) == 0)
		return 0;
	if (errno != EINVAL || i->type == S_IFLNK)
		return -errno;
	/* Kernels before AT_EMPTY_PATH support in utimensat(2). */
	if (utimensat(AT_FDCWD, delta_fd_path(fd, p, sizeof(p)), ts, 0) < 0)
		return -errno;
	return 0;
}

static int do_setattr(struct fs_session *s, fuse_req_t req, struct fs_inode *i,
		      const struct stat *attr, int to_set)
{
	char p[32];
	int r, fd;

	/*
	 * The Unix rules (owner for chmod, write permission for truncate,
	 * the kernel clearing set-ID bits on a write by another user, an
	 * ftruncate through the descriptor that created a mode-0 file) are
	 * the kernel's: with default_permissions it runs setattr_prepare()
	 * before sending SETATTR (fs/fuse/dir.c fuse_do_setattr()).  Only
	 * the level is the daemon's.
	 */
	r = fs_need_level_locked(s, req, i, POLICY_WRITE, "setattr");
	if (r < 0)
		return r;
	if (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID) && s->has_owner) {
		/* Everything is shown as owned by --owner: only that is "no change". */
		if (((to_set & FUSE_SET_ATTR_UID) && attr->st_uid != s->owner_uid) ||
		    ((to_set & FUSE_SET_ATTR_GID) && attr->st_gid != s->owner_gid))
			return -EPERM;
		to_set &= ~(FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID);
	}
	/* A truncating copy-up copies only what the new size keeps (O_TRUNC: nothing). */
	r = delta_copy_up_data(s, i, (to_set & FUSE_SET_ATTR_SIZE) ? attr->st_size : INT64_MAX);
	if (r < 0)
		return r;
	fs_ns_wrlock(s);
	r = delta_copy_up(s, i);
	if (r == 0 && (to_set & FUSE_SET_ATTR_MODE)) {
		if (i->type == S_IFLNK)
			r = -EOPNOTSUPP;
		else if ((fd = fs_upper(s, i)) < 0 ||
			 chmod(delta_fd_path(fd, p, sizeof(p)), attr->st_mode & 07777) < 0)
			r = -errno;
	}
	if (r == 0 && (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID))) {
		uid_t uid = (to_set & FUSE_SET_ATTR_UID) ? attr->st_uid : (uid_t)-1;
		gid_t gid = (to_set & FUSE_SET_ATTR_GID) ? attr->st_gid : (gid_t)-1;

		if ((fd = fs_upper(s, i)) < 0 ||
		    fchownat(fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
			r = -errno;
	}
	if (r == 0 && (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME |
				 FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME_NOW)))
		r = set_times(s, i, attr, to_set);
	fs_ns_unlock(s);
	if (r == 0 && (to_set & FUSE_SET_ATTR_SIZE)) {
		struct fs_charge c;

		if (i->type != S_IFREG)
			return i->type == S_IFDIR ? -EISDIR : -EINVAL;
		r = fs_data_fd(s, i, true, &fd);
		if (r < 0)
			return r;
		r = fs_charge_begin(s, i, fd, &c);
		if (r == 0)
			r = fs_charge_reserve(s, &c, (int64_t)attr->st_size - c.before);
		if (r == 0) {
			if (ftruncate(fd, attr->st_size) < 0)
				r = -errno;
			fs_charge_end(s, fd, &c);
		}
		pthread_rwlock_unlock(fs_io_lock(i));
	}
	if (r == 0) {
		char path[PATH_MAX];

		fs_ns_rdlock(s);
		if (fs_inode_path(i, path, sizeof(path)) == 0)
			fs_wrote(s, req, (to_set & FUSE_SET_ATTR_SIZE) ? "truncate" : "setattr",
				 path, NULL);
		fs_ns_unlock(s);
	}
	return r;
}

static void fs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	struct fs_session *s = S(req);
	struct fs_inode *i = fs_inode_get(s, ino);
	struct stat st;
	int r;

	/* CTIME alone (and the kernel's KILL_SUID bits) change nothing here. */
	to_set &= FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID | FUSE_SET_ATTR_SIZE |
		  FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_ATIME_NOW |
		  FUSE_SET_ATTR_MTIME_NOW;
	r = to_set ? do_setattr(s, req, i, attr, to_set) : 0;
	if (r == 0) {
		fs_ns_rdlock(s);
		r = fs_stat_inode(s, i, &st);
		fs_ns_unlock(s);
	}
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	atomic_store(&fs_inode_get(s, ino)->atime_stale, false);
	fuse_reply_attr(req, &st, s->timeout);
}

static void fs_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct fs_session *s = S(req);
	struct fs_inode *i = fs_inode_get(s, ino);
	char buf[PATH_MAX + 1];
	ssize_t n;

	fs_ns_rdlock(s);
	n = fs_object(s, i);
	if (n >= 0)
		n = readlinkat((int)n, "", buf, sizeof(buf) - 1);
	if (n < 0)
		n = -errno;
	fs_ns_unlock(s);
	if (n < 0) {
		fuse_reply_err(req, (int)-n);
		return;
	}
	buf[n] = '\0';
	fuse_reply_readlink(req, buf);
}

/*
 * No lseek handler: libfuse answers ENOSYS and the kernel then serves
 * SEEK_DATA/SEEK_HOLE itself for the connection (no_lseek), which saves a
 * round trip per seek (grep -r seeks on every larger file).
 * No flush, getlk/setlk or flock handlers: FLUSH then gets ENOSYS from
 * libfuse (the kernel stops sending it) and locks stay local to the
 * kernel, which is right for a mount with one kernel client.
 */
const struct fuse_lowlevel_ops fs_ops = {
	.init = fs_init,
	.lookup = fs_lookup,
	.forget = fs_forget,
	.forget_multi = fs_forget_multi,
	.getattr = fs_getattr,
	.setattr = fs_setattr,
	.readlink = fs_readlink,
	.mknod = fs_mknod,
	.mkdir = fs_mkdir,
	.unlink = fs_unlink,
	.rmdir = fs_rmdir,
	.symlink = fs_symlink,
	.rename = fs_rename,
	.link = fs_link,
	.open = fs_open,
	.access = fs_access,
	.read = fs_read,
	.write_buf = fs_write_buf,
	.release = fs_release,
	.fsync = fs_fsync,
	.opendir = fs_opendir,
	.readdir = fs_readdir,
	.readdirplus = fs_readdirplus,
	.releasedir = fs_releasedir,
	.fsyncdir = fs_fsyncdir,
	.statfs = fs_statfs,
	.setxattr = fs_setxattr,
	.getxattr = fs_getxattr,
	.listxattr = fs_listxattr,
	.removexattr = fs_removexattr,
	.create = fs_create,
	.fallocate = fs_fallocate,
	.copy_file_range = fs_copy_file_range,
};
