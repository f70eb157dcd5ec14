// SPDX-License-Identifier: Apache-2.0
/*
 * difftest - differential test of a fencefs mount against a native directory
 * (issue 6, item 3).
 *
 *   difftest init DIR SEED          make the starting tree (seeded) in DIR
 *   difftest run [--seed N] [--ops N] [--no-exdev | --exdev-shadowing]
 *                [--umask-022] [-v] NATIVE FENCE
 *                                   apply one seeded random sequence of
 *                                   operations to both directories
 *                                   (--no-exdev: FENCE is native too, for
 *                                   testing this program itself;
 *                                   --exdev-shadowing: see below;
 *                                   --umask-022: keep the usual umask, to
 *                                   look past a umask bug)
 *   difftest compare [--no-nlink] [--no-xattr] A B
 *                                   compare two trees; exit 1 if they differ
 *                                   (leaving link counts or xattrs aside)
 *
 * `run` expects NATIVE and FENCE to hold the same tree (a copy of the
 * source, and a full-access fencefs mount of it).  Every operation (create,
 * write at an offset, truncate, rename, link, symlink, unlink, mkdir, rmdir,
 * chmod, utimens, fsync, setxattr, removexattr (user.*), fallocate,
 * copy_file_range, rename with RENAME_NOREPLACE, umask changes (from 0), plus
 * read, stat, readdir, readlink, getxattr and listxattr to observe) is applied to both through *at() calls relative to a dirfd of each root,
 * and its return value and errno must be the same; every 250 operations and
 * at the end the two trees must match (names, types, contents, permission
 * bits, owners, link counts of non-directories, symlink targets, user.*
 * xattrs; listxattr must never show the delta's own overlay.* or fencefs.*
 * markers).
 *
 * The one difference docs/SPEC.md 1 prescribes: renaming a directory that existed
 * in the source answers EXDEV (as overlayfs does without redirect_dir).
 * Directories present when `run` starts are source directories; a rename of
 * one must answer EXDEV on the fencefs side (or the same error as native:
 * the kernel checks some errors before asking the filesystem), and then the
 * native side is left alone, as `mv` would copy instead.  Overlayfs also
 * lets a new directory move when it replaced a source entry (unlink or
 * rmdir, then mkdir: an opaque directory); --exdev-shadowing tolerates
 * EXDEV there too, so that a run can go on past that known difference
 * (tests/security/difftest.sh checks it on its own).
 *
 * On the first divergence it prints the operation, both results and a
 * command to replay, and exits 1.  Paths come from a small name space
 * ({a..f} at depth 1 to 3) so that operations collide often; symlink
 * targets never contain "..", so nothing resolves outside the two roots.
 * Standalone (no project headers, no sanitizers).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <unistd.h>

#define MAX_PATH_LEN 64
#define MAX_DIRS 4096
#define MAX_IO (64 * 1024)
#define CHECK_EVERY 250

static uint64_t rng_state;
static bool verbose;
static bool exdev_rule = true;
static bool exdev_shadowing;
static bool compare_nlink = true;
static bool vary_umask = true;
static bool compare_xattr = true;
static unsigned long op_no;
static uint64_t run_seed;

/* splitmix64: one seed, one sequence, on every machine. */
static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static unsigned rnd_below(unsigned n)
{
	return (unsigned)(rnd() % n);
}

static void rnd_fill(char *buf, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		buf[i] = (char)('a' + rnd_below(26));
}

static const char *errname(int e)
{
	const char *n = strerrorname_np(e);

	return n ? n : "E?";
}

static void rnd_path(char *out)
{
	static const char names[] = "abcdef";
	unsigned depth = 1 + rnd_below(3), i;
	char *p = out;

	for (i = 0; i < depth; i++) {
		if (i)
			*p++ = '/';
		*p++ = names[rnd_below(6)];
	}
	*p = '\0';
}

static long res(long r)
{
	return r < 0 ? -errno : r;
}

static const char *fmt_res(long r, char *buf, size_t size)
{
	if (r < 0)
		snprintf(buf, size, "%s", errname((int)-r));
	else
		snprintf(buf, size, "%ld", r);
	return buf;
}

/* ------------------------------------------------------ tree comparison */

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted entry names of DIR (relative to ROOT), or NULL with errno set. */
static char **list_names(int root, const char *dir, size_t *count)
{
	char **v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	DIR *d;
	int fd = openat(root, *dir ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	d = fdopendir(fd);
	if (!d) {
		(void)close(fd);
		return NULL;
	}
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			v = realloc(v, cap * sizeof(*v));
			if (!v)
				abort();
		}
		v[n++] = strdup(e->d_name);
	}
	(void)closedir(d);
	if (n)
		qsort(v, n, sizeof(*v), cmp_names);
	*count = n;
	if (!v)
		v = calloc(1, sizeof(*v));
	return v;
}

