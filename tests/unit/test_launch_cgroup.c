// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for launcher/launch_cgroup.c on a fake cgroup tree in a
 * temporary directory: the same code runs below a root prefix with
 * mountinfo and /proc/self/cgroup text handed in.  The test plays the
 * kernel's part: it creates the control files a real mkdir would.
 * Both layouts: cgroup v2 (controllers delegated to an ancestor) and
 * cgroup v1 (one hierarchy per controller, a cgroup namespace root).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "launch_cgroup.h"

static char root[256];

static void mkdirs(const char *rel)
{
	char path[1024], *p;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	for (p = path + strlen(root) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		(void)mkdir(path, 0755);
		*p = '/';
	}
	(void)mkdir(path, 0755);
}

static void put(const char *rel, const char *text)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static char *get(const char *rel)
{
	static char text[256];
	char path[1024];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	f = fopen(path, "r");
	if (!f)
		return NULL;
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	return text;
}

static bool exists(const char *rel)
{
	char path[1024];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	return stat(path, &st) == 0;
}

static void rm(const char *rel)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	(void)unlink(path);
}

static char *under_root(const char *rel)
{
	static char path[1024];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	return path;
}

static int setup(void **state)
{
	snprintf(root, sizeof(root), "/tmp/fence-cgtest.XXXXXX");
	assert_non_null(mkdtemp(root));
	return 0;
}

static int teardown(void **state)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
	return 0;
}

/* v2: controllers are enabled on user.slice (memory pids) and on the root
 * (cpu memory pids); we live in a session scope below user.slice. */
static const char v2_mountinfo[] =
	"22 27 0:21 / /proc rw,relatime - proc proc rw\n"
	"30 25 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 "
	"rw,nsdelegate,memory_recursiveprot\n";
static const char v2_proc[] = "0::/user.slice/user-1000.slice/session-1.scope\n";

static void make_v2_tree(void)
{
	mkdirs("sys/fs/cgroup/user.slice/user-1000.slice/session-1.scope");
	put("sys/fs/cgroup/cgroup.subtree_control", "cpuset cpu io memory pids\n");
	put("sys/fs/cgroup/user.slice/cgroup.subtree_control", "memory pids\n");
	put("sys/fs/cgroup/user.slice/user-1000.slice/cgroup.subtree_control", "\n");
	put("sys/fs/cgroup/user.slice/user-1000.slice/session-1.scope/cgroup.subtree_control", "");
}

static void test_v2_find_nearest_ancestor(void **state)
{
	struct launch_cgroup_env env = { root, v2_mountinfo, v2_proc };
	struct launch_limits lim = { 0, 100, 0 };
	struct launch_cgroup cg;
	char err[512];

	make_v2_tree();
	launch_cgroup_init(&cg);
	assert_int_equal(launch_cgroup_find(&cg, &env, &lim, err, sizeof(err)), 0);
	assert_int_equal(cg.version, 2);
	assert_string_equal(cg.parent[0], under_root("sys/fs/cgroup/user.slice"));
	assert_null(cg.parent[1]);
	launch_cgroup_destroy(&cg);

	/* --cpus needs cpu too: only the root has it. */
	lim.cpus = 0.5;
	launch_cgroup_init(&cg);
	assert_int_equal(launch_cgroup_find(&cg, &env, &lim, err, sizeof(err)), 0);
	assert_int_equal(cg.version, 2);
	assert_string_equal(cg.parent[0], under_root("sys/fs/cgroup"));
	launch_cgroup_destroy(&cg);
}

