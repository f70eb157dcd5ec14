// SPDX-License-Identifier: Apache-2.0
/*
 * launch_daemon.c - the fencefs daemon's side of fence-run (see the header).
 */
#include "launch_daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/close_range.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "util.h"

int launch_find_tool(const char *name, char **out)
{
	const char *dir = getenv("FENCE_BINDIR");
	char exe[PATH_MAX];
	ssize_t n;
	char *p;

	if (dir && *dir) {
		if (asprintf(&p, "%s/%s", dir, name) < 0)
			return -ENOMEM;
		if (access(p, X_OK) == 0) {
			*out = p;
			return 0;
		}
		free(p);
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		char *slash;

		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			if (asprintf(&p, "%s/%s", exe, name) < 0)
				return -ENOMEM;
			if (access(p, X_OK) == 0) {
				*out = p;
				return 0;
			}
			free(p);
		}
	}
	return -ENOENT;
}

void launch_argv_free(char **argv)
{
	size_t i;

	if (!argv)
		return;
	for (i = 0; argv[i]; i++)
		free(argv[i]);
	free(argv);
}

static bool argv_add(char ***argv, size_t *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static bool argv_add(char ***argv, size_t *n, const char *fmt, ...)
{
	char **a = realloc(*argv, (*n + 2) * sizeof(**argv));
	va_list ap;
	int r;

	if (!a)
		return false;
	*argv = a;
	va_start(ap, fmt);
	r = vasprintf(&a[*n], fmt, ap);
	va_end(ap);
	if (r < 0)
		return false;
	(*n)++;
	a[*n] = NULL;
	return true;
}

char **launch_daemon_argv(const char *fencefs, const struct fence_run_config *c,
			  const char *source, const char *delta, uid_t uid, gid_t gid, int fuse_fd,
			  int ready_fd, int stats_fd, int audit_fd)
{
	char **argv = NULL;
	size_t n = 0, i;
	bool ok;

	ok = argv_add(&argv, &n, "%s", fencefs) && argv_add(&argv, &n, "mount") &&
	     argv_add(&argv, &n, "-f") && argv_add(&argv, &n, "--owner") &&
	     argv_add(&argv, &n, "%u:%u", (unsigned)uid, (unsigned)gid) &&
	     argv_add(&argv, &n, "--ready-fd") && argv_add(&argv, &n, "%d", ready_fd) &&
	     argv_add(&argv, &n, "--stats-fd") && argv_add(&argv, &n, "%d", stats_fd);
	if (ok && audit_fd >= 0)
		ok = argv_add(&argv, &n, "--audit-fd") && argv_add(&argv, &n, "%d", audit_fd) &&
		     (!c->audit_all || argv_add(&argv, &n, "--audit-all")) &&
		     (!c->audit_max || (argv_add(&argv, &n, "--audit-max") &&
					argv_add(&argv, &n, "%" PRIu64, c->audit_max)));
	if (ok && c->preset)
		ok = argv_add(&argv, &n, "--preset") && argv_add(&argv, &n, "%s", c->preset);
	if (ok && c->policy_file)
		ok = argv_add(&argv, &n, "--policy") && argv_add(&argv, &n, "%s", c->policy_file);
	for (i = 0; ok && i < c->nrules; i++)
		ok = argv_add(&argv, &n, "--rule") && argv_add(&argv, &n, "%s", c->rules[i]);
	if (ok)
		ok = argv_add(&argv, &n, "--delta") && argv_add(&argv, &n, "%s", delta);
	if (ok && c->max_delta)
		ok = argv_add(&argv, &n, "--max-delta") &&
		     argv_add(&argv, &n, "%" PRIu64, c->max_delta);
	if (ok && c->fd_cache)
		ok = argv_add(&argv, &n, "--fd-cache") &&
		     argv_add(&argv, &n, "%" PRIu64, c->fd_cache);
	if (ok)
		ok = argv_add(&argv, &n, "%s", source) &&
		     argv_add(&argv, &n, "/dev/fd/%d", fuse_fd);
	if (!ok) {
		launch_argv_free(argv);
		return NULL;
	}
	return argv;
}

/* In the forked child: only the fds the daemon is told about survive. */
__attribute__((noreturn)) static void exec_daemon(char **argv, const int *keep, size_t nkeep)
{
	sigset_t none;
	int devnull;
	size_t i;

	/* Its own session: the terminal's Ctrl-C must not kill the daemon
	 * under a running command; fence-run decides when it ends. */
	(void)setsid();
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	(void)signal(SIGPIPE, SIG_DFL);
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(2, 1) < 0)
		_exit(127);
	(void)close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
	for (i = 0; i < nkeep; i++)
		if (keep[i] >= 0 && fcntl(keep[i], F_SETFD, 0) < 0)
			_exit(127);
	execv(argv[0], argv);
	fprintf(stderr, "fence-run: cannot execute '%s': %s\n", argv[0], strerror(errno));
	_exit(127);
}

