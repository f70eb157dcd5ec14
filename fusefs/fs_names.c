// SPDX-License-Identifier: Apache-2.0
/*
 * fs_names.c - the handlers that change names: create, mkdir, mknod,
 * symlink, link, unlink, rmdir, rename.  The level of the name itself
 * decides (docs/SPEC.md 1); everything lands in the delta's upper/ directory, with
 * whiteouts for deleted source names (delta.c).  All of them hold ns_lock
 * for writing.
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
#include "dirnames.h"
#include "fs.h"
#include "fs_internal.h"
#include "util.h"


/* --- creating names ----------------------------------------------------- */

/*
 * A name hidden as the other type (a directory-only rule such as
 * `secrets/` hides a directory of that name, not a file) may be taken by
 * something hidden: creating it, or renaming onto it, would answer EEXIST
 * or EISDIR there and succeed elsewhere, an oracle.  So it is refused
 * alike everywhere, as a hidden name is (EACCES), whatever is there.
 * Logged as OP at level none.
 */
static int hidden_as_other_type(struct fs_session *s, fuse_req_t req, struct fs_inode *dir,
				const char *name, bool is_dir, const char *op, const char *path)
{
	struct policy_decision other;

	if (policy_resolve_child(s->policy, &dir->dec, path, !is_dir, &other) < 0 ||
	    other.level == POLICY_NONE) {
		fs_deny(s, req, op, path, POLICY_NONE, EACCES);
		return -EACCES;
	}
	return 0;
}

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
	if (fs_bad_name(name))
		return -EEXIST;
	r = fs_decide(s, dir, name, is_dir, path, sizeof(path), dec);
	if (r < 0)
		return r;
	/* The new name's own level decides, not its parent's (docs/SPEC.md 1). */
	if (dec->level < POLICY_WRITE) {
		fs_deny(s, req, op, path, dec->level, EACCES);
		return -EACCES;
	}
	r = hidden_as_other_type(s, req, dir, name, is_dir, op, path);
	if (r < 0)
		return r;
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
	return delta_clear_whiteout(s, fs_upper(s, dir), name, was_whiteout);
}

