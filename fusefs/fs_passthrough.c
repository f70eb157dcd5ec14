// SPDX-License-Identifier: Apache-2.0
/*
 * fs_passthrough.c - FUSE passthrough for regular files in daemon mode.
 *
 * With passthrough the kernel does READ, WRITE and mmap of an open file on
 * a "backing" file the daemon registered (FUSE_DEV_IOC_BACKING_OPEN), with
 * no message per read; OPEN and RELEASE still come here, so the level and
 * DAC checks and the exec/read audit events stay as they were.  How the
 * pieces fit: the kernel's Documentation/filesystems/fuse-passthrough.rst.
 *
 * Debian's libfuse 3.14 knows none of it, so the session uses
 * fuse_session_custom_io(): the read callback notes which request each
 * worker thread is serving, and the writev callback patches two replies
 * on their way out -- INIT (ask for FUSE_PASSTHROUGH, max_stack_depth 1)
 * and OPEN (FOPEN_PASSTHROUGH and the backing id, carried here in fh).
 *
 * The kernel's rules (fs/fuse/iomode.c, fuse_file_io_open()): while an
 * inode has a backing file, every open of it must be a passthrough open
 * on that same backing file, else the open fails with EIO; a passthrough
 * open is refused while a page-cache open is live (ETXTBSY), and
 * FOPEN_KEEP_CACHE may not go with FOPEN_PASSTHROUGH.  So per inode the
 * daemon counts its page-cache opens and its passthrough opens, and an
 * open that may not use the backing file in place (one that needs the
 * delta copy while the backing file is the source, or a write the daemon
 * must see) gets FOPEN_PASSTHROUGH | FOPEN_DIRECT_IO on the same backing
 * file: read and write then come to the daemon, only mmap uses the
 * backing file.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "cleanup.h"
#include "delta.h"
#include "fs.h"
#include "fs_internal.h"

/*
 * Protocol 7.40 pieces that bookworm's <linux/fuse.h> (7.38) lacks,
 * checked against the kernel's include/uapi/linux/fuse.h.
 */
#define FS_FUSE_PASSTHROUGH_FLAGS2 (1u << 5) /* FUSE_PASSTHROUGH is 1ULL << 37 */
#define FS_FOPEN_PASSTHROUGH (1u << 7)

struct fs_backing_map {
	int32_t fd;
	uint32_t flags;
	uint64_t padding;
};

#define FS_DEV_IOC_MAGIC 229
#define FS_DEV_IOC_BACKING_OPEN _IOW(FS_DEV_IOC_MAGIC, 1, struct fs_backing_map)
#define FS_DEV_IOC_BACKING_CLOSE _IOW(FS_DEV_IOC_MAGIC, 2, uint32_t)

/* fuse_open_out: 7.40 names the old padding backing_id. */
struct fs_open_out {
	uint64_t fh;
	uint32_t open_flags;
	int32_t backing_id;
};

/* fuse_init_out: 7.40 takes max_stack_depth out of unused[]. */
struct fs_init_out {
	uint32_t major;
	uint32_t minor;
	uint32_t max_readahead;
	uint32_t flags;
	uint16_t max_background;
	uint16_t congestion_threshold;
	uint32_t max_write;
	uint32_t time_gran;
	uint16_t max_pages;
	uint16_t map_alignment;
	uint32_t flags2;
	uint32_t max_stack_depth;
	uint32_t unused[6];
};

_Static_assert(sizeof(struct fs_open_out) == sizeof(struct fuse_open_out), "fuse_open_out");
_Static_assert(sizeof(struct fs_init_out) == sizeof(struct fuse_init_out), "fuse_init_out");
_Static_assert(offsetof(struct fs_init_out, flags2) == offsetof(struct fuse_init_out, flags2),
	       "fuse_init_out.flags2");
_Static_assert(offsetof(struct fs_init_out, max_stack_depth) == 36, "max_stack_depth");

/*
 * fh of an open file: its kind in the low bits, the backing id in the
 * high 32.  The kernel hands fh back untouched in RELEASE.
 */
#define FS_FH_CACHED 1u      /* page-cache open, counted in ->pt_cached */
#define FS_FH_PASSTHROUGH 2u /* passthrough open, counted in ->pt_refs */
#define FS_FH_DIRECT 4u      /* with FOPEN_DIRECT_IO: read/write come to the daemon */

static uint64_t fh_make(unsigned int kind, int id)
{
	return (uint64_t)(uint32_t)id << 32 | kind;
}

/*
 * The request this worker thread read last.  libfuse's workers read a
 * request and serve it to the end on the same thread (fuse_loop_mt.c
 * fuse_do_work()), and every handler here replies before returning, so
 * a reply this thread sends with that unique id is the reply to it.
 */