static void free_names(char **v, size_t n)
{
	size_t i;

	for (i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

static bool same_contents(int ra, int rb, const char *path)
{
	static char a[MAX_IO], b[MAX_IO];
	int fa = openat(ra, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	int fb = openat(rb, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	bool same = fa >= 0 && fb >= 0;
	ssize_t na, nb;

	while (same) {
		na = read(fa, a, sizeof(a));
		nb = read(fb, b, sizeof(b));
		if (na != nb || na < 0 || memcmp(a, b, (size_t)na)) {
			same = false;
			break;
		}
		if (na == 0)
			break;
	}
	if (fa >= 0)
		(void)close(fa);
	if (fb >= 0)
		(void)close(fb);
	return same;
}

static const char *ra_name, *rb_name; /* root paths, for the xattr comparison */

static long user_xattrs(const char *path, char *out, size_t size, bool values);

static bool same_xattrs(const char *a, const char *b, const char *path)
{
	static char pa[8192], pb[8192], xa[2048], xb[2048];

	snprintf(pa, sizeof(pa), "%s/%s", a, path);
	snprintf(pb, sizeof(pb), "%s/%s", b, path);
	if (user_xattrs(pa, xa, sizeof(xa), true) < 0)
		strcpy(xa, "(error)");
	if (user_xattrs(pb, xb, sizeof(xb), true) < 0)
		strcpy(xb, "(error)");
	if (!strcmp(xa, xb))
		return true;
	printf("DIFF %s: xattrs '%.200s' vs '%.200s'\n", path, xa, xb);
	return false;
}

/* Compares the subtree DIR of both roots; prints the first difference. */
static bool compare_tree(int ra, int rb, const char *dir)
{
	char **na, **nb, path[4096], la[4096], lb[4096];
	size_t ca = 0, cb = 0, i;
	struct stat sa, sb;
	bool same = true;
	ssize_t xa, xb;

	na = list_names(ra, dir, &ca);
	nb = list_names(rb, dir, &cb);
	if (!na || !nb) {
		printf("DIFF %s: cannot list (%s)\n", *dir ? dir : ".", errname(errno));
		free_names(na, ca);
		free_names(nb, cb);
		return false;
	}
	for (i = 0; same && (i < ca || i < cb); i++) {
		if (i >= ca || i >= cb || strcmp(na[i], nb[i])) {
			printf("DIFF %s/: entry '%s' vs '%s'\n", *dir ? dir : ".",
			       i < ca ? na[i] : "(none)", i < cb ? nb[i] : "(none)");
			same = false;
			break;
		}
		snprintf(path, sizeof(path), "%s%s%s", dir, *dir ? "/" : "", na[i]);
		if (fstatat(ra, path, &sa, AT_SYMLINK_NOFOLLOW) < 0 ||
		    fstatat(rb, path, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
			printf("DIFF %s: cannot stat (%s)\n", path, errname(errno));
			same = false;
		} else if ((sa.st_mode & S_IFMT) != (sb.st_mode & S_IFMT)) {
			printf("DIFF %s: type %o vs %o\n", path, sa.st_mode & S_IFMT,
			       sb.st_mode & S_IFMT);
			same = false;
		} else if (!S_ISLNK(sa.st_mode) && (sa.st_mode & 07777) != (sb.st_mode & 07777)) {
			printf("DIFF %s: mode %04o vs %04o\n", path, sa.st_mode & 07777,
			       sb.st_mode & 07777);
			same = false;
		} else if (sa.st_uid != sb.st_uid || sa.st_gid != sb.st_gid) {
			printf("DIFF %s: owner %u:%u vs %u:%u\n", path, sa.st_uid, sa.st_gid,
			       sb.st_uid, sb.st_gid);
			same = false;
		} else if (!S_ISDIR(sa.st_mode) && compare_nlink && sa.st_nlink != sb.st_nlink) {
			printf("DIFF %s: nlink %lu vs %lu\n", path, (unsigned long)sa.st_nlink,
			       (unsigned long)sb.st_nlink);
			same = false;
		} else if (S_ISREG(sa.st_mode) &&
			   (sa.st_size != sb.st_size || !same_contents(ra, rb, path))) {
			printf("DIFF %s: contents differ (size %lld vs %lld)\n", path,
			       (long long)sa.st_size, (long long)sb.st_size);
			same = false;
		} else if (!S_ISLNK(sa.st_mode) && compare_xattr && ra_name &&
			   !same_xattrs(ra_name, rb_name, path)) {
			same = false;
		} else if (S_ISLNK(sa.st_mode)) {
			xa = readlinkat(ra, path, la, sizeof(la) - 1);
			xb = readlinkat(rb, path, lb, sizeof(lb) - 1);
			la[xa > 0 ? xa : 0] = '\0';
			lb[xb > 0 ? xb : 0] = '\0';
			if (xa != xb || strcmp(la, lb)) {
				printf("DIFF %s: symlink '%s' vs '%s'\n", path, la, lb);
				same = false;
			}
		} else if (S_ISDIR(sa.st_mode)) {
			same = compare_tree(ra, rb, path);
		}
	}
	free_names(na, ca);
	free_names(nb, cb);
	return same;
}

/* ------------------------------------------------------- starting tree */

static int cmd_init(const char *dir, uint64_t seed)
{
	static const char *const dirs[] = { "a", "b", "c", "a/b", "a/c", "a/c/d", "b/e", "c/a" };
	static const mode_t modes[] = { 0644, 0600, 0755, 0444, 0640 };
	static char buf[MAX_IO];
	char path[MAX_PATH_LEN];
	struct stat st;
	size_t i, len;
	int root, fd, made = 0;

	rng_state = seed * 7919 + 17;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return perror(dir), 2;
	root = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return perror(dir), 2;
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		if (mkdirat(root, dirs[i], 0755) < 0 && errno != EEXIST)
			return perror(dirs[i]), 2;
	while (made < 24) {
		rnd_path(path);
		if (fstatat(root, path, &st, AT_SYMLINK_NOFOLLOW) == 0)
			continue;
		fd = openat(root, path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0)
			continue; /* parent missing or not a directory */
		len = rnd_below(3) ? rnd_below(4096) : rnd_below(MAX_IO);
		rnd_fill(buf, len);
		if (write(fd, buf, len) != (ssize_t)len)
			return perror(path), 2;
		(void)close(fd);
		if (fchmodat(root, path, modes[rnd_below(5)], 0) < 0)
			return perror(path), 2;
		made++;
	}
	/* Two symlinks, one dangling. */
	(void)symlinkat("c/d", root, "b/d");
	(void)symlinkat("nowhere", root, "c/e");
	(void)close(root);
	return 0;
}

/* ----------------------------------------------------------- operations */

struct side {
	int root;
	const char *name; /* the root's path, for the calls that have no *at() form */
};

/* NAME/PATH, for the xattr calls (l*xattr: the last component is not followed). */
static const char *side_path(const struct side *s, const char *path, char *buf, size_t size)
{
	snprintf(buf, size, "%s/%s", s->name, path);
	return buf;
}

/* user.* names of PATH, sorted and joined, or -errno. */
static long user_xattrs(const char *path, char *out, size_t size, bool values)
{
	char list[4096], *names[64], val[512];
	size_t n = 0, i, len = 0;
	ssize_t r = llistxattr(path, list, sizeof(list)), v;
	char *p;

	if (r < 0)
		return -errno;
	for (p = list; p < list + r && n < 64; p += strlen(p) + 1)
		if (!strncmp(p, "user.", 5))
			names[n++] = p;
	qsort(names, n, sizeof(*names), cmp_names);
	out[0] = '\0';
	for (i = 0; i < n; i++) {
		v = values ? lgetxattr(path, names[i], val, sizeof(val) - 1) : 0;
		val[v > 0 ? v : 0] = '\0';
		len += (size_t)snprintf(out + len, len < size ? size - len : 0, "%s=%s;", names[i],
					v < 0 ? "?" : val);
	}
	return (long)n;
}

static struct side native, fence;
/*
 * The source directories, by the inode number of their native copy: a path
 * can reach one through a symlinked parent, and a directory keeps its
 * inode when it moves (natively; on the fencefs side it cannot move).
 */
static ino_t src_dirs[MAX_DIRS];
static size_t n_src_dirs;
/* Every path the source had at the start, whatever its type. */
static char src_names[MAX_DIRS][MAX_PATH_LEN];
static size_t n_src_names;

/* Walks the fencefs side's tree at the start; DIRS get their native inode. */
static void collect_src_dirs(int root, const char *dir)
{
	char **names, path[MAX_PATH_LEN * 2];
	size_t n = 0, i;
	struct stat st, nst;

	names = list_names(root, dir, &n);
	for (i = 0; names && i < n; i++) {
		snprintf(path, sizeof(path), "%s%s%s", dir, *dir ? "/" : "", names[i]);
		if (strlen(path) >= MAX_PATH_LEN || fstatat(root, path, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (n_src_names < MAX_DIRS)
			memcpy(src_names[n_src_names++], path, strlen(path) + 1);
		if (S_ISDIR(st.st_mode) && n_src_dirs < MAX_DIRS &&
		    fstatat(native.root, path, &nst, AT_SYMLINK_NOFOLLOW) == 0) {
			src_dirs[n_src_dirs++] = nst.st_ino;
			collect_src_dirs(root, path);
		}
	}
	free_names(names, n);
}

static bool is_src_dir(ino_t ino)
{
	size_t i;

	for (i = 0; i < n_src_dirs; i++)
		if (src_dirs[i] == ino)
			return true;
	return false;
}

static bool is_src_name(const char *path)
{
	size_t i;

	for (i = 0; i < n_src_names; i++)
		if (!strcmp(src_names[i], path))
			return true;
	return false;
}

/* Inode 0 is never a directory's: marks a removed entry. */
static void forget_src_dir(ino_t ino)
{
	size_t i;

	for (i = 0; i < n_src_dirs; i++)
		if (src_dirs[i] == ino)
			src_dirs[i] = 0;
}

/* The native inode of the directory PATH names, or 0. */
static ino_t dir_ino(const char *path)
{
	struct stat st;

	return fstatat(native.root, path, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode) ?
		       st.st_ino : 0;
}

static char last_ops[16][160];
static void fail_op(const char *what, long rn, long rf)
{
	char a[32], b[32];
	unsigned long i;

	printf("MISMATCH op #%lu %s: native=%s fence=%s\n", op_no, last_ops[op_no % 16],
	       fmt_res(rn, a, sizeof(a)), fmt_res(rf, b, sizeof(b)));
	if (what)
		printf("  %s\n", what);
	printf("  last operations:\n");
	for (i = op_no > 15 ? op_no - 15 : 1; i <= op_no; i++)
		printf("    #%lu %s\n", i, last_ops[i % 16]);
	printf("  replay: difftest run -v --seed %" PRIu64 " --ops %lu NATIVE FENCE\n", run_seed,
	       op_no);
	exit(1);
}

static void expect_same(long rn, long rf)
{
	if (rn != rf)
		fail_op(NULL, rn, rf);
}

/*
 * Paths that exist on the native side, refreshed every few operations, so
 * that most operations hit something instead of failing with ENOENT.
 */
static char known[1024][MAX_PATH_LEN];
static bool known_dir[1024];
static size_t n_known;

static void collect_known(int root, const char *dir)
{
	char **names, path[MAX_PATH_LEN * 2];
	size_t n = 0, i;
	struct stat st;

	names = list_names(root, dir, &n);
	for (i = 0; names && i < n && n_known < 1024; i++) {
		snprintf(path, sizeof(path), "%s%s%s", dir, *dir ? "/" : "", names[i]);
		if (strlen(path) >= MAX_PATH_LEN || fstatat(root, path, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		memcpy(known[n_known], path, strlen(path) + 1);
		known_dir[n_known++] = S_ISDIR(st.st_mode);
		if (S_ISDIR(st.st_mode))
			collect_known(root, path);
	}
	free_names(names, n);
}

static bool is_known(const char *path)
{
	size_t i;

	for (i = 0; i < n_known; i++)
		if (!strcmp(known[i], path))
			return true;
	return false;
}

/* A name that does not exist yet, in a directory that does (usually). */
static void pick_new(char *out)
{
	static const char names[] = "abcdef";
	unsigned tries;
	size_t i;

	for (tries = 0; tries < 12; tries++) {
		i = rnd_below((unsigned)n_known + 1);
		if (i == n_known)
			snprintf(out, MAX_PATH_LEN, "%c", names[rnd_below(6)]);
		else if (known_dir[i] && strlen(known[i]) < 5)
			snprintf(out, MAX_PATH_LEN, "%s/%c", known[i], names[rnd_below(6)]);
		else
			continue;
		if (!is_known(out))
			return;
	}
	rnd_path(out);
}

/* An existing path (PERCENT of the time), else a new name or any name. */
static void pick_path(char *out, unsigned percent)
{
	size_t i;

	if (n_known && rnd_below(100) < percent) {
		i = rnd_below((unsigned)n_known);
		memcpy(out, known[i], strlen(known[i]) + 1);
	} else if (rnd_below(4)) {
		pick_new(out);
	} else {
		rnd_path(out);
	}
}

/* The operation, applied to one side; returns 0 or a count, or -errno. */
struct op {
	int kind;
	char p1[MAX_PATH_LEN], p2[MAX_PATH_LEN];
	int flags;
	mode_t mode;
	off_t off;
	size_t len;
	struct timespec ts[2];
	char *data;
};

enum {
	OP_CREATE, OP_WRITE, OP_TRUNCATE, OP_RENAME, OP_LINK, OP_SYMLINK, OP_UNLINK, OP_MKDIR,
	OP_RMDIR, OP_CHMOD, OP_UTIMENS, OP_FSYNC, OP_READ, OP_STAT, OP_READDIR, OP_READLINK,
	OP_SETXATTR, OP_GETXATTR, OP_LISTXATTR, OP_REMOVEXATTR, OP_FALLOCATE, OP_COPY_RANGE,
	OP_RENAME_NOREPLACE, OP_UMASK, OP_KINDS
};

static const unsigned op_weight[OP_KINDS] = {
	[OP_CREATE] = 10, [OP_WRITE] = 14, [OP_TRUNCATE] = 5, [OP_RENAME] = 8, [OP_LINK] = 5,
	[OP_SYMLINK] = 4, [OP_UNLINK] = 7, [OP_MKDIR] = 6, [OP_RMDIR] = 5, [OP_CHMOD] = 4,
	[OP_UTIMENS] = 4, [OP_FSYNC] = 3, [OP_READ] = 10, [OP_STAT] = 8, [OP_READDIR] = 4,
	[OP_READLINK] = 3, [OP_SETXATTR] = 4, [OP_GETXATTR] = 3, [OP_LISTXATTR] = 3,
	[OP_REMOVEXATTR] = 2, [OP_FALLOCATE] = 3, [OP_COPY_RANGE] = 3, [OP_RENAME_NOREPLACE] = 3,
	[OP_UMASK] = 1,
};

/* Observations an operation makes, compared after both sides ran. */
struct seen {
	char data[MAX_IO];
	long n;
	struct stat st;
	char text[4096];
};

static long apply(const struct side *s, const struct op *op, struct seen *out)
{
	long r;
	int fd;

	switch (op->kind) {
	case OP_CREATE:
		fd = openat(s->root, op->p1, op->flags | O_CLOEXEC, op->mode);
		if (fd < 0)
			return -errno;
		r = res(close(fd));
		return r;
	case OP_WRITE:
		fd = openat(s->root, op->p1, op->flags | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		if (op->flags & O_APPEND)
			r = res(write(fd, op->data, op->len));
		else
			r = res(pwrite(fd, op->data, op->len, op->off));
		if (close(fd) < 0 && r >= 0)
			r = -errno;
		return r;
	case OP_TRUNCATE:
		fd = openat(s->root, op->p1, O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		r = res(ftruncate(fd, op->off));
		(void)close(fd);
		return r;
	case OP_RENAME:
		return res(renameat(s->root, op->p1, s->root, op->p2));
	case OP_LINK:
		return res(linkat(s->root, op->p1, s->root, op->p2, 0));
	case OP_SYMLINK:
		return res(symlinkat(op->p2, s->root, op->p1));
	case OP_UNLINK:
		return res(unlinkat(s->root, op->p1, 0));
	case OP_MKDIR:
		return res(mkdirat(s->root, op->p1, op->mode));
	case OP_RMDIR:
		return res(unlinkat(s->root, op->p1, AT_REMOVEDIR));
	case OP_CHMOD:
		return res(fchmodat(s->root, op->p1, op->mode, 0));
	case OP_UTIMENS:
		r = res(utimensat(s->root, op->p1, op->ts, op->flags));
		if (r == 0 && fstatat(s->root, op->p1, &out->st, op->flags) < 0)
			return -errno;
		return r;
	case OP_FSYNC:
		fd = openat(s->root, op->p1, op->flags | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		r = res(op->mode ? fdatasync(fd) : fsync(fd));
		(void)close(fd);
		return r;
	case OP_READ:
		fd = openat(s->root, op->p1, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		r = res(pread(fd, out->data, op->len, op->off));
		(void)close(fd);
		out->n = r;
		return r;
	case OP_STAT:
		return res(fstatat(s->root, op->p1, &out->st, op->flags));
	case OP_READDIR: {
		size_t n = 0, i, len = 0;
		char **names = list_names(s->root, op->p1, &n);

		if (!names)
			return -errno;
		out->text[0] = '\0';
		for (i = 0; i < n; i++) {
			len += strlen(names[i]) + 1;
			if (len < sizeof(out->text) - 1) {
				strcat(out->text, names[i]);
				strcat(out->text, "/");
			}
		}
		free_names(names, n);
		return (long)n;
	}
	case OP_READLINK:
		r = res(readlinkat(s->root, op->p1, out->text, sizeof(out->text) - 1));
		if (r >= 0)
			out->text[r] = '\0';
		return r;
	case OP_SETXATTR:
		return res(lsetxattr(side_path(s, op->p1, out->text, sizeof(out->text)), op->p2,
				     op->data, op->len, op->flags));
	case OP_GETXATTR:
		r = res(lgetxattr(side_path(s, op->p1, out->text, sizeof(out->text)), op->p2,
				  out->data, op->len));
		out->n = r;
		return r;
	case OP_LISTXATTR: {
		char path[4096];

		/* Only user.*: the delta's own markers must not show (compared too). */
		r = user_xattrs(side_path(s, op->p1, path, sizeof(path)), out->text,
				sizeof(out->text), false);
		if (r >= 0 && llistxattr(path, out->data, sizeof(out->data)) > 0 &&
		    (memmem(out->data, sizeof(out->data), "overlay.", 8) ||
		     memmem(out->data, sizeof(out->data), "fencefs.", 8)))
			strcat(out->text, "(delta marker listed)");
		return r;
	}
	case OP_REMOVEXATTR:
		return res(lremovexattr(side_path(s, op->p1, out->text, sizeof(out->text)), op->p2));
	case OP_FALLOCATE:
		fd = openat(s->root, op->p1, O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		r = res(fallocate(fd, op->flags, op->off, (off_t)op->len));
		(void)close(fd);
		return r;
	case OP_COPY_RANGE: {
		int in = openat(s->root, op->p1, O_RDONLY | O_CLOEXEC);
		off_t at = 0;
		int outfd;

		if (in < 0)
			return -errno;
		outfd = openat(s->root, op->p2, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		if (outfd < 0) {
			r = -errno;
			(void)close(in);
			return r;
		}
		r = res(copy_file_range(in, NULL, outfd, &at, op->len, 0));
		(void)close(in);
		(void)close(outfd);
		return r;
	}
	case OP_RENAME_NOREPLACE:
		return res(renameat2(s->root, op->p1, s->root, op->p2, RENAME_NOREPLACE));
	case OP_UMASK:
		/* Process-wide: set for the native call, the same for the fencefs one. */
		if (vary_umask)
			(void)umask(op->mode);
		return 0;
	}
	return -ENOSYS;
}

static int pick_kind(void)
{
	unsigned total = 0, k, x;

	for (k = 0; k < OP_KINDS; k++)
		total += op_weight[k];
	x = rnd_below(total);
	for (k = 0; k < OP_KINDS; k++) {
		if (x < op_weight[k])
			return (int)k;
		x -= op_weight[k];
	}
	return OP_STAT;
}

static void make_op(struct op *op, char *data)
{
	static const mode_t file_modes[] = { 0644, 0600, 0755, 0444, 0400, 0666, 0700, 0640 };
	static const mode_t dir_modes[] = { 0755, 0700, 0750, 0775 };
	static const char *const targets[] = { "a", "b/c", "c/d", "e", "d/e/a", "nowhere", "b" };
	static const size_t sizes[] = { 0, 1, 100, 4095, 4096, 4097, 65536 };
	struct stat st;

	memset(op, 0, sizeof(*op));
	op->kind = pick_kind();
	op->data = data;
	switch (op->kind) {
	case OP_CREATE:
	case OP_MKDIR:
	case OP_SYMLINK:
		pick_path(op->p1, 25);
		break;
	default:
		pick_path(op->p1, 80);
	}
	pick_path(op->p2, 40);
	switch (op->kind) {
	case OP_CREATE:
		op->flags = O_WRONLY | O_CREAT | (rnd_below(2) ? O_EXCL : O_TRUNC);
		op->mode = file_modes[rnd_below(8)];
		break;
	case OP_WRITE:
		op->flags = rnd_below(4) ? O_WRONLY : O_WRONLY | O_APPEND;
		if (rnd_below(5) == 0)
			op->flags |= O_TRUNC;
		op->off = rnd_below(3) ? (off_t)rnd_below(8192) : (off_t)rnd_below(70000);
		op->len = rnd_below(4) ? rnd_below(4096) : rnd_below(MAX_IO);
		rnd_fill(data, op->len);
		break;
	case OP_TRUNCATE:
		op->off = rnd_below(2) ? (off_t)sizes[rnd_below(7)] : (off_t)rnd_below(70000);
		break;
	case OP_SYMLINK:
		snprintf(op->p2, sizeof(op->p2), "%s", targets[rnd_below(7)]);
		break;
	case OP_MKDIR:
		op->mode = dir_modes[rnd_below(4)];
		break;
	case OP_CHMOD:
		/* Keep directories searchable; files get any mode. */
		if (fstatat(native.root, op->p1, &st, 0) == 0 && S_ISDIR(st.st_mode))
			op->mode = dir_modes[rnd_below(4)];
		else
			op->mode = file_modes[rnd_below(8)];
		break;
	case OP_UTIMENS:
		op->ts[0].tv_sec = (time_t)rnd_below(2000000000);
		op->ts[0].tv_nsec = (long)rnd_below(1000000000);
		op->ts[1].tv_sec = (time_t)rnd_below(2000000000);
		op->ts[1].tv_nsec = (long)rnd_below(1000000000);
		if (rnd_below(6) == 0)
			op->ts[0].tv_nsec = UTIME_OMIT;
		op->flags = rnd_below(4) ? 0 : AT_SYMLINK_NOFOLLOW;
		break;
	case OP_FSYNC:
		op->flags = rnd_below(2) ? O_RDONLY : O_WRONLY;
		op->mode = rnd_below(2);
		break;
	case OP_READ:
		op->off = rnd_below(3) ? 0 : (off_t)rnd_below(70000);
		op->len = rnd_below(2) ? MAX_IO : 1 + rnd_below(8192);
		break;
	case OP_STAT:
		op->flags = rnd_below(2) ? 0 : AT_SYMLINK_NOFOLLOW;
		break;
	case OP_READDIR:
		if (rnd_below(5) == 0)
			op->p1[0] = '\0';
		break;
	case OP_SETXATTR:
		snprintf(op->p2, sizeof(op->p2), "user.k%u", rnd_below(3));
		op->len = rnd_below(100);
		rnd_fill(data, op->len);
		op->flags = rnd_below(3) == 0 ? XATTR_CREATE : rnd_below(2) ? XATTR_REPLACE : 0;
		break;
	case OP_GETXATTR:
	case OP_REMOVEXATTR:
		snprintf(op->p2, sizeof(op->p2), "user.k%u", rnd_below(3));
		op->len = rnd_below(4) ? 512 : rnd_below(20);
		break;
	case OP_FALLOCATE:
		op->flags = rnd_below(2) ? 0 : FALLOC_FL_KEEP_SIZE;
		op->off = (off_t)rnd_below(70000);
		op->len = 1 + rnd_below(20000);
		break;
	case OP_COPY_RANGE:
		op->len = rnd_below(70000);
		break;
	case OP_UMASK: {
		static const mode_t masks[] = { 0, 022, 027, 077, 002 };

		op->mode = masks[rnd_below(5)];
		break;
	}
	}
}

static const char *const op_names[OP_KINDS] = {
	"create", "write", "truncate", "rename", "link", "symlink", "unlink", "mkdir",
	"rmdir", "chmod", "utimens", "fsync", "read", "stat", "readdir", "readlink",
	"setxattr", "getxattr", "listxattr", "removexattr", "fallocate", "copy_file_range",
	"rename-noreplace", "umask",
};

/* Records OP in the ring of recent operations (printed on a mismatch). */
static void describe(const struct op *op)
{
	char *slot = last_ops[op_no % 16];
	size_t size = sizeof(last_ops[0]);
	const char *name = op_names[op->kind];

	switch (op->kind) {
	case OP_RENAME:
	case OP_LINK:
	case OP_COPY_RANGE:
	case OP_RENAME_NOREPLACE:
		snprintf(slot, size, "%s %s %s len=%zu", name, op->p1, op->p2, op->len);
		break;
	case OP_SETXATTR:
	case OP_GETXATTR:
	case OP_REMOVEXATTR:
		snprintf(slot, size, "%s %s %s len=%zu flags=%d", name, op->p1, op->p2, op->len,
			 op->flags);
		break;
	case OP_FALLOCATE:
		snprintf(slot, size, "fallocate %s off=%lld len=%zu mode=%d", op->p1,
			 (long long)op->off, op->len, op->flags);
		break;
	case OP_SYMLINK:
		snprintf(slot, size, "symlink %s -> %s", op->p1, op->p2);
		break;
	case OP_WRITE:
	case OP_READ:
		snprintf(slot, size, "%s %s off=%lld len=%zu flags=%#o", name, op->p1,
			 (long long)op->off, op->len, (unsigned)op->flags);
		break;
	case OP_TRUNCATE:
		snprintf(slot, size, "truncate %s to %lld", op->p1, (long long)op->off);
		break;
	case OP_UTIMENS:
		snprintf(slot, size, "utimens %s atime=%lld.%09ld mtime=%lld.%09ld flags=%#x", op->p1,
			 (long long)op->ts[0].tv_sec, op->ts[0].tv_nsec, (long long)op->ts[1].tv_sec,
			 op->ts[1].tv_nsec, (unsigned)op->flags);
		break;
	default:
		snprintf(slot, size, "%s '%s' mode=%04o flags=%#o", name, op->p1, (unsigned)op->mode,
			 (unsigned)op->flags);
	}
	if (verbose)
		printf("#%lu %s\n", op_no, slot);
}

static void compare_seen(const struct op *op, long r, const struct seen *a, const struct seen *b)
{
	char what[256];

	if (r < 0)
		return;
	switch (op->kind) {
	case OP_READ:
		if (memcmp(a->data, b->data, (size_t)r))
			fail_op("read returned different bytes", r, r);
		break;
	case OP_STAT:
	case OP_UTIMENS:
		if ((a->st.st_mode & S_IFMT) != (b->st.st_mode & S_IFMT) ||
		    (!S_ISLNK(a->st.st_mode) && (a->st.st_mode & 07777) != (b->st.st_mode & 07777)) ||
		    (!S_ISDIR(a->st.st_mode) && a->st.st_size != b->st.st_size) ||
		    (!S_ISDIR(a->st.st_mode) && a->st.st_nlink != b->st.st_nlink)) {
			snprintf(what, sizeof(what),
				 "stat differs: mode %o/%o size %lld/%lld nlink %lu/%lu",
				 a->st.st_mode, b->st.st_mode, (long long)a->st.st_size,
				 (long long)b->st.st_size, (unsigned long)a->st.st_nlink,
				 (unsigned long)b->st.st_nlink);
			fail_op(what, r, r);
		}
		if (op->kind == OP_UTIMENS &&
		    (a->st.st_mtim.tv_sec != b->st.st_mtim.tv_sec ||
		     a->st.st_mtim.tv_nsec != b->st.st_mtim.tv_nsec ||
		     (op->ts[0].tv_nsec != UTIME_OMIT &&
		      (a->st.st_atim.tv_sec != b->st.st_atim.tv_sec ||
		       a->st.st_atim.tv_nsec != b->st.st_atim.tv_nsec)))) {
			snprintf(what, sizeof(what), "times differ: mtime %ld.%09ld/%ld.%09ld",
				 (long)a->st.st_mtim.tv_sec, a->st.st_mtim.tv_nsec,
				 (long)b->st.st_mtim.tv_sec, b->st.st_mtim.tv_nsec);
			fail_op(what, r, r);
		}
		break;
	case OP_GETXATTR:
		if (memcmp(a->data, b->data, (size_t)r))
			fail_op("getxattr returned different bytes", r, r);
		break;
	case OP_READDIR:
	case OP_READLINK:
	case OP_LISTXATTR:
		if (strcmp(a->text, b->text)) {
			snprintf(what, sizeof(what), "'%.100s' vs '%.100s'", a->text, b->text);
			fail_op(what, r, r);
		}
		break;
	}
}

/*
 * Whether P (on the native side, symlinks in its parents followed) names
 * the object ST describes: renaming a directory onto itself is the
 * kernel's no-op, before any filesystem rule such as EXDEV.
 */
static bool same_object(const struct stat *st, const char *p)
{
	struct stat st2;

	return fstatat(native.root, p, &st2, AT_SYMLINK_NOFOLLOW) == 0 &&
	       st2.st_dev == st->st_dev && st2.st_ino == st->st_ino;
}

static int cmd_run(const char *ndir, const char *fdir, uint64_t seed, unsigned long ops)
{
	static struct seen sn, sf;
	static char data[MAX_IO];
	unsigned long exdev = 0, errors = 0, kind_count[OP_KINDS][2] = { { 0 } };
	struct stat st;
	ino_t gone;
	int i;
	struct op op;
	long rn, rf;

	native.root = open(ndir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	fence.root = open(fdir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (native.root < 0 || fence.root < 0) {
		fprintf(stderr, "difftest: cannot open '%s' or '%s': %s\n", ndir, fdir,
			strerror(errno));
		return 2;
	}
	native.name = ndir;
	fence.name = fdir;
	ra_name = ndir;
	rb_name = fdir;
	if (!compare_tree(native.root, fence.root, "")) {
		printf("MISMATCH before the first operation: the trees differ\n");
		return 1;
	}
	collect_src_dirs(fence.root, "");
	/*
	 * The caller's umask, not the daemon's, decides new modes: start from
	 * 0 (so that 0666 stays 0666) and let OP_UMASK change it for both.
	 */
	umask(vary_umask ? 0 : 022);
	rng_state = seed;
	run_seed = seed;
	for (op_no = 1; op_no <= ops; op_no++) {
		if (op_no % 20 == 1) {
			n_known = 0;
			collect_known(native.root, "");
		}
		make_op(&op, data);
		describe(&op);
		if (exdev_rule && (op.kind == OP_RENAME || op.kind == OP_RENAME_NOREPLACE) &&
		    fstatat(native.root, op.p1, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISDIR(st.st_mode) && !same_object(&st, op.p2) &&
		    (is_src_dir(st.st_ino) || (exdev_shadowing && is_src_name(op.p1)))) {
			/* docs/SPEC.md 1: EXDEV, or an error the kernel finds first. */
			rf = apply(&fence, &op, &sf);
			if (rf == -EXDEV) {
				exdev++;
				continue;
			}
			rn = apply(&native, &op, &sn);
			if (rf == 0 && is_src_dir(st.st_ino))
				fail_op("a source directory was renamed (docs/SPEC.md 1: EXDEV)", rn, rf);
			expect_same(rn, rf);
			continue;
		}
		/* What a successful rmdir or rename removes from the source's directories. */
		gone = op.kind == OP_RMDIR ? dir_ino(op.p1) :
		       op.kind == OP_RENAME && !(fstatat(native.root, op.p1, &st,
							  AT_SYMLINK_NOFOLLOW) == 0 &&
						   same_object(&st, op.p2)) ? dir_ino(op.p2) : 0;
		rn = apply(&native, &op, &sn);
		rf = apply(&fence, &op, &sf);
		if (verbose) {
			char a[32];

			printf("   -> %s\n", fmt_res(rn, a, sizeof(a)));
		}
		expect_same(rn, rf);
		compare_seen(&op, rn, &sn, &sf);
		kind_count[op.kind][rn < 0]++;
		if (rn < 0)
			errors++;
		if (rn == 0 && gone)
			forget_src_dir(gone);
		if (op_no % CHECK_EVERY == 0 && !compare_tree(native.root, fence.root, ""))
			fail_op("the trees differ after this operation", 0, 0);
	}
	op_no = ops;
	if (!compare_tree(native.root, fence.root, "")) {
		printf("MISMATCH the final trees differ (seed %" PRIu64 ", %lu operations)\n", seed,
		       ops);
		return 1;
	}
	if (verbose)
		for (i = 0; i < OP_KINDS; i++)
			printf("  %-9s %5lu succeeded alike, %5lu failed alike\n", op_names[i],
			       kind_count[i][0], kind_count[i][1]);
	printf("difftest: seed %" PRIu64 ": %lu operations agree (%lu failed alike, %lu EXDEV "
	       "on source directories), final trees equal\n", seed, ops, errors, exdev);
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: difftest init DIR SEED\n"
			"       difftest run [--seed N] [--ops N] [--no-exdev | --exdev-shadowing]"
			" [--umask-022] [-v] NATIVE FENCE\n"
			"       difftest compare [--no-nlink] [--no-xattr] A B\n");
	exit(2);
}

int main(int argc, char **argv)
{
	unsigned long ops = 2000;
	uint64_t seed = 1;
	int i, a, b;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 4 && !strcmp(argv[1], "init"))
		return cmd_init(argv[2], strtoull(argv[3], NULL, 0));
	if (argc >= 4 && !strcmp(argv[1], "compare")) {
		for (i = 2; i < argc - 2; i++) {
			if (!strcmp(argv[i], "--no-nlink"))
				compare_nlink = false;
			else if (!strcmp(argv[i], "--no-xattr"))
				compare_xattr = false;
			else
				usage();
		}
		a = open(argv[argc - 2], O_PATH | O_DIRECTORY | O_CLOEXEC);
		b = open(argv[argc - 1], O_PATH | O_DIRECTORY | O_CLOEXEC);
		ra_name = argv[argc - 2];
		rb_name = argv[argc - 1];
		if (a < 0 || b < 0) {
			fprintf(stderr, "difftest: cannot open '%s' or '%s': %s\n", argv[argc - 2],
				argv[argc - 1], strerror(errno));
			return 2;
		}
		return compare_tree(a, b, "") ? 0 : 1;
	}
	if (argc < 2 || strcmp(argv[1], "run"))
		usage();
	for (i = 2; i < argc - 2; i++) {
		if (!strcmp(argv[i], "--seed") && i + 1 < argc - 2)
			seed = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--ops") && i + 1 < argc - 2)
			ops = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "-v"))
			verbose = true;
		else if (!strcmp(argv[i], "--no-exdev"))
			exdev_rule = false;
		else if (!strcmp(argv[i], "--exdev-shadowing"))
			exdev_shadowing = true;
		else if (!strcmp(argv[i], "--umask-022"))
			vary_umask = false;
		else
			usage();
	}
	if (argc < 4)
		usage();
	return cmd_run(argv[argc - 2], argv[argc - 1], seed, ops);
}
