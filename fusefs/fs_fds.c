// SPDX-License-Identifier: Apache-2.0
/*
 * fs_fds.c - the daemon's descriptor budget.  An inode record holds no fd
 * of its own: the O_PATH fds on its source and delta objects and its data
 * fd are a cache kept under one budget (--fd-cache), whatever the number
 * of inodes the kernel remembers.  Inodes holding cached fds sit on one
 * list; a sweeping thread (second chance: a used inode is passed over
 * once) closes cold fds when the count goes over the budget.  A closed
 * O_PATH fd is opened again on demand by name in the parent (itself
 * reopened the same way, up to the root, whose fds stay), and the object
 * found must be the one the inode stands for, by (st_dev, st_ino): the
 * source may change underneath, and then the answer is ESTALE, never
 * another object's data.
 *
 * O_PATH fds are read under ns_lock and closed only by the sweep, which
 * holds it for writing: an fd a handler got stays valid until it unlocks.
 * Data fds are guarded by io_lock, and the sweep only try-locks it.
 * Objects whose delta name goes while the kernel still knows them (unlink
 * or rename over a file the sandbox holds open) have no path to be found
 * by again: their fds are pinned (fs_pin_victims) until FORGET.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "delta.h"
#include "fs.h"

/* ns_lock acquisitions this thread holds (the outermost one waits at the gate). */
static __thread int ns_depth;

/* How long a reader gives a due sweep before it goes ahead anyway. */
#define GATE_WAIT_NS (2 * 1000 * 1000)

static void gate_wait(struct fs_session *s)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += GATE_WAIT_NS;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&s->trim_mu);
	/*
	 * Bounded: this thread may hold an io_lock or pt_lock that a reader
	 * inside ns_lock waits for, and the sweep waits for that reader.
	 */
	while (atomic_load(&s->trim_wanted) &&
	       pthread_cond_timedwait(&s->gate_cv, &s->trim_mu, &until) == 0)
		;
	pthread_mutex_unlock(&s->trim_mu);
}

void fs_ns_rdlock(struct fs_session *s)
{
	if (ns_depth++ == 0 && atomic_load_explicit(&s->trim_wanted, memory_order_relaxed))
		gate_wait(s);
	pthread_rwlock_rdlock(&s->ns_lock);
}

void fs_ns_wrlock(struct fs_session *s)
{
	ns_depth++;
	pthread_rwlock_wrlock(&s->ns_lock);
}

static void want_trim(struct fs_session *s)
{
	if (!s->trim_running || atomic_exchange(&s->trim_wanted, true))
		return;
	pthread_mutex_lock(&s->trim_mu);
	pthread_cond_signal(&s->trim_cv);
	pthread_mutex_unlock(&s->trim_mu);
}

void fs_ns_unlock(struct fs_session *s)
{
	pthread_rwlock_unlock(&s->ns_lock);
	assert(ns_depth > 0);
	ns_depth--;
}

/* --- the list ----------------------------------------------------------- */

static struct fs_inode *of_link(struct fs_fdlink *l)
{
	return (struct fs_inode *)((char *)l - offsetof(struct fs_inode, fdl));
}

static bool listed(const struct fs_inode *i)
{
	return i->fdl.next != NULL;
}

/* Pinned fds are not the sweep's: the root's, an orphan's, a stand-in's. */
static bool pinned(struct fs_session *s, const struct fs_inode *i)
{
	return i == &s->root || i->orphan || !i->parent;
}

static void note_peak(struct fs_session *s)
{
	int64_t now = atomic_load(&s->fd_count) + atomic_load(&s->fd_pinned);
	int64_t peak = atomic_load(&s->fd_peak);

	while (now > peak && !atomic_compare_exchange_weak(&s->fd_peak, &peak, now))
		;
}

/* One more cached fd on I; fd_lock held. */
static void account(struct fs_session *s, struct fs_inode *i)
{
	if (pinned(s, i)) {
		atomic_fetch_add(&s->fd_pinned, 1);
	} else {
		if (!listed(i)) {
			i->fdl.prev = s->fd_list.prev;
			i->fdl.next = &s->fd_list;
			s->fd_list.prev->next = &i->fdl;
			s->fd_list.prev = &i->fdl;
		}
		/* Early, so that the sweep is done before the budget is reached. */
		if (atomic_fetch_add(&s->fd_count, 1) + 1 > s->fd_budget - s->fd_budget / 8)
			want_trim(s);
	}
	note_peak(s);
}

static void unlist(struct fs_session *s, struct fs_inode *i)
{
	if (!listed(i))
		return;
	if (s->fd_hand == &i->fdl)
		s->fd_hand = i->fdl.next;
	i->fdl.prev->next = i->fdl.next;
	i->fdl.next->prev = i->fdl.prev;
	i->fdl.prev = i->fdl.next = NULL;
}