static __thread uint64_t cur_unique;
static __thread uint32_t cur_opcode;

static ssize_t pt_read(int fd, void *buf, size_t len, void *userdata)
{
	struct fs_session *s = userdata;
	ssize_t n = read(fd, buf, len);
	const struct fuse_in_header *h = buf;

	cur_opcode = 0;
	if (n < (ssize_t)sizeof(*h))
		return n;
	cur_unique = h->unique;
	cur_opcode = h->opcode;
	if (h->opcode == FUSE_INIT &&
	    (size_t)n >= sizeof(*h) + offsetof(struct fuse_init_in, flags2) + sizeof(uint32_t)) {
		const struct fuse_init_in *in = (const void *)(h + 1);

		s->pt_offered = (in->flags & FUSE_INIT_EXT) &&
				(in->flags2 & FS_FUSE_PASSTHROUGH_FLAGS2);
	}
	return n;
}

/* INIT reply: ask for passthrough when the kernel offered it. */
static void patch_init(struct fs_session *s, struct iovec *v)
{
	struct fs_init_out *o = v->iov_base;

	if (!s->pt_offered) {
		s->pt_why = "the kernel does not offer FUSE_PASSTHROUGH";
		return;
	}
	if (v->iov_len < sizeof(*o)) {
		s->pt_why = "short INIT reply";
		return;
	}
	/* The kernel refuses passthrough with writeback_cache (fs/fuse/inode.c). */
	if (o->flags & FUSE_WRITEBACK_CACHE) {
		s->pt_why = "writeback_cache is on";
		return;
	}
	o->flags |= FUSE_INIT_EXT;
	o->flags2 |= FS_FUSE_PASSTHROUGH_FLAGS2;
	/*
	 * Backing files may sit on a filesystem that stacks nothing
	 * (s_stack_depth 0: ext4, xfs, tmpfs); one on overlayfs makes
	 * BACKING_OPEN fail with ELOOP and that open falls back.
	 */
	o->max_stack_depth = 1;
	s->pt_asked = true;
}

/* OPEN reply: the kind chosen in fs_pt_open() travels in fh. */
static void patch_open(struct iovec *v)
{
	struct fs_open_out *o = v->iov_base;

	if (v->iov_len != sizeof(*o) || !(o->fh & FS_FH_PASSTHROUGH))
		return;
	o->open_flags &= ~FOPEN_KEEP_CACHE;
	o->open_flags |= FS_FOPEN_PASSTHROUGH;
	if (o->fh & FS_FH_DIRECT)
		o->open_flags |= FOPEN_DIRECT_IO;
	o->backing_id = (int32_t)(o->fh >> 32);
}

static ssize_t pt_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	const struct fuse_out_header *h = iov[0].iov_base;

	if (count >= 2 && iov[0].iov_len == sizeof(*h) && h->error == 0 &&
	    h->unique == cur_unique) {
		if (cur_opcode == FUSE_INIT)
			patch_init(userdata, &iov[1]);
		else if (cur_opcode == FUSE_OPEN)
			patch_open(&iov[1]);
	}
	return writev(fd, iov, count);
}

/* Given so that libfuse keeps splicing READ data (it drops splice without one). */
static ssize_t pt_splice_send(int fdin, off_t *offin, int fdout, off_t *offout, size_t len,
			      unsigned int flags, void *userdata)
{
	return splice(fdin, offin, fdout, offout, len, flags);
}

/* A backing id for the object I shows now; *upper and *rw say what it is. */
static int backing_open(struct fs_session *s, struct fs_inode *i, bool *upper, bool *rw)
{
	struct fs_backing_map map = { 0 };
	_cleanup_close_ int fd = -1;
	int id;

	/*
	 * ns_lock inside pt_lock, against the order in fs.h: no writer waits
	 * for the pt_lock of an inode being opened (only freeing takes it, and
	 * the kernel does not forget an inode it is opening).
	 */
	fs_ns_rdlock(s);
	pthread_rwlock_rdlock(fs_io_lock(i));
	*upper = i->has_upper;
	*rw = *upper;
	if (*upper) {
		/* The delta copy is the daemon's own: read-write, for later write opens. */
		fd = fs_open_object(s, i, true, O_RDWR);
		if (fd < 0) {
			*rw = false;
			fd = fs_open_object(s, i, true, O_RDONLY);
		}
	} else if (i->has_src) {
		/* The source is only ever opened read-only (docs/SPEC.md 6). */
		fd = fs_open_object(s, i, false, O_RDONLY);
	} else {
		errno = EIO;
	}
	pthread_rwlock_unlock(fs_io_lock(i));
	fs_ns_unlock(s);
	if (fd < 0)
		return -errno;
	map.fd = fd;
	/* The kernel keeps its own reference to the file: fd is closed on return. */
	id = ioctl(fuse_session_fd(s->se), FS_DEV_IOC_BACKING_OPEN, &map);
	return id < 0 ? -errno : id;
}

