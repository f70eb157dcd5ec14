// SPDX-License-Identifier: Apache-2.0
/*
 * fence-run - run a command in a sandbox whose /workspace is a codebase
 * seen through a fencefs policy (docs/SPEC.md 7, issue 4).
 *
 * main() reads as parse, validate, run, report.  run() is one straight
 * list of named steps (minijail_enter()'s shape); each fills run->error
 * and returns -errno on failure, which makes fence-run exit 125.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <grp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "cleanup.h"
#include "launch_cgroup.h"
#include "launch_config.h"
#include "launch_daemon.h"
#include "launch_delta.h"
#include "launch_result.h"
#include "launch_sandbox.h"
#include "launch_seccomp.h"
#include "launch_session.h"
#include "policy_load.h"
#include "util.h"

/* How long the daemon may take to serve, and to leave after the sandbox. */
#define DAEMON_READY_MS 20000
#define DAEMON_GRACE_MS 2000
/* How long the init may outlive a daemon that exited cleanly. */
#define DAEMON_GONE_MS 500

struct run {
	struct fence_run_config cfg;
	int argc;
	char **argv;           /* our own argv, for the audit start event */
	char **args;           /* a copy of it, which the configuration points into */
	char *codebase;        /* realpath of --codebase */
	char *fencefs;         /* the daemon binary */
	char digest[65];
	int audit_fd;          /* handed to the daemon */
	struct audit *audit;
	int result_fd;
	struct launch_cgroup cg;
	char *delta;
	bool private_delta;
	bool keep_delta;       /* a private delta that --apply could not apply */
	char workdir[PATH_MAX + 16];
	struct buf passwd, group;
	char **envp;
	scmp_filter_ctx seccomp;
	struct launch_sandbox sb;
	int sock;              /* our end of the socket pair */
	int sfd;               /* signalfd: SIGINT, SIGTERM, SIGHUP */
	pid_t init;
	bool init_in_cgroup;   /* cgroup v2: started there (CLONE_INTO_CGROUP) */
	int init_pidfd;
	struct launch_daemon daemon;
	struct timespec started;
	bool got_status;
	int cmd_status;
	int exec_errno;
	bool daemon_died;
	char *apply_json;
	struct launch_result res;
	char error[1024];
	struct launch_session sess; /* --detach (launch_session.h) */
};

static int fail(struct run *r, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct run *r, int err, const char *fmt, ...)
{
	va_list ap;

	if (!r->error[0]) {
		va_start(ap, fmt);
		vsnprintf(r->error, sizeof(r->error), fmt, ap);
		va_end(ap);
	}
	return err < 0 ? err : -EINVAL;
}

static double elapsed(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - since->tv_sec) + (double)(now.tv_nsec - since->tv_nsec) / 1e9;
}

/* --user, or the caller's ids when not root (issue 4 item 2: never host root). */
static int step_resolve_ids(struct run *r)
{
	struct fence_run_config *c = &r->cfg;

	r->sb.host_root = geteuid() == 0;
	if (!r->sb.host_root) {
		if (c->user)
			return fail(r, -EPERM, "--user needs root; without it the command runs "
					       "as the calling user");
		r->sb.uid = getuid();
		r->sb.gid = getgid();
		return 0;
	}
	r->sb.uid = LAUNCH_DEFAULT_UID;
	r->sb.gid = LAUNCH_DEFAULT_GID;
	if (c->user) {
		struct passwd *pw = getpwnam(c->user);
		uint64_t id;

		if (pw) {
			r->sb.uid = pw->pw_uid;
			r->sb.gid = pw->pw_gid;
		} else if (fence_parse_uint(c->user, 0xfffffffeU, &id) == 0) {
			r->sb.uid = (uid_t)id;
			r->sb.gid = (gid_t)id;
		} else {
			return fail(r, -ENOENT, "--user '%s': no such user", c->user);
		}
	}
	if (r->sb.uid == 0 || r->sb.gid == 0)
		return fail(r, -EPERM, "--user '%s': the sandbox never runs as root", c->user);
	return 0;
}