static void test_v2_limits_stats_destroy(void **state)
{
	struct launch_cgroup_env env = { root, v2_mountinfo, v2_proc };
	struct launch_limits lim = { 256ULL << 20, 64, 1.5 };
	struct launch_cgroup_stats st;
	struct launch_cgroup cg;
	char err[512];
	const char *leaf = "sys/fs/cgroup/fence-run.7";

	make_v2_tree();
	launch_cgroup_init(&cg);
	assert_int_equal(launch_cgroup_find(&cg, &env, &lim, err, sizeof(err)), 0);
	assert_int_equal(launch_cgroup_mkdir(&cg, "fence-run.7", err, sizeof(err)), 0);
	assert_true(exists(leaf));
	/* What the kernel would have created in the new cgroup. */
	put("sys/fs/cgroup/fence-run.7/memory.max", "max\n");
	put("sys/fs/cgroup/fence-run.7/memory.swap.max", "max\n");
	put("sys/fs/cgroup/fence-run.7/pids.max", "max\n");
	put("sys/fs/cgroup/fence-run.7/cpu.max", "max 100000\n");
	put("sys/fs/cgroup/fence-run.7/cgroup.procs", "");
	assert_int_equal(launch_cgroup_set_limits(&cg, &lim, err, sizeof(err)), 0);
	assert_string_equal(get("sys/fs/cgroup/fence-run.7/memory.max"), "268435456");
	assert_string_equal(get("sys/fs/cgroup/fence-run.7/memory.swap.max"), "0");
	assert_string_equal(get("sys/fs/cgroup/fence-run.7/pids.max"), "64");
	assert_string_equal(get("sys/fs/cgroup/fence-run.7/cpu.max"), "150000 100000");
	assert_int_equal(launch_cgroup_attach(&cg, 4242), 0);
	assert_string_equal(get("sys/fs/cgroup/fence-run.7/cgroup.procs"), "4242");

	put("sys/fs/cgroup/fence-run.7/memory.peak", "1048576\n");
	put("sys/fs/cgroup/fence-run.7/memory.events", "low 0\nhigh 0\nmax 12\noom 1\noom_kill 0\n");
	launch_cgroup_stats(&cg, &st);
	assert_true(st.peak_memory == 1048576);
	{
		int fds[LAUNCH_CG_NCTL];

		/* v2 moves the init from outside (cgroup.procs). */
		assert_int_equal(launch_cgroup_open_tasks(&cg, fds), -EOPNOTSUPP);
		assert_int_equal(fds[0], -1);
	}
	assert_false(st.oom_killed);
	put("sys/fs/cgroup/fence-run.7/memory.events", "low 0\nhigh 0\nmax 12\noom 1\noom_kill 2\n");
	launch_cgroup_stats(&cg, &st);
	assert_true(st.oom_killed);

	/* A missing control file is an error that names it. */
	rm("sys/fs/cgroup/fence-run.7/pids.max");
	assert_int_equal(launch_cgroup_set_limits(&cg, &lim, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "fence-run.7/pids.max"));

	/* cgroupfs removes its files with the directory; the fake cannot. */
	rm("sys/fs/cgroup/fence-run.7/memory.max");
	rm("sys/fs/cgroup/fence-run.7/memory.swap.max");
	rm("sys/fs/cgroup/fence-run.7/cpu.max");
	rm("sys/fs/cgroup/fence-run.7/cgroup.procs");
	rm("sys/fs/cgroup/fence-run.7/memory.peak");
	rm("sys/fs/cgroup/fence-run.7/memory.events");
	launch_cgroup_destroy(&cg);
	assert_false(exists(leaf));
	assert_int_equal(cg.version, 0);
}

/* v1 as on this project's CI machine: a cgroup2 mount without
 * controllers, v1 hierarchies, and our memory cgroup nested. */
static const char v1_mountinfo[] =
	"31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
	"32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct\n"
	"34 31 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
	"35 31 0:32 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
	"36 31 0:33 / /sys/fs/cgroup/name\\040with\\040space rw - cgroup cgroup rw,name=x\n"
	"37 31 0:34 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
static const char v1_proc[] = "9:name=x:/\n8:pids:/\n4:memory:/process_api/abc\n"
			      "1:cpu,cpuacct:/\n0::/\n";

static void make_v1_tree(void)
{
	mkdirs("sys/fs/cgroup/memory/process_api/abc");
	mkdirs("sys/fs/cgroup/pids");
	mkdirs("sys/fs/cgroup/cpu,cpuacct");
	mkdirs("sys/fs/cgroup/unified");
	put("sys/fs/cgroup/unified/cgroup.subtree_control", "");
}