/* One cached fd fewer on I; fd_lock held. */
static void unaccount(struct fs_session *s, struct fs_inode *i)
{
	if (pinned(s, i) && !listed(i))
		atomic_fetch_sub(&s->fd_pinned, 1);
	else
		atomic_fetch_sub(&s->fd_count, 1);
	if (listed(i) && i->src_fd < 0 && i->upper_fd < 0 && i->data_fd < 0)
		unlist(s, i);
}

static int cached(const int *slot)
{
	return __atomic_load_n(slot, __ATOMIC_ACQUIRE);
}

/* Stores FD in *SLOT unless another thread was first (then FD is closed). */
static int install(struct fs_session *s, struct fs_inode *i, int *slot, int fd)
{
	pthread_mutex_lock(&s->fd_lock);
	if (*slot >= 0) {
		(void)close(fd);
		fd = *slot;
	} else {
		__atomic_store_n(slot, fd, __ATOMIC_RELEASE);
		account(s, i);
	}
	pthread_mutex_unlock(&s->fd_lock);
	return fd;
}

void fs_data_fd_set(struct fs_session *s, struct fs_inode *i, int fd, bool rw)
{
	pthread_mutex_lock(&s->fd_lock);
	if (i->data_fd >= 0)
		(void)close(i->data_fd); /* one fd for another: the count stays */
	else
		account(s, i);
	i->data_fd = fd;
	i->data_rw = rw;
	pthread_mutex_unlock(&s->fd_lock);
}

static void close_slot(struct fs_session *s, struct fs_inode *i, int *slot)
{
	if (*slot < 0)
		return;
	(void)close(*slot);
	__atomic_store_n(slot, -1, __ATOMIC_RELEASE);
	unaccount(s, i);
}

void fs_fds_release(struct fs_session *s, struct fs_inode *i)
{
	struct stat st;

	/* The last fd on a deleted file goes now: so does what it cost. */
	if (i->owes && i->upper_fd >= 0 && fstat(i->upper_fd, &st) == 0 && st.st_nlink == 0)
		delta_uncharge(s, delta_cost(&st));
	pthread_mutex_lock(&s->fd_lock);
	close_slot(s, i, &i->src_fd);
	close_slot(s, i, &i->upper_fd);
	close_slot(s, i, &i->data_fd);
	unlist(s, i);
	pthread_mutex_unlock(&s->fd_lock);
}

/* --- reopening ---------------------------------------------------------- */

static bool same_object(struct fs_session *s, const struct fs_inode *i, bool upper,
			const struct stat *st)
{
	if ((st->st_mode & S_IFMT) != i->type)
		return false;
	if (upper)
		return st->st_dev == s->upper_dev && st->st_ino == i->upper_ino;
	return st->st_dev == i->src_dev && st->st_ino == i->src_ino;
}

static int side_fd(struct fs_session *s, struct fs_inode *i, bool upper);

/* I's object opened by name in its parent with FLAGS, identity checked. */
static int open_by_name(struct fs_session *s, struct fs_inode *i, bool upper, int flags)
{
	struct stat st;
	int dfd, fd;

	if (!i->parent || i->orphan) {
		errno = ESTALE;
		return -1;
	}
	dfd = side_fd(s, i->parent, upper);
	if (dfd < 0)
		return -1;
	fd = fs_openat(s, dfd, i->name, flags | O_NOFOLLOW | O_CLOEXEC, 0);
	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)
			errno = ESTALE;
		return -1;
	}
	if (fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) {
		int e = errno;

		(void)close(fd);
		errno = e;
		return -1;
	}
	if (!same_object(s, i, upper, &st)) {
		(void)close(fd);
		atomic_fetch_add(&s->fd_stale, 1);
		errno = ESTALE;
		return -1;
	}
	return fd;
}

static int side_fd(struct fs_session *s, struct fs_inode *i, bool upper)
{
	int *slot = upper ? &i->upper_fd : &i->src_fd;
	int fd = cached(slot);

	assert(ns_depth > 0);
	if (fd >= 0) {
		if (!atomic_load_explicit(&i->fd_ref, memory_order_relaxed))
			atomic_store_explicit(&i->fd_ref, true, memory_order_relaxed);
		return fd;
	}
	if (!(upper ? i->has_upper : i->has_src)) {
		errno = EIO;
		return -1;
	}
	fd = open_by_name(s, i, upper, O_PATH);
	if (fd < 0)
		return -1;
	atomic_fetch_add(&s->fd_reopened, 1);
	atomic_store_explicit(&i->fd_ref, true, memory_order_relaxed);
	return install(s, i, slot, fd);
}

int fs_src(struct fs_session *s, struct fs_inode *i)
{
	return side_fd(s, i, false);
}

int fs_upper(struct fs_session *s, struct fs_inode *i)
{
	return side_fd(s, i, true);
}

