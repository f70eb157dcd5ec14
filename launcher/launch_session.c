// SPDX-License-Identifier: Apache-2.0
/*
 * launch_session.c - the supervisor of a long-lived sandbox (issue 17,
 * launch_session.h): serves the control socket and relays commands to the
 * init's exec server.  The state directory is launch_state.c's, the
 * freezer launch_freezer.c's.
 *
 * Everything a client sends is attacker-chosen as far as this file is
 * concerned: the peer is checked at accept (SO_PEERCRED: the creating uid
 * or root; and the host's pid, user and mount namespaces, so that nothing
 * inside any sandbox can drive one even if it reached the socket), sizes
 * are bounded by launch_wire_recv(), the EXEC payload is decoded strictly
 * and its working directory normalised under /workspace.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
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

#include "audit.h"
#include "launch_cgroup.h"
#include "launch_session.h"
#include "util.h"

/* A connection that has not said what it wants within this is dropped. */
#define REQUEST_MS 10000

enum client_state { CL_FREE, CL_NEW, CL_RUNNING, CL_ORPHAN, CL_STOPWAIT };

struct client {
	enum client_state state;
	int fd;
	uint32_t id;
	int32_t pid;   /* the command's pid in the sandbox (as the daemon's events say) */
	long deadline; /* CL_NEW: request deadline; CL_RUNNING: --timeout; 0: none */
	bool timed_out;
	uint64_t oom_before; /* the cgroup's OOM kills when the command started */
};

struct supervisor {
	struct launch_session *s;
	struct launch_session_sandbox *sb;
	struct client cl[LAUNCH_SESSION_MAX_CLIENTS];
	uint32_t next_id;
	uid_t owner;
	bool paused;
	bool stopping;
	bool stop_requested; /* by --stop: running commands answer 137 */
	const char *why;     /* why the sandbox ended, for running clients */
	time_t created;
	long created_ms;
	long last_active_ms;
	char buf[LAUNCH_WIRE_MAX_PAYLOAD + 1];
};

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void send_simple(int fd, uint32_t type, uint32_t id, int32_t value, int64_t arg,
			const char *text)
{
	struct launch_wire h = {.type = type, .id = id, .value = value, .arg = arg};

	(void)launch_wire_send(fd, &h, text, text ? strlen(text) : 0, NULL, 0);
}

/* ---- state.json and INFO --------------------------------------------- */

