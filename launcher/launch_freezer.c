// SPDX-License-Identifier: Apache-2.0
/*
 * launch_freezer.c - --pause and --resume of long-lived sandboxes (issue
 * 17, launch_session.h): a cgroup v1 freezer leaf of their own, or the
 * sandbox's cgroup v2 leaf's cgroup.freeze
 * (Documentation/admin-guide/cgroup-v1/freezer-subsystem.rst,
 * cgroup-v2.rst "cgroup.freeze").
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "launch_cgroup.h"
#include "launch_session.h"

#define FREEZE_WAIT_MS 5000

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW), r = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, text, strlen(text)) < 0)
		r = -errno;
	(void)close(fd);
	return r;
}

int launch_session_read_small(const char *path, char *out, size_t outlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, out, outlen - 1);
	(void)close(fd);
	if (n < 0)
		return -errno;
	out[n] = '\0';
	return 0;
}

/*
 * cgroup v1: a leaf of the freezer hierarchy beside our own freezer
 * cgroup, holding the init (and so everything it forks later); v2: the
 * sandbox's leaf has cgroup.freeze.  Without either, --pause says so.
 */
void launch_session_freezer_setup(struct launch_session *s, const struct launch_cgroup *cg,
				  pid_t init)
{
	char mnt[256] = "", own[2048] = "", line[4096], path[4400];
	FILE *f;

	if (cg && cg->version == 2 && cg->leaf[0]) {
		snprintf(s->freezer, sizeof(s->freezer), "%s", cg->leaf[0]);
		s->freezer_version = 2;
		return;
	}
	f = fopen("/proc/self/mounts", "re");
	while (f && fgets(line, sizeof(line), f)) {
		char dev[256], dir[256], type[64], opts[1024];

		if (sscanf(line, "%255s %255s %63s %1023s", dev, dir, type, opts) == 4 &&
		    !strcmp(type, "cgroup") &&
		    (strstr(opts, ",freezer") || !strncmp(opts, "freezer", 7)))
			snprintf(mnt, sizeof(mnt), "%s", dir);
	}
	if (f)
		fclose(f);
	f = fopen("/proc/self/cgroup", "re");
	while (f && fgets(line, sizeof(line), f)) {
		char *c = strstr(line, ":freezer:");

		if (c) {
			snprintf(own, sizeof(own), "%s", c + 9);
			own[strcspn(own, "\n")] = '\0';
		}
	}
	if (f)
		fclose(f);
	if (!*mnt || !*own || strstr(own, ".."))
		return;
	snprintf(s->freezer, sizeof(s->freezer), "%s%s%sfence-run.session.%d", mnt,
		 strcmp(own, "/") ? own : "", "/", (int)getpid());
	if (mkdir(s->freezer, 0755) < 0 && errno != EEXIST) {
		s->freezer[0] = '\0';
		return;
	}
	snprintf(path, sizeof(path), "%s/cgroup.procs", s->freezer);
	snprintf(line, sizeof(line), "%d", (int)init);
	if (write_file(path, line) < 0) {
		(void)rmdir(s->freezer);
		s->freezer[0] = '\0';
		return;
	}
	s->freezer_version = 1;
	/* For a later --list to thaw and remove it if we die. */
	{
		int fd = openat(s->dirfd, "freezer",
				O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);

		if (fd >= 0) {
			(void)!write(fd, s->freezer, strlen(s->freezer));
			(void)close(fd);
		}
	}
}

/* Freezes (FREEZE) or thaws the sandbox and waits for the kernel to say
 * it is done.  0 or -errno. */
int launch_session_freezer_set(const char *leaf, int version, bool freeze)
{
	char path[4400], state[256];
	long until = now_ms() + FREEZE_WAIT_MS;
	int r;

	if (version == 1) {
		snprintf(path, sizeof(path), "%s/freezer.state", leaf);
		r = write_file(path, freeze ? "FROZEN" : "THAWED");
	} else {
		snprintf(path, sizeof(path), "%s/cgroup.freeze", leaf);
		r = write_file(path, freeze ? "1" : "0");
		snprintf(path, sizeof(path), "%s/cgroup.events", leaf);
	}
	if (r < 0)
		return r;
	while (now_ms() < until) {
		if (launch_session_read_small(path, state, sizeof(state)) < 0)
			return -EIO;
		if (version == 1 ? !strncmp(state, freeze ? "FROZEN" : "THAWED", 6)
				 : (strstr(state, freeze ? "frozen 1" : "frozen 0") != NULL))
			return 0;
		(void)poll(NULL, 0, 5);
	}
	return -ETIMEDOUT;
}

void launch_session_thaw(struct launch_session *s)
{
	if (s->freezer_version)
		(void)launch_session_freezer_set(s->freezer, s->freezer_version, false);
}

/* Used by the stale cleaner too: thaws and removes a v1 freezer leaf. */
void launch_session_freezer_remove(const char *leaf)
{
	int i;

	if (!*leaf || !strstr(leaf, "/fence-run.session."))
		return;
	(void)launch_session_freezer_set(leaf, 1, false);
	for (i = 0; i < 100 && rmdir(leaf) < 0 && errno == EBUSY; i++)
		(void)poll(NULL, 0, 10);
}
