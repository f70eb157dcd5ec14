// SPDX-License-Identifier: Apache-2.0
/*
 * fs_dir.c - the merged directory listing: upper entries (whiteouts
 * skipped), then, unless the upper directory is opaque, the source entries
 * upper does not shadow; hidden names dropped; sorted by name.  The listing
 * is cached per directory inode and its indices are the READDIR offsets,
 * so offsets stay stable even without an OPENDIR handle (OPENDIR is
 * answered ENOSYS: the kernel then caches listings itself, FOPEN_CACHE_DIR,
 * see fs/fuse/file.c fuse_file_open()).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "cleanup.h"
#include "dirnames.h"
#include "fs.h"
#include "fs_internal.h"

struct fs_dirent {
	char *name;
	ino_t ino;
	unsigned char d_type;
};

struct fs_dirlist {
	_Atomic int refs;
	size_t n, cap;
	struct fs_dirent *e;
};

void fs_dirlist_put(struct fs_dirlist *l)
{
	size_t k;

	if (!l || atomic_fetch_sub(&l->refs, 1) != 1)
		return;
	for (k = 0; k < l->n; k++)
		free(l->e[k].name);
	free(l->e);
	free(l);
}

static int list_add(struct fs_dirlist *l, const char *name, ino_t ino, unsigned char type)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 32;
		struct fs_dirent *e = realloc(l->e, cap * sizeof(*e));

		if (!e)
			return -ENOMEM;
		l->e = e;
		l->cap = cap;
	}
	l->e[l->n].name = strdup(name);
	if (!l->e[l->n].name)
		return -ENOMEM;
	l->e[l->n].ino = ino;
	l->e[l->n].d_type = type;
	l->n++;
	return 0;
}

static int cmp_dirent(const void *a, const void *b)
{
	return strcmp(((const struct fs_dirent *)a)->name, ((const struct fs_dirent *)b)->name);
}

static bool list_has(const struct fs_dirlist *l, size_t n, const char *name)
{
	struct fs_dirent key = { .name = (char *)name };

	if (!n)
		return false;
	return bsearch(&key, l->e, n, sizeof(key), cmp_dirent) != NULL;
}

static unsigned char dtype_of(int dirfd, const struct dirent *de)
{
	struct stat st;

	if (de->d_type != DT_UNKNOWN)
		return de->d_type;
	if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return DT_UNKNOWN;
	return IFTODT(st.st_mode);
}

static bool is_whiteout(int dirfd, const struct dirent *de)
{
	struct stat st;

	if (de->d_type != DT_CHR && de->d_type != DT_UNKNOWN)
		return false;
	if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return false;
	return S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0);
}

/*
 * Reads directory FD (O_PATH) into l.  Names listed in the first SHADOW
 * entries of l (sorted) are skipped; with UPPER, whiteouts are added to
 * l with d_type DT_WHT so that they shadow the source.
 */
static int read_dir(int fd, struct fs_dirlist *l, size_t shadow, bool upper)
{
	DIR *d = fence_opendirat(fd, ".", 0);
	struct dirent *de;
	int r = 0;

	if (!d)
		return -errno;
	errno = 0;
	while (r == 0 && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (shadow && list_has(l, shadow, de->d_name))
			continue;
		if (upper && is_whiteout(dirfd(d), de))
			r = list_add(l, de->d_name, de->d_ino, DT_WHT);
		else
			r = list_add(l, de->d_name, de->d_ino, dtype_of(dirfd(d), de));
	}
	(void)closedir(d);
	return r;
}

/* The merged listing of DIR; with FILTER, whiteouts and hidden names removed. */
static int merge(struct fs_session *s, struct fs_inode *dir, bool filter,
		 struct fs_dirlist **out)
{
	struct fs_dirlist *l = calloc(1, sizeof(*l));
	char path[PATH_MAX];
	size_t k, j, nupper;
	int r = 0;

