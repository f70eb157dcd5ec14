// SPDX-License-Identifier: Apache-2.0
/*
 * launch_control.c - the clients of long-lived sandboxes (issue 17,
 * launch_session.h): --in, --list, --stop, --pause, --resume, and the
 * cleaning of state whose supervisor is gone.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "launch_result.h"
#include "launch_session.h"
#include "launch_tty.h"
#include "util.h"

#define INFO_MS 5000

static char reply[LAUNCH_WIRE_MAX_PAYLOAD + 1];

void launch_session_clean_stale(int basefd, const char *name, int lockfd)
{
	static const char *const files[] = {"control", "state.json", "state.json.tmp", "log",
					    "lock"};
	char leaf[4096];
	int dirfd = openat(basefd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	size_t i;

	if (dirfd < 0)
		goto out;
	/* A supervisor killed while its sandbox was paused leaves it frozen
	 * (cgroup v1 holds even SIGKILL): thaw, so that the parent-death
	 * signal can take the init and with it every process and mount. */
	{
		int fd = openat(dirfd, "freezer", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		ssize_t n = fd >= 0 ? read(fd, leaf, sizeof(leaf) - 1) : -1;

		if (fd >= 0)
			(void)close(fd);
		if (n > 0) {
			leaf[n] = '\0';
			if (!strncmp(leaf, "/sys/fs/cgroup/", 15) && !strstr(leaf, "/../"))
				launch_session_freezer_remove(leaf);
		}
		(void)unlinkat(dirfd, "freezer", 0);
	}
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		(void)unlinkat(dirfd, files[i], 0);
	(void)close(dirfd);
	(void)unlinkat(basefd, name, AT_REMOVEDIR);
out:
	if (lockfd >= 0)
		(void)close(lockfd);
}

/* True when NAME's supervisor is gone (its lock could be taken): its state
 * is cleaned.  Call with the base lock held. */
static bool clean_if_stale(int basefd, const char *name)
{
	int dirfd = openat(basefd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), lockfd;

	if (dirfd < 0)
		return false;
	lockfd = openat(dirfd, "lock", O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	(void)close(dirfd);
	/* No lock file at all: a claim interrupted before it made one. */
	if (lockfd < 0 && errno != ENOENT)
		return false;
	if (lockfd >= 0 && flock(lockfd, LOCK_EX | LOCK_NB) < 0) {
		(void)close(lockfd);
		return false;
	}
	launch_session_clean_stale(basefd, name, lockfd);
	return true;
}

static int connect_to(const char *base, const char *name, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s/control", base, name) >=
	    (int)sizeof(sa.sun_path)) {
		snprintf(err, errlen, "the state directory '%s' is too long for a socket path",
			 base);
		return -ENAMETOOLONG;
	}
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create a socket: %s", strerror(errno));
		return -errno;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		(void)close(fd);
		if (e == ENOENT || e == ECONNREFUSED)
			snprintf(err, errlen, "no running sandbox named '%s'", name);
		else
			snprintf(err, errlen, "cannot reach sandbox '%s': %s", name, strerror(e));
		return -e;
	}
	return fd;
}

/* Connects to NAME; a stale NAME is cleaned on the way. */
static int open_sandbox(int basefd, const char *base, const char *name, char *err, size_t errlen)
{
	int fd = connect_to(base, name, err, errlen), lk;

	if (fd >= 0 || (fd != -ENOENT && fd != -ECONNREFUSED))
		return fd;
	lk = launch_session_lock_base(basefd);
	if (lk >= 0) {
		(void)clean_if_stale(basefd, name);
		(void)close(lk);
	}
	return fd;
}

/* One reply datagram within MS (-1: no limit).  0, -ETIMEDOUT or -errno. */
static int get_reply(int fd, struct launch_wire *h, int ms)
{
	int fds[3], nfds, r;

	if (ms >= 0 && poll(&(struct pollfd){.fd = fd, .events = POLLIN}, 1, ms) == 0)
		return -ETIMEDOUT;
	r = launch_wire_recv(fd, h, reply, LAUNCH_WIRE_MAX_PAYLOAD, fds, &nfds);
	while (r == 0 && nfds > 0)
		(void)close(fds[--nfds]);
	return r;
}

static int simple_request(int fd, uint32_t type, struct launch_wire *h, int ms)
{
	struct launch_wire q = {.type = type};
	int r = launch_wire_send(fd, &q, NULL, 0, NULL, 0);

	return r < 0 ? r : get_reply(fd, h, ms);
}

static bool json_mode;

