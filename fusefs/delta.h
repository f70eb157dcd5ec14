/* SPDX-License-Identifier: Apache-2.0 */
/*
 * delta.h - the daemon's side of the copy-on-write delta (docs/SPEC.md 6): making or
 * reusing a delta directory, copy-up, whiteouts, opaque directories, origin
 * records and the --max-delta budget.  The on-disk format is the contract
 * in common/delta_format.h; fencefs diff/commit read what this writes.
 *
 * Every function that touches upper/ expects sess->ns_lock held for
 * writing (they change directories the merged view reads).
 */
#ifndef FENCE_DELTA_H
#define FENCE_DELTA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "fs.h"

/*
 * Makes a private delta in a new mkdtemp directory under $TMPDIR or /tmp.
 * *path is malloc'd.  0 or -errno.
 */
int delta_make_private(char **path);

/*
 * Opens DIR as the delta for SOURCE_ABS (a canonical absolute path):
 * creates DIR (0700) if missing, or reuses it when its fencefs-delta.json
 * names the same source, or refuses (-EEXIST) a non-empty directory that
 * is not a delta and (-EXDEV) a delta of another source.  A new delta gets
 * upper/, work/ and its metadata (rules from POLICY).  On success fills
 * s->delta_fd, upper_root, work_fd, xattr_ns, delta_bytes.  err gets a
 * message on failure.
 */
int delta_setup(struct fs_session *s, const char *dir, const char *source_abs,
	       const struct policy *policy, char *err, size_t errlen);

/* Removes the directory tree PATH (the private delta at exit).  0 or -errno. */
int delta_remove_private(const char *path);

/*
 * Makes sure inode I (a file, symlink or directory) has a delta copy:
 * copies its parent chain first, then I itself (atomically, through
 * work/).  Charges the budget for file data: -ENOSPC past it.
 * 0 or -errno.
 */
int delta_copy_up(struct fs_session *s, struct fs_inode *i);

/*
 * Copy-up of I taken from a data path (WRITE, truncate, fallocate): called
 * WITHOUT ns_lock.  A file's data is copied into work/ with no lock held,
 * so a large copy does not stall the rest of the mount, and only its first
 * LEN bytes when a truncate will drop the rest; the namespace lock is taken
 * for the parent chain and the final rename.  Other types go through
 * delta_copy_up().  0 or -errno.
 */
int delta_copy_up_data(struct fs_session *s, struct fs_inode *i, off_t len);

/* Makes sure directory I exists in upper/ (copy_up for directories). */
static inline int delta_ensure_dir(struct fs_session *s, struct fs_inode *i)
{
	return delta_copy_up(s, i);
}

/*
 * Before creating NAME in the upper directory UPFD: removes a whiteout
 * there.  *was_whiteout says whether one was removed.  0 or -errno.
 */
int delta_clear_whiteout(struct fs_session *s, int upfd, const char *name, bool *was_whiteout);

/*
 * Leaves a whiteout (0:0 char device) for NAME in upper directory UPFD.
 * A daemon that may not mknod gets -EIO (reported once on stderr).
 */
int delta_make_whiteout(struct fs_session *s, int upfd, const char *name);

/* Marks the upper directory FD (O_PATH) opaque.  0 or -errno. */
int delta_set_opaque(struct fs_session *s, int fd);
/* Whether upper directory FD (O_PATH) is opaque. */
bool delta_is_opaque(struct fs_session *s, int fd);
/* Whether NAME (full xattr name) is one of the delta's own markers. */
bool delta_is_marker_xattr(const char *name);

/*
 * Budget: reserve BYTES more of delta data (-ENOSPC when the total would
 * pass --max-delta; 0 otherwise) and give back (negative add).
 */
int delta_charge(struct fs_session *s, int64_t bytes);
void delta_uncharge(struct fs_session *s, int64_t bytes);
/* Counts BYTES already spent (a directory that grew), without refusing. */
void delta_charge_anyway(struct fs_session *s, int64_t bytes);
/* Apparent size of the directory FD (O_PATH), 0 on error. */
int64_t delta_dir_size(int fd);
/*
 * What an object in the delta costs the budget: for a regular file its
 * apparent size or the bytes allocated to it, the larger (fallocate's
 * KEEP_SIZE blocks count; a sparse file counts its size); otherwise its
 * size.
 */
int64_t delta_cost(const struct stat *st);

/*
 * The budget counts what `du -sb` would: file data, directories (a new
 * one costs one block), symlink targets, xattr names and values.
 */
#define DELTA_DIR_COST 4096

/* "/proc/self/fd/N" for reopening an O_PATH fd.  buf >= 32. */
const char *delta_fd_path(int fd, char *buf, size_t len);

#endif
