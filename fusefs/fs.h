/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fs.h - the fencefs daemon: one session, an inode table, the FUSE handlers.
 *
 * Shape follows libfuse's example/passthrough_hp.cc: one session struct
 * reached through fuse_req_userdata(), one inode per (source object, level),
 * every file operation done with *at() calls relative to directory fds.
 * Unlike passthrough_hp, an inode holds no fd of its own: its fds are a
 * cache under one budget (fs_fds.c), so that any number of inodes works
 * at any fd limit.  Contract: docs/SPEC.md sections 1, 6 and 8.
 *
 * Locking, outermost first (never take them in another order):
 *   copy_lock        serialises a file's copy-up (delta_copy_up_data).
 *   pt_lock          over inode->pt_* (fs_passthrough.c): the opens of a
 *                    file and its backing file (it takes ns_lock for reading
 *                    to open the backing file).
 *   sess->ns_lock    rwlock over the namespace: lookups and readdir take it
 *                    for reading; everything that changes a directory
 *                    (create, unlink, rename, copy-up, ...) for writing, and
 *                    the fd sweep.  It guards inode->parent, ->name, ->dec,
 *                    ->has_upper, ->opaque, the cached O_PATH fds (valid
 *                    while it is held) and the delta's directories.  Taken
 *                    through fs_ns_rdlock()/fs_ns_wrlock()/fs_ns_unlock().
 *   io_lock          rwlock over inode->data_fd: READ/WRITE hold it for
 *                    reading while they use the fd; copy-up swaps the fd
 *                    holding it for writing.
 *   dir_lock         mutex over inode->dirlist (the cached merged listing).
 *   sess->table_lock mutex over the hash table, nlookup and refs.
 *   sess->fd_lock    mutex over the fd cache's list and counts (fs_fds.c);
 *                    it only try-locks io_lock.
 * The per-inode locks are stripes shared by several inodes (fs_inode.c):
 * no code path holds two of one kind at once.
 */
#ifndef FENCE_FS_H
#define FENCE_FS_H

#define FUSE_USE_VERSION 312

#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "audit.h"
#include "policy.h"

struct fs_opts;
struct fs_dirlist;

/* A link in the session's list of inodes that hold cached fds (fs_fds.c). */
struct fs_fdlink {
	struct fs_fdlink *prev, *next;
};

struct fs_inode {
	/*
	 * Fields in order of size, so that the record stays small: it is
	 * kept for every inode the kernel remembers (fs_fds_stats() reports
	 * the heap per inode).
	 */

	/* Immutable after creation. */
	uint64_t report_ino;  /* st_ino shown to the sandbox: stable across copy-up */

	/* Guarded by sess->table_lock. */
	uint64_t nlookup;     /* the kernel's references */
	struct fs_inode *hnext;

	/*
	 * Guarded by sess->ns_lock; ->parent is written with table_lock held
	 * too, so that forget (which holds only table_lock) can walk it.
	 */
	struct fs_inode *parent; /* NULL for the root */
	char *name;              /* NULL for the root */
	struct policy_decision dec;
	/*
	 * The objects shown, by identity: an inode holds no fd of its own.
	 * Its O_PATH fds are a cache (fs_fds.c) reached with fs_src() and
	 * fs_upper() under ns_lock, closed when cold and reopened by name in
	 * the parent, the identity checked again (ESTALE otherwise).  The
	 * hash key is one of the two: the delta object's once key_upper.
	 */
	dev_t src_dev;
	ino_t src_ino;
	ino_t upper_ino;      /* on sess->upper_dev */

	/* Guarded by sess->fd_lock: on the list while it holds a cached fd. */
	struct fs_fdlink fdl;

	/* Guarded by dir_lock. */
	struct fs_dirlist *dirlist;

	mode_t type;          /* S_IFMT bits; immutable */
	uint32_t refs;        /* children whose ->parent is this inode (table_lock) */
	int src_fd;           /* cached O_PATH on the source object, or -1 */
	int upper_fd;         /* cached O_PATH on the delta object, or -1 */
	/* Guarded by io_lock. */
	int data_fd;          /* lazily opened: O_RDONLY on the source or O_RDWR on upper */