int launch_daemon_spawn(struct launch_daemon *d, const char *fencefs,
			const struct fence_run_config *c, const char *source, const char *delta,
			uid_t uid, gid_t gid, int fuse_fd, int audit_fd, char *err, size_t errlen)
{
	int ready[2], stats[2];
	char **argv;
	pid_t pid;

	*d = (struct launch_daemon){ .pidfd = -1, .ready_fd = -1, .stats_fd = -1 };
	if (pipe2(ready, O_CLOEXEC) < 0)
		goto fail_errno;
	if (pipe2(stats, O_CLOEXEC) < 0) {
		(void)close(ready[0]);
		(void)close(ready[1]);
		goto fail_errno;
	}
	argv = launch_daemon_argv(fencefs, c, source, delta, uid, gid, fuse_fd, ready[1], stats[1],
				  audit_fd);
	if (!argv) {
		errno = ENOMEM;
		goto fail_close_pipes;
	}
	pid = fork();
	if (pid < 0) {
		launch_argv_free(argv);
		goto fail_close_pipes;
	}
	if (pid == 0) {
		int keep[] = { fuse_fd, ready[1], stats[1], audit_fd };

		exec_daemon(argv, keep, sizeof(keep) / sizeof(keep[0]));
	}
	launch_argv_free(argv);
	(void)close(ready[1]);
	(void)close(stats[1]);
	d->pid = pid;
	d->ready_fd = ready[0];
	d->stats_fd = stats[0];
	d->pidfd = pidfd_open(pid, 0);
	if (d->pidfd < 0) {
		snprintf(err, errlen, "cannot watch the fencefs daemon: %s", strerror(errno));
		return -errno;
	}
	return 0;

fail_close_pipes:
	{
		int e = errno;

		(void)close(ready[0]);
		(void)close(ready[1]);
		(void)close(stats[0]);
		(void)close(stats[1]);
		errno = e;
	}
fail_errno:
	snprintf(err, errlen, "cannot start the fencefs daemon: %s", strerror(errno));
	return -errno;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

int launch_daemon_wait_ready(struct launch_daemon *d, int also_fd, int timeout_ms)
{
	long deadline = now_ms() + timeout_ms;
	char buf[16];
	size_t got = 0;

	for (;;) {
		struct pollfd p[2] = { { .fd = d->ready_fd, .events = POLLIN },
				       { .fd = also_fd, .events = POLLIN } };
		long left = deadline - now_ms();
		int r;
		ssize_t n;

		if (left <= 0)
			return -ETIMEDOUT;
		r = poll(p, also_fd >= 0 ? 2 : 1, (int)left);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			continue;
		if (also_fd >= 0 && p[1].revents)
			return 1;
		n = read(d->ready_fd, buf + got, sizeof(buf) - 1 - got);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EPIPE;
		got += (size_t)n;
		buf[got] = '\0';
		if (strchr(buf, '\n'))
			return strcmp(buf, "ready\n") ? -EPROTO : 0;
		if (got >= sizeof(buf) - 1)
			return -EPROTO;
	}
}

static uint64_t json_number(const char *text, const char *key, bool *found)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\"", key);
	p = strstr(text, pat);
	if (!p)
		return 0;
	p += strlen(pat);
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p++ != ':')
		return 0;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p < '0' || *p > '9')
		return 0;
	*found = true;
	return strtoull(p, NULL, 10);
}

