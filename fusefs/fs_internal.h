/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fs_internal.h - what the daemon's handler files (fs_ops.c, fs_names.c,
 * fs_data.c, fs_xattr.c) share.  Not an API: fs.h is the daemon's.
 * Unless said otherwise, helpers return 0 or -errno, and those that
 * compute a path expect sess->ns_lock held (fs.h explains the locks).
 */
#ifndef FENCE_FS_INTERNAL_H
#define FENCE_FS_INTERNAL_H

#include "fs.h"

/* The kernel's __FMODE_EXEC, set in OPEN flags for execve (include/linux/fs.h). */
#define FS_FMODE_EXEC 0x20

#define S(req) ((struct fs_session *)fuse_req_userdata(req))


/* --- fs_ops.c: shared helpers --- */

/* Attributes of I as shown (fs_fill_attr()); ns_lock held. */
int fs_stat_inode(struct fs_session *s, struct fs_inode *i, struct stat *st);
/* I must be at least WANT (else ENOENT or EACCES, logged as OP); ns_lock held. */
int fs_need_level(struct fs_session *s, fuse_req_t req, const struct fs_inode *i,
		  enum policy_level want, const char *op);
/* Same, taking ns_lock itself. */
int fs_need_level_locked(struct fs_session *s, fuse_req_t req, const struct fs_inode *i,
			 enum policy_level want, const char *op);
/* Whether the caller of REQ is in group GID (primary or supplementary). */
bool fs_caller_in_group(fuse_req_t req, gid_t gid);
/* Daemon mode: the kernel's DAC check for MASK (R_OK/W_OK/X_OK) on attributes ST. */
int fs_caller_may(struct fs_session *s, fuse_req_t req, const struct stat *st, int mask);
/* Level, then (daemon mode) mode bits, for MASK on I; logs a refusal.  Takes ns_lock. */
int fs_check_access(struct fs_session *s, fuse_req_t req, struct fs_inode *i, int mask,
		    const char *op);
/* Whether ST is an overlayfs whiteout (a 0:0 character device). */
bool fs_is_whiteout(const struct stat *st);
/* ".", ".." or a name with a slash. */
bool fs_bad_name(const char *name);
/* The decision for NAME in DIR as type IS_DIR; its path goes to PATH. */
int fs_decide(struct fs_session *s, struct fs_inode *dir, const char *name, bool is_dir,
	      char *path, size_t len, struct policy_decision *dec);
/*
 * The merged lookup, ns_lock held: *out gets the inode with one more kernel
 * reference, or NULL for a hidden or missing name; *attr its attributes.
 */
int fs_lookup_node(struct fs_session *s, fuse_req_t req, struct fs_inode *dir,
		   const char *name, struct fs_inode **out, struct stat *attr);
/* A FUSE entry for I (NULL: a negative entry) with the cache timeouts. */
void fs_fill_entry(struct fs_session *s, struct fs_inode *i, const struct stat *attr,
		   struct fuse_entry_param *e);

/* --- fs_data.c --- */

/*
 * The data fd of regular file I, returned with io_lock held for reading
 * (the caller unlocks).  RW asks for a read-write fd on the delta copy,
 * which must exist.
 */
int fs_data_fd(struct fs_session *s, struct fs_inode *i, bool rw, int *fd);
/*
 * Measures what a data change of file I (through its read-write fd FD,
 * io_lock held) costs the budget.  fs_charge_begin() takes I's acct_lock
 * and the attributes before (c->st); fs_charge_reserve() then makes sure
 * BYTES, the most the change can add, fit in the budget (-ENOSPC, the
 * lock released, otherwise); fs_charge_end() charges the real change and
 * releases the lock.  0 or -errno.
 */
struct fs_charge {
	struct fs_inode *i;
	struct stat st;
	int64_t before, reserved;
};
int fs_charge_begin(struct fs_session *s, struct fs_inode *i, int fd, struct fs_charge *c);
int fs_charge_reserve(struct fs_session *s, struct fs_charge *c, int64_t bytes);
void fs_charge_end(struct fs_session *s, int fd, struct fs_charge *c);
/* Copy-up of I for a data change (without ns_lock held). */
int fs_ensure_upper(struct fs_session *s, struct fs_inode *i);
/* Logs the first change through I (docs/SPEC.md 8 "write"), once. */
void fs_wrote_once(struct fs_session *s, fuse_req_t req, struct fs_inode *i, const char *op);

/* --- fs_names.c: handlers --- */

void fs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev);
void fs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode);
void fs_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name);
void fs_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
	       struct fuse_file_info *fi);
void fs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname);
void fs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void fs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
void fs_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
	       const char *newname, unsigned int flags);

/* --- fs_data.c: handlers --- */

void fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_access(fuse_req_t req, fuse_ino_t ino, int mask);
void fs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
	     struct fuse_file_info *fi);
void fs_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *in, off_t off,
		  struct fuse_file_info *fi);
void fs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);
void fs_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);
void fs_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
		  struct fuse_file_info *fi);
void fs_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
			struct fuse_file_info *fi_in, fuse_ino_t ino_out, off_t off_out,
			struct fuse_file_info *fi_out, size_t len, int flags);
void fs_statfs(fuse_req_t req, fuse_ino_t ino);

/* --- fs_xattr.c: handlers --- */

void fs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size);
void fs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);
void fs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
		 size_t size, int flags);
void fs_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name);

#endif
