// SPDX-License-Identifier: Apache-2.0
/*
 * delta_walk.c - list what a delta changes in its source, by walking the
 * delta's upper directory next to the source the way overlayfs merges
 * them (Documentation/filesystems/overlayfs.rst, "whiteouts and opaque
 * directories"): a 0:0 character device deletes the source entry of that
 * name, an opaque directory hides all of the source directory's entries,
 * any other upper entry replaces the source entry.
 *
 * Both trees are walked with dirfds and *at() calls that never follow a
 * symlink (O_NOFOLLOW, AT_SYMLINK_NOFOLLOW): the upper directory was
 * written by a sandbox, and a symlink there is data, not a path.
 */
#include "delta_read.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "cleanup.h"
#include "dirnames.h"
#include "delta_format.h"
#include "util.h"

struct walk {
	const char *ns;
	int upper_root, src_root;
	struct delta_changes *out;
	char *err;
	size_t errlen;
};

static int walk_fail(struct walk *w, int r, const char *what, const char *path)
{
	snprintf(w->err, w->errlen, "cannot %s '%s': %s", what, path[0] ? path : ".",
		 strerror(-r));
	return r;
}

void delta_changes_free(struct delta_changes *c)
{
	size_t i;

	for (i = 0; i < c->n; i++) {
		free(c->v[i].path);
		free(c->v[i].old_path);
	}
	free(c->v);
	for (i = 0; i < c->nlinks; i++)
		free(c->links[i].path);
	free(c->links);
	*c = (struct delta_changes){ 0 };
}

static char *path_join(const char *dir, const char *name)
{
	char *p;

	if (!dir[0])
		return strdup(name);
	if (asprintf(&p, "%s/%s", dir, name) < 0)
		return NULL;
	return p;
}

/* Appends a change for PATH (copied); NULL when out of memory. */
static struct delta_change *change_add(struct walk *w, enum delta_status status, const char *path)
{
	struct delta_changes *c = w->out;
	struct delta_change *ch;

	if (c->n == c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 64;
		struct delta_change *n = realloc(c->v, ncap * sizeof(*n));

		if (!n)
			return NULL;
		c->v = n;
		c->cap = ncap;
	}
	ch = &c->v[c->n];
	*ch = (struct delta_change){ .status = status, .path = strdup(path) };
	if (!ch->path)
		return NULL;
	c->n++;
	return ch;
}

/* Remembers that PATH is one name of the multiply linked delta inode INO. */
static int link_add(struct walk *w, uint64_t ino, const char *path)
{
	struct delta_changes *c = w->out;

	if (c->nlinks == c->links_cap) {
		size_t ncap = c->links_cap ? c->links_cap * 2 : 16;
		struct delta_link *n = realloc(c->links, ncap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		c->links = n;
		c->links_cap = ncap;
	}
	c->links[c->nlinks].ino = ino;
	c->links[c->nlinks].path = strdup(path);
	if (!c->links[c->nlinks].path)
		return -ENOMEM;
	c->nlinks++;
	return 0;
}

static int cmp_link(const void *a, const void *b)
{
	const struct delta_link *x = a, *y = b;

	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return strcmp(x->path, y->path);
}

const char *delta_link_leader(const struct delta_changes *c, uint64_t ino, size_t *first,
			      size_t *count)
{
	size_t lo = 0, hi = c->nlinks, k;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (c->links[mid].ino < ino)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (k = lo; k < c->nlinks && c->links[k].ino == ino; k++)
		;
	*first = lo;
	*count = k - lo;
	return k > lo ? c->links[lo].path : NULL;
}


static bool is_whiteout(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0);
}

static void read_origin(struct walk *w, int dirfd, const char *name, struct delta_change *ch)
{
	char val[160];
	ssize_t n;

	n = delta_getxattr(dirfd, name, w->ns, DELTA_XATTR_ORIGIN, val, sizeof(val));
	/* A malformed origin counts as none: commit then falls back to the
	 * delta's creation time to detect a changed source. */
	if (n > 0 && !delta_origin_parse(val, (size_t)n, &ch->origin))
		ch->has_origin = true;
}

