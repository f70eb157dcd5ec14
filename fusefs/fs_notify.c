// SPDX-License-Identifier: Apache-2.0
/*
 * fs_notify.c - drops the kernel's cached listing of a directory after
 * files in it were read, so that the next listing refreshes their
 * attributes in bulk.
 *
 * After a READ the kernel marks the file's atime stale
 * (fs/fuse/file.c fuse_invalidate_atime(); only a read-only superblock
 * is spared), and the next stat(2) of the file then costs a GETATTR.  A
 * second `grep -r` over a tree paid one per file -- 8,800 over
 * /usr/include, 4.7x native.  A READDIRPLUS reply carries the attributes
 * of every entry and clears that mark (fuse_direntplus_link()), but a
 * listing the kernel has cached (FOPEN_CACHE_DIR, the default with zero-
 * message opens) never asks again.  So: the first READ of a file since
 * its attributes were last sent queues its parent, and a thread sends
 * FUSE_NOTIFY_INVAL_INODE for each queued directory (offset 0, whole
 * range), which drops its cached pages and with them its cached listing
 * (fs/fuse/readdir.c notices the missing page).  The next readdir of
 * that directory is one READDIRPLUS per buffer instead of a GETATTR per
 * file; a listing nothing was read from stays cached.  The ancestors go
 * too: a directory listed anew has a stale atime of its own, and the
 * relisting of its parent, which a walk does first, refreshes it.
 *
 * Dropping the listing only moves the cost to the next walk, one
 * READDIRPLUS and one empty end-of-listing reply per directory, each a
 * round trip.  So, on a mount with a path (not fence-run's /dev/fd
 * ones), a helper process lists each dropped directory again through the
 * mount right away, deepest first: the kernel refetches it, the
 * attributes come back fresh, and the next walk finds every listing
 * cached and every attribute valid.  Listing a directory marks its own
 * atime stale too, which the listing of its parent, done after it,
 * refreshes; only the root's is left.  The helper is a process, not a
 * thread, so that a request left unanswered at shutdown cannot hold the
 * daemon: SIGKILL ends its wait (and the daemon's death ends it).  It
 * never keeps a descriptor on the mount between batches, so a lazy
 * unmount completes, and it resolves paths beneath the mount's root only
 * (openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), so a name a sandbox
 * renamed or replaced by a symlink sends it nowhere else.
 *
 * It is only a speed-up: a full queue or pipe drops names, and a
 * notification for a node the kernel has forgotten (ENOENT) is
 * harmless.  The thread runs outside any request, as libfuse asks of
 * notifications.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fs.h"

#define NOTIFY_SLOTS 4096 /* a power of two */
/*
 * A directory is dropped and listed again once no file in it or beneath
 * it has been read for this long: one listing per read episode, not one
 * per file (10,000 files read in one directory would otherwise relist it
 * over and over, and slow down whatever comes next there).
 */
#define NOTIFY_QUIET_NS (30 * 1000 * 1000ULL)

struct notify_slot {
	fuse_ino_t ino;  /* 0: empty */
	char *path;      /* relative to the root ("" for it), NULL without a helper */
	int depth;
	uint64_t last;   /* when a read last queued it (CLOCK_MONOTONIC, ns) */
};

struct fs_notifier {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	bool stop;
	size_t count;
	struct notify_slot slot[NOTIFY_SLOTS]; /* open addressing */
	struct notify_slot batch[NOTIFY_SLOTS / 2]; /* the thread's: taken now */
	struct notify_slot keep[NOTIFY_SLOTS / 2];  /* the thread's: not quiet yet */
	pid_t helper;   /* the relisting process, 0 none */
	int helper_fd;  /* the pipe to it (non-blocking), -1 none */
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static size_t slot_of(fuse_ino_t ino)
{
	uint64_t h = (uint64_t)ino * 0x9e3779b97f4a7c15ULL;

	return (size_t)(h >> 52) & (NOTIFY_SLOTS - 1);
}

/* The slot holding INO, or the empty one where it would go (n->lock held). */
static struct notify_slot *find_slot(struct fs_notifier *n, fuse_ino_t ino)
{
	size_t k;