static void backing_close(struct fs_session *s, int id)
{
	uint32_t v = (uint32_t)id;

	if (ioctl(fuse_session_fd(s->se), FS_DEV_IOC_BACKING_CLOSE, &v) < 0)
		fprintf(stderr, "fencefs: cannot close backing file %d: %s\n", id,
			strerror(errno));
}

/*
 * Whether the caller of a write-only open could also read I: only then is
 * it backed, so that no backing file is ever one its opener may not read.
 */
static bool may_read(struct fs_session *s, fuse_req_t req, struct fs_inode *i)
{
	struct stat st;
	bool ok;

	fs_ns_rdlock(s);
	ok = i->level >= POLICY_READ && fs_stat_inode(s, i, &st) == 0 &&
	     fs_caller_may(s, req, &st, R_OK) == 0;
	fs_ns_unlock(s);
	return ok;
}

/*
 * Whether the backing file of I is what an open for ACC must use: the
 * object shown now (the delta copy once there is one), read-write for a
 * writable open.  ->pt_lock held.
 */
static bool backing_fits(struct fs_inode *i, int acc)
{
	bool fits;

	pthread_rwlock_rdlock(fs_io_lock(i));
	fits = i->pt_upper == i->has_upper && (acc == O_RDONLY || i->pt_rw);
	pthread_rwlock_unlock(fs_io_lock(i));
	return fits;
}

/* Unregisters the backing file of I, no open using it; ->pt_lock held. */
static void backing_drop(struct fs_session *s, struct fs_inode *i)
{
	backing_close(s, i->pt_backing);
	atomic_fetch_sub(&s->pt_kept, 1);
	i->pt_backing = 0;
}

/*
 * Whether I is too small to gain from a backing file.  Each passthrough
 * open costs the kernel an open and a close of the backing file, while a
 * page-cache open of a file read before costs no READ at all and a cold
 * one a single READ below the readahead window (128 KiB).  Measured here
 * on a warm grep -r over a /usr/include copy (8,000 files, nearly all
 * below 128 KiB): 0.46 s with every file backed, 0.30 s without.
 */
#define FS_PT_MIN_SIZE (128 * 1024)

static bool small_file(struct fs_session *s, struct fs_inode *i)
{
	struct stat st;
	int r;

	fs_ns_rdlock(s);
	r = fs_lstat_object(s, i, &st);
	fs_ns_unlock(s);
	return r == 0 && st.st_size < FS_PT_MIN_SIZE;
}

/* A page-cache open; ->pt_lock held. */
static void cached_open(struct fs_inode *i, struct fuse_file_info *fi)
{
	fi->fh = FS_FH_CACHED;
	/* Data written through a backing file bypassed the page cache: drop it. */
	fi->keep_cache = !i->pt_used;
	i->pt_used = false;
	i->pt_cached++;
}

int fs_pt_open(struct fs_session *s, fuse_req_t req, struct fs_inode *i,
	       struct fuse_file_info *fi)
{
	int acc = fi->flags & O_ACCMODE;
	bool upper, rw, in_place, want, small;
	int r = 0, id;

	fi->noflush = 1;
	/*
	 * Writes through a backing file never reach the daemon, so they
	 * cannot be charged to --max-delta or logged as "write" events:
	 * then writes stay with the daemon.
	 */
	want = s->passthrough && i->type == S_IFREG &&
	       (acc == O_RDONLY || (!s->audit && !s->max_delta)) &&
	       (acc != O_WRONLY || may_read(s, req, i));

