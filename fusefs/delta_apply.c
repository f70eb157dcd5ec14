// SPDX-License-Identifier: Apache-2.0
/*
 * delta_apply.c - apply a delta's changes to its source (docs/SPEC.md 6), for
 * `fencefs commit` (delta_commit.c): what is checked, in which order, and
 * the renames.  The bytes are written by delta_stage.c.
 *
 * The delta was written by a sandbox, and SOURCE may have changed since;
 * both are untrusted here:
 *  - every directory of SOURCE is opened with openat2(RESOLVE_BENEATH |
 *    RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS) from a dirfd of SOURCE,
 *    and every change is made with *at() calls on the final name, which
 *    never follow it (renameat, unlinkat, mkdirat, symlinkat): a symlink
 *    planted in SOURCE or in the delta cannot redirect a write (the
 *    symlink-exchange race of `docker cp`, CVE-2018-15664, is the classic
 *    case; openat2(2) "RESOLVE_BENEATH" and "RESOLVE_NO_SYMLINKS");
 *  - a file is written to a temporary name in its own directory and, once
 *    the filesystem is synced, renamed over the old one, so a crash or a
 *    failure leaves either the old or the new file, never a mix
 *    (rename(2) is atomic);
 *  - every changed path is checked against the policy rebuilt from the
 *    rules the delta records: a path that was not writable in the sandbox
 *    is never changed, whatever the delta holds;
 *  - a source file whose inode, size or mtime differ from what the origin
 *    xattr recorded at copy-up changed meanwhile: that file is a conflict
 *    (--force overrides).  A file with no origin (replaced, not edited in
 *    place, e.g. by `sed -i`) is a conflict when its ctime is newer than
 *    the delta's creation time.
 *  - only bytes, permission bits and user.* xattrs are copied: no
 *    trusted.* or security.* xattr, none of the delta format's
 *    (delta_xattr.c), no whiteout, and no set-id bit (a sandbox must not
 *    mint a set-uid file that root then commits).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "delta_apply.h"
#include "delta_read.h"
#include "policy.h"
#include "util.h"

const char *const delta_result_names[RES_COUNT] = { "applied", "unchanged", "conflict",
						    "skipped", "error", "staged" };

__attribute__((format(printf, 4, 5))) static void set_result(struct delta_commit *k, size_t i,
							      enum delta_result r,
							      const char *fmt, ...)
{
	va_list ap;

	k->res[i] = r;
	k->staged[i].settled = true;
	free(k->why[i]);
	k->why[i] = NULL;
	if (fmt) {
		va_start(ap, fmt);
		if (vasprintf(&k->why[i], fmt, ap) < 0)
			k->why[i] = NULL;
		va_end(ap);
	}
}

/* Was PATH writable in the sandbox?  Sets *level for the report. */
static bool writable(const struct delta_commit *k, const char *path, bool is_dir,
		     enum policy_level *level)
{
	struct policy_decision d;

	if (policy_resolve(k->policy, path, is_dir, &d) < 0) {
		*level = POLICY_NONE;
		return false;
	}
	*level = d.level;
	return d.level == POLICY_WRITE;
}

/* ---- looking at SOURCE without following symlinks ---- */

/*
 * Opens the directory that holds PATH in SOURCE and points *name at PATH's
 * last component.  -ELOOP or -EXDEV when a component is a symlink,
 * -ENOENT when one is missing.
 */
static int open_parent(const struct delta_commit *k, const char *path, const char **name)
{
	size_t plen;
	_cleanup_free_ char *parent = NULL;

	*name = delta_basename(path, &plen);
	parent = strndup(path, plen);
	if (!parent)
		return -ENOMEM;
	return delta_openat(k->srcfd, parent, O_PATH | O_DIRECTORY, 0);
}

static bool ts_eq(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

static bool ts_after(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec > b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec > b->tv_nsec);
}

