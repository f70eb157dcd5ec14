// SPDX-License-Identifier: Apache-2.0
/*
 * fs_inode.c - the inode table: one inode per (object, level), keyed by
 * (st_dev, st_ino, level) so that hard links under different rules get
 * different FUSE node ids and never share a cached page or attribute
 * (issue 5).  Node ids are the inodes' addresses, as in libfuse's
 * passthrough_ll.c; the root is FUSE_ROOT_ID.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "fs.h"

static size_t bucket(const struct fs_session *s, dev_t dev, ino_t ino, enum policy_level level)
{
	uint64_t h = (uint64_t)ino * 0x9e3779b97f4a7c15ULL ^ (uint64_t)dev * 0xff51afd7ed558ccdULL ^
		     (uint64_t)level;

	return (size_t)(h ^ (h >> 29)) & (s->table_size - 1);
}

int fs_table_init(struct fs_session *s)
{
	struct fs_inode *r = &s->root;
	struct stat st;

	s->table_size = 4096;
	s->table = calloc(s->table_size, sizeof(*s->table));
	if (!s->table)
		return -ENOMEM;
	pthread_rwlock_init(&s->ns_lock, NULL);
	pthread_mutex_init(&s->table_lock, NULL);
	memset(r, 0, sizeof(*r));
	if (fstatat(s->src_root, "", &st, AT_EMPTY_PATH) < 0)
		return -errno;
	r->type = S_IFDIR;
	r->report_ino = st.st_ino;
	r->nlookup = 1;
	policy_resolve_root(s->policy, &r->dec);
	r->level = r->dec.level;
	r->write_beneath = r->level < POLICY_WRITE && fs_write_possible_beneath(s->policy, "");
	r->src_fd = fcntl(s->src_root, F_DUPFD_CLOEXEC, 0);
	r->upper_fd = fcntl(s->upper_root, F_DUPFD_CLOEXEC, 0);
	if (r->src_fd < 0 || r->upper_fd < 0)
		return -errno;
	r->opaque = false;
	r->data_fd = -1;
	pthread_rwlock_init(&r->io_lock, NULL);
	pthread_mutex_init(&r->dir_lock, NULL);
	pthread_mutex_init(&r->copy_lock, NULL);
	pthread_mutex_init(&r->pt_lock, NULL);
	return 0;
}

static void inode_free(struct fs_session *s, struct fs_inode *i)
{
	if (i->data_counted)
		atomic_fetch_sub(&s->read_fds, 1);
	if (i->src_fd >= 0)
		(void)close(i->src_fd);
	if (i->upper_fd >= 0)
		(void)close(i->upper_fd);
	if (i->data_fd >= 0)
		(void)close(i->data_fd);
	fs_dirlist_put(i->dirlist);
	pthread_rwlock_destroy(&i->io_lock);
	pthread_mutex_destroy(&i->dir_lock);
	pthread_mutex_destroy(&i->copy_lock);
	fs_pt_forget(s, i);
	pthread_mutex_destroy(&i->pt_lock);
	free(i->name);
	free(i);
}

void fs_table_destroy(struct fs_session *s)
{
	size_t b;

	for (b = 0; b < s->table_size; b++) {
		struct fs_inode *i = s->table ? s->table[b] : NULL;

		while (i) {
			struct fs_inode *next = i->hnext;

			inode_free(s, i);
			i = next;
		}
	}
	free(s->table);
	s->table = NULL;
	if (s->root.src_fd >= 0)
		(void)close(s->root.src_fd);
	if (s->root.upper_fd >= 0)
		(void)close(s->root.upper_fd);
	fs_dirlist_put(s->root.dirlist);
	s->root.dirlist = NULL;
}

struct fs_inode *fs_inode_get(struct fs_session *s, fuse_ino_t ino)
{
	if (ino == FUSE_ROOT_ID)
		return &s->root;
	return (struct fs_inode *)(uintptr_t)ino;
}

static void table_insert(struct fs_session *s, struct fs_inode *i)
{
	size_t b = bucket(s, i->key_dev, i->key_ino, i->level);

	i->hnext = s->table[b];
	s->table[b] = i;
}

static void table_remove(struct fs_session *s, struct fs_inode *i)
{
	struct fs_inode **pp = &s->table[bucket(s, i->key_dev, i->key_ino, i->level)];

	while (*pp && *pp != i)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = i->hnext;
	i->hnext = NULL;
}

/* Doubles the table when it gets crowded; table_lock held.  Failure is harmless. */
static void table_grow(struct fs_session *s)
{
	struct fs_inode **old = s->table;
	size_t b, oldsize = s->table_size;
	struct fs_inode **neu = calloc(oldsize * 2, sizeof(*neu));

	if (!neu)
		return;
	s->table = neu;
	s->table_size = oldsize * 2;
	for (b = 0; b < oldsize; b++) {
		struct fs_inode *i = old[b];

		while (i) {
			struct fs_inode *next = i->hnext;

			table_insert(s, i);
			i = next;
		}
	}
	free(old);
}

