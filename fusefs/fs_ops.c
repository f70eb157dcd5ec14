// SPDX-License-Identifier: Apache-2.0
/*
 * fs_ops.c - the FUSE low-level handlers.  Each fs_<op>() is thin: it calls
 * a helper that returns 0 or -errno and replies exactly once.  Levels
 * (SPEC 1) are enforced here as the second line behind the kernel's
 * default_permissions check on the level-derived mode bits (root bypasses
 * mode bits, so the daemon must refuse on its own too).
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
#include "util.h"

/* The kernel's __FMODE_EXEC, set in OPEN flags for execve (include/linux/fs.h). */
#define FS_FMODE_EXEC 0x20

#define S(req) ((struct fs_session *)fuse_req_userdata(req))

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

bool fs_write_possible_beneath(const struct policy *p, const char *dirpath)
{
	size_t k, n = policy_rule_count(p), dlen = strlen(dirpath);

	for (k = 0; k < n; k++) {
		const struct policy_rule_info *ri = policy_rule(p, k);
		const char *pat = ri->pattern;
		size_t plen, lit;

		if (ri->level != POLICY_WRITE)
			continue;
		while (*pat == '/')
			pat++;
		plen = strlen(pat);
		while (plen && pat[plen - 1] == '/')
			plen--;
		/* No '/' inside: it matches a name at any depth (SPEC 2). */
		if (!memchr(pat, '/', plen) && pat == ri->pattern)
			return true;
		if (!dlen)
			return true;
		lit = strcspn(pat, "*?[{\\");
		if (lit > plen)
			lit = plen;
		/* Anchored: its literal prefix and DIRPATH must lie on one line. */
		if (lit > dlen ? !strncmp(pat, dirpath, dlen) && pat[dlen] == '/' :
				 !strncmp(pat, dirpath, lit))
			return true;
	}
	return false;
}

static int object_fd(const struct fs_inode *i)
{
	return i->upper_fd >= 0 ? i->upper_fd : i->src_fd;
}

