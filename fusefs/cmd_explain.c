// SPDX-License-Identifier: Apache-2.0
/*
 * cmd_explain.c - `fencefs explain` (which level does each path get, and
 * which rule decided it) and `fencefs presets`.  See fence-policy(5).
 *
 * explain reads no file system beyond the policy, unless --source names
 * the codebase: then each path is lstat'ed there to learn whether it is a
 * directory (it matters for "dir/" patterns and pass-through).
 */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "commands.h"
#include "dirnames.h"
#include "policy.h"
#include "policy_load.h"
#include "quote.h"
#include "util.h"

struct explain_config {
	struct fence_policy_opts policy;
	bool json;
	bool all;           /* --all: every matching rule, not only the last */
	bool all_dirs;      /* --dir: every PATH is a directory */
	bool tree;          /* --tree: and everything beneath, from --source */
	const char *source; /* --source DIR: ask the real tree */
	char **paths;
	int npaths;
};

static void explain_usage(FILE *f)
{
	fprintf(f,
		"usage: fencefs explain [--preset NAME] [--policy FILE] [--rule LEVEL=PATTERN]...\n"
		"                       [--dir | --source DIR [--tree]] [--all] [--json] PATH...\n"
		"\n"
		"Prints, for each PATH (relative to the codebase root), its level and the rule\n"
		"that decided it.  A PATH ending in '/' is a directory; --dir says that every\n"
		"PATH is one; --source DIR looks each PATH up in DIR instead.\n"
		"\n"
		"  --preset NAME         start from a preset (see 'fencefs presets')\n"
		"  --policy FILE         then the rules of a policy file\n"
		"  --rule LEVEL=PATTERN  then one more rule (repeatable)\n"
		"  --dir                 treat every PATH as a directory\n"
		"  --source DIR          find out from DIR which PATHs are directories\n"
		"  --tree                with --source: every entry beneath each PATH too\n"
		"                        (PATH defaults to /); hidden ones are not entered\n"
		"  --all                 also list every rule that matches (the last one wins)\n"
		"  --json                one JSON object per line\n"
		"  -h, --help            this help\n"
		"\n"
		"See fence-policy(5).\n");
}

/*
 * Fills cfg from argv.  Returns 0, 1 for --help, or -EINVAL after
 * printing what is wrong.  cfg->policy.rules is malloc'd.
 */
static int explain_parse_args(int argc, char **argv, struct explain_config *cfg)
{
	static const struct option longopts[] = {
		{ "preset", required_argument, NULL, 'p' }, { "policy", required_argument, NULL, 'f' },
		{ "rule", required_argument, NULL, 'r' },   { "dir", no_argument, NULL, 'd' },
		{ "source", required_argument, NULL, 's' }, { "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },         { "all", no_argument, NULL, 'a' },
		{ "tree", no_argument, NULL, 't' },         { NULL, 0, NULL, 0 },
	};
	int c;

	memset(cfg, 0, sizeof(*cfg));
	cfg->policy.rules = calloc((size_t)argc, sizeof(*cfg->policy.rules));
	if (!cfg->policy.rules) {
		fprintf(stderr, "fencefs explain: out of memory\n");
		return -ENOMEM;
	}
	optind = 0; /* full re-initialisation (GNU getopt) */
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (cfg->policy.preset) {
				fprintf(stderr, "fencefs explain: --preset given twice\n");
				return -EINVAL;
			}
			cfg->policy.preset = optarg;
			break;
		case 'f':
			if (cfg->policy.policy_file) {
				fprintf(stderr, "fencefs explain: --policy given twice\n");
				return -EINVAL;
			}
			cfg->policy.policy_file = optarg;
			break;
		case 'r':
			cfg->policy.rules[cfg->policy.nrules++] = optarg;
			break;
		case 'd':
			cfg->all_dirs = true;
			break;
		case 's':
			cfg->source = optarg;
			break;
		case 'j':
			cfg->json = true;
			break;
		case 'a':
			cfg->all = true;
			break;
		case 't':
			cfg->tree = true;
			break;
		case 'h':
			return 1;
		default:
			fprintf(stderr, "Try 'fencefs explain --help'.\n");
			return -EINVAL;
		}
	}
	if (cfg->all_dirs && cfg->source) {
		fprintf(stderr, "fencefs explain: --dir and --source exclude each other\n");
		return -EINVAL;
	}
	if (!cfg->policy.preset && !cfg->policy.policy_file && !cfg->policy.nrules) {
		fprintf(stderr, "fencefs explain: no policy: give --preset, --policy or --rule "
				"(see 'fencefs presets')\n");
		return -EINVAL;
	}
	if (cfg->tree && !cfg->source) {
		fprintf(stderr, "fencefs explain: --tree needs --source DIR\n");
		return -EINVAL;
	}
	cfg->paths = argv + optind;
	cfg->npaths = argc - optind;
	if (cfg->npaths <= 0 && !cfg->tree) {
		fprintf(stderr, "fencefs explain: no PATH given\n");
		return -EINVAL;
	}
	return 0;
}

