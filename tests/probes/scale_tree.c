// SPDX-License-Identifier: Apache-2.0
/*
 * scale_tree - generates large trees and runs a rename/unlink storm, for
 * tests/fs_scale.sh and bench/scale.sh (issue 11).
 *
 *   scale_tree gen DIR NDIRS NFILES [DEPTH]
 *       makes DIR/dNNNNN/fNNNN (NDIRS x NFILES files) and one chain
 *       DIR/deep/c00/c01/... DEPTH directories deep with two files at each
 *       level; contents are small (0 to ~700 bytes), differ from file to
 *       file and are a pure function of the names, so two runs (natively
 *       and through a mount) make byte-identical trees.  Every 97th file
 *       holds the line "NEEDLE-scale".  Prints the number of files made.
 *       DIR may exist (it and its parents are made if not).
 *
 *   scale_tree storm-init DIR WORKERS NSRC
 *       makes the storm's starting tree natively: DIR/p0..p7 and, for each
 *       worker, its first NSRC file slots (they are the source files that
 *       the storm renames, overwrites and unlinks through the mount).
 *
 *   scale_tree storm DIR WORKERS NSRC OPS SEED
 *       forks WORKERS processes that each run OPS random operations on
 *       their own names under DIR (through the mount): create, overwrite,
 *       rename a file to another directory, replace it through a rename
 *       from a temporary name, unlink, read and check, stat and check the
 *       size, rename one of the worker's own directories (with its files)
 *       to another parent, make and remove a directory.  The directories
 *       p0..p7 are shared, so the workers' renames cross one another in the
 *       same directories.  Every operation whose outcome the worker's
 *       model does not predict is printed ("w2 op 811: rename A -> B:
 *       Stale file handle").  Then the final tree is checked as in
 *       storm-verify.  Exit 0 when no operation failed and the tree is
 *       the expected one.
 *
 *   scale_tree storm-verify DIR WORKERS NSRC OPS SEED
 *       replays the workers' models without touching DIR (each worker's
 *       choices depend only on its seed and its own model, so the replay
 *       gives the state the storm must have left) and compares DIR with
 *       it: the same files with the same contents, the same directories,
 *       nothing else.  Used on a fresh mount of the same delta and on
 *       kernel overlayfs over source + delta.
 *
 * Standalone (no project headers), like the other probes.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define NEEDLE "NEEDLE-scale\n"

static void die(const char *what, const char *path)
{
	fprintf(stderr, "scale_tree: %s '%s': %s\n", what, path, strerror(errno));
	exit(1);
}

/* fmt: snprintf that refuses to truncate (a cut path would name another file). */
static void __attribute__((format(printf, 3, 4))) fmt(char *buf, size_t cap, const char *f, ...)
{
	va_list ap;
	int n;

	va_start(ap, f);
	n = vsnprintf(buf, cap, f, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= cap) {
		fprintf(stderr, "scale_tree: path too long\n");
		exit(2);
	}
}

static unsigned long num(const char *s)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || !*s || *end) {
		fprintf(stderr, "scale_tree: not a number: '%s'\n", s);
		exit(2);
	}
	return v;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* mkdir_p: DIR and its missing parents. */
static void mkdir_p(const char *dir)
{
	char buf[4096];
	char *p;

	fmt(buf, sizeof(buf), "%s", dir);
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			die("cannot create", buf);
		*p = '/';
	}
	if (mkdir(buf, 0755) < 0 && errno != EEXIST)
		die("cannot create", buf);
}

/* --- gen ------------------------------------------------------------------ */