static void list_one(const char *base, const char *name, struct buf *json, int *count)
{
	struct launch_wire h;
	char err[512];
	int fd = connect_to(base, name, err, sizeof(err));
	const char *row;

	if (fd < 0)
		return; /* starting (locked, no socket yet) or just gone */
	if (simple_request(fd, LAUNCH_WIRE_INFO, &h, INFO_MS) == 0 && h.type == LAUNCH_WIRE_OK) {
		/* "JSON\0ROW"; a reply without the row lists no columns. */
		row = strlen(reply) < h.len ? reply + strlen(reply) + 1 : "";
		if (json_mode) {
			buf_adds(json, *count ? ",\n" : "\n");
			buf_adds(json, reply);
		} else {
			char f[8][4096] = {{0}};
			const char *p = row;

			for (int i = 0; i < 8 && p; i++) {
				const char *t = strchr(p, '\t');
				size_t n = t ? (size_t)(t - p) : strlen(p);

				snprintf(f[i], sizeof(f[i]), "%.*s", (int)n, p);
				p = t ? t + 1 : NULL;
			}
			printf("%-20s %-8s %-9s %-6s %-10s %s  %s  %s\n", f[0], f[1], f[5], f[6],
			       f[7], f[4], f[2], f[3]);
		}
		(*count)++;
	}
	(void)close(fd);
}

static int do_list(int basefd, const char *base)
{
	struct buf json = {0};
	struct dirent **names = NULL;
	int n, i, count = 0, lk;

	n = scandir(base, &names, NULL, alphasort);
	if (n < 0) {
		fprintf(stderr, "fence-run: cannot list '%s': %s\n", base, strerror(errno));
		return LAUNCH_EXIT_FAILURE;
	}
	if (!json_mode)
		printf("%-20s %-8s %-9s %-6s %-10s %-20s  %s  %s\n", "NAME", "STATE", "UPTIME",
		       "PROCS", "MEMORY", "CREATED", "CODEBASE", "DELTA");
	lk = launch_session_lock_base(basefd);
	for (i = 0; i < n; i++) {
		const char *name = names[i]->d_name;

		if (launch_session_name_valid(name) && lk >= 0 && clean_if_stale(basefd, name))
			fprintf(stderr, "fence-run: removed the stale state of '%s'\n", name);
	}
	if (lk >= 0)
		(void)close(lk);
	for (i = 0; i < n; i++) {
		if (launch_session_name_valid(names[i]->d_name))
			list_one(base, names[i]->d_name, &json, &count);
		free(names[i]);
	}
	free(names);
	if (json_mode) {
		printf("[%s%s]\n", json.data ? json.data : "", count ? "\n" : "");
		buf_free(&json);
	}
	return 0;
}

static int do_stop(int basefd, const char *base, const char *name, bool quiet_missing)
{
	struct launch_wire h;
	char err[512];
	int fd = open_sandbox(basefd, base, name, err, sizeof(err)), r;

	if (fd < 0) {
		if (quiet_missing)
			return 0;
		fprintf(stderr, "fence-run: %s\n", err);
		return LAUNCH_EXIT_FAILURE;
	}
	/* Teardown (a large /tmp, a slow daemon) has no fixed bound. */
	r = simple_request(fd, LAUNCH_WIRE_STOP, &h, -1);
	(void)close(fd);
	if (r == 0 && h.type == LAUNCH_WIRE_OK) {
		if (h.len)
			printf("%s\n", reply);
		return 0;
	}
	if (r == 0 && h.type == LAUNCH_WIRE_ERROR) {
		fprintf(stderr, "fence-run: %s\n", reply);
		return LAUNCH_EXIT_FAILURE;
	}
	fprintf(stderr, "fence-run: sandbox '%s' ended without confirming the stop\n", name);
	return LAUNCH_EXIT_FAILURE;
}

static int do_stop_all(int basefd, const char *base)
{
	struct dirent **names = NULL;
	int n = scandir(base, &names, NULL, alphasort), i, rc = 0;

	if (n < 0) {
		fprintf(stderr, "fence-run: cannot list '%s': %s\n", base, strerror(errno));
		return LAUNCH_EXIT_FAILURE;
	}
	for (i = 0; i < n; i++) {
		if (launch_session_name_valid(names[i]->d_name) &&
		    do_stop(basefd, base, names[i]->d_name, true) != 0)
			rc = LAUNCH_EXIT_FAILURE;
		free(names[i]);
	}
	free(names);
	return rc;
}