static void test_v1_find_limits_stats(void **state)
{
	struct launch_cgroup_env env = { root, v1_mountinfo, v1_proc };
	struct launch_limits lim = { 64ULL << 20, 4096, 0.25 };
	struct launch_cgroup_stats st;
	struct launch_cgroup cg;
	char err[512];

	make_v1_tree();
	launch_cgroup_init(&cg);
	assert_int_equal(launch_cgroup_find(&cg, &env, &lim, err, sizeof(err)), 0);
	assert_int_equal(cg.version, 1);
	assert_string_equal(cg.parent[LAUNCH_CG_MEMORY],
			    under_root("sys/fs/cgroup/memory/process_api/abc"));
	assert_string_equal(cg.parent[LAUNCH_CG_PIDS], under_root("sys/fs/cgroup/pids"));
	assert_string_equal(cg.parent[LAUNCH_CG_CPU], under_root("sys/fs/cgroup/cpu,cpuacct"));
	assert_int_equal(launch_cgroup_mkdir(&cg, "fence-run.9", err, sizeof(err)), 0);
	put("sys/fs/cgroup/memory/process_api/abc/fence-run.9/memory.limit_in_bytes", "");
	put("sys/fs/cgroup/memory/process_api/abc/fence-run.9/memory.memsw.limit_in_bytes", "");
	put("sys/fs/cgroup/memory/process_api/abc/fence-run.9/cgroup.procs", "");
	put("sys/fs/cgroup/pids/fence-run.9/pids.max", "");
	put("sys/fs/cgroup/pids/fence-run.9/cgroup.procs", "");
	put("sys/fs/cgroup/cpu,cpuacct/fence-run.9/cpu.cfs_period_us", "");
	put("sys/fs/cgroup/cpu,cpuacct/fence-run.9/cpu.cfs_quota_us", "");
	put("sys/fs/cgroup/cpu,cpuacct/fence-run.9/cgroup.procs", "");
	assert_int_equal(launch_cgroup_set_limits(&cg, &lim, err, sizeof(err)), 0);
	assert_string_equal(
		get("sys/fs/cgroup/memory/process_api/abc/fence-run.9/memory.limit_in_bytes"),
		"67108864");
	assert_string_equal(
		get("sys/fs/cgroup/memory/process_api/abc/fence-run.9/memory.memsw.limit_in_bytes"),
		"67108864");
	assert_string_equal(get("sys/fs/cgroup/pids/fence-run.9/pids.max"), "4096");
	assert_string_equal(get("sys/fs/cgroup/cpu,cpuacct/fence-run.9/cpu.cfs_period_us"),
			    "100000");
	assert_string_equal(get("sys/fs/cgroup/cpu,cpuacct/fence-run.9/cpu.cfs_quota_us"),
			    "25000");
	assert_int_equal(launch_cgroup_attach(&cg, 77), 0);
	assert_string_equal(get("sys/fs/cgroup/pids/fence-run.9/cgroup.procs"), "77");
	assert_string_equal(get("sys/fs/cgroup/cpu,cpuacct/fence-run.9/cgroup.procs"), "77");
	assert_string_equal(get("sys/fs/cgroup/memory/process_api/abc/fence-run.9/cgroup.procs"),
			    "77");

	/* The init's own way in: "0" to each leaf's tasks file. */
	{
		int fds[LAUNCH_CG_NCTL];

		assert_int_equal(launch_cgroup_open_tasks(&cg, fds), -ENOENT); /* no tasks files */
		put("sys/fs/cgroup/memory/process_api/abc/fence-run.9/tasks", "");
		put("sys/fs/cgroup/pids/fence-run.9/tasks", "");
		put("sys/fs/cgroup/cpu,cpuacct/fence-run.9/tasks", "");
		assert_int_equal(launch_cgroup_open_tasks(&cg, fds), 0);
		assert_true(fds[0] >= 0 && fds[1] >= 0 && fds[2] >= 0);
		assert_int_equal(launch_cgroup_attach_self(fds), 0);
		assert_true(fds[0] == -1 && fds[1] == -1 && fds[2] == -1);
		assert_string_equal(get("sys/fs/cgroup/pids/fence-run.9/tasks"), "0");
		assert_string_equal(get("sys/fs/cgroup/memory/process_api/abc/fence-run.9/tasks"),
				    "0");
		rm("sys/fs/cgroup/memory/process_api/abc/fence-run.9/tasks");
		rm("sys/fs/cgroup/pids/fence-run.9/tasks");
		rm("sys/fs/cgroup/cpu,cpuacct/fence-run.9/tasks");
	}

	/* Without swap accounting memsw does not exist: fine. */
	rm("sys/fs/cgroup/memory/process_api/abc/fence-run.9/memory.memsw.limit_in_bytes");
	assert_int_equal(launch_cgroup_set_limits(&cg, &lim, err, sizeof(err)), 0);

	put("sys/fs/cgroup/memory/process_api/abc/fence-run.9/memory.max_usage_in_bytes",
	    "5242880\n");
	put("sys/fs/cgroup/memory/process_api/abc/fence-run.9/memory.oom_control",
	    "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n");
	launch_cgroup_stats(&cg, &st);
	assert_true(st.peak_memory == 5242880);
	assert_true(st.oom_killed);
	put("sys/fs/cgroup/memory/process_api/abc/fence-run.9/memory.oom_control",
	    "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n");
	launch_cgroup_stats(&cg, &st);
	assert_false(st.oom_killed);
	launch_cgroup_destroy(&cg);
}