static void iso_time(time_t t, char *out, size_t len)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static uint64_t count_procs(const struct supervisor *sv)
{
	const struct launch_cgroup *cg = sv->sb->cg;
	char path[4400], buf[4096];
	uint64_t n = 0;
	ssize_t k;
	int fd;

	if (sv->s->freezer[0])
		snprintf(path, sizeof(path), "%s/cgroup.procs", sv->s->freezer);
	else if (cg && cg->version == 1 && cg->leaf[LAUNCH_CG_PIDS])
		snprintf(path, sizeof(path), "%s/cgroup.procs", cg->leaf[LAUNCH_CG_PIDS]);
	else
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	while ((k = read(fd, buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < k; i++)
			n += buf[i] == '\n';
	(void)close(fd);
	return n;
}

static uint64_t memory_bytes(const struct supervisor *sv)
{
	const struct launch_cgroup *cg = sv->sb->cg;
	char path[4400], v[64];

	if (!cg || !cg->version)
		return 0;
	if (cg->version == 2 && cg->leaf[0])
		snprintf(path, sizeof(path), "%s/memory.current", cg->leaf[0]);
	else if (cg->version == 1 && cg->leaf[LAUNCH_CG_MEMORY])
		snprintf(path, sizeof(path), "%s/memory.usage_in_bytes",
			 cg->leaf[LAUNCH_CG_MEMORY]);
	else
		return 0;
	if (launch_session_read_small(path, v, sizeof(v)) < 0)
		return 0;
	return strtoull(v, NULL, 10);
}

static unsigned running_count(const struct supervisor *sv)
{
	unsigned n = 0;

	for (int i = 0; i < LAUNCH_SESSION_MAX_CLIENTS; i++)
		n += sv->cl[i].state == CL_RUNNING || sv->cl[i].state == CL_ORPHAN;
	return n;
}

/* The JSON object of --list --json, then a NUL, then the table row. */
static void describe(const struct supervisor *sv, struct buf *b)
{
	const struct launch_session *s = sv->s;
	char created[64];
	long up = (now_ms() - sv->created_ms) / 1000;
	uint64_t procs = count_procs(sv), mem = memory_bytes(sv);

	iso_time(sv->created, created, sizeof(created));
	buf_adds(b, "{\"name\":");
	buf_add_json_str(b, s->cfg->name);
	buf_addf(b, ",\"state\":\"%s\",\"codebase\":", sv->paused ? "paused" : "running");
	buf_add_json_str(b, sv->sb->codebase);
	buf_adds(b, ",\"delta\":");
	if (sv->sb->private_delta)
		buf_adds(b, "null");
	else
		buf_add_json_str(b, sv->sb->delta);
	buf_addf(b,
		 ",\"created\":\"%s\",\"uptime_seconds\":%ld,\"processes\":%" PRIu64
		 ",\"memory_bytes\":%" PRIu64 ",\"commands_running\":%u,\"pid\":%d,"
		 "\"init_pid\":%d,\"daemon_pid\":%d}",
		 created, up, procs, mem, running_count(sv), (int)getpid(), (int)sv->sb->init,
		 (int)sv->sb->daemon);
	buf_add(b, "", 1);
	buf_addf(b, "%s\t%s\t%s\t%s\t%s\t%lds\t%" PRIu64 "\t%" PRIu64, s->cfg->name,
		 sv->paused ? "paused" : "running", sv->sb->codebase,
		 sv->sb->private_delta ? "-" : sv->sb->delta, created, up, procs, mem);
}

static int write_state(struct supervisor *sv)
{
	struct buf b = {0};
	int fd, r = 0;

	describe(sv, &b);
	if (b.oom)
		return -ENOMEM;
	fd = openat(sv->s->dirfd, "state.json.tmp",
		    O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		buf_free(&b);
		return -errno;
	}
	if (write(fd, b.data, strlen(b.data)) < 0 || write(fd, "\n", 1) < 0)
		r = -errno;
	(void)close(fd);
	buf_free(&b);
	if (r == 0 && renameat(sv->s->dirfd, "state.json.tmp", sv->s->dirfd, "state.json") < 0)
		r = -errno;
	return r;
}

/* ---- the control socket ----------------------------------------------- */

static int listen_control(struct launch_session *s)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	mode_t old;
	int fd, r;

	if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/control", s->dir) >=
	    (int)sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	(void)unlinkat(s->dirfd, "control", 0);
	old = umask(0177);
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0 || fchmodat(s->dirfd, "control", 0600, 0) < 0 || listen(fd, 64) < 0) {
		r = -errno;
		(void)close(fd);
		return r;
	}
	return fd;
}

static bool same_ns(pid_t pid, const char *ns)
{
	char path[64];
	struct stat a, b;

	snprintf(path, sizeof(path), "/proc/self/ns/%s", ns);
	if (stat(path, &a) < 0)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, ns);
	if (stat(path, &b) < 0)
		return false;
	return a.st_ino == b.st_ino && a.st_dev == b.st_dev;
}

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77 /* Linux 6.5, include/uapi/asm-generic/socket.h */
#endif

/*
 * The namespaces were read through /proc/PID: had the peer exited and PID
 * been reused by a host process meanwhile, a sandboxed peer would pass.
 * SO_PEERPIDFD pins the peer itself; its fdinfo says "Pid: PID" while it
 * lives (and the number cannot be reused before it dies), -1 after.
 * Kernels without SO_PEERPIDFD keep the /proc check alone.
 */