static int do_freeze(int basefd, const char *base, const char *name, bool pause)
{
	struct launch_wire h;
	char err[512];
	int fd = open_sandbox(basefd, base, name, err, sizeof(err)), r;

	if (fd < 0) {
		fprintf(stderr, "fence-run: %s\n", err);
		return LAUNCH_EXIT_FAILURE;
	}
	r = simple_request(fd, pause ? LAUNCH_WIRE_PAUSE : LAUNCH_WIRE_RESUME, &h, 2 * INFO_MS);
	(void)close(fd);
	if (r == 0 && h.type == LAUNCH_WIRE_OK)
		return 0;
	fprintf(stderr, "fence-run: %s\n",
		r == 0 && h.type == LAUNCH_WIRE_ERROR ? reply : "no answer from the sandbox");
	return LAUNCH_EXIT_FAILURE;
}

/* ---- --in ---------------------------------------------------------------- */

static double since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static void in_report(const struct fence_run_config *c, int result_fd, struct launch_result *res,
		      const char *error)
{
	res->error = error && *error ? error : NULL;
	if (res->error)
		fprintf(stderr, "fence-run: %s\n", res->error);
	if (result_fd >= 0) {
		int r = launch_result_write(result_fd, res);

		if (r < 0)
			fprintf(stderr, "fence-run: cannot write result file '%s': %s\n", c->result,
				strerror(-r));
		(void)close(result_fd);
	}
}