static int stat_inode(struct fs_session *s, const struct fs_inode *i, struct stat *st)
{
	if (fstatat(object_fd(i), "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	fs_fill_attr(s, i, st);
	return 0;
}

void fs_fill_attr(struct fs_session *s, const struct fs_inode *i, struct stat *st)
{
	mode_t real = st->st_mode;

	st->st_mode = fs_level_mode(st->st_mode, i->level);
	/*
	 * Kernel mode: default_permissions needs w on a directory before the
	 * daemon ever sees a create or unlink in it, yet a name's own level
	 * decides (SPEC 1: agent-safe's /output/ can be made in the read
	 * root).  So a directory that may hold write names keeps its w bits;
	 * the daemon still refuses every name that is not write.
	 */
	if (i->write_beneath && !s->daemon_opens)
		st->st_mode |= real & 0222;
	st->st_ino = i->report_ino;
	/*
	 * A directory's link count is 2 + its subdirectories, hidden ones
	 * included: it would tell how many are hidden.  1 is what
	 * filesystems that do not count report (btrfs), and find(1) then
	 * makes no leaf assumption.
	 */
	if (S_ISDIR(st->st_mode))
		st->st_nlink = 1;
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
 * Second line of SPEC 1: I must be at least WANT.  Logs the refusal.
 * ns_lock held (the path is computed).
 */
static int need_level(struct fs_session *s, fuse_req_t req, const struct fs_inode *i,
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
static int need_level_locked(struct fs_session *s, fuse_req_t req, const struct fs_inode *i,
			     enum policy_level want, const char *op)
{
	int r;

	if (i->level >= want)
		return 0;
	pthread_rwlock_rdlock(&s->ns_lock);
	r = need_level(s, req, i, want, op);
	pthread_rwlock_unlock(&s->ns_lock);
	return r;
}

/*
 * In daemon mode (no default_permissions: see fs_mount.c) the daemon also
 * does the kernel's DAC check (generic_permission(), fs/namei.c) on the
 * attributes it shows, which carry the level in their mode bits.  Root
 * passes, except that executing needs some x bit, as in the kernel.
 */
static bool caller_in_group(fuse_req_t req, gid_t gid)
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

static int caller_may(struct fs_session *s, fuse_req_t req, const struct stat *st, int mask)
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
	else if (caller_in_group(req, st->st_gid))
		bits = (st->st_mode >> 3) & 7;
	else
		bits = st->st_mode & 7;
	return ((int)bits & mask) == mask ? 0 : -EACCES;
}

/* The level an access(2)-style MASK needs on I (SPEC 1 rows). */
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
static int check_access(struct fs_session *s, fuse_req_t req, struct fs_inode *i, int mask,
			const char *op)
{
	struct stat st;
	char path[PATH_MAX];
	int r;

	pthread_rwlock_rdlock(&s->ns_lock);
	r = need_level(s, req, i, level_for_mask(i, mask), op);
	/* Root passes mode bits except for exec: no stat needed then. */
	if (r == 0 && s->daemon_opens && (fuse_req_ctx(req)->uid != 0 || (mask & X_OK))) {
		r = stat_inode(s, i, &st);
		if (r == 0)
			r = caller_may(s, req, &st, mask);
		if (r == -EACCES && fs_inode_path(i, path, sizeof(path)) == 0)
			fs_deny(s, req, op, path, i->level, EACCES);
	}
	pthread_rwlock_unlock(&s->ns_lock);
	return r;
}

static bool is_whiteout_st(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0);
}

int fs_find(struct fs_session *s, struct fs_inode *dir, const char *name, struct fs_object *o)
{
	memset(o, 0, sizeof(*o));
	o->dirfd = -1;
	if (dir->upper_fd >= 0) {
		if (fstatat(dir->upper_fd, name, &o->st, AT_SYMLINK_NOFOLLOW) == 0) {
			if (is_whiteout_st(&o->st)) {
				o->whiteout = true;
				return -ENOENT;
			}
			o->in_upper = true;
			o->dirfd = dir->upper_fd;
		} else if (errno != ENOENT) {
			return -errno;
		}
	}
	if (dir->src_fd >= 0 && !dir->opaque) {
		if (fstatat(dir->src_fd, name, &o->src_st, AT_SYMLINK_NOFOLLOW) == 0) {
			o->in_source = true;
			if (!o->in_upper) {
				o->st = o->src_st;
				o->dirfd = dir->src_fd;
			}
		} else if (errno != ENOENT) {
			return -errno;
		}
	}
	return o->in_upper || o->in_source ? 0 : -ENOENT;
}

static bool bad_name(const char *name)
{
	return !strcmp(name, ".") || !strcmp(name, "..") || strchr(name, '/');
}

/* The decision for NAME in DIR if it were (or is) of type IS_DIR.  ns_lock held. */
static int decide(struct fs_session *s, struct fs_inode *dir, const char *name, bool is_dir,
		  char *path, size_t len, struct policy_decision *dec)
{
	int r = fs_child_path(dir, name, path, len);

	if (r < 0)
		return r;
	return policy_resolve_child(s->policy, &dir->dec, path, is_dir, dec);
}

/*
 * The merged lookup proper, ns_lock held.  *out gets the inode with one
 * more kernel reference, or NULL for a hidden or missing name (with
 * *hidden_level the level when something is there but hidden).
 */
static int lookup_node(struct fs_session *s, fuse_req_t req, struct fs_inode *dir,
		       const char *name, struct fs_inode **out, struct stat *attr)
{
	_cleanup_close_ int src = -1, upper = -1;
	struct policy_decision dec;
	struct fs_object o;
	char path[PATH_MAX];
	struct stat st, key;
	bool is_dir, opaque = false;
	struct fs_inode *i;
	int r;

	*out = NULL;
	if (dir->type != S_IFDIR)
		return -ENOTDIR;
	if (strlen(name) > NAME_MAX)
		return -ENAMETOOLONG;
	if (bad_name(name))
		return -ENOENT;
	if (s->daemon_opens && fuse_req_ctx(req)->uid != 0) {
		r = stat_inode(s, dir, &st);
		if (r == 0)
			r = caller_may(s, req, &st, X_OK);
		if (r < 0)
			return r;
	}
	r = fs_find(s, dir, name, &o);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	is_dir = S_ISDIR(o.st.st_mode);
	r = decide(s, dir, name, is_dir, path, sizeof(path), &dec);
	if (r < 0)
		return r;
	if (dec.level == POLICY_NONE) {
		fs_deny(s, req, "lookup", path, POLICY_NONE, ENOENT);
		return 0;
	}
	if (o.in_upper) {
		upper = openat(dir->upper_fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (upper < 0)
			return errno == ENOENT ? 0 : -errno;
		if (fstatat(upper, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
		if (is_dir)
			opaque = delta_is_opaque(s, upper);
	}
	/* The source object matters for a file not in upper, or a merged directory. */
	if (o.in_source && !opaque &&
	    (!o.in_upper || (is_dir && S_ISDIR(o.src_st.st_mode)))) {
		struct stat sst;

		src = openat(dir->src_fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (src < 0)
			return errno == ENOENT ? 0 : -errno;
		if (fstatat(src, "", &sst, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
		if (!o.in_upper)
			st = sst;
		key = sst;
	} else {
		key = st;
	}
	if ((st.st_mode & S_IFMT) != (o.st.st_mode & S_IFMT))
		return -EIO; /* changed under us */
	i = fs_inode_find_or_add(s, key.st_dev, key.st_ino, st.st_mode & S_IFMT, &dec, dir, name,
				 TAKE_FD(src), TAKE_FD(upper), key.st_ino, opaque,
				 !o.in_upper && !is_dir && key.st_nlink > 1);
	if (!i)
		return -ENOMEM;
	if (is_dir && dec.level < POLICY_WRITE && !i->write_beneath &&
	    fs_write_possible_beneath(s->policy, path))
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

static void fill_entry(struct fs_session *s, struct fs_inode *i, const struct stat *attr,
		       struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = i ? (fuse_ino_t)(uintptr_t)i : 0;
	if (attr)
		e->attr = *attr;
	e->attr_timeout = s->timeout;
	e->entry_timeout = s->timeout;
}

int fs_do_lookup(struct fs_session *s, fuse_req_t req, struct fs_inode *dir, const char *name,
		 struct fuse_entry_param *e)
{
	struct fs_inode *i;
	struct stat attr;
	int r;

	pthread_rwlock_rdlock(&s->ns_lock);
	r = lookup_node(s, req, dir, name, &i, &attr);
	pthread_rwlock_unlock(&s->ns_lock);
	if (r < 0)
		return r;
	fill_entry(s, i, i ? &attr : NULL, e);
	return 0;
}

/*
 * The data fd of regular file I, with io_lock held for reading (the caller
 * unlocks).  RW asks for a read-write fd on the delta copy (which must
 * exist).  Opened lazily and kept for the inode's life: READ and WRITE
 * come by node id, without a per-open handle (OPEN answers ENOSYS).
 */
static int data_fd(struct fs_inode *i, bool rw, int *fd)
{
	char p[32];

	if (i->type != S_IFREG)
		return -EINVAL;
	/*
	 * The fds are reopened through /proc/self/fd/N (the O_PATH fd's magic
	 * link), which names the very object looked up: no path is walked
	 * again, so O_NOFOLLOW is neither needed nor possible there.
	 */
	pthread_rwlock_rdlock(&i->io_lock);
	if (i->data_fd >= 0 && (!rw || i->data_rw)) {
		*fd = i->data_fd;
		return 0;
	}
	pthread_rwlock_unlock(&i->io_lock);
	pthread_rwlock_wrlock(&i->io_lock);
	if (i->data_fd < 0 || (rw && !i->data_rw)) {
		int nfd = -1;
		bool nrw = false;

		if (i->upper_fd >= 0) {
			nfd = open(delta_fd_path(i->upper_fd, p, sizeof(p)),
				   O_RDWR | O_CLOEXEC);
			nrw = nfd >= 0;
			if (nfd < 0 && !rw)
				nfd = open(p, O_RDONLY | O_CLOEXEC);
		} else if (!rw && i->src_fd >= 0) {
			/* The source is only ever opened read-only (SPEC 6). */
			nfd = open(delta_fd_path(i->src_fd, p, sizeof(p)),
				   O_RDONLY | O_CLOEXEC);
		} else {
			errno = EIO;
		}
		if (nfd < 0) {
			int r = -errno;

			pthread_rwlock_unlock(&i->io_lock);
			return r;
		}
		if (i->data_fd >= 0)
			(void)close(i->data_fd);
		i->data_fd = nfd;
		i->data_rw = nrw;
	}
	*fd = i->data_fd;
	/* Downgrade: holding the write lock for the I/O would serialise readers. */
	pthread_rwlock_unlock(&i->io_lock);
	return data_fd(i, rw, fd);
}

/* Copy-up of I when it has no delta copy yet (the data copied without ns_lock). */
static int ensure_upper(struct fs_session *s, struct fs_inode *i)
{
	return delta_copy_up_data(s, i, INT64_MAX);
}

/* The first change through an inode is logged once (SPEC 8 "write"). */
static void wrote_once(struct fs_session *s, fuse_req_t req, struct fs_inode *i, const char *op)
{
	char path[PATH_MAX];

	if (atomic_exchange(&i->audited_write, true))
		return;
	pthread_rwlock_rdlock(&s->ns_lock);
	if (fs_inode_path(i, path, sizeof(path)) == 0)
		fs_wrote(s, req, op, path, NULL);
	pthread_rwlock_unlock(&s->ns_lock);
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
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS | FUSE_CAP_READDIRPLUS_AUTO;
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

	pthread_rwlock_rdlock(&s->ns_lock);
	r = stat_inode(s, fs_inode_get(s, ino), &st);
	pthread_rwlock_unlock(&s->ns_lock);
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_attr(req, &st, s->timeout);
}

/* --- attributes --------------------------------------------------------- */

static int set_times(struct fs_inode *i, const struct stat *attr, int to_set)
{
	struct timespec ts[2];
	char p[32];

	ts[0] = (to_set & FUSE_SET_ATTR_ATIME_NOW) ? (struct timespec){ 0, UTIME_NOW } :
		(to_set & FUSE_SET_ATTR_ATIME)     ? attr->st_atim :
						     (struct timespec){ 0, UTIME_OMIT };
	ts[1] = (to_set & FUSE_SET_ATTR_MTIME_NOW) ? (struct timespec){ 0, UTIME_NOW } :
		(to_set & FUSE_SET_ATTR_MTIME)     ? attr->st_mtim :
						     (struct timespec){ 0, UTIME_OMIT };
	/* On the object itself (a symlink's other name may be something else by now). */
	if (utimensat(i->upper_fd, "", ts, AT_EMPTY_PATH) == 0)
		return 0;
	if (errno != EINVAL || i->type == S_IFLNK)
		return -errno;
	/* Kernels before AT_EMPTY_PATH support in utimensat(2). */
	if (utimensat(AT_FDCWD, delta_fd_path(i->upper_fd, p, sizeof(p)), ts, 0) < 0)
		return -errno;
	return 0;
}

/* Daemon mode, non-root caller: chmod(2)/chown(2)/utimensat(2)/truncate(2) rules. */
static int setattr_allowed(struct fs_session *s, fuse_req_t req, struct fs_inode *i,
			   const struct stat *attr, int to_set)
{
	const struct fuse_ctx *c = fuse_req_ctx(req);
	struct stat st;
	int r;

	pthread_rwlock_rdlock(&s->ns_lock);
	r = stat_inode(s, i, &st);
	pthread_rwlock_unlock(&s->ns_lock);
	if (r < 0)
		return r;
	if ((to_set & FUSE_SET_ATTR_UID) && attr->st_uid != st.st_uid)
		return -EPERM;
	if ((to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID |
		       FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME)) &&
	    !(to_set & (FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME_NOW)) && c->uid != st.st_uid)
		return -EPERM;
	if ((to_set & FUSE_SET_ATTR_GID) && !caller_in_group(req, attr->st_gid))
		return -EPERM;
	if ((to_set & (FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME_NOW)) && c->uid != st.st_uid)
		return caller_may(s, req, &st, W_OK);
	if (to_set & FUSE_SET_ATTR_SIZE)
		return caller_may(s, req, &st, W_OK);
	return 0;
}

static int do_setattr(struct fs_session *s, fuse_req_t req, struct fs_inode *i,
		      const struct stat *attr, int to_set)
{
	char p[32];
	int r, fd;

	r = need_level_locked(s, req, i, POLICY_WRITE, "setattr");
	if (r == 0 && s->daemon_opens && fuse_req_ctx(req)->uid != 0)
		r = setattr_allowed(s, req, i, attr, to_set);
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
	pthread_rwlock_wrlock(&s->ns_lock);
	r = delta_copy_up(s, i);
	if (r == 0 && (to_set & FUSE_SET_ATTR_MODE)) {
		if (i->type == S_IFLNK)
			r = -EOPNOTSUPP;
		else if (chmod(delta_fd_path(i->upper_fd, p, sizeof(p)), attr->st_mode & 07777) < 0)
			r = -errno;
	}
	if (r == 0 && (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID))) {
		uid_t uid = (to_set & FUSE_SET_ATTR_UID) ? attr->st_uid : (uid_t)-1;
		gid_t gid = (to_set & FUSE_SET_ATTR_GID) ? attr->st_gid : (gid_t)-1;

		if (fchownat(i->upper_fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
			r = -errno;
	}
	if (r == 0 && (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME |
				 FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME_NOW)))
		r = set_times(i, attr, to_set);
	pthread_rwlock_unlock(&s->ns_lock);
	if (r == 0 && (to_set & FUSE_SET_ATTR_SIZE)) {
		struct stat cur;

		if (i->type != S_IFREG)
			return i->type == S_IFDIR ? -EISDIR : -EINVAL;
		r = data_fd(i, true, &fd);
		if (r < 0)
			return r;
		if (fstat(fd, &cur) < 0) {
			r = -errno;
		} else {
			int64_t grow = (int64_t)attr->st_size - cur.st_size;

			r = delta_charge(s, grow);
			if (r == 0 && ftruncate(fd, attr->st_size) < 0) {
				r = -errno;
				delta_uncharge(s, grow);
			}
			if (r == 0 && grow < 0)
				delta_uncharge(s, -grow);
		}
		pthread_rwlock_unlock(&i->io_lock);
	}
	if (r == 0) {
		char path[PATH_MAX];

		pthread_rwlock_rdlock(&s->ns_lock);
		if (fs_inode_path(i, path, sizeof(path)) == 0)
			fs_wrote(s, req, (to_set & FUSE_SET_ATTR_SIZE) ? "truncate" : "setattr",
				 path, NULL);
		pthread_rwlock_unlock(&s->ns_lock);
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
		pthread_rwlock_rdlock(&s->ns_lock);
		r = stat_inode(s, i, &st);
		pthread_rwlock_unlock(&s->ns_lock);
	}
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_attr(req, &st, s->timeout);
}

static void fs_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct fs_session *s = S(req);
	struct fs_inode *i = fs_inode_get(s, ino);
	char buf[PATH_MAX + 1];
	ssize_t n;

	pthread_rwlock_rdlock(&s->ns_lock);
	n = readlinkat(object_fd(i), "", buf, sizeof(buf) - 1);
	if (n < 0)
		n = -errno;
	pthread_rwlock_unlock(&s->ns_lock);
	if (n < 0) {
		fuse_reply_err(req, (int)-n);
		return;
	}
	buf[n] = '\0';
	fuse_reply_readlink(req, buf);
}

/* --- creating names ----------------------------------------------------- */

/*
 * Common checks before creating NAME in DIR (ns_lock held for writing):
 * the level of the new name must be write (EACCES otherwise, even for a
 * hidden name, so the answer leaks nothing), the name must be free, the
 * budget not spent; then the parent chain is copied up and a whiteout on
 * the name removed (*was_whiteout: the source had the name).
 */
static int prepare_create(struct fs_session *s, fuse_req_t req, struct fs_inode *dir,
			  const char *name, bool is_dir, const char *op,
			  struct policy_decision *dec, bool *was_whiteout)
{
	char path[PATH_MAX];
	struct fs_object o;
	int r;

	*was_whiteout = false;
	if (dir->type != S_IFDIR)
		return -ENOTDIR;
	if (strlen(name) > NAME_MAX)
		return -ENAMETOOLONG;
	if (bad_name(name))
		return -EEXIST;
	r = decide(s, dir, name, is_dir, path, sizeof(path), dec);
	if (r < 0)
		return r;
	/* The new name's own level decides, not its parent's (SPEC 1). */
	if (dec->level < POLICY_WRITE) {
		fs_deny(s, req, op, path, dec->level, EACCES);
		return -EACCES;
	}
	r = fs_find(s, dir, name, &o);
	if (r == 0)
		return -EEXIST;
	if (r != -ENOENT)
		return r;
	if (s->max_delta && atomic_load(&s->delta_bytes) >= (int64_t)s->max_delta)
		return -ENOSPC;
	r = delta_ensure_dir(s, dir);
	if (r < 0)
		return r;
	return delta_clear_whiteout(s, dir->upper_fd, name, was_whiteout);
}

/* Makes the inode for a name just created in DIR's upper directory. */
static int new_node(struct fs_session *s, struct fs_inode *dir, const char *name,
		    const struct policy_decision *dec, struct fs_inode **out, struct stat *attr)
{
	int fd = openat(dir->upper_fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	struct fs_inode *i;

	if (fd < 0)
		return -errno;
	if (fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) {
		int r = -errno;

		(void)close(fd);
		return r;
	}
	i = fs_inode_find_or_add(s, st.st_dev, st.st_ino, st.st_mode & S_IFMT, dec, dir, name, -1,
				 fd, st.st_ino, false, false);
	if (!i)
		return -ENOMEM;
	*attr = st;
	fs_fill_attr(s, i, attr);
	*out = i;
	fs_dir_invalidate(dir);
	return 0;
}

/* Puts a whiteout back after a failed create over a deleted source name. */
static void restore_whiteout(struct fs_session *s, struct fs_inode *dir, const char *name,
			     bool was_whiteout)
{
	if (was_whiteout)
		(void)delta_make_whiteout(s, dir->upper_fd, name);
}

/*
 * What a caller creates is the caller's, as on any filesystem: a root
 * daemon serving several users (allow_other) hands new objects to their
 * creator.  With --owner everything is shown as one user's anyway, and a
 * daemon that is not root owns what it makes.  The group follows a setgid
 * parent, as mkdir(2)/open(2) do.
 */
static int give_to_caller(struct fs_session *s, fuse_req_t req, struct fs_inode *dir,
			  const char *name)
{
	const struct fuse_ctx *c = fuse_req_ctx(req);
	struct stat pst;
	gid_t gid = c->gid;

	if (s->has_owner || geteuid() != 0)
		return 0;
	if (fstatat(dir->upper_fd, "", &pst, AT_EMPTY_PATH) == 0 && (pst.st_mode & S_ISGID))
		gid = (gid_t)-1;
	if (fchownat(dir->upper_fd, name, c->uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	return 0;
}

enum make_kind { MAKE_FILE, MAKE_DIR, MAKE_NODE, MAKE_SYMLINK };

struct make_args {
	enum make_kind kind;
	mode_t mode;
	const char *target; /* symlink */
	int *fd_out;        /* MAKE_FILE: the open read-write fd */
};

static int do_make(struct fs_session *s, fuse_req_t req, struct fs_inode *dir, const char *name,
		   const struct make_args *a, const char *op, struct fuse_entry_param *e)
{
	struct policy_decision dec;
	struct fs_inode *i = NULL;
	struct stat attr;
	bool was_whiteout;
	char path[PATH_MAX];
	int64_t cost, dsize;
	int r, fd = -1;

	pthread_rwlock_wrlock(&s->ns_lock);
	r = prepare_create(s, req, dir, name, a->kind == MAKE_DIR, op, &dec, &was_whiteout);
	if (r < 0)
		goto out_unlock;
	/* Metadata costs disk too: charge it before making it. */
	cost = a->kind == MAKE_DIR ? DELTA_DIR_COST :
	       a->kind == MAKE_SYMLINK ? (int64_t)strlen(a->target) : 0;
	r = delta_charge(s, cost);
	if (r < 0) {
		restore_whiteout(s, dir, name, was_whiteout);
		goto out_unlock;
	}
	dsize = delta_dir_size(dir->upper_fd);
	switch (a->kind) {
	case MAKE_FILE:
		fd = openat(dir->upper_fd, name, O_CREAT | O_EXCL | O_RDWR | O_NOFOLLOW | O_CLOEXEC,
			    a->mode & 07777);
		r = fd < 0 ? -errno : 0;
		break;
	case MAKE_DIR:
		r = mkdirat(dir->upper_fd, name, a->mode & 07777) < 0 ? -errno : 0;
		break;
	case MAKE_NODE:
		r = mknodat(dir->upper_fd, name, a->mode, 0) < 0 ? -errno : 0;
		break;
	case MAKE_SYMLINK:
		r = symlinkat(a->target, dir->upper_fd, name) < 0 ? -errno : 0;
		break;
	}
	if (r < 0) {
		delta_uncharge(s, cost);
		restore_whiteout(s, dir, name, was_whiteout);
		goto out_unlock;
	}
	delta_charge_anyway(s, delta_dir_size(dir->upper_fd) - dsize);
	r = give_to_caller(s, req, dir, name);
	if (r < 0) {
		(void)unlinkat(dir->upper_fd, name, a->kind == MAKE_DIR ? AT_REMOVEDIR : 0);
		delta_uncharge(s, cost);
		restore_whiteout(s, dir, name, was_whiteout);
		goto out_unlock;
	}
	r = new_node(s, dir, name, &dec, &i, &attr);
	if (r == 0 && a->kind == MAKE_DIR && was_whiteout) {
		/* rmdir of a source directory then mkdir: the new one hides the old. */
		r = delta_set_opaque(s, i->upper_fd);
		i->opaque = r == 0;
	}
	if (r < 0) {
		if (i)
			fs_inode_forget(s, i, 1);
		goto out_unlock;
	}
	if (a->kind == MAKE_FILE) {
		pthread_rwlock_wrlock(&i->io_lock);
		if (i->data_fd < 0) {
			i->data_fd = TAKE_FD(fd);
			i->data_rw = true;
		}
		pthread_rwlock_unlock(&i->io_lock);
	}
	if (fs_child_path(dir, name, path, sizeof(path)) == 0)
		fs_wrote(s, req, op, path, NULL);
	fill_entry(s, i, &attr, e);

out_unlock:
	pthread_rwlock_unlock(&s->ns_lock);
	if (fd >= 0)
		(void)close(fd);
	return r;
}

static void reply_make(fuse_req_t req, fuse_ino_t parent, const char *name,
		       const struct make_args *a, const char *op)
{
	struct fuse_entry_param e;
	int r = do_make(S(req), req, fs_inode_get(S(req), parent), name, a, op, &e);

	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_entry(req, &e);
}

static void fs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	struct make_args a = { .kind = MAKE_NODE, .mode = mode };

	if (S_ISREG(mode)) {
		a.kind = MAKE_FILE;
	} else if (!S_ISFIFO(mode) && !S_ISSOCK(mode)) {
		/* No device nodes, ever (SPEC 1). */
		struct fs_session *s = S(req);
		struct policy_decision dec;
		char path[PATH_MAX];

		pthread_rwlock_rdlock(&s->ns_lock);
		if (decide(s, fs_inode_get(s, parent), name, false, path, sizeof(path), &dec) == 0)
			fs_deny(s, req, "mknod", path, dec.level, EPERM);
		pthread_rwlock_unlock(&s->ns_lock);
		fuse_reply_err(req, EPERM);
		return;
	}
	reply_make(req, parent, name, &a, "mknod");
}

static void fs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct make_args a = { .kind = MAKE_DIR, .mode = mode };

	reply_make(req, parent, name, &a, "mkdir");
}

static void fs_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	struct make_args a = { .kind = MAKE_SYMLINK, .target = link };

	reply_make(req, parent, name, &a, "symlink");
}

static void fs_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	struct make_args a = { .kind = MAKE_FILE, .mode = mode };
	struct fuse_entry_param e;
	int r = do_make(S(req), req, fs_inode_get(S(req), parent), name, &a, "create", &e);

	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	fi->fh = 0;
	fi->keep_cache = 1;
	fi->noflush = 1;
	fuse_reply_create(req, &e, fi);
}

static int do_link(struct fs_session *s, fuse_req_t req, struct fs_inode *i,
		   struct fs_inode *dir, const char *name, struct fuse_entry_param *e)
{
	struct policy_decision dec;
	struct fs_inode *ni = NULL;
	struct stat attr;
	bool was_whiteout;
	char path[PATH_MAX], opath[PATH_MAX], p[32];
	int r;

	pthread_rwlock_wrlock(&s->ns_lock);
	/*
	 * The linked file must itself be writable: its delta copy is shared
	 * by both names, so a link from a read or view file into a write
	 * directory would let the sandbox change (or read) what the rules
	 * protect.
	 */
	r = need_level(s, req, i, POLICY_WRITE, "link");
	if (r == 0 && i->type == S_IFDIR)
		r = -EPERM;
	if (r == 0)
		r = prepare_create(s, req, dir, name, false, "link", &dec, &was_whiteout);
	if (r < 0)
		goto out_unlock;
	r = delta_copy_up(s, i);
	if (r == 0) {
		/*
		 * Link the object itself, not a name that may mean something
		 * else by now.  AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH
		 * (linkat(2)); without it, the /proc magic link does for
		 * files, and a symlink goes by its recorded name.
		 */
		r = linkat(i->upper_fd, "", dir->upper_fd, name, AT_EMPTY_PATH);
		if (r < 0 && errno == ENOENT && i->type == S_IFLNK)
			r = linkat(i->parent->upper_fd, i->name, dir->upper_fd, name, 0);
		else if (r < 0 && errno == ENOENT)
			r = linkat(AT_FDCWD, delta_fd_path(i->upper_fd, p, sizeof(p)),
				   dir->upper_fd, name, AT_SYMLINK_FOLLOW);
		r = r < 0 ? -errno : 0;
	}
	if (r < 0) {
		restore_whiteout(s, dir, name, was_whiteout);
		goto out_unlock;
	}
	r = new_node(s, dir, name, &dec, &ni, &attr);
	if (r < 0)
		goto out_unlock;
	if (fs_inode_path(i, opath, sizeof(opath)) == 0 &&
	    fs_child_path(dir, name, path, sizeof(path)) == 0)
		fs_wrote(s, req, "link", opath, path);
	fill_entry(s, ni, &attr, e);
out_unlock:
	pthread_rwlock_unlock(&s->ns_lock);
	return r;
}

static void fs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	struct fuse_entry_param e;
	int r = do_link(S(req), req, fs_inode_get(S(req), ino), fs_inode_get(S(req), newparent),
			newname, &e);

	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_entry(req, &e);
}

/* --- removing and renaming names ---------------------------------------- */

/*
 * Checks that NAME in DIR may be removed or renamed away: it exists and is
 * visible (ENOENT), and its level is write (EACCES).  Fills o and dec.
 */
static int check_removable(struct fs_session *s, fuse_req_t req, struct fs_inode *dir,
			   const char *name, const char *op, struct fs_object *o,
			   struct policy_decision *dec, char *path, size_t len)
{
	int r;

	if (dir->type != S_IFDIR)
		return -ENOTDIR;
	if (bad_name(name))
		return -EINVAL;
	r = fs_find(s, dir, name, o);
	if (r < 0)
		return r;
	r = decide(s, dir, name, S_ISDIR(o->st.st_mode), path, len, dec);
	if (r < 0)
		return r;
	if (dec->level < POLICY_WRITE) {
		int err = dec->level == POLICY_NONE ? ENOENT : EACCES;

		fs_deny(s, req, op, path, dec->level, err);
		return -err;
	}
	return 0;
}

/* A stand-in inode for a directory that is not in the table (for counting). */
static int open_dir_view(struct fs_session *s, struct fs_inode *dir, const char *name,
			 const struct fs_object *o, struct fs_inode *tmp)
{
	memset(tmp, 0, sizeof(*tmp));
	tmp->type = S_IFDIR;
	tmp->src_fd = tmp->upper_fd = tmp->data_fd = -1;
	if (o->in_upper) {
		tmp->upper_fd = openat(dir->upper_fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW |
								    O_CLOEXEC);
		if (tmp->upper_fd < 0)
			return -errno;
		tmp->opaque = delta_is_opaque(s, tmp->upper_fd);
	}
	if (o->in_source && !tmp->opaque && S_ISDIR(o->src_st.st_mode)) {
		tmp->src_fd = openat(dir->src_fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW |
								O_CLOEXEC);
		if (tmp->src_fd < 0)
			return -errno;
	}
	return 0;
}

static void close_dir_view(struct fs_inode *tmp)
{
	if (tmp->upper_fd >= 0)
		(void)close(tmp->upper_fd);
	if (tmp->src_fd >= 0)
		(void)close(tmp->src_fd);
}

/* ENOTEMPTY unless the merged directory, hidden entries included, is empty. */
static int check_empty(struct fs_session *s, struct fs_inode *dir, const char *name,
		       const struct fs_object *o)
{
	struct fs_inode tmp;
	size_t n = 0;
	int r = open_dir_view(s, dir, name, o, &tmp);

	if (r == 0)
		r = fs_dir_count(s, &tmp, &n);
	close_dir_view(&tmp);
	if (r < 0)
		return r;
	return n ? -ENOTEMPTY : 0;
}

/* Removes the whiteouts an otherwise empty upper directory still holds. */
static int clear_upper_dir(int parent, const char *name)
{
	_cleanup_close_ int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
							      O_CLOEXEC);
	struct dirent *de;
	DIR *d;
	int r = 0;

	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d)
		return -errno;
	fd = -1;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
		    unlinkat(dirfd(d), de->d_name, 0) < 0 && r == 0)
			r = -errno;
	(void)closedir(d);
	return r;
}

static int do_remove(struct fs_session *s, fuse_req_t req, struct fs_inode *dir, const char *name,
		     bool rmdir_op)
{
	const char *op = rmdir_op ? "rmdir" : "unlink";
	struct policy_decision dec;
	struct fs_object o;
	char path[PATH_MAX];
	int r;

	pthread_rwlock_wrlock(&s->ns_lock);
	r = check_removable(s, req, dir, name, op, &o, &dec, path, sizeof(path));
	if (r < 0)
		goto out_unlock;
	if (rmdir_op && !S_ISDIR(o.st.st_mode))
		r = -ENOTDIR;
	else if (!rmdir_op && S_ISDIR(o.st.st_mode))
		r = -EISDIR;
	else if (rmdir_op)
		r = check_empty(s, dir, name, &o);
	if (r < 0)
		goto out_unlock;
	if (o.in_upper) {
		if (rmdir_op)
			r = clear_upper_dir(dir->upper_fd, name);
		if (r == 0 && unlinkat(dir->upper_fd, name, rmdir_op ? AT_REMOVEDIR : 0) < 0)
			r = -errno;
		if (r == 0 && (o.st.st_nlink == 1 || S_ISDIR(o.st.st_mode)))
			delta_uncharge(s, o.st.st_size);
	}
	if (r == 0 && o.in_source) {
		r = delta_ensure_dir(s, dir);
		if (r == 0)
			r = delta_make_whiteout(s, dir->upper_fd, name);
	}
	if (r < 0)
		goto out_unlock;
	fs_dir_invalidate(dir);
	fs_wrote(s, req, op, path, NULL);
out_unlock:
	pthread_rwlock_unlock(&s->ns_lock);
	return r;
}

static void fs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, -do_remove(S(req), req, fs_inode_get(S(req), parent), name, false));
}