static void add_passwd_line(struct buf *b, uid_t uid, gid_t gid, bool is_group)
{
	struct passwd *pw = is_group ? NULL : getpwuid(uid);
	struct group *gr = is_group ? getgrgid(gid) : NULL;
	const char *name = is_group ? (gr ? gr->gr_name : "fence") : (pw ? pw->pw_name : "fence");

	/* Names with ':' or newlines would corrupt the file. */
	if (strpbrk(name, ":\n"))
		name = "fence";
	if (is_group)
		buf_addf(b, "%s:x:%u:\n", name, (unsigned)gid);
	else
		buf_addf(b, "%s:x:%u:%u:%s:/tmp:/bin/sh\n", name, (unsigned)uid, (unsigned)gid, name);
}

static int step_validate(struct run *r)
{
	struct fence_run_config *c = &r->cfg;
	struct fence_policy_opts po = { c->preset, c->policy_file, c->rules, c->nrules };
	struct policy_error perr = { 0 };
	struct policy *policy = NULL;
	struct stat st;
	char rel[PATH_MAX];
	size_t i;
	int ret;

	r->codebase = realpath(c->codebase, NULL);
	if (!r->codebase)
		return fail(r, -errno, "--codebase '%s': %s", c->codebase, strerror(errno));
	if (stat(r->codebase, &st) < 0 || !S_ISDIR(st.st_mode))
		return fail(r, -ENOTDIR, "--codebase '%s': not a directory", c->codebase);
	if (launch_find_tool("fencefs", &r->fencefs) < 0)
		return fail(r, -ENOENT, "cannot find fencefs next to fence-run or in $FENCE_BINDIR");
	ret = launch_workdir_normalise(c->workdir ? c->workdir : "/workspace", rel, sizeof(rel));
	if (ret < 0)
		return fail(r, ret, "--workdir '%s': must stay inside /workspace", c->workdir);
	snprintf(r->workdir, sizeof(r->workdir), "/workspace%s%s", *rel ? "/" : "", rel);
	for (i = 0; i < c->nbinds; i++)
		if (stat(c->binds[i].host, &st) < 0)
			return fail(r, -errno, "--bind-ro '%s': %s", c->binds[i].host,
				    strerror(errno));
	/* The daemon builds the same policy; building it here first makes a
	 * bad policy fail before anything starts, with its file:line. */
	ret = fence_policy_build(&po, &policy, &perr);
	if (ret < 0) {
		char msg[800];

		policy_error_format(&perr, msg, sizeof(msg));
		return fail(r, ret, "%s", msg);
	}
	policy_digest(policy, r->digest);
	policy_free(policy);
	return step_resolve_ids(r);
}

/* The result file opens first of all, so that every later failure (a bad
 * policy, a missing kernel feature) still ends up in it. */
static int step_open_result(struct run *r)
{
	if (!r->cfg.result)
		return 0;
	r->result_fd = open(r->cfg.result, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY,
			    0644);
	if (r->result_fd < 0)
		return fail(r, -errno, "cannot open result file '%s': %s", r->cfg.result,
			    strerror(errno));
	return 0;
}

/* The audit log opens before anything runs: a path that cannot be
 * written is refused up front, not discovered at the end. */
static int step_open_audit(struct run *r)
{
	struct buf fields = { 0 };
	int fd, ret;

	if (!r->cfg.audit)
		return 0;
	fd = open(r->cfg.audit, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY,
		  0600);
	if (fd < 0)
		return fail(r, -errno, "cannot open audit log '%s': %s", r->cfg.audit,
			    strerror(errno));
	r->audit_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (r->audit_fd < 0) {
		(void)close(fd);
		return fail(r, -errno, "cannot duplicate the audit fd: %s", strerror(errno));
	}
	ret = audit_open_fd(fd, r->cfg.audit_all, &r->audit);
	if (ret == 0 && r->cfg.audit_max)
		audit_set_max(r->audit, r->cfg.audit_max);
	if (ret < 0) {
		(void)close(fd);
		return fail(r, ret, "cannot open audit log '%s': %s", r->cfg.audit, strerror(-ret));
	}
	launch_audit_start_fields(&r->cfg, r->argc, r->argv, r->codebase, r->digest, &fields);
	audit_emit(r->audit, "start", fields.data);
	buf_free(&fields);
	if (audit_failed(r->audit))
		return fail(r, -EIO, "cannot write audit log '%s'", r->cfg.audit);
	return 0;
}

