// SPDX-License-Identifier: Apache-2.0
/*
 * delta_diff.c - `fencefs diff [--json] [--patch] DELTA [SOURCE]`: what a
 * delta changes in its source, as a sorted status list, as JSON Lines, or
 * as a unified diff in git's format that `git apply` and `patch -p1` take
 * (git-diff(1) "GENERATING PATCH TEXT WITH -P" describes the extended
 * headers used here: new/deleted file mode, old/new mode, rename from/to).
 *
 * The line diff is Myers' O(ND) algorithm in its linear-space form ("An
 * O(ND) Difference Algorithm and Its Variations", 1986, section 4b) over
 * lines; past DIFF_MAX_STEPS steps it gives up on a minimal script for
 * what is left and replaces it whole, which is still a correct patch.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "commands.h"
#include "delta_format.h"
#include "delta_read.h"
#include "quote.h"
#include "util.h"

/* Files larger than this are reported as binary instead of diffed (and
 * line numbers then fit the int32s of the diff). */
#define DIFF_MAX_BYTES (64u << 20)
/* Snake steps one file's diff may take before it replaces what is left whole. */
#define DIFF_MAX_STEPS 100000000ull
#define DIFF_CONTEXT 3

struct diff_opts {
	bool json, patch;
	const char *delta, *source;
};

static void diff_usage(FILE *f)
{
	fprintf(f, "usage: fencefs diff [--json | --patch] DELTA [SOURCE]\n"
		   "  --json    one JSON object per change\n"
		   "  --patch   a unified diff for git apply or patch -p1\n"
		   "SOURCE defaults to the source recorded in DELTA. See fencefs-commit(1).\n");
}

/* Fills o from argv; 0, 1 for --help, or -EINVAL after printing the reason. */
static int diff_parse(int argc, char **argv, struct diff_opts *o)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "patch", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*o = (struct diff_opts){ 0 };
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			o->json = true;
			break;
		case 'p':
			o->patch = true;
			break;
		case 'h':
			return 1;
		default:
			fprintf(stderr, "fencefs diff: unknown option '%s'\n", argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (o->json && o->patch) {
		fprintf(stderr, "fencefs diff: --json and --patch exclude each other\n");
		return -EINVAL;
	}
	if (argc - optind < 1 || argc - optind > 2) {
		fprintf(stderr, "fencefs diff: expected DELTA [SOURCE]\n");
		return -EINVAL;
	}
	o->delta = argv[optind];
	o->source = argc - optind == 2 ? argv[optind + 1] : NULL;
	return 0;
}

static const char *type_name(mode_t m)
{
	if (S_ISREG(m))
		return "file";
	if (S_ISLNK(m))
		return "symlink";
	if (S_ISDIR(m))
		return "dir";
	return "other";
}

/* The mode git records: 100644, 100755, 120000, 40000 (octal). */
static unsigned git_mode(mode_t m)
{
	if (S_ISLNK(m))
		return 0120000;
	if (S_ISDIR(m))
		return 040000;
	return (m & 0111) ? 0100755 : 0100644;
}

static void print_list(const struct delta_changes *c)
{
	size_t i;

	for (i = 0; i < c->n; i++) {
		const struct delta_change *ch = &c->v[i];

		if (!ch->shown)
			continue;
		printf("%c ", ch->status);
		if (ch->status == DELTA_RENAMED) {
			quote_path_fputs(stdout, "", ch->old_path, "");
			fputs(" -> ", stdout);
		}
		quote_path_fputs(stdout, "", ch->path, ch->is_dir ? "/" : "");
		putchar('\n');
	}
}