static void fs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, -do_remove(S(req), req, fs_inode_get(S(req), parent), name, true));
}

/*
 * A delta-only directory may move only if everything beneath it is
 * writable at the new place: its rules travel with the path, not the
 * files (EXDEV makes mv copy file by file, each under its own rule).
 */
static int check_tree_writable(struct fs_session *s, int fd, char *path, size_t len)
{
	_cleanup_close_ int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	size_t base = strlen(path);
	struct dirent *de;
	DIR *d;
	int r = 0;

	if (dfd < 0)
		return -errno;
	d = fdopendir(dfd);
	if (!d)
		return -errno;
	dfd = -1;
	while (r == 0 && (de = readdir(d))) {
		struct policy_decision dec;
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			r = -errno;
			break;
		}
		if (is_whiteout_st(&st))
			continue;
		if (base + 1 + strlen(de->d_name) + 1 > len) {
			r = -ENAMETOOLONG;
			break;
		}
		snprintf(path + base, len - base, "/%s", de->d_name);
		r = policy_resolve(s->policy, path, S_ISDIR(st.st_mode), &dec);
		if (r == 0 && dec.level < POLICY_WRITE)
			r = -EXDEV;
		if (r == 0 && S_ISDIR(st.st_mode)) {
			_cleanup_close_ int sub = openat(dirfd(d), de->d_name,
							 O_PATH | O_DIRECTORY | O_NOFOLLOW |
								 O_CLOEXEC);

			r = sub < 0 ? -errno : check_tree_writable(s, sub, path, len);
		}
		path[base] = '\0';
	}
	(void)closedir(d);
	return r;
}

