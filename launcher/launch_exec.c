// SPDX-License-Identifier: Apache-2.0
/*
 * launch_exec.c - the init of a long-lived sandbox as an exec server
 * (issue 17, launch_session.h).  The init stays pid 1 of the sandbox:
 * it reaps every orphan, and on the supervisor's EXEC forks a command
 * that goes through the one-shot command's steps (launch_init.c
 * run_command()): its own session, the caller's fds as 0-2, the working
 * directory, rlimits, only fds 0-2, no privileges, seccomp last.  The
 * supervisor is the only peer of this socket; the sandbox cannot reach
 * it (the init's fds are not inherited: everything but 0-2 is CLOEXEC
 * before execve).
 */
#include <errno.h>
#include <linux/close_range.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "launch_sandbox.h"
#include "launch_session.h"
#include "util.h"

extern char **environ;

/*
 * The filter compiled once, at the start of the server: seccomp_load()
 * would generate the BPF again in every command (about a millisecond).
 * Loaded with the same (default) attributes libseccomp would use: no
 * flags; no_new_privs is already set by launch_drop_privileges().  Empty
 * (len 0) when the export failed: each command then calls seccomp_load().
 */
static struct sock_fprog compiled;

static void compile_filter(const struct launch_sandbox *sb)
{
	static struct sock_filter prog[BPF_MAXINSNS];
	int fd = memfd_create("fence-seccomp", MFD_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return;
	if (seccomp_export_bpf(sb->seccomp, fd) == 0 && lseek(fd, 0, SEEK_SET) == 0) {
		n = read(fd, prog, sizeof(prog));
		/* A whole program that fits, not a short read of a longer one. */
		if (n > 0 && n % (ssize_t)sizeof(prog[0]) == 0 && n < (ssize_t)sizeof(prog)) {
			compiled.filter = prog;
			compiled.len = (unsigned short)(n / (ssize_t)sizeof(prog[0]));
		}
	}
	(void)close(fd);
}

static int load_filter(const struct launch_sandbox *sb)
{
	if (compiled.len)
		return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &compiled) == 0 ? 0
											: -errno;
	return seccomp_load(sb->seccomp);
}

struct exec_slot {
	pid_t pid; /* 0: free */
	uint32_t id;
};

static void send_error(int sock, uint32_t id, const char *msg)
{
	struct launch_wire h = {.type = LAUNCH_WIRE_ERROR, .id = id};

	(void)launch_wire_send(sock, &h, msg, strlen(msg), NULL, 0);
}

/* The sandbox's base environment with EXTRA's KEY=VALUE replacing or
 * adding entries.  NULL when out of memory. */
static char **merge_env(char *const *base, char *const *extra)
{
	size_t nb = 0, ne = 0, n = 0, i, j;
	char **out;

	while (base && base[nb])
		nb++;
	while (extra && extra[ne])
		ne++;
	out = calloc(nb + ne + 1, sizeof(*out));
	if (!out)
		return NULL;
	for (i = 0; i < nb; i++) {
		size_t k = strcspn(base[i], "=");
		bool replaced = false;

		for (j = 0; j < ne; j++)
			if (!strncmp(extra[j], base[i], k) && extra[j][k] == '=')
				replaced = true;
		if (!replaced)
			out[n++] = base[i];
	}
	for (j = 0; j < ne; j++) {
		size_t k = strcspn(extra[j], "=");
		bool later = false;

		/* The last of repeated keys wins. */
		for (i = j + 1; i < ne; i++)
			if (!strncmp(extra[i], extra[j], k) && extra[i][k] == '=')
				later = true;
		if (!later)
			out[n++] = extra[j];
	}
	return out;
}

/* The command's process, between fork and execve: the same steps and
 * order as launch_init.c run_command(). */
__attribute__((noreturn)) static void exec_child(const struct launch_sandbox *sb, uint32_t id,
						 const char *workdir, char **argv, char **extra,
						 const int fds[3], bool tty)
{
	struct launch_wire h = {.type = LAUNCH_WIRE_EXECFAIL, .id = id};
	char err[600];
	sigset_t none;
	char **envp;
	int i, r;

	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	(void)signal(SIGPIPE, SIG_DFL);
	/* Its own session and process group: --timeout and a vanished
	 * caller kill this group and nothing else of the sandbox. */
	if (setsid() < 0) {
		send_error(sb->sock, id, "cannot create a session");
		_exit(LAUNCH_EXIT_FAILURE);
	}
	/* The received fds are >= 3 (0-2 are the init's /dev/null). */
	for (i = 0; i < 3; i++)
		if (dup2(fds[i], i) < 0) {
			send_error(sb->sock, id, "cannot set up the standard fds");
			_exit(LAUNCH_EXIT_FAILURE);
		}
	/* --tty: the pty's slave becomes this session's terminal, so that
	 * the line discipline signals the command's process group. */
	if (tty && ioctl(0, TIOCSCTTY, 0) < 0) {
		send_error(sb->sock, id, "cannot make the pty the command's terminal");
		_exit(LAUNCH_EXIT_FAILURE);
	}
	if (chdir(*workdir ? workdir : sb->workdir) < 0) {
		snprintf(err, sizeof(err), "cannot enter '%s': %s",
			 *workdir ? workdir : sb->workdir, strerror(errno));
		send_error(sb->sock, id, err);
		_exit(LAUNCH_EXIT_FAILURE);
	}
	if (launch_init_rlimits(sb) < 0) {
		send_error(sb->sock, id, "cannot set RLIMIT_CORE");
		_exit(LAUNCH_EXIT_FAILURE);
	}
	envp = merge_env(sb->envp, extra);
	if (!envp) {
		send_error(sb->sock, id, "out of memory");
		_exit(LAUNCH_EXIT_FAILURE);
	}
	/* CLOEXEC rather than close: the socket reports an execve failure. */
	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
		send_error(sb->sock, id, "cannot close inherited file descriptors");
		_exit(LAUNCH_EXIT_FAILURE);
	}
	r = launch_drop_privileges(sb->uid, sb->gid, sb->host_root, err, sizeof(err));
	if (r < 0) {
		send_error(sb->sock, id, err);
		_exit(LAUNCH_EXIT_FAILURE);
	}
	r = load_filter(sb);
	if (r < 0) {
		snprintf(err, sizeof(err), "cannot load the seccomp filter: %s", strerror(-r));
		send_error(sb->sock, id, err);
		_exit(LAUNCH_EXIT_FAILURE);
	}
	environ = envp;
	execvp(argv[0], argv);
	h.value = errno;
	(void)launch_wire_send(sb->sock, &h, NULL, 0, NULL, 0);
	_exit(h.value == ENOENT ? LAUNCH_EXIT_NOTFOUND : LAUNCH_EXIT_NOEXEC);
}