/*
 * Has the source entry CUR changed since the delta saw it?  With an origin
 * record about this very entry: its inode, size or mtime differ (st_dev is
 * not compared with CUR: it is not stable across reboots for every
 * filesystem).  Otherwise -- no origin (the sandbox replaced the file, as
 * `sed -i` does), or an origin naming another source file (the sandbox
 * renamed that one over this one) -- it changed after the delta was
 * created.  The walk saw the source moments ago (src_st), which tells
 * which case applies; a source replaced meanwhile also falls to the ctime
 * test, and fails it.
 */
static bool origin_is_this(const struct delta_change *ch)
{
	return ch->has_origin && ch->origin.ino == (uint64_t)ch->src_st.st_ino &&
	       ch->origin.dev == (uint64_t)ch->src_st.st_dev;
}

static bool source_changed(const struct delta_commit *k, const struct delta_change *ch,
			   const struct stat *cur)
{
	if (origin_is_this(ch))
		return cur->st_ino != ch->origin.ino || cur->st_size != ch->origin.size ||
		       !ts_eq(&cur->st_mtim, &ch->origin.mtime);
	if (!k->m->created_ts.tv_sec)
		return true; /* no way to tell: be safe */
	return ts_after(&cur->st_ctim, &k->m->created_ts);
}

static const char *changed_why(const struct delta_change *ch)
{
	return origin_is_this(ch) ? "SOURCE changed since copy-up (inode, size or mtime differ)"
			      : "SOURCE changed after the delta was created";
}