static bool peer_still_alive(int fd, pid_t pid)
{
	char path[64], buf[512], *p;
	socklen_t n = sizeof(int);
	int pidfd = -1, info;
	ssize_t k;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &n) < 0)
		return errno == ENOPROTOOPT || errno == EINVAL;
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
	info = open(path, O_RDONLY | O_CLOEXEC);
	k = info >= 0 ? read(info, buf, sizeof(buf) - 1) : -1;
	if (info >= 0)
		(void)close(info);
	(void)close(pidfd);
	if (k <= 0)
		return false;
	buf[k] = '\0';
	p = strstr(buf, "\nPid:");
	return p && strtol(p + 5, NULL, 10) == (long)pid;
}

/* Only the creator (or root), and only from the host's namespaces. */
static bool peer_allowed(const struct supervisor *sv, int fd, char *why, size_t len)
{
	struct ucred uc;
	socklen_t n = sizeof(uc);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &n) < 0 || n != sizeof(uc)) {
		snprintf(why, len, "permission denied: cannot identify the caller");
		return false;
	}
	if (uc.uid != sv->owner && uc.uid != 0) {
		snprintf(why, len, "permission denied: sandbox '%s' belongs to uid %u",
			 sv->s->cfg->name, (unsigned)sv->owner);
		return false;
	}
	if (uc.pid <= 0 || !same_ns(uc.pid, "pid") || !same_ns(uc.pid, "user") ||
	    !same_ns(uc.pid, "mnt") || !peer_still_alive(fd, uc.pid)) {
		snprintf(why, len, "permission denied: the caller is not in the host's namespaces");
		return false;
	}
	return true;
}

static void client_close(struct client *c)
{
	if (c->fd >= 0)
		(void)close(c->fd);
	*c = (struct client){.state = CL_FREE, .fd = -1};
}

/* Answers WHY and hangs up.  What the peer already sent is read first:
 * closing a socket with unread data resets the peer (ECONNRESET), which
 * would lose the answer. */
static void refuse(int fd, const char *why)
{
	char junk[512];

	send_simple(fd, LAUNCH_WIRE_ERROR, 0, 0, 0, why);
	(void)shutdown(fd, SHUT_WR);
	for (int i = 0; i < 8 && recv(fd, junk, sizeof(junk), MSG_DONTWAIT) > 0; i++)
		;
	(void)close(fd);
}

static void accept_clients(struct supervisor *sv)
{
	for (;;) {
		char why[256];
		int fd = accept4(sv->s->listen_fd, NULL, NULL, SOCK_CLOEXEC), i;
		struct client *c = NULL;

		if (fd < 0)
			return;
		if (!peer_allowed(sv, fd, why, sizeof(why))) {
			refuse(fd, why);
			continue;
		}
		for (i = 0; i < LAUNCH_SESSION_MAX_CLIENTS && !c; i++)
			if (sv->cl[i].state == CL_FREE)
				c = &sv->cl[i];
		if (!c) {
			refuse(fd, "too many connections");
			continue;
		}
		*c = (struct client){.state = CL_NEW, .fd = fd, .deadline = now_ms() + REQUEST_MS};
	}
}

/* A caller's fds become the command's 0-2: never a directory or an
 * O_PATH handle, which would give the sandbox a way into the host tree
 * (openat(fd, "..")). */
static bool fd_acceptable(int fd)
{
	struct stat st;
	int fl = fcntl(fd, F_GETFL);

	return fl >= 0 && !(fl & O_PATH) && fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode);
}

static void audit_command(struct supervisor *sv, uint32_t id, char **argv, const char *workdir)
{
	struct buf f = {0};
	size_t i;

	if (!sv->sb->audit)
		return;
	buf_addf(&f, "\"cmd\":%u,\"argv\":[", id);
	for (i = 0; argv[i]; i++) {
		if (i)
			buf_adds(&f, ",");
		buf_add_json_str(&f, argv[i]);
	}
	buf_adds(&f, "],\"workdir\":");
	buf_add_json_str(&f, workdir);
	if (!f.oom)
		audit_emit(sv->sb->audit, "command", f.data);
	buf_free(&f);
}