/* The inode keyed (dev, ino, level) for NAME in PARENT, one more nlookup; table_lock held. */
static struct fs_inode *table_find(struct fs_session *s, dev_t dev, ino_t ino,
				   enum policy_level level, const struct fs_inode *parent,
				   const char *name, bool per_name)
{
	struct fs_inode *i;

	for (i = s->table[bucket(s, dev, ino, level)]; i; i = i->hnext) {
		if (i->key_dev == dev && i->key_ino == ino && i->level == level &&
		    (!i->per_name || (per_name && i->parent == parent && !strcmp(i->name, name)))) {
			i->nlookup++;
			return i;
		}
	}
	return NULL;
}

struct fs_inode *fs_inode_find(struct fs_session *s, dev_t dev, ino_t ino,
			       enum policy_level level, const struct fs_inode *parent,
			       const char *name, bool per_name)
{
	struct fs_inode *i;

	pthread_mutex_lock(&s->table_lock);
	i = table_find(s, dev, ino, level, parent, name, per_name);
	pthread_mutex_unlock(&s->table_lock);
	return i;
}

struct fs_inode *fs_inode_find_or_add(struct fs_session *s, dev_t dev, ino_t ino, mode_t type,
				      const struct policy_decision *dec, struct fs_inode *parent,
				      const char *name, int src_fd, int upper_fd,
				      uint64_t report_ino, bool opaque, bool per_name)
{
	struct fs_inode *i;

	pthread_mutex_lock(&s->table_lock);
	i = table_find(s, dev, ino, dec->level, parent, name, per_name);
	if (i) {
		pthread_mutex_unlock(&s->table_lock);
		if (src_fd >= 0)
			(void)close(src_fd);
		if (upper_fd >= 0)
			(void)close(upper_fd);
		return i;
	}
	i = calloc(1, sizeof(*i));
	if (i)
		i->name = strdup(name);
	if (!i || !i->name) {
		pthread_mutex_unlock(&s->table_lock);
		free(i);
		if (src_fd >= 0)
			(void)close(src_fd);
		if (upper_fd >= 0)
			(void)close(upper_fd);
		return NULL;
	}
	i->type = type;
	i->level = dec->level;
	i->dec = *dec;
	i->report_ino = report_ino;
	i->key_dev = dev;
	i->key_ino = ino;
	i->per_name = per_name;
	i->nlookup = 1;
	i->parent = parent;
	parent->refs++;
	i->src_fd = src_fd;
	i->upper_fd = upper_fd;
	i->opaque = opaque;
	i->data_fd = -1;
	pthread_rwlock_init(&i->io_lock, NULL);
	pthread_mutex_init(&i->dir_lock, NULL);
	pthread_mutex_init(&i->copy_lock, NULL);
	pthread_mutex_init(&i->pt_lock, NULL);
	if (s->table_count + 1 > s->table_size)
		table_grow(s);
	table_insert(s, i);
	s->table_count++;
	pthread_mutex_unlock(&s->table_lock);
	return i;
}