static void print_json(const struct delta_changes *c)
{
	struct buf b = { 0 };
	size_t i;

	for (i = 0; i < c->n; i++) {
		const struct delta_change *ch = &c->v[i];
		mode_t m = ch->new_mode ? ch->new_mode : ch->old_mode;

		if (!ch->shown)
			continue;
		buf_reset(&b);
		buf_addf(&b, "{\"status\":\"%c\",\"path\":", ch->status);
		buf_add_json_str(&b, ch->path);
		if (ch->old_path) {
			buf_adds(&b, ",\"old_path\":");
			buf_add_json_str(&b, ch->old_path);
		}
		buf_addf(&b, ",\"type\":\"%s\"", type_name(m));
		if (ch->status == DELTA_TYPECHANGE)
			buf_addf(&b, ",\"old_type\":\"%s\"", type_name(ch->old_mode));
		if (ch->old_mode)
			buf_addf(&b, ",\"old_mode\":\"%o\"", (unsigned)ch->old_mode);
		if (ch->new_mode)
			buf_addf(&b, ",\"new_mode\":\"%o\"", (unsigned)ch->new_mode);
		buf_addf(&b, ",\"content_changed\":%s,\"mode_changed\":%s,\"xattrs_changed\":%s",
			 ch->content_changed || ch->status == DELTA_ADDED ||
					 ch->status == DELTA_DELETED
				 ? "true"
				 : "false",
			 ch->mode_changed ? "true" : "false", ch->xattrs_changed ? "true" : "false");
		if (ch->new_mode && !S_ISDIR(ch->new_mode))
			buf_addf(&b, ",\"size\":%lld", (long long)ch->new_size);
		buf_adds(&b, "}\n");
		if (b.oom)
			break;
		fwrite(b.data, 1, b.len, stdout);
	}
	buf_free(&b);
}

/* ---- reading both sides ---- */

struct text {
	char *data;
	size_t len;
	bool binary;   /* holds a NUL byte, or too large to diff */
};

/* Reads regular file PATH beneath DIRFD (never through a symlink), or a symlink's target. */
static int read_side(int dirfd, const char *path, mode_t mode, struct text *t)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	size_t got = 0;

	*t = (struct text){ 0 };
	if (S_ISLNK(mode)) {
		size_t plen;
		const char *base = delta_basename(path, &plen);
		_cleanup_free_ char *parent = strndup(path, plen);
		_cleanup_close_ int pfd = -1;
		ssize_t n;

		if (!parent)
			return -ENOMEM;
		pfd = delta_openat(dirfd, parent, O_PATH | O_DIRECTORY, 0);
		if (pfd < 0)
			return pfd;
		t->data = malloc(PATH_MAX + 1);
		if (!t->data)
			return -ENOMEM;
		n = readlinkat(pfd, base, t->data, PATH_MAX + 1);
		if (n < 0)
			return -errno;
		t->len = (size_t)n;
		return 0;
	}
	fd = delta_openat(dirfd, path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK, 0);
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL; /* replaced under us */
	if ((uint64_t)st.st_size > DIFF_MAX_BYTES) {
		t->binary = true;
		return 0;
	}
	t->data = malloc((size_t)st.st_size + 1);
	if (!t->data)
		return -ENOMEM;
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, t->data + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	t->len = got;
	/* git's heuristic (xdiff-interface.c buffer_is_binary) looks at the
	 * first 8000 bytes; the whole file costs little more and misses less. */
	t->binary = memchr(t->data, '\0', got) != NULL;
	return 0;
}

/* ---- the line diff ---- */

struct line {
	const char *p;
	size_t len;       /* including the '\n', when there is one */
	uint64_t hash;
};

static size_t split_lines(const struct text *t, struct line **out)
{
	size_t n = 0, i, start = 0;
	struct line *v;

	for (i = 0; i < t->len; i++)
		if (t->data[i] == '\n')
			n++;
	if (t->len && t->data[t->len - 1] != '\n')
		n++;
	v = calloc(n ? n : 1, sizeof(*v));
	if (!v)
		return SIZE_MAX;
	n = 0;
	for (i = 0; i <= t->len; i++) {
		if (i == t->len ? i > start : t->data[i] == '\n') {
			size_t end = i < t->len ? i + 1 : i, k;
			uint64_t h = 1469598103934665603ULL; /* FNV-1a */

			for (k = start; k < end; k++)
				h = (h ^ (unsigned char)t->data[k]) * 1099511628211ULL;
			v[n++] = (struct line){ t->data + start, end - start, h };
			start = end;
		}
	}
	*out = v;
	return n;
}

static bool line_eq(const struct line *a, const struct line *b)
{
	return a->hash == b->hash && a->len == b->len && !memcmp(a->p, b->p, a->len);
}

