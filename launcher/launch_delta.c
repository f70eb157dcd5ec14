// SPDX-License-Identifier: Apache-2.0
/*
 * launch_delta.c - the private delta (see the header).
 *
 * Private deltas live in $TMPDIR/fence-run.<uid>/delta.<pid>.XXXXXX, a
 * directory of our own (0700, ours, not a symlink: /tmp is shared), so
 * that the leftovers of a fence-run killed by SIGKILL can be found and
 * removed by the next one without scanning all of /tmp.  When that
 * directory cannot be trusted the delta goes straight into $TMPDIR.
 */
#include "launch_delta.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"

static int make_writable(const char *path, const struct stat *st, int type, struct FTW *f)
{
	if (type == FTW_D)
		(void)chmod(path, 0700);
	return 0;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *f)
{
	(void)remove(path);
	return 0;
}

void launch_delta_remove(const char *dir)
{
	struct stat st;

	(void)nftw(dir, remove_entry, 16, FTW_PHYS | FTW_MOUNT | FTW_DEPTH);
	if (lstat(dir, &st) < 0)
		return;
	/* Something was left: a directory the sandbox made unwritable. */
	(void)nftw(dir, make_writable, 16, FTW_PHYS | FTW_MOUNT);
	(void)nftw(dir, remove_entry, 16, FTW_PHYS | FTW_MOUNT | FTW_DEPTH);
}

/* $TMPDIR/fence-run.<uid>, created 0700 if missing; false when it is not
 * a directory that we own and nobody else can write. */
static bool own_dir(const char *tmp, char *out, size_t outlen)
{
	struct stat st;

	snprintf(out, outlen, "%s/fence-run.%u", tmp, (unsigned)geteuid());
	if (mkdir(out, 0700) < 0 && errno != EEXIST)
		return false;
	if (lstat(out, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 077))
		return false;
	return true;
}

/*
 * Removes delta.<pid>.* entries of DIR whose fence-run is gone: its pid
 * does not exist, and no fencefs daemon holds the delta's lock (a pid
 * alone could belong to another pid namespace sharing this /tmp).
 */
static void reap_stale(const char *dir)
{
	_cleanup_closedir_ DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		char path[4096 + 256 + 2], *end;
		_cleanup_close_ int fd = -1;
		long pid;

		if (strncmp(e->d_name, "delta.", 6))
			continue;
		pid = strtol(e->d_name + 6, &end, 10);
		if (*end != '.' || pid <= 0)
			continue;
		/* Our own pid is a dead fence-run's (pid reuse): ours comes later. */
		if (pid != getpid() && (kill((pid_t)pid, 0) == 0 || errno != ESRCH))
			continue;
		fd = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		launch_delta_remove(path);
	}
}

int launch_delta_make_private(char **path)
{
	const char *tmp = getenv("TMPDIR");
	char dir[4096];
	char *p;
	int r;

	if (!tmp || !*tmp)
		tmp = "/tmp";
	if (own_dir(tmp, dir, sizeof(dir))) {
		reap_stale(dir);
		r = asprintf(&p, "%s/delta.%d.XXXXXX", dir, (int)getpid());
	} else {
		r = asprintf(&p, "%s/fence-run-delta.XXXXXX", tmp);
	}
	if (r < 0)
		return -ENOMEM;
	if (!mkdtemp(p)) {
		int e = errno;

		free(p);
		return -e;
	}
	*path = p;
	return 0;
}

int launch_delta_keep(char **path)
{
	char *base = strrchr(*path, '/'), *kept;

	if (!base || strncmp(base + 1, "delta.", 6))
		return 0; /* not in our directory: nobody reaps it */
	/* DIR/delta.PID.XXXXXX -> DIR/kept.PID.XXXXXX */
	if (asprintf(&kept, "%.*skept.%s", (int)(base + 1 - *path), *path, base + 1 + 6) < 0)
		return -ENOMEM;
	if (rename(*path, kept) < 0) {
		int e = errno;

		free(kept);
		return -e;
	}
	free(*path);
	*path = kept;
	return 0;
}