	/* Guarded by pt_lock (fs_passthrough.c). */
	int pt_backing;       /* backing id registered with the kernel, 0 none */
	uint32_t pt_refs;     /* passthrough opens not yet released */
	uint32_t pt_cached;   /* page-cache opens not yet released */
	bool pt_upper;        /* it is the delta copy (else the source) */
	bool pt_rw;           /* opened read-write */
	bool pt_used;         /* passthrough I/O since the last page-cache open */

	uint8_t level;        /* enum policy_level; immutable */
	bool write_beneath;   /* a directory under write that may hold write names */
	/*
	 * Keyed by the delta object (table_lock).  Until then (a source
	 * object) the key also holds (parent, name): each name of a source
	 * file with several hard links is its own inode until its copy-up, as
	 * in overlayfs without index (a write through one name copies up that
	 * name only, so the names must not share the kernel's page cache),
	 * and an object moved on the host is a new inode at its new name.
	 */
	bool key_upper;
	bool has_src;         /* a source object: (src_dev, src_ino) */
	bool has_upper;       /* a delta object; set once (ns_lock) */
	bool orphan;          /* its delta name was removed: its fds stay (pinned) */
	bool owes;            /* an orphan whose cost goes back to the budget at its end */
	bool opaque;          /* upper dir hides the source dir (ns_lock) */
	bool data_rw;         /* io_lock */
	atomic_bool fd_ref;   /* used since the last sweep (second chance) */
	atomic_bool audited_write; /* the first write through this inode was logged */
	/* Read since the kernel last got its attributes: its atime is stale (fs_notify.c). */
	atomic_bool atime_stale;
};

struct fs_session {
	const struct policy *policy;
	struct audit *audit;       /* NULL when no audit log */
	struct fuse_session *se;

	int src_root;              /* O_PATH on SOURCE */
	int delta_fd;              /* O_PATH on DELTA */
	int delta_lock;            /* DELTA opened for its flock(LOCK_EX): one daemon per delta */
	int upper_root;            /* O_PATH on DELTA/upper */
	int work_fd;               /* O_PATH on DELTA/work */
	char xattr_ns[16];         /* "trusted." or "user." */

	bool has_owner;            /* --owner: report every file as uid:gid */
	uid_t owner_uid;
	gid_t owner_gid;
	bool daemon_opens;         /* OPEN/OPENDIR go to the daemon (audit needs them) */
	bool passthrough;          /* regular files opened with FUSE passthrough (fs_passthrough.c) */
	bool pt_offered;           /* the kernel's INIT offered FUSE_PASSTHROUGH */
	bool pt_asked;             /* the INIT reply asked for it */
	const char *pt_why;        /* why not, when not */
	atomic_bool pt_fail_warned;
	_Atomic int64_t pt_kept;   /* backing ids registered (budget: read_fd_budget) */
	bool verbose;
	bool foreign_pids;         /* callers live in another pid namespace (fs_audit.c) */
	_Atomic pid_t sandbox_init; /* host pid of that namespace's init, 0 unknown */
	double timeout;            /* entry/attr timeout, seconds */
	struct fs_notifier *notifier; /* fs_notify.c, NULL when not running */

	/*
	 * The fd budget (fs_fds.c): the fds cached on inodes (O_PATH and
	 * data) stay under fd_budget; a sweep closes cold ones.  Guarded by
	 * fd_lock, innermost of all locks.
	 */
	pthread_mutex_t fd_lock;
	struct fs_fdlink fd_list;   /* inodes holding cached fds; sentinel */
	struct fs_fdlink *fd_hand;  /* the sweep's position */
	_Atomic int64_t fd_count;   /* cached fds on listed inodes */
	_Atomic int64_t fd_pinned;  /* fds of orphans and of the root */
	_Atomic int64_t fd_peak;    /* highest fd_count + fd_pinned */
	int64_t fd_budget;
	_Atomic uint64_t fd_evicted, fd_reopened, fd_stale;
	_Atomic int64_t inodes, inodes_peak;
	atomic_bool trim_wanted;    /* a sweep is due: new outer ns_lock readers wait a little */
	bool trim_stop;
	bool trim_running;
	pthread_t trim_thread;
	pthread_mutex_t trim_mu;
	pthread_cond_t trim_cv, gate_cv;
	dev_t upper_dev;            /* the delta's filesystem */
	_Atomic int64_t read_fd_budget; /* passthrough backing ids kept (fs_passthrough.c) */
	uint64_t max_delta;        /* 0: no budget */
	_Atomic int64_t delta_bytes;
	_Atomic uint64_t denied;
	_Atomic uint64_t written;
	_Atomic uint64_t tmp_counter;
	atomic_bool whiteout_warned;

