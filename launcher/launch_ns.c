// SPDX-License-Identifier: Apache-2.0
/*
 * launch_ns.c - creating the sandbox's namespaces and its id maps
 * (user_namespaces(7), "User and group ID mappings").
 */
#include <errno.h>
#include <linux/sched.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"
#include "launch_sandbox.h"

pid_t launch_clone(unsigned long flags, int cgroup_fd, bool *in_cgroup)
{
	long pid;

	*in_cgroup = false;
	if (cgroup_fd >= 0) {
		/* clone3 with CLONE_INTO_CGROUP (Linux 5.7, cgroup v2 only): the
		 * child starts in the leaf, so no later migration has to wait
		 * for cgroup_threadgroup_rwsem.  Older kernels answer ENOSYS,
		 * E2BIG or EINVAL; the caller then moves the child itself. */
		struct clone_args a = {
			.flags = (flags & ~(unsigned long)CSIGNAL) | CLONE_INTO_CGROUP,
			.exit_signal = flags & CSIGNAL,
			.cgroup = (unsigned)cgroup_fd,
		};

		pid = syscall(SYS_clone3, &a, sizeof(a));
		if (pid >= 0) {
			*in_cgroup = pid > 0;
			return (pid_t)pid;
		}
		if (errno != ENOSYS && errno != E2BIG && errno != EINVAL)
			return -errno;
	}
	/* The raw syscall with a NULL stack behaves like fork(). */
	pid = syscall(SYS_clone, flags, NULL, NULL, NULL, 0);
	return pid < 0 ? -errno : (pid_t)pid;
}

pid_t launch_clone_init(const struct launch_sandbox *sb, bool *in_cgroup)
{
	unsigned long flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC |
			      CLONE_NEWUTS | SIGCHLD;
	pid_t pid;

	if (!sb->cfg->net_host)
		flags |= CLONE_NEWNET;
	/* The child gets a copy of our memory: the prepared description. */
	pid = launch_clone(flags, sb->cg_v2_fd, in_cgroup);
	if (pid == 0)
		launch_init_main(sb);
	return pid;
}

static int write_proc_file(pid_t pid, const char *name, const char *text)
{
	char path[64];
	_cleanup_close_ int fd = -1;
	size_t len = strlen(text);
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* An id map must be written in a single write(2). */
	n = write(fd, text, len);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

int launch_write_id_maps(pid_t pid, uid_t uid, gid_t gid, bool host_root, char *err,
			 size_t errlen)
{
	char map[64];
	int r;

	/* Unprivileged writers must give up setgroups before gid_map
	 * (CVE-2014-8989: dropping a group could grant access). */
	if (!host_root) {
		r = write_proc_file(pid, "setgroups", "deny");
		if (r < 0 && r != -ENOENT) {
			snprintf(err, errlen, "cannot write /proc/%d/setgroups: %s", (int)pid,
				 strerror(-r));
			return r;
		}
	}
	snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)uid, (unsigned)uid);
	r = write_proc_file(pid, "uid_map", map);
	if (r < 0) {
		snprintf(err, errlen, "cannot write uid_map: %s", strerror(-r));
		return r;
	}
	snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)gid, (unsigned)gid);
	r = write_proc_file(pid, "gid_map", map);
	if (r < 0) {
		snprintf(err, errlen, "cannot write gid_map: %s", strerror(-r));
		return r;
	}
	return 0;
}