static int step_cgroup(struct run *r)
{
	struct launch_limits lim = { r->cfg.memory, r->cfg.pids, r->cfg.cpus };
	char err[600];
	int ret;

	if (r->cfg.unsafe_no_cgroup) {
		if (r->cfg.memory || r->cfg.cpus > 0)
			return fail(r, -EINVAL, "--memory and --cpus need a cgroup; drop "
						"--unsafe-no-cgroup");
		return 0;
	}
	ret = launch_cgroup_setup(&r->cg, &lim, err, sizeof(err));
	if (ret < 0)
		return fail(r, ret,
			    "cannot set up a cgroup: %s; run as root, or delegate a cgroup v2 "
			    "subtree with memory and pids enabled (e.g. systemd-run --user --scope "
			    "-p Delegate=yes), or pass --unsafe-no-cgroup to run without limits",
			    err);
	return 0;
}

/* Fails early with the fix; the init opens its own fd later (see
 * launch_sandbox.h for why this one cannot be used). */
static int step_check_fuse(struct run *r)
{
	int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		if (errno == EACCES || errno == EPERM)
			return fail(r, -errno, "cannot open /dev/fuse: %s; make it usable (chmod "
					       "0666 /dev/fuse, as most distributions ship it) or "
					       "run as root",
				    strerror(errno));
		return fail(r, -errno, "cannot open /dev/fuse: %s; load the fuse module "
				       "(modprobe fuse)",
			    strerror(errno));
	}
	(void)close(fd);
	return 0;
}

static int step_delta(struct run *r)
{
	int ret;

	if (r->cfg.delta) {
		r->delta = strdup(r->cfg.delta);
		return r->delta ? 0 : fail(r, -ENOMEM, "out of memory");
	}
	ret = launch_delta_make_private(&r->delta);
	if (ret < 0)
		return fail(r, ret, "cannot create a delta directory in '%s': %s",
			    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", strerror(-ret));
	r->private_delta = true;
	return 0;
}

static const char *host_getenv(const char *key)
{
	return getenv(key);
}

static int step_prepare_sandbox(struct run *r)
{
	int sp[2], ret;

	r->envp = launch_env_build(&r->cfg, host_getenv);
	if (!r->envp)
		return fail(r, -ENOMEM, "out of memory");
	buf_adds(&r->passwd, "root:x:0:0:root:/root:/usr/sbin/nologin\n"
			     "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n");
	buf_adds(&r->group, "root:x:0:\nnogroup:x:65534:\n");
	if (r->sb.uid != 0 && r->sb.uid != 65534)
		add_passwd_line(&r->passwd, r->sb.uid, r->sb.gid, false);
	if (r->sb.gid != 0 && r->sb.gid != 65534)
		add_passwd_line(&r->group, r->sb.uid, r->sb.gid, true);
	if (r->passwd.oom || r->group.oom)
		return fail(r, -ENOMEM, "out of memory");
	ret = launch_seccomp_build(&r->seccomp);
	if (ret < 0)
		return fail(r, ret, "cannot build the seccomp filter: %s", strerror(-ret));
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
		return fail(r, -errno, "cannot create a socket pair: %s", strerror(errno));
	r->sock = sp[0];
	r->sb.cfg = &r->cfg;
	r->sb.envp = r->envp;
	r->sb.workdir = r->workdir;
	r->sb.passwd = r->passwd.data;
	r->sb.group = r->group.data;
	r->sb.seccomp = r->seccomp;
	r->sb.sock = sp[1];
	return 0;
}

/* Signals arrive through a signalfd, so the supervisor is one poll loop. */
static int step_signals(struct run *r)
{
	sigset_t set;

	(void)signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return fail(r, -errno, "cannot block signals: %s", strerror(errno));
	r->sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (r->sfd < 0)
		return fail(r, -errno, "cannot create a signalfd: %s", strerror(errno));
	return 0;
}

static int step_clone(struct run *r)
{
	struct launch_msg go = { .type = LAUNCH_MSG_GO };
	char err[512];
	int ret;

	/* cgroup v1: the init joins its leaves itself (much cheaper, see
	 * launch_cgroup_open_tasks()); v2: it starts in its leaf
	 * (CLONE_INTO_CGROUP), or we move it in step_start_daemon. */
	if (r->cg.version == 1) {
		ret = launch_cgroup_open_tasks(&r->cg, r->sb.cg_tasks);
		if (ret < 0)
			return fail(r, ret, "cannot open the sandbox's cgroup: %s", strerror(-ret));
	}
	if (r->cg.version == 2)
		r->sb.cg_v2_fd = r->cg.fd[0];
	r->init = launch_clone_init(&r->sb, &r->init_in_cgroup);
	for (int i = 0; i < LAUNCH_CG_NCTL; i++) {
		if (r->sb.cg_tasks[i] >= 0)
			(void)close(r->sb.cg_tasks[i]);
		r->sb.cg_tasks[i] = -1;
	}
	if (r->init < 0) {
		int e = -r->init;

		r->init = 0;
		if (e == EPERM || e == ENOSPC || e == EINVAL)
			return fail(r, -e, "cannot create namespaces: %s; enable unprivileged user "
					   "namespaces (sysctl kernel.unprivileged_userns_clone=1, "
					   "user.max_user_namespaces > 0) or run as root",
				    strerror(e));
		return fail(r, -e, "cannot create namespaces: %s", strerror(e));
	}
	clock_gettime(CLOCK_MONOTONIC, &r->started);
	(void)close(r->sb.sock);
	r->sb.sock = -1;
	r->init_pidfd = pidfd_open(r->init, 0);
	if (r->init_pidfd < 0)
		return fail(r, -errno, "cannot watch the sandbox: %s", strerror(errno));
	ret = launch_write_id_maps(r->init, r->sb.uid, r->sb.gid, r->sb.host_root, err, sizeof(err));
	if (ret < 0)
		return fail(r, ret, "%s", err);
	ret = launch_msg_send(r->sock, &go, -1);
	if (ret < 0)
		return fail(r, ret, "cannot start the sandbox: %s", strerror(-ret));
	return 0;
}

/*
 * True while PID is in do_exit(): PF_EXITING (0x4, include/linux/sched.h)
 * in the flags field (9th) of /proc/PID/stat.  The comm field may hold
 * spaces or parentheses, so parse after the last ')'.
 */
static bool task_is_exiting(pid_t pid)
{
	char path[64], buf[512], *p;
	unsigned long flags = 0;
	ssize_t n;
	int fd, i;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	(void)close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p)
		return false;
	/* after ") ": state ppid pgrp session tty_nr tpgid flags */
	for (i = 0; i < 7 && p; i++)
		p = strchr(p + 1, ' ');
	if (!p || sscanf(p + 1, "%lu", &flags) != 1)
		return false;
	return flags & 0x4;
}

