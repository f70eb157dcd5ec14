// SPDX-License-Identifier: Apache-2.0
/*
 * launch_state.c - the state directory of long-lived sandboxes (issue 17,
 * launch_session.h): the base directory and its checks, claiming a name
 * (BASE/.lock, then BASE/NAME/ and its flock), detaching the supervisor
 * from the caller, and removing the state.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "launch_session.h"

static int open_base(const char *base, char *err, size_t errlen)
{
	struct stat st;
	int fd;

	if (mkdir(base, 0700) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create the state directory '%s': %s", base,
			 strerror(errno));
		return -errno;
	}
	fd = open(base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		int e = errno;

		snprintf(err, errlen, "cannot open the state directory '%s': %s", base,
			 strerror(e));
		if (fd >= 0)
			(void)close(fd);
		return -e;
	}
	/* Someone else's directory, or one others may write, could hold a
	 * socket or lock planted for us. */
	if (st.st_uid != geteuid() || (st.st_mode & 022)) {
		snprintf(err, errlen,
			 "the state directory '%s' must be owned by uid %u and not "
			 "writable by others",
			 base, (unsigned)geteuid());
		(void)close(fd);
		return -EPERM;
	}
	return fd;
}

int launch_session_open_base(char *base, size_t baselen, char *err, size_t errlen)
{
	int r = launch_session_base(base, baselen, geteuid() == 0,
				    (const char *(*)(const char *))getenv, err, errlen);

	return r < 0 ? r : open_base(base, err, errlen);
}

/* BASE/.lock, held while a name is claimed or stale state cleaned. */
int launch_session_lock_base(int basefd)
{
	int fd = openat(basefd, ".lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd < 0)
		return -errno;
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR) {
			(void)close(fd);
			return -errno;
		}
	return fd;
}

