// SPDX-License-Identifier: Apache-2.0
/*
 * test_fs_opts.c - the `fencefs mount` command-line parser (fusefs/fs_opts.c),
 * the level-to-mode mapping and which directories keep w bits
 * (fusefs/fs_ops.c): table-driven, no root, no filesystem.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "fs.h"
#include "fs_opts.h"

#define MAXARGS 24

static int parse(const char *const *args, struct fs_opts *o, char *err, size_t errlen)
{
	char *argv[MAXARGS];
	int argc = 0;

	argv[argc++] = (char *)"mount";
	while (*args && argc < MAXARGS - 1)
		argv[argc++] = (char *)*args++;
	argv[argc] = NULL;
	return fs_opts_parse(argc, argv, o, err, errlen);
}

struct bad_case {
	const char *args[10];
	const char *msg; /* substring of the error */
};

static const struct bad_case bad_cases[] = {
	{ { "src", "mnt", NULL }, "no policy: give --preset, --policy or --rule" },
	{ { "--preset", "read-only", "src", NULL }, "expected SOURCE and MOUNTPOINT" },
	{ { "--preset", "read-only", "a", "b", "c", NULL }, "too many arguments" },
	{ { "--preset", "read-only", "--bogus", "a", "b", NULL }, "unknown option '--bogus'" },
	{ { "--preset", NULL }, "needs a value" },
	{ { "--rule", "read=**", "--max-delta", "lots", "a", "b", NULL }, "--max-delta" },
	{ { "--rule", "read=**", "--max-delta", "0", "a", "b", NULL }, "--max-delta" },
	{ { "--rule", "read=**", "--fd-cache", "15", "a", "b", NULL }, "--fd-cache: expected" },
	{ { "--rule", "read=**", "--fd-cache", "-16", "a", "b", NULL }, "--fd-cache: expected" },
	{ { "--rule", "read=**", "--fd-cache", "16x", "a", "b", NULL }, "--fd-cache: expected" },
	{ { "--rule", "read=**", "--fd-cache", "99999999999", "a", "b", NULL }, "--fd-cache" },
	{ { "--rule", "read=**", "--stats-file", "", "a", "b", NULL }, "--stats-file" },
	{ { "--rule", "read=**", "--owner", "1000", "a", "b", NULL }, "UID:GID" },
	{ { "--rule", "read=**", "--owner", "x:1", "a", "b", NULL }, "UID:GID" },
	{ { "--rule", "read=**", "-f", "--ready-fd", "-3", "a", "b", NULL }, "file descriptor" },
	{ { "--rule", "read=**", "--ready-fd", "3", "a", "b", NULL }, "needs -f" },
	{ { "--rule", "read=**", "--audit-all", "a", "b", NULL }, "--audit-all needs" },
	{ { "--rule", "read=**", "--audit", "x", "--audit-fd", "4", "a", "b" }, "exclusive" },
	{ { "--audit-all=yes", "--rule", "read=**", "a", "b", NULL }, "takes no value" },
	{ { "--rule", "read=**", "--exact-opens", "--kernel-opens", "a", "b", NULL },
	  "--kernel-opens and --exact-opens are exclusive" },
};

static void test_bad(void **state)
{
	size_t k;

	(void)state;
	for (k = 0; k < sizeof(bad_cases) / sizeof(bad_cases[0]); k++) {
		struct fs_opts o;
		char err[256];
		int r = parse(bad_cases[k].args, &o, err, sizeof(err));

		if (r != -EINVAL || !strstr(err, bad_cases[k].msg))
			fail_msg("case %zu: r=%d err='%s', want '%s'", k, r, err, bad_cases[k].msg);
		fs_opts_free(&o);
	}
}