/* A message from the init or the command, at any time. */
static void handle_msg(struct run *r, const struct launch_msg *m)
{
	switch (m->type) {
	case LAUNCH_MSG_STATUS:
		r->got_status = true;
		r->cmd_status = m->value;
		break;
	case LAUNCH_MSG_EXECFAIL:
		r->exec_errno = m->value;
		break;
	case LAUNCH_MSG_ERROR:
		(void)fail(r, -EIO, "%s", m->text);
		break;
	}
}

static int step_start_daemon(struct run *r)
{
	struct launch_msg m = { 0 }, run = { .type = LAUNCH_MSG_RUN };
	char err[512];
	int fuse_fd = -1, ret;

	/* The init's setup is local syscalls only, but never wait forever. */
	if (poll(&(struct pollfd){ .fd = r->sock, .events = POLLIN }, 1, DAEMON_READY_MS) == 0)
		return fail(r, -ETIMEDOUT, "the sandbox did not start within %d s",
			    DAEMON_READY_MS / 1000);
	ret = launch_msg_recv(r->sock, &m, &fuse_fd);
	if (ret < 0 || m.type != LAUNCH_MSG_FUSE || fuse_fd < 0) {
		if (ret == 0)
			handle_msg(r, &m);
		if (fuse_fd >= 0)
			(void)close(fuse_fd);
		return fail(r, -EIO, "the sandbox failed to start");
	}
	ret = launch_daemon_spawn(&r->daemon, r->fencefs, &r->cfg, r->codebase, r->delta,
				  r->sb.uid, r->sb.gid, fuse_fd, r->audit ? r->audit_fd : -1, err,
				  sizeof(err));
	/* Only the daemon holds the session from now on. */
	(void)close(fuse_fd);
	if (ret < 0)
		return fail(r, ret, "%s", err);
	/*
	 * cgroup v2: into the cgroup before the command exists, so that it
	 * and every descendant are counted and limited.  Done here, while the
	 * daemon starts, because moving another process waits for an RCU
	 * grace period (cgroup_threadgroup_rwsem is a percpu rwsem), often
	 * several ms; the init only runs fence-run's own setup until RUN, and
	 * creates its cgroup namespace after RUN.  Only needed when the
	 * kernel could not start it there (see step_clone); on cgroup v1 the
	 * init joined by itself.
	 */
	if (r->cg.version == 2 && !r->init_in_cgroup) {
		ret = launch_cgroup_attach(&r->cg, r->init);
		if (ret < 0)
			return fail(r, ret, "cannot move the sandbox into its cgroup: %s",
				    strerror(-ret));
	}
	ret = launch_daemon_wait_ready(&r->daemon, r->sock, DAEMON_READY_MS);
	if (ret == 1) {
		if (launch_msg_recv(r->sock, &m, NULL) == 0)
			handle_msg(r, &m);
		return fail(r, -EIO, "the sandbox failed to start");
	}
	if (ret == -ETIMEDOUT)
		return fail(r, ret, "the fencefs daemon did not become ready within %d s",
			    DAEMON_READY_MS / 1000);
	if (ret < 0)
		return fail(r, ret, "the fencefs daemon failed to start (see its message above)");
	ret = launch_msg_send(r->sock, &run, -1);
	if (ret < 0)
		return fail(r, ret, "the sandbox failed to start");
	return 0;
}

