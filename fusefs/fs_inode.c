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

/*
 * The per-inode locks live in tables of stripes, shared by inodes whose
 * addresses hash alike: 176 bytes of locks per inode would be most of its
 * record (issue 11: memory follows the inodes the kernel remembers).  No
 * code path holds two locks of one kind at once, so sharing cannot
 * deadlock (fs.h).
 */
#define FS_STRIPES 1024

static struct {
	pthread_once_t once;
	pthread_rwlock_t io[FS_STRIPES];
	pthread_mutex_t dir[FS_STRIPES], copy[FS_STRIPES], pt[FS_STRIPES], acct[FS_STRIPES];
} locks = { .once = PTHREAD_ONCE_INIT };

static void locks_init(void)
{
	size_t k;

	for (k = 0; k < FS_STRIPES; k++) {
		pthread_rwlock_init(&locks.io[k], NULL);
		pthread_mutex_init(&locks.dir[k], NULL);
		pthread_mutex_init(&locks.copy[k], NULL);
		pthread_mutex_init(&locks.pt[k], NULL);
		pthread_mutex_init(&locks.acct[k], NULL);
	}
}

static size_t stripe(const struct fs_inode *i)
{
	uint64_t h = (uint64_t)(uintptr_t)i * 0x9e3779b97f4a7c15ULL;

	return (size_t)(h >> 54) & (FS_STRIPES - 1);
}

pthread_rwlock_t *fs_io_lock(const struct fs_inode *i)
{
	return &locks.io[stripe(i)];
}

pthread_mutex_t *fs_dir_lock(const struct fs_inode *i)
{
	return &locks.dir[stripe(i)];
}

pthread_mutex_t *fs_copy_lock(const struct fs_inode *i)
{
	return &locks.copy[stripe(i)];
}

pthread_mutex_t *fs_pt_lock(const struct fs_inode *i)
{
	return &locks.pt[stripe(i)];
}

pthread_mutex_t *fs_acct_lock(const struct fs_inode *i)
{
	return &locks.acct[stripe(i)];
}

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
	int rr;

	pthread_once(&locks.once, locks_init);
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
	r->write_beneath = r->level < POLICY_WRITE && policy_could_match_beneath(s->policy, "", POLICY_WRITE);
	r->has_src = true;
	r->src_dev = st.st_dev;
	r->src_ino = st.st_ino;
	if (fstatat(s->upper_root, "", &st, AT_EMPTY_PATH) < 0)
		return -errno;
	r->has_upper = true;
	r->upper_ino = st.st_ino;
	r->data_fd = -1;
	r->src_fd = r->upper_fd = -1;
	rr = fs_fds_init(s, s->fd_budget > 0 ? s->fd_budget : FS_FD_BUDGET_DEFAULT);
	if (rr < 0)
		return rr;
	/* The root's fds never close: every walk starts there. */
	r->src_fd = fcntl(s->src_root, F_DUPFD_CLOEXEC, 0);
	r->upper_fd = fcntl(s->upper_root, F_DUPFD_CLOEXEC, 0);
	if (r->src_fd < 0 || r->upper_fd < 0)
		return -errno;
	atomic_fetch_add(&s->fd_pinned, 2);
	r->opaque = false;
	return 0;
}

static void inode_free(struct fs_session *s, struct fs_inode *i)
{
	fs_fds_release(s, i);
	atomic_fetch_sub(&s->inodes, 1);
	fs_dirlist_put(i->dirlist);
	fs_pt_forget(s, i);
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
	fs_fds_stop(s);
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

static dev_t key_dev(const struct fs_session *s, const struct fs_inode *i)
{
	return i->key_upper ? s->upper_dev : i->src_dev;
}

static ino_t key_ino(const struct fs_inode *i)
{
	return i->key_upper ? i->upper_ino : i->src_ino;
}

static void table_insert(struct fs_session *s, struct fs_inode *i)
{
	size_t b = bucket(s, key_dev(s, i), key_ino(i), i->level);

	i->hnext = s->table[b];
	s->table[b] = i;
}

static void table_remove(struct fs_session *s, struct fs_inode *i)
{
	struct fs_inode **pp = &s->table[bucket(s, key_dev(s, i), key_ino(i), i->level)];

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
				   const char *name)
{
	struct fs_inode *i;

	/*
	 * A source object is found again only under the name it was found
	 * by: moved on the host, it is a new inode at the new name (the old
	 * one answers ESTALE), since the old one is reopened by its name
	 * (fs_fds.c).  A delta object moves only by rename, which renames
	 * its inode: one inode, whatever name.
	 */
	for (i = s->table[bucket(s, dev, ino, level)]; i; i = i->hnext) {
		if (key_ino(i) == ino && key_dev(s, i) == dev && i->level == level &&
		    (i->key_upper || (i->parent == parent && !strcmp(i->name, name)))) {
			i->nlookup++;
			return i;
		}
	}
	return NULL;
}

struct fs_inode *fs_inode_find(struct fs_session *s, dev_t dev, ino_t ino,
			       enum policy_level level, const struct fs_inode *parent,
			       const char *name)
{
	struct fs_inode *i;

	pthread_mutex_lock(&s->table_lock);
	i = table_find(s, dev, ino, level, parent, name);
	pthread_mutex_unlock(&s->table_lock);
	return i;
}

struct fs_inode *fs_inode_find_or_add(struct fs_session *s, dev_t dev, ino_t ino, mode_t type,
				      const struct policy_decision *dec, struct fs_inode *parent,
				      const char *name, const struct stat *src,
				      const struct stat *upper, int upper_fd, uint64_t report_ino,
				      bool opaque)
{
	struct fs_inode *i;
	int64_t n;

	pthread_mutex_lock(&s->table_lock);
	i = table_find(s, dev, ino, dec->level, parent, name);
	if (i) {
		pthread_mutex_unlock(&s->table_lock);
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
		if (upper_fd >= 0)
			(void)close(upper_fd);
		return NULL;
	}
	i->type = type;
	i->level = dec->level;
	i->dec = *dec;
	i->report_ino = report_ino;
	i->key_upper = src == NULL;
	i->nlookup = 1;
	i->parent = parent;
	parent->refs++;
	i->src_fd = i->upper_fd = i->data_fd = -1;
	if (src) {
		i->has_src = true;
		i->src_dev = src->st_dev;
		i->src_ino = src->st_ino;
	}
	if (upper) {
		i->has_upper = true;
		i->upper_ino = upper->st_ino;
	}
	i->opaque = opaque;
	if (s->table_count + 1 > s->table_size)
		table_grow(s);
	table_insert(s, i);
	s->table_count++;
	n = atomic_fetch_add(&s->inodes, 1) + 1;
	if (n > atomic_load(&s->inodes_peak))
		atomic_store(&s->inodes_peak, n);
	pthread_mutex_unlock(&s->table_lock);
	if (upper_fd >= 0)
		fs_set_upper(s, i, upper_fd, upper);
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
	(void)dev; /* the delta's: sess->upper_dev */
	pthread_mutex_lock(&s->table_lock);
	/* Removed under the old key: i->upper_ino may be set already, not yet used. */
	table_remove(s, i);
	i->key_upper = true;
	i->upper_ino = ino;
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

	pthread_mutex_lock(fs_dir_lock(i));
	l = i->dirlist;
	i->dirlist = NULL;
	pthread_mutex_unlock(fs_dir_lock(i));
	fs_dirlist_put(l);
}