/*
 * Myers' linear-space refinement (section 4b of the paper): the middle
 * snake of an optimal edit path is found by a forward and a backward
 * search that meet, then both halves are solved the same way; O((N+M)D)
 * time, O(N+M) space.  A budget of snake steps bounds the time on huge,
 * very different files: past it, what is left of a range is replaced
 * whole (still a correct patch, only not a minimal one).
 */
struct lcs {
	const struct line *a, *b;
	bool *del, *ins;    /* out: lines of a to delete, of b to insert */
	int32_t *vf, *vb;   /* furthest x per diagonal k, at [k], forward and backward */
	uint64_t budget;    /* snake steps left */
};

static void replace_all(struct lcs *s, long a0, long a1, long b0, long b1)
{
	for (; a0 < a1; a0++)
		s->del[a0] = true;
	for (; b0 < b1; b0++)
		s->ins[b0] = true;
}

/* Charges N steps; false when the budget is spent. */
static bool spend(struct lcs *s, uint64_t n)
{
	if (s->budget < n)
		return false;
	s->budget -= n;
	return true;
}

/*
 * The middle snake of a[a0,a1) against b[b0,b1), both non-empty: sets
 * [*xs,*xe) x [*ys,*ye), a run of equal lines on an optimal path.  The
 * backward search runs on the reversed sequences, so its diagonal k is the
 * forward diagonal delta - k.  False when the budget is spent.
 */
static bool middle_snake(struct lcs *s, long a0, long a1, long b0, long b1, long *xs, long *ys,
			 long *xe, long *ye)
{
	long n = a1 - a0, m = b1 - b0, delta = n - m, dmax = (n + m + 1) / 2, d, k, x, y, x0;
	bool odd = delta & 1;
	int32_t *vf = s->vf, *vb = s->vb;

	vf[1] = 0;
	vb[1] = 0;
	for (d = 0; d <= dmax; d++) {
		for (k = -d; k <= d; k += 2) {
			x = k == -d || (k != d && vf[k - 1] < vf[k + 1]) ? vf[k + 1] : vf[k - 1] + 1;
			y = x - k;
			x0 = x;
			while (x < n && y < m && line_eq(&s->a[a0 + x], &s->b[b0 + y]))
				x++, y++;
			if (!spend(s, (uint64_t)(x - x0) + 1))
				return false;
			vf[k] = (int32_t)x;
			if (odd && delta - k >= -(d - 1) && delta - k <= d - 1 &&
			    vf[k] + vb[delta - k] >= n) {
				*xs = a0 + x0, *ys = b0 + x0 - k, *xe = a0 + x, *ye = b0 + y;
				return true;
			}
		}
		for (k = -d; k <= d; k += 2) {
			x = k == -d || (k != d && vb[k - 1] < vb[k + 1]) ? vb[k + 1] : vb[k - 1] + 1;
			y = x - k;
			x0 = x;
			while (x < n && y < m && line_eq(&s->a[a1 - 1 - x], &s->b[b1 - 1 - y]))
				x++, y++;
			if (!spend(s, (uint64_t)(x - x0) + 1))
				return false;
			vb[k] = (int32_t)x;
			if (!odd && delta - k >= -d && delta - k <= d && vb[k] + vf[delta - k] >= n) {
				*xs = a1 - x, *ys = b1 - y, *xe = a1 - x0, *ye = b1 - (x0 - k);
				return true;
			}
		}
	}
	return false; /* not reached: some path of at most n + m edits exists */
}

static void lcs_solve(struct lcs *s, long a0, long a1, long b0, long b1)
{
	long xs, ys, xe, ye;

	while (a0 < a1 && b0 < b1 && line_eq(&s->a[a0], &s->b[b0]))
		a0++, b0++;
	while (a0 < a1 && b0 < b1 && line_eq(&s->a[a1 - 1], &s->b[b1 - 1]))
		a1--, b1--;
	if (a0 == a1 || b0 == b1 || !middle_snake(s, a0, a1, b0, b1, &xs, &ys, &xe, &ye) ||
	    (xs == a1 && ys == b1) || (xe == a0 && ye == b0)) {
		/* Nothing to match, over budget, or (never seen) no progress. */
		replace_all(s, a0, a1, b0, b1);
		return;
	}
	lcs_solve(s, a0, xs, b0, ys);
	lcs_solve(s, xe, a1, ye, b1);
}