static long monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void drain_msgs(struct run *r)
{
	struct launch_msg m;

	(void)fcntl(r->sock, F_SETFL, O_NONBLOCK);
	while (launch_msg_recv(r->sock, &m, NULL) == 0)
		handle_msg(r, &m);
}

/*
 * Until the init exits: forward SIGINT/SIGTERM/SIGHUP, enforce the
 * timeout (SIGKILL to the init takes the whole pid namespace), and end
 * the sandbox when the daemon dies under it.
 */
static void step_supervise(struct run *r)
{
	long deadline = r->cfg.timeout > 0 ? monotonic_ms() + (long)(r->cfg.timeout * 1000) : 0;
	bool sock_open = true, daemon_watch = true;
	long daemon_gone = 0;

	for (;;) {
		struct pollfd p[4] = {
			{ .fd = r->init_pidfd, .events = POLLIN },
			{ .fd = r->sfd, .events = POLLIN },
			{ .fd = daemon_watch ? r->daemon.pidfd : -1, .events = POLLIN },
			{ .fd = sock_open ? r->sock : -1, .events = POLLIN },
		};
		int wait_ms = -1, n;

		if (deadline) {
			long left = deadline - monotonic_ms();

			wait_ms = left > 0 ? (int)left : 0;
		}
		if (daemon_gone) {
			long left = daemon_gone - monotonic_ms();

			if (wait_ms < 0 || left < wait_ms)
				wait_ms = left > 0 ? (int)left : 0;
		}
		n = poll(p, 4, wait_ms);
		if (n < 0 && errno != EINTR)
			break;
		if (n == 0 && deadline && monotonic_ms() >= deadline) {
			r->res.timed_out = true;
			deadline = 0;
			(void)kill(r->init, SIGKILL);
			continue;
		}
		if (p[3].revents) {
			struct launch_msg m;

			if (launch_msg_recv(r->sock, &m, NULL) == 0)
				handle_msg(r, &m);
			else
				sock_open = false;
		}
		if (p[1].revents) {
			struct signalfd_siginfo si;

			while (read(r->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
				(void)kill(r->init, (int)si.ssi_signo);
		}
		if (p[2].revents) {
			siginfo_t si = { 0 };

			daemon_watch = false;
			/* A clean exit is how the daemon answers the end of the
			 * mount namespace, which happens in the init's exit
			 * before its pidfd turns readable: give the init a
			 * moment.  Anything else is a death under the sandbox. */
			if (waitid(P_PID, r->daemon.pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
			    si.si_code == CLD_EXITED && si.si_status == 0) {
				daemon_gone = monotonic_ms() + DAEMON_GONE_MS;
			} else {
				r->daemon_died = true;
				(void)kill(r->init, SIGKILL);
			}
		}
		/* Tearing down a big namespace (a /tmp with many files) can
		 * take longer than the grace: while the init is visibly
		 * exiting, keep waiting for it. */
		if (daemon_gone && monotonic_ms() >= daemon_gone && !p[0].revents &&
		    task_is_exiting(r->init))
			daemon_gone = monotonic_ms() + DAEMON_GONE_MS;
		if (daemon_gone && monotonic_ms() >= daemon_gone && !p[0].revents) {
			daemon_gone = 0;
			r->daemon_died = true;
			(void)kill(r->init, SIGKILL);
		}
		if (p[0].revents)
			break;
	}
}

/* The init has exited (or is about to): reap it, then the daemon. */
static void step_collect(struct run *r)
{
	struct launch_daemon_stats ds;
	struct launch_cgroup_stats cs = { 0 };
	struct rusage ru = { 0 };
	int st = 0;

	while (wait4(r->init, &st, 0, &ru) < 0 && errno == EINTR)
		;
	r->res.wall_seconds = elapsed(&r->started);
	r->init = 0;
	drain_msgs(r);
	/* The init's usage includes every process it reaped: the command
	 * and all orphans of the namespace. */
	r->res.user_seconds = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
	r->res.sys_seconds = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	/* The mount namespace is gone, so the daemon sees its session end. */
	launch_daemon_finish(&r->daemon, DAEMON_GRACE_MS, &ds);
	r->res.denied = ds.denied;
	r->res.written = ds.written;
	if (r->cg.version) {
		launch_cgroup_stats(&r->cg, &cs);
		r->res.peak_memory_bytes = cs.peak_memory;
		r->res.oom_killed = cs.oom_killed;
	} else {
		/* Without a cgroup: the largest RSS among reaped processes. */
		r->res.peak_memory_bytes = (uint64_t)ru.ru_maxrss * 1024;
	}

	if (r->res.timed_out) {
		r->res.exit_code = LAUNCH_EXIT_TIMEOUT;
		r->res.signal = SIGKILL;
	} else if (r->daemon_died || launch_daemon_failed(&r->daemon)) {
		/* The command saw a dead /workspace (ENOTCONN) and may well
		 * have exited on its own meanwhile: its status means nothing. */
		r->res.exit_code = LAUNCH_EXIT_FAILURE;
		if (WIFSIGNALED(r->daemon.status))
			(void)fail(r, -EIO, "the fencefs daemon died of signal %d while the "
					    "sandbox was running",
				   WTERMSIG(r->daemon.status));
		else
			(void)fail(r, -EIO, "the fencefs daemon exited with status %d while the "
					    "sandbox was running",
				   WEXITSTATUS(r->daemon.status));
	} else if (r->exec_errno) {
		r->res.exit_code = r->exec_errno == ENOENT ? LAUNCH_EXIT_NOTFOUND
							   : LAUNCH_EXIT_NOEXEC;
		(void)fail(r, -r->exec_errno, "cannot execute '%s': %s", r->cfg.command[0],
			   strerror(r->exec_errno));
	} else if (r->got_status && WIFEXITED(r->cmd_status)) {
		r->res.exit_code = WEXITSTATUS(r->cmd_status);
		/* The command may not have started (workdir missing, ...). */
		if (r->error[0])
			r->res.exit_code = LAUNCH_EXIT_FAILURE;
	} else if (r->got_status && WIFSIGNALED(r->cmd_status)) {
		r->res.signal = WTERMSIG(r->cmd_status);
		r->res.exit_code = 128 + r->res.signal;
	} else if (WIFSIGNALED(st) && r->res.oom_killed) {
		r->res.signal = WTERMSIG(st);
		r->res.exit_code = 128 + r->res.signal;
	} else {
		r->res.exit_code = LAUNCH_EXIT_FAILURE;
		if (WIFSIGNALED(st))
			(void)fail(r, -EIO, "the sandbox's init died of signal %d", WTERMSIG(st));
		else
			(void)fail(r, -EIO, "the sandbox ended without a status");
	}
	if (r->res.exit_code == LAUNCH_EXIT_TIMEOUT && !r->cfg.quiet)
		fprintf(stderr, "fence-run: timed out after %g s; killed the sandbox\n",
			r->cfg.timeout);
}

static int step_apply(struct run *r)
{
	int ret, kr;

	if (!r->cfg.apply || r->res.exit_code != 0)
		return 0;
	ret = launch_apply(r->fencefs, r->delta, r->codebase, &r->apply_json);
	if (r->apply_json && *r->apply_json && !r->cfg.quiet)
		fprintf(stderr, "%s%s", r->apply_json,
			r->apply_json[strlen(r->apply_json) - 1] == '\n' ? "" : "\n");
	if (ret == 0)
		return 0;
	r->keep_delta = true;
	if (r->private_delta && (kr = launch_delta_keep(&r->delta)) < 0)
		fprintf(stderr, "fence-run: cannot move the delta '%s' aside: %s\n", r->delta,
			strerror(-kr));
	r->res.exit_code = LAUNCH_EXIT_FAILURE;
	if (ret < 0)
		return fail(r, ret, "cannot run 'fencefs commit': %s", strerror(-ret));
	return fail(r, -EIO, "--apply: %s; the delta is kept in '%s'",
		    ret == 1 ? "conflicts or refused paths (the rest was applied; see the report)"
			     : "the commit failed",
		    r->delta);
}

static void report(struct run *r, int exit_code)
{
	struct buf fields = { 0 };
	int ret;

	r->res.exit_code = exit_code;
	r->res.error = r->error[0] ? r->error : NULL;
	r->res.delta = (!r->private_delta || r->keep_delta) ? r->delta : NULL;
	r->res.apply_json = r->apply_json;
	if (r->error[0])
		fprintf(stderr, "fence-run: %s\n", r->error);
	if (r->result_fd >= 0) {
		ret = launch_result_write(r->result_fd, &r->res);
		if (ret < 0)
			fprintf(stderr, "fence-run: cannot write result file '%s': %s\n",
				r->cfg.result, strerror(-ret));
	}
	if (r->audit) {
		launch_audit_exit_fields(&r->res, &fields);
		audit_emit(r->audit, "exit", fields.data);
		buf_free(&fields);
	}
}

static void cleanup(struct run *r)
{
	if (r->init > 0) {
		(void)kill(r->init, SIGKILL);
		(void)waitpid(r->init, NULL, 0);
	}
	if (r->daemon.pid > 0 && !r->daemon.reaped) {
		struct launch_daemon_stats ds;

		launch_daemon_finish(&r->daemon, DAEMON_GRACE_MS, &ds);
	}
	if (r->cg.version)
		launch_cgroup_destroy(&r->cg);
	if (r->private_delta && !r->keep_delta)
		launch_delta_remove(r->delta);
	if (r->seccomp)
		seccomp_release(r->seccomp);
	audit_close(r->audit);
	if (r->audit_fd >= 0)
		(void)close(r->audit_fd);
	if (r->result_fd >= 0)
		(void)close(r->result_fd);
	if (r->sock >= 0)
		(void)close(r->sock);
	if (r->sb.sock >= 0)
		(void)close(r->sb.sock);
	if (r->sfd >= 0)
		(void)close(r->sfd);
	if (r->init_pidfd >= 0)
		(void)close(r->init_pidfd);
	launch_env_free(r->envp);
	buf_free(&r->passwd);
	buf_free(&r->group);
	free(r->apply_json);
	free(r->codebase);
	free(r->fencefs);
	free(r->delta);
	launch_config_free(&r->cfg);
	launch_argv_free(r->args);
}

/*
 * fds 0-2 must be open: otherwise the socket pair or a pipe could land on
 * one of them, and the command would inherit it as its stdin or stdout
 * (and could talk to the launcher over it).
 */
static int step_std_fds(struct run *r)
{
	int fd;

	while ((fd = open("/dev/null", O_RDWR)) >= 0 && fd <= 2)
		;
	if (fd < 0)
		return fail(r, -errno, "cannot open /dev/null: %s", strerror(errno));
	(void)close(fd);
	return 0;
}

/*
 * --detach: the sandbox stays up under this (detached) process, which
 * serves the control socket until it stops; then the init goes (taking
 * every process of the sandbox and its mounts), the daemon is reaped, and
 * cleanup() removes the cgroup and a private delta as for a one-shot run.
 */
static int step_session(struct run *r)
{
	struct launch_session_sandbox ss = {
		.sock = r->sock, .init = r->init, .init_pidfd = r->init_pidfd,
		.daemon = r->daemon.pid, .daemon_pidfd = r->daemon.pidfd, .sfd = r->sfd,
		.cg = r->cg.version ? &r->cg : NULL, .audit = r->audit, .codebase = r->codebase,
		.delta = r->delta, .private_delta = r->private_delta,
	};
	struct launch_daemon_stats ds;

	launch_session_serve(&r->sess, &ss);
	/* cgroup v1 freezes SIGKILL too: thaw a paused sandbox first. */
	launch_session_thaw(&r->sess);
	(void)kill(r->init, SIGKILL);
	while (waitpid(r->init, NULL, 0) < 0 && errno == EINTR)
		;
	r->init = 0;
	launch_daemon_finish(&r->daemon, DAEMON_GRACE_MS, &ds);
	r->res.denied = ds.denied;
	r->res.written = ds.written;
	return 0;
}

/* The steps in order; any failure makes fence-run exit 125. */
static int run(struct run *r)
{
	int ret;

	/* --detach: from here on we are the supervisor; the caller waits in
	 * launch_session_detach() for "ready" or our error. */
	if (r->cfg.detach && launch_session_detach(&r->sess, &r->cfg) < 0)
		return LAUNCH_EXIT_FAILURE;
	if ((ret = step_std_fds(r)) < 0 || (ret = step_open_result(r)) < 0 || (ret = step_validate(r)) < 0 ||
	    (ret = step_open_audit(r)) < 0 ||
	    (ret = step_cgroup(r)) < 0 || (ret = step_check_fuse(r)) < 0 ||
	    (ret = step_delta(r)) < 0 || (ret = step_prepare_sandbox(r)) < 0 ||
	    (ret = step_signals(r)) < 0 || (ret = step_clone(r)) < 0 ||
	    (ret = step_start_daemon(r)) < 0) {
		if (r->cfg.detach)
			launch_session_failed(&r->sess, r->error);
		return LAUNCH_EXIT_FAILURE;
	}
	if (r->cfg.detach)
		return step_session(r);
	step_supervise(r);
	step_collect(r);
	(void)step_apply(r);
	return r->res.exit_code;
}

extern char **environ;

/* A NULL-terminated copy of ARGV (the strings too), or NULL. */
static char **argv_copy(int argc, char **argv)
{
	char **a = calloc((size_t)argc + 1, sizeof(*a));
	int i;

	if (!a)
		return NULL;
	for (i = 0; i < argc; i++) {
		a[i] = strdup(argv[i]);
		if (!a[i]) {
			launch_argv_free(a);
			return NULL;
		}
	}
	return a;
}

int main(int argc, char **argv)
{
	struct run r = { .argc = argc, .argv = argv, .audit_fd = -1, .result_fd = -1,
			 .sock = -1, .sfd = -1, .init_pidfd = -1 };
	char err[512];
	int status;

	r.sb.sock = -1;
	r.sb.cg_v2_fd = -1;
	for (int i = 0; i < LAUNCH_CG_NCTL; i++)
		r.sb.cg_tasks[i] = -1;
	r.daemon = (struct launch_daemon){ .pidfd = -1, .ready_fd = -1, .stats_fd = -1 };
	launch_cgroup_init(&r.cg);
	/* The init overwrites these strings in its copy of our memory (issue
	 * 15 item 1), so the configuration must point into a copy. */
	r.sb.host_args = launch_strings_area(argv);
	r.sb.host_env = launch_strings_area(environ);
	r.args = argv_copy(argc, argv);
	if (!r.args) {
		fprintf(stderr, "fence-run: out of memory\n");
		return LAUNCH_EXIT_FAILURE;
	}
	if (launch_config_parse(&r.cfg, argc, r.args, err, sizeof(err)) < 0) {
		fprintf(stderr, "fence-run: %s\nTry 'fence-run --help'.\n", err);
		launch_config_free(&r.cfg);
		launch_argv_free(r.args);
		return LAUNCH_EXIT_FAILURE;
	}
	/* --in, --list, --stop, --pause, --resume: no sandbox of our own. */
	if (!r.cfg.help && !r.cfg.version && launch_session_is_client(&r.cfg)) {
		status = launch_session_client(&r.cfg);
		launch_config_free(&r.cfg);
		launch_argv_free(r.args);
		return status;
	}
	if (r.cfg.help || r.cfg.version) {
		if (r.cfg.help)
			launch_usage(stdout);
		else
			printf("fence-run %s\n", FENCE_VERSION);
		launch_config_free(&r.cfg);
		launch_argv_free(r.args);
		return 0;
	}
	r.sess.dirfd = r.sess.lockfd = r.sess.ready_fd = r.sess.listen_fd = -1;
	status = run(&r);
	report(&r, status);
	cleanup(&r);
	if (r.cfg.detach)
		launch_session_finish(&r.sess);
	return status;
}
