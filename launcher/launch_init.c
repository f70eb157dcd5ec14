// SPDX-License-Identifier: Apache-2.0
/*
 * launch_init.c - the sandbox's init (pid 1 of its pid namespace) and the
 * command process it forks.  One straight list of steps each; ordering
 * constraints are said where they bind.  Any failure is sent to the
 * launcher as an ERROR message and the process _exit()s at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "launch_sandbox.h"
#include "launch_session.h"

#define SANDBOX_HOSTNAME "fence-run"
/* What the command sees of its pid 1 (/proc/1/cmdline, comm, status). */
#define SANDBOX_INIT_NAME "fence-init"
#define SANDBOX_NOFILE 65536

extern char **environ;

__attribute__((noreturn)) static void init_fail(const struct launch_sandbox *sb, const char *err)
{
	launch_msg_error(sb->sock, "%s", err);
	_exit(LAUNCH_EXIT_FAILURE);
}

struct launch_strings_area launch_strings_area(char *const *strv)
{
	struct launch_strings_area a = { NULL, 0 };
	char *end;
	size_t i;

	if (!strv || !strv[0])
		return a;
	a.start = strv[0];
	end = strv[0];
	for (i = 0; strv[i] && strv[i] == end; i++)
		end = strv[i] + strlen(strv[i]) + 1;
	a.len = (size_t)(end - a.start);
	return a;
}

void launch_strings_retitle(struct launch_strings_area a, const char *title)
{
	size_t n;

	if (!a.start || a.len == 0)
		return;
	memset(a.start, 0, a.len);
	if (a.len < 3)
		return;
	/* Room for the title, its NUL and the non-NUL last byte. */
	n = strlen(title);
	if (n > a.len - 2)
		n = a.len - 2;
	memcpy(a.start, title, n);
	a.start[a.len - 1] = ' ';
}

/*
 * The init is a copy of fence-run's memory, and the command can read its
 * /proc/1/cmdline (not ptrace-guarded, unlike environ): that would show
 * the host paths of the codebase, delta, audit and result files, every
 * --rule and every --bind-ro (issue 15 item 1).  PR_SET_MM_ARG_START would
 * need CAP_SYS_RESOURCE in the initial user namespace, so the strings are
 * overwritten in place; the environment strings are zeroed as well, in case
 * /proc/1/environ ever becomes readable, and the name (comm, which shows in
 * /proc/1/stat and status unguarded) is fixed, for a fence-run started
 * through a link with a telling name.  First thing: nothing of the sandbox
 * exists yet.  Nothing the init uses points into these strings (main()
 * parsed a copy of argv; the command's environment was built apart).
 */
static void step_hide_host_args(const struct launch_sandbox *sb)
{
	struct launch_strings_area env = sb->host_env;

	launch_strings_retitle(sb->host_args, SANDBOX_INIT_NAME);
	if (env.start)
		memset(env.start, 0, env.len);
	(void)prctl(PR_SET_NAME, SANDBOX_INIT_NAME, 0, 0, 0);
}

/* cgroup v1: into the sandbox's leaves before anything else runs, so that
 * all of the sandbox (our own setup included) is counted and limited. */
static void step_join_cgroup(const struct launch_sandbox *sb)
{
	int fds[LAUNCH_CG_NCTL], i;
	char err[128];

	for (i = 0; i < LAUNCH_CG_NCTL; i++)
		fds[i] = sb->cg_tasks[i];
	if (launch_cgroup_attach_self(fds) < 0) {
		snprintf(err, sizeof(err), "cannot join the sandbox's cgroup: %s", strerror(errno));
		init_fail(sb, err);
	}
}

/* Everything inherited from the launcher but stdio and our socket goes:
 * a stray host fd (a directory, say) would be a way out. */
static void step_close_inherited_fds(const struct launch_sandbox *sb)
{
	if (sb->sock > 3)
		(void)close_range(3, (unsigned)sb->sock - 1, 0);
	(void)close_range((unsigned)sb->sock + 1, ~0U, 0);
}

static void step_wait_for(const struct launch_sandbox *sb, char type)
{
	struct launch_msg m;

	/* End of file means the launcher is gone: nothing left to do. */
	if (launch_msg_recv(sb->sock, &m, NULL) < 0 || m.type != type)
		_exit(LAUNCH_EXIT_FAILURE);
}

/*
 * Must run as the launcher's own uid, before the id switch: /dev/fuse is
 * usually root's 0600, and an unmapped kuid 0 still matches its owner.
 * Opened here, inside the new user namespace, because the kernel wants
 * the mounting namespace and the fd's opener to agree (see the header).
 */