int launch_daemon_parse_stats(const char *text, struct launch_daemon_stats *st)
{
	bool fd = false, fw = false, fb = false;

	*st = (struct launch_daemon_stats){ 0 };
	st->denied = json_number(text, "denied", &fd);
	st->written = json_number(text, "written", &fw);
	st->delta_bytes = json_number(text, "delta_bytes", &fb);
	st->valid = fd && fw;
	return st->valid ? 0 : -EINVAL;
}

void launch_daemon_finish(struct launch_daemon *d, int grace_ms, struct launch_daemon_stats *st)
{
	struct buf b = { 0 };
	char chunk[512];
	ssize_t n;

	*st = (struct launch_daemon_stats){ 0 };
	if (d->pid > 0 && !d->reaped) {
		struct pollfd p = { .fd = d->pidfd, .events = POLLIN };

		if (d->pidfd < 0 || poll(&p, 1, grace_ms) <= 0) {
			(void)kill(d->pid, SIGKILL);
			d->killed = true;
		}
		while (waitpid(d->pid, &d->status, 0) < 0 && errno == EINTR)
			;
		d->reaped = true;
	}
	if (d->stats_fd >= 0) {
		/* The daemon has exited: every byte it wrote is there. */
		(void)fcntl(d->stats_fd, F_SETFL, O_NONBLOCK);
		while ((n = read(d->stats_fd, chunk, sizeof(chunk))) > 0)
			buf_add(&b, chunk, (size_t)n);
		if (b.data)
			(void)launch_daemon_parse_stats(b.data, st);
		buf_free(&b);
	}
	if (d->pidfd >= 0)
		(void)close(d->pidfd);
	if (d->ready_fd >= 0)
		(void)close(d->ready_fd);
	if (d->stats_fd >= 0)
		(void)close(d->stats_fd);
	d->pidfd = d->ready_fd = d->stats_fd = -1;
}

bool launch_daemon_failed(const struct launch_daemon *d)
{
	if (!d->reaped || d->killed)
		return false;
	return !WIFEXITED(d->status) || WEXITSTATUS(d->status) != 0;
}

int launch_apply(const char *fencefs, const char *delta, const char *source, char **json)
{
	int out[2], st;
	struct buf b = { 0 };
	char chunk[4096];
	ssize_t n;
	pid_t pid;

	*json = NULL;
	if (pipe2(out, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		int e = errno;

		(void)close(out[0]);
		(void)close(out[1]);
		return -e;
	}
	if (pid == 0) {
		sigset_t none;

		sigemptyset(&none);
		(void)sigprocmask(SIG_SETMASK, &none, NULL);
		(void)signal(SIGPIPE, SIG_DFL);
		if (dup2(out[1], 1) < 0)
			_exit(2);
		execl(fencefs, fencefs, "commit", "--json", delta, source, (char *)NULL);
		fprintf(stderr, "fence-run: cannot execute '%s': %s\n", fencefs, strerror(errno));
		_exit(127);
	}
	(void)close(out[1]);
	while ((n = read(out[0], chunk, sizeof(chunk))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		buf_add(&b, chunk, (size_t)n);
	}
	(void)close(out[0]);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	*json = b.data;
	if (!WIFEXITED(st))
		return 2;
	return WEXITSTATUS(st) == 127 ? -ENOENT : WEXITSTATUS(st);
}