	pthread_rwlock_t ns_lock;
	pthread_mutex_t table_lock;
	struct fs_inode root;
	struct fs_inode **table;
	size_t table_size;
	size_t table_count;
};

/* --- fs_inode.c --- */

/*
 * The locks of an inode (a stripe shared with other inodes, see the top):
 *   io_lock   over ->data_fd: READ/WRITE hold it for reading while they
 *             use the fd; copy-up swaps the fd holding it for writing.
 *   dir_lock  over ->dirlist.
 *   copy_lock serialises the lock-free data copy of a file's copy-up.
 *   pt_lock   over ->pt_* (fs_passthrough.c).
 *   acct_lock serialises the data changes of a file with the measuring of
 *             what they cost the budget (fs_data.c); taken inside io_lock,
 *             nothing taken inside it.
 */
pthread_rwlock_t *fs_io_lock(const struct fs_inode *i);
pthread_mutex_t *fs_dir_lock(const struct fs_inode *i);
pthread_mutex_t *fs_copy_lock(const struct fs_inode *i);
pthread_mutex_t *fs_pt_lock(const struct fs_inode *i);
pthread_mutex_t *fs_acct_lock(const struct fs_inode *i);

/* Sets up the table and the root inode from the open root fds.  0 or -errno. */
int fs_table_init(struct fs_session *s);
/* Frees every inode (at exit). */
void fs_table_destroy(struct fs_session *s);
/* The inode behind a FUSE node id. */
struct fs_inode *fs_inode_get(struct fs_session *s, fuse_ino_t ino);
/*
 * Finds the inode for (dev, ino, level) or makes one, taking one kernel
 * reference (nlookup) either way.  SRC and UPPER are the attributes of
 * its source and delta objects (NULL: none).  Takes ownership of
 * upper_fd, an O_PATH fd on the delta object or -1 (cached, or closed
 * when an existing inode is returned).  Returns NULL when out of memory.
 */
struct fs_inode *fs_inode_find_or_add(struct fs_session *s, dev_t dev, ino_t ino, mode_t type,
				      const struct policy_decision *dec, struct fs_inode *parent,
				      const char *name, const struct stat *src,
				      const struct stat *upper, int upper_fd, uint64_t report_ino,
				      bool opaque);
/*
 * Only the finding half: the inode the table holds for (dev, ino, level)
 * -- and (parent, name) for one keyed by its source object -- with one
 * more kernel reference, or NULL.
 */
struct fs_inode *fs_inode_find(struct fs_session *s, dev_t dev, ino_t ino,
			       enum policy_level level, const struct fs_inode *parent,
			       const char *name);
/* Drops N kernel references; frees the inode (and maybe its parents) at 0. */
void fs_inode_forget(struct fs_session *s, struct fs_inode *i, uint64_t n);
/* Re-keys I under a new (dev, ino), one per object again, after a copy-up. */
void fs_inode_rekey(struct fs_session *s, struct fs_inode *i, dev_t dev, ino_t ino);
/* Calls fn for every inode in the table (table_lock held: fn must not lock it). */
void fs_inode_foreach(struct fs_session *s, void (*fn)(struct fs_inode *i, void *ctx), void *ctx);
/*
 * Out of fds (EMFILE/ENFILE): closes the cached data fds not in use right
 * now and asks for a sweep.  Returns how many were closed.
 */
size_t fs_reclaim_read_fds(struct fs_session *s);
/* openat() that, out of fds, reclaims cached data fds once and retries. */
int fs_openat(struct fs_session *s, int dirfd, const char *name, int flags, mode_t mode);

/* --- fs_fds.c: the fd budget --- */

/* Cached fds when the mount does not say (fs_mount.c derives it from RLIMIT_NOFILE). */
#define FS_FD_BUDGET_DEFAULT 1024

