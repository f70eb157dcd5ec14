// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for launcher/launch_ns.c's launch_clone(): fork semantics,
 * and CLONE_INTO_CGROUP on a real cgroup2 hierarchy (a leaf with no
 * controllers is enough to see where the child starts).  That part needs
 * root and a cgroup2 mount; without them it is skipped.
 * Also launch_init.c's overwriting of fence-run's argv in the init
 * (launch_strings_area(), launch_strings_retitle(); issue 15 item 1).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "launch_sandbox.h"

#define CGROUP2_SUPER_MAGIC 0x63677270

/* Runs a child through launch_clone and returns its "0::" cgroup line. */
static void clone_and_report(unsigned long flags, int cgroup_fd, bool *in_cgroup, char *line,
			     size_t len)
{
	int p[2], st;
	pid_t pid;
	ssize_t n;

	assert_int_equal(pipe(p), 0);
	pid = launch_clone(flags, cgroup_fd, in_cgroup);
	assert_true(pid >= 0);
	if (pid == 0) {
		char buf[4096];
		FILE *f = fopen("/proc/self/cgroup", "re");
		const char *v2 = "";

		while (f && fgets(buf, sizeof(buf), f))
			if (!strncmp(buf, "0::", 3)) {
				v2 = buf + 3;
				break;
			}
		if (write(p[1], v2, strlen(v2)) < 0)
			_exit(2);
		_exit(0);
	}
	close(p[1]);
	n = read(p[0], line, len - 1);
	line[n > 0 ? n : 0] = '\0';
	line[strcspn(line, "\n")] = '\0';
	close(p[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void test_clone_fork_semantics(void **state)
{
	char line[4096];
	bool in = true;

	clone_and_report(SIGCHLD, -1, &in, line, sizeof(line));
	assert_false(in);
}

/* A writable cgroup2 mount, or NULL. */
static const char *cgroup2_mount(void)
{
	static const char *const candidates[] = { "/sys/fs/cgroup/unified", "/sys/fs/cgroup" };
	size_t i;

	for (i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
		struct statfs sf;

		if (statfs(candidates[i], &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC &&
		    access(candidates[i], W_OK) == 0)
			return candidates[i];
	}
	return NULL;
}

static void test_clone_into_cgroup(void **state)
{
	const char *mnt = cgroup2_mount();
	char dir[512], line[4096], want[128];
	bool in = false;
	int fd;

	if (geteuid() != 0 || !mnt) {
		skip();
		return;
	}
	snprintf(want, sizeof(want), "fence-nstest.%d", (int)getpid());
	snprintf(dir, sizeof(dir), "%s/%s", mnt, want);
	if (mkdir(dir, 0755) < 0) {
		skip();
		return;
	}
	/* An O_PATH fd, as launch_cgroup keeps for its leaves. */
	fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	clone_and_report(SIGCHLD, fd, &in, line, sizeof(line));
	assert_true(in);
	/* Our own v2 path may be nested: the leaf must be the last component. */
	assert_non_null(strstr(line, want));
	assert_string_equal(line + strlen(line) - strlen(want), want);
	/* With the namespaces fence-run asks for. */
	in = false;
	clone_and_report(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS |
				 CLONE_NEWNET | SIGCHLD,
			 fd, &in, line, sizeof(line));
	close(fd);
	(void)rmdir(dir);
	assert_true(in);
	assert_string_equal(line + strlen(line) - strlen(want), want);
}

/* Lays out the strings of WORDS back to back in BUF, as execve does, and
 * fills STRV with pointers to them. */
static size_t lay_out(char *buf, const char *const *words, char **strv)
{
	size_t o = 0, i;

	for (i = 0; words[i]; i++) {
		strv[i] = buf + o;
		strcpy(buf + o, words[i]);
		o += strlen(words[i]) + 1;
	}
	strv[i] = NULL;
	return o;
}

static void test_strings_retitle(void **state)
{
	static const struct {
		const char *words[8];
		const char *shown; /* what /proc/PID/cmdline shows afterwards */
	} cases[] = {
		{ { "/usr/bin/fence-run", "--codebase", "/home/alice/secret-proj", "--rule",
		    "none=client-x/", "--", "make", NULL },
		  "fence-init" },
		{ { "fence-run", "ls", NULL }, "fence-init" },  /* 13 bytes: title fits */
		{ { "fr", "ls", NULL }, "fenc" }, /* 6 bytes */
		{ { "a", "b", NULL }, "fe" },                    /* 4 bytes */
	};
	size_t i, k;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char buf[256], *strv[8];
		size_t len;
		struct launch_strings_area a;

		memset(buf, 'Z', sizeof(buf));
		len = lay_out(buf, cases[i].words, strv);
		a = launch_strings_area(strv);
		assert_ptr_equal(a.start, buf);
		assert_int_equal(a.len, len);
		launch_strings_retitle(a, "fence-init");
		/* The title, then NULs up to a last byte that is not NUL
		 * (the kernel then reads up to the first NUL only). */
		assert_string_equal(buf, cases[i].shown);
		for (k = strlen(cases[i].shown); k < len - 1; k++)
			if (buf[k])
				fail_msg("case %zu: byte %zu is %#x, want 0", i, k, buf[k]);
		assert_true(buf[len - 1] != '\0');
		/* Nothing past the area was touched. */
		assert_int_equal(buf[len], 'Z');
	}
}

static void test_strings_area_edges(void **state)
{
	char buf[64], *strv[4], *none[1] = { NULL };
	struct launch_strings_area a;

	/* Tiny areas: wiped, no title. */
	memcpy(buf, "a\0Z", 3);
	strv[0] = buf;
	strv[1] = NULL;
	a = launch_strings_area(strv);
	assert_int_equal(a.len, 2);
	launch_strings_retitle(a, "fence-init");
	assert_int_equal(buf[0], 0);
	assert_int_equal(buf[1], 0);
	assert_int_equal(buf[2], 'Z');
	/* Empty vector: nothing. */
	a = launch_strings_area(none);
	assert_null(a.start);
	assert_int_equal(a.len, 0);
	launch_strings_retitle(a, "fence-init");
	/* Strings not back to back: the area ends at the gap. */
	memcpy(buf, "one\0two\0\0three\0", 16);
	strv[0] = buf;
	strv[1] = buf + 4;
	strv[2] = buf + 9;
	strv[3] = NULL;
	a = launch_strings_area(strv);
	assert_int_equal(a.len, 8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clone_fork_semantics),
		cmocka_unit_test(test_clone_into_cgroup),
		cmocka_unit_test(test_strings_retitle),
		cmocka_unit_test(test_strings_area_edges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
