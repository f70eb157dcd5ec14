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
 * It is only a speed-up: a full queue drops names, and a notification
 * for a node the kernel has forgotten (ENOENT) is harmless.  The thread
 * runs outside any request, as libfuse asks of notifications.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fs.h"

#define NOTIFY_SLOTS 4096 /* a power of two */
/* How long queued directories wait, so a directory read file by file is sent once. */
#define NOTIFY_BATCH_NS (5 * 1000 * 1000)

struct fs_notifier {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	bool stop;
	size_t count;
	fuse_ino_t slot[NOTIFY_SLOTS]; /* open addressing; 0 is empty */
	fuse_ino_t batch[NOTIFY_SLOTS / 2]; /* the thread's copy of the taken set */
};

static size_t slot_of(fuse_ino_t ino)
{
	uint64_t h = (uint64_t)ino * 0x9e3779b97f4a7c15ULL;

	return (size_t)(h >> 52) & (NOTIFY_SLOTS - 1);
}

void fs_notify_dir_stale(struct fs_session *s, fuse_ino_t dir)
{
	struct fs_notifier *n = s->notifier;
	size_t k;

	if (!n || !dir)
		return;
	pthread_mutex_lock(&n->lock);
	/* Kept at most half full, so probes stay short and always end. */
	if (n->count < NOTIFY_SLOTS / 2) {
		for (k = slot_of(dir); n->slot[k] && n->slot[k] != dir; k = (k + 1) & (NOTIFY_SLOTS - 1))
			;
		if (!n->slot[k]) {
			n->slot[k] = dir;
			if (n->count++ == 0)
				pthread_cond_signal(&n->cond);
		}
	}
	pthread_mutex_unlock(&n->lock);
}

void fs_notify_read(struct fs_session *s, struct fs_inode *i)
{
	const struct fs_inode *d;

	if (atomic_exchange(&i->atime_stale, true))
		return;
	pthread_rwlock_rdlock(&s->ns_lock);
	for (d = i->parent; d; d = d->parent)
		fs_notify_dir_stale(s, d == &s->root ? FUSE_ROOT_ID : (fuse_ino_t)(uintptr_t)d);
	pthread_rwlock_unlock(&s->ns_lock);
}

static void *notify_main(void *arg)
{
	struct fs_session *s = arg;
	struct fs_notifier *n = s->notifier;
	const struct timespec wait = { 0, NOTIFY_BATCH_NS };
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
		got = 0;
		for (k = 0; k < NOTIFY_SLOTS; k++) {
			if (n->slot[k]) {
				n->batch[got++] = n->slot[k];
				n->slot[k] = 0;
			}
		}
		n->count = 0;
		pthread_mutex_unlock(&n->lock);
		for (k = 0; k < got; k++)
			(void)fuse_lowlevel_notify_inval_inode(s->se, n->batch[k], 0, 0);
		pthread_mutex_lock(&n->lock);
	}
	pthread_mutex_unlock(&n->lock);
	return NULL;
}

int fs_notify_start(struct fs_session *s)
{
	struct fs_notifier *n = calloc(1, sizeof(*n));
	int r;

	if (!n)
		return -ENOMEM;
	pthread_mutex_init(&n->lock, NULL);
	pthread_cond_init(&n->cond, NULL);
	s->notifier = n;
	r = pthread_create(&n->thread, NULL, notify_main, s);
	if (r) {
		s->notifier = NULL;
		pthread_cond_destroy(&n->cond);
		pthread_mutex_destroy(&n->lock);
		free(n);
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
	pthread_cond_destroy(&n->cond);
	pthread_mutex_destroy(&n->lock);
	free(n);
}