/* Records the deletion of source entry NAME in SFD (and everything beneath it). */
static int delete_tree(struct walk *w, int sfd, const char *name, const char *path,
		       const struct stat *sst, int depth)
{
	struct delta_change *ch;
	int r = 0;

	if (S_ISDIR(sst->st_mode)) {
		_cleanup_close_ int sub = -1;
		char **names = NULL;
		size_t n = 0, i;

		if (depth >= DELTA_MAX_DEPTH)
			return walk_fail(w, -ELOOP, "walk", path);
		sub = openat(sfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0)
			return walk_fail(w, -errno, "open source directory", path);
		r = fence_dir_names(sub, &names, &n);
		if (r)
			return walk_fail(w, r, "read source directory", path);
		for (i = 0; i < n && !r; i++) {
			_cleanup_free_ char *child = path_join(path, names[i]);
			struct stat cst;

			if (!child) {
				r = -ENOMEM;
				break;
			}
			if (fstatat(sub, names[i], &cst, AT_SYMLINK_NOFOLLOW) < 0)
				r = walk_fail(w, -errno, "stat source", child);
			else
				r = delete_tree(w, sub, names[i], child, &cst, depth + 1);
		}
		fence_names_free(names, n);
		if (r)
			return r;
	}
	ch = change_add(w, DELTA_DELETED, path);
	if (!ch)
		return -ENOMEM;
	ch->old_mode = sst->st_mode;
	ch->is_dir = S_ISDIR(sst->st_mode);
	ch->src_st = *sst;
	return 0;
}