/* The pid is the sandbox's, as in the daemon's deny and write events:
 * those of the command's first process can be matched to it. */
static void audit_command_exit(struct supervisor *sv, uint32_t id, int32_t pid, int st,
			       bool timed_out)
{
	struct buf f = {0};

	if (!sv->sb->audit)
		return;
	buf_addf(&f, "\"cmd\":%u,", id);
	if (pid > 0)
		buf_addf(&f, "\"pid\":%d,", (int)pid);
	else
		buf_adds(&f, "\"pid\":null,");
	if (WIFEXITED(st))
		buf_addf(&f, "\"status\":%d,\"signal\":null", WEXITSTATUS(st));
	else
		buf_addf(&f, "\"status\":%d,\"signal\":%d", 128 + WTERMSIG(st), WTERMSIG(st));
	buf_addf(&f, ",\"timed_out\":%s", timed_out ? "true" : "false");
	if (!f.oom)
		audit_emit(sv->sb->audit, "command_exit", f.data);
	buf_free(&f);
}

/* Relays an EXEC to the init with fds FDS; the client then waits. */
static int start_exec(struct supervisor *sv, struct client *c, const struct launch_wire *h,
		      int *fds, int nfds, const char **msg)
{
	const char *workdir;
	char **argv = NULL, **env = NULL, rel[4096], wd[4200] = "";
	struct launch_wire out = {.type = LAUNCH_WIRE_EXEC};
	struct buf b = {0};
	int i, r;

	*msg = "malformed command request";
	if (sv->paused) {
		*msg = "the sandbox is paused; --resume it first";
		return -EAGAIN;
	}
	if (running_count(sv) >= LAUNCH_SESSION_MAX_CMDS) {
		*msg = "too many commands running in this sandbox";
		return -EAGAIN;
	}
	if (nfds != 3 || h->arg < 0 || h->arg > 1000LL * 3600 * 24 * 365)
		return -EPROTO;
	for (i = 0; i < 3; i++)
		if (!fd_acceptable(fds[i])) {
			*msg = "a directory or O_PATH fd cannot be a command's stdin, stdout or "
			       "stderr";
			return -EPROTO;
		}
	r = launch_exec_decode(sv->buf, h->len, h->argc, h->envc, &workdir, &argv, &env);
	if (r < 0)
		return r;
	if (*workdir) {
		if (launch_workdir_normalise(workdir, rel, sizeof(rel)) < 0) {
			*msg = "--workdir must stay inside /workspace";
			r = -EINVAL;
			goto out;
		}
		snprintf(wd, sizeof(wd), "/workspace%s%s", *rel ? "/" : "", rel);
	}
	launch_exec_encode(&b, wd, argv, h->argc, env, h->envc);
	if (b.oom || b.len > LAUNCH_WIRE_MAX_PAYLOAD) {
		r = -EMSGSIZE;
		goto out;
	}
	out.id = ++sv->next_id;
	if (!out.id)
		out.id = ++sv->next_id;
	out.argc = h->argc;
	out.envc = h->envc;
	out.value = h->value & LAUNCH_EXEC_TTY;
	r = launch_wire_send(sv->sb->sock, &out, b.data, b.len, fds, 3);
	if (r < 0) {
		*msg = "cannot reach the sandbox's init";
		goto out;
	}
	c->state = CL_RUNNING;
	c->id = out.id;
	c->oom_before = sv->sb->cg ? launch_cgroup_oom_kills(sv->sb->cg) : 0;
	c->deadline = h->arg ? now_ms() + (long)h->arg : 0;
	sv->last_active_ms = now_ms();
	audit_command(sv, out.id, argv, *wd ? wd : "(default)");
out:
	buf_free(&b);
	free(argv);
	free(env);
	return r;
}