	if (!l)
		return -ENOMEM;
	atomic_init(&l->refs, 1);
	if (dir->has_upper) {
		int fd = fs_upper(s, dir);

		r = fd < 0 ? -errno : read_dir(fd, l, 0, true);
	}
	nupper = l->n;
	if (nupper > 1)
		qsort(l->e, nupper, sizeof(*l->e), cmp_dirent);
	if (r == 0 && dir->has_src && !dir->opaque) {
		int fd = fs_src(s, dir);

		r = fd < 0 ? -errno : read_dir(fd, l, nupper, false);
	}
	if (r < 0)
		goto out_free;
	if (l->n > 1)
		qsort(l->e, l->n, sizeof(*l->e), cmp_dirent);
	for (k = j = 0; k < l->n; k++) {
		struct policy_decision dec;
		bool keep = l->e[k].d_type != DT_WHT;

		if (keep && filter) {
			r = fs_child_path(dir, l->e[k].name, path, sizeof(path));
			if (r == 0)
				r = policy_resolve_child(s->policy, &dir->dec, path,
							 l->e[k].d_type == DT_DIR, &dec);
			keep = r == 0 && dec.level != POLICY_NONE;
			r = 0;
		}
		if (keep)
			l->e[j++] = l->e[k];
		else
			free(l->e[k].name);
	}
	l->n = j;
	*out = l;
	return 0;

out_free:
	l->refs = 1;
	fs_dirlist_put(l);
	return r;
}

int fs_dir_count(struct fs_session *s, struct fs_inode *i, size_t *count)
{
	struct fs_dirlist *l;
	int r = merge(s, i, false, &l);

	if (r < 0)
		return r;
	*count = l->n;
	fs_dirlist_put(l);
	return 0;
}

/* A reference to DIR's cached listing, built if needed. */
static int get_list(struct fs_session *s, struct fs_inode *dir, struct fs_dirlist **out)
{
	int r = 0;

	fs_ns_rdlock(s);
	pthread_mutex_lock(fs_dir_lock(dir));
	if (!dir->dirlist)
		r = merge(s, dir, true, &dir->dirlist);
	if (r == 0) {
		atomic_fetch_add(&dir->dirlist->refs, 1);
		*out = dir->dirlist;
	}
	pthread_mutex_unlock(fs_dir_lock(dir));
	fs_ns_unlock(s);
	return r;
}

void fs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fuse_reply_err(req, 0);
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, bool plus)
{
	struct fs_session *s = fuse_req_userdata(req);
	struct fs_inode *dir = fs_inode_get(s, ino);
	struct fs_dirlist *l = NULL;
	_cleanup_free_ char *buf = NULL;
	size_t pos = 0;
	off_t k;
	int r;

	if (dir->type != S_IFDIR) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	r = get_list(s, dir, &l);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	buf = malloc(size);
	if (!buf) {
		fs_dirlist_put(l);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (audit_wants_all(s->audit) && off == 0) {
		char path[PATH_MAX + 1] = "/";

		fs_ns_rdlock(s);
		if (fs_inode_path(dir, path + 1, sizeof(path) - 1) == 0)
			fs_audit(s, req, "read", "readdir", path, NULL, NULL, 0);
		fs_ns_unlock(s);
	}
	/* Offsets: 1 ".", 2 "..", 3 + k for entry k. */
	for (k = off; k < (off_t)l->n + 2; k++) {
		const char *name;
		struct stat st = { 0 };
		struct fuse_entry_param e = { 0 };
		size_t need;

		if (k < 2) {
			name = k == 0 ? "." : "..";
			st.st_mode = S_IFDIR;
			st.st_ino = k == 0 ? dir->report_ino : 1;
			e.attr = st;
		} else {
			name = l->e[k - 2].name;
			st.st_ino = l->e[k - 2].ino;
			st.st_mode = DTTOIF(l->e[k - 2].d_type);
		}
		if (!plus) {
			need = fuse_add_direntry(req, buf + pos, size - pos, name, &st, k + 1);
			if (need > size - pos)
				break;
			pos += need;
			continue;
		}
		if (k >= 2) {
			r = fs_do_lookup(s, req, dir, name, &e);
			if (r < 0 || e.ino == 0)
				continue; /* gone meanwhile */
		}
		need = fuse_add_direntry_plus(req, buf + pos, size - pos, name, &e, k + 1);
		if (need > size - pos) {
			if (k >= 2)
				fs_inode_forget(s, fs_inode_get(s, e.ino), 1);
			break;
		}
		pos += need;
	}
	/*
	 * The end of the listing was asked for: the kernel has it all, and
	 * caches it.  The daemon's copy goes, so that its memory follows
	 * the directories being listed, not every one ever listed; a later
	 * listing builds it again, in the same (sorted) order.
	 */
	if (off >= (off_t)l->n + 2) {
		pthread_mutex_lock(fs_dir_lock(dir));
		if (dir->dirlist == l) {
			dir->dirlist = NULL;
			fs_dirlist_put(l);
		}
		pthread_mutex_unlock(fs_dir_lock(dir));
	}
	fs_dirlist_put(l);
	fuse_reply_buf(req, buf, pos);
}

void fs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, false);
}

void fs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, true);
}