static void test_full(void **state)
{
	static const char *const args[] = {
		"--preset",  "agent-safe", "--policy",   "p.ini", "--rule",      "write=/out/",
		"--rule=none=*.db",        "--delta",    "/d",    "--audit",     "/a.log",
		"--audit-all",             "--max-delta", "10M",  "-f",          "-v",
		"-o",        "ro",         "-oallow_other",       "src",         "/mnt", NULL,
	};
	struct fs_opts o;
	char err[256];

	(void)state;
	assert_int_equal(parse(args, &o, err, sizeof(err)), 0);
	assert_string_equal(o.policy.preset, "agent-safe");
	assert_string_equal(o.policy.policy_file, "p.ini");
	assert_int_equal(o.policy.nrules, 2);
	assert_string_equal(o.policy.rules[0], "write=/out/");
	assert_string_equal(o.policy.rules[1], "none=*.db");
	assert_string_equal(o.delta, "/d");
	assert_string_equal(o.audit, "/a.log");
	assert_true(o.audit_all);
	assert_int_equal(o.max_delta, 10 * 1024 * 1024);
	assert_true(o.foreground);
	assert_true(o.verbose);
	assert_false(o.kernel_opens);
	assert_false(o.exact_opens); /* kernel opens are the default */
	assert_false(o.no_passthrough);
	assert_int_equal(o.nfuse_opts, 2);
	assert_string_equal(o.fuse_opts[0], "ro");
	assert_string_equal(o.fuse_opts[1], "allow_other");
	assert_string_equal(o.source, "src");
	assert_string_equal(o.mountpoint, "/mnt");
	assert_int_equal(o.ready_fd, -1);
	assert_int_equal(o.stats_fd, -1);
	assert_int_equal(o.audit_fd, -1);
	assert_int_equal(o.fd_cache, 0); /* from RLIMIT_NOFILE */
	assert_null(o.stats_file);
	assert_false(o.has_owner);
	fs_opts_free(&o);
}

/* The form fence-run uses (launcher/launch_daemon.c). */
static void test_fence_run_form(void **state)
{
	static const char *const args[] = {
		"-f", "--owner", "1000:1001", "--ready-fd", "5", "--stats-fd", "6",
		"--audit-fd", "7", "--rule", "read=**", "--fd-cache", "16", "--stats-file=s.json",
		"/src", "/dev/fd/9", NULL,
	};
	struct fs_opts o;
	char err[256];

	(void)state;
	assert_int_equal(parse(args, &o, err, sizeof(err)), 0);
	assert_true(o.has_owner);
	assert_int_equal(o.owner_uid, 1000);
	assert_int_equal(o.owner_gid, 1001);
	assert_int_equal(o.ready_fd, 5);
	assert_int_equal(o.stats_fd, 6);
	assert_int_equal(o.audit_fd, 7);
	assert_int_equal(o.fd_cache, 16);
	assert_string_equal(o.stats_file, "s.json");
	assert_string_equal(o.mountpoint, "/dev/fd/9");
	fs_opts_free(&o);
}

static void test_help_and_dashdash(void **state)
{
	static const char *const help[] = { "--help", NULL };
	static const char *const dd[] = { "--rule", "read=**", "--kernel-opens", "--no-passthrough",
					  "--", "-src", "-mnt", NULL };
	static const char *const ex[] = { "--exact-opens", "--rule", "read=**", "s", "m", NULL };
	struct fs_opts o;
	char err[256];

	(void)state;
	assert_int_equal(parse(help, &o, err, sizeof(err)), 0);
	assert_true(o.help);
	fs_opts_free(&o);
	assert_int_equal(parse(dd, &o, err, sizeof(err)), 0);
	assert_true(o.kernel_opens);
	assert_true(o.no_passthrough);
	assert_string_equal(o.source, "-src");
	assert_string_equal(o.mountpoint, "-mnt");
	fs_opts_free(&o);
	assert_int_equal(parse(ex, &o, err, sizeof(err)), 0);
	assert_true(o.exact_opens);
	assert_false(o.kernel_opens);
	fs_opts_free(&o);
}