struct redecide_ctx {
	struct fs_session *s;
	struct fs_inode *moved;
};

static bool is_beneath(const struct fs_inode *i, const struct fs_inode *anc)
{
	for (i = i->parent; i; i = i->parent)
		if (i == anc)
			return true;
	return false;
}

/* After a directory moved: the decisions cached beneath it follow the new paths. */
static void redecide(struct fs_inode *i, void *arg)
{
	struct redecide_ctx *c = arg;
	char path[PATH_MAX];
	struct policy_decision dec;

	if (!is_beneath(i, c->moved) || fs_inode_path(i, path, sizeof(path)) < 0)
		return;
	if (policy_resolve(c->s->policy, path, i->type == S_IFDIR, &dec) == 0 &&
	    dec.level == i->level)
		i->dec = dec;
}

static int do_rename(struct fs_session *s, fuse_req_t req, struct fs_inode *dir,
		     const char *name, struct fs_inode *ndir, const char *newname,
		     unsigned int flags)
{
	struct policy_decision dec, ndec;
	struct fs_object o, no;
	char path[PATH_MAX], npath[PATH_MAX];
	struct fs_inode *i = NULL;
	struct stat attr;
	bool is_dir, exists, was_whiteout;
	char *nname = NULL;
	int r;

	/* RENAME_WHITEOUT would make a device node (SPEC 1: EPERM). */
	if (flags & RENAME_WHITEOUT)
		return -EPERM;
	if (flags & ~RENAME_NOREPLACE)
		return -EINVAL; /* RENAME_EXCHANGE is not offered */
	if (strlen(newname) > NAME_MAX)
		return -ENAMETOOLONG;
	pthread_rwlock_wrlock(&s->ns_lock);
	r = check_removable(s, req, dir, name, "rename", &o, &dec, path, sizeof(path));
	if (r < 0)
		goto out_unlock;
	is_dir = S_ISDIR(o.st.st_mode);
	r = decide(s, ndir, newname, is_dir, npath, sizeof(npath), &ndec);
	if (r == 0 && ndec.level < POLICY_WRITE) {
		fs_deny(s, req, "rename", npath, ndec.level, EACCES);
		r = -EACCES;
	}
	if (r < 0 || bad_name(newname))
		goto out_unlock_einval;
	r = fs_find(s, ndir, newname, &no);
	exists = r == 0;
	if (r < 0 && r != -ENOENT)
		goto out_unlock;
	r = 0;
	if (dir == ndir && !strcmp(name, newname))
		goto out_unlock;
	if (exists && (flags & RENAME_NOREPLACE))
		r = -EEXIST;
	else if (exists && is_dir && !S_ISDIR(no.st.st_mode))
		r = -ENOTDIR;
	else if (exists && !is_dir && S_ISDIR(no.st.st_mode))
		r = -EISDIR;
	else if (exists && is_dir)
		r = check_empty(s, ndir, newname, &no);
	if (r < 0)
		goto out_unlock;
	if (is_dir) {
		_cleanup_close_ int fd = o.in_upper ? openat(dir->upper_fd, name,
							     O_PATH | O_DIRECTORY | O_NOFOLLOW |
								     O_CLOEXEC) : -1;
		char walk[PATH_MAX];

		/*
		 * As overlayfs without redirect_dir: a directory that merges
		 * a source directory does not move.  One made in the delta
		 * over a deleted source name (opaque, or where the source had
		 * a file) holds only delta content and may.
		 */
		if (o.in_source && S_ISDIR(o.src_st.st_mode) &&
		    !(fd >= 0 && delta_is_opaque(s, fd))) {
			r = -EXDEV;
			goto out_unlock;
		}
		snprintf(walk, sizeof(walk), "%s", npath);
		r = fd < 0 ? -errno : check_tree_writable(s, fd, walk, sizeof(walk));
		if (r < 0)
			goto out_unlock;
	}
	r = lookup_node(s, req, dir, name, &i, &attr);
	if (r == 0 && !i)
		r = -ENOENT;
	if (r == 0)
		r = delta_copy_up(s, i);
	if (r == 0)
		r = delta_ensure_dir(s, ndir);
	if (r == 0)
		r = delta_clear_whiteout(s, ndir->upper_fd, newname, &was_whiteout);
	if (r == 0 && exists && no.in_upper && is_dir)
		r = clear_upper_dir(ndir->upper_fd, newname);
	if (r == -EEXIST)
		r = 0; /* a real entry in upper: the rename replaces it */
	if (r < 0)
		goto out_forget;
	if (exists && no.in_upper && S_ISREG(no.st.st_mode) && no.st.st_nlink == 1)
		delta_uncharge(s, no.st.st_size);
	if (renameat(dir->upper_fd, name, ndir->upper_fd, newname) < 0) {
		r = -errno;
		restore_whiteout(s, ndir, newname, was_whiteout);
		goto out_forget;
	}
	/* A directory landing where the source has the name must hide it. */
	if (is_dir && (no.in_source || was_whiteout))
		(void)delta_set_opaque(s, i->upper_fd);
	if (o.in_source)
		r = delta_make_whiteout(s, dir->upper_fd, name);
	nname = strdup(newname);
	if (nname) {
		pthread_mutex_lock(&s->table_lock);
		i->parent->refs--;
		ndir->refs++;
		i->parent = ndir;
		pthread_mutex_unlock(&s->table_lock);
		free(i->name);
		i->name = nname;
		i->dec = ndec;
		if (is_dir) {
			struct redecide_ctx c = { s, i };

			i->opaque = i->opaque || no.in_source || was_whiteout;
			fs_inode_foreach(s, redecide, &c);
		}
	}
	fs_dir_invalidate(dir);
	fs_dir_invalidate(ndir);
	fs_wrote(s, req, "rename", path, npath);
out_forget:
	if (i)
		fs_inode_forget(s, i, 1);
out_unlock:
	pthread_rwlock_unlock(&s->ns_lock);
	return r;
out_unlock_einval:
	if (r == 0)
		r = -EINVAL;
	goto out_unlock;
}