static int claim(struct launch_session *s, int basefd, const char *name, char *err, size_t errlen)
{
	int lockfd, dirfd, tries;

	for (tries = 0; tries < 2; tries++) {
		if (mkdirat(basefd, name, 0700) == 0)
			break;
		if (errno != EEXIST || tries) {
			snprintf(err, errlen, "cannot create '%.900s/%s': %s", s->base, name,
				 strerror(errno));
			return -errno;
		}
		/* Taken, unless its supervisor is gone. */
		lockfd = -1;
		dirfd = openat(basefd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (dirfd >= 0)
			lockfd = openat(dirfd, "lock", O_RDWR | O_NOFOLLOW | O_CLOEXEC);
		if (dirfd >= 0)
			(void)close(dirfd);
		if (lockfd < 0 || flock(lockfd, LOCK_EX | LOCK_NB) < 0) {
			if (lockfd >= 0)
				(void)close(lockfd);
			snprintf(err, errlen, "a sandbox named '%s' already exists", name);
			return -EEXIST;
		}
		launch_session_clean_stale(basefd, name, lockfd);
	}
	s->dirfd = openat(basefd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (s->dirfd < 0)
		return -errno;
	s->lockfd =
	    openat(s->dirfd, "lock", O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (s->lockfd < 0 || flock(s->lockfd, LOCK_EX | LOCK_NB) < 0) {
		snprintf(err, errlen, "cannot lock '%.900s': %s", s->dir, strerror(errno));
		return -errno;
	}
	return 0;
}

void launch_session_remove_state(struct launch_session *s)
{
	static const char *const files[] = {"control", "state.json", "state.json.tmp",
					    "freezer", "log",	     "lock"};
	size_t i;

	if (s->dirfd < 0)
		return;
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		(void)unlinkat(s->dirfd, files[i], 0);
	(void)rmdir(s->dir);
	(void)close(s->dirfd);
	s->dirfd = -1;
}

/* The caller's side: the supervisor's one word, then exit. */
__attribute__((noreturn)) static void wait_for_supervisor(int fd, const char *name)
{
	char msg[1100];
	size_t n = 0;
	ssize_t k;

	while (n < sizeof(msg) - 1 && (k = read(fd, msg + n, sizeof(msg) - 1 - n)) != 0) {
		if (k < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		n += (size_t)k;
	}
	msg[n] = '\0';
	if (n > 0 && msg[0] == 'O')
		exit(0);
	if (n > 0)
		fprintf(stderr, "fence-run: %s\n", msg);
	else
		fprintf(stderr, "fence-run: the supervisor of '%s' died while starting it\n", name);
	exit(LAUNCH_EXIT_FAILURE);
}

int launch_session_detach(struct launch_session *s, const struct fence_run_config *cfg)
{
	char err[1200];
	int basefd, baselock, p[2], r, null;
	pid_t pid;

	memset(s, 0, sizeof(*s));
	s->cfg = cfg;
	s->dirfd = s->lockfd = s->ready_fd = s->listen_fd = -1;
	basefd = launch_session_open_base(s->base, sizeof(s->base), err, sizeof(err));
	if (basefd < 0) {
		fprintf(stderr, "fence-run: %s\n", err);
		return basefd;
	}
	snprintf(s->dir, sizeof(s->dir), "%s/%s", s->base, cfg->name);
	baselock = launch_session_lock_base(basefd);
	r = baselock < 0 ? baselock : claim(s, basefd, cfg->name, err, sizeof(err));
	if (baselock >= 0)
		(void)close(baselock);
	(void)close(basefd);
	if (r < 0) {
		if (baselock < 0)
			snprintf(err, sizeof(err), "cannot lock '%.900s/.lock': %s", s->base,
				 strerror(-r));
		fprintf(stderr, "fence-run: %s\n", err);
		if (r != -EEXIST)
			launch_session_remove_state(s);
		return r;
	}
	if (pipe2(p, O_CLOEXEC) < 0 || (pid = fork()) < 0) {
		fprintf(stderr, "fence-run: cannot start a supervisor: %s\n", strerror(errno));
		launch_session_remove_state(s);
		return -EIO;
	}
	if (pid > 0) {
		(void)close(p[1]);
		wait_for_supervisor(p[0], cfg->name);
	}
	(void)close(p[0]);
	s->ready_fd = p[1];
	/* The supervisor outlives the caller's session and terminal, and
	 * holds none of its fds: a caller reading our output through a pipe
	 * must see it end. */
	(void)setsid();
	null = open("/dev/null", O_RDWR | O_CLOEXEC | O_NOCTTY);
	r = openat(s->dirfd, "log",
		   O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
	if (null < 0 || r < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(r, 2) < 0) {
		launch_session_failed(s, "cannot redirect the supervisor's standard fds");
		_exit(LAUNCH_EXIT_FAILURE);
	}
	(void)close(null);
	(void)close(r);
	return 0;
}

/*
 * The end of the supervisor's log (what the daemon said on its stderr),
 * at most the last 600 bytes and whole lines, into OUT; "" if none.  The
 * caller's terminal gets it: control bytes become '?'.
 */
static void log_tail(struct launch_session *s, char *out, size_t outlen)
{
	char buf[601], *p;
	off_t end;
	ssize_t n;
	int fd;

	out[0] = '\0';
	if (s->dirfd < 0 || (fd = openat(s->dirfd, "log", O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return;
	end = lseek(fd, 0, SEEK_END);
	n = end > 0 ? pread(fd, buf, sizeof(buf) - 1, end > 600 ? end - 600 : 0) : 0;
	(void)close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	p = end > 600 ? strchr(buf, '\n') : buf;
	if (!p)
		return;
	if (*p == '\n')
		p++;
	while (*p && p[strlen(p) - 1] == '\n')
		p[strlen(p) - 1] = '\0';
	for (char *q = p; *q; q++)
		if ((unsigned char)*q < 0x20 && *q != '\n')
			*q = '?';
	snprintf(out, outlen, "%s", p);
}

void launch_session_failed(struct launch_session *s, const char *error)
{
	if (s->ready_fd >= 0) {
		const char *m = error && *error ? error : "the sandbox failed to start";
		char tail[601], msg[1800];

		/* "see its message above": above is the log, which goes. */
		log_tail(s, tail, sizeof(tail));
		snprintf(msg, sizeof(msg), "%s%s%s", m, *tail ? "\n" : "", tail);
		(void)!write(s->ready_fd, msg, strlen(msg));
		(void)close(s->ready_fd);
		s->ready_fd = -1;
	}
	launch_session_remove_state(s);
}