static void do_freeze(struct supervisor *sv, struct client *c, bool freeze)
{
	int r;

	if (!sv->s->freezer_version) {
		send_simple(c->fd, LAUNCH_WIRE_ERROR, 0, 0, 0,
			    "this sandbox has no freezer cgroup: --pause needs a cgroup v1 "
			    "freezer or cgroup v2");
		return;
	}
	r = launch_session_freezer_set(sv->s->freezer, sv->s->freezer_version, freeze);
	if (r < 0) {
		char m[256];

		snprintf(m, sizeof(m), "cannot %s the sandbox: %s", freeze ? "pause" : "resume",
			 strerror(-r));
		send_simple(c->fd, LAUNCH_WIRE_ERROR, 0, 0, 0, m);
		return;
	}
	sv->paused = freeze;
	if (!freeze)
		sv->last_active_ms = now_ms();
	(void)write_state(sv);
	send_simple(c->fd, LAUNCH_WIRE_OK, 0, 0, 0, NULL);
}

static void client_request(struct supervisor *sv, struct client *c)
{
	struct launch_wire h;
	int fds[3], nfds, r, i;
	const char *msg;

	r = launch_wire_recv(c->fd, &h, sv->buf, LAUNCH_WIRE_MAX_PAYLOAD, fds, &nfds);
	if (r == -EAGAIN)
		return;
	if (c->state == CL_RUNNING) {
		while (nfds > 0)
			(void)close(fds[--nfds]);
		if (r < 0) {
			/* The caller went away: so does its command (its
			 * process group; background jobs that left it stay). */
			struct launch_wire k = {
			    .type = LAUNCH_WIRE_KILL, .id = c->id, .value = SIGKILL};

			(void)launch_wire_send(sv->sb->sock, &k, NULL, 0, NULL, 0);
			(void)close(c->fd);
			c->fd = -1;
			c->state = CL_ORPHAN;
			return;
		}
		if (h.type == LAUNCH_WIRE_KILL && (h.value == SIGINT || h.value == SIGTERM ||
						   h.value == SIGHUP || h.value == SIGQUIT)) {
			struct launch_wire k = {
			    .type = LAUNCH_WIRE_KILL, .id = c->id, .value = h.value};

			(void)launch_wire_send(sv->sb->sock, &k, NULL, 0, NULL, 0);
		}
		return;
	}
	if (r < 0) {
		client_close(c);
		return;
	}
	switch (h.type) {
	case LAUNCH_WIRE_EXEC:
		r = start_exec(sv, c, &h, fds, nfds, &msg);
		for (i = 0; i < nfds; i++)
			(void)close(fds[i]);
		if (r < 0) {
			send_simple(c->fd, LAUNCH_WIRE_ERROR, 0, 0, 0, msg);
			client_close(c);
		}
		return;
	case LAUNCH_WIRE_INFO: {
		struct buf b = {0};

		describe(sv, &b);
		if (!b.oom)
			(void)launch_wire_send(c->fd, &(struct launch_wire){.type = LAUNCH_WIRE_OK},
					       b.data, b.len, NULL, 0);
		buf_free(&b);
		break;
	}
	case LAUNCH_WIRE_STOP:
		while (nfds > 0)
			(void)close(fds[--nfds]);
		c->state = CL_STOPWAIT;
		c->deadline = 0;
		sv->stopping = sv->stop_requested = true;
		sv->why = "stopped";
		return;
	case LAUNCH_WIRE_PAUSE:
	case LAUNCH_WIRE_RESUME:
		do_freeze(sv, c, h.type == LAUNCH_WIRE_PAUSE);
		break;
	default:
		send_simple(c->fd, LAUNCH_WIRE_ERROR, 0, 0, 0, "unknown request");
		break;
	}
	while (nfds > 0)
		(void)close(fds[--nfds]);
	client_close(c);
}

static struct client *client_of(struct supervisor *sv, uint32_t id)
{
	for (int i = 0; i < LAUNCH_SESSION_MAX_CLIENTS; i++)
		if ((sv->cl[i].state == CL_RUNNING || sv->cl[i].state == CL_ORPHAN) &&
		    sv->cl[i].id == id)
			return &sv->cl[i];
	return NULL;
}