static void fs_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		      const char *newname, unsigned int flags)
{
	fuse_reply_err(req, -do_rename(S(req), req, fs_inode_get(S(req), parent), name,
				       fs_inode_get(S(req), newparent), newname, flags));
}

/* --- file data ---------------------------------------------------------- */

static void fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
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
	r = check_access(s, req, i, mask, exec ? "exec" : "open");
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	if (s->audit && (exec || audit_wants_all(s->audit))) {
		pthread_rwlock_rdlock(&s->ns_lock);
		r = fs_inode_path(i, path + 1, sizeof(path) - 1);
		pthread_rwlock_unlock(&s->ns_lock);
		if (r == 0)
			fs_audit(s, req, exec ? "exec" : "read", "open", path, NULL, NULL, 0);
	}
	fi->fh = 0;
	fi->keep_cache = 1;
	fi->noflush = 1;
	fuse_reply_open(req, fi);
}

static void fs_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	struct fs_session *s = S(req);

	fuse_reply_err(req, -check_access(s, req, fs_inode_get(s, ino), mask, "access"));
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
	r = check_access(s, req, fs_inode_get(s, ino), R_OK, "opendir");
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	fi->fh = 0;
	fi->cache_readdir = 1;
	fi->keep_cache = 1;
	fuse_reply_open(req, fi);
}