/* Does the entry NAME in PFD hold exactly what the delta has at PATH? */
static bool source_matches(const struct delta_commit *k, int pfd, const char *name,
			   const struct stat *cur, const struct delta_change *ch)
{
	_cleanup_close_ int a = -1, b = -1;

	if ((cur->st_mode & S_IFMT) != (ch->new_mode & S_IFMT))
		return false;
	if (S_ISDIR(cur->st_mode))
		return true;
	if (S_ISLNK(cur->st_mode)) {
		char ta[PATH_MAX + 1], tb[PATH_MAX + 1];
		ssize_t na, nb;
		size_t plen;
		const char *base = delta_basename(ch->path, &plen);
		_cleanup_free_ char *parent = strndup(ch->path, plen);
		_cleanup_close_ int upfd = -1;

		if (!parent)
			return false;
		upfd = delta_openat(k->upperfd, parent, O_PATH | O_DIRECTORY, 0);
		if (upfd < 0)
			return false;
		na = readlinkat(pfd, name, ta, sizeof(ta));
		nb = readlinkat(upfd, base, tb, sizeof(tb));
		return na >= 0 && na == nb && !memcmp(ta, tb, (size_t)na);
	}
	if (!S_ISREG(cur->st_mode) || (cur->st_mode & 0777) != (ch->new_mode & 0777) ||
	    cur->st_size != ch->new_size)
		return false;
	a = openat(pfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	b = delta_openat(k->upperfd, ch->path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK, 0);
	return a >= 0 && b >= 0 && delta_same_content(a, b) == 1 &&
	       delta_same_xattrs(k, pfd, name, ch->path);
}

/* ---- deciding and applying one change ---- */

static const char *errmsg(int r)
{
	if (r == -ELOOP || r == -EXDEV)
		return "a directory on the way is a symlink in SOURCE (not followed)";
	return strerror(-r);
}

/* Checks the policy for CH; true when every path it touches was writable. */
static bool check_policy(struct delta_commit *k, size_t i)
{
	const struct delta_change *ch = &k->c->v[i];
	enum policy_level level;

	if (!writable(k, ch->path, ch->is_dir, &level)) {
		set_result(k, i, RES_SKIPPED, "not writable under the delta's policy (%s)",
			   policy_level_name(level));
		return false;
	}
	if (ch->old_path && !writable(k, ch->old_path, false, &level)) {
		set_result(k, i, RES_SKIPPED, "'%s' is not writable under the delta's policy (%s)",
			   ch->old_path, policy_level_name(level));
		return false;
	}
	return true;
}

/*
 * Did every change beneath directory change I end as applied or unchanged?
 * The changes are sorted by path, so those beneath it follow it, within
 * the run of paths that start with its own.
 */
static bool children_ok(const struct delta_commit *k, size_t i)
{
	const char *dir = k->c->v[i].path;
	size_t len = strlen(dir), j;

	for (j = i + 1; j < k->c->n && !strncmp(k->c->v[j].path, dir, len); j++)
		if (k->c->v[j].path[len] == '/' && k->res[j] != RES_APPLIED &&
		    k->res[j] != RES_UNCHANGED)
			return false;
	return true;
}

/* Compares a PATH prefix of LEN bytes with a change's path, for bsearch. */
struct path_key {
	const char *path;
	size_t len;
};

static int cmp_key(const void *key, const void *elem)
{
	const struct path_key *pk = key;
	const struct delta_change *ch = elem;
	int r = strncmp(pk->path, ch->path, pk->len);

	if (r)
		return r;
	return ch->path[pk->len] ? -1 : 0;
}

/* Index of the change with STATUS to the first LEN bytes of PATH, or -1. */
static ssize_t find_change(const struct delta_commit *k, const char *path, size_t len,
			   enum delta_status status)
{
	struct path_key key = { path, len };
	const struct delta_change *hit;
	size_t at, j;

	hit = bsearch(&key, k->c->v, k->c->n, sizeof(*k->c->v), cmp_key);
	if (!hit)
		return -1;
	/* Several changes can share a path (D then A on a type change). */
	at = (size_t)(hit - k->c->v);
	while (at > 0 && !cmp_key(&key, &k->c->v[at - 1]))
		at--;
	for (j = at; j < k->c->n && !cmp_key(&key, &k->c->v[j]); j++)
		if (k->c->v[j].status == status)
			return (ssize_t)j;
	return -1;
}

/* Was PATH the old name of a rename whose old side went in the first pass? */
static bool old_removed_early(const struct delta_commit *k, const char *path)
{
	size_t j;

	if (!k->early_renames)
		return false;
	for (j = 0; j < k->c->n; j++)
		if (k->c->v[j].status == DELTA_RENAMED && k->staged[j].old_removed &&
		    !strcmp(k->c->v[j].old_path, path))
			return true;
	return false;
}

/*
 * Opens the directory of PATH (for change I) and looks at PATH in it.
 * Returns 0 with *pfd, *name, *cur and *exists set, or 1 when change I is
 * settled (its result set) because that directory cannot be used.
 */
static int open_target(struct delta_commit *k, size_t i, const char *path, int *pfd,
		       const char **name, struct stat *cur, bool *exists)
{
	size_t plen;
	ssize_t p;

	*exists = false;
	*pfd = open_parent(k, path, name);
	if (*pfd < 0) {
		(void)delta_basename(path, &plen);
		p = plen ? find_change(k, path, plen, DELTA_ADDED) : -1;
		if (p >= 0 && k->res[p] == RES_APPLIED && k->o->dry_run) {
			/* Its directory would be created first. */
			set_result(k, i, RES_APPLIED, NULL);
			return 1;
		}
		if (p >= 0 && k->res[p] != RES_APPLIED && k->res[p] != RES_UNCHANGED) {
			set_result(k, i, RES_SKIPPED, "its directory was not created");
			return 1;
		}
		if (*pfd == -ENOENT)
			set_result(k, i, RES_CONFLICT, "its directory is gone from SOURCE");
		else if (*pfd == -ELOOP || *pfd == -EXDEV)
			set_result(k, i, RES_CONFLICT, "%s", errmsg(*pfd));
		else
			set_result(k, i, RES_ERROR, "%s", errmsg(*pfd));
		return 1;
	}
	if (fstatat(*pfd, *name, cur, AT_SYMLINK_NOFOLLOW) == 0) {
		*exists = true;
		/* A dry run deletes nothing, but the real run's first pass would have. */
		p = k->o->dry_run ? find_change(k, path, strlen(path), DELTA_DELETED) : -1;
		if ((p >= 0 && k->res[p] == RES_APPLIED) ||
		    (k->o->dry_run && old_removed_early(k, path)))
			*exists = false;
	} else if (errno != ENOENT) {
		set_result(k, i, RES_ERROR, "cannot stat: %s", strerror(errno));
		return 1;
	}
	return 0;
}

/* Index of the change that writes a file at PATH (A, M, T or R), or -1. */
static ssize_t find_file_change(const struct delta_commit *k, const char *path)
{
	static const enum delta_status kinds[] = { DELTA_ADDED, DELTA_MODIFIED, DELTA_TYPECHANGE,
						   DELTA_RENAMED };
	size_t n;
	ssize_t j;

	for (n = 0; n < ARRAY_SIZE(kinds); n++) {
		j = find_change(k, path, strlen(path), kinds[n]);
		if (j >= 0 && !k->c->v[j].is_dir)
			return j;
	}
	return -1;
}

/*
 * Hard links, as the sandbox made them: when the delta file (or symlink)
 * of change I has other names, the others become links to one of them:
 * a name SOURCE already has unchanged (link to SOURCE's file), else the
 * first name in path order, which is staged first (link to its temporary
 * file, so both renames expose one inode).  Only when every
 * name was writable under the policy: a link from a writable name to a
 * file that was not would let a later write through one change the
 * other.  Returns true with TMP naming the new link in PFD; false means
 * "write a copy instead".
 */
static bool stage_link(struct delta_commit *k, size_t i, int pfd, char tmp[40])
{
	const struct delta_change *ch = &k->c->v[i];
	_cleanup_close_ int lpfd = -1;
	size_t first, count, m;
	enum policy_level level;
	const char *leader, *lname, *unchanged = NULL;
	struct stat lst;
	ssize_t j;

	if (!ch->upper_ino)
		return false;
	leader = delta_link_leader(k->c, ch->upper_ino, &first, &count);
	if (!leader || count < 2)
		return false;
	for (m = first; m < first + count; m++) {
		const char *p = k->c->links[m].path;

		if (!writable(k, p, false, &level))
			return false;
		if (!unchanged && find_file_change(k, p) < 0)
			unchanged = p;
	}
	if (unchanged)
		leader = unchanged;
	if (!strcmp(leader, ch->path))
		return false;
	lpfd = open_parent(k, leader, &lname);
	if (lpfd < 0)
		return false;
	j = find_file_change(k, leader);
	if (j >= 0 && k->res[j] == RES_STAGED && k->staged[j].tmp[0])
		lname = k->staged[j].tmp;
	else if (j >= 0 && k->res[j] != RES_UNCHANGED)
		return false; /* the first name was not written */
	else if (fstatat(lpfd, lname, &lst, AT_SYMLINK_NOFOLLOW) < 0 ||
		 !source_matches(k, lpfd, lname, &lst, ch))
		return false; /* SOURCE's file is not the delta's any more */
	delta_temp_name(tmp);
	if (linkat(lpfd, lname, pfd, tmp, 0) < 0) {
		tmp[0] = '\0';
		return false;
	}
	return true;
}

static void apply_delete(struct delta_commit *k, size_t i)
{
	const struct delta_change *ch = &k->c->v[i];
	_cleanup_close_ int pfd = -1;
	const char *name;
	struct stat cur;

	if (!check_policy(k, i))
		return;
	pfd = open_parent(k, ch->path, &name);
	if (pfd == -ENOENT)
		return set_result(k, i, RES_UNCHANGED, "already gone from SOURCE");
	if (pfd < 0)
		return set_result(k, i, pfd == -ELOOP || pfd == -EXDEV ? RES_CONFLICT : RES_ERROR,
				  "%s", errmsg(pfd));
	if (fstatat(pfd, name, &cur, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return set_result(k, i, RES_UNCHANGED, "already gone from SOURCE");
		return set_result(k, i, RES_ERROR, "cannot stat: %s", strerror(errno));
	}
	if (ch->is_dir) {
		if (!S_ISDIR(cur.st_mode))
			return set_result(k, i, RES_CONFLICT, "no longer a directory in SOURCE");
		if (!children_ok(k, i))
			return set_result(k, i, RES_SKIPPED,
					  "entries beneath it were not deleted");
		if (k->o->dry_run)
			return set_result(k, i, RES_APPLIED, NULL);
		if (unlinkat(pfd, name, AT_REMOVEDIR) < 0) {
			if (errno == ENOTEMPTY || errno == EEXIST)
				return set_result(k, i, RES_CONFLICT,
						  "SOURCE has entries here that the delta does "
						  "not delete");
			return set_result(k, i, RES_ERROR, "cannot remove: %s", strerror(errno));
		}
		return set_result(k, i, RES_APPLIED, NULL);
	}
	if (!k->o->force && ((cur.st_mode & S_IFMT) != (ch->old_mode & S_IFMT) ||
			     source_changed(k, ch, &cur)))
		return set_result(k, i, RES_CONFLICT, "%s", changed_why(ch));
	if (S_ISDIR(cur.st_mode))
		return set_result(k, i, RES_CONFLICT, "now a directory in SOURCE");
	if (k->o->dry_run)
		return set_result(k, i, RES_APPLIED, NULL);
	if (unlinkat(pfd, name, 0) < 0)
		return set_result(k, i, RES_ERROR, "cannot remove: %s", strerror(errno));
	set_result(k, i, RES_APPLIED, NULL);
}

static void apply_dir(struct delta_commit *k, size_t i)
{
	const struct delta_change *ch = &k->c->v[i];
	_cleanup_close_ int pfd = -1;
	const char *name;
	struct stat cur;
	bool exists;
	int r;

	if (!check_policy(k, i))
		return;
	if (open_target(k, i, ch->path, &pfd, &name, &cur, &exists))
		return;
	if (!exists) {
		if (ch->status == DELTA_MODIFIED && !k->o->force)
			return set_result(k, i, RES_CONFLICT, "deleted from SOURCE meanwhile");
		if (k->o->dry_run)
			return set_result(k, i, RES_APPLIED, NULL);
		r = delta_make_dir(k, ch, pfd, name, true);
		if (r)
			return set_result(k, i, RES_ERROR, "cannot create: %s", strerror(-r));
		return set_result(k, i, RES_APPLIED, NULL);
	}
	if (!S_ISDIR(cur.st_mode))
		return set_result(k, i, RES_CONFLICT, "SOURCE has a %s here",
				  S_ISLNK(cur.st_mode) ? "symlink" : "file");
	if ((cur.st_mode & 01777) == (ch->new_mode & 01777) &&
	    delta_same_xattrs(k, pfd, name, ch->path))
		return set_result(k, i, RES_UNCHANGED, NULL);
	if (ch->status == DELTA_ADDED && !k->o->force)
		return set_result(k, i, RES_CONFLICT, "added by the delta, but SOURCE has it");
	if (k->o->dry_run)
		return set_result(k, i, RES_APPLIED, NULL);
	r = delta_make_dir(k, ch, pfd, name, false);
	if (r)
		return set_result(k, i, RES_ERROR, "cannot set its mode or attributes: %s",
				  strerror(-r));
	set_result(k, i, RES_APPLIED, NULL);
}

/* The old side of a rename, checked as a deletion.  0 ok, or 1 with the result set. */
static int check_rename_source(struct delta_commit *k, size_t i, int *opfd, const char **oname)
{
	const struct delta_change *ch = &k->c->v[i];
	struct stat cur;

	*opfd = open_parent(k, ch->old_path, oname);
	if (*opfd < 0) {
		if (*opfd == -ENOENT && k->o->force)
			return 0;
		set_result(k, i, *opfd == -ENOENT || *opfd == -ELOOP || *opfd == -EXDEV
					 ? RES_CONFLICT : RES_ERROR,
			   "'%s': %s", ch->old_path, errmsg(*opfd));
		return 1;
	}
	if (fstatat(*opfd, *oname, &cur, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT && k->o->force)
			return 0;
		set_result(k, i, errno == ENOENT ? RES_CONFLICT : RES_ERROR, "'%s': %s",
			   ch->old_path, strerror(errno));
		return 1;
	}
	if (!k->o->force && ((cur.st_mode & S_IFMT) != (ch->old_mode & S_IFMT) ||
			     source_changed(k, ch, &cur))) {
		set_result(k, i, RES_CONFLICT, "'%s': %s", ch->old_path, changed_why(ch));
		return 1;
	}
	if (S_ISDIR(cur.st_mode)) {
		set_result(k, i, RES_CONFLICT, "'%s' is now a directory in SOURCE", ch->old_path);
		return 1;
	}
	return 0;
}

static void apply_file(struct delta_commit *k, size_t i)
{
	const struct delta_change *ch = &k->c->v[i];
	struct delta_staged *st = &k->staged[i];
	_cleanup_close_ int pfd = -1, opfd = -1;
	const char *name, *oname = NULL;
	struct stat cur;
	bool exists, same;
	int r;

	if (!check_policy(k, i))
		return;
	if (!S_ISREG(ch->new_mode) && !S_ISLNK(ch->new_mode))
		return set_result(k, i, RES_SKIPPED, "a special file is not committed");
	if (open_target(k, i, ch->path, &pfd, &name, &cur, &exists))
		return;
	/* Already there (committed before, or the same edit made twice). */
	same = exists && source_matches(k, pfd, name, &cur, ch);
	if (same && ch->status != DELTA_RENAMED)
		return set_result(k, i, RES_UNCHANGED, "SOURCE already has it");
	if (exists && S_ISDIR(cur.st_mode))
		return set_result(k, i, RES_CONFLICT, "SOURCE has a directory here");
	switch (ch->status) {
	case DELTA_ADDED:
	case DELTA_RENAMED:
		if (exists && !same && !k->o->force)
			return set_result(k, i, RES_CONFLICT,
					  "added by the delta, but SOURCE has it now");
		break;
	case DELTA_MODIFIED:
	case DELTA_TYPECHANGE:
		if (!exists && !k->o->force)
			return set_result(k, i, RES_CONFLICT, "deleted from SOURCE meanwhile");
		if (exists && !k->o->force &&
		    ((cur.st_mode & S_IFMT) != (ch->old_mode & S_IFMT) ||
		     source_changed(k, ch, &cur)))
			return set_result(k, i, RES_CONFLICT, "%s", changed_why(ch));
		break;
	case DELTA_DELETED:
		return;
	}
	if (ch->status == DELTA_RENAMED && !st->old_removed &&
	    check_rename_source(k, i, &opfd, &oname))
		return;
	if (k->o->dry_run)
		return set_result(k, i, RES_APPLIED, NULL);
	st->existed = exists;
	if (exists)
		st->seen = cur;
	r = 0;
	if (!same && !stage_link(k, i, pfd, st->tmp))
		r = delta_stage_entry(k, ch, pfd, exists ? &cur : NULL, st->tmp);
	if (r)
		return set_result(k, i, RES_ERROR, "cannot write: %s", strerror(-r));
	k->res[i] = RES_STAGED;
}

/*
 * The last pass for a staged change: the target must still be what was
 * checked (else someone changed it during the commit), then the temporary
 * file is renamed over it, and for a rename the old name goes -- after the
 * new one is in place, so the file is never in neither.
 */
static void switch_entry(struct delta_commit *k, size_t i)
{
	const struct delta_change *ch = &k->c->v[i];
	struct delta_staged *st = &k->staged[i];
	_cleanup_close_ int pfd = -1, opfd = -1;
	const char *name, *oname;
	struct stat now;
	bool exists;

	pfd = open_parent(k, ch->path, &name);
	if (pfd < 0)
		return set_result(k, i, RES_ERROR, "cannot reach its directory again (%s); "
				  "'%s' is left there", errmsg(pfd), st->tmp);
	exists = fstatat(pfd, name, &now, AT_SYMLINK_NOFOLLOW) == 0;
	if (!k->o->force && (exists != st->existed ||
			     (exists && (now.st_ino != st->seen.st_ino ||
					 !ts_eq(&now.st_ctim, &st->seen.st_ctim))))) {
		if (st->tmp[0])
			(void)unlinkat(pfd, st->tmp, 0);
		return set_result(k, i, RES_CONFLICT, "SOURCE changed during the commit");
	}
	if (st->tmp[0] && renameat(pfd, st->tmp, pfd, name) < 0) {
		int e = errno;

		(void)unlinkat(pfd, st->tmp, 0);
		return set_result(k, i, RES_ERROR, "cannot write: %s", strerror(e));
	}
	if (ch->status == DELTA_RENAMED && !st->old_removed) {
		opfd = open_parent(k, ch->old_path, &oname);
		if ((opfd < 0 && opfd != -ENOENT) ||
		    (opfd >= 0 && unlinkat(opfd, oname, 0) < 0 && errno != ENOENT))
			return set_result(k, i, RES_ERROR, "wrote '%s' but cannot remove '%s'",
					  ch->path, ch->old_path);
	}
	set_result(k, i, RES_APPLIED, NULL);
}

/*
 * The old name of a rename goes after the new name is in place, unless
 * another change needs that name first (the sandbox renamed file e away,
 * then made a directory e/): then it goes in the first pass, like a
 * deletion, so that the name is free when its turn comes.  The file is
 * briefly in neither place, but its bytes are still in the delta.
 */
static bool needs_early(const struct delta_commit *k, size_t i)
{
	const char *old = k->c->v[i].old_path;
	size_t len = strlen(old), j;

	for (j = 0; j < k->c->n; j++) {
		const char *p = k->c->v[j].path;

		if (j != i && !strncmp(p, old, len) && (p[len] == '\0' || p[len] == '/'))
			return true;
	}
	return false;
}

static void remove_rename_source_early(struct delta_commit *k, size_t i)
{
	_cleanup_close_ int opfd = -1;
	const char *oname = NULL;

	if (!check_policy(k, i) || check_rename_source(k, i, &opfd, &oname))
		return;
	if (!k->o->dry_run && opfd >= 0 && unlinkat(opfd, oname, 0) < 0 && errno != ENOENT)
		return set_result(k, i, RES_ERROR, "cannot remove '%s': %s", k->c->v[i].old_path,
				  strerror(errno));
	k->staged[i].old_removed = true;
	k->early_renames++;
}

/*
 * Applies every change in three passes: deletions, deepest first (so a
 * directory is empty when its turn comes and a file can take a deleted
 * directory's place); then, in path order (parents first), new
 * directories and every file written under a temporary name; then one
 * syncfs(2) and the renames, in path order, and a last syncfs(2).  One
 * sync for all files instead of an fsync per file keeps a commit of
 * thousands of files fast, and still no rename happens before the data
 * it exposes is on disk.
 */
void delta_commit_run(struct delta_commit *k)
{
	size_t i;
	bool staged = false;

	for (i = k->c->n; i-- > 0;)
		if (k->c->v[i].status == DELTA_DELETED)
			apply_delete(k, i);
	for (i = 0; i < k->c->n; i++)
		if (k->c->v[i].status == DELTA_RENAMED && needs_early(k, i))
			remove_rename_source_early(k, i);
	for (i = 0; i < k->c->n; i++) {
		const struct delta_change *ch = &k->c->v[i];

		if (ch->status == DELTA_DELETED || k->staged[i].settled)
			continue;
		if (ch->is_dir)
			apply_dir(k, i);
		else
			apply_file(k, i);
		staged |= k->res[i] == RES_STAGED;
	}
	if (staged && syncfs(k->srcfd) < 0) {
		int e = errno;

		for (i = 0; i < k->c->n; i++) {
			_cleanup_close_ int pfd = -1;
			const char *name;

			if (k->res[i] != RES_STAGED)
				continue;
			pfd = open_parent(k, k->c->v[i].path, &name);
			if (pfd >= 0 && k->staged[i].tmp[0])
				(void)unlinkat(pfd, k->staged[i].tmp, 0);
			set_result(k, i, RES_ERROR, "cannot sync SOURCE: %s", strerror(e));
		}
	}
	for (i = 0; i < k->c->n; i++)
		if (k->res[i] == RES_STAGED)
			switch_entry(k, i);
	if (!k->o->dry_run && syncfs(k->srcfd) < 0) {
		fprintf(stderr, "fencefs commit: cannot sync SOURCE: %s\n", strerror(errno));
		k->sync_failed = true;
	}
	for (i = 0; i < k->c->n; i++)
		k->counts[k->res[i]]++;
}