/* A message from the init: a command's status, exec failure or error. */
static void init_message(struct supervisor *sv)
{
	struct launch_wire h;
	struct client *c;
	int fds[3], nfds, r;

	r = launch_wire_recv(sv->sb->sock, &h, sv->buf, LAUNCH_WIRE_MAX_PAYLOAD, fds, &nfds);
	while (r == 0 && nfds > 0)
		(void)close(fds[--nfds]);
	if (r == -EAGAIN || r == -EPROTO || r == -EMSGSIZE)
		return;
	if (r < 0) {
		sv->stopping = true;
		sv->why = "the sandbox's init ended";
		return;
	}
	c = client_of(sv, h.id);
	if (h.type == LAUNCH_WIRE_STATUS)
		audit_command_exit(sv, h.id, c ? c->pid : 0, h.value, c && c->timed_out);
	if (!c)
		return;
	if (h.type == LAUNCH_WIRE_STARTED) {
		c->pid = h.value;
		return;
	}
	if (h.type == LAUNCH_WIRE_STATUS) {
		/*
		 * Killed by SIGKILL while the cgroup's OOM kills went up: the OOM
		 * killer's doing (another command's OOM at the same moment would
		 * be counted too).  arg: bit 0 timed out, bit 1 OOM-killed.
		 */
		bool oom = WIFSIGNALED(h.value) && WTERMSIG(h.value) == SIGKILL && sv->sb->cg &&
			   launch_cgroup_oom_kills(sv->sb->cg) > c->oom_before;

		if (c->fd >= 0)
			send_simple(c->fd, LAUNCH_WIRE_STATUS, h.id, h.value,
				    (c->timed_out ? 1 : 0) | (oom ? 2 : 0), NULL);
		client_close(c);
		sv->last_active_ms = now_ms();
	} else if (c->fd >= 0 && (h.type == LAUNCH_WIRE_EXECFAIL || h.type == LAUNCH_WIRE_ERROR)) {
		send_simple(c->fd, h.type, h.id, h.value, 0,
			    h.type == LAUNCH_WIRE_ERROR ? sv->buf : NULL);
	}
}

/* --detach -- COMMAND: the main process, fds 0-1 /dev/null, 2 the log. */
static void start_main_command(struct supervisor *sv)
{
	struct launch_wire h = {.type = LAUNCH_WIRE_EXEC};
	const struct fence_run_config *cfg = sv->s->cfg;
	struct buf b = {0};
	int fds[3], null = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (!cfg->command || null < 0) {
		if (null >= 0)
			(void)close(null);
		return;
	}
	fds[0] = fds[1] = null;
	fds[2] = 2;
	launch_exec_encode(&b, "", cfg->command, (size_t)cfg->ncommand, NULL, 0);
	h.id = ++sv->next_id;
	h.argc = (uint32_t)cfg->ncommand;
	if (!b.oom && b.len <= LAUNCH_WIRE_MAX_PAYLOAD &&
	    launch_wire_send(sv->sb->sock, &h, b.data, b.len, fds, 3) == 0) {
		for (int i = 0; i < LAUNCH_SESSION_MAX_CLIENTS; i++)
			if (sv->cl[i].state == CL_FREE) {
				sv->cl[i] =
				    (struct client){.state = CL_ORPHAN, .fd = -1, .id = h.id};
				break;
			}
		audit_command(sv, h.id, cfg->command, "(default)");
	} else {
		fprintf(stderr, "fence-run: cannot start the main command\n");
	}
	buf_free(&b);
	(void)close(null);
}