static void test_v1_without_cpu_and_missing_controller(void **state)
{
	struct launch_cgroup_env env = { root, v1_mountinfo, v1_proc };
	struct launch_limits lim = { 0, 4096, 0 };
	struct launch_cgroup cg;
	char err[512];
	static const char no_pids[] =
		"34 31 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n";

	make_v1_tree();
	launch_cgroup_init(&cg);
	assert_int_equal(launch_cgroup_find(&cg, &env, &lim, err, sizeof(err)), 0);
	/* No --cpus: no cpu leaf (a cgroup v1 mkdir costs time). */
	assert_null(cg.parent[LAUNCH_CG_CPU]);
	launch_cgroup_destroy(&cg);

	env.mountinfo = no_pids;
	launch_cgroup_init(&cg);
	assert_int_equal(launch_cgroup_find(&cg, &env, &lim, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "cgroup v1 'pids' hierarchy"));
	launch_cgroup_destroy(&cg);

	env.mountinfo = "";
	launch_cgroup_init(&cg);
	assert_int_equal(launch_cgroup_find(&cg, &env, &lim, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "no cgroup v2 hierarchy with memory and pids"));
	launch_cgroup_destroy(&cg);
}

/* Inside a cgroup namespace (or a bind of a sub-hierarchy) the mount's root
 * is a prefix of our path; and mount points may hold escaped spaces. */
static void test_v1_mount_root_and_escapes(void **state)
{
	static const char mi[] =
		"34 31 0:31 /process_api /sys/fs/cgroup/my\\040memory rw - cgroup cgroup rw,memory\n"
		"35 31 0:32 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n";
	struct launch_cgroup_env env = { root, mi, v1_proc };
	struct launch_limits lim = { 0, 10, 0 };
	struct launch_cgroup cg;
	char err[512];

	launch_cgroup_init(&cg);
	assert_int_equal(launch_cgroup_find(&cg, &env, &lim, err, sizeof(err)), 0);
	assert_string_equal(cg.parent[LAUNCH_CG_MEMORY], under_root("sys/fs/cgroup/my memory/abc"));
	launch_cgroup_destroy(&cg);
}

static void test_reap_stale(void **state)
{
	struct launch_cgroup cg;
	char self[64];

	mkdirs("sys/fs/cgroup/pids/fence-run.999999"); /* above pid_max: never alive */
	mkdirs("sys/fs/cgroup/pids/fence-run.1");      /* init: alive */
	mkdirs("sys/fs/cgroup/pids/other.5");
	snprintf(self, sizeof(self), "sys/fs/cgroup/pids/fence-run.%d", (int)getpid());
	mkdirs(self);
	launch_cgroup_init(&cg);
	cg.version = 1;
	cg.parent[LAUNCH_CG_PIDS] = strdup(under_root("sys/fs/cgroup/pids"));
	launch_cgroup_reap_stale(&cg);
	assert_false(exists("sys/fs/cgroup/pids/fence-run.999999"));
	assert_true(exists("sys/fs/cgroup/pids/fence-run.1"));
	assert_true(exists("sys/fs/cgroup/pids/other.5"));
	/* A leaf with our own pid is a dead run's (pid reuse): it goes too. */
	assert_false(exists(self));
	launch_cgroup_destroy(&cg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_v2_find_nearest_ancestor, setup, teardown),
		cmocka_unit_test_setup_teardown(test_v2_limits_stats_destroy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_v1_find_limits_stats, setup, teardown),
		cmocka_unit_test_setup_teardown(test_v1_without_cpu_and_missing_controller, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_v1_mount_root_and_escapes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reap_stale, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