	for (k = slot_of(ino); n->slot[k].ino && n->slot[k].ino != ino;
	     k = (k + 1) & (NOTIFY_SLOTS - 1))
		;
	return &n->slot[k];
}

/*
 * Queues DIR, a directory's node id, at NOW; PATH, its path with DEPTH
 * components, goes with it when a helper will list it.  n->lock held.
 */
static void queue_locked(struct fs_notifier *n, fuse_ino_t dir, const char *path, int depth,
			 uint64_t now)
{
	struct notify_slot *e = find_slot(n, dir);

	if (e->ino) {
		e->last = now;
		return;
	}
	/* Kept at most half full, so probes stay short and always end. */
	if (n->count >= NOTIFY_SLOTS / 2)
		return;
	*e = (struct notify_slot){
		.ino = dir,
		.path = path ? strdup(path) : NULL,
		.depth = depth,
		.last = now,
	};
	if (n->count++ == 0)
		pthread_cond_signal(&n->cond);
}

void fs_notify_read(struct fs_session *s, struct fs_inode *i)
{
	struct fs_notifier *n = s->notifier;
	const struct fs_inode *d;
	char path[PATH_MAX];
	bool with_path;
	uint64_t now;
	int depth = 0;
	char *c;

	if (!n || atomic_exchange(&i->atime_stale, true) || !i->parent)
		return;
	now = now_ns();
	fs_ns_rdlock(s);
	/* The parent's path once; each ancestor's is a prefix of it. */
	with_path = n->helper_fd >= 0 && fs_inode_path(i->parent, path, sizeof(path)) == 0;
	if (with_path && path[0])
		for (depth = 1, c = path; *c; c++)
			depth += *c == '/';
	pthread_mutex_lock(&n->lock);
	for (d = i->parent; d; d = d->parent) {
		queue_locked(n, d == &s->root ? FUSE_ROOT_ID : (fuse_ino_t)(uintptr_t)d,
			     with_path ? path : NULL, depth, now);
		if (with_path && depth > 0) {
			c = strrchr(path, '/');
			*(c ? c : path) = '\0';
			depth--;
		}
	}
	pthread_mutex_unlock(&n->lock);
	fs_ns_unlock(s);
}

/* Deepest first, so that a parent is listed after its children. */
static int by_depth(const void *a, const void *b)
{
	const struct notify_slot *x = a, *y = b;

	return (y->depth > x->depth) - (y->depth < x->depth);
}

/*
 * Hands PATH to the helper: a length, then the bytes.  Dropped when the
 * pipe is full, or when longer than PIPE_BUF (only that much is written
 * whole or not at all).
 */
static void send_path(struct fs_notifier *n, const char *path)
{
	char rec[PIPE_BUF];
	uint32_t len = (uint32_t)strlen(path);

	if (sizeof(len) + len > sizeof(rec))
		return;
	memcpy(rec, &len, sizeof(len));
	memcpy(rec + sizeof(len), path, len);
	(void)!write(n->helper_fd, rec, sizeof(len) + len);
}

/* Takes the directories quiet for NOTIFY_QUIET_NS into n->batch; n->lock held. */
static size_t take_quiet(struct fs_notifier *n)
{
	uint64_t now = now_ns();
	size_t k, got = 0, kept = 0;

	for (k = 0; k < NOTIFY_SLOTS; k++) {
		struct notify_slot *e = &n->slot[k];

		if (!e->ino)
			continue;
		if (now - e->last >= NOTIFY_QUIET_NS)
			n->batch[got++] = *e;
		else
			n->keep[kept++] = *e;
		e->ino = 0;
		e->path = NULL;
	}
	n->count = kept;
	for (k = 0; k < kept; k++)
		*find_slot(n, n->keep[k].ino) = n->keep[k];
	return got;
}

static void *notify_main(void *arg)
{
	struct fs_session *s = arg;
	struct fs_notifier *n = s->notifier;
	const struct timespec wait = { 0, NOTIFY_QUIET_NS / 3 };
	size_t k, got;

	pthread_mutex_lock(&n->lock);
	for (;;) {
		while (!n->count && !n->stop)
			pthread_cond_wait(&n->cond, &n->lock);
		if (n->stop)
			break;
		pthread_mutex_unlock(&n->lock);
		(void)nanosleep(&wait, NULL);
		pthread_mutex_lock(&n->lock);
		got = take_quiet(n);
		if (!got)
			continue;
		pthread_mutex_unlock(&n->lock);
		for (k = 0; k < got; k++)
			(void)fuse_lowlevel_notify_inval_inode(s->se, n->batch[k].ino, 0, 0);
		/* Deepest first, so that a parent is listed after its children. */
		qsort(n->batch, got, sizeof(n->batch[0]), by_depth);
		for (k = 0; k < got; k++) {
			if (n->batch[k].path)
				send_path(n, n->batch[k].path);
			free(n->batch[k].path);
		}
		pthread_mutex_lock(&n->lock);
	}
	pthread_mutex_unlock(&n->lock);
	return NULL;
}

/* Reads exactly LEN bytes; false at end of file or on error. */
static bool read_full(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		ssize_t r = read(fd, p, len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		p += r;
		len -= (size_t)r;
	}
	return true;
}

/*
 * The helper: lists each directory it is sent through the mount at MNT,
 * whose root has inode number ROOT_INO.  Only system calls: it was forked
 * from a threaded process.
 */
static _Noreturn void helper_main(int in, const char *mnt, uint64_t root_ino)
{
	static char path[PATH_MAX + 1];
	static char dents[64 * 1024];
	struct open_how how = {
		.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	uint32_t len;

	while (read_full(in, &len, sizeof(len))) {
		struct statfs sf;
		struct stat st;
		int root, d;

		if (len > PATH_MAX || !read_full(in, path, len))
			break;
		path[len] = '\0';
		/* A fresh root each time: nothing held between batches (lazy umount). */
		root = open(mnt, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (root < 0)
			continue;
		if (fstatfs(root, &sf) == 0 && sf.f_type == FUSE_SUPER_MAGIC &&
		    fstat(root, &st) == 0 && st.st_ino == root_ino) {
			d = (int)syscall(SYS_openat2, root, len ? path : ".", &how, sizeof(how));
			if (d >= 0) {
				while (syscall(SYS_getdents64, d, dents, sizeof(dents)) > 0)
					;
				close(d);
			}
		}
		close(root);
	}
	_exit(0);
}

/* Starts the helper for the mount at MNT; false when it cannot be had. */
static bool start_helper(struct fs_notifier *n, const char *mnt, uint64_t root_ino)
{
	pid_t parent = getpid();
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return false;
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return false;
	}
	if (pid == 0) {
		sigset_t none;

		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(0);
		sigemptyset(&none);
		(void)sigprocmask(SIG_SETMASK, &none, NULL);
		/* Nothing of the daemon's but the pipe: above all not /dev/fuse. */
		if (dup2(p[0], 3) < 0)
			_exit(1);
		(void)syscall(SYS_close_range, 4U, ~0U, 0U);
		(void)prctl(PR_SET_NAME, "fencefs-relist");
		helper_main(3, mnt, root_ino);
	}
	close(p[0]);
	(void)fcntl(p[1], F_SETFL, O_NONBLOCK);
	n->helper = pid;
	n->helper_fd = p[1];
	return true;
}

/* Ends the helper (SIGKILL ends a wait for a reply too) and frees N with its queue. */
static void fs_notify_free(struct fs_notifier *n)
{
	size_t k;

	if (n->helper_fd >= 0)
		close(n->helper_fd);
	if (n->helper > 0) {
		(void)kill(n->helper, SIGKILL);
		while (waitpid(n->helper, NULL, 0) < 0 && errno == EINTR)
			;
	}
	for (k = 0; k < NOTIFY_SLOTS; k++)
		if (n->slot[k].ino)
			free(n->slot[k].path);
	pthread_cond_destroy(&n->cond);
	pthread_mutex_destroy(&n->lock);
	free(n);
}

bool fs_notify_is_helper(const struct fs_session *s, pid_t pid)
{
	return s->notifier && s->notifier->helper && pid == s->notifier->helper;
}

int fs_notify_start(struct fs_session *s, const char *mnt)
{
	struct fs_notifier *n = calloc(1, sizeof(*n));
	int r;

	if (!n)
		return -ENOMEM;
	pthread_mutex_init(&n->lock, NULL);
	pthread_cond_init(&n->cond, NULL);
	n->helper_fd = -1;
	if (mnt && !start_helper(n, mnt, s->root.report_ino))
		fprintf(stderr, "fencefs: no relisting helper: %s\n", strerror(errno));
	s->notifier = n;
	r = pthread_create(&n->thread, NULL, notify_main, s);
	if (r) {
		s->notifier = NULL;
		fs_notify_free(n);
		return -r;
	}
	return 0;
}

void fs_notify_stop(struct fs_session *s)
{
	struct fs_notifier *n = s->notifier;

	if (!n)
		return;
	pthread_mutex_lock(&n->lock);
	n->stop = true;
	pthread_cond_signal(&n->cond);
	pthread_mutex_unlock(&n->lock);
	(void)pthread_join(n->thread, NULL);
	s->notifier = NULL;
	fs_notify_free(n);
}