static int do_in(int basefd, const char *base, const struct fence_run_config *c)
{
	struct launch_result res = {.exit_code = LAUNCH_EXIT_FAILURE};
	struct launch_wire q = {.type = LAUNCH_WIRE_EXEC}, h;
	struct buf payload = {0};
	char err[1200] = "", **env;
	struct timespec t0;
	int result_fd = -1, fd = -1, sfd = -1, fds[3] = {0, 1, 2}, status = 0, exec_errno = 0;
	bool got_status = false;
	struct launch_tty tty = {.master = -1, .slave = -1};
	sigset_t set;
	size_t i, nenv = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (c->result) {
		result_fd =
		    open(c->result, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0644);
		if (result_fd < 0) {
			fprintf(stderr, "fence-run: cannot open result file '%s': %s\n", c->result,
				strerror(errno));
			return LAUNCH_EXIT_FAILURE;
		}
	}
	/* Closed 0-2 would let the socket land there (see main.c step_std_fds). */
	for (i = 0; i < 3; i++)
		if (fcntl((int)i, F_GETFD) < 0) {
			int nfd = open("/dev/null", O_RDWR);

			if (nfd < 0 || nfd != (int)i) {
				in_report(c, result_fd, &res, "cannot open /dev/null");
				return LAUNCH_EXIT_FAILURE;
			}
		}
	env = calloc(c->nenv + c->nenv_pass + 1, sizeof(*env));
	if (!env) {
		in_report(c, result_fd, &res, "out of memory");
		return LAUNCH_EXIT_FAILURE;
	}
	for (i = 0; i < c->nenv_pass; i++) {
		const char *v = getenv(c->env_pass[i]);
		size_t n;

		if (!v)
			continue;
		n = strlen(c->env_pass[i]) + strlen(v) + 2;
		env[nenv] = malloc(n);
		if (env[nenv])
			snprintf(env[nenv++], n, "%s=%s", c->env_pass[i], v);
	}
	for (i = 0; i < c->nenv; i++)
		env[nenv++] = strdup(c->env[i]);
	for (i = 0; i < nenv; i++)
		if (!env[i])
			payload.oom = true;
	launch_exec_encode(&payload, c->workdir ? c->workdir : "", c->command, (size_t)c->ncommand,
			   env, nenv);
	for (i = 0; i < nenv; i++)
		free(env[i]);
	free(env);
	if (payload.oom || payload.len > LAUNCH_WIRE_MAX_PAYLOAD ||
	    (size_t)c->ncommand > LAUNCH_WIRE_MAX_ARGS || nenv > LAUNCH_WIRE_MAX_ARGS) {
		buf_free(&payload);
		in_report(c, result_fd, &res,
			  "the command line and environment are too large "
			  "(64 KiB, 4096 strings at most)");
		return LAUNCH_EXIT_FAILURE;
	}
	fd = open_sandbox(basefd, base, c->in, err, sizeof(err));
	if (fd < 0) {
		buf_free(&payload);
		in_report(c, result_fd, &res, err);
		return LAUNCH_EXIT_FAILURE;
	}
	if (c->tty) {
		int tr = launch_tty_open(&tty);

		if (tr < 0) {
			buf_free(&payload);
			(void)close(fd);
			snprintf(err, sizeof(err), "cannot allocate a pty: %s", strerror(-tr));
			in_report(c, result_fd, &res, err);
			return LAUNCH_EXIT_FAILURE;
		}
		fds[0] = fds[1] = fds[2] = tty.slave;
		q.value = LAUNCH_EXEC_TTY;
	}
	q.argc = (uint32_t)c->ncommand;
	q.envc = (uint32_t)nenv;
	q.arg = c->timeout > 0 ? (int64_t)(c->timeout * 1000) + (c->timeout * 1000 < 1) : 0;
	if (launch_wire_send(fd, &q, payload.data, payload.len, fds, 3) < 0) {
		buf_free(&payload);
		launch_tty_close(&tty);
		snprintf(err, sizeof(err), "cannot send the command to sandbox '%s'", c->in);
		in_report(c, result_fd, &res, err);
		(void)close(fd);
		return LAUNCH_EXIT_FAILURE;
	}
	buf_free(&payload);
	/* Only the command holds the slave now: its end shows as EIO. */
	if (tty.slave >= 0) {
		(void)close(tty.slave);
		tty.slave = -1;
	}
	/* Ctrl-C and friends go to the command's process group, once (with
	 * --tty they arrive as bytes in raw mode and the pty signals). */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGQUIT);
	if (c->tty)
		sigaddset(&set, SIGWINCH);
	(void)signal(SIGPIPE, SIG_IGN);
	if (sigprocmask(SIG_BLOCK, &set, NULL) == 0)
		sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	err[0] = '\0';
	while (!got_status) {
		struct pollfd p[4] = {{.fd = fd, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
		int r, nt = c->tty ? launch_tty_pollfds(&tty, p + 2) : 0;

		if (poll(p, (nfds_t)(2 + nt), -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents) {
			struct signalfd_siginfo si;

			while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				struct launch_wire k = {.type = LAUNCH_WIRE_KILL,
							.value = (int32_t)si.ssi_signo};

				if (si.ssi_signo == SIGWINCH)
					launch_tty_winch(&tty);
				else
					(void)launch_wire_send(fd, &k, NULL, 0, NULL, 0);
			}
		}
		if (nt)
			launch_tty_relay(&tty, p + 2, nt);
		if (!p[0].revents)
			continue;
		r = get_reply(fd, &h, -1);
		if (r < 0)
			break;
		if (h.type == LAUNCH_WIRE_STATUS) {
			got_status = true;
			status = h.value;
			res.timed_out = (h.arg & 1) != 0;
			res.oom_killed = (h.arg & 2) != 0;
		} else if (h.type == LAUNCH_WIRE_EXECFAIL) {
			exec_errno = h.value;
		} else if (h.type == LAUNCH_WIRE_ERROR) {
			snprintf(err, sizeof(err), "%.1100s", reply);
			/* Refused before anything ran: no status follows. */
			if (!h.id)
				break;
		}
	}
	(void)close(fd);
	if (sfd >= 0)
		(void)close(sfd);
	/* The command's last output; a background job still holding the
	 * pty is not waited for. */
	launch_tty_drain(&tty, 50);
	launch_tty_close(&tty);
	res.wall_seconds = since(&t0);
	if (res.timed_out) {
		res.exit_code = LAUNCH_EXIT_TIMEOUT;
		res.signal = SIGKILL;
		if (!c->quiet)
			fprintf(stderr, "fence-run: timed out after %g s; killed the command\n",
				c->timeout);
	} else if (err[0] || !got_status) {
		res.exit_code = LAUNCH_EXIT_FAILURE;
		if (!err[0])
			snprintf(err, sizeof(err), "sandbox '%s' ended while the command ran",
				 c->in);
	} else if (exec_errno) {
		res.exit_code = exec_errno == ENOENT ? LAUNCH_EXIT_NOTFOUND : LAUNCH_EXIT_NOEXEC;
		snprintf(err, sizeof(err), "cannot execute '%s': %s", c->command[0],
			 strerror(exec_errno));
	} else if (WIFEXITED(status)) {
		res.exit_code = WEXITSTATUS(status);
	} else if (WIFSIGNALED(status)) {
		res.signal = WTERMSIG(status);
		res.exit_code = 128 + res.signal;
	}
	in_report(c, result_fd, &res, err);
	return res.exit_code;
}

int launch_session_client(const struct fence_run_config *c)
{
	char base[4096], err[1200];
	int basefd = launch_session_open_base(base, sizeof(base), err, sizeof(err)), rc;

	if (basefd < 0) {
		fprintf(stderr, "fence-run: %s\n", err);
		return LAUNCH_EXIT_FAILURE;
	}
	json_mode = c->json;
	if (c->list)
		rc = do_list(basefd, base);
	else if (c->stop_all)
		rc = do_stop_all(basefd, base);
	else if (c->stop)
		rc = do_stop(basefd, base, c->stop, false);
	else if (c->pause || c->resume)
		rc = do_freeze(basefd, base, c->pause ? c->pause : c->resume, c->pause != NULL);
	else
		rc = do_in(basefd, base, c);
	(void)close(basefd);
	return rc;
}
