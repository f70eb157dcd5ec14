/* SPDX-License-Identifier: Apache-2.0 */
/*
 * delta_read.h - reading a fencefs delta (common/delta_format.h) from the
 * outside: its metadata, the origin records of copied-up files, and the
 * list of changes it makes to its source.  Used by `fencefs diff`,
 * `fencefs commit` and `fencefs discard`.
 *
 * A delta was written by a sandbox and is untrusted input: every file in
 * it is opened with O_NOFOLLOW relative to a dirfd, the metadata parser is
 * strict and bounded, and nothing here follows a symlink in the delta or
 * in the source (delta_openat() below).
 */
#ifndef FENCE_DELTA_READ_H
#define FENCE_DELTA_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

/* Largest fencefs-delta.json accepted; a real one is a few KiB. */
#define DELTA_META_MAX (1u << 20)
/* Deepest directory nesting walked in a delta or a source. */
#define DELTA_MAX_DEPTH 256

struct delta_rule {
	char *level;   /* "none", "view", "read" or "write" */
	char *pattern; /* as written in the policy */
};

/* The parsed fencefs-delta.json.  Free with delta_meta_free(). */
struct delta_meta {
	int format;            /* DELTA_FORMAT_VERSION */
	char *version;         /* fencefs version that made it, or NULL */
	char *created;         /* ISO 8601 UTC text, or NULL */
	struct timespec created_ts; /* parsed "created"; 0 when absent */
	char *source;          /* absolute source path */
	char *xattr_ns;        /* "trusted" or "user" */
	char *policy_digest;   /* 64 hex chars, or NULL */
	struct delta_rule *rules;
	size_t nrules;
};

void delta_meta_free(struct delta_meta *m);

/*
 * Parses the metadata TEXT of LEN bytes: one JSON object with at least
 * "fencefs_delta":1, "source" (absolute) and "xattr_ns" ("trusted" or
 * "user"); "rules" is a list of [level, pattern] pairs.  Unknown keys with
 * any JSON value are skipped (newer writers may add some); duplicate known
 * keys, trailing text, nesting deeper than 16 and malformed JSON are
 * errors.  Strings are decoded as common/util.h's buf_add_json_str()
 * encodes them (so "\\xNN" is the byte NN and "\\\\" one backslash).
 * Returns 0, or -EINVAL with a message in err, or -ENOMEM.
 */
int delta_meta_parse(const char *text, size_t len, struct delta_meta *m, char *err,
		     size_t errlen);

/*
 * Reads and parses DELTA_META_NAME in the delta directory DELTAFD.
 * Returns 0, -errno of the read (err says what), or -EINVAL.
 */
int delta_meta_read(int deltafd, struct delta_meta *m, char *err, size_t errlen);

/* A parsed origin xattr ("dev=%llu ino=%llu size=%lld mtime=%lld.%09ld"). */
struct delta_origin {
	uint64_t dev, ino;
	int64_t size;
	struct timespec mtime;
};

/* Parses an origin value of LEN bytes.  0 or -EINVAL. */
int delta_origin_parse(const char *s, size_t len, struct delta_origin *o);

/*
 * Reads xattr "<ns>.<name>" of the entry NAME in DIRFD without following
 * a symlink, into buf (at most len - 1 bytes, NUL-terminated).  Returns
 * the value's length, -ENODATA when absent, or -errno.
 */
ssize_t delta_getxattr(int dirfd, const char *name, const char *ns, const char *xname,
		       char *buf, size_t len);

/*
 * openat2(DIRFD, PATH, FLAGS, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
 * RESOLVE_NO_MAGICLINKS) with O_CLOEXEC added: PATH cannot leave DIRFD and
 * no component may be a symlink.  "" opens DIRFD itself ("." is used).
 * Returns the fd or -errno (-ELOOP for a symlink, -EXDEV for an escape).
 */
int delta_openat(int dirfd, const char *path, int flags, mode_t mode);

/* The final component of PATH ("a/b/c" -> "c"), and the length of its parent ("a/b"). */
const char *delta_basename(const char *path, size_t *parent_len);

/* One change a delta makes to its source. */
enum delta_status {
	DELTA_ADDED = 'A',
	DELTA_MODIFIED = 'M',
	DELTA_DELETED = 'D',
	DELTA_RENAMED = 'R',     /* added at path, copied up from old_path (now deleted) */
	DELTA_TYPECHANGE = 'T',  /* file <-> symlink <-> other, same path */
};

