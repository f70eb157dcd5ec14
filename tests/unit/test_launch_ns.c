// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for launcher/launch_ns.c's launch_clone(): fork semantics,
 * and CLONE_INTO_CGROUP on a real cgroup2 hierarchy (a leaf with no
 * controllers is enough to see where the child starts).  That part needs
 * root and a cgroup2 mount; without them it is skipped.
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clone_fork_semantics),
		cmocka_unit_test(test_clone_into_cgroup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