static int step_open_fuse(const struct launch_sandbox *sb)
{
	char err[256];
	int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		snprintf(err, sizeof(err), "cannot open /dev/fuse: %s", strerror(errno));
		init_fail(sb, err);
	}
	return fd;
}

/*
 * The init becomes U:G (the same ids as the command) while keeping its
 * capabilities in the new user namespace (no uid 0 is mapped there, so
 * the setuid fix-up does not clear them).  It must: files it creates on
 * the new tmpfs need an owner mapped in the namespace, and it should
 * never act as host root.  The uid change resets the parent-death signal
 * and dumpability (kernel/cred.c commit_creds()), so both come after.
 */
static void step_switch_ids(const struct launch_sandbox *sb)
{
	char err[256];

	if ((sb->host_root && setgroups(0, NULL) < 0) || setresgid(sb->gid, sb->gid, sb->gid) < 0 ||
	    setresuid(sb->uid, sb->uid, sb->uid) < 0) {
		snprintf(err, sizeof(err), "cannot switch to %u:%u: %s", (unsigned)sb->uid,
			 (unsigned)sb->gid, strerror(errno));
		init_fail(sb, err);
	}
}

/*
 * When the launcher dies (even by SIGKILL) the init dies, and with it the
 * whole pid namespace and the mount namespace holding the FUSE mount.
 * The launcher may have died before the prctl: its end of the socket is
 * then closed, which poll() shows as a hang-up.
 */
static void step_die_with_launcher(const struct launch_sandbox *sb)
{
	struct pollfd p = { .fd = sb->sock, .events = POLLIN };

	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		init_fail(sb, "cannot set the parent-death signal");
	if (poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR)))
		_exit(LAUNCH_EXIT_FAILURE);
	/* Not dumpable: the command (same uid) may not ptrace us or open
	 * /proc/1/fd, /proc/1/mem. */
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	/* Away from the caller's terminal session: Ctrl-C reaches the
	 * launcher alone, which forwards it once. */
	(void)setsid();
}

static void step_new_cgroup_ns(const struct launch_sandbox *sb)
{
	char err[256];

	/* After the launcher moved us into the leaf (before RUN): that leaf
	 * becomes the namespace's root, so /proc/self/cgroup shows "/". */
	if (unshare(CLONE_NEWCGROUP) < 0) {
		snprintf(err, sizeof(err), "cannot create a cgroup namespace: %s", strerror(errno));
		init_fail(sb, err);
	}
}

static void step_send_fuse_fd(const struct launch_sandbox *sb, int fuse_fd)
{
	struct launch_msg m = { .type = LAUNCH_MSG_FUSE };

	if (launch_msg_send(sb->sock, &m, fuse_fd) < 0)
		_exit(LAUNCH_EXIT_FAILURE);
	/* Nothing in the sandbox may hold the session fd. */
	(void)close(fuse_fd);
}

static void step_hostname(const struct launch_sandbox *sb)
{
	if (sethostname(SANDBOX_HOSTNAME, strlen(SANDBOX_HOSTNAME)) < 0)
		init_fail(sb, "cannot set the host name");
}

static void check(const struct launch_sandbox *sb, int r, const char *err)
{
	if (r < 0)
		init_fail(sb, err);
}

/* Floors that hold even without a cgroup: no core dumps (they could land
 * in the workspace with secrets from memory) and a bounded fd table.
 * Also used by the exec server of long-lived sandboxes (launch_exec.c). */
int launch_init_rlimits(const struct launch_sandbox *sb)
{
	struct rlimit core = { 0, 0 }, nofile;

	if (setrlimit(RLIMIT_CORE, &core) < 0)
		return -errno;
	if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_max > SANDBOX_NOFILE) {
		nofile.rlim_max = SANDBOX_NOFILE;
		if (nofile.rlim_cur > SANDBOX_NOFILE)
			nofile.rlim_cur = SANDBOX_NOFILE;
		(void)setrlimit(RLIMIT_NOFILE, &nofile);
	}
	/* Without a cgroup the pids limit can only be approximated: since
	 * Linux 5.14 RLIMIT_NPROC counts per user namespace (ucounts). */
	if (sb->cfg->unsafe_no_cgroup && sb->cfg->pids) {
		struct rlimit nproc = { sb->cfg->pids, sb->cfg->pids };

		(void)setrlimit(RLIMIT_NPROC, &nproc);
	}
	return 0;
}

static void step_rlimits(const struct launch_sandbox *sb)
{
	if (launch_init_rlimits(sb) < 0)
		init_fail(sb, "cannot set RLIMIT_CORE");
}

/*
 * The command: new session (no controlling terminal to inject into), the
 * working directory, only fds 0-2, cleared environment, no privileges,
 * then the seccomp filter last (it would refuse some of the steps above).
 */