static void fs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fuse_reply_err(req, 0);
}

static void fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct fs_session *s = S(req);
	struct fs_inode *i = fs_inode_get(s, ino);
	struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);
	int r, fd;

	r = need_level_locked(s, req, i, POLICY_READ, "read");
	if (r == 0)
		r = data_fd(i, false, &fd);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	buf.buf[0].fd = fd;
	buf.buf[0].pos = off;
	fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
	pthread_rwlock_unlock(&i->io_lock);
}

/* Charges the budget for writing LEN bytes at OFF into fd (growth only). */
static int charge_growth(struct fs_session *s, int fd, off_t off, size_t len, int64_t *charged)
{
	struct stat st;
	int64_t grow;

	*charged = 0;
	if (fstat(fd, &st) < 0)
		return -errno;
	grow = (int64_t)off + (int64_t)len - st.st_size;
	if (grow <= 0)
		return 0;
	*charged = grow;
	return delta_charge(s, grow);
}

/* Write access for a data change: level, copy-up, then the read-write fd. */
static int writable_fd(struct fs_session *s, fuse_req_t req, struct fs_inode *i, const char *op,
		       int *fd)
{
	int r = need_level_locked(s, req, i, POLICY_WRITE, op);

	if (r == 0 && i->upper_fd < 0)
		r = ensure_upper(s, i);
	if (r == 0)
		r = data_fd(i, true, fd);
	return r;
}