void fs_inode_forget(struct fs_session *s, struct fs_inode *i, uint64_t n)
{
	pthread_mutex_lock(&s->table_lock);
	if (i == &s->root) {
		pthread_mutex_unlock(&s->table_lock);
		return;
	}
	i->nlookup = i->nlookup > n ? i->nlookup - n : 0;
	/* A parent lives as long as the kernel or a child still names it. */
	while (i && i != &s->root && i->nlookup == 0 && i->refs == 0) {
		struct fs_inode *parent = i->parent;

		table_remove(s, i);
		s->table_count--;
		inode_free(s, i);
		if (parent)
			parent->refs--;
		i = parent;
	}
	pthread_mutex_unlock(&s->table_lock);
}

void fs_inode_rekey(struct fs_session *s, struct fs_inode *i, dev_t dev, ino_t ino)
{
	if (i == &s->root)
		return;
	pthread_mutex_lock(&s->table_lock);
	table_remove(s, i);
	i->key_dev = dev;
	i->key_ino = ino;
	i->per_name = false;
	table_insert(s, i);
	pthread_mutex_unlock(&s->table_lock);
}

void fs_inode_foreach(struct fs_session *s, void (*fn)(struct fs_inode *i, void *ctx), void *ctx)
{
	size_t b;

	pthread_mutex_lock(&s->table_lock);
	for (b = 0; b < s->table_size; b++) {
		struct fs_inode *i;

		for (i = s->table[b]; i; i = i->hnext)
			fn(i, ctx);
	}
	pthread_mutex_unlock(&s->table_lock);
}

size_t fs_reclaim_read_fds(struct fs_session *s)
{
	size_t b, n = 0;

	pthread_mutex_lock(&s->table_lock);
	for (b = 0; b < s->table_size; b++) {
		struct fs_inode *i;

		for (i = s->table[b]; i; i = i->hnext) {
			/* trylock: io_lock ranks above table_lock (fs.h). */
			if (pthread_rwlock_trywrlock(&i->io_lock) != 0)
				continue;
			if (i->data_counted) {
				(void)close(i->data_fd);
				i->data_fd = -1;
				i->data_counted = false;
				atomic_fetch_sub(&s->read_fds, 1);
				n++;
			}
			pthread_rwlock_unlock(&i->io_lock);
		}
	}
	pthread_mutex_unlock(&s->table_lock);
	atomic_store(&s->read_fd_budget, atomic_load(&s->read_fd_budget) / 2);
	return n;
}

int fs_openat(struct fs_session *s, int dirfd, const char *name, int flags, mode_t mode)
{
	int fd = openat(dirfd, name, flags, mode);

	if (fd < 0 && (errno == EMFILE || errno == ENFILE) && fs_reclaim_read_fds(s) > 0)
		fd = openat(dirfd, name, flags, mode);
	return fd;
}

int fs_inode_path(const struct fs_inode *i, char *buf, size_t len)
{
	const struct fs_inode *p;
	size_t need = 0, pos;

	for (p = i; p && p->name; p = p->parent)
		need += strlen(p->name) + (p->parent && p->parent->name ? 1 : 0);
	if (need + 1 > len)
		return -ENAMETOOLONG;
	buf[need] = '\0';
	pos = need;
	for (p = i; p && p->name; p = p->parent) {
		size_t n = strlen(p->name);

		pos -= n;
		memcpy(buf + pos, p->name, n);
		if (p->parent && p->parent->name)
			buf[--pos] = '/';
	}
	return 0;
}

int fs_child_path(const struct fs_inode *dir, const char *name, char *buf, size_t len)
{
	size_t n;
	int r = fs_inode_path(dir, buf, len);

	if (r < 0)
		return r;
	n = strlen(buf);
	if (n + 1 + strlen(name) + 1 > len)
		return -ENAMETOOLONG;
	if (n)
		buf[n++] = '/';
	strcpy(buf + n, name);
	return 0;
}

void fs_dir_invalidate(struct fs_inode *i)
{
	struct fs_dirlist *l;

	pthread_mutex_lock(&i->dir_lock);
	l = i->dirlist;
	i->dirlist = NULL;
	pthread_mutex_unlock(&i->dir_lock);
	fs_dirlist_put(l);
}