/*
 * Normalises a PATH argument into out (relative, no leading or trailing
 * '/', "//" and "." dropped).  *dir is set when it ended in '/' (or is the
 * root).  -EINVAL for "..": explain answers for paths inside the codebase.
 */
static int normalise_path(const char *arg, char **out, bool *dir)
{
	size_t len = strlen(arg), o = 0;
	const char *c = arg;
	char *s;

	*dir = len == 0 || arg[len - 1] == '/';
	s = malloc(len + 1);
	if (!s)
		return -ENOMEM;
	while (*c) {
		const char *end = strchrnul(c, '/');
		size_t n = (size_t)(end - c);

		if (n == 2 && c[0] == '.' && c[1] == '.') {
			free(s);
			return -EINVAL;
		}
		if (n && !(n == 1 && c[0] == '.')) {
			if (o)
				s[o++] = '/';
			memcpy(s + o, c, n);
			o += n;
		}
		c = *end ? end + 1 : end;
	}
	s[o] = '\0';
	if (!o)
		*dir = true;
	*out = s;
	return 0;
}

/* Is REL a directory in the source tree?  Absent paths are files, with a note. */
static bool source_is_dir(int srcfd, const char *rel, bool *absent)
{
	struct stat st;

	*absent = false;
	if (!rel[0])
		return true;
	if (fstatat(srcfd, rel, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		*absent = true;
		return false;
	}
	return S_ISDIR(st.st_mode);
}

static void print_rule(struct buf *b, const struct policy *p, int rule)
{
	const struct policy_rule_info *ri = rule >= 0 ? policy_rule(p, (size_t)rule) : NULL;

	if (!ri) {
		buf_adds(b, "default (no rule matched)");
		return;
	}
	/* Numbered from 1, as a person counts the rules of a file. */
	buf_addf(b, "#%u %s = %s (%s", ri->index + 1, policy_level_name(ri->level), ri->pattern,
		 ri->origin);
	if (ri->line > 0)
		buf_addf(b, ":%d", ri->line);
	buf_adds(b, ")");
}

/*
 * --all: every rule whose pattern matches the path or an ancestor, in
 * order; the last one is the path's own rule.  Text: one indented line
 * each; JSON: a "matching" array of rule numbers.
 */
static int add_matching(struct buf *b, const struct policy *p, const char *rel, bool dir,
			bool json)
{
	size_t i, n = policy_rule_count(p);
	bool first = true;
	int r = 0;

	if (json)
		buf_adds(b, ",\"matching\":[");
	for (i = 0; i < n; i++) {
		r = policy_rule_matches(p, i, rel, dir);
		if (r < 0)
			break;
		if (!r)
			continue;
		if (json) {
			buf_addf(b, "%s%zu", first ? "" : ",", i + 1);
		} else {
			buf_adds(b, first ? "         matches  " : "                  ");
			print_rule(b, p, (int)i);
			buf_adds(b, "\n");
		}
		first = false;
	}
	if (json)
		buf_adds(b, "]"); /* closed even after an error: the line stays JSON */
	else if (first && r == 0)
		buf_adds(b, "         matches  no rule\n");
	return r < 0 ? r : 0;
}

static void explain_text(struct buf *b, const struct policy *p, const char *rel, bool dir,
			 const struct policy_decision *d, int width, bool absent)
{
	size_t start;
	int n;

	/* Names come from the source tree too (--tree): quoted as git
	 * does, so that none can steer the reader's terminal (quote.h). */
	buf_addf(b, "%-5s  ", policy_level_name(d->level));
	start = b->len;
	quote_path_buf(b, "/", rel, dir && rel[0] ? "/" : "");
	n = (int)(b->len - start);
	buf_addf(b, "%*s  ", width > n ? width - n : 0, "");
	print_rule(b, p, d->rule);
	if (d->passthrough)
		buf_addf(b, " pass-through (re-included by #%d)", d->reincluded_by + 1);
	if (d->match_error)
		buf_adds(b, " (hidden: no matcher could decide within its bounds)");
	if (d->hidden && d->hidden_by) {
		_cleanup_free_ char *anc = strndup(rel, d->hidden_by);

		buf_adds(b, " (hidden: ancestor ");
		if (anc)
			quote_path_buf(b, "/", anc, "");
		else
			b->oom = true;
		buf_adds(b, " is none");
	} else if (d->hidden)
		buf_adds(b, " (hidden: the root is none");
	if (d->hidden && d->own != POLICY_NONE)
		buf_addf(b, "; its own level would be %s", policy_level_name(d->own));
	if (d->hidden)
		buf_adds(b, ")");
	if (absent)
		buf_adds(b, " (not in the source; taken as a file)");
	buf_adds(b, "\n");
}

static void explain_json(struct buf *b, const struct policy *p, const char *rel, bool dir,
			 const struct policy_decision *d)
{
	const struct policy_rule_info *ri = d->rule >= 0 ? policy_rule(p, (size_t)d->rule) : NULL;
	struct buf path = { 0 };

	buf_addf(&path, "/%s", rel);
	buf_adds(b, "{\"path\":");
	buf_add_json_str(b, path.data);
	buf_addf(b, ",\"dir\":%s,\"level\":\"%s\",\"own\":\"%s\",\"rule\":", dir ? "true" : "false",
		 policy_level_name(d->level), policy_level_name(d->own));
	if (ri) {
		buf_addf(b, "{\"number\":%u,\"level\":\"%s\",\"pattern\":", ri->index + 1,
			 policy_level_name(ri->level));
		buf_add_json_str(b, ri->pattern);
		buf_adds(b, ",\"origin\":");
		buf_add_json_str(b, ri->origin);
		buf_addf(b, ",\"line\":%d}", ri->line);
	} else {
		buf_adds(b, "null");
	}
	buf_addf(b, ",\"passthrough\":%s", d->passthrough ? "true" : "false");
	if (d->passthrough)
		buf_addf(b, ",\"reincluded_by\":%d", d->reincluded_by + 1);
	buf_adds(b, ",\"hidden_by\":");
	if (d->hidden) {
		buf_reset(&path);
		buf_addf(&path, "/%.*s", (int)d->hidden_by, rel);
		buf_add_json_str(b, path.data);
	} else {
		buf_adds(b, "null");
	}
	/* The caller closes the object, after --all's "matching". */
	buf_free(&path);
}

/* State of one explain run: where output goes and whether anything failed. */
struct explain_run {
	const struct explain_config *cfg;
	const struct policy *p;
	int srcfd;       /* --source, or -1 */
	int width;       /* path column */
	struct buf out;  /* written out in pieces of about 64 KiB */
	int ret;         /* exit status so far */
};

static void explain_flush(struct explain_run *x)
{
	if (x->out.oom) {
		fprintf(stderr, "fencefs explain: out of memory\n");
		x->ret = 2;
	} else if (x->out.len && fwrite(x->out.data, 1, x->out.len, stdout) != x->out.len) {
		x->ret = 2;
	}
	buf_reset(&x->out);
}

/* One output line (or object) for rel, plus --all's matching rules. */
static void explain_print(struct explain_run *x, const char *rel, bool dir,
			  const struct policy_decision *d, bool absent)
{
	int r = 0;

	if (x->cfg->json)
		explain_json(&x->out, x->p, rel, dir, d);
	else
		explain_text(&x->out, x->p, rel, dir, d, x->width, absent);
	if (x->cfg->all)
		r = add_matching(&x->out, x->p, rel, dir, x->cfg->json);
	if (x->cfg->json)
		buf_adds(&x->out, "}\n");
	if (r < 0) {
		_cleanup_free_ char *q = quote_message(rel);

		fprintf(stderr, "fencefs explain: cannot match '/%s': %s\n", q ? q : "?",
			strerror(-r));
		x->ret = 2;
	}
	if (x->out.len > 65536)
		explain_flush(x);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * --tree: every entry beneath the source directory rel (decision d), in
 * name order, depth first.  A hidden entry is shown once, as none, and
 * not entered: what it holds is hidden too.  Symlinks are not followed.
 */
static void explain_tree(struct explain_run *x, const char *rel, const struct policy_decision *d)
{
	_cleanup_closedir_ DIR *dir = NULL;
	char **names = NULL;
	size_t n = 0, cap = 0, i;
	struct dirent *e;

	dir = fence_opendirat(x->srcfd, rel[0] ? rel : ".", O_NOFOLLOW);
	if (!dir) {
		int err = errno;
		_cleanup_free_ char *q = quote_message(rel);

		fprintf(stderr, "fencefs explain: cannot read '%s/%s': %s\n", x->cfg->source,
			q ? q : "?", strerror(err));
		x->ret = 2;
		return;
	}
	while ((e = readdir(dir))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (n == cap) {
			char **nn = realloc(names, (cap = cap ? cap * 2 : 64) * sizeof(*nn));

			if (!nn)
				break;
			names = nn;
		}
		if (!(names[n] = strdup(e->d_name)))
			break;
		n++;
	}
	if (e) {
		fprintf(stderr, "fencefs explain: out of memory\n");
		x->ret = 2;
	}
	if (n)
		qsort(names, n, sizeof(*names), name_cmp);
	for (i = 0; i < n; i++) {
		_cleanup_free_ char *child = NULL;
		struct policy_decision cd;
		struct stat st;
		bool is_dir;
		int r;

		if (asprintf(&child, "%s%s%s", rel, rel[0] ? "/" : "", names[i]) < 0) {
			child = NULL;
			x->out.oom = true;
			break;
		}
		if (fstatat(dirfd(dir), names[i], &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue; /* gone meanwhile */
		is_dir = S_ISDIR(st.st_mode);
		r = policy_resolve_child(x->p, d, child, is_dir, &cd);
		if (r < 0) {
			_cleanup_free_ char *q = quote_message(child);

			fprintf(stderr, "fencefs explain: cannot resolve '/%s': %s\n", q ? q : "?",
				strerror(-r));
			x->ret = 2;
			continue;
		}
		explain_print(x, child, is_dir, &cd, false);
		if (is_dir && cd.level != POLICY_NONE)
			explain_tree(x, child, &cd);
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* The decision for rel, and whether it is a directory (--dir, --source, or a trailing '/'). */
static int explain_resolve(struct explain_run *x, const char *rel, bool *dir, bool *absent,
			   struct policy_decision *d)
{
	*absent = false;
	if (x->cfg->all_dirs)
		*dir = true;
	else if (x->srcfd >= 0 && !*dir)
		*dir = source_is_dir(x->srcfd, rel, absent);
	if (!rel[0]) {
		policy_resolve_root(x->p, d);
		return 0;
	}
	return policy_resolve(x->p, rel, *dir, d);
}

static int explain_run(const struct explain_config *cfg, const struct policy *p)
{
	static char *const root[] = { "/" };
	struct explain_run x = { .cfg = cfg, .p = p, .srcfd = -1 };
	char *const *paths = cfg->npaths ? cfg->paths : root;
	int i, npaths = cfg->npaths ? cfg->npaths : 1;

	if (cfg->source) {
		x.srcfd = open(cfg->source, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (x.srcfd < 0) {
			fprintf(stderr, "fencefs explain: cannot open '%s': %s\n", cfg->source,
				strerror(errno));
			return 2;
		}
	}
	for (i = 0; i < npaths; i++) {
		int n = (int)strlen(paths[i]) + 2;

		if (n > x.width)
			x.width = n;
	}
	if (x.width > 40 || cfg->tree)
		x.width = 40;
	for (i = 0; i < npaths; i++) {
		struct policy_decision d;
		_cleanup_free_ char *rel = NULL;
		bool dir, absent;
		int r;

		r = normalise_path(paths[i], &rel, &dir);
		if (r < 0) {
			_cleanup_free_ char *q = quote_message(paths[i]);

			fprintf(stderr, "fencefs explain: invalid path '%s': %s\n", q ? q : "?",
				r == -EINVAL ? "'..' leaves the codebase" : strerror(-r));
			x.ret = 2;
			continue;
		}
		r = explain_resolve(&x, rel, &dir, &absent, &d);
		if (r < 0) {
			_cleanup_free_ char *q = quote_message(paths[i]);

			fprintf(stderr, "fencefs explain: cannot resolve '%s': %s\n", q ? q : "?",
				strerror(-r));
			x.ret = 2;
			continue;
		}
		explain_print(&x, rel, dir, &d, absent);
		if (cfg->tree && dir && !absent && d.level != POLICY_NONE)
			explain_tree(&x, rel, &d);
	}
	explain_flush(&x);
	buf_free(&x.out);
	if (x.srcfd >= 0)
		(void)close(x.srcfd);
	if (fflush(stdout) != 0) {
		fprintf(stderr, "fencefs explain: cannot write output: %s\n", strerror(errno));
		x.ret = 2;
	}
	return x.ret;
}

int cmd_explain(int argc, char **argv)
{
	struct explain_config cfg;
	struct policy_error err = { 0 };
	struct policy *p = NULL;
	char msg[1024];
	int r;

	r = explain_parse_args(argc, argv, &cfg);
	if (r == 1) {
		explain_usage(stdout);
		free(cfg.policy.rules);
		return 0;
	}
	if (r < 0) {
		free(cfg.policy.rules);
		return 2;
	}
	r = fence_policy_build(&cfg.policy, &p, &err);
	if (r < 0) {
		if (r == -ENOMEM)
			fprintf(stderr, "fencefs explain: out of memory\n");
		else {
			policy_error_format(&err, msg, sizeof(msg));
			fprintf(stderr, "fencefs explain: %s\n", msg);
		}
		free(cfg.policy.rules);
		return 2;
	}
	r = explain_run(&cfg, p);
	policy_free(p);
	free(cfg.policy.rules);
	return r;
}

struct preset_list {
	char **names;
	char **descs;
	size_t n;
	size_t cap;
	bool oom;
};

static void collect_preset(void *ctx, const char *name, const char *description)
{
	struct preset_list *l = ctx;

	if (l->oom)
		return;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		char **nn, **dd;

		nn = realloc(l->names, cap * sizeof(*nn));
		if (!nn) {
			l->oom = true;
			return;
		}
		l->names = nn;
		dd = realloc(l->descs, cap * sizeof(*dd));
		if (!dd) {
			l->oom = true;
			return;
		}
		l->descs = dd;
		l->cap = cap;
	}
	l->names[l->n] = strdup(name);
	l->descs[l->n] = strdup(description);
	if (!l->names[l->n] || !l->descs[l->n]) {
		free(l->names[l->n]);
		free(l->descs[l->n]);
		l->oom = true;
		return;
	}
	l->n++;
}

int cmd_presets(int argc, char **argv)
{
	struct preset_list l = { 0 };
	size_t i, width = 0;
	int r, ret = 0;

	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: fencefs presets\n\n"
		       "Lists the presets (name and description) found in %s.\n"
		       "Use one with 'fencefs explain --preset NAME' or 'fence-run --preset NAME'.\n"
		       "See fence-policy(5).\n",
		       fence_preset_dir());
		return 0;
	}
	if (argc > 1) {
		fprintf(stderr, "fencefs presets: unexpected argument '%s'\n", argv[1]);
		return 2;
	}
	r = fence_list_presets(collect_preset, &l);
	if (r < 0 || l.oom) {
		fprintf(stderr, "fencefs presets: cannot list presets in '%s': %s\n",
			fence_preset_dir(), strerror(r < 0 ? -r : ENOMEM));
		ret = 2;
	} else if (!l.n) {
		fprintf(stderr, "fencefs presets: no presets in '%s'\n", fence_preset_dir());
		ret = 2;
	}
	for (i = 0; i < l.n; i++)
		if (strlen(l.names[i]) > width)
			width = strlen(l.names[i]);
	for (i = 0; i < l.n && !ret; i++)
		printf("%-*s  %s\n", (int)width, l.names[i], l.descs[i]);
	for (i = 0; i < l.n; i++) {
		free(l.names[i]);
		free(l.descs[i]);
	}
	free(l.names);
	free(l.descs);
	return ret;
}