/* Makes the inode for a name just created in DIR's upper directory. */
static int new_node(struct fs_session *s, struct fs_inode *dir, const char *name,
		    const struct policy_decision *dec, struct fs_inode **out, struct stat *attr)
{
	struct stat st;
	struct fs_inode *i;

	/* No fd: the new object is known by identity (fs_fds.c opens it when needed). */
	if (fstatat(fs_upper(s, dir), name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	i = fs_inode_find_or_add(s, st.st_dev, st.st_ino, st.st_mode & S_IFMT, dec, dir, name, NULL,
				 &st, -1, st.st_ino, false);
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
		(void)delta_make_whiteout(s, fs_upper(s, dir), name);
}

enum make_kind { MAKE_FILE, MAKE_DIR, MAKE_NODE, MAKE_SYMLINK };

/*
 * What a caller creates is the caller's, as on any filesystem: a root
 * daemon serving several users (allow_other) hands new objects to their
 * creator.  With --owner everything is shown as one user's anyway, and a
 * daemon that is not root owns what it makes.  The group follows a setgid
 * parent, as mkdir(2)/open(2) do.
 */
static int give_to_caller(struct fs_session *s, fuse_req_t req, struct fs_inode *dir,
			  const char *name, enum make_kind kind, mode_t mode)
{
	const struct fuse_ctx *c = fuse_req_ctx(req);
	struct stat pst;
	gid_t gid = c->gid;
	mode_t keep;
	int dfd;

	if (s->has_owner || geteuid() != 0)
		return 0;
	dfd = fs_upper(s, dir);
	if (fstatat(dfd, "", &pst, AT_EMPTY_PATH) == 0 && (pst.st_mode & S_ISGID))
		gid = (gid_t)-1;
	if (fchownat(dfd, name, c->uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	/*
	 * chown(2) clears the set-ID bits of a non-directory (chown_common()
	 * in fs/open.c), but a creator may ask for them (pjdfstest
	 * open/00, mknod/00).  Put back set-user-ID, and set-group-ID when the
	 * group is the caller's own; with a set-gid parent's group the bit
	 * stays cleared, as for a creator outside that group natively.
	 */
	keep = mode & (S_ISUID | (gid == c->gid ? S_ISGID : 0));
	if ((kind == MAKE_FILE || kind == MAKE_NODE) && keep &&
	    fchmodat(dfd, name, mode & 07777, 0) < 0)
		return -errno;
	return 0;
}

struct make_args {
	enum make_kind kind;
	mode_t mode;
	const char *target; /* symlink */
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
	int r, fd = -1, dfd;

	fs_ns_wrlock(s);
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
	dfd = fs_upper(s, dir);
	dsize = delta_dir_size(dfd);
	switch (a->kind) {
	case MAKE_FILE:
		fd = fs_openat(s, dfd, name,
			       O_CREAT | O_EXCL | O_RDWR | O_NOFOLLOW | O_CLOEXEC, a->mode & 07777);
		r = fd < 0 ? -errno : 0;
		break;
	case MAKE_DIR:
		r = mkdirat(dfd, name, a->mode & 07777) < 0 ? -errno : 0;
		break;
	case MAKE_NODE:
		r = mknodat(dfd, name, a->mode, 0) < 0 ? -errno : 0;
		break;
	case MAKE_SYMLINK:
		r = symlinkat(a->target, dfd, name) < 0 ? -errno : 0;
		break;
	}
	if (r < 0) {
		delta_uncharge(s, cost);
		restore_whiteout(s, dir, name, was_whiteout);
		goto out_unlock;
	}
	delta_charge_anyway(s, delta_dir_size(dfd) - dsize);
	r = give_to_caller(s, req, dir, name, a->kind, a->mode);
	if (r < 0) {
		(void)unlinkat(dfd, name, a->kind == MAKE_DIR ? AT_REMOVEDIR : 0);
		delta_uncharge(s, cost);
		restore_whiteout(s, dir, name, was_whiteout);
		goto out_unlock;
	}
	r = new_node(s, dir, name, &dec, &i, &attr);
	if (r == 0 && a->kind == MAKE_DIR && was_whiteout) {
		/* rmdir of a source directory then mkdir: the new one hides the old. */
		r = delta_set_opaque(s, fs_upper(s, i));
		i->opaque = r == 0;
	}
	if (r < 0) {
		if (i)
			fs_inode_forget(s, i, 1);
		goto out_unlock;
	}
	if (a->kind == MAKE_FILE) {
		pthread_rwlock_wrlock(fs_io_lock(i));
		if (i->data_fd < 0)
			fs_data_fd_set(s, i, TAKE_FD(fd), true);
		pthread_rwlock_unlock(fs_io_lock(i));
	}
	if (fs_child_path(dir, name, path, sizeof(path)) == 0)
		fs_wrote(s, req, op, path, NULL);
	fs_fill_entry(s, i, &attr, e);

out_unlock:
	fs_ns_unlock(s);
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

void fs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	struct make_args a = { .kind = MAKE_NODE, .mode = mode };

	if (S_ISREG(mode)) {
		a.kind = MAKE_FILE;
	} else if (!S_ISFIFO(mode) && !S_ISSOCK(mode)) {
		/* No device nodes, ever (docs/SPEC.md 1). */
		struct fs_session *s = S(req);
		struct policy_decision dec;
		char path[PATH_MAX];

		fs_ns_rdlock(s);
		if (fs_decide(s, fs_inode_get(s, parent), name, false, path, sizeof(path), &dec) == 0)
			fs_deny(s, req, "mknod", path, dec.level, EPERM);
		fs_ns_unlock(s);
		fuse_reply_err(req, EPERM);
		return;
	}
	reply_make(req, parent, name, &a, "mknod");
}

void fs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct make_args a = { .kind = MAKE_DIR, .mode = mode };

	reply_make(req, parent, name, &a, "mkdir");
}

void fs_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	struct make_args a = { .kind = MAKE_SYMLINK, .target = link };

	reply_make(req, parent, name, &a, "symlink");
}

void fs_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
	       struct fuse_file_info *fi)
{
	struct make_args a = { .kind = MAKE_FILE, .mode = mode };
	struct fuse_entry_param e;
	int r = do_make(S(req), req, fs_inode_get(S(req), parent), name, &a, "create", &e);

	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	fs_pt_created(fs_inode_get(S(req), e.ino), fi);
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

	fs_ns_wrlock(s);
	/*
	 * The linked file must itself be writable: its delta copy is shared
	 * by both names, so a link from a read or view file into a write
	 * directory would let the sandbox change (or read) what the rules
	 * protect.
	 */
	r = fs_need_level(s, req, i, POLICY_WRITE, "link");
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
		int ifd = fs_upper(s, i), dfd = fs_upper(s, dir);

		r = linkat(ifd, "", dfd, name, AT_EMPTY_PATH);
		if (r < 0 && errno == ENOENT && i->type == S_IFLNK)
			r = linkat(fs_upper(s, i->parent), i->name, dfd, name, 0);
		else if (r < 0 && errno == ENOENT)
			r = linkat(AT_FDCWD, delta_fd_path(ifd, p, sizeof(p)), dfd, name,
				   AT_SYMLINK_FOLLOW);
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
	fs_fill_entry(s, ni, &attr, e);
out_unlock:
	fs_ns_unlock(s);
	return r;
}

void fs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
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
	if (fs_bad_name(name))
		return -EINVAL;
	r = fs_find(s, dir, name, o);
	if (r < 0)
		return r;
	r = fs_decide(s, dir, name, S_ISDIR(o->st.st_mode), path, len, dec);
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
	/* Not in the table, no parent: its fds are its own, never swept. */
	if (o->in_upper) {
		tmp->upper_fd = fs_openat(s, fs_upper(s, dir), name,
					  O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
		if (tmp->upper_fd < 0)
			return -errno;
		tmp->has_upper = true;
		tmp->opaque = delta_is_opaque(s, tmp->upper_fd);
	}
	if (o->in_source && !tmp->opaque && S_ISDIR(o->src_st.st_mode)) {
		tmp->src_fd = fs_openat(s, fs_src(s, dir), name,
					O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
		if (tmp->src_fd < 0)
			return -errno;
		tmp->has_src = true;
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
	DIR *d = fence_opendirat(parent, name, O_NOFOLLOW);
	struct dirent *de;
	int r = 0;

	if (!d)
		return -errno;
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

	fs_ns_wrlock(s);
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
		int dfd = fs_upper(s, dir);
		bool last = o.st.st_nlink == 1 || S_ISDIR(o.st.st_mode);
		bool owed = fs_pin_victims(s, dir, name, &o.st, last && S_ISREG(o.st.st_mode));

		if (rmdir_op)
			r = clear_upper_dir(dfd, name);
		if (r == 0 && unlinkat(dfd, name, rmdir_op ? AT_REMOVEDIR : 0) < 0)
			r = -errno;
		/* Still open in the sandbox: charged until its inode ends (fs_fds.c). */
		if (r == 0 && last && !owed)
			delta_uncharge(s, delta_cost(&o.st));
	}
	if (r == 0 && o.in_source) {
		r = delta_ensure_dir(s, dir);
		if (r == 0)
			r = delta_make_whiteout(s, fs_upper(s, dir), name);
	}
	if (r < 0)
		goto out_unlock;
	fs_dir_invalidate(dir);
	fs_wrote(s, req, op, path, NULL);
out_unlock:
	fs_ns_unlock(s);
	return r;
}

void fs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, -do_remove(S(req), req, fs_inode_get(S(req), parent), name, false));
}

