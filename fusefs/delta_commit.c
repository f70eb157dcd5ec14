// SPDX-License-Identifier: Apache-2.0
/*
 * delta_commit.c - `fencefs commit [--dry-run] [--force] [--json] DELTA
 * [SOURCE]`: reads the delta, rebuilds the policy it was made under, lists
 * its changes (delta_walk.c), applies them (delta_apply.c, which says what
 * is checked and why) and reports each path.  `fencefs discard` is in
 * delta_discard.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "commands.h"
#include "delta_apply.h"
#include "delta_format.h"
#include "delta_read.h"
#include "quote.h"
#include "policy.h"
#include "util.h"

static void commit_usage(FILE *f)
{
	fprintf(f, "usage: fencefs commit [--dry-run] [--force] [--json] DELTA [SOURCE]\n"
		   "  --dry-run  report what would be applied; change nothing\n"
		   "  --force    apply files whose source changed since copy-up\n"
		   "  --json     print the report as one JSON object\n"
		   "SOURCE defaults to the source recorded in DELTA. Exit status: 0 all applied,\n"
		   "1 conflicts or refused paths (the rest applied), 2 errors.\n"
		   "See fencefs-commit(1).\n");
}

static int commit_parse(int argc, char **argv, struct delta_commit_opts *o)
{
	static const struct option longopts[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ "force", no_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*o = (struct delta_commit_opts){ 0 };
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+nfh", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			o->dry_run = true;
			break;
		case 'f':
			o->force = true;
			break;
		case 'j':
			o->json = true;
			break;
		case 'h':
			return 1;
		default:
			fprintf(stderr, "fencefs commit: unknown option '%s'\n", argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (argc - optind < 1 || argc - optind > 2) {
		fprintf(stderr, "fencefs commit: expected DELTA [SOURCE]\n");
		return -EINVAL;
	}
	o->delta = argv[optind];
	o->source = argc - optind == 2 ? argv[optind + 1] : NULL;
	return 0;
}

/* ---- the policy the delta was made under ---- */

static int build_policy(const struct delta_meta *m, struct policy **out, char *err, size_t len)
{
	struct policy *p = policy_new();
	struct policy_error perr;
	char digest[65];
	size_t i;

	if (!p)
		return -ENOMEM;
	for (i = 0; i < m->nrules; i++) {
		enum policy_level level;
		int r = policy_level_parse(m->rules[i].level, &level);

		if (!r)
			r = policy_add_rule(p, level, m->rules[i].pattern, DELTA_META_NAME,
					    (int)i + 1, &perr);
		if (r) {
			if (r == -EINVAL)
				policy_error_format(&perr, err, len);
			else
				snprintf(err, len, "%s", strerror(-r));
			policy_free(p);
			return r;
		}
	}
	/* The digest covers the rules; a mismatch means the file was edited. */
	policy_digest(p, digest);
	if (m->policy_digest && strcmp(m->policy_digest, digest)) {
		snprintf(err, len, "%s: the rules do not match policy_digest", DELTA_META_NAME);
		policy_free(p);
		return -EINVAL;
	}
	*out = p;
	return 0;
}
/* ---- the report ---- */

static void report_text(const struct delta_commit *k)
{
	size_t i;

	for (i = 0; i < k->c->n; i++) {
		const struct delta_change *ch = &k->c->v[i];
		enum delta_result r = k->res[i];
		const char *word = delta_result_names[r];

		if (!ch->shown && (r == RES_APPLIED || r == RES_UNCHANGED))
			continue;
		if (r == RES_APPLIED && k->o->dry_run)
			word = "would";
		printf("%-9s %c ", word, ch->status);
		if (ch->old_path) {
			quote_path_fputs(stdout, "", ch->old_path, "");
			fputs(" -> ", stdout);
		}
		quote_path_fputs(stdout, "", ch->path, ch->is_dir ? "/" : "");
		/* The reason may name a path (delta_apply.c): escaped too. */
		if (k->why[i] && r != RES_APPLIED && r != RES_UNCHANGED) {
			fputs(": ", stdout);
			quote_message_fputs(stdout, k->why[i]);
		}
		putchar('\n');
	}
}

static int exit_status(const struct delta_commit *k)
{
	if (k->counts[RES_ERROR] || k->sync_failed)
		return 2;
	if (k->counts[RES_CONFLICT] || k->counts[RES_SKIPPED])
		return 1;
	return 0;
}