/* Reads up to LEN bytes at OFF, retrying short reads; the count or -errno. */
static ssize_t pread_full(int fd, char *buf, size_t len, off_t off)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = pread(fd, buf + got, len - got, off + (off_t)got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

int delta_same_content(int a, int b)
{
	static const size_t chunk = 1 << 16;
	_cleanup_free_ char *ba = malloc(chunk), *bb = malloc(chunk);
	off_t off = 0;

	if (!ba || !bb)
		return -ENOMEM;
	for (;;) {
		ssize_t na = pread_full(a, ba, chunk, off), nb;

		if (na < 0)
			return (int)na;
		nb = pread_full(b, bb, chunk, off);
		if (nb < 0)
			return (int)nb;
		if (na != nb || memcmp(ba, bb, (size_t)na))
			return 0;
		if (na == 0)
			return 1;
		off += na;
	}
}

/* Do upper and source entry NAME carry different user.* attributes?  0 or -errno. */
static int xattrs_differ(int ufd, int sfd, const char *name, bool *differ)
{
	struct buf a = { 0 }, b = { 0 };
	int r = delta_user_xattrs(ufd, name, &a);

	if (!r)
		r = delta_user_xattrs(sfd, name, &b);
	if (!r)
		*differ = !delta_xattrs_equal(&a, &b);
	buf_free(&a);
	buf_free(&b);
	return r;
}

/* Do upper entry NAME and source entry NAME (same file type) differ?  0 or -errno. */
static int compare_entry(struct walk *w, int ufd, int sfd, const char *name, const char *path,
			 const struct stat *ust, const struct stat *sst, struct delta_change *ch)
{
	if (S_ISREG(ust->st_mode)) {
		_cleanup_close_ int a = -1, b = -1;
		int same;

		if (ust->st_size != sst->st_size) {
			ch->content_changed = true;
		} else {
			a = openat(ufd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
			if (a < 0)
				return walk_fail(w, -errno, "open delta file", path);
			b = openat(sfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
			if (b < 0)
				return walk_fail(w, -errno, "open source file", path);
			same = delta_same_content(a, b);
			if (same < 0)
				return walk_fail(w, same, "read", path);
			ch->content_changed = !same;
		}
	} else if (S_ISLNK(ust->st_mode)) {
		char ta[PATH_MAX + 1], tb[PATH_MAX + 1];
		ssize_t na, nb;

		na = readlinkat(ufd, name, ta, sizeof(ta));
		if (na < 0)
			return walk_fail(w, -errno, "read delta symlink", path);
		nb = readlinkat(sfd, name, tb, sizeof(tb));
		if (nb < 0)
			return walk_fail(w, -errno, "read source symlink", path);
		ch->content_changed = na != nb || memcmp(ta, tb, (size_t)na);
	} else {
		ch->content_changed = ust->st_rdev != sst->st_rdev;
	}
	if (!S_ISLNK(ust->st_mode))
		ch->mode_changed = (ust->st_mode & 07777) != (sst->st_mode & 07777);
	/* Symlinks cannot carry user.* attributes (xattr(7)). */
	if (S_ISREG(ust->st_mode)) {
		int r = xattrs_differ(ufd, sfd, name, &ch->xattrs_changed);

		if (r)
			return walk_fail(w, r, "read extended attributes of", path);
	}
	return 0;
}

static int walk_dir(struct walk *w, int ufd, int sfd, const char *path, bool opaque, int depth);

/* One entry NAME of upper directory UFD; SFD is the source directory or -1. */
static int walk_entry(struct walk *w, int ufd, int sfd, const char *name, const char *path,
		      int depth)
{
	struct stat ust, sst;
	bool have_src = false;
	struct delta_change *ch;
	int r;

	if (fstatat(ufd, name, &ust, AT_SYMLINK_NOFOLLOW) < 0)
		return walk_fail(w, -errno, "stat delta entry", path);
	if (sfd >= 0) {
		if (fstatat(sfd, name, &sst, AT_SYMLINK_NOFOLLOW) == 0)
			have_src = true;
		else if (errno != ENOENT)
			return walk_fail(w, -errno, "stat source", path);
	}
	if (is_whiteout(&ust)) {
		size_t before = w->out->n;

		if (!have_src)
			return 0; /* deletes nothing that is in the source */
		r = delete_tree(w, sfd, name, path, &sst, depth);
		if (!r && !S_ISDIR(sst.st_mode) && w->out->n == before + 1)
			read_origin(w, ufd, name, &w->out->v[before]);
		return r;
	}
	if (S_ISDIR(ust.st_mode)) {
		_cleanup_close_ int usub = -1, ssub = -1;
		char val[8];
		bool sub_opaque;

		if (depth >= DELTA_MAX_DEPTH)
			return walk_fail(w, -ELOOP, "walk", path);
		sub_opaque = delta_getxattr(ufd, name, w->ns, DELTA_XATTR_OPAQUE, val,
					    sizeof(val)) == 1 && val[0] == 'y';
		usub = openat(ufd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (usub < 0)
			return walk_fail(w, -errno, "open delta directory", path);
		if (have_src && S_ISDIR(sst.st_mode)) {
			bool xattrs = false;

			r = xattrs_differ(ufd, sfd, name, &xattrs);
			if (r)
				return walk_fail(w, r, "read extended attributes of", path);
			if ((ust.st_mode & 07777) != (sst.st_mode & 07777) || xattrs) {
				ch = change_add(w, DELTA_MODIFIED, path);
				if (!ch)
					return -ENOMEM;
				ch->is_dir = true;
				ch->mode_changed = (ust.st_mode & 07777) != (sst.st_mode & 07777);
				ch->xattrs_changed = xattrs;
				ch->old_mode = sst.st_mode;
				ch->new_mode = ust.st_mode;
				ch->src_st = sst;
			}
			ssub = openat(sfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (ssub < 0)
				return walk_fail(w, -errno, "open source directory", path);
			return walk_dir(w, usub, ssub, path, sub_opaque, depth + 1);
		}
		if (have_src) {
			r = delete_tree(w, sfd, name, path, &sst, depth);
			if (r)
				return r;
		}
		ch = change_add(w, DELTA_ADDED, path);
		if (!ch)
			return -ENOMEM;
		ch->is_dir = true;
		ch->new_mode = ust.st_mode;
		return walk_dir(w, usub, -1, path, false, depth + 1);
	}
	/* Every name of a linked file or symlink, changed or not: commit keeps the links. */
	if ((S_ISREG(ust.st_mode) || S_ISLNK(ust.st_mode)) && ust.st_nlink > 1) {
		r = link_add(w, ust.st_ino, path);
		if (r)
			return r;
	}
	if (have_src && S_ISDIR(sst.st_mode)) {
		r = delete_tree(w, sfd, name, path, &sst, depth);
		if (r)
			return r;
		have_src = false;
	}
	if (!have_src) {
		ch = change_add(w, DELTA_ADDED, path);
		if (!ch)
			return -ENOMEM;
	} else {
		struct delta_change tmp = { 0 };

		if ((ust.st_mode & S_IFMT) != (sst.st_mode & S_IFMT)) {
			tmp.status = DELTA_TYPECHANGE;
			tmp.content_changed = true;
		} else {
			tmp.status = DELTA_MODIFIED;
			r = compare_entry(w, ufd, sfd, name, path, &ust, &sst, &tmp);
			if (r)
				return r;
			if (!tmp.content_changed && !tmp.mode_changed && !tmp.xattrs_changed)
				return 0; /* copied up, never changed */
		}
		ch = change_add(w, tmp.status, path);
		if (!ch)
			return -ENOMEM;
		ch->content_changed = tmp.content_changed;
		ch->mode_changed = tmp.mode_changed;
		ch->xattrs_changed = tmp.xattrs_changed;
		ch->old_mode = sst.st_mode;
		ch->src_st = sst;
	}
	ch->new_mode = ust.st_mode;
	ch->new_size = ust.st_size;
	if ((S_ISREG(ust.st_mode) || S_ISLNK(ust.st_mode)) && ust.st_nlink > 1)
		ch->upper_ino = ust.st_ino;
	read_origin(w, ufd, name, ch);
	return 0;
}

static int walk_dir(struct walk *w, int ufd, int sfd, const char *path, bool opaque, int depth)
{
	char **names = NULL;
	size_t n = 0, i;
	int r;

	r = fence_dir_names(ufd, &names, &n);
	if (r)
		return walk_fail(w, r, "read delta directory", path);
	if (sfd >= 0 && opaque) {
		char **snames = NULL;
		size_t sn = 0;

		/* An opaque directory hides every source entry it does not name itself. */
		r = fence_dir_names(sfd, &snames, &sn);
		if (r)
			r = walk_fail(w, r, "read source directory", path);
		for (i = 0; i < sn && !r; i++) {
			_cleanup_free_ char *child = NULL;
			struct stat sst;

			if (n && bsearch(&snames[i], names, n, sizeof(*names), fence_name_cmp))
				continue;
			child = path_join(path, snames[i]);
			if (!child)
				r = -ENOMEM;
			else if (fstatat(sfd, snames[i], &sst, AT_SYMLINK_NOFOLLOW) < 0)
				r = walk_fail(w, -errno, "stat source", child);
			else
				r = delete_tree(w, sfd, snames[i], child, &sst, depth);
		}
		fence_names_free(snames, sn);
	}
	for (i = 0; i < n && !r; i++) {
		_cleanup_free_ char *child = path_join(path, names[i]);

		r = child ? walk_entry(w, ufd, sfd, names[i], child, depth) : -ENOMEM;
	}
	fence_names_free(names, n);
	return r;
}

static int cmp_change(const void *a, const void *b)
{
	const struct delta_change *x = a, *y = b;

	return strcmp(x->path, y->path);
}

/*
 * An added file whose origin names the inode of a deleted source file was
 * copied up from it and then renamed (fencefs copies up, then renames
 * inside the delta): report one R instead of a D and an A.
 */
static int pair_renames(struct walk *w)
{
	struct delta_changes *c = w->out;
	size_t i, k, kept;

	for (i = 0; i < c->n; i++) {
		struct delta_change *a = &c->v[i];

		if (a->status != DELTA_ADDED || a->is_dir || !a->has_origin)
			continue;
		for (k = 0; k < c->n; k++) {
			struct delta_change *d = &c->v[k];
			_cleanup_close_ int uf = -1, sf = -1;
			int same;

			if (d->status != DELTA_DELETED || d->is_dir ||
			    d->src_st.st_ino != a->origin.ino ||
			    (uint64_t)d->src_st.st_dev != a->origin.dev ||
			    (d->old_mode & S_IFMT) != (a->new_mode & S_IFMT))
				continue;
			a->status = DELTA_RENAMED;
			a->old_path = TAKE_PTR(d->path);
			a->old_mode = d->old_mode;
			a->src_st = d->src_st;
			a->mode_changed = (a->old_mode & 07777) != (a->new_mode & 07777) &&
					  !S_ISLNK(a->new_mode);
			a->content_changed = true;
			if (S_ISREG(a->new_mode) && a->new_size == d->src_st.st_size) {
				uf = delta_openat(w->upper_root, a->path,
						  O_RDONLY | O_NOFOLLOW | O_NONBLOCK, 0);
				sf = delta_openat(w->src_root, a->old_path,
						  O_RDONLY | O_NOFOLLOW | O_NONBLOCK, 0);
				if (uf >= 0 && sf >= 0) {
					same = delta_same_content(uf, sf);
					if (same < 0)
						return walk_fail(w, same, "read", a->path);
					a->content_changed = !same;
				}
			}
			d->status = 0; /* consumed */
			break;
		}
	}
	for (i = 0, kept = 0; i < c->n; i++) {
		if (c->v[i].status == 0) {
			free(c->v[i].path);
			free(c->v[i].old_path);
			continue;
		}
		c->v[kept++] = c->v[i];
	}
	c->n = kept;
	return 0;
}

/*
 * A directory change is shown by diff when it says something its files do
 * not: a mode change, or an added or deleted directory with nothing
 * changed beneath it.  Paths with the prefix "dir" are contiguous after
 * sorting, so the search stops at the first that lacks it.
 */
static void mark_shown(struct delta_changes *c)
{
	size_t i, k;

	for (i = 0; i < c->n; i++) {
		struct delta_change *ch = &c->v[i];
		size_t len = strlen(ch->path);

		ch->shown = true;
		if (!ch->is_dir || ch->status == DELTA_MODIFIED)
			continue;
		for (k = i + 1; k < c->n && !strncmp(c->v[k].path, ch->path, len); k++) {
			if (c->v[k].path[len] == '/') {
				ch->shown = false;
				break;
			}
		}
	}
}

int delta_collect(int upperfd, int srcfd, const char *ns, struct delta_changes *out, char *err,
		  size_t errlen)
{
	struct walk w = { .ns = ns, .upper_root = upperfd, .src_root = srcfd, .out = out,
			  .err = err, .errlen = errlen };
	char val[8];
	bool opaque;
	int r;

	*out = (struct delta_changes){ 0 };
	/* The root itself may be opaque when the sandbox emptied it. */
	opaque = delta_getxattr(upperfd, ".", ns, DELTA_XATTR_OPAQUE, val, sizeof(val)) == 1 &&
		 val[0] == 'y';
	r = walk_dir(&w, upperfd, srcfd, "", opaque, 0);
	if (!r)
		r = pair_renames(&w);
	if (r) {
		if (r == -ENOMEM)
			snprintf(err, errlen, "out of memory");
		delta_changes_free(out);
		return r;
	}
	if (out->n)
		qsort(out->v, out->n, sizeof(*out->v), cmp_change);
	if (out->nlinks)
		qsort(out->links, out->nlinks, sizeof(*out->links), cmp_link);
	mark_shown(out);
	return 0;
}