/*
 * Marks the lines of a[0, na) to delete and of b[0, nb) to insert so that
 * the rest is a longest common subsequence.  0 or -ENOMEM.
 */
static int line_diff(const struct line *a, size_t na, const struct line *b, size_t nb, bool *del,
		     bool *ins)
{
	size_t dmax = (na + nb + 1) / 2 + 1;
	_cleanup_free_ int32_t *vf = calloc(2 * dmax + 3, sizeof(*vf));
	_cleanup_free_ int32_t *vb = calloc(2 * dmax + 3, sizeof(*vb));
	struct lcs s = { .a = a, .b = b, .del = del, .ins = ins, .budget = DIFF_MAX_STEPS };

	if (!vf || !vb)
		return -ENOMEM;
	s.vf = vf + dmax + 1; /* so that vf[-dmax - 1 .. dmax + 1] exist */
	s.vb = vb + dmax + 1;
	lcs_solve(&s, 0, (long)na, 0, (long)nb);
	return 0;
}

struct op {
	char t;        /* ' ', '-', '+' */
	size_t ai, bj; /* positions in a and b before this op */
};

static void print_line(const struct line *l)
{
	fwrite(l->p, 1, l->len, stdout);
	if (!l->len || l->p[l->len - 1] != '\n')
		fputs("\n\\ No newline at end of file\n", stdout);
}

static void print_range(size_t start, size_t count)
{
	/* An empty range names the line before it (GNU diff's convention). */
	if (count == 1)
		printf("%zu", start + 1);
	else
		printf("%zu,%zu", count ? start + 1 : start, count);
}

/* Prints the hunks that turn text A into text B.  0 or -ENOMEM. */
static int print_hunks(const struct text *ta, const struct text *tb)
{
	_cleanup_free_ struct line *a = NULL, *b = NULL;
	_cleanup_free_ bool *del = NULL, *ins = NULL;
	_cleanup_free_ struct op *ops = NULL;
	size_t na, nb, i, j, nops = 0, k;
	int r;

	na = split_lines(ta, &a);
	nb = split_lines(tb, &b);
	if (na == SIZE_MAX || nb == SIZE_MAX)
		return -ENOMEM;
	del = calloc(na + 1, sizeof(*del));
	ins = calloc(nb + 1, sizeof(*ins));
	ops = calloc(na + nb + 1, sizeof(*ops));
	if (!del || !ins || !ops)
		return -ENOMEM;
	r = line_diff(a, na, b, nb, del, ins);
	if (r)
		return r;
	for (i = 0, j = 0; i < na || j < nb;) {
		if (i < na && del[i])
			ops[nops++] = (struct op){ '-', i++, j };
		else if (j < nb && ins[j])
			ops[nops++] = (struct op){ '+', i, j++ };
		else
			ops[nops++] = (struct op){ ' ', i++, j++ };
	}
	for (k = 0; k < nops;) {
		size_t start, end, last, e, oc = 0, nc = 0;

		if (ops[k].t == ' ') {
			k++;
			continue;
		}
		start = k > DIFF_CONTEXT ? k - DIFF_CONTEXT : 0;
		last = k;
		for (e = k; e < nops; e++) {
			if (ops[e].t != ' ')
				last = e;
			else if (e - last > 2 * DIFF_CONTEXT)
				break;
		}
		end = last + DIFF_CONTEXT + 1 < nops ? last + DIFF_CONTEXT + 1 : nops;
		for (e = start; e < end; e++) {
			oc += ops[e].t != '+';
			nc += ops[e].t != '-';
		}
		fputs("@@ -", stdout);
		print_range(ops[start].ai, oc);
		fputs(" +", stdout);
		print_range(ops[start].bj, nc);
		fputs(" @@\n", stdout);
		for (e = start; e < end; e++) {
			putchar(ops[e].t);
			print_line(ops[e].t == '+' ? &b[ops[e].bj] : &a[ops[e].ai]);
		}
		k = end;
	}
	return 0;
}

