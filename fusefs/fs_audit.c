// SPDX-License-Identifier: Apache-2.0
/*
 * fs_audit.c - the daemon's audit events (docs/SPEC.md 8) with the caller's pid and
 * command name.
 *
 * The pid in a FUSE request is the caller's pid in the pid namespace of
 * whoever mounted the filesystem (fs/fuse/dev.c, fuse_req_init_context()
 * uses fc->pid_ns).  fence-run mounts inside its sandbox's new pid
 * namespace and the daemon runs outside it, so there /proc/PID is some
 * other process (pid 2 is the host's kthreadd).  The command name is then
 * read from the sandbox's own procfs, reached through the sandbox init's
 * root: /proc/INIT/root/proc/PID/comm, INIT being the descendant of our
 * parent (fence-run) that is pid 1 of a pid namespace other than ours.
 * The pid reported is the one the sandbox knows.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "fs.h"
#include "util.h"

/* "PPid:" and the last "NSpid:" value of /proc/PID/status; 0 or -errno. */
static int read_status(pid_t pid, pid_t *ppid, pid_t *nspid_last, int *nslevels)
{
	_cleanup_fclose_ FILE *f = NULL;
	char path[64], line[256];

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	*ppid = 0;
	*nspid_last = 0;
	*nslevels = 0;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "PPid:", 5)) {
			*ppid = (pid_t)atoi(line + 5);
		} else if (!strncmp(line, "NSpid:", 6)) {
			char *p = line + 6, *end;

			for (;;) {
				long v = strtol(p, &end, 10);

				if (end == p)
					break;
				*nspid_last = (pid_t)v;
				(*nslevels)++;
				p = end;
			}
		}
	}
	return 0;
}

static bool descends_from(pid_t pid, pid_t ancestor)
{
	int depth;

	for (depth = 0; depth < 6 && pid > 1; depth++) {
		pid_t ppid, last;
		int levels;

		if (read_status(pid, &ppid, &last, &levels) < 0)
			return false;
		if (ppid == ancestor)
			return true;
		pid = ppid;
	}
	return false;
}

/* The host pid of the sandbox's init, or 0 when callers share our pid namespace. */
static pid_t find_sandbox_init(void)
{
	_cleanup_closedir_ DIR *d = opendir("/proc");
	struct stat self, other;
	pid_t parent = getppid();
	struct dirent *de;
	char path[64];

	if (!d || stat("/proc/self/ns/pid", &self) < 0)
		return 0;
	while ((de = readdir(d))) {
		pid_t pid, ppid, last;
		int levels;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid = (pid_t)atoi(de->d_name);
		if (read_status(pid, &ppid, &last, &levels) < 0 || levels < 2 || last != 1)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)pid);
		if (stat(path, &other) < 0 || other.st_ino == self.st_ino)
			continue;
		if (ppid == parent || descends_from(ppid, parent))
			return pid;
	}
	return 0;
}

static void read_comm(struct fs_session *s, pid_t pid, char *comm, size_t len)
{
	char path[96];

	comm[0] = '\0';
	if (pid <= 0)
		return;
	if (s->foreign_pids) {
		pid_t init = atomic_load(&s->sandbox_init);

		if (init <= 0 || kill(init, 0) < 0) {
			init = find_sandbox_init();
			atomic_store(&s->sandbox_init, init);
		}
		if (init > 0)
			snprintf(path, sizeof(path), "/proc/%d/root/proc/%d/comm", (int)init,
				 (int)pid);
		else
			snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	} else {
		snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	}
	audit_read_comm(path, comm, len);
}

void fs_audit(struct fs_session *s, fuse_req_t req, const char *event, const char *op,
	      const char *path, const char *path2, const char *level, int err)
{
	char comm[64];
	pid_t pid = req ? fuse_req_ctx(req)->pid : 0;

	if (!s->audit || fs_notify_is_helper(s, pid))
		return;
	read_comm(s, pid, comm, sizeof(comm));
	audit_op(s->audit, event, op, path, path2, level, err, pid, comm);
}