	/*
	 * The backing file of a writable open is the delta copy: copy up
	 * first (a small file, opened in the page cache, is copied at its
	 * first write as before).
	 */
	small = want && small_file(s, i);
	if (want && acc != O_RDONLY && !i->has_upper && !small) {
		r = fs_ensure_upper(s, i);
		if (r < 0)
			return r;
	}
	pthread_mutex_lock(fs_pt_lock(i));
	if (i->pt_refs > 0) {
		in_place = want && backing_fits(i, acc);
		fi->fh = fh_make(FS_FH_PASSTHROUGH | (in_place ? 0 : FS_FH_DIRECT), i->pt_backing);
		i->pt_refs++;
	} else if (!want || i->pt_cached > 0 || small) {
		cached_open(i, fi);
	} else if (i->pt_backing > 0 && backing_fits(i, acc)) {
		/* The id kept from earlier opens (fs_pt_release()). */
		i->pt_refs = 1;
		i->pt_used = true;
		fi->fh = fh_make(FS_FH_PASSTHROUGH, i->pt_backing);
	} else {
		if (i->pt_backing > 0)
			backing_drop(s, i);
		id = backing_open(s, i, &upper, &rw);
		if (id < 0) {
			if (s->verbose && !atomic_exchange(&s->pt_fail_warned, true))
				fprintf(stderr, "fencefs: passthrough refused (%s), using the page "
						"cache for that open\n", strerror(-id));
			cached_open(i, fi);
		} else {
			atomic_fetch_add(&s->pt_kept, 1);
			i->pt_backing = id;
			i->pt_upper = upper;
			i->pt_rw = rw;
			i->pt_refs = 1;
			i->pt_used = true;
			fi->fh = fh_make(FS_FH_PASSTHROUGH, id);
		}
	}
	pthread_mutex_unlock(fs_pt_lock(i));
	/* A write through the backing file never comes here: count the change now. */
	if (want && acc != O_RDONLY && (fi->fh & FS_FH_PASSTHROUGH) && !(fi->fh & FS_FH_DIRECT))
		fs_wrote_once(s, req, i, "open");
	/* Reads through a backing file mark the atime stale too (fuse_file_accessed()). */
	if (fi->fh & FS_FH_PASSTHROUGH)
		fs_notify_read(s, i);
	return 0;
}

void fs_pt_created(struct fs_inode *i, struct fuse_file_info *fi)
{
	pthread_mutex_lock(fs_pt_lock(i));
	cached_open(i, fi);
	fi->keep_cache = 1;
	pthread_mutex_unlock(fs_pt_lock(i));
}

void fs_pt_release(struct fs_session *s, struct fs_inode *i, uint64_t fh)
{
	pthread_mutex_lock(fs_pt_lock(i));
	if ((fh & FS_FH_CACHED) && i->pt_cached > 0) {
		i->pt_cached--;
	} else if ((fh & FS_FH_PASSTHROUGH) && i->pt_refs > 0 && --i->pt_refs == 0 &&
		   atomic_load(&s->pt_kept) > s->read_fd_budget) {
		/*
		 * The id is kept for the next open (an open file and a
		 * BACKING_OPEN saved each time) until the kernel forgets the
		 * inode, within the budget of cached read fds: each kept id
		 * holds a file open in the kernel.  The kernel keeps its own
		 * reference for as long as its opens need the file.
		 */
		backing_drop(s, i);
	}
	pthread_mutex_unlock(fs_pt_lock(i));
}

void fs_pt_forget(struct fs_session *s, struct fs_inode *i)
{
	/* After the session's end the ids died with the connection. */
	if (i->pt_backing > 0 && s->passthrough)
		backing_drop(s, i);
}

/*
 * Whether the kernel took the INIT request: a backing file can only be
 * registered once it did (fs/fuse/backing.c checks fc->passthrough and
 * CAP_SYS_ADMIN), so register one and drop it.
 */
static void probe(struct fs_session *s)
{
	_cleanup_close_ int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	struct fs_backing_map map = { 0 };
	int id;

	if (fd < 0) {
		s->pt_why = "cannot open a file to probe with";
		return;
	}
	map.fd = fd;
	id = ioctl(fuse_session_fd(s->se), FS_DEV_IOC_BACKING_OPEN, &map);
	if (id < 0) {
		s->pt_why = errno == EPERM ? "the kernel refused it (EPERM: not root in the "
					     "initial user namespace, or not negotiated)" :
					     "the kernel refused a backing file";
		return;
	}
	backing_close(s, id);
	s->passthrough = true;
}

int fs_pt_setup(struct fs_session *s)
{
	static const struct fuse_custom_io io = {
		.read = pt_read,
		.writev = pt_writev,
		.splice_send = pt_splice_send,
	};
	struct fuse_buf buf = { .mem = NULL };
	int r;

	r = fuse_session_custom_io(s->se, &io, fuse_session_fd(s->se));
	if (r < 0)
		return r;
	/*
	 * INIT is the first request of a mount (fs/fuse/inode.c
	 * fuse_send_init()).  Serving it here, before fuse_daemonize(),
	 * lets -v say what the kernel agreed to.
	 */
	r = fuse_session_receive_buf(s->se, &buf);
	if (r <= 0) {
		free(buf.mem);
		return r < 0 ? r : -ENODEV;
	}
	fuse_session_process_buf(s->se, &buf);
	free(buf.mem);
	if (s->pt_asked)
		probe(s);
	if (!s->passthrough && !s->pt_why)
		s->pt_why = "the first request was not INIT";
	return 0;
}