/* ---- patch sections ---- */

static void print_header(const char *old_path, const char *new_path)
{
	fputs("diff --git ", stdout);
	quote_path_fputs(stdout, "a/", old_path, "");
	putchar(' ');
	quote_path_fputs(stdout, "b/", new_path, "");
	putchar('\n');
}

/*
 * git's "index OLD..NEW[ MODE]" line.  GNU patch takes the file type of a
 * symlink from MODE and "create" from an all-zero OLD, so the ids are the
 * real blob ids (NULL text: the side does not exist).  A text too large
 * to read has no id, and then no index line.
 */
static void print_index(const struct text *ta, const struct text *tb, unsigned mode)
{
	char a[41] = "0000000", b[41] = "0000000";

	if ((ta && !ta->data) || (tb && !tb->data))
		return;
	if (ta)
		delta_git_blob_id(ta->data, ta->len, a);
	if (tb)
		delta_git_blob_id(tb->data, tb->len, b);
	printf("index %.7s..%.7s", a, b);
	if (mode)
		printf(" %o", mode);
	putchar('\n');
}

/* A ---/+++ name: git ends one that holds a space with a tab, for GNU patch. */
static void print_name(const char *prefix, const char *path)
{
	if (!path) {
		fputs("/dev/null", stdout);
		return;
	}
	quote_path_fputs(stdout, prefix, path, "");
	if (strchr(path, ' '))
		putchar('\t');
}

/* The ---/+++ lines and hunks, or the "Binary files" line.  0 or -errno. */
static int print_body(const char *old_path, const struct text *ta, const char *new_path,
		      const struct text *tb)
{
	if (ta->binary || tb->binary) {
		fputs("Binary files ", stdout);
		if (old_path)
			quote_path_fputs(stdout, "a/", old_path, "");
		else
			fputs("/dev/null", stdout);
		fputs(" and ", stdout);
		if (new_path)
			quote_path_fputs(stdout, "b/", new_path, "");
		else
			fputs("/dev/null", stdout);
		fputs(" differ\n", stdout);
		return 0;
	}
	if (ta->len == 0 && tb->len == 0)
		return 0; /* git prints no hunk for an empty file */
	fputs("--- ", stdout);
	print_name("a/", old_path);
	fputs("\n+++ ", stdout);
	print_name("b/", new_path);
	putchar('\n');
	return print_hunks(ta, tb);
}

static void text_free(struct text *t)
{
	free(t->data);
	*t = (struct text){ 0 };
}

static int patch_added(int upperfd, const char *path, mode_t mode)
{
	struct text empty = { 0 }, tb;
	int r;

	r = read_side(upperfd, path, mode, &tb);
	if (r)
		return r;
	print_header(path, path);
	printf("new file mode %o\n", git_mode(mode));
	print_index(NULL, &tb, 0);
	r = print_body(NULL, &empty, path, &tb);
	text_free(&tb);
	return r;
}

static int patch_deleted(int srcfd, const char *path, mode_t mode)
{
	struct text empty = { 0 }, ta;
	int r;

	r = read_side(srcfd, path, mode, &ta);
	if (r)
		return r;
	print_header(path, path);
	printf("deleted file mode %o\n", git_mode(mode));
	print_index(&ta, NULL, 0);
	r = print_body(path, &ta, NULL, &empty);
	text_free(&ta);
	return r;
}