static void fs_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *in, off_t off,
			 struct fuse_file_info *fi)
{
	struct fs_session *s = S(req);
	struct fs_inode *i = fs_inode_get(s, ino);
	size_t len = fuse_buf_size(in);
	struct fuse_bufvec out = FUSE_BUFVEC_INIT(len);
	int64_t charged;
	ssize_t n;
	int r, fd;

	r = writable_fd(s, req, i, "write", &fd);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	r = charge_growth(s, fd, off, len, &charged);
	if (r < 0) {
		pthread_rwlock_unlock(&i->io_lock);
		fuse_reply_err(req, -r);
		return;
	}
	out.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	out.buf[0].fd = fd;
	out.buf[0].pos = off;
	n = fuse_buf_copy(&out, in, 0);
	pthread_rwlock_unlock(&i->io_lock);
	if (n < 0) {
		delta_uncharge(s, charged);
		fuse_reply_err(req, (int)-n);
		return;
	}
	wrote_once(s, req, i, "write");
	fuse_reply_write(req, (size_t)n);
}

static void fs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct fs_inode *i = fs_inode_get(S(req), ino);
	int r = 0;

	pthread_rwlock_rdlock(&i->io_lock);
	if (i->data_fd >= 0 && i->data_rw &&
	    (datasync ? fdatasync(i->data_fd) : fsync(i->data_fd)) < 0)
		r = errno;
	pthread_rwlock_unlock(&i->io_lock);
	fuse_reply_err(req, r);
}