int fs_object(struct fs_session *s, struct fs_inode *i)
{
	return side_fd(s, i, i->has_upper);
}

int fs_open_object(struct fs_session *s, struct fs_inode *i, bool upper, int flags)
{
	char p[32];
	int fd = cached(upper ? &i->upper_fd : &i->src_fd);

	if (!(upper ? i->has_upper : i->has_src)) {
		errno = EIO;
		return -1;
	}
	/* The cached O_PATH fd names the very object: reopen through its magic link. */
	if (fd >= 0 || i->orphan || !i->parent) {
		fd = side_fd(s, i, upper);
		if (fd < 0)
			return -1;
		return fs_openat(s, AT_FDCWD, delta_fd_path(fd, p, sizeof(p)), flags | O_CLOEXEC,
				 0);
	}
	/*
	 * O_NONBLOCK: should the name be a FIFO now, the open does not wait
	 * for a writer, and the identity check refuses it.
	 */
	return open_by_name(s, i, upper, flags | O_NONBLOCK);
}

int fs_lstat_object(struct fs_session *s, struct fs_inode *i, struct stat *st)
{
	bool upper = i->has_upper;
	int fd = cached(upper ? &i->upper_fd : &i->src_fd), dfd;

	if (fd >= 0 || i->orphan || !i->parent) {
		fd = side_fd(s, i, upper);
		if (fd < 0 || fstatat(fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
		return 0;
	}
	/* No fd needed for attributes: by name in the parent, identity checked. */
	dfd = side_fd(s, i->parent, upper);
	if (dfd < 0)
		return -errno;
	if (fstatat(dfd, i->name, st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT || errno == ENOTDIR ? -ESTALE : -errno;
	if (!same_object(s, i, upper, st)) {
		atomic_fetch_add(&s->fd_stale, 1);
		return -ESTALE;
	}
	return 0;
}

void fs_set_upper(struct fs_session *s, struct fs_inode *i, int fd, const struct stat *st)
{
	i->upper_ino = st->st_ino;
	if (s->upper_dev == 0)
		s->upper_dev = st->st_dev;
	__atomic_store_n(&i->has_upper, true, __ATOMIC_RELEASE);
	if (fd >= 0)
		(void)install(s, i, &i->upper_fd, fd);
}

void fs_drop_src(struct fs_session *s, struct fs_inode *i)
{
	pthread_mutex_lock(&s->fd_lock);
	close_slot(s, i, &i->src_fd);
	i->has_src = false;
	pthread_mutex_unlock(&s->fd_lock);
}

bool fs_pin_victims(struct fs_session *s, struct fs_inode *dir, const char *name,
		    const struct stat *st, bool owe)
{
	struct fs_inode *found[8];
	size_t n = 0, k;
	bool owed = false;
	int level;

	for (level = POLICY_NONE; level <= POLICY_WRITE; level++) {
		struct fs_inode *i = fs_inode_find(s, st->st_dev, st->st_ino, level, dir, name);

		if (!i)
			continue;
		if (n < ARRAY_SIZE(found))
			found[n++] = i;
		else
			fs_inode_forget(s, i, 1);
	}
	for (k = 0; k < n; k++) {
		struct fs_inode *i = found[k];

		if (i->parent != dir || !i->has_upper || i->upper_ino != st->st_ino ||
		    strcmp(i->name, name))
			continue;
		if (i->orphan) {
			owed = owed || i->owes; /* pinned already (a rename that failed) */
			continue;
		}
		if (fs_upper(s, i) < 0)
			continue;
		pthread_mutex_lock(&s->fd_lock);
		if (listed(i)) {
			/* Its fds move from the sweep's count to the pinned one. */
			int64_t n_fds = (i->src_fd >= 0) + (i->upper_fd >= 0) + (i->data_fd >= 0);

			unlist(s, i);
			atomic_fetch_sub(&s->fd_count, n_fds);
			atomic_fetch_add(&s->fd_pinned, n_fds);
		}
		i->orphan = true;
		if (owe && !owed)
			i->owes = owed = true;
		pthread_mutex_unlock(&s->fd_lock);
	}
	for (k = 0; k < n; k++)
		fs_inode_forget(s, found[k], 1);
	return owed;
}

/* --- the sweep ---------------------------------------------------------- */

/* Closes the cold fds until the count is back to half the budget. */
static void sweep(struct fs_session *s)
{
	int64_t target = s->fd_budget / 2;
	int64_t steps = 2 * atomic_load(&s->fd_count) + 2;

	pthread_mutex_lock(&s->fd_lock);
	if (!s->fd_hand)
		s->fd_hand = s->fd_list.next;
	while (atomic_load(&s->fd_count) > target && steps-- > 0) {
		struct fs_inode *i;

		if (s->fd_hand == &s->fd_list) {
			s->fd_hand = s->fd_list.next;
			if (s->fd_hand == &s->fd_list)
				break;
		}
		i = of_link(s->fd_hand);
		s->fd_hand = s->fd_hand->next;
		if (atomic_exchange(&i->fd_ref, false))
			continue;
		if (i->src_fd >= 0)
			atomic_fetch_add(&s->fd_evicted, 1);
		if (i->upper_fd >= 0)
			atomic_fetch_add(&s->fd_evicted, 1);
		/* unaccount() may unlist I: the hand has moved past it already. */
		if (i->data_fd >= 0 && pthread_rwlock_trywrlock(fs_io_lock(i)) == 0) {
			atomic_fetch_add(&s->fd_evicted, 1);
			close_slot(s, i, &i->data_fd);
			pthread_rwlock_unlock(fs_io_lock(i));
		}
		close_slot(s, i, &i->src_fd);
		close_slot(s, i, &i->upper_fd);
	}
	pthread_mutex_unlock(&s->fd_lock);
}

static void *trim_main(void *arg)
{
	struct fs_session *s = arg;

	pthread_mutex_lock(&s->trim_mu);
	for (;;) {
		while (!s->trim_stop && !atomic_load(&s->trim_wanted))
			pthread_cond_wait(&s->trim_cv, &s->trim_mu);
		if (s->trim_stop)
			break;
		pthread_mutex_unlock(&s->trim_mu);
		pthread_rwlock_wrlock(&s->ns_lock);
		sweep(s);
		pthread_rwlock_unlock(&s->ns_lock);
		pthread_mutex_lock(&s->trim_mu);
		atomic_store(&s->trim_wanted, false);
		pthread_cond_broadcast(&s->gate_cv);
	}
	pthread_mutex_unlock(&s->trim_mu);
	return NULL;
}

size_t fs_reclaim_read_fds(struct fs_session *s)
{
	struct fs_fdlink *l;
	size_t n = 0;

	pthread_mutex_lock(&s->fd_lock);
	for (l = s->fd_list.next; l && l != &s->fd_list;) {
		struct fs_inode *i = of_link(l);

		l = l->next;
		/* trylock: io_lock ranks above fd_lock (fs.h). */
		if (i->data_fd >= 0 && pthread_rwlock_trywrlock(fs_io_lock(i)) == 0) {
			close_slot(s, i, &i->data_fd);
			pthread_rwlock_unlock(fs_io_lock(i));
			n++;
		}
	}
	pthread_mutex_unlock(&s->fd_lock);
	want_trim(s);
	return n;
}

int fs_fds_init(struct fs_session *s, int64_t budget)
{
	struct stat st;

	s->fd_budget = budget;
	s->fd_list.prev = s->fd_list.next = &s->fd_list;
	s->fd_hand = NULL;
	pthread_mutex_init(&s->fd_lock, NULL);
	pthread_mutex_init(&s->trim_mu, NULL);
	pthread_cond_init(&s->trim_cv, NULL);
	pthread_cond_init(&s->gate_cv, NULL);
	if (s->upper_root >= 0 && fstat(s->upper_root, &st) == 0)
		s->upper_dev = st.st_dev;
	s->trim_stop = false;
	return 0;
}

int fs_fds_start(struct fs_session *s)
{
	if (pthread_create(&s->trim_thread, NULL, trim_main, s) != 0)
		return -EAGAIN;
	s->trim_running = true;
	return 0;
}

void fs_fds_stop(struct fs_session *s)
{
	if (!s->trim_running)
		return;
	pthread_mutex_lock(&s->trim_mu);
	s->trim_stop = true;
	pthread_cond_signal(&s->trim_cv);
	pthread_mutex_unlock(&s->trim_mu);
	pthread_join(s->trim_thread, NULL);
	s->trim_running = false;
}

void fs_fds_stats(struct fs_session *s, char *buf, size_t len)
{
	struct mallinfo2 mi = mallinfo2();

	snprintf(buf, len,
		 "{\"inodes\":%lld,\"inodes_peak\":%lld,\"fds\":%lld,\"fds_peak\":%lld,"
		 "\"fd_cache\":%lld,\"evictions\":%llu,\"reopens\":%llu,\"stale\":%llu,"
		 "\"heap_bytes\":%zu}",
		 (long long)atomic_load(&s->inodes), (long long)atomic_load(&s->inodes_peak),
		 (long long)(atomic_load(&s->fd_count) + atomic_load(&s->fd_pinned)),
		 (long long)atomic_load(&s->fd_peak), (long long)s->fd_budget,
		 (unsigned long long)atomic_load(&s->fd_evicted),
		 (unsigned long long)atomic_load(&s->fd_reopened),
		 (unsigned long long)atomic_load(&s->fd_stale), mi.uordblks);
}