static void report_json(const struct delta_commit *k, const char *source)
{
	struct buf b = { 0 };
	size_t i;
	bool first = true;

	buf_addf(&b, "{\"dry_run\":%s,\"force\":%s,\"delta\":", k->o->dry_run ? "true" : "false",
		 k->o->force ? "true" : "false");
	buf_add_json_str(&b, k->o->delta);
	buf_adds(&b, ",\"source\":");
	buf_add_json_str(&b, source);
	buf_addf(&b, ",\"exit\":%d", exit_status(k));
	for (i = 0; i < RES_COUNT; i++)
		buf_addf(&b, ",\"%s\":%u", delta_result_names[i], k->counts[i]);
	buf_adds(&b, ",\"paths\":[");
	for (i = 0; i < k->c->n; i++) {
		const struct delta_change *ch = &k->c->v[i];
		enum delta_result r = k->res[i];

		if (!ch->shown && (r == RES_APPLIED || r == RES_UNCHANGED))
			continue;
		buf_addf(&b, "%s{\"status\":\"%c\",\"path\":", first ? "" : ",", ch->status);
		first = false;
		buf_add_json_str(&b, ch->path);
		if (ch->old_path) {
			buf_adds(&b, ",\"old_path\":");
			buf_add_json_str(&b, ch->old_path);
		}
		buf_addf(&b, ",\"type\":\"%s\",\"result\":\"%s\"",
			 ch->is_dir ? "dir" : S_ISLNK(ch->new_mode ? ch->new_mode : ch->old_mode)
					  ? "symlink" : "file", delta_result_names[r]);
		if (k->why[i]) {
			buf_adds(&b, ",\"reason\":");
			buf_add_json_str(&b, k->why[i]);
		}
		buf_adds(&b, "}");
	}
	buf_adds(&b, "]}\n");
	if (!b.oom)
		fwrite(b.data, 1, b.len, stdout);
	buf_free(&b);
}
/*
 * Reports a failure before anything was applied: on stderr, and with
 * --json also as the one report object, so a framework reading stdout
 * (fence-run --apply does) always gets one.  Returns the exit status, 2.
 */
__attribute__((format(printf, 2, 3))) static int commit_fail(const struct delta_commit_opts *o,
							      const char *fmt, ...)
{
	struct buf b = { 0 };
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "fencefs commit: %s\n", msg);
	if (!o->json)
		return 2;
	buf_addf(&b, "{\"dry_run\":%s,\"force\":%s,\"delta\":", o->dry_run ? "true" : "false",
		 o->force ? "true" : "false");
	buf_add_json_str(&b, o->delta);
	buf_adds(&b, ",\"exit\":2,\"error\":");
	buf_add_json_str(&b, msg);
	buf_adds(&b, "}\n");
	if (!b.oom)
		fwrite(b.data, 1, b.len, stdout);
	buf_free(&b);
	return 2;
}

int cmd_commit(int argc, char **argv)
{
	struct delta_commit_opts o;
	struct delta_meta m = { 0 };
	struct delta_changes c = { 0 };
	struct delta_commit k = { .o = &o, .m = &m, .c = &c, .upperfd = -1, .srcfd = -1 };
	_cleanup_close_ int deltafd = -1;
	const char *source;
	pid_t user;
	char err[768];
	int r, status = 2;
	size_t i;

	r = commit_parse(argc, argv, &o);
	if (r) {
		commit_usage(r > 0 ? stdout : stderr);
		return r > 0 ? 0 : 2;
	}
	r = delta_open(o.delta, &deltafd, &m, err, sizeof(err));
	if (r)
		return commit_fail(&o, "'%s' is not a fencefs delta: %s", o.delta, err);
	/* A delta still being written would be committed half-way. */
	if (!o.dry_run && delta_in_use(deltafd, &user) > 0) {
		commit_fail(&o, "'%s' is in use by process %d (still mounted?); unmount it first",
			    o.delta, (int)user);
		goto out;
	}
	source = o.source ? o.source : m.source;
	r = build_policy(&m, &k.policy, err, sizeof(err));
	if (r) {
		commit_fail(&o, "cannot rebuild the delta's policy: %s", err);
		goto out;
	}
	k.upperfd = openat(deltafd, DELTA_UPPER_NAME,
			   O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (k.upperfd < 0) {
		commit_fail(&o, "cannot open '%s/%s': %s", o.delta, DELTA_UPPER_NAME,
			    strerror(errno));
		goto out;
	}
	k.srcfd = open(source, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (k.srcfd < 0) {
		commit_fail(&o, "cannot open source '%s': %s", source, strerror(errno));
		goto out;
	}
	r = delta_collect(k.upperfd, k.srcfd, m.xattr_ns, &c, err, sizeof(err));
	if (r) {
		commit_fail(&o, "%s", err);
		goto out;
	}
	k.res = calloc(c.n + 1, sizeof(*k.res));
	k.why = calloc(c.n + 1, sizeof(*k.why));
	k.staged = calloc(c.n + 1, sizeof(*k.staged));
	if (!k.res || !k.why || !k.staged) {
		commit_fail(&o, "out of memory");
		goto out;
	}
	/* Every change gets its own result; none may be left counted as applied. */
	for (i = 0; i < c.n; i++)
		k.res[i] = RES_ERROR;
	delta_commit_run(&k);
	if (o.json)
		report_json(&k, source);
	else
		report_text(&k);
	(void)fflush(stdout); /* the report before the summary when both go to one pipe */
	fprintf(stderr, "fencefs commit: %s%u applied, %u unchanged, %u conflicts, %u skipped, "
			"%u errors\n", o.dry_run ? "dry run, nothing changed: " : "",
		k.counts[RES_APPLIED], k.counts[RES_UNCHANGED], k.counts[RES_CONFLICT],
		k.counts[RES_SKIPPED], k.counts[RES_ERROR]);
	status = exit_status(&k);
	if (fflush(stdout) == EOF) {
		fprintf(stderr, "fencefs commit: cannot write the report: %s\n", strerror(errno));
		status = 2;
	}
out:
	for (i = 0; k.why && i < c.n; i++)
		free(k.why[i]);
	free(k.why);
	free(k.res);
	free(k.staged);
	if (k.upperfd >= 0)
		(void)close(k.upperfd);
	if (k.srcfd >= 0)
		(void)close(k.srcfd);
	policy_free(k.policy);
	delta_changes_free(&c);
	delta_meta_free(&m);
	return status;
}
