// SPDX-License-Identifier: Apache-2.0
/*
 * launch_ns.c - creating the sandbox's namespaces and its id maps
 * (user_namespaces(7), "User and group ID mappings").
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"
#include "launch_sandbox.h"

pid_t launch_clone_init(const struct launch_sandbox *sb)
{
	unsigned long flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC |
			      CLONE_NEWUTS | SIGCHLD;
	long pid;

	if (!sb->cfg->net_host)
		flags |= CLONE_NEWNET;
	/* The raw syscall with a NULL stack behaves like fork(): the child
	 * gets a copy of our memory (the prepared sandbox description). */
	pid = syscall(SYS_clone, flags, NULL, NULL, NULL, 0);
	if (pid < 0)
		return -errno;
	if (pid == 0)
		launch_init_main(sb);
	return (pid_t)pid;
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