void fs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
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
	DIR *d = fence_opendirat(fd, ".", 0);
	size_t base = strlen(path);
	struct dirent *de;
	int r = 0;

	if (!d)
		return -errno;
	while (r == 0 && (de = readdir(d))) {
		struct policy_decision dec;
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			r = -errno;
			break;
		}
		if (fs_is_whiteout(&st))
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
	bool is_dir, exists, was_whiteout, owed = false;
	char *nname = NULL;
	int r;

	/* RENAME_WHITEOUT would make a device node (docs/SPEC.md 1: EPERM). */
	if (flags & RENAME_WHITEOUT)
		return -EPERM;
	if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE))
		return -EINVAL;
	if (strlen(newname) > NAME_MAX)
		return -ENAMETOOLONG;
	fs_ns_wrlock(s);
	r = check_removable(s, req, dir, name, "rename", &o, &dec, path, sizeof(path));
	if (r < 0)
		goto out_unlock;
	is_dir = S_ISDIR(o.st.st_mode);
	r = fs_decide(s, ndir, newname, is_dir, npath, sizeof(npath), &ndec);
	if (r == 0 && ndec.level < POLICY_WRITE) {
		fs_deny(s, req, "rename", npath, ndec.level, EACCES);
		r = -EACCES;
	}
	if (r == 0)
		r = hidden_as_other_type(s, req, ndir, newname, is_dir, "rename", npath);
	if (r < 0 || fs_bad_name(newname))
		goto out_unlock_einval;
	/*
	 * RENAME_EXCHANGE is not offered (EINVAL), but only once both names
	 * were found writable: an exchange with a read file is refused as
	 * any change to it is.
	 */
	if (flags & RENAME_EXCHANGE) {
		r = fs_find(s, ndir, newname, &no);
		if (r == 0 && fs_decide(s, ndir, newname, S_ISDIR(no.st.st_mode), npath,
					sizeof(npath), &ndec) == 0 &&
		    ndec.level < POLICY_WRITE) {
			r = ndec.level == POLICY_NONE ? -ENOENT : -EACCES;
			fs_deny(s, req, "rename", npath, ndec.level, -r);
		} else {
			r = r == 0 ? -EINVAL : r;
		}
		goto out_unlock;
	}
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
		_cleanup_close_ int fd = o.in_upper ? fs_openat(s, fs_upper(s, dir), name,
								O_PATH | O_DIRECTORY | O_NOFOLLOW |
									O_CLOEXEC, 0) : -1;
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
	r = fs_lookup_node(s, req, dir, name, &i, &attr);
	if (r == 0 && !i)
		r = -ENOENT;
	if (r == 0)
		r = delta_copy_up(s, i);
	if (r == 0)
		r = delta_ensure_dir(s, ndir);
	if (r == 0) {
		r = delta_clear_whiteout(s, fs_upper(s, ndir), newname, &was_whiteout);
		if (r == -EEXIST)
			r = 0; /* a real entry in upper: the rename replaces it */
	}
	/* An (emptied) directory there may still hold whiteouts: rename(2) wants it empty. */
	if (r == 0 && exists && no.in_upper && is_dir)
		r = clear_upper_dir(fs_upper(s, ndir), newname);
	if (r < 0)
		goto out_forget;
	if (exists && no.in_upper)
		owed = fs_pin_victims(s, ndir, newname, &no.st,
				      S_ISREG(no.st.st_mode) && no.st.st_nlink == 1);
	if (exists && no.in_upper && S_ISREG(no.st.st_mode) && no.st.st_nlink == 1 && !owed)
		delta_uncharge(s, delta_cost(&no.st));
	if (renameat(fs_upper(s, dir), name, fs_upper(s, ndir), newname) < 0) {
		r = -errno;
		restore_whiteout(s, ndir, newname, was_whiteout);
		goto out_forget;
	}
	/* A directory landing where the source has the name must hide it. */
	if (is_dir && (no.in_source || was_whiteout))
		(void)delta_set_opaque(s, fs_upper(s, i));
	if (o.in_source)
		r = delta_make_whiteout(s, fs_upper(s, dir), name);
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
		/* Its source object stays at the old path: never reached by the new one. */
		if (i->has_src)
			fs_drop_src(s, i);
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
	fs_ns_unlock(s);
	return r;
out_unlock_einval:
	if (r == 0)
		r = -EINVAL;
	goto out_unlock;
}

void fs_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
	       const char *newname, unsigned int flags)
{
	fuse_reply_err(req, -do_rename(S(req), req, fs_inode_get(S(req), parent), name,
				       fs_inode_get(S(req), newparent), newname, flags));
}