static int poll_timeout(struct supervisor *sv)
{
	const struct fence_run_config *cfg = sv->s->cfg;
	long now = now_ms(), next = -1;

#define CONSIDER(t)                        \
	do {                               \
		long _t = (t);             \
		if (next < 0 || _t < next) \
			next = _t;         \
	} while (0)
	if (cfg->ttl > 0)
		CONSIDER(sv->created_ms + (long)(cfg->ttl * 1000));
	if (cfg->idle_timeout > 0 && !running_count(sv) && !sv->paused)
		CONSIDER(sv->last_active_ms + (long)(cfg->idle_timeout * 1000));
	for (int i = 0; i < LAUNCH_SESSION_MAX_CLIENTS; i++)
		if ((sv->cl[i].state == CL_NEW || sv->cl[i].state == CL_RUNNING) &&
		    sv->cl[i].deadline && !sv->cl[i].timed_out)
			CONSIDER(sv->cl[i].deadline);
#undef CONSIDER
	if (next < 0)
		return -1;
	return next > now ? (int)(next - now < 3600000 ? next - now : 3600000) : 0;
}

static void check_deadlines(struct supervisor *sv)
{
	const struct fence_run_config *cfg = sv->s->cfg;
	long now = now_ms();

	if (cfg->ttl > 0 && now >= sv->created_ms + (long)(cfg->ttl * 1000)) {
		fprintf(stderr, "fence-run: sandbox '%s': --ttl reached; stopping\n", cfg->name);
		sv->stopping = true;
		sv->why = "the sandbox reached its --ttl";
	}
	if (cfg->idle_timeout > 0 && !running_count(sv) && !sv->paused &&
	    now >= sv->last_active_ms + (long)(cfg->idle_timeout * 1000)) {
		fprintf(stderr, "fence-run: sandbox '%s': idle for --idle-timeout; stopping\n",
			cfg->name);
		sv->stopping = true;
		sv->why = "the sandbox reached its --idle-timeout";
	}
	for (int i = 0; i < LAUNCH_SESSION_MAX_CLIENTS; i++) {
		struct client *c = &sv->cl[i];

		if (c->state == CL_NEW && c->deadline && now >= c->deadline)
			client_close(c);
		else if (c->state == CL_RUNNING && c->deadline && !c->timed_out &&
			 now >= c->deadline) {
			struct launch_wire k = {
			    .type = LAUNCH_WIRE_KILL, .id = c->id, .value = SIGKILL};

			c->timed_out = true;
			(void)launch_wire_send(sv->sb->sock, &k, NULL, 0, NULL, 0);
		}
	}
}

/* The end: every waiting caller is answered (137 when --stop killed its
 * command, 125 otherwise); --stop callers wait for launch_session_finish. */
static void answer_all(struct supervisor *sv)
{
	struct launch_session *s = sv->s;

	for (int i = 0; i < LAUNCH_SESSION_MAX_CLIENTS; i++) {
		struct client *c = &sv->cl[i];

		if (c->state == CL_RUNNING && c->fd >= 0) {
			if (sv->stop_requested)
				send_simple(c->fd, LAUNCH_WIRE_STATUS, c->id, SIGKILL, 0, NULL);
			else
				send_simple(c->fd, LAUNCH_WIRE_ERROR, c->id, 0, 0, sv->why);
		}
		if (c->state == CL_STOPWAIT && s->nstop < LAUNCH_SESSION_MAX_CLIENTS) {
			s->stop_fds[s->nstop++] = c->fd;
			c->fd = -1;
		}
		if (c->state != CL_FREE)
			client_close(c);
	}
}