static int patch_change(int upperfd, int srcfd, const struct delta_change *ch)
{
	const char *old = ch->old_path ? ch->old_path : ch->path;
	struct text ta = { 0 }, tb = { 0 };
	int r = 0;

	if (ch->is_dir)
		return 0; /* git tracks no directories; their files carry the change */
	if ((ch->old_mode && !S_ISREG(ch->old_mode) && !S_ISLNK(ch->old_mode)) ||
	    (ch->new_mode && !S_ISREG(ch->new_mode) && !S_ISLNK(ch->new_mode))) {
		_cleanup_free_ char *q = quote_message(ch->path);

		fprintf(stderr, "fencefs diff: '%s': a special file cannot be shown in a patch\n",
			q ? q : "?");
		return 0;
	}
	switch (ch->status) {
	case DELTA_ADDED:
		return patch_added(upperfd, ch->path, ch->new_mode);
	case DELTA_DELETED:
		return patch_deleted(srcfd, ch->path, ch->old_mode);
	case DELTA_TYPECHANGE:
		r = patch_deleted(srcfd, ch->path, ch->old_mode);
		return r ? r : patch_added(upperfd, ch->path, ch->new_mode);
	case DELTA_MODIFIED:
	case DELTA_RENAMED:
		break;
	}
	if (ch->status == DELTA_MODIFIED && !ch->content_changed &&
	    git_mode(ch->old_mode) == git_mode(ch->new_mode))
		return 0; /* a change of bits git does not record (e.g. 644 -> 600) */
	if (ch->content_changed) {
		r = read_side(srcfd, old, ch->old_mode, &ta);
		if (!r)
			r = read_side(upperfd, ch->path, ch->new_mode, &tb);
		if (r)
			goto out;
	}
	print_header(old, ch->path);
	if (git_mode(ch->old_mode) != git_mode(ch->new_mode))
		printf("old mode %o\nnew mode %o\n", git_mode(ch->old_mode),
		       git_mode(ch->new_mode));
	if (ch->status == DELTA_RENAMED) {
		if (!ch->content_changed)
			fputs("similarity index 100%\n", stdout);
		fputs("rename from ", stdout);
		quote_path_fputs(stdout, "", old, "");
		fputs("\nrename to ", stdout);
		quote_path_fputs(stdout, "", ch->path, "");
		putchar('\n');
	}
	if (ch->content_changed) {
		print_index(&ta, &tb, git_mode(ch->old_mode) == git_mode(ch->new_mode)
					      ? git_mode(ch->new_mode) : 0);
		r = print_body(old, &ta, ch->path, &tb);
	}
out:
	text_free(&ta);
	text_free(&tb);
	return r;
}

static int print_patch(int upperfd, int srcfd, const struct delta_changes *c)
{
	size_t i;
	int r;

	for (i = 0; i < c->n; i++) {
		r = patch_change(upperfd, srcfd, &c->v[i]);
		if (r) {
			_cleanup_free_ char *q = quote_message(c->v[i].path);

			fprintf(stderr, "fencefs diff: cannot diff '%s': %s\n", q ? q : "?",
				strerror(-r));
			return r;
		}
	}
	return 0;
}

int cmd_diff(int argc, char **argv)
{
	struct diff_opts o;
	struct delta_meta m = { 0 };
	struct delta_changes c = { 0 };
	_cleanup_close_ int deltafd = -1, upperfd = -1, srcfd = -1;
	const char *source;
	char err[512];
	int r, status = 2;

	r = diff_parse(argc, argv, &o);
	if (r) {
		diff_usage(r > 0 ? stdout : stderr);
		return r > 0 ? 0 : 2;
	}
	r = delta_open(o.delta, &deltafd, &m, err, sizeof(err));
	if (r) {
		fprintf(stderr, "fencefs diff: '%s' is not a fencefs delta: %s\n", o.delta, err);
		return 2;
	}
	upperfd = openat(deltafd, DELTA_UPPER_NAME,
			 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (upperfd < 0) {
		fprintf(stderr, "fencefs diff: cannot open '%s/%s': %s\n", o.delta,
			DELTA_UPPER_NAME, strerror(errno));
		goto out;
	}
	source = o.source ? o.source : m.source;
	srcfd = open(source, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (srcfd < 0) {
		fprintf(stderr, "fencefs diff: cannot open source '%s': %s\n", source,
			strerror(errno));
		goto out;
	}
	r = delta_collect(upperfd, srcfd, m.xattr_ns, &c, err, sizeof(err));
	if (r) {
		fprintf(stderr, "fencefs diff: %s\n", err);
		goto out;
	}
	if (o.json)
		print_json(&c);
	else if (o.patch)
		r = print_patch(upperfd, srcfd, &c);
	else
		print_list(&c);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		fprintf(stderr, "fencefs diff: cannot write output: %s\n", strerror(errno));
		goto out;
	}
	status = r ? 2 : 0;
out:
	delta_changes_free(&c);
	delta_meta_free(&m);
	return status;
}