__attribute__((noreturn)) static void run_command(const struct launch_sandbox *sb)
{
	char err[512];
	sigset_t none;
	struct launch_msg m = { .type = LAUNCH_MSG_EXECFAIL };
	int r;

	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	(void)signal(SIGPIPE, SIG_DFL);
	if (setsid() < 0)
		init_fail(sb, "cannot create a session");
	if (chdir(sb->workdir) < 0) {
		snprintf(err, sizeof(err), "cannot enter '%s': %s", sb->workdir, strerror(errno));
		init_fail(sb, err);
	}
	step_rlimits(sb);
	/* CLOEXEC rather than close: our socket must survive until execve
	 * to report its failure, and must not survive it. */
	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		init_fail(sb, "cannot close inherited file descriptors");
	r = launch_drop_privileges(sb->uid, sb->gid, sb->host_root, err, sizeof(err));
	check(sb, r, err);
	r = seccomp_load(sb->seccomp);
	if (r < 0) {
		snprintf(err, sizeof(err), "cannot load the seccomp filter: %s", strerror(-r));
		init_fail(sb, err);
	}
	/* execvp searches the PATH of environ, so the new one goes first. */
	environ = sb->envp;
	execvp(sb->cfg->command[0], sb->cfg->command);
	m.value = errno;
	(void)launch_msg_send(sb->sock, &m, -1);
	_exit(m.value == ENOENT ? LAUNCH_EXIT_NOTFOUND : LAUNCH_EXIT_NOEXEC);
}

/* pid 1: forwards SIGINT/SIGTERM/SIGHUP to the command's process group,
 * reaps every orphan, and ends with the command (the kernel then kills
 * whatever is left in the namespace). */
__attribute__((noreturn)) static void reap_loop(const struct launch_sandbox *sb, pid_t cmd,
						 int sfd)
{
	struct signalfd_siginfo si;
	struct launch_msg m = { .type = LAUNCH_MSG_STATUS };

	for (;;) {
		ssize_t n = read(sfd, &si, sizeof(si));
		int st;
		pid_t p;

		if (n != (ssize_t)sizeof(si)) {
			if (n < 0 && errno == EINTR)
				continue;
			_exit(LAUNCH_EXIT_FAILURE);
		}
		if (si.ssi_signo != SIGCHLD) {
			if (kill(-cmd, (int)si.ssi_signo) < 0)
				(void)kill(cmd, (int)si.ssi_signo);
			continue;
		}
		while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
			if (p != cmd)
				continue;
			m.value = st;
			(void)launch_msg_send(sb->sock, &m, -1);
			_exit(0);
		}
	}
}

void launch_init_main(const struct launch_sandbox *sb)
{
	char err[512];
	sigset_t set;
	int fuse_fd, sfd;
	pid_t cmd;

	step_hide_host_args(sb);
	step_join_cgroup(sb);
	step_close_inherited_fds(sb);
	/* The launcher writes our id maps first. */
	step_wait_for(sb, LAUNCH_MSG_GO);
	fuse_fd = step_open_fuse(sb);
	check(sb, launch_root_open_binds(sb, err, sizeof(err)), err);
	step_switch_ids(sb);
	step_die_with_launcher(sb);
	/* Mounts: private propagation first, then the tmpfs root, then the
	 * FUSE mount as early as possible so that the launcher can start the
	 * daemon while we build the rest (the daemon may only read the fd
	 * once it is mounted). */
	check(sb, launch_root_prepare(sb, err, sizeof(err)), err);
	check(sb, launch_root_workspace(sb, fuse_fd, err, sizeof(err)), err);
	step_send_fuse_fd(sb, fuse_fd);
	check(sb, launch_root_populate(sb, err, sizeof(err)), err);
	/* All mounts before pivot_root; / becomes read-only with it. */
	check(sb, launch_root_pivot(err, sizeof(err)), err);
	if (!sb->cfg->net_host)
		check(sb, launch_loopback_up(err, sizeof(err)), err);
	step_hostname(sb);

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0 ||
	    (sfd = signalfd(-1, &set, SFD_CLOEXEC)) < 0)
		init_fail(sb, "cannot create a signalfd");
	/* The daemon serves /workspace from here on, and we are in the
	 * sandbox's cgroup (joined first thing on v1, moved by the launcher
	 * before RUN on v2). */
	step_wait_for(sb, LAUNCH_MSG_RUN);
	step_new_cgroup_ns(sb);
	/* --detach: no command of our own; serve the supervisor's requests. */
	if (sb->cfg->detach)
		launch_exec_serve(sb, sfd);
	cmd = fork();
	if (cmd < 0)
		init_fail(sb, "cannot fork the command");
	if (cmd == 0)
		run_command(sb);
	reap_loop(sb, cmd, sfd);
}