/*
 * ns_lock, through these only: a reader arriving while a sweep is due
 * waits briefly so that the sweep (a writer) is not starved, and the
 * last unlock of a thread asks for a sweep when over budget.
 */
void fs_ns_rdlock(struct fs_session *s);
void fs_ns_wrlock(struct fs_session *s);
void fs_ns_unlock(struct fs_session *s);
/*
 * Sets up the budget (fs_table_init() does), starts its sweeping thread
 * (once the daemon has forked: without it nothing is swept) and stops it.
 * 0 or -errno.
 */
int fs_fds_init(struct fs_session *s, int64_t budget);
int fs_fds_start(struct fs_session *s);
void fs_fds_stop(struct fs_session *s);
/*
 * The O_PATH fd of I's source (delta) object, opened again if it was
 * closed; valid until ns_lock (held by the caller) is released.  -1 with
 * errno set: ESTALE when the object at I's path is another one now, EIO
 * when I has none.
 */
int fs_src(struct fs_session *s, struct fs_inode *i);
int fs_upper(struct fs_session *s, struct fs_inode *i);
/* The fd of what the sandbox sees of I: its delta copy, else the source. */
int fs_object(struct fs_session *s, struct fs_inode *i);
/* Caches FD (O_PATH, taken) as I's delta object, whose attributes are ST; ns_lock held. */
void fs_set_upper(struct fs_session *s, struct fs_inode *i, int fd, const struct stat *st);
/* I's source object is out of reach from now on (moved in the delta); ns_lock held. */
void fs_drop_src(struct fs_session *s, struct fs_inode *i);
/*
 * Opens I's source (delta) object anew with FLAGS (not cached): through
 * the cached O_PATH fd, else by name in the parent, the identity checked.
 * ns_lock held.  The fd, or -1 with errno set.
 */
int fs_open_object(struct fs_session *s, struct fs_inode *i, bool upper, int flags);
/* Attributes of I's object (the delta copy if any), identity checked; ns_lock held. */
int fs_lstat_object(struct fs_session *s, struct fs_inode *i, struct stat *st);
/*
 * The delta name NAME in DIR (object ST) is about to go: inodes named so
 * keep their fds open from now on (they have no path any more).  With
 * OWE (its last link goes), the first of them gives the object's cost
 * back to the budget when it ends -- while the sandbox holds the file
 * open its data is still on disk.  Returns whether one owes it (then the
 * caller does not give it back now).  ns_lock held for writing.
 */
bool fs_pin_victims(struct fs_session *s, struct fs_inode *dir, const char *name,
		    const struct stat *st, bool owe);
/*
 * Makes FD (read-write when RW) I's cached data fd, closing the one it
 * replaces; io_lock held for writing.
 */
void fs_data_fd_set(struct fs_session *s, struct fs_inode *i, int fd, bool rw);
/* Releases I's cached fds and its place on the list (the inode is being freed). */
void fs_fds_release(struct fs_session *s, struct fs_inode *i);
/* Writes the counters as one JSON object into BUF. */
void fs_fds_stats(struct fs_session *s, char *buf, size_t len);

/*
 * Writes the path of I relative to the root (no leading '/', "" for the
 * root) into buf.  Caller holds ns_lock.  0 or -ENAMETOOLONG.
 */
int fs_inode_path(const struct fs_inode *i, char *buf, size_t len);
/* Same for the child NAME of directory I. */
int fs_child_path(const struct fs_inode *dir, const char *name, char *buf, size_t len);
/* Drops the cached merged listing of directory I (after a change in it). */
void fs_dir_invalidate(struct fs_inode *i);

/* --- fs_ops.c (handlers also in fs_names.c, fs_data.c, fs_xattr.c) --- */
extern const struct fuse_lowlevel_ops fs_ops;

/* Shared by fs_ops.c and fs_dir.c. */
struct fs_object {
	int dirfd;       /* where it was found: a source or an upper dir fd */
	bool in_upper;   /* found in the delta */
	bool whiteout;   /* upper holds a whiteout: the name is deleted */
	bool in_source;  /* the source has the name (and upper does not hide it) */
	struct stat st;  /* of the object shown (upper if present, else source) */
	struct stat src_st;
};
/*
 * Looks NAME up in directory DIR as the merged view shows it.  0 with *o
 * filled, -ENOENT when absent or deleted, other -errno.  ns_lock held.
 */