/* The contents of file F of directory D: a pure function of (D, F). */
static size_t gen_content(char *buf, size_t cap, unsigned d, unsigned f)
{
	unsigned len = (d * 131u + f * 17u) % 700u;
	size_t n;

	if ((d + f) % 53u == 0)
		return 0; /* some empty files */
	n = (size_t)snprintf(buf, cap, "scale d%u f%u\n", d, f);
	if ((d * 1000u + f) % 97u == 0) {
		memcpy(buf + n, NEEDLE, sizeof(NEEDLE) - 1);
		n += sizeof(NEEDLE) - 1;
	}
	for (; n < len && n < cap; n++)
		buf[n] = (char)('a' + (d + f + n) % 26u);
	return n;
}

static void gen_file(int dfd, const char *dirpath, const char *name, unsigned d, unsigned f)
{
	char buf[1024];
	size_t n = gen_content(buf, sizeof(buf), d, f);
	int fd = openat(dfd, name, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0 || write_all(fd, buf, n) < 0 || close(fd) < 0)
		die("cannot write a file in", dirpath);
}

static int cmd_gen(int argc, char **argv)
{
	unsigned nd, nf, depth, d, f, total = 0;
	char path[4096], name[64];
	int root, dfd;

	if (argc < 5 || argc > 6) {
		fprintf(stderr, "usage: scale_tree gen DIR NDIRS NFILES [DEPTH]\n");
		return 2;
	}
	nd = (unsigned)num(argv[3]);
	nf = (unsigned)num(argv[4]);
	depth = argc > 5 ? (unsigned)num(argv[5]) : 0;
	mkdir_p(argv[2]);
	root = open(argv[2], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		die("cannot open", argv[2]);
	for (d = 0; d < nd; d++) {
		fmt(name, sizeof(name), "d%05u", d);
		fmt(path, sizeof(path), "%s/%s", argv[2], name);
		if (mkdirat(root, name, 0755) < 0 && errno != EEXIST)
			die("cannot create", path);
		dfd = openat(root, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0)
			die("cannot open", path);
		for (f = 0; f < nf; f++) {
			fmt(name, sizeof(name), "f%04u", f);
			gen_file(dfd, path, name, d, f);
			total++;
		}
		(void)close(dfd);
	}
	if (depth) {
		/* One long chain: deep paths exercise the walks from an ancestor. */
		fmt(path, sizeof(path), "%s/deep", argv[2]);
		if (mkdirat(root, "deep", 0755) < 0 && errno != EEXIST)
			die("cannot create", path);
		dfd = openat(root, "deep", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		for (d = 0; dfd >= 0 && d < depth; d++) {
			int next;

			fmt(name, sizeof(name), "c%02u", d);
			if (mkdirat(dfd, name, 0755) < 0 && errno != EEXIST)
				die("cannot create a directory in", path);
			gen_file(dfd, path, "a.txt", 100000 + d, 1);
			gen_file(dfd, path, "b.txt", 100000 + d, 2);
			total += 2;
			next = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			(void)close(dfd);
			dfd = next;
		}
		if (dfd < 0)
			die("cannot open a directory under", path);
		(void)close(dfd);
	}
	(void)close(root);
	printf("%u\n", total);
	return 0;
}

/* --- storm ---------------------------------------------------------------- */

#define NPAR 8	    /* shared parents p0..p7 */
#define NSLOT 48    /* file slots per worker */
#define NOWN 4	    /* directories per worker */
#define MAXWORK 16

/* A file slot's location: < NPAR a shared parent, else one of the worker's
 * own directories (loc - NPAR), which itself lives in a shared parent. */
struct model {
	int w;
	uint64_t rng;
	int loc[NSLOT];	     /* -1: absent */
	unsigned gen[NSLOT];
	int dpar[NOWN];	     /* shared parent of each own directory */
	unsigned next_gen;
};

static uint64_t rnd(struct model *m)
{
	/* xorshift64*: the same sequence in the storm and in its replay. */
	m->rng ^= m->rng >> 12;
	m->rng ^= m->rng << 25;
	m->rng ^= m->rng >> 27;
	return m->rng * 2685821657736338717ULL;
}

static unsigned pick(struct model *m, unsigned n)
{
	return (unsigned)((rnd(m) >> 33) % n);
}

static size_t storm_content(char *buf, size_t cap, int w, int k, unsigned gen)
{
	unsigned reps = 1 + ((unsigned)w * 7u + (unsigned)k * 3u + gen) % 40u;
	size_t n = 0;

	while (reps-- && n + 40 < cap)
		n += (size_t)snprintf(buf + n, cap - n, "w%d k%d g%u\n", w, k, gen);
	return n;
}

static void dir_path(char *buf, size_t cap, const char *root, const struct model *m, int loc)
{
	if (loc < NPAR)
		fmt(buf, cap, "%s/p%d", root, loc);
	else
		fmt(buf, cap, "%s/p%d/w%d-d%d", root, m->dpar[loc - NPAR], m->w, loc - NPAR);
}

static void file_path(char *buf, size_t cap, const char *root, const struct model *m, int k, int loc)
{
	char d[4096];

	dir_path(d, sizeof(d), root, m, loc);
	fmt(buf, cap, "%s/w%d-f%d", d, m->w, k);
}

static void model_init(struct model *m, int w, unsigned nsrc, unsigned long seed)
{
	int k, j;

	memset(m, 0, sizeof(*m));
	m->w = w;
	m->rng = (seed * 1000003ULL + (uint64_t)w * 7919ULL) | 1;
	for (k = 0; k < NSLOT; k++)
		m->loc[k] = (unsigned)k < nsrc ? (w + k) % NPAR : -1;
	for (j = 0; j < NOWN; j++)
		m->dpar[j] = (w + j * 3) % NPAR;
	m->next_gen = 1;
}

/* When live, every call acts on the filesystem and reports surprises. */
struct run {
	bool live;
	bool quiet; /* count surprises without printing them */
	const char *root;
	unsigned long op;
	unsigned errors;
};

static void surprise(struct run *r, const struct model *m, const char *what, const char *a,
		     const char *b, int err)
{
	r->errors++;
	if (!r->quiet && r->errors <= 30)
		fprintf(stderr, "w%d op %lu: %s %s%s%s: %s\n", m->w, r->op, what, a, b ? " -> " : "",
			b ? b : "", err ? strerror(err) : "unexpected result");
}

static void do_write(struct run *r, struct model *m, int k, int loc, unsigned gen, const char *path)
{
	char buf[2048];
	size_t n = storm_content(buf, sizeof(buf), m->w, k, gen);
	int fd;

	(void)loc;
	if (!r->live)
		return;
	fd = open(path, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		surprise(r, m, "create", path, NULL, errno);
		return;
	}
	if (write_all(fd, buf, n) < 0)
		surprise(r, m, "write", path, NULL, errno);
	if (close(fd) < 0)
		surprise(r, m, "close", path, NULL, errno);
}

static void check_content(struct run *r, const struct model *m, int k, const char *path)
{
	char want[2048], got[4096];
	size_t wn = storm_content(want, sizeof(want), m->w, k, m->gen[k]);
	ssize_t n;
	size_t gn = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		surprise(r, m, "open", path, NULL, errno);
		return;
	}
	while ((n = read(fd, got + gn, sizeof(got) - gn)) > 0)
		gn += (size_t)n;
	if (n < 0)
		surprise(r, m, "read", path, NULL, errno);
	else if (gn != wn || memcmp(got, want, wn))
		surprise(r, m, "read (wrong contents)", path, NULL, 0);
	(void)close(fd);
}

static void storm_step(struct run *r, struct model *m)
{
	char a[4096], b[4096];
	unsigned op = pick(m, 100);
	int k = (int)pick(m, NSLOT);
	int here = m->loc[k];
	int to = (int)pick(m, NPAR + NOWN);
	struct stat st;

	if (op < 20) { /* create or overwrite */
		unsigned gen = m->next_gen++;

		if (here < 0)
			here = to;
		file_path(a, sizeof(a), r->root, m, k, here);
		do_write(r, m, k, here, gen, a);
		m->loc[k] = here;
		m->gen[k] = gen;
	} else if (op < 40) { /* rename to another directory */
		if (here < 0 || to == here)
			return;
		file_path(a, sizeof(a), r->root, m, k, here);
		file_path(b, sizeof(b), r->root, m, k, to);
		if (r->live && rename(a, b) < 0)
			surprise(r, m, "rename", a, b, errno);
		m->loc[k] = to;
	} else if (op < 50) { /* unlink */
		if (here < 0)
			return;
		file_path(a, sizeof(a), r->root, m, k, here);
		if (r->live && unlink(a) < 0)
			surprise(r, m, "unlink", a, NULL, errno);
		m->loc[k] = -1;
	} else if (op < 60) { /* replace through a temporary name, as editors do */
		unsigned gen;

		if (here < 0)
			return;
		gen = m->next_gen++;
		dir_path(b, sizeof(b), r->root, m, here);
		fmt(a, sizeof(a), "%s/w%d-tmp", b, m->w);
		do_write(r, m, k, here, gen, a);
		file_path(b, sizeof(b), r->root, m, k, here);
		if (r->live && rename(a, b) < 0)
			surprise(r, m, "rename", a, b, errno);
		m->gen[k] = gen;
	} else if (op < 80) { /* read and check, or check that it is gone */
		if (here >= 0) {
			file_path(a, sizeof(a), r->root, m, k, here);
			if (r->live)
				check_content(r, m, k, a);
		} else {
			file_path(a, sizeof(a), r->root, m, k, to);
			if (r->live && lstat(a, &st) == 0)
				surprise(r, m, "lstat of a removed name", a, NULL, 0);
			else if (r->live && errno != ENOENT)
				surprise(r, m, "lstat of a removed name", a, NULL, errno);
		}
	} else if (op < 88) { /* move one of our directories, with its files */
		int j = (int)pick(m, NOWN);
		int np = (int)pick(m, NPAR);

		if (np == m->dpar[j])
			return;
		dir_path(a, sizeof(a), r->root, m, NPAR + j);
		fmt(b, sizeof(b), "%s/p%d/w%d-d%d", r->root, np, m->w, j);
		if (r->live && rename(a, b) < 0)
			surprise(r, m, "rename directory", a, b, errno);
		m->dpar[j] = np;
	} else if (op < 92) { /* a short-lived directory with a file in it */
		fmt(a, sizeof(a), "%s/p%d/w%d-e", r->root, (int)pick(m, NPAR), m->w);
		fmt(b, sizeof(b), "%s/x", a);
		if (!r->live)
			return;
		if (mkdir(a, 0755) < 0)
			surprise(r, m, "mkdir", a, NULL, errno);
		do_write(r, m, 0, 0, 0, b);
		if (unlink(b) < 0)
			surprise(r, m, "unlink", b, NULL, errno);
		if (rmdir(a) < 0)
			surprise(r, m, "rmdir", a, NULL, errno);
	} else { /* stat: the size must be the contents' */
		char buf[2048];

		if (here < 0)
			return;
		file_path(a, sizeof(a), r->root, m, k, here);
		if (!r->live)
			return;
		if (lstat(a, &st) < 0)
			surprise(r, m, "lstat", a, NULL, errno);
		else if ((size_t)st.st_size != storm_content(buf, sizeof(buf), m->w, k, m->gen[k]))
			surprise(r, m, "lstat (wrong size)", a, NULL, 0);
	}
}

static void storm_setup_dirs(struct run *r, struct model *m)
{
	char a[4096];
	int j;

	for (j = 0; j < NOWN; j++) {
		dir_path(a, sizeof(a), r->root, m, NPAR + j);
		if (r->live && mkdir(a, 0755) < 0)
			surprise(r, m, "mkdir", a, NULL, errno);
	}
}

/* --- checking the tree ----------------------------------------------------- */

struct want {
	char path[200]; /* relative to the storm's root */
	bool dir;
	int w, k;
	unsigned gen;
	bool seen;
};

static struct want *wants;
static size_t nwants, capwants;

static void want_add(const char *rel, bool dir, int w, int k, unsigned gen)
{
	if (nwants == capwants) {
		capwants = capwants ? capwants * 2 : 256;
		wants = realloc(wants, capwants * sizeof(*wants));
		if (!wants) {
			perror("scale_tree");
			exit(1);
		}
	}
	fmt(wants[nwants].path, sizeof(wants[nwants].path), "%s", rel);
	wants[nwants].dir = dir;
	wants[nwants].w = w;
	wants[nwants].k = k;
	wants[nwants].gen = gen;
	wants[nwants].seen = false;
	nwants++;
}

static struct want *want_find(const char *rel)
{
	size_t i;

	for (i = 0; i < nwants; i++)
		if (!strcmp(wants[i].path, rel))
			return &wants[i];
	return NULL;
}

static unsigned bad;

static void mismatch(const char *fmt, const char *rel)
{
	if (++bad <= 20) {
		fprintf(stderr, fmt, rel);
		fputc('\n', stderr);
	}
}

static void walk(const char *root, const char *rel)
{
	char path[4096], sub[4096];
	DIR *dir;
	struct dirent *e;

	fmt(path, sizeof(path), "%s%s%s", root, *rel ? "/" : "", rel);
	dir = opendir(path);
	if (!dir) {
		fprintf(stderr, "scale_tree: cannot list '%s': %s\n", path, strerror(errno));
		bad++;
		return;
	}
	while ((errno = 0, e = readdir(dir))) {
		struct stat st;
		struct want *wt;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		fmt(sub, sizeof(sub), "%s%s%s", rel, *rel ? "/" : "", e->d_name);
		fmt(path, sizeof(path), "%s/%s", root, sub);
		if (lstat(path, &st) < 0) {
			fprintf(stderr, "scale_tree: cannot stat listed '%s': %s\n", path, strerror(errno));
			bad++;
			continue;
		}
		wt = want_find(sub);
		if (!wt) {
			mismatch("unexpected: %s", sub);
		} else if (wt->dir != !!S_ISDIR(st.st_mode)) {
			mismatch("wrong type: %s", sub);
		} else if (!wt->dir) {
			struct model fake = { .w = wt->w, .gen = { 0 } };
			struct run r = { .live = true, .quiet = true };

			fake.gen[wt->k] = wt->gen;
			check_content(&r, &fake, wt->k, path);
			if (r.errors)
				mismatch("wrong contents: %s", sub);
		}
		if (wt)
			wt->seen = true;
		if (S_ISDIR(st.st_mode))
			walk(root, sub);
	}
	if (errno)
		fprintf(stderr, "scale_tree: cannot read '%s': %s\n", rel, strerror(errno)), bad++;
	closedir(dir);
}

static int verify(const char *root, struct model *ms, int nw)
{
	char rel[4096];
	size_t i, files = 0;
	int w, k, j;

	for (j = 0; j < NPAR; j++) {
		fmt(rel, sizeof(rel), "p%d", j);
		want_add(rel, true, 0, 0, 0);
	}
	for (w = 0; w < nw; w++) {
		struct model *m = &ms[w];

		for (j = 0; j < NOWN; j++) {
			fmt(rel, sizeof(rel), "p%d/w%d-d%d", m->dpar[j], w, j);
			want_add(rel, true, 0, 0, 0);
		}
		for (k = 0; k < NSLOT; k++) {
			char d[4096];

			if (m->loc[k] < 0)
				continue;
			dir_path(d, sizeof(d), "", m, m->loc[k]);
			fmt(rel, sizeof(rel), "%s/w%d-f%d", d + 1, w, k);
			want_add(rel, false, w, k, m->gen[k]);
			files++;
		}
	}
	walk(root, "");
	for (i = 0; i < nwants; i++)
		if (!wants[i].seen)
			mismatch("missing: %s", wants[i].path);
	printf("files %zu dirs %zu mismatches %u\n", files, nwants - files, bad);
	return bad ? 1 : 0;
}

static int cmd_storm(int argc, char **argv, bool live)
{
	int nw, w, status, rc = 0;
	unsigned long nsrc, ops, seed, i;
	struct model *ms;
	struct run r = { 0 };

	if (argc != 7) {
		fprintf(stderr, "usage: scale_tree %s DIR WORKERS NSRC OPS SEED\n", argv[1]);
		return 2;
	}
	r.root = argv[2];
	nw = (int)num(argv[3]);
	nsrc = num(argv[4]);
	ops = num(argv[5]);
	seed = num(argv[6]);
	if (nw < 1 || nw > MAXWORK || nsrc > NSLOT) {
		fprintf(stderr, "scale_tree: 1..%d workers, at most %d source files each\n", MAXWORK, NSLOT);
		return 2;
	}
	ms = calloc((size_t)nw, sizeof(*ms));
	if (!ms)
		return 1;
	for (w = 0; w < nw; w++)
		model_init(&ms[w], w, (unsigned)nsrc, seed);
	if (live) {
		for (w = 0; w < nw; w++) {
			pid_t pid = fork();

			if (pid < 0)
				die("cannot fork in", r.root);
			if (pid == 0) {
				r.live = true;
				storm_setup_dirs(&r, &ms[w]);
				for (i = 0; i < ops; i++) {
					r.op = i;
					storm_step(&r, &ms[w]);
				}
				if (r.errors)
					fprintf(stderr, "w%d: %u operations failed or surprised\n", w, r.errors);
				fflush(stderr);
				_exit(r.errors ? 1 : 0);
			}
		}
		while (wait(&status) > 0)
			if (!WIFEXITED(status) || WEXITSTATUS(status))
				rc = 1;
	}
	/* The replay: the same choices on the same models, nothing done. */
	r.live = false;
	for (w = 0; w < nw; w++)
		for (i = 0; i < ops; i++)
			storm_step(&r, &ms[w]);
	if (verify(r.root, ms, nw))
		rc = 1;
	free(ms);
	return rc;
}

static int cmd_storm_init(int argc, char **argv)
{
	char a[4096];
	unsigned long nw, nsrc;
	struct run r = { .live = true };
	int w, k, j;

	if (argc != 5) {
		fprintf(stderr, "usage: scale_tree storm-init DIR WORKERS NSRC\n");
		return 2;
	}
	r.root = argv[2];
	nw = num(argv[3]);
	nsrc = num(argv[4]);
	if (nw < 1 || nw > MAXWORK || nsrc > NSLOT)
		return 2;
	mkdir_p(r.root);
	for (j = 0; j < NPAR; j++) {
		fmt(a, sizeof(a), "%s/p%d", r.root, j);
		if (mkdir(a, 0755) < 0 && errno != EEXIST)
			die("cannot create", a);
	}
	for (w = 0; w < (int)nw; w++) {
		struct model m;

		model_init(&m, w, (unsigned)nsrc, 0);
		for (k = 0; k < (int)nsrc; k++) {
			file_path(a, sizeof(a), r.root, &m, k, m.loc[k]);
			do_write(&r, &m, k, m.loc[k], 0, a);
		}
	}
	return r.errors ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "gen"))
		return cmd_gen(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "storm-init"))
		return cmd_storm_init(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "storm"))
		return cmd_storm(argc, argv, true);
	if (argc >= 2 && !strcmp(argv[1], "storm-verify"))
		return cmd_storm(argc, argv, false);
	fprintf(stderr, "usage: scale_tree gen|storm-init|storm|storm-verify ...\n");
	return 2;
}