struct delta_change {
	enum delta_status status;
	char *path;          /* relative to the root, no leading '/' */
	char *old_path;      /* DELTA_RENAMED: the source path it came from; else NULL */
	mode_t old_mode;     /* source st_mode (type and bits); 0 when added */
	mode_t new_mode;     /* delta st_mode; 0 when deleted */
	bool content_changed;/* bytes or link target differ (M, R) */
	bool mode_changed;   /* permission bits differ (M, R, dirs) */
	bool xattrs_changed; /* user.* extended attributes differ (M, dirs) */
	bool is_dir;         /* the entry is a directory (on the side that exists) */
	bool shown;          /* listed by diff: dirs only when no file beneath is */
	bool has_origin;     /* origin xattr present on the delta entry */
	struct delta_origin origin;
	struct stat src_st;  /* the source entry (old_path for R) as seen by the walk */
	int64_t new_size;
	uint64_t upper_ino;  /* the delta file's inode, when it has other links (else 0) */
};

/* A regular file or symlink of the delta with more than one name (hard links). */
struct delta_link {
	uint64_t ino;        /* its inode in the delta */
	char *path;          /* one of its names, changed or not */
};

struct delta_changes {
	struct delta_change *v;
	size_t n, cap;
	struct delta_link *links; /* sorted by (ino, path) */
	size_t nlinks, links_cap;
};

/*
 * The first name, in path order, of delta inode INO among c->links (every
 * name of a hard-linked file, changed or not), or NULL.  Sets *count to the
 * number of its names and *first to the index of the first in c->links.
 */
const char *delta_link_leader(const struct delta_changes *c, uint64_t ino, size_t *first,
			      size_t *count);

void delta_changes_free(struct delta_changes *c);

/*
 * Compares the delta's upper directory UPPERFD with the source SRCFD the
 * way overlayfs merges them (whiteouts delete, opaque directories hide the
 * source's entries) and fills OUT with every change, sorted by path
 * (bytewise, as git sorts).  Entries whose bytes, link target and
 * permission bits equal the source's are not changes (a copy-up without a
 * write).  Added files whose origin names the inode of a deleted source
 * file become DELTA_RENAMED.  NS is the xattr namespace ("trusted").
 * Returns 0, or -errno with err naming the path that failed.
 */
int delta_collect(int upperfd, int srcfd, const char *ns, struct delta_changes *out, char *err,
		  size_t errlen);

/*
 * Are the regular files A and B (open fds, read from offset 0) byte for
 * byte equal?  1 yes, 0 no, -errno on a read error.
 */
int delta_same_content(int a, int b);

/*
 * Opens a delta by path: DELTA itself must be a directory reached without
 * following a symlink in its last component, holding a valid metadata
 * file.  Sets *deltafd (O_PATH directory) and fills m.  Returns 0 or
 * -errno with err filled ("not a fencefs delta: ...").
 */
int delta_open(const char *path, int *deltafd, struct delta_meta *m, char *err, size_t errlen);

/*
 * Is the delta DELTAFD in use: does another process hold the delta
 * directory or anything in it open (a fencefs daemon still serving it
 * keeps fds there)?  Scans /proc/PID/fd of every process it may look at.
 * 1 with *pid set, 0 no, -errno when it cannot tell.
 */
int delta_in_use(int deltafd, pid_t *pid);

/* ---- user extended attributes (delta_xattr.c) ---- */

struct buf;

/* Is NAME a user.* attribute a sandbox may set (not user.overlay.*, user.fencefs.*)? */
bool delta_xattr_is_user(const char *name);

/*
 * The user.* extended attributes of NAME in DIRFD (never following NAME;
 * "." is DIRFD itself) that delta_xattr_is_user() accepts, as a canonical
 * blob in OUT: for each name in sorted order, the name and its NUL, the
 * value's length (4 bytes, host order) and the value.  Equal blobs, equal
 * attributes.  A filesystem without xattrs gives an empty blob.  0 or
 * -errno.
 */
int delta_user_xattrs(int dirfd, const char *name, struct buf *out);

struct delta_xattr {
	const char *name, *value;
	size_t len;
};

/* Steps through a blob from delta_user_xattrs(); *pos starts at 0.  False at the end. */
bool delta_xattr_next(const struct buf *b, size_t *pos, struct delta_xattr *x);

bool delta_xattrs_equal(const struct buf *a, const struct buf *b);

/*
 * Makes the user.* attributes (as delta_xattr_is_user() counts them) of
 * the open file FD exactly those of WANT; other namespaces are left
 * alone.  0 or -errno.
 */
int delta_xattrs_apply(int fd, const struct buf *want);

/* git's blob id of LEN bytes (SHA-1 of "blob LEN\0" + bytes), 40 hex + NUL. */
void delta_git_blob_id(const char *data, size_t len, char out[41]);

#endif