void launch_session_serve(struct launch_session *s, struct launch_session_sandbox *sb)
{
	static struct supervisor sv;
	struct pollfd p[5 + LAUNCH_SESSION_MAX_CLIENTS];
	int map[5 + LAUNCH_SESSION_MAX_CLIENTS];

	memset(&sv, 0, sizeof(sv));
	sv.s = s;
	sv.sb = sb;
	sv.owner = getuid();
	sv.created = time(NULL);
	sv.created_ms = sv.last_active_ms = now_ms();
	for (int i = 0; i < LAUNCH_SESSION_MAX_CLIENTS; i++)
		sv.cl[i] = (struct client){.state = CL_FREE, .fd = -1};
	if (!sb->private_delta)
		snprintf(s->kept_delta, sizeof(s->kept_delta), "%s", sb->delta);
	(void)fcntl(sb->sock, F_SETFL, O_NONBLOCK);
	launch_session_freezer_setup(s, sb->cg, sb->init);
	s->listen_fd = listen_control(s);
	if (s->listen_fd < 0 || write_state(&sv) < 0) {
		char m[1200];

		snprintf(m, sizeof(m), "cannot create the control socket in '%.900s': %s", s->dir,
			 strerror(s->listen_fd < 0 ? -s->listen_fd : EIO));
		if (s->ready_fd >= 0) {
			(void)!write(s->ready_fd, m, strlen(m));
			(void)close(s->ready_fd);
			s->ready_fd = -1;
		}
		return;
	}
	start_main_command(&sv);
	if (s->ready_fd >= 0) {
		(void)!write(s->ready_fd, "O", 1);
		(void)close(s->ready_fd);
		s->ready_fd = -1;
	}
	fprintf(stderr, "fence-run: sandbox '%s' ready (supervisor pid %d)\n", s->cfg->name,
		(int)getpid());

	while (!sv.stopping) {
		int n = 0, k;

		p[n] = (struct pollfd){.fd = s->listen_fd, .events = POLLIN};
		map[n++] = -1;
		p[n] = (struct pollfd){.fd = sb->sock, .events = POLLIN};
		map[n++] = -2;
		p[n] = (struct pollfd){.fd = sb->init_pidfd, .events = POLLIN};
		map[n++] = -3;
		p[n] = (struct pollfd){.fd = sb->daemon_pidfd, .events = POLLIN};
		map[n++] = -4;
		p[n] = (struct pollfd){.fd = sb->sfd, .events = POLLIN};
		map[n++] = -5;
		for (int i = 0; i < LAUNCH_SESSION_MAX_CLIENTS; i++)
			if ((sv.cl[i].state == CL_NEW || sv.cl[i].state == CL_RUNNING) &&
			    sv.cl[i].fd >= 0) {
				p[n] = (struct pollfd){.fd = sv.cl[i].fd, .events = POLLIN};
				map[n++] = i;
			}
		k = poll(p, (nfds_t)n, poll_timeout(&sv));
		if (k < 0 && errno != EINTR)
			break;
		for (int j = 0; k > 0 && j < n && !sv.stopping; j++) {
			if (!p[j].revents)
				continue;
			switch (map[j]) {
			case -1:
				accept_clients(&sv);
				break;
			case -2:
				init_message(&sv);
				break;
			case -3:
				sv.stopping = true;
				sv.why = "the sandbox's init ended";
				break;
			case -4:
				sv.stopping = true;
				sv.why = "the fencefs daemon ended";
				break;
			case -5: {
				struct signalfd_siginfo si;

				while (read(sb->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
					;
				sv.stopping = true;
				sv.why = "the supervisor was signalled";
				break;
			}
			default:
				if (sv.cl[map[j]].state == CL_NEW ||
				    sv.cl[map[j]].state == CL_RUNNING)
					client_request(&sv, &sv.cl[map[j]]);
			}
		}
		check_deadlines(&sv);
	}
	fprintf(stderr, "fence-run: sandbox '%s': %s\n", s->cfg->name, sv.why ? sv.why : "ended");
	/* No new connection from here on. */
	if (s->listen_fd >= 0) {
		(void)close(s->listen_fd);
		s->listen_fd = -1;
	}
	(void)unlinkat(s->dirfd, "control", 0);
	answer_all(&sv);
}

void launch_session_finish(struct launch_session *s)
{
	if (s->freezer_version == 1)
		launch_session_freezer_remove(s->freezer);
	launch_session_remove_state(s);
	for (int i = 0; i < s->nstop; i++) {
		send_simple(s->stop_fds[i], LAUNCH_WIRE_OK, 0, 0, 0,
			    *s->kept_delta ? s->kept_delta : NULL);
		(void)close(s->stop_fds[i]);
	}
	s->nstop = 0;
	if (s->lockfd >= 0)
		(void)close(s->lockfd);
	s->lockfd = -1;
}