static void fs_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct fs_session *s = S(req);
	struct fs_inode *i = fs_inode_get(s, ino);
	int r = 0;

	pthread_rwlock_rdlock(&s->ns_lock);
	if (i->upper_fd >= 0) {
		_cleanup_close_ int fd = openat(i->upper_fd, ".", O_RDONLY | O_DIRECTORY |
									 O_CLOEXEC);

		if (fd < 0 || fsync(fd) < 0)
			r = errno;
	}
	pthread_rwlock_unlock(&s->ns_lock);
	fuse_reply_err(req, r);
}

static void fs_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
			 struct fuse_file_info *fi)
{
	struct fs_session *s = S(req);
	struct fs_inode *i = fs_inode_get(s, ino);
	int64_t charged = 0;
	int r, fd;

	r = writable_fd(s, req, i, "fallocate", &fd);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	if (!(mode & FALLOC_FL_KEEP_SIZE))
		r = charge_growth(s, fd, off, (size_t)len, &charged);
	if (r == 0 && fallocate(fd, mode, off, len) < 0) {
		r = -errno;
		delta_uncharge(s, charged);
	}
	pthread_rwlock_unlock(&i->io_lock);
	if (r == 0)
		wrote_once(s, req, i, "fallocate");
	fuse_reply_err(req, -r);
}

static void fs_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
			       struct fuse_file_info *fi_in, fuse_ino_t ino_out, off_t off_out,
			       struct fuse_file_info *fi_out, size_t len, int flags)
{
	struct fs_session *s = S(req);
	struct fs_inode *in = fs_inode_get(s, ino_in), *out = fs_inode_get(s, ino_out);
	int64_t charged = 0;
	int r, fdin = -1, fdout;
	ssize_t n = 0;

	r = need_level_locked(s, req, in, POLICY_READ, "read");
	if (r == 0)
		r = writable_fd(s, req, out, "write", &fdout);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	if (in != out) {
		r = data_fd(in, false, &fdin);
	} else {
		fdin = fdout;
	}
	if (r == 0)
		r = charge_growth(s, fdout, off_out, len, &charged);
	if (r == 0) {
		n = copy_file_range(fdin, &off_in, fdout, &off_out, len, (unsigned int)flags);
		if (n < 0) {
			r = -errno;
			delta_uncharge(s, charged);
		}
	}
	if (in != out && fdin >= 0)
		pthread_rwlock_unlock(&in->io_lock);
	pthread_rwlock_unlock(&out->io_lock);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	wrote_once(s, req, out, "write");
	fuse_reply_write(req, (size_t)n);
}

static void fs_statfs(fuse_req_t req, fuse_ino_t ino)
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

/* --- xattrs ------------------------------------------------------------- */

static void fs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
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
	pthread_rwlock_rdlock(&s->ns_lock);
	n = getxattr(delta_fd_path(object_fd(i), p, sizeof(p)), name, val, size);
	if (n < 0)
		n = -errno;
	pthread_rwlock_unlock(&s->ns_lock);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)n);
	else
		fuse_reply_buf(req, val, (size_t)n);
}

static void fs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
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
	pthread_rwlock_rdlock(&s->ns_lock);
	delta_fd_path(object_fd(i), p, sizeof(p));
	n = listxattr(p, NULL, 0);
	if (n > 0 && (list = malloc((size_t)n)))
		n = listxattr(p, list, (size_t)n);
	else if (n > 0)
		n = -ENOMEM, errno = ENOMEM;
	if (n < 0)
		n = -errno;
	pthread_rwlock_unlock(&s->ns_lock);
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

/* Only user.* (minus the delta's markers) can be changed from inside (SPEC 1). */
static int xattr_change(struct fs_session *s, fuse_req_t req, struct fs_inode *i,
			const char *name, const char *op)
{
	int r = need_level_locked(s, req, i, POLICY_WRITE, op);
	char path[PATH_MAX];

	if (r < 0)
		return r;
	if (!strncmp(name, "user.", 5) && !delta_is_marker_xattr(name) && i->type != S_IFLNK)
		return ensure_upper(s, i);
	pthread_rwlock_rdlock(&s->ns_lock);
	if (fs_inode_path(i, path, sizeof(path)) == 0)
		fs_deny(s, req, op, path, i->level, EPERM);
	pthread_rwlock_unlock(&s->ns_lock);
	return -EPERM;
}

static void fs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
			size_t size, int flags)
{
	struct fs_session *s = S(req);
	struct fs_inode *i = fs_inode_get(s, ino);
	char p[32], path[PATH_MAX];
	int r = xattr_change(s, req, i, name, "setxattr");

	if (r == 0)
		r = delta_charge(s, (int64_t)(strlen(name) + size));
	if (r == 0) {
		pthread_rwlock_rdlock(&s->ns_lock);
		if (setxattr(delta_fd_path(i->upper_fd, p, sizeof(p)), name, value, size, flags) <
		    0) {
			r = -errno;
			delta_uncharge(s, (int64_t)(strlen(name) + size));
		}
		if (r == 0 && fs_inode_path(i, path, sizeof(path)) == 0)
			fs_wrote(s, req, "setxattr", path, NULL);
		pthread_rwlock_unlock(&s->ns_lock);
	}
	fuse_reply_err(req, -r);
}

static void fs_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct fs_session *s = S(req);
	struct fs_inode *i = fs_inode_get(s, ino);
	char p[32], path[PATH_MAX];
	int r = xattr_change(s, req, i, name, "removexattr");

	if (r == 0) {
		pthread_rwlock_rdlock(&s->ns_lock);
		if (removexattr(delta_fd_path(i->upper_fd, p, sizeof(p)), name) < 0)
			r = -errno;
		else if (fs_inode_path(i, path, sizeof(path)) == 0)
			fs_wrote(s, req, "removexattr", path, NULL);
		pthread_rwlock_unlock(&s->ns_lock);
	}
	fuse_reply_err(req, -r);
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