static void start_command(const struct launch_sandbox *sb, struct exec_slot *slots,
			  const struct launch_wire *h, char *buf, int *fds, int nfds)
{
	const char *workdir;
	char **argv = NULL, **env = NULL;
	struct exec_slot *slot = NULL;
	const char *why = NULL;
	pid_t pid;
	int i;

	for (i = 0; i < LAUNCH_SESSION_MAX_CMDS && !slot; i++)
		if (!slots[i].pid)
			slot = &slots[i];

	if (nfds != 3 || !h->id)
		why = "malformed command request";
	else if (!slot)
		why = "too many commands running in this sandbox";
	else if (launch_exec_decode(buf, h->len, h->argc, h->envc, &workdir, &argv, &env) < 0)
		why = "malformed command request";
	else if ((pid = fork()) < 0)
		why = "cannot fork the command";
	else if (pid == 0)
		exec_child(sb, h->id, workdir, argv, env, fds, h->value & LAUNCH_EXEC_TTY);
	else {
		struct launch_wire started = {
		    .type = LAUNCH_WIRE_STARTED, .id = h->id, .value = (int32_t)pid};

		slot->pid = pid;
		slot->id = h->id;
		(void)launch_wire_send(sb->sock, &started, NULL, 0, NULL, 0);
	}
	/* No process to report on: the status follows the error at once (as
	 * if it had exited 125), so that the waiting caller is answered. */
	if (why) {
		struct launch_wire st = {
		    .type = LAUNCH_WIRE_STATUS, .id = h->id, .value = LAUNCH_EXIT_FAILURE << 8};

		send_error(sb->sock, h->id, why);
		(void)launch_wire_send(sb->sock, &st, NULL, 0, NULL, 0);
	}
	free(argv);
	free(env);
	for (i = 0; i < nfds; i++)
		(void)close(fds[i]);
}

static void kill_command(const struct exec_slot *slots, const struct launch_wire *h)
{
	int i;

	if (h->value <= 0 || h->value >= NSIG)
		return;
	for (i = 0; i < LAUNCH_SESSION_MAX_CMDS; i++)
		if (slots[i].pid && slots[i].id == h->id) {
			if (kill(-slots[i].pid, h->value) < 0)
				(void)kill(slots[i].pid, h->value);
		}
}

static void reap(const struct launch_sandbox *sb, struct exec_slot *slots)
{
	int st, i;
	pid_t p;

	while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
		for (i = 0; i < LAUNCH_SESSION_MAX_CMDS; i++) {
			struct launch_wire h = {.type = LAUNCH_WIRE_STATUS};

			if (slots[i].pid != p)
				continue;
			h.id = slots[i].id;
			h.value = st;
			slots[i].pid = 0;
			(void)launch_wire_send(sb->sock, &h, NULL, 0, NULL, 0);
		}
	}
}

void launch_exec_serve(const struct launch_sandbox *sb, int sfd)
{
	static struct exec_slot slots[LAUNCH_SESSION_MAX_CMDS];
	static char buf[LAUNCH_WIRE_MAX_PAYLOAD + 1];

	compile_filter(sb);
	for (;;) {
		struct pollfd p[2] = {{.fd = sb->sock, .events = POLLIN},
				      {.fd = sfd, .events = POLLIN}};
		struct launch_wire h;
		int fds[3], nfds, r;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			_exit(LAUNCH_EXIT_FAILURE);
		}
		if (p[1].revents) {
			struct signalfd_siginfo si;

			/* SIGINT/SIGTERM/SIGHUP mean nothing to a server: the
			 * supervisor stops the sandbox with SIGKILL. */
			if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si) &&
			    si.ssi_signo == SIGCHLD)
				reap(sb, slots);
		}
		if (!p[0].revents)
			continue;
		r = launch_wire_recv(sb->sock, &h, buf, LAUNCH_WIRE_MAX_PAYLOAD, fds, &nfds);
		if (r == -EPIPE || (r < 0 && r != -EPROTO && r != -EMSGSIZE && r != -EAGAIN))
			_exit(0); /* the supervisor is gone: the kernel ends the rest */
		if (r < 0)
			continue;
		if (h.type == LAUNCH_WIRE_EXEC)
			start_command(sb, slots, &h, buf, fds, nfds);
		else {
			while (nfds > 0)
				(void)close(fds[--nfds]);
			if (h.type == LAUNCH_WIRE_KILL)
				kill_command(slots, &h);
		}
	}
}