int fs_find(struct fs_session *s, struct fs_inode *dir, const char *name, struct fs_object *o);
/* Mode bits as the level shows them (docs/SPEC.md 1). */
mode_t fs_level_mode(mode_t mode, enum policy_level level);
/* Fills st for the sandbox: level mode bits, --owner, stable ino. */
void fs_fill_attr(struct fs_session *s, const struct fs_inode *i, struct stat *st);
/* Logs and counts a refusal. */
void fs_deny(struct fs_session *s, fuse_req_t req, const char *op, const char *path,
	     enum policy_level level, int err);
/*
 * The merged lookup behind LOOKUP and READDIRPLUS: fills e (e->ino 0 with
 * a timeout for a hidden or missing name: a negative entry) and takes one
 * kernel reference on the inode.  Takes ns_lock for reading.  0 or -errno.
 */
int fs_do_lookup(struct fs_session *s, fuse_req_t req, struct fs_inode *dir, const char *name,
		 struct fuse_entry_param *e);
/* Logs and counts a change. */
void fs_wrote(struct fs_session *s, fuse_req_t req, const char *op, const char *path,
	      const char *path2);

/* --- fs_audit.c --- */

/*
 * One audit event: EVENT ("deny", "write", "exec", "read", "lookup"), OP,
 * PATH and PATH2 (with a leading '/'; PATH2 may be NULL), and for "deny"
 * LEVEL (a level name) and ERR; with the caller's pid and command name.
 * Nothing happens without an audit log.
 */
void fs_audit(struct fs_session *s, fuse_req_t req, const char *event, const char *op,
	      const char *path, const char *path2, const char *level, int err);

/* --- fs_passthrough.c --- */

/*
 * Installs the custom I/O on the mounted session and serves INIT, asking
 * for passthrough; s->passthrough says whether the kernel agreed (else
 * s->pt_why says why not).  0 or -errno (the session is then unusable).
 */
int fs_pt_setup(struct fs_session *s);
/*
 * How OPEN of I (checks done) is served: a passthrough open on a backing
 * file, or a page-cache open; fills fi.  A writable passthrough open copies
 * up first.  0 or -errno.
 */
int fs_pt_open(struct fs_session *s, fuse_req_t req, struct fs_inode *i,
	       struct fuse_file_info *fi);
/* CREATE's open of the new file I: a page-cache open. */
void fs_pt_created(struct fs_inode *i, struct fuse_file_info *fi);
/* RELEASE of an open fs_pt_open() or fs_pt_created() filled (fh). */
void fs_pt_release(struct fs_session *s, struct fs_inode *i, uint64_t fh);
/*
 * The kernel forgot I: its backing id, kept between opens, goes.  Clear
 * s->passthrough once the session is gone (the ids went with it).
 */
void fs_pt_forget(struct fs_session *s, struct fs_inode *i);

/* --- fs_notify.c --- */

/*
 * Starts and stops the thread that sends the notifications below, and,
 * when MNT (the mount's path) is given, the helper process that lists
 * dropped directories again through it.  0 or -errno.
 */
int fs_notify_start(struct fs_session *s, const char *mnt);
void fs_notify_stop(struct fs_session *s);
/* Whether PID is that helper (its requests are not the sandbox's: no audit). */
bool fs_notify_is_helper(const struct fs_session *s, pid_t pid);
/*
 * The kernel read file I through the daemon or its backing file, so it
 * will ask for its atime: once per such episode, its parent's cached
 * listing goes, and the next READDIRPLUS sends the attributes in bulk.
 * Takes ns_lock for reading.
 */
void fs_notify_read(struct fs_session *s, struct fs_inode *i);

/* --- fs_dir.c --- */
void fs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		struct fuse_file_info *fi);
void fs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi);
void fs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
/* Drops one reference to a merged listing (frees it at zero).  NULL is fine. */
void fs_dirlist_put(struct fs_dirlist *l);
/*
 * Counts the entries directory I holds in the merged view, hidden ones
 * included (rmdir's ENOTEMPTY).  *count set; 0 or -errno.  ns_lock held.
 */
int fs_dir_count(struct fs_session *s, struct fs_inode *i, size_t *count);

#endif