/* docs/SPEC.md 1: read clears w, view clears r, w and x on files, dirs keep r-x. */
static void test_level_mode(void **state)
{
	static const struct {
		mode_t in;
		enum policy_level level;
		mode_t out;
	} cases[] = {
		{ S_IFREG | 0644, POLICY_WRITE, S_IFREG | 0644 },
		{ S_IFREG | 0664, POLICY_READ, S_IFREG | 0444 },
		{ S_IFREG | 0755, POLICY_READ, S_IFREG | 0555 },
		{ S_IFREG | 04755, POLICY_VIEW, S_IFREG | 04000 },
		{ S_IFREG | 0644, POLICY_VIEW, S_IFREG | 0 },
		{ S_IFDIR | 0775, POLICY_VIEW, S_IFDIR | 0555 },
		{ S_IFDIR | 0775, POLICY_READ, S_IFDIR | 0555 },
		{ S_IFDIR | 0700, POLICY_WRITE, S_IFDIR | 0700 },
		{ S_IFLNK | 0777, POLICY_VIEW, S_IFLNK | 0777 },
	};
	size_t k;

	(void)state;
	for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++)
		if (fs_level_mode(cases[k].in, cases[k].level) != cases[k].out)
			fail_msg("case %zu: 0%o at %d gave 0%o, want 0%o", k, cases[k].in,
				 cases[k].level, fs_level_mode(cases[k].in, cases[k].level),
				 cases[k].out);
}

/* Which directories must keep w bits so that write names can be made in them. */
static void test_write_possible_beneath(void **state)
{
	static const struct {
		const char *rules[5];
		const char *dir;
		bool want;
	} cases[] = {
		/* agent-safe's shape: anchored write rules. */
		{ { "read=**", "write=/output/", "write=/tmp/", NULL }, "", true },
		{ { "read=**", "write=/output/", "write=/tmp/", NULL }, "src", false },
		{ { "read=**", "write=/output/", "write=/tmp/", NULL }, "out", false },
		/*
		 * output/ is itself write: what lies beneath inherits it, and no
		 * later rule decides anything there (the daemon only asks about
		 * directories below write).
		 */
		{ { "read=**", "write=/output/", NULL }, "output", false },
		{ { "read=**", "write=/output/", "read=/output/docs/", NULL }, "output/docs", false },
		{ { "read=**", "write=/output/", "read=/output/docs/", "write=*.md", NULL },
		  "output/docs", true },
		{ { "read=**", "write=/src/gen/", NULL }, "src", true },
		{ { "read=**", "write=/src/gen/", NULL }, "src/gen/deep", false }, /* inherits write */
		{ { "read=**", "write=/src/gen/", NULL }, "srcx", false },
		/* a glob continues the anchored prefix beneath */
		{ { "read=**", "write=/src/*/gen/", NULL }, "src/a", true },
		{ { "read=**", "write=/src/*/gen/", NULL }, "doc", false },
		/* no '/' inside: any depth */
		{ { "read=**", "write=*.log", NULL }, "a/b/c", true },
		/* no write rule at all */
		{ { "read=**", "none=secrets/", NULL }, "", false },
	};
	size_t k, r;

	(void)state;
	for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct policy *p = policy_new();
		struct policy_error err;

		assert_non_null(p);
		for (r = 0; cases[k].rules[r]; r++)
			assert_int_equal(policy_add_rule_arg(p, cases[k].rules[r], &err), 0);
		if (policy_could_match_beneath(p, cases[k].dir, POLICY_WRITE) != cases[k].want)
			fail_msg("case %zu: dir '%s' gave %d", k, cases[k].dir, !cases[k].want);
		policy_free(p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_fence_run_form),
		cmocka_unit_test(test_help_and_dashdash),
		cmocka_unit_test(test_level_mode),
		cmocka_unit_test(test_write_possible_beneath),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
